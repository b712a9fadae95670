/*
 * The monitor's block commands, QEMU 7.2's shapes and messages: query-block, query-blockstats,
 * query-named-block-nodes, blockdev-add, blockdev-del, block_resize; HMP "info block" and
 * "info blockstats". Members are inserted in QAPI declaration order (the serializer orders
 * them as QEMU's QDict does).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "monitor-internal.h"
#include "vireo/blockdev.h"
#include "vireo/device.h"

static const char *const detect_zeroes_names[] = {"off", "on", "unmap"};

/* QEMU leaves hints (a second line) out of QMP errors. */
static void block_qmp_error(QmpError *err, const char *msg)
{
    qmp_error(err, "GenericError", "%.*s", (int)strcspn(msg, "\n"), msg);
}

static QJ *cache_info(BlockBackend *blk, BlockDriverState *bs)
{
    QJ *c = qj_object();
    qj_set_bool(c, "writeback", blk ? blk_enable_write_cache(blk) : true);
    qj_set_bool(c, "direct", bs->open_flags & BDRV_O_NOCACHE);
    qj_set_bool(c, "no-flush", bs->open_flags & BDRV_O_NO_FLUSH);
    return c;
}

/* BlockDeviceInfo of a node (blk: the backend it is the root of, for the cache mode). */
static QJ *block_device_info(BlockBackend *blk, BlockDriverState *bs, bool flat)
{
    QJ *d = qj_object();
    qj_set_str(d, "file", bs->filename);
    qj_set_str(d, "node-name", bs->node_name);
    qj_set_bool(d, "ro", bs->read_only);
    qj_set_str(d, "drv", bs->drv->format_name);
    if (bs->backing_file && bs->backing_file[0]) {
        qj_set_str(d, "backing_file", bs->backing_file);
    } else if (bs->backing) {
        qj_set_str(d, "backing_file", bs->backing->filename);
    }
    int depth = 0; /* QEMU counts the backing images it shows: none when flat */
    for (BlockDriverState *b = bs->backing; b && !flat; b = b->backing) {
        depth++;
    }
    qj_set_int(d, "backing_file_depth", depth);
    qj_set_bool(d, "encrypted", false);
    qj_set_str(d, "detect_zeroes", detect_zeroes_names[bs->detect_zeroes]);
    static const char *const throttle[] = {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"};
    for (size_t i = 0; i < G_N_ELEMENTS(throttle); i++) {
        qj_set_int(d, throttle[i], 0);
    }
    qj_set(d, "image", bdrv_image_info(bs, bs->filename, !flat));
    qj_set(d, "cache", cache_info(blk, bs));
    qj_set_int(d, "write_threshold", 0);
    return d;
}

static const char *const iostatus_names[] = {"ok", "failed", "nospace"};

/* Backends query-block lists: named ones, and anonymous ones a device uses. */
static bool listed(BlockBackend *blk)
{
    return blk_name(blk)[0] || blk_has_dev(blk);
}

static QJ *block_info(BlockBackend *blk)
{
    QJ *b = qj_object();
    qj_set_str(b, "device", blk_name(blk));
    if (blk_get_attached_dev_path(blk)) {
        qj_set_str(b, "qdev", blk_get_attached_dev_path(blk));
    }
    qj_set_str(b, "type", "unknown");
    qj_set_bool(b, "removable", blk_dev_has_removable_media(blk));
    qj_set_bool(b, "locked", blk_dev_is_medium_locked(blk));
    if (blk_bs(blk)) {
        qj_set(b, "inserted", block_device_info(blk, blk_bs(blk), false));
    }
    if (blk_dev_has_tray(blk)) {
        qj_set_bool(b, "tray_open", blk_dev_is_tray_open(blk));
    }
    if (blk_iostatus_is_enabled(blk)) {
        qj_set_str(b, "io-status", iostatus_names[blk_iostatus(blk)]);
    }
    return b;
}

static QJ *cmd_query_block(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *list = qj_array();
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (listed(blk)) {
            qj_append(list, block_info(blk));
        }
    }
    return list;
}

