/*
 * The x86-64 host backend: a one-pass local register allocator and an encoder that turns the
 * IR into host machine code. Guest arithmetic flags live in the host EFLAGS (docs/tcg.md): flag
 * ops become the host instruction of the same kind and size; everything else is encoded so that
 * it does not disturb the flags where that is cheap, and the flags are saved to env->cc around
 * the ops that do disturb them while they are live.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "vireo/tcg.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
#define BIT(r)         (1u << (r))
#define ALL_REGS       (0xffffu & ~BIT(RSP) & ~BIT(RBP))
#define CALLER_SAVED   (BIT(RAX) | BIT(RCX) | BIT(RDX) | BIT(RSI) | BIT(RDI) | 0x0f00u)
#define FRAME_SLOTS    32
#define FRAME_SIZE     (FRAME_SLOTS * 8 + 8) /* keeps rsp 16-byte aligned in TB code */
#define ENV_OFF(field) ((int32_t)offsetof(CPUX86State, field))

/* opcode flags for the encoder */
#define P_0F      0x100
#define P_66      0x200
#define P_REXW    0x400
#define P_BYTE_R  0x800  /* the reg field names a byte register */
#define P_BYTE_RM 0x1000 /* the r/m field names a byte register */

static const int alloc_order[] = {RBX, R12, R13, R14, R15, RSI, RDI,
                                  R8,  R9,  R10, R11, RDX, RAX, RCX};

/*
 * Where the guest flags are: dead, in the host EFLAGS, saved in env->cc (pushfq), or saved in
 * rax as lahf/seto leave them (ah = SF ZF AF PF CF, al = OF). The rax form is the cheap one: a
 * save is two instructions and the restore is `add al, 0x7f; sahf`, where popfq costs tens of
 * cycles. It is used while only memory accesses and value ops run (docs/tcg.md); rax is then
 * reserved, and any other op first puts the flags back.
 */
enum { FL_DEAD, FL_HOST, FL_ENV, FL_RAX };

typedef struct Backend {
    TCGContext *s;
    TranslationBlock *tb;
    uint8_t *start, *p, *end;
    int reg_temp[16];  /* temp bound to each host register, or -1 */
    uint32_t locked;   /* registers in use by the current op */
    uint32_t scratch;  /* registers to release after the current op */
    uint32_t reserved; /* never allocated: rax while it holds the flags (FL_RAX) */
    uint32_t stamp;
    int flags_loc;
    uint64_t cur_rip;
    uint32_t slots_used;
    const TCGOp *cur_op;
    uint8_t *label_pos[TCG_MAX_LABELS];
    struct {
        int label;
        uint8_t *at; /* rel32 field */
    } relocs[TCG_MAX_OPS];
    int nb_relocs;
    /* system mode: out-of-line TLB miss paths, emitted after the block */
    struct SlowPath {
        uint8_t *jcc_rel; /* rel32 of the jne to patch */
        uint8_t *done;    /* where to come back */
        uint64_t rip;
        uint8_t is_store, bytes, sign, mmu, ra, rv, rd, nb_dirty, flags_rax;
        uint8_t vec; /* OP_vec: 1 load (result into xmm1), 2 store */
        uint32_t vinfo;
        uint8_t dirty_reg[16];
        int32_t dirty_off[16];
    } slow[512];
    int nb_slow;
} Backend;

uintptr_t (*tcg_qemu_tb_exec)(CPUX86State *env, const void *code);
const uint8_t *tcg_epilogue_save, *tcg_epilogue_nosave;

/* ---------------- encoder ---------------- */

static void b8(Backend *B, unsigned v)
{
    if (B->p < B->end) {
        *B->p = (uint8_t)v;
    }
    B->p++;
}

static void b32(Backend *B, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b8(B, (v >> (8 * i)) & 0xff);
    }
}

static void b64(Backend *B, uint64_t v)
{
    b32(B, (uint32_t)v);
    b32(B, (uint32_t)(v >> 32));
}

static bool fits8(int64_t v)
{
    return v >= -128 && v <= 127;
}

