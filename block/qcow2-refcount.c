/*
 * qcow2: refcount arithmetic, cluster allocation and the consistency check.
 *
 * Allocation follows the same choices as QEMU so that images we lay out (create with
 * preallocation, convert) match QEMU's: clusters are taken first-fit from a moving
 * free_cluster_index, and allocating a new refcount block restarts the allocation (-EAGAIN)
 * after undoing the refcount changes made so far.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "vireo/error.h"
#include "qcow2.h"

/* ---- pure arithmetic ---- */

uint64_t qcow2_refcount_max(int order)
{
    return order >= 6 ? UINT64_MAX : (1ULL << (1 << order)) - 1;
}

uint64_t qcow2_refcount_get(const void *block, uint64_t index, int order)
{
    const uint8_t *b = block;
    switch (order) {
    case 0:
    case 1:
    case 2: {
        int bits = 1 << order;
        uint64_t bitpos = index * (uint64_t)bits;
        uint8_t byte = b[bitpos / 8];
        return (byte >> (bitpos % 8)) & ((1u << bits) - 1);
    }
    case 3:
        return b[index];
    case 4:
        return ((uint64_t)b[index * 2] << 8) | b[index * 2 + 1];
    case 5: {
        const uint8_t *p = b + index * 4;
        return ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
    }
    default: {
        const uint8_t *p = b + index * 8;
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | p[i];
        }
        return v;
    }
    }
}

void qcow2_refcount_set(void *block, uint64_t index, int order, uint64_t value)
{
    uint8_t *b = block;
    switch (order) {
    case 0:
    case 1:
    case 2: {
        int bits = 1 << order;
        uint64_t bitpos = index * (uint64_t)bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bitpos % 8));
        b[bitpos / 8] = (uint8_t)((b[bitpos / 8] & ~mask) | ((value << (bitpos % 8)) & mask));
        break;
    }
    case 3:
        b[index] = (uint8_t)value;
        break;
    case 4:
        b[index * 2] = (uint8_t)(value >> 8);
        b[index * 2 + 1] = (uint8_t)value;
        break;
    case 5:
        for (int i = 0; i < 4; i++) {
            b[index * 4 + i] = (uint8_t)(value >> (24 - 8 * i));
        }
        break;
    default:
        for (int i = 0; i < 8; i++) {
            b[index * 8 + i] = (uint8_t)(value >> (56 - 8 * i));
        }
        break;
    }
}

int qcow2_refcount_add(uint64_t old, int64_t addend, int order, uint64_t *out)
{
    uint64_t max = qcow2_refcount_max(order);
    if (addend < 0) {
        uint64_t dec = (uint64_t)(-(addend + 1)) + 1;
        if (dec > old) {
            return -ERANGE;
        }
        *out = old - dec;
    } else {
        uint64_t inc = (uint64_t)addend;
        if (old > max || inc > max - old) {
            return -ERANGE;
        }
        *out = old + inc;
    }
    return 0;
}

/* ---- refcount blocks ---- */

static int load_refblock(BDRVQcow2State *s, uint64_t rt_index, uint64_t **block)
{
    uint64_t off = s->rt[rt_index] & REFT_OFFSET_MASK;
    if (off & (s->cluster_size - 1)) {
        qcow2_signal_corruption(
            s, "Refblock offset %#" PRIx64 " unaligned (reftable index: %#" PRIx64 ")", off,
            rt_index);
        return -EIO;
    }
    BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_LOAD);
    return qcow2_cache_get(s, s->rb_cache, off, true, block);
}

int qcow2_get_refcount(BDRVQcow2State *s, uint64_t cluster_index, uint64_t *refcount)
{
    uint64_t rt_index = cluster_index >> s->rb_bits;
    *refcount = 0;
    if (rt_index >= s->rt_size || !(s->rt[rt_index] & REFT_OFFSET_MASK)) {
        return 0;
    }
    uint64_t *block;
    int ret = load_refblock(s, rt_index, &block);
    if (ret < 0) {
        return ret;
    }
    *refcount = qcow2_refcount_get(block, cluster_index & (s->rb_entries - 1), s->refcount_order);
    return 0;
}

static int64_t alloc_clusters_noref(BDRVQcow2State *s, uint64_t n)
{
    uint64_t i, rc;
retry:
    for (i = 0; i < n; i++) {
        uint64_t idx = s->free_cluster_index++;
        int ret = qcow2_get_refcount(s, idx, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc != 0) {
            goto retry;
        }
    }
    if (((s->free_cluster_index) << s->cluster_bits) > QCOW_MAX_CLUSTER_OFFSET + 1 ||
        s->free_cluster_index > (QCOW_MAX_CLUSTER_OFFSET >> s->cluster_bits)) {
        return -EFBIG;
    }
    return (int64_t)((s->free_cluster_index - n) << s->cluster_bits);
}

static int write_reftable_entry(BDRVQcow2State *s, uint64_t rt_index)
{
    uint64_t v = GUINT64_TO_BE(s->rt[rt_index]);
    BLKDBG_EVENT(s->file, BLKDBG_REFTABLE_UPDATE);
    int ret = qcow2_write_meta(s, QCOW2_OL_REFCOUNT_TABLE, s->rt_offset + rt_index * 8, 8, &v);
    if (ret < 0) {
        return ret;
    }
    return qcow2_file_sync(s);
}

/*
 * Make sure a refcount block covers cluster_index. Returns 0 when one already exists, -EAGAIN
 * after creating one (the caller restarts its allocation), or another negative errno.
 */
