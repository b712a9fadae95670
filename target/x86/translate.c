/*
 * The x86 front end: decodes guest instructions (64-bit mode general-purpose set for now) into
 * the IR, one translation block at a time. See docs/tcg.md.
 *
 * Each instruction: prefixes, REX, opcode (one byte or 0F xx), ModRM/SIB/displacement,
 * immediates, then IR. Register destinations are updated in place by flag ops of the
 * instruction's own size (the backend emits the host instruction, which merges 8/16-bit results
 * and zero-extends 32-bit ones exactly as the guest would). Memory operands load into temps,
 * operate, store back.
 */
#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include "vireo/tcg.h"
#include "x86-helper.h"

#define ENV(f) ((int64_t)offsetof(CPUX86State, f))

typedef struct DisasContext {
    TCGContext *s;
    CPUX86State *env;
    uint32_t flags;
    uint64_t pc_start, pc; /* current instruction, fetch cursor */
    /* prefixes */
    bool rex, rex_w;
    int rex_r, rex_x, rex_b;
    bool p66, p67, lock;
    int rep; /* 0, 0xf3, 0xf2 */
    int seg; /* -1, or a segment override (R_ES..R_GS) */
    int dsize, asize;
    /* CPU mode (from the TB key) */
    bool code64, code32, ss32, pe, addseg, vm86;
    uint64_t cs_base;  /* outside 64-bit mode: code fetches at cs_base + EIP */
    uint32_t cs_limit; /* system mode outside 64-bit mode: the CS limit when translated */
    bool first_insn;   /* translating the TB's first instruction */
    /* this instruction's linear addresses whose accesses need segment checks (seg_linear) */
    int nchk;
    struct {
        TCGv lin, off;
        int seg;
    } chk[8];
    /* ModRM */
    int mod, reg, rm;
    int base, index, scale; /* memory operand; base -1 none, -2 RIP */
    int64_t disp;
    int def_seg; /* the memory operand's default segment (R_DS, or R_SS for BP/SP bases) */
    bool ended;
    /* system mode: instruction fetch through the code page */
    bool sys;
    const uint8_t *code_host;
    uint64_t code_va; /* page of code_host */
} DisasContext;

/* An operand location: a register (maybe AH..BH) or memory. */
typedef struct Opnd {
    bool is_mem;
    int reg;
    bool high8;
    TCGv addr;
} Opnd;

static TCGContext *S(DisasContext *dc)
{
    return dc->s;
}

/* linear address of an offset in CS */
static uint64_t code_linear(const DisasContext *dc, uint64_t eip)
{
    return dc->code64 ? eip : (uint32_t)(dc->cs_base + eip);
}

static uint8_t fetch8(DisasContext *dc)
{
    if (dc->sys) {
        if (!dc->code64 && dc->pc > dc->cs_limit) {
            /* Past the CS limit: #GP(0) at this instruction. Only the TB's first instruction
             * gets here (a TB ends where the next instruction could cross the limit), so the
             * fault is raised during translation with env->rip at it. */
            assert(dc->first_insn);
            dc->env->rip = dc->pc_start;
            x86_raise_exception(dc->env, EXCP_GP, 0);
        }
        uint64_t la = code_linear(dc, dc->pc);
        uint64_t page = la & ~0xfffull;
        if (page != dc->code_va) {
            /* the first instruction crosses into the next page (may raise #PF) */
            uint64_t phys;
            dc->code_host = x86_code_page(dc->env, la, &phys);
            dc->code_va = page;
            dc->env->cur_tb->phys_page2 = phys;
        }
        dc->pc++;
        return dc->code_host[la & 0xfff];
    }
    const uint8_t *p = (const uint8_t *)(uintptr_t)(dc->env->mem_base + dc->pc);
    dc->pc++;
    return *p;
}

static uint16_t fetch16(DisasContext *dc)
{
    uint16_t v = fetch8(dc);
    return (uint16_t)(v | (fetch8(dc) << 8));
}

static uint32_t fetch32(DisasContext *dc)
{
    uint32_t v = fetch16(dc);
    return v | ((uint32_t)fetch16(dc) << 16);
}

static uint64_t fetch64(DisasContext *dc)
{
    uint64_t v = fetch32(dc);
    return v | ((uint64_t)fetch32(dc) << 32);
}

/* immediate of the operand size: imm8 / imm16 / imm32 (sign-extended for 64) */
static int64_t fetch_imm(DisasContext *dc, int size)
{
    switch (size) {
    case 8:
        return (int8_t)fetch8(dc);
    case 16:
        return (int16_t)fetch16(dc);
    default:
        return (int32_t)fetch32(dc);
    }
}

/* ---- IR shorthands ---- */

static TCGv tnew(DisasContext *dc)
{
    return tcg_temp_new(S(dc));
}

static TCGv tconst(DisasContext *dc, int64_t v)
{
    return tcg_const(S(dc), v);
}

static TCGv R(DisasContext *dc, int r)
{
    return S(dc)->regs[r];
}

static void gen_mov(DisasContext *dc, TCGv d, TCGv a)
{
    tcg_emit(S(dc), OP_mov, 64, 0, 2, d, a);
}

static TCGv gen_binop(DisasContext *dc, int opc, TCGv a, TCGv b)
{
    TCGv d = tnew(dc);
    tcg_emit(S(dc), opc, 64, 0, 3, d, a, b);
    return d;
}

static TCGv gen_unop(DisasContext *dc, int opc, TCGv a)
{
    TCGv d = tnew(dc);
    tcg_emit(S(dc), opc, 64, 0, 2, d, a);
    return d;
}

static void gen_call_helper(DisasContext *dc, void *fn, int flags, int nout, int nin, ...);

/*
 * The segment limit and type checks of an access of `bytes` at linear address addr, when addr
 * came from seg_linear for a segment that needs them (else nothing: 64-bit mode, flat
 * segments). A C helper raises #GP(0)/#SS(0) before the access with the instruction's state.
 * consume: the access covers every later one through addr (no further check for it).
 */
static void gen_seg_check_ex(DisasContext *dc, TCGv addr, int bytes, bool write, bool consume)
{
    for (int i = 0; i < dc->nchk; i++) {
        if (dc->chk[i].lin == addr) {
            gen_call_helper(dc, (void *)helper_seg_check, CALL_MAY_FAULT, 0, 2, dc->chk[i].off,
                            tcg_const(S(dc), dc->chk[i].seg | write << 3 | bytes << 4));
            if (consume) {
                dc->chk[i] = dc->chk[--dc->nchk];
            }
            return;
        }
    }
}

static void gen_seg_check(DisasContext *dc, TCGv addr, int bytes, bool write)
{
    gen_seg_check_ex(dc, addr, bytes, write, true);
}

static TCGv gen_ld(DisasContext *dc, int size, bool sign, TCGv addr)
{
    gen_seg_check_ex(dc, addr, size / 8, false, false);
    TCGv d = tnew(dc);
    tcg_emit(S(dc), OP_ld, size, sign, 2, d, addr);
    return d;
}

static void gen_st(DisasContext *dc, int size, TCGv val, TCGv addr)
{
    gen_seg_check_ex(dc, addr, size / 8, true, false);
    tcg_emit(S(dc), OP_st, size, 0, 2, val, addr);
}

static TCGv gen_ld_env(DisasContext *dc, int64_t off)
{
    TCGv d = tnew(dc);
    tcg_emit(S(dc), OP_ld_env, 64, 0, 1, d)->aux = off;
    return d;
}

static void gen_st_env(DisasContext *dc, int size, TCGv v, int64_t off)
{
    tcg_emit(S(dc), OP_st_env, size, 0, 1, v)->aux = off;
}

/* Write v to register r with x86's rule for the size. */
static void gen_write_reg(DisasContext *dc, int size, int r, bool high8, TCGv v)
{
    TCGv g = R(dc, r);
    switch (size) {
    case 64:
        gen_mov(dc, g, v);
        break;
    case 32:
        tcg_emit(S(dc), OP_ext32u, 64, 0, 2, g, v);
        break;
    case 16:
    case 8:
        if (high8) {
            tcg_emit(S(dc), OP_deposit8h, 64, 0, 3, g, g, v);
        } else {
            tcg_emit(S(dc), OP_dep, size, 0, 3, g, g, v);
        }
        break;
    }
}

/* ---- ModRM and effective addresses ---- */

static void decode_modrm(DisasContext *dc)
{
    uint8_t m = fetch8(dc);
    dc->mod = m >> 6;
    dc->reg = ((m >> 3) & 7) | dc->rex_r;
    dc->rm = (m & 7) | dc->rex_b;
    dc->base = dc->index = -1;
    dc->scale = 0;
    dc->disp = 0;
    dc->def_seg = R_DS;
    if (dc->mod == 3) {
        return;
    }
    int rm = m & 7;
    if (dc->asize == 16) {
        /* bx+si, bx+di, bp+si, bp+di, si, di, bp (disp16 with mod 0), bx */
        static const int8_t base16[8] = {R_EBX, R_EBX, R_EBP, R_EBP, R_ESI, R_EDI, R_EBP, R_EBX};
        static const int8_t index16[8] = {R_ESI, R_EDI, R_ESI, R_EDI, -1, -1, -1, -1};
        if (dc->mod == 0 && rm == 6) {
            dc->disp = (int16_t)fetch16(dc);
            return;
        }
        dc->base = base16[rm];
        dc->index = index16[rm];
        if (base16[rm] == R_EBP) {
            dc->def_seg = R_SS;
        }
        if (dc->mod == 1) {
            dc->disp = (int8_t)fetch8(dc);
        } else if (dc->mod == 2) {
            dc->disp = (int16_t)fetch16(dc);
        }
        return;
    }
    if (rm == 4) {
        uint8_t sib = fetch8(dc);
        dc->scale = sib >> 6;
        int idx = ((sib >> 3) & 7) | dc->rex_x;
        dc->index = idx == 4 ? -1 : idx;
        int b = sib & 7;
        if (b == 5 && dc->mod == 0) {
            dc->base = -1;
            dc->disp = (int32_t)fetch32(dc);
        } else {
            dc->base = b | dc->rex_b;
        }
    } else if (rm == 5 && dc->mod == 0) {
        dc->base = dc->code64 ? -2 : -1; /* RIP-relative in 64-bit mode, else absolute */
        dc->disp = (int32_t)fetch32(dc);
    } else {
        dc->base = rm | dc->rex_b;
    }
    if (dc->base == R_ESP || dc->base == R_EBP) {
        dc->def_seg = R_SS;
    }
    if (dc->mod == 1) {
        dc->disp = (int8_t)fetch8(dc);
    } else if (dc->mod == 2) {
        dc->disp = (int32_t)fetch32(dc);
    }
}

/*
 * Linear address of offset ea in segment seg. 64-bit mode: only FS and GS have a base. Other
 * modes: ea is already truncated to the address size; the base is added (for DS/ES/SS only
 * when the TB key says some of them is not zero) and the sum wraps at 4 GiB.
 */
static TCGv seg_linear(DisasContext *dc, TCGv ea, int seg)
{
    if (dc->code64) {
        if (seg == R_FS) {
            return gen_binop(dc, OP_add, ea, gen_ld_env(dc, ENV(fs_base)));
        }
        if (seg == R_GS) {
            return gen_binop(dc, OP_add, ea, gen_ld_env(dc, ENV(gs_base)));
        }
        return ea;
    }
    TCGv lin = ea;
    if (dc->addseg || !(seg == R_DS || seg == R_ES || seg == R_SS)) {
        TCGv base =
            gen_ld_env(dc, ENV(segs[0].base) + (int64_t)seg * (int64_t)sizeof(SegmentCache));
        lin = gen_unop(dc, OP_ext32u, gen_binop(dc, OP_add, ea, base));
    }
    /* Limit and type checks: only for the segments the TB key says are not flat, and for CS
     * overrides; gen_ld/gen_st (or gen_seg_check) emit them with the access's size. */
    uint32_t need = seg == R_FS ? TBF_SEGCHK_FS : seg == R_GS ? TBF_SEGCHK_GS : TBF_SEGCHK_DSS;
    if (dc->sys && (seg == R_CS || (dc->flags & need)) && dc->nchk < 8) {
        dc->chk[dc->nchk].lin = lin;
        dc->chk[dc->nchk].off = ea;
        dc->chk[dc->nchk].seg = seg;
        dc->nchk++;
    }
    return lin;
}

/* the data segment of an instruction: its override, else def */
static int data_seg(DisasContext *dc, int def)
{
    return dc->seg >= 0 ? dc->seg : def;
}

static TCGv seg_add(DisasContext *dc, TCGv ea)
{
    return seg_linear(dc, ea, data_seg(dc, R_DS));
}

/* truncate an offset to the address size */
static TCGv addr_trunc(DisasContext *dc, TCGv ea)
{
    if (dc->asize == 32) {
        return gen_unop(dc, OP_ext32u, ea);
    }
    if (dc->asize == 16) {
        return gen_unop(dc, OP_ext16u, ea);
    }
    return ea;
}

/* Effective address without segment base (for LEA). Call after all immediates are fetched:
 * RIP-relative addressing is relative to the next instruction. */
static TCGv gen_ea_noseg(DisasContext *dc)
{
    TCGv ea;
    if (dc->base == -2) {
        ea = tconst(dc, (int64_t)(dc->pc + (uint64_t)dc->disp));
    } else {
        ea = tconst(dc, dc->disp);
        if (dc->base >= 0) {
            ea = gen_binop(dc, OP_add, R(dc, dc->base), ea);
        }
        if (dc->index >= 0) {
            TCGv i = R(dc, dc->index);
            if (dc->scale) {
                i = gen_binop(dc, OP_shl, i, tconst(dc, dc->scale));
            }
            ea = gen_binop(dc, OP_add, ea, i);
        }
    }
    return addr_trunc(dc, ea);
}

