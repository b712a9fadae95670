/*
 * Generic block layer: opening node stacks, probing, request checks and dispatch.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include "vireo/block.h"

const char *const prealloc_mode_names[] = {"off", "metadata", "falloc", "full", NULL};

int prealloc_mode_parse(const char *s)
{
    for (int i = 0; prealloc_mode_names[i]; i++) {
        if (strcmp(s, prealloc_mode_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void block_error(char **errp, const char *fmt, ...)
{
    va_list ap;
    if (!errp || *errp) {
        return;
    }
    va_start(ap, fmt);
    *errp = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

void block_error_errno(char **errp, int err, const char *fmt, ...)
{
    va_list ap;
    if (!errp || *errp) {
        return;
    }
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    *errp = g_strdup_printf("%s: %s", msg, g_strerror(err < 0 ? -err : err));
    g_free(msg);
}

static const BlockDriver *const drivers[] = {&bdrv_qcow2, &bdrv_raw, &bdrv_file, NULL};

const BlockDriver *bdrv_find_format(const char *name)
{
    for (int i = 0; drivers[i]; i++) {
        if (strcmp(drivers[i]->format_name, name) == 0) {
            return drivers[i];
        }
    }
    return NULL;
}

const BlockDriver *bdrv_find_format_err(const char *name, char **errp)
{
    const BlockDriver *drv = bdrv_find_format(name);
    if (!drv) {
        block_error(errp, "Unknown driver '%s'", name);
    }
    return drv;
}

const BlockDriver *bdrv_probe_buf(const uint8_t *buf, size_t n)
{
    const BlockDriver *best = &bdrv_raw;
    int best_score = 0;
    for (int i = 0; drivers[i]; i++) {
        if (drivers[i]->probe) {
            int score = drivers[i]->probe(buf, n);
            if (score > best_score) {
                best_score = score;
                best = drivers[i];
            }
        }
    }
    return best;
}

const BlockDriver *bdrv_probe(BlockDriverState *file)
{
    uint8_t buf[2048] = {0};
    int64_t len = bdrv_getlength(file);
    size_t n = len < 0 ? 0 : (size_t)MIN((int64_t)sizeof(buf), len);
    if (n && bdrv_pread(file, 0, n, buf) < 0) {
        memset(buf, 0, sizeof(buf));
    }
    return bdrv_probe_buf(buf, n);
}

char *bdrv_path_combine(const char *base, const char *name)
{
    if (name[0] == '/' || !strchr(base, '/')) {
        return g_strdup(name);
    }
    char *dir = g_path_get_dirname(base);
    char *res = g_strdup_printf("%s/%s", dir, name);
    g_free(dir);
    return res;
}

int bdrv_parse_discard_flags(const char *mode, int *flags)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        *flags &= ~BDRV_O_UNMAP;
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        *flags |= BDRV_O_UNMAP;
    } else {
        return -1;
    }
    return 0;
}

int bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough)
{
    *flags &= ~(BDRV_O_NOCACHE | BDRV_O_NO_FLUSH | BDRV_O_WRTHROUGH);
    *writethrough = false;
    if (!strcmp(mode, "off") || !strcmp(mode, "none")) {
        *flags |= BDRV_O_NOCACHE;
    } else if (!strcmp(mode, "directsync")) {
        *flags |= BDRV_O_NOCACHE | BDRV_O_WRTHROUGH;
        *writethrough = true;
    } else if (!strcmp(mode, "writeback")) {
    } else if (!strcmp(mode, "unsafe")) {
        *flags |= BDRV_O_NO_FLUSH;
    } else if (!strcmp(mode, "writethrough")) {
        *flags |= BDRV_O_WRTHROUGH;
        *writethrough = true;
    } else {
        return -1;
    }
    return 0;
}

#define MAX_BACKING_DEPTH 64

static BlockDriverState *bdrv_open_depth(const char *filename, const char *fmt, QOpts *opts,
                                         int flags, int depth, GHashTable *seen, char **errp);

/* Every open node, oldest first. */
static GPtrArray *all_nodes;

