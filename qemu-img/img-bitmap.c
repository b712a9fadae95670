/*
 * qemu-img bitmap: add, remove, clear, enable, disable and merge persistent dirty bitmaps,
 * one action after another in command-line order, as QEMU 7.2's QMP bitmap commands do them.
 * The format driver stores the bitmaps when the image is closed.
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

enum {
    OPT_ADD = 256,
    OPT_REMOVE,
    OPT_CLEAR,
    OPT_ENABLE,
    OPT_DISABLE,
    OPT_MERGE,
};

typedef struct BitmapAction {
    int act;
    const char *src; /* --merge */
} BitmapAction;

static BdrvDirtyBitmap *lookup(BlockDriverState *bs, const char *name, char **errp)
{
    BdrvDirtyBitmap *bm = bdrv_find_dirty_bitmap(bs, name);
    if (!bm) {
        block_error(errp, "Dirty bitmap '%s' not found", name);
    }
    return bm;
}

static int bitmap_add(BlockDriverState *bs, const char *name, int64_t granularity_arg, char **errp)
{
    if (!name[0]) {
        block_error(errp, "Bitmap name cannot be empty");
        return -1;
    }
    /* QMP's granularity is a uint32: larger values wrap, as in QEMU */
    uint32_t granularity = (uint32_t)granularity_arg;
    if (granularity_arg) {
        if (granularity < 512 || (granularity & (granularity - 1))) {
            block_error(errp, "Granularity must be power of 2 and at least 512");
            return -1;
        }
    } else {
        granularity = bdrv_get_default_bitmap_granularity(bs);
    }
    if (!bdrv_can_store_new_dirty_bitmap(bs, name, granularity, errp)) {
        return -1;
    }
    BdrvDirtyBitmap *bm = bdrv_create_dirty_bitmap(bs, granularity, name, errp);
    if (!bm) {
        return -1;
    }
    bm->persistent = true;
    return 0;
}

static int bitmap_remove(BlockDriverState *bs, const char *name, char **errp)
{
    BdrvDirtyBitmap *bm = lookup(bs, name, errp);
    if (!bm || bdrv_dirty_bitmap_check(bm, BDRV_BITMAP_RO, errp) < 0) {
        return -1;
    }
    if (bm->persistent && bdrv_remove_persistent_dirty_bitmap(bs, name, errp) < 0) {
        return -1;
    }
    bdrv_release_dirty_bitmap(bs, bm);
    return 0;
}

static int bitmap_merge(BlockDriverState *bs, const char *target, BlockDriverState *src_bs,
                        const char *src_name, char **errp)
{
    BdrvDirtyBitmap *dst = lookup(bs, target, errp);
    if (!dst || bdrv_dirty_bitmap_check(dst, BDRV_BITMAP_DEFAULT, errp) < 0) {
        return -1;
    }
    BdrvDirtyBitmap *anon = bdrv_create_dirty_bitmap(bs, dst->granularity, NULL, errp);
    if (!anon) {
        return -1;
    }
    int ret = -1;
    BdrvDirtyBitmap *src = lookup(src_bs, src_name, errp);
    if (src && bdrv_merge_dirty_bitmap(anon, src, errp) == 0 &&
        bdrv_merge_dirty_bitmap(dst, anon, errp) == 0) {
        ret = 0;
    }
    bdrv_release_dirty_bitmap(bs, anon);
    return ret;
}

