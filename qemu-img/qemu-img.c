/*
 * qemu-img: create, inspect, check and convert disk images, with QEMU 7.2's options, output
 * and exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "vireo/qjson.h"
#include "vireo/block.h"
#include "vireo/error.h"
#include "tools.h"
#include "qemu-img-cmds.h"

bool img_quiet;

void qprintf(bool quiet, const char *fmt, ...)
{
    if (quiet) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void error_exit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'qemu-img --help' for more information\n");
    exit(EXIT_FAILURE);
}

void missing_argument(const char *option)
{
    error_exit("missing argument for option '%s'", option);
}

void unrecognized_option(const char *option)
{
    error_exit("unrecognized option '%s'", option);
}

/* getopt error handling shared by the commands (optstring starts with ':') */
void bad_option(int c, char **argv)
{
    if (c == ':') {
        missing_argument(argv[optind - 1]);
    }
    unrecognized_option(argv[optind - 1]);
}

int64_t cvtnum_full(const char *name, const char *value, int64_t min, int64_t max)
{
    uint64_t res;
    int err = qopts_strtosz(value, 'B', &res);
    if (err < 0 && err != -ERANGE) {
        error_report("Invalid %s specified. You may use k, M, G, T, P or E suffixes for", name);
        error_report("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return err;
    }
    if (err == -ERANGE || res > (uint64_t)max || (int64_t)res < min) {
        error_report("Invalid %s specified. Must be between %" PRId64 " and %" PRId64 ".", name,
                     min, max);
        return -ERANGE;
    }
    return (int64_t)res;
}

int64_t cvtnum(const char *name, const char *value)
{
    return cvtnum_full(name, value, 0, INT64_MAX);
}

/* ---- create ---- */

/* Print "Formatting ..." values in the driver's option order (QEMU's qemu_opts_print). */
static void print_create_opts(const BlockDriver *drv, QOpts *opts)
{
    const char *sep = "";
    for (const BlockCreateOpt *o = drv->create_opts; o && o->name; o++) {
        const char *v = qopts_get(opts, o->name);
        if (v && (!strcmp(o->type, "size") || !strcmp(o->type, "number"))) {
            uint64_t n = 0;
            if (!strcmp(o->type, "size")) {
                qopts_strtosz(v, 'B', &n);
            } else {
                qopts_strtou64(v, 0, &n);
            }
            printf("%s%s=%" PRIu64, sep, o->name, n);
        } else if (v || o->def) {
            printf("%s%s=%s", sep, o->name, v ? v : o->def);
        } else {
            continue;
        }
        sep = " ";
    }
}

static bool validate_create_opts(const BlockDriver *drv, QOpts *opts, char **errp)
{
    for (size_t i = 0; i < opts->n_pairs; i++) {
        const BlockCreateOpt *o = drv->create_opts;
        for (; o && o->name; o++) {
            if (!strcmp(o->name, opts->pairs[i].key)) {
                break;
            }
        }
        if (!o || !o->name) {
            *errp = g_strdup_printf("Invalid parameter '%s'", opts->pairs[i].key);
            return false;
        }
        const char *v = opts->pairs[i].value;
        if (!strcmp(o->type, "size")) {
            uint64_t n;
            int rc = qopts_strtosz(v, 'B', &n);
            if (rc < 0) {
                *errp = qopts_size_error(o->name, v, rc);
                return false;
            }
        } else if (!strcmp(o->type, "number")) {
            uint64_t n;
            if (qopts_strtou64(v, 0, &n) < 0) {
                *errp = g_strdup_printf("Parameter '%s' expects a number", o->name);
                return false;
            }
        } else if (!strcmp(o->type, "bool")) {
            bool b;
            if (!qopts_parse_bool(v, &b)) {
                *errp = g_strdup_printf("Parameter '%s' expects 'on' or 'off'", o->name);
                return false;
            }
        }
    }
    return true;
}

int img_create(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = "raw", *base = NULL, *base_fmt = NULL;
    GString *options = g_string_new(NULL);
    bool quiet = false, no_backing_open = false;
    int c;
    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'h':
            help();
            break;
        case 'F':
            base_fmt = optarg;
            break;
        case 'b':
            base = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'o':
            if (options->len) {
                g_string_append_c(options, ',');
            }
            g_string_append(options, optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            no_backing_open = true;
            break;
        case OPT_IMG_OBJECT:
            if (img_object_add(optarg) < 0) {
                return 1;
            }
            break;
        }
    }
    if (options->len && img_has_help_option(options->str)) {
        /* before anything else, with or without a file name (QEMU's order) */
        int r = img_print_create_help(fmt, optind < argc ? argv[optind] : NULL);
        g_string_free(options, TRUE);
        return r;
    }
    if (optind >= argc) {
        error_exit("Expecting image file name");
    }
    const char *filename = argv[optind++];
    int64_t img_size = -1;
    if (optind < argc) {
        img_size = cvtnum("image size", argv[optind++]);
        if (img_size < 0) {
            g_string_free(options, TRUE);
            return 1;
        }
    }
    if (optind != argc) {
        error_exit("Unexpected argument: %s", argv[optind]);
    }
    const BlockDriver *drv = bdrv_find_format(fmt);
    if (!drv || !drv->create) {
        error_report("%s: Unknown file format '%s'", filename, fmt);
        g_string_free(options, TRUE);
        return 1;
    }
    char *err = NULL;
    QOpts *opts = qopts_new("create");
    if (options->len && !qopts_parse_into(opts, options->str, "-o", NULL, QOPTS_LEGACY, &err)) {
        error_report("%s: %s", filename, err);
        goto fail;
    }
    if (opts->help) {
        int r = img_print_create_help(fmt, filename);
        qopts_free(opts);
        g_string_free(options, TRUE);
        return r;
    }
    if (base) {
        qopts_set(opts, "backing_file", base);
    }
    if (base_fmt) {
        qopts_set(opts, "backing_fmt", base_fmt);
    }
    if (!validate_create_opts(drv, opts, &err)) {
        error_report("%s: %s", filename, err);
        goto fail;
    }
    uint64_t size_opt;
    bool have_size = img_size >= 0;
    if (have_size && qopts_get(opts, "size")) {
        error_report("%s: The image size must be specified only once", filename);
        goto fail;
    }
    if (!have_size && qopts_get(opts, "size")) {
        qopts_strtosz(qopts_get(opts, "size"), 'B', &size_opt);
        img_size = (int64_t)size_opt;
        have_size = true;
    }
    base = qopts_get(opts, "backing_file");
    base_fmt = qopts_get(opts, "backing_fmt");
    if (base && !no_backing_open) {
        char *full = bdrv_path_combine(filename, base);
        BlockDriverState *bbs =
            bdrv_open(full, base_fmt, NULL, BDRV_O_FORCE_SHARE | BDRV_O_NO_IO, &err);
        g_free(full);
        if (!bbs) {
            error_report("%s: %s", filename, err);
            fprintf(stderr, "Could not open backing image.\n");
            goto fail;
        }
        if (!base_fmt) {
            error_report("%s: Backing file specified without backing format", filename);
            fprintf(stderr, "Detected format of %s.", bbs->drv->format_name);
            bdrv_close(bbs);
            goto fail;
        }
        if (!have_size) {
            img_size = bdrv_getlength(bbs);
            have_size = true;
        }
        bdrv_close(bbs);
    } else if (base && !base_fmt) {
        error_report("%s: Backing file specified without backing format", filename);
        goto fail;
    }
    if (!have_size) {
        error_report("%s: Image creation needs a size parameter", filename);
        goto fail;
    }
    if (img_size >= 0) {
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, img_size);
        qopts_del(opts, "size");
        qopts_set(opts, "size", num);
    }
    if (!quiet) {
        printf("Formatting '%s', fmt=%s ", filename, fmt);
        print_create_opts(drv, opts);
        printf("\n");
        fflush(stdout);
    }
    if (bdrv_create(drv, filename, opts, &err) < 0) {
        error_report("%s: %s", filename, err);
        goto fail;
    }
    qopts_free(opts);
    g_string_free(options, TRUE);
    return 0;
