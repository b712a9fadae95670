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

static const BlockDriver *const drivers[] = {
    &bdrv_qcow2,   &bdrv_raw,      &bdrv_vdi,      &bdrv_vpc,      &bdrv_qcow,
    &bdrv_file,    &bdrv_null_co,  &bdrv_null_aio, &bdrv_blkdebug, &bdrv_nbd,
    &bdrv_nbd_tcp, &bdrv_nbd_unix, NULL,
};

const BlockDriver *bdrv_find_format(const char *name)
{
    for (int i = 0; drivers[i]; i++) {
        if (strcmp(drivers[i]->format_name, name) == 0) {
            return drivers[i];
        }
    }
    return NULL;
}

static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *bdrv_supported_formats(void)
{
    GPtrArray *names = g_ptr_array_new();
    for (int i = 0; drivers[i]; i++) {
        g_ptr_array_add(names, (gpointer)drivers[i]->format_name);
    }
    g_ptr_array_sort(names, name_cmp);
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < names->len; i++) {
        /* one name per driver family (nbd, nbd+tcp and nbd+unix are all "nbd") */
        if (i && !strcmp(names->pdata[i], names->pdata[i - 1])) {
            continue;
        }
        g_string_append_printf(out, "%s%s", i ? " " : "", (const char *)names->pdata[i]);
    }
    g_ptr_array_free(names, TRUE);
    return g_string_free(out, FALSE);
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

bool bdrv_path_has_protocol(const char *path)
{
    return path[strcspn(path, ":/")] == ':';
}

