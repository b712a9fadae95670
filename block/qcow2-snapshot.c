/*
 * qcow2 internal snapshots: create, apply (goto), delete and temporary load (read-only), from
 * docs/interop/qcow2.txt. Step order and allocation choices follow QEMU 7.2 so the resulting
 * images have the same layout: the L1 copy is allocated first, then refcounts are raised, then a
 * new snapshot table is allocated and written, the header's (nb_snapshots, snapshots_offset)
 * pair is switched over and the old table is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/error.h"
#include "qcow2.h"

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

/* Refcount change that may have to allocate refcount blocks first (-EAGAIN from below). */
static int change_ref(BDRVQcow2State *s, uint64_t offset, uint64_t length, int addend)
{
    for (int tries = 0; tries < 1000; tries++) {
        int ret = qcow2_update_refcount(s, offset, length, addend);
        if (ret != -EAGAIN) {
            return ret == -ERANGE ? -EINVAL : ret; /* QEMU: refcount overflow is EINVAL */
        }
    }
    return -EIO;
}

typedef struct FreedList {
    uint64_t *c;
    size_t n, cap;
} FreedList;

static void note_freed(BDRVQcow2State *s, FreedList *fl, uint64_t offset, uint64_t length)
{
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + length - 1) >> s->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
        uint64_t rc;
        if (qcow2_get_refcount(s, c, &rc) == 0 && rc == 0) {
            if (fl->n == fl->cap) {
                fl->cap = fl->cap ? fl->cap * 2 : 64;
                fl->c = g_renew(uint64_t, fl->c, fl->cap);
            }
            fl->c[fl->n++] = c;
        }
    }
}

/* Punch the clusters whose refcount dropped to zero (once nothing on disk points at them). */
static int discard_freed(BDRVQcow2State *s, FreedList *fl)
{
    int ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    for (size_t i = 0; ret == 0 && i < fl->n; i++) {
        uint64_t rc;
        if (qcow2_get_refcount(s, fl->c[i], &rc) == 0 && rc == 0) {
            bdrv_discard(s->file, fl->c[i] << s->cluster_bits, s->cluster_size);
        }
    }
    g_free(fl->c);
    fl->c = NULL;
    fl->n = fl->cap = 0;
    return ret;
}

/*
 * Add `addend` (-1, 0, +1) to the refcount of every cluster reachable from the L1 table at
 * l1_offset and recompute the COPIED flags of the entries on the way (refcount == 1). A
 * non-active L1 table is rewritten when its flags change (not for addend < 0).
 */
