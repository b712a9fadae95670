/*
 * The virtio PCI transport (include/vireo/virtio-pci.h): legacy I/O BAR, virtio 1.x
 * capabilities and their memory BAR, MSI-X with one irqfd per vector under KVM (INTx through
 * the ISR otherwise), ioeventfds on the notify registers while the driver runs the device.
 *
 * Register semantics follow the virtio 1.2 spec, with QEMU 7.2's choices where the spec leaves
 * room: reads of unknown or partial common-config registers return 0, a bad MSI-X vector reads
 * back as VIRTIO_NO_VECTOR, queue_enable takes only 1, a legacy QUEUE_PFN of 0 resets the
 * device, a legacy driver that sets DRIVER_OK gets bus mastering turned on.
 */
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/accel.h"
#include "vireo/virtio-pci.h"

/* legacy header */
#define VIRTIO_PCI_HOST_FEATURES  0
#define VIRTIO_PCI_GUEST_FEATURES 4
#define VIRTIO_PCI_QUEUE_PFN      8
#define VIRTIO_PCI_QUEUE_NUM      12
#define VIRTIO_PCI_QUEUE_SEL      14
#define VIRTIO_PCI_QUEUE_NOTIFY   16
#define VIRTIO_PCI_STATUS         18
#define VIRTIO_PCI_ISR            19
#define VIRTIO_MSI_CONFIG_VECTOR  20
#define VIRTIO_MSI_QUEUE_VECTOR   22

/* common configuration (virtio_pci_common_cfg) */
#define COMMON_DFSELECT      0x00
#define COMMON_DF            0x04
#define COMMON_GFSELECT      0x08
#define COMMON_GF            0x0c
#define COMMON_MSIX          0x10
#define COMMON_NUMQ          0x12
#define COMMON_STATUS        0x14
#define COMMON_CFGGENERATION 0x15
#define COMMON_Q_SELECT      0x16
#define COMMON_Q_SIZE        0x18
#define COMMON_Q_MSIX        0x1a
#define COMMON_Q_ENABLE      0x1c
#define COMMON_Q_NOFF        0x1e
#define COMMON_Q_DESCLO      0x20
#define COMMON_Q_DESCHI      0x24
#define COMMON_Q_AVAILLO     0x28
#define COMMON_Q_AVAILHI     0x2c
#define COMMON_Q_USEDLO      0x30
#define COMMON_Q_USEDHI      0x34
#define COMMON_Q_RESET       0x3a

/* capability types */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

#define LEGACY_BAR  0
#define MSIX_BAR    1
#define NOTIFY_PIO_BAR 2
#define MODERN_BAR  4
#define REGION_SIZE 0x1000
#define COMMON_OFF  0x0000
#define ISR_OFF     0x1000
#define DEVICE_OFF  0x2000
#define NOTIFY_OFF  0x3000

static VirtIOPCIProxy *proxy_of(VirtIODevice *vdev)
{
    return virtio_pci_proxy(vdev);
}

/* ---- interrupts --------------------------------------------------------------------------- */

static void vector_release(VirtIOPCIProxy *p, unsigned v)
{
    VirtIOPCIVector *x = &p->vectors[v];
    if (x->route >= 0 && current_accel && current_accel->irqfd_del) {
        current_accel->irqfd_del(x->route, x->fd);
    }
    if (x->fd >= 0) {
        close(x->fd);
    }
    x->fd = x->route = -1;
}

static void vectors_release(VirtIOPCIProxy *p)
{
    for (unsigned v = 0; p->vectors && v < p->nvectors; v++) {
        vector_release(p, v);
    }
}

/*
 * Send MSI-X vector v: through its irqfd when the accelerator has them (KVM: the main loop
 * writes an eventfd, the kernel injects), else msix_notify (KVM_SIGNAL_MSI or the userspace
 * APIC). A masked vector goes to msix_notify, which sets its pending bit.
 */
static void send_vector(VirtIOPCIProxy *p, unsigned v)
{
    PCIDevice *d = &p->pci;
    if (msix_is_masked(d, v) || !p->ioeventfd || !current_accel || !current_accel->irqfd_add) {
        msix_notify(d, v);
        return;
    }
    VirtIOPCIVector *x = &p->vectors[v];
    uint64_t addr;
    uint32_t data;
    msix_get_message(d, v, &addr, &data);
    if (x->route < 0) {
        if (x->fd < 0) {
            x->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        }
        if (x->fd >= 0) {
            x->route = current_accel->irqfd_add(x->fd, addr, data);
        }
        if (x->route < 0) {
            msix_notify(d, v);
            return;
        }
        x->addr = addr;
        x->data = data;
    } else if (x->addr != addr || x->data != data) {
        if (current_accel->irqfd_update(x->route, addr, data) < 0) {
            vector_release(p, v);
            msix_notify(d, v);
            return;
        }
        x->addr = addr;
        x->data = data;
    }
    uint64_t one = 1;
    if (write(x->fd, &one, sizeof(one)) != sizeof(one)) {
        msix_notify(d, v);
    }
}