BlockDriverState *bdrv_next_node(BlockDriverState *bs)
{
    guint i = 0;
    if (!all_nodes) {
        return NULL;
    }
    if (bs) {
        if (!g_ptr_array_find(all_nodes, bs, &i)) {
            return NULL;
        }
        i++;
    }
    return i < all_nodes->len ? all_nodes->pdata[i] : NULL;
}

BlockDriverState *bdrv_find_node(const char *node_name)
{
    for (guint i = 0; all_nodes && i < all_nodes->len; i++) {
        BlockDriverState *bs = all_nodes->pdata[i];
        if (bs->node_name_set && !strcmp(bs->node_name, node_name)) {
            return bs;
        }
    }
    return NULL;
}

void bdrv_ref(BlockDriverState *bs)
{
    bs->refcnt++;
}

static BlockDriverState *bdrv_new(const BlockDriver *drv, const char *filename, int flags)
{
    BlockDriverState *bs = g_new0(BlockDriverState, 1);
    if (!all_nodes) {
        all_nodes = g_ptr_array_new();
    }
    g_ptr_array_add(all_nodes, bs);
    bs->refcnt = 1;
    bs->drv = drv;
    bs->filename = g_strdup(filename);
    bs->open_flags = flags;
    bs->read_only = !(flags & BDRV_O_RDWR);
    bs->backing_file = g_strdup("");
    /* QEMU numbers its unnamed nodes from a global counter (its values vary run to run) */
    static unsigned node_counter = 100;
    snprintf(bs->node_name, sizeof(bs->node_name), "#block%u", node_counter++);
    return bs;
}

static int open_backing(BlockDriverState *bs, int flags, int depth, GHashTable *seen, char **errp)
{
    if (!bs->backing_file || !bs->backing_file[0] || (flags & BDRV_O_NO_BACKING)) {
        return 0;
    }
    if (depth >= MAX_BACKING_DEPTH) {
        block_error(errp, "Backing chain is too deep");
        return -ELOOP;
    }
    char *err = NULL;
    int bflags = (flags & ~(BDRV_O_RDWR | BDRV_O_CHECK));
    bs->backing = bdrv_open_depth(bs->full_backing_filename, bs->backing_format, NULL, bflags,
                                  depth + 1, seen, &err);
    if (!bs->backing) {
        block_error(errp, "Could not open backing file: %s", err);
        g_free(err);
        return -EINVAL;
    }
    return 0;
}

/* A user's node-name (opts "node-name"), set before anything can name the node in a message. */
static void set_node_name(BlockDriverState *bs, QOpts *opts)
{
    const char *name = opts ? qopts_get(opts, "node-name") : NULL;
    if (name) {
        g_strlcpy(bs->node_name, name, sizeof(bs->node_name));
        bs->node_name_set = true;
    }
}

BlockDriverState *bdrv_open_protocol(const BlockDriver *drv, const char *filename, QOpts *opts,
                                     int flags, char **errp)
{
    BlockDriverState *file = bdrv_new(drv, filename, flags);
    set_node_name(file, opts);
    int ret = drv->open(file, opts, flags, errp);
    if (ret < 0) {
        bdrv_close(file);
        return NULL;
    }
    return file;
}

static BlockDriverState *format_open(const BlockDriver *drv, BlockDriverState *file, QOpts *opts,
                                     int flags, char **errp)
{
    BlockDriverState *bs = bdrv_new(drv, file->filename, flags);
    set_node_name(bs, opts);
    bs->file = file;
    /* as QEMU: the format takes its permissions on the file (its locks) before reading it */
    if (bdrv_refresh_perms(errp) < 0) {
        bdrv_close(bs);
        return NULL;
    }
    int ret = drv->open(bs, opts, flags, errp);
    if (ret < 0 || (bs->data_file && bdrv_refresh_perms(errp) < 0)) {
        bdrv_close(bs);
        return NULL;
    }
    if (bs->backing_file[0] && !bs->full_backing_filename) {
        bs->full_backing_filename = bdrv_path_combine(bs->filename, bs->backing_file);
    }
    return bs;
}

