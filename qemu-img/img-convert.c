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

/*
 * The progress meter counts what QEMU's convert counts: it walks the sources in QEMU's steps
 * (runs of one block status, cut to the source's cluster alignment, data runs to the buffer
 * size, compressed runs to whole target clusters) and advances by the sectors of each data run
 * (and zero run, with -S 0) as a share of all such sectors, counted by a first walk. The copy
 * itself goes its own way; the meter is stepped as far as the copy has come.
 */
enum { CP_DATA, CP_ZERO, CP_BACKING };

typedef struct ConvProgress {
    ImgProgress meter;
    BlockDriverState **src;
    int64_t *src_sectors, *src_align;
    int nsrc;
    int64_t total_sectors, buf_sectors, cluster_sectors, target_backing_sectors;
    bool compressed, target_has_backing, min_sparse, broken;
    int64_t sector_num, sector_next_status, allocated_sectors, allocated_done;
    int status;
} ConvProgress;

static int64_t cp_iteration(ConvProgress *cp, int64_t sector_num)
{
    int src_cur = 0;
    int64_t src_cur_offset = 0;
    while (src_cur + 1 < cp->nsrc && sector_num >= src_cur_offset + cp->src_sectors[src_cur]) {
        src_cur_offset += cp->src_sectors[src_cur++];
    }
    int64_t n = MIN(cp->total_sectors - sector_num, (int64_t)(INT32_MAX >> 9));
    bool post_backing_zero = false;
    if (cp->target_backing_sectors >= 0) {
        if (sector_num >= cp->target_backing_sectors) {
            post_backing_zero = true;
        } else if (sector_num + n > cp->target_backing_sectors) {
            n = cp->target_backing_sectors - sector_num;
        }
    }
    if (cp->sector_next_status <= sector_num) {
        BlockDriverState *bs = cp->src[src_cur];
        uint64_t offset = (uint64_t)(sector_num - src_cur_offset) * 512, count = 0;
        int ret = cp->target_has_backing
                      ? bdrv_block_status(bs, offset, (uint64_t)n * 512, &count, NULL, NULL)
                      : bdrv_block_status_above(bs, offset, (uint64_t)n * 512, &count);
        if (ret < 0) {
            return ret;
        }
        n = (int64_t)((count + 511) / 512);
        int64_t tail = (sector_num - src_cur_offset + n) % cp->src_align[src_cur];
        if (n > tail) {
            n -= tail;
        }
        if (ret & BDRV_BLOCK_ZERO) {
            cp->status = post_backing_zero ? CP_BACKING : CP_ZERO;
        } else if (ret & BDRV_BLOCK_DATA) {
            cp->status = CP_DATA;
        } else {
            cp->status = cp->target_has_backing ? CP_BACKING : CP_DATA;
        }
        cp->sector_next_status = sector_num + n;
    }
    n = MIN(n, cp->sector_next_status - sector_num);
    if (cp->status == CP_DATA) {
        n = MIN(n, cp->buf_sectors);
    }
    if (cp->compressed) {
        if (n < cp->cluster_sectors) {
            n = MIN(cp->cluster_sectors, cp->total_sectors - sector_num);
            cp->status = CP_DATA;
        } else {
            n -= n % cp->cluster_sectors;
        }
    }
    return n;
}

static bool cp_counted(ConvProgress *cp)
{
    return cp->status == CP_DATA || (!cp->min_sparse && cp->status == CP_ZERO);
}

/* The first walk: how many sectors the meter counts. */
static void cp_prepare(ConvProgress *cp)
{
    for (int64_t sn = 0; sn < cp->total_sectors;) {
        int64_t n = cp_iteration(cp, sn);
        if (n <= 0) {
            cp->broken = true; /* the copy reports the error */
            return;
        }
        if (cp_counted(cp)) {
            cp->allocated_sectors += n;
        }
        sn += n;
    }
    cp->sector_next_status = 0;
}

