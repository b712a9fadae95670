/*
 * The local APIC of every vCPU (Intel SDM vol. 3, chapter 11): xAPIC registers in the MMIO
 * page at 0xFEE00000 (each vCPU sees its own: x86_cpu_current() says whose access it is) and
 * the x2APIC MSRs 0x800-0x8ff, the APIC base MSR, CR8, TSC_DEADLINE.
 *
 * Interrupt acceptance: IRR/ISR/TMR as 256-bit sets; PPR from TPR and the highest ISR class;
 * the CPU takes the highest IRR vector whose class is above PPR. A level-triggered vector
 * (TMR bit) sends its EOI on to the IOAPIC. When the APIC has nothing, the PIC's INTR comes
 * in through LINT0 if LINT0 is an unmasked ExtINT (or the APIC is hardware-disabled).
 *
 * The timer counts bus cycles at 1 GHz (one per nanosecond of vclock_ns()) divided by the
 * divide configuration register: one-shot, periodic, and TSC-deadline (MSR 0x6e0, compared
 * against x86_cpu_tsc() at x86_tsc_hz()).
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/device.h"
#include "vireo/error.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/vmstate.h"

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_CMCI, LVT_N };

#define LVT_MASKED        (1u << 16)
#define LVT_LEVEL         (1u << 15)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
#define TIMER_ONESHOT     0
#define TIMER_PERIODIC    1
#define TIMER_TSCDL       2

#define BASE_BSP    (1ull << 8)
#define BASE_EXTD   (1ull << 10)
#define BASE_ENABLE (1ull << 11)

#define SVR_ENABLE (1u << 8)

#define ESR_SEND_ILLEGAL 0x20
#define ESR_RECV_ILLEGAL 0x40

struct APICState {
    Device dev; /* "apic": one per vCPU */
    uint32_t index; /* vCPU index */
    uint32_t id;    /* APIC ID */
    uint64_t apicbase;
    uint8_t tpr;
    uint32_t ldr, dfr, svr;
    uint32_t esr, esr_pending;
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[LVT_N];
    uint32_t initial_count, dcr;
    int64_t count_start; /* vclock_ns() when the count was loaded */
    uint64_t tsc_deadline;
    uint64_t periods; /* periodic mode: periods accounted for since count_start */
    uint64_t owed;    /* periodic ticks lost to a late host or a busy guest, to re-inject */
    uint32_t irr[8], isr[8], tmr[8];
    VTimer timer;
};

static APICState **apics; /* by vCPU index */
static unsigned n_apics, n_realized;
static MemoryRegion apic_mmio; /* one page at 0xFEE00000: each vCPU sees its own LAPIC */
static uint64_t apic_mmio_base = 0xfee00000ull;
static IOAPICState *eoi_target;
static PICState *extint_pic;

/* ---- vector sets ------------------------------------------------------------------------ */

static void set_bit(uint32_t *v, unsigned n)
{
    v[n >> 5] |= 1u << (n & 31);
}

static void clear_bit(uint32_t *v, unsigned n)
{
    v[n >> 5] &= ~(1u << (n & 31));
}

static bool test_bit(const uint32_t *v, unsigned n)
{
    return v[n >> 5] & (1u << (n & 31));
}

static int highest_bit(const uint32_t *v)
{
    for (int i = 7; i >= 0; i--) {
        if (v[i]) {
            return i * 32 + 31 - __builtin_clz(v[i]);
        }
    }
    return -1;
}

/* ---- state ----------------------------------------------------------------------------- */

static bool hw_enabled(const APICState *a)
{
    return a->apicbase & BASE_ENABLE;
}

static bool sw_enabled(const APICState *a)
{
    return hw_enabled(a) && (a->svr & SVR_ENABLE);
}

static bool x2apic(const APICState *a)
{
    return (a->apicbase & (BASE_ENABLE | BASE_EXTD)) == (BASE_ENABLE | BASE_EXTD);
}

