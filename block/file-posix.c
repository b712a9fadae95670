/*
 * Protocol driver "file": a host file or block device. Reads past the end of the file return
 * zeros (as QEMU's file driver does). With BDRV_O_NOCACHE the file is opened O_DIRECT and
 * unaligned requests go through an aligned bounce buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <libaio.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/coroutine.h"
#include "vireo/qjson.h"

#define DIRECT_ALIGN 4096

/* QEMU's lock bytes: 100 + n while holding permission bit n, 200 + n while not sharing it */
#define LOCK_PERM_BASE   100
#define LOCK_SHARED_BASE 200

typedef struct BDRVFileState {
    int fd;
    bool use_lock;            /* locking=auto/on: OFD locks on the permission bytes */
    uint64_t locked_perm;     /* bytes 100 + n held */
    uint64_t locked_unshared; /* bytes 200 + n held */
    uint64_t discard_nb_ok, discard_nb_failed, discard_bytes_ok;
    bool direct;
    bool native_aio;  /* aio=native: requests go through Linux AIO (libaio) */
    io_context_t ctx; /* requests waited for one by one (in flight together: block-backend.c) */
} BDRVFileState;

static int file_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    BDRVFileState *s = g_new0(BDRVFileState, 1);
    bs->opaque = s;
    s->fd = -1;
    const char *aio = opts ? qopts_get(opts, "aio") : NULL;
    if (aio) {
        if (!strcmp(aio, "native")) {
            flags |= BDRV_O_NATIVE_AIO;
        } else if (!strcmp(aio, "threads") || !strcmp(aio, "io_uring")) {
            flags &= ~BDRV_O_NATIVE_AIO;
        } else {
            block_error(errp, "invalid parameter value: %s", aio);
            return -EINVAL;
        }
        bs->open_flags = flags;
    }
    const char *locking = opts ? qopts_get(opts, "locking") : NULL;
    if (!locking || !strcmp(locking, "auto") || !strcmp(locking, "on")) {
        s->use_lock = true;
    } else if (!strcmp(locking, "off")) {
        s->use_lock = false;
    } else {
        block_error(errp, "Parameter 'locking' does not accept value '%s'", locking);
        return -EINVAL;
    }
    int oflags = O_CLOEXEC | ((flags & BDRV_O_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & BDRV_O_NOCACHE) {
        oflags |= O_DIRECT;
        s->direct = true;
    }
    if ((flags & BDRV_O_NATIVE_AIO) && !s->direct) {
        block_error(errp, "aio=native was specified, but it requires cache.direct=on, which was "
                          "not specified.");
        s->fd = -1;
        return -EINVAL;
    }
    s->fd = open(bs->filename, oflags);
    if (s->fd < 0 && errno == EINVAL && s->direct) {
        block_error(errp, "Could not open '%s': filesystem does not support O_DIRECT",
                    bs->filename);
        return -EINVAL;
    }
    if (s->fd < 0) {
        int err = errno;
        block_error(errp, "Could not open '%s': %s", bs->filename, g_strerror(err));
        return -err;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        block_error(errp, "'%s' is not a file", bs->filename);
        return -EISDIR;
    }
    if (flags & BDRV_O_NATIVE_AIO) {
        int r = io_setup(128, &s->ctx);
        if (r < 0) {
            block_error(errp, "Unable to use native AIO: failed to create Linux AIO context: %s",
                        g_strerror(-r));
            return r;
        }
        s->native_aio = true;
    }
    return 0;
}

