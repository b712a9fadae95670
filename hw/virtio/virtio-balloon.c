/*
 * virtio-balloon-pci (docs/virtio.md): the memory balloon, as QEMU 7.2's. The host sets a
 * target (QMP `balloon`, HMP `balloon`): num_pages in the config is how many 4 KiB pages the
 * guest should give back; the guest puts page frame numbers on the inflate queue (it gives
 * them) or the deflate queue (it takes them back) and writes `actual` into the config, which
 * raises BALLOON_CHANGE (at most one a second, the latest value: QEMU's event throttle).
 *
 * Pages the guest gives are released to the host (madvise MADV_DONTNEED on guest RAM: the
 * host frees them, a later touch reads zeros), under KVM (whose MMU notifiers drop the mapping)
 * and TCG alike; translated code on them is dropped. Not while the guest has negotiated page
 * poisoning with a non-zero poison value (the page would not read back as the guest expects),
 * as QEMU. Free page reporting (`free-page-reporting=on`) releases the ranges the guest reports.
 *
 * The statistics queue: the guest keeps one buffer of {le16 tag, le64 value} entries there; the
 * device holds it, records the values, and with `guest-stats-polling-interval` (seconds) gives
 * it back every interval so the guest refills it.
 */
#include <string.h>
#include <sys/mman.h>
#include <glib.h>
#include "vireo/balloon.h"
#include "vireo/dma.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/qjson.h"
#include "vireo/timer.h"
#include "vireo/virtio-pci.h"

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON    4
#define VIRTIO_BALLOON_F_REPORTING      5
#define BALLOON_PFN_SHIFT               12
#define BALLOON_PAGE                    (1u << BALLOON_PFN_SHIFT)
#define BALLOON_QUEUE_SIZE              128
#define REPORTING_QUEUE_SIZE            32
#define BALLOON_S_NR                    10
#define EVENT_THROTTLE_NS               1000000000LL

typedef struct VirtIOBalloon {
    VirtIODevice *vdev;
    VirtQueue *ivq, *dvq, *svq, *rvq;
    /* properties */
    bool deflate_on_oom, free_page_hint, free_page_reporting, page_poison, qemu_4_0_config_size;
    int32_t stats_interval; /* the guest-stats-polling-interval property (at realize) */
    int64_t poll_interval;  /* the interval in force, seconds (0: off); qom-set changes it */
    /* state */
    uint32_t num_pages, actual, poison_val;
    uint64_t stats[BALLOON_S_NR];
    int64_t stats_last_update;
    VirtQueueElement *stats_elem;
    size_t stats_offset;
    VTimer stats_timer, repop_timer;
    /* BALLOON_CHANGE throttle */
    VTimer event_timer;
    bool event_pending;
    int64_t event_value;
} VirtIOBalloon;

typedef struct VirtIOBalloonPCI {
    VirtIOPCIProxy proxy;
    VirtIOBalloon balloon;
} VirtIOBalloonPCI;

static VirtIOBalloon *the_balloon;

static uint64_t ram_size(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < guest_ram.n; i++) {
        n += guest_ram.blocks[i].size;
    }
    return n;
}

/* The host address of main RAM at [gpa, gpa + len), or NULL when it is not all main RAM. */
static uint8_t *ram_host(uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < guest_ram.n; i++) {
        const RAMBlock *b = &guest_ram.blocks[i];
        if (gpa >= b->gpa && gpa - b->gpa <= b->size && len <= b->size - (gpa - b->gpa)) {
            return b->host + (gpa - b->gpa);
        }
    }
    return NULL;
}

static bool may_discard(VirtIOBalloon *s)
{
    return !s->poison_val;
}

/* Give [gpa, gpa + len) back to the host: whole host pages of main RAM only. */
static void discard_range(uint64_t gpa, uint64_t len)
{
    uint64_t start = (gpa + BALLOON_PAGE - 1) & ~(uint64_t)(BALLOON_PAGE - 1);
    uint64_t end = (gpa + len) & ~(uint64_t)(BALLOON_PAGE - 1);
    if (end <= start) {
        return;
    }
    uint8_t *host = ram_host(start, end - start);
    if (!host) {
        return;
    }
    madvise(host, end - start, MADV_DONTNEED);
    /* the page reads as zeros now: translated code from it must go */
    dma_notify_written(start, end - start);
}

