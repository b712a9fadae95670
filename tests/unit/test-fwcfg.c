/*
 * fw_cfg (hw/misc/fw_cfg.c) through its ports: selector and data (0x510/0x511), the standard
 * items, the file directory (sorted, big endian), reads past the end, and the DMA interface
 * (0x514/0x518: signature, select+read, skip, zero fill past the end, refused writes).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "vireo/config.h"
#include "vireo/devices.h"
#include "vireo/ioport.h"
#include "vireo/memory.h"
#include "vireo/x86.h"
#include "../lib/unit.h"

static void select_key(uint16_t key)
{
    pio_dispatch(0x510, &key, 2, true);
}

static void read_data(void *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        pio_dispatch(0x511, (uint8_t *)buf + i, 1, false);
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One DMA request through the descriptor at gpa 0x1000; returns the control word after. */
static uint32_t dma(uint32_t control, uint32_t len, uint64_t addr)
{
    uint8_t d[16];
    for (int i = 0; i < 4; i++) {
        d[i] = control >> (24 - 8 * i);
        d[4 + i] = len >> (24 - 8 * i);
    }
    for (int i = 0; i < 8; i++) {
        d[8 + i] = addr >> (56 - 8 * i);
    }
    guest_write(0x1000, d, 16);
    uint32_t hi = __builtin_bswap32(0), lo = __builtin_bswap32(0x1000);
    pio_dispatch(0x514, &hi, 4, true);
    pio_dispatch(0x518, &lo, 4, true);
    uint8_t c[4];
    guest_read(0x1000, c, 4);
    return be32(c);
}

int main(void)
{
    VireoConfig cfg = {0};
    cfg.smp.cpus = 2;
    cfg.smp.maxcpus = 4;
    cfg.uuid = "4f6e9b1a-0c2d-4e8f-9a1b-2c3d4e5f6a7b";
    CHECK("fwcfg-ram", ram_alloc_pc(32 << 20, PC_LOWMEM_LIMIT) == 0);
    X86CpuList cpus;
    x86_cpu_list_init(&cpus, &cfg.smp);
    FWCfgState *fw = fw_cfg_create(&cfg, 32 << 20, x86_cpu_list_id_limit(&cpus));
    x86_cpu_list_free(&cpus);

    uint8_t buf[256];
    select_key(0x0000);
    read_data(buf, 4);
    CHECK("fwcfg-signature", !memcmp(buf, "QEMU", 4));
    read_data(buf, 2);
    CHECK("fwcfg-past-end-zero", buf[0] == 0 && buf[1] == 0);
    select_key(0x0000);
    read_data(buf, 1);
    CHECK("fwcfg-reselect-rewinds", buf[0] == 'Q');
    select_key(0x0001);
    read_data(buf, 4);
    CHECK("fwcfg-id-dma", le32(buf) == 3);
    select_key(0x0002);
    read_data(buf, 16);
    CHECK("fwcfg-uuid", buf[0] == 0x4f && buf[1] == 0x6e && buf[4] == 0x0c && buf[15] == 0x7b);
    select_key(0x0003);
    read_data(buf, 8);
    CHECK("fwcfg-ram-size", le32(buf) == (32u << 20) && le32(buf + 4) == 0);
    select_key(0x0005);
    read_data(buf, 2);
    CHECK("fwcfg-nb-cpus", buf[0] == 2 && buf[1] == 0);
    select_key(0x000f);
    read_data(buf, 2);
    CHECK("fwcfg-max-cpus", buf[0] == 4);
    select_key(0x1234);
    read_data(buf, 2);
    CHECK("fwcfg-unknown-zero", buf[0] == 0 && buf[1] == 0);

    /* files: the directory is sorted by name and big endian */
    fw_cfg_add_file(fw, "etc/zzz", "last", 4);
    fw_cfg_add_file(fw, "etc/aaa", "first!", 6);
    fw_cfg_add_e820(fw);
    select_key(0x0019);
    read_data(buf, 4 + 3 * 64);
    CHECK("fwcfg-dir-count", be32(buf) == 3);
    CHECK("fwcfg-dir-sorted", !strcmp((char *)buf + 4 + 8, "etc/aaa") &&
                                  !strcmp((char *)buf + 4 + 64 + 8, "etc/e820") &&
                                  !strcmp((char *)buf + 4 + 128 + 8, "etc/zzz"));
    uint16_t sel_aaa = buf[4 + 4] << 8 | buf[4 + 5];
    CHECK("fwcfg-dir-entry", be32(buf + 4) == 6 && sel_aaa >= 0x20);
    CHECK("fwcfg-e820-size", be32(buf + 4 + 64) == 20 * guest_ram.n);
    select_key(sel_aaa);
    read_data(buf, 6);
    CHECK("fwcfg-file-data", !memcmp(buf, "first!", 6));

    /* DMA */
    uint64_t sig = 0;
    pio_dispatch(0x514, &sig, 4, false);
    CHECK("fwcfg-dma-signature", !memcmp(&sig, "QEMU", 4));
    memset(buf, 0xaa, sizeof(buf));
    guest_write(0x2000, buf, 16);
    CHECK("fwcfg-dma-select-read", dma(0x0000 << 16 | 0x08 | 0x02, 4, 0x2000) == 0);
    guest_read(0x2000, buf, 8);
    CHECK("fwcfg-dma-data", !memcmp(buf, "QEMU", 4) && buf[4] == 0xaa);
    CHECK("fwcfg-dma-past-end", dma(0x02, 4, 0x2000) == 0);
    guest_read(0x2000, buf, 4);
    CHECK("fwcfg-dma-zero-fill", buf[0] == 0 && buf[3] == 0);
    CHECK("fwcfg-dma-skip",
          dma((uint32_t)sel_aaa << 16 | 0x08 | 0x04, 2, 0) == 0 && dma(0x02, 4, 0x2000) == 0);
    guest_read(0x2000, buf, 4);
    CHECK("fwcfg-dma-after-skip", !memcmp(buf, "rst!", 4));
    CHECK("fwcfg-dma-write-refused", dma(0x10, 4, 0x2000) == 1);

    /* fw_cfg_set_file: new contents and size under the same selector (bootorder at reset) */
    fw_cfg_set_file(fw, "etc/aaa", "replaced", 8);
    fw_cfg_set_file(fw, "etc/new", "x", 1);
    uint8_t dir[4 + 4 * 64];
    select_key(0x0019);
    read_data(dir, sizeof(dir));
    CHECK("fwcfg-set-file-dir", be32(dir) == 4 && be32(dir + 4) == 8 &&
                                    (dir[4 + 4] << 8 | dir[4 + 5]) == sel_aaa &&
                                    !strcmp((char *)dir + 4 + 128 + 8, "etc/new"));
    select_key(sel_aaa);
    read_data(buf, 9);
    CHECK("fwcfg-set-file-data", !memcmp(buf, "replaced", 8) && buf[8] == 0);

    fw_cfg_destroy(fw);
    io_reset_all();
    ram_free();
    UNIT_EXIT();
}
