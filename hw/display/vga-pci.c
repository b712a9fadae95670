/*
 * The PCI display devices of QEMU's pc: "VGA" (std VGA, 1234:1111 class 0300: the VGA ports
 * and the 0xA0000 window, BAR 0 the linear framebuffer, BAR 2 4 KiB of MMIO with the VGA
 * ports at 0x400, the Bochs VBE registers at 0x500 and QEMU's extended registers at 0x600,
 * the VGA BIOS vgabios-stdvga.bin in the ROM BAR) and "bochs-display" (the same IDs, class
 * 0380, BAR 0 and BAR 2 without any legacy VGA part, vgabios-bochs-display.bin).
 *
 * BAR 2's first KiB is QEMU's EDID block; Vireo leaves it zero (no EDID: the bochs DRM driver
 * then uses its default modes, QEMU's EDID offers 1280x800 first).
 */
#include <glib.h>
#include <string.h>
#include "vireo/console.h"
#include "vireo/pc.h"
#include "vireo/pci.h"
#include "vireo/vga.h"
#include "vireo/vmstate.h"

#define MMIO_VGA_PORTS 0x400
#define MMIO_BOCHS     0x500
#define MMIO_QEXT      0x600
#define QEXT_SIZE      8
#define QEXT_LITTLE    0x1e1e1e1e
#define QEXT_BIG       0xbebebebe

typedef struct PCIVGAState {
    PCIDevice pci;
    VGAState vga;
    VGALegacy legacy;
    bool legacy_on;
    MemoryRegion mmio;
    bool big_endian_fb, edid, global_vmstate, mmio_on, qext;
    uint32_t refresh_rate, xres, yres, xmax, ymax;
    uint64_t vgamem; /* bochs-display's vgamem (bytes) */
} PCIVGAState;

static VGAState *boot_vga;
static PCIDevice *boot_pci;

VGAState *vga_boot_device(void)
{
    return boot_vga;
}

const uint8_t *vga_boot_rom(uint64_t *size)
{
    if (!boot_pci || !boot_pci->rom) {
        return NULL;
    }
    *size = boot_pci->rom->size;
    return memory_region_get_ram_ptr(boot_pci->rom, 0);
}

/* ---- the legacy ports and window ------------------------------------------------------- */

static uint64_t port_read(void *opaque, uint64_t addr, unsigned size, uint32_t base)
{
    VGAState *s = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)vga_ioport_read(s, base + (uint32_t)addr + i) << (8 * i);
    }
    return v;
}

static void port_write(void *opaque, uint64_t addr, uint64_t val, unsigned size, uint32_t base)
{
    for (unsigned i = 0; i < size; i++) {
        vga_ioport_write(opaque, base + (uint32_t)addr + i, (uint32_t)(val >> (8 * i)) & 0xff);
    }
}

#define PORT_OPS(name, base)                                                                       \
    static uint64_t name##_read(void *o, uint64_t a, unsigned sz)                                  \
    {                                                                                              \
        return port_read(o, a, sz, base);                                                          \
    }                                                                                              \
    static void name##_write(void *o, uint64_t a, uint64_t v, unsigned sz)                         \
    {                                                                                              \
        port_write(o, a, v, sz, base);                                                             \
    }                                                                                              \
    static const MemoryRegionOps name##_ops = {.read = name##_read, .write = name##_write};
PORT_OPS(p3c0, 0x3c0)
PORT_OPS(p3b4, 0x3b4)
PORT_OPS(p3ba, 0x3ba)
PORT_OPS(p3d4, 0x3d4)
PORT_OPS(p3da, 0x3da)

/* 0x1CE index, 0x1CF and 0x1D0 data (16-bit registers). */
static uint64_t vbe_port_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)size;
    return addr == 0 ? vbe_read_index(opaque) : vbe_read_data(opaque);
}

static void vbe_port_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)size;
    if (addr == 0) {
        vbe_write_index(opaque, (uint32_t)val);
    } else {
        vbe_write_data(opaque, (uint32_t)val);
    }
}

