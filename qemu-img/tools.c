/* Helpers shared by qemu-img and qemu-io. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/error.h"
#include "vireo/qjson.h"
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
        snprintf(str, size - 6, "%f", value); /* QEMU's cvtstr: six decimals below 1 KiB */
        char *trim = strstr(str, ".000");
        if (trim) {
            strcpy(trim, suffix);
        } else {
            strcat(str, suffix);
        }
        return;
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

BlockDriverState *tool_open(const char *filename, const char *fmt, int flags, char **errp)
{
    QJ *opts = qj_object();
    if (fmt) {
        qj_set_str(opts, "driver", fmt);
    }
    return tool_open_opts(filename, opts, flags, errp);
}

BlockDriverState *tool_open_opts(const char *filename, QJ *opts, int flags, char **errp)
{
    if ((flags & BDRV_O_FORCE_SHARE) && (flags & BDRV_O_RDWR)) {
        qj_free(opts);
        block_error(errp, "force-share=on can only be used with read-only images");
        return NULL;
    }
    /* (the raw driver warns about a probed raw image opened for writing, as QEMU's does) */
    BlockDriverState *bs = bdrv_open_opts(filename, opts, flags, errp);
    if (bs) {
        /* the tool is the image's user, as QEMU's BlockBackend: its permissions, its locks */
        uint64_t perm, shared;
        bdrv_flags_to_perm(flags, &perm, &shared);
        if (!bdrv_add_user(bs, "block device ''", perm, shared, errp)) {
            bdrv_close(bs);
            return NULL;
        }
    }
    return bs;
}

/* ---- "key=value,..." option strings (--image-opts, --object) ---- */

bool tool_in_list(const char *const *l, const char *s)
{
    for (; *l; l++) {
        if (!strcmp(*l, s)) {
            return true;
        }
    }
    return false;
}

static void kv_free(gpointer p)
{
    KeyVal *kv = p;
    g_free(kv->key);
    g_free(kv->val);
    g_free(kv);
}

/* "a=1,b=x,,y" -> (a, 1), (b, "x,y"); a first item without '=' is the value of `implied`. */
GPtrArray *tool_kv_parse(const char *s, const char *implied)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(kv_free);
    const char *p = s;
    bool first = true;
    while (*p) {
        GString *item = g_string_new(NULL);
        for (; *p; p++) {
            if (*p == ',') {
                if (p[1] != ',') {
                    break;
                }
                p++;
            }
            g_string_append_c(item, *p);
        }
        if (*p == ',') {
            p++;
        }
        KeyVal *kv = g_new0(KeyVal, 1);
        char *eq = strchr(item->str, '=');
        if (eq) {
            kv->key = g_strndup(item->str, (gsize)(eq - item->str));
            kv->val = g_strdup(eq + 1);
        } else if (first && implied) {
            kv->key = g_strdup(implied);
            kv->val = g_strdup(item->str);
        } else {
            kv->key = g_strdup(item->str);
            kv->val = g_strdup("on"); /* a bare flag */
        }
        g_string_free(item, true);
        g_ptr_array_add(a, kv);
        first = false;
    }
    return a;
}

const char *tool_kv_get(GPtrArray *a, const char *key)
{
    const char *v = NULL;
    for (guint i = 0; i < a->len; i++) {
        KeyVal *kv = g_ptr_array_index(a, i);
        if (!strcmp(kv->key, key)) {
            v = kv->val; /* the last one counts */
        }
    }
    return v;
}

/* ---- --object ---- */

static const char *const object_types[] = {"authz-list",        "authz-list-file",
                                           "authz-simple",      "main-loop",
                                           "pr-manager-helper", "secret",
                                           "secret_keyring",    "thread-context",
                                           "throttle-group",    "tls-cipher-suites",
                                           "tls-creds-anon",    "tls-creds-psk",
                                           "tls-creds-x509",    NULL};

static GHashTable *object_ids;

static bool base64_ok(const char *s)
{
    for (; *s; s++) {
        if (!g_ascii_isalnum(*s) && *s != '+' && *s != '/' && *s != '=' && *s != '\n' &&
            *s != '\r') {
            return false;
        }
    }
    return true;
}

/* A secret's properties, as QEMU checks them when the object is created. */
static int secret_check(GPtrArray *kv)
{
    const char *data = NULL, *file = NULL, *format = "raw";
    for (guint i = 0; i < kv->len; i++) {
        KeyVal *e = g_ptr_array_index(kv, i);
        if (!strcmp(e->key, "qom-type") || !strcmp(e->key, "id")) {
            continue;
        }
        if (!strcmp(e->key, "data")) {
            data = e->val;
        } else if (!strcmp(e->key, "file")) {
            file = e->val;
        } else if (!strcmp(e->key, "format")) {
            if (strcmp(e->val, "raw") && strcmp(e->val, "base64")) {
                error_report("Parameter 'format' does not accept value '%s'", e->val);
                return -1;
            }
            format = e->val;
        } else if (strcmp(e->key, "keyid") && strcmp(e->key, "iv")) {
            error_report("Parameter '%s' is unexpected", e->key);
            return -1;
        }
    }
    if (data && file) {
        error_report("'data' and 'file' are mutually exclusive");
        return -1;
    }
    if (!data && !file) {
        error_report("Either 'file' or 'data' must be provided");
        return -1;
    }
    char *content = NULL;
    if (file) {
        GError *gerr = NULL;
        if (!g_file_get_contents(file, &content, NULL, &gerr)) {
            error_report("Unable to read %s: %s", file, gerr->message);
            g_error_free(gerr);
            return -1;
        }
        data = content;
    }
    int ret = 0;
    if (!strcmp(format, "base64") && !base64_ok(data)) {
        error_report("Base64 data contains invalid characters");
        ret = -1;
    }
    g_free(content);
    return ret;
}

int tool_object_add(const char *spec)
{
    GPtrArray *kv = tool_kv_parse(spec, "qom-type");
    const char *type = tool_kv_get(kv, "qom-type"), *id = tool_kv_get(kv, "id");
    int ret = -1;
    if (type && !strcmp(type, "help") && kv->len == 1) {
        printf("List of user creatable objects:\n");
        for (const char *const *t = object_types; *t; t++) {
            printf("  %s\n", *t);
        }
        g_ptr_array_unref(kv);
        exit(0);
    }
    if (!type) {
        error_report("Parameter 'qom-type' is missing");
    } else if (!tool_in_list(object_types, type)) {
        error_report("Parameter 'qom-type' does not accept value '%s'", type);
    } else if (!id) {
        error_report("Parameter 'id' is missing");
    } else if (!qopts_is_identifier(id)) {
        error_report("Parameter 'id' expects an identifier");
        fprintf(stderr, "Identifiers consist of letters, digits, '-', '.', '_', starting with a "
                        "letter.\n");
    } else if (!strcmp(type, "secret") && secret_check(kv) < 0) {
        /* reported */
    } else if (object_ids && g_hash_table_contains(object_ids, id)) {
        error_report("attempt to add duplicate property '%s' to object (type 'container')", id);
    } else {
        if (!object_ids) {
            object_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        }
        g_hash_table_add(object_ids, g_strdup(id));
        ret = 0;
    }
    g_ptr_array_unref(kv);
    return ret;
}

void tool_objects_free(void)
{
    if (object_ids) {
        g_hash_table_destroy(object_ids);
        object_ids = NULL;
    }
}
