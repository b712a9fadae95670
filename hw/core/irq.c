/* Interrupt line handles (include/vireo/irq.h). */
#include <stdlib.h>
#include "vireo/irq.h"

IRQ *irq_new(IRQHandler handler, void *opaque, int n)
{
    IRQ *irq = calloc(1, sizeof(*irq));
    if (!irq) {
        abort();
    }
    irq->handler = handler;
    irq->opaque = opaque;
    irq->n = n;
    return irq;
}

void irq_free(IRQ *irq)
{
    free(irq);
}

IRQ **irq_new_array(IRQHandler handler, void *opaque, int count)
{
    IRQ **a = calloc((size_t)count, sizeof(*a));
    if (!a) {
        abort();
    }
    for (int i = 0; i < count; i++) {
        a[i] = irq_new(handler, opaque, i);
    }
    return a;
}

void irq_free_array(IRQ **irqs, int count)
{
    if (!irqs) {
        return;
    }
    for (int i = 0; i < count; i++) {
        irq_free(irqs[i]);
    }
    free(irqs);
}
