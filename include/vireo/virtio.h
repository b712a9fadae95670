/*
 * virtio devices (hw/virtio/virtio.c, virtqueue.c; docs/virtio.md): the part of a virtio device
 * that does not depend on the transport. A VirtIODevice holds the device status, the feature
 * bits offered and accepted, the config space and the virtqueues; a transport (virtio-pci.c:
 * `virtio-*-pci`) gives it registers, notifications and interrupts through VirtIOTransportOps;
 * a device type (virtio-blk, later -scsi, -net, -balloon, -rng, -serial, -gpu) gives it
 * behaviour through VirtIODeviceOps.
 *
 * Threads and locks. Everything here runs with the big lock held (vireo_lock()): register
 * accesses from vCPU exits, and the main loop's queue and completion handlers, which take it.
 * A guest's queue notification never takes the lock on a vCPU thread when ioeventfd is on: the
 * vCPU (KVM: the kernel) signals the queue's eventfd and the main loop runs the handler.
 * Interrupts under KVM go through irqfd (the main loop writes an eventfd, the kernel injects the
 * MSI); under TCG through the userspace APIC (msix_notify).
 *
 * Guest memory is reached only through the DMA API (dma.h): rings are mapped when a queue is
 * enabled (they must lie in RAM), buffers are mapped per element by virtqueue_pop() and unmapped
 * by virtqueue_push()/virtqueue_detach(). A malformed ring or descriptor chain never crashes the
 * process: virtio_error() prints a one-line message (QEMU's words where QEMU has one), sets
 * NEEDS_RESET, tells a VERSION_1 driver through a config interrupt, and the device stops
 * processing its queues until the driver resets it.
 */
#ifndef VIREO_VIRTIO_H
#define VIREO_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vireo/vmstate.h"

/* ---- constants (virtio 1.2 spec, QEMU's limits) ---- */

#define VIRTIO_QUEUE_MAX    1024 /* queues per device (QEMU's VIRTIO_QUEUE_MAX) */
#define VIRTQUEUE_MAX_SIZE  1024 /* descriptors per queue, and segments per element */
#define VIRTIO_NO_VECTOR    0xffff

/* device status */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 0x01
#define VIRTIO_CONFIG_S_DRIVER      0x02
#define VIRTIO_CONFIG_S_DRIVER_OK   0x04
#define VIRTIO_CONFIG_S_FEATURES_OK 0x08
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define VIRTIO_CONFIG_S_FAILED      0x80

/* transport and ring feature bits */
#define VIRTIO_F_NOTIFY_ON_EMPTY    24
#define VIRTIO_F_ANY_LAYOUT         27
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_BAD_FEATURE        30
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_IOMMU_PLATFORM     33
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_RING_RESET         40

/* ISR bits */
#define VIRTIO_ISR_QUEUE  0x1
#define VIRTIO_ISR_CONFIG 0x2

/* device IDs */
#define VIRTIO_ID_NET      1
#define VIRTIO_ID_BLOCK    2
#define VIRTIO_ID_CONSOLE  3
#define VIRTIO_ID_RNG      4
#define VIRTIO_ID_BALLOON  5
#define VIRTIO_ID_SCSI     8
#define VIRTIO_ID_9P       9
#define VIRTIO_ID_GPU      16

typedef struct VirtIODevice VirtIODevice;
typedef struct VirtQueue VirtQueue;

/* ---- elements: one descriptor chain, mapped ---- */

/*
 * What virtqueue_pop() hands a device: the chain's driver-readable buffers (out) then its
 * device-writable buffers (in), each as host iovecs over guest RAM (a descriptor crossing a RAM
 * boundary is split into several iovecs) with their guest addresses. The device reads out_sg,
 * writes in_sg, and gives the element back with virtqueue_push(vq, elem, bytes written).
 */