static const MemoryRegionOps vbe_port_ops = {.read = vbe_port_read, .write = vbe_port_write};

static uint64_t lowmem_read(void *opaque, uint64_t addr, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)vga_mem_readb(opaque, (uint32_t)(addr + i)) << (8 * i);
    }
    return v;
}

static void lowmem_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        vga_mem_writeb(opaque, (uint32_t)(addr + i), (uint8_t)(val >> (8 * i)));
    }
}

static const MemoryRegionOps lowmem_ops = {.read = lowmem_read, .write = lowmem_write};

void vga_legacy_init(VGAState *s, VGALegacy *l, MemoryRegion *pci_space)
{
    MemoryRegion *io = get_system_io();
    memory_region_init_io(&l->ports_3c0, "vga", &p3c0_ops, s, 16);
    memory_region_add_subregion(io, 0x3c0, &l->ports_3c0, 0);
    memory_region_init_io(&l->ports_3b4, "vga", &p3b4_ops, s, 2);
    memory_region_add_subregion(io, 0x3b4, &l->ports_3b4, 0);
    memory_region_init_io(&l->ports_3ba, "vga", &p3ba_ops, s, 1);
    memory_region_add_subregion(io, 0x3ba, &l->ports_3ba, 0);
    memory_region_init_io(&l->ports_3d4, "vga", &p3d4_ops, s, 2);
    memory_region_add_subregion(io, 0x3d4, &l->ports_3d4, 0);
    memory_region_init_io(&l->ports_3da, "vga", &p3da_ops, s, 1);
    memory_region_add_subregion(io, 0x3da, &l->ports_3da, 0);
    memory_region_init_io(&l->vbe_ports, "vbe", &vbe_port_ops, s, 3);
    memory_region_add_subregion(io, 0x1ce, &l->vbe_ports, 0);
    memory_region_init_io(&l->lowmem, "vga-lowmem", &lowmem_ops, s, 0x20000);
    memory_region_add_subregion(pci_space, 0xa0000, &l->lowmem, 1);
}

void vga_legacy_fini(VGALegacy *l)
{
    memory_region_destroy(&l->ports_3c0);
    memory_region_destroy(&l->ports_3b4);
    memory_region_destroy(&l->ports_3ba);
    memory_region_destroy(&l->ports_3d4);
    memory_region_destroy(&l->ports_3da);
    memory_region_destroy(&l->vbe_ports);
    memory_region_destroy(&l->lowmem);
}

/* ---- BAR 2 ----------------------------------------------------------------------------- */

static uint64_t mmio_read(void *opaque, uint64_t addr, unsigned size)
{
    PCIVGAState *d = opaque;
    if (addr >= MMIO_VGA_PORTS && addr + size <= MMIO_VGA_PORTS + 0x20 && d->legacy_on) {
        return port_read(&d->vga, addr - MMIO_VGA_PORTS, size, 0x3c0);
    }
    if (addr >= MMIO_BOCHS && addr + size <= MMIO_BOCHS + VBE_DISPI_INDEX_NB * 2 + 2) {
        if (size == 1 || ((addr - MMIO_BOCHS) & 1)) {
            return 0; /* QEMU's dispi registers take 16-bit accesses */
        }
        vbe_write_index(&d->vga, (uint32_t)((addr - MMIO_BOCHS) >> 1));
        return vbe_read_data(&d->vga);
    }
    if (d->qext && addr >= MMIO_QEXT && addr + size <= MMIO_QEXT + QEXT_SIZE) {
        uint64_t off = addr - MMIO_QEXT;
        if (off == 0 && size == 4) {
            return QEXT_SIZE;
        }
        if (off == 4 && size == 4) {
            return d->big_endian_fb ? QEXT_BIG : QEXT_LITTLE;
        }
        return 0;
    }
    return 0;
}

