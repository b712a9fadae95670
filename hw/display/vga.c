/*
 * The VGA core (include/vireo/vga.h): registers, planar memory, Bochs VBE, rendering into
 * the console surface. Register behaviour follows QEMU 7.2's std VGA (the facts: masks of
 * writable bits, the odd/even and chain-4 address mappings, the four write modes, the VBE
 * register checks), so guests and screendumps see what they see there.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/console.h"
#include "vireo/timer.h"
#include "vireo/vga.h"
#include "vireo/vmstate.h"

/* Writable bits of the sequencer and graphics controller registers. */
static const uint8_t sr_mask[8] = {0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0xff};
static const uint8_t gr_mask[16] = {0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff};

#define SR_CLOCK         1
#define SR_PLANE_WRITE   2
#define SR_CHARMAP       3
#define SR_MEMMODE       4
#define SR04_CHAIN4      0x08
#define GR_SR_VALUE      0
#define GR_SR_ENABLE     1
#define GR_CMP_VALUE     2
#define GR_ROTATE        3
#define GR_READ_PLANE    4
#define GR_MODE          5
#define GR_MISC          6
#define GR_CMP_MASK      7
#define GR_BIT_MASK      8
#define AR_MODE          0x10
#define AR_PLANE_ENABLE  0x12
#define AR_COLOR_PAGE    0x14
#define CR_HDISP         0x01
#define CR_VTOTAL        0x06
#define CR_OVERFLOW      0x07
#define CR_MAXSCAN       0x09
#define CR_CURSOR_START  0x0a
#define CR_CURSOR_END    0x0b
#define CR_START_HI      0x0c
#define CR_START_LO      0x0d
#define CR_CURSOR_HI     0x0e
#define CR_CURSOR_LO     0x0f
#define CR_VSYNC_END     0x11
#define CR_VDISP_END     0x12
#define CR_OFFSET        0x13
#define CR_MODE          0x17
#define CR_LINE_COMPARE  0x18
#define ST01_DISP_ENABLE 0x01
#define ST01_V_RETRACE   0x08

/* Cursor blink: 16 frames at 60 Hz per state, as QEMU. */
#define CURSOR_HALF_PERIOD_MS (1000 * 16 / 60)

enum { GMODE_TEXT, GMODE_GRAPH, GMODE_BLANK };

/* Plane bytes of a 4-bit plane mask: bit p set -> byte p all ones. */
static uint32_t mask16(unsigned m)
{
    uint32_t v = 0;
    for (int p = 0; p < 4; p++) {
        if (m & (1u << p)) {
            v |= 0xffu << (8 * p);
        }
    }
    return v;
}

static inline uint32_t vram32(const VGAState *s, uint32_t index)
{
    uint32_t v;
    memcpy(&v, s->vram_ptr + index * 4, 4);
    return v;
}

/* ---- registers ------------------------------------------------------------------------- */

static bool port_invalid(const VGAState *s, uint32_t port)
{
    if (s->msr & 0x01) {
        return port >= 0x3b0 && port <= 0x3bf; /* colour: the mono ports are off */
    }
    return port >= 0x3d0 && port <= 0x3df;
}

uint32_t vga_ioport_read(VGAState *s, uint32_t port)
{
    if (port_invalid(s, port)) {
        return 0xff;
    }
    switch (port) {
    case 0x3c0:
        return s->ar_flip_flop == 0 ? s->ar_index : 0;
    case 0x3c1: {
        unsigned i = s->ar_index & 0x1f;
        return i < sizeof(s->ar) ? s->ar[i] : 0;
    }
    case 0x3c2:
        return s->st00;
    case 0x3c4:
        return s->sr_index;
    case 0x3c5:
        return s->sr[s->sr_index];
    case 0x3c7:
        return s->dac_state;
    case 0x3c8:
        return s->dac_write_index;
    case 0x3c9: {
        uint32_t v = s->palette[s->dac_read_index * 3 + s->dac_sub_index];
        if (++s->dac_sub_index == 3) {
            s->dac_sub_index = 0;
            s->dac_read_index++;
        }
        return v;
    }
    case 0x3ca:
        return s->fcr;
    case 0x3cc:
        return s->msr;
    case 0x3ce:
        return s->gr_index;
    case 0x3cf:
        return s->gr[s->gr_index];
    case 0x3b4:
    case 0x3d4:
        return s->cr_index;
    case 0x3b5:
    case 0x3d5:
        return s->cr[s->cr_index];
    case 0x3ba:
    case 0x3da:
        /* toggled at each read so that pollers see retrace come and go */
        s->st01 ^= ST01_V_RETRACE | ST01_DISP_ENABLE;
        s->ar_flip_flop = 0;
        return s->st01;
    default:
        return 0;
    }
}

