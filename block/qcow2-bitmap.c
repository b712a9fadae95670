/*
 * qcow2 persistent dirty bitmaps (docs/interop/qcow2.txt, "Bitmaps extension").
 *
 * Like QEMU 7.2: every bitmap of the directory is loaded on open; a read-write open marks the
 * loaded ones in-use right away (directory rewritten in place, with the autoclear bit dropped
 * meanwhile); close stores every persistent bitmap that is neither read-only nor inconsistent
 * into fresh clusters (data clusters in bitmap order, then the table, then a new directory),
 * switches the header over and only then frees the old directory and tables. Same steps in
 * the same order as QEMU, so the images are the same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "vireo/error.h"
#include "qcow2.h"

#define BME_MAX_TABLE_SIZE       0x8000000u
#define BME_MAX_PHYS_SIZE        0x20000000u
#define BME_MAX_GRANULARITY_BITS 31
#define BME_MIN_GRANULARITY_BITS 9
#define BME_MAX_NAME_SIZE        1023
#define BME_RESERVED_FLAGS       0xfffffffcu
#define BME_FLAG_IN_USE          (1u << 0)
#define BME_FLAG_AUTO            (1u << 1)
#define BME_TABLE_RESERVED_MASK  0xff000000000001feULL
#define BME_TABLE_OFFSET_MASK    0x00fffffffffffe00ULL
#define BME_TABLE_ALL_ONES       1ULL
#define BT_DIRTY_TRACKING        1

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

typedef struct BmEntry {
    uint64_t table_offset;
    uint32_t table_size;
    uint32_t flags;
    uint8_t granularity_bits;
    char *name;
    BdrvDirtyBitmap *bm; /* in-memory bitmap to store, or NULL */
} BmEntry;

typedef struct BmList {
    BmEntry *e;
    uint32_t n;
} BmList;

static void list_free(BmList *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        g_free(l->e[i].name);
    }
    g_free(l->e);
    l->e = NULL;
    l->n = 0;
}

static BmEntry *list_append(BmList *l)
{
    l->e = g_renew(BmEntry, l->e, l->n + 1);
    memset(&l->e[l->n], 0, sizeof(BmEntry));
    return &l->e[l->n++];
}

static BmEntry *list_find(BmList *l, const char *name)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (!strcmp(l->e[i].name, name)) {
            return &l->e[i];
        }
    }
    return NULL;
}

static uint32_t entry_size(size_t name_size)
{
    return (uint32_t)((24 + name_size + 7) & ~(size_t)7);
}

static uint64_t image_len(BDRVQcow2State *s)
{
    return (s->size + 511) & ~511ULL;
}

/* Bytes of serialized bitmap data for `len` bytes at `granularity` (whole 64-bit words). */
static uint64_t serialized_bytes(uint64_t len, uint64_t granularity)
{
    uint64_t bits = (len + granularity - 1) / granularity;
    return (bits + 63) / 64 * 8;
}

static uint64_t table_size_for(BDRVQcow2State *s, uint64_t len, uint64_t granularity)
{
    return (serialized_bytes(len, granularity) + s->cluster_size - 1) >> s->cluster_bits;
}

static bool entry_ok(BDRVQcow2State *s, uint64_t table_offset, uint32_t table_size, uint32_t flags,
                     uint8_t type, uint8_t gbits, uint32_t name_size)
{
    if (table_size == 0 || table_offset == 0 || (table_offset & (s->cluster_size - 1)) ||
        table_size > BME_MAX_TABLE_SIZE || gbits > BME_MAX_GRANULARITY_BITS ||
        gbits < BME_MIN_GRANULARITY_BITS || (flags & BME_RESERVED_FLAGS) ||
        name_size > BME_MAX_NAME_SIZE || type != BT_DIRTY_TRACKING) {
        return false;
    }
    uint64_t phys = (uint64_t)table_size * s->cluster_size;
    if (phys > BME_MAX_PHYS_SIZE) {
        return false;
    }
    /* a consistent bitmap must cover the whole image */
    if (!(flags & BME_FLAG_IN_USE) && image_len(s) > ((phys * 8) << gbits)) {
        return false;
    }
    return true;
}

