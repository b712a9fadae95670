/*
 * Format driver "vdi": VirtualBox's Virtual Disk Image, version 1.1, dynamic and static.
 *
 * Layout (all little-endian): a 512-byte header (a 64-byte text line, the signature 0xbeda107f
 * at 0x40, then sizes and offsets, four UUIDs), the block map at offset_bmap (one 32-bit entry
 * per 1 MiB block: the index of the block in the data area, 0xffffffff never allocated,
 * 0xfffffffe discarded; both read as zero), and the data blocks from offset_data on. A dynamic
 * image allocates a block at the end of the data area on its first write (the whole block is
 * written, zero-filled around the data), then rewrites the header (blocks_allocated) and the
 * block map sector(s), in that order, as QEMU 7.2 does: a crash between the two leaves a
 * counted but unused block (a leak `check` reports), never two entries sharing a block. A
 * static image has every block allocated in order at create time. Images are created as QEMU
 * 7.2 creates them, byte for byte except for the two random UUIDs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/bytes.h"

#define VDI_SECTOR       512u
#define VDI_BLOCK_SIZE   (1u << 20)
#define VDI_SIGNATURE    0xbeda107fu
#define VDI_VERSION_1_1  0x00010001u
#define VDI_TYPE_DYNAMIC 1u
#define VDI_TYPE_STATIC  2u
#define VDI_UNALLOCATED  0xffffffffu
#define VDI_DISCARDED    0xfffffffeu
#define VDI_ALLOCATED(e) ((e) < VDI_DISCARDED)
/* QEMU 7.2's limits: a block map below 2 GiB, whole sectors of entries */
#define VDI_BLOCKS_MAX    0x1fffff80u
#define VDI_DISK_SIZE_MAX ((uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE)
#define VDI_TEXT          "<<< QEMU VM Virtual Disk Image >>>\n"

/* header field offsets */
enum {
    H_SIGNATURE = 0x40,
    H_VERSION = 0x44,
    H_HEADER_SIZE = 0x48,
    H_IMAGE_TYPE = 0x4c,
    H_OFFSET_BMAP = 0x154,
    H_OFFSET_DATA = 0x158,
    H_SECTOR_SIZE = 0x168,
    H_DISK_SIZE = 0x170,
    H_BLOCK_SIZE = 0x178,
    H_BLOCKS_IN_IMAGE = 0x180,
    H_BLOCKS_ALLOCATED = 0x184,
    H_UUID_IMAGE = 0x188,
    H_UUID_LAST_SNAP = 0x198,
    H_UUID_LINK = 0x1a8,
    H_UUID_PARENT = 0x1b8,
};

typedef struct BDRVVdiState {
    uint8_t header[VDI_SECTOR]; /* as on disk; blocks_allocated kept current */
    uint32_t *bmap;             /* host-endian copy of the block map */
    uint32_t blocks_in_image;
    uint32_t blocks_allocated;
    uint32_t offset_bmap, offset_data;
    uint64_t disk_size;
} BDRVVdiState;

static bool uuid_is_null(const uint8_t *u)
{
    for (int i = 0; i < 16; i++) {
        if (u[i]) {
            return false;
        }
    }
    return true;
}

static int vdi_probe(const uint8_t *buf, size_t len)
{
    return len >= VDI_SECTOR && le32_get(buf + H_SIGNATURE) == VDI_SIGNATURE ? 100 : 0;
}

