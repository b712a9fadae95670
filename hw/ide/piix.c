/*
 * PIIX3's IDE function (00:01.1, 8086:7010, class 01.01 prog-if 0x80: legacy ports, bus
 * mastering) with QEMU's IDs and status: the two ATA channels at their legacy places
 * (0x1F0-0x1F7 + 0x3F6 on IRQ 14 for ide.0, 0x170-0x177 + 0x376 on IRQ 15 for ide.1; the
 * function's BARs 0-3 are not used, as on a real PIIX3 in compatibility mode) and the
 * bus-master registers in BAR 4 (8 bytes per channel). The channels' ATA/ATAPI emulation is
 * hw/ide/core.c and atapi.c; the drives are ide-dev.c's (docs/ide.md).
 */
#include <string.h>
#include "vireo/ide.h"
#include "vireo/irq.h"
#include "vireo/memory.h"
#include "vireo/pci.h"
#include "vireo/vmstate.h"

typedef struct PIIXIDEState {
    PCIDevice pci;
    MemoryRegion bmdma;
    MemoryRegion cmd_io[2], ctrl_io[2];
    IDEBus bus[2];
} PIIXIDEState;

static PIIXIDEState *the_piix; /* the machine's controller: ide.0/ide.1 */

IDEBus *ide_bus_by_name(const char *name)
{
    if (!the_piix || !name) {
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (!strcmp(the_piix->bus[i].name, name)) {
            return &the_piix->bus[i];
        }
    }
    return NULL;
}

static uint64_t cmd_read(void *opaque, uint64_t addr, unsigned size)
{
    return ide_ioport_read(opaque, (uint32_t)addr, size);
}

static void cmd_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    ide_ioport_write(opaque, (uint32_t)addr, val, size);
}

static uint64_t ctrl_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)addr;
    (void)size;
    return ide_ctrl_read(opaque);
}

static void ctrl_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)addr;
    (void)size;
    ide_ctrl_write(opaque, (uint8_t)val);
}

static const MemoryRegionOps cmd_ops = {.read = cmd_read, .write = cmd_write};
static const MemoryRegionOps ctrl_ops = {.read = ctrl_read, .write = ctrl_write};

static uint64_t bmdma_read(void *opaque, uint64_t addr, unsigned size)
{
    PIIXIDEState *s = opaque;
    return ide_bmdma_read(&s->bus[(addr >> 3) & 1], addr & 7, size);
}

static void bmdma_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PIIXIDEState *s = opaque;
    ide_bmdma_write(&s->bus[(addr >> 3) & 1], addr & 7, val, size);
}

static const MemoryRegionOps bmdma_ops = {.read = bmdma_read, .write = bmdma_write};

static const uint16_t cmd_base[2] = {0x1f0, 0x170}, ctrl_base[2] = {0x3f6, 0x376};
static const char *const cmd_names[2] = {"ide", "ide"}, *const ctrl_names[2] = {"ide", "ide"};

static bool piix_ide_realize(Device *dev, char **errp)
{
    PIIXIDEState *s = (PIIXIDEState *)dev;
    if (the_piix) {
        *errp = g_strdup("only one piix3-ide controller is supported");
        return false;
    }
    memory_region_init_io(&s->bmdma, "piix-bmdma-container", &bmdma_ops, s, 16);
    pci_register_bar(&s->pci, 4, PCI_BASE_ADDRESS_SPACE_IO, &s->bmdma);
    for (int i = 0; i < 2; i++) {
        ide_bus_init(&s->bus[i], i, isa_get_irq(14 + i), &s->pci);
        memory_region_init_io(&s->cmd_io[i], cmd_names[i], &cmd_ops, &s->bus[i], 8);
        memory_region_add_subregion(get_system_io(), cmd_base[i], &s->cmd_io[i], 0);
        memory_region_init_io(&s->ctrl_io[i], ctrl_names[i], &ctrl_ops, &s->bus[i], 1);
        memory_region_add_subregion(get_system_io(), ctrl_base[i], &s->ctrl_io[i], 0);
    }
    the_piix = s;
    return true;
}

static void piix_ide_unrealize(Device *dev)
{
    PIIXIDEState *s = (PIIXIDEState *)dev;
    for (int i = 0; i < 2; i++) {
        memory_region_del_subregion(get_system_io(), &s->cmd_io[i]);
        memory_region_del_subregion(get_system_io(), &s->ctrl_io[i]);
        memory_region_destroy(&s->cmd_io[i]);
        memory_region_destroy(&s->ctrl_io[i]);
        ide_bus_cleanup(&s->bus[i]);
    }
    memory_region_destroy(&s->bmdma);
    if (the_piix == s) {
        the_piix = NULL;
    }
}

static void piix_ide_reset(Device *dev)
{
    PIIXIDEState *s = (PIIXIDEState *)dev;
    pci_device_reset(PCI_DEVICE(dev));
    for (int i = 0; i < 2; i++) {
        ide_bus_reset(&s->bus[i]);
    }
}

static const VMStateField piix_ide_fields[] = {
    VMSTATE_STRUCT(bus[0], PIIXIDEState, ide_bus_vmstate),
    VMSTATE_STRUCT(bus[1], PIIXIDEState, ide_bus_vmstate),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription piix_ide_vmstate = {
    .name = "ide",
    .version = 1,
    .minimum_version = 1,
    .fields = piix_ide_fields,
};

static const PCIDeviceInfo piix_ide_pci = {
    .vendor_id = 0x8086,
    .device_id = 0x7010,
    .class_code = 0x010180,
    .status = PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM,
};

const DeviceInfo piix3_ide_info = {
    .name = "piix3-ide",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus = BUS_PCI,
    .instance_size = sizeof(PIIXIDEState),
    .user_creatable = true,
    .hotpluggable = true,
    .realize = piix_ide_realize,
    .unrealize = piix_ide_unrealize,
    .reset = piix_ide_reset,
    .vmsd = &piix_ide_vmstate,
    .pci = &piix_ide_pci,
    .qom_parent = "pci-ide",
    .qom_interfaces = (const char *const[]){"conventional-pci-device", NULL},
    .qom_children = (const char *const[]){"bmdma[0]=child<memory-region>",
                                          "bmdma[1]=child<memory-region>", "ide.0=child<IDE>",
                                          "ide.1=child<IDE>", "piix-bmdma[0]=child<memory-region>",
                                          "piix-bmdma[1]=child<memory-region>",
                                          "piix-bmdma-container[0]=child<memory-region>", NULL},
};
