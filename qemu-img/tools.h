/* Helpers shared by qemu-img and qemu-io. */
#ifndef QEMU_IMG_TOOLS_H
#define QEMU_IMG_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <glib.h>
#include "vireo/block.h"

#define TOOLS_VERSION "7.2.22"

/* qemu-io's cvtstr(): "64 KiB", "1.500 MiB", "512 bytes". */
void tool_cvtstr(double value, char *str, size_t size);
/* qemu-io's timestr() for a duration. */
void tool_timestr(const struct timespec *t, char *ts, size_t size, bool fixed);
struct timespec tool_tsub(struct timespec a, struct timespec b);
double tool_tdiv(double value, struct timespec t);

/*
 * Open an image as the tools do: "Could not open 'x': ..." is left to the caller. The tool is
 * the image's user (bdrv_add_user with the permissions of flags: its locks). A raw image found
 * by probing gets QEMU's warning when opened for writing (the raw driver prints it).
 */
BlockDriverState *tool_open(const char *filename, const char *fmt, int flags, char **errp);
/* The same with flat options (taken; bdrv_open_opts): --image-opts, "driver", -o... */
BlockDriverState *tool_open_opts(const char *filename, QJ *opts, int flags, char **errp);

/* "a=1,b=x,,y": (a, 1), (b, "x,y"); a first item without '=' is the value of `implied`,
 * a later one a flag set to "on". */
typedef struct KeyVal {
    char *key, *val;
} KeyVal;
GPtrArray *tool_kv_parse(const char *s, const char *implied);
const char *tool_kv_get(GPtrArray *a, const char *key); /* the last one, or NULL */
bool tool_in_list(const char *const *l, const char *s);
/* --object: QEMU's checks; prints the error and returns -1 when the object is refused. */
int tool_object_add(const char *spec);
void tool_objects_free(void);

#endif
