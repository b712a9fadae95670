/*
 * System-mode helpers for 64-bit long mode: IDT delivery (interrupt/trap gates, privilege
 * change through the TSS, IST, error codes), IRET, SYSCALL/SYSRET, SWAPGS, descriptor-table and
 * segment loads, control registers, MSRs, CPUID, TSC, port I/O, POPF/CLI/STI, and the register
 * dump. Facts from the Intel SDM vol. 3 and the AMD APM vol. 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vireo/ioport.h"
#include "vireo/machine.h"
#include "vireo/tcg.h"
#include "vireo/x86-cpu.h"
#include "vireo/x86-irq.h"
#include "x86-helper.h"

uint64_t x86_host_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static _Noreturn void raise_gp(CPUX86State *env, uint32_t err)
{
    x86_raise_exception(env, EXCP_GP, err);
}

void x86_fpu_reset(CPUX86State *env);

static uint64_t ldq_kernel(CPUX86State *env, uint64_t va)
{
    return x86_ld(env, va, 8, MMU_KERNEL);
}

/* ---- descriptors ---- */

/* Read the 8-byte descriptor for selector (GDT or LDT); #GP(sel) when outside the table. */
static uint64_t load_desc(CPUX86State *env, uint16_t sel, int fault)
{
    uint64_t base;
    uint32_t limit;
    if (sel & 4) {
        base = env->ldt.base;
        limit = env->ldt.limit;
    } else {
        base = env->gdt_base;
        limit = env->gdt_limit;
    }
    uint32_t off = sel & ~7u;
    if (off + 7 > limit) {
        x86_raise_exception(env, fault, sel & 0xfffc);
    }
    return ldq_kernel(env, base + off);
}

static void seg_from_desc(SegmentCache *sc, uint16_t sel, uint64_t d)
{
    sc->selector = sel;
    sc->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000u);
    uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    if (d & ((uint64_t)DESC_G << 32)) {
        limit = (limit << 12) | 0xfff;
    }
    sc->limit = limit;
    sc->flags = (uint32_t)(d >> 32) & 0x00f0ff00u;
}

/* 64-bit mode (not compatibility mode) */
static bool code64(const CPUX86State *env)
{
    return (env->efer & EFER_LMA) && (env->segs[R_CS].flags & DESC_L);
}

static bool real_mode(const CPUX86State *env)
{
    return !((env->cr[0] & CR0_PE));
}

/* Real mode: a segment register load sets the selector and base = selector << 4 (limit and
 * attributes stay, as on hardware). */
static void load_seg_real(CPUX86State *env, int seg, uint16_t sel)
{
    SegmentCache *sc = &env->segs[seg];
    sc->selector = sel;
    sc->base = (uint32_t)sel << 4;
    if (seg == R_FS) {
        env->fs_base = sc->base;
    } else if (seg == R_GS) {
        env->gs_base = sc->base;
    }
}

void helper_load_seg(CPUX86State *env, uint64_t seg, uint64_t selector)
{
    uint16_t sel = (uint16_t)selector;
    SegmentCache *sc = &env->segs[seg];
    int cpl = env->cpl;
    if (seg == R_SS) {
        env->int_shadow = true; /* no interrupt before the next instruction (MOV/POP SS) */
    }
    if (real_mode(env) || (env->eflags & RFLAGS_VM)) {
        load_seg_real(env, (int)seg, sel);
        return;
    }
    if ((sel & 0xfffc) == 0) {
        if (seg == R_SS && (cpl == 3 || (sel & 3) != cpl || !code64(env))) {
            raise_gp(env, 0);
        }
        sc->selector = sel;
        sc->base = 0;
        sc->limit = 0;
        sc->flags = 0;
        if (seg == R_FS) {
            env->fs_base = 0;
        } else if (seg == R_GS) {
            env->gs_base = 0;
        }
        return;
    }
    uint64_t d = load_desc(env, sel, EXCP_GP);
    uint32_t hi = (uint32_t)(d >> 32);
    int dpl = (hi >> DESC_DPL_SHIFT) & 3, rpl = sel & 3;
    bool code = hi & (8u << DESC_TYPE_SHIFT);
    if (!(hi & DESC_S)) {
        raise_gp(env, sel & 0xfffc);
    }
    if (seg == R_SS) {
        bool writable = !code && (hi & (2u << DESC_TYPE_SHIFT));
        if (!writable || rpl != cpl || dpl != cpl) {
            raise_gp(env, sel & 0xfffc);
        }
        if (!(hi & DESC_P)) {
            x86_raise_exception(env, EXCP_SS, sel & 0xfffc);
        }
    } else {
        bool readable = !code || (hi & (2u << DESC_TYPE_SHIFT));
        bool conforming = code && (hi & (4u << DESC_TYPE_SHIFT));
        if (!readable || (!conforming && (dpl < cpl || dpl < rpl))) {
            raise_gp(env, sel & 0xfffc);
        }
        if (!(hi & DESC_P)) {
            x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
        }
    }
    seg_from_desc(sc, sel, d);
    if (seg == R_FS) {
        env->fs_base = (uint32_t)sc->base;
    } else if (seg == R_GS) {
        env->gs_base = (uint32_t)sc->base;
    }
}

/* Flat 64-bit code or data segment with the given selector and DPL (SYSCALL/SYSRET). */
static void set_flat_seg(SegmentCache *sc, uint16_t sel, bool code, int dpl)
{
    sc->selector = sel;
    sc->base = 0;
    sc->limit = 0xffffffff;
    sc->flags = DESC_P | DESC_S | DESC_G | ((uint32_t)dpl << DESC_DPL_SHIFT) |
                (code ? (DESC_L | (0xbu << DESC_TYPE_SHIFT)) : (DESC_B | (3u << DESC_TYPE_SHIFT)));
}

void x86_cpu_set_long_mode(CPUX86State *env, uint64_t cr0, uint64_t cr3, uint64_t cr4,
                           uint64_t efer, uint16_t cs, uint16_t ds)
{
    env->cr[0] = cr0;
    env->cr[3] = cr3;
    env->cr[4] = cr4;
    env->efer = efer | ((efer & EFER_LME) && (cr0 & CR0_PG) ? EFER_LMA : 0);
    env->cpl = 0;
    set_flat_seg(&env->segs[R_CS], cs, true, 0);
    for (int s = 0; s < 6; s++) {
        if (s != R_CS) {
            set_flat_seg(&env->segs[s], ds, false, 0);
        }
    }
    env->fs_base = env->gs_base = 0;
    x86_tlb_flush(env, true);
}

void x86_cpu_set_protected32(CPUX86State *env, uint64_t cr0, uint16_t cs, uint16_t ds)
{
    env->cr[0] = cr0;
    env->cr[3] = env->cr[4] = 0;
    env->efer = 0;
    env->cpl = 0;
    for (int s = 0; s < 6; s++) {
        set_flat_seg(&env->segs[s], s == R_CS ? cs : ds, s == R_CS, 0);
        env->segs[s].flags = (env->segs[s].flags & ~DESC_L) | DESC_B;
    }
    env->fs_base = env->gs_base = 0;
    x86_tlb_flush(env, true);
}

void x86_cpu_reset_state(CPUX86State *env)
{
    memset(env->regs, 0, sizeof(env->regs));
    env->regs[R_EDX] = 0x600; /* family/model/stepping */
    env->cc = RFLAGS_FIXED;
    env->eflags = RFLAGS_FIXED;
    env->rip = 0xfff0;
    env->cpl = 0;
    for (int s = 0; s < 6; s++) {
        env->segs[s] = (SegmentCache){.limit = 0xffff, .flags = DESC_P | DESC_S | (3u << 8)};
    }
    env->segs[R_CS] = (SegmentCache){.selector = 0xf000,
                                     .base = 0xffff0000,
                                     .limit = 0xffff,
                                     .flags = DESC_P | DESC_S | (0xbu << 8)};
    env->fs_base = env->gs_base = env->kernel_gs_base = 0;
    env->gdt_base = env->idt_base = 0;
    env->gdt_limit = env->idt_limit = 0xffff;
    env->ldt = (SegmentCache){.limit = 0xffff, .flags = DESC_P | (2u << 8)};
    env->tr = (SegmentCache){.limit = 0xffff, .flags = DESC_P | (0xbu << 8)};
    memset(env->cr, 0, sizeof(env->cr));
    env->cr[0] = CR0_ET | CR0_CD | CR0_NW;
    env->efer = env->star = env->lstar = env->cstar = env->fmask = 0;
    env->pat = 0x0007040600070406ull;
    env->misc_enable = 1; /* fast strings */
    env->mtrr_deftype = 0;
    env->tsc_aux = 0;
    x86_fpu_reset(env);
    env->mxcsr = 0x1f80;
    memset(env->xmm, 0, sizeof(env->xmm));
    env->dr[6] = 0xffff0ff0;
    env->dr[7] = 0x400;
    env->int_shadow = false;
    env->halted = false;
    env->old_exception = -1;
    env->exception_index = -1;
    x86_tlb_flush(env, true);
}

/* ---- interrupts ---- */

static void push64(CPUX86State *env, uint64_t *sp, uint64_t v)
{
    *sp -= 8;
    x86_st(env, *sp, v, 8, MMU_KERNEL);
}

/*
 * A stack outside 64-bit mode: SS base, ESP or SP (SS.B), accesses at CPL's MMU index. sp holds
 * the whole register; only the low 16 bits move for a 16-bit stack.
 */
typedef struct Stk {
    uint64_t base, sp, mask;
    int mmu;
} Stk;

static Stk stk_cur(CPUX86State *env)
{
    Stk k = {.sp = env->regs[R_ESP], .mmu = x86_mmu_idx(env)};
    if (code64(env)) {
        k.mask = ~0ull;
    } else {
        k.base = env->segs[R_SS].base;
        k.mask = (env->segs[R_SS].flags & DESC_B) ? 0xffffffffu : 0xffffu;
    }
    return k;
}

static uint64_t stk_addr(const Stk *k)
{
    uint64_t a = k->base + (k->sp & k->mask);
    return k->mask == ~0ull ? a : (uint32_t)a;
}

static void stk_move(Stk *k, int64_t delta)
{
    k->sp = (k->sp & ~k->mask) | ((k->sp + (uint64_t)delta) & k->mask);
}

static void stk_push(CPUX86State *env, Stk *k, uint64_t v, int bytes)
{
    stk_move(k, -bytes);
    x86_st(env, stk_addr(k), v, bytes, k->mmu);
}

static uint64_t stk_pop(CPUX86State *env, Stk *k, int bytes)
{
    uint64_t v = x86_ld(env, stk_addr(k), bytes, k->mmu);
    stk_move(k, bytes);
    return v;
}

/* Real mode: through the interrupt vector table (4-byte CS:IP entries at the IDTR base). */
static void do_interrupt_real(CPUX86State *env, int vector, uint64_t next_rip)
{
    if ((uint32_t)vector * 4 + 3 > env->idt_limit) {
        raise_gp(env, (uint32_t)vector * 8 + 2);
    }
    uint32_t ent = (uint32_t)x86_ld(env, env->idt_base + (uint64_t)vector * 4, 4, MMU_KERNEL);
    Stk k = stk_cur(env);
    stk_push(env, &k, x86_get_rflags(env), 2);
    stk_push(env, &k, env->segs[R_CS].selector, 2);
    stk_push(env, &k, next_rip, 2);
    env->regs[R_ESP] = k.sp;
    env->eflags &= ~(uint64_t)(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC | RFLAGS_RF);
    load_seg_real(env, R_CS, (uint16_t)(ent >> 16));
    env->rip = ent & 0xffff;
}

