/*
 * qcow2 format driver: header handling, guest I/O, truncate and image creation.
 * Written from docs/interop/qcow2.txt; layout choices follow QEMU 7.2 so that new images are
 * byte-identical to `qemu-img create`'s.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "vireo/qjson.h"
#include "vireo/error.h"
#include "qcow2.h"

static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t rd64(const uint8_t *p)
{
    return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
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

static int qcow2_probe(const uint8_t *buf, size_t len)
{
    /* version 2 and up (an unsupported one is reported rather than guessed raw); version 1 is
     * the qcow driver's, as in QEMU */
    if (len >= 8 && rd32(buf) == QCOW2_MAGIC && rd32(buf + 4) >= 2) {
        return 100;
    }
    return 0;
}

int qcow2_validate_table(BDRVQcow2State *s, uint64_t offset, uint64_t entries, size_t entry_len,
                         uint64_t max_bytes, const char *name, char **errp)
{
    if (entries > max_bytes / entry_len) {
        block_error(errp, "%s too large", name);
        return -EFBIG;
    }
    if ((offset & (s->cluster_size - 1)) || (uint64_t)INT64_MAX - entries * entry_len < offset) {
        block_error(errp, "%s offset invalid", name);
        return -EINVAL;
    }
    return 0;
}

static void free_snapshots(BDRVQcow2State *s)
{
    for (uint32_t i = 0; i < s->nb_snapshots && s->snapshots; i++) {
        g_free(s->snapshots[i].id);
        g_free(s->snapshots[i].name);
        g_free(s->snapshots[i].extra);
    }
    g_free(s->snapshots);
    s->snapshots = NULL;
}

static int read_snapshots(BDRVQcow2State *s, char **errp)
{
    if (!s->nb_snapshots) {
        s->snapshots_size = 0;
        return 0;
    }
    int64_t flen = bdrv_getlength(s->file);
    s->snapshots = g_new0(Qcow2Snapshot, s->nb_snapshots);
    uint64_t off = s->snapshots_offset;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        uint8_t h[40];
        if (flen >= 0 && off + 40 > (uint64_t)flen) {
            block_error(errp, "Snapshot table is truncated");
            return -EINVAL;
        }
        int ret = bdrv_pread(s->file, off, 40, h);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to read snapshot table");
            return ret;
        }
        Qcow2Snapshot *sn = &s->snapshots[i];
        sn->l1_offset = rd64(h);
        sn->l1_size = rd32(h + 8);
        uint32_t id_len = ((uint32_t)h[12] << 8) | h[13];
        uint32_t name_len = ((uint32_t)h[14] << 8) | h[15];
        sn->date_sec = rd32(h + 16);
        sn->date_nsec = rd32(h + 20);
        sn->vm_clock_nsec = rd64(h + 24);
        sn->vm_state_size = rd32(h + 32);
        sn->extra_size = rd32(h + 36);
        sn->icount = -1;
        off += 40;
        if (sn->extra_size > 1024) {
            block_error(errp, "Too much extra metadata in snapshot table entry %u", i);
            return -EFBIG;
        }
        sn->extra = g_malloc0(sn->extra_size + 1);
        if (sn->extra_size && bdrv_pread(s->file, off, sn->extra_size, sn->extra) < 0) {
            block_error(errp, "Failed to read snapshot table");
            return -EIO;
        }
        if (sn->extra_size >= 8) {
            sn->vm_state_size = rd64(sn->extra);
        }
        if (sn->extra_size >= 16) {
            sn->disk_size = rd64(sn->extra + 8);
        } else {
            sn->disk_size = s->size;
        }
        if (sn->extra_size >= 24) {
            sn->icount = (int64_t)rd64(sn->extra + 16);
        }
        off += sn->extra_size;
        sn->id = g_malloc0(id_len + 1);
        sn->name = g_malloc0(name_len + 1);
        if (bdrv_pread(s->file, off, id_len, sn->id) < 0 ||
            bdrv_pread(s->file, off + id_len, name_len, sn->name) < 0) {
            block_error(errp, "Failed to read snapshot table");
            return -EIO;
        }
        off += id_len + name_len;
        off = (off + 7) & ~7ULL;
        if (off - s->snapshots_offset > QCOW_MAX_SNAPSHOTS_SIZE) {
            block_error(errp, "Snapshot table exceeds the size limit");
            return -EFBIG;
        }
    }
    s->snapshots_size = off - s->snapshots_offset;
    return 0;
}

static int read_extensions(BDRVQcow2State *s, BlockDriverState *bs, const uint8_t *hdr,
                           uint64_t start, uint64_t end, char **errp)
{
    uint64_t off = start;
    while (off + 8 <= end) {
        uint32_t type = rd32(hdr + off), len = rd32(hdr + off + 4);
        off += 8;
        if (len > end - off) {
            block_error(errp, "Header extension too large");
            return -EINVAL;
        }
        const uint8_t *d = hdr + off;
        switch (type) {
        case QCOW2_EXT_END:
            return 0;
        case QCOW2_EXT_BACKING_FMT:
            if (len >= 16) {
                block_error(errp, "ERROR: ext_backing_format: len=%u too large (>=16)", len);
                return -EINVAL;
            }
            g_free(bs->backing_format);
            bs->backing_format = g_strndup((const char *)d, len);
            break;
        case QCOW2_EXT_FEATURES:
            break; /* regenerated on header rewrite */
        case QCOW2_EXT_BITMAPS: {
            if (len != 24) {
                block_error(errp, "bitmaps_ext: Invalid extension length");
                return -EINVAL;
            }
            if (!(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
                if (s->version < 3) {
                    error_report("warning: This qcow2 v2 image contains bitmaps, but they may "
                                 "have been modified by a program without persistent bitmap "
                                 "support; so now they must all be considered inconsistent");
                } else {
                    error_report("warning: a program lacking bitmap support modified this "
                                 "file, so all bitmaps are now considered inconsistent");
                }
                fprintf(stderr, "Some clusters may be leaked, run 'qemu-img check -r' on the "
                                "image file to fix.");
                s->stale_bitmaps_ext = true;
                break;
            }
            uint32_t nb = rd32(d);
            uint64_t dir_size = rd64(d + 8), dir_offset = rd64(d + 16);
            if (rd32(d + 4) != 0) {
                block_error(errp, "bitmaps_ext: Reserved field is not zero");
                return -EINVAL;
            }
            if (nb > QCOW2_MAX_BITMAPS) {
                block_error(errp,
                            "bitmaps_ext: Image has %" PRIu32
                            " bitmaps, exceeding the QEMU supported maximum of %d",
                            nb, QCOW2_MAX_BITMAPS);
                return -EINVAL;
            }
            if (nb == 0) {
                block_error(errp, "found bitmaps extension with zero bitmaps");
                return -EINVAL;
            }
            if (dir_offset & ((1ULL << s->cluster_bits) - 1)) {
                block_error(errp, "bitmaps_ext: invalid bitmap directory offset");
                return -EINVAL;
            }
            if (dir_size > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
                block_error(errp,
                            "bitmaps_ext: bitmap directory size (%" PRIu64
                            ") exceeds the maximum supported size (%u)",
                            dir_size, QCOW2_MAX_BITMAP_DIRECTORY_SIZE);
                return -EINVAL;
            }
            s->nb_bitmaps = nb;
            s->bitmap_dir_size = dir_size;
            s->bitmap_dir_offset = dir_offset;
            break;
        }
        case QCOW2_EXT_CRYPTO:
            block_error(errp, "Encrypted images are not supported");
            return -ENOTSUP;
        case QCOW2_EXT_DATA_FILE:
            g_free(s->data_file_name);
            s->data_file_name = g_strndup((const char *)d, len);
            break;
        default:
            s->unknown_exts = g_renew(Qcow2UnknownExt, s->unknown_exts, s->n_unknown_exts + 1);
            s->unknown_exts[s->n_unknown_exts].type = type;
            s->unknown_exts[s->n_unknown_exts].len = len;
            /* an empty extension may end exactly at the end of the header: copy nothing */
            s->unknown_exts[s->n_unknown_exts].data = len ? g_memdup2(d, len) : g_malloc0(1);
            s->n_unknown_exts++;
            break;
        }
        off += (len + 7) & ~7u;
    }
    return 0;
}

static void setup_geometry(BDRVQcow2State *s)
{
    s->cluster_size = 1ULL << s->cluster_bits;
    s->l2e_shift = s->extended_l2 ? 1 : 0;
    s->l2_bits = s->cluster_bits - 3 - s->l2e_shift;
    s->l2_entries = 1ULL << s->l2_bits;
    s->slice_entries = MIN(s->cluster_size, 4096) / (8u << s->l2e_shift);
    s->subcluster_bits = s->cluster_bits - (s->extended_l2 ? 5 : 0);
    s->subcluster_size = 1ULL << s->subcluster_bits;
    s->rb_bits = s->cluster_bits + 3 - s->refcount_order;
    s->rb_entries = 1ULL << s->rb_bits;
    s->refcount_max = qcow2_refcount_max(s->refcount_order);
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1ULL << (s->cluster_bits - 8)) - 1;
    s->cluster_offset_mask = (1ULL << s->csize_shift) - 1;
}

static void setup_caches(BDRVQcow2State *s)
{
    uint64_t l2_max = MAX(4, (32ULL << 20) / s->cluster_size);
    uint64_t n = MIN(MAX((uint64_t)s->l1_size, 4), l2_max);
    n = MIN(n, 4096);
    s->l2_cache = qcow2_cache_new((int)n, s->cluster_size, true);
    s->rb_cache = qcow2_cache_new((int)MAX(4, MIN(n / 4, 256)), s->cluster_size, false);
    s->ccache_offset = ~0ULL;
}

static int qcow2_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    BDRVQcow2State *s = g_new0(BDRVQcow2State, 1);
    bs->opaque = s;
    s->bs = bs;
    s->file = bs->file;
    s->read_only = !(flags & BDRV_O_RDWR);
    s->metadata_prealloc = -1;
    s->check_mode = flags & BDRV_O_CHECK;
    int ret = qcow2_overlap_parse(opts, &s->overlap_check, errp);
    if (ret < 0) {
        return ret;
    }
    uint8_t h[112] = {0};
    ret = bdrv_pread(s->file, 0, sizeof(h), h);
    if (ret < 0) {
        block_error_errno(errp, ret, "Could not read qcow2 header");
        return ret;
    }
    if (rd32(h) != QCOW2_MAGIC) {
        block_error(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    s->version = rd32(h + 4);
    if (s->version < 2 || s->version > 3) {
        block_error(errp, "Unsupported qcow2 version %u", s->version);
        return -ENOTSUP;
    }
    ret = qcow2_check_runtime_opts(opts, errp);
    if (ret < 0) {
        return ret;
    }
    s->cluster_bits = (int)rd32(h + 20);
    if (rd32(h + 20) < QCOW_MIN_CLUSTER_BITS || rd32(h + 20) > QCOW_MAX_CLUSTER_BITS) {
        block_error(errp, "Unsupported cluster size: 2^%u", rd32(h + 20));
        return -EINVAL;
    }
    uint64_t backing_off = rd64(h + 8);
    uint32_t backing_size = rd32(h + 16);
    s->size = rd64(h + 24);
    uint32_t crypt = rd32(h + 32);
    s->l1_size = rd32(h + 36);
    s->l1_offset = rd64(h + 40);
    s->rt_offset = rd64(h + 48);
    s->rt_clusters = rd32(h + 56);
    s->nb_snapshots = rd32(h + 60);
    s->snapshots_offset = rd64(h + 64);
    uint64_t cs = 1ULL << s->cluster_bits;
    if (s->version == 2) {
        s->header_length = 72;
        s->refcount_order = 4;
    } else {
        s->incompat = rd64(h + 72);
        s->compat = rd64(h + 80);
        s->autoclear = rd64(h + 88);
        s->refcount_order = (int)rd32(h + 96);
        s->header_length = rd32(h + 100);
        if (s->header_length < 104) {
            block_error(errp, "qcow2 header too short");
            return -EINVAL;
        }
    }
    if (s->header_length > cs) {
        block_error(errp, "qcow2 header exceeds cluster size");
        return -EINVAL;
    }
    if (s->header_length > 104) {
        s->compression_type = h[104];
    }
    if (backing_off > cs) {
        block_error(errp, "Invalid backing file offset");
        return -EINVAL;
    }
    uint8_t *hdr = g_malloc0(cs);
    ret = bdrv_pread(s->file, 0, cs, hdr);
    if (ret < 0) {
        g_free(hdr);
        block_error_errno(errp, ret, "Could not read qcow2 header");
        return ret;
    }
    if (s->header_length > 112) {
        s->unknown_header_len = s->header_length - 112;
        s->unknown_header = g_memdup2(hdr + 112, s->unknown_header_len);
    }
    uint64_t ext_end = backing_off ? backing_off : cs;
    ret = read_extensions(s, bs, hdr, s->header_length, ext_end, errp);
    if (ret < 0) {
        g_free(hdr);
        return ret;
    }
    if (s->incompat & ~QCOW2_INCOMPAT_MASK) {
        g_free(hdr);
        block_error(errp, "Unsupported qcow2 feature(s): Unknown incompatible feature: %" PRIx64,
                    (uint64_t)(s->incompat & ~QCOW2_INCOMPAT_MASK));
        return -ENOTSUP;
    }
    if ((s->incompat & QCOW2_INCOMPAT_CORRUPT) && !s->read_only && !s->check_mode) {
        g_free(hdr);
        block_error(errp, "qcow2: Image is corrupt; cannot be opened read/write");
        return -EACCES;
    }
    if (s->incompat & QCOW2_INCOMPAT_DATA_FILE) {
        /* without I/O (info), a missing or unnamed data file is no error, as in QEMU */
        if (!s->data_file_name && !(flags & BDRV_O_NO_IO)) {
            g_free(hdr);
            block_error(errp, "'data-file' is required for this image");
            return -EINVAL;
        }
        if (s->data_file_name) {
            char *path = g_strdup(s->data_file_name); /* as QEMU 7.2: relative to the cwd */
            char *derr = NULL;
            int dflags =
                flags & (BDRV_O_RDWR | BDRV_O_NOCACHE | BDRV_O_NO_FLUSH | BDRV_O_WRTHROUGH);
            s->data_file = bdrv_open(path, "file", NULL, dflags | BDRV_O_UNMAP, &derr);
            bs->data_file = s->data_file;
            g_free(path);
            if (!s->data_file && !(flags & BDRV_O_NO_IO)) {
                g_free(hdr);
                block_error(errp, "%s", derr);
                g_free(derr);
                return -EINVAL;
            }
            g_free(derr);
        }
    } else if (s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW) {
        g_free(hdr);
        block_error(errp, "data-file-raw requires a data file");
        return -EINVAL;
    }
    if (s->incompat & QCOW2_INCOMPAT_EXTL2) {
        if (s->cluster_bits < 14) {
            g_free(hdr);
            block_error(errp, "Extended L2 entries are only supported with cluster sizes of at "
                              "least 16384 bytes");
            return -EINVAL;
        }
        s->extended_l2 = true;
    }
    if (s->refcount_order < 0 || s->refcount_order > 6) {
        g_free(hdr);
        block_error(errp, "Reference count entry width too large; may not exceed 64 bits");
        return -EINVAL;
    }
    if ((s->incompat & QCOW2_INCOMPAT_COMPRESSION) ? s->compression_type == 0
                                                   : s->compression_type != 0) {
        g_free(hdr);
        block_error(errp, "compression_type field and the compression type feature bit "
                          "disagree");
        return -EINVAL;
    }
    if (s->compression_type > 1) {
        g_free(hdr);
        block_error(errp, "Unknown compression type %u", s->compression_type);
        return -ENOTSUP;
    }
    if (crypt) {
        g_free(hdr);
        block_error(errp, "Encrypted images are not supported");
        return -ENOTSUP;
    }
    setup_geometry(s);
    /* refcount table */
    if ((uint64_t)s->rt_clusters * cs > QCOW_MAX_REFTABLE_SIZE) {
        g_free(hdr);
        block_error(errp, "Reference count table too large");
        return -EINVAL;
    }
    if (s->rt_clusters == 0 && !s->check_mode) {
        g_free(hdr);
        block_error(errp, "Image does not contain a reference count table");
        return -EINVAL;
    }
    s->rt_size = (uint64_t)s->rt_clusters * cs / 8;
    ret = qcow2_validate_table(s, s->rt_offset, s->rt_size, 8, QCOW_MAX_REFTABLE_SIZE,
                               "Reference count table", errp);
    if (ret < 0) {
        g_free(hdr);
        return ret;
    }
    ret = qcow2_validate_table(s, s->snapshots_offset, s->nb_snapshots, 40,
                               40u * QCOW_MAX_SNAPSHOTS, "Snapshot table", errp);
    if (ret < 0) {
        g_free(hdr);
        return ret;
    }
    if ((uint64_t)s->l1_size * 8 > QCOW_MAX_L1_SIZE) {
        g_free(hdr);
        block_error(errp, "Active L1 table too large");
        return -EFBIG;
    }
    uint64_t per_l1 = cs * s->l2_entries;
    uint64_t need_l1 = s->size / per_l1 + (s->size % per_l1 != 0);
    if (need_l1 > INT_MAX) {
        g_free(hdr);
        block_error(errp, "Image is too big");
        return -EFBIG;
    }
    if (s->l1_size < need_l1) {
        g_free(hdr);
        block_error(errp, "L1 table is too small");
        return -EINVAL;
    }
    ret = qcow2_validate_table(s, s->l1_offset, s->l1_size, 8, QCOW_MAX_L1_SIZE, "Active L1 table",
                               errp);
    if (ret < 0) {
        g_free(hdr);
        return ret;
    }
    if (backing_off) {
        if (backing_size > 1023 || backing_off + backing_size > cs) {
            g_free(hdr);
            block_error(errp, "Backing file name too long");
            return -EINVAL;
        }
        g_free(bs->backing_file);
        bs->backing_file = g_strndup((const char *)hdr + backing_off, backing_size);
    }
    g_free(hdr);
    s->rt = g_try_new0(uint64_t, s->rt_size ? s->rt_size : 1);
    s->l1 = g_try_new0(uint64_t, s->l1_size ? s->l1_size : 1);
    if (!s->rt || !s->l1) {
        block_error(errp, "Could not allocate metadata tables");
        return -ENOMEM;
    }
    if (s->rt_size) {
        BLKDBG_EVENT(s->file, BLKDBG_REFTABLE_LOAD);
        ret = bdrv_pread(s->file, s->rt_offset, s->rt_size * 8, s->rt);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not initialize refcount handling");
            return ret;
        }
        for (uint64_t i = 0; i < s->rt_size; i++) {
            s->rt[i] = GUINT64_FROM_BE(s->rt[i]);
        }
    }
    qcow2_rt_max_update(s);
    if (s->l1_size) {
        ret = bdrv_pread(s->file, s->l1_offset, (uint64_t)s->l1_size * 8, s->l1);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not read L1 table");
            return ret;
        }
        for (uint32_t i = 0; i < s->l1_size; i++) {
            s->l1[i] = GUINT64_FROM_BE(s->l1[i]);
        }
    }
    ret = read_snapshots(s, errp);
    if (ret < 0) {
        return ret;
    }
    setup_caches(s);
    bs->total_size = (int64_t)s->size;

    /* unknown autoclear bits go (their features may be stale now), as in QEMU */
    bool rewrite = s->stale_bitmaps_ext || (s->autoclear & ~QCOW2_AUTOCLEAR_MASK);
    rewrite = rewrite && !s->read_only;
    if (rewrite) {
        s->autoclear &= QCOW2_AUTOCLEAR_MASK;
    }
    bool header_updated = false;
    ret = qcow2_load_dirty_bitmaps(s, &header_updated, errp);
    if (ret < 0) {
        return ret;
    }
    if (rewrite && !header_updated) {
        ret = qcow2_update_header(s);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not update qcow2 header");
            return ret;
        }
    }
    if (!s->read_only && !s->check_mode && (s->incompat & QCOW2_INCOMPAT_DIRTY)) {
        BdrvCheckResult res = {0};
        ret = qcow2_check_image(bs, &res, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS);
        if (ret < 0 || res.corruptions || res.check_errors) {
            block_error(errp, "Could not repair dirty image");
            return ret < 0 ? ret : -EIO;
        }
        s->incompat &= ~QCOW2_INCOMPAT_DIRTY;
        ret = qcow2_update_header(s);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not update qcow2 header");
            return ret;
        }
    }
    s->open_done = true;
    return 0;
}

