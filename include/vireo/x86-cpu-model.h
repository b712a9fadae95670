/*
 * QEMU 7.2's x86 CPU models (-cpu NAME[,+flag,-flag,flag=on|off,prop=value]): the model table,
 * QEMU's feature names, `-cpu help`, and the CPUID a guest sees (target/x86/cpu-models.c).
 * What the guest sees comes from the model only, never from the host CPU; features the
 * accelerator cannot give are filtered with QEMU's warnings (x86_cpu_filter).
 */
#ifndef VIREO_X86_CPU_MODEL_H
#define VIREO_X86_CPU_MODEL_H

#include <stdbool.h>
#include <stdint.h>

/* Feature words, in QEMU's order (the order of its warnings). */
enum {
    FW_1_EDX,
    FW_1_ECX,
    FW_7_0_EBX,
    FW_7_0_ECX,
    FW_7_0_EDX,
    FW_7_1_EAX,
    FW_8000_0001_EDX,
    FW_8000_0001_ECX,
    FW_8000_0007_EDX,
    FW_8000_0008_EBX,
    FW_C000_0001_EDX,
    FW_KVM,
    FW_KVM_HINTS,
    FW_SVM,
    FW_XSAVE,
    FW_6_EAX,
    FW_XCR0, /* CPUID.0DH:EAX, the XSAVE components the model's features need (KVM only) */
    FW_ARCH_CAP,
    FW_CORE_CAP,
    FW_PERF_CAP,
    FW_14_0_ECX,
    FW_SGX_12_0_EAX,
    FW_SGX_12_0_EBX,
    FW_SGX_12_1_EAX,
    FW_VMX, /* the VMX capability MSRs: names only (no accelerator here offers nested VMX) */
    FW_WORDS
};

typedef enum { CACHE_LEGACY, CACHE_EPYC, CACHE_EPYC_ROME, CACHE_EPYC_MILAN } X86CacheKind;

/* One versioned model of QEMU 7.2 (target/x86/cpu-models-table.c, generated). */
typedef struct X86CPUModel {
    const char *name;    /* "Skylake-Server-v2" */
    const char *aliases; /* comma-separated: "Skylake-Server-IBRS" (and the unversioned name
                            for v1, the version machine types choose) */
    const char *vendor;
    int family, model, stepping;
    const char *model_id;
    const char *note;       /* what `-cpu help` adds to the model-id: " [XSAVES, no TSX]" */
    uint32_t level, xlevel; /* the model's minimum levels (raised for its features) */
    X86CacheKind cache;
    const char *features; /* QEMU's names, space-separated */
} X86CPUModel;

extern const X86CPUModel x86_cpu_models[];
extern const unsigned x86_cpu_model_count;

/* A -cpu option resolved: what the guest's CPUID is built from. */
typedef struct X86CPUDef {
    char name[64];  /* as given (before the first comma) */
    bool host, max; /* -cpu host / max: the accelerator's own features */
    bool check, enforce, migratable;
    char vendor[13];
    int family, model, stepping;
    char model_id[49];
    uint32_t level, xlevel, level_func7;
    uint32_t phys_bits; /* 0: QEMU's default (40 with LM) */
    long long set_level, set_xlevel; /* level=/xlevel= on the command line, or -1 */
    X86CacheKind cache;
    uint32_t features[FW_WORDS];
    uint32_t plus[FW_WORDS], minus[FW_WORDS]; /* set explicitly on the command line */
    uint32_t filtered[FW_WORDS];              /* what the accelerator could not give */
} X86CPUDef;

/* Parse "-cpu" (NULL: the machine's default, qemu64). Prints QEMU's error and returns false on a
 * bad model, flag or property. `tcg`: the first accelerator is TCG (`host` is refused there). */
bool x86_cpu_def_parse(const char *spec, bool tcg, X86CPUDef *out);
/* `-cpu help` as QEMU 7.2 prints it. */
void x86_cpu_print_help(void);
/* Feature names Vireo's translator gives (the TCG mask), per word; `host_ok` adds those that
 * run as host instructions when this host has them (SSSE3, SSE4.1, SSE4.2). */
