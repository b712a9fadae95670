/*
 * Virtqueues (include/vireo/virtio.h): the split and packed rings of the virtio 1.2 spec, parsed
 * from guest memory that the DMA API mapped.
 *
 * Rings are mapped when a queue becomes ready (virtqueue_map_rings): each ring must lie wholly
 * in RAM, else the device is broken with QEMU's "Cannot map desc/avail/used". Buffers are mapped
 * per element; every guest-controlled number is checked before use: head indexes against the
 * queue size, chain links against the table they index, chain length against the table size (a
 * loop), segment count against VIRTQUEUE_MAX_SIZE, buffer addresses and lengths against RAM
 * (dma_map: no byte outside guest RAM is ever touched), indirect tables for size and nesting.
 * Any violation calls virtio_error() and the element is not returned.
 *
 * Memory ordering follows the spec's driver/device protocol: the avail index is read before
 * the entries it covers (acquire), used entries are written before the used index (release),
 * and a full barrier separates a used-index update from reading the driver's event index (and
 * enabling notifications from re-reading the avail index).
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/dma.h"
#include "vireo/virtio.h"

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4
#define VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define VRING_PACKED_DESC_F_USED  (1u << 15)
#define VRING_USED_F_NO_NOTIFY    1
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_PACKED_EVENT_FLAG_ENABLE  0
#define VRING_PACKED_EVENT_FLAG_DISABLE 1
#define VRING_PACKED_EVENT_FLAG_DESC    2
#define DESC_SIZE 16

typedef struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next; /* split: next index; packed: buffer id */
} Desc;

static bool packed(const VirtQueue *vq)
{
    return virtio_vdev_has_feature(vq->vdev, VIRTIO_F_RING_PACKED);
}

static bool event_idx(const VirtQueue *vq)
{
    return virtio_vdev_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX);
}

