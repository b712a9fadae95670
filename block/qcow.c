/*
 * Format driver "qcow": QEMU's first image format (version 1), read, write, create and
 * compressed clusters, as QEMU 7.2's qemu-img handles it (mostly to convert old images).
 *
 * Layout (big-endian): a 48-byte header (magic "QFI\xfb", version 1, backing file offset and
 * length, mtime, size, cluster_bits, l2_bits, crypt_method, L1 offset), the backing file name,
 * the L1 table (one 64-bit L2 table offset per 2^(cluster_bits + l2_bits) bytes of disk), L2
 * tables (2^l2_bits 64-bit cluster offsets) and clusters, all appended at the end of the file
 * rounded up to a cluster. An L2 entry with bit 63 set is a deflate-compressed cluster: its
 * compressed length sits in the bits above the offset. Images with a backing file use 512-byte
 * clusters and 4096-entry L2 tables, others 4 KiB clusters and 512-entry tables, as QEMU makes
 * them. AES-encrypted images are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <zlib.h>
#include "vireo/block.h"
#include "vireo/bytes.h"

#define QCOW_MAGIC            0x514649fbu
#define QCOW_HEADER_SIZE      48u
#define QCOW_OFLAG_COMPRESSED (1ULL << 63)

typedef struct BDRVQcowState {
    int cluster_bits, l2_bits;
    uint32_t cluster_size, l2_size;
    uint64_t l1_size, l1_table_offset;
    uint64_t *l1;
    uint64_t size;
    uint8_t *cluster; /* a decompressed cluster (cluster_cache_offset says which) */
    uint64_t cluster_cache_offset;
} BDRVQcowState;

static int qcow_probe(const uint8_t *buf, size_t len)
{
    return len >= 8 && be32_get(buf) == QCOW_MAGIC && be32_get(buf + 4) == 1 ? 100 : 0;
}

static int qcow_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    (void)opts;
    (void)flags;
    BDRVQcowState *s = g_new0(BDRVQcowState, 1);
    bs->opaque = s;
    s->cluster_cache_offset = UINT64_MAX;
    uint8_t h[QCOW_HEADER_SIZE];
    int ret = bdrv_pread(bs->file, 0, sizeof(h), h);
    if (ret < 0) {
        block_error_errno(errp, ret, "Could not read header");
        return ret;
    }
    if (be32_get(h) != QCOW_MAGIC) {
        block_error(errp, "Image not in qcow format");
        return -EINVAL;
    }
    uint32_t version = be32_get(h + 4);
    if (version != 1) {
        block_error(errp, "qcow (v%" PRIu32 ") does not support qcow version %" PRIu32 "%s", 1u,
                    version,
                    version == 2 || version == 3 ? "\nTry the 'qcow2' driver instead." : "");
        return -ENOTSUP;
    }
    uint64_t backing_off = be64_get(h + 8);
    uint32_t backing_len = be32_get(h + 16);
    s->size = be64_get(h + 24);
    s->cluster_bits = h[32];
    s->l2_bits = h[33];
    uint32_t crypt = be32_get(h + 36);
    s->l1_table_offset = be64_get(h + 40);
    if (s->size <= 1) {
        block_error(errp, "Image size is too small (must be at least 2 bytes)");
        return -EINVAL;
    }
    if (s->cluster_bits < 9 || s->cluster_bits > 16) {
        block_error(errp, "Cluster size must be between 512 and 64k");
        return -EINVAL;
    }
    if (s->l2_bits < 9 - 3 || s->l2_bits > 16 - 3) {
        block_error(errp, "L2 table size must be between 512 and 64k");
        return -EINVAL;
    }
    if (crypt > 1) {
        block_error(errp, "invalid encryption method in qcow header");
        return -EINVAL;
    }
    if (crypt) {
        block_error(errp, "AES-encrypted qcow images are not supported");
        return -ENOTSUP;
    }
    s->cluster_size = 1u << s->cluster_bits;
    s->l2_size = 1u << s->l2_bits;
    int shift = s->cluster_bits + s->l2_bits;
    if (s->size > UINT64_MAX - ((1ULL << shift) - 1)) {
        block_error(errp, "Image too large");
        return -EINVAL;
    }
    s->l1_size = (s->size + (1ULL << shift) - 1) >> shift;
    if (s->l1_size > INT32_MAX / 8) {
        block_error(errp, "Image too large");
        return -EINVAL;
    }
    int64_t flen = bdrv_getlength(bs->file);
    if (flen < 0 || s->l1_table_offset > (uint64_t)flen ||
        s->l1_size * 8 > (uint64_t)flen - s->l1_table_offset) {
        /* a lying header: no table larger than the file is read */
        block_error(errp, "Could not read L1 table: %s", g_strerror(EIO));
        return -EIO;
    }
    uint8_t *raw = g_malloc(s->l1_size * 8 + 1);
    ret = bdrv_pread(bs->file, s->l1_table_offset, s->l1_size * 8, raw);
    if (ret < 0) {
        g_free(raw);
        block_error_errno(errp, ret, "Could not read L1 table");
        return ret;
    }
    s->l1 = g_new(uint64_t, s->l1_size + 1);
    for (uint64_t i = 0; i < s->l1_size; i++) {
        s->l1[i] = be64_get(raw + i * 8);
    }
    g_free(raw);
    if (backing_off) {
        if (backing_len > 1023) {
            block_error(errp, "Backing file name too long");
            return -EINVAL;
        }
        char name[1024];
        ret = bdrv_pread(bs->file, backing_off, backing_len, name);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not read backing file name");
            return ret;
        }
        g_free(bs->backing_file);
        bs->backing_file = g_strndup(name, backing_len);
    }
    s->cluster = g_malloc(s->cluster_size);
    bs->total_size = (int64_t)s->size;
    bs->request_alignment = 512;
    return 0;
}