void vga_ioport_write(VGAState *s, uint32_t port, uint32_t val)
{
    val &= 0xff;
    if (port_invalid(s, port)) {
        return;
    }
    switch (port) {
    case 0x3c0:
        if (s->ar_flip_flop == 0) {
            s->ar_index = val & 0x3f;
        } else {
            unsigned i = s->ar_index & 0x1f;
            if (i <= 0x0f) {
                s->ar[i] = val & 0x3f;
            } else if (i == AR_MODE) {
                s->ar[i] = val & ~0x10u;
            } else if (i == 0x11) {
                s->ar[i] = val;
            } else if (i == AR_PLANE_ENABLE) {
                s->ar[i] = val & ~0xc0u;
            } else if (i == 0x13 || i == AR_COLOR_PAGE) {
                s->ar[i] = val & ~0xf0u;
            }
        }
        s->ar_flip_flop ^= 1;
        break;
    case 0x3c2:
        s->msr = val & ~0x10u;
        break;
    case 0x3c4:
        s->sr_index = val & 7;
        break;
    case 0x3c5:
        s->sr[s->sr_index] = val & sr_mask[s->sr_index];
        break;
    case 0x3c7:
        s->dac_read_index = val;
        s->dac_sub_index = 0;
        s->dac_state = 3;
        break;
    case 0x3c8:
        s->dac_write_index = val;
        s->dac_sub_index = 0;
        s->dac_state = 0;
        break;
    case 0x3c9:
        s->dac_cache[s->dac_sub_index] = val;
        if (++s->dac_sub_index == 3) {
            memcpy(&s->palette[s->dac_write_index * 3], s->dac_cache, 3);
            s->dac_sub_index = 0;
            s->dac_write_index++;
        }
        break;
    case 0x3ce:
        s->gr_index = val & 0x0f;
        break;
    case 0x3cf:
        s->gr[s->gr_index] = val & gr_mask[s->gr_index];
        break;
    case 0x3b4:
    case 0x3d4:
        s->cr_index = val;
        break;
    case 0x3b5:
    case 0x3d5:
        /* CR0-CR7 are write-protected by CR11 bit 7, except the line compare bit of CR7 */
        if ((s->cr[CR_VSYNC_END] & 0x80) && s->cr_index <= CR_OVERFLOW) {
            if (s->cr_index == CR_OVERFLOW) {
                s->cr[CR_OVERFLOW] = (s->cr[CR_OVERFLOW] & ~0x10) | (val & 0x10);
            }
            return;
        }
        s->cr[s->cr_index] = val;
        break;
    case 0x3ba:
    case 0x3da:
        s->fcr = val & 0x10;
        break;
    default:
        break;
    }
}

/* ---- Bochs VBE ------------------------------------------------------------------------- */

/* Bring the VBE registers to the nearest valid values (the interface has no error path). */
static void vbe_fixup_regs(VGAState *s)
{
    uint16_t *r = s->vbe_regs;
    uint32_t bits;
    if (!(r[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED)) {
        return;
    }
    switch (r[VBE_DISPI_INDEX_BPP]) {
    case 4:
    case 8:
    case 16:
    case 24:
    case 32:
        bits = r[VBE_DISPI_INDEX_BPP];
        break;
    case 15:
        bits = 16;
        break;
    default:
        bits = r[VBE_DISPI_INDEX_BPP] = 8;
        break;
    }
    r[VBE_DISPI_INDEX_XRES] &= ~7u;
    if (r[VBE_DISPI_INDEX_XRES] == 0) {
        r[VBE_DISPI_INDEX_XRES] = 8;
    }
    if (r[VBE_DISPI_INDEX_XRES] > VBE_DISPI_MAX_XRES) {
        r[VBE_DISPI_INDEX_XRES] = VBE_DISPI_MAX_XRES;
    }
    r[VBE_DISPI_INDEX_VIRT_WIDTH] &= ~7u;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH] > VBE_DISPI_MAX_XRES) {
        r[VBE_DISPI_INDEX_VIRT_WIDTH] = VBE_DISPI_MAX_XRES;
    }
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH] < r[VBE_DISPI_INDEX_XRES]) {
        r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];
    }
    uint32_t linelength = r[VBE_DISPI_INDEX_VIRT_WIDTH] * bits / 8;
    uint32_t maxy = s->vbe_size / linelength;
    if (r[VBE_DISPI_INDEX_YRES] == 0) {
        r[VBE_DISPI_INDEX_YRES] = 1;
    }
    if (r[VBE_DISPI_INDEX_YRES] > VBE_DISPI_MAX_YRES) {
        r[VBE_DISPI_INDEX_YRES] = VBE_DISPI_MAX_YRES;
    }
    if (r[VBE_DISPI_INDEX_YRES] > maxy) {
        r[VBE_DISPI_INDEX_YRES] = (uint16_t)maxy;
    }
    if (r[VBE_DISPI_INDEX_X_OFFSET] > VBE_DISPI_MAX_XRES) {
        r[VBE_DISPI_INDEX_X_OFFSET] = VBE_DISPI_MAX_XRES;
    }
    if (r[VBE_DISPI_INDEX_Y_OFFSET] > VBE_DISPI_MAX_YRES) {
        r[VBE_DISPI_INDEX_Y_OFFSET] = VBE_DISPI_MAX_YRES;
    }
    uint32_t offset = r[VBE_DISPI_INDEX_X_OFFSET] * bits / 8;
    offset += r[VBE_DISPI_INDEX_Y_OFFSET] * linelength;
    if (offset + r[VBE_DISPI_INDEX_YRES] * linelength > s->vbe_size) {
        r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
        offset = r[VBE_DISPI_INDEX_X_OFFSET] * bits / 8;
        if (offset + r[VBE_DISPI_INDEX_YRES] * linelength > s->vbe_size) {
            r[VBE_DISPI_INDEX_X_OFFSET] = 0;
            offset = 0;
        }
    }
    r[VBE_DISPI_INDEX_VIRT_HEIGHT] = maxy > 0xffff ? 0xffff : (uint16_t)maxy;
    s->vbe_line_offset = linelength;
    s->vbe_start_addr = offset / 4;
}

uint32_t vbe_read_index(VGAState *s)
{
    return s->vbe_index;
}

void vbe_write_index(VGAState *s, uint32_t val)
{
    s->vbe_index = (uint16_t)val;
}

uint32_t vbe_read_data(VGAState *s)
{
    if (s->vbe_index < VBE_DISPI_INDEX_NB) {
        if (s->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_GETCAPS) {
            switch (s->vbe_index) {
            case VBE_DISPI_INDEX_XRES:
                return VBE_DISPI_MAX_XRES;
            case VBE_DISPI_INDEX_YRES:
                return VBE_DISPI_MAX_YRES;
            case VBE_DISPI_INDEX_BPP:
                return VBE_DISPI_MAX_BPP;
            default:
                break;
            }
        }
        return s->vbe_regs[s->vbe_index];
    }
    if (s->vbe_index == VBE_DISPI_INDEX_VIDEO_MEMORY_64K) {
        return s->vbe_size / (64 * 1024);
    }
    return 0;
}

