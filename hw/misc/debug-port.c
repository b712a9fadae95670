/*
 * The PC's two little ports that are no ISA device in QEMU (memory regions "ioport80" and
 * "ioportF0" of its pc machine), as devices of the model so every device exists one way:
 *
 *   ioport80  port 0x80: POST codes and the classic I/O delay. Writes vanish, reads float.
 *   ioportF0  port 0xF0: the coprocessor-error latch. A write drops FERR#'s IRQ 13 and asserts
 *             IGNNE# (QEMU's ioportF0_write). Reads float.
 *
 * Machine-built only (not -device); not QOM types in QEMU, so introspection leaves them out.
 */
#include "vireo/device.h"
#include "vireo/irq.h"
#include "vireo/memory.h"
#include "vireo/x86-cpu.h"

typedef struct PortDevState {
    Device dev;
    MemoryRegion io;
    IRQ *irq13;
} PortDevState;

static uint64_t float_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
}

static void port80_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)val;
    (void)size;
}

static void portf0_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)addr;
    (void)val;
    (void)size;
    PortDevState *s = opaque;
    irq_lower(s->irq13);
    x86_fpu_set_ignne(true);
}

static const IOOps port80_ops = {.read = float_read, .write = port80_write};
static const IOOps portf0_ops = {.read = float_read, .write = portf0_write};

static bool port80_realize(Device *dev, char **errp)
{
    (void)errp;
    PortDevState *s = (PortDevState *)dev;
    memory_region_init_io(&s->io, "ioport80", &port80_ops, s, 1);
    memory_region_add_subregion(get_system_io(), 0x80, &s->io, 0);
    return true;
}

static bool portf0_realize(Device *dev, char **errp)
{
    (void)errp;
    PortDevState *s = (PortDevState *)dev;
    s->irq13 = isa_get_irq(13);
    memory_region_init_io(&s->io, "ioportF0", &portf0_ops, s, 1);
    memory_region_add_subregion(get_system_io(), 0xf0, &s->io, 0);
    return true;
}

static void port_unrealize(Device *dev)
{
    memory_region_destroy(&((PortDevState *)dev)->io);
}

const DeviceInfo ioport80_info = {
    .name = "ioport80",
    .category = DEVICE_CATEGORY_NONE,
    .bus = BUS_ISA,
    .instance_size = sizeof(PortDevState),
    .realize = port80_realize,
    .unrealize = port_unrealize,
    .not_qom = true,
};

const DeviceInfo ioportf0_info = {
    .name = "ioportF0",
    .category = DEVICE_CATEGORY_NONE,
    .bus = BUS_ISA,
    .instance_size = sizeof(PortDevState),
    .realize = portf0_realize,
    .unrealize = port_unrealize,
    .not_qom = true,
};
