/*
 * The IR: building ops and temps, op properties, liveness (locals and guest flags) with dead
 * code removal, and a dump for debugging. See docs/tcg.md.
 */
#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "vireo/tcg.h"

void tcg_ctx_init(TCGContext *s)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < 16; i++) {
        TCGTemp *t = &s->temps[s->nb_temps];
        t->kind = TEMP_GLOBAL;
        t->env_off = (int32_t)(offsetof(CPUX86State, regs) + 8 * i);
        s->regs[i] = s->nb_temps++;
    }
    s->nb_globals = s->nb_temps;
    tcg_func_start(s);
}

void tcg_func_start(TCGContext *s)
{
    s->nb_temps = s->nb_globals;
    s->nb_ops = 0;
    s->nb_labels = 0;
    for (int i = 0; i < s->nb_globals; i++) {
        s->temps[i].reg = -1;
        s->temps[i].dirty = false;
    }
}

static TCGv temp_alloc(TCGContext *s, int kind)
{
    assert(s->nb_temps < TCG_MAX_TEMPS);
    TCGTemp *t = &s->temps[s->nb_temps];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->reg = -1;
    t->slot = -1;
    return s->nb_temps++;
}

TCGv tcg_temp_new(TCGContext *s)
{
    return temp_alloc(s, TEMP_LOCAL);
}

TCGv tcg_const(TCGContext *s, int64_t v)
{
    /* constants are interned among the most recent few */
    for (int i = s->nb_temps - 1; i >= s->nb_globals && i >= s->nb_temps - 64; i--) {
        if (s->temps[i].kind == TEMP_CONST && s->temps[i].val == v) {
            return i;
        }
    }
    TCGv t = temp_alloc(s, TEMP_CONST);
    s->temps[t].val = v;
    return t;
}

int tcg_new_label(TCGContext *s)
{
    assert(s->nb_labels < TCG_MAX_LABELS);
    return s->nb_labels++;
}

TCGOp *tcg_emit(TCGContext *s, TCGOpcode opc, int size, int sub, int nargs, ...)
{
    assert(s->nb_ops < TCG_MAX_OPS);
    assert(nargs <= TCG_MAX_ARGS);
    TCGOp *op = &s->ops[s->nb_ops++];
    memset(op, 0, sizeof(*op));
    op->opc = opc;
    op->size = size;
    op->sub = sub;
    op->nargs = nargs;
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++) {
        op->args[i] = (int16_t)va_arg(ap, int);
    }
    va_end(ap);
    return op;
}

int tcg_op_nb_oargs(const TCGOp *op)
{
    switch (op->opc) {
    case OP_mov ... OP_ld:
    case OP_ld_env:
    case OP_vec:
    case OP_aluf ... OP_unf:
    case OP_shf:
    case OP_shdf:
    case OP_imul2f ... OP_bsr:
    case OP_setcc ... OP_cmovcc:
    case OP_getflags:
        return 1;
    case OP_mulf:
    case OP_cmpxchgf:
        return 2;
    case OP_call:
        return (int)op->aux2;
    default:
        return 0;
    }
}

/* A shift by a constant count that is non-zero after masking writes every flag. */
static bool shf_full_write(const TCGContext *s, const TCGOp *op)
{
    if (op->sub != SH_SHL && op->sub != SH_SHR && op->sub != SH_SAR && op->sub != SH_SAL) {
        return false;
    }
    const TCGTemp *c = &s->temps[op->args[2]];
    if (c->kind != TEMP_CONST) {
        return false;
    }
    return (c->val & (op->size == 64 ? 63 : 31)) != 0;
}

/* SHLD/SHRD by a constant non-zero count write every flag (OF undefined but written). */
static bool shd_full_write(const TCGContext *s, const TCGOp *op)
{
    const TCGTemp *c = &s->temps[op->args[3]];
    return c->kind == TEMP_CONST && (c->val & (op->size == 64 ? 63 : 31)) != 0;
}

bool tcg_op_reads_flags(const TCGContext *s, const TCGOp *op)
{
    switch (op->opc) {
    case OP_aluf:
        return op->sub == ALU_ADC || op->sub == ALU_SBB;
    case OP_unf:
        return op->sub != UN_NEG;
    case OP_shf:
        return !shf_full_write(s, op);
    case OP_shdf:
        return !shd_full_write(s, op);
    case OP_btf:
    case OP_setcc:
    case OP_cmovcc:
    case OP_brcc:
    case OP_getflags:
    case OP_flagop:
        return true;
    case OP_call:
        return (op->sub & (CALL_MAY_FAULT | CALL_RW_FLAGS)) != 0;
    default:
        return false;
    }
}

/* Writes every arithmetic flag (the old values do not matter afterwards). */
bool tcg_op_full_writes_flags(const TCGContext *s, const TCGOp *op)
{
    switch (op->opc) {
    case OP_aluf:
    case OP_mulf:
    case OP_imul2f:
    case OP_cmpxchgf:
    case OP_setflags:
    case OP_bsf: /* ZF defined; the rest are the host's, and a TEST follows (the model's) */
    case OP_bsr:
        return true;
    case OP_unf:
        return op->sub == UN_NEG;
    case OP_shf:
        return shf_full_write(s, op);
    case OP_shdf:
        return shd_full_write(s, op);
    default:
        return false;
    }
}

