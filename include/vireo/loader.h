/*
 * What the loaders put in guest RAM, kept to be put there again at every machine reset
 * (hw/core/loader.c). QEMU keeps its ROM blobs and rewrites them at reset (rom_reset), and with
 * -kernel its firmware reloads the kernel, setup, command line and initrd from fw_cfg at every
 * boot: RAM otherwise keeps what the guest left. Vireo's direct boot does the same in one step:
 * between loader_record_begin() and loader_record_end() every guest_write() is recorded (adjacent
 * writes coalesce into one blob), loader_record_range() snapshots what a loader wrote through a
 * host pointer, and loader_reset() writes every blob back in the order it was recorded.
 * Files are read once, at start: a kernel or initrd changed on disk afterwards is not seen, as
 * under QEMU.
 */
#ifndef VIREO_LOADER_H
#define VIREO_LOADER_H

#include <stdint.h>

void loader_record_begin(void);
void loader_record_end(void);
/* Called by guest_write() (hw/core/memory.c) while recording. */
void loader_note_write(uint64_t gpa, const void *buf, uint64_t len);
/* Snapshot [gpa, gpa+len) of guest RAM as it is now (RAM only; other bytes are skipped). */
void loader_record_range(uint64_t gpa, uint64_t len);
/* Machine reset: write every blob back. Returns the number of bytes written. */
uint64_t loader_reset(void);
/* Forget every blob (machine teardown). */
void loader_free(void);
/*
 * A firmware file (BIOS, option ROM) as QEMU's qemu_find_file finds it: the name as a path if
 * that is a file, else a bare name in QEMU's data directories (qemu-system-x86_64 -L help).
 * NULL if none; g_free the result.
 */
char *firmware_find(const char *name);

#endif