static int vdi_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    (void)opts;
    (void)flags;
    BDRVVdiState *s = g_new0(BDRVVdiState, 1);
    bs->opaque = s;
    uint8_t *h = s->header;
    int ret = bdrv_pread(bs->file, 0, VDI_SECTOR, h);
    if (ret < 0) {
        block_error_errno(errp, ret, "Could not read image header");
        return ret;
    }
    uint64_t disk_size = le64_get(h + H_DISK_SIZE);
    uint32_t sig = le32_get(h + H_SIGNATURE), version = le32_get(h + H_VERSION);
    uint32_t offset_bmap = le32_get(h + H_OFFSET_BMAP), offset_data = le32_get(h + H_OFFSET_DATA);
    uint32_t sector_size = le32_get(h + H_SECTOR_SIZE), block_size = le32_get(h + H_BLOCK_SIZE);
    uint32_t blocks = le32_get(h + H_BLOCKS_IN_IMAGE);
    if (disk_size > VDI_DISK_SIZE_MAX) {
        block_error(errp,
                    "Unsupported VDI image size (size is 0x%" PRIx64 ", max supported is 0x%" PRIx64
                    ")",
                    disk_size, VDI_DISK_SIZE_MAX);
        return -ENOTSUP;
    }
    /* VirtualBox may write sizes that are not whole sectors: rounded up, as QEMU does */
    disk_size = (disk_size + VDI_SECTOR - 1) & ~(uint64_t)(VDI_SECTOR - 1);
    if (sig != VDI_SIGNATURE) {
        block_error(errp, "Image not in VDI format (bad signature %08" PRIx32 ")", sig);
        return -EINVAL;
    }
    if (version != VDI_VERSION_1_1) {
        block_error(errp, "unsupported VDI image (version %" PRIu32 ".%" PRIu32 ")", version >> 16,
                    version & 0xffff);
        return -ENOTSUP;
    }
    if (offset_bmap % VDI_SECTOR) {
        block_error(errp, "unsupported VDI image (unaligned block map offset 0x%" PRIx32 ")",
                    offset_bmap);
        return -ENOTSUP;
    }
    if (offset_data % VDI_SECTOR) {
        block_error(errp, "unsupported VDI image (unaligned data offset 0x%" PRIx32 ")",
                    offset_data);
        return -ENOTSUP;
    }
    if (sector_size != VDI_SECTOR) {
        block_error(errp, "unsupported VDI image (sector size %" PRIu32 " is not %u)", sector_size,
                    VDI_SECTOR);
        return -ENOTSUP;
    }
    if (block_size != VDI_BLOCK_SIZE) {
        block_error(errp, "unsupported VDI image (block size %" PRIu32 " is not %u)", block_size,
                    VDI_BLOCK_SIZE);
        return -ENOTSUP;
    }
    if (disk_size > (uint64_t)blocks * block_size) {
        block_error(errp,
                    "unsupported VDI image (disk size %" PRIu64
                    ", image bitmap has room for %" PRIu64 ")",
                    disk_size, (uint64_t)blocks * block_size);
        return -ENOTSUP;
    }
    if (!uuid_is_null(h + H_UUID_LINK)) {
        block_error(errp, "unsupported VDI image (non-NULL link UUID)");
        return -ENOTSUP;
    }
    if (!uuid_is_null(h + H_UUID_PARENT)) {
        block_error(errp, "unsupported VDI image (non-NULL parent UUID)");
        return -ENOTSUP;
    }
    if (blocks > VDI_BLOCKS_MAX) {
        block_error(errp, "unsupported VDI image (too many blocks %" PRIu32 ", max is %u)", blocks,
                    VDI_BLOCKS_MAX);
        return -ENOTSUP;
    }
    s->disk_size = disk_size;
    s->blocks_in_image = blocks;
    s->blocks_allocated = le32_get(h + H_BLOCKS_ALLOCATED);
    s->offset_bmap = offset_bmap;
    s->offset_data = offset_data;
    bs->total_size = (int64_t)disk_size;
    bs->request_alignment = VDI_SECTOR;

    /* the block map, in whole sectors; a lying header cannot make it larger than the file */
    uint64_t bmap_bytes = ((uint64_t)blocks * 4 + VDI_SECTOR - 1) & ~(uint64_t)(VDI_SECTOR - 1);
    int64_t flen = bdrv_getlength(bs->file);
    if (flen < 0) {
        block_error_errno(errp, (int)flen, "Could not get image size");
        return (int)flen;
    }
    if ((uint64_t)offset_bmap + bmap_bytes > (uint64_t)flen) {
        block_error(errp, "Could not read image header: %s", g_strerror(EIO));
        return -EIO;
    }
    uint8_t *raw = g_try_malloc(bmap_bytes ? bmap_bytes : 1);
    if (!raw) {
        block_error(errp, "Could not allocate bmap");
        return -ENOMEM;
    }
    ret = bmap_bytes ? bdrv_pread(bs->file, offset_bmap, bmap_bytes, raw) : 0;
    if (ret < 0) {
        g_free(raw);
        block_error_errno(errp, ret, "Could not read image header");
        return ret;
    }
    /* kept in whole sectors so a map sector can be written back from it */
    s->bmap = g_new(uint32_t, bmap_bytes / 4 + 1);
    for (uint64_t i = 0; i < bmap_bytes / 4; i++) {
        s->bmap[i] = le32_get(raw + i * 4);
    }
    g_free(raw);
    return 0;
}