static TCGv gen_ea(DisasContext *dc)
{
    return seg_linear(dc, gen_ea_noseg(dc), data_seg(dc, dc->def_seg));
}

/* The r/m operand (after decode_modrm and immediates). */
static Opnd opnd_rm(DisasContext *dc, int size)
{
    Opnd o = {0};
    if (dc->mod == 3) {
        o.reg = dc->rm;
        if (size == 8 && !dc->rex && o.reg >= 4 && o.reg < 8) {
            o.high8 = true;
            o.reg -= 4;
        }
    } else {
        o.is_mem = true;
        o.addr = gen_ea(dc);
    }
    return o;
}

static Opnd opnd_reg(DisasContext *dc, int r, int size)
{
    Opnd o = {0};
    o.reg = r;
    if (size == 8 && !dc->rex && r >= 4 && r < 8) {
        o.high8 = true;
        o.reg -= 4;
    }
    return o;
}

/* A temp whose low `size` bits are the operand's value. */
static TCGv opnd_load(DisasContext *dc, const Opnd *o, int size)
{
    if (o->is_mem) {
        return gen_ld(dc, size, false, o->addr);
    }
    if (o->high8) {
        return gen_unop(dc, OP_extract8h, R(dc, o->reg));
    }
    return R(dc, o->reg);
}

static void opnd_store(DisasContext *dc, const Opnd *o, int size, TCGv v)
{
    if (o->is_mem) {
        gen_st(dc, size, v, o->addr);
    } else {
        gen_write_reg(dc, size, o->reg, o->high8, v);
    }
}

/* For a read-modify-write flag op: input temp and the output temp to pass to it. For a
 * plain register both are the guest register itself (the op updates it in place). */
static void rmw_begin(DisasContext *dc, const Opnd *o, int size, TCGv *in, TCGv *out)
{
    if (!o->is_mem && !o->high8) {
        *in = *out = R(dc, o->reg);
        return;
    }
    if (o->is_mem) {
        /* the segment checks of the write come before the read (and before the flag op) */
        gen_seg_check(dc, o->addr, size / 8, true);
    }
    *in = opnd_load(dc, o, size);
    *out = tnew(dc);
}

static void rmw_end(DisasContext *dc, const Opnd *o, int size, TCGv out)
{
    if (!o->is_mem && !o->high8) {
        return;
    }
    opnd_store(dc, o, size, out);
}

/* ---- control flow ---- */

static void gen_exception(DisasContext *dc, int excp, uint64_t rip)
{
    gen_st_env(dc, 64, tconst(dc, (int64_t)rip), ENV(rip));
    gen_st_env(dc, 32, tconst(dc, excp), ENV(exception_index));
    tcg_emit(S(dc), OP_exit_tb, 0, 0, 0)->aux = TB_EXIT_EXCEPTION;
    dc->ended = true;
}

static void gen_exception_err(DisasContext *dc, int excp, uint32_t err, uint64_t rip)
{
    gen_st_env(dc, 32, tconst(dc, err), ENV(error_code));
    gen_exception(dc, excp, rip);
}

static void gen_goto(DisasContext *dc, int slot, uint64_t target)
{
    if (!dc->code64) {
        /* outside 64-bit mode the jump cache's inline probe cannot check the CS base */
        if ((code_linear(dc, target) ^ code_linear(dc, dc->env->cur_tb->pc)) & ~0xfffull) {
            gen_st_env(dc, 64, tconst(dc, (int64_t)target), ENV(rip));
            tcg_emit(S(dc), OP_exit_tb, 0, 0, 0)->aux = TB_EXIT_NOCHAIN;
            return;
        }
        tcg_emit(S(dc), OP_goto_tb, 0, slot, 0)->aux = (int64_t)target;
        return;
    }
    if (dc->sys && ((target ^ dc->env->cur_tb->pc) & ~0xfffull)) {
        /* another page: its mapping may change, so no direct chaining */
        tcg_emit(S(dc), OP_lookup_goto, 0, 0, 1, tcg_const(S(dc), (int64_t)target));
        return;
    }
    tcg_emit(S(dc), OP_goto_tb, 0, slot, 0)->aux = (int64_t)target;
}

static void gen_jmp_indirect(DisasContext *dc, TCGv target)
{
    if (!dc->code64) {
        gen_st_env(dc, 64, target, ENV(rip));
        tcg_emit(S(dc), OP_exit_tb, 0, 0, 0)->aux = TB_EXIT_NOCHAIN;
        dc->ended = true;
        return;
    }
    tcg_emit(S(dc), OP_lookup_goto, 0, 0, 1, target);
    dc->ended = true;
}

/* near branch target: wraps at the operand size outside 64-bit mode */
static uint64_t ip_wrap(DisasContext *dc, uint64_t target)
{
    if (dc->code64) {
        return target;
    }
    return dc->dsize == 16 ? (target & 0xffff) : (uint32_t)target;
}

static TCGv ip_wrap_t(DisasContext *dc, TCGv target)
{
    if (dc->code64) {
        return target;
    }
    return gen_unop(dc, dc->dsize == 16 ? OP_ext16u : OP_ext32u, target);
}

/* End the TB after a state change: continue at rip with a return to the exec loop. */
static void gen_end_tb(DisasContext *dc, uint64_t rip)
{
    gen_st_env(dc, 64, tconst(dc, (int64_t)rip), ENV(rip));
    tcg_emit(S(dc), OP_exit_tb, 0, 0, 0)->aux = TB_EXIT_NOCHAIN;
    dc->ended = true;
}

/* End the TB after a helper that set env->rip itself. */
static void gen_exit_nochain(DisasContext *dc)
{
    tcg_emit(S(dc), OP_exit_tb, 0, 0, 0)->aux = TB_EXIT_NOCHAIN;
    dc->ended = true;
}

static void gen_jcc(DisasContext *dc, int cc, uint64_t target)
{
    int l = tcg_new_label(S(dc));
    tcg_emit(S(dc), OP_brcc, 0, cc, 0)->aux = l;
    gen_goto(dc, 0, dc->pc);
    tcg_emit(S(dc), OP_label, 0, 0, 0)->aux = l;
    gen_goto(dc, 1, target);
    dc->ended = true;
}

/* the stack pointer's width: 64 in 64-bit mode, else SS.B */
static int stack_size(DisasContext *dc)
{
    return dc->code64 ? 64 : dc->ss32 ? 32 : 16;
}

/* RSP + delta, wrapped at the stack width */
static TCGv sp_offset(DisasContext *dc, int64_t delta)
{
    TCGv sp = delta ? gen_binop(dc, OP_add, R(dc, R_ESP), tconst(dc, delta)) : R(dc, R_ESP);
    int w = stack_size(dc);
    if (w == 32) {
        sp = gen_unop(dc, OP_ext32u, sp);
    } else if (w == 16) {
        sp = gen_unop(dc, OP_ext16u, sp);
    }
    return sp;
}

static TCGv stack_linear(DisasContext *dc, TCGv sp)
{
    return seg_linear(dc, sp, R_SS);
}

static void set_sp(DisasContext *dc, TCGv sp)
{
    int w = stack_size(dc);
    if (w == 64) {
        gen_mov(dc, R(dc, R_ESP), sp);
    } else {
        gen_write_reg(dc, w, R_ESP, false, sp);
    }
}

static void gen_push(DisasContext *dc, int size, TCGv v)
{
    TCGv sp = sp_offset(dc, -(size / 8));
    gen_st(dc, size, v, stack_linear(dc, sp));
    set_sp(dc, sp);
}

/* the value at the top of the stack + off (no RSP change) */
static TCGv gen_stack_load(DisasContext *dc, int size, int64_t off)
{
    return gen_ld(dc, size, false, stack_linear(dc, sp_offset(dc, off)));
}

static TCGv gen_pop_value(DisasContext *dc, int size)
{
    TCGv v = gen_stack_load(dc, size, 0);
    set_sp(dc, sp_offset(dc, size / 8));
    return v;
}

static void gen_call_helper(DisasContext *dc, void *fn, int flags, int nout, int nin, ...)
{
    TCGOp *op = tcg_emit(S(dc), OP_call, 0, flags, 0);
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nout + nin; i++) {
        op->args[i] = (int16_t)va_arg(ap, int);
    }
    va_end(ap);
    op->nargs = (uint8_t)(nout + nin);
    op->aux = (int64_t)(uintptr_t)fn;
    op->aux2 = nout;
}

/* ---- instruction groups ---- */

static void gen_push_seg(DisasContext *dc, int size, int seg)
{
    TCGv t = gen_ld_env(dc, ENV(segs[0].selector) + (int64_t)seg * (int64_t)sizeof(SegmentCache));
    t = gen_unop(dc, OP_ext16u, t);
    /* a 32-bit push of a segment register writes 2 bytes on current CPUs; we write 4 with the
     * upper half zero, as older ones do */
    gen_push(dc, size, t);
}

static void gen_end_tb(DisasContext *dc, uint64_t rip);

static void gen_pop_seg(DisasContext *dc, int size, int seg)
{
    TCGv v = gen_stack_load(dc, size, 0);
    gen_call_helper(dc, (void *)helper_load_seg, CALL_MAY_FAULT, 0, 2, tconst(dc, seg), v);
    set_sp(dc, sp_offset(dc, size / 8));
    if (!dc->code64) {
        gen_end_tb(dc, dc->pc); /* the TB key may change (SS.B, ADDSEG) */
    }
}

/* LDS/LES/LSS/LFS/LGS r, m16:16/32/64 (after decode_modrm) */
static void gen_load_far_ptr(DisasContext *dc, int seg, int size)
{
    TCGv a = gen_ea(dc);
    gen_seg_check(dc, a, size / 8 + 2, false);
    TCGv off = gen_ld(dc, size, false, a);
    TCGv sel = gen_ld(dc, 16, false, gen_binop(dc, OP_add, a, tconst(dc, size / 8)));
    gen_call_helper(dc, (void *)helper_load_seg, CALL_MAY_FAULT, 0, 2, tconst(dc, seg), sel);
    gen_write_reg(dc, size, dc->reg, false, off);
    if (!dc->code64) {
        gen_end_tb(dc, dc->pc);
    }
}

/* System mode: LOCK on a memory operand (and XCHG with memory) is a host atomic. */
static bool use_atomic(DisasContext *dc, const Opnd *o)
{
    return dc->sys && o->is_mem && dc->lock;
}

static TCGv gen_atomic(DisasContext *dc, int op, int size, const Opnd *o, TCGv src, bool rw_regs)
{
    TCGv old = tnew(dc);
    gen_seg_check(dc, o->addr, size / 8, true);
    gen_call_helper(dc, (void *)helper_atomic,
                    CALL_MAY_FAULT | CALL_RW_FLAGS | (rw_regs ? CALL_RW_GLOBALS : 0), 1, 3, old,
                    o->addr, src, tconst(dc, op | (size << 8)));
    return old;
}

static void gen_alu(DisasContext *dc, int n, int size, const Opnd *dst, TCGv src)
{
    TCGv in, out;
    if (n == ALU_CMP || n == ALU_TEST) {
        TCGv a = opnd_load(dc, dst, size);
        tcg_emit(S(dc), OP_aluf, size, n, 3, -1, a, src);
        return;
    }
    if (use_atomic(dc, dst)) {
        gen_atomic(dc, n, size, dst, src, false);
        return;
    }
    rmw_begin(dc, dst, size, &in, &out);
    tcg_emit(S(dc), OP_aluf, size, n, 3, out, in, src);
    rmw_end(dc, dst, size, out);
}

/*
 * ---- The flags the manuals leave undefined: the CPU model's values (cc_helper.c) ----
 * A flag op runs as the host's instruction, which leaves the host's own values in the undefined
 * flags. These follow it with ops that read the flags and write all of them with the model's
 * values; when nothing reads the flags afterwards the dead-code pass drops them again (and the
 * op's own flags are then dead too), so they cost only where a guest can see the flags.
 */
static TCGv gen_getflags(DisasContext *dc)
{
    TCGv t = tnew(dc);
    tcg_emit(S(dc), OP_getflags, 64, 0, 1, t);
    return t;
}

static void gen_setflags(DisasContext *dc, TCGv v)
{
    tcg_emit(S(dc), OP_setflags, 64, 0, 1, v);
}

/* (v >> bit) & 1 */
static TCGv gen_bit(DisasContext *dc, TCGv v, int bit)
{
    return gen_binop(dc, OP_and, gen_binop(dc, OP_shr, v, tconst(dc, bit)), tconst(dc, 1));
}

/* flags f with OF replaced by bit 0 of of1 and the `clear` flags cleared */
static TCGv gen_with_of(DisasContext *dc, TCGv f, TCGv of1, uint64_t clear)
{
    TCGv k = gen_binop(dc, OP_and, f, tconst(dc, ~(int64_t)(clear | CC_O)));
    return gen_binop(dc, OP_or, k, gen_binop(dc, OP_shl, of1, tconst(dc, 11)));
}

/* MUL/IMUL: CF and OF are the host's; SF, ZF, PF from the low half of the product, AF = 0 (the
 * flags of TEST lo, lo) */
static void gen_fix_mul(DisasContext *dc, int size, TCGv lo)
{
    TCGv f = gen_getflags(dc);
    tcg_emit(S(dc), OP_aluf, size, ALU_TEST, 3, -1, lo, lo);
    TCGv g = gen_getflags(dc);
    TCGv co = gen_binop(dc, OP_and, f, tconst(dc, CC_C | CC_O));
    gen_setflags(dc, gen_binop(dc, OP_or, co,
                               gen_binop(dc, OP_and, g, tconst(dc, ~(int64_t)(CC_C | CC_O)))));
}

/*
 * After OP_shf: in = a copy of the operand before the shift (or -1), out the result, count as
 * given. Constant counts of the common forms get inline ops; the rest call the model in C.
 */
