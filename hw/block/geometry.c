/*
 * The geometry QEMU's hd_geometry_guess gives a disk without a host geometry (virtio-blk,
 * scsi-hd): the MBR's partition table's if it has a plausible one, else 16 heads and 63
 * sectors over at most 16383 cylinders.
 */
#include <stdbool.h>
#include <string.h>
#include "vireo/block-backend.h"

void blk_guess_geometry(BlockBackend *blk, uint32_t *pcyls, uint32_t *pheads, uint32_t *psecs)
{
    int64_t len = blk_getlength(blk);
    uint64_t nb = len > 0 ? (uint64_t)len >> 9 : 0;
    uint8_t mbr[512];
    bool lchs = false;
    unsigned heads = 0, secs = 0, cyls = 0;
    /* read from the node, as QEMU's blk_pread: not a guest request, not in the statistics */
    if (nb >= 1 && bdrv_pread(blk_bs(blk), 0, sizeof(mbr), mbr) >= 0) {
        if (mbr[510] == 0x55 && mbr[511] == 0xaa) {
            for (int i = 0; i < 4 && !lchs; i++) {
                const uint8_t *p = mbr + 0x1be + 16 * i;
                uint32_t nr;
                memcpy(&nr, p + 12, 4);
                unsigned end_head = p[5], end_sector = p[6] & 63;
                if (nr && end_head && end_sector) {
                    unsigned h = end_head + 1, c = (unsigned)(nb / (h * end_sector));
                    if (c >= 1 && c <= 16383) {
                        heads = h;
                        secs = end_sector;
                        cyls = c;
                        lchs = true;
                    }
                }
            }
        }
    }
    if (!lchs || heads > 16) {
        uint64_t c = nb / (16 * 63);
        *pcyls = c > 16383 ? 16383 : c < 2 ? 2 : (uint32_t)c;
        *pheads = 16;
        *psecs = 63;
    } else {
        *pcyls = cyls;
        *pheads = heads;
        *psecs = secs;
    }
}
