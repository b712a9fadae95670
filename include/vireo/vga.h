/*
 * The VGA core (hw/display/vga.c) shared by the display devices (hw/display/vga-pci.c: "VGA"
 * and "bochs-display"): VGA registers, the planar video memory behind the 0xA0000 window, the
 * Bochs VBE ("dispi") registers and the renderer that brings a console surface up to date.
 *
 * Video memory is one RAM region ("vga.vram", a power of two of vgamem_mb MiB) with dirty
 * logging on: what the guest writes through a BAR (KVM's dirty log, the translator's slow
 * write path) or through the VGA window (vga_mem_write) marks 4 KiB pages; a refresh redraws
 * only lines whose pages changed, so an idle screen costs nothing. Plane p of VGA address a
 * is byte 4*a+p of the memory (as QEMU lays it out), so chain-4 and VBE modes read it linearly.
 */
#ifndef VIREO_VGA_H
#define VIREO_VGA_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/memory.h"

typedef struct VConsole VConsole;

/* Bochs VBE "dispi" registers (ports 0x1CE/0x1CF, or BAR 2 at 0x500) */
enum {
    VBE_DISPI_INDEX_ID,
    VBE_DISPI_INDEX_XRES,
    VBE_DISPI_INDEX_YRES,
    VBE_DISPI_INDEX_BPP,
    VBE_DISPI_INDEX_ENABLE,
    VBE_DISPI_INDEX_BANK,
    VBE_DISPI_INDEX_VIRT_WIDTH,
    VBE_DISPI_INDEX_VIRT_HEIGHT,
    VBE_DISPI_INDEX_X_OFFSET,
    VBE_DISPI_INDEX_Y_OFFSET,
    VBE_DISPI_INDEX_NB,
    VBE_DISPI_INDEX_VIDEO_MEMORY_64K = VBE_DISPI_INDEX_NB,
};
#define VBE_DISPI_ID0         0xb0c0
#define VBE_DISPI_ID5         0xb0c5
#define VBE_DISPI_ENABLED     0x01
#define VBE_DISPI_GETCAPS     0x02
#define VBE_DISPI_8BIT_DAC    0x20
#define VBE_DISPI_LFB_ENABLED 0x40
#define VBE_DISPI_NOCLEARMEM  0x80
#define VBE_DISPI_MAX_XRES    16000
#define VBE_DISPI_MAX_YRES    12000
#define VBE_DISPI_MAX_BPP     32

#define VGA_MAX_TEXT_CELLS (160 * 100)

typedef struct VGAState {
    MemoryRegion vram; /* "vga.vram" */
    uint8_t *vram_ptr;
    uint32_t vram_size;
    uint32_t vgamem_mb;

    /* registers */
    uint32_t latch;
    uint8_t sr_index, sr[8];
    uint8_t gr_index, gr[16];
    uint8_t ar_index, ar[21];
    int32_t ar_flip_flop;
    uint8_t cr_index, cr[256];
    uint8_t msr, fcr, st00, st01;
    uint8_t dac_state, dac_sub_index, dac_read_index, dac_write_index;
    uint8_t dac_cache[3];
    uint8_t dac_8bit;
    uint8_t palette[768];
    int32_t bank_offset;
    uint16_t vbe_index;
    uint16_t vbe_regs[VBE_DISPI_INDEX_NB];
    uint32_t vbe_start_addr, vbe_line_offset, vbe_bank_mask;
    uint32_t vbe_size;

    /* renderer (derived; not saved) */
    VConsole *con;
    uint8_t plane_updated;
    int graphic_mode;
    int last_width, last_height, last_cw, last_ch, last_depth;
    int last_scr_width, last_scr_height;
    uint32_t last_line_offset;
    int shift_control, double_scan;
    uint32_t line_offset, start_addr, line_compare;
    uint32_t font_offsets[2];
    uint32_t last_palette[256];
    uint16_t last_ch_attr[VGA_MAX_TEXT_CELLS];
    uint32_t cursor_offset;
    uint8_t cursor_start, cursor_end;
    bool cursor_visible_phase;
    int64_t cursor_blink_time;
    bool full_update;
    unsigned long *dirty_snap; /* one bit per vram page, taken at each refresh */
} VGAState;

/* vram of vgamem_mb MiB (clamped to 1..512, rounded up to a power of two); false + *errp. */
bool vga_common_init(VGAState *s, const char *owner_label, char **errp);
void vga_common_fini(VGAState *s);
void vga_common_reset(VGAState *s);
/* The console (for the device's label; head 0) that this VGA draws into. */
void vga_attach_console(VGAState *s, const char *label);

/* 0x3B0..0x3DF (addr is the port); byte accesses. */
uint32_t vga_ioport_read(VGAState *s, uint32_t port);
void vga_ioport_write(VGAState *s, uint32_t port, uint32_t val);
uint32_t vbe_read_index(VGAState *s);
void vbe_write_index(VGAState *s, uint32_t val);
uint32_t vbe_read_data(VGAState *s);
void vbe_write_data(VGAState *s, uint32_t val);

/* The 128 KiB legacy window at 0xA0000 (addr relative to 0xA0000). */
uint8_t vga_mem_readb(VGAState *s, uint32_t addr);
void vga_mem_writeb(VGAState *s, uint32_t addr, uint8_t val);

/* ConsoleHwOps callbacks (opaque = VGAState). */
void vga_update_display(void *opaque);
void vga_invalidate_display(void *opaque);

/*
 * The legacy half of the VGA on the PC: ports 0x3C0-0x3CF, 0x3B4/5, 0x3BA, 0x3D4/5, 0x3DA,
 * the VBE ports 0x1CE-0x1D0 and the 0xA0000 window in `pci_space` (over RAM through the
 * i440FX's VGA window). The regions live in *regs.
 */
typedef struct VGALegacy {
    MemoryRegion ports_3c0, ports_3b4, ports_3ba, ports_3d4, ports_3da, vbe_ports, lowmem;
} VGALegacy;
void vga_legacy_init(VGAState *s, VGALegacy *l, MemoryRegion *pci_space);
void vga_legacy_fini(VGALegacy *l);

/*
 * What a VGA BIOS leaves behind after setting mode 3 (80x25 colour text, 9x16 cells): the
 * registers of the standard mode table, the 64-colour EGA palette in the DAC and the 8x16
 * `font` (256 glyphs of 16 bytes) in plane 2; the text buffer is cleared to grey blanks.
 * The firmware step of a direct kernel boot calls it (hw/x86/pc-firmware.c).
 */
void vga_set_text_mode3(VGAState *s, const uint8_t *font);

/* The VGA device the machine's firmware step sets up (the first one realized), or NULL. */
VGAState *vga_boot_device(void);
const uint8_t *vga_boot_rom(uint64_t *size);

extern const struct VMStateDescription vga_common_vmsd;

#endif
