/* C helpers called from translated code (target/x86/helper.c). */
#ifndef VIREO_TARGET_X86_HELPER_H
#define VIREO_TARGET_X86_HELPER_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/x86-cpu.h"
#include "vireo/x86-cpu-model.h"

enum { STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS };

/* info: kind | size_bits << 8 | rep (1 = F3, 2 = F2) << 16 | addr32 << 18 | addr16 << 19 |
 * segment override (7: none) << 20 | legacy (not 64-bit mode) << 23 | addseg << 24 */
void helper_string(CPUX86State *env, uint64_t info);
/* info: size_bits | signed << 8; raises #DE on a zero divisor or a quotient that overflows */
void helper_div(CPUX86State *env, uint64_t divisor, uint64_t info);
/* x86_seg_check from generated code: info = seg | write << 3 | bytes << 4 */
void helper_seg_check(CPUX86State *env, uint64_t off, uint64_t info);

/* LOCK-prefixed RMW through host atomics: info = ATOM_* | size_bits << 8 (helper.c) */
enum {
    ATOM_ADD,
    ATOM_OR,
    ATOM_ADC,
    ATOM_SBB,
    ATOM_AND,
    ATOM_SUB,
    ATOM_XOR, /* the ALU_* numbering */
    ATOM_INC = 16,
    ATOM_DEC,
    ATOM_NEG,
    ATOM_NOT,
    ATOM_XADD,
    ATOM_XCHG,
    ATOM_CMPXCHG,
    ATOM_BTS,
    ATOM_BTR,
    ATOM_BTC,
    ATOM_CMP,
};
uint64_t helper_atomic(CPUX86State *env, uint64_t addr, uint64_t src, uint64_t info);
void helper_cmpxchg8b(CPUX86State *env, uint64_t addr);

/* The model's values for the flags the manuals leave undefined (cc_helper.c). */
uint64_t x86_szp_flags(int size, uint64_t v);
/* flags after shift/rotate SH_* of `in` by count giving res, from the host's flags f after it
 * and the flags before it */
uint64_t x86_shift_model_flags(int kind, int size, uint64_t in, uint64_t res, uint64_t count,
                               uint64_t f, uint64_t before);
/* info = SH_* | size << 8; env->cc: the host's flags after the shift, replaced by the model's */
void helper_shift_flags(CPUX86State *env, uint64_t in, uint64_t res, uint64_t count, uint64_t info,
                        uint64_t before);
/* SHLD/SHRD (info = right | size << 8): the result; the model's flags into env->cc */
uint64_t helper_shd(CPUX86State *env, uint64_t dest, uint64_t src, uint64_t count, uint64_t info);

/* SSE/SSE2 on env->xmm (helper.c): see the info layout there */
void helper_sse(CPUX86State *env, uint64_t addr, uint64_t info);

/* system mode (seg_helper.c) */
void helper_load_seg(CPUX86State *env, uint64_t seg, uint64_t selector);
void helper_iret(CPUX86State *env, uint64_t info);
void helper_vm86_iopl(CPUX86State *env);
enum {
    FPU_STMXCSR,
    FPU_LDMXCSR,
    FPU_FXSAVE,
    FPU_FXRSTOR,
};
/* fpu_helper.c: info = FPU_* (FXSAVE, FXRSTOR, LDMXCSR, STMXCSR) | REX.W << 8 */
void helper_fpu_ctl(CPUX86State *env, uint64_t addr, uint64_t info);
/* x87 instruction D8+op modrm: info = modrm | op << 8 | mem << 11 | o16 << 12 */
void helper_x87(CPUX86State *env, uint64_t addr, uint64_t info);
int x87_call_flags(unsigned op, unsigned modrm);
void helper_fwait(CPUX86State *env);
void x86_mmx_check(CPUX86State *env);
void x86_mmx_enter(CPUX86State *env, bool emms);
/* simd_helper.c: MMX, SSE floating point, SSE3, SSSE3, SSE4.1/4.2 */
void helper_simd(CPUX86State *env, uint64_t addr, uint64_t prepared);
uint64_t x86_simd_prepare(const CPUX86State *env, uint64_t info);
void helper_emms(CPUX86State *env);
/* -2: #UD, -1: helper_sse's, else the CALL_* flags for helper_simd */
int x86_simd_call_flags(const CPUX86State *env, unsigned map, unsigned opc, unsigned pfx, bool rexw,
                        bool p66, bool mem);
