/*
 * IR optimizer: flag ops whose flags nobody reads become value ops, then constant folding,
 * copy propagation and (in tcg_liveness) dead code removal. One forward pass per TB; what is
 * known about a temp is forgotten at labels (merge points) and, for globals, at helper calls
 * that read or write guest registers.
 */
#include <assert.h>
#include <stdbool.h>
#include <string.h>
#include "vireo/tcg.h"

typedef struct OptState {
    TCGContext *s;
    TCGOp *out;
    int nb_out;
    bool is_const[TCG_MAX_TEMPS];
    int64_t val[TCG_MAX_TEMPS];
    int16_t copy_of[TCG_MAX_TEMPS];
    uint8_t bits[TCG_MAX_TEMPS]; /* the value fits in this many low bits (64: nothing known) */
} OptState;

static TCGOp *out_op(OptState *o, const TCGOp *proto)
{
    assert(o->nb_out < TCG_MAX_OPS);
    TCGOp *n = &o->out[o->nb_out++];
    *n = *proto;
    return n;
}

static void forget(OptState *o, int t)
{
    o->is_const[t] = false;
    o->bits[t] = 64;
    o->copy_of[t] = -1;
    for (int i = 0; i < o->s->nb_temps; i++) {
        if (o->copy_of[i] == t) {
            o->copy_of[i] = -1;
        }
    }
}

static void forget_all(OptState *o, bool globals_only)
{
    int n = globals_only ? o->s->nb_globals : o->s->nb_temps;
    for (int i = 0; i < n; i++) {
        o->is_const[i] = false;
        o->copy_of[i] = -1;
        o->bits[i] = 64;
    }
    if (globals_only) {
        for (int i = 0; i < o->s->nb_temps; i++) {
            if (o->copy_of[i] >= 0 && o->copy_of[i] < o->s->nb_globals) {
                o->copy_of[i] = -1;
            }
        }
    }
}

static bool known(OptState *o, int t, int64_t *v)
{
    if (t < 0) {
        return false;
    }
    if (o->s->temps[t].kind == TEMP_CONST) {
        *v = o->s->temps[t].val;
        return true;
    }
    if (o->is_const[t]) {
        *v = o->val[t];
        return true;
    }
    return false;
}

static uint64_t fold_value(int opc, int size, uint64_t a, uint64_t b)
{
    switch (opc) {
    case OP_mov:
        return a;
    case OP_add:
        return a + b;
    case OP_sub:
        return a - b;
    case OP_and:
        return a & b;
    case OP_or:
        return a | b;
    case OP_xor:
        return a ^ b;
    case OP_shl:
        return a << (b & 63);
    case OP_shr:
        return a >> (b & 63);
    case OP_sar:
        return (uint64_t)((int64_t)a >> (b & 63));
    case OP_rotl:
        return (b & 63) ? (a << (b & 63)) | (a >> (64 - (b & 63))) : a;
    case OP_rotr:
        return (b & 63) ? (a >> (b & 63)) | (a << (64 - (b & 63))) : a;
    case OP_mul:
        return a * b;
    case OP_neg:
        return -a;
    case OP_not:
        return ~a;
    case OP_ext8u:
        return (uint8_t)a;
    case OP_ext8s:
        return (uint64_t)(int64_t)(int8_t)a;
    case OP_ext16u:
        return (uint16_t)a;
    case OP_ext16s:
        return (uint64_t)(int64_t)(int16_t)a;
    case OP_ext32u:
        return (uint32_t)a;
    case OP_ext32s:
        return (uint64_t)(int64_t)(int32_t)a;
    case OP_bswap32:
        return __builtin_bswap32((uint32_t)a);
    case OP_bswap64:
        return __builtin_bswap64(a);
    case OP_dep: {
        uint64_t m = size == 8 ? 0xff : 0xffff;
        return (a & ~m) | (b & m);
    }
    case OP_extract8h:
        return (a >> 8) & 0xff;
    case OP_deposit8h:
        return (a & ~0xff00ull) | ((b & 0xff) << 8);
    default:
        assert(0);
        return 0;
    }
}

