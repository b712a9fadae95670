/*
 * x87 FPU, FXSAVE/FXRSTOR and the MXCSR/x87 control instructions.
 *
 * The guest's x87 state lives in CPUX86State (physical registers R0..R7, control/status words,
 * abridged tags, last-instruction pointers). Guest and host are both x86 with the same 80-bit
 * extended format, so an arithmetic instruction runs on the host's own x87 unit: the helper
 * loads the guest state into the host FPU (FRSTOR, with every exception masked so the host never
 * traps), calls a two-byte stub that is the guest instruction itself (memory operands become
 * [rdi], pointing at a buffer the helper filled from guest memory), and reads the state back
 * (FNSAVE, which also leaves the host FPU in its FNINIT state, as the C ABI wants it). Results,
 * condition codes, flags, stack faults, FXAM classes, FPREM partial remainders: all are the
 * host's, bit for bit, and the same on every vendor's x87. Not so the transcendental
 * instructions (D9 F0-F3, F9, FB, FE, FF): x87_math.c computes them on the same image, as the
 * model (QEMU 7.2) does; and after FSQRT, FRNDINT, FSCALE and FXTRACT the undefined C0 C2 C3
 * are the model's, not the host's.
 *
 * Unmasked exceptions: the host computes the masked response; the helper then sees which
 * exceptions the instruction raised. If one is unmasked in the guest's control word, ES and B
 * are set; for the pre-computation ones (invalid operation, denormal, zero divide) the guest's
 * registers, stack and memory are left as they were, as hardware does. The next waiting x87
 * instruction (or FWAIT/MMX instruction) then raises #MF when CR0.NE is set (in flat mode
 * always). An unmasked overflow or underflow of FST/FSTP to memory leaves the destination and
 * the stack alone too. Limitations: with CR0.NE clear the pending exception is not reported (no
 * FERR#/IRQ 13); an unmasked overflow/underflow with a register destination stores the masked
 * result instead of the biased one; an unmasked underflow is seen only when the result is also
 * inexact (the host runs masked, and then reports underflow only with precision loss).
 *
 * The control instructions (FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FNSTENV, FLDENV, FNSAVE,
 * FRSTOR) and FXSAVE/FXRSTOR are C on the state.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "vireo/machine.h"
#include "vireo/tcg.h"
#include "vireo/x86-cpu.h"
#include "x86-helper.h"

/*
 * 2048 stubs of 4 bytes: stub (op & 7) << 8 | modrm is "D8+op modrm; ret". Register forms
 * (mod 3) and [rdi] forms (mod 0, rm 7) are real; the other ModRM values are ud2.
 */
__asm__(".pushsection .text.vireo_x87,\"ax\",@progbits\n"
        ".p2align 4\n"
        ".hidden vireo_x87_stub\n"
        "vireo_x87_stub:\n"
        ".set vx87_i, 0\n"
        ".rept 2048\n"
        ".if ((vx87_i & 0xc0) == 0xc0) || ((vx87_i & 0xc7) == 0x07)\n"
        ".byte 0xd8 + (vx87_i >> 8), vx87_i & 0xff, 0xc3, 0xcc\n"
        ".else\n"
        ".byte 0x0f, 0x0b, 0xcc, 0xcc\n"
        ".endif\n"
        ".set vx87_i, vx87_i + 1\n"
        ".endr\n"
        ".popsection\n");
extern const uint8_t vireo_x87_stub[];

/* The FNSAVE/FRSTOR image in the 32-bit protected-mode layout (what the host uses). */
typedef struct __attribute__((packed)) FSave {
    uint16_t cw, r0, sw, r1, tw, r2;
    uint32_t fip;
    uint16_t fcs, fop;
    uint32_t fdp;
    uint16_t fds, r3;
    uint8_t st[8][10];
} FSave;
_Static_assert(sizeof(FSave) == 108, "FSAVE image");

