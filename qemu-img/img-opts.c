/*
 * qemu-img's --image-opts (an image given as an option string, "driver=qcow2,file.filename=x")
 * and --object (user-creatable objects: secrets are checked as QEMU 7.2 does; the other types
 * qemu-img knows are accepted, none of them is used by Vireo's formats).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/block-qcow2.h"
#include "vireo/error.h"
#include "qemu-img-cmds.h"
#include "tools.h"

bool img_image_opts;
bool img_force_share;

typedef struct KeyVal {
    char *key, *val;
} KeyVal;

static void kv_free(gpointer p)
{
    KeyVal *kv = p;
    g_free(kv->key);
    g_free(kv->val);
    g_free(kv);
}

/* "a=1,b=x,,y" -> (a, 1), (b, "x,y"); a first item without '=' is the value of `implied`. */
static GPtrArray *kv_parse(const char *s, const char *implied)
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

static const char *kv_get(GPtrArray *a, const char *key)
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

static int parse_bool(const char *name, const char *v, bool *out, char **errp)
{
    if (!qopts_parse_bool(v, out)) {
        block_error(errp, "Parameter '%s' expects 'on' or 'off'", name);
        return -EINVAL;
    }
    return 0;
}

static int check_size(const char *name, const char *v, char **errp)
{
    uint64_t n;
    if (qopts_strtosz(v, 'B', &n) < 0) {
        block_error(errp,
                    "Parameter '%s' expects a non-negative number below 2^64\nOptional suffix "
                    "k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, "
                    "respectively.",
                    name);
        return -EINVAL;
    }
    return 0;
}

/* Options of the format layer that Vireo takes (and mostly has no use for). */
static const char *const fmt_bool_opts[] = {
    "read-only", "auto-read-only", "force-share", "cache.direct", "cache.no-flush",
    /* qcow2 */
    "lazy-refcounts", "pass-discard-request", "pass-discard-snapshot", "pass-discard-other", NULL};
static const char *const qcow2_size_opts[] = {"cache-size", "l2-cache-size", "l2-cache-entry-size",
                                              "refcount-cache-size", NULL};

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++) {
        if (!strcmp(*l, s)) {
            return true;
        }
    }
    return false;
}

/*
 * Check the option string and turn it into a file name, a format (NULL: probe) and open
 * flags, as far as Vireo's block layer takes them.
 */
