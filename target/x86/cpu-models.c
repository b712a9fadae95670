/*
 * QEMU 7.2's x86 CPU models: feature names, -cpu parsing, `-cpu help`, filtering against what
 * the accelerator gives, and the CPUID leaves built from a model (cache and topology leaves
 * included). The models themselves are in cpu-models-table.c (generated from QEMU 7.2).
 */
#include <ctype.h>
#include <cpuid.h>
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/error.h"
#include "vireo/qjson.h"
#include "vireo/x86-cpu-model.h"

/* Each feature word: where CPUID (or an MSR) shows it, and QEMU 7.2's names for its 32 bits
 * ("-": no name). */
typedef struct FeatureWord {
    uint32_t leaf, sub; /* CPUID leaf and subleaf; leaf 0: an MSR feature word */
    int reg;            /* 0-3: EAX EBX ECX EDX */
    uint32_t msr;
    const char *names;
} FeatureWord;

#define FW(w, n) [w] = {.names = n
static const FeatureWord
    words[FW_WORDS] =
        {FW(FW_1_EDX,
            "fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov pat pse36 pn "
            "clflush - ds acpi mmx fxsr sse sse2 ss ht tm ia64 pbe"),
         .leaf = 1, .reg = 3},
    FW(FW_1_ECX, "pni pclmulqdq dtes64 monitor ds-cpl vmx smx est tm2 ssse3 cid - fma cx16 xtpr "
                 "pdcm - pcid dca sse4.1 sse4.2 x2apic movbe popcnt tsc-deadline aes xsave - avx "
                 "f16c rdrand hypervisor"),
    .leaf = 1, .reg = 2
}
,
    FW(FW_7_0_EBX, "fsgsbase tsc-adjust sgx bmi1 hle avx2 - smep bmi2 erms invpcid rtm - - mpx - "
                   "avx512f avx512dq rdseed adx smap avx512ifma pcommit clflushopt clwb intel-pt "
                   "avx512pf avx512er avx512cd sha-ni avx512bw avx512vl"),
    .leaf = 7, .reg = 1
}
,
    FW(FW_7_0_ECX, "- avx512vbmi umip pku - waitpkg avx512vbmi2 - gfni vaes vpclmulqdq avx512vnni "
                   "avx512bitalg - avx512-vpopcntdq - la57 - - - - - rdpid - bus-lock-detect "
                   "cldemote - movdiri movdir64b - sgxlc pks"),
    .leaf = 7, .reg = 2
}
,
    FW(FW_7_0_EDX,
       "- - avx512-4vnniw avx512-4fmaps fsrm - - - avx512-vp2intersect - md-clear - - - "
       "serialize - tsx-ldtrk - - arch-lbr - - amx-bf16 avx512-fp16 amx-tile amx-int8 "
       "spec-ctrl stibp - arch-capabilities core-capability ssbd"),
    .leaf = 7, .reg = 3
}
, FW(FW_7_1_EAX, "- - - - avx-vnni avx512-bf16"), .leaf = 7, .sub = 1, .reg = 0
}
,
    FW(FW_8000_0001_EDX, "- - - - - - - - - - - syscall - - - - - - - - nx - mmxext - - fxsr-opt "
                         "pdpe1gb rdtscp - lm 3dnowext 3dnow"),
    .leaf = 0x80000001, .reg = 3
}
,
    FW(FW_8000_0001_ECX, "lahf-lm cmp-legacy svm extapic cr8legacy abm sse4a misalignsse "
                         "3dnowprefetch osvw ibs xop skinit wdt - lwp fma4 tce - nodeid-msr - tbm "
                         "topoext perfctr-core perfctr-nb"),
    .leaf = 0x80000001, .reg = 2
}
, FW(FW_8000_0007_EDX, "- - - - - - - - invtsc"), .leaf = 0x80000007, .reg = 3
}
,
    FW(FW_8000_0008_EBX, "clzero - xsaveerptr - - - - - - wbnoinvd - - ibpb - ibrs amd-stibp - - - "
                         "- - - - - amd-ssbd virt-ssbd amd-no-ssb"),
    .leaf = 0x80000008, .reg = 1
}
,
    FW(FW_C000_0001_EDX, "- - xstore xstore-en - - xcrypt xcrypt-en ace2 ace2-en phe phe-en pmm "
                         "pmm-en"),
    .leaf = 0xC0000001, .reg = 3
}
,
    FW(FW_KVM, "kvmclock kvm-nopiodelay kvm-mmu kvmclock kvm-asyncpf kvm-steal-time kvm-pv-eoi "
               "kvm-pv-unhalt - kvm-pv-tlb-flush - kvm-pv-ipi kvm-poll-control kvm-pv-sched-yield "
               "kvm-asyncpf-int kvm-msi-ext-dest-id - - - - - - - - kvmclock-stable-bit"),
    .leaf = 0x40000001, .reg = 0
}
, FW(FW_KVM_HINTS, "kvm-hint-dedicated"), .leaf = 0x40000001, .reg = 3
}
,
    FW(FW_SVM, "npt lbrv svm-lock nrip-save tsc-scale vmcb-clean flushbyasid decodeassists - - "
               "pause-filter - pfthreshold avic - v-vmsave-vmload vgif - - - - - - - - - - - "
               "svme-addr-chk"),
    .leaf = 0x8000000A, .reg = 3
}
, FW(FW_XSAVE, "xsaveopt xsavec xgetbv1 xsaves xfd"), .leaf = 0xD, .sub = 1, .reg = 0
}
, FW(FW_6_EAX, "- - arat"), .leaf = 6, .reg = 0
}
, FW(FW_XCR0, ""), .leaf = 0xD, .reg = 0
}
,
    FW(FW_ARCH_CAP, "rdctl-no ibrs-all rsba skip-l1dfl-vmentry ssb-no mds-no pschange-mc-no "
                    "tsx-ctrl taa-no"),
    .msr = 0x10A
}
, FW(FW_CORE_CAP, "- - - - - split-lock-detect"), .msr = 0xCF
}
, FW(FW_PERF_CAP, "- - - - - - - - - - - - - full-width-write"), .msr = 0x345
}
, FW(FW_14_0_ECX, "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - intel-pt-lip"),
    .leaf = 0x14, .reg = 2
}
, FW(FW_SGX_12_0_EAX, "sgx1 sgx2"), .leaf = 0x12, .reg = 0
}
, FW(FW_SGX_12_0_EBX, "sgx-exinfo"), .leaf = 0x12, .reg = 1
}
, FW(FW_SGX_12_1_EAX, "- sgx-debug sgx-mode64 - sgx-provisionkey sgx-tokenkey - sgx-kss"),
    .leaf = 0x12, .sub = 1, .reg = 0
}
, FW(FW_VMX, ""), .msr = 0x480
}
,
}
;

