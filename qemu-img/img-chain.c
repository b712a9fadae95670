/*
 * qemu-img commit and rebase: operations on backing chains.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/error.h"
#include "qemu-img-cmds.h"
#include "tools.h"

#define CHAIN_BUF (2u << 20)

void img_progress(bool on, double pct)
{
    if (on) {
        printf("    (%.2f/100%%)\r", pct);
        fflush(stdout);
    }
}

void img_progress_end(bool on)
{
    if (on) {
        printf("    (100.00/100%%)\r\n");
        fflush(stdout);
    }
}

void img_progress_init(ImgProgress *p, bool on, float min_skip)
{
    *p = (ImgProgress){.on = on, .min_skip = min_skip};
}

void img_progress_step(ImgProgress *p, float delta, int max)
{
    /* float arithmetic throughout, as QEMU's: the printed roundings depend on it */
    float cur = max == 0 ? delta : p->current + delta / 100 * max;
    if (cur > 100) {
        cur = 100;
    }
    p->current = cur;
    if (cur > p->last_print + p->min_skip || cur == 100 || cur == 0) {
        p->last_print = cur;
        if (p->on) {
            printf("    (%3.2f/100%%)\r", cur);
            fflush(stdout);
        }
    }
}

void img_progress_done(ImgProgress *p)
{
    if (p->on) {
        printf("\n"); /* not flushed: QEMU's reaches a pipe after its error messages */
    }
}

