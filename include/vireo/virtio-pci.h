/*
 * The virtio PCI transport (hw/virtio/virtio-pci.c, docs/virtio.md): `virtio-*-pci` devices as
 * QEMU 7.2 makes them on the pc machine. Transitional by default (disable-legacy=auto is "off"
 * on a conventional PCI bus): a legacy I/O BAR 0 for old drivers, and the virtio 1.x
 * capabilities into a 64-bit prefetchable memory BAR 4:
 *
 *   BAR 0  I/O     legacy header (20 bytes, 24 with MSI-X enabled) + device config
 *   BAR 1  memory  MSI-X table (at 0) and PBA (at 2 KiB), `vectors` entries
 *   BAR 2  I/O     notify port (modern-pio-notify=on only)
 *   BAR 4  memory  64-bit prefetchable, 16 KiB: common config 0x0000, ISR 0x1000,
 *                  device config 0x2000, notify 0x3000 (queue n at n * 4; page-per-vq: 4 KiB)
 *
 * Capabilities, in QEMU's order (the list is linked newest first, so lspci shows them
 * backwards): common 0x40, ISR 0x50, device 0x60, notify 0x70, [notify PIO], PCI config access
 * window 0x84, MSI-X 0x98. IDs: vendor 1af4, device 0x1000 + (legacy ID) for transitional
 * devices (revision 0, subsystem 1af4:<virtio device ID>), 0x1040 + virtio device ID for
 * modern-only ones (revision 1, subsystem 1af4:1100).
 *
 * A device type on this transport is a state struct that starts with VirtIOPCIProxy, a
 * VirtIOPCIDeviceInfo (how to realize the virtio part), and a DeviceInfo whose .realize etc.
 * are the transport's and whose .family points at the VirtIOPCIDeviceInfo:
 *
 *   typedef struct VirtIOBlkPCI { VirtIOPCIProxy proxy; VirtIOBlock blk; } VirtIOBlkPCI;
 *   static const VirtIOPCIDeviceInfo vinfo = {.realize = blk_realize, ...};
 *   const DeviceInfo virtio_blk_pci_info = {.name = "virtio-blk-pci", VIRTIO_PCI_DEVICE_INFO,
 *       .instance_size = sizeof(VirtIOBlkPCI), .props = blk_props, .family = &vinfo, ...};
 */
#ifndef VIREO_VIRTIO_PCI_H
#define VIREO_VIRTIO_PCI_H

#include "vireo/pci.h"
#include "vireo/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
/* "vectors" left at its default: the device type picks (virtio-blk: num-queues + 1) */
#define DEV_NVECTORS_UNSPECIFIED 0xffffffffu

typedef struct VirtIOPCIProxy VirtIOPCIProxy;

typedef struct VirtIOPCIDeviceInfo {
    /*
     * Realize the virtio device: read the type's properties, open backends, virtio_init() the
     * proxy's vdev with the type's ops, add queues. It may set proxy->nvectors when it is
     * DEV_NVECTORS_UNSPECIFIED. false with *errp in QEMU's words.
     */
    bool (*realize)(VirtIOPCIProxy *proxy, char **errp);
    void (*unrealize)(VirtIOPCIProxy *proxy);
    uint16_t legacy_device_id; /* transitional PCI device ID (0x1001 for block) */
    uint16_t class_code;       /* class << 8 | subclass (0x0100: SCSI storage) */
    uint16_t default_vectors;  /* when the type has no "vectors" property: 2 (QEMU's) */
} VirtIOPCIDeviceInfo;

typedef struct VirtIOPCIVector {
    int fd;    /* irqfd eventfd, -1: none */
    int route; /* the accelerator's route, -1: none */
    uint64_t addr;
    uint32_t data;
} VirtIOPCIVector;

struct VirtIOPCIProxy {
    PCIDevice pci; /* first */
    VirtIODevice vdev;
    const VirtIOPCIDeviceInfo *vinfo;

    /* properties (QEMU's names in virtio_pci_props and the types' own lists) */
    int disable_legacy; /* OnOffAuto */
    bool disable_modern;
    bool ioeventfd;
    uint32_t nvectors;
    uint32_t class_prop;
    bool modern_pio_notify, page_per_vq, migrate_extra, aer, ats, x_ats_page_aligned,
        x_disable_pcie, x_ignore_backend_features, x_pcie_deverr_init, x_pcie_flr_init,
        x_pcie_lnkctl_init, x_pcie_pm_init, bus_master_bug_migration;

    /* state */
    bool legacy, modern;
    uint32_t dfselect, gfselect;
    uint32_t guest_features[2];
    uint32_t notify_mult;
    uint8_t pci_cfg_cap; /* offset of the PCI configuration access capability */
    bool ioeventfd_started;
    VirtIOPCIVector *vectors; /* nvectors entries: irqfd per MSI-X vector */
    MemoryRegion bar0, modern_bar, common, isr, device, notify, notify_pio;
};

/* The transport's properties, shared by every virtio-*-pci type (DeviceInfo.family_props). */
extern const Property virtio_pci_props[];

bool virtio_pci_realize(Device *dev, char **errp);
void virtio_pci_unrealize(Device *dev);
void virtio_pci_reset(Device *dev);
/*
 * Saved state: a type's VMStateDescription starts with
 * VMSTATE_STRUCT(proxy, TypeState, virtio_pci_vmstate) (config space, transport registers,
 * the virtio core and its queues), then its own fields; its post_load calls
 * virtio_pci_post_load() first (BARs remapped, rings mapped, ioeventfds re-armed).
 */
extern const VMStateDescription virtio_pci_vmstate;
bool virtio_pci_post_load(VirtIOPCIProxy *p, char **errp);

/* The DeviceInfo fields every virtio-*-pci type shares. */
#define VIRTIO_PCI_DEVICE_INFO_IDS(ids)                                                       \
    .bus = BUS_PCI, .user_creatable = true, .hotpluggable = true,                              \
    .realize = virtio_pci_realize, .unrealize = virtio_pci_unrealize,                          \
    .reset = virtio_pci_reset, .pci = &(ids), .family_props = virtio_pci_props
#define VIRTIO_PCI_DEVICE_INFO VIRTIO_PCI_DEVICE_INFO_IDS(virtio_pci_ids)
extern const PCIDeviceInfo virtio_pci_ids;
/* virtio-net-pci's: the same with QEMU's default option ROM (efi-virtio.rom) */
extern const PCIDeviceInfo virtio_pci_net_ids;

static inline VirtIOPCIProxy *virtio_pci_proxy(VirtIODevice *vdev)
{
    return (VirtIOPCIProxy *)((uint8_t *)vdev - offsetof(VirtIOPCIProxy, vdev));
}

#endif