static void qcow2_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    if (!s->read_only && s->l2_cache && !s->dead) {
        qcow2_flush_metadata(s);
        char *err = NULL;
        if (s->open_done && qcow2_store_dirty_bitmaps(s, &err) < 0) {
            error_report("Lost persistent bitmaps during inactivation of node '%s': %s",
                         bdrv_get_node_name(bs), err);
            g_free(err);
        }
        qcow2_flush_metadata(s);
        qcow2_file_sync(s);
    }
    qcow2_cache_free(s->l2_cache);
    qcow2_cache_free(s->rb_cache);
    g_free(s->l1);
    g_free(s->rt);
    free_snapshots(s);
    for (int i = 0; i < s->n_unknown_exts; i++) {
        g_free(s->unknown_exts[i].data);
    }
    g_free(s->unknown_exts);
    g_free(s->unknown_header);
    g_free(s->cbuf);
    g_free(s->ccache);
    if (s->inflight_waiters) {
        g_ptr_array_free(s->inflight_waiters, true);
    }
    bdrv_close(s->data_file);
    g_free(s->data_file_name);
}

static const char *const feature_names[][3] = {
    {"\x00", "\x00", "dirty bit"},
    {"\x00", "\x01", "corrupt bit"},
    {"\x00", "\x02", "external data file"},
    {"\x00", "\x03", "compression type"},
    {"\x00", "\x04", "extended L2 entries"},
    {"\x01", "\x00", "lazy refcounts"},
    {"\x02", "\x00", "bitmaps"},
    {"\x02", "\x01", "raw external data"},
};

static bool add_ext(uint8_t *buf, size_t size, size_t *pos, uint32_t type, const void *data,
                    uint32_t len)
{
    size_t need = 8 + ((len + 7) & ~7u);
    if (*pos + need > size) {
        return false;
    }
    wr32(buf + *pos, type);
    wr32(buf + *pos + 4, len);
    if (len) {
        memcpy(buf + *pos + 8, data, len);
    }
    *pos += need;
    return true;
}

int qcow2_update_header(BDRVQcow2State *s)
{
    BlockDriverState *bs = s->bs;
    size_t cs = s->cluster_size;
    uint8_t *buf = g_malloc0(cs);
    size_t pos;
    wr32(buf, QCOW2_MAGIC);
    wr32(buf + 4, s->version);
    wr32(buf + 20, (uint32_t)s->cluster_bits);
    wr64(buf + 24, s->size);
    wr32(buf + 36, s->l1_size);
    wr64(buf + 40, s->l1_offset);
    wr64(buf + 48, s->rt_offset);
    wr32(buf + 56, s->rt_clusters);
    wr32(buf + 60, s->nb_snapshots);
    wr64(buf + 64, s->snapshots_offset);
    if (s->version >= 3) {
        uint32_t hl = 112 + s->unknown_header_len;
        wr64(buf + 72, s->incompat);
        wr64(buf + 80, s->compat);
        wr64(buf + 88, s->autoclear);
        wr32(buf + 96, (uint32_t)s->refcount_order);
        wr32(buf + 100, hl);
        buf[104] = s->compression_type;
        if (s->unknown_header_len) {
            memcpy(buf + 112, s->unknown_header, s->unknown_header_len);
        }
        pos = hl;
    } else {
        pos = 72;
    }
    bool ok = true;
    if (bs->backing_format && bs->backing_file && bs->backing_file[0]) {
        ok = ok && add_ext(buf, cs, &pos, QCOW2_EXT_BACKING_FMT, bs->backing_format,
                           (uint32_t)strlen(bs->backing_format));
    }
    if (s->data_file_name && qcow2_has_data_file(s)) {
        ok = ok && add_ext(buf, cs, &pos, QCOW2_EXT_DATA_FILE, s->data_file_name,
                           (uint32_t)strlen(s->data_file_name));
    }
    if (s->version >= 3 && cs > 4096) {
        uint8_t ft[8 * 48] = {0};
        for (int i = 0; i < 8; i++) {
            ft[i * 48] = (uint8_t)feature_names[i][0][0];
            ft[i * 48 + 1] = (uint8_t)feature_names[i][1][0];
            strncpy((char *)ft + i * 48 + 2, feature_names[i][2], 46);
        }
        ok = ok && add_ext(buf, cs, &pos, QCOW2_EXT_FEATURES, ft, sizeof(ft));
    }
    if (s->nb_bitmaps) {
        uint8_t bext[24] = {0};
        wr32(bext, s->nb_bitmaps);
        wr64(bext + 8, s->bitmap_dir_size);
        wr64(bext + 16, s->bitmap_dir_offset);
        ok = ok && add_ext(buf, cs, &pos, QCOW2_EXT_BITMAPS, bext, 24);
    }
    for (int i = 0; i < s->n_unknown_exts; i++) {
        ok = ok && add_ext(buf, cs, &pos, s->unknown_exts[i].type, s->unknown_exts[i].data,
                           s->unknown_exts[i].len);
    }
    ok = ok && add_ext(buf, cs, &pos, QCOW2_EXT_END, NULL, 0);
    if (ok && bs->backing_file && bs->backing_file[0]) {
        size_t bl = strlen(bs->backing_file);
        if (pos + bl > cs) {
            ok = false;
        } else {
            wr64(buf + 8, pos);
            wr32(buf + 16, (uint32_t)bl);
            memcpy(buf + pos, bs->backing_file, bl);
        }
    }
    if (!ok) {
        g_free(buf);
        return -ENOSPC;
    }
    int ret = bdrv_pwrite(s->file, 0, cs, buf, 0);
    g_free(buf);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    return ret;
}

/* ---- reads ---- */

/* ---- requests doing data I/O without the node lock (qemu-io's aio requests) ---- */

/*
 * Would an in-flight request on guest clusters [first, last] get in the way? A write (in place
 * or allocating) waits for allocations in flight there: their mapping is not linked yet, as
 * QEMU's writes wait for overlapping l2meta. Whatever drops clusters (QCOW2_INFLIGHT_MODIFY:
 * zero writes, discards, compressed writes, truncation, freeing replaced clusters) waits for
 * the reads and in-place writes still using them; an allocation in flight simply links its
 * clusters afterwards, as in QEMU.
 */
static bool inflight_conflict(BDRVQcow2State *s, uint64_t first, uint64_t last, int kind)
{
    for (Qcow2InFlight *e = s->inflight; e; e = e->next) {
        if (e->first <= last && first <= e->last &&
            (kind == QCOW2_INFLIGHT_MODIFY ? e->kind != QCOW2_INFLIGHT_ALLOC
                                           : e->kind == QCOW2_INFLIGHT_ALLOC)) {
            return true;
        }
    }
    return false;
}

/* Wait (node lock given up meanwhile) until no in-flight request conflicts. */
static void inflight_wait(BlockDriverState *bs, uint64_t first, uint64_t last, int kind)
{
    BDRVQcow2State *s = bs->opaque;
    while (inflight_conflict(s, first, last, kind)) {
        bool released = bdrv_req_unlock(bs);
        if (!released) {
            return; /* not a coroutine holding the lock once: nothing else can run */
        }
        if (!s->inflight_waiters) {
            s->inflight_waiters = g_ptr_array_new();
        }
        g_ptr_array_add(s->inflight_waiters, qemu_coroutine_self());
        qemu_coroutine_yield();
        bdrv_req_relock(bs, released);
    }
}

/* Give the node lock up for data I/O on clusters [first, last]; NULL when it stays held. */
static Qcow2InFlight *inflight_begin(BlockDriverState *bs, uint64_t first, uint64_t last, int kind)
{
    BDRVQcow2State *s = bs->opaque;
    if (!qemu_in_coroutine() || !bdrv_req_unlock(bs)) {
        return NULL;
    }
    Qcow2InFlight *e = g_new0(Qcow2InFlight, 1);
    e->first = first;
    e->last = last;
    e->kind = kind;
    e->next = s->inflight;
    s->inflight = e;
    return e;
}

static void inflight_end(BlockDriverState *bs, Qcow2InFlight *e)
{
    BDRVQcow2State *s = bs->opaque;
    if (!e) {
        return;
    }
    bdrv_req_relock(bs, true);
    for (Qcow2InFlight **p = &s->inflight; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    g_free(e);
    if (s->inflight_waiters && s->inflight_waiters->len) {
        GPtrArray *w = s->inflight_waiters;
        s->inflight_waiters = NULL;
        for (guint i = 0; i < w->len; i++) {
            aio_co_wake(g_ptr_array_index(w, i));
        }
        g_ptr_array_free(w, true);
    }
}

/* Reads of an image with extended L2 entries, one run of same-type subclusters at a time. */
/* Reads end at the image's end; QEMU's copy-on-write reads through the driver, so the last
 * cluster's bytes past the end (data left by a shrink, the backing file's) are copied too. */
static uint64_t read_limit(const BDRVQcow2State *s)
{
    return s->cow_read ? (s->size + s->cluster_size - 1) & ~((uint64_t)s->cluster_size - 1)
                       : s->size;
}

static int do_read_ext(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    BDRVQcow2State *s = bs->opaque;
    while (bytes) {
        if (offset >= read_limit(s) && !s->vmstate_io) {
            memset(buf, 0, bytes);
            return 0;
        }
        uint64_t e, b, len;
        Qcow2SubclusterType t;
        int ret = qcow2_get_subcluster(s, offset, bytes, &e, &b, &t, &len);
        if (ret < 0) {
            return ret;
        }
        uint64_t in_cluster = offset & (s->cluster_size - 1);
        switch (t) {
        case QCOW2_SC_UNALLOCATED_PLAIN:
        case QCOW2_SC_UNALLOCATED_ALLOC:
            ret = bdrv_read_backing(bs, offset, len, buf);
            break;
        case QCOW2_SC_ZERO_PLAIN:
        case QCOW2_SC_ZERO_ALLOC:
            memset(buf, 0, len);
            break;
        case QCOW2_SC_NORMAL:
            BLKDBG_EVENT(bs->file, BLKDBG_READ_AIO);
            ret = bdrv_pread(qcow2_data(s), (e & L2E_OFFSET_MASK) + in_cluster, len, buf);
            break;
        case QCOW2_SC_COMPRESSED: {
            uint8_t *data;
            BLKDBG_EVENT(bs->file, BLKDBG_READ_COMPRESSED);
            ret = qcow2_decompress_cluster(s, e, &data);
            if (ret == 0) {
                memcpy(buf, data + in_cluster, len);
            }
            break;
        }
        default:
            ret = -EIO;
            break;
        }
        if (ret < 0) {
            return ret;
        }
        offset += len;
        bytes -= len;
        buf += len;
    }
    return 0;
}

/* With `unlocked`, data clusters are read with the node lock given up (guest reads). */
static int do_read_io(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf,
                      bool unlocked)
{
    BDRVQcow2State *s = bs->opaque;
    if (s->extended_l2) {
        return do_read_ext(bs, offset, bytes, buf);
    }
    while (bytes) {
        if (offset >= read_limit(s) && !s->vmstate_io) {
            memset(buf, 0, bytes);
            return 0;
        }
        uint64_t in_cluster = offset & (s->cluster_size - 1);
        uint64_t max_clusters = (in_cluster + bytes + s->cluster_size - 1) >> s->cluster_bits;
        uint64_t e, n;
        int ret = qcow2_get_entry(s, offset, max_clusters, &e, &n);
        if (ret < 0) {
            return ret;
        }
        uint64_t len = MIN(bytes, n * s->cluster_size - in_cluster);
        switch (qcow2_entry_type(s, e)) {
        case QCOW2_CLUSTER_UNALLOCATED:
            ret = bdrv_read_backing(bs, offset, len, buf);
            break;
        case QCOW2_CLUSTER_ZERO_PLAIN:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            memset(buf, 0, len);
            break;
        case QCOW2_CLUSTER_NORMAL: {
            Qcow2InFlight *io = unlocked ? inflight_begin(bs, offset >> s->cluster_bits,
                                                          (offset + len - 1) >> s->cluster_bits,
                                                          QCOW2_INFLIGHT_READ)
                                         : NULL;
            BLKDBG_EVENT(bs->file, BLKDBG_READ_AIO);
            ret = bdrv_pread(qcow2_data(s), (e & L2E_OFFSET_MASK) + in_cluster, len, buf);
            inflight_end(bs, io);
            break;
        }
        case QCOW2_CLUSTER_COMPRESSED: {
            uint8_t *data;
            len = MIN(bytes, s->cluster_size - in_cluster);
            BLKDBG_EVENT(bs->file, BLKDBG_READ_COMPRESSED);
            ret = qcow2_decompress_cluster(s, e, &data);
            if (ret == 0) {
                memcpy(buf, data + in_cluster, len);
            }
            break;
        }
        }
        if (ret < 0) {
            return ret;
        }
        offset += len;
        bytes -= len;
        buf += len;
    }
    return 0;
}

static int do_read(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    return do_read_io(bs, offset, bytes, buf, false);
}

static int qcow2_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    if (((BDRVQcow2State *)bs->opaque)->dead) {
        return -ENOMEDIUM;
    }
    return do_read_io(bs, offset, bytes, buf, true);
}

/* ---- writes ---- */

