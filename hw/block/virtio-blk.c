/*
 * virtio-blk-pci (docs/virtio.md): a virtio block device on a block backend
 * (include/vireo/block-backend.h), as QEMU 7.2's. Requests are read from the queues on the main
 * loop (ioeventfd) with the big lock held, submitted to the backend with iovecs straight into
 * guest RAM (mapped by virtqueue_pop), and completed from the backend's callbacks on the main
 * loop: status byte, used ring, one interrupt per batch (virtio_notify_deferred).
 *
 * Requests (virtio 1.2, 5.2.6): an out header {le32 type, le32 ioprio, le64 sector}, data, and a
 * status byte at the very end of the in buffers. IN/OUT/FLUSH/GET_ID/DISCARD/WRITE_ZEROES; a
 * range that is not inside the disk, not in whole logical blocks, or too large completes with
 * IOERR (accounted as invalid); an unknown type with UNSUPP; a request without its headers
 * breaks the device (virtio_error) as in QEMU.
 *
 * While requests are in flight on a queue the device does not ask for the driver's
 * notifications: every completion looks at the ring again, so a busy queue costs no notify
 * exits. When the last request ends, notifications are asked for and the ring looked at once
 * more (no request can be missed in between).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/block-backend.h"
#include "vireo/machine.h"
#include "vireo/timer.h"
#include "vireo/virtio-pci.h"

#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_SCSI         7
#define VIRTIO_BLK_F_WCE          9 /* = FLUSH */
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_SCSI_CMD     2
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_BARRIER      0x80000000u

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1
#define SECTOR_BITS 9
#define SECTOR_SIZE 512
#define REQUEST_MAX_SECTORS (0x7fffffffu >> SECTOR_BITS) /* QEMU's BDRV_REQUEST_MAX_SECTORS */
#define AUTO_NUM_QUEUES 0xffff
#define CONFIG_SIZE 60 /* through write_zeroes_may_unmap: DISCARD and WRITE_ZEROES offered */

typedef struct VirtIOBlock VirtIOBlock;

typedef struct BlkRequest {
    VirtIOBlock *s;
    VirtQueue *vq;
    VirtQueueElement *elem;
    uint32_t type;
    uint64_t sector;
    uint8_t *status;       /* the status byte, in guest RAM */
    struct iovec *iov;     /* the data buffers */
    unsigned niov;
    size_t in_len;         /* what the used ring reports */
    bool is_write;
    struct BlkRequest *next; /* stopped by werror/rerror=stop, waiting for the VM to run */
} BlkRequest;

struct VirtIOBlock {
    VirtIODevice *vdev;
    BlockBackend *blk;
    /* properties (QEMU's names) */
    char *drive, *serial;
    uint16_t num_queues, queue_size;
    uint32_t logical_block_size, physical_block_size, min_io_size, opt_io_size;
    uint32_t discard_granularity, max_discard_sectors, max_write_zeroes_sectors;
    uint32_t cyls, heads, secs, lcyls, lheads, lsecs;
    int32_t bootindex;
    int write_cache, backend_defaults, account_invalid, account_failed; /* OnOffAuto */
    int rerror, werror;                                                 /* BlockdevOnError */
    bool config_wce, discard, write_zeroes, scsi, request_merging, seg_max_adjust,
        report_discard_granularity, share_rw, x_enable_wce_if_config_wce;
    /* state */
    bool original_wce;
    unsigned *inflight; /* per queue */
    BlkRequest *stopped;
    VTimer restart;
    bool attached;
    bool resetting; /* blk_reset drains: take nothing new from the rings meanwhile */
};

typedef struct VirtIOBlkPCI {
    VirtIOPCIProxy proxy;
    VirtIOBlock blk;
} VirtIOBlkPCI;

/* ---- completion ----------------------------------------------------------------------------- */

static void process_queue(VirtIOBlock *s, VirtQueue *vq);

static void request_free(BlkRequest *r)
{
    g_free(r->iov);
    g_free(r);
}

/* Status byte, used ring, batched interrupt; the request is done. */
static void complete(BlkRequest *r, uint8_t status)
{
    VirtIOBlock *s = r->s;
    VirtQueue *vq = r->vq;
    *r->status = status;
    virtqueue_push(vq, r->elem, (unsigned)r->in_len);
    virtio_notify_deferred(s->vdev, vq);
    request_free(r);
}

