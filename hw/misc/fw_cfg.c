/*
 * QEMU's firmware configuration device (fw_cfg), x86 I/O flavour:
 *   0x510  16-bit write: select an item (the read offset goes back to 0)
 *   0x510/0x511  8-bit read: the next byte of the selected item (0 past its end)
 *   0x514  DMA address (big endian; writing the low half at 0x518, or all 8 bytes at 0x514,
 *          starts the transfer); reading it gives the signature "QEMU CFG"
 * Items are QEMU's numbers (docs/specs/fw_cfg.txt of QEMU): 0x00 signature "QEMU", 0x01 the
 * feature bits (traditional interface | DMA), 0x02 UUID, 0x03 RAM size, 0x05 boot CPUs, 0x0f
 * max CPUs, 0x19 the file directory (big-endian count, then 64-byte entries: size, select,
 * reserved, name), files from 0x20, arch-local items from 0x8000. Nothing is writable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include "vireo/devices.h"
#include "vireo/dma.h"
#include "vireo/ioport.h"
#include "vireo/memory.h"

#define FW_CFG_SIGNATURE     0x00
#define FW_CFG_ID            0x01
#define FW_CFG_UUID          0x02
#define FW_CFG_RAM_SIZE      0x03
#define FW_CFG_NOGRAPHIC     0x04
#define FW_CFG_NB_CPUS       0x05
#define FW_CFG_KERNEL_ADDR   0x07
#define FW_CFG_KERNEL_SIZE   0x08
#define FW_CFG_INITRD_ADDR   0x0a
#define FW_CFG_INITRD_SIZE   0x0b
#define FW_CFG_BOOT_MENU     0x0e
#define FW_CFG_MAX_CPUS      0x0f
#define FW_CFG_CMDLINE_ADDR  0x13
#define FW_CFG_CMDLINE_SIZE  0x14
#define FW_CFG_CMDLINE_DATA  0x15
#define FW_CFG_SETUP_ADDR    0x16
#define FW_CFG_SETUP_SIZE    0x17
#define FW_CFG_FILE_DIR      0x19
#define FW_CFG_FILE_FIRST    0x20
#define FW_CFG_FILE_SLOTS    0x20
#define FW_CFG_ARCH_LOCAL    0x8000
#define FW_CFG_IRQ0_OVERRIDE (FW_CFG_ARCH_LOCAL + 2)

#define FW_CFG_VERSION     0x01
#define FW_CFG_VERSION_DMA 0x02

#define DMA_CTL_ERROR  0x01
#define DMA_CTL_READ   0x02
#define DMA_CTL_SKIP   0x04
#define DMA_CTL_SELECT 0x08
#define DMA_CTL_WRITE  0x10

#define N_SLOTS 0x100 /* per half: standard (0x0000-0x00ff) and arch-local (0x8000-0x80ff) */

typedef struct FWCfgItem {
    uint8_t *data;
    uint32_t len;
} FWCfgItem;

struct FWCfgState {
    FWCfgItem items[2][N_SLOTS];
    uint16_t cur;
    uint32_t offset;
    uint64_t dma_addr;
    unsigned n_files;
    uint8_t *dir; /* FW_CFG_FILE_DIR contents */
};

static FWCfgItem *item(FWCfgState *s, uint16_t key)
{
    unsigned idx = key & 0x3fff;
    if (idx >= N_SLOTS) {
        return NULL;
    }
    return &s->items[(key & FW_CFG_ARCH_LOCAL) ? 1 : 0][idx];
}

void fw_cfg_add_bytes(FWCfgState *s, uint16_t key, const void *data, uint32_t len)
{
    FWCfgItem *it = item(s, key);
    if (!it) {
        return;
    }
    g_free(it->data);
    it->data = g_memdup2(data, len);
    it->len = len;
}

void fw_cfg_add_i16(FWCfgState *s, uint16_t key, uint16_t v)
{
    uint8_t b[2] = {v, v >> 8};
    fw_cfg_add_bytes(s, key, b, 2);
}

void fw_cfg_add_i32(FWCfgState *s, uint16_t key, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = v >> (8 * i);
    }
    fw_cfg_add_bytes(s, key, b, 4);
}

void fw_cfg_add_i64(FWCfgState *s, uint16_t key, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = v >> (8 * i);
    }
    fw_cfg_add_bytes(s, key, b, 8);
}