/* The ring-n stack from a 32-bit (or 16-bit) TSS */
static void tss_stack(CPUX86State *env, int dpl, uint16_t *ss, uint32_t *esp)
{
    unsigned type = (env->tr.flags >> DESC_TYPE_SHIFT) & 0xf;
    bool is32 = type & 8;
    uint32_t off = is32 ? 4 + 8 * (uint32_t)dpl : 2 + 4 * (uint32_t)dpl;
    uint32_t width = is32 ? 4 : 2;
    if (off + 2 * width - 1 > env->tr.limit) {
        x86_raise_exception(env, EXCP_TS, env->tr.selector & 0xfffc);
    }
    *esp = (uint32_t)x86_ld(env, env->tr.base + off, (int)width, MMU_KERNEL);
    *ss = (uint16_t)x86_ld(env, env->tr.base + off + width, 2, MMU_KERNEL);
}

/* Check a stack segment selector for CPL/RPL/DPL rpl; fault is the vector for a bad one. */
static uint64_t check_ss(CPUX86State *env, uint16_t ss, int rpl, int fault)
{
    if ((ss & 0xfffc) == 0) {
        x86_raise_exception(env, fault, 0);
    }
    uint64_t d = load_desc(env, ss, fault);
    uint32_t h = (uint32_t)(d >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3;
    bool writable_data =
        (h & DESC_S) && !(h & (8u << DESC_TYPE_SHIFT)) && (h & (2u << DESC_TYPE_SHIFT));
    if ((ss & 3) != rpl || dpl != rpl || !writable_data) {
        x86_raise_exception(env, fault, ss & 0xfffc);
    }
    if (!(h & DESC_P)) {
        x86_raise_exception(env, EXCP_SS, ss & 0xfffc);
    }
    return d;
}

/* ---- hardware task switches (protected mode outside long mode) ---- */

enum { TS_JMP, TS_IRET, TS_CALL };

/* Virtual-8086 segment register: base = selector << 4, 64 KiB, a DPL-3 read/write data segment. */
static void load_seg_vm(CPUX86State *env, int seg, uint16_t sel)
{
    SegmentCache *sc = &env->segs[seg];
    sc->selector = sel;
    sc->base = (uint32_t)sel << 4;
    sc->limit = 0xffff;
    sc->flags = DESC_P | DESC_S | (3u << DESC_DPL_SHIFT) | (3u << DESC_TYPE_SHIFT);
    if (seg == R_FS) {
        env->fs_base = sc->base;
    } else if (seg == R_GS) {
        env->gs_base = sc->base;
    }
}

static void set_tss_busy(CPUX86State *env, uint16_t sel, bool busy)
{
    uint64_t a = env->gdt_base + (sel & ~7u) + 5;
    uint8_t b = (uint8_t)x86_ld(env, a, 1, MMU_KERNEL);
    b = busy ? (b | 2) : (b & ~2);
    x86_st(env, a, b, 1, MMU_KERNEL);
}

/* A segment register from the new task's TSS: every check fails with #TS(selector), a segment
 * that is not present with #NP (#SS for SS). */
static void task_load_seg(CPUX86State *env, int seg, uint16_t sel, int cpl)
{
    if ((sel & 0xfffc) == 0) {
        if (seg == R_CS || seg == R_SS) {
            x86_raise_exception(env, EXCP_TS, sel & 0xfffc);
        }
        return; /* already a null selector */
    }
    uint32_t off = sel & ~7u;
    uint64_t tbase = (sel & 4) ? env->ldt.base : env->gdt_base;
    uint32_t tlimit = (sel & 4) ? env->ldt.limit : env->gdt_limit;
    if (off + 7 > tlimit) {
        x86_raise_exception(env, EXCP_TS, sel & 0xfffc);
    }
    uint64_t d = ldq_kernel(env, tbase + off);
    uint32_t h = (uint32_t)(d >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3, rpl = sel & 3;
    unsigned type = (h >> DESC_TYPE_SHIFT) & 0xf;
    bool code = type & 8, bad;
    if (!(h & DESC_S)) {
        bad = true;
    } else if (seg == R_CS) {
        bad = !code || dpl != rpl;
    } else if (seg == R_SS) {
        bad = code || !(type & 2) || dpl != cpl || dpl != rpl;
    } else {
        bad = (code && !(type & 2)) || (type < 12 && (dpl < cpl || dpl < rpl));
    }
    if (bad) {
        x86_raise_exception(env, EXCP_TS, sel & 0xfffc);
    }
    if (!(h & DESC_P)) {
        x86_raise_exception(env, seg == R_SS ? EXCP_SS : EXCP_NP, sel & 0xfffc);
    }
    seg_from_desc(&env->segs[seg], sel, d);
    if (seg == R_FS) {
        env->fs_base = (uint32_t)env->segs[seg].base;
    } else if (seg == R_GS) {
        env->gs_base = (uint32_t)env->segs[seg].base;
    }
}

/*
 * Switch to the task whose TSS descriptor (or task gate) is d, selected by sel, for a JMP, CALL
 * (also an interrupt through a task gate) or IRET with NT. next_eip is what the old task's TSS
 * keeps as its EIP. Faults before the old task's state is saved are raised in the old task,
 * the ones after (segment and LDT checks) in the new task, as on hardware. Returns whether the
 * new TSS is a 32-bit one.
 */
static bool task_switch(CPUX86State *env, uint16_t sel, uint64_t d, int source, uint32_t next_eip)
{
    unsigned type = (unsigned)(d >> 40) & 0xf;
    if (type == 5) { /* task gate: the TSS it names must be an available one */
        if (!(d & (1ull << 47))) {
            x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
        }
        sel = (uint16_t)(d >> 16);
        if (sel & 4) {
            x86_raise_exception(env, EXCP_TS, sel & 0xfffc);
        }
        if ((sel & ~7u) + 7 > env->gdt_limit) {
            raise_gp(env, sel & 0xfffc);
        }
        d = ldq_kernel(env, env->gdt_base + (sel & ~7u));
        type = (unsigned)(d >> 40) & 0xf;
        if ((d & ((uint64_t)DESC_S << 32)) || (type & 7) != 1) {
            raise_gp(env, sel & 0xfffc);
        }
    }
    if (!(d & (1ull << 47))) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    bool is32 = type & 8;
    SegmentCache ntss;
    seg_from_desc(&ntss, sel, d);
    if ((sel & 4) || ntss.limit < (is32 ? 103u : 43u)) {
        x86_raise_exception(env, EXCP_TS, sel & 0xfffc);
    }
    bool old32 = (env->tr.flags >> DESC_TYPE_SHIFT) & 8;
    uint64_t nb = ntss.base, ob = env->tr.base;

    /* the new task's state (these reads may fault in the old task) */
    uint32_t cr3 = 0, eip, eflags, regs[8];
    uint16_t segs[6] = {0}, ldt;
    if (is32) {
        cr3 = (uint32_t)x86_ld(env, nb + 0x1c, 4, MMU_KERNEL);
        eip = (uint32_t)x86_ld(env, nb + 0x20, 4, MMU_KERNEL);
        eflags = (uint32_t)x86_ld(env, nb + 0x24, 4, MMU_KERNEL);
        for (int i = 0; i < 8; i++) {
            regs[i] = (uint32_t)x86_ld(env, nb + 0x28 + 4 * (uint64_t)i, 4, MMU_KERNEL);
        }
        for (int i = 0; i < 6; i++) {
            segs[i] = (uint16_t)x86_ld(env, nb + 0x48 + 4 * (uint64_t)i, 2, MMU_KERNEL);
        }
        ldt = (uint16_t)x86_ld(env, nb + 0x60, 2, MMU_KERNEL);
    } else {
        eip = (uint32_t)x86_ld(env, nb + 0x0e, 2, MMU_KERNEL);
        eflags = (uint32_t)x86_ld(env, nb + 0x10, 2, MMU_KERNEL);
        for (int i = 0; i < 8; i++) {
            regs[i] = (uint32_t)x86_ld(env, nb + 0x12 + 2 * (uint64_t)i, 2, MMU_KERNEL);
        }
        for (int i = 0; i < 4; i++) { /* ES CS SS DS; FS and GS become null */
            segs[i] = (uint16_t)x86_ld(env, nb + 0x22 + 2 * (uint64_t)i, 2, MMU_KERNEL);
        }
        ldt = (uint16_t)x86_ld(env, nb + 0x2a, 2, MMU_KERNEL);
    }
    /* make sure the old TSS can be written (first and last byte) before anything changes */
    uint32_t olast = old32 ? 103 : 43;
    x86_st(env, ob, x86_ld(env, ob, 1, MMU_KERNEL), 1, MMU_KERNEL);
    x86_st(env, ob + olast, x86_ld(env, ob + olast, 1, MMU_KERNEL), 1, MMU_KERNEL);

    if (source != TS_CALL) {
        set_tss_busy(env, env->tr.selector, false);
    }
    uint32_t oflags = (uint32_t)x86_get_rflags(env);
    if (source == TS_IRET) {
        oflags &= ~RFLAGS_NT;
    }
    /* save the old task: EIP, EFLAGS, the general registers, the segment selectors */
    if (old32) {
        x86_st(env, ob + 0x20, next_eip, 4, MMU_KERNEL);
        x86_st(env, ob + 0x24, oflags, 4, MMU_KERNEL);
        for (int i = 0; i < 8; i++) {
            x86_st(env, ob + 0x28 + 4 * (uint64_t)i, (uint32_t)env->regs[i], 4, MMU_KERNEL);
        }
        for (int i = 0; i < 6; i++) {
            x86_st(env, ob + 0x48 + 4 * (uint64_t)i, env->segs[i].selector, 2, MMU_KERNEL);
        }
    } else {
        x86_st(env, ob + 0x0e, next_eip, 2, MMU_KERNEL);
        x86_st(env, ob + 0x10, oflags, 2, MMU_KERNEL);
        for (int i = 0; i < 8; i++) {
            x86_st(env, ob + 0x12 + 2 * (uint64_t)i, env->regs[i], 2, MMU_KERNEL);
        }
        for (int i = 0; i < 4; i++) {
            x86_st(env, ob + 0x22 + 2 * (uint64_t)i, env->segs[i].selector, 2, MMU_KERNEL);
        }
    }
    /* from here on a fault belongs to the new task */
    if (source == TS_CALL) {
        x86_st(env, nb, env->tr.selector, 2, MMU_KERNEL); /* the back link */
        eflags |= RFLAGS_NT;
    }
    if (source != TS_IRET) {
        set_tss_busy(env, sel, true);
    }
    env->cr[0] |= CR0_TS;
    env->tr = ntss;
    env->tr.flags |= 2u << DESC_TYPE_SHIFT; /* busy */
    if (is32 && (env->cr[0] & CR0_PG)) {
        env->cr[3] = cr3;
        x86_tlb_flush(env, false);
    }
    env->rip = eip;
    uint64_t fmask = CC_MASK | RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_IOPL | RFLAGS_NT |
                     RFLAGS_RF | RFLAGS_VM | RFLAGS_AC | RFLAGS_ID;
    if (!is32) {
        fmask &= 0xffff;
    }
    x86_set_rflags(env, (x86_get_rflags(env) & ~fmask) | (eflags & fmask));
    for (int i = 0; i < 8; i++) {
        env->regs[i] = is32 ? regs[i] : ((env->regs[i] & 0xffff0000u) | regs[i]);
    }
    bool vm = env->eflags & RFLAGS_VM;
    for (int i = 0; i < 6; i++) {
        if (vm) {
            load_seg_vm(env, i, segs[i]);
        } else { /* the selector only, until the checks below */
            env->segs[i] = (SegmentCache){.selector = segs[i]};
        }
    }
    if (!vm) {
        env->fs_base = env->gs_base = 0;
    }
    env->cpl = vm ? 3 : (segs[R_CS] & 3);
    env->ldt = (SegmentCache){.selector = ldt & ~4};
    if (ldt & 4) {
        x86_raise_exception(env, EXCP_TS, ldt & 0xfffc);
    }
    if (ldt & 0xfffc) {
        if ((ldt & ~7u) + 7 > env->gdt_limit) {
            x86_raise_exception(env, EXCP_TS, ldt & 0xfffc);
        }
        uint64_t ld = ldq_kernel(env, env->gdt_base + (ldt & ~7u));
        if (((ld >> 40) & 0x1f) != 2 || !(ld & (1ull << 47))) {
            x86_raise_exception(env, EXCP_TS, ldt & 0xfffc);
        }
        seg_from_desc(&env->ldt, ldt, ld);
    }
    if (!vm) {
        static const int order[6] = {R_CS, R_SS, R_ES, R_DS, R_FS, R_GS};
        for (int i = 0; i < 6; i++) {
            task_load_seg(env, order[i], segs[order[i]], env->cpl);
        }
    }
    if (eip > env->segs[R_CS].limit) {
        raise_gp(env, 0);
    }
    return is32;
}

/* Protected mode (not long mode): 8-byte gates, 16- and 32-bit interrupt/trap gates, task
 * gates; from virtual-8086 mode to a ring-0 handler. */
static void do_interrupt_prot(CPUX86State *env, int vector, bool is_sw, bool is_hw,
                              uint32_t error_code, bool has_error, uint64_t next_rip)
{
    uint32_t gate_err = (uint32_t)vector * 8 + 2 + (is_hw ? 1 : 0);
    if ((uint32_t)vector * 8 + 7 > env->idt_limit) {
        raise_gp(env, gate_err);
    }
    uint64_t g = ldq_kernel(env, env->idt_base + (uint64_t)vector * 8);
    unsigned type = (unsigned)(g >> 40) & 0x1f;
    int dpl = (int)(g >> 45) & 3;
    if (type != 0x5 && type != 0x6 && type != 0x7 && type != 0xe && type != 0xf) {
        raise_gp(env, gate_err);
    }
    if (is_sw && dpl < env->cpl) {
        raise_gp(env, gate_err);
    }
    if (!(g & (1ull << 47))) {
        x86_raise_exception(env, EXCP_NP, gate_err);
    }
    if (type == 0x5) { /* task gate: the handler is a task; the error code goes on its stack */
        bool new32 =
            task_switch(env, (uint16_t)((uint32_t)vector * 8), g, TS_CALL, (uint32_t)next_rip);
        if (has_error) {
            Stk k = stk_cur(env);
            k.mmu = MMU_KERNEL;
            stk_push(env, &k, error_code, new32 ? 4 : 2);
            env->regs[R_ESP] = k.sp;
        }
        env->int_shadow = false;
        return;
    }
    bool is32 = type & 8;
    int bytes = is32 ? 4 : 2;
    uint16_t sel = (uint16_t)(g >> 16);
    uint32_t target = (uint32_t)((g & 0xffff) | ((g >> 32) & 0xffff0000u));
    if (!is32) {
        target &= 0xffff;
    }
    if ((sel & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    uint64_t cd = load_desc(env, sel, EXCP_GP);
    uint32_t cdh = (uint32_t)(cd >> 32);
    int cdpl = (cdh >> DESC_DPL_SHIFT) & 3;
    if (!(cdh & DESC_S) || !(cdh & (8u << DESC_TYPE_SHIFT)) || cdpl > env->cpl) {
        raise_gp(env, sel & 0xfffc);
    }
    if (!(cdh & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    bool conforming = cdh & (4u << DESC_TYPE_SHIFT);
    int new_cpl = conforming ? env->cpl : cdpl;
    bool vm86 = env->eflags & RFLAGS_VM;
    if (vm86 && new_cpl >= env->cpl) {
        raise_gp(env, sel & 0xfffc); /* from virtual-8086 mode only to an inner level */
    }
    uint64_t flags = x86_get_rflags(env);
    Stk k;
    uint64_t ssd = 0;
    uint16_t new_ss = 0;
    if (new_cpl < env->cpl) {
        uint32_t esp;
        tss_stack(env, new_cpl, &new_ss, &esp);
        ssd = check_ss(env, new_ss, new_cpl, EXCP_TS);
        SegmentCache tmp;
        seg_from_desc(&tmp, new_ss, ssd);
        k = (Stk){.base = tmp.base,
                  .sp = esp,
                  .mask = (tmp.flags & DESC_B) ? 0xffffffffu : 0xffffu,
                  .mmu = MMU_KERNEL};
        if (vm86) {
            stk_push(env, &k, env->segs[R_GS].selector, bytes);
            stk_push(env, &k, env->segs[R_FS].selector, bytes);
            stk_push(env, &k, env->segs[R_DS].selector, bytes);
            stk_push(env, &k, env->segs[R_ES].selector, bytes);
        }
        stk_push(env, &k, env->segs[R_SS].selector, bytes);
        stk_push(env, &k, env->regs[R_ESP], bytes);
    } else {
        k = stk_cur(env);
        k.mmu = MMU_KERNEL;
    }
    stk_push(env, &k, flags, bytes);
    stk_push(env, &k, env->segs[R_CS].selector, bytes);
    stk_push(env, &k, next_rip, bytes);
    if (has_error) {
        stk_push(env, &k, error_code, bytes);
    }
    /* committed */
    if (new_cpl < env->cpl) {
        seg_from_desc(&env->segs[R_SS], new_ss, ssd);
    }
    if (vm86) { /* the handler starts with null data segment registers */
        for (int s = R_ES; s <= R_GS; s++) {
            if (s != R_CS && s != R_SS) {
                env->segs[s] = (SegmentCache){0};
            }
        }
        env->fs_base = env->gs_base = 0;
    }
    env->regs[R_ESP] = k.sp;
    seg_from_desc(&env->segs[R_CS], (uint16_t)((sel & 0xfffc) | new_cpl), cd);
    env->cpl = (uint8_t)new_cpl;
    env->eflags &= ~(uint64_t)(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
    if (!(type & 1)) {
        env->eflags &= ~(uint64_t)RFLAGS_IF;
    }
    env->rip = target;
    env->int_shadow = false;
}

void x86_do_interrupt(CPUX86State *env, int vector, bool is_sw, bool is_hw, uint32_t error_code,
                      bool has_error, uint64_t next_rip)
{
    env->halted = false;
    if (real_mode(env)) {
        do_interrupt_real(env, vector, next_rip);
        return;
    }
    if (!(env->efer & EFER_LMA)) {
        do_interrupt_prot(env, vector, is_sw, is_hw, error_code, has_error, next_rip);
        return;
    }
    uint32_t gate_err = (uint32_t)vector * 8 + 2 + (is_hw ? 1 : 0);
    if ((uint32_t)vector * 16 + 15 > env->idt_limit) {
        raise_gp(env, gate_err);
    }
    uint64_t lo = ldq_kernel(env, env->idt_base + (uint64_t)vector * 16);
    uint64_t hi = ldq_kernel(env, env->idt_base + (uint64_t)vector * 16 + 8);
    unsigned type = (unsigned)(lo >> 40) & 0x1f; /* S bit and type */
    int dpl = (int)(lo >> 45) & 3;
    if (type != 0xe && type != 0xf) {
        raise_gp(env, gate_err);
    }
    if (is_sw && dpl < env->cpl) {
        raise_gp(env, gate_err);
    }
    if (!(lo & (1ull << 47))) {
        x86_raise_exception(env, EXCP_NP, gate_err);
    }
    uint16_t sel = (uint16_t)(lo >> 16);
    uint64_t target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
    int ist = (int)(lo >> 32) & 7;
    if ((sel & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    uint64_t cd = load_desc(env, sel, EXCP_GP);
    uint32_t cdh = (uint32_t)(cd >> 32);
    int cdpl = (cdh >> DESC_DPL_SHIFT) & 3;
    if (!(cdh & DESC_S) || !(cdh & (8u << DESC_TYPE_SHIFT)) || !(cdh & DESC_L) || (cdh & DESC_B) ||
        cdpl > env->cpl) {
        raise_gp(env, sel & 0xfffc);
    }
    if (!(cdh & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    bool conforming = cdh & (4u << DESC_TYPE_SHIFT);
    int new_cpl = conforming ? env->cpl : cdpl;
    uint64_t old_rsp = env->regs[R_ESP];
    uint16_t old_ss = env->segs[R_SS].selector;
    uint64_t sp;
    if (ist) {
        sp = ldq_kernel(env, env->tr.base + 0x24 + 8 * (uint64_t)(ist - 1));
    } else if (new_cpl < env->cpl) {
        sp = ldq_kernel(env, env->tr.base + 4 + 8 * (uint64_t)new_cpl);
    } else {
        sp = old_rsp;
    }
    sp &= ~0xfull;
    uint64_t rflags = x86_get_rflags(env);
    uint64_t ret = is_sw || is_hw ? next_rip : next_rip;
    push64(env, &sp, old_ss);
    push64(env, &sp, old_rsp);
    push64(env, &sp, rflags);
    push64(env, &sp, env->segs[R_CS].selector);
    push64(env, &sp, ret);
    if (has_error) {
        push64(env, &sp, error_code);
    }
    /* committed: no fault after this point */
    if (new_cpl < env->cpl) {
        env->segs[R_SS] = (SegmentCache){.selector = (uint16_t)new_cpl, .flags = 0};
    }
    env->regs[R_ESP] = sp;
    seg_from_desc(&env->segs[R_CS], (uint16_t)((sel & 0xfffc) | new_cpl), cd);
    env->cpl = (uint8_t)new_cpl;
    env->eflags &= ~(uint64_t)(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
    if (type == 0xe) {
        env->eflags &= ~(uint64_t)RFLAGS_IF;
    }
    env->rip = target;
    env->int_shadow = false;
}

/* Data segments the outer level may not use become null (return to an outer level). */
static void null_inaccessible_segs(CPUX86State *env, int rpl)
{
    for (int s = R_ES; s <= R_GS; s++) {
        if (s == R_CS || s == R_SS) {
            continue;
        }
        SegmentCache *sc = &env->segs[s];
        int dpl = (sc->flags >> DESC_DPL_SHIFT) & 3;
        bool conf_code = (sc->flags & (0xcu << DESC_TYPE_SHIFT)) == (0xcu << DESC_TYPE_SHIFT);
        if ((sc->selector & 0xfffc) && !conf_code && dpl < rpl) {
            sc->selector = 0;
            sc->flags = 0;
            sc->base = 0;
            if (s == R_FS) {
                env->fs_base = 0;
            } else if (s == R_GS) {
                env->gs_base = 0;
            }
        }
    }
}

/* The code segment descriptor of a far return (LRET/IRET) to selector cs; checks. */
static uint64_t check_return_cs(CPUX86State *env, uint16_t cs)
{
    int rpl = cs & 3;
    if ((cs & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    if (rpl < env->cpl) {
        raise_gp(env, cs & 0xfffc);
    }
    uint64_t cd = load_desc(env, cs, EXCP_GP);
    uint32_t h = (uint32_t)(cd >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3;
    bool conforming = h & (4u << DESC_TYPE_SHIFT);
    if (!(h & DESC_S) || !(h & (8u << DESC_TYPE_SHIFT)) || (conforming ? dpl > rpl : dpl != rpl)) {
        raise_gp(env, cs & 0xfffc);
    }
    if (!(h & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, cs & 0xfffc);
    }
    return cd;
}

/*
 * Far return outside 64-bit mode (LRET with imm, or IRET with is_iret): real mode, or protected
 * mode to the same or an outer level.
 */
static void far_return(CPUX86State *env, int bytes, uint64_t imm, bool is_iret)
{
    Stk k = stk_cur(env);
    uint64_t ip = stk_pop(env, &k, bytes);
    uint16_t cs = (uint16_t)stk_pop(env, &k, bytes);
    uint64_t fl = is_iret ? stk_pop(env, &k, bytes) : 0;
    if (bytes == 2) {
        ip &= 0xffff;
    }
    if (real_mode(env) || (env->eflags & RFLAGS_VM)) {
        stk_move(&k, (int64_t)imm);
        if (is_iret) {
            uint64_t mask = CC_MASK | RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_NT;
            if (!(env->eflags & RFLAGS_VM)) {
                mask |= RFLAGS_IOPL; /* virtual-8086 mode cannot change IOPL */
            }
            if (bytes == 4) {
                mask |= RFLAGS_AC | RFLAGS_ID | RFLAGS_RF;
            }
            x86_set_rflags(env, (x86_get_rflags(env) & ~mask) | (fl & mask));
        }
        env->regs[R_ESP] = k.sp;
        load_seg_real(env, R_CS, cs);
        env->rip = ip;
        return;
    }
    if (is_iret && bytes == 4 && (fl & RFLAGS_VM) && env->cpl == 0 && !(env->efer & EFER_LMA)) {
        /* IRETD at CPL 0 to virtual-8086 mode: ESP, SS, ES, DS, FS, GS follow EFLAGS */
        uint32_t esp = (uint32_t)stk_pop(env, &k, 4);
        uint16_t sv[4], ss = (uint16_t)stk_pop(env, &k, 4);
        for (int i = 0; i < 4; i++) {
            sv[i] = (uint16_t)stk_pop(env, &k, 4);
        }
        uint64_t mask = CC_MASK | RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_IOPL | RFLAGS_NT |
                        RFLAGS_VM | RFLAGS_AC | RFLAGS_ID | 0x80000 /* VIF */ | 0x100000 /* VIP */;
        x86_set_rflags(env, (x86_get_rflags(env) & ~mask) | (fl & mask));
        load_seg_vm(env, R_CS, cs);
        load_seg_vm(env, R_SS, ss);
        load_seg_vm(env, R_ES, sv[0]);
        load_seg_vm(env, R_DS, sv[1]);
        load_seg_vm(env, R_FS, sv[2]);
        load_seg_vm(env, R_GS, sv[3]);
        env->cpl = 3;
        env->regs[R_ESP] = esp;
        env->rip = ip & 0xffff;
        return;
    }
    uint64_t cd = check_return_cs(env, cs);
    int rpl = cs & 3;
    uint64_t new_sp = 0, ssd = 0;
    uint16_t ss = 0;
    stk_move(&k, (int64_t)imm);
    if (rpl > env->cpl) {
        new_sp = stk_pop(env, &k, bytes);
        ss = (uint16_t)stk_pop(env, &k, bytes);
        ssd = check_ss(env, ss, rpl, EXCP_GP);
    }
    if (is_iret) {
        uint64_t mask = CC_MASK | RFLAGS_TF | RFLAGS_DF | RFLAGS_NT;
        if (bytes == 4) {
            mask |= RFLAGS_RF | RFLAGS_AC | RFLAGS_ID;
        }
        int iopl = (int)(env->eflags >> 12) & 3;
        if (env->cpl == 0) {
            mask |= RFLAGS_IOPL;
        }
        if (env->cpl <= iopl) {
            mask |= RFLAGS_IF;
        }
        x86_set_rflags(env, (x86_get_rflags(env) & ~mask) | (fl & mask));
    }
    if (!((cd >> 32) & DESC_L) || !(env->efer & EFER_LMA)) {
        SegmentCache tmp;
        seg_from_desc(&tmp, cs, cd);
        if (ip > tmp.limit) {
            raise_gp(env, 0); /* the return address is beyond the code segment's limit */
        }
    }
    seg_from_desc(&env->segs[R_CS], cs, cd);
    if (rpl > env->cpl) {
        seg_from_desc(&env->segs[R_SS], ss, ssd);
        uint64_t m = (env->segs[R_SS].flags & DESC_B) ? 0xffffffffu : 0xffffu;
        env->regs[R_ESP] = (env->regs[R_ESP] & ~m) | (new_sp & m);
        /* LRET imm also releases imm bytes of the outer stack */
        env->regs[R_ESP] = (env->regs[R_ESP] & ~m) | ((env->regs[R_ESP] + imm) & m);
        null_inaccessible_segs(env, rpl);
    } else {
        env->regs[R_ESP] = k.sp;
    }
    env->cpl = (uint8_t)rpl;
    env->rip = ip;
}

/* IRET (info = operand bits | next EIP << 8): IRETQ/IRETD in long mode (64-bit or
 * compatibility), else real, virtual-8086 or protected mode (a return from a nested task with NT).
 */
void helper_iret(CPUX86State *env, uint64_t info)
{
    int bytes = (int)(info & 0xff) / 8;
    if ((env->eflags & RFLAGS_VM) && ((env->eflags >> 12) & 3) != 3) {
        raise_gp(env, 0); /* IOPL-sensitive in virtual-8086 mode */
    }
    if (!real_mode(env) && !(env->eflags & RFLAGS_VM) && (env->eflags & RFLAGS_NT)) {
        if (env->efer & EFER_LMA) {
            raise_gp(env, 0); /* no task switches in long mode */
        }
        /* return from a nested task: to the busy TSS named by the back link */
        uint16_t back = (uint16_t)x86_ld(env, env->tr.base, 2, MMU_KERNEL);
        if ((back & 4) || (back & ~7u) + 7 > env->gdt_limit) {
            x86_raise_exception(env, EXCP_TS, back & 0xfffc);
        }
        uint64_t d = ldq_kernel(env, env->gdt_base + (back & ~7u));
        if (((d >> 40) & 0x17) != 3) {
            x86_raise_exception(env, EXCP_TS, back & 0xfffc);
        }
        task_switch(env, back, d, TS_IRET, (uint32_t)(info >> 8));
        return;
    }
    if (!code64(env)) {
        /* protected or real mode, or compatibility mode (where a return to the same level
         * does not pop SS:ESP either) */
        far_return(env, bytes, 0, true);
        return;
    }
    int mmu = x86_mmu_idx(env);
    uint64_t sp = env->regs[R_ESP];
    uint64_t new_rip = x86_ld(env, sp, bytes, mmu);
    uint16_t new_cs = (uint16_t)x86_ld(env, sp + (uint64_t)bytes, bytes, mmu);
    uint64_t new_flags = x86_ld(env, sp + 2 * (uint64_t)bytes, bytes, mmu);
    uint64_t new_rsp = x86_ld(env, sp + 3 * (uint64_t)bytes, bytes, mmu);
    uint16_t new_ss = (uint16_t)x86_ld(env, sp + 4 * (uint64_t)bytes, bytes, mmu);
    if (env->eflags & RFLAGS_NT) {
        raise_gp(env, 0); /* no task switches in long mode */
    }
    int rpl = new_cs & 3;
    if ((new_cs & 0xfffc) == 0 || rpl < env->cpl) {
        raise_gp(env, new_cs & 0xfffc);
    }
    uint64_t cd = load_desc(env, new_cs, EXCP_GP);
    uint32_t cdh = (uint32_t)(cd >> 32);
    if (!(cdh & DESC_S) || !(cdh & (8u << DESC_TYPE_SHIFT))) {
        raise_gp(env, new_cs & 0xfffc);
    }
    if (!(cdh & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, new_cs & 0xfffc);
    }
    uint64_t ssd = 0;
    bool null_ss = (new_ss & 0xfffc) == 0;
    if (null_ss) {
        if (rpl == 3) {
            raise_gp(env, 0);
        }
    } else {
        ssd = load_desc(env, new_ss, EXCP_GP);
        if (((ssd >> 45) & 3) != (uint64_t)rpl || (new_ss & 3) != rpl) {
            raise_gp(env, new_ss & 0xfffc);
        }
    }
    /* flags: IOPL only at CPL 0, IF only when CPL <= IOPL */
    uint64_t mask = CC_MASK | RFLAGS_TF | RFLAGS_DF | RFLAGS_NT | RFLAGS_RF | RFLAGS_AC |
                    RFLAGS_ID | 0x80000 /* VIF */ | 0x100000 /* VIP */;
    int iopl = (int)(x86_get_rflags(env) >> 12) & 3;
    if (env->cpl == 0) {
        mask |= RFLAGS_IOPL;
    }
    if (env->cpl <= iopl) {
        mask |= RFLAGS_IF;
    }
    if (bytes == 4) {
        mask &= 0xffffffffu;
    } else if (bytes == 2) {
        mask &= 0xffffu; /* IRETW: FLAGS, IP and SP are 16-bit values (zero-extended) */
    }
    uint64_t old = x86_get_rflags(env);
    x86_set_rflags(env, (old & ~mask) | (new_flags & mask));
    seg_from_desc(&env->segs[R_CS], new_cs, cd);
    if (null_ss) {
        env->segs[R_SS] = (SegmentCache){.selector = new_ss};
    } else {
        seg_from_desc(&env->segs[R_SS], new_ss, ssd);
    }
    if (rpl > env->cpl) {
        null_inaccessible_segs(env, rpl);
    }
    env->cpl = (uint8_t)rpl;
    env->regs[R_ESP] = bytes == 4 ? (uint32_t)new_rsp : new_rsp;
    env->rip = bytes == 4 ? (uint32_t)new_rip : new_rip;
}

/* Load CS for a far transfer to the same privilege level (LRET/LJMP/LCALL). */
static void load_cs_same_level(CPUX86State *env, uint16_t sel)
{
    if ((sel & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    uint64_t d = load_desc(env, sel, EXCP_GP);
    uint32_t h = (uint32_t)(d >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3;
    bool conforming = h & (4u << DESC_TYPE_SHIFT);
    if (!(h & DESC_S) || !(h & (8u << DESC_TYPE_SHIFT)) ||
        (conforming ? dpl > env->cpl : ((sel & 3) > env->cpl || dpl != env->cpl))) {
        raise_gp(env, sel & 0xfffc);
    }
    if (!(h & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    if ((h & DESC_L) && ((h & DESC_B) || !(env->efer & EFER_LMA))) {
        raise_gp(env, sel & 0xfffc);
    }
    seg_from_desc(&env->segs[R_CS], (uint16_t)((sel & 0xfffc) | env->cpl), d);
}

/* LRET [imm16] (info = operand bits | imm << 8), same privilege level only */
void helper_lret(CPUX86State *env, uint64_t info)
{
    int bytes = (int)(info & 0xff) / 8;
    uint64_t imm = info >> 8;
    if (!code64(env)) {
        far_return(env, bytes, imm, false);
        return;
    }
    int mmu = x86_mmu_idx(env);
    uint64_t sp = env->regs[R_ESP];
    uint64_t rip = x86_ld(env, sp, bytes, mmu);
    uint16_t cs = (uint16_t)x86_ld(env, sp + (uint64_t)bytes, bytes, mmu);
    if ((cs & 3) == env->cpl) {
        load_cs_same_level(env, cs);
        env->regs[R_ESP] = sp + 2 * (uint64_t)bytes + imm;
        env->rip = rip;
        return;
    }
    /* to an outer level (the return from a long-mode call gate): RSP and SS follow */
    uint64_t cd = check_return_cs(env, cs);
    int rpl = cs & 3;
    uint64_t nsp = x86_ld(env, sp + 2 * (uint64_t)bytes + imm, bytes, mmu);
    uint16_t ss = (uint16_t)x86_ld(env, sp + 3 * (uint64_t)bytes + imm, bytes, mmu);
    uint64_t ssd = 0;
    bool null_ss = (ss & 0xfffc) == 0 && rpl != 3;
    if (!null_ss) {
        ssd = check_ss(env, ss, rpl, EXCP_GP);
    }
    seg_from_desc(&env->segs[R_CS], cs, cd);
    if (null_ss) {
        env->segs[R_SS] = (SegmentCache){.selector = ss};
    } else {
        seg_from_desc(&env->segs[R_SS], ss, ssd);
    }
    null_inaccessible_segs(env, rpl);
    env->cpl = (uint8_t)rpl;
    env->regs[R_ESP] = nsp + imm;
    env->rip = rip;
}

/*
 * CALL/JMP through a 16-byte long-mode call gate: the target must be a 64-bit code segment; a
 * CALL to a more privileged level takes RSP from the TSS, loads SS with a null selector of the
 * new CPL, and pushes the old SS and RSP (no parameters are copied); CS and RIP are pushed as
 * 8-byte values.
 */
static void far_through_call_gate64(CPUX86State *env, uint16_t gsel, uint64_t g, bool is_call,
                                    uint64_t next)
{
    int gdpl = (int)(g >> 45) & 3;
    if (gdpl < env->cpl || gdpl < (gsel & 3)) {
        raise_gp(env, gsel & 0xfffc);
    }
    if (!(g & (1ull << 47))) {
        x86_raise_exception(env, EXCP_NP, gsel & 0xfffc);
    }
    uint32_t goff = gsel & ~7u;
    uint64_t tbase = (gsel & 4) ? env->ldt.base : env->gdt_base;
    uint32_t tlimit = (gsel & 4) ? env->ldt.limit : env->gdt_limit;
    if (goff + 15 > tlimit) {
        raise_gp(env, gsel & 0xfffc);
    }
    uint64_t hi = ldq_kernel(env, tbase + goff + 8);
    if ((hi >> 40) & 0x1f) {
        raise_gp(env, gsel & 0xfffc); /* the upper half's type must be 0 */
    }
    uint16_t sel = (uint16_t)(g >> 16);
    uint64_t target = (g & 0xffff) | ((g >> 32) & 0xffff0000u) | (hi << 32);
    if ((sel & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    uint64_t cd = load_desc(env, sel, EXCP_GP);
    uint32_t h = (uint32_t)(cd >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3;
    bool conforming = h & (4u << DESC_TYPE_SHIFT);
    if (!(h & DESC_S) || !(h & (8u << DESC_TYPE_SHIFT)) || dpl > env->cpl ||
        (!is_call && !conforming && dpl != env->cpl) || !(h & DESC_L) || (h & DESC_B)) {
        raise_gp(env, sel & 0xfffc);
    }
    if (!(h & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    if ((uint64_t)((int64_t)(target << 16) >> 16) != target) {
        raise_gp(env, 0);
    }
    int new_cpl = conforming ? env->cpl : dpl;
    if (is_call) {
        uint64_t sp = env->regs[R_ESP];
        bool inner = new_cpl < env->cpl;
        if (inner) {
            uint32_t idx = 4 + 8 * (uint32_t)new_cpl;
            if (idx + 7 > env->tr.limit) {
                x86_raise_exception(env, EXCP_TS, env->tr.selector & 0xfffc);
            }
            sp = ldq_kernel(env, env->tr.base + idx);
            push64(env, &sp, env->segs[R_SS].selector);
            push64(env, &sp, env->regs[R_ESP]);
        }
        push64(env, &sp, env->segs[R_CS].selector);
        push64(env, &sp, next);
        if (inner) {
            env->segs[R_SS] = (SegmentCache){.selector = (uint16_t)new_cpl};
        }
        env->regs[R_ESP] = sp;
    }
    seg_from_desc(&env->segs[R_CS], (uint16_t)((sel & 0xfffc) | new_cpl), cd);
    env->cpl = (uint8_t)new_cpl;
    env->rip = target;
}

/*
 * JMP/CALL through a 16- or 32-bit call gate (outside long mode): the gate gives the target
 * CS:EIP; a CALL to a more privileged non-conforming segment switches to the TSS's stack for
 * that level, pushes the old SS:ESP, copies the gate's parameter count of parameters and pushes
 * the old CS:EIP.
 */
static void far_through_call_gate(CPUX86State *env, uint16_t gsel, uint64_t g, bool is_call,
                                  uint64_t next)
{
    int gdpl = (int)(g >> 45) & 3;
    bool is32 = (g >> 40) & 8;
    int bytes = is32 ? 4 : 2;
    if (gdpl < env->cpl || gdpl < (gsel & 3)) {
        raise_gp(env, gsel & 0xfffc);
    }
    if (!(g & (1ull << 47))) {
        x86_raise_exception(env, EXCP_NP, gsel & 0xfffc);
    }
    uint16_t sel = (uint16_t)(g >> 16);
    uint32_t off = (uint32_t)((g & 0xffff) | ((g >> 32) & 0xffff0000u));
    if (!is32) {
        off &= 0xffff;
    }
    int nparams = (int)(g >> 32) & 0x1f;
    if ((sel & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    uint64_t cd = load_desc(env, sel, EXCP_GP);
    uint32_t h = (uint32_t)(cd >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3;
    bool conforming = h & (4u << DESC_TYPE_SHIFT);
    if (!(h & DESC_S) || !(h & (8u << DESC_TYPE_SHIFT)) || dpl > env->cpl ||
        (!is_call && !conforming && dpl != env->cpl)) {
        raise_gp(env, sel & 0xfffc);
    }
    if (!(h & DESC_P)) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    SegmentCache tcs;
    seg_from_desc(&tcs, sel, cd);
    if (off > tcs.limit) {
        raise_gp(env, 0);
    }
    int new_cpl = conforming ? env->cpl : dpl;
    uint16_t old_cs = env->segs[R_CS].selector;
    if (is_call && new_cpl < env->cpl) {
        uint16_t ss;
        uint32_t esp;
        tss_stack(env, new_cpl, &ss, &esp);
        uint64_t ssd = check_ss(env, ss, new_cpl, EXCP_TS);
        SegmentCache nss;
        seg_from_desc(&nss, ss, ssd);
        Stk k = {.base = nss.base,
                 .sp = esp,
                 .mask = (nss.flags & DESC_B) ? 0xffffffffu : 0xffffu,
                 .mmu = MMU_KERNEL};
        Stk old = stk_cur(env);
        stk_push(env, &k, env->segs[R_SS].selector, bytes);
        stk_push(env, &k, env->regs[R_ESP], bytes);
        for (int i = nparams - 1; i >= 0; i--) {
            Stk p = old;
            stk_move(&p, (int64_t)i * bytes);
            stk_push(env, &k, x86_ld(env, stk_addr(&p), bytes, old.mmu), bytes);
        }
        stk_push(env, &k, old_cs, bytes);
        stk_push(env, &k, next, bytes);
        env->segs[R_SS] = nss;
        env->regs[R_ESP] = k.sp;
    } else if (is_call) {
        Stk k = stk_cur(env);
        stk_push(env, &k, old_cs, bytes);
        stk_push(env, &k, next, bytes);
        env->regs[R_ESP] = k.sp;
    }
    tcs.selector = (uint16_t)((sel & 0xfffc) | new_cpl);
    env->segs[R_CS] = tcs;
    env->cpl = (uint8_t)new_cpl;
    env->rip = off;
}

/*
 * LJMP / LCALL to sel:off (info = operand bits | is_call << 8 | next EIP << 16), in every mode:
 * real and virtual-8086 mode, a code segment at the same privilege level, a call gate (16/32-bit,
 * or 16-byte in long mode), a TSS or a task gate (a task switch). A 64-bit code segment in long
 * mode enters 64-bit mode.
 */
void helper_far(CPUX86State *env, uint64_t selector, uint64_t off, uint64_t info)
{
    int bytes = (int)(info & 0xff) / 8;
    bool is_call = (info >> 8) & 1;
    uint64_t next = info >> 16;
    uint16_t sel = (uint16_t)selector;
    uint16_t old_cs = env->segs[R_CS].selector;
    if (bytes == 2) {
        off &= 0xffff;
    } else if (bytes == 4) {
        off = (uint32_t)off;
    }
    Stk k = stk_cur(env);
    if (real_mode(env) || (env->eflags & RFLAGS_VM)) {
        if (is_call) {
            stk_push(env, &k, old_cs, bytes);
            stk_push(env, &k, next, bytes);
            env->regs[R_ESP] = k.sp;
        }
        load_seg_real(env, R_CS, sel);
        env->rip = off;
        return;
    }
    if ((sel & 0xfffc) == 0) {
        raise_gp(env, 0);
    }
    uint64_t d = load_desc(env, sel, EXCP_GP);
    if (!((d >> 32) & DESC_S)) {
        unsigned type = (unsigned)(d >> 40) & 0xf;
        bool lma = env->efer & EFER_LMA;
        int dpl = (int)(d >> 45) & 3;
        if (lma && type == 0xc) {
            far_through_call_gate64(env, sel, d, is_call, next);
        } else if (!lma && (type == 0x4 || type == 0xc)) {
            far_through_call_gate(env, sel, d, is_call, next);
        } else if (!lma && (type == 0x1 || type == 0x9 || type == 0x5)) {
            /* an available TSS or a task gate: a task switch */
            if (dpl < env->cpl || dpl < (sel & 3)) {
                raise_gp(env, sel & 0xfffc);
            }
            task_switch(env, sel, d, is_call ? TS_CALL : TS_JMP, (uint32_t)next);
        } else {
            raise_gp(env, sel & 0xfffc);
        }
        return;
    }
    {
        /* check the target first (the pushes may fault), then push, then load */
        SegmentCache save = env->segs[R_CS];
        load_cs_same_level(env, sel);
        bool lm64 = (env->efer & EFER_LMA) && (env->segs[R_CS].flags & DESC_L);
        uint32_t limit = env->segs[R_CS].limit;
        env->segs[R_CS] = save;
        if (!lm64 && off > limit) {
            raise_gp(env, 0);
        }
    }
    if (is_call) {
        stk_push(env, &k, old_cs, bytes);
        stk_push(env, &k, next, bytes);
    }
    load_cs_same_level(env, sel);
    if (is_call) {
        env->regs[R_ESP] = k.sp;
    }
    env->rip = off;
}

/* ---- LAR / LSL / VERR / VERW / ARPL ---- */

static void set_zf(CPUX86State *env, bool z)
{
    env->cc = z ? (env->cc | CC_Z) : (env->cc & ~(uint64_t)CC_Z);
}

/* The descriptor of sel if it is visible at CPL/RPL (for LAR/LSL/VERR/VERW), else false. */
static bool visible_desc(CPUX86State *env, uint16_t sel, uint64_t *d)
{
    if ((sel & 0xfffc) == 0) {
        return false;
    }
    const SegmentCache *t = (sel & 4) ? &env->ldt : NULL;
    uint64_t base = t ? t->base : env->gdt_base;
    uint32_t limit = t ? t->limit : env->gdt_limit;
    if ((sel & ~7u) + 7 > limit) {
        return false;
    }
    *d = x86_ld(env, base + (sel & ~7u), 8, MMU_KERNEL);
    uint32_t h = (uint32_t)(*d >> 32);
    int dpl = (h >> DESC_DPL_SHIFT) & 3, rpl = sel & 3;
    bool conforming_code = (h & DESC_S) && (h & (0xcu << DESC_TYPE_SHIFT)) == (0xcu << 8);
    if (!conforming_code && (dpl < env->cpl || dpl < rpl)) {
        return false;
    }
    return true;
}

/* LAR (info bit 0 clear) / LSL (set); bits 8..15: operand size. Returns the new destination
 * value, or old when ZF = 0. */
uint64_t helper_lar_lsl(CPUX86State *env, uint64_t selector, uint64_t old, uint64_t info)
{
    bool lsl = info & 1;
    int size = (int)(info >> 8) & 0xff;
    uint64_t d;
    if (!visible_desc(env, (uint16_t)selector, &d)) {
        set_zf(env, false);
        return old;
    }
    uint32_t h = (uint32_t)(d >> 32);
    if (!(h & DESC_S)) {
        unsigned type = (h >> DESC_TYPE_SHIFT) & 0xf;
        bool lm = env->efer & EFER_LMA;
        bool ok = lsl ? (lm ? (type == 2 || type == 9 || type == 0xb)
                            : (type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb))
                      : (lm ? (type == 2 || type == 9 || type == 0xb || type == 0xc)
                            : (type != 0 && type != 8 && type != 0xa && type != 0xd &&
                               type != 0xe && type != 0xf));
        if (!ok) {
            set_zf(env, false);
            return old;
        }
    }
    set_zf(env, true);
    uint64_t v;
    if (lsl) {
        SegmentCache sc;
        seg_from_desc(&sc, (uint16_t)selector, d);
        v = sc.limit;
    } else {
        v = h & 0x00f0ff00u;
    }
    return size == 16 ? (old & ~0xffffull) | (v & 0xffff) : (uint32_t)v;
}

/* VERR (write 0) / VERW (write 1): ZF = the segment is readable / writable at CPL */
void helper_verr_verw(CPUX86State *env, uint64_t selector, uint64_t write)
{
    uint64_t d;
    bool ok = visible_desc(env, (uint16_t)selector, &d);
    if (ok) {
        uint32_t h = (uint32_t)(d >> 32);
        bool code = h & (8u << DESC_TYPE_SHIFT), rw = h & (2u << DESC_TYPE_SHIFT);
        ok = (h & DESC_S) && (write ? (!code && rw) : (!code || rw));
    }
    set_zf(env, ok);
}

/* ARPL r/m16, r16: raise the destination's RPL to the source's (ZF = it changed) */
uint64_t helper_arpl(CPUX86State *env, uint64_t dst, uint64_t src)
{
    bool lower = (dst & 3) < (src & 3);
    set_zf(env, lower);
    return lower ? (dst & ~3ull) | (src & 3) : dst;
}

/* Flat 32-bit code or data segment (SYSENTER/SYSEXIT) */
static void set_flat_seg32(SegmentCache *sc, uint16_t sel, bool code, int dpl)
{
    set_flat_seg(sc, sel, code, dpl);
    if (code) {
        sc->flags = (sc->flags & ~DESC_L) | DESC_B;
    }
}

void helper_sysenter(CPUX86State *env)
{
    uint16_t cs = (uint16_t)env->sysenter_cs & 0xfffc;
    if (cs == 0) {
        raise_gp(env, 0);
    }
    env->eflags &= ~(uint64_t)(RFLAGS_VM | RFLAGS_IF | RFLAGS_RF);
    if (env->efer & EFER_LMA) {
        set_flat_seg(&env->segs[R_CS], cs, true, 0);
    } else {
        set_flat_seg32(&env->segs[R_CS], cs, true, 0);
    }
    set_flat_seg(&env->segs[R_SS], (uint16_t)(cs + 8), false, 0);
    env->cpl = 0;
    bool lm = env->efer & EFER_LMA;
    env->regs[R_ESP] = lm ? env->sysenter_esp : (uint32_t)env->sysenter_esp;
    env->rip = lm ? env->sysenter_eip : (uint32_t)env->sysenter_eip;
}

/* SYSEXIT (rexw: to 64-bit mode): CPL 3, ESP = ECX, EIP = EDX */
void helper_sysexit(CPUX86State *env, uint64_t rexw)
{
    uint16_t cs = (uint16_t)env->sysenter_cs & 0xfffc;
    if (cs == 0 || env->cpl != 0) {
        raise_gp(env, 0);
    }
    if (rexw) {
        set_flat_seg(&env->segs[R_CS], (uint16_t)((cs + 32) | 3), true, 3);
        set_flat_seg(&env->segs[R_SS], (uint16_t)((cs + 40) | 3), false, 3);
        env->regs[R_ESP] = env->regs[R_ECX];
        env->rip = env->regs[R_EDX];
    } else {
        set_flat_seg32(&env->segs[R_CS], (uint16_t)((cs + 16) | 3), true, 3);
        set_flat_seg(&env->segs[R_SS], (uint16_t)((cs + 24) | 3), false, 3);
        env->regs[R_ESP] = (uint32_t)env->regs[R_ECX];
        env->rip = (uint32_t)env->regs[R_EDX];
    }
    env->cpl = 3;
}

/*
 * SYSCALL: in long mode to LSTAR (from 64-bit mode) or CSTAR (from compatibility mode) in 64-bit
 * mode, RCX = return RIP, R11 = RFLAGS, RFLAGS &= ~SFMASK; outside long mode (AMD's legacy
 * form) to STAR[31:0] in flat 32-bit code, ECX = return EIP, IF/RF/VM cleared.
 */
void helper_syscall(CPUX86State *env, uint64_t next_rip)
{
    if (!(env->efer & EFER_SCE)) {
        x86_raise_exception(env, EXCP_UD, 0);
    }
    uint16_t cs = (uint16_t)(env->star >> 32) & 0xfffc;
    if (!(env->efer & EFER_LMA)) {
        env->regs[R_ECX] = (uint32_t)next_rip;
        set_flat_seg32(&env->segs[R_CS], cs, true, 0);
        set_flat_seg(&env->segs[R_SS], (uint16_t)(cs + 8), false, 0);
        env->cpl = 0;
        env->eflags &= ~(uint64_t)(RFLAGS_IF | RFLAGS_RF | RFLAGS_VM);
        env->rip = (uint32_t)env->star;
        return;
    }
    bool from64 = code64(env);
    env->regs[R_ECX] = next_rip;
    env->regs[11] = x86_get_rflags(env) & ~(uint64_t)RFLAGS_RF;
    set_flat_seg(&env->segs[R_CS], cs, true, 0);
    set_flat_seg(&env->segs[R_SS], (uint16_t)(cs + 8), false, 0);
    env->cpl = 0;
    uint64_t f = x86_get_rflags(env) & ~env->fmask & ~(uint64_t)RFLAGS_RF;
    x86_set_rflags(env, f);
    env->rip = from64 ? env->lstar : env->cstar;
}

/* SYSRET (long mode): REX.W to 64-bit mode at RCX (CS = STAR[63:48] + 16), else to
 * compatibility mode at ECX (CS = STAR[63:48]); SS = STAR[63:48] + 8; RFLAGS = R11; CPL 3. */
void helper_sysret(CPUX86State *env, uint64_t size_bits)
{
    if (!(env->efer & EFER_SCE)) {
        x86_raise_exception(env, EXCP_UD, 0);
    }
    if (env->cpl != 0 || !(env->efer & EFER_LMA)) {
        raise_gp(env, 0);
    }
    uint16_t base = (uint16_t)(env->star >> 48);
    uint64_t rcx = env->regs[R_ECX];
    if (size_bits == 64) {
        if ((uint64_t)((int64_t)(rcx << 16) >> 16) != rcx) {
            raise_gp(env, 0);
        }
        set_flat_seg(&env->segs[R_CS], (uint16_t)((base + 16) | 3), true, 3);
    } else {
        rcx = (uint32_t)rcx;
        set_flat_seg32(&env->segs[R_CS], (uint16_t)(base | 3), true, 3);
    }
    set_flat_seg(&env->segs[R_SS], (uint16_t)((base + 8) | 3), false, 3);
    env->cpl = 3;
    x86_set_rflags(env, (env->regs[11] & ~(uint64_t)(RFLAGS_RF | RFLAGS_VM)) | RFLAGS_FIXED);
    env->rip = rcx;
}

void helper_swapgs(CPUX86State *env)
{
    uint64_t t = env->gs_base;
    env->gs_base = env->kernel_gs_base;
    env->kernel_gs_base = t;
}

/* LGDT/LIDT (info bit 0: IDT), SGDT/SIDT (bit 1: store); operand size in bits 8..15: 64 in
 * 64-bit mode (8-byte base), 32 (4 bytes), 16 (a 24-bit base) */
void helper_dtable(CPUX86State *env, uint64_t addr, uint64_t info)
{
    bool idt = info & 1;
    int size = (int)(info >> 8) & 0xff;
    int mmu = x86_mmu_idx(env);
    int bb = size == 64 ? 8 : 4;
    uint64_t bmask = size == 64 ? ~0ull : size == 32 ? 0xffffffffull : 0xffffffull;
    if (!code64(env)) {
        addr = (uint32_t)addr;
    }
    if (info & 2) {
        x86_st(env, addr, idt ? env->idt_limit : env->gdt_limit, 2, mmu);
        x86_st(env, addr + 2, (idt ? env->idt_base : env->gdt_base) & bmask, bb, mmu);
        return;
    }
    uint32_t limit = (uint32_t)x86_ld(env, addr, 2, mmu);
    uint64_t base = x86_ld(env, addr + 2, bb, mmu) & bmask;
    if ((uint64_t)((int64_t)(base << 16) >> 16) != base) {
        raise_gp(env, 0);
    }
    if (idt) {
        env->idt_base = base;
        env->idt_limit = limit;
    } else {
        env->gdt_base = base;
        env->gdt_limit = limit;
    }
}

/* LLDT (is_tr 0) / LTR (is_tr 1): 16-byte system descriptors in long mode */
void helper_lldt_ltr(CPUX86State *env, uint64_t selector, uint64_t is_tr)
{
    uint16_t sel = (uint16_t)selector;
    SegmentCache *sc = is_tr ? &env->tr : &env->ldt;
    if ((sel & 0xfffc) == 0) {
        if (is_tr) {
            raise_gp(env, 0);
        }
        *sc = (SegmentCache){0};
        return;
    }
    if (sel & 4) {
        raise_gp(env, sel & 0xfffc);
    }
    bool lma = env->efer & EFER_LMA; /* 16-byte system descriptors in long mode */
    uint32_t off = sel & ~7u;
    if (off + (lma ? 15 : 7) > env->gdt_limit) {
        raise_gp(env, sel & 0xfffc);
    }
    uint64_t lo = ldq_kernel(env, env->gdt_base + off);
    uint64_t hi = lma ? ldq_kernel(env, env->gdt_base + off + 8) : 0;
    unsigned type = (unsigned)(lo >> 40) & 0x1f;
    bool ok = is_tr ? (type == 0x9 || (!lma && type == 0x1)) : type == 0x2;
    if (!ok) {
        raise_gp(env, sel & 0xfffc);
    }
    if (!(lo & (1ull << 47))) {
        x86_raise_exception(env, EXCP_NP, sel & 0xfffc);
    }
    seg_from_desc(sc, sel, lo);
    sc->base |= (hi & 0xffffffffull) << 32;
    if (is_tr) {
        /* mark busy in the GDT */
        x86_st(env, env->gdt_base + off + 5, ((lo >> 40) & 0xff) | 2, 1, MMU_KERNEL);
        sc->flags |= 2u << DESC_TYPE_SHIFT;
    }
}

/* ---- control registers ---- */

uint64_t helper_read_cr(CPUX86State *env, uint64_t n)
{
    if (n == 8) {
        const X86IrqChip *chip = x86_irq_chip();
        if (chip && chip->get_tpr) {
            vireo_lock();
            uint64_t v = chip->get_tpr(env->cpu_index);
            vireo_unlock();
            return v;
        }
    }
    return env->cr[n];
}

void helper_write_cr(CPUX86State *env, uint64_t n, uint64_t v)
{
    switch (n) {
    case 0: {
        if (v >> 32) {
            raise_gp(env, 0);
        }
        v |= CR0_ET;
        if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD))) {
            raise_gp(env, 0);
        }
        if ((env->efer & EFER_LMA) && !(v & CR0_PG)) {
            env->efer &= ~(uint64_t)EFER_LMA; /* leaving long mode: unsupported beyond this */
        }
        if (!(env->cr[0] & CR0_PG) && (v & CR0_PG) && (env->efer & EFER_LME)) {
            if (!(env->cr[4] & CR4_PAE)) {
                raise_gp(env, 0);
            }
            env->efer |= EFER_LMA;
        }
        env->cr[0] = v;
        x86_tlb_flush(env, true);
        break;
    }
    case 2:
        env->cr[2] = v;
        break;
    case 3:
        /* outside long mode, PAE's PDPT address has 32-byte alignment */
        env->cr[3] = (env->efer & EFER_LMA) ? v & 0x000ffffffffff018ull : (uint32_t)v;
        x86_tlb_flush(env, false);
        break;
    case 4: {
        uint64_t ok = 0x7ffffu & ~(1u << 12) & ~(1u << 11); /* no LA57, no UMIP */
        const uint32_t *f = x86_env_features(env);
        if (!(f[FW_1_ECX] & (1u << 26))) {
            ok &= ~(uint64_t)CR4_OSXSAVE; /* no XSAVE in CPUID: CR4.OSXSAVE is reserved */
        }
        if (!(f[FW_7_0_EBX] & 1u)) {
            ok &= ~(uint64_t)CR4_FSGSBASE;
        }
        if (v & ~ok) {
            raise_gp(env, 0);
        }
        if ((env->efer & EFER_LMA) && !(v & CR4_PAE)) {
            raise_gp(env, 0);
        }
        env->cr[4] = v;
        x86_tlb_flush(env, true);
        break;
    }
    case 8: {
        if (v & ~0xfull) {
            raise_gp(env, 0);
        }
        env->cr[8] = v;
        const X86IrqChip *chip = x86_irq_chip();
        if (chip && chip->set_tpr) {
            vireo_lock();
            chip->set_tpr(env->cpu_index, (uint8_t)v);
            vireo_unlock();
        }
        break;
    }
    default:
        x86_raise_exception(env, EXCP_UD, 0);
    }
}

/* MOV to or from DR4/DR5: DR6/DR7's aliases, #UD with CR4.DE (debugging extensions) */
void helper_check_dr45(CPUX86State *env)
{
    if (env->cr[4] & CR4_DE) {
        x86_raise_exception(env, EXCP_UD, 0);
    }
}

void helper_invlpg(CPUX86State *env, uint64_t addr)
{
    x86_tlb_flush_page(env, addr);
}

/* ---- MSRs ---- */

#define MSR_TSC            0x10
#define MSR_APIC_BASE      0x1b
#define MSR_MTRRCAP        0xfe
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176
#define MSR_MCG_CAP        0x179
#define MSR_MCG_STATUS     0x17a
#define MSR_MISC_ENABLE    0x1a0
#define MSR_PAT            0x277
#define MSR_MTRR_DEF_TYPE  0x2ff
#define MSR_EFER           0xc0000080
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_CSTAR          0xc0000083
#define MSR_FMASK          0xc0000084
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX        0xc0000103

static bool irqchip_msr(CPUX86State *env, uint32_t idx, uint64_t *v, bool wr)
{
    const X86IrqChip *chip = x86_irq_chip();
    if (!chip || !chip->msr) {
        return false;
    }
    vireo_lock();
    bool ok = chip->msr(env->cpu_index, idx, v, wr);
    vireo_unlock();
    return ok;
}

static uint64_t guest_tsc(CPUX86State *env)
{
    return x86_host_tsc() + env->tsc_offset;
}

void helper_rdmsr(CPUX86State *env)
{
    uint32_t idx = (uint32_t)env->regs[R_ECX];
    uint64_t v = 0;
    switch (idx) {
    case MSR_TSC:
        v = guest_tsc(env);
        break;
    case MSR_APIC_BASE:
        if (!irqchip_msr(env, idx, &v, false)) {
            v = env->apic_base;
        }
        break;
    case 0x6e0:
    case 0x800 ... 0x8ff:
        if (!irqchip_msr(env, idx, &v, false)) {
            raise_gp(env, 0);
        }
        break;
    case MSR_MTRRCAP:
        v = 0x508; /* 8 variable ranges, fixed ranges, write-combining */
        break;
    case MSR_SYSENTER_CS:
        v = env->sysenter_cs;
        break;
    case MSR_SYSENTER_ESP:
        v = env->sysenter_esp;
        break;
    case MSR_SYSENTER_EIP:
        v = env->sysenter_eip;
        break;
    case MSR_MCG_CAP:
    case MSR_MCG_STATUS:
        v = 0;
        break;
    case MSR_MISC_ENABLE:
        v = env->misc_enable;
        break;
    case MSR_PAT:
        v = env->pat;
        break;
    case MSR_MTRR_DEF_TYPE:
        v = env->mtrr_deftype;
        break;
    case 0x200 ... 0x20f: /* variable MTRRs */
    case 0x250:
    case 0x258:
    case 0x259:
    case 0x268 ... 0x26f:
        v = 0;
        break;
    case MSR_EFER:
        v = env->efer;
        break;
    case 0xc0010010: /* AMD SYSCFG */
    case 0xc0010015: /* AMD HWCR */
    case 0xc001001f: /* AMD NB_CFG */
    case 0xc0010114: /* AMD VM_CR */
    case 0xc0010055: /* AMD interrupt pending message */
    case 0xc0011022: /* AMD DC_CFG */
    case 0xc0011029: /* AMD DE_CFG */
    case 0x8b:       /* IA32_BIOS_SIGN_ID (microcode revision) */
        v = 0;
        break;
    case MSR_STAR:
        v = env->star;
        break;
    case MSR_LSTAR:
        v = env->lstar;
        break;
    case MSR_CSTAR:
        v = env->cstar;
        break;
    case MSR_FMASK:
        v = env->fmask;
        break;
    case MSR_FS_BASE:
        v = env->fs_base;
        break;
    case MSR_GS_BASE:
        v = env->gs_base;
        break;
    case MSR_KERNEL_GS_BASE:
        v = env->kernel_gs_base;
        break;
    case MSR_TSC_AUX:
        v = env->tsc_aux;
        break;
    default:
        v = 0; /* as QEMU 7.2's TCG: an MSR it does not know reads as 0 (no #GP) */
        break;
    }
    env->regs[R_EAX] = (uint32_t)v;
    env->regs[R_EDX] = v >> 32;
}

static void check_canonical(CPUX86State *env, uint64_t v)
{
    if ((uint64_t)((int64_t)(v << 16) >> 16) != v) {
        raise_gp(env, 0);
    }
}

void helper_wrmsr(CPUX86State *env)
{
    uint32_t idx = (uint32_t)env->regs[R_ECX];
    uint64_t v = (uint32_t)env->regs[R_EAX] | (env->regs[R_EDX] << 32);
    switch (idx) {
    case MSR_TSC:
        env->tsc_offset = v - x86_host_tsc();
        break;
    case MSR_APIC_BASE:
        if (!irqchip_msr(env, idx, &v, true)) {
            env->apic_base = (env->apic_base & 0x100) | (v & ~0x1ffull);
        }
        break;
    case 0x6e0:
    case 0x800 ... 0x8ff:
        if (!irqchip_msr(env, idx, &v, true)) {
            raise_gp(env, 0);
        }
        break;
    case MSR_SYSENTER_CS:
        env->sysenter_cs = v & 0xffff;
        break;
    case MSR_SYSENTER_ESP:
        check_canonical(env, v);
        env->sysenter_esp = v;
        break;
    case MSR_SYSENTER_EIP:
        check_canonical(env, v);
        env->sysenter_eip = v;
        break;
    case MSR_MCG_STATUS:
    case 0xc0010010:
    case 0xc0010015:
    case 0xc001001f:
    case 0xc0011022:
    case 0xc0011029:
    case 0x8b:
        break;
    case MSR_MISC_ENABLE:
        env->misc_enable = v;
        break;
    case MSR_PAT:
        env->pat = v;
        break;
    case MSR_MTRR_DEF_TYPE:
        env->mtrr_deftype = v;
        break;
    case 0x200 ... 0x20f:
    case 0x250:
    case 0x258:
    case 0x259:
    case 0x268 ... 0x26f:
        break;
    case MSR_EFER: {
        uint64_t ok = EFER_SCE | EFER_LME | EFER_NXE;
        if (v & ~(ok | EFER_LMA)) {
            raise_gp(env, 0);
        }
        if ((env->cr[0] & CR0_PG) && ((v ^ env->efer) & EFER_LME)) {
            raise_gp(env, 0);
        }
        env->efer = (env->efer & EFER_LMA) | (v & ok);
        x86_tlb_flush(env, true);
        break;
    }
    case MSR_STAR:
        env->star = v;
        break;
    case MSR_LSTAR:
        check_canonical(env, v);
        env->lstar = v;
        break;
    case MSR_CSTAR:
        check_canonical(env, v);
        env->cstar = v;
        break;
    case MSR_FMASK:
        env->fmask = v & 0xffffffffu;
        break;
    case MSR_FS_BASE:
        check_canonical(env, v);
        env->fs_base = v;
        break;
    case MSR_GS_BASE:
        check_canonical(env, v);
        env->gs_base = v;
        break;
    case MSR_KERNEL_GS_BASE:
        check_canonical(env, v);
        env->kernel_gs_base = v;
        break;
    case MSR_TSC_AUX:
        env->tsc_aux = v & 0xffffffffu;
        break;
    default:
        break; /* as QEMU 7.2's TCG: a write to an MSR it does not know is dropped (no #GP) */
    }
}

void helper_rdtsc(CPUX86State *env, uint64_t with_aux)
{
    uint64_t t = guest_tsc(env);
    env->regs[R_EAX] = (uint32_t)t;
    env->regs[R_EDX] = t >> 32;
    if (with_aux) {
        env->regs[R_ECX] = (uint32_t)env->tsc_aux;
    }
}

/* ---- CPUID: the -cpu model's leaves (target/x86/cpu-models.c) ---- */

void x86_cpuid(CPUX86State *env, uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
               uint32_t *d)
{
    const X86CPUDef *def = env->cpu_def ? env->cpu_def : x86_cpu_def_builtin(env->cpuid_max_model);
    X86CPUTopo topo = {env->apic_id, env->cpuid_threads, env->cpuid_cores};
    uint32_t r[4];
    x86_cpu_def_cpuid(def, &topo, leaf, sub, r);
    *a = r[0];
    *b = r[1];
    *c = r[2];
    *d = r[3];
}

void helper_cpuid(CPUX86State *env)
{
    uint32_t a, b, c, d;
    x86_cpuid(env, (uint32_t)env->regs[R_EAX], (uint32_t)env->regs[R_ECX], &a, &b, &c, &d);
    env->regs[R_EAX] = a;
    env->regs[R_EBX] = b;
    env->regs[R_ECX] = c;
    env->regs[R_EDX] = d;
}

/* ---- port I/O, flags ---- */

/* IN/OUT: allowed when CPL <= IOPL outside virtual-8086 mode, else (and always in virtual-8086
 * mode) only when the TSS's I/O permission bitmap has a clear bit for every port accessed. */
static void check_io(CPUX86State *env, uint16_t port, unsigned bytes)
{
    int iopl = (int)(env->eflags >> 12) & 3;
    if (real_mode(env) || (env->cpl <= iopl && !(env->eflags & RFLAGS_VM))) {
        return;
    }
    unsigned type = (env->tr.flags >> DESC_TYPE_SHIFT) & 0xf;
    if (!(env->tr.flags & DESC_P) || (type | 2) != 0xb || env->tr.limit < 103) {
        raise_gp(env, 0);
    }
    uint32_t off = (uint32_t)x86_ld(env, env->tr.base + 0x66, 2, MMU_KERNEL) + (port >> 3);
    if (off + 1 > env->tr.limit) {
        raise_gp(env, 0);
    }
    uint32_t bits = (uint32_t)x86_ld(env, env->tr.base + off, 2, MMU_KERNEL);
    if ((bits >> (port & 7)) & ((1u << bytes) - 1)) {
        raise_gp(env, 0);
    }
}

/* PUSHF and INT n in virtual-8086 mode (without CR4.VME): #GP(0) unless IOPL is 3 */
void helper_vm86_iopl(CPUX86State *env)
{
    if ((env->eflags & RFLAGS_VM) && ((env->eflags >> 12) & 3) != 3) {
        raise_gp(env, 0);
    }
}

uint64_t helper_in(CPUX86State *env, uint64_t port, uint64_t bytes)
{
    check_io(env, (uint16_t)port, (unsigned)bytes);
    uint32_t v = 0;
    pio_dispatch((uint16_t)port, &v, (unsigned)bytes, false); /* takes the big lock */
    return v;
}

void helper_out(CPUX86State *env, uint64_t port, uint64_t val, uint64_t bytes)
{
    check_io(env, (uint16_t)port, (unsigned)bytes);
    uint32_t v = (uint32_t)val;
    pio_dispatch((uint16_t)port, &v, (unsigned)bytes, true); /* takes the big lock */
}

/*
 * INS/OUTS with or without REP. info: bytes (1/2/4) | rep << 4 | asize (16/32/64) << 8 |
 * source segment (OUTS; 7 = DS) << 16 | legacy mode << 20 | OUTS << 21. The I/O permission is
 * checked first (also for a REP with a zero count), then each element: INS probes its store to
 * ES:rDI before reading the port (a #PF must not lose the port's data), OUTS loads DS:rSI
 * before writing the port. The index and count registers move per element within the address
 * size, so a fault leaves them at the faulting element and the instruction restarts there.
 * Between elements of a REP form a pending exit request (an interrupt, a stop) ends the helper
 * with the count left and RIP still at the instruction. With REP the caller ends the TB: RIP is
 * next_rip when the count ran out, else this instruction.
 */
void helper_string_io(CPUX86State *env, uint64_t info, uint64_t next_rip)
{
    unsigned bytes = (unsigned)(info & 15);
    bool rep = (info >> 4) & 1;
    int asize = (int)((info >> 8) & 0xff);
    int seg = (int)((info >> 16) & 7);
    bool legacy = (info >> 20) & 1, outs = (info >> 21) & 1;
    uint16_t port = (uint16_t)env->regs[R_EDX];
    check_io(env, port, bytes);
    uint64_t amask = asize == 16 ? 0xffffull : asize == 32 ? 0xffffffffull : ~0ull;
    uint64_t step = (env->eflags & RFLAGS_DF) ? (uint64_t) - (int64_t)bytes : bytes;
    uint64_t base;
    if (seg == 7) {
        seg = R_DS;
    }
    if (!outs) {
        base = legacy ? env->segs[R_ES].base : 0;
    } else if (legacy) {
        base = env->segs[seg].base;
    } else {
        base = seg == R_FS ? env->fs_base : seg == R_GS ? env->gs_base : 0;
    }
    int mmu = x86_mmu_idx(env);
    uint64_t *idx = &env->regs[outs ? R_ESI : R_EDI], *rcx = &env->regs[R_ECX];
    for (bool first = true;; first = false) {
        if (rep) {
            if ((*rcx & amask) == 0) {
                env->rip = next_rip;
                return;
            }
            if (!first && env->exit_request) {
                return; /* RIP stays at the instruction: the loop takes the interrupt first */
            }
        }
        uint64_t la = base + (*idx & amask);
        if (legacy) {
            la = (uint32_t)la;
            /* the segment's limit and type (docs/tcg.md, "Segment checks") */
            x86_seg_check(env, outs ? seg : R_ES, (uint32_t)(*idx & amask), bytes, !outs);
        }
        uint32_t v;
        if (outs) {
            v = (uint32_t)x86_ld(env, la, (int)bytes, mmu);
            pio_dispatch(port, &v, bytes, true); /* takes the big lock */
        } else {
            x86_probe_write(env, la, (int)bytes, mmu);
            v = 0;
            pio_dispatch(port, &v, bytes, false); /* takes the big lock */
            x86_st(env, la, v, (int)bytes, mmu);
        }
        uint64_t ni = (*idx & amask) + step;
        *idx = asize == 16 ? (*idx & ~0xffffull) | (ni & 0xffff) : asize == 32 ? (uint32_t)ni : ni;
        if (!rep) {
            return;
        }
        uint64_t c = (*rcx & amask) - 1;
        *rcx = asize == 16 ? (*rcx & ~0xffffull) | (c & 0xffff) : asize == 32 ? (uint32_t)c : c;
    }
}

/* POPF in system mode: IOPL only at CPL 0, IF only when CPL <= IOPL; VM/RF never; #GP(0) in
 * virtual-8086 mode with IOPL < 3. */
void helper_popf(CPUX86State *env, uint64_t v, uint64_t size_bits)
{
    helper_vm86_iopl(env);
    uint64_t mask = CC_MASK | RFLAGS_TF | RFLAGS_DF | RFLAGS_NT | RFLAGS_AC | RFLAGS_ID;
    int iopl = (int)(env->eflags >> 12) & 3;
    if (env->cpl == 0) {
        mask |= RFLAGS_IOPL;
    }
    if (env->cpl <= iopl) {
        mask |= RFLAGS_IF;
    }
    if (size_bits == 16) {
        mask &= 0xffff;
    }
    uint64_t old = x86_get_rflags(env);
    uint64_t nf = (old & ~mask) | (v & mask);
    if (!(old & RFLAGS_IF) && (nf & RFLAGS_IF)) {
        env->int_shadow = false; /* POPF has no interrupt shadow */
    }
    x86_set_rflags(env, nf);
}

/* CLI (0) / STI (1) */
void helper_cli_sti(CPUX86State *env, uint64_t set)
{
    int iopl = (int)(env->eflags >> 12) & 3;
    if (env->cpl > iopl) {
        raise_gp(env, 0);
    }
    if (set) {
        if (!(env->eflags & RFLAGS_IF)) {
            env->int_shadow = true;
        }
        env->eflags |= RFLAGS_IF;
    } else {
        env->eflags &= ~(uint64_t)RFLAGS_IF;
    }
}

char *x86_cpu_format_registers(CPUX86State *env)
{
    char *buf = malloc(2048);
    if (!buf) {
        return NULL;
    }
    const uint64_t *r = env->regs;
    snprintf(buf, 2048,
             "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
             "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
             "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
             "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
             "RIP=%016llx RFL=%08llx CPL=%d\n"
             "CS =%04x %016llx  SS =%04x %016llx\n"
             "GDT=     %016llx %08x\nIDT=     %016llx %08x\n"
             "CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx\nEFER=%016llx\n",
             (unsigned long long)r[0], (unsigned long long)r[3], (unsigned long long)r[1],
             (unsigned long long)r[2], (unsigned long long)r[6], (unsigned long long)r[7],
             (unsigned long long)r[5], (unsigned long long)r[4], (unsigned long long)r[8],
             (unsigned long long)r[9], (unsigned long long)r[10], (unsigned long long)r[11],
             (unsigned long long)r[12], (unsigned long long)r[13], (unsigned long long)r[14],
             (unsigned long long)r[15], (unsigned long long)env->rip,
             (unsigned long long)x86_get_rflags(env), env->cpl, env->segs[R_CS].selector,
             (unsigned long long)env->segs[R_CS].base, env->segs[R_SS].selector,
             (unsigned long long)env->segs[R_SS].base, (unsigned long long)env->gdt_base,
             env->gdt_limit, (unsigned long long)env->idt_base, env->idt_limit,
             (unsigned long long)env->cr[0], (unsigned long long)env->cr[2],
             (unsigned long long)env->cr[3], (unsigned long long)env->cr[4],
             (unsigned long long)env->efer);
    return buf;
}
