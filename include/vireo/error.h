/* Error reporting in QEMU's style: "qemu-system-x86_64: message". */
#ifndef VIREO_ERROR_H
#define VIREO_ERROR_H

#include <stdarg.h>

/* Program name printed before every message; set once from argv[0]'s default. */
extern const char *error_progname;
/* Optional location prefix (e.g. "-m 5X: "); NULL for none. */
extern const char *error_location;

void error_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void error_vreport(const char *fmt, va_list ap);
/* error_report("%s", msg) with the location "LOC: " in front (no prefix for NULL). */
void error_report_at(const char *loc, const char *msg);

#endif
