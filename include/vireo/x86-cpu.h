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
#define RFLAGS_IOPL  0x3000u
#define RFLAGS_NT    0x4000u
#define RFLAGS_RF    0x10000u
#define RFLAGS_VM    0x20000u
#define RFLAGS_AC    0x40000u
#define RFLAGS_ID    0x200000u

/* control registers and EFER */
#define CR0_PE       (1u << 0)
#define CR0_MP       (1u << 1)
#define CR0_EM       (1u << 2)
#define CR0_TS       (1u << 3)
#define CR0_ET       (1u << 4)
#define CR0_NE       (1u << 5)
#define CR0_WP       (1u << 16)
#define CR0_AM       (1u << 18)
#define CR0_NW       (1u << 29)
#define CR0_CD       (1u << 30)
#define CR0_PG       (1u << 31)
#define CR4_DE       (1u << 3)
#define CR4_PSE      (1u << 4)
#define CR4_PAE      (1u << 5)
#define CR4_PGE      (1u << 7)
#define CR4_FSGSBASE (1u << 16)
#define CR4_OSXSAVE  (1u << 18)
#define EFER_SCE     (1u << 0)
#define EFER_LME     (1u << 8)
#define EFER_LMA     (1u << 10)
#define EFER_NXE     (1u << 11)

/* segment registers (encoding order) and descriptor attribute bits (flags = desc[63:32]) */
enum { R_ES, R_CS, R_SS, R_DS, R_FS, R_GS };
#define DESC_TYPE_SHIFT 8
#define DESC_S          (1u << 12)
#define DESC_DPL_SHIFT  13
#define DESC_P          (1u << 15)
#define DESC_L          (1u << 21)
#define DESC_B          (1u << 22)
#define DESC_G          (1u << 23)

/* Exception vectors and exec-loop exit codes (>= 256) */
#define EXCP_DE        0
#define EXCP_DB        1
#define EXCP_NMI       2
#define EXCP_BP        3
#define EXCP_OF        4
#define EXCP_BR        5
#define EXCP_UD        6
#define EXCP_NM        7
#define EXCP_DF        8
#define EXCP_TS        10
#define EXCP_NP        11
#define EXCP_SS        12
#define EXCP_GP        13
#define EXCP_PF        14
#define EXCP_MF        16
#define EXCP_AC        17
#define EXCP_XM        19
#define EXCP_INTERRUPT 0x100 /* exit_request was set */
#define EXCP_HLT       0x101
#define EXCP_SYSCALL   0x102 /* flat mode: the harness sees syscall as an exit */
#define EXCP_STOP      0x103 /* flat mode: RIP reached stop_rip */
#define EXCP_BUDGET    0x104 /* flat mode: instruction budget exhausted */
#define EXCP_TRIPLE    0x105 /* system mode: triple fault */
#define EXCP_SHUTDOWN  0x106 /* system mode: the vCPU must stop (stop_vcpus, INIT) */
#define EXCP_INT_SW    0x200 /* INT n from an instruction: 0x200 | n (no error code, DPL check) */

/* #PF error code bits */
#define PF_P    0x01u
#define PF_W    0x02u
#define PF_U    0x04u
#define PF_RSVD 0x08u
#define PF_I    0x10u

/* TB key mode bits (TranslationBlock.flags) */
#define CPU_INTERRUPT_HARD 0x1u
#define CPU_INTERRUPT_NMI  0x2u

#define TBF_DF   0x1u
#define TBF_CPL3 0x2u /* system mode: CPL 3 (the user softmmu index) */
/* CPU mode (system mode; flat mode is always CODE64). Outside 64-bit mode a TB is also keyed by
 * its CS base (TranslationBlock.cs_base). Keep every flag below 0x800 (see dummy_tb). */
#define TBF_CODE64 0x4u  /* EFER.LMA and CS.L: 64-bit mode */
#define TBF_CODE32 0x8u  /* CS.D: 32-bit default operand and address size */
#define TBF_SS32   0x10u /* SS.B: ESP (else SP) addresses the stack */
#define TBF_PE     0x20u /* CR0.PE: protected mode (else real mode) */
#define TBF_ADDSEG 0x40u /* DS/ES/SS bases are not all zero (always in real mode) */
#define TBF_VM     0x80u /* EFLAGS.VM: virtual-8086 mode (with PE and CPL3) */
/* Outside 64-bit mode: accesses through these segments need limit/type checks (some of them is
 * not a flat, writable 4 GiB data segment: x86_seg_flat). CS overrides are always checked. */
#define TBF_SEGCHK_DSS 0x100u /* DS, ES or SS */
#define TBF_SEGCHK_FS  0x200u /* FS */
#define TBF_SEGCHK_GS  0x400u /* GS */

