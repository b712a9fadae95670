/*
 * CPUID under KVM. A named model (qemu64 included) is QEMU 7.2's model as its KVM builds it
 * (x86_cpu_def_kvm: the host's vendor, KVM's default paravirtual features), less what the kernel
 * supports (KVM_GET_SUPPORTED_CPUID read as QEMU reads it, kvm_supported_words) with QEMU's
 * warnings, and its leaves are the ones TCG gives (x86_cpu_def_cpuid) with KVM's own: the KVM
 * signature, the XSAVE leaf. "host"/"max" are built the same way from everything KVM offers, with
 * the host's identity (x86_cpu_def_kvm).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "kvm-internal.h"
#include "vireo/error.h"
#include "vireo/x86-cpu-model.h"
#include "vireo/x86.h"

/* Is MSR `index` in the list the ioctl gives (KVM_GET_MSR_INDEX_LIST, or
 * KVM_GET_MSR_FEATURE_INDEX_LIST)? */
static bool msr_listed(int kvm_fd, unsigned long req, uint32_t index)
{
    struct {
        struct kvm_msr_list l;
        uint32_t idx[2048];
    } *list = calloc(1, sizeof(*list));
    bool found = false;
    list->l.nmsrs = 2048;
    if (ioctl(kvm_fd, req, list) == 0) {
        for (uint32_t i = 0; i < list->l.nmsrs && i < 2048; i++) {
            found |= list->idx[i] == index;
        }
    }
    free(list);
    return found;
}

/* A feature MSR's value as KVM offers it (KVM_GET_MSRS on the system descriptor), 0 when KVM
 * does not list it. */
static uint64_t msr_feature(int kvm_fd, uint32_t index)
{
    struct {
        struct kvm_msrs h;
        struct kvm_msr_entry e;
    } m = {.h.nmsrs = 1, .e.index = index};
    if (!msr_listed(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST, index) ||
        ioctl(kvm_fd, KVM_GET_MSRS, &m) != 1) {
        return 0;
    }
    return m.e.data;
}

static const struct kvm_cpuid_entry2 *find_entry(const struct kvm_cpuid2 *c, uint32_t leaf,
                                                 uint32_t sub)
{
    for (uint32_t i = 0; i < c->nent; i++) {
        if (c->entries[i].function == leaf && c->entries[i].index == sub) {
            return &c->entries[i];
        }
    }
    return NULL;
}

void kvm_supported_words(int kvm_fd, const struct kvm_cpuid2 *sup, uint32_t *out)
{
    for (int w = 0; w < FW_WORDS; w++) {
        uint32_t leaf, sub, msr;
        int reg;
        out[w] = 0;
        if (!x86_feature_word_source(w, &leaf, &sub, &reg, &msr)) {
            continue;
        }
        if (!leaf) {
            out[w] = (uint32_t)msr_feature(kvm_fd, msr);
            continue;
        }
        const struct kvm_cpuid_entry2 *e = find_entry(sup, leaf, sub);
        if (e) {
            out[w] = (&e->eax)[reg];
        }
    }
    /* QEMU's corrections to what the kernel reports (kvm_arch_get_supported_cpuid): MTRR, PAT,
     * MCE, MCA; the hypervisor bit; TSC deadline with the in-kernel irqchip; ARAT; TOPOEXT; the
     * AMD copies of the leaf-1 bits; the kvm-hint-dedicated hint; arch-capabilities only with the
     * MSR. */
    out[FW_1_EDX] |= 1u << 12 | 1u << 16 | 1u << 7 | 1u << 14;
    out[FW_1_ECX] |= 1u << 31;
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
        out[FW_1_ECX] |= 1u << 24;
    }
    out[FW_6_EAX] |= 1u << 2;
    out[FW_8000_0001_ECX] |= 1u << 22;
    out[FW_8000_0001_EDX] |= out[FW_1_EDX] & 0x0183F3FFu;
    out[FW_KVM_HINTS] |= 1u << 0;
    if (!msr_listed(kvm_fd, KVM_GET_MSR_INDEX_LIST, 0x10A)) {
        out[FW_7_0_EDX] &= ~(1u << 29);
    }
}

/* The XSAVE leaf of a model (QEMU's cpu_x86_cpuid under KVM): the components in FW_XCR0 (already
 * filtered by what KVM supports), their sizes and offsets as KVM reports them, the standard
 * and compacted area sizes. KVM itself keeps EBX of subleaf 0 up to date with the guest's XCR0. */