void fw_cfg_add_string(FWCfgState *s, uint16_t key, const char *str)
{
    fw_cfg_add_bytes(s, key, str, (uint32_t)strlen(str) + 1);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* The directory is kept sorted by name, as QEMU keeps it. */
void fw_cfg_add_file(FWCfgState *s, const char *name, const void *data, uint32_t len)
{
    if (s->n_files >= FW_CFG_FILE_SLOTS || strlen(name) >= 56) {
        return;
    }
    uint16_t key = FW_CFG_FILE_FIRST + s->n_files;
    fw_cfg_add_bytes(s, key, data, len);
    s->n_files++;
    s->dir = g_realloc(s->dir, 4 + 64 * s->n_files);
    put_be32(s->dir, s->n_files);
    unsigned pos = s->n_files - 1;
    while (pos > 0 && strcmp((char *)s->dir + 4 + 64 * (pos - 1) + 8, name) > 0) {
        memcpy(s->dir + 4 + 64 * pos, s->dir + 4 + 64 * (pos - 1), 64);
        pos--;
    }
    uint8_t *e = s->dir + 4 + 64 * pos;
    memset(e, 0, 64);
    put_be32(e, len);
    e[4] = key >> 8;
    e[5] = key;
    memcpy(e + 8, name, strlen(name));
    fw_cfg_add_bytes(s, FW_CFG_FILE_DIR, s->dir, 4 + 64 * s->n_files);
}

/* Replace a file's contents (QEMU's fw_cfg_modify_file), or add it when it is not there yet. */
void fw_cfg_set_file(FWCfgState *s, const char *name, const void *data, uint32_t len)
{
    for (unsigned i = 0; i < s->n_files; i++) {
        uint8_t *e = s->dir + 4 + 64 * i;
        if (!strncmp((char *)e + 8, name, 56)) {
            fw_cfg_add_bytes(s, (uint16_t)(e[4] << 8 | e[5]), data, len);
            put_be32(e, len);
            fw_cfg_add_bytes(s, FW_CFG_FILE_DIR, s->dir, 4 + 64 * s->n_files);
            return;
        }
    }
    fw_cfg_add_file(s, name, data, len);
}

static void select_item(FWCfgState *s, uint16_t key)
{
    s->cur = key;
    s->offset = 0;
}

static uint8_t read_byte(FWCfgState *s)
{
    FWCfgItem *it = item(s, s->cur);
    if (!it || s->offset >= it->len) {
        return 0;
    }
    return it->data[s->offset++];
}

static uint64_t io_read(void *opaque, uint64_t addr, unsigned size)
{
    FWCfgState *s = opaque;
    if (size != 1) {
        return 0;
    }
    return read_byte(s);
}

static void io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    FWCfgState *s = opaque;
    if (size == 2 && addr == 0) {
        select_item(s, (uint16_t)val);
    }
    /* byte writes to the data register: no writable items (QEMU ignores them too) */
}

static void dma_transfer(FWCfgState *s)
{
    uint64_t desc = s->dma_addr;
    uint8_t d[16];
    s->dma_addr = 0;
    if (dma_read(desc, d, sizeof(d)) != DMA_OK) {
        return;
    }
    uint32_t control = get_be32(d);
    uint32_t length = get_be32(d + 4);
    uint64_t addr = (uint64_t)get_be32(d + 8) << 32 | get_be32(d + 12);
    bool error = false;
    if (control & DMA_CTL_SELECT) {
        select_item(s, control >> 16);
    }
    FWCfgItem *it = item(s, s->cur);
    if (control & DMA_CTL_WRITE) {
        error = true;
    } else if (control & (DMA_CTL_READ | DMA_CTL_SKIP)) {
        uint32_t avail = it && s->offset < it->len ? it->len - s->offset : 0;
        uint32_t n = length < avail ? length : avail;
        if (control & DMA_CTL_READ) {
            if (n && dma_write(addr, it->data + s->offset, n) != DMA_OK) {
                error = true;
            }
            /* past the end the guest gets zeros */
            if (!error && length > n && dma_set(addr + n, 0, length - n) != DMA_OK) {
                error = true;
            }
        }
        s->offset += n;
    }
    uint8_t ctl[4];
    put_be32(ctl, error ? DMA_CTL_ERROR : 0);
    dma_write(desc, ctl, 4);
}

static uint64_t dma_reg_read(void *opaque, uint64_t addr, unsigned size)
{
    static const char sig[8] = "QEMU CFG"; /* the register reads big endian */
    uint64_t v = 0;
    for (unsigned i = 0; i < size && addr + i < 8; i++) {
        v |= (uint64_t)(uint8_t)sig[addr + i] << (8 * i);
    }
    return v;
}

static void dma_reg_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    FWCfgState *s = opaque;
    if (addr == 0 && size == 8) {
        s->dma_addr = __builtin_bswap64(val);
        dma_transfer(s);
    } else if (addr == 0 && size == 4) {
        s->dma_addr = (uint64_t)__builtin_bswap32((uint32_t)val) << 32;
    } else if (addr == 4 && size == 4) {
        s->dma_addr |= __builtin_bswap32((uint32_t)val);
        dma_transfer(s);
    }
}

static const IOOps fw_cfg_io_ops = {.read = io_read, .write = io_write};
static const IOOps fw_cfg_dma_ops = {.read = dma_reg_read, .write = dma_reg_write};