/* softmmu TLB: per vCPU, per MMU index (0 kernel, 1 user), direct mapped by virtual page */
#define TLB_BITS        10
#define TLB_SIZE        (1u << TLB_BITS)
#define TLB_ENTRY_SHIFT 5      /* sizeof(CPUTLBEntry) == 32 */
#define TLB_SLOW        0x800u /* in a tag: always take the slow path (MMIO, page holding code) */
#define TLB_INVALID     (~(uint64_t)0)

typedef struct CPUTLBEntry {
    uint64_t addr_read, addr_write, addr_code; /* page tag, or with TLB_SLOW; TLB_INVALID */
    uintptr_t addend;                          /* host address = guest virtual + addend */
} CPUTLBEntry;

typedef struct SegmentCache {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t flags; /* descriptor bits 32..63 (type, S, DPL, P, L, D/B, G) */
} SegmentCache;

#define TB_JMP_CACHE_BITS 16 /* indexed by the low 16 bits of RIP: one movzx */
#define TB_JMP_CACHE_SIZE (1u << TB_JMP_CACHE_BITS)
#define TB_JMP_CACHE_LOG  2048u

struct TranslationBlock;

/*
 * A jump-cache slot: the TB's negated key (-(pc + flags << 52)) and its code, side by side so
 * the inline probe of generated code reads one cache line and never touches the TB itself. The
 * TB is found from its code (tcg-exec.c keeps a pointer to it just before the code).
 */
typedef struct TBJmpCacheEntry {
    uint64_t neg_key;
    const uint8_t *code;
} TBJmpCacheEntry;

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

    /* ---- system mode (softmmu); all zero in flat mode ---- */
    bool softmmu;
    uint8_t cpl;
    bool int_shadow; /* STI / MOV SS: no interrupt before the next instruction ends */
    bool halted;
    volatile uint32_t interrupt_request; /* CPU_INTERRUPT_* (set by x86_cpu_kick/nmi) */
    volatile bool stop_request;          /* leave tcg_cpu_exec with EXCP_SHUTDOWN */
    bool in_exec; /* inside the system-mode exec loop (may run generated code): tcg-exec.c */
    unsigned cpu_index;
    uint32_t apic_id;
    SegmentCache segs[6]; /* FS/GS bases live in fs_base/gs_base */
    SegmentCache ldt, tr;
    uint64_t gdt_base, idt_base;
    uint32_t gdt_limit, idt_limit;
    uint64_t cr[9]; /* cr[0], cr[2], cr[3], cr[4], cr[8] */
    uint64_t efer, star, lstar, cstar, fmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t pat, misc_enable, apic_base, tsc_offset, tsc_aux, mtrr_deftype;
    uint64_t dr[8];
    int old_exception;        /* delivery in progress: -1, or the vector (for #DF / triple) */
    uint32_t cpuid_max_model; /* without cpu_def: 0 qemu64, 1 max (unit tests) */
    const struct X86CPUDef *cpu_def; /* the -cpu model after filtering (CPUID, what decodes) */
    uint32_t cpuid_threads, cpuid_cores, cpuid_cpus; /* -smp topology */
    /* x87/MMX/SSE state (target/x86/fpu_helper.c) */
    uint16_t fpuc, fpus;    /* control and status word; TOP lives in fpus bits 11-13 */
    uint8_t fptag_abridged; /* bit i: physical register Ri is not empty */
    uint16_t fpop;          /* last non-control instruction: opcode bits, CS, RIP, operand */
    uint16_t fpcs, fpds;
    uint64_t fpip, fpdp;
    uint32_t mxcsr;
    uint8_t fpregs[8][16]; /* physical R0..R7 (80-bit values; MMi is the low 64 bits of Ri) */
    uint64_t xmm[16][2];
    struct TranslationBlock *cur_tb;
    CPUTLBEntry tlb[2][TLB_SIZE];
    uint64_t tlb_phys[2][TLB_SIZE]; /* guest physical page of each entry (for SMC) */
    uint8_t tlb_global[2][TLB_SIZE];
    TBJmpCacheEntry jmp_cache[TB_JMP_CACHE_SIZE];
    /* slots filled since the last clear, so a TLB flush clears only those (n > size: all) */
    uint16_t jmp_cache_log[TB_JMP_CACHE_LOG];
    uint32_t jmp_cache_log_n;
    /* system mode: the memory map generation the TLB was filled under, and this vCPU's
     * quiescent-state record (memory.h); the exec loop top flushes the TLB on a change */
    uint64_t mem_gen;
    struct MemoryReader *mem_reader;
} CPUX86State;

/* True when no data access through this segment can fail its limit or type check: an expand-up
 * data segment with a 4 GiB limit, present and writable in protected mode. */