static void qcow_close(BlockDriverState *bs)
{
    BDRVQcowState *s = bs->opaque;
    g_free(s->l1);
    g_free(s->cluster);
}

static int64_t qcow_getlength(BlockDriverState *bs)
{
    BDRVQcowState *s = bs->opaque;
    return (int64_t)s->size;
}

/* The L2 entry of the cluster holding `offset` (0: unallocated), and where it is stored. */
static int qcow_l2_entry(BlockDriverState *bs, uint64_t offset, uint64_t *entry, uint64_t *at)
{
    BDRVQcowState *s = bs->opaque;
    uint64_t l1i = offset >> (s->cluster_bits + s->l2_bits);
    *entry = 0;
    *at = 0;
    if (l1i >= s->l1_size || !s->l1[l1i]) {
        return 0;
    }
    uint64_t l2i = (offset >> s->cluster_bits) & (s->l2_size - 1);
    uint8_t e[8];
    *at = s->l1[l1i] + l2i * 8;
    int ret = bdrv_pread(bs->file, *at, 8, e);
    if (ret < 0) {
        return ret;
    }
    *entry = be64_get(e);
    return 0;
}

/* Inflate the compressed cluster of `entry` into s->cluster. */
static int qcow_decompress(BlockDriverState *bs, uint64_t entry)
{
    BDRVQcowState *s = bs->opaque;
    if (s->cluster_cache_offset == entry) {
        return 0;
    }
    int csize_shift = 63 - s->cluster_bits;
    uint64_t csize = (entry >> csize_shift) & (s->cluster_size - 1);
    uint64_t coffset = entry & ((1ULL << csize_shift) - 1);
    uint8_t *in = g_malloc(csize + 1);
    int ret = bdrv_pread(bs->file, coffset, csize, in);
    if (ret >= 0) {
        z_stream zs = {0};
        zs.next_in = in;
        zs.avail_in = (uInt)csize;
        zs.next_out = s->cluster;
        zs.avail_out = s->cluster_size;
        ret = -EIO;
        if (inflateInit2(&zs, -12) == Z_OK) {
            int zr = inflate(&zs, Z_FINISH);
            if ((zr == Z_STREAM_END || zr == Z_BUF_ERROR) && zs.avail_out == 0) {
                ret = 0;
            }
            inflateEnd(&zs);
        }
    }
    g_free(in);
    s->cluster_cache_offset = ret < 0 ? UINT64_MAX : entry;
    return ret;
}

