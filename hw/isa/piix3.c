/*
 * PIIX3's ISA bridge function (00:01.0, 8086:7000) as QEMU's pc machine has it: the PCI
 * interrupt router (PIRQA-D route control registers 0x60-0x63: bit 7 disables, bits 3:0 the
 * ISA IRQ; reset value 0x80), and the reset control register at port 0xCF9.
 *
 * PCI INTx: the bus ORs the devices sharing a PIRQ (pci.c) and tells us each PIRQ's level;
 * every ISA IRQ is driven with the OR of the PIRQs routed to it. Slot S, pin P (0 = INTA) uses
 * PIRQ (S + P - 1) mod 4, as QEMU's piix does and as the DSDT's _PRT says.
 */
#include <glib.h>
#include "vireo/acpi.h"
#include "vireo/ioport.h"
#include "vireo/irq.h"
#include "vireo/pc.h"
#include "vireo/pci.h"
#include "vireo/vmstate.h"

#define PIIX_PIRQC 0x60

typedef struct PIIX3State {
    PCIDevice pci;
    uint8_t pirq_level[4];  /* from the bus */
    uint16_t isa_levels;    /* what we drive on the ISA IRQs */
    MemoryRegion rcr;
} PIIX3State;

static PIIX3State *piix3;

int piix3_route_intx(PCIDevice *d, int pin)
{
    return (PCI_SLOT(d->devfn) + pin - 1) & 3;
}

static void update_isa_irqs(PIIX3State *s)
{
    uint16_t levels = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t route = s->pci.config[PIIX_PIRQC + k];
        if (!(route & 0x80) && s->pirq_level[k]) {
            levels |= (uint16_t)(1u << (route & 0x0f));
        }
    }
    uint16_t changed = levels ^ s->isa_levels;
    s->isa_levels = levels;
    for (unsigned irq = 0; irq < 16; irq++) {
        if (changed & (1u << irq)) {
            irq_set(isa_get_irq(irq), (levels >> irq) & 1);
        }
    }
}

void piix3_set_intx(void *opaque, int pirq, int level)
{
    (void)opaque;
    if (!piix3 || pirq < 0 || pirq > 3) {
        return;
    }
    piix3->pirq_level[pirq] = (uint8_t)(level != 0);
    update_isa_irqs(piix3);
}

static void piix3_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    pci_default_write_config(d, addr, val, len);
    if (addr < PIIX_PIRQC + 4 && addr + len > PIIX_PIRQC) {
        update_isa_irqs((PIIX3State *)d);
    }
}

static uint64_t rcr_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    /* wider reads see the unclaimed ports 0xCFA.. as all ones */
    return acpi_pm_rcr_read() | (~0ULL << 8);
}

static void rcr_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    acpi_pm_rcr_write((uint8_t)val);
}

static const IOOps rcr_ops = {.read = rcr_read, .write = rcr_write};

static bool piix3_realize(Device *dev, char **errp)
{
    (void)errp;
    PIIX3State *s = (PIIX3State *)dev;
    memory_region_init_io(&s->rcr, "piix-reset-control", &rcr_ops, s, 1);
    memory_region_add_subregion(get_system_io(), ACPI_RESET_PORT, &s->rcr, 0);
    piix3 = s;
    return true;
}

static void piix3_unrealize(Device *dev)
{
    PIIX3State *s = (PIIX3State *)dev;
    memory_region_destroy(&s->rcr);
    if (piix3 == s) {
        piix3 = NULL;
    }
}

static void piix3_reset(Device *dev)
{
    PIIX3State *s = (PIIX3State *)dev;
    pci_device_reset(&s->pci);
    for (int k = 0; k < 4; k++) {
        s->pci.config[PIIX_PIRQC + k] = 0x80;
    }
    update_isa_irqs(s);
}

static const VMStateField piix3_fields[] = {
    VMSTATE_BUFFER(pci.config, PIIX3State),
    VMSTATE_UINT8_ARRAY(pirq_level, PIIX3State, 4),
    VMSTATE_END_OF_LIST(),
};

static bool piix3_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    PIIX3State *s = opaque;
    update_isa_irqs(s);
    return true;
}

static const VMStateDescription piix3_vmsd = {
    .name = "PIIX3",
    .version = 3,
    .minimum_version = 2,
    .fields = piix3_fields,
    .post_load = piix3_post_load,
};

static const PCIDeviceInfo piix3_pci = {
    .vendor_id = 0x8086,
    .device_id = 0x7000,
    .class_code = 0x060100,
    .status = PCI_STATUS_DEVSEL_MEDIUM,
    .config_write = piix3_config_write,
};

const DeviceInfo piix3_info = {
    .name = "PIIX3",
    .desc = "ISA bridge",
    .category = DEVICE_CATEGORY_BRIDGE,
    .bus = BUS_PCI,
    .instance_size = sizeof(PIIX3State),
    .realize = piix3_realize,
    .unrealize = piix3_unrealize,
    .reset = piix3_reset,
    .vmsd = &piix3_vmsd,
    .pci = &piix3_pci,
    .qom_parent = "pci-piix3",
};
