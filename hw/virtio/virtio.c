/*
 * The virtio device core (include/vireo/virtio.h): status, feature negotiation, config space,
 * queues' configuration and reset, interrupts decisions, errors, the main-loop side of queue
 * notifications, and saved state. Transport-independent: the PCI transport (virtio-pci.c)
 * calls in here for register accesses and gets called back through VirtIOTransportOps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/virtio.h"

/* ---- lifecycle ---------------------------------------------------------------------------- */

void virtio_init(VirtIODevice *vdev, const VirtIODeviceOps *ops, void *opaque, size_t config_len,
                 unsigned max_queues)
{
    vdev->ops = ops;
    vdev->max_queues = max_queues;
    vdev->vq = g_new0(VirtQueue, max_queues ? max_queues : 1);
    vdev->nvq = 0;
    vdev->opaque = opaque;
    vdev->config_len = config_len;
    vdev->config = g_malloc0(config_len ? config_len : 1);
    vdev->config_vector = VIRTIO_NO_VECTOR;
    vdev->status = 0;
    vdev->broken = false;
}

static gboolean host_notifier_ready(gint fd, GIOCondition cond, gpointer opaque);

VirtQueue *virtio_add_queue(VirtIODevice *vdev, uint16_t num_max, VirtQueueHandler handler)
{
    if (vdev->nvq >= vdev->max_queues) {
        return NULL;
    }
    VirtQueue *vq = &vdev->vq[vdev->nvq];
    memset(vq, 0, sizeof(*vq));
    vq->vdev = vdev;
    vq->index = (uint16_t)vdev->nvq;
    vq->num_max = num_max;
    vq->num = num_max;
    vq->vector = VIRTIO_NO_VECTOR;
    vq->handler = handler;
    virtqueue_reset_state(vq);
    vq->host_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (vq->host_fd >= 0) {
        vq->host_watch = g_unix_fd_add(vq->host_fd, G_IO_IN, host_notifier_ready, vq);
    }
    vdev->nvq++;
    return vq;
}

void virtio_cleanup(VirtIODevice *vdev)
{
    for (unsigned i = 0; i < vdev->nvq; i++) {
        VirtQueue *vq = &vdev->vq[i];
        virtqueue_unmap_rings(vq);
        if (vq->host_watch) {
            g_source_remove(vq->host_watch);
        }
        if (vq->host_fd >= 0) {
            close(vq->host_fd);
        }
    }
    if (vdev->deferred_source) {
        g_source_remove(vdev->deferred_source);
        vdev->deferred_source = 0;
    }
    g_free(vdev->vq);
    vdev->vq = NULL;
    vdev->nvq = 0;
    g_free(vdev->config);
    vdev->config = NULL;
}

void virtio_init_features(VirtIODevice *vdev, uint64_t transport_bits)
{
    uint64_t f = transport_bits;
    static const struct {
        size_t off;
        unsigned bit;
    } common[] = {
        {offsetof(VirtIODevice, indirect_desc), VIRTIO_RING_F_INDIRECT_DESC},
        {offsetof(VirtIODevice, event_idx), VIRTIO_RING_F_EVENT_IDX},
        {offsetof(VirtIODevice, notify_on_empty), VIRTIO_F_NOTIFY_ON_EMPTY},
        {offsetof(VirtIODevice, any_layout), VIRTIO_F_ANY_LAYOUT},
        {offsetof(VirtIODevice, iommu_platform), VIRTIO_F_IOMMU_PLATFORM},
        {offsetof(VirtIODevice, packed), VIRTIO_F_RING_PACKED},
        {offsetof(VirtIODevice, queue_reset), VIRTIO_F_RING_RESET},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(common); i++) {
        if (*(bool *)((uint8_t *)vdev + common[i].off)) {
            f |= 1ull << common[i].bit;
        }
    }
    if (vdev->ops->get_features) {
        f = vdev->ops->get_features(vdev, f);
    }
    vdev->host_features = f;
}