fail:
    g_free(err);
    qopts_free(opts);
    g_string_free(options, TRUE);
    return 1;
}

/* ---- info ---- */

int parse_output_format(const char *s)
{
    if (!strcmp(s, "json")) {
        return 1;
    }
    if (!strcmp(s, "human")) {
        return 0;
    }
    error_report("--output must be used with human or json as argument.");
    return -1;
}

int img_info(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"backing-chain", no_argument, NULL, 'B'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    int json = 0;
    bool chain = false;
    int c;
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
        case 'B':
            chain = true;
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
    const char *filename = argv[optind];
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    QJ *list = qj_array();
    GString *human = g_string_new(NULL);
    char *name = g_strdup(filename);
    char *f = fmt ? g_strdup(fmt) : NULL;
    int ret = 0;
    bool first = true;
    while (name) {
        if (g_hash_table_contains(seen, name)) {
            error_report("Backing file '%s' creates a loop in the backing chain", name);
            ret = 1;
            break;
        }
        g_hash_table_add(seen, g_strdup(name));
        /* --image-opts describes the first image only; the backing files are file names */
        BlockDriverState *bs = first ? img_open(name, f, BDRV_O_NO_BACKING | BDRV_O_NO_IO)
                                     : img_open_plain(name, f, BDRV_O_NO_BACKING | BDRV_O_NO_IO);
        if (!bs) {
            ret = 1;
            break;
        }
        const char *shown = first && img_image_opts ? bs->filename : name;
        /* an NBD node names itself canonically (QEMU refreshes the name), raw on it too */
        BlockDriverState *proto = bs->file && bs->drv == &bdrv_raw ? bs->file : bs;
        if (!strcmp(proto->drv->format_name, "nbd")) {
            shown = proto->filename;
        }
        QJ *info = bdrv_image_info(bs, shown, false);
        if (!first) {
            g_string_append_c(human, '\n');
        }
        first = false;
        bdrv_image_info_dump(bs, shown, human);
        qj_append(list, info);
        g_free(name);
        g_free(f);
        name = NULL;
        f = NULL;
        if (chain && bs->backing_file && bs->backing_file[0]) {
            name = g_strdup(bs->full_backing_filename);
            f = bs->backing_format ? g_strdup(bs->backing_format) : NULL;
        }
        bdrv_close(bs);
    }
    g_free(name);
    g_free(f);
    if (ret == 0) {
        if (json) {
            /* --backing-chain: the list; otherwise the single image's object */
            char *out = qj_to_json(chain ? list : list->arr.items[0], QJ_PRETTY | QJ_QEMU_ORDER);
            printf("%s\n", out);
            g_free(out);
        } else {
            fputs(human->str, stdout);
        }
    }
    g_string_free(human, TRUE);
    qj_free(list);
    g_hash_table_destroy(seen);
    return ret;
}

