/* PCI bus 0: configuration space of each function, reached through the host bridge. */
#ifndef VIREO_PCI_H
#define VIREO_PCI_H

#include <stdint.h>

typedef struct PCIDevice PCIDevice;
struct PCIDevice {
    uint8_t devfn; /* device << 3 | function */
    uint8_t config[256];
    uint8_t wmask[256]; /* bits the guest may change */
    /* Optional hooks after a config write (BAR moves, command register changes). */
    void (*config_written)(PCIDevice *d, uint32_t addr, unsigned size);
    void *opaque;
};

/* Add a function to bus 0 with the given IDs; the rest of the header is read-only zero. */
PCIDevice *pci_add_device(uint8_t devfn, uint16_t vendor, uint16_t device, uint8_t revision,
                          uint32_t class_code);
uint32_t pci_config_read(uint8_t bus, uint8_t devfn, uint32_t addr, unsigned size);
void pci_config_write(uint8_t bus, uint8_t devfn, uint32_t addr, uint32_t val, unsigned size);
void pci_bus_reset(void);

#endif