static inline bool x86_seg_flat(const SegmentCache *sc, bool protected_mode)
{
    uint32_t type = (sc->flags >> DESC_TYPE_SHIFT) & 0xf;
    if (sc->limit != 0xffffffffu || (type & 0xc) == 4) { /* expand-down data */
        return false;
    }
    return !protected_mode || ((sc->flags & DESC_P) && (type & 0xa) == 2);
}

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
/* Outside 64-bit mode: the limit and type checks of a data access of `bytes` bytes at offset off
 * in segment seg; raises #GP(0), or #SS(0) for SS (helper.c). */
void x86_seg_check(CPUX86State *env, int seg, uint32_t off, uint32_t bytes, bool write);

/* ---- system mode: softmmu (target/x86/mmu.c) ---- */
#define MMU_KERNEL 0
#define MMU_USER   1
enum { ACC_READ, ACC_WRITE, ACC_EXEC };
typedef struct X86Translation {
    uint64_t pa; /* physical address of the byte */
    bool writable, executable, user, global, dirty;
} X86Translation;
/*
 * Walk the guest page tables for va (a pure function of guest memory apart from setting the
 * accessed/dirty bits). Returns 0, or a #PF error code with bit 31 set on a fault.
 */
uint32_t x86_walk(CPUX86State *env, uint64_t va, int access, int mmu_idx, X86Translation *out);
void x86_tlb_flush(CPUX86State *env, bool include_global);
void x86_tlb_flush_page(CPUX86State *env, uint64_t va);
/* Memory accesses from C helpers through the TLB; may raise #PF (env->rip must be precise). */
uint64_t x86_ld(CPUX86State *env, uint64_t va, int bytes, int mmu_idx);
void x86_st(CPUX86State *env, uint64_t va, uint64_t val, int bytes, int mmu_idx);
static inline int x86_mmu_idx(const CPUX86State *env)
{
    return env->cpl == 3 ? MMU_USER : MMU_KERNEL;
}
/* Host address for an atomic read-modify-write of guest memory (write access checked, may raise
 * #PF); NULL for MMIO or an access crossing pages (the caller then emulates it non-atomically). */
void *x86_host_rw(CPUX86State *env, uint64_t va, int bytes, int mmu_idx);
/* Host address of va's byte for reading (may raise #PF); NULL for MMIO. */
const void *x86_host_r(CPUX86State *env, uint64_t va, int mmu_idx);
/* Check that a store of bytes at va would succeed (may raise #PF), without storing. */
void x86_probe_write(CPUX86State *env, uint64_t va, int bytes, int mmu_idx);
/* The PC's IGNNE# line (port 0xF0 asserts it): FERR# does not raise IRQ 13 while it is set. */
void x86_fpu_set_ignne(bool on);
/* Host pointer of the page holding code at va (and its physical page); may raise #PF. */
const uint8_t *x86_code_page(CPUX86State *env, uint64_t va, uint64_t *phys_page);
/* Slow paths of the inline TLB: info = bytes | sign << 4 | mmu_idx << 8 */
uint64_t helper_ld_slow(CPUX86State *env, uint64_t va, uint64_t info);
void helper_st_slow(CPUX86State *env, uint64_t va, uint64_t val, uint64_t info);
/* Slow paths of the inline 16-byte SSE accesses: info = aligned | xmm register << 4 (stores);
 * #GP if aligned is set and va is not, #PF; a load returns the bytes in rax:rdx. */
typedef struct X86Vec128 {
    uint64_t lo, hi;
} X86Vec128;
X86Vec128 helper_vld_slow(CPUX86State *env, uint64_t va, uint64_t info);
void helper_vst_slow(CPUX86State *env, uint64_t va, uint64_t info);

/* ---- system mode: interrupts and system state (target/x86/seg_helper.c) ---- */
/* Deliver env->exception_index (an exception, INT n, or an external vector) through the IDT. */
void x86_do_interrupt(CPUX86State *env, int vector, bool is_sw, bool is_hw, uint32_t error_code,
                      bool has_error, uint64_t next_rip);
/* Put a CPU into the state the 64-bit Linux entry expects (flat segments, paging on). */
void x86_cpu_set_long_mode(CPUX86State *env, uint64_t cr0, uint64_t cr3, uint64_t cr4,
                           uint64_t efer, uint16_t cs, uint16_t ds);
/* Flat 32-bit protected mode, paging off (the Multiboot entry state). */
void x86_cpu_set_protected32(CPUX86State *env, uint64_t cr0, uint16_t cs, uint16_t ds);
/* Power-on reset of the architectural state (real mode at F000:FFF0). */
void x86_cpu_reset_state(CPUX86State *env);
/* "info registers" text (malloc'd). */
char *x86_cpu_format_registers(CPUX86State *env);
uint64_t x86_host_tsc(void);

#endif