/* The VMX capability MSRs' names (accepted and ignored: neither accelerator here gives VMX). */
static const char vmx_names[] =
    "vmx-activity-hlt vmx-activity-shutdown vmx-activity-wait-sipi vmx-apicv-register "
    "vmx-apicv-vid vmx-apicv-x2apic vmx-apicv-xapic vmx-cr3-load-noexit vmx-cr3-store-noexit "
    "vmx-cr8-load-exit vmx-cr8-store-exit vmx-desc-exit vmx-encls-exit vmx-entry-ia32e-mode "
    "vmx-entry-load-bndcfgs vmx-entry-load-efer vmx-entry-load-pat "
    "vmx-entry-load-perf-global-ctrl vmx-entry-load-pkrs vmx-entry-load-rtit-ctl "
    "vmx-entry-noload-debugctl vmx-ept vmx-ept-1gb vmx-ept-2mb vmx-ept-advanced-exitinfo "
    "vmx-ept-execonly vmx-eptad vmx-eptp-switching vmx-exit-ack-intr vmx-exit-clear-bndcfgs "
    "vmx-exit-clear-rtit-ctl vmx-exit-load-efer vmx-exit-load-pat vmx-exit-load-perf-global-ctrl "
    "vmx-exit-load-pkrs vmx-exit-nosave-debugctl vmx-exit-save-efer vmx-exit-save-pat "
    "vmx-exit-save-preemption-timer vmx-flexpriority vmx-hlt-exit vmx-ins-outs vmx-intr-exit "
    "vmx-invept vmx-invept-all-context vmx-invept-single-context vmx-invept-single-context "
    "vmx-invept-single-context-noglobals vmx-invlpg-exit vmx-invpcid-exit vmx-invvpid "
    "vmx-invvpid-all-context vmx-invvpid-single-addr vmx-io-bitmap vmx-io-exit vmx-monitor-exit "
    "vmx-movdr-exit vmx-msr-bitmap vmx-mtf vmx-mwait-exit vmx-nmi-exit vmx-page-walk-4 "
    "vmx-page-walk-5 vmx-pause-exit vmx-ple vmx-pml vmx-posted-intr vmx-preemption-timer "
    "vmx-rdpmc-exit vmx-rdrand-exit vmx-rdseed-exit vmx-rdtsc-exit vmx-rdtscp-exit "
    "vmx-secondary-ctls vmx-shadow-vmcs vmx-store-lma vmx-true-ctls vmx-tsc-offset "
    "vmx-tsc-scaling vmx-unrestricted-guest vmx-vintr-pending vmx-vmfunc "
    "vmx-vmwrite-vmexit-fields vmx-vnmi vmx-vnmi-pending vmx-vpid vmx-wbinvd-exit vmx-xsaves "
    "vmx-zero-len-inject";

/* QEMU's other spellings (after '_' became '-') */
static const char *const aliases[][2] = {
    {"sse3", "pni"}, {"pclmuldq", "pclmulqdq"}, {"sse4-1", "sse4.1"}, {"sse4-2", "sse4.2"},
    {"xd", "nx"},    {"ffxsr", "fxsr-opt"},     {"i64", "lm"},
};

/* the n-th space-separated name of s into buf ("" when absent or "-") */
static void nth_name(const char *s, int n, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; *s; i++) {
        while (*s == ' ') {
            s++;
        }
        size_t l = strcspn(s, " ");
        if (i == n) {
            if (l && !(l == 1 && *s == '-') && l < len) {
                memcpy(buf, s, l);
                buf[l] = 0;
            }
            return;
        }
        s += l;
    }
}

