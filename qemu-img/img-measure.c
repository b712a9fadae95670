/*
 * qemu-img measure and amend.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/qjson.h"
#include "vireo/block.h"
#include "vireo/error.h"
#include "qemu-img-cmds.h"
#include "tools.h"

int img_measure(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"output", required_argument, NULL, 'P'},
        {"size", required_argument, NULL, 'Z'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *out_fmt = "raw", *snapshot_name = NULL, *output = "human";
    GString *options = g_string_new(NULL);
    int64_t img_size = -1;
    int c, ret = 1;
    QOpts *opts = NULL, *sn_opts = NULL;
    BlockDriverState *in = NULL;
    char *err = NULL;
    while ((c = getopt_long(argc, argv, ":hf:O:o:l:U", long_options, NULL)) != -1) {
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
        case 'o':
            if (options->len) {
                g_string_append_c(options, ',');
            }
            g_string_append(options, optarg);
            break;
        case 'l':
            if (!strncmp(optarg, "snapshot.", 9)) {
                sn_opts = qopts_new("snapshot");
                if (!qopts_parse_into(sn_opts, optarg, "-l", NULL, QOPTS_LEGACY, &err)) {
                    error_report("%s", err);
                    error_report("Failed in parsing snapshot param '%s'", optarg);
                    goto out;
                }
            } else {
                snapshot_name = optarg;
            }
            break;
        case 'U':
            img_force_share = true;
            break;
        case 'P':
            output = optarg;
            break;
        case 'Z':
            img_size = cvtnum("image size", optarg);
            if (img_size < 0) {
                goto out;
            }
            break;
        case OPT_IMG_OBJECT:
        case OPT_IMG_IMAGE_OPTS:
            if (img_shared_option(c, optarg) < 0) {
                goto out;
            }
            break;
        default:
            break;
        }
    }
    int ofmt = parse_output_format(output);
    if (ofmt < 0) {
        goto out;
    }
    const char *filename = NULL;
    if (argc - optind > 1) {
        error_report("At most one filename argument is allowed.");
        goto out;
    } else if (argc - optind == 1) {
        filename = argv[optind];
    }
    if (!filename && (fmt || snapshot_name || sn_opts)) {
        error_report("--image-opts, -f, and -l require a filename argument.");
        goto out;
    }
    if (filename && img_size >= 0) {
        error_report("--size N cannot be used together with a filename.");
        goto out;
    }
    if (!filename && img_size < 0) {
        error_report("Either --size N or one filename must be specified.");
        goto out;
    }
    if (filename) {
        in = img_open(filename, fmt, 0);
        if (!in) {
            goto out;
        }
        if (sn_opts || snapshot_name) {
            int r;
            if (sn_opts) {
                r = bdrv_snapshot_load_tmp(in, qopts_get(sn_opts, "snapshot.id"),
                                           qopts_get(sn_opts, "snapshot.name"), &err);
            } else {
                r = bdrv_snapshot_load_tmp(in, snapshot_name, NULL, &err);
                if (r == -ENOENT) {
                    g_free(err);
                    err = NULL;
                    r = bdrv_snapshot_load_tmp(in, NULL, snapshot_name, &err);
                }
            }
            if (r < 0) {
                error_report("Failed to load snapshot: %s", err);
                goto out;
            }
        }
    }
    const BlockDriver *drv = bdrv_find_format(out_fmt);
    if (!drv) {
        error_report("Unknown file format '%s'", out_fmt);
        goto out;
    }
    if (!drv->create_opts) {
        error_report("Format driver '%s' does not support image creation", drv->format_name);
        goto out;
    }
    if (!drv->measure) {
        error_report("Block driver '%s' does not support size measurement", drv->format_name);
        goto out;
    }
    opts = qopts_new("measure");
    if (options->len) {
        bool ok = qopts_parse_into(opts, options->str, "-o", NULL, QOPTS_LEGACY, &err);
        for (size_t i = 0; ok && i < opts->n_pairs; i++) {
            const BlockCreateOpt *o = drv->create_opts;
            while (o->name && strcmp(o->name, opts->pairs[i].key)) {
                o++;
            }
            if (!o->name) {
                err = g_strdup_printf("Invalid parameter '%s'", opts->pairs[i].key);
                ok = false;
            }
        }
        if (!ok) {
            error_report("%s", err);
            error_report("Invalid options for file format '%s'", out_fmt);
            goto out;
        }
    }
    if (img_size >= 0) {
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, img_size);
        qopts_set(opts, "size", num);
    }
    uint64_t required, fully;
    if (drv->measure(opts, in, &required, &fully, &err) < 0) {
        error_report("%s", err);
        goto out;
    }
    BlockDriverInfo bdi;
    bool has_bitmaps = false;
    if (drv == &bdrv_qcow2 && in && bdrv_get_info(in, &bdi) == 0 && bdi.persistent_bitmaps) {
        const char *compat = qopts_get(opts, "compat");
        has_bitmaps = !compat || !strcmp(compat, "1.1") || !strcmp(compat, "v3");
    }
    uint64_t bitmaps = 0;
    if (has_bitmaps) {
        /* QEMU's estimate: every persistent bitmap fully allocated, plus tables and directory */
        uint64_t cs = 65536, dir_size = 0;
        const char *cso = qopts_get(opts, "cluster_size");
        if (cso) {
            qopts_strtosz(cso, 'B', &cs);
        }
        for (BdrvDirtyBitmap *bm = in->dirty_bitmaps; bm && cs; bm = bm->next) {
            if (!bm->persistent) {
                continue;
            }
            uint64_t bmbytes = (bm->nbits + 7) / 8;
            uint64_t bmclusters = (bmbytes + cs - 1) / cs;
            bitmaps += bmclusters * cs + (bmclusters * 8 + cs - 1) / cs * cs;
            dir_size += (strlen(bm->name) + 24 + 7) & ~(uint64_t)7;
        }
        bitmaps += (dir_size + cs - 1) / cs * cs;
    }
    if (ofmt == 0) {
        printf("required size: %" PRIu64 "\n", required);
        printf("fully allocated size: %" PRIu64 "\n", fully);
        if (has_bitmaps) {
            printf("bitmaps size: %" PRIu64 "\n", bitmaps);
        }
    } else {
        QJ *d = qj_object();
        if (has_bitmaps) {
            qj_set(d, "bitmaps", qj_int((int64_t)bitmaps));
        }
        qj_set(d, "required", qj_int((int64_t)required));
        qj_set(d, "fully-allocated", qj_int((int64_t)fully));
        char *js = qj_to_json(d, QJ_PRETTY | QJ_QEMU_ORDER);
        printf("%s\n", js);
        g_free(js);
        qj_free(d);
    }
    ret = 0;