static void file_close(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    if (s->native_aio) {
        io_destroy(s->ctx);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
}

static int64_t file_getlength(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    off_t len = lseek(s->fd, 0, SEEK_END);
    if (len < 0) {
        return -errno;
    }
    return len;
}

static int64_t file_allocated_size(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

static int do_pread(int fd, uint64_t offset, uint64_t bytes, void *buf)
{
    char *p = buf;
    while (bytes) {
        ssize_t n = pread(fd, p, bytes, (off_t)offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            memset(p, 0, bytes); /* past EOF */
            return 0;
        }
        p += n;
        offset += (uint64_t)n;
        bytes -= (uint64_t)n;
    }
    return 0;
}

static int do_pwrite(int fd, uint64_t offset, uint64_t bytes, const void *buf)
{
    const char *p = buf;
    while (bytes) {
        ssize_t n = pwrite(fd, p, bytes, (off_t)offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        offset += (uint64_t)n;
        bytes -= (uint64_t)n;
    }
    return 0;
}

/* One request through Linux AIO, waited for; short transfers continue, EOF reads as zero. */
static int aio_rw(BDRVFileState *s, bool write, uint64_t offset, uint64_t bytes, void *buf)
{
    char *p = buf;
    while (bytes) {
        struct iocb cb, *cbs[1] = {&cb};
        if (write) {
            io_prep_pwrite(&cb, s->fd, p, bytes, (long long)offset);
        } else {
            io_prep_pread(&cb, s->fd, p, bytes, (long long)offset);
        }
        int r = io_submit(s->ctx, 1, cbs);
        if (r == -EINTR || r == -EAGAIN) {
            continue;
        }
        if (r != 1) {
            return r < 0 ? r : -EIO;
        }
        struct io_event ev;
        do {
            r = io_getevents(s->ctx, 1, 1, &ev, NULL);
        } while (r == -EINTR);
        if (r != 1) {
            return r < 0 ? r : -EIO;
        }
        long res = (long)ev.res;
        if (res < 0) {
            return (int)res;
        }
        if (res == 0) {
            if (write) {
                return -EIO;
            }
            memset(p, 0, bytes); /* past EOF */
            return 0;
        }
        p += res;
        offset += (uint64_t)res;
        bytes -= (uint64_t)res;
    }
    return 0;
}

/*
 * The system calls of a request run outside the coroutines' turn (co_blocking_begin), so
 * qemu-io's aio requests are in the kernel together, as in QEMU's thread pool.
 */
static int rd(BDRVFileState *s, uint64_t offset, uint64_t bytes, void *buf)
{
    co_blocking_begin();
    int ret =
        s->native_aio ? aio_rw(s, false, offset, bytes, buf) : do_pread(s->fd, offset, bytes, buf);
    co_blocking_end();
    return ret;
}

static int wr(BDRVFileState *s, uint64_t offset, uint64_t bytes, const void *buf)
{
    co_blocking_begin();
    int ret = s->native_aio ? aio_rw(s, true, offset, bytes, (void *)buf)
                            : do_pwrite(s->fd, offset, bytes, buf);
    co_blocking_end();
    return ret;
}

static bool is_aligned(uint64_t offset, uint64_t bytes, const void *buf)
{
    return !(offset % DIRECT_ALIGN) && !(bytes % DIRECT_ALIGN) && !((uintptr_t)buf % DIRECT_ALIGN);
}

static int file_pread_bounce(BDRVFileState *s, uint64_t offset, uint64_t bytes, void *buf);

static int file_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    BDRVFileState *s = bs->opaque;
    if (!s->direct || is_aligned(offset, bytes, buf)) {
        return rd(s, offset, bytes, buf);
    }
    /* bounce buffers: one at a time, a concurrent write could interleave otherwise */
    co_mutex_lock(&bs->rmw_lock);
    int r = file_pread_bounce(s, offset, bytes, buf);
    co_mutex_unlock(&bs->rmw_lock);
    return r;
}

static int file_pread_bounce(BDRVFileState *s, uint64_t offset, uint64_t bytes, void *buf)
{
    uint64_t start = offset & ~(uint64_t)(DIRECT_ALIGN - 1);
    uint64_t end = (offset + bytes + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1);
    void *b = NULL;
    if (posix_memalign(&b, DIRECT_ALIGN, end - start)) {
        return -ENOMEM;
    }
    int ret = rd(s, start, end - start, b);
    if (ret == 0) {
        memcpy(buf, (char *)b + (offset - start), bytes);
    }
    free(b);
    return ret;
}

static int file_pwrite_bounce(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              const void *buf);

static int file_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                       int flags)
{
    BDRVFileState *s = bs->opaque;
    if (!s->direct || is_aligned(offset, bytes, buf)) {
        return wr(s, offset, bytes, buf);
    }
    co_mutex_lock(&bs->rmw_lock);
    int r = file_pwrite_bounce(bs, offset, bytes, buf);
    co_mutex_unlock(&bs->rmw_lock);
    return r;
}

static int file_pwrite_bounce(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              const void *buf)
{
    BDRVFileState *s = bs->opaque;
    uint64_t start = offset & ~(uint64_t)(DIRECT_ALIGN - 1);
    uint64_t end = (offset + bytes + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1);
    int64_t flen = file_getlength(bs);
    void *b = NULL;
    if (posix_memalign(&b, DIRECT_ALIGN, end - start)) {
        return -ENOMEM;
    }
    int ret = rd(s, start, end - start, b);
    if (ret == 0) {
        memcpy((char *)b + (offset - start), buf, bytes);
        ret = wr(s, start, end - start, b);
    }
    free(b);
    /* don't let the alignment padding grow the file */
    if (ret == 0 && flen >= 0 && end > (uint64_t)flen && offset + bytes < end) {
        uint64_t want = MAX((uint64_t)flen, offset + bytes);
        if (ftruncate(s->fd, (off_t)want) < 0) {
            ret = -errno;
        }
    }
    return ret;
}

static int file_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVFileState *s = bs->opaque;
    int64_t len = file_getlength(bs);
    if (len >= 0 && offset >= (uint64_t)len && !(flags & BDRV_REQ_NO_FALLBACK)) {
        /* past EOF: extending the file is enough */
        if (ftruncate(s->fd, (off_t)(offset + bytes)) == 0) {
            return 0;
        }
    }
    if (flags & BDRV_REQ_MAY_UNMAP) {
        if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                      (off_t)bytes) == 0) {
            if (len >= 0 && offset + bytes > (uint64_t)len &&
                ftruncate(s->fd, (off_t)(offset + bytes)) < 0) {
                return -errno;
            }
            return 0;
        }
    }
    if (fallocate(s->fd, FALLOC_FL_ZERO_RANGE, (off_t)offset, (off_t)bytes) == 0) {
        return 0;
    }
    /*
     * No ZERO_RANGE (tmpfs): QEMU's fallback, a hole punched and allocated again, so the range
     * reads as zeros and stays allocated (on tmpfs it then maps as a hole, as QEMU's does)
     */
    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
                  (off_t)bytes) == 0) {
        if (fallocate(s->fd, 0, (off_t)offset, (off_t)bytes) == 0 || errno == EOPNOTSUPP) {
            return 0; /* allocated zeros, or a hole: zeros either way */
        }
        return -errno;
    }
    return -ENOTSUP;
}

