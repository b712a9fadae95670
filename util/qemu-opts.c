/*
 * Option-value parsing in QEMU's grammar; see include/vireo/qemu-opts.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/error.h"
#include "vireo/qemu-opts.h"

#define KEYVAL_MAX_NAME 127

QOpts *qopts_new(const char *group)
{
    QOpts *o = g_new0(QOpts, 1);
    o->group = g_strdup(group);
    return o;
}

void qopts_free(QOpts *opts)
{
    if (!opts) {
        return;
    }
    for (size_t i = 0; i < opts->n_pairs; i++) {
        g_free(opts->pairs[i].key);
        g_free(opts->pairs[i].value);
    }
    g_free(opts->pairs);
    g_free(opts->group);
    g_free(opts->loc);
    g_free(opts);
}

/* Takes ownership of key and value. */
static void pairs_push(QOptsPair **pairs, size_t *n, char *key, char *value)
{
    *pairs = g_renew(QOptsPair, *pairs, *n + 1);
    (*pairs)[*n].key = key;
    (*pairs)[*n].value = value;
    (*n)++;
}

static void pairs_free(QOptsPair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(pairs[i].key);
        g_free(pairs[i].value);
    }
    g_free(pairs);
}

void qopts_set(QOpts *opts, const char *key, const char *value)
{
    pairs_push(&opts->pairs, &opts->n_pairs, g_strdup(key), g_strdup(value));
}

bool qopts_is_help(const char *str)
{
    return str && (strcmp(str, "help") == 0 || strcmp(str, "?") == 0);
}

/*
 * Read a value that ends at a single ',' or at the end; ",," stands for ','.
 * Returns the position of the terminating ',' or NUL.
 */
static const char *read_escaped_value(const char *p, char **value)
{
    GString *s = g_string_new(NULL);
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++;
        }
        g_string_append_c(s, *p++);
    }
    *value = g_string_free(s, FALSE);
    return p;
}

static bool parse_legacy(const char *arg, const char *implied_key, QOptsPair **pairs, size_t *n,
                         bool *help)
{
    const char *p = arg;
    bool first = true;

    while (*p) {
        size_t len = strcspn(p, "=,");
        char *key, *value;

        if (p[len] != '=') {
            if (first && implied_key) {
                key = g_strdup(implied_key);
                p = read_escaped_value(p, &value);
            } else {
                /* A bare flag: "flag" means flag=on, "noflag" flag=off. */
                char *token = g_strndup(p, len);
                p += len;
                if (qopts_is_help(token)) {
                    *help = true;
                    g_free(token);
                    goto next;
                }
                bool off = strncmp(token, "no", 2) == 0;
                key = g_strdup(off ? token + 2 : token);
                value = g_strdup(off ? "off" : "on");
                warn_report("short-form boolean option '%s' deprecated\n"
                            "Please use %s=%s instead",
                            token, key, value);
                g_free(token);
            }
        } else {
            key = g_strndup(p, len);
            p = read_escaped_value(p + len + 1, &value);
        }
        pairs_push(pairs, n, key, value);
    next:
        if (*p == ',') {
            p++;
        }
        first = false;
    }
    return true;
}

/* Length of a keyval name fragment at s (letter, then letters/digits/'-'/'_'), or 0. */
static size_t keyval_name_len(const char *s, size_t max, bool allow_index)
{
    size_t i = 0;
    if (allow_index && max > 0 && isdigit((unsigned char)s[0])) {
        while (i < max && isdigit((unsigned char)s[i])) {
            i++;
        }
        return i;
    }
    if (max == 0 || !isalpha((unsigned char)s[0])) {
        return 0;
    }
    while (i < max && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_')) {
        i++;
    }
    return i;
}