/* Read and check the directory (QEMU's bitmap_list_load). */
static int list_load(BDRVQcow2State *s, BmList *l, char **errp)
{
    l->e = NULL;
    l->n = 0;
    uint64_t size = s->bitmap_dir_size;
    if (size == 0) {
        block_error(errp, "Requested bitmap directory size is zero");
        return -EINVAL;
    }
    if (size > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
        block_error(errp, "Requested bitmap directory size is too big");
        return -EINVAL;
    }
    uint8_t *dir = g_try_malloc(size);
    if (!dir) {
        block_error(errp, "Failed to allocate space for bitmap directory");
        return -ENOMEM;
    }
    int ret = bdrv_pread(s->file, s->bitmap_dir_offset, size, dir);
    if (ret < 0) {
        g_free(dir);
        block_error_errno(errp, ret, "Failed to read bitmap directory");
        return ret;
    }
    uint64_t p = 0;
    uint32_t count = 0;
    while (p < size) {
        if (p + 24 > size) {
            goto broken;
        }
        const uint8_t *e = dir + p;
        if (++count > s->nb_bitmaps) {
            block_error(errp, "More bitmaps found than specified in header extension");
            goto fail;
        }
        uint64_t toff = get64(e);
        uint32_t tsize = get32(e + 8), flags = get32(e + 12);
        uint8_t type = e[16], gbits = e[17];
        uint32_t name_size = ((uint32_t)e[18] << 8) | e[19];
        uint32_t extra = get32(e + 20);
        uint64_t esize = (24 + (uint64_t)name_size + extra + 7) & ~7ULL;
        if (p + esize > size) {
            goto broken;
        }
        if (extra != 0) {
            block_error(errp, "Bitmap extra data is not supported");
            goto fail;
        }
        if (!entry_ok(s, toff, tsize, flags, type, gbits, name_size)) {
            block_error(errp, "Bitmap '%.*s' doesn't satisfy the constraints", (int)name_size,
                        (const char *)e + 24);
            goto fail;
        }
        BmEntry *be = list_append(l);
        be->table_offset = toff;
        be->table_size = tsize;
        be->flags = flags;
        be->granularity_bits = gbits;
        be->name = g_strndup((const char *)e + 24, name_size);
        p += esize;
    }
    if (count != s->nb_bitmaps) {
        block_error(errp, "Less bitmaps found than specified in header extension");
        goto fail;
    }
    g_free(dir);
    return 0;
broken:
    block_error(errp, "Broken bitmap directory");
fail:
    g_free(dir);
    list_free(l);
    return -EINVAL;
}

static int table_load(BDRVQcow2State *s, const BmEntry *be, uint64_t **table)
{
    uint64_t *t = g_try_new(uint64_t, be->table_size);
    if (!t) {
        return -ENOMEM;
    }
    int ret = bdrv_pread(s->file, be->table_offset, (uint64_t)be->table_size * 8, t);
    if (ret < 0) {
        g_free(t);
        return ret;
    }
    for (uint32_t i = 0; i < be->table_size; i++) {
        t[i] = GUINT64_FROM_BE(t[i]);
        uint64_t off = t[i] & BME_TABLE_OFFSET_MASK;
        if ((t[i] & BME_TABLE_RESERVED_MASK) ||
            (off && ((t[i] & BME_TABLE_ALL_ONES) || (off & (s->cluster_size - 1))))) {
            g_free(t);
            return -EINVAL;
        }
    }
    *table = t;
    return 0;
}