static int file_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVFileState *s = bs->opaque;
    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)bytes) <
        0) {
        __atomic_add_fetch(&s->discard_nb_failed, 1, __ATOMIC_RELAXED);
        return 0; /* discard is advisory */
    }
    __atomic_add_fetch(&s->discard_nb_ok, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->discard_bytes_ok, bytes, __ATOMIC_RELAXED);
    return 0;
}

void bdrv_file_discard_stats(BlockDriverState *bs, uint64_t *nb_ok, uint64_t *nb_failed,
                             uint64_t *bytes_ok)
{
    BDRVFileState *s = bs->opaque;
    *nb_ok = __atomic_load_n(&s->discard_nb_ok, __ATOMIC_RELAXED);
    *nb_failed = __atomic_load_n(&s->discard_nb_failed, __ATOMIC_RELAXED);
    *bytes_ok = __atomic_load_n(&s->discard_bytes_ok, __ATOMIC_RELAXED);
}

static int file_flush(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    if (bs->open_flags & BDRV_O_NO_FLUSH) {
        return 0;
    }
    co_blocking_begin();
    int ret = fdatasync(s->fd) < 0 ? -errno : 0;
    co_blocking_end();
    return ret;
}

static int file_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    return 0; /* nothing to tell, but not an error (qemu-io's info prints zeroes) */
}

static int file_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                             uint64_t *map, BlockDriverState **file)
{
    BDRVFileState *s = bs->opaque;
    *map = offset;
    *file = bs;
    off_t data = lseek(s->fd, (off_t)offset, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            *pnum = bytes; /* hole up to EOF */
            return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
        }
        *pnum = bytes;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    if ((uint64_t)data > offset) {
        *pnum = MIN(bytes, (uint64_t)data - offset);
        return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
    }
    off_t hole = lseek(s->fd, (off_t)offset, SEEK_HOLE);
    if (hole < 0 || (uint64_t)hole <= offset) {
        *pnum = bytes;
    } else {
        *pnum = MIN(bytes, (uint64_t)hole - offset);
    }
    return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
}