static bool keyval_check_key(const char *key, size_t key_len, char **errp)
{
    size_t pos = 0;
    bool dotted = memchr(key, '.', key_len) != NULL;

    for (;;) {
        size_t len = keyval_name_len(key + pos, key_len - pos, pos > 0);
        if (len == 0 || (pos + len < key_len && key[pos + len] != '.')) {
            *errp = g_strdup_printf("Invalid parameter '%.*s'", (int)key_len, key);
            return false;
        }
        if (len > KEYVAL_MAX_NAME) {
            *errp = g_strdup_printf("Parameter%s '%.*s' is too long", dotted ? " fragment" : "",
                                    (int)len, key + pos);
            return false;
        }
        pos += len;
        if (pos == key_len) {
            return true;
        }
        pos++; /* the '.' */
        if (pos == key_len) {
            *errp = g_strdup_printf("Invalid parameter '%.*s'", (int)key_len, key);
            return false;
        }
    }
}

/* Is a a proper dotted prefix of b ("x" of "x.y")? */
static bool is_key_prefix(const char *a, const char *b)
{
    size_t la = strlen(a);
    return strncmp(a, b, la) == 0 && b[la] == '.';
}

static bool keyval_check_consistent(const QOptsPair *old, size_t n_old, const QOptsPair *new,
                                    size_t n_new, const char *key, char **errp)
{
    for (size_t i = 0; i < n_old + n_new; i++) {
        const char *other = i < n_old ? old[i].key : new[i - n_old].key;
        const char *shorter = NULL;
        if (is_key_prefix(other, key)) {
            shorter = other;
        } else if (is_key_prefix(key, other)) {
            shorter = key;
        }
        if (shorter) {
            *errp = g_strdup_printf("Parameters '%s.*' used inconsistently", shorter);
            return false;
        }
    }
    return true;
}

static bool parse_keyval(const char *arg, const char *implied_key, const QOptsPair *old,
                         size_t n_old, QOptsPair **pairs, size_t *n, bool *help, char **errp)
{
    const char *p = arg;
    bool first = true;

    while (*p) {
        size_t len = strcspn(p, "=,");
        char *key, *value;

        if (len > 0 && p[len] != '=') {
            if (len == strlen("help") && strncmp(p, "help", len) == 0) {
                *help = true;
                p += len;
                goto next;
            }
            if (len == 1 && *p == '?') {
                *help = true;
                p += len;
                goto next;
            }
            if (first && implied_key) {
                /* The implied value ends at the first ',': no escaping here. */
                key = g_strdup(implied_key);
                value = g_strndup(p, len);
                p += len;
                pairs_push(pairs, n, key, value);
                goto next;
            }
        }
        if (!keyval_check_key(p, len, errp)) {
            return false;
        }
        if (p[len] != '=') {
            *errp = g_strdup_printf("Expected '=' after parameter '%.*s'", (int)len, p);
            return false;
        }
        key = g_strndup(p, len);
        if (!keyval_check_consistent(old, n_old, *pairs, *n, key, errp)) {
            g_free(key);
            return false;
        }
        p = read_escaped_value(p + len + 1, &value);
        pairs_push(pairs, n, key, value);
    next:
        if (*p == ',') {
            p++;
        }
        first = false;
    }
    return true;
}