static void gen_fix_shift(DisasContext *dc, int n, int size, TCGv in, TCGv out, TCGv count,
                          TCGv before)
{
    TCGContext *s = S(dc);
    const TCGTemp *ct = &s->temps[count];
    int mask = size == 64 ? 63 : 31;
    if (ct->kind == TEMP_CONST) {
        int c = (int)(ct->val & mask);
        if (c == 0) {
            return; /* the flags are unchanged, on every host */
        }
        if (c < size && (n == SH_SHL || n == SH_SHR || n == SH_SAR)) {
            TCGv f = gen_getflags(dc);
            if (n == SH_SHL) { /* OF = SF ^ CF (MSB of the result ^ the last bit out) */
                TCGv of1 = gen_binop(dc, OP_xor, gen_bit(dc, f, 7), gen_bit(dc, f, 0));
                gen_setflags(dc, gen_with_of(dc, f, of1, CC_A));
            } else { /* SHR: OF defined when c == 1, else 0; SAR: OF = 0 */
                uint64_t clear = CC_A | (n == SH_SHR && c == 1 ? 0 : CC_O);
                gen_setflags(dc, gen_binop(dc, OP_and, f, tconst(dc, ~(int64_t)clear)));
            }
            return;
        }
        if (c == 1 && (n == SH_RCL || n == SH_RCR)) {
            return; /* every flag it writes is defined */
        }
        if ((n == SH_ROL || n == SH_ROR) && (c & (size - 1)) != 0) {
            if (c == 1) {
                return; /* OF is defined for a 1-bit rotate */
            }
            TCGv msb = gen_bit(dc, out, size - 1);
            TCGv other = n == SH_ROL ? gen_bit(dc, out, 0) : gen_bit(dc, out, size - 2);
            TCGv f = gen_getflags(dc);
            gen_setflags(dc, gen_with_of(dc, f, gen_binop(dc, OP_xor, msb, other), 0));
            return;
        }
    }
    gen_call_helper(dc, (void *)helper_shift_flags, CALL_RW_FLAGS | CALL_FLAGS_ONLY, 0, 5, in, out,
                    count, tconst(dc, n | size << 8), before);
}

static void gen_shift(DisasContext *dc, int n, int size, const Opnd *dst, TCGv count)
{
    TCGv in, out;
    if (n == SH_SAL) {
        n = SH_SHL;
    }
    rmw_begin(dc, dst, size, &in, &out);
    /* the operand and count before the shift (which may write CL), for the model's flags:
     * copies the dead-code pass drops when they are not needed */
    TCGv orig = tnew(dc), cnt = count;
    gen_mov(dc, orig, in);
    if (S(dc)->temps[count].kind != TEMP_CONST) {
        cnt = tnew(dc);
        gen_mov(dc, cnt, count);
    }
    TCGv before = gen_getflags(dc);
    tcg_emit(S(dc), OP_shf, size, n, 3, out, in, count);
    gen_fix_shift(dc, n, size, orig, out, cnt, before);
    rmw_end(dc, dst, size, out);
}

/* BT*: CF from the host's instruction, the other flags from f0 (the flags before it) */
static void gen_fix_bt(DisasContext *dc, TCGv f0)
{
    TCGv f1 = gen_getflags(dc);
    TCGv keep = gen_binop(dc, OP_and, f0, tconst(dc, ~(int64_t)CC_C));
    gen_setflags(dc, gen_binop(dc, OP_or, keep, gen_binop(dc, OP_and, f1, tconst(dc, CC_C))));
}

/* 0F A3/AB/B3/BB and 0F BA: bit test family */
static void gen_bt(DisasContext *dc, int n, int size, TCGv bit, bool bit_is_reg)
{
    Opnd o;
    if (dc->mod == 3) {
        o = opnd_rm(dc, size);
    } else {
        o.is_mem = true;
        o.high8 = false;
        o.reg = 0;
        TCGv ea = gen_ea_noseg(dc);
        if (bit_is_reg) {
            /* the bit offset is signed and may reach beyond the operand */
            int shift = size == 64 ? 6 : size == 32 ? 5 : 4;
            int ext = size == 64 ? OP_mov : size == 32 ? OP_ext32s : OP_ext16s;
            TCGv off = ext == OP_mov ? bit : gen_unop(dc, ext, bit);
            TCGv words = gen_binop(dc, OP_sar, off, tconst(dc, shift));
            TCGv bytes = gen_binop(dc, OP_shl, words, tconst(dc, shift - 3));
            ea = addr_trunc(dc, gen_binop(dc, OP_add, ea, bytes));
        }
        o.addr = seg_linear(dc, ea, data_seg(dc, dc->def_seg));
    }
    /* the model: every flag but CF keeps its value (the host may change the undefined ones) */
    if (n == BT_BT) {
        TCGv a = opnd_load(dc, &o, size);
        TCGv f0 = gen_getflags(dc);
        tcg_emit(S(dc), OP_btf, size, n, 3, -1, a, bit);
        gen_fix_bt(dc, f0);
        return;
    }
    TCGv in, out;
    if (use_atomic(dc, &o)) {
        gen_atomic(dc, ATOM_BTS + n - BT_BTS, size, &o, bit, false);
        return;
    }
    rmw_begin(dc, &o, size, &in, &out);
    TCGv f0 = gen_getflags(dc);
    tcg_emit(S(dc), OP_btf, size, n, 3, out, in, bit);
    gen_fix_bt(dc, f0);
    rmw_end(dc, &o, size, out);
}

static void gen_string(DisasContext *dc, int kind, int size)
{
    int info = kind | (size << 8) |
               ((dc->rep == 0xf3   ? 1
                 : dc->rep == 0xf2 ? 2
                                   : 0)
                << 16) |
               ((dc->asize == 32) << 18) | ((dc->asize == 16) << 19) |
               ((dc->seg < 0 ? 7 : dc->seg) << 20) | ((!dc->code64) << 23) | (dc->addseg << 24);
    int flags = CALL_MAY_FAULT | CALL_RW_GLOBALS;
    if (kind == STR_CMPS || kind == STR_SCAS) {
        flags |= CALL_RW_FLAGS;
    }
    gen_call_helper(dc, (void *)helper_string, flags, 0, 1, tconst(dc, info));
}

/* the next code byte, not consumed */
static uint8_t peek8(DisasContext *dc)
{
    uint64_t pc = dc->pc;
    uint8_t v = fetch8(dc);
    dc->pc = pc;
    return v;
}

/*
 * A VEX-encoded instruction (C4/C5 already fetched): the general-purpose BMI1/BMI2 forms when
 * the CPU model offers them. False for #UD (any other VEX form: AVX is not offered).
 */
static bool gen_vex(DisasContext *dc, int b)
{
    if (dc->p66 || dc->rep || dc->lock || dc->rex) {
        return false; /* a legacy prefix or REX before VEX */
    }
    uint8_t b1 = fetch8(dc), b2 = b1;
    int map = 1, w = 0;
    bool r = !(b1 & 0x80), x = false, bb = false;
    if (b == 0xc4) {
        map = b1 & 0x1f;
        x = !(b1 & 0x40);
        bb = !(b1 & 0x20);
        b2 = fetch8(dc);
        w = b2 >> 7;
    }
    int vreg = (~b2 >> 3) & 15, l = (b2 >> 2) & 1, pp = b2 & 3;
    if (!dc->code64) {
        r = x = bb = false;
        vreg &= 7;
        w = 0;
    }
    dc->rex_r = r ? 8 : 0;
    dc->rex_x = x ? 8 : 0;
    dc->rex_b = bb ? 8 : 0;
    dc->rex_w = w;
    int opc = fetch8(dc);
    int size = w ? 64 : 32, op = -1;
    bool bmi1 = x86_has_bmi1(dc->env), bmi2 = x86_has_bmi2(dc->env);
    if (l) {
        return false;
    }
    if (map == 2) {
        switch (opc) {
        case 0xf2:
            op = pp == 0 && bmi1 ? BMI_ANDN : -1;
            break;
        case 0xf3:
            op = pp == 0 && bmi1 ? 0x100 : -1; /* group 17: the reg field says which */
            break;
        case 0xf5:
            op = !bmi2 ? -1 : pp == 0 ? BMI_BZHI : pp == 3 ? BMI_PDEP : pp == 2 ? BMI_PEXT : -1;
            break;
        case 0xf6:
            op = pp == 3 && bmi2 ? BMI_MULX_HI : -1;
            break;
        case 0xf7:
            op = pp == 0   ? (bmi1 ? BMI_BEXTR : -1)
                 : !bmi2   ? -1
                 : pp == 1 ? BMI_SHLX
                 : pp == 2 ? BMI_SARX
                           : BMI_SHRX;
            break;
        }
    } else if (map == 3 && opc == 0xf0 && pp == 3 && bmi2 && vreg == 0) {
        op = BMI_RORX;
    }
    if (op < 0) {
        return false;
    }
    decode_modrm(dc);
    int dest = dc->reg;
    if (op == 0x100) {
        int n = dc->reg & 7;
        if (n < 1 || n > 3) {
            return false;
        }
        op = n == 1 ? BMI_BLSR : n == 2 ? BMI_BLSMSK : BMI_BLSI;
        dest = vreg;
    }
    TCGv v;
    if (op == BMI_RORX) {
        v = tconst(dc, fetch8(dc));
    } else if (op == BMI_MULX_HI) {
        v = R(dc, R_EDX);
    } else {
        v = R(dc, vreg);
    }
    Opnd o = opnd_rm(dc, size);
    TCGv a = opnd_load(dc, &o, size);
    int fl = op <= BMI_LAST_FLAGS ? CALL_RW_FLAGS : 0;
    TCGv res = tnew(dc);
    gen_call_helper(dc, (void *)helper_bmi, fl, 1, 3, res, a, v, tconst(dc, op | size << 8));
    if (op == BMI_MULX_HI) {
        /* both halves before either write (the sources may be the destinations); when the two
         * destinations are one register it gets the high half */
        TCGv lo = tnew(dc);
        gen_call_helper(dc, (void *)helper_bmi, 0, 1, 3, lo, a, v,
                        tconst(dc, BMI_MULX_LO | size << 8));
        gen_write_reg(dc, size, vreg, false, lo);
    }
    gen_write_reg(dc, size, dest, false, res);
    return true;
}

/*
 * SHLD/SHRD: 32/64-bit as the host instruction, then the model's AF (0) and OF (the 1-bit rule
 * on the last step: SHLD MSB(res) ^ CF, SHRD MSB(res) ^ the bit below); 16-bit in C (counts
 * above 16 give results that differ between hosts).
 */
static void gen_shd(DisasContext *dc, int size, bool right, TCGv in, TCGv out, TCGv src, TCGv cnt)
{
    TCGContext *s = S(dc);
    TCGv info = tconst(dc, right | size << 8);
    if (size == 16) {
        TCGv r16 = tnew(dc);
        gen_call_helper(dc, (void *)helper_shd, CALL_RW_FLAGS, 1, 4, r16, in, src, cnt, info);
        tcg_emit(s, OP_dep, 16, 0, 3, out, in, r16); /* a register keeps its upper bits */
        return;
    }
    /* the operands and count before the op (it may write them), for the flags helper */
    TCGv orig = tnew(dc), src0 = tnew(dc), cnt0 = tnew(dc);
    gen_mov(dc, orig, in);
    gen_mov(dc, src0, src);
    gen_mov(dc, cnt0, cnt);
    tcg_emit(s, OP_shdf, size, right, 4, out, in, src, cnt);
    const TCGTemp *ct = &s->temps[cnt];
    if (ct->kind == TEMP_CONST) {
        if ((ct->val & (size == 64 ? 63 : 31)) == 0) {
            return;
        }
        TCGv f = gen_getflags(dc);
        TCGv other = right ? gen_bit(dc, out, size - 2) : gen_bit(dc, f, 0);
        TCGv of1 = gen_binop(dc, OP_xor, gen_bit(dc, out, size - 1), other);
        gen_setflags(dc, gen_with_of(dc, f, of1, CC_A));
        return;
    }
    TCGv fl = tnew(dc); /* the result again, for the flags only (dropped when they are dead) */
    gen_call_helper(dc, (void *)helper_shd, CALL_RW_FLAGS | CALL_FLAGS_ONLY, 1, 4, fl, orig, src0,
                    cnt0, info);
}

/* TZCNT, LZCNT, POPCNT r, r/m (after the F3 prefix): C with the model's flags */
static void gen_bitcount(DisasContext *dc, int op, int size)
{
    decode_modrm(dc);
    Opnd o = opnd_rm(dc, size);
    TCGv t = opnd_load(dc, &o, size);
    TCGv u = tnew(dc);
    gen_call_helper(dc, (void *)helper_bmi, CALL_RW_FLAGS, 1, 3, u, t, tconst(dc, 0),
                    tconst(dc, op | size << 8));
    gen_write_reg(dc, size, dc->reg, false, u);
}

#define CPL3(dc) (((dc)->flags & TBF_CPL3) != 0)
/* a helper that reads and writes guest registers and flags and may fault */
#define SYS_CALL (CALL_MAY_FAULT | CALL_RW_GLOBALS | CALL_RW_FLAGS)

/* Decode and translate one instruction. */
/*
 * The SSE moves that compilers emit most (movsd/movss/movd/movq, register-to-register copies,
 * the xor zeroing idiom) as plain loads and stores of env->xmm. Memory forms that must be
 * aligned stay in helper_sse, which checks.
 */