int img_bitmap(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"add", no_argument, NULL, OPT_ADD},
        {"remove", no_argument, NULL, OPT_REMOVE},
        {"clear", no_argument, NULL, OPT_CLEAR},
        {"enable", no_argument, NULL, OPT_ENABLE},
        {"disable", no_argument, NULL, OPT_DISABLE},
        {"merge", required_argument, NULL, OPT_MERGE},
        {"granularity", required_argument, NULL, 'g'},
        {"source-file", required_argument, NULL, 'b'},
        {"source-format", required_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *src_fmt = NULL, *src_filename = NULL;
    int64_t granularity = 0;
    bool add = false, merge = false;
    GArray *actions = g_array_new(false, false, sizeof(BitmapAction));
    int c;
    while ((c = getopt_long(argc, argv, ":b:f:F:g:h", long_options, NULL)) != -1) {
        BitmapAction a = {c, NULL};
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'h':
            help();
            break;
        case 'b':
            src_filename = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'F':
            src_fmt = optarg;
            break;
        case 'g':
            granularity = cvtnum("granularity", optarg);
            if (granularity < 0) {
                g_array_free(actions, true);
                return 1;
            }
            break;
        case OPT_MERGE:
            a.src = optarg;
            merge = true;
            g_array_append_val(actions, a);
            break;
        case OPT_ADD:
            add = true;
            /* fall through */
        case OPT_REMOVE:
        case OPT_CLEAR:
        case OPT_ENABLE:
        case OPT_DISABLE:
            g_array_append_val(actions, a);
            break;
        case OPT_IMG_OBJECT:
        case OPT_IMG_IMAGE_OPTS:
            if (img_shared_option(c, optarg) < 0) {
                g_array_free(actions, true);
                return 1;
            }
            break;
        }
    }
    int ret = 1;
    BlockDriverState *bs = NULL, *src_bs = NULL;
    if (!actions->len) {
        error_report("Need at least one of --add, --remove, --clear, --enable, --disable, or "
                     "--merge");
        goto out;
    }
    if (granularity && !add) {
        error_report("granularity only supported with --add");
        goto out;
    }
    if (src_fmt && !src_filename) {
        error_report("-F only supported with -b");
        goto out;
    }
    if (src_filename && !merge) {
        error_report("Merge bitmap source file only supported with --merge");
        goto out;
    }
    if (optind != argc - 2) {
        error_report("Expecting filename and bitmap name");
        goto out;
    }
    const char *filename = argv[optind], *bitmap = argv[optind + 1];
    bs = img_open(filename, fmt, BDRV_O_RDWR);
    if (!bs) {
        goto out;
    }
    if (src_filename) {
        src_bs = img_open(src_filename, src_fmt, 0);
        if (!src_bs) {
            goto out;
        }
    }
    for (guint i = 0; i < actions->len; i++) {
        BitmapAction *a = &g_array_index(actions, BitmapAction, i);
        char *err = NULL;
        const char *op = "";
        int r = 0;
        BdrvDirtyBitmap *bm;
        switch (a->act) {
        case OPT_ADD:
            op = "add";
            r = bitmap_add(bs, bitmap, granularity, &err);
            break;
        case OPT_REMOVE:
            op = "remove";
            r = bitmap_remove(bs, bitmap, &err);
            break;
        case OPT_CLEAR:
            op = "clear";
            bm = lookup(bs, bitmap, &err);
            r = bm ? bdrv_dirty_bitmap_check(bm, BDRV_BITMAP_DEFAULT, &err) : -1;
            if (r == 0) {
                bdrv_clear_dirty_bitmap(bm);
            }
            break;
        case OPT_ENABLE:
        case OPT_DISABLE:
            op = a->act == OPT_ENABLE ? "enable" : "disable";
            bm = lookup(bs, bitmap, &err);
            r = bm ? bdrv_dirty_bitmap_check(bm, BDRV_BITMAP_ALLOW_RO, &err) : -1;
            if (r == 0) {
                bm->disabled = a->act == OPT_DISABLE;
            }
            break;
        case OPT_MERGE:
            op = "merge";
            r = bitmap_merge(bs, bitmap, src_bs ? src_bs : bs, a->src, &err);
            break;
        }
        if (r < 0) {
            error_report("Operation %s on bitmap %s failed: %s", op, bitmap, err);
            g_free(err);
            goto out;
        }
    }
    ret = 0;
out:
    bdrv_close(src_bs);
    bdrv_close(bs);
    g_array_free(actions, true);
    return ret;
}