static void xsave_leaf(const X86CPUDef *d, const struct kvm_cpuid2 *sup, uint32_t sub,
                       uint32_t r[4])
{
    uint32_t mask = d->features[FW_XCR0];
    memset(r, 0, 4 * sizeof(uint32_t));
    if (!(d->features[FW_1_ECX] & (1u << 26))) {
        return;
    }
    uint32_t std = 576, compact = 576;
    for (uint32_t i = 2; i < 32; i++) {
        const struct kvm_cpuid_entry2 *e = find_entry(sup, 0xd, i);
        if (!(mask & (1u << i)) || !e) {
            continue;
        }
        std = std > e->ebx + e->eax ? std : e->ebx + e->eax;
        compact += e->eax;
        if (sub == i) {
            r[0] = e->eax;
            r[1] = e->ebx;
            r[2] = e->ecx;
        }
    }
    if (sub == 0) {
        r[0] = mask;
        r[1] = r[2] = std;
    } else if (sub == 1) {
        r[0] = d->features[FW_XSAVE];
        r[1] = compact;
    }
}

static void add_entry(struct kvm_cpuid2 *c, uint32_t leaf, uint32_t sub, bool indexed,
                      const uint32_t r[4])
{
    struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
    memset(e, 0, sizeof(*e));
    e->function = leaf;
    e->index = sub;
    e->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    e->eax = r[0];
    e->ebx = r[1];
    e->ecx = r[2];
    e->edx = r[3];
}

/* The CPUID table of a named model for one vCPU: the leaves QEMU's kvm_arch_init_vcpu hands to
 * KVM (every basic and extended leaf up to the levels, the subleaves of the indexed ones). */
static struct kvm_cpuid2 *model_cpuid(const X86CPUDef *d, const struct kvm_cpuid2 *sup,
                                      const SmpConfig *smp, uint32_t apic_id)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
    X86CPUTopo t = {.apic_id = apic_id, .threads = smp->threads, .cores = smp->cores};
    uint32_t r[4];
    uint32_t level = d->level < 0x40 ? d->level : 0x3f;
    /* (the entries: 0x40 basic, 0x40 extended, 8 subleaves of 4/0xB/0x8000001D, 32 of 0xD,
     * 0x40 of 7 at most: 256 is enough) */
    for (uint32_t leaf = 0; leaf <= level; leaf++) {
        switch (leaf) {
        case 4:
        case 0xb:
        case 0x8000001D:
            for (uint32_t sub = 0; sub < 8; sub++) {
                x86_cpu_def_cpuid(d, &t, leaf, sub, r);
                add_entry(c, leaf, sub, true, r);
                /* the last one: no cache type (4), no level type (0xB) */
                if (leaf == 4 ? !(r[0] & 0x1f) : !(r[2] & 0xff00)) {
                    break;
                }
            }
            break;
        case 7:
            for (uint32_t sub = 0; sub <= d->level_func7; sub++) {
                x86_cpu_def_cpuid(d, &t, leaf, sub, r);
                add_entry(c, leaf, sub, true, r);
            }
            break;
        case 0xd:
            for (uint32_t sub = 0; sub < 32; sub++) {
                xsave_leaf(d, sup, sub, r);
                if (r[0]) { /* QEMU hands KVM only the subleaves with EAX set */
                    add_entry(c, leaf, sub, true, r);
                }
            }
            break;
        default:
            x86_cpu_def_cpuid(d, &t, leaf, 0, r);
            add_entry(c, leaf, 0, false, r);
            break;
        }
    }
    /* KVM's signature and paravirtual features */
    uint32_t sig[4] = {0x40000001, 0, 0, 0};
    memcpy(&sig[1], "KVMKVMKVM\0\0\0", 12);
    add_entry(c, 0x40000000, 0, false, sig);
    uint32_t pv[4] = {d->features[FW_KVM], 0, 0, d->features[FW_KVM_HINTS]};
    add_entry(c, 0x40000001, 0, false, pv);
    uint32_t xlevel = d->xlevel < 0x80000040 ? d->xlevel : 0x8000003f;
    for (uint32_t leaf = 0x80000000; leaf <= xlevel && d->xlevel >= 0x80000000; leaf++) {
        if (leaf == 0x8000001D) {
            for (uint32_t sub = 0; sub < 8; sub++) {
                x86_cpu_def_cpuid(d, &t, leaf, sub, r);
                add_entry(c, leaf, sub, true, r);
                if (!(r[0] & 0x1f)) {
                    break;
                }
            }
            continue;
        }
        x86_cpu_def_cpuid(d, &t, leaf, 0, r);
        add_entry(c, leaf, 0, false, r);
    }
    return c;
}

struct kvm_cpuid2 *kvm_build_cpuid(const VireoConfig *cfg, const X86CPUDef *def,
                                   const struct kvm_cpuid2 *supported, uint32_t apic_id)
{
    return model_cpuid(def, supported, &cfg->smp, apic_id);
}