static int file_truncate(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                         char **errp)
{
    BDRVFileState *s = bs->opaque;
    bs->write_gen++; /* callers may come here directly: the next flush must not be skipped */
    int64_t cur = file_getlength(bs);
    if (cur < 0) {
        block_error_errno(errp, (int)cur, "Could not get file size");
        return (int)cur;
    }
    if (size == (uint64_t)cur) {
        return 0;
    }
    if (prealloc == PREALLOC_MODE_FALLOC && size > (uint64_t)cur) {
        int r = posix_fallocate(s->fd, cur, (off_t)(size - (uint64_t)cur));
        if (r) {
            block_error_errno(errp, r, "Could not preallocate new data");
            return -r;
        }
        return 0;
    }
    if (ftruncate(s->fd, (off_t)size) < 0) {
        int err = errno;
        block_error_errno(errp, err, "Failed to resize the file");
        return -err;
    }
    if (prealloc == PREALLOC_MODE_FULL && size > (uint64_t)cur) {
        uint64_t off = (uint64_t)cur;
        size_t chunk = 1 << 20;
        void *zero = g_malloc0(chunk);
        int ret = 0;
        while (off < size && ret == 0) {
            size_t n = MIN((uint64_t)chunk, size - off);
            ret = do_pwrite(s->fd, off, n, zero);
            off += n;
        }
        g_free(zero);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not write zeros for preallocation");
            return ret;
        }
    }
    return 0;
}

/* ---- permission locks (QEMU's OFD byte locks) ---- */

static int lock_byte(int fd, int byte, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* 0 when no other open file description holds byte; -EAGAIN when one does. */
static int test_byte(int fd, int byte)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        return -errno;
    }
    return fl.l_type == F_UNLCK ? 0 : -EAGAIN;
}