typedef struct VirtQueueElement {
    unsigned index;  /* head descriptor (split) or buffer id (packed) */
    unsigned ndescs; /* ring slots the chain took (packed rings need it) */
    unsigned out_num, in_num;
    struct iovec *out_sg, *in_sg;
    uint64_t *out_addr, *in_addr;
    uint32_t gen; /* the queue's generation when popped: a reset since makes it stale */
} VirtQueueElement;

/* ---- what a device type provides ---- */

typedef void (*VirtQueueHandler)(VirtIODevice *vdev, VirtQueue *vq);

typedef struct VirtIODeviceOps {
    const char *name; /* "virtio-blk": in messages */
    uint16_t device_id;
    /* Device feature bits to offer (transport and ring bits are added by the core). */
    uint64_t (*get_features)(VirtIODevice *vdev, uint64_t offered);
    /* The driver accepted `features` (FEATURES_OK, or a legacy driver's DRIVER_OK). */
    void (*set_features)(VirtIODevice *vdev, uint64_t features);
    /* Fill vdev->config (config_len bytes) from device state before a read. */
    void (*get_config)(VirtIODevice *vdev, uint8_t *config);
    /* The driver wrote config bytes (already stored in `config`). */
    void (*set_config)(VirtIODevice *vdev, const uint8_t *config);
    /* Status changed (old -> vdev->status). DRIVER_OK: start; 0: the core resets after. */
    void (*set_status)(VirtIODevice *vdev, uint8_t old_status);
    /* Device reset (status 0, or machine reset): drop in-flight work, power-on state. */
    void (*reset)(VirtIODevice *vdev);
    /* Device-specific saved state (optional), a section of its own after the core's. */
    const VMStateDescription *vmsd;
} VirtIODeviceOps;

/* ---- what a transport provides ---- */

typedef struct VirtIOTransportOps {
    /* Raise the interrupt for `vector` (VIRTIO_NO_VECTOR: INTx / no MSI-X vector). */
    void (*notify)(VirtIODevice *vdev, uint16_t vector);
    /* The queue's eventfd should (or should no longer) receive the guest's notifications. */
    void (*set_host_notifier)(VirtIODevice *vdev, unsigned n, bool assign);
    /* May the device reach guest memory now (PCI: bus mastering on)? */
    bool (*dma_enabled)(VirtIODevice *vdev);
} VirtIOTransportOps;

/* ---- the queues ---- */

struct VirtQueue {
    VirtIODevice *vdev;
    uint16_t index;
    uint16_t num_max;     /* the device's maximum (queue-size) */
    uint16_t num;         /* the size the driver chose (0: queue unused) */
    bool enabled;         /* modern queue_enable, or a legacy PFN != 0 */
    bool ready;           /* rings mapped: the device may process the queue */
    uint64_t desc, avail, used; /* ring addresses (packed: avail = driver area, used = device) */
    uint16_t vector;      /* MSI-X vector of this queue */
    VirtQueueHandler handler;

    /* ring state (split: 16-bit free-running indexes; packed: index + wrap counter) */
    uint16_t last_avail_idx, shadow_avail_idx, used_idx;
    bool last_avail_wrap, shadow_avail_wrap, used_wrap;
    uint16_t signalled_used;
    bool signalled_used_valid;
    bool notification; /* the device wants the driver's notifications */
    unsigned inuse;    /* ring slots popped and not yet pushed */
    uint32_t gen;      /* bumped by every reset: elements popped before are dropped */

    /* ring memory, mapped while ready (dma_map) */
    uint8_t *desc_host, *avail_host, *used_host;
    uint64_t desc_len, avail_len, used_len;

    /*
     * Notifications from the guest: an eventfd the main loop watches for the device's whole
     * life (the transport registers it as an ioeventfd while the driver runs the queue).
     */
    int host_fd;
    unsigned host_watch;
    bool pending_notify; /* a batched interrupt is owed (virtio_notify_deferred) */
};

