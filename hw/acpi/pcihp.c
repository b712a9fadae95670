/*
 * ACPI PCI hotplug as QEMU's pc machine has it (include/vireo/acpi.h): PIIX4 PM's registers at
 * 0xAE00 and GPE 1. device_add of a PCI device sets its slot in PCIU and raises GPE 1; the guest's
 * \_GPE._E01 (hw/x86/dsdt.dsl) reads PCIU/PCID and notifies the slots' objects (device check,
 * eject request); the guest's _EJ0 of a slot writes its bit to B0EJ, and the devices in that slot
 * go (DEVICE_DELETED). A reset carries out ejects still pending, as QEMU does.
 */
#include <glib.h>
#include "vireo/acpi.h"
#include "vireo/device.h"
#include "vireo/pci.h"

#define PCIHP_UP   0x00
#define PCIHP_DOWN 0x04
#define PCIHP_EJ   0x08
#define PCIHP_RMV  0x0c
#define PCIHP_SEL  0x10
#define PCIHP_AIDX 0x14

static bool removable(PCIDevice *d)
{
    return d->dev.info->hotpluggable && d->dev.from_cli;
}

/* Slots whose devices may be removed (PCRM): no device, or only hotpluggable ones. */
static uint32_t hotplug_enable(AcpiPciHpState *s)
{
    uint32_t en = ~0u;
    for (int devfn = 0; devfn < 256; devfn++) {
        PCIDevice *d = pci_bus_device(s->bus, (uint8_t)devfn);
        if (d && !removable(d)) {
            en &= ~(1u << PCI_SLOT(devfn));
        }
    }
    return en;
}

static void eject_slots(AcpiPciHpState *s, uint32_t slots)
{
    if (!slots) {
        return;
    }
    int slot = __builtin_ctz(slots);
    s->down &= ~(1u << slot);
    s->up &= ~(1u << slot);
    for (int fn = 7; fn >= 0; fn--) {
        PCIDevice *d = pci_bus_device(s->bus, (uint8_t)PCI_DEVFN(slot, fn));
        if (d && removable(d)) {
            device_unplug_complete(&d->dev);
        }
    }
}

static uint64_t pcihp_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)size;
    AcpiPciHpState *s = opaque;
    if (s->bsel != 0 && addr != PCIHP_SEL) {
        return 0; /* only bus 0 has hotplug (no bridges) */
    }
    uint32_t v = 0;
    switch (addr) {
    case PCIHP_UP:
        v = s->up;
        s->up = 0;
        break;
    case PCIHP_DOWN:
        v = s->down;
        break;
    case PCIHP_RMV:
        v = hotplug_enable(s);
        break;
    case PCIHP_SEL:
        v = s->bsel;
        break;
    case PCIHP_AIDX:
        v = s->aidx;
        break;
    }
    return v;
}

static void pcihp_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)size;
    AcpiPciHpState *s = opaque;
    switch (addr) {
    case PCIHP_EJ:
        if (s->bsel == 0) {
            eject_slots(s, (uint32_t)val);
        }
        break;
    case PCIHP_SEL:
        s->bsel = (uint32_t)val;
        break;
    case PCIHP_AIDX: {
        /* select a slot: PIDX then reads its device's acpi-index */
        PCIDevice *d = s->bsel == 0 && val < 32
                           ? pci_bus_device(s->bus, (uint8_t)PCI_DEVFN(val, 0))
                           : NULL;
        s->aidx = d ? d->acpi_index : 0;
        break;
    }
    }
}

static const IOOps pcihp_ops = {.read = pcihp_read, .write = pcihp_write};

static void pcihp_plug(void *opaque, PCIDevice *d)
{
    AcpiPciHpState *s = opaque;
    s->up |= 1u << PCI_SLOT(d->devfn);
    acpi_gpe_raise(ACPI_GPE_PCIHP);
}

static void pcihp_unplug_request(void *opaque, PCIDevice *d)
{
    AcpiPciHpState *s = opaque;
    s->down |= 1u << PCI_SLOT(d->devfn);
    acpi_gpe_raise(ACPI_GPE_PCIHP);
}

static const PCIHotplugOps pcihp_hotplug_ops = {
    .plug = pcihp_plug,
    .unplug_request = pcihp_unplug_request,
};

void acpi_pcihp_init(AcpiPciHpState *s, PCIBus *bus)
{
    s->bus = bus;
    memory_region_init_io(&s->io, "acpi-pci-hotplug", &pcihp_ops, s, ACPI_PCIHP_LEN);
    memory_region_add_subregion(get_system_io(), ACPI_PCIHP_BASE, &s->io, 0);
    pci_bus_set_hotplug(bus, &pcihp_hotplug_ops, s);
}

void acpi_pcihp_destroy(AcpiPciHpState *s)
{
    pci_bus_set_hotplug(s->bus, NULL, NULL);
    memory_region_destroy(&s->io);
}

void acpi_pcihp_reset(AcpiPciHpState *s)
{
    while (s->down) {
        eject_slots(s, s->down);
    }
    s->bsel = 0;
    s->aidx = 0;
}