static void submit(BlkRequest *r);

/* Restart requests stopped by werror/rerror=stop: the timer runs on virtual time, which stands
 * still while the VM is stopped, so it fires once the VM runs again. */
static void restart_stopped(void *opaque)
{
    VirtIOBlock *s = opaque;
    BlkRequest *r = s->stopped;
    s->stopped = NULL;
    while (r) {
        BlkRequest *next = r->next;
        r->next = NULL;
        s->inflight[r->vq->index]++;
        submit(r);
        r = next;
    }
}

static void request_done(void *opaque, int ret)
{
    BlkRequest *r = opaque;
    VirtIOBlock *s = r->s;
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    VirtQueue *vq = r->vq;
    if (r->elem->gen != vq->gen) {
        /* the device or queue was reset meanwhile: the element is stale */
        virtqueue_detach(vq, r->elem);
        request_free(r);
        if (take) {
            vireo_unlock();
        }
        return;
    }
    s->inflight[vq->index]--;
    bool act = false, is_read = !r->is_write;
    BlockErrorAction action = BLOCK_ERROR_ACTION_REPORT;
    if (ret < 0 && r->type != VIRTIO_BLK_T_GET_ID) {
        bool rw = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT;
        action = blk_get_error_action(s->blk, rw ? is_read : false, -ret);
        act = true;
        if (action == BLOCK_ERROR_ACTION_STOP) {
            r->next = s->stopped;
            s->stopped = r;
            vtimer_mod(&s->restart, vclock_ns() + 1);
        } else {
            complete(r, action == BLOCK_ERROR_ACTION_IGNORE ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
        }
    } else {
        complete(r, VIRTIO_BLK_S_OK);
    }
    /* new requests may wait in the ring (notifications are off while busy) */
    process_queue(s, vq);
    BlockBackend *blk = s->blk;
    if (take) {
        vireo_unlock();
    }
    /* the error action may stop the VM: never with the big lock held (vCPUs may wait on it) */
    if (act) {
        blk_error_action(blk, action, is_read, -ret);
    }
}

/* ---- requests ------------------------------------------------------------------------------- */

static bool sector_range_ok(VirtIOBlock *s, uint64_t sector, uint64_t bytes)
{
    uint64_t n = bytes >> SECTOR_BITS;
    uint64_t mask = (s->logical_block_size >> SECTOR_BITS) - 1;
    int64_t len = blk_getlength(s->blk);
    uint64_t total = len > 0 ? (uint64_t)len >> SECTOR_BITS : 0;
    if (n > REQUEST_MAX_SECTORS || (sector & mask) || bytes % s->logical_block_size) {
        return false;
    }
    return sector <= total && n <= total - sector;
}

static void submit(BlkRequest *r)
{
    VirtIOBlock *s = r->s;
    uint64_t off = r->sector << SECTOR_BITS;
    switch (r->type) {
    case VIRTIO_BLK_T_IN:
        blk_aio_preadv(s->blk, off, r->iov, (int)r->niov, 0, request_done, r);
        break;
    case VIRTIO_BLK_T_OUT:
        blk_aio_pwritev(s->blk, off, r->iov, (int)r->niov, 0, request_done, r);
        break;
    case VIRTIO_BLK_T_FLUSH:
        blk_aio_flush(s->blk, request_done, r);
        break;
    default:
        break;
    }
}

/* The data part of the in buffers: every in byte but the last (the status). */
static void split_in(BlkRequest *r, VirtQueueElement *e)
{
    r->iov = g_new(struct iovec, e->in_num ? e->in_num : 1);
    r->niov = 0;
    size_t total = iov_size(e->in_sg, e->in_num), left = total - 1;
    for (unsigned i = 0; i < e->in_num && left; i++) {
        size_t l = e->in_sg[i].iov_len < left ? e->in_sg[i].iov_len : left;
        r->iov[r->niov++] = (struct iovec){.iov_base = e->in_sg[i].iov_base, .iov_len = l};
        left -= l;
    }
}

static void split_out(BlkRequest *r, VirtQueueElement *e, size_t skip)
{
    r->iov = g_new(struct iovec, e->out_num ? e->out_num : 1);
    r->niov = 0;
    for (unsigned i = 0; i < e->out_num; i++) {
        size_t l = e->out_sg[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        r->iov[r->niov++] = (struct iovec){.iov_base = (uint8_t *)e->out_sg[i].iov_base + skip,
                                           .iov_len = l - skip};
        skip = 0;
    }
}

/* DISCARD / WRITE_ZEROES: one segment {le64 sector, le32 num_sectors, le32 flags}. */
static int discard_write_zeroes(BlkRequest *r, bool zeroes)
{
    VirtIOBlock *s = r->s;
    VirtQueueElement *e = r->elem;
    uint8_t seg[16];
    if (iov_to_buf(e->out_sg, e->out_num, 16, seg, sizeof(seg)) != sizeof(seg)) {
        virtio_error(s->vdev, "virtio-blk discard/write_zeroes header too short");
        return -1;
    }
    uint64_t sector;
    uint32_t n, flags;
    memcpy(&sector, seg, 8);
    memcpy(&n, seg + 8, 4);
    memcpy(&flags, seg + 12, 4);
    uint32_t max = zeroes ? s->max_write_zeroes_sectors : s->max_discard_sectors;
    uint64_t bytes = (uint64_t)n << SECTOR_BITS;
    if (n > max || !sector_range_ok(s, sector, bytes)) {
        blk_account_invalid(s->blk, zeroes ? BLOCK_ACCT_WRITE : BLOCK_ACCT_UNMAP);
        return VIRTIO_BLK_S_IOERR;
    }
    /* the unmap flag is for write-zeroes only */
    if (!zeroes && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    r->sector = sector;
    r->is_write = true;
    if (zeroes) {
        blk_aio_pwrite_zeroes(s->blk, sector << SECTOR_BITS, bytes,
                              (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ? BDRV_REQ_MAY_UNMAP : 0,
                              request_done, r);
    } else {
        blk_aio_pdiscard(s->blk, sector << SECTOR_BITS, bytes, request_done, r);
    }
    return -EINPROGRESS;
}

/* One element: complete it at once, or submit it (returns true when submitted). */
static void handle_request(VirtIOBlock *s, VirtQueue *vq, VirtQueueElement *e)
{
    VirtIODevice *vdev = s->vdev;
    if (e->out_num < 1 || e->in_num < 1) {
        virtio_error(vdev, "virtio-blk missing headers");
        virtqueue_detach(vq, e);
        return;
    }
    uint8_t hdr[16];
    if (iov_to_buf(e->out_sg, e->out_num, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
        virtio_error(vdev, "virtio-blk request outhdr too short");
        virtqueue_detach(vq, e);
        return;
    }
    if (e->in_sg[e->in_num - 1].iov_len < 1) {
        virtio_error(vdev, "virtio-blk request inhdr too short");
        virtqueue_detach(vq, e);
        return;
    }
    BlkRequest *r = g_new0(BlkRequest, 1);
    r->s = s;
    r->vq = vq;
    r->elem = e;
    struct iovec *last = &e->in_sg[e->in_num - 1];
    r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
    r->in_len = iov_size(e->in_sg, e->in_num);
    memcpy(&r->type, hdr, 4);
    memcpy(&r->sector, hdr + 8, 8);
    uint32_t type = r->type & ~VIRTIO_BLK_T_BARRIER;
    int status = VIRTIO_BLK_S_UNSUPP;
    switch (type & ~VIRTIO_BLK_T_OUT) {
    case VIRTIO_BLK_T_IN: {
        r->is_write = type & VIRTIO_BLK_T_OUT;
        r->type = r->is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
        if (r->is_write) {
            split_out(r, e, sizeof(hdr));
        } else {
            split_in(r, e);
        }
        size_t bytes = iov_size(r->iov, r->niov);
        if (!sector_range_ok(s, r->sector, bytes)) {
            blk_account_invalid(s->blk, r->is_write ? BLOCK_ACCT_WRITE : BLOCK_ACCT_READ);
            complete(r, VIRTIO_BLK_S_IOERR);
            return;
        }
        s->inflight[vq->index]++;
        submit(r);
        return;
    }
    case VIRTIO_BLK_T_FLUSH:
        r->type = VIRTIO_BLK_T_FLUSH;
        r->is_write = true;
        s->inflight[vq->index]++;
        submit(r);
        return;
    case VIRTIO_BLK_T_SCSI_CMD:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    default:
        if (type == VIRTIO_BLK_T_GET_ID) {
            const char *serial = s->serial ? s->serial : "";
            size_t n = strlen(serial) + 1;
            size_t room = r->in_len - 1;
            if (n > room) {
                n = room;
            }
            if (n > VIRTIO_BLK_ID_BYTES) {
                n = VIRTIO_BLK_ID_BYTES;
            }
            /* the status byte is not part of the id buffer */
            split_in(r, e);
            iov_from_buf(r->iov, r->niov, 0, serial, n);
            status = VIRTIO_BLK_S_OK;
        } else if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
            bool zeroes = type == VIRTIO_BLK_T_WRITE_ZEROES;
            if (!virtio_vdev_has_feature(vdev, zeroes ? VIRTIO_BLK_F_WRITE_ZEROES
                                                      : VIRTIO_BLK_F_DISCARD)) {
                status = VIRTIO_BLK_S_UNSUPP;
                break;
            }
            r->type = type;
            s->inflight[vq->index]++;
            int st = discard_write_zeroes(r, zeroes);
            if (st == -EINPROGRESS) {
                return;
            }
            s->inflight[vq->index]--;
            if (st < 0) {
                virtqueue_detach(vq, e);
                request_free(r);
                return;
            }
            status = st;
        }
        break;
    }
    complete(r, (uint8_t)status);
}

static void process_queue(VirtIOBlock *s, VirtQueue *vq)
{
    VirtIODevice *vdev = s->vdev;
    if (!s->blk || vdev->broken || !vq->ready || s->resetting) {
        return;
    }
    for (;;) {
        virtqueue_set_notification(vq, false);
        VirtQueueElement *e;
        while ((e = virtqueue_pop(vq))) {
            handle_request(s, vq, e);
        }
        if (vdev->broken || s->inflight[vq->index]) {
            /* busy: every completion looks at the ring again, no notification needed */
            return;
        }
        virtqueue_set_notification(vq, true);
        if (virtqueue_empty(vq)) {
            return;
        }
    }
}

static void handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    process_queue(vdev->opaque, vq);
}

/* ---- config and features ---------------------------------------------------------------- */

static unsigned log2u(uint32_t v)
{
    unsigned n = 0;
    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void blk_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIOBlock *s = vdev->opaque;
    uint32_t bs = s->logical_block_size;
    int64_t len = blk_getlength(s->blk);
    uint64_t capacity = len > 0 ? (uint64_t)len >> SECTOR_BITS : 0;
    memset(c, 0, CONFIG_SIZE);
    put64(c + 0, capacity);
    put32(c + 12, s->seg_max_adjust ? s->queue_size - 2u : 128u - 2u);
    put16(c + 16, (uint16_t)s->cyls);
    c[18] = (uint8_t)s->heads;
    /* a capacity that is no whole number of logical blocks per track: drop the odd sectors */
    uint64_t mask = (bs >> SECTOR_BITS) - 1;
    if (len > 0 && s->heads && s->secs && (uint64_t)len / s->heads / s->secs % bs) {
        c[19] = (uint8_t)(s->secs & ~mask);
    } else {
        c[19] = (uint8_t)s->secs;
    }
    put32(c + 20, bs);
    c[24] = (uint8_t)log2u(s->physical_block_size / bs);
    c[25] = 0;
    put16(c + 26, (uint16_t)(s->min_io_size / bs));
    put32(c + 28, s->opt_io_size / bs);
    c[32] = blk_enable_write_cache(s->blk);
    put16(c + 34, s->num_queues);
    if (s->discard) {
        uint32_t gran = s->discard_granularity;
        if (gran == 0xffffffffu || !s->report_discard_granularity) {
            gran = bs;
        }
        put32(c + 36, s->max_discard_sectors);
        put32(c + 40, 1);
        put32(c + 44, gran >> SECTOR_BITS);
    }
    if (s->write_zeroes) {
        put32(c + 48, s->max_write_zeroes_sectors);
        put32(c + 52, 1);
        c[56] = 1;
    }
}

static void blk_set_config(VirtIODevice *vdev, const uint8_t *c)
{
    VirtIOBlock *s = vdev->opaque;
    blk_set_enable_write_cache(s->blk, c[32] != 0);
}

static uint64_t blk_get_features(VirtIODevice *vdev, uint64_t f)
{
    VirtIOBlock *s = vdev->opaque;
    f |= 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_GEOMETRY |
         1ull << VIRTIO_BLK_F_TOPOLOGY | 1ull << VIRTIO_BLK_F_BLK_SIZE;
    if (s->config_wce) {
        f |= 1ull << VIRTIO_BLK_F_CONFIG_WCE;
    }
    if (s->discard) {
        f |= 1ull << VIRTIO_BLK_F_DISCARD;
    }
    if (s->write_zeroes) {
        f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
    }
    /* ANY_LAYOUT is a legacy-only promise QEMU's virtio-blk does not make */
    f &= ~(1ull << VIRTIO_F_ANY_LAYOUT);
    if (!virtio_has_feature(f, VIRTIO_F_VERSION_1) && s->scsi) {
        f |= 1ull << VIRTIO_BLK_F_SCSI;
    }
    if (blk_enable_write_cache(s->blk) ||
        (s->x_enable_wce_if_config_wce && virtio_has_feature(f, VIRTIO_BLK_F_CONFIG_WCE))) {
        f |= 1ull << VIRTIO_BLK_F_WCE;
    }
    if (blk_is_read_only(s->blk)) {
        f |= 1ull << VIRTIO_BLK_F_RO;
    }
    if (s->num_queues > 1) {
        f |= 1ull << VIRTIO_BLK_F_MQ;
    }
    return f;
}

static void blk_set_status(VirtIODevice *vdev, uint8_t old)
{
    (void)old;
    VirtIOBlock *s = vdev->opaque;
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return;
    }
    /* a driver without CONFIG_WCE gets the cache mode its WCE choice says */
    if (!virtio_vdev_has_feature(vdev, VIRTIO_BLK_F_CONFIG_WCE)) {
        blk_set_enable_write_cache(s->blk, virtio_vdev_has_feature(vdev, VIRTIO_BLK_F_WCE));
    }
}

static void blk_reset(VirtIODevice *vdev)
{
    VirtIOBlock *s = vdev->opaque;
    if (!s->blk) {
        return;
    }
    /* no request may still write guest memory the driver is about to reuse */
    s->resetting = true;
    blk_drain(s->blk);
    s->resetting = false;
    vtimer_del(&s->restart);
    while (s->stopped) {
        BlkRequest *r = s->stopped;
        s->stopped = r->next;
        virtqueue_detach(r->vq, r->elem);
        request_free(r);
    }
    for (unsigned i = 0; i < vdev->nvq; i++) {
        s->inflight[i] = 0;
    }
    blk_set_enable_write_cache(s->blk, s->original_wce);
}

static const VirtIODeviceOps virtio_blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .get_features = blk_get_features,
    .get_config = blk_get_config,
    .set_config = blk_set_config,
    .set_status = blk_set_status,
    .reset = blk_reset,
};

/* ---- resize ----------------------------------------------------------------------------- */

static void blk_resize_cb(void *opaque)
{
    VirtIOBlock *s = opaque;
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    virtio_notify_config(s->vdev);
    if (take) {
        vireo_unlock();
    }
}

static const BlockDevOps virtio_blk_dev_ops = {
    .resize_cb = blk_resize_cb,
};

/* ---- realize ---------------------------------------------------------------------------- */

static bool blk_realize_checked(VirtIOPCIProxy *p, char **errp)
{
    VirtIOBlkPCI *d = (VirtIOBlkPCI *)p;
    VirtIOBlock *s = &d->blk;
    Device *dev = &p->pci.dev;
    s->vdev = &p->vdev;
    if (s->num_queues == AUTO_NUM_QUEUES) {
        unsigned n = machine_smp_cpus();
        s->num_queues = (uint16_t)(n > VIRTIO_QUEUE_MAX ? VIRTIO_QUEUE_MAX : n);
    }
    if (p->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        p->nvectors = s->num_queues + 1u;
    }
    if (!s->drive || !s->drive[0]) {
        *errp = g_strdup("drive property not set");
        return false;
    }
    BlockBackend *blk = blk_for_device(s->drive, "virtio-blk-device.drive", errp);
    if (!blk) {
        return false;
    }
    char *qom = device_qom_path(dev);
    char *path = g_strdup_printf("%s/virtio-backend", qom);
    int r = blk_attach_dev(blk, path, dev->id, &virtio_blk_dev_ops, s, errp);
    g_free(path);
    g_free(qom);
    if (r < 0) {
        return false;
    }
    s->blk = blk;
    s->attached = true;
    if (!blk_is_inserted(blk)) {
        *errp = g_strdup("Device needs media, but drive is empty");
        return false;
    }
    if (!s->num_queues) {
        *errp = g_strdup("num-queues property must be larger than 0");
        return false;
    }
    if (s->queue_size <= 2) {
        *errp = g_strdup_printf("invalid queue-size property (%u), must be > 2", s->queue_size);
        return false;
    }
    if ((s->queue_size & (s->queue_size - 1)) || s->queue_size > VIRTQUEUE_MAX_SIZE) {
        *errp = g_strdup_printf("invalid queue-size property (%u), must be a power of 2 (max %d)",
                                s->queue_size, VIRTQUEUE_MAX_SIZE);
        return false;
    }
    /* what the device applies to its backend (QEMU's blkconf_apply_backend_options) */
    BlockdevOnError rerror = s->rerror, werror = s->werror;
    if (rerror == BLOCKDEV_ON_ERROR_AUTO) {
        rerror = blk_get_on_error(blk, true);
    }
    if (werror == BLOCKDEV_ON_ERROR_AUTO) {
        werror = blk_get_on_error(blk, false);
    }
    blk_set_on_error(blk, rerror, werror);
    blk_iostatus_enable(blk);
    if (blk_set_dev_perm(blk, blk_is_read_only(blk), s->share_rw, errp) < 0) {
        return false;
    }
    if (s->write_cache != ON_OFF_AUTO_AUTO) {
        blk_set_enable_write_cache(blk, s->write_cache == ON_OFF_AUTO_ON);
    }
    s->original_wce = blk_enable_write_cache(blk);
    if (!s->cyls && !s->heads && !s->secs) {
        blk_guess_geometry(s->blk, &s->cyls, &s->heads, &s->secs);
    }
    if (s->cyls < 1 || s->cyls > 65535) {
        *errp = g_strdup("cyls must be between 1 and 65535");
        return false;
    }
    if (s->heads < 1 || s->heads > 255) {
        *errp = g_strdup("heads must be between 1 and 255");
        return false;
    }
    if (s->secs < 1 || s->secs > 255) {
        *errp = g_strdup("secs must be between 1 and 255");
        return false;
    }
    if (!s->physical_block_size) {
        s->physical_block_size = SECTOR_SIZE;
    }
    if (!s->logical_block_size) {
        s->logical_block_size = SECTOR_SIZE;
    }
    if (s->logical_block_size > s->physical_block_size) {
        *errp = g_strdup("logical_block_size > physical_block_size not supported");
        return false;
    }
    if (s->min_io_size % s->logical_block_size) {
        *errp = g_strdup("min_io_size must be a multiple of logical_block_size");
        return false;
    }
    if (s->opt_io_size % s->logical_block_size) {
        *errp = g_strdup("opt_io_size must be a multiple of logical_block_size");
        return false;
    }
    if (s->discard_granularity != 0xffffffffu &&
        s->discard_granularity % s->logical_block_size) {
        *errp = g_strdup("discard_granularity must be a multiple of logical_block_size");
        return false;
    }
    if (s->discard && (!s->max_discard_sectors || s->max_discard_sectors > REQUEST_MAX_SECTORS)) {
        *errp = g_strdup_printf("invalid max-discard-sectors property (%u), must be between 1 "
                                "and %u",
                                s->max_discard_sectors, REQUEST_MAX_SECTORS);
        return false;
    }
    if (s->write_zeroes &&
        (!s->max_write_zeroes_sectors || s->max_write_zeroes_sectors > REQUEST_MAX_SECTORS)) {
        *errp = g_strdup_printf("invalid max-write-zeroes-sectors property (%u), must be "
                                "between 1 and %u",
                                s->max_write_zeroes_sectors, REQUEST_MAX_SECTORS);
        return false;
    }
    virtio_init(&p->vdev, &virtio_blk_ops, s, CONFIG_SIZE, s->num_queues);
    s->inflight = g_new0(unsigned, s->num_queues);
    for (unsigned i = 0; i < s->num_queues; i++) {
        virtio_add_queue(&p->vdev, s->queue_size, handle_output);
    }
    vtimer_init(&s->restart, restart_stopped, s);
    return true;
}

/* A realize that fails leaves the drive free again (a node's own backend goes with it). */
static bool blk_realize(VirtIOPCIProxy *p, char **errp)
{
    if (blk_realize_checked(p, errp)) {
        return true;
    }
    VirtIOBlock *s = &((VirtIOBlkPCI *)p)->blk;
    if (s->attached) {
        blk_detach_dev(s->blk);
        s->attached = false;
    }
    s->blk = NULL;
    return false;
}

static void blk_unrealize(VirtIOPCIProxy *p)
{
    VirtIOBlock *s = &((VirtIOBlkPCI *)p)->blk;
    if (s->blk && s->vdev->ops) {
        blk_reset(s->vdev);
    }
    vtimer_del(&s->restart);
    if (s->attached) {
        blk_detach_dev(s->blk);
        s->attached = false;
    }
    g_free(s->inflight);
    s->inflight = NULL;
    s->blk = NULL;
}

/* ---- the device type ---------------------------------------------------------------------- */

#define OWNER .owner = "virtio-blk-device"
static const Property virtio_blk_props[] = {
    DEFINE_PROP_("account-failed", PROP_ONOFFAUTO, VirtIOBlkPCI, blk.account_failed, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_("account-invalid", PROP_ONOFFAUTO, VirtIOBlkPCI, blk.account_invalid, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_("backend_defaults", PROP_ONOFFAUTO, VirtIOBlkPCI, blk.backend_defaults, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_("bootindex", PROP_INT32, VirtIOBlkPCI, blk.bootindex, false, .def.i = -1),
    DEFINE_PROP_UINT32("class", VirtIOBlkPCI, proxy.class_prop, 0),
    DEFINE_PROP_BIT("config-wce", VirtIOBlkPCI, blk.config_wce, true),
    DEFINE_PROP_UINT32("cyls", VirtIOBlkPCI, blk.cyls, 0),
    DEFINE_PROP_BIT("discard", VirtIOBlkPCI, blk.discard, true),
    DEFINE_PROP_(("discard_granularity"), PROP_SIZE32, VirtIOBlkPCI, blk.discard_granularity,
                 true, .def.u = 0xffffffffu, OWNER),
    DEFINE_PROP_DRIVE("drive", VirtIOBlkPCI, blk.drive),
    DEFINE_PROP_UINT32("heads", VirtIOBlkPCI, blk.heads, 0),
    DEFINE_PROP_BIT("ioeventfd", VirtIOBlkPCI, proxy.ioeventfd, true),
    DEFINE_PROP_HELP("iothread", "link<iothread>"),
    DEFINE_PROP_UINT32("lcyls", VirtIOBlkPCI, blk.lcyls, 0),
    DEFINE_PROP_UINT32("lheads", VirtIOBlkPCI, blk.lheads, 0),
    DEFINE_PROP_(("logical_block_size"), PROP_BLOCKSIZE, VirtIOBlkPCI, blk.logical_block_size,
                 true, .def.u = 0, .owner = ""),
    DEFINE_PROP_UINT32("lsecs", VirtIOBlkPCI, blk.lsecs, 0),
    DEFINE_PROP_UINT32("max-discard-sectors", VirtIOBlkPCI, blk.max_discard_sectors, 4194303),
    DEFINE_PROP_UINT32("max-write-zeroes-sectors", VirtIOBlkPCI, blk.max_write_zeroes_sectors,
                       4194303),
    DEFINE_PROP_(("min_io_size"), PROP_SIZE32, VirtIOBlkPCI, blk.min_io_size, true, .def.u = 0,
                 OWNER),
    DEFINE_PROP_UINT16("num-queues", VirtIOBlkPCI, blk.num_queues, AUTO_NUM_QUEUES),
    DEFINE_PROP_(("opt_io_size"), PROP_SIZE32, VirtIOBlkPCI, blk.opt_io_size, true, .def.u = 0,
                 OWNER),
    DEFINE_PROP_(("physical_block_size"), PROP_BLOCKSIZE, VirtIOBlkPCI, blk.physical_block_size,
                 true, .def.u = 0, .owner = ""),
    DEFINE_PROP_UINT16("queue-size", VirtIOBlkPCI, blk.queue_size, 256),
    DEFINE_PROP_BOOL("report-discard-granularity", VirtIOBlkPCI, blk.report_discard_granularity,
                     true),
    DEFINE_PROP_BIT("request-merging", VirtIOBlkPCI, blk.request_merging, true),
    DEFINE_PROP_ENUM("rerror", VirtIOBlkPCI, blk.rerror, blockdev_on_error_names, "BlockdevOnError",
                     BLOCKDEV_ON_ERROR_AUTO,
                     "Error handling policy, report/ignore/enospc/stop/auto"),
    DEFINE_PROP_BIT("scsi", VirtIOBlkPCI, blk.scsi, false),
    DEFINE_PROP_UINT32("secs", VirtIOBlkPCI, blk.secs, 0),
    DEFINE_PROP_BOOL("seg-max-adjust", VirtIOBlkPCI, blk.seg_max_adjust, true),
    DEFINE_PROP_STRING("serial", VirtIOBlkPCI, blk.serial),
    DEFINE_PROP_BOOL("share-rw", VirtIOBlkPCI, blk.share_rw, false),
    DEFINE_PROP_UINT32("vectors", VirtIOBlkPCI, proxy.nvectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_HELP("virtio-backend", "child<virtio-blk-device>"),
    DEFINE_PROP_ENUM("werror", VirtIOBlkPCI, blk.werror, blockdev_on_error_names, "BlockdevOnError",
                     BLOCKDEV_ON_ERROR_AUTO,
                     "Error handling policy, report/ignore/enospc/stop/auto"),
    DEFINE_PROP_("write-cache", PROP_ONOFFAUTO, VirtIOBlkPCI, blk.write_cache, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_BIT("write-zeroes", VirtIOBlkPCI, blk.write_zeroes, true),
    DEFINE_PROP_BOOL("x-enable-wce-if-config-wce", VirtIOBlkPCI, blk.x_enable_wce_if_config_wce,
                     true),
    DEFINE_PROP_END,
};

static const VirtIOPCIDeviceInfo virtio_blk_pci_vinfo = {
    .realize = blk_realize,
    .unrealize = blk_unrealize,
    .legacy_device_id = 0x1001,
    .class_code = 0x0100,
};

/* Saved state: the transport and core, then the guest's write-cache choice. */
static const VMStateField virtio_blk_pci_fields[] = {
    VMSTATE_STRUCT(proxy, VirtIOBlkPCI, virtio_pci_vmstate),
    VMSTATE_BOOL(blk.original_wce, VirtIOBlkPCI),
    VMSTATE_END_OF_LIST(),
};

static void virtio_blk_pci_pre_save(void *opaque)
{
    VirtIOBlkPCI *d = opaque;
    /* in-flight requests end first: what is saved is a queue with nothing in flight */
    if (d->blk.blk) {
        blk_drain(d->blk.blk);
    }
}

static bool virtio_blk_pci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    VirtIOBlkPCI *d = opaque;
    return virtio_pci_post_load(&d->proxy, errp);
}

static const VMStateDescription virtio_blk_pci_vmstate = {
    .name = "virtio-blk",
    .version = 1,
    .minimum_version = 1,
    .fields = virtio_blk_pci_fields,
    .pre_save = virtio_blk_pci_pre_save,
    .post_load = virtio_blk_pci_post_load,
};

static const char *const virtio_blk_aliases[] = {"virtio-blk", NULL};

const DeviceInfo virtio_blk_pci_info = {
    .name = "virtio-blk-pci",
    .category = DEVICE_CATEGORY_STORAGE,
    VIRTIO_PCI_DEVICE_INFO,
    .instance_size = sizeof(VirtIOBlkPCI),
    .props = virtio_blk_props,
    .vmsd = &virtio_blk_pci_vmstate,
    .aliases = virtio_blk_aliases,
    .family = &virtio_blk_pci_vinfo,
    .qom_parent = "virtio-blk-pci-base",
    .boot_suffix = "/disk@0,0",
};
