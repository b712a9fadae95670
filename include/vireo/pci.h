/*
 * PCI (hw/pci/pci.c, msi.c, msix.c): bus 0 of the PC ("pci.0"), the configuration space of
 * every function with QEMU's write masks, BAR sizing and mapping through the memory map,
 * capability lists, INTx through the host's routing, MSI and MSI-X.
 *
 * A PCI device type is a DeviceInfo with .bus = BUS_PCI and .pci pointing at its
 * PCIDeviceInfo (IDs, class, optional config hooks); its state struct starts with PCIDevice.
 * The generic properties every PCI device has (addr, multifunction, romfile, rombar, ...) are
 * added by the core: the device's own .props list only its own.
 *
 * Config space rules (as QEMU): bytes the guest may write are in wmask, write-1-to-clear bits
 * (status errors) in w1cmask, everything else reads back what the device put there. Command
 * register: I/O, memory, bus master, SERR, INTx disable are writable; BARs are decoded only
 * while I/O or memory decode is on, DMA (pci_dma_*) only while bus master is on, INTx is
 * masked by INTx disable. BAR addresses: a BAR whose range wraps, ends above 4 GiB in a 32-bit
 * BAR, or is 0 is not mapped; a memory BAR lives in the PCI address space, which lies under
 * system RAM and the chipset's regions (priority -1), so a BAR over RAM stays hidden while it
 * is there; overlapping BARs follow the memory map's rules (the last one mapped wins).
 */
#ifndef VIREO_PCI_H
#define VIREO_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/device.h"
#include "vireo/dma.h"
#include "vireo/irq.h"
#include "vireo/memory.h"

#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_NUM_REGIONS       7 /* BAR 0-5 and the expansion ROM */
#define PCI_ROM_SLOT          6
#define PCI_BAR_UNMAPPED      UINT64_MAX

#define PCI_DEVFN(slot, fn) ((((slot) & 0x1f) << 3) | ((fn) & 7))
#define PCI_SLOT(devfn)     (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn)     ((devfn) & 7)

/* Config registers */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_COMMAND_IO          0x1
#define PCI_COMMAND_MEMORY      0x2
#define PCI_COMMAND_MASTER      0x4
#define PCI_COMMAND_SERR        0x100
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS              0x06
#define PCI_STATUS_INTERRUPT    0x08
#define PCI_STATUS_CAP_LIST     0x10
#define PCI_STATUS_66MHZ        0x20
#define PCI_STATUS_FAST_BACK    0x80
#define PCI_STATUS_DEVSEL_MEDIUM 0x200
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_LATENCY_TIMER       0x0d
#define PCI_HEADER_TYPE         0x0e
#define PCI_HEADER_TYPE_MULTI_FUNCTION 0x80
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_ROM_ADDRESS         0x30
#define PCI_ROM_ADDRESS_ENABLE  0x1
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d
#define PCI_CONFIG_HEADER_SIZE  0x40

/* BAR type bits (pci_register_bar) */
#define PCI_BASE_ADDRESS_SPACE_IO     0x01
#define PCI_BASE_ADDRESS_SPACE_MEMORY 0x00
#define PCI_BASE_ADDRESS_MEM_TYPE_64  0x04
#define PCI_BASE_ADDRESS_MEM_PREFETCH 0x08

/* Capability IDs */
#define PCI_CAP_ID_PM    0x01
#define PCI_CAP_ID_MSI   0x05
#define PCI_CAP_ID_VNDR  0x09
#define PCI_CAP_ID_EXP   0x10
#define PCI_CAP_ID_MSIX  0x11

typedef struct PCIDevice PCIDevice;
typedef struct PCIBus PCIBus;

typedef struct PCIIORegion {
    uint64_t size; /* 0: no BAR */
    uint8_t type;  /* PCI_BASE_ADDRESS_* bits */
    MemoryRegion *mr;
    uint64_t addr; /* where it is mapped, PCI_BAR_UNMAPPED when not */
    MemoryRegion *container; /* the address space it is mapped into */
} PCIIORegion;