bool x86_feature_lookup(const char *name, int *word, int *bit)
{
    char n[64], b[64];
    snprintf(n, sizeof(n), "%s", name);
    for (char *p = n; *p; p++) {
        if (*p == '_') {
            *p = '-';
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(aliases); i++) {
        if (!strcmp(n, aliases[i][0])) {
            snprintf(n, sizeof(n), "%s", aliases[i][1]);
        }
    }
    for (int w = 0; w < FW_WORDS; w++) {
        for (int i = 0; i < 32; i++) {
            nth_name(words[w].names, i, b, sizeof(b));
            if (b[0] && !strcmp(b, n)) {
                *word = w;
                *bit = i;
                return true;
            }
        }
    }
    /* the VMX capability names: known, no bit */
    size_t l = strlen(n);
    for (const char *s = strstr(vmx_names, n); s; s = strstr(s + 1, n)) {
        if ((s == vmx_names || s[-1] == ' ') && (s[l] == ' ' || !s[l])) {
            *word = FW_VMX;
            *bit = -1;
            return true;
        }
    }
    return false;
}

bool x86_feature_word_source(int w, uint32_t *leaf, uint32_t *sub, int *reg, uint32_t *msr)
{
    if (w < 0 || w >= FW_WORDS || w == FW_VMX) {
        return false;
    }
    *leaf = words[w].leaf;
    *sub = words[w].sub;
    *reg = words[w].reg;
    *msr = words[w].msr;
    return true;
}

static void add_features(uint32_t f[FW_WORDS], const char *list)
{
    char n[64];
    while (*list) {
        while (*list == ' ') {
            list++;
        }
        size_t l = strcspn(list, " ");
        if (l && l < sizeof(n)) {
            memcpy(n, list, l);
            n[l] = 0;
            int w, b;
            if (x86_feature_lookup(n, &w, &b) && b >= 0) {
                f[w] |= 1u << b;
            }
        }
        list += l;
    }
}

/* ---- the model list ---- */

/* `name` as a model: a versioned name, an alias, or the unversioned name (v1 on every machine
 * type QEMU 7.2 has). */
static const X86CPUModel *find_model(const char *name)
{
    for (unsigned i = 0; i < x86_cpu_model_count; i++) {
        const X86CPUModel *m = &x86_cpu_models[i];
        if (!strcmp(m->name, name)) {
            return m;
        }
        size_t nl = strlen(name);
        for (const char *a = m->aliases; *a;) {
            size_t l = strcspn(a, ",");
            if (l == nl && !strncmp(a, name, l)) {
                return m;
            }
            a += l + (a[l] == ',');
        }
    }
    return NULL;
}

typedef struct HelpLine {
    char *name, *desc;
} HelpLine;

static int help_cmp(const void *a, const void *b)
{
    return strcmp(((const HelpLine *)a)->name, ((const HelpLine *)b)->name);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void x86_cpu_print_help(void)
{
    GArray *lines = g_array_new(false, false, sizeof(HelpLine));
    for (unsigned i = 0; i < x86_cpu_model_count; i++) {
        const X86CPUModel *m = &x86_cpu_models[i];
        HelpLine l = {g_strdup(m->name), g_strconcat(m->model_id, m->note, NULL)};
        g_array_append_val(lines, l);
        for (const char *a = m->aliases; *a;) {
            size_t n = strcspn(a, ",");
            HelpLine al = {g_strndup(a, n), NULL};
            /* the unversioned name is chosen by the machine type; the others name a version */
            if (!strncmp(m->name, a, n) && m->name[n] == '-' && m->name[n + 1] == 'v') {
                al.desc = g_strdup("(alias configured by machine type)");
            } else {
                al.desc = g_strdup_printf("(alias of %s)", m->name);
            }
            g_array_append_val(lines, al);
            a += n + (a[n] == ',');
        }
    }
    g_array_sort(lines, help_cmp);
    printf("Available CPUs:\n");
    for (guint i = 0; i < lines->len; i++) {
        HelpLine *l = &g_array_index(lines, HelpLine, i);
        printf("x86 %-20s  %s\n", l->name, l->desc);
        g_free(l->name);
        g_free(l->desc);
    }
    g_array_free(lines, true);
    printf("x86 %-20s  %s\n", "base", "base CPU model type with no features enabled");
    printf("x86 %-20s  %s\n", "host", "processor with all supported host features ");
    printf("x86 %-20s  %s\n", "max",
           "Enables all features supported by the accelerator in the current host");
    printf("\nRecognized CPUID flags:\n");
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    char b[64];
    for (int w = 0; w < FW_WORDS; w++) {
        for (int i = 0; i < 32; i++) {
            nth_name(words[w].names, i, b, sizeof(b));
            if (b[0]) {
                g_ptr_array_add(names, g_strdup(b));
            }
        }
    }
    for (int i = 0;; i++) {
        nth_name(vmx_names, i, b, sizeof(b));
        if (!b[0]) {
            break;
        }
        g_ptr_array_add(names, g_strdup(b));
    }
    qsort(names->pdata, names->len, sizeof(char *), str_cmp);
    size_t col = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *n = names->pdata[i];
        if (col && col + 1 + strlen(n) > 75) {
            printf("\n");
            col = 0;
        }
        if (!col) {
            printf(" ");
            col = 1;
        }
        printf(" %s", n);
        col += 1 + strlen(n);
    }
    printf("\n\n");
    g_ptr_array_free(names, true);
}

/* ---- -cpu parsing ---- */

static void model_levels(X86CPUDef *d)
{
    /* QEMU raises the levels for the features the model has (full-cpuid-auto-level), before
     * the accelerator filters them */
    for (int w = 0; w < FW_WORDS; w++) {
        uint32_t leaf = words[w].leaf;
        if (!d->features[w] || !leaf || leaf == 0x40000001) {
            continue;
        }
        if (leaf >= 0x80000000) {
            d->xlevel = d->xlevel > leaf ? d->xlevel : leaf;
        } else if (leaf < 0x40000000 && w != FW_14_0_ECX && w < FW_SGX_12_0_EAX) {
            d->level = d->level > leaf ? d->level : leaf;
        }
        if (leaf == 7 && words[w].sub > d->level_func7) {
            d->level_func7 = words[w].sub;
        }
    }
    if (d->features[FW_7_0_EBX] & (1u << 25)) { /* intel-pt */
        d->level = d->level > 0x14 ? d->level : 0x14;
    }
    if (d->features[FW_8000_0001_ECX] & (1u << 2)) { /* svm */
        d->xlevel = d->xlevel > 0x8000000A ? d->xlevel : 0x8000000A;
    }
    if (d->features[FW_7_0_EBX] & (1u << 2)) { /* sgx */
        d->level = d->level > 0x12 ? d->level : 0x12;
    }
}

static void def_levels(X86CPUDef *d)
{
    model_levels(d);
    if (d->set_level >= 0) {
        d->level = (uint32_t)d->set_level;
    }
    if (d->set_xlevel >= 0) {
        d->xlevel = (uint32_t)d->set_xlevel;
    }
}

/* QEMU's feature dependencies: a word (or bits) that means nothing without another feature
 * goes with it, before the accelerator filters (x86_cpu_expand_features). */
static void feature_deps(X86CPUDef *d)
{
    static const struct {
        int from, from_bit, to;
        uint32_t mask;
    } deps[] = {
        {FW_7_0_EDX, 29, FW_ARCH_CAP, ~0u},    /* arch-capabilities */
        {FW_7_0_EDX, 30, FW_CORE_CAP, ~0u},    /* core-capability */
        {FW_1_ECX, 15, FW_PERF_CAP, ~0u},      /* pdcm */
        {FW_8000_0001_ECX, 2, FW_SVM, ~0u},    /* svm */
        {FW_7_0_EBX, 25, FW_14_0_ECX, ~0u},    /* intel-pt */
        {FW_7_0_EBX, 2, FW_7_0_ECX, 1u << 30}, /* sgx: sgxlc */
        {FW_7_0_EBX, 2, FW_SGX_12_0_EAX, ~0u}, /* sgx */
        {FW_7_0_EBX, 2, FW_SGX_12_0_EBX, ~0u}, /* sgx */
        {FW_7_0_EBX, 2, FW_SGX_12_1_EAX, ~0u}, /* sgx */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(deps); i++) {
        if (!(d->features[deps[i].from] & (1u << deps[i].from_bit))) {
            d->features[deps[i].to] &= ~deps[i].mask;
        }
    }
}

/* The XSAVE state components (XCR0 bits) the features need: x87, SSE, AVX's YMM, MPX's
 * bounds, AVX-512's three, PKRU, AMX's two (QEMU's x86_ext_save_areas). */
static uint32_t xsave_components(const uint32_t f[FW_WORDS])
{
    if (!(f[FW_1_ECX] & (1u << 26))) { /* xsave */
        return 0;
    }
    uint32_t m = 0;
    m |= f[FW_1_EDX] & (1u << 0) ? 1u << 0 : 0;     /* fpu: x87 */
    m |= f[FW_1_EDX] & (1u << 25) ? 1u << 1 : 0;    /* sse */
    m |= f[FW_1_ECX] & (1u << 28) ? 1u << 2 : 0;    /* avx: YMM */
    m |= f[FW_7_0_EBX] & (1u << 14) ? 3u << 3 : 0;  /* mpx: BNDREGS, BNDCSR */
    m |= f[FW_7_0_EBX] & (1u << 16) ? 7u << 5 : 0;  /* avx512f: opmask, ZMM */
    m |= f[FW_7_0_ECX] & (1u << 3) ? 1u << 9 : 0;   /* pku: PKRU */
    m |= f[FW_7_0_EDX] & (1u << 24) ? 3u << 17 : 0; /* amx-tile: XTILECFG, XTILEDATA */
    return m;
}

void x86_cpu_def_kvm(X86CPUDef *d, const char *host_vendor, const uint32_t sup[FW_WORDS],
                     uint32_t kvm_level, uint32_t kvm_xlevel)
{
    if (d->max) {
        /* QEMU's host/max under KVM: everything KVM offers (named bits only), the host's
         * identity and physical address width, KVM's levels */
        for (int w = 0; w < FW_WORDS; w++) {
            /* migratable (the default): only named bits, not invtsc; never the KVM hints nor
             * topoext, which want a cache topology to go with it (QEMU's no_autoenable_flags) */
            uint32_t mask = 0;
            char n[64];
            for (int i = 0; i < 32; i++) {
                nth_name(words[w].names, i, n, sizeof(n));
                mask |= !d->migratable || n[0] ? 1u << i : 0;
            }
            if (w == FW_8000_0007_EDX && d->migratable) {
                mask &= ~(1u << 8); /* invtsc */
            }
            if (w == FW_KVM_HINTS) {
                mask = 0;
            } else if (w == FW_8000_0001_ECX) {
                mask &= ~(1u << 22);
            }
            d->features[w] = ((sup[w] & mask) | d->plus[w]) & ~d->minus[w];
        }
        unsigned a, b, c, e;
        __cpuid(1, a, b, c, e);
        d->family = (int)((a >> 8) & 0xf) + ((a >> 8 & 0xf) == 0xf ? (int)((a >> 20) & 0xff) : 0);
        d->model = (int)((a >> 4) & 0xf) | (int)((a >> 12) & 0xf0);
        d->stepping = (int)(a & 0xf);
        char brand[49] = {0};
        for (unsigned i = 0; i < 3; i++) {
            unsigned r[4];
            __cpuid(0x80000002 + i, r[0], r[1], r[2], r[3]);
            memcpy(brand + 16 * i, r, 16);
        }
        snprintf(d->model_id, sizeof(d->model_id), "%s", brand);
        __cpuid(0x80000000, a, b, c, e);
        if (a >= 0x80000008) {
            __cpuid(0x80000008, a, b, c, e);
            d->phys_bits = a & 0xff;
        }
        snprintf(d->vendor, sizeof(d->vendor), "%s", host_vendor);
        d->cache = CACHE_LEGACY;
        d->level = kvm_level;
        d->xlevel = kvm_xlevel;
        d->level_func7 = 0;
        def_levels(d);
        feature_deps(d);
        d->features[FW_XCR0] = xsave_components(d->features);
        return;
    }
    const X86CPUModel *m = find_model(d->name);
    if (!m) {
        return;
    }
    memset(d->features, 0, sizeof(d->features));
    add_features(d->features, m->features);
    /* kvm_default_props: kvmclock (both bits), kvm-nopiodelay, kvm-asyncpf, kvm-steal-time,
     * kvm-pv-eoi, kvmclock-stable-bit and x2apic on (the irqchip is in the kernel); acpi,
     * monitor, svm off */
    d->features[FW_KVM] |= 1u << 0 | 1u << 1 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 24;
    d->features[FW_1_ECX] = (d->features[FW_1_ECX] | 1u << 21) & ~(1u << 3);
    d->features[FW_1_EDX] &= ~(1u << 22);
    d->features[FW_8000_0001_ECX] &= ~(1u << 2);
    for (int w = 0; w < FW_WORDS; w++) {
        d->features[w] = (d->features[w] | d->plus[w]) & ~d->minus[w];
    }
    feature_deps(d);
    /* the host's vendor, as QEMU under an accelerator that uses the host's CPUID */
    snprintf(d->vendor, sizeof(d->vendor), "%s", host_vendor);
    d->level = m->level;
    d->xlevel = m->xlevel;
    d->level_func7 = 0;
    def_levels(d);
    d->features[FW_XCR0] = xsave_components(d->features);
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true")) {
        *out = true;
    } else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false")) {
        *out = false;
    } else {
        return false;
    }
    return true;
}

