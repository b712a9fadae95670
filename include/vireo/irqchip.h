/*
 * The userspace interrupt controllers and timers of the PC (hw/intc, hw/timer/i8254.c),
 * built by the machine when the accelerator has no in-kernel irqchip (AccelOps
 * .has_kernel_irqchip false: TCG). They talk to the vCPUs through include/vireo/x86-irq.h.
 *
 *   ISA IRQ n ─┬─► i8259 pair (IRQ 0-15) ──INTR──► LAPIC LINT0 (ExtINT) of vCPU 0
 *              └─► IOAPIC pin n (GSI n, 0-23) ──► APIC bus ──► LAPIC IRR ──► vCPU
 *   LAPIC ICR ──► APIC bus (fixed, lowest priority, NMI, INIT, SIPI) ──► other LAPICs
 *   LAPIC EOI of a level-triggered vector ──► IOAPIC (clears remote IRR, re-delivers)
 *
 * GSI n goes to IOAPIC pin n, except ISA IRQ 0 which goes to pin 2 (the MADT's override and
 * QEMU's wiring; KVM gets the same routes). Everything here runs with vireo_lock() held: MMIO/PIO callbacks, X86IrqChip
 * callbacks and timer callbacks alike.
 *
 * Time: CLOCK_VIRTUAL of the timer service (vclock_ns(), timer.h). The LAPIC timer counts at 1 GHz
 * (one bus cycle per nanosecond, as in QEMU and KVM) before its divider; the PIT at
 * 1.193182 MHz. Timers run on one timer thread; unit tests replace the clock and run the
 * expired timers themselves.
 */
#ifndef VIREO_IRQCHIP_H
#define VIREO_IRQCHIP_H

#include <stdbool.h>
#include <stdint.h>

/* Clock and timers: the timer service (timer.h). */
#include "vireo/timer.h"

/*
 * The accelerator's side of x86-irq.h as the irqchip calls it: an accelerator without an
 * in-kernel irqchip (TCG) installs its table at init (and NULL at destroy); unit tests install
 * their own. Without one, kicks go nowhere, the TSC is the clock at 1 GHz.
 */
typedef struct IrqchipCpuHooks {
    void (*kick)(unsigned cpu);
    void (*nmi)(unsigned cpu);
    void (*init_signal)(unsigned cpu);
    void (*sipi)(unsigned cpu, uint8_t vector);
    int (*current)(void);
    uint64_t (*tsc)(unsigned cpu);
    uint64_t (*tsc_hz)(void);
} IrqchipCpuHooks;
void irqchip_set_cpu_hooks(const IrqchipCpuHooks *hooks); /* NULL: none */
extern const IrqchipCpuHooks *irqchip_cpu;

/*
 * The whole userspace irqchip: PIC pair, IOAPIC, one LAPIC per vCPU, the PIT and its
 * port 0x61, the timer thread (not with an injected clock: then the caller runs the timers);
 * registers itself with x86_irq_register(). apic_ids[i] is vCPU i's APIC ID. Returns 0 or -1
 * after error_report().
 */
int pc_irqchip_create(unsigned n_cpus, const uint32_t *apic_ids);
/* Machine teardown: unhook the chips (the device list frees them, newest first). */
void pc_irqchip_disconnect(void);
/* Unhook and free them (unit tests). */
void pc_irqchip_destroy(void);
/* Route an ISA IRQ / GSI to the PIC (0-15) and the IOAPIC. */
void pc_irqchip_set_irq(unsigned gsi, int level);
/* Where an edge on gsi can go now: bit 0 unmasked at the PIC, bit 1 at its IOAPIC pin. */
unsigned pc_irqchip_gsi_routes(unsigned gsi);

/*
 * Acknowledgements: the PIC's INTA of an IRQ, or a LAPIC taking a vector that an IOAPIC pin
 * sends, reports the GSI here. The PIT uses it to re-inject lost ticks (KVM's default policy).
 */
void irqchip_set_ack_notifier(void (*fn)(unsigned gsi, void *opaque), void *opaque);
void irqchip_irq_acked(unsigned gsi);

/* ---- i8259 PIC pair (hw/intc/i8259.c): ports 0x20-0x21, 0xa0-0xa1, ELCR 0x4d0-0x4d1 ---- */

