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

void x86_seg_check(CPUX86State *env, int seg, uint32_t off, uint32_t bytes, bool write)
{
    const SegmentCache *sc = &env->segs[seg];
    uint32_t type = (sc->flags >> DESC_TYPE_SHIFT) & 0xf;
    bool ok;
    if ((env->cr[0] & CR0_PE) && !(env->eflags & RFLAGS_VM)) {
        /* protected mode: a null selector's segment is not present; code segments are never
         * writable and readable only with R; data segments writable only with W */
        ok = (sc->flags & DESC_P) && ((type & 8) ? !write && (type & 2) : !write || (type & 2));
    } else {
        ok = true; /* real mode and virtual-8086 mode: limits only */
    }
    uint64_t last = (uint64_t)off + bytes - 1;
    if ((type & 0xc) == 4) {
        /* expand-down data: valid offsets are above the limit, up to 64 KiB, or 4 GiB (B; an
         * access there that wraps past 4 GiB is allowed, as the CPU allows it) */
        ok = ok && off > sc->limit && ((sc->flags & DESC_B) || last <= 0xffff);
    } else {
        ok = ok && (last <= sc->limit || sc->limit == 0xffffffffu);
    }
    if (!ok) {
        x86_raise_exception(env, seg == R_SS ? EXCP_SS : EXCP_GP, 0);
    }
}