static bool parse_int(const char *v, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(v, &end, 0);
    return *v && !*end && !errno;
}

bool x86_cpu_def_parse(const char *spec, bool tcg, X86CPUDef *d)
{
    memset(d, 0, sizeof(*d));
    d->check = true;
    d->migratable = true;
    if (!spec) {
        spec = "qemu64";
    }
    if (!*spec) {
        error_report("-cpu option cannot be empty");
        return false;
    }
    size_t len = strcspn(spec, ",");
    if (len >= sizeof(d->name)) {
        error_report("unable to find CPU model '%.*s'", (int)len, spec);
        return false;
    }
    memcpy(d->name, spec, len);
    const X86CPUModel *m = NULL;
    if (!strcmp(d->name, "host") || !strcmp(d->name, "max")) {
        if (!strcmp(d->name, "host") && tcg) {
            error_report("CPU model 'host' requires KVM or HVF");
            return false;
        }
        d->host = !strcmp(d->name, "host");
        d->max = true;
        snprintf(d->vendor, sizeof(d->vendor), "AuthenticAMD");
        d->family = 15;
        d->model = 107;
        d->stepping = 1;
        snprintf(d->model_id, sizeof(d->model_id), "QEMU TCG CPU version 2.5+");
        d->level = 0xd;
        d->xlevel = 0x8000000A;
        x86_tcg_supported(d->features);
    } else if (!strcmp(d->name, "base")) {
        d->level = d->xlevel = 0;
    } else if ((m = find_model(d->name))) {
        snprintf(d->vendor, sizeof(d->vendor), "%s", m->vendor);
        d->family = m->family;
        d->model = m->model;
        d->stepping = m->stepping;
        snprintf(d->model_id, sizeof(d->model_id), "%s", m->model_id);
        d->level = m->level;
        d->xlevel = m->xlevel;
        d->cache = m->cache;
        add_features(d->features, m->features);
        /* QEMU's TCG turns vme off in every model (tcg_default_props); KVM keeps it
         * (x86_cpu_def_kvm) */
        d->features[FW_1_EDX] &= ~(1u << 1);
    } else {
        error_report("unable to find CPU model '%s'", d->name);
        return false;
    }
    /* the options: +f and -f apply after every f=v, and -f wins over +f (QEMU's order) */
    char *opts = g_strdup(spec[len] ? spec + len + 1 : "");
    bool ok = true;
    long long lvl = -1, xlvl = -1;
    uint32_t eq_set[FW_WORDS] = {0};
    for (char *save = NULL, *t = strtok_r(opts, ",", &save); t && ok;
         t = strtok_r(NULL, ",", &save)) {
        int w, b;
        if (t[0] == '+' || t[0] == '-') {
            if (!x86_feature_lookup(t + 1, &w, &b)) {
                error_report("Property '%s-x86_64-cpu.%s' not found", d->name, t + 1);
                ok = false;
            } else if (b >= 0) {
                (t[0] == '+' ? d->plus : d->minus)[w] |= 1u << b;
                if (eq_set[w] & (1u << b)) {
                    goto ambiguous;
                }
            }
            continue;
        }
        char *eq = strchr(t, '=');
        const char *v = eq ? eq + 1 : "on";
        if (eq) {
            *eq = 0;
        }
        bool bv;
        long long iv;
        if (x86_feature_lookup(t, &w, &b)) {
            if (!parse_bool(v, &bv)) {
                error_report("can't apply global %s-x86_64-cpu.%s=%s: Parameter '%s' expects "
                             "'on' or 'off'",
                             d->name, t, v, t);
                ok = false;
            } else if (b >= 0) {
                d->features[w] = bv ? d->features[w] | 1u << b : d->features[w] & ~(1u << b);
                (bv ? d->plus : d->minus)[w] |= 1u << b;
                eq_set[w] |= 1u << b;
                if ((d->plus[w] & d->minus[w]) & (1u << b)) {
                    goto ambiguous;
                }
            }
            continue;
        }
        static const char *const bools[] = {
            "check",       "enforce",         "migratable",
            "pmu",         "l3-cache",        "host-phys-bits",
            "kvm",         "host-cache-info", "full-cpuid-auto-level",
            "legacy-cache"};
        static const char *const ints[] = {"family",        "model",     "stepping",
                                           "level",         "xlevel",    "phys-bits",
                                           "tsc-frequency", "min-level", "min-xlevel"};
        bool is_bool = false, is_int = false;
        for (size_t i = 0; i < G_N_ELEMENTS(bools); i++) {
            is_bool |= !strcmp(t, bools[i]);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(ints); i++) {
            is_int |= !strcmp(t, ints[i]);
        }
        if (is_bool) {
            if (!parse_bool(v, &bv)) {
                error_report("can't apply global %s-x86_64-cpu.%s=%s: Parameter '%s' expects "
                             "'on' or 'off'",
                             d->name, t, v, t);
                ok = false;
            } else if (!strcmp(t, "check")) {
                d->check = bv;
            } else if (!strcmp(t, "enforce")) {
                d->enforce = bv;
            } else if (!strcmp(t, "migratable")) {
                d->migratable = bv;
            }
        } else if (is_int) {
            if (!parse_int(v, &iv)) {
                bool u = !strcmp(t, "level") || !strcmp(t, "xlevel") || !strncmp(t, "min-", 4);
                error_report("can't apply global %s-x86_64-cpu.%s=%s: Parameter '%s' expects "
                             "%s",
                             d->name, t, v, t, u ? "uint64" : "int64");
                ok = false;
            } else if (!strcmp(t, "family")) {
                d->family = (int)iv;
            } else if (!strcmp(t, "model")) {
                d->model = (int)iv;
            } else if (!strcmp(t, "stepping")) {
                d->stepping = (int)iv;
            } else if (!strcmp(t, "level")) {
                lvl = iv;
            } else if (!strcmp(t, "xlevel")) {
                xlvl = iv;
            }
        } else if (!strcmp(t, "vendor")) {
            if (strlen(v) != 12) {
                error_report("can't apply global %s-x86_64-cpu.vendor=%s: Property "
                             "'.vendor' doesn't take value '%s'",
                             d->name, v, v);
                ok = false;
            } else {
                snprintf(d->vendor, sizeof(d->vendor), "%s", v);
            }
        } else if (!strcmp(t, "model-id")) {
            snprintf(d->model_id, sizeof(d->model_id), "%s", v);
        } else {
            error_report("can't apply global %s-x86_64-cpu.%s=%s: Property '%s-x86_64-cpu.%s' "
                         "not found",
                         d->name, t, v, d->name, t);
            ok = false;
        }
        continue;
    ambiguous:
        warn_report("Ambiguous CPU model string. Don't mix both \"-%s\" and \"%s=%s\"", t + 1,
                    t + 1, "off");
        warn_report("Compatibility of ambiguous CPU model strings won't be kept on future QEMU "
                    "versions");
    }
    g_free(opts);
    if (!ok) {
        return false;
    }
    for (int w = 0; w < FW_WORDS; w++) {
        d->features[w] = (d->features[w] | d->plus[w]) & ~d->minus[w];
    }
    d->set_level = lvl;
    d->set_xlevel = xlvl;
    def_levels(d);
    return true;
}

