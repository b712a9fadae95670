/*
 * qcow2: metadata overlap checks, as QEMU makes them before writing to the image file.
 *
 * Every write the driver makes (guest data, copy-on-write, compressed clusters, cached L2
 * tables and refcount blocks, L1 and refcount table updates, snapshot and bitmap structures)
 * first asks whether the target clusters hold metadata of a kind it is not meant to change.
 * If they do, the write is refused with QEMU's message, the image is marked corrupt and the
 * node stops working (nothing else is written, not even its dirty caches), so a damaged image
 * (say, a refcount table that lost an entry) is not made worse by a write through it.
 *
 * What is checked is the option overlap-check=none|constant|cached|all (default cached) with
 * per-kind overrides (overlap-check.main-header=on|off, ...), as in QEMU 7.2.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "qcow2.h"

static const struct {
    const char *opt;  /* overlap-check.<opt> */
    const char *name; /* in the corruption message */
} ol_kinds[QCOW2_OL_MAX_BITNR] = {
    {"main-header", "qcow2_header"},          {"active-l1", "active L1 table"},
    {"active-l2", "active L2 table"},         {"refcount-table", "refcount table"},
    {"refcount-block", "refcount block"},     {"snapshot-table", "snapshot table"},
    {"inactive-l1", "inactive L1 table"},     {"inactive-l2", "inactive L2 table"},
    {"bitmap-directory", "bitmap directory"},
};

bool qcow2_overlap_is_option(const char *key)
{
    if (!strcmp(key, "overlap-check") || !strcmp(key, "overlap-check.template")) {
        return true;
    }
    if (strncmp(key, "overlap-check.", 14)) {
        return false;
    }
    for (int i = 0; i < QCOW2_OL_MAX_BITNR; i++) {
        if (!strcmp(key + 14, ol_kinds[i].opt)) {
            return true;
        }
    }
    return false;
}

int qcow2_overlap_parse(const QOpts *opts, int *mask, char **errp)
{
    const char *a = opts ? qopts_get(opts, "overlap-check") : NULL;
    const char *t = opts ? qopts_get(opts, "overlap-check.template") : NULL;
    if (a && t && strcmp(a, t)) {
        block_error(errp,
                    "Conflicting values for qcow2 options 'overlap-check' ('%s') and "
                    "'overlap-check.template' ('%s')",
                    a, t);
        return -EINVAL;
    }
    const char *tmpl = a ? a : t;
    int m = QCOW2_OL_CACHED;
    if (tmpl) {
        if (!strcmp(tmpl, "none")) {
            m = 0;
        } else if (!strcmp(tmpl, "constant")) {
            m = QCOW2_OL_CONSTANT;
        } else if (!strcmp(tmpl, "cached")) {
            m = QCOW2_OL_CACHED;
        } else if (!strcmp(tmpl, "all")) {
            m = QCOW2_OL_ALL;
        } else {
            block_error(errp,
                        "Unsupported value '%s' for qcow2 option 'overlap-check'. Allowed are "
                        "any of the following: none, constant, cached, all",
                        tmpl);
            return -EINVAL;
        }
    }
    for (int i = 0; opts && i < QCOW2_OL_MAX_BITNR; i++) {
        char key[40];
        snprintf(key, sizeof(key), "overlap-check.%s", ol_kinds[i].opt);
        bool on = (m >> i) & 1;
        if (!qopts_get_bool(opts, key, on, &on, errp)) {
            return -EINVAL;
        }
        m = on ? m | (1 << i) : m & ~(1 << i);
    }
    *mask = m;
    return 0;
}

void qcow2_rt_max_update(BDRVQcow2State *s)
{
    uint64_t max = 0;
    for (uint64_t i = 0; i < s->rt_size; i++) {
        if (s->rt[i] & REFT_OFFSET_MASK) {
            max = i;
        }
    }
    s->rt_max_index = max;
}

/* [a, +alen) and [b, +blen) share a byte (both lengths > 0) */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return blen && a < b + blen && b < a + alen;
}

