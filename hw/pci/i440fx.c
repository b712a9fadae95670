/*
 * The i440FX host bridge of QEMU's pc machine: PCI configuration mechanism #1 (0xCF8 address,
 * 0xCFC-0xCFF data), the "i440FX" function at 00:00.0 (8086:1237 rev 02), and the memory map
 * it controls:
 *   "pci"          the PCI memory space (BARs), under all of system memory at priority -1: RAM
 *                  and the chipset's regions win where they are, BARs show everywhere else
 *   "smram-region" 0xA0000-0xBFFFF shows the PCI space over RAM (the VGA window; SMRAM is
 *                  never opened: Vireo has no SMM)
 *   PAM0-PAM6      config bytes 0x59-0x5F switch the 13 segments of 0xC0000-0xFFFFF between
 *                  the PCI space (0), read-only RAM (1) and RAM (2, 3: QEMU treats write-only
 *                  as RAM too)
 * Port 0xCF9 (reset control) is PIIX3's.
 */
#include <glib.h>
#include "vireo/ioport.h"
#include "vireo/pc.h"
#include "vireo/pci.h"

#define I440FX_PAM      0x59
#define I440FX_PAM_SIZE 7
#define I440FX_SMRAM    0x72
#define N_PAM_SEGS      13

typedef struct I440FXState {
    PCIDevice pci;
    MemoryRegion smram_region;
    MemoryRegion pam_ram[N_PAM_SEGS], pam_pci[N_PAM_SEGS];
} I440FXState;

static PCIBus *host_bus;
static MemoryRegion pci_space, pci_hole, *host_io;
static uint32_t config_address;
static I440FXState *host_state;

/* Segment i: its base, size and PAM nibble (register, shift). */
static void pam_seg(int i, uint64_t *base, uint64_t *size, int *reg, int *shift)
{
    if (i == 0) {
        *base = 0xf0000;
        *size = 0x10000;
        *reg = I440FX_PAM;
        *shift = 4;
        return;
    }
    *base = 0xc0000 + (uint64_t)(i - 1) * 0x4000;
    *size = 0x4000;
    *reg = I440FX_PAM + 1 + (i - 1) / 2;
    *shift = ((i - 1) & 1) * 4;
}

static void update_pam(I440FXState *s)
{
    memory_transaction_begin();
    for (int i = 0; i < N_PAM_SEGS; i++) {
        uint64_t base, size;
        int reg, shift;
        pam_seg(i, &base, &size, &reg, &shift);
        unsigned mode = (s->pci.config[reg] >> shift) & 3;
        memory_region_set_enabled(&s->pam_pci[i], mode == 0);
        memory_region_set_enabled(&s->pam_ram[i], mode != 0);
        memory_region_set_readonly(&s->pam_ram[i], mode == 1);
    }
    memory_transaction_commit();
}

static void i440fx_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    pci_default_write_config(d, addr, val, len);
    if (addr < I440FX_PAM + I440FX_PAM_SIZE && addr + len > I440FX_PAM) {
        update_pam((I440FXState *)d);
    }
}

static bool i440fx_realize(Device *dev, char **errp)
{
    (void)errp;
    I440FXState *s = (I440FXState *)dev;
    s->pci.config[I440FX_SMRAM] = 0x02;
    MemoryRegion *sys = get_system_memory();
    memory_transaction_begin();
    memory_region_init_alias(&s->smram_region, "smram-region", &pci_space, 0xa0000, 0x20000);
    memory_region_add_subregion(sys, 0xa0000, &s->smram_region, 1);
    for (int i = 0; i < N_PAM_SEGS; i++) {
        uint64_t base, size;
        int reg, shift;
        pam_seg(i, &base, &size, &reg, &shift);
        memory_region_init_alias(&s->pam_pci[i], "pam-pci", &pci_space, base, size);
        memory_region_add_subregion(sys, base, &s->pam_pci[i], 1);
        /* RAM behind the segment: main RAM at the same address (an alias, so the view keeps
         * RAM from 0xC0000 up in one range and KVM in one slot) */
        memory_region_init_alias(&s->pam_ram[i], "pam-ram", ram_region_main(), base, size);
        memory_region_add_subregion(sys, base, &s->pam_ram[i], 1);
    }
    update_pam(s);
    memory_transaction_commit();
    host_state = s;
    return true;
}

