/*
 * The PC's cascaded 8259A programmable interrupt controllers: master at 0x20-0x21 (IRQ 0-7),
 * slave at 0xa0-0xa1 (IRQ 8-15) on the master's IR2, and the edge/level control registers
 * (ELCR) at 0x4d0-0x4d1 (PIIX). Behaviour follows the 8259A data sheet: ICW1-ICW4, OCW1
 * (mask), OCW2 (EOI, specific EOI, rotation, set priority), OCW3 (read IRR/ISR, poll,
 * special mask), automatic EOI with optional rotation, special fully nested mode, and the
 * spurious IR7 answer when a request vanishes before INTA.
 */
#include <stdlib.h>
#include "vireo/device.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/vmstate.h"

typedef struct PIC8259 {
    uint8_t irr, imr, isr;
    uint8_t last_level; /* input line levels, for edge detection */
    uint8_t elcr, elcr_mask;
    uint8_t irq_base;
    uint8_t lowest;    /* priority rotation: IR(lowest+1) has the highest priority */
    uint8_t init_step; /* 0 ready, 1 expect ICW2, 2 ICW3, 3 ICW4 */
    bool icw4_needed, single;
    bool read_isr, poll, special_mask;
    bool auto_eoi, rotate_auto_eoi, sfnm;
    bool is_master;
} PIC8259;

struct PICState {
    Device dev; /* "isa-i8259": the master/slave pair as one device */
    PIC8259 chip[2];
    MemoryRegion master_io, slave_io, elcr_io;
    void (*notify)(void *opaque);
    void *opaque;
    bool last_intr;
};

static void chip_reset(PIC8259 *c)
{
    c->irr = c->imr = c->isr = 0;
    c->last_level = 0;
    c->irq_base = 0;
    c->lowest = 7;
    c->init_step = 0;
    c->icw4_needed = c->single = false;
    c->read_isr = c->poll = c->special_mask = false;
    c->auto_eoi = c->rotate_auto_eoi = c->sfnm = false;
}

/* Rank of the highest-priority bit of mask (0 = highest), 8 if none. */
static int prio_rank(const PIC8259 *c, uint8_t mask)
{
    if (!mask) {
        return 8;
    }
    for (int r = 0; r < 8; r++) {
        if (mask & (1u << ((c->lowest + 1 + r) & 7))) {
            return r;
        }
    }
    return 8;
}

static int rank_to_irq(const PIC8259 *c, int r)
{
    return (c->lowest + 1 + r) & 7;
}

/* The IR this chip would present on INT now, or -1. */
static int chip_get_irq(const PIC8259 *c)
{
    int req = prio_rank(c, c->irr & ~c->imr);
    if (req == 8) {
        return -1;
    }
    uint8_t in_service = c->isr;
    if (c->special_mask) {
        in_service &= ~c->imr;
    }
    if (c->sfnm && c->is_master) {
        /* the slave's own higher-priority requests get through while IR2 is in service */
        in_service &= ~(1u << 2);
    }
    int cur = prio_rank(c, in_service);
    return req < cur ? rank_to_irq(c, req) : -1;
}

static void update(PICState *s)
{
    PIC8259 *m = &s->chip[0], *sl = &s->chip[1];
    /* The slave's INT output drives the master's IR2 as a level. */
    if (chip_get_irq(sl) >= 0) {
        m->irr |= 1u << 2;
        m->last_level |= 1u << 2;
    } else {
        m->irr &= ~(1u << 2);
        m->last_level &= ~(1u << 2);
    }
    bool intr = chip_get_irq(m) >= 0;
    if (s->notify && (intr || intr != s->last_intr)) {
        s->notify(s->opaque);
    }
    s->last_intr = intr;
}

static void chip_set_irq(PIC8259 *c, unsigned irq, int level)
{
    uint8_t mask = 1u << irq;
    if (c->elcr & mask) {
        if (level) {
            c->irr |= mask;
            c->last_level |= mask;
        } else {
            c->irr &= ~mask;
            c->last_level &= ~mask;
        }
        return;
    }
    if (level) {
        if (!(c->last_level & mask)) {
            c->irr |= mask;
        }
        c->last_level |= mask;
    } else {
        c->last_level &= ~mask;
    }
}

void i8259_set_irq(PICState *s, unsigned irq, int level)
{
    if (irq >= 16) {
        return;
    }
    chip_set_irq(&s->chip[irq >> 3], irq & 7, level);
    update(s);
}

static void chip_intack(PIC8259 *c, int irq)
{
    uint8_t mask = 1u << irq;
    if (c->auto_eoi) {
        if (c->rotate_auto_eoi) {
            c->lowest = irq;
        }
    } else {
        c->isr |= mask;
    }
    /* An edge request is consumed; a level request stays while its line is high. */
    if (!(c->elcr & mask)) {
        c->irr &= ~mask;
    }
}

bool i8259_intr(const PICState *s)
{
    return chip_get_irq(&s->chip[0]) >= 0;
}

