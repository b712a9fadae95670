/*
 * Dirty bitmaps: one bit per `granularity` bytes of a node, set by guest writes, zero writes
 * and discards while the bitmap is enabled. Formats that can keep them (qcow2) load them on
 * open and store them on close; qemu-img bitmap edits them in between.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"

static uint64_t nbits_for(uint64_t size, uint32_t granularity)
{
    return (size + granularity - 1) / granularity;
}

/* Bytes of the bit array: whole 64-bit words, as QEMU serializes them. */
static uint64_t bits_bytes(uint64_t nbits)
{
    return (nbits + 63) / 64 * 8;
}

BdrvDirtyBitmap *bdrv_find_dirty_bitmap(BlockDriverState *bs, const char *name)
{
    for (BdrvDirtyBitmap *bm = bs->dirty_bitmaps; bm; bm = bm->next) {
        if (bm->name && !strcmp(bm->name, name)) {
            return bm;
        }
    }
    return NULL;
}

BdrvDirtyBitmap *bdrv_create_dirty_bitmap(BlockDriverState *bs, uint32_t granularity,
                                          const char *name, char **errp)
{
    if (name && bdrv_find_dirty_bitmap(bs, name)) {
        block_error(errp, "Bitmap already exists: %s", name);
        return NULL;
    }
    int64_t len = bdrv_getlength(bs);
    if (len < 0) {
        block_error_errno(errp, (int)len, "could not get length of device");
        return NULL;
    }
    BdrvDirtyBitmap *bm = g_new0(BdrvDirtyBitmap, 1);
    bm->name = g_strdup(name);
    bm->granularity = granularity;
    bm->size = (uint64_t)len;
    bm->nbits = nbits_for(bm->size, granularity);
    bm->bits = g_try_malloc0(bits_bytes(bm->nbits) ? bits_bytes(bm->nbits) : 1);
    if (!bm->bits) {
        g_free(bm->name);
        g_free(bm);
        block_error(errp, "Could not allocate the dirty bitmap");
        return NULL;
    }
    bm->next = bs->dirty_bitmaps;
    bs->dirty_bitmaps = bm;
    return bm;
}

static void free_bitmap(BdrvDirtyBitmap *bm)
{
    g_free(bm->name);
    g_free(bm->bits);
    g_free(bm);
}

void bdrv_release_dirty_bitmap(BlockDriverState *bs, BdrvDirtyBitmap *bm)
{
    for (BdrvDirtyBitmap **p = &bs->dirty_bitmaps; *p; p = &(*p)->next) {
        if (*p == bm) {
            *p = bm->next;
            free_bitmap(bm);
            return;
        }
    }
}

void bdrv_release_all_dirty_bitmaps(BlockDriverState *bs)
{
    while (bs->dirty_bitmaps) {
        BdrvDirtyBitmap *bm = bs->dirty_bitmaps;
        bs->dirty_bitmaps = bm->next;
        free_bitmap(bm);
    }
}

static void set_bits(uint8_t *bits, uint64_t first, uint64_t last)
{
    while (first <= last && (first & 7)) {
        bits[first >> 3] |= (uint8_t)(1u << (first & 7));
        first++;
    }
    if (first > last) {
        return;
    }
    uint64_t whole = (last + 1 - first) >> 3;
    memset(bits + (first >> 3), 0xff, whole);
    first += whole << 3;
    while (first <= last) {
        bits[first >> 3] |= (uint8_t)(1u << (first & 7));
        first++;
    }
}

void bdrv_dirty_bitmap_set_range(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes)
{
    if (!bytes || offset >= bm->size) {
        return;
    }
    uint64_t end = MIN(offset + bytes, bm->size);
    set_bits(bm->bits, offset / bm->granularity, (end - 1) / bm->granularity);
}

void bdrv_set_dirty(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    for (BdrvDirtyBitmap *bm = bs->dirty_bitmaps; bm; bm = bm->next) {
        if (!bm->disabled && !bm->readonly) {
            bdrv_dirty_bitmap_set_range(bm, offset, bytes);
        }
    }
}

void bdrv_clear_dirty_bitmap(BdrvDirtyBitmap *bm)
{
    memset(bm->bits, 0, bits_bytes(bm->nbits));
}

bool bdrv_dirty_bitmap_get(const BdrvDirtyBitmap *bm, uint64_t bit)
{
    return bit < bm->nbits && (bm->bits[bit >> 3] >> (bit & 7)) & 1;
}