static void i440fx_unrealize(Device *dev)
{
    I440FXState *s = (I440FXState *)dev;
    memory_region_destroy(&s->smram_region);
    for (int i = 0; i < N_PAM_SEGS; i++) {
        memory_region_destroy(&s->pam_pci[i]);
        memory_region_destroy(&s->pam_ram[i]);
    }
    host_state = NULL;
}

static void i440fx_reset(Device *dev)
{
    I440FXState *s = (I440FXState *)dev;
    pci_device_reset(&s->pci);
    for (int i = 0; i < I440FX_PAM_SIZE; i++) {
        s->pci.config[I440FX_PAM + i] = 0;
    }
    s->pci.config[I440FX_SMRAM] = 0x02;
    update_pam(s);
}

static const PCIDeviceInfo i440fx_pci = {
    .vendor_id = 0x8086,
    .device_id = 0x1237,
    .revision = 0x02,
    .class_code = 0x060000,
    .config_write = i440fx_config_write,
};

const DeviceInfo i440fx_info = {
    .name = "i440FX",
    .desc = "Host bridge",
    .category = DEVICE_CATEGORY_BRIDGE,
    .bus = BUS_PCI,
    .instance_size = sizeof(I440FXState),
    .realize = i440fx_realize,
    .unrealize = i440fx_unrealize,
    .reset = i440fx_reset,
    .pci = &i440fx_pci,
};

/* ---- configuration mechanism #1 ------------------------------------------------------------ */

static uint64_t addr_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    return size == 4 ? config_address : 0xffffffffu;
}

static void addr_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    if (size == 4) {
        config_address = (uint32_t)val & 0x80fffffcu;
    }
}

static uint64_t data_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    if (!(config_address & 0x80000000u) || ((config_address >> 16) & 0xff) != 0 || size > 4 ||
        (addr & 3) + size > 4) {
        return 0xffffffffu;
    }
    uint32_t reg = (config_address & 0xfc) + (uint32_t)addr;
    return pci_bus_config_read(host_bus, (config_address >> 8) & 0xff, reg, size);
}

static void data_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    if (!(config_address & 0x80000000u) || ((config_address >> 16) & 0xff) != 0 || size > 4 ||
        (addr & 3) + size > 4) {
        return;
    }
    uint32_t reg = (config_address & 0xfc) + (uint32_t)addr;
    pci_bus_config_write(host_bus, (config_address >> 8) & 0xff, reg, (uint32_t)val, size);
}

static const IOOps addr_ops = {.read = addr_read, .write = addr_write};
static const IOOps data_ops = {.read = data_read, .write = data_write};

PCIBus *pc_pci_host_create(int (*route_intx)(PCIDevice *d, int pin),
                           void (*set_intx)(void *opaque, int input, int level), void *opaque)
{
    config_address = 0;
    memory_transaction_begin();
    memory_region_init_container(&pci_space, "pci", UINT64_MAX);
    memory_region_init_alias(&pci_hole, "pci-hole", &pci_space, 0, UINT64_MAX);
    memory_region_add_subregion(get_system_memory(), 0, &pci_hole, -1);
    host_io = get_system_io();
    memory_transaction_commit();
    host_bus = pci_bus_new("pci.0", &pci_space, host_io, route_intx, set_intx, opaque, 4);
    pio_register(0xcf8, 1, &addr_ops, NULL);
    pio_register(0xcfc, 4, &data_ops, NULL);
    return host_bus;
}

void pc_pci_host_destroy(void)
{
    memory_region_destroy(&pci_hole);
    pci_bus_free(host_bus);
    host_bus = NULL;
}

MemoryRegion *pc_pci_memory(void)
{
    return &pci_space;
}