int qcow2_check_metadata_overlap(BDRVQcow2State *s, int ign, uint64_t offset, uint64_t size)
{
    int chk = s->overlap_check & ~ign;
    uint64_t cs = s->cluster_size;
    if (!size || !chk) {
        return 0;
    }
    if ((chk & QCOW2_OL_MAIN_HEADER) && offset < cs) {
        return QCOW2_OL_MAIN_HEADER;
    }
    /* whole clusters from here on */
    uint64_t start = offset & ~(cs - 1);
    uint64_t len = ((offset & (cs - 1)) + size + cs - 1) & ~(cs - 1);
    if ((chk & QCOW2_OL_ACTIVE_L1) &&
        overlaps(start, len, s->l1_offset, (uint64_t)s->l1_size * 8)) {
        return QCOW2_OL_ACTIVE_L1;
    }
    if ((chk & QCOW2_OL_REFCOUNT_TABLE) && overlaps(start, len, s->rt_offset, s->rt_size * 8)) {
        return QCOW2_OL_REFCOUNT_TABLE;
    }
    if ((chk & QCOW2_OL_SNAPSHOT_TABLE) &&
        overlaps(start, len, s->snapshots_offset, s->snapshots_size)) {
        return QCOW2_OL_SNAPSHOT_TABLE;
    }
    if (chk & QCOW2_OL_INACTIVE_L1) {
        for (uint32_t i = 0; i < s->nb_snapshots && s->snapshots; i++) {
            if (overlaps(start, len, s->snapshots[i].l1_offset,
                         (uint64_t)s->snapshots[i].l1_size * 8)) {
                return QCOW2_OL_INACTIVE_L1;
            }
        }
    }
    if ((chk & QCOW2_OL_ACTIVE_L2) && s->l1) {
        for (uint32_t i = 0; i < s->l1_size; i++) {
            uint64_t l2 = s->l1[i] & L1E_OFFSET_MASK;
            if (l2 && overlaps(start, len, l2, cs)) {
                return QCOW2_OL_ACTIVE_L2;
            }
        }
    }
    if ((chk & QCOW2_OL_REFCOUNT_BLOCK) && s->rt) {
        for (uint64_t i = 0; i <= s->rt_max_index && i < s->rt_size; i++) {
            uint64_t rb = s->rt[i] & REFT_OFFSET_MASK;
            if (rb && overlaps(start, len, rb, cs)) {
                return QCOW2_OL_REFCOUNT_BLOCK;
            }
        }
    }
    if (chk & QCOW2_OL_INACTIVE_L2) {
        for (uint32_t i = 0; i < s->nb_snapshots && s->snapshots; i++) {
            uint64_t l1o = s->snapshots[i].l1_offset;
            uint32_t n = s->snapshots[i].l1_size;
            if (!n) {
                continue;
            }
            if (n > QCOW_MAX_L1_SIZE / 8 || (l1o & (cs - 1))) {
                return -EFBIG;
            }
            uint64_t *l1 = g_try_new(uint64_t, n);
            if (!l1) {
                return -ENOMEM;
            }
            int ret = bdrv_pread(s->file, l1o, (uint64_t)n * 8, l1);
            if (ret < 0) {
                g_free(l1);
                return ret;
            }
            for (uint32_t j = 0; j < n; j++) {
                uint64_t l2 = GUINT64_FROM_BE(l1[j]) & L1E_OFFSET_MASK;
                if (l2 && overlaps(start, len, l2, cs)) {
                    g_free(l1);
                    return QCOW2_OL_INACTIVE_L2;
                }
            }
            g_free(l1);
        }
    }
    if ((chk & QCOW2_OL_BITMAP_DIRECTORY) && (s->autoclear & QCOW2_AUTOCLEAR_BITMAPS) &&
        overlaps(start, len, s->bitmap_dir_offset, s->bitmap_dir_size)) {
        return QCOW2_OL_BITMAP_DIRECTORY;
    }
    return 0;
}

int qcow2_pre_write_overlap_check(BDRVQcow2State *s, int ign, uint64_t offset, uint64_t size,
                                  bool data_file)
{
    if (data_file && qcow2_has_data_file(s)) {
        return 0; /* guest data lives in the other file */
    }
    int ret = qcow2_check_metadata_overlap(s, ign, offset, size);
    if (ret < 0) {
        return ret;
    }
    if (ret > 0) {
        qcow2_signal_corruption(s, "Preventing invalid write on metadata (overlaps with %s)",
                                ol_kinds[__builtin_ctz((unsigned)ret)].name);
        return -EIO;
    }
    return 0;
}

int qcow2_write_meta(BDRVQcow2State *s, int ign, uint64_t offset, uint64_t size, const void *buf)
{
    int ret = qcow2_pre_write_overlap_check(s, ign, offset, size, false);
    return ret < 0 ? ret : bdrv_pwrite(s->file, offset, size, buf, 0);
}

int qcow2_write_data(BDRVQcow2State *s, uint64_t offset, uint64_t size, const void *buf)
{
    int ret = qcow2_pre_write_overlap_check(s, 0, offset, size, true);
    return ret < 0 ? ret : bdrv_pwrite(qcow2_data(s), offset, size, buf, 0);
}
