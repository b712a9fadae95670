/*
 * libFuzzer target: the NBD server (nbd/server.c) fed an arbitrary client byte stream: the
 * handshake's options, then requests, against a 1 MiB null-co export with a dirty bitmap (so
 * reads, writes, block status of both contexts and every error path are reachable). What the
 * server answers is thrown away; the sanitizers judge. Run by tests/fuzz/fuzz-nbd.sh
 * (`make fuzz-nbd`).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/nbd.h"
#include "vireo/qjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static BlockDriverState *bs;
static BdrvDirtyBitmap *bm;

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static int in_read(void *opaque, void *buf, size_t n)
{
    Input *in = opaque;
    if (n > in->left) {
        in->left = 0;
        return -EPIPE;
    }
    memcpy(buf, in->p, n);
    in->p += n;
    in->left -= n;
    return 0;
}

static int out_writev(void *opaque, const struct iovec *iov, int niov)
{
    /* touch every byte, so that a reply built from bad memory shows */
    volatile uint8_t sum = 0;
    for (int i = 0; i < niov; i++) {
        for (size_t k = 0; k < iov[i].iov_len; k += 97) {
            sum ^= ((const uint8_t *)iov[i].iov_base)[k];
        }
    }
    (void)sum;
    return 0;
}

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
    QJ *o = qj_object();
    qj_set_str(o, "driver", "null-co");
    qj_set_str(o, "size", "1M");
    qj_set_str(o, "read-zeroes", "on");
    char *err = NULL;
    bs = bdrv_open_opts(NULL, o, BDRV_O_RDWR, &err);
    if (!bs) {
        abort();
    }
    bm = bdrv_create_dirty_bitmap(bs, 4096, "b", &err);
    if (!bm) {
        abort();
    }
    bdrv_dirty_bitmap_set_range(bm, 8192, 65536);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first byte picks the export's shape: read-only, an offset, a name */
    uint8_t shape = size ? data[0] : 0;
    NBDExport exp = {
        .bs = bs,
        .name = (shape & 1) ? (char *)"exp" : (char *)"",
        .description = (shape & 2) ? (char *)"fuzz" : NULL,
        .readonly = shape & 4,
        .offset = (shape & 8) ? 4096 : 0,
        .bitmap = (shape & 16) ? bm : NULL,
    };
    exp.size = (1 << 20) - exp.offset;
    Input in = {size ? data + 1 : data, size ? size - 1 : 0};
    NBDConn conn = {in_read, out_writev, &in};
    nbd_serve_client(&exp, &conn);
    return 0;
}
