/*
 * Directed tests of the translator's system mode without generated code: the page walker and
 * TLB (target/x86/mmu.c) over crafted page tables in a flat guest RAM, and IDT delivery and
 * IRETQ (target/x86/seg_helper.c) with a crafted GDT, TSS and IDT.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/memory.h"
#include "vireo/tcg.h"
#include "vireo/x86-cpu.h"
#include "../../target/x86/x86-helper.h"
#include "../lib/unit.h"

#define RAM_SIZE (16u << 20)
static uint8_t *ram;
static CPUX86State *env;

/* page tables: PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000 */
#define P    1ull
#define RW   2ull
#define US   4ull
#define PA_A (1ull << 5)
#define PA_D (1ull << 6)
#define PS   (1ull << 7)
#define G    (1ull << 8)
#define NX   (1ull << 63)

static uint64_t *q(uint64_t pa)
{
    return (uint64_t *)(ram + pa);
}

static void reset_cpu(void)
{
    memset(ram, 0, RAM_SIZE);
    env->softmmu = true;
    env->cpl = 0;
    env->cr[0] = CR0_PE | CR0_PG;
    env->cr[4] = CR4_PAE;
    env->efer = EFER_LME | EFER_LMA | EFER_NXE;
    env->cr[3] = 0x1000;
    x86_tlb_flush(env, true);
    *q(0x1000) = 0x2000 | P | RW | US;
    *q(0x2000) = 0x3000 | P | RW | US;
    *q(0x3000) = 0x4000 | P | RW | US;
}

/* x86_ld / x86_st with the fault caught: returns -1 or the vector */
static int try_ld(uint64_t va, int mmu, uint64_t *v)
{
    env->exception_index = -1;
    if (sigsetjmp(env->jmp_env, 0)) {
        return env->exception_index;
    }
    *v = x86_ld(env, va, 8, mmu);
    return -1;
}

static int try_st(uint64_t va, int mmu, uint64_t v)
{
    env->exception_index = -1;
    if (sigsetjmp(env->jmp_env, 0)) {
        return env->exception_index;
    }
    x86_st(env, va, v, 8, mmu);
    return -1;
}

