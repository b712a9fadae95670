/*
 * Interrupt lines as handles (hw/core/irq.c). A device never knows a GSI number: it is given
 * an IRQ handle for each of its lines (ISA: isa_get_irq(); PCI: pci_set_irq() picks the pin's
 * line through the PCI host's routing) and drives its level. Whoever creates the handle decides
 * where the level goes: the PC's GSI lines forward to the accelerator (KVM_IRQ_LINE or the
 * userspace irqchip), PCI INTx lines to PIIX3's PIRQ router, which ORs every device sharing a
 * PIRQ before driving the GSI (wired-OR, level triggered).
 *
 * Handles are called with the big lock held (device callbacks, timers). Setting the level it
 * already has is allowed and cheap for the receivers here.
 */
#ifndef VIREO_IRQ_H
#define VIREO_IRQ_H

#include <stdbool.h>

typedef struct IRQ IRQ;
typedef void (*IRQHandler)(void *opaque, int n, int level);

struct IRQ {
    IRQHandler handler;
    void *opaque;
    int n;
};

/* A line whose level changes call handler(opaque, n, level). Free with irq_free(). */
IRQ *irq_new(IRQHandler handler, void *opaque, int n);
void irq_free(IRQ *irq);
/* An array of count lines n = 0..count-1 to the same handler (irq_free_array()). */
IRQ **irq_new_array(IRQHandler handler, void *opaque, int count);
void irq_free_array(IRQ **irqs, int count);

/* NULL-safe: a device whose line is not wired drives nothing. */
static inline void irq_set(IRQ *irq, int level)
{
    if (irq) {
        irq->handler(irq->opaque, irq->n, level);
    }
}
static inline void irq_raise(IRQ *irq)
{
    irq_set(irq, 1);
}
static inline void irq_lower(IRQ *irq)
{
    irq_set(irq, 0);
}
static inline void irq_pulse_line(IRQ *irq)
{
    irq_set(irq, 1);
    irq_set(irq, 0);
}

/*
 * The ISA interrupt lines 0-15 of the machine (ISA IRQ n is GSI n on the PC). NULL for an
 * out-of-range number or before the machine made them.
 */
IRQ *isa_get_irq(unsigned n);

#endif