struct VirtIODevice {
    const VirtIODeviceOps *ops;
    const VirtIOTransportOps *transport;
    void *opaque;       /* the device type's state */
    void *transport_opaque;
    uint8_t status;
    uint8_t isr;
    uint16_t config_vector;
    uint32_t generation; /* config generation */
    uint64_t host_features;  /* offered */
    uint64_t guest_features; /* accepted */
    uint8_t *config;
    size_t config_len;
    VirtQueue *vq;
    unsigned nvq, max_queues;
    bool broken; /* virtio_error() ran: no queue is processed until reset */
    bool started;
    uint32_t queue_sel;   /* transports keep their selector here */
    /* properties every virtio device has, with QEMU's names (virtio_common_props) */
    bool indirect_desc, event_idx, notify_on_empty, any_layout, iommu_platform, packed,
        queue_reset, use_started, use_disabled_flag, x_disable_legacy_check;
    unsigned deferred_source; /* main-loop source sending batched interrupts */
};

/* The properties of every virtio device (in a virtio-*-pci's family list). */
#define VIRTIO_COMMON_PROPS(st, f)                                                              \
    DEFINE_PROP_BIT("any_layout", st, f.any_layout, true),                                     \
        DEFINE_PROP_BIT("event_idx", st, f.event_idx, true),                                   \
        DEFINE_PROP_BIT("indirect_desc", st, f.indirect_desc, true),                           \
        DEFINE_PROP_BIT("iommu_platform", st, f.iommu_platform, false),                        \
        DEFINE_PROP_BIT("notify_on_empty", st, f.notify_on_empty, true),                       \
        DEFINE_PROP_BIT("packed", st, f.packed, false),                                        \
        DEFINE_PROP_BIT("queue_reset", st, f.queue_reset, true),                               \
        DEFINE_PROP_BOOL("use-disabled-flag", st, f.use_disabled_flag, true),                  \
        DEFINE_PROP_BOOL("use-started", st, f.use_started, true),                              \
        DEFINE_PROP_BOOL("x-disable-legacy-check", st, f.x_disable_legacy_check, false)

/* ---- device lifecycle (device types and transports) ---- */

/*
 * Set up vdev for a device of `ops` with config_len bytes of config space and room for
 * max_queues queues, which virtio_add_queue() then adds in order. Features offered: the
 * common properties' bits plus ops->get_features (virtio_init_features, by the transport).
 */
void virtio_init(VirtIODevice *vdev, const VirtIODeviceOps *ops, void *opaque, size_t config_len,
                 unsigned max_queues);
void virtio_cleanup(VirtIODevice *vdev);
/* A queue of at most num_max entries (a power of 2 up to VIRTQUEUE_MAX_SIZE). */
VirtQueue *virtio_add_queue(VirtIODevice *vdev, uint16_t num_max, VirtQueueHandler handler);
/* Reset: the device's reset hook, then status, features, queues, ISR back to power-on. */
void virtio_reset(VirtIODevice *vdev);

static inline bool virtio_has_feature(uint64_t features, unsigned bit)
{
    return (features >> bit) & 1;
}
static inline bool virtio_vdev_has_feature(const VirtIODevice *vdev, unsigned bit)
{
    return virtio_has_feature(vdev->guest_features, bit);
}
static inline bool virtio_is_modern(const VirtIODevice *vdev)
{
    return virtio_vdev_has_feature(vdev, VIRTIO_F_VERSION_1);
}

/* ---- driver-visible operations (called by the transport) ---- */

/* The driver writes the status register (0: reset). */
void virtio_set_status(VirtIODevice *vdev, uint8_t status);
/* The driver writes its features (bits it may not accept are dropped). 0 or -1. */
int virtio_set_features(VirtIODevice *vdev, uint64_t features);
/* Read or write config bytes [addr, addr+len) (len 1, 2, 4; little endian). */
uint32_t virtio_config_read(VirtIODevice *vdev, uint32_t addr, unsigned len);
void virtio_config_write(VirtIODevice *vdev, uint32_t addr, uint32_t val, unsigned len);
/* Read the ISR and clear it (the transport lowers INTx). */
uint8_t virtio_isr_read_clear(VirtIODevice *vdev);

