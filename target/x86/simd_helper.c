/*
 * MMX, the SSE/SSE2 floating-point and remaining forms, SSE3, SSSE3, SSE4.1 and SSE4.2.
 *
 * Like the x87 (fpu_helper.c), these run on the host's own vector unit: guest and host are the
 * same architecture, so the helper loads the guest's operands into fixed host registers, calls a
 * stub that is the guest instruction re-encoded on those registers (reg field: xmm2 / mm2 / rdx;
 * r/m field: xmm1 / mm1 / rcx, or [rdi] pointing at a buffer filled from guest memory), with the
 * guest's MXCSR (every exception masked) in the host's MXCSR, and copies the results back. The
 * stubs are made on first use in a small executable arena and found again through a lock-free
 * hash table. Results, NaN propagation, rounding modes, DAZ/FTZ and MXCSR exception flags are
 * the host's, bit for bit.
 *
 * MXCSR: the flags an instruction raises are ORed into the guest's MXCSR; if one is unmasked,
 * nothing is written and the instruction raises #XM (CR4.OSXMMEXCPT) or #UD, as hardware does.
 *
 * The plain SSE/SSE2 moves, bitwise and integer forms stay in helper_sse (helper.c).
 */
#include <cpuid.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "vireo/tcg.h"
#include "vireo/x86-cpu.h"
#include "x86-helper.h"

#define CR4_OSXMMEXCPT_BIT (1u << 10)

/* operand kinds */
enum { K_NONE, K_X, K_M, K_G };

/* flags */
enum {
    F_IMM = 1 << 0,      /* imm8 follows */
    F_ALIGN = 1 << 1,    /* a 16-byte memory operand must be aligned */
    F_WREG = 1 << 2,     /* the reg operand is written */
    F_WRM = 1 << 3,      /* the r/m operand is written */
    F_FLAGS = 1 << 4,    /* writes the arithmetic flags */
    F_MX = 1 << 5,       /* floating point: MXCSR exceptions */
    F_X0 = 1 << 6,       /* reads xmm0 */
    F_STRI = 1 << 7,     /* writes ecx */
    F_STRM = 1 << 8,     /* writes xmm0 */
    F_AXDX = 1 << 9,     /* reads eax, edx */
    F_NOMEM = 1 << 10,   /* register form only */
    F_MEMONLY = 1 << 11, /* memory form only */
    F_NORDRM = 1 << 12,  /* the r/m operand is not read */
    F_RM8 = 1 << 13,     /* 8-bit r/m register (AH..BH without REX) */
    F_SHIFT = 1 << 14,   /* 0F 71-73: the reg field is an opcode extension */
    F_IMPL = 1 << 15,    /* MASKMOV: msize bytes at DS:rDI (the translator passes the address) */
};

typedef struct SimdOp {
    uint8_t reg, rm, msize;
    uint32_t fl;
} SimdOp;

/*
 * What the CPU model offers beyond SSE3 (target/x86/cpu-models.c). POPCNT and LZCNT are C
 * (bmi_helper.c); SSSE3, SSE4.1 and SSE4.2 run as the host's own instructions, so on a host
 * without them (x86-64 CPUs before 2008-2011) the model loses them with QEMU's warning.
 */
enum { H_SSSE3 = 1, H_SSE41 = 2, H_SSE42 = 4, H_POPCNT = 8, H_LZCNT = 16 };

const uint32_t *x86_env_features(const CPUX86State *env)
{
    const X86CPUDef *d = env->cpu_def ? env->cpu_def : x86_cpu_def_builtin(env->cpuid_max_model);
    return d->features;
}

static unsigned guest_features(const CPUX86State *env)
{
    const uint32_t *f = x86_env_features(env);
    uint32_t c = f[FW_1_ECX];
    return (c & (1u << 9) ? H_SSSE3 : 0) | (c & (1u << 19) ? H_SSE41 : 0) |
           (c & (1u << 20) ? H_SSE42 : 0) | (c & (1u << 23) ? H_POPCNT : 0) |
           (f[FW_8000_0001_ECX] & (1u << 5) ? H_LZCNT : 0);
}

bool x86_has_lzcnt(const CPUX86State *env)
{
    return guest_features(env) & H_LZCNT;
}

bool x86_has_popcnt(const CPUX86State *env)
{
    return guest_features(env) & H_POPCNT;
}

