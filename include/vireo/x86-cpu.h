/*
 * The guest x86 CPU as the translator's generated code and helpers see it (docs/tcg.md).
 * Generated code keeps a pointer to CPUX86State in host rbp and reaches fields by offset.
 */
#ifndef VIREO_X86_CPU_H
#define VIREO_X86_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    R_EAX,
    R_ECX,
    R_EDX,
    R_EBX,
    R_ESP,
    R_EBP,
    R_ESI,
    R_EDI,
};

/* RFLAGS bits */
#define CC_C         0x0001u
#define CC_P         0x0004u
#define CC_A         0x0010u
#define CC_Z         0x0040u
#define CC_S         0x0080u
#define CC_O         0x0800u
#define CC_MASK      (CC_C | CC_P | CC_A | CC_Z | CC_S | CC_O)
#define RFLAGS_FIXED 0x0002u
#define RFLAGS_TF    0x0100u
#define RFLAGS_IF    0x0200u
#define RFLAGS_DF    0x0400u

/* Exception vectors and exec-loop exit codes (>= 256) */
#define EXCP_DE        0
#define EXCP_DB        1
#define EXCP_BP        3
#define EXCP_UD        6
#define EXCP_GP        13
#define EXCP_PF        14
#define EXCP_INTERRUPT 0x100 /* exit_request was set */
#define EXCP_HLT       0x101
#define EXCP_SYSCALL   0x102 /* flat mode: the harness sees syscall as an exit */
#define EXCP_STOP      0x103 /* flat mode: RIP reached stop_rip */
#define EXCP_BUDGET    0x104 /* flat mode: instruction budget exhausted */

/* TB key mode bits (TranslationBlock.flags) */
#define TBF_DF 0x1u

#define TB_JMP_CACHE_BITS 16 /* indexed by the low 16 bits of RIP: one movzx */
#define TB_JMP_CACHE_SIZE (1u << TB_JMP_CACHE_BITS)

struct TranslationBlock;

typedef struct CPUX86State {
    uint64_t regs[16];
    uint64_t rip;
    uint64_t cc;     /* arithmetic flags (CC_MASK bits) when outside generated code */
    uint64_t eflags; /* all other RFLAGS bits, DF included */
    uint64_t fs_base, gs_base;
    /* flat mode: host address = guest address + mem_base */
    uint64_t mem_base;

    /* exec state */
    volatile uint8_t exit_request;
    int exception_index;
    uint32_t error_code;
    uint64_t stop_rip;  /* flat mode: stop when a TB would start here (0: never) */
    uint64_t tb_budget; /* flat mode: max TBs to run per cpu_exec (0: unlimited) */
    sigjmp_buf jmp_env;
    struct TranslationBlock *jmp_cache[TB_JMP_CACHE_SIZE];
} CPUX86State;

/* Full guest RFLAGS from the split representation, and back. */
static inline uint64_t x86_get_rflags(const CPUX86State *env)
{
    return (env->cc & CC_MASK) | (env->eflags & ~(uint64_t)CC_MASK) | RFLAGS_FIXED;
}

static inline void x86_set_rflags(CPUX86State *env, uint64_t v)
{
    env->cc = (v & CC_MASK) | RFLAGS_FIXED;
    env->eflags = (v & ~(uint64_t)CC_MASK) | RFLAGS_FIXED;
}

/* Raise a guest exception from a helper: leaves generated code through env->jmp_env. */
_Noreturn void x86_raise_exception(CPUX86State *env, int vector, uint32_t error_code);

#endif
