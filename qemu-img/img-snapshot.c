/*
 * qemu-img snapshot (-l, -c, -a, -d) on internal snapshots.
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

enum { SNAPSHOT_NONE, SNAPSHOT_LIST, SNAPSHOT_APPLY, SNAPSHOT_CREATE, SNAPSHOT_DELETE };

void dump_snapshots(BlockDriverState *bs)
{
    BlockSnapshotInfo *sn;
    int n = bdrv_snapshot_list(bs, &sn);
    if (n <= 0) {
        return;
    }
    GString *out = g_string_new("Snapshot list:\n");
    bdrv_snapshot_dump_header(out);
    g_string_append_c(out, '\n');
    for (int i = 0; i < n; i++) {
        bdrv_snapshot_dump(out, &sn[i]);
        g_string_append_c(out, '\n');
    }
    fputs(out->str, stdout);
    g_string_free(out, true);
    bdrv_snapshot_list_free(sn, n);
}

int img_snapshot(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPT_IMG_OBJECT},
        {"image-opts", no_argument, NULL, OPT_IMG_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *name = NULL;
    int action = SNAPSHOT_NONE;
    int flags = BDRV_O_RDWR;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, ":la:c:d:f:hqU", long_options, NULL)) != -1) {
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
        case 'l':
        case 'a':
        case 'c':
        case 'd':
            if (action) {
                error_exit("Cannot mix '-l', '-a', '-c', '-d'");
            }
            action = c == 'l'   ? SNAPSHOT_LIST
                     : c == 'a' ? SNAPSHOT_APPLY
                     : c == 'c' ? SNAPSHOT_CREATE
                                : SNAPSHOT_DELETE;
            if (c == 'l') {
                flags &= ~BDRV_O_RDWR;
            } else {
                name = optarg;
            }
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
    (void)quiet;
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    const char *filename = argv[optind];
    BlockDriverState *bs = img_open(filename, fmt, flags);
    if (!bs) {
        return 1;
    }
    int ret = 0;
    char *err = NULL;
    switch (action) {
    case SNAPSHOT_LIST:
        dump_snapshots(bs);
        break;
    case SNAPSHOT_CREATE: {
        BlockSnapshotInfo sn = {0};
        sn.name = (char *)name;
        int64_t rt = g_get_real_time();
        sn.date_sec = (uint32_t)(rt / G_USEC_PER_SEC);
        sn.date_nsec = (uint32_t)((rt % G_USEC_PER_SEC) * 1000);
        sn.icount = 0;
        ret = bdrv_snapshot_create(bs, &sn);
        if (ret) {
            error_report("Could not create snapshot '%s': %d (%s)", name, ret, strerror(-ret));
        }
        break;
    }
    case SNAPSHOT_APPLY:
        ret = bdrv_snapshot_goto(bs, name, &err);
        if (ret) {
            error_report("Could not apply snapshot '%s': %s", name, err);
            g_free(err);
        }
        break;
    case SNAPSHOT_DELETE: {
        char *id, *sname;
        if (bdrv_snapshot_find(bs, name, &id, &sname) < 0) {
            error_report("Could not delete snapshot '%s': snapshot not found", name);
            ret = 1;
            break;
        }
        ret = bdrv_snapshot_delete(bs, id, sname, &err);
        if (ret < 0) {
            error_report("Could not delete snapshot '%s': %s", name, err);
            g_free(err);
        }
        g_free(id);
        g_free(sname);
        break;
    }
    default:
        break;
    }
    if (ret == 0 && action != SNAPSHOT_LIST && action != SNAPSHOT_NONE && bdrv_flush(bs) < 0) {
        ret = 1;
    }
    bdrv_close(bs);
    return ret ? 1 : 0;
}