static int image_opts_resolve(GPtrArray *kv, char **filename, const char **fmt, int *flags,
                              QOpts *drv_opts, char **errp)
{
    const char *driver = kv_get(kv, "driver");
    const char *file_ref = kv_get(kv, "file");
    const BlockDriver *drv = NULL;
    if (file_ref) {
        block_error(errp, "Cannot find device='%s' nor node-name='%s'", file_ref, file_ref);
        return -ENOENT;
    }
    if (driver) {
        drv = bdrv_find_format(driver);
        if (!drv) {
            block_error(errp, "Unknown driver '%s'", driver);
            return -EINVAL;
        }
    }
    bool is_protocol = drv && drv->is_protocol;
    const char *fname = NULL;
    bool has_file = false;
    for (guint i = 0; i < kv->len; i++) {
        KeyVal *e = g_ptr_array_index(kv, i);
        const char *k = e->key;
        bool file_level = is_protocol || !strncmp(k, "file.", 5);
        if (!is_protocol && !strncmp(k, "file.", 5)) {
            k += 5;
            has_file = true;
        }
        bool b;
        if (!strcmp(e->key, "driver")) {
            continue;
        }
        if (file_level) {
            if (!strcmp(k, "filename")) {
                fname = e->val;
            } else if (!strcmp(k, "driver")) {
                if (strcmp(e->val, "file")) {
                    block_error(errp, "Unknown driver '%s'", e->val);
                    return -EINVAL;
                }
            } else if (!strcmp(k, "aio")) {
                if (!strcmp(e->val, "native")) {
                    *flags |= BDRV_O_NATIVE_AIO;
                } else if (!strcmp(e->val, "threads") || !strcmp(e->val, "io_uring")) {
                    *flags &= ~BDRV_O_NATIVE_AIO;
                } else {
                    block_error(errp, "Parameter 'aio' does not accept value '%s'", e->val);
                    return -EINVAL;
                }
            } else if (!strcmp(k, "locking")) {
                if (strcmp(e->val, "on") && strcmp(e->val, "off") && strcmp(e->val, "auto")) {
                    block_error(errp, "Parameter 'locking' does not accept value '%s'", e->val);
                    return -EINVAL;
                }
            } else if (in_list(fmt_bool_opts, k) && strncmp(k, "lazy", 4) &&
                       strncmp(k, "pass-", 5)) {
                if (parse_bool(e->key, e->val, &b, errp) < 0) {
                    return -EINVAL;
                }
                if (!strcmp(k, "cache.direct")) {
                    *flags = b ? *flags | BDRV_O_NOCACHE : *flags & ~BDRV_O_NOCACHE;
                } else if (!strcmp(k, "cache.no-flush")) {
                    *flags = b ? *flags | BDRV_O_NO_FLUSH : *flags & ~BDRV_O_NO_FLUSH;
                }
            } else {
                block_error(errp, "Block protocol 'file' doesn't support the option '%s'", k);
                return -EINVAL;
            }
            continue;
        }
        bool is_qcow2 = !drv || !strcmp(drv->format_name, "qcow2");
        if (in_list(fmt_bool_opts, k) &&
            (is_qcow2 || (strncmp(k, "lazy", 4) && strncmp(k, "pass-", 5)))) {
            if (parse_bool(k, e->val, &b, errp) < 0) {
                return -EINVAL;
            }
            if (!strcmp(k, "cache.direct")) {
                *flags = b ? *flags | BDRV_O_NOCACHE : *flags & ~BDRV_O_NOCACHE;
            } else if (!strcmp(k, "cache.no-flush")) {
                *flags = b ? *flags | BDRV_O_NO_FLUSH : *flags & ~BDRV_O_NO_FLUSH;
            } else if (!strcmp(k, "read-only") && b && (*flags & BDRV_O_RDWR)) {
                block_error(errp, "Block node is read-only");
                return -EACCES;
            }
        } else if (!strcmp(k, "discard")) {
            if (bdrv_parse_discard_flags(e->val, flags) < 0) {
                block_error(errp, "Invalid discard option");
                return -EINVAL;
            }
        } else if (!strcmp(k, "detect-zeroes")) {
            if (strcmp(e->val, "off") && strcmp(e->val, "on") && strcmp(e->val, "unmap")) {
                block_error(errp, "Parameter 'detect-zeroes' does not accept value '%s'", e->val);
                return -EINVAL;
            }
        } else if (!strcmp(k, "node-name")) {
            /* accepted; messages keep Vireo's own node names */
        } else if (is_qcow2 && in_list(qcow2_size_opts, k)) {
            if (check_size(k, e->val, errp) < 0) {
                return -EINVAL;
            }
        } else if (is_qcow2 && qcow2_overlap_is_option(k)) {
            qopts_set(drv_opts, k, e->val); /* read (and checked) by the qcow2 driver */
        } else if (is_qcow2 && !strcmp(k, "cache-clean-interval")) {
            /* accepted: Vireo keeps no timed cache cleaning */
        } else if (!drv) {
            block_error(errp, "Must specify either driver or file");
            return -EINVAL;
        } else {
            block_error(errp, "Block format '%s' does not support the option '%s'",
                        drv->format_name, k);
            return -EINVAL;
        }
    }
    if (is_protocol) {
        if (!fname) {
            block_error(errp, "Parameter 'filename' is required");
            return -EINVAL;
        }
    } else if (!has_file) {
        block_error(errp, drv ? "A block device must be specified for \"file\""
                              : "Must specify either driver or file");
        return -EINVAL;
    } else if (!fname) {
        block_error(errp, "Parameter 'filename' is required");
        return -EINVAL;
    }
    *filename = g_strdup(fname);
    *fmt = drv ? drv->format_name : NULL;
    return 0;
}

