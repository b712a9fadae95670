/*
 * Format driver "vpc": Microsoft Virtual PC / Hyper-V VHD images, fixed and dynamic.
 *
 * Layout (big-endian). Every image ends with a 512-byte footer ("conectix", features, version,
 * data offset, timestamp, creator app and OS, original and current size, CHS geometry, disk
 * type, a checksum, a UUID). A fixed image is the raw disk followed by the footer. A dynamic one
 * starts with a copy of the footer, then the 1 KiB dynamic disk header ("cxsparse": where the
 * block allocation table is, its entry count, the block size, 2 MiB when QEMU creates it), the
 * BAT (one 32-bit sector number per block, 0xffffffff unallocated) and the blocks, each a sector
 * bitmap followed by the block's data; the footer follows the last block. A new block goes where
 * the footer was: its bitmap (all ones) is written, then the footer after the block, then the
 * BAT entry, then the data, in QEMU 7.2's order.
 *
 * The disk size is the CHS geometry's, except for images whose creator sizes them by the
 * footer's current_size (Hyper-V "win ", disk2vhd "d2v ", XenServer "tap\0", XenConverter
 * "CTXS", QEMU's force_size "qem2") or whose geometry is the largest one; the runtime option
 * force_size_calc=chs|current_size overrides that, as in QEMU. Creation follows QEMU 7.2 byte
 * for byte but the timestamp, UUID and checksum.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/bytes.h"

#define VHD_SECTOR         512u
#define VHD_FIXED          2u
#define VHD_DYNAMIC        3u
#define VHD_TIMESTAMP_BASE 946684800 /* 2000-01-01 00:00:00 UTC */
#define VHD_CHS_MAX_C      65535u
#define VHD_CHS_MAX_H      16u
#define VHD_CHS_MAX_S      255u
#define VHD_MAX_GEOMETRY   ((int64_t)VHD_CHS_MAX_C * VHD_CHS_MAX_H * VHD_CHS_MAX_S)
#define VHD_MAX_SIZE       (2040ULL << 30)
#define VHD_MAX_SECTORS    (VHD_MAX_SIZE / VHD_SECTOR)
#define VHD_UNALLOCATED    0xffffffffu
#define VHD_BLOCK_SIZE     0x200000u /* of the images QEMU creates */

/* footer fields */
enum {
    F_FEATURES = 8,
    F_VERSION = 12,
    F_DATA_OFFSET = 16,
    F_TIMESTAMP = 24,
    F_CREATOR_APP = 28,
    F_MAJOR = 32,
    F_MINOR = 34,
    F_CREATOR_OS = 36,
    F_ORIG_SIZE = 40,
    F_CURRENT_SIZE = 48,
    F_CYLS = 56,
    F_HEADS = 58,
    F_SECS = 59,
    F_TYPE = 60,
    F_CHECKSUM = 64,
    F_UUID = 68,
};
/* dynamic disk header fields */
enum {
    D_DATA_OFFSET = 8,
    D_TABLE_OFFSET = 16,
    D_VERSION = 24,
    D_MAX_TABLE_ENTRIES = 28,
    D_BLOCK_SIZE = 32,
    D_CHECKSUM = 36,
};

typedef struct BDRVVPCState {
    uint8_t footer[VHD_SECTOR];
    bool fixed;
    uint64_t total_size;
    uint32_t *bat;
    uint32_t max_table_entries;
    uint64_t bat_offset;
    uint64_t free_data_block_offset;
    uint64_t last_bitmap_offset; /* the bitmap last set to all ones by a write, or ~0 */
    uint32_t block_size, bitmap_size;
} BDRVVPCState;

/* one's complement of the byte sum, the checksum field counting as zero */
static uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t field)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += i >= field && i < field + 4 ? 0 : buf[i];
    }
    return ~sum;
}

static int vpc_probe(const uint8_t *buf, size_t len)
{
    return len >= 8 && !memcmp(buf, "conectix", 8) ? 100 : 0;
}