static void mmio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PCIVGAState *d = opaque;
    if (addr >= MMIO_VGA_PORTS && addr + size <= MMIO_VGA_PORTS + 0x20 && d->legacy_on) {
        port_write(&d->vga, addr - MMIO_VGA_PORTS, val, size, 0x3c0);
        return;
    }
    if (addr >= MMIO_BOCHS && addr + size <= MMIO_BOCHS + VBE_DISPI_INDEX_NB * 2 + 2) {
        if (size == 1 || ((addr - MMIO_BOCHS) & 1)) {
            return;
        }
        vbe_write_index(&d->vga, (uint32_t)((addr - MMIO_BOCHS) >> 1));
        vbe_write_data(&d->vga, (uint32_t)val);
        return;
    }
    if (d->qext && addr == MMIO_QEXT + 4 && size == 4) {
        if (val == QEXT_BIG) {
            d->big_endian_fb = true; /* recorded; the renderer draws little-endian only */
        } else if (val == QEXT_LITTLE) {
            d->big_endian_fb = false;
        }
    }
}

static const MemoryRegionOps mmio_ops = {.read = mmio_read, .write = mmio_write};

/* ---- the devices ----------------------------------------------------------------------- */

static const char *label_of(Device *dev)
{
    return dev->id ? dev->id : dev->info->name;
}

static bool common_realize(PCIVGAState *d, bool legacy, char **errp)
{
    if (!vga_common_init(&d->vga, label_of(&d->pci.dev), errp)) {
        return false;
    }
    if (legacy) {
        vga_legacy_init(&d->vga, &d->legacy, pc_pci_memory());
        d->legacy_on = true;
    }
    vga_attach_console(&d->vga, label_of(&d->pci.dev));
    pci_register_bar(&d->pci, 0, PCI_BASE_ADDRESS_MEM_PREFETCH, &d->vga.vram);
    if (d->mmio_on) {
        memory_region_init_io(&d->mmio, "vga.mmio", &mmio_ops, d, 4096);
        pci_register_bar(&d->pci, 2, PCI_BASE_ADDRESS_SPACE_MEMORY, &d->mmio);
    }
    if (legacy && !boot_vga) {
        boot_vga = &d->vga;
        boot_pci = &d->pci;
    }
    return true;
}

static bool vga_pci_realize(Device *dev, char **errp)
{
    return common_realize((PCIVGAState *)dev, true, errp);
}

static bool bochs_realize(Device *dev, char **errp)
{
    PCIVGAState *d = (PCIVGAState *)dev;
    uint64_t mb = d->vgamem >> 20;
    if (d->vgamem < (1u << 20) || d->vgamem > (256u << 20) || (d->vgamem & (d->vgamem - 1))) {
        /* QEMU's bochs-display checks: a power of two between 1 MiB and 256 MiB */
        *errp = g_strdup(d->vgamem < (1u << 20)     ? "bochs-display: video memory too small"
                         : d->vgamem > (256u << 20) ? "bochs-display: video memory too big"
                                                    : "bochs-display: video memory is not a "
                                                      "power of 2");
        return false;
    }
    d->vga.vgamem_mb = (uint32_t)mb;
    d->mmio_on = true;
    d->qext = true;
    return common_realize(d, false, errp);
}

static void vga_pci_unrealize(Device *dev)
{
    PCIVGAState *d = (PCIVGAState *)dev;
    if (boot_vga == &d->vga) {
        boot_vga = NULL;
        boot_pci = NULL;
    }
    if (d->legacy_on) {
        vga_legacy_fini(&d->legacy);
        d->legacy_on = false;
    }
    if (d->mmio_on) {
        memory_region_destroy(&d->mmio);
    }
    vga_common_fini(&d->vga);
}

static void vga_pci_reset(Device *dev)
{
    PCIVGAState *d = (PCIVGAState *)dev;
    pci_device_reset(&d->pci);
    vga_common_reset(&d->vga);
}

static bool vga_pci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    PCIVGAState *d = opaque;
    pci_update_mappings(&d->pci);
    return true;
}