BlockDriverState *img_open_plain(const char *filename, const char *fmt, int flags)
{
    char *err = NULL;
    if (img_force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    if (fmt && !bdrv_find_format(fmt)) {
        error_report("Unknown driver '%s'", fmt);
        return NULL;
    }
    BlockDriverState *bs = tool_open(filename, fmt, flags, true, &err);
    if (!bs) {
        error_report("Could not open '%s': %s", filename, err);
        g_free(err);
    }
    return bs;
}

BlockDriverState *img_open(const char *filename, const char *fmt, int flags)
{
    if (!img_image_opts) {
        return img_open_plain(filename, fmt, flags);
    }
    if (fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return NULL;
    }
    GPtrArray *kv = kv_parse(filename, "file");
    char *fname = NULL, *err = NULL;
    if (img_force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    const char *f = NULL;
    BlockDriverState *bs = NULL;
    QOpts *drv_opts = qopts_new("driver");
    if (image_opts_resolve(kv, &fname, &f, &flags, drv_opts, &err) == 0) {
        bs = tool_open_opts(fname, f, drv_opts, flags, true, &err);
    }
    qopts_free(drv_opts);
    if (!bs) {
        error_report("Could not open '%s': %s", filename, err);
    }
    g_free(err);
    g_free(fname);
    g_ptr_array_unref(kv);
    return bs;
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

int img_object_add(const char *spec)
{
    GPtrArray *kv = kv_parse(spec, "qom-type");
    const char *type = kv_get(kv, "qom-type"), *id = kv_get(kv, "id");
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
    } else if (!in_list(object_types, type)) {
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

void img_objects_free(void)
{
    if (object_ids) {
        g_hash_table_destroy(object_ids);
        object_ids = NULL;
    }
}

int img_shared_option(int c, const char *arg)
{
    if (c == OPT_IMG_IMAGE_OPTS) {
        img_image_opts = true;
        return 0;
    }
    return img_object_add(arg);
}

/* ---- -o help ---- */

typedef struct HelpOpt {
    const char *name, *type, *help;
} HelpOpt;

/* QEMU 7.2's option lists as its help prints them (encryption options included: Vireo refuses
 * encrypted images when they are used). */
static const HelpOpt qcow2_create_help[] = {
    {"backing_file", "str", "File name of a base image"},
    {"backing_fmt", "str", "Image format of the base image"},
    {"cluster_size", "size", "qcow2 cluster size"},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"compression_type", "str", "Compression method used for image cluster compression"},
    {"data_file", "str", "File name of an external data file"},
    {"data_file_raw", "bool (on/off)", "The external data file must stay valid as a raw image"},
    {"encrypt.cipher-alg", "str", "Name of encryption cipher algorithm"},
    {"encrypt.cipher-mode", "str", "Name of encryption cipher mode"},
    {"encrypt.format", "str", "Encrypt the image, format choices: 'aes', 'luks'"},
    {"encrypt.hash-alg", "str", "Name of encryption hash algorithm"},
    {"encrypt.iter-time", "num", "Time to spend in PBKDF in milliseconds"},
    {"encrypt.ivgen-alg", "str", "Name of IV generator algorithm"},
    {"encrypt.ivgen-hash-alg", "str", "Name of IV generator hash algorithm"},
    {"encrypt.key-secret", "str", "ID of secret providing qcow AES key or LUKS passphrase"},
    {"encryption", "bool (on/off)",
     "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)"},
    {"extended_l2", "bool (on/off)", "Extended L2 tables"},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)"},
    {"refcount_bits", "num", "Width of a reference count entry in bits"},
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};
static const HelpOpt raw_create_help[] = {
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};
static const HelpOpt file_create_help[] = {
    {"size", "size", "Virtual disk size"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, falloc, full)"},
    {"nocow", "bool (on/off)", "Turn off copy-on-write (valid only on btrfs)"},
    {"extent_size_hint", "size", "Extent size hint for the image file, 0 to disable"},
    {NULL, NULL, NULL},
};
static const HelpOpt qcow2_amend_help[] = {
    {"backing_file", "str", "File name of a base image"},
    {"backing_fmt", "str", "Image format of the base image"},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"data_file", "str", "File name of an external data file"},
    {"data_file_raw", "bool (on/off)", "The external data file must stay valid as a raw image"},
    {"encrypt.iter-time", "num", "Time to spend in PBKDF in milliseconds"},
    {"encrypt.keyslot", "num", "Select a single keyslot to modify explicitly"},
    {"encrypt.new-secret", "str",
     "New secret to set in the matching keyslots. Empty string to erase"},
    {"encrypt.old-secret", "str", "Select all keyslots that match this password"},
    {"encrypt.state", "str", "Select new state of affected keyslots (active/inactive)"},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates"},
    {"refcount_bits", "num", "Width of a reference count entry in bits"},
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};

bool img_has_help_option(const char *options)
{
    const char *p = options;
    while (p && *p) {
        GString *v = g_string_new(NULL);
        while (*p && (*p != ',' || p[1] == ',')) {
            if (*p == ',') {
                p++; /* ",," is one comma */
            }
            g_string_append_c(v, *p++);
        }
        if (*p == ',') {
            p++;
        }
        bool help = qopts_is_help(v->str);
        g_string_free(v, TRUE);
        if (help) {
            return true;
        }
    }
    return false;
}

static gint help_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(const HelpOpt *const *)a)->name, (*(const HelpOpt *const *)b)->name);
}