static uint32_t ppr(const APICState *a)
{
    int isrv = highest_bit(a->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (a->tpr & 0xf0) >= isr_class ? a->tpr : isr_class;
}

static void kick(APICState *a)
{
    irqchip_cpu->kick(a->index);
}

/* The vector the APIC itself would hand to the CPU now, or -1. */
static int apic_deliverable(const APICState *a)
{
    if (!sw_enabled(a)) {
        return -1;
    }
    int irrv = highest_bit(a->irr);
    if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (ppr(a) & 0xf0)) {
        return -1;
    }
    return irrv;
}

static bool accepts_pic(const APICState *a)
{
    if (!hw_enabled(a)) {
        return a->index == 0;
    }
    uint32_t lint0 = a->lvt[LVT_LINT0];
    return !(lint0 & LVT_MASKED) && ((lint0 >> 8) & 7) == APIC_DM_EXTINT;
}

static void timer_stop(APICState *a)
{
    vtimer_del(&a->timer);
}

static void apic_reset_regs(APICState *a)
{
    timer_stop(a);
    a->tpr = 0;
    a->ldr = 0;
    a->dfr = 0xffffffff;
    a->svr = 0xff;
    a->esr = a->esr_pending = 0;
    a->icr_lo = a->icr_hi = 0;
    for (int i = 0; i < LVT_N; i++) {
        a->lvt[i] = LVT_MASKED;
    }
    a->initial_count = 0;
    a->dcr = 0;
    a->count_start = 0;
    a->tsc_deadline = 0;
    a->owed = a->periods = 0;
    memset(a->irr, 0, sizeof(a->irr));
    memset(a->isr, 0, sizeof(a->isr));
    memset(a->tmr, 0, sizeof(a->tmr));
    if (x2apic(a)) {
        a->ldr = ((a->id >> 4) << 16) | (1u << (a->id & 0xf));
    }
}

static void lvt_fire(APICState *a, int lvt);

/* An error: latched for the next ESR write, signalled through the LVT error entry. */
static void apic_error(APICState *a, uint32_t bits)
{
    a->esr_pending |= bits;
    uint32_t v = a->lvt[LVT_ERROR];
    if (!(v & LVT_MASKED) && (v & 0xff) >= 16) {
        lvt_fire(a, LVT_ERROR);
    }
}

/* Accept a fixed/lowest-priority interrupt into the IRR. */
static void accept_irq(APICState *a, uint8_t vector, bool level)
{
    if (!sw_enabled(a)) {
        return;
    }
    if (vector < 16) {
        apic_error(a, ESR_RECV_ILLEGAL);
        return;
    }
    set_bit(a->irr, vector);
    if (level) {
        set_bit(a->tmr, vector);
    } else {
        clear_bit(a->tmr, vector);
    }
    kick(a);
}

static void deliver_local(APICState *a, unsigned dm, uint8_t vector, bool level)
{
    switch (dm) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWPRI:
        accept_irq(a, vector, level);
        break;
    case APIC_DM_NMI:
        irqchip_cpu->nmi(a->index);
        break;
    case APIC_DM_INIT:
        apic_reset_regs(a);
        irqchip_cpu->init_signal(a->index);
        break;
    case APIC_DM_SIPI:
        irqchip_cpu->sipi(a->index, vector);
        break;
    case APIC_DM_EXTINT:
        kick(a);
        break;
    default: /* SMI: no SMM */
        break;
    }
}

/* A local vector table entry fires (timer, error). */
static void lvt_fire(APICState *a, int lvt)
{
    uint32_t v = a->lvt[lvt];
    if (v & LVT_MASKED) {
        return;
    }
    unsigned dm = lvt == LVT_TIMER ? APIC_DM_FIXED : (v >> 8) & 7;
    deliver_local(a, dm, v & 0xff, false);
}

