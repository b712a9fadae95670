/*
 * Differential test of the translator against the host CPU. Guest and host are both x86-64, so
 * an instruction sequence can run natively (through a trampoline that loads and saves every
 * register and RFLAGS) and under the translator (flat guest memory at the same addresses), and
 * the two final states must agree: all GPRs, the arithmetic flags (minus the ones the manual
 * leaves undefined for the last instruction that wrote them) and memory.
 *
 *   test-tcg-diff [--seed N] [--cases N] [--bench] [--softmmu] [-v]
 *
 * Every case runs twice under the translator: in flat mode (host address = guest address) and
 * in system mode, where the same region is identity-mapped by 4-level page tables and every
 * guest access goes through the softmmu TLB (inline fast path, slow path on a miss).
 * --softmmu runs the random cases in system mode only.
 *
 * Random cases come from a fixed seed, so a failure reproduces; the failing case's bytes and
 * states are printed.
 */
#include <cpuid.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "vireo/memory.h"
#include "vireo/tcg.h"
#include "../lib/unit.h"

/* ---- the shared address space ---- */
#define REGION      ((uint64_t)0x10000000)
#define REGION_SIZE ((uint64_t)0x100000)
#define CODE        (REGION + 0x0000)
#define DATA        (REGION + 0x10000) /* r15 points at DATA + 0x800 */
#define DATA_SIZE   0x1000
#define STACK_LO    (REGION + 0x20000)
#define STACK_TOP   (REGION + 0x2f000)
#define STACK_SIZE  0x10000
#define TRAMP       (REGION + 0x40000)
#define EXIT_ADDR   (REGION + 0x40800)
#define STATE_IN    (REGION + 0x41000)
#define STATE_OUT   (REGION + 0x41200)
#define HOST_SP     (REGION + 0x41400)
#define CODE_PTR    (REGION + 0x41408)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

typedef struct State {
    uint64_t regs[16];
    uint64_t flags;
} State;

/* native state layout: [flags][rax rcx rdx rbx rbp rsi rdi r8..r15][rsp] */
static const int native_order[15] = {RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8,
                                     R9,  R10, R11, R12, R13, R14, R15};

static uint8_t *region;
static uint8_t *data_init, *stack_init;
static CPUX86State *env;
static bool verbose;
static bool softmmu_only;
static const char *mode = ""; /* "softmmu/" in system mode */

/* ---- a tiny assembler buffer ---- */
typedef struct Buf {
    uint8_t b[512];
    int n;
} Buf;

static void put(Buf *b, unsigned v)
{
    if (b->n < (int)sizeof(b->b)) {
        b->b[b->n++] = (uint8_t)v;
    }
}

static void put32(Buf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        put(b, (v >> (8 * i)) & 0xff);
    }
}

static void putn(Buf *b, const void *p, int n)
{
    for (int i = 0; i < n; i++) {
        put(b, ((const uint8_t *)p)[i]);
    }
}

/* An r/m operand: a register, or memory [base + index*scale + disp] (base -2 = RIP). */
typedef struct RM {
    bool mem;
    int reg;
    int base, index, scale;
    int32_t disp;
} RM;

static RM rm_reg(int r)
{
    return (RM){.reg = r};
}

static RM rm_mem(int base, int32_t disp)
{
    return (RM){.mem = true, .base = base, .index = -1, .disp = disp};
}

/*
 * Encode one instruction: legacy prefixes in pre[], operand size (16 adds 66, 64 adds REX.W),
 * force_rex for byte registers spl..dil, opcode (0x0fXX for two-byte), ModRM reg field, r/m
 * operand, immediate of imm_len bytes.
 */
static void enc(Buf *b, const uint8_t *pre, int npre, int size, bool force_rex, int opcode, int reg,
                RM rm, int imm_len, int64_t imm)
{
    for (int i = 0; i < npre; i++) {
        put(b, pre[i]);
    }
    if (size == 16) {
        put(b, 0x66);
    }
    int rex = (size == 64 ? 8 : 0) | ((reg & 8) ? 4 : 0);
    if (rm.mem) {
        if (rm.index >= 0 && (rm.index & 8)) {
            rex |= 2;
        }
        if (rm.base >= 0 && (rm.base & 8)) {
            rex |= 1;
        }
    } else if (rm.reg & 8) {
        rex |= 1;
    }
    if (rex || force_rex) {
        put(b, 0x40 | rex);
    }
    if (opcode > 0xff) {
        put(b, opcode >> 8);
    }
    put(b, opcode & 0xff);
    if (!rm.mem) {
        put(b, 0xc0 | ((reg & 7) << 3) | (rm.reg & 7));
    } else if (rm.base == -2) {
        put(b, ((reg & 7) << 3) | 5);
        put32(b, (uint32_t)rm.disp);
    } else {
        int mod = (rm.disp == 0 && (rm.base & 7) != 5) ? 0
                  : (rm.disp >= -128 && rm.disp < 128) ? 1
                                                       : 2;
        if (rm.index < 0 && (rm.base & 7) != 4) {
            put(b, (mod << 6) | ((reg & 7) << 3) | (rm.base & 7));
        } else {
            put(b, (mod << 6) | ((reg & 7) << 3) | 4);
            put(b, (rm.scale << 6) | (((rm.index < 0 ? 4 : rm.index) & 7) << 3) | (rm.base & 7));
        }
        if (mod == 1) {
            put(b, (uint8_t)rm.disp);
        } else if (mod == 2) {
            put32(b, (uint32_t)rm.disp);
        }
    }
    for (int i = 0; i < imm_len; i++) {
        put(b, (uint8_t)((uint64_t)imm >> (8 * i)));
    }
}

/* ---- native execution ---- */

static void build_trampoline(void)
{
    Buf b = {0};
    static const int saved[] = {RBX, RBP, R12, R13, R14, R15};
    for (int i = 0; i < 6; i++) {
        if (saved[i] >= 8) {
            put(&b, 0x41);
        }
        put(&b, 0x50 + (saved[i] & 7));
    }
    put(&b, 0x48); /* mov [HOST_SP], rsp */
    put(&b, 0x89);
    put(&b, 0x24);
    put(&b, 0x25);
    put32(&b, (uint32_t)HOST_SP);
    put(&b, 0x48); /* mov rsp, STATE_IN */
    put(&b, 0xc7);
    put(&b, 0xc4);
    put32(&b, (uint32_t)STATE_IN);
    put(&b, 0x9d); /* popfq */
    for (int i = 0; i < 15; i++) {
        int r = native_order[i];
        if (r >= 8) {
            put(&b, 0x41);
        }
        put(&b, 0x58 + (r & 7));
    }
    static const uint8_t mov_rsp[] = {0x48, 0x8b, 0x24, 0x24}; /* mov rsp, [rsp] */
    putn(&b, mov_rsp, 4);
    put(&b, 0xff); /* jmp [CODE_PTR] */
    put(&b, 0x24);
    put(&b, 0x25);
    put32(&b, (uint32_t)CODE_PTR);
    memcpy(region + (TRAMP - REGION), b.b, (size_t)b.n);

    Buf e = {0};
    put(&e, 0x48); /* mov [STATE_OUT + 128], rsp */
    put(&e, 0x89);
    put(&e, 0x24);
    put(&e, 0x25);
    put32(&e, (uint32_t)(STATE_OUT + 128));
    put(&e, 0x48); /* mov rsp, STATE_OUT + 128 */
    put(&e, 0xc7);
    put(&e, 0xc4);
    put32(&e, (uint32_t)(STATE_OUT + 128));
    for (int i = 14; i >= 0; i--) {
        int r = native_order[i];
        if (r >= 8) {
            put(&e, 0x41);
        }
        put(&e, 0x50 + (r & 7));
    }
    put(&e, 0x9c); /* pushfq */
    put(&e, 0xfc); /* cld: the C ABI wants DF clear */
    put(&e, 0x48); /* mov rsp, [HOST_SP] */
    put(&e, 0x8b);
    put(&e, 0x24);
    put(&e, 0x25);
    put32(&e, (uint32_t)HOST_SP);
    for (int i = 5; i >= 0; i--) {
        if (saved[i] >= 8) {
            put(&e, 0x41);
        }
        put(&e, 0x58 + (saved[i] & 7));
    }
    put(&e, 0xc3);
    memcpy(region + (EXIT_ADDR - REGION), e.b, (size_t)e.n);
}

static void *at(uint64_t a)
{
    return region + (a - REGION);
}

/* Lay the code down at CODE followed by a jmp to EXIT_ADDR. */
static void place_code(const uint8_t *code, int n)
{
    uint8_t *p = at(CODE);
    memcpy(p, code, (size_t)n);
    p[n] = 0xe9;
    int32_t rel = (int32_t)(EXIT_ADDR - (CODE + (uint64_t)n + 5));
    memcpy(p + n + 1, &rel, 4);
}

static void reset_memory(void)
{
    memcpy(at(DATA), data_init, DATA_SIZE);
    memcpy(at(STACK_LO), stack_init, STACK_SIZE);
}

static void run_native(const State *in, State *out)
{
    uint64_t *si = at(STATE_IN);
    si[0] = in->flags;
    for (int i = 0; i < 15; i++) {
        si[1 + i] = in->regs[native_order[i]];
    }
    si[16] = in->regs[RSP];
    *(uint64_t *)at(CODE_PTR) = CODE;
    ((void (*)(void))at(TRAMP))();
    uint64_t *so = at(STATE_OUT);
    out->flags = so[0];
    for (int i = 0; i < 15; i++) {
        out->regs[native_order[i]] = so[1 + i];
    }
    out->regs[RSP] = so[16];
}

static int run_tcg(const State *in, State *out)
{
    memcpy(env->regs, in->regs, sizeof(env->regs));
    x86_set_rflags(env, in->flags);
    env->rip = CODE;
    env->mem_base = 0;
    env->stop_rip = EXIT_ADDR;
    env->tb_budget = 100000;
    int r = tcg_cpu_exec(env);
    memcpy(out->regs, env->regs, sizeof(env->regs));
    out->flags = x86_get_rflags(env);
    return r;
}

/* ---- comparing ---- */

static const char *const reg_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

static void dump_state(const char *what, const State *s)
{
    printf("#   %s:", what);
    for (int i = 0; i < 16; i++) {
        printf("%s %s=%016" PRIx64, i % 4 == 0 ? "\n#    " : "", reg_names[i], s->regs[i]);
    }
    printf("\n#     rflags=%08" PRIx64 "\n", s->flags);
}

static void dump_code(const uint8_t *code, int n)
{
    printf("#   code:");
    for (int i = 0; i < n; i++) {
        printf(" %02x", code[i]);
    }
    printf("\n");
}

/* Compare two final states; on a difference print everything and return false. */
static bool compare(const char *name, const uint8_t *code, int n, const State *in, const State *nat,
                    const uint8_t *nat_data, const uint8_t *nat_stack, const State *tcg, int excp,
                    uint64_t undef)
{
    char why[256] = "";
    uint64_t fmask = CC_MASK & ~undef;
    if (excp != EXCP_STOP) {
        snprintf(why, sizeof(why), "translator stopped with exit %d at rip %#" PRIx64, excp,
                 env->rip);
    }
    for (int i = 0; i < 16 && !why[0]; i++) {
        if (nat->regs[i] != tcg->regs[i]) {
            snprintf(why, sizeof(why), "%s: native %#" PRIx64 " translated %#" PRIx64, reg_names[i],
                     nat->regs[i], tcg->regs[i]);
        }
    }
    if (!why[0] && ((nat->flags ^ tcg->flags) & fmask)) {
        snprintf(why, sizeof(why),
                 "flags: native %#" PRIx64 " translated %#" PRIx64 " (compared %#" PRIx64 ")",
                 nat->flags, tcg->flags, fmask);
    }
    if (!why[0] && ((nat->flags ^ tcg->flags) & RFLAGS_DF)) {
        snprintf(why, sizeof(why), "DF differs");
    }
    if (!why[0] && memcmp(nat_data, at(DATA), DATA_SIZE)) {
        for (int i = 0; i < DATA_SIZE; i++) {
            if (nat_data[i] != ((uint8_t *)at(DATA))[i]) {
                snprintf(why, sizeof(why), "memory at %#" PRIx64 ": native %02x translated %02x",
                         DATA + (uint64_t)i, nat_data[i], ((uint8_t *)at(DATA))[i]);
                break;
            }
        }
    }
    if (!why[0] && memcmp(nat_stack, at(STACK_LO), STACK_SIZE)) {
        snprintf(why, sizeof(why), "stack memory differs");
    }
    if (!why[0]) {
        return true;
    }
    printf("FAIL %s: %s\n", name, why);
    dump_code(code, n);
    dump_state("initial", in);
    dump_state("native", nat);
    dump_state("translated", tcg);
    unit_failures++;
    return false;
}

static uint8_t nat_data[DATA_SIZE], nat_stack[STACK_SIZE];

/* System mode: REGION identity-mapped with 4 KiB pages (accessed/dirty bits left clear). */
#define PT_GPA 0x20000000ull
static uint8_t *pt_mem;

static void enter_softmmu(void)
{
    if (!pt_mem) {
        pt_mem = aligned_alloc(4096, 0x4000);
        memset(pt_mem, 0, 0x4000);
        uint64_t *pml4 = (uint64_t *)pt_mem, *pdpt = pml4 + 512, *pd = pdpt + 512, *pt = pd + 512;
        pml4[0] = (PT_GPA + 0x1000) | 3;
        pdpt[0] = (PT_GPA + 0x2000) | 3;
        pd[(REGION >> 21) & 511] = (PT_GPA + 0x3000) | 3;
        for (uint64_t i = 0; i < REGION_SIZE / 4096; i++) {
            pt[i] = (REGION + i * 4096) | 3;
        }
    }
    guest_ram.blocks[0] = (RAMBlock){.gpa = REGION, .size = REGION_SIZE, .host = region};
    guest_ram.blocks[1] = (RAMBlock){.gpa = PT_GPA, .size = 0x4000, .host = pt_mem};
    guest_ram.n = 2;
    /* the softmmu finds RAM in the memory map */
    static MemoryRegion region_mr, pt_mr;
    if (!region_mr.name) {
        memory_region_init_ram_ptr(&region_mr, "test-region", REGION_SIZE, region);
        memory_region_add_subregion(get_system_memory(), REGION, &region_mr, 0);
        memory_region_init_ram_ptr(&pt_mr, "test-pt", 0x4000, pt_mem);
        memory_region_add_subregion(get_system_memory(), PT_GPA, &pt_mr, 0);
    }
    env->softmmu = true;
    env->cpl = 0;
    env->cr[0] = CR0_PG | CR0_PE | CR0_WP;
    env->cr[4] = CR4_PAE;
    env->efer = EFER_LME | EFER_LMA | EFER_NXE;
    env->segs[R_CS].flags = DESC_P | DESC_S | DESC_L | (0xbu << DESC_TYPE_SHIFT); /* 64-bit code */
    env->cr[3] = PT_GPA;
    tcg_exec_flush();
    x86_tlb_flush(env, true);
}

static void leave_softmmu(void)
{
    env->softmmu = false;
    tcg_exec_flush();
}

/* Run code natively and translated from the same state and memory; compare. */
static bool diff_case(const char *name, const uint8_t *code, int n, const State *in, uint64_t undef)
{
    place_code(code, n);
    tcg_exec_flush();
    State nat, tcg;
    reset_memory();
    run_native(in, &nat);
    memcpy(nat_data, at(DATA), DATA_SIZE);
    memcpy(nat_stack, at(STACK_LO), STACK_SIZE);
    reset_memory();
    int excp = run_tcg(in, &tcg);
    return compare(name, code, n, in, &nat, nat_data, nat_stack, &tcg, excp, undef);
}

/* ---- random state and instructions ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static uint64_t rnd_value(void)
{
    static const uint64_t edges[] = {0,
                                     1,
                                     2,
                                     0x7f,
                                     0x80,
                                     0xff,
                                     0x7fff,
                                     0x8000,
                                     0xffff,
                                     0x7fffffff,
                                     0x80000000,
                                     0xffffffff,
                                     0x100000000ull,
                                     0x7fffffffffffffffull,
                                     0x8000000000000000ull,
                                     ~0ull,
                                     63,
                                     64,
                                     31,
                                     32};
    switch (rn(4)) {
    case 0:
        return edges[rn(sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return rnd() & 0xff;
    default:
        return rnd();
    }
}

static void random_state(State *s)
{
    for (int i = 0; i < 16; i++) {
        s->regs[i] = rnd_value();
    }
    s->regs[RSP] = STACK_TOP;
    s->regs[R15] = DATA + 0x800;
    s->regs[R14] = rn(16); /* a small index register */
    s->flags = (rnd() & CC_MASK) | RFLAGS_FIXED | RFLAGS_IF;
}

/* a register the random code may write: not rsp, r14 (index), r15 (base) */
static int rnd_reg(void)
{
    static const int regs[] = {RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13};
    return regs[rn(13)];
}

static RM rnd_mem(void)
{
    RM m = rm_mem(R15, (int32_t)rn(0x600) - 0x300);
    if (rn(3) == 0) {
        m.index = R14;
        m.scale = (int)rn(4);
    }
    if (rn(4) == 0) {
        m.disp = (int32_t)rn(200) - 100; /* disp8 forms */
    }
    return m;
}

static int rnd_size(void)
{
    static const int sizes[] = {8, 16, 32, 64};
    return sizes[rn(4)];
}

/* byte-register operand choice: legacy (AH..BH reachable) or with REX (SIL.., R8B..) */
typedef struct ByteMode {
    bool rex;
} ByteMode;

static int rnd_reg_for(int size, ByteMode bm)
{
    if (size != 8) {
        return rnd_reg();
    }
    if (!bm.rex) {
        return (int)rn(8) == RSP ? RAX + 4 : (int)rn(8); /* 4..7 = AH CH DH BH */
    }
    int r;
    do {
        r = rnd_reg();
    } while (r == RSP);
    return r;
}

/* A legacy byte register AH..BH becomes SPL..DIL once a REX prefix is there (r15-based
 * memory operands need one): use AL..BL instead. */
static int byte_safe(int size, ByteMode bm, int reg, RM rm)
{
    bool rex_needed = rm.mem && ((rm.base >= 8) || (rm.index >= 8));
    if (size == 8 && !bm.rex && rex_needed && reg >= 4 && reg <= 7) {
        return reg - 4;
    }
    return reg;
}

/* a low register (no REX) other than rsp */
static int low_reg(void)
{
    static const int regs[] = {RAX, RCX, RDX, RBX, RBP, RSI, RDI};
    return regs[rn(7)];
}

static RM rnd_rm(int size, ByteMode bm)
{
    return rn(3) == 0 ? rnd_mem() : rm_reg(rnd_reg_for(size, bm));
}

static int imm_len(int size)
{
    return size == 8 ? 1 : size == 16 ? 2 : 4;
}

#define F_ALL   CC_MASK
#define F_ARITH (CC_C | CC_P | CC_A | CC_Z | CC_S | CC_O)

typedef struct Gen {
    Buf code;
    uint64_t undef; /* flags currently undefined */
} Gen;

/* One instruction: writes `wdef` flags defined, `wundef` undefined; reads `reads`. */
static void flags_effect(Gen *g, uint64_t wdef, uint64_t wundef)
{
    g->undef = (g->undef & ~wdef & ~wundef) | wundef;
}

static void define_flags(Gen *g, uint64_t reads)
{
    if (g->undef & reads) {
        /* cmp r13, r12: defines every flag, changes no register */
        enc(&g->code, NULL, 0, 64, false, 0x39, R12, rm_reg(R13), 0, 0);
        g->undef = 0;
    }
}