void vbe_write_data(VGAState *s, uint32_t val)
{
    val &= 0xffff;
    if (s->vbe_index > VBE_DISPI_INDEX_NB) {
        return;
    }
    switch (s->vbe_index) {
    case VBE_DISPI_INDEX_ID:
        if (val >= VBE_DISPI_ID0 && val <= VBE_DISPI_ID5) {
            s->vbe_regs[VBE_DISPI_INDEX_ID] = (uint16_t)val;
        }
        break;
    case VBE_DISPI_INDEX_XRES:
    case VBE_DISPI_INDEX_YRES:
    case VBE_DISPI_INDEX_BPP:
    case VBE_DISPI_INDEX_VIRT_WIDTH:
    case VBE_DISPI_INDEX_X_OFFSET:
    case VBE_DISPI_INDEX_Y_OFFSET:
        s->vbe_regs[s->vbe_index] = (uint16_t)val;
        vbe_fixup_regs(s);
        break;
    case VBE_DISPI_INDEX_BANK:
        val &= s->vbe_regs[VBE_DISPI_INDEX_BPP] == 4 ? s->vbe_bank_mask >> 2 : s->vbe_bank_mask;
        s->vbe_regs[VBE_DISPI_INDEX_BANK] = (uint16_t)val;
        s->bank_offset = (int32_t)(val << 16);
        break;
    case VBE_DISPI_INDEX_ENABLE:
        if ((val & VBE_DISPI_ENABLED) &&
            !(s->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED)) {
            s->vbe_regs[VBE_DISPI_INDEX_VIRT_WIDTH] = 0;
            s->vbe_regs[VBE_DISPI_INDEX_X_OFFSET] = 0;
            s->vbe_regs[VBE_DISPI_INDEX_Y_OFFSET] = 0;
            s->vbe_regs[VBE_DISPI_INDEX_ENABLE] |= VBE_DISPI_ENABLED;
            vbe_fixup_regs(s);
            if (!(val & VBE_DISPI_NOCLEARMEM)) {
                uint64_t n = (uint64_t)s->vbe_regs[VBE_DISPI_INDEX_YRES] * s->vbe_line_offset;
                memset(s->vram_ptr, 0, n > s->vram_size ? s->vram_size : n);
                memory_region_set_dirty(&s->vram, 0, n);
            }
            /* the VGA side follows: graphics, memory map 1, no CGA addressing */
            s->gr[GR_MISC] = (s->gr[GR_MISC] & ~0x0c) | 0x04 | 0x01;
            s->cr[CR_MODE] |= 3;
            s->cr[CR_OFFSET] = (uint8_t)(s->vbe_line_offset >> 3);
            s->cr[CR_HDISP] = (uint8_t)((s->vbe_regs[VBE_DISPI_INDEX_XRES] >> 3) - 1);
            int h = s->vbe_regs[VBE_DISPI_INDEX_YRES] - 1;
            s->cr[CR_VDISP_END] = (uint8_t)h;
            s->cr[CR_OVERFLOW] =
                (s->cr[CR_OVERFLOW] & ~0x42) | ((h >> 7) & 0x02) | ((h >> 3) & 0x40);
            s->cr[CR_LINE_COMPARE] = 0xff;
            s->cr[CR_OVERFLOW] |= 0x10;
            s->cr[CR_MAXSCAN] |= 0x40;
            int shift_control;
            if (s->vbe_regs[VBE_DISPI_INDEX_BPP] == 4) {
                shift_control = 0;
                s->sr[SR_CLOCK] &= ~8;
            } else {
                shift_control = 2;
                s->sr[SR_MEMMODE] |= SR04_CHAIN4;
                s->sr[SR_PLANE_WRITE] |= 0x0f;
            }
            s->gr[GR_MODE] = (s->gr[GR_MODE] & ~0x60) | (shift_control << 5);
            s->cr[CR_MAXSCAN] &= ~0x9f;
        } else {
            s->bank_offset = 0;
        }
        s->dac_8bit = (val & VBE_DISPI_8BIT_DAC) != 0;
        s->vbe_regs[VBE_DISPI_INDEX_ENABLE] = (uint16_t)val;
        break;
    default:
        break;
    }
}

/* ---- the 0xA0000 window ---------------------------------------------------------------- */

/* The video memory address for window offset addr, or -1 outside the selected map. */
static int64_t window_to_vram(const VGAState *s, uint32_t addr)
{
    addr &= 0x1ffff;
    switch ((s->gr[GR_MISC] >> 2) & 3) {
    case 0:
        return addr;
    case 1:
        return addr >= 0x10000 ? -1 : (int64_t)addr + s->bank_offset;
    case 2:
        return addr - 0x10000 >= 0x8000 ? -1 : (int64_t)(addr - 0x10000);
    default:
        return addr - 0x18000 >= 0x8000 ? -1 : (int64_t)(addr - 0x18000);
    }
}

uint8_t vga_mem_readb(VGAState *s, uint32_t waddr)
{
    int64_t a = window_to_vram(s, waddr);
    if (a < 0) {
        return 0xff;
    }
    uint64_t addr = (uint64_t)a;
    if (s->sr[SR_MEMMODE] & SR04_CHAIN4) {
        return addr < s->vram_size ? s->vram_ptr[addr] : 0xff;
    }
    if (s->gr[GR_MODE] & 0x10) { /* odd/even (text mapping) */
        unsigned plane = (s->gr[GR_READ_PLANE] & 2) | (addr & 1);
        uint64_t off = ((addr & ~1ull) << 1) | plane;
        return off < s->vram_size ? s->vram_ptr[off] : 0xff;
    }
    if (addr * 4 + 4 > s->vram_size) {
        return 0xff;
    }
    s->latch = vram32(s, (uint32_t)addr);
    if (!(s->gr[GR_MODE] & 0x08)) { /* read mode 0 */
        return (uint8_t)(s->latch >> (8 * (s->gr[GR_READ_PLANE] & 3)));
    }
    uint32_t r = (s->latch ^ mask16(s->gr[GR_CMP_VALUE])) & mask16(s->gr[GR_CMP_MASK]);
    r |= r >> 16;
    r |= r >> 8;
    return (uint8_t)~r;
}