/* Nodes newest first, as QEMU lists them. */
static GPtrArray *nodes_newest_first(void)
{
    GPtrArray *a = g_ptr_array_new();
    for (BlockDriverState *bs = bdrv_next_node(NULL); bs; bs = bdrv_next_node(bs)) {
        g_ptr_array_insert(a, 0, bs);
    }
    return a;
}

static QJ *cmd_query_named_block_nodes(Monitor *mon, const QJ *args, QmpError *err)
{
    const QJ *flat = qj_get(args, "flat");
    QJ *list = qj_array();
    GPtrArray *nodes = nodes_newest_first();
    for (guint i = 0; i < nodes->len; i++) {
        qj_append(list, block_device_info(NULL, nodes->pdata[i], flat && flat->b));
    }
    g_ptr_array_free(nodes, TRUE);
    return list;
}

/* ---- query-blockstats ---- */

static QJ *device_stats(const BlockAcctStats *st, uint64_t wr_highest, bool blk_level)
{
    QJ *s = qj_object();
    qj_set_int(s, "rd_bytes", (int64_t)st->nr_bytes[BLOCK_ACCT_READ]);
    qj_set_int(s, "wr_bytes", (int64_t)st->nr_bytes[BLOCK_ACCT_WRITE]);
    qj_set_int(s, "unmap_bytes", (int64_t)st->nr_bytes[BLOCK_ACCT_UNMAP]);
    qj_set_int(s, "rd_operations", (int64_t)st->nr_ops[BLOCK_ACCT_READ]);
    qj_set_int(s, "wr_operations", (int64_t)st->nr_ops[BLOCK_ACCT_WRITE]);
    qj_set_int(s, "flush_operations", (int64_t)st->nr_ops[BLOCK_ACCT_FLUSH]);
    qj_set_int(s, "unmap_operations", (int64_t)st->nr_ops[BLOCK_ACCT_UNMAP]);
    qj_set_int(s, "rd_total_time_ns", (int64_t)st->total_time_ns[BLOCK_ACCT_READ]);
    qj_set_int(s, "wr_total_time_ns", (int64_t)st->total_time_ns[BLOCK_ACCT_WRITE]);
    qj_set_int(s, "flush_total_time_ns", (int64_t)st->total_time_ns[BLOCK_ACCT_FLUSH]);
    qj_set_int(s, "unmap_total_time_ns", (int64_t)st->total_time_ns[BLOCK_ACCT_UNMAP]);
    qj_set_int(s, "wr_highest_offset", (int64_t)wr_highest);
    qj_set_int(s, "rd_merged", (int64_t)st->merged[BLOCK_ACCT_READ]);
    qj_set_int(s, "wr_merged", (int64_t)st->merged[BLOCK_ACCT_WRITE]);
    qj_set_int(s, "unmap_merged", (int64_t)st->merged[BLOCK_ACCT_UNMAP]);
    if (blk_level && st->last_access_ns >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        qj_set_int(s, "idle_time_ns", now - st->last_access_ns);
    }
    qj_set_int(s, "failed_rd_operations", (int64_t)st->failed_ops[BLOCK_ACCT_READ]);
    qj_set_int(s, "failed_wr_operations", (int64_t)st->failed_ops[BLOCK_ACCT_WRITE]);
    qj_set_int(s, "failed_flush_operations", (int64_t)st->failed_ops[BLOCK_ACCT_FLUSH]);
    qj_set_int(s, "failed_unmap_operations", (int64_t)st->failed_ops[BLOCK_ACCT_UNMAP]);
    qj_set_int(s, "invalid_rd_operations", (int64_t)st->invalid_ops[BLOCK_ACCT_READ]);
    qj_set_int(s, "invalid_wr_operations", (int64_t)st->invalid_ops[BLOCK_ACCT_WRITE]);
    qj_set_int(s, "invalid_flush_operations", (int64_t)st->invalid_ops[BLOCK_ACCT_FLUSH]);
    qj_set_int(s, "invalid_unmap_operations", (int64_t)st->invalid_ops[BLOCK_ACCT_UNMAP]);
    qj_set_bool(s, "account_invalid", blk_level && st->account_invalid);
    qj_set_bool(s, "account_failed", blk_level && st->account_failed);
    qj_set(s, "timed_stats", qj_array());
    return s;
}