static int alloc_refcount_block(BDRVQcow2State *s, uint64_t cluster_index)
{
    uint64_t rt_index = cluster_index >> s->rb_bits;
    if (rt_index < s->rt_size && (s->rt[rt_index] & REFT_OFFSET_MASK)) {
        return 0;
    }
    BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_ALLOC);
    int64_t nb = alloc_clusters_noref(s, 1);
    if (nb < 0) {
        return (int)nb;
    }
    if (nb == 0) {
        qcow2_signal_corruption(s, "Preventing invalid allocation of refcount block at offset 0");
        return -EIO;
    }
    uint64_t nb_index = (uint64_t)nb >> s->cluster_bits;
    uint64_t *block;
    int ret;
    if ((nb_index >> s->rb_bits) == rt_index) {
        /* self-describing */
        BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_ALLOC_HOOKUP);
        ret = qcow2_cache_get(s, s->rb_cache, (uint64_t)nb, false, &block);
        if (ret < 0) {
            return ret;
        }
        qcow2_refcount_set(block, nb_index & (s->rb_entries - 1), s->refcount_order, 1);
        qcow2_cache_mark_dirty(s->rb_cache, block);
    } else {
        ret = qcow2_update_refcount(s, (uint64_t)nb, s->cluster_size, 1);
        if (ret < 0) {
            return ret;
        }
        ret = qcow2_cache_get(s, s->rb_cache, (uint64_t)nb, false, &block);
        if (ret < 0) {
            return ret;
        }
        qcow2_cache_mark_dirty(s->rb_cache, block);
    }
    /* the block (and its own refcount) must be on disk before the table points to it */
    BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_ALLOC_WRITE);
    ret = qcow2_cache_write_dirty(s, s->rb_cache);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    if (rt_index < s->rt_size) {
        s->rt[rt_index] = (uint64_t)nb;
        s->rt_max_index = MAX(s->rt_max_index, rt_index);
        ret = write_reftable_entry(s, rt_index);
        return ret < 0 ? ret : -EAGAIN;
    }
    /*
     * The table is too small for the block: as QEMU, a bigger table (with room to grow) and the
     * refcount blocks describing it go right after the area the existing blocks (and the new
     * one) cover, and take the new block in one switch.
     */
    BLKDBG_EVENT(s->file, BLKDBG_REFTABLE_GROW);
    uint64_t blocks_used = (MAX(cluster_index, nb_index) + 1 + s->rb_entries - 1) / s->rb_entries;
    int64_t end = qcow2_refcount_area(s, blocks_used * s->rb_entries * s->cluster_size, 0, false,
                                      rt_index, (uint64_t)nb);
    return end < 0 ? (int)end : -EAGAIN;
}

static int update_refcount_range(BDRVQcow2State *s, uint64_t first, uint64_t last, int64_t addend,
                                 uint64_t *done)
{
    *done = first;
    for (uint64_t c = first; c <= last; c++) {
        int ret;
        if (addend > 0) {
            ret = alloc_refcount_block(s, c);
            if (ret == -EAGAIN && s->free_cluster_index > first) {
                /* as QEMU: the caller's search restarts at the clusters it had found */
                s->free_cluster_index = first;
            }
            if (ret < 0) {
                return ret;
            }
        }
        uint64_t rt_index = c >> s->rb_bits;
        if (rt_index >= s->rt_size || !(s->rt[rt_index] & REFT_OFFSET_MASK)) {
            qcow2_signal_corruption(s, "Refcount block missing for cluster %#" PRIx64, c);
            return -EIO;
        }
        uint64_t *block;
        ret = load_refblock(s, rt_index, &block);
        if (ret < 0) {
            return ret;
        }
        uint64_t idx = c & (s->rb_entries - 1);
        uint64_t old = qcow2_refcount_get(block, idx, s->refcount_order), nv;
        if (qcow2_refcount_add(old, addend, s->refcount_order, &nv) < 0) {
            if (addend < 0) {
                qcow2_signal_corruption(s, "Refcount of cluster %#" PRIx64 " would drop below 0",
                                        c);
                return -EIO;
            }
            return -ERANGE;
        }
        qcow2_refcount_set(block, idx, s->refcount_order, nv);
        qcow2_cache_mark_dirty(s->rb_cache, block);
        if (nv == 0 && c < s->free_cluster_index) {
            s->free_cluster_index = c;
        }
        *done = c + 1;
    }
    return 0;
}

int qcow2_update_refcount(BDRVQcow2State *s, uint64_t offset, uint64_t length, int64_t addend)
{
    if (!length) {
        return 0;
    }
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + length - 1) >> s->cluster_bits;
    uint64_t done;
    int ret = update_refcount_range(s, first, last, addend, &done);
    if (ret < 0 && done > first) {
        uint64_t dummy;
        update_refcount_range(s, first, done - 1, -addend, &dummy);
    }
    if (ret == 0) {
        s->ccache_offset = ~0ULL;
    }
    return ret;
}

int64_t qcow2_alloc_clusters(BDRVQcow2State *s, uint64_t n)
{
    BLKDBG_EVENT(s->file, BLKDBG_CLUSTER_ALLOC);
    for (int tries = 0; tries < 1000; tries++) {
        int64_t off = alloc_clusters_noref(s, n);
        if (off < 0) {
            return off;
        }
        int ret = qcow2_update_refcount(s, (uint64_t)off, n << s->cluster_bits, 1);
        if (ret == -EAGAIN) {
            continue;
        }
        return ret < 0 ? ret : off;
    }
    return -EIO;
}

int64_t qcow2_alloc_bytes(BDRVQcow2State *s, uint64_t size)
{
    BLKDBG_EVENT(s->file, BLKDBG_CLUSTER_ALLOC_BYTES);
    uint64_t offset = s->free_byte_offset;
    uint64_t rc;
    if (offset) {
        int ret = qcow2_get_refcount(s, offset >> s->cluster_bits, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc == s->refcount_max) {
            offset = 0;
        }
    }
    uint64_t free_in_cluster = s->cluster_size - (offset & (s->cluster_size - 1));
    int ret;
    do {
        if (!offset || free_in_cluster < size) {
            int64_t nc = alloc_clusters_noref(s, 1);
            if (nc < 0) {
                return nc;
            }
            uint64_t next = (offset + s->cluster_size - 1) & ~(s->cluster_size - 1);
            if (!offset || next != (uint64_t)nc) {
                offset = (uint64_t)nc;
                free_in_cluster = s->cluster_size;
            } else {
                free_in_cluster += s->cluster_size;
            }
        }
        ret = qcow2_update_refcount(s, offset, size, 1);
        if (ret < 0) {
            if (ret != -EAGAIN) {
                return ret;
            }
            offset = 0;
        }
    } while (ret == -EAGAIN);
    s->free_byte_offset = offset + size;
    if (!(s->free_byte_offset & (s->cluster_size - 1))) {
        s->free_byte_offset = 0;
    }
    return (int64_t)offset;
}

int qcow2_free_clusters(BDRVQcow2State *s, uint64_t offset, uint64_t length, bool discard)
{
    BLKDBG_EVENT(s->file, BLKDBG_CLUSTER_FREE);
    /* nothing on disk may point at the clusters once their refcount can reach zero */
    int ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_update_refcount(s, offset, length, -1);
    if (ret < 0) {
        return ret;
    }
    if (discard) {
        uint64_t first = offset >> s->cluster_bits;
        uint64_t last = (offset + length - 1) >> s->cluster_bits;
        for (uint64_t c = first; c <= last; c++) {
            uint64_t rc;
            if (qcow2_get_refcount(s, c, &rc) == 0 && rc == 0) {
                bdrv_discard(s->file, c << s->cluster_bits, s->cluster_size);
            }
        }
    }
    return 0;
}