static bool match_dest(const APICState *a, uint32_t dest, bool logical)
{
    if (!hw_enabled(a)) {
        return false;
    }
    if (x2apic(a)) {
        if (dest == 0xffffffff) {
            return true;
        }
        if (!logical) {
            return dest == a->id;
        }
        return (dest >> 16) == (a->ldr >> 16) && (dest & a->ldr & 0xffff);
    }
    dest &= 0xff;
    if (dest == 0xff) {
        return true;
    }
    if (!logical) {
        return dest == (a->id & 0xff);
    }
    uint8_t ldr = a->ldr >> 24;
    if ((a->dfr >> 28) == 0xf) { /* flat model */
        return ldr & dest;
    }
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf); /* cluster model */
}

void apic_bus_deliver(uint32_t dest, bool logical, unsigned delivery_mode, uint8_t vector,
                      bool level_trig)
{
    if (delivery_mode == APIC_DM_LOWPRI) {
        /* Arbitration: the lowest task priority wins, the lowest index among equals. */
        APICState *best = NULL;
        for (unsigned i = 0; i < n_apics; i++) {
            APICState *a = apics[i];
            if (a && match_dest(a, dest, logical) && sw_enabled(a) && (!best || a->tpr < best->tpr)) {
                best = a;
            }
        }
        if (best) {
            deliver_local(best, delivery_mode, vector, level_trig);
        }
        return;
    }
    for (unsigned i = 0; i < n_apics; i++) {
        if (apics[i] && match_dest(apics[i], dest, logical)) {
            deliver_local(apics[i], delivery_mode, vector, level_trig);
        }
    }
}

static void send_ipi(APICState *a)
{
    uint32_t lo = a->icr_lo;
    unsigned dm = (lo >> 8) & 7;
    uint8_t vector = lo & 0xff;
    bool logical = lo & (1u << 11);
    bool assert = lo & (1u << 14);
    bool level = lo & (1u << 15);
    unsigned shorthand = (lo >> 18) & 3;
    if (dm == APIC_DM_INIT && !assert && level) {
        return; /* INIT level de-assert: arbitration IDs only */
    }
    if ((dm == APIC_DM_FIXED || dm == APIC_DM_LOWPRI) && vector < 16) {
        apic_error(a, ESR_SEND_ILLEGAL);
        return;
    }
    /* IPIs are edge-triggered: the level bit is meaningful only for INIT de-assert. */
    switch (shorthand) {
    case 0:
        apic_bus_deliver(x2apic(a) ? a->icr_hi : a->icr_hi >> 24, logical, dm, vector, false);
        break;
    case 1:
        deliver_local(a, dm, vector, false);
        break;
    case 2:
    case 3:
        for (unsigned i = 0; i < n_apics; i++) {
            if (apics[i] && (shorthand == 2 || apics[i] != a) && hw_enabled(apics[i])) {
                deliver_local(apics[i], dm == APIC_DM_LOWPRI ? APIC_DM_FIXED : dm, vector, false);
            }
        }
        break;
    }
}

static void eoi(APICState *a)
{
    int isrv = highest_bit(a->isr);
    if (isrv < 0) {
        return;
    }
    clear_bit(a->isr, isrv);
    if (test_bit(a->tmr, isrv) && eoi_target) {
        ioapic_eoi(eoi_target, isrv);
    }
    kick(a);
}

/* ---- timer ------------------------------------------------------------------------------ */

static unsigned divide_shift(const APICState *a)
{
    unsigned v = (a->dcr & 3) | ((a->dcr >> 1) & 4);
    return (v + 1) & 7;
}

static uint32_t current_count(const APICState *a)
{
    if (!a->initial_count || LVT_TIMER_MODE(a->lvt[LVT_TIMER]) == TIMER_TSCDL) {
        return 0;
    }
    int64_t ns = vclock_ns() - a->count_start;
    uint64_t ticks = ns < 0 ? 0 : (uint64_t)ns >> divide_shift(a);
    if (LVT_TIMER_MODE(a->lvt[LVT_TIMER]) == TIMER_PERIODIC) {
        return a->initial_count - (uint32_t)(ticks % a->initial_count);
    }
    return ticks >= a->initial_count ? 0 : a->initial_count - (uint32_t)ticks;
}