bool tcg_op_writes_flags(const TCGOp *op)
{
    switch (op->opc) {
    case OP_aluf ... OP_cmpxchgf:
    case OP_setflags:
    case OP_flagop:
        return true;
    case OP_call:
        return (op->sub & CALL_RW_FLAGS) != 0;
    default:
        return false;
    }
}

bool tcg_op_ends_bb(const TCGOp *op)
{
    switch (op->opc) {
    case OP_label:
    case OP_br:
    case OP_brcond:
    case OP_brcc:
    case OP_goto_tb:
    case OP_exit_tb:
    case OP_lookup_goto:
        return true;
    case OP_call:
        return (op->sub & CALL_NO_RETURN) != 0;
    default:
        return false;
    }
}

bool tcg_op_side_effects(const TCGOp *op)
{
    switch (op->opc) {
    case OP_mov ... OP_setcond:
    case OP_ld: /* flat mode loads cannot fault */
    case OP_ld_env:
    case OP_getflags:
    case OP_nop:
        return false;
    default:
        return true;
    }
}

/*
 * Which guest flags (x86 RFLAGS bits: CF 0x1, PF 0x4, AF 0x10, ZF 0x40, SF 0x80, OF 0x800) an
 * op reads, and which it certainly writes (so that their old values are dead before it). An op
 * that writes flags may also change others (the host's undefined ones): for removal, any flag
 * it may write counts.
 */
enum { LF_C = 0x1, LF_P = 0x4, LF_A = 0x10, LF_Z = 0x40, LF_S = 0x80, LF_O = 0x800 };
#define LF_ALL (LF_C | LF_P | LF_A | LF_Z | LF_S | LF_O)

static unsigned cc_reads(int cc)
{
    static const unsigned r[8] = {LF_O, LF_C, LF_Z,        LF_C | LF_Z,
                                  LF_S, LF_P, LF_S | LF_O, LF_Z | LF_S | LF_O};
    return r[(cc >> 1) & 7];
}

static unsigned flags_read(const TCGContext *s, const TCGOp *op)
{
    switch (op->opc) {
    case OP_aluf:
        return op->sub == ALU_ADC || op->sub == ALU_SBB ? LF_C : 0;
    case OP_shf:
        return op->sub == SH_RCL || op->sub == SH_RCR ? LF_C : 0;
    case OP_setcc:
    case OP_cmovcc:
    case OP_brcc:
        return cc_reads(op->sub);
    case OP_flagop:
        return op->sub == FL_CMC ? LF_C : 0;
    default:
        return tcg_op_reads_flags(s, op) ? LF_ALL : 0;
    }
}

static unsigned flags_killed(const TCGContext *s, const TCGOp *op)
{
    switch (op->opc) {
    case OP_unf:
        return op->sub == UN_NEG ? LF_ALL : LF_ALL & ~LF_C; /* INC/DEC keep CF */
    case OP_shf: {
        const TCGTemp *c = &s->temps[op->args[2]];
        if (c->kind != TEMP_CONST || (c->val & (op->size == 64 ? 63 : 31)) == 0) {
            return 0; /* a zero count keeps every flag */
        }
        if (op->sub == SH_ROL || op->sub == SH_ROR) {
            return LF_C | LF_O;
        }
        if (op->sub == SH_RCL || op->sub == SH_RCR) {
            return op->size >= 32 ? LF_C | LF_O : 0; /* 8/16-bit: a count may rotate by 0 */
        }
        return LF_ALL;
    }
    case OP_btf:
        return LF_C;
    case OP_flagop:
        return LF_C;
    default:
        return tcg_op_full_writes_flags(s, op) ? LF_ALL : 0;
    }
}

/*
 * Backward pass: which local temps die at which op, which guest flags are live where (one bit
 * each, so that a rotate, which writes only CF and OF, lets the others' liveness pass through),
 * and removal of ops whose results nobody reads. Locals never live across a basic-block end; the
 * flags are live at every block end (the next block may read them). op->flags_live says whether
 * any flag is live after the op.
 */
