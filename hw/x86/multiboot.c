/*
 * Multiboot (v1) kernels for -kernel, laid out as QEMU 7.2 lays them out (Multiboot
 * Specification 0.6.96; QEMU's hw/i386/multiboot.c behaviour for the addresses and messages):
 *
 * - The header (magic 0x1BADB002, flags, checksum summing to 0) is searched at 4-byte
 *   alignment in the first 8 KiB of the file.
 * - Flag bit 16 (the "a.out kludge"): header_addr/load_addr/load_end_addr/bss_end_addr/
 *   entry_addr say where the file goes. Otherwise the file is an ELF (32- or 64-bit class,
 *   machine EM_386; EM_X86_64 is refused as QEMU refuses it): PT_LOAD segments at their
 *   physical addresses, entry e_entry.
 * - After the kernel image (page-aligned) come the module descriptors, the command lines
 *   ("KERNEL APPEND" for the kernel, as QEMU passes its file name first), the boot loader name
 *   "qemu", then every -initrd module ("file args,file2 args", ",," escapes a comma), each
 *   page-aligned. The memory map is at 0x9000 and the info block at 0x9500 (EBX).
 * - The CPU starts in flat 32-bit protected mode, paging off, interrupts off, EAX=0x2BADB002.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/devices.h"
#include "vireo/error.h"
#include "vireo/memory.h"
#include "vireo/x86.h"

#define MB_MAGIC      0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH     8192
#define MB_FLAG_VBE   0x00000004u
#define MB_FLAG_AOUT  0x00010000u

#define MB_ADDR_MMAP 0x9000u
#define MB_ADDR_MBI  0x9500u
#define MB_GDT       0x500u
#define MB_STACK     0x7c00u

/* info block offsets and flags */
#define MBI_FLAGS       0
#define MBI_MEM_LOWER   4
#define MBI_MEM_UPPER   8
#define MBI_BOOT_DEVICE 12
#define MBI_CMDLINE     16
#define MBI_MODS_COUNT  20
#define MBI_MODS_ADDR   24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR   48
#define MBI_BOOTLOADER  64
#define MBI_SIZE        88

#define MBI_F_MEMORY     (1u << 0)
#define MBI_F_BOOTDEV    (1u << 1)
#define MBI_F_CMDLINE    (1u << 2)
#define MBI_F_MODULES    (1u << 3)
#define MBI_F_MMAP       (1u << 6)
#define MBI_F_BOOTLOADER (1u << 9)

#define MOD_SIZE 16

/* fw_cfg items QEMU fills for its multiboot option ROM */
#define FW_CFG_KERNEL_ADDR  0x07
#define FW_CFG_KERNEL_SIZE  0x08
#define FW_CFG_INITRD_ADDR  0x0a
#define FW_CFG_INITRD_SIZE  0x0b
#define FW_CFG_KERNEL_ENTRY 0x10
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15

#define PAGE_ALIGN(x) (((x) + 0xfffu) & ~(uint64_t)0xfff)

static uint32_t rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return p[0] | p[1] << 8;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = v >> (8 * i);
    }
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* A whole file (NULL with errno set). */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, r;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            buf = g_realloc(buf, cap);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    int err = ferror(f) ? EIO : 0;
    fclose(f);
    if (err) {
        g_free(buf);
        errno = err;
        return NULL;
    }
    *len = n;
    return buf;
}

/*
 * Offset of a valid Multiboot header in the first 8 KiB, or -1. As QEMU, the search runs over
 * an 8 KiB window (zero past the end of a shorter file) and stops 48 bytes before its end.
 */
static long find_header(const uint8_t *file, size_t len)
{
    uint8_t buf[MB_SEARCH] = {0};
    memcpy(buf, file, len < MB_SEARCH ? len : MB_SEARCH);
    for (size_t i = 0; i < MB_SEARCH - 48; i += 4) {
        if (rd32(buf + i) == MB_MAGIC &&
            (uint32_t)(rd32(buf + i) + rd32(buf + i + 4) + rd32(buf + i + 8)) == 0) {
            return (long)i;
        }
    }
    return -1;
}

bool multiboot_probe(const char *path)
{
    uint8_t buf[MB_SEARCH];
    FILE *f = fopen(path, "rb");
    if (!f) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    /* a Linux bzImage is a Linux bzImage whatever else it carries */
    if (n >= 0x206 && rd32(buf + 0x202) == 0x53726448) {
        return false;
    }
    return find_header(buf, n) >= 0;
}