/* Arm the timer for the next expiry after `now` of the loaded count. */
static void timer_arm_count(APICState *a, int64_t now)
{
    if (!a->initial_count) {
        timer_stop(a);
        return;
    }
    uint64_t period = (uint64_t)a->initial_count << divide_shift(a);
    uint64_t elapsed = now > a->count_start ? (uint64_t)(now - a->count_start) : 0;
    if (LVT_TIMER_MODE(a->lvt[LVT_TIMER]) == TIMER_PERIODIC) {
        uint64_t n = elapsed / period + 1;
        vtimer_mod(&a->timer, a->count_start + (int64_t)(n * period));
    } else if (elapsed < period) {
        vtimer_mod(&a->timer, a->count_start + (int64_t)period);
    } else {
        timer_stop(a);
    }
}

static void timer_arm_deadline(APICState *a)
{
    if (!a->tsc_deadline) {
        timer_stop(a);
        return;
    }
    unsigned cpu = a->index;
    uint64_t tsc = irqchip_cpu->tsc(cpu);
    int64_t now = vclock_ns();
    if (a->tsc_deadline <= tsc) {
        vtimer_mod(&a->timer, now);
        return;
    }
    uint64_t delta = a->tsc_deadline - tsc;
    uint64_t hz = irqchip_cpu->tsc_hz();
    /* delta * 1e9 / hz without overflow for deltas up to years */
    uint64_t ns = delta / hz * 1000000000ull + delta % hz * 1000000000ull / hz;
    vtimer_mod(&a->timer, now + (int64_t)(ns > INT64_MAX / 2 ? INT64_MAX / 2 : ns));
}

/*
 * Periodic mode: ticks are not lost when the host runs the timer late or the guest has not taken
 * the previous one yet; they are owed and re-injected one per acknowledgement (at most one
 * second's worth), so a guest counting ticks keeps time.
 */
static void periodic_expired(APICState *a)
{
    uint64_t period = (uint64_t)a->initial_count << divide_shift(a);
    int64_t now = vclock_ns();
    uint64_t n = now > a->count_start ? (uint64_t)(now - a->count_start) / period : 0;
    uint64_t k = n > a->periods ? n - a->periods : 1;
    a->periods = n > a->periods ? n : a->periods + 1;
    uint32_t lvt = a->lvt[LVT_TIMER];
    if (lvt & LVT_MASKED) {
        a->owed = 0;
        return;
    }
    if (test_bit(a->irr, lvt & 0xff)) {
        a->owed += k;
    } else {
        lvt_fire(a, LVT_TIMER);
        a->owed += k - 1;
    }
    uint64_t max_owed = 1000000000ull / period + 1;
    a->owed = a->owed > max_owed ? max_owed : a->owed;
}

static void timer_reset_owed(APICState *a)
{
    a->owed = 0;
    a->periods = 0;
    if (a->initial_count) {
        int64_t now = vclock_ns();
        uint64_t period = (uint64_t)a->initial_count << divide_shift(a);
        a->periods = now > a->count_start ? (uint64_t)(now - a->count_start) / period : 0;
    }
}

static void timer_cb(void *opaque)
{
    APICState *a = opaque;
    switch (LVT_TIMER_MODE(a->lvt[LVT_TIMER])) {
    case TIMER_TSCDL:
        a->tsc_deadline = 0;
        lvt_fire(a, LVT_TIMER);
        break;
    case TIMER_PERIODIC:
        periodic_expired(a);
        timer_arm_count(a, vclock_ns());
        break;
    default:
        lvt_fire(a, LVT_TIMER);
        break;
    }
}

/* ---- registers -------------------------------------------------------------------------- */

static APICState *get(unsigned cpu)
{
    return cpu < n_apics ? apics[cpu] : NULL;
}