/* ---- what the translator gives ---- */

void x86_tcg_supported(uint32_t f[FW_WORDS])
{
    memset(f, 0, FW_WORDS * sizeof(uint32_t));
    add_features(f, "fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush "
                    "acpi mmx fxsr sse sse2 ss ht "
                    "pni cx16 popcnt hypervisor "
                    "bmi1 bmi2 erms "
                    "syscall nx mmxext pdpe1gb rdtscp lm lahf-lm abm "
                    "arat");
    /* SSSE3 and SSE4.x run as the host's own instructions */
    unsigned a, b, c = 0, d;
    __get_cpuid(1, &a, &b, &c, &d);
    f[FW_1_ECX] |= c & (bit_SSSE3 | bit_SSE4_1 | bit_SSE4_2);
}

/* What QEMU 7.2's TCG gives and Vireo's translator does not (yet): x86-64-v3's AVX family,
 * XSAVE, AES, PCLMULQDQ, RDRAND, MOVBE, MONITOR, the supervisor protections, LA57, SVM. They are
 * dropped without a warning, so that stderr stays QEMU's for every model (docs/cpu-models.md). */
static const char tcg_gap[] =
    "pclmulqdq monitor fma movbe aes xsave avx f16c rdrand fsgsbase avx2 smep mpx adx smap "
    "clflushopt clwb pcommit umip pku vaes la57 pks 3dnowext 3dnow svm cr8legacy sse4a npt vgif "
    "svme-addr-chk xsaveopt xgetbv1";

void x86_tcg_quiet(uint32_t f[FW_WORDS])
{
    memset(f, 0, FW_WORDS * sizeof(uint32_t));
    add_features(f, tcg_gap);
}

bool x86_cpu_filter(X86CPUDef *d, const uint32_t sup[FW_WORDS], const uint32_t *quiet,
                    const char *accel)
{
    bool missing = false;
    char n[64];
    for (int w = 0; w < FW_WORDS; w++) {
        uint32_t lost = d->features[w] & ~sup[w];
        uint32_t loud = quiet ? lost & ~quiet[w] : lost;
        if (w == FW_1_EDX) {
            lost &= ~(1u << 28); /* ht is the topology's */
        }
        for (int b = 0; b < 32; b++) {
            if (!(loud & (1u << b))) {
                continue;
            }
            missing = true;
            if (!d->check && !d->enforce) {
                continue;
            }
            nth_name(words[w].names, b, n, sizeof(n));
            if (words[w].leaf) {
                const char *reg[] = {"EAX", "EBX", "ECX", "EDX"};
                warn_report("%s doesn't support requested feature: CPUID.%02XH:%s%s%s [bit %d]",
                            accel, words[w].leaf, reg[words[w].reg], n[0] ? "." : "", n, b);
            } else {
                warn_report("%s doesn't support requested feature: MSR(%02XH)%s%s [bit %d]", accel,
                            words[w].msr, n[0] ? "." : "", n, b);
            }
        }
        d->filtered[w] = lost;
        d->features[w] &= ~lost;
    }
    if (missing && d->enforce) {
        error_report("%s doesn't support requested features",
                     strcmp(accel, "host") ? accel : "Host");
        return false;
    }
    return true;
}

/* ---- CPUID ---- */

/* The cache leaves of each cache layout (QEMU 7.2's legacy caches and its EPYC models'), as
 * the guest sees them with one thread per core and one core; the sharing fields are filled
 * in from the topology. */
typedef struct CacheLeaves {
    uint32_t l2[4], l4[4][4], l80000005[4], l80000006[4], l8000001d[4][4];
} CacheLeaves;

