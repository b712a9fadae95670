/*
 * qemu-img bench and dd.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "vireo/block-backend.h"
#include "vireo/error.h"
#include "qemu-img-cmds.h"
#include "tools.h"

/* ---- bench ---- */

/* Requests in flight through a block backend, as QEMU's bench runs them. */
typedef struct Bench {
    unsigned long inflight;
    int err;
} Bench;

static void bench_done(void *opaque, int ret)
{
    Bench *b = opaque;
    b->inflight--;
    if (ret < 0 && !b->err) {
        b->err = ret;
    }
}

/* Run the main loop until at most `limit` requests are in flight. */
static void bench_wait(Bench *b, unsigned long limit)
{
    while (b->inflight > limit) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static bool parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') {
        return false;
    }
    *out = strtoul(s, &end, 0);
    return !errno && !*end;
}

int img_bench(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"flush-interval", required_argument, NULL, 'F'},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"pattern", required_argument, NULL, 'P'},
        {"no-drain", no_argument, NULL, 'D'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    unsigned long count = 75000, depth = 64;
    int64_t offset = 0, bufsize = 4096, step = 0, flush_interval = 0;
    int pattern = 0, flags = 0;
    bool is_write = false, drain_on_flush = true, native = false, writethrough = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'h':
            help();
            break;
        case 'c':
            if (!parse_ulong(optarg, &count) || count > INT_MAX) {
                error_report("Invalid request count specified");
                return 1;
            }
            break;
        case 'd':
            if (!parse_ulong(optarg, &depth) || depth == 0 || depth > INT_MAX) {
                error_report("Invalid queue depth specified");
                return 1;
            }
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'n':
            native = true;
            break;
        case 'i':
            if (!strcmp(optarg, "native")) {
                native = true;
            } else if (!strcmp(optarg, "threads") || !strcmp(optarg, "io_uring")) {
                native = false;
            } else {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            break;
        case 'o':
            offset = cvtnum("offset", optarg);
            if (offset < 0) {
                return 1;
            }
            break;
        case 'q':
            break;
        case 's':
            bufsize = cvtnum_full("buffer size", optarg, 0, INT_MAX);
            if (bufsize < 0) {
                return 1;
            }
            break;
        case 'S':
            step = cvtnum_full("step_size", optarg, 0, INT_MAX);
            if (step < 0) {
                return 1;
            }
            break;
        case 't':
            if (bdrv_parse_cache_mode(optarg, &flags, &writethrough) < 0) {
                error_report("Invalid cache mode");
                return 1;
            }
            /* writethrough is the backend's: each write then a flush */
            flags &= ~BDRV_O_WRTHROUGH;
            break;
        case 'w':
            flags |= BDRV_O_RDWR;
            is_write = true;
            break;
        case 'U':
            img_force_share = true;
            break;
        case 'F':
            flush_interval = cvtnum_full("flush interval", optarg, 0, INT_MAX);
            if (flush_interval < 0) {
                return 1;
            }
            break;
        case 'P': {
            int64_t p = cvtnum_full("pattern", optarg, 0, 0xff);
            if (p < 0) {
                return 1;
            }
            pattern = (int)p;
            break;
        }
        case 'D':
            drain_on_flush = false;
            break;
        case OPT_IMG_IMAGE_OPTS:
            img_image_opts = true;
            break;
        default:
            break;
        }
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    const char *filename = argv[argc - 1];
    if (!is_write && flush_interval) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (flush_interval && flush_interval < (int64_t)depth) {
        error_report("Flush interval can't be smaller than depth");
        return 1;
    }
    if (native) {
        flags |= BDRV_O_NATIVE_AIO; /* the file layer refuses it without cache=none */
    }
    BlockDriverState *bs = img_open(filename, fmt, flags);
    if (!bs) {
        return 1;
    }
    int64_t image_size = bdrv_getlength(bs);
    if (image_size < 0) {
        bdrv_close(bs);
        return 1;
    }
    if (!step) {
        step = bufsize;
    }
    printf("Sending %lu %s requests, %" PRId64 " bytes each, %lu in parallel (starting at offset "
           "%" PRId64 ", step size %" PRId64 ")\n",
           count, is_write ? "write" : "read", bufsize, depth, offset, step);
    if (flush_interval) {
        printf("Sending flush every %" PRId64 " requests\n", flush_interval);
    }
    /* aligned, so that O_DIRECT requests can use it as it is */
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, bufsize ? (size_t)bufsize : 1)) {
        error_report("Could not allocate the request buffer");
        bdrv_close(bs);
        return 1;
    }
    memset(buf, pattern, (size_t)bufsize);
    /*
     * Up to `depth` requests in flight through a block backend (all sharing one buffer, as
     * QEMU's do): Linux AIO with aio=native, the thread pool otherwise, metadata work one at a
     * time (block/block-backend.c).
     */
    char *err = NULL;
    BlockBackend *blk = blk_new(NULL, bs, &err);
    if (blk && blk_set_perm(blk, BLK_PERM_CONSISTENT_READ | (is_write ? BLK_PERM_WRITE : 0),
                            BLK_PERM_ALL, &err) < 0) {
        blk_delete(blk);
        blk = NULL;
    }
    if (!blk) {
        error_report("%s", err);
        g_free(err);
        free(buf);
        bdrv_close(bs);
        return 1;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    Bench b = {0, 0};
    struct iovec iov = {buf, (size_t)bufsize};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ret = 0;
    uint64_t off = (uint64_t)offset;
    for (unsigned long i = 0; i < count && !b.err; i++) {
        bench_wait(&b, depth - 1);
        b.inflight++;
        if (is_write) {
            blk_aio_pwritev(blk, off, &iov, 1, 0, bench_done, &b);
        } else {
            blk_aio_preadv(blk, off, &iov, 1, 0, bench_done, &b);
        }
        if (flush_interval && (i + 1) % (uint64_t)flush_interval == 0) {
            if (drain_on_flush) {
                bench_wait(&b, 0);
            }
            Bench f = {1, 0};
            blk_aio_flush(blk, bench_done, &f);
            bench_wait(&f, 0);
            if (f.err < 0) {
                error_report("Failed flush request: %s", strerror(-f.err));
                ret = 1; /* reported */
                break;
            }
        }
        off += (uint64_t)step;
        off = image_size ? off % (uint64_t)image_size : 0;
    }
    bench_wait(&b, 0);
    if (ret == 0 && b.err < 0) {
        error_report("Failed request: %s", strerror(-b.err));
        ret = -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ret == 0) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("Run completed in %3.3f seconds.\n", secs);
    }
    free(buf);
    blk_delete(blk);
    blk_close_all(); /* the I/O threads */
    if (ret == 0 && is_write && bdrv_flush(bs) < 0) {
        ret = -EIO;
    }
    bdrv_close(bs);
    return ret != 0 ? 1 : 0;
}