/* Drop the references held by old L2 entries (after the L2 no longer points at them). */
static int free_old_entries(BDRVQcow2State *s, const uint64_t *old, uint64_t n, bool discard)
{
    bool any = false;
    for (uint64_t i = 0; i < n && !any; i++) {
        Qcow2ClusterType t = qcow2_entry_type(s, old[i]);
        any = t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC ||
              t == QCOW2_CLUSTER_COMPRESSED;
    }
    if (!any) {
        return 0;
    }
    for (uint64_t i = 0; i < n; i++) {
        int ret = qcow2_free_entry(s, old[i], discard);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static bool in_place(BDRVQcow2State *s, uint64_t e)
{
    return qcow2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL && (e & QCOW_OFLAG_COPIED);
}

/*
 * A write keeps the host cluster of a zero-allocated cluster it owns too (QEMU's
 * cluster_needs_new_alloc()); what it does not cover of such a cluster is zeroed.
 */
static bool write_in_place(BDRVQcow2State *s, uint64_t e)
{
    Qcow2ClusterType t = qcow2_entry_type(s, e);
    return (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) &&
           (e & QCOW_OFLAG_COPIED);
}

/* Content of [from, to) inside the cluster at cstart, as reads see it now, into tmp + from. */
static int cow_read(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    BDRVQcow2State *s = bs->opaque;
    s->cow_read = true;
    int ret = do_read(bs, offset, bytes, buf);
    s->cow_read = false;
    return ret;
}

static int read_cluster_part(BlockDriverState *bs, uint64_t cstart, uint64_t from, uint64_t to,
                             uint8_t *tmp)
{
    return to > from ? cow_read(bs, cstart + from, to - from, tmp + from) : 0;
}

/*
 * Extended L2: write [offset, +bytes) inside one cluster. Only the subclusters the write
 * touches become allocated (partial ones are completed from what reads see); a cluster that
 * cannot be written in place (none yet, shared, compressed) gets a new host cluster holding
 * the old allocated data too.
 */
static int write_cluster_ext(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                             const uint8_t *buf, int64_t new_host)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t cstart = offset & ~(cs - 1), in = offset - cstart;
    unsigned first = (unsigned)(in >> s->subcluster_bits);
    unsigned last = (unsigned)((in + bytes - 1) >> s->subcluster_bits);
    uint64_t mask = sc_range_mask(first, last);
    uint64_t astart = (uint64_t)first << s->subcluster_bits;
    uint64_t aend = (uint64_t)(last + 1) << s->subcluster_bits;
    uint64_t cluster = offset >> s->cluster_bits;
    uint64_t idx = cluster & (s->l2_entries - 1);
    uint64_t l2_offset, *l2;
    int ret = qcow2_get_l2_for_write(s, cluster >> s->l2_bits, &l2_offset);
    if (ret == 0) {
        ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
    }
    if (ret < 0) {
        return ret;
    }
    uint64_t e = l2_entry_get(s, l2, idx), b = l2_bitmap_get(s, l2, idx);
    for (unsigned sc = 0; sc < 32; sc++) {
        if (qcow2_subcluster_type(s, e, b, sc) == QCOW2_SC_INVALID) {
            qcow2_signal_corruption(
                s, "Invalid cluster entry found  (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
                l2_offset, idx);
            return -EIO;
        }
    }
    uint64_t host = e & L2E_OFFSET_MASK;
    bool compressed = e & QCOW_OFLAG_COMPRESSED;
    bool has_host = host || (!compressed && qcow2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL);
    if (host && !compressed && (host & (cs - 1))) {
        qcow2_signal_corruption(s,
                                "Cluster allocation offset %#" PRIx64
                                " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
                                host, l2_offset, idx);
        return -EIO;
    }
    uint64_t nb = (b | mask) & ~(mask << 32);
    uint8_t *tmp = NULL;
    if (has_host && !compressed && (e & QCOW_OFLAG_COPIED)) {
        if ((b & mask) == mask) {
            BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
            ret = qcow2_write_data(s, host + in, bytes, buf);
        } else {
            tmp = g_malloc(cs);
            ret = read_cluster_part(bs, cstart, astart, in, tmp);
            if (ret == 0) {
                ret = read_cluster_part(bs, cstart, in + bytes, aend, tmp);
            }
            memcpy(tmp + in, buf, bytes);
            if (ret == 0) {
                BLKDBG_EVENT(bs->file, BLKDBG_COW_WRITE);
                ret = qcow2_write_data(s, host + astart, aend - astart, tmp + astart);
            }
            g_free(tmp);
        }
        if (ret == 0 && nb != b) {
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            if (ret == 0) {
                l2_bitmap_set(s, l2, idx, nb);
                qcow2_cache_mark_dirty(s->l2_cache, l2);
            }
        }
        return ret;
    }
    /* a new host cluster */
    uint64_t from = astart, to = aend;
    if (has_host || compressed) {
        from = 0;
        to = cs;
        if (compressed) {
            nb = QCOW_L2_BITMAP_ALL_ALLOC;
        }
    }
    tmp = g_malloc(cs);
    ret = read_cluster_part(bs, cstart, from, in, tmp);
    if (ret == 0) {
        ret = read_cluster_part(bs, cstart, in + bytes, to, tmp);
    }
    memcpy(tmp + in, buf, bytes);
    int64_t nh = new_host;
    if (ret == 0 && nh < 0) {
        nh = qcow2_alloc_data_clusters(s, cluster, 1);
        ret = nh < 0 ? (int)nh : 0;
    }
    if (ret == 0) {
        BLKDBG_EVENT(bs->file, from < in || in + bytes < to ? BLKDBG_COW_WRITE : BLKDBG_WRITE_AIO);
        ret = qcow2_write_data(s, (uint64_t)nh + from, to - from, tmp + from);
    }
    g_free(tmp);
    if (ret == 0) {
        ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
    }
    if (ret < 0) {
        return ret;
    }
    l2_entry_set(s, l2, idx, (uint64_t)nh | QCOW_OFLAG_COPIED);
    l2_bitmap_set(s, l2, idx, nb);
    qcow2_cache_mark_dirty(s->l2_cache, l2);
    if ((has_host || compressed) && ((uint64_t)nh != host || !qcow2_has_data_file(s))) {
        ret = qcow2_free_entry(s, e, false);
    }
    return ret;
}

static bool range_is_zero(BlockDriverState *bs, uint64_t offset, uint64_t bytes);

/* Write within the range of one L2 table. */
static int write_chunk(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const uint8_t *buf)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    if (s->extended_l2) {
        /* clusters needing new host clusters get them in one run (bounded like QEMU's by the
         * L2 slice), the others are written in place */
        inflight_wait(bs, offset >> s->cluster_bits, (offset + bytes - 1) >> s->cluster_bits,
                      QCOW2_INFLIGHT_WRITE);
        uint64_t l2_offset, *l2;
        int ret = qcow2_get_l2_for_write(s, (offset >> s->cluster_bits) >> s->l2_bits, &l2_offset);
        while (bytes && ret == 0) {
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            if (ret < 0) {
                break;
            }
            uint64_t c = offset >> s->cluster_bits;
            uint64_t idx = c & (s->l2_entries - 1);
            uint64_t last = (offset + bytes - 1) >> s->cluster_bits;
            uint64_t n = 1;
            int64_t host = -1;
            if (!in_place(s, l2_entry_get(s, l2, idx)) ||
                (l2_entry_get(s, l2, idx) & QCOW_OFLAG_COMPRESSED)) {
                uint64_t slice_end = (idx / s->slice_entries + 1) * s->slice_entries;
                while (c + n <= last && idx + n < slice_end &&
                       !in_place(s, l2_entry_get(s, l2, idx + n))) {
                    n++;
                }
                host = qcow2_alloc_data_clusters(s, c, n);
                if (host < 0) {
                    return (int)host;
                }
            }
            for (uint64_t i = 0; i < n && ret == 0; i++) {
                uint64_t len = MIN(bytes, cs - (offset & (cs - 1)));
                ret = write_cluster_ext(bs, offset, len, buf,
                                        host < 0 ? -1 : host + (int64_t)(i * cs));
                offset += len;
                buf += len;
                bytes -= len;
            }
        }
        return ret;
    }
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + bytes - 1) >> s->cluster_bits;
    uint64_t l2_offset, *l2;
    int ret = qcow2_get_l2_for_write(s, first >> s->l2_bits, &l2_offset);
    if (ret < 0) {
        return ret;
    }
    uint64_t c = first;
    while (c <= last) {
        /* an allocation in flight in the range: its mapping is not there yet (QEMU waits too) */
        inflight_wait(bs, c, last, QCOW2_INFLIGHT_WRITE);
        ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
        if (ret < 0) {
            return ret;
        }
        uint64_t idx = c & (s->l2_entries - 1);
        uint64_t e = l2_entry_get(s, l2, idx);
        uint64_t run_start = c << s->cluster_bits;
        if (write_in_place(s, e)) {
            uint64_t host = e & L2E_OFFSET_MASK;
            if (host & (cs - 1)) {
                qcow2_signal_corruption(s,
                                        "Cluster allocation offset %#" PRIx64
                                        " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64
                                        ")",
                                        host, l2_offset, idx);
                return -EIO;
            }
            uint64_t n = 1;
            bool zero_alloc = qcow2_entry_type(s, e) == QCOW2_CLUSTER_ZERO_ALLOC;
            while (c + n <= last) {
                uint64_t e2 = l2_entry_get(s, l2, idx + n);
                if (!write_in_place(s, e2) || (e2 & L2E_OFFSET_MASK) != host + n * cs) {
                    break;
                }
                zero_alloc |= qcow2_entry_type(s, e2) == QCOW2_CLUSTER_ZERO_ALLOC;
                n++;
            }
            uint64_t ws = MAX(offset, run_start), we = MIN(offset + bytes, (c + n) * cs);
            if (zero_alloc) {
                /*
                 * as QEMU's handle_copied(): zero-allocated clusters are kept, the parts of the
                 * first and last one the write leaves read as zeros, and the entries lose their
                 * zero flag once the data is there
                 */
                uint64_t from = ws, to = we;
                if (qcow2_entry_type(s, e) == QCOW2_CLUSTER_ZERO_ALLOC) {
                    from = run_start;
                }
                uint64_t el = l2_entry_get(s, l2, idx + n - 1);
                if (qcow2_entry_type(s, el) == QCOW2_CLUSTER_ZERO_ALLOC) {
                    to = (c + n) * cs;
                }
                uint8_t *tmp = g_malloc0(to - from);
                memcpy(tmp + (ws - from), buf + (ws - offset), we - ws);
                Qcow2InFlight *io = inflight_begin(bs, c, c + n - 1, QCOW2_INFLIGHT_ALLOC);
                BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
                ret = qcow2_write_data(s, host + (from - run_start), to - from, tmp);
                inflight_end(bs, io);
                g_free(tmp);
                if (ret == 0) {
                    ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
                }
                if (ret < 0) {
                    return ret;
                }
                for (uint64_t i = 0; i < n; i++) {
                    uint64_t ei = l2_entry_get(s, l2, idx + i);
                    l2_entry_set(s, l2, idx + i, ei & ~QCOW_OFLAG_ZERO);
                }
                qcow2_cache_mark_dirty(s->l2_cache, l2);
                c += n;
                continue;
            }
            Qcow2InFlight *io = inflight_begin(bs, c, c + n - 1, QCOW2_INFLIGHT_WRITE);
            BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
            ret = qcow2_write_data(s, host + (ws - run_start), we - ws, buf + (ws - offset));
            inflight_end(bs, io);
            if (ret < 0) {
                return ret;
            }
            c += n;
            continue;
        }
        /* allocate a run of clusters, bounded like QEMU's by the L2 slice */
        uint64_t slice_end = (idx / s->slice_entries + 1) * s->slice_entries;
        uint64_t n = 1;
        while (c + n <= last && idx + n < slice_end &&
               !write_in_place(s, l2_entry_get(s, l2, idx + n))) {
            n++;
        }
        uint64_t *old = g_new(uint64_t, n);
        int64_t host = qcow2_alloc_data_clusters(s, c, n);
        if (host < 0) {
            g_free(old);
            return (int)host;
        }
        uint64_t run_end = (c + n) * cs;
        uint64_t ws = MAX(offset, run_start), we = MIN(offset + bytes, run_end);
        if (ws == run_start && we == run_end) {
            /* the new clusters are not linked yet: others may run meanwhile (QEMU's l2meta) */
            Qcow2InFlight *io = inflight_begin(bs, c, c + n - 1, QCOW2_INFLIGHT_ALLOC);
            BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
            ret = qcow2_write_data(s, (uint64_t)host, n * cs, buf + (ws - offset));
            inflight_end(bs, io);
        } else {
            uint8_t *tmp = g_malloc(n * cs);
            ret = 0;
            /* QEMU zeroes COW areas that read as zero instead of copying them */
            bool zero_cow = !qcow2_has_data_file(s) &&
                            (ws == run_start || range_is_zero(bs, run_start, ws - run_start)) &&
                            (we == run_end || range_is_zero(bs, we, run_end - we));
            /* like QEMU's perform_cow, the COW runs without the node lock; its reads take it
             * for their metadata lookups */
            Qcow2InFlight *io = inflight_begin(bs, c, c + n - 1, QCOW2_INFLIGHT_ALLOC);
            BLKDBG_EVENT(bs->file, zero_cow ? BLKDBG_CLUSTER_ALLOC_SPACE : BLKDBG_COW_READ);
            bdrv_req_relock(bs, io != NULL);
            if (ws > run_start) {
                ret = cow_read(bs, run_start, ws - run_start, tmp);
            }
            if (ret == 0 && we < run_end) {
                ret = cow_read(bs, we, run_end - we, tmp + (we - run_start));
            }
            if (io) {
                bdrv_req_unlock(bs);
            }
            memcpy(tmp + (ws - run_start), buf + (ws - offset), we - ws);
            if (ret == 0) {
                BLKDBG_EVENT(bs->file, zero_cow ? BLKDBG_WRITE_AIO : BLKDBG_COW_WRITE);
                ret = qcow2_write_data(s, (uint64_t)host, n * cs, tmp);
            }
            inflight_end(bs, io);
            g_free(tmp);
        }
        if (ret == 0) {
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
        }
        if (ret < 0) {
            g_free(old);
            return ret;
        }
        /* what is linked now is replaced (and freed), as QEMU's link_l2 does */
        for (uint64_t i = 0; i < n; i++) {
            old[i] = l2_entry_get(s, l2, idx + i);
            l2_entry_set(s, l2, idx + i, ((uint64_t)host + i * cs) | QCOW_OFLAG_COPIED);
        }
        qcow2_cache_mark_dirty(s->l2_cache, l2);
        /* reads that started on the old clusters meanwhile end before those are freed */
        inflight_wait(bs, c, c + n - 1, QCOW2_INFLIGHT_MODIFY);
        ret = free_old_entries(s, old, n, false);
        g_free(old);
        if (ret < 0) {
            return ret;
        }
        c += n;
    }
    return 0;
}

static int write_compressed(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                            const uint8_t *buf)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    if (offset & (cs - 1)) {
        return -EINVAL;
    }
    if (bytes != cs && offset + bytes != s->size) {
        /* several clusters: one at a time */
        if (bytes > cs && !(bytes % cs || offset + bytes == s->size)) {
            return -EINVAL;
        }
        if (bytes < cs) {
            return -EINVAL;
        }
    }
    while (bytes) {
        uint64_t n = MIN(bytes, cs);
        uint8_t *src = g_malloc0(cs);
        memcpy(src, buf, n);
        uint8_t *out = g_malloc(cs);
        z_stream zs = {0};
        int ret = 0;
        if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
            ret = -EIO;
        }
        size_t clen = 0;
        bool compressed = false;
        if (ret == 0) {
            zs.next_in = src;
            zs.avail_in = (uInt)cs;
            zs.next_out = out;
            zs.avail_out = (uInt)(cs - 1);
            int zr = deflate(&zs, Z_FINISH);
            if (zr == Z_STREAM_END) {
                clen = (cs - 1) - zs.avail_out;
                compressed = true;
            }
            deflateEnd(&zs);
        }
        if (ret == 0 && !compressed) {
            ret = write_chunk(bs, offset, n, src);
        } else if (ret == 0) {
            uint64_t e, cnt;
            ret = qcow2_get_entry(s, offset, 1, &e, &cnt);
            if (ret == 0 && (e & L2E_OFFSET_MASK) != 0) {
                /* like QEMU: only into clusters without a host cluster (zero ones too) */
                ret = -EIO;
            }
            uint64_t l2_offset = 0, *l2;
            if (ret == 0) {
                ret = qcow2_get_l2_for_write(s, (offset >> s->cluster_bits) >> s->l2_bits,
                                             &l2_offset);
            }
            int64_t host = 0;
            if (ret == 0) {
                host = qcow2_alloc_bytes(s, clen);
                ret = host < 0 ? (int)host : 0;
            }
            if (ret == 0) {
                BLKDBG_EVENT(s->file, BLKDBG_WRITE_COMPRESSED);
                ret = qcow2_write_data(s, (uint64_t)host, clen, out);
            }
            if (ret == 0) {
                ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            }
            if (ret == 0) {
                uint64_t idx = (offset >> s->cluster_bits) & (s->l2_entries - 1);
                BLKDBG_EVENT(s->file, BLKDBG_L2_UPDATE_COMPRESSED);
                l2_entry_set(s, l2, idx,
                             qcow2_compressed_entry(s->cluster_bits, (uint64_t)host, clen));
                l2_bitmap_set(s, l2, idx, 0);
                qcow2_cache_mark_dirty(s->l2_cache, l2);
            }
        }
        g_free(src);
        g_free(out);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        buf += n;
        bytes -= n;
    }
    return 0;
}

