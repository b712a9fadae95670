/*
 * The MSI-X capability (include/vireo/pci.h): message control (table size, function mask,
 * enable), the table (16 bytes per vector: address, data, vector control) and the pending-bit
 * array in BARs, as the PCI spec lays them out. Vectors start masked; a vector that fires while
 * masked sets its pending bit and is sent when unmasked.
 */
#include <string.h>
#include <glib.h>
#include "vireo/pci.h"

#define MSIX_CONTROL        2
#define MSIX_FLAGS_ENABLE   0x8000
#define MSIX_FLAGS_MASKALL  0x4000
#define MSIX_ENTRY_SIZE     16
#define MSIX_VECTOR_CTRL    12
#define MSIX_VECTOR_MASKBIT 1

static uint16_t control(const PCIDevice *d)
{
    return pci_get_word(d->config + d->msix_cap + MSIX_CONTROL);
}

bool msix_enabled(const PCIDevice *d)
{
    return d->msix_cap && (control(d) & MSIX_FLAGS_ENABLE);
}

static bool vector_masked(PCIDevice *d, unsigned v)
{
    return pci_get_long(d->msix_table + v * MSIX_ENTRY_SIZE + MSIX_VECTOR_CTRL) &
           MSIX_VECTOR_MASKBIT;
}

bool msix_is_masked(PCIDevice *d, unsigned vector)
{
    return (control(d) & MSIX_FLAGS_MASKALL) || vector_masked(d, vector);
}

void msix_get_message(PCIDevice *d, unsigned vector, uint64_t *addr, uint32_t *data)
{
    uint8_t *e = d->msix_table + vector * MSIX_ENTRY_SIZE;
    *addr = pci_get_quad(e);
    *data = pci_get_long(e + 8);
}

static bool pending(PCIDevice *d, unsigned v)
{
    return d->msix_pba[v / 8] & (1u << (v % 8));
}

static void set_pending(PCIDevice *d, unsigned v, bool on)
{
    if (on) {
        d->msix_pba[v / 8] |= (uint8_t)(1u << (v % 8));
    } else {
        d->msix_pba[v / 8] &= (uint8_t)~(1u << (v % 8));
    }
}

void msix_notify(PCIDevice *d, unsigned vector)
{
    if (!msix_enabled(d) || vector >= d->msix_entries) {
        return;
    }
    if (msix_is_masked(d, vector)) {
        set_pending(d, vector, true);
        return;
    }
    uint64_t addr;
    uint32_t data;
    msix_get_message(d, vector, &addr, &data);
    msi_send_message(addr, data);
}

/* A vector that became deliverable sends what it held back. */
static void release(PCIDevice *d, unsigned v)
{
    if (msix_enabled(d) && pending(d, v) && !msix_is_masked(d, v)) {
        set_pending(d, v, false);
        msix_notify(d, v);
    }
}

bool msix_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len, uint16_t old);
bool msix_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len, uint16_t old)
{
    (void)val;
    uint32_t c = d->msix_cap + MSIX_CONTROL;
    if (addr + len <= c || addr >= c + 2) {
        return false;
    }
    uint16_t now = control(d);
    if ((old ^ now) & (MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL)) {
        for (unsigned v = 0; v < d->msix_entries; v++) {
            release(d, v);
        }
    }
    return true;
}

static uint64_t table_read(void *opaque, uint64_t addr, unsigned size)
{
    PCIDevice *d = opaque;
    uint64_t v = 0;
    if (addr + size <= (uint64_t)d->msix_entries * MSIX_ENTRY_SIZE) {
        memcpy(&v, d->msix_table + addr, size);
    }
    return v;
}

static void table_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PCIDevice *d = opaque;
    if (addr + size > (uint64_t)d->msix_entries * MSIX_ENTRY_SIZE) {
        return;
    }
    unsigned v = (unsigned)(addr / MSIX_ENTRY_SIZE);
    memcpy(d->msix_table + addr, &val, size);
    /* bits 31:1 of vector control are reserved: read as zero */
    uint8_t *ctl = d->msix_table + v * MSIX_ENTRY_SIZE + MSIX_VECTOR_CTRL;
    pci_set_long(ctl, pci_get_long(ctl) & MSIX_VECTOR_MASKBIT);
    release(d, v);
}

static uint64_t pba_read(void *opaque, uint64_t addr, unsigned size)
{
    PCIDevice *d = opaque;
    uint64_t v = 0;
    unsigned bytes = (d->msix_entries + 7) / 8;
    for (unsigned i = 0; i < size; i++) {
        if (addr + i < bytes) {
            v |= (uint64_t)d->msix_pba[addr + i] << (8 * i);
        }
    }
    return v;
}