void vga_mem_writeb(VGAState *s, uint32_t waddr, uint8_t v)
{
    int64_t a = window_to_vram(s, waddr);
    if (a < 0) {
        return;
    }
    uint64_t addr = (uint64_t)a;
    uint32_t val = v;
    if (s->sr[SR_MEMMODE] & SR04_CHAIN4) {
        unsigned mask = 1u << (addr & 3);
        if ((s->sr[SR_PLANE_WRITE] & mask) && addr < s->vram_size) {
            s->vram_ptr[addr] = v;
            s->plane_updated |= mask;
            memory_region_set_dirty(&s->vram, addr, 1);
        }
        return;
    }
    if (s->gr[GR_MODE] & 0x10) {
        unsigned plane = (s->gr[GR_READ_PLANE] & 2) | (addr & 1);
        unsigned mask = 1u << plane;
        uint64_t off = ((addr & ~1ull) << 1) | plane;
        if ((s->sr[SR_PLANE_WRITE] & mask) && off < s->vram_size) {
            s->vram_ptr[off] = v;
            s->plane_updated |= mask;
            memory_region_set_dirty(&s->vram, off, 1);
        }
        return;
    }
    if (addr * 4 + 4 > s->vram_size) {
        return;
    }
    uint32_t bit_mask = 0;
    unsigned b = s->gr[GR_ROTATE] & 7;
    switch (s->gr[GR_MODE] & 3) {
    case 0:
        val = ((val >> b) | (val << (8 - b))) & 0xff;
        val |= val << 8;
        val |= val << 16;
        {
            uint32_t set_mask = mask16(s->gr[GR_SR_ENABLE]);
            val = (val & ~set_mask) | (mask16(s->gr[GR_SR_VALUE]) & set_mask);
        }
        bit_mask = s->gr[GR_BIT_MASK];
        break;
    case 1:
        val = s->latch;
        goto do_write;
    case 2:
        val = mask16(val & 0x0f);
        bit_mask = s->gr[GR_BIT_MASK];
        break;
    default:
        val = ((val >> b) | (val << (8 - b))) & 0xff;
        bit_mask = s->gr[GR_BIT_MASK] & val;
        val = mask16(s->gr[GR_SR_VALUE]);
        break;
    }
    switch (s->gr[GR_ROTATE] >> 3) {
    case 1:
        val &= s->latch;
        break;
    case 2:
        val |= s->latch;
        break;
    case 3:
        val ^= s->latch;
        break;
    default:
        break;
    }
    bit_mask |= bit_mask << 8;
    bit_mask |= bit_mask << 16;
    val = (val & bit_mask) | (s->latch & ~bit_mask);
do_write : {
    unsigned m = s->sr[SR_PLANE_WRITE];
    s->plane_updated |= m;
    uint32_t write_mask = mask16(m);
    uint32_t old = vram32(s, (uint32_t)addr);
    uint32_t nv = (old & ~write_mask) | (val & write_mask);
    memcpy(s->vram_ptr + addr * 4, &nv, 4);
    memory_region_set_dirty(&s->vram, addr * 4, 4);
}
}

/* ---- rendering ------------------------------------------------------------------------- */

static inline uint32_t c6_to_8(uint32_t v)
{
    v &= 0x3f;
    uint32_t b = v & 1;
    return (v << 2) | (b << 1) | b;
}

static inline uint32_t rgb(uint32_t r, uint32_t g, uint32_t b)
{
    return (r << 16) | (g << 8) | b;
}

static bool update_palette16(VGAState *s)
{
    bool changed = false;
    for (int i = 0; i < 16; i++) {
        uint32_t v = s->ar[i];
        if (s->ar[AR_MODE] & 0x80) {
            v = ((s->ar[AR_COLOR_PAGE] & 0xf) << 4) | (v & 0xf);
        } else {
            v = ((s->ar[AR_COLOR_PAGE] & 0xc) << 4) | (v & 0x3f);
        }
        v *= 3;
        uint32_t col =
            rgb(c6_to_8(s->palette[v]), c6_to_8(s->palette[v + 1]), c6_to_8(s->palette[v + 2]));
        if (col != s->last_palette[i]) {
            changed = true;
            s->last_palette[i] = col;
        }
    }
    return changed;
}

static bool update_palette256(VGAState *s)
{
    bool changed = false;
    for (int i = 0; i < 256; i++) {
        const uint8_t *p = &s->palette[i * 3];
        uint32_t col =
            s->dac_8bit ? rgb(p[0], p[1], p[2]) : rgb(c6_to_8(p[0]), c6_to_8(p[1]), c6_to_8(p[2]));
        if (col != s->last_palette[i]) {
            changed = true;
            s->last_palette[i] = col;
        }
    }
    return changed;
}

static bool vbe_enabled(const VGAState *s)
{
    return s->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED;
}

static bool update_basic_params(VGAState *s)
{
    uint32_t line_offset, start_addr, line_compare;
    if (vbe_enabled(s)) {
        line_offset = s->vbe_line_offset;
        start_addr = s->vbe_start_addr;
        line_compare = 65535;
    } else {
        line_offset = (uint32_t)s->cr[CR_OFFSET] << 3;
        start_addr = s->cr[CR_START_LO] | (s->cr[CR_START_HI] << 8);
        line_compare = s->cr[CR_LINE_COMPARE] | ((s->cr[CR_OVERFLOW] & 0x10) << 4) |
                       ((s->cr[CR_MAXSCAN] & 0x40) << 3);
    }
    if (line_offset != s->line_offset || start_addr != s->start_addr ||
        line_compare != s->line_compare) {
        s->line_offset = line_offset;
        s->start_addr = start_addr;
        s->line_compare = line_compare;
        return true;
    }
    return false;
}

