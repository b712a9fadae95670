/*
 * -drive, -blockdev and -snapshot at start-up, as QEMU 7.2's blockdev.c does them (see
 * include/vireo/blockdev.h): every -blockdev first, then every -drive in order.
 *
 * A -drive is QEMU's legacy mix: options of the drive (if, bus, unit, index, media, file,
 * werror, rerror), of the backend (id, cache.writeback, snapshot, aio, format, read-only,
 * detect-zeroes, ...) and of the nodes (anything else: node-name, discard, cache.direct,
 * file.*, the format's own options), each checked in QEMU's order with QEMU's messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/blockdev.h"
#include "vireo/error.h"
#include "vireo/monitor.h"
#include "vireo/qemu-opts.h"
#include "vireo/qjson.h"
#include "vireo/runstate.h"

/* QEMU's names; max_devs as QEMU's if_max_devs; the pc machine's buses; Vireo's devices. */
DriveInterface drive_interfaces[IF_COUNT] = {
    [IF_NONE] = {"none", 0, -1, NULL, NULL},
    [IF_IDE] = {"ide", 2, 2, "ide-hd", NULL},
    [IF_SCSI] = {"scsi", 7, -1, NULL, NULL},
    [IF_FLOPPY] = {"floppy", 0, 1, NULL, "Vireo has no floppy controller yet"},
    [IF_PFLASH] = {"pflash", 0, 1, NULL, "Vireo has no flash memory for firmware yet"},
    [IF_MTD] = {"mtd", 0, -1, NULL, NULL},
    [IF_SD] = {"sd", 0, -1, NULL, NULL},
    [IF_VIRTIO] = {"virtio", 0, 1, "virtio-blk-pci", NULL},
    [IF_XEN] = {"xen", 0, -1, NULL, NULL},
};

static GPtrArray *drives;       /* DriveInfo, in creation order */
static bool machine_none;       /* -machine none: no buses at all */
static GArray *implied_devices; /* DriveDevice */

DriveInfo *drive_get(BlockInterfaceType type, int bus, int unit)
{
    for (guint i = 0; drives && i < drives->len; i++) {
        DriveInfo *d = drives->pdata[i];
        if (d->type == type && d->bus == bus && d->unit == unit) {
            return d;
        }
    }
    return NULL;
}

DriveInfo *drive_get_by_blk(BlockBackend *blk)
{
    for (guint i = 0; drives && i < drives->len; i++) {
        DriveInfo *d = drives->pdata[i];
        if (d->blk == blk) {
            return d;
        }
    }
    return NULL;
}

const DriveDevice *drive_implied_devices(int *n)
{
    *n = implied_devices ? (int)implied_devices->len : 0;
    return implied_devices ? (const DriveDevice *)implied_devices->data : NULL;
}

/* ---- opening a -drive's nodes (QEMU's bdrv_open with a filename and flat options) ---- */

/* The node options a format takes through -drive (the rest: "does not support the option"). */
static const char *const base_node_opts[] = {"node-name",      "discard",       "cache.direct",
                                             "cache.no-flush", "read-only",     "auto-read-only",
                                             "force-share",    "detect-zeroes", NULL};
static const char *const qcow2_node_opts[] = {"lazy-refcounts",
                                              "pass-discard-request",
                                              "pass-discard-snapshot",
                                              "pass-discard-other",
                                              "overlap-check",
                                              "cache-size",
                                              "l2-cache-size",
                                              "l2-cache-entry-size",
                                              "refcount-cache-size",
                                              "cache-clean-interval",
                                              NULL};
static const char *const file_node_opts[] = {"filename",   "locking",   "aio", "aio-max-batch",
                                             "drop-cache", "node-name", NULL};

static bool in_list(const char *const *l, const char *s)
{
    for (; l && *l; l++) {
        if (!strcmp(*l, s)) {
            return true;
        }
    }
    return false;
}