static int update_snapshot_refcount(BDRVQcow2State *s, uint64_t l1_offset, uint32_t l1_size,
                                    int addend, FreedList *fl)
{
    bool active = l1_offset == s->l1_offset;
    uint64_t *l1;
    int ret = 0;
    if (active) {
        l1 = s->l1;
        l1_size = MIN(l1_size, s->l1_size);
    } else {
        l1 = g_try_new0(uint64_t, l1_size ? l1_size : 1);
        if (!l1) {
            return -ENOMEM;
        }
        ret = bdrv_pread(s->file, l1_offset, (uint64_t)l1_size * 8, l1);
        if (ret < 0) {
            g_free(l1);
            return ret;
        }
        for (uint32_t i = 0; i < l1_size; i++) {
            l1[i] = GUINT64_FROM_BE(l1[i]);
        }
    }
    bool l1_modified = false;
    for (uint32_t i = 0; i < l1_size && ret == 0; i++) {
        uint64_t old_l1e = l1[i];
        uint64_t l2_offset = old_l1e & L1E_OFFSET_MASK;
        if (!l2_offset) {
            continue;
        }
        if (l2_offset & (s->cluster_size - 1)) {
            qcow2_signal_corruption(s, "L2 table offset %#" PRIx64 " unaligned (L1 index: %#x)",
                                    l2_offset, i);
            ret = -EIO;
            break;
        }
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            uint64_t *l2;
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            if (ret < 0) {
                break;
            }
            uint64_t old_e = l2_entry_get(s, l2, j);
            uint64_t e = old_e & ~QCOW_OFLAG_COPIED;
            uint64_t refcount = 0;
            switch (qcow2_entry_type(s, e)) {
            case QCOW2_CLUSTER_COMPRESSED: {
                if (addend) {
                    uint64_t off, len;
                    qcow2_compressed_geometry(s->cluster_bits, e, &off, &len);
                    uint64_t nsect = (len + (off & 511)) / 512;
                    ret = change_ref(s, off & ~511ULL, nsect * 512, addend);
                    if (ret == 0 && addend < 0) {
                        note_freed(s, fl, off & ~511ULL, nsect * 512);
                    }
                }
                refcount = 2; /* compressed clusters never have COPIED */
                break;
            }
            case QCOW2_CLUSTER_NORMAL:
            case QCOW2_CLUSTER_ZERO_ALLOC: {
                uint64_t off = e & L2E_OFFSET_MASK;
                if (off & (s->cluster_size - 1)) {
                    qcow2_signal_corruption(s,
                                            "Cluster allocation offset %#" PRIx64
                                            " unaligned (L2 offset: %#" PRIx64
                                            ", L2 index: %#" PRIx64 ")",
                                            off, l2_offset, j);
                    ret = -EIO;
                    break;
                }
                if (addend) {
                    ret = change_ref(s, off, s->cluster_size, addend);
                    if (ret == 0 && addend < 0) {
                        note_freed(s, fl, off, s->cluster_size);
                    }
                }
                if (ret == 0) {
                    ret = qcow2_get_refcount(s, off >> s->cluster_bits, &refcount);
                }
                break;
            }
            default:
                break;
            }
            if (ret < 0) {
                break;
            }
            if (refcount == 1) {
                e |= QCOW_OFLAG_COPIED;
            }
            if (e != old_e) {
                ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
                if (ret < 0) {
                    break;
                }
                l2_entry_set(s, l2, j, e);
                qcow2_cache_mark_dirty(s->l2_cache, l2);
            }
        }
        if (ret < 0) {
            break;
        }
        if (addend) {
            ret = change_ref(s, l2_offset, s->cluster_size, addend);
            if (ret < 0) {
                break;
            }
        }
        uint64_t rc = 0;
        ret = qcow2_get_refcount(s, l2_offset >> s->cluster_bits, &rc);
        if (ret < 0) {
            break;
        }
        if (rc == 0) {
            /* the table itself is gone: never write it back */
            qcow2_cache_discard(s->l2_cache, l2_offset);
            note_freed(s, fl, l2_offset, s->cluster_size);
        }
        uint64_t nl1e = rc == 1 ? l2_offset | QCOW_OFLAG_COPIED : l2_offset;
        if (nl1e != old_l1e) {
            l1[i] = nl1e;
            l1_modified = true;
        }
    }
    if (ret == 0) {
        ret = qcow2_flush_metadata(s);
    }
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret == 0 && addend >= 0 && l1_modified) {
        uint64_t *be = g_new(uint64_t, l1_size ? l1_size : 1);
        for (uint32_t i = 0; i < l1_size; i++) {
            be[i] = GUINT64_TO_BE(l1[i]);
        }
        ret = bdrv_pwrite(s->file, l1_offset, (uint64_t)l1_size * 8, be, 0);
        g_free(be);
        if (ret == 0) {
            ret = qcow2_file_sync(s);
        }
    }
    if (!active) {
        g_free(l1);
    }
    return ret;
}

static uint32_t entry_extra_size(const Qcow2Snapshot *sn)
{
    return MAX(24u, sn->extra_size);
}