static void transport_notify(VirtIODevice *vdev, uint16_t vector)
{
    VirtIOPCIProxy *p = proxy_of(vdev);
    if (msix_enabled(&p->pci)) {
        if (vector < p->nvectors) {
            send_vector(p, vector);
        }
        return;
    }
    pci_set_irq(&p->pci, vdev->isr & 1);
}

static bool transport_dma_enabled(VirtIODevice *vdev)
{
    return pci_get_word(proxy_of(vdev)->pci.config + PCI_COMMAND) & PCI_COMMAND_MASTER;
}

/* ---- ioeventfd ---------------------------------------------------------------------------- */

static void set_host_notifier(VirtIOPCIProxy *p, unsigned n, bool assign)
{
    VirtQueue *vq = &p->vdev.vq[n];
    if (vq->host_fd < 0) {
        return;
    }
    if (p->modern) {
        if (assign) {
            memory_region_add_eventfd(&p->notify, (uint64_t)n * p->notify_mult, 0, false, n,
                                      vq->host_fd);
        } else {
            memory_region_del_eventfd(&p->notify, (uint64_t)n * p->notify_mult, 0, false, n,
                                      vq->host_fd);
        }
        if (p->modern_pio_notify) {
            if (assign) {
                memory_region_add_eventfd(&p->notify_pio, 0, 2, true, n, vq->host_fd);
            } else {
                memory_region_del_eventfd(&p->notify_pio, 0, 2, true, n, vq->host_fd);
            }
        }
    }
    if (p->legacy) {
        if (assign) {
            memory_region_add_eventfd(&p->bar0, VIRTIO_PCI_QUEUE_NOTIFY, 2, true, n, vq->host_fd);
        } else {
            memory_region_del_eventfd(&p->bar0, VIRTIO_PCI_QUEUE_NOTIFY, 2, true, n, vq->host_fd);
        }
    }
}

static void transport_set_host_notifier(VirtIODevice *vdev, unsigned n, bool assign)
{
    set_host_notifier(proxy_of(vdev), n, assign);
}

static void start_ioeventfd(VirtIOPCIProxy *p)
{
    if (!p->ioeventfd || p->ioeventfd_started) {
        return;
    }
    memory_transaction_begin();
    for (unsigned n = 0; n < p->vdev.nvq; n++) {
        set_host_notifier(p, n, true);
    }
    memory_transaction_commit();
    p->ioeventfd_started = true;
}

static void stop_ioeventfd(VirtIOPCIProxy *p)
{
    if (!p->ioeventfd_started) {
        return;
    }
    memory_transaction_begin();
    for (unsigned n = 0; n < p->vdev.nvq; n++) {
        set_host_notifier(p, n, false);
    }
    memory_transaction_commit();
    p->ioeventfd_started = false;
}

static const VirtIOTransportOps pci_transport = {
    .notify = transport_notify,
    .set_host_notifier = transport_set_host_notifier,
    .dma_enabled = transport_dma_enabled,
};

/* ---- device reset and status ----------------------------------------------------------- */

static void proxy_reset_state(VirtIOPCIProxy *p)
{
    stop_ioeventfd(p);
    virtio_reset(&p->vdev);
    vectors_release(p);
    p->dfselect = p->gfselect = 0;
    p->guest_features[0] = p->guest_features[1] = 0;
    pci_set_irq(&p->pci, 0);
}