/*
 * A node's BlockStats: zeros but its highest write, its file child inside, and for the
 * backends' view (blk_level) its backing chain too.
 */
static QJ *node_stats(BlockDriverState *bs, bool blk_level)
{
    QJ *n = qj_object();
    qj_set_str(n, "node-name", bs->node_name);
    BlockAcctStats zero = {.last_access_ns = -1};
    qj_set(n, "stats", device_stats(&zero, bs->wr_highest_offset, false));
    if (bs->drv == &bdrv_file) {
        uint64_t ok, failed, bytes;
        bdrv_file_discard_stats(bs, &ok, &failed, &bytes);
        QJ *ds = qj_object();
        qj_set_str(ds, "driver", "file");
        qj_set_int(ds, "discard-nb-ok", (int64_t)ok);
        qj_set_int(ds, "discard-nb-failed", (int64_t)failed);
        qj_set_int(ds, "discard-bytes-ok", (int64_t)bytes);
        qj_set(n, "driver-specific", ds);
    }
    if (bs->file) {
        qj_set(n, "parent", node_stats(bs->file, blk_level));
    }
    if (bs->backing && blk_level) {
        qj_set(n, "backing", node_stats(bs->backing, blk_level));
    }
    return n;
}

static QJ *cmd_query_blockstats(Monitor *mon, const QJ *args, QmpError *err)
{
    const QJ *qn = qj_get(args, "query-nodes");
    QJ *list = qj_array();
    if (qn && qn->b) {
        for (BlockDriverState *bs = bdrv_next_node(NULL); bs; bs = bdrv_next_node(bs)) {
            qj_append(list, node_stats(bs, false));
        }
        return list;
    }
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (!listed(blk)) {
            continue;
        }
        BlockDriverState *bs = blk_bs(blk);
        QJ *s = bs ? node_stats(bs, true) : qj_object();
        /* the backend's own counters replace the root node's */
        qj_set_str(s, "device", blk_name(blk));
        if (blk_get_attached_dev_path(blk)) {
            qj_set_str(s, "qdev", blk_get_attached_dev_path(blk));
        }
        BlockAcctStats st;
        blk_get_stats(blk, &st);
        QJ *old = qj_take(s, "stats");
        qj_free(old);
        qj_free(qj_take(s, "driver-specific"));
        QJ *parent = qj_take(s, "parent"), *backing = qj_take(s, "backing");
        QJ *nn = qj_take(s, "node-name");
        /* re-insert in QAPI order: device, qdev, node-name, stats, parent, backing */
        if (nn) {
            qj_set(s, "node-name", nn);
        }
        qj_set(s, "stats", device_stats(&st, bs ? bs->wr_highest_offset : 0, true));
        if (parent) {
            qj_set(s, "parent", parent);
        }
        if (backing) {
            qj_set(s, "backing", backing);
        }
        qj_append(list, s);
    }
    return list;
}

/* ---- blockdev-add / blockdev-del / block_resize ---- */

static QJ *cmd_blockdev_add(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    BlockDriverState *bs = blockdev_add(args, false, &e);
    if (!bs) {
        block_qmp_error(err, e);
        g_free(e);
    }
    return NULL;
}

static QJ *cmd_blockdev_del(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    if (blockdev_del(qj_get_str(args, "node-name"), &e) < 0) {
        block_qmp_error(err, e);
        g_free(e);
    }
    return NULL;
}