static bool same_file(const char *a, const char *b)
{
    if (!strcmp(a, b)) {
        return true;
    }
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/* The layer below bs that `name` (a path, relative to the layer above it) names. */
static BlockDriverState *find_backing_image(BlockDriverState *bs, const char *name)
{
    for (BlockDriverState *p = bs; p->backing; p = p->backing) {
        BlockDriverState *b = p->backing;
        /* as QEMU: a relative name is relative to the image whose backing file it would be */
        char *full = bdrv_path_combine(p->filename, name);
        bool hit = same_file(b->filename, full);
        g_free(full);
        if (hit) {
            return b;
        }
    }
    return NULL;
}

/* ---- commit ---- */

/*
 * QEMU commits through a mirror job (an active commit into the base), and what it allocates in
 * the base follows from that job, so Vireo runs the same operations:
 *  - a dirty bitmap of granules (the base's cluster size, clamped to 4 KiB..64 KiB) set wherever
 *    a layer above the base (the base excluded) allocates;
 *  - iterations over runs of dirty granules (at most a 16 MiB buffer's worth each); within one,
 *    the status of the whole chain decides each operation: data is copied (read through the
 *    chain, written as data, at most 1 MiB per copy), zeros written as zeros (unmapping) and
 *    anything else discarded, but only when the run covers whole granules and whole clusters of
 *    the base; a shorter or unaligned run is copied a granule at a time (the zeros it reads then
 *    become data in the base, as in QEMU).
 * The progress meter counts the bytes of the bitmap and advances as QEMU's job completes those
 * operations (up to 16 in flight and 16 MiB of copy buffers; zeroing ones end at once).
 */
typedef enum { MIRROR_COPY, MIRROR_ZERO, MIRROR_DISCARD } MirrorMethod;

typedef struct CommitOp {
    uint64_t off, bytes;
    MirrorMethod method;
} CommitOp;

typedef struct CommitPiece {
    uint64_t end, done; /* offset where the piece ends; bytes accounted up to it */
} CommitPiece;

#define MIRROR_MAX_IO (1u << 20)
#define MIRROR_BUF (16u << 20)

/* The mirror job's operations, in the order QEMU issues them; *ptotal: the dirty bytes. */
static int commit_ops(BlockDriverState *bs, BlockDriverState *base_ro, BlockDriverState *base,
                      uint64_t len, GArray **pops, uint64_t *ptotal)
{
    BlockDriverInfo bdi;
    uint64_t gran = 65536, target_cluster = 0;
    if (bdrv_get_info(base, &bdi) == 0 && bdi.cluster_size > 0) {
        gran = MIN(65536, MAX(4096, (uint64_t)bdi.cluster_size));
        target_cluster = (uint64_t)bdi.cluster_size;
    }
    /* dirty runs, granule-aligned and merged */
    GArray *runs = g_array_new(false, false, sizeof(uint64_t) * 2);
    int ret = 0;
    for (uint64_t off = 0; off < len;) {
        uint64_t pnum = 0;
        int depth = 0;
        ret = bdrv_is_allocated_above(bs, base_ro, off, len - off, &pnum, &depth);
        if (ret < 0 || !pnum) {
            break;
        }
        if (ret) {
            uint64_t r[2] = {off - off % gran, (off + pnum + gran - 1) / gran * gran};
            uint64_t *last = runs->len ? &g_array_index(runs, uint64_t, 2 * (runs->len - 1)) : NULL;
            if (last && r[0] <= last[1]) {
                last[1] = MAX(last[1], r[1]);
            } else {
                g_array_append_val(runs, r);
            }
        }
        off += pnum;
    }
    GArray *ops = g_array_new(false, false, sizeof(CommitOp));
    uint64_t total = 0;
    for (guint i = 0; ret >= 0 && i < runs->len; i++) {
        uint64_t *r = &g_array_index(runs, uint64_t, 2 * i);
        total += r[1] - r[0];
        for (uint64_t win = r[0]; win < r[1] && win < len;) {
            /* one mirror iteration: at most a buffer's worth of contiguous dirty granules */
            uint64_t win_end = MIN(r[1], win + MIRROR_BUF), off = win;
            while (off < win_end && off < len) {
                uint64_t io = win_end - off, pnum = 0;
                int st = bdrv_block_status_above(bs, off, MIN(io, len - off), &pnum);
                if (st >= 0) {
                    io = pnum;
                }
                CommitOp op = {off, 0, MIRROR_COPY};
                if (st < 0 || (st & BDRV_BLOCK_DATA)) {
                    io = MIN(io, MIRROR_MAX_IO);
                }
                io -= io % gran;
                if (io < gran) {
                    io = gran;
                } else if (st >= 0 && !(st & BDRV_BLOCK_DATA) &&
                           (!target_cluster ||
                            (off % target_cluster == 0 && io % target_cluster == 0))) {
                    op.method = (st & BDRV_BLOCK_ZERO) ? MIRROR_ZERO : MIRROR_DISCARD;
                }
                op.bytes = MIN(io, len - off);
                g_array_append_val(ops, op);
                off += op.bytes;
            }
            win = win_end;
        }
    }
    g_array_free(runs, true);
    if (ret < 0) {
        g_array_free(ops, true);
        return ret;
    }
    *pops = ops;
    *ptotal = total;
    return 0;
}

/* The meter's steps: where each completion happens (the end of the op being issued) and the
 * bytes completed by then. */
static GArray *commit_plan(GArray *ops, uint64_t len)
{
    GArray *pieces = g_array_new(false, false, sizeof(CommitPiece));
    GQueue copies = G_QUEUE_INIT;
    uint64_t buf_used = 0, done = 0;
    for (guint i = 0; i < ops->len; i++) {
        CommitOp *op = &g_array_index(ops, CommitOp, i);
        bool copy = op->method == MIRROR_COPY;
        uint64_t end = op->off + op->bytes;
        while (copies.length &&
               (copies.length >= 16 || (copy && buf_used + op->bytes > MIRROR_BUF))) {
            uint64_t c = GPOINTER_TO_SIZE(g_queue_pop_head(&copies));
            buf_used -= c;
            done += c;
            CommitPiece pc = {end, done};
            g_array_append_val(pieces, pc);
        }
        if (copy) {
            g_queue_push_tail(&copies, GSIZE_TO_POINTER(op->bytes));
            buf_used += op->bytes;
        } else {
            done += op->bytes;
            CommitPiece pc = {end, done};
            g_array_append_val(pieces, pc);
        }
    }
    while (copies.length) {
        done += GPOINTER_TO_SIZE(g_queue_pop_head(&copies));
        CommitPiece pc = {len, done};
        g_array_append_val(pieces, pc);
    }
    return pieces;
}

/* Steps of the meter for the pieces that end at or before `upto`. */
static void commit_progress(ImgProgress *prog, GArray *plan, guint *next, uint64_t total,
                            uint64_t upto)
{
    while (plan && *next < plan->len) {
        CommitPiece *pc = &g_array_index(plan, CommitPiece, *next);
        if (pc->end > upto) {
            break;
        }
        img_progress_step(prog, (float)pc->done / (float)total * 100.f, 0);
        (*next)++;
    }
}

int img_commit(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *cache = "writeback", *base = NULL;
    bool progress = false, quiet = false, drop = false;
    int c;
    while ((c = getopt_long(argc, argv, ":f:ht:b:dpqr:", long_options, NULL)) != -1) {
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
        case 't':
            cache = optarg;
            break;
        case 'b':
            base = optarg;
            drop = true; /* -b implies -d */
            break;
        case 'd':
            drop = true;
            break;
        case 'p':
            progress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'r':
            if (cvtnum("rate limit", optarg) < 0) {
                return 1;
            }
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
    if (quiet) {
        progress = false;
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    const char *filename = argv[optind];
    int flags = BDRV_O_RDWR | BDRV_O_UNMAP; /* as QEMU's commit */
    bool wt;
    if (bdrv_parse_cache_mode(cache, &flags, &wt) < 0) {
        error_report("Invalid cache option: %s", cache);
        return 1;
    }
    BlockDriverState *bs = img_open(filename, fmt, flags);
    if (!bs) {
        return 1;
    }
    ImgProgress prog;
    img_progress_init(&prog, progress, 1.f);
    img_progress_step(&prog, 0.f, 100);
    GArray *plan = NULL;
    guint plan_next = 0;
    uint64_t plan_total = 0;
    BlockDriverState *base_ro = NULL, *base_bs = NULL;
    char *err = NULL;
    int ret = 0;
    uint8_t *buf = NULL;
    if (base) {
        base_ro = find_backing_image(bs, base);
        if (!base_ro) {
            err = g_strdup_printf("Did not find '%s' in the backing chain of '%s'", base, filename);
            goto done;
        }
    } else {
        base_ro = bs->backing;
        if (!base_ro) {
            err = g_strdup("Image does not have a backing file");
            goto done;
        }
    }
    /*
     * a writable instance of the base; the chain's read-only one is never read below, so it
     * lets the writable one have the image (as QEMU's reopen of the base read-write)
     */
    char *oerr = NULL;
    base_ro->open_flags |= BDRV_O_FORCE_SHARE;
    bdrv_refresh_perms(NULL);
    base_bs = bdrv_open(base_ro->filename, base_ro->drv->format_name, NULL,
                        flags | BDRV_O_NO_BACKING, &oerr);
    if (!base_bs) {
        err = oerr; /* as QEMU's reopen of the base: the bare reason (a lock, mostly) */
        goto done;
    }
    /*
     * the base keeps its own backing file (the chain's, read-only): copy-on-write of a partial
     * cluster reads it, and growing the base over it zeroes the new area
     */
    if (base_ro->backing && bdrv_set_backing(base_bs, base_ro->backing, &err) < 0) {
        goto done;
    }
    int64_t len = bdrv_getlength(bs), base_len = bdrv_getlength(base_bs);
    if (len < 0 || base_len < 0) {
        err = g_strdup("Could not get the image size");
        goto done;
    }
    if (len > base_len) {
        char *terr = NULL;
        ret = bdrv_truncate(base_bs, (uint64_t)len, false, PREALLOC_MODE_OFF, &terr);
        g_free(terr);
        if (ret < 0) {
            err = g_strdup_printf("Block job failed: %s", strerror(-ret));
            goto done;
        }
    }
    GArray *ops = NULL;
    ret = commit_ops(bs, base_ro, base_bs, (uint64_t)len, &ops, &plan_total);
    if (ret < 0) {
        err = g_strdup_printf("Block job failed: %s", strerror(-ret));
        goto done;
    }
    if (progress) {
        plan = commit_plan(ops, (uint64_t)len);
    }
    buf = g_malloc(MIRROR_MAX_IO);
    for (guint i = 0; i < ops->len; i++) {
        CommitOp *op = &g_array_index(ops, CommitOp, i);
        switch (op->method) {
        case MIRROR_ZERO:
            ret = bdrv_pwrite_zeroes(base_bs, op->off, op->bytes, BDRV_REQ_MAY_UNMAP);
            break;
        case MIRROR_DISCARD:
            ret = bdrv_discard(base_bs, op->off, op->bytes);
            break;
        default:
            ret = bdrv_pread(bs, op->off, op->bytes, buf);
            if (ret >= 0) {
                ret = bdrv_pwrite(base_bs, op->off, op->bytes, buf, 0);
            }
            break;
        }
        if (ret < 0) {
            g_array_free(ops, true);
            err = g_strdup_printf("Block job failed: %s", strerror(-ret));
            goto done;
        }
        commit_progress(&prog, plan, &plan_next, plan_total, op->off + op->bytes);
    }
    g_array_free(ops, true);
    commit_progress(&prog, plan, &plan_next, plan_total, UINT64_MAX);
    ret = bdrv_flush(base_bs);
    if (ret < 0) {
        err = g_strdup_printf("%s", strerror(-ret));
        goto done;
    }
    bdrv_close(base_bs);
    base_bs = NULL;
    img_progress_step(&prog, 100.f, 0);
    if (!drop) {
        ret = bdrv_make_empty(bs);
        if (ret < 0 && ret != -ENOTSUP) {
            err = g_strdup_printf("%s", strerror(-ret));
            goto done;
        }
    }
done:
    img_progress_done(&prog);
    if (plan) {
        g_array_free(plan, true);
    }
    g_free(buf);
    bdrv_close(base_bs);
    bdrv_close(bs);
    if (err) {
        error_report("%s", err);
        g_free(err);
        return 1;
    }
    qprintf(quiet, "Image committed.\n");
    return 0;
}

/* ---- rebase ---- */

/* Length of the run at the start of a/b (512-byte sectors) that is all equal or all different;
 * returns whether that run differs. */
static bool compare_sectors(const uint8_t *a, const uint8_t *b, uint64_t n, uint64_t *pnum)
{
    uint64_t first = MIN(512, n);
    bool differ = memcmp(a, b, first) != 0;
    uint64_t i = first;
    while (i < n) {
        uint64_t k = MIN(512, n - i);
        if ((memcmp(a + i, b + i, k) != 0) != differ) {
            break;
        }
        i += k;
    }
    *pnum = i;
    return differ;
}

int img_rebase(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *out_basefmt = NULL, *out_baseimg = NULL, *cache = "writeback";
    const char *src_cache = "writeback";
    bool unsafe = false, progress = false, quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:F:b:upt:T:qU", long_options, NULL)) != -1) {
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
        case 'F':
            out_basefmt = optarg;
            break;
        case 'b':
            out_baseimg = optarg;
            break;
        case 'u':
            unsafe = true;
            break;
        case 'p':
            progress = true;
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
    if (quiet) {
        progress = false;
    }
    if (!unsafe && !out_baseimg) {
        error_exit("Must specify backing file (-b) or use unsafe mode (-u)");
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    if (!out_baseimg) {
        out_baseimg = "";
    }
    const char *filename = argv[optind];
    /* as QEMU: the meter starts before anything is opened; every later failure ends its line */
    ImgProgress prog;
    img_progress_init(&prog, progress, 2.0f);
    img_progress_step(&prog, 0, 100);
    int flags = BDRV_O_RDWR, src_flags = 0;
    int ret = 1;
    BlockDriverState *bs = NULL, *new_backing = NULL;
    uint8_t *buf_old = NULL, *buf_new = NULL;
    bool wt;
    if (bdrv_parse_cache_mode(cache, &flags, &wt) < 0) {
        error_report("Invalid cache option: %s", cache);
        goto out;
    }
    if (bdrv_parse_cache_mode(src_cache, &src_flags, &wt) < 0) {
        error_report("Invalid source cache option: %s", src_cache);
        goto out;
    }
    if (out_basefmt && !bdrv_find_format(out_basefmt)) {
        error_report("Invalid format name: '%s'", out_basefmt);
        goto out;
    }
    /* -U is for the backing files, not for the image being rebased */
    bool share_backing = img_force_share;
    img_force_share = false;
    bs = img_open(filename, fmt, flags | (unsafe ? BDRV_O_NO_BACKING : 0));
    if (!bs) {
        goto out;
    }
    if (!unsafe) {
        BlockDriverState *old_backing = bs->backing;
        if (out_baseimg[0]) {
            char *path = bdrv_path_combine(filename, out_baseimg);
            char *err = NULL;
            new_backing =
                tool_open(path, out_basefmt, src_flags | (share_backing ? BDRV_O_FORCE_SHARE : 0),
                          &err);
            if (!new_backing) {
                error_report("Could not open new backing file '%s': %s", out_baseimg, err);
                g_free(err);
                g_free(path);
                goto out;
            }
            g_free(path);
        }
        int64_t size = bdrv_getlength(bs);
        int64_t old_size = old_backing ? bdrv_getlength(old_backing) : 0;
        int64_t new_size = new_backing ? bdrv_getlength(new_backing) : 0;
        if (size < 0 || old_size < 0 || new_size < 0) {
            error_report("Could not get size of '%s'", filename);
            goto out;
        }
        buf_old = g_malloc(CHAIN_BUF);
        buf_new = g_malloc(CHAIN_BUF);
        /* QEMU's step: one buffer's share of the image (integer count of buffers) */
        float local_progress = 0;
        if (size) {
            local_progress = (float)100 / (float)(size / MIN(size, (int64_t)CHAIN_BUF));
        }
        for (uint64_t off = 0; off < (uint64_t)size;) {
            uint64_t n = MIN(CHAIN_BUF, (uint64_t)size - off), pnum;
            int r = bdrv_is_allocated(bs, off, n, &pnum);
            if (r < 0) {
                error_report("error while reading image metadata: %s", strerror(-r));
                goto out;
            }
            n = pnum;
            if (r) {
                off += n;
                continue;
            }
            bool old_zero = false;
            if (off >= (uint64_t)old_size) {
                memset(buf_old, 0, n);
                old_zero = true;
            } else {
                n = MIN(n, (uint64_t)old_size - off);
                r = bdrv_pread(old_backing, off, n, buf_old);
                if (r < 0) {
                    error_report("error while reading from old backing file");
                    goto out;
                }
            }
            if (off >= (uint64_t)new_size || !new_backing) {
                memset(buf_new, 0, n);
            } else {
                n = MIN(n, (uint64_t)new_size - off);
                r = bdrv_pread(new_backing, off, n, buf_new);
                if (r < 0) {
                    error_report("error while reading from new backing file");
                    goto out;
                }
            }
            for (uint64_t w = 0; w < n;) {
                uint64_t run;
                if (compare_sectors(buf_old + w, buf_new + w, n - w, &run)) {
                    r = old_zero ? bdrv_pwrite_zeroes(bs, off + w, run, 0)
                                 : bdrv_pwrite(bs, off + w, run, buf_old + w, 0);
                    if (r < 0) {
                        error_report("Error while writing to COW image: %s", strerror(-r));
                        goto out;
                    }
                }
                w += run;
            }
            off += n;
            img_progress_step(&prog, local_progress, 100);
        }
    }
    int r;
    if (out_baseimg[0] && !out_basefmt) {
        error_report("Could not change the backing file to '%s': backing format must be "
                     "specified",
                     out_baseimg);
        r = -EINVAL;
    } else {
        r = bdrv_change_backing_file(bs, out_baseimg, out_baseimg[0] ? out_basefmt : NULL);
        if (r == -ENOSPC) {
            error_report("Could not change the backing file to '%s': No space left in the file "
                         "header",
                         out_baseimg);
        } else if (r < 0) {
            error_report("Could not change the backing file to '%s': %s", out_baseimg,
                         strerror(-r));
        }
    }
    /* QEMU's meter reaches 100% whether or not the change worked */
    img_progress_step(&prog, 100, 0);
    if (r < 0) {
        goto out;
    }
    ret = 0;
out:
    img_progress_done(&prog);
    g_free(buf_old);
    g_free(buf_new);
    bdrv_close(new_backing);
    if (ret == 0 && bdrv_flush(bs) < 0) {
        ret = 1;
    }
    bdrv_close(bs);
    return ret;
}