/* ---- check ---- */

static QJ *check_to_qj(const BdrvCheckResult *r, const char *filename, const char *fmt)
{
    QJ *d = qj_object();
    qj_set(d, "filename", qj_string(filename));
    qj_set(d, "format", qj_string(fmt));
    qj_set(d, "check-errors", qj_int(r->check_errors));
    if (r->image_end_offset) {
        qj_set(d, "image-end-offset", qj_int(r->image_end_offset));
    }
    if (r->corruptions) {
        qj_set(d, "corruptions", qj_int(r->corruptions));
    }
    if (r->leaks) {
        qj_set(d, "leaks", qj_int(r->leaks));
    }
    if (r->corruptions_fixed) {
        qj_set(d, "corruptions-fixed", qj_int(r->corruptions_fixed));
    }
    if (r->leaks_fixed) {
        qj_set(d, "leaks-fixed", qj_int(r->leaks_fixed));
    }
    if (r->total_clusters) {
        qj_set(d, "total-clusters", qj_int((int64_t)r->total_clusters));
    }
    if (r->allocated_clusters) {
        qj_set(d, "allocated-clusters", qj_int((int64_t)r->allocated_clusters));
    }
    if (r->fragmented_clusters) {
        qj_set(d, "fragmented-clusters", qj_int((int64_t)r->fragmented_clusters));
    }
    if (r->compressed_clusters) {
        qj_set(d, "compressed-clusters", qj_int((int64_t)r->compressed_clusters));
    }
    return d;
}