typedef struct ResizeJob {
    BlockDriverState *bs;
    uint64_t size;
    char *err;
} ResizeJob;

static int do_resize(void *opaque)
{
    ResizeJob *j = opaque;
    return bdrv_truncate(j->bs, j->size, false, PREALLOC_MODE_OFF, &j->err);
}

static QJ *cmd_block_resize(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *device = qj_get_str(args, "device"), *node = qj_get_str(args, "node-name");
    int64_t size = qj_get(args, "size")->i;
    BlockBackend *blk = device ? blk_by_name(device) : NULL;
    BlockDriverState *bs = NULL;
    if (blk) {
        bs = blk_bs(blk);
        if (!bs) {
            qmp_error(err, "GenericError", "Device '%s' has no medium", device);
            return NULL;
        }
    }
    if (!bs && node) {
        bs = bdrv_find_node(node);
    }
    if (!bs) {
        qmp_error(err, "GenericError", "Cannot find device='%s' nor node-name='%s'",
                  device ? device : "", node ? node : "");
        return NULL;
    }
    if (size < 0) {
        qmp_error(err, "GenericError", "Parameter 'size' expects a >0 size");
        return NULL;
    }
    if (bs->read_only) {
        /* QEMU reopens a metadata format's file to resize it: its own lock stops that */
        qmp_error(err, "GenericError", "%s",
                  bs->drv == &bdrv_qcow2 ? "Failed to get \"resize\" lock" : "Image is read-only");
        return NULL;
    }
    ResizeJob j = {bs, (uint64_t)size, NULL};
    BlockBackend *owner = blk ? blk : blk_by_root(bs);
    int ret = owner ? blk_run_exclusive(owner, do_resize, &j) : do_resize(&j);
    if (ret < 0) {
        if (j.err) {
            block_qmp_error(err, j.err);
        } else {
            qmp_error(err, "GenericError", "%s", g_strerror(-ret));
        }
    } else if (owner) {
        blk_notify_resize(owner);
    }
    g_free(j.err);
    return NULL;
}

/* ---- removable media: eject, blockdev-open/close-tray, -remove/-insert/-change-medium ---- */

/* The backend of a device given by its qdev id (attached to the device itself). */
static BlockBackend *blk_by_qdev_id(const char *id, QmpError *err)
{
    if (!device_find_id(id)) {
        qmp_error(err, "DeviceNotFound", "Device '%s' not found", id);
        return NULL;
    }
    char *path = g_strdup_printf("/machine/peripheral/%s", id);
    BlockBackend *found = NULL;
    for (BlockBackend *blk = blk_next(NULL); blk && !found; blk = blk_next(blk)) {
        const char *did = blk_get_attached_dev_id(blk), *dpath = blk_get_attached_dev_path(blk);
        /* virtio-blk attaches its inner device (ID/virtio-backend): not the device itself */
        if (did && !strcmp(did, id) && dpath && (!strcmp(dpath, id) || !strcmp(dpath, path))) {
            found = blk;
        }
    }
    g_free(path);
    if (!found) {
        qmp_error(err, "GenericError", "Device does not have a block device backend");
    }
    return found;
}

static BlockBackend *qmp_get_blk(const char *device, const char *id, QmpError *err)
{
    if (!device == !id) {
        qmp_error(err, "GenericError", "Need exactly one of 'device' and 'id'");
        return NULL;
    }
    if (id) {
        return blk_by_qdev_id(id, err);
    }
    BlockBackend *blk = blk_by_name(device);
    if (!blk) {
        qmp_error(err, "DeviceNotFound", "Device '%s' not found", device);
    }
    return blk;
}

static void err_clear(QmpError *e)
{
    g_free(e->desc);
    e->desc = NULL;
    e->cls = NULL;
}

enum { TRAY_OK = 0, TRAY_ERR = -1, TRAY_NOTRAY = -2, TRAY_INPROGRESS = -3 };