out:
    g_free(err);
    qopts_free(opts);
    qopts_free(sn_opts);
    bdrv_close(in);
    g_string_free(options, true);
    return ret;
}

/* ---- amend ---- */

static bool opt_known(const BlockCreateOpt *list, const char *key)
{
    for (const BlockCreateOpt *o = list; o && o->name; o++) {
        if (!strcmp(o->name, key)) {
            return true;
        }
    }
    return false;
}

static void amend_progress(double pct)
{
    img_progress(true, pct);
}

int img_amend(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *cache = "writeback";
    GString *options = g_string_new(NULL);
    bool progress = false, quiet = false;
    int c, ret = 1;
    QOpts *opts = NULL;
    BlockDriverState *bs = NULL;
    char *err = NULL;
    while ((c = getopt_long(argc, argv, ":ho:f:t:pq", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'h':
            help();
            break;
        case 'o':
            if (options->len) {
                g_string_append_c(options, ',');
            }
            g_string_append(options, optarg);
            break;
        case 'f':
            fmt = optarg;
            break;
        case 't':
            cache = optarg;
            break;
        case 'p':
            progress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'F':
            break;
        case OPT_IMG_OBJECT:
        case OPT_IMG_IMAGE_OPTS:
            if (img_shared_option(c, optarg) < 0) {
                goto out;
            }
            break;
        default:
            break;
        }
    }
    if (!options->len) {
        g_string_free(options, true);
        error_exit("Must specify options (-o)");
    }
    if (quiet) {
        progress = false;
    }
    bool want_help = img_has_help_option(options->str);
    if (fmt && want_help) {
        /* a format given: its help, with or without an image (QEMU's order) */
        ret = img_print_amend_help(fmt);
        goto out;
    }
    if (optind != argc - 1) {
        error_report("Expecting one image file name");
        goto out;
    }
    const char *filename = argv[optind];
    int flags = BDRV_O_RDWR;
    bool wt;
    if (bdrv_parse_cache_mode(cache, &flags, &wt) < 0) {
        error_report("Invalid cache option: %s", cache);
        goto out;
    }
    bs = img_open(filename, fmt, flags);
    if (!bs) {
        goto out;
    }
    if (want_help) {
        ret = img_print_amend_help(bs->drv->format_name);
        goto out;
    }
    if (!bs->drv->amend) {
        error_report("Format driver '%s' does not support option amendment", bs->drv->format_name);
        goto out;
    }
    opts = qopts_new("amend");
    if (!qopts_parse_into(opts, options->str, "-o", NULL, QOPTS_LEGACY, &err)) {
        error_report("%s", err);
        goto out;
    }
    for (size_t i = 0; i < opts->n_pairs; i++) {
        const char *key = opts->pairs[i].key;
        if (!opt_known(bs->drv->amend_opts, key)) {
            error_report("Invalid parameter '%s'", key);
            if (opt_known(bs->drv->create_opts, key)) {
                fprintf(stderr, "This option is only supported for image creation\n");
            }
            goto out;
        }
    }
    img_progress(progress, 0.0);
    if (progress) {
        bs->amend_status = amend_progress;
    }
    if (bs->drv->amend(bs, opts, &err) < 0) {
        img_progress_end(progress);
        error_report("%s", err);
        goto out;
    }
    img_progress(progress, 100.0);
    img_progress_end(progress);
    ret = 0;
out:
    g_free(err);
    qopts_free(opts);
    if (bs && ret == 0 && bdrv_flush(bs) < 0) {
        ret = 1;
    }
    bdrv_close(bs);
    g_string_free(options, true);
    return ret;
}