static void queue_reset(VirtQueue *vq)
{
    virtqueue_unmap_rings(vq);
    virtqueue_reset_state(vq);
    vq->num = vq->num_max;
    vq->enabled = false;
    vq->desc = vq->avail = vq->used = 0;
    vq->vector = VIRTIO_NO_VECTOR;
    vq->pending_notify = false;
}

void virtio_reset(VirtIODevice *vdev)
{
    if (vdev->ops->reset) {
        vdev->ops->reset(vdev);
    }
    vdev->started = false;
    vdev->broken = false;
    vdev->guest_features = 0;
    vdev->status = 0;
    vdev->isr = 0;
    vdev->config_vector = VIRTIO_NO_VECTOR;
    vdev->queue_sel = 0;
    for (unsigned i = 0; i < vdev->nvq; i++) {
        queue_reset(&vdev->vq[i]);
    }
}

/* ---- status and features ----------------------------------------------------------------- */

void virtio_set_status(VirtIODevice *vdev, uint8_t status)
{
    uint8_t old = vdev->status;
    if (virtio_is_modern(vdev) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
        (status & VIRTIO_CONFIG_S_FEATURES_OK)) {
        /* a driver must accept IOMMU_PLATFORM when it is offered (QEMU's validation) */
        if (virtio_has_feature(vdev->host_features, VIRTIO_F_IOMMU_PLATFORM) &&
            !virtio_vdev_has_feature(vdev, VIRTIO_F_IOMMU_PLATFORM)) {
            return;
        }
    }
    vdev->started = status & VIRTIO_CONFIG_S_DRIVER_OK;
    vdev->status = status;
    if (vdev->ops->set_status) {
        vdev->ops->set_status(vdev, old);
    }
}

int virtio_set_features(VirtIODevice *vdev, uint64_t features)
{
    /* features are fixed once the driver said FEATURES_OK */
    if (vdev->status & VIRTIO_CONFIG_S_FEATURES_OK) {
        return -1;
    }
    uint64_t bad = features & ~vdev->host_features;
    features &= vdev->host_features;
    bool packed_changed = ((features ^ vdev->guest_features) >> VIRTIO_F_RING_PACKED) & 1;
    vdev->guest_features = features;
    if (vdev->ops->set_features) {
        vdev->ops->set_features(vdev, features);
    }
    /* the ring layout depends on the features: rings set up before are mapped again */
    for (unsigned i = 0; i < vdev->nvq; i++) {
        VirtQueue *vq = &vdev->vq[i];
        if (packed_changed) {
            virtqueue_reset_state(vq);
        }
        if (vq->ready) {
            virtqueue_map_rings(vq);
        }
    }
    return bad ? -1 : 0;
}

/* ---- config space ------------------------------------------------------------------------ */

uint32_t virtio_config_read(VirtIODevice *vdev, uint32_t addr, unsigned len)
{
    if (addr + len > vdev->config_len || addr + len < addr) {
        return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
    }
    if (vdev->ops->get_config) {
        vdev->ops->get_config(vdev, vdev->config);
    }
    uint32_t v = 0;
    memcpy(&v, vdev->config + addr, len);
    return v;
}

void virtio_config_write(VirtIODevice *vdev, uint32_t addr, uint32_t val, unsigned len)
{
    if (addr + len > vdev->config_len || addr + len < addr) {
        return;
    }
    if (vdev->ops->get_config) {
        vdev->ops->get_config(vdev, vdev->config);
    }
    memcpy(vdev->config + addr, &val, len);
    if (vdev->ops->set_config) {
        vdev->ops->set_config(vdev, vdev->config);
    }
}

uint8_t virtio_isr_read_clear(VirtIODevice *vdev)
{
    uint8_t v = vdev->isr;
    vdev->isr = 0;
    return v;
}

/* ---- queues ------------------------------------------------------------------------------- */

bool virtio_queue_ready(VirtIODevice *vdev, unsigned n)
{
    return n < vdev->nvq && vdev->vq[n].ready;
}