uint64_t bdrv_dirty_bitmap_count(const BdrvDirtyBitmap *bm)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < bits_bytes(bm->nbits); i++) {
        n += (uint64_t)__builtin_popcount(bm->bits[i]);
    }
    return n;
}

void bdrv_dirty_bitmap_truncate(BlockDriverState *bs, uint64_t size)
{
    for (BdrvDirtyBitmap *bm = bs->dirty_bitmaps; bm; bm = bm->next) {
        uint64_t nbits = nbits_for(size, bm->granularity);
        uint64_t old_bytes = bits_bytes(bm->nbits), new_bytes = bits_bytes(nbits);
        uint8_t *bits = g_malloc0(new_bytes ? new_bytes : 1);
        memcpy(bits, bm->bits, MIN(old_bytes, new_bytes));
        /* bits past the new end are dropped */
        for (uint64_t b = nbits; b < new_bytes * 8; b++) {
            bits[b >> 3] &= (uint8_t) ~(1u << (b & 7));
        }
        g_free(bm->bits);
        bm->bits = bits;
        bm->nbits = nbits;
        bm->size = size;
    }
}

int bdrv_dirty_bitmap_check(const BdrvDirtyBitmap *bm, int flags, char **errp)
{
    if ((flags & BDRV_BITMAP_RO) && bm->readonly) {
        block_error(errp, "Bitmap '%s' is readonly and cannot be modified", bm->name);
        return -1;
    }
    if ((flags & BDRV_BITMAP_INCONSISTENT) && bm->inconsistent) {
        block_error(errp,
                    "Bitmap '%s' is inconsistent and cannot be used\n"
                    "Try block-dirty-bitmap-remove to delete this bitmap from disk",
                    bm->name);
        return -1;
    }
    return 0;
}

int bdrv_merge_dirty_bitmap(BdrvDirtyBitmap *dst, const BdrvDirtyBitmap *src, char **errp)
{
    if (bdrv_dirty_bitmap_check(dst, BDRV_BITMAP_DEFAULT, errp) < 0 ||
        bdrv_dirty_bitmap_check(src, BDRV_BITMAP_ALLOW_RO, errp) < 0) {
        return -EINVAL;
    }
    if (src->size != dst->size) {
        block_error(errp,
                    "Bitmaps are of different sizes (destination size is %" PRIu64
                    ", source size is %" PRIu64 ") and can't be merged",
                    dst->size, src->size);
        return -EINVAL;
    }
    if (src->granularity == dst->granularity) {
        for (uint64_t i = 0; i < bits_bytes(dst->nbits); i++) {
            dst->bits[i] |= src->bits[i];
        }
        return 0;
    }
    /* every destination granule touching a dirty source granule becomes dirty */
    for (uint64_t b = 0; b < src->nbits; b++) {
        if (!(src->bits[b >> 3] & 0xff) && !(b & 7)) {
            b += 7;
            continue;
        }
        if (bdrv_dirty_bitmap_get(src, b)) {
            bdrv_dirty_bitmap_set_range(dst, b * src->granularity, src->granularity);
        }
    }
    return 0;
}

uint32_t bdrv_get_default_bitmap_granularity(BlockDriverState *bs)
{
    BlockDriverInfo bdi = {0};
    if (bdrv_get_info(bs, &bdi) >= 0 && bdi.cluster_size > 0) {
        return (uint32_t)MIN(65536, MAX(4096, bdi.cluster_size));
    }
    return 65536;
}

const char *bdrv_get_node_name(BlockDriverState *bs)
{
    return bs->node_name;
}

bool bdrv_can_store_new_dirty_bitmap(BlockDriverState *bs, const char *name, uint32_t granularity,
                                     char **errp)
{
    if (!bs->drv->can_store_new_dirty_bitmap) {
        block_error(errp, "Can't store persistent bitmaps to %s: %s", bdrv_get_node_name(bs),
                    strerror(ENOTSUP));
        return false;
    }
    return bs->drv->can_store_new_dirty_bitmap(bs, name, granularity, errp);
}

int bdrv_remove_persistent_dirty_bitmap(BlockDriverState *bs, const char *name, char **errp)
{
    if (!bs->drv->remove_persistent_dirty_bitmap) {
        block_error(errp, "Node '%s' cannot remove persistent bitmaps", bdrv_get_node_name(bs));
        return -ENOTSUP;
    }
    return bs->drv->remove_persistent_dirty_bitmap(bs, name, errp);
}