/* ---- dd ---- */

int img_dd(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *out_fmt = "raw";
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:U", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'h':
            help();
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'U':
            img_force_share = true;
            break;
        case OPT_IMG_OBJECT:
        case OPT_IMG_IMAGE_OPTS:
            if (img_shared_option(c, optarg) < 0) {
                return 1;
            }
            break;
        default:
            break;
        }
    }
    char *in_name = NULL, *out_name = NULL;
    int64_t bsz = 512, count = 0, skip = 0;
    bool has_count = false, has_skip = false;
    int ret = 1;
    BlockDriverState *in = NULL, *out = NULL;
    QOpts *opts = NULL;
    char *err = NULL;
    uint8_t *buf = NULL;
    for (int i = optind; i < argc; i++) {
        char *arg = g_strdup(argv[i]);
        char *val = strchr(arg, '=');
        if (!val) {
            error_report("unrecognized operand %s", arg);
            g_free(arg);
            goto out;
        }
        *val++ = '\0';
        bool ok = true;
        if (!strcmp(arg, "bs")) {
            bsz = cvtnum_full("bs", val, 1, INT_MAX);
            ok = bsz > 0;
        } else if (!strcmp(arg, "count")) {
            count = cvtnum("count", val);
            ok = count >= 0;
            has_count = true;
        } else if (!strcmp(arg, "if")) {
            g_free(in_name);
            in_name = g_strdup(val);
        } else if (!strcmp(arg, "of")) {
            g_free(out_name);
            out_name = g_strdup(val);
        } else if (!strcmp(arg, "skip")) {
            skip = cvtnum("skip", val);
            ok = skip >= 0;
            has_skip = true;
        } else {
            error_report("unrecognized operand %s", arg);
            ok = false;
        }
        g_free(arg);
        if (!ok) {
            goto out;
        }
    }
    if (!in_name || !out_name) {
        error_report("Must specify both input and output files");
        goto out;
    }
    in = img_open(in_name, fmt, 0);
    if (!in) {
        goto out;
    }
    const BlockDriver *drv = bdrv_find_format(out_fmt);
    if (!drv) {
        error_report("Unknown file format");
        goto out;
    }
    if (!drv->create) {
        error_report("Format driver '%s' does not support image creation", drv->format_name);
        goto out;
    }
    int64_t size = bdrv_getlength(in);
    if (size < 0) {
        error_report("Failed to get size for '%s'", in_name);
        goto out;
    }
    /* like QEMU 7.2: count is counted from the start of the input, skipped blocks included */
    if (has_count && count <= INT64_MAX / bsz && count * bsz < size) {
        size = count * bsz;
    }
    bool beyond = has_skip && (skip > INT64_MAX / bsz || size < bsz * skip);
    opts = qopts_new("create");
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, beyond ? 0 : size - bsz * skip);
    qopts_set(opts, "size", num);
    if (bdrv_create(drv, out_name, opts, &err) < 0) {
        error_report("%s: error while creating output image: %s", out_name, err);
        goto out;
    }
    img_force_share = false; /* -U is for the input */
    out = img_open_plain(out_name, out_fmt, BDRV_O_RDWR);
    if (!out) {
        goto out;
    }
    int64_t in_pos;
    if (beyond) {
        error_report("%s: cannot skip to specified offset", in_name);
        in_pos = size;
    } else {
        in_pos = skip * bsz;
    }
    buf = g_malloc((size_t)bsz);
    for (int64_t out_pos = 0; in_pos < size;) {
        int64_t bytes = in_pos + bsz > size ? size - in_pos : bsz;
        int r = bdrv_pread(in, (uint64_t)in_pos, (uint64_t)bytes, buf);
        if (r < 0) {
            error_report("error while reading from input image file: %s", strerror(-r));
            goto out;
        }
        in_pos += bytes;
        r = bdrv_pwrite(out, (uint64_t)out_pos, (uint64_t)bytes, buf, 0);
        if (r < 0) {
            error_report("error while writing to output image file: %s", strerror(-r));
            goto out;
        }
        out_pos += bytes;
    }
    if (bdrv_flush(out) < 0) {
        error_report("error while flushing the output image");
        goto out;
    }
    ret = 0;
out:
    g_free(buf);
    g_free(err);
    qopts_free(opts);
    bdrv_close(out);
    bdrv_close(in);
    g_free(in_name);
    g_free(out_name);
    return ret;
}
