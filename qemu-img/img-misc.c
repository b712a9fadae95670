/*
 * qemu-img resize, map and compare.
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

/* ---- resize ---- */

int img_resize(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"preallocation", required_argument, NULL, 'P'},
        {"shrink", no_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    /* a size like "-1G" must not be taken for an option: stop at the last two arguments */
    if (argc < 3) {
        error_exit("Not enough arguments");
    }
    char *size_arg = argv[--argc];
    argv[argc] = NULL;
    const char *fmt = NULL;
    bool quiet = false, shrink = false;
    int prealloc = PREALLOC_MODE_OFF;
    int c;
    while ((c = getopt_long(argc, argv, ":f:hq", long_options, NULL)) != -1) {
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
        case 'q':
            quiet = true;
            break;
        case 'P':
            prealloc = prealloc_mode_parse(optarg);
            if (prealloc < 0) {
                error_report("Invalid preallocation mode '%s'", optarg);
                return 1;
            }
            break;
        case 'S':
            shrink = true;
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
    if (optind != argc - 1) {
        error_exit("Expecting image file name and size");
    }
    const char *filename = argv[optind];
    int relative = 0;
    const char *s = size_arg;
    if (*s == '+') {
        relative = 1;
        s++;
    } else if (*s == '-') {
        relative = -1;
        s++;
    }
    uint64_t n;
    int rc = qopts_strtosz(s, 'B', &n);
    if (rc < 0) {
        char *msg = qopts_size_error("size", s, rc);
        error_report("%s", msg);
        g_free(msg);
        return 1;
    }
    /* with the backing chain, as QEMU: growing over a longer backing file zeroes the new area */
    BlockDriverState *bs = img_open(filename, fmt, BDRV_O_RDWR | BDRV_O_RESIZE);
    if (!bs) {
        return 1;
    }
    int64_t cur = bdrv_getlength(bs);
    int64_t total;
    if (relative) {
        total = cur + relative * (int64_t)n;
    } else {
        total = (int64_t)n;
    }
    int ret = 1;
    if (total <= 0) {
        error_report("New image size must be positive");
        goto out;
    }
    if (total <= cur && prealloc != PREALLOC_MODE_OFF) {
        error_report("Preallocation can only be used for growing images");
        goto out;
    }
    if (cur > total && !shrink) {
        error_report("Use the --shrink option to perform a shrink operation.");
        warn_report("Shrinking an image will delete all data beyond the shrunken image's end. "
                    "Before performing such an operation, make sure there is no important data "
                    "there.");
        goto out;
    }
    char *err = NULL;
    if (bdrv_truncate(bs, (uint64_t)total, false, (PreallocMode)prealloc, &err) < 0) {
        error_report("%s", err);
        g_free(err);
        goto out;
    }
    if (bdrv_flush(bs) < 0) {
        error_report("Failed to flush the image");
        goto out;
    }
    qprintf(quiet, "Image resized.\n");
    ret = 0;
out:
    bdrv_close(bs);
    return ret;
}

/* ---- map ---- */

typedef struct MapEntry {
    int64_t start, length, offset, depth;
    bool data, zero, present, has_offset;
    const char *filename;
} MapEntry;

static int get_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes, MapEntry *e)
{
    int depth = 0;
    int ret;
    uint64_t num = 0, map = 0;
    BlockDriverState *file = NULL;
    for (;;) {
        ret = bdrv_block_status(bs, (uint64_t)offset, (uint64_t)bytes, &num, &map, &file);
        if (ret < 0) {
            return ret;
        }
        bytes = (int64_t)num;
        if (ret & (BDRV_BLOCK_ZERO | BDRV_BLOCK_DATA)) {
            break;
        }
        if (!bs->backing) {
            ret = 0;
            break;
        }
        bs = bs->backing;
        depth++;
    }
    bool has_offset = ret & BDRV_BLOCK_OFFSET_VALID;
    *e = (MapEntry){
        .start = offset,
        .length = bytes,
        .data = ret & BDRV_BLOCK_DATA,
        .zero = ret & BDRV_BLOCK_ZERO,
        .offset = (int64_t)map,
        .has_offset = has_offset,
        .depth = depth,
        .present = ret & BDRV_BLOCK_ALLOCATED,
        .filename = file && has_offset ? file->filename : NULL,
    };
    return 0;
}

