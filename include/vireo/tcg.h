/*
 * The translator's IR, translation blocks and exec API (docs/tcg.md).
 * A TB's IR is a linear array of ops on 64-bit temps. Flag ops are x86-specific on purpose:
 * guest and host are both x86-64, so the host EFLAGS carries the guest's arithmetic flags.
 */
#ifndef VIREO_TCG_H
#define VIREO_TCG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vireo/x86-cpu.h"

#define TCG_MAX_TEMPS  2048
#define TCG_MAX_OPS    4096
#define TCG_MAX_LABELS 128
#define TCG_MAX_ARGS   6
#define TCG_MAX_INSNS  64 /* guest instructions per TB */

typedef int TCGv; /* temp index */

enum { TEMP_GLOBAL, TEMP_LOCAL, TEMP_CONST };

typedef struct TCGTemp {
    uint8_t kind;
    int64_t val;     /* TEMP_CONST */
    int32_t env_off; /* TEMP_GLOBAL: offset in CPUX86State */
    /* backend state */
    int8_t reg;     /* host register holding the value, or -1 */
    bool dirty;     /* global: register copy newer than env */
    int16_t slot;   /* local: spill slot, or -1 */
    bool in_slot;   /* local: the spill slot holds the value */
    uint32_t stamp; /* last use, for spill choice */
} TCGTemp;

typedef enum TCGOpcode {
    /* markers and control */
    OP_insn_start,  /* aux = guest RIP */
    OP_label,       /* aux = label */
    OP_br,          /* aux = label */
    OP_brcond,      /* (a, b) sub = cond (EQ/NE against constant 0 only), aux = label */
    OP_goto_tb,     /* sub = slot 0/1, aux = next guest RIP */
    OP_exit_tb,     /* aux = exit code (TB_EXIT_*) */
    OP_lookup_goto, /* (pc): indirect branch through the jump cache */
    OP_call,        /* outputs then inputs; aux = fn, sub = CALL_* flags, aux2 = nb outputs */
    /* value ops (64-bit) */
    OP_mov,
    OP_add,
    OP_sub,
    OP_and,
    OP_or,
    OP_xor,
    OP_shl,
    OP_shr,
    OP_sar,
    OP_rotl,
    OP_rotr,
    OP_mul,
    OP_neg,
    OP_not,
    OP_ext8u,
    OP_ext8s,
    OP_ext16u,
    OP_ext16s,
    OP_ext32u,
    OP_ext32s,
    OP_bswap32,
    OP_bswap64,
    OP_dep,       /* (d, a, b) size 8/16: d = a with the low bits from b */
    OP_extract8h, /* (d, a): bits 8..15 */
    OP_deposit8h, /* (d, a, b): a with bits 8..15 from b */
    OP_setcond,   /* (d, a, b) sub = cond */
    OP_ld,        /* (d, addr) size, sub = sign; aux = offset; guest memory */
    OP_st,        /* (val, addr) size; aux = offset */
    OP_ld_env,    /* (d) aux = CPUX86State offset, 64-bit */
    OP_st_env,    /* (val) aux = CPUX86State offset, size */
    OP_vec,       /* (d, addr): one host SSE instruction on env->xmm, aux = VEC_* (see below) */
    /* flag ops: host instruction of the op's size; x86 merge rule for 8/16/32 */
    OP_aluf,     /* (d, a, b) sub = ALU_*; CMP/TEST have no d (d = -1) */
    OP_unf,      /* (d, a) sub = UN_* */
    OP_shf,      /* (d, a, count) sub = SH_* */
    OP_shdf,     /* (d, a, b, count) sub 0 = shld, 1 = shrd; size 16/32/64 */
    OP_mulf,     /* (lo, hi, a_rax, b, hi_in) sub = 0 mul / 1 imul; size 8: hi -1; hi_in: 16 only */
    OP_imul2f,   /* (d, a, b) */
    OP_btf,      /* (d, a, bit) sub = BT_*; BT: d = -1 */
    OP_bsf,      /* (d, a_old, b) */
    OP_bsr,      /* (d, a_old, b) */
    OP_cmpxchgf, /* (rax_out, rm_out, rax_in, rm_in, src) */
    OP_setcc,    /* (d, a) sub = cc: d = a with low byte = cond */
    OP_cmovcc,   /* (d, a, b) sub = cc */
    OP_brcc,     /* sub = cc, aux = label */
    OP_getflags, /* (d) arithmetic flags as a value */
    OP_setflags, /* (a) arithmetic flags from a value */
    OP_flagop,   /* sub = FL_CMC/CLC/STC */
    OP_nop,      /* removed by the optimizer */
    OP_NB
} TCGOpcode;

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST };
enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };
enum { UN_INC, UN_DEC, UN_NEG };
enum { BT_BT, BT_BTS, BT_BTR, BT_BTC };
enum { FL_CMC, FL_CLC, FL_STC };
/* value conditions */
enum {
    COND_EQ,
    COND_NE,
    COND_LT,
    COND_GE,
    COND_LE,
    COND_GT,
    COND_LTU,
    COND_GEU,
    COND_LEU,
    COND_GTU
};
/*
 * OP_vec's aux: the guest's SSE instruction, run as the same host instruction on xmm0 (the
 * destination, loaded from env->xmm[reg]) and xmm1 (the source: env->xmm[rm] or 16 bytes of
 * guest memory at addr, through the TLB). d is the general-register result of VEC_MASK, else -1;
 * addr is -1 without a memory operand. Never touches the guest flags (the TLB probe may clobber
 * the host's, like a load).
 */