static int vpc_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    (void)flags;
    BDRVVPCState *s = g_new0(BDRVVPCState, 1);
    bs->opaque = s;
    s->last_bitmap_offset = UINT64_MAX;
    const char *calc = qopts_get(opts, "force_size_calc");
    bool force_chs = false, force_sz = false;
    if (calc && !strcmp(calc, "current_size")) {
        force_sz = true;
    } else if (calc && !strcmp(calc, "chs")) {
        force_chs = true;
    } else if (calc) {
        block_error(errp, "Invalid size calculation mode: '%s'", calc);
        return -EINVAL;
    }
    uint8_t *f = s->footer;
    if (bdrv_pread(bs->file, 0, VHD_SECTOR, f) < 0) {
        block_error(errp, "Unable to read VHD header");
        return -EIO;
    }
    int64_t flen = bdrv_getlength(bs->file);
    if (memcmp(f, "conectix", 8)) {
        if (flen < 0) {
            block_error(errp, "Invalid file size");
            return (int)flen;
        }
        if (flen < VHD_SECTOR) {
            block_error(errp, "File too small for a VHD header");
            return -EINVAL;
        }
        /* a fixed image has its footer only at the end */
        int ret = bdrv_pread(bs->file, (uint64_t)flen - VHD_SECTOR, VHD_SECTOR, f);
        if (ret < 0) {
            block_error_errno(errp, ret, "Could not read image footer");
            return ret;
        }
        if (memcmp(f, "conectix", 8) || be32_get(f + F_TYPE) != VHD_FIXED) {
            block_error(errp, "invalid VPC image");
            return -EINVAL;
        }
        s->fixed = true;
    }
    if (vhd_checksum(f, VHD_SECTOR, F_CHECKSUM) != be32_get(f + F_CHECKSUM)) {
        block_error(errp, "Incorrect header checksum");
        return -EINVAL;
    }
    int64_t sectors = (int64_t)((f[F_CYLS] << 8) | f[F_CYLS + 1]) * f[F_HEADS] * f[F_SECS];
    const uint8_t *app = f + F_CREATOR_APP;
    bool use_chs = (memcmp(app, "win ", 4) && memcmp(app, "qem2", 4) && memcmp(app, "d2v ", 4) &&
                    memcmp(app, "CTXS", 4) && memcmp(app, "tap", 4)) ||
                   force_chs;
    if (!use_chs || sectors == VHD_MAX_GEOMETRY || force_sz) {
        sectors = (int64_t)(be64_get(f + F_CURRENT_SIZE) / VHD_SECTOR);
    }
    if ((uint64_t)sectors > VHD_MAX_SECTORS) {
        block_error(errp, "%s", g_strerror(EFBIG));
        return -EFBIG;
    }
    s->total_size = (uint64_t)sectors * VHD_SECTOR;
    bs->total_size = (int64_t)s->total_size;
    bs->request_alignment = VHD_SECTOR;
    if (s->fixed) {
        return 0;
    }

    uint8_t d[1024];
    if (bdrv_pread(bs->file, be64_get(f + F_DATA_OFFSET), sizeof(d), d) < 0) {
        block_error(errp, "Error reading dynamic VHD header");
        return -EIO;
    }
    if (memcmp(d, "cxsparse", 8)) {
        block_error(errp, "Invalid header magic");
        return -EINVAL;
    }
    s->block_size = be32_get(d + D_BLOCK_SIZE);
    if (s->block_size < VHD_SECTOR || (s->block_size & (s->block_size - 1))) {
        block_error(errp, "Invalid block size %" PRIu32, s->block_size);
        return -EINVAL;
    }
    s->bitmap_size = ((s->block_size / (8 * VHD_SECTOR)) + 511) & ~511u;
    s->max_table_entries = be32_get(d + D_MAX_TABLE_ENTRIES);
    if (s->total_size / s->block_size > 0xffffffffULL) {
        block_error(errp, "Too many blocks");
        return -EINVAL;
    }
    if ((uint64_t)s->max_table_entries * s->block_size < s->total_size) {
        block_error(errp, "Page table too small");
        return -EINVAL;
    }
    if (s->max_table_entries > INT_MAX / 4) {
        block_error(errp, "Max Table Entries too large (%" PRId32 ")",
                    (int32_t)s->max_table_entries);
        return -EINVAL;
    }
    s->bat_offset = be64_get(d + D_TABLE_OFFSET);
    uint64_t bat_bytes = (uint64_t)s->max_table_entries * 4;
    s->free_data_block_offset = (s->bat_offset + bat_bytes + 511) & ~511ULL;
    if (flen < 0 || s->bat_offset > (uint64_t)flen || bat_bytes > (uint64_t)flen - s->bat_offset) {
        /* a table past the end of the file (QEMU reads zeros there, and then finds the same) */
        block_error(errp, "block-vpc: free_data_block_offset points after the end of file. The "
                          "image has been truncated.");
        return -EINVAL;
    }
    uint8_t *raw = g_try_malloc(bat_bytes ? bat_bytes : 1);
    if (!raw) {
        block_error(errp, "Unable to allocate memory for page table");
        return -ENOMEM;
    }
    if (bat_bytes && bdrv_pread(bs->file, s->bat_offset, bat_bytes, raw) < 0) {
        g_free(raw);
        block_error(errp, "Error reading pagetable");
        return -EIO;
    }
    s->bat = g_new(uint32_t, s->max_table_entries ? s->max_table_entries : 1);
    for (uint32_t i = 0; i < s->max_table_entries; i++) {
        s->bat[i] = be32_get(raw + (size_t)i * 4);
        if (s->bat[i] != VHD_UNALLOCATED) {
            uint64_t next = (uint64_t)s->bat[i] * VHD_SECTOR + s->bitmap_size + s->block_size;
            s->free_data_block_offset = MAX(s->free_data_block_offset, next);
        }
    }
    g_free(raw);
    if (s->free_data_block_offset > (uint64_t)flen) {
        block_error(errp, "block-vpc: free_data_block_offset points after the end of file. The "
                          "image has been truncated.");
        return -EINVAL;
    }
    return 0;
}