static const CacheLeaves caches[] = {
    [CACHE_LEGACY] = {{0x00000001, 0, 0x0000004D, 0x002C307D},
                      {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                       {0x00000122, 0x01C0003F, 0x0000003F, 0x00000001},
                       {0x00000143, 0x03C0003F, 0x00000FFF, 0x00000001},
                       {0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006}},
                      {0x01FF01FF, 0x01FF01FF, 0x40020140, 0x40020140},
                      {0, 0x42004200, 0x02008140, 0x00808140},
                      {{0}}},
    [CACHE_EPYC] = {{0x00000001, 0, 0x0000004B, 0x002CFF80},
                    {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                     {0x00000122, 0x00C0003F, 0x000000FF, 0x00000001},
                     {0x00000043, 0x01C0003F, 0x000003FF, 0x00000000},
                     {0x00000163, 0x03C0003F, 0x00001FFF, 0x00000006}},
                    {0x01FF01FF, 0x01FF01FF, 0x20080140, 0x40040140},
                    {0, 0x42004200, 0x02006140, 0x00408140},
                    {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                     {0x00000122, 0x00C0003F, 0x000000FF, 0x00000001},
                     {0x00000043, 0x01C0003F, 0x000003FF, 0x00000000},
                     {0x00000163, 0x03C0003F, 0x00001FFF, 0x00000006}}},
    [CACHE_EPYC_ROME] = {{0x00000001, 0, 0x0000004B, 0x002CFF80},
                         {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                          {0x00000122, 0x01C0003F, 0x0000003F, 0x00000001},
                          {0x00000043, 0x01C0003F, 0x000003FF, 0x00000000},
                          {0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006}},
                         {0x01FF01FF, 0x01FF01FF, 0x20080140, 0x20080140},
                         {0, 0x42004200, 0x02006140, 0x00808140},
                         {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                          {0x00000122, 0x01C0003F, 0x0000003F, 0x00000001},
                          {0x00000043, 0x01C0003F, 0x000003FF, 0x00000000},
                          {0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006}}},
    [CACHE_EPYC_MILAN] = {{0x00000001, 0, 0x0000004B, 0x002CFF80},
                          {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                           {0x00000122, 0x01C0003F, 0x0000003F, 0x00000001},
                           {0x00000043, 0x01C0003F, 0x000003FF, 0x00000000},
                           {0x00000163, 0x03C0003F, 0x00007FFF, 0x00000006}},
                          {0x01FF01FF, 0x01FF01FF, 0x20080140, 0x20080140},
                          {0, 0x42004200, 0x02006140, 0x01008140},
                          {{0x00000121, 0x01C0003F, 0x0000003F, 0x00000001},
                           {0x00000122, 0x01C0003F, 0x0000003F, 0x00000001},
                           {0x00000043, 0x01C0003F, 0x000003FF, 0x00000000},
                           {0x00000163, 0x03C0003F, 0x00007FFF, 0x00000006}}},
};

static unsigned topo_bits(unsigned n)
{
    unsigned b = 0;
    while ((1u << b) < n) {
        b++;
    }
    return b;
}

static void vendor_regs(const X86CPUDef *d, uint32_t r[4])
{
    memcpy(&r[1], d->vendor, 4);
    memcpy(&r[3], d->vendor + 4, 4);
    memcpy(&r[2], d->vendor + 8, 4);
}

static bool is_amd(const X86CPUDef *d)
{
    return !strcmp(d->vendor, "AuthenticAMD");
}

static uint32_t version(const X86CPUDef *d)
{
    uint32_t v = (uint32_t)d->family > 0x0f ? 0xf00u | (uint32_t)(d->family - 0x0f) << 20
                                            : (uint32_t)d->family << 8;
    return v | ((uint32_t)d->model & 0xf) << 4 | ((uint32_t)d->model >> 4 & 0xf) << 16 |
           ((uint32_t)d->stepping & 0xf);
}

void x86_cpu_def_cpuid(const X86CPUDef *d, const X86CPUTopo *t, uint32_t leaf, uint32_t sub,
                       uint32_t r[4])
{
    unsigned threads = t->threads ? t->threads : 1, cores = t->cores ? t->cores : 1;
    unsigned per_pkg = threads * cores;
    const uint32_t *f = d->features;
    const CacheLeaves *c = &caches[d->cache];
    memset(r, 0, 4 * sizeof(uint32_t));
    if (leaf >= 0x80000000 && leaf > d->xlevel) {
        leaf = d->level; /* as QEMU: out of range gives the highest basic leaf */
    } else if (leaf >= 0x40000000 && leaf < 0x80000000) {
        if (leaf == 0x40000000) {
            r[0] = 0x40000001;
            memcpy(&r[1], "TCGT", 4);
            memcpy(&r[2], "CGTC", 4);
            memcpy(&r[3], "GTCG", 4);
        }
        return;
    } else if (leaf < 0x40000000 && leaf > d->level) {
        leaf = d->level;
    }
    switch (leaf) {
    case 0:
        r[0] = d->level;
        vendor_regs(d, r);
        break;
    case 1:
        r[0] = version(d);
        r[1] = t->apic_id << 24 | 8u << 8 | (per_pkg > 1 ? (per_pkg & 0xff) << 16 : 0);
        r[2] = f[FW_1_ECX];
        r[3] = f[FW_1_EDX] & ~(1u << 28);
        if (per_pkg > 1) {
            r[3] |= 1u << 28;
        }
        break;
    case 2:
        if (!is_amd(d)) {
            memcpy(r, c->l2, sizeof(c->l2));
        }
        break;
    case 4:
        if (!is_amd(d) && sub < 4) {
            memcpy(r, c->l4[sub], sizeof(c->l4[sub]));
            unsigned share = sub == 3 ? per_pkg : threads;
            r[0] |= (share - 1) << 14 | (cores - 1) << 26;
        }
        break;
    case 5:
        r[2] = 3; /* EMX, IBE */
        break;
    case 6:
        r[0] = f[FW_6_EAX];
        break;
    case 7:
        if (sub == 0) {
            r[0] = d->level_func7;
            r[1] = f[FW_7_0_EBX];
            r[2] = f[FW_7_0_ECX];
            r[3] = f[FW_7_0_EDX];
        } else if (sub == 1 && d->level_func7 >= 1) {
            r[0] = f[FW_7_1_EAX];
        }
        break;
    case 0xb:
        r[3] = t->apic_id;
        if (sub == 0) {
            r[0] = topo_bits(threads);
            r[1] = threads;
            r[2] = 1u << 8;
        } else if (sub == 1) {
            r[0] = topo_bits(threads) + topo_bits(cores);
            r[1] = per_pkg;
            r[2] = 1 | 2u << 8;
        } else {
            r[2] = sub & 0xff;
        }
        break;
    case 0x80000000:
        r[0] = d->xlevel;
        vendor_regs(d, r);
        break;
    case 0x80000001:
        r[0] = version(d);
        r[2] = f[FW_8000_0001_ECX];
        r[3] = f[FW_8000_0001_EDX];
        if (is_amd(d)) {
            r[3] |= f[FW_1_EDX] & 0x0183F3FFu; /* the bits AMD repeats from leaf 1 */
        }
        if (per_pkg > 1 && strcmp(d->vendor, "GenuineIntel")) {
            r[2] |= 1u << 1; /* CmpLegacy */
        }
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
        char id[48] = {0};
        memcpy(id, d->model_id, strnlen(d->model_id, sizeof(id)));
        memcpy(r, id + (leaf - 0x80000002) * 16, 16);
        break;
    }
    case 0x80000005:
        memcpy(r, c->l80000005, sizeof(c->l80000005));
        break;
    case 0x80000006:
        memcpy(r, c->l80000006, sizeof(c->l80000006));
        break;
    case 0x80000007:
        r[3] = f[FW_8000_0007_EDX];
        break;
    case 0x80000008:
        if (f[FW_8000_0001_EDX] & (1u << 29)) { /* lm: 40 physical, 48 virtual (57 with LA57) */
            r[0] = (d->phys_bits ? d->phys_bits : 0x28) |
                   (f[FW_7_0_ECX] & (1u << 16) ? 0x3900 : 0x3000);
        } else {
            r[0] = f[FW_1_EDX] & (1u << 17) ? 36 : 32; /* pse36 */
        }
        r[1] = f[FW_8000_0008_EBX];
        if (per_pkg > 1) { /* the APIC ID bits of a package, and the count */
            r[2] = (topo_bits(threads) + topo_bits(cores)) << 12 | (per_pkg - 1);
        }
        break;
    case 0x8000000A:
        if (f[FW_8000_0001_ECX] & (1u << 2)) {
            r[0] = 1;
            r[1] = 0x10;
            r[3] = f[FW_SVM];
        }
        break;
    case 0x8000001D:
        if (sub < 4 && c->l8000001d[sub][0]) {
            memcpy(r, c->l8000001d[sub], sizeof(c->l8000001d[sub]));
            unsigned share = sub == 3 ? per_pkg : threads;
            r[0] |= (share - 1) << 14;
        }
        break;
    case 0x8000001E:
        if (f[FW_8000_0001_ECX] & (1u << 22)) { /* topoext */
            r[0] = t->apic_id;
            r[1] = (threads - 1) << 8 | (t->apic_id >> topo_bits(threads));
        }
        break;
    default:
        break;
    }
}

