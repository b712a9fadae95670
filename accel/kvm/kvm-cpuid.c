/*
 * CPUID under KVM: start from what the kernel supports (KVM_GET_SUPPORTED_CPUID) and shape
 * it to the -cpu model ("host"/"max": everything KVM offers; "qemu64": QEMU's qemu64 feature
 * set with the host's vendor, as QEMU does under KVM) and to the -smp topology.
 */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>
#include "kvm-internal.h"
#include "vireo/error.h"
#include "vireo/x86.h"

bool kvm_cpu_model_valid(const char *model)
{
    return !strcmp(model, "host") || !strcmp(model, "max") || !strcmp(model, "qemu64") ||
           !strcmp(model, "qemu64-v1");
}

/* qemu64's features (CPUID.1 EDX/ECX, 80000001 EDX/ECX) */
#define Q64_1_EDX                                                                                  \
    0x078bfbfdu /* fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx \
                   fxsr sse sse2 */
#define Q64_1_ECX         ((1u << 0) | (1u << 13)) /* sse3 cx16 */
#define F1_ECX_X2APIC     (1u << 21)
#define F1_ECX_OSXSAVE    (1u << 27)
#define F1_ECX_HYPERVISOR (1u << 31)
#define F1_EDX_HTT        (1u << 28)
#define Q64_81_EDX        ((1u << 11) | (1u << 20) | (1u << 29)) /* syscall nx lm */
#define Q64_81_ECX        (1u << 0)                              /* lahf_lm */
/* KVM paravirtual features QEMU enables by default: clocksource(2), nopiodelay, async_pf,
 * steal_time, pv_eoi, clocksource_stable */
#define KVM_PV_DEFAULT                                                                             \
    ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 24))

/* Fill the brand-string leaves 0x80000002-4, adding them when KVM's list lacks them (the
 * caller leaves room for three more entries). */
static void set_brand(struct kvm_cpuid2 *c, const char *brand)
{
    char buf[48] = {0};
    strncpy(buf, brand, sizeof(buf) - 1);
    for (uint32_t leaf = 0x80000002; leaf <= 0x80000004; leaf++) {
        struct kvm_cpuid_entry2 *e = NULL;
        for (uint32_t i = 0; i < c->nent; i++) {
            if (c->entries[i].function == leaf) {
                e = &c->entries[i];
            }
        }
        if (!e) {
            e = &c->entries[c->nent++];
            memset(e, 0, sizeof(*e));
            e->function = leaf;
        }
        memcpy(&e->eax, buf + (leaf - 0x80000002) * 16, 16);
    }
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, const SmpConfig *smp, uint32_t apic_id)
{
    unsigned threads = smp->threads ? smp->threads : 1, cores = smp->cores ? smp->cores : 1;
    unsigned tb = x86_topo_bits(threads), cb = x86_topo_bits(cores);
    e->edx = apic_id;
    switch (e->index) {
    case 0:
        e->eax = tb;
        e->ebx = threads;
        e->ecx = 0 | 1u << 8; /* SMT level */
        break;
    case 1:
        e->eax = tb + cb;
        e->ebx = threads * cores;
        e->ecx = 1 | 2u << 8; /* core level */
        break;
    default:
        e->eax = e->ebx = 0;
        e->ecx = e->index;
        break;
    }
}

struct kvm_cpuid2 *kvm_build_cpuid(const VireoConfig *cfg, const struct kvm_cpuid2 *supported,
                                   uint32_t apic_id)
{
    size_t sz = sizeof(*supported) + supported->nent * sizeof(struct kvm_cpuid_entry2);
    /* room for the three brand-string leaves set_brand() may add */
    struct kvm_cpuid2 *c = malloc(sz + 3 * sizeof(struct kvm_cpuid_entry2));
    memcpy(c, supported, sz);
    bool q64 = !strcmp(cfg->cpu_model, "qemu64") || !strcmp(cfg->cpu_model, "qemu64-v1");
    const SmpConfig *smp = &cfg->smp;
    unsigned threads = smp->threads ? smp->threads : 1, cores = smp->cores ? smp->cores : 1;
    unsigned per_pkg = threads * cores;

    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 0:
            if (q64 && e->eax > 0xd) {
                e->eax = 0xd;
            }
            break;
        case 1:
            if (q64) {
                e->eax = 0x00060fb1; /* family 15, model 107, stepping 1 */
                e->edx &= Q64_1_EDX;
                e->ecx &= Q64_1_ECX | F1_ECX_X2APIC;
            }
            e->ecx |= F1_ECX_HYPERVISOR;
            e->ecx &= ~F1_ECX_OSXSAVE; /* KVM reflects CR4.OSXSAVE itself */
            e->ebx = (apic_id & 0xff) << 24 | (per_pkg & 0xff) << 16 | 8u << 8;
            if (per_pkg > 1) {
                e->edx |= F1_EDX_HTT;
            } else {
                e->edx &= ~F1_EDX_HTT;
            }
            break;
        case 4:
            if (e->eax & 0x1f) {
                unsigned level = (e->eax >> 5) & 7;
                unsigned sharing = level >= 3 ? per_pkg : threads;
                e->eax = (e->eax & 0x3fff) | (sharing - 1) << 14 | (cores - 1) << 26;
            }
            break;
        case 7:
            if (q64) {
                e->eax = e->ebx = e->ecx = e->edx = 0;
            }
            break;
        case 0xb:
        case 0x1f:
            topology_leaf(e, smp, apic_id);
            break;
        case 0xd:
            if (q64) {
                e->eax = e->ebx = e->ecx = e->edx = 0;
            }
            break;
        case 0x40000001:
            e->eax &= KVM_PV_DEFAULT;
            e->edx = 0;
            break;
        case 0x80000001:
            if (q64) {
                e->edx &= Q64_81_EDX;
                e->ecx &= Q64_81_ECX;
            }
            break;
        default:
            break;
        }
    }
    if (q64) {
        set_brand(c, "QEMU Virtual CPU version 2.5+");
    } else {
        /* -cpu host/max: the host's own brand string, as QEMU reads it (KVM may not pass the
         * brand leaves through). */
        char brand[49] = {0};
        unsigned int r[4];
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            __cpuid(0x80000002 + leaf, r[0], r[1], r[2], r[3]);
            memcpy(brand + leaf * 16, r, 16);
        }
        set_brand(c, brand);
    }
    return c;
}