void virtio_queue_set_num(VirtIODevice *vdev, unsigned n, unsigned num)
{
    if (n >= vdev->nvq) {
        return;
    }
    VirtQueue *vq = &vdev->vq[n];
    /* QEMU keeps any size up to the maximum; a size that is no power of 2 breaks split rings
     * only for the driver that chose it (the ring arithmetic below is modular). */
    if (num > vq->num_max || (num & (num - 1))) {
        return;
    }
    vq->num = (uint16_t)num;
}

void virtio_queue_set_rings(VirtIODevice *vdev, unsigned n, uint64_t desc, uint64_t avail,
                            uint64_t used)
{
    if (n >= vdev->nvq) {
        return;
    }
    VirtQueue *vq = &vdev->vq[n];
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
}

void virtio_queue_set_legacy_pfn(VirtIODevice *vdev, unsigned n, uint32_t pfn)
{
    if (n >= vdev->nvq) {
        return;
    }
    VirtQueue *vq = &vdev->vq[n];
    if (pfn == 0) {
        /* a legacy driver's way of resetting the device */
        virtio_reset(vdev);
        return;
    }
    uint64_t desc = (uint64_t)pfn << 12;
    uint64_t avail = desc + 16ull * vq->num;
    uint64_t used = (avail + 6 + 2ull * vq->num + 4095) & ~4095ull;
    virtio_queue_set_rings(vdev, n, desc, avail, used);
    vq->enabled = true;
    virtqueue_map_rings(vq);
}

uint32_t virtio_queue_legacy_pfn(VirtIODevice *vdev, unsigned n)
{
    return n < vdev->nvq ? (uint32_t)(vdev->vq[n].desc >> 12) : 0;
}

void virtio_queue_enable(VirtIODevice *vdev, unsigned n)
{
    if (n >= vdev->nvq) {
        return;
    }
    VirtQueue *vq = &vdev->vq[n];
    vq->enabled = true;
    virtqueue_map_rings(vq);
}

void virtio_queue_reset(VirtIODevice *vdev, unsigned n)
{
    if (n >= vdev->nvq) {
        return;
    }
    queue_reset(&vdev->vq[n]);
}

/* The handler runs only for a queue the driver set up, on a device not broken. */
static void run_handler(VirtIODevice *vdev, VirtQueue *vq)
{
    if (vq->ready && !vdev->broken && vq->handler) {
        vq->handler(vdev, vq);
    }
}

void virtio_queue_notify(VirtIODevice *vdev, unsigned n)
{
    if (n >= vdev->nvq) {
        return;
    }
    VirtQueue *vq = &vdev->vq[n];
    if (vq->host_fd >= 0) {
        /* one path: the main loop runs the queue, never a vCPU thread */
        uint64_t one = 1;
        ssize_t r = write(vq->host_fd, &one, sizeof(one));
        (void)r;
        return;
    }
    run_handler(vdev, vq);
}

static gboolean host_notifier_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)cond;
    VirtQueue *vq = opaque;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
    vireo_lock();
    run_handler(vq->vdev, vq);
    vireo_unlock();
    return G_SOURCE_CONTINUE;
}

/* ---- interrupts ---------------------------------------------------------------------------- */

static void notify_vector(VirtIODevice *vdev, uint16_t vector)
{
    if (vdev->broken || !vdev->transport || !vdev->transport->notify) {
        return;
    }
    vdev->transport->notify(vdev, vector);
}

void virtio_notify(VirtIODevice *vdev, VirtQueue *vq)
{
    vq->pending_notify = false;
    if (!virtqueue_should_notify(vq)) {
        return;
    }
    vdev->isr |= VIRTIO_ISR_QUEUE;
    notify_vector(vdev, vq->vector);
}

static gboolean deferred_notify(gpointer opaque)
{
    VirtIODevice *vdev = opaque;
    vireo_lock();
    vdev->deferred_source = 0;
    for (unsigned i = 0; i < vdev->nvq; i++) {
        if (vdev->vq[i].pending_notify) {
            virtio_notify(vdev, &vdev->vq[i]);
        }
    }
    vireo_unlock();
    return G_SOURCE_REMOVE;
}