/*
 * After a shrink, as QEMU's qcow2_shrink_reftable(): every refcount block that counts nothing
 * but (maybe) itself leaves the table (written whole), then is freed; the freed block stays on
 * disk as it was (it leaves the cache unwritten) unless the file is cut after it.
 */
int qcow2_shrink_reftable(BDRVQcow2State *s)
{
    uint64_t *nt = g_try_new0(uint64_t, s->rt_size ? s->rt_size : 1);
    if (!nt) {
        return -ENOMEM;
    }
    int ret = 0;
    size_t words = s->cluster_size / 8;
    for (uint64_t i = 0; i < s->rt_size; i++) {
        uint64_t off = s->rt[i] & REFT_OFFSET_MASK;
        if (!off) {
            continue;
        }
        uint64_t *block;
        ret = load_refblock(s, i, &block);
        if (ret < 0) {
            goto out;
        }
        uint64_t self = off >> s->cluster_bits, self_rc = 0;
        bool own = (self >> s->rb_bits) == i;
        if (own) {
            self_rc = qcow2_refcount_get(block, self & (s->rb_entries - 1), s->refcount_order);
            qcow2_refcount_set(block, self & (s->rb_entries - 1), s->refcount_order, 0);
        }
        bool unused = true;
        for (size_t w = 0; w < words && unused; w++) {
            unused = block[w] == 0;
        }
        if (own) {
            qcow2_refcount_set(block, self & (s->rb_entries - 1), s->refcount_order, self_rc);
        }
        nt[i] = unused ? 0 : GUINT64_TO_BE(s->rt[i]);
    }
    ret = qcow2_write_meta(s, QCOW2_OL_REFCOUNT_TABLE, s->rt_offset, s->rt_size * 8, nt);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    for (uint64_t i = 0; i < s->rt_size; i++) {
        uint64_t off = s->rt[i] & REFT_OFFSET_MASK;
        if (off && !nt[i]) {
            if (ret == 0) {
                ret = qcow2_free_clusters(s, off, s->cluster_size, false);
            }
            qcow2_cache_discard(s->rb_cache, off);
            s->rt[i] = 0;
        }
    }
    qcow2_rt_max_update(s);
out:
    g_free(nt);
    return ret;
}

/* Refcount blocks needed for `clusters` clusters, the refcount structures included
 * (QEMU's fixed point; `generous` adds room for half the table again). */
static uint64_t refblocks_for(BDRVQcow2State *s, uint64_t clusters, bool generous)
{
    uint64_t per_table_cluster = s->cluster_size / 8, per_block = s->rb_entries;
    uint64_t table = 0, blocks = 0, n = 0, last;
    do {
        last = n;
        blocks = (clusters + table + blocks + per_block - 1) / per_block;
        table = (blocks + per_table_cluster - 1) / per_table_cluster;
        n = clusters + blocks + table;
        if (n == last && generous) {
            clusters += (table + 1) / 2;
            n = 0;
            generous = false;
        }
    } while (n != last);
    return blocks;
}

int64_t qcow2_refcount_area(BDRVQcow2State *s, uint64_t start_offset, uint64_t additional_clusters,
                            bool exact_size, uint64_t new_block_index, uint64_t new_block)
{
    uint64_t cs = s->cluster_size;
    uint64_t total = refblocks_for(s, start_offset / cs + additional_clusters, !exact_size);
    if (total > QCOW_MAX_REFTABLE_SIZE) {
        return -EFBIG;
    }
    uint64_t area_index = (start_offset / cs) / s->rb_entries;
    uint64_t per_cluster = cs / 8;
    uint64_t table_size = exact_size ? total : total + (total + 1) / 2;
    table_size = (table_size + per_cluster - 1) / per_cluster * per_cluster;
    uint64_t table_clusters = table_size * 8 / cs;
    if (table_size > QCOW_MAX_REFTABLE_SIZE) {
        return -EFBIG;
    }
    uint64_t *nt = g_try_new0(uint64_t, table_size);
    if (!nt) {
        return -ENOMEM;
    }
    uint64_t max_index = 0;
    for (uint64_t i = 0; i < s->rt_size; i++) {
        if (s->rt[i]) {
            max_index = i;
        }
    }
    memcpy(nt, s->rt, MIN(table_size, max_index + 1) * 8);
    if (new_block) {
        nt[new_block_index] = new_block;
    }
    uint64_t new_blocks = 0;
    for (uint64_t i = area_index; i < total; i++) {
        new_blocks += !nt[i];
    }
    uint64_t table_offset = start_offset + new_blocks * cs;
    uint64_t end_offset = table_offset + table_clusters * cs;
    uint64_t block_offset = start_offset;
    int ret = 0;
    for (uint64_t i = area_index; i < total && ret == 0; i++) {
        uint64_t *block;
        if (nt[i]) {
            ret = qcow2_cache_get(s, s->rb_cache, nt[i] & REFT_OFFSET_MASK, true, &block);
        } else {
            ret = qcow2_cache_get(s, s->rb_cache, block_offset, false, &block);
            if (ret == 0) {
                qcow2_cache_mark_dirty(s->rb_cache, block);
                nt[i] = block_offset;
                block_offset += cs;
            }
        }
        if (ret < 0) {
            break;
        }
        uint64_t first = i * s->rb_entries * cs;
        if (first < end_offset) {
            uint64_t j = first < start_offset ? (start_offset - first) / cs : 0;
            uint64_t end_index = MIN((end_offset - first) / cs, s->rb_entries);
            for (; j < end_index; j++) {
                qcow2_refcount_set(block, j, s->refcount_order, 1);
            }
            qcow2_cache_mark_dirty(s->rb_cache, block);
        }
    }
    if (ret == 0) {
        BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_ALLOC_WRITE_BLOCKS);
        ret = qcow2_cache_write_dirty(s, s->rb_cache);
    }
    uint64_t *be = NULL;
    if (ret == 0) {
        BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_ALLOC_WRITE_TABLE);
        be = g_new(uint64_t, table_size);
        for (uint64_t i = 0; i < table_size; i++) {
            be[i] = GUINT64_TO_BE(nt[i]);
        }
        ret = qcow2_write_meta(s, 0, table_offset, table_size * 8, be);
        g_free(be);
    }
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret == 0) {
        uint8_t hdr[12];
        for (int k = 0; k < 8; k++) {
            hdr[k] = (uint8_t)(table_offset >> (56 - 8 * k));
        }
        for (int k = 0; k < 4; k++) {
            hdr[8 + k] = (uint8_t)(table_clusters >> (24 - 8 * k));
        }
        BLKDBG_EVENT(s->file, BLKDBG_REFBLOCK_ALLOC_SWITCH_TABLE);
        ret = bdrv_pwrite(s->file, 48, 12, hdr, 0);
        if (ret == 0) {
            ret = qcow2_file_sync(s);
        }
    }
    if (ret < 0) {
        g_free(nt);
        return ret;
    }
    uint64_t old_offset = s->rt_offset, old_size = s->rt_size;
    g_free(s->rt);
    s->rt = nt;
    s->rt_size = table_size;
    s->rt_offset = table_offset;
    s->rt_clusters = (uint32_t)table_clusters;
    qcow2_rt_max_update(s);
    qcow2_free_clusters(s, old_offset, old_size * 8, false);
    return (int64_t)end_offset;
}