/* One refresh's view of the dirty pages of video memory (taken once, then read per line). */
static void snapshot_dirty(VGAState *s)
{
    memory_region_get_dirty_bitmap(&s->vram, s->dirty_snap);
}

static bool range_dirty(const VGAState *s, uint64_t start, uint64_t len)
{
    const unsigned bpl = 8 * sizeof(unsigned long);
    if (!len) {
        return false;
    }
    for (uint64_t pg = start >> 12; pg <= (start + len - 1) >> 12 && pg < s->vram_size / 4096;
         pg++) {
        if (s->dirty_snap[pg / bpl] & (1ul << (pg % bpl))) {
            return true;
        }
    }
    return false;
}

static void put_row(uint32_t *d, uint8_t bits, int cw, uint32_t fg, uint32_t bg, bool dup9)
{
    for (int i = 0; i < 8; i++) {
        uint32_t c = (bits >> (7 - i)) & 1 ? fg : bg;
        if (cw == 16) {
            d[2 * i] = d[2 * i + 1] = c;
        } else {
            d[i] = c;
        }
    }
    if (cw == 9) {
        d[8] = dup9 && (bits & 1) ? fg : bg;
    }
}

static void draw_text(VGAState *s, bool full)
{
    uint8_t v = s->sr[SR_CHARMAP];
    uint32_t off0 = (((v >> 4) & 1) | ((v << 1) & 6)) * 8192 * 4 + 2;
    uint32_t off1 = (((v >> 5) & 1) | ((v >> 1) & 6)) * 8192 * 4 + 2;
    if (off0 != s->font_offsets[0] || off1 != s->font_offsets[1]) {
        s->font_offsets[0] = off0;
        s->font_offsets[1] = off1;
        full = true;
    }
    if (s->plane_updated & (1 << 2)) { /* plane 2 written: the font may have changed */
        s->plane_updated = 0;
        full = true;
    }
    full |= update_basic_params(s);

    int cheight = (s->cr[CR_MAXSCAN] & 0x1f) + 1;
    int cw = (s->sr[SR_CLOCK] & 0x01) ? 8 : 9;
    if (s->sr[SR_CLOCK] & 0x08) {
        cw = 16;
    }
    int width = s->cr[CR_HDISP] + 1, height;
    if (s->cr[CR_VTOTAL] == 100) {
        height = 100;
    } else {
        height = s->cr[CR_VDISP_END] | ((s->cr[CR_OVERFLOW] & 0x02) << 7) |
                 ((s->cr[CR_OVERFLOW] & 0x40) << 3);
        height = (height + 1) / cheight;
    }
    if (height * width <= 1 || height * width > VGA_MAX_TEXT_CELLS) {
        return;
    }
    if (width != s->last_width || height != s->last_height || cw != s->last_cw ||
        cheight != s->last_ch || s->last_depth) {
        s->last_scr_width = width * cw;
        s->last_scr_height = height * cheight;
        console_resize(s->con, s->last_scr_width, s->last_scr_height);
        s->last_depth = 0;
        s->last_width = width;
        s->last_height = height;
        s->last_ch = cheight;
        s->last_cw = cw;
        full = true;
    }
    full |= update_palette16(s);
    pixman_image_t *img = console_surface(s->con);
    uint32_t *dest = pixman_image_get_data(img);
    int stride = pixman_image_get_stride(img) / 4;
    if (pixman_image_get_width(img) < width * cw ||
        pixman_image_get_height(img) < height * cheight) {
        return;
    }

    uint32_t cursor_offset = ((s->cr[CR_CURSOR_HI] << 8) | s->cr[CR_CURSOR_LO]) - s->start_addr;
    if (cursor_offset != s->cursor_offset || s->cr[CR_CURSOR_START] != s->cursor_start ||
        s->cr[CR_CURSOR_END] != s->cursor_end) {
        if (s->cursor_offset < VGA_MAX_TEXT_CELLS) {
            s->last_ch_attr[s->cursor_offset] ^= 0xffff; /* force a redraw of both cells */
        }
        if (cursor_offset < VGA_MAX_TEXT_CELLS) {
            s->last_ch_attr[cursor_offset] ^= 0xffff;
        }
        s->cursor_offset = cursor_offset;
        s->cursor_start = s->cr[CR_CURSOR_START];
        s->cursor_end = s->cr[CR_CURSOR_END];
    }
    int64_t now = vclock_ns() / 1000000;
    bool blink_changed = false;
    if (now >= s->cursor_blink_time) {
        s->cursor_blink_time = now + CURSOR_HALF_PERIOD_MS;
        s->cursor_visible_phase = !s->cursor_visible_phase;
        blink_changed = true;
    }
    uint64_t cursor_addr = ((uint64_t)s->start_addr + cursor_offset) * 4;

    uint64_t offset = (uint64_t)s->start_addr * 4;
    int line = 0;
    uint16_t *cache = s->last_ch_attr;
    for (int cy = 0; cy < height; cy++) {
        int cx_min = width, cx_max = -1;
        for (int cx = 0; cx < width; cx++, cache++) {
            uint64_t src = offset + (uint64_t)cx * 4;
            if (src + 4 > s->vram_size) {
                continue;
            }
            uint16_t ch_attr = (uint16_t)(s->vram_ptr[src] | s->vram_ptr[src + 1] << 8);
            bool is_cursor = src == cursor_addr;
            if (!full && ch_attr == *cache && !(is_cursor && blink_changed)) {
                continue;
            }
            *cache = ch_attr;
            cx_min = cx < cx_min ? cx : cx_min;
            cx_max = cx;
            unsigned ch = ch_attr & 0xff, attr = ch_attr >> 8;
            uint32_t font = s->font_offsets[(attr >> 3) & 1] + 32 * 4 * ch;
            uint32_t bg = s->last_palette[attr >> 4], fg = s->last_palette[attr & 0x0f];
            bool dup9 = cw == 9 && ch >= 0xb0 && ch <= 0xdf && (s->ar[AR_MODE] & 0x04);
            uint32_t *d = dest + (size_t)cy * cheight * stride + (size_t)cx * cw;
            for (int r = 0; r < cheight; r++) {
                uint64_t fo = font + (uint64_t)r * 4;
                put_row(d + (size_t)r * stride, fo < s->vram_size ? s->vram_ptr[fo] : 0, cw, fg, bg,
                        dup9);
            }
            if (is_cursor && !(s->cr[CR_CURSOR_START] & 0x20) && s->cursor_visible_phase) {
                int start = s->cr[CR_CURSOR_START] & 0x1f;
                int last = s->cr[CR_CURSOR_END] & 0x1f;
                if (last > cheight - 1) {
                    last = cheight - 1;
                }
                for (int r = start; r <= last && start < cheight; r++) {
                    put_row(d + (size_t)r * stride, 0xff, cw, fg, bg, true);
                }
            }
        }
        if (cx_max >= 0) {
            console_dirty(s->con, cx_min * cw, cy * cheight, (cx_max - cx_min + 1) * cw, cheight);
        }
        int line1 = line + cheight;
        offset += s->line_offset;
        if ((uint32_t)line < s->line_compare && (uint32_t)line1 >= s->line_compare) {
            offset = 0;
        }
        line = line1;
    }
}