#define VEC_OP8(a)  ((unsigned)((a)&0xff))
#define VEC_PFX(a)  ((unsigned)(((a) >> 8) & 3)) /* 0 none, 1 66, 2 F3, 3 F2 */
#define VEC_IMM(a)  ((unsigned)(((a) >> 10) & 0xff))
#define VEC_HAS_IMM (1ull << 18)
#define VEC_REG(a)  ((int)(((a) >> 20) & 15))
#define VEC_RM(a)   ((int)(((a) >> 24) & 15))
#define VEC_KIND(a) ((int)(((a) >> 28) & 7))
#define VEC_MEM     (1ull << 31)
#define VEC_ALIGNED (1ull << 32) /* the memory operand must be 16-byte aligned (#GP) */
enum {
    VK_OP,     /* xmm[reg] = xmm[reg] OP src */
    VK_MOV,    /* xmm[reg] = m128 */
    VK_ST,     /* m128 = xmm[reg] */
    VK_MASK,   /* d = mask of xmm[rm] (pmovmskb, movmskps/pd) */
    VK_SHIFTI, /* xmm[rm] shifted by imm8, the operation in the ModRM reg field (reg) */
};
/* call flags */
#define CALL_MAY_FAULT  0x01 /* may raise a guest exception: env must be precise */
#define CALL_RW_GLOBALS 0x02 /* reads/writes guest registers in env */
#define CALL_RW_FLAGS   0x04 /* reads/writes env->cc */
#define CALL_NO_RETURN  0x08
/* its only effect is on env->cc (with CALL_RW_FLAGS): dropped when nothing reads the flags it
 * writes and its outputs are unused */
#define CALL_FLAGS_ONLY 0x10

/* exit_tb codes (the low 2 bits of the value generated code returns) */
#define TB_EXIT_SLOT0     0
#define TB_EXIT_SLOT1     1
#define TB_EXIT_NOCHAIN   2
#define TB_EXIT_EXCEPTION 3 /* env->exception_index says why */

typedef struct TCGOp {
    uint16_t opc;
    uint8_t size; /* 8/16/32/64 for sized ops */
    uint8_t sub;  /* ALU_*, SH_*, cond, cc, call flags ... */
    uint8_t nargs;
    uint8_t dead;    /* bit i: args[i] dies here (input) or is never read (output) */
    bool flags_live; /* guest flags live after this op */
    int16_t args[TCG_MAX_ARGS];
    int64_t aux, aux2;
} TCGOp;

typedef struct TCGContext {
    TCGTemp temps[TCG_MAX_TEMPS];
    int nb_temps, nb_globals;
    TCGOp ops[TCG_MAX_OPS];
    int nb_ops;
    int nb_labels;
    /* frontend view */
    TCGv regs[16];
    uint64_t mem_base; /* flat mode: folded into memory operands */
    bool softmmu;      /* system mode: memory ops go through the TLB and may fault */
    /* stats */
    uint64_t ops_before_opt, ops_after_opt;
} TCGContext;

/* ---- IR building (accel/tcg/tcg-ir.c) ---- */
void tcg_ctx_init(TCGContext *s);   /* creates the globals once */
void tcg_func_start(TCGContext *s); /* new TB: drops locals, ops and labels */
TCGv tcg_temp_new(TCGContext *s);
TCGv tcg_const(TCGContext *s, int64_t v);
int tcg_new_label(TCGContext *s);
TCGOp *tcg_emit(TCGContext *s, TCGOpcode opc, int size, int sub, int nargs, ...);
bool tcg_op_reads_flags(const TCGContext *s, const TCGOp *op);
bool tcg_op_full_writes_flags(const TCGContext *s, const TCGOp *op);
bool tcg_op_writes_flags(const TCGOp *op);
int tcg_op_nb_oargs(const TCGOp *op);
bool tcg_op_ends_bb(const TCGOp *op);
bool tcg_op_side_effects(const TCGOp *op);
void tcg_liveness(TCGContext *s);
void tcg_dump(TCGContext *s, void *file);
void tcg_optimize(TCGContext *s);

