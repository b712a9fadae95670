/*
 * Helpers called from translated code: division (precise #DE), string instructions with REP,
 * and raising guest exceptions. Guest registers are in env when these run (the backend writes
 * them back first), and for helpers that may fault env->rip is the faulting instruction.
 */
#include <setjmp.h>
#include <string.h>
#include "vireo/x86-cpu.h"
#include "x86-helper.h"

_Noreturn void x86_raise_exception(CPUX86State *env, int vector, uint32_t error_code)
{
    env->exception_index = vector;
    env->error_code = error_code;
    siglongjmp(env->jmp_env, 1);
}

/* Write v to register r with x86's rule for the operand size. */
static void set_reg(CPUX86State *env, int r, int size, uint64_t v)
{
    switch (size) {
    case 8:
        env->regs[r] = (env->regs[r] & ~0xffull) | (v & 0xff);
        break;
    case 16:
        env->regs[r] = (env->regs[r] & ~0xffffull) | (v & 0xffff);
        break;
    case 32:
        env->regs[r] = (uint32_t)v;
        break;
    default:
        env->regs[r] = v;
        break;
    }
}

void helper_div(CPUX86State *env, uint64_t divisor, uint64_t info)
{
    int size = (int)(info & 0xff);
    bool sign = (info >> 8) & 1;
    uint64_t *rax = &env->regs[R_EAX], *rdx = &env->regs[R_EDX];
    if (size == 8) {
        uint16_t ax = (uint16_t)*rax;
        uint8_t d = (uint8_t)divisor;
        if (!d) {
            x86_raise_exception(env, EXCP_DE, 0);
        }
        unsigned q, r;
        if (sign) {
            int qs = (int16_t)ax / (int8_t)d, rs = (int16_t)ax % (int8_t)d;
            if (qs < -128 || qs > 127) {
                x86_raise_exception(env, EXCP_DE, 0);
            }
            q = (unsigned)qs & 0xff;
            r = (unsigned)rs & 0xff;
        } else {
            q = ax / d;
            r = ax % d;
            if (q > 0xff) {
                x86_raise_exception(env, EXCP_DE, 0);
            }
        }
        *rax = (*rax & ~0xffffull) | (r << 8) | q;
        return;
    }
    uint64_t mask = size == 64 ? ~0ull : (1ull << size) - 1;
    unsigned __int128 n = ((unsigned __int128)(*rdx & mask) << size) | (*rax & mask);
    uint64_t d = divisor & mask;
    if (!d) {
        x86_raise_exception(env, EXCP_DE, 0);
    }
    uint64_t q, r;
    if (sign) {
        /* sign-extend the 2*size dividend and the divisor */
        __int128 ns = (__int128)(n << (128 - 2 * size)) >> (128 - 2 * size);
        int64_t ds = (int64_t)(d << (64 - size)) >> (64 - size);
        __int128 qs, rs;
        if (ds == -1) {
            if (size == 64 && n == (unsigned __int128)1 << 127) {
                x86_raise_exception(env, EXCP_DE, 0);
            }
            qs = -ns;
            rs = 0;
        } else {
            qs = ns / ds;
            rs = ns % ds;
        }
        __int128 lim = (__int128)1 << (size - 1);
        if (qs >= lim || qs < -lim) {
            x86_raise_exception(env, EXCP_DE, 0);
        }
        q = (uint64_t)qs;
        r = (uint64_t)rs;
    } else {
        unsigned __int128 qu = n / d;
        if (qu > mask) {
            x86_raise_exception(env, EXCP_DE, 0);
        }
        q = (uint64_t)qu;
        r = (uint64_t)(n % d);
    }
    set_reg(env, R_EAX, size, q);
    set_reg(env, R_EDX, size, r);
}

/* The host's own flags for a - b at the operand size (guest and host are both x86). */
static uint64_t cmp_flags(uint64_t a, uint64_t b, int size)
{
    uint64_t f;
    /* lea moves past the red zone without touching the flags pushfq must see */
    switch (size) {
    case 8:
        __asm__("cmpb %b2, %b1\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\t"
                "lea 128(%%rsp), %%rsp"
                : "=r"(f)
                : "q"(a), "q"(b)
                : "cc");
        break;
    case 16:
        __asm__("cmpw %w2, %w1\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\t"
                "lea 128(%%rsp), %%rsp"
                : "=r"(f)
                : "r"(a), "r"(b)
                : "cc");
        break;
    case 32:
        __asm__("cmpl %k2, %k1\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\t"
                "lea 128(%%rsp), %%rsp"
                : "=r"(f)
                : "r"(a), "r"(b)
                : "cc");
        break;
    default:
        __asm__("cmpq %2, %1\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\t"
                "lea 128(%%rsp), %%rsp"
                : "=r"(f)
                : "r"(a), "r"(b)
                : "cc");
        break;
    }
    return (f & CC_MASK) | RFLAGS_FIXED;
}

