/* The x86 PC machine: builds RAM, devices, firmware tables and vCPUs for a VireoConfig. */
#ifndef VIREO_PC_H
#define VIREO_PC_H

#include "vireo/chardev.h"
#include "vireo/config.h"

/* Build the machine and start its vCPUs. serial[i] may be NULL. Returns 0 or -1. */
int pc_machine_start(const VireoConfig *cfg, Chardev *const *serial, int n_serial);
/*
 * Reset the machine in place (devices and RAM kept, vCPUs at power-on, the loaders' blobs and the
 * firmware step again); vCPU threads start parked when the accelerator is paused. 0 or -1.
 */
int pc_machine_reset(void);
/* Stop the vCPUs and free everything pc_machine_start() made (chardevs stay). */
void pc_machine_stop(void);

/* ---- the chipset (hw/pci/i440fx.c, hw/isa/piix3.c) ---- */
struct PCIBus;
struct PCIDevice;
struct MemoryRegion;
/* The PCI host: bus pci.0, 0xCF8/0xCFC, the PCI memory space under system memory. */
struct PCIBus *pc_pci_host_create(int (*route_intx)(struct PCIDevice *d, int pin),
                                  void (*set_intx)(void *opaque, int input, int level),
                                  void *opaque);
void pc_pci_host_destroy(void);
struct MemoryRegion *pc_pci_memory(void);
/* PIIX3's interrupt router: slot/pin -> PIRQ, and a PIRQ's wired-OR level. */
int piix3_route_intx(struct PCIDevice *d, int pin);
void piix3_set_intx(void *opaque, int pirq, int level);

/* ---- the firmware step of a direct kernel boot (hw/x86/pc-firmware.c) ---- */
void pc_firmware_pam_setup(struct PCIBus *bus);
void pc_firmware_pci_setup(struct PCIBus *bus);
/* The boot VGA as its BIOS leaves it (ROM at 0xC0000, mode 3, font); boot_params (0: not a
 * Linux boot) gets screen_info for that mode. */
void pc_firmware_vga_setup(uint64_t boot_params);

/* ---- firmware boot (hw/x86/pc-bios.c) ---- */
/* Map the BIOS (NULL: bios-256k.bin) into the PCI space; 0, or -1 after QEMU's message. */
int pc_bios_init(const char *name);
void pc_bios_free(void);

#endif
