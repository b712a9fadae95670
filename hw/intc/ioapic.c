/*
 * The I/O APIC (82093AA register model, version 0x20 with the EOI register): 24 pins, indirect
 * access through IOREGSEL (base+0x00) and IOWIN (base+0x10), EOI at base+0x40.
 * Registers: 0x00 ID, 0x01 version (max redirection entry 23 in bits 16-23), 0x02 arbitration
 * ID, 0x10+2n/0x11+2n redirection entry n (low/high dword).
 *
 * Pins are active when their input is 1, whatever the polarity bit says (as KVM does: the
 * interrupt sources here already drive "asserted" as 1). Edge pins deliver on a rising edge;
 * level pins deliver while asserted and set remote IRR, which the LAPIC's EOI of the vector
 * clears (then the pin delivers again if still asserted).
 */
#include <stdlib.h>
#include <glib.h>
#include "vireo/device.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/vmstate.h"

#define RTE_VECTOR     0xffull
#define RTE_DM_SHIFT   8
#define RTE_DESTMODE   (1ull << 11)
#define RTE_DELIVS     (1ull << 12)
#define RTE_POLARITY   (1ull << 13)
#define RTE_REMOTE     (1ull << 14)
#define RTE_LEVEL      (1ull << 15)
#define RTE_MASKED     (1ull << 16)
#define RTE_DEST_SHIFT 56
#define RTE_RO_BITS    (RTE_DELIVS | RTE_REMOTE)

struct IOAPICState {
    Device dev; /* "ioapic" */
    MemoryRegion io;
    uint64_t base;
    uint8_t reset_id;
    uint8_t version; /* the "version" property: 0x11 or 0x20 (QEMU's default) */
    uint8_t id;
    uint32_t sel;
    uint32_t level; /* input line levels */
    uint64_t rte[IOAPIC_NUM_PINS];
};

static void deliver(IOAPICState *s, unsigned pin)
{
    uint64_t e = s->rte[pin];
    apic_bus_deliver((uint32_t)(e >> RTE_DEST_SHIFT), e & RTE_DESTMODE, (e >> RTE_DM_SHIFT) & 7,
                     e & RTE_VECTOR, e & RTE_LEVEL);
}

/* Deliver a level pin that is asserted, unmasked and not waiting for an EOI. */
static void service_level(IOAPICState *s, unsigned pin)
{
    uint64_t *e = &s->rte[pin];
    if ((*e & RTE_LEVEL) && !(*e & RTE_MASKED) && !(*e & RTE_REMOTE) && (s->level & (1u << pin))) {
        /* Fixed and lowest-priority messages wait for the EOI; NMI/INIT/ExtINT do not. */
        unsigned dm = (*e >> RTE_DM_SHIFT) & 7;
        if (dm == APIC_DM_FIXED || dm == APIC_DM_LOWPRI) {
            *e |= RTE_REMOTE;
        }
        deliver(s, pin);
    }
}

void ioapic_set_irq(IOAPICState *s, unsigned pin, int level)
{
    if (pin >= IOAPIC_NUM_PINS) {
        return;
    }
    uint32_t mask = 1u << pin;
    bool old = s->level & mask;
    if (level) {
        s->level |= mask;
    } else {
        s->level &= ~mask;
    }
    uint64_t e = s->rte[pin];
    if (e & RTE_LEVEL) {
        service_level(s, pin);
    } else if (level && !old && !(e & RTE_MASKED)) {
        deliver(s, pin);
    }
}

void ioapic_eoi(IOAPICState *s, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        uint64_t *e = &s->rte[pin];
        if ((*e & RTE_LEVEL) && (*e & RTE_VECTOR) == vector && (*e & RTE_REMOTE)) {
            *e &= ~RTE_REMOTE;
            service_level(s, pin);
        }
    }
}

void ioapic_vector_acked(IOAPICState *s, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        uint64_t e = s->rte[pin];
        if ((e & RTE_VECTOR) == vector && !(e & RTE_MASKED)) {
            irqchip_irq_acked(pin == 2 ? 0 : pin); /* pin 2 is ISA IRQ 0 (irqchip.c) */
        }
    }
}

uint64_t ioapic_get_entry(const IOAPICState *s, unsigned pin)
{
    return pin < IOAPIC_NUM_PINS ? s->rte[pin] : 0;
}