int64_t qcow2_alloc_clusters_at(BDRVQcow2State *s, uint64_t offset, uint64_t n)
{
    uint64_t first = offset >> s->cluster_bits, i;
    for (i = 0; i < n; i++) {
        uint64_t rc;
        int ret = qcow2_get_refcount(s, first + i, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc) {
            break;
        }
    }
    if (i) {
        int ret = qcow2_update_refcount(s, offset, i << s->cluster_bits, 1);
        if (ret < 0) {
            return ret;
        }
    }
    return (int64_t)i;
}

int64_t qcow2_alloc_data_clusters(BDRVQcow2State *s, uint64_t first, uint64_t n)
{
    if (qcow2_has_data_file(s)) {
        return (int64_t)(first << s->cluster_bits);
    }
    return qcow2_alloc_clusters(s, n);
}

int qcow2_free_entry(BDRVQcow2State *s, uint64_t e, bool discard)
{
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        if (qcow2_has_data_file(s)) {
            /* data clusters of an external file carry no refcount */
            if (discard && s->data_file) {
                bdrv_discard(s->data_file, e & L2E_OFFSET_MASK, s->cluster_size);
            }
            return 0;
        }
        return qcow2_free_clusters(s, e & L2E_OFFSET_MASK, s->cluster_size, discard);
    case QCOW2_CLUSTER_COMPRESSED: {
        uint64_t off, len;
        qcow2_compressed_geometry(s->cluster_bits, e, &off, &len);
        uint64_t nsect = (len + (off & 511)) / 512;
        return qcow2_free_clusters(s, off & ~511ULL, nsect * 512, discard);
    }
    default:
        return 0;
    }
}

/* ---- check ---- */

typedef struct CheckState {
    uint32_t *ref; /* computed references per cluster (saturating) */
    uint64_t nb;   /* clusters in the file */
    uint64_t cap;
    int64_t file_len;
    int err; /* a failure that ends the check (QEMU: "Check failed: ...") */
} CheckState;

static void inc_refs(BDRVQcow2State *s, CheckState *cs, BdrvCheckResult *res, uint64_t offset,
                     uint64_t size)
{
    if (!size) {
        return;
    }
    /*
     * Offsets from a broken image may be anywhere in 64 bits. As in QEMU (signed arithmetic):
     * a region ending a cluster or more past the file end is a corruption; one whose end
     * wraps past 2^63 would need an absurd counter array, which fails the check with ENOMEM.
     */
    uint64_t end = offset + size;
    if ((int64_t)end >= 0 && (int64_t)end - cs->file_len >= (int64_t)s->cluster_size) {
        fprintf(stderr,
                "ERROR: counting reference for region exceeding the end of the file by one "
                "cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64 "\n",
                offset, size);
        res->corruptions++;
        return;
    }
    if (end < offset) {
        return; /* wrapped around zero: the cluster range is empty */
    }
    if ((int64_t)end < 0) {
        if (!cs->err) {
            cs->err = -ENOMEM;
            res->check_errors++;
        }
        return;
    }
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + size - 1) >> s->cluster_bits;
    if (last >= cs->cap) {
        uint64_t ncap = MAX(last + 1, cs->cap * 2);
        cs->ref = g_renew(uint32_t, cs->ref, ncap);
        memset(cs->ref + cs->cap, 0, (ncap - cs->cap) * 4);
        cs->cap = ncap;
    }
    if (last >= cs->nb) {
        cs->nb = last + 1;
    }
    for (uint64_t c = first; c <= last; c++) {
        if (cs->ref[c] != UINT32_MAX) {
            cs->ref[c]++;
        }
    }
}

#define CHECK_FRAG_INFO 1