static void vpc_close(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;
    g_free(s->bat);
}

static int64_t vpc_getlength(BlockDriverState *bs)
{
    BDRVVPCState *s = bs->opaque;
    return (int64_t)s->total_size;
}

/* The file offset of disk byte `offset` in a dynamic image, or 0 if its block is unallocated. */
static uint64_t vpc_host_offset(BDRVVPCState *s, uint64_t offset)
{
    uint64_t idx = offset / s->block_size;
    if (idx >= s->max_table_entries || s->bat[idx] == VHD_UNALLOCATED) {
        return 0;
    }
    return (uint64_t)s->bat[idx] * VHD_SECTOR + s->bitmap_size + offset % s->block_size;
}

static int vpc_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    BDRVVPCState *s = bs->opaque;
    if (s->fixed) {
        return bdrv_pread(bs->file, offset, bytes, buf);
    }
    uint8_t *p = buf;
    while (bytes) {
        uint64_t n = MIN(bytes, s->block_size - offset % s->block_size);
        uint64_t host = vpc_host_offset(s, offset);
        if (!host) {
            memset(p, 0, n);
        } else {
            BLKDBG_EVENT(bs->file, BLKDBG_READ_AIO);
            int ret = bdrv_pread(bs->file, host, n, p);
            if (ret < 0) {
                return ret;
            }
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    return 0;
}

/* The bitmap of a block about to be written says every sector is in use (QEMU does the same:
 * it keeps no per-sector state and must not leave written sectors marked unused). */
static int vpc_set_bitmap(BlockDriverState *bs, uint64_t bitmap_offset)
{
    BDRVVPCState *s = bs->opaque;
    uint8_t *bitmap = g_malloc(s->bitmap_size);
    memset(bitmap, 0xff, s->bitmap_size);
    int ret = bdrv_pwrite(bs->file, bitmap_offset, s->bitmap_size, bitmap, 0);
    g_free(bitmap);
    return ret;
}

static int vpc_alloc_block(BlockDriverState *bs, uint64_t idx)
{
    BDRVVPCState *s = bs->opaque;
    uint64_t at = s->free_data_block_offset;
    if (at / VHD_SECTOR >= VHD_UNALLOCATED) {
        return -ENOSPC; /* not addressable by a BAT entry */
    }
    BLKDBG_EVENT(bs->file, BLKDBG_CLUSTER_ALLOC);
    int ret = vpc_set_bitmap(bs, at);
    if (ret < 0) {
        return ret;
    }
    uint64_t end = at + s->bitmap_size + s->block_size;
    ret = bdrv_pwrite(bs->file, end, VHD_SECTOR, s->footer, 0);
    if (ret < 0) {
        return ret;
    }
    uint8_t e[4];
    be32_put(e, (uint32_t)(at / VHD_SECTOR));
    ret = bdrv_pwrite(bs->file, s->bat_offset + idx * 4, 4, e, 0);
    if (ret < 0) {
        return ret;
    }
    s->bat[idx] = (uint32_t)(at / VHD_SECTOR);
    s->free_data_block_offset = end;
    return 0;
}

static int vpc_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                      int flags)
{
    BDRVVPCState *s = bs->opaque;
    if (flags & BDRV_REQ_COMPRESSED) {
        return -ENOTSUP;
    }
    if (s->fixed) {
        return bdrv_pwrite(bs->file, offset, bytes, buf, flags & BDRV_REQ_FUA);
    }
    const uint8_t *p = buf;
    while (bytes) {
        uint64_t n = MIN(bytes, s->block_size - offset % s->block_size);
        uint64_t idx = offset / s->block_size;
        int ret = 0;
        if (idx >= s->max_table_entries) {
            return -EIO;
        }
        if (s->bat[idx] == VHD_UNALLOCATED) {
            ret = vpc_alloc_block(bs, idx);
        } else {
            uint64_t bitmap = (uint64_t)s->bat[idx] * VHD_SECTOR;
            if (bitmap != s->last_bitmap_offset) {
                s->last_bitmap_offset = bitmap;
                ret = vpc_set_bitmap(bs, bitmap);
            }
        }
        if (ret < 0) {
            return ret;
        }
        BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
        ret = bdrv_pwrite(bs->file, vpc_host_offset(s, offset), n, p, flags & BDRV_REQ_FUA);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    return 0;
}

static int vpc_flush(BlockDriverState *bs)
{
    return bdrv_flush(bs->file);
}

static int vpc_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                            uint64_t *map, BlockDriverState **file)
{
    BDRVVPCState *s = bs->opaque;
    if (s->fixed) {
        *pnum = bytes;
        *map = offset;
        *file = bs->file;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID | BDRV_BLOCK_RECURSE;
    }
    uint64_t host = vpc_host_offset(s, offset);
    uint64_t n = MIN(bytes, s->block_size - offset % s->block_size);
    if (host) {
        /* one block at most: a bitmap separates blocks in the file */
        *pnum = n;
        *map = host;
        *file = bs->file;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    /* a run of unallocated blocks */
    while (n < bytes && !vpc_host_offset(s, offset + n)) {
        n += MIN(bytes - n, s->block_size);
    }
    *pnum = n;
    return BDRV_BLOCK_ZERO;
}

/* Reads of the fixed disk and of allocated blocks, and writes into blocks whose bitmap this
 * node already set, go straight to the file. */
static bool vpc_io_map(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool write,
                       BlockDriverState **file, uint64_t *host)
{
    BDRVVPCState *s = bs->opaque;
    if (!bytes || offset >= s->total_size || bytes > s->total_size - offset) {
        return false;
    }
    if (s->fixed) {
        *file = bs->file;
        *host = offset;
        return true;
    }
    if (offset % s->block_size + bytes > s->block_size) {
        return false;
    }
    uint64_t h = vpc_host_offset(s, offset);
    if (!h ||
        (write && (uint64_t)s->bat[offset / s->block_size] * VHD_SECTOR != s->last_bitmap_offset)) {
        return false;
    }
    *file = bs->file;
    *host = h;
    return true;
}

static int vpc_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVVPCState *s = bs->opaque;
    if (!s->fixed) {
        bdi->cluster_size = (int)s->block_size;
    }
    return 0;
}