static int qcow2_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                        int flags)
{
    BDRVQcow2State *s = bs->opaque;
    if (s->dead) {
        return -ENOMEDIUM;
    }
    const uint8_t *p = buf;
    if (flags & BDRV_REQ_COMPRESSED) {
        inflight_wait(bs, offset >> s->cluster_bits, (offset + bytes - 1) >> s->cluster_bits,
                      QCOW2_INFLIGHT_MODIFY);
        if (qcow2_has_data_file(s)) {
            return -ENOTSUP;
        }
        return write_compressed(bs, offset, bytes, p);
    }
    uint64_t per_l2 = s->cluster_size << s->l2_bits;
    while (bytes) {
        uint64_t n = MIN(bytes, per_l2 - (offset & (per_l2 - 1)));
        int ret = write_chunk(bs, offset, n, p);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    return 0;
}

/* Set whole clusters [offset, +bytes) (within one L2) to zero or discard them. */
static int zero_or_discard_chunk(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                 bool discard, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t n = (bytes + s->cluster_size - 1) >> s->cluster_bits;
    uint64_t l1_index = first >> s->l2_bits;
    /* clusters dropped by a request are punched out when the image passes discards down */
    bool punch = discard || (bs->open_flags & BDRV_O_UNMAP);
    if (s->version < 3) {
        /* v2 has no zero flag: a zero write (only sent here without a backing file) drops the
         * clusters instead, as QEMU does, so that they read as zero */
        discard = true;
    }
    /* (a discard where no L2 table exists allocates one all the same, as QEMU does) */
    uint64_t l2_offset, *l2;
    int ret = qcow2_get_l2_for_write(s, l1_index, &l2_offset);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
    if (ret < 0) {
        return ret;
    }
    uint64_t idx = first & (s->l2_entries - 1);
    uint64_t *old = g_new0(uint64_t, n);
    bool changed = false;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = l2_entry_get(s, l2, idx + i);
        uint64_t b = l2_bitmap_get(s, l2, idx + i);
        Qcow2ClusterType t = qcow2_entry_type(s, e);
        uint64_t ne, nb = 0;
        if (s->extended_l2 && t == QCOW2_CLUSTER_ZERO_ALLOC) {
            t = QCOW2_CLUSTER_NORMAL; /* bit 0 means nothing with extended L2 */
        }
        bool alloc = t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC ||
                     t == QCOW2_CLUSTER_COMPRESSED;
        /* with extended L2, "zero cluster" is an all-zeroes subcluster bitmap */
        bool zero_plain = s->extended_l2 ? (!alloc && b == QCOW_L2_BITMAP_ALL_ZEROES)
                                         : t == QCOW2_CLUSTER_ZERO_PLAIN;
        uint64_t zflag = s->extended_l2 ? 0 : QCOW_OFLAG_ZERO;
        uint64_t zbits = s->extended_l2 ? QCOW_L2_BITMAP_ALL_ZEROES : 0;
        if (discard) {
            if (!alloc && !bs->backing) {
                continue;
            }
            if (zero_plain) {
                continue;
            }
            ne = s->version >= 3 ? zflag : 0;
            nb = zbits;
            if (alloc) {
                old[i] = e;
            }
        } else if (!(flags & BDRV_REQ_MAY_UNMAP) &&
                   (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC)) {
            /*
             * as QEMU: the host cluster stays, also one shared with a snapshot (no COPIED
             * flag: a later write still copies it)
             */
            ne = e | zflag;
            nb = zbits;
        } else {
            ne = zflag;
            nb = zbits;
            if (alloc) {
                old[i] = e;
            }
        }
        if (ne != e || nb != b) {
            l2_entry_set(s, l2, idx + i, ne);
            l2_bitmap_set(s, l2, idx + i, nb);
            changed = true;
        }
    }
    if (changed) {
        qcow2_cache_mark_dirty(s->l2_cache, l2);
    }
    ret = free_old_entries(s, old, n, punch);
    g_free(old);
    return ret;
}

static int for_each_l2_chunk(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool discard,
                             int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per_l2 = s->cluster_size << s->l2_bits;
    while (bytes) {
        uint64_t n = MIN(bytes, per_l2 - (offset & (per_l2 - 1)));
        int ret = zero_or_discard_chunk(bs, offset, n, discard, flags);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

/* Does [offset, +bytes) read as zero, looking through the backing chain (QEMU's is_zero)? */
static bool range_is_zero(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    while (bytes) {
        BlockDriverState *p = bs;
        uint64_t n = 0;
        for (;;) {
            int ret = bdrv_block_status(p, offset, bytes, &n, NULL, NULL);
            if (ret < 0 || n == 0) {
                return false;
            }
            if (ret & BDRV_BLOCK_ZERO) {
                break;
            }
            if ((ret & BDRV_BLOCK_ALLOCATED) || !p->backing) {
                return false;
            }
            bytes = MIN(bytes, n);
            p = p->backing;
        }
        offset += n;
        bytes -= MIN(bytes, n);
    }
    return true;
}

/* Extended L2: make the subclusters of [offset, +bytes) (inside one cluster) read as zero. */
static int zero_subclusters(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cluster = offset >> s->cluster_bits;
    uint64_t in = offset & (s->cluster_size - 1);
    uint64_t idx = cluster & (s->l2_entries - 1);
    uint64_t mask = sc_range_mask((unsigned)(in >> s->subcluster_bits),
                                  (unsigned)((in + bytes - 1) >> s->subcluster_bits));
    uint64_t l2_offset, *l2;
    int ret = qcow2_get_l2_for_write(s, cluster >> s->l2_bits, &l2_offset);
    if (ret == 0) {
        ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
    }
    if (ret < 0) {
        return ret;
    }
    uint64_t e = l2_entry_get(s, l2, idx), b = l2_bitmap_get(s, l2, idx);
    if (e & QCOW_OFLAG_COMPRESSED) {
        return -ENOTSUP;
    }
    uint64_t nb = (b | (mask << 32)) & ~mask;
    if (nb != b) {
        l2_bitmap_set(s, l2, idx, nb);
        qcow2_cache_mark_dirty(s->l2_cache, l2);
    }
    return 0;
}

/*
 * Zero [offset, +bytes), aligned to subclusters (to clusters without extended L2; the end may
 * be the image's unaligned end). With extended L2 a partial cluster at either end gets zero
 * subclusters; one that cannot (compressed) fails the whole request with -ENOTSUP, as QEMU's
 * qcow2_subcluster_zeroize() does (the head before anything is changed, the tail after the
 * whole clusters): the caller then writes zeroes over all of it.
 */
static int zero_range(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    if (!s->extended_l2) {
        return for_each_l2_chunk(bs, offset, bytes, false, flags);
    }
    uint64_t cs = s->cluster_size;
    uint64_t end = offset + bytes;
    uint64_t vend = (s->size + 511) & ~511ULL;
    uint64_t mid = MIN(end, (offset + cs - 1) & ~(cs - 1));
    uint64_t tail = end >= vend ? 0 : end - MAX(mid, end & ~(cs - 1));
    uint64_t mend = end - tail;
    int ret = 0;
    if (mid > offset) {
        ret = zero_subclusters(bs, offset, mid - offset);
    }
    if (ret == 0 && mend > mid) {
        ret = for_each_l2_chunk(bs, mid, mend - mid, false, flags);
    }
    if (ret == 0 && tail) {
        ret = zero_subclusters(bs, mend, tail);
    }
    return ret;
}

/* A zero write covering part of one unit (cluster, or subcluster with extended L2): zero the
 * whole unit if the rest already reads as zero and it holds no data (as QEMU does); -ENOTSUP
 * otherwise. */
static int zero_partial_cluster(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t unit = s->subcluster_size;
    uint64_t cstart = offset & ~(unit - 1);
    uint64_t cend = MIN(cstart + unit, (s->size + 511) & ~511ULL);
    if (!range_is_zero(bs, cstart, offset - cstart) ||
        !range_is_zero(bs, offset + bytes, cend - (offset + bytes))) {
        return -ENOTSUP;
    }
    int ret;
    if (s->extended_l2) {
        uint64_t e, b, run;
        Qcow2SubclusterType t;
        ret = qcow2_get_subcluster(s, cstart, unit, &e, &b, &t, &run);
        if (ret < 0) {
            return ret;
        }
        if (t == QCOW2_SC_NORMAL || t == QCOW2_SC_COMPRESSED) {
            return -ENOTSUP;
        }
        return zero_subclusters(bs, cstart, unit);
    }
    uint64_t e, n;
    ret = qcow2_get_entry(s, cstart, 1, &e, &n);
    if (ret < 0) {
        return ret;
    }
    Qcow2ClusterType t = qcow2_entry_type(s, e);
    if (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_COMPRESSED) {
        return -ENOTSUP;
    }
    return for_each_l2_chunk(bs, cstart, unit, false, flags);
}

/*
 * One request of QEMU's block layer to the driver: [offset, +bytes) either lies inside one unit
 * (partial: zeroed whole if the rest of the unit reads as zero) or is aligned to units. What the
 * driver cannot zero is written as zeroes, this request as a whole.
 */
static int zero_request(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t unit = s->subcluster_size;
    uint64_t end = offset + bytes;
    uint64_t vend = (s->size + 511) & ~511ULL;
    bool partial = (offset & (unit - 1)) || ((end & (unit - 1)) && end != vend);
    int ret;
    if (s->version < 3 && bs->backing) {
        ret = -ENOTSUP; /* no zero flag in v2 */
    } else if (partial) {
        ret = zero_partial_cluster(bs, offset, bytes, flags);
    } else {
        ret = zero_range(bs, offset, bytes, flags);
    }
    if (ret == -ENOTSUP && !(flags & BDRV_REQ_NO_FALLBACK)) {
        uint8_t *z = g_malloc0(bytes);
        ret = qcow2_pwrite(bs, offset, bytes, z, 0);
        g_free(z);
    }
    return ret;
}

static int qcow2_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    inflight_wait(bs, offset >> ((BDRVQcow2State *)bs->opaque)->cluster_bits,
                  (offset + bytes - 1) >> ((BDRVQcow2State *)bs->opaque)->cluster_bits,
                  QCOW2_INFLIGHT_MODIFY);
    BDRVQcow2State *s = bs->opaque;
    if (s->dead) {
        return -ENOMEDIUM;
    }
    uint64_t unit = s->subcluster_size; /* the zeroing unit */
    if (s->version < 3 && (flags & BDRV_REQ_NO_FALLBACK)) {
        /* v2 has no zero flag: QEMU refuses these before reaching the driver (without a
         * backing file, unallocated clusters read as zero and zero_or_discard_chunk drops the
         * clusters instead) */
        return -ENOTSUP;
    }
    int ret;
    if (s->data_file && (s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
        /* a raw data file must read like the guest */
        ret = bdrv_pwrite_zeroes(s->data_file, offset, bytes, flags & BDRV_REQ_MAY_UNMAP);
        if (ret < 0) {
            return ret;
        }
    }
    /* split as QEMU's block layer does: an unaligned head, the aligned bulk, an unaligned tail */
    uint64_t end = offset + bytes;
    if (offset & (unit - 1)) {
        uint64_t n = MIN(bytes, unit - (offset & (unit - 1)));
        ret = zero_request(bs, offset, n, flags);
        if (ret < 0) {
            return ret;
        }
        offset += n;
    }
    while (offset < end) {
        uint64_t n = end - offset;
        uint64_t tail = end & (unit - 1);
        if (tail && n > unit) {
            n -= tail;
        }
        ret = zero_request(bs, offset, n, flags);
        if (ret < 0) {
            return ret;
        }
        offset += n;
    }
    return 0;
}

static int qcow2_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    inflight_wait(bs, offset >> ((BDRVQcow2State *)bs->opaque)->cluster_bits,
                  (offset + bytes - 1) >> ((BDRVQcow2State *)bs->opaque)->cluster_bits,
                  QCOW2_INFLIGHT_MODIFY);
    BDRVQcow2State *s = bs->opaque;
    if (s->dead) {
        return -ENOMEDIUM;
    }
    if (s->version < 3 && bs->backing) {
        /*
         * v2 has no zero flag: a discarded cluster would show the backing file's data. QEMU
         * refuses (-ENOTSUP, which a discard request ignores), and so the clusters stay.
         */
        return 0;
    }
    uint64_t cs = s->cluster_size;
    uint64_t end = offset + bytes;
    uint64_t astart = (offset + cs - 1) & ~(cs - 1);
    uint64_t aend = end == s->size ? (end + cs - 1) & ~(cs - 1) : end & ~(cs - 1);
    if (astart >= aend) {
        return 0;
    }
    return for_each_l2_chunk(bs, astart, aend - astart, true, 0);
}

static int qcow2_flush(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    if (s->dead) {
        return -ENOMEDIUM;
    }
    int ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    return ret;
}

/*
 * QEMU's heuristic: an image is taken as preallocated with metadata when clearly more of its
 * clusters are in use (refcount > 0) than the file has allocated on the host.
 */
static bool detect_metadata_prealloc(BDRVQcow2State *s)
{
    int64_t len = bdrv_getlength(s->file), real = bdrv_allocated_size(s->file);
    if (len < 0 || real < 0) {
        return false;
    }
    int64_t real_clusters = real / s->cluster_size;
    int64_t threshold = MAX(real_clusters * 10 / 9, real_clusters + 2);
    int64_t end = (len + s->cluster_size - 1) >> s->cluster_bits, used = 0;
    for (int64_t i = 0; i < end && used < threshold; i++) {
        uint64_t rc = 0;
        if (qcow2_get_refcount(s, (uint64_t)i, &rc) < 0) {
            return false;
        }
        used += rc != 0;
    }
    return used >= threshold;
}

static int block_status_entry(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              uint64_t *pnum, uint64_t *map, BlockDriverState **file);

static int qcow2_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                              uint64_t *map, BlockDriverState **file)
{
    BDRVQcow2State *s = bs->opaque;
    if (s->dead) {
        return -ENOMEDIUM;
    }
    if (s->metadata_prealloc < 0) {
        s->metadata_prealloc = detect_metadata_prealloc(s);
    }
    int st = block_status_entry(bs, offset, bytes, pnum, map, file);
    if (st > 0 && s->metadata_prealloc && (st & BDRV_BLOCK_DATA) &&
        (st & BDRV_BLOCK_OFFSET_VALID)) {
        st |= BDRV_BLOCK_RECURSE; /* the host cluster may be a hole */
    }
    return st;
}

static int block_status_entry(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              uint64_t *pnum, uint64_t *map, BlockDriverState **file)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in_cluster = offset & (s->cluster_size - 1);
    if (s->extended_l2) {
        uint64_t e, b;
        Qcow2SubclusterType t;
        int ret = qcow2_get_subcluster(s, offset, bytes, &e, &b, &t, pnum);
        if (ret < 0) {
            return ret;
        }
        int st = 0;
        if (t == QCOW2_SC_NORMAL || t == QCOW2_SC_ZERO_ALLOC || t == QCOW2_SC_UNALLOCATED_ALLOC) {
            *map = (e & L2E_OFFSET_MASK) + in_cluster;
            *file = qcow2_data(s);
            st |= BDRV_BLOCK_OFFSET_VALID;
        }
        if (t == QCOW2_SC_ZERO_PLAIN || t == QCOW2_SC_ZERO_ALLOC) {
            st |= BDRV_BLOCK_ZERO;
        } else if (t == QCOW2_SC_NORMAL || t == QCOW2_SC_COMPRESSED) {
            st |= BDRV_BLOCK_DATA;
            if (t == QCOW2_SC_COMPRESSED) {
                *file = s->file;
                st |= BDRV_BLOCK_COMPRESSED;
            }
        }
        return st;
    }
    uint64_t max_clusters = (in_cluster + bytes + s->cluster_size - 1) >> s->cluster_bits;
    uint64_t e, n;
    int ret = qcow2_get_entry(s, offset, max_clusters, &e, &n);
    if (ret < 0) {
        return ret;
    }
    *pnum = MIN(bytes, n * s->cluster_size - in_cluster);
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
        return 0;
    case QCOW2_CLUSTER_ZERO_PLAIN:
        return BDRV_BLOCK_ZERO;
    case QCOW2_CLUSTER_ZERO_ALLOC:
        *map = (e & L2E_OFFSET_MASK) + in_cluster;
        *file = qcow2_data(s);
        return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
    case QCOW2_CLUSTER_NORMAL:
        *map = (e & L2E_OFFSET_MASK) + in_cluster;
        *file = qcow2_data(s);
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    case QCOW2_CLUSTER_COMPRESSED:
        *file = s->file;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_COMPRESSED;
    }
    return 0;
}