int i8259_peek_vector(const PICState *s)
{
    const PIC8259 *m = &s->chip[0], *sl = &s->chip[1];
    int irq = chip_get_irq(m);
    if (irq < 0) {
        return -1;
    }
    if (irq == 2) {
        int irq2 = chip_get_irq(sl);
        return sl->irq_base + (irq2 >= 0 ? irq2 : 7);
    }
    return m->irq_base + irq;
}

bool i8259_irq_unmasked(const PICState *s, unsigned irq)
{
    if (irq < 8) {
        return !(s->chip[0].imr & (1u << irq));
    }
    return irq < 16 && !(s->chip[1].imr & (1u << (irq - 8))) && !(s->chip[0].imr & (1u << 2));
}

int i8259_ack(PICState *s)
{
    PIC8259 *m = &s->chip[0], *sl = &s->chip[1];
    int irq = chip_get_irq(m);
    int vector, acked = -1;
    if (irq >= 0) {
        if (irq == 2) {
            int irq2 = chip_get_irq(sl);
            if (irq2 >= 0) {
                chip_intack(sl, irq2);
                acked = 8 + irq2;
            } else {
                irq2 = 7; /* spurious IRQ15: the slave has nothing, no ISR bit */
            }
            vector = sl->irq_base + irq2;
        } else {
            vector = m->irq_base + irq;
            acked = irq;
        }
        chip_intack(m, irq);
    } else {
        vector = m->irq_base + 7; /* spurious IRQ7 */
    }
    update(s);
    if (acked >= 0) {
        irqchip_irq_acked(acked);
    }
    return vector;
}

void i8259_set_notify(PICState *s, void (*notify)(void *opaque), void *opaque)
{
    s->notify = notify;
    s->opaque = opaque;
}

static uint8_t poll_read(PICState *s, PIC8259 *c)
{
    int irq = chip_get_irq(c);
    c->poll = false;
    if (irq < 0) {
        return 0;
    }
    chip_intack(c, irq);
    update(s);
    return 0x80 | irq;
}

static void write_ocw2(PIC8259 *c, uint8_t val)
{
    int cmd = val >> 5;
    int r, irq;
    switch (cmd) {
    case 0: /* rotate in AEOI mode: clear */
    case 4: /* rotate in AEOI mode: set */
        c->rotate_auto_eoi = cmd == 4;
        break;
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */
        r = prio_rank(c, c->isr);
        if (r != 8) {
            irq = rank_to_irq(c, r);
            c->isr &= ~(1u << irq);
            if (cmd == 5) {
                c->lowest = irq;
            }
        }
        break;
    case 3: /* specific EOI */
        c->isr &= ~(1u << (val & 7));
        break;
    case 6: /* set priority: IRn becomes the lowest */
        c->lowest = val & 7;
        break;
    case 7: /* rotate on specific EOI */
        c->isr &= ~(1u << (val & 7));
        c->lowest = val & 7;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void pic_write(void *opaque, uint64_t addr, uint64_t v, unsigned size, int which)
{
    PICState *s = opaque;
    PIC8259 *c = &s->chip[which];
    uint8_t val = v;
    if (addr == 0) {
        if (val & 0x10) { /* ICW1 */
            uint8_t elcr = c->elcr;
            chip_reset(c);
            c->elcr = elcr;
            c->init_step = 1;
            c->icw4_needed = val & 1;
            c->single = val & 2;
        } else if (val & 0x08) { /* OCW3 */
            if (val & 0x04) {
                c->poll = true;
            }
            if (val & 0x02) {
                c->read_isr = val & 1;
            }
            if (val & 0x40) {
                c->special_mask = (val >> 5) & 1;
            }
        } else { /* OCW2 */
            write_ocw2(c, val);
        }
    } else {
        switch (c->init_step) {
        case 0: /* OCW1 */
            c->imr = val;
            break;
        case 1: /* ICW2 */
            c->irq_base = val & 0xf8;
            c->init_step = c->single ? (c->icw4_needed ? 3 : 0) : 2;
            break;
        case 2: /* ICW3: the cascade wiring is fixed on a PC */
            c->init_step = c->icw4_needed ? 3 : 0;
            break;
        case 3: /* ICW4 */
            c->sfnm = (val >> 4) & 1;
            c->auto_eoi = (val >> 1) & 1;
            c->init_step = 0;
            break;
        }
    }
    update(s);
}

static uint64_t pic_read(void *opaque, uint64_t addr, unsigned size, int which)
{
    PICState *s = opaque;
    PIC8259 *c = &s->chip[which];
    if (c->poll) {
        return poll_read(s, c);
    }
    if (addr == 0) {
        return c->read_isr ? c->isr : c->irr;
    }
    return c->imr;
}

static uint64_t master_read(void *o, uint64_t a, unsigned sz)
{
    return pic_read(o, a, sz, 0);
}
static void master_write(void *o, uint64_t a, uint64_t v, unsigned sz)
{
    pic_write(o, a, v, sz, 0);
}
static uint64_t slave_read(void *o, uint64_t a, unsigned sz)
{
    return pic_read(o, a, sz, 1);
}
static void slave_write(void *o, uint64_t a, uint64_t v, unsigned sz)
{
    pic_write(o, a, v, sz, 1);
}

static uint64_t elcr_read(void *opaque, uint64_t addr, unsigned size)
{
    PICState *s = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size && addr + i < 2; i++) {
        v |= (uint64_t)s->chip[addr + i].elcr << (8 * i);
    }
    return v;
}

static void elcr_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PICState *s = opaque;
    for (unsigned i = 0; i < size && addr + i < 2; i++) {
        PIC8259 *c = &s->chip[addr + i];
        c->elcr = (val >> (8 * i)) & c->elcr_mask;
    }
    update(s);
}