/* The VHD specification's CHS for a sector count (up to 255 sectors per track past 127 GB). */
static void vhd_geometry(int64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs)
{
    uint32_t cth;
    sectors = MIN(sectors, VHD_MAX_GEOMETRY);
    if (sectors >= 65535LL * 16 * 63) {
        *secs = 255;
        *heads = 16;
        cth = (uint32_t)(sectors / *secs);
    } else {
        *secs = 17;
        cth = (uint32_t)(sectors / *secs);
        *heads = (uint8_t)MAX((cth + 1023) / 1024, 4u);
        if (cth >= *heads * 1024u || (cth + 1023) / 1024 > 16) {
            *secs = 31;
            *heads = 16;
            cth = (uint32_t)(sectors / *secs);
        }
        if (cth >= *heads * 1024u) {
            *secs = 63;
            *heads = 16;
            cth = (uint32_t)(sectors / *secs);
        }
    }
    *cyls = (uint16_t)(cth / *heads);
}

static int vpc_create(const char *filename, QOpts *opts, char **errp)
{
    uint64_t size = 0;
    bool force = false;
    char *err = NULL;
    if (!qopts_get_size(opts, "size", 0, &size, &err) ||
        !qopts_get_bool(opts, "force_size", false, &force, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    const char *pa = qopts_get(opts, "preallocation");
    if (pa && prealloc_mode_parse(pa) < 0) {
        block_error(errp, "invalid parameter value: %s", pa);
        return -EINVAL;
    }
    /* QEMU creates the (empty) file first and keeps it when the rest is refused */
    int fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        block_error(errp, "Could not create '%s': %s", filename, g_strerror(e));
        return -e;
    }
    const char *sub = qopts_get(opts, "subformat");
    bool fixed = false;
    if (sub && !strcmp(sub, "fixed")) {
        fixed = true;
    } else if (sub && strcmp(sub, "dynamic")) {
        close(fd);
        block_error(errp, "Parameter 'subformat' does not accept value '%s'", sub);
        return -EINVAL;
    }
    size = (size + VHD_SECTOR - 1) & ~(uint64_t)(VHD_SECTOR - 1);
    if (size > VHD_MAX_SIZE) {
        close(fd);
        block_error(errp, "The image size is too large for file format 'vpc'");
        return -EFBIG;
    }
    /* the geometry: the smallest CHS holding the size (and the size becomes the CHS's), or the
     * largest one when the size is kept as given (force_size) or no CHS holds it */
    uint16_t cyls = VHD_CHS_MAX_C;
    uint8_t heads = VHD_CHS_MAX_H, secs = VHD_CHS_MAX_S;
    if (!force) {
        int64_t want = MIN(VHD_MAX_GEOMETRY, (int64_t)(size / VHD_SECTOR));
        cyls = heads = secs = 0;
        for (int64_t i = 0; want > (int64_t)cyls * heads * secs; i++) {
            vhd_geometry(want + i, &cyls, &heads, &secs);
        }
        if ((int64_t)cyls * heads * secs != VHD_MAX_GEOMETRY) {
            size = (uint64_t)cyls * heads * secs * VHD_SECTOR;
        }
    }
    uint8_t buf[1536] = {0};
    uint8_t *f = buf;
    memcpy(f, "conectix", 8);
    be32_put(f + F_FEATURES, 2);
    be32_put(f + F_VERSION, 0x00010000);
    be64_put(f + F_DATA_OFFSET, fixed ? UINT64_MAX : VHD_SECTOR);
    be32_put(f + F_TIMESTAMP, (uint32_t)(time(NULL) - VHD_TIMESTAMP_BASE));
    memcpy(f + F_CREATOR_APP, force ? "qem2" : "qemu", 4);
    be16_put(f + F_MAJOR, 5);
    be16_put(f + F_MINOR, 3);
    memcpy(f + F_CREATOR_OS, "Wi2k", 4);
    be64_put(f + F_ORIG_SIZE, size);
    be64_put(f + F_CURRENT_SIZE, size);
    be16_put(f + F_CYLS, cyls);
    f[F_HEADS] = heads;
    f[F_SECS] = secs;
    be32_put(f + F_TYPE, fixed ? VHD_FIXED : VHD_DYNAMIC);
    for (int i = 0; i < 16; i++) {
        f[F_UUID + i] = (uint8_t)g_random_int();
    }
    f[F_UUID + 6] = (uint8_t)((f[F_UUID + 6] & 0x0f) | 0x40);
    f[F_UUID + 8] = (uint8_t)((f[F_UUID + 8] & 0x3f) | 0x80);
    be32_put(f + F_CHECKSUM, vhd_checksum(f, VHD_SECTOR, F_CHECKSUM));

    int ret = 0;
    if (fixed) {
        /* as QEMU's file layer, the first block is allocated (alignment probing reads it) */
        uint8_t zero[4096] = {0};
        size_t first = (size_t)MIN(size, sizeof(zero));
        if (ftruncate(fd, (off_t)(size + VHD_SECTOR)) < 0 ||
            (first && pwrite(fd, zero, first, 0) != (ssize_t)first) ||
            pwrite(fd, f, VHD_SECTOR, (off_t)size) != VHD_SECTOR) {
            ret = -errno;
            block_error_errno(errp, ret ? ret : -EIO, "Unable to write VHD header");
        }
    } else {
        uint64_t blocks =
            (size / VHD_SECTOR + VHD_BLOCK_SIZE / VHD_SECTOR - 1) / (VHD_BLOCK_SIZE / VHD_SECTOR);
        uint64_t bat_bytes = (blocks * 4 + 511) & ~511ULL;
        uint8_t *d = buf + VHD_SECTOR;
        memcpy(d, "cxsparse", 8);
        be64_put(d + D_DATA_OFFSET, UINT64_MAX);
        be64_put(d + D_TABLE_OFFSET, 3 * VHD_SECTOR);
        be32_put(d + D_VERSION, 0x00010000);
        be32_put(d + D_MAX_TABLE_ENTRIES, (uint32_t)blocks);
        be32_put(d + D_BLOCK_SIZE, VHD_BLOCK_SIZE);
        be32_put(d + D_CHECKSUM, vhd_checksum(d, 1024, D_CHECKSUM));
        uint8_t *bat = g_malloc(bat_bytes ? bat_bytes : 1);
        memset(bat, 0xff, bat_bytes);
        if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
            (bat_bytes && pwrite(fd, bat, bat_bytes, 3 * VHD_SECTOR) != (ssize_t)bat_bytes) ||
            pwrite(fd, f, VHD_SECTOR, (off_t)(3 * VHD_SECTOR + bat_bytes)) != VHD_SECTOR) {
            ret = -EIO;
            block_error(errp, "Unable to create or write VHD header");
        }
        g_free(bat);
    }
    close(fd);
    return ret;
}

static const BlockCreateOpt vpc_create_opts[] = {
    {"size", NULL, "size", "Virtual disk size"},
    {"subformat", NULL, "string",
     "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} "},
    {"force_size", NULL, "bool",
     "Force disk size calculation to use the actual size specified, rather than using the "
     "nearest CHS-based calculation"},
    {"preallocation", NULL, "string", "Preallocation mode (allowed values: off, falloc, full)"},
    {NULL, NULL, NULL, NULL},
};

static const char *const vpc_runtime_opts[] = {"force_size_calc", NULL};

const BlockDriver bdrv_vpc = {
    .format_name = "vpc",
    .runtime_opts = vpc_runtime_opts,
    .probe = vpc_probe,
    .open = vpc_open,
    .close = vpc_close,
    .pread = vpc_pread,
    .pwrite = vpc_pwrite,
    .flush = vpc_flush,
    .block_status = vpc_block_status,
    .getlength = vpc_getlength,
    .io_map = vpc_io_map,
    .get_info = vpc_get_info,
    .create = vpc_create,
    .create_opts = vpc_create_opts,
    .lock_requests = true,
};