struct PCIDeviceInfo {
    uint16_t vendor_id, device_id;
    uint8_t revision;
    uint32_t class_code; /* class << 16 | subclass << 8 | prog-if */
    uint16_t subsystem_vendor_id, subsystem_id; /* 0: QEMU's default 1af4:1100 */
    uint16_t status;       /* initial status bits (DEVSEL timing, fast back-to-back) */
    bool no_subsystem;     /* leave the subsystem IDs 0 (QEMU's i440FX has them: false) */
    const char *romfile;   /* default romfile= (a name under /usr/share/qemu or seabios) */
    /*
     * Config hooks (optional). config_read returns the value of [addr, addr+len); the default is
     * pci_default_read_config. config_write is called instead of pci_default_write_config, which
     * it normally calls first.
     */
    uint32_t (*config_read)(PCIDevice *d, uint32_t addr, unsigned len);
    void (*config_write)(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
};

struct PCIDevice {
    Device dev; /* first */
    PCIBus *bus;
    int32_t devfn; /* the addr= property: -1 until the bus picks one */
    bool multifunction;
    char *romfile;
    uint32_t rombar, romsize, acpi_index;
    char *failover_pair_id;
    bool x_pcie_extcap_init, x_pcie_lnksta_dllla;

    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
    uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE];
    uint8_t used[PCI_CONFIG_SPACE_SIZE]; /* capability bytes taken (pci_add_capability) */
    PCIIORegion io_regions[PCI_NUM_REGIONS];
    int irq_state;    /* INTx level the device drives (before INTx disable) */
    bool irq_counted; /* the bus counts this device on its wired-OR input */
    MemoryRegion *rom; /* expansion ROM from romfile= */

    /* MSI (msi.c) */
    uint8_t msi_cap;
    uint32_t msi_pending; /* masked vectors that fired (no pending-bits register) */
    /* MSI-X (msix.c) */
    uint8_t msix_cap;
    unsigned msix_entries;
    uint8_t *msix_table; /* 16 bytes per vector */
    uint8_t *msix_pba;
    uint32_t msix_table_bytes, msix_pba_bytes; /* their sizes (saved state) */
    MemoryRegion msix_table_mmio, msix_pba_mmio, msix_exclusive_bar;
    bool msix_function_masked;
};

static inline PCIDevice *PCI_DEVICE(Device *d)
{
    return (PCIDevice *)d;
}