static bool fold_cond(int cond, uint64_t a, uint64_t b)
{
    switch (cond) {
    case COND_EQ:
        return a == b;
    case COND_NE:
        return a != b;
    case COND_LT:
        return (int64_t)a < (int64_t)b;
    case COND_GE:
        return (int64_t)a >= (int64_t)b;
    case COND_LE:
        return (int64_t)a <= (int64_t)b;
    case COND_GT:
        return (int64_t)a > (int64_t)b;
    case COND_LTU:
        return a < b;
    case COND_GEU:
        return a >= b;
    case COND_LEU:
        return a <= b;
    default:
        return a > b;
    }
}

static void set_mov(OptState *o, TCGOp *op, int d, int src)
{
    op->opc = OP_mov;
    op->nargs = 2;
    op->args[0] = (int16_t)d;
    op->args[1] = (int16_t)src;
    op->size = 64;
}

static int width_of(uint64_t v)
{
    return v ? 64 - __builtin_clzll(v) : 0;
}

/* How many low bits t's value may occupy. */
static int bits_of(OptState *o, int t)
{
    int64_t v;
    if (t < 0) {
        return 64;
    }
    if (known(o, t, &v)) {
        return width_of((uint64_t)v);
    }
    return o->bits[t];
}

/* What is known about the width of op's first output (after the op). */
static int result_bits(OptState *o, const TCGOp *op)
{
    int64_t c;
    switch (op->opc) {
    case OP_mov:
        return bits_of(o, op->args[1]);
    case OP_ld:
        return op->sub ? 64 : op->size;
    case OP_ext8u:
    case OP_extract8h:
        return 8;
    case OP_ext16u:
        return 16;
    case OP_ext32u:
    case OP_bswap32:
        return 32;
    case OP_setcond:
        return 1;
    case OP_and: {
        int a = bits_of(o, op->args[1]), b = bits_of(o, op->args[2]);
        return a < b ? a : b;
    }
    case OP_or:
    case OP_xor: {
        int a = bits_of(o, op->args[1]), b = bits_of(o, op->args[2]);
        return a > b ? a : b;
    }
    case OP_shr:
        if (known(o, op->args[2], &c)) {
            int a = bits_of(o, op->args[1]) - (int)(c & 63);
            return a < 0 ? 0 : a;
        }
        return 64;
    case OP_aluf:
    case OP_unf:
    case OP_imul2f:
    case OP_btf:
    case OP_cmovcc:
        /* a 32-bit x86 result is zero-extended; 8/16-bit results merge into the old value */
        return op->size == 32 ? 32 : 64;
    default:
        return 64;
    }
}

/* Record what op (already emitted to out) leaves in its outputs. */
static void record(OptState *o, TCGOp *op)
{
    int no = tcg_op_nb_oargs(op);
    int w = no > 0 && op->args[0] >= 0 ? result_bits(o, op) : 64;
    for (int k = 0; k < no; k++) {
        if (op->args[k] >= 0) {
            forget(o, op->args[k]);
        }
    }
    if (no > 0 && op->args[0] >= 0) {
        o->bits[op->args[0]] = (uint8_t)w;
    }
    if (op->opc == OP_mov) {
        int d = op->args[0], a = op->args[1];
        int64_t v;
        if (known(o, a, &v)) {
            o->is_const[d] = true;
            o->val[d] = v;
        } else if (a != d) {
            o->copy_of[d] = (int16_t)a;
        }
    }
}