static uint32_t reg_read(APICState *a, uint32_t off)
{
    switch (off) {
    case 0x20:
        return x2apic(a) ? a->id : a->id << 24;
    case 0x30:
        return 0x00050014; /* version 0x14, six LVT entries */
    case 0x80:
        return a->tpr;
    case 0x90: /* APR: not used for delivery here */
        return 0;
    case 0xa0:
        return ppr(a);
    case 0xd0:
        return a->ldr;
    case 0xe0:
        return a->dfr;
    case 0xf0:
        return a->svr;
    case 0x280:
        return a->esr;
    case 0x2f0:
        return a->lvt[LVT_CMCI];
    case 0x300:
        return a->icr_lo & ~(1u << 12); /* delivery is instant: never "send pending" */
    case 0x310:
        return a->icr_hi;
    case 0x320:
    case 0x330:
    case 0x340:
    case 0x350:
    case 0x360:
    case 0x370:
        return a->lvt[(off - 0x320) >> 4];
    case 0x380:
        return a->initial_count;
    case 0x390:
        return current_count(a);
    case 0x3e0:
        return a->dcr;
    default:
        if (off >= 0x100 && off < 0x180) {
            return a->isr[(off - 0x100) >> 4];
        }
        if (off >= 0x180 && off < 0x200) {
            return a->tmr[(off - 0x180) >> 4];
        }
        if (off >= 0x200 && off < 0x280) {
            return a->irr[(off - 0x200) >> 4];
        }
        return 0;
    }
}

static const uint32_t lvt_write_mask[LVT_N] = {
    [LVT_TIMER] = 0x000700ff, /* vector, mask, timer mode (incl. TSC-deadline) */
    [LVT_THERMAL] = 0x000107ff, [LVT_PERF] = 0x000107ff,
    [LVT_LINT0] = 0x0001a7ff, /* + polarity, trigger */
    [LVT_LINT1] = 0x0001a7ff,   [LVT_ERROR] = 0x000100ff,
    [LVT_CMCI] = 0x000107ff,
};

static void write_lvt(APICState *a, int lvt, uint32_t val)
{
    uint32_t old = a->lvt[lvt];
    uint32_t mask = lvt_write_mask[lvt];
    uint32_t v = (old & ~mask) | (val & mask);
    if (!sw_enabled(a)) {
        v |= LVT_MASKED;
    }
    a->lvt[lvt] = v;
    if (lvt == LVT_TIMER && LVT_TIMER_MODE(old) != LVT_TIMER_MODE(v)) {
        /* a mode change disarms the timer */
        timer_stop(a);
        a->initial_count = 0;
        a->tsc_deadline = 0;
        a->owed = a->periods = 0;
    }
    if (lvt == LVT_LINT0) {
        kick(a);
    }
}

/* Returns false for a register that cannot be written (x2APIC #GP). */
static bool reg_write(APICState *a, uint32_t off, uint32_t val)
{
    switch (off) {
    case 0x20:
        if (!x2apic(a)) {
            a->id = val >> 24;
        }
        return !x2apic(a);
    case 0x80:
        a->tpr = val & 0xff;
        kick(a);
        return true;
    case 0xb0:
        eoi(a);
        return true;
    case 0xd0:
        if (x2apic(a)) {
            return false;
        }
        a->ldr = val & 0xff000000;
        return true;
    case 0xe0:
        if (x2apic(a)) {
            return false;
        }
        a->dfr = val | 0x0fffffff;
        return true;
    case 0xf0:
        a->svr = val & 0x13ff;
        if (!(a->svr & SVR_ENABLE)) {
            for (int i = 0; i < LVT_N; i++) {
                a->lvt[i] |= LVT_MASKED;
            }
        }
        kick(a);
        return true;
    case 0x280:
        a->esr = a->esr_pending;
        a->esr_pending = 0;
        return true;
    case 0x2f0:
        write_lvt(a, LVT_CMCI, val);
        return true;
    case 0x300:
        a->icr_lo = val;
        send_ipi(a);
        return true;
    case 0x310:
        a->icr_hi = val;
        return true;
    case 0x320:
    case 0x330:
    case 0x340:
    case 0x350:
    case 0x360:
    case 0x370:
        write_lvt(a, (off - 0x320) >> 4, val);
        return true;
    case 0x380:
        if (LVT_TIMER_MODE(a->lvt[LVT_TIMER]) == TIMER_TSCDL) {
            return true; /* ignored in TSC-deadline mode */
        }
        a->initial_count = val;
        a->count_start = vclock_ns();
        timer_reset_owed(a);
        timer_arm_count(a, a->count_start);
        return true;
    case 0x3e0: {
        /* keep the count where it is under the new divider */
        uint32_t cur = current_count(a);
        a->dcr = val & 0xb;
        if (a->initial_count && LVT_TIMER_MODE(a->lvt[LVT_TIMER]) != TIMER_TSCDL) {
            uint64_t done = (uint64_t)(a->initial_count - cur) << divide_shift(a);
            a->count_start = vclock_ns() - (int64_t)done;
            timer_reset_owed(a);
            timer_arm_count(a, vclock_ns());
        }
        return true;
    }
    default:
        /* read-only or reserved */
        return !x2apic(a) || off == 0x30 ? true : false;
    }
}