static const IOOps master_ops = {.read = master_read, .write = master_write};
static const IOOps slave_ops = {.read = slave_read, .write = slave_write};
static const IOOps elcr_ops = {.read = elcr_read, .write = elcr_write};

static bool i8259_realize(Device *dev, char **errp)
{
    (void)errp;
    PICState *s = (PICState *)dev;
    s->chip[0].is_master = true;
    s->chip[0].elcr_mask = 0xf8; /* IRQ 0, 1, 2 are always edge */
    s->chip[1].elcr_mask = 0xde; /* IRQ 8 and 13 too */
    MemoryRegion *io = get_system_io();
    memory_region_init_io(&s->master_io, "pic", &master_ops, s, 2);
    memory_region_init_io(&s->slave_io, "pic", &slave_ops, s, 2);
    memory_region_init_io(&s->elcr_io, "elcr", &elcr_ops, s, 2);
    memory_transaction_begin();
    memory_region_add_subregion(io, 0x20, &s->master_io, 0);
    memory_region_add_subregion(io, 0xa0, &s->slave_io, 0);
    memory_region_add_subregion(io, 0x4d0, &s->elcr_io, 0);
    memory_transaction_commit();
    return true;
}

static void i8259_unrealize(Device *dev)
{
    PICState *s = (PICState *)dev;
    memory_transaction_begin();
    memory_region_destroy(&s->master_io);
    memory_region_destroy(&s->slave_io);
    memory_region_destroy(&s->elcr_io);
    memory_transaction_commit();
}

/* Power-on: both chips uninitialised, every line edge-triggered (QEMU's pic_reset). */
static void i8259_reset(Device *dev)
{
    PICState *s = (PICState *)dev;
    for (int i = 0; i < 2; i++) {
        chip_reset(&s->chip[i]);
        s->chip[i].elcr = 0;
    }
    update(s);
}

static const VMStateField pic_chip_fields[] = {
    VMSTATE_UINT8(irr, PIC8259),
    VMSTATE_UINT8(imr, PIC8259),
    VMSTATE_UINT8(isr, PIC8259),
    VMSTATE_UINT8(last_level, PIC8259),
    VMSTATE_UINT8(elcr, PIC8259),
    VMSTATE_UINT8(irq_base, PIC8259),
    VMSTATE_UINT8(lowest, PIC8259),
    VMSTATE_UINT8(init_step, PIC8259),
    VMSTATE_BOOL(icw4_needed, PIC8259),
    VMSTATE_BOOL(single, PIC8259),
    VMSTATE_BOOL(read_isr, PIC8259),
    VMSTATE_BOOL(poll, PIC8259),
    VMSTATE_BOOL(special_mask, PIC8259),
    VMSTATE_BOOL(auto_eoi, PIC8259),
    VMSTATE_BOOL(rotate_auto_eoi, PIC8259),
    VMSTATE_BOOL(sfnm, PIC8259),
    VMSTATE_END_OF_LIST(),
};
static const VMStateDescription pic_chip_vmsd = {
    .name = "i8259-chip", .version = 1, .minimum_version = 1, .fields = pic_chip_fields};
static const VMStateField i8259_fields[] = {
    VMSTATE_STRUCT(chip[0], PICState, pic_chip_vmsd),
    VMSTATE_STRUCT(chip[1], PICState, pic_chip_vmsd),
    VMSTATE_END_OF_LIST(),
};
static const VMStateDescription i8259_vmsd = {
    .name = "i8259", .version = 1, .minimum_version = 1, .fields = i8259_fields};

const DeviceInfo i8259_info = {
    .name = "isa-i8259",
    .category = DEVICE_CATEGORY_NONE,
    .bus = BUS_ISA,
    .instance_size = sizeof(PICState),
    .realize = i8259_realize,
    .unrealize = i8259_unrealize,
    .reset = i8259_reset,
    .vmsd = &i8259_vmsd,
    .qom_parent = "pic-common",
};

PICState *i8259_create(void)
{
    return (PICState *)device_create_simple("isa-i8259", NULL);
}

void i8259_destroy(PICState *s)
{
    if (s) {
        device_free(&s->dev);
    }
}