#define FSW_IE  0x0001u
#define FSW_DE  0x0002u
#define FSW_ZE  0x0004u
#define FSW_OE  0x0008u
#define FSW_UE  0x0010u
#define FSW_SF  0x0040u
#define FSW_ES  0x0080u
#define FSW_C0  0x0100u
#define FSW_C1  0x0200u
#define FSW_C2  0x0400u
#define FSW_C3  0x4000u
#define FSW_TOP 0x3800u
#define FSW_B   0x8000u

static unsigned fp_top(const CPUX86State *env)
{
    return (env->fpus >> 11) & 7;
}

/* The full two-bit tag of a non-empty register from its contents. */
static unsigned tag_of(const uint8_t *r)
{
    uint16_t exp;
    uint64_t m;
    memcpy(&exp, r + 8, 2);
    memcpy(&m, r, 8);
    exp &= 0x7fff;
    if (exp == 0x7fff) {
        return 2;
    }
    if (exp == 0) {
        return m ? 2 : 1;
    }
    return (m >> 63) ? 0 : 2;
}

static uint16_t full_tags(const CPUX86State *env)
{
    uint16_t tw = 0;
    for (int i = 0; i < 8; i++) {
        unsigned t = (env->fptag_abridged >> i) & 1 ? tag_of(env->fpregs[i]) : 3;
        tw |= (uint16_t)(t << (2 * i));
    }
    return tw;
}

static void load_full_tags(CPUX86State *env, uint16_t tw)
{
    env->fptag_abridged = 0;
    for (int i = 0; i < 8; i++) {
        if (((tw >> (2 * i)) & 3) != 3) {
            env->fptag_abridged |= (uint8_t)(1u << i);
        }
    }
}

/* ES and B follow the exception flags that the control word leaves unmasked. */
static void update_es(CPUX86State *env)
{
    if (env->fpus & ~env->fpuc & 0x3f) {
        env->fpus |= FSW_ES | FSW_B;
    } else {
        env->fpus &= (uint16_t) ~(FSW_ES | FSW_B);
    }
}

static void check_nm(CPUX86State *env)
{
    if (env->softmmu && (env->cr[0] & (CR0_EM | CR0_TS))) {
        x86_raise_exception(env, EXCP_NM, 0);
    }
}

/*
 * IGNNE#: the PC asserts it when the guest writes port 0xF0 (hw/x86/pc.c, which also drops IRQ
 * 13); as in QEMU it is deasserted when FLDENV/FRSTOR/FXRSTOR load a status word without ES.
 * One line for the machine.
 */
static _Atomic bool ignne;

void x86_fpu_set_ignne(bool on)
{
    ignne = on;
}

static void ferr_follow_es(CPUX86State *env)
{
    if (!(env->fpus & FSW_ES)) {
        ignne = false;
    }
}

/*
 * A waiting instruction with an unmasked exception pending: #MF with CR0.NE; without it the PC
 * way, FERR# to IRQ 13 through the PIC (unless IGNNE#), and the instruction goes on.
 */
static void check_mf(CPUX86State *env)
{
    if (!(env->fpus & FSW_ES)) {
        return;
    }
    if (!env->softmmu || (env->cr[0] & CR0_NE)) {
        x86_raise_exception(env, EXCP_MF, 0);
    }
    if (!ignne) {
        vireo_lock();
        irq_set_level(13, 1);
        vireo_unlock();
    }
}

void x86_fpu_reset(CPUX86State *env)
{
    env->fpuc = 0x37f;
    env->fpus = 0;
    env->fptag_abridged = 0;
    env->fpop = 0;
    env->fpip = env->fpdp = 0;
    env->fpcs = env->fpds = 0;
}

static void rd_bytes(CPUX86State *env, uint64_t a, uint8_t *buf, int n)
{
    int mmu = x86_mmu_idx(env);
    for (int i = 0; i < n;) {
        int k = n - i >= 8 ? 8 : n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint64_t v = x86_ld(env, a + (uint64_t)i, k, mmu);
        memcpy(buf + i, &v, (size_t)k);
        i += k;
    }
}