static uint16_t ld16(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static void st16(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static void st32(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

/* Split ring (and indirect table) descriptor: addr, len, flags, next. */
static void decode_desc(const uint8_t *p, Desc *d)
{
    memcpy(&d->addr, p, 8);
    memcpy(&d->len, p + 8, 4);
    memcpy(&d->flags, p + 12, 2);
    memcpy(&d->next, p + 14, 2);
}

/* Packed ring descriptor: addr, len, id, flags (the id goes in .next). */
static void decode_packed(const uint8_t *p, Desc *d)
{
    memcpy(&d->addr, p, 8);
    memcpy(&d->len, p + 8, 4);
    memcpy(&d->next, p + 12, 2);
    memcpy(&d->flags, p + 14, 2);
}

/* ---- ring mapping ---------------------------------------------------------------------- */

static uint64_t split_avail_size(unsigned num)
{
    return 6 + 2ull * num; /* flags, idx, ring, used_event */
}

static uint64_t split_used_size(unsigned num)
{
    return 6 + 8ull * num; /* flags, idx, ring, avail_event */
}

static uint8_t *map_ring(uint64_t gpa, uint64_t len, bool is_write)
{
    uint64_t l = len;
    uint8_t *h = dma_map(gpa, &l, is_write);
    if (!h || l < len) {
        if (h) {
            dma_unmap(h, gpa, l, is_write, 0);
        }
        return NULL;
    }
    return h;
}

void virtqueue_unmap_rings(VirtQueue *vq)
{
    if (vq->desc_host) {
        dma_unmap(vq->desc_host, vq->desc, vq->desc_len, packed(vq), packed(vq) ? vq->desc_len : 0);
    }
    if (vq->avail_host) {
        dma_unmap(vq->avail_host, vq->avail, vq->avail_len, false, 0);
    }
    if (vq->used_host) {
        dma_unmap(vq->used_host, vq->used, vq->used_len, true, vq->used_len);
    }
    vq->desc_host = vq->avail_host = vq->used_host = NULL;
    vq->ready = false;
}

/* Map the queue's rings; false after virtio_error() when one is not wholly in RAM. */
bool virtqueue_map_rings(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    virtqueue_unmap_rings(vq);
    if (!vq->num || !vq->desc) {
        return true;
    }
    bool pk = packed(vq);
    vq->desc_len = (uint64_t)vq->num * DESC_SIZE;
    vq->avail_len = pk ? 4 : split_avail_size(vq->num);
    vq->used_len = pk ? 4 : split_used_size(vq->num);
    vq->desc_host = map_ring(vq->desc, vq->desc_len, pk);
    if (!vq->desc_host) {
        virtio_error(vdev, "Cannot map desc");
        return false;
    }
    vq->used_host = map_ring(vq->used, vq->used_len, true);
    if (!vq->used_host) {
        virtqueue_unmap_rings(vq);
        virtio_error(vdev, "Cannot map used");
        return false;
    }
    vq->avail_host = map_ring(vq->avail, vq->avail_len, false);
    if (!vq->avail_host) {
        virtqueue_unmap_rings(vq);
        virtio_error(vdev, "Cannot map avail");
        return false;
    }
    vq->ready = true;
    return true;
}

/* ---- split ring accessors ---------------------------------------------------------------- */

static uint16_t avail_flags(VirtQueue *vq)
{
    return ld16(vq->avail_host);
}

static uint16_t avail_idx(VirtQueue *vq)
{
    vq->shadow_avail_idx = ld16(vq->avail_host + 2);
    return vq->shadow_avail_idx;
}

static uint16_t avail_ring(VirtQueue *vq, unsigned i)
{
    return ld16(vq->avail_host + 4 + 2 * i);
}

static uint16_t used_event(VirtQueue *vq)
{
    return ld16(vq->avail_host + 4 + 2 * vq->num);
}

static void set_avail_event(VirtQueue *vq, uint16_t v)
{
    st16(vq->used_host + 4 + 8 * vq->num, v);
}

static void used_flags_update(VirtQueue *vq, bool no_notify)
{
    uint16_t f = ld16(vq->used_host);
    st16(vq->used_host, no_notify ? (f | VRING_USED_F_NO_NOTIFY) : (f & ~VRING_USED_F_NO_NOTIFY));
}

/* ---- packed ring accessors --------------------------------------------------------------- */

static uint16_t packed_desc_flags(VirtQueue *vq, unsigned i)
{
    return ld16(vq->desc_host + (uint64_t)i * DESC_SIZE + 14);
}

static bool packed_desc_avail(uint16_t flags, bool wrap)
{
    bool a = flags & VRING_PACKED_DESC_F_AVAIL, u = flags & VRING_PACKED_DESC_F_USED;
    return a != u && a == wrap;
}

/* ---- emptiness and notification suppression -------------------------------------------- */

bool virtqueue_empty(VirtQueue *vq)
{
    if (!vq->ready || vq->vdev->broken) {
        return true;
    }
    if (packed(vq)) {
        uint16_t f = packed_desc_flags(vq, vq->last_avail_idx);
        return !packed_desc_avail(f, vq->last_avail_wrap);
    }
    if (vq->shadow_avail_idx != vq->last_avail_idx) {
        return false;
    }
    return avail_idx(vq) == vq->last_avail_idx;
}

void virtqueue_set_notification(VirtQueue *vq, bool enable)
{
    vq->notification = enable;
    if (!vq->ready) {
        return;
    }
    if (packed(vq)) {
        uint8_t *dev_area = vq->used_host;
        if (event_idx(vq)) {
            st16(dev_area, (uint16_t)(vq->last_avail_idx | (vq->last_avail_wrap << 15)));
            st16(dev_area + 2, enable ? VRING_PACKED_EVENT_FLAG_DESC
                                      : VRING_PACKED_EVENT_FLAG_DISABLE);
        } else {
            st16(dev_area + 2, enable ? VRING_PACKED_EVENT_FLAG_ENABLE
                                      : VRING_PACKED_EVENT_FLAG_DISABLE);
        }
    } else if (event_idx(vq)) {
        /* the driver notifies when it moves its index past this one: "the next new entry" */
        if (enable) {
            set_avail_event(vq, avail_idx(vq));
        }
    } else {
        used_flags_update(vq, !enable);
    }
    if (enable) {
        /* the flag/event must be visible before the caller looks at the ring again */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
}

static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Whether the driver wants an interrupt for what was just made used (QEMU's rules). */
bool virtqueue_should_notify(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    if (!vq->ready) {
        return false;
    }
    /* used entries must be visible before the driver's event index is read */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (packed(vq)) {
        uint16_t off_wrap = ld16(vq->avail_host), flags = ld16(vq->avail_host + 2);
        uint16_t old = vq->signalled_used, now = vq->used_idx;
        bool valid = vq->signalled_used_valid;
        vq->signalled_used = now;
        vq->signalled_used_valid = true;
        if (flags == VRING_PACKED_EVENT_FLAG_DISABLE) {
            return false;
        }
        if (flags == VRING_PACKED_EVENT_FLAG_ENABLE || !event_idx(vq)) {
            return true;
        }
        int off = off_wrap & 0x7fff;
        if ((bool)(off_wrap >> 15) != vq->used_wrap) {
            off -= vq->num;
        }
        return !valid || need_event((uint16_t)off, now, old);
    }
    if (virtio_vdev_has_feature(vdev, VIRTIO_F_NOTIFY_ON_EMPTY) && !vq->inuse &&
        virtqueue_empty(vq)) {
        return true;
    }
    if (!event_idx(vq)) {
        return !(avail_flags(vq) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    bool valid = vq->signalled_used_valid;
    uint16_t old = vq->signalled_used, now = vq->used_idx;
    vq->signalled_used_valid = true;
    vq->signalled_used = now;
    return !valid || need_event(used_event(vq), now, old);
}

/* ---- elements ---------------------------------------------------------------------------- */

typedef struct Collect {
    unsigned out_num, in_num;
    struct iovec iov[VIRTQUEUE_MAX_SIZE];
    uint64_t addr[VIRTQUEUE_MAX_SIZE];
    bool is_write[VIRTQUEUE_MAX_SIZE];
} Collect;

static void undo_map(Collect *c)
{
    for (unsigned i = 0; i < c->out_num + c->in_num; i++) {
        dma_unmap(c->iov[i].iov_base, c->addr[i], c->iov[i].iov_len, c->is_write[i], 0);
    }
    c->out_num = c->in_num = 0;
}

/* Map one descriptor's buffer as one or more iovecs. */
static bool map_desc(VirtIODevice *vdev, Collect *c, const Desc *d)
{
    bool w = d->flags & VRING_DESC_F_WRITE;
    if (!w && c->in_num) {
        virtio_error(vdev, "Incorrect order for descriptors");
        return false;
    }
    if (!d->len) {
        virtio_error(vdev, "virtio: zero sized buffers are not allowed");
        return false;
    }
    uint64_t pa = d->addr, sz = d->len;
    if (pa + sz - 1 < pa) {
        virtio_error(vdev, "virtio: bogus descriptor or out of resources");
        return false;
    }
    while (sz) {
        unsigned k = c->out_num + c->in_num;
        if (k == VIRTQUEUE_MAX_SIZE) {
            virtio_error(vdev, "virtio: too many write descriptors in indirect table");
            return false;
        }
        uint64_t len = sz;
        void *h = dma_map(pa, &len, w);
        if (!h) {
            virtio_error(vdev, "virtio: bogus descriptor or out of resources");
            return false;
        }
        c->iov[k] = (struct iovec){.iov_base = h, .iov_len = len};
        c->addr[k] = pa;
        c->is_write[k] = w;
        if (w) {
            c->in_num++;
        } else {
            c->out_num++;
        }
        pa += len;
        sz -= len;
    }
    return true;
}

static VirtQueueElement *make_element(const Collect *c)
{
    size_t n = c->out_num + c->in_num;
    VirtQueueElement *e =
        g_malloc(sizeof(*e) + n * (sizeof(struct iovec) + sizeof(uint64_t)));
    struct iovec *iov = (struct iovec *)(e + 1);
    uint64_t *addr = (uint64_t *)(iov + n);
    e->out_num = c->out_num;
    e->in_num = c->in_num;
    e->out_sg = iov;
    e->in_sg = iov + c->out_num;
    e->out_addr = addr;
    e->in_addr = addr + c->out_num;
    memcpy(iov, c->iov, n * sizeof(*iov));
    memcpy(addr, c->addr, n * sizeof(*addr));
    return e;
}

/*
 * An indirect table [addr, addr+len): it must be a whole number of descriptors and lie in one
 * piece of RAM (QEMU's rule); it is read in place, each descriptor once, every index checked.
 */
static const uint8_t *map_indirect(VirtIODevice *vdev, const Desc *d, unsigned *max)
{
    if (!d->len || d->len % DESC_SIZE) {
        virtio_error(vdev, "Invalid size for indirect buffer table");
        return NULL;
    }
    const uint8_t *t = map_ring(d->addr, d->len, false);
    if (!t || d->addr + d->len - 1 < d->addr) {
        virtio_error(vdev, "Cannot map indirect buffer");
        return NULL;
    }
    *max = d->len / DESC_SIZE;
    return t;
}

static void unmap_indirect(const uint8_t *t, const Desc *d)
{
    dma_unmap((void *)t, d->addr, d->len, false, 0);
}

/*
 * Follow a chain whose first descriptor is d, in a table of `max` entries at `table` (split:
 * next links; the caller handles packed rings). On return *c holds the mapped buffers.
 */
static bool collect_split_chain(VirtIODevice *vdev, Collect *c, const uint8_t *table,
                                unsigned max, Desc d, bool in_indirect)
{
    unsigned entries = 0;
    for (;;) {
        if (d.flags & VRING_DESC_F_INDIRECT) {
            virtio_error(vdev, in_indirect ? "Nested indirect descriptor"
                                           : "Indirect descriptor in a chain");
            return false;
        }
        if (!map_desc(vdev, c, &d)) {
            return false;
        }
        if (++entries > max) {
            virtio_error(vdev, "Looped descriptor");
            return false;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return true;
        }
        if (d.next >= max) {
            virtio_error(vdev, "Desc next is %u", d.next);
            return false;
        }
        decode_desc(table + (size_t)d.next * DESC_SIZE, &d);
    }
}

static bool parse_split_head(VirtQueue *vq, unsigned head, Collect *c)
{
    VirtIODevice *vdev = vq->vdev;
    Desc d;
    decode_desc(vq->desc_host + (size_t)head * DESC_SIZE, &d);
    /* descriptors are read after the avail entry that published them */
    if (d.flags & VRING_DESC_F_INDIRECT) {
        unsigned max;
        const uint8_t *t = map_indirect(vdev, &d, &max);
        if (!t) {
            return false;
        }
        Desc first;
        decode_desc(t, &first);
        bool ok = collect_split_chain(vdev, c, t, max, first, true);
        unmap_indirect(t, &d);
        return ok;
    }
    return collect_split_chain(vdev, c, vq->desc_host, vq->num, d, false);
}

static VirtQueueElement *split_pop(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    if (virtqueue_empty(vq)) {
        return NULL;
    }
    uint16_t n_avail = (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
    if (n_avail > vq->num) {
        virtio_error(vdev, "Guest moved used index from %u to %u", vq->last_avail_idx,
                     vq->shadow_avail_idx);
        return NULL;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (vq->inuse >= vq->num) {
        virtio_error(vdev, "Virtqueue size exceeded");
        return NULL;
    }
    unsigned head = avail_ring(vq, vq->last_avail_idx % vq->num);
    if (head >= vq->num) {
        virtio_error(vdev, "Guest says index %u is available", head);
        return NULL;
    }
    vq->last_avail_idx++;
    if (event_idx(vq) && vq->notification) {
        set_avail_event(vq, vq->last_avail_idx);
    }
    Collect *c = g_malloc(sizeof(*c));
    c->out_num = c->in_num = 0;
    VirtQueueElement *e = NULL;
    if (parse_split_head(vq, head, c)) {
        e = make_element(c);
        e->index = head;
        e->ndescs = 1;
        e->gen = vq->gen;
        vq->inuse++;
    } else {
        undo_map(c);
    }
    g_free(c);
    return e;
}

/* Packed: the chain starts at slot `start` (wrap counter `wrap`); *slots gets its length. */
static bool parse_packed(VirtQueue *vq, unsigned start, Collect *c, unsigned *id,
                         unsigned *slots)
{
    VirtIODevice *vdev = vq->vdev;
    Desc d;
    unsigned i = start, entries = 0;
    decode_packed(vq->desc_host + (size_t)i * DESC_SIZE, &d);
    if (d.flags & VRING_DESC_F_INDIRECT) {
        unsigned max;
        const uint8_t *t = map_indirect(vdev, &d, &max);
        if (!t) {
            return false;
        }
        *id = d.next;
        *slots = 1;
        /* an indirect table of a packed ring is read in order, every entry used */
        bool ok = true;
        for (unsigned k = 0; k < max && ok; k++) {
            Desc x;
            decode_packed(t + (size_t)k * DESC_SIZE, &x);
            if (x.flags & VRING_DESC_F_INDIRECT) {
                virtio_error(vdev, "Nested indirect descriptor");
                ok = false;
            } else {
                ok = map_desc(vdev, c, &x);
            }
        }
        unmap_indirect(t, &d);
        return ok;
    }
    for (;;) {
        if (d.flags & VRING_DESC_F_INDIRECT) {
            virtio_error(vdev, "Indirect descriptor in a chain");
            return false;
        }
        if (!map_desc(vdev, c, &d)) {
            return false;
        }
        if (++entries > vq->num) {
            virtio_error(vdev, "Looped descriptor");
            return false;
        }
        *id = d.next;
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            break;
        }
        if (++i == vq->num) {
            i = 0;
        }
        decode_packed(vq->desc_host + (size_t)i * DESC_SIZE, &d);
    }
    *slots = entries;
    return true;
}

static VirtQueueElement *packed_pop(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    if (virtqueue_empty(vq)) {
        return NULL;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (vq->inuse >= vq->num) {
        virtio_error(vdev, "Virtqueue size exceeded");
        return NULL;
    }
    Collect *c = g_malloc(sizeof(*c));
    c->out_num = c->in_num = 0;
    unsigned id = 0, slots = 0;
    VirtQueueElement *e = NULL;
    if (parse_packed(vq, vq->last_avail_idx, c, &id, &slots)) {
        if (vq->inuse + slots > vq->num) {
            virtio_error(vdev, "Virtqueue size exceeded");
            undo_map(c);
        } else {
            e = make_element(c);
            e->index = id;
            e->ndescs = slots;
            e->gen = vq->gen;
            vq->inuse += slots;
            unsigned next = vq->last_avail_idx + slots;
            if (next >= vq->num) {
                next -= vq->num;
                vq->last_avail_wrap = !vq->last_avail_wrap;
            }
            vq->last_avail_idx = (uint16_t)next;
            vq->shadow_avail_idx = vq->last_avail_idx;
            vq->shadow_avail_wrap = vq->last_avail_wrap;
            if (event_idx(vq) && vq->notification) {
                virtqueue_set_notification(vq, true);
            }
        }
    } else {
        undo_map(c);
    }
    g_free(c);
    return e;
}

VirtQueueElement *virtqueue_pop(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    if (!vq->ready || vdev->broken) {
        return NULL;
    }
    /* no DMA while the transport forbids it (bus mastering off): the chain waits */
    if (vdev->transport && vdev->transport->dma_enabled &&
        !vdev->transport->dma_enabled(vdev)) {
        return NULL;
    }
    return packed(vq) ? packed_pop(vq) : split_pop(vq);
}

static void unmap_element(VirtQueueElement *e, unsigned written)
{
    unsigned left = written;
    for (unsigned i = 0; i < e->in_num; i++) {
        size_t l = e->in_sg[i].iov_len, w = left < l ? left : l;
        dma_unmap(e->in_sg[i].iov_base, e->in_addr[i], l, true, w);
        left -= (unsigned)w;
    }
    for (unsigned i = 0; i < e->out_num; i++) {
        dma_unmap(e->out_sg[i].iov_base, e->out_addr[i], e->out_sg[i].iov_len, false, 0);
    }
}

void virtqueue_detach(VirtQueue *vq, VirtQueueElement *e)
{
    if (e->gen == vq->gen) {
        vq->inuse -= e->ndescs;
    }
    unmap_element(e, 0);
    g_free(e);
}

void virtqueue_unpop(VirtQueue *vq, VirtQueueElement *e)
{
    if (e->gen != vq->gen) {
        virtqueue_detach(vq, e);
        return;
    }
    if (packed(vq)) {
        if (vq->last_avail_idx < e->ndescs) {
            vq->last_avail_idx = (uint16_t)(vq->num + vq->last_avail_idx - e->ndescs);
            vq->last_avail_wrap = !vq->last_avail_wrap;
        } else {
            vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - e->ndescs);
        }
    } else {
        vq->last_avail_idx--;
    }
    virtqueue_detach(vq, e);
}

void virtqueue_push(VirtQueue *vq, VirtQueueElement *e, unsigned len)
{
    VirtIODevice *vdev = vq->vdev;
    unmap_element(e, len);
    if (e->gen != vq->gen) {
        /* popped before a reset of the queue: its ring is not the one there now */
        g_free(e);
        return;
    }
    if (!vq->ready || vdev->broken) {
        /* the ring is unusable (broken device): drop the element */
        vq->inuse -= e->ndescs;
        g_free(e);
        return;
    }
    if (packed(vq)) {
        unsigned slot = vq->used_idx;
        uint8_t *p = vq->desc_host + (size_t)slot * DESC_SIZE;
        st32(p + 8, len);
        st16(p + 12, (uint16_t)e->index);
        uint16_t flags = vq->used_wrap ? (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED) : 0;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        st16(p + 14, flags);
        dma_notify_written(vq->desc + (uint64_t)slot * DESC_SIZE, DESC_SIZE);
        vq->inuse -= e->ndescs;
        unsigned next = vq->used_idx + e->ndescs;
        if (next >= vq->num) {
            next -= vq->num;
            vq->used_wrap = !vq->used_wrap;
            vq->signalled_used_valid = false;
        }
        vq->used_idx = (uint16_t)next;
    } else {
        unsigned slot = vq->used_idx % vq->num;
        uint8_t *p = vq->used_host + 4 + 8 * slot;
        st32(p, e->index);
        st32(p + 4, len);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        uint16_t old = vq->used_idx, now = (uint16_t)(old + 1);
        st16(vq->used_host + 2, now);
        vq->used_idx = now;
        vq->inuse--;
        if ((int16_t)(now - vq->signalled_used) < (uint16_t)(now - old)) {
            vq->signalled_used_valid = false;
        }
        dma_notify_written(vq->used + 4 + 8 * slot, 8);
        dma_notify_written(vq->used + 2, 2);
    }
    g_free(e);
}

/*
 * Complete n elements with one used-index update (split rings), so a driver polling the ring
 * sees all of them at once: virtio-net's mergeable receive buffers of one packet. Packed rings
 * complete them one by one.
 */
void virtqueue_push_many(VirtQueue *vq, VirtQueueElement **es, const unsigned *lens, unsigned n)
{
    VirtIODevice *vdev = vq->vdev;
    if (packed(vq) || !vq->ready || vdev->broken) {
        for (unsigned i = 0; i < n; i++) {
            virtqueue_push(vq, es[i], lens[i]);
        }
        return;
    }
    uint16_t old = vq->used_idx, now = old;
    for (unsigned i = 0; i < n; i++) {
        VirtQueueElement *e = es[i];
        unmap_element(e, lens[i]);
        if (e->gen == vq->gen) {
            unsigned slot = now % vq->num;
            uint8_t *p = vq->used_host + 4 + 8 * slot;
            st32(p, e->index);
            st32(p + 4, lens[i]);
            dma_notify_written(vq->used + 4 + 8 * slot, 8);
            now++;
            vq->inuse--;
        }
        g_free(e);
    }
    if (now == old) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    st16(vq->used_host + 2, now);
    vq->used_idx = now;
    if ((int16_t)(now - vq->signalled_used) < (uint16_t)(now - old)) {
        vq->signalled_used_valid = false;
    }
    dma_notify_written(vq->used + 2, 2);
}

/* Ring state after a reset of the queue. */
void virtqueue_reset_state(VirtQueue *vq)
{
    vq->last_avail_idx = vq->shadow_avail_idx = vq->used_idx = 0;
    vq->last_avail_wrap = vq->shadow_avail_wrap = vq->used_wrap = true;
    vq->signalled_used = 0;
    vq->signalled_used_valid = false;
    vq->notification = true;
    vq->inuse = 0;
    vq->gen++;
}

/* ---- iovec helpers ----------------------------------------------------------------------- */

size_t iov_size(const struct iovec *iov, unsigned n)
{
    size_t s = 0;
    for (unsigned i = 0; i < n; i++) {
        s += iov[i].iov_len;
    }
    return s;
}

static size_t iov_copy(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len,
                       bool to_iov)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        size_t l = iov[i].iov_len - offset;
        if (l > len - done) {
            l = len - done;
        }
        if (to_iov) {
            memcpy((uint8_t *)iov[i].iov_base + offset, (uint8_t *)buf + done, l);
        } else {
            memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + offset, l);
        }
        done += l;
        offset = 0;
    }
    return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len)
{
    return iov_copy(iov, n, offset, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
                    size_t len)
{
    return iov_copy(iov, n, offset, (void *)buf, len, true);
}