static int do_open_tray(const char *device, const char *id, bool force, QmpError *err)
{
    const char *name = id ? id : device;
    BlockBackend *blk = qmp_get_blk(device, id, err);
    if (!blk) {
        return TRAY_ERR;
    }
    if (!blk_dev_has_removable_media(blk)) {
        qmp_error(err, "GenericError", "Device '%s' is not removable", name);
        return TRAY_ERR;
    }
    if (!blk_dev_has_tray(blk)) {
        qmp_error(err, "GenericError", "Device '%s' does not have a tray", name);
        return TRAY_NOTRAY;
    }
    if (blk_dev_is_tray_open(blk)) {
        return TRAY_OK;
    }
    bool locked = blk_dev_is_medium_locked(blk);
    if (locked) {
        blk_dev_eject_request(blk, force);
    }
    if (!locked || force) {
        blk_dev_change_media_cb(blk, false);
    }
    if (locked && !force) {
        qmp_error(err, "GenericError",
                  "Device '%s' is locked and force was not specified, wait for tray to open and "
                  "try again",
                  name);
        return TRAY_INPROGRESS;
    }
    return TRAY_OK;
}

static void close_tray(const char *device, const char *id, QmpError *err)
{
    BlockBackend *blk = qmp_get_blk(device, id, err);
    if (!blk) {
        return;
    }
    if (!blk_dev_has_removable_media(blk)) {
        qmp_error(err, "GenericError", "Device '%s' is not removable", device ? device : id);
        return;
    }
    if (blk_dev_has_tray(blk) && blk_dev_is_tray_open(blk)) {
        blk_dev_change_media_cb(blk, true);
    }
}

static void remove_medium(const char *device, const char *id, QmpError *err)
{
    BlockBackend *blk = qmp_get_blk(device, id, err);
    if (!blk) {
        return;
    }
    bool has_dev = blk_has_dev(blk);
    if (has_dev && !blk_dev_has_removable_media(blk)) {
        qmp_error(err, "GenericError", "Device '%s' is not removable", device ? device : id);
        return;
    }
    if (has_dev && blk_dev_has_tray(blk) && !blk_dev_is_tray_open(blk)) {
        qmp_error(err, "GenericError", "Tray of device '%s' is not open", device ? device : id);
        return;
    }
    if (!blk_bs(blk)) {
        return;
    }
    blk_remove_bs(blk);
    if (!blk_dev_has_tray(blk)) {
        blk_dev_change_media_cb(blk, false);
    }
}

static void insert_anon_medium(BlockBackend *blk, BlockDriverState *bs, QmpError *err)
{
    bool has_dev = blk_has_dev(blk);
    if (has_dev && !blk_dev_has_removable_media(blk)) {
        qmp_error(err, "GenericError", "Device is not removable");
        return;
    }
    if (has_dev && blk_dev_has_tray(blk) && !blk_dev_is_tray_open(blk)) {
        qmp_error(err, "GenericError", "Tray of the device is not open");
        return;
    }
    if (blk_bs(blk)) {
        qmp_error(err, "GenericError", "There already is a medium in the device");
        return;
    }
    char *e = NULL;
    if (blk_insert_bs(blk, bs, &e) < 0) {
        block_qmp_error(err, e);
        g_free(e);
        return;
    }
    if (!blk_dev_has_tray(blk)) {
        blk_dev_change_media_cb(blk, true);
    }
}

static QJ *cmd_eject(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *device = qj_get_str(args, "device"), *id = qj_get_str(args, "id");
    const QJ *f = qj_get(args, "force");
    QmpError tmp = {0};
    int rc = do_open_tray(device, id, f && f->b, &tmp);
    if (rc != TRAY_OK && rc != TRAY_NOTRAY) {
        *err = tmp;
        return NULL;
    }
    err_clear(&tmp);
    remove_medium(device, id, err);
    return NULL;
}