/* Steps the meter through every run that starts before byte `upto` of the target. */
static void cp_advance(ConvProgress *cp, uint64_t upto)
{
    while (!cp->broken && cp->sector_num < cp->total_sectors &&
           (uint64_t)cp->sector_num * 512 < upto) {
        int64_t n = cp_iteration(cp, cp->sector_num);
        if (n <= 0) {
            cp->broken = true;
            return;
        }
        if (!cp->min_sparse && cp->status == CP_ZERO) {
            n = MIN(n, cp->buf_sectors);
        }
        cp->sector_num += n;
        if (cp_counted(cp)) {
            cp->allocated_done += n;
            img_progress_step(&cp->meter,
                              (float)(100.0 * (double)cp->allocated_done /
                                      (double)cp->allocated_sectors),
                              0);
        }
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

static bool drv_has_create_opt(const BlockDriver *drv, const char *name)
{
    for (const BlockCreateOpt *o = drv->create_opts; o && o->name; o++) {
        if (!strcmp(o->name, name)) {
            return true;
        }
    }
    return false;
}

static bool sector_zero(const uint8_t *buf, uint64_t len, uint64_t i)
{
    return buffer_is_zero(buf + i * 512, MIN(512, len - i * 512));
}

/*
 * As QEMU's convert: the run of sectors from sector `first` of buf (n of them, the first being
 * sector `sector` of the target) that are all zero or all not; where the run stops inside an
 * `align`-sector block, a data run is extended to the block's end and a zero run cut back to
 * its start (a zero run shorter than that becomes data). A run to the end of buf is taken as it
 * is. *data tells which.
 */
static uint64_t sector_run(const uint8_t *buf, uint64_t len, uint64_t first, uint64_t n,
                           uint64_t sector, uint64_t align, bool *data)
{
    bool zero = sector_zero(buf, len, first);
    uint64_t i = 1;
    while (i < n && sector_zero(buf, len, first + i) == zero) {
        i++;
    }
    uint64_t tail = (sector + i) & (align - 1);
    if (i < n && tail) {
        if (zero && i <= tail) {
            zero = false;
        }
        i = zero ? i - tail : MIN(i + align - tail, n);
    }
    *data = !zero;
    return i;
}

/* A data run from sector `first` swallows zero runs shorter than `min` sectors (QEMU's
 * is_allocated_sectors_min); a zero run at the start is returned as it is. */
static uint64_t sector_run_min(const uint8_t *buf, uint64_t len, uint64_t first, uint64_t n,
                               uint64_t min, uint64_t sector, uint64_t align, bool *data)
{
    min = MIN(min, n);
    uint64_t k = sector_run(buf, len, first, n, sector, align, data);
    if (!*data) {
        return k;
    }
    uint64_t used = k, checked = k;
    while (checked < n) {
        bool d;
        uint64_t m = sector_run(buf, len, first + checked, n - checked, sector + checked, align, &d);
        checked += m;
        if (d) {
            used = checked;
        } else if (m >= min) {
            break;
        }
    }
    *data = true;
    return used;
}

/* Write buf[0..len) at off, leaving out (or writing as zeroes, when the target does not read as
 * zero) the zero runs QEMU leaves out for -S `sparse` bytes. */
static int write_sparse(BlockDriverState *out, uint64_t off, const uint8_t *buf, uint64_t len,
                        uint64_t sparse, bool target_zero)
{
    if (!sparse) {
        return bdrv_pwrite(out, off, len, buf, 0);
    }
    uint64_t min = MAX(sparse / 512, 1), align = 1;
    while (align * 2 <= min) {
        align *= 2; /* QEMU aligns the runs to pow2floor(-S) */
    }
    uint64_t nsec = (len + 511) / 512, sector = off / 512;
    for (uint64_t i = 0; i < nsec;) {
        bool data;
        uint64_t k = sector_run_min(buf, len, i, nsec - i, min, sector + i, align, &data);
        uint64_t b0 = i * 512, b1 = MIN((i + k) * 512, len);
        int ret = 0;
        if (data) {
            ret = bdrv_pwrite(out, off + b0, b1 - b0, buf + b0, 0);
        } else if (!target_zero) {
            ret = bdrv_pwrite_zeroes(out, off + b0, b1 - b0, BDRV_REQ_MAY_UNMAP);
        }
        if (ret < 0) {
            return ret;
        }
        i += k;
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
    int64_t backing_len; /* a new target's backing file's length (-1: none or unknown) */
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
            if (rd->backing_len >= 0 && dst < (uint64_t)rd->backing_len &&
                dst + n > (uint64_t)rd->backing_len) {
                /* as QEMU: cut at the end of the target's backing file, past which zeroes
                 * need not be written (the backing file reads as zero there) */
                n = (uint64_t)rd->backing_len - dst;
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
            } else if (z == 1 && rd->backing_len >= 0 && dst >= (uint64_t)rd->backing_len) {
                conv_push(rd, CONV_SKIP, dst, n, NULL, NULL);
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
    bool progress = false;
    ConvProgress cp = {0};
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
        progress = false;
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
        g_string_free(options, TRUE);
        return 1;
    }
    if (target_is_zero && !skip_create) {
        error_report("--target-is-zero requires use of -n flag");
        g_string_free(options, TRUE);
        return 1;
    }
    const char *out_filename = argv[argc - 1];
    int src_flags = 0, out_flags = BDRV_O_RDWR;
    bool wt;
    if (bdrv_parse_cache_mode(src_cache, &src_flags, &wt) < 0) {
        error_report("Invalid source cache option: %s", src_cache);
        g_string_free(options, TRUE);
        return 1;
    }

    /* QEMU's order: from here on the meter has started and every failure ends its line */
    img_progress_init(&cp.meter, progress, 1.0f);
    img_progress_step(&cp.meter, 0, 100);
    BlockDriverState **src = g_new0(BlockDriverState *, nsrc);
    int64_t *src_len = g_new0(int64_t, nsrc);
    uint64_t total = 0;
    int ret = 1;
    BlockDriverState *out = NULL;
    QOpts *opts = NULL;
    char *err = NULL;
    uint8_t *buf = NULL;
    const BlockDriver *drv = NULL;
    if (nsrc > 1 && (snapshot_name || sn_opts)) {
        error_report("No support for concatenating multiple snapshot");
        goto out;
    }
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
    drv = bdrv_find_format(out_fmt);
    if (!drv || !drv->create) {
        error_report("Unknown file format '%s'", out_fmt);
        goto out;
    }
    if (compress && drv != &bdrv_qcow2 && drv != &bdrv_qcow) {
        error_report("Compression not supported for this file format");
        goto out;
    }
    if (!skip_create) {
        opts = qopts_new("create");
        if (options->len && !qopts_parse_into(opts, options->str, "-o", NULL, QOPTS_LEGACY, &err)) {
            error_report("%s", err);
            goto out;
        }
        /* -B and -F are the options backing_file and backing_fmt (-F alone too, as QEMU) */
        if (out_backing && !drv_has_create_opt(drv, "backing_file")) {
            error_report("Backing file not supported for file format '%s'", out_fmt);
            goto out;
        }
        if (out_backing_fmt && !drv_has_create_opt(drv, "backing_fmt")) {
            error_report("Backing file format not supported for file format '%s'", out_fmt);
            goto out;
        }
        if (out_backing) {
            qopts_set(opts, "backing_file", out_backing);
        }
        if (out_backing_fmt) {
            qopts_set(opts, "backing_fmt", out_backing_fmt);
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
    if (bdrv_parse_cache_mode(cache, &out_flags, &wt) < 0) {
        error_report("Invalid cache option: %s", cache);
        goto out;
    }
    img_image_opts = tgt_image_opts;
    img_force_share = false; /* -U is for the sources */
    /* with its backing file, as QEMU: partial clusters are completed from it, and what reads
     * as zero is judged through it */
    out = img_open(out_filename, tgt_image_opts && !out_fmt_given ? NULL : out_fmt, out_flags);
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
    if (progress) {
        cp.src = src;
        cp.nsrc = nsrc;
        cp.src_sectors = g_new0(int64_t, nsrc);
        cp.src_align = g_new0(int64_t, nsrc);
        for (int i = 0; i < nsrc; i++) {
            cp.src_sectors[i] = (src_len[i] + 511) / 512;
            cp.total_sectors += cp.src_sectors[i];
            /* QEMU's request alignment (one sector here: no O_DIRECT alignment is kept) */
            int64_t align = 1;
            BlockDriverInfo sbi;
            if (bdrv_get_info(src[i], &sbi) == 0 && sbi.cluster_size > 0) {
                align = MAX(align, (int64_t)sbi.cluster_size / 512);
            }
            cp.src_align[i] = align;
        }
        /* compressed: one target cluster at a time */
        cp.buf_sectors = compress ? (int64_t)cluster / 512
                                  : MIN(32768, (int64_t)MAX(CONVERT_BUF, cluster) / 512);
        cp.cluster_sectors = (int64_t)cluster / 512;
        cp.compressed = compress;
        cp.min_sparse = sparse != 0;
        cp.target_has_backing = out_backing != NULL;
        cp.target_backing_sectors = -1;
        if (out_backing && !skip_create) {
            char *bpath = bdrv_path_combine(out_filename, out_backing), *berr = NULL;
            BlockDriverState *tb = bdrv_open(bpath, out_backing_fmt, NULL, 0, &berr);
            if (tb && bdrv_getlength(tb) >= 0) {
                cp.target_backing_sectors = (bdrv_getlength(tb) + 511) / 512;
            }
            bdrv_close(tb);
            g_free(berr);
            g_free(bpath);
        }
        cp_prepare(&cp);
    }
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
        .backing_len = -1,
        .free_q = g_async_queue_new(),
        .full_q = g_async_queue_new(),
    };
    if (out_backing && !skip_create && out->backing) {
        /* QEMU takes the length of a new target's backing file (in whole sectors) */
        int64_t blen = bdrv_getlength(out->backing);
        rd.backing_len = blen < 0 ? -1 : (blen + 511) & ~511LL;
    }
    int nbufs = MAX(2, coroutines);
    uint8_t **bufs = g_new0(uint8_t *, nbufs);
    for (int i = 0; i < nbufs; i++) {
        bufs[i] = g_malloc(chunk);
        g_async_queue_push(rd.free_q, bufs[i]);
    }
    GThread *reader = g_thread_new("convert-reader", conv_reader, &rd);
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
            if (progress) {
                cp_advance(&cp, it->dst + it->n);
            }
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
    ret = 0;
out:
    if (ret == 0) {
        img_progress_step(&cp.meter, 100, 0);
    }
    img_progress_done(&cp.meter);
    g_free(cp.src_sectors);
    g_free(cp.src_align);
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