static bool gen_sse_inline(DisasContext *dc, unsigned op8, int pfx, bool mem)
{
    const int64_t X = ENV(xmm);
    int reg = dc->reg, rm = dc->rm;
#define XQ(r, h) (X + 16 * (r) + 8 * (h))
    TCGv v, w;
    switch (pfx << 8 | (int)op8) {
    case 0x310: /* movsd xmm, xmm/m64 */
    case 0x27e: /* movq xmm, xmm/m64 */
        if (mem) {
            v = gen_ld(dc, 64, false, gen_ea(dc));
        } else {
            v = gen_ld_env(dc, XQ(rm, 0));
        }
        gen_st_env(dc, 64, v, XQ(reg, 0));
        if (mem || op8 == 0x7e) {
            gen_st_env(dc, 64, tconst(dc, 0), XQ(reg, 1));
        }
        return true;
    case 0x311: /* movsd xmm/m64, xmm */
        v = gen_ld_env(dc, XQ(reg, 0));
        if (mem) {
            gen_st(dc, 64, v, gen_ea(dc));
        } else {
            gen_st_env(dc, 64, v, XQ(rm, 0));
        }
        return true;
    case 0x1d6: /* movq xmm/m64, xmm */
        v = gen_ld_env(dc, XQ(reg, 0));
        if (mem) {
            gen_st(dc, 64, v, gen_ea(dc));
        } else {
            gen_st_env(dc, 64, v, XQ(rm, 0));
            gen_st_env(dc, 64, tconst(dc, 0), XQ(rm, 1));
        }
        return true;
    case 0x210: /* movss xmm, xmm/m32 */
        if (mem) {
            gen_st_env(dc, 64, gen_ld(dc, 32, false, gen_ea(dc)), XQ(reg, 0));
            gen_st_env(dc, 64, tconst(dc, 0), XQ(reg, 1));
        } else {
            gen_st_env(dc, 32, gen_ld_env(dc, XQ(rm, 0)), XQ(reg, 0));
        }
        return true;
    case 0x211: /* movss xmm/m32, xmm */
        v = gen_ld_env(dc, XQ(reg, 0));
        if (mem) {
            gen_st(dc, 32, v, gen_ea(dc));
        } else {
            gen_st_env(dc, 32, v, XQ(rm, 0));
        }
        return true;
    case 0x16e: /* movd/movq xmm, r/m */
        if (mem) {
            v = gen_ld(dc, dc->rex_w ? 64 : 32, false, gen_ea(dc));
        } else {
            v = dc->rex_w ? R(dc, rm) : gen_unop(dc, OP_ext32u, R(dc, rm));
        }
        gen_st_env(dc, 64, v, XQ(reg, 0));
        gen_st_env(dc, 64, tconst(dc, 0), XQ(reg, 1));
        return true;
    case 0x17e: /* movd/movq r/m, xmm */
        v = gen_ld_env(dc, XQ(reg, 0));
        if (mem) {
            gen_st(dc, dc->rex_w ? 64 : 32, v, gen_ea(dc));
        } else {
            gen_write_reg(dc, dc->rex_w ? 64 : 32, rm, false, v);
        }
        return true;
    case 0x010: /* register-to-register copies */
    case 0x110:
    case 0x028:
    case 0x128:
    case 0x16f:
    case 0x26f:
    case 0x011:
    case 0x111:
    case 0x029:
    case 0x129:
    case 0x17f:
    case 0x27f: {
        if (mem) {
            return false;
        }
        bool to_rm = op8 == 0x11 || op8 == 0x29 || op8 == 0x7f;
        int src = to_rm ? reg : rm, dst = to_rm ? rm : reg;
        v = gen_ld_env(dc, XQ(src, 0));
        w = gen_ld_env(dc, XQ(src, 1));
        gen_st_env(dc, 64, v, XQ(dst, 0));
        gen_st_env(dc, 64, w, XQ(dst, 1));
        return true;
    }
    case 0x057: /* xorps, xorpd, pxor */
    case 0x157:
    case 0x1ef:
        if (mem) {
            return false;
        }
        for (int h = 0; h < 2; h++) {
            if (reg == rm) {
                v = tconst(dc, 0);
            } else {
                v = gen_binop(dc, OP_xor, gen_ld_env(dc, XQ(reg, h)), gen_ld_env(dc, XQ(rm, h)));
            }
            gen_st_env(dc, 64, v, XQ(reg, h));
        }
        return true;
    }
#undef XQ
    return false;
}

/*
 * The SSE/SSE2 integer, bitwise, shuffle and 16-byte move forms as one host instruction each
 * (OP_vec: the backend runs the same instruction on env->xmm). Memory operands only in 64-bit
 * mode (no segment base or limit to apply). Returns false to leave the form to helper_sse.
 */
static bool gen_sse_native(DisasContext *dc, unsigned op8, int pfx, bool mem)
{
    int kind;
    bool aligned = true, has_imm = false;
    switch (pfx << 8 | (int)op8) {
    case 0x054:
    case 0x154:
    case 0x1db: /* and */
    case 0x055:
    case 0x155:
    case 0x1df: /* andn */
    case 0x056:
    case 0x156:
    case 0x1eb: /* or */
    case 0x057:
    case 0x157:
    case 0x1ef: /* xor */
    case 0x174:
    case 0x175:
    case 0x176:
    case 0x164:
    case 0x165:
    case 0x166: /* pcmpeq/gt */
    case 0x1da:
    case 0x1de:
    case 0x1ea:
    case 0x1ee: /* pminub pmaxub pminsw pmaxsw */
    case 0x1f8:
    case 0x1f9:
    case 0x1fa:
    case 0x1fb:
    case 0x1fc:
    case 0x1fd:
    case 0x1fe:
    case 0x1d4:
    case 0x1d8:
    case 0x1d9:
    case 0x1dc:
    case 0x1dd:
    case 0x1e8:
    case 0x1e9:
    case 0x1ec:
    case 0x1ed:
    case 0x1d5:
    case 0x1f4:
    case 0x1f6: /* add/sub/mul/sad */
    case 0x160:
    case 0x161:
    case 0x162:
    case 0x16c:
    case 0x168:
    case 0x169:
    case 0x16a:
    case 0x16d:
    case 0x163:
    case 0x167:
    case 0x16b: /* unpack, pack */
    case 0x014:
    case 0x015:
    case 0x114:
    case 0x115: /* unpcklps/hps/lpd/hpd */
    case 0x1d1:
    case 0x1d2:
    case 0x1d3:
    case 0x1e1:
    case 0x1e2:
    case 0x1f1:
    case 0x1f2:
    case 0x1f3: /* shifts by xmm/m128 */
        kind = VK_OP;
        break;
    case 0x170:
    case 0x270:
    case 0x370:
    case 0x0c6:
    case 0x1c6: /* pshufd/hw/lw, shufps/pd */
        kind = VK_OP;
        has_imm = true;
        break;
    case 0x010:
    case 0x110:
    case 0x26f: /* movups movupd movdqu */
        aligned = false;
        /* fall through */
    case 0x028:
    case 0x128:
    case 0x16f: /* movaps movapd movdqa */
        if (!mem) {
            return false;
        }
        kind = VK_MOV;
        break;
    case 0x011:
    case 0x111:
    case 0x27f: /* movups movupd movdqu stores */
        aligned = false;
        /* fall through */
    case 0x029:
    case 0x129:
    case 0x17f:
    case 0x02b:
    case 0x12b:
    case 0x1e7:
        if (!mem) {
            return false;
        }
        kind = VK_ST;
        break;
    case 0x1d7:
    case 0x050:
    case 0x150: /* pmovmskb, movmskps/pd */
        if (mem) {
            return false;
        }
        kind = VK_MASK;
        break;
    case 0x171:
    case 0x172:
    case 0x173: { /* shifts by imm8 */
        int g = dc->reg & 7;
        bool ok =
            op8 == 0x173 ? (g == 2 || g == 3 || g == 6 || g == 7) : (g == 2 || g == 4 || g == 6);
        if (mem || !ok) {
            return false;
        }
        kind = VK_SHIFTI;
        has_imm = true;
        break;
    }
    default:
        return false;
    }
    if (mem && !dc->code64) {
        return false;
    }
    uint64_t imm = has_imm ? fetch8(dc) : 0;
    TCGv addr = mem ? gen_ea(dc) : -1;
    int reg = kind == VK_SHIFTI ? (dc->reg & 7) : dc->reg;
    uint64_t info = op8 | (uint64_t)pfx << 8 | imm << 10 | (has_imm ? VEC_HAS_IMM : 0) |
                    (uint64_t)reg << 20 | (uint64_t)dc->rm << 24 | (uint64_t)kind << 28 |
                    (mem ? VEC_MEM : 0) | (mem && aligned ? VEC_ALIGNED : 0);
    TCGv d = kind == VK_MASK ? tnew(dc) : -1;
    tcg_emit(S(dc), OP_vec, 0, 0, 2, d, addr)->aux = (int64_t)info;
    if (kind == VK_MASK) {
        gen_mov(dc, R(dc, dc->reg), d);
    }
    return true;
}

/*
 * SSE and friends: helper_simd (simd_helper.c: MMX, the floating-point forms with MXCSR,
 * SSE3, SSSE3, SSE4.1/4.2, POPCNT, LZCNT) or helper_sse (helper.c: the SSE/SSE2 moves, bitwise
 * and integer forms). b is 0x1xx for 0F xx; 0F 38 and 0F 3A fetch their opcode byte here.
 * Returns false for #UD.
 */
static bool gen_sse(DisasContext *dc, int b)
{
    unsigned map = 0, op8 = b & 0xff;
    if (b == 0x138 || b == 0x13a) {
        map = b == 0x138 ? 1 : 2;
        op8 = fetch8(dc);
    }
    decode_modrm(dc);
    int pfx = dc->rep == 0xf3 ? 2 : dc->rep == 0xf2 ? 3 : dc->p66 ? 1 : 0;
    bool mem = dc->mod != 3;
    int fl = x86_simd_call_flags(dc->env, map, op8, (unsigned)pfx, dc->rex_w, dc->p66, mem);
    if (fl == -2) {
        return false;
    }
    if (fl >= 0) {
        uint64_t imm8 =
            x86_simd_has_imm(dc->env, map, op8, (unsigned)pfx, dc->rex_w, dc->p66) ? fetch8(dc) : 0;
        TCGv addr = mem ? gen_ea(dc) : tconst(dc, 0);
        if (map == 0 && op8 == 0xf7) { /* maskmovq/maskmovdqu store to DS:rDI */
            addr = seg_add(dc, addr_trunc(dc, R(dc, R_EDI)));
        }
        gen_seg_check(dc, addr, 1, false); /* the operand's size is the helper's: 1st byte only */
        uint64_t info = op8 | map << 8 | (uint64_t)pfx << 10 | (uint64_t)dc->p66 << 12 |
                        (uint64_t)dc->rex_w << 13 | (uint64_t)dc->rex << 14 | (uint64_t)mem << 15 |
                        (uint64_t)dc->reg << 16 | (uint64_t)dc->rm << 20 | imm8 << 24;
        uint64_t prep = x86_simd_prepare(dc->env, info);
        if (!prep) {
            return false;
        }
        gen_call_helper(dc, (void *)helper_simd, fl, 0, 2, addr, tconst(dc, (int64_t)prep));
        return true;
    }
    if (map != 0) {
        return false;
    }
    if (gen_sse_inline(dc, op8, pfx, mem) || gen_sse_native(dc, op8, pfx, mem)) {
        return true;
    }
    bool has_imm = (op8 >= 0x70 && op8 <= 0x73) || op8 == 0xc6 || op8 == 0xc2;
    uint64_t imm8 = has_imm ? fetch8(dc) : 0;
    TCGv addr = dc->mod == 3 ? tconst(dc, 0) : gen_ea(dc);
    gen_seg_check(dc, addr, 1, false); /* the operand's size is the helper's: 1st byte only */
    uint64_t info = (uint64_t)op8 | (uint64_t)pfx << 8 | (uint64_t)dc->reg << 12 |
                    (uint64_t)dc->rm << 16 | (uint64_t)(dc->mod != 3) << 20 | imm8 << 24 |
                    (uint64_t)dc->rex_w << 32;
    /* only the forms that read or write a general register need the globals in env */
    bool gpr = op8 == 0x6e || op8 == 0x7e || op8 == 0xd7 || op8 == 0x50 || op8 == 0x2a ||
               op8 == 0x2c || op8 == 0x2d;
    int hfl = CALL_MAY_FAULT | (gpr ? CALL_RW_GLOBALS : 0) |
              (op8 == 0x2e || op8 == 0x2f ? CALL_RW_FLAGS : 0);
    gen_call_helper(dc, (void *)helper_sse, hfl, 0, 2, addr, tconst(dc, (int64_t)info));
    return true;
}