/* Hold exactly the bytes for perm / unshared, releasing what else is held when `release`. */
static int apply_lock_bytes(BDRVFileState *s, uint64_t perm, uint64_t unshared, bool release,
                            char **errp)
{
    for (int i = 0; (1ULL << i) <= BLK_PERM_ALL; i++) {
        uint64_t bit = 1ULL << i;
        for (int k = 0; k < 2; k++) {
            uint64_t want = k ? unshared : perm, *held = k ? &s->locked_unshared : &s->locked_perm;
            int byte = (k ? LOCK_SHARED_BASE : LOCK_PERM_BASE) + i;
            int r = 0;
            if ((want & bit) && !(*held & bit)) {
                r = lock_byte(s->fd, byte, F_RDLCK);
                if (r == 0) {
                    *held |= bit;
                } else if (r == -EAGAIN || r == -EACCES) {
                    block_error(errp, "Failed to lock byte %d", byte);
                } else {
                    block_error_errno(errp, r, "Failed to lock byte %d", byte);
                }
            } else if (release && (*held & bit) && !(want & bit)) {
                r = lock_byte(s->fd, byte, F_UNLCK);
                if (r == 0) {
                    *held &= ~bit;
                } else {
                    block_error_errno(errp, r, "Failed to unlock byte %d", byte);
                }
            }
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

/* Does another process hold what perm needs or keep what unshared excludes? */
static int check_lock_bytes(BDRVFileState *s, uint64_t perm, uint64_t unshared, char **errp)
{
    for (int k = 0; k < 2; k++) {
        for (int i = 0; (1ULL << i) <= BLK_PERM_ALL; i++) {
            uint64_t bit = 1ULL << i;
            if (!((k ? unshared : perm) & bit)) {
                continue;
            }
            int r = test_byte(s->fd, (k ? LOCK_PERM_BASE : LOCK_SHARED_BASE) + i);
            if (r < 0) {
                char *name = bdrv_perm_names(bit);
                const char *fmt =
                    k ? "Failed to get shared \"%s\" lock" : "Failed to get \"%s\" lock";
                if (r == -EAGAIN || r == -EACCES) {
                    block_error(errp, fmt, name);
                } else {
                    char *m = g_strdup_printf(fmt, name);
                    block_error_errno(errp, r, "%s", m);
                    g_free(m);
                }
                g_free(name);
                return r;
            }
        }
    }
    return 0;
}

static int file_set_perm(BlockDriverState *bs, uint64_t perm, uint64_t shared, char **errp)
{
    BDRVFileState *s = bs->opaque;
    uint64_t unshared = ~shared & BLK_PERM_ALL;
    if (!s->use_lock || s->fd < 0 || (perm == s->locked_perm && unshared == s->locked_unshared)) {
        return 0;
    }
    uint64_t old_perm = s->locked_perm, old_unshared = s->locked_unshared;
    char *err = NULL;
    int r = apply_lock_bytes(s, perm | old_perm, unshared | old_unshared, false, &err);
    if (r == 0) {
        r = check_lock_bytes(s, perm, unshared, &err);
    }
    if (r < 0) {
        /* keep what was held before */
        apply_lock_bytes(s, old_perm, old_unshared, true, NULL);
        block_error(errp, "%s\nIs another process using the image [%s]?", err, bs->filename);
        g_free(err);
        return r;
    }
    apply_lock_bytes(s, perm, unshared, true, NULL);
    return 0;
}

static int file_host_fd(BlockDriverState *bs, size_t *align)
{
    BDRVFileState *s = bs->opaque;
    *align = s->direct ? DIRECT_ALIGN : 1;
    return s->fd;
}

static int file_reopen(BlockDriverState *bs, int flags, char **errp)
{
    BDRVFileState *s = bs->opaque;
    bool direct = flags & BDRV_O_NOCACHE;
    if ((flags & BDRV_O_NATIVE_AIO) && !direct) {
        block_error(errp, "aio=native was specified, but it requires cache.direct=on, which was "
                          "not specified.");
        return -EINVAL;
    }
    int oflags = O_CLOEXEC | ((flags & BDRV_O_RDWR) ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0);
    int fd = open(bs->filename, oflags);
    if (fd < 0) {
        int err = errno;
        block_error_errno(errp, err, "Could not reopen file");
        return -err;
    }
    /* the lock bytes belong to the open file description: take them on the new one first */
    int old_fd = s->fd;
    uint64_t perm = s->locked_perm, unshared = s->locked_unshared;
    s->fd = fd;
    s->locked_perm = s->locked_unshared = 0;
    int r = apply_lock_bytes(s, perm, unshared, false, errp);
    if (r < 0) {
        close(fd);
        s->fd = old_fd;
        s->locked_perm = perm;
        s->locked_unshared = unshared;
        return r;
    }
    close(old_fd);
    s->direct = direct;
    return 0;
}

/* "file:NAME" is NAME ("./NAME" when NAME itself looks like it has a protocol prefix) */
static int file_parse_filename(const char *filename, QJ *opts, char **errp)
{
    if (g_str_has_prefix(filename, "file:")) {
        const char *name = filename + 5;
        char *v = bdrv_path_has_protocol(name) ? g_strdup_printf("./%s", name) : g_strdup(name);
        qj_set_str(opts, "filename", v);
        g_free(v);
    }
    return 0;
}

static const char *const file_runtime_opts[] = {
    "filename",   "aio",        "aio-max-batch",         "locking",
    "pr-manager", "drop-cache", "x-check-cache-dropped", NULL,
};

const BlockDriver bdrv_file = {
    .format_name = "file",
    .is_protocol = true,
    .protocol_name = "file",
    .parse_filename = file_parse_filename,
    .needs_filename = true,
    .runtime_opts = file_runtime_opts,
    .reopen = file_reopen,
    .open = file_open,
    .close = file_close,
    .pread = file_pread,
    .pwrite = file_pwrite,
    .pwrite_zeroes = file_pwrite_zeroes,
    .discard = file_discard,
    .flush = file_flush,
    .block_status = file_block_status,
    .get_info = file_get_info,
    .truncate = file_truncate,
    .getlength = file_getlength,
    .allocated_size = file_allocated_size,
    .set_perm = file_set_perm,
    .host_fd = file_host_fd,
};