static SimdOp op(int reg, int rm, int msize, uint32_t fl)
{
    return (SimdOp){(uint8_t)reg, (uint8_t)rm, (uint8_t)msize, fl};
}

/*
 * The instruction forms handled here. map 0: 0F xx, 1: 0F 38 xx, 2: 0F 3A xx; pfx 0 none, 1 66,
 * 2 F3, 3 F2. Returns 0 (found), -1 (helper_sse's), -2 (#UD).
 */
static int lookup(const CPUX86State *env, unsigned map, unsigned opc, unsigned pfx, bool rexw,
                  bool p66, SimdOp *o)
{
    unsigned f = guest_features(env);
    int gsz = rexw ? 8 : 4;
    const uint32_t W = F_WREG, A = F_ALIGN, MX = F_MX;
    if (map == 0) {
        if (pfx == 0) {
            switch (opc) {
            case 0x2a: /* cvtpi2ps */
                *o = op(K_X, K_M, 8, W | MX);
                return 0;
            case 0x2c:
            case 0x2d: /* cvt(t)ps2pi */
                *o = op(K_M, K_X, 8, W | MX);
                return 0;
            case 0x2e:
            case 0x2f: /* (u)comiss */
                *o = op(K_X, K_X, 4, F_FLAGS | MX);
                return 0;
            case 0x51:
            case 0x52:
            case 0x53:
            case 0x58:
            case 0x59:
            case 0x5b:
            case 0x5c ... 0x5f:
                *o = op(K_X, K_X, 16, W | A | MX);
                return 0;
            case 0x5a: /* cvtps2pd */
                *o = op(K_X, K_X, 8, W | MX);
                return 0;
            case 0xc2:
                *o = op(K_X, K_X, 16, W | A | MX | F_IMM);
                return 0;
            case 0xc3: /* movnti */
                *o = op(K_G, K_G, gsz, F_WRM | F_NORDRM | F_MEMONLY);
                return 0;
            /* MMX */
            case 0x60:
            case 0x61:
            case 0x62:
                *o = op(K_M, K_M, 4, W);
                return 0;
            case 0x63 ... 0x6b:
            case 0x6f:
            case 0x74:
            case 0x75:
            case 0x76:
            case 0xd1 ... 0xd5:
            case 0xd8 ... 0xdf:
            case 0xe0 ... 0xe5:
            case 0xe8 ... 0xef:
            case 0xf1 ... 0xf6:
            case 0xf8 ... 0xfe:
                *o = op(K_M, K_M, 8, W);
                return 0;
            case 0x6e: /* movd/movq mm, r/m */
                *o = op(K_M, K_G, gsz, W);
                return 0;
            case 0x7e: /* movd/movq r/m, mm */
                *o = op(K_M, K_G, gsz, F_WRM | F_NORDRM);
                return 0;
            case 0x7f: /* movq mm/m64, mm */
            case 0xe7: /* movntq */
                *o = op(K_M, K_M, 8, F_WRM | F_NORDRM | (opc == 0xe7 ? F_MEMONLY : 0));
                return 0;
            case 0x70: /* pshufw */
                *o = op(K_M, K_M, 8, W | F_IMM);
                return 0;
            case 0x71:
            case 0x72:
            case 0x73:
                *o = op(K_NONE, K_M, 0, F_WRM | F_IMM | F_NOMEM | F_SHIFT);
                return 0;
            case 0xc4: /* pinsrw mm, r32/m16 */
                *o = op(K_M, K_G, 2, W | F_IMM);
                return 0;
            case 0xf7: /* maskmovq */
                *o = op(K_M, K_M, 8, F_NOMEM | F_IMPL);
                return 0;
            case 0xc5: /* pextrw r32, mm */
            case 0xd7: /* pmovmskb r32, mm */
                *o = op(K_G, K_M, 0, W | F_NOMEM | (opc == 0xc5 ? F_IMM : 0));
                return 0;
            }
            return -1;
        }
        if (pfx == 1) {
            switch (opc) {
            case 0x2a: /* cvtpi2pd */
                *o = op(K_X, K_M, 8, W | MX);
                return 0;
            case 0x2c:
            case 0x2d: /* cvt(t)pd2pi */
                *o = op(K_M, K_X, 16, W | A | MX);
                return 0;
            case 0x2e:
            case 0x2f:
                *o = op(K_X, K_X, 8, F_FLAGS | MX);
                return 0;
            case 0x51:
            case 0x58:
            case 0x59:
            case 0x5a:
            case 0x5b:
            case 0x5c ... 0x5f:
            case 0x7c:
            case 0x7d:
            case 0xd0:
            case 0xe6:
                *o = op(K_X, K_X, 16, W | A | MX);
                return 0;
            case 0xc2:
                *o = op(K_X, K_X, 16, W | A | MX | F_IMM);
                return 0;
            case 0xc4:
                *o = op(K_X, K_G, 2, W | F_IMM);
                return 0;
            case 0xc5:
                *o = op(K_G, K_X, 0, W | F_NOMEM | F_IMM);
                return 0;
            case 0xe0:
            case 0xe3:
            case 0xe4:
            case 0xe5:
            case 0xf5:
                *o = op(K_X, K_X, 16, W | A);
                return 0;
            case 0xf7: /* maskmovdqu */
                *o = op(K_X, K_X, 16, F_NOMEM | F_IMPL);
                return 0;
            }
            return -1;
        }
        if (pfx == 2) {
            switch (opc) {
            case 0x2a:
                *o = op(K_X, K_G, gsz, W | MX);
                return 0;
            case 0x2c:
            case 0x2d:
                *o = op(K_G, K_X, 4, W | MX);
                return 0;
            case 0x51:
            case 0x52:
            case 0x53:
            case 0x58:
            case 0x59:
            case 0x5a:
            case 0x5c ... 0x5f:
                *o = op(K_X, K_X, 4, W | MX);
                return 0;
            case 0x5b:
                *o = op(K_X, K_X, 16, W | A | MX);
                return 0;
            case 0xc2:
                *o = op(K_X, K_X, 4, W | MX | F_IMM);
                return 0;
            case 0x12:
            case 0x16: /* movsldup, movshdup */
                *o = op(K_X, K_X, 16, W | A);
                return 0;
            case 0xe6: /* cvtdq2pd */
                *o = op(K_X, K_X, 8, W);
                return 0;
            case 0xd6: /* movq2dq */
                *o = op(K_X, K_M, 0, W | F_NOMEM);
                return 0;
            }
            return -1;
        }
        switch (opc) { /* F2 */
        case 0x2a:
            *o = op(K_X, K_G, gsz, W | MX);
            return 0;
        case 0x2c:
        case 0x2d:
            *o = op(K_G, K_X, 8, W | MX);
            return 0;
        case 0x51:
        case 0x58:
        case 0x59:
        case 0x5a:
        case 0x5c ... 0x5f:
            *o = op(K_X, K_X, 8, W | MX);
            return 0;
        case 0xc2:
            *o = op(K_X, K_X, 8, W | MX | F_IMM);
            return 0;
        case 0x12: /* movddup */
            *o = op(K_X, K_X, 8, W);
            return 0;
        case 0x7c:
        case 0x7d:
        case 0xd0:
        case 0xe6:
            *o = op(K_X, K_X, 16, W | A | MX);
            return 0;
        case 0xf0: /* lddqu */
            *o = op(K_X, K_X, 16, W | F_MEMONLY);
            return 0;
        case 0xd6: /* movdq2q */
            *o = op(K_M, K_X, 0, W | F_NOMEM);
            return 0;
        }
        return -1;
    }
    if (map == 1) {
        bool ssse3 = opc <= 0x0b || (opc >= 0x1c && opc <= 0x1e);
        if (ssse3 && pfx <= 1) {
            if (!(f & H_SSSE3)) {
                return -2;
            }
            *o = pfx == 0 ? op(K_M, K_M, 8, W) : op(K_X, K_X, 16, W | A);
            return 0;
        }
        if (pfx == 3 && (opc == 0xf0 || opc == 0xf1)) { /* crc32 */
            if (!(f & H_SSE42)) {
                return -2;
            }
            int sz = opc == 0xf0 ? 1 : rexw ? 8 : p66 ? 2 : 4;
            *o = op(K_G, K_G, sz, W | (opc == 0xf0 ? F_RM8 : 0));
            return 0;
        }
        if (pfx != 1 || !(f & H_SSE41)) {
            return -2;
        }
        switch (opc) {
        case 0x10:
        case 0x14:
        case 0x15: /* blendv: xmm0 is the mask */
            *o = op(K_X, K_X, 16, W | A | F_X0);
            return 0;
        case 0x17: /* ptest */
            *o = op(K_X, K_X, 16, A | F_FLAGS);
            return 0;
        case 0x20:
        case 0x23:
        case 0x25:
        case 0x30:
        case 0x33:
        case 0x35:
            *o = op(K_X, K_X, 8, W);
            return 0;
        case 0x21:
        case 0x24:
        case 0x31:
        case 0x34:
            *o = op(K_X, K_X, 4, W);
            return 0;
        case 0x22:
        case 0x32:
            *o = op(K_X, K_X, 2, W);
            return 0;
        case 0x2a: /* movntdqa */
            *o = op(K_X, K_X, 16, W | A | F_MEMONLY);
            return 0;
        case 0x37: /* pcmpgtq */
            if (!(f & H_SSE42)) {
                return -2;
            }
            *o = op(K_X, K_X, 16, W | A);
            return 0;
        case 0x28:
        case 0x29:
        case 0x2b:
        case 0x38 ... 0x41:
            *o = op(K_X, K_X, 16, W | A);
            return 0;
        }
        return -2;
    }
    /* map 2: 0F 3A */
    if (opc == 0x0f && pfx <= 1) { /* palignr */
        if (!(f & H_SSSE3)) {
            return -2;
        }
        *o = pfx == 0 ? op(K_M, K_M, 8, W | F_IMM) : op(K_X, K_X, 16, W | A | F_IMM);
        return 0;
    }
    if (pfx != 1 || !(f & H_SSE41)) {
        return -2;
    }
    switch (opc) {
    case 0x08:
    case 0x09:
        *o = op(K_X, K_X, 16, W | A | MX | F_IMM);
        return 0;
    case 0x0a:
        *o = op(K_X, K_X, 4, W | MX | F_IMM);
        return 0;
    case 0x0b:
        *o = op(K_X, K_X, 8, W | MX | F_IMM);
        return 0;
    case 0x0c:
    case 0x0d:
    case 0x0e:
    case 0x42:
        *o = op(K_X, K_X, 16, W | A | F_IMM);
        return 0;
    case 0x40:
    case 0x41:
        *o = op(K_X, K_X, 16, W | A | MX | F_IMM);
        return 0;
    case 0x14: /* pextrb/w/d/q, extractps: reg is the source, r/m the destination */
    case 0x15:
    case 0x16:
    case 0x17: {
        int sz = opc == 0x14 ? 1 : opc == 0x15 ? 2 : opc == 0x16 && rexw ? 8 : 4;
        *o = op(K_X, K_G, sz, F_WRM | F_NORDRM | F_IMM);
        return 0;
    }
    case 0x20: /* pinsrb */
        *o = op(K_X, K_G, 1, W | F_IMM);
        return 0;
    case 0x21: /* insertps */
        *o = op(K_X, K_X, 4, W | F_IMM);
        return 0;
    case 0x22: /* pinsrd/q */
        *o = op(K_X, K_G, gsz, W | F_IMM);
        return 0;
    case 0x60:
    case 0x61:
    case 0x62:
    case 0x63: /* pcmp[ei]str[mi] */
        if (!(f & H_SSE42)) {
            return -2;
        }
        *o = op(K_X, K_X, 16,
                F_IMM | F_FLAGS | (opc & 1 ? F_STRI : F_STRM) | (opc < 0x62 ? F_AXDX : 0));
        return 0;
    }
    return -2;
}

