/* Guest RAM: host memory mapped once and shared with the accelerator and devices. */
#ifndef VIREO_MEMORY_H
#define VIREO_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#define RAM_MAX_BLOCKS 4

typedef struct RAMBlock {
    uint64_t gpa, size;
    uint8_t *host;
} RAMBlock;

typedef struct GuestRAM {
    RAMBlock blocks[RAM_MAX_BLOCKS];
    unsigned n;
    void *base; /* one reservation holding every block */
    size_t base_size;
} GuestRAM;

extern GuestRAM guest_ram;

/*
 * Lay out `size` bytes of RAM for a PC: below `lowmem_limit` from 0, the rest from 4 GiB.
 * Returns 0, or -1 after error_report() (out of memory).
 */
int ram_alloc_pc(uint64_t size, uint64_t lowmem_limit);
void ram_free(void);
/* Host pointer for [gpa, gpa+len) if it lies within one RAM block, else NULL. */
void *gpa_to_hva(uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM; return -1 if any byte is not RAM. */
int guest_write(uint64_t gpa, const void *buf, uint64_t len);
int guest_read(uint64_t gpa, void *buf, uint64_t len);

#endif
