/* qemu-img internals shared between qemu-img.c and the img-*.c command files. */
#ifndef QEMU_IMG_CMDS_H
#define QEMU_IMG_CMDS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "vireo/block.h"

void qprintf(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_exit(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void missing_argument(const char *option) __attribute__((noreturn));
void unrecognized_option(const char *option) __attribute__((noreturn));
void bad_option(int c, char **argv) __attribute__((noreturn));
void help(void) __attribute__((noreturn));
int64_t cvtnum(const char *name, const char *value);
int64_t cvtnum_full(const char *name, const char *value, int64_t min, int64_t max);
int parse_output_format(const char *s);
/*
 * Open for a command; prints "Could not open 'x': ..." on failure. With --image-opts given
 * (img_image_opts), `filename` is an option string ("driver=qcow2,file.filename=x.qcow2").
 */
extern bool img_image_opts;
/* -U / --force-share: the images a command reads are opened with force-share=on. */
extern bool img_force_share;
BlockDriverState *img_open(const char *filename, const char *fmt, int flags);
/* The same, never taking --image-opts (targets). */
BlockDriverState *img_open_plain(const char *filename, const char *fmt, int flags);
/* --object: QEMU's checks; prints the error and returns -1 when the object is refused. */
int img_object_add(const char *spec);
/* Long-option values of --object and --image-opts, the same in every command. */
enum { OPT_IMG_OBJECT = 0x1000, OPT_IMG_IMAGE_OPTS };
/* Handle either of them: 0, or -1 when the command must fail (already reported). */
int img_shared_option(int c, const char *arg);
/* Is "help" or "?" one of the elements of a -o string? */
bool img_has_help_option(const char *options);
/* -o help as QEMU prints it: a format's creation options (with the file protocol's when a
 * file name is given), or its amend options. Returns the exit code. */
int img_print_create_help(const char *fmt, const char *filename);
int img_print_amend_help(const char *fmt);

int img_create(int argc, char **argv);
int img_info(int argc, char **argv);
int img_check(int argc, char **argv);
int img_convert(int argc, char **argv);
int img_resize(int argc, char **argv);
int img_map(int argc, char **argv);
int img_compare(int argc, char **argv);
int img_snapshot(int argc, char **argv);
int img_commit(int argc, char **argv);
int img_rebase(int argc, char **argv);
int img_measure(int argc, char **argv);
int img_amend(int argc, char **argv);
int img_bench(int argc, char **argv);
int img_dd(int argc, char **argv);
int img_bitmap(int argc, char **argv);
/* "    (x.xx/100%)\r" progress lines as QEMU prints them (-p). */
void img_progress(bool on, double pct);
void img_progress_end(bool on);
/*
 * QEMU's progress meter (convert, commit, rebase): a float percentage that is printed when it
 * moved past the last printed value by more than min_skip, or is 0 or 100; step() takes an
 * absolute value (max == 0) or a delta counted as a fraction of max; end() prints the newline.
 */
typedef struct ImgProgress {
    bool on;
    float current, last_print, min_skip;
} ImgProgress;
void img_progress_init(ImgProgress *p, bool on, float min_skip);
void img_progress_step(ImgProgress *p, float delta, int max);
void img_progress_done(ImgProgress *p);
void dump_snapshots(BlockDriverState *bs);

#endif