static const uint64_t cc_reads[16] = {
    CC_O, CC_O, CC_C, CC_C, CC_Z,        CC_Z,        CC_C | CC_Z,        CC_C | CC_Z,
    CC_S, CC_S, CC_P, CC_P, CC_S | CC_O, CC_S | CC_O, CC_Z | CC_S | CC_O, CC_Z | CC_S | CC_O,
};

static void gen_one(Gen *g)
{
    Buf *b = &g->code;
    int size = rnd_size();
    ByteMode bm = {.rex = rn(2) == 0};
    bool frex = size == 8 && bm.rex;
    int reg = rnd_reg_for(size, bm);
    RM rm = rnd_rm(size, bm);
    reg = byte_safe(size, bm, reg, rm);
    int w = size == 8 ? 0 : 1;
    switch (rn(30)) {
    case 0:
    case 1:
    case 2: { /* ALU r/m, r  |  r, r/m */
        int n = (int)rn(8);
        if (n == 2 || n == 3) {
            define_flags(g, CC_C);
        }
        enc(b, NULL, 0, size, frex, (n << 3) + (rn(2) ? 2 : 0) + w, reg, rm, 0, 0);
        flags_effect(g, F_ALL & ~((n == 1 || n == 4 || n == 6) ? CC_A : 0),
                     (n == 1 || n == 4 || n == 6) ? CC_A : 0);
        break;
    }
    case 3:
    case 4: { /* ALU r/m, imm  (80/81/83) and AL/eAX, imm */
        int n = (int)rn(8);
        if (n == 2 || n == 3) {
            define_flags(g, CC_C);
        }
        int form = (int)rn(3);
        if (form == 2) {
            enc(b, NULL, 0, size, false, (n << 3) + 4 + w, 0, rm_reg(RAX), 0, 0);
            b->n--; /* no ModRM for the accumulator form */
            putn(b, (int64_t[]){(int64_t)rnd_value()}, imm_len(size));
        } else if (form == 1 && size != 8) {
            enc(b, NULL, 0, size, frex, 0x83, n, rm, 1, (int64_t)rnd_value());
        } else {
            enc(b, NULL, 0, size, frex, 0x80 + w, n, rm, imm_len(size), (int64_t)rnd_value());
        }
        flags_effect(g, F_ALL, (n == 1 || n == 4 || n == 6) ? CC_A : 0);
        break;
    }
    case 5: { /* test */
        if (rn(2)) {
            enc(b, NULL, 0, size, frex, 0x84 + w, reg, rm, 0, 0);
        } else {
            enc(b, NULL, 0, size, frex, 0xf6 + w, 0, rm, imm_len(size), (int64_t)rnd_value());
        }
        flags_effect(g, F_ALL, CC_A);
        break;
    }
    case 6:
    case 7: { /* shifts and rotates: by 1, imm8, CL */
        int n = (int)rn(8);
        if (n == 6) {
            n = 4;
        }
        if (n == 2 || n == 3) {
            define_flags(g, CC_C);
        }
        int form = (int)rn(3);
        if (form == 0) {
            enc(b, NULL, 0, size, frex, 0xd0 + w, n, rm, 0, 0);
        } else if (form == 1) {
            enc(b, NULL, 0, size, frex, 0xc0 + w, n, rm, 1, (int64_t)rnd_value());
        } else {
            enc(b, NULL, 0, size, frex, 0xd2 + w, n, rm, 0, 0);
        }
        /* count 0 keeps the flags; large counts leave CF/OF/AF undefined */
        flags_effect(g, 0, n < 4 ? (CC_C | CC_O) : (CC_C | CC_O | CC_A | CC_S | CC_Z | CC_P));
        break;
    }
    case 8: { /* inc dec not neg */
        int n = (int)rn(4);
        if (n < 2) {
            enc(b, NULL, 0, size, frex, 0xfe + w, n, rm, 0, 0);
            flags_effect(g, F_ALL & ~CC_C, 0);
        } else {
            enc(b, NULL, 0, size, frex, 0xf6 + w, n, rm, 0, 0);
            if (n == 3) {
                flags_effect(g, F_ALL, 0);
            }
        }
        break;
    }
    case 9: { /* mul / imul one-operand */
        enc(b, NULL, 0, size, frex, 0xf6 + w, 4 + (int)rn(2), rm, 0, 0);
        flags_effect(g, CC_C | CC_O, CC_S | CC_Z | CC_A | CC_P);
        break;
    }
    case 10: { /* imul r, r/m [, imm] */
        if (size == 8) {
            size = 32;
        }
        reg = rnd_reg();
        if (!rm.mem) {
            rm.reg = rnd_reg();
        }
        int form = (int)rn(3);
        if (form == 0) {
            enc(b, NULL, 0, size, false, 0x0faf, reg, rm, 0, 0);
        } else if (form == 1) {
            enc(b, NULL, 0, size, false, 0x6b, reg, rm, 1, (int64_t)rnd_value());
        } else {
            enc(b, NULL, 0, size, false, 0x69, reg, rm, imm_len(size), (int64_t)rnd_value());
        }
        flags_effect(g, CC_C | CC_O, CC_S | CC_Z | CC_A | CC_P);
        break;
    }
    case 11: { /* div / idiv made safe: positive non-zero divisor, extended dividend */
        bool sign = rn(2);
        if (!rm.mem && (rm.reg == RDX || (size == 8 && !bm.rex && rm.reg == 4))) {
            rm.reg = RBX;
        }
        if (size == 8 && !rm.mem && !bm.rex && rm.reg == 0) {
            rm.reg = RCX; /* keep AL out of it: CL */
        }
        if (size == 8 && !rm.mem && rm.reg >= 8) {
            frex = true;
        }
        enc(b, NULL, 0, size, frex, 0xc0 + w, 5, rm, 1, 1);             /* shr rm, 1 */
        enc(b, NULL, 0, size, frex, 0x80 + w, 1, rm, imm_len(size), 1); /* or rm, 1 */
        if (size == 8) {
            if (sign) {
                enc(b, NULL, 0, 16, false, 0x98, 0, rm_reg(0), 0, 0); /* cbw */
                b->n--;
            } else {
                enc(b, NULL, 0, 32, false, 0x0fb6, RAX, rm_reg(RAX), 0, 0); /* movzx eax, al */
            }
        } else if (sign) {
            enc(b, NULL, 0, size, false, 0x99, 0, rm_reg(0), 0, 0); /* cwd/cdq/cqo */
            b->n--;
        } else {
            enc(b, NULL, 0, 32, false, 0x31, RDX, rm_reg(RDX), 0, 0); /* xor edx, edx */
        }
        enc(b, NULL, 0, size, frex, 0xf6 + w, sign ? 7 : 6, rm, 0, 0);
        flags_effect(g, 0, F_ALL);
        break;
    }
    case 12: { /* mov forms */
        int form = (int)rn(4);
        if (form == 0) {
            enc(b, NULL, 0, size, frex, 0x88 + w + (rn(2) ? 2 : 0), reg, rm, 0, 0);
        } else if (form == 1) {
            enc(b, NULL, 0, size, frex, 0xc6 + w, 0, rm, imm_len(size), (int64_t)rnd_value());
        } else if (form == 2) { /* B0+r / B8+r */
            int r = rnd_reg_for(size, bm);
            if (size == 8 && r >= 8) {
                frex = true;
            }
            enc(b, NULL, 0, size, frex, (size == 8 ? 0xb0 : 0xb8) + (r & 7), 0, rm_reg(r & 8),
                size == 64 ? 8 : imm_len(size), (int64_t)rnd_value());
            b->n -= (size == 64 ? 8 : imm_len(size)) + 1; /* drop the ModRM and imm */
            putn(b, (uint64_t[]){rnd_value()}, size == 64 ? 8 : imm_len(size));
        } else { /* movzx / movsx / movsxd */
            int k = (int)rn(5);
            int dsize = rn(2) ? 64 : (rn(2) ? 32 : 16);
            RM src = rn(3) == 0 ? rnd_mem() : rm_reg(rnd_reg_for(8, bm));
            if (k == 4) {
                enc(b, NULL, 0, 64, false, 0x63, rnd_reg(), rn(2) ? rnd_mem() : rm_reg(rnd_reg()),
                    0, 0);
            } else {
                int opc = 0x0fb6 + (k & 1) + ((k & 2) ? 8 : 0);
                if (k & 1) {
                    src = rn(3) == 0 ? rnd_mem() : rm_reg(rnd_reg());
                }
                enc(b, NULL, 0, dsize, !(k & 1) && bm.rex, opc, rnd_reg(), src, 0, 0);
            }
        }
        break;
    }
    case 13: { /* lea with any registers, RIP-relative too */
        int dsize = rn(3) == 0 ? 32 : (rn(4) == 0 ? 16 : 64);
        RM m = rm_mem(rn(5) == 0 ? -2 : (int)rn(16), (int32_t)rnd());
        if (m.base != -2 && rn(2)) {
            m.index = (int)rn(16);
            if (m.index == RSP) {
                m.index = -1;
            }
            m.scale = (int)rn(4);
        }
        uint8_t p67 = 0x67;
        enc(b, &p67, rn(6) == 0 && m.base != -2, dsize, false, 0x8d, rnd_reg(), m, 0, 0);
        break;
    }
    case 14: { /* xchg, cmpxchg, xadd */
        int k = (int)rn(3);
        if (k == 0) {
            enc(b, NULL, 0, size, frex, 0x86 + w, reg, rm, 0, 0);
        } else if (k == 1) {
            enc(b, NULL, 0, size, frex, 0x0fb0 + w, reg, rm, 0, 0);
            flags_effect(g, F_ALL, 0);
        } else {
            enc(b, NULL, 0, size, frex, 0x0fc0 + w, reg, rm, 0, 0);
            flags_effect(g, F_ALL, 0);
        }
        break;
    }
    case 15: { /* bswap, cbw.., cwd.. */
        int k = (int)rn(3);
        int dsize = size == 8 ? 32 : size;
        if (k == 0) {
            int r = rnd_reg();
            if (dsize == 16) {
                dsize = 64;
            }
            enc(b, NULL, 0, dsize, false, 0x0fc8 + (r & 7), 0, rm_reg(r & 8), 0, 0);
            b->n--;
        } else {
            enc(b, NULL, 0, dsize, false, k == 1 ? 0x98 : 0x99, 0, rm_reg(0), 0, 0);
            b->n--;
        }
        break;
    }
    case 16: { /* bt family: register forms, imm forms on memory too */
        if (size == 8) {
            size = 32;
        }
        int n = (int)rn(4);
        if (rn(2) || rm.mem) {
            enc(b, NULL, 0, size, false, 0x0fba, 4 + n, rm.mem ? rm : rm_reg(rnd_reg()), 1,
                (int64_t)rnd_value());
        } else {
            enc(b, NULL, 0, size, false, 0x0fa3 + 8 * n, rnd_reg(), rm_reg(rnd_reg()), 0, 0);
        }
        flags_effect(g, CC_C, CC_O | CC_S | CC_A | CC_P);
        break;
    }
    case 17: { /* bsf, bsr */
        if (size == 8) {
            size = 64;
        }
        enc(b, NULL, 0, size, false, 0x0fbc + (int)rn(2), rnd_reg(),
            rm.mem ? rm : rm_reg(rnd_reg()), 0, 0);
        flags_effect(g, CC_Z, CC_C | CC_O | CC_S | CC_A | CC_P);
        break;
    }
    case 18: { /* setcc, cmovcc */
        int cc = (int)rn(16);
        define_flags(g, cc_reads[cc]);
        if (rn(2)) {
            enc(b, NULL, 0, 32, frex && size == 8, 0x0f90 + cc, 0, rnd_rm(8, bm), 0, 0);
        } else {
            enc(b, NULL, 0, size == 8 ? 64 : size, false, 0x0f40 + cc, rnd_reg(),
                rm.mem ? rm : rm_reg(rnd_reg()), 0, 0);
        }
        break;
    }
    case 19: { /* push / pop */
        int k = (int)rn(5);
        int r = rnd_reg();
        if (k == 0) {
            if (r >= 8) {
                put(b, 0x41);
            }
            put(b, 0x50 + (r & 7));
        } else if (k == 1) {
            if (r >= 8) {
                put(b, 0x41);
            }
            put(b, 0x58 + (r & 7));
        } else if (k == 2) {
            put(b, rn(2) ? 0x6a : 0x68);
            putn(b, (uint64_t[]){rnd_value()}, b->b[b->n - 1] == 0x6a ? 1 : 4);
        } else if (k == 3) {
            enc(b, NULL, 0, 32, false, 0xff, 6, rnd_mem(), 0, 0); /* push [m] */
        } else {
            enc(b, NULL, 0, 32, false, 0x8f, 0, rnd_mem(), 0, 0); /* pop [m] */
        }
        break;
    }
    case 20: { /* pushf/popf, lahf/sahf */
        int k = (int)rn(4);
        if (k == 0) {
            define_flags(g, F_ALL);
            put(b, 0x9c);             /* pushfq */
            put(b, 0x58 + low_reg()); /* pop r */
        } else if (k == 1) {
            /* mov eax-ish, flags value; push; popfq */
            int r = low_reg();
            put(b, 0xb8 + r);
            put32(b, (uint32_t)((rnd() & CC_MASK) | 0x202 | (rn(2) ? RFLAGS_DF : 0)));
            put(b, 0x50 + r);
            put(b, 0x9d);
            g->undef = 0;
        } else if (k == 2) {
            define_flags(g, CC_S | CC_Z | CC_A | CC_P | CC_C);
            put(b, 0x9f);
        } else {
            put(b, 0x9e);
            flags_effect(g, CC_S | CC_Z | CC_A | CC_P | CC_C, 0);
        }
        break;
    }
    case 21: { /* clc stc cmc cld std */
        static const uint8_t ops[] = {0xf8, 0xf9, 0xf5, 0xfc, 0xfd};
        int k = (int)rn(5);
        if (k == 2) {
            define_flags(g, CC_C);
        }
        put(b, ops[k]);
        if (k < 2) {
            flags_effect(g, CC_C, 0);
        }
        break;
    }
    case 22:
    case 23: { /* a forward jcc / jmp over the next instruction */
        int cc = (int)rn(17);
        if (cc < 16) {
            define_flags(g, cc_reads[cc]);
        }
        Gen inner = {.undef = g->undef};
        gen_one(&inner);
        bool longf = rn(2) || inner.code.n > 127;
        if (cc == 16) {
            put(b, longf ? 0xe9 : 0xeb);
        } else if (longf) {
            put(b, 0x0f);
            put(b, 0x80 + cc);
        } else {
            put(b, 0x70 + cc);
        }
        if (longf) {
            put32(b, (uint32_t)inner.code.n);
        } else {
            put(b, (uint8_t)inner.code.n);
        }
        putn(b, inner.code.b, inner.code.n);
        /* either path may have run */
        g->undef |= inner.undef;
        break;
    }
    case 24: { /* call next; pop r   and   lea r,[rip+k]; push r; ret   and   jmp r */
        int k = (int)rn(3);
        int r = low_reg();
        if (k == 0) {
            put(b, 0xe8);
            put32(b, 0);
            put(b, 0x58 + r);
        } else if (k == 1) {
            enc(b, NULL, 0, 64, false, 0x8d, r, rm_mem(-2, 2), 0, 0);
            put(b, 0x50 + r);
            put(b, 0xc3);
        } else {
            enc(b, NULL, 0, 64, false, 0x8d, r, rm_mem(-2, 2), 0, 0);
            put(b, 0xff);
            put(b, 0xe0 + r); /* jmp r */
        }
        break;
    }
    case 25: { /* string ops with small counts inside DATA */
        static const uint8_t ops[] = {0xa4, 0xa6, 0xaa, 0xac, 0xae};
        int k = (int)rn(5);
        enc(b, NULL, 0, 64, false, 0x8d, RSI, rm_mem(R15, (int32_t)rn(0x400) - 0x200), 0, 0);
        enc(b, NULL, 0, 64, false, 0x8d, RDI, rm_mem(R15, (int32_t)rn(0x400) - 0x200), 0, 0);
        unsigned count = rn(40);
        put(b, 0xb9); /* mov ecx, n */
        put32(b, count);
        int rep = (int)rn(3);
        if (rep) {
            put(b, rep == 1 ? 0xf3 : 0xf2);
        }
        if (size == 16) {
            put(b, 0x66);
        } else if (size == 64) {
            put(b, 0x48);
        }
        put(b, ops[k] + w);
        if ((k == 1 || k == 4) && (!rep || count)) {
            g->undef = 0; /* written by the compare (REP with a zero count writes nothing) */
        }
        break;
    }
    case 26: { /* adc/sbb chains */
        define_flags(g, CC_C);
        for (int i = 0, n = 1 + (int)rn(4); i < n; i++) {
            RM m = rnd_rm(size, bm);
            enc(b, NULL, 0, size, frex, (rn(2) ? 0x10 : 0x18) + w,
                byte_safe(size, bm, rnd_reg_for(size, bm), m), m, 0, 0);
        }
        flags_effect(g, F_ALL, 0);
        break;
    }
    case 27: { /* loop / jrcxz forward over the next instruction */
        Gen inner = {.undef = g->undef};
        gen_one(&inner);
        int k = (int)rn(4);
        if (inner.code.n > 127) {
            putn(b, inner.code.b, inner.code.n);
            g->undef = inner.undef;
            break;
        }
        if (k == 0 || k == 1) {
            define_flags(g, CC_Z);
        }
        put(b, 0xe0 + k);
        put(b, (uint8_t)inner.code.n);
        putn(b, inner.code.b, inner.code.n);
        g->undef |= inner.undef;
        break;
    }
    default: { /* shifts and ALU on memory with 32/64-bit values */
        int n = (int)rn(8);
        define_flags(g, CC_C);
        RM m = rnd_mem();
        enc(b, NULL, 0, size, frex, (n << 3) + w, byte_safe(size, bm, reg, m), m, 0, 0);
        flags_effect(g, F_ALL & ~((n == 1 || n == 4 || n == 6) ? CC_A : 0),
                     (n == 1 || n == 4 || n == 6) ? CC_A : 0);
        break;
    }
    }
}

static int random_cases(uint64_t seed, int cases)
{
    int fails = 0;
    rng = seed;
    for (int c = 0; c < cases && fails < 3; c++) {
        Gen g = {0};
        int n = 1 + (int)rn(12);
        for (int i = 0; i < n && g.code.n < 400; i++) {
            gen_one(&g);
        }
        State in;
        random_state(&in);
        char name[64];
        snprintf(name, sizeof(name), "random/seed-%" PRIu64 "/case-%d", seed, c);
        if (!diff_case(name, g.code.b, g.code.n, &in, g.undef)) {
            fails++;
        }
    }
    return fails;
}

/* ---- directed cases ---- */

static State base_state(void)
{
    State s = {0};
    s.regs[RSP] = STACK_TOP;
    s.regs[R15] = DATA + 0x800;
    s.flags = RFLAGS_FIXED | RFLAGS_IF;
    return s;
}

static bool directed(const char *name, const uint8_t *code, int n, State in, uint64_t undef)
{
    char full[96];
    snprintf(full, sizeof(full), "directed/%s", name);
    bool ok = diff_case(full, code, n, &in, undef);
    if (ok && verbose) {
        printf("ok %s\n", full);
    }
    return ok;
}