static void vdi_close(BlockDriverState *bs)
{
    BDRVVdiState *s = bs->opaque;
    g_free(s->bmap);
}

static int64_t vdi_getlength(BlockDriverState *bs)
{
    BDRVVdiState *s = bs->opaque;
    return (int64_t)s->disk_size;
}

/* Where byte `offset` of the disk is in the file, or 0 if its block is not allocated. */
static uint64_t vdi_host_offset(BDRVVdiState *s, uint64_t offset)
{
    uint32_t e = s->bmap[offset / VDI_BLOCK_SIZE];
    if (!VDI_ALLOCATED(e)) {
        return 0;
    }
    return s->offset_data + (uint64_t)e * VDI_BLOCK_SIZE + offset % VDI_BLOCK_SIZE;
}

static int vdi_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    BDRVVdiState *s = bs->opaque;
    uint8_t *p = buf;
    while (bytes) {
        uint64_t n = MIN(bytes, VDI_BLOCK_SIZE - offset % VDI_BLOCK_SIZE);
        uint64_t host = vdi_host_offset(s, offset);
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

/* Write the header sector, then the map sectors holding entries first..last. */
static int vdi_write_metadata(BlockDriverState *bs, uint32_t first, uint32_t last)
{
    BDRVVdiState *s = bs->opaque;
    le32_put(s->header + H_BLOCKS_ALLOCATED, s->blocks_allocated);
    int ret = bdrv_pwrite(bs->file, 0, VDI_SECTOR, s->header, 0);
    if (ret < 0) {
        return ret;
    }
    const uint32_t per = VDI_SECTOR / 4;
    uint32_t s0 = first / per, s1 = last / per;
    size_t len = (size_t)(s1 - s0 + 1) * VDI_SECTOR;
    uint8_t *out = g_malloc(len);
    for (size_t i = 0; i < len / 4; i++) {
        le32_put(out + i * 4, s->bmap[(size_t)s0 * per + i]);
    }
    ret = bdrv_pwrite(bs->file, s->offset_bmap + (uint64_t)s0 * VDI_SECTOR, len, out, 0);
    g_free(out);
    return ret;
}

static int vdi_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                      int flags)
{
    BDRVVdiState *s = bs->opaque;
    const uint8_t *p = buf;
    uint8_t *block = NULL;
    uint32_t first = VDI_UNALLOCATED, last = 0;
    int ret = 0;
    if (flags & BDRV_REQ_COMPRESSED) {
        return -ENOTSUP;
    }
    while (bytes && ret >= 0) {
        uint64_t in = offset % VDI_BLOCK_SIZE, n = MIN(bytes, VDI_BLOCK_SIZE - in);
        uint32_t idx = (uint32_t)(offset / VDI_BLOCK_SIZE);
        uint64_t host = vdi_host_offset(s, offset);
        if (host) {
            BLKDBG_EVENT(bs->file, BLKDBG_WRITE_AIO);
            ret = bdrv_pwrite(bs->file, host, n, p, flags & BDRV_REQ_FUA);
        } else if (s->blocks_allocated >= VDI_BLOCKS_MAX) {
            ret = -ENOSPC;
        } else {
            /* a new block at the end of the data area, zero around the data */
            uint32_t e = s->blocks_allocated;
            if (!block) {
                block = g_malloc(VDI_BLOCK_SIZE);
            }
            memset(block, 0, in);
            memcpy(block + in, p, n);
            memset(block + in + n, 0, VDI_BLOCK_SIZE - in - n);
            BLKDBG_EVENT(bs->file, BLKDBG_CLUSTER_ALLOC);
            ret = bdrv_pwrite(bs->file, s->offset_data + (uint64_t)e * VDI_BLOCK_SIZE,
                              VDI_BLOCK_SIZE, block, 0);
            if (ret >= 0) {
                s->bmap[idx] = e;
                s->blocks_allocated++;
                first = MIN(first, idx);
                last = MAX(last, idx);
            }
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    g_free(block);
    if (first != VDI_UNALLOCATED) {
        /* the blocks written so far are recorded even when a later piece failed */
        int r = vdi_write_metadata(bs, first, last);
        if (ret >= 0) {
            ret = r;
        }
    }
    return ret < 0 ? ret : 0;
}

static int vdi_flush(BlockDriverState *bs)
{
    return bdrv_flush(bs->file);
}

static int vdi_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                            uint64_t *map, BlockDriverState **file)
{
    BDRVVdiState *s = bs->opaque;
    *pnum = MIN(bytes, VDI_BLOCK_SIZE - offset % VDI_BLOCK_SIZE);
    uint64_t host = vdi_host_offset(s, offset);
    if (!host) {
        return BDRV_BLOCK_ZERO;
    }
    *map = host;
    *file = bs->file;
    return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID | BDRV_BLOCK_RECURSE;
}

/* Plain reads of allocated blocks and writes into them go straight to the file. */
static bool vdi_io_map(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool write,
                       BlockDriverState **file, uint64_t *host)
{
    BDRVVdiState *s = bs->opaque;
    (void)write;
    if (!bytes || offset >= s->disk_size || bytes > s->disk_size - offset ||
        offset % VDI_BLOCK_SIZE + bytes > VDI_BLOCK_SIZE) {
        return false;
    }
    uint64_t h = vdi_host_offset(s, offset);
    if (!h) {
        return false;
    }
    *file = bs->file;
    *host = h;
    return true;
}

static int vdi_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    (void)bs;
    bdi->cluster_size = VDI_BLOCK_SIZE;
    return 0;
}

