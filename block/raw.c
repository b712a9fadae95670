/*
 * Format driver "raw": the guest sees the protocol node's bytes unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"

typedef struct BDRVRawState {
    uint64_t offset; /* where the guest's byte 0 sits in the file */
    uint64_t size;
    bool has_size; /* size given: fixed, not following the file */
} BDRVRawState;

static int raw_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    BDRVRawState *s = g_new0(BDRVRawState, 1);
    bs->opaque = s;
    char *err = NULL;
    if (!qopts_get_size(opts, "offset", 0, &s->offset, &err) ||
        !qopts_get_size(opts, "size", 0, &s->size, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    s->has_size = qopts_has(opts, "size");
    int64_t flen = bdrv_getlength(bs->file);
    if (flen < 0) {
        block_error_errno(errp, (int)flen, "Could not get image size");
        return (int)flen;
    }
    if (s->has_size && (s->size & 511)) {
        block_error(errp, "Specified size is not multiple of 512");
        return -EINVAL;
    }
    if (s->offset > (uint64_t)flen || (s->has_size && s->size > (uint64_t)flen - s->offset)) {
        block_error(errp,
                    "The sum of offset (%" PRIu64 ") and size (%" PRIu64 ") has to be smaller "
                    "or equal to the  actual size of the containing file (%" PRId64 ")",
                    s->offset, s->size, flen);
        return -EINVAL;
    }
    if (bs->probed && (flags & BDRV_O_RDWR)) {
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                "         Automatically detecting the format is dangerous for raw images, "
                "write operations on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the restrictions.\n",
                bs->file->filename);
    }
    return 0;
}

/* Requests beyond a fixed size fail; the window is moved by the offset. */
static int raw_adjust(BlockDriverState *bs, uint64_t *offset, uint64_t bytes)
{
    BDRVRawState *s = bs->opaque;
    if (s->has_size && (*offset > s->size || bytes > s->size - *offset)) {
        return -EINVAL;
    }
    *offset += s->offset;
    return 0;
}

static int raw_probe(const uint8_t *buf, size_t len)
{
    return 1; /* the fallback */
}

static int raw_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    int ret = raw_adjust(bs, &offset, bytes);
    if (ret < 0) {
        return ret;
    }
    BLKDBG_EVENT(bs->file, BLKDBG_READ_AIO);
    return bdrv_pread(bs->file, offset, bytes, buf);
}

static int raw_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                      int flags)
{
    if (flags & BDRV_REQ_COMPRESSED) {
        return -ENOTSUP;
    }
    if (bs->probed && offset < 512) {
        /* like QEMU: a guessed raw image must not turn into something else */
        uint8_t head[512];
        int ret = bdrv_pread(bs->file, 0, sizeof(head), head);
        if (ret < 0) {
            return ret;
        }
        memcpy(head + offset, buf, MIN(bytes, 512 - offset));
        if (bdrv_probe_buf(head, sizeof(head)) != &bdrv_raw) {
            return -EPERM;
        }
    }
    int ret = raw_adjust(bs, &offset, bytes);
    if (ret < 0) {
        return ret;
    }
    BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
    return bdrv_pwrite(bs->file, offset, bytes, buf, flags);
}

static int raw_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    int ret = raw_adjust(bs, &offset, bytes);
    return ret < 0 ? ret : bdrv_pwrite_zeroes(bs->file, offset, bytes, flags);
}

static int raw_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    int ret = raw_adjust(bs, &offset, bytes);
    return ret < 0 ? ret : bdrv_discard(bs->file, offset, bytes);
}

static int raw_flush(BlockDriverState *bs)
{
    return bdrv_flush(bs->file);
}

static int raw_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                            uint64_t *map, BlockDriverState **file)
{
    BDRVRawState *s = bs->opaque;
    int ret = bdrv_block_status(bs->file, offset + s->offset, bytes, pnum, map, file);
    if (ret < 0) {
        return ret;
    }
    if (ret & BDRV_BLOCK_EOF) {
        /* past the file's end inside a fixed-size window: reads as zero */
        *pnum = bytes;
        ret = BDRV_BLOCK_ZERO;
    }
    return (ret & ~(BDRV_BLOCK_ALLOCATED | BDRV_BLOCK_EOF)) | BDRV_BLOCK_OFFSET_VALID;
}

static int64_t raw_getlength(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    if (s->has_size) {
        return (int64_t)s->size;
    }
    int64_t len = bdrv_getlength(bs->file);
    if (len < 0) {
        return len;
    }
    return len < (int64_t)s->offset ? 0 : len - (int64_t)s->offset;
}