/* qemu64 and max as TCG gives them, for a CPU state made without a -cpu option (unit tests) */
static X86CPUDef builtin_defs[2];
static void builtin_init(void)
{
    uint32_t sup[FW_WORDS];
    x86_tcg_supported(sup);
    for (int i = 0; i < 2; i++) {
        x86_cpu_def_parse(i ? "max,check=off" : "qemu64,check=off", true, &builtin_defs[i]);
        x86_cpu_filter(&builtin_defs[i], sup, NULL, "TCG");
    }
}

const X86CPUDef *x86_cpu_def_builtin(bool max)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, builtin_init);
    return &builtin_defs[max];
}

/* ---- QMP: query-cpu-definitions, query-cpu-model-expansion ---- */

static const uint32_t *kvm_sup;
static char kvm_vendor[13];
static uint32_t kvm_levels[2];

void x86_cpu_set_kvm_supported(const uint32_t sup[FW_WORDS], const char *host_vendor,
                               uint32_t kvm_level, uint32_t kvm_xlevel)
{
    kvm_sup = sup;
    snprintf(kvm_vendor, sizeof(kvm_vendor), "%s", host_vendor ? host_vendor : "");
    kvm_levels[0] = kvm_level;
    kvm_levels[1] = kvm_xlevel;
}

static int name_cmp_desc(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* A model as the running accelerator builds it before filtering (QEMU's CPU object after
 * x86_cpu_expand_features): the TCG view, or KVM's. */
static bool qmp_def(const char *name, X86CPUDef *d)
{
    char *spec = g_strconcat(name, ",check=off", NULL);
    bool ok = x86_cpu_def_parse(spec, false, d);
    g_free(spec);
    if (!ok) {
        return false;
    }
    if (kvm_sup) {
        x86_cpu_def_kvm(d, kvm_vendor, kvm_sup, kvm_levels[0], kvm_levels[1]);
    }
    if (d->max) {
        d->features[FW_1_EDX] &= ~(1u << 28); /* ht: the topology's, not a feature of max */
    }
    feature_deps(d);
    return true;
}

static QJ *unavailable_features(const char *name)
{
    QJ *list = qj_array();
    if (!strcmp(name, "host") && !kvm_sup) {
        qj_append(list, qj_string("kvm"));
        return list;
    }
    X86CPUDef d;
    uint32_t sup[FW_WORDS];
    if (kvm_sup) {
        memcpy(sup, kvm_sup, sizeof(sup));
    } else {
        x86_tcg_supported(sup);
    }
    /* error_report goes nowhere here: the names are all known */
    if (!qmp_def(name, &d)) {
        return list;
    }
    x86_cpu_filter(&d, sup, NULL, kvm_sup ? "host" : "TCG");
    char n[64];
    for (int w = 0; w < FW_WORDS; w++) {
        for (int b = 0; b < 32; b++) {
            if (d.filtered[w] & (1u << b)) {
                nth_name(words[w].names, b, n, sizeof(n));
                if (n[0]) {
                    qj_append(list, qj_string(n));
                }
            }
        }
    }
    return list;
}

static const char *alias_of(const char *name)
{
    const X86CPUModel *m = find_model(name);
    return m && strcmp(m->name, name) ? m->name : NULL;
}

QJ *x86_qmp_cpu_definitions(void)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (unsigned i = 0; i < x86_cpu_model_count; i++) {
        const X86CPUModel *m = &x86_cpu_models[i];
        g_ptr_array_add(names, g_strdup(m->name));
        for (const char *a = m->aliases; *a;) {
            size_t l = strcspn(a, ",");
            g_ptr_array_add(names, g_strndup(a, l));
            a += l + (a[l] == ',');
        }
    }
    /* QEMU's order: max, host, base, then the models by name, last first */
    qsort(names->pdata, names->len, sizeof(char *), name_cmp_desc);
    static const char *const first[] = {"max", "host", "base"};
    for (int i = 2; i >= 0; i--) {
        g_ptr_array_insert(names, 0, g_strdup(first[i]));
    }
    QJ *list = qj_array();
    for (guint i = 0; i < names->len; i++) {
        const char *n = names->pdata[i];
        bool special = i < 3, base = !strcmp(n, "base");
        /* members in the QAPI type's order (the JSON writer orders them as QEMU's QDict) */
        QJ *e = qj_object();
        qj_set_str(e, "name", n);
        qj_set_bool(e, "migration-safe", !special || base);
        qj_set_bool(e, "static", base);
        qj_set(e, "unavailable-features", unavailable_features(n));
        char *tn = g_strconcat(n, "-x86_64-cpu", NULL);
        qj_set_str(e, "typename", tn);
        g_free(tn);
        const char *a = special ? NULL : alias_of(n);
        if (a) {
            qj_set_str(e, "alias-of", a);
        }
        qj_set_bool(e, "deprecated", false);
        qj_append(list, e);
    }
    g_ptr_array_free(names, true);
    return list;
}