#define CODE_OF(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_directed(void)
{
    int before = unit_failures;
    State s = base_state();
    /* carry chains: 128-bit add and sub through adc/sbb, carries set by stc */
    static const uint64_t pairs[][2] = {
        {~0ull, 1}, {0x8000000000000000ull, 0x8000000000000000ull}, {0, 0}, {~0ull, ~0ull}};
    for (size_t i = 0; i < 4; i++) {
        s = base_state();
        s.regs[RAX] = pairs[i][0];
        s.regs[RDX] = pairs[i][0];
        s.regs[RBX] = pairs[i][1];
        s.regs[RCX] = pairs[i][1];
        /* add rax,rbx; adc rdx,rcx; adc al,bl; sbb ecx,edx; sbb bx,ax; stc; adc rbx,0 */
        directed("carry-chain",
                 CODE_OF(0x48, 0x01, 0xd8, 0x48, 0x11, 0xca, 0x10, 0xd8, 0x19, 0xd1, 0x66, 0x19,
                         0xc3, 0xf9, 0x48, 0x83, 0xd3, 0x00),
                 s, 0);
    }
    /* shifts by CL = 0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 255 at every size, with flags set */
    static const uint8_t counts[] = {0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 255};
    for (size_t i = 0; i < sizeof(counts); i++) {
        for (int op = 0; op < 8; op++) {
            if (op == 6) {
                continue;
            }
            s = base_state();
            s.regs[RCX] = counts[i];
            s.regs[RAX] = 0x8123456789abcdefull;
            s.regs[RBX] = 0x00000000fedcba98ull;
            s.flags |= CC_C | CC_O | CC_Z;
            uint8_t m = (uint8_t)(0xc0 | (op << 3));
            uint8_t mb = (uint8_t)(m | 3);
            /* shl al,cl; shl bx,cl; shl eax,cl; shl rbx,cl; shl rax,cl (each its op) */
            directed("shift-by-cl",
                     CODE_OF(0xd2, m, 0x66, 0xd3, mb, 0xd3, m, 0x48, 0xd3, mb, 0x48, 0xd3, m), s,
                     CC_A | (op < 4 || counts[i] > 1 ? CC_O : 0) | (counts[i] >= 8 ? CC_C : 0));
            /* the last one alone: flags of a single 64-bit shift, AF masked only */
            directed("shift64-by-cl", CODE_OF(0x48, 0xd3, m), s,
                     CC_A | ((counts[i] & 63) > 1 ? CC_O : 0));
        }
    }
    /* div/idiv edge values that do not fault */
    struct {
        uint64_t rdx, rax, div;
        uint8_t modrm_reg; /* 6 div, 7 idiv */
    } divs[] = {
        {0, ~0ull, 1, 6},
        {0xfffffffffffffffeull, ~0ull, ~0ull, 6}, /* quotient 0xffff..ff */
        {~0ull, 0x8000000000000000ull, 1, 7},     /* INT64_MIN / 1 */
        {~0ull, ~0ull, ~0ull, 7},                 /* -1 / -1 */
        {0, 7, 0xfffffffffffffffdull, 7},         /* 7 / -3 */
        {~0ull, 0xfffffffffffffff9ull, 3, 7},     /* -7 / 3 */
    };
    for (size_t i = 0; i < sizeof(divs) / sizeof(divs[0]); i++) {
        s = base_state();
        s.regs[RDX] = divs[i].rdx;
        s.regs[RAX] = divs[i].rax;
        s.regs[RBX] = divs[i].div;
        directed("div64", CODE_OF(0x48, 0xf7, (uint8_t)(0xc3 | (divs[i].modrm_reg << 3))), s,
                 F_ALL);
    }
    s = base_state();
    s.regs[RAX] = 0xfe01; /* 8-bit: AX / BL = 255 */
    s.regs[RBX] = 0xff;
    directed("div8", CODE_OF(0xf6, 0xf3), s, F_ALL);
    s.regs[RAX] = 0xff81; /* -127 / -1 = 127 */
    directed("idiv8", CODE_OF(0xf6, 0xfb), s, F_ALL);
    /* imul overflow at every size, and one-operand mul high halves */
    s = base_state();
    s.regs[RAX] = 0x7fffffffffffffffull;
    s.regs[RBX] = 2;
    s.regs[RCX] = 0x40000000;
    directed(
        "imul-overflow",
        CODE_OF(0x48, 0x0f, 0xaf, 0xc3, 0x0f, 0xaf, 0xcb, 0x66, 0x6b, 0xc9, 0x7f, 0x48, 0xf7, 0xeb),
        s, CC_S | CC_Z | CC_A | CC_P);
    /* cmpxchg: equal and not equal, memory and register, and cmpxchg rax, rcx */
    s = base_state();
    s.regs[RAX] = 5;
    s.regs[RCX] = 9;
    s.regs[RBX] = 5;
    directed("cmpxchg-equal", CODE_OF(0x48, 0x0f, 0xb1, 0xcb), s, 0);
    s.regs[RBX] = 6;
    directed("cmpxchg-unequal", CODE_OF(0x48, 0x0f, 0xb1, 0xcb), s, 0);
    directed("cmpxchg-rax", CODE_OF(0x48, 0x0f, 0xb1, 0xc8, 0x0f, 0xb1, 0xc0), s, 0);
    directed("cmpxchg32-unequal-keeps-upper", CODE_OF(0x0f, 0xb1, 0xcb), s, 0);
    s.regs[RAX] = 0x1111111122222222ull;
    directed("cmpxchg-mem", CODE_OF(0x49, 0x0f, 0xb1, 0x0f, 0x41, 0x0f, 0xb1, 0x4f, 0x08), s, 0);
    /* string ops: rep movs/stos/cmps/scas forward and backward, and with rcx = 0 */
    for (int df = 0; df < 2; df++) {
        for (int rcx = 0; rcx < 40; rcx += 13) {
            s = base_state();
            s.regs[RSI] = DATA + 0x100;
            s.regs[RDI] = DATA + 0x140; /* overlapping forward copy */
            s.regs[RCX] = (uint64_t)rcx;
            s.regs[RAX] = 0x4142434445464748ull;
            s.flags |= df ? RFLAGS_DF : 0;
            directed("rep-movsb", CODE_OF(0xf3, 0xa4), s, 0);
            directed("rep-movsq", CODE_OF(0xf3, 0x48, 0xa5), s, 0);
            directed("rep-stosw", CODE_OF(0xf3, 0x66, 0xab), s, 0);
            directed("rep-stosb", CODE_OF(0xf3, 0xaa), s, 0);
            directed("repe-cmpsb", CODE_OF(0xf3, 0xa6), s, 0);
            directed("repne-scasd", CODE_OF(0xf2, 0xaf), s, 0);
            directed("lodsq", CODE_OF(0x48, 0xad, 0xac), s, 0);
            s.regs[RDI] = s.regs[RSI]; /* equal strings: repe cmps runs to the end */
            directed("repe-cmpsq-equal", CODE_OF(0xf3, 0x48, 0xa7), s, 0);
        }
    }
    /* high-byte registers: add ah, bh; xchg ch, dl; setc dh; movzx eax, bh */
    s = base_state();
    s.regs[RAX] = 0x1122334455667788ull;
    s.regs[RBX] = 0x99aabbccddeeff00ull;
    s.regs[RCX] = 0x0102030405060708ull;
    s.regs[RDX] = 0x1020304050607080ull;
    directed("high-bytes",
             CODE_OF(0x00, 0xfc, 0x86, 0xd5, 0x0f, 0x92, 0xc6, 0x0f, 0xb6, 0xc7, 0x80, 0xe4, 0x0f),
             s, CC_A);
    /* a loop the cache runs many times: chaining and the jump cache (call/ret inside) */
    s = base_state();
    s.regs[RCX] = 1000;
    /* L: add rax, rcx; call f; dec rcx; jnz L; jmp end; f: imul rbx, rax, 3; ret; end: */
    directed("loop-with-calls",
             CODE_OF(0x48, 0x01, 0xc8, 0xe8, 0x07, 0x00, 0x00, 0x00, 0x48, 0xff, 0xc9, 0x75, 0xf3,
                     0xeb, 0x05, 0x48, 0x6b, 0xd8, 0x03, 0xc3),
             s, 0);
    /* bt with a register offset on memory reaches outside the operand, both signs */
    s = base_state();
    s.regs[RAX] = 1000;
    s.regs[RCX] = (uint64_t)-1000;
    s.regs[RDX] = 77;
    /* bts [r15], rax; btr [r15], rcx; btc dword [r15+8], edx; bt word [r15], dx */
    directed("bt-mem-reg-offset",
             CODE_OF(0x49, 0x0f, 0xab, 0x07, 0x49, 0x0f, 0xb3, 0x0f, 0x41, 0x0f, 0xbb, 0x57, 0x08,
                     0x66, 0x41, 0x0f, 0xa3, 0x17),
             s, CC_O | CC_S | CC_A | CC_P);
    s = base_state();
    s.regs[RAX] = 0x8123456789abcdefull;
    s.regs[RBX] = 0xfedcba9876543210ull;
    s.regs[RCX] = 13;
    s.regs[RDX] = 0x0f0f0f0f0f0f0f0full;
    /* shld rax, rbx, 5; shrd eax, ebx, cl; shld ax, bx, 3; shrd [r15], rdx, 7; shld rbx, rax, cl */
    directed("shld-shrd",
             CODE_OF(0x48, 0x0f, 0xa4, 0xd8, 0x05, 0x0f, 0xad, 0xd8, 0x66, 0x0f, 0xa4, 0xd8, 0x03,
                     0x49, 0x0f, 0xac, 0x17, 0x07, 0x48, 0x0f, 0xa5, 0xc3),
             s, CC_O | CC_A);
    s = base_state();
    s.regs[RAX] = 0x8123456789abcdefull;
    s.regs[RBX] = 0x1111;
    s.regs[RCX] = 0x2222;
    s.regs[RDX] = 77;
    s.regs[RSI] = 0x3333;
    s.regs[RDI] = 0x4444;
    /* lock add/xadd/cmpxchg/inc/bts, xchg, lock sub word, lock neg byte, lock adc, lock cmpxchg */
    directed("lock-rmw",
             CODE_OF(0xf0, 0x49, 0x01, 0x07, 0xf0, 0x49, 0x0f, 0xc1, 0x5f, 0x08, 0xf0, 0x49, 0x0f,
                     0xb1, 0x4f, 0x10, 0xf0, 0x41, 0xff, 0x47, 0x18, 0xf0, 0x49, 0x0f, 0xab, 0x57,
                     0x20, 0x49, 0x87, 0x77, 0x28, 0xf0, 0x66, 0x41, 0x29, 0x7f, 0x30, 0xf0, 0x41,
                     0xf6, 0x5f, 0x38, 0xf0, 0x49, 0x11, 0x07, 0xf0, 0x49, 0x0f, 0xb1, 0x0f),
             s, 0);
    /* SSE2: loads, pxor, pcmpeqb, pmovmskb, paddd, punpcklbw, pshufd, psrldq, stores, movq,
     * psubusb, movdqa, pminub (results land in memory and rax/rbx) */
    directed("sse2",
             CODE_OF(0xf3, 0x41, 0x0f, 0x6f, 0x07, 0xf3, 0x41, 0x0f, 0x6f, 0x4f, 0x10, 0x66, 0x0f,
                     0xef, 0xd2, 0x66, 0x0f, 0x74, 0xd0, 0x66, 0x0f, 0xd7, 0xc2, 0x66, 0x0f, 0xfe,
                     0xc1, 0x66, 0x0f, 0x60, 0xc8, 0x66, 0x0f, 0x70, 0xd9, 0x1b, 0x66, 0x0f, 0x73,
                     0xdb, 0x03, 0xf3, 0x41, 0x0f, 0x7f, 0x47, 0x20, 0xf3, 0x41, 0x0f, 0x7f, 0x4f,
                     0x30, 0xf3, 0x41, 0x0f, 0x7f, 0x5f, 0x40, 0x66, 0x48, 0x0f, 0x7e, 0xdb, 0x66,
                     0x0f, 0xd8, 0xc1, 0xf3, 0x41, 0x0f, 0x7f, 0x47, 0x50, 0x66, 0x41, 0x0f, 0x6f,
                     0x67, 0x60, 0x66, 0x0f, 0xda, 0xe0, 0x66, 0x41, 0x0f, 0x7f, 0x67, 0x70),
             base_state(), 0);
    /* 16-byte SSE accesses across a page boundary (the inline TLB path's slow path): movdqu
     * xmm0, [r15]; movdqu [rsp - 0x1008], xmm0; movdqu xmm1, [rsp - 0x1009]; pcmpeqb xmm1,
     * xmm0; pmovmskb eax, xmm1; movups [rsp - 0x1004], xmm1 */
    directed("sse-cross-page",
             CODE_OF(0xf3, 0x41, 0x0f, 0x6f, 0x07, 0xf3, 0x0f, 0x7f, 0x84, 0x24, 0xf8, 0xef, 0xff,
                     0xff, 0xf3, 0x0f, 0x6f, 0x8c, 0x24, 0xf7, 0xef, 0xff, 0xff, 0x66, 0x0f, 0x74,
                     0xc8, 0x66, 0x0f, 0xd7, 0xc1, 0x0f, 0x11, 0x8c, 0x24, 0xfc, 0xef, 0xff, 0xff),
             base_state(), 0);
    /* SSE2 double/float scalar: pi and e through add/mul/div/sqrt, ucomisd (flags), cvttsd2si,
     * cvtsi2sd, subsd, cvtsd2ss; results in rcx, rdx, rsi and the flags */
    directed("sse2-float",
             CODE_OF(0x48, 0xb8, 0x18, 0x2d, 0x44, 0x54, 0xfb, 0x21, 0x09, 0x40, 0x66, 0x48, 0x0f,
                     0x6e, 0xc0, 0x48, 0xbb, 0x69, 0x57, 0x14, 0x8b, 0x0a, 0xbf, 0x05, 0x40, 0x66,
                     0x48, 0x0f, 0x6e, 0xcb, 0xf2, 0x0f, 0x58, 0xc1, 0xf2, 0x0f, 0x59, 0xc1, 0xf2,
                     0x0f, 0x5e, 0xc1, 0xf2, 0x0f, 0x51, 0xd0, 0x66, 0x0f, 0x2e, 0xd1, 0xf2, 0x48,
                     0x0f, 0x2c, 0xca, 0xf2, 0x48, 0x0f, 0x2a, 0xd9, 0xf2, 0x0f, 0x5c, 0xda, 0x66,
                     0x48, 0x0f, 0x7e, 0xda, 0xf2, 0x0f, 0x5a, 0xe0, 0x66, 0x0f, 0x7e, 0xe6),
             base_state(), 0);
    s = base_state();
    s.regs[RBX] = 0x11112222;
    s.regs[RCX] = 0x33334444;
    /* mov rax/rdx from [r15] (equal: stores rcx:rbx); cmpxchg8b [r15]; cmpxchg8b [r15+8]
     * (almost surely different: loads edx:eax) */
    directed("cmpxchg8b",
             CODE_OF(0x41, 0x8b, 0x07, 0x41, 0x8b, 0x57, 0x04, 0x41, 0x0f, 0xc7, 0x0f, 0x41, 0x0f,
                     0xc7, 0x4f, 0x08),
             s, 0);
    /* mov rax/rdx from [r15] (equal: stores rcx:rbx); cmpxchg16b [r15]; cmpxchg16b [r15+16] */
    directed("cmpxchg16b",
             CODE_OF(0x49, 0x8b, 0x07, 0x49, 0x8b, 0x57, 0x08, 0x49, 0x0f, 0xc7, 0x0f, 0x49, 0x0f,
                     0xc7, 0x4f, 0x10),
             s, 0);
    /* mov rbp, rsp; enter 0x10, 0 / 1 / 3 / 31 (the nesting levels copy frame pointers from
     * [rbp]); o16 enter 8, 2; then leave */
    static const uint8_t levels[] = {0, 1, 3, 31};
    for (size_t i = 0; i < sizeof(levels); i++) {
        s = base_state();
        s.regs[RBX] = 0x1234;
        directed("enter",
                 CODE_OF(0x48, 0x89, 0xe5, 0x48, 0x83, 0xed, 0x40, 0xc8, 0x10, 0x00, levels[i],
                         0x66, 0xc8, 0x08, 0x00, 0x02, 0x48, 0x89, 0xe0, 0x48, 0x89, 0xe9, 0x66,
                         0xc9),
                 s, 0);
    }
    char dname[128];
    snprintf(dname, sizeof(dname),
             "%sdirected: carry chains, shifts, div, imul, cmpxchg, strings, high bytes, loops, "
             "bt, shld/shrd, cmpxchg8b/16b, enter",
             mode);
    CHECK(dname, unit_failures == before);
}

/* An address the system-mode page tables leave unmapped (outside the identity-mapped region). */
#define UNMAPPED (REGION + 0x40000000ull)

/* Precise exceptions: state at the faulting instruction equals the native state of the prefix. */
static void test_precise(void)
{
    struct {
        const char *name;
        uint8_t code[32];
        int prefix, n;
        int excp;
        uint64_t rbx;
    } cases[] = {
        /* add rax, 5; inc rcx; div rbx (rbx = 0) */
        {"de-div-zero",
         {0x48, 0x83, 0xc0, 0x05, 0x48, 0xff, 0xc1, 0x48, 0xf7, 0xf3},
         7,
         10,
         EXCP_DE,
         0},
        /* mov rdx, -1 ... div rbx with rdx >= rbx: quotient overflow */
        {"de-div-overflow",
         {0x48, 0xc7, 0xc2, 0xff, 0xff, 0xff, 0x7f, 0x48, 0x83, 0xc0, 0x05, 0x48, 0xf7, 0xf3},
         11,
         14,
         EXCP_DE,
         3},
        /* sub rsp, 8; xor eax, eax; ud2 */
        {"ud-ud2", {0x48, 0x83, 0xec, 0x08, 0x31, 0xc0, 0x0f, 0x0b}, 6, 8, EXCP_UD, 0},
        /* cmp rax, rbx (flags live into the fault); idiv rbx (0) */
        {"de-flags-live", {0x48, 0x39, 0xd8, 0x48, 0xf7, 0xfb}, 3, 6, EXCP_DE, 0},
        /* system mode only (rbx unmapped): cmp rax, rbx; mov rcx, [rbx] -> #PF, flags live */
        {"pf-flags-live", {0x48, 0x39, 0xd8, 0x48, 0x8b, 0x0b}, 3, 6, EXCP_PF, UNMAPPED},
        /* cmp rax, rbx; mov rax, [rsp]; mov [rsp+8], rax; mov rcx, [rbx] -> #PF: the flags
           stay saved across two accesses that succeed, the guest's rax changes meanwhile */
        /* cmp rax, rbx; movdqa xmm0, [rsp+1] -> #GP (misaligned), flags live */
        {"gp-movdqa-misaligned",
         {0x48, 0x39, 0xd8, 0x66, 0x0f, 0x6f, 0x44, 0x24, 0x01},
         3,
         9,
         EXCP_GP,
         0},
        /* cmp rax, rbx; pcmpeqb xmm0, [rsp+4] -> #GP */
        {"gp-pcmpeqb-misaligned",
         {0x48, 0x39, 0xd8, 0x66, 0x0f, 0x74, 0x44, 0x24, 0x04},
         3,
         9,
         EXCP_GP,
         0},
        /* cmp rax, rbx; movdqu [rbx], xmm1 -> #PF */
        {"pf-movdqu-store", {0x48, 0x39, 0xd8, 0xf3, 0x0f, 0x7f, 0x0b}, 3, 7, EXCP_PF, UNMAPPED},
        /* cmp rax, rbx; movdqu xmm1, [rbx] -> #PF */
        {"pf-movdqu-load", {0x48, 0x39, 0xd8, 0xf3, 0x0f, 0x6f, 0x0b}, 3, 7, EXCP_PF, UNMAPPED},
        {"pf-flags-live-2",
         {0x48, 0x39, 0xd8, 0x48, 0x8b, 0x04, 0x24, 0x48, 0x89, 0x44, 0x24, 0x08, 0x48, 0x8b, 0x0b},
         12,
         15,
         EXCP_PF,
         UNMAPPED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].excp == EXCP_PF && !env->softmmu) {
            continue; /* flat mode has no unmapped memory */
        }
        State in = base_state();
        in.regs[RAX] = 0x123456789ull;
        in.regs[RBX] = cases[i].rbx;
        in.flags |= CC_C | CC_S;
        State nat, tcg;
        place_code(cases[i].code, cases[i].prefix);
        reset_memory();
        run_native(&in, &nat);
        place_code(cases[i].code, cases[i].n);
        tcg_exec_flush();
        reset_memory();
        int excp = run_tcg(&in, &tcg);
        bool ok = excp == cases[i].excp && env->rip == CODE + (uint64_t)cases[i].prefix &&
                  memcmp(nat.regs, tcg.regs, sizeof(nat.regs)) == 0 &&
                  ((nat.flags ^ tcg.flags) & CC_MASK) == 0;
        char name[64];
        snprintf(name, sizeof(name), "%sprecise/%s", mode, cases[i].name);
        if (!ok) {
            printf("# exit %d rip %#" PRIx64 " (want %d at %#" PRIx64 ")\n", excp, env->rip,
                   cases[i].excp, CODE + (uint64_t)cases[i].prefix);
            dump_state("native prefix", &nat);
            dump_state("translated", &tcg);
        }
        CHECK(name, ok);
    }
}