void virtio_notify_deferred(VirtIODevice *vdev, VirtQueue *vq)
{
    vq->pending_notify = true;
    if (!vdev->deferred_source) {
        vdev->deferred_source = g_idle_add_full(G_PRIORITY_DEFAULT, deferred_notify, vdev, NULL);
    }
}

void virtio_notify_config(VirtIODevice *vdev)
{
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return;
    }
    vdev->isr |= VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG;
    vdev->generation++;
    notify_vector(vdev, vdev->config_vector);
}

void virtio_error(VirtIODevice *vdev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    if (virtio_is_modern(vdev)) {
        vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        virtio_notify_config(vdev);
    }
    vdev->broken = true;
}

/* ---- saved state --------------------------------------------------------------------------- */

static const VMStateField virtqueue_fields[] = {
    VMSTATE_UINT16(num, VirtQueue),
    VMSTATE_BOOL(enabled, VirtQueue),
    VMSTATE_UINT64(desc, VirtQueue),
    VMSTATE_UINT64(avail, VirtQueue),
    VMSTATE_UINT64(used, VirtQueue),
    VMSTATE_UINT16(vector, VirtQueue),
    VMSTATE_UINT16(last_avail_idx, VirtQueue),
    VMSTATE_UINT16(used_idx, VirtQueue),
    VMSTATE_BOOL(last_avail_wrap, VirtQueue),
    VMSTATE_BOOL(used_wrap, VirtQueue),
    VMSTATE_UINT16(signalled_used, VirtQueue),
    VMSTATE_BOOL(signalled_used_valid, VirtQueue),
    VMSTATE_BOOL(notification, VirtQueue),
    VMSTATE_UINT32(inuse, VirtQueue),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription virtqueue_vmstate = {
    .name = "virtqueue",
    .version = 1,
    .minimum_version = 1,
    .fields = virtqueue_fields,
};

static const VMStateField virtio_fields[] = {
    VMSTATE_UINT8(status, VirtIODevice),
    VMSTATE_UINT8(isr, VirtIODevice),
    VMSTATE_UINT16(config_vector, VirtIODevice),
    VMSTATE_UINT32(generation, VirtIODevice),
    VMSTATE_UINT64(guest_features, VirtIODevice),
    VMSTATE_BOOL(broken, VirtIODevice),
    VMSTATE_UINT32(queue_sel, VirtIODevice),
    VMSTATE_STRUCT_VARRAY(vq, VirtIODevice, nvq, virtqueue_vmstate, VirtQueue),
    VMSTATE_END_OF_LIST(),
};

const VMStateDescription virtio_vmstate = {
    .name = "virtio",
    .version = 1,
    .minimum_version = 1,
    .fields = virtio_fields,
};

bool virtio_post_load(VirtIODevice *vdev, char **errp)
{
    if (vdev->guest_features & ~vdev->host_features) {
        *errp = g_strdup_printf("%s: the saved features 0x%llx are not all offered (0x%llx)",
                                vdev->ops->name, (unsigned long long)vdev->guest_features,
                                (unsigned long long)vdev->host_features);
        return false;
    }
    vdev->started = vdev->status & VIRTIO_CONFIG_S_DRIVER_OK;
    for (unsigned i = 0; i < vdev->nvq; i++) {
        VirtQueue *vq = &vdev->vq[i];
        if (vq->num > vq->num_max) {
            *errp = g_strdup_printf("%s: queue %u has size %u, more than %u", vdev->ops->name, i,
                                    vq->num, vq->num_max);
            return false;
        }
        vq->shadow_avail_idx = vq->last_avail_idx;
        vq->shadow_avail_wrap = vq->last_avail_wrap;
        virtqueue_unmap_rings(vq);
        if (vq->enabled && !vdev->broken && !virtqueue_map_rings(vq)) {
            *errp = g_strdup_printf("%s: queue %u's rings are not in RAM", vdev->ops->name, i);
            return false;
        }
    }
    return true;
}