/* Check that n bytes at a are writable (may raise #PF) before any state changes. */
static void probe_wr(CPUX86State *env, uint64_t a, int n)
{
    if (env->softmmu) {
        int mmu = x86_mmu_idx(env);
        x86_host_rw(env, a, 1, mmu);
        x86_host_rw(env, a + (uint64_t)n - 1, 1, mmu);
    }
}

static void wr_bytes(CPUX86State *env, uint64_t a, const uint8_t *buf, int n)
{
    int mmu = x86_mmu_idx(env);
    probe_wr(env, a, n);
    for (int i = 0; i < n;) {
        int k = n - i >= 8 ? 8 : n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint64_t v = 0;
        memcpy(&v, buf + i, (size_t)k);
        x86_st(env, a + (uint64_t)i, v, k, mmu);
        i += k;
    }
}

/* Run stub idx on the host FPU loaded with the guest state; flags in/out are RFLAGS bits. */
static void host_exec(FSave *img, unsigned idx, uint8_t *mem, uint64_t *flags)
{
    const void *fn = vireo_x87_stub + 4 * idx;
    uint64_t fl = *flags;
    __asm__ volatile("frstor %[img]\n\t"
                     "lea -128(%%rsp), %%rsp\n\t" /* keep the red zone */
                     "push %[fl]\n\t"
                     "popfq\n\t"
                     "call *%[fn]\n\t"
                     "pushfq\n\t"
                     "pop %[fl]\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     "fnsave %[img]\n\t"
                     : [img] "+m"(*img), [fl] "+r"(fl)
                     : [fn] "r"(fn), "D"(mem)
                     : "memory", "cc");
    *flags = fl;
}

/*
 * Memory forms: operand bytes | R (read) | W (written) | C (done in C) | U (#UD), indexed by
 * (opcode & 7) << 3 | reg.
 */
enum { MR = 0x10, MW = 0x20, MC = 0x40, MU = 0x80 };
static const uint8_t mem_form[64] = {
    /* D8 */ MR | 4, MR | 4, MR | 4, MR | 4, MR | 4,  MR | 4,  MR | 4,  MR | 4,
    /* D9 */ MR | 4, MU,     MW | 4, MW | 4, MC,      MC,      MC,      MC,
    /* DA */ MR | 4, MR | 4, MR | 4, MR | 4, MR | 4,  MR | 4,  MR | 4,  MR | 4,
    /* DB */ MR | 4, MW | 4, MW | 4, MW | 4, MU,      MR | 10, MU,      MW | 10,
    /* DC */ MR | 8, MR | 8, MR | 8, MR | 8, MR | 8,  MR | 8,  MR | 8,  MR | 8,
    /* DD */ MR | 8, MW | 8, MW | 8, MW | 8, MC,      MU,      MC,      MC,
    /* DE */ MR | 2, MR | 2, MR | 2, MR | 2, MR | 2,  MR | 2,  MR | 2,  MR | 2,
    /* DF */ MR | 2, MW | 2, MW | 2, MW | 2, MR | 10, MR | 8,  MW | 10, MW | 8,
};