/* Fill bm from the image: table entries are checked by table_load. */
static int load_data(BDRVQcow2State *s, const BmEntry *be, const uint64_t *table,
                     BdrvDirtyBitmap *bm)
{
    uint64_t cs = s->cluster_size;
    uint64_t total = serialized_bytes(bm->size, bm->granularity);
    if (table_size_for(s, bm->size, bm->granularity) != be->table_size) {
        return -EINVAL;
    }
    uint64_t nbytes = (bm->nbits + 7) / 8; /* bytes holding real bits */
    for (uint32_t i = 0; i < be->table_size; i++) {
        uint64_t start = (uint64_t)i * cs;
        uint64_t n = MIN(cs, total - start);
        uint64_t off = table[i] & BME_TABLE_OFFSET_MASK;
        if (!off) {
            if (table[i] & BME_TABLE_ALL_ONES) {
                memset(bm->bits + start, 0xff, n);
            }
            continue;
        }
        int ret = bdrv_pread(s->file, off, n, bm->bits + start);
        if (ret < 0) {
            return ret;
        }
    }
    /* nothing past the last granule */
    if (bm->nbits & 7) {
        bm->bits[nbytes - 1] &= (uint8_t)((1u << (bm->nbits & 7)) - 1);
    }
    if (total > nbytes) {
        memset(bm->bits + nbytes, 0, total - nbytes);
    }
    return 0;
}

static int update_header_sync(BDRVQcow2State *s)
{
    int ret = qcow2_update_header(s);
    if (ret == 0) {
        ret = qcow2_file_sync(s);
    }
    return ret;
}

static uint8_t *list_serialize(BDRVQcow2State *s, BmList *l, uint64_t *size_out)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        size += entry_size(strlen(l->e[i].name));
    }
    if (size == 0 || size > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
        return NULL;
    }
    uint8_t *dir = g_malloc0(size);
    uint64_t p = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        BmEntry *be = &l->e[i];
        size_t nl = strlen(be->name);
        if (!entry_ok(s, be->table_offset, be->table_size, be->flags, BT_DIRTY_TRACKING,
                      be->granularity_bits, (uint32_t)nl)) {
            g_free(dir);
            return NULL;
        }
        uint8_t *e = dir + p;
        put64(e, be->table_offset);
        put32(e + 8, be->table_size);
        put32(e + 12, be->flags);
        e[16] = BT_DIRTY_TRACKING;
        e[17] = be->granularity_bits;
        e[18] = (uint8_t)(nl >> 8);
        e[19] = (uint8_t)nl;
        memcpy(e + 24, be->name, nl);
        p += entry_size(nl);
    }
    *size_out = size;
    return dir;
}

/* Write the directory over the old one (same size), with the autoclear bit off meanwhile. */
static int update_dir_in_place(BDRVQcow2State *s, BmList *l)
{
    if (!(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS) || !l->n || l->n != s->nb_bitmaps) {
        return -EINVAL;
    }
    s->autoclear &= ~QCOW2_AUTOCLEAR_BITMAPS;
    int ret = update_header_sync(s);
    if (ret < 0) {
        return ret;
    }
    uint64_t size;
    uint8_t *dir = list_serialize(s, l, &size);
    if (!dir || size != s->bitmap_dir_size || !s->bitmap_dir_offset) {
        g_free(dir);
        return -EINVAL;
    }
    ret = qcow2_write_meta(s, QCOW2_OL_BITMAP_DIRECTORY, s->bitmap_dir_offset, size, dir);
    g_free(dir);
    if (ret == 0) {
        ret = update_header_sync(s);
    }
    if (ret < 0) {
        return ret;
    }
    s->autoclear |= QCOW2_AUTOCLEAR_BITMAPS;
    return update_header_sync(s);
}

