/* Unit tests for the VGA core (hw/display/vga.c): planar write and read modes, odd/even and
 * chain-4 mappings, the Bochs VBE checks, text and VBE rendering into the console surface, and
 * dirty tracking (a refresh with nothing written draws nothing). */
#include <glib.h>
#include <string.h>
#include "../lib/unit.h"
#include "vireo/console.h"
#include "vireo/vga.h"

static void out(VGAState *s, uint32_t port, uint32_t v)
{
    vga_ioport_write(s, port, v);
}

static void gr(VGAState *s, int i, int v)
{
    out(s, 0x3ce, i);
    out(s, 0x3cf, v);
}

static void sr(VGAState *s, int i, int v)
{
    out(s, 0x3c4, i);
    out(s, 0x3c5, v);
}

static void vbe(VGAState *s, int i, int v)
{
    vbe_write_index(s, i);
    vbe_write_data(s, v);
}

static uint32_t px(VGAState *s, int x, int y)
{
    pixman_image_t *img = console_surface(s->con);
    return pixman_image_get_data(img)[y * pixman_image_get_stride(img) / 4 + x];
}

static void test_planar(VGAState *s)
{
    /* planar (no chain-4, no odd/even), map 0 at 0xA0000 */
    sr(s, 4, 0x06);
    sr(s, 2, 0x0f);
    gr(s, 5, 0x00);
    gr(s, 6, 0x05);
    /* write mode 0 with set/reset on planes 0 and 2 (value 0x4: plane 2 set, plane 0 clear) */
    gr(s, 0, 0x04);
    gr(s, 1, 0x05);
    gr(s, 8, 0xf0);
    vga_mem_readb(s, 0x10); /* load latches (all zero) */
    vga_mem_writeb(s, 0x10, 0xff);
    uint32_t v;
    memcpy(&v, s->vram_ptr + 0x40, 4);
    CHECK("vga/write-mode0-set-reset-bitmask", v == 0xf0f0f000);
    /* read mode 1: colour compare 0xe (planes 1-3 set) over all planes */
    gr(s, 5, 0x08);
    gr(s, 2, 0x0e);
    gr(s, 7, 0x0f);
    CHECK("vga/read-mode1-compare", vga_mem_readb(s, 0x10) == 0xf0);
    /* write mode 1 copies the latches to another address */
    gr(s, 5, 0x01);
    vga_mem_writeb(s, 0x20, 0x00);
    memcpy(&v, s->vram_ptr + 0x80, 4);
    CHECK("vga/write-mode1-latch-copy", v == 0xf0f0f000);
    /* write mode 2 with plane mask 0x3 and bit mask 0x0f, logic XOR */
    gr(s, 5, 0x02);
    gr(s, 8, 0x0f);
    gr(s, 3, 0x18);
    sr(s, 2, 0x03);
    vga_mem_readb(s, 0x10);
    vga_mem_writeb(s, 0x10, 0x0f);
    memcpy(&v, s->vram_ptr + 0x40, 4);
    CHECK("vga/write-mode2-xor-planemask", v == 0xf0f0ff0f);
    gr(s, 3, 0);
    sr(s, 2, 0x0f);
    /* read mode 0 picks the read-map plane */
    gr(s, 5, 0x00);
    gr(s, 4, 0x02);
    CHECK("vga/read-mode0-plane", vga_mem_readb(s, 0x10) == 0xf0);
}

static void test_mappings(VGAState *s)
{
    /* odd/even through the 0xB8000 window: even bytes plane 0, odd bytes plane 1 */
    gr(s, 4, 0x00);
    sr(s, 4, 0x02);
    gr(s, 5, 0x10);
    gr(s, 6, 0x0e);
    vga_mem_writeb(s, 0x18000 + 6, 'Z');
    vga_mem_writeb(s, 0x18000 + 7, 0x1e);
    CHECK("vga/odd-even-plane0", s->vram_ptr[3 * 4 + 0] == 'Z');
    CHECK("vga/odd-even-plane1", s->vram_ptr[3 * 4 + 1] == 0x1e);
    CHECK("vga/odd-even-outside-map", vga_mem_readb(s, 0x100) == 0xff);
    /* chain-4 with map 1 (64 KiB at 0xA0000): linear bytes */
    sr(s, 4, 0x0e);
    gr(s, 5, 0x40);
    gr(s, 6, 0x05);
    vga_mem_writeb(s, 0x1235, 0x77);
    CHECK("vga/chain4-linear", s->vram_ptr[0x1235] == 0x77 && vga_mem_readb(s, 0x1235) == 0x77);
    CHECK("vga/chain4-map1-upper-half", vga_mem_readb(s, 0x10000) == 0xff);
}