const BlockDriver *bdrv_find_protocol(const char *filename, bool allow_prefix, char **errp)
{
    if (!allow_prefix || !bdrv_path_has_protocol(filename)) {
        return &bdrv_file;
    }
    size_t len = strcspn(filename, ":");
    for (int i = 0; drivers[i]; i++) {
        const char *p = drivers[i]->protocol_name;
        if (p && strlen(p) == len && !strncmp(p, filename, len)) {
            return drivers[i];
        }
    }
    block_error(errp, "Unknown protocol '%.*s'", (int)len, filename);
    return NULL;
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

/* A user's node-name (opts "node-name"), set before anything can name the node in a message. */
static void set_node_name(BlockDriverState *bs, QOpts *opts)
{
    const char *name = opts ? qopts_get(opts, "node-name") : NULL;
    if (name) {
        g_strlcpy(bs->node_name, name, sizeof(bs->node_name));
        bs->node_name_set = true;
    }
}

BlockDriverState *bdrv_open_driver(const BlockDriver *drv, BlockDriverState *file,
                                   const char *filename, QOpts *opts, QJ *open_options, int flags,
                                   char **errp)
{
    bool probed = !drv;
    if (!drv) {
        drv = bdrv_probe(file);
    }
    BlockDriverState *bs = bdrv_new(drv, file ? file->filename : filename ? filename : "", flags);
    bs->probed = probed;
    set_node_name(bs, opts);
    bs->file = file;
    /* as QEMU: the format takes its permissions on the file (its locks) before reading it */
    if (file && bdrv_refresh_perms(errp) < 0) {
        bdrv_close(bs);
        return NULL;
    }
    bs->open_options = open_options;
    QOpts *none = opts ? NULL : qopts_new("block"); /* drivers look their options up */
    int ret = drv->open(bs, opts ? opts : none, flags, errp);
    qopts_free(none);
    bs->open_options = NULL;
    /* children the driver opened itself (qcow2's data file, blkdebug's image) take theirs now */
    if (ret < 0 || ((bs->data_file || (bs->file && !file)) && bdrv_refresh_perms(errp) < 0)) {
        if (!bs->opaque) {
            bs->drv = NULL; /* never opened: nothing for the driver to close */
        }
        bdrv_close(bs);
        return NULL;
    }
    if (bs->backing_file[0] && !bs->full_backing_filename) {
        bs->full_backing_filename = bdrv_path_combine(bs->filename, bs->backing_file);
    }
    return bs;
}

BlockDriverState *bdrv_open_protocol(const BlockDriver *drv, const char *filename, QOpts *opts,
                                     int flags, char **errp)
{
    return bdrv_open_driver(drv, NULL, filename, opts, NULL, flags, errp);
}

BlockDriverState *bdrv_open_format(const BlockDriver *drv, BlockDriverState *file, QOpts *opts,
                                   int flags, char **errp)
{
    if (!drv) {
        drv = bdrv_probe(file);
    }
    bdrv_ref(file);
    BlockDriverState *bs =
        bdrv_open_driver(drv, file, NULL, opts, NULL, flags | BDRV_O_NO_BACKING, errp);
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

/* ---- requests: node locks, padding to the request alignment, splitting, events ---- */

static void req_lock(BlockDriverState *bs)
{
    if (bs->drv->lock_requests) {
        co_mutex_lock(&bs->req_lock);
    }
}

static void req_unlock(BlockDriverState *bs)
{
    if (bs->drv->lock_requests) {
        co_mutex_unlock(&bs->req_lock);
    }
}

bool bdrv_req_unlock(BlockDriverState *bs)
{
    return bs->drv->lock_requests && co_mutex_unlock_if_single(&bs->req_lock);
}

void bdrv_req_relock(BlockDriverState *bs, bool released)
{
    if (released) {
        co_mutex_lock(&bs->req_lock);
    }
}

static uint64_t align_of(BlockDriverState *bs)
{
    return bs->request_alignment > 1 ? bs->request_alignment : 1;
}

/* An aligned read, split at max_transfer. */
static int driver_read(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    uint64_t max = bs->max_transfer ? bs->max_transfer : bytes;
    while (bytes) {
        uint64_t n = MIN(bytes, max);
        int ret = bs->drv->pread(bs, offset, n, buf);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        buf += n;
        bytes -= n;
    }
    return 0;
}

/* Read [offset, +bytes) through a buffer padded to the request alignment. */
static int padded_read(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    uint64_t align = align_of(bs);
    if (!(offset % align) && !(bytes % align)) {
        return driver_read(bs, offset, bytes, buf);
    }
    uint64_t start = offset - offset % align;
    uint64_t end = ((offset + bytes + align - 1) / align) * align;
    uint8_t *b = g_malloc(end - start);
    int ret = driver_read(bs, start, end - start, b);
    if (ret == 0) {
        memcpy(buf, b + (offset - start), bytes);
    }
    g_free(b);
    return ret;
}

/* Zeroes through the driver, or written as a buffer of zeroes when it cannot. */
static int driver_zero(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    uint64_t zalign = MAX(bs->pwrite_zeroes_alignment, align_of(bs));
    uint64_t max = bs->max_pwrite_zeroes ? bs->max_pwrite_zeroes : bytes;
    while (bytes) {
        /* an unaligned head goes alone, then aligned pieces (QEMU's split) */
        uint64_t n = MIN(bytes, max);
        if (offset % zalign) {
            n = MIN(bytes, zalign - offset % zalign);
        } else if (n > zalign && n < bytes) {
            n -= n % zalign;
        }
        int ret = -ENOTSUP;
        if (bs->drv->pwrite_zeroes) {
            ret = bs->drv->pwrite_zeroes(bs, offset, n, flags);
        }
        if (ret == -ENOTSUP && !(flags & BDRV_REQ_NO_FALLBACK)) {
            uint64_t chunk = MIN(n, (uint64_t)1 << 20);
            if (bs->max_transfer) {
                chunk = MIN(chunk, bs->max_transfer);
            }
            uint8_t *zero = g_malloc0(chunk);
            ret = 0;
            for (uint64_t done = 0; done < n && ret >= 0;) {
                uint64_t c = MIN(chunk, n - done);
                ret = bs->drv->pwrite(bs, offset + done, c, zero, flags & BDRV_REQ_FUA);
                done += c;
            }
            g_free(zero);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

/* An aligned write (QEMU's bdrv_aligned_pwritev): zero detection, events, splitting. */
static int driver_write(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const uint8_t *buf,
                        int flags)
{
    int ret;
    if (bs->detect_zeroes && !(flags & BDRV_REQ_COMPRESSED) && buffer_is_zero(buf, bytes)) {
        int zflags = flags & BDRV_REQ_FUA;
        if (bs->detect_zeroes == 2 && (bs->open_flags & BDRV_O_UNMAP)) {
            zflags |= BDRV_REQ_MAY_UNMAP;
        }
        bdrv_debug_event(bs, BLKDBG_PWRITEV_ZERO);
        ret = driver_zero(bs, offset, bytes, zflags);
    } else if (flags & BDRV_REQ_COMPRESSED) {
        ret = bs->drv->pwrite(bs, offset, bytes, buf, flags);
    } else {
        bdrv_debug_event(bs, BLKDBG_PWRITEV);
        uint64_t max = bs->max_transfer ? bs->max_transfer : bytes;
        ret = 0;
        while (bytes && ret >= 0) {
            uint64_t n = MIN(bytes, max);
            ret = bs->drv->pwrite(bs, offset, n, buf, flags);
            offset += n;
            buf += n;
            bytes -= n;
        }
    }
    bdrv_debug_event(bs, BLKDBG_PWRITEV_DONE);
    return ret;
}

/* A write padded to the request alignment: the partial blocks are read first. */
static int padded_write(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const uint8_t *buf,
                        int flags)
{
    uint64_t align = align_of(bs);
    if (!(offset % align) && !(bytes % align)) {
        return driver_write(bs, offset, bytes, buf, flags);
    }
    uint64_t start = offset - offset % align;
    uint64_t end = ((offset + bytes + align - 1) / align) * align;
    bool head = offset != start, tail = offset + bytes != end;
    bool merge = end - start <= 2 * align && head && tail;
    uint8_t *b = g_malloc(end - start);
    int ret = 0;
    co_mutex_lock(&bs->rmw_lock);
    if (head || merge) {
        uint64_t n = merge ? end - start : align;
        if (head) {
            bdrv_debug_event(bs, BLKDBG_PWRITEV_RMW_HEAD);
        }
        if (merge && tail) {
            bdrv_debug_event(bs, BLKDBG_PWRITEV_RMW_TAIL);
        }
        ret = driver_read(bs, start, n, b);
        if (head) {
            bdrv_debug_event(bs, BLKDBG_PWRITEV_RMW_AFTER_HEAD);
        }
        if (merge && tail) {
            bdrv_debug_event(bs, BLKDBG_PWRITEV_RMW_AFTER_TAIL);
        }
    }
    if (ret == 0 && tail && !merge) {
        bdrv_debug_event(bs, BLKDBG_PWRITEV_RMW_TAIL);
        ret = driver_read(bs, end - align, align, b + (end - align - start));
        bdrv_debug_event(bs, BLKDBG_PWRITEV_RMW_AFTER_TAIL);
    }
    if (ret == 0) {
        memcpy(b + (offset - start), buf, bytes);
        ret = driver_write(bs, start, end - start, b, flags);
    }
    co_mutex_unlock(&bs->rmw_lock);
    g_free(b);
    return ret;
}

/*
 * Copy-on-read (QEMU's bdrv_co_do_copy_on_readv): the clusters of the request that bs does
 * not allocate itself are read through the backing chain and written into bs.
 */
static int cor_read(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    BlockDriverInfo bdi;
    uint64_t cluster = align_of(bs);
    if (bdrv_get_info(bs, &bdi) == 0 && bdi.cluster_size > 0) {
        cluster = (uint64_t)bdi.cluster_size;
    }
    int64_t len = bdrv_getlength(bs);
    uint64_t pos = offset - offset % cluster;
    uint64_t end = ((offset + bytes + cluster - 1) / cluster) * cluster;
    if (len >= 0 && end > (uint64_t)len) {
        end = (uint64_t)len;
    }
    while (pos < end) {
        uint64_t pnum = 0;
        int ret = bdrv_is_allocated(bs, pos, end - pos, &pnum);
        if (ret < 0 || !pnum) {
            ret = 0; /* treated as unallocated: the read will tell */
            pnum = MIN(cluster, end - pos);
        }
        pnum = MIN(pnum, (uint64_t)16 << 20);
        uint64_t from = MAX(pos, offset), to = MIN(pos + pnum, offset + bytes);
        if (!ret) {
            uint8_t *b = g_malloc(pnum);
            int r = padded_read(bs, pos, pnum, b);
            if (r == 0) {
                bdrv_debug_event(bs, BLKDBG_COR_WRITE);
                if (bs->drv->pwrite_zeroes && buffer_is_zero(b, pnum)) {
                    r = driver_zero(bs, pos, pnum, 0);
                } else {
                    r = bs->drv->pwrite(bs, pos, pnum, b, 0);
                }
            }
            if (r == 0 && from < to) {
                memcpy(buf + (from - offset), b + (from - pos), to - from);
            }
            g_free(b);
            if (r < 0) {
                return r;
            }
        } else if (from < to) {
            int r = padded_read(bs, from, to - from, buf + (from - offset));
            if (r < 0) {
                return r;
            }
        }
        pos += pnum;
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
    req_lock(bs);
    int ret = (bs->open_flags & BDRV_O_COPY_ON_READ) && bs->backing && !bs->read_only
                  ? cor_read(bs, offset, bytes, buf)
                  : padded_read(bs, offset, bytes, buf);
    req_unlock(bs);
    return ret;
}

void bdrv_note_write(BlockDriverState *bs, uint64_t end)
{
    /* writes that bypass bdrv_pwrite (the backends' direct I/O) count for flushing too */
    __atomic_add_fetch(&bs->write_gen, 1, __ATOMIC_RELAXED);
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
    bs->write_gen++;
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
    req_lock(bs);
    int ret = (flags & BDRV_REQ_COMPRESSED) ? driver_write(bs, offset, bytes, buf, flags)
                                            : padded_write(bs, offset, bytes, buf, flags);
    ret = after_write(bs, offset, bytes, ret, flags);
    req_unlock(bs);
    return ret;
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
    req_lock(bs);
    uint64_t align = align_of(bs);
    uint64_t start = offset, len = bytes, end = offset + bytes;
    int ret = 0;
    /* partial blocks at the ends are written as data, the aligned middle as zeroes */
    uint64_t head_end = MIN(end, ((offset + align - 1) / align) * align);
    if (offset % align && ret >= 0) {
        uint8_t *z = g_malloc0(head_end - offset);
        ret = padded_write(bs, offset, head_end - offset, z, flags & BDRV_REQ_FUA);
        g_free(z);
        offset = head_end;
    }
    uint64_t tail_start = MAX(offset, end - end % align);
    if (ret >= 0 && tail_start > offset) {
        bdrv_debug_event(bs, BLKDBG_PWRITEV_ZERO);
        ret = driver_zero(bs, offset, tail_start - offset, flags);
        bdrv_debug_event(bs, BLKDBG_PWRITEV_DONE);
    }
    if (ret >= 0 && end > tail_start) {
        uint8_t *z = g_malloc0(end - tail_start);
        ret = padded_write(bs, tail_start, end - tail_start, z, flags & BDRV_REQ_FUA);
        g_free(z);
    }
    ret = after_write(bs, start, len, ret, flags);
    req_unlock(bs);
    return ret;
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
    req_lock(bs);
    int ret = 0;
    uint64_t max = bs->max_pdiscard ? bs->max_pdiscard : bytes;
    for (uint64_t o = offset, left = bytes; left && ret >= 0;) {
        uint64_t n = MIN(left, max);
        ret = bs->drv->discard(bs, o, n);
        if (ret == -ENOTSUP) {
            ret = 0; /* a discard is only advice */
        }
        o += n;
        left -= n;
    }
    bs->write_gen++;
    if (bs->dirty_bitmaps) {
        bdrv_set_dirty(bs, offset, bytes);
    }
    req_unlock(bs);
    return ret;
}

/*
 * As QEMU's bdrv_co_flush: a protocol node that was not written since its last flush is not
 * flushed again (its children are); a format node's driver writes back its caches anyway.
 */
int bdrv_flush(BlockDriverState *bs)
{
    int ret = 0;
    if (!bs->drv->flush || bs->read_only) {
        return 0;
    }
    req_lock(bs);
    uint64_t gen = __atomic_load_n(&bs->write_gen, __ATOMIC_RELAXED);
    bdrv_debug_event(bs->file, BLKDBG_FLUSH_TO_OS);
    if (bs->flushed_gen != gen) {
        bdrv_debug_event(bs->file, BLKDBG_FLUSH_TO_DISK);
    }
    if (!bs->drv->is_protocol || bs->flushed_gen != gen) {
        ret = bs->drv->flush(bs);
    } else if (bs->file) {
        ret = bdrv_flush(bs->file);
    }
    if (ret == 0) {
        bs->flushed_gen = gen;
    }
    req_unlock(bs);
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
    req_lock(bs);
    int ret = bs->drv->truncate(bs, size, exact, prealloc, errp);
    bs->write_gen++;
    if (ret >= 0 && bs->dirty_bitmaps) {
        int64_t len = bdrv_getlength(bs);
        bdrv_dirty_bitmap_truncate(bs, len < 0 ? size : (uint64_t)len);
    }
    req_unlock(bs);
    return ret;
}

int bdrv_save_vmstate(BlockDriverState *bs, uint64_t pos, uint64_t bytes, const void *buf)
{
    while (bs && !bs->drv->save_vmstate) {
        bs = bs->file;
    }
    if (!bs) {
        return -ENOTSUP;
    }
    if (bs->read_only) {
        return -EACCES;
    }
    req_lock(bs);
    int ret = bs->drv->save_vmstate(bs, pos, bytes, buf);
    req_unlock(bs);
    return ret;
}

int bdrv_load_vmstate(BlockDriverState *bs, uint64_t pos, uint64_t bytes, void *buf)
{
    while (bs && !bs->drv->load_vmstate) {
        bs = bs->file;
    }
    if (!bs) {
        return -ENOTSUP;
    }
    req_lock(bs);
    int ret = bs->drv->load_vmstate(bs, pos, bytes, buf);
    req_unlock(bs);
    return ret;
}

/* ---- blkdebug hooks ---- */

void bdrv_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    if (bs && bs->drv && bs->drv->debug_event) {
        bs->drv->debug_event(bs, event);
    }
}

static BlockDriverState *debug_node(BlockDriverState *bs)
{
    while (bs && bs->drv && !bs->drv->debug_breakpoint) {
        bs = bs->file;
    }
    return bs && bs->drv ? bs : NULL;
}

int bdrv_debug_breakpoint(BlockDriverState *bs, const char *event, const char *tag)
{
    bs = debug_node(bs);
    return bs ? bs->drv->debug_breakpoint(bs, event, tag) : -ENOTSUP;
}

int bdrv_debug_remove_breakpoint(BlockDriverState *bs, const char *tag)
{
    bs = debug_node(bs);
    return bs ? bs->drv->debug_remove_breakpoint(bs, tag) : -ENOTSUP;
}

int bdrv_debug_resume(BlockDriverState *bs, const char *tag)
{
    bs = debug_node(bs);
    return bs ? bs->drv->debug_resume(bs, tag) : -ENOTSUP;
}

bool bdrv_debug_is_suspended(BlockDriverState *bs, const char *tag)
{
    bs = debug_node(bs);
    return bs && bs->drv->debug_is_suspended(bs, tag);
}

static int block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                        uint64_t *map, BlockDriverState **file, bool want_zero);

/* A format node's read of what its backing file holds (zeros past its end, or without one). */
int bdrv_read_backing(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf)
{
    if (!bs->backing) {
        memset(buf, 0, bytes);
        return 0;
    }
    BLKDBG_EVENT(bs->file, BLKDBG_READ_BACKING_AIO);
    int64_t blen = bdrv_getlength(bs->backing);
    if (blen < 0) {
        return (int)blen;
    }
    uint64_t n = 0;
    if (offset < (uint64_t)blen) {
        n = MIN(bytes, (uint64_t)blen - offset);
        int ret = bdrv_pread(bs->backing, offset, n, buf);
        if (ret < 0) {
            return ret;
        }
    }
    memset(buf + n, 0, bytes - n);
    return 0;
}

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
    req_lock(bs);
    int ret = bs->drv->block_status(bs, offset, bytes, pnum, &m, &f);
    req_unlock(bs);
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