uint32_t apic_reg_read(unsigned cpu, uint32_t offset)
{
    APICState *a = get(cpu);
    return a ? reg_read(a, offset & 0xff0) : 0;
}

void apic_reg_write(unsigned cpu, uint32_t offset, uint32_t val)
{
    APICState *a = get(cpu);
    if (a) {
        reg_write(a, offset & 0xff0, val);
    }
}

static uint64_t mmio_read(void *opaque, uint64_t addr, unsigned size)
{
    int cpu = irqchip_cpu->current();
    APICState *a = cpu >= 0 ? get((unsigned)cpu) : NULL;
    if (!a || !hw_enabled(a) || x2apic(a)) {
        return 0;
    }
    uint32_t v = reg_read(a, addr & 0xff0);
    return size >= 4 ? v : v >> (8 * (addr & 3));
}

static void mmio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    int cpu = irqchip_cpu->current();
    APICState *a = cpu >= 0 ? get((unsigned)cpu) : NULL;
    if (!a || !hw_enabled(a) || x2apic(a)) {
        return;
    }
    reg_write(a, addr & 0xff0, (uint32_t)val);
}

static const IOOps apic_mmio_ops = {.read = mmio_read, .write = mmio_write};

/* ---- X86IrqChip ------------------------------------------------------------------------- */

int apic_pending_vector(unsigned cpu)
{
    APICState *a = get(cpu);
    if (!a) {
        return -1;
    }
    int v = apic_deliverable(a);
    if (v >= 0) {
        return v;
    }
    if (extint_pic && accepts_pic(a) && i8259_intr(extint_pic)) {
        return i8259_peek_vector(extint_pic);
    }
    return -1;
}

void apic_ack(unsigned cpu, int vector)
{
    APICState *a = get(cpu);
    if (!a) {
        return;
    }
    int v = apic_deliverable(a);
    if (v >= 0 && v == vector) {
        clear_bit(a->irr, v);
        set_bit(a->isr, v);
        uint32_t lvt = a->lvt[LVT_TIMER];
        if (a->owed && v == (int)(lvt & 0xff) && !(lvt & LVT_MASKED) &&
            LVT_TIMER_MODE(lvt) == TIMER_PERIODIC && a->initial_count) {
            a->owed--;
            set_bit(a->irr, v); /* the next owed tick, taken after this one's EOI */
        }
        if (eoi_target) {
            ioapic_vector_acked(eoi_target, v);
        }
        return;
    }
    if (extint_pic && accepts_pic(a) && i8259_intr(extint_pic)) {
        i8259_ack(extint_pic);
    }
}

uint8_t apic_get_cr8(unsigned cpu)
{
    APICState *a = get(cpu);
    return a ? a->tpr >> 4 : 0;
}

void apic_set_cr8(unsigned cpu, uint8_t cr8)
{
    APICState *a = get(cpu);
    if (a) {
        a->tpr = (cr8 & 0xf) << 4;
        kick(a);
    }
}