/* mov eax, v; jmp EXIT_ADDR, written at physical pa for execution at virtual va */
static void put_mov_exit(uint64_t pa, uint64_t va, uint32_t v)
{
    uint8_t *p = at(pa);
    p[0] = 0xb8;
    memcpy(p + 1, &v, 4);
    p[5] = 0xe9;
    int32_t rel = (int32_t)(EXIT_ADDR - (va + 10));
    memcpy(p + 6, &rel, 4);
}

/* run from CODE (where the caller put a jmp) to EXIT_ADDR; returns rax */
static uint64_t run_jmp(void)
{
    State in = base_state(), out;
    (void)run_tcg(&in, &out);
    return out.regs[RAX];
}

/*
 * System mode: the jump cache after a CR3 write. The cache is indexed by the low 16 bits of the
 * virtual PC; a CR3 write must forget slots filled through non-global mappings, also a slot that
 * earlier held a TB of a global page (those are not logged for clearing).
 */
static void test_jmp_cache_cr3(void)
{
    uint64_t *pt = (uint64_t *)(pt_mem + 0x3000);
    const uint64_t va1 = REGION + 0x38000, va2 = REGION + 0x68000; /* same jump-cache slot */
    const uint64_t alt = REGION + 0x78000;
    unsigned i1 = (unsigned)((va1 - REGION) >> 12), i2 = (unsigned)((va2 - REGION) >> 12);
    /* CODE: jmp va1 or va2, chosen per run */
    uint8_t jmp[5] = {0xe9};
    int32_t rel;
    put_mov_exit(va1, va1, 1);
    put_mov_exit(va2, va2, 2);
    put_mov_exit(alt, va2, 3);
    uint64_t save_cr4 = env->cr[4];
    env->cr[4] |= CR4_PGE;
    pt[i1] |= 0x100; /* va1 global */
    x86_tlb_flush(env, true);
    rel = (int32_t)(va1 - (CODE + 5));
    memcpy(jmp + 1, &rel, 4);
    memcpy(at(CODE), jmp, 5);
    tcg_exec_flush();
    uint64_t r1 = run_jmp(); /* slot filled by va1's TB (global, not logged) */
    rel = (int32_t)(va2 - (CODE + 5));
    memcpy(jmp + 1, &rel, 4);
    memcpy(at(CODE), jmp, 5);
    tb_invalidate_phys_page(CODE);
    uint64_t r2 = run_jmp();   /* the same slot now holds va2's TB (not global) */
    pt[i2] = alt | 3;          /* va2 now maps the page that says 3 */
    x86_tlb_flush(env, false); /* what a CR3 write does */
    uint64_t r3 = run_jmp();
    CHECK("softmmu/jmp-cache/cr3-write-forgets-non-global", r1 == 1 && r2 == 2 && r3 == 3);
    pt[i2] = va2 | 3;
    pt[i1] &= ~0x100ull;
    env->cr[4] = save_cr4;
    x86_tlb_flush(env, true);
    tcg_exec_flush();
}

/*
 * System mode: a TB in a jump-cache slot whose page is then written (self-modifying code) must
 * not be found by the inline probe of a jump from another page, which reads the slot itself.
 */
static void test_jmp_cache_smc(void)
{
    const uint64_t va = REGION + 0x38000;
    uint8_t jmp[5] = {0xe9};
    int32_t rel = (int32_t)(va - (CODE + 5));
    memcpy(jmp + 1, &rel, 4);
    memcpy(at(CODE), jmp, 5);
    put_mov_exit(va, va, 1);
    tcg_exec_flush();
    uint64_t r1 = run_jmp(); /* the loop translates va's TB and fills its slot */
    uint64_t r2 = run_jmp(); /* CODE's TB now reaches it through the slot */
    put_mov_exit(va, va, 2);
    tb_invalidate_phys_page(va); /* what a guest store to that page does */
    uint64_t r3 = run_jmp();
    CHECK("softmmu/jmp-cache/smc-invalidates-slot", r1 == 1 && r2 == 1 && r3 == 2);
    tcg_exec_flush();
}

/* The IR optimizer: constants fold away and dead flags become plain values. */
static void test_optimizer(void)
{
    /* mov eax, 5; add eax, 7; xor ebx, ebx; lea ecx, [rax+rbx*2+1]; mov edx, 1 */
    static const uint8_t code[] = {0xb8, 0x05, 0x00, 0x00, 0x00, 0x83, 0xc0, 0x07, 0x31, 0xdb, 0x8d,
                                   0x4c, 0x58, 0x01, 0xba, 0x01, 0x00, 0x00, 0x00, 0x85, 0xc0};
    place_code(code, sizeof(code));
    TCGContext *s = calloc(1, sizeof(*s));
    tcg_ctx_init(s);
    tcg_func_start(s);
    x86_translate(s, env, CODE, TBF_CODE64);
    tcg_optimize(s);
    tcg_liveness(s);
    int arith = 0, movs_const = 0;
    for (int i = 0; i < s->nb_ops; i++) {
        TCGOp *op = &s->ops[i];
        if (op->opc == OP_aluf && op->sub != ALU_TEST) {
            arith++;
        }
        if (op->opc >= OP_add && op->opc <= OP_deposit8h) {
            arith++;
        }
        if (op->opc == OP_mov && s->temps[op->args[1]].kind == TEMP_CONST) {
            movs_const++;
        }
    }
    if (verbose) {
        tcg_dump(s, stdout);
    }
    CHECK("optimizer/constants-folded", arith == 0 && movs_const >= 4);

    /* movzx eax, word [r15]; and eax, 0x7fff; mov ecx, eax; shr ecx, 3; add edx, ecx: the
       zero-extensions a 32-bit write implies are already known and vanish */
    static const uint8_t code2[] = {0x41, 0x0f, 0xb7, 0x07, 0x25, 0xff, 0x7f, 0x00,
                                    0x00, 0x89, 0xc1, 0xc1, 0xe9, 0x03, 0x01, 0xca};
    place_code(code2, sizeof(code2));
    tcg_func_start(s);
    x86_translate(s, env, CODE, TBF_CODE64);
    tcg_optimize(s);
    tcg_liveness(s);
    int ext = 0;
    for (int i = 0; i < s->nb_ops; i++) {
        ext += s->ops[i].opc == OP_ext32u || s->ops[i].opc == OP_ext16u;
    }
    if (verbose) {
        tcg_dump(s, stdout);
    }
    CHECK("optimizer/known-zero-extensions-dropped", ext == 0);

    /* sha256's pattern: shr eax, 10; rol ebx, 13; rol ecx, 15; imul edx, esi; xor eax, ebx;
       jmp: the model's fix-ups of SHR's AF/OF, the rotates' OF and IMUL's SF/ZF/PF are dropped,
       since XOR writes every flag before anything reads them (the rotates write only CF and OF:
       per-flag liveness sees past them); the TB's end keeps XOR's flags live */
    static const uint8_t code3[] = {0xc1, 0xe8, 0x0a, 0xc1, 0xc3, 0x0d, 0xc1, 0xc1,
                                    0x0f, 0x0f, 0xaf, 0xd6, 0x31, 0xd8, 0xeb, 0xfe};
    place_code(code3, sizeof(code3));
    tcg_func_start(s);
    x86_translate(s, env, CODE, TBF_CODE64);
    tcg_optimize(s);
    tcg_liveness(s);
    int fix = 0;
    for (int i = 0; i < s->nb_ops; i++) {
        fix += s->ops[i].opc == OP_getflags || s->ops[i].opc == OP_setflags ||
               s->ops[i].opc == OP_call;
    }
    if (verbose) {
        tcg_dump(s, stdout);
    }
    CHECK("optimizer/dead-flag-fixups-dropped", fix == 0);
    /* ... and kept when the flags are read: the same without the XOR */
    static const uint8_t code4[] = {0xc1, 0xe8, 0x0a, 0xc1, 0xc3, 0x0d, 0xeb, 0xfe};
    place_code(code4, sizeof(code4));
    tcg_func_start(s);
    x86_translate(s, env, CODE, TBF_CODE64);
    tcg_optimize(s);
    tcg_liveness(s);
    fix = 0;
    for (int i = 0; i < s->nb_ops; i++) {
        fix += s->ops[i].opc == OP_setflags;
    }
    CHECK("optimizer/live-flag-fixups-kept", fix == 2);
    free(s);
}

/* ---- bench: a loop natively and translated ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench(void)
{
    /* L: mov rdx, rax; shr rdx, 3; xor rax, rdx; imul rax, rax, 0x2545f491; add rbx, rax;
     *    movzx edx, al; add [r15+rdx*4], ebx; dec rcx; jnz L    (9 instructions) */
    static const uint8_t code[] = {0x48, 0x89, 0xc2, 0x48, 0xc1, 0xea, 0x03, 0x48, 0x31, 0xd0, 0x48,
                                   0x69, 0xc0, 0x91, 0xf4, 0x45, 0x25, 0x48, 0x01, 0xc3, 0x0f, 0xb6,
                                   0xd0, 0x41, 0x01, 0x1c, 0x97, 0x48, 0xff, 0xc9, 0x75, 0xe0};
    const uint64_t iters = 50000000;
    State in = base_state(), nat, tcg;
    in.regs[RAX] = 12345;
    in.regs[RCX] = iters;
    in.regs[R15] = DATA;
    place_code(code, sizeof(code));
    tcg_exec_flush();
    double tn = 1e9, tt = 1e9; /* best of 5: the machine is shared and noisy */
    for (int rep = 0; rep < 5; rep++) {
        reset_memory();
        double t0 = now();
        run_native(&in, &nat);
        double t1 = now();
        reset_memory();
        env->tb_budget = 0;
        memcpy(env->regs, in.regs, sizeof(env->regs));
        x86_set_rflags(env, in.flags);
        env->rip = CODE;
        env->stop_rip = EXIT_ADDR;
        tcg_cpu_exec(env);
        double t2 = now();
        memcpy(tcg.regs, env->regs, sizeof(tcg.regs));
        tn = t1 - t0 < tn ? t1 - t0 : tn;
        tt = t2 - t1 < tt ? t2 - t1 : tt;
    }
    double t0 = 0, t1 = tn, t2 = tn + tt;
    double ginsn = (double)iters * 9;
    printf("tcg-loop: native %.3f s (%.0f Minsn/s), translated %.3f s (%.0f Minsn/s), "
           "slowdown %.2fx, results %s\n",
           t1 - t0, ginsn / (t1 - t0) / 1e6, t2 - t1, ginsn / (t2 - t1) / 1e6,
           (t2 - t1) / (t1 - t0),
           memcmp(nat.regs, tcg.regs, sizeof(tcg.regs)) ? "DIFFER" : "match");
    printf("tcg-stats: %" PRIu64 " TBs, %" PRIu64 " chains, %" PRIu64 " host bytes for %" PRIu64
           " guest insns\n",
           tcg_stats.tbs, tcg_stats.chains, tcg_stats.host_bytes, tcg_stats.guest_insns);
}

/* ---- x87 ---- */

/*
 * The pool the x87 cases read (offsets from r15): 80-bit reals at 0x000 (16 x 16 bytes), doubles
 * at 0x100, floats at 0x180, integers at 0x1c0 (read as m16/m32/m64), control words at 0x200.
 * Stores go to 0x300..0x3ff; the final FNSAVE image to 0x400.
 */
#define XP_M80  0x000
#define XP_M64  0x100
#define XP_M32  0x180
#define XP_INT  0x1c0
#define XP_CW   0x200
#define XP_OUT  0x300
#define XP_SAVE 0x400

static void put_ld(uint8_t *p, uint64_t mant, uint16_t se)
{
    memcpy(p, &mant, 8);
    memcpy(p + 8, &se, 2);
}

/* Fill the pool in data_init (r15 = DATA + 0x800) with special and random values. */
static void x87_pool(void)
{
    uint8_t *d = data_init + 0x800;
    static const struct {
        uint64_t m;
        uint16_t se;
    } m80[] = {
        {0, 0},                                   /* +0 */
        {0, 0x8000},                              /* -0 */
        {0x8000000000000000ull, 0x3fff},          /* 1 */
        {0xc90fdaa22168c235ull, 0x4000},          /* pi */
        {0x8000000000000000ull, 0x7fff},          /* +inf */
        {0xc000000000000000ull, 0xffff},          /* -qnan (indefinite) */
        {0xa000000000000000ull, 0x7fff},          /* snan */
        {0x0000000000000001ull, 0x0000},          /* denormal */
        {0x4000000000000000ull, 0x3fff},          /* unnormal */
        {0xffffffffffffffffull, 0x7ffe},          /* max */
        {0x8000000000000000ull, 0x0001},          /* min normal */
        {0xb504f333f9de6484ull, 0x3ffe},          /* 1/sqrt 2 */
        {0x8000000000000001ull, 0xc03e},          /* -2^63 - 1 */
        {0xc000000000000000ull, 0x4000 | 0x8000}, /* -3 */
        {0x9c40000000000000ull, 0x400c},          /* 10000 */
        {0x8000000000000000ull, 0x3ffe},          /* 0.5 */
    };
    for (int i = 0; i < 16; i++) {
        memset(d + XP_M80 + 16 * i, 0, 16);
        put_ld(d + XP_M80 + 16 * i, m80[i].m, m80[i].se);
    }
    static const double m64[] = {0.0,     -0.0,   1.0, -2.5,      3.141592653589793, 1e308,
                                 -1e-310, 1e-300, 0.1, 2.0 / 3.0, 123456789.75,      -7.0,
                                 1e18,    0.5,    4.5, -4.5};
    memcpy(d + XP_M64, m64, sizeof(m64));
    uint64_t nan = 0x7ff4000000000000ull, inf = 0xfff0000000000000ull;
    memcpy(d + XP_M64 + 8 * 14, &nan, 8);
    memcpy(d + XP_M64 + 8 * 15, &inf, 8);
    static const float m32[] = {0.0f, -1.0f,  1.5f,   3.4e38f, 1e-40f, 0.3f,     -2.75f, 1e10f,
                                2.5f, 1e-45f, 100.0f, -0.0f,   7.0f,   65535.5f, -3.5f,  1e-10f};
    memcpy(d + XP_M32, m32, sizeof(m32));
    static const int64_t ints[] = {0, -1, 12345, -32768, 0x7fffffff, INT64_MIN, 1000000007, 99};
    memcpy(d + XP_INT, ints, sizeof(ints));
    /* control words: all exceptions masked, every rounding and precision control */
    for (int i = 0; i < 16; i++) {
        uint16_t cw = (uint16_t)(0x3f | (i & 3) << 10 | ((i >> 2) & 3) << 8 | 0x40);
        memcpy(d + XP_CW + 2 * i, &cw, 2);
    }
}

/* D8+op with a register ModRM, or a memory form [r15 + disp] */
static void x87r(Buf *b, int op, int modrm)
{
    put(b, 0xd8 + (unsigned)op);
    put(b, (unsigned)modrm);
}

/* FNINIT leaves the registers' contents, which FNSAVE shows: give all eight a known value */
static void x87_begin(Buf *b)
{
    x87r(b, 3, 0xe3);
    for (int i = 0; i < 8; i++) {
        x87r(b, 1, 0xee); /* fldz */
    }
    x87r(b, 3, 0xe3);
}

static void x87m(Buf *b, int op, int reg, int disp)
{
    put(b, 0x41);
    put(b, 0xd8 + (unsigned)op);
    put(b, 0x87 | (unsigned)reg << 3); /* mod 2, rm 7 (r15), disp32 */
    put32(b, (uint32_t)disp);
}

static void clr_qword(Buf *b, int disp)
{
    static const uint8_t mov[] = {0x49, 0xc7, 0x87}; /* mov qword [r15+disp32], 0 */
    putn(b, mov, 3);
    put32(b, (uint32_t)disp);
    put32(b, 0);
}

static void clr_dword(Buf *b, int disp)
{
    static const uint8_t mov[] = {0x41, 0xc7, 0x87}; /* mov dword [r15+disp32], 0 */
    putn(b, mov, 3);
    put32(b, (uint32_t)disp);
    put32(b, 0);
}

/* end of an x87 case: FNSAVE the state, then clear its pointer fields (FIP/FCS/FOP/FDP/FDS:
 * this host's CPU may deprecate some of them) */
static void x87_end(Buf *b)
{
    x87m(b, 5, 6, XP_SAVE);
    clr_qword(b, XP_SAVE + 12);
    clr_qword(b, XP_SAVE + 20);
}

/* A register form the host executes (the same set the translator accepts). */
static int x87_rand_reg_form(int *op)
{
    for (;;) {
        int o = (int)rn(8), m = 0xc0 + (int)rn(64), r = (m >> 3) & 7;
        bool ok;
        switch (o) {
        case 1:
            /* not D9 F0-F4, F9-FF: the transcendental instructions are the model's (QEMU
             * 7.2's, compared with it in tests/tcg/modes.sh x87.S), FXTRACT, FSQRT, FRNDINT and
             * FSCALE leave C0 C2 C3 undefined (Vireo: the model's too) */
            ok = r == 0 || r == 1 || r == 3 || (r >= 6 && (m < 0xf0 || (m >= 0xf5 && m <= 0xf8))) ||
                 m == 0xd0 || (r == 4 && (m == 0xe0 || m == 0xe1 || m == 0xe4 || m == 0xe5)) ||
                 (r == 5 && m <= 0xee);
            break;
        case 2:
            ok = r < 4 || m == 0xe9;
            break;
        case 3:
            ok = r < 4 || r == 5 || r == 6 || m == 0xe2; /* fnclex */
            break;
        case 5:
            ok = r < 6;
            break;
        case 6:
            ok = r != 3 || m == 0xd9;
            break;
        case 7:
            ok = r < 4 || r == 5 || r == 6 || m == 0xe0; /* fnstsw ax */
            break;
        default:
            ok = true;
        }
        if (ok) {
            *op = o;
            return m;
        }
    }
}

/* A memory form with an operand from the pool (reads) or into the output area (stores). */
static void x87_rand_mem_form(Buf *b)
{
    static const struct {
        int op, reg, pool; /* pool < 0: store */
    } forms[] = {
        {0, -1, XP_M32}, {1, 0, XP_M32},  {1, 2, -4},     {1, 3, -4},  {2, -1, XP_INT},
        {3, 0, XP_INT},  {3, 1, -4},      {3, 2, -4},     {3, 3, -4},  {3, 5, XP_M80},
        {3, 7, -10},     {4, -1, XP_M64}, {5, 0, XP_M64}, {5, 1, -8},  {5, 2, -8},
        {5, 3, -8},      {6, -1, XP_INT}, {7, 0, XP_INT}, {7, 1, -2},  {7, 2, -2},
        {7, 3, -2},      {7, 4, XP_M80},  {7, 5, XP_INT}, {7, 6, -10}, {7, 7, -8},
        {1, 7, -2},      {5, 7, -2},
    };
    int k = (int)rn(sizeof(forms) / sizeof(forms[0]));
    int reg = forms[k].reg < 0 ? (int)rn(8) : forms[k].reg;
    int disp;
    if (forms[k].pool < 0) {
        disp = XP_OUT + 16 * (int)rn(16);
    } else if (forms[k].pool == XP_M80) {
        disp = XP_M80 + 16 * (int)rn(16);
    } else if (forms[k].pool == XP_M64) {
        disp = XP_M64 + 8 * (int)rn(16);
    } else if (forms[k].pool == XP_M32) {
        disp = XP_M32 + 4 * (int)rn(16);
    } else {
        disp = XP_INT + 8 * (int)rn(8);
    }
    x87m(b, forms[k].op, reg, disp);
}

