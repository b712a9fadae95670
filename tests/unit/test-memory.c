/*
 * The memory map (hw/core/memory.c) and the DMA API (hw/core/dma.c): priorities and overlap,
 * removal, aliases, enable/readonly, flattening and merging, listeners, write-eventfds, dirty
 * tracking, PIO through the same mechanism, and DMA refusing what is not RAM.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "../lib/unit.h"
#include "vireo/dma.h"
#include "vireo/memory.h"

static uint64_t io_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)size;
    return (uintptr_t)opaque * 0x1000 + addr;
}

static uint64_t last_write_val, last_write_addr;
static int last_writer;

static void io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)size;
    last_writer = (int)(uintptr_t)opaque;
    last_write_addr = addr;
    last_write_val = val;
}

static const MemoryRegionOps ops = {.read = io_read, .write = io_write};

static uint32_t rd(uint64_t addr)
{
    uint32_t v = 0;
    mmio_dispatch(addr, &v, 4, false);
    return v;
}

static int commits;
static uint64_t efd_added_addr;
static bool efd_take;

static void on_commit(MemoryListener *l, AddressSpace *as, const FlatView *old,
                      const FlatView *view)
{
    (void)l;
    (void)old;
    (void)view;
    if (as == &address_space_memory) {
        commits++;
    }
}

static bool on_efd_add(MemoryListener *l, AddressSpace *as, uint64_t addr, unsigned size,
                       bool match, uint64_t data, int fd)
{
    (void)l;
    (void)as;
    (void)size;
    (void)match;
    (void)data;
    (void)fd;
    efd_added_addr = addr;
    return efd_take;
}

static MemoryListener listener = {.commit = on_commit, .eventfd_add = on_efd_add};

int main(void)
{
    MemoryRegion *sys = get_system_memory();
    static MemoryRegion ram, dev1, dev2, hole, alias, rom, pci, pci_alias, bar;
    uint8_t *host = aligned_alloc(4096, 16 << 20);
    memset(host, 0x11, 16 << 20);
    memory_listener_register(&listener);

    /* RAM 0-16 MiB at priority 0; an MMIO window over it at priority 1 */
    memory_region_init_ram_ptr(&ram, "ram", 16 << 20, host);
    memory_region_add_subregion(sys, 0, &ram, 0);
    memory_region_init_io(&dev1, "dev1", &ops, (void *)1, 0x20000);
    memory_region_add_subregion(sys, 0xa0000, &dev1, 1);
    CHECK("mem/priority-higher-wins", rd(0xa0010) == 0x1010);
    CHECK("mem/ram-below", rd(0x9fffc) == 0x11111111);
    CHECK("mem/ram-above", rd(0xc0000) == 0x11111111);
    const FlatView *v = address_space_view(&address_space_memory);
    CHECK("mem/flat-three-ranges", v->n == 3 && v->ranges[0].last == 0x9ffff &&
                                        v->ranges[1].mr == &dev1 && v->ranges[2].start == 0xc0000 &&
                                        v->ranges[2].offset == 0xc0000);

    /* equal priority: the newest wins; removing it shows the older again */
    memory_region_init_io(&dev2, "dev2", &ops, (void *)2, 0x1000);
    memory_region_add_subregion(sys, 0xa0000, &dev2, 1);
    CHECK("mem/equal-priority-newest-wins", rd(0xa0004) == 0x2004 && rd(0xa1004) == 0x2004);
    memory_region_del_subregion(sys, &dev2);
    CHECK("mem/remove-uncovers", rd(0xa0000) == 0x1000);
    /* moving the older one re-adds it on top of its equals */
    memory_region_add_subregion(sys, 0xa0000, &dev2, 1);
    memory_region_set_address(&dev1, 0xa0000);
    memory_region_set_address(&dev1, 0xa0000 + 0x20000);
    memory_region_set_address(&dev1, 0xa0000);
    CHECK("mem/move-makes-newest", rd(0xa0000) == 0x1000);
    memory_region_del_subregion(sys, &dev2);

    /* disable: a hole shows RAM below */
    memory_region_set_enabled(&dev1, false);
    CHECK("mem/disabled-shows-below", rd(0xa0000) == 0x11111111);
    memory_region_set_enabled(&dev1, true);

    /* a container hole at higher priority hides nothing: the gap shows what is below */
    memory_region_init_container(&hole, "hole", 0x1000);
    memory_region_add_subregion(sys, 0x200000, &hole, 5);
    CHECK("mem/empty-container-transparent", rd(0x200000) == 0x11111111);

    /* alias: 16 KiB of RAM from offset 0x300000 shown at 0x2000000, read-only */
    memory_region_init_alias(&alias, "alias", &ram, 0x300000, 0x4000);
    memory_region_set_readonly(&alias, true);
    memory_region_add_subregion(sys, 0x2000000, &alias, 0);
    host[0x300004] = 0x5a;
    uint8_t b = 0;
    mmio_dispatch(0x2000004, &b, 1, false);
    CHECK("mem/alias-reads-target", b == 0x5a);
    b = 0x77;
    mmio_dispatch(0x2000004, &b, 1, true);
    CHECK("mem/readonly-alias-drops-writes", host[0x300004] == 0x5a);
    memory_region_set_alias_offset(&alias, 0x300004);
    b = 0;
    mmio_dispatch(0x2000000, &b, 1, false);
    CHECK("mem/alias-offset-moves", b == 0x5a);

    /* adjacent pieces of one region merge into one range (one KVM slot) */
    memory_region_del_subregion(sys, &dev1);
    v = address_space_view(&address_space_memory);
    CHECK("mem/ram-merged", flatview_lookup(v, 0)->last == (16u << 20) - 1);

    /* ROM: read direct, writes go to ops when given */
    memory_region_init_rom(&rom, "rom", 0x1000);
    rom.ops = &ops;
    rom.opaque = (void *)3;
    memory_region_add_subregion(sys, 0x3000000, &rom, 0);
    uint32_t w = 0xabcd;
    last_writer = 0;
    mmio_dispatch(0x3000008, &w, 4, true);
    CHECK("mem/rom-write-to-ops", last_writer == 3 && last_write_addr == 8 &&
                                      *(uint32_t *)memory_region_get_ram_ptr(&rom, 8) == 0);

    /* PCI space under everything at -1: a BAR over RAM stays hidden, elsewhere it shows */
    memory_region_init_container(&pci, "pci", UINT64_MAX);
    memory_region_init_alias(&pci_alias, "pci-hole", &pci, 0, UINT64_MAX);
    memory_region_add_subregion(sys, 0, &pci_alias, -1);
    memory_region_init_io(&bar, "bar", &ops, (void *)4, 0x1000);
    memory_region_add_subregion(&pci, 0x100000, &bar, 1);
    CHECK("mem/bar-over-ram-hidden", rd(0x100000) == 0x11111111);
    memory_region_set_address(&bar, 0xfe000000);
    CHECK("mem/bar-in-hole", rd(0xfe000010) == 0x4010);
    memory_region_set_address(&bar, 0xfffffffffffff000ull);
    CHECK("mem/bar-at-top-of-space", rd(0xfffffffffffffffcull) == (uint32_t)(0x4000 + 0xffc));
    /* an unassigned read is 0 (QEMU 7.2's unassigned memory), a write vanishes */
    CHECK("mem/unassigned", rd(0xf0000000) == 0);

    /* listeners: one commit per transaction */
    commits = 0;
    memory_transaction_begin();
    memory_region_set_address(&bar, 0xfd000000);
    memory_region_set_address(&bar, 0xfd001000);
    memory_transaction_commit();
    CHECK("mem/transaction-one-commit", commits == 1 && rd(0xfd001000) == 0x4000);

    /* PIO through the same mechanism, no fixed limit on registrations */
    MemoryRegion *ports[300];
    for (int i = 0; i < 300; i++) {
        ports[i] = pio_register((uint16_t)(0x1000 + i * 4), 4, &ops, (void *)(uintptr_t)(i + 10));
    }
    uint16_t pv = 0;
    pio_dispatch(0x1000 + 299 * 4 + 2, &pv, 2, false);
    CHECK("pio/300-regions", pv == (uint16_t)((299 + 10) * 0x1000 + 2));
    pio_dispatch(0xfff0, &pv, 2, false);
    CHECK("pio/unassigned-all-ones", pv == 0xffff);
    (void)ports;

    /* write-eventfds: the dispatcher signals when no accelerator took it */
    int fd = eventfd(0, EFD_NONBLOCK);
    efd_take = false;
    memory_region_add_eventfd(&bar, 0x10, 4, true, 7, fd);
    CHECK("efd/listener-told", efd_added_addr == 0xfd001010);
    w = 7;
    last_writer = 0;
    mmio_dispatch(0xfd001010, &w, 4, true);
    uint64_t cnt = 0;
    CHECK("efd/signalled", read(fd, &cnt, 8) == 8 && cnt == 1 && last_writer == 0);
    w = 8;
    mmio_dispatch(0xfd001010, &w, 4, true);
    CHECK("efd/other-value-to-device", last_writer == 4 && last_write_val == 8);
    memory_region_set_address(&bar, 0xfd002000);
    CHECK("efd/follows-move", efd_added_addr == 0xfd002010);
    memory_region_del_eventfd(&bar, 0x10, 4, true, 7, fd);
    close(fd);

    /* DMA: RAM only, bounds and wrap checked, dirty bits set */
    memory_region_set_dirty_log(&ram, true);
    uint8_t buf[64];
    memset(buf, 0xcd, sizeof(buf));
    CHECK("dma/write-ram", dma_write(0x400000, buf, 64) == DMA_OK && host[0x400000] == 0xcd);
    CHECK("dma/dirty", memory_region_test_and_clear_dirty(&ram, 0x400000, 64) &&
                           !memory_region_test_and_clear_dirty(&ram, 0x400000, 64) &&
                           !memory_region_test_and_clear_dirty(&ram, 0x500000, 4096));
    CHECK("dma/past-ram", dma_write((16 << 20) - 32, buf, 64) == DMA_ERR_UNMAPPED &&
                              host[(16 << 20) - 32] == 0x11);
    CHECK("dma/mmio-refused", dma_read(0xfd002000, buf, 4) == DMA_ERR_UNMAPPED);
    CHECK("dma/wrap", dma_read(UINT64_MAX - 8, buf, 64) == DMA_ERR_WRAP);
    CHECK("dma/rom-write-refused", dma_write(0x3000000, buf, 4) == DMA_ERR_READONLY);
    CHECK("dma/rom-read", dma_read(0x3000000, buf, 4) == DMA_OK);
    CHECK("dma/zero-length", dma_write(0xffffffff00000000ull, buf, 0) == DMA_OK);
    uint64_t len = 1 << 30;
    void *p = dma_map(0x800000, &len, true);
    CHECK("dma/map-clipped", p == host + 0x800000 && len == (16u << 20) - 0x800000);
    len = 16;
    CHECK("dma/map-mmio-null", dma_map(0xfd002000, &len, false) == NULL && len == 0);

    /* teardown: everything goes, nothing leaks */
    io_reset_all();
    memory_listener_unregister(&listener);
    memory_region_destroy(&rom);
    memory_region_set_dirty_log(&ram, false);
    CHECK("mem/reset-empty", address_space_view(&address_space_memory)->n == 0);
    free(host);
    UNIT_EXIT();
}
