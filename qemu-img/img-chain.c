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
    img_progress(progress, 0.0);
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
    int64_t len = bdrv_getlength(bs), base_len = bdrv_getlength(base_bs);
    if (len < 0 || base_len < 0) {
        err = g_strdup("Could not get the image size");
        goto done;
    }
    if (len > base_len) {
        ret = bdrv_truncate(base_bs, (uint64_t)len, false, PREALLOC_MODE_OFF, &err);
        if (ret < 0) {
            goto done;
        }
    }
    buf = g_malloc(CHAIN_BUF);
    for (uint64_t off = 0; off < (uint64_t)len;) {
        uint64_t n = MIN(CHAIN_BUF, (uint64_t)len - off), pnum;
        int depth = 0;
        ret = bdrv_is_allocated_above(bs, base_ro, off, n, &pnum, &depth);
        if (ret < 0) {
            err = g_strdup_printf("Block status failed: %s", strerror(-ret));
            goto done;
        }
        if (ret) {
            BlockDriverState *layer = bs;
            for (int d = 0; d < depth; d++) {
                layer = layer->backing;
            }
            uint64_t zn = 0;
            int st = bdrv_block_status(layer, off, pnum, &zn, NULL, NULL);
            if (st >= 0 && (st & BDRV_BLOCK_EOF)) {
                /* past this layer's end: reads as zero */
                ret = bdrv_pwrite_zeroes(base_bs, off, pnum, BDRV_REQ_MAY_UNMAP);
            } else if (st >= 0 && (st & BDRV_BLOCK_ZERO)) {
                pnum = zn;
                ret = bdrv_pwrite_zeroes(base_bs, off, pnum, BDRV_REQ_MAY_UNMAP);
            } else {
                if (st >= 0) {
                    pnum = MIN(pnum, zn);
                }
                ret = bdrv_pread(bs, off, pnum, buf);
                if (ret == 0) {
                    ret = bdrv_pwrite(base_bs, off, pnum, buf, 0);
                }
            }
            if (ret < 0) {
                err = g_strdup_printf("%s", strerror(-ret));
                goto done;
            }
        }
        off += pnum;
        img_progress(progress, (double)off * 100.0 / (double)len);
    }
    ret = bdrv_flush(base_bs);
    if (ret < 0) {
        err = g_strdup_printf("%s", strerror(-ret));
        goto done;
    }
    bdrv_close(base_bs);
    base_bs = NULL;
    if (!drop) {
        ret = bdrv_make_empty(bs);
        if (ret < 0 && ret != -ENOTSUP) {
            err = g_strdup_printf("%s", strerror(-ret));
            goto done;
        }
    }
done:
    img_progress_end(progress);
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
    int flags = BDRV_O_RDWR, src_flags = 0;
    bool wt;
    if (bdrv_parse_cache_mode(cache, &flags, &wt) < 0) {
        error_report("Invalid cache option: %s", cache);
        return 1;
    }
    if (bdrv_parse_cache_mode(src_cache, &src_flags, &wt) < 0) {
        error_report("Invalid source cache option: %s", src_cache);
        return 1;
    }
    if (out_basefmt && !bdrv_find_format(out_basefmt)) {
        error_report("Invalid format name: '%s'", out_basefmt);
        return 1;
    }
    /* -U is for the backing files, not for the image being rebased */
    bool share_backing = img_force_share;
    img_force_share = false;
    BlockDriverState *bs = img_open(filename, fmt, flags | (unsafe ? BDRV_O_NO_BACKING : 0));
    if (!bs) {
        return 1;
    }
    int ret = 1;
    BlockDriverState *new_backing = NULL;
    uint8_t *buf_old = NULL, *buf_new = NULL;
    img_progress(progress, 0.0);
    if (!unsafe) {
        BlockDriverState *old_backing = bs->backing;
        if (out_baseimg[0]) {
            char *path = bdrv_path_combine(filename, out_baseimg);
            char *err = NULL;
            new_backing =
                tool_open(path, out_basefmt, src_flags | (share_backing ? BDRV_O_FORCE_SHARE : 0),
                          false, &err);
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
            img_progress(progress, (double)off * 100.0 / (double)size);
        }
    }
    if (out_baseimg[0] && !out_basefmt) {
        error_report("Could not change the backing file to '%s': backing format must be "
                     "specified",
                     out_baseimg);
        goto out;
    }
    int r = bdrv_change_backing_file(bs, out_baseimg, out_baseimg[0] ? out_basefmt : NULL);
    if (r == -ENOSPC) {
        error_report("Could not change the backing file to '%s': No space left in the file header",
                     out_baseimg);
        goto out;
    } else if (r < 0) {
        error_report("Could not change the backing file to '%s': %s", out_baseimg, strerror(-r));
        goto out;
    }
    img_progress(progress, 100.0);
    ret = 0;
out:
    img_progress_end(progress && ret == 0);
    g_free(buf_old);
    g_free(buf_new);
    bdrv_close(new_backing);
    if (ret == 0 && bdrv_flush(bs) < 0) {
        ret = 1;
    }
    bdrv_close(bs);
    return ret;
}