static QJ *cmd_open_tray(Monitor *mon, const QJ *args, QmpError *err)
{
    const QJ *f = qj_get(args, "force");
    QmpError tmp = {0};
    int rc = do_open_tray(qj_get_str(args, "device"), qj_get_str(args, "id"), f && f->b, &tmp);
    if (rc == TRAY_ERR) {
        *err = tmp;
        return NULL;
    }
    err_clear(&tmp);
    return NULL;
}

static QJ *cmd_close_tray(Monitor *mon, const QJ *args, QmpError *err)
{
    close_tray(qj_get_str(args, "device"), qj_get_str(args, "id"), err);
    return NULL;
}

static QJ *cmd_remove_medium(Monitor *mon, const QJ *args, QmpError *err)
{
    remove_medium(NULL, qj_get_str(args, "id"), err);
    return NULL;
}

static QJ *cmd_insert_medium(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *node = qj_get_str(args, "node-name");
    BlockBackend *blk = qmp_get_blk(NULL, qj_get_str(args, "id"), err);
    if (!blk) {
        return NULL;
    }
    BlockDriverState *bs = bdrv_find_node(node);
    if (!bs) {
        qmp_error(err, "GenericError", "Node '%s' not found", node);
        return NULL;
    }
    if (blk_by_root(bs)) {
        qmp_error(err, "GenericError", "Node '%s' is already in use", node);
        return NULL;
    }
    insert_anon_medium(blk, bs, err);
    return NULL;
}

static const char *const read_only_modes[] = {"retain", "read-only", "read-write", NULL};

static QJ *cmd_change_medium(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *device = qj_get_str(args, "device"), *id = qj_get_str(args, "id");
    const char *filename = qj_get_str(args, "filename"), *format = qj_get_str(args, "format");
    const char *mode = qj_get_str(args, "read-only-mode");
    const QJ *f = qj_get(args, "force");
    BlockBackend *blk = qmp_get_blk(device, id, err);
    if (!blk) {
        return NULL;
    }
    int flags = blk_bs(blk) ? blk_bs(blk)->open_flags : blk_root_flags(blk);
    flags &= BDRV_O_RDWR | BDRV_O_NOCACHE | BDRV_O_NO_FLUSH | BDRV_O_NATIVE_AIO | BDRV_O_UNMAP;
    if (mode && !strcmp(mode, "read-only")) {
        flags &= ~BDRV_O_RDWR;
    } else if (mode && !strcmp(mode, "read-write")) {
        flags |= BDRV_O_RDWR;
    }
    char *e = NULL;
    BlockDriverState *bs = bdrv_open(filename, format, NULL, flags, &e);
    if (!bs) {
        block_qmp_error(err, e);
        g_free(e);
        return NULL;
    }
    QmpError tmp = {0};
    int rc = do_open_tray(device, id, f && f->b, &tmp);
    if (rc != TRAY_OK && rc != TRAY_NOTRAY) {
        *err = tmp;
        bdrv_close(bs);
        return NULL;
    }
    err_clear(&tmp);
    remove_medium(device, id, &tmp);
    if (tmp.cls) {
        *err = tmp;
        bdrv_close(bs);
        return NULL;
    }
    insert_anon_medium(blk, bs, err);
    if (!err->cls) {
        close_tray(device, id, err);
    }
    bdrv_close(bs); /* the backend holds its own reference */
    return NULL;
}

static const QmpArg eject_args[] = {
    {"device", QARG_STR, true, NULL},
    {"id", QARG_STR, true, NULL},
    {"force", QARG_BOOL, true, NULL},
    {NULL},
};
static const QmpArg close_tray_args[] = {
    {"device", QARG_STR, true, NULL},
    {"id", QARG_STR, true, NULL},
    {NULL},
};
static const QmpArg remove_medium_args[] = {
    {"id", QARG_STR, false, NULL},
    {NULL},
};
static const QmpArg insert_medium_args[] = {
    {"id", QARG_STR, false, NULL},
    {"node-name", QARG_STR, false, NULL},
    {NULL},
};
static const QmpArg change_medium_args[] = {
    {"device", QARG_STR, true, NULL},
    {"id", QARG_STR, true, NULL},
    {"filename", QARG_STR, false, NULL},
    {"format", QARG_STR, true, NULL},
    {"force", QARG_BOOL, true, NULL},
    {"read-only-mode", QARG_ENUM, true, read_only_modes},
    {NULL},
};