BlockDriverState *bdrv_open_format(const BlockDriver *drv, BlockDriverState *file, QOpts *opts,
                                   int flags, char **errp)
{
    if (!drv) {
        drv = bdrv_probe(file);
    }
    bdrv_ref(file);
    BlockDriverState *bs = format_open(drv, file, opts, flags | BDRV_O_NO_BACKING, errp);
    if (bs) {
        bs->open_flags = flags; /* the backing file is the caller's to open */
    }
    return bs;
}

int bdrv_set_backing(BlockDriverState *bs, BlockDriverState *backing, char **errp)
{
    bs->backing = backing;
    if (backing) {
        bdrv_ref(backing);
    }
    int ret = bdrv_refresh_perms(errp);
    if (ret < 0 && backing) {
        bs->backing = NULL;
        bdrv_close(backing);
        bdrv_refresh_perms(NULL);
    }
    return ret;
}

int bdrv_open_backing_file(BlockDriverState *bs, char **errp)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    struct stat st;
    if (stat(bs->filename, &st) == 0) {
        g_hash_table_add(
            seen, g_strdup_printf("%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino));
    }
    int ret = open_backing(bs, bs->open_flags & ~BDRV_O_NO_BACKING, 0, seen, errp);
    g_hash_table_destroy(seen);
    return ret;
}

static BlockDriverState *bdrv_open_depth(const char *filename, const char *fmt, QOpts *opts,
                                         int flags, int depth, GHashTable *seen, char **errp)
{
    const BlockDriver *drv = NULL;
    if (fmt && !(drv = bdrv_find_format_err(fmt, errp))) {
        return NULL;
    }
    /* as in QEMU, the protocol layer below a format passes discards down (discard=unmap) */
    int file_flags =
        (drv == &bdrv_file || (flags & BDRV_O_PROTOCOL)) ? flags : flags | BDRV_O_UNMAP;
    BlockDriverState *file = bdrv_open_protocol(&bdrv_file, filename, opts, file_flags, errp);
    if (!file) {
        return NULL;
    }
    if (drv == &bdrv_file || (flags & BDRV_O_PROTOCOL)) {
        return file;
    }
    struct stat st;
    if (seen && stat(filename, &st) == 0) {
        char *key = g_strdup_printf("%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
        if (g_hash_table_contains(seen, key)) {
            g_free(key);
            block_error(errp, "Backing file '%s' creates a loop in the backing chain", filename);
            bdrv_close(file);
            return NULL;
        }
        g_hash_table_add(seen, key);
    }
    if (!drv) {
        drv = bdrv_probe(file);
    }
    BlockDriverState *bs = format_open(drv, file, opts, flags, errp);
    if (!bs) {
        return NULL;
    }
    if (open_backing(bs, flags, depth, seen, errp) < 0) {
        bdrv_close(bs);
        return NULL;
    }
    return bs;
}

BlockDriverState *bdrv_open(const char *filename, const char *fmt, QOpts *opts, int flags,
                            char **errp)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    BlockDriverState *bs = bdrv_open_depth(filename, fmt, opts, flags, 0, seen, errp);
    g_hash_table_destroy(seen);
    return bs;
}

void bdrv_close(BlockDriverState *bs)
{
    if (!bs || --bs->refcnt > 0) {
        return;
    }
    while (bs->users) {
        bdrv_remove_user(bs->users);
    }
    g_ptr_array_remove(all_nodes, bs); /* out of the graph before its children go */
    if (bs->drv && bs->drv->close && bs->opaque) {
        bs->drv->close(bs);
    }
    bdrv_release_all_dirty_bitmaps(bs);
    g_free(bs->opaque);
    bdrv_close(bs->backing);
    bdrv_close(bs->file);
    g_free(bs->filename);
    g_free(bs->backing_file);
    g_free(bs->backing_format);
    g_free(bs->full_backing_filename);
    g_free(bs);
    /* the nodes it used (still referenced elsewhere) hold less now */
    bdrv_refresh_perms(NULL);
}

int64_t bdrv_getlength(BlockDriverState *bs)
{
    int64_t len = bs->drv->getlength(bs);
    if (len > 0 && !bs->drv->is_protocol) {
        len = (len + 511) & ~511LL; /* QEMU counts whole sectors */
    }
    return len;
}

int64_t bdrv_allocated_size(BlockDriverState *bs)
{
    if (bs->drv->allocated_size) {
        return bs->drv->allocated_size(bs);
    }
    if (bs->file) {
        return bdrv_allocated_size(bs->file);
    }
    return -ENOTSUP;
}

static int check_request(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    int64_t len = bdrv_getlength(bs);
    if (len < 0) {
        return (int)len;
    }
    if (offset > (uint64_t)len || bytes > (uint64_t)len - offset) {
        return -EIO;
    }
    return 0;
}

int bdrv_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    if (!bs->drv->is_protocol) {
        int ret = check_request(bs, offset, bytes);
        if (ret < 0) {
            return ret;
        }
    }
    if (!bytes) {
        return 0;
    }
    return bs->drv->pread(bs, offset, bytes, buf);
}

