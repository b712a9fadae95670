/* Unit tests for qcow2 refcount arithmetic and compressed-cluster descriptors. */
#include <errno.h>
#include <string.h>
#include "vireo/block-qcow2.h"
#include "../lib/unit.h"

static void test_max(void)
{
    CHECK("max/1", qcow2_refcount_max(0) == 1);
    CHECK("max/2", qcow2_refcount_max(1) == 3);
    CHECK("max/4", qcow2_refcount_max(2) == 15);
    CHECK("max/8", qcow2_refcount_max(3) == 255);
    CHECK("max/16", qcow2_refcount_max(4) == 65535);
    CHECK("max/32", qcow2_refcount_max(5) == 0xffffffffULL);
    CHECK("max/64", qcow2_refcount_max(6) == UINT64_MAX);
}

static void test_get_set(void)
{
    uint8_t block[64];
    bool all = true;
    for (int order = 0; order <= 6; order++) {
        int bits = 1 << order;
        uint64_t n = sizeof(block) * 8 / bits;
        uint64_t max = qcow2_refcount_max(order);
        memset(block, 0, sizeof(block));
        for (uint64_t i = 0; i < n; i++) {
            qcow2_refcount_set(block, i, order, (i * 0x9e3779b97f4a7c15ULL) & max);
        }
        for (uint64_t i = 0; i < n; i++) {
            if (qcow2_refcount_get(block, i, order) != ((i * 0x9e3779b97f4a7c15ULL) & max)) {
                all = false;
            }
        }
        /* setting one entry leaves its neighbours alone */
        qcow2_refcount_set(block, 1, order, 0);
        if (qcow2_refcount_get(block, 0, order) != 0 ||
            qcow2_refcount_get(block, 2, order) != ((2 * 0x9e3779b97f4a7c15ULL) & max)) {
            all = false;
        }
    }
    CHECK("getset/all-widths", all);

    /* on-disk layout: sub-byte entries are LSB first, wider ones big-endian */
    memset(block, 0, sizeof(block));
    qcow2_refcount_set(block, 0, 0, 1);
    qcow2_refcount_set(block, 3, 0, 1);
    CHECK("layout/1bit", block[0] == 0x09);
    memset(block, 0, sizeof(block));
    qcow2_refcount_set(block, 1, 2, 0xa);
    CHECK("layout/4bit", block[0] == 0xa0);
    memset(block, 0, sizeof(block));
    qcow2_refcount_set(block, 1, 4, 0x1234);
    CHECK("layout/16bit", block[2] == 0x12 && block[3] == 0x34);
    memset(block, 0, sizeof(block));
    qcow2_refcount_set(block, 0, 6, 0x0102030405060708ULL);
    CHECK("layout/64bit", block[0] == 1 && block[7] == 8);
}

static void test_add(void)
{
    uint64_t out = 77;
    CHECK("add/inc", qcow2_refcount_add(1, 1, 4, &out) == 0 && out == 2);
    CHECK("add/dec-to-zero", qcow2_refcount_add(1, -1, 4, &out) == 0 && out == 0);
    out = 77;
    CHECK("add/underflow", qcow2_refcount_add(0, -1, 4, &out) == -ERANGE && out == 77);
    CHECK("add/overflow-1bit", qcow2_refcount_add(1, 1, 0, &out) == -ERANGE);
    CHECK("add/fill-1bit", qcow2_refcount_add(0, 1, 0, &out) == 0 && out == 1);
    CHECK("add/overflow-16bit", qcow2_refcount_add(65535, 1, 4, &out) == -ERANGE);
    CHECK("add/max-16bit", qcow2_refcount_add(65534, 1, 4, &out) == 0 && out == 65535);
    CHECK("add/overflow-64bit", qcow2_refcount_add(UINT64_MAX, 1, 6, &out) == -ERANGE);
    CHECK("add/big-64bit",
          qcow2_refcount_add(UINT64_MAX - 5, 5, 6, &out) == 0 && out == UINT64_MAX);
    CHECK("add/dec-64bit-min", qcow2_refcount_add(UINT64_MAX, INT64_MIN, 6, &out) == 0 &&
                                   out == UINT64_MAX - (1ULL << 63));
    CHECK("add/dec-too-much", qcow2_refcount_add(3, -4, 2, &out) == -ERANGE);
    CHECK("add/large-addend", qcow2_refcount_add(0, 16, 2, &out) == -ERANGE);
}

static void test_compressed(void)
{
    /* QEMU's measured example: 64 KiB clusters, 16 extra sectors at 0x52056 */
    uint64_t e = qcow2_compressed_entry(16, 0x52056, 16 * 512 + 512 - 0x56);
    CHECK("compressed/entry", e == 0x4400000000052056ULL);
    uint64_t off, len;
    qcow2_compressed_geometry(16, 0x4400000000050000ULL, &off, &len);
    CHECK("compressed/geometry", off == 0x50000 && len == 17 * 512);
    qcow2_compressed_geometry(16, e, &off, &len);
    CHECK("compressed/geometry-unaligned", off == 0x52056 && len == 17 * 512 - 0x56);
    /* 512-byte clusters: one csize bit */
    e = qcow2_compressed_entry(9, 0x1234, 300);
    qcow2_compressed_geometry(9, e, &off, &len);
    CHECK("compressed/cs512", off == 0x1234 && len >= 300 && off + len <= 0x1400);
    /* 2 MiB clusters */
    e = qcow2_compressed_entry(21, 0x200000, 0x1fffff);
    qcow2_compressed_geometry(21, e, &off, &len);
    CHECK("compressed/cs2M", off == 0x200000 && len == 0x200000);
}

int main(void)
{
    test_max();
    test_get_set();
    test_add();
    test_compressed();
    UNIT_EXIT();
}