static void test_vbe(VGAState *s)
{
    vbe_write_index(s, VBE_DISPI_INDEX_ID);
    CHECK("vbe/id", vbe_read_data(s) == VBE_DISPI_ID5);
    vbe_write_index(s, VBE_DISPI_INDEX_VIDEO_MEMORY_64K);
    CHECK("vbe/memory-64k", vbe_read_data(s) == s->vram_size / 65536);
    vbe(s, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_GETCAPS);
    vbe_write_index(s, VBE_DISPI_INDEX_XRES);
    CHECK("vbe/getcaps-xres", vbe_read_data(s) == VBE_DISPI_MAX_XRES);
    vbe(s, VBE_DISPI_INDEX_ENABLE, 0);
    vbe(s, VBE_DISPI_INDEX_XRES, 643); /* rounded down to a multiple of 8 */
    vbe(s, VBE_DISPI_INDEX_YRES, 480);
    vbe(s, VBE_DISPI_INDEX_BPP, 7); /* not a depth: 8 */
    vbe(s, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    vbe_write_index(s, VBE_DISPI_INDEX_XRES);
    CHECK("vbe/xres-fixup", vbe_read_data(s) == 640);
    vbe_write_index(s, VBE_DISPI_INDEX_BPP);
    CHECK("vbe/bpp-fixup", vbe_read_data(s) == 8);
    vbe(s, VBE_DISPI_INDEX_ENABLE, 0);
    /* 32 bpp, virtual height limited by memory, y offset that does not fit is dropped */
    vbe(s, VBE_DISPI_INDEX_BPP, 32);
    vbe(s, VBE_DISPI_INDEX_XRES, 320);
    vbe(s, VBE_DISPI_INDEX_YRES, 200);
    vbe(s, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    vbe_write_index(s, VBE_DISPI_INDEX_VIRT_HEIGHT);
    CHECK("vbe/virt-height", vbe_read_data(s) == s->vram_size / (320 * 4));
    vbe(s, VBE_DISPI_INDEX_Y_OFFSET, 60000);
    vbe_write_index(s, VBE_DISPI_INDEX_Y_OFFSET);
    CHECK("vbe/y-offset-clamped", vbe_read_data(s) != 60000);
    vbe(s, VBE_DISPI_INDEX_Y_OFFSET, 0);

    /* render (video on: attribute index bit 5): the surface takes the mode's size */
    vga_ioport_read(s, 0x3ba);
    out(s, 0x3c0, 0x20);
    vga_invalidate_display(s);
    vga_update_display(s);
    CHECK("vbe/surface-size", console_width(s->con) == 320 && console_height(s->con) == 200);
    uint32_t red = 0x00ff0000;
    memcpy(s->vram_ptr + (10 * 320 + 5) * 4, &red, 4);
    memory_region_set_dirty(&s->vram, (10 * 320 + 5) * 4, 4); /* as a BAR write would */
    vga_update_display(s);
    CHECK("vbe/pixel-drawn", px(s, 5, 10) == 0xff0000);
    /* not marked dirty: an idle refresh does not redraw */
    uint32_t green = 0x0000ff00;
    memcpy(s->vram_ptr + (20 * 320) * 4, &green, 4);
    vga_update_display(s);
    CHECK("vbe/idle-refresh-draws-nothing", px(s, 0, 20) == 0);
    memory_region_set_dirty(&s->vram, (20 * 320) * 4, 4);
    vga_update_display(s);
    CHECK("vbe/dirty-line-redrawn", px(s, 0, 20) == 0x00ff00);
    vbe(s, VBE_DISPI_INDEX_ENABLE, 0);
}

static void test_text(VGAState *s)
{
    uint8_t font[256 * 16];
    memset(font, 0, sizeof(font));
    for (int r = 0; r < 16; r++) {
        font['A' * 16 + r] = 0x81;  /* leftmost and rightmost column */
        font[0xc4 * 16 + r] = 0x01; /* a line-drawing glyph: column 8 repeats column 7 */
    }
    vga_set_text_mode3(s, font);
    s->vram_ptr[0] = 'A';
    s->vram_ptr[1] = 0x1e; /* yellow on blue */
    s->vram_ptr[4] = 0xc4;
    s->vram_ptr[5] = 0x07;
    out(s, 0x3d4, 0x0a);
    out(s, 0x3d5, 0x20); /* cursor off */
    vga_update_display(s);
    CHECK("text/720x400", console_width(s->con) == 720 && console_height(s->con) == 400);
    uint32_t fg = px(s, 0, 3), bg = px(s, 1, 3);
    /* EGA palette: AR 0x0e -> DAC 0x3e (0x3f,0x3f,0x15), AR 0x01 -> DAC 1 (0,0,0x2a); 6 to 8
     * bits as QEMU: 0x15 -> 0x57, 0x2a -> 0xa8 */
    CHECK("text/fg-colour", fg == 0xffff57);
    CHECK("text/bg-colour", bg == 0x0000a8);
    CHECK("text/glyph-right-column", px(s, 7, 3) == fg && px(s, 8, 3) == bg);
    CHECK("text/dup9-line-drawing", px(s, 9 + 7, 5) == 0xa8a8a8 && px(s, 9 + 8, 5) == 0xa8a8a8);
    CHECK("text/blank-cell", px(s, 20, 3) == 0);
    /* a font change in plane 2 redraws the cells */
    s->vram_ptr[('A' * 32 + 3) * 4 + 2] = 0x00;
    s->plane_updated |= 4;
    vga_update_display(s);
    CHECK("text/font-reload", px(s, 0, 3) == bg && px(s, 0, 4) == fg);
}

int main(void)
{
    VGAState *s = g_new0(VGAState, 1);
    s->vgamem_mb = 3; /* rounded up to 4 */
    char *err = NULL;
    CHECK("vga/init", vga_common_init(s, "test", &err));
    CHECK("vga/vram-power-of-two", s->vram_size == 4u << 20);
    vga_attach_console(s, "test");
    test_planar(s);
    test_mappings(s);
    test_vbe(s);
    test_text(s);
    vga_common_fini(s);
    g_free(s);
    UNIT_EXIT();
}