static void write_status(VirtIOPCIProxy *p, uint8_t val, bool legacy)
{
    VirtIODevice *vdev = &p->vdev;
    if (!(val & VIRTIO_CONFIG_S_DRIVER_OK)) {
        stop_ioeventfd(p);
    }
    virtio_set_status(vdev, val);
    if (val & VIRTIO_CONFIG_S_DRIVER_OK) {
        start_ioeventfd(p);
    }
    if (vdev->status == 0) {
        proxy_reset_state(p);
    }
    /* Linux before 2.6.34 drives a legacy device without enabling bus mastering */
    if (legacy && (val & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !(p->pci.config[PCI_COMMAND] & PCI_COMMAND_MASTER)) {
        pci_default_write_config(&p->pci, PCI_COMMAND,
                                 p->pci.config[PCI_COMMAND] | PCI_COMMAND_MASTER, 1);
    }
}

/* A vector the guest asks for: valid when MSI-X has it, else VIRTIO_NO_VECTOR. */
static uint16_t checked_vector(VirtIOPCIProxy *p, uint32_t val)
{
    return val < p->nvectors ? (uint16_t)val : VIRTIO_NO_VECTOR;
}

/* ---- the legacy I/O BAR -------------------------------------------------------------------- */

static unsigned legacy_header_size(VirtIOPCIProxy *p)
{
    return msix_enabled(&p->pci) ? 24 : 20;
}

static uint32_t legacy_header_read(VirtIOPCIProxy *p, uint64_t addr)
{
    VirtIODevice *vdev = &p->vdev;
    unsigned sel = vdev->queue_sel;
    switch (addr) {
    case VIRTIO_PCI_HOST_FEATURES:
        return (uint32_t)vdev->host_features;
    case VIRTIO_PCI_GUEST_FEATURES:
        return (uint32_t)vdev->guest_features;
    case VIRTIO_PCI_QUEUE_PFN:
        return virtio_queue_legacy_pfn(vdev, sel);
    case VIRTIO_PCI_QUEUE_NUM:
        return sel < vdev->nvq ? vdev->vq[sel].num : 0;
    case VIRTIO_PCI_QUEUE_SEL:
        return sel;
    case VIRTIO_PCI_STATUS:
        return vdev->status;
    case VIRTIO_PCI_ISR: {
        uint8_t v = virtio_isr_read_clear(vdev);
        pci_set_irq(&p->pci, 0);
        return v;
    }
    case VIRTIO_MSI_CONFIG_VECTOR:
        return vdev->config_vector;
    case VIRTIO_MSI_QUEUE_VECTOR:
        return sel < vdev->nvq ? vdev->vq[sel].vector : VIRTIO_NO_VECTOR;
    default:
        return 0xffffffffu;
    }
}

static void legacy_header_write(VirtIOPCIProxy *p, uint64_t addr, uint32_t val)
{
    VirtIODevice *vdev = &p->vdev;
    unsigned sel = vdev->queue_sel;
    switch (addr) {
    case VIRTIO_PCI_GUEST_FEATURES:
        /* a driver that acks the bad-feature bit negotiated nothing (QEMU's rule) */
        if (val & (1u << VIRTIO_F_BAD_FEATURE)) {
            val = 0;
        }
        virtio_set_features(vdev, val);
        break;
    case VIRTIO_PCI_QUEUE_PFN:
        if (val == 0) {
            proxy_reset_state(p);
        } else {
            virtio_queue_set_legacy_pfn(vdev, sel, val);
        }
        break;
    case VIRTIO_PCI_QUEUE_SEL:
        if (val < VIRTIO_QUEUE_MAX) {
            vdev->queue_sel = val;
        }
        break;
    case VIRTIO_PCI_QUEUE_NOTIFY:
        if (val < VIRTIO_QUEUE_MAX) {
            virtio_queue_notify(vdev, val);
        }
        break;
    case VIRTIO_PCI_STATUS:
        write_status(p, (uint8_t)val, true);
        break;
    case VIRTIO_MSI_CONFIG_VECTOR:
        vdev->config_vector = checked_vector(p, val & 0xffff);
        break;
    case VIRTIO_MSI_QUEUE_VECTOR:
        if (sel < vdev->nvq) {
            vdev->vq[sel].vector = checked_vector(p, val & 0xffff);
        }
        break;
    default:
        break;
    }
}

static uint64_t legacy_read(void *opaque, uint64_t addr, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    unsigned hdr = legacy_header_size(p);
    if (addr < hdr) {
        uint32_t v = legacy_header_read(p, addr);
        return size == 4 ? v : v & ((1u << (8 * size)) - 1);
    }
    if (size == 8) {
        return virtio_config_read(&p->vdev, (uint32_t)(addr - hdr), 4) |
               (uint64_t)virtio_config_read(&p->vdev, (uint32_t)(addr - hdr + 4), 4) << 32;
    }
    return virtio_config_read(&p->vdev, (uint32_t)(addr - hdr), size);
}

static void legacy_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    unsigned hdr = legacy_header_size(p);
    if (addr < hdr) {
        uint32_t mask = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
        legacy_header_write(p, addr, (uint32_t)val & mask);
        return;
    }
    if (size == 8) {
        virtio_config_write(&p->vdev, (uint32_t)(addr - hdr), (uint32_t)val, 4);
        virtio_config_write(&p->vdev, (uint32_t)(addr - hdr + 4), (uint32_t)(val >> 32), 4);
        return;
    }
    virtio_config_write(&p->vdev, (uint32_t)(addr - hdr), (uint32_t)val, size);
}