bool x86_simd_has_imm(const CPUX86State *env, unsigned map, unsigned opc, unsigned pfx, bool rexw,
                      bool p66)
{
    SimdOp o;
    return lookup(env, map, opc, pfx, rexw, p66, &o) == 0 && (o.fl & F_IMM);
}

int x86_simd_call_flags(const CPUX86State *env, unsigned map, unsigned opc, unsigned pfx, bool rexw,
                        bool p66, bool mem)
{
    SimdOp o;
    int r = lookup(env, map, opc, pfx, rexw, p66, &o);
    if (r < 0) {
        return r;
    }
    if ((mem && (o.fl & F_NOMEM)) || (!mem && (o.fl & F_MEMONLY))) {
        return -2;
    }
    int fl = CALL_MAY_FAULT;
    if (o.reg == K_G || (o.rm == K_G && !mem) || (o.fl & (F_STRI | F_AXDX))) {
        fl |= CALL_RW_GLOBALS;
    }
    if (o.fl & F_FLAGS) {
        fl |= CALL_RW_FLAGS;
    }
    return fl;
}

/* ---- stubs ---- */

/* room for every valid form with every imm8 (about 25 000 stubs at most) */
#define STUB_ARENA_SIZE (1u << 20)
#define STUB_TAB_SIZE   65536
static uint8_t *stub_arena;
static size_t stub_used;
static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t key;
    const void *fn;
} stub_tab[STUB_TAB_SIZE];