void helper_seg_check(CPUX86State *env, uint64_t off, uint64_t info)
{
    x86_seg_check(env, (int)(info & 7), (uint32_t)off, (uint32_t)(info >> 4), (info >> 3) & 1);
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
    bool a32 = (info >> 18) & 1, a16 = (info >> 19) & 1;
    int seg = (int)((info >> 20) & 7);
    bool legacy = (info >> 23) & 1, addseg = (info >> 24) & 1;
    uint64_t amask = a16 ? 0xffffull : a32 ? 0xffffffffull : ~0ull;
    int64_t step = (env->eflags & RFLAGS_DF) ? -bytes : bytes;
    uint64_t src_base, dst_base = 0;
    if (!legacy) {
        src_base = seg == R_FS ? env->fs_base : seg == R_GS ? env->gs_base : 0;
    } else {
        int sseg = seg == 7 ? R_DS : seg;
        bool implicit = sseg == R_DS || sseg == R_ES || sseg == R_SS;
        src_base = addseg || !implicit ? env->segs[sseg].base : 0;
        dst_base = addseg ? env->segs[R_ES].base : 0;
        a32 |= a16; /* the fast paths below are for 64-bit addressing only */
    }
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
    /*
     * System mode: forward REP MOVS/STOS a page at a time on host memory. Each chunk stops at the
     * first page end of either operand; a fault at a chunk start leaves RCX/RSI/RDI at the
     * progress so far (the instruction restarts there). MMIO, an element straddling a page and
     * overlapping forward copies fall through to the element loop below for that element.
     */
    if (env->softmmu && rep && step > 0 && !a32 && (kind == STR_MOVS || kind == STR_STOS)) {
        int mmu = x86_mmu_idx(env);
        while (*rcx) {
            uint64_t d = *rdi, s = src_base + *rsi;
            uint64_t cnt = (0x1000 - (d & 0xfff)) / (uint64_t)bytes;
            if (kind == STR_MOVS) {
                uint64_t cs = (0x1000 - (s & 0xfff)) / (uint64_t)bytes;
                cnt = cs < cnt ? cs : cnt;
            }
            cnt = *rcx < cnt ? *rcx : cnt;
            uint8_t *hd = cnt ? x86_host_rw(env, d, 1, mmu) : NULL;
            const uint8_t *hs = NULL;
            if (hd && kind == STR_MOVS) {
                hs = x86_host_r(env, s, mmu);
            }
            uint64_t nb = cnt * (uint64_t)bytes;
            if (!hd || (kind == STR_MOVS && (!hs || (hd > hs && hd < hs + nb)))) {
                /* one element the slow way */
                if (kind == STR_MOVS) {
                    mem_write(env, d, mem_read(env, s, bytes), bytes);
                    *rsi += (uint64_t)bytes;
                } else {
                    mem_write(env, d, env->regs[R_EAX], bytes);
                }
                *rdi += (uint64_t)bytes;
                *rcx -= 1;
                continue;
            }
            if (kind == STR_MOVS) {
                memmove(hd, hs, nb);
                *rsi += nb;
            } else if (bytes == 1) {
                memset(hd, (int)(env->regs[R_EAX] & 0xff), nb);
            } else {
                uint64_t v = env->regs[R_EAX];
                for (uint64_t k = 0; k < nb; k += (uint64_t)bytes) {
                    memcpy(hd + k, &v, (size_t)bytes);
                }
            }
            *rdi += nb;
            *rcx -= cnt;
        }
        return;
    }
    for (;;) {
        if (rep && (*rcx & amask) == 0) {
            break;
        }
        uint64_t si = *rsi & amask, di = *rdi & amask;
        uint64_t sa = src_base + si, da = dst_base + di;
        if (legacy) {
            sa = (uint32_t)sa;
            da = (uint32_t)da;
            if (env->softmmu) {
                /* segment limits and types, element by element (the progress so far stays) */
                if (kind == STR_MOVS || kind == STR_LODS || kind == STR_CMPS) {
                    x86_seg_check(env, seg == 7 ? R_DS : seg, (uint32_t)si, (uint32_t)bytes, false);
                }
                if (kind != STR_LODS) {
                    x86_seg_check(env, R_ES, (uint32_t)di, (uint32_t)bytes,
                                  kind == STR_MOVS || kind == STR_STOS);
                }
            }
        }
        switch (kind) {
        case STR_MOVS:
            mem_write(env, da, mem_read(env, sa, bytes), bytes);
            break;
        case STR_STOS:
            mem_write(env, da, env->regs[R_EAX], bytes);
            break;
        case STR_LODS:
            set_reg(env, R_EAX, size, mem_read(env, sa, bytes));
            break;
        case STR_CMPS:
            env->cc = cmp_flags(mem_read(env, sa, bytes), mem_read(env, da, bytes), size);
            break;
        case STR_SCAS:
            env->cc = cmp_flags(env->regs[R_EAX] & vmask, mem_read(env, da, bytes), size);
            break;
        }
        /* the index registers move within the address size (upper bits of SI/DI/CX stay) */
        if (kind == STR_MOVS || kind == STR_LODS || kind == STR_CMPS) {
            uint64_t v = si + (uint64_t)step;
            *rsi = a16 ? (*rsi & ~0xffffull) | (v & 0xffff) : a32 ? (uint32_t)v : v;
        }
        if (kind != STR_LODS) {
            uint64_t v = di + (uint64_t)step;
            *rdi = a16 ? (*rdi & ~0xffffull) | (v & 0xffff) : a32 ? (uint32_t)v : v;
        }
        if (!rep) {
            break;
        }
        uint64_t c = (*rcx & amask) - 1;
        *rcx = a16 ? (*rcx & ~0xffffull) | (c & 0xffff) : a32 ? (uint32_t)c : c;
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

/* ---- SSE/SSE2: moves, integer and bitwise operations on env->xmm (more to come) ---- */

typedef union {
    uint8_t b[16];
    int8_t sb[16];
    uint16_t w[8];
    int16_t sw[8];
    uint32_t d[4];
    int32_t sd[4];
    uint64_t q[2];
} Xmm;

static Xmm *xmm(CPUX86State *env, int r)
{
    return (Xmm *)(void *)env->xmm[r];
}

static void ld128(CPUX86State *env, uint64_t a, Xmm *v, bool aligned)
{
    if (aligned && (a & 15)) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    int mmu = x86_mmu_idx(env);
    v->q[0] = x86_ld(env, a, 8, mmu);
    v->q[1] = x86_ld(env, a + 8, 8, mmu);
}

static void st128(CPUX86State *env, uint64_t a, const Xmm *v, bool aligned)
{
    if (aligned && (a & 15)) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    int mmu = x86_mmu_idx(env);
    /* both pages checked for writing first, so a fault leaves memory untouched */
    x86_host_rw(env, a, 1, mmu);
    x86_host_rw(env, a + 15, 1, mmu);
    x86_st(env, a, v->q[0], 8, mmu);
    x86_st(env, a + 8, v->q[1], 8, mmu);
}

/* The slow paths of OP_vec's inline 16-byte accesses (a TLB miss, a page crossing, MMIO, or an
 * operand to check for alignment). */
X86Vec128 helper_vld_slow(CPUX86State *env, uint64_t va, uint64_t info)
{
    Xmm v;
    ld128(env, va, &v, info & 1);
    return (X86Vec128){v.q[0], v.q[1]};
}

void helper_vst_slow(CPUX86State *env, uint64_t va, uint64_t info)
{
    st128(env, va, xmm(env, (int)((info >> 4) & 15)), info & 1);
}

static uint8_t sat8u(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static uint16_t sat16u(int v)
{
    return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
}

static int8_t sat8s(int v)
{
    return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

static int16_t sat16s(int v)
{
    return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static void shift_bytes(Xmm *d, int n, bool left)
{
    Xmm r = {0};
    if (n > 16) {
        n = 16;
    }
    for (int i = 0; i < 16; i++) {
        int j = left ? i - n : i + n;
        r.b[i] = (j >= 0 && j < 16) ? d->b[j] : 0;
    }
    *d = r;
}

/* info: opcode | prefix (0 none, 1 66, 2 F3, 3 F2) << 8 | reg << 12 | rm << 16 | mem << 20 |
 * imm8 << 24 | REX.W << 32 */
void helper_sse(CPUX86State *env, uint64_t addr, uint64_t info)
{
    int opc = (int)(info & 0xff), pfx = (int)((info >> 8) & 3);
    int reg = (int)((info >> 12) & 15), rm = (int)((info >> 16) & 15);
    bool mem = (info >> 20) & 1, rexw = (info >> 32) & 1;
    unsigned imm = (unsigned)((info >> 24) & 0xff);
    int mmu = x86_mmu_idx(env);
    Xmm *d = xmm(env, reg), s;
#define SRC(aligned)                                                                               \
    do {                                                                                           \
        if (mem) {                                                                                 \
            ld128(env, addr, &s, aligned);                                                         \
        } else {                                                                                   \
            s = *xmm(env, rm);                                                                     \
        }                                                                                          \
    } while (0)
    switch (pfx << 8 | opc) {
    /* moves */
    case 0x010: /* movups */
    case 0x110: /* movupd */
    case 0x26f: /* movdqu */
        SRC(false);
        *d = s;
        return;
    case 0x028: /* movaps */
    case 0x128: /* movapd */
    case 0x16f: /* movdqa */
        SRC(true);
        *d = s;
        return;
    case 0x011:
    case 0x111:
    case 0x27f: /* stores, unaligned */
        if (mem) {
            st128(env, addr, d, false);
        } else {
            *xmm(env, rm) = *d;
        }
        return;
    case 0x029:
    case 0x129:
    case 0x17f:
    case 0x02b: /* movntps */
    case 0x12b: /* movntpd */
    case 0x1e7: /* movntdq */
        if (mem) {
            st128(env, addr, d, true);
        } else if (opc == 0x29 || opc == 0x7f) {
            *xmm(env, rm) = *d;
        } else {
            break;
        }
        return;
    case 0x210: /* movss */
        if (mem) {
            d->q[0] = (uint32_t)x86_ld(env, addr, 4, mmu);
            d->q[1] = 0;
        } else {
            d->d[0] = xmm(env, rm)->d[0];
        }
        return;
    case 0x310: /* movsd */
        if (mem) {
            d->q[0] = x86_ld(env, addr, 8, mmu);
            d->q[1] = 0;
        } else {
            d->q[0] = xmm(env, rm)->q[0];
        }
        return;
    case 0x211:
        if (mem) {
            x86_st(env, addr, d->d[0], 4, mmu);
        } else {
            xmm(env, rm)->d[0] = d->d[0];
        }
        return;
    case 0x311:
    case 0x1d6: /* movq xmm/m64, xmm */
        if (mem) {
            x86_st(env, addr, d->q[0], 8, mmu);
        } else if (opc == 0xd6) {
            xmm(env, rm)->q[0] = d->q[0];
            xmm(env, rm)->q[1] = 0;
        } else {
            xmm(env, rm)->q[0] = d->q[0];
        }
        return;
    case 0x27e: /* movq xmm, xmm/m64 */
        d->q[0] = mem ? x86_ld(env, addr, 8, mmu) : xmm(env, rm)->q[0];
        d->q[1] = 0;
        return;
    case 0x012: /* movlps / movhlps */
    case 0x112: /* movlpd */
        if (!mem && pfx == 0) {
            d->q[0] = xmm(env, rm)->q[1];
        } else if (mem) {
            d->q[0] = x86_ld(env, addr, 8, mmu);
        } else {
            break;
        }
        return;
    case 0x013:
    case 0x113:
        if (!mem) {
            break;
        }
        x86_st(env, addr, d->q[0], 8, mmu);
        return;
    case 0x016: /* movhps / movlhps */
    case 0x116: /* movhpd */
        if (!mem && pfx == 0) {
            d->q[1] = xmm(env, rm)->q[0];
        } else if (mem) {
            d->q[1] = x86_ld(env, addr, 8, mmu);
        } else {
            break;
        }
        return;
    case 0x017:
    case 0x117:
        if (!mem) {
            break;
        }
        x86_st(env, addr, d->q[1], 8, mmu);
        return;
    case 0x16e: { /* movd/movq xmm, r/m */
        uint64_t v;
        if (mem) {
            v = x86_ld(env, addr, rexw ? 8 : 4, mmu);
        } else {
            v = rexw ? env->regs[rm] : (uint32_t)env->regs[rm];
        }
        d->q[0] = v;
        d->q[1] = 0;
        return;
    }
    case 0x17e: { /* movd/movq r/m, xmm */
        uint64_t v = rexw ? d->q[0] : d->d[0];
        if (mem) {
            x86_st(env, addr, v, rexw ? 8 : 4, mmu);
        } else {
            env->regs[rm] = v;
        }
        return;
    }
    case 0x1d7: { /* pmovmskb r32, xmm */
        if (mem) {
            break;
        }
        Xmm *x = xmm(env, rm);
        uint32_t m = 0;
        for (int i = 0; i < 16; i++) {
            m |= (uint32_t)(x->b[i] >> 7) << i;
        }
        env->regs[reg] = m;
        return;
    }
    case 0x050:   /* movmskps */
    case 0x150: { /* movmskpd */
        if (mem) {
            break;
        }
        Xmm *x = xmm(env, rm);
        uint32_t m = 0;
        if (pfx == 0) {
            for (int i = 0; i < 4; i++) {
                m |= (x->d[i] >> 31) << i;
            }
        } else {
            m = (uint32_t)(x->q[0] >> 63) | (uint32_t)(x->q[1] >> 63) << 1;
        }
        env->regs[reg] = m;
        return;
    }
    /* bitwise */
    case 0x054:
    case 0x154:
    case 0x1db: /* and */
        SRC(true);
        d->q[0] &= s.q[0];
        d->q[1] &= s.q[1];
        return;
    case 0x055:
    case 0x155:
    case 0x1df: /* andn */
        SRC(true);
        d->q[0] = ~d->q[0] & s.q[0];
        d->q[1] = ~d->q[1] & s.q[1];
        return;
    case 0x056:
    case 0x156:
    case 0x1eb: /* or */
        SRC(true);
        d->q[0] |= s.q[0];
        d->q[1] |= s.q[1];
        return;
    case 0x057:
    case 0x157:
    case 0x1ef: /* xor */
        SRC(true);
        d->q[0] ^= s.q[0];
        d->q[1] ^= s.q[1];
        return;
    /* compares */
    case 0x174:
    case 0x175:
    case 0x176:
    case 0x164:
    case 0x165:
    case 0x166:
        SRC(true);
        for (int i = 0; i < 16; i++) {
            int sz = opc == 0x74 || opc == 0x64 ? 1 : opc == 0x75 || opc == 0x65 ? 2 : 4;
            if (i % sz) {
                continue;
            }
            bool r;
            if (opc >= 0x74) {
                r = memcmp(&d->b[i], &s.b[i], (size_t)sz) == 0;
            } else if (sz == 1) {
                r = d->sb[i] > s.sb[i];
            } else if (sz == 2) {
                r = d->sw[i / 2] > s.sw[i / 2];
            } else {
                r = d->sd[i / 4] > s.sd[i / 4];
            }
            memset(&d->b[i], r ? 0xff : 0, (size_t)sz);
        }
        return;
    /* arithmetic */
    case 0x1da: /* pminub */
    case 0x1de: /* pmaxub */
        SRC(true);
        for (int i = 0; i < 16; i++) {
            bool lt = s.b[i] < d->b[i];
            d->b[i] = (opc == 0xda) == lt ? s.b[i] : d->b[i];
        }
        return;
    case 0x1ea: /* pminsw */
    case 0x1ee: /* pmaxsw */
        SRC(true);
        for (int i = 0; i < 8; i++) {
            bool lt = s.sw[i] < d->sw[i];
            d->sw[i] = (opc == 0xea) == lt ? s.sw[i] : d->sw[i];
        }
        return;
    case 0x1f8:
    case 0x1f9:
    case 0x1fa:
    case 0x1fb:
    case 0x1fc:
    case 0x1fd:
    case 0x1fe:
    case 0x1d4: {
        SRC(true);
        bool sub = opc <= 0xfb;
        int sz = opc == 0xd4 || opc == 0xfb ? 8 : 1 << ((opc - (sub ? 0xf8 : 0xfc)) & 3);
        for (int i = 0; i < 16 / sz; i++) {
            uint64_t a = 0, b = 0;
            memcpy(&a, &d->b[i * sz], (size_t)sz);
            memcpy(&b, &s.b[i * sz], (size_t)sz);
            uint64_t r = sub ? a - b : a + b;
            memcpy(&d->b[i * sz], &r, (size_t)sz);
        }
        return;
    }
    case 0x1d8:
    case 0x1dc: /* psubusb, paddusb */
        SRC(true);
        for (int i = 0; i < 16; i++) {
            d->b[i] = sat8u(opc == 0xd8 ? d->b[i] - s.b[i] : d->b[i] + s.b[i]);
        }
        return;
    case 0x1d9:
    case 0x1dd: /* psubusw, paddusw */
        SRC(true);
        for (int i = 0; i < 8; i++) {
            d->w[i] = sat16u(opc == 0xd9 ? d->w[i] - s.w[i] : d->w[i] + s.w[i]);
        }
        return;
    case 0x1e8:
    case 0x1ec: /* psubsb, paddsb */
        SRC(true);
        for (int i = 0; i < 16; i++) {
            d->sb[i] = sat8s(opc == 0xe8 ? d->sb[i] - s.sb[i] : d->sb[i] + s.sb[i]);
        }
        return;
    case 0x1e9:
    case 0x1ed: /* psubsw, paddsw */
        SRC(true);
        for (int i = 0; i < 8; i++) {
            d->sw[i] = sat16s(opc == 0xe9 ? d->sw[i] - s.sw[i] : d->sw[i] + s.sw[i]);
        }
        return;
    case 0x1d5: /* pmullw */
        SRC(true);
        for (int i = 0; i < 8; i++) {
            d->w[i] = (uint16_t)(d->sw[i] * s.sw[i]);
        }
        return;
    case 0x1f4: /* pmuludq */
        SRC(true);
        d->q[0] = (uint64_t)d->d[0] * s.d[0];
        d->q[1] = (uint64_t)d->d[2] * s.d[2];
        return;
    case 0x1f6: { /* psadbw */
        SRC(true);
        for (int h = 0; h < 2; h++) {
            unsigned sum = 0;
            for (int i = 0; i < 8; i++) {
                int x = d->b[h * 8 + i] - s.b[h * 8 + i];
                sum += (unsigned)(x < 0 ? -x : x);
            }
            d->q[h] = sum;
        }
        return;
    }
    /* unpack and pack */
    case 0x160:
    case 0x161:
    case 0x162:
    case 0x16c:
    case 0x168:
    case 0x169:
    case 0x16a:
    case 0x16d: {
        SRC(true);
        bool high = opc >= 0x68 && opc != 0x6c;
        int sz = (opc & 0xf) == 0xc || (opc & 0xf) == 0xd ? 8 : 1 << (opc & 3);
        Xmm r;
        int base = high ? 8 : 0;
        for (int i = 0; i < 8 / sz; i++) {
            memcpy(&r.b[2 * i * sz], &d->b[base + i * sz], (size_t)sz);
            memcpy(&r.b[(2 * i + 1) * sz], &s.b[base + i * sz], (size_t)sz);
        }
        *d = r;
        return;
    }
    case 0x163:
    case 0x167:
    case 0x16b: { /* packsswb, packuswb, packssdw */
        SRC(true);
        Xmm r;
        if (opc == 0x6b) {
            for (int i = 0; i < 4; i++) {
                r.sw[i] = sat16s(d->sd[i]);
                r.sw[4 + i] = sat16s(s.sd[i]);
            }
        } else {
            for (int i = 0; i < 8; i++) {
                int a = d->sw[i], b = s.sw[i];
                r.b[i] = opc == 0x63 ? (uint8_t)sat8s(a) : sat8u(a);
                r.b[8 + i] = opc == 0x63 ? (uint8_t)sat8s(b) : sat8u(b);
            }
        }
        *d = r;
        return;
    }
    /* shuffles */
    case 0x170:   /* pshufd */
    case 0x270:   /* pshufhw */
    case 0x370: { /* pshuflw */
        SRC(true);
        Xmm r = s;
        if (pfx == 1) {
            for (int i = 0; i < 4; i++) {
                r.d[i] = s.d[(imm >> (2 * i)) & 3];
            }
        } else {
            int off = pfx == 2 ? 4 : 0;
            for (int i = 0; i < 4; i++) {
                r.w[off + i] = s.w[off + ((imm >> (2 * i)) & 3)];
            }
        }
        *d = r;
        return;
    }
    case 0x0c6: { /* shufps */
        SRC(true);
        Xmm r;
        r.d[0] = d->d[imm & 3];
        r.d[1] = d->d[(imm >> 2) & 3];
        r.d[2] = s.d[(imm >> 4) & 3];
        r.d[3] = s.d[(imm >> 6) & 3];
        *d = r;
        return;
    }
    case 0x1c6: { /* shufpd */
        SRC(true);
        Xmm r;
        r.q[0] = d->q[imm & 1];
        r.q[1] = s.q[(imm >> 1) & 1];
        *d = r;
        return;
    }
    case 0x014:   /* unpcklps */
    case 0x015: { /* unpckhps */
        SRC(true);
        Xmm r;
        int b0 = opc == 0x14 ? 0 : 2;
        r.d[0] = d->d[b0];
        r.d[1] = s.d[b0];
        r.d[2] = d->d[b0 + 1];
        r.d[3] = s.d[b0 + 1];
        *d = r;
        return;
    }
    case 0x114:   /* unpcklpd */
    case 0x115: { /* unpckhpd */
        SRC(true);
        int h = opc == 0x15;
        uint64_t a = d->q[h];
        d->q[1] = s.q[h];
        d->q[0] = a;
        return;
    }
    /* shifts by immediate: 0F 71/72/73 with the operation in reg (passed as the rm operand) */
    case 0x171:
    case 0x172:
    case 0x173: {
        if (mem) {
            break;
        }
        Xmm *x = xmm(env, rm);
        int op = reg & 7;
        int sz = opc == 0x71 ? 2 : opc == 0x72 ? 4 : 8;
        if (opc == 0x73 && (op == 3 || op == 7)) {
            shift_bytes(x, (int)imm, op == 7);
            return;
        }
        for (int i = 0; i < 16 / sz; i++) {
            uint64_t v = 0;
            memcpy(&v, &x->b[i * sz], (size_t)sz);
            int bits = sz * 8;
            if (op == 2) {
                v = imm >= (unsigned)bits ? 0 : v >> imm;
            } else if (op == 6) {
                v = imm >= (unsigned)bits ? 0 : v << imm;
            } else if (op == 4 && sz != 8) {
                int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);
                v = (uint64_t)(sv >> (imm >= (unsigned)bits ? bits - 1 : (int)imm));
            } else {
                x86_raise_exception(env, EXCP_UD, 0);
            }
            memcpy(&x->b[i * sz], &v, (size_t)sz);
        }
        return;
    }
    /* shifts by xmm/m128 count */
    case 0x1d1:
    case 0x1d2:
    case 0x1d3:
    case 0x1e1:
    case 0x1e2:
    case 0x1f1:
    case 0x1f2:
    case 0x1f3: {
        SRC(true);
        uint64_t cnt = s.q[0];
        int sz = 2 << ((opc & 3) - 1);
        int kind = opc >= 0xf0 ? 6 : opc >= 0xe0 ? 4 : 2;
        int bits = sz * 8;
        for (int i = 0; i < 16 / sz; i++) {
            uint64_t v = 0;
            memcpy(&v, &d->b[i * sz], (size_t)sz);
            if (kind == 2) {
                v = cnt >= (uint64_t)bits ? 0 : v >> cnt;
            } else if (kind == 6) {
                v = cnt >= (uint64_t)bits ? 0 : v << cnt;
            } else {
                int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);
                v = (uint64_t)(sv >> (cnt >= (uint64_t)bits ? bits - 1 : (int)cnt));
            }
            memcpy(&d->b[i * sz], &v, (size_t)sz);
        }
        return;
    }
    default:
        break; /* the floating-point forms are helper_simd's (simd_helper.c) */
    }
#undef SRC
    x86_raise_exception(env, EXCP_UD, 0);
}

/* CMPXCHG8B m64: EDX:EAX against memory; equal: store ECX:EBX, ZF=1; else load, ZF=0. Atomic on
 * the host in system mode. */
void helper_cmpxchg8b(CPUX86State *env, uint64_t addr)
{
    int mmu = x86_mmu_idx(env);
    uint64_t want = (uint32_t)env->regs[R_EAX] | (env->regs[R_EDX] << 32);
    uint64_t nv = (uint32_t)env->regs[R_EBX] | (env->regs[R_ECX] << 32);
    uint64_t old;
    void *p = env->softmmu ? x86_host_rw(env, addr, 8, mmu) : NULL;
    bool eq;
    if (p) {
        old = want;
        eq = __atomic_compare_exchange_n((uint64_t *)p, &old, nv, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
    } else {
        old = x86_ld(env, addr, 8, mmu);
        eq = old == want;
        /* the destination is written either way, as on hardware */
        x86_st(env, addr, eq ? nv : old, 8, mmu);
    }
    if (eq) {
        env->cc |= CC_Z;
    } else {
        env->cc &= ~(uint64_t)CC_Z;
        env->regs[R_EAX] = (uint32_t)old;
        env->regs[R_EDX] = old >> 32;
    }
}

/* CMPXCHG16B m128: RDX:RAX against memory (16-byte aligned, else #GP); equal: store RCX:RBX. */
void helper_cmpxchg16b(CPUX86State *env, uint64_t addr)
{
    int mmu = x86_mmu_idx(env);
    if (addr & 15) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    unsigned __int128 want = (unsigned __int128)env->regs[R_EDX] << 64 | env->regs[R_EAX];
    unsigned __int128 nv = (unsigned __int128)env->regs[R_ECX] << 64 | env->regs[R_EBX];
    unsigned __int128 old;
    void *p = env->softmmu ? x86_host_rw(env, addr, 16, mmu) : NULL;
    bool eq;
    if (p) {
        /* a host lock cmpxchg16b: atomic against the other vCPUs */
        uint64_t lo = (uint64_t)want, hi = (uint64_t)(want >> 64);
        uint8_t z;
        __asm__ volatile("lock cmpxchg16b %[m]\n\tsete %[z]"
                         : [m] "+m"(*(unsigned __int128 *)p), "+a"(lo), "+d"(hi), [z] "=q"(z)
                         : "b"((uint64_t)nv), "c"((uint64_t)(nv >> 64))
                         : "cc", "memory");
        eq = z;
        old = (unsigned __int128)hi << 64 | lo;
    } else {
        old = (unsigned __int128)x86_ld(env, addr + 8, 8, mmu) << 64 | x86_ld(env, addr, 8, mmu);
        eq = old == want;
        unsigned __int128 w = eq ? nv : old;
        x86_st(env, addr, (uint64_t)w, 8, mmu);
        x86_st(env, addr + 8, (uint64_t)(w >> 64), 8, mmu);
    }
    if (eq) {
        env->cc |= CC_Z;
    } else {
        env->cc &= ~(uint64_t)CC_Z;
        env->regs[R_EAX] = (uint64_t)old;
        env->regs[R_EDX] = (uint64_t)(old >> 64);
    }
}

/* BOUND r, m: #BR unless lower <= idx <= upper (signed, operand size) */
void helper_bound(CPUX86State *env, uint64_t addr, uint64_t idx, uint64_t size_bits)
{
    int mmu = x86_mmu_idx(env);
    int64_t lo, hi, i;
    if (size_bits == 16) {
        lo = (int16_t)x86_ld(env, addr, 2, mmu);
        hi = (int16_t)x86_ld(env, (uint32_t)(addr + 2), 2, mmu);
        i = (int16_t)idx;
    } else {
        lo = (int32_t)x86_ld(env, addr, 4, mmu);
        hi = (int32_t)x86_ld(env, (uint32_t)(addr + 4), 4, mmu);
        i = (int32_t)idx;
    }
    if (i < lo || i > hi) {
        x86_raise_exception(env, EXCP_BR, 0);
    }
}

/* PF of the low byte */
static uint64_t parity_flag(uint8_t v)
{
    return __builtin_parity(v) ? 0 : CC_P;
}

/*
 * DAA/DAS/AAA/AAS (info = opcode), AAM/AAD (info = opcode | imm8 << 8): the Intel SDM's
 * algorithms, flags included (the ones it leaves undefined follow what current CPUs do for
 * AAA/AAS: only AF and CF; SF/ZF/PF from the result for the others).
 */
void helper_bcd(CPUX86State *env, uint64_t info)
{
    int op = (int)(info & 0xff);
    uint8_t imm = (uint8_t)(info >> 8);
    uint64_t ax = env->regs[R_EAX];
    uint8_t al = (uint8_t)ax, ah = (uint8_t)(ax >> 8);
    uint64_t cc = env->cc & CC_MASK;
    bool cf = cc & CC_C, af = cc & CC_A;
    uint64_t nf = 0;
    switch (op) {
    case 0x27:   /* daa */
    case 0x2f: { /* das */
        uint8_t old_al = al;
        bool new_cf = false;
        if ((al & 0xf) > 9 || af) {
            if (op == 0x27) {
                new_cf = cf || al > 0xf9;
                al = (uint8_t)(al + 6);
            } else {
                new_cf = cf || al < 6;
                al = (uint8_t)(al - 6);
            }
            nf |= CC_A;
        }
        if (old_al > 0x99 || cf) {
            al = op == 0x27 ? (uint8_t)(al + 0x60) : (uint8_t)(al - 0x60);
            new_cf = true;
        }
        nf |= new_cf ? CC_C : 0;
        /* OF is undefined: a CPU computes it from the adjusting add/sub; 0 is what QEMU does */
        nf |= (al & 0x80 ? CC_S : 0) | (al == 0 ? CC_Z : 0) | parity_flag(al);
        env->regs[R_EAX] = (ax & ~0xffull) | al;
        break;
    }
    case 0x37:   /* aaa */
    case 0x3f: { /* aas */
        uint16_t v = (uint16_t)ax;
        if ((al & 0xf) > 9 || af) {
            v = op == 0x37 ? (uint16_t)(v + 0x106) : (uint16_t)(v - 6);
            if (op == 0x3f) {
                v = (uint16_t)((((v >> 8) - 1) << 8) | (v & 0xff));
            }
            nf |= CC_A | CC_C;
        }
        v &= 0xff0f;
        env->regs[R_EAX] = (ax & ~0xffffull) | v;
        nf |= cc & (CC_S | CC_Z | CC_P | CC_O);
        break;
    }
    case 0xd4: /* aam */
        if (imm == 0) {
            x86_raise_exception(env, EXCP_DE, 0);
        }
        ah = al / imm;
        al = al % imm;
        env->regs[R_EAX] = (ax & ~0xffffull) | (uint64_t)ah << 8 | al;
        nf |= (al & 0x80 ? CC_S : 0) | (al == 0 ? CC_Z : 0) | parity_flag(al);
        break;
    case 0xd5: /* aad */
        al = (uint8_t)(al + ah * imm);
        env->regs[R_EAX] = (ax & ~0xffffull) | al;
        nf |= (al & 0x80 ? CC_S : 0) | (al == 0 ? CC_Z : 0) | parity_flag(al);
        break;
    }
    env->cc = nf | RFLAGS_FIXED;
}

/* ENTER frame, level (info = push size bits | level << 8 | frame << 16), any stack width */
void helper_enter(CPUX86State *env, uint64_t info)
{
    int size = (int)(info & 0xff), bytes = size / 8;
    int level = (int)(info >> 8) & 31;
    uint64_t frame = info >> 16;
    bool lm64 = !env->softmmu || ((env->efer & EFER_LMA) && (env->segs[R_CS].flags & DESC_L));
    uint64_t mask = lm64 ? ~0ull : (env->segs[R_SS].flags & DESC_B) ? 0xffffffffull : 0xffffull;
    uint64_t base = lm64 ? 0 : env->segs[R_SS].base;
    int mmu = x86_mmu_idx(env);
#define LIN(off) (lm64 ? (off) : (uint32_t)(base + ((off)&mask)))
    uint64_t sp = env->regs[R_ESP], bp = env->regs[R_EBP];
    sp -= (uint64_t)bytes;
    x86_st(env, LIN(sp), bp, bytes, mmu);
    uint64_t frame_temp = sp & mask;
    for (int i = 1; i < level; i++) {
        bp -= (uint64_t)bytes;
        uint64_t v = x86_ld(env, LIN(bp), bytes, mmu);
        sp -= (uint64_t)bytes;
        x86_st(env, LIN(sp), v, bytes, mmu);
    }
    if (level > 0) {
        sp -= (uint64_t)bytes;
        x86_st(env, LIN(sp), frame_temp, bytes, mmu);
    }
    sp -= frame;
#undef LIN
    if (size == 16) {
        env->regs[R_EBP] = (env->regs[R_EBP] & ~0xffffull) | (frame_temp & 0xffff);
    } else {
        env->regs[R_EBP] = size == 32 ? (uint32_t)frame_temp : frame_temp;
    }
    env->regs[R_ESP] = (env->regs[R_ESP] & ~mask) | (sp & mask);
}
