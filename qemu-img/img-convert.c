/*
 * qemu-img convert: copy one or more images (concatenated) into a new or existing target,
 * skipping zero ranges, optionally compressing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/error.h"
#include "qemu-img-cmds.h"
#include "tools.h"

#define CONVERT_BUF (2u << 20)

typedef struct Progress {
    bool on;
    double last;
} Progress;

static void progress_print(Progress *p, double pct, bool force)
{
    if (!p->on) {
        return;
    }
    if (force || pct - p->last >= 1.0 || pct == 0.0) {
        printf("    (%.2f/100%%)\r", pct);
        fflush(stdout);
        p->last = pct;
    }
}

static void progress_end(Progress *p)
{
    if (p->on) {
        printf("    (100.00/100%%)\r\n");
        fflush(stdout);
    }
}

/* Status of [off, +n) through the whole chain: 1 = reads as zero, 0 = data; *pnum set. */
static int chain_zero_status(BlockDriverState *bs, uint64_t off, uint64_t n, uint64_t *pnum,
                             bool *allocated_top)
{
    BlockDriverState *p = bs;
    *allocated_top = false;
    for (int depth = 0;; depth++) {
        uint64_t num;
        int ret = bdrv_block_status(p, off, n, &num, NULL, NULL);
        if (ret < 0) {
            return ret;
        }
        n = num;
        if (depth == 0 && (ret & BDRV_BLOCK_ALLOCATED)) {
            *allocated_top = true;
        }
        if (ret & BDRV_BLOCK_ZERO) {
            *pnum = n;
            return 1;
        }
        if ((ret & BDRV_BLOCK_DATA) || !p->backing) {
            *pnum = n;
            return 0;
        }
        p = p->backing;
    }
}

/* Write buf[0..len) at off, leaving out zero runs of at least `sparse` bytes (aligned). */
static int write_sparse(BlockDriverState *out, uint64_t off, const uint8_t *buf, uint64_t len,
                        uint64_t sparse, bool target_zero)
{
    if (!sparse) {
        return bdrv_pwrite(out, off, len, buf, 0);
    }
    uint64_t i = 0;
    while (i < len) {
        /* data run */
        uint64_t j = i;
        while (j < len) {
            uint64_t blk = MIN(sparse - ((off + j) % sparse), len - j);
            if (blk == sparse && buffer_is_zero(buf + j, blk)) {
                break;
            }
            j += blk;
        }
        if (j > i) {
            int ret = bdrv_pwrite(out, off + i, j - i, buf + i, 0);
            if (ret < 0) {
                return ret;
            }
        }
        /* zero run */
        uint64_t k = j;
        while (k < len) {
            uint64_t blk = MIN(sparse - ((off + k) % sparse), len - k);
            if (blk != sparse || !buffer_is_zero(buf + k, blk)) {
                break;
            }
            k += blk;
        }
        if (k > j && !target_zero) {
            int ret = bdrv_pwrite_zeroes(out, off + j, k - j, BDRV_REQ_MAY_UNMAP);
            if (ret < 0) {
                return ret;
            }
        }
        i = k;
    }
    return 0;
}

typedef enum { CONV_DATA, CONV_ZERO, CONV_SKIP, CONV_ERROR, CONV_END } ConvKind;

typedef struct ConvItem {
    ConvKind kind;
    uint64_t dst, n;
    uint8_t *buf; /* CONV_DATA: one of the reader's buffers, returned through free_q */
    char *err;
} ConvItem;

typedef struct ConvReader {
    BlockDriverState **src;
    const int64_t *src_len;
    int nsrc;
    uint64_t chunk;
    bool compress, sparse, out_backing;
    GAsyncQueue *free_q, *full_q;
    int abort;
} ConvReader;

static void conv_push(ConvReader *rd, ConvKind kind, uint64_t dst, uint64_t n, uint8_t *buf,
                      char *err)
{
    ConvItem *it = g_new0(ConvItem, 1);
    it->kind = kind;
    it->dst = dst;
    it->n = n;
    it->buf = buf;
    it->err = err;
    g_async_queue_push(rd->full_q, it);
}