typedef struct PICState PICState;
PICState *i8259_create(void);
void i8259_destroy(PICState *s);
void i8259_set_irq(PICState *s, unsigned irq, int level);
/* The INTR output: an interrupt waits for INTA. */
bool i8259_intr(const PICState *s);
/* The vector INTA would return now (without acknowledging), or -1 when INTR is low. */
int i8259_peek_vector(const PICState *s);
/* INTA: acknowledge and return the vector (the spurious IRQ7/IRQ15 vector if none). */
int i8259_ack(PICState *s);
/* Called whenever INTR may have changed (the irqchip kicks vCPU 0). */
void i8259_set_notify(PICState *s, void (*notify)(void *opaque), void *opaque);
/* IRQ irq is not masked in the IMR (nor, for 8-15, is the cascade). */
bool i8259_irq_unmasked(const PICState *s, unsigned irq);

/* ---- IOAPIC (hw/intc/ioapic.c) ---- */

#define IOAPIC_NUM_PINS 24
typedef struct IOAPICState IOAPICState;
IOAPICState *ioapic_create(uint64_t base, uint8_t id);
void ioapic_destroy(IOAPICState *s);
void ioapic_set_irq(IOAPICState *s, unsigned pin, int level);
/* A LAPIC EOI of level-triggered `vector`. */
void ioapic_eoi(IOAPICState *s, uint8_t vector);
/* Raw redirection entry (tests, debugging). */
uint64_t ioapic_get_entry(const IOAPICState *s, unsigned pin);
/* A LAPIC took `vector`: report the unmasked pins sending it to irqchip_irq_acked(). */
void ioapic_vector_acked(IOAPICState *s, uint8_t vector);

/* ---- local APICs (hw/intc/apic.c): MMIO page at 0xFEE00000 for every vCPU ---- */

typedef struct APICState APICState;

enum {
    APIC_DM_FIXED = 0,
    APIC_DM_LOWPRI = 1,
    APIC_DM_SMI = 2,
    APIC_DM_NMI = 4,
    APIC_DM_INIT = 5,
    APIC_DM_SIPI = 6,
    APIC_DM_EXTINT = 7
};

/* Create the LAPICs of n vCPUs (vCPU 0 is the BSP) and map the MMIO page at base. */
int apic_create_all(unsigned n, const uint32_t *apic_ids, uint64_t base);
void apic_destroy_all(void);
APICState *apic_get(unsigned cpu);
unsigned apic_count(void);
/* Where level-triggered EOIs go (the IOAPIC), and where ExtINT comes from (the PIC). */
void apic_set_ioapic(IOAPICState *ioapic);
void apic_set_pic(PICState *pic);
/* An interrupt message on the APIC bus (IOAPIC redirection, MSI, ICR). */
void apic_bus_deliver(uint32_t dest, bool logical, unsigned delivery_mode, uint8_t vector,
                      bool level_trig);
/* The PIC's INTR changed: wake the vCPUs whose LINT0 takes ExtINT. */
void apic_pic_intr_changed(void);

/* The X86IrqChip operations (x86-irq.h), also used directly by the tests. */
int apic_pending_vector(unsigned cpu);
void apic_ack(unsigned cpu, int vector);
uint8_t apic_get_cr8(unsigned cpu);
void apic_set_cr8(unsigned cpu, uint8_t cr8);
bool apic_msr(unsigned cpu, uint32_t index, uint64_t *value, bool is_write);
/* Register access by offset (xAPIC layout), as the MMIO page does for the current vCPU. */
uint32_t apic_reg_read(unsigned cpu, uint32_t offset);
void apic_reg_write(unsigned cpu, uint32_t offset, uint32_t val);

/* ---- i8254 PIT (hw/timer/i8254.c): ports 0x40-0x43 and 0x61 ---- */

#define PIT_FREQ 1193182
typedef struct PITState PITState;
PITState *i8254_create(void); /* IRQ0 through irq_set_level(0, ...) */
void i8254_destroy(PITState *s);
/* OUT of a channel now (tests) */
int i8254_get_out(PITState *s, int channel);

#endif