/* Register forms (mod 3) the host executes: a bit per ModRM byte C0..FF, per opcode. */
static bool reg_form_ok(unsigned op, unsigned m)
{
    unsigned r = (m >> 3) & 7;
    switch (op) {
    case 0: /* D8 */
    case 4: /* DC (D0/D8 rows are FCOM/FCOMP aliases) */
        return true;
    case 1: /* D9 */
        switch (r) {
        case 0: /* fld st(i) */
        case 1: /* fxch */
        case 3: /* fstp1 alias */
        case 6:
        case 7:
            return true;
        case 2:
            return m == 0xd0; /* fnop */
        case 4:
            return m == 0xe0 || m == 0xe1 || m == 0xe4 || m == 0xe5;
        case 5:
            return m <= 0xee;
        }
        return false;
    case 2: /* DA: fcmovb/e/be/u, fucompp */
        return r < 4 || m == 0xe9;
    case 3: /* DB: fcmovnb/ne/nbe/nu, fucomi, fcomi */
        return r < 4 || r == 5 || r == 6;
    case 5: /* DD: ffree, fxch4, fst, fstp, fucom, fucomp */
        return r < 6;
    case 6: /* DE: faddp, fmulp, fcomp5, fcompp, fsubrp, fsubp, fdivrp, fdivp */
        return r != 3 || m == 0xd9;
    case 7: /* DF: ffreep, fxch7, fstp8, fstp9, fucomip, fcomip */
        return r < 4 || r == 5 || r == 6;
    }
    return false;
}

/* Which CALL_* flags the translator must give helper_x87 for this instruction. */
int x87_call_flags(unsigned op, unsigned modrm)
{
    op &= 7;
    if (modrm >= 0xc0) {
        unsigned r = (modrm >> 3) & 7;
        if (op == 7 && modrm == 0xe0) {
            return CALL_MAY_FAULT | CALL_RW_GLOBALS; /* fnstsw ax */
        }
        bool fcmov = (op == 2 || op == 3) && r < 4;
        bool fcomi = (op == 3 || op == 7) && (r == 5 || r == 6);
        if (fcmov || fcomi) {
            return CALL_MAY_FAULT | CALL_RW_FLAGS; /* fcmov, fcomi family */
        }
    }
    return CALL_MAY_FAULT;
}

static void store_env(CPUX86State *env, uint64_t a, bool o16)
{
    uint8_t b[28] = {0};
    uint16_t tw = full_tags(env);
    bool real = env->softmmu && !(env->cr[0] & CR0_PE);
    if (o16) {
        uint16_t w[7] = {env->fpuc, env->fpus,           tw,       (uint16_t)env->fpip,
                         env->fpcs, (uint16_t)env->fpdp, env->fpds};
        if (real) {
            uint32_t ip = (uint32_t)env->fpip + ((uint32_t)env->fpcs << 4);
            uint32_t dp = (uint32_t)env->fpdp + ((uint32_t)env->fpds << 4);
            w[3] = (uint16_t)ip;
            w[4] = (uint16_t)(((ip >> 16) & 0xf) << 12 | (env->fpop & 0x7ff));
            w[5] = (uint16_t)dp;
            w[6] = (uint16_t)(((dp >> 16) & 0xf) << 12);
        }
        memcpy(b, w, 14);
        wr_bytes(env, a, b, 14);
        return;
    }
    uint32_t d[7] = {env->fpuc | 0xffff0000u,
                     env->fpus | 0xffff0000u,
                     tw | 0xffff0000u,
                     (uint32_t)env->fpip,
                     env->fpcs | (uint32_t)(env->fpop & 0x7ff) << 16,
                     (uint32_t)env->fpdp,
                     env->fpds | 0xffff0000u};
    if (real) {
        uint32_t ip = (uint32_t)env->fpip + ((uint32_t)env->fpcs << 4);
        uint32_t dp = (uint32_t)env->fpdp + ((uint32_t)env->fpds << 4);
        d[3] = (ip & 0xffff) | 0xffff0000u;
        d[4] = (ip >> 16) << 12 | (env->fpop & 0x7ff);
        d[5] = (dp & 0xffff) | 0xffff0000u;
        d[6] = (dp >> 16) << 12;
    }
    memcpy(b, d, 28);
    wr_bytes(env, a, b, 28);
}

