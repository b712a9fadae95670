/*
 * The interrupt interface between the TCG vCPUs (accel/tcg) and the userspace interrupt
 * controllers (hw/intc: i8259 PIC pair, IOAPIC, local APICs). Under KVM the kernel's irqchip
 * does all of this and nothing here is used.
 *
 * Two directions:
 *
 *   irqchip -> CPU   The irqchip installs an X86IrqChip with x86_irq_register() when the
 *                    machine is built with an accelerator that has no in-kernel irqchip (TCG).
 *                    A vCPU asks pending_vector() at translation-block boundaries and when it
 *                    sleeps in HLT, and calls ack() for the vector it takes. When the answer of
 *                    pending_vector() for a CPU may have changed (an IRR bit set, an EOI or TPR
 *                    write unmasked something, the PIC raised INTR), the irqchip calls
 *                    x86_cpu_kick(cpu): cheap, safe from any thread, lock held or not; it makes
 *                    that vCPU leave generated code at the next block boundary (or wake from
 *                    HLT) and ask again. Spurious kicks are harmless.
 *
 *   CPU -> irqchip   AccelOps.set_irq(gsi, level) forwards to X86IrqChip.set_irq. CR8 reads and
 *                    writes go to get_tpr/set_tpr, and the MSRs of the local APIC (IA32_APIC_BASE
 *                    0x1b, TSC_DEADLINE 0x6e0, x2APIC 0x800-0x8ff) to msr(). The LAPIC's MMIO page
 *                    is an ordinary mmio_register() range: its callbacks learn which CPU is
 *                    accessing from x86_cpu_current().
 *
 * Locking: every X86IrqChip callback is called with vireo_lock() held (the same lock the
 * irqchip's MMIO/PIO callbacks and the device threads hold). pending_vector() and the ack()
 * that follows it are called under one lock hold, so the answer cannot change between them.
 *
 * NMI, INIT and SIPI are edge events the LAPIC delivers by calling the accelerator directly
 * (x86_cpu_nmi, x86_cpu_init_signal, x86_cpu_sipi below).
 */
#ifndef VIREO_X86_IRQ_H
#define VIREO_X86_IRQ_H

#include <stdbool.h>
#include <stdint.h>

typedef struct X86IrqChip {
    /*
     * The highest-priority maskable interrupt ready for delivery to vCPU `cpu` (index
     * 0..smp.cpus-1, not APIC ID), as a vector 0..255, or -1 when none. Asked only when the CPU
     * can take it (RFLAGS.IF=1, no interrupt shadow); must not change state.
     */
    int (*pending_vector)(unsigned cpu);
    /* The CPU takes `vector` (the last answer of pending_vector): IRR -> ISR, PIC INTA. */
    void (*ack)(unsigned cpu, int vector);
    /* An interrupt line changed (AccelOps.set_irq). gsi 0-15 ISA IRQs, up to 23 IOAPIC pins. */
    void (*set_irq)(unsigned gsi, int level);
    /* CR8 (bits 3:0 = TPR[7:4]). Optional: when NULL the CPU keeps CR8 to itself. */
    uint8_t (*get_tpr)(unsigned cpu);
    void (*set_tpr)(unsigned cpu, uint8_t cr8);
    /*
     * RDMSR/WRMSR of 0x1b (APIC base), 0x6e0 and 0x800-0x8ff. Return false to make the
     * instruction raise #GP. Optional: when NULL, the CPU keeps APIC_BASE as a plain register
     * (BSP bit and 0xfee00000 | enable at reset) and the others #GP.
     */
    bool (*msr)(unsigned cpu, uint32_t index, uint64_t *value, bool is_write);
    /* An MSI message (address, data as a device writes them) onto the APIC bus. Optional. */
    void (*send_msi)(uint64_t addr, uint32_t data);
    /* Machine reset/teardown (AccelOps.destroy): forget every vCPU. Optional. */
    void (*reset)(void);
} X86IrqChip;

/* Install (or with NULL remove) the irqchip (hw/intc/irqchip.c keeps it; TCG asks for it). */
void x86_irq_register(const X86IrqChip *chip);
const X86IrqChip *x86_irq_chip(void);

/*
 * ---- provided by the accelerator (accel/tcg/tcg-all.c) ----
 * The irqchip reaches these through the IrqchipCpuHooks table TCG installs (irqchip.h).
 */

/* Something may be pending for `cpu`: leave generated code, wake from HLT, ask again. */
void x86_cpu_kick(unsigned cpu);
/* Non-maskable interrupt (vector 2), taken at the next block boundary whatever IF says. */
void x86_cpu_nmi(unsigned cpu);
/* INIT: the CPU resets to the wait-for-SIPI state (the BSP too, as on real hardware). */
void x86_cpu_init_signal(unsigned cpu);
/*
 * Startup IPI: a CPU waiting for SIPI starts in real mode at CS = vector << 8, IP = 0
 * (physical address vector << 12). Ignored by a CPU that is not waiting.
 */
void x86_cpu_sipi(unsigned cpu, uint8_t vector);
/* Index of the vCPU the calling thread runs, or -1 on any other thread (LAPIC MMIO). */
int x86_cpu_current(void);
/* The guest TSC of `cpu` now (the LAPIC's TSC-deadline timer compares against it). */
uint64_t x86_cpu_tsc(unsigned cpu);
/* Guest TSC ticks per second (constant; the TSC is invariant). */
uint64_t x86_tsc_hz(void);

#endif