static bool entry_mergeable(const MapEntry *a, const MapEntry *b)
{
    if (a->length == 0) {
        return false;
    }
    if (a->zero != b->zero || a->data != b->data || a->depth != b->depth ||
        a->present != b->present || !a->filename != !b->filename ||
        a->has_offset != b->has_offset) {
        return false;
    }
    if (a->filename && strcmp(a->filename, b->filename)) {
        return false;
    }
    if (a->has_offset && a->offset + a->length != b->offset) {
        return false;
    }
    return true;
}

static int dump_map_entry(int json, const MapEntry *e, const MapEntry *next)
{
    if (json) {
        printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", \"depth\": %" PRId64
               ", \"present\": %s, \"zero\": %s, \"data\": %s",
               e->start, e->length, e->depth, e->present ? "true" : "false",
               e->zero ? "true" : "false", e->data ? "true" : "false");
        if (e->has_offset) {
            printf(", \"offset\": %" PRId64, e->offset);
        }
        putchar('}');
        if (next) {
            puts(",");
        }
        return 0;
    }
    if (e->data && !e->has_offset) {
        error_report("File contains external, encrypted or compressed clusters.");
        return -EINVAL;
    }
    if (e->data && !e->zero) {
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", (uint64_t)e->start,
               (uint64_t)e->length, (uint64_t)e->offset, e->filename);
        return 0;
    }
    if (e->data && e->zero && next && next->data && next->zero) {
        /* QEMU prints nothing extra here either */
    }
    return 0;
}

int img_map(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {"start-offset", required_argument, NULL, 's'},
        {"max-length", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    int json = 0, c;
    int64_t start = 0, max_len = -1;
    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
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
        case 'o':
            json = parse_output_format(optarg);
            if (json < 0) {
                return 1;
            }
            break;
        case 's':
            start = cvtnum("start offset", optarg);
            if (start < 0) {
                return 1;
            }
            break;
        case 'l':
            max_len = cvtnum("max length", optarg);
            if (max_len < 0) {
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
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    BlockDriverState *bs = img_open(argv[optind], fmt, 0);
    if (!bs) {
        return 1;
    }
    int64_t length = bdrv_getlength(bs);
    int ret = 0;
    if (length < 0) {
        error_report("Failed to get size for '%s'", argv[optind]);
        bdrv_close(bs);
        return 1;
    }
    if (max_len != -1) {
        length = MIN(start + max_len, length);
    }
    if (json) {
        putchar('[');
    } else {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    }
    MapEntry curr = {.length = 0}, next;
    for (int64_t off = start; off < length;) {
        int64_t n = MIN((int64_t)1 << 30, length - off);
        ret = get_block_status(bs, off, n, &next);
        if (ret < 0) {
            error_report("Could not read file metadata: %s", strerror(-ret));
            goto out;
        }
        off += next.length;
        if (entry_mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0) {
            ret = dump_map_entry(json, &curr, &next);
            if (ret < 0) {
                goto out;
            }
        }
        curr = next;
    }
    ret = dump_map_entry(json, &curr, NULL);
    if (json) {
        printf("]\n");
    }
out:
    bdrv_close(bs);
    return ret < 0 ? 1 : 0;
}

/* ---- compare ---- */

#define CMP_CHUNK (1u << 20)

/* Offset of the first differing 512-byte sector, or -1 when equal. */
static int64_t first_diff(const uint8_t *a, const uint8_t *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 512) {
        uint64_t m = MIN(512, n - i);
        if (memcmp(a + i, b + i, m)) {
            return (int64_t)i;
        }
    }
    return -1;
}

static int64_t first_nonzero(const uint8_t *a, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 512) {
        if (!buffer_is_zero(a + i, MIN(512, n - i))) {
            return (int64_t)i;
        }
    }
    return -1;
}

/* Does [off, +n) read as zero through the chain (status only)? *pnum gets the run length. */
static int reads_zero(BlockDriverState *bs, uint64_t off, uint64_t n, uint64_t *pnum,
                      bool *allocated)
{
    *allocated = false;
    for (BlockDriverState *p = bs; p; p = p->backing) {
        uint64_t num;
        int ret = bdrv_block_status(p, off, n, &num, NULL, NULL);
        if (ret < 0) {
            return ret;
        }
        n = num;
        if (ret & BDRV_BLOCK_ALLOCATED) {
            *allocated = true;
        }
        if (ret & BDRV_BLOCK_ZERO) {
            *pnum = n;
            return 1;
        }
        if (ret & BDRV_BLOCK_DATA) {
            *pnum = n;
            return 0;
        }
    }
    *pnum = n;
    return 0;
}