/* ---- inflate and deflate ---- */

static void handle_pages(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOBalloon *s = vdev->opaque;
    bool inflate = vq == s->ivq, pushed = false;
    VirtQueueElement *e;
    while (!vdev->broken && (e = virtqueue_pop(vq))) {
        uint32_t pfn;
        size_t off = 0;
        while (iov_to_buf(e->out_sg, e->out_num, off, &pfn, 4) == 4) {
            off += 4;
            uint64_t gpa = (uint64_t)pfn << BALLOON_PFN_SHIFT;
            if (inflate && may_discard(s)) {
                discard_range(gpa, BALLOON_PAGE);
            }
            /* deflate: the page comes back on its next touch; nothing to do */
        }
        virtqueue_push(vq, e, 0);
        pushed = true;
    }
    if (pushed) {
        virtio_notify(vdev, vq);
    }
}

/* Free page reporting: the guest's in buffers are free ranges of its RAM. */
static void handle_report(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOBalloon *s = vdev->opaque;
    bool pushed = false;
    VirtQueueElement *e;
    while (!vdev->broken && (e = virtqueue_pop(vq))) {
        if (e->out_num) {
            virtio_error(vdev, "virtio-balloon: free page reporting with driver-readable buffers");
            virtqueue_detach(vq, e);
            return;
        }
        for (unsigned i = 0; i < e->in_num && may_discard(s); i++) {
            discard_range(e->in_addr[i], e->in_sg[i].iov_len);
        }
        virtqueue_push(vq, e, 0);
        pushed = true;
    }
    if (pushed) {
        virtio_notify(vdev, vq);
    }
}

/* ---- statistics ---- */

static void stats_arm(VirtIOBalloon *s)
{
    if (s->poll_interval > 0) {
        vtimer_mod(&s->stats_timer,
                   clock_ns(VIREO_CLOCK_REALTIME) + s->poll_interval * 1000000000LL);
    }
}

static void handle_stats(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOBalloon *s = vdev->opaque;
    VirtQueueElement *e = virtqueue_pop(vq);
    if (e) {
        if (s->stats_elem) {
            /* a driver that breaks the protocol: give the old buffer back */
            virtqueue_push(vq, s->stats_elem, 0);
            virtio_notify(vdev, vq);
        }
        s->stats_elem = e;
        memset(s->stats, 0xff, sizeof(s->stats)); /* -1: not reported */
        uint8_t st[10];
        size_t off = 0;
        while (iov_to_buf(e->out_sg, e->out_num, off, st, sizeof(st)) == sizeof(st)) {
            uint16_t tag;
            uint64_t val;
            memcpy(&tag, st, 2);
            memcpy(&val, st + 2, 8);
            off += sizeof(st);
            if (tag < BALLOON_S_NR) {
                s->stats[tag] = val;
            }
        }
        s->stats_offset = off;
        s->stats_last_update = g_get_real_time() / G_USEC_PER_SEC;
    }
    stats_arm(s);
}

/* The polling interval passed: the guest gets its buffer back to refill it. */
static void stats_poll(void *opaque)
{
    VirtIOBalloon *s = opaque;
    if (!s->stats_elem || s->poll_interval <= 0 || s->vdev->broken) {
        return;
    }
    virtqueue_push(s->svq, s->stats_elem, (unsigned)s->stats_offset);
    s->stats_elem = NULL;
    virtio_notify(s->vdev, s->svq);
}

