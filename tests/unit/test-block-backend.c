/*
 * The block backends' request API under load: many reads, writes, write-zeroes, discards and
 * flushes in flight at once on qcow2 (fresh, with a backing file, compressed clusters) and raw,
 * through the thread pool and Linux AIO (cache=none,aio=native), writeback and writethrough.
 * A shadow copy says what every read must return; afterwards QEMU 7.2's own qemu-img check
 * finds the image clean and qemu-img compare finds it equal to the shadow copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include "../lib/unit.h"
#include "vireo/block-backend.h"
#include "vireo/qjson.h"

#define IMG_SIZE (32u << 20)
#define GRAIN    4096u /* every request covers whole grains; in-flight requests never overlap */
#define NGRAINS  (IMG_SIZE / GRAIN)

static const char *qemu_img = "/usr/bin/qemu-img";
static char nbuf[160];
#define NAME(...) (snprintf(nbuf, sizeof(nbuf), __VA_ARGS__), nbuf)
static char *dir;

typedef struct Test {
    const char *name;
    BlockBackend *blk;
    uint8_t *shadow;  /* what the disk holds once every request has ended */
    uint8_t *busy;    /* grains some request in flight covers */
    uint8_t *unknown; /* discarded grains: a discard is advisory (qcow2 keeps partial clusters) */
    int inflight, peak;
    int errors;
    GRand *rand;
} Test;

typedef struct Req {
    Test *t;
    int type; /* 0 read, 1 write, 2 zeroes, 3 discard, 4 flush */
    uint64_t offset, bytes;
    uint8_t *buf;
    struct iovec iov[4];
    int niov;
} Req;

static void grains(Req *r, uint8_t v)
{
    for (uint64_t g = r->offset / GRAIN; g < (r->offset + r->bytes) / GRAIN; g++) {
        r->t->busy[g] = v;
        if (v && r->type != 0) {
            r->t->unknown[g] = r->type == 3; /* written: known again; discarded: unknown */
        }
    }
}

static void req_done(void *opaque, int ret)
{
    Req *r = opaque;
    Test *t = r->t;
    if (ret < 0) {
        printf("# %s: request type %d at %" PRIu64 "+%" PRIu64 " failed: %s\n", t->name, r->type,
               r->offset, r->bytes, g_strerror(-ret));
        t->errors++;
    } else if (r->type == 0) {
        for (uint64_t o = 0; o < r->bytes; o += GRAIN) {
            uint64_t g = (r->offset + o) / GRAIN;
            if (!t->unknown[g] && memcmp(r->buf + o, t->shadow + r->offset + o, GRAIN)) {
                printf("# %s: read at %" PRIu64 "+%" PRIu64 " returned other data at +%" PRIu64
                       "\n",
                       t->name, r->offset, r->bytes, o);
                t->errors++;
                break;
            }
        }
    }
    grains(r, 0);
    t->inflight--;
    g_free(r->buf);
    g_free(r);
}

/* A free range of 1..16 grains, or false. */
static bool pick_range(Test *t, uint64_t *off, uint64_t *len)
{
    for (int tries = 0; tries < 16; tries++) {
        uint64_t g = g_rand_int_range(t->rand, 0, NGRAINS);
        uint64_t n = g_rand_int_range(t->rand, 1, 17);
        if (g + n > NGRAINS) {
            n = NGRAINS - g;
        }
        bool free = true;
        for (uint64_t k = g; k < g + n && free; k++) {
            free = !t->busy[k];
        }
        if (free) {
            *off = g * GRAIN;
            *len = n * GRAIN;
            return true;
        }
    }
    return false;
}