void x86_tcg_supported(uint32_t out[FW_WORDS]);
/* Drop what `supported` lacks, with QEMU's warning per feature ("ACCEL doesn't support requested
 * feature: CPUID.07H:EBX.avx2 [bit 5]"); with enforce, QEMU's error instead: returns false. */
bool x86_cpu_filter(X86CPUDef *def, const uint32_t supported[FW_WORDS], const uint32_t *quiet,
                    const char *accel);
/* The features QEMU 7.2's TCG gives that Vireo's does not: dropped without a warning. */
void x86_tcg_quiet(uint32_t out[FW_WORDS]);
/* The CPUID leaf as the guest sees it (TCG; KVM starts from this too for named models). */
typedef struct X86CPUTopo {
    uint32_t apic_id;
    unsigned threads, cores; /* per core, per package */
} X86CPUTopo;
void x86_cpu_def_cpuid(const X86CPUDef *def, const X86CPUTopo *topo, uint32_t leaf, uint32_t sub,
                       uint32_t r[4]);
/* The model as QEMU 7.2's KVM builds it (def as parsed, the TCG view): the model's own
 * features, then KVM's defaults (kvm_default_props: the paravirtual features, x2apic on; acpi,
 * monitor, svm off), then the command line's flags; the features that depend on a feature now
 * off go; the vendor is the host's (`host_vendor`); levels again; the XSAVE components (FW_XCR0).
 * `host` and `max`: what KVM supports (`sup`) with the command line's flags, the host's family,
 * model, stepping, brand string and physical address bits, KVM's levels (`kvm_level`,
 * `kvm_xlevel`: its leaves 0 and 0x80000000); `base` is left alone. */
void x86_cpu_def_kvm(X86CPUDef *def, const char *host_vendor, const uint32_t sup[FW_WORDS],
                     uint32_t kvm_level, uint32_t kvm_xlevel);
/* Where feature word `w` lives: CPUID leaf, subleaf and register (0-3 = EAX..EDX), or the
 * MSR (leaf 0); false for a word without bits (VMX). */
bool x86_feature_word_source(int w, uint32_t *leaf, uint32_t *sub, int *reg, uint32_t *msr);
/* Feature name lookup (QEMU's names and aliases): word and bit, or false. */
bool x86_feature_lookup(const char *name, int *word, int *bit);
/* QMP (target/x86/cpu-models.c, with the property names of cpu-expansion-table.c): the reply to
 * query-cpu-definitions (every name, and what each lacks under the running accelerator: TCG's
 * features, or KVM's once x86_cpu_set_kvm_supported was called), and to
 * query-cpu-model-expansion (type "static" or "full"; `model` is the argument's object). On a
 * bad model NULL, and *errp is QEMU's message (g_free it). */
struct QJ;
struct QJ *x86_qmp_cpu_definitions(void);
struct QJ *x86_qmp_cpu_expansion(const char *type, const struct QJ *model, char **errp);
/* What KVM supports (kvm_supported_words) and the host's vendor, for the QMP replies. */
void x86_cpu_set_kvm_supported(const uint32_t sup[FW_WORDS], const char *host_vendor,
                               uint32_t kvm_level, uint32_t kvm_xlevel);
/* cpu-expansion-table.c (generated): QEMU's property names in its reply order; `json` is the
 * value of a property Vireo does not compute from the model, NULL for those it does. */
typedef struct X86ExpansionKey {
    const char *name, *json;
} X86ExpansionKey;
extern const char *const x86_expansion_static_keys[];
extern const X86ExpansionKey x86_expansion_full_keys[], x86_expansion_max_extra_keys[];
/* qemu64 / max under TCG, filtered silently (a CPU state made without a -cpu option). */
const X86CPUDef *x86_cpu_def_builtin(bool max);
#endif