static const MemoryRegionOps legacy_ops = {.read = legacy_read, .write = legacy_write};

/* ---- the modern regions ------------------------------------------------------------------ */

static unsigned num_queues(VirtIODevice *vdev)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vdev->nvq; i++) {
        if (vdev->vq[i].num_max) {
            n = i + 1;
        }
    }
    return n;
}

static uint32_t common_read32(VirtIOPCIProxy *p, uint64_t addr)
{
    VirtIODevice *vdev = &p->vdev;
    unsigned sel = vdev->queue_sel;
    VirtQueue *vq = sel < vdev->nvq ? &vdev->vq[sel] : NULL;
    switch (addr) {
    case COMMON_DFSELECT:
        return p->dfselect;
    case COMMON_DF:
        if (p->dfselect <= 1) {
            uint64_t f = vdev->host_features & ~(1ull << VIRTIO_F_BAD_FEATURE);
            return (uint32_t)(f >> (32 * p->dfselect));
        }
        return 0;
    case COMMON_GFSELECT:
        return p->gfselect;
    case COMMON_GF:
        return p->gfselect <= 1 ? p->guest_features[p->gfselect] : 0;
    case COMMON_MSIX:
        return vdev->config_vector;
    case COMMON_NUMQ:
        return num_queues(vdev);
    case COMMON_STATUS:
        return vdev->status;
    case COMMON_CFGGENERATION:
        return vdev->generation & 0xff;
    case COMMON_Q_SELECT:
        return sel;
    case COMMON_Q_SIZE:
        return vq ? vq->num : 0;
    case COMMON_Q_MSIX:
        return vq ? vq->vector : VIRTIO_NO_VECTOR;
    case COMMON_Q_ENABLE:
        return vq ? vq->enabled : 0;
    case COMMON_Q_NOFF:
        return sel; /* queues notify in order */
    case COMMON_Q_DESCLO:
        return vq ? (uint32_t)vq->desc : 0;
    case COMMON_Q_DESCHI:
        return vq ? (uint32_t)(vq->desc >> 32) : 0;
    case COMMON_Q_AVAILLO:
        return vq ? (uint32_t)vq->avail : 0;
    case COMMON_Q_AVAILHI:
        return vq ? (uint32_t)(vq->avail >> 32) : 0;
    case COMMON_Q_USEDLO:
        return vq ? (uint32_t)vq->used : 0;
    case COMMON_Q_USEDHI:
        return vq ? (uint32_t)(vq->used >> 32) : 0;
    case COMMON_Q_RESET:
        return 0; /* a queue reset completes at once */
    default:
        return 0;
    }
}

static void set_half(uint64_t *v, bool hi, uint32_t val)
{
    *v = hi ? (*v & 0xffffffffull) | (uint64_t)val << 32 : (*v & ~0xffffffffull) | val;
}

static void common_write32(VirtIOPCIProxy *p, uint64_t addr, uint32_t val)
{
    VirtIODevice *vdev = &p->vdev;
    unsigned sel = vdev->queue_sel;
    VirtQueue *vq = sel < vdev->nvq ? &vdev->vq[sel] : NULL;
    switch (addr) {
    case COMMON_DFSELECT:
        p->dfselect = val;
        break;
    case COMMON_GFSELECT:
        p->gfselect = val;
        break;
    case COMMON_GF:
        if (p->gfselect <= 1) {
            p->guest_features[p->gfselect] = val;
            virtio_set_features(vdev, (uint64_t)p->guest_features[1] << 32 | p->guest_features[0]);
        }
        break;
    case COMMON_MSIX:
        vdev->config_vector = checked_vector(p, val & 0xffff);
        break;
    case COMMON_STATUS:
        write_status(p, (uint8_t)val, false);
        break;
    case COMMON_Q_SELECT:
        if (val < VIRTIO_QUEUE_MAX) {
            vdev->queue_sel = val;
        }
        break;
    case COMMON_Q_SIZE:
        virtio_queue_set_num(vdev, sel, val & 0xffff);
        break;
    case COMMON_Q_MSIX:
        if (vq) {
            vq->vector = checked_vector(p, val & 0xffff);
        }
        break;
    case COMMON_Q_ENABLE:
        if ((val & 0xffff) == 1) {
            virtio_queue_enable(vdev, sel);
        } else {
            virtio_error(vdev, "wrong value for queue_enable %x", val & 0xffff);
        }
        break;
    case COMMON_Q_DESCLO:
    case COMMON_Q_DESCHI:
        if (vq) {
            set_half(&vq->desc, addr == COMMON_Q_DESCHI, val);
        }
        break;
    case COMMON_Q_AVAILLO:
    case COMMON_Q_AVAILHI:
        if (vq) {
            set_half(&vq->avail, addr == COMMON_Q_AVAILHI, val);
        }
        break;
    case COMMON_Q_USEDLO:
    case COMMON_Q_USEDHI:
        if (vq) {
            set_half(&vq->used, addr == COMMON_Q_USEDHI, val);
        }
        break;
    case COMMON_Q_RESET:
        if ((val & 0xffff) == 1 && vq) {
            virtio_queue_reset(vdev, sel);
        }
        break;
    default:
        break;
    }
}