static int x87_random_cases(uint64_t seed, int ncases)
{
    int fails = 0;
    rng = seed;
    for (int c = 0; c < ncases; c++) {
        Buf b = {0};
        x87_begin(&b);                           /* fninit */
        x87m(&b, 1, 5, XP_CW + 2 * (int)rn(16)); /* fldcw */
        int nload = (int)rn(5);
        for (int i = 0; i < nload; i++) {
            x87m(&b, 3, 5, XP_M80 + 16 * (int)rn(16)); /* fld m80 */
        }
        int n = 1 + (int)rn(10);
        for (int i = 0; i < n; i++) {
            int op;
            switch (rn(8)) {
            case 0:
            case 1:
            case 2:
                x87_rand_mem_form(&b);
                break;
            case 3:
                x87m(&b, 1, 6, XP_OUT + 0x80); /* fnstenv; fldenv */
                x87m(&b, 1, 4, XP_OUT + 0x80);
                clr_qword(&b, XP_OUT + 0x80 + 12);
                clr_qword(&b, XP_OUT + 0x80 + 20);
                break;
            default: {
                int m = x87_rand_reg_form(&op);
                x87r(&b, op, m);
            }
            }
        }
        x87_end(&b);
        State in;
        random_state(&in);
        char name[96];
        snprintf(name, sizeof(name), "%sx87/random seed %#" PRIx64 " case %d", mode, seed, c);
        if (!diff_case(name, b.b, b.n, &in, 0)) {
            if (++fails > 3) {
                break;
            }
        }
    }
    return fails;
}

/* A pending unmasked exception raises #MF at the next waiting x87 instruction (translated
 * only: natively it would be this process's SIGFPE). */
static void test_x87_mf(void)
{
    Buf b = {0};
    x87_begin(&b);               /* fninit */
    x87m(&b, 1, 5, XP_OUT);      /* fldcw [out]: ZE unmasked */
    x87m(&b, 3, 5, XP_M80 + 32); /* fld 1 */
    x87m(&b, 3, 5, XP_M80);      /* fld 0 */
    x87r(&b, 6, 0xf9);           /* fdivp: 1/0, ZE unmasked: no result, ES set */
    int mf_at = b.n;
    x87r(&b, 1, 0xe8); /* fld1: #MF */
    place_code(b.b, b.n);
    tcg_exec_flush();
    reset_memory();
    uint16_t cw = 0x37b;
    memcpy((uint8_t *)at(DATA) + 0x800 + XP_OUT, &cw, 2);
    State in = base_state(), out;
    uint64_t cr0 = env->cr[0];
    env->cr[0] |= CR0_NE; /* system mode: #MF needs CR0.NE (else FERR#, not modelled) */
    int e = run_tcg(&in, &out);
    env->cr[0] = cr0;
    unsigned top = (env->fpus >> 11) & 7;
    char name[64];
    snprintf(name, sizeof(name), "%sx87/unmasked-zero-divide-#MF", mode);
    CHECK(name, e == EXCP_MF && env->rip == CODE + (uint64_t)mf_at &&
                    (env->fpus & 0x8084) == 0x8084 && top == 6);
    env->fpuc = 0x37f;
    env->fpus = 0; /* nothing pending for the tests after this one */
    env->fptag_abridged = 0;
}

/* FST/FSTP to memory with an unmasked overflow (m32) or underflow (m64): the destination keeps
 * its old bytes, the stack is not popped, OE/UE and ES are set, and the next x87 instruction
 * raises #MF */
static void test_x87_store_unmasked(void)
{
    static const struct {
        const char *name;
        uint16_t cw, flag;
        int op; /* D9 (m32) or DD (m64) */
        uint16_t se;
    } cases[] = {
        {"overflow-m32", 0x377, 0x08, 1, 0x4100},  /* 2^257 > FLT_MAX */
        {"underflow-m64", 0x36f, 0x10, 5, 0x3000}, /* 2^-4095 (inexact) < DBL_MIN */
    };
    for (int i = 0; i < 2; i++) {
        for (int pop = 0; pop < 2; pop++) {
            Buf b = {0};
            x87_begin(&b);
            x87m(&b, 1, 5, XP_OUT);                        /* fldcw [out] */
            x87m(&b, 3, 5, XP_OUT + 0x10);                 /* fld m80 */
            x87m(&b, cases[i].op, 2 + pop, XP_OUT + 0x20); /* fst/fstp m32/m64 */
            int mf_at = b.n;
            x87r(&b, 1, 0xe8); /* fld1: #MF */
            place_code(b.b, b.n);
            tcg_exec_flush();
            reset_memory();
            uint8_t *d = (uint8_t *)at(DATA) + 0x800 + XP_OUT;
            memcpy(d, &cases[i].cw, 2);
            memset(d + 0x10, 0, 16);
            put_ld(d + 0x10, 0xc000000000000001ull, cases[i].se);
            memset(d + 0x20, 0x5a, 8);
            State in = base_state(), out;
            uint64_t cr0 = env->cr[0];
            env->cr[0] |= CR0_NE;
            int e = run_tcg(&in, &out);
            env->cr[0] = cr0;
            unsigned top = (env->fpus >> 11) & 7;
            bool untouched = true;
            for (int k = 0; k < 8; k++) {
                untouched &= d[0x20 + k] == 0x5a;
            }
            char name[96];
            snprintf(name, sizeof(name), "%sx87/%s-%s-unmasked", mode, pop ? "fstp" : "fst",
                     cases[i].name);
            CHECK(name, e == EXCP_MF && env->rip == CODE + (uint64_t)mf_at && untouched &&
                            (env->fpus & (0x8080 | cases[i].flag)) == (0x8080 | cases[i].flag) &&
                            top == 7);
            env->fpuc = 0x37f;
            env->fpus = 0;
            env->fptag_abridged = 0;
        }
    }
}

static void test_x87(void)
{
    uint8_t *saved = malloc(DATA_SIZE);
    memcpy(saved, data_init, DATA_SIZE);
    x87_pool();
    int before = unit_failures;
    /* directed: every arithmetic form on pi and 1/sqrt 2 with each rounding control */
    for (int rc = 0; rc < 4; rc++) {
        for (int op = 0; op < 8; op++) {
            Buf b = {0};
            x87_begin(&b);
            x87m(&b, 1, 5, XP_CW + 2 * rc);
            x87m(&b, 3, 5, XP_M80 + 16 * 3);
            x87m(&b, 3, 5, XP_M80 + 16 * 11);
            x87r(&b, 0, 0xc0 | op << 3 | 1); /* op st0, st1 */
            x87r(&b, 4, 0xc0 | op << 3 | 1); /* op st1, st0 */
            x87m(&b, 0, op, XP_M32 + 4 * 5); /* op m32 */
            x87m(&b, 4, op, XP_M64 + 8 * 9); /* op m64 */
            x87m(&b, 2, op, XP_INT + 8 * 2); /* op m32int */
            x87m(&b, 6, op, XP_INT + 8 * 3); /* op m16int */
            x87r(&b, 6, 0xc0 | op << 3 | 1); /* op-p st1, st0 */
            x87m(&b, 5, 3, XP_OUT);          /* fstp m64 */
            x87m(&b, 7, 3, XP_OUT + 8);      /* fistp m16 */
            x87_end(&b);
            directed("x87-arith", b.b, b.n, base_state(), 0);
        }
    }
    /*
     * The exact D9 F0-FF instructions (FSQRT FRNDINT FXTRACT FPREM1 FPREM FSCALE) and FXAM FTST
     * FABS FCHS on each pool value. Each instruction that leaves C0 C2 C3 undefined is followed by
     * one that defines them before they are seen. The transcendental ones are the model's, not
     * the host's: tests/tcg/modes.sh compares them with QEMU 7.2 (x87.S).
     */
    for (int v = 0; v < 16; v++) {
        Buf b = {0};
        x87_begin(&b);
        x87m(&b, 3, 5, XP_M80 + 16 * v);
        static const uint8_t ops[] = {0xfa, 0xfc, 0xf4, 0xf5, 0xe5, 0xf8, 0xfd, 0xe4, 0xe1, 0xe0};
        for (size_t i = 0; i < sizeof(ops); i++) {
            x87m(&b, 3, 5, XP_M80 + 16 * ((v + (int)i) & 15));
            x87r(&b, 1, ops[i]);
            if (ops[i] == 0xe5 || ops[i] == 0xe4) {
                x87r(&b, 7, 0xe0); /* fnstsw ax (condition codes) */
                put(&b, 0x66);     /* mov [r15+0x380+2i], ax */
                put(&b, 0x41);
                put(&b, 0x89);
                put(&b, 0x87);
                put32(&b, (uint32_t)(0x380 + 2 * (int)i));
            }
            if ((i & 3) == 3) {
                x87m(&b, 3, 7, XP_OUT + 16 * (int)(i / 4)); /* fstp m80 */
            }
        }
        x87_end(&b);
        directed("x87-exact", b.b, b.n, base_state(), 0);
    }
    /*
     * Stack faults of the transcendental instructions (C in x87_math.c, not the host's) are the
     * architecture's, the same on every x87: an empty ST0, an empty ST1 for the two-operand
     * ones, FPTAN and FSINCOS onto a full stack (eight FLD1).
     */
    static const uint8_t soft_ops[] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf9, 0xfb, 0xfe, 0xff};
    for (size_t i = 0; i < sizeof(soft_ops); i++) {
        int op = soft_ops[i];
        bool two = op == 0xf1 || op == 0xf3 || op == 0xf9, pushes = op == 0xf2 || op == 0xfb;
        for (int n = 0; n <= 8; n++) {
            if (n != 0 && !(n == 1 && two) && !(n == 8 && pushes)) {
                continue;
            }
            Buf b = {0};
            x87_begin(&b);
            for (int k = 0; k < n; k++) {
                x87r(&b, 1, 0xe8); /* fld1 */
            }
            x87r(&b, 1, op);
            x87_end(&b);
            directed("x87-soft-stack-fault", b.b, b.n, base_state(), 0);
        }
    }
    /* fbld/fbstp, fisttp, fcomi/fcmov with every flag input, fxch/ffree/fincstp/fdecstp */
    for (int v = 0; v < 16; v++) {
        Buf b = {0};
        State s = base_state();
        s.flags |= (uint64_t)(v & 1 ? CC_C : 0) | (v & 2 ? CC_Z : 0) | (v & 4 ? CC_P : 0);
        x87_begin(&b);
        x87m(&b, 1, 5, XP_CW + 2 * v);
        x87m(&b, 5, 0, XP_M64 + 8 * v);
        x87m(&b, 3, 5, XP_M80 + 16 * ((v * 5) & 15));
        x87r(&b, 2, 0xc0 | (v & 3) << 3 | 1); /* fcmovcc st0, st1 */
        x87r(&b, 3, 0xc0 | (v & 3) << 3 | 1); /* fcmovncc */
        x87r(&b, 3, 0xf1);                    /* fcomi st1 */
        x87r(&b, 7, 0xe9);                    /* fucomip st1 */
        x87m(&b, 7, 4, XP_INT + 8 * (v & 7)); /* fbld (integers read as BCD) */
        x87m(&b, 7, 6, XP_OUT);               /* fbstp */
        x87m(&b, 3, 0, XP_INT + 8 * (v & 7)); /* fild m32 */
        x87m(&b, 5, 1, XP_OUT + 16);          /* fisttp m64 */
        x87m(&b, 7, 5, XP_INT + 8 * (v & 7)); /* fild m64 */
        x87r(&b, 1, 0xc9);                    /* fxch st1 */
        x87r(&b, 5, 0xc1);                    /* ffree st1 */
        x87r(&b, 1, 0xf7);                    /* fincstp */
        x87r(&b, 1, 0xf6);                    /* fdecstp */
        x87m(&b, 1, 6, XP_OUT + 0x40);        /* fnstenv */
        x87m(&b, 1, 4, XP_OUT + 0x40);        /* fldenv */
        put(&b, 0x66);                        /* fnstenv (16-bit) */
        x87m(&b, 1, 6, XP_OUT + 0x60);
        x87m(&b, 5, 6, XP_OUT + 0x80); /* fnsave then frstor */
        x87m(&b, 5, 4, XP_OUT + 0x80);
        x87_end(&b);
        /* the environments' pointer fields are host-model specific: clear them too */
        clr_qword(&b, 0x34c);
        clr_qword(&b, 0x354);
        clr_qword(&b, 0x366);
        clr_qword(&b, 0x38c);
        clr_qword(&b, 0x394);
        directed("x87-misc", b.b, b.n, s, 0);
    }
    char dname[96];
    snprintf(dname, sizeof(dname), "%sdirected: x87 arithmetic, exact D9 F0-FF, misc", mode);
    CHECK(dname, unit_failures == before);
    int f = x87_random_cases(0x87 + (mode[0] ? 1 : 0), 3000);
    snprintf(dname, sizeof(dname), "%sx87/random (3000 cases)", mode);
    CHECK(dname, f == 0);
    test_x87_mf();
    test_x87_store_unmasked();
    memcpy(data_init, saved, DATA_SIZE);
    free(saved);
}

/* ---- MMX, SSE..SSE4.2, POPCNT, LZCNT ---- */

/* Pool at r15 - 0x800 (xmm inputs, then mm inputs, then operands), writes at r15 - 0x400,
 * final register dump at r15 + 0x480 (xmm0-15, mm0-7, MXCSR). */
#define SP_POOL (-0x800)
#define SP_MM   (-0x700)
#define SP_OPND (-0x680)
#define SP_OUT  (-0x400)
#define SP_DUMP 0x480

enum { SK_X = 'x', SK_M = 'm', SK_G = 'g' };
enum {
    SF_IMM = 1,
    SF_NOMEM = 2,
    SF_MEMONLY = 4,
    SF_ALIGN = 8,
    SF_W = 16,     /* REX.W is meaningful */
    SF_WRM = 32,   /* r/m is written (memory goes to the write area) */
    SF_SHIFT = 64, /* reg field given in ext */
    SF_IMM3 = 128, /* imm8 below 8 (legacy CMPPS predicates) */
    SF_RDI = 256,  /* stores to [rdi]: point rdi into the write area first */
};

typedef struct SimdForm {
    uint8_t pre; /* 0, 0x66, 0xf3, 0xf2 */
    uint8_t map; /* 0: 0F, 1: 0F 38, 2: 0F 3A */
    uint8_t op;
    char reg, rm;
    uint8_t msize;
    uint16_t fl;
    uint8_t ext;
} SimdForm;