/* QEMU's check: block map entries in range and not shared, and the allocated count. */
static int vdi_check(BlockDriverState *bs, BdrvCheckResult *res, int fix)
{
    BDRVVdiState *s = bs->opaque;
    if (fix) {
        return -ENOTSUP;
    }
    uint32_t *owner = g_try_new(uint32_t, s->blocks_in_image ? s->blocks_in_image : 1);
    if (!owner) {
        return -ENOMEM;
    }
    memset(owner, 0xff, (size_t)s->blocks_in_image * 4);
    uint32_t allocated = 0;
    for (uint32_t b = 0; b < s->blocks_in_image; b++) {
        uint32_t e = s->bmap[b];
        if (!VDI_ALLOCATED(e)) {
            continue;
        }
        if (e >= s->blocks_in_image) {
            fprintf(stderr, "ERROR: block index %" PRIu32 " too large, is %" PRIu32 "\n", b, e);
            res->corruptions++;
            continue;
        }
        allocated++;
        if (VDI_ALLOCATED(owner[e])) {
            fprintf(stderr, "ERROR: block index %" PRIu32 " also used by %" PRIu32 "\n", owner[e],
                    e);
            res->corruptions++;
        } else {
            owner[e] = e;
        }
    }
    if (allocated != s->blocks_allocated) {
        fprintf(stderr, "ERROR: allocated blocks mismatch, is %" PRIu32 ", should be %" PRIu32 "\n",
                allocated, s->blocks_allocated);
        res->corruptions++;
    }
    g_free(owner);
    return 0;
}