/* After a load (or a save, which gave the buffer back to the ring): take it again. */
static void stats_repop(void *opaque)
{
    VirtIOBalloon *s = opaque;
    if (!s->stats_elem && (s->vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && s->svq->ready &&
        !s->vdev->broken) {
        handle_stats(s->vdev, s->svq);
    }
}

/* ---- config, events ---- */

static size_t config_size(const VirtIOBalloon *s)
{
    if (s->qemu_4_0_config_size || s->page_poison) {
        return 16;
    }
    return s->free_page_hint ? 12 : 8;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void balloon_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIOBalloon *s = vdev->opaque;
    uint8_t buf[16] = {0};
    put32(buf, s->num_pages);
    put32(buf + 4, s->actual);
    put32(buf + 12, s->poison_val);
    memcpy(c, buf, vdev->config_len);
}

static void send_change(VirtIOBalloon *s, int64_t value)
{
    (void)s;
    QJ *d = qj_object();
    qj_set_int(d, "actual", value);
    machine_post_event("BALLOON_CHANGE", d);
}

static void event_timer_cb(void *opaque)
{
    VirtIOBalloon *s = opaque;
    if (s->event_pending) {
        s->event_pending = false;
        send_change(s, s->event_value);
        vtimer_mod(&s->event_timer, clock_ns(VIREO_CLOCK_REALTIME) + EVENT_THROTTLE_NS);
    }
}

/* BALLOON_CHANGE, throttled as QEMU's monitor does: the first at once, then the latest value
 * at most once a second. */
static void emit_change(VirtIOBalloon *s, int64_t value)
{
    if (vtimer_pending(&s->event_timer)) {
        s->event_pending = true;
        s->event_value = value;
        return;
    }
    send_change(s, value);
    vtimer_mod(&s->event_timer, clock_ns(VIREO_CLOCK_REALTIME) + EVENT_THROTTLE_NS);
}

static void balloon_set_config(VirtIODevice *vdev, const uint8_t *c)
{
    VirtIOBalloon *s = vdev->opaque;
    uint32_t old = s->actual;
    uint8_t buf[16] = {0};
    memcpy(buf, c, vdev->config_len);
    memcpy(&s->actual, buf + 4, 4);
    if (s->actual != old) {
        emit_change(s, (int64_t)(ram_size() - ((uint64_t)s->actual << BALLOON_PFN_SHIFT)));
    }
    s->poison_val = 0;
    if (virtio_vdev_has_feature(vdev, VIRTIO_BALLOON_F_PAGE_POISON)) {
        memcpy(&s->poison_val, buf + 12, 4);
    }
}

static uint64_t balloon_get_features(VirtIODevice *vdev, uint64_t f)
{
    VirtIOBalloon *s = vdev->opaque;
    f |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
    if (s->deflate_on_oom) {
        f |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    }
    if (s->page_poison) {
        f |= 1ull << VIRTIO_BALLOON_F_PAGE_POISON;
    }
    if (s->free_page_reporting) {
        f |= 1ull << VIRTIO_BALLOON_F_REPORTING;
    }
    return f;
}

static void balloon_set_status(VirtIODevice *vdev, uint8_t old)
{
    (void)old;
    stats_repop(vdev->opaque);
}

static void balloon_reset(VirtIODevice *vdev)
{
    VirtIOBalloon *s = vdev->opaque;
    if (s->stats_elem) {
        virtqueue_detach(s->svq, s->stats_elem);
        s->stats_elem = NULL;
    }
    vtimer_del(&s->stats_timer);
    s->poison_val = 0;
}

static const VirtIODeviceOps virtio_balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .get_features = balloon_get_features,
    .get_config = balloon_get_config,
    .set_config = balloon_set_config,
    .set_status = balloon_set_status,
    .reset = balloon_reset,
};

/* ---- the monitor's side (balloon.h) ---- */

bool balloon_set_target(int64_t target)
{
    VirtIOBalloon *s = the_balloon;
    if (!s) {
        return false;
    }
    uint64_t ram = ram_size();
    if ((uint64_t)target > ram) {
        target = (int64_t)ram;
    }
    if (target) {
        s->num_pages = (uint32_t)((ram - (uint64_t)target) >> BALLOON_PFN_SHIFT);
        virtio_notify_config(s->vdev);
    }
    return true;
}

bool balloon_get_actual(int64_t *actual)
{
    VirtIOBalloon *s = the_balloon;
    if (!s) {
        return false;
    }
    *actual = (int64_t)(ram_size() - ((uint64_t)s->actual << BALLOON_PFN_SHIFT));
    return true;
}

/* ---- realize ---- */

