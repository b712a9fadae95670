/*
 * qcow2: metadata caches, L1/L2 lookups, L2 table allocation and compressed clusters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include "vireo/error.h"
#include "qcow2.h"

static inline uint64_t be64(uint64_t v)
{
    return GUINT64_FROM_BE(v);
}

void qcow2_signal_corruption(BDRVQcow2State *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!s->corrupt_reported) {
        if (s->read_only) {
            /* QEMU prints these without the program name */
            fprintf(stderr,
                    "qcow2: Image is corrupt: %s; further non-fatal corruption events will be "
                    "suppressed\n",
                    msg);
        } else {
            fprintf(stderr,
                    "qcow2: Marking image as corrupt: %s; further corruption events will be "
                    "suppressed\n",
                    msg);
            s->incompat |= QCOW2_INCOMPAT_CORRUPT;
            /* as QEMU's (drv = NULL): the node is unusable, nothing more is written */
            s->dead = true;
            if (s->version >= 3) {
                uint64_t v = GUINT64_TO_BE(s->incompat);
                bdrv_pwrite(s->file, 72, 8, &v, 0);
                bdrv_flush(s->file);
            }
        }
        s->corrupt_reported = true;
    }
    g_free(msg);
}

/* ---- caches ---- */

Qcow2Cache *qcow2_cache_new(int n, size_t table_size, bool is_l2)
{
    Qcow2Cache *c = g_new0(Qcow2Cache, 1);
    c->n = n;
    c->table_size = table_size;
    c->is_l2 = is_l2;
    c->e = g_new0(Qcow2CacheEntry, n);
    c->map = g_hash_table_new(g_int64_hash, g_int64_equal);
    return c;
}

void qcow2_cache_free(Qcow2Cache *c)
{
    if (!c) {
        return;
    }
    for (int i = 0; i < c->n; i++) {
        g_free(c->e[i].data);
    }
    g_hash_table_destroy(c->map);
    g_free(c->e);
    g_free(c);
}

static int cache_write_entry(BDRVQcow2State *s, Qcow2Cache *c, Qcow2CacheEntry *e)
{
    if (!e->dirty) {
        return 0;
    }
    if (c->is_l2) {
        /* the refcounts (and data) an L2 table points at must reach the disk first */
        int ret = 0;
        if (qcow2_cache_is_dirty(s->rb_cache)) {
            ret = qcow2_cache_write_dirty(s, s->rb_cache);
        }
        if (ret == 0) {
            ret = qcow2_file_sync(s);
        }
        if (ret < 0) {
            return ret;
        }
    }
    BLKDBG_EVENT(s->file, c->is_l2 ? BLKDBG_L2_UPDATE : BLKDBG_REFBLOCK_UPDATE_PART);
    int ret = qcow2_write_meta(s, c->is_l2 ? QCOW2_OL_ACTIVE_L2 : QCOW2_OL_REFCOUNT_BLOCK,
                               e->offset, c->table_size, e->data);
    if (ret < 0) {
        return ret;
    }
    e->dirty = false;
    return 0;
}

int qcow2_cache_get(BDRVQcow2State *s, Qcow2Cache *c, uint64_t offset, bool read, uint64_t **table)
{
    gpointer v = g_hash_table_lookup(c->map, &offset);
    if (v) {
        Qcow2CacheEntry *e = &c->e[GPOINTER_TO_INT(v) - 1];
        e->lru = ++c->lru_counter;
        *table = (uint64_t *)e->data;
        return 0;
    }
    int victim = 0;
    for (int i = 0; i < c->n; i++) {
        if (!c->e[i].offset) {
            victim = i;
            break;
        }
        if (c->e[i].lru < c->e[victim].lru) {
            victim = i;
        }
    }
    Qcow2CacheEntry *e = &c->e[victim];
    if (e->offset) {
        int ret = cache_write_entry(s, c, e);
        if (ret < 0) {
            return ret;
        }
        g_hash_table_remove(c->map, &e->offset);
        e->offset = 0;
    }
    if (!e->data) {
        e->data = g_malloc(c->table_size);
    }
    if (read) {
        if (c->is_l2) {
            BLKDBG_EVENT(s->file, BLKDBG_L2_LOAD);
        }
        int ret = bdrv_pread(s->file, offset, c->table_size, e->data);
        if (ret < 0) {
            return ret;
        }
    } else {
        memset(e->data, 0, c->table_size);
    }
    e->offset = offset;
    e->dirty = false;
    e->lru = ++c->lru_counter;
    g_hash_table_insert(c->map, &e->offset, GINT_TO_POINTER(victim + 1));
    *table = (uint64_t *)e->data;
    return 0;
}