static const SimdForm simd_forms[] = {
    /* MMX */
    {0, 0, 0x60, 'm', 'm', 4, 0, 0},
    {0, 0, 0x61, 'm', 'm', 4, 0, 0},
    {0, 0, 0x62, 'm', 'm', 4, 0, 0},
    {0, 0, 0x63, 'm', 'm', 8, 0, 0},
    {0, 0, 0x64, 'm', 'm', 8, 0, 0},
    {0, 0, 0x65, 'm', 'm', 8, 0, 0},
    {0, 0, 0x66, 'm', 'm', 8, 0, 0},
    {0, 0, 0x67, 'm', 'm', 8, 0, 0},
    {0, 0, 0x68, 'm', 'm', 8, 0, 0},
    {0, 0, 0x69, 'm', 'm', 8, 0, 0},
    {0, 0, 0x6a, 'm', 'm', 8, 0, 0},
    {0, 0, 0x6b, 'm', 'm', 8, 0, 0},
    {0, 0, 0x6e, 'm', 'g', 4, SF_W, 0},
    {0, 0, 0x6f, 'm', 'm', 8, 0, 0},
    {0, 0, 0x70, 'm', 'm', 8, SF_IMM, 0},
    {0, 0, 0x71, 'm', 'm', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 2},
    {0, 0, 0x71, 'm', 'm', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 4},
    {0, 0, 0x72, 'm', 'm', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 6},
    {0, 0, 0x73, 'm', 'm', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 2},
    {0, 0, 0x74, 'm', 'm', 8, 0, 0},
    {0, 0, 0x76, 'm', 'm', 8, 0, 0},
    {0, 0, 0x7e, 'm', 'g', 4, SF_W | SF_WRM, 0},
    {0, 0, 0x7f, 'm', 'm', 8, SF_WRM, 0},
    {0, 0, 0xc4, 'm', 'g', 2, SF_IMM, 0},
    {0, 0, 0xc5, 'g', 'm', 0, SF_IMM | SF_NOMEM, 0},
    {0, 0, 0xd1, 'm', 'm', 8, 0, 0},
    {0, 0, 0xd4, 'm', 'm', 8, 0, 0},
    {0, 0, 0xd5, 'm', 'm', 8, 0, 0},
    {0, 0, 0xd7, 'g', 'm', 0, SF_NOMEM, 0},
    {0, 0, 0xd8, 'm', 'm', 8, 0, 0},
    {0, 0, 0xdc, 'm', 'm', 8, 0, 0},
    {0, 0, 0xdf, 'm', 'm', 8, 0, 0},
    {0, 0, 0xe0, 'm', 'm', 8, 0, 0},
    {0, 0, 0xe2, 'm', 'm', 8, 0, 0},
    {0, 0, 0xe5, 'm', 'm', 8, 0, 0},
    {0, 0, 0xe7, 'm', 'm', 8, SF_MEMONLY | SF_WRM, 0},
    {0, 0, 0xe9, 'm', 'm', 8, 0, 0},
    {0, 0, 0xee, 'm', 'm', 8, 0, 0},
    {0, 0, 0xf2, 'm', 'm', 8, 0, 0},
    {0, 0, 0xf4, 'm', 'm', 8, 0, 0},
    {0, 0, 0xf5, 'm', 'm', 8, 0, 0},
    {0, 0, 0xf6, 'm', 'm', 8, 0, 0},
    {0, 0, 0xfb, 'm', 'm', 8, 0, 0},
    /* SSE/SSE2 floating point (MXCSR rounding, flags) */
    {0, 0, 0x51, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x58, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x59, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x5a, 'x', 'x', 8, 0, 0},
    {0, 0, 0x5b, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x5c, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x5d, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x5e, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x5f, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0xc2, 'x', 'x', 16, SF_ALIGN | SF_IMM | SF_IMM3, 0},
    {0, 0, 0x2e, 'x', 'x', 4, 0, 0},
    {0, 0, 0x2f, 'x', 'x', 4, 0, 0},
    {0, 0, 0x2a, 'x', 'm', 8, 0, 0},
    {0, 0, 0x2c, 'm', 'x', 8, 0, 0},
    {0, 0, 0x2d, 'm', 'x', 8, 0, 0},
    {0x66, 0, 0x51, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x58, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x5a, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x5b, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x5e, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x5d, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xc2, 'x', 'x', 16, SF_ALIGN | SF_IMM | SF_IMM3, 0},
    {0x66, 0, 0x2f, 'x', 'x', 8, 0, 0},
    {0x66, 0, 0x2e, 'x', 'x', 8, 0, 0},
    {0x66, 0, 0xe6, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x2a, 'x', 'm', 8, 0, 0},
    {0x66, 0, 0x2d, 'm', 'x', 16, SF_ALIGN, 0},
    {0xf3, 0, 0x2a, 'x', 'g', 4, SF_W, 0},
    {0xf3, 0, 0x2c, 'g', 'x', 4, SF_W, 0},
    {0xf3, 0, 0x2d, 'g', 'x', 4, SF_W, 0},
    {0xf3, 0, 0x51, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x52, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x58, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x59, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x5a, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x5b, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf3, 0, 0x5c, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x5e, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0xc2, 'x', 'x', 4, SF_IMM | SF_IMM3, 0},
    {0xf3, 0, 0xe6, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x2a, 'x', 'g', 4, SF_W, 0},
    {0xf2, 0, 0x2c, 'g', 'x', 8, SF_W, 0},
    {0xf2, 0, 0x2d, 'g', 'x', 8, SF_W, 0},
    {0xf2, 0, 0x51, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x58, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x59, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x5a, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x5c, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x5d, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x5e, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x5f, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0xc2, 'x', 'x', 8, SF_IMM | SF_IMM3, 0},
    {0xf2, 0, 0xe6, 'x', 'x', 16, SF_ALIGN, 0},
    /* SSE2 integer (helper_sse) and the forms it lacked */
    {0x66, 0, 0x60, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x63, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x67, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x6a, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x6b, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x6d, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x70, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 0, 0x73, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 3},
    {0x66, 0, 0x73, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 7},
    {0x66, 0, 0x71, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 4},
    {0x66, 0, 0x75, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd2, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd5, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd9, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe0, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe2, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe3, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe4, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe5, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xea, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xed, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf4, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf5, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf6, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xfb, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xc4, 'x', 'g', 2, SF_IMM, 0},
    {0x66, 0, 0xc5, 'g', 'x', 0, SF_IMM | SF_NOMEM, 0},
    {0x66, 0, 0xd7, 'g', 'x', 0, SF_NOMEM, 0},
    {0, 0, 0xc6, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 0, 0x15, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x57, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf3, 0, 0xd6, 'x', 'm', 0, SF_NOMEM, 0},
    {0xf2, 0, 0xd6, 'm', 'x', 0, SF_NOMEM, 0},
    /* the rest of the forms OP_vec runs natively */
    {0x66, 0, 0x74, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x76, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x64, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x65, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x66, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xdb, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xdf, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xeb, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x54, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x55, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x56, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xda, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xde, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xee, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf8, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf9, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xfa, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xfc, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xfd, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xfe, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd4, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd8, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xdc, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xdd, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe8, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe9, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xec, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x61, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x62, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x6c, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x68, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x69, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x14, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd1, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd3, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xe1, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf1, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf2, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xf3, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x54, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x55, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x56, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x14, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x15, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf2, 0, 0x70, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0xf3, 0, 0x70, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 0, 0xc6, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 0, 0x50, 'g', 'x', 0, SF_NOMEM, 0},
    {0, 0, 0x50, 'g', 'x', 0, SF_NOMEM, 0},
    {0x66, 0, 0x72, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 2},
    {0x66, 0, 0x72, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 4},
    {0x66, 0, 0x72, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 6},
    {0x66, 0, 0x71, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 2},
    {0x66, 0, 0x71, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 6},
    {0x66, 0, 0x73, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 2},
    {0x66, 0, 0x73, 'x', 'x', 0, SF_IMM | SF_NOMEM | SF_SHIFT, 6},
    {0, 0, 0x11, 'x', 'x', 16, SF_WRM, 0},
    {0x66, 0, 0x29, 'x', 'x', 16, SF_ALIGN | SF_WRM, 0},
    {0x66, 0, 0x7f, 'x', 'x', 16, SF_ALIGN | SF_WRM, 0},
    {0, 0, 0x2b, 'x', 'x', 16, SF_ALIGN | SF_WRM | SF_MEMONLY, 0},
    {0x66, 0, 0x2b, 'x', 'x', 16, SF_ALIGN | SF_WRM | SF_MEMONLY, 0},
    {0x66, 0, 0xe7, 'x', 'x', 16, SF_ALIGN | SF_WRM | SF_MEMONLY, 0},
    {0x66, 0, 0x10, 'x', 'x', 16, 0, 0},
    {0x66, 0, 0x28, 'x', 'x', 16, SF_ALIGN, 0},
    /* moves (inline in the translator) */
    {0xf2, 0, 0x10, 'x', 'x', 8, 0, 0},
    {0xf2, 0, 0x11, 'x', 'x', 8, SF_WRM, 0},
    {0xf3, 0, 0x10, 'x', 'x', 4, 0, 0},
    {0xf3, 0, 0x11, 'x', 'x', 4, SF_WRM, 0},
    {0x66, 0, 0x6e, 'x', 'g', 4, SF_W, 0},
    {0x66, 0, 0x7e, 'x', 'g', 4, SF_W | SF_WRM, 0},
    {0xf3, 0, 0x7e, 'x', 'x', 8, 0, 0},
    {0x66, 0, 0xd6, 'x', 'x', 8, SF_WRM, 0},
    {0, 0, 0x28, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0x29, 'x', 'x', 16, SF_ALIGN | SF_WRM, 0},
    {0x66, 0, 0x6f, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf3, 0, 0x6f, 'x', 'x', 16, 0, 0},
    {0xf3, 0, 0x7f, 'x', 'x', 16, SF_WRM, 0},
    {0, 0, 0x10, 'x', 'x', 16, 0, 0},
    {0x66, 0, 0x11, 'x', 'x', 16, SF_WRM, 0},
    {0, 0, 0x57, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xef, 'x', 'x', 16, SF_ALIGN, 0},
    {0, 0, 0xf7, 'm', 'm', 0, SF_NOMEM | SF_RDI, 0},
    {0x66, 0, 0xf7, 'x', 'x', 0, SF_NOMEM | SF_RDI, 0},
    /* SSE3 */
    {0x66, 0, 0x7c, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0x7d, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf2, 0, 0x7c, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf2, 0, 0x7d, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 0, 0xd0, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf2, 0, 0xd0, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf2, 0, 0x12, 'x', 'x', 8, 0, 0},
    {0xf3, 0, 0x12, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf3, 0, 0x16, 'x', 'x', 16, SF_ALIGN, 0},
    {0xf2, 0, 0xf0, 'x', 'x', 16, SF_MEMONLY, 0},
    /* SSSE3 */
    {0, 1, 0x00, 'm', 'm', 8, 0, 0},
    {0, 1, 0x04, 'm', 'm', 8, 0, 0},
    {0, 1, 0x0b, 'm', 'm', 8, 0, 0},
    {0, 1, 0x1e, 'm', 'm', 8, 0, 0},
    {0, 2, 0x0f, 'm', 'm', 8, SF_IMM, 0},
    {0x66, 1, 0x00, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x01, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x02, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x03, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x04, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x05, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x07, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x08, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x0a, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x0b, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x1c, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x1d, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 2, 0x0f, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    /* SSE4.1 */
    {0x66, 1, 0x10, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x14, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x17, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x20, 'x', 'x', 8, 0, 0},
    {0x66, 1, 0x22, 'x', 'x', 2, 0, 0},
    {0x66, 1, 0x31, 'x', 'x', 4, 0, 0},
    {0x66, 1, 0x35, 'x', 'x', 8, 0, 0},
    {0x66, 1, 0x28, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x29, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x2a, 'x', 'x', 16, SF_ALIGN | SF_MEMONLY, 0},
    {0x66, 1, 0x2b, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x38, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x3b, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x3d, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x40, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 1, 0x41, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 2, 0x08, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 2, 0x09, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 2, 0x0a, 'x', 'x', 4, SF_IMM, 0},
    {0x66, 2, 0x0b, 'x', 'x', 8, SF_IMM, 0},
    {0x66, 2, 0x0c, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 2, 0x0e, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 2, 0x14, 'x', 'g', 1, SF_IMM | SF_WRM, 0},
    {0x66, 2, 0x15, 'x', 'g', 2, SF_IMM | SF_WRM, 0},
    {0x66, 2, 0x16, 'x', 'g', 4, SF_IMM | SF_WRM | SF_W, 0},
    {0x66, 2, 0x17, 'x', 'g', 4, SF_IMM | SF_WRM, 0},
    {0x66, 2, 0x20, 'x', 'g', 1, SF_IMM, 0},
    {0x66, 2, 0x21, 'x', 'x', 4, SF_IMM, 0},
    {0x66, 2, 0x22, 'x', 'g', 4, SF_IMM | SF_W, 0},
    {0x66, 2, 0x40, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 2, 0x41, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    {0x66, 2, 0x42, 'x', 'x', 16, SF_ALIGN | SF_IMM, 0},
    /* SSE4.2, POPCNT, LZCNT */
    {0x66, 1, 0x37, 'x', 'x', 16, SF_ALIGN, 0},
    {0x66, 2, 0x60, 'x', 'x', 16, SF_IMM, 0},
    {0x66, 2, 0x61, 'x', 'x', 16, SF_IMM, 0},
    {0x66, 2, 0x62, 'x', 'x', 16, SF_IMM, 0},
    {0x66, 2, 0x63, 'x', 'x', 16, SF_IMM, 0},
    {0xf2, 1, 0xf0, 'g', 'g', 1, SF_W, 0},
    {0xf2, 1, 0xf1, 'g', 'g', 4, SF_W, 0},
    {0xf3, 0, 0xb8, 'g', 'g', 4, SF_W, 0},
    {0xf3, 0, 0xbd, 'g', 'g', 4, SF_W, 0},
};

/* general registers the random SIMD forms may name (not rsp, not r15) */
static const int simd_gprs[] = {RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14};

static void simd_emit(Buf *b, const SimdForm *f)
{
    if (f->fl & SF_RDI) { /* lea rdi, [r15 + write area] */
        put(b, 0x49);
        put(b, 0x8d);
        put(b, 0xbf);
        put32(b, (uint32_t)(SP_OUT + 16 * (int)rn(16) + (int)rn(8)));
    }
    bool w = (f->fl & SF_W) && rn(2);
    bool mem = !(f->fl & SF_NOMEM) && ((f->fl & SF_MEMONLY) || rn(3) == 0);
    int reg, rm = 0;
    int nreg = f->reg == 'x' ? 16 : 8;
    if (f->fl & SF_SHIFT) {
        reg = f->ext;
    } else if (f->reg == 'g') {
        reg = simd_gprs[rn(14)];
    } else {
        reg = (int)rn((unsigned)nreg);
    }
    if (!mem) {
        rm = f->rm == 'g' ? simd_gprs[rn(14)] : (int)rn(f->rm == 'x' ? 16 : 8);
    }
    if ((f->map == 1 && f->op == 0xf1 && rn(3) == 0) ||
        (f->pre == 0xf3 && f->op >= 0xb8 && rn(4) == 0)) {
        put(b, 0x66); /* crc32 r32, r/m16; popcnt/lzcnt r16 */
    }
    if (f->pre) {
        put(b, f->pre);
    }
    int rex = (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | (mem ? 1 : ((rm & 8) ? 1 : 0));
    if (rex) {
        put(b, 0x40 | (unsigned)rex);
    }
    put(b, 0x0f);
    if (f->map) {
        put(b, f->map == 1 ? 0x38 : 0x3a);
    }
    put(b, f->op);
    if (mem) {
        int disp;
        if (f->fl & SF_WRM) {
            disp = SP_OUT + 16 * (int)rn(16) + (f->fl & SF_ALIGN ? 0 : (int)rn(8));
        } else {
            disp = SP_OPND + 16 * (int)rn(32) + (f->fl & SF_ALIGN ? 0 : (int)rn(16));
        }
        put(b, 0x80 | (unsigned)(reg & 7) << 3 | 7);
        put32(b, (uint32_t)disp);
    } else {
        put(b, 0xc0 | (unsigned)(reg & 7) << 3 | (unsigned)(rm & 7));
    }
    if (f->fl & SF_IMM) {
        put(b, (f->fl & SF_IMM3) ? rn(8) : (unsigned)rnd() & 0xff);
    }
}

/*
 * Flags a form writes: returns whether it writes the arithmetic flags and sets *undef to the ones
 * the manuals leave undefined after it. Only LZCNT has such flags here (OF, SF, PF, AF: an AMD
 * Zen sets OF, other hosts may not; Vireo's values are pinned in model/lzcnt-tzcnt-popcnt).
 */
static bool simd_form_flags(const SimdForm *f, uint64_t *undef)
{
    *undef = 0;
    if (f->pre == 0xf3 && f->map == 0 && f->op == 0xbd) {
        *undef = CC_O | CC_S | CC_P | CC_A;
        return true;
    }
    return (f->map == 0 && (f->op == 0x2e || f->op == 0x2f || f->op == 0xb8)) ||
           (f->map == 1 && f->op == 0x17) || (f->map == 2 && f->op >= 0x60 && f->op <= 0x63);
}

/* Start: every xmm and mm register and MXCSR from the pool; end: all of them to memory. */
static void simd_prologue(Buf *b, int mxcsr_slot)
{
    for (int i = 0; i < 16; i++) { /* movdqu xmmi, [r15 + SP_POOL + 16 i] */
        put(b, 0xf3);
        put(b, 0x41 | (i >= 8 ? 4 : 0));
        put(b, 0x0f);
        put(b, 0x6f);
        put(b, 0x87 | (unsigned)(i & 7) << 3);
        put32(b, (uint32_t)(SP_POOL + 16 * i));
    }
    for (int i = 0; i < 8; i++) { /* movq mmi, [r15 + SP_MM + 8 i] */
        put(b, 0x41);
        put(b, 0x0f);
        put(b, 0x6f);
        put(b, 0x87 | (unsigned)i << 3);
        put32(b, (uint32_t)(SP_MM + 8 * i));
    }
    put(b, 0x41); /* ldmxcsr [r15 + slot] */
    put(b, 0x0f);
    put(b, 0xae);
    put(b, 0x97);
    put32(b, (uint32_t)mxcsr_slot);
}

static void simd_epilogue(Buf *b)
{
    for (int i = 0; i < 16; i++) { /* movdqu [r15 + SP_DUMP + 16 i], xmmi */
        put(b, 0xf3);
        put(b, 0x41 | (i >= 8 ? 4 : 0));
        put(b, 0x0f);
        put(b, 0x7f);
        put(b, 0x87 | (unsigned)(i & 7) << 3);
        put32(b, (uint32_t)(SP_DUMP + 16 * i));
    }
    for (int i = 0; i < 8; i++) { /* movq [r15 + SP_DUMP + 256 + 8 i], mmi */
        put(b, 0x41);
        put(b, 0x0f);
        put(b, 0x7f);
        put(b, 0x87 | (unsigned)i << 3);
        put32(b, (uint32_t)(SP_DUMP + 256 + 8 * i));
    }
    put(b, 0x41); /* stmxcsr [r15 + SP_DUMP + 320] */
    put(b, 0x0f);
    put(b, 0xae);
    put(b, 0x9f);
    put32(b, (uint32_t)(SP_DUMP + 320));
    put(b, 0x0f); /* emms */
    put(b, 0x77);
}

/* Fill the pool: lanes of random bits, float and double specials, small integers. */
static void simd_pool(void)
{
    uint8_t *d = data_init + 0x800 + SP_POOL;
    static const uint32_t f32[] = {0x00000000, 0x80000000, 0x3f800000, 0x7f800000, 0xff800000,
                                   0x7fc00000, 0x7fa00000, 0x00000001, 0x00800000, 0x7f7fffff,
                                   0x3eaaaaab, 0xc0490fdb, 0x4f000000, 0xcf000000, 0x3f000000};
    static const uint64_t f64[] = {0,
                                   0x8000000000000000ull,
                                   0x3ff0000000000000ull,
                                   0x7ff0000000000000ull,
                                   0x7ff8000000000000ull,
                                   0x7ff4000000000000ull,
                                   0x0000000000000001ull,
                                   0x0010000000000000ull,
                                   0x3fd5555555555555ull,
                                   0x43e0000000000000ull,
                                   0xc1e0000000000000ull,
                                   0x3fe0000000000000ull,
                                   0x4004000000000000ull};
    for (int off = 0; off < 0x400; off += 8) {
        uint64_t v;
        switch (rn(5)) {
        case 0: {
            uint32_t a = f32[rn(15)], c = f32[rn(15)];
            v = a | (uint64_t)c << 32;
            break;
        }
        case 1:
            v = f64[rn(13)];
            break;
        case 2:
            v = rnd() & 0x00ff00ff00ff00ffull;
            break;
        default:
            v = rnd();
        }
        memcpy(d + off, &v, 8);
    }
    /* MXCSR values at SP_OUT - 0x40: every rounding mode, FTZ/DAZ, all exceptions masked */
    for (int i = 0; i < 8; i++) {
        uint32_t mx = 0x1f80 | (uint32_t)(i & 3) << 13 | (i & 4 ? 0x8040 : 0);
        memcpy(data_init + 0x800 + SP_OUT - 0x40 + 4 * i, &mx, 4);
    }
}

static int simd_random_cases(uint64_t seed, int ncases)
{
    int fails = 0;
    rng = seed;
    for (int c = 0; c < ncases; c++) {
        Buf b = {0};
        simd_prologue(&b, SP_OUT - 0x40 + 4 * (int)rn(8));
        int n = 1 + (int)rn(6);
        uint64_t undef = 0, u;
        for (int i = 0; i < n; i++) {
            const SimdForm *f = &simd_forms[rn(sizeof(simd_forms) / sizeof(simd_forms[0]))];
            simd_emit(&b, f);
            if (simd_form_flags(f, &u)) {
                undef = u; /* the last flag writer's undefined flags */
            }
        }
        simd_epilogue(&b);
        State in;
        random_state(&in);
        char name[96];
        snprintf(name, sizeof(name), "%ssimd/random seed %#" PRIx64 " case %d", mode, seed, c);
        if (!diff_case(name, b.b, b.n, &in, undef)) {
            if (++fails > 3) {
                break;
            }
        }
    }
    return fails;
}

/* Each form alone, many times, so every one is checked whatever the random mix does. */
static int simd_each_form(void)
{
    int fails = 0;
    for (size_t k = 0; k < sizeof(simd_forms) / sizeof(simd_forms[0]); k++) {
        for (int rep = 0; rep < 24; rep++) {
            Buf b = {0};
            simd_prologue(&b, SP_OUT - 0x40 + 4 * (rep & 7));
            simd_emit(&b, &simd_forms[k]);
            simd_emit(&b, &simd_forms[k]);
            simd_epilogue(&b);
            State in;
            random_state(&in);
            char name[96];
            snprintf(name, sizeof(name), "%ssimd/form %zu (%02x map %d op %02x) rep %d", mode, k,
                     simd_forms[k].pre, simd_forms[k].map, simd_forms[k].op, rep);
            uint64_t undef;
            simd_form_flags(&simd_forms[k], &undef);
            if (!diff_case(name, b.b, b.n, &in, undef)) {
                fails++;
                break;
            }
        }
    }
    return fails;
}

/* An unmasked SIMD exception: #XM, MXCSR flag set, destination untouched (translated only). */
static void test_simd_xm(void)
{
    Buf b = {0};
    /* ldmxcsr [r15+SP_OUT]; xorpd xmm1, xmm1; movsd xmm0, [r15+SP_OPND]; divsd xmm0, xmm1 */
    static const uint8_t code[] = {0x41, 0x0f, 0xae, 0x97, 0x00, 0xfc, 0xff, 0xff, 0x66,
                                   0x0f, 0x57, 0xc9, 0xf2, 0x41, 0x0f, 0x10, 0x87, 0x80,
                                   0xf9, 0xff, 0xff, 0xf2, 0x0f, 0x5e, 0xc1};
    putn(&b, code, sizeof(code));
    place_code(b.b, b.n);
    tcg_exec_flush();
    reset_memory();
    uint32_t mx = 0x1f80 & ~0x200u; /* ZM clear */
    memcpy((uint8_t *)at(DATA) + 0x800 + SP_OUT, &mx, 4);
    double one = 1.0;
    memcpy((uint8_t *)at(DATA) + 0x800 + SP_OPND, &one, 8);
    State in = base_state(), out;
    uint64_t cr4 = env->cr[4];
    env->cr[4] |= 1u << 10; /* OSXMMEXCPT */
    int e = run_tcg(&in, &out);
    env->cr[4] = cr4;
    uint64_t x0;
    memcpy(&x0, env->xmm[0], 8);
    char name[64];
    snprintf(name, sizeof(name), "%ssimd/unmasked-divide-by-zero-#XM", mode);
    CHECK(name, e == EXCP_XM && env->rip == CODE + sizeof(code) - 4 && (env->mxcsr & 4) &&
                    x0 == 0x3ff0000000000000ull);
    env->mxcsr = 0x1f80;
}

/* FXSAVE/FXRSTOR and MMX share the x87 registers: MMX writes then FNSAVE; x87 work then
 * FXSAVE (and FXSAVE64), FXRSTOR of a changed image, FXSAVE again. Pointer fields cleared, and
 * MXCSR_MASK (bytes 28-31): the host's says what its MXCSR accepts (0x0002FFFF on an AMD Zen,
 * 0x0000FFFF on Intel cores), Vireo's what the CPU model's does (model/mxcsr-mask pins it). */
static void test_fxsave(void)
{
    for (int v = 0; v < 8; v++) {
        Buf b = {0};
        simd_prologue(&b, SP_OUT - 0x40 + 4 * v); /* xmm, mm (x87 in MMX state), MXCSR */
        static const uint8_t paddw_mm[] = {0x0f, 0xfd, 0xca}; /* paddw mm1, mm2 */
        putn(&b, paddw_mm, sizeof(paddw_mm));
        x87m(&b, 5, 6, XP_SAVE); /* fnsave: MMX state as x87 (TOP 0, tags, 0xffff exponents) */
        clr_qword(&b, XP_SAVE + 12);
        clr_qword(&b, XP_SAVE + 20);
        x87_begin(&b);
        for (int i = 0; i <= v; i++) {
            x87m(&b, 3, 5, XP_M80 + 16 * ((v * 3 + i) & 15));
        }
        x87r(&b, 1, 0xfa); /* fsqrt */
        x87r(&b, 0, 0xc9); /* fmul st0, st1 */
        const int fx = 0x600;
        put(&b, v & 1 ? 0x49 : 0x41); /* fxsave [r15+fx] (REX.W: fxsave64) */
        put(&b, 0x0f);
        put(&b, 0xae);
        put(&b, 0x87);
        put32(&b, (uint32_t)fx);
        clr_qword(&b, fx + 6);
        clr_qword(&b, fx + 14);
        clr_qword(&b, fx + 16);
        clr_dword(&b, fx + 28);
        static const uint8_t change[] = {0x41, 0xc6, 0x87, 0x04, 0x06, 0, 0, 0x0f}; /* tags 0x0f */
        putn(&b, change, sizeof(change));
        put(&b, 0x41); /* fxrstor [r15+fx] */
        put(&b, 0x0f);
        put(&b, 0xae);
        put(&b, 0x8f);
        put32(&b, (uint32_t)fx);
        x87r(&b, 1, 0xe5); /* fxam on whatever st0 now is */
        x87r(&b, 7, 0xe0); /* fnstsw ax */
        put(&b, 0x41);     /* fxsave [r15+fx] */
        put(&b, 0x0f);
        put(&b, 0xae);
        put(&b, 0x87);
        put32(&b, (uint32_t)fx);
        clr_qword(&b, fx + 6);
        clr_qword(&b, fx + 14);
        clr_qword(&b, fx + 16);
        clr_dword(&b, fx + 28);
        x87_begin(&b);
        directed("fxsave-mmx-x87", b.b, b.n, base_state(), 0);
    }
}

static void test_simd(void)
{
    uint8_t *saved = malloc(DATA_SIZE);
    memcpy(saved, data_init, DATA_SIZE);
    uint32_t model = env->cpuid_max_model;
    env->cpuid_max_model = 1; /* -cpu max: SSSE3, SSE4.1/4.2, POPCNT, LZCNT */
    tcg_exec_flush();
    rng = 0x5151;
    simd_pool();
    char name[96];
    /* the native side runs every form: the host needs what -cpu max offers */
    unsigned ca, cb, cc = 0, cd, ce = 0;
    __get_cpuid(1, &ca, &cb, &cc, &cd);
    __get_cpuid(0x80000001, &ca, &cb, &ce, &cd);
    if ((cc & bit_SSSE3) && (cc & bit_SSE4_1) && (cc & bit_SSE4_2) && (cc & bit_POPCNT) &&
        (ce & bit_LZCNT)) {
        int f = simd_each_form();
        snprintf(name, sizeof(name), "%ssimd/each form (%zu forms x 24)", mode,
                 sizeof(simd_forms) / sizeof(simd_forms[0]));
        CHECK(name, f == 0);
        f = simd_random_cases(0x5eed + (mode[0] ? 1 : 0), 3000);
        snprintf(name, sizeof(name), "%ssimd/random (3000 cases)", mode);
        CHECK(name, f == 0);
    } else {
        printf("skip %ssimd/forms: the host lacks SSSE3, SSE4.1, SSE4.2, POPCNT or LZCNT to run "
               "them natively\n",
               mode);
    }
    test_simd_xm();
    x87_pool();
    int before = unit_failures;
    test_fxsave();
    snprintf(name, sizeof(name), "%sdirected: FXSAVE/FXRSTOR/FNSAVE with MMX and x87 state", mode);
    CHECK(name, unit_failures == before);
    /* -cpu qemu64: SSSE3 and later are #UD */
    env->cpuid_max_model = 0;
    tcg_exec_flush();
    static const uint8_t pshufb[] = {0x66, 0x0f, 0x38, 0x00, 0xc1};
    place_code(pshufb, sizeof(pshufb));
    reset_memory();
    State in = base_state(), out;
    int e = run_tcg(&in, &out);
    snprintf(name, sizeof(name), "%ssimd/qemu64-has-no-ssse3", mode);
    CHECK(name, e == EXCP_UD && env->rip == CODE);
    env->cpuid_max_model = model;
    tcg_exec_flush();
    memcpy(data_init, saved, DATA_SIZE);
    free(saved);
}

/* ---- BMI1/BMI2 (VEX-encoded general-purpose forms, TZCNT) ---- */

typedef struct BmiForm {
    const char *name;
    uint8_t map, pp, opc;
    int8_t group;   /* the ModRM reg field for the F3 group (BLSR/BLSMSK/BLSI), else -1 */
    bool imm;       /* RORX */
    bool novvvv;    /* vvvv must be 1111 */
    bool flags;     /* writes the arithmetic flags ... */
    uint16_t undef; /* ... leaving these undefined (compared with the host without them; the
                     * model's values are pinned in model/bmi) */
} BmiForm;

#define PA (CC_P | CC_A)
static const BmiForm bmi_forms[] = {
    {"andn", 2, 0, 0xf2, -1, false, false, true, PA},
    {"blsr", 2, 0, 0xf3, 1, false, false, true, PA},
    {"blsmsk", 2, 0, 0xf3, 2, false, false, true, PA},
    {"blsi", 2, 0, 0xf3, 3, false, false, true, PA},
    {"bzhi", 2, 0, 0xf5, -1, false, false, true, PA},
    {"pext", 2, 2, 0xf5, -1, false, false, false, 0},
    {"pdep", 2, 3, 0xf5, -1, false, false, false, 0},
    {"mulx", 2, 3, 0xf6, -1, false, false, false, 0},
    {"bextr", 2, 0, 0xf7, -1, false, false, true, PA | CC_S},
    {"shlx", 2, 1, 0xf7, -1, false, false, false, 0},
    {"sarx", 2, 2, 0xf7, -1, false, false, false, 0},
    {"shrx", 2, 3, 0xf7, -1, false, false, false, 0},
    {"rorx", 3, 3, 0xf0, -1, true, true, false, 0},
};
#undef PA

/* one BMI instruction: form f, operand size (W), reg/vvvv registers, r/m a register or
 * [r15 + disp8] */
static void bmi_emit(Buf *c, const BmiForm *f, bool w, int reg, int vreg, int rm, bool mem,
                     int8_t disp, uint8_t imm)
{
    if (f->group >= 0) {
        reg = f->group;
    }
    if (f->novvvv) {
        vreg = 0;
    }
    int base = mem ? R15 : rm;
    put(c, 0xc4);
    put(c, (uint8_t)((reg & 8 ? 0 : 0x80) | 0x40 | (base & 8 ? 0 : 0x20) | f->map));
    put(c, (uint8_t)((w ? 0x80 : 0) | ((~vreg & 15) << 3) | f->pp));
    put(c, f->opc);
    if (mem) {
        put(c, (uint8_t)(0x40 | (reg & 7) << 3 | (base & 7)));
        put(c, (uint8_t)disp);
    } else {
        put(c, (uint8_t)(0xc0 | (reg & 7) << 3 | (base & 7)));
    }
    if (f->imm) {
        put(c, imm);
    }
}

/* a control operand for BEXTR/BZHI/shifts: often in range, sometimes not */
static uint64_t bmi_value(void)
{
    switch (rn(4)) {
    case 0:
        return rn(80) | (rn(80) << 8);
    case 1:
        return rn(70);
    default:
        return rnd_value();
    }
}

static void bmi_random_state(State *s)
{
    random_state(s);
    for (int i = 0; i < 16; i++) {
        if (i != RSP && i != R15 && i != R14 && rn(2)) {
            s->regs[i] = bmi_value();
        }
    }
}

static void bmi_random_insn(Buf *c, int fi, uint64_t *undef)
{
    if (bmi_forms[fi].flags) {
        *undef = bmi_forms[fi].undef;
    }
    const BmiForm *f = &bmi_forms[fi];
    bool mem = rn(3) == 0;
    bool vdest = f->group >= 0 || f->opc == 0xf6; /* BLS*, MULX: vvvv is written */
    bmi_emit(c, f, rn(2), rnd_reg(), vdest || rn(3) ? rnd_reg() : (int)rn(16), rnd_reg(), mem,
             (int8_t)(rn(0x70) & ~7), (uint8_t)rn(256));
}

static void test_bmi(void)
{
    unsigned a, b, c, d;
    char name[96];
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 3)) || !(b & (1u << 8))) {
        printf("skip %sbmi: the host has no BMI1/BMI2\n", mode);
        return;
    }
    uint32_t model = env->cpuid_max_model;
    env->cpuid_max_model = 1;
    tcg_exec_flush();
    rng = 0xb1b2;
    int fails = 0;
    /* each form alone: 32- and 64-bit, register and memory r/m, 40 states each */
    for (size_t fi = 0; fi < sizeof(bmi_forms) / sizeof(bmi_forms[0]); fi++) {
        for (int k = 0; k < 160 && fails < 3; k++) {
            Buf code = {0};
            bmi_emit(&code, &bmi_forms[fi], k & 1, rnd_reg(), rnd_reg(), rnd_reg(), k & 2,
                     (int8_t)(rn(0x70) & ~7), (uint8_t)rn(256));
            State in;
            bmi_random_state(&in);
            snprintf(name, sizeof(name), "%sbmi/%s/%d", mode, bmi_forms[fi].name, k);
            fails += !diff_case(name, code.b, code.n, &in, bmi_forms[fi].undef);
        }
    }
    /* TZCNT at 16, 32 and 64 bits, register and memory, zero and non-zero sources */
    static const uint8_t tz[][6] = {{0xf3, 0x0f, 0xbc, 0xc3},
                                    {0x66, 0xf3, 0x0f, 0xbc, 0xc3},
                                    {0xf3, 0x48, 0x0f, 0xbc, 0xc3},
                                    {0xf3, 0x41, 0x0f, 0xbc, 0x47, 0x10},
                                    {0x66, 0xf3, 0x41, 0x0f, 0xbc, 0x47},
                                    {0xf3, 0x49, 0x0f, 0xbc, 0x47, 0x08}};
    static const int tzlen[] = {4, 5, 5, 6, 6, 6};
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < 40; k++) {
            Buf code = {0};
            for (int j = 0; j < tzlen[i]; j++) {
                put(&code, tz[i][j]);
            }
            if (i == 4) {
                put(&code, 0x18);
            }
            State in;
            random_state(&in);
            in.regs[RBX] = k < 4 ? 0 : k < 8 ? 1ull << (rn(64)) : rnd_value();
            snprintf(name, sizeof(name), "%sbmi/tzcnt/%d/%d", mode, i, k);
            /* TZCNT leaves OF, SF, PF and AF undefined */
            fails += !diff_case(name, code.b, code.n, &in, CC_O | CC_S | CC_P | CC_A);
        }
    }
    snprintf(name, sizeof(name), "%sbmi/each form (13 VEX forms x 160, TZCNT x 240)", mode);
    CHECK(name, fails == 0);
    /* random sequences of BMI instructions with flag readers between them (adc, setc) */
    fails = 0;
    for (int cs = 0; cs < 1500 && fails < 3; cs++) {
        Buf code = {0};
        int n = 1 + (int)rn(8);
        uint64_t undef = 0;
        for (int i = 0; i < n; i++) {
            bmi_random_insn(&code, (int)rn(sizeof(bmi_forms) / sizeof(bmi_forms[0])), &undef);
            if (rn(2)) {
                put(&code, 0x48); /* adc rax, rbx / setc cl */
                put(&code, 0x11);
                put(&code, 0xd8);
                undef = 0;
            }
        }
        put(&code, 0x0f);
        put(&code, 0x92);
        put(&code, 0xc1);
        State in;
        bmi_random_state(&in);
        snprintf(name, sizeof(name), "%sbmi/random/case-%d", mode, cs);
        fails += !diff_case(name, code.b, code.n, &in, undef);
    }
    snprintf(name, sizeof(name), "%sbmi/random (1500 sequences)", mode);
    CHECK(name, fails == 0);
    /* MULX with both destinations one register: the high half */
    {
        Buf code = {0};
        bmi_emit(&code, &bmi_forms[7], true, RAX, RAX, RBX, false, 0, 0);
        State in = base_state();
        in.regs[RDX] = 0xfedcba9876543210ull;
        in.regs[RBX] = 0x123456789abcdef1ull;
        snprintf(name, sizeof(name), "%sbmi/mulx-same-dest", mode);
        CHECK(name, diff_case(name, code.b, code.n, &in, 0));
    }
    /* #UD: VEX.L=1, a 66 prefix before VEX, RORX with vvvv != 1111, group 17 /0, an AVX form */
    static const uint8_t ud[][8] = {
        {0xc4, 0xe2, 0x74, 0xf2, 0xc3},
        {0x66, 0xc4, 0xe2, 0x70, 0xf2, 0xc3},
        {0xc4, 0xe3, 0x73, 0xf0, 0xc3, 0x01},
        {0xc4, 0xe2, 0x70, 0xf3, 0xc3},
        {0xc5, 0xf8, 0x28, 0xc1},
    };
    static const int udlen[] = {5, 6, 6, 5, 4};
    bool ok = true;
    for (int i = 0; i < 5; i++) {
        place_code(ud[i], udlen[i]);
        tcg_exec_flush();
        reset_memory();
        State in = base_state(), out;
        int e = run_tcg(&in, &out);
        ok &= e == EXCP_UD && env->rip == CODE;
    }
    snprintf(name, sizeof(name), "%sbmi/ud-forms", mode);
    CHECK(name, ok);
    /* -cpu qemu64: no BMI; F3 0F BC is BSF in system mode (a zero source leaves the
     * destination, ZF=1), VEX is #UD */
    env->cpuid_max_model = 0;
    tcg_exec_flush();
    {
        static const uint8_t tzc[] = {0xf3, 0x48, 0x0f, 0xbc, 0xc3};
        place_code(tzc, sizeof(tzc));
        tcg_exec_flush();
        reset_memory();
        State in = base_state(), out;
        in.regs[RAX] = 0x1234;
        in.regs[RBX] = 0;
        int e = run_tcg(&in, &out);
        bool bsf0 = e == EXCP_STOP && out.regs[RAX] == 0x1234 && (out.flags & CC_Z);
        in.regs[RBX] = 0x80;
        e = run_tcg(&in, &out);
        snprintf(name, sizeof(name), "%sbmi/qemu64-tzcnt-is-bsf", mode);
        /* (flat mode, which has no CPUID to consult, makes F3 0F BC #UD without BMI1) */
        CHECK(name, !mode[0] ? e == EXCP_UD
                             : bsf0 && e == EXCP_STOP && out.regs[RAX] == 7 &&
                                   !(out.flags & CC_C) && !(out.flags & CC_Z));
        Buf code = {0};
        bmi_emit(&code, &bmi_forms[0], true, RAX, RBX, RCX, false, 0, 0);
        place_code(code.b, code.n);
        tcg_exec_flush();
        reset_memory();
        in = base_state();
        e = run_tcg(&in, &out);
        snprintf(name, sizeof(name), "%sbmi/qemu64-has-no-bmi", mode);
        CHECK(name, e == EXCP_UD && env->rip == CODE);
    }
    env->cpuid_max_model = model;
    tcg_exec_flush();
}