/* Store the directory in new clusters, switch the header, free the old directory. */
static int update_dir(BDRVQcow2State *s, BmList *l)
{
    uint64_t old_offset = s->bitmap_dir_offset, old_size = s->bitmap_dir_size;
    uint32_t old_nb = s->nb_bitmaps;
    uint64_t old_autoclear = s->autoclear;
    uint64_t new_offset = 0, new_size = 0;
    int ret;
    if (l->n) {
        if (l->n > QCOW2_MAX_BITMAPS) {
            return -EINVAL;
        }
        uint8_t *dir = list_serialize(s, l, &new_size);
        if (!dir) {
            return -EINVAL;
        }
        int64_t off = qcow2_alloc_clusters(s, (new_size + s->cluster_size - 1) >> s->cluster_bits);
        if (off < 0) {
            g_free(dir);
            return (int)off;
        }
        new_offset = (uint64_t)off;
        ret = qcow2_write_meta(s, 0, new_offset, new_size, dir);
        g_free(dir);
        if (ret == 0) {
            ret = qcow2_flush_metadata(s);
        }
        if (ret < 0) {
            qcow2_free_clusters(s, new_offset, new_size, false);
            return ret;
        }
        s->autoclear |= QCOW2_AUTOCLEAR_BITMAPS;
    } else {
        s->autoclear &= ~QCOW2_AUTOCLEAR_BITMAPS;
    }
    s->bitmap_dir_offset = new_offset;
    s->bitmap_dir_size = new_size;
    s->nb_bitmaps = l->n;
    ret = update_header_sync(s);
    if (ret < 0) {
        if (new_offset) {
            qcow2_free_clusters(s, new_offset, new_size, false);
        }
        s->bitmap_dir_offset = old_offset;
        s->bitmap_dir_size = old_size;
        s->nb_bitmaps = old_nb;
        s->autoclear = old_autoclear;
        return ret;
    }
    if (old_size) {
        qcow2_free_clusters(s, old_offset, old_size, false);
    }
    return 0;
}

/*
 * Drop a reference to clusters a (possibly damaged) bitmap structure names. Clusters that
 * have no reference to drop are left alone with QEMU's message rather than flagged corrupt.
 */
static void free_named_clusters(BDRVQcow2State *s, uint64_t offset, uint64_t length, bool discard)
{
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + length - 1) >> s->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
        uint64_t rc = 0;
        uint64_t rt_index = c >> s->rb_bits;
        if (rt_index >= s->rt_size || !(s->rt[rt_index] & REFT_OFFSET_MASK)) {
            fprintf(stderr, "qcow2_free_clusters failed: %s\n", strerror(EAGAIN));
            return;
        }
        if (qcow2_get_refcount(s, c, &rc) < 0 || rc == 0) {
            fprintf(stderr, "qcow2_free_clusters failed: %s\n", strerror(EINVAL));
            return;
        }
    }
    qcow2_free_clusters(s, offset, length, discard);
}

/* Free a bitmap's data clusters (punched out, as QEMU's "always" discards) and its table. */
static int free_bitmap_clusters(BDRVQcow2State *s, const BmEntry *be)
{
    uint64_t *t;
    int ret = table_load(s, be, &t);
    if (ret < 0) {
        return ret;
    }
    for (uint32_t i = 0; i < be->table_size; i++) {
        uint64_t off = t[i] & BME_TABLE_OFFSET_MASK;
        if (off) {
            free_named_clusters(s, off, s->cluster_size, true);
        }
    }
    g_free(t);
    free_named_clusters(s, be->table_offset, (uint64_t)be->table_size * 8, false);
    return 0;
}