/* One scanline of the selected format into d (width source pixels). */
static void draw_line(VGAState *s, int kind, uint32_t *d, uint64_t addr, int width)
{
    const uint8_t *p = s->vram_ptr + addr;
    const uint32_t *pal = s->last_palette;
    switch (kind) {
    case 0:   /* 16-colour planar, one dword = 8 pixels */
    case 1: { /* the same, pixels doubled */
        uint32_t plane_mask = mask16(s->ar[AR_PLANE_ENABLE] & 0xf);
        for (int x = 0; x < width / 8; x++, p += 4) {
            uint32_t data;
            memcpy(&data, p, 4);
            data &= plane_mask;
            for (int i = 0; i < 8; i++) {
                unsigned c = 0;
                for (int pl = 0; pl < 4; pl++) {
                    c |= ((data >> (8 * pl + 7 - i)) & 1) << pl;
                }
                if (kind == 0) {
                    *d++ = pal[c];
                } else {
                    d[0] = d[1] = pal[c];
                    d += 2;
                }
            }
        }
        break;
    }
    case 2: /* 256 colours, chain-4 style (mode 13h): four bytes per dword, doubled */
        for (int x = 0; x < width / 8; x++, p += 4) {
            for (int i = 0; i < 4; i++) {
                d[0] = d[1] = pal[p[i]];
                d += 2;
            }
        }
        break;
    case 8:
        for (int x = 0; x < width; x++) {
            d[x] = pal[p[x]];
        }
        break;
    case 15:
        for (int x = 0; x < width; x++) {
            uint32_t v = p[2 * x] | p[2 * x + 1] << 8;
            uint32_t r = (v >> 7) & 0xf8, g = (v >> 2) & 0xf8, b = (v << 3) & 0xf8;
            d[x] = rgb(r, g, b);
        }
        break;
    case 16:
        for (int x = 0; x < width; x++) {
            uint32_t v = p[2 * x] | p[2 * x + 1] << 8;
            uint32_t r = (v >> 8) & 0xf8, g = (v >> 3) & 0xfc, b = (v << 3) & 0xf8;
            d[x] = rgb(r, g, b);
        }
        break;
    case 24:
        for (int x = 0; x < width; x++) {
            d[x] = rgb(p[3 * x + 2], p[3 * x + 1], p[3 * x]);
        }
        break;
    default: /* 32 */
        for (int x = 0; x < width; x++) {
            d[x] = rgb(p[4 * x + 2], p[4 * x + 1], p[4 * x]);
        }
        break;
    }
}

