/*
 * QEMU's isa-debug-exit device: `-device isa-debug-exit[,iobase=N][,iosize=N]` (defaults
 * 0x501 and 2). Any write of value v to its ports ends the process with exit status
 * (v << 1) | 1, so a freestanding test reports success or failure without a shutdown path.
 * Reads return all ones (nothing answers, as in QEMU). Ports beyond the 64 KiB I/O space are
 * unreachable; devices may overlap (the last one created answers, as in QEMU).
 */
#include <stdlib.h>
#include "vireo/device.h"
#include "vireo/memory.h"

typedef struct ISADebugExitState {
    Device dev;
    uint32_t iobase, iosize;
    MemoryRegion io;
} ISADebugExitState;

static uint64_t debug_exit_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    return ~0ull;
}

static void debug_exit_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    exit((int)((val << 1) | 1));
}

static const MemoryRegionOps debug_exit_ops = {.read = debug_exit_read, .write = debug_exit_write};

static bool isa_debug_exit_realize(Device *dev, char **errp)
{
    (void)errp;
    ISADebugExitState *s = (ISADebugExitState *)dev;
    if (s->iosize == 0 || s->iobase >= 0x10000) {
        return true; /* nothing reachable */
    }
    memory_region_init_io(&s->io, "isa-debug-exit", &debug_exit_ops, s, s->iosize);
    memory_region_add_subregion(get_system_io(), s->iobase, &s->io, 0);
    return true;
}

static void isa_debug_exit_unrealize(Device *dev)
{
    ISADebugExitState *s = (ISADebugExitState *)dev;
    if (s->io.name) {
        memory_region_destroy(&s->io);
    }
}

static const Property isa_debug_exit_props[] = {
    DEFINE_PROP_UINT32("iobase", ISADebugExitState, iobase, 0x501),
    DEFINE_PROP_UINT32("iosize", ISADebugExitState, iosize, 0x02),
    DEFINE_PROP_END,
};

const DeviceInfo isa_debug_exit_info = {
    .name = "isa-debug-exit",
    .category = DEVICE_CATEGORY_MISC,
    .bus = BUS_ISA,
    .instance_size = sizeof(ISADebugExitState),
    .props = isa_debug_exit_props,
    .user_creatable = true,
    .hotpluggable = true, /* QEMU's DeviceClass default (device_add still needs a hotplug bus) */
    .realize = isa_debug_exit_realize,
    .unrealize = isa_debug_exit_unrealize,
    .qom_children = (const char *const[]){"isa-debug-exit[0]=child<memory-region>", NULL},
};