int qcow2_load_dirty_bitmaps(BDRVQcow2State *s, bool *header_updated, char **errp)
{
    BlockDriverState *bs = s->bs;
    *header_updated = false;
    if (!s->nb_bitmaps) {
        return 0;
    }
    BmList l;
    int ret = list_load(s, &l, errp);
    if (ret < 0) {
        return ret;
    }
    bool writable = !s->read_only;
    bool needs_update = false;
    for (uint32_t i = 0; i < l.n; i++) {
        BmEntry *be = &l.e[i];
        char *err = NULL;
        BdrvDirtyBitmap *bm =
            bdrv_create_dirty_bitmap(bs, 1u << be->granularity_bits, be->name, &err);
        if (!bm) {
            block_error(errp, "%s", err);
            g_free(err);
            ret = -EINVAL;
            goto fail;
        }
        if (!(be->flags & BME_FLAG_IN_USE)) {
            uint64_t *t = NULL;
            ret = table_load(s, be, &t);
            if (ret < 0) {
                block_error_errno(errp, ret,
                                  "Could not read bitmap_table table from image for bitmap "
                                  "'%s'",
                                  be->name);
                goto fail;
            }
            ret = load_data(s, be, t, bm);
            g_free(t);
            if (ret < 0) {
                block_error_errno(errp, ret, "Could not read bitmap '%s' from image", be->name);
                goto fail;
            }
        }
        bm->persistent = true;
        if (be->flags & BME_FLAG_IN_USE) {
            bm->inconsistent = true;
        } else {
            be->flags |= BME_FLAG_IN_USE;
            needs_update = true;
        }
        if (!(be->flags & BME_FLAG_AUTO)) {
            bm->disabled = true;
        }
        bm->readonly = !writable;
    }
    if (needs_update && writable) {
        ret = update_dir_in_place(s, &l);
        if (ret < 0) {
            block_error_errno(errp, ret, "Can't update bitmap directory");
            goto fail;
        }
        *header_updated = true;
    }
    list_free(&l);
    return 0;
fail:
    bdrv_release_all_dirty_bitmaps(bs);
    list_free(&l);
    return ret < 0 ? ret : -EINVAL;
}

static int check_constraints(BDRVQcow2State *s, const char *name, uint32_t granularity, char **errp)
{
    int gbits = __builtin_ctz(granularity);
    if (gbits > BME_MAX_GRANULARITY_BITS) {
        block_error(errp, "Granularity exceeds maximum (%llu bytes)",
                    1ULL << BME_MAX_GRANULARITY_BITS);
        return -EINVAL;
    }
    if (gbits < BME_MIN_GRANULARITY_BITS) {
        block_error(errp, "Granularity is under minimum (%llu bytes)",
                    1ULL << BME_MIN_GRANULARITY_BITS);
        return -EINVAL;
    }
    uint64_t len = image_len(s);
    uint64_t bits = (len + granularity - 1) / granularity;
    uint64_t bytes = (bits + 7) / 8;
    if (bytes > BME_MAX_PHYS_SIZE || bytes > (uint64_t)BME_MAX_TABLE_SIZE * s->cluster_size) {
        block_error(errp, "Too much space will be occupied by the bitmap. Use larger granularity");
        return -EINVAL;
    }
    if (strlen(name) > BME_MAX_NAME_SIZE) {
        block_error(errp, "Name length exceeds maximum (%u characters)", BME_MAX_NAME_SIZE);
        return -EINVAL;
    }
    return 0;
}

bool qcow2_can_store_new_dirty_bitmap(BlockDriverState *bs, const char *name, uint32_t granularity,
                                      char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    char *err = NULL;
    if (s->version < 3) {
        err = g_strdup("Cannot store dirty bitmaps in qcow2 v2 files");
    } else if (check_constraints(s, name, granularity, &err) < 0) {
        /* err set */
    } else if (!s->nb_bitmaps) {
        return true;
    } else if (s->nb_bitmaps >= QCOW2_MAX_BITMAPS) {
        err = g_strdup("Maximum number of persistent bitmaps is already reached");
    } else if (s->bitmap_dir_size + entry_size(strlen(name)) > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
        err = g_strdup("Not enough space in the bitmap directory");
    } else {
        return true;
    }
    block_error(errp, "Can't make bitmap '%s' persistent in '%s': %s", name, bdrv_get_node_name(bs),
                err);
    g_free(err);
    return false;
}

