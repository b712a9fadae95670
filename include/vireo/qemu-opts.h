/*
 * Option-value parsing in QEMU's grammar: "key=value,key=value".
 *
 * Two dialects, as in QEMU 7.2:
 *  - QOPTS_LEGACY ("QemuOpts": -m, -name, -accel, and later -drive, -netdev, -chardev ...):
 *    the first element may omit "key=" when the option has an implied key, and its value
 *    may contain ",,"-escaped commas; a later bare "flag" means flag=on and "noflag"
 *    flag=off (with QEMU's deprecation warning); "help" / "?" sets the help flag.
 *  - QOPTS_KEYVAL (-machine, -smp, and later -blockdev, -audiodev ...): keys must be
 *    QAPI names (letter first, then letters, digits, '-', '_'), dotted for nesting; the
 *    implied first value ends at the first ',' (no escaping); every later element needs
 *    '='; "help" / "?" sets the help flag.
 * In both, ",," inside a "key=value" value stands for one ',' and a repeated key is kept
 * in order: lookups return the last one ("last wins").
 *
 * Errors are returned as a newly allocated message worded as QEMU words it (free it with
 * g_free); the caller prints it with the option's location ("-m 5X: ...").
 */
#ifndef VIREO_QEMU_OPTS_H
#define VIREO_QEMU_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { QOPTS_LEGACY, QOPTS_KEYVAL } QOptsSyntax;

typedef struct QOptsPair {
    char *key;
    char *value;
} QOptsPair;

/* One option group, e.g. everything given with -m (repeated -m options merge into one). */
typedef struct QOpts {
    char *group; /* option name without dashes, e.g. "m", "machine", "accel" */
    char *loc;   /* location of the last argument parsed into it: "-m 4G" */
    QOptsPair *pairs;
    size_t n_pairs;
    bool help; /* "help" or "?" was given as an element */
} QOpts;

/* An ordered list of groups (e.g. every -accel, in command-line order). */
typedef struct QOptsList {
    QOpts **groups;
    size_t n_groups;
} QOptsList;

QOpts *qopts_new(const char *group);
void qopts_free(QOpts *opts);

/*
 * Parse `arg` and append its pairs to `opts`. `loc` (e.g. "-m 4G") becomes opts->loc and
 * prefixes the short-form-boolean warnings. implied_key may be NULL. Returns false and
 * sets *errp on a syntax error; nothing is appended then.
 */
bool qopts_parse_into(QOpts *opts, const char *arg, const char *loc, const char *implied_key,
                      QOptsSyntax syntax, char **errp);
/* qopts_new + qopts_parse_into; NULL on error. */
QOpts *qopts_parse(const char *group, const char *arg, const char *loc, const char *implied_key,
                   QOptsSyntax syntax, char **errp);

/* Append a pair (used for sugar options such as -kernel, which set machine keys). */
void qopts_set(QOpts *opts, const char *key, const char *value);

/* Last value of key, or NULL. */
const char *qopts_get(const QOpts *opts, const char *key);
bool qopts_has(const QOpts *opts, const char *key);
/* Remove every pair with this key. */
void qopts_del(QOpts *opts, const char *key);

/*
 * Typed lookups: when the key is absent *out = def and they return true. On a bad value
 * they return false and set *errp to QEMU's message for that parameter.
 */
bool qopts_get_bool(const QOpts *opts, const char *key, bool def, bool *out, char **errp);
bool qopts_get_number(const QOpts *opts, const char *key, uint64_t def, uint64_t *out, char **errp);
bool qopts_get_size(const QOpts *opts, const char *key, uint64_t def, uint64_t *out, char **errp);

/*
 * First key (dotted keys: its first component) not in the NULL-terminated list, or NULL
 * when all are known.
 */
const char *qopts_unknown_key(const QOpts *opts, const char *const *known);

/* "on"/"yes"/"true" and "off"/"no"/"false", as QEMU's boolean options accept. */
bool qopts_parse_bool(const char *str, bool *out);
/* "help" or "?" */
bool qopts_is_help(const char *str);
/* QEMU's identifiers (ids of objects, devices, ...): a letter, then letters, digits, '-', '.', '_'.
 */
bool qopts_is_identifier(const char *s);

/*
 * QEMU's size syntax: a decimal number with an optional fraction ("1.5") or a hex number
 * ("0x100"), then an optional one-letter suffix b/B (bytes), k/K, m/M, g/G, t/T, p/P, e/E
 * (powers of 1024). Without a suffix the number is in default_suffix units ('B' or 'M').
 * A fraction needs a unit larger than a byte; hex numbers take no fraction, and a suffix
 * after a hex number draws QEMU's deprecation warning. Leading blanks and '+' are allowed,
 * trailing characters are not. Returns 0, -EINVAL (not a size) or -ERANGE (>= 2^64).
 */
int qopts_strtosz(const char *str, char default_suffix, uint64_t *out);
/* QEMU's message for a failed size: rc is qopts_strtosz's result. */
char *qopts_size_error(const char *key, const char *value, int rc);

/*
 * An unsigned number like QEMU's qemu_strtou64: leading blanks, optional sign ('-' wraps
 * modulo 2^64, as strtoull does), base 0 = C prefixes (0x hex, 0 octal). The whole string
 * must be consumed. Returns 0, -EINVAL or -ERANGE.
 */
int qopts_strtou64(const char *str, int base, uint64_t *out);

void qopts_list_append(QOptsList *list, QOpts *opts);
/* Last group with this name, or NULL. */
QOpts *qopts_list_find(const QOptsList *list, const char *group);
void qopts_list_clear(QOptsList *list);

#endif