static int qcow_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    BDRVQcowState *s = bs->opaque;
    uint8_t *p = buf;
    while (bytes) {
        uint64_t in = offset & (s->cluster_size - 1), n = MIN(bytes, s->cluster_size - in);
        uint64_t e, at;
        int ret = qcow_l2_entry(bs, offset, &e, &at);
        if (ret < 0) {
            return ret;
        }
        if (!e) {
            ret = bdrv_read_backing(bs, offset, n, p);
        } else if (e & QCOW_OFLAG_COMPRESSED) {
            ret = qcow_decompress(bs, e);
            if (ret >= 0) {
                memcpy(p, s->cluster + in, n);
            }
        } else {
            BLKDBG_EVENT(bs->file, BLKDBG_READ_AIO);
            ret = bdrv_pread(bs->file, e + in, n, p);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    return 0;
}

/* Where a new table or cluster goes: the end of the file, rounded up to a cluster (or a
 * sector for a compressed cluster). */
static int64_t qcow_file_end(BlockDriverState *bs, bool round)
{
    BDRVQcowState *s = bs->opaque;
    int64_t end = bdrv_getlength(bs->file);
    /* QEMU's lengths are whole sectors, so even a compressed cluster starts on one */
    uint64_t align = round ? s->cluster_size : 512;
    if (end >= 0) {
        end = (end + (int64_t)align - 1) & ~(int64_t)(align - 1);
    }
    return end;
}

/*
 * The L2 table of `offset`'s cluster, allocated (and recorded in the L1 table) if missing;
 * returns the file offset of the cluster's L2 entry.
 */
static int64_t qcow_l2_slot(BlockDriverState *bs, uint64_t offset)
{
    BDRVQcowState *s = bs->opaque;
    uint64_t l1i = offset >> (s->cluster_bits + s->l2_bits);
    if (l1i >= s->l1_size) {
        return -EIO;
    }
    if (!s->l1[l1i]) {
        int64_t l2 = qcow_file_end(bs, true);
        if (l2 < 0) {
            return l2;
        }
        uint8_t e[8];
        be64_put(e, (uint64_t)l2);
        BLKDBG_EVENT(bs->file, BLKDBG_L1_UPDATE);
        int ret = bdrv_pwrite(bs->file, s->l1_table_offset + l1i * 8, 8, e, 0);
        if (ret < 0) {
            return ret;
        }
        s->l1[l1i] = (uint64_t)l2;
        uint8_t *zero = g_malloc0((size_t)s->l2_size * 8);
        BLKDBG_EVENT(bs->file, BLKDBG_L2_ALLOC_WRITE);
        ret = bdrv_pwrite(bs->file, (uint64_t)l2, (uint64_t)s->l2_size * 8, zero, 0);
        g_free(zero);
        if (ret < 0) {
            return ret;
        }
    }
    return (int64_t)(s->l1[l1i] + ((offset >> s->cluster_bits) & (s->l2_size - 1)) * 8);
}

static int qcow_set_l2(BlockDriverState *bs, uint64_t at, uint64_t entry, bool compressed)
{
    uint8_t e[8];
    be64_put(e, entry);
    BLKDBG_EVENT(bs->file, compressed ? BLKDBG_L2_UPDATE_COMPRESSED : BLKDBG_L2_UPDATE);
    return bdrv_pwrite(bs->file, at, 8, e, 0);
}

static int qcow_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                       int flags);

static int qcow_pwrite_compressed(BlockDriverState *bs, uint64_t offset, const uint8_t *buf)
{
    BDRVQcowState *s = bs->opaque;
    uint8_t *out = g_malloc(s->cluster_size);
    z_stream zs = {0};
    int ret = -EIO;
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        g_free(out);
        return -EIO;
    }
    zs.next_in = (uint8_t *)buf;
    zs.avail_in = s->cluster_size;
    zs.next_out = out;
    zs.avail_out = s->cluster_size;
    int zr = deflate(&zs, Z_FINISH);
    uint64_t out_len = s->cluster_size - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END || out_len >= s->cluster_size) {
        /* could not compress: an ordinary write, as QEMU */
        g_free(out);
        return qcow_pwrite(bs, offset, s->cluster_size, buf, 0);
    }
    int64_t at = qcow_l2_slot(bs, offset);
    int64_t end = at < 0 ? at : qcow_file_end(bs, false);
    if (end < 0) {
        g_free(out);
        return (int)end;
    }
    uint64_t entry = (uint64_t)end | QCOW_OFLAG_COMPRESSED | out_len << (63 - s->cluster_bits);
    ret = qcow_set_l2(bs, (uint64_t)at, entry, true);
    if (ret >= 0) {
        BLKDBG_EVENT(bs->file, BLKDBG_WRITE_COMPRESSED);
        ret = bdrv_pwrite(bs->file, (uint64_t)end, out_len, out, 0);
    }
    g_free(out);
    return ret < 0 ? ret : 0;
}