int qcow2_remove_persistent_dirty_bitmap(BlockDriverState *bs, const char *name, char **errp)
{
    BDRVQcow2State *s = bs->opaque;
    if (!s->nb_bitmaps) {
        return 0;
    }
    BmList l;
    if (list_load(s, &l, errp) < 0) {
        return -EIO;
    }
    BmEntry *be = list_find(&l, name);
    if (!be) {
        list_free(&l);
        return 0;
    }
    BmEntry gone = *be;
    memmove(be, be + 1, (size_t)(l.n - (uint32_t)(be - l.e) - 1) * sizeof(BmEntry));
    l.n--;
    int ret = update_dir(s, &l);
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to update bitmap extension");
    } else {
        free_bitmap_clusters(s, &gone);
    }
    g_free(gone.name);
    list_free(&l);
    return ret;
}

/* Write bm's data clusters (only those with dirty bits) and its table. */
static int store_bitmap(BDRVQcow2State *s, BmEntry *be, char **errp)
{
    BdrvDirtyBitmap *bm = be->bm;
    uint64_t cs = s->cluster_size;
    uint64_t total = serialized_bytes(bm->size, bm->granularity);
    uint64_t tb_size = (total + cs - 1) >> s->cluster_bits;
    if (tb_size > BME_MAX_TABLE_SIZE || tb_size * cs > BME_MAX_PHYS_SIZE) {
        block_error(errp, "Bitmap '%s' is too big", bm->name);
        return -EINVAL;
    }
    uint64_t *tb = g_try_new0(uint64_t, tb_size ? tb_size : 1);
    if (!tb) {
        block_error(errp, "No memory");
        return -ENOMEM;
    }
    uint8_t *buf = g_malloc(cs);
    int ret = 0;
    for (uint64_t i = 0; i < tb_size; i++) {
        uint64_t start = i * cs, n = MIN(cs, total - start);
        if (buffer_is_zero(bm->bits + start, n)) {
            continue;
        }
        int64_t off = qcow2_alloc_clusters(s, 1);
        if (off < 0) {
            ret = (int)off;
            block_error_errno(errp, ret, "Failed to allocate clusters for bitmap '%s'", bm->name);
            goto fail;
        }
        tb[i] = (uint64_t)off;
        memcpy(buf, bm->bits + start, n);
        memset(buf + n, 0, cs - n);
        ret = qcow2_write_meta(s, 0, (uint64_t)off, cs, buf);
        if (ret < 0) {
            block_error_errno(errp, ret, "Failed to write bitmap '%s' to file", bm->name);
            goto fail;
        }
    }
    int64_t toff = qcow2_alloc_clusters(s, (tb_size * 8 + cs - 1) >> s->cluster_bits);
    if (toff < 0) {
        ret = (int)toff;
        block_error_errno(errp, ret, "Failed to allocate clusters for bitmap '%s'", bm->name);
        goto fail;
    }
    for (uint64_t i = 0; i < tb_size; i++) {
        tb[i] = GUINT64_TO_BE(tb[i]);
    }
    ret = qcow2_write_meta(s, 0, (uint64_t)toff, tb_size * 8, tb);
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to write bitmap '%s' to file", bm->name);
        for (uint64_t i = 0; i < tb_size; i++) {
            tb[i] = GUINT64_FROM_BE(tb[i]);
        }
        qcow2_free_clusters(s, (uint64_t)toff, tb_size * 8, false);
        goto fail;
    }
    be->table_offset = (uint64_t)toff;
    be->table_size = (uint32_t)tb_size;
    g_free(tb);
    g_free(buf);
    return 0;
fail:
    for (uint64_t i = 0; i < tb_size; i++) {
        if (tb[i] & BME_TABLE_OFFSET_MASK) {
            qcow2_free_clusters(s, tb[i] & BME_TABLE_OFFSET_MASK, cs, true);
        }
    }
    g_free(tb);
    g_free(buf);
    return ret;
}