/* The ELF image: PT_LOAD segments into a buffer covering [low, high). */
static uint8_t *load_elf(const uint8_t *k, size_t klen, uint32_t *low, uint32_t *size,
                         uint32_t *entry)
{
    if (klen < 52 || memcmp(k, "\177ELF", 4) || (k[4] != 1 && k[4] != 2) || k[5] != 1) {
        return NULL;
    }
    bool is64 = k[4] == 2;
    if (rd16(k + 18) != 3 /* EM_386 */) {
        return NULL;
    }
    uint64_t phoff = is64 ? rd64(k + 32) : rd32(k + 28);
    unsigned phentsize = rd16(k + (is64 ? 54 : 42));
    unsigned phnum = rd16(k + (is64 ? 56 : 44));
    uint64_t e_entry = is64 ? rd64(k + 24) : rd32(k + 24);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *img = NULL;
        if (pass == 1) {
            if (lo >= hi || hi - lo > 0x40000000ull || hi > 0x100000000ull) {
                return NULL;
            }
            img = g_malloc0(hi - lo);
        }
        for (unsigned i = 0; i < phnum; i++) {
            uint64_t ph = phoff + (uint64_t)i * phentsize;
            if (ph + (is64 ? 56 : 32) > klen) {
                g_free(img);
                return NULL;
            }
            const uint8_t *p = k + ph;
            if (rd32(p) != 1 /* PT_LOAD */) {
                continue;
            }
            uint64_t off = is64 ? rd64(p + 8) : rd32(p + 4);
            uint64_t paddr = is64 ? rd64(p + 24) : rd32(p + 12);
            uint64_t filesz = is64 ? rd64(p + 32) : rd32(p + 16);
            uint64_t memsz = is64 ? rd64(p + 40) : rd32(p + 20);
            if (memsz == 0) {
                continue;
            }
            if (filesz > memsz || off > klen || filesz > klen - off) {
                g_free(img);
                return NULL;
            }
            if (pass == 0) {
                lo = paddr < lo ? paddr : lo;
                hi = paddr + memsz > hi ? paddr + memsz : hi;
            } else {
                memcpy(img + (paddr - lo), k + off, filesz);
            }
        }
        if (pass == 1) {
            *low = (uint32_t)lo;
            *size = (uint32_t)(hi - lo);
            *entry = (uint32_t)e_entry;
            return img;
        }
    }
    return NULL;
}