static const void *make_stub(uint64_t key, const uint8_t *code, int n)
{
    unsigned h = (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 51) & (STUB_TAB_SIZE - 1);
    for (unsigned i = 0; i < STUB_TAB_SIZE; i++) {
        unsigned k = (h + i) & (STUB_TAB_SIZE - 1);
        uint64_t got = __atomic_load_n(&stub_tab[k].key, __ATOMIC_ACQUIRE);
        if (got == key) {
            return stub_tab[k].fn;
        }
        if (got == 0) {
            break;
        }
    }
    pthread_mutex_lock(&stub_lock);
    const void *fn = NULL;
    if (!stub_arena) {
        void *p = mmap(NULL, STUB_ARENA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("simd: mmap stub arena");
            abort();
        }
        stub_arena = p;
    }
    for (unsigned i = 0; i < STUB_TAB_SIZE; i++) {
        unsigned k = (h + i) & (STUB_TAB_SIZE - 1);
        if (stub_tab[k].key == key) {
            fn = stub_tab[k].fn;
            break;
        }
        if (stub_tab[k].key == 0) {
            if (stub_used + 16 > STUB_ARENA_SIZE) {
                break;
            }
            uint8_t *p = stub_arena + stub_used;
            memcpy(p, code, (size_t)n);
            stub_used += 16;
            stub_tab[k].fn = p;
            __atomic_store_n(&stub_tab[k].key, key, __ATOMIC_RELEASE);
            fn = p;
            break;
        }
    }
    pthread_mutex_unlock(&stub_lock);
    if (!fn) {
        fprintf(stderr, "simd: stub table full\n");
        abort();
    }
    return fn;
}

