/*
 * PCI semantics (hw/pci): config-space masks, BAR sizing and mapping through the memory map
 * (decode bits, over RAM, overlapping, 64-bit), the capability builder, INTx wired-OR sharing
 * with INTx disable, MSI and MSI-X (table, masking, pending bits), slot allocation and QEMU's
 * errors, device properties and help, and a device's saved state round trip (edu).
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "../lib/unit.h"
#include "vireo/accel.h"
#include "vireo/device.h"
#include "vireo/pci.h"
#include "vireo/timer.h"
#include "vireo/vmstate.h"

static PCIBus *bus;
static int intx_level[4], intx_changes;

static int route(PCIDevice *d, int pin)
{
    return (PCI_SLOT(d->devfn) + pin - 1) & 3;
}

static void set_intx(void *opaque, int input, int level)
{
    (void)opaque;
    intx_level[input] = level;
    intx_changes++;
}

static uint64_t msi_addr[16];
static uint32_t msi_data[16];
static int n_msi;

static void record_msi(uint64_t addr, uint32_t data)
{
    if (n_msi < 16) {
        msi_addr[n_msi] = addr;
        msi_data[n_msi] = data;
    }
    n_msi++;
}

static const AccelOps test_accel = {.name = "test", .send_msi = record_msi};

static uint32_t cfg_r(PCIDevice *d, uint32_t addr, unsigned len)
{
    return pci_bus_config_read(bus, (uint8_t)d->devfn, addr, len);
}

static void cfg_w(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    pci_bus_config_write(bus, (uint8_t)d->devfn, addr, val, len);
}

static uint32_t mem_r(uint64_t addr)
{
    uint32_t v = 0;
    mmio_dispatch(addr, &v, 4, false);
    return v;
}

static void mem_w(uint64_t addr, uint32_t v)
{
    mmio_dispatch(addr, &v, 4, true);
}

/* A device with MSI-X (8 vectors, own BAR 1) and a 64-bit prefetchable BAR 2. */
typedef struct MSIXTest {
    PCIDevice pci;
    MemoryRegion big;
} MSIXTest;

static uint64_t zero_read(void *o, uint64_t a, unsigned s)
{
    (void)o;
    (void)a;
    (void)s;
    return 0x600d;
}

static const MemoryRegionOps zero_ops = {.read = zero_read};

static bool msixtest_realize(Device *dev, char **errp)
{
    MSIXTest *s = (MSIXTest *)dev;
    if (msix_init_exclusive_bar(&s->pci, 8, 1, errp) < 0) {
        return false;
    }
    memory_region_init_io(&s->big, "big", &zero_ops, s, 1ull << 32);
    pci_register_bar(&s->pci, 2,
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH, &s->big);
    return true;
}

static void msixtest_unrealize(Device *dev)
{
    MSIXTest *s = (MSIXTest *)dev;
    memory_region_destroy(&s->big);
}

static const PCIDeviceInfo msixtest_pci = {.vendor_id = 0x1af4, .device_id = 0x10ff};
static const DeviceInfo msixtest_info = {
    .name = "msix-test",
    .bus = BUS_PCI,
    .instance_size = sizeof(MSIXTest),
    .realize = msixtest_realize,
    .unrealize = msixtest_unrealize,
    .pci = &msixtest_pci,
};

