/*
 * PCI bus 0 and the generic part of every PCI function (include/vireo/pci.h): config space with
 * QEMU's masks, BARs through the memory map, the capability list builder, INTx with wired-OR
 * sharing through the host's router, bus-master DMA, the expansion ROM, and the glue that lets
 * the device registry realize PCI devices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/loader.h"
#include "vireo/pci.h"

struct PCIBus {
    char *name;
    MemoryRegion *mem, *io;
    PCIDevice *devices[256];
    int (*route_intx)(PCIDevice *d, int pin);
    void (*set_intx)(void *opaque, int input, int level);
    void *opaque;
    int n_inputs;
    int *input_count; /* devices asserting each input (wired-OR) */
    const PCIHotplugOps *hotplug;
    void *hotplug_opaque;
};

static PCIBus *the_bus; /* the PC has one: pci.0 */

PCIBus *pci_bus_new(const char *name, MemoryRegion *mem, MemoryRegion *io,
                    int (*route_intx)(PCIDevice *d, int pin),
                    void (*set_intx)(void *opaque, int input, int level), void *opaque,
                    int n_inputs)
{
    PCIBus *b = g_new0(PCIBus, 1);
    b->name = g_strdup(name);
    b->mem = mem;
    b->io = io;
    b->route_intx = route_intx;
    b->set_intx = set_intx;
    b->opaque = opaque;
    b->n_inputs = n_inputs;
    b->input_count = g_new0(int, n_inputs > 0 ? n_inputs : 1);
    the_bus = b;
    return b;
}

void pci_bus_free(PCIBus *bus)
{
    if (!bus) {
        return;
    }
    if (the_bus == bus) {
        the_bus = NULL;
    }
    g_free(bus->input_count);
    g_free(bus->name);
    g_free(bus);
}

PCIBus *pci_bus_find(const char *name)
{
    return the_bus && (!name || !strcmp(name, the_bus->name)) ? the_bus : NULL;
}

PCIDevice *pci_bus_device(PCIBus *bus, uint8_t devfn)
{
    return bus ? bus->devices[devfn] : NULL;
}

void pci_bus_set_hotplug(PCIBus *bus, const PCIHotplugOps *ops, void *opaque)
{
    if (bus) {
        bus->hotplug = ops;
        bus->hotplug_opaque = opaque;
    }
}

bool pci_device_hotplug_plug(PCIDevice *d, char **errp)
{
    PCIBus *bus = d->bus;
    if (!bus || !bus->hotplug) {
        *errp = g_strdup_printf("Bus '%s' does not support hotplugging",
                                bus ? bus->name : "pci.0");
        return false;
    }
    bus->hotplug->plug(bus->hotplug_opaque, d);
    return true;
}

bool pci_device_unplug_request(PCIDevice *d, char **errp)
{
    PCIBus *bus = d->bus;
    if (!bus || !bus->hotplug) {
        *errp = g_strdup_printf("Bus '%s' does not support hotplugging",
                                bus ? bus->name : "pci.0");
        return false;
    }
    bus->hotplug->unplug_request(bus->hotplug_opaque, d);
    return true;
}

/* ---- config space ---------------------------------------------------------------------- */

static bool overlaps(uint32_t a, unsigned alen, uint32_t b, unsigned blen)
{
    return a < b + blen && b < a + alen;
}

uint32_t pci_default_read_config(PCIDevice *d, uint32_t addr, unsigned len)
{
    uint32_t v = 0;
    memcpy(&v, d->config + addr, len);
    return v;
}

bool msi_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
bool msix_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len, uint16_t old);
static void update_irq(PCIDevice *d);