typedef union {
    uint8_t b[16];
    uint64_t q[2];
} V128;

typedef struct HostIO {
    V128 x[3];
    uint64_t m[3];
    uint64_t rax, rcx, rdx, flags;
} HostIO;

/*
 * Run a stub on the host registers in h. The host's MXCSR is whatever the caller set; only the
 * forms that write the flags read them back.
 */
static void host_run(const void *fn, HostIO *h, uint8_t *mem, bool mmx, bool flags)
{
    uint64_t a = h->rax, c = h->rcx, d = h->rdx, fl = 0;
    if (mmx) {
        __asm__ volatile("movdqu %[x0], %%xmm0\n\t"
                         "movdqu %[x1], %%xmm1\n\t"
                         "movdqu %[x2], %%xmm2\n\t"
                         "movq %[m1], %%mm1\n\t"
                         "movq %[m2], %%mm2\n\t"
                         "lea -128(%%rsp), %%rsp\n\t" /* keep the red zone */
                         "call *%[fn]\n\t"
                         "pushfq\n\t"
                         "pop %[fl]\n\t"
                         "lea 128(%%rsp), %%rsp\n\t"
                         "movdqu %%xmm0, %[x0]\n\t"
                         "movdqu %%xmm1, %[x1]\n\t"
                         "movdqu %%xmm2, %[x2]\n\t"
                         "movq %%mm1, %[m1]\n\t"
                         "movq %%mm2, %[m2]\n\t"
                         "emms\n\t"
                         : [x0] "+m"(h->x[0]), [x1] "+m"(h->x[1]), [x2] "+m"(h->x[2]),
                           [m1] "+m"(h->m[1]), [m2] "+m"(h->m[2]), [fl] "+r"(fl), "+a"(a), "+c"(c),
                           "+d"(d)
                         : [fn] "r"(fn), "D"(mem)
                         : "xmm0", "xmm1", "xmm2", "memory", "cc");
    } else if (flags) {
        __asm__ volatile(
            "movdqu %[x0], %%xmm0\n\t"
            "movdqu %[x1], %%xmm1\n\t"
            "movdqu %[x2], %%xmm2\n\t"
            "lea -128(%%rsp), %%rsp\n\t"
            "call *%[fn]\n\t"
            "pushfq\n\t"
            "pop %[fl]\n\t"
            "lea 128(%%rsp), %%rsp\n\t"
            "movdqu %%xmm0, %[x0]\n\t"
            "movdqu %%xmm2, %[x2]\n\t"
            : [x0] "+m"(h->x[0]), [x1] "+m"(h->x[1]), [x2] "+m"(h->x[2]), [fl] "+r"(fl), "+a"(a),
              "+c"(c), "+d"(d)
            : [fn] "r"(fn), "D"(mem)
            : "xmm0", "xmm1", "xmm2", "memory", "cc");
    } else {
        __asm__ volatile("movdqu %[x0], %%xmm0\n\t"
                         "movdqu %[x1], %%xmm1\n\t"
                         "movdqu %[x2], %%xmm2\n\t"
                         "lea -128(%%rsp), %%rsp\n\t"
                         "call *%[fn]\n\t"
                         "lea 128(%%rsp), %%rsp\n\t"
                         "movdqu %%xmm0, %[x0]\n\t"
                         "movdqu %%xmm1, %[x1]\n\t"
                         "movdqu %%xmm2, %[x2]\n\t"
                         : [x0] "+m"(h->x[0]), [x1] "+m"(h->x[1]), [x2] "+m"(h->x[2]), "+a"(a),
                           "+c"(c), "+d"(d)
                         : [fn] "r"(fn), "D"(mem)
                         : "xmm0", "xmm1", "xmm2", "memory", "cc");
    }
    h->rax = a;
    h->rcx = c;
    h->rdx = d;
    h->flags = fl;
}