static int check_l2(BDRVQcow2State *s, CheckState *cs, BdrvCheckResult *res, uint64_t l2_offset,
                    int flags, int fix, bool active, uint64_t *next_contig)
{
    uint64_t *l2 = g_malloc(s->cluster_size);
    int ret = bdrv_pread(s->file, l2_offset, s->cluster_size, l2);
    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l2\n");
        res->check_errors++;
        g_free(l2);
        return ret;
    }
    for (uint64_t i = 0; i < s->l2_entries; i++) {
        uint64_t e = l2_entry_get(s, l2, i);
        uint64_t bitmap = l2_bitmap_get(s, l2, i);
        Qcow2ClusterType t = qcow2_entry_type(s, e);
        if (s->extended_l2) {
            /* bit 0 is no zero flag here: the bitmap says which subclusters read as zero */
            t = t == QCOW2_CLUSTER_ZERO_ALLOC   ? QCOW2_CLUSTER_NORMAL
                : t == QCOW2_CLUSTER_ZERO_PLAIN ? QCOW2_CLUSTER_UNALLOCATED
                                                : t;
        }
        switch (t) {
        case QCOW2_CLUSTER_COMPRESSED: {
            if (e & QCOW_OFLAG_COPIED) {
                fprintf(stderr,
                        "ERROR: coffset=0x%" PRIx64 ": copied flag must never be set for "
                        "compressed clusters\n",
                        e & s->cluster_offset_mask);
                e &= ~QCOW_OFLAG_COPIED;
                res->corruptions++;
            }
            if (bitmap) {
                fprintf(stderr,
                        "ERROR compressed cluster %d with non-zero subcluster allocation bitmap, "
                        "entry=0x%" PRIx64 "\n",
                        (int)i, e);
                res->corruptions++;
            }
            if (flags & CHECK_FRAG_INFO) {
                res->allocated_clusters++;
                res->compressed_clusters++;
                res->fragmented_clusters++;
            }
            uint64_t off, len;
            qcow2_compressed_geometry(s->cluster_bits, e, &off, &len);
            uint64_t nsect = (len + (off & 511)) / 512;
            inc_refs(s, cs, res, off & ~511ULL, nsect * 512);
            break;
        }
        case QCOW2_CLUSTER_ZERO_ALLOC:
        case QCOW2_CLUSTER_NORMAL: {
            if (e & L2E_STD_RESERVED_MASK) {
                fprintf(stderr, "ERROR found l2 entry with reserved bits set: %" PRIx64 "\n", e);
                res->corruptions++;
            }
            uint64_t off = e & L2E_OFFSET_MASK;
            if (s->extended_l2 && (bitmap & (bitmap >> 32) & QCOW_L2_BITMAP_ALL_ALLOC)) {
                fprintf(stderr,
                        "ERROR offset=%" PRIx64 ": Allocated cluster has corrupted subcluster "
                        "allocation bitmap\n",
                        off);
                res->corruptions++;
            }
            if (off & (s->cluster_size - 1)) {
                bool data = s->extended_l2 ? (bitmap & QCOW_L2_BITMAP_ALL_ALLOC) != 0
                                           : !(e & QCOW_OFLAG_ZERO);
                res->corruptions++;
                if (data) {
                    fprintf(stderr,
                            "ERROR offset=%" PRIx64 ": Data cluster is not properly aligned; L2 "
                            "entry corrupted.\n",
                            off);
                } else {
                    /* nothing to lose: QEMU's repair makes it a zero (or unallocated) entry */
                    fprintf(stderr,
                            "%s offset=%" PRIx64 ": Preallocated cluster is not properly "
                            "aligned; L2 entry corrupted.\n",
                            fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", off);
                    if (fix & BDRV_FIX_ERRORS) {
                        uint64_t ne[2] = {GUINT64_TO_BE(s->extended_l2 ? 0 : QCOW_OFLAG_ZERO),
                                          GUINT64_TO_BE(bitmap)};
                        uint64_t at = l2_offset + (i << (3 + s->l2e_shift));
                        size_t len = (size_t)8 << s->l2e_shift;
                        qcow2_cache_discard(s->l2_cache, l2_offset);
                        ret = qcow2_pre_write_overlap_check(
                            s, active ? QCOW2_OL_ACTIVE_L2 : QCOW2_OL_INACTIVE_L2, at, len, false);
                        if (ret < 0) {
                            fprintf(stderr, "ERROR: Overlap check failed\n");
                        } else {
                            ret = bdrv_pwrite(s->file, at, len, ne, 0);
                            if (ret == 0) {
                                ret = qcow2_file_sync(s);
                            }
                            if (ret < 0) {
                                fprintf(stderr, "ERROR: Failed to overwrite L2 table entry: %s\n",
                                        strerror(-ret));
                            }
                        }
                        if (ret < 0) {
                            res->check_errors++;
                        } else {
                            res->corruptions--;
                            res->corruptions_fixed++;
                            break; /* the cluster is not in use any more */
                        }
                    }
                }
            }
            if (flags & CHECK_FRAG_INFO) {
                res->allocated_clusters++;
                if (*next_contig && off != *next_contig) {
                    res->fragmented_clusters++;
                }
                *next_contig = off + s->cluster_size;
            }
            if (!qcow2_has_data_file(s)) {
                inc_refs(s, cs, res, off, s->cluster_size);
            }
            break;
        }
        default:
            if (bitmap & QCOW_L2_BITMAP_ALL_ALLOC) {
                fprintf(stderr, "ERROR: Unallocated cluster has non-zero subcluster allocation "
                                "map\n");
                res->corruptions++;
            }
            break;
        }
    }
    g_free(l2);
    return 0;
}

static int check_l1(BDRVQcow2State *s, CheckState *cs, BdrvCheckResult *res, uint64_t l1_offset,
                    uint32_t l1_size, int flags, int fix, bool active)
{
    uint64_t next_contig = 0;
    inc_refs(s, cs, res, l1_offset, (uint64_t)l1_size * 8);
    if (cs->err) {
        return cs->err;
    }
    if (!l1_size) {
        return 0;
    }
    uint64_t *l1 = g_try_malloc((size_t)l1_size * 8);
    if (!l1) {
        res->check_errors++;
        return -ENOMEM;
    }
    int ret = bdrv_pread(s->file, l1_offset, (uint64_t)l1_size * 8, l1);
    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l1\n");
        res->check_errors++;
        g_free(l1);
        return ret;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = GUINT64_FROM_BE(l1[i]);
        if (e & L1E_RESERVED_MASK) {
            fprintf(stderr, "ERROR found L1 entry with reserved bits set: %" PRIx64 "\n", e);
            res->corruptions++;
        }
        uint64_t off = e & L1E_OFFSET_MASK;
        if (!off) {
            continue;
        }
        inc_refs(s, cs, res, off, s->cluster_size);
        if (off & (s->cluster_size - 1)) {
            fprintf(stderr,
                    "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry "
                    "corrupted\n",
                    off);
            res->corruptions++;
            continue;
        }
        if ((int64_t)off >= cs->file_len) {
            continue; /* already reported by inc_refs */
        }
        next_contig = 0; /* like QEMU, fragmentation is counted within each L2 table */
        ret = check_l2(s, cs, res, off, flags, fix, active, &next_contig);
        if (ret < 0) {
            g_free(l1);
            return ret;
        }
    }
    g_free(l1);
    return 0;
}

/* OFLAG_COPIED must be set exactly when the refcount is 1 (active tables only). */
static int check_oflag_copied(BDRVQcow2State *s, BdrvCheckResult *res, int fix)
{
    uint64_t *l2 = g_malloc(s->cluster_size);
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l1e = s->l1[i];
        uint64_t l2_off = l1e & L1E_OFFSET_MASK;
        if (!l2_off) {
            continue;
        }
        uint64_t rc;
        if (qcow2_get_refcount(s, l2_off >> s->cluster_bits, &rc) < 0) {
            continue;
        }
        if ((rc == 1) != ((l1e & QCOW_OFLAG_COPIED) != 0)) {
            bool repair = fix & BDRV_FIX_ERRORS;
            fprintf(stderr,
                    "%s OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" PRIx64 " refcount=%" PRIu64
                    "\n",
                    repair ? "Repairing" : "ERROR", i, l1e, rc);
            if (repair) {
                s->l1[i] = rc == 1 ? l1e | QCOW_OFLAG_COPIED : l1e & ~QCOW_OFLAG_COPIED;
                if (qcow2_write_l1_entry(s, i) == 0) {
                    res->corruptions_fixed++;
                } else {
                    res->check_errors++;
                }
            } else {
                res->corruptions++;
            }
        }
        if ((l2_off & (s->cluster_size - 1)) ||
            bdrv_pread(s->file, l2_off, s->cluster_size, l2) < 0) {
            continue;
        }
        bool dirty = false;
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            uint64_t e = l2_entry_get(s, l2, j);
            Qcow2ClusterType t = qcow2_entry_type(s, e);
            if (t != QCOW2_CLUSTER_NORMAL && t != QCOW2_CLUSTER_ZERO_ALLOC) {
                continue;
            }
            uint64_t off = e & L2E_OFFSET_MASK;
            if (qcow2_has_data_file(s)) {
                rc = 1; /* no refcounts in an external data file */
            } else if (qcow2_get_refcount(s, off >> s->cluster_bits, &rc) < 0) {
                continue;
            }
            if ((rc == 1) != ((e & QCOW_OFLAG_COPIED) != 0)) {
                bool repair = (fix & BDRV_FIX_ERRORS) && (rc == 1 || rc > 1);
                fprintf(stderr,
                        "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64 "\n",
                        repair ? "Repairing" : "ERROR", e, rc);
                if (repair && rc) {
                    e = rc == 1 ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED;
                    l2_entry_set(s, l2, j, e);
                    dirty = true;
                    res->corruptions_fixed++;
                } else {
                    res->corruptions++;
                }
            }
        }
        if (dirty) {
            qcow2_cache_discard(s->l2_cache, l2_off);
            if (qcow2_write_meta(s, QCOW2_OL_ACTIVE_L2, l2_off, s->cluster_size, l2) < 0) {
                res->check_errors++;
            }
        }
    }
    g_free(l2);
    return 0;
}