bool x86_simd_has_imm(const CPUX86State *env, unsigned map, unsigned opc, unsigned pfx, bool rexw,
                      bool p66);
bool x86_has_lzcnt(const CPUX86State *env);
bool x86_has_popcnt(const CPUX86State *env);
/* bmi_helper.c: BMI1/BMI2, LZCNT and POPCNT (flag writers first, up to BMI_LAST_FLAGS) */
enum {
    BMI_ANDN,
    BMI_BEXTR,
    BMI_BZHI,
    BMI_BLSR,
    BMI_BLSMSK,
    BMI_BLSI,
    BMI_TZCNT,
    BMI_LZCNT,
    BMI_POPCNT,
    BMI_LAST_FLAGS = BMI_POPCNT,
    BMI_PDEP,
    BMI_PEXT,
    BMI_SHLX,
    BMI_SHRX,
    BMI_SARX,
    BMI_RORX,
    BMI_MULX_LO,
    BMI_MULX_HI,
};
bool x86_has_bmi1(const CPUX86State *env);
bool x86_has_bmi2(const CPUX86State *env);
uint64_t helper_bmi(CPUX86State *env, uint64_t rm, uint64_t v, uint64_t info);
/* the CPU model's feature words (FW_*, vireo/x86-cpu-model.h) */
const uint32_t *x86_env_features(const CPUX86State *env);
void helper_lret(CPUX86State *env, uint64_t info);
void helper_far(CPUX86State *env, uint64_t selector, uint64_t off, uint64_t info);
void helper_sysenter(CPUX86State *env);
uint64_t helper_lar_lsl(CPUX86State *env, uint64_t selector, uint64_t old, uint64_t info);
void helper_verr_verw(CPUX86State *env, uint64_t selector, uint64_t write);
uint64_t helper_arpl(CPUX86State *env, uint64_t dst, uint64_t src);
void helper_sysexit(CPUX86State *env, uint64_t rexw);
/* 32-bit-mode instructions (helper.c) */
void helper_bound(CPUX86State *env, uint64_t addr, uint64_t idx, uint64_t size_bits);
void helper_bcd(CPUX86State *env, uint64_t info);
void helper_enter(CPUX86State *env, uint64_t info);
void helper_cmpxchg16b(CPUX86State *env, uint64_t addr);
void helper_syscall(CPUX86State *env, uint64_t next_rip);
void helper_sysret(CPUX86State *env, uint64_t size_bits);
void helper_swapgs(CPUX86State *env);
void helper_dtable(CPUX86State *env, uint64_t addr, uint64_t info);
void helper_lldt_ltr(CPUX86State *env, uint64_t selector, uint64_t is_tr);
uint64_t helper_read_cr(CPUX86State *env, uint64_t n);
void helper_write_cr(CPUX86State *env, uint64_t n, uint64_t v);
void helper_invlpg(CPUX86State *env, uint64_t addr);
void helper_check_dr45(CPUX86State *env);
void helper_rdmsr(CPUX86State *env);
void helper_wrmsr(CPUX86State *env);
void helper_rdtsc(CPUX86State *env, uint64_t with_aux);
void helper_cpuid(CPUX86State *env);
void x86_cpuid(CPUX86State *env, uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
               uint32_t *d);
uint64_t helper_in(CPUX86State *env, uint64_t port, uint64_t bytes);
void helper_out(CPUX86State *env, uint64_t port, uint64_t val, uint64_t bytes);
void helper_string_io(CPUX86State *env, uint64_t info, uint64_t next_rip);
void helper_popf(CPUX86State *env, uint64_t v, uint64_t size_bits);
void helper_cli_sti(CPUX86State *env, uint64_t set);

/*
 * The x87 transcendental instructions (D9 F0-F3, F9, FB, FE, FF: F2XM1 FYL2X FPTAN FPATAN
 * FYL2XP1 FSINCOS FSIN FCOS) in software on an FNSAVE image's control word, status word, full
 * tag word and ST(0)..ST(7), with every exception masked (x87_math.c). False: not one of them.
 */
bool x87_soft_exec(unsigned modrm, uint16_t cw, uint16_t *sw, uint16_t *tw, uint8_t st[8][10]);

#endif