static void dump_human_check(const BdrvCheckResult *r, bool quiet)
{
    if (!(r->corruptions || r->leaks || r->check_errors)) {
        qprintf(quiet, "No errors were found on the image.\n");
    } else {
        if (r->corruptions) {
            qprintf(quiet,
                    "\n%d errors were found on the image.\n"
                    "Data may be corrupted, or further writes to the image may corrupt it.\n",
                    r->corruptions);
        }
        if (r->leaks) {
            qprintf(quiet,
                    "\n%d leaked clusters were found on the image.\n"
                    "This means waste of disk space, but no harm to data.\n",
                    r->leaks);
        }
        if (r->check_errors) {
            qprintf(quiet, "\n%d internal errors have occurred during the check.\n",
                    r->check_errors);
        }
    }
    if (r->total_clusters && r->allocated_clusters) {
        qprintf(quiet,
                "%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% "
                "compressed clusters\n",
                r->allocated_clusters, r->total_clusters,
                r->allocated_clusters * 100.0 / r->total_clusters,
                r->fragmented_clusters * 100.0 / r->allocated_clusters,
                r->compressed_clusters * 100.0 / r->allocated_clusters);
    }
    if (r->image_end_offset) {
        qprintf(quiet, "Image end offset: %" PRId64 "\n", r->image_end_offset);
    }
}

int img_check(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"repair", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    int json = 0, fix = 0, c;
    bool quiet = false;
    int flags = BDRV_O_CHECK | BDRV_O_NO_BACKING;
    while ((c = getopt_long(argc, argv, ":hf:r:T:qU", long_options, NULL)) != -1) {
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
        case 'r':
            flags |= BDRV_O_RDWR;
            if (!strcmp(optarg, "leaks")) {
                fix = BDRV_FIX_LEAKS;
            } else if (!strcmp(optarg, "all")) {
                fix = BDRV_FIX_LEAKS | BDRV_FIX_ERRORS;
            } else {
                error_exit("Unknown option value for -r (expecting 'leaks' or 'all'): %s", optarg);
            }
            break;
        case 'o':
            json = parse_output_format(optarg);
            if (json < 0) {
                return 1;
            }
            break;
        case 'q':
            quiet = true;
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
    const char *filename = argv[optind];
    BlockDriverState *bs = img_open(filename, fmt, flags);
    if (!bs) {
        return 1;
    }
    BdrvCheckResult r;
    int ret = bdrv_check(bs, &r, fix);
    if (ret == -ENOTSUP) {
        error_report("This image format does not support checks");
        bdrv_close(bs);
        return 63;
    }
    if (ret == 0 && (r.corruptions_fixed || r.leaks_fixed)) {
        int cf = r.corruptions_fixed, lf = r.leaks_fixed;
        if (!json) {
            qprintf(quiet,
                    "The following inconsistencies were found and repaired:\n\n"
                    "    %d leaked clusters\n"
                    "    %d corruptions\n\n"
                    "Double checking the fixed image now...\n",
                    lf, cf);
        }
        ret = bdrv_check(bs, &r, 0);
        r.corruptions_fixed = cf;
        r.leaks_fixed = lf;
    }
    if (ret == 0) {
        if (json) {
            QJ *d = check_to_qj(&r, filename, bs->drv->format_name);
            char *out = qj_to_json(d, QJ_PRETTY | QJ_QEMU_ORDER);
            qprintf(quiet, "%s\n", out);
            g_free(out);
            qj_free(d);
        } else {
            dump_human_check(&r, quiet);
        }
    }
    bdrv_close(bs);
    if (ret || r.check_errors) {
        if (ret) {
            error_report("Check failed: %s", strerror(-ret));
        } else {
            error_report("Check failed");
        }
        return 1;
    }
    return r.corruptions ? 2 : r.leaks ? 3 : 0;
}

/* ---- main ---- */

typedef struct ImgCmd {
    const char *name;
    int (*fn)(int argc, char **argv);
} ImgCmd;

static const ImgCmd img_cmds[] = {
    {"create", img_create},   {"info", img_info},
    {"check", img_check},     {"convert", img_convert},
    {"resize", img_resize},   {"map", img_map},
    {"compare", img_compare}, {"snapshot", img_snapshot},
    {"commit", img_commit},   {"rebase", img_rebase},
    {"measure", img_measure}, {"amend", img_amend},
    {"bench", img_bench},     {"dd", img_dd},
    {"bitmap", img_bitmap},
};

static const struct {
    const char *name, *text;
} cmd_syntax[] = {
    {"amend", "amend [--object objectdef] [--image-opts] [-p] [-q] [-f fmt] [-t cache] [--force] "
              "-o options filename"},
    {"bench", "bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-i aio] "
              "[-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] [-s buffer_size] [-S "
              "step_size] [-t cache] [-w] [-U] filename"},
    {"bitmap", "bitmap (--merge SOURCE | --add | --remove | --clear | --enable | --disable)... [-b "
               "source_file [-F source_fmt]] [-g granularity] [--object objectdef] [--image-opts | "
               "-f fmt] filename bitmap"},
    {"check", "check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] [-r [leaks "
              "| all]] [-T src_cache] [-U] filename"},
    {"commit", "commit [--object objectdef] [--image-opts] [-q] [-f fmt] [-t cache] [-b base] [-r "
               "rate_limit] [-d] [-p] filename"},
    {"compare", "compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt] [-T src_cache] [-p] "
                "[-q] [-s] [-U] filename1 filename2"},
    {"convert",
     "convert [--object objectdef] [--image-opts] [--target-image-opts] [--target-is-zero] "
     "[--bitmaps] [-U] [-C] [-c] [-p] [-q] [-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt] "
     "[-B backing_file [-F backing_fmt]] [-o options] [-l snapshot_param] [-S sparse_size] [-r "
     "rate_limit] [-m num_coroutines] [-W] [--salvage] filename [filename2 [...]] output_filename"},
    {"create", "create [--object objectdef] [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] "
               "[-o options] filename [size]"},
    {"dd", "dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size] [count=blocks] "
           "[skip=blocks] if=input of=output"},
    {"info", "info [--object objectdef] [--image-opts] [-f fmt] [--output=ofmt] [--backing-chain] "
             "[-U] filename"},
    {"map", "map [--object objectdef] [--image-opts] [-f fmt] [--start-offset=offset] "
            "[--max-length=len] [--output=ofmt] [-U] filename"},
    {"measure", "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [--object "
                "objectdef] [--image-opts] [-f fmt] [-l snapshot_param] filename]"},
    {"snapshot", "snapshot [--object objectdef] [--image-opts] [-U] [-q] [-l | -a snapshot | -c "
                 "snapshot | -d snapshot] filename"},
    {"rebase", "rebase [--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t cache] [-T "
               "src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename"},
    {"resize", "resize [--object objectdef] [--image-opts] [-f fmt] [--preallocation=prealloc] "
               "[-q] [--shrink] filename [+ | -]size"},
};

static const ImgCmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        if (!strcmp(name, img_cmds[i].name)) {
            return &img_cmds[i];
        }
    }
    return NULL;
}