void bdrv_note_write(BlockDriverState *bs, uint64_t end)
{
    uint64_t cur = __atomic_load_n(&bs->wr_highest_offset, __ATOMIC_RELAXED);
    while (end > cur && !__atomic_compare_exchange_n(&bs->wr_highest_offset, &cur, end, false,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

static int after_write(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int ret, int flags)
{
    if (ret >= 0) {
        bdrv_note_write(bs, offset + bytes);
    }
    if (bs->dirty_bitmaps) {
        bdrv_set_dirty(bs, offset, bytes);
    }
    if (ret >= 0 && ((bs->open_flags & BDRV_O_WRTHROUGH) || (flags & BDRV_REQ_FUA))) {
        ret = bdrv_flush(bs);
    }
    return ret;
}

int bdrv_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf, int flags)
{
    if (bs->read_only) {
        return -EACCES;
    }
    if (!bs->drv->is_protocol) {
        int ret = check_request(bs, offset, bytes);
        if (ret < 0) {
            return ret;
        }
    }
    if (!bytes) {
        return 0;
    }
    return after_write(bs, offset, bytes, bs->drv->pwrite(bs, offset, bytes, buf, flags), flags);
}

int bdrv_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    if (bs->read_only) {
        return -EACCES;
    }
    if (!bs->drv->is_protocol) {
        int ret = check_request(bs, offset, bytes);
        if (ret < 0) {
            return ret;
        }
    }
    if (!bytes) {
        return 0;
    }
    uint64_t start = offset, len = bytes;
    int ret = -ENOTSUP;
    if (bs->drv->pwrite_zeroes) {
        ret = bs->drv->pwrite_zeroes(bs, offset, bytes, flags);
    }
    if (ret == -ENOTSUP && !(flags & BDRV_REQ_NO_FALLBACK)) {
        size_t chunk = MIN(bytes, (uint64_t)1 << 20);
        void *zero = g_malloc0(chunk);
        ret = 0;
        while (bytes && ret >= 0) {
            size_t n = MIN(bytes, chunk);
            ret = bs->drv->pwrite(bs, offset, n, zero, 0);
            offset += n;
            bytes -= n;
        }
        g_free(zero);
    }
    return after_write(bs, start, len, ret, flags);
}

int bdrv_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    if (bs->read_only) {
        return -EACCES;
    }
    if (!bs->drv->is_protocol) {
        int ret = check_request(bs, offset, bytes);
        if (ret < 0) {
            return ret;
        }
    }
    if (!bytes || !bs->drv->discard || !(bs->open_flags & BDRV_O_UNMAP)) {
        return 0;
    }
    int ret = bs->drv->discard(bs, offset, bytes);
    if (bs->dirty_bitmaps) {
        bdrv_set_dirty(bs, offset, bytes);
    }
    return ret;
}

int bdrv_flush(BlockDriverState *bs)
{
    int ret = 0;
    if (bs->drv->flush && !bs->read_only) {
        ret = bs->drv->flush(bs);
    }
    return ret;
}

