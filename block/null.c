/*
 * Protocol drivers "null-co" and "null-aio" (QEMU's block/null.c): a device of `size` bytes
 * (default 1 GiB) that ignores writes; reads leave the buffer alone unless read-zeroes=on.
 * latency-ns delays every request. null-co completes requests inside the request's
 * coroutine; null-aio, like QEMU's callback-based driver, always completes them from the
 * event loop.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/coroutine.h"
#include "vireo/qjson.h"

typedef struct BDRVNullState {
    uint64_t size;
    uint64_t latency_ns;
    bool read_zeroes;
    bool aio; /* null-aio */
} BDRVNullState;

static int null_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    BDRVNullState *s = g_new0(BDRVNullState, 1);
    bs->opaque = s;
    s->aio = bs->drv == &bdrv_null_aio;
    char *err = NULL;
    if (!qopts_get_size(opts, "size", 1ULL << 30, &s->size, &err) ||
        !qopts_get_number(opts, "latency-ns", 0, &s->latency_ns, &err) ||
        !qopts_get_bool(opts, "read-zeroes", false, &s->read_zeroes, &err)) {
        block_error(errp, "%s", err);
        g_free(err);
        return -EINVAL;
    }
    if (s->latency_ns > INT64_MAX) {
        block_error(errp, "latency-ns is invalid");
        return -EINVAL;
    }
    g_free(bs->filename);
    bs->filename = g_strdup_printf("%s://", bs->drv->format_name);
    return 0;
}

static int null_parse_filename(const char *filename, QJ *opts, char **errp)
{
    const char *name = qj_get_str(opts, "driver");
    char *expect = g_strdup_printf("%s://", name ? name : "null-co");
    int ret = 0;
    if (strcmp(filename, expect)) {
        block_error(errp, "The only allowed filename for this driver is '%s'", expect);
        ret = -EINVAL;
    }
    g_free(expect);
    return ret;
}

static void null_aio_done(void *opaque)
{
    aio_co_wake(opaque);
}

/* Every request: the latency, and for null-aio completion from a bottom half of the loop. */
static void null_wait(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;
    if (!qemu_in_coroutine()) {
        return;
    }
    if (s->latency_ns) {
        co_sleep_ns((int64_t)s->latency_ns);
    } else if (s->aio) {
        aio_bh_schedule_oneshot(null_aio_done, qemu_coroutine_self());
        qemu_coroutine_yield();
    }
}

static int null_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    BDRVNullState *s = bs->opaque;
    if (s->read_zeroes) {
        memset(buf, 0, bytes);
    }
    null_wait(bs);
    return 0;
}

static int null_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                       int flags)
{
    null_wait(bs);
    return 0;
}

static int null_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    null_wait(bs);
    return 0;
}

static int null_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    null_wait(bs);
    return 0;
}

static int null_flush(BlockDriverState *bs)
{
    null_wait(bs);
    return 0;
}

static int null_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                             uint64_t *map, BlockDriverState **file)
{
    BDRVNullState *s = bs->opaque;
    *pnum = bytes;
    *map = offset;
    *file = bs;
    return BDRV_BLOCK_OFFSET_VALID | (s->read_zeroes ? BDRV_BLOCK_ZERO : 0);
}

static int64_t null_getlength(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;
    return (int64_t)s->size;
}

static const char *const null_runtime_opts[] = {"size", "latency-ns", "read-zeroes", NULL};

/* the same driver under two names; null-aio's requests end from a bottom half */
#define NULL_DRIVER(name)                                                                          \
    {                                                                                              \
        .format_name = name, .is_protocol = true, .protocol_name = name,                           \
        .parse_filename = null_parse_filename, .runtime_opts = null_runtime_opts,                  \
        .open = null_open, .pread = null_pread, .pwrite = null_pwrite,                             \
        .pwrite_zeroes = null_pwrite_zeroes, .discard = null_discard, .flush = null_flush,         \
        .block_status = null_block_status, .getlength = null_getlength,                            \
    }

const BlockDriver bdrv_null_co = NULL_DRIVER("null-co");
const BlockDriver bdrv_null_aio = NULL_DRIVER("null-aio");
