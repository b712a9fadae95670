/*
 * The flags the manuals leave undefined, as Vireo's CPU models define them. Generated code runs
 * most flag-writing instructions as the host's own instruction, and hosts differ in what they
 * leave in the undefined flags (an AMD Zen sets AF after shifts and OF after LZCNT, Intel cores
 * differ among themselves); a guest must see the same flags on every host (a VM saved on one
 * host runs on another). So wherever the host's undefined flags could reach the guest, the
 * translator replaces them with the model's values: QEMU 7.2's TCG choices, which are also
 * what its guests have always seen (docs/tcg.md, "Flags the manuals leave undefined"):
 * - shifts (masked count c != 0): AF = 0; CF for 8/16-bit counts beyond the operand size as if
 *   the operand were shifted as a wider zero- (SHL/SHR) or sign-extended (SAR) value; OF as the
 *   1-bit rule applied to the last step (SHL: MSB(result) ^ CF; SHR: MSB(operand) when c == 1,
 *   else 0; SAR: 0);
 * - ROL/ROR: OF = MSB(result) ^ CF (ROL), MSB(result) ^ next bit (ROR), for every count;
 *   RCL/RCR: OF = MSB(operand) ^ MSB(result), nothing changes when the count is a multiple of
 *   size + 1 (8/16-bit);
 * - SHLD/SHRD: AF = 0, OF as for SHL (SHLD) and ROR (SHRD); 16-bit counts above 16 shift the
 *   operand as the 48-bit value dest:src:dest (Intel's and QEMU's behaviour, not AMD's);
 * - MUL/IMUL: SF, ZF, PF from the low half of the product, AF = 0;
 * - BSF/BSR: the flags of TEST src, src (ZF defined, SF/PF of the source, CF = OF = AF = 0),
 *   and a zero source leaves the whole destination register unchanged;
 * - BT/BTS/BTR/BTC: every flag but CF unchanged;
 * - LZCNT/TZCNT, BLSI/BLSMSK/BLSR, BZHI: PF = AF = 0 (OF/SF as defined or 0);
 *   ANDN/BEXTR: the flags of TEST result, result;
 * - AND/OR/XOR/TEST: AF = 0 (what every x86-64 host leaves, so taken from the host);
 * - DIV/IDIV: all flags unchanged; AAA/AAS: OF SF ZF PF unchanged; DAA/DAS: OF = 0;
 *   AAM/AAD: OF = AF = CF = 0.
 */
#include <stdbool.h>
#include <stdint.h>
#include "vireo/tcg.h"
#include "vireo/x86-cpu.h"
#include "x86-helper.h"

static uint64_t size_mask(int size)
{
    return size == 64 ? ~0ull : (1ull << size) - 1;
}

/* SF, ZF, PF of the low `size` bits of v */
uint64_t x86_szp_flags(int size, uint64_t v)
{
    v &= size_mask(size);
    return ((v >> (size - 1)) & 1 ? CC_S : 0) | (v == 0 ? CC_Z : 0) |
           (__builtin_parity((unsigned)(v & 0xff)) ? 0 : CC_P);
}

uint64_t x86_shift_model_flags(int kind, int size, uint64_t in, uint64_t res, uint64_t count,
                               uint64_t f, uint64_t before)
{
    unsigned c = (unsigned)count & (size == 64 ? 63 : 31);
    int msb = size - 1;
    uint64_t m = size_mask(size);
    uint64_t cf, of;
    in &= m;
    res &= m;
    if (c == 0) {
        return f;
    }
    switch (kind) {
    case SH_SHL:
    case SH_SAL:
        cf = (int)c <= size ? (in >> (size - (int)c)) & 1 : 0;
        of = ((res >> msb) & 1) ^ cf;
        break;
    case SH_SHR:
        cf = (in >> (c - 1)) & 1;
        of = c == 1 ? (in >> msb) & 1 : 0;
        break;
    case SH_SAR: {
        int64_t s = (int64_t)(in << (63 - msb)) >> (63 - msb);
        cf = (uint64_t)(s >> (c - 1)) & 1;
        of = 0;
        break;
    }
    case SH_ROL:
        cf = res & 1;
        of = ((res >> msb) & 1) ^ cf;
        return (f & ~(uint64_t)(CC_C | CC_O)) | cf | (of ? CC_O : 0);
    case SH_ROR:
        cf = (res >> msb) & 1;
        of = cf ^ ((res >> (msb - 1)) & 1);
        return (f & ~(uint64_t)(CC_C | CC_O)) | cf | (of ? CC_O : 0);
    default: /* RCL, RCR: CF is the host's (defined) */
        if (size < 32 && c % (unsigned)(size + 1) == 0) {
            return before; /* no rotation at all: every flag as it was */
        }
        of = ((in ^ res) >> msb) & 1;
        return (f & ~(uint64_t)CC_O) | (of ? CC_O : 0);
    }
    return (f & ~(uint64_t)CC_MASK) | cf | (of ? CC_O : 0) | x86_szp_flags(size, res);
}

/* info = SH_* | size << 8; before: the flags before the shift. env->cc holds the host's flags
 * after it. */
void helper_shift_flags(CPUX86State *env, uint64_t in, uint64_t res, uint64_t count, uint64_t info,
                        uint64_t before)
{
    uint64_t f = x86_shift_model_flags((int)(info & 0xff), (int)(info >> 8), in, res, count,
                                       env->cc, before);
    env->cc = (f & CC_MASK) | RFLAGS_FIXED;
}

/*
 * SHLD (info bit 0 clear) / SHRD of dest by count with bits from src, size = info >> 8: the
 * result, and the model's flags in env->cc (unchanged for a zero count).
 */
uint64_t helper_shd(CPUX86State *env, uint64_t dest, uint64_t src, uint64_t count, uint64_t info)
{
    bool right = info & 1;
    int size = (int)(info >> 8);
    unsigned c = (unsigned)count & (size == 64 ? 63 : 31);
    uint64_t m = size_mask(size), res, cf;
    dest &= m;
    src &= m;
    if (c == 0) {
        return dest;
    }
    if (size == 64) {
        if (right) {
            res = (dest >> c) | (src << (64 - c));
            cf = (dest >> (c - 1)) & 1;
        } else {
            res = (dest << c) | (src >> (64 - c));
            cf = (dest >> (64 - c)) & 1;
        }
    } else {
        /* 32-bit: the 64-bit value src:dest (right) or dest:src (left); 16-bit: the 48-bit
         * value dest:src:dest, so counts 17..31 bring dest's bits back in */
        uint64_t v;
        if (size == 32) {
            v = right ? (src << 32) | dest : (dest << 32) | src;
        } else {
            v = right ? (dest << 32) | (src << 16) | dest : (dest << 32) | (src << 16) | dest;
        }
        int width = size == 32 ? 64 : 48;
        if (right) {
            res = (v >> c) & m;
            cf = (v >> (c - 1)) & 1;
        } else {
            res = (v >> (width - size - (int)c)) & m;
            cf = (v >> (width - (int)c)) & 1;
        }
    }
    uint64_t of =
        right ? ((res >> (size - 1)) ^ (res >> (size - 2))) & 1 : ((res >> (size - 1)) & 1) ^ cf;
    env->cc = (env->cc & ~(uint64_t)CC_MASK) | cf | (of ? CC_O : 0) | x86_szp_flags(size, res);
    return res;
}