static bool balloon_realize(VirtIOPCIProxy *p, char **errp)
{
    VirtIOBalloon *s = &((VirtIOBalloonPCI *)p)->balloon;
    s->vdev = &p->vdev;
    if (s->free_page_hint) {
        *errp = g_strdup("'free-page-hint' requires 'iothread' to be set");
        return false;
    }
    if (the_balloon) {
        *errp = g_strdup("Only one balloon device is supported");
        return false;
    }
    virtio_init(&p->vdev, &virtio_balloon_ops, s, config_size(s), 4);
    s->ivq = virtio_add_queue(&p->vdev, BALLOON_QUEUE_SIZE, handle_pages);
    s->dvq = virtio_add_queue(&p->vdev, BALLOON_QUEUE_SIZE, handle_pages);
    s->svq = virtio_add_queue(&p->vdev, BALLOON_QUEUE_SIZE, handle_stats);
    if (s->free_page_reporting) {
        s->rvq = virtio_add_queue(&p->vdev, REPORTING_QUEUE_SIZE, handle_report);
    }
    memset(s->stats, 0xff, sizeof(s->stats));
    s->poll_interval = s->stats_interval;
    vtimer_init_clock(&s->stats_timer, VIREO_CLOCK_REALTIME, stats_poll, s);
    vtimer_init_clock(&s->repop_timer, VIREO_CLOCK_REALTIME, stats_repop, s);
    vtimer_init_clock(&s->event_timer, VIREO_CLOCK_REALTIME, event_timer_cb, s);
    the_balloon = s;
    return true;
}

static void balloon_unrealize(VirtIOPCIProxy *p)
{
    VirtIOBalloon *s = &((VirtIOBalloonPCI *)p)->balloon;
    vtimer_del(&s->stats_timer);
    vtimer_del(&s->repop_timer);
    vtimer_del(&s->event_timer);
    if (s->stats_elem && s->vdev->ops) {
        virtqueue_detach(s->svq, s->stats_elem);
    }
    s->stats_elem = NULL;
    if (the_balloon == s) {
        the_balloon = NULL;
    }
}

/* ---- qom-get / qom-set: guest-stats and guest-stats-polling-interval ---- */

static const char *const stat_names[BALLOON_S_NR] = {
    "stat-swap-in",      "stat-swap-out",     "stat-major-faults",     "stat-minor-faults",
    "stat-free-memory",  "stat-total-memory", "stat-available-memory", "stat-disk-caches",
    "stat-htlb-pgalloc", "stat-htlb-pgfail",
};

static QJ *balloon_qom_get(Device *dev, const char *prop)
{
    VirtIOBalloon *s = &((VirtIOBalloonPCI *)dev)->balloon;
    if (!strcmp(prop, "guest-stats")) {
        /* every statistic, -1 (as unsigned) for those the guest has not reported */
        QJ *st = qj_object();
        for (unsigned i = 0; i < BALLOON_S_NR; i++) {
            qj_set(st, stat_names[i], qj_uint(s->stats[i]));
        }
        QJ *v = qj_object();
        qj_set(v, "stats", st);
        qj_set_int(v, "last-update", s->stats_last_update);
        return v;
    }
    if (!strcmp(prop, "guest-stats-polling-interval")) {
        return qj_int(s->poll_interval);
    }
    return NULL;
}

/* A new interval takes effect at once, as QEMU's: polling that was off polls now, else the next
 * poll is one interval from now; 0 stops it. (Called under the big lock.) */
static int balloon_qom_set(Device *dev, const char *prop, const QJ *value, char **errp)
{
    VirtIOBalloon *s = &((VirtIOBalloonPCI *)dev)->balloon;
    if (strcmp(prop, "guest-stats-polling-interval")) {
        return 0;
    }
    if (value->type != QJ_INT && value->type != QJ_UINT) {
        *errp = g_strdup_printf("Invalid parameter type for '%s', expected: integer", prop);
        return -1;
    }
    if (value->type == QJ_INT && value->i < 0) {
        *errp = g_strdup("timer value must be greater than zero");
        return -1;
    }
    if (value->type == QJ_UINT || value->i > (int64_t)UINT32_MAX) {
        *errp = g_strdup("timer value is too big");
        return -1;
    }
    bool was_on = s->poll_interval > 0;
    s->poll_interval = value->i;
    if (!s->poll_interval) {
        vtimer_del(&s->stats_timer);
    } else if (!was_on) {
        vtimer_mod(&s->stats_timer, clock_ns(VIREO_CLOCK_REALTIME)); /* the first poll now */
    } else {
        stats_arm(s);
    }
    return 1;
}