/* Accesses wider than the register see the register; narrower ones at its start see its low
 * bytes; anything else reads 0 and writes nothing (QEMU's region has 1..4-byte accesses). */
static uint64_t common_read(void *opaque, uint64_t addr, unsigned size)
{
    if (size == 8) {
        return common_read(opaque, addr, 4) | (uint64_t)common_read(opaque, addr + 4, 4) << 32;
    }
    uint32_t v = common_read32(opaque, addr);
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void common_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    if (size == 8) {
        common_write(opaque, addr, (uint32_t)val, 4);
        common_write(opaque, addr + 4, (uint32_t)(val >> 32), 4);
        return;
    }
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    common_write32(opaque, addr, (uint32_t)val & mask);
}

/* Any byte of the ISR region reads and clears the ISR (QEMU's). */
static uint64_t isr_read(void *opaque, uint64_t addr, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    (void)size;
    (void)addr;
    uint8_t v = virtio_isr_read_clear(&p->vdev);
    pci_set_irq(&p->pci, 0);
    return v;
}

static void ignore_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)val;
    (void)size;
}

static uint64_t device_read(void *opaque, uint64_t addr, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    if (size == 8) {
        return virtio_config_read(&p->vdev, (uint32_t)addr, 4) |
               (uint64_t)virtio_config_read(&p->vdev, (uint32_t)addr + 4, 4) << 32;
    }
    return virtio_config_read(&p->vdev, (uint32_t)addr, size);
}

static void device_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    if (size == 8) {
        virtio_config_write(&p->vdev, (uint32_t)addr, (uint32_t)val, 4);
        virtio_config_write(&p->vdev, (uint32_t)addr + 4, (uint32_t)(val >> 32), 4);
        return;
    }
    virtio_config_write(&p->vdev, (uint32_t)addr, (uint32_t)val, size);
}

static uint64_t zero_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    return 0;
}

static void notify_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    (void)val;
    (void)size;
    uint64_t q = addr / p->notify_mult;
    if (q < VIRTIO_QUEUE_MAX) {
        virtio_queue_notify(&p->vdev, (unsigned)q);
    }
}

static void notify_pio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    VirtIOPCIProxy *p = opaque;
    (void)size;
    if (addr == 0 && (val & 0xffff) < VIRTIO_QUEUE_MAX) {
        virtio_queue_notify(&p->vdev, (unsigned)(val & 0xffff));
    }
}

static const MemoryRegionOps common_ops = {.read = common_read, .write = common_write};
static const MemoryRegionOps isr_ops = {.read = isr_read, .write = ignore_write};
static const MemoryRegionOps device_ops = {.read = device_read, .write = device_write};
static const MemoryRegionOps notify_ops = {.read = zero_read, .write = notify_write};
static const MemoryRegionOps notify_pio_ops = {.read = zero_read, .write = notify_pio_write};

/* ---- capabilities -------------------------------------------------------------------------- */

/* struct virtio_pci_cap (+ notify_off_multiplier for notify, + pci_cfg_data for PCI_CFG) */
static int add_cap(VirtIOPCIProxy *p, uint8_t type, uint8_t bar, uint32_t offset,
                   uint32_t length, uint8_t cap_len, char **errp)
{
    int pos = pci_add_capability(&p->pci, PCI_CAP_ID_VNDR, 0, cap_len, errp);
    if (pos < 0) {
        return -1;
    }
    uint8_t *c = p->pci.config + pos;
    c[2] = cap_len;
    c[3] = type;
    c[4] = bar;
    pci_set_long(c + 8, offset);
    pci_set_long(c + 12, length);
    return pos;
}

/* The PCI configuration access window (VIRTIO_PCI_CAP_PCI_CFG): bar, offset and length are
 * the driver's; pci_cfg_data reads and writes that much of the BAR's registers. */
static bool pci_cfg_window(VirtIOPCIProxy *p, uint64_t *off, unsigned *len)
{
    const uint8_t *c = p->pci.config + p->pci_cfg_cap;
    uint8_t bar = c[4];
    *off = pci_get_long(c + 8);
    *len = pci_get_long(c + 12);
    if (bar != MODERN_BAR || (*len != 1 && *len != 2 && *len != 4) ||
        *off + *len > p->modern_bar.size) {
        return false;
    }
    return true;
}