void qcow2_cache_mark_dirty(Qcow2Cache *c, const void *table)
{
    for (int i = 0; i < c->n; i++) {
        if (c->e[i].data == table) {
            c->e[i].dirty = true;
            return;
        }
    }
}

bool qcow2_cache_is_dirty(Qcow2Cache *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->e[i].offset && c->e[i].dirty) {
            return true;
        }
    }
    return false;
}

int qcow2_cache_write_dirty(BDRVQcow2State *s, Qcow2Cache *c)
{
    /* write in offset order: friendlier to the disk and deterministic */
    for (;;) {
        Qcow2CacheEntry *best = NULL;
        for (int i = 0; i < c->n; i++) {
            if (c->e[i].offset && c->e[i].dirty && (!best || c->e[i].offset < best->offset)) {
                best = &c->e[i];
            }
        }
        if (!best) {
            return 0;
        }
        int ret = cache_write_entry(s, c, best);
        if (ret < 0) {
            return ret;
        }
    }
}

void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset)
{
    gpointer v = g_hash_table_lookup(c->map, &offset);
    if (v) {
        Qcow2CacheEntry *e = &c->e[GPOINTER_TO_INT(v) - 1];
        g_hash_table_remove(c->map, &e->offset);
        e->offset = 0;
        e->dirty = false;
        e->lru = 0;
    }
}

void qcow2_cache_drop_all(Qcow2Cache *c)
{
    g_hash_table_remove_all(c->map);
    for (int i = 0; i < c->n; i++) {
        c->e[i].offset = 0;
        c->e[i].dirty = false;
        c->e[i].lru = 0;
    }
}

int qcow2_file_sync(BDRVQcow2State *s)
{
    return bdrv_flush(s->file);
}

int qcow2_flush_metadata(BDRVQcow2State *s)
{
    int ret = 0;
    if (qcow2_cache_is_dirty(s->rb_cache)) {
        ret = qcow2_cache_write_dirty(s, s->rb_cache);
    }
    if (ret == 0 && qcow2_cache_is_dirty(s->l2_cache)) {
        ret = qcow2_cache_write_dirty(s, s->l2_cache);
    }
    return ret;
}

/* ---- mapping ---- */