static uint32_t get_mxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static void set_mxcsr(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static uint64_t mm_get(const CPUX86State *env, int r)
{
    uint64_t v;
    memcpy(&v, env->fpregs[r & 7], 8);
    return v;
}

static void mm_set(CPUX86State *env, int r, uint64_t v)
{
    memcpy(env->fpregs[r & 7], &v, 8);
    env->fpregs[r & 7][8] = 0xff;
    env->fpregs[r & 7][9] = 0xff;
}

static void mem_rd(CPUX86State *env, uint64_t a, uint8_t *buf, int n)
{
    int mmu = x86_mmu_idx(env);
    for (int i = 0; i < n;) {
        int k = n - i >= 8 ? 8 : n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint64_t v = x86_ld(env, a + (uint64_t)i, k, mmu);
        memcpy(buf + i, &v, (size_t)k);
        i += k;
    }
}

static void mem_wr(CPUX86State *env, uint64_t a, const uint8_t *buf, int n)
{
    int mmu = x86_mmu_idx(env);
    if (env->softmmu && n > 8) {
        x86_host_rw(env, a, 1, mmu); /* both pages writable before the first byte changes */
        x86_host_rw(env, a + (uint64_t)n - 1, 1, mmu);
    }
    for (int i = 0; i < n;) {
        int k = n - i >= 8 ? 8 : n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint64_t v = 0;
        memcpy(&v, buf + i, (size_t)k);
        x86_st(env, a + (uint64_t)i, v, k, mmu);
        i += k;
    }
}

/* One decoded instruction: made at translation time, found again by its info word. */
typedef struct SimdInsn {
    uint64_t info;
    SimdOp o;
    int reg, rm;
    bool mem, rex, mmx, vec;
    const void *fn;
} SimdInsn;

static pthread_mutex_t insn_lock = PTHREAD_MUTEX_INITIALIZER;
static SimdInsn **insn_tab;
static size_t insn_cap, insn_count;

static SimdInsn **insn_slot(SimdInsn **tab, size_t cap, uint64_t info)
{
    size_t i = (size_t)((info * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
    while (tab[i] && tab[i]->info != info) {
        i = (i + 1) & (cap - 1);
    }
    return &tab[i];
}

/*
 * info: opcode | map << 8 | pfx << 10 | p66 << 12 | rexw << 13 | rex << 14 | mem << 15 |
 * reg << 16 | rm << 20 | imm8 << 24. Returns the argument for helper_simd.
 */
uint64_t x86_simd_prepare(const CPUX86State *env, uint64_t info)
{
    unsigned opc = info & 0xff, map = (info >> 8) & 3, pfx = (info >> 10) & 3;
    bool p66 = (info >> 12) & 1, rexw = (info >> 13) & 1;
    bool mem = (info >> 15) & 1;
    unsigned imm = (unsigned)((info >> 24) & 0xff);
    /* the model is part of the key: the same bytes may be #UD under another -cpu */
    uint64_t key = info | (uint64_t)(guest_features(env) & 0xff) << 32;
    pthread_mutex_lock(&insn_lock);
    if (insn_count * 2 >= insn_cap) {
        size_t ncap = insn_cap ? insn_cap * 2 : 1024;
        SimdInsn **nt = calloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < insn_cap; i++) {
            if (insn_tab[i]) {
                *insn_slot(nt, ncap, insn_tab[i]->info) = insn_tab[i];
            }
        }
        free(insn_tab);
        insn_tab = nt;
        insn_cap = ncap;
    }
    SimdInsn **slot = insn_slot(insn_tab, insn_cap, key);
    SimdInsn *in = *slot;
    pthread_mutex_unlock(&insn_lock);
    if (in) {
        return (uint64_t)(uintptr_t)in;
    }
    SimdOp o;
    if (lookup(env, map, opc, pfx, rexw, p66, &o) != 0) {
        return 0;
    }
    in = calloc(1, sizeof(*in));
    in->info = key;
    in->o = o;
    in->reg = (int)((info >> 16) & 15);
    in->rm = (int)((info >> 20) & 15);
    in->mem = mem;
    in->rex = (info >> 14) & 1;
    in->mmx = o.reg == K_M || o.rm == K_M;
    in->vec = in->mmx || o.reg == K_X || o.rm == K_X;

    /* the host instruction: prefixes, REX.W, 0F [38|3A] opcode, ModRM, imm8, ret */
    uint8_t code[16];
    int n = 0;
    if (p66) {
        code[n++] = 0x66;
    }
    if (pfx >= 2) {
        code[n++] = pfx == 2 ? 0xf3 : 0xf2;
    }
    /* REX.W only matters with a general register operand; elsewhere it is ignored */
    rexw = rexw && (o.reg == K_G || o.rm == K_G);
    if (rexw) {
        code[n++] = 0x48;
    }
    code[n++] = 0x0f;
    if (map) {
        code[n++] = map == 1 ? 0x38 : 0x3a;
    }
    code[n++] = (uint8_t)opc;
    uint8_t modrm;
    if (o.fl & F_SHIFT) {
        modrm = (uint8_t)(0xc1 | (in->reg & 7) << 3);
    } else {
        modrm = mem ? 0x17 : 0xd1; /* reg 2, r/m [rdi] or 1 */
    }
    code[n++] = modrm;
    if (o.fl & F_IMM) {
        code[n++] = (uint8_t)imm;
    }
    code[n++] = 0xc3;
    uint64_t skey = 1 | (uint64_t)p66 << 1 | (uint64_t)pfx << 2 | (uint64_t)rexw << 4 |
                    (uint64_t)map << 5 | (uint64_t)opc << 8 | (uint64_t)modrm << 16 |
                    (uint64_t)((o.fl & F_IMM) ? imm | 0x100 : 0) << 24;
    in->fn = make_stub(skey, code, n);

    pthread_mutex_lock(&insn_lock);
    slot = insn_slot(insn_tab, insn_cap, key);
    if (*slot) {
        free(in); /* another vCPU made it first */
        in = *slot;
    } else {
        *slot = in;
        insn_count++;
    }
    pthread_mutex_unlock(&insn_lock);
    return (uint64_t)(uintptr_t)in;
}

/* The prepared instruction p (x86_simd_prepare) with its memory operand at addr. */
void helper_simd(CPUX86State *env, uint64_t addr, uint64_t p)
{
    const SimdInsn *in = (const SimdInsn *)(uintptr_t)p;
    const SimdOp *o = &in->o;
    int reg = in->reg, rm = in->rm;
    bool mem = in->mem;
    if (in->vec && env->softmmu) {
        if (env->cr[0] & CR0_EM) {
            x86_raise_exception(env, EXCP_UD, 0);
        }
        if (env->cr[0] & CR0_TS) {
            x86_raise_exception(env, EXCP_NM, 0);
        }
    }
    if (in->mmx) {
        x86_mmx_check(env);
    }

    HostIO h;
    uint8_t buf[32];
    h.rax = h.rcx = h.rdx = 0;
    if (o->fl & F_X0) {
        memcpy(&h.x[0], env->xmm[0], 16);
    }
    if (o->fl & F_AXDX) {
        h.rax = env->regs[R_EAX];
        h.rdx = env->regs[R_EDX];
    }
    switch (o->reg) {
    case K_X:
        memcpy(&h.x[2], env->xmm[reg], 16);
        break;
    case K_M:
        h.m[2] = mm_get(env, reg);
        break;
    case K_G:
        h.rdx = env->regs[reg];
        break;
    }
    if (o->fl & F_IMPL) {
        mem_rd(env, addr, buf, o->msize);
    }
    if (mem) {
        if (o->msize == 16 && (o->fl & F_ALIGN) && (addr & 15)) {
            x86_raise_exception(env, EXCP_GP, 0);
        }
        if (!(o->fl & F_NORDRM)) {
            mem_rd(env, addr, buf, o->msize);
        } else if (env->softmmu) {
            int mmu = x86_mmu_idx(env);
            x86_host_rw(env, addr, 1, mmu);
            x86_host_rw(env, addr + o->msize - 1u, 1, mmu);
        }
    } else {
        switch (o->rm) {
        case K_X:
            memcpy(&h.x[1], env->xmm[rm], 16);
            break;
        case K_M:
            h.m[1] = mm_get(env, rm);
            break;
        case K_G:
            if ((o->fl & F_RM8) && !in->rex && rm >= 4 && rm < 8) {
                h.rcx = env->regs[rm - 4] >> 8;
            } else {
                h.rcx = env->regs[rm];
            }
            break;
        }
    }

    if (in->mmx) {
        /* the memory operand is readable (or writable): now the x87 state becomes MMX state */
        x86_mmx_enter(env, false);
    }

    /*
     * MXCSR. Fast path: the guest's control bits are the default ones (all exceptions masked,
     * round to nearest, no DAZ/FTZ), as the host's always are here. Then the flags the host's
     * MXCSR already holds need clearing only when the guest does not have them too, since a
     * flag the guest already has cannot be raised anew; afterwards the host keeps the union,
     * still a subset of the guest's. Otherwise load the guest's MXCSR (every exception masked,
     * flags clear) for the one instruction.
     */
    uint32_t gmx = env->mxcsr, host = get_mxcsr();
    bool fast = (gmx & ~0x3fu) == 0x1f80 && (host & ~0x3fu) == 0x1f80;
    if (fast) {
        if (host & ~gmx & 0x3f) {
            set_mxcsr(0x1f80 | (gmx & 0x3f));
        }
    } else {
        set_mxcsr((gmx & ~0x3fu) | 0x1f80);
    }
    host_run(in->fn, &h, buf, in->mmx, o->fl & F_FLAGS);
    uint32_t after = get_mxcsr();
    if (!fast) {
        set_mxcsr(host);
    }

    if (o->fl & F_MX) {
        unsigned raised = after & 0x3f;
        unsigned unmasked = raised & ~(gmx >> 7) & 0x3f;
        env->mxcsr |= raised;
        if (unmasked) {
            bool xm = !env->softmmu || (env->cr[4] & CR4_OSXMMEXCPT_BIT);
            x86_raise_exception(env, xm ? EXCP_XM : EXCP_UD, 0);
        }
    }
    if (o->fl & F_WREG) {
        switch (o->reg) {
        case K_X:
            memcpy(env->xmm[reg], &h.x[2], 16);
            break;
        case K_M:
            mm_set(env, reg, h.m[2]);
            break;
        case K_G:
            env->regs[reg] = h.rdx;
            break;
        }
    }
    if (o->fl & F_WRM) {
        if (mem) {
            mem_wr(env, addr, buf, o->msize);
        } else {
            switch (o->rm) {
            case K_X:
                memcpy(env->xmm[rm], &h.x[1], 16);
                break;
            case K_M:
                mm_set(env, rm, h.m[1]);
                break;
            case K_G:
                env->regs[rm] = h.rcx;
                break;
            }
        }
    }
    if (o->fl & F_IMPL) {
        mem_wr(env, addr, buf, o->msize); /* the unselected bytes are written back unchanged */
    }
    if (o->fl & F_STRM) {
        memcpy(env->xmm[0], &h.x[0], 16);
    }
    if (o->fl & F_STRI) {
        env->regs[R_ECX] = h.rcx;
    }
    if (o->fl & F_FLAGS) {
        env->cc = (h.flags & CC_MASK) | RFLAGS_FIXED;
    }
}

void helper_emms(CPUX86State *env)
{
    x86_mmx_enter(env, true);
}