/*
 * A range inside one cluster that is plainly allocated (all its subclusters, with extended
 * L2) maps to the data file; writes also need the cluster in place (COPIED), so that they
 * change no metadata.
 */
static bool qcow2_io_map(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool write,
                         BlockDriverState **file, uint64_t *host)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size, in = offset & (cs - 1);
    BlockDriverState *data = qcow2_has_data_file(s) ? s->data_file : s->file;
    if (!bytes || in + bytes > cs || !data || (write && s->read_only) || s->dead) {
        return false;
    }
    uint64_t c = offset >> s->cluster_bits, l1i = c >> s->l2_bits;
    if (l1i >= s->l1_size) {
        return false;
    }
    uint64_t l2_offset = s->l1[l1i] & L1E_OFFSET_MASK, *l2;
    if (!l2_offset || (l2_offset & (cs - 1)) ||
        qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2) < 0) {
        return false;
    }
    uint64_t idx = c & (s->l2_entries - 1);
    uint64_t e = l2_entry_get(s, l2, idx), off = e & L2E_OFFSET_MASK;
    if ((e & QCOW_OFLAG_COMPRESSED) || (off & (cs - 1)) || (write && !(e & QCOW_OFLAG_COPIED))) {
        return false;
    }
    if (s->extended_l2) {
        uint64_t b = l2_bitmap_get(s, l2, idx);
        uint64_t m = sc_range_mask((unsigned)(in >> s->subcluster_bits),
                                   (unsigned)((in + bytes - 1) >> s->subcluster_bits));
        if (!off || (b & m) != m || ((b >> 32) & m)) {
            return false;
        }
    } else if (qcow2_entry_type(s, e) != QCOW2_CLUSTER_NORMAL) {
        return false;
    }
    if (!off && !(qcow2_has_data_file(s) && (e & QCOW_OFLAG_COPIED))) {
        return false;
    }
    /*
     * A write onto metadata (a corrupt image) takes the slow path, whose overlap check marks
     * the image corrupt and fails the write as QEMU's does.
     */
    if (write && !qcow2_has_data_file(s) && qcow2_check_metadata_overlap(s, 0, off + in, bytes)) {
        return false;
    }
    *file = data;
    *host = off + in;
    return true;
}

static int64_t qcow2_getlength(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    return (int64_t)s->size;
}

static uint64_t vm_state_offset(BDRVQcow2State *s);
static int qcow2_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVQcow2State *s = bs->opaque;
    bdi->cluster_size = (int)s->cluster_size;
    bdi->vm_state_offset = (int64_t)vm_state_offset(s);
    bdi->is_dirty = (s->incompat & QCOW2_INCOMPAT_DIRTY) != 0;
    bdi->persistent_bitmaps = s->version >= 3;
    return 0;
}

static int write_header_field(BDRVQcow2State *s, uint64_t off, const void *data, size_t len)
{
    int ret = bdrv_pwrite(s->file, off, len, data, 0);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    return ret;
}

static int grow_l1(BDRVQcow2State *s, uint32_t new_size)
{
    if (new_size <= s->l1_size) {
        return 0;
    }
    if ((uint64_t)new_size * 8 > QCOW_MAX_L1_SIZE) {
        return -EFBIG;
    }
    int ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        return ret;
    }
    uint64_t bytes = (uint64_t)new_size * 8;
    uint64_t nclusters = (bytes + s->cluster_size - 1) >> s->cluster_bits;
    BLKDBG_EVENT(s->file, BLKDBG_L1_GROW_ALLOC_TABLE);
    int64_t off = qcow2_alloc_clusters(s, nclusters);
    if (off < 0) {
        return (int)off;
    }
    ret = qcow2_cache_write_dirty(s, s->rb_cache);
    if (ret < 0) {
        return ret;
    }
    uint64_t *nl1 = g_new0(uint64_t, new_size);
    uint64_t *be = g_new0(uint64_t, new_size);
    memcpy(nl1, s->l1, (size_t)s->l1_size * 8);
    for (uint32_t i = 0; i < new_size; i++) {
        be[i] = GUINT64_TO_BE(nl1[i]);
    }
    BLKDBG_EVENT(s->file, BLKDBG_L1_GROW_WRITE_TABLE);
    ret = qcow2_write_meta(s, 0, (uint64_t)off, bytes, be);
    g_free(be);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        g_free(nl1);
        return ret;
    }
    uint8_t f[12];
    wr32(f, new_size);
    wr64(f + 4, (uint64_t)off);
    BLKDBG_EVENT(s->file, BLKDBG_L1_GROW_ACTIVATE_TABLE);
    ret = write_header_field(s, 36, f, 12);
    if (ret < 0) {
        g_free(nl1);
        return ret;
    }
    uint64_t old_off = s->l1_offset;
    uint32_t old_size = s->l1_size;
    g_free(s->l1);
    s->l1 = nl1;
    s->l1_size = new_size;
    s->l1_offset = (uint64_t)off;
    if (old_size) {
        ret = qcow2_free_clusters(s, old_off, (uint64_t)old_size * 8, false);
    }
    return ret;
}

int qcow2_grow_l1_exact(BDRVQcow2State *s, uint32_t new_size)
{
    return grow_l1(s, new_size);
}

/* Allocate L2 tables and data clusters (not written) for [start, end), as QEMU does. */
static int preallocate(BlockDriverState *bs, uint64_t start, uint64_t end, uint64_t *host_end)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t c = start >> s->cluster_bits;
    uint64_t last = (end + cs - 1) >> s->cluster_bits;
    uint64_t first = c, head = start & (cs - 1);
    *host_end = 0;
    while (c < last) {
        uint64_t l2_offset, *l2;
        int ret = qcow2_get_l2_for_write(s, c >> s->l2_bits, &l2_offset);
        if (ret < 0) {
            return ret;
        }
        ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
        if (ret < 0) {
            return ret;
        }
        uint64_t idx = c & (s->l2_entries - 1);
        uint64_t e0 = l2_entry_get(s, l2, idx);
        /*
         * A partial first cluster (the old size was not cluster-aligned) that cannot be used
         * in place gets a new cluster holding what reads saw before the old end (QEMU's
         * copy-on-write of the allocation's head); other clusters only when unallocated.
         */
        bool cow_head = c == first && head && !in_place(s, e0);
        if (e0 != 0 && !cow_head) {
            c++;
            continue;
        }
        uint64_t slice_end = (idx / s->slice_entries + 1) * s->slice_entries;
        uint64_t n = 1;
        while (c + n < last && idx + n < slice_end && l2_entry_get(s, l2, idx + n) == 0) {
            n++;
        }
        uint8_t *tmp = NULL;
        uint64_t from = 0;
        if (cow_head) {
            if (s->extended_l2) {
                /* QEMU copies from the first allocated subcluster (or the one written) */
                uint64_t alloc = l2_bitmap_get(s, l2, idx) & QCOW_L2_BITMAP_ALL_ALLOC;
                uint64_t sc = head >> s->subcluster_bits;
                if (!(e0 & QCOW_OFLAG_COMPRESSED) && alloc &&
                    (uint64_t)__builtin_ctzll(alloc) < sc) {
                    sc = (uint64_t)__builtin_ctzll(alloc);
                }
                from = (e0 & QCOW_OFLAG_COMPRESSED) ? 0 : sc << s->subcluster_bits;
            }
            tmp = g_malloc(cs);
            ret = read_cluster_part(bs, c << s->cluster_bits, from, head, tmp);
            if (ret < 0) {
                g_free(tmp);
                return ret;
            }
        }
        int64_t host = qcow2_alloc_data_clusters(s, c, n);
        if (host < 0) {
            g_free(tmp);
            return (int)host;
        }
        if (tmp) {
            ret = qcow2_write_data(s, (uint64_t)host + from, head - from, tmp + from);
            g_free(tmp);
            if (ret < 0) {
                return ret;
            }
        }
        ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
        if (ret < 0) {
            return ret;
        }
        for (uint64_t i = 0; i < n; i++) {
            l2_entry_set(s, l2, idx + i, ((uint64_t)host + i * cs) | QCOW_OFLAG_COPIED);
        }
        qcow2_cache_mark_dirty(s->l2_cache, l2);
        if (cow_head && e0 != 0) {
            ret = free_old_entries(s, &e0, 1, false);
            if (ret < 0) {
                return ret;
            }
        }
        /* QEMU's copy-on-write of the last cluster's tail ends with the unit (subcluster
         * with extended L2) holding the image's end: the file (or data file) ends there */
        uint64_t used = n * cs;
        if (c + n == last && (end & (cs - 1))) {
            uint64_t sc = s->subcluster_size;
            used = (n - 1) * cs + (((end & (cs - 1)) + sc - 1) & ~(sc - 1));
        }
        *host_end = MAX(*host_end, (uint64_t)host + used);
        c += n;
    }
    return 0;
}

/*
 * preallocation=falloc|full, as QEMU: new refcount structures right after the file covering
 * everything to come, the data clusters in one run after them (the file grown with the host's
 * preallocation), then the L2 entries, slice by slice.
 */
static int preallocate_area(BlockDriverState *bs, uint64_t old, uint64_t size, PreallocMode pm,
                            bool zero_new, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    int64_t flen = bdrv_getlength(s->file);
    if (flen < 0) {
        block_error_errno(errp, (int)flen, "Failed to get the file size");
        return (int)flen;
    }
    int ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        block_error_errno(errp, ret, "Preallocation failed");
        return ret;
    }
    uint64_t old_file_size = ((uint64_t)flen + cs - 1) & ~(cs - 1);
    uint64_t first = old >> s->cluster_bits;
    uint64_t nb_data = ((size + cs - 1) >> s->cluster_bits) - first;
    uint64_t nb_l2 = (nb_data + s->l2_entries - 1) / s->l2_entries + 1;
    int64_t start = qcow2_refcount_area(s, old_file_size, nb_data + nb_l2, true, 0, 0);
    if (start < 0) {
        block_error_errno(errp, (int)start, "Failed to resize refcount structures");
        return (int)start;
    }
    int64_t got = qcow2_alloc_clusters_at(s, (uint64_t)start, nb_data);
    if (got < 0 || (uint64_t)got != nb_data) {
        block_error_errno(errp, got < 0 ? (int)got : -EIO, "Failed to allocate data clusters");
        return got < 0 ? (int)got : -EIO;
    }
    ret = s->file->drv->truncate(s->file, (uint64_t)start + nb_data * cs, false, pm, errp);
    if (ret < 0) {
        return ret;
    }
    uint64_t host = (uint64_t)start, c = first;
    while (nb_data) {
        uint64_t idx = c & (s->l2_entries - 1);
        uint64_t n = MIN(nb_data, s->slice_entries - idx % s->slice_entries);
        uint64_t l2_offset, *l2;
        ret = qcow2_get_l2_for_write(s, c >> s->l2_bits, &l2_offset);
        if (ret == 0) {
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
        }
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to update L2 tables");
            return ret;
        }
        uint64_t oldv[1] = {l2_entry_get(s, l2, idx)};
        uint64_t head = c == first ? old & (cs - 1) : 0;
        if (head) {
            /*
             * a partial first cluster: QEMU copies what reads saw before the old end
             * (its own data, zeros, or the backing file's) into the new cluster
             */
            uint8_t *tmp = g_malloc(head);
            ret = do_read(bs, c << s->cluster_bits, head, tmp);
            if (ret == 0) {
                ret = qcow2_write_data(s, host, head, tmp);
            }
            g_free(tmp);
            if (ret == 0) {
                ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            }
            if (ret < 0) {
                return ret;
            }
        }
        for (uint64_t i = 0; i < n; i++) {
            /*
             * growing over a longer backing file, QEMU marks every subcluster allocated so
             * that the new zeros are read instead of the backing file's data
             */
            l2_entry_set(s, l2, idx + i, (host + i * cs) | QCOW_OFLAG_COPIED);
            l2_bitmap_set(s, l2, idx + i, zero_new ? QCOW_L2_BITMAP_ALL_ALLOC : 0);
        }
        qcow2_cache_mark_dirty(s->l2_cache, l2);
        if (oldv[0] && qcow2_entry_type(s, oldv[0]) != QCOW2_CLUSTER_UNALLOCATED) {
            ret = free_old_entries(s, oldv, 1, false);
            if (ret < 0) {
                return ret;
            }
        }
        c += n;
        host += n * cs;
        nb_data -= n;
    }
    ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        block_error_errno(errp, ret, "Preallocation failed");
    }
    return ret;
}

/*
 * Growing over a backing file longer than the old size: the new area must read as zeros, not
 * as the backing file's data (QEMU's BDRV_REQ_ZERO_WRITE truncate). Whole (sub)clusters get the
 * zero flag, keeping any preallocated host clusters; the rest of the old last (sub)cluster gets
 * explicit zeros. v2 images have no zero flag: -ENOTSUP, as in QEMU.
 */
static int zero_grown_area(BlockDriverState *bs, uint64_t old, uint64_t size, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size, sc = s->subcluster_size;
    uint64_t zstart = MIN((old + sc - 1) & ~(sc - 1), size);
    int ret = 0;
    if (size > zstart) {
        if (s->data_file && (s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
            ret = bdrv_pwrite_zeroes(s->data_file, zstart, size - zstart, 0);
        }
        if (ret == 0 && s->version < 3) {
            ret = -ENOTSUP;
        }
        uint64_t cstart = MIN((zstart + cs - 1) & ~(cs - 1), size);
        if (ret == 0 && cstart > zstart) {
            ret = zero_subclusters(bs, zstart, cstart - zstart);
        }
        uint64_t cend = (size + cs - 1) & ~(cs - 1);
        if (ret == 0 && cend > cstart) {
            ret = for_each_l2_chunk(bs, cstart, cend - cstart, false, 0);
        }
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to zero out new clusters");
            return ret;
        }
    }
    if (zstart > old) {
        uint8_t *z = g_malloc0(zstart - old);
        ret = qcow2_pwrite(bs, old, zstart - old, z, 0);
        g_free(z);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to zero out the new area");
            return ret;
        }
    }
    return 0;
}