/* Reads the environment at a; the caller commits. Returns its size. */
static int load_env(CPUX86State *env, uint64_t a, bool o16, CPUX86State *out)
{
    uint8_t b[28];
    int n = o16 ? 14 : 28;
    rd_bytes(env, a, b, n);
    int st = o16 ? 2 : 4;
    uint16_t cw, sw, tw;
    uint32_t ip, dp, w4;
    memcpy(&cw, b, 2);
    memcpy(&sw, b + st, 2);
    memcpy(&tw, b + 2 * st, 2);
    ip = dp = w4 = 0;
    memcpy(&ip, b + 3 * st, (size_t)st);
    memcpy(&w4, b + 4 * st, (size_t)st);
    memcpy(&dp, b + 5 * st, (size_t)st);
    out->fpuc = cw;
    out->fpus = sw;
    load_full_tags(out, tw);
    bool real = env->softmmu && !(env->cr[0] & CR0_PE);
    if (real) {
        uint32_t hi = o16 ? (w4 >> 12) & 0xf : w4 >> 12;
        out->fpip = (ip & 0xffff) | hi << 16;
        out->fpop = (uint16_t)(w4 & 0x7ff);
        out->fpcs = 0;
        uint32_t w6 = 0;
        memcpy(&w6, b + 6 * st, (size_t)st);
        out->fpdp = (dp & 0xffff) | (o16 ? (w6 >> 12) & 0xf : w6 >> 12) << 16;
        out->fpds = 0;
    } else {
        out->fpip = ip;
        out->fpcs = (uint16_t)w4;
        out->fpop = o16 ? 0 : (uint16_t)((w4 >> 16) & 0x7ff);
        out->fpdp = dp;
        uint16_t ds;
        memcpy(&ds, b + 6 * st, 2);
        out->fpds = ds;
    }
    return n;
}

static void commit_env(CPUX86State *env, const CPUX86State *in)
{
    env->fpuc = in->fpuc;
    env->fpus = in->fpus;
    env->fptag_abridged = in->fptag_abridged;
    env->fpip = in->fpip;
    env->fpdp = in->fpdp;
    env->fpop = in->fpop;
    env->fpcs = in->fpcs;
    env->fpds = in->fpds;
}

/* The control instructions done in C; mem forms by reg, register forms by ModRM. */
static void x87_control(CPUX86State *env, unsigned op, unsigned modrm, uint64_t addr, bool o16)
{
    int mmu = x86_mmu_idx(env);
    unsigned r = (modrm >> 3) & 7;
    if (modrm >= 0xc0) {
        if (op == 3 && modrm == 0xe3) {
            x86_fpu_reset(env);
        } else if (op == 3 && modrm == 0xe2) {
            env->fpus &= (uint16_t) ~(0x00ffu | FSW_B);
        } else if (op == 7 && modrm == 0xe0) {
            env->regs[R_EAX] = (env->regs[R_EAX] & ~0xffffull) | env->fpus;
        }
        /* DB E0/E1/E4 (FENI, FDISI, FSETPM): no-ops since the 387 */
        return;
    }
    switch (op << 3 | r) {
    case 1 << 3 | 4: { /* fldenv */
        CPUX86State tmp;
        load_env(env, addr, o16, &tmp);
        commit_env(env, &tmp);
        update_es(env);
        ferr_follow_es(env);
        break;
    }
    case 1 << 3 | 5: /* fldcw */
        env->fpuc = (uint16_t)x86_ld(env, addr, 2, mmu);
        update_es(env);
        break;
    case 1 << 3 | 6: /* fnstenv: then every exception is masked */
        store_env(env, addr, o16);
        env->fpuc |= 0x3f;
        break;
    case 1 << 3 | 7: /* fnstcw */
        x86_st(env, addr, env->fpuc, 2, mmu);
        break;
    case 5 << 3 | 4: { /* frstor */
        CPUX86State tmp;
        int n = load_env(env, addr, o16, &tmp);
        uint8_t regs[80];
        rd_bytes(env, addr + (uint64_t)n, regs, 80);
        commit_env(env, &tmp);
        unsigned top = fp_top(env);
        for (int i = 0; i < 8; i++) {
            memset(env->fpregs[(top + (unsigned)i) & 7], 0, 16);
            memcpy(env->fpregs[(top + (unsigned)i) & 7], regs + 10 * i, 10);
        }
        update_es(env);
        ferr_follow_es(env);
        break;
    }
    case 5 << 3 | 6: { /* fnsave: then FNINIT */
        int n = o16 ? 14 : 28;
        probe_wr(env, addr, n + 80);
        store_env(env, addr, o16);
        uint8_t regs[80];
        unsigned top = fp_top(env);
        for (int i = 0; i < 8; i++) {
            memcpy(regs + 10 * i, env->fpregs[(top + (unsigned)i) & 7], 10);
        }
        wr_bytes(env, addr + (uint64_t)n, regs, 80);
        x86_fpu_reset(env);
        break;
    }
    case 5 << 3 | 7: /* fnstsw m16 */
        x86_st(env, addr, env->fpus, 2, mmu);
        break;
    }
}

