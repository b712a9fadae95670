/*
 * PIIX3's IDE function (00:01.1, 8086:7010, class 01.01 prog-if 0x80: legacy ports, bus
 * mastering) with QEMU's IDs, status and BAR 4 (16 I/O ports of bus-master DMA registers), so
 * the guest's PCI view matches QEMU's pc machine. The ATA channels themselves (ports
 * 0x1F0/0x170, IRQ 14/15) and the bus-master engine come with the firmware issue's IDE
 * emulation; until then the channels are empty (ports float) and the BM registers read 0.
 */
#include "vireo/pci.h"

typedef struct PIIXIDEState {
    PCIDevice pci;
    MemoryRegion bmdma;
} PIIXIDEState;

static uint64_t bmdma_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    return 0; /* no command running, no drive: all status bits clear */
}

static void bmdma_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)val;
    (void)size;
}

static const MemoryRegionOps bmdma_ops = {.read = bmdma_read, .write = bmdma_write};

static bool piix_ide_realize(Device *dev, char **errp)
{
    (void)errp;
    PIIXIDEState *s = (PIIXIDEState *)dev;
    memory_region_init_io(&s->bmdma, "piix-bmdma-container", &bmdma_ops, s, 16);
    pci_register_bar(&s->pci, 4, PCI_BASE_ADDRESS_SPACE_IO, &s->bmdma);
    return true;
}

static void piix_ide_unrealize(Device *dev)
{
    PIIXIDEState *s = (PIIXIDEState *)dev;
    memory_region_destroy(&s->bmdma);
}

static void piix_ide_reset(Device *dev)
{
    pci_device_reset(PCI_DEVICE(dev));
}

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
    .pci = &piix_ide_pci,
    .qom_parent = "pci-ide",
    .qom_interfaces = (const char *const[]){"conventional-pci-device", NULL},
    .qom_children = (const char *const[]){"bmdma[0]=child<memory-region>", "bmdma[1]=child<memory-region>",
                                          "ide.0=child<IDE>", "ide.1=child<IDE>",
                                          "piix-bmdma[0]=child<memory-region>",
                                          "piix-bmdma[1]=child<memory-region>",
                                          "piix-bmdma-container[0]=child<memory-region>", NULL},
};
