/*
 * The machine's I/O address spaces: port I/O (PIO, 64 KiB) and MMIO, both dispatched to
 * device callbacks whichever accelerator runs. Guest RAM lives in hw/core/memory.c.
 * Device callbacks run with the big device lock held (see vireo_lock()).
 */
#ifndef VIREO_IOPORT_H
#define VIREO_IOPORT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct IOOps {
    /* addr is the offset from the region's base; size is 1, 2, 4 or 8 */
    uint64_t (*read)(void *opaque, uint64_t addr, unsigned size);
    void (*write)(void *opaque, uint64_t addr, uint64_t val, unsigned size);
} IOOps;

/* Register a PIO range [base, base+len). Ranges must not overlap. */
void pio_register(uint16_t base, uint32_t len, const IOOps *ops, void *opaque);
/* Register an MMIO range [base, base+len). Ranges must not overlap. */
void mmio_register(uint64_t base, uint64_t len, const IOOps *ops, void *opaque);
/* Remove every registration (machine teardown). */
void io_reset_all(void);

/*
 * Dispatch an access. data points at size bytes (little endian) to write or to fill.
 * Unclaimed PIO reads return all ones and writes are dropped, as on a PC.
 * Returns false for an MMIO address nobody claims (reads then return all ones).
 */
void pio_dispatch(uint16_t port, void *data, unsigned size, bool is_write);
bool mmio_dispatch(uint64_t addr, void *data, unsigned size, bool is_write);

#endif