static void *host_ptr(CPUX86State *env, uint64_t addr)
{
    return (void *)(uintptr_t)(env->mem_base + addr);
}

static uint64_t mem_read(CPUX86State *env, uint64_t addr, int bytes)
{
    return x86_ld(env, addr, bytes, x86_mmu_idx(env));
}

static void mem_write(CPUX86State *env, uint64_t addr, uint64_t v, int bytes)
{
    x86_st(env, addr, v, bytes, x86_mmu_idx(env));
}

void helper_string(CPUX86State *env, uint64_t info)
{
    int kind = (int)(info & 0xff);
    int size = (int)((info >> 8) & 0xff);
    int bytes = size / 8;
    int rep = (int)((info >> 16) & 3);
    bool a32 = (info >> 18) & 1;
    int seg = (int)((info >> 20) & 7);
    uint64_t amask = a32 ? 0xffffffffull : ~0ull;
    int64_t step = (env->eflags & RFLAGS_DF) ? -bytes : bytes;
    uint64_t src_base = seg == 4 ? env->fs_base : seg == 5 ? env->gs_base : 0;
    uint64_t *rsi = &env->regs[R_ESI], *rdi = &env->regs[R_EDI], *rcx = &env->regs[R_ECX];
    uint64_t vmask = size == 64 ? ~0ull : (1ull << size) - 1;

    /* fast paths: forward, non-overlapping REP MOVS and byte REP STOS */
    if (rep && step > 0 && !a32 && !env->softmmu &&
        (kind == STR_MOVS || (kind == STR_STOS && bytes == 1))) {
        uint64_t n = *rcx * (uint64_t)bytes;
        uint64_t s = src_base + *rsi, d = *rdi;
        if (n && n / (uint64_t)bytes == *rcx && n < (1ull << 40)) {
            if (kind == STR_STOS) {
                memset(host_ptr(env, d), (int)(env->regs[R_EAX] & 0xff), n);
                *rdi += n;
                *rcx = 0;
                return;
            }
            if (d >= s + n || d + n <= s) {
                memmove(host_ptr(env, d), host_ptr(env, s), n);
                *rsi += n;
                *rdi += n;
                *rcx = 0;
                return;
            }
        }
    }
    for (;;) {
        if (rep && (*rcx & amask) == 0) {
            break;
        }
        uint64_t si = *rsi & amask, di = *rdi & amask;
        switch (kind) {
        case STR_MOVS:
            mem_write(env, di, mem_read(env, src_base + si, bytes), bytes);
            break;
        case STR_STOS:
            mem_write(env, di, env->regs[R_EAX], bytes);
            break;
        case STR_LODS:
            set_reg(env, R_EAX, size, mem_read(env, src_base + si, bytes));
            break;
        case STR_CMPS:
            env->cc =
                cmp_flags(mem_read(env, src_base + si, bytes), mem_read(env, di, bytes), size);
            break;
        case STR_SCAS:
            env->cc = cmp_flags(env->regs[R_EAX] & vmask, mem_read(env, di, bytes), size);
            break;
        }
        if (kind == STR_MOVS || kind == STR_LODS || kind == STR_CMPS) {
            *rsi = a32 ? (uint32_t)(si + (uint64_t)step) : si + (uint64_t)step;
        }
        if (kind != STR_LODS) {
            *rdi = a32 ? (uint32_t)(di + (uint64_t)step) : di + (uint64_t)step;
        }
        if (!rep) {
            break;
        }
        uint64_t c = (*rcx & amask) - 1;
        *rcx = a32 ? (uint32_t)c : c;
        if (kind == STR_CMPS || kind == STR_SCAS) {
            bool zf = env->cc & CC_Z;
            if ((rep == 1 && !zf) || (rep == 2 && zf)) {
                break;
            }
        }
    }
}