/* Compare stored refcounts with the counted references; fix what `fix` allows. */
static int compare_refcounts(BDRVQcow2State *s, CheckState *cs_p, BdrvCheckResult *res, int fix,
                             bool *rebuild, uint64_t *highest_out)
{
    const CheckState cs = *cs_p;
    int ret;
    uint64_t highest = 0;
    for (uint64_t i = 0; i < cs.nb; i++) {
        uint64_t rc1;
        ret = qcow2_get_refcount(s, i, &rc1);
        if (ret < 0) {
            fprintf(stderr, "Can't get refcount for cluster %" PRIu64 ": %s\n", i,
                    g_strerror(-ret));
            res->check_errors++;
            continue;
        }
        uint64_t rc2 = cs.ref[i];
        if (rc1 || rc2) {
            highest = i;
        }
        if (rc1 == rc2) {
            continue;
        }
        /* a cluster in use without a refcount: only a new refcount structure repairs that */
        if (rc1 == 0) {
            *rebuild = true;
        }
        bool repair = rc1 != 0 && ((rc1 > rc2 && (fix & BDRV_FIX_LEAKS)) ||
                                   (rc1 < rc2 && (fix & BDRV_FIX_ERRORS)));
        fprintf(stderr, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64 "\n",
                repair      ? "Repairing"
                : rc1 < rc2 ? "ERROR"
                            : "Leaked",
                i, rc1, rc2);
        if (repair) {
            int64_t delta = (int64_t)(rc2 - rc1);
            ret = qcow2_update_refcount(s, i << s->cluster_bits, 1, delta);
            if (ret == 0 && rc2 == 0) {
                /* a dropped leak is punched out of the file, as QEMU's repair does */
                bdrv_discard(s->file, i << s->cluster_bits, s->cluster_size);
            }
            if (ret == 0) {
                if (rc1 < rc2) {
                    res->corruptions_fixed++;
                } else {
                    res->leaks_fixed++;
                }
                continue;
            }
        }
        if (rc1 < rc2) {
            res->corruptions++;
        } else {
            res->leaks++;
        }
    }
    *highest_out = highest;
    return 0;
}

/*
 * Count every reference the image makes (QEMU's calculate_refcounts): header, L1/L2 tables and
 * data of the active state and the snapshots, the snapshot table, the refcount table and
 * blocks, bitmaps. A refcount table entry that cannot be used asks for a rebuild.
 */
