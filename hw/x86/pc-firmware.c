/*
 * What SeaBIOS does to the PCI side of QEMU's pc machine before a kernel runs, done by Vireo
 * when it boots a kernel directly (no firmware): the guest then finds the machine as it would
 * under QEMU 7.2 with SeaBIOS (same BAR addresses, IRQ lines, PM block).
 *   - PAM: 0xC0000-0xFFFFF as RAM (the direct boot keeps the ACPI tables there)
 *   - PIIX3 PIRQA-D -> ISA IRQ 10, 10, 11, 11
 *   - PIIX4 PM: PMBA 0x600 (enabled), SMBus base 0x700 (enabled), interrupt line 9
 *   - PIIX3 IDE: both channels decode (IDETIM)
 *   - every function's BARs: I/O from 0xC000 upwards, memory packed below 0xFEC00000 (the
 *     non-prefetchable and prefetchable groups as SeaBIOS orders them), larger BARs first,
 *     equal ones in bus order; then I/O + memory decode + SERR in the command register and the
 *     interrupt line its pin routes to. Bus mastering stays off until a driver turns it on.
 * Everything goes through config-space writes, so the masks and mappings are the guest's.
 */
#include <glib.h>
#include <string.h>
#include "vireo/memory.h"
#include "vireo/pc.h"
#include "vireo/pci.h"
#include "vireo/vga.h"

#define PCIMEM_END 0xfec00000ull
#define IO_BASE    0xc000u

static const uint8_t pirq_irqs[4] = {10, 10, 11, 11};

typedef struct BarEntry {
    PCIDevice *d;
    int region;
    uint64_t size;
} BarEntry;

static void cfg_w(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    pci_bus_config_write(d->bus, (uint8_t)d->devfn, addr, val, len);
}

static PCIDevice *find(PCIBus *bus, uint16_t vendor, uint16_t device)
{
    for (int devfn = 0; devfn < 256; devfn++) {
        PCIDevice *d = pci_bus_device(bus, (uint8_t)devfn);
        if (d && pci_get_word(d->config) == vendor && pci_get_word(d->config + 2) == device) {
            return d;
        }
    }
    return NULL;
}

void pc_firmware_pam_setup(PCIBus *bus)
{
    PCIDevice *host = pci_bus_device(bus, 0);
    if (!host) {
        return;
    }
    for (uint32_t reg = 0x59; reg <= 0x5f; reg++) {
        cfg_w(host, reg, 0x33, 1);
    }
}

/* Insert keeping larger first, equal ones in arrival order (SeaBIOS's list order). */
static void add_entry(GArray *list, BarEntry e)
{
    guint i = 0;
    while (i < list->len && g_array_index(list, BarEntry, i).size >= e.size) {
        i++;
    }
    g_array_insert_val(list, i, e);
}

static uint64_t list_sum(GArray *l)
{
    uint64_t s = 0;
    for (guint i = 0; i < l->len; i++) {
        s += g_array_index(l, BarEntry, i).size;
    }
    return s;
}

static uint64_t list_align(GArray *l)
{
    return l->len ? g_array_index(l, BarEntry, 0).size : 1;
}

static void place(GArray *l, uint64_t base)
{
    for (guint i = 0; i < l->len; i++) {
        BarEntry *e = &g_array_index(l, BarEntry, i);
        uint32_t reg = e->region == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * e->region;
        PCIIORegion *r = &e->d->io_regions[e->region];
        cfg_w(e->d, reg, (uint32_t)base | (e->region == PCI_ROM_SLOT ? 0 : r->type), 4);
        if (e->region != PCI_ROM_SLOT && !(r->type & PCI_BASE_ADDRESS_SPACE_IO) &&
            (r->type & PCI_BASE_ADDRESS_MEM_TYPE_64)) {
            cfg_w(e->d, reg + 4, (uint32_t)(base >> 32), 4);
        }
        base += e->size;
    }
}

