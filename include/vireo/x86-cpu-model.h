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
/* Feature name lookup (QEMU's names and aliases): word and bit, or false. */
bool x86_feature_lookup(const char *name, int *word, int *bit);
/* QMP: the models (query-cpu-definitions) and what a model lacks under `supported`. */
int x86_cpu_unavailable(const char *model, const uint32_t supported[FW_WORDS], char ***names);
/* qemu64 / max under TCG, filtered silently (a CPU state made without a -cpu option). */
const X86CPUDef *x86_cpu_def_builtin(bool max);
#endif