static bool set_apicbase(APICState *a, uint64_t val)
{
    if (val & 0x2ffull) {
        return false; /* reserved bits */
    }
    val = (val & ~BASE_BSP) | (a->apicbase & BASE_BSP);
    bool was_x2 = x2apic(a), was_en = hw_enabled(a);
    bool en = val & BASE_ENABLE, x2 = (val & BASE_EXTD) != 0;
    if (x2 && !en) {
        return false; /* invalid state */
    }
    if (was_x2 && en && !x2) {
        return false; /* x2APIC -> xAPIC must go through disabled */
    }
    if (!was_en && x2) {
        return false; /* disabled -> x2APIC must go through xAPIC */
    }
    a->apicbase = val;
    if (!en) {
        apic_reset_regs(a);
    } else if (x2 && !was_x2) {
        a->ldr = ((a->id >> 4) << 16) | (1u << (a->id & 0xf));
    }
    kick(a);
    return true;
}

bool apic_msr(unsigned cpu, uint32_t index, uint64_t *value, bool is_write)
{
    APICState *a = get(cpu);
    if (!a) {
        return false;
    }
    if (index == 0x1b) {
        if (is_write) {
            return set_apicbase(a, *value);
        }
        *value = a->apicbase;
        return true;
    }
    if (index == 0x6e0) {
        if (is_write) {
            if (LVT_TIMER_MODE(a->lvt[LVT_TIMER]) == TIMER_TSCDL) {
                a->tsc_deadline = *value;
                timer_arm_deadline(a);
            }
        } else {
            *value = a->tsc_deadline;
        }
        return true;
    }
    if (index < 0x800 || index > 0x8ff || !x2apic(a)) {
        return false;
    }
    uint32_t off = (index - 0x800) << 4;
    if (!is_write) {
        if (off == 0x300) {
            *value = (uint64_t)a->icr_hi << 32 | reg_read(a, 0x300);
            return true;
        }
        if (off == 0xe0 || off == 0x310 || off == 0x3f0 || off == 0xb0) {
            return false; /* DFR, ICR high, SELF IPI, EOI: not readable */
        }
        *value = reg_read(a, off);
        return true;
    }
    switch (off) {
    case 0x300:
        a->icr_hi = (uint32_t)(*value >> 32);
        a->icr_lo = (uint32_t)*value;
        send_ipi(a);
        return true;
    case 0x3f0: /* SELF IPI */
        accept_irq(a, *value & 0xff, false);
        return true;
    case 0xb0:
        if (*value) {
            return false;
        }
        eoi(a);
        return true;
    case 0x20:
    case 0x30:
    case 0x310:
    case 0x390:
    case 0xa0:
        return false;
    default:
        if (off >= 0x100 && off < 0x280) {
            return false; /* ISR, TMR, IRR */
        }
        return reg_write(a, off, (uint32_t)*value);
    }
}