/* ---- the CPU model's values where the host may differ (translated only) ---- */

/*
 * The differential cases above compare only what the manuals define. Where they leave a result
 * undefined, or Vireo's model differs from the host on purpose (MXCSR_MASK), these cases pin
 * Vireo's own values, which must be the same on every host (cc_helper.c lists them). Each
 * instruction runs last in its block (the flags live into the next one) and again followed by
 * PUSHFQ; POP R14 (the flags read inside the block); with every arithmetic flag set on entry and
 * again with none, so "unchanged" flags show both ways.
 */
typedef struct ModelCase {
    const char *name;
    uint8_t code[12];
    int n;
    uint64_t rax, rbx, rcx, rdx; /* inputs */
    int out;                     /* register checked (-1: none) */
    uint64_t want;               /* its value */
    uint64_t flags;              /* the arithmetic flags after */
    uint64_t keep;               /* flags that keep their value from before */
} ModelCase;

static bool model_one(const ModelCase *m, uint64_t fin, bool read_inside)
{
    Buf b = {0};
    putn(&b, m->code, m->n);
    if (read_inside) {
        put(&b, 0x9c); /* pushfq; pop r14 */
        put(&b, 0x41);
        put(&b, 0x5e);
    }
    place_code(b.b, b.n);
    tcg_exec_flush();
    reset_memory();
    State in = base_state(), out;
    in.regs[RAX] = m->rax;
    in.regs[RBX] = m->rbx;
    in.regs[RCX] = m->rcx;
    in.regs[RDX] = m->rdx;
    in.flags |= fin;
    int e = run_tcg(&in, &out);
    uint64_t got = read_inside ? out.regs[R14] : out.flags;
    uint64_t want = (m->flags & ~m->keep) | (fin & m->keep);
    bool ok =
        e == EXCP_STOP && (got & CC_MASK) == want && (m->out < 0 || out.regs[m->out] == m->want);
    if (!ok) {
        printf("# %s (flags in %#" PRIx64 "%s): exit %#x, %s %#" PRIx64 " want %#" PRIx64
               ", flags %#" PRIx64 " want %#" PRIx64 "\n",
               m->name, fin, read_inside ? ", read by pushfq" : "", e,
               m->out >= 0 ? reg_names[m->out] : "-", m->out >= 0 ? out.regs[m->out] : 0, m->want,
               got & CC_MASK, want);
    }
    return ok;
}

