/*
 * Direct Linux boot (Documentation/x86/boot.rst): the bzImage's protected-mode kernel goes
 * to 1 MiB, boot_params ("zero page") carries the setup header, e820 map, command line and
 * initrd, and the boot CPU starts at the 64-bit entry point with identity-mapped page tables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/error.h"
#include "vireo/loader.h"
#include "vireo/memory.h"
#include "vireo/x86.h"

/* Low-memory layout used by the loader */
#define BOOT_GDT     0x500ULL
#define BOOT_PARAMS  0x7000ULL
#define BOOT_STACK   0x8ff0ULL
#define BOOT_PML4    0x9000ULL
#define BOOT_PDPT    0xa000ULL
#define BOOT_PD      0xb000ULL /* four page directories: 0xb000..0xefff map 4 GiB */
#define BOOT_CMDLINE 0x20000ULL
#define KERNEL_LOAD  0x100000ULL

/* boot_params / setup_header offsets */
#define BP_ACPI_RSDP       0x070
#define BP_E820_ENTRIES    0x1e8
#define BP_SETUP_SECTS     0x1f1
#define BP_VID_MODE        0x1fa
#define BP_HEADER_MAGIC    0x202
#define BP_VERSION         0x206
#define BP_TYPE_OF_LOADER  0x210
#define BP_LOADFLAGS       0x211
#define BP_RAMDISK_IMAGE   0x218
#define BP_RAMDISK_SIZE    0x21c
#define BP_HEAP_END_PTR    0x224
#define BP_CMD_LINE_PTR    0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_CMDLINE_SIZE    0x238
#define BP_XLOADFLAGS      0x236
#define BP_E820_TABLE      0x2d0
#define E820_MAX           128

#define XLF_KERNEL_64 (1 << 0)
#define LOADED_HIGH   0x01
#define CAN_USE_HEAP  0x80

static uint16_t rd16(const uint8_t *p)
{
    return p[0] | p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* QEMU's loader reports its errors with a bare "qemu: " prefix; tools match on that text. */
static void boot_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void boot_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qemu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Read a whole file; NULL with errno set on failure. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            break;
        }
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    *len = n;
    return buf;
}

typedef struct E820 {
    uint8_t *table;
    unsigned n;
} E820;

static void e820_add(E820 *e, uint64_t addr, uint64_t size, uint32_t type)
{
    if (e->n >= E820_MAX || size == 0) {
        return;
    }
    uint8_t *p = e->table + e->n * 20;
    wr64(p, addr);
    wr64(p + 8, size);
    wr32(p + 16, type);
    e->n++;
}

static void build_page_tables(void)
{
    uint64_t pml4e = BOOT_PDPT | 3, pdpte;
    guest_write(BOOT_PML4, &pml4e, 8);
    for (uint64_t i = 0; i < 4; i++) {
        pdpte = (BOOT_PD + i * 0x1000) | 3;
        guest_write(BOOT_PDPT + i * 8, &pdpte, 8);
        for (uint64_t j = 0; j < 512; j++) {
            uint64_t pde = ((i << 30) + (j << 21)) | 0x83; /* present, writable, 2 MiB */
            guest_write(BOOT_PD + i * 0x1000 + j * 8, &pde, 8);
        }
    }
}

static void build_gdt(X86BootState *bs)
{
    static const uint64_t gdt[4] = {
        0, 0, 0x00af9b000000ffffULL, /* 0x10: 64-bit code */
        0x00cf93000000ffffULL,       /* 0x18: data */
    };
    guest_write(BOOT_GDT, gdt, sizeof(gdt));
    bs->gdt_base = BOOT_GDT;
    bs->gdt_limit = sizeof(gdt) - 1;
    bs->cs = 0x10;
    bs->ds = 0x18;
}