void apic_pic_intr_changed(void)
{
    for (unsigned i = 0; i < n_apics; i++) {
        if (apics[i] && accepts_pic(apics[i])) {
            kick(apics[i]);
        }
    }
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static bool apic_realize(Device *dev, char **errp)
{
    APICState *a = (APICState *)dev;
    if (a->index >= n_apics || apics[a->index]) {
        *errp = g_strdup_printf("apic: no vCPU %u to attach to", a->index);
        return false;
    }
    vtimer_init(&a->timer, timer_cb, a);
    apics[a->index] = a;
    if (n_realized++ == 0) {
        memory_region_init_io(&apic_mmio, "apic-msi", &apic_mmio_ops, NULL, 0x1000);
        memory_region_add_subregion(get_system_memory(), apic_mmio_base, &apic_mmio, 0);
    }
    return true;
}

static void apic_unrealize(Device *dev)
{
    APICState *a = (APICState *)dev;
    vtimer_del(&a->timer);
    if (a->index < n_apics && apics[a->index] == a) {
        apics[a->index] = NULL;
    }
    if (--n_realized == 0) {
        memory_region_destroy(&apic_mmio);
    }
}

/*
 * Power-on (and machine reset): enabled at 0xFEE00000, the BSP flag on vCPU 0, registers
 * cleared; LINT0 as ExtINT on the BSP (the virtual wire QEMU's reset sets up, so the PIC reaches
 * it) and LINT1 as NMI on every CPU, as the firmware leaves them for a kernel.
 */
static void apic_reset(Device *dev)
{
    APICState *a = (APICState *)dev;
    a->apicbase = apic_mmio_base | BASE_ENABLE | (a->index == 0 ? BASE_BSP : 0);
    apic_reset_regs(a);
    a->lvt[LVT_LINT0] = a->index == 0 ? (APIC_DM_EXTINT << 8) : LVT_MASKED;
    a->lvt[LVT_LINT1] = APIC_DM_NMI << 8;
}

static const Property apic_props[] = {
    DEFINE_PROP_(("id"), PROP_UINT32, APICState, id, false, .def.u = 0),
    DEFINE_PROP_(("index"), PROP_UINT32, APICState, index, true, .def.u = 0, .internal = true),
    DEFINE_PROP_END,
};

static const VMStateField apic_fields[] = {
    VMSTATE_UINT64(apicbase, APICState),
    VMSTATE_UINT32(id, APICState),
    VMSTATE_UINT8(tpr, APICState),
    VMSTATE_UINT32(ldr, APICState),
    VMSTATE_UINT32(dfr, APICState),
    VMSTATE_UINT32(svr, APICState),
    VMSTATE_UINT32(esr, APICState),
    VMSTATE_UINT32(esr_pending, APICState),
    VMSTATE_UINT32(icr_lo, APICState),
    VMSTATE_UINT32(icr_hi, APICState),
    VMSTATE_UINT32_ARRAY(lvt, APICState, LVT_N),
    VMSTATE_UINT32(initial_count, APICState),
    VMSTATE_UINT32(dcr, APICState),
    VMSTATE_INT64(count_start, APICState),
    VMSTATE_UINT64(tsc_deadline, APICState),
    VMSTATE_UINT32_ARRAY(irr, APICState, 8),
    VMSTATE_UINT32_ARRAY(isr, APICState, 8),
    VMSTATE_UINT32_ARRAY(tmr, APICState, 8),
    VMSTATE_TIMER(timer, APICState),
    VMSTATE_END_OF_LIST(),
};
static const VMStateDescription apic_vmsd = {
    .name = "apic", .version = 3, .minimum_version = 3, .fields = apic_fields};

const DeviceInfo apic_info = {
    .name = "apic",
    .category = DEVICE_CATEGORY_NONE,
    .bus = BUS_NONE,
    .instance_size = sizeof(APICState),
    .props = apic_props,
    .realize = apic_realize,
    .unrealize = apic_unrealize,
    .reset = apic_reset,
    .vmsd = &apic_vmsd,
    .qom_parent = "apic-common",
};

int apic_create_all(unsigned n, const uint32_t *apic_ids, uint64_t base)
{
    apic_destroy_all();
    apics = calloc(n, sizeof(*apics));
    if (!apics) {
        error_report("out of memory for %u local APICs", n);
        return -1;
    }
    n_apics = n;
    apic_mmio_base = base;
    for (unsigned i = 0; i < n; i++) {
        APICState *a = (APICState *)device_new(&apic_info);
        a->index = i;
        a->id = apic_ids[i];
        char *err = NULL;
        if (!device_realize(&a->dev, &err)) {
            error_report("%s", err);
            g_free(err);
            device_free(&a->dev);
            return -1;
        }
    }
    return 0;
}

void apic_destroy_all(void)
{
    for (unsigned i = 0; i < n_apics; i++) {
        if (apics[i]) {
            device_free(&apics[i]->dev);
        }
    }
    free(apics);
    apics = NULL;
    n_apics = 0;
    eoi_target = NULL;
    extint_pic = NULL;
}

APICState *apic_get(unsigned cpu)
{
    return get(cpu);
}

unsigned apic_count(void)
{
    return n_apics;
}

void apic_set_ioapic(IOAPICState *ioapic)
{
    eoi_target = ioapic;
}

void apic_set_pic(PICState *pic)
{
    extint_pic = pic;
}