/* -uuid's canonical text "xxxxxxxx-xxxx-..." as the 16 bytes QEMU stores (big endian). */
static void parse_uuid(const char *str, uint8_t out[16])
{
    memset(out, 0, 16);
    for (int n = 0; str && *str && n < 32; str++) {
        if (g_ascii_isxdigit(*str)) {
            out[n / 2] |= g_ascii_xdigit_value(*str) << ((n & 1) ? 0 : 4);
            n++;
        }
    }
}

FWCfgState *fw_cfg_create(const VireoConfig *cfg, uint64_t ram_size, uint32_t max_cpus)
{
    FWCfgState *s = g_new0(FWCfgState, 1);
    uint8_t uuid[16];
    fw_cfg_add_bytes(s, FW_CFG_SIGNATURE, "QEMU", 4);
    fw_cfg_add_i32(s, FW_CFG_ID, FW_CFG_VERSION | FW_CFG_VERSION_DMA);
    parse_uuid(cfg->uuid, uuid);
    fw_cfg_add_bytes(s, FW_CFG_UUID, uuid, 16);
    fw_cfg_add_i64(s, FW_CFG_RAM_SIZE, ram_size);
    fw_cfg_add_i16(s, FW_CFG_NOGRAPHIC, cfg->nographic);
    fw_cfg_add_i16(s, FW_CFG_NB_CPUS, cfg->smp.cpus);
    fw_cfg_add_i16(s, FW_CFG_MAX_CPUS, (uint16_t)max_cpus);
    fw_cfg_add_i16(s, FW_CFG_BOOT_MENU, 0);
    fw_cfg_add_i32(s, FW_CFG_IRQ0_OVERRIDE, 0); /* GSI 0 is IRQ0: no override in the MADT */
    s->dir = g_malloc0(4);
    fw_cfg_add_bytes(s, FW_CFG_FILE_DIR, s->dir, 4);
    pio_register(0x510, 2, &fw_cfg_io_ops, s);
    pio_register(0x514, 8, &fw_cfg_dma_ops, s);
    return s;
}

static uint32_t guest_rd32(uint64_t gpa)
{
    uint8_t b[4] = {0};
    guest_read(gpa, b, 4);
    return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

void fw_cfg_add_linux_boot(FWCfgState *s, const VireoConfig *cfg, uint64_t boot_params)
{
    uint8_t hdr[0x1f2] = {0};
    struct stat st;
    FILE *f = fopen(cfg->kernel, "rb");
    if (!f) {
        return;
    }
    size_t n = fread(hdr, 1, sizeof(hdr), f);
    int r = fstat(fileno(f), &st);
    fclose(f);
    if (n < sizeof(hdr) || r < 0) {
        return;
    }
    uint32_t setup_size = ((hdr[0x1f1] ? hdr[0x1f1] : 4) + 1) * 512;
    const char *append = cfg->append ? cfg->append : "";
    fw_cfg_add_i32(s, FW_CFG_KERNEL_ADDR, guest_rd32(boot_params + 0x214));
    fw_cfg_add_i32(s, FW_CFG_KERNEL_SIZE, (uint32_t)st.st_size - setup_size);
    fw_cfg_add_i32(s, FW_CFG_SETUP_ADDR, (uint32_t)boot_params);
    fw_cfg_add_i32(s, FW_CFG_SETUP_SIZE, setup_size);
    fw_cfg_add_i32(s, FW_CFG_CMDLINE_ADDR, guest_rd32(boot_params + 0x228));
    fw_cfg_add_i32(s, FW_CFG_CMDLINE_SIZE, (uint32_t)strlen(append) + 1);
    fw_cfg_add_string(s, FW_CFG_CMDLINE_DATA, append);
    if (cfg->initrd) {
        fw_cfg_add_i32(s, FW_CFG_INITRD_ADDR, guest_rd32(boot_params + 0x218));
        fw_cfg_add_i32(s, FW_CFG_INITRD_SIZE, guest_rd32(boot_params + 0x21c));
    }
}

void fw_cfg_add_e820(FWCfgState *s)
{
    uint8_t e[RAM_MAX_BLOCKS * 20] = {0};
    for (unsigned i = 0; i < guest_ram.n; i++) {
        uint8_t *p = e + i * 20;
        for (int j = 0; j < 8; j++) {
            p[j] = guest_ram.blocks[i].gpa >> (8 * j);
            p[8 + j] = guest_ram.blocks[i].size >> (8 * j);
        }
        p[16] = 1; /* RAM */
    }
    fw_cfg_add_file(s, "etc/e820", e, guest_ram.n * 20);
}

void fw_cfg_reset(FWCfgState *s)
{
    if (s) {
        select_item(s, FW_CFG_SIGNATURE);
        s->dma_addr = 0;
    }
}

void fw_cfg_destroy(FWCfgState *s)
{
    if (!s) {
        return;
    }
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < N_SLOTS; i++) {
            g_free(s->items[h][i].data);
        }
    }
    g_free(s->dir);
    g_free(s);
}