static const Property virtio_balloon_props[] = {
    DEFINE_PROP_BIT("deflate-on-oom", VirtIOBalloonPCI, balloon.deflate_on_oom, false),
    DEFINE_PROP_BIT("free-page-hint", VirtIOBalloonPCI, balloon.free_page_hint, false),
    DEFINE_PROP_BIT("free-page-reporting", VirtIOBalloonPCI, balloon.free_page_reporting, false),
    DEFINE_PROP_(("guest-stats-polling-interval"), PROP_INT32, VirtIOBalloonPCI,
                 balloon.stats_interval, false, .def.i = 0, .type_name = "int"),
    DEFINE_PROP_HELP("guest-stats", "guest statistics"),
    DEFINE_PROP_HELP("iothread", "link<iothread>"),
    DEFINE_PROP_BIT("page-poison", VirtIOBalloonPCI, balloon.page_poison, true),
    DEFINE_PROP_BOOL("qemu-4-0-config-size", VirtIOBalloonPCI, balloon.qemu_4_0_config_size, false),
    DEFINE_PROP_HELP("virtio-backend", "child<virtio-balloon-device>"),
    DEFINE_PROP_END,
};

static const VirtIOPCIDeviceInfo virtio_balloon_pci_vinfo = {
    .realize = balloon_realize,
    .unrealize = balloon_unrealize,
    .legacy_device_id = 0x1002,
    .class_code = 0x00ff,
    .default_vectors = 2,
};

/* Saved state: the transport and core, then the target, what the guest has given, the poison
 * value and the statistics. The statistics buffer the device holds goes back to the ring first
 * (it is taken again after the save and after a load). */
static const VMStateField virtio_balloon_pci_fields[] = {
    VMSTATE_STRUCT(proxy, VirtIOBalloonPCI, virtio_pci_vmstate),
    VMSTATE_UINT32(balloon.num_pages, VirtIOBalloonPCI),
    VMSTATE_UINT32(balloon.actual, VirtIOBalloonPCI),
    VMSTATE_UINT32(balloon.poison_val, VirtIOBalloonPCI),
    VMSTATE_UINT64_ARRAY(balloon.stats, VirtIOBalloonPCI, BALLOON_S_NR),
    VMSTATE_INT64(balloon.stats_last_update, VirtIOBalloonPCI),
    VMSTATE_END_OF_LIST(),
};

static void virtio_balloon_pci_pre_save(void *opaque)
{
    VirtIOBalloon *s = &((VirtIOBalloonPCI *)opaque)->balloon;
    if (s->stats_elem) {
        virtqueue_unpop(s->svq, s->stats_elem);
        s->stats_elem = NULL;
        vtimer_mod(&s->repop_timer, clock_ns(VIREO_CLOCK_REALTIME));
    }
}

static bool virtio_balloon_pci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    VirtIOBalloonPCI *d = opaque;
    if (!virtio_pci_post_load(&d->proxy, errp)) {
        return false;
    }
    vtimer_mod(&d->balloon.repop_timer, clock_ns(VIREO_CLOCK_REALTIME));
    return true;
}

static const VMStateDescription virtio_balloon_pci_vmstate = {
    .name = "virtio-balloon",
    .version = 1,
    .minimum_version = 1,
    .fields = virtio_balloon_pci_fields,
    .pre_save = virtio_balloon_pci_pre_save,
    .post_load = virtio_balloon_pci_post_load,
};

static const char *const virtio_balloon_aliases[] = {"virtio-balloon", NULL};

const DeviceInfo virtio_balloon_pci_info = {
    .name = "virtio-balloon-pci",
    .category = DEVICE_CATEGORY_MISC,
    VIRTIO_PCI_DEVICE_INFO,
    .instance_size = sizeof(VirtIOBalloonPCI),
    .props = virtio_balloon_props,
    .vmsd = &virtio_balloon_pci_vmstate,
    .aliases = virtio_balloon_aliases,
    .family = &virtio_balloon_pci_vinfo,
    .qom_parent = "virtio-balloon-pci-base",
    .qom_get = balloon_qom_get,
    .qom_set = balloon_qom_set,
};
