/* PCI bus 0: a table of functions and their configuration space with write masks. */
#include <stdlib.h>
#include <string.h>
#include "vireo/pci.h"

static PCIDevice *bus0[256];

PCIDevice *pci_add_device(uint8_t devfn, uint16_t vendor, uint16_t device, uint8_t revision,
                          uint32_t class_code)
{
    PCIDevice *d = calloc(1, sizeof(*d));
    d->devfn = devfn;
    memcpy(&d->config[0x00], &vendor, 2);
    memcpy(&d->config[0x02], &device, 2);
    d->config[0x08] = revision;
    d->config[0x09] = class_code & 0xff;
    d->config[0x0a] = (class_code >> 8) & 0xff;
    d->config[0x0b] = (class_code >> 16) & 0xff;
    d->wmask[0x04] = 0x07; /* command: I/O, memory, bus master */
    d->wmask[0x05] = 0x04; /* interrupt disable */
    d->wmask[0x0c] = 0xff; /* cache line size */
    d->wmask[0x0d] = 0xff; /* latency timer */
    d->wmask[0x3c] = 0xff; /* interrupt line */
    bus0[devfn] = d;
    return d;
}

uint32_t pci_config_read(uint8_t bus, uint8_t devfn, uint32_t addr, unsigned size)
{
    PCIDevice *d = bus == 0 ? bus0[devfn] : NULL;
    if (!d || addr + size > 256) {
        return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    }
    uint32_t v = 0;
    memcpy(&v, &d->config[addr], size);
    return v;
}

void pci_config_write(uint8_t bus, uint8_t devfn, uint32_t addr, uint32_t val, unsigned size)
{
    PCIDevice *d = bus == 0 ? bus0[devfn] : NULL;
    if (!d || addr + size > 256) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = d->wmask[addr + i];
        uint8_t b = (val >> (i * 8)) & 0xff;
        d->config[addr + i] = (d->config[addr + i] & ~m) | (b & m);
    }
    if (d->config_written) {
        d->config_written(d, addr, size);
    }
}

void pci_bus_reset(void)
{
    for (int i = 0; i < 256; i++) {
        free(bus0[i]);
        bus0[i] = NULL;
    }
}