static void submit_one(Test *t, bool with_discard)
{
    Req *r = g_new0(Req, 1);
    r->t = t;
    int p = g_rand_int_range(t->rand, 0, 100);
    r->type = p < 40 ? 0 : p < 85 ? 1 : p < 92 ? 2 : p < 98 ? 3 : 4;
    if (r->type == 3 && !with_discard) {
        r->type = 1;
    }
    if (r->type != 4 && !pick_range(t, &r->offset, &r->bytes)) {
        g_free(r);
        return;
    }
    t->inflight++;
    t->peak = MAX(t->peak, t->inflight);
    if (r->type == 4) {
        blk_aio_flush(t->blk, req_done, r);
        return;
    }
    grains(r, 1);
    if (r->type <= 1) {
        r->buf = g_malloc(r->bytes);
        /* split into up to 4 iovecs, some of them not 4 KiB aligned in memory */
        uint64_t left = r->bytes, pos = 0;
        while (left) {
            uint64_t piece = 512u * (uint64_t)g_rand_int_range(t->rand, 1, 9);
            uint64_t n = r->niov == 3 ? left : MIN(left, piece);
            r->iov[r->niov].iov_base = r->buf + pos;
            r->iov[r->niov].iov_len = n;
            r->niov++;
            pos += n;
            left -= n;
        }
    }
    if (r->type == 0) {
        blk_aio_preadv(t->blk, r->offset, r->iov, r->niov, 0, req_done, r);
    } else if (r->type == 1) {
        /* some writes are all zeros (detect-zeroes), the rest a pattern */
        bool zero = g_rand_int_range(t->rand, 0, 8) == 0;
        for (uint64_t i = 0; i < r->bytes; i += 8) {
            uint64_t v = zero ? 0 : (r->offset + i) * 0x9E3779B97F4A7C15ull + t->inflight;
            memcpy(r->buf + i, &v, 8);
        }
        memcpy(t->shadow + r->offset, r->buf, r->bytes);
        blk_aio_pwritev(t->blk, r->offset, r->iov, r->niov, 0, req_done, r);
    } else if (r->type == 2) {
        memset(t->shadow + r->offset, 0, r->bytes);
        blk_aio_pwrite_zeroes(t->blk, r->offset, r->bytes,
                              g_rand_boolean(t->rand) ? BDRV_REQ_MAY_UNMAP : 0, req_done, r);
    } else {
        memset(t->shadow + r->offset, 0, r->bytes);
        blk_aio_pdiscard(t->blk, r->offset, r->bytes, req_done, r);
    }
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

/* One workload: `depth` requests kept in flight, `total` in all. */
static void workload(const char *name, const char *fmt, const char *blockdev, bool with_backing,
                     bool with_discard, bool writethrough, int depth, int total)
{
    Test t = {.name = name};
    if (getenv("BACKEND_DEPTH")) {
        depth = atoi(getenv("BACKEND_DEPTH"));
    }
    t.shadow = g_malloc0(IMG_SIZE);
    t.busy = g_malloc0(NGRAINS);
    t.unknown = g_malloc0(NGRAINS);
    t.rand = g_rand_new_with_seed(0x5eed);
    char *img = g_strdup_printf("%s/%s.%s", dir, name, fmt);
    char *ref = g_strdup_printf("%s/%s.ref", dir, name);
    char *cmd;
    if (with_backing) {
        /* a backing file with a pattern, some of it compressed */
        char *base = g_strdup_printf("%s/%s.base", dir, name);
        for (size_t i = 0; i < IMG_SIZE; i += 4096) {
            memset(t.shadow + i, (int)(i >> 12) | 1, 2048);
        }
        char *raw = g_strdup_printf("%s/%s.baseraw", dir, name);
        write_file(raw, t.shadow, IMG_SIZE);
        cmd = g_strdup_printf("%s convert -c -O qcow2 %s %s && %s create -q -f qcow2 -F qcow2 "
                              "-b %s %s",
                              qemu_img, raw, base, qemu_img, base, img);
        g_free(raw);
        g_free(base);
    } else {
        cmd = g_strdup_printf("%s create -q -f %s %s %u", qemu_img, fmt, img, IMG_SIZE);
    }
    CHECK(NAME("backend/%s/create", name), run(cmd) == 0);
    g_free(cmd);

    char *opts_s = g_strdup_printf(blockdev, img);
    char *err = NULL;
    QJ *opts = qj_parse(opts_s, &err);
    BlockDriverState *bs = opts ? bdrv_open_blockdev(opts, false, false, &err) : NULL;
    qj_free(opts);
    g_free(opts_s);
    if (!bs) {
        printf("# %s: %s\n", name, err);
    }
    t.blk = bs ? blk_new(name, bs, &err) : NULL;
    if (bs) {
        bdrv_close(bs); /* the backend holds it */
    }
    CHECK(NAME("backend/%s/open", name), t.blk != NULL);
    if (!t.blk) {
        g_free(err);
        return;
    }
    CHECK(NAME("backend/%s/device-perms", name), blk_set_dev_perm(t.blk, false, false, &err) == 0);
    blk_set_enable_write_cache(t.blk, !writethrough);

    for (int n = 0; n < total;) {
        while (t.inflight < depth && n < total) {
            submit_one(&t, with_discard);
            n++;
        }
        g_main_context_iteration(NULL, TRUE);
    }
    while (t.inflight) {
        g_main_context_iteration(NULL, TRUE);
    }
    /* what discards left behind is unknown: zero it, then the image is known throughout */
    for (uint64_t g = 0; g < NGRAINS; g++) {
        if (t.unknown[g]) {
            Req *z = g_new0(Req, 1);
            z->t = &t;
            z->type = 2;
            z->offset = g * GRAIN;
            z->bytes = GRAIN;
            t.inflight++;
            blk_aio_pwrite_zeroes(t.blk, z->offset, GRAIN, 0, req_done, z);
            t.unknown[g] = 0;
        }
    }
    while (t.inflight) {
        g_main_context_iteration(NULL, TRUE);
    }
    printf("# %s: %d requests, at most %d in flight\n", name, total, t.peak);
    CHECK(NAME("backend/%s/requests", name), t.errors == 0);
    int engine_peak = blk_debug_peak_inflight(t.blk);
    printf("# %s: at most %d running at once in the engine\n", name, engine_peak);
    /* Writethrough completes each write only after its flush, and a fresh image's writes mostly
     * allocate (the slow path), so how many fast requests overlap there is up to the scheduler:
     * on a loaded host it was 1. The other workloads queue dozens of mapped requests at once. */
    CHECK(NAME("backend/%s/in-flight", name),
          t.peak >= depth / 2 && (writethrough || engine_peak > 1));

    BlockAcctStats st;
    blk_get_stats(t.blk, &st);
    CHECK(NAME("backend/%s/stats", name),
          st.nr_ops[BLOCK_ACCT_READ] > 0 && st.nr_ops[BLOCK_ACCT_WRITE] > 0 &&
              st.nr_bytes[BLOCK_ACCT_READ] > 0 && st.failed_ops[BLOCK_ACCT_WRITE] == 0);
    blk_delete(t.blk);

    write_file(ref, t.shadow, IMG_SIZE);
    if (!strcmp(fmt, "qcow2")) {
        cmd = g_strdup_printf("%s check -q %s", qemu_img, img);
        CHECK(NAME("backend/%s/qemu-img-check", name), run(cmd) == 0);
        g_free(cmd);
    }
    cmd = g_strdup_printf("%s compare -q -f %s -F raw %s %s", qemu_img, fmt, img, ref);
    CHECK(NAME("backend/%s/qemu-img-compare", name), run(cmd) == 0);
    g_free(cmd);
    g_free(img);
    g_free(ref);
    g_free(t.shadow);
    g_free(t.busy);
    g_free(t.unknown);
    g_rand_free(t.rand);
}

static int last_ret;
static void store_ret(void *opaque, int ret)
{
    *(int *)opaque = ret;
    last_ret = ret;
}

static int wait_ret(volatile int *slot)
{
    while (*slot == 1) {
        g_main_context_iteration(NULL, TRUE);
    }
    return *slot;
}

/* Requests the backend refuses, and callbacks never running before the call returns. */
static void refusals(void)
{
    char *img = g_strdup_printf("%s/ro.raw", dir);
    char *cmd = g_strdup_printf("%s create -q -f raw %s 1M", qemu_img, img);
    run(cmd);
    g_free(cmd);
    char *js = g_strdup_printf("{\"driver\":\"raw\",\"read-only\":true,\"file\":{\"driver\":"
                               "\"file\",\"filename\":\"%s\"}}",
                               img);
    char *err = NULL;
    QJ *o = qj_parse(js, NULL);
    BlockDriverState *bs = bdrv_open_blockdev(o, false, false, &err);
    qj_free(o);
    BlockBackend *blk = blk_new("ro", bs, &err);
    bdrv_close(bs);
    uint8_t buf[512] = {0};
    struct iovec iov = {buf, sizeof(buf)};
    int a = 1, b = 1, c = 1, d = 1;
    blk_aio_pwritev(blk, 0, &iov, 1, 0, store_ret, (void *)&a);
    CHECK("backend/refuse/async", a == 1);
    CHECK("backend/refuse/read-only", wait_ret(&a) == -EPERM);
    blk_aio_preadv(blk, (1 << 20) - 256, &iov, 1, 0, store_ret, (void *)&b);
    CHECK("backend/refuse/out-of-range", wait_ret(&b) == -EIO);
    blk_remove_bs(blk);
    blk_aio_preadv(blk, 0, &iov, 1, 0, store_ret, (void *)&c);
    CHECK("backend/refuse/no-medium", wait_ret(&c) == -ENOMEDIUM);
    blk_aio_flush(blk, store_ret, (void *)&d);
    blk_drain(blk);
    CHECK("backend/drain-runs-callbacks", d == -ENOMEDIUM);
    blk_delete(blk);
    g_free(js);
    g_free(img);
}

/* werror/rerror: QEMU's decisions, the event before the stop, the I/O status. */
static GString *hook_log;

static void log_event(BlockBackend *blk, bool is_read, BlockErrorAction action, int error)
{
    g_string_append_printf(hook_log, "event:%s:%s:%d:%s;", blk_name(blk), is_read ? "r" : "w",
                           (int)action, g_strerror(error));
}

static void log_stop(void)
{
    g_string_append(hook_log, "stop;");
}

static void error_actions(void)
{
    BlockBackend *blk = blk_new("e0", NULL, NULL);
    struct {
        BlockdevOnError on;
        bool is_read;
        int error;
        BlockErrorAction want;
    } cases[] = {
        {BLOCKDEV_ON_ERROR_REPORT, false, EIO, BLOCK_ERROR_ACTION_REPORT},
        {BLOCKDEV_ON_ERROR_IGNORE, false, EIO, BLOCK_ERROR_ACTION_IGNORE},
        {BLOCKDEV_ON_ERROR_ENOSPC, false, EIO, BLOCK_ERROR_ACTION_REPORT},
        {BLOCKDEV_ON_ERROR_ENOSPC, false, ENOSPC, BLOCK_ERROR_ACTION_STOP},
        {BLOCKDEV_ON_ERROR_STOP, false, EIO, BLOCK_ERROR_ACTION_STOP},
        {BLOCKDEV_ON_ERROR_AUTO, false, ENOSPC, BLOCK_ERROR_ACTION_STOP},  /* werror's default */
        {BLOCKDEV_ON_ERROR_AUTO, true, ENOSPC, BLOCK_ERROR_ACTION_REPORT}, /* rerror's */
        {BLOCKDEV_ON_ERROR_STOP, true, EIO, BLOCK_ERROR_ACTION_STOP},
    };
    bool all = true;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        blk_set_on_error(blk, cases[i].on, cases[i].on);
        if (blk_get_error_action(blk, cases[i].is_read, cases[i].error) != cases[i].want) {
            printf("# error action case %zu\n", i);
            all = false;
        }
    }
    CHECK("backend/error-action", all);
    hook_log = g_string_new(NULL);
    blk_io_error_event_hook = log_event;
    blk_stop_vm_hook = log_stop;
    blk_iostatus_enable(blk);
    blk_error_action(blk, BLOCK_ERROR_ACTION_REPORT, true, EIO);
    CHECK("backend/error-report", blk_iostatus(blk) == BLOCK_IO_STATUS_OK);
    blk_error_action(blk, BLOCK_ERROR_ACTION_STOP, false, ENOSPC);
    blk_error_action(blk, BLOCK_ERROR_ACTION_STOP, false, EIO);
    char *want = g_strdup_printf("event:e0:r:1:%s;event:e0:w:2:%s;stop;event:e0:w:2:%s;stop;",
                                 g_strerror(EIO), g_strerror(ENOSPC), g_strerror(EIO));
    if (strcmp(hook_log->str, want)) {
        printf("# got %s\n", hook_log->str);
    }
    CHECK("backend/error-event-then-stop", !strcmp(hook_log->str, want));
    CHECK("backend/iostatus-first-error", blk_iostatus(blk) == BLOCK_IO_STATUS_NOSPACE);
    blk_iostatus_reset(blk);
    CHECK("backend/iostatus-reset", blk_iostatus(blk) == BLOCK_IO_STATUS_OK);
    blk_io_error_event_hook = NULL;
    blk_stop_vm_hook = NULL;
    g_free(want);
    g_string_free(hook_log, TRUE);
    blk_delete(blk);
}