void help(void)
{
    printf("qemu-img version " TOOLS_VERSION "\n"
           "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n"
           "usage: qemu-img [standard options] command [command options]\n"
           "QEMU disk image utility\n"
           "\n"
           "    '-h', '--help'       display this help and exit\n"
           "    '-V', '--version'    output version information and exit\n"
           "    '-T', '--trace'      [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
           "                         specify tracing options\n"
           "\n"
           "Command syntax:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(cmd_syntax); i++) {
        if (find_cmd(cmd_syntax[i].name)) {
            printf("  %s\n", cmd_syntax[i].text);
        }
    }
    char *formats = bdrv_supported_formats();
    printf("\n"
           "Supported formats: %s\n"
           "\n"
           "See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
           "More information on the QEMU project at <https://qemu.org>.\n",
           formats);
    g_free(formats);
    exit(EXIT_SUCCESS);
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"trace", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    error_progname = "qemu-img";
    int c;
    while ((c = getopt_long(argc, argv, "+:hVT:", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
        case '?':
            bad_option(c, argv);
            break;
        case 'h':
            help();
            break;
        case 'V':
            printf("qemu-img version " TOOLS_VERSION "\n"
                   "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
            return 0;
        case 'T':
            break;
        }
    }
    if (optind >= argc) {
        error_exit("Not enough arguments");
    }
    const char *cmd = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        if (!strcmp(cmd, img_cmds[i].name)) {
            return img_cmds[i].fn(argc, argv);
        }
    }
    error_exit("Command not found: %s", cmd);
    return 1;
}
