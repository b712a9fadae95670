/*
 * The userspace irqchip as one piece: GSI routing to the PIC and IOAPIC, and the X86IrqChip
 * the TCG vCPUs call (include/vireo/irqchip.h, include/vireo/x86-irq.h). Timers are the timer
 * service's (hw/core/timer.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vireo/error.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/machine.h"
#include "vireo/x86-irq.h"
#include "vireo/x86.h"

/* ---- the accelerator's side ------------------------------------------------------------ */

static const X86IrqChip *registered_chip;

void x86_irq_register(const X86IrqChip *chip)
{
    registered_chip = chip;
}

const X86IrqChip *x86_irq_chip(void)
{
    return registered_chip;
}

static void nop_cpu(unsigned cpu)
{
    (void)cpu;
}

static void nop_sipi(unsigned cpu, uint8_t vector)
{
    (void)cpu;
    (void)vector;
}

static int no_current(void)
{
    return -1;
}

/* Without an accelerator TSC: nanoseconds of the clock (1 GHz). */
static uint64_t clock_tsc(unsigned cpu)
{
    (void)cpu;
    return (uint64_t)vclock_ns();
}

static uint64_t clock_tsc_hz(void)
{
    return 1000000000ull;
}

static const IrqchipCpuHooks no_hooks = {
    .kick = nop_cpu,
    .nmi = nop_cpu,
    .init_signal = nop_cpu,
    .sipi = nop_sipi,
    .current = no_current,
    .tsc = clock_tsc,
    .tsc_hz = clock_tsc_hz,
};
const IrqchipCpuHooks *irqchip_cpu = &no_hooks;

void irqchip_set_cpu_hooks(const IrqchipCpuHooks *hooks)
{
    irqchip_cpu = hooks ? hooks : &no_hooks;
}

/* ---- the PC's irqchip ------------------------------------------------------------------- */

static PICState *pc_pic;
static IOAPICState *pc_ioapic;
static PITState *pc_pit;

/* The IOAPIC pin of a GSI: ISA IRQ 0 is wired to pin 2 (the MADT's override), as on QEMU's pc. */
static unsigned ioapic_pin(unsigned gsi)
{
    return gsi == 0 ? 2 : gsi;
}

void pc_irqchip_set_irq(unsigned gsi, int level)
{
    if (gsi < 16 && pc_pic) {
        i8259_set_irq(pc_pic, gsi, level);
    }
    if (pc_ioapic && gsi < IOAPIC_NUM_PINS && gsi != 2) {
        ioapic_set_irq(pc_ioapic, ioapic_pin(gsi), level);
    }
}

unsigned pc_irqchip_gsi_routes(unsigned gsi)
{
    unsigned r = 0;
    if (pc_pic && gsi < 16 && i8259_irq_unmasked(pc_pic, gsi)) {
        r |= 1;
    }
    if (pc_ioapic && gsi < IOAPIC_NUM_PINS && gsi != 2 &&
        !(ioapic_get_entry(pc_ioapic, ioapic_pin(gsi)) & (1u << 16))) {
        r |= 2;
    }
    return r;
}

static void (*ack_notify)(unsigned gsi, void *opaque);
static void *ack_opaque;

void irqchip_set_ack_notifier(void (*fn)(unsigned gsi, void *opaque), void *opaque)
{
    ack_notify = fn;
    ack_opaque = opaque;
}

void irqchip_irq_acked(unsigned gsi)
{
    if (ack_notify) {
        ack_notify(gsi, ack_opaque);
    }
}

static void pic_notify(void *opaque)
{
    (void)opaque;
    apic_pic_intr_changed();
}

static void chip_reset(void)
{
}

/* An MSI write: address 0xFEExxxxx (destination in bits 19:12, logical mode bit 2), data
 * (vector, delivery mode, level/trigger), onto the APIC bus as an IOAPIC message would go. */
static void pc_irqchip_send_msi(uint64_t addr, uint32_t data)
{
    if ((addr & 0xfff00000u) != 0xfee00000u) {
        return; /* not an interrupt message: a DMA write outside RAM, dropped */
    }
    uint32_t dest = (uint32_t)(addr >> 12) & 0xff;
    bool logical = addr & (1u << 2);
    unsigned mode = (data >> 8) & 7;
    bool level = data & (1u << 15);
    apic_bus_deliver(dest, logical, mode, (uint8_t)data, level);
}

static const X86IrqChip pc_chip = {
    .send_msi = pc_irqchip_send_msi,
    .pending_vector = apic_pending_vector,
    .ack = apic_ack,
    .set_irq = pc_irqchip_set_irq,
    .get_tpr = apic_get_cr8,
    .set_tpr = apic_set_cr8,
    .msr = apic_msr,
    .reset = chip_reset,
};

/*
 * The chips are devices of the model ("isa-i8259", "ioapic", one "apic" per vCPU, "isa-pit"),
 * on the machine's device list in that order: reset and teardown come from the list.
 */
int pc_irqchip_create(unsigned n_cpus, const uint32_t *apic_ids)
{
    pc_pic = i8259_create();
    if (!pc_pic) {
        return -1;
    }
    i8259_set_notify(pc_pic, pic_notify, NULL);
    pc_ioapic = ioapic_create(PC_IOAPIC_BASE, 0);
    if (!pc_ioapic || apic_create_all(n_cpus, apic_ids, PC_LAPIC_BASE) < 0) {
        return -1;
    }
    apic_set_ioapic(pc_ioapic);
    apic_set_pic(pc_pic);
    pc_pit = i8254_create();
    if (!pc_pit) {
        return -1;
    }
    x86_irq_register(&pc_chip);
    return 0;
}

void pc_irqchip_disconnect(void)
{
    x86_irq_register(NULL);
    pc_pit = NULL;
    pc_ioapic = NULL;
    pc_pic = NULL;
}

/* Tests: disconnect and free the chips (the machine lets its device list do that). */
void pc_irqchip_destroy(void)
{
    PITState *pit = pc_pit;
    IOAPICState *ioapic = pc_ioapic;
    PICState *pic = pc_pic;
    pc_irqchip_disconnect();
    i8254_destroy(pit);
    apic_destroy_all();
    ioapic_destroy(ioapic);
    i8259_destroy(pic);
}