static int qcow2_truncate(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                          char **errp)
{
    while (((BDRVQcow2State *)bs->opaque)->inflight && bdrv_req_unlock(bs)) {
        /* shrinking or growing: every request in flight ends first */
        BDRVQcow2State *st = bs->opaque;
        if (!st->inflight_waiters) {
            st->inflight_waiters = g_ptr_array_new();
        }
        g_ptr_array_add(st->inflight_waiters, qemu_coroutine_self());
        qemu_coroutine_yield();
        bdrv_req_relock(bs, true);
    }
    BDRVQcow2State *s = bs->opaque;
    if (s->dead) {
        block_error(errp, "No medium found");
        return -ENOMEDIUM;
    }
    uint64_t old = s->size;
    if (size & 511) {
        block_error(errp, "The new size must be a multiple of 512");
        return -EINVAL;
    }
    if (s->nb_snapshots && s->version < 3) {
        /* v2 snapshot entries need not record their disk size, so QEMU refuses */
        block_error(errp, "Can't resize a v2 image which has snapshots");
        return -ENOTSUP;
    }
    int ret = qcow2_truncate_bitmaps_check(s, errp);
    if (ret < 0) {
        return ret;
    }
    bool zero_new = false;
    if (size > old && bs->backing) {
        int64_t blen = bdrv_getlength(bs->backing);
        if (blen < 0) {
            block_error_errno(errp, (int)blen, "Could not get backing file size");
            return (int)blen;
        }
        zero_new = (uint64_t)blen > old;
    }
    if (size > old && prealloc == PREALLOC_MODE_OFF && qcow2_has_data_file(s) &&
        (s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
        /* as QEMU: a raw data file keeps every cluster mapped 1:1, so growing maps the new ones */
        prealloc = PREALLOC_MODE_METADATA;
    }
    uint64_t per_l1 = s->cluster_size << s->l2_bits;
    uint64_t need_l1 = size / per_l1 + (size % per_l1 != 0);
    if (size < old) {
        /* drop everything past the new end */
        uint64_t cs = s->cluster_size;
        uint64_t from = (size + cs - 1) & ~(cs - 1);
        uint64_t to = (old + cs - 1) & ~(cs - 1);
        uint64_t per = s->cluster_size << s->l2_bits;
        for (uint64_t off = from; off < to;) {
            uint64_t n = MIN(to - off, per - (off & (per - 1)));
            uint64_t l1i = off >> s->cluster_bits >> s->l2_bits;
            /*
             * QEMU's discard allocates missing L2 tables too, also those past the new end that
             * are freed (and discarded) again below: they take free clusters (zeroing freed
             * ones in the middle of the file) or grow the file before the cut
             */
            if (l1i < s->l1_size) {
                uint64_t l2_offset, *l2;
                ret = qcow2_get_l2_for_write(s, l1i, &l2_offset);
                if (ret == 0) {
                    ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
                }
                if (ret < 0) {
                    block_error_errno(errp, ret, "Failed to discard cropped clusters");
                    return ret;
                }
                uint64_t idx = (off >> s->cluster_bits) & (s->l2_entries - 1);
                uint64_t cnt = n >> s->cluster_bits;
                uint64_t *oldv = g_new(uint64_t, cnt);
                for (uint64_t i = 0; i < cnt; i++) {
                    oldv[i] = l2_entry_get(s, l2, idx + i);
                    l2_entry_set(s, l2, idx + i, 0);
                    l2_bitmap_set(s, l2, idx + i, 0);
                }
                qcow2_cache_mark_dirty(s->l2_cache, l2);
                ret = free_old_entries(s, oldv, cnt, true);
                g_free(oldv);
                if (ret < 0) {
                    block_error_errno(errp, ret, "Failed to discard cropped clusters");
                    return ret;
                }
            }
            off += n;
        }
        /* free L2 tables wholly past the end */
        for (uint64_t i = need_l1; i < s->l1_size; i++) {
            uint64_t l2o = s->l1[i] & L1E_OFFSET_MASK;
            if (l2o) {
                s->l1[i] = 0;
                ret = qcow2_write_l1_entry(s, (uint32_t)i);
                if (ret == 0) {
                    qcow2_cache_discard(s->l2_cache, l2o);
                    ret = qcow2_free_clusters(s, l2o, s->cluster_size, true);
                }
                if (ret < 0) {
                    block_error_errno(errp, ret, "Failed to reduce the number of L2 tables");
                    return ret;
                }
            }
        }
        /* refcount blocks left counting nothing go (QEMU's qcow2_shrink_reftable) */
        ret = qcow2_shrink_reftable(s);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to discard unused refblocks");
            return ret;
        }
        /* like QEMU, cut the file after the last cluster still in use */
        ret = qcow2_flush_metadata(s);
        int64_t flen = bdrv_getlength(s->file);
        if (ret == 0 && flen > 0) {
            uint64_t last = ((uint64_t)flen - 1) >> s->cluster_bits;
            for (;; last--) {
                uint64_t rc = 0;
                if (qcow2_get_refcount(s, last, &rc) < 0 || rc || last == 0) {
                    break;
                }
            }
            uint64_t end = (last + 1) << s->cluster_bits;
            if (end < (uint64_t)flen) {
                ret = s->file->drv->truncate(s->file, end, true, PREALLOC_MODE_OFF, errp);
                if (ret < 0) {
                    return ret;
                }
            }
        }
    } else if (need_l1 > s->l1_size) {
        ret = grow_l1(s, (uint32_t)need_l1);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to grow the L1 table");
            return ret;
        }
    }
    if (size > old && (prealloc == PREALLOC_MODE_FALLOC || prealloc == PREALLOC_MODE_FULL) &&
        !qcow2_has_data_file(s)) {
        ret = preallocate_area(bs, old, size, prealloc, zero_new, errp);
        if (ret < 0) {
            return ret;
        }
        /* the new host clusters read as zeros already (QEMU's file-level zero truncate) */
        zero_new = false;
    } else if (size > old && prealloc != PREALLOC_MODE_OFF) {
        uint64_t host_end = 0;
        ret = preallocate(bs, old, size, &host_end);
        if (ret == 0) {
            ret = qcow2_flush_metadata(s);
        }
        if (ret < 0) {
            block_error_errno(errp, ret, "Preallocation failed");
            return ret;
        }
        if (qcow2_has_data_file(s)) {
            /* the data clusters sit at their guest offsets; QEMU grows the data file to the
             * new size, then the copy-on-write of a new last cluster's tail goes further */
            host_end = MAX(host_end, size);
        }
        BlockDriverState *f = qcow2_has_data_file(s) ? s->data_file : s->file;
        int64_t flen = f ? bdrv_getlength(f) : -ENOMEDIUM;
        if (flen >= 0 && host_end > (uint64_t)flen) {
            PreallocMode pm = prealloc == PREALLOC_MODE_METADATA ? PREALLOC_MODE_OFF : prealloc;
            ret = f->drv->truncate(f, host_end, false, pm, errp);
            if (ret < 0) {
                return ret;
            }
        }
    }
    if (prealloc == PREALLOC_MODE_OFF && qcow2_has_data_file(s) && s->data_file) {
        /* as QEMU: the data file follows the new size exactly (shrinking or growing) */
        ret = s->data_file->drv->truncate(s->data_file, size, exact, PREALLOC_MODE_OFF, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (zero_new) {
        ret = zero_grown_area(bs, old, size, errp);
        if (ret == 0 && prealloc != PREALLOC_MODE_OFF) {
            ret = qcow2_flush_metadata(s);
        }
        if (ret < 0) {
            return ret;
        }
    }
    uint8_t f[8];
    wr64(f, size);
    ret = write_header_field(s, 24, f, 8);
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to update the image size");
        return ret;
    }
    s->size = size;
    bs->total_size = (int64_t)size;
    return 0;
}

/* The persistent dirty bitmaps of the directory (info's "bitmaps"), or NULL when none. */
static QJ *bitmap_info_list(BDRVQcow2State *s)
{
    if (!s->nb_bitmaps || !s->bitmap_dir_offset || !s->bitmap_dir_size ||
        s->bitmap_dir_size > (64u << 20)) {
        return NULL;
    }
    uint8_t *dir = g_try_malloc(s->bitmap_dir_size);
    if (!dir || bdrv_pread(s->file, s->bitmap_dir_offset, s->bitmap_dir_size, dir) < 0) {
        g_free(dir);
        return NULL;
    }
    QJ *l = qj_array();
    uint64_t p = 0;
    for (uint32_t i = 0; i < s->nb_bitmaps && p + 24 <= s->bitmap_dir_size; i++) {
        const uint8_t *e = dir + p;
        uint32_t flags = rd32(e + 12);
        uint8_t gbits = e[17];
        uint32_t name_size = ((uint32_t)e[18] << 8) | e[19];
        uint32_t extra = rd32(e + 20);
        if (p + 24 + extra + name_size > s->bitmap_dir_size || gbits > 63) {
            break;
        }
        QJ *b = qj_object();
        QJ *fl = qj_array();
        if (flags & 1) {
            qj_append(fl, qj_string("in-use"));
        }
        if (flags & 2) {
            qj_append(fl, qj_string("auto"));
        }
        qj_set(b, "flags", fl);
        char *name = g_strndup((const char *)e + 24 + extra, name_size);
        qj_set(b, "name", qj_string(name));
        g_free(name);
        qj_set(b, "granularity", qj_int((int64_t)(1ULL << gbits)));
        qj_append(l, b);
        p += (24 + extra + name_size + 7) & ~7ULL;
    }
    g_free(dir);
    return l;
}

static QJ *qcow2_specific_info(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    QJ *d = qj_object();
    if (s->version == 2) {
        qj_set(d, "compat", qj_string("0.10"));
        qj_set(d, "refcount-bits", qj_int(1 << s->refcount_order));
    } else {
        qj_set(d, "compat", qj_string("1.1"));
        qj_set(d, "lazy-refcounts", qj_bool(s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS));
        QJ *bm = bitmap_info_list(s);
        if (bm) {
            qj_set(d, "bitmaps", bm);
        }
        qj_set(d, "refcount-bits", qj_int(1 << s->refcount_order));
        if (s->data_file_name) {
            qj_set(d, "data-file", qj_string(s->data_file_name));
        }
        if (qcow2_has_data_file(s)) {
            qj_set(d, "data-file-raw", qj_bool(s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW));
        }
        qj_set(d, "corrupt", qj_bool(s->incompat & QCOW2_INCOMPAT_CORRUPT));
        qj_set(d, "extended-l2", qj_bool(s->incompat & QCOW2_INCOMPAT_EXTL2));
    }
    qj_set(d, "compression-type", qj_string(s->compression_type ? "zstd" : "zlib"));
    return d;
}

static int qcow2_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list)
{
    BDRVQcow2State *s = bs->opaque;
    *list = g_new0(BlockSnapshotInfo, s->nb_snapshots ? s->nb_snapshots : 1);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        BlockSnapshotInfo *o = &(*list)[i];
        o->id = g_strdup(sn->id);
        o->name = g_strdup(sn->name);
        o->vm_state_size = sn->vm_state_size;
        o->date_sec = sn->date_sec;
        o->date_nsec = sn->date_nsec;
        o->vm_clock_nsec = sn->vm_clock_nsec;
        o->icount = sn->icount;
    }
    return (int)s->nb_snapshots;
}

static int qcow2_check(BlockDriverState *bs, BdrvCheckResult *res, int fix)
{
    BDRVQcow2State *s = bs->opaque;
    /* v3 wants the VM state size and the disk size in every snapshot entry (QEMU's check) */
    int incomplete = 0;
    for (uint32_t i = 0; s->version >= 3 && i < s->nb_snapshots; i++) {
        if (s->snapshots[i].extra_size < 16) {
            fprintf(stderr, "%s snapshot table entry %u is incomplete\n",
                    fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", i);
            incomplete++;
        }
    }
    int ret = qcow2_check_image(bs, res, fix);
    if (ret == 0 && incomplete && (fix & BDRV_FIX_ERRORS)) {
        /* after the refcounts, as QEMU: the table is written anew with full entries */
        ret = qcow2_rewrite_snapshot_table(s);
        if (ret < 0) {
            res->check_errors++;
            fprintf(stderr, "ERROR failed to update the snapshot table: %s\n", strerror(-ret));
        } else {
            res->corruptions_fixed += incomplete;
            incomplete = 0;
        }
    }
    res->corruptions += incomplete;
    return ret;
}

static int qcow2_change_backing_file(BlockDriverState *bs, const char *file, const char *fmt)
{
    BDRVQcow2State *s = bs->opaque;
    if (file && strlen(file) > 1023) {
        return -EINVAL;
    }
    if (fmt && (!file || !file[0])) {
        return -EINVAL;
    }
    if (file && file[0] && qcow2_has_data_file(s) && (s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
        /* as QEMU: a raw external data file alone would no longer tell the image's contents */
        return -EINVAL;
    }
    char *old_file = bs->backing_file, *old_fmt = bs->backing_format;
    bs->backing_file = g_strdup(file ? file : "");
    bs->backing_format = fmt && file && file[0] ? g_strdup(fmt) : NULL;
    int ret = qcow2_update_header(s);
    if (ret < 0) {
        g_free(bs->backing_file);
        g_free(bs->backing_format);
        bs->backing_file = old_file;
        bs->backing_format = old_fmt;
        return ret;
    }
    g_free(old_file);
    g_free(old_fmt);
    g_free(bs->full_backing_filename);
    bs->full_backing_filename =
        bs->backing_file[0] ? bdrv_path_combine(bs->filename, bs->backing_file) : NULL;
    return 0;
}

/*
 * Reset the file to an empty image: header, refcount table (cluster 1), one refcount block
 * (cluster 2) and a zeroed L1 (cluster 3 on), as QEMU's make_completely_empty() does. The dirty
 * bit covers the window in which the refcounts are wrong.
 */
static int make_completely_empty(BDRVQcow2State *s)
{
    BLKDBG_EVENT(s->file, BLKDBG_EMPTY_IMAGE_PREPARE);
    uint64_t cs = s->cluster_size;
    uint64_t l1_clusters = ((uint64_t)s->l1_size * 8 + cs - 1) / cs;
    int ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        return ret;
    }
    qcow2_cache_drop_all(s->l2_cache);
    qcow2_cache_drop_all(s->rb_cache);
    s->ccache_offset = ~0ULL;
    s->free_byte_offset = 0;
    uint8_t f[20];
    s->incompat |= QCOW2_INCOMPAT_DIRTY;
    wr64(f, s->incompat);
    ret = write_header_field(s, 72, f, 8);
    if (ret == 0 && l1_clusters) {
        ret = bdrv_pwrite_zeroes(s->file, s->l1_offset, l1_clusters * cs, 0);
    }
    memset(s->l1, 0, (size_t)s->l1_size * 8);
    if (ret == 0) {
        ret = bdrv_pwrite_zeroes(s->file, cs, (2 + l1_clusters) * cs, 0);
    }
    if (ret == 0) {
        wr64(f, 3 * cs);
        wr64(f + 8, cs);
        wr32(f + 16, 1);
        ret = write_header_field(s, 40, f, 20);
    }
    if (ret < 0) {
        return ret;
    }
    s->l1_offset = 3 * cs;
    g_free(s->rt);
    s->rt_size = cs / 8;
    s->rt = g_new0(uint64_t, s->rt_size);
    s->rt_offset = cs;
    s->rt_clusters = 1;
    wr64(f, 2 * cs);
    ret = write_header_field(s, cs, f, 8);
    if (ret < 0) {
        return ret;
    }
    s->rt[0] = 2 * cs;
    qcow2_rt_max_update(s);
    s->free_cluster_index = 0;
    int64_t off = qcow2_alloc_clusters(s, 3 + l1_clusters);
    if (off != 0) {
        return off < 0 ? (int)off : -EIO;
    }
    ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    s->incompat &= ~QCOW2_INCOMPAT_DIRTY;
    wr64(f, s->incompat);
    ret = write_header_field(s, 72, f, 8);
    if (ret < 0) {
        return ret;
    }
    return s->file->drv->truncate(s->file, (3 + l1_clusters) * cs, false, PREALLOC_MODE_OFF, NULL);
}

static int qcow2_make_empty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_clusters = ((uint64_t)s->l1_size * 8 + s->cluster_size - 1) >> s->cluster_bits;
    if (s->version >= 3 && !s->nb_snapshots && !s->nb_bitmaps && !qcow2_has_data_file(s) &&
        3 + l1_clusters <= s->rb_entries) {
        return make_completely_empty(s);
    }
    /* otherwise drop every cluster of the active image (entries become unallocated) */
    for (uint32_t i = 0; i < s->l1_size; i++) {
        if (!(s->l1[i] & L1E_OFFSET_MASK)) {
            continue;
        }
        uint64_t l2_offset, *l2;
        int ret = qcow2_get_l2_for_write(s, i, &l2_offset);
        if (ret == 0) {
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
        }
        if (ret < 0) {
            return ret;
        }
        uint64_t *old = g_new(uint64_t, s->l2_entries);
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            old[j] = l2_entry_get(s, l2, j);
            l2_entry_set(s, l2, j, 0);
            l2_bitmap_set(s, l2, j, 0);
        }
        qcow2_cache_mark_dirty(s->l2_cache, l2);
        ret = free_old_entries(s, old, s->l2_entries, true);
        g_free(old);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* ---- amend ---- */

static int create_fail(char **errp, int ret, char *err);

static const BlockCreateOpt qcow2_amend_opts[] = {
    {"size", NULL, "size", "Virtual disk size"},
    {"compat", NULL, "string", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"backing_file", NULL, "string", "File name of a base image"},
    {"backing_fmt", NULL, "string", "Image format of the base image"},
    {"data_file", NULL, "string", "File name of an external data file"},
    {"data_file_raw", NULL, "bool", "The external data file must stay valid as a raw image"},
    {"lazy_refcounts", "off", "bool", "Postpone refcount updates"},
    {"refcount_bits", "16", "number", "Width of a reference count entry in bits"},
    {NULL, NULL, NULL, NULL},
};

/*
 * Rewrite the refcount structure with entries of 1 << new_order bits: new refcount blocks and
 * table are laid out past the end of the file (they count themselves and no longer count the
 * old structure), the header is switched over in one write, then the old structure is freed.
 */
static int change_refcount_order(BDRVQcow2State *s, int new_order, char **errp)
{
    uint64_t cs = s->cluster_size;
    int ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    int64_t flen = bdrv_getlength(s->file);
    if (ret < 0 || flen < 0) {
        block_error_errno(errp, ret < 0 ? ret : (int)flen, "Failed to flush the refcount cache");
        return ret < 0 ? ret : (int)flen;
    }
    uint64_t start = ((uint64_t)flen + cs - 1) / cs;
    uint64_t new_rbe = cs * 8 >> new_order, nb = 0, nt = 0, last;
    do {
        last = nb + nt;
        nb = (start + nb + nt + new_rbe - 1) / new_rbe;
        nt = (nb * 8 + cs - 1) / cs;
    } while (nb + nt != last);
    uint64_t total = start + nb + nt;
    uint64_t *rc = g_try_new0(uint64_t, total);
    if (!rc) {
        block_error(errp, "Could not allocate the refcount array");
        return -ENOMEM;
    }
    uint64_t new_max = qcow2_refcount_max(new_order);
    for (uint64_t c = 0; c < start; c++) {
        ret = qcow2_get_refcount(s, c, &rc[c]);
        if (ret < 0) {
            g_free(rc);
            block_error_errno(errp, ret, "Failed to read a refcount");
            return ret;
        }
    }
    /* the old structure is dropped by the switch */
    for (uint64_t i = 0; i < s->rt_clusters; i++) {
        rc[(s->rt_offset >> s->cluster_bits) + i] = 0;
    }
    for (uint64_t i = 0; i < s->rt_size; i++) {
        uint64_t off = s->rt[i] & REFT_OFFSET_MASK;
        if (off && (off >> s->cluster_bits) < start) {
            rc[off >> s->cluster_bits] = 0;
        }
    }
    for (uint64_t c = start; c < total; c++) {
        rc[c] = 1;
    }
    for (uint64_t c = 0; c < total; c++) {
        if (rc[c] > new_max) {
            g_free(rc);
            block_error(errp,
                        "Cannot decrease refcount entry width to %i bits: Cluster at offset "
                        "%#" PRIx64 " has a refcount of %" PRIu64,
                        1 << new_order, c * cs, rc[c]);
            return -EINVAL;
        }
    }
    uint8_t *block = g_malloc(cs);
    for (uint64_t b = 0; b < nb && ret == 0; b++) {
        memset(block, 0, cs);
        for (uint64_t j = 0; j < new_rbe && b * new_rbe + j < total; j++) {
            qcow2_refcount_set(block, j, new_order, rc[b * new_rbe + j]);
        }
        ret = qcow2_write_meta(s, 0, (start + b) * cs, cs, block);
    }
    g_free(block);
    uint64_t rt_entries = nt * cs / 8;
    uint64_t *nrt = g_new0(uint64_t, rt_entries);
    uint64_t *be = g_new0(uint64_t, rt_entries);
    for (uint64_t b = 0; b < nb; b++) {
        nrt[b] = (start + b) * cs;
        be[b] = GUINT64_TO_BE(nrt[b]);
    }
    if (ret == 0) {
        ret = qcow2_write_meta(s, 0, (start + nb) * cs, nt * cs, be);
    }
    g_free(be);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        g_free(nrt);
        g_free(rc);
        block_error_errno(errp, ret, "Failed to write the new refcount structure");
        return ret;
    }
    uint64_t *old_rt = s->rt;
    uint64_t old_rt_size = s->rt_size, old_rt_offset = s->rt_offset;
    uint32_t old_rt_clusters = s->rt_clusters;
    int old_order = s->refcount_order;
    qcow2_cache_drop_all(s->rb_cache);
    s->rt = nrt;
    s->rt_size = rt_entries;
    s->rt_offset = (start + nb) * cs;
    s->rt_clusters = (uint32_t)nt;
    s->refcount_order = new_order;
    setup_geometry(s);
    ret = qcow2_update_header(s);
    if (ret < 0) {
        s->rt = old_rt;
        s->rt_size = old_rt_size;
        s->rt_offset = old_rt_offset;
        s->rt_clusters = old_rt_clusters;
        s->refcount_order = old_order;
        setup_geometry(s);
        g_free(nrt);
        g_free(rc);
        block_error_errno(errp, ret, "Failed to update the image header");
        return ret;
    }
    qcow2_rt_max_update(s);
    s->free_cluster_index = 0;
    /* punch out the old structure */
    bdrv_discard(s->file, old_rt_offset, (uint64_t)old_rt_clusters * cs);
    for (uint64_t i = 0; i < old_rt_size; i++) {
        uint64_t off = old_rt[i] & REFT_OFFSET_MASK;
        if (off && (off >> s->cluster_bits) < start && !rc[off >> s->cluster_bits]) {
            bdrv_discard(s->file, off, cs);
        }
    }
    g_free(old_rt);
    g_free(rc);
    return 0;
}

