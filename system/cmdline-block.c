/*
 * The block options of the command line at parse time, as QEMU 7.2 checks them then: -drive's
 * syntax and id (the rest waits for start-up: system/blockdev.c), -blockdev's syntax and whole
 * schema (QEMU visits BlockdevOptions while parsing), -hda..-hdd, -cdrom and positional images
 * as QEMU's drive_add().
 */
#include <string.h>
#include <glib.h>
#include "vireo/blockdev.h"
#include "vireo/error.h"
#include "vireo/qemu-opts.h"
#include "vireo/qjson.h"

static int add_drive(VireoConfig *cfg, const char *spec, const char *file, const char *loc)
{
    if (cfg->n_drives >= VIREO_MAX_DRIVES) {
        error_report_at(loc, "too many drives");
        return -1;
    }
    DriveConfig *d = &cfg->drives[cfg->n_drives++];
    d->spec = g_strdup(spec);
    d->file = g_strdup(file);
    d->loc = g_strdup(loc);
    return 0;
}

int cmdline_drive(VireoConfig *cfg, const char *arg, const char *loc)
{
    char *err = NULL;
    QOpts *o = qopts_parse("drive", arg, loc, NULL, QOPTS_LEGACY, &err);
    if (!o) {
        error_report_at(loc, err);
        g_free(err);
        return -1;
    }
    const char *id = qopts_get(o, "id");
    int r = 0;
    if (id && !qopts_is_identifier(id)) {
        error_report_at(loc,
                        "Parameter 'id' expects an identifier\nIdentifiers consist of letters, "
                        "digits, '-', '.', '_', starting with a letter.");
        r = -1;
    }
    qopts_free(o);
    return r ? r : add_drive(cfg, arg, NULL, loc);
}

int cmdline_drive_sugar(VireoConfig *cfg, int index, bool cdrom, const char *file, const char *loc)
{
    char *spec = g_strdup_printf("index=%d,media=%s", index, cdrom ? "cdrom" : "disk");
    int r = add_drive(cfg, spec, file, loc);
    g_free(spec);
    return r;
}

QJ *blockdev_parse(const char *arg, bool *keyval, char **errp)
{
    if (arg[0] == '{') {
        *keyval = false;
        char *err = NULL;
        QJ *v = qj_parse(arg, &err);
        if (!v) {
            *errp = err;
            return NULL;
        }
        if (v->type != QJ_OBJECT) {
            qj_free(v);
            *errp = g_strdup("Invalid parameter type, expected: object");
            return NULL;
        }
        return v;
    }
    *keyval = true;
    QOpts *o = qopts_parse("blockdev", arg, NULL, "driver", QOPTS_KEYVAL, errp);
    if (!o) {
        return NULL;
    }
    QJ *v = bdrv_keyval_to_options(o, errp);
    qopts_free(o);
    return v;
}

int cmdline_blockdev(VireoConfig *cfg, const char *arg, const char *loc)
{
    char *err = NULL;
    bool keyval;
    QJ *v = blockdev_parse(arg, &keyval, &err);
    if (v && !bdrv_check_blockdev(v, keyval, &err)) {
        qj_free(v);
        v = NULL;
    }
    if (!v) {
        error_report_at(loc, err);
        g_free(err);
        return -1;
    }
    qj_free(v);
    if (cfg->n_blockdevs >= VIREO_MAX_DRIVES) {
        error_report_at(loc, "too many -blockdev options");
        return -1;
    }
    cfg->blockdevs[cfg->n_blockdevs] = g_strdup(arg);
    cfg->blockdev_locs[cfg->n_blockdevs++] = g_strdup(loc);
    return 0;
}

void cmdline_block_free(VireoConfig *cfg)
{
    for (int i = 0; i < cfg->n_drives; i++) {
        g_free(cfg->drives[i].spec);
        g_free(cfg->drives[i].file);
        g_free(cfg->drives[i].loc);
    }
    for (int i = 0; i < cfg->n_blockdevs; i++) {
        g_free(cfg->blockdevs[i]);
        g_free(cfg->blockdev_locs[i]);
    }
}
