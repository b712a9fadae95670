/*
 * BMI1 (ANDN, BEXTR, BLSI, BLSMSK, BLSR, TZCNT) and BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX,
 * SHLX, SHRX). They are offered (CPUID leaf 7) only by -cpu max and only when the host has
 * them, so the flag-writing ones and PDEP/PEXT run as the host's own instruction: results and
 * flags, the ones the manuals leave undefined included, are the host's. The flag-free shifts,
 * RORX and MULX are plain C.
 */
#include <cpuid.h>
#include <stddef.h>
#include <stdint.h>
#include "vireo/x86-cpu.h"
#include "x86-helper.h"

enum { HB_BMI1 = 1, HB_BMI2 = 2 };

static unsigned host_bmi(void)
{
    static unsigned feat = ~0u;
    if (feat == ~0u) {
        unsigned a, b, c, d, f = 0;
        if (__get_cpuid_max(0, NULL) >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            f |= (b & (1u << 3) ? HB_BMI1 : 0) | (b & (1u << 8) ? HB_BMI2 : 0);
        }
        feat = f;
    }
    return feat;
}

static unsigned guest_bmi(const CPUX86State *env)
{
    return env->cpuid_max_model ? host_bmi() : 0;
}

bool x86_has_bmi1(const CPUX86State *env)
{
    return guest_bmi(env) & HB_BMI1;
}

bool x86_has_bmi2(const CPUX86State *env)
{
    return guest_bmi(env) & HB_BMI2;
}

void x86_bmi_cpuid(const CPUX86State *env, uint32_t leaf, uint32_t sub, uint32_t *ebx)
{
    if (leaf == 7 && sub == 0) {
        unsigned f = guest_bmi(env);
        *ebx |= (f & HB_BMI1 ? 1u << 3 : 0) | (f & HB_BMI2 ? 1u << 8 : 0);
    }
}

/* x = the AT&T first source, y = the second; the guest flags in and out (skipping the red zone) */
#define RUN3(insn, W)                                                                              \
    __asm__("lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t" insn " %" W "[x], %" W "[y], %" W   \
            "[d]\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"                                   \
            : [d] "=&r"(d), [f] "+r"(f)                                                            \
            : [x] "r"(x), [y] "r"(y)                                                               \
            : "cc")
#define RUN2(insn, W)                                                                              \
    __asm__("lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t" insn " %" W "[x], %" W              \
            "[d]\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"                                   \
            : [d] "=&r"(d), [f] "+r"(f)                                                            \
            : [x] "r"(x)                                                                           \
            : "cc")
#define SIZED3(insn)                                                                               \
    do {                                                                                           \
        if (size == 64) {                                                                          \
            RUN3(insn, "q");                                                                       \
        } else {                                                                                   \
            RUN3(insn, "k");                                                                       \
        }                                                                                          \
    } while (0)
#define SIZED2(insn)                                                                               \
    do {                                                                                           \
        if (size == 64) {                                                                          \
            RUN2(insn, "q");                                                                       \
        } else {                                                                                   \
            RUN2(insn, "k");                                                                       \
        }                                                                                          \
    } while (0)

/*
 * info = op | size << 8. rm = the r/m operand, v = the VEX.vvvv register (for SARX/SHLX/SHRX,
 * BEXTR and BZHI the control operand; for RORX the count; for MULX RDX). Flags through env->cc.
 */
uint64_t helper_bmi(CPUX86State *env, uint64_t rm, uint64_t v, uint64_t info)
{
    int op = (int)(info & 0xff), size = (int)((info >> 8) & 0xff);
    uint64_t f = env->cc, d = 0, x, y;
    uint64_t mask = size == 64 ? ~0ull : size == 32 ? 0xffffffffull : 0xffffull;
    unsigned cmask = size == 64 ? 63 : 31;
    switch (op) {
    case BMI_ANDN: /* ANDN r, vvvv, r/m */
        x = rm, y = v;
        SIZED3("andn");
        break;
    case BMI_BEXTR: /* BEXTR r, r/m, vvvv */
        x = v, y = rm;
        SIZED3("bextr");
        break;
    case BMI_BZHI:
        x = v, y = rm;
        SIZED3("bzhi");
        break;
    case BMI_PDEP: /* PDEP r, vvvv, r/m */
        x = rm, y = v;
        SIZED3("pdep");
        break;
    case BMI_PEXT:
        x = rm, y = v;
        SIZED3("pext");
        break;
    case BMI_BLSR:
        x = rm;
        SIZED2("blsr");
        break;
    case BMI_BLSMSK:
        x = rm;
        SIZED2("blsmsk");
        break;
    case BMI_BLSI:
        x = rm;
        SIZED2("blsi");
        break;
    case BMI_TZCNT:
        x = rm;
        if (size == 16) {
            RUN2("tzcnt", "w");
        } else {
            SIZED2("tzcnt");
        }
        break;
    case BMI_SHLX:
        d = rm << (v & cmask);
        break;
    case BMI_SHRX:
        d = (rm & mask) >> (v & cmask);
        break;
    case BMI_SARX:
        d = size == 64 ? (uint64_t)((int64_t)rm >> (v & cmask))
                       : (uint64_t)(uint32_t)((int32_t)(uint32_t)rm >> (v & cmask));
        break;
    case BMI_RORX: {
        unsigned n = (unsigned)v & cmask;
        uint64_t a = rm & mask;
        d = n ? (a >> n) | (a << (size - (int)n)) : a;
        break;
    }
    case BMI_MULX_LO:
    case BMI_MULX_HI: {
        unsigned __int128 p = (unsigned __int128)(rm & mask) * (v & mask);
        d = op == BMI_MULX_LO ? (uint64_t)p : size == 64 ? (uint64_t)(p >> 64) : (uint64_t)p >> 32;
        break;
    }
    }
    if (op <= BMI_TZCNT) {
        env->cc = (f & CC_MASK) | RFLAGS_FIXED;
    }
    return d & mask;
}