/* Split QEMU's -initrd module list: "a args,b" -> "a args", "b"; ",," is a comma. */
static GPtrArray *split_modules(const char *s)
{
    GPtrArray *mods = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    for (const char *p = s;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(mods, g_string_free(cur, FALSE));
            if (!*p) {
                break;
            }
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    return mods;
}

/* The guest-visible buffer: kernel, descriptors, strings, modules (QEMU's mb_buf). */
typedef struct MBBuf {
    uint8_t *buf;
    uint64_t size;
    uint32_t phys;
    uint64_t off_mods, off_cmdlines, n_mods;
} MBBuf;

static uint32_t add_string(MBBuf *b, uint64_t *off, const char *s)
{
    size_t len = strlen(s) + 1;
    memcpy(b->buf + *off, s, len);
    uint32_t addr = b->phys + (uint32_t)*off;
    *off += len;
    return addr;
}

int multiboot_load(const VireoConfig *cfg, X86BootState *bs, FWCfgState *fw)
{
    size_t klen = 0;
    uint8_t *kbuf = read_file(cfg->kernel, &klen);
    if (!kbuf) {
        fprintf(stderr, "qemu: could not open kernel file '%s': %s\n", cfg->kernel,
                strerror(errno));
        return -1;
    }
    const uint8_t *k = (const uint8_t *)kbuf;
    long hoff = find_header(k, klen);
    int ret = -1;
    uint8_t *image = NULL;
    uint32_t load_addr = 0, kernel_size = 0, entry = 0;
    GPtrArray *mods = NULL;
    MBBuf b = {0};
    if (hoff < 0) {
        error_report("no Multiboot header in '%s'", cfg->kernel);
        goto out;
    }
    uint8_t h[48] = {0}; /* the header, zero past the end of a short file */
    memcpy(h, k + hoff, klen - hoff < sizeof(h) ? klen - hoff : sizeof(h));
    uint32_t flags = rd32(h + 4);
    if (flags & MB_FLAG_VBE) {
        error_report("multiboot knows VBE. we don't.");
    }
    if (!(flags & MB_FLAG_AOUT)) {
        if (klen >= 20 && rd16(k + 18) == 62 /* EM_X86_64 */) {
            error_report("Cannot load x86-64 image, give a 32bit one.");
            goto out;
        }
        image = load_elf(k, klen, &load_addr, &kernel_size, &entry);
        if (!image) {
            error_report("Error while loading elf kernel");
            goto out;
        }
    } else {
        uint32_t header_addr = rd32(h + 12);
        load_addr = rd32(h + 16);
        uint32_t load_end = rd32(h + 20), bss_end = rd32(h + 24);
        entry = rd32(h + 28);
        if (header_addr < load_addr) {
            error_report("invalid load_addr address");
            goto out;
        }
        if (header_addr - load_addr > (uint32_t)hoff) {
            error_report("invalid header_addr address");
            goto out;
        }
        uint32_t text_off = (uint32_t)hoff - (header_addr - load_addr);
        uint32_t load_size;
        if (load_end) {
            if (load_end < load_addr) {
                error_report("invalid load_end_addr address");
                goto out;
            }
            load_size = load_end - load_addr;
        } else {
            if (klen < text_off) {
                error_report("invalid kernel_file_size");
                goto out;
            }
            load_size = (uint32_t)(klen - text_off);
        }
        if (load_size > UINT32_MAX - load_addr) {
            error_report("kernel does not fit in address space");
            goto out;
        }
        if (bss_end) {
            if (bss_end < load_addr + load_size) {
                error_report("invalid bss_end_addr address");
                goto out;
            }
            kernel_size = bss_end - load_addr;
        } else {
            kernel_size = load_size;
        }
        image = g_malloc0(kernel_size ? kernel_size : 1);
        uint64_t avail = text_off < klen ? klen - text_off : 0;
        memcpy(image, k + text_off, load_size < avail ? load_size : avail);
    }

    /* the buffer: kernel | module descriptors | command lines | "qemu" | modules */
    const char *append = cfg->append ? cfg->append : "";
    char *kcmdline = g_strdup_printf("%s %s", cfg->kernel, append);
    mods = cfg->initrd ? split_modules(cfg->initrd) : g_ptr_array_new_with_free_func(g_free);
    uint64_t cmdlines_len = strlen(kcmdline) + 1;
    for (unsigned i = 0; i < mods->len; i++) {
        cmdlines_len += strlen(g_ptr_array_index(mods, i)) + 1;
    }
    b.phys = load_addr;
    b.n_mods = mods->len;
    b.off_mods = PAGE_ALIGN(kernel_size);
    b.off_cmdlines = b.off_mods + MOD_SIZE * b.n_mods;
    uint64_t strings_end = b.off_cmdlines + cmdlines_len + strlen("qemu") + 1;
    b.size = PAGE_ALIGN(strings_end);
    b.buf = g_malloc0(b.size);
    memcpy(b.buf, image, kernel_size);
    uint64_t str_off = b.off_cmdlines;
    for (unsigned i = 0; i < mods->len; i++) {
        const char *spec = g_ptr_array_index(mods, i);
        uint32_t cmd_addr = add_string(&b, &str_off, spec);
        char *file = g_strdup(spec);
        char *sp = strchr(file, ' ');
        if (sp) {
            *sp = '\0';
        }
        gchar *data = NULL;
        gsize mlen = 0;
        if (!g_file_get_contents(file, &data, &mlen, NULL)) {
            error_report("Failed to open file '%s'", file);
            g_free(file);
            g_free(kcmdline);
            goto out;
        }
        uint64_t at = b.size;
        b.size = PAGE_ALIGN(at + mlen);
        b.buf = g_realloc(b.buf, b.size);
        memset(b.buf + at, 0, b.size - at);
        memcpy(b.buf + at, data, mlen);
        uint8_t *m = b.buf + b.off_mods + MOD_SIZE * i;
        wr32(m, b.phys + (uint32_t)at);
        wr32(m + 4, b.phys + (uint32_t)(at + mlen));
        wr32(m + 8, cmd_addr);
        wr32(m + 12, 0);
        g_free(data);
        g_free(file);
    }
    uint32_t cmdline_addr = add_string(&b, &str_off, kcmdline);
    uint32_t loader_addr = add_string(&b, &str_off, "qemu");

    uint64_t lowmem_end = guest_ram.blocks[0].size;
    /* in RAM and clear of the EBDA/VGA/BIOS hole; like QEMU, a kernel linked low (0x3000,
     * 0x8000) is loaded too, and the info block at 0x9000 written over it */
    uint64_t end = (uint64_t)b.phys + b.size;
    if (end > lowmem_end || (b.phys < 0x100000 && end > 0x9fc00)) {
        error_report("multiboot kernel '%s' (0x%x-0x%llx) does not fit in guest memory",
                     cfg->kernel, b.phys, (unsigned long long)(b.phys + b.size));
        g_free(kcmdline);
        goto out;
    }
    guest_write(b.phys, b.buf, b.size);

    /* memory map, as the PC's e820 */
    uint8_t mmap[6 * 24];
    unsigned n = 0;
    const uint64_t ranges[][3] = {
        {0, 0x9fc00, 1},
        {0x9fc00, 0x400, 2},
        {PC_BIOS_AREA, PC_BIOS_AREA_SIZE, 2},
        {0x100000, lowmem_end - 0x100000, 1},
    };
    for (unsigned i = 0; i < 4; i++, n++) {
        wr32(mmap + n * 24, 20);
        wr64(mmap + n * 24 + 4, ranges[i][0]);
        wr64(mmap + n * 24 + 12, ranges[i][1]);
        wr32(mmap + n * 24 + 20, (uint32_t)ranges[i][2]);
    }
    for (unsigned i = 1; i < guest_ram.n && n < 6; i++, n++) {
        wr32(mmap + n * 24, 20);
        wr64(mmap + n * 24 + 4, guest_ram.blocks[i].gpa);
        wr64(mmap + n * 24 + 12, guest_ram.blocks[i].size);
        wr32(mmap + n * 24 + 20, 1);
    }
    guest_write(MB_ADDR_MMAP, mmap, n * 24);

    uint8_t mbi[MBI_SIZE] = {0};
    wr32(mbi + MBI_FLAGS, MBI_F_MEMORY | MBI_F_BOOTDEV | MBI_F_CMDLINE | MBI_F_MODULES |
                              MBI_F_MMAP | MBI_F_BOOTLOADER);
    wr32(mbi + MBI_MEM_LOWER, 639);
    wr32(mbi + MBI_MEM_UPPER, (uint32_t)((lowmem_end - 0x100000) >> 10));
    wr32(mbi + MBI_BOOT_DEVICE, 0x8000ffff);
    wr32(mbi + MBI_CMDLINE, cmdline_addr);
    wr32(mbi + MBI_MODS_COUNT, (uint32_t)b.n_mods);
    wr32(mbi + MBI_MODS_ADDR, b.phys + (uint32_t)b.off_mods);
    wr32(mbi + MBI_MMAP_LENGTH, n * 24);
    wr32(mbi + MBI_MMAP_ADDR, MB_ADDR_MMAP);
    wr32(mbi + MBI_BOOTLOADER, loader_addr);
    guest_write(MB_ADDR_MBI, mbi, sizeof(mbi));

    if (fw) {
        fw_cfg_add_i32(fw, FW_CFG_KERNEL_ENTRY, entry);
        fw_cfg_add_i32(fw, FW_CFG_KERNEL_ADDR, b.phys);
        fw_cfg_add_i32(fw, FW_CFG_KERNEL_SIZE, (uint32_t)b.size);
        fw_cfg_add_i32(fw, FW_CFG_INITRD_ADDR, MB_ADDR_MBI);
        fw_cfg_add_i32(fw, FW_CFG_INITRD_SIZE, MBI_SIZE);
        fw_cfg_add_i32(fw, FW_CFG_CMDLINE_SIZE, (uint32_t)strlen(append) + 1);
        fw_cfg_add_string(fw, FW_CFG_CMDLINE_DATA, append);
    }
    g_free(kcmdline);

    /* flat 32-bit protected mode: 0x10 code, 0x18 data */
    static const uint64_t gdt[4] = {0, 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL};
    guest_write(MB_GDT, gdt, sizeof(gdt));
    memset(bs, 0, sizeof(*bs));
    bs->protected32 = true;
    bs->gdt_base = MB_GDT;
    bs->gdt_limit = sizeof(gdt) - 1;
    bs->cs = 0x10;
    bs->ds = 0x18;
    bs->rip = entry;
    bs->rax = MB_BOOT_MAGIC;
    bs->rbx = MB_ADDR_MBI;
    bs->rsp = MB_STACK;
    bs->rflags = 2;
    bs->cr0 = 0x11; /* PE, ET */
    ret = 0;
out:
    if (mods) {
        g_ptr_array_free(mods, TRUE);
    }
    g_free(b.buf);
    g_free(image);
    g_free(kbuf);
    return ret;
}