static void test_walk(void)
{
    X86Translation t;
    reset_cpu();
    /* 4 KiB page: va 0x5000 -> pa 0x123000 */
    *q(0x4000 + 5 * 8) = 0x123000 | P | RW;
    uint32_t e = x86_walk(env, 0x5abc, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/4k-read", e == 0 && t.pa == 0x123abc);
    CHECK("walk/accessed-bits", (*q(0x1000) & PA_A) && (*q(0x2000) & PA_A) && (*q(0x3000) & PA_A) &&
                                    (*q(0x4000 + 40) & PA_A) && !(*q(0x4000 + 40) & PA_D));
    e = x86_walk(env, 0x5abc, ACC_WRITE, MMU_KERNEL, &t);
    CHECK("walk/dirty-on-write", e == 0 && (*q(0x4000 + 40) & PA_D) && t.dirty);
    /* 2 MiB page: PD[1] maps va 0x200000 -> pa 0x600000 */
    *q(0x3000 + 8) = 0x600000 | P | RW | PS;
    e = x86_walk(env, 0x212345, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/2m", e == 0 && t.pa == 0x612345);
    /* 1 GiB page: PDPT[1] maps va 0x40000000 -> pa 0x80000000 */
    *q(0x2000 + 8) = 0x80000000ull | P | RW | PS;
    e = x86_walk(env, 0x40000000 + 0x1234567, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/1g", e == 0 && t.pa == 0x81234567ull);
    /* reserved bits in a 2 MiB entry (bit 13) */
    *q(0x3000 + 16) = 0x800000 | (1ull << 13) | P | RW | PS;
    e = x86_walk(env, 0x400000, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/2m-reserved", e == (0x80000000u | PF_P | PF_RSVD));
    /* not present, read and write */
    e = x86_walk(env, 0x6000, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/not-present-read", e == 0x80000000u);
    e = x86_walk(env, 0x6000, ACC_WRITE, MMU_USER, &t);
    CHECK("walk/not-present-user-write", e == (0x80000000u | PF_W | PF_U));
    /* user access to a supervisor page */
    e = x86_walk(env, 0x5000, ACC_READ, MMU_USER, &t);
    CHECK("walk/user-on-supervisor", e == (0x80000000u | PF_P | PF_U));
    /* read-only page: supervisor writes pass with CR0.WP=0, fault with WP=1; user always */
    *q(0x4000 + 7 * 8) = 0x124000 | P | US;
    e = x86_walk(env, 0x7000, ACC_WRITE, MMU_KERNEL, &t);
    CHECK("walk/ro-wp0", e == 0);
    env->cr[0] |= CR0_WP;
    e = x86_walk(env, 0x7000, ACC_WRITE, MMU_KERNEL, &t);
    CHECK("walk/ro-wp1", e == (0x80000000u | PF_P | PF_W));
    e = x86_walk(env, 0x7000, ACC_WRITE, MMU_USER, &t);
    CHECK("walk/ro-user", e == (0x80000000u | PF_P | PF_W | PF_U));
    /* NX: instruction fetch faults with I set; NX without EFER.NXE is a reserved bit */
    *q(0x4000 + 8 * 8) = 0x125000 | P | RW | NX;
    e = x86_walk(env, 0x8000, ACC_EXEC, MMU_KERNEL, &t);
    CHECK("walk/nx-fetch", e == (0x80000000u | PF_P | PF_I));
    e = x86_walk(env, 0x8000, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/nx-read", e == 0 && !t.executable);
    env->efer &= ~(uint64_t)EFER_NXE;
    e = x86_walk(env, 0x8000, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk/nx-without-nxe-reserved", e == (0x80000000u | PF_P | PF_RSVD));
}

/* Paging outside long mode: 2-level (4 KiB, 4 MiB with PSE and PSE-36) and 3-level PAE. */
static void test_walk_legacy(void)
{
    X86Translation t;
    uint32_t e;
    reset_cpu();
    env->efer = 0;
    env->cr[4] = CR4_PSE;
    env->cr[3] = 0x1000; /* PD at 0x1000 (4-byte entries), PT at 0x2000 */
    uint32_t *pd = (uint32_t *)(ram + 0x1000), *pt = (uint32_t *)(ram + 0x2000);
    memset(pd, 0, 0x2000);
    pd[0] = 0x2000 | P | RW | US;
    pt[5] = 0x123000 | P | RW;
    e = x86_walk(env, 0x5abc, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk32/4k",
          e == 0 && t.pa == 0x123abc && (pd[0] & PA_A) && (pt[5] & PA_A) && !(pt[5] & PA_D));
    e = x86_walk(env, 0x5abc, ACC_WRITE, MMU_KERNEL, &t);
    CHECK("walk32/dirty", e == 0 && (pt[5] & PA_D));
    e = x86_walk(env, 0x5abc, ACC_READ, MMU_USER, &t);
    CHECK("walk32/user-on-supervisor", e == (0x80000000u | PF_P | PF_U));
    /* 4 MiB page at va 0x800000 -> pa 0x3_00c00000 (PSE-36: bits 13..20 are pa 32..39) */
    pd[2] = 0x00c00000u | (3u << 13) | P | RW | PS;
    e = x86_walk(env, 0x812345, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk32/4m-pse36", e == 0 && t.pa == 0x300c12345ull);
    pd[3] = 0x00c00000u | (1u << 21) | P | PS; /* bit 21 is reserved in a 4 MiB entry */
    e = x86_walk(env, 0xc00000, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk32/4m-reserved", e == (0x80000000u | PF_P | PF_RSVD));
    env->cr[4] = 0; /* without CR4.PSE the PS bit is ignored: pd[2] points at a page table */
    *(uint32_t *)(ram + 0xc00000 + 0x12 * 4) = 0x456000 | P;
    pd[2] = 0x00c00000u | P | RW | PS;
    e = x86_walk(env, 0x812345, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk32/ps-without-pse", e == 0 && t.pa == 0x456345);
    /* PAE: PDPT at 0x3020 (32-byte aligned), PD at 0x4000, PT at 0x5000 */
    env->cr[4] = CR4_PAE;
    env->cr[3] = 0x3020;
    memset(ram + 0x3000, 0, 0x3000);
    *q(0x3020 + 8) = 0x4000 | P; /* va 0x40000000.. */
    *q(0x4000) = 0x5000 | P | RW;
    *q(0x5000 + 8) = 0x777000 | P | RW;
    *q(0x5000 + 16) = 0x778000 | P | RW | NX;
    *q(0x4000 + 8) = 0x1200000 | P | RW | PS; /* 2 MiB at va 0x40200000 */
    e = x86_walk(env, 0x40001234, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk-pae/4k", e == 0 && t.pa == 0x777234);
    e = x86_walk(env, 0x40212345, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk-pae/2m", e == 0 && t.pa == 0x1212345);
    e = x86_walk(env, 0x40002234, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk-pae/nx-without-nxe-reserved", e == (0x80000000u | PF_P | PF_RSVD));
    env->efer = EFER_NXE;
    e = x86_walk(env, 0x40002234, ACC_EXEC, MMU_KERNEL, &t);
    CHECK("walk-pae/nx-fetch", e == (0x80000000u | PF_P | PF_I));
    e = x86_walk(env, 0x00001234, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk-pae/pdpte-not-present", e == 0x80000000u);
    *q(0x3020) = 0x6000 | P | RW; /* RW is reserved in a PAE PDPTE */
    e = x86_walk(env, 0x00001234, ACC_READ, MMU_KERNEL, &t);
    CHECK("walk-pae/pdpte-reserved", e == (0x80000000u | PF_P | PF_RSVD));
}

static void test_tlb(void)
{
    uint64_t v = 0;
    reset_cpu();
    env->cr[4] |= CR4_PGE;
    *q(0x4000 + 5 * 8) = 0x123000 | P | RW;     /* va 0x5000, not global */
    *q(0x4000 + 6 * 8) = 0x124000 | P | RW | G; /* va 0x6000, global */
    *q(0x123000) = 0x1111;
    *q(0x124000) = 0x2222;
    *q(0x125000) = 0x3333;
    CHECK("tlb/load", try_ld(0x5000, MMU_KERNEL, &v) < 0 && v == 0x1111);
    CHECK("tlb/load-global", try_ld(0x6000, MMU_KERNEL, &v) < 0 && v == 0x2222);
    /* remap both to 0x125000: the TLB keeps the old translations */
    *q(0x4000 + 5 * 8) = 0x125000 | P | RW;
    *q(0x4000 + 6 * 8) = 0x125000 | P | RW | G;
    CHECK("tlb/cached", try_ld(0x5000, MMU_KERNEL, &v) < 0 && v == 0x1111);
    /* a CR3 write flushes non-global entries only */
    x86_tlb_flush(env, false);
    CHECK("tlb/cr3-flush", try_ld(0x5000, MMU_KERNEL, &v) < 0 && v == 0x3333);
    CHECK("tlb/global-kept", try_ld(0x6000, MMU_KERNEL, &v) < 0 && v == 0x2222);
    /* INVLPG drops a global entry too */
    x86_tlb_flush_page(env, 0x6000);
    CHECK("tlb/invlpg", try_ld(0x6000, MMU_KERNEL, &v) < 0 && v == 0x3333);
    /* #PF from a load: CR2 and error code */
    int ex = try_ld(0x9008, MMU_USER, &v);
    CHECK("tlb/pf", ex == EXCP_PF && env->cr[2] == 0x9008 && env->error_code == PF_U);
    /* a store to a clean page sets D through the slow path, then hits */
    *q(0x4000 + 10 * 8) = 0x126000 | P | RW | US;
    x86_tlb_flush_page(env, 0xa000);
    CHECK("tlb/load-then-store", try_ld(0xa010, MMU_USER, &v) < 0 && !(*q(0x4000 + 80) & PA_D) &&
                                     try_st(0xa010, MMU_USER, 0xabcd) < 0 &&
                                     (*q(0x4000 + 80) & PA_D) && *q(0x126010) == 0xabcd);
    /* an access crossing into an unmapped page faults on the second page, memory untouched */
    *q(0x126ff8) = 0;
    ex = try_st(0xaffc, MMU_USER, ~0ull);
    CHECK("tlb/cross-page-store-fault", ex == EXCP_PF && env->cr[2] == 0xb000 &&
                                            env->error_code == (PF_W | PF_U) && *q(0x126ff8) == 0);
    /* non-canonical addresses are #GP */
    ex = try_ld(0x0000800000000000ull, MMU_KERNEL, &v);
    CHECK("tlb/non-canonical-gp", ex == EXCP_GP);
}

/* ---- IDT delivery ---- */

#define GDT  0x10000ull
#define IDT  0x11000ull
#define TSS  0x12000ull
#define KSTK 0x20000ull /* RSP0 */
#define ISTK 0x30000ull /* IST1 */
#define USTK 0x40000ull

static uint64_t seg_desc(int dpl, bool code)
{
    uint64_t d = 0xffff | (0xfull << 48) | (1ull << 55) /* G */ | (1ull << 47) /* P */ |
                 (1ull << 44) /* S */ | ((uint64_t)dpl << 45);
    return code ? d | (0xbull << 40) | (1ull << 53) /* L */ : d | (0x3ull << 40) | (1ull << 54);
}

static void set_gate(int vec, uint64_t target, int type, int dpl, int ist)
{
    uint64_t lo = (target & 0xffff) | (0x08ull << 16) | ((uint64_t)ist << 32) |
                  ((uint64_t)type << 40) | ((uint64_t)dpl << 45) | (1ull << 47) |
                  ((target >> 16) & 0xffff) << 48;
    *q(IDT + 16 * (uint64_t)vec) = lo;
    *q(IDT + 16 * (uint64_t)vec + 8) = target >> 32;
}

static void setup_idt(void)
{
    reset_cpu();
    /* identity map the low 2 MiB with one user-accessible 2 MiB page */
    *q(0x3000) = 0 | P | RW | US | PS;
    *q(GDT + 0x08) = seg_desc(0, true);
    *q(GDT + 0x10) = seg_desc(0, false);
    *q(GDT + 0x18) = seg_desc(3, false);
    *q(GDT + 0x20) = seg_desc(3, true);
    env->gdt_base = GDT;
    env->gdt_limit = 0x3f;
    env->idt_base = IDT;
    env->idt_limit = 256 * 16 - 1;
    env->tr.base = TSS;
    uint64_t v = KSTK; /* RSP0 and IST1 sit at 4 mod 8 in the 64-bit TSS */
    memcpy(ram + TSS + 4, &v, 8);
    v = ISTK;
    memcpy(ram + TSS + 0x24, &v, 8);
    set_gate(14, 0x1400, 0xe, 0, 0);
    set_gate(2, 0x0200, 0xe, 0, 1);
    set_gate(0x80, 0x8000, 0xf, 3, 0);
}

/* CS/SS from the test GDT's descriptor at sel, as a far transfer would load it */
static void seg_from_desc_test(int seg, uint16_t sel)
{
    uint64_t d = *q(GDT + sel);
    SegmentCache *sc = &env->segs[seg];
    sc->selector = sel;
    sc->base = 0;
    sc->limit = 0xffffffff;
    sc->flags = (uint32_t)(d >> 32) & 0x00f0ff00u;
}

static void to_user(void)
{
    env->cpl = 3;
    env->segs[R_CS].selector = 0x23;
    env->segs[R_SS].selector = 0x1b;
    env->regs[R_ESP] = USTK;
    env->rip = 0x123456;
    x86_set_rflags(env, RFLAGS_IF | CC_C | RFLAGS_FIXED);
}

static int try_int(int vec, bool sw, uint32_t err, bool has_err, uint64_t next)
{
    env->exception_index = -1;
    if (sigsetjmp(env->jmp_env, 0)) {
        return env->exception_index;
    }
    x86_do_interrupt(env, vec, sw, false, err, has_err, next);
    return -1;
}

static void test_idt(void)
{
    setup_idt();
    to_user();
    int ex = try_int(14, false, 6, true, env->rip);
    uint64_t sp = env->regs[R_ESP];
    CHECK("idt/pf-from-user", ex < 0 && env->cpl == 0 && env->segs[R_CS].selector == 0x08 &&
                                  env->rip == 0x1400 && sp == KSTK - 48 &&
                                  !(env->eflags & RFLAGS_IF) && env->segs[R_SS].selector == 0);
    CHECK("idt/frame", *q(sp) == 6 && *q(sp + 8) == 0x123456 && *q(sp + 16) == 0x23 &&
                           (*q(sp + 24) & (RFLAGS_IF | CC_C)) == (RFLAGS_IF | CC_C) &&
                           *q(sp + 32) == USTK && *q(sp + 40) == 0x1b);
    /* the handler drops the error code and returns */
    env->regs[R_ESP] += 8;
    env->exception_index = -1;
    if (!sigsetjmp(env->jmp_env, 0)) {
        helper_iret(env, 64);
    }
    CHECK("idt/iretq-to-user", env->exception_index < 0 && env->cpl == 3 && env->rip == 0x123456 &&
                                   env->regs[R_ESP] == USTK && env->segs[R_CS].selector == 0x23 &&
                                   (env->eflags & RFLAGS_IF) && (env->cc & CC_C));
    /* IRETW in 64-bit mode: a frame of five 16-bit values, same level */
    env->cpl = 0;
    seg_from_desc_test(R_CS, 0x08);
    env->regs[R_ESP] = KSTK - 0x200;
    uint16_t frame[5] = {0x1234, 0x08, (uint16_t)(RFLAGS_IF | CC_Z | RFLAGS_FIXED), 0x5000, 0x10};
    memcpy(ram + KSTK - 0x200, frame, sizeof(frame));
    env->exception_index = -1;
    if (!sigsetjmp(env->jmp_env, 0)) {
        helper_iret(env, 16);
    }
    CHECK("idt/iretw-64", env->exception_index < 0 && env->rip == 0x1234 &&
                              env->regs[R_ESP] == 0x5000 && env->segs[R_SS].selector == 0x10 &&
                              (env->eflags & RFLAGS_IF) && (env->cc & CC_Z) && env->cpl == 0);
    /* IST: NMI from kernel mode switches to IST1 */
    env->cpl = 0;
    env->segs[R_CS].selector = 0x08;
    env->regs[R_ESP] = KSTK - 0x100;
    ex = try_int(2, false, 0, false, 0x777);
    CHECK("idt/ist", ex < 0 && env->regs[R_ESP] == ISTK - 40 && *q(ISTK - 40) == 0x777);
    /* INT 0x80 from user through a DPL-3 trap gate keeps IF */
    to_user();
    ex = try_int(0x80, true, 0, false, 0x123458);
    CHECK("idt/int80-trap-gate", ex < 0 && env->rip == 0x8000 && (env->eflags & RFLAGS_IF) &&
                                     *q(env->regs[R_ESP]) == 0x123458);
    /* INT 14 from user: gate DPL 0 < CPL 3 -> #GP(14*8+2) */
    to_user();
    ex = try_int(14, true, 0, false, 0x123458);
    CHECK("idt/int-dpl-gp", ex == EXCP_GP && env->error_code == 14 * 8 + 2 && env->cpl == 3);
    /* vector beyond the IDT limit -> #GP(vec*8+2) */
    env->idt_limit = 15 * 16 - 1;
    ex = try_int(0x80, true, 0, false, 0);
    CHECK("idt/limit-gp", ex == EXCP_GP && env->error_code == 0x80 * 8 + 2);
}

static void test_syscall(void)
{
    setup_idt();
    to_user();
    env->efer |= EFER_SCE;
    env->star = (0x10ull << 48) | (0x08ull << 32);
    env->lstar = 0xffffffff81000000ull;
    env->fmask = RFLAGS_IF;
    helper_syscall(env, 0x123458);
    CHECK("syscall", env->cpl == 0 && env->rip == 0xffffffff81000000ull &&
                         env->regs[R_ECX] == 0x123458 && (env->regs[11] & RFLAGS_IF) &&
                         !(env->eflags & RFLAGS_IF) && env->segs[R_CS].selector == 0x08 &&
                         env->segs[R_SS].selector == 0x10);
    helper_sysret(env, 64);
    CHECK("sysret", env->cpl == 3 && env->rip == 0x123458 && (env->eflags & RFLAGS_IF) &&
                        env->segs[R_CS].selector == 0x23 && env->segs[R_SS].selector == 0x1b);
    env->cpl = 0;
    helper_swapgs(env);
}

int main(void)
{
    ram = aligned_alloc(4096, RAM_SIZE);
    guest_ram.blocks[0] = (RAMBlock){.gpa = 0, .size = RAM_SIZE, .host = ram};
    guest_ram.n = 1;
    static MemoryRegion ram_mr; /* the softmmu finds RAM in the memory map */
    memory_region_init_ram_ptr(&ram_mr, "test-ram", RAM_SIZE, ram);
    memory_region_add_subregion(get_system_memory(), 0, &ram_mr, 0);
    env = calloc(1, sizeof(*env));
    tcg_exec_init(16 << 20);
    tcg_cpu_reset(env);
    test_walk();
    test_walk_legacy();
    test_tlb();
    test_idt();
    test_syscall();
    UNIT_EXIT();
}
