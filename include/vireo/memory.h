/*
 * The memory map (hw/core/memory.c): guest-physical memory and port I/O as trees of regions,
 * flattened into one view per address space that every consumer reads (device dispatch, the
 * accelerators' listeners, DMA, the TCG softmmu).
 *
 *   address_space_memory  root "system" (2^64 bytes): RAM, ROM, device RAM, MMIO, aliases
 *   address_space_io      root "io" (64 KiB): port I/O regions
 *
 * A region is one of
 *   container  holds subregions, nothing of its own (a hole shows what lies below it)
 *   RAM        host memory; readonly makes it a ROM (writes go to ops->write when given, as a
 *              flash/"romd" device wants, and are dropped otherwise)
 *   I/O        read/write callbacks (MMIO or PIO)
 *   alias      a window [offset, offset+size) onto another region (PAM, the VGA window)
 *
 * Overlap: every subregion has a priority; where siblings overlap the higher priority wins,
 * among equal priorities the one added (or moved, or enabled) last wins, as in QEMU. Nothing
 * here ever aborts on overlap, so a guest programming BARs anywhere cannot hurt the process.
 *
 * Changes (add, delete, move, enable, readonly, alias offset) are batched between
 * memory_transaction_begin()/commit() (each call outside a transaction is its own). At commit
 * the address space is re-flattened and each MemoryListener is told: KVM updates its memory
 * slots, TCG flushes the vCPUs' TLBs. Changes are made with vireo_lock() held.
 *
 * Readers outside the big lock: TCG vCPU threads read the view from generated code (they are
 * quiescent at their loop top, where they also flush their TLB after a change); any other
 * thread wraps its reads in memory_read_lock()/unlock() and must not wait for the big lock
 * inside. Old views, and host memory of destroyed RAM regions, are freed only once no reader
 * can hold them.
 */
#ifndef VIREO_MEMORY_H
#define VIREO_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- guest RAM of the PC (the "pc.ram" region and its two windows) ---- */

#define RAM_MAX_BLOCKS 4

typedef struct RAMBlock {
    uint64_t gpa, size;
    uint8_t *host;
} RAMBlock;

/* The machine's main RAM as the e820/multiboot/fw_cfg tables describe it. */
typedef struct GuestRAM {
    RAMBlock blocks[RAM_MAX_BLOCKS];
    unsigned n;
    void *base; /* one reservation holding every block */
    size_t base_size;
} GuestRAM;

extern GuestRAM guest_ram;

/*
 * Lay out `size` bytes of RAM for a PC: below `lowmem_limit` from 0, the rest from 4 GiB, and
 * map them into address_space_memory (priority 0). Returns 0, or -1 after error_report().
 */
int ram_alloc_pc(uint64_t size, uint64_t lowmem_limit);
void ram_free(void);
/* The "pc.ram" region itself (aliases onto it: PAM). */
struct MemoryRegion *ram_region_main(void);
/* Highest guest-physical address + 1 of main RAM (sizes the TCG page tables). */
uint64_t ram_top(void);

/*
 * Host pointer for [gpa, gpa+len) if it is RAM or ROM in the current view, all within one flat
 * range, else NULL. For loaders and debugging; devices use dma.h.
 */
void *gpa_to_hva(uint64_t gpa, uint64_t len);
/* Loader copies (firmware tables, kernels): ROM is written too. Return -1 if any byte is not
 * RAM/ROM. */
int guest_write(uint64_t gpa, const void *buf, uint64_t len);
int guest_read(uint64_t gpa, void *buf, uint64_t len);

/* ---- regions ---- */

typedef struct MemoryRegion MemoryRegion;
typedef struct AddressSpace AddressSpace;
typedef struct FlatView FlatView;

typedef struct MemoryRegionOps {
    /* addr is the offset from the region's base; size is 1, 2, 4 or 8 */
    uint64_t (*read)(void *opaque, uint64_t addr, unsigned size);
    void (*write)(void *opaque, uint64_t addr, uint64_t val, unsigned size);
} MemoryRegionOps;
typedef MemoryRegionOps IOOps;

typedef enum { MR_CONTAINER, MR_RAM, MR_IO, MR_ALIAS } MRType;

typedef struct MREventfd {
    uint64_t offset;
    unsigned size; /* 0: any size */
    bool match_data;
    uint64_t data;
    int fd;
} MREventfd;

