/*
 * virtio-rng-pci (docs/virtio.md): entropy for the guest from an rng backend (include/vireo/
 * rng.h: `-object rng-random`/`rng-builtin`, `rng=ID`; without one the device makes its own
 * rng-builtin, as QEMU 7.2's "default-backend"). One queue of 8 entries, no config space, no
 * feature bits of its own.
 *
 * The rate limit is QEMU's: at most `max-bytes` bytes per `period` milliseconds of virtual
 * time. A window opens when the guest first asks for entropy (the timer is armed then); the
 * bytes given in it count against the quota; when the window ends the quota is whole again and
 * the queue is looked at once more. A backend with nothing to give (a file at its end, a pipe)
 * leaves the buffer in the ring and the device asks again when the backend says so.
 */
#include <string.h>
#include <glib.h>
#include "vireo/machine.h"
#include "vireo/rng.h"
#include "vireo/timer.h"
#include "vireo/virtio-pci.h"

#define RNG_QUEUE_SIZE 8

typedef struct VirtIORNG {
    VirtIODevice *vdev;
    VirtQueue *vq;
    /* properties */
    char *rng_id;
    uint64_t max_bytes;
    uint32_t period_ms;
    /* state */
    RngBackend *rng;
    int64_t quota;    /* bytes left in this window */
    bool window_open; /* the rate-limit timer runs */
    VTimer rate_timer;
} VirtIORNG;

typedef struct VirtIORngPCI {
    VirtIOPCIProxy proxy;
    VirtIORNG rng;
} VirtIORngPCI;

static bool guest_ready(VirtIORNG *s)
{
    VirtIODevice *vdev = s->vdev;
    return (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->broken && s->vq->ready;
}

static void rng_process(VirtIORNG *s);

static void backend_ready(void *opaque)
{
    VirtIORNG *s = opaque;
    vireo_lock();
    rng_process(s);
    vireo_unlock();
}

/* Fill buffers from the backend while the quota lasts (big lock held). */
static void rng_process(VirtIORNG *s)
{
    if (!guest_ready(s)) {
        return;
    }
    if (!s->window_open) {
        s->window_open = true;
        vtimer_mod(&s->rate_timer, vclock_ns() + (int64_t)s->period_ms * 1000000);
    }
    bool pushed = false;
    while (s->quota > 0) {
        VirtQueueElement *e = virtqueue_pop(s->vq);
        if (!e) {
            break;
        }
        size_t want = iov_size(e->in_sg, e->in_num);
        if ((uint64_t)want > (uint64_t)s->quota) {
            want = (size_t)s->quota;
        }
        uint8_t buf[4096];
        size_t done = 0;
        while (done < want) {
            size_t chunk = want - done < sizeof(buf) ? want - done : sizeof(buf);
            size_t got = rng_backend_read(s->rng, buf, chunk);
            iov_from_buf(e->in_sg, e->in_num, done, buf, got);
            done += got;
            if (got < chunk) {
                break;
            }
        }
        if (!done && want) {
            /* nothing now: the buffer waits in the ring for the backend */
            virtqueue_unpop(s->vq, e);
            rng_backend_wait(s->rng, backend_ready, s);
            break;
        }
        virtqueue_push(s->vq, e, (unsigned)done);
        s->quota -= (int64_t)done;
        pushed = true;
    }
    if (pushed) {
        virtio_notify(s->vdev, s->vq);
    }
}

/* The window ended: a whole quota again, and whatever waits in the ring. */
static void rate_limit_expired(void *opaque)
{
    VirtIORNG *s = opaque;
    s->quota = (int64_t)s->max_bytes;
    s->window_open = false;
    rng_process(s);
}

static void handle_input(VirtIODevice *vdev, VirtQueue *vq)
{
    (void)vq;
    rng_process(vdev->opaque);
}

static void rng_set_status(VirtIODevice *vdev, uint8_t old)
{
    (void)old;
    rng_process(vdev->opaque);
}

static uint64_t rng_get_features(VirtIODevice *vdev, uint64_t f)
{
    (void)vdev;
    return f;
}

static void rng_reset(VirtIODevice *vdev)
{
    VirtIORNG *s = vdev->opaque;
    if (s->rng) {
        rng_backend_cancel(s->rng);
    }
}

static const VirtIODeviceOps virtio_rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .get_features = rng_get_features,
    .set_status = rng_set_status,
    .reset = rng_reset,
};