void pci_default_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    uint16_t old_cmd = pci_get_word(d->config + PCI_COMMAND);
    uint16_t old_msix = d->msix_cap ? pci_get_word(d->config + d->msix_cap + 2) : 0;
    for (unsigned i = 0; i < len; i++) {
        uint32_t a = addr + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t w = d->wmask[a], c = d->w1cmask[a];
        d->config[a] = (uint8_t)((d->config[a] & ~w) | (b & w));
        d->config[a] &= (uint8_t)~(b & c);
    }
    if (overlaps(addr, len, PCI_BASE_ADDRESS_0, 24) || overlaps(addr, len, PCI_ROM_ADDRESS, 4) ||
        overlaps(addr, len, PCI_COMMAND, 2)) {
        pci_update_mappings(d);
    }
    if (overlaps(addr, len, PCI_COMMAND, 2) &&
        ((old_cmd ^ pci_get_word(d->config + PCI_COMMAND)) & PCI_COMMAND_INTX_DISABLE)) {
        update_irq(d);
    }
    if (d->msi_cap) {
        msi_write_config(d, addr, val, len);
    }
    if (d->msix_cap) {
        msix_write_config(d, addr, val, len, old_msix);
    }
}

uint32_t pci_bus_config_read(PCIBus *bus, uint8_t devfn, uint32_t addr, unsigned len)
{
    PCIDevice *d = bus ? bus->devices[devfn] : NULL;
    if (!d || len == 0 || len > 4 || addr + len > PCI_CONFIG_SPACE_SIZE) {
        return len >= 4 ? 0xffffffffu : (1u << (len * 8)) - 1;
    }
    const PCIDeviceInfo *pi = d->dev.info->pci;
    return pi && pi->config_read ? pi->config_read(d, addr, len)
                                 : pci_default_read_config(d, addr, len);
}

void pci_bus_config_write(PCIBus *bus, uint8_t devfn, uint32_t addr, uint32_t val, unsigned len)
{
    PCIDevice *d = bus ? bus->devices[devfn] : NULL;
    if (!d || len == 0 || len > 4 || addr + len > PCI_CONFIG_SPACE_SIZE) {
        return;
    }
    const PCIDeviceInfo *pi = d->dev.info->pci;
    memory_transaction_begin();
    if (pi && pi->config_write) {
        pi->config_write(d, addr, val, len);
    } else {
        pci_default_write_config(d, addr, val, len);
    }
    memory_transaction_commit();
}

/* ---- BARs ------------------------------------------------------------------------------- */

void pci_register_bar(PCIDevice *d, int region, uint8_t type, MemoryRegion *mr)
{
    PCIIORegion *r = &d->io_regions[region];
    uint64_t size = mr->size;
    r->size = size;
    r->type = type;
    r->mr = mr;
    r->addr = PCI_BAR_UNMAPPED;
    r->container = (type & PCI_BASE_ADDRESS_SPACE_IO) ? d->bus->io : d->bus->mem;
    uint32_t reg = region == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * region;
    uint64_t wmask = ~(size - 1);
    if (region == PCI_ROM_SLOT) {
        wmask |= PCI_ROM_ADDRESS_ENABLE;
        type = 0;
    }
    pci_set_long(d->config + reg, type);
    if (!(type & PCI_BASE_ADDRESS_SPACE_IO) && (type & PCI_BASE_ADDRESS_MEM_TYPE_64)) {
        pci_set_quad(d->wmask + reg, wmask);
        pci_set_quad(d->config + reg, type);
    } else {
        pci_set_long(d->wmask + reg, (uint32_t)wmask);
    }
}

/* Where the BAR's config says it should be, or PCI_BAR_UNMAPPED (QEMU's rules). */
static uint64_t bar_address(PCIDevice *d, int region)
{
    PCIIORegion *r = &d->io_regions[region];
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    uint32_t reg = region == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * region;
    uint64_t size = r->size, addr, last;
    if (r->type & PCI_BASE_ADDRESS_SPACE_IO) {
        if (!(cmd & PCI_COMMAND_IO)) {
            return PCI_BAR_UNMAPPED;
        }
        addr = pci_get_long(d->config + reg) & ~(size - 1);
        last = addr + size - 1;
        if (last <= addr || last >= UINT32_MAX || addr == 0) {
            return PCI_BAR_UNMAPPED;
        }
        return addr;
    }
    if (!(cmd & PCI_COMMAND_MEMORY)) {
        return PCI_BAR_UNMAPPED;
    }
    bool is64 = region != PCI_ROM_SLOT && (r->type & PCI_BASE_ADDRESS_MEM_TYPE_64);
    addr = is64 ? pci_get_quad(d->config + reg) : pci_get_long(d->config + reg);
    if (region == PCI_ROM_SLOT && !(addr & PCI_ROM_ADDRESS_ENABLE)) {
        return PCI_BAR_UNMAPPED;
    }
    addr &= ~(size - 1);
    last = addr + size - 1;
    if (last <= addr || last == PCI_BAR_UNMAPPED || addr == 0) {
        return PCI_BAR_UNMAPPED;
    }
    if (!is64 && last >= UINT32_MAX) {
        return PCI_BAR_UNMAPPED;
    }
    return addr;
}