/* Embed it in the device's state; the fields are the memory core's. */
struct MemoryRegion {
    const char *name;
    MRType type;
    uint64_t size; /* UINT64_MAX: to the end of the address space */
    /* RAM */
    uint8_t *host;
    bool owns_host; /* allocated by memory_region_init_ram(): freed on destroy */
    bool readonly;
    bool dirty_log;
    unsigned long *dirty; /* one bit per 4 KiB page while dirty_log */
    /* I/O (and romd writes) */
    const MemoryRegionOps *ops;
    void *opaque;
    /* alias */
    MemoryRegion *alias;
    uint64_t alias_offset;
    /* place in the parent */
    MemoryRegion *parent;
    uint64_t addr;
    int priority;
    uint64_t seq; /* insertion order among equal priorities (newest wins) */
    bool enabled;
    MemoryRegion *subregions; /* sorted: priority descending, then newest first */
    MemoryRegion *next_sibling;
    MREventfd *eventfds;
    unsigned n_eventfds;
};

void memory_region_init_container(MemoryRegion *mr, const char *name, uint64_t size);
/* RAM of its own (zeroed, 2 MiB aligned, transparent huge pages); false if out of memory. */
bool memory_region_init_ram(MemoryRegion *mr, const char *name, uint64_t size);
/* RAM at host memory the caller owns (and frees after memory_region_destroy()). */
void memory_region_init_ram_ptr(MemoryRegion *mr, const char *name, uint64_t size, void *host);
/* ROM: RAM read-only to the guest (writes dropped, or to ops->write for a flash device). */
bool memory_region_init_rom(MemoryRegion *mr, const char *name, uint64_t size);
void memory_region_init_io(MemoryRegion *mr, const char *name, const MemoryRegionOps *ops,
                           void *opaque, uint64_t size);
void memory_region_init_alias(MemoryRegion *mr, const char *name, MemoryRegion *target,
                              uint64_t offset, uint64_t size);
/*
 * Take mr out of its parent (if any) and free what it owns. Host RAM is released once no vCPU
 * or reader can still see it, so the region struct may be freed right after this returns.
 */
void memory_region_destroy(MemoryRegion *mr);

/* Map sub at addr inside parent. A region has at most one parent. */
void memory_region_add_subregion(MemoryRegion *parent, uint64_t addr, MemoryRegion *sub,
                                 int priority);
void memory_region_del_subregion(MemoryRegion *parent, MemoryRegion *sub);
void memory_region_set_address(MemoryRegion *mr, uint64_t addr);
void memory_region_set_enabled(MemoryRegion *mr, bool enabled);
void memory_region_set_readonly(MemoryRegion *mr, bool readonly);
void memory_region_set_alias_offset(MemoryRegion *mr, uint64_t offset);
/* Host pointer of a RAM region's byte `offset` (device RAM: VGA memory, ROM images). */
static inline void *memory_region_get_ram_ptr(MemoryRegion *mr, uint64_t offset)
{
    return mr->host ? mr->host + offset : NULL;
}

/*
 * Write-eventfds (ioeventfd): a guest write of `size` bytes (0: any) at mr's `offset`, with
 * value `data` when match_data, signals fd instead of calling the region's write. Under KVM the
 * kernel does it without leaving guest mode (KVM_IOEVENTFD); otherwise the dispatcher does it
 * on the vCPU thread, before and without the big lock. One path for devices either way.
 */
void memory_region_add_eventfd(MemoryRegion *mr, uint64_t offset, unsigned size, bool match_data,
                               uint64_t data, int fd);
void memory_region_del_eventfd(MemoryRegion *mr, uint64_t offset, unsigned size,
                               bool match_data, uint64_t data, int fd);

/*
 * Dirty tracking of a RAM region (framebuffers, migration): writes by DMA, by TCG and (through
 * the KVM dirty log, synced here) by KVM vCPUs set one bit per 4 KiB page.
 * memory_region_test_and_clear_dirty() says whether any page of [offset, offset+size) was
 * written since the last call, and clears them.
 */
void memory_region_set_dirty_log(MemoryRegion *mr, bool on);
bool memory_region_test_and_clear_dirty(MemoryRegion *mr, uint64_t offset, uint64_t size);
void memory_region_set_dirty(MemoryRegion *mr, uint64_t offset, uint64_t size);
/* Every page's dirty bit at once (one bit per 4 KiB page of mr, in unsigned longs), cleared in
 * mr: a display takes one snapshot per refresh and tests lines against it. */
void memory_region_get_dirty_bitmap(MemoryRegion *mr, unsigned long *bitmap);

void memory_transaction_begin(void);
void memory_transaction_commit(void);

/* ---- address spaces and their flat views ---- */