static void disas_insn(DisasContext *dc)
{
    TCGContext *s = S(dc);
    dc->pc_start = dc->pc;
    dc->nchk = 0;
    tcg_emit(s, OP_insn_start, 0, 0, 0)->aux = (int64_t)dc->pc;
    dc->rex = dc->rex_w = false;
    dc->rex_r = dc->rex_x = dc->rex_b = 0;
    dc->p66 = dc->p67 = dc->lock = false;
    dc->rep = 0;
    dc->seg = -1;
    int b;
    for (int n = 0;; n++) {
        if (n >= 15) {
            goto illegal;
        }
        b = fetch8(dc);
        switch (b) {
        case 0x66:
            dc->p66 = true;
            dc->rex = false;
            continue;
        case 0x67:
            dc->p67 = true;
            dc->rex = false;
            continue;
        case 0xf0:
            dc->lock = true;
            dc->rex = false;
            continue;
        case 0xf2:
        case 0xf3:
            dc->rep = b;
            dc->rex = false;
            continue;
        case 0x26:
        case 0x2e:
        case 0x36:
        case 0x3e:
            if (!dc->code64) {
                dc->seg = (b >> 3) & 3; /* ES CS SS DS */
            }
            dc->rex = false;
            continue;
        case 0x64:
        case 0x65:
            dc->seg = b == 0x64 ? R_FS : R_GS;
            dc->rex = false;
            continue;
        default:
            break;
        }
        if (dc->code64 && b >= 0x40 && b <= 0x4f) {
            dc->rex = true;
            dc->rex_w = b & 8;
            dc->rex_r = (b & 4) << 1;
            dc->rex_x = (b & 2) << 2;
            dc->rex_b = (b & 1) << 3;
            continue;
        }
        break;
    }
    if (!dc->rex) {
        dc->rex_w = false;
        dc->rex_r = dc->rex_x = dc->rex_b = 0;
    }
    int dsize, ssize; /* operand size; push/pop size */
    if (dc->code64) {
        dsize = dc->rex_w ? 64 : dc->p66 ? 16 : 32;
        dc->asize = dc->p67 ? 32 : 64;
        ssize = dc->p66 ? 16 : 64;
    } else {
        dsize = (dc->code32 ^ dc->p66) ? 32 : 16;
        dc->asize = (dc->code32 ^ dc->p67) ? 32 : 16;
        ssize = dsize;
    }
    dc->dsize = dsize;
    if (b == 0x0f) {
        b = 0x100 | fetch8(dc);
    }
    int size = (b & 1) ? dsize : 8; /* for the byte/word pairs */
    Opnd o, r;
    TCGv t, u, in, out;
    int64_t imm;

    switch (b) {
    /* ALU: 00-3F except the prefix/invalid slots */
    case 0x00 ... 0x05:
    case 0x08 ... 0x0d:
    case 0x10 ... 0x15:
    case 0x18 ... 0x1d:
    case 0x20 ... 0x25:
    case 0x28 ... 0x2d:
    case 0x30 ... 0x35:
    case 0x38 ... 0x3d: {
        int n = (b >> 3) & 7;
        switch (b & 7) {
        case 0:
        case 1:
            decode_modrm(dc);
            o = opnd_rm(dc, size);
            r = opnd_reg(dc, dc->reg, size);
            gen_alu(dc, n, size, &o, opnd_load(dc, &r, size));
            break;
        case 2:
        case 3:
            decode_modrm(dc);
            o = opnd_rm(dc, size);
            r = opnd_reg(dc, dc->reg, size);
            t = opnd_load(dc, &o, size);
            gen_alu(dc, n, size, &r, t);
            break;
        default:
            imm = fetch_imm(dc, size == 64 ? 32 : size);
            r = opnd_reg(dc, R_EAX, size);
            gen_alu(dc, n, size, &r, tconst(dc, imm));
            break;
        }
        break;
    }
    case 0x50 ... 0x57:
        gen_push(dc, ssize, R(dc, (b & 7) | dc->rex_b));
        break;
    case 0x58 ... 0x5f:
        t = gen_pop_value(dc, ssize);
        gen_write_reg(dc, ssize, (b & 7) | dc->rex_b, false, t);
        break;
    case 0x63: /* movsxd; arpl outside 64-bit mode */
        if (!dc->code64) {
            decode_modrm(dc);
            if (!dc->sys || !dc->pe || dc->vm86) {
                goto illegal;
            }
            o = opnd_rm(dc, 16);
            t = opnd_load(dc, &o, 16);
            u = tnew(dc);
            gen_call_helper(dc, (void *)helper_arpl, CALL_RW_FLAGS, 1, 2, u, t, R(dc, dc->reg));
            opnd_store(dc, &o, 16, u);
            break;
        }
        decode_modrm(dc);
        o = opnd_rm(dc, 32);
        t = opnd_load(dc, &o, 32);
        if (dsize == 64) {
            t = gen_unop(dc, OP_ext32s, t);
        }
        gen_write_reg(dc, dsize, dc->reg, false, t);
        break;
    case 0x68:
    case 0x6a:
        imm = fetch_imm(dc, b == 0x6a ? 8 : ssize == 16 ? 16 : 32);
        gen_push(dc, ssize, tconst(dc, imm));
        break;
    case 0x69:
    case 0x6b:
        decode_modrm(dc);
        imm = fetch_imm(dc, b == 0x6b ? 8 : dsize == 64 ? 32 : dsize);
        o = opnd_rm(dc, dsize);
        t = opnd_load(dc, &o, dsize);
        if (dsize == 16) { /* the destination keeps its upper bits, not the source's */
            u = tnew(dc);
            tcg_emit(s, OP_imul2f, 16, 0, 3, u, t, tconst(dc, imm));
            gen_fix_mul(dc, 16, u);
            gen_write_reg(dc, 16, dc->reg, false, u);
        } else {
            tcg_emit(s, OP_imul2f, dsize, 0, 3, R(dc, dc->reg), t, tconst(dc, imm));
            gen_fix_mul(dc, dsize, R(dc, dc->reg));
        }
        break;
    case 0x70 ... 0x7f:
        imm = (int8_t)fetch8(dc);
        gen_jcc(dc, b & 15, ip_wrap(dc, dc->pc + (uint64_t)imm));
        break;
    case 0x80:
    case 0x81:
    case 0x83:
        decode_modrm(dc);
        imm = fetch_imm(dc, b == 0x81 ? (size == 64 ? 32 : size) : 8);
        o = opnd_rm(dc, size);
        gen_alu(dc, dc->reg & 7, size, &o, tconst(dc, imm));
        break;
    case 0x84:
    case 0x85:
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        r = opnd_reg(dc, dc->reg, size);
        gen_alu(dc, ALU_TEST, size, &o, opnd_load(dc, &r, size));
        break;
    case 0x86:
    case 0x87: /* xchg r/m, r */
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        r = opnd_reg(dc, dc->reg, size);
        if (dc->sys && o.is_mem) { /* XCHG with memory is always locked */
            opnd_store(dc, &r, size,
                       gen_atomic(dc, ATOM_XCHG, size, &o, opnd_load(dc, &r, size), false));
            break;
        }
        t = opnd_load(dc, &o, size);
        u = opnd_load(dc, &r, size);
        if (!o.is_mem && !o.high8) {
            TCGv c = tnew(dc);
            gen_mov(dc, c, t);
            t = c;
        }
        opnd_store(dc, &o, size, u);
        opnd_store(dc, &r, size, t);
        break;
    case 0x88:
    case 0x89:
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        r = opnd_reg(dc, dc->reg, size);
        opnd_store(dc, &o, size, opnd_load(dc, &r, size));
        break;
    case 0x8a:
    case 0x8b:
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        r = opnd_reg(dc, dc->reg, size);
        opnd_store(dc, &r, size, opnd_load(dc, &o, size));
        break;
    case 0x8d: /* lea */
        decode_modrm(dc);
        if (dc->mod == 3) {
            goto illegal;
        }
        gen_write_reg(dc, dsize, dc->reg, false, gen_ea_noseg(dc));
        break;
    case 0x8f: /* pop r/m */
        decode_modrm(dc);
        if ((dc->reg & 7) != 0) {
            goto illegal;
        }
        t = gen_pop_value(dc, ssize);
        o = opnd_rm(dc, ssize); /* the address uses the incremented RSP */
        opnd_store(dc, &o, ssize, t);
        break;
    case 0x90:
        if (!dc->rex_b) {
            break; /* nop, pause */
        }
        __attribute__((fallthrough)); /* xchg r8, rax */
    case 0x91 ... 0x97: {
        int rr = (b & 7) | dc->rex_b;
        t = tnew(dc);
        gen_mov(dc, t, R(dc, rr));
        gen_write_reg(dc, dsize, rr, false, R(dc, R_EAX));
        gen_write_reg(dc, dsize, R_EAX, false, t);
        break;
    }
    case 0x98: /* cbw / cwde / cdqe */
        if (dsize == 16) {
            t = gen_unop(dc, OP_ext8s, R(dc, R_EAX));
        } else if (dsize == 32) {
            t = gen_unop(dc, OP_ext16s, R(dc, R_EAX));
        } else {
            t = gen_unop(dc, OP_ext32s, R(dc, R_EAX));
        }
        gen_write_reg(dc, dsize, R_EAX, false, t);
        break;
    case 0x99: /* cwd / cdq / cqo */
        if (dsize == 16) {
            t = gen_binop(dc, OP_sar, gen_unop(dc, OP_ext16s, R(dc, R_EAX)), tconst(dc, 15));
        } else if (dsize == 32) {
            t = gen_binop(dc, OP_sar, gen_unop(dc, OP_ext32s, R(dc, R_EAX)), tconst(dc, 31));
        } else {
            t = gen_binop(dc, OP_sar, R(dc, R_EAX), tconst(dc, 63));
        }
        gen_write_reg(dc, dsize, R_EDX, false, t);
        break;
    case 0x9c: /* pushf (the image has VM and RF clear) */
        if (dc->vm86) {
            gen_call_helper(dc, (void *)helper_vm86_iopl, CALL_MAY_FAULT, 0, 0);
        }
        t = tnew(dc);
        tcg_emit(s, OP_getflags, 64, 0, 1, t);
        t = gen_binop(dc, OP_and, t, tconst(dc, CC_MASK));
        u = gen_ld_env(dc, ENV(eflags));
        u = gen_binop(dc, OP_and, u, tconst(dc, ~(int64_t)(RFLAGS_VM | RFLAGS_RF)));
        t = gen_binop(dc, OP_or, t, u);
        gen_push(dc, ssize, t);
        break;
    case 0x9d: /* popf (flat mode: CPL 3, IF and IOPL unchanged) */
        t = gen_pop_value(dc, ssize);
        if (dc->sys) {
            gen_call_helper(dc, (void *)helper_popf, CALL_RW_FLAGS, 0, 2, t, tconst(dc, ssize));
            gen_end_tb(dc, dc->pc);
            break;
        }
        if (ssize == 16) {
            u = gen_ld_env(dc, ENV(eflags));
            u = gen_binop(dc, OP_and, u, tconst(dc, ~0xffffll));
            t = gen_binop(dc, OP_or, u, gen_unop(dc, OP_ext16u, t));
        }
        u = gen_binop(dc, OP_and, t, tconst(dc, CC_MASK | RFLAGS_FIXED));
        tcg_emit(s, OP_setflags, 64, 0, 1, u);
        {
            const int64_t user_mask =
                RFLAGS_DF | RFLAGS_TF | 0x4000 /* NT */ | 0x40000 /* AC */ | 0x200000 /* ID */;
            TCGv keep = gen_binop(dc, OP_and, gen_ld_env(dc, ENV(eflags)),
                                  tconst(dc, ~user_mask & ~(int64_t)CC_MASK));
            TCGv nw = gen_binop(dc, OP_and, t, tconst(dc, user_mask));
            gen_st_env(dc, 64, gen_binop(dc, OP_or, keep, nw), ENV(eflags));
        }
        gen_st_env(dc, 64, tconst(dc, (int64_t)dc->pc), ENV(rip));
        tcg_emit(s, OP_exit_tb, 0, 0, 0)->aux = TB_EXIT_NOCHAIN; /* DF may have changed */
        dc->ended = true;
        break;
    case 0x9e: /* sahf */
        t = tnew(dc);
        tcg_emit(s, OP_getflags, 64, 0, 1, t);
        t = gen_binop(dc, OP_and, t, tconst(dc, CC_O));
        u = gen_binop(dc, OP_and, gen_unop(dc, OP_extract8h, R(dc, R_EAX)),
                      tconst(dc, CC_S | CC_Z | CC_A | CC_P | CC_C));
        t = gen_binop(dc, OP_or, t, u);
        t = gen_binop(dc, OP_or, t, tconst(dc, RFLAGS_FIXED));
        tcg_emit(s, OP_setflags, 64, 0, 1, t);
        break;
    case 0x9f: /* lahf */
        t = tnew(dc);
        tcg_emit(s, OP_getflags, 64, 0, 1, t);
        t = gen_binop(dc, OP_and, t, tconst(dc, CC_S | CC_Z | CC_A | CC_P | CC_C));
        t = gen_binop(dc, OP_or, t, tconst(dc, RFLAGS_FIXED));
        gen_write_reg(dc, 8, R_EAX, true, t);
        break;
    case 0xa0 ... 0xa3: { /* mov al/rax <-> moffs */
        uint64_t a = dc->asize == 64 ? fetch64(dc) : dc->asize == 32 ? fetch32(dc) : fetch16(dc);
        t = seg_add(dc, tconst(dc, (int64_t)a));
        r = opnd_reg(dc, R_EAX, size);
        if (b & 2) {
            gen_st(dc, size, R(dc, R_EAX), t);
        } else {
            opnd_store(dc, &r, size, gen_ld(dc, size, false, t));
        }
        break;
    }
    case 0xa4:
    case 0xa5:
        gen_string(dc, STR_MOVS, size);
        break;
    case 0xa6:
    case 0xa7:
        gen_string(dc, STR_CMPS, size);
        break;
    case 0xa8:
    case 0xa9:
        imm = fetch_imm(dc, size == 64 ? 32 : size);
        r = opnd_reg(dc, R_EAX, size);
        gen_alu(dc, ALU_TEST, size, &r, tconst(dc, imm));
        break;
    case 0xaa:
    case 0xab:
        gen_string(dc, STR_STOS, size);
        break;
    case 0xac:
    case 0xad:
        gen_string(dc, STR_LODS, size);
        break;
    case 0xae:
    case 0xaf:
        gen_string(dc, STR_SCAS, size);
        break;
    case 0xb0 ... 0xb7:
        imm = (int8_t)fetch8(dc);
        r = opnd_reg(dc, (b & 7) | dc->rex_b, 8);
        opnd_store(dc, &r, 8, tconst(dc, imm));
        break;
    case 0xb8 ... 0xbf:
        imm = dsize == 64 ? (int64_t)fetch64(dc) : dsize == 16 ? fetch16(dc) : fetch32(dc);
        gen_write_reg(dc, dsize, (b & 7) | dc->rex_b, false, tconst(dc, imm));
        break;
    case 0xc0:
    case 0xc1:
        decode_modrm(dc);
        imm = fetch8(dc);
        o = opnd_rm(dc, size);
        gen_shift(dc, dc->reg & 7, size, &o, tconst(dc, imm));
        break;
    case 0xd0:
    case 0xd1:
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        gen_shift(dc, dc->reg & 7, size, &o, tconst(dc, 1));
        break;
    case 0xd2:
    case 0xd3:
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        gen_shift(dc, dc->reg & 7, size, &o, R(dc, R_ECX));
        break;
    case 0xc2:
    case 0xc3: /* ret [imm16] */
        imm = b == 0xc2 ? fetch16(dc) : 0;
        t = gen_stack_load(dc, ssize, 0);
        set_sp(dc, sp_offset(dc, ssize / 8 + imm));
        gen_jmp_indirect(dc, ip_wrap_t(dc, t));
        break;
    case 0xc6:
    case 0xc7:
        decode_modrm(dc);
        if ((dc->reg & 7) != 0) {
            goto illegal;
        }
        imm = fetch_imm(dc, size == 64 ? 32 : size);
        o = opnd_rm(dc, size);
        opnd_store(dc, &o, size, tconst(dc, imm));
        break;
    case 0xc9: /* leave */
        t = tnew(dc);
        gen_mov(dc, t, R(dc, R_EBP));
        set_sp(dc, t);
        t = gen_pop_value(dc, ssize);
        gen_write_reg(dc, ssize, R_EBP, false, t);
        break;
    case 0xcc:
        if (dc->sys) { /* the error code slot carries the length (see deliver_exception) */
            gen_exception_err(dc, EXCP_INT_SW | EXCP_BP, (uint32_t)(dc->pc - dc->pc_start), dc->pc);
        } else {
            gen_exception(dc, EXCP_BP, dc->pc);
        }
        break;
    case 0xca:
    case 0xcb: /* lret [imm16] */
        imm = b == 0xca ? fetch16(dc) : 0;
        if (!dc->sys) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_lret, SYS_CALL, 0, 1,
                        tconst(dc, dsize | ((int64_t)imm << 8)));
        gen_exit_nochain(dc);
        break;
    case 0xcd: /* int n */
        imm = fetch8(dc);
        if (!dc->sys) {
            goto illegal;
        }
        if (dc->vm86) {
            gen_call_helper(dc, (void *)helper_vm86_iopl, CALL_MAY_FAULT, 0, 0);
        }
        gen_exception_err(dc, EXCP_INT_SW | (int)imm, (uint32_t)(dc->pc - dc->pc_start), dc->pc);
        break;
    case 0xcf: /* iret */
        if (!dc->sys) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_iret, SYS_CALL, 0, 1,
                        tconst(dc, dsize | (int64_t)((uint64_t)(uint32_t)dc->pc << 8)));
        gen_exit_nochain(dc);
        break;
    case 0x6c ... 0x6f: { /* ins / outs */
        if (!dc->sys) {
            goto illegal;
        }
        int isz = (b & 1) ? (dsize == 16 ? 2 : 4) : 1;
        bool outs = b & 2, rep = dc->rep != 0;
        int64_t info = isz | (rep << 4) | (dc->asize << 8) |
                       ((outs && dc->seg >= 0 ? dc->seg : 7) << 16) | ((!dc->code64) << 20) |
                       (outs << 21);
        gen_call_helper(dc, (void *)helper_string_io, CALL_MAY_FAULT | CALL_RW_GLOBALS, 0, 2,
                        tconst(dc, info), tconst(dc, (int64_t)dc->pc));
        if (rep) {
            gen_exit_nochain(dc);
        }
        break;
    }
    case 0xe4 ... 0xe7:
    case 0xec ... 0xef: { /* in / out */
        if (!dc->sys) {
            goto illegal;
        }
        int isz = (b & 1) ? (dsize == 16 ? 16 : 32) : 8;
        TCGv port = (b & 8) ? gen_unop(dc, OP_ext16u, R(dc, R_EDX)) : tconst(dc, fetch8(dc));
        if (b & 2) {
            gen_call_helper(dc, (void *)helper_out, CALL_MAY_FAULT, 0, 3, port, R(dc, R_EAX),
                            tconst(dc, isz / 8));
        } else {
            t = tnew(dc);
            gen_call_helper(dc, (void *)helper_in, CALL_MAY_FAULT, 1, 2, t, port,
                            tconst(dc, isz / 8));
            gen_write_reg(dc, isz, R_EAX, false, t);
        }
        break;
    }
    case 0xfa:
    case 0xfb: /* cli / sti */
        if (!dc->sys) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_cli_sti, CALL_MAY_FAULT, 0, 1, tconst(dc, b & 1));
        if (b == 0xfb) {
            gen_end_tb(dc, dc->pc); /* interrupts are looked at between blocks */
        }
        break;
    case 0x8c: /* mov r/m, sreg */
        decode_modrm(dc);
        if ((dc->reg & 7) > 5 || !dc->sys) {
            goto illegal;
        }
        t = gen_ld_env(dc, ENV(segs[0].selector) +
                               (int64_t)(dc->reg & 7) * (int64_t)sizeof(SegmentCache));
        t = gen_unop(dc, OP_ext16u, t);
        o = opnd_rm(dc, 16);
        if (o.is_mem) {
            opnd_store(dc, &o, 16, t);
        } else {
            gen_write_reg(dc, dsize == 16 ? 16 : dsize, o.reg, false, t);
        }
        break;
    case 0x8e: /* mov sreg, r/m */
        decode_modrm(dc);
        if ((dc->reg & 7) > 5 || (dc->reg & 7) == R_CS || !dc->sys) {
            goto illegal;
        }
        o = opnd_rm(dc, 16);
        t = opnd_load(dc, &o, 16);
        gen_call_helper(dc, (void *)helper_load_seg, CALL_MAY_FAULT, 0, 2, tconst(dc, dc->reg & 7),
                        t);
        if (!dc->code64) {
            gen_end_tb(dc, dc->pc); /* the TB key may change (SS.B, ADDSEG) */
        }
        break;
    case 0xe0:
    case 0xe1:
    case 0xe2: { /* loopne / loope / loop */
        imm = (int8_t)fetch8(dc);
        TCGv c = addr_trunc(dc, gen_binop(dc, OP_sub, R(dc, R_ECX), tconst(dc, 1)));
        if (dc->asize == 64) {
            gen_mov(dc, R(dc, R_ECX), c);
        } else {
            gen_write_reg(dc, dc->asize, R_ECX, false, c);
        }
        int l_exit = tcg_new_label(s);
        tcg_emit(s, OP_brcond, 0, COND_EQ, 2, addr_trunc(dc, R(dc, R_ECX)), tconst(dc, 0))->aux =
            l_exit;
        if (b != 0xe2) {
            tcg_emit(s, OP_brcc, 0, b == 0xe1 ? 5 /* ne: zf=0 */ : 4 /* e */, 0)->aux = l_exit;
        }
        gen_goto(dc, 1, ip_wrap(dc, dc->pc + (uint64_t)imm));
        tcg_emit(s, OP_label, 0, 0, 0)->aux = l_exit;
        gen_goto(dc, 0, dc->pc);
        dc->ended = true;
        break;
    }
    case 0xe3: { /* jrcxz */
        imm = (int8_t)fetch8(dc);
        TCGv c = addr_trunc(dc, R(dc, R_ECX));
        int l = tcg_new_label(s);
        tcg_emit(s, OP_brcond, 0, COND_NE, 2, c, tconst(dc, 0))->aux = l;
        gen_goto(dc, 1, ip_wrap(dc, dc->pc + (uint64_t)imm));
        tcg_emit(s, OP_label, 0, 0, 0)->aux = l;
        gen_goto(dc, 0, dc->pc);
        dc->ended = true;
        break;
    }
    case 0xe8: /* call rel16/rel32 */
        imm = dsize == 16 && !dc->code64 ? (int16_t)fetch16(dc) : (int32_t)fetch32(dc);
        gen_push(dc, dc->code64 ? 64 : dsize, tconst(dc, (int64_t)dc->pc));
        gen_goto(dc, 0, ip_wrap(dc, dc->pc + (uint64_t)imm));
        dc->ended = true;
        break;
    case 0xe9:
    case 0xeb:
        imm = b == 0xeb                    ? (int8_t)fetch8(dc)
              : dsize == 16 && !dc->code64 ? (int16_t)fetch16(dc)
                                           : (int32_t)fetch32(dc);
        gen_goto(dc, 0, ip_wrap(dc, dc->pc + (uint64_t)imm));
        dc->ended = true;
        break;
    case 0xf4:
        if (dc->sys && CPL3(dc)) {
            goto gp0;
        }
        gen_exception(dc, EXCP_HLT, dc->pc);
        break;
    case 0xf5:
        tcg_emit(s, OP_flagop, 0, FL_CMC, 0);
        break;
    case 0xf8:
        tcg_emit(s, OP_flagop, 0, FL_CLC, 0);
        break;
    case 0xf9:
        tcg_emit(s, OP_flagop, 0, FL_STC, 0);
        break;
    case 0xfc:
    case 0xfd: {
        t = gen_ld_env(dc, ENV(eflags));
        if (b == 0xfc) {
            t = gen_binop(dc, OP_and, t, tconst(dc, ~(int64_t)RFLAGS_DF));
        } else {
            t = gen_binop(dc, OP_or, t, tconst(dc, RFLAGS_DF));
        }
        gen_st_env(dc, 64, t, ENV(eflags));
        gen_goto(dc, 0, dc->pc); /* DF is part of the TB key */
        dc->ended = true;
        break;
    }
    case 0xf6:
    case 0xf7: {
        decode_modrm(dc);
        int n = dc->reg & 7;
        if (n == 0 || n == 1) {
            imm = fetch_imm(dc, size == 64 ? 32 : size);
            o = opnd_rm(dc, size);
            gen_alu(dc, ALU_TEST, size, &o, tconst(dc, imm));
            break;
        }
        o = opnd_rm(dc, size);
        switch (n) {
        case 2: /* not */
            if (use_atomic(dc, &o)) {
                gen_atomic(dc, ATOM_NOT, size, &o, tconst(dc, 0), false);
                break;
            }
            t = opnd_load(dc, &o, size);
            opnd_store(dc, &o, size, gen_unop(dc, OP_not, t));
            break;
        case 3: /* neg */
            if (use_atomic(dc, &o)) {
                gen_atomic(dc, ATOM_NEG, size, &o, tconst(dc, 0), false);
                break;
            }
            rmw_begin(dc, &o, size, &in, &out);
            tcg_emit(s, OP_unf, size, UN_NEG, 2, out, in);
            rmw_end(dc, &o, size, out);
            break;
        case 4:
        case 5: /* mul, imul */
            t = opnd_load(dc, &o, size);
            if (size == 8) {
                tcg_emit(s, OP_mulf, 8, n == 5, 4, R(dc, R_EAX), -1, R(dc, R_EAX), t);
            } else {
                tcg_emit(s, OP_mulf, size, n == 5, 5, R(dc, R_EAX), R(dc, R_EDX), R(dc, R_EAX), t,
                         size == 16 ? R(dc, R_EDX) : -1);
            }
            gen_fix_mul(dc, size, R(dc, R_EAX));
            break;
        default: /* div, idiv: #DE is raised precisely by the helper */
            t = opnd_load(dc, &o, size);
            gen_call_helper(dc, (void *)helper_div, CALL_MAY_FAULT | CALL_RW_GLOBALS, 0, 2, t,
                            tconst(dc, size | ((n == 7) << 8)));
            break;
        }
        break;
    }
    case 0xfe:
    case 0xff: {
        decode_modrm(dc);
        int n = dc->reg & 7;
        if (n < 2) {
            o = opnd_rm(dc, size);
            if (use_atomic(dc, &o)) {
                gen_atomic(dc, n == 0 ? ATOM_INC : ATOM_DEC, size, &o, tconst(dc, 0), false);
                break;
            }
            rmw_begin(dc, &o, size, &in, &out);
            tcg_emit(s, OP_unf, size, n == 0 ? UN_INC : UN_DEC, 2, out, in);
            rmw_end(dc, &o, size, out);
            break;
        }
        if (b == 0xfe) {
            goto illegal;
        }
        int bsz = dc->code64 ? 64 : dsize; /* near branch operand size */
        switch (n) {
        case 2: /* call r/m */
            o = opnd_rm(dc, bsz);
            t = opnd_load(dc, &o, bsz);
            if (!o.is_mem) {
                TCGv c = tnew(dc);
                gen_mov(dc, c, t);
                t = c;
            }
            t = ip_wrap_t(dc, t);
            gen_push(dc, bsz, tconst(dc, (int64_t)dc->pc));
            gen_jmp_indirect(dc, t);
            break;
        case 4: /* jmp r/m */
            o = opnd_rm(dc, bsz);
            gen_jmp_indirect(dc, ip_wrap_t(dc, opnd_load(dc, &o, bsz)));
            break;
        case 3:
        case 5: /* lcall / ljmp m16:16/32/64 */
            if (!dc->sys || dc->mod == 3) {
                goto illegal;
            }
            t = gen_ea(dc);
            gen_seg_check(dc, t, dsize / 8 + 2, false);
            u = gen_ld(dc, dsize, false, t);
            t = gen_ld(dc, 16, false, gen_binop(dc, OP_add, t, tconst(dc, dsize / 8)));
            gen_call_helper(dc, (void *)helper_far, SYS_CALL, 0, 3, t, u,
                            tconst(dc, dsize | (n == 3) << 8 | (int64_t)dc->pc << 16));
            gen_exit_nochain(dc);
            break;
        case 6: /* push r/m */
            o = opnd_rm(dc, ssize);
            gen_push(dc, ssize, opnd_load(dc, &o, ssize));
            break;
        default:
            goto illegal;
        }
        break;
    }
    /* ---- outside 64-bit mode ---- */
    case 0x40 ... 0x4f: /* inc/dec r16/r32 (REX prefixes in 64-bit mode) */
        r = opnd_reg(dc, b & 7, dsize);
        rmw_begin(dc, &r, dsize, &in, &out);
        tcg_emit(s, OP_unf, dsize, b < 0x48 ? UN_INC : UN_DEC, 2, out, in);
        rmw_end(dc, &r, dsize, out);
        break;
    case 0x06:
    case 0x0e:
    case 0x16:
    case 0x1e: /* push es/cs/ss/ds */
        if (dc->code64 || !dc->sys) {
            goto illegal;
        }
        gen_push_seg(dc, ssize, b >> 3);
        break;
    case 0x07:
    case 0x17:
    case 0x1f: /* pop es/ss/ds */
        if (dc->code64 || !dc->sys) {
            goto illegal;
        }
        gen_pop_seg(dc, ssize, b >> 3);
        break;
    case 0x60: /* pusha */
        if (dc->code64) {
            goto illegal;
        }
        {
            int n = dsize / 8;
            for (int i = 0; i < 8; i++) {
                t = stack_linear(dc, sp_offset(dc, -n * (i + 1)));
                gen_st(dc, dsize, R(dc, i), t); /* the original SP for the 5th */
            }
            set_sp(dc, sp_offset(dc, -8 * n));
        }
        break;
    case 0x61: /* popa (SP's slot is skipped) */
        if (dc->code64) {
            goto illegal;
        }
        {
            int n = dsize / 8;
            TCGv v[8];
            for (int i = 0; i < 8; i++) {
                v[i] = i == R_ESP ? -1 : gen_stack_load(dc, dsize, n * (7 - i));
            }
            set_sp(dc, sp_offset(dc, 8 * n));
            for (int i = 0; i < 8; i++) {
                if (i != R_ESP) {
                    gen_write_reg(dc, dsize, i, false, v[i]);
                }
            }
        }
        break;
    case 0x62: /* bound r, m16&16 / m32&32 */
        decode_modrm(dc);
        if (dc->code64 || dc->mod == 3 || !dc->sys) {
            goto illegal;
        }
        t = gen_ea(dc);
        gen_seg_check(dc, t, dsize / 4, false);
        gen_call_helper(dc, (void *)helper_bound, CALL_MAY_FAULT, 0, 3, t, R(dc, dc->reg),
                        tconst(dc, dsize));
        break;
    case 0x27:
    case 0x2f:
    case 0x37:
    case 0x3f: /* daa das aaa aas */
        if (dc->code64) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_bcd, CALL_RW_GLOBALS | CALL_RW_FLAGS, 0, 1,
                        tconst(dc, b));
        break;
    case 0xd4:
    case 0xd5: /* aam / aad imm8 */
        imm = fetch8(dc);
        if (dc->code64) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_bcd, CALL_MAY_FAULT | CALL_RW_GLOBALS | CALL_RW_FLAGS, 0,
                        1, tconst(dc, b | imm << 8));
        break;
    case 0xce: /* into */
        if (dc->code64 || !dc->sys) {
            goto illegal;
        }
        {
            int l = tcg_new_label(s);
            tcg_emit(s, OP_brcc, 0, 1 /* no */, 0)->aux = l;
            gen_exception_err(dc, EXCP_INT_SW | EXCP_OF, (uint32_t)(dc->pc - dc->pc_start), dc->pc);
            dc->ended = false;
            tcg_emit(s, OP_label, 0, 0, 0)->aux = l;
        }
        break;
    case 0xd7: /* xlat */
        t = gen_binop(dc, OP_add, R(dc, R_EBX), gen_unop(dc, OP_ext8u, R(dc, R_EAX)));
        t = seg_add(dc, addr_trunc(dc, t));
        gen_write_reg(dc, 8, R_EAX, false, gen_ld(dc, 8, false, t));
        break;
    case 0x9a: /* lcall ptr16:16/32 */
    case 0xea: /* ljmp ptr16:16/32 */
        if (dc->code64 || !dc->sys) {
            goto illegal;
        }
        imm = dsize == 16 ? fetch16(dc) : fetch32(dc);
        t = tconst(dc, fetch16(dc));
        gen_call_helper(dc, (void *)helper_far, SYS_CALL, 0, 3, t, tconst(dc, imm),
                        tconst(dc, dsize | (b == 0x9a) << 8 | (int64_t)dc->pc << 16));
        gen_exit_nochain(dc);
        break;
    case 0xc4:
    case 0xc5: /* VEX (the BMI1/BMI2 forms); outside 64-bit mode, with a memory operand, les/lds */
        if (dc->code64 || (peek8(dc) >> 6) == 3) {
            if (!gen_vex(dc, b)) {
                goto illegal;
            }
            break;
        }
        decode_modrm(dc);
        if (dc->mod == 3 || !dc->sys) {
            goto illegal;
        }
        gen_load_far_ptr(dc, b == 0xc4 ? R_ES : R_DS, dsize);
        break;
    case 0x1b2:
    case 0x1b4:
    case 0x1b5: /* lss / lfs / lgs */
        decode_modrm(dc);
        if (dc->mod == 3 || !dc->sys) {
            goto illegal;
        }
        gen_load_far_ptr(dc, b == 0x1b2 ? R_SS : b == 0x1b4 ? R_FS : R_GS, dsize);
        break;
    case 0x1a0:
    case 0x1a8: /* push fs / gs */
        if (!dc->sys) {
            goto illegal;
        }
        gen_push_seg(dc, ssize, b == 0x1a0 ? R_FS : R_GS);
        break;
    case 0x1a1:
    case 0x1a9: /* pop fs / gs */
        if (!dc->sys) {
            goto illegal;
        }
        gen_pop_seg(dc, ssize, b == 0x1a1 ? R_FS : R_GS);
        break;
    case 0xc8: { /* enter imm16, imm8 */
        int frame = fetch16(dc);
        int level = fetch8(dc) & 31;
        gen_call_helper(dc, (void *)helper_enter, CALL_MAY_FAULT | CALL_RW_GLOBALS, 0, 1,
                        tconst(dc, ssize | level << 8 | (int64_t)frame << 16));
        break;
    }
    /* ---- two-byte opcodes ---- */
    case 0x105:
        if (dc->sys) {
            gen_call_helper(dc, (void *)helper_syscall, SYS_CALL, 0, 1,
                            tconst(dc, (int64_t)dc->pc));
            gen_exit_nochain(dc);
            break;
        }
        gen_exception(dc, EXCP_SYSCALL, dc->pc);
        break;
    case 0x107: /* sysret */
        if (!dc->sys) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_sysret, SYS_CALL, 0, 1, tconst(dc, dsize));
        gen_exit_nochain(dc);
        break;
    case 0x100: { /* group 6 */
        decode_modrm(dc);
        int n = dc->reg & 7;
        if (!dc->sys || n > 5 || !dc->pe || dc->vm86) {
            goto illegal;
        }
        if (n >= 4) { /* verr / verw */
            o = opnd_rm(dc, 16);
            t = opnd_load(dc, &o, 16);
            gen_call_helper(dc, (void *)helper_verr_verw, CALL_MAY_FAULT | CALL_RW_FLAGS, 0, 2, t,
                            tconst(dc, n == 5));
            break;
        }
        if (n < 2) { /* sldt / str */
            t = gen_ld_env(dc, n == 0 ? ENV(ldt.selector) : ENV(tr.selector));
            t = gen_unop(dc, OP_ext16u, t);
            o = opnd_rm(dc, 16);
            if (o.is_mem) {
                opnd_store(dc, &o, 16, t);
            } else {
                gen_write_reg(dc, dsize == 16 ? 16 : dsize, o.reg, false, t);
            }
            break;
        }
        if (CPL3(dc)) {
            goto gp0;
        }
        o = opnd_rm(dc, 16);
        t = opnd_load(dc, &o, 16);
        gen_call_helper(dc, (void *)helper_lldt_ltr, CALL_MAY_FAULT, 0, 2, t, tconst(dc, n == 3));
        break;
    }
    case 0x102:
    case 0x103: /* lar / lsl */
        decode_modrm(dc);
        if (!dc->sys || !dc->pe || dc->vm86) {
            goto illegal;
        }
        o = opnd_rm(dc, 16);
        t = opnd_load(dc, &o, 16);
        u = tnew(dc);
        gen_call_helper(dc, (void *)helper_lar_lsl, CALL_MAY_FAULT | CALL_RW_FLAGS, 1, 3, u, t,
                        R(dc, dc->reg), tconst(dc, (b & 1) | (dsize == 16 ? 16 : 32) << 8));
        gen_write_reg(dc, 64, dc->reg, false, u);
        break;
    case 0x134: /* sysenter */
        if (!dc->sys || !dc->pe) {
            goto gp0;
        }
        gen_call_helper(dc, (void *)helper_sysenter, SYS_CALL, 0, 0);
        gen_exit_nochain(dc);
        break;
    case 0x135: /* sysexit */
        if (!dc->sys || !dc->pe || CPL3(dc)) {
            goto gp0;
        }
        gen_call_helper(dc, (void *)helper_sysexit, SYS_CALL, 0, 1, tconst(dc, dc->rex_w));
        gen_exit_nochain(dc);
        break;
    case 0x101: { /* group 7 */
        decode_modrm(dc);
        int n = dc->reg & 7;
        if (!dc->sys) {
            goto illegal;
        }
        if (dc->mod == 3) {
            int sub = (n << 3) | (dc->rm & 7);
            if (sub == 0x38) { /* swapgs */
                if (CPL3(dc)) {
                    goto gp0;
                }
                gen_call_helper(dc, (void *)helper_swapgs, 0, 0, 0);
                break;
            }
            if (sub == 0x39) { /* rdtscp */
                gen_call_helper(dc, (void *)helper_rdtsc, CALL_RW_GLOBALS, 0, 1, tconst(dc, 1));
                break;
            }
            goto illegal;
        }
        switch (n) {
        case 0:
        case 1: /* sgdt / sidt */
            t = gen_ea(dc);
            gen_seg_check(dc, t, 6, true);
            gen_call_helper(dc, (void *)helper_dtable, CALL_MAY_FAULT, 0, 2, t,
                            tconst(dc, 2 | n | (dc->code64 ? 64 : dsize) << 8));
            break;
        case 2:
        case 3: /* lgdt / lidt */
            if (CPL3(dc)) {
                goto gp0;
            }
            t = gen_ea(dc);
            gen_seg_check(dc, t, 6, false);
            gen_call_helper(dc, (void *)helper_dtable, CALL_MAY_FAULT, 0, 2, t,
                            tconst(dc, (n & 1) | (dc->code64 ? 64 : dsize) << 8));
            break;
        case 4: /* smsw */
            o = opnd_rm(dc, 16);
            opnd_store(dc, &o, 16, gen_ld_env(dc, ENV(cr[0])));
            break;
        case 6: /* lmsw: PE, MP, EM, TS (PE cannot be cleared) */
            if (CPL3(dc)) {
                goto gp0;
            }
            o = opnd_rm(dc, 16);
            t = gen_binop(dc, OP_and, opnd_load(dc, &o, 16), tconst(dc, 0xf));
            u = gen_binop(dc, OP_and, gen_ld_env(dc, ENV(cr[0])), tconst(dc, ~(int64_t)0xe));
            gen_call_helper(dc, (void *)helper_write_cr, CALL_MAY_FAULT, 0, 2, tconst(dc, 0),
                            gen_binop(dc, OP_or, t, u));
            gen_end_tb(dc, dc->pc);
            break;
        case 7: /* invlpg */
            if (CPL3(dc)) {
                goto gp0;
            }
            gen_call_helper(dc, (void *)helper_invlpg, 0, 0, 1, gen_ea(dc));
            gen_end_tb(dc, dc->pc);
            break;
        default:
            goto illegal;
        }
        break;
    }
    case 0x106: /* clts */
        if (!dc->sys) {
            goto illegal;
        }
        if (CPL3(dc)) {
            goto gp0;
        }
        t = gen_binop(dc, OP_and, gen_ld_env(dc, ENV(cr[0])), tconst(dc, ~(int64_t)CR0_TS));
        gen_st_env(dc, 64, t, ENV(cr[0]));
        break;
    case 0x108:
    case 0x109: /* invd, wbinvd */
        if (!dc->sys) {
            goto illegal;
        }
        if (CPL3(dc)) {
            goto gp0;
        }
        break;
    case 0x120:
    case 0x122: { /* mov r, crN / mov crN, r */
        decode_modrm(dc);
        int n = dc->reg;
        if (!dc->sys || !(n == 0 || n == 2 || n == 3 || n == 4 || n == 8)) {
            goto illegal;
        }
        if (CPL3(dc)) {
            goto gp0;
        }
        if (b == 0x120) {
            t = tnew(dc);
            gen_call_helper(dc, (void *)helper_read_cr, 0, 1, 1, t, tconst(dc, n));
            gen_write_reg(dc, dc->code64 ? 64 : 32, dc->rm, false, t);
        } else {
            t = dc->code64 ? R(dc, dc->rm) : gen_unop(dc, OP_ext32u, R(dc, dc->rm));
            gen_call_helper(dc, (void *)helper_write_cr, CALL_MAY_FAULT, 0, 2, tconst(dc, n), t);
            gen_end_tb(dc, dc->pc);
        }
        break;
    }
    case 0x121:
    case 0x123: { /* mov r, drN / mov drN, r */
        decode_modrm(dc);
        int n = dc->reg;
        if (!dc->sys || n > 7) {
            goto illegal;
        }
        if (CPL3(dc)) {
            goto gp0;
        }
        if (n == 4 || n == 5) {
            /* DR6/DR7 unless CR4.DE, which makes them #UD (checked when it runs) */
            gen_call_helper(dc, (void *)helper_check_dr45, CALL_MAY_FAULT, 0, 0);
            n += 2;
        }
        if (b == 0x121) {
            gen_write_reg(dc, 64, dc->rm, false, gen_ld_env(dc, ENV(dr[0]) + 8 * n));
        } else {
            gen_st_env(dc, 64, R(dc, dc->rm), ENV(dr[0]) + 8 * n);
        }
        break;
    }
    case 0x130:
    case 0x132: /* wrmsr / rdmsr */
        if (!dc->sys) {
            goto illegal;
        }
        if (CPL3(dc)) {
            goto gp0;
        }
        gen_call_helper(dc, b == 0x130 ? (void *)helper_wrmsr : (void *)helper_rdmsr,
                        CALL_MAY_FAULT | CALL_RW_GLOBALS, 0, 0);
        if (b == 0x130) {
            gen_end_tb(dc, dc->pc);
        }
        break;
    case 0x131: /* rdtsc */
        if (!dc->sys) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_rdtsc, CALL_RW_GLOBALS, 0, 1, tconst(dc, 0));
        break;
    case 0x110 ... 0x117:
    case 0x128 ... 0x12f:
    case 0x150 ... 0x15f:
    case 0x160 ... 0x176:
    case 0x17c ... 0x17f:
    case 0x1c2 ... 0x1c6:
    case 0x1d0 ... 0x1fe:
    case 0x138:
    case 0x13a:
        if (!gen_sse(dc, b)) {
            goto illegal;
        }
        break;
    case 0x1c7: /* cmpxchg8b m64, cmpxchg16b m128 (REX.W) */
        decode_modrm(dc);
        if (dc->mod == 3 || (dc->reg & 7) != 1) {
            goto illegal;
        }
        t = gen_ea(dc);
        gen_seg_check(dc, t, dc->rex_w ? 16 : 8, true);
        gen_call_helper(dc, dc->rex_w ? (void *)helper_cmpxchg16b : (void *)helper_cmpxchg8b,
                        CALL_MAY_FAULT | CALL_RW_GLOBALS | CALL_RW_FLAGS, 0, 1, t);
        break;
    case 0x177: /* emms */
        gen_call_helper(dc, (void *)helper_emms, CALL_MAY_FAULT, 0, 0);
        break;
    case 0x1b8: /* popcnt (F3) */
        if (dc->rep != 0xf3 || !x86_has_popcnt(dc->env)) {
            goto illegal;
        }
        gen_bitcount(dc, BMI_POPCNT, dsize);
        break;
    case 0x1a2: /* cpuid */
        if (!dc->sys) {
            goto illegal;
        }
        gen_call_helper(dc, (void *)helper_cpuid, CALL_RW_GLOBALS, 0, 0);
        break;
    case 0x1ae: /* fences, clflush, fxsave/fxrstor, ldmxcsr/stmxcsr */
        decode_modrm(dc);
        if (dc->mod == 3) {
            /* 66 0F AE F8 is PCOMMIT: #UD unless the model offers it (Vireo's TCG never does) */
            if ((dc->reg & 7) < 5 || (dc->p66 && (dc->reg & 7) == 7)) {
                goto illegal;
            }
            break;
        }
        if (dc->p66 && (dc->reg & 7) == 7 &&
            !(x86_env_features(dc->env)[FW_7_0_EBX] & (1u << 23))) {
            goto illegal; /* CLFLUSHOPT without it in CPUID */
        }
        switch (dc->reg & 7) {
        case 0:
        case 1:
        case 2:
        case 3: {
            static const int kind[] = {FPU_FXSAVE, FPU_FXRSTOR, FPU_LDMXCSR, FPU_STMXCSR};
            static const int16_t bytes[] = {512, 512, 4, 4};
            t = gen_ea(dc);
            gen_seg_check(dc, t, bytes[dc->reg & 3], (dc->reg & 3) == 0 || (dc->reg & 3) == 3);
            gen_call_helper(dc, (void *)helper_fpu_ctl, CALL_MAY_FAULT, 0, 2, t,
                            tconst(dc, kind[dc->reg & 3] | (int64_t)dc->rex_w << 8));
            break;
        }
        case 7: /* clflush */
            break;
        default:
            goto illegal;
        }
        break;
    case 0x9b: /* fwait */
        gen_call_helper(dc, (void *)helper_fwait, CALL_MAY_FAULT, 0, 0);
        break;
    case 0xd8 ... 0xdf: { /* x87: target/x86/fpu_helper.c */
        decode_modrm(dc);
        unsigned modrm = (unsigned)(dc->mod << 6 | (dc->reg & 7) << 3 | (dc->rm & 7));
        TCGv addr = dc->mod == 3 ? tconst(dc, 0) : gen_ea(dc);
        gen_seg_check(dc, addr, 1, false); /* the operand's size is the helper's: 1st byte only */
        uint64_t info =
            modrm | (b & 7) << 8 | (uint64_t)(dc->mod != 3) << 11 | (uint64_t)(dsize == 16) << 12;
        gen_call_helper(dc, (void *)helper_x87, x87_call_flags(b, modrm), 0, 2, addr,
                        tconst(dc, (int64_t)info));
        break;
    }
    case 0x10b:
        goto illegal; /* ud2 */
    case 0x10d:
    case 0x118 ... 0x11f: /* prefetch, hint nops */
        decode_modrm(dc);
        break;
    case 0x140 ... 0x14f: /* cmovcc */
        decode_modrm(dc);
        o = opnd_rm(dc, dsize);
        t = opnd_load(dc, &o, dsize);
        tcg_emit(s, OP_cmovcc, dsize, b & 15, 3, R(dc, dc->reg), R(dc, dc->reg), t);
        break;
    case 0x180 ... 0x18f:
        imm = dsize == 16 && !dc->code64 ? (int16_t)fetch16(dc) : (int32_t)fetch32(dc);
        gen_jcc(dc, b & 15, ip_wrap(dc, dc->pc + (uint64_t)imm));
        break;
    case 0x190 ... 0x19f: /* setcc */
        decode_modrm(dc);
        o = opnd_rm(dc, 8);
        if (!o.is_mem && !o.high8) {
            tcg_emit(s, OP_setcc, 8, b & 15, 2, R(dc, o.reg), R(dc, o.reg));
        } else {
            t = tnew(dc);
            tcg_emit(s, OP_setcc, 8, b & 15, 2, t, tconst(dc, 0));
            opnd_store(dc, &o, 8, t);
        }
        break;
    case 0x1a3:
    case 0x1ab:
    case 0x1b3:
    case 0x1bb:
        decode_modrm(dc);
        gen_bt(dc, (b >> 3) & 3, dsize, R(dc, dc->reg), true);
        break;
    case 0x1ba:
        decode_modrm(dc);
        if ((dc->reg & 7) < 4) {
            goto illegal;
        }
        imm = fetch8(dc);
        gen_bt(dc, dc->reg & 3, dsize, tconst(dc, imm), false);
        break;
    case 0x1a4:
    case 0x1a5:
    case 0x1ac:
    case 0x1ad: { /* shld / shrd */
        decode_modrm(dc);
        TCGv cnt = (b & 1) ? R(dc, R_ECX) : tconst(dc, fetch8(dc));
        o = opnd_rm(dc, dsize);
        r = opnd_reg(dc, dc->reg, dsize);
        u = opnd_load(dc, &r, dsize);
        rmw_begin(dc, &o, dsize, &in, &out);
        gen_shd(dc, dsize, b >= 0x1ac, in, out, u, cnt);
        rmw_end(dc, &o, dsize, out);
        break;
    }
    case 0x1af:
        decode_modrm(dc);
        o = opnd_rm(dc, dsize);
        t = opnd_load(dc, &o, dsize);
        tcg_emit(s, OP_imul2f, dsize, 0, 3, R(dc, dc->reg), R(dc, dc->reg), t);
        gen_fix_mul(dc, dsize, R(dc, dc->reg));
        break;
    case 0x1b0:
    case 0x1b1: /* cmpxchg */
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        r = opnd_reg(dc, dc->reg, size);
        u = opnd_load(dc, &r, size);
        if (use_atomic(dc, &o)) {
            gen_atomic(dc, ATOM_CMPXCHG, size, &o, u, true);
            break;
        }
        rmw_begin(dc, &o, size, &in, &out);
        tcg_emit(s, OP_cmpxchgf, size, 0, 5, R(dc, R_EAX), out, R(dc, R_EAX), in, u);
        rmw_end(dc, &o, size, out);
        break;
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf: { /* movzx, movsx */
        int ssz = (b & 1) ? 16 : 8;
        decode_modrm(dc);
        o = opnd_rm(dc, ssz);
        t = opnd_load(dc, &o, ssz);
        int opc = (b & 8) ? (ssz == 8 ? OP_ext8s : OP_ext16s) : (ssz == 8 ? OP_ext8u : OP_ext16u);
        gen_write_reg(dc, dsize, dc->reg, false, gen_unop(dc, opc, t));
        break;
    }
    case 0x1bc:
    case 0x1bd:
        if (dc->rep == 0xf3 && b == 0x1bc && x86_has_bmi1(dc->env)) {
            gen_bitcount(dc, BMI_TZCNT, dsize);
            break;
        }
        if (dc->rep == 0xf3 && b == 0x1bd && x86_has_lzcnt(dc->env)) {
            gen_bitcount(dc, BMI_LZCNT, dsize);
            break;
        }
        if (dc->rep == 0xf3 && !dc->sys) {
            goto illegal; /* tzcnt/lzcnt: not advertised (the host has them: no diff test) */
        }
        /* without BMI1/ABM in CPUID, F3 0F BC/BD execute as BSF/BSR, as on such CPUs */
        decode_modrm(dc);
        o = opnd_rm(dc, dsize);
        t = opnd_load(dc, &o, dsize);
        u = tnew(dc); /* the source may be the destination */
        gen_mov(dc, u, t);
        tcg_emit(s, b == 0x1bc ? OP_bsf : OP_bsr, dsize, 0, 3, R(dc, dc->reg), R(dc, dc->reg), t);
        /* the model's flags: TEST src, src (ZF as defined; SF, PF of the source, CF=OF=AF=0) */
        tcg_emit(s, OP_aluf, dsize, ALU_TEST, 3, -1, u, u);
        break;
    case 0x1c0:
    case 0x1c1: { /* xadd */
        decode_modrm(dc);
        o = opnd_rm(dc, size);
        r = opnd_reg(dc, dc->reg, size);
        if (use_atomic(dc, &o)) {
            opnd_store(dc, &r, size,
                       gen_atomic(dc, ATOM_XADD, size, &o, opnd_load(dc, &r, size), false));
            break;
        }
        if (o.is_mem) {
            gen_seg_check(dc, o.addr, size / 8, true);
        }
        TCGv old = opnd_load(dc, &o, size);
        TCGv oldc = tnew(dc);
        gen_mov(dc, oldc, old);
        TCGv src = opnd_load(dc, &r, size);
        TCGv sum = tnew(dc);
        tcg_emit(s, OP_aluf, size, ALU_ADD, 3, sum, oldc, src);
        opnd_store(dc, &r, size, oldc);
        opnd_store(dc, &o, size, sum);
        break;
    }
    case 0x1c8 ... 0x1cf: {
        int rr = (b & 7) | dc->rex_b;
        if (dsize == 16) {
            goto illegal; /* undefined */
        }
        t = gen_unop(dc, dsize == 64 ? OP_bswap64 : OP_bswap32, R(dc, rr));
        gen_write_reg(dc, 64, rr, false, t);
        break;
    }
    default:
        goto illegal;
    }
    return;
