/*
 * DMA: how devices reach guest memory (hw/core/dma.c). Every access is bounds-checked against
 * the current memory map: only RAM is a DMA target (ROM is read-only to DMA as to the guest).
 * An address in MMIO, in a gap, past the end of memory, or a length that wraps gets an error
 * and touches nothing: device-to-device DMA is refused (QEMU would dispatch it to the other
 * device's MMIO callbacks; no device Vireo emulates needs that, and a refusal is the safe
 * answer to a misbehaving guest). Writes tell the translator (translated code on the written
 * pages is dropped) and set dirty bits of tracked regions (framebuffer, migration).
 *
 * Call with the big lock held, or inside memory_read_lock()/unlock(). A pointer from dma_map()
 * stays valid until dma_unmap() for main RAM whatever happens to the map meanwhile; for device
 * RAM until that device is unrealized.
 */
#ifndef VIREO_DMA_H
#define VIREO_DMA_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    DMA_OK = 0,
    DMA_ERR_UNMAPPED = -1, /* some byte is not RAM (MMIO, unassigned, beyond memory) */
    DMA_ERR_WRAP = -2,     /* gpa + len overflows the 64-bit address space */
    DMA_ERR_READONLY = -3, /* a write to ROM */
} DMAResult;

/* Copy len bytes; on error nothing was transferred. */
DMAResult dma_read(uint64_t gpa, void *buf, uint64_t len);
DMAResult dma_write(uint64_t gpa, const void *buf, uint64_t len);
/* Fill with one byte value (zeroing buffers). */
DMAResult dma_set(uint64_t gpa, int c, uint64_t len);

/*
 * Map [gpa, gpa + *len) for direct access: returns a host pointer and shrinks *len to the
 * contiguous RAM available there (at least 1), or NULL (*len = 0) when gpa is not RAM (or ROM
 * for a write). Every map is ended with dma_unmap() with the bytes actually written (is_write).
 */
void *dma_map(uint64_t gpa, uint64_t *len, bool is_write);
void dma_unmap(void *host, uint64_t gpa, uint64_t len, bool is_write, uint64_t written);

/* After writing guest RAM behind the DMA API's back (e.g. a mapping kept across requests). */
void dma_notify_written(uint64_t gpa, uint64_t len);

/* Little-endian helpers; false on any DMA error (the value is then 0 / nothing is written). */
bool dma_ld32(uint64_t gpa, uint32_t *v);
bool dma_ld64(uint64_t gpa, uint64_t *v);
bool dma_st32(uint64_t gpa, uint32_t v);
bool dma_st64(uint64_t gpa, uint64_t v);

#endif
