/*
 * i8259 PIC pair (hw/intc/i8259.c) driven through its ports with pio_dispatch() and through
 * INTA (i8259_ack): initialisation words, priorities and EOI, masking, cascade, ELCR level
 * mode, auto-EOI, poll, rotation, special mask mode, spurious IRQ7.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "../lib/unit.h"

static PICState *pic;
static int notifications;

static void outb(uint16_t port, uint8_t v)
{
    pio_dispatch(port, &v, 1, true);
}

static uint8_t inb(uint16_t port)
{
    uint8_t v = 0;
    pio_dispatch(port, &v, 1, false);
    return v;
}

static void notify(void *opaque)
{
    (void)opaque;
    notifications++;
}

/* Linux's init_8259A: vectors 0x20/0x28, cascade on IR2, 8086 mode, optional auto-EOI. */
static void init_pics(bool aeoi)
{
    io_reset_all();
    if (pic) {
        i8259_destroy(pic);
    }
    pic = i8259_create();
    i8259_set_notify(pic, notify, NULL);
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, aeoi ? 0x03 : 0x01);
    outb(0xa0, 0x11);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0x21, 0x00);
    outb(0xa1, 0x00);
}

static uint8_t read_isr(uint16_t cmd)
{
    outb(cmd, 0x0b);
    uint8_t v = inb(cmd);
    outb(cmd, 0x0a);
    return v;
}

static void pulse(unsigned irq)
{
    i8259_set_irq(pic, irq, 1);
    i8259_set_irq(pic, irq, 0);
}