static int qcow_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                       int flags)
{
    BDRVQcowState *s = bs->opaque;
    const uint8_t *p = buf;
    if (flags & BDRV_REQ_COMPRESSED) {
        if ((offset | bytes) & (s->cluster_size - 1)) {
            return -EINVAL;
        }
        for (uint64_t o = 0; o < bytes; o += s->cluster_size) {
            int ret = qcow_pwrite_compressed(bs, offset + o, p + o);
            if (ret < 0) {
                return ret;
            }
        }
        return 0;
    }
    while (bytes) {
        uint64_t in = offset & (s->cluster_size - 1), n = MIN(bytes, s->cluster_size - in);
        int64_t at = qcow_l2_slot(bs, offset);
        if (at < 0) {
            return (int)at;
        }
        uint8_t e8[8];
        int ret = bdrv_pread(bs->file, (uint64_t)at, 8, e8);
        if (ret < 0) {
            return ret;
        }
        uint64_t e = be64_get(e8);
        if (!e || (e & QCOW_OFLAG_COMPRESSED)) {
            int64_t c = qcow_file_end(bs, true);
            if (c < 0) {
                return (int)c;
            }
            uint8_t *fill = NULL;
            if ((e & QCOW_OFLAG_COMPRESSED) && n < s->cluster_size) {
                /* a partly overwritten compressed cluster: the rest of it is kept */
                ret = qcow_decompress(bs, e);
                if (ret < 0) {
                    return ret;
                }
                fill = g_memdup2(s->cluster, s->cluster_size);
            } else if (!e && n < s->cluster_size && bs->backing) {
                /* (QEMU's qcow has 512-byte clusters with a backing file: never reached by
                 * sector-aligned requests; kept correct anyway) */
                fill = g_malloc(s->cluster_size);
                ret = bdrv_read_backing(bs, offset - in, s->cluster_size, fill);
                if (ret < 0) {
                    g_free(fill);
                    return ret;
                }
            }
            if (fill) {
                ret = bdrv_pwrite(bs->file, (uint64_t)c, s->cluster_size, fill, 0);
                g_free(fill);
            } else {
                ret = bdrv_truncate(bs->file, (uint64_t)c + s->cluster_size, false,
                                    PREALLOC_MODE_OFF, NULL);
            }
            if (ret < 0) {
                return ret;
            }
            s->cluster_cache_offset = UINT64_MAX;
            BLKDBG_EVENT(bs->file, BLKDBG_CLUSTER_ALLOC);
            ret = qcow_set_l2(bs, (uint64_t)at, (uint64_t)c, false);
            if (ret < 0) {
                return ret;
            }
            e = (uint64_t)c;
        }
        BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
        ret = bdrv_pwrite(bs->file, e + in, n, p, flags & BDRV_REQ_FUA);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    return 0;
}

static int qcow_flush(BlockDriverState *bs)
{
    return bdrv_flush(bs->file);
}

static int qcow_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                             uint64_t *map, BlockDriverState **file)
{
    BDRVQcowState *s = bs->opaque;
    uint64_t n = MIN(bytes, s->cluster_size - (offset & (s->cluster_size - 1)));
    uint64_t e, at;
    int ret = qcow_l2_entry(bs, offset, &e, &at);
    if (ret < 0) {
        return ret;
    }
    /* runs of clusters alike (unallocated, or contiguous in the file) */
    while (n < bytes) {
        uint64_t e2, at2, m = MIN(bytes - n, s->cluster_size);
        ret = qcow_l2_entry(bs, offset + n, &e2, &at2);
        if (ret < 0) {
            return ret;
        }
        if ((!e) != (!e2) || (e & QCOW_OFLAG_COMPRESSED) || (e2 & QCOW_OFLAG_COMPRESSED) ||
            (e && e2 != e + ((offset + n) & ~(uint64_t)(s->cluster_size - 1)) -
                            (offset & ~(uint64_t)(s->cluster_size - 1)))) {
            break;
        }
        n += m;
    }
    *pnum = n;
    if (!e) {
        return 0;
    }
    if (e & QCOW_OFLAG_COMPRESSED) {
        return BDRV_BLOCK_DATA | BDRV_BLOCK_COMPRESSED;
    }
    *map = e + (offset & (s->cluster_size - 1));
    *file = bs->file;
    return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
}

static int qcow_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVQcowState *s = bs->opaque;
    bdi->cluster_size = (int)s->cluster_size;
    return 0;
}

