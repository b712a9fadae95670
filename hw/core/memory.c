/*
 * Guest RAM. All blocks come from one anonymous mapping (MAP_NORESERVE, so untouched RAM
 * costs nothing), split around the 32-bit PCI hole.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "vireo/error.h"
#include "vireo/memory.h"

GuestRAM guest_ram;

#define GiB (1ULL << 30)

/*
 * Reserve `size` bytes aligned to 2 MiB, so that the host can back guest RAM with transparent
 * huge pages: guest-physical 2 MiB frames then line up with host huge pages, and the nested
 * page tables need one entry per 2 MiB instead of 512 (far fewer EPT/NPT faults at boot).
 */
#define RAM_ALIGN (2ULL << 20)

static void *map_aligned(uint64_t size)
{
    uint64_t span = size + RAM_ALIGN;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        return MAP_FAILED;
    }
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + RAM_ALIGN - 1) & ~(uintptr_t)(RAM_ALIGN - 1));
    if (aligned > p) {
        munmap(p, aligned - p);
    }
    uint8_t *end = aligned + size;
    if (end < p + span) {
        munmap(end, p + span - end);
    }
    return aligned;
}

int ram_alloc_pc(uint64_t size, uint64_t lowmem_limit)
{
    ram_free();
    void *p = map_aligned(size);
    if (p == MAP_FAILED) {
        error_report("cannot set up guest memory 'pc.ram': %s", strerror(errno));
        return -1;
    }
    madvise(p, size, MADV_HUGEPAGE);
    madvise(p, size, MADV_DONTDUMP);
    guest_ram.base = p;
    guest_ram.base_size = size;
    uint64_t low = size < lowmem_limit ? size : lowmem_limit;
    guest_ram.blocks[0] = (RAMBlock){0, low, p};
    guest_ram.n = 1;
    if (size > low) {
        guest_ram.blocks[1] = (RAMBlock){4 * GiB, size - low, (uint8_t *)p + low};
        guest_ram.n = 2;
    }
    return 0;
}

void ram_free(void)
{
    if (guest_ram.base) {
        munmap(guest_ram.base, guest_ram.base_size);
    }
    memset(&guest_ram, 0, sizeof(guest_ram));
}

void *gpa_to_hva(uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < guest_ram.n; i++) {
        RAMBlock *b = &guest_ram.blocks[i];
        if (gpa >= b->gpa && len <= b->size && gpa - b->gpa <= b->size - len) {
            return b->host + (gpa - b->gpa);
        }
    }
    return NULL;
}

int guest_write(uint64_t gpa, const void *buf, uint64_t len)
{
    void *h = gpa_to_hva(gpa, len);
    if (!h) {
        return -1;
    }
    memcpy(h, buf, len);
    return 0;
}

int guest_read(uint64_t gpa, void *buf, uint64_t len)
{
    void *h = gpa_to_hva(gpa, len);
    if (!h) {
        return -1;
    }
    memcpy(buf, h, len);
    return 0;
}
