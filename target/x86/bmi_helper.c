/*
 * BMI1 (ANDN, BEXTR, BLSI, BLSMSK, BLSR, TZCNT), BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX,
 * SHRX), LZCNT (ABM) and POPCNT, all in C: results and flags are the CPU model's on every host
 * (the flags the manuals leave undefined as QEMU 7.2's TCG sets them, see cc_helper.c), and
 * -cpu max offers them whatever the host has. BMI1/BMI2 are in CPUID leaf 7 EBX bits 3 and 8.
 */
#include <stddef.h>
#include <stdint.h>
#include "vireo/x86-cpu.h"
#include "x86-helper.h"

bool x86_has_bmi1(const CPUX86State *env)
{
    return x86_env_features(env)[FW_7_0_EBX] & (1u << 3);
}

bool x86_has_bmi2(const CPUX86State *env)
{
    return x86_env_features(env)[FW_7_0_EBX] & (1u << 8);
}

static uint64_t sf_of(int size, uint64_t v)
{
    return (v >> (size - 1)) & 1 ? CC_S : 0;
}

static uint64_t pdep(uint64_t src, uint64_t mask)
{
    uint64_t r = 0;
    for (uint64_t b = 1; mask; b <<= 1) {
        uint64_t low = mask & -mask;
        if (src & b) {
            r |= low;
        }
        mask &= mask - 1;
    }
    return r;
}

static uint64_t pext(uint64_t src, uint64_t mask)
{
    uint64_t r = 0;
    for (uint64_t b = 1; mask; b <<= 1) {
        uint64_t low = mask & -mask;
        if (src & low) {
            r |= b;
        }
        mask &= mask - 1;
    }
    return r;
}

/*
 * info = op | size << 8. rm = the r/m operand, v = the VEX.vvvv register (for SARX/SHLX/SHRX,
 * BEXTR and BZHI the control operand; for RORX the count; for MULX RDX). Flags through env->cc.
 */
uint64_t helper_bmi(CPUX86State *env, uint64_t rm, uint64_t v, uint64_t info)
{
    int op = (int)(info & 0xff), size = (int)((info >> 8) & 0xff);
    uint64_t mask = size == 64 ? ~0ull : (1ull << size) - 1;
    unsigned cmask = size == 64 ? 63 : 31;
    uint64_t d = 0, f = 0;
    rm &= mask;
    switch (op) {
    case BMI_ANDN: /* ANDN r, vvvv, r/m: the flags of TEST result */
        d = ~v & rm & mask;
        f = x86_szp_flags(size, d);
        break;
    case BMI_BEXTR: { /* BEXTR r, r/m, vvvv: start v[7:0], length v[15:8] */
        unsigned start = v & 0xff, len = (v >> 8) & 0xff;
        d = start < (unsigned)size ? rm >> start : 0;
        if (len < 64) {
            d &= (1ull << len) - 1;
        }
        f = x86_szp_flags(size, d);
        break;
    }
    case BMI_BZHI: { /* bits from index v[7:0] up cleared; CF: the index is past the operand */
        unsigned n = v & 0xff;
        d = n < (unsigned)size ? rm & ((1ull << n) - 1) : rm;
        f = (n > (unsigned)size - 1 ? CC_C : 0) | (d == 0 ? CC_Z : 0) | sf_of(size, d);
        break;
    }
    case BMI_BLSR:
        d = (rm - 1) & rm & mask;
        f = (rm == 0 ? CC_C : 0) | (d == 0 ? CC_Z : 0) | sf_of(size, d);
        break;
    case BMI_BLSMSK:
        d = (rm - 1) ^ rm;
        d &= mask;
        f = (rm == 0 ? CC_C : 0) | sf_of(size, d);
        break;
    case BMI_BLSI: /* CF: the source is not zero (the SDM and the hardware; QEMU 7.2 inverts it) */
        d = -rm & rm & mask;
        f = (rm != 0 ? CC_C : 0) | (d == 0 ? CC_Z : 0) | sf_of(size, d);
        break;
    case BMI_TZCNT:
    case BMI_LZCNT:
        if (rm == 0) {
            d = (uint64_t)size;
        } else if (op == BMI_TZCNT) {
            d = (uint64_t)__builtin_ctzll(rm);
        } else {
            d = (uint64_t)(__builtin_clzll(rm) - (64 - size));
        }
        f = (rm == 0 ? CC_C : 0) | (d == 0 ? CC_Z : 0);
        break;
    case BMI_POPCNT:
        d = (uint64_t)__builtin_popcountll(rm);
        f = rm == 0 ? CC_Z : 0;
        break;
    case BMI_PDEP: /* PDEP r, vvvv, r/m: vvvv's low bits to the places r/m's set bits say */
        d = pdep(v & mask, rm);
        break;
    case BMI_PEXT:
        d = pext(v & mask, rm);
        break;
    case BMI_SHLX:
        d = rm << (v & cmask);
        break;
    case BMI_SHRX:
        d = rm >> (v & cmask);
        break;
    case BMI_SARX:
        d = size == 64 ? (uint64_t)((int64_t)rm >> (v & cmask))
                       : (uint64_t)(uint32_t)((int32_t)(uint32_t)rm >> (v & cmask));
        break;
    case BMI_RORX: {
        unsigned n = (unsigned)v & cmask;
        d = n ? (rm >> n) | (rm << (size - (int)n)) : rm;
        break;
    }
    case BMI_MULX_LO:
    case BMI_MULX_HI: {
        unsigned __int128 p = (unsigned __int128)rm * (v & mask);
        d = op == BMI_MULX_LO ? (uint64_t)p : size == 64 ? (uint64_t)(p >> 64) : (uint64_t)p >> 32;
        break;
    }
    }
    if (op <= BMI_LAST_FLAGS) {
        env->cc = f | RFLAGS_FIXED;
    }
    return d & mask;
}