static const VMStateField vga_pci_fields[] = {
    VMSTATE_BUFFER(pci.config, PCIVGAState),
    VMSTATE_STRUCT(vga, PCIVGAState, vga_common_vmsd),
    VMSTATE_BOOL(big_endian_fb, PCIVGAState),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vga_pci_vmsd = {
    .name = "vga",
    .version = 2,
    .minimum_version = 2,
    .fields = vga_pci_fields,
    .post_load = vga_pci_post_load,
};

static const Property vga_pci_props[] = {
    DEFINE_PROP_(("big-endian-framebuffer"), PROP_BOOL, PCIVGAState, big_endian_fb, false,
                 .def.b = false),
    DEFINE_PROP_BIT("edid", PCIVGAState, edid, true),
    DEFINE_PROP_BOOL("global-vmstate", PCIVGAState, global_vmstate, false),
    DEFINE_PROP_BIT("mmio", PCIVGAState, mmio_on, true),
    DEFINE_PROP_BIT("qemu-extended-regs", PCIVGAState, qext, true),
    DEFINE_PROP_UINT32("refresh_rate", PCIVGAState, refresh_rate, 0),
    DEFINE_PROP_UINT32("vgamem_mb", PCIVGAState, vga.vgamem_mb, 16),
    DEFINE_PROP_UINT32("xmax", PCIVGAState, xmax, 0),
    DEFINE_PROP_UINT32("xres", PCIVGAState, xres, 0),
    DEFINE_PROP_UINT32("ymax", PCIVGAState, ymax, 0),
    DEFINE_PROP_UINT32("yres", PCIVGAState, yres, 0),
    DEFINE_PROP_END,
};

static const Property bochs_props[] = {
    DEFINE_PROP_(("big-endian-framebuffer"), PROP_BOOL, PCIVGAState, big_endian_fb, false,
                 .def.b = false),
    DEFINE_PROP_BOOL("edid", PCIVGAState, edid, true),
    DEFINE_PROP_UINT32("refresh_rate", PCIVGAState, refresh_rate, 0),
    DEFINE_PROP_SIZE("vgamem", PCIVGAState, vgamem, 16 * 1024 * 1024),
    DEFINE_PROP_UINT32("xmax", PCIVGAState, xmax, 0),
    DEFINE_PROP_UINT32("xres", PCIVGAState, xres, 0),
    DEFINE_PROP_UINT32("ymax", PCIVGAState, ymax, 0),
    DEFINE_PROP_UINT32("yres", PCIVGAState, yres, 0),
    DEFINE_PROP_END,
};

static const PCIDeviceInfo vga_pci_info = {
    .vendor_id = 0x1234,
    .device_id = 0x1111,
    .revision = 0x02,
    .class_code = 0x030000,
    .romfile = "vgabios-stdvga.bin",
};

static const PCIDeviceInfo bochs_pci_info = {
    .vendor_id = 0x1234,
    .device_id = 0x1111,
    .revision = 0x02,
    .class_code = 0x038000,
    .romfile = "vgabios-bochs-display.bin",
};

const DeviceInfo vga_info = {
    .name = "VGA",
    .category = DEVICE_CATEGORY_DISPLAY,
    .bus = BUS_PCI,
    .instance_size = sizeof(PCIVGAState),
    .props = vga_pci_props,
    .user_creatable = true,
    .hotpluggable = false, /* QEMU: "expects a pluggable device type" */
    .realize = vga_pci_realize,
    .unrealize = vga_pci_unrealize,
    .reset = vga_pci_reset,
    .vmsd = &vga_pci_vmsd,
    .pci = &vga_pci_info,
    .qom_parent = "pci-vga",
};

const DeviceInfo bochs_display_info = {
    .name = "bochs-display",
    .category = DEVICE_CATEGORY_DISPLAY,
    .bus = BUS_PCI,
    .instance_size = sizeof(PCIVGAState),
    .props = bochs_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = bochs_realize,
    .unrealize = vga_pci_unrealize,
    .reset = vga_pci_reset,
    .vmsd = &vga_pci_vmsd,
    .pci = &bochs_pci_info,
    .qom_interfaces = (const char *const[]){"pci-express-device", NULL},
};