bool qopts_parse_into(QOpts *opts, const char *arg, const char *loc, const char *implied_key,
                      QOptsSyntax syntax, char **errp)
{
    QOptsPair *pairs = NULL;
    size_t n = 0;
    bool help = false, ok;
    const char *saved_loc = error_location;
    char *loc_prefix = loc ? g_strdup_printf("%s: ", loc) : NULL;

    *errp = NULL;
    error_location = loc_prefix;
    if (syntax == QOPTS_LEGACY) {
        ok = parse_legacy(arg, implied_key, &pairs, &n, &help);
    } else {
        ok = parse_keyval(arg, implied_key, opts->pairs, opts->n_pairs, &pairs, &n, &help, errp);
    }
    error_location = saved_loc;
    g_free(loc_prefix);

    if (!ok) {
        pairs_free(pairs, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        pairs_push(&opts->pairs, &opts->n_pairs, pairs[i].key, pairs[i].value);
    }
    g_free(pairs);
    opts->help |= help;
    g_free(opts->loc);
    opts->loc = g_strdup(loc);
    return true;
}

QOpts *qopts_parse(const char *group, const char *arg, const char *loc, const char *implied_key,
                   QOptsSyntax syntax, char **errp)
{
    QOpts *o = qopts_new(group);
    if (!qopts_parse_into(o, arg, loc, implied_key, syntax, errp)) {
        qopts_free(o);
        return NULL;
    }
    return o;
}

const char *qopts_get(const QOpts *opts, const char *key)
{
    for (size_t i = opts->n_pairs; i-- > 0;) {
        if (strcmp(opts->pairs[i].key, key) == 0) {
            return opts->pairs[i].value;
        }
    }
    return NULL;
}

bool qopts_has(const QOpts *opts, const char *key)
{
    return qopts_get(opts, key) != NULL;
}

void qopts_del(QOpts *opts, const char *key)
{
    size_t j = 0;
    for (size_t i = 0; i < opts->n_pairs; i++) {
        if (strcmp(opts->pairs[i].key, key) == 0) {
            g_free(opts->pairs[i].key);
            g_free(opts->pairs[i].value);
        } else {
            opts->pairs[j++] = opts->pairs[i];
        }
    }
    opts->n_pairs = j;
}

bool qopts_parse_bool(const char *str, bool *out)
{
    static const char *const on[] = {"on", "yes", "true"};
    static const char *const off[] = {"off", "no", "false"};
    for (size_t i = 0; i < G_N_ELEMENTS(on); i++) {
        if (strcmp(str, on[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(str, off[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool qopts_get_bool(const QOpts *opts, const char *key, bool def, bool *out, char **errp)
{
    const char *v = qopts_get(opts, key);
    *out = def;
    if (!v) {
        return true;
    }
    if (!qopts_parse_bool(v, out)) {
        *errp = g_strdup_printf("Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    return true;
}

int qopts_strtou64(const char *str, int base, uint64_t *out)
{
    const char *p = str;
    char *end;

    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '+' || *p == '-') {
        p++;
    }
    /* strtoull alone would accept "" or "-" as 0: insist on a digit. */
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    errno = 0;
    unsigned long long v = strtoull(str, &end, base);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (*end != '\0') {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

bool qopts_get_number(const QOpts *opts, const char *key, uint64_t def, uint64_t *out, char **errp)
{
    const char *v = qopts_get(opts, key);
    *out = def;
    if (!v) {
        return true;
    }
    if (qopts_strtou64(v, 0, out) < 0) {
        *errp = g_strdup_printf("Parameter '%s' expects a number", key);
        return false;
    }
    return true;
}

static uint64_t suffix_multiplier(char c)
{
    switch (c) {
    case 'b':
    case 'B':
        return 1;
    case 'k':
    case 'K':
        return 1ULL << 10;
    case 'm':
    case 'M':
        return 1ULL << 20;
    case 'g':
    case 'G':
        return 1ULL << 30;
    case 't':
    case 'T':
        return 1ULL << 40;
    case 'p':
    case 'P':
        return 1ULL << 50;
    case 'e':
    case 'E':
        return 1ULL << 60;
    }
    return 0;
}

int qopts_strtosz(const char *str, char default_suffix, uint64_t *out)
{
    const char *p = str;
    unsigned __int128 val = 0;
    uint64_t frac = 0, frac_div = 1;
    bool hex = false;

    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '+') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        hex = true;
        p += 2;
        if (!isxdigit((unsigned char)*p)) {
            return -EINVAL;
        }
        while (isxdigit((unsigned char)*p)) {
            val = val * 16 + (uint64_t)g_ascii_xdigit_value(*p++);
            if (val > UINT64_MAX) {
                return -ERANGE;
            }
        }
        if (*p == '.') {
            return -EINVAL;
        }
    } else {
        while (isdigit((unsigned char)*p)) {
            val = val * 10 + (uint64_t)(*p++ - '0');
            if (val > UINT64_MAX) {
                return -ERANGE;
            }
        }
        if (*p == '.') {
            p++;
            /* Keep 18 significant fraction digits: plenty for sizes. */
            while (isdigit((unsigned char)*p)) {
                if (frac_div < 1000000000000000000ULL) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    frac_div *= 10;
                }
                p++;
            }
            /* An exponent makes the whole thing invalid (but a lone 'e' is exabytes). */
            if ((*p == 'e' || *p == 'E') &&
                (isdigit((unsigned char)p[1]) ||
                 ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
                return -EINVAL;
            }
        }
    }

    uint64_t mul = suffix_multiplier(*p);
    if (mul) {
        if (hex) {
            warn_report("Using a multiplier suffix on hex numbers is deprecated: %s", str);
        }
        p++;
    } else {
        mul = suffix_multiplier(default_suffix);
    }
    if (*p != '\0') {
        return -EINVAL;
    }
    if (mul == 1 && frac != 0) {
        return -EINVAL; /* a fraction needs a unit larger than a byte */
    }

    unsigned __int128 total = val * mul;
    unsigned __int128 part = (unsigned __int128)frac * mul;
    unsigned __int128 q = part / frac_div, rem = part % frac_div;
    if (rem * 2 >= frac_div && rem != 0) {
        q++; /* round half up */
    }
    total += q;
    if (total > UINT64_MAX) {
        return -ERANGE;
    }
    *out = (uint64_t)total;
    return 0;
}

char *qopts_size_error(const char *key, const char *value, int rc)
{
    if (rc == -ERANGE) {
        return g_strdup_printf("Value '%s' is out of range for parameter '%s'", value, key);
    }
    return g_strdup_printf("Parameter '%s' expects a non-negative number below 2^64\n"
                           "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, "
                           "tera-, peta-\nand exabytes, respectively.",
                           key);
}

bool qopts_get_size(const QOpts *opts, const char *key, uint64_t def, uint64_t *out, char **errp)
{
    const char *v = qopts_get(opts, key);
    *out = def;
    if (!v) {
        return true;
    }
    int rc = qopts_strtosz(v, 'B', out);
    if (rc < 0) {
        *errp = qopts_size_error(key, v, rc);
        return false;
    }
    return true;
}

const char *qopts_unknown_key(const QOpts *opts, const char *const *known)
{
    for (size_t i = 0; i < opts->n_pairs; i++) {
        const char *key = opts->pairs[i].key;
        size_t len = strcspn(key, ".");
        bool found = false;
        for (const char *const *k = known; *k; k++) {
            if (strlen(*k) == len && strncmp(*k, key, len) == 0) {
                found = true;
                break;
            }
        }
        if (!found) {
            return key;
        }
    }
    return NULL;
}

void qopts_list_append(QOptsList *list, QOpts *opts)
{
    list->groups = g_renew(QOpts *, list->groups, list->n_groups + 1);
    list->groups[list->n_groups++] = opts;
}

QOpts *qopts_list_find(const QOptsList *list, const char *group)
{
    for (size_t i = list->n_groups; i-- > 0;) {
        if (strcmp(list->groups[i]->group, group) == 0) {
            return list->groups[i];
        }
    }
    return NULL;
}

void qopts_list_clear(QOptsList *list)
{
    for (size_t i = 0; i < list->n_groups; i++) {
        qopts_free(list->groups[i]);
    }
    g_free(list->groups);
    list->groups = NULL;
    list->n_groups = 0;
}

bool qopts_is_identifier(const char *s)
{
    if (!g_ascii_isalpha(*s)) {
        return false;
    }
    for (s++; *s; s++) {
        if (!g_ascii_isalnum(*s) && *s != '-' && *s != '.' && *s != '_') {
            return false;
        }
    }
    return true;
}
