/*
 * PIO and MMIO dispatch. PIO uses a 64 Ki-entry table of region indices (one lookup per
 * access); MMIO keeps a small array sorted by base and searched by bisection.
 */
#include <stdlib.h>
#include <string.h>
#include "vireo/error.h"
#include "vireo/ioport.h"

typedef struct IORegion {
    uint64_t base, len;
    const IOOps *ops;
    void *opaque;
} IORegion;

#define MAX_PIO_REGIONS 255
static IORegion pio_regions[MAX_PIO_REGIONS + 1]; /* index 0: unclaimed */
static unsigned n_pio;
static uint8_t pio_map[65536];

static IORegion *mmio_regions;
static unsigned n_mmio, cap_mmio;

void pio_register(uint16_t base, uint32_t len, const IOOps *ops, void *opaque)
{
    if (n_pio >= MAX_PIO_REGIONS || len == 0 || base + len > 65536) {
        error_report("internal error: cannot register I/O ports 0x%x+%u", base, len);
        abort();
    }
    for (uint32_t p = base; p < base + len; p++) {
        if (pio_map[p]) {
            error_report("internal error: I/O port 0x%x registered twice", p);
            abort();
        }
    }
    n_pio++;
    pio_regions[n_pio] = (IORegion){base, len, ops, opaque};
    memset(&pio_map[base], n_pio, len);
}

void mmio_register(uint64_t base, uint64_t len, const IOOps *ops, void *opaque)
{
    unsigned i;
    for (i = 0; i < n_mmio; i++) {
        IORegion *r = &mmio_regions[i];
        if (base < r->base + r->len && r->base < base + len) {
            error_report("internal error: MMIO 0x%llx+0x%llx overlaps", (unsigned long long)base,
                         (unsigned long long)len);
            abort();
        }
        if (r->base > base) {
            break;
        }
    }
    if (n_mmio == cap_mmio) {
        cap_mmio = cap_mmio ? cap_mmio * 2 : 16;
        mmio_regions = realloc(mmio_regions, cap_mmio * sizeof(*mmio_regions));
        if (!mmio_regions) {
            abort();
        }
    }
    memmove(&mmio_regions[i + 1], &mmio_regions[i], (n_mmio - i) * sizeof(*mmio_regions));
    mmio_regions[i] = (IORegion){base, len, ops, opaque};
    n_mmio++;
}

void io_reset_all(void)
{
    memset(pio_map, 0, sizeof(pio_map));
    n_pio = 0;
    free(mmio_regions);
    mmio_regions = NULL;
    n_mmio = cap_mmio = 0;
}

static uint64_t load_le(const void *data, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, data, size); /* x86 host: little endian */
    return v;
}

static void access(IORegion *r, uint64_t off, void *data, unsigned size, bool is_write)
{
    if (is_write) {
        if (r->ops->write) {
            r->ops->write(r->opaque, off, load_le(data, size), size);
        }
    } else {
        uint64_t v = r->ops->read ? r->ops->read(r->opaque, off, size) : ~0ULL;
        memcpy(data, &v, size);
    }
}

void pio_dispatch(uint16_t port, void *data, unsigned size, bool is_write)
{
    unsigned idx = pio_map[port];
    if (!idx) {
        if (!is_write) {
            memset(data, 0xff, size);
        }
        return;
    }
    IORegion *r = &pio_regions[idx];
    access(r, port - r->base, data, size, is_write);
}

bool mmio_dispatch(uint64_t addr, void *data, unsigned size, bool is_write)
{
    unsigned lo = 0, hi = n_mmio;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        IORegion *r = &mmio_regions[mid];
        if (addr < r->base) {
            hi = mid;
        } else if (addr >= r->base + r->len) {
            lo = mid + 1;
        } else {
            access(r, addr - r->base, data, size, is_write);
            return true;
        }
    }
    if (!is_write) {
        memset(data, 0xff, size);
    }
    return false;
}
