/*
 * What QEMU shows about an image (its ImageInfo): qemu-img info's JSON and text, and the
 * "image" member of query-block / query-named-block-nodes (with the backing image inside).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/qjson.h"

static int64_t info_length(BlockDriverState *bs)
{
    int64_t len = bdrv_getlength(bs);
    if (len > 0 && bs->drv->is_protocol) {
        len = (len + 511) & ~511LL; /* QEMU counts whole sectors here too */
    }
    return len;
}

QJ *bdrv_image_info(BlockDriverState *bs, const char *filename, bool with_backing)
{
    QJ *d = qj_object();
    BlockDriverInfo bdi;
    qj_set(d, "filename", qj_string(filename));
    qj_set(d, "format", qj_string(bs->drv->format_name));
    bool have_bdi = bdrv_get_info(bs, &bdi) == 0;
    if (have_bdi) {
        qj_set(d, "dirty-flag", qj_bool(have_bdi && bdi.is_dirty));
    }
    int64_t actual = bdrv_allocated_size(bs);
    if (actual >= 0) {
        qj_set(d, "actual-size", qj_int(actual));
    }
    qj_set(d, "virtual-size", qj_int(info_length(bs)));
    if (have_bdi && bdi.cluster_size) {
        qj_set(d, "cluster-size", qj_int(bdi.cluster_size));
    }
    if (bs->backing_file && bs->backing_file[0]) {
        qj_set(d, "backing-filename", qj_string(bs->backing_file));
        qj_set(d, "full-backing-filename", qj_string(bs->full_backing_filename));
        if (bs->backing_format) {
            qj_set(d, "backing-filename-format", qj_string(bs->backing_format));
        }
    }
    BlockSnapshotInfo *sn;
    int n = bdrv_snapshot_list(bs, &sn);
    if (n > 0) {
        QJ *l = qj_array();
        for (int i = 0; i < n; i++) {
            QJ *s = qj_object();
            qj_set(s, "id", qj_string(sn[i].id));
            qj_set(s, "name", qj_string(sn[i].name));
            qj_set(s, "vm-state-size", qj_int((int64_t)sn[i].vm_state_size));
            qj_set(s, "date-sec", qj_int(sn[i].date_sec));
            qj_set(s, "date-nsec", qj_int(sn[i].date_nsec));
            qj_set(s, "vm-clock-sec", qj_int((int64_t)(sn[i].vm_clock_nsec / 1000000000)));
            qj_set(s, "vm-clock-nsec", qj_int((int64_t)(sn[i].vm_clock_nsec % 1000000000)));
            if (sn[i].icount != -1) {
                qj_set(s, "icount", qj_int(sn[i].icount));
            }
            qj_append(l, s);
        }
        qj_set(d, "snapshots", l);
    }
    if (n >= 0) {
        bdrv_snapshot_list_free(sn, n);
    }
    if (with_backing && bs->backing) {
        qj_set(d, "backing-image", bdrv_image_info(bs->backing, bs->backing->filename, true));
    }
    QJ *spec = bdrv_get_specific_info(bs);
    if (spec) {
        QJ *fs = qj_object();
        qj_set(fs, "type", qj_string(bs->drv->format_name));
        qj_set(fs, "data", spec);
        qj_set(d, "format-specific", fs);
    }
    return d;
}

void bdrv_snapshot_dump_header(GString *out)
{
    g_string_append_printf(out, "%-10s%-17s%8s%20s%13s%11s", "ID", "TAG", "VM SIZE", "DATE",
                           "VM CLOCK", "ICOUNT");
}

void bdrv_snapshot_dump(GString *out, const BlockSnapshotInfo *sn)
{
    char date[128], clock_buf[128], icount[128] = "";
    time_t ti = sn->date_sec;
    struct tm tm;
    localtime_r(&ti, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    uint64_t secs = sn->vm_clock_nsec / 1000000000;
    snprintf(clock_buf, sizeof(clock_buf), "%02d:%02d:%02d.%03d", (int)(secs / 3600),
             (int)((secs / 60) % 60), (int)(secs % 60),
             (int)((sn->vm_clock_nsec / 1000000) % 1000));
    char *sz = size_to_str(sn->vm_state_size);
    if (sn->icount != -1) {
        snprintf(icount, sizeof(icount), "%" PRId64, sn->icount);
    }
    g_string_append_printf(out, "%-9s %-16s %8s%20s%13s%11s", sn->id, sn->name, sz, date, clock_buf,
                           icount);
    g_free(sz);
}

void bdrv_image_info_dump(BlockDriverState *bs, const char *filename, GString *out)
{
    int64_t len = info_length(bs);
    char *vs = size_to_str((uint64_t)len);
    g_string_append_printf(out,
                           "image: %s\nfile format: %s\nvirtual size: %s (%" PRId64 " bytes)\n",
                           filename, bs->drv->format_name, vs, len);
    g_free(vs);
    int64_t actual = bdrv_allocated_size(bs);
    char *ds = actual >= 0 ? size_to_str((uint64_t)actual) : g_strdup("unavailable");
    g_string_append_printf(out, "disk size: %s\n", ds);
    g_free(ds);
    BlockDriverInfo bdi;
    if (bdrv_get_info(bs, &bdi) == 0) {
        if (bdi.cluster_size) {
            g_string_append_printf(out, "cluster_size: %d\n", bdi.cluster_size);
        }
        if (bdi.is_dirty) {
            g_string_append(out, "cleanly shut down: no\n");
        }
    }
    if (bs->backing_file && bs->backing_file[0]) {
        g_string_append_printf(out, "backing file: %s", bs->backing_file);
        if (strcmp(bs->backing_file, bs->full_backing_filename) != 0) {
            g_string_append_printf(out, " (actual path: %s)", bs->full_backing_filename);
        }
        g_string_append_c(out, '\n');
        if (bs->backing_format) {
            g_string_append_printf(out, "backing file format: %s\n", bs->backing_format);
        }
    }
    BlockSnapshotInfo *sn;
    int n = bdrv_snapshot_list(bs, &sn);
    if (n > 0) {
        g_string_append(out, "Snapshot list:\n");
        bdrv_snapshot_dump_header(out);
        g_string_append_c(out, '\n');
        for (int i = 0; i < n; i++) {
            bdrv_snapshot_dump(out, &sn[i]);
            g_string_append_c(out, '\n');
        }
    }
    if (n >= 0) {
        bdrv_snapshot_list_free(sn, n);
    }
    QJ *spec = bdrv_get_specific_info(bs);
    if (spec) {
        g_string_append(out, "Format specific information:\n");
        char *h = qj_to_human(spec, 1);
        g_string_append(out, h);
        g_free(h);
        qj_free(spec);
    }
}

/* QEMU's json: name for a node whose backing node is not the one its header names. */
static QJ *node_json(BlockDriverState *bs)
{
    QJ *o = qj_object();
    if (bs->backing && !bs->backing_file[0]) {
        qj_set(o, "backing", node_json(bs->backing));
    }
    qj_set_str(o, "driver", bs->drv->format_name);
    if (bs->file) {
        qj_set(o, "file", node_json(bs->file));
    } else {
        qj_set_str(o, "filename", bs->filename);
    }
    return o;
}

void bdrv_refresh_json_filename(BlockDriverState *bs)
{
    QJ *j = node_json(bs);
    char *js = qj_to_json(j, QJ_QEMU_ORDER);
    g_free(bs->filename);
    bs->filename = g_strdup_printf("json:%s", js);
    g_free(js);
    qj_free(j);
}