int bdrv_truncate(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                  char **errp)
{
    if (bs->read_only) {
        block_error(errp, "Image is read-only");
        return -EACCES;
    }
    if (!bs->drv->truncate) {
        block_error(errp, "Image format driver does not support resize");
        return -ENOTSUP;
    }
    int ret = bs->drv->truncate(bs, size, exact, prealloc, errp);
    if (ret >= 0 && bs->dirty_bitmaps) {
        int64_t len = bdrv_getlength(bs);
        bdrv_dirty_bitmap_truncate(bs, len < 0 ? size : (uint64_t)len);
    }
    return ret;
}

static int block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                        uint64_t *map, BlockDriverState **file, bool want_zero);

int bdrv_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                      uint64_t *map, BlockDriverState **file)
{
    return block_status(bs, offset, bytes, pnum, map, file, true);
}

/* want_zero: also find out whether data reads as zero (QEMU's want_zero), at the price of
 * asking the file below */
static int block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                        uint64_t *map, BlockDriverState **file, bool want_zero)
{
    int64_t len = bdrv_getlength(bs);
    uint64_t m = 0;
    BlockDriverState *f = NULL;
    if (len < 0) {
        return (int)len;
    }
    if (offset >= (uint64_t)len) {
        *pnum = 0;
        return BDRV_BLOCK_EOF;
    }
    bytes = MIN(bytes, (uint64_t)len - offset);
    int ret = bs->drv->block_status(bs, offset, bytes, pnum, &m, &f);
    if (ret < 0) {
        return ret;
    }
    if (*pnum == 0 || *pnum > bytes) {
        *pnum = bytes;
    }
    if ((ret & BDRV_BLOCK_RECURSE) && want_zero && f && f != bs && (ret & BDRV_BLOCK_DATA) &&
        !(ret & BDRV_BLOCK_ZERO) && (ret & BDRV_BLOCK_OFFSET_VALID)) {
        /* a hole in the file reads as zero; past its end too (errors only lose the hint) */
        uint64_t fn = 0;
        int r2 = block_status(f, m, *pnum, &fn, NULL, NULL, true);
        if (r2 >= 0) {
            if ((r2 & BDRV_BLOCK_EOF) && !fn) {
                ret |= BDRV_BLOCK_ZERO;
            } else {
                *pnum = fn;
                ret |= r2 & BDRV_BLOCK_ZERO;
            }
        }
    }
    ret &= ~BDRV_BLOCK_RECURSE;
    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
        ret |= BDRV_BLOCK_ALLOCATED;
    } else if (!bs->drv->is_protocol) {
        if (!bs->backing) {
            ret |= BDRV_BLOCK_ZERO;
        } else {
            int64_t blen = bdrv_getlength(bs->backing);
            if (blen >= 0 && offset >= (uint64_t)blen) {
                ret |= BDRV_BLOCK_ZERO;
            }
        }
    }
    if (map) {
        *map = m;
    }
    if (file) {
        *file = f;
    }
    return ret;
}

int bdrv_is_allocated(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum)
{
    int ret = block_status(bs, offset, bytes, pnum, NULL, NULL, false);
    if (ret < 0) {
        return ret;
    }
    return !!(ret & BDRV_BLOCK_ALLOCATED);
}

int bdrv_is_allocated_above(BlockDriverState *bs, BlockDriverState *base, uint64_t offset,
                            uint64_t bytes, uint64_t *pnum, int *depth)
{
    int d = 0;
    uint64_t want = bytes;
    for (BlockDriverState *p = bs; p && p != base; p = p->backing, d++) {
        uint64_t n = 0;
        int64_t len = bdrv_getlength(p);
        if (len < 0) {
            return (int)len;
        }
        int ret;
        if (offset >= (uint64_t)len) {
            /* beyond this layer's end: reads as zero, i.e. allocated here for overlays */
            ret = 1;
            n = want;
        } else {
            ret = bdrv_is_allocated(p, offset, want, &n);
            if (ret < 0) {
                return ret;
            }
        }
        if (ret) {
            *pnum = n;
            if (depth) {
                *depth = d;
            }
            return 1;
        }
        want = n; /* the unallocated run is limited by this layer */
    }
    *pnum = want;
    if (depth) {
        *depth = d;
    }
    return 0;
}

