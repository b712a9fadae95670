/* Helpers shared by qemu-img and qemu-io. */
#ifndef QEMU_IMG_TOOLS_H
#define QEMU_IMG_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "vireo/block.h"

#define TOOLS_VERSION "7.2.22"

/* qemu-io's cvtstr(): "64 KiB", "1.500 MiB", "512 bytes". */
void tool_cvtstr(double value, char *str, size_t size);
/* qemu-io's timestr() for a duration. */
void tool_timestr(const struct timespec *t, char *ts, size_t size, bool fixed);
struct timespec tool_tsub(struct timespec a, struct timespec b);
double tool_tdiv(double value, struct timespec t);

/*
 * Open an image as the tools do: "Could not open 'x': ..." is left to the caller. A raw
 * image found by probing gets QEMU's warning when opened for writing (warn_probed_raw).
 */
BlockDriverState *tool_open(const char *filename, const char *fmt, int flags, bool warn_probed_raw,
                            char **errp);
/* The same with options for the format driver (e.g. qcow2's overlap-check), or NULL. */
BlockDriverState *tool_open_opts(const char *filename, const char *fmt, QOpts *opts, int flags,
                                 bool warn_probed_raw, char **errp);

#endif