/*
 * One x87 instruction (D8-DF). info: modrm | (opcode & 7) << 8 | mem << 11 | o16 << 12.
 * addr is the memory operand's linear address.
 */
void helper_x87(CPUX86State *env, uint64_t addr, uint64_t info)
{
    unsigned modrm = info & 0xff, op = (info >> 8) & 7;
    bool mem = (info >> 11) & 1, o16 = (info >> 12) & 1;
    unsigned r = (modrm >> 3) & 7;
    unsigned form = mem ? mem_form[op << 3 | r] : 0;
    if (mem) {
        modrm &= 0x38;
    }
    if ((form & MU) || (!mem && !reg_form_ok(op, modrm))) {
        bool ctl = !mem && ((op == 3 && (modrm == 0xe2 || modrm == 0xe3 || modrm == 0xe0 ||
                                         modrm == 0xe1 || modrm == 0xe4)) ||
                            (op == 7 && modrm == 0xe0));
        if (!ctl) {
            x86_raise_exception(env, EXCP_UD, 0);
        }
        form = MC;
    }
    check_nm(env);
    if (form & MC) {
        /* FLDENV, FLDCW, FRSTOR wait; the FN* forms do not */
        bool waits = mem && ((op == 1 && (r == 4 || r == 5)) || (op == 5 && r == 4));
        if (waits) {
            check_mf(env);
        }
        x87_control(env, op, modrm, addr, o16);
        return;
    }
    check_mf(env);

    int n = form & 15;
    uint8_t buf[16] = {0};
    if (form & MR) {
        rd_bytes(env, addr, buf, n);
    } else if (form & MW) {
        probe_wr(env, addr, n);
    }

    FSave img;
    unsigned top = fp_top(env);
    memset(&img, 0, sizeof(img));
    img.cw = env->fpuc | 0x3f;
    img.sw = env->fpus & (uint16_t) ~(0x7fu | FSW_ES | FSW_B);
    img.tw = full_tags(env);
    for (int i = 0; i < 8; i++) {
        memcpy(img.st[i], env->fpregs[(top + (unsigned)i) & 7], 10);
    }
    uint64_t fl = (env->cc & CC_MASK) | RFLAGS_FIXED;
    uint16_t sw = img.sw, tw = img.tw;
    if (!mem && op == 1 && x87_soft_exec(modrm, img.cw, &sw, &tw, img.st)) {
        img.sw = sw;
        img.tw = tw;
    } else {
        bool neg0 = img.st[0][9] & 0x80;
        uint16_t sw0 = img.sw;
        host_exec(&img, op << 8 | (mem ? (modrm | 7) : modrm), buf, &fl);
        bool cc_undefined =
            !mem && op == 1 && (modrm == 0xf4 || modrm == 0xfa || modrm == 0xfc || modrm == 0xfd);
        if (tcg_scramble_undef && !mem && op == 1 && modrm >= 0xf0) {
            /* the test aid: another vendor's x87 may leave the undefined condition codes
             * otherwise, and round a transcendental function's last bit the other way (they
             * are x87_soft_exec's: this never happens unless one reaches the host) */
            if (cc_undefined) {
                img.sw ^= FSW_C0 | FSW_C2 | FSW_C3;
            }
            if ((0xca0fu >> (modrm - 0xf0)) & 1) {
                img.st[0][0] ^= 1;
            }
        }
        if (cc_undefined && !(img.sw & FSW_SF)) {
            /* FXTRACT, FSQRT, FRNDINT, FSCALE leave C0, C2, C3 undefined: the model's values
             * (QEMU 7.2: unchanged; FSQRT of an operand with the sign bit set: C2 only) */
            uint16_t cc = (modrm == 0xfa && neg0) ? FSW_C2 : (sw0 & (FSW_C0 | FSW_C2 | FSW_C3));
            img.sw = (uint16_t)((img.sw & ~(FSW_C0 | FSW_C2 | FSW_C3)) | cc);
        }
    }

    unsigned raised = img.sw & 0x7f;
    unsigned unmasked = raised & 0x3f & ~env->fpuc;
    uint16_t old_sw = env->fpus;
    /* FST/FSTP m32fp/m64fp with an unmasked overflow or underflow: the destination is not
     * written and the stack not popped (SDM vol. 1, 8.5.4/8.5.5) */
    bool fst_mem = mem && (op == 1 || op == 5) && (r == 2 || r == 3);
    if ((unmasked & (FSW_IE | FSW_DE | FSW_ZE)) || (fst_mem && (unmasked & (FSW_OE | FSW_UE)))) {
        /* no result: registers, stack, memory and flags stay; C1 tells a stack fault's kind */
        env->fpus = (uint16_t)((old_sw & ~FSW_C1) | raised | (img.sw & FSW_C1) | FSW_ES | FSW_B);
    } else {
        if (form & MW) {
            wr_bytes(env, addr, buf, n);
        }
        unsigned ntop = (img.sw >> 11) & 7;
        env->fpus = (uint16_t)((img.sw & ~(FSW_ES | FSW_B)) | (old_sw & 0x7f));
        if (unmasked) {
            env->fpus |= FSW_ES | FSW_B;
        }
        load_full_tags(env, img.tw);
        for (int i = 0; i < 8; i++) {
            uint8_t *p = env->fpregs[(ntop + (unsigned)i) & 7];
            memcpy(p, img.st[i], 10);
            memset(p + 10, 0, 6);
        }
        env->cc = (fl & CC_MASK) | RFLAGS_FIXED;
    }
    env->fpop = (uint16_t)(op << 8 | (info & 0xff));
    env->fpip = env->rip;
    env->fpcs = env->segs[R_CS].selector;
    if (mem) {
        env->fpdp = addr;
        env->fpds = env->segs[R_DS].selector;
    }
}