/* Value op: substitute, fold, emit. */
static void opt_value_op(OptState *o, TCGOp *op)
{
    TCGContext *s = o->s;
    int d = op->args[0];
    int64_t a = 0, b = 0;
    bool ka = known(o, op->args[1], &a);
    bool kb = op->nargs > 2 && known(o, op->args[2], &b);
    bool binary = op->nargs > 2;
    if (op->opc == OP_setcond) {
        if (ka && kb) {
            set_mov(o, op, d, tcg_const(s, fold_cond(op->sub, (uint64_t)a, (uint64_t)b)));
        }
    } else if ((op->opc == OP_ext8u && bits_of(o, op->args[1]) <= 8) ||
               (op->opc == OP_ext16u && bits_of(o, op->args[1]) <= 16) ||
               (op->opc == OP_ext32u && bits_of(o, op->args[1]) <= 32)) {
        set_mov(o, op, d, op->args[1]); /* already zero-extended */
    } else if (ka && (!binary || kb)) {
        set_mov(o, op, d,
                tcg_const(s, (int64_t)fold_value(op->opc, op->size, (uint64_t)a, (uint64_t)b)));
    } else if (binary) {
        bool commutative = op->opc == OP_add || op->opc == OP_and || op->opc == OP_or ||
                           op->opc == OP_xor || op->opc == OP_mul;
        if (commutative && ka && !kb) {
            int t = op->args[1];
            op->args[1] = op->args[2];
            op->args[2] = (int16_t)t;
            b = a;
            kb = true;
            ka = false;
        }
        int x = op->args[1];
        if (op->args[1] == op->args[2] && (op->opc == OP_xor || op->opc == OP_sub)) {
            set_mov(o, op, d, tcg_const(s, 0));
        } else if (op->args[1] == op->args[2] && (op->opc == OP_and || op->opc == OP_or)) {
            set_mov(o, op, d, x);
        } else if (kb) {
            switch (op->opc) {
            case OP_add:
            case OP_sub:
            case OP_or:
            case OP_xor:
            case OP_shl:
            case OP_shr:
            case OP_sar:
            case OP_rotl:
            case OP_rotr:
                if (b == 0 || ((op->opc >= OP_shl && op->opc <= OP_rotr) && (b & 63) == 0)) {
                    set_mov(o, op, d, x);
                }
                break;
            case OP_and:
                if (bits_of(o, x) < 64 && ((uint64_t)b | ~((1ull << bits_of(o, x)) - 1)) == ~0ull) {
                    set_mov(o, op, d, x); /* the mask keeps every bit x may have */
                } else if (b == 0) {
                    set_mov(o, op, d, tcg_const(s, 0));
                } else if (b == -1) {
                    set_mov(o, op, d, x);
                } else if (b == 0xff || b == 0xffff || b == 0xffffffff) {
                    op->opc = b == 0xff ? OP_ext8u : b == 0xffff ? OP_ext16u : OP_ext32u;
                    op->nargs = 2;
                }
                break;
            case OP_mul:
                if (b == 0) {
                    set_mov(o, op, d, tcg_const(s, 0));
                } else if (b == 1) {
                    set_mov(o, op, d, x);
                }
                break;
            default:
                break;
            }
        }
    }
    record(o, out_op(o, op));
}

/* Emit `d = <sized result of value op on a, b>`, with x86's merge rule. */
static void emit_sized(OptState *o, const TCGOp *proto, int vopc, int d, int a, int b)
{
    TCGContext *s = o->s;
    TCGOp n = *proto;
    n.dead = 0;
    int t = proto->size == 64 ? d : tcg_temp_new(s);
    n.opc = (uint16_t)vopc;
    n.sub = 0;
    n.nargs = b >= 0 ? 3 : 2;
    n.args[0] = (int16_t)t;
    n.args[1] = (int16_t)a;
    n.args[2] = (int16_t)b;
    int size = proto->size;
    n.size = 64;
    opt_value_op(o, &n);
    if (size == 64) {
        return;
    }
    TCGOp m = *proto;
    m.dead = 0;
    m.sub = 0;
    if (size == 32) {
        m.opc = OP_ext32u;
        m.nargs = 2;
        m.args[0] = (int16_t)d;
        m.args[1] = (int16_t)t;
        m.size = 64;
    } else {
        m.opc = OP_dep;
        m.nargs = 3;
        m.args[0] = (int16_t)d;
        m.args[1] = (int16_t)a;
        m.args[2] = (int16_t)t;
        m.size = (uint8_t)size;
    }
    opt_value_op(o, &m);
}

