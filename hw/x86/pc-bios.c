/*
 * Firmware boot (no -kernel): the BIOS image (-bios FILE, default SeaBIOS's bios-256k.bin as
 * QEMU 7.2's pc) as a ROM at the top of the 4 GiB space, its last 128 KiB (the whole image when
 * smaller) also at 1 MiB - 128 KiB, and QEMU's "pc.rom" (128 KiB of RAM at 0xC0000). All three
 * live in the PCI memory space, as QEMU maps them, so the i440FX PAM registers decide whether
 * 0xC0000-0xFFFFF shows them (PCI) or the RAM behind (SeaBIOS copies itself into that RAM, the
 * shadow, and write-protects it).
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include "vireo/error.h"
#include "vireo/loader.h"
#include "vireo/memory.h"
#include "vireo/pc.h"

#define ISA_BIOS_MAX (128 * 1024)
#define PC_ROM_BASE  0xc0000
#define PC_ROM_SIZE  0x20000

static MemoryRegion bios, isa_bios, pc_rom;
static bool mapped;

int pc_bios_init(const char *name)
{
    if (!name) {
        name = "bios-256k.bin";
    }
    char *path = firmware_find(name);
    gchar *data = NULL;
    gsize len = 0;
    if (!path || !g_file_get_contents(path, &data, &len, NULL) || len == 0 || len % 65536 ||
        len > 16 * 1024 * 1024) {
        /* QEMU's message, printed as QEMU prints it (no program name) */
        fprintf(stderr, "qemu: could not load PC BIOS '%s'\n", name);
        g_free(path);
        g_free(data);
        return -1;
    }
    g_free(path);
    if (!memory_region_init_rom(&bios, "pc.bios", len) ||
        !memory_region_init_ram(&pc_rom, "pc.rom", PC_ROM_SIZE)) {
        error_report("cannot allocate the BIOS");
        g_free(data);
        return -1;
    }
    memcpy(memory_region_get_ram_ptr(&bios, 0), data, len);
    g_free(data);
    uint64_t isa_size = len < ISA_BIOS_MAX ? len : ISA_BIOS_MAX;
    memory_region_init_alias(&isa_bios, "isa-bios", &bios, len - isa_size, isa_size);
    MemoryRegion *pci = pc_pci_memory();
    memory_transaction_begin();
    memory_region_add_subregion(pci, 0x100000000ull - len, &bios, 0);
    memory_region_add_subregion(pci, 0x100000 - isa_size, &isa_bios, 1);
    memory_region_add_subregion(pci, PC_ROM_BASE, &pc_rom, 1);
    memory_region_set_readonly(&pc_rom, true);
    memory_transaction_commit();
    mapped = true;
    return 0;
}

void pc_bios_free(void)
{
    if (mapped) {
        memory_region_destroy(&isa_bios);
        memory_region_destroy(&bios);
        memory_region_destroy(&pc_rom);
        mapped = false;
    }
}