int main(void)
{
    init_pics(false);
    CHECK("pic-idle", !i8259_intr(pic) && i8259_peek_vector(pic) == -1);
    CHECK("pic-imr-read", inb(0x21) == 0 && inb(0xa1) == 0);

    /* edge IRQ1 */
    notifications = 0;
    i8259_set_irq(pic, 1, 1);
    CHECK("pic-edge-raises-intr", i8259_intr(pic) && notifications > 0);
    CHECK("pic-irr", inb(0x20) == 0x02);
    CHECK("pic-peek-vector", i8259_peek_vector(pic) == 0x21 && i8259_intr(pic));
    CHECK("pic-ack-vector", i8259_ack(pic) == 0x21);
    CHECK("pic-isr-after-ack", read_isr(0x20) == 0x02 && inb(0x20) == 0);
    CHECK("pic-edge-consumed", !i8259_intr(pic));
    i8259_set_irq(pic, 1, 1); /* still high: no new edge */
    CHECK("pic-no-edge-while-high", !i8259_intr(pic));
    i8259_set_irq(pic, 1, 0);
    outb(0x20, 0x20); /* non-specific EOI */
    CHECK("pic-eoi-clears-isr", read_isr(0x20) == 0);

    /* priorities: 3 and 5 pending -> 3 first; 5 waits for 3's EOI; 0 preempts */
    pulse(3);
    pulse(5);
    CHECK("pic-prio-first", i8259_ack(pic) == 0x23);
    CHECK("pic-lower-blocked", !i8259_intr(pic));
    pulse(0);
    CHECK("pic-higher-preempts", i8259_intr(pic) && i8259_ack(pic) == 0x20);
    CHECK("pic-nested-isr", read_isr(0x20) == 0x09);
    outb(0x20, 0x20); /* EOI for IRQ0 (highest in service) */
    CHECK("pic-eoi-highest", read_isr(0x20) == 0x08 && !i8259_intr(pic));
    outb(0x20, 0x63); /* specific EOI IRQ3 */
    CHECK("pic-specific-eoi", read_isr(0x20) == 0 && i8259_ack(pic) == 0x25);
    outb(0x20, 0x20);

    /* masking */
    outb(0x21, 0x02);
    pulse(1);
    CHECK("pic-masked", !i8259_intr(pic) && inb(0x20) == 0x02);
    outb(0x21, 0x00);
    CHECK("pic-unmask-delivers", i8259_intr(pic) && i8259_ack(pic) == 0x21);
    outb(0x20, 0x20);

    /* cascade: IRQ10 through the slave */
    pulse(10);
    CHECK("pic-cascade-vector", i8259_peek_vector(pic) == 0x2a && i8259_ack(pic) == 0x2a);
    CHECK("pic-cascade-isr", read_isr(0x20) == 0x04 && read_isr(0xa0) == 0x04);
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    CHECK("pic-cascade-eoi", read_isr(0x20) == 0 && read_isr(0xa0) == 0);
    outb(0xa1, 0x04);
    pulse(10);
    CHECK("pic-slave-mask", !i8259_intr(pic));
    outb(0xa1, 0x00);
    CHECK("pic-slave-unmask", i8259_ack(pic) == 0x2a);
    outb(0xa0, 0x20);
    outb(0x20, 0x20);

    /* ELCR: level-triggered IRQ10 */
    outb(0x4d0, 0xff);
    CHECK("pic-elcr-mask-master", inb(0x4d0) == 0xf8);
    outb(0x4d0, 0x00);
    outb(0x4d1, 0xff);
    CHECK("pic-elcr-mask-slave", inb(0x4d1) == 0xde);
    outb(0x4d1, 0x04);
    i8259_set_irq(pic, 10, 1);
    CHECK("pic-level-ack", i8259_ack(pic) == 0x2a);
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    CHECK("pic-level-still-pending", i8259_intr(pic) && i8259_peek_vector(pic) == 0x2a);
    i8259_set_irq(pic, 10, 0);
    CHECK("pic-level-deasserted", !i8259_intr(pic));
    outb(0x4d1, 0x00);

    /* spurious IRQ7: INTA with nothing pending */
    CHECK("pic-spurious-irq7", i8259_ack(pic) == 0x27 && read_isr(0x20) == 0);

    /* poll mode */
    pulse(4);
    outb(0x20, 0x0c);
    CHECK("pic-poll", inb(0x20) == 0x84 && read_isr(0x20) == 0x10);
    outb(0x20, 0x20);
    outb(0x20, 0x0c);
    CHECK("pic-poll-empty", inb(0x20) == 0x00);

    /* set priority: IRQ4 lowest, so IRQ6 beats IRQ1 */
    outb(0x20, 0xc4);
    pulse(1);
    pulse(6);
    CHECK("pic-rotate-set-priority", i8259_ack(pic) == 0x26);
    outb(0x20, 0xa0); /* rotate on non-specific EOI: IRQ6 becomes lowest */
    CHECK("pic-rotate-eoi", read_isr(0x20) == 0 && i8259_ack(pic) == 0x21);
    pulse(7);
    pulse(5);
    outb(0x20, 0x20);
    CHECK("pic-rotated-order", i8259_ack(pic) == 0x27);
    outb(0x20, 0xe7); /* rotate on specific EOI 7: 0 highest again */
    CHECK("pic-rotate-specific", i8259_ack(pic) == 0x25);
    outb(0x20, 0x20);

    /* special mask mode: with IRQ3 in service and masked, lower IRQ5 gets through */
    init_pics(false);
    pulse(3);
    CHECK("pic-smm-ack3", i8259_ack(pic) == 0x23);
    pulse(5);
    CHECK("pic-smm-blocked", !i8259_intr(pic));
    outb(0x21, 0x08);
    outb(0x20, 0x68); /* set special mask */
    CHECK("pic-smm-through", i8259_intr(pic) && i8259_ack(pic) == 0x25);
    outb(0x20, 0x48); /* reset special mask */
    outb(0x20, 0x65);
    outb(0x20, 0x63);
    outb(0x21, 0x00);

    /* auto-EOI */
    init_pics(true);
    pulse(2 + 1);
    CHECK("pic-aeoi-ack", i8259_ack(pic) == 0x23 && read_isr(0x20) == 0);
    pulse(5);
    CHECK("pic-aeoi-next", i8259_intr(pic) && i8259_ack(pic) == 0x25);

    /* ICW2 low bits ignored, ICW1 resets the mask */
    outb(0x21, 0xff);
    outb(0x20, 0x11);
    outb(0x21, 0x47);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    CHECK("pic-icw1-resets-imr", inb(0x21) == 0x00);
    pulse(0);
    CHECK("pic-icw2-base", i8259_ack(pic) == 0x40);

    i8259_destroy(pic);
    io_reset_all();
    UNIT_EXIT();
}