int main(void)
{
    static MemoryRegion pci_space, pci_alias, ram;
    uint8_t *host = calloc(1, 16 << 20);
    current_accel = &test_accel;
    memory_region_init_ram_ptr(&ram, "ram", 16 << 20, host);
    memory_region_add_subregion(get_system_memory(), 0, &ram, 0);
    memory_region_init_container(&pci_space, "pci", UINT64_MAX);
    memory_region_init_alias(&pci_alias, "pci-hole", &pci_space, 0, UINT64_MAX);
    memory_region_add_subregion(get_system_memory(), 0, &pci_alias, -1);
    bus = pci_bus_new("pci.0", &pci_space, get_system_io(), route, set_intx, NULL, 4);
    device_set_machine_buses(true);

    Device *e1 = device_create_simple("edu", "addr", "02.0", NULL);
    PCIDevice *d = PCI_DEVICE(e1);
    CHECK("pci/created", e1 && d->devfn == PCI_DEVFN(2, 0));

    /* IDs and read-only header bytes */
    CHECK("cfg/ids", cfg_r(d, 0, 4) == 0x11e81234 && cfg_r(d, 8, 4) == 0x00ff0010);
    CHECK("cfg/subsystem", cfg_r(d, 0x2c, 4) == 0x11001af4);
    cfg_w(d, 0, 0xffffffff, 4);
    CHECK("cfg/vendor-readonly", cfg_r(d, 0, 4) == 0x11e81234);
    cfg_w(d, 0x0d, 0x40, 1);
    CHECK("cfg/latency-readonly", cfg_r(d, 0x0d, 1) == 0);
    cfg_w(d, 0x3c, 0x0b, 1);
    CHECK("cfg/interrupt-line-rw", cfg_r(d, 0x3c, 1) == 0x0b && cfg_r(d, 0x3d, 1) == 1);
    cfg_w(d, 0x04, 0xffff, 2);
    CHECK("cfg/command-mask", cfg_r(d, 4, 2) == 0x0507);
    d->config[0x07] |= 0x80; /* a device-reported error: write 1 to clear */
    cfg_w(d, 0x06, 0x0000, 2);
    CHECK("cfg/status-w1c-keeps-on-0", cfg_r(d, 6, 2) & 0x8000);
    cfg_w(d, 0x06, 0x8000, 2);
    CHECK("cfg/status-w1c-clears", !(cfg_r(d, 6, 2) & 0x8000) && (cfg_r(d, 6, 2) & 0x10));
    cfg_w(d, 0x04, 0, 2);

    /* BAR sizing and mapping */
    cfg_w(d, 0x10, 0xffffffff, 4);
    CHECK("bar/sizing-1M", cfg_r(d, 0x10, 4) == 0xfff00000);
    cfg_w(d, 0x10, 0xfe000000, 4);
    CHECK("bar/unmapped-without-decode", mem_r(0xfe000000) == 0);
    cfg_w(d, 0x04, PCI_COMMAND_MEMORY, 2);
    CHECK("bar/mapped", mem_r(0xfe000000) == 0x010000ed &&
                            pci_get_bar_addr(d, 0) == 0xfe000000);
    cfg_w(d, 0x10, 0xfe100000, 4);
    CHECK("bar/moved", mem_r(0xfe100000) == 0x010000ed && mem_r(0xfe000000) == 0);
    cfg_w(d, 0x10, 0x00100000, 4);
    host[0x100000] = 0x42;
    CHECK("bar/over-ram-hidden", (mem_r(0x100000) & 0xff) == 0x42);
    cfg_w(d, 0x10, 0, 4);
    CHECK("bar/zero-unmapped", pci_get_bar_addr(d, 0) == PCI_BAR_UNMAPPED);
    cfg_w(d, 0x10, 0xfff00000, 4); /* ends at 4 GiB - 1: QEMU's rule keeps it unmapped */
    CHECK("bar/last-at-4g-unmapped", pci_get_bar_addr(d, 0) == PCI_BAR_UNMAPPED);

    /* overlapping BARs: the one mapped last wins, the other shows again when it leaves */
    Device *e2 = device_create_simple("edu", "addr", "06.0", NULL);
    PCIDevice *d2 = PCI_DEVICE(e2);
    cfg_w(d, 0x10, 0xfe000000, 4);
    cfg_w(d, 0x04, PCI_COMMAND_MEMORY, 2);
    mem_w(0xfe000004, 0x1111); /* d's liveness register */
    cfg_w(d2, 0x10, 0xfe000000, 4);
    cfg_w(d2, 0x04, PCI_COMMAND_MEMORY, 2);
    mem_w(0xfe000004, 0x2222);
    CHECK("bar/overlap-last-wins", mem_r(0xfe000004) == (uint32_t)~0x2222u);
    cfg_w(d2, 0x10, 0xfd000000, 4);
    CHECK("bar/overlap-uncovered", mem_r(0xfe000004) == (uint32_t)~0x1111u &&
                                       mem_r(0xfd000004) == (uint32_t)~0x2222u);

    /* INTx: slots 2 and 6 share PIRQ B; wired-OR; INTx disable masks */
    pci_set_irq(d, 1);
    CHECK("intx/assert", intx_level[1] == 1 && (cfg_r(d, 6, 2) & PCI_STATUS_INTERRUPT));
    pci_set_irq(d2, 1);
    pci_set_irq(d, 0);
    CHECK("intx/shared-stays-high", intx_level[1] == 1);
    pci_set_irq(d2, 0);
    CHECK("intx/shared-low", intx_level[1] == 0);
    pci_set_irq(d, 1);
    cfg_w(d, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 2);
    CHECK("intx/disable-masks", intx_level[1] == 0);
    cfg_w(d, 0x04, PCI_COMMAND_MEMORY, 2);
    CHECK("intx/enable-restores", intx_level[1] == 1);
    pci_set_irq(d, 0);

    /* MSI (edu: cap at 0x40, one vector, 64-bit) */
    CHECK("msi/cap", cfg_r(d, 0x34, 1) == 0x40 && cfg_r(d, 0x40, 1) == 0x05 &&
                         (cfg_r(d, 0x42, 2) & 0x80));
    cfg_w(d, 0x44, 0xfee01000, 4);
    cfg_w(d, 0x48, 0, 4);
    cfg_w(d, 0x4c, 0x4041, 2);
    cfg_w(d, 0x42, 0x0001, 2);
    n_msi = 0;
    mem_w(0xfe000060, 1); /* edu: raise interrupt */
    CHECK("msi/sent", n_msi == 1 && msi_addr[0] == 0xfee01000 && msi_data[0] == 0x4041 &&
                          intx_level[1] == 0);
    mem_w(0xfe000064, 1);
    cfg_w(d, 0x42, 0, 2);

    /* capabilities: the builder links new ones at the head, refuses overlaps */
    char *err = NULL;
    int vpos = pci_add_capability(d2, PCI_CAP_ID_VNDR, 0, 8, &err);
    CHECK("cap/auto-offset", vpos == 0x4e && cfg_r(d2, 0x34, 1) == 0x4e &&
                                 cfg_r(d2, 0x4f, 1) == 0x40 && pci_find_capability(d2, 5) == 0x40);
    CHECK("cap/overlap-refused", pci_add_capability(d2, 0x09, 0x44, 4, &err) < 0 && err);
    g_free(err);
    err = NULL;

    /* MSI-X with a 64-bit BAR */
    Device *mx = device_new(&msixtest_info);
    PCIDevice *x = PCI_DEVICE(mx);
    x->devfn = PCI_DEVFN(4, 0);
    CHECK("msix/realize", device_realize(mx, &err));
    uint8_t cap = pci_find_capability(x, PCI_CAP_ID_MSIX);
    CHECK("msix/cap", cap && (cfg_r(x, cap + 2, 2) & 0x7ff) == 7 && cfg_r(x, cap + 4, 4) == 1 &&
                          cfg_r(x, cap + 8, 4) == (0x800 | 1));
    cfg_w(x, 0x18, 0xffffffff, 4);
    cfg_w(x, 0x1c, 0xffffffff, 4);
    CHECK("bar/64-sizing", cfg_r(x, 0x18, 4) == 0x0000000c && cfg_r(x, 0x1c, 4) == 0xffffffff);
    cfg_w(x, 0x18, 0x0000000c, 4);
    cfg_w(x, 0x1c, 0x00000001, 4);
    cfg_w(x, 0x14, 0xfe200000, 4);
    cfg_w(x, 0x04, PCI_COMMAND_MEMORY, 2);
    CHECK("bar/64-above-4g", pci_get_bar_addr(x, 2) == 0x100000000ull &&
                                 mem_r(0x100000010) == 0x600d);
    cfg_w(x, cap + 2, 0x8000, 2); /* enable */
    mem_w(0xfe200000 + 16 * 3, 0xfee00000);
    mem_w(0xfe200000 + 16 * 3 + 4, 0);
    mem_w(0xfe200000 + 16 * 3 + 8, 0x51);
    n_msi = 0;
    msix_notify(x, 3);
    CHECK("msix/masked-pends", n_msi == 0 && (mem_r(0xfe200800) & (1u << 3)));
    mem_w(0xfe200000 + 16 * 3 + 12, 0); /* unmask */
    CHECK("msix/unmask-sends", n_msi == 1 && msi_data[0] == 0x51 &&
                                   !(mem_r(0xfe200800) & (1u << 3)));
    cfg_w(x, cap + 2, 0xc000, 2); /* function mask */
    msix_notify(x, 3);
    CHECK("msix/function-mask", n_msi == 1 && (mem_r(0xfe200800) & (1u << 3)));
    cfg_w(x, cap + 2, 0x8000, 2);
    CHECK("msix/function-unmask-sends", n_msi == 2);
    mem_w(0xfe200800, 0xffffffff);
    CHECK("msix/pba-readonly", mem_r(0xfe200800) == 0);
    CHECK("msix/past-table-unassigned", mem_r(0xfe200000 + 16 * 9) == 0);

    /* slot allocation and QEMU's errors */
    DeviceConfig dc = {.driver = "edu", .n_props = 1};
    char *keys[] = {"addr"}, *vals[] = {"02.0"};
    dc.prop_keys = keys;
    dc.prop_values = vals;
    CHECK("slot/in-use", !device_create_from_config(&dc, false, &err) && err &&
                             !strcmp(err, "PCI: slot 2 function 0 not available for edu, in use "
                                          "by edu,id=(null)"));
    g_free(err);
    err = NULL;
    vals[0] = "02.3";
    CHECK("slot/single-function", !device_create_from_config(&dc, false, &err) && err &&
                                      !strcmp(err, "PCI: single function device can't be "
                                                   "populated in function 2.3"));
    g_free(err);
    err = NULL;
    vals[0] = "0x20";
    CHECK("prop/devfn-bad", !device_create_from_config(&dc, false, &err) && err &&
                                !strcmp(err, "Property 'edu.addr' doesn't take value '0x20'"));
    g_free(err);
    err = NULL;
    keys[0] = "dma_mask";
    vals[0] = "x";
    CHECK("prop/uint64-bad", !device_create_from_config(&dc, true, &err) && err &&
                                 !strcmp(err, "Parameter 'dma_mask' expects integer"));
    g_free(err);
    err = NULL;
    keys[0] = "multifunction";
    vals[0] = "maybe";
    CHECK("prop/bool-bad", !device_create_from_config(&dc, true, &err) && err &&
                               !strcmp(err, "Parameter 'multifunction' expects 'on' or 'off'"));
    g_free(err);
    err = NULL;
    char kinds[] = {'s'};
    dc.prop_kinds = kinds;
    vals[0] = "on";
    CHECK("prop/json-bool-type", !device_create_from_config(&dc, true, &err) && err &&
                                     !strcmp(err, "Invalid parameter type for 'multifunction', "
                                                  "expected: boolean"));
    g_free(err);
    err = NULL;
    dc.prop_kinds = NULL;
    Device *auto_dev = NULL;
    dc.n_props = 0;
    auto_dev = device_create_from_config(&dc, false, &err);
    CHECK("slot/auto-first-free", auto_dev && PCI_DEVICE(auto_dev)->devfn == PCI_DEVFN(0, 0));

    /* saved state: a running edu into a fresh instance */
    mem_w(0xfe000004, 0x12345678);
    mem_w(0xfe000080, 0x1000);
    mem_w(0xfe000098, 0x5); /* DMA running, interrupt when done */
    GByteArray *st = g_byte_array_new();
    vmstate_save(e1->info->vmsd, e1, st);
    Device *fresh = device_new(e1->info);
    PCIDevice *f = PCI_DEVICE(fresh);
    f->devfn = PCI_DEVFN(7, 0);
    CHECK("state/fresh-realize", device_realize(fresh, &err));
    size_t used = 0;
    CHECK("state/load", vmstate_load(e1->info->vmsd, fresh, st->data, st->len, &used, &err) &&
                            used == st->len);
    CHECK("state/config-equal", !memcmp(f->config + 0x10, d->config + 0x10, 0x30));
    /* the loaded copy decodes the same BAR: d moves away so f answers there */
    cfg_w(d, 0x04, 0, 2);
    CHECK("state/registers-equal", mem_r(0xfe000004) == (uint32_t)~0x12345678u &&
                                       mem_r(0xfe000098) == 0x5 && mem_r(0xfe000080) == 0x1000);
    CHECK("state/short-stream", !vmstate_load(e1->info->vmsd, fresh, st->data, 10, &used, &err));
    g_free(err);
    err = NULL;
    st->data[3] = 9; /* version 9 */
    CHECK("state/bad-version", !vmstate_load(e1->info->vmsd, fresh, st->data, st->len, &used,
                                             &err) &&
                                   err && strstr(err, "version 9"));
    g_free(err);
    g_byte_array_free(st, TRUE);

    devices_destroy_all();
    pci_bus_free(bus);
    io_reset_all();
    vtimers_reset();
    free(host);
    UNIT_EXIT();
}