/* FWAIT: #NM with CR0.MP and TS, then a pending unmasked exception raises #MF */
void helper_fwait(CPUX86State *env)
{
    if (env->softmmu && (env->cr[0] & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) {
        x86_raise_exception(env, EXCP_NM, 0);
    }
    check_mf(env);
}

/* The checks every MMX instruction (and EMMS) makes before anything else: #UD, #NM, #MF. */
void x86_mmx_check(CPUX86State *env)
{
    if (env->softmmu && (env->cr[0] & CR0_EM)) {
        x86_raise_exception(env, EXCP_UD, 0);
    }
    check_nm(env);
    check_mf(env);
}

/* Every MMX instruction: TOP = 0, all tags valid (EMMS: all empty). */
void x86_mmx_enter(CPUX86State *env, bool emms)
{
    x86_mmx_check(env);
    env->fpus &= (uint16_t)~FSW_TOP;
    env->fptag_abridged = emms ? 0 : 0xff;
}

/* ---- FXSAVE/FXRSTOR, MXCSR ---- */

static void fxsave(CPUX86State *env, uint64_t addr, bool w64)
{
    if (addr & 15) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    uint8_t img[512] = {0};
    unsigned top = fp_top(env);
    memcpy(img + 0, &env->fpuc, 2);
    memcpy(img + 2, &env->fpus, 2);
    img[4] = env->fptag_abridged;
    memcpy(img + 6, &env->fpop, 2);
    if (w64) {
        memcpy(img + 8, &env->fpip, 8);
        memcpy(img + 16, &env->fpdp, 8);
    } else {
        uint32_t ip = (uint32_t)env->fpip, dp = (uint32_t)env->fpdp;
        memcpy(img + 8, &ip, 4);
        memcpy(img + 12, &env->fpcs, 2);
        memcpy(img + 16, &dp, 4);
        memcpy(img + 20, &env->fpds, 2);
    }
    memcpy(img + 24, &env->mxcsr, 4);
    uint32_t mask = 0xffff;
    memcpy(img + 28, &mask, 4);
    for (int i = 0; i < 8; i++) {
        memcpy(img + 32 + 16 * i, env->fpregs[(top + (unsigned)i) & 7], 10);
    }
    memcpy(img + 160, env->xmm, sizeof(env->xmm));
    /* bytes 416-511 are reserved or left to software: not written */
    probe_wr(env, addr, 512);
    wr_bytes(env, addr, img, 416);
}

static void fxrstor(CPUX86State *env, uint64_t addr, bool w64)
{
    if (addr & 15) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    uint8_t img[512];
    rd_bytes(env, addr, img, 512);
    uint32_t mx;
    memcpy(&mx, img + 24, 4);
    if (mx & 0xffff0000u) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    memcpy(&env->fpuc, img + 0, 2);
    memcpy(&env->fpus, img + 2, 2);
    env->fptag_abridged = img[4];
    memcpy(&env->fpop, img + 6, 2);
    env->fpop &= 0x7ff;
    if (w64) {
        memcpy(&env->fpip, img + 8, 8);
        memcpy(&env->fpdp, img + 16, 8);
    } else {
        uint32_t ip, dp;
        memcpy(&ip, img + 8, 4);
        memcpy(&env->fpcs, img + 12, 2);
        memcpy(&dp, img + 16, 4);
        memcpy(&env->fpds, img + 20, 2);
        env->fpip = ip;
        env->fpdp = dp;
    }
    env->mxcsr = mx;
    unsigned top = fp_top(env);
    for (int i = 0; i < 8; i++) {
        uint8_t *p = env->fpregs[(top + (unsigned)i) & 7];
        memcpy(p, img + 32 + 16 * i, 10);
        memset(p + 10, 0, 6);
    }
    memcpy(env->xmm, img + 160, sizeof(env->xmm));
}

/* info: FPU_* | REX.W << 8 */
void helper_fpu_ctl(CPUX86State *env, uint64_t addr, uint64_t info)
{
    int mmu = x86_mmu_idx(env);
    bool w64 = (info >> 8) & 1;
    if (env->softmmu && (env->cr[0] & CR0_TS)) {
        x86_raise_exception(env, EXCP_NM, 0);
    }
    switch (info & 0xff) {
    case FPU_STMXCSR:
        x86_st(env, addr, env->mxcsr, 4, mmu);
        break;
    case FPU_LDMXCSR: {
        uint32_t v = (uint32_t)x86_ld(env, addr, 4, mmu);
        if (v & 0xffff0000u) {
            x86_raise_exception(env, EXCP_GP, 0);
        }
        env->mxcsr = v;
        break;
    }
    case FPU_FXSAVE:
        fxsave(env, addr, w64);
        break;
    case FPU_FXRSTOR:
        fxrstor(env, addr, w64);
        ferr_follow_es(env);
        break;
    default:
        x86_raise_exception(env, EXCP_UD, 0);
    }
}