static uint32_t reg_read(IOAPICState *s)
{
    uint32_t r = s->sel & 0xff;
    switch (r) {
    case 0x00:
        return (uint32_t)(s->id & 0xf) << 24;
    case 0x01:
        return ((IOAPIC_NUM_PINS - 1) << 16) | s->version;
    case 0x02:
        return (uint32_t)(s->id & 0xf) << 24;
    default:
        if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_NUM_PINS) {
            uint64_t e = s->rte[(r - 0x10) / 2];
            return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
        }
        return 0;
    }
}

static void reg_write(IOAPICState *s, uint32_t val)
{
    uint32_t r = s->sel & 0xff;
    if (r == 0x00) {
        s->id = (val >> 24) & 0xf;
        return;
    }
    if (r < 0x10 || r >= 0x10 + 2 * IOAPIC_NUM_PINS) {
        return; /* version and arbitration are read-only */
    }
    unsigned pin = (r - 0x10) / 2;
    uint64_t *e = &s->rte[pin];
    if (r & 1) {
        *e = (*e & 0xffffffffull) | ((uint64_t)val << 32);
    } else {
        *e = (*e & (0xffffffff00000000ull | RTE_RO_BITS)) | (val & ~(uint32_t)RTE_RO_BITS);
    }
    if (!(*e & RTE_LEVEL)) {
        *e &= ~RTE_REMOTE;
    }
    service_level(s, pin);
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t addr, unsigned size)
{
    IOAPICState *s = opaque;
    switch (addr & ~3ull) {
    case 0x00:
        return s->sel;
    case 0x10:
        return reg_read(s);
    default:
        return 0;
    }
}

static void ioapic_mmio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    IOAPICState *s = opaque;
    switch (addr & ~3ull) {
    case 0x00:
        s->sel = val & 0xff;
        break;
    case 0x10:
        reg_write(s, (uint32_t)val);
        break;
    case 0x40:
        ioapic_eoi(s, val & 0xff);
        break;
    }
}

static const IOOps ioapic_ops = {.read = ioapic_mmio_read, .write = ioapic_mmio_write};

static bool ioapic_realize(Device *dev, char **errp)
{
    IOAPICState *s = (IOAPICState *)dev;
    if (s->version != 0x11 && s->version != 0x20) {
        *errp = g_strdup_printf("ioapic: unsupported version %u", s->version);
        return false;
    }
    memory_region_init_io(&s->io, "ioapic", &ioapic_ops, s, 0x1000);
    memory_region_add_subregion(get_system_memory(), s->base, &s->io, 0);
    return true;
}

static void ioapic_unrealize(Device *dev)
{
    memory_region_destroy(&((IOAPICState *)dev)->io);
}

/* Power-on: every pin masked, nothing pending (QEMU's ioapic_reset_common). */
static void ioapic_reset(Device *dev)
{
    IOAPICState *s = (IOAPICState *)dev;
    s->id = s->reset_id;
    s->sel = 0;
    s->level = 0;
    for (unsigned i = 0; i < IOAPIC_NUM_PINS; i++) {
        s->rte[i] = RTE_MASKED;
    }
}

static const Property ioapic_props[] = {
    DEFINE_PROP_UINT8("version", IOAPICState, version, 0x20),
    DEFINE_PROP_END,
};

static const VMStateField ioapic_fields[] = {
    VMSTATE_UINT8(id, IOAPICState),
    VMSTATE_UINT32(sel, IOAPICState),
    VMSTATE_UINT32(level, IOAPICState),
    VMSTATE_UINT64_ARRAY(rte, IOAPICState, IOAPIC_NUM_PINS),
    VMSTATE_END_OF_LIST(),
};
static const VMStateDescription ioapic_vmsd = {
    .name = "ioapic", .version = 3, .minimum_version = 3, .fields = ioapic_fields};

const DeviceInfo ioapic_info = {
    .name = "ioapic",
    .category = DEVICE_CATEGORY_NONE,
    .bus = BUS_SYSTEM,
    .instance_size = sizeof(IOAPICState),
    .props = ioapic_props,
    .realize = ioapic_realize,
    .unrealize = ioapic_unrealize,
    .reset = ioapic_reset,
    .vmsd = &ioapic_vmsd,
    .qom_parent = "ioapic-common",
};

IOAPICState *ioapic_create(uint64_t base, uint8_t id)
{
    IOAPICState *s = (IOAPICState *)device_new(&ioapic_info);
    s->base = base;
    s->reset_id = id;
    char *err = NULL;
    if (!device_realize(&s->dev, &err)) {
        g_free(err);
        device_free(&s->dev);
        return NULL;
    }
    return s;
}

void ioapic_destroy(IOAPICState *s)
{
    if (s) {
        device_free(&s->dev);
    }
}