/* QEMU's qemu_opts_print_help(): sorted by name, "  name=<type>" padded to 24, " - help". */
static void print_help_lists(const HelpOpt *a, const HelpOpt *b)
{
    GPtrArray *all = g_ptr_array_new();
    for (const HelpOpt *o = a; o && o->name; o++) {
        g_ptr_array_add(all, (gpointer)o);
    }
    for (const HelpOpt *o = b; o && o->name; o++) {
        bool dup = false; /* the format's own option wins, as in qemu_opts_append() */
        for (const HelpOpt *p = a; p && p->name && !dup; p++) {
            dup = !strcmp(p->name, o->name);
        }
        if (!dup) {
            g_ptr_array_add(all, (gpointer)o);
        }
    }
    g_ptr_array_sort(all, help_cmp);
    for (guint i = 0; i < all->len; i++) {
        const HelpOpt *o = g_ptr_array_index(all, i);
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "  %s=<%s>", o->name, o->type);
        while (s->len < 24) {
            g_string_append_c(s, ' ');
        }
        printf("%s - %s\n", s->str, o->help);
        g_string_free(s, TRUE);
    }
    g_ptr_array_free(all, TRUE);
}

int img_print_create_help(const char *fmt, const char *filename)
{
    const BlockDriver *drv = bdrv_find_format(fmt);
    if (!drv || drv->is_protocol) {
        if (!drv || strcmp(fmt, "file")) {
            error_report("Unknown file format '%s'", fmt);
            return 1;
        }
    }
    const HelpOpt *list = !strcmp(fmt, "qcow2") ? qcow2_create_help
                          : !strcmp(fmt, "raw") ? raw_create_help
                                                : file_create_help;
    if (filename) {
        printf("Supported options:\n");
        print_help_lists(list, file_create_help);
    } else {
        printf("Supported %s options:\n", fmt);
        print_help_lists(list, NULL);
        printf("\nThe protocol level may support further options.\n"
               "Specify the target filename to include those options.\n");
    }
    return 0;
}

int img_print_amend_help(const char *fmt)
{
    const BlockDriver *drv = bdrv_find_format(fmt);
    if (!drv) {
        error_report("Unknown file format '%s'", fmt);
        return 1;
    }
    if (strcmp(fmt, "qcow2")) {
        error_report("Format driver '%s' does not support option amendment", fmt);
        return 1;
    }
    printf("Amend options for '%s':\n", fmt);
    print_help_lists(qcow2_amend_help, NULL);
    return 0;
}