/* v3 -> v2: zero clusters become data clusters (or unallocated ones without a backing file). */
static int expand_zero_clusters(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        if (!(s->l1[i] & L1E_OFFSET_MASK)) {
            continue;
        }
        uint64_t l2_offset, *l2;
        int ret = qcow2_get_l2_for_write(s, i, &l2_offset);
        if (ret < 0) {
            return ret;
        }
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            if (ret < 0) {
                return ret;
            }
            uint64_t e = l2_entry_get(s, l2, j);
            Qcow2ClusterType t = qcow2_entry_type(s, e);
            uint64_t ne;
            if (t == QCOW2_CLUSTER_ZERO_PLAIN) {
                if (!bs->backing_file || !bs->backing_file[0]) {
                    ne = 0;
                } else {
                    int64_t off = qcow2_alloc_clusters(s, 1);
                    if (off < 0) {
                        return (int)off;
                    }
                    ret = qcow2_pre_write_overlap_check(s, 0, (uint64_t)off, cs, true);
                    if (ret == 0) {
                        ret = bdrv_pwrite_zeroes(s->file, (uint64_t)off, cs, 0);
                    }
                    if (ret < 0) {
                        return ret;
                    }
                    ne = (uint64_t)off | QCOW_OFLAG_COPIED;
                }
            } else if (t == QCOW2_CLUSTER_ZERO_ALLOC) {
                uint64_t rc = 0;
                ret = qcow2_pre_write_overlap_check(s, 0, e & L2E_OFFSET_MASK, cs, true);
                if (ret == 0) {
                    ret = bdrv_pwrite_zeroes(s->file, e & L2E_OFFSET_MASK, cs, 0);
                }
                if (ret == 0) {
                    ret = qcow2_get_refcount(s, (e & L2E_OFFSET_MASK) >> s->cluster_bits, &rc);
                }
                if (ret < 0) {
                    return ret;
                }
                ne = (e & L2E_OFFSET_MASK) | (rc == 1 ? QCOW_OFLAG_COPIED : 0);
            } else {
                continue;
            }
            ret = qcow2_cache_get(s, s->l2_cache, l2_offset, true, &l2);
            if (ret < 0) {
                return ret;
            }
            l2_entry_set(s, l2, j, ne);
            qcow2_cache_mark_dirty(s->l2_cache, l2);
        }
    }
    return qcow2_flush_metadata(s);
}