static bool opt_bool(const QOpts *o, const char *key, bool def, bool *out, char **errp)
{
    return qopts_get_bool(o, key, def, out, errp);
}

/*
 * The node graph of a -drive: filename (may be NULL when file.filename gives it) and the
 * node options left over from the drive's own (flat dotted keys).
 */
static BlockDriverState *open_drive_nodes(const char *filename, QOpts *o, bool read_only,
                                          bool native_aio, char **errp)
{
    bool direct = false, no_flush = false, ro = read_only, force = false;
    char *err = NULL;
    if (!opt_bool(o, "cache.direct", false, &direct, &err) ||
        !opt_bool(o, "cache.no-flush", false, &no_flush, &err) ||
        !opt_bool(o, "read-only", read_only, &ro, &err) ||
        !opt_bool(o, "force-share", false, &force, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return NULL;
    }
    int flags = ro ? 0 : BDRV_O_RDWR;
    flags |= direct ? BDRV_O_NOCACHE : 0;
    flags |= no_flush ? BDRV_O_NO_FLUSH : 0;
    flags |= force ? BDRV_O_FORCE_SHARE : 0;
    const char *discard = qopts_get(o, "discard");
    if (discard && bdrv_parse_discard_flags(discard, &flags) < 0) {
        block_error(errp, "Invalid discard option");
        return NULL;
    }
    if (force && !ro) {
        block_error(errp, "force-share=on can only be used with read-only images");
        return NULL;
    }
    const char *fmt = qopts_get(o, "driver");
    const BlockDriver *drv = NULL;
    if (fmt && !(drv = bdrv_find_format_err(fmt, errp))) {
        return NULL;
    }
    const char *fname = qopts_get(o, "file.filename");
    if (!fname) {
        fname = filename;
    }
    if (!fname) {
        if (!drv) {
            block_error(errp, "Must specify either driver or file");
        } else if (drv->is_protocol) {
            block_error(errp, "The '%s' block driver requires a file name", drv->format_name);
        } else {
            block_error(errp, "A block device must be specified for \"file\"");
        }
        return NULL;
    }
    /* the protocol node: file.* options, the drive's cache and aio settings */
    int file_flags = flags | ((drv && drv->is_protocol) ? 0 : BDRV_O_UNMAP);
    file_flags |= native_aio ? BDRV_O_NATIVE_AIO : 0;
    bool fdirect = direct, fno_flush = no_flush;
    if (!opt_bool(o, "file.cache.direct", direct, &fdirect, &err) ||
        !opt_bool(o, "file.cache.no-flush", no_flush, &fno_flush, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return NULL;
    }
    file_flags = (file_flags & ~(BDRV_O_NOCACHE | BDRV_O_NO_FLUSH)) |
                 (fdirect ? BDRV_O_NOCACHE : 0) | (fno_flush ? BDRV_O_NO_FLUSH : 0);
    const char *faio = qopts_get(o, "file.aio");
    if (faio) {
        file_flags =
            (file_flags & ~BDRV_O_NATIVE_AIO) | (!strcmp(faio, "native") ? BDRV_O_NATIVE_AIO : 0);
    }
    QOpts *fo = qopts_new("file");
    if (qopts_get(o, "file.locking")) {
        qopts_set(fo, "locking", qopts_get(o, "file.locking"));
    }
    if (drv == &bdrv_file && qopts_get(o, "node-name")) {
        qopts_set(fo, "node-name", qopts_get(o, "node-name"));
    } else if (qopts_get(o, "file.node-name")) {
        qopts_set(fo, "node-name", qopts_get(o, "file.node-name"));
    }
    /* an NBD image (file=nbd://..., nbd+unix://..., nbd:...): its driver takes the name apart */
    const BlockDriver *pdrv = &bdrv_file;
    if (bdrv_path_has_protocol(fname)) {
        const BlockDriver *p = bdrv_find_protocol(fname, true, NULL);
        if (p && p->parse_filename && !strcmp(p->format_name, "nbd")) {
            QJ *po = qj_object();
            if (p->parse_filename(fname, po, errp) < 0) {
                qj_free(po);
                qopts_free(fo);
                return NULL;
            }
            for (size_t i = 0; i < po->obj.n; i++) {
                const QJ *v = po->obj.m[i].value;
                qopts_set(fo, po->obj.m[i].key, v->type == QJ_STRING ? v->s : "");
            }
            qj_free(po);
            pdrv = p;
        }
    }
    BlockDriverState *file = bdrv_open_protocol(pdrv, fname, fo, file_flags, errp);
    qopts_free(fo);
    if (!file) {
        return NULL;
    }
    if (drv == &bdrv_file) {
        return file;
    }
    if (!drv) {
        drv = bdrv_probe(file);
    }
    /* every leftover option must be the format's */
    for (size_t i = 0; i < o->n_pairs; i++) {
        const char *k = o->pairs[i].key;
        bool ok =
            !strcmp(k, "driver") || in_list(base_node_opts, k) ||
            (drv == &bdrv_qcow2 && in_list(qcow2_node_opts, k)) ||
            (!strncmp(k, "file.", 5) && (in_list(file_node_opts, k + 5) ||
                                         !strcmp(k + 5, "driver") || !strncmp(k + 5, "cache.", 6)));
        if (!ok) {
            block_error(errp, "Block format '%s' does not support the option '%s'",
                        drv->format_name, k);
            bdrv_close(file);
            return NULL;
        }
    }
    BlockDriverState *bs = bdrv_open_format(drv, file, o, flags | BDRV_O_NO_BACKING, errp);
    bdrv_close(file);
    if (bs && drv == &bdrv_qcow2 && bdrv_open_backing_file(bs, errp) < 0) {
        bdrv_close(bs);
        bs = NULL;
    }
    if (bs && !fmt && drv == &bdrv_raw) {
        bs->probed = true;
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                "         Automatically detecting the format is dangerous for raw images, "
                "write operations on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the restrictions.\n",
                fname);
    }
    return bs;
}

/* ---- -drive ---- */

static int parse_on_error(const char *s, bool is_read, BlockdevOnError *out)
{
    for (int i = 0; blockdev_on_error_names[i]; i++) {
        if (!strcmp(s, blockdev_on_error_names[i]) && i != BLOCKDEV_ON_ERROR_AUTO &&
            !(is_read && i == BLOCKDEV_ON_ERROR_ENOSPC)) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

/* Take key out of o (its last value), or NULL. g_free the result. */
static char *take(QOpts *o, const char *key)
{
    const char *v = qopts_get(o, key);
    char *r = g_strdup(v);
    qopts_del(o, key);
    return r;
}

static int number_opt(QOpts *o, const char *key, int64_t def, int64_t *out, char **errp)
{
    char *v = take(o, key);
    *out = def;
    if (v) {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 0);
        if (!*v || *end || errno) {
            block_error(errp, "Parameter '%s' expects a number", key);
            g_free(v);
            return -1;
        }
        *out = n;
    }
    g_free(v);
    return 0;
}

static int drive_new(const DriveConfig *dc, bool snapshot_all, char **errp)
{
    char *err = NULL;
    QOpts *o = qopts_parse("drive", dc->spec, dc->loc, NULL, QOPTS_LEGACY, &err);
    if (!o) {
        block_error(errp, "%s", err);
        g_free(err);
        return -1;
    }
    if (dc->file) {
        qopts_set(o, "file", dc->file);
    }
    int ret = -1;
    char *media = NULL, *ifname = NULL, *file = NULL, *werror = NULL, *rerror = NULL;
    char *id = NULL, *cache = NULL, *format = NULL, *aio = NULL, *dz = NULL;
    DriveInfo *dinfo = NULL;

    /* legacy names into QMP ones */
    if (qopts_has(o, "readonly") && qopts_has(o, "read-only")) {
        block_error(errp, "'readonly' and its alias 'read-only' can't be used at the same time");
        goto out;
    }
    if (qopts_has(o, "readonly")) {
        qopts_set(o, "read-only", qopts_get(o, "readonly"));
        qopts_del(o, "readonly");
    }
    static const char *const throttling[] = {"iops",        "iops_rd", "iops_wr",    "bps",
                                             "bps_rd",      "bps_wr",  "iops_max",   "iops_rd_max",
                                             "iops_wr_max", "bps_max", "bps_rd_max", "bps_wr_max",
                                             "iops_size",   "group",   NULL};
    for (size_t i = 0; i < o->n_pairs; i++) {
        if (in_list(throttling, o->pairs[i].key) || !strncmp(o->pairs[i].key, "throttling.", 11)) {
            block_error(errp, "I/O throttling ('%s') is not supported by Vireo", o->pairs[i].key);
            goto out;
        }
    }
    cache = take(o, "cache");
    if (cache) {
        int flags = 0;
        bool writethrough;
        if (bdrv_parse_cache_mode(cache, &flags, &writethrough) < 0) {
            block_error(errp, "invalid cache option");
            goto out;
        }
        if (!qopts_has(o, "cache.writeback")) {
            qopts_set(o, "cache.writeback", writethrough ? "off" : "on");
        }
        if (!qopts_has(o, "cache.direct")) {
            qopts_set(o, "cache.direct", (flags & BDRV_O_NOCACHE) ? "on" : "off");
        }
        if (!qopts_has(o, "cache.no-flush")) {
            qopts_set(o, "cache.no-flush", (flags & BDRV_O_NO_FLUSH) ? "on" : "off");
        }
    }
    /* the drive's own options */
    int64_t bus, unit, index;
    if (number_opt(o, "bus", 0, &bus, errp) < 0 || number_opt(o, "unit", -1, &unit, errp) < 0 ||
        number_opt(o, "index", -1, &index, errp) < 0) {
        goto out;
    }
    media = take(o, "media");
    ifname = take(o, "if");
    file = take(o, "file");
    werror = take(o, "werror");
    rerror = take(o, "rerror");
    bool media_cd = false;
    if (media) {
        if (!strcmp(media, "cdrom")) {
            media_cd = true;
        } else if (strcmp(media, "disk")) {
            block_error(errp, "'%s' invalid media", media);
            goto out;
        }
    }
    if (media_cd && !qopts_has(o, "read-only")) {
        qopts_set(o, "read-only", "on");
    }
    /* the machine's default: IDE on pc, none on -machine none */
    BlockInterfaceType type = machine_none ? IF_NONE : IF_IDE;
    if (ifname) {
        int t;
        for (t = 0; t < IF_COUNT && strcmp(drive_interfaces[t].name, ifname); t++) {
        }
        if (t == IF_COUNT) {
            block_error(errp, "unsupported bus type '%s'", ifname);
            goto out;
        }
        type = t;
    }
    int max_devs = drive_interfaces[type].max_devs;
    if (index != -1) {
        if (bus != 0 || unit != -1) {
            block_error(errp, "index cannot be used with bus and unit");
            goto out;
        }
        bus = max_devs ? index / max_devs : 0;
        unit = max_devs ? index % max_devs : index;
    }
    if (unit == -1) {
        unit = 0;
        while (drive_get(type, (int)bus, (int)unit)) {
            unit++;
            if (max_devs && unit >= max_devs) {
                unit -= max_devs;
                bus++;
            }
        }
    }
    if (max_devs && unit >= max_devs) {
        block_error(errp, "unit %d too big (max is %d)", (int)unit, max_devs - 1);
        goto out;
    }
    if (drive_get(type, (int)bus, (int)unit)) {
        block_error(errp, "drive with bus=%d, unit=%d (index=%d) exists", (int)bus, (int)unit,
                    (int)(max_devs ? bus * max_devs + unit : unit));
        goto out;
    }
    id = take(o, "id");
    if (!id) {
        const char *ms = "";
        if (type == IF_IDE || type == IF_SCSI) {
            ms = media_cd ? "-cd" : "-hd";
        }
        id = max_devs
                 ? g_strdup_printf("%s%d%s%d", drive_interfaces[type].name, (int)bus, ms, (int)unit)
                 : g_strdup_printf("%s%s%d", drive_interfaces[type].name, ms, (int)unit);
    }
    if (werror && type != IF_IDE && type != IF_SCSI && type != IF_VIRTIO && type != IF_NONE) {
        block_error(errp, "werror is not supported by this bus type");
        goto out;
    }
    if (rerror && type != IF_IDE && type != IF_SCSI && type != IF_VIRTIO && type != IF_NONE) {
        block_error(errp, "rerror is not supported by this bus type");
        goto out;
    }
    /* the backend's options (QEMU's blockdev_init) */
    for (guint i = 0; drives && i < drives->len; i++) {
        if (!strcmp(((DriveInfo *)drives->pdata[i])->id, id)) {
            block_error(errp, "Duplicate ID '%s' for drive", id);
            goto out;
        }
    }
    bool snapshot = snapshot_all, read_only = false, writeback = true, cor = false;
    if (!opt_bool(o, "snapshot", snapshot_all, &snapshot, &err) ||
        !opt_bool(o, "copy-on-read", false, &cor, &err) ||
        !opt_bool(o, "cache.writeback", true, &writeback, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        goto out;
    }
    qopts_del(o, "snapshot");
    qopts_del(o, "copy-on-read");
    qopts_del(o, "cache.writeback");
    if (cor) {
        block_error(errp, "copy-on-read is not supported by Vireo");
        goto out;
    }
    aio = take(o, "aio");
    bool native = false;
    if (aio) {
        if (!strcmp(aio, "native")) {
            native = true;
        } else if (strcmp(aio, "threads")) {
            block_error(errp, "invalid aio option");
            goto out;
        }
    }
    dz = take(o, "detect-zeroes");
    int detect_zeroes = 0;
    if (dz) {
        static const char *const dzv[] = {"off", "on", "unmap"};
        for (detect_zeroes = 0; detect_zeroes < 3 && strcmp(dzv[detect_zeroes], dz);
             detect_zeroes++) {
        }
        if (detect_zeroes == 3) {
            block_error(errp, "invalid parameter value: %s", dz);
            goto out;
        }
    }
    format = take(o, "format");
    if (format) {
        if (qopts_has(o, "driver")) {
            block_error(errp, "Cannot specify both 'driver' and 'format'");
            goto out;
        }
        qopts_set(o, "driver", format);
    }
    BlockdevOnError on_write = BLOCKDEV_ON_ERROR_ENOSPC, on_read = BLOCKDEV_ON_ERROR_AUTO;
    if (werror && parse_on_error(werror, false, &on_write) < 0) {
        block_error(errp, "'%s' invalid write error action", werror);
        goto out;
    }
    if (rerror && parse_on_error(rerror, true, &on_read) < 0) {
        block_error(errp, "'%s' invalid read error action", rerror);
        goto out;
    }
    if (!opt_bool(o, "read-only", false, &read_only, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        goto out;
    }
    qopts_del(o, "read-only");
    qopts_del(o, "stats-account-invalid");
    qopts_del(o, "stats-account-failed");

    BlockDriverState *root = NULL;
    if ((file && *file) || o->n_pairs) {
        const char *nn = qopts_get(o, "node-name");
        if (nn && !bdrv_node_name_valid(nn, errp)) {
            goto out;
        }
        if (nn && bdrv_find_node(nn)) {
            block_error(errp, "Duplicate nodes with node-name='%s'", nn);
            goto out;
        }
        /* with snapshot=on the image is only the overlay's backing file: read-only */
        root =
            open_drive_nodes(file && *file ? file : NULL, o, read_only || snapshot, native, errp);
        if (!root) {
            goto out;
        }
        root->detect_zeroes = detect_zeroes;
        if (snapshot) {
            /* the image itself is only read: it holds the backing file of the overlay */
            BlockDriverState *top = bdrv_append_temp_snapshot(root, errp);
            bdrv_close(root);
            if (!top) {
                goto out;
            }
            root = top;
        }
    }
    BlockBackend *blk = blk_new(id, root, errp);
    bdrv_close(root); /* the backend holds it */
    if (!blk) {
        goto out;
    }
    if (!root) {
        /* an empty drive: a medium inserted later opens as the drive says */
        blk_set_root_flags(blk, read_only ? 0 : BDRV_O_RDWR);
    }
    blk_set_enable_write_cache(blk, writeback);
    blk_set_on_error(blk, on_read, on_write);
    dinfo = g_new0(DriveInfo, 1);
    dinfo->type = type;
    dinfo->bus = (int)bus;
    dinfo->unit = (int)unit;
    dinfo->media_cd = media_cd;
    dinfo->id = g_strdup(id);
    dinfo->loc = g_strdup(dc->loc);
    dinfo->blk = blk;
    blk_set_legacy_info(blk, dinfo);
    g_ptr_array_add(drives, dinfo);
    ret = 0;
out:
    g_free(media);
    g_free(ifname);
    g_free(file);
    g_free(werror);
    g_free(rerror);
    g_free(id);
    g_free(cache);
    g_free(format);
    g_free(aio);
    g_free(dz);
    qopts_free(o);
    return ret;
}

/* What the pc machine does with the drives: devices for them, or QEMU's refusals. */
static int drives_claim(char **errp, const char **loc)
{
    for (guint i = 0; i < drives->len; i++) {
        DriveInfo *d = drives->pdata[i];
        const DriveInterface *di = &drive_interfaces[d->type];
        if (d->type == IF_NONE) {
            continue;
        }
        *loc = d->loc;
        if (machine_none && d->type == IF_VIRTIO) {
            block_error(errp, "No 'PCI' bus found for device 'virtio-blk-pci'");
            return -1;
        }
        bool in_range = !machine_none && d->bus < di->max_bus &&
                        (d->type != IF_FLOPPY || d->unit < 2) &&
                        (d->type != IF_PFLASH || d->unit < 1);
        if (!in_range) {
            block_error(errp, "machine type does not support if=%s,bus=%d,unit=%d", di->name,
                        d->bus, d->unit);
            return -1;
        }
        if (!di->device) {
            block_error(errp, "%s (if=%s)", di->missing, di->name);
            return -1;
        }
        /* IDE: QEMU's pc makes ide-cd for media=cdrom (the bus and unit come from the drive) */
        DriveDevice dd = {d->type == IF_IDE && d->media_cd ? "ide-cd" : di->device, d};
        g_array_append_val(implied_devices, dd);
    }
    *loc = NULL;
    return 0;
}

BlockDriverState *blockdev_add(const QJ *options, bool keyval, char **errp)
{
    BlockDriverState *bs = bdrv_open_blockdev(options, keyval, true, errp);
    if (bs) {
        /* the monitor holds this reference: blockdev-del drops it */
        bs->monitor_owned = true;
    }
    return bs;
}

/* werror/rerror: QEMU's BLOCK_IO_ERROR event, and the VM stops in io-error */
static void io_error_event(BlockBackend *blk, bool is_read, BlockErrorAction action, int error)
{
    static const char *const actions[] = {"ignore", "report", "stop"};
    QJ *d = qj_object();
    qj_set_str(d, "device", blk_name(blk));
    if (blk_bs(blk)) {
        qj_set_str(d, "node-name", blk_bs(blk)->node_name);
    }
    qj_set_str(d, "operation", is_read ? "read" : "write");
    qj_set_str(d, "action", actions[action]);
    if (blk_iostatus_is_enabled(blk)) {
        qj_set_bool(d, "nospace", error == ENOSPC);
    }
    qj_set_str(d, "reason", g_strerror(error));
    monitor_event("BLOCK_IO_ERROR", d);
}

/* DEVICE_TRAY_MOVED: the medium commands moved a tray */
static void tray_moved_event(BlockBackend *blk, const char *id, bool open)
{
    QJ *d = qj_object();
    qj_set_str(d, "device", blk_name(blk));
    qj_set_str(d, "id", id ? id : "");
    qj_set_bool(d, "tray-open", open);
    monitor_event("DEVICE_TRAY_MOVED", d);
}

static void io_error_stop(void)
{
    vm_stop(RUN_STATE_IO_ERROR);
}

int blockdev_init_all(const VireoConfig *cfg)
{
    if (!drives) {
        drives = g_ptr_array_new();
        implied_devices = g_array_new(FALSE, TRUE, sizeof(DriveDevice));
    }
    machine_none = cfg->machine_type && !strcmp(cfg->machine_type, "none");
    blk_io_error_event_hook = io_error_event;
    blk_tray_moved_hook = tray_moved_event;
    blk_stop_vm_hook = io_error_stop;
    char *err = NULL;
    for (int i = 0; i < cfg->n_blockdevs; i++) {
        bool keyval;
        QJ *v = blockdev_parse(cfg->blockdevs[i], &keyval, &err);
        if (v && !blockdev_add(v, keyval, &err)) {
            qj_free(v);
            v = NULL;
        }
        qj_free(v);
        if (err) {
            error_report_at(cfg->blockdev_locs[i], err);
            g_free(err);
            return -1;
        }
    }
    for (int i = 0; i < cfg->n_drives; i++) {
        if (drive_new(&cfg->drives[i], cfg->snapshot, &err) < 0) {
            error_report_at(cfg->drives[i].loc, err);
            g_free(err);
            return -1;
        }
    }
    const char *loc = NULL;
    if (drives_claim(&err, &loc) < 0) {
        error_report_at(loc, err);
        g_free(err);
        return -1;
    }
    return 0;
}

void blockdev_close_all(void)
{
    blk_close_all();
    /* -blockdev nodes nobody uses: close the tops, their children go with them */
    for (BlockDriverState *bs = bdrv_next_node(NULL); bs;) {
        bool has_parent = false;
        for (BlockDriverState *p = bdrv_next_node(NULL); p && !has_parent; p = bdrv_next_node(p)) {
            has_parent = p->file == bs || p->backing == bs || p->data_file == bs;
        }
        if (has_parent) {
            bs = bdrv_next_node(bs);
            continue;
        }
        bdrv_close(bs);
        bs = bdrv_next_node(NULL);
    }
    if (drives) {
        for (guint i = 0; i < drives->len; i++) {
            DriveInfo *d = drives->pdata[i];
            g_free(d->id);
            g_free(d->loc);
            g_free(d);
        }
        g_ptr_array_free(drives, TRUE);
        drives = NULL;
        g_array_free(implied_devices, TRUE);
        implied_devices = NULL;
    }
}

int blockdev_del(const char *node_name, char **errp)
{
    BlockDriverState *bs = bdrv_find_node(node_name);
    if (!bs) {
        block_error(errp, "Failed to find node with node-name='%s'", node_name);
        return -ENOENT;
    }
    if (bs->users) {
        block_error(errp, "Node %s is in use", node_name);
        return -EBUSY;
    }
    if (!bs->monitor_owned) {
        block_error(errp, "Node %s is not owned by the monitor", node_name);
        return -EPERM;
    }
    for (BlockDriverState *p = bdrv_next_node(NULL); p; p = bdrv_next_node(p)) {
        if (p->file == bs || p->backing == bs || p->data_file == bs) {
            block_error(errp, "Block device %s is in use", node_name);
            return -EBUSY;
        }
    }
    bs->monitor_owned = false;
    bdrv_close(bs);
    return 0;
}
