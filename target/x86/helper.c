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

/* ---- LOCK-prefixed read-modify-write (and XCHG with memory) as host atomics ---- */

/* Run the host instruction of the op on (a, b) with the guest's flags in and out. */
#define OP2(insn, W)                                                                               \
    __asm__("lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t" insn " %" W "[b], %" W              \
            "[a]\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"                                   \
            : [a] "+q"(a), [f] "+r"(f)                                                             \
            : [b] "q"(b)                                                                           \
            : "cc", "memory")
#define OP1(insn, W)                                                                               \
    __asm__("lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t" insn " %" W                         \
            "[a]\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"                                   \
            : [a] "+q"(a), [f] "+r"(f)                                                             \
            :                                                                                      \
            : "cc", "memory")
#define ALL_OPS(W)                                                                                 \
    switch (op) {                                                                                  \
    case ATOM_ADD:                                                                                 \
    case ATOM_XADD:                                                                                \
        OP2("add", W);                                                                             \
        break;                                                                                     \
    case ATOM_OR:                                                                                  \
        OP2("or", W);                                                                              \
        break;                                                                                     \
    case ATOM_ADC:                                                                                 \
        OP2("adc", W);                                                                             \
        break;                                                                                     \
    case ATOM_SBB:                                                                                 \
        OP2("sbb", W);                                                                             \
        break;                                                                                     \
    case ATOM_AND:                                                                                 \
        OP2("and", W);                                                                             \
        break;                                                                                     \
    case ATOM_SUB:                                                                                 \
        OP2("sub", W);                                                                             \
        break;                                                                                     \
    case ATOM_XOR:                                                                                 \
        OP2("xor", W);                                                                             \
        break;                                                                                     \
    case ATOM_INC:                                                                                 \
        OP1("inc", W);                                                                             \
        break;                                                                                     \
    case ATOM_DEC:                                                                                 \
        OP1("dec", W);                                                                             \
        break;                                                                                     \
    case ATOM_NEG:                                                                                 \
        OP1("neg", W);                                                                             \
        break;                                                                                     \
    case ATOM_NOT:                                                                                 \
        a = ~a;                                                                                    \
        break;                                                                                     \
    case ATOM_CMP:                                                                                 \
        OP2("cmp", W);                                                                             \
        break;                                                                                     \
    }

static uint64_t atomic_compute(int op, int size, uint64_t a, uint64_t b, uint64_t *flags)
{
    uint64_t f = *flags;
    switch (size) {
    case 8:
        ALL_OPS("b");
        break;
    case 16:
        ALL_OPS("w");
        break;
    case 32:
        ALL_OPS("k");
        break;
    default:
        ALL_OPS("q");
        break;
    }
    *flags = f;
    return a;
}

static bool cas(void *p, int bytes, uint64_t *expected, uint64_t desired)
{
    switch (bytes) {
    case 1: {
        uint8_t e = (uint8_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint8_t *)p, &e, (uint8_t)desired, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e;
        return ok;
    }
    case 2: {
        uint16_t e = (uint16_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint16_t *)p, &e, (uint16_t)desired, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e;
        return ok;
    }
    case 4: {
        uint32_t e = (uint32_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)desired, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e;
        return ok;
    }
    default:
        return __atomic_compare_exchange_n((uint64_t *)p, expected, desired, false,
                                           __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
}

static uint64_t load_n(const void *p, int bytes)
{
    switch (bytes) {
    case 1:
        return __atomic_load_n((const uint8_t *)p, __ATOMIC_SEQ_CST);
    case 2:
        return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
    case 4:
        return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
    default:
        return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
    }
}

/*
 * info = ATOM_* | size_bits << 8. Returns the old memory value (XADD, XCHG, CMPXCHG need it);
 * env->cc gets the op's flags. CMPXCHG compares with RAX (in env) and loads RAX on failure.
 */
uint64_t helper_atomic(CPUX86State *env, uint64_t addr, uint64_t src, uint64_t info)
{
    int op = (int)(info & 0xff), size = (int)(info >> 8), bytes = size / 8;
    int mmu = x86_mmu_idx(env);
    uint64_t mask = size == 64 ? ~0ull : (1ull << size) - 1;
    void *p = x86_host_rw(env, addr, bytes, mmu);
    uint64_t old = p ? load_n(p, bytes) : x86_ld(env, addr, bytes, mmu);
    uint64_t flags;
    for (;;) {
        uint64_t nv;
        flags = env->cc | RFLAGS_FIXED;
        switch (op) {
        case ATOM_XCHG:
            nv = src;
            break;
        case ATOM_CMPXCHG: {
            uint64_t rax = env->regs[R_EAX] & mask;
            atomic_compute(ATOM_CMP, size, rax, old, &flags);
            nv = old == rax ? src : old;
            break;
        }
        case ATOM_BTS:
        case ATOM_BTR:
        case ATOM_BTC: {
            uint64_t bit = 1ull << (src & (uint64_t)(size - 1));
            flags = (flags & ~(uint64_t)CC_C) | ((old & bit) ? CC_C : 0);
            nv = op == ATOM_BTS ? old | bit : op == ATOM_BTR ? old & ~bit : old ^ bit;
            break;
        }
        default:
            nv = atomic_compute(op, size, old, src, &flags);
            break;
        }
        nv &= mask;
        if (!p) {
            x86_st(env, addr, nv, bytes, mmu);
            break;
        }
        if (nv == old && op == ATOM_CMPXCHG) {
            /* a failed compare still writes the old value back: a no-op atomically */
            break;
        }
        if (cas(p, bytes, &old, nv)) {
            break;
        }
    }
    if (op == ATOM_CMPXCHG && !(flags & CC_Z)) {
        uint64_t *rax = &env->regs[R_EAX];
        *rax = size == 32 ? old : size == 64 ? old : (*rax & ~mask) | old;
    }
    if (op != ATOM_XCHG) {
        env->cc = (flags & CC_MASK) | RFLAGS_FIXED;
    }
    return old;
}