static int raw_truncate(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                        char **errp)
{
    BDRVRawState *s = bs->opaque;
    if (s->has_size) {
        block_error(errp, "Cannot resize fixed-size raw disks");
        return -ENOTSUP;
    }
    if (prealloc == PREALLOC_MODE_METADATA) {
        block_error(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    return bs->file->drv->truncate(bs->file, size + s->offset, exact, prealloc, errp);
}

static int raw_create(const char *filename, QOpts *opts, char **errp)
{
    uint64_t size = 0;
    char *err = NULL;
    if (!qopts_get_size(opts, "size", 0, &size, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    size = (size + 511) & ~(uint64_t)511;
    const char *pa = qopts_get(opts, "preallocation");
    int prealloc = pa ? prealloc_mode_parse(pa) : PREALLOC_MODE_OFF;
    if (prealloc < 0 || prealloc == PREALLOC_MODE_METADATA) {
        block_error(errp, "Unsupported preallocation mode: %s", pa);
        return -EINVAL;
    }
    int fd = open(filename, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        block_error(errp, "Could not create '%s': %s", filename, g_strerror(e));
        return -e;
    }
    int ret = 0;
    if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0) {
        ret = -errno;
        block_error_errno(errp, ret, "Could not resize file");
    } else if (prealloc == PREALLOC_MODE_FALLOC && size) {
        int r = posix_fallocate(fd, 0, (off_t)size);
        if (r) {
            ret = -r;
            block_error_errno(errp, r, "Could not preallocate data for the new file");
        }
    } else if (prealloc == PREALLOC_MODE_FULL && size) {
        size_t chunk = 1 << 20;
        char *zero = g_malloc0(chunk);
        for (uint64_t off = 0; off < size && !ret;) {
            size_t n = MIN((uint64_t)chunk, size - off);
            if (pwrite(fd, zero, n, (off_t)off) != (ssize_t)n) {
                ret = -EIO;
                block_error(errp, "Could not write zeros for preallocation");
            }
            off += n;
        }
        g_free(zero);
    } else if (size) {
        /* like QEMU, allocate the first block so that alignment probing works */
        char zero[4096] = {0};
        size_t n = MIN(size, sizeof(zero));
        if (pwrite(fd, zero, n, 0) != (ssize_t)n) {
            ret = -EIO;
            block_error(errp, "Could not write to the new file");
        }
    }
    close(fd);
    return ret;
}

static int raw_measure(QOpts *opts, BlockDriverState *in_bs, uint64_t *required, uint64_t *fully,
                       char **errp)
{
    uint64_t size = 0;
    if (in_bs) {
        int64_t len = bdrv_getlength(in_bs);
        if (len < 0) {
            block_error_errno(errp, (int)len, "Unable to get image size");
            return (int)len;
        }
        size = (uint64_t)len;
    } else {
        char *err = NULL;
        if (!qopts_get_size(opts, "size", 0, &size, &err)) {
            block_error(errp, "%s", err);
            g_free(err);
            return -EINVAL;
        }
        size = (size + 511) & ~511ULL;
    }
    *required = *fully = size;
    return 0;
}

static const BlockCreateOpt raw_create_opts[] = {
    {"size", NULL, "size", "Virtual disk size"},
    {"preallocation", NULL, "string", "Preallocation mode (allowed values: off, falloc, full)"},
    {NULL, NULL, NULL, NULL},
};

static bool raw_io_map(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool write,
                       BlockDriverState **file, uint64_t *host)
{
    if (write && bs->probed && offset < 512) {
        return false; /* the probed-format check needs raw_pwrite */
    }
    if (raw_adjust(bs, &offset, bytes) < 0) {
        return false;
    }
    *file = bs->file;
    *host = offset;
    return true;
}

static int raw_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    return bdrv_get_info(bs->file, bdi);
}

static const char *const raw_runtime_opts[] = {"offset", "size", NULL};

const BlockDriver bdrv_raw = {
    .format_name = "raw",
    .runtime_opts = raw_runtime_opts,
    .get_info = raw_get_info,
    .probe = raw_probe,
    .open = raw_open,
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .pwrite_zeroes = raw_pwrite_zeroes,
    .discard = raw_discard,
    .flush = raw_flush,
    .block_status = raw_block_status,
    .truncate = raw_truncate,
    .getlength = raw_getlength,
    .create = raw_create,
    .create_opts = raw_create_opts,
    .measure = raw_measure,
    .io_map = raw_io_map,
};