static void draw_graphic(VGAState *s, bool full)
{
    full |= update_basic_params(s);
    int width, height;
    if (vbe_enabled(s)) {
        width = s->vbe_regs[VBE_DISPI_INDEX_XRES];
        height = s->vbe_regs[VBE_DISPI_INDEX_YRES];
    } else {
        width = (s->cr[CR_HDISP] + 1) * 8;
        height = (s->cr[CR_VDISP_END] | ((s->cr[CR_OVERFLOW] & 0x02) << 7) |
                  ((s->cr[CR_OVERFLOW] & 0x40) << 3)) +
                 1;
    }
    int disp_width = width;
    int shift_control = (s->gr[GR_MODE] >> 5) & 3;
    int double_scan = s->cr[CR_MAXSCAN] >> 7;
    int multi_scan =
        shift_control != 1 ? (((s->cr[CR_MAXSCAN] & 0x1f) + 1) << double_scan) - 1 : double_scan;
    if (shift_control != s->shift_control || double_scan != s->double_scan) {
        full = true;
        s->shift_control = shift_control;
        s->double_scan = double_scan;
    }
    if (shift_control <= 1 && (s->sr[SR_CLOCK] & 8)) {
        disp_width <<= 1;
    }
    int depth = vbe_enabled(s) ? s->vbe_regs[VBE_DISPI_INDEX_BPP] : 0;
    int kind, bits;
    if (shift_control <= 1) {
        full |= update_palette16(s);
        kind = (s->sr[SR_CLOCK] & 8) ? 1 : 0;
        bits = 4;
    } else {
        switch (depth) {
        case 8:
            full |= update_palette256(s);
            kind = 8;
            bits = 8;
            break;
        case 15:
        case 16:
            kind = depth;
            bits = 16;
            break;
        case 24:
            kind = bits = 24;
            break;
        case 32:
            kind = bits = 32;
            break;
        default:
            full |= update_palette256(s);
            kind = 2;
            bits = 4;
            break;
        }
    }
    if (disp_width <= 0 || height <= 0 || disp_width > 16384 || height > 16384) {
        return;
    }
    if (s->line_offset != s->last_line_offset || disp_width != s->last_width ||
        height != s->last_height || s->last_depth != depth) {
        console_resize(s->con, disp_width, height);
        s->last_scr_width = s->last_width = disp_width;
        s->last_scr_height = s->last_height = height;
        s->last_line_offset = s->line_offset;
        s->last_depth = depth;
        full = true;
    }
    pixman_image_t *img = console_surface(s->con);
    if (pixman_image_get_width(img) < disp_width || pixman_image_get_height(img) < height) {
        return;
    }
    uint32_t *dest = pixman_image_get_data(img);
    int stride = pixman_image_get_stride(img) / 4;
    snapshot_dirty(s);
    uint64_t addr1 = (uint64_t)s->start_addr * 4;
    uint64_t bwidth = ((uint64_t)width * bits + 7) / 8;
    int y_start = -1, y1 = 0, multi_run = multi_scan;
    for (int y = 0; y < height; y++) {
        uint64_t addr = addr1;
        if (!(s->cr[CR_MODE] & 1)) { /* CGA addressing */
            int shift = 14 + ((s->cr[CR_MODE] >> 6) & 1);
            addr = (addr & ~(1ull << shift)) | ((uint64_t)(y1 & 1) << shift);
        }
        if (!(s->cr[CR_MODE] & 2)) {
            addr = (addr & ~0x8000ull) | ((uint64_t)(y1 & 2) << 14);
        }
        bool in_range = addr + bwidth <= s->vram_size;
        bool update = full || (in_range && range_dirty(s, addr, bwidth));
        if (update) {
            if (y_start < 0) {
                y_start = y;
            }
            uint32_t *d = dest + (size_t)y * stride;
            if (in_range) {
                draw_line(s, kind, d, addr, width);
            } else {
                memset(d, 0, (size_t)disp_width * 4);
            }
        } else if (y_start >= 0) {
            console_dirty(s->con, 0, y_start, disp_width, y - y_start);
            y_start = -1;
        }
        if (!multi_run) {
            int mask = (s->cr[CR_MODE] & 3) ^ 3;
            if ((y1 & mask) == mask) {
                addr1 += s->line_offset;
            }
            y1++;
            multi_run = multi_scan;
        } else {
            multi_run--;
        }
        if ((uint32_t)y == s->line_compare) {
            addr1 = 0;
        }
    }
    if (y_start >= 0) {
        console_dirty(s->con, 0, y_start, disp_width, height - y_start);
    }
}

static void draw_blank(VGAState *s, bool full)
{
    if (!full || s->last_scr_width <= 0 || s->last_scr_height <= 0) {
        return;
    }
    pixman_image_t *img = console_surface(s->con);
    int w = pixman_image_get_width(img), h = pixman_image_get_height(img);
    memset(pixman_image_get_data(img), 0, (size_t)pixman_image_get_stride(img) * h);
    console_dirty(s->con, 0, 0, w, h);
}

void vga_update_display(void *opaque)
{
    VGAState *s = opaque;
    if (!s->con) {
        return;
    }
    bool full = s->full_update;
    s->full_update = false;
    int mode = !(s->ar_index & 0x20) ? GMODE_BLANK : (s->gr[GR_MISC] & 0x01);
    if (mode != s->graphic_mode) {
        s->graphic_mode = mode;
        s->cursor_blink_time = vclock_ns() / 1000000;
        full = true;
    }
    switch (mode) {
    case GMODE_TEXT:
        draw_text(s, full);
        break;
    case GMODE_GRAPH:
        draw_graphic(s, full);
        break;
    default:
        draw_blank(s, full);
        break;
    }
}

void vga_invalidate_display(void *opaque)
{
    VGAState *s = opaque;
    s->last_width = -1;
    s->last_height = -1;
    s->full_update = true;
}

static const ConsoleHwOps vga_console_ops = {
    .gfx_update = vga_update_display,
    .invalidate = vga_invalidate_display,
};

void vga_attach_console(VGAState *s, const char *label)
{
    s->con = console_new_graphic(label, 0, &vga_console_ops, s);
}

/* ---- life cycle ------------------------------------------------------------------------ */

bool vga_common_init(VGAState *s, const char *owner_label, char **errp)
{
    (void)owner_label;
    uint32_t mb = s->vgamem_mb;
    if (mb < 1) {
        mb = 1;
    }
    if (mb > 512) {
        mb = 512;
    }
    uint32_t p = 1;
    while (p < mb) {
        p <<= 1;
    }
    s->vram_size = p << 20;
    s->vbe_size = s->vram_size;
    if (!memory_region_init_ram(&s->vram, "vga.vram", s->vram_size)) {
        *errp = g_strdup("cannot allocate video memory");
        return false;
    }
    s->vram_ptr = memory_region_get_ram_ptr(&s->vram, 0);
    memory_region_set_dirty_log(&s->vram, true);
    const unsigned bpl = 8 * sizeof(unsigned long);
    s->dirty_snap = g_new0(unsigned long, (s->vram_size / 4096 + bpl - 1) / bpl);
    vga_common_reset(s);
    return true;
}

void vga_common_fini(VGAState *s)
{
    if (s->con) {
        console_release(s->con);
        s->con = NULL;
    }
    if (s->vram_ptr) {
        memory_region_destroy(&s->vram);
        s->vram_ptr = NULL;
    }
    g_free(s->dirty_snap);
    s->dirty_snap = NULL;
}