int linux_boot_load(const VireoConfig *cfg, uint64_t rsdp, X86BootState *bs)
{
    size_t klen, ilen = 0;
    uint8_t *k = read_file(cfg->kernel, &klen);
    if (!k) {
        boot_error("could not open kernel file '%s': %s", cfg->kernel, strerror(errno));
        return -1;
    }
    uint8_t *initrd = NULL;
    int ret = -1;
    if (klen < 0x1000 || rd32(k + BP_HEADER_MAGIC) != 0x53726448 /* "HdrS" */) {
        boot_error("invalid kernel header");
        goto out;
    }
    uint16_t version = rd16(k + BP_VERSION);
    if (version < 0x20c || !(rd16(k + BP_XLOADFLAGS) & XLF_KERNEL_64)) {
        error_report("kernel '%s' has no 64-bit entry point (boot protocol %u.%02u); "
                     "Vireo needs Linux 3.8 or later",
                     cfg->kernel, version >> 8, version & 0xff);
        goto out;
    }
    unsigned setup_sects = k[BP_SETUP_SECTS] ? k[BP_SETUP_SECTS] : 4;
    size_t setup_size = (setup_sects + 1) * 512;
    if (setup_size >= klen) {
        boot_error("invalid kernel header");
        goto out;
    }
    uint64_t lowmem_end = guest_ram.blocks[0].size;
    size_t pm_size = klen - setup_size;
    if (KERNEL_LOAD + pm_size > lowmem_end) {
        error_report("kernel '%s' does not fit in guest memory", cfg->kernel);
        goto out;
    }
    guest_write(KERNEL_LOAD, k + setup_size, pm_size);

    /* boot_params: zeroed, then the image's setup header copied in. */
    uint8_t *bp = gpa_to_hva(BOOT_PARAMS, 4096);
    memset(bp, 0, 4096);
    size_t hdr_end = 0x202 + k[0x201];
    if (hdr_end > 0x290) {
        hdr_end = 0x290;
    }
    memcpy(bp + BP_SETUP_SECTS, k + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);
    wr16(bp + BP_VID_MODE, 0xffff);
    bp[BP_TYPE_OF_LOADER] = 0xff;
    bp[BP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
    wr16(bp + BP_HEAP_END_PTR, 0xfe00);

    /* command line */
    const char *append = cfg->append ? cfg->append : "";
    uint32_t cmdline_max = version >= 0x206 ? rd32(k + BP_CMDLINE_SIZE) : 255;
    if (strlen(append) > cmdline_max) {
        error_report("kernel command line too long (%zu bytes, the kernel takes %u)",
                     strlen(append), cmdline_max);
        goto out;
    }
    guest_write(BOOT_CMDLINE, append, strlen(append) + 1);
    wr32(bp + BP_CMD_LINE_PTR, BOOT_CMDLINE);

    /* initrd: as high as the kernel allows, below the end of low RAM */
    if (cfg->initrd) {
        initrd = read_file(cfg->initrd, &ilen);
        if (!initrd) {
            boot_error(
                "error reading initrd %s: Failed to open file \u201c%s\u201d: open() failed: "
                "%s",
                cfg->initrd, cfg->initrd, strerror(errno));
            goto out;
        }
        uint64_t max = rd32(k + BP_INITRD_ADDR_MAX);
        if (max == 0) {
            max = 0x37ffffff;
        }
        uint64_t top = lowmem_end < max + 1 ? lowmem_end : max + 1;
        uint64_t kernel_end = KERNEL_LOAD + pm_size;
        if (ilen > top || ((top - ilen) & ~0xfffULL) < kernel_end) {
            error_report("initrd is too large to fit in guest memory (%zu bytes)", ilen);
            goto out;
        }
        uint64_t addr = (top - ilen) & ~0xfffULL;
        guest_write(addr, initrd, ilen);
        wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)addr);
        wr32(bp + BP_RAMDISK_SIZE, (uint32_t)ilen);
    }

    /* e820 map */
    E820 e = {bp + BP_E820_TABLE, 0};
    e820_add(&e, 0, 0x9fc00, 1);
    e820_add(&e, 0x9fc00, 0x400, 2);
    e820_add(&e, PC_BIOS_AREA, PC_BIOS_AREA_SIZE, 2);
    e820_add(&e, KERNEL_LOAD, lowmem_end - KERNEL_LOAD, 1);
    for (unsigned i = 1; i < guest_ram.n; i++) {
        e820_add(&e, guest_ram.blocks[i].gpa, guest_ram.blocks[i].size, 1);
    }
    bp[BP_E820_ENTRIES] = (uint8_t)e.n;
    wr64(bp + BP_ACPI_RSDP, rsdp);

    loader_record_range(BOOT_PARAMS, 4096); /* written through bp */
    build_page_tables();
    memset(bs, 0, sizeof(*bs));
    build_gdt(bs);
    bs->rip = KERNEL_LOAD + 0x200;
    bs->rsi = BOOT_PARAMS;
    bs->rsp = BOOT_STACK;
    bs->rflags = 2;
    bs->cr0 = 0x80000011; /* PG, ET, PE */
    bs->cr3 = BOOT_PML4;
    bs->cr4 = 0x20;   /* PAE */
    bs->efer = 0x500; /* LME, LMA */
    ret = 0;
out:
    free(k);
    free(initrd);
    return ret;
}