/* Write the in-memory snapshot list to a new table, switch the header over, free the old one. */
static int write_snapshots(BDRVQcow2State *s, FreedList *fl)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        size = (size + 7) & ~7ULL;
        size += 40 + entry_extra_size(sn) + strlen(sn->id) + strlen(sn->name);
        if (size > QCOW_MAX_SNAPSHOTS_SIZE) {
            return -EFBIG;
        }
    }
    uint64_t nclusters = (size + s->cluster_size - 1) >> s->cluster_bits;
    int64_t new_off = 0;
    if (nclusters) {
        new_off = qcow2_alloc_clusters(s, nclusters);
        if (new_off < 0) {
            return (int)new_off;
        }
    } /* an empty table is recorded at offset 0, as QEMU does */
    int ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    uint8_t *buf = g_malloc0(size ? size : 1);
    uint64_t p = 0;
    /* entries are written one by one: the 8-byte padding between them is left untouched */
    GArray *runs = g_array_new(false, false, sizeof(uint64_t) * 2);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        p = (p + 7) & ~7ULL;
        uint64_t start = p;
        uint8_t *h = buf + p;
        size_t id_len = strlen(sn->id), name_len = strlen(sn->name);
        wr64(h, sn->l1_offset);
        wr32(h + 8, sn->l1_size);
        wr16(h + 12, (uint16_t)id_len);
        wr16(h + 14, (uint16_t)name_len);
        wr32(h + 16, sn->date_sec);
        wr32(h + 20, sn->date_nsec);
        wr64(h + 24, sn->vm_clock_nsec);
        wr32(h + 32, sn->vm_state_size <= 0xffffffffULL ? (uint32_t)sn->vm_state_size : 0);
        wr32(h + 36, entry_extra_size(sn));
        p += 40;
        wr64(buf + p, sn->vm_state_size);
        wr64(buf + p + 8, sn->disk_size);
        wr64(buf + p + 16, (uint64_t)sn->icount);
        p += 24;
        if (sn->extra_size > 24) {
            memcpy(buf + p, sn->extra + 24, sn->extra_size - 24);
            p += sn->extra_size - 24;
        }
        memcpy(buf + p, sn->id, id_len);
        p += id_len;
        memcpy(buf + p, sn->name, name_len);
        p += name_len;
        uint64_t run[2] = {start, p};
        g_array_append_val(runs, run);
    }
    for (guint i = 0; i < runs->len && ret == 0; i++) {
        uint64_t *run = &g_array_index(runs, uint64_t, i * 2);
        ret = qcow2_write_meta(s, 0, (uint64_t)new_off + run[0], run[1] - run[0], buf + run[0]);
    }
    g_array_free(runs, true);
    g_free(buf);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    uint8_t hd[12];
    wr32(hd, s->nb_snapshots);
    wr64(hd + 4, (uint64_t)new_off);
    ret = bdrv_pwrite(s->file, 60, 12, hd, 0);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    uint64_t old_off = s->snapshots_offset, old_size = s->snapshots_size;
    s->snapshots_offset = (uint64_t)new_off;
    s->snapshots_size = size;
    if (old_size) {
        ret = change_ref(s, old_off, old_size, -1);
        if (ret == 0) {
            note_freed(s, fl, old_off, old_size);
        }
    }
    return ret;
}

static int find_by_id(BDRVQcow2State *s, const char *id)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].id, id)) {
            return (int)i;
        }
    }
    return -1;
}

static int find_by_name(BDRVQcow2State *s, const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

static int find_by_id_or_name(BDRVQcow2State *s, const char *v)
{
    int i = find_by_id(s, v);
    return i >= 0 ? i : find_by_name(s, v);
}

static int find_by_id_and_name(BDRVQcow2State *s, const char *id, const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if ((!id || !strcmp(s->snapshots[i].id, id)) &&
            (!name || !strcmp(s->snapshots[i].name, name))) {
            return (int)i;
        }
    }
    return -1;
}

static int check_writable(BDRVQcow2State *s)
{
    if (s->read_only) {
        return -EACCES;
    }
    if (s->incompat & QCOW2_INCOMPAT_DATA_FILE) {
        return -ENOTSUP;
    }
    return 0;
}

int qcow2_rewrite_snapshot_table(BDRVQcow2State *s)
{
    FreedList fl = {0};
    int ret = write_snapshots(s, &fl);
    if (ret == 0) {
        ret = discard_freed(s, &fl);
    } else {
        g_free(fl.c);
    }
    for (uint32_t i = 0; ret == 0 && i < s->nb_snapshots; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        if (sn->extra_size < 24) {
            /* what was written: the 24 bytes of known extra data */
            sn->extra = g_realloc(sn->extra, 25);
            memset(sn->extra + sn->extra_size, 0, 25 - sn->extra_size);
            sn->extra_size = 24;
        }
    }
    return ret;
}