illegal:
    gen_exception(dc, EXCP_UD, dc->pc_start);
    return;
gp0:
    gen_exception_err(dc, EXCP_GP, 0, dc->pc_start);
}

int x86_translate(TCGContext *s, CPUX86State *env, uint64_t pc, uint32_t flags)
{
    DisasContext dc = {.s = s, .env = env, .flags = flags, .pc = pc, .sys = env->softmmu};
    dc.code64 = flags & TBF_CODE64;
    dc.code32 = flags & TBF_CODE32;
    dc.ss32 = flags & TBF_SS32;
    dc.pe = dc.code64 || (flags & TBF_PE);
    dc.addseg = flags & TBF_ADDSEG;
    dc.vm86 = flags & TBF_VM;
    dc.cs_base = dc.code64 ? 0 : env->cur_tb->cs_base;
    dc.cs_limit = env->segs[R_CS].limit;
    dc.first_insn = true;
    uint64_t la = code_linear(&dc, pc);
    if (dc.sys) {
        uint64_t phys;
        dc.code_host = x86_code_page(env, la, &phys);
        dc.code_va = la & ~0xfffull;
    }
    int n = 0;
    while (!dc.ended) {
        disas_insn(&dc);
        dc.first_insn = false;
        n++;
        if (dc.ended) {
            break;
        }
        if (dc.sys && !dc.code64 && dc.pc + 14 > dc.cs_limit) {
            /* the next instruction may run past the CS limit: it starts a TB of its own, whose
             * translation raises the #GP (fetch8) */
            gen_goto(&dc, 0, dc.pc);
            break;
        }
        /* system mode: only the first instruction may cross into the next page */
        uint64_t next = code_linear(&dc, dc.pc);
        bool page_end = dc.sys ? ((next ^ la) & ~0xfffull) || (next & 0xfff) > 0x1000 - 16
                               : ((next ^ la) & ~0xfffull) != 0;
        if (n >= TCG_MAX_INSNS || page_end || s->nb_ops > TCG_MAX_OPS - 128 ||
            s->nb_temps > TCG_MAX_TEMPS - 64) {
            gen_goto(&dc, 0, dc.pc);
            break;
        }
    }
    return n;
}
