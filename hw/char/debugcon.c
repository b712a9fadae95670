/*
 * QEMU's isa-debugcon: `-device isa-debugcon,iobase=N,chardev=ID[,readback=V]` (defaults 0xe9
 * and 0xe9). Every byte written to the port goes to the chardev; a read returns `readback`, which
 * is how firmware (SeaBIOS on port 0x402, Bochs' 0xe9 hack) finds out the port is there.
 */
#include <glib.h>
#include "vireo/chardev.h"
#include "vireo/device.h"
#include "vireo/memory.h"

typedef struct DebugconState {
    Device dev;
    uint32_t iobase, readback;
    char *chardev;
    Chardev *chr;
    MemoryRegion io;
} DebugconState;

static uint64_t debugcon_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)addr;
    (void)size;
    DebugconState *s = opaque;
    return s->readback;
}

static void debugcon_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)addr;
    (void)size;
    DebugconState *s = opaque;
    uint8_t b = (uint8_t)val;
    chardev_write(s->chr, &b, 1);
}

static const MemoryRegionOps debugcon_ops = {.read = debugcon_read, .write = debugcon_write};

static bool debugcon_realize(Device *dev, char **errp)
{
    DebugconState *s = (DebugconState *)dev;
    if (!s->chardev) {
        *errp = g_strdup("Can't create debugcon device, empty char device");
        return false;
    }
    s->chr = chardev_find(s->chardev);
    if (!s->chr) {
        *errp =
            g_strdup_printf("Property 'isa-debugcon.chardev' can't find value '%s'", s->chardev);
        return false;
    }
    memory_region_init_io(&s->io, "isa-debugcon", &debugcon_ops, s, 1);
    memory_region_add_subregion(get_system_io(), s->iobase & 0xffff, &s->io, 0);
    return true;
}

static void debugcon_unrealize(Device *dev)
{
    DebugconState *s = (DebugconState *)dev;
    if (s->io.name) {
        memory_region_destroy(&s->io);
    }
}

static const Property debugcon_props[] = {
    DEFINE_PROP_CHR("chardev", DebugconState, chardev),
    DEFINE_PROP_UINT32("iobase", DebugconState, iobase, 0xe9),
    DEFINE_PROP_UINT32("readback", DebugconState, readback, 0xe9),
    DEFINE_PROP_END,
};

const DeviceInfo isa_debugcon_info = {
    .name = "isa-debugcon",
    .category = DEVICE_CATEGORY_MISC,
    .bus = BUS_ISA,
    .instance_size = sizeof(DebugconState),
    .props = debugcon_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = debugcon_realize,
    .unrealize = debugcon_unrealize,
    .qom_children = (const char *const[]){"isa-debugcon[0]=child<memory-region>", NULL},
};