static bool fits32(int64_t v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

static void opc_prefix(Backend *B, int opc, int r, int rm, int index)
{
    if (opc & P_66) {
        b8(B, 0x66);
    }
    int rex = 0;
    if (opc & P_REXW) {
        rex |= 8;
    }
    if (r & 8) {
        rex |= 4;
    }
    if (index >= 0 && (index & 8)) {
        rex |= 2;
    }
    if (rm >= 0 && (rm & 8)) {
        rex |= 1;
    }
    if (rex || ((opc & P_BYTE_R) && r >= 4) || ((opc & P_BYTE_RM) && rm >= 4)) {
        b8(B, 0x40 | rex);
    }
    if (opc & P_0F) {
        b8(B, 0x0f);
    }
    b8(B, opc & 0xff);
}

/* op with a register r/m */
static void emit_rr(Backend *B, int opc, int r, int rm)
{
    opc_prefix(B, opc, r, rm, -1);
    b8(B, 0xc0 | ((r & 7) << 3) | (rm & 7));
}

/* op with a memory r/m: [base + index*(1<<scale) + disp] */
static void emit_rm(Backend *B, int opc, int r, int base, int index, int scale, int32_t disp)
{
    opc_prefix(B, opc & ~P_BYTE_RM, r, base, index);
    int mod = (disp == 0 && (base & 7) != RBP) ? 0 : fits8(disp) ? 1 : 2;
    if (index < 0 && (base & 7) != RSP) {
        b8(B, (mod << 6) | ((r & 7) << 3) | (base & 7));
    } else {
        b8(B, (mod << 6) | ((r & 7) << 3) | 4);
        b8(B, (scale << 6) | ((index < 0 ? 4 : index) & 7) << 3 | (base & 7));
    }
    if (mod == 1) {
        b8(B, (uint8_t)disp);
    } else if (mod == 2) {
        b32(B, (uint32_t)disp);
    }
}

static int size_flags(int size)
{
    return size == 8 ? (P_BYTE_R | P_BYTE_RM) : size == 16 ? P_66 : size == 64 ? P_REXW : 0;
}

static void emit_mov_rr(Backend *B, int dst, int src)
{
    if (dst != src) {
        emit_rr(B, 0x8b | P_REXW, dst, src);
    }
}

static void emit_movi(Backend *B, int r, int64_t v)
{
    if ((uint64_t)v <= UINT32_MAX) {
        opc_prefix(B, 0xb8 + (r & 7), 0, r, -1);
        b32(B, (uint32_t)v);
    } else if (fits32(v)) {
        emit_rr(B, 0xc7 | P_REXW, 0, r);
        b32(B, (uint32_t)v);
    } else {
        opc_prefix(B, (0xb8 + (r & 7)) | P_REXW, 0, r, -1);
        b64(B, (uint64_t)v);
    }
}

static void emit_ld_env(Backend *B, int r, int32_t off)
{
    emit_rm(B, 0x8b | P_REXW, r, RBP, -1, 0, off);
}

static void emit_st_env(Backend *B, int r, int32_t off)
{
    emit_rm(B, 0x89 | P_REXW, r, RBP, -1, 0, off);
}

/* flag save/restore: pushfq; pop [rbp+cc]   and   push [rbp+cc]; popfq */
static void emit_save_flags(Backend *B)
{
    b8(B, 0x9c);
    emit_rm(B, 0x8f, 0, RBP, -1, 0, ENV_OFF(cc));
}

static void emit_restore_flags(Backend *B)
{
    emit_rm(B, 0xff, 6, RBP, -1, 0, ENV_OFF(cc));
    b8(B, 0x9d);
}

static void emit_jmp_abs(Backend *B, const uint8_t *target)
{
    b8(B, 0xe9);
    b32(B, (uint32_t)(int32_t)(target - (B->p + 4)));
}

/*
 * An SSE instruction: mandatory prefix (0, 0x66, 0xF3, 0xF2), 0F op (P_REXW allowed in op), the
 * reg field r, and a register r/m (reg_rm) or [base + index + disp].
 */
static void emit_sse(Backend *B, int prefix, int op, int r, int base, int index, int32_t disp,
                     bool reg_rm)
{
    if (prefix) {
        b8(B, (unsigned)prefix);
    }
    if (reg_rm) {
        emit_rr(B, op | P_0F, r, base);
    } else {
        emit_rm(B, op | P_0F, r, base, index, 0, disp);
    }
}

/* movdqu xmm, [rbp + off] and back */
static void emit_xmm_ld_env(Backend *B, int x, int32_t off)
{
    emit_sse(B, 0xf3, 0x6f, x, RBP, -1, off, false);
}

static void emit_xmm_st_env(Backend *B, int x, int32_t off)
{
    emit_sse(B, 0xf3, 0x7f, x, RBP, -1, off, false);
}

/* ---------------- register allocation ---------------- */

static TCGTemp *T(Backend *B, int t)
{
    return &B->s->temps[t];
}

static void unbind_reg(Backend *B, int r)
{
    int t = B->reg_temp[r];
    if (t >= 0) {
        T(B, t)->reg = -1;
        B->reg_temp[r] = -1;
    }
}

static void bind(Backend *B, int t, int r)
{
    TCGTemp *tt = T(B, t);
    if (tt->reg >= 0 && tt->reg != r) {
        B->reg_temp[tt->reg] = -1;
    }
    unbind_reg(B, r);
    tt->reg = (int8_t)r;
    tt->stamp = ++B->stamp;
    B->reg_temp[r] = t;
}

static void sync_global(Backend *B, int t)
{
    TCGTemp *tt = T(B, t);
    if (tt->kind == TEMP_GLOBAL && tt->reg >= 0 && tt->dirty) {
        emit_st_env(B, tt->reg, tt->env_off);
        tt->dirty = false;
    }
}

static int find_free(Backend *B, uint32_t allowed)
{
    for (size_t i = 0; i < sizeof(alloc_order) / sizeof(alloc_order[0]); i++) {
        int r = alloc_order[i];
        if ((allowed & BIT(r)) && !((B->locked | B->reserved) & BIT(r)) && B->reg_temp[r] < 0) {
            return r;
        }
    }
    return -1;
}

/* Make register r free: its temp moves to another register, a spill slot or env. */
static void evict(Backend *B, int r)
{
    int t = B->reg_temp[r];
    if (t < 0) {
        return;
    }
    TCGTemp *tt = T(B, t);
    if (tt->kind == TEMP_GLOBAL) {
        sync_global(B, t);
        unbind_reg(B, r);
        return;
    }
    uint32_t saved_lock = B->locked;
    B->locked |= BIT(r);
    int n = find_free(B, ALL_REGS & ~CALLER_SAVED);
    if (n < 0) {
        n = find_free(B, ALL_REGS);
    }
    B->locked = saved_lock;
    if (n >= 0) {
        emit_mov_rr(B, n, r);
        bind(B, t, n);
        return;
    }
    if (tt->slot < 0) {
        int k = 0;
        while (k < FRAME_SLOTS && (B->slots_used & (1u << k))) {
            k++;
        }
        assert(k < FRAME_SLOTS);
        B->slots_used |= 1u << k;
        tt->slot = (int16_t)k;
    }
    if (!tt->in_slot) {
        emit_rm(B, 0x89 | P_REXW, r, RSP, -1, 0, tt->slot * 8);
        tt->in_slot = true;
    }
    unbind_reg(B, r);
}

/* A free register in allowed (spilling the least recently used if needed); locked. */
static int reg_alloc(Backend *B, uint32_t allowed)
{
    int r = find_free(B, allowed);
    if (r < 0) {
        uint32_t best = UINT32_MAX;
        for (int i = 0; i < 16; i++) {
            if ((allowed & BIT(i)) && !((B->locked | B->reserved) & BIT(i)) &&
                (ALL_REGS & BIT(i)) && T(B, B->reg_temp[i])->stamp < best) {
                best = T(B, B->reg_temp[i])->stamp;
                r = i;
            }
        }
        assert(r >= 0);
        evict(B, r);
    }
    B->locked |= BIT(r);
    return r;
}

/* Put t's value into register r (which is free), from wherever it is. */
static void load_value(Backend *B, int t, int r)
{
    TCGTemp *tt = T(B, t);
    if (tt->kind == TEMP_CONST) {
        emit_movi(B, r, tt->val);
    } else if (tt->reg >= 0) {
        emit_mov_rr(B, r, tt->reg);
    } else if (tt->kind == TEMP_GLOBAL) {
        emit_ld_env(B, r, tt->env_off);
    } else {
        assert(tt->in_slot);
        emit_rm(B, 0x8b | P_REXW, r, RSP, -1, 0, tt->slot * 8);
    }
}

/* Read-only input: a locked register holding t (t stays bound to it unless a constant). */
static int load_input(Backend *B, int t, uint32_t allowed)
{
    TCGTemp *tt = T(B, t);
    if (tt->reg >= 0 && (allowed & BIT(tt->reg))) {
        B->locked |= BIT(tt->reg);
        tt->stamp = ++B->stamp;
        return tt->reg;
    }
    int r = reg_alloc(B, allowed);
    load_value(B, t, r);
    if (tt->kind == TEMP_CONST) {
        B->scratch |= BIT(r);
    } else {
        bool dirty = tt->dirty;
        bind(B, t, r);
        tt->dirty = dirty;
    }
    return r;
}

/*
 * A locked register in allowed holding t's value that the op may overwrite. With consume, t
 * itself may give up its register (it dies here or is the op's output).
 */
static int load_scratch(Backend *B, int t, uint32_t allowed, bool consume)
{
    TCGTemp *tt = T(B, t);
    /* a temp the op reads twice keeps its register for the other read */
    int uses = 0;
    for (int k = tcg_op_nb_oargs(B->cur_op); k < B->cur_op->nargs; k++) {
        uses += B->cur_op->args[k] == t;
    }
    if (uses > 1) {
        consume = false;
    }
    if (consume && tt->reg >= 0 && (allowed & BIT(tt->reg))) {
        int r = tt->reg;
        unbind_reg(B, r);
        B->locked |= BIT(r);
        return r;
    }
    int r = reg_alloc(B, allowed);
    load_value(B, t, r);
    return r;
}

static bool arg_dies(const TCGOp *op, int k)
{
    return (op->dead >> k) & 1;
}

/* Bind output temp t (if any) to r: a global becomes dirty. */
static void set_output(Backend *B, int t, int r)
{
    if (t < 0) {
        return;
    }
    bind(B, t, r);
    TCGTemp *tt = T(B, t);
    tt->dirty = tt->kind == TEMP_GLOBAL;
    tt->in_slot = false;
}

/* End of an op: release dying inputs and scratch registers, unlock. */
static void temp_dead(Backend *B, int t)
{
    TCGTemp *tt = T(B, t);
    if (tt->kind != TEMP_LOCAL) {
        return;
    }
    if (tt->reg >= 0) {
        unbind_reg(B, tt->reg);
    }
    if (tt->slot >= 0) {
        B->slots_used &= ~(1u << tt->slot);
        tt->slot = -1;
        tt->in_slot = false;
    }
}

/* End of an op: release dying inputs, unused outputs and scratch registers; unlock. */
static void op_done(Backend *B, const TCGOp *op)
{
    int no = tcg_op_nb_oargs(op);
    for (int k = no; k < op->nargs; k++) {
        int t = op->args[k];
        if (t >= 0 && arg_dies(op, k)) {
            bool also_output = false;
            for (int j = 0; j < no; j++) {
                also_output |= op->args[j] == t;
            }
            if (!also_output) {
                temp_dead(B, t);
            }
        }
    }
    for (int k = 0; k < no; k++) {
        if (op->args[k] >= 0 && arg_dies(op, k)) {
            temp_dead(B, op->args[k]);
        }
    }
    B->scratch = 0;
    B->locked = 0;
}

static void sync_all_globals(Backend *B)
{
    for (int r = 0; r < 16; r++) {
        if (B->reg_temp[r] >= 0) {
            sync_global(B, B->reg_temp[r]);
        }
    }
}

/* Basic-block end: globals to env, every register free. */
static void bb_end(Backend *B)
{
    sync_all_globals(B);
    for (int r = 0; r < 16; r++) {
        unbind_reg(B, r);
    }
    B->slots_used = 0;
}

/* The ops during which the flags may stay in rax: no fixed registers, no flag reads. */
static bool rax_flags_ok(const TCGOp *op)
{
    switch (op->opc) {
    case OP_insn_start:
    case OP_nop:
    case OP_mov ... OP_setcond:
    case OP_ld:
    case OP_st:
    case OP_ld_env:
    case OP_st_env:
    case OP_vec:
        return true;
    default:
        return false;
    }
}

/* EFLAGS from the lahf/seto pair in rax (al is changed) */
static void emit_restore_flags_rax(Backend *B)
{
    b8(B, 0x04); /* add al, 0x7f: OF = (al == 1) */
    b8(B, 0x7f);
    b8(B, 0x9e); /* sahf */
}

static void flags_to_host(Backend *B)
{
    if (B->flags_loc == FL_ENV) {
        emit_restore_flags(B);
    } else if (B->flags_loc == FL_RAX) {
        emit_restore_flags_rax(B);
        B->reserved &= ~BIT(RAX);
    }
    B->flags_loc = FL_HOST;
}

/* Flags in rax are not needed any more. */
static void drop_rax_flags(Backend *B)
{
    if (B->flags_loc == FL_RAX) {
        B->reserved &= ~BIT(RAX);
        B->flags_loc = FL_DEAD;
    }
}

/* About to clobber the host flags. */
static void clobber_flags(Backend *B, bool live)
{
    if (B->flags_loc == FL_HOST) {
        if (!live) {
            B->flags_loc = FL_DEAD;
        } else if (B->s->softmmu && rax_flags_ok(B->cur_op) && !(B->locked & BIT(RAX))) {
            evict(B, RAX); /* mov or store only: the flags survive */
            b8(B, 0x9f);   /* lahf */
            b8(B, 0x0f);   /* seto al */
            b8(B, 0x90);
            b8(B, 0xc0);
            B->reserved |= BIT(RAX);
            B->flags_loc = FL_RAX;
        } else {
            emit_save_flags(B);
            B->flags_loc = FL_ENV;
        }
    }
}

/* ---------------- ops ---------------- */

static int cond_to_cc(int cond)
{
    static const int cc[] = {
        [COND_EQ] = 0x4, [COND_NE] = 0x5,  [COND_LT] = 0xc,  [COND_GE] = 0xd,  [COND_LE] = 0xe,
        [COND_GT] = 0xf, [COND_LTU] = 0x2, [COND_GEU] = 0x3, [COND_LEU] = 0x6, [COND_GTU] = 0x7,
    };
    return cc[cond];
}

static bool is_const(Backend *B, int t, int64_t *v)
{
    if (t >= 0 && T(B, t)->kind == TEMP_CONST) {
        *v = T(B, t)->val;
        return true;
    }
    return false;
}

/* Immediate encodable for a sized ALU op: value to emit and whether it is imm8. */
static bool alu_imm(int size, int64_t v, int64_t *out, bool *is8)
{
    switch (size) {
    case 8:
        *out = (int8_t)v;
        *is8 = true;
        return true;
    case 16:
        *out = (int16_t)v;
        break;
    case 32:
        *out = (int32_t)v;
        break;
    default:
        if (!fits32(v)) {
            return false;
        }
        *out = v;
        break;
    }
    *is8 = fits8(*out);
    return true;
}

/* b's register for a sized ALU op, or -1 when b is an encodable immediate */
static int alu_b_reg(Backend *B, int size, int b)
{
    int64_t v, imm;
    bool is8;
    if (is_const(B, b, &v) && alu_imm(size, v, &imm, &is8)) {
        return -1;
    }
    return load_input(B, b, ALL_REGS);
}

/* ALU op n (0..7 = add or adc sbb and sub xor cmp) or TEST on r with rb, or b's immediate. */
static void emit_alu(Backend *B, int n, int size, int r, int b, int rb)
{
    int64_t v = 0, imm = 0;
    bool is8 = false;
    int sf = size_flags(size);
    if (rb < 0) {
        is_const(B, b, &v);
        alu_imm(size, v, &imm, &is8);
        if (n == ALU_TEST) {
            emit_rr(B, (size == 8 ? 0xf6 : 0xf7) | (sf & ~P_BYTE_R), 0, r);
            if (size == 8) {
                b8(B, (uint8_t)imm);
            } else if (size == 16) {
                b8(B, (uint8_t)imm);
                b8(B, (uint8_t)(imm >> 8));
            } else {
                b32(B, (uint32_t)imm);
            }
            return;
        }
        if (size == 8) {
            emit_rr(B, 0x80 | (sf & ~P_BYTE_R), n, r);
            b8(B, (uint8_t)imm);
        } else if (is8) {
            emit_rr(B, 0x83 | sf, n, r);
            b8(B, (uint8_t)imm);
        } else {
            emit_rr(B, 0x81 | sf, n, r);
            if (size == 16) {
                b8(B, (uint8_t)imm);
                b8(B, (uint8_t)(imm >> 8));
            } else {
                b32(B, (uint32_t)imm);
            }
        }
        return;
    }
    int opc = n == ALU_TEST ? 0x84 : (n << 3);
    emit_rr(B, (opc + (size == 8 ? 0 : 1)) | sf, rb, r);
}

static void emit_shift(Backend *B, int n, int size, int r, int count)
{
    int64_t v;
    int sf = size_flags(size) & ~P_BYTE_R;
    if (is_const(B, count, &v)) {
        emit_rr(B, (size == 8 ? 0xc0 : 0xc1) | sf, n, r);
        b8(B, (uint8_t)v);
    } else {
        emit_rr(B, (size == 8 ? 0xd2 : 0xd3) | sf, n, r);
    }
}

/* r = r OP b for the 64-bit value ops that map onto the ALU group */
static void value_alu(Backend *B, const TCGOp *op, int n)
{
    int d = op->args[0], a = op->args[1], b = op->args[2];
    clobber_flags(B, op->flags_live);
    int rb = alu_b_reg(B, 64, b);
    int r = load_scratch(B, a, ALL_REGS, arg_dies(op, 1) || a == d);
    emit_alu(B, n, 64, r, b, rb);
    set_output(B, d, r);
}

static void value_shift(Backend *B, const TCGOp *op, int n)
{
    int d = op->args[0], a = op->args[1], c = op->args[2];
    clobber_flags(B, op->flags_live);
    int64_t v;
    uint32_t allowed = ALL_REGS;
    if (!is_const(B, c, &v)) {
        load_input(B, c, BIT(RCX));
        allowed &= ~BIT(RCX);
    }
    int r = load_scratch(B, a, allowed, arg_dies(op, 1) || a == d);
    if (is_const(B, c, &v)) {
        emit_rr(B, 0xc1 | P_REXW, n, r);
        b8(B, (uint8_t)(v & 63));
    } else {
        emit_rr(B, 0xd3 | P_REXW, n, r);
    }
    set_output(B, d, r);
}

/* three-operand helper: output register, reusing a's if it dies */
static int out_reg_for(Backend *B, const TCGOp *op, int ra, int a_idx)
{
    int a = op->args[a_idx];
    if (T(B, a)->kind != TEMP_CONST && (arg_dies(op, a_idx) || a == op->args[0])) {
        unbind_reg(B, ra);
        return ra;
    }
    return reg_alloc(B, ALL_REGS);
}

static void gen_ext(Backend *B, const TCGOp *op)
{
    static const int opc[] = {
        [OP_ext8u - OP_ext8u] = 0xb6 | P_0F | P_BYTE_RM,
        [OP_ext8s - OP_ext8u] = 0xbe | P_0F | P_REXW | P_BYTE_RM,
        [OP_ext16u - OP_ext8u] = 0xb7 | P_0F,
        [OP_ext16s - OP_ext8u] = 0xbf | P_0F | P_REXW,
        [OP_ext32u - OP_ext8u] = 0x8b,
        [OP_ext32s - OP_ext8u] = 0x63 | P_REXW,
    };
    int ra = load_input(B, op->args[1], ALL_REGS);
    int r = out_reg_for(B, op, ra, 1);
    emit_rr(B, opc[op->opc - OP_ext8u], r, ra);
    set_output(B, op->args[0], r);
}

/* flat-mode memory displacement */
static int32_t mem_disp(Backend *B, int64_t off)
{
    int64_t d = (int64_t)B->s->mem_base + off;
    assert(fits32(d));
    return (int32_t)d;
}

/* What a slow path needs to make env precise: the dirty globals and where the flags are. */
static void slow_path_state(Backend *B, struct SlowPath *sp)
{
    sp->flags_rax = B->flags_loc == FL_RAX;
    sp->nb_dirty = 0;
    for (int r = 0; r < 16; r++) {
        int t = B->reg_temp[r];
        if (t >= 0 && T(B, t)->kind == TEMP_GLOBAL && T(B, t)->dirty) {
            sp->dirty_reg[sp->nb_dirty] = (uint8_t)r;
            sp->dirty_off[sp->nb_dirty++] = T(B, t)->env_off;
        }
    }
}

/*
 * System mode: the inline TLB probe. index = (addr >> 12) & 255 scaled by the 32-byte entry,
 * tag compare against the page of the access's last byte (so page-crossing accesses miss), then
 * host address = addr + addend. A miss jumps to a slow path after the block.
 */
static void gen_tlb_access(Backend *B, const TCGOp *op, bool is_store)
{
    int bytes = op->size / 8;
    int mmu = (B->tb->flags & TBF_CPL3) ? 1 : 0;
    /*
     * The probe clobbers the host flags: save them if they are live after the access. If the
     * access faults, the handler sees them precise when anything reads them after the
     * instruction; dead ones may be stale in the exception frame (nothing reads them before
     * they are written again, so the guest cannot tell, bar a handler that inspects them).
     */
    clobber_flags(B, op->flags_live);
    int rv = is_store ? load_input(B, op->args[0], ALL_REGS) : -1;
    int ra = load_input(B, op->args[1], ALL_REGS);
    int r1 = reg_alloc(B, ALL_REGS);
    int r2 = reg_alloc(B, ALL_REGS);
    B->scratch |= BIT(r2) | (is_store ? BIT(r1) : 0);
    int32_t tlb_off = ENV_OFF(tlb) + mmu * (int32_t)(TLB_SIZE * sizeof(CPUTLBEntry));
    int32_t cmp_off = is_store ? (int32_t)offsetof(CPUTLBEntry, addr_write)
                               : (int32_t)offsetof(CPUTLBEntry, addr_read);
    emit_mov_rr(B, r1, ra);
    emit_rr(B, 0xc1 | P_REXW, 5, r1); /* shr r1, 12 - 5 */
    b8(B, 12 - TLB_ENTRY_SHIFT);
    emit_rr(B, 0x81, 4, r1); /* and r1d, (TLB_SIZE - 1) << 5 */
    b32(B, (TLB_SIZE - 1) << TLB_ENTRY_SHIFT);
    emit_rm(B, 0x8d | P_REXW, r2, ra, -1, 0, bytes - 1); /* lea r2, [ra + bytes - 1] */
    emit_rr(B, 0x81 | P_REXW, 4, r2);                    /* and r2, ~0xfff */
    b32(B, 0xfffff000u);
    emit_rm(B, 0x3b | P_REXW, r2, RBP, r1, 0, tlb_off + cmp_off); /* cmp r2, [tag] */
    b8(B, 0x0f);
    b8(B, 0x85); /* jne slow */
    assert(B->nb_slow < (int)(sizeof(B->slow) / sizeof(B->slow[0])));
    struct SlowPath *sp = &B->slow[B->nb_slow++];
    sp->jcc_rel = B->p;
    b32(B, 0);
    emit_rm(B, 0x8b | P_REXW, r1, RBP, r1, 0, tlb_off + (int32_t)offsetof(CPUTLBEntry, addend));
    if (is_store) {
        int opc = op->size == 8 ? (0x88 | P_BYTE_R) : (0x89 | size_flags(op->size));
        emit_rm(B, opc, rv, r1, ra, 0, 0);
    } else {
        bool sign = op->sub != 0;
        int opc;
        switch (op->size) {
        case 8:
            opc = sign ? (0xbe | P_0F | P_REXW) : (0xb6 | P_0F);
            break;
        case 16:
            opc = sign ? (0xbf | P_0F | P_REXW) : (0xb7 | P_0F);
            break;
        case 32:
            opc = sign ? (0x63 | P_REXW) : 0x8b;
            break;
        default:
            opc = 0x8b | P_REXW;
            break;
        }
        emit_rm(B, opc, r1, r1, ra, 0, 0);
    }
    sp->done = B->p;
    sp->rip = B->cur_rip;
    sp->is_store = is_store;
    sp->bytes = (uint8_t)bytes;
    sp->sign = op->sub != 0;
    sp->mmu = (uint8_t)mmu;
    sp->ra = (uint8_t)ra;
    sp->rv = (uint8_t)(rv < 0 ? 0 : rv);
    sp->rd = (uint8_t)r1;
    sp->vec = 0;
    slow_path_state(B, sp);
    if (!is_store) {
        set_output(B, op->args[0], r1);
    }
}

/* The slow path of one access: precise state into env, call the C helper, back. */
static void gen_slow_path(Backend *B, const struct SlowPath *sp)
{
    int32_t rel = (int32_t)(B->p - (sp->jcc_rel + 4));
    memcpy(sp->jcc_rel, &rel, 4);
    for (int i = 0; i < sp->nb_dirty; i++) {
        emit_st_env(B, sp->dirty_reg[i], sp->dirty_off[i]);
    }
    int saved[16], n = 0;
    for (int r = 0; r < 16; r++) {
        if ((CALLER_SAVED & BIT(r)) && (sp->vec || sp->is_store || r != sp->rd)) {
            saved[n++] = r;
        }
    }
    for (int i = 0; i < n; i++) {
        opc_prefix(B, 0x50 + (saved[i] & 7), 0, saved[i], -1);
    }
    if (n & 1) {
        emit_rm(B, 0x8d | P_REXW, RSP, RSP, -1, 0, -8);
    }
    if (sp->flags_rax) {
        /* precise flags in env for a fault: rax was pushed above and is popped afterwards */
        emit_restore_flags_rax(B);
        emit_save_flags(B);
    }
    uint64_t info = sp->bytes | (uint64_t)sp->sign << 4 | (uint64_t)sp->mmu << 8;
    if (sp->vec) {
        emit_mov_rr(B, RSI, sp->ra);
        emit_movi(B, RDX, sp->vinfo);
    } else if (sp->is_store) {
        opc_prefix(B, 0x50 + (sp->ra & 7), 0, sp->ra, -1); /* push ra; push rv; pop rdx; pop rsi */
        opc_prefix(B, 0x50 + (sp->rv & 7), 0, sp->rv, -1);
        opc_prefix(B, 0x58 + (RDX & 7), 0, RDX, -1);
        opc_prefix(B, 0x58 + (RSI & 7), 0, RSI, -1);
        emit_movi(B, RCX, (int64_t)info);
    } else {
        emit_mov_rr(B, RSI, sp->ra);
        emit_movi(B, RDX, (int64_t)info);
    }
    /* the instruction's RIP, for a precise #PF (rax is free once the arguments are set) */
    emit_movi(B, RAX, (int64_t)sp->rip);
    emit_st_env(B, RAX, ENV_OFF(rip));
    void *fn = sp->vec == 1   ? (void *)helper_vld_slow
               : sp->vec      ? (void *)helper_vst_slow
               : sp->is_store ? (void *)helper_st_slow
                              : (void *)helper_ld_slow;
    emit_movi(B, RAX, (int64_t)(uintptr_t)fn);
    emit_mov_rr(B, RDI, RBP);
    emit_rr(B, 0xff, 2, RAX); /* call rax */
    if (sp->vec == 1) {
        emit_sse(B, 0x66, 0x6e | P_REXW, 1, RAX, -1, 0, true); /* movq xmm1, rax */
        emit_sse(B, 0x66, 0x6e | P_REXW, 0, RDX, -1, 0, true); /* movq xmm0, rdx */
        emit_sse(B, 0x66, 0x6c, 1, 0, -1, 0, true);            /* punpcklqdq xmm1, xmm0 */
    } else if (!sp->is_store) {
        emit_mov_rr(B, sp->rd, RAX);
    }
    if (n & 1) {
        emit_rm(B, 0x8d | P_REXW, RSP, RSP, -1, 0, 8);
    }
    for (int i = n - 1; i >= 0; i--) {
        opc_prefix(B, 0x58 + (saved[i] & 7), 0, saved[i], -1);
    }
    emit_jmp_abs(B, sp->done);
}

static void gen_ld(Backend *B, const TCGOp *op)
{
    if (B->s->softmmu) {
        gen_tlb_access(B, op, false);
        return;
    }
    int ra = load_input(B, op->args[1], ALL_REGS);
    int r = reg_alloc(B, ALL_REGS);
    int32_t disp = mem_disp(B, op->aux);
    bool sign = op->sub != 0;
    int opc;
    switch (op->size) {
    case 8:
        opc = sign ? (0xbe | P_0F | P_REXW) : (0xb6 | P_0F);
        break;
    case 16:
        opc = sign ? (0xbf | P_0F | P_REXW) : (0xb7 | P_0F);
        break;
    case 32:
        opc = sign ? (0x63 | P_REXW) : 0x8b;
        break;
    default:
        opc = 0x8b | P_REXW;
        break;
    }
    emit_rm(B, opc, r, ra, -1, 0, disp);
    set_output(B, op->args[0], r);
}

static void gen_st(Backend *B, const TCGOp *op)
{
    if (B->s->softmmu) {
        gen_tlb_access(B, op, true);
        return;
    }
    int rv = load_input(B, op->args[0], ALL_REGS);
    int ra = load_input(B, op->args[1], ALL_REGS);
    int32_t disp = mem_disp(B, op->aux);
    int opc = op->size == 8 ? (0x88 | P_BYTE_R) : (0x89 | size_flags(op->size));
    emit_rm(B, opc, rv, ra, -1, 0, disp);
}

/*
 * OP_vec's memory operand: the 16 bytes at addr into xmm1 (load) or from env->xmm[reg] (store),
 * inline through the TLB, with the #GP alignment check folded into the tag compare; a miss, a
 * page crossing or a misaligned address goes to the slow path after the block.
 */
static void gen_vec_mem(Backend *B, const TCGOp *op, bool is_store)
{
    uint64_t info = (uint64_t)op->aux;
    bool aligned = (info & VEC_ALIGNED) != 0;
    int mmu = (B->tb->flags & TBF_CPL3) ? 1 : 0;
    int32_t xreg = ENV_OFF(xmm) + 16 * VEC_REG(info);
    struct SlowPath *sp = NULL;
    int r1 = -1;
    if (B->s->softmmu || aligned) {
        clobber_flags(B, op->flags_live); /* the probe clobbers the host flags */
        assert(B->nb_slow < (int)(sizeof(B->slow) / sizeof(B->slow[0])));
        sp = &B->slow[B->nb_slow++];
    }
    int ra = load_input(B, op->args[1], ALL_REGS);
    if (B->s->softmmu) {
        r1 = reg_alloc(B, ALL_REGS);
        int r2 = reg_alloc(B, ALL_REGS);
        B->scratch |= BIT(r1) | BIT(r2);
        int32_t tlb_off = ENV_OFF(tlb) + mmu * (int32_t)(TLB_SIZE * sizeof(CPUTLBEntry));
        int32_t cmp_off = is_store ? (int32_t)offsetof(CPUTLBEntry, addr_write)
                                   : (int32_t)offsetof(CPUTLBEntry, addr_read);
        emit_mov_rr(B, r1, ra);
        emit_rr(B, 0xc1 | P_REXW, 5, r1); /* shr r1, 12 - 5 */
        b8(B, 12 - TLB_ENTRY_SHIFT);
        emit_rr(B, 0x81, 4, r1); /* and r1d, (TLB_SIZE - 1) << 5 */
        b32(B, (TLB_SIZE - 1) << TLB_ENTRY_SHIFT);
        if (aligned) {
            /* r2 = addr & (~0xfff | 15): a misaligned address never matches a tag */
            emit_mov_rr(B, r2, ra);
            emit_rr(B, 0x81 | P_REXW, 4, r2);
            b32(B, 0xfffff00fu);
        } else {
            emit_rm(B, 0x8d | P_REXW, r2, ra, -1, 0, 15); /* the page of the last byte */
            emit_rr(B, 0x81 | P_REXW, 4, r2);
            b32(B, 0xfffff000u);
        }
        emit_rm(B, 0x3b | P_REXW, r2, RBP, r1, 0, tlb_off + cmp_off); /* cmp r2, [tag] */
        b8(B, 0x0f);
        b8(B, 0x85); /* jne slow */
        sp->jcc_rel = B->p;
        b32(B, 0);
        emit_rm(B, 0x8b | P_REXW, r1, RBP, r1, 0, tlb_off + (int32_t)offsetof(CPUTLBEntry, addend));
    } else if (aligned) {
        /* flat mode: test ra, 15; jne slow (which raises #GP) */
        emit_rr(B, 0xf7 | P_REXW, 0, ra);
        b32(B, 15);
        b8(B, 0x0f);
        b8(B, 0x85);
        sp->jcc_rel = B->p;
        b32(B, 0);
    }
    if (is_store) {
        emit_xmm_ld_env(B, 0, xreg);
    }
    int opc = is_store ? 0x7f : 0x6f; /* movdqu */
    if (r1 >= 0) {
        emit_sse(B, 0xf3, opc, is_store ? 0 : 1, r1, ra, 0, false);
    } else {
        emit_sse(B, 0xf3, opc, is_store ? 0 : 1, ra, -1, mem_disp(B, 0), false);
    }
    if (sp) {
        sp->done = B->p;
        sp->rip = B->cur_rip;
        sp->is_store = is_store;
        sp->bytes = 16;
        sp->sign = 0;
        sp->mmu = (uint8_t)mmu;
        sp->ra = (uint8_t)ra;
        sp->rv = 0;
        sp->rd = 0;
        sp->vec = is_store ? 2 : 1;
        sp->vinfo = (aligned ? 1u : 0u) | (uint32_t)VEC_REG(info) << 4;
        slow_path_state(B, sp);
    }
}

static void gen_vec(Backend *B, const TCGOp *op)
{
    uint64_t info = (uint64_t)op->aux;
    static const int prefixes[] = {0, 0x66, 0xf3, 0xf2};
    int prefix = prefixes[VEC_PFX(info)], op8 = (int)VEC_OP8(info);
    int kind = VEC_KIND(info);
    int32_t xreg = ENV_OFF(xmm) + 16 * VEC_REG(info), xrm = ENV_OFF(xmm) + 16 * VEC_RM(info);
    bool mem = (info & VEC_MEM) != 0;
    if (kind == VK_ST) {
        gen_vec_mem(B, op, true);
        return;
    }
    if (mem) {
        gen_vec_mem(B, op, false);
    } else {
        emit_xmm_ld_env(B, kind == VK_SHIFTI ? 0 : 1, xrm);
    }
    switch (kind) {
    case VK_MOV:
        emit_xmm_st_env(B, 1, xreg);
        break;
    case VK_OP:
        emit_xmm_ld_env(B, 0, xreg);
        emit_sse(B, prefix, op8, 0, 1, -1, 0, true);
        if (info & VEC_HAS_IMM) {
            b8(B, VEC_IMM(info));
        }
        emit_xmm_st_env(B, 0, xreg);
        break;
    case VK_SHIFTI:
        emit_sse(B, prefix, op8, VEC_REG(info), 0, -1, 0, true);
        b8(B, VEC_IMM(info));
        emit_xmm_st_env(B, 0, xrm);
        break;
    case VK_MASK: {
        int r = reg_alloc(B, ALL_REGS);
        emit_sse(B, prefix, op8, r, 1, -1, 0, true);
        set_output(B, op->args[0], r);
        break;
    }
    }
}

static void gen_call(Backend *B, const TCGOp *op)
{
    static const int argregs[] = {RSI, RDX, RCX, R8, R9};
    int no = (int)op->aux2;
    int flags = op->sub;
    bool save = op->flags_live || (flags & (CALL_MAY_FAULT | CALL_RW_FLAGS));
    if (B->flags_loc == FL_HOST) {
        if (save) {
            emit_save_flags(B);
            B->flags_loc = FL_ENV;
        } else {
            B->flags_loc = FL_DEAD;
        }
    }
    if (flags & (CALL_RW_GLOBALS | CALL_MAY_FAULT)) {
        sync_all_globals(B);
    }
    /* caller-saved registers out of the way (values move to callee-saved ones or slots) */
    B->locked = CALLER_SAVED;
    for (int r = 0; r < 16; r++) {
        if ((CALLER_SAVED & BIT(r)) && B->reg_temp[r] >= 0) {
            evict(B, r);
        }
    }
    B->locked = 0;
    if (flags & CALL_MAY_FAULT) {
        emit_movi(B, R11, (int64_t)B->cur_rip);
        emit_st_env(B, R11, ENV_OFF(rip));
    }
    assert(op->nargs - no <= 5);
    for (int k = no; k < op->nargs; k++) {
        load_value(B, op->args[k], argregs[k - no]);
    }
    emit_mov_rr(B, RDI, RBP);
    emit_movi(B, RAX, (int64_t)op->aux);
    emit_rr(B, 0xff, 2, RAX); /* call rax */
    if (flags & CALL_RW_GLOBALS) {
        for (int r = 0; r < 16; r++) {
            if (B->reg_temp[r] >= 0 && T(B, B->reg_temp[r])->kind == TEMP_GLOBAL) {
                unbind_reg(B, r);
            }
        }
    }
    if (flags & CALL_RW_FLAGS) {
        B->flags_loc = FL_ENV;
    }
    if (no) {
        set_output(B, op->args[0], RAX);
    }
    op_done(B, op);
}

static void add_reloc(Backend *B, int label)
{
    assert(B->nb_relocs < TCG_MAX_OPS);
    B->relocs[B->nb_relocs].label = label;
    B->relocs[B->nb_relocs].at = B->p;
    B->nb_relocs++;
    b32(B, 0);
}

static void gen_goto_tb(Backend *B, const TCGOp *op)
{
    bb_end(B);
    flags_to_host(B);
    /* align the rel32 field to 4 bytes so patching it is one atomic store */
    switch ((4 - (((uintptr_t)(B->p + 1)) & 3)) & 3) { /* one nop of 1-3 bytes */
    case 1:
        b8(B, 0x90);
        break;
    case 2:
        b8(B, 0x66);
        b8(B, 0x90);
        break;
    case 3:
        b8(B, 0x0f); /* nop dword [rax] */
        b8(B, 0x1f);
        b8(B, 0x00);
        break;
    }
    int n = op->sub;
    B->tb->jmp_off[n] = (uint32_t)(B->p - B->start);
    b8(B, 0xe9);
    b32(B, 0); /* fixed up to the exit stub at the end */
}

static void gen_exit_tb(Backend *B, const TCGOp *op)
{
    bb_end(B); /* (gen_op has put flags parked in rax back into EFLAGS) */
    emit_movi(B, RAX, (int64_t)((uintptr_t)B->tb | (uintptr_t)op->aux));
    emit_jmp_abs(B, B->flags_loc == FL_HOST ? tcg_epilogue_save : tcg_epilogue_nosave);
}

/*
 * Indirect branch, or a direct one to another page: probe the jump cache without touching the
 * flags. A slot holds the TB's negated key and its code side by side; a hit jumps to the code,
 * a miss stores RIP and leaves for the loop.
 */
static void gen_lookup_goto(Backend *B, const TCGOp *op)
{
    int t = op->args[0];
    uint64_t fk = (uint64_t)B->tb->flags << 52;
    const int32_t jc = ENV_OFF(jmp_cache);
    int64_t target;
    if (is_const(B, t, &target)) {
        /* the slot is known: two loads from one line of it */
        bb_end(B);
        flags_to_host(B);
        int32_t slot =
            jc + (int32_t)(((uint64_t)target & (TB_JMP_CACHE_SIZE - 1)) * sizeof(TBJmpCacheEntry));
        emit_movi(B, RAX, (int64_t)((uint64_t)target + fk));
        emit_rm(B, 0x8b | P_REXW, RCX, RBP, -1, 0, slot); /* rcx = slot's negated key */
        emit_rm(B, 0x8d | P_REXW, RCX, RCX, RAX, 0, 0);   /* lea rcx, [rcx+rax] */
        b8(B, 0xe3);                                      /* jrcxz hit */
        uint8_t *jr = B->p;
        b8(B, 0);
        emit_movi(B, RAX, target);
        emit_st_env(B, RAX, ENV_OFF(rip));
        emit_movi(B, RAX, TB_EXIT_NOCHAIN);
        emit_jmp_abs(B, tcg_epilogue_save);
        *jr = (uint8_t)(B->p - (jr + 1));
        emit_rm(B, 0xff, 4, RBP, -1, 0, slot + 8); /* jmp [slot.code] */
        B->locked = B->scratch = 0;
        return;
    }
    /* the target into rax before the globals are written back */
    load_scratch(B, t, BIT(RAX), arg_dies(op, 0));
    bb_end(B);
    flags_to_host(B);
    emit_st_env(B, RAX, ENV_OFF(rip));
    if (fk) {
        emit_movi(B, RCX, (int64_t)fk);
        emit_rm(B, 0x8d | P_REXW, RAX, RAX, RCX, 0, 0); /* lea rax, [rax+rcx] */
    }
    emit_rr(B, 0xb7 | P_0F, RCX, RAX);               /* movzx ecx, ax */
    emit_rm(B, 0x8d | P_REXW, RDX, RCX, RCX, 0, 0);  /* lea rdx, [rcx+rcx]: slot * 2 */
    emit_rm(B, 0x8b | P_REXW, RCX, RBP, RDX, 3, jc); /* rcx = jc[slot].neg_key */
    emit_rm(B, 0x8d | P_REXW, RCX, RCX, RAX, 0, 0);  /* lea rcx, [rcx+rax] */
    b8(B, 0xe3);                                     /* jrcxz hit */
    uint8_t *jr = B->p;
    b8(B, 0);
    emit_movi(B, RAX, TB_EXIT_NOCHAIN);
    emit_jmp_abs(B, tcg_epilogue_save);
    *jr = (uint8_t)(B->p - (jr + 1));
    emit_rm(B, 0xff, 4, RBP, RDX, 3, jc + 8); /* jmp [jc[slot].code] */
    B->locked = B->scratch = 0;               /* a label may follow (a jcc to two other pages) */
}

static void gen_brcond(Backend *B, const TCGOp *op)
{
    int64_t v;
    assert(is_const(B, op->args[1], &v) && v == 0);
    assert(op->sub == COND_EQ || op->sub == COND_NE);
    load_scratch(B, op->args[0], BIT(RCX), arg_dies(op, 0));
    bb_end(B);
    flags_to_host(B);
    if (op->sub == COND_NE) {
        b8(B, 0xe3); /* jrcxz over the jmp */
        b8(B, 5);
        b8(B, 0xe9);
        add_reloc(B, (int)op->aux);
    } else {
        b8(B, 0xe3); /* jrcxz taken */
        b8(B, 2);
        b8(B, 0xeb); /* jmp short over */
        b8(B, 5);
        b8(B, 0xe9);
        add_reloc(B, (int)op->aux);
    }
}

/* two-address flag op: returns the destination register holding a's value */
static int flag_dst(Backend *B, const TCGOp *op, int a_idx, uint32_t allowed)
{
    int a = op->args[a_idx];
    return load_scratch(B, a, allowed, arg_dies(op, a_idx) || a == op->args[0]);
}

bool tcg_scramble_undef;

/*
 * VIREO_TCG_SCRAMBLE: flip `mask` in the host EFLAGS right after a flag op, as another vendor's
 * CPU might leave those undefined flags: pushfq; xor qword [rsp], mask; popfq. With a count in
 * CL (count_mask != 0) only when the masked count is not zero (a zero count keeps the flags on
 * every CPU), and the flags in `mask2` only when it is above 1.
 */
static void emit_scramble(Backend *B, uint32_t mask, uint32_t mask2, int count_mask)
{
    b8(B, 0x9c); /* pushfq */
    uint8_t *skip = NULL, *skip2 = NULL;
    if (count_mask) {
        b8(B, 0xf6); /* test cl, count_mask */
        b8(B, 0xc1);
        b8(B, (uint8_t)count_mask);
        b8(B, 0x74); /* jz done */
        skip = B->p;
        b8(B, 0);
    }
    b8(B, 0x48); /* xor qword [rsp], mask */
    b8(B, 0x81);
    b8(B, 0x34);
    b8(B, 0x24);
    b32(B, mask);
    if (count_mask && mask2) {
        b8(B, 0xf6); /* test cl, count_mask & ~1: above 1 */
        b8(B, 0xc1);
        b8(B, (uint8_t)(count_mask & ~1));
        b8(B, 0x74); /* jz done */
        skip2 = B->p;
        b8(B, 0);
        b8(B, 0x48);
        b8(B, 0x81);
        b8(B, 0x34);
        b8(B, 0x24);
        b32(B, mask2);
    }
    if (skip) {
        *skip = (uint8_t)(B->p - (skip + 1));
    }
    if (skip2) {
        *skip2 = (uint8_t)(B->p - (skip2 + 1));
    }
    b8(B, 0x9d); /* popfq */
}

/* The flags the manuals leave undefined after op, flipped for VIREO_TCG_SCRAMBLE. */
static void scramble_undef(Backend *B, const TCGOp *op)
{
    int64_t v;
    switch (op->opc) {
    case OP_mulf:
    case OP_imul2f:
        emit_scramble(B, CC_S | CC_Z | CC_A | CC_P, 0, 0);
        break;
    case OP_btf:
        emit_scramble(B, CC_O | CC_S | CC_A | CC_P, 0, 0);
        break;
    case OP_bsf:
    case OP_bsr:
        emit_scramble(B, CC_C | CC_O | CC_S | CC_A | CC_P, 0, 0);
        break;
    case OP_shf:
    case OP_shdf: {
        int cnt = op->args[op->opc == OP_shf ? 2 : 3];
        int cm = op->size == 64 ? 63 : 31;
        bool rot = op->opc == OP_shf && op->sub < SH_SHL;
        uint32_t m1 = rot ? 0 : CC_A;
        if (is_const(B, cnt, &v)) {
            int c = (int)(v & cm);
            uint32_t m = c == 0 ? 0 : m1 | (c > 1 ? CC_O : 0);
            if (op->opc == OP_shf && op->size < 32 && c >= op->size && !rot) {
                m |= CC_C; /* 8/16-bit SHL/SHR/SAR by the operand size or more */
            }
            if (m) {
                emit_scramble(B, m, 0, 0);
            }
        } else if (m1) {
            emit_scramble(B, m1, CC_O, cm);
        } else {
            emit_scramble(B, CC_O, 0, cm & ~1); /* rotates: OF when the count is above 1 */
        }
        break;
    }
    default:
        break;
    }
}

static void gen_op(Backend *B, const TCGOp *op)
{
    TCGContext *s = B->s;
    int64_t v;
    B->cur_op = op;
    int d = op->args[0];
    if (B->flags_loc == FL_RAX && !rax_flags_ok(op)) {
        if (tcg_op_full_writes_flags(s, op) && !tcg_op_reads_flags(s, op)) {
            drop_rax_flags(B);
        } else {
            flags_to_host(B);
        }
    }
    if (tcg_op_reads_flags(s, op) && op->opc != OP_call && op->opc != OP_getflags &&
        op->opc != OP_ld && op->opc != OP_st) {
        flags_to_host(B);
    }
    switch (op->opc) {
    case OP_insn_start:
        B->cur_rip = (uint64_t)op->aux;
        return;
    case OP_nop:
        return;
    case OP_label:
        bb_end(B);
        flags_to_host(B);
        B->label_pos[op->aux] = B->p;
        return;
    case OP_br:
        bb_end(B);
        flags_to_host(B);
        b8(B, 0xe9);
        add_reloc(B, (int)op->aux);
        return;
    case OP_brcond:
        gen_brcond(B, op);
        return;
    case OP_brcc:
        bb_end(B);
        b8(B, 0x0f);
        b8(B, 0x80 + op->sub);
        add_reloc(B, (int)op->aux);
        return;
    case OP_goto_tb:
        gen_goto_tb(B, op);
        return;
    case OP_exit_tb:
        gen_exit_tb(B, op);
        return;
    case OP_lookup_goto:
        gen_lookup_goto(B, op);
        return;
    case OP_call:
        gen_call(B, op);
        return;
    case OP_mov: {
        int a = op->args[1];
        if (d == a) {
            break;
        }
        if (is_const(B, a, &v)) {
            int r = reg_alloc(B, ALL_REGS);
            emit_movi(B, r, v);
            set_output(B, d, r);
        } else {
            int ra = load_input(B, a, ALL_REGS);
            int r = out_reg_for(B, op, ra, 1);
            emit_mov_rr(B, r, ra);
            set_output(B, d, r);
        }
        break;
    }
    case OP_add:
    case OP_sub: {
        int a = op->args[1], b = op->args[2];
        int64_t bv;
        bool kb = is_const(B, b, &bv) && fits32(bv) && fits32(-bv);
        if (op->opc == OP_add || kb) {
            /* lea: no flags touched */
            int ra = load_input(B, a, ALL_REGS);
            int rb = kb ? -1 : load_input(B, b, ALL_REGS);
            int r = out_reg_for(B, op, ra, 1);
            if (kb) {
                emit_rm(B, 0x8d | P_REXW, r, ra, -1, 0, (int32_t)(op->opc == OP_add ? bv : -bv));
            } else {
                emit_rm(B, 0x8d | P_REXW, r, ra, rb, 0, 0);
            }
            set_output(B, d, r);
        } else {
            value_alu(B, op, ALU_SUB);
        }
        break;
    }
    case OP_and:
        value_alu(B, op, ALU_AND);
        break;
    case OP_or:
        value_alu(B, op, ALU_OR);
        break;
    case OP_xor:
        value_alu(B, op, ALU_XOR);
        break;
    case OP_shl:
        value_shift(B, op, SH_SHL);
        break;
    case OP_shr:
        value_shift(B, op, SH_SHR);
        break;
    case OP_sar:
        value_shift(B, op, SH_SAR);
        break;
    case OP_rotl:
        value_shift(B, op, SH_ROL);
        break;
    case OP_rotr:
        value_shift(B, op, SH_ROR);
        break;
    case OP_mul: {
        clobber_flags(B, op->flags_live);
        int b = op->args[2];
        if (is_const(B, b, &v) && fits32(v)) {
            int ra = load_input(B, op->args[1], ALL_REGS);
            int r = out_reg_for(B, op, ra, 1);
            emit_rr(B, 0x69 | P_REXW, r, ra);
            b32(B, (uint32_t)v);
            set_output(B, d, r);
        } else {
            int rb = load_input(B, b, ALL_REGS);
            int r = flag_dst(B, op, 1, ALL_REGS);
            emit_rr(B, 0xaf | P_0F | P_REXW, r, rb);
            set_output(B, d, r);
        }
        break;
    }
    case OP_neg:
    case OP_not: {
        if (op->opc == OP_neg) {
            clobber_flags(B, op->flags_live);
        }
        int r = flag_dst(B, op, 1, ALL_REGS);
        emit_rr(B, 0xf7 | P_REXW, op->opc == OP_neg ? 3 : 2, r);
        set_output(B, d, r);
        break;
    }
    case OP_ext8u ... OP_ext32s:
        gen_ext(B, op);
        break;
    case OP_bswap32:
    case OP_bswap64: {
        int r = flag_dst(B, op, 1, ALL_REGS);
        opc_prefix(B, (0xc8 + (r & 7)) | P_0F | (op->opc == OP_bswap64 ? P_REXW : 0), 0, r, -1);
        set_output(B, d, r);
        break;
    }
    case OP_dep: {
        int rb = load_input(B, op->args[2], ALL_REGS);
        int r = flag_dst(B, op, 1, ALL_REGS);
        emit_rr(B, op->size == 8 ? (0x88 | P_BYTE_R | P_BYTE_RM) : (0x89 | P_66), rb, r);
        set_output(B, d, r);
        break;
    }
    case OP_extract8h: {
        clobber_flags(B, op->flags_live);
        int r = flag_dst(B, op, 1, ALL_REGS);
        emit_rr(B, 0xc1 | P_REXW, SH_SHR, r);
        b8(B, 8);
        emit_rr(B, 0xb6 | P_0F | P_BYTE_RM, r, r);
        set_output(B, d, r);
        break;
    }
    case OP_deposit8h: {
        clobber_flags(B, op->flags_live);
        int rb = load_input(B, op->args[2], ALL_REGS);
        int r = flag_dst(B, op, 1, ALL_REGS);
        int t = reg_alloc(B, ALL_REGS);
        emit_rr(B, 0xb6 | P_0F | P_BYTE_RM, t, rb); /* movzx t, rb8 */
        emit_rr(B, 0xc1 | P_REXW, SH_SHL, t);
        b8(B, 8);
        emit_rr(B, 0x81 | P_REXW, ALU_AND, r);
        b32(B, 0xffff00ffu);
        emit_rr(B, 0x09 | P_REXW, t, r); /* or r, t */
        B->scratch |= BIT(t);
        set_output(B, d, r);
        break;
    }
    case OP_setcond: {
        clobber_flags(B, op->flags_live);
        int ra = load_input(B, op->args[1], ALL_REGS);
        emit_alu(B, ALU_CMP, 64, ra, op->args[2], alu_b_reg(B, 64, op->args[2]));
        int r = reg_alloc(B, ALL_REGS);
        emit_rr(B, (0x90 + cond_to_cc(op->sub)) | P_0F | P_BYTE_RM, 0, r);
        emit_rr(B, 0xb6 | P_0F | P_BYTE_RM, r, r);
        set_output(B, d, r);
        break;
    }
    case OP_ld:
        gen_ld(B, op);
        break;
    case OP_vec:
        gen_vec(B, op);
        break;
    case OP_st:
        gen_st(B, op);
        break;
    case OP_ld_env: {
        int r = reg_alloc(B, ALL_REGS);
        emit_ld_env(B, r, (int32_t)op->aux);
        set_output(B, d, r);
        break;
    }
    case OP_st_env: {
        if (is_const(B, op->args[0], &v) && fits32(v) && op->size == 64) {
            emit_rm(B, 0xc7 | P_REXW, 0, RBP, -1, 0, (int32_t)op->aux);
            b32(B, (uint32_t)v);
        } else {
            int rv = load_input(B, op->args[0], ALL_REGS);
            int opc = op->size == 8 ? (0x88 | P_BYTE_R) : (0x89 | size_flags(op->size));
            emit_rm(B, opc, rv, RBP, -1, 0, (int32_t)op->aux);
        }
        break;
    }
    /* ---- flag ops ---- */
    case OP_aluf: {
        int a = op->args[1], b = op->args[2];
        int rb = alu_b_reg(B, op->size, b);
        if (op->sub == ALU_CMP || op->sub == ALU_TEST) {
            int ra = load_input(B, a, ALL_REGS);
            emit_alu(B, op->sub, op->size, ra, b, rb);
        } else {
            int r = flag_dst(B, op, 1, ALL_REGS);
            emit_alu(B, op->sub, op->size, r, b, rb);
            set_output(B, d, r);
        }
        break;
    }
    case OP_unf: {
        int r = flag_dst(B, op, 1, ALL_REGS);
        int sf = size_flags(op->size) & ~P_BYTE_R;
        if (op->sub == UN_NEG) {
            emit_rr(B, (op->size == 8 ? 0xf6 : 0xf7) | sf, 3, r);
        } else {
            emit_rr(B, (op->size == 8 ? 0xfe : 0xff) | sf, op->sub == UN_INC ? 0 : 1, r);
        }
        set_output(B, d, r);
        break;
    }
    case OP_shf: {
        uint32_t allowed = ALL_REGS;
        if (!is_const(B, op->args[2], &v)) {
            load_input(B, op->args[2], BIT(RCX));
            allowed &= ~BIT(RCX);
        }
        int r = flag_dst(B, op, 1, allowed);
        emit_shift(B, op->sub, op->size, r, op->args[2]);
        set_output(B, d, r);
        break;
    }
    case OP_shdf: {
        /* (d, a, b, count): shld/shrd r, rb, imm8/cl */
        uint32_t allowed = ALL_REGS;
        bool cnt_const = is_const(B, op->args[3], &v);
        if (!cnt_const) {
            load_input(B, op->args[3], BIT(RCX));
            allowed &= ~BIT(RCX);
        }
        int rb = load_input(B, op->args[2], allowed);
        int r = flag_dst(B, op, 1, allowed & ~BIT(rb));
        int sf = size_flags(op->size) & ~(P_BYTE_R | P_BYTE_RM);
        int opc = (op->sub ? 0xac : 0xa4) + (cnt_const ? 0 : 1);
        emit_rr(B, opc | P_0F | sf, rb, r);
        if (cnt_const) {
            b8(B, (uint8_t)v);
        }
        set_output(B, d, r);
        break;
    }
    case OP_mulf: {
        /* (lo, hi, a_rax, b, hi_in) */
        int lo = op->args[0], hi = op->args[1], a = op->args[2], b = op->args[3];
        int hi_in = op->nargs > 4 ? op->args[4] : -1;
        uint32_t not_ad = ALL_REGS & ~BIT(RAX) & ~BIT(RDX);
        int rb = load_input(B, b, not_ad);
        load_scratch(B, a, BIT(RAX), arg_dies(op, 2) || a == lo);
        if (op->size != 8) {
            if (hi_in >= 0) {
                load_scratch(B, hi_in, BIT(RDX), arg_dies(op, 4) || hi_in == hi);
            } else {
                reg_alloc(B, BIT(RDX));
            }
        }
        int sf = size_flags(op->size) & ~P_BYTE_R;
        emit_rr(B, (op->size == 8 ? 0xf6 : 0xf7) | sf, op->sub ? 5 : 4, rb);
        set_output(B, lo, RAX);
        if (op->size != 8) {
            set_output(B, hi, RDX);
        }
        break;
    }
    case OP_imul2f: {
        int b = op->args[2];
        int sf = size_flags(op->size);
        if (is_const(B, b, &v) && (op->size != 64 || fits32(v))) {
            int r = flag_dst(B, op, 1, ALL_REGS);
            int64_t imm = op->size == 16 ? (int16_t)v : op->size == 32 ? (int32_t)v : v;
            if (fits8(imm)) {
                emit_rr(B, 0x6b | sf, r, r);
                b8(B, (uint8_t)imm);
            } else {
                emit_rr(B, 0x69 | sf, r, r);
                if (op->size == 16) {
                    b8(B, (uint8_t)imm);
                    b8(B, (uint8_t)(imm >> 8));
                } else {
                    b32(B, (uint32_t)imm);
                }
            }
            set_output(B, d, r);
        } else {
            int rb = load_input(B, b, ALL_REGS);
            int r = flag_dst(B, op, 1, ALL_REGS);
            emit_rr(B, 0xaf | P_0F | sf, r, rb);
            set_output(B, d, r);
        }
        break;
    }
    case OP_btf: {
        static const int rr[] = {0xa3, 0xab, 0xb3, 0xbb};
        int b = op->args[2];
        int sf = size_flags(op->size);
        bool k = is_const(B, b, &v);
        int rb = k ? -1 : load_input(B, b, ALL_REGS);
        int r;
        if (op->sub == BT_BT) {
            r = load_input(B, op->args[1], ALL_REGS);
        } else {
            r = flag_dst(B, op, 1, ALL_REGS);
        }
        if (k) {
            emit_rr(B, 0xba | P_0F | sf, 4 + op->sub, r);
            b8(B, (uint8_t)v);
        } else {
            emit_rr(B, rr[op->sub] | P_0F | sf, rb, r);
        }
        if (op->sub != BT_BT) {
            set_output(B, d, r);
        }
        break;
    }
    case OP_bsf:
    case OP_bsr: {
        /* bsf/bsr tmp, src; cmovnz dst, tmp: a zero source leaves the whole destination as it
         * was, whatever the host does with it (the CPU model's behaviour, not the host's) */
        int rb = load_input(B, op->args[2], ALL_REGS);
        int r = flag_dst(B, op, 1, ALL_REGS);
        int tmp = reg_alloc(B, ALL_REGS & ~BIT(r) & ~BIT(rb));
        emit_rr(B, (op->opc == OP_bsf ? 0xbc : 0xbd) | P_0F | size_flags(op->size), tmp, rb);
        emit_rr(B, 0x45 | P_0F | (op->size == 16 ? size_flags(16) : P_REXW), r, tmp);
        set_output(B, d, r);
        break;
    }
    case OP_cmpxchgf: {
        /* (rax_out, rm_out, rax_in, rm_in, src) */
        int rax_out = op->args[0], rm_out = op->args[1];
        int rax_in = op->args[2], rm_in = op->args[3], src = op->args[4];
        uint32_t not_a = ALL_REGS & ~BIT(RAX);
        int rs = load_input(B, src, not_a);
        int r;
        if (rm_in == src && !arg_dies(op, 3) && rm_in != rm_out) {
            r = reg_alloc(B, not_a);
            emit_mov_rr(B, r, rs);
        } else {
            r = load_scratch(B, rm_in, not_a, arg_dies(op, 3) || rm_in == rm_out);
        }
        load_scratch(B, rax_in, BIT(RAX), arg_dies(op, 2) || rax_in == rax_out);
        int sf = size_flags(op->size);
        emit_rr(B, (op->size == 8 ? 0xb0 : 0xb1) | P_0F | sf, rs, r);
        set_output(B, rax_out, RAX); /* rm last: cmpxchg rax, src with rax == rax */
        set_output(B, rm_out, r);
        break;
    }
    case OP_setcc: {
        int r = flag_dst(B, op, 1, ALL_REGS);
        emit_rr(B, (0x90 + op->sub) | P_0F | P_BYTE_RM, 0, r);
        set_output(B, d, r);
        break;
    }
    case OP_cmovcc: {
        int rb = load_input(B, op->args[2], ALL_REGS);
        int r = flag_dst(B, op, 1, ALL_REGS);
        emit_rr(B, (0x40 + op->sub) | P_0F | size_flags(op->size), r, rb);
        set_output(B, d, r);
        break;
    }
    case OP_getflags: {
        int r = reg_alloc(B, ALL_REGS);
        if (B->flags_loc == FL_ENV) {
            emit_ld_env(B, r, ENV_OFF(cc));
        } else {
            b8(B, 0x9c); /* pushfq; pop r */
            opc_prefix(B, 0x58 + (r & 7), 0, r, -1);
        }
        set_output(B, d, r);
        break;
    }
    case OP_setflags: {
        /* kept in env->cc until something needs them in EFLAGS (many never do: a fix-up of
         * undefined flags at a block end is followed by an exit that stores them anyway) */
        int ra = load_input(B, op->args[0], ALL_REGS);
        emit_st_env(B, ra, ENV_OFF(cc));
        B->flags_loc = FL_ENV;
        op_done(B, op);
        return;
    }
    case OP_flagop: {
        static const uint8_t fo[] = {[FL_CMC] = 0xf5, [FL_CLC] = 0xf8, [FL_STC] = 0xf9};
        b8(B, fo[op->sub]);
        break;
    }
    default:
        assert(0 && "unhandled op");
    }
    if (tcg_op_writes_flags(op)) {
        B->flags_loc = FL_HOST;
        if (tcg_scramble_undef && op->flags_live) {
            scramble_undef(B, op);
        }
    }
    op_done(B, op);
}

int tcg_gen_code(TCGContext *s, TranslationBlock *tb, uint8_t *buf, size_t cap)
{
    static _Thread_local Backend be;
    Backend *B = &be;
    B->s = s;
    B->tb = tb;
    B->start = B->p = buf;
    B->end = buf + cap;
    B->locked = B->scratch = B->reserved = 0;
    B->stamp = 0;
    B->slots_used = 0;
    B->nb_relocs = 0;
    B->nb_slow = 0;
    B->flags_loc = FL_HOST;
    B->cur_rip = tb->pc;
    for (int i = 0; i < 16; i++) {
        B->reg_temp[i] = -1;
    }
    for (int i = 0; i < TCG_MAX_LABELS; i++) {
        B->label_pos[i] = NULL;
    }
    for (int i = 0; i < s->nb_temps; i++) {
        s->temps[i].reg = -1;
        s->temps[i].dirty = false;
        s->temps[i].slot = -1;
        s->temps[i].in_slot = false;
    }
    tb->jmp_off[0] = tb->jmp_off[1] = UINT32_MAX;
    tb->stub_off[0] = tb->stub_off[1] = UINT32_MAX;

    /* interrupt check: movzx ecx, byte [rbp+exit_request]; jrcxz body; jmp stub */
    emit_rm(B, 0xb6 | P_0F, RCX, RBP, -1, 0, ENV_OFF(exit_request));
    b8(B, 0xe3);
    b8(B, 5);
    b8(B, 0xe9);
    uint8_t *irq_jmp = B->p;
    b32(B, 0);
    tb->body_off = (uint32_t)(B->p - B->start);

    for (int i = 0; i < s->nb_ops; i++) {
        if (B->p + 512 > B->end) {
            return -1;
        }
        gen_op(B, &s->ops[i]);
    }
    for (int i = 0; i < B->nb_slow; i++) {
        if (B->p + 256 > B->end) {
            return -1;
        }
        gen_slow_path(B, &B->slow[i]);
    }
    /* goto_tb exit stubs: store the next RIP and return (tb | slot) */
    int nslot = 0;
    for (int i = 0; i < s->nb_ops; i++) {
        const TCGOp *op = &s->ops[i];
        if (op->opc != OP_goto_tb) {
            continue;
        }
        if (B->p + 64 > B->end) {
            return -1;
        }
        int n = op->sub;
        tb->stub_off[n] = (uint32_t)(B->p - B->start);
        emit_movi(B, RAX, op->aux);
        emit_st_env(B, RAX, ENV_OFF(rip));
        emit_movi(B, RAX, (int64_t)((uintptr_t)tb | (uintptr_t)n));
        emit_jmp_abs(B, tcg_epilogue_save);
        uint8_t *j = B->start + tb->jmp_off[n];
        int32_t rel = (int32_t)((B->start + tb->stub_off[n]) - (j + 5));
        memcpy(j + 1, &rel, 4);
        nslot++;
    }
    /* interrupt exit: RIP is this TB's start */
    if (B->p + 64 > B->end) {
        return -1;
    }
    int32_t rel = (int32_t)(B->p - (irq_jmp + 4));
    memcpy(irq_jmp, &rel, 4);
    emit_movi(B, RAX, (int64_t)tb->pc);
    emit_st_env(B, RAX, ENV_OFF(rip));
    emit_movi(B, RAX, TB_EXIT_NOCHAIN);
    emit_jmp_abs(B, tcg_epilogue_save);

    for (int i = 0; i < B->nb_relocs; i++) {
        uint8_t *target = B->label_pos[B->relocs[i].label];
        assert(target);
        int32_t r = (int32_t)(target - (B->relocs[i].at + 4));
        memcpy(B->relocs[i].at, &r, 4);
    }
    if (B->p > B->end) {
        return -1;
    }
    return (int)(B->p - B->start);
}

void tcg_patch_jump(uint8_t *jmp_insn, const uint8_t *target)
{
    int32_t rel = (int32_t)(target - (jmp_insn + 5));
    __atomic_store_n((int32_t *)(void *)(jmp_insn + 1), rel, __ATOMIC_RELEASE);
}

int tcg_gen_prologue(uint8_t *buf, size_t cap)
{
    Backend b = {.start = buf, .p = buf, .end = buf + cap};
    Backend *B = &b;
    static const int saved[] = {RBP, RBX, R12, R13, R14, R15};
    tcg_qemu_tb_exec = (uintptr_t(*)(CPUX86State *, const void *))(void *)buf;
    for (int i = 0; i < 6; i++) {
        opc_prefix(B, 0x50 + (saved[i] & 7), 0, saved[i], -1);
    }
    emit_rr(B, 0x81 | P_REXW, ALU_SUB, RSP); /* sub rsp, FRAME_SIZE */
    b32(B, FRAME_SIZE);
    emit_mov_rr(B, RBP, RDI);
    emit_restore_flags(B);
    emit_rr(B, 0xff, 4, RSI); /* jmp rsi */
    tcg_epilogue_save = B->p;
    emit_save_flags(B);
    tcg_epilogue_nosave = B->p;
    emit_rr(B, 0x81 | P_REXW, ALU_ADD, RSP);
    b32(B, FRAME_SIZE);
    for (int i = 5; i >= 0; i--) {
        opc_prefix(B, 0x58 + (saved[i] & 7), 0, saved[i], -1);
    }
    b8(B, 0xc3);
    return (int)(B->p - B->start);
}
