/* Helpers shared by qemu-img and qemu-io. */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "tools.h"

void tool_cvtstr(double value, char *str, size_t size)
{
    const char *suffix;
    if (value >= (double)(1ULL << 60)) {
        suffix = " EiB";
        value /= (double)(1ULL << 60);
    } else if (value >= (double)(1ULL << 50)) {
        suffix = " PiB";
        value /= (double)(1ULL << 50);
    } else if (value >= (double)(1ULL << 40)) {
        suffix = " TiB";
        value /= (double)(1ULL << 40);
    } else if (value >= (double)(1ULL << 30)) {
        suffix = " GiB";
        value /= (double)(1ULL << 30);
    } else if (value >= (double)(1ULL << 20)) {
        suffix = " MiB";
        value /= (double)(1ULL << 20);
    } else if (value >= (double)(1ULL << 10)) {
        suffix = " KiB";
        value /= (double)(1ULL << 10);
    } else {
        suffix = " bytes";
    }
    snprintf(str, size - 6, "%.3f", value);
    char *trim = strstr(str, ".000");
    if (trim) {
        strcpy(trim, suffix);
    } else {
        strcat(str, suffix);
    }
}

void tool_timestr(const struct timespec *t, char *ts, size_t size, bool fixed)
{
    double frac = t->tv_nsec / 1e9;
    unsigned secs = (unsigned)t->tv_sec;
    if (fixed || t->tv_sec) {
        snprintf(ts, size, "%u:%02u:%05.2f", secs / 3600, (secs / 60) % 60, (secs % 60) + frac);
    } else {
        snprintf(ts, size, "%05.2f sec", frac);
    }
}

struct timespec tool_tsub(struct timespec a, struct timespec b)
{
    struct timespec r = {a.tv_sec - b.tv_sec, a.tv_nsec - b.tv_nsec};
    if (r.tv_nsec < 0) {
        r.tv_sec--;
        r.tv_nsec += 1000000000L;
    }
    return r;
}

double tool_tdiv(double value, struct timespec t)
{
    double s = (double)t.tv_sec + t.tv_nsec / 1e9;
    if (s <= 0) {
        s = 1e-9;
    }
    return value / s;
}

BlockDriverState *tool_open(const char *filename, const char *fmt, int flags, bool warn_probed_raw,
                            char **errp)
{
    return tool_open_opts(filename, fmt, NULL, flags, warn_probed_raw, errp);
}

BlockDriverState *tool_open_opts(const char *filename, const char *fmt, QOpts *opts, int flags,
                                 bool warn_probed_raw, char **errp)
{
    if ((flags & BDRV_O_FORCE_SHARE) && (flags & BDRV_O_RDWR)) {
        block_error(errp, "force-share=on can only be used with read-only images");
        return NULL;
    }
    BlockDriverState *bs = bdrv_open(filename, fmt, opts, flags, errp);
    if (bs) {
        /* the tool is the image's user, as QEMU's BlockBackend: its permissions, its locks */
        uint64_t perm, shared;
        bdrv_flags_to_perm(flags, &perm, &shared);
        if (!bdrv_add_user(bs, "block device ''", perm, shared, errp)) {
            bdrv_close(bs);
            return NULL;
        }
    }
    if (bs && !fmt && bs->drv == &bdrv_raw && (flags & BDRV_O_RDWR) && warn_probed_raw) {
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                "         Automatically detecting the format is dangerous for raw images, "
                "write operations on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the restrictions.\n",
                filename);
    }
    if (bs && !fmt && bs->drv == &bdrv_raw) {
        bs->probed = true;
    }
    return bs;
}