static const QmpArg query_blockstats_args[] = {
    {"query-nodes", QARG_BOOL, true, NULL},
    {NULL},
};
static const QmpArg query_named_args[] = {
    {"flat", QARG_BOOL, true, NULL},
    {NULL},
};
static const QmpArg blockdev_del_args[] = {
    {"node-name", QARG_STR, false, NULL},
    {NULL},
};
static const QmpArg block_resize_args[] = {
    {"device", QARG_STR, true, NULL},
    {"node-name", QARG_STR, true, NULL},
    {"size", QARG_INT, false, NULL},
    {NULL},
};
/* blockdev-add's arguments are a BlockdevOptions: checked by block/block-open.c */
static const QmpArg any_args[] = {
    {"*", QARG_ANY, true, NULL},
    {NULL},
};

const QmpCommand qmp_block_commands[] = {
    {"query-block", cmd_query_block, NULL, "[BlockInfo]"},
    {"query-blockstats", cmd_query_blockstats, query_blockstats_args, "[BlockStats]"},
    {"query-named-block-nodes", cmd_query_named_block_nodes, query_named_args, "[BlockDeviceInfo]"},
    {"blockdev-add", cmd_blockdev_add, any_args, "{}"},
    {"blockdev-del", cmd_blockdev_del, blockdev_del_args, "{}"},
    {"block_resize", cmd_block_resize, block_resize_args, "{}"},
    {"eject", cmd_eject, eject_args, "{}"},
    {"blockdev-open-tray", cmd_open_tray, eject_args, "{}"},
    {"blockdev-close-tray", cmd_close_tray, close_tray_args, "{}"},
    {"blockdev-remove-medium", cmd_remove_medium, remove_medium_args, "{}"},
    {"blockdev-insert-medium", cmd_insert_medium, insert_medium_args, "{}"},
    {"blockdev-change-medium", cmd_change_medium, change_medium_args, "{}"},
    {NULL},
};

/* ---- HMP ---- */

static void print_block_info(Monitor *mon, BlockBackend *blk, BlockDriverState *bs, bool verbose)
{
    if (blk && blk_name(blk)[0]) {
        monitor_printf(mon, "%s", blk_name(blk));
        if (bs) {
            monitor_printf(mon, " (%s)", bs->node_name);
        }
    } else if (bs) {
        monitor_printf(mon, "%s", bs->node_name);
    } else {
        /* an anonymous backend without a medium (an empty scsi-cd): its device, as QEMU */
        const char *path = blk ? blk_get_attached_dev_path(blk) : NULL;
        monitor_printf(mon, "%s", path ? path : "<anonymous>");
    }
    if (bs) {
        monitor_printf(mon, ": %s (%s%s)\n", bs->filename, bs->drv->format_name,
                       bs->read_only ? ", read-only" : "");
    } else {
        monitor_printf(mon, ": [not inserted]\n");
    }
    if (blk) {
        if (blk_get_attached_dev_path(blk)) {
            monitor_printf(mon, "    Attached to:      %s\n", blk_get_attached_dev_path(blk));
        }
        if (blk_iostatus_is_enabled(blk) && blk_iostatus(blk) != BLOCK_IO_STATUS_OK) {
            monitor_printf(mon, "    I/O status:       %s\n", iostatus_names[blk_iostatus(blk)]);
        }
        if (blk_dev_has_removable_media(blk)) {
            monitor_printf(mon, "    Removable device: %slocked, tray %s\n",
                           blk_dev_is_medium_locked(blk) ? "" : "not ",
                           blk_dev_is_tray_open(blk) ? "open" : "closed");
        }
    }
    if (!bs) {
        return;
    }
    monitor_printf(mon, "    Cache mode:       %s%s%s\n",
                   !blk || blk_enable_write_cache(blk) ? "writeback" : "writethrough",
                   (bs->open_flags & BDRV_O_NOCACHE) ? ", direct" : "",
                   (bs->open_flags & BDRV_O_NO_FLUSH) ? ", ignore flushes" : "");
    if ((bs->backing_file && bs->backing_file[0]) || bs->backing) {
        int depth = 0;
        for (BlockDriverState *b = bs->backing; b; b = b->backing) {
            depth++;
        }
        monitor_printf(mon, "    Backing file:     %s (chain depth: %d)\n",
                       bs->backing_file[0] ? bs->backing_file : bs->backing->filename, depth);
    }
    if (bs->detect_zeroes) {
        monitor_printf(mon, "    Detect zeroes:    %s\n", detect_zeroes_names[bs->detect_zeroes]);
    }
    if (verbose) {
        GString *out = g_string_new("\nImages:\n");
        for (BlockDriverState *b = bs; b; b = b->backing) {
            bdrv_image_info_dump(b, b->filename, out);
        }
        monitor_puts(mon, out->str);
        g_string_free(out, TRUE);
    }
}

