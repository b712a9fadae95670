/*
 * DMA into and out of guest RAM (include/vireo/dma.h): every byte checked against the current
 * memory map before anything is copied; writes invalidate translated code and set dirty bits.
 */
#include <string.h>
#include "vireo/accel.h"
#include "vireo/dma.h"
#include "vireo/memory.h"

/* Check [gpa, gpa+len) is RAM (writable when is_write); nothing is touched. */
static DMAResult check(uint64_t gpa, uint64_t len, bool is_write)
{
    if (len && gpa + len - 1 < gpa) {
        return DMA_ERR_WRAP;
    }
    while (len) {
        uint8_t *h;
        uint64_t avail;
        const FlatRange *r = memory_lookup_ram(gpa, &h, &avail);
        if (!r) {
            return DMA_ERR_UNMAPPED;
        }
        if (is_write && r->readonly) {
            return DMA_ERR_READONLY;
        }
        if (avail >= len) {
            return DMA_OK;
        }
        gpa += avail;
        len -= avail;
    }
    return DMA_OK;
}

void dma_notify_written(uint64_t gpa, uint64_t len)
{
    if (!len) {
        return;
    }
    while (len) {
        uint8_t *h;
        uint64_t avail;
        const FlatRange *r = memory_lookup_ram(gpa, &h, &avail);
        if (!r) {
            break;
        }
        uint64_t n = avail < len ? avail : len;
        memory_region_set_dirty(r->mr, r->offset + (gpa - r->start), n);
        if (current_accel && current_accel->ram_written) {
            current_accel->ram_written(gpa, n);
        }
        gpa += n;
        len -= n;
    }
}

/* Copy between buf and RAM, range by range (check() passed). */
static void copy(uint64_t gpa, void *buf, uint64_t len, bool is_write)
{
    uint8_t *b = buf;
    while (len) {
        uint8_t *h;
        uint64_t avail;
        if (!memory_lookup_ram(gpa, &h, &avail)) {
            return;
        }
        uint64_t n = avail < len ? avail : len;
        if (is_write) {
            memcpy(h, b, n);
        } else {
            memcpy(b, h, n);
        }
        b += n;
        gpa += n;
        len -= n;
    }
}

DMAResult dma_read(uint64_t gpa, void *buf, uint64_t len)
{
    DMAResult r = check(gpa, len, false);
    if (r == DMA_OK) {
        copy(gpa, buf, len, false);
    }
    return r;
}

DMAResult dma_write(uint64_t gpa, const void *buf, uint64_t len)
{
    DMAResult r = check(gpa, len, true);
    if (r == DMA_OK) {
        copy(gpa, (void *)buf, len, true);
        dma_notify_written(gpa, len);
    }
    return r;
}

DMAResult dma_set(uint64_t gpa, int c, uint64_t len)
{
    DMAResult r = check(gpa, len, true);
    if (r != DMA_OK) {
        return r;
    }
    uint64_t g = gpa, l = len;
    while (l) {
        uint8_t *h;
        uint64_t avail;
        if (!memory_lookup_ram(g, &h, &avail)) {
            break;
        }
        uint64_t n = avail < l ? avail : l;
        memset(h, c, n);
        g += n;
        l -= n;
    }
    dma_notify_written(gpa, len);
    return DMA_OK;
}

void *dma_map(uint64_t gpa, uint64_t *len, bool is_write)
{
    uint8_t *h;
    uint64_t avail;
    const FlatRange *r = *len ? memory_lookup_ram(gpa, &h, &avail) : NULL;
    if (!r || (is_write && r->readonly)) {
        *len = 0;
        return NULL;
    }
    if (avail < *len) {
        *len = avail;
    }
    return h;
}

void dma_unmap(void *host, uint64_t gpa, uint64_t len, bool is_write, uint64_t written)
{
    (void)host;
    if (is_write) {
        dma_notify_written(gpa, written < len ? written : len);
    }
}

bool dma_ld32(uint64_t gpa, uint32_t *v)
{
    uint8_t b[4];
    if (dma_read(gpa, b, 4) != DMA_OK) {
        *v = 0;
        return false;
    }
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

bool dma_ld64(uint64_t gpa, uint64_t *v)
{
    uint32_t lo, hi;
    if (!dma_ld32(gpa, &lo) || !dma_ld32(gpa + 4, &hi)) {
        *v = 0;
        return false;
    }
    *v = lo | (uint64_t)hi << 32;
    return true;
}

bool dma_st32(uint64_t gpa, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return dma_write(gpa, b, 4) == DMA_OK;
}

bool dma_st64(uint64_t gpa, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return dma_write(gpa, b, 8) == DMA_OK;
}