int bdrv_block_status_above(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum)
{
    BlockDriverState *p = bs;
    for (;;) {
        uint64_t n = 0;
        int ret = bdrv_block_status(p, offset, bytes, &n, NULL, NULL);
        if (ret < 0) {
            return ret;
        }
        if (ret & BDRV_BLOCK_EOF && n == 0) {
            /* past the end of a backing layer: zero */
            *pnum = bytes;
            return BDRV_BLOCK_ZERO | (p == bs ? 0 : BDRV_BLOCK_ALLOCATED);
        }
        bytes = n;
        if ((ret & BDRV_BLOCK_ALLOCATED) || !p->backing) {
            *pnum = n;
            return ret;
        }
        p = p->backing;
    }
}

int bdrv_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    memset(bdi, 0, sizeof(*bdi));
    if (!bs->drv->get_info) {
        return -ENOTSUP;
    }
    return bs->drv->get_info(bs, bdi);
}

int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, int fix)
{
    memset(res, 0, sizeof(*res));
    if (!bs->drv->check) {
        return -ENOTSUP;
    }
    return bs->drv->check(bs, res, fix);
}

QJ *bdrv_get_specific_info(BlockDriverState *bs)
{
    return bs->drv->get_specific_info ? bs->drv->get_specific_info(bs) : NULL;
}

int bdrv_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list)
{
    *list = NULL;
    int n = bs->drv->snapshot_list ? bs->drv->snapshot_list(bs, list) : 0;
    if (n <= 0) {
        /* a driver may hand back an empty array: nothing for the caller to free */
        g_free(*list);
        *list = NULL;
    }
    return n;
}

void bdrv_snapshot_list_free(BlockSnapshotInfo *list, int n)
{
    for (int i = 0; i < n; i++) {
        g_free(list[i].id);
        g_free(list[i].name);
    }
    g_free(list);
}

int bdrv_snapshot_find(BlockDriverState *bs, const char *name_arg, char **id, char **name)
{
    BlockSnapshotInfo *sn;
    int n = bdrv_snapshot_list(bs, &sn);
    int found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        if (!strcmp(sn[i].name, name_arg)) {
            found = i;
        }
    }
    if (found >= 0) {
        *id = g_strdup(sn[found].id);
        *name = g_strdup(sn[found].name);
    }
    if (n >= 0) {
        bdrv_snapshot_list_free(sn, n);
    }
    return found >= 0 ? 0 : -ENOENT;
}

int bdrv_snapshot_create(BlockDriverState *bs, const BlockSnapshotInfo *info)
{
    if (!bs->drv->snapshot_create) {
        return -ENOTSUP;
    }
    return bs->drv->snapshot_create(bs, info);
}

int bdrv_snapshot_goto(BlockDriverState *bs, const char *id_or_name, char **errp)
{
    if (!bs->drv->snapshot_goto) {
        block_error(errp,
                    "Block format '%s' used by node '%s' does not support internal "
                    "snapshots",
                    bs->drv->format_name, bs->filename);
        return -ENOTSUP;
    }
    if (bs->dirty_bitmaps) {
        block_error(errp, "Device has active dirty bitmaps");
        return -EBUSY;
    }
    int ret = bs->drv->snapshot_goto(bs, id_or_name);
    if (ret < 0) {
        block_error_errno(errp, ret, "Failed to load snapshot");
    }
    return ret;
}

int bdrv_snapshot_delete(BlockDriverState *bs, const char *id, const char *name, char **errp)
{
    if (!bs->drv->snapshot_delete) {
        block_error(errp,
                    "Block format '%s' used by node '%s' does not support internal "
                    "snapshots",
                    bs->drv->format_name, bs->filename);
        return -ENOTSUP;
    }
    return bs->drv->snapshot_delete(bs, id, name, errp);
}

int bdrv_snapshot_load_tmp(BlockDriverState *bs, const char *id, const char *name, char **errp)
{
    if (!bs->drv->snapshot_load_tmp) {
        block_error(errp,
                    "Block format '%s' used by node '%s' does not support internal "
                    "snapshots",
                    bs->drv->format_name, bs->filename);
        return -ENOTSUP;
    }
    return bs->drv->snapshot_load_tmp(bs, id, name, errp);
}