int qcow2_snapshot_create(BlockDriverState *bs, const BlockSnapshotInfo *info)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = check_writable(s);
    if (ret < 0) {
        return ret;
    }
    if (qcow2_has_data_file(s)) {
        return -ENOTSUP; /* as QEMU: the data file cannot keep old versions */
    }
    if (s->nb_snapshots >= QCOW_MAX_SNAPSHOTS) {
        return -EFBIG;
    }
    char *id;
    if (info->id && info->id[0]) {
        id = g_strdup(info->id);
    } else {
        unsigned long max = 0;
        for (uint32_t i = 0; i < s->nb_snapshots; i++) {
            unsigned long v = strtoul(s->snapshots[i].id, NULL, 10);
            max = MAX(max, v);
        }
        id = g_strdup_printf("%lu", max + 1);
    }
    if (find_by_id_and_name(s, id, NULL) >= 0) {
        g_free(id);
        return -EEXIST;
    }
    ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        g_free(id);
        return ret;
    }
    Qcow2Snapshot sn = {0};
    sn.id = id;
    sn.name = g_strdup(info->name ? info->name : "");
    sn.date_sec = info->date_sec;
    sn.date_nsec = info->date_nsec;
    sn.vm_clock_nsec = info->vm_clock_nsec;
    sn.vm_state_size = info->vm_state_size;
    sn.icount = info->icount;
    sn.disk_size = s->size;
    sn.l1_size = s->l1_size;
    sn.extra_size = 24;
    sn.extra = g_malloc0(25);
    FreedList fl = {0};
    uint64_t l1_bytes = (uint64_t)s->l1_size * 8;
    uint64_t l1_clusters = (l1_bytes + s->cluster_size - 1) >> s->cluster_bits;
    int64_t l1_off = qcow2_alloc_clusters(s, l1_clusters ? l1_clusters : 1);
    if (l1_off < 0) {
        ret = (int)l1_off;
        goto fail;
    }
    sn.l1_offset = (uint64_t)l1_off;
    uint64_t *be = g_new(uint64_t, s->l1_size ? s->l1_size : 1);
    for (uint32_t i = 0; i < s->l1_size; i++) {
        be[i] = GUINT64_TO_BE(s->l1[i]);
    }
    ret = qcow2_write_meta(s, 0, sn.l1_offset, l1_bytes, be);
    g_free(be);
    if (ret < 0) {
        goto fail;
    }
    ret = update_snapshot_refcount(s, s->l1_offset, s->l1_size, 1, &fl);
    if (ret < 0) {
        goto fail;
    }
    s->snapshots = g_renew(Qcow2Snapshot, s->snapshots, s->nb_snapshots + 1);
    s->snapshots[s->nb_snapshots++] = sn;
    ret = write_snapshots(s, &fl);
    if (ret < 0) {
        s->nb_snapshots--;
        goto fail;
    }
    return discard_freed(s, &fl);
fail:
    g_free(sn.id);
    g_free(sn.name);
    g_free(sn.extra);
    g_free(fl.c);
    return ret;
}

static void free_snapshot(Qcow2Snapshot *sn)
{
    g_free(sn->id);
    g_free(sn->name);
    g_free(sn->extra);
}

int qcow2_snapshot_delete(BlockDriverState *bs, const char *id, const char *name, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int idx = find_by_id_and_name(s, id, name);
    if (idx < 0) {
        block_error(errp, "Can't find the snapshot");
        return -ENOENT;
    }
    /* refuse a broken entry before changing anything (as QEMU) */
    int ret = qcow2_validate_table(s, s->snapshots[idx].l1_offset, s->snapshots[idx].l1_size, 8,
                                   QCOW_MAX_L1_SIZE, "Snapshot L1 table", errp);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to flush metadata");
        return ret;
    }
    Qcow2Snapshot sn = s->snapshots[idx];
    memmove(&s->snapshots[idx], &s->snapshots[idx + 1],
            (s->nb_snapshots - idx - 1) * sizeof(Qcow2Snapshot));
    s->nb_snapshots--;
    FreedList fl = {0};
    ret = write_snapshots(s, &fl);
    if (ret < 0) {
        /* put it back */
        s->snapshots = g_renew(Qcow2Snapshot, s->snapshots, s->nb_snapshots + 1);
        memmove(&s->snapshots[idx + 1], &s->snapshots[idx],
                (s->nb_snapshots - idx) * sizeof(Qcow2Snapshot));
        s->snapshots[idx] = sn;
        s->nb_snapshots++;
        g_free(fl.c);
        block_error_errno(errp, ret, "Failed to remove snapshot from snapshot list");
        return ret;
    }
    ret = update_snapshot_refcount(s, sn.l1_offset, sn.l1_size, -1, &fl);
    if (ret < 0) {
        free_snapshot(&sn);
        g_free(fl.c);
        block_error_errno(errp, ret, "Failed to free the cluster and L1 table");
        return ret;
    }
    ret = change_ref(s, sn.l1_offset, (uint64_t)sn.l1_size * 8, -1);
    if (ret == 0 && sn.l1_size) {
        note_freed(s, &fl, sn.l1_offset, (uint64_t)sn.l1_size * 8);
    }
    free_snapshot(&sn);
    if (ret < 0) {
        g_free(fl.c);
        block_error_errno(errp, ret, "Failed to free the cluster and L1 table");
        return ret;
    }
    ret = update_snapshot_refcount(s, s->l1_offset, s->l1_size, 0, &fl);
    if (ret == 0) {
        ret = discard_freed(s, &fl);
    } else {
        g_free(fl.c);
    }
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to update snapshot status in disk");
    }
    return ret;
}