Qcow2ClusterType qcow2_entry_type(BDRVQcow2State *s, uint64_t e)
{
    if (e & QCOW_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if ((e & QCOW_OFLAG_ZERO) && s->version >= 3) {
        return (e & L2E_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC : QCOW2_CLUSTER_ZERO_PLAIN;
    }
    if (!(e & L2E_OFFSET_MASK)) {
        /* offset 0 is a real one in an external data file, told apart by the COPIED flag */
        return qcow2_has_data_file(s) && (e & QCOW_OFLAG_COPIED) ? QCOW2_CLUSTER_NORMAL
                                                                 : QCOW2_CLUSTER_UNALLOCATED;
    }
    return QCOW2_CLUSTER_NORMAL;
}

static int load_l2(BDRVQcow2State *s, uint64_t l1_index, uint64_t **l2, uint64_t *l2_offset)
{
    *l2 = NULL;
    *l2_offset = 0;
    if (l1_index >= s->l1_size) {
        return 0;
    }
    uint64_t l1e = s->l1[l1_index];
    uint64_t off = l1e & L1E_OFFSET_MASK;
    if (!off) {
        return 0;
    }
    if (off & (s->cluster_size - 1)) {
        qcow2_signal_corruption(
            s, "L2 table offset %#" PRIx64 " unaligned (L1 index: %#" PRIx64 ")", off, l1_index);
        return -EIO;
    }
    *l2_offset = off;
    return qcow2_cache_get(s, s->l2_cache, off, true, l2);
}

int qcow2_get_entry(BDRVQcow2State *s, uint64_t offset, uint64_t max_clusters, uint64_t *entry,
                    uint64_t *n_same)
{
    uint64_t cluster = offset >> s->cluster_bits;
    uint64_t l1_index = cluster >> s->l2_bits;
    uint64_t l2_index = cluster & (s->l2_entries - 1);
    uint64_t room = s->l2_entries - l2_index;
    uint64_t *l2, l2_offset;
    if (max_clusters == 0) {
        max_clusters = 1;
    }
    room = MIN(room, max_clusters);
    int ret = load_l2(s, l1_index, &l2, &l2_offset);
    if (ret < 0) {
        return ret;
    }
    if (!l2) {
        *entry = 0;
        *n_same = room;
        return 0;
    }
    uint64_t e = l2_entry_get(s, l2, l2_index);
    Qcow2ClusterType t = qcow2_entry_type(s, e);
    if (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) {
        uint64_t host = e & L2E_OFFSET_MASK;
        if (host & (s->cluster_size - 1)) {
            qcow2_signal_corruption(s,
                                    "Cluster allocation offset %#" PRIx64
                                    " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
                                    host, l2_offset, l2_index);
            return -EIO;
        }
    }
    uint64_t n = 1;
    for (; n < room; n++) {
        uint64_t e2 = l2_entry_get(s, l2, l2_index + n);
        if (qcow2_entry_type(s, e2) != t) {
            break;
        }
        /* host clusters in a run are contiguous, zero-allocated ones too (map shows them) */
        if ((t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) &&
            (e2 & L2E_OFFSET_MASK) != (e & L2E_OFFSET_MASK) + n * s->cluster_size) {
            break;
        }
        if (t == QCOW2_CLUSTER_COMPRESSED) {
            break;
        }
    }
    *entry = e;
    *n_same = n;
    return 0;
}

Qcow2SubclusterType qcow2_subcluster_type(BDRVQcow2State *s, uint64_t e, uint64_t bitmap,
                                          unsigned sc)
{
    uint64_t alloc = bitmap & QCOW_L2_BITMAP_ALL_ALLOC, zero = bitmap >> 32;
    if (e & QCOW_OFLAG_COMPRESSED) {
        return bitmap ? QCOW2_SC_INVALID : QCOW2_SC_COMPRESSED;
    }
    if (!(e & L2E_OFFSET_MASK) && !(qcow2_has_data_file(s) && (e & QCOW_OFLAG_COPIED))) {
        if (alloc) {
            return QCOW2_SC_INVALID;
        }
        return (zero >> sc) & 1 ? QCOW2_SC_ZERO_PLAIN : QCOW2_SC_UNALLOCATED_PLAIN;
    }
    bool a = (alloc >> sc) & 1, z = (zero >> sc) & 1;
    if (a && z) {
        return QCOW2_SC_INVALID;
    }
    return z ? QCOW2_SC_ZERO_ALLOC : a ? QCOW2_SC_NORMAL : QCOW2_SC_UNALLOCATED_ALLOC;
}

int qcow2_get_subcluster(BDRVQcow2State *s, uint64_t offset, uint64_t bytes, uint64_t *entry,
                         uint64_t *bitmap, Qcow2SubclusterType *type, uint64_t *run)
{
    uint64_t cluster = offset >> s->cluster_bits;
    uint64_t l1_index = cluster >> s->l2_bits;
    uint64_t l2_index = cluster & (s->l2_entries - 1);
    uint64_t in_cluster = offset & (s->cluster_size - 1);
    uint64_t *l2, l2_offset;
    int ret = load_l2(s, l1_index, &l2, &l2_offset);
    if (ret < 0) {
        return ret;
    }
    uint64_t e = 0, b = 0;
    if (l2) {
        e = l2_entry_get(s, l2, l2_index);
        b = l2_bitmap_get(s, l2, l2_index);
    }
    unsigned sc = (unsigned)(in_cluster >> s->subcluster_bits);
    Qcow2SubclusterType t = qcow2_subcluster_type(s, e, b, sc);
    if (t == QCOW2_SC_INVALID) {
        qcow2_signal_corruption(
            s, "Invalid cluster entry found  (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
            l2_offset, l2_index);
        return -EIO;
    }
    if ((e & L2E_OFFSET_MASK) && !(e & QCOW_OFLAG_COMPRESSED) &&
        ((e & L2E_OFFSET_MASK) & (s->cluster_size - 1))) {
        qcow2_signal_corruption(s,
                                "Cluster allocation offset %#" PRIx64
                                " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
                                (uint64_t)(e & L2E_OFFSET_MASK), l2_offset, l2_index);
        return -EIO;
    }
    unsigned last = sc;
    if (t != QCOW2_SC_COMPRESSED) {
        while (last + 1 < 32 && qcow2_subcluster_type(s, e, b, last + 1) == t) {
            last++;
        }
    } else {
        last = 31;
    }
    uint64_t end = (uint64_t)(last + 1) << s->subcluster_bits;
    *entry = e;
    *bitmap = b;
    *type = t;
    *run = MIN(bytes, end - in_cluster);
    return 0;
}

int qcow2_write_l1_entry(BDRVQcow2State *s, uint32_t index)
{
    /* like QEMU: rewrite the 512-byte sector holding the entry (bounded by the table size) */
    uint32_t per_sector = 512 / 8;
    uint32_t start = index & ~(per_sector - 1);
    uint32_t n = MIN(per_sector, s->l1_size - start);
    uint64_t buf[64];
    for (uint32_t i = 0; i < n; i++) {
        buf[i] = GUINT64_TO_BE(s->l1[start + i]);
    }
    BLKDBG_EVENT(s->file, BLKDBG_L1_UPDATE);
    int ret = qcow2_write_meta(s, QCOW2_OL_ACTIVE_L1, s->l1_offset + (uint64_t)start * 8,
                               (uint64_t)n * 8, buf);
    if (ret < 0) {
        return ret;
    }
    return qcow2_file_sync(s);
}

int qcow2_get_l2_for_write(BDRVQcow2State *s, uint64_t l1_index, uint64_t *l2_offset)
{
    if (l1_index >= s->l1_size) {
        return -EIO;
    }
    uint64_t l1e = s->l1[l1_index];
    uint64_t old = l1e & L1E_OFFSET_MASK;
    if (old && (l1e & QCOW_OFLAG_COPIED)) {
        if (old & (s->cluster_size - 1)) {
            qcow2_signal_corruption(
                s, "L2 table offset %#" PRIx64 " unaligned (L1 index: %#" PRIx64 ")", old,
                l1_index);
            return -EIO;
        }
        *l2_offset = old;
        return 0;
    }
    int64_t new = qcow2_alloc_clusters(s, 1);
    if (new < 0) {
        return (int)new;
    }
    /* the new table's refcount must be on disk before anything points to it */
    int ret = qcow2_cache_write_dirty(s, s->rb_cache);
    if (ret < 0) {
        return ret;
    }
    uint64_t *src = NULL, *dst;
    uint8_t *copy = NULL;
    if (old) {
        BLKDBG_EVENT(s->file, BLKDBG_L2_ALLOC_COW_READ);
        ret = qcow2_cache_get(s, s->l2_cache, old, true, &src);
        if (ret < 0) {
            return ret;
        }
        copy = g_memdup2(src, s->cluster_size);
    }
    ret = qcow2_cache_get(s, s->l2_cache, (uint64_t) new, false, &dst);
    if (ret < 0) {
        g_free(copy);
        return ret;
    }
    if (copy) {
        memcpy(dst, copy, s->cluster_size);
        g_free(copy);
    }
    qcow2_cache_mark_dirty(s->l2_cache, dst);
    BLKDBG_EVENT(s->file, BLKDBG_L2_ALLOC_WRITE);
    ret = qcow2_cache_write_dirty(s, s->l2_cache);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    s->l1[l1_index] = (uint64_t) new | QCOW_OFLAG_COPIED;
    ret = qcow2_write_l1_entry(s, (uint32_t)l1_index);
    if (ret < 0) {
        return ret;
    }
    if (old) {
        ret = qcow2_free_clusters(s, old, s->cluster_size, false);
    }
    *l2_offset = (uint64_t) new;
    return ret;
}

/* ---- compressed clusters ---- */

uint64_t qcow2_compressed_entry(int cluster_bits, uint64_t host_offset, uint64_t csize)
{
    int shift = 62 - (cluster_bits - 8);
    uint64_t nb_csectors = ((host_offset + csize - 1) >> 9) - (host_offset >> 9);
    return QCOW_OFLAG_COMPRESSED | (nb_csectors << shift) | host_offset;
}

void qcow2_compressed_geometry(int cluster_bits, uint64_t e, uint64_t *host_offset, uint64_t *bytes)
{
    int shift = 62 - (cluster_bits - 8);
    uint64_t mask = (1ULL << (cluster_bits - 8)) - 1;
    uint64_t off = e & ((1ULL << shift) - 1);
    uint64_t nsect = ((e >> shift) & mask) + 1;
    *host_offset = off;
    *bytes = nsect * 512 - (off & 511);
}

int qcow2_decompress_cluster(BDRVQcow2State *s, uint64_t e, uint8_t **out)
{
    uint64_t desc = e & ~QCOW_OFLAG_COPIED;
    if (s->ccache_offset == desc) {
        *out = s->ccache;
        return 0;
    }
    uint64_t off, len;
    qcow2_compressed_geometry(s->cluster_bits, e, &off, &len);
    if (!s->cbuf) {
        s->cbuf = g_malloc(2 * s->cluster_size + 512);
        s->ccache = g_malloc(s->cluster_size);
    }
    int ret = bdrv_pread(s->file, off, len, s->cbuf);
    if (ret < 0) {
        return ret;
    }
    if (s->compression_type != 0) {
        return -ENOTSUP;
    }
    z_stream zs = {0};
    if (inflateInit2(&zs, -12) != Z_OK) {
        return -EIO;
    }
    zs.next_in = s->cbuf;
    zs.avail_in = (uInt)len;
    zs.next_out = s->ccache;
    zs.avail_out = (uInt)s->cluster_size;
    int zr = inflate(&zs, Z_FINISH);
    bool full = zs.avail_out == 0;
    inflateEnd(&zs);
    s->ccache_offset = ~0ULL;
    if (!((zr == Z_STREAM_END || zr == Z_BUF_ERROR) && full)) {
        return -EIO;
    }
    s->ccache_offset = desc;
    *out = s->ccache;
    return 0;
}