/* The register block holding [off, off+len) of BAR 4, with the offset inside it. */
static MemoryRegion *modern_region_at(VirtIOPCIProxy *p, uint64_t off, unsigned len,
                                      uint64_t *rel)
{
    MemoryRegion *rs[] = {&p->common, &p->isr, &p->device, &p->notify};
    uint64_t base[] = {COMMON_OFF, ISR_OFF, DEVICE_OFF, NOTIFY_OFF};
    for (unsigned i = 0; i < 4; i++) {
        if (off >= base[i] && off - base[i] + len <= rs[i]->size) {
            *rel = off - base[i];
            return rs[i];
        }
    }
    return NULL;
}

static uint32_t proxy_config_read(PCIDevice *d, uint32_t addr, unsigned len)
{
    VirtIOPCIProxy *p = (VirtIOPCIProxy *)d;
    uint32_t data_at = p->pci_cfg_cap + 16;
    if (p->pci_cfg_cap && addr + len > data_at && addr < data_at + 4) {
        uint64_t off, rel;
        unsigned wlen;
        if (pci_cfg_window(p, &off, &wlen) && addr == data_at && len >= wlen) {
            MemoryRegion *mr = modern_region_at(p, off, wlen, &rel);
            uint32_t v = mr && mr->ops->read ? (uint32_t)mr->ops->read(mr->opaque, rel, wlen) : 0;
            pci_set_long(d->config + data_at, v);
        }
    }
    return pci_default_read_config(d, addr, len);
}

static void proxy_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    VirtIOPCIProxy *p = (VirtIOPCIProxy *)d;
    bool was_master = pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER;
    bool had_msix = msix_enabled(d);
    pci_default_write_config(d, addr, val, len);
    uint32_t data_at = p->pci_cfg_cap + 16;
    if (p->pci_cfg_cap && addr == data_at) {
        uint64_t off, rel;
        unsigned wlen;
        if (pci_cfg_window(p, &off, &wlen) && len >= wlen) {
            MemoryRegion *mr = modern_region_at(p, off, wlen, &rel);
            if (mr && mr->ops->write) {
                uint32_t mask = wlen == 4 ? 0xffffffffu : (1u << (8 * wlen)) - 1;
                mr->ops->write(mr->opaque, rel, val & mask, wlen);
            }
        }
    }
    /* bus mastering off: the driver no longer runs the device (QEMU) */
    (void)was_master;
    if (addr <= PCI_COMMAND && addr + len > PCI_COMMAND &&
        !(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        stop_ioeventfd(p);
        if (p->vdev.status & VIRTIO_CONFIG_S_DRIVER_OK) {
            virtio_set_status(&p->vdev, p->vdev.status & ~VIRTIO_CONFIG_S_DRIVER_OK);
        }
    }
    /* MSI-X off: its irqfd routes go with it */
    if (had_msix && !msix_enabled(d)) {
        vectors_release(p);
    }
}

/* ---- realize ------------------------------------------------------------------------------ */