static bool rng_realize(VirtIOPCIProxy *p, char **errp)
{
    VirtIORNG *s = &((VirtIORngPCI *)p)->rng;
    s->vdev = &p->vdev;
    if (s->rng_id) {
        s->rng = rng_backend_find(s->rng_id);
        if (!s->rng) {
            *errp = g_strdup_printf("Device '%s' not found", s->rng_id);
            return false;
        }
        rng_backend_ref(s->rng);
    }
    if (!s->period_ms) {
        *errp = g_strdup("'period' parameter expects a positive integer");
        return false;
    }
    if (s->max_bytes > INT64_MAX) {
        *errp = g_strdup("'max-bytes' parameter must be non-negative, and less than 2^63");
        return false;
    }
    if (!s->rng) {
        s->rng = rng_backend_new_builtin();
    }
    s->quota = (int64_t)s->max_bytes;
    virtio_init(&p->vdev, &virtio_rng_ops, s, 0, 1);
    s->vq = virtio_add_queue(&p->vdev, RNG_QUEUE_SIZE, handle_input);
    vtimer_init(&s->rate_timer, rate_limit_expired, s);
    return true;
}

static void rng_unrealize(VirtIOPCIProxy *p)
{
    VirtIORNG *s = &((VirtIORngPCI *)p)->rng;
    vtimer_del(&s->rate_timer);
    if (s->rng) {
        rng_backend_unref(s->rng);
        s->rng = NULL;
    }
}

static const Property virtio_rng_props[] = {
    DEFINE_PROP_BIT("ioeventfd", VirtIORngPCI, proxy.ioeventfd, true),
    DEFINE_PROP_UINT64("max-bytes", VirtIORngPCI, rng.max_bytes, INT64_MAX),
    DEFINE_PROP_UINT32("period", VirtIORngPCI, rng.period_ms, 1 << 16),
    DEFINE_PROP_(("rng"), PROP_STRING, VirtIORngPCI, rng.rng_id, false, .def.s = NULL,
                 .type_name = "link<rng-backend>"),
    DEFINE_PROP_UINT32("vectors", VirtIORngPCI, proxy.nvectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_HELP("virtio-backend", "child<virtio-rng-device>"),
    DEFINE_PROP_END,
};

static const VirtIOPCIDeviceInfo virtio_rng_pci_vinfo = {
    .realize = rng_realize,
    .unrealize = rng_unrealize,
    .legacy_device_id = 0x1005,
    .class_code = 0x00ff,
    .default_vectors = 2,
};

/* Saved state: the transport and core, then the rate limit's window. */
static const VMStateField virtio_rng_pci_fields[] = {
    VMSTATE_STRUCT(proxy, VirtIORngPCI, virtio_pci_vmstate),
    VMSTATE_INT64(rng.quota, VirtIORngPCI),
    VMSTATE_BOOL(rng.window_open, VirtIORngPCI),
    VMSTATE_TIMER(rng.rate_timer, VirtIORngPCI),
    VMSTATE_END_OF_LIST(),
};

static bool virtio_rng_pci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    VirtIORngPCI *d = opaque;
    if (!virtio_pci_post_load(&d->proxy, errp)) {
        return false;
    }
    rng_process(&d->rng);
    return true;
}

static const VMStateDescription virtio_rng_pci_vmstate = {
    .name = "virtio-rng",
    .version = 1,
    .minimum_version = 1,
    .fields = virtio_rng_pci_fields,
    .post_load = virtio_rng_pci_post_load,
};

static const char *const virtio_rng_aliases[] = {"virtio-rng", NULL};

const DeviceInfo virtio_rng_pci_info = {
    .name = "virtio-rng-pci",
    .category = DEVICE_CATEGORY_MISC,
    VIRTIO_PCI_DEVICE_INFO,
    .instance_size = sizeof(VirtIORngPCI),
    .props = virtio_rng_props,
    .vmsd = &virtio_rng_pci_vmstate,
    .aliases = virtio_rng_aliases,
    .family = &virtio_rng_pci_vinfo,
    .qom_parent = "virtio-rng-pci-base",
};