/* A flag op whose flags are dead becomes value ops. Returns true if it was rewritten. */
static bool rewrite_dead_flags(OptState *o, const TCGOp *op)
{
    if (op->flags_live) {
        return false;
    }
    if (op->opc == OP_aluf) {
        static const int map[] = {
            [ALU_ADD] = OP_add, [ALU_OR] = OP_or,   [ALU_AND] = OP_and,
            [ALU_SUB] = OP_sub, [ALU_XOR] = OP_xor,
        };
        switch (op->sub) {
        case ALU_CMP:
        case ALU_TEST:
            return true; /* nothing but flags */
        case ALU_ADD:
        case ALU_OR:
        case ALU_AND:
        case ALU_SUB:
        case ALU_XOR:
            emit_sized(o, op, map[op->sub], op->args[0], op->args[1], op->args[2]);
            return true;
        default:
            return false;
        }
    }
    if (op->opc == OP_unf) {
        TCGContext *s = o->s;
        if (op->sub == UN_NEG) {
            emit_sized(o, op, OP_neg, op->args[0], op->args[1], -1);
        } else {
            emit_sized(o, op, OP_add, op->args[0], op->args[1],
                       tcg_const(s, op->sub == UN_INC ? 1 : -1));
        }
        return true;
    }
    if (op->opc == OP_shf && (op->size == 64 || op->size == 32) &&
        (op->sub == SH_SHL || op->sub == SH_SHR || op->sub == SH_SAR)) {
        TCGContext *s = o->s;
        int64_t c;
        if (!known(o, op->args[2], &c) || (c & (op->size - 1)) == 0) {
            return false; /* a zero count keeps the flags: not a plain value */
        }
        int a = op->args[1];
        if (op->size == 32 && op->sub != SH_SHL) {
            /* the 32-bit operand, extended the way the shift needs it */
            int t = tcg_temp_new(s);
            TCGOp e = *op;
            e.dead = 0;
            e.sub = 0;
            e.opc = op->sub == SH_SHR ? OP_ext32u : OP_ext32s;
            e.nargs = 2;
            e.args[0] = (int16_t)t;
            e.args[1] = (int16_t)a;
            e.size = 64;
            opt_value_op(o, &e);
            a = t;
        }
        static const int map[] = {[SH_SHL] = OP_shl, [SH_SHR] = OP_shr, [SH_SAR] = OP_sar};
        emit_sized(o, op, map[op->sub], op->args[0], a, tcg_const(s, c & (op->size - 1)));
        return true;
    }
    if (op->opc == OP_imul2f && (op->size == 64 || op->size == 32)) {
        emit_sized(o, op, OP_mul, op->args[0], op->args[1], op->args[2]);
        return true;
    }
    return false;
}

void tcg_optimize(TCGContext *s)
{
    static _Thread_local OptState o_state;
    static _Thread_local TCGOp out[TCG_MAX_OPS];
    OptState *o = &o_state;
    o->s = s;
    o->out = out;
    o->nb_out = 0;
    s->ops_before_opt += (uint64_t)s->nb_ops;
    tcg_liveness(s); /* flag liveness for the rewrite */
    memset(o->is_const, 0, sizeof(bool) * TCG_MAX_TEMPS);
    memset(o->copy_of, 0xff, sizeof(int16_t) * TCG_MAX_TEMPS);
    memset(o->bits, 64, sizeof(o->bits));
    for (int i = 0; i < s->nb_ops; i++) {
        TCGOp op = s->ops[i];
        if (op.opc == OP_nop) {
            continue;
        }
        /* substitute inputs */
        int no = tcg_op_nb_oargs(&op);
        for (int k = no; k < op.nargs; k++) {
            int t = op.args[k];
            if (t < 0 || s->temps[t].kind == TEMP_CONST) {
                continue;
            }
            int64_t v;
            if (known(o, t, &v)) {
                op.args[k] = (int16_t)tcg_const(s, v);
            } else if (o->copy_of[t] >= 0) {
                op.args[k] = o->copy_of[t];
            }
        }
        if (op.opc >= OP_mov && op.opc <= OP_setcond) {
            opt_value_op(o, &op);
            continue;
        }
        if (rewrite_dead_flags(o, &op)) {
            continue;
        }
        if (op.opc == OP_brcond) {
            int64_t a, b;
            if (known(o, op.args[0], &a) && known(o, op.args[1], &b)) {
                if (!fold_cond(op.sub, (uint64_t)a, (uint64_t)b)) {
                    continue;
                }
                op.opc = OP_br;
                op.nargs = 0;
            }
        }
        TCGOp *n = out_op(o, &op);
        if (op.opc == OP_call && (op.sub & CALL_RW_GLOBALS)) {
            forget_all(o, true);
        }
        record(o, n);
        if (tcg_op_ends_bb(&op)) {
            forget_all(o, false); /* locals die at block ends; labels merge paths */
        }
    }
    memcpy(s->ops, out, sizeof(TCGOp) * (size_t)o->nb_out);
    s->nb_ops = o->nb_out;
    s->ops_after_opt += (uint64_t)s->nb_ops;
}