int img_compare(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt1 = NULL, *fmt2 = NULL;
    bool quiet = false, strict = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:F:T:pqsU", long_options, NULL)) != -1) {
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
            fmt1 = optarg;
            break;
        case 'F':
            fmt2 = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            strict = true;
            break;
        case OPT_IMG_OBJECT:
        case OPT_IMG_IMAGE_OPTS:
            if (img_shared_option(c, optarg) < 0) {
                return 2; /* compare's own error code, as in QEMU */
            }
            break;
        default:
            break;
        }
    }
    if (optind != argc - 2) {
        error_exit("Expecting two image file names");
    }
    const char *f1 = argv[optind], *f2 = argv[optind + 1];
    BlockDriverState *bs1 = img_open(f1, fmt1, 0);
    if (!bs1) {
        return 2;
    }
    BlockDriverState *bs2 = img_open(f2, fmt2, 0);
    if (!bs2) {
        bdrv_close(bs1);
        return 2;
    }
    int ret = 0;
    uint8_t *b1 = g_malloc(CMP_CHUNK), *b2 = g_malloc(CMP_CHUNK);
    int64_t len1 = bdrv_getlength(bs1), len2 = bdrv_getlength(bs2);
    uint64_t common = (uint64_t)MIN(len1, len2);
    if (strict && len1 != len2) {
        qprintf(quiet, "Strict mode: Image size mismatch!\n");
        ret = 1;
        goto out;
    }
    for (uint64_t off = 0; off < common;) {
        uint64_t n = MIN(CMP_CHUNK, common - off), n1, n2;
        bool a1, a2;
        int z1 = reads_zero(bs1, off, n, &n1, &a1);
        int z2 = reads_zero(bs2, off, n, &n2, &a2);
        if (z1 < 0 || z2 < 0) {
            error_report("Sector allocation test failed for %s", z1 < 0 ? f1 : f2);
            ret = 3;
            goto out;
        }
        n = MIN(n1, n2);
        if (strict && a1 != a2) {
            qprintf(quiet, "Strict mode: Offset %" PRIu64 " block status mismatch!\n", off);
            ret = 1;
            goto out;
        }
        if (z1 == 1 && z2 == 1) {
            off += n;
            continue;
        }
        if (bdrv_pread(bs1, off, n, b1) < 0 || bdrv_pread(bs2, off, n, b2) < 0) {
            error_report("Error while reading offset %" PRIu64 ": %s", off, strerror(EIO));
            ret = 4;
            goto out;
        }
        int64_t d = first_diff(b1, b2, n);
        if (d >= 0) {
            qprintf(quiet, "Content mismatch at offset %" PRIu64 "!\n", off + (uint64_t)d);
            ret = 1;
            goto out;
        }
        off += n;
    }
    if (len1 != len2) {
        BlockDriverState *over = len1 > len2 ? bs1 : bs2;
        uint64_t end = (uint64_t)MAX(len1, len2);
        qprintf(quiet, "Warning: Image size mismatch!\n");
        for (uint64_t off = common; off < end;) {
            uint64_t n = MIN(CMP_CHUNK, end - off), num;
            bool a;
            int z = reads_zero(over, off, n, &num, &a);
            if (z < 0) {
                error_report("Sector allocation test failed for %s", over == bs1 ? f1 : f2);
                ret = 3;
                goto out;
            }
            n = num;
            if (z != 1) {
                if (bdrv_pread(over, off, n, b1) < 0) {
                    error_report("Error while reading offset %" PRIu64 ": %s", off, strerror(EIO));
                    ret = 4;
                    goto out;
                }
                int64_t d = first_nonzero(b1, n);
                if (d >= 0) {
                    qprintf(quiet, "Content mismatch at offset %" PRIu64 "!\n", off + (uint64_t)d);
                    ret = 1;
                    goto out;
                }
            }
            off += n;
        }
    }
    qprintf(quiet, "Images are identical.\n");
out:
    g_free(b1);
    g_free(b2);
    bdrv_close(bs1);
    bdrv_close(bs2);
    return ret;
}