static gpointer conv_reader(gpointer opaque)
{
    ConvReader *rd = opaque;
    uint64_t dst = 0, off = 0;
    int i = 0;
    while (i < rd->nsrc && !g_atomic_int_get(&rd->abort)) {
        uint64_t len = (uint64_t)rd->src_len[i];
        if (off >= len) {
            i++;
            off = 0;
            continue;
        }
        {
            uint64_t n = MIN(rd->chunk - (dst % rd->chunk), len - off);
            if (rd->compress && n == len - off && i + 1 < rd->nsrc && (dst + n) % rd->chunk) {
                /*
                 * A target cluster spanning the end of this source: compressed writes take
                 * whole clusters, so it is filled from the following sources too (QEMU
                 * converts the concatenation cluster by cluster).
                 */
                uint64_t want = rd->chunk - (dst % rd->chunk), got = 0;
                uint8_t *buf = g_async_queue_pop(rd->free_q);
                while (got < want && i < rd->nsrc) {
                    uint64_t m = MIN(want - got, (uint64_t)rd->src_len[i] - off);
                    int r = m ? bdrv_pread(rd->src[i], off, m, buf + got) : 0;
                    if (r < 0) {
                        g_async_queue_push(rd->free_q, buf);
                        conv_push(rd, CONV_ERROR, dst, 0, NULL,
                                  g_strdup_printf("error while reading at byte %" PRIu64 ": %s",
                                                  off, strerror(-r)));
                        goto end;
                    }
                    got += m;
                    off += m;
                    if (off >= (uint64_t)rd->src_len[i]) {
                        i++;
                        off = 0;
                    }
                }
                conv_push(rd, CONV_DATA, dst, got, buf, NULL);
                dst += got;
                continue;
            }
            uint64_t num;
            bool top;
            int z = chain_zero_status(rd->src[i], off, n, &num, &top);
            if (z < 0) {
                conv_push(rd, CONV_ERROR, dst, 0, NULL,
                          g_strdup_printf("error while reading block status at offset %" PRIu64
                                          ": %s",
                                          off, strerror(-z)));
                goto end;
            }
            if (!rd->compress || (z == 1 && num >= n)) {
                n = num; /* compressed writes need whole clusters */
            } else {
                z = 0;
            }
            if (rd->out_backing && !top && rd->src[i]->backing) {
                conv_push(rd, CONV_SKIP, dst, n, NULL, NULL); /* the new backing provides it */
            } else if (z == 1 && rd->sparse) {
                conv_push(rd, CONV_ZERO, dst, n, NULL, NULL);
            } else {
                uint8_t *buf = g_async_queue_pop(rd->free_q);
                int r = bdrv_pread(rd->src[i], off, n, buf);
                if (r < 0) {
                    g_async_queue_push(rd->free_q, buf);
                    conv_push(rd, CONV_ERROR, dst, 0, NULL,
                              g_strdup_printf("error while reading at byte %" PRIu64 ": %s", off,
                                              strerror(-r)));
                    goto end;
                }
                conv_push(rd, CONV_DATA, dst, n, buf, NULL);
            }
            off += n;
            dst += n;
        }
    }
end:
    conv_push(rd, CONV_END, 0, 0, NULL, NULL);
    return NULL;
}

static bool supports_bitmaps(BlockDriverState *bs)
{
    BlockDriverInfo bdi = {0};
    return bdrv_get_info(bs, &bdi) == 0 && bdi.persistent_bitmaps;
}

/* --bitmaps: refuse inconsistent source bitmaps unless they are skipped. */
static int check_bitmaps(BlockDriverState *src, bool skip_broken)
{
    if (!supports_bitmaps(src)) {
        error_report("Source lacks bitmap support");
        return -1;
    }
    for (BdrvDirtyBitmap *bm = src->dirty_bitmaps; bm; bm = bm->next) {
        if (bm->persistent && !skip_broken && bm->inconsistent) {
            error_report("Cannot copy inconsistent bitmap '%s'", bm->name);
            fprintf(stderr, "Try --skip-broken-bitmaps, or use 'qemu-img bitmap --remove' to "
                            "delete it\n");
            return -1;
        }
    }
    return 0;
}