static int count_refs(BDRVQcow2State *s, CheckState *cs, BdrvCheckResult *res, int fix,
                      bool *rebuild)
{
    cs->nb = ((uint64_t)cs->file_len + s->cluster_size - 1) >> s->cluster_bits;
    cs->cap = MAX(cs->nb, 16);
    cs->ref = g_try_new0(uint32_t, cs->cap);
    if (!cs->ref) {
        return -ENOMEM;
    }
    inc_refs(s, cs, res, 0, s->cluster_size);
    check_l1(s, cs, res, s->l1_offset, s->l1_size, CHECK_FRAG_INFO, fix, true);
    for (uint32_t i = 0; i < s->nb_snapshots && !cs->err; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        if (sn->l1_offset & (s->cluster_size - 1)) {
            fprintf(stderr,
                    "ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": L1 table is not "
                    "cluster aligned; snapshot table entry corrupted\n",
                    sn->id, sn->name, sn->l1_offset);
            res->corruptions++;
            continue;
        }
        if ((uint64_t)sn->l1_size * 8 > QCOW_MAX_L1_SIZE) {
            fprintf(stderr,
                    "ERROR snapshot %s (%s) l1_size=%#" PRIx32 ": L1 table is too large; "
                    "snapshot table entry corrupted\n",
                    sn->id, sn->name, sn->l1_size);
            res->corruptions++;
            continue;
        }
        check_l1(s, cs, res, sn->l1_offset, sn->l1_size, 0, fix, false);
    }
    if (cs->err) {
        return cs->err;
    }
    inc_refs(s, cs, res, s->snapshots_offset, s->snapshots_size);
    inc_refs(s, cs, res, s->rt_offset, (uint64_t)s->rt_clusters * s->cluster_size);
    if (s->nb_bitmaps && s->bitmap_dir_offset) {
        inc_refs(s, cs, res, s->bitmap_dir_offset, s->bitmap_dir_size);
        /* bitmap tables and data */
        uint8_t *dir = g_try_malloc(s->bitmap_dir_size ? s->bitmap_dir_size : 1);
        if (dir && bdrv_pread(s->file, s->bitmap_dir_offset, s->bitmap_dir_size, dir) == 0) {
            uint64_t p = 0;
            for (uint32_t i = 0; i < s->nb_bitmaps && p + 24 <= s->bitmap_dir_size; i++) {
                uint64_t toff = ((uint64_t)dir[p] << 56) | ((uint64_t)dir[p + 1] << 48) |
                                ((uint64_t)dir[p + 2] << 40) | ((uint64_t)dir[p + 3] << 32) |
                                ((uint64_t)dir[p + 4] << 24) | ((uint64_t)dir[p + 5] << 16) |
                                ((uint64_t)dir[p + 6] << 8) | dir[p + 7];
                uint32_t tsize = ((uint32_t)dir[p + 8] << 24) | ((uint32_t)dir[p + 9] << 16) |
                                 ((uint32_t)dir[p + 10] << 8) | dir[p + 11];
                uint32_t name_size = ((uint32_t)dir[p + 18] << 8) | dir[p + 19];
                uint32_t extra = ((uint32_t)dir[p + 20] << 24) | ((uint32_t)dir[p + 21] << 16) |
                                 ((uint32_t)dir[p + 22] << 8) | dir[p + 23];
                inc_refs(s, cs, res, toff, (uint64_t)tsize * 8);
                uint64_t *bt = g_try_malloc((size_t)tsize * 8 + 8);
                if (bt && bdrv_pread(s->file, toff, (uint64_t)tsize * 8, bt) == 0) {
                    for (uint32_t j = 0; j < tsize; j++) {
                        uint64_t be = GUINT64_FROM_BE(bt[j]) & L2E_OFFSET_MASK;
                        if (be) {
                            inc_refs(s, cs, res, be, s->cluster_size);
                        }
                    }
                }
                g_free(bt);
                p += (24 + extra + name_size + 7) & ~7ULL;
            }
        }
        g_free(dir);
    }

    if (cs->err) {
        return cs->err;
    }
    /* refcount blocks */
    for (uint64_t i = 0; i < s->rt_size; i++) {
        uint64_t off = s->rt[i] & REFT_OFFSET_MASK;
        uint64_t c = off >> s->cluster_bits;
        if (s->rt[i] & REFT_RESERVED_MASK) {
            fprintf(stderr, "ERROR refcount table entry %" PRIu64 " has reserved bits set\n", i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (off & (s->cluster_size - 1)) {
            fprintf(stderr,
                    "ERROR refcount block %" PRIu64 " is not cluster aligned; refcount table "
                    "entry corrupted\n",
                    i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (!off) {
            continue;
        }
        if (c >= ((uint64_t)cs->file_len + s->cluster_size - 1) >> s->cluster_bits) {
            fprintf(stderr, "ERROR refcount block %" PRIu64 " is outside image\n", i);
            res->corruptions++;
            continue;
        }
        inc_refs(s, cs, res, off, s->cluster_size);
        if (cs->ref[c] != 1) {
            fprintf(stderr, "ERROR refcount block %" PRIu64 " refcount=%u\n", i, cs->ref[c]);
            res->corruptions++;
            *rebuild = true;
        }
    }

    return 0;
}

/* ---- rebuilding the refcount structure (QEMU's rebuild_refcount_structure) ---- */

/* First fit of n free clusters in the counted references from *first_free on; taken (set to
 * 1), the array grown past the file end when needed. */
static int64_t alloc_counted(BDRVQcow2State *s, CheckState *cs, uint64_t n, uint64_t *first_free)
{
    uint64_t c = *first_free, run = 0;
    bool first_gap = true;
    for (; c < cs->nb && run < n; c++) {
        if (!cs->ref[c]) {
            if (first_gap) {
                *first_free = c;
                first_gap = false;
            }
            run++;
        } else {
            run = 0;
        }
    }
    if (run < n) {
        uint64_t need = c + n - run;
        if (need > cs->cap) {
            uint64_t ncap = MAX(need, cs->cap * 2);
            uint32_t *nr = g_try_renew(uint32_t, cs->ref, ncap);
            if (!nr) {
                return -ENOMEM;
            }
            memset(nr + cs->cap, 0, (ncap - cs->cap) * 4);
            cs->ref = nr;
            cs->cap = ncap;
        }
        cs->nb = MAX(cs->nb, need);
        c = need;
        run = n;
    }
    c -= run;
    for (uint64_t i = 0; i < n; i++) {
        cs->ref[c + i] = 1;
    }
    return (int64_t)(c << s->cluster_bits);
}

/*
 * Write a refcount block (the counted references of its clusters) for every block's range of
 * [first, end) that holds a used cluster, allocating the blocks still missing from the new
 * table *nt (grown in whole clusters). Returns 1 when a block was allocated, 0, or -errno.
 */
static int rebuild_write_refblocks(BDRVQcow2State *s, CheckState *cs, uint64_t first, uint64_t end,
                                   uint64_t **nt, uint64_t *nt_entries, char **errp)
{
    uint64_t first_free = 0;
    bool allocated = false;
    uint64_t *block = g_malloc(s->cluster_size);
    int ret = 0;
    for (uint64_t c = first; c < end; c++) {
        if (c >= cs->nb || !cs->ref[c]) {
            continue;
        }
        uint64_t rbi = c >> s->rb_bits, rb_start = rbi << s->rb_bits, rb_off;
        if (rbi < *nt_entries && (*nt)[rbi]) {
            rb_off = (*nt)[rbi];
        } else {
            /* never in the area of a block already written */
            first_free = MAX(first_free, rb_start);
            int64_t o = alloc_counted(s, cs, 1, &first_free);
            if (o < 0) {
                block_error_errno(errp, (int)o, "ERROR allocating refblock");
                ret = (int)o;
                goto out;
            }
            rb_off = (uint64_t)o;
            allocated = true;
            if ((rb_off >> s->cluster_bits) >= end) {
                /* the block counting the new block must be written too */
                end = (rb_off >> s->cluster_bits) + 1;
            }
            if (rbi >= *nt_entries) {
                uint64_t per = s->cluster_size / 8;
                uint64_t ne = (rbi + 1 + per - 1) / per * per;
                uint64_t *n2 = g_try_renew(uint64_t, *nt, ne);
                if (!n2) {
                    block_error(errp, "ERROR allocating reftable memory");
                    ret = -ENOMEM;
                    goto out;
                }
                memset(n2 + *nt_entries, 0, (ne - *nt_entries) * 8);
                *nt = n2;
                *nt_entries = ne;
            }
            (*nt)[rbi] = rb_off;
        }
        memset(block, 0, s->cluster_size);
        for (uint64_t j = 0; j < s->rb_entries && rb_start + j < cs->nb; j++) {
            uint64_t v = MIN((uint64_t)cs->ref[rb_start + j], s->refcount_max);
            if (v) {
                qcow2_refcount_set(block, j, s->refcount_order, v);
            }
        }
        ret = qcow2_write_meta(s, 0, rb_off, s->cluster_size, block);
        if (ret < 0) {
            block_error_errno(errp, ret, "ERROR writing refblock");
            goto out;
        }
        c = rb_start + s->rb_entries - 1;
    }
    ret = allocated;
out:
    g_free(block);
    return ret;
}

/*
 * A new refcount structure from the counted references: the blocks first (each in the first
 * free cluster of its own range or later), then the table in the first free clusters, the
 * blocks covering it written again; then the header points at it.
 */
static int rebuild_refcount_structure(BDRVQcow2State *s, CheckState *cs, BdrvCheckResult *res,
                                      char **errp)
{
    uint64_t *nt = NULL, nt_entries = 0, rt_clusters = 0;
    int64_t rt_off = -1;
    int ret = qcow2_flush_metadata(s);
    if (ret < 0) {
        block_error_errno(errp, ret, "ERROR flushing metadata");
        res->check_errors++;
        return ret;
    }
    qcow2_cache_drop_all(s->rb_cache);
    int changed = rebuild_write_refblocks(s, cs, 0, cs->nb, &nt, &nt_entries, errp);
    if (changed < 0) {
        res->check_errors++;
        g_free(nt);
        return changed;
    }
    do {
        uint64_t first_free = 0;
        rt_clusters = (nt_entries * 8 + s->cluster_size - 1) >> s->cluster_bits;
        rt_off = alloc_counted(s, cs, rt_clusters, &first_free);
        if (rt_off < 0) {
            block_error_errno(errp, (int)rt_off, "ERROR allocating reftable");
            res->check_errors++;
            g_free(nt);
            return (int)rt_off;
        }
        uint64_t rs = (uint64_t)rt_off >> s->cluster_bits, re = rs + rt_clusters;
        changed = rebuild_write_refblocks(s, cs, rs, re, &nt, &nt_entries, errp);
        if (changed < 0) {
            res->check_errors++;
            g_free(nt);
            return changed;
        }
        if (changed) {
            /* the table grew: it is placed again */
            for (uint64_t c = rs; c < re; c++) {
                cs->ref[c] = 0;
            }
        }
    } while (changed);
    uint64_t len = nt_entries * 8;
    uint64_t *be = g_malloc0(rt_clusters << s->cluster_bits);
    for (uint64_t i = 0; i < nt_entries; i++) {
        be[i] = GUINT64_TO_BE(nt[i]);
    }
    ret = qcow2_write_meta(s, 0, (uint64_t)rt_off, len, be);
    g_free(be);
    if (ret < 0) {
        block_error_errno(errp, ret, "ERROR writing reftable");
        g_free(nt);
        return ret;
    }
    uint8_t hdr[12];
    for (int i = 0; i < 8; i++) {
        hdr[i] = (uint8_t)((uint64_t)rt_off >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        hdr[8 + i] = (uint8_t)(rt_clusters >> (24 - 8 * i));
    }
    ret = bdrv_pwrite(s->file, 48, sizeof(hdr), hdr, 0);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    if (ret < 0) {
        block_error_errno(errp, ret, "ERROR setting reftable");
        g_free(nt);
        return ret;
    }
    g_free(s->rt);
    s->rt = nt;
    s->rt_offset = (uint64_t)rt_off;
    s->rt_size = nt_entries;
    s->rt_clusters = (uint32_t)rt_clusters;
    s->free_cluster_index = 0;
    qcow2_rt_max_update(s);
    return 0;
}

int qcow2_check_image(BlockDriverState *bs, BdrvCheckResult *res, int fix)
{
    BDRVQcow2State *s = bs->opaque;
    CheckState cs = {0};
    int ret;

    if (fix) {
        ret = qcow2_flush_metadata(s);
        if (ret < 0) {
            return ret;
        }
    }
    cs.file_len = bdrv_getlength(s->file);
    if (cs.file_len < 0) {
        return (int)cs.file_len;
    }
    res->total_clusters = (s->size + s->cluster_size - 1) >> s->cluster_bits;
    res->has_bfi = true;

    bool rebuild = false;
    ret = count_refs(s, &cs, res, fix, &rebuild);
    if (ret < 0) {
        g_free(cs.ref);
        return ret;
    }
    /*
     * As QEMU: a first pass only reports; when it finds something and fixing is allowed, a
     * second pass (from the same counters) repairs. A cluster in use without a refcount (or a
     * refcount table entry that cannot be used) needs a new refcount structure instead.
     */
    uint64_t highest = 0;
    BdrvCheckResult pre = *res;
    compare_refcounts(s, &cs, res, 0, &rebuild, &highest);
    if (rebuild && (fix & BDRV_FIX_ERRORS)) {
        BdrvCheckResult old = *res;
        int fresh_leaks = 0;
        char *err = NULL;
        fprintf(stderr, "Rebuilding refcount structure\n");
        ret = rebuild_refcount_structure(s, &cs, res, &err);
        if (ret < 0) {
            error_report("%s", err ? err : "ERROR rebuilding the refcount structure");
            g_free(err);
            g_free(cs.ref);
            return ret;
        }
        res->corruptions = 0;
        res->leaks = 0;
        /* the old structures are not referenced any more: count again */
        g_free(cs.ref);
        cs = (CheckState){.file_len = bdrv_getlength(s->file)};
        if (cs.file_len < 0) {
            return (int)cs.file_len;
        }
        uint64_t alloc = res->allocated_clusters, frag = res->fragmented_clusters,
                 comp = res->compressed_clusters;
        rebuild = false;
        ret = count_refs(s, &cs, res, 0, &rebuild);
        res->allocated_clusters = alloc;
        res->fragmented_clusters = frag;
        res->compressed_clusters = comp;
        if (ret < 0) {
            g_free(cs.ref);
            return ret;
        }
        if (fix & BDRV_FIX_LEAKS) {
            /* the old structures leak now: repaired; leaks left are the rebuild's own */
            BdrvCheckResult saved = *res;
            *res = (BdrvCheckResult){0};
            compare_refcounts(s, &cs, res, BDRV_FIX_LEAKS, &rebuild, &highest);
            if (rebuild) {
                fprintf(stderr, "ERROR rebuilt refcount structure is still broken\n");
            }
            fresh_leaks = res->leaks;
            *res = saved;
        }
        if (res->corruptions < old.corruptions) {
            res->corruptions_fixed += old.corruptions - res->corruptions;
        }
        if (res->leaks < old.leaks) {
            res->leaks_fixed += old.leaks - res->leaks;
        }
        res->leaks += fresh_leaks;
    } else if (fix) {
        if (rebuild) {
            fprintf(stderr, "ERROR need to rebuild refcount structures\n");
            res->check_errors++;
            g_free(cs.ref);
            return -EIO;
        }
        if (res->leaks || res->corruptions) {
            *res = pre;
            compare_refcounts(s, &cs, res, fix, &rebuild, &highest);
        }
    }
    check_oflag_copied(s, res, fix);
    /* image end: highest cluster referenced or with a refcount (leaks count, as in QEMU) */
    res->image_end_offset = (int64_t)((highest + 1) << s->cluster_bits);
    g_free(cs.ref);
    if (fix) {
        ret = qcow2_flush_metadata(s);
        if (ret == 0) {
            ret = qcow2_file_sync(s);
        }
        return ret;
    }
    return 0;
}