/* model.props: QEMU's property setters, in the object's order */
static bool apply_props(X86CPUDef *d, const QJ *props, char **errp)
{
    if (!props || props->type != QJ_OBJECT) {
        return true; /* QEMU ignores a props that is not an object */
    }
    for (size_t i = 0; i < props->obj.n; i++) {
        const char *k = props->obj.m[i].key;
        const QJ *v = props->obj.m[i].value;
        int w, b;
        if (x86_feature_lookup(k, &w, &b)) {
            if (v->type != QJ_BOOL) {
                *errp = g_strdup_printf("Invalid parameter type for '%s', expected: boolean", k);
                return false;
            }
            if (b >= 0) {
                uint32_t bit = 1u << b;
                d->features[w] = v->b ? d->features[w] | bit : d->features[w] & ~bit;
                (v->b ? d->plus : d->minus)[w] |= bit;
                (v->b ? d->minus : d->plus)[w] &= ~bit;
            }
            continue;
        }
        static const char *const ints[] = {"family", "model", "stepping", "level", "xlevel"};
        bool is_int = false;
        for (size_t j = 0; j < G_N_ELEMENTS(ints); j++) {
            is_int |= !strcmp(k, ints[j]);
        }
        if (is_int) {
            if (v->type != QJ_INT) {
                *errp = g_strdup_printf("Invalid parameter type for '%s', expected: integer", k);
                return false;
            }
            if (!strcmp(k, "family")) {
                d->family = (int)v->i;
            } else if (!strcmp(k, "model")) {
                d->model = (int)v->i;
            } else if (!strcmp(k, "stepping")) {
                d->stepping = (int)v->i;
            } else if (!strcmp(k, "level")) {
                d->set_level = v->i;
            } else {
                d->set_xlevel = v->i;
            }
        } else if (!strcmp(k, "vendor") || !strcmp(k, "model-id")) {
            if (v->type != QJ_STRING) {
                *errp = g_strdup_printf("Invalid parameter type for '%s', expected: string", k);
                return false;
            }
            if (!strcmp(k, "vendor")) {
                snprintf(d->vendor, sizeof(d->vendor), "%s", v->s);
            } else {
                snprintf(d->model_id, sizeof(d->model_id), "%s", v->s);
            }
        } else {
            *errp = g_strdup_printf("Property '%s-x86_64-cpu.%s' not found", d->name, k);
            return false;
        }
    }
    def_levels(d);
    return true;
}

/* The value of expansion property `k` for model `d`, or NULL when `k` is not one Vireo
 * computes. */
static QJ *model_prop(const X86CPUDef *d, const char *k)
{
    int w, b;
    if (x86_feature_lookup(k, &w, &b)) {
        return qj_bool(b >= 0 && (d->features[w] & (1u << b)));
    }
    if (!strcmp(k, "family")) {
        return qj_int(d->family);
    } else if (!strcmp(k, "model")) {
        return qj_int(d->model);
    } else if (!strcmp(k, "stepping")) {
        return qj_int(d->stepping);
    } else if (!strcmp(k, "vendor")) {
        return qj_string(d->vendor);
    } else if (!strcmp(k, "model-id")) {
        return qj_string(d->model_id);
    } else if (!strcmp(k, "level") || !strcmp(k, "min-level")) {
        return qj_int(d->level);
    } else if (!strcmp(k, "xlevel") || !strcmp(k, "min-xlevel")) {
        return qj_int(d->xlevel);
    } else if (!strcmp(k, "level-func7")) {
        return qj_int(d->level_func7);
    } else if (!strcmp(k, "legacy-cache")) {
        return qj_bool(d->cache == CACHE_LEGACY);
    } else if (!strcmp(k, "pmu")) {
        return qj_bool(d->max);
    } else if (!strcmp(k, "migratable")) {
        return qj_bool(d->migratable);
    } else if (!strcmp(k, "lmce")) {
        return qj_bool(false);
    }
    return NULL;
}

QJ *x86_qmp_cpu_expansion(const char *type, const QJ *model, char **errp)
{
    *errp = NULL;
    if (model->type != QJ_OBJECT) {
        *errp = g_strdup("Invalid parameter type for 'model', expected: object");
        return NULL;
    }
    const QJ *name = NULL, *props = NULL;
    for (size_t i = 0; i < model->obj.n; i++) {
        const char *k = model->obj.m[i].key;
        if (!strcmp(k, "name")) {
            name = model->obj.m[i].value;
        } else if (!strcmp(k, "props")) {
            props = model->obj.m[i].value;
        } else {
            *errp = g_strdup_printf("Parameter 'model.%s' is unexpected", k);
            return NULL;
        }
    }
    if (!name) {
        *errp = g_strdup("Parameter 'model.name' is missing");
        return NULL;
    }
    if (name->type != QJ_STRING) {
        *errp = g_strdup("Invalid parameter type for 'model.name', expected: string");
        return NULL;
    }
    const char *n = name->s;
    X86CPUDef d;
    bool known = !strcmp(n, "max") || !strcmp(n, "host") || !strcmp(n, "base") || find_model(n);
    if (!known || strchr(n, ',') || !qmp_def(n, &d)) {
        *errp = g_strdup_printf("CPU model '%s' not found", n);
        return NULL;
    }
    if (!apply_props(&d, props, errp)) {
        return NULL;
    }
    feature_deps(&d);
    QJ *p = qj_object();
    bool full = !strcmp(type, "full");
    /* added last first: the JSON writer then gives QEMU's order within each QDict bucket */
    if (full) {
        /* max's own properties first: in QEMU's order they follow the others of their bucket */
        for (int pass = d.max ? 0 : 1; pass < 2; pass++) {
            const X86ExpansionKey *keys =
                pass ? x86_expansion_full_keys : x86_expansion_max_extra_keys;
            size_t nk = 0;
            while (keys[nk].name) {
                nk++;
            }
            for (size_t i = nk; i-- > 0;) {
                QJ *v = keys[i].json ? qj_parse(keys[i].json, NULL) : model_prop(&d, keys[i].name);
                qj_set(p, keys[i].name, v ? v : qj_null());
            }
        }
    } else {
        size_t nk = 0;
        while (x86_expansion_static_keys[nk]) {
            nk++;
        }
        for (size_t i = nk; i-- > 0;) {
            QJ *v = model_prop(&d, x86_expansion_static_keys[i]);
            qj_set(p, x86_expansion_static_keys[i], v ? v : qj_null());
        }
    }
    QJ *m = qj_object();
    qj_set_str(m, "name", full ? n : "base");
    qj_set(m, "props", p);
    return qj_set(qj_object(), "model", m);
}