void hmp_info_block(Monitor *mon, char **argv)
{
    bool nodes = false, verbose = false;
    const char *device = NULL;
    for (int i = 0; argv[i]; i++) {
        if (!strcmp(argv[i], "-n")) {
            nodes = true;
        } else if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else {
            device = argv[i];
        }
    }
    /* as QEMU: an empty line before every entry but the first of the whole list */
    bool first = true;
    if (!nodes) {
        for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
            if (!listed(blk)) {
                continue;
            }
            bool show = !device || !strcmp(device, blk_name(blk));
            if (show && !first) {
                monitor_puts(mon, "\n");
            }
            first = false;
            if (show) {
                print_block_info(mon, blk, blk_bs(blk), verbose);
            }
        }
        return;
    }
    GPtrArray *all = nodes_newest_first();
    for (guint i = 0; i < all->len; i++) {
        BlockDriverState *bs = all->pdata[i];
        if (device && strcmp(device, bs->node_name)) {
            continue;
        }
        if (i) {
            monitor_puts(mon, "\n");
        }
        print_block_info(mon, NULL, bs, verbose);
    }
    g_ptr_array_free(all, TRUE);
}

void hmp_info_blockstats(Monitor *mon, char **argv)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (!listed(blk)) {
            continue;
        }
        BlockAcctStats st;
        blk_get_stats(blk, &st);
        int64_t idle = 0;
        if (st.last_access_ns >= 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            idle = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - st.last_access_ns;
        }
        monitor_printf(mon,
                       "%s: rd_bytes=%" PRIu64 " wr_bytes=%" PRIu64 " rd_operations=%" PRIu64
                       " wr_operations=%" PRIu64 " flush_operations=%" PRIu64
                       " wr_total_time_ns=%" PRIu64 " rd_total_time_ns=%" PRIu64
                       " flush_total_time_ns=%" PRIu64 " rd_merged=%" PRIu64 " wr_merged=%" PRIu64
                       " idle_time_ns=%" PRId64 "\n",
                       blk_name(blk), st.nr_bytes[BLOCK_ACCT_READ], st.nr_bytes[BLOCK_ACCT_WRITE],
                       st.nr_ops[BLOCK_ACCT_READ], st.nr_ops[BLOCK_ACCT_WRITE],
                       st.nr_ops[BLOCK_ACCT_FLUSH], st.total_time_ns[BLOCK_ACCT_WRITE],
                       st.total_time_ns[BLOCK_ACCT_READ], st.total_time_ns[BLOCK_ACCT_FLUSH],
                       st.merged[BLOCK_ACCT_READ], st.merged[BLOCK_ACCT_WRITE], idle);
    }
}