/* Queue configuration */
void virtio_queue_set_num(VirtIODevice *vdev, unsigned n, unsigned num);
void virtio_queue_set_rings(VirtIODevice *vdev, unsigned n, uint64_t desc, uint64_t avail,
                            uint64_t used);
/* Legacy: a page frame number lays out desc, avail, used with 4096 alignment. */
void virtio_queue_set_legacy_pfn(VirtIODevice *vdev, unsigned n, uint32_t pfn);
uint32_t virtio_queue_legacy_pfn(VirtIODevice *vdev, unsigned n);
/* Modern queue_enable = 1: map the rings (errors per QEMU: "Cannot map desc", ...). */
void virtio_queue_enable(VirtIODevice *vdev, unsigned n);
/* VIRTIO_F_RING_RESET: queue_reset = 1 */
void virtio_queue_reset(VirtIODevice *vdev, unsigned n);

/* The guest notified queue n (a notify register write, or its eventfd fired). */
void virtio_queue_notify(VirtIODevice *vdev, unsigned n);

/* ---- for device types: processing queues ---- */

/* The next available chain, mapped, or NULL (empty, or the device went broken). */
VirtQueueElement *virtqueue_pop(VirtQueue *vq);
/* Complete elem with `len` bytes written into its in buffers; frees elem. */
void virtqueue_push(VirtQueue *vq, VirtQueueElement *elem, unsigned len);
/* Complete several elements with one used-index update (split rings); frees them. */
void virtqueue_push_many(VirtQueue *vq, VirtQueueElement **elems, const unsigned *lens,
                         unsigned n);
/* Give elem back unused (it will be popped again); frees elem. */
void virtqueue_unpop(VirtQueue *vq, VirtQueueElement *elem);
/* Forget elem without completing it (device reset); frees elem. */
void virtqueue_detach(VirtQueue *vq, VirtQueueElement *elem);
bool virtqueue_empty(VirtQueue *vq);
/* Ask for (or stop asking for) the driver's notifications while processing. */
void virtqueue_set_notification(VirtQueue *vq, bool enable);
/* Interrupt the driver for vq if the ring's suppression rules ask for it. */
void virtio_notify(VirtIODevice *vdev, VirtQueue *vq);
/* The same, batched: sent once from the main loop after the current batch of completions. */
void virtio_notify_deferred(VirtIODevice *vdev, VirtQueue *vq);
/* Config space changed: bump the generation and raise the config interrupt. */
void virtio_notify_config(VirtIODevice *vdev);
/*
 * The driver did something the device cannot go on with (a malformed ring, a bad request
 * layout): print the one-line message, set NEEDS_RESET, stop processing until reset.
 */
void virtio_error(VirtIODevice *vdev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copy between an iovec array and a buffer, from byte `offset`; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
                    size_t len);
size_t iov_size(const struct iovec *iov, unsigned n);

/* ---- transports ---- */

/* The bits a transport adds to the offered features (VERSION_1, BAD_FEATURE), then the
 * device's: call once at realize, after the properties are set. */
void virtio_init_features(VirtIODevice *vdev, uint64_t transport_bits);
/* Whether queue n exists and its rings are set up (the transport's ioeventfd follows it). */
bool virtio_queue_ready(VirtIODevice *vdev, unsigned n);

/* ---- saved state ---- */

/* The core's state (status, features, queues, config vector, ISR) as a vmstate section. */
extern const VMStateDescription virtio_vmstate;
/* After loading virtio_vmstate: map the rings again, re-arm notifiers. */
bool virtio_post_load(VirtIODevice *vdev, char **errp);

/* Ring internals shared by virtio.c and virtqueue.c (and the fuzzer). */
bool virtqueue_map_rings(VirtQueue *vq);
void virtqueue_unmap_rings(VirtQueue *vq);
void virtqueue_reset_state(VirtQueue *vq);
bool virtqueue_should_notify(VirtQueue *vq);

#endif
