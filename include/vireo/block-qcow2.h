/*
 * qcow2 helpers that are independent of an open image (unit-tested on their own).
 */
#ifndef VIREO_BLOCK_QCOW2_H
#define VIREO_BLOCK_QCOW2_H

#include <stdbool.h>
#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbu

/* Largest refcount representable with refcount_bits = 1 << order (order 0..6). */
uint64_t qcow2_refcount_max(int order);
/* Entry `index` of a refcount block with 1 << order bit entries (big-endian, LSB-first bits). */
uint64_t qcow2_refcount_get(const void *block, uint64_t index, int order);
void qcow2_refcount_set(void *block, uint64_t index, int order, uint64_t value);
/*
 * *out = old + addend for a refcount of this width. -ERANGE when the result would overflow
 * the width or drop below zero (nothing is changed then).
 */
int qcow2_refcount_add(uint64_t old, int64_t addend, int order, uint64_t *out);

/* Compressed L2 descriptors (cluster_bits 9..21). */
uint64_t qcow2_compressed_entry(int cluster_bits, uint64_t host_offset, uint64_t csize);
/* Host byte offset and number of bytes to read for a compressed descriptor. */
void qcow2_compressed_geometry(int cluster_bits, uint64_t l2_entry, uint64_t *host_offset,
                               uint64_t *bytes);

/* Is key a qcow2 open option that the driver itself reads (overlap-check and its kinds)? */
bool qcow2_overlap_is_option(const char *key);

#endif
