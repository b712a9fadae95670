/*
 * libFuzzer target: open an arbitrary byte string as a qcow2 (and raw-probed) image read-only,
 * run the consistency check, query block status and read parts of it. Built and run for a fixed
 * number of inputs by tests/qemu-img/fuzz.sh.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * glib's g_error() (e.g. g_malloc of an absurd size) ends in SIGTRAP, which libFuzzer does not
 * catch, so the input would be lost: turn it into an abort, which libFuzzer reports and saves.
 */
static void trap_to_abort(int sig)
{
    (void)sig;
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGTRAP, trap_to_abort);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/vireo-fuzz-%d.img", (int)getpid());
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return 0;
    }
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    close(fd);
    for (int pass = 0; pass < 2; pass++) {
        char *err = NULL;
        int flags = BDRV_O_NO_BACKING | (pass ? BDRV_O_CHECK : 0);
        BlockDriverState *bs = bdrv_open(path, pass ? "qcow2" : NULL, NULL, flags, &err);
        g_free(err);
        if (!bs) {
            continue;
        }
        if (pass) {
            BdrvCheckResult res;
            bdrv_check(bs, &res, 0);
        } else {
            int64_t len = bdrv_getlength(bs);
            uint8_t *buf = g_malloc(65536);
            uint64_t off = 0;
            for (int i = 0; i < 64 && len > 0 && off < (uint64_t)len; i++) {
                uint64_t pnum = 0, n = MIN(65536, (uint64_t)len - off);
                if (bdrv_block_status(bs, off, n, &pnum, NULL, NULL) < 0 || pnum == 0) {
                    pnum = n;
                }
                bdrv_pread(bs, off, n, buf);
                off += MAX(pnum, (uint64_t)4096) * 7;
            }
            BlockSnapshotInfo *sn;
            int nsn = bdrv_snapshot_list(bs, &sn);
            if (nsn >= 0) {
                bdrv_snapshot_list_free(sn, nsn);
            }
            g_free(buf);
        }
        bdrv_close(bs);
    }
    unlink(path);
    return 0;
}