void pci_update_mappings(PCIDevice *d)
{
    memory_transaction_begin();
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &d->io_regions[i];
        if (!r->size || !r->mr) {
            continue;
        }
        uint64_t addr = bar_address(d, i);
        if (addr == r->addr) {
            continue;
        }
        if (r->addr != PCI_BAR_UNMAPPED) {
            memory_region_del_subregion(r->container, r->mr);
        }
        r->addr = addr;
        if (addr != PCI_BAR_UNMAPPED) {
            /* priority 1 inside the PCI space, as QEMU maps BARs */
            memory_region_add_subregion(r->container, addr, r->mr, 1);
        }
    }
    memory_transaction_commit();
}

uint64_t pci_get_bar_addr(PCIDevice *d, int region)
{
    return d->io_regions[region].addr;
}

/* ---- capabilities ------------------------------------------------------------------------ */

uint8_t pci_find_capability(PCIDevice *d, uint8_t id)
{
    if (!(pci_get_word(d->config + PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return 0;
    }
    uint8_t pos = d->config[PCI_CAPABILITY_LIST];
    for (int n = 0; pos && n < 48; n++) {
        if (d->config[pos] == id) {
            return pos;
        }
        pos = d->config[pos + 1];
    }
    return 0;
}

int pci_add_capability(PCIDevice *d, uint8_t id, uint8_t offset, uint8_t size, char **errp)
{
    if (size < 2) {
        size = 2;
    }
    if (!offset) {
        /* the first free run of size bytes above the header (QEMU's pci_find_space) */
        unsigned start = PCI_CONFIG_HEADER_SIZE;
        for (unsigned i = PCI_CONFIG_HEADER_SIZE; i < PCI_CONFIG_SPACE_SIZE; i++) {
            if (d->used[i]) {
                start = i + 1;
            } else if (i - start + 1 == size) {
                offset = (uint8_t)start;
                break;
            }
        }
        if (!offset) {
            *errp = g_strdup_printf("no space for capability 0x%x of %s", id,
                                    d->dev.info->name);
            return -1;
        }
    } else {
        if (offset < PCI_CONFIG_HEADER_SIZE || offset + size > PCI_CONFIG_SPACE_SIZE) {
            *errp = g_strdup_printf("capability 0x%x at 0x%x does not fit", id, offset);
            return -1;
        }
        for (unsigned i = 0; i < size; i++) {
            if (d->used[offset + i]) {
                *errp = g_strdup_printf("%s:%02x.%x Attempt to add PCI capability %x at "
                                        "offset %x overlaps existing capability at offset %x",
                                        d->bus ? d->bus->name : "pci.0", PCI_SLOT(d->devfn),
                                        PCI_FUNC(d->devfn), id, offset, offset + i);
                return -1;
            }
        }
    }
    d->config[offset] = id;
    d->config[offset + 1] = d->config[PCI_CAPABILITY_LIST];
    d->config[PCI_CAPABILITY_LIST] = offset;
    pci_set_word(d->config + PCI_STATUS,
                 pci_get_word(d->config + PCI_STATUS) | PCI_STATUS_CAP_LIST);
    memset(d->used + offset, 0xff, size);
    /* the capability body is read-only unless the capability's code opens bits */
    memset(d->wmask + offset, 0, size);
    memset(d->w1cmask + offset, 0, size);
    return offset;
}

void pci_del_capability(PCIDevice *d, uint8_t id, uint8_t size)
{
    uint8_t *prev = &d->config[PCI_CAPABILITY_LIST];
    for (int n = 0; *prev && n < 48; n++) {
        uint8_t pos = *prev;
        if (d->config[pos] == id) {
            *prev = d->config[pos + 1];
            memset(d->config + pos, 0, size);
            memset(d->used + pos, 0, size);
            memset(d->wmask + pos, 0xff, size);
            if (!d->config[PCI_CAPABILITY_LIST]) {
                pci_set_word(d->config + PCI_STATUS,
                             pci_get_word(d->config + PCI_STATUS) & ~PCI_STATUS_CAP_LIST);
            }
            return;
        }
        prev = &d->config[pos + 1];
    }
}

/* ---- INTx -------------------------------------------------------------------------------- */

static int intx_pin(PCIDevice *d)
{
    int pin = d->config[PCI_INTERRUPT_PIN];
    return pin >= 1 && pin <= 4 ? pin - 1 : -1;
}

int pci_bus_intx_input(PCIBus *bus, PCIDevice *d, int pin)
{
    if (!bus || !bus->route_intx) {
        return -1;
    }
    int in = bus->route_intx(d, pin);
    return in >= 0 && in < bus->n_inputs ? in : -1;
}

/* The level the bus sees: the device's, unless INTx disable is set. */
static int effective_level(PCIDevice *d)
{
    return d->irq_state && !(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
}

/* Bring the bus's wired-OR count in line with the device's effective level. */
static void update_irq(PCIDevice *d)
{
    PCIBus *bus = d->bus;
    int pin = intx_pin(d);
    if (!bus || pin < 0) {
        return;
    }
    int in = pci_bus_intx_input(bus, d, pin);
    int level = effective_level(d);
    /* bit 0 of used[PCI_STATUS] records what the bus counted (config bytes are full) */
    bool counted = d->irq_counted;
    if (in < 0 || level == counted) {
        return;
    }
    d->irq_counted = level;
    int before = bus->input_count[in];
    bus->input_count[in] += level ? 1 : -1;
    if ((before == 0) != (bus->input_count[in] == 0) && bus->set_intx) {
        bus->set_intx(bus->opaque, in, bus->input_count[in] != 0);
    }
}

void pci_set_irq(PCIDevice *d, int level)
{
    level = level != 0;
    d->irq_state = level;
    uint16_t st = pci_get_word(d->config + PCI_STATUS);
    pci_set_word(d->config + PCI_STATUS,
                 level ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT);
    update_irq(d);
}

/* ---- DMA ----------------------------------------------------------------------------------- */

DMAResult pci_dma_read(PCIDevice *d, uint64_t addr, void *buf, uint64_t len)
{
    if (!(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        return DMA_ERR_UNMAPPED;
    }
    return dma_read(addr, buf, len);
}

DMAResult pci_dma_write(PCIDevice *d, uint64_t addr, const void *buf, uint64_t len)
{
    if (!(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        return DMA_ERR_UNMAPPED;
    }
    return dma_write(addr, buf, len);
}

/* ---- reset and the registry glue --------------------------------------------------------- */

void msix_reset(PCIDevice *d);
void msi_reset(PCIDevice *d);

void pci_device_reset(PCIDevice *d)
{
    pci_set_word(d->config + PCI_COMMAND,
                 pci_get_word(d->config + PCI_COMMAND) & ~pci_get_word(d->wmask + PCI_COMMAND));
    pci_set_word(d->config + PCI_STATUS, pci_get_word(d->config + PCI_STATUS) &
                                             ~pci_get_word(d->w1cmask + PCI_STATUS));
    d->config[PCI_CACHE_LINE_SIZE] = 0;
    d->config[PCI_INTERRUPT_LINE] = 0;
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &d->io_regions[i];
        if (!r->size) {
            continue;
        }
        uint32_t reg = i == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * i;
        uint8_t type = i == PCI_ROM_SLOT ? 0 : r->type;
        if (!(type & PCI_BASE_ADDRESS_SPACE_IO) && (type & PCI_BASE_ADDRESS_MEM_TYPE_64)) {
            pci_set_quad(d->config + reg, type);
        } else {
            pci_set_long(d->config + reg, type);
        }
    }
    pci_set_irq(d, 0);
    msi_reset(d);
    msix_reset(d);
    pci_update_mappings(d);
}

const Property pci_device_props[] = {
    DEFINE_PROP_UINT32("acpi-index", PCIDevice, acpi_index, 0),
    DEFINE_PROP_(("addr"), PROP_PCI_DEVFN, PCIDevice, devfn, true, .def.i = -1),
    DEFINE_PROP_STRING("failover_pair_id", PCIDevice, failover_pair_id),
    DEFINE_PROP_BIT("multifunction", PCIDevice, multifunction, false),
    DEFINE_PROP_UINT32("rombar", PCIDevice, rombar, 1),
    DEFINE_PROP_STRING("romfile", PCIDevice, romfile),
    DEFINE_PROP_UINT32("romsize", PCIDevice, romsize, 0xffffffffu),
    DEFINE_PROP_BIT("x-pcie-extcap-init", PCIDevice, x_pcie_extcap_init, true),
    DEFINE_PROP_BIT("x-pcie-lnksta-dllla", PCIDevice, x_pcie_lnksta_dllla, true),
    DEFINE_PROP_END,
};

static bool devfn_free(PCIBus *bus, int devfn)
{
    return !bus->devices[devfn];
}

/* QEMU's do_pci_register_device checks, in its order. */
static bool plug(PCIBus *bus, PCIDevice *d, char **errp)
{
    const char *name = d->dev.info->name;
    int devfn = d->devfn;
    if (devfn < 0) {
        for (devfn = 0; devfn < 256; devfn += 8) {
            if (devfn_free(bus, devfn)) {
                break;
            }
        }
        if (devfn >= 256) {
            *errp = g_strdup_printf("PCI: no slot/function available for %s, all in use or "
                                    "reserved",
                                    name);
            return false;
        }
    } else if (!devfn_free(bus, devfn)) {
        PCIDevice *o = bus->devices[devfn];
        *errp = g_strdup_printf("PCI: slot %d function %d not available for %s, in use by "
                                "%s,id=%s",
                                PCI_SLOT(devfn), PCI_FUNC(devfn), name, o->dev.info->name,
                                o->dev.id ? o->dev.id : "(null)");
        return false;
    }
    int slot = PCI_SLOT(devfn);
    if (PCI_FUNC(devfn)) {
        PCIDevice *f0 = bus->devices[PCI_DEVFN(slot, 0)];
        if (f0 && !f0->multifunction) {
            *errp = g_strdup_printf("PCI: single function device can't be populated in "
                                    "function %x.%x",
                                    slot, PCI_FUNC(devfn));
            return false;
        }
    } else if (!d->multifunction) {
        for (int fn = 1; fn < 8; fn++) {
            if (bus->devices[PCI_DEVFN(slot, fn)]) {
                *errp = g_strdup_printf("PCI: %x.0 indicates single function, but %x.%x is "
                                        "already populated.",
                                        slot, slot, fn);
                return false;
            }
        }
    }
    d->devfn = devfn;
    d->bus = bus;
    bus->devices[devfn] = d;
    return true;
}

static void init_config(PCIDevice *d)
{
    const PCIDeviceInfo *pi = d->dev.info->pci;
    pci_set_word(d->config + PCI_VENDOR_ID, pi->vendor_id);
    pci_set_word(d->config + PCI_DEVICE_ID, pi->device_id);
    d->config[PCI_REVISION_ID] = pi->revision;
    d->config[PCI_CLASS_PROG] = (uint8_t)pi->class_code;
    pci_set_word(d->config + PCI_CLASS_DEVICE, (uint16_t)(pi->class_code >> 8));
    pci_set_word(d->config + PCI_STATUS, pi->status);
    if (!pi->no_subsystem) {
        pci_set_word(d->config + PCI_SUBSYSTEM_VENDOR_ID,
                     pi->subsystem_vendor_id ? pi->subsystem_vendor_id : 0x1af4);
        pci_set_word(d->config + PCI_SUBSYSTEM_ID, pi->subsystem_id ? pi->subsystem_id : 0x1100);
    }
    if (d->multifunction) {
        d->config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
    }
    /* QEMU's pci_init_wmask / w1cmask */
    pci_set_word(d->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
                                             PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE |
                                             PCI_COMMAND_SERR);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    memset(d->wmask + PCI_CONFIG_HEADER_SIZE, 0xff,
           PCI_CONFIG_SPACE_SIZE - PCI_CONFIG_HEADER_SIZE);
    pci_set_word(d->w1cmask + PCI_STATUS, 0xf900); /* parity, aborts, SERR, detected parity */
    memset(d->used, 0xff, PCI_CONFIG_HEADER_SIZE);
}

/* The expansion ROM from romfile= (rombar=0: none). */
static bool load_rom(PCIDevice *d, char **errp)
{
    if (!d->romfile && d->dev.info->pci && d->dev.info->pci->romfile) {
        d->romfile = g_strdup(d->dev.info->pci->romfile); /* the type's default */
    }
    if (!d->romfile || !d->romfile[0]) {
        return true;
    }
    gchar *data = NULL;
    gsize len = 0;
    char *path = firmware_find(d->romfile);
    bool found = path && g_file_get_contents(path, &data, &len, NULL);
    g_free(path);
    if (!found) {
        *errp = g_strdup_printf("failed to find romfile \"%s\"", d->romfile);
        return false;
    }
    if (!d->rombar || !len) {
        g_free(data);
        return true;
    }
    uint64_t size = 2048;
    while (size < len) {
        size <<= 1;
    }
    if (d->romsize != 0xffffffffu && d->romsize > size && !(d->romsize & (d->romsize - 1))) {
        size = d->romsize;
    }
    d->rom = g_new0(MemoryRegion, 1);
    if (!memory_region_init_rom(d->rom, "pci.rom", size)) {
        g_free(data);
        g_free(d->rom);
        d->rom = NULL;
        *errp = g_strdup("cannot allocate the option ROM");
        return false;
    }
    memcpy(memory_region_get_ram_ptr(d->rom, 0), data, len);
    g_free(data);
    pci_register_bar(d, PCI_ROM_SLOT, 0, d->rom);
    return true;
}

bool pci_qdev_realize(Device *dev, char **errp);
void pci_qdev_unrealize(Device *dev);

bool pci_qdev_realize(Device *dev, char **errp)
{
    PCIDevice *d = PCI_DEVICE(dev);
    PCIBus *bus = the_bus;
    if (!bus) {
        *errp = g_strdup_printf("No 'PCI' bus found for device '%s'", dev->info->name);
        return false;
    }
    if (!plug(bus, d, errp)) {
        return false;
    }
    init_config(d);
    if (!load_rom(d, errp) || (dev->info->realize && !dev->info->realize(dev, errp))) {
        pci_qdev_unrealize(dev);
        return false;
    }
    return true;
}

void pci_qdev_unrealize(Device *dev)
{
    PCIDevice *d = PCI_DEVICE(dev);
    if (!d->bus) {
        return;
    }
    pci_set_irq(d, 0);
    memory_transaction_begin();
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &d->io_regions[i];
        if (r->size && r->addr != PCI_BAR_UNMAPPED) {
            memory_region_del_subregion(r->container, r->mr);
            r->addr = PCI_BAR_UNMAPPED;
        }
    }
    memory_transaction_commit();
    if (dev->realized && dev->info->unrealize) {
        dev->info->unrealize(dev);
    }
    msix_uninit(d);
    if (d->rom) {
        memory_region_destroy(d->rom);
        g_free(d->rom);
        d->rom = NULL;
    }
    d->bus->devices[d->devfn] = NULL;
    d->bus = NULL;
}