bool virtio_pci_realize(Device *dev, char **errp)
{
    VirtIOPCIProxy *p = (VirtIOPCIProxy *)dev;
    PCIDevice *d = &p->pci;
    const VirtIOPCIDeviceInfo *vi = dev->info->family;
    p->vinfo = vi;
    /* disable-legacy=auto means legacy on: Vireo's bus is conventional PCI */
    p->legacy = p->disable_legacy != ON_OFF_AUTO_ON;
    p->modern = !p->disable_modern;
    if (!p->legacy && !p->modern) {
        *errp = g_strdup("device is modern-only, but disable-modern is set");
        return false;
    }
    p->vdev.transport = &pci_transport;
    if (!vi->realize(p, errp)) {
        return false;
    }
    VirtIODevice *vdev = &p->vdev;
    if (p->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        p->nvectors = vi->default_vectors;
    }
    virtio_init_features(vdev, (p->modern ? 1ull << VIRTIO_F_VERSION_1 : 0) |
                                   (p->legacy ? 1ull << VIRTIO_F_BAD_FEATURE : 0));

    uint8_t *config = d->config;
    pci_set_word(config + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
    pci_set_word(config + PCI_CLASS_DEVICE, p->class_prop ? (uint16_t)p->class_prop : vi->class_code);
    if (p->legacy) {
        pci_set_word(config + PCI_DEVICE_ID, vi->legacy_device_id);
        pci_set_word(config + PCI_SUBSYSTEM_ID, vdev->ops->device_id);
        config[PCI_REVISION_ID] = 0;
    } else {
        pci_set_word(config + PCI_DEVICE_ID, (uint16_t)(0x1040 + vdev->ops->device_id));
        config[PCI_REVISION_ID] = 1;
    }
    config[PCI_INTERRUPT_PIN] = 1;

    if (p->modern) {
        p->notify_mult = p->page_per_vq ? 0x1000 : 4;
        uint64_t notify_size = (uint64_t)p->notify_mult * VIRTIO_QUEUE_MAX;
        uint64_t bar_size = 0x4000;
        while (bar_size < NOTIFY_OFF + notify_size) {
            bar_size <<= 1;
        }
        memory_region_init_container(&p->modern_bar, "virtio-pci", bar_size);
        memory_region_init_io(&p->common, "virtio-pci-common", &common_ops, p, REGION_SIZE);
        memory_region_init_io(&p->isr, "virtio-pci-isr", &isr_ops, p, REGION_SIZE);
        memory_region_init_io(&p->device, "virtio-pci-device", &device_ops, p, REGION_SIZE);
        memory_region_init_io(&p->notify, "virtio-pci-notify", &notify_ops, p, notify_size);
        memory_region_add_subregion(&p->modern_bar, COMMON_OFF, &p->common, 0);
        memory_region_add_subregion(&p->modern_bar, ISR_OFF, &p->isr, 0);
        memory_region_add_subregion(&p->modern_bar, DEVICE_OFF, &p->device, 0);
        memory_region_add_subregion(&p->modern_bar, NOTIFY_OFF, &p->notify, 0);
        if (add_cap(p, VIRTIO_PCI_CAP_COMMON_CFG, MODERN_BAR, COMMON_OFF, REGION_SIZE, 16,
                    errp) < 0 ||
            add_cap(p, VIRTIO_PCI_CAP_ISR_CFG, MODERN_BAR, ISR_OFF, REGION_SIZE, 16, errp) < 0 ||
            add_cap(p, VIRTIO_PCI_CAP_DEVICE_CFG, MODERN_BAR, DEVICE_OFF, REGION_SIZE, 16,
                    errp) < 0) {
            return false;
        }
        int pos = add_cap(p, VIRTIO_PCI_CAP_NOTIFY_CFG, MODERN_BAR, NOTIFY_OFF,
                          (uint32_t)notify_size, 20, errp);
        if (pos < 0) {
            return false;
        }
        pci_set_long(config + pos + 16, p->notify_mult);
        if (p->modern_pio_notify) {
            memory_region_init_io(&p->notify_pio, "virtio-pci-notify-pio", &notify_pio_ops, p, 4);
            pos = add_cap(p, VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_PIO_BAR, 0, 4, 20, errp);
            if (pos < 0) {
                return false;
            }
            pci_set_long(config + pos + 16, 0);
            pci_register_bar(d, NOTIFY_PIO_BAR, PCI_BASE_ADDRESS_SPACE_IO, &p->notify_pio);
        }
        pos = add_cap(p, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 20, errp);
        if (pos < 0) {
            return false;
        }
        p->pci_cfg_cap = (uint8_t)pos;
        /* the driver chooses the window: bar, offset, length and the data are writable */
        d->wmask[pos + 4] = 0xff;
        memset(d->wmask + pos + 8, 0xff, 8);
        memset(d->wmask + pos + 16, 0xff, 4);
        pci_register_bar(d, MODERN_BAR,
                         PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_PREFETCH |
                             PCI_BASE_ADDRESS_MEM_TYPE_64,
                         &p->modern_bar);
    }
    if (p->nvectors) {
        char *err = NULL;
        if (msix_init_exclusive_bar(d, p->nvectors, MSIX_BAR, &err) < 0) {
            g_free(err);
            p->nvectors = 0;
        }
    }
    p->vectors = g_new(VirtIOPCIVector, p->nvectors ? p->nvectors : 1);
    for (unsigned v = 0; v < p->nvectors; v++) {
        p->vectors[v] = (VirtIOPCIVector){.fd = -1, .route = -1};
    }
    if (p->legacy) {
        uint64_t size = (p->nvectors ? 24 : 20) + vdev->config_len, s = 4;
        while (s < size) {
            s <<= 1;
        }
        memory_region_init_io(&p->bar0, "virtio-pci", &legacy_ops, p, s);
        pci_register_bar(d, LEGACY_BAR, PCI_BASE_ADDRESS_SPACE_IO, &p->bar0);
    }
    return true;
}

void virtio_pci_unrealize(Device *dev)
{
    VirtIOPCIProxy *p = (VirtIOPCIProxy *)dev;
    stop_ioeventfd(p);
    vectors_release(p);
    if (p->vinfo && p->vinfo->unrealize) {
        p->vinfo->unrealize(p);
    }
    virtio_cleanup(&p->vdev);
    if (p->modern) {
        memory_region_destroy(&p->common);
        memory_region_destroy(&p->isr);
        memory_region_destroy(&p->device);
        memory_region_destroy(&p->notify);
        if (p->modern_pio_notify) {
            memory_region_destroy(&p->notify_pio);
        }
        memory_region_destroy(&p->modern_bar);
    }
    if (p->legacy) {
        memory_region_destroy(&p->bar0);
    }
    g_free(p->vectors);
    p->vectors = NULL;
}

void virtio_pci_reset(Device *dev)
{
    VirtIOPCIProxy *p = (VirtIOPCIProxy *)dev;
    proxy_reset_state(p);
    pci_device_reset(&p->pci);
}

/* ---- properties and saved state ------------------------------------------------------------ */

const Property virtio_pci_props[] = {
    DEFINE_PROP_BIT("aer", VirtIOPCIProxy, aer, false),
    DEFINE_PROP_BIT("ats", VirtIOPCIProxy, ats, false),
    DEFINE_PROP_("disable-legacy", PROP_ONOFFAUTO, VirtIOPCIProxy, disable_legacy, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_BOOL("disable-modern", VirtIOPCIProxy, disable_modern, false),
    DEFINE_PROP_BIT("migrate-extra", VirtIOPCIProxy, migrate_extra, true),
    DEFINE_PROP_BIT("modern-pio-notify", VirtIOPCIProxy, modern_pio_notify, false),
    DEFINE_PROP_BIT("page-per-vq", VirtIOPCIProxy, page_per_vq, false),
    DEFINE_PROP_BIT("virtio-pci-bus-master-bug-migration", VirtIOPCIProxy,
                    bus_master_bug_migration, false),
    DEFINE_PROP_BIT("x-ats-page-aligned", VirtIOPCIProxy, x_ats_page_aligned, true),
    DEFINE_PROP_BIT("x-disable-pcie", VirtIOPCIProxy, x_disable_pcie, false),
    DEFINE_PROP_BOOL("x-ignore-backend-features", VirtIOPCIProxy, x_ignore_backend_features,
                     false),
    DEFINE_PROP_BIT("x-pcie-deverr-init", VirtIOPCIProxy, x_pcie_deverr_init, true),
    DEFINE_PROP_BIT("x-pcie-flr-init", VirtIOPCIProxy, x_pcie_flr_init, true),
    DEFINE_PROP_BIT("x-pcie-lnkctl-init", VirtIOPCIProxy, x_pcie_lnkctl_init, true),
    DEFINE_PROP_BIT("x-pcie-pm-init", VirtIOPCIProxy, x_pcie_pm_init, true),
    VIRTIO_COMMON_PROPS(VirtIOPCIProxy, vdev),
    DEFINE_PROP_END,
};

const PCIDeviceInfo virtio_pci_ids = {
    .vendor_id = VIRTIO_PCI_VENDOR,
    .config_read = proxy_config_read,
    .config_write = proxy_config_write,
};

const PCIDeviceInfo virtio_pci_net_ids = {
    .vendor_id = VIRTIO_PCI_VENDOR,
    .config_read = proxy_config_read,
    .config_write = proxy_config_write,
    .romfile = "efi-virtio.rom",
};

static const VMStateField proxy_fields[] = {
    VMSTATE_BUFFER(pci.config, VirtIOPCIProxy),
    VMSTATE_VBUFFER(pci.msix_table, VirtIOPCIProxy, pci.msix_table_bytes),
    VMSTATE_VBUFFER(pci.msix_pba, VirtIOPCIProxy, pci.msix_pba_bytes),
    VMSTATE_UINT32(dfselect, VirtIOPCIProxy),
    VMSTATE_UINT32(gfselect, VirtIOPCIProxy),
    VMSTATE_UINT32_ARRAY(guest_features, VirtIOPCIProxy, 2),
    VMSTATE_STRUCT(vdev, VirtIOPCIProxy, virtio_vmstate),
    VMSTATE_END_OF_LIST(),
};

bool virtio_pci_post_load(VirtIOPCIProxy *p, char **errp)
{
    pci_update_mappings(&p->pci);
    if (!virtio_post_load(&p->vdev, errp)) {
        return false;
    }
    stop_ioeventfd(p);
    if (p->vdev.status & VIRTIO_CONFIG_S_DRIVER_OK) {
        start_ioeventfd(p);
    }
    return true;
}

const VMStateDescription virtio_pci_vmstate = {
    .name = "virtio-pci",
    .version = 1,
    .minimum_version = 1,
    .fields = proxy_fields,
};