static int qcow2_amend(BlockDriverState *bs, QOpts *opts, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    char *err = NULL;
    int old_version = (int)s->version, new_version = old_version;
    const char *compat = qopts_get(opts, "compat");
    if (compat) {
        if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
            new_version = 2;
        } else if (!strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
            new_version = 3;
        } else {
            block_error(errp, "Unknown compatibility level %s", compat);
            return -EINVAL;
        }
    }
    /*
     * As QEMU 7.2: the data file can only be renamed (or its name dropped with an empty
     * value) on images that have one, and data_file_raw can only be cleared.
     */
    const char *data_file = qopts_get(opts, "data_file");
    if (data_file && !qcow2_has_data_file(s)) {
        block_error(errp, "data-file can only be set for images that use an external data file");
        return -EINVAL;
    }
    bool cur_raw = (s->autoclear & QCOW2_AUTOCLEAR_DATA_RAW) != 0, data_raw = cur_raw;
    if (!qopts_get_bool(opts, "data_file_raw", cur_raw, &data_raw, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    if (data_raw && !cur_raw) {
        block_error(errp, "data-file-raw cannot be set on existing images");
        return -EINVAL;
    }
    uint64_t new_size = 0, refcount_bits = 1u << s->refcount_order;
    bool lazy = (s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
    if (!qopts_get_size(opts, "size", 0, &new_size, &err) ||
        !qopts_get_bool(opts, "lazy_refcounts", lazy, &lazy, &err) ||
        !qopts_get_number(opts, "refcount_bits", refcount_bits, &refcount_bits, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    const char *bf = qopts_get(opts, "backing_file"), *bfmt = qopts_get(opts, "backing_fmt");
    if (bf || bfmt) {
        const char *cur_f = bs->backing_file && bs->backing_file[0] ? bs->backing_file : NULL;
        if (g_strcmp0(bf, cur_f) || g_strcmp0(bfmt, bs->backing_format)) {
            block_error(errp, "Cannot amend the backing file\nYou can use 'qemu-img rebase' "
                              "instead.");
            return -EINVAL;
        }
    }
    if (!refcount_bits || refcount_bits > 64 || (refcount_bits & (refcount_bits - 1))) {
        block_error(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return -EINVAL;
    }
    /* (only checked for a change of width: keeping a width other than 16 fails at the
     * downgrade below, with its own message, as in QEMU) */
    if (new_version < 3 && refcount_bits != 16 && refcount_bits != 1u << s->refcount_order) {
        block_error(errp, "Refcount widths other than 16 bits require compatibility level 1.1 "
                          "or above (use compat=1.1 or greater)");
        return -EINVAL;
    }
    int ret;
    if (new_version > old_version) {
        /*
         * v3 wants at least the 64-bit VM state size and the disk size in every snapshot
         * entry; old v2 entries may have no extra data at all: rewrite the table (as QEMU)
         */
        bool short_entries = false;
        for (uint32_t i = 0; i < s->nb_snapshots; i++) {
            short_entries |= s->snapshots[i].extra_size < 16;
        }
        if (bs->amend_status) {
            bs->amend_status(0.0); /* QEMU's two upgrade steps: snapshot table, header */
        }
        if (short_entries) {
            ret = qcow2_rewrite_snapshot_table(s);
            if (ret < 0) {
                block_error_errno(errp, ret, "Failed to update the snapshot table");
                return ret;
            }
        }
        if (bs->amend_status) {
            bs->amend_status(50.0);
        }
        s->version = (uint32_t)new_version;
        s->refcount_order = 4;
        ret = qcow2_update_header(s);
        if (ret < 0) {
            s->version = (uint32_t)old_version;
            block_error_errno(errp, ret, "Failed to update the image header");
            return ret;
        }
    }
    if ((uint64_t)1 << s->refcount_order != refcount_bits) {
        ret = change_refcount_order(s, __builtin_ctzll(refcount_bits), errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (data_raw != cur_raw || data_file) {
        /* the open data file stays in use; only the name recorded in the header changes */
        if (!data_raw) {
            s->autoclear &= ~QCOW2_AUTOCLEAR_DATA_RAW;
        }
        if (data_file) {
            g_free(s->data_file_name);
            s->data_file_name = data_file[0] ? g_strdup(data_file) : NULL;
        }
        ret = qcow2_update_header(s);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to update the image header");
            return ret;
        }
    }
    if (lazy != ((s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0)) {
        if (lazy && new_version < 3) {
            block_error(errp, "Lazy refcounts only supported with compatibility level 1.1 and "
                              "above (use compat=1.1 or greater)");
            return -EINVAL;
        }
        s->compat = lazy ? s->compat | QCOW2_COMPAT_LAZY_REFCOUNTS
                         : s->compat & ~QCOW2_COMPAT_LAZY_REFCOUNTS;
        ret = qcow2_update_header(s);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to update the image header");
            return ret;
        }
    }
    if (new_size) {
        ret = qcow2_truncate(bs, (new_size + 511) & ~511ULL, true, PREALLOC_MODE_OFF, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (new_version < old_version) {
        if (s->refcount_order != 4) {
            block_error(errp, "compat=0.10 requires refcount_bits=16");
            return -ENOTSUP;
        }
        for (uint32_t i = 0; i < s->nb_snapshots; i++) {
            if (s->snapshots[i].vm_state_size > UINT32_MAX ||
                s->snapshots[i].disk_size != s->size) {
                block_error(errp, "Internal snapshots prevent downgrade of image");
                return -ENOTSUP;
            }
        }
        if (qcow2_has_data_file(s)) {
            block_error(errp, "Cannot downgrade an image with a data file");
            return -ENOTSUP;
        }
        if (s->nb_snapshots) {
            /* snapshot tables may hold zero clusters that v2 cannot express */
            block_error(errp, "Internal snapshots prevent downgrade of image");
            return -ENOTSUP;
        }
        if (s->incompat & ~QCOW2_INCOMPAT_COMPRESSION) {
            block_error(errp,
                        "Cannot downgrade an image with incompatible features %#" PRIx64 " set",
                        s->incompat);
            return -ENOTSUP;
        }
        s->compat = 0;
        s->autoclear = 0;
        ret = expand_zero_clusters(bs);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to turn zero into data clusters");
            return ret;
        }
        s->version = 2;
        ret = qcow2_update_header(s);
        if (ret < 0) {
            s->version = (uint32_t)old_version;
            block_error_errno(errp, ret, "Failed to update the image header");
            return ret;
        }
    }
    return 0;
}

/* ---- measure ---- */

/* Refcount table + blocks for `clusters` clusters (fixed point: they count themselves). */
static uint64_t refcount_metadata_size(uint64_t clusters, uint64_t cs, int order)
{
    uint64_t per_table_cluster = cs / 8, per_block = cs * 8 >> order;
    uint64_t table = 0, blocks = 0, n = 0, last;
    do {
        last = n;
        blocks = (clusters + table + blocks + per_block - 1) / per_block;
        table = (blocks + per_table_cluster - 1) / per_table_cluster;
        n = clusters + blocks + table;
    } while (n != last);
    return (blocks + table) * cs;
}

static uint64_t calc_prealloc_size(uint64_t total, uint64_t cs, int order, bool extl2)
{
    uint64_t l2e = extl2 ? 16 : 8;
    uint64_t aligned = (total + cs - 1) / cs * cs;
    uint64_t meta = cs;
    uint64_t nl2e = aligned / cs;
    nl2e = (nl2e + cs / l2e - 1) / (cs / l2e) * (cs / l2e);
    meta += nl2e * l2e;
    uint64_t nl1e = nl2e * l2e / cs;
    nl1e = (nl1e + cs / 8 - 1) / (cs / 8) * (cs / 8);
    meta += nl1e * 8;
    meta += refcount_metadata_size((meta + aligned) / cs, cs, order);
    return meta + aligned;
}

static int qcow2_measure(QOpts *opts, BlockDriverState *in_bs, uint64_t *required, uint64_t *fully,
                         char **errp)
{
    char *err = NULL;
    uint64_t cs, refcount_bits, vsize;
    bool extl2;
    if (!qopts_get_bool(opts, "extended_l2", false, &extl2, &err) ||
        !qopts_get_size(opts, "cluster_size", 65536, &cs, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    if (cs < 512 || cs > (2 << 20) || (cs & (cs - 1))) {
        block_error(errp, "Cluster size must be a power of two between 512 and 2048k");
        return -EINVAL;
    }
    int version = 3;
    const char *compat = qopts_get(opts, "compat");
    if (compat) {
        if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
            version = 2;
        } else if (strcmp(compat, "1.1") && strcmp(compat, "v3")) {
            block_error(errp, "Invalid compatibility level: '%s'", compat);
            return -EINVAL;
        }
    }
    if (!qopts_get_number(opts, "refcount_bits", 16, &refcount_bits, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    if (refcount_bits > 64 || !refcount_bits || (refcount_bits & (refcount_bits - 1))) {
        block_error(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return -EINVAL;
    }
    if (version < 3 && refcount_bits != 16) {
        block_error(errp, "Different refcount widths than 16 bits require compatibility level "
                          "1.1 or above (use compat=1.1 or greater)");
        return -EINVAL;
    }
    const char *pa = qopts_get(opts, "preallocation");
    int prealloc = pa ? prealloc_mode_parse(pa) : PREALLOC_MODE_OFF;
    if (prealloc < 0) {
        block_error(errp, "Parameter 'preallocation' does not accept value '%s'", pa);
        return -EINVAL;
    }
    bool has_backing = qopts_get(opts, "backing_file") != NULL;
    if (!qopts_get_size(opts, "size", 0, &vsize, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    vsize = (vsize + cs - 1) / cs * cs;
    uint64_t l2e = extl2 ? 16 : 8;
    uint64_t l2_tables = (vsize / cs + cs / l2e - 1) / (cs / l2e);
    if (l2_tables * 8 > QCOW_MAX_L1_SIZE) {
        block_error(errp, "The image size is too large (try using a larger cluster size)");
        return -EINVAL;
    }
    uint64_t req = 0;
    if (in_bs) {
        int64_t ssize = bdrv_getlength(in_bs);
        if (ssize < 0) {
            block_error_errno(errp, (int)ssize, "Unable to get image virtual_size");
            return (int)ssize;
        }
        vsize = ((uint64_t)ssize + cs - 1) / cs * cs;
        if (has_backing) {
            req = vsize;
        } else {
            uint64_t pnum = 0;
            for (uint64_t off = 0; off < (uint64_t)ssize; off += pnum) {
                int ret = bdrv_block_status_above(in_bs, off, (uint64_t)ssize - off, &pnum);
                if (ret < 0) {
                    block_error_errno(errp, ret, "Unable to get block status");
                    return ret;
                }
                if (ret & BDRV_BLOCK_ZERO) {
                    continue;
                }
                if ((ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED)) ==
                    (BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED)) {
                    pnum = (off + pnum + cs - 1) / cs * cs - off;
                    req += off % cs + pnum;
                }
            }
        }
    }
    if (prealloc == PREALLOC_MODE_FULL || prealloc == PREALLOC_MODE_FALLOC) {
        req = vsize;
    }
    *fully = calc_prealloc_size(vsize, cs, __builtin_ctzll(refcount_bits), extl2);
    *required = *fully - vsize + req;
    return 0;
}

/* ---- create ---- */

static const BlockCreateOpt qcow2_create_opts[] = {
    {"encrypt.format", NULL, "string", "Encrypt the image, format choices: 'aes', 'luks'"},
    {"cluster_size", "65536", "size", "qcow2 cluster size"},
    {"extended_l2", "off", "bool", "Extended L2 tables"},
    {"preallocation", NULL, "string",
     "Preallocation mode (allowed values: off, metadata, falloc, full)"},
    {"compression_type", "zlib", "string", "Compression method used for image cluster compression"},
    {"size", NULL, "size", "Virtual disk size"},
    {"compat", NULL, "string", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"backing_file", NULL, "string", "File name of a base image"},
    {"backing_fmt", NULL, "string", "Image format of the base image"},
    {"data_file", NULL, "string", "File name of an external data file"},
    {"data_file_raw", NULL, "bool", "The external data file must stay valid as a raw image"},
    {"lazy_refcounts", "off", "bool", "Postpone refcount updates"},
    {"refcount_bits", "16", "number", "Width of a reference count entry in bits"},
    {NULL, NULL, NULL, NULL},
};

/* A creation that fails once the files exist deletes them again, as QEMU does. */
static void create_cleanup(const char *filename, const char *data_file)
{
    unlink(filename);
    if (data_file) {
        unlink(data_file);
    }
}

static int create_fail(char **errp, int ret, char *err)
{
    block_error(errp, "%s", err);
    g_free(err);
    return ret;
}

static int qcow2_create(const char *filename, QOpts *opts, char **errp)
{
    char *err = NULL;
    uint64_t size, cluster_size, refcount_bits;
    bool lazy, extl2;
    if (!qopts_get_size(opts, "size", 0, &size, &err) ||
        !qopts_get_size(opts, "cluster_size", 65536, &cluster_size, &err) ||
        !qopts_get_number(opts, "refcount_bits", 16, &refcount_bits, &err) ||
        !qopts_get_bool(opts, "lazy_refcounts", false, &lazy, &err) ||
        !qopts_get_bool(opts, "extended_l2", false, &extl2, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    size = (size + 511) & ~511ULL;
    int version = 3;
    const char *compat = qopts_get(opts, "compat");
    if (compat) {
        if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
            version = 2;
        } else if (!strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
            version = 3;
        } else {
            block_error(errp, "Parameter 'version' does not accept value '%s'", compat);
            return -EINVAL;
        }
    }
    if (cluster_size < 512 || cluster_size > (2 << 20) || (cluster_size & (cluster_size - 1))) {
        block_error(errp, "Cluster size must be a power of two between 512 and 2048k");
        return -EINVAL;
    }
    if (extl2 && version < 3) {
        block_error(errp, "Extended L2 entries are only supported with compatibility level 1.1 "
                          "and above (use version=v3 or greater)");
        return -EINVAL;
    }
    if (extl2 && cluster_size < 16384) {
        block_error(errp, "Extended L2 entries are only supported with cluster sizes of at least "
                          "16384 bytes");
        return -EINVAL;
    }
    const char *ct = qopts_get(opts, "compression_type");
    if (ct && strcmp(ct, "zlib") != 0) {
        if (!strcmp(ct, "zstd")) {
            block_error(errp, "zstd compression is not supported");
            return -ENOTSUP;
        }
        block_error(errp, "Parameter 'compression-type' does not accept value '%s'", ct);
        return -EINVAL;
    }
    if (refcount_bits > 64 || !refcount_bits || (refcount_bits & (refcount_bits - 1))) {
        block_error(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return -EINVAL;
    }
    if (version < 3 && refcount_bits != 16) {
        block_error(errp, "Different refcount widths than 16 bits require compatibility level "
                          "1.1 or above (use version=v3 or greater)");
        return -EINVAL;
    }
    if (version < 3 && lazy) {
        block_error(errp, "Lazy refcounts only supported with compatibility level 1.1 and above "
                          "(use version=v3 or greater)");
        return -EINVAL;
    }
    const char *pa = qopts_get(opts, "preallocation");
    int prealloc = pa ? prealloc_mode_parse(pa) : PREALLOC_MODE_OFF;
    if (prealloc < 0) {
        block_error(errp, "Parameter 'preallocation' does not accept value '%s'", pa);
        return -EINVAL;
    }
    const char *backing = qopts_get(opts, "backing_file");
    const char *backing_fmt = qopts_get(opts, "backing_fmt");
    if (backing && prealloc != PREALLOC_MODE_OFF && !extl2) {
        block_error(errp, "Backing file and preallocation can only be used at the same time if "
                          "extended_l2 is on");
        return -EINVAL;
    }
    if (backing_fmt && !backing) {
        block_error(errp, "Backing format cannot be used without backing file");
        return -EINVAL;
    }
    const char *data_file = qopts_get(opts, "data_file");
    bool data_raw = false;
    if (!qopts_get_bool(opts, "data_file_raw", false, &data_raw, &err)) {
        return create_fail(errp, -EINVAL, err);
    }
    if (data_raw && !data_file) {
        block_error(errp, "data-file-raw requires data-file");
        return -EINVAL;
    }
    if (data_raw && backing) {
        /* QEMU finds this after making both files (before it checks the compat level), and
         * deletes them again */
        create_cleanup(filename, data_file);
        block_error(errp, "Backing file and data-file-raw cannot be used at the same time");
        return -EINVAL;
    }
    if (data_file && version < 3) {
        block_error(errp, "External data files are only supported with compatibility level 1.1 "
                          "and above (use version=v3 or greater)");
        return -EINVAL;
    }
    if (data_raw && prealloc == PREALLOC_MODE_OFF) {
        prealloc = PREALLOC_MODE_METADATA; /* the data file must map guest offsets 1:1 */
    }
    if (data_file) {
        /* as QEMU 7.2: relative to the working directory, not to the image */
        char *dpath = g_strdup(data_file);
        int dfd = open(dpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int de = errno;
        if (dfd < 0 || ftruncate(dfd, (off_t)size) < 0) {
            de = errno;
            block_error(errp, "Could not create '%s': %s", dpath, g_strerror(de));
            if (dfd >= 0) {
                close(dfd);
            }
            g_free(dpath);
            return -de;
        }
        close(dfd);
        g_free(dpath);
    }
    if (qopts_get(opts, "encrypt.format") || qopts_get(opts, "encryption")) {
        block_error(errp, "Encrypted images are not supported");
        return -ENOTSUP;
    }
    int cluster_bits = __builtin_ctzll(cluster_size);
    int refcount_order = __builtin_ctzll(refcount_bits);

    /* initial layout: header, refcount table (cluster 1) -> refcount block (cluster 2) */
    int fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        block_error(errp, "Could not create '%s': %s", filename, g_strerror(e));
        return -e;
    }
    uint8_t *buf = g_malloc0(cluster_size * 3);
    wr32(buf, QCOW2_MAGIC);
    wr32(buf + 4, (uint32_t)version);
    wr32(buf + 20, (uint32_t)cluster_bits);
    wr64(buf + 48, cluster_size);
    wr32(buf + 56, 1);
    if (version >= 3) {
        wr64(buf + 72, extl2 ? QCOW2_INCOMPAT_EXTL2 : 0);
        wr64(buf + 80, lazy ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
        wr32(buf + 96, (uint32_t)refcount_order);
        wr32(buf + 100, 112);
    }
    wr64(buf + cluster_size, 2 * cluster_size);
    ssize_t w = pwrite(fd, buf, cluster_size * 3, 0);
    int e = errno;
    g_free(buf);
    close(fd);
    if (w != (ssize_t)(cluster_size * 3)) {
        block_error(errp, "Could not write qcow2 header: %s", g_strerror(w < 0 ? e : EIO));
        create_cleanup(filename, data_file);
        return -EIO;
    }

    char *oerr = NULL;
    BlockDriverState *bs =
        bdrv_open(filename, "qcow2", NULL, BDRV_O_RDWR | BDRV_O_NO_BACKING, &oerr);
    if (!bs) {
        block_error(errp, "Could not open '%s': %s", filename, oerr);
        g_free(oerr);
        create_cleanup(filename, data_file);
        return -EIO;
    }
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;
    if (data_file) {
        /* as QEMU 7.2: relative to the working directory, not to the image */
        char *dpath = g_strdup(data_file);
        char *derr = NULL;
        s->data_file = bdrv_open(dpath, "file", NULL, BDRV_O_RDWR | BDRV_O_UNMAP, &derr);
        g_free(dpath);
        if (!s->data_file) {
            block_error(errp, "%s", derr);
            g_free(derr);
            bdrv_close(bs);
            create_cleanup(filename, data_file);
            return -EIO;
        }
        s->data_file_name = g_strdup(data_file);
        s->incompat |= QCOW2_INCOMPAT_DATA_FILE;
        if (data_raw) {
            s->autoclear |= QCOW2_AUTOCLEAR_DATA_RAW;
        }
    }
    int64_t off = qcow2_alloc_clusters(s, 3);
    if (off != 0) {
        ret = off < 0 ? (int)off : -EIO;
        block_error_errno(errp, ret,
                          "Could not allocate clusters for qcow2 header and refcount "
                          "table");
    }
    if (ret == 0) {
        ret = qcow2_flush_metadata(s);
    }
    if (ret == 0) {
        ret = qcow2_update_header(s);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not update qcow2 header");
        }
    }
    if (ret == 0) {
        ret = qcow2_truncate(bs, size, true, (PreallocMode)prealloc, errp);
    }
    if (ret == 0 && backing) {
        g_free(bs->backing_file);
        bs->backing_file = g_strdup(backing);
        g_free(bs->backing_format);
        bs->backing_format = g_strdup(backing_fmt);
        ret = qcow2_update_header(s);
        if (ret < 0) {
            block_error(errp, "Could not assign backing file '%s' with format '%s': %s", backing,
                        backing_fmt ? backing_fmt : "", g_strerror(-ret));
        }
    }
    if (ret == 0) {
        ret = qcow2_flush(bs);
    }
    bdrv_close(bs);
    if (ret < 0) {
        create_cleanup(filename, data_file);
    }
    return ret;
}

/* The VM state (qemu-io's read/write -b) sits past the last L1 entry the disk needs. */
static uint64_t vm_state_offset(BDRVQcow2State *s)
{
    uint64_t per_l1 = s->cluster_size << s->l2_bits;
    return ((s->size + per_l1 - 1) / per_l1) * per_l1;
}

static int qcow2_save_vmstate(BlockDriverState *bs, uint64_t pos, uint64_t bytes, const void *buf)
{
    BDRVQcow2State *s = bs->opaque;
    BLKDBG_EVENT(bs->file, BLKDBG_VMSTATE_SAVE);
    uint64_t offset = vm_state_offset(s) + pos;
    uint64_t per_l1 = s->cluster_size << s->l2_bits;
    uint64_t need = (offset + bytes + per_l1 - 1) / per_l1;
    if (need > s->l1_size) {
        /* QEMU's growth: by half at a time until it fits */
        uint64_t n = s->l1_size ? s->l1_size : 1;
        while (need > n) {
            n = (n * 3 + 1) / 2;
        }
        if (n > UINT32_MAX) {
            return -EFBIG;
        }
        int ret = grow_l1(s, (uint32_t)n);
        if (ret < 0) {
            return ret;
        }
    }
    return qcow2_pwrite(bs, offset, bytes, buf, 0);
}

static int qcow2_load_vmstate(BlockDriverState *bs, uint64_t pos, uint64_t bytes, void *buf)
{
    BDRVQcow2State *s = bs->opaque;
    BLKDBG_EVENT(bs->file, BLKDBG_VMSTATE_LOAD);
    s->vmstate_io = true;
    int ret = do_read(bs, vm_state_offset(s) + pos, bytes, buf);
    s->vmstate_io = false;
    return ret;
}

/* qemu-io's reopen: -r writes everything back (bitmaps stored) first; -w marks the
 * persistent bitmaps in use again, as an open for writing does. */
static int qcow2_reopen(BlockDriverState *bs, int flags, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    bool ro = !(flags & BDRV_O_RDWR);
    if (ro == s->read_only) {
        return 0;
    }
    if (ro) {
        int ret = qcow2_flush_metadata(s);
        if (ret == 0 && s->open_done) {
            ret = qcow2_store_dirty_bitmaps(s, errp);
        }
        if (ret == 0) {
            ret = qcow2_flush_metadata(s);
        }
        if (ret == 0) {
            ret = qcow2_file_sync(s);
        }
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not flush the image");
            return ret;
        }
        s->read_only = true;
        return 0;
    }
    s->read_only = false;
    if (s->version >= 3) {
        bool header_updated = false;
        bdrv_release_all_dirty_bitmaps(bs);
        int ret = qcow2_load_dirty_bitmaps(s, &header_updated, errp);
        if (ret < 0) {
            s->read_only = true;
            return ret;
        }
    }
    return 0;
}

/* The open options QEMU's qcow2 takes (checked, mostly without effect in Vireo). */
static const char *const qcow2_runtime_opts[] = {
    "lazy-refcounts",
    "pass-discard-request",
    "pass-discard-snapshot",
    "pass-discard-other",
    "overlap-check",
    "overlap-check.template",
    "overlap-check.main-header",
    "overlap-check.active-l1",
    "overlap-check.active-l2",
    "overlap-check.refcount-table",
    "overlap-check.refcount-block",
    "overlap-check.snapshot-table",
    "overlap-check.inactive-l1",
    "overlap-check.inactive-l2",
    "overlap-check.bitmap-directory",
    "cache-size",
    "l2-cache-size",
    "l2-cache-entry-size",
    "refcount-cache-size",
    "cache-clean-interval",
    NULL,
};

int qcow2_check_runtime_opts(QOpts *opts, char **errp)
{
    static const char *const bools[] = {"lazy-refcounts", "pass-discard-request",
                                        "pass-discard-snapshot", "pass-discard-other", NULL};
    static const char *const sizes[] = {"cache-size", "l2-cache-size", "l2-cache-entry-size",
                                        "refcount-cache-size", NULL};
    char *err = NULL;
    for (int i = 0; bools[i]; i++) {
        bool b;
        if (!qopts_get_bool(opts, bools[i], false, &b, &err)) {
            block_error(errp, "%s", err);
            g_free(err);
            return -EINVAL;
        }
    }
    for (int i = 0; sizes[i]; i++) {
        uint64_t v;
        if (!qopts_get_size(opts, sizes[i], 0, &v, &err)) {
            block_error(errp, "%s", err);
            g_free(err);
            return -EINVAL;
        }
    }
    uint64_t n;
    if (!qopts_get_number(opts, "cache-clean-interval", 0, &n, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    return 0;
}

const BlockDriver bdrv_qcow2 = {
    .format_name = "qcow2",
    .runtime_opts = qcow2_runtime_opts,
    .supports_backing = true,
    .lock_requests = true,
    .reopen = qcow2_reopen,
    .save_vmstate = qcow2_save_vmstate,
    .load_vmstate = qcow2_load_vmstate,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .pwrite_zeroes = qcow2_pwrite_zeroes,
    .discard = qcow2_discard,
    .flush = qcow2_flush,
    .block_status = qcow2_block_status,
    .truncate = qcow2_truncate,
    .getlength = qcow2_getlength,
    .io_map = qcow2_io_map,
    .check = qcow2_check,
    .get_info = qcow2_get_info,
    .create = qcow2_create,
    .create_opts = qcow2_create_opts,
    .get_specific_info = qcow2_specific_info,
    .snapshot_list = qcow2_snapshot_list,
    .change_backing_file = qcow2_change_backing_file,
    .measure = qcow2_measure,
    .amend = qcow2_amend,
    .amend_opts = qcow2_amend_opts,
    .make_empty = qcow2_make_empty,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_goto = qcow2_snapshot_goto,
    .snapshot_delete = qcow2_snapshot_delete,
    .snapshot_load_tmp = qcow2_snapshot_load_tmp,
    .can_store_new_dirty_bitmap = qcow2_can_store_new_dirty_bitmap,
    .remove_persistent_dirty_bitmap = qcow2_remove_persistent_dirty_bitmap,
};
