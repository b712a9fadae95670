#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/error.h"

const char *error_progname = "qemu-system-x86_64";
const char *error_location;

static void vprint(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", error_progname);
    if (error_location) {
        fputs(error_location, stderr);
    }
    if (kind) {
        fputs(kind, stderr);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void error_vreport(const char *fmt, va_list ap)
{
    vprint(NULL, fmt, ap);
}

void error_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(NULL, fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint("warning: ", fmt, ap);
    va_end(ap);
}

void error_report_at(const char *loc, const char *msg)
{
    const char *saved = error_location;
    char *prefix = NULL;
    if (loc) {
        size_t n = strlen(loc) + 3;
        prefix = malloc(n);
        if (prefix) {
            snprintf(prefix, n, "%s: ", loc);
        }
    }
    error_location = prefix;
    error_report("%s", msg);
    error_location = saved;
    free(prefix);
}