/* Little-endian config accessors */
static inline uint8_t pci_get_byte(const uint8_t *p)
{
    return p[0];
}
static inline uint16_t pci_get_word(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t pci_get_long(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t pci_get_quad(const uint8_t *p)
{
    return pci_get_long(p) | (uint64_t)pci_get_long(p + 4) << 32;
}
static inline void pci_set_byte(uint8_t *p, uint8_t v)
{
    p[0] = v;
}
static inline void pci_set_word(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void pci_set_long(uint8_t *p, uint32_t v)
{
    pci_set_word(p, (uint16_t)v);
    pci_set_word(p + 2, (uint16_t)(v >> 16));
}
static inline void pci_set_quad(uint8_t *p, uint64_t v)
{
    pci_set_long(p, (uint32_t)v);
    pci_set_long(p + 4, (uint32_t)(v >> 32));
}

/* ---- the bus ---- */

/*
 * Create bus 0 ("pci.0") of a host bridge: memory BARs go into mem (mapped under system
 * memory by the host), I/O BARs into io. route_intx maps a device's slot/pin (0 = INTA) to the
 * host's interrupt input index; set_intx drives that input (the PIRQ router ORs the levels).
 */
PCIBus *pci_bus_new(const char *name, MemoryRegion *mem, MemoryRegion *io,
                    int (*route_intx)(PCIDevice *d, int pin),
                    void (*set_intx)(void *opaque, int input, int level), void *opaque,
                    int n_inputs);
void pci_bus_free(PCIBus *bus);
PCIBus *pci_bus_find(const char *name); /* "pci.0", or NULL */
PCIDevice *pci_bus_device(PCIBus *bus, uint8_t devfn);
/*
 * The bus's hotplug controller (PIIX4 PM's ACPI PCI hotplug on the pc machine): plug tells the
 * guest a new device is there, unplug_request asks the guest to eject one. Without a controller
 * the bus does not support hotplugging (QEMU's message).
 */
typedef struct PCIHotplugOps {
    void (*plug)(void *opaque, PCIDevice *d);
    void (*unplug_request)(void *opaque, PCIDevice *d);
} PCIHotplugOps;
void pci_bus_set_hotplug(PCIBus *bus, const PCIHotplugOps *ops, void *opaque);
bool pci_device_hotplug_plug(PCIDevice *d, char **errp);
bool pci_device_unplug_request(PCIDevice *d, char **errp);

/* The host bridge's config mechanism calls these (bus number 0 only). */
uint32_t pci_bus_config_read(PCIBus *bus, uint8_t devfn, uint32_t addr, unsigned len);
void pci_bus_config_write(PCIBus *bus, uint8_t devfn, uint32_t addr, uint32_t val,
                          unsigned len);
/* Which wired-OR input a pin of devfn uses now, per the host (tests, debugging). */
int pci_bus_intx_input(PCIBus *bus, PCIDevice *d, int pin);

/* ---- for device implementations ---- */

/*
 * A BAR: region mr (its size a power of two, >= 4 for I/O, >= 16 for memory) with the given
 * type bits. The BAR starts unmapped; the guest (or the firmware step) programs it.
 */
void pci_register_bar(PCIDevice *d, int region, uint8_t type, MemoryRegion *mr);
/* Where BAR `region` is mapped now, or PCI_BAR_UNMAPPED. */
uint64_t pci_get_bar_addr(PCIDevice *d, int region);

/*
 * Reserve `size` bytes of config space at `offset` (0: the first free dword at or above 0x40)
 * for capability `id` and link it at the head of the list (as QEMU does). The next-pointer and
 * id bytes are read-only. Returns the offset, or -1 with *errp when the space is taken or
 * full.
 */
int pci_add_capability(PCIDevice *d, uint8_t id, uint8_t offset, uint8_t size, char **errp);
void pci_del_capability(PCIDevice *d, uint8_t id, uint8_t size);
uint8_t pci_find_capability(PCIDevice *d, uint8_t id);

/* INTx: the level of the device's interrupt pin (config[PCI_INTERRUPT_PIN] says which). */
void pci_set_irq(PCIDevice *d, int level);
static inline void pci_irq_assert(PCIDevice *d)
{
    pci_set_irq(d, 1);
}
static inline void pci_irq_deassert(PCIDevice *d)
{
    pci_set_irq(d, 0);
}

/* Bus-master DMA: refused (DMA_ERR_UNMAPPED) while the command register's bus master is off. */
DMAResult pci_dma_read(PCIDevice *d, uint64_t addr, void *buf, uint64_t len);
DMAResult pci_dma_write(PCIDevice *d, uint64_t addr, const void *buf, uint64_t len);

/* The default config accessors (for hooks that add behaviour around them). */
uint32_t pci_default_read_config(PCIDevice *d, uint32_t addr, unsigned len);
void pci_default_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
/* Remap every BAR from the config registers (after a load or a firmware-step write). */
void pci_update_mappings(PCIDevice *d);
/* Power-on state of the generic parts: command, status errors, BARs, INTx, MSI/MSI-X. */
void pci_device_reset(PCIDevice *d);

/* The generic PCI properties (addr, multifunction, rombar, ...), for the registry. */
extern const Property pci_device_props[];

/* ---- MSI (msi.c) ---- */

/*
 * An MSI capability at offset (0: anywhere) with nr_vectors (1, 2, 4, ..., 32), 64-bit
 * addresses and/or per-vector masking as asked. Returns 0 or -1 with *errp.
 */
int msi_init(PCIDevice *d, uint8_t offset, unsigned nr_vectors, bool msi64bit,
             bool per_vector_mask, char **errp);
bool msi_enabled(const PCIDevice *d);
unsigned msi_nr_vectors_allocated(const PCIDevice *d);
/* Send vector (of those the guest enabled); a masked vector sets its pending bit instead. */
void msi_notify(PCIDevice *d, unsigned vector);
/* The message vector would send now (address, data), for irqfd routes. */
void msi_get_message(PCIDevice *d, unsigned vector, uint64_t *addr, uint32_t *data);

/* ---- MSI-X (msix.c) ---- */

/*
 * nentries vectors with the table at table_offset of BAR table_bar (region mr of that BAR)
 * and the PBA at pba_offset of BAR pba_bar; the capability at cap_pos (0: anywhere).
 * msix_init_exclusive_bar() makes a BAR of its own holding both (as virtio-pci does).
 */
int msix_init(PCIDevice *d, unsigned nentries, MemoryRegion *table_bar_mr, uint8_t table_bar,
              uint32_t table_offset, MemoryRegion *pba_bar_mr, uint8_t pba_bar,
              uint32_t pba_offset, uint8_t cap_pos, char **errp);
int msix_init_exclusive_bar(PCIDevice *d, unsigned nentries, uint8_t bar_nr, char **errp);
void msix_uninit(PCIDevice *d);
bool msix_enabled(const PCIDevice *d);
bool msix_is_masked(PCIDevice *d, unsigned vector);
/* Send vector; masked (vector or function) sets its pending bit, sent on unmask. */
void msix_notify(PCIDevice *d, unsigned vector);
void msix_get_message(PCIDevice *d, unsigned vector, uint64_t *addr, uint32_t *data);
void msix_reset(PCIDevice *d);

/* Either kind: send `vector` by whatever the guest enabled (MSI-X, MSI, or INTx assert). */
void pci_notify(PCIDevice *d, unsigned vector);

/*
 * Deliver an MSI message through the accelerator (AccelOps.send_msi: KVM_SIGNAL_MSI under KVM,
 * the userspace LAPICs under TCG). Big lock held.
 */
void msi_send_message(uint64_t addr, uint32_t data);

#endif