int bdrv_change_backing_file(BlockDriverState *bs, const char *file, const char *fmt)
{
    if (!bs->drv->change_backing_file) {
        return -ENOTSUP;
    }
    return bs->drv->change_backing_file(bs, file, fmt);
}

int bdrv_make_empty(BlockDriverState *bs)
{
    if (!bs->drv->make_empty) {
        return -ENOTSUP;
    }
    int ret = bs->drv->make_empty(bs);
    if (ret == 0) {
        ret = bdrv_flush(bs);
    }
    return ret;
}

int bdrv_create(const BlockDriver *drv, const char *filename, QOpts *opts, char **errp)
{
    if (!drv->create) {
        block_error(errp, "Driver '%s' does not support image creation", drv->format_name);
        return -ENOTSUP;
    }
    return drv->create(filename, opts, errp);
}

void bdrv_submit(BlockDriverState *bs, BlockRequest *req)
{
    int ret = 0;
    void *bounce = NULL;
    const void *wbuf = NULL;
    void *rbuf = NULL;

    if (req->type == BLOCK_REQ_READ || req->type == BLOCK_REQ_WRITE) {
        if (req->niov == 1 && req->iov[0].iov_len >= req->bytes) {
            rbuf = req->iov[0].iov_base;
            wbuf = rbuf;
        } else {
            bounce = g_malloc(req->bytes ? req->bytes : 1);
            rbuf = bounce;
            wbuf = bounce;
            if (req->type == BLOCK_REQ_WRITE) {
                size_t done = 0;
                for (int i = 0; i < req->niov && done < req->bytes; i++) {
                    size_t n = MIN(req->iov[i].iov_len, req->bytes - done);
                    memcpy((char *)bounce + done, req->iov[i].iov_base, n);
                    done += n;
                }
            }
        }
    }
    switch (req->type) {
    case BLOCK_REQ_READ:
        ret = bdrv_pread(bs, req->offset, req->bytes, rbuf);
        if (ret >= 0 && bounce) {
            size_t done = 0;
            for (int i = 0; i < req->niov && done < req->bytes; i++) {
                size_t n = MIN(req->iov[i].iov_len, req->bytes - done);
                memcpy(req->iov[i].iov_base, (char *)bounce + done, n);
                done += n;
            }
        }
        break;
    case BLOCK_REQ_WRITE:
        ret = bdrv_pwrite(bs, req->offset, req->bytes, wbuf, req->flags);
        break;
    case BLOCK_REQ_WRITE_ZEROES:
        ret = bdrv_pwrite_zeroes(bs, req->offset, req->bytes, req->flags);
        break;
    case BLOCK_REQ_DISCARD:
        ret = bdrv_discard(bs, req->offset, req->bytes);
        break;
    case BLOCK_REQ_FLUSH:
        ret = bdrv_flush(bs);
        break;
    }
    g_free(bounce);
    req->ret = ret < 0 ? ret : 0;
    if (req->cb) {
        req->cb(req, req->ret);
    }
}

bool buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len && ((uintptr_t)p & 7)) {
        if (*p) {
            return false;
        }
        p++;
        len--;
    }
    const uint64_t *q = (const uint64_t *)p;
    for (; len >= 32; len -= 32, q += 4) {
        if (q[0] | q[1] | q[2] | q[3]) {
            return false;
        }
    }
    p = (const unsigned char *)q;
    while (len--) {
        if (*p++) {
            return false;
        }
    }
    return true;
}

char *size_to_str(uint64_t val)
{
    static const char *const suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int e;
    /* floor(log2(val * 1024 / 1000)) / 10 picks the unit, so the integer part stays < 1000 */
    frexp((double)val / (1000.0 / 1024.0), &e);
    int i = (e - 1) / 10;
    if (i < 0) {
        i = 0;
    }
    uint64_t div = 1ULL << (i * 10);
    return g_strdup_printf("%0.3g %sB", (double)val / (double)div, suffixes[i]);
}