/* After the copy: each persistent source bitmap becomes a target bitmap with its bits. */
static int copy_bitmaps(BlockDriverState *src, BlockDriverState *dst, bool skip_broken)
{
    for (BdrvDirtyBitmap *bm = src->dirty_bitmaps; bm; bm = bm->next) {
        if (!bm->persistent) {
            continue;
        }
        if (skip_broken && bm->inconsistent) {
            error_report("warning: Skipping inconsistent bitmap '%s'", bm->name);
            continue;
        }
        char *err = NULL;
        BdrvDirtyBitmap *nb = NULL;
        if (bdrv_can_store_new_dirty_bitmap(dst, bm->name, bm->granularity, &err)) {
            nb = bdrv_create_dirty_bitmap(dst, bm->granularity, bm->name, &err);
        }
        if (!nb) {
            error_report("Failed to create bitmap %s: %s", bm->name, err);
            g_free(err);
            return -1;
        }
        nb->persistent = true;
        nb->disabled = bm->disabled;
        if (bdrv_merge_dirty_bitmap(nb, bm, &err) < 0) {
            error_report("Failed to populate bitmap %s: %s", bm->name, err);
            g_free(err);
            bdrv_remove_persistent_dirty_bitmap(dst, bm->name, NULL);
            bdrv_release_dirty_bitmap(dst, nb);
            return -1;
        }
    }
    return 0;
}