static int qcow_make_empty(BlockDriverState *bs)
{
    BDRVQcowState *s = bs->opaque;
    uint8_t *zero = g_malloc0(s->l1_size * 8 + 1);
    int ret = bdrv_pwrite(bs->file, s->l1_table_offset, s->l1_size * 8, zero, 0);
    g_free(zero);
    if (ret < 0) {
        return ret;
    }
    memset(s->l1, 0, s->l1_size * 8);
    uint64_t end = s->l1_table_offset + s->l1_size * 8;
    return bdrv_truncate(bs->file, end, false, PREALLOC_MODE_OFF, NULL);
}

static int qcow_create(const char *filename, QOpts *opts, char **errp)
{
    uint64_t size = 0;
    char *err = NULL;
    if (!qopts_get_size(opts, "size", 0, &size, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    const char *backing = qopts_get(opts, "backing_file");
    const char *backing_fmt = qopts_get(opts, "backing_fmt");
    if (backing_fmt && !backing) {
        block_error(errp, "Backing format cannot be used without backing file");
        return -EINVAL;
    }
    size = (size + 511) & ~511ULL;
    int fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        block_error(errp, "Could not create '%s': %s", filename, g_strerror(e));
        return -e;
    }
    bool enc = false;
    if (!qopts_get_bool(opts, "encryption", false, &enc, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        close(fd);
        return -EINVAL;
    }
    if (enc || qopts_get(opts, "encrypt.format")) {
        if (!qopts_get(opts, "encrypt.key-secret")) {
            block_error(errp, "Parameter 'encrypt.key-secret' is required for cipher");
            close(fd);
            return -EINVAL;
        }
        close(fd);
        block_error(errp, "AES-encrypted qcow images are not supported");
        return -ENOTSUP;
    }
    size_t blen = backing && *backing ? strlen(backing) : 0;
    if (blen > 1023) {
        close(fd);
        block_error(errp, "Backing file name too long");
        return -EINVAL;
    }
    int cluster_bits = blen ? 9 : 12, l2_bits = blen ? 12 : 9;
    uint64_t header_size = QCOW_HEADER_SIZE + blen;
    uint64_t l1_offset = (header_size + 7) & ~7ULL;
    int shift = cluster_bits + l2_bits;
    uint64_t l1_size = (size + (1ULL << shift) - 1) >> shift;
    uint64_t l1_bytes = (l1_size * 8 + 511) & ~511ULL;
    uint8_t *buf = g_malloc0(l1_offset + l1_bytes);
    be32_put(buf, QCOW_MAGIC);
    be32_put(buf + 4, 1);
    if (blen) {
        be64_put(buf + 8, QCOW_HEADER_SIZE);
        be32_put(buf + 16, (uint32_t)blen);
        memcpy(buf + QCOW_HEADER_SIZE, backing, blen);
    }
    be64_put(buf + 24, size);
    buf[32] = (uint8_t)cluster_bits;
    buf[33] = (uint8_t)l2_bits;
    be64_put(buf + 40, l1_offset);
    int ret = 0;
    ssize_t len = (ssize_t)(l1_offset + l1_bytes);
    if (pwrite(fd, buf, (size_t)len, 0) != len) {
        ret = -EIO;
        block_error(errp, "Could not write qcow header");
    }
    g_free(buf);
    close(fd);
    return ret;
}

static const BlockCreateOpt qcow_create_opts[] = {
    {"size", NULL, "size", "Virtual disk size"},
    {"backing_file", NULL, "string", "File name of a base image"},
    {"backing_fmt", NULL, "string", "Format of the backing image"},
    {"encryption", NULL, "bool",
     "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)"},
    {"encrypt.format", NULL, "string", "Encrypt the image, format choices: 'aes'"},
    {"encrypt.key-secret", NULL, "string", "ID of the secret that provides the AES encryption key"},
    {"preallocation", NULL, "string", "Preallocation mode (allowed values: off, falloc, full)"},
    {NULL, NULL, NULL, NULL},
};

const BlockDriver bdrv_qcow = {
    .format_name = "qcow",
    .supports_backing = true,
    .probe = qcow_probe,
    .open = qcow_open,
    .close = qcow_close,
    .pread = qcow_pread,
    .pwrite = qcow_pwrite,
    .flush = qcow_flush,
    .block_status = qcow_block_status,
    .getlength = qcow_getlength,
    .get_info = qcow_get_info,
    .make_empty = qcow_make_empty,
    .create = qcow_create,
    .create_opts = qcow_create_opts,
    .lock_requests = true,
};
