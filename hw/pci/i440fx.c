/*
 * The i440FX host bridge: PCI configuration mechanism #1 (address register at 0xCF8, data
 * window at 0xCFC-0xCFF) and the bridge itself at 00:00.0. Port 0xCF9 (reset control) is
 * not part of it: hw/acpi/pm.c owns that byte.
 */
#include "vireo/devices.h"
#include "vireo/ioport.h"
#include "vireo/pci.h"

static uint32_t config_address;

static uint64_t addr_read(void *opaque, uint64_t addr, unsigned size)
{
    return size == 4 ? config_address : 0xffffffffu;
}

static void addr_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    if (size == 4) {
        config_address = val & 0x80fffffcu;
    }
}

static uint64_t data_read(void *opaque, uint64_t addr, unsigned size)
{
    if (!(config_address & 0x80000000u)) {
        return 0xffffffffu;
    }
    uint32_t reg = (config_address & 0xfc) + addr;
    return pci_config_read((config_address >> 16) & 0xff, (config_address >> 8) & 0xff, reg, size);
}

static void data_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    if (!(config_address & 0x80000000u)) {
        return;
    }
    uint32_t reg = (config_address & 0xfc) + addr;
    pci_config_write((config_address >> 16) & 0xff, (config_address >> 8) & 0xff, reg,
                     (uint32_t)val, size);
}

static const IOOps addr_ops = {.read = addr_read, .write = addr_write};
static const IOOps data_ops = {.read = data_read, .write = data_write};

void pci_i440fx_create(void)
{
    config_address = 0;
    pci_bus_reset();
    PCIDevice *host = pci_add_device(0, 0x8086, 0x1237, 0x02, 0x060000);
    /* subsystem: Red Hat, QEMU (what guests see under QEMU's pc machine) */
    host->config[0x2c] = 0xf4;
    host->config[0x2d] = 0x1a;
    host->config[0x2e] = 0x00;
    host->config[0x2f] = 0x11;
    pio_register(0xcf8, 1, &addr_ops, NULL);
    pio_register(0xcfc, 4, &data_ops, NULL);
}