int img_convert(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"target-image-opts", no_argument, NULL, 'J'},
        {"force-share", no_argument, NULL, 'U'},
        {"target-is-zero", no_argument, NULL, 'Z'},
        {"salvage", no_argument, NULL, 'Y'},
        {"bitmaps", no_argument, NULL, 'K'},
        {"skip-broken-bitmaps", no_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *out_fmt = NULL, *cache = "unsafe", *src_cache = "writeback";
    const char *out_backing = NULL, *out_backing_fmt = NULL;
    GString *options = g_string_new(NULL);
    bool compress = false, quiet = false, skip_create = false, target_is_zero = false;
    bool src_image_opts = false, tgt_image_opts = false, out_fmt_given;
    bool copy_offload = false, bitmaps = false, skip_broken = false;
    int64_t sparse = 4096;
    const char *snapshot_name = NULL;
    QOpts *sn_opts = NULL;
    int coroutines = 8;
    Progress prog = {0};
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", long_options, NULL)) !=
           -1) {
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'U':
            img_force_share = true;
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
        case 'B':
            out_backing = optarg;
            break;
        case 'F':
            out_backing_fmt = optarg;
            break;
        case 'C':
            copy_offload = true;
            break;
        case 'c':
            compress = true;
            break;
        case 'o':
            if (options->len) {
                g_string_append_c(options, ',');
            }
            g_string_append(options, optarg);
            break;
        case 'l':
            if (!strncmp(optarg, "snapshot.", 9)) {
                char *perr = NULL;
                sn_opts = qopts_new("snapshot");
                if (!qopts_parse_into(sn_opts, optarg, "-l", NULL, QOPTS_LEGACY, &perr)) {
                    error_report("%s", perr);
                    error_report("Failed in parsing snapshot param '%s'", optarg);
                    g_free(perr);
                    qopts_free(sn_opts);
                    g_string_free(options, TRUE);
                    return 1;
                }
            } else {
                snapshot_name = optarg;
            }
            break;
        case 'S': {
            int64_t sval = cvtnum("buffer size for sparse output", optarg);
            if (sval < 0) {
                g_string_free(options, TRUE);
                return 1;
            }
            if (sval & 511 || sval > 16 * 1024 * 1024) {
                error_report("Invalid buffer size for sparse output specified. Valid sizes are "
                             "multiples of 512 up to 16MB.");
                g_string_free(options, TRUE);
                return 1;
            }
            sparse = sval;
            break;
        }
        case 'p':
            prog.on = true;
            break;
        case 't':
            cache = optarg;
            break;
        case 'T':
            src_cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'n':
            skip_create = true;
            break;
        case 'm': {
            char *end;
            long m = strtol(optarg, &end, 10);
            if (*end || m < 1 || m > 16) {
                error_report("Invalid number of coroutines. Allowed number of coroutines is "
                             "between 1 and 16");
                g_string_free(options, TRUE);
                return 1;
            }
            coroutines = (int)m;
            break;
        }
        case 'Z':
            target_is_zero = true;
            break;
        case 'K':
            bitmaps = true;
            break;
        case 'k':
            skip_broken = true;
            break;
        case OPT_IMG_OBJECT:
            if (img_object_add(optarg) < 0) {
                g_string_free(options, TRUE);
                return 1;
            }
            break;
        case OPT_IMG_IMAGE_OPTS:
            src_image_opts = true;
            break;
        case 'J':
            tgt_image_opts = true;
            break;
        default:
            break;
        }
    }
    if (quiet) {
        prog.on = false;
    }
    out_fmt_given = out_fmt != NULL;
    if (!out_fmt) {
        out_fmt = "raw";
    }
    if (tgt_image_opts && !skip_create) {
        error_report("--target-image-opts requires use of -n flag");
        g_string_free(options, TRUE);
        return 1;
    }
    if (skip_broken && !bitmaps) {
        error_report("Use of --skip-broken-bitmaps requires --bitmaps");
        g_string_free(options, TRUE);
        qopts_free(sn_opts);
        return 1;
    }
    int nsrc = argc - optind - 1;
    if (options->len && img_has_help_option(options->str) && !skip_create && !target_is_zero) {
        int r = img_print_create_help(out_fmt, nsrc >= 1 ? argv[argc - 1] : NULL);
        g_string_free(options, TRUE);
        return r;
    }
    if (nsrc < 1) {
        error_exit("Must specify image file name");
    }
    if (copy_offload) {
        sparse = 0;
        if (compress) {
            error_report("Compression not supported with copy offloading");
            g_string_free(options, TRUE);
            return 1;
        }
    }
    if (skip_create && options->len) {
        error_report("-o has no effect when skipping image creation");
        error_report("Try 'qemu-img --help' for more information");
        g_string_free(options, TRUE);
        return 1;
    }
    if (target_is_zero && !skip_create) {
        error_report("--target-is-zero requires use of -n flag");
        g_string_free(options, TRUE);
        return 1;
    }
    if (out_backing_fmt && !out_backing) {
        error_report("Specifying backing image format (-F) without backing image (-B) is not "
                     "supported");
        g_string_free(options, TRUE);
        return 1;
    }
    if (nsrc > 1 && (snapshot_name || sn_opts)) {
        error_report("No support for concatenating multiple snapshot");
        qopts_free(sn_opts);
        g_string_free(options, TRUE);
        return 1;
    }
    const char *out_filename = argv[argc - 1];
    const BlockDriver *drv = bdrv_find_format(out_fmt);
    if (!drv || !drv->create) {
        error_report("Unknown file format '%s'", out_fmt);
        g_string_free(options, TRUE);
        return 1;
    }
    if (compress && drv != &bdrv_qcow2) {
        error_report("Compression not supported for this file format");
        g_string_free(options, TRUE);
        return 1;
    }
    int src_flags = 0, out_flags = BDRV_O_RDWR;
    bool wt;
    if (bdrv_parse_cache_mode(src_cache, &src_flags, &wt) < 0) {
        error_report("Invalid source cache option: %s", src_cache);
        g_string_free(options, TRUE);
        return 1;
    }
    if (bdrv_parse_cache_mode(cache, &out_flags, &wt) < 0) {
        error_report("Invalid cache option: %s", cache);
        g_string_free(options, TRUE);
        return 1;
    }

    BlockDriverState **src = g_new0(BlockDriverState *, nsrc);
    int64_t *src_len = g_new0(int64_t, nsrc);
    uint64_t total = 0;
    int ret = 1;
    BlockDriverState *out = NULL;
    QOpts *opts = NULL;
    char *err = NULL;
    uint8_t *buf = NULL;
    for (int i = 0; i < nsrc; i++) {
        img_image_opts = src_image_opts;
        src[i] = img_open(argv[optind + i], fmt, src_flags | BDRV_O_NO_SHARE);
        if (!src[i]) {
            goto out;
        }
        if (sn_opts || snapshot_name) {
            int r;
            if (sn_opts) {
                r = bdrv_snapshot_load_tmp(src[i], qopts_get(sn_opts, "snapshot.id"),
                                           qopts_get(sn_opts, "snapshot.name"), &err);
            } else {
                r = bdrv_snapshot_load_tmp(src[i], snapshot_name, NULL, &err);
                if (r == -ENOENT) {
                    g_free(err);
                    err = NULL;
                    r = bdrv_snapshot_load_tmp(src[i], NULL, snapshot_name, &err);
                }
            }
            if (r < 0) {
                error_report("Failed to load snapshot: %s", err);
                goto out;
            }
        }
        src_len[i] = bdrv_getlength(src[i]);
        if (src_len[i] < 0) {
            error_report("Could not get size of %s: %s", argv[optind + i],
                         strerror((int)-src_len[i]));
            goto out;
        }
        total += (uint64_t)src_len[i];
    }
    if (bitmaps) {
        if (nsrc > 1) {
            error_report("Copying bitmaps only possible with single source");
            goto out;
        }
        if (check_bitmaps(src[0], skip_broken) < 0) {
            goto out;
        }
    }
    if (!skip_create) {
        opts = qopts_new("create");
        if (options->len && !qopts_parse_into(opts, options->str, "-o", NULL, QOPTS_LEGACY, &err)) {
            error_report("%s", err);
            goto out;
        }
        if (out_backing) {
            qopts_set(opts, "backing_file", out_backing);
            if (out_backing_fmt) {
                qopts_set(opts, "backing_fmt", out_backing_fmt);
            }
        }
        for (size_t i = 0; i < opts->n_pairs; i++) {
            const BlockCreateOpt *o = drv->create_opts;
            while (o->name && strcmp(o->name, opts->pairs[i].key)) {
                o++;
            }
            if (!o->name) {
                error_report("Invalid parameter '%s'", opts->pairs[i].key);
                goto out;
            }
        }
        if (!qopts_get(opts, "size")) {
            char num[32];
            snprintf(num, sizeof(num), "%" PRIu64, total);
            qopts_set(opts, "size", num);
        }
        /* -o backing_file=... makes a target with a backing file just like -B */
        if (!out_backing && qopts_get(opts, "backing_file")) {
            out_backing = qopts_get(opts, "backing_file");
        }
    }
    if (target_is_zero && out_backing) {
        /* (QEMU 7.2 exits 0 here) */
        error_report("Cannot use --target-is-zero when the destination image has a backing file");
        ret = 0;
        goto out;
    }
    if (nsrc > 1 && out_backing) {
        error_report("Having a backing file for the target makes no sense when concatenating "
                     "multiple input images");
        goto out;
    }
    if (!skip_create && out_backing && !qopts_get(opts, "backing_fmt")) {
        error_report("Use of backing file requires explicit backing format");
        goto out;
    }
    if (!skip_create && compress) {
        const char *pa = qopts_get(opts, "preallocation");
        if (qopts_get(opts, "encryption") || qopts_get(opts, "encrypt.format")) {
            error_report("Compression and encryption not supported at the same time");
            goto out;
        }
        if (pa && strcmp(pa, "off")) {
            error_report("Compression and preallocation not supported at the same time");
            goto out;
        }
    }
    if (!skip_create) {
        if (bdrv_create(drv, out_filename, opts, &err) < 0) {
            error_report("%s: error while converting %s: %s", out_filename, out_fmt, err);
            goto out;
        }
    }
    img_image_opts = tgt_image_opts;
    img_force_share = false; /* -U is for the sources */
    out = img_open(out_filename, tgt_image_opts && !out_fmt_given ? NULL : out_fmt,
                   out_flags | BDRV_O_NO_BACKING);
    if (!out) {
        goto out;
    }
    if (bitmaps && !supports_bitmaps(out)) {
        error_report("Format driver '%s' does not support bitmaps", out->drv->format_name);
        goto out;
    }
    int64_t out_len = bdrv_getlength(out);
    if (skip_create && out_len >= 0 && (uint64_t)out_len < total) {
        error_report("output file is smaller than input file");
        goto out;
    }
    /* a new target reads as zero, unless it has a backing file */
    bool fresh = (!skip_create || target_is_zero) && !out_backing;
    uint64_t cluster = 65536;
    BlockDriverInfo bdi;
    if (bdrv_get_info(out, &bdi) == 0 && bdi.cluster_size > 0) {
        cluster = (uint64_t)bdi.cluster_size;
    }
    uint64_t chunk = compress ? cluster : MAX(CONVERT_BUF, cluster);
    progress_print(&prog, 0.0, true);
    /*
     * A reader thread walks the sources (block status, zero detection, reads) while this thread
     * writes the target: up to `coroutines` chunks are in flight between them. Each image is
     * only ever touched by one thread; writes stay in order (-W is accepted).
     */
    ConvReader rd = {
        .src = src,
        .src_len = src_len,
        .nsrc = nsrc,
        .chunk = chunk,
        .compress = compress,
        .sparse = sparse != 0,
        .out_backing = out_backing != NULL,
        .free_q = g_async_queue_new(),
        .full_q = g_async_queue_new(),
    };
    int nbufs = MAX(2, coroutines);
    uint8_t **bufs = g_new0(uint8_t *, nbufs);
    for (int i = 0; i < nbufs; i++) {
        bufs[i] = g_malloc(chunk);
        g_async_queue_push(rd.free_q, bufs[i]);
    }
    GThread *reader = g_thread_new("convert-reader", conv_reader, &rd);
    uint64_t done = 0;
    bool failed = false;
    for (;;) {
        ConvItem *it = g_async_queue_pop(rd.full_q);
        if (it->kind == CONV_END) {
            g_free(it);
            break;
        }
        if (!failed) {
            int r = 0;
            if (it->kind == CONV_ERROR) {
                error_report("%s", it->err);
                failed = true;
            } else if (it->kind == CONV_ZERO && !fresh) {
                r = bdrv_pwrite_zeroes(out, it->dst, it->n, BDRV_REQ_MAY_UNMAP);
            } else if (it->kind == CONV_DATA) {
                if (compress) {
                    /*
                     * a cluster of zeros is not compressed but written as zeros, as QEMU does;
                     * over a backing file (or a target not known to be zero) it must be
                     * written, or the backing file's data would show through
                     */
                    if (!sparse || !buffer_is_zero(it->buf, it->n)) {
                        r = bdrv_pwrite(out, it->dst, it->n, it->buf, BDRV_REQ_COMPRESSED);
                    } else if (!fresh) {
                        r = bdrv_pwrite_zeroes(out, it->dst, it->n, BDRV_REQ_MAY_UNMAP);
                    }
                } else {
                    r = write_sparse(out, it->dst, it->buf, it->n, (uint64_t)sparse, fresh);
                }
            }
            if (r < 0) {
                error_report("error while writing at byte %" PRIu64 ": %s", it->dst, strerror(-r));
                failed = true;
            }
            if (failed) {
                g_atomic_int_set(&rd.abort, 1);
            }
            done += it->n;
            progress_print(&prog, total ? (double)done * 100.0 / (double)total : 100.0, false);
        }
        if (it->buf) {
            g_async_queue_push(rd.free_q, it->buf);
        }
        g_free(it->err);
        g_free(it);
    }
    g_thread_join(reader);
    for (int i = 0; i < nbufs; i++) {
        g_free(bufs[i]);
    }
    g_free(bufs);
    g_async_queue_unref(rd.free_q);
    g_async_queue_unref(rd.full_q);
    if (failed) {
        goto out;
    }
    if (compress && out->file) {
        /* like QEMU's final empty compressed write: end the file on a sector boundary */
        int64_t flen = bdrv_getlength(out->file);
        if (flen > 0 && (flen & 511)) {
            bdrv_truncate(out->file, ((uint64_t)flen + 511) & ~511ULL, false, PREALLOC_MODE_OFF,
                          NULL);
        }
    }
    if (bdrv_flush(out) < 0) {
        error_report("error while flushing the target");
        goto out;
    }
    if (bitmaps && copy_bitmaps(src[0], out, skip_broken) < 0) {
        goto out;
    }
    progress_print(&prog, 100.0, true);
    progress_end(&prog);
    ret = 0;
out:
    g_free(err);
    g_free(buf);
    qopts_free(opts);
    bdrv_close(out);
    for (int i = 0; i < nsrc; i++) {
        bdrv_close(src[i]);
    }
    g_free(src);
    g_free(src_len);
    g_string_free(options, TRUE);
    qopts_free(sn_opts);
    return ret;
}