static void pba_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque; /* read-only */
    (void)addr;
    (void)val;
    (void)size;
}

static const MemoryRegionOps table_ops = {.read = table_read, .write = table_write};
static const MemoryRegionOps pba_ops = {.read = pba_read, .write = pba_write};

int msix_init(PCIDevice *d, unsigned nentries, MemoryRegion *table_bar_mr, uint8_t table_bar,
              uint32_t table_offset, MemoryRegion *pba_bar_mr, uint8_t pba_bar,
              uint32_t pba_offset, uint8_t cap_pos, char **errp)
{
    uint64_t table_size = (uint64_t)nentries * MSIX_ENTRY_SIZE;
    uint64_t pba_size = ((nentries + 63) / 64) * 8;
    if (nentries < 1 || nentries > 2048 || table_bar > 5 || pba_bar > 5 ||
        (table_offset & 7) || (pba_offset & 7) || table_offset + table_size > table_bar_mr->size ||
        pba_offset + pba_size > pba_bar_mr->size) {
        *errp = g_strdup("msix: invalid table/PBA layout");
        return -1;
    }
    int pos = pci_add_capability(d, PCI_CAP_ID_MSIX, cap_pos, 12, errp);
    if (pos < 0) {
        return -1;
    }
    d->msix_cap = (uint8_t)pos;
    d->msix_entries = nentries;
    d->msix_table = g_malloc0(table_size);
    d->msix_pba = g_malloc0(pba_size);
    d->msix_table_bytes = (uint32_t)table_size;
    d->msix_pba_bytes = (uint32_t)pba_size;
    pci_set_word(d->config + pos + MSIX_CONTROL, (uint16_t)(nentries - 1));
    pci_set_long(d->config + pos + 4, table_offset | table_bar);
    pci_set_long(d->config + pos + 8, pba_offset | pba_bar);
    d->wmask[pos + MSIX_CONTROL + 1] = (MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL) >> 8;
    for (unsigned v = 0; v < nentries; v++) {
        d->msix_table[v * MSIX_ENTRY_SIZE + MSIX_VECTOR_CTRL] = MSIX_VECTOR_MASKBIT;
    }
    memory_region_init_io(&d->msix_table_mmio, "msix-table", &table_ops, d, table_size);
    memory_region_add_subregion(table_bar_mr, table_offset, &d->msix_table_mmio, 0);
    memory_region_init_io(&d->msix_pba_mmio, "msix-pba", &pba_ops, d, pba_size);
    memory_region_add_subregion(pba_bar_mr, pba_offset, &d->msix_pba_mmio, 0);
    return pos;
}

int msix_init_exclusive_bar(PCIDevice *d, unsigned nentries, uint8_t bar_nr, char **errp)
{
    uint64_t table = (uint64_t)nentries * MSIX_ENTRY_SIZE;
    uint64_t pba_off = (table + 0x7ff) & ~0x7ffull; /* QEMU: the PBA at the next 2 KiB */
    uint64_t size = 4096;
    while (size < pba_off + ((nentries + 63) / 64) * 8) {
        size <<= 1;
    }
    memory_region_init_container(&d->msix_exclusive_bar, "msix", size);
    if (msix_init(d, nentries, &d->msix_exclusive_bar, bar_nr, 0, &d->msix_exclusive_bar, bar_nr,
                  (uint32_t)pba_off, 0, errp) < 0) {
        return -1;
    }
    pci_register_bar(d, bar_nr, PCI_BASE_ADDRESS_SPACE_MEMORY, &d->msix_exclusive_bar);
    return 0;
}

void msix_uninit(PCIDevice *d)
{
    if (!d->msix_cap) {
        return;
    }
    memory_region_destroy(&d->msix_table_mmio);
    memory_region_destroy(&d->msix_pba_mmio);
    g_free(d->msix_table);
    g_free(d->msix_pba);
    d->msix_table = d->msix_pba = NULL;
    d->msix_table_bytes = d->msix_pba_bytes = 0;
    d->msix_cap = 0;
    d->msix_entries = 0;
}

void msix_reset(PCIDevice *d)
{
    if (!d->msix_cap) {
        return;
    }
    pci_set_word(d->config + d->msix_cap + MSIX_CONTROL,
                 control(d) & ~(MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL));
    memset(d->msix_table, 0, (size_t)d->msix_entries * MSIX_ENTRY_SIZE);
    memset(d->msix_pba, 0, ((d->msix_entries + 63) / 64) * 8);
    for (unsigned v = 0; v < d->msix_entries; v++) {
        d->msix_table[v * MSIX_ENTRY_SIZE + MSIX_VECTOR_CTRL] = MSIX_VECTOR_MASKBIT;
    }
}