void vga_common_reset(VGAState *s)
{
    s->sr_index = s->gr_index = s->ar_index = s->cr_index = 0;
    memset(s->sr, 0, sizeof(s->sr));
    memset(s->gr, 0, sizeof(s->gr));
    memset(s->ar, 0, sizeof(s->ar));
    memset(s->cr, 0, sizeof(s->cr));
    s->ar_flip_flop = 0;
    s->msr = s->fcr = s->st00 = s->st01 = 0;
    s->dac_state = s->dac_sub_index = s->dac_read_index = s->dac_write_index = 0;
    memset(s->dac_cache, 0, sizeof(s->dac_cache));
    s->dac_8bit = 0;
    memset(s->palette, 0, sizeof(s->palette));
    s->bank_offset = 0;
    s->vbe_index = 0;
    memset(s->vbe_regs, 0, sizeof(s->vbe_regs));
    s->vbe_regs[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    s->vbe_start_addr = s->vbe_line_offset = 0;
    s->vbe_bank_mask = (s->vram_size >> 16) - 1;
    s->latch = 0;
    memset(s->font_offsets, 0, sizeof(s->font_offsets));
    s->graphic_mode = -1;
    s->shift_control = s->double_scan = 0;
    s->line_offset = s->line_compare = s->start_addr = 0;
    s->plane_updated = 0;
    s->last_cw = s->last_ch = s->last_width = s->last_height = 0;
    s->last_scr_width = s->last_scr_height = 0;
    s->last_depth = 0;
    s->last_line_offset = 0;
    s->cursor_start = s->cursor_end = 0;
    s->cursor_offset = 0;
    memset(s->last_palette, 0, sizeof(s->last_palette));
    memset(s->last_ch_attr, 0, sizeof(s->last_ch_attr));
    s->full_update = true;
}

/* ---- mode 3, as a VGA BIOS leaves it --------------------------------------------------- */

void vga_set_text_mode3(VGAState *s, const uint8_t *font)
{
    static const uint8_t seq[5] = {0x03, 0x00, 0x03, 0x00, 0x02};
    static const uint8_t crtc[25] = {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00,
                                     0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
                                     0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff};
    static const uint8_t actl[20] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39,
                                     0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08};
    static const uint8_t grdc[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f, 0xff};
    memcpy(s->sr, seq, sizeof(seq));
    memset(s->cr, 0, sizeof(s->cr));
    memcpy(s->cr, crtc, sizeof(crtc));
    memcpy(s->ar, actl, sizeof(actl));
    s->ar[AR_COLOR_PAGE] = 0;
    memcpy(s->gr, grdc, sizeof(grdc));
    s->msr = 0x67;
    s->ar_index = 0x20; /* video on */
    s->ar_flip_flop = 0;
    /* the EGA palette in the first 64 DAC entries */
    memset(s->palette, 0, sizeof(s->palette));
    for (int i = 0; i < 64; i++) {
        s->palette[i * 3] = (uint8_t)(((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15);
        s->palette[i * 3 + 1] = (uint8_t)(((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15);
        s->palette[i * 3 + 2] = (uint8_t)((i & 1) * 0x2a + ((i >> 3) & 1) * 0x15);
    }
    /* the text buffer (planes 0 and 1 of the first 16 KiB of odd/even addresses) */
    for (uint32_t i = 0; i < 0x4000; i++) {
        s->vram_ptr[i * 4] = ' ';
        s->vram_ptr[i * 4 + 1] = 0x07;
    }
    /* the font in plane 2, map 0: 32 rows per glyph */
    for (uint32_t ch = 0; ch < 256; ch++) {
        for (uint32_t r = 0; r < 32; r++) {
            s->vram_ptr[(ch * 32 + r) * 4 + 2] = r < 16 && font ? font[ch * 16 + r] : 0;
        }
    }
    memory_region_set_dirty(&s->vram, 0, 256 * 32 * 4);
    s->plane_updated |= 1 << 2;
    s->full_update = true;
}

/* ---- saved state ----------------------------------------------------------------------- */

static bool vga_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    VGAState *s = opaque;
    s->graphic_mode = -1;
    s->full_update = true;
    return true;
}

static const VMStateField vga_fields[] = {
    VMSTATE_UINT32(latch, VGAState),
    VMSTATE_UINT8(sr_index, VGAState),
    VMSTATE_BUFFER(sr, VGAState),
    VMSTATE_UINT8(gr_index, VGAState),
    VMSTATE_BUFFER(gr, VGAState),
    VMSTATE_UINT8(ar_index, VGAState),
    VMSTATE_BUFFER(ar, VGAState),
    VMSTATE_INT32(ar_flip_flop, VGAState),
    VMSTATE_UINT8(cr_index, VGAState),
    VMSTATE_BUFFER(cr, VGAState),
    VMSTATE_UINT8(msr, VGAState),
    VMSTATE_UINT8(fcr, VGAState),
    VMSTATE_UINT8(st00, VGAState),
    VMSTATE_UINT8(st01, VGAState),
    VMSTATE_UINT8(dac_state, VGAState),
    VMSTATE_UINT8(dac_sub_index, VGAState),
    VMSTATE_UINT8(dac_read_index, VGAState),
    VMSTATE_UINT8(dac_write_index, VGAState),
    VMSTATE_BUFFER(dac_cache, VGAState),
    VMSTATE_UINT8(dac_8bit, VGAState),
    VMSTATE_BUFFER(palette, VGAState),
    VMSTATE_INT32(bank_offset, VGAState),
    VMSTATE_UINT16(vbe_index, VGAState),
    VMSTATE_UINT16_ARRAY(vbe_regs, VGAState, VBE_DISPI_INDEX_NB),
    VMSTATE_UINT32(vbe_start_addr, VGAState),
    VMSTATE_UINT32(vbe_line_offset, VGAState),
    VMSTATE_UINT32(vbe_bank_mask, VGAState),
    VMSTATE_END_OF_LIST(),
};

const VMStateDescription vga_common_vmsd = {
    .name = "vga",
    .version = 2,
    .minimum_version = 2,
    .fields = vga_fields,
    .post_load = vga_post_load,
};