/* ---- backend (accel/tcg/tcg-target-x86_64.c) ---- */
typedef struct TranslationBlock TranslationBlock;
/* Emit host code for the IR into buf (at most cap bytes). Returns bytes written or -1 if full. */
/*
 * VIREO_TCG_SCRAMBLE=1 (a test aid): after each host instruction that leaves flags the manuals
 * call undefined, the generated code flips those flags, as a host of another vendor might leave
 * them different; the guest must not see any difference (test-tcg-diff passes the same). The
 * x87 helper likewise flips the undefined condition codes and the last significand bit of any
 * D9 F0-FF instruction the host executes (tests/tcg/modes.sh runs x87.S with it).
 */
extern bool tcg_scramble_undef;
int tcg_gen_code(TCGContext *s, TranslationBlock *tb, uint8_t *buf, size_t cap);
/* The prologue/epilogue pair, once per code buffer. Returns bytes written. */
int tcg_gen_prologue(uint8_t *buf, size_t cap);
extern uintptr_t (*tcg_qemu_tb_exec)(CPUX86State *env, const void *code);
extern const uint8_t *tcg_epilogue_save, *tcg_epilogue_nosave;
/* Patch goto_tb jump `jmp_off` in TB code to land at `target`. */
void tcg_patch_jump(uint8_t *jmp_insn, const uint8_t *target);

/* ---- translation blocks (accel/tcg/tcg-exec.c) ---- */
struct TranslationBlock {
    uint64_t pc;      /* RIP/EIP (an offset in CS outside 64-bit mode) */
    uint64_t cs_base; /* outside 64-bit mode: CS base (0 in 64-bit mode) */
    uint32_t flags;
    uint32_t icount;  /* guest instructions */
    uint64_t neg_key; /* -(pc + flags << 52): the flag-free jump-cache compare */
    uint8_t *code;
    uint32_t code_size;
    uint32_t jmp_off[2]; /* offset of each goto_tb's jmp rel32 in code, or UINT32_MAX */
    uint32_t stub_off[2];
    uint32_t body_off; /* code + body_off: past the exit_request check */
    TranslationBlock *jmp_dest[2];
    TranslationBlock *hash_next;
    /* system mode: guest physical pages the code came from (page2 ~0 if one page) */
    uint64_t phys_page, phys_page2;
    TranslationBlock *page_next[2];
    bool invalid;
};

typedef struct TCGStats {
    uint64_t tbs, tb_flushes, chains, host_bytes, guest_insns, lookups_slow, loop_entries,
        jmp_cache_clears;
} TCGStats;

/* Translate one TB at env->rip (target/x86/translate.c). Returns guest instruction count. */
int x86_translate(TCGContext *s, CPUX86State *env, uint64_t pc, uint32_t flags);

void tcg_exec_init(size_t code_size);
void tcg_exec_flush(void); /* drop every TB (code changed, buffer full) */
/* Run translated code until an exit (EXCP_*); returns the exit code. */
int tcg_cpu_exec(CPUX86State *env);
void tcg_cpu_reset(CPUX86State *env);
/* Machine teardown: forget every vCPU and every TB. */
void tcg_exec_forget_cpus(void);
extern TCGStats tcg_stats;

/* ---- system mode glue (tcg-exec.c) ---- */
/* Does guest physical page pa hold translated code? */
bool tb_page_has_code(uint64_t pa_page);
/* Drop every TB made from guest physical page pa_page (a guest write hit it). */
void tb_invalidate_phys_page(uint64_t pa_page);
/* Flush the whole code buffer at the vCPUs' next loop top (a code mapping changed). */
void tcg_request_flush(void);
/* A TLB flush: forget jump-cache slots (those of global pages survive unless include_global). */
void tcg_jmp_cache_clear(CPUX86State *env, bool include_global);
void tcg_jmp_cache_clear_page(CPUX86State *env, uint64_t va);
/* Maskable interrupt / NMI check at a block boundary (tcg-all.c): a vector to deliver or -1. */
int tcg_irq_poll(CPUX86State *env);
/* Set by the translator when a TB's code crosses into a second page. */
void x86_tlb_protect_code(CPUX86State *env, uint64_t pa_page);
extern bool tcg_chaining; /* default true; tests turn it off to compare */

#endif