static void model_cases(const char *group, const ModelCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        for (int k = 0; k < 4; k++) {
            ok &= model_one(&cases[i], k & 1 ? CC_MASK : 0, k & 2);
        }
        char name[128];
        snprintf(name, sizeof(name), "%smodel/%s/%s", mode, group, cases[i].name);
        CHECK(name, ok);
    }
}

#define MC(nm, out_reg, want_v, fl, keep_v, a, b, c, d, ...)                                       \
    {                                                                                              \
        nm, {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), a, b, c, d, out_reg, want_v, fl,      \
            keep_v                                                                                 \
    }

/* LZCNT/TZCNT/POPCNT and BMI1: CF/ZF (and SF where defined) by the SDM, the rest as QEMU 7.2 */
static const ModelCase bmi_model[] = {
    MC("lzcnt64-1", RAX, 63, 0, 0, 0, 1, 0, 0, 0xf3, 0x48, 0x0f, 0xbd, 0xc3),
    MC("lzcnt64-0", RAX, 64, CC_C, 0, 0, 0, 0, 0, 0xf3, 0x48, 0x0f, 0xbd, 0xc3),
    MC("lzcnt64-msb", RAX, 0, CC_Z, 0, 0, 1ull << 63, 0, 0, 0xf3, 0x48, 0x0f, 0xbd, 0xc3),
    MC("lzcnt32-0", RAX, 32, CC_C, 0, ~0ull, 0, 0, 0, 0xf3, 0x0f, 0xbd, 0xc3),
    MC("lzcnt16-1", RAX, 0xffffffffffff000full, 0, 0, ~0ull, 1, 0, 0, 0x66, 0xf3, 0x0f, 0xbd, 0xc3),
    MC("tzcnt64-0x10", RAX, 4, 0, 0, 0, 0x10, 0, 0, 0xf3, 0x48, 0x0f, 0xbc, 0xc3),
    MC("tzcnt64-0", RAX, 64, CC_C, 0, 0, 0, 0, 0, 0xf3, 0x48, 0x0f, 0xbc, 0xc3),
    MC("tzcnt64-1", RAX, 0, CC_Z, 0, 0, 1, 0, 0, 0xf3, 0x48, 0x0f, 0xbc, 0xc3),
    MC("popcnt64-0xff", RAX, 8, 0, 0, 0, 0xff, 0, 0, 0xf3, 0x48, 0x0f, 0xb8, 0xc3),
    MC("popcnt64-0", RAX, 0, CC_Z, 0, 7, 0, 0, 0, 0xf3, 0x48, 0x0f, 0xb8, 0xc3),
    MC("andn-pf", RAX, 0x0f, CC_P, 0, 0, 0xff, 0xf0, 0, 0xc4, 0xe2, 0xf0, 0xf2, 0xc3),
    MC("andn-sf", RAX, 1ull << 63, CC_S | CC_P, 0, 0, (1ull << 63) | 1, 1, 0, 0xc4, 0xe2, 0xf0,
       0xf2, 0xc3),
    MC("bextr", RAX, 0x67, 0, 0, 0, 0x12345678, 0x0804, 0, 0xc4, 0xe2, 0xf0, 0xf7, 0xc3),
    MC("bextr-0", RAX, 0, CC_Z | CC_P, 0, 0, 0x12345678, 0, 0, 0xc4, 0xe2, 0xf0, 0xf7, 0xc3),
    MC("bzhi", RAX, 0xff, 0, 0, 0, 0xffff, 8, 0, 0xc4, 0xe2, 0xf0, 0xf5, 0xc3),
    MC("bzhi-past", RAX, 1ull << 63, CC_C | CC_S, 0, 0, 1ull << 63, 64, 0, 0xc4, 0xe2, 0xf0, 0xf5,
       0xc3),
    MC("blsr", RAX, 0x10, 0, 0, 0, 0x18, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xcb),
    MC("blsr-0", RAX, 0, CC_C | CC_Z, 0, 5, 0, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xcb),
    MC("blsmsk", RAX, 0x0f, 0, 0, 0, 0x18, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xd3),
    MC("blsmsk-0", RAX, ~0ull, CC_C | CC_S, 0, 0, 0, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xd3),
    MC("blsi", RAX, 0x08, CC_C, 0, 0, 0x18, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xdb),
    MC("blsi-0", RAX, 0, CC_Z, 0, 5, 0, 0, 0, 0xc4, 0xe2, 0xf8, 0xf3, 0xdb),
};

#define KEEP4 (CC_S | CC_Z | CC_A | CC_P)
/* Shifts, rotates, double shifts, MUL/IMUL, BT*, BSF/BSR, AND: QEMU 7.2's values (cc_helper.c) */
static const ModelCase flags_model[] = {
    /* SHL: AF 0, OF = MSB(result) ^ CF also for counts above 1 */
    MC("shl32-cl2", RAX, 0x3c, CC_C | CC_P | CC_O, 0, 0x4000000f, 0, 2, 0, 0xd3, 0xe0),
    MC("shl32-imm2", RAX, 0x3c, CC_C | CC_P | CC_O, 0, 0x4000000f, 0, 0, 0, 0xc1, 0xe0, 2),
    MC("shl32-imm3", RAX, 0x78, CC_P, 0, 0x4000000f, 0, 0, 0, 0xc1, 0xe0, 3),
    MC("shl32-cl0", RAX, 0x4000000f, 0, CC_MASK, 0x4000000f, 0, 0x20, 0, 0xd3, 0xe0),
    /* SHR: OF = MSB(operand) for a count of 1, else 0; SAR: OF 0 */
    MC("shr32-cl2", RAX, 0x20000003, CC_C | CC_P, 0, 0x8000000f, 0, 2, 0, 0xd3, 0xe8),
    MC("shr32-1", RAX, 0x40000007, CC_C | CC_O, 0, 0x8000000f, 0, 0, 0, 0xd1, 0xe8),
    MC("shr32-imm2", RAX, 0x20000003, CC_C | CC_P, 0, 0x8000000f, 0, 0, 0, 0xc1, 0xe8, 2),
    MC("sar32-cl4", RAX, 0xf8000000, CC_C | CC_P | CC_S, 0, 0x8000000f, 0, 4, 0, 0xd3, 0xf8),
    MC("sar64-imm4", RAX, 0xf800000000000000ull, CC_C | CC_P | CC_S, 0, 0x800000000000000full, 0, 0,
       0, 0x48, 0xc1, 0xf8, 4),
    /* 8-bit counts at and past the operand size: CF as from a wider zero/sign-extended value */
    MC("shl8-cl8", RAX, 0x1200, CC_C | CC_P | CC_Z | CC_O, 0, 0x1281, 0, 8, 0, 0xd2, 0xe0),
    MC("shl8-cl9", RAX, 0x1200, CC_P | CC_Z, 0, 0x1281, 0, 9, 0, 0xd2, 0xe0),
    MC("shr8-cl8", RAX, 0x1200, CC_C | CC_P | CC_Z, 0, 0x1281, 0, 8, 0, 0xd2, 0xe8),
    MC("sar8-cl9", RAX, 0x12ff, CC_C | CC_P | CC_S, 0, 0x1281, 0, 9, 0, 0xd2, 0xf8),
    MC("shl8-imm12", RAX, 0x1200, CC_P | CC_Z, 0, 0x1281, 0, 0, 0, 0xc0, 0xe0, 12),
    /* ROL/ROR: OF = MSB ^ CF (ROL), MSB ^ next bit (ROR) for every count; the rest unchanged */
    MC("rol32-cl2", RAX, 0x3f, CC_C | CC_O, KEEP4, 0xc000000f, 0, 2, 0, 0xd3, 0xc0),
    MC("rol32-imm2", RAX, 0x3f, CC_C | CC_O, KEEP4, 0xc000000f, 0, 0, 0, 0xc1, 0xc0, 2),
    MC("ror32-cl2", RAX, 0x40000000, CC_O, KEEP4, 1, 0, 2, 0, 0xd3, 0xc8),
    MC("ror32-imm2", RAX, 0xf0000003, CC_C, KEEP4, 0xc000000f, 0, 0, 0, 0xc1, 0xc8, 2),
    MC("rol8-cl8", RAX, 0x81, CC_C, KEEP4, 0x81, 0, 8, 0, 0xd2, 0xc0),
    /* RCL/RCR: OF = MSB(operand) ^ MSB(result); a count that is a multiple of 9 (8-bit) keeps
     * everything (after CLC/STC, so the carry in is known) */
    MC("rcl32-cl2", RAX, 5, CC_O, KEEP4, 0x80000001, 0, 2, 0, 0xf8, 0xd3, 0xd0),
    MC("rcr32-cl2", RAX, 0x20000000, CC_O, KEEP4, 0x80000000, 0, 2, 0, 0xf8, 0xd3, 0xd8),
    MC("rcr32-imm2-stc", RAX, 0x40000000, CC_C, KEEP4, 2, 0, 0, 0, 0xf9, 0xc1, 0xd8, 2),
    MC("rcl8-cl9", RAX, 0x81, 0, KEEP4 | CC_O, 0x81, 0, 9, 0, 0xf8, 0xd2, 0xd0),
    /* SHLD/SHRD: AF 0, OF by the 1-bit rule on the last step; 16-bit counts past 16 shift
     * dest:src:dest (an AMD Zen gives 0x579b and 0xd5e6 here) */
    MC("shld32-cl4", RAX, 0x23456789, CC_C | CC_O, 0, 0x12345678, 0x9abcdef0, 4, 0, 0x0f, 0xa5,
       0xd8),
    MC("shld32-imm4", RAX, 0x23456789, CC_C | CC_O, 0, 0x12345678, 0x9abcdef0, 0, 0, 0x0f, 0xa4,
       0xd8, 4),
    MC("shrd32-cl4", RAX, 0x01234567, CC_C, 0, 0x12345678, 0x9abcdef0, 4, 0, 0x0f, 0xad, 0xd8),
    MC("shld16-cl17", RAX, 0xffffffffffff579aull, CC_C | CC_P | CC_O, 0, 0xffffffffffff1234ull,
       0xabcd, 17, 0, 0x66, 0x0f, 0xa5, 0xd8),
    MC("shrd16-cl17", RAX, 0xffffffffffff55e6ull, CC_C | CC_O, 0, 0xffffffffffff1234ull, 0xabcd, 17,
       0, 0x66, 0x0f, 0xad, 0xd8),
    MC("shld32-cl0", RAX, 0x12345678, 0, CC_MASK, 0x12345678, 0x9abcdef0, 0x20, 0, 0x0f, 0xa5,
       0xd8),
    /* MUL/IMUL: SF, ZF, PF from the low half of the product, AF 0 */
    MC("mul32", RAX, 15, CC_P, 0, 3, 5, 0, 0, 0xf7, 0xe3),
    MC("mul32-zero", RAX, 0, CC_Z | CC_P, 0, 0, 7, 0, 0, 0xf7, 0xe3),
    MC("mul32-carry", RDX, 1, CC_C | CC_O | CC_Z | CC_P, 0, 0x80000000, 2, 0, 0, 0xf7, 0xe3),
    MC("mul8", RAX, 0x100, CC_C | CC_O | CC_Z | CC_P, 0, 0x10, 0x10, 0, 0, 0xf6, 0xe3),
    MC("mul64", RAX, ~1ull, CC_C | CC_O | CC_S, 0, ~0ull, 2, 0, 0, 0x48, 0xf7, 0xe3),
    MC("imul32-2op", RAX, 0xfe01, 0, 0, 0xff, 0xff, 0, 0, 0x0f, 0xaf, 0xc3),
    MC("imul32-imm8", RAX, 0x100, CC_P, 0, 0, 0x10, 0, 0, 0x6b, 0xc3, 0x10),
    MC("imul16-imm8", RAX, 0x100, CC_P, 0, 0x5555, 0x10, 0, 0, 0x66, 0x6b, 0xc3, 0x10),
    MC("imul64-1op-neg", RAX, ~0ull, CC_S | CC_P, 0, ~0ull, 1, 0, 0, 0x48, 0xf7, 0xeb),
    /* BT*: only CF changes */
    MC("bt32-imm", -1, 0, CC_C, CC_MASK & ~CC_C, 2, 0, 0, 0, 0x0f, 0xba, 0xe0, 0x01),
    MC("bts32-reg", RAX, 8, 0, CC_MASK & ~CC_C, 0, 3, 0, 0, 0x0f, 0xab, 0xd8),
    MC("btc64-reg", RAX, 0, CC_C, CC_MASK & ~CC_C, 1ull << 40, 40, 0, 0, 0x48, 0x0f, 0xbb, 0xd8),
    /* BSF/BSR: the flags of TEST src, src; a zero source leaves all 64 destination bits */
    MC("bsf32", RAX, 31, CC_S | CC_P, 0, 5, 0x80000000, 0, 0, 0x0f, 0xbc, 0xc3),
    MC("bsf32-zero", RAX, 0xdeadbeefcafef00dull, CC_Z | CC_P, 0, 0xdeadbeefcafef00dull, 1ull << 32,
       0, 0, 0x0f, 0xbc, 0xc3),
    MC("bsr64-one", RAX, 0, 0, 0, 5, 1, 0, 0, 0x48, 0x0f, 0xbd, 0xc3),
    MC("bsr16-zero", RAX, 0x123456789abcdef0ull, CC_Z | CC_P, 0, 0x123456789abcdef0ull, 0x10000, 0,
       0, 0x66, 0x0f, 0xbd, 0xc3),
    MC("bsf64-same-reg", RBX, 3, CC_P, 0, 0, 0x18, 0, 0, 0x48, 0x0f, 0xbc, 0xdb),
    /* AND/OR/XOR/TEST: AF 0 (every x86-64 host clears it; pinned so one that did not shows) */
    MC("and32-af", RAX, 0x0f, CC_P, 0, 0x0f, 0x0f, 0, 0, 0x21, 0xd8),
    MC("test8-af", -1, 0, CC_Z | CC_P, 0, 0x0f, 0xf0, 0, 0, 0x84, 0xd8),
};
#undef KEEP4

/* MXCSR_MASK is the model's (QEMU 7.2's 0x0000FFFF: DAZ accepted, nothing above bit 15), not
 * the host's; LDMXCSR and FXRSTOR check against it. */
static void test_model_mxcsr(void)
{
    char name[96];
    uint8_t *d = (uint8_t *)at(DATA) + 0x800;
    static const uint8_t fxsave[] = {0x41, 0x0f, 0xae, 0x87, 0x00, 0x06, 0x00, 0x00};
    place_code(fxsave, sizeof(fxsave));
    tcg_exec_flush();
    reset_memory();
    State in = base_state(), out;
    int e = run_tcg(&in, &out);
    uint32_t mask = 0;
    memcpy(&mask, d + 0x600 + 28, 4);
    snprintf(name, sizeof(name), "%smodel/mxcsr-mask", mode);
    CHECK(name, e == EXCP_STOP && mask == 0x0000ffff);
    /* ldmxcsr [r15+0x600]; stmxcsr [r15+0x604] */
    static const uint8_t ldst[] = {0x41, 0x0f, 0xae, 0x97, 0x00, 0x06, 0x00, 0x00,
                                   0x41, 0x0f, 0xae, 0x9f, 0x04, 0x06, 0x00, 0x00};
    static const uint32_t vals[] = {0x1fc0 /* DAZ */, 0x21f80 /* bit 17: AMD's MM */};
    for (int i = 0; i < 2; i++) {
        place_code(ldst, sizeof(ldst));
        tcg_exec_flush();
        reset_memory();
        memcpy(d + 0x600, &vals[i], 4);
        in = base_state();
        e = run_tcg(&in, &out);
        uint32_t back;
        memcpy(&back, d + 0x604, 4);
        snprintf(name, sizeof(name), "%smodel/ldmxcsr-%s", mode, i ? "bit17-gp" : "daz");
        CHECK(name, i ? e == EXCP_GP && env->rip == CODE : e == EXCP_STOP && back == vals[i]);
        env->mxcsr = 0x1f80;
    }
    /* fxsave [r15+0x600]; or dword [r15+0x618], 0x20000; fxrstor [r15+0x600]: #GP */
    static const uint8_t fxr[] = {0x41, 0x0f, 0xae, 0x87, 0x00, 0x06, 0x00, 0x00, 0x41,
                                  0x81, 0x8f, 0x18, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02,
                                  0x00, 0x41, 0x0f, 0xae, 0x8f, 0x00, 0x06, 0x00, 0x00};
    place_code(fxr, sizeof(fxr));
    tcg_exec_flush();
    reset_memory();
    in = base_state();
    e = run_tcg(&in, &out);
    snprintf(name, sizeof(name), "%smodel/fxrstor-bit17-gp", mode);
    CHECK(name, e == EXCP_GP && env->rip == CODE + 19);
    env->mxcsr = 0x1f80;
}

static void test_model(void)
{
    uint32_t model = env->cpuid_max_model;
    env->cpuid_max_model = 1;
    model_cases("bmi", bmi_model, sizeof(bmi_model) / sizeof(bmi_model[0]));
    model_cases("flags", flags_model, sizeof(flags_model) / sizeof(flags_model[0]));
    env->cpuid_max_model = model;
    test_model_mxcsr();
    tcg_exec_flush();
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    int cases = 20000;
    bool do_bench = false, seed_given = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
            seed_given = true;
        } else if (!strcmp(argv[i], "--cases") && i + 1 < argc) {
            cases = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--bench")) {
            do_bench = true;
        } else if (!strcmp(argv[i], "--softmmu")) {
            softmmu_only = true;
        } else if (!strcmp(argv[i], "-v")) {
            verbose = true;
        }
    }
    region = mmap((void *)REGION, REGION_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (region != (void *)REGION) {
        printf("skip tcg-diff: cannot map the test region at %#" PRIx64 "\n", REGION);
        return 0;
    }
    build_trampoline();
    data_init = malloc(DATA_SIZE);
    stack_init = malloc(STACK_SIZE);
    rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < DATA_SIZE; i++) {
        data_init[i] = (uint8_t)rnd();
    }
    for (int i = 0; i < STACK_SIZE; i++) {
        stack_init[i] = (uint8_t)rnd();
    }
    tcg_exec_init(64 << 20);
    env = calloc(1, sizeof(*env));
    tcg_cpu_reset(env);
    env->mxcsr = 0x1f80; /* as the host's: every SIMD exception masked */
    env->fpuc = 0x37f;

    if (do_bench) {
        bench();
        return 0;
    }
    test_optimizer();
    test_precise();
    test_directed();
    test_x87();
    test_simd();
    test_bmi();
    test_model();
    enter_softmmu();
    mode = "softmmu/";
    test_jmp_cache_cr3();
    test_jmp_cache_smc();
    test_precise();
    test_directed();
    test_x87();
    test_simd();
    test_bmi();
    test_model();
    if (!seed_given) {
        int f = random_cases(0x50f7, cases / 4);
        char name[64];
        snprintf(name, sizeof(name), "softmmu/random/seed-0x50f7 (%d cases)", cases / 4);
        CHECK(name, f == 0);
    }
    leave_softmmu();
    mode = "";
    if (softmmu_only) {
        enter_softmmu();
    }
    double t0 = now();
    if (seed_given) {
        int f = random_cases(seed, cases);
        CHECK("random/one-seed", f == 0);
    } else {
        static const uint64_t seeds[] = {1, 2, 3, 0xdecafbad};
        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
            char name[64];
            snprintf(name, sizeof(name), "random/seed-%" PRIu64 " (%d cases)", seeds[i], cases / 4);
            int f = random_cases(seeds[i], cases / 4);
            CHECK(name, f == 0);
        }
    }
    printf("# %d random cases in %.2f s; %" PRIu64 " TBs translated, %" PRIu64
           " chained jumps, %" PRIu64 " host bytes for %" PRIu64 " guest instructions\n",
           cases, now() - t0, tcg_stats.tbs, tcg_stats.chains, tcg_stats.host_bytes,
           tcg_stats.guest_insns);
    UNIT_EXIT();
}