static int vdi_create(const char *filename, QOpts *opts, char **errp)
{
    uint64_t size = 0;
    bool is_static = false;
    char *err = NULL;
    if (!qopts_get_size(opts, "size", 0, &size, &err) ||
        !qopts_get_bool(opts, "static", false, &is_static, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    size = (size + VDI_SECTOR - 1) & ~(uint64_t)(VDI_SECTOR - 1);
    const char *pa = qopts_get(opts, "preallocation");
    int prealloc = pa ? prealloc_mode_parse(pa) : PREALLOC_MODE_OFF;
    if (prealloc < 0) {
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
    if (size > VDI_DISK_SIZE_MAX) {
        close(fd);
        block_error(errp,
                    "Unsupported VDI image size (size is 0x%" PRIx64 ", max supported is 0x%" PRIx64
                    ")",
                    size, VDI_DISK_SIZE_MAX);
        return -ENOTSUP;
    }
    if (prealloc == PREALLOC_MODE_METADATA) {
        close(fd);
        block_error(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    /* (falloc/full concern the file, which QEMU creates empty: no effect) */
    uint32_t blocks = (uint32_t)((size + VDI_BLOCK_SIZE - 1) / VDI_BLOCK_SIZE);
    size_t bmap_bytes = ((size_t)blocks * 4 + VDI_SECTOR - 1) & ~(size_t)(VDI_SECTOR - 1);
    uint8_t *buf = g_malloc0(VDI_SECTOR + bmap_bytes);
    memcpy(buf, VDI_TEXT, sizeof(VDI_TEXT) - 1);
    le32_put(buf + H_SIGNATURE, VDI_SIGNATURE);
    le32_put(buf + H_VERSION, VDI_VERSION_1_1);
    le32_put(buf + H_HEADER_SIZE, 0x180);
    le32_put(buf + H_IMAGE_TYPE, is_static ? VDI_TYPE_STATIC : VDI_TYPE_DYNAMIC);
    le32_put(buf + H_OFFSET_BMAP, VDI_SECTOR);
    le32_put(buf + H_OFFSET_DATA, (uint32_t)(VDI_SECTOR + bmap_bytes));
    le32_put(buf + H_SECTOR_SIZE, VDI_SECTOR);
    le64_put(buf + H_DISK_SIZE, size);
    le32_put(buf + H_BLOCK_SIZE, VDI_BLOCK_SIZE);
    le32_put(buf + H_BLOCKS_IN_IMAGE, blocks);
    le32_put(buf + H_BLOCKS_ALLOCATED, is_static ? blocks : 0);
    /* random (version 4) UUIDs for the image and its last snapshot, stored as VirtualBox
     * stores them: the first three fields little-endian */
    for (int u = 0; u < 2; u++) {
        uint8_t *p = buf + (u ? H_UUID_LAST_SNAP : H_UUID_IMAGE);
        for (int i = 0; i < 16; i++) {
            p[i] = (uint8_t)g_random_int();
        }
        p[7] = (uint8_t)((p[7] & 0x0f) | 0x40);
        p[8] = (uint8_t)((p[8] & 0x3f) | 0x80);
    }
    for (uint32_t i = 0; i < blocks; i++) {
        le32_put(buf + VDI_SECTOR + (size_t)i * 4, is_static ? i : VDI_UNALLOCATED);
    }
    int ret = 0;
    size_t len = VDI_SECTOR + bmap_bytes;
    if (pwrite(fd, buf, len, 0) != (ssize_t)len) {
        ret = -EIO;
        block_error(errp, "Error writing header");
    } else if (is_static && ftruncate(fd, (off_t)(len + (uint64_t)blocks * VDI_BLOCK_SIZE)) < 0) {
        ret = -errno;
        block_error_errno(errp, ret, "Failed to statically allocate file");
    }
    g_free(buf);
    close(fd);
    return ret;
}

static const BlockCreateOpt vdi_create_opts[] = {
    {"size", NULL, "size", "Virtual disk size"},
    {"static", "off", "bool", "VDI static (pre-allocated) image"},
    {"preallocation", NULL, "string", "Preallocation mode (allowed values: off, falloc, full)"},
    {NULL, NULL, NULL, NULL},
};

const BlockDriver bdrv_vdi = {
    .format_name = "vdi",
    .probe = vdi_probe,
    .open = vdi_open,
    .close = vdi_close,
    .pread = vdi_pread,
    .pwrite = vdi_pwrite,
    .flush = vdi_flush,
    .block_status = vdi_block_status,
    .getlength = vdi_getlength,
    .io_map = vdi_io_map,
    .check = vdi_check,
    .get_info = vdi_get_info,
    .create = vdi_create,
    .create_opts = vdi_create_opts,
    .lock_requests = true,
};