int qcow2_store_dirty_bitmaps(BDRVQcow2State *s, char **errp)
{
    BlockDriverState *bs = s->bs;
    BmList l = {0};
    BmList drop = {0};
    bool need_write = false;
    int ret = 0;
    if (s->nb_bitmaps && list_load(s, &l, errp) < 0) {
        return -EINVAL;
    }
    uint32_t new_nb = s->nb_bitmaps;
    uint64_t new_dir_size = s->bitmap_dir_size;
    for (BdrvDirtyBitmap *bm = bs->dirty_bitmaps; bm; bm = bm->next) {
        if (!bm->persistent || bm->inconsistent) {
            continue;
        }
        BmEntry *be;
        if (bm->readonly) {
            be = list_find(&l, bm->name);
            if (be) {
                be->bm = bm;
            }
            continue;
        }
        need_write = true;
        char *err = NULL;
        if (check_constraints(s, bm->name, bm->granularity, &err) < 0) {
            block_error(errp, "Bitmap '%s' doesn't satisfy the constraints: %s", bm->name, err);
            g_free(err);
            ret = -EINVAL;
            goto out;
        }
        be = list_find(&l, bm->name);
        if (!be) {
            if (++new_nb > QCOW2_MAX_BITMAPS) {
                block_error(errp, "Too many persistent bitmaps");
                ret = -EINVAL;
                goto out;
            }
            new_dir_size += entry_size(strlen(bm->name));
            if (new_dir_size > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
                block_error(errp, "Bitmap directory is too large");
                ret = -EINVAL;
                goto out;
            }
            be = list_append(&l);
            be->name = g_strdup(bm->name);
        } else {
            if (!(be->flags & BME_FLAG_IN_USE)) {
                block_error(errp, "Bitmap '%s' already exists in the image", bm->name);
                ret = -EINVAL;
                goto out;
            }
            BmEntry *d = list_append(&drop);
            d->table_offset = be->table_offset;
            d->table_size = be->table_size;
            d->name = g_strdup(be->name);
            be->table_offset = 0;
            be->table_size = 0;
        }
        be->flags = bm->disabled ? 0 : BME_FLAG_AUTO;
        be->granularity_bits = (uint8_t)__builtin_ctz(bm->granularity);
        be->bm = bm;
    }
    if (!need_write) {
        goto out;
    }
    if (s->read_only) {
        block_error(errp, "No write access");
        ret = -EACCES;
        goto out;
    }
    for (uint32_t i = 0; i < l.n; i++) {
        if (!l.e[i].bm || l.e[i].bm->readonly) {
            continue;
        }
        ret = store_bitmap(s, &l.e[i], errp);
        if (ret < 0) {
            goto out;
        }
    }
    ret = update_dir(s, &l);
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to update bitmap extension");
        goto out;
    }
    for (uint32_t i = 0; i < drop.n; i++) {
        free_bitmap_clusters(s, &drop.e[i]);
    }
out:
    list_free(&l);
    list_free(&drop);
    return ret;
}

int qcow2_truncate_bitmaps_check(BDRVQcow2State *s, char **errp)
{
    if (!s->nb_bitmaps) {
        return 0;
    }
    BmList l;
    int ret = list_load(s, &l, errp);
    if (ret < 0) {
        return ret;
    }
    for (uint32_t i = 0; i < l.n && ret == 0; i++) {
        BdrvDirtyBitmap *bm = bdrv_find_dirty_bitmap(s->bs, l.e[i].name);
        if (!bm) {
            block_error(errp, "Cannot resize qcow2 with persistent bitmaps that were not loaded "
                              "into memory");
            ret = -ENOTSUP;
        } else if (bdrv_dirty_bitmap_check(bm, BDRV_BITMAP_DEFAULT, errp) < 0) {
            ret = -ENOTSUP;
        }
    }
    list_free(&l);
    return ret;
}