extern AddressSpace address_space_memory;
extern AddressSpace address_space_io;
MemoryRegion *get_system_memory(void);
MemoryRegion *get_system_io(void);

/* One piece of the flattened map: [start, last] shows region mr from byte `offset` on. */
typedef struct FlatRange {
    uint64_t start, last; /* inclusive */
    MemoryRegion *mr;     /* RAM or I/O region (never a container or alias) */
    uint64_t offset;
    bool readonly; /* RAM that the guest may not write (ROM, PAM read-only) */
} FlatRange;

struct FlatView {
    FlatRange *ranges; /* sorted, non-overlapping; gaps are unassigned */
    unsigned n;
    uint64_t generation;
};

/* The current view (big lock held, a read lock, or a TCG vCPU thread). */
const FlatView *address_space_view(AddressSpace *as);
/* The range holding addr in view, or NULL for a gap. */
const FlatRange *flatview_lookup(const FlatView *view, uint64_t addr);

/*
 * Listeners: told after every commit that changed an address space's view (commit) and about
 * write-eventfds coming and going (eventfd_add returns true when the accelerator took it:
 * then guest writes there never reach the dispatcher). Registering replays the current views
 * and eventfds, so an accelerator that rebuilds its VM gets the whole map again.
 */
typedef struct MemoryListener MemoryListener;
struct MemoryListener {
    void (*commit)(MemoryListener *l, AddressSpace *as, const FlatView *old,
                   const FlatView *view);
    bool (*eventfd_add)(MemoryListener *l, AddressSpace *as, uint64_t addr, unsigned size,
                        bool match_data, uint64_t data, int fd);
    void (*eventfd_del)(MemoryListener *l, AddressSpace *as, uint64_t addr, unsigned size,
                        bool match_data, uint64_t data, int fd);
    /* Bring dirty bits of RAM regions up to date (KVM_GET_DIRTY_LOG). Optional. */
    void (*log_sync)(MemoryListener *l, MemoryRegion *mr);
    MemoryListener *next;
};
void memory_listener_register(MemoryListener *l);
void memory_listener_unregister(MemoryListener *l);

/* Readers outside the big lock and outside a TCG vCPU (see the top of this file). */
void memory_read_lock(void);
void memory_read_unlock(void);
/* TCG vCPU threads: a quiescent point (no pointer from an older view is held). */
typedef struct MemoryReader {
    uint64_t seen; /* generation seen at the last quiescent point; 0: offline */
    struct MemoryReader *next;
} MemoryReader;
void memory_reader_register(MemoryReader *r);
void memory_reader_unregister(MemoryReader *r);
/* Returns the current generation, after publishing that r holds nothing older. */
uint64_t memory_reader_quiescent(MemoryReader *r);
void memory_reader_offline(MemoryReader *r);
uint64_t memory_generation(void);

/* ---- dispatch (vCPU exits, TCG slow paths); callbacks run with vireo_lock() held ---- */

/*
 * An access of size 1, 2, 4 or 8 bytes; data little endian. The flat range holding the first
 * byte answers the whole access (RAM is copied, I/O regions called). A write matching a
 * write-eventfd signals it instead. PIO reads of unassigned ports return all ones (as on a PC),
 * MMIO reads of unassigned memory return 0 (as QEMU 7.2); writes there are dropped. The big lock is taken inside when a device
 * callback runs; callers do not hold it. mmio_dispatch() returns false for an unassigned
 * address.
 */
void pio_dispatch(uint16_t port, void *data, unsigned size, bool is_write);
bool mmio_dispatch(uint64_t addr, void *data, unsigned size, bool is_write);

/* The same with the big lock already held (device-to-device accesses, tests). */
bool address_space_access(AddressSpace *as, uint64_t addr, void *data, unsigned size,
                          bool is_write);

/*
 * RAM lookup for the TCG softmmu: fills *host with the host address of gpa when gpa is RAM/ROM
 * in the current view (with *avail bytes until the range ends) and returns the range; NULL for
 * MMIO or a gap.
 */
const FlatRange *memory_lookup_ram(uint64_t gpa, uint8_t **host, uint64_t *avail);

/*
 * Simple registrations for fixed legacy devices: an I/O region of its own at a fixed place
 * (priority 0). The region is owned by the memory core and freed by io_reset_all().
 */
MemoryRegion *pio_register(uint16_t base, uint32_t len, const IOOps *ops, void *opaque);
MemoryRegion *mmio_register(uint64_t base, uint64_t len, const IOOps *ops, void *opaque);
/* Machine teardown: remove every subregion of both roots and free the registrations above. */
void io_reset_all(void);

#endif