int main(void)
{
    if (access(qemu_img, X_OK) != 0) {
        printf("skip backend: %s not installed\n", qemu_img);
        return 0;
    }
    char tmpl[] = "/tmp/vireo-blk.XXXXXX";
    dir = mkdtemp(tmpl);
    const char *q = "{\"driver\":\"qcow2\",\"discard\":\"unmap\",\"file\":{\"driver\":\"file\","
                    "\"filename\":\"%s\"}}";
    const char *q_native =
        "{\"driver\":\"qcow2\",\"discard\":\"unmap\",\"cache\":{\"direct\":true},"
        "\"file\":{\"driver\":\"file\",\"aio\":\"native\",\"filename\":\"%s\"}}";
    const char *q_dz = "{\"driver\":\"qcow2\",\"discard\":\"unmap\",\"detect-zeroes\":\"unmap\","
                       "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}";
    const char *r = "{\"driver\":\"raw\",\"discard\":\"unmap\",\"file\":{\"driver\":\"file\","
                    "\"filename\":\"%s\"}}";
    const char *r_native = "{\"driver\":\"raw\",\"discard\":\"unmap\",\"cache\":{\"direct\":true},"
                           "\"file\":{\"driver\":\"file\",\"aio\":\"native\",\"filename\":\"%s\"}}";
    const char *q_back = "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
                         "\"filename\":\"%s\"}}";
    workload("qcow2-threads", "qcow2", q, false, true, false, 32, 1000);
    workload("qcow2-native", "qcow2", q_native, false, true, false, 32, 1000);
    workload("qcow2-detect-zeroes", "qcow2", q_dz, false, true, false, 16, 600);
    workload("qcow2-writethrough", "qcow2", q, false, true, true, 8, 200);
    workload("qcow2-backing", "qcow2", q_back, true, false, false, 32, 1000);
    workload("raw-threads", "raw", r, false, true, false, 32, 1000);
    workload("raw-native", "raw", r_native, false, true, false, 32, 1000);
    refusals();
    error_actions();
    blk_close_all();
    char *cmd = g_strdup_printf("rm -rf %s", dir);
    run(cmd);
    g_free(cmd);
    UNIT_EXIT();
}