int qcow2_snapshot_goto(BlockDriverState *bs, const char *id_or_name)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = check_writable(s);
    if (ret < 0) {
        return ret;
    }
    int idx = find_by_id_or_name(s, id_or_name);
    if (idx < 0) {
        return -ENOENT;
    }
    Qcow2Snapshot *sn = &s->snapshots[idx];
    char *err = NULL;
    ret = qcow2_validate_table(s, sn->l1_offset, sn->l1_size, 8, QCOW_MAX_L1_SIZE,
                               "Snapshot L1 table", &err);
    if (ret < 0) {
        error_report("%s", err); /* QEMU prints it, then fails with the errno */
        g_free(err);
        return ret;
    }
    if (sn->disk_size != s->size) {
        /* as QEMU: the image takes the snapshot's size first (resized like qemu-img resize) */
        ret = bdrv_truncate(bs, sn->disk_size, true, PREALLOC_MODE_OFF, &err);
        if (ret < 0) {
            error_report("%s", err);
            g_free(err);
            return ret;
        }
    }
    ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        return ret;
    }
    if (sn->l1_size > s->l1_size) {
        ret = qcow2_grow_l1_exact(s, sn->l1_size);
        if (ret < 0) {
            return ret;
        }
    }
    uint64_t cur_bytes = (uint64_t)s->l1_size * 8;
    uint64_t *sn_l1 = g_try_malloc0(cur_bytes ? cur_bytes : 8);
    if (!sn_l1) {
        return -ENOMEM;
    }
    ret = bdrv_pread(s->file, sn->l1_offset, (uint64_t)sn->l1_size * 8, sn_l1);
    FreedList fl = {0};
    if (ret == 0) {
        ret = update_snapshot_refcount(s, sn->l1_offset, sn->l1_size, 1, &fl);
    }
    if (ret == 0) {
        ret = qcow2_write_meta(s, QCOW2_OL_ACTIVE_L1, s->l1_offset, cur_bytes, sn_l1);
    }
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret == 0) {
        /* drop the old active state's references (in-memory L1 still holds it) */
        ret = update_snapshot_refcount(s, s->l1_offset, s->l1_size, -1, &fl);
    }
    if (ret == 0) {
        for (uint32_t i = 0; i < s->l1_size; i++) {
            s->l1[i] = GUINT64_FROM_BE(sn_l1[i]);
        }
        ret = update_snapshot_refcount(s, s->l1_offset, s->l1_size, 0, &fl);
    }
    g_free(sn_l1);
    if (ret == 0) {
        ret = discard_freed(s, &fl);
    } else {
        g_free(fl.c);
    }
    return ret;
}

int qcow2_snapshot_load_tmp(BlockDriverState *bs, const char *id, const char *name, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    if (!s->read_only) {
        block_error(errp, "Device is not readonly");
        return -EINVAL;
    }
    int idx = find_by_id_and_name(s, id, name);
    if (idx < 0) {
        block_error(errp, "Can't find snapshot");
        return -ENOENT;
    }
    Qcow2Snapshot *sn = &s->snapshots[idx];
    uint64_t per_l1 = s->cluster_size << s->l2_bits;
    int vr = qcow2_validate_table(s, sn->l1_offset, sn->l1_size, 8, QCOW_MAX_L1_SIZE,
                                  "Snapshot L1 table", errp);
    if (vr < 0) {
        return vr;
    }
    if ((uint64_t)sn->l1_size < sn->disk_size / per_l1 + (sn->disk_size % per_l1 != 0)) {
        block_error(errp, "Snapshot L1 table invalid");
        return -EFBIG;
    }
    uint64_t *l1 = g_try_new0(uint64_t, sn->l1_size ? sn->l1_size : 1);
    if (!l1) {
        block_error(errp, "Failed to load snapshot L1 table");
        return -ENOMEM;
    }
    int ret = bdrv_pread(s->file, sn->l1_offset, (uint64_t)sn->l1_size * 8, l1);
    if (ret < 0) {
        g_free(l1);
        block_error(errp, "Failed to load snapshot L1 table");
        return ret;
    }
    for (uint32_t i = 0; i < sn->l1_size; i++) {
        l1[i] = GUINT64_FROM_BE(l1[i]);
    }
    g_free(s->l1);
    s->l1 = l1;
    s->l1_size = sn->l1_size;
    s->l1_offset = sn->l1_offset;
    /* the image keeps its current size, as in QEMU (past the snapshot's L1: unallocated) */
    return 0;
}