void tcg_liveness(TCGContext *s)
{
    static _Thread_local bool live[TCG_MAX_TEMPS];
    memset(live, 0, sizeof(bool) * (size_t)s->nb_temps);
    unsigned flags_live = LF_ALL;
    for (int i = s->nb_ops - 1; i >= 0; i--) {
        TCGOp *op = &s->ops[i];
        if (op->opc == OP_nop) {
            continue;
        }
        if (tcg_op_ends_bb(op)) {
            memset(live, 0, sizeof(bool) * (size_t)s->nb_temps);
            flags_live = LF_ALL;
        }
        op->flags_live = flags_live != 0;
        int no = tcg_op_nb_oargs(op);
        bool flag_writer = tcg_op_writes_flags(op);
        /* dead code: no side effect beyond local outputs nobody reads (or flags nobody reads:
         * a flag op, a setflags, a helper that only computes flags) */
        bool removable = (op->opc != OP_call || (op->sub & CALL_FLAGS_ONLY)) &&
                         (!tcg_op_side_effects(op) || flag_writer);
        if (removable && flag_writer && (flags_live || op->opc == OP_flagop)) {
            removable = false;
        }
        for (int k = 0; removable && k < no; k++) {
            int t = op->args[k];
            if (t >= 0 && (s->temps[t].kind != TEMP_LOCAL || live[t])) {
                removable = false;
            }
        }
        if (removable) {
            op->opc = OP_nop;
            continue;
        }
        op->dead = 0;
        for (int k = 0; k < no; k++) {
            int t = op->args[k];
            if (t >= 0) {
                if (s->temps[t].kind == TEMP_LOCAL && !live[t]) {
                    op->dead |= (uint8_t)(1u << k); /* output nobody reads */
                }
                live[t] = false;
            }
        }
        for (int k = no; k < op->nargs; k++) {
            int t = op->args[k];
            if (t < 0 || s->temps[t].kind != TEMP_LOCAL) {
                continue;
            }
            if (!live[t]) {
                op->dead |= (uint8_t)(1u << k);
                live[t] = true;
            }
        }
        flags_live = (flags_live & ~flags_killed(s, op)) | flags_read(s, op);
    }
}

static const char *const op_names[OP_NB] = {
    [OP_insn_start] = "insn_start",
    [OP_label] = "label",
    [OP_br] = "br",
    [OP_brcond] = "brcond",
    [OP_goto_tb] = "goto_tb",
    [OP_exit_tb] = "exit_tb",
    [OP_lookup_goto] = "lookup_goto",
    [OP_call] = "call",
    [OP_mov] = "mov",
    [OP_add] = "add",
    [OP_sub] = "sub",
    [OP_and] = "and",
    [OP_or] = "or",
    [OP_xor] = "xor",
    [OP_shl] = "shl",
    [OP_shr] = "shr",
    [OP_sar] = "sar",
    [OP_rotl] = "rotl",
    [OP_rotr] = "rotr",
    [OP_mul] = "mul",
    [OP_neg] = "neg",
    [OP_not] = "not",
    [OP_ext8u] = "ext8u",
    [OP_ext8s] = "ext8s",
    [OP_ext16u] = "ext16u",
    [OP_ext16s] = "ext16s",
    [OP_ext32u] = "ext32u",
    [OP_ext32s] = "ext32s",
    [OP_bswap32] = "bswap32",
    [OP_bswap64] = "bswap64",
    [OP_dep] = "dep",
    [OP_extract8h] = "extract8h",
    [OP_deposit8h] = "deposit8h",
    [OP_setcond] = "setcond",
    [OP_ld] = "ld",
    [OP_st] = "st",
    [OP_ld_env] = "ld_env",
    [OP_st_env] = "st_env",
    [OP_vec] = "vec",
    [OP_aluf] = "aluf",
    [OP_unf] = "unf",
    [OP_shf] = "shf",
    [OP_shdf] = "shdf",
    [OP_mulf] = "mulf",
    [OP_imul2f] = "imul2f",
    [OP_btf] = "btf",
    [OP_bsf] = "bsf",
    [OP_bsr] = "bsr",
    [OP_cmpxchgf] = "cmpxchgf",
    [OP_setcc] = "setcc",
    [OP_cmovcc] = "cmovcc",
    [OP_brcc] = "brcc",
    [OP_getflags] = "getflags",
    [OP_setflags] = "setflags",
    [OP_flagop] = "flagop",
    [OP_nop] = "nop",
};

static void dump_temp(const TCGContext *s, FILE *f, int t)
{
    if (t < 0) {
        fprintf(f, " -");
    } else if (s->temps[t].kind == TEMP_GLOBAL) {
        fprintf(f, " r%d", t);
    } else if (s->temps[t].kind == TEMP_CONST) {
        fprintf(f, " $0x%llx", (unsigned long long)s->temps[t].val);
    } else {
        fprintf(f, " t%d", t);
    }
}

void tcg_dump(TCGContext *s, void *file)
{
    FILE *f = file;
    for (int i = 0; i < s->nb_ops; i++) {
        const TCGOp *op = &s->ops[i];
        if (op->opc == OP_nop) {
            continue;
        }
        fprintf(f, "  %s", op_names[op->opc]);
        if (op->size) {
            fprintf(f, ".%d", op->size);
        }
        fprintf(f, " sub=%d", op->sub);
        for (int k = 0; k < op->nargs; k++) {
            dump_temp(s, f, op->args[k]);
        }
        fprintf(f, " aux=0x%llx%s dead=%x\n", (unsigned long long)op->aux,
                op->flags_live ? " F" : "", op->dead);
    }
}