void pc_firmware_pci_setup(PCIBus *bus)
{
    PCIDevice *piix3 = find(bus, 0x8086, 0x7000);
    PCIDevice *pm = find(bus, 0x8086, 0x7113);
    PCIDevice *ide = find(bus, 0x8086, 0x7010);
    if (piix3) {
        for (int k = 0; k < 4; k++) {
            cfg_w(piix3, 0x60 + (uint32_t)k, pirq_irqs[k], 1);
        }
    }
    if (ide) {
        cfg_w(ide, 0x40, 0x8000, 2);
        cfg_w(ide, 0x42, 0x8000, 2);
    }
    if (pm) {
        cfg_w(pm, 0x40, 0x600 | 1, 4);
        cfg_w(pm, 0x80, 0x01, 1);
        cfg_w(pm, 0x90, 0x700 | 1, 4);
        cfg_w(pm, 0xd2, 0x09, 1);
    }
    GArray *io = g_array_new(FALSE, FALSE, sizeof(BarEntry));
    GArray *mem = g_array_new(FALSE, FALSE, sizeof(BarEntry));
    GArray *pref = g_array_new(FALSE, FALSE, sizeof(BarEntry));
    for (int devfn = 0; devfn < 256; devfn++) {
        PCIDevice *d = pci_bus_device(bus, (uint8_t)devfn);
        if (!d) {
            continue;
        }
        for (int i = 0; i < PCI_NUM_REGIONS; i++) {
            PCIIORegion *r = &d->io_regions[i];
            if (!r->size) {
                continue;
            }
            BarEntry e = {d, i, r->size};
            if (i != PCI_ROM_SLOT && (r->type & PCI_BASE_ADDRESS_SPACE_IO)) {
                add_entry(io, e);
            } else if (i != PCI_ROM_SLOT && (r->type & PCI_BASE_ADDRESS_MEM_PREFETCH)) {
                add_entry(pref, e);
            } else {
                add_entry(mem, e);
            }
        }
    }
    place(io, IO_BASE);
    GArray *end = pref, *start = mem;
    if (list_align(start) < list_align(end)) {
        end = mem;
        start = pref;
    }
    uint64_t end_base = (PCIMEM_END - list_sum(end)) & ~(list_align(end) - 1);
    uint64_t start_base = (end_base - list_sum(start)) & ~(list_align(start) - 1);
    place(end, end_base);
    place(start, start_base);
    g_array_free(io, TRUE);
    g_array_free(mem, TRUE);
    g_array_free(pref, TRUE);

    for (int devfn = 0; devfn < 256; devfn++) {
        PCIDevice *d = pci_bus_device(bus, (uint8_t)devfn);
        if (!d) {
            continue;
        }
        uint8_t pin = d->config[PCI_INTERRUPT_PIN];
        if (pin >= 1 && pin <= 4) {
            uint8_t line = d == pm ? 9 : pirq_irqs[(pin - 1 + PCI_SLOT(devfn) - 1) & 3];
            cfg_w(d, PCI_INTERRUPT_LINE, line, 1);
        }
        uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
        cmd |= PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_SERR;
        /* SeaBIOS's UHCI driver (it looks for USB keyboards) turns bus mastering on */
        if ((pci_get_long(d->config + PCI_REVISION_ID) >> 8) == 0x0c0300) {
            cmd |= PCI_COMMAND_MASTER;
        }
        cfg_w(d, PCI_COMMAND, cmd, 2);
    }
}

/*
 * The VGA BIOS's part of a boot: SeaBIOS copies the boot VGA's option ROM to 0xC0000 and runs
 * it, which sets mode 3 (80x25 text) with the 8x16 font it carries; the kernel's setup code
 * then records the mode in boot_params.screen_info. Vireo does the same without running the
 * ROM: the font is the ROM's own 8x16 table (found by its first glyphs).
 */
static const uint8_t *find_font16(const uint8_t *rom, uint64_t size)
{
    static const uint8_t smiley[16] = {0x00, 0x00, 0x7e, 0x81, 0xa5, 0x81, 0x81, 0xbd,
                                       0x99, 0x81, 0x81, 0x7e, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t zero[16];
    for (uint64_t off = 0; off + 256 * 16 <= size; off++) {
        if (!memcmp(rom + off, zero, 16) && !memcmp(rom + off + 16, smiley, 16)) {
            return rom + off;
        }
    }
    return NULL;
}

void pc_firmware_vga_setup(uint64_t boot_params)
{
    VGAState *vga = vga_boot_device();
    if (!vga) {
        return;
    }
    uint64_t rom_size = 0;
    const uint8_t *rom = vga_boot_rom(&rom_size);
    const uint8_t *font = NULL;
    if (rom && rom_size >= 3 && rom[0] == 0x55 && rom[1] == 0xaa) {
        uint64_t len = (uint64_t)rom[2] * 512;
        if (len > rom_size) {
            len = rom_size;
        }
        if (len > 0x20000) {
            len = 0x20000;
        }
        guest_write(0xc0000, rom, len);
        font = find_font16(rom, len);
    }
    vga_set_text_mode3(vga, font);
    if (!boot_params) {
        return;
    }
    /* screen_info as the setup code fills it for mode 3 on a VGA (video.c, video-vga.c) */
    uint8_t b;
    uint16_t w;
    b = 0; /* orig_x, orig_y: the cursor */
    guest_write(boot_params + 0x00, &b, 1);
    guest_write(boot_params + 0x01, &b, 1);
    w = 0; /* orig_video_page */
    guest_write(boot_params + 0x04, &w, 2);
    b = 3; /* orig_video_mode */
    guest_write(boot_params + 0x06, &b, 1);
    b = 80; /* orig_video_cols */
    guest_write(boot_params + 0x07, &b, 1);
    w = 0x0003; /* orig_video_ega_bx: colour, 256 KiB (INT 10h AH=12h BL=10h) */
    guest_write(boot_params + 0x0a, &w, 2);
    b = 25; /* orig_video_lines */
    guest_write(boot_params + 0x0e, &b, 1);
    b = 1; /* orig_video_isVGA */
    guest_write(boot_params + 0x0f, &b, 1);
    w = 16; /* orig_video_points */
    guest_write(boot_params + 0x10, &w, 2);
}
