/*
 * Opening node graphs from QEMU's BlockdevOptions: what -blockdev (dotted keys or JSON),
 * blockdev-add and -drive's node options describe.
 *
 * First the options are checked against the schema of the node types Vireo has, the way QEMU's
 * QAPI input visitor does it, with its messages: members in declaration order (base members,
 * then the driver's), "Parameter 'file.filename' is missing", wrong types ("Invalid parameter
 * type for 'read-only', expected: boolean" for JSON; "Parameter 'read-only' expects 'on' or
 * 'off'" for the dotted form, whose values are all strings), enum values, and then the first
 * member nobody asked for in QEMU's dictionary order ("Parameter 'foo' is unexpected"). Only
 * then are nodes opened, children first: a child given as an object is opened inline and
 * inherits its parent's read-only and cache settings (QEMU's inherited options), a child given
 * as a string is an existing node by name.
 *
 * And from a file name and flat options, as QEMU 7.2's bdrv_open() (bdrv_open_opts: the tools,
 * json: names): the file name may be a path, a "proto:..." name or "json:{...}"; options are
 * a QJ object of flat dotted keys ("driver", "file.filename", "backing.driver",
 * "cache.direct", ...) whose values are strings (JSON numbers and booleans become "123" and
 * "on"/"off" as QEMU's option parser sees them) or null ("backing": null). A format node goes
 * over a protocol node (probed when no driver is named), children and the backing chain are
 * opened from their "file.*" / "backing.*" options, the generic node options are checked and
 * every option no driver takes is refused with QEMU's message. BDRV_O_SNAPSHOT puts a
 * temporary qcow2 overlay on top (qemu-io -s, as -snapshot). Both build their nodes with
 * block.c's bdrv_open_driver(), which registers them and takes their permissions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/block-backend.h"
#include "vireo/error.h"
#include "vireo/qemu-opts.h"
#include "vireo/qjson.h"
#include "qcow2.h"

typedef enum {
    BO_STR,
    BO_BOOL,
    BO_INT,
    BO_ENUM,
    BO_STRUCT,
    BO_REF,         /* BlockdevRef: a node name, or the options of a new node */
    BO_REF_OR_NULL, /* BlockdevRefOrNull: also null (no node) */
    BO_ENUM_OR_ANY, /* an alternate of an enum and a structure Vireo takes as it comes */
} BoType;

typedef struct BoMember {
    const char *name;
    BoType type;
    bool optional;
    const void *sub; /* BO_ENUM/BO_ENUM_OR_ANY: values; BO_STRUCT: members */
} BoMember;

static const char *const discard_values[] = {"ignore", "unmap", NULL};
static const char *const detect_zeroes_values[] = {"off", "on", "unmap", NULL};
static const char *const aio_values[] = {"threads", "native", "io_uring", NULL};
static const char *const on_off_auto_values[] = {"auto", "on", "off", NULL};
static const char *const overlap_values[] = {"none", "constant", "cached", "all", NULL};
/* QEMU 7.2's BlockdevDriver */
static const char *const driver_values[] = {
    "blkdebug",     "blklogwrites", "blkreplay",   "blkverify",
    "bochs",        "cloop",        "compress",    "copy-before-write",
    "copy-on-read", "dmg",          "file",        "snapshot-access",
    "ftp",          "ftps",         "gluster",     "host_cdrom",
    "host_device",  "http",         "https",       "iscsi",
    "luks",         "nbd",          "nfs",         "null-aio",
    "null-co",      "nvme",         "parallels",   "preallocate",
    "qcow",         "qcow2",        "qed",         "quorum",
    "raw",          "rbd",          "replication", "ssh",
    "throttle",     "vdi",          "vhdx",        "vmdk",
    "vpc",          "vvfat",        NULL};

static const BoMember cache_members[] = {
    {"direct", BO_BOOL, true, NULL},
    {"no-flush", BO_BOOL, true, NULL},
    {NULL},
};

/* BlockdevOptions' base, in declaration order */
static const BoMember base_members[] = {
    {"driver", BO_ENUM, false, driver_values},
    {"node-name", BO_STR, true, NULL},
    {"discard", BO_ENUM, true, discard_values},
    {"cache", BO_STRUCT, true, cache_members},
    {"read-only", BO_BOOL, true, NULL},
    {"auto-read-only", BO_BOOL, true, NULL},
    {"force-share", BO_BOOL, true, NULL},
    {"detect-zeroes", BO_ENUM, true, detect_zeroes_values},
    {NULL},
};

static const BoMember file_members[] = {
    {"filename", BO_STR, false, NULL},
    {"pr-manager", BO_STR, true, NULL},
    {"locking", BO_ENUM, true, on_off_auto_values},
    {"aio", BO_ENUM, true, aio_values},
    {"aio-max-batch", BO_INT, true, NULL},
    {"drop-cache", BO_BOOL, true, NULL},
    {"x-check-cache-dropped", BO_BOOL, true, NULL},
    {NULL},
};

static const BoMember raw_members[] = {
    {"file", BO_REF, false, NULL},
    {"offset", BO_INT, true, NULL},
    {"size", BO_INT, true, NULL},
    {NULL},
};

static const BoMember qcow2_members[] = {
    {"file", BO_REF, false, NULL},
    {"backing", BO_REF_OR_NULL, true, NULL},
    {"lazy-refcounts", BO_BOOL, true, NULL},
    {"pass-discard-request", BO_BOOL, true, NULL},
    {"pass-discard-snapshot", BO_BOOL, true, NULL},
    {"pass-discard-other", BO_BOOL, true, NULL},
    {"overlap-check", BO_ENUM_OR_ANY, true, overlap_values},
    {"cache-size", BO_INT, true, NULL},
    {"l2-cache-size", BO_INT, true, NULL},
    {"l2-cache-entry-size", BO_INT, true, NULL},
    {"refcount-cache-size", BO_INT, true, NULL},
    {"cache-clean-interval", BO_INT, true, NULL},
    {"encrypt", BO_ENUM_OR_ANY, true, NULL},
    {"data-file", BO_REF, true, NULL},
    {NULL},
};

static const struct {
    const char *driver;
    const BoMember *members;
} driver_schemas[] = {
    {"file", file_members},
    {"raw", raw_members},
    {"qcow2", qcow2_members},
};

static const BoMember *driver_members(const char *driver)
{
    for (size_t i = 0; i < G_N_ELEMENTS(driver_schemas); i++) {
        if (!strcmp(driver_schemas[i].driver, driver)) {
            return driver_schemas[i].members;
        }
    }
    return NULL;
}

/* ---- checking, as QEMU's QAPI input visitor ---- */

typedef struct Visit {
    bool keyval; /* values are strings (the dotted syntax) */
    char **errp;
} Visit;

static bool in_values(const char *const *values, const char *s)
{
    for (; *values; values++) {
        if (!strcmp(*values, s)) {
            return true;
        }
    }
    return false;
}

static bool check_options(Visit *v, const QJ *obj, const char *prefix);

static bool check_member(Visit *v, const BoMember *m, const QJ *val, const char *path)
{
    switch (m->type) {
    case BO_STR:
        if (val->type != QJ_STRING) {
            block_error(v->errp, "Invalid parameter type for '%s', expected: string", path);
            return false;
        }
        return true;
    case BO_BOOL:
        if (v->keyval && val->type == QJ_STRING) {
            if (strcmp(val->s, "on") && strcmp(val->s, "off")) {
                block_error(v->errp, "Parameter '%s' expects 'on' or 'off'", path);
                return false;
            }
            return true;
        }
        if (val->type != QJ_BOOL) {
            block_error(v->errp, "Invalid parameter type for '%s', expected: boolean", path);
            return false;
        }
        return true;
    case BO_INT:
        if (v->keyval && val->type == QJ_STRING) {
            uint64_t n;
            if (qopts_strtou64(val->s, 0, &n) < 0) {
                block_error(v->errp, "Parameter '%s' expects integer", path);
                return false;
            }
            return true;
        }
        if (val->type != QJ_INT && val->type != QJ_UINT) {
            block_error(v->errp, "Invalid parameter type for '%s', expected: integer", path);
            return false;
        }
        return true;
    case BO_ENUM:
        if (val->type != QJ_STRING) {
            block_error(v->errp, "Invalid parameter type for '%s', expected: string", path);
            return false;
        }
        if (!in_values(m->sub, val->s)) {
            block_error(v->errp, "Parameter '%s' does not accept value '%s'", path, val->s);
            return false;
        }
        return true;
    case BO_ENUM_OR_ANY:
        if (val->type == QJ_STRING && m->sub && !in_values(m->sub, val->s)) {
            block_error(v->errp, "Parameter '%s' does not accept value '%s'", path, val->s);
            return false;
        }
        return true;
    case BO_STRUCT: {
        if (val->type != QJ_OBJECT) {
            block_error(v->errp, "Invalid parameter type for '%s', expected: object", path);
            return false;
        }
        char *pre = g_strdup_printf("%s.", path);
        const BoMember *members = m->sub;
        bool ok = true;
        for (const BoMember *s = members; ok && s->name; s++) {
            const QJ *sv = qj_get(val, s->name);
            char *sp = g_strdup_printf("%s%s", pre, s->name);
            if (!sv && !s->optional) {
                block_error(v->errp, "Parameter '%s' is missing", sp);
                ok = false;
            } else if (sv) {
                ok = check_member(v, s, sv, sp);
            }
            g_free(sp);
        }
        size_t *order = qj_qemu_member_order(val);
        for (size_t k = 0; ok && k < val->obj.n; k++) {
            const char *key = val->obj.m[order[k]].key;
            bool known = false;
            for (const BoMember *s = members; s->name && !known; s++) {
                known = !strcmp(s->name, key);
            }
            if (!known) {
                block_error(v->errp, "Parameter '%s%s' is unexpected", pre, key);
                ok = false;
            }
        }
        g_free(order);
        g_free(pre);
        return ok;
    }
    case BO_REF:
    case BO_REF_OR_NULL:
        if (val->type == QJ_STRING || (m->type == BO_REF_OR_NULL && val->type == QJ_NULL)) {
            return true;
        }
        if (val->type == QJ_OBJECT) {
            char *pre = g_strdup_printf("%s.", path);
            bool ok = check_options(v, val, pre);
            g_free(pre);
            return ok;
        }
        block_error(v->errp, "Invalid parameter type for '%s', expected: %s", path,
                    m->type == BO_REF ? "BlockdevRef" : "BlockdevRefOrNull");
        return false;
    }
    return false;
}

/* One BlockdevOptions object (prefix "" at the top, "file." for its file child, ...). */
static bool check_options(Visit *v, const QJ *obj, const char *prefix)
{
    const QJ *drv = qj_get(obj, "driver");
    const BoMember *variant = NULL;
    for (int pass = 0; pass < 2; pass++) {
        const BoMember *members = pass ? variant : base_members;
        if (!members) {
            if (pass) {
                block_error(v->errp, "Driver '%s' is not supported by Vireo", drv->s);
                return false;
            }
            continue;
        }
        for (const BoMember *m = members; m->name; m++) {
            const QJ *val = qj_get(obj, m->name);
            char *path = g_strdup_printf("%s%s", prefix, m->name);
            bool ok = true;
            if (!val && !m->optional) {
                block_error(v->errp, "Parameter '%s' is missing", path);
                ok = false;
            } else if (val) {
                ok = check_member(v, m, val, path);
            }
            g_free(path);
            if (!ok) {
                return false;
            }
        }
        if (!pass) {
            variant = driver_members(drv->s);
        }
    }
    size_t *order = qj_qemu_member_order(obj);
    bool ok = true;
    for (size_t k = 0; ok && k < obj->obj.n; k++) {
        const char *key = obj->obj.m[order[k]].key;
        bool known = false;
        for (int pass = 0; pass < 2 && !known; pass++) {
            for (const BoMember *m = pass ? variant : base_members; m->name && !known; m++) {
                known = !strcmp(m->name, key);
            }
        }
        if (!known) {
            block_error(v->errp, "Parameter '%s%s' is unexpected", prefix, key);
            ok = false;
        }
    }
    g_free(order);
    return ok;
}

/* ---- opening ---- */

static bool opt_bool(const QJ *obj, const char *key, bool def)
{
    const QJ *v = qj_get(obj, key);
    if (!v) {
        return def;
    }
    if (v->type == QJ_STRING) {
        return !strcmp(v->s, "on");
    }
    return v->b;
}

static const char *opt_str(const QJ *obj, const char *key)
{
    const QJ *v = qj_get(obj, key);
    return v && v->type == QJ_STRING ? v->s : NULL;
}

/* What a child inherits from its parent, as QEMU's bdrv_inherited_options(). */
typedef struct Inherit {
    bool read_only, direct, no_flush, auto_ro;
    bool unmap; /* discard=unmap unless the node says otherwise (file children) */
} Inherit;

bool bdrv_node_name_valid(const char *name, char **errp)
{
    if (!qopts_is_identifier(name)) {
        block_error(errp, "Invalid node-name: '%s'", name);
        return false;
    }
    if (strlen(name) >= sizeof(((BlockDriverState *)0)->node_name)) {
        block_error(errp, "Node name too long");
        return false;
    }
    return true;
}

/* Node flags from a node's own options and what it inherits. */
static int node_flags(const QJ *obj, Inherit *in, bool keyval)
{
    const QJ *cache = qj_get(obj, "cache");
    in->read_only = opt_bool(obj, "read-only", in->read_only);
    in->auto_ro = opt_bool(obj, "auto-read-only", in->auto_ro);
    if (cache) {
        in->direct = opt_bool(cache, "direct", in->direct);
        in->no_flush = opt_bool(cache, "no-flush", in->no_flush);
    }
    int flags = in->read_only ? 0 : BDRV_O_RDWR;
    if (in->direct) {
        flags |= BDRV_O_NOCACHE;
    }
    if (in->no_flush) {
        flags |= BDRV_O_NO_FLUSH;
    }
    const char *discard = opt_str(obj, "discard");
    if (discard ? !strcmp(discard, "unmap") : in->unmap) {
        flags |= BDRV_O_UNMAP;
    }
    if (opt_bool(obj, "force-share", false)) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    const char *aio = opt_str(obj, "aio");
    if (aio && !strcmp(aio, "native")) {
        flags |= BDRV_O_NATIVE_AIO;
    }
    return flags;
}

static BlockDriverState *open_ref(const QJ *ref, const Inherit *in, bool keyval, bool is_backing,
                                  char **errp);

static BlockDriverState *open_node(const QJ *obj, Inherit in, bool keyval, char **errp)
{
    const char *driver = opt_str(obj, "driver");
    const char *node_name = opt_str(obj, "node-name");
    if (node_name) {
        if (!bdrv_node_name_valid(node_name, errp)) {
            return NULL;
        }
        if (bdrv_find_node(node_name)) {
            block_error(errp, "Duplicate nodes with node-name='%s'", node_name);
            return NULL;
        }
        if (blk_by_name(node_name)) {
            block_error(errp, "node-name=%s is conflicting with a device id", node_name);
            return NULL;
        }
    }
    if (opt_bool(obj, "force-share", false) && !opt_bool(obj, "read-only", in.read_only)) {
        block_error(errp, "force-share=on can only be used with read-only images");
        return NULL;
    }
    int flags = node_flags(obj, &in, keyval);
    const char *dz = opt_str(obj, "detect-zeroes");
    if (dz && !strcmp(dz, "unmap") && !(flags & BDRV_O_UNMAP)) {
        block_error(errp, "setting detect-zeroes to unmap is not allowed without setting "
                          "discard operation to unmap");
        return NULL;
    }
    BlockDriverState *bs = NULL;
    if (!strcmp(driver, "file")) {
        QOpts *o = qopts_new("file");
        const char *locking = opt_str(obj, "locking");
        if (locking) {
            qopts_set(o, "locking", locking);
        }
        if (node_name) {
            qopts_set(o, "node-name", node_name);
        }
        const char *filename = opt_str(obj, "filename");
        char *err = NULL;
        bs = bdrv_open_protocol(&bdrv_file, filename, o, flags, &err);
        if (!bs && in.auto_ro && !in.read_only) {
            /* auto-read-only: fall back to read-only when writing is not allowed */
            bs = bdrv_open_protocol(&bdrv_file, filename, o, flags & ~BDRV_O_RDWR, NULL);
        }
        if (!bs) {
            block_error(errp, "%s", err);
        }
        g_free(err);
        qopts_free(o);
    } else {
        const BlockDriver *drv = bdrv_find_format(driver);
        if (qj_get(obj, "offset") || qj_get(obj, "size")) {
            block_error(errp, "raw's 'offset' and 'size' are not supported by Vireo");
            return NULL;
        }
        if (qj_get(obj, "encrypt") || qj_get(obj, "data-file")) {
            block_error(errp, "qcow2's '%s' option is not supported by Vireo",
                        qj_get(obj, "encrypt") ? "encrypt" : "data-file");
            return NULL;
        }
        /* the file child: discard passes down, the rest is inherited */
        BlockDriverState *file = open_ref(qj_get(obj, "file"), &in, keyval, false, errp);
        if (!file) {
            return NULL;
        }
        QOpts *fo = qopts_new("format");
        if (node_name) {
            qopts_set(fo, "node-name", node_name);
        }
        bs = bdrv_open_format(drv, file, fo, flags | BDRV_O_NO_BACKING, errp);
        qopts_free(fo);
        bdrv_close(file); /* the format node holds its own reference */
        if (bs && drv == &bdrv_qcow2) {
            const QJ *backing = qj_get(obj, "backing");
            int ret = 0;
            if (!backing) {
                ret = bdrv_open_backing_file(bs, errp);
            } else if (backing->type != QJ_NULL) { /* dotted "backing=null" names a node */
                char *berr = NULL;
                BlockDriverState *b = open_ref(backing, &in, keyval, true, &berr);
                if (b) {
                    ret = bdrv_set_backing(bs, b, &berr);
                    bdrv_close(b);
                    if (ret == 0 && !bs->backing_file[0]) {
                        bdrv_refresh_json_filename(bs);
                    }
                } else {
                    ret = -EINVAL;
                }
                if (ret < 0) {
                    block_error(errp, "Could not open backing file: %s", berr);
                }
                g_free(berr);
            }
            if (ret < 0) {
                bdrv_close(bs);
                bs = NULL;
            }
        }
    }
    if (!bs) {
        return NULL;
    }
    bs->detect_zeroes = !dz || !strcmp(dz, "off") ? 0 : !strcmp(dz, "on") ? 1 : 2;
    return bs;
}

/* A child: an existing node by name (a new reference), or a new node from options. */
static BlockDriverState *open_ref(const QJ *ref, const Inherit *in, bool keyval, bool is_backing,
                                  char **errp)
{
    if (ref->type == QJ_STRING) {
        BlockDriverState *bs = bdrv_find_node(ref->s);
        if (!bs && blk_by_name(ref->s)) {
            bs = blk_bs(blk_by_name(ref->s));
        }
        if (!bs) {
            block_error(errp, "Cannot find device='%s' nor node-name='%s'", ref->s, ref->s);
            return NULL;
        }
        bdrv_ref(bs);
        return bs;
    }
    Inherit child = *in;
    child.unmap = !is_backing;
    if (is_backing) {
        child.read_only = true;
        child.auto_ro = false;
    }
    return open_node(ref, child, keyval, errp);
}

bool bdrv_check_blockdev(const QJ *options, bool keyval, char **errp)
{
    Visit v = {keyval, errp};
    return check_options(&v, options, "");
}

BlockDriverState *bdrv_open_blockdev(const QJ *options, bool keyval, bool need_node_name,
                                     char **errp)
{
    if (!bdrv_check_blockdev(options, keyval, errp)) {
        return NULL;
    }
    if (need_node_name && !qj_get(options, "node-name")) {
        block_error(errp, "'node-name' must be specified for the root node");
        return NULL;
    }
    Inherit in = {false, false, false, false, false};
    return open_node(options, in, keyval, errp);
}

QJ *bdrv_keyval_to_options(const QOpts *opts, char **errp)
{
    QJ *root = qj_object();
    for (size_t i = 0; i < opts->n_pairs; i++) {
        char **parts = g_strsplit(opts->pairs[i].key, ".", 0);
        QJ *obj = root;
        bool ok = true;
        for (int k = 0; parts[k] && ok; k++) {
            if (!parts[k + 1]) {
                QJ *old = qj_get(obj, parts[k]);
                if (old && old->type == QJ_OBJECT) {
                    ok = false;
                } else {
                    qj_set(obj, parts[k], qj_string(opts->pairs[i].value));
                }
                continue;
            }
            QJ *next = qj_get(obj, parts[k]);
            if (!next) {
                next = qj_object();
                qj_set(obj, parts[k], next);
            } else if (next->type != QJ_OBJECT) {
                ok = false;
            }
            obj = next;
        }
        if (!ok) {
            /* QEMU's keyval: "file=x,file.driver=y" */
            char *prefix = g_strndup(opts->pairs[i].key, strcspn(opts->pairs[i].key, "."));
            block_error(errp, "Parameter '%s' used inconsistently", prefix);
            g_free(prefix);
            g_strfreev(parts);
            qj_free(root);
            return NULL;
        }
        g_strfreev(parts);
    }
    return root;
}

#define MAX_BACKING_DEPTH 64

/* ---- option dictionaries ---- */

static char *scalar_string(const QJ *v)
{
    switch (v->type) {
    case QJ_BOOL:
        return g_strdup(v->b ? "on" : "off");
    case QJ_INT:
        return g_strdup_printf("%" PRId64, v->i);
    case QJ_UINT:
        return g_strdup_printf("%" PRIu64, v->u);
    case QJ_DOUBLE:
        return g_strdup_printf("%.17g", v->d);
    case QJ_STRING:
        return g_strdup(v->s);
    default:
        return NULL;
    }
}

static bool flatten(QJ *dst, const char *prefix, const QJ *v, char **errp)
{
    if (v->type == QJ_OBJECT || v->type == QJ_ARRAY) {
        size_t n = v->type == QJ_OBJECT ? v->obj.n : v->arr.n;
        for (size_t i = 0; i < n; i++) {
            char *sub =
                v->type == QJ_OBJECT ? g_strdup(v->obj.m[i].key) : g_strdup_printf("%zu", i);
            char *key = prefix ? g_strdup_printf("%s.%s", prefix, sub) : g_strdup(sub);
            const QJ *item = v->type == QJ_OBJECT ? v->obj.m[i].value : v->arr.items[i];
            bool ok = flatten(dst, key, item, errp);
            g_free(sub);
            g_free(key);
            if (!ok) {
                return false;
            }
        }
        return true;
    }
    if (qj_get(dst, prefix)) {
        block_error(errp, "Cannot flatten the JSON options: duplicate key '%s'", prefix);
        return false;
    }
    if (v->type == QJ_NULL) {
        qj_set(dst, prefix, qj_null());
    } else {
        qj_set(dst, prefix, qj_string_take(scalar_string(v)));
    }
    return true;
}

bool bdrv_opts_flatten_json(QJ *dst, const QJ *json, char **errp)
{
    return flatten(dst, NULL, json, errp);
}

QJ *bdrv_opts_from_qopts(const QOpts *opts)
{
    QJ *o = qj_object();
    for (size_t i = 0; opts && i < opts->n_pairs; i++) {
        qj_set_str(o, opts->pairs[i].key, opts->pairs[i].value); /* the last one wins */
    }
    return o;
}

/* The string value of key, or NULL (absent or null). */
static const char *fopt_get(const QJ *o, const char *key)
{
    return qj_get_str(o, key);
}

static void fopt_del(QJ *o, const char *key)
{
    qj_free(qj_take(o, key));
}

/* Move every "prefix.*" key of src into a new dict, without the prefix. */
static QJ *opts_extract(QJ *src, const char *prefix)
{
    QJ *out = qj_object();
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < src->obj.n;) {
        const char *k = src->obj.m[i].key;
        if (!strncmp(k, prefix, plen) && k[plen] == '.') {
            char *key = g_strdup(k + plen + 1);
            QJ *v = qj_take(src, k);
            qj_set(out, key, v);
            g_free(key);
        } else {
            i++;
        }
    }
    return out;
}

/* QOpts view of the string options, for the drivers' typed lookups. */
static QOpts *opts_to_qopts(const QJ *o)
{
    QOpts *q = qopts_new("block");
    for (size_t i = 0; i < o->obj.n; i++) {
        if (o->obj.m[i].value->type == QJ_STRING) {
            qopts_set(q, o->obj.m[i].key, o->obj.m[i].value->s);
        }
    }
    return q;
}

static bool driver_takes(const BlockDriver *drv, const char *key)
{
    for (const char *const *k = drv->runtime_opts; k && *k; k++) {
        size_t len = strlen(*k);
        if ((*k)[len - 1] == '.' ? !strncmp(key, *k, len) : !strcmp(key, *k)) {
            return true;
        }
    }
    return false;
}

/* ---- nodes ---- */

typedef struct FlatCtx {
    int depth;
    GHashTable *seen; /* "dev:ino" of the image files in the chain (loops) */
} FlatCtx;

static BlockDriverState *flat_open_node(const char *filename, const char *reference, QJ *opts,
                                        int flags, FlatCtx *ctx, char **errp);

/* The flags a child gets from its parent (QEMU's bdrv_inherited_options). */
static int child_flags(int flags)
{
    int keep = BDRV_O_RDWR | BDRV_O_NOCACHE | BDRV_O_NO_FLUSH | BDRV_O_NATIVE_AIO |
               BDRV_O_WRTHROUGH | BDRV_O_NO_IO | BDRV_O_CHECK | BDRV_O_FORCE_SHARE |
               BDRV_O_NO_SHARE | BDRV_O_RESIZE;
    /* the protocol layer passes discards down whatever the parent's policy */
    return (flags & keep) | BDRV_O_UNMAP;
}

static void inherit_option(QJ *child, const QJ *parent, const char *key)
{
    const char *v = fopt_get(parent, key);
    if (v && !qj_get(child, key)) {
        qj_set_str(child, key, v);
    }
}

static BlockDriverState *open_child_opts(const char *filename, QJ *parent_opts, const char *name,
                                         int flags, bool allow_none, FlatCtx *ctx, char **errp)
{
    QJ *copts = opts_extract(parent_opts, name);
    char *reference = g_strdup(fopt_get(parent_opts, name));
    if (qj_get(parent_opts, name)) {
        fopt_del(parent_opts, name);
    }
    if (!filename && !reference && !copts->obj.n) {
        qj_free(copts);
        if (!allow_none) {
            block_error(errp, "A block device must be specified for \"%s\"", name);
        }
        return NULL;
    }
    inherit_option(copts, parent_opts, "cache.direct");
    inherit_option(copts, parent_opts, "cache.no-flush");
    inherit_option(copts, parent_opts, "force-share");
    BlockDriverState *bs =
        flat_open_node(filename, reference, copts, child_flags(flags) | BDRV_O_PROTOCOL, ctx, errp);
    g_free(reference);
    return bs;
}

BlockDriverState *bdrv_open_child(BlockDriverState *parent, const char *filename, const char *name,
                                  int flags, bool allow_none, char **errp)
{
    FlatCtx ctx = {0};
    return open_child_opts(filename, parent->open_options, name, flags, allow_none, &ctx, errp);
}

/*
 * The generic node options (QEMU's bdrv_runtime_opts), checked and folded into flags
 * (force-share is BDRV_O_FORCE_SHARE); *detect_zeroes is set when given, *node_name (taken
 * from opts, g_free it) when node_name is not NULL.
 */
static int generic_options(QJ *opts, int *flags, int *detect_zeroes, char **node_name, char **errp)
{
    static const char *const bools[] = {"read-only",    "auto-read-only", "force-share",
                                        "cache.direct", "cache.no-flush", NULL};
    for (int i = 0; bools[i]; i++) {
        const char *v = fopt_get(opts, bools[i]);
        bool b;
        if (!v) {
            continue;
        }
        if (!qopts_parse_bool(v, &b)) {
            block_error(errp, "Parameter '%s' expects 'on' or 'off'", bools[i]);
            return -EINVAL;
        }
        if (!strcmp(bools[i], "read-only") && b) {
            *flags &= ~BDRV_O_RDWR;
        } else if (!strcmp(bools[i], "cache.direct")) {
            *flags = b ? *flags | BDRV_O_NOCACHE : *flags & ~BDRV_O_NOCACHE;
        } else if (!strcmp(bools[i], "cache.no-flush")) {
            *flags = b ? *flags | BDRV_O_NO_FLUSH : *flags & ~BDRV_O_NO_FLUSH;
        } else if (!strcmp(bools[i], "force-share")) {
            *flags = b ? *flags | BDRV_O_FORCE_SHARE : *flags & ~BDRV_O_FORCE_SHARE;
        }
        fopt_del(opts, bools[i]);
    }
    const char *v = fopt_get(opts, "node-name");
    if (v && node_name) {
        if (!bdrv_node_name_valid(v, errp)) {
            return -EINVAL;
        }
        if (bdrv_find_node(v)) {
            block_error(errp, "Duplicate nodes with node-name='%s'", v);
            return -EINVAL;
        }
        *node_name = g_strdup(v);
        fopt_del(opts, "node-name");
    }
    v = fopt_get(opts, "discard");
    if (v) {
        if (bdrv_parse_discard_flags(v, flags) < 0) {
            block_error(errp, "Invalid discard option");
            return -EINVAL;
        }
        fopt_del(opts, "discard");
    }
    v = fopt_get(opts, "detect-zeroes");
    if (v) {
        static const char *const modes[] = {"off", "on", "unmap"};
        int m = -1;
        for (int i = 0; i < 3; i++) {
            if (!strcmp(v, modes[i])) {
                m = i;
            }
        }
        if (m < 0) {
            block_error(errp, "invalid parameter value: %s", v);
            return -EINVAL;
        }
        if (m == 2 && !(*flags & BDRV_O_UNMAP)) {
            block_error(errp, "setting detect-zeroes to unmap is not allowed without setting "
                              "discard operation to unmap");
            return -EINVAL;
        }
        *detect_zeroes = m;
        fopt_del(opts, "detect-zeroes");
    }
    if ((*flags & BDRV_O_FORCE_SHARE) && (*flags & BDRV_O_RDWR)) {
        block_error(errp, "force-share=on can only be used with read-only images");
        return -EINVAL;
    }
    return 0;
}

/* The backing file named in the image and/or given as "backing.*" options. */
static int open_backing(BlockDriverState *bs, QJ *opts, int flags, FlatCtx *ctx, char **errp)
{
    QJ *bopts = opts_extract(opts, "backing");
    char *reference = g_strdup(fopt_get(opts, "backing"));
    if (qj_get(opts, "backing")) {
        fopt_del(opts, "backing");
    }
    char *filename = NULL;
    int ret = 0;
    if (!reference && !fopt_get(bopts, "file.filename")) {
        if (!bs->backing_file[0] && !bopts->obj.n) {
            goto out;
        }
        if (bs->backing_file[0]) {
            filename = g_strdup(bs->full_backing_filename);
        }
    }
    if (!bs->drv->supports_backing) {
        block_error(errp, "Driver doesn't support backing files");
        ret = -EINVAL;
        goto out;
    }
    if (ctx->depth >= MAX_BACKING_DEPTH) {
        block_error(errp, "Backing chain is too deep");
        ret = -ELOOP;
        goto out;
    }
    if (!reference && bs->backing_format && bs->backing_format[0] && !qj_get(bopts, "driver")) {
        qj_set_str(bopts, "driver", bs->backing_format);
    }
    inherit_option(bopts, opts, "cache.direct");
    inherit_option(bopts, opts, "cache.no-flush");
    inherit_option(bopts, opts, "force-share");
    char *err = NULL;
    int bflags = flags & ~(BDRV_O_RDWR | BDRV_O_CHECK | BDRV_O_PROTOCOL | BDRV_O_SNAPSHOT |
                           BDRV_O_COPY_ON_READ | BDRV_O_RESIZE);
    ctx->depth++;
    bs->backing = flat_open_node(filename, reference, bopts, bflags, ctx, &err);
    ctx->depth--;
    bopts = NULL;
    if (!bs->backing) {
        block_error(errp, "Could not open backing file: %s", err);
        g_free(err);
        ret = -EINVAL;
    }
out:
    qj_free(bopts);
    g_free(reference);
    g_free(filename);
    return ret;
}

static bool check_loop(BlockDriverState *file, FlatCtx *ctx, char **errp)
{
    struct stat st;
    if (!ctx->seen || file->drv != &bdrv_file || stat(file->filename, &st) < 0) {
        return true;
    }
    char *key = g_strdup_printf("%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    if (g_hash_table_contains(ctx->seen, key)) {
        g_free(key);
        block_error(errp, "Backing file '%s' creates a loop in the backing chain", file->filename);
        return false;
    }
    g_hash_table_add(ctx->seen, key);
    return true;
}

static BlockDriverState *flat_open_node(const char *filename, const char *reference, QJ *opts,
                                        int flags, FlatCtx *ctx, char **errp)
{
    BlockDriverState *bs = NULL, *file = NULL;
    char *err = NULL, *node_name = NULL;
    if (!opts) {
        opts = qj_object();
    }
    if (reference) {
        if (filename || opts->obj.n) {
            block_error(errp, "Cannot reference an existing block device with additional "
                              "options or a new filename");
            goto fail;
        }
        bs = bdrv_find_node(reference);
        if (!bs) {
            block_error(errp, "Cannot find device='%s' nor node-name='%s'", reference, reference);
            goto fail;
        }
        bdrv_ref(bs);
        qj_free(opts);
        return bs;
    }
    if (filename && g_str_has_prefix(filename, "json:")) {
        QJ *j = qj_parse(filename + 5, &err);
        if (!j) {
            block_error(errp, "Could not parse the JSON options: %s", err);
            goto fail;
        }
        if (j->type != QJ_OBJECT) {
            qj_free(j);
            block_error(errp, "Invalid JSON object given");
            goto fail;
        }
        QJ *flat = qj_object();
        bool ok = bdrv_opts_flatten_json(flat, j, errp);
        qj_free(j);
        if (!ok) {
            qj_free(flat);
            goto fail;
        }
        for (size_t i = 0; i < flat->obj.n; i++) {
            if (!qj_get(opts, flat->obj.m[i].key)) { /* explicit options win */
                qj_set(opts, flat->obj.m[i].key, qj_copy(flat->obj.m[i].value));
            }
        }
        qj_free(flat);
        filename = NULL;
    }

    /* the driver: named, or by the file name's protocol prefix, or probed later */
    const BlockDriver *drv = NULL;
    const char *drvname = fopt_get(opts, "driver");
    bool protocol = flags & BDRV_O_PROTOCOL, parse_filename = false;
    if (drvname) {
        drv = bdrv_find_format(drvname);
        if (!drv) {
            block_error(errp, "Unknown driver '%s'", drvname);
            goto fail;
        }
        protocol = drv->is_protocol;
    }
    flags = protocol ? flags | BDRV_O_PROTOCOL : flags & ~BDRV_O_PROTOCOL;
    if (protocol && filename) {
        if (qj_get(opts, "filename")) {
            block_error(errp, "Can't specify 'file' and 'filename' options at the same time");
            goto fail;
        }
        qj_set_str(opts, "filename", filename);
        parse_filename = true;
    }
    char *fname = g_strdup(fopt_get(opts, "filename"));
    if (protocol && !drv) {
        if (!fname) {
            block_error(errp, "Must specify either driver or file");
            goto fail;
        }
        drv = bdrv_find_protocol(fname, parse_filename, errp);
        if (!drv) {
            g_free(fname);
            goto fail;
        }
        qj_set_str(opts, "driver", drv->format_name);
    }
    if (drv && parse_filename && drv->parse_filename) {
        if (drv->parse_filename(fname, opts, errp) < 0) {
            g_free(fname);
            goto fail;
        }
        if (!drv->needs_filename) {
            fopt_del(opts, "filename");
        }
    }
    g_free(fname);

    /* "backing": null (or the deprecated "") means no backing file */
    QJ *b = qj_get(opts, "backing");
    if (b && (b->type == QJ_NULL || (b->type == QJ_STRING && !b->s[0]))) {
        if (b->type == QJ_STRING) {
            warn_report("Use of \"backing\": \"\" is deprecated; use \"backing\": null instead");
        }
        flags |= BDRV_O_NO_BACKING;
        fopt_del(opts, "backing");
    }

    /* read-only and the cache options reach the children */
    {
        const char *ro = fopt_get(opts, "read-only");
        bool rob;
        if (ro && qopts_parse_bool(ro, &rob) && rob) {
            flags &= ~BDRV_O_RDWR;
        }
    }
    if (!protocol) {
        file = open_child_opts(filename, opts, "file", flags, true, ctx, errp);
        if (!file && errp && *errp) {
            goto fail;
        }
        if (file && !check_loop(file, ctx, errp)) {
            goto fail;
        }
        if (!drv && !file) {
            block_error(errp, "Must specify either driver or file");
            goto fail;
        }
        if (!file) {
            block_error(errp, "A block device must be specified for \"file\"");
            goto fail;
        }
    }
    int detect_zeroes = 0;
    if (generic_options(opts, &flags, &detect_zeroes, &node_name, errp) < 0) {
        goto fail;
    }
    fopt_del(opts, "driver");
    if (protocol && drv == &bdrv_file && !fopt_get(opts, "filename")) {
        block_error(errp, "The 'file' block driver requires a file name");
        goto fail;
    }
    QOpts *dopts = opts_to_qopts(opts);
    if (node_name) {
        qopts_set(dopts, "node-name", node_name);
    }
    /* drv NULL: probed; the node takes over the reference to file */
    bs = bdrv_open_driver(drv, file, fopt_get(opts, "filename"), dopts, opts, flags, errp);
    qopts_free(dopts);
    file = NULL;
    if (!bs) {
        goto fail;
    }
    drv = bs->drv;
    bs->detect_zeroes = detect_zeroes;
    if (!(flags & BDRV_O_NO_BACKING) && open_backing(bs, opts, flags, ctx, errp) < 0) {
        goto fail;
    }
    for (size_t i = 0; i < opts->obj.n; i++) {
        const char *k = opts->obj.m[i].key;
        if (driver_takes(drv, k)) {
            continue;
        }
        if (protocol) {
            block_error(errp, "Block protocol '%s' doesn't support the option '%s'",
                        drv->format_name, k);
        } else {
            block_error(errp, "Block format '%s' does not support the option '%s'",
                        drv->format_name, k);
        }
        goto fail;
    }
    g_free(node_name);
    qj_free(opts);
    return bs;

fail:
    bdrv_close(bs);
    bdrv_close(file);
    g_free(node_name);
    qj_free(opts);
    g_free(err);
    return NULL;
}

static int node_reopen(BlockDriverState *bs, int flags, char **errp)
{
    bool to_ro = !(flags & BDRV_O_RDWR) && !bs->read_only;
    int keep = bs->open_flags & (BDRV_O_PROTOCOL | BDRV_O_NO_BACKING | BDRV_O_COPY_ON_READ |
                                 BDRV_O_CHECK | BDRV_O_NO_IO | BDRV_O_FORCE_SHARE);
    int cflags = child_flags(flags) | (bs->file ? bs->file->open_flags & BDRV_O_PROTOCOL : 0);
    int ret = 0;
    /* a node going read-only writes its state back while its file is still writable */
    if (!to_ro && bs->file) {
        ret = node_reopen(bs->file, cflags, errp);
    }
    if (ret == 0 && bs->drv->reopen) {
        ret = bs->drv->reopen(bs, flags, errp);
    }
    if (ret == 0) {
        bs->open_flags = flags | (bs->open_flags & keep);
        bs->read_only = !(flags & BDRV_O_RDWR);
    }
    if (ret == 0 && to_ro && bs->file) {
        ret = node_reopen(bs->file, cflags, errp);
    }
    return ret;
}

int bdrv_reopen(BlockDriverState *bs, int flags, QJ *opts, char **errp)
{
    int ret = 0;
    QJ *dopts = qj_object();
    for (size_t i = 0; i < opts->obj.n && ret == 0; i++) {
        const char *k = opts->obj.m[i].key;
        const char *v = opts->obj.m[i].value->type == QJ_STRING ? opts->obj.m[i].value->s : "";
        bool b;
        if (!strcmp(k, "read-only")) {
            continue; /* the caller folded it into flags */
        } else if (!strcmp(k, "cache.direct") || !strcmp(k, "cache.no-flush")) {
            if (!qopts_parse_bool(v, &b)) {
                block_error(errp, "Parameter '%s' expects 'on' or 'off'", k);
                ret = -EINVAL;
            } else {
                int f = !strcmp(k, "cache.direct") ? BDRV_O_NOCACHE : BDRV_O_NO_FLUSH;
                flags = b ? flags | f : flags & ~f;
            }
        } else if (!strcmp(k, "discard")) {
            if (bdrv_parse_discard_flags(v, &flags) < 0) {
                block_error(errp, "Invalid discard option");
                ret = -EINVAL;
            }
        } else if (!strcmp(k, "driver") && !strcmp(v, bs->drv->format_name)) {
            continue;
        } else if (!strcmp(k, "detect-zeroes") || driver_takes(bs->drv, k)) {
            qj_set_str(dopts, k, v);
        } else {
            block_error(errp, "Cannot change the option '%s'", k);
            ret = -EINVAL;
        }
    }
    int detect_zeroes = bs->detect_zeroes;
    if (ret == 0) {
        int pflags = flags;
        ret = generic_options(dopts, &pflags, &detect_zeroes, NULL, errp);
    }
    if (ret == 0 && dopts->obj.n && bs->drv == &bdrv_qcow2) {
        QOpts *q = opts_to_qopts(dopts);
        ret = qcow2_check_runtime_opts(q, errp);
        qopts_free(q);
    }
    qj_free(dopts);
    qj_free(opts);
    if (ret == 0) {
        ret = node_reopen(bs, flags, errp);
    }
    if (ret == 0) {
        bs->detect_zeroes = detect_zeroes;
        /* a node that became read-only holds less on its children, a writable one more */
        ret = bdrv_refresh_perms(errp);
    }
    return ret;
}

BlockDriverState *bdrv_append_temp_snapshot(BlockDriverState *base, char **errp)
{
    const char *tmpdir = g_getenv("TMPDIR");
    char *path = g_strdup_printf("%s/vl.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp");
    int fd = g_mkstemp(path);
    if (fd < 0) {
        block_error_errno(errp, errno, "Could not open temporary file '%s'", path);
        g_free(path);
        return NULL;
    }
    close(fd);
    int64_t size = bdrv_getlength(base);
    QOpts *o = qopts_new("create");
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, size < 0 ? 0 : size);
    qopts_set(o, "size", num);
    char *err = NULL;
    BlockDriverState *bs = NULL;
    if (bdrv_create(&bdrv_qcow2, path, o, &err) == 0) {
        /* cache=unsafe (QEMU's temporary snapshot options) */
        int flags = BDRV_O_RDWR | BDRV_O_NO_FLUSH | BDRV_O_UNMAP;
        BlockDriverState *file = bdrv_open_protocol(&bdrv_file, path, NULL, flags, &err);
        if (file) {
            bs = bdrv_open_format(&bdrv_qcow2, file, NULL, flags | BDRV_O_NO_BACKING, &err);
            bdrv_close(file);
        }
        if (bs && bdrv_set_backing(bs, base, &err) < 0) {
            bdrv_close(bs);
            bs = NULL;
        }
    }
    unlink(path); /* as QEMU: the overlay lives only as long as it is open */
    qopts_free(o);
    if (!bs) {
        block_error(errp, "Could not create temporary overlay '%s': %s", path, err);
        g_free(err);
        g_free(path);
        return NULL;
    }
    bdrv_refresh_json_filename(bs);
    g_free(path);
    return bs;
}

BlockDriverState *bdrv_open_opts(const char *filename, QJ *options, int flags, char **errp)
{
    FlatCtx ctx = {0, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
    bool want_rw = flags & BDRV_O_RDWR;
    bool snapshot = flags & BDRV_O_SNAPSHOT;
    if (options && fopt_get(options, "force-share") && want_rw && !snapshot) {
        bool b;
        if (qopts_parse_bool(fopt_get(options, "force-share"), &b) && b) {
            g_hash_table_destroy(ctx.seen);
            qj_free(options);
            block_error(errp, "force-share=on can only be used with read-only images");
            return NULL;
        }
    }
    if (snapshot) {
        flags &= ~BDRV_O_RDWR; /* the image under the overlay is only read */
    }
    BlockDriverState *bs = flat_open_node(
        filename, NULL, options, flags & ~(BDRV_O_SNAPSHOT | BDRV_O_COPY_ON_READ), &ctx, errp);
    g_hash_table_destroy(ctx.seen);
    if (!bs) {
        return NULL;
    }
    if (want_rw && bs->read_only && !snapshot) {
        block_error(errp, "Block node is read-only");
        bdrv_close(bs);
        return NULL;
    }
    if (snapshot) {
        BlockDriverState *top = bdrv_append_temp_snapshot(bs, errp);
        bdrv_close(bs); /* the overlay holds its backing node */
        if (!top) {
            return NULL;
        }
        bs = top;
        if (!want_rw) {
            bs->read_only = true;
            bs->open_flags &= ~BDRV_O_RDWR;
            bdrv_refresh_perms(NULL);
        }
    }
    if (flags & BDRV_O_COPY_ON_READ) {
        if (bs->read_only) {
            block_error(errp, "Can't use copy-on-read on read-only device");
            bdrv_close(bs);
            return NULL;
        }
        bs->open_flags |= BDRV_O_COPY_ON_READ;
    }
    return bs;
}

BlockDriverState *bdrv_open(const char *filename, const char *fmt, QOpts *opts, int flags,
                            char **errp)
{
    QJ *o = opts ? bdrv_opts_from_qopts(opts) : qj_object();
    if (fmt) {
        qj_set_str(o, "driver", fmt);
    }
    return bdrv_open_opts(filename, o, flags, errp);
}

int bdrv_open_backing_file(BlockDriverState *bs, char **errp)
{
    FlatCtx ctx = {0, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
    struct stat st;
    if (stat(bs->filename, &st) == 0) {
        g_hash_table_add(ctx.seen, g_strdup_printf("%lu:%lu", (unsigned long)st.st_dev,
                                                   (unsigned long)st.st_ino));
    }
    QJ *opts = qj_object();
    int ret = open_backing(bs, opts, bs->open_flags & ~BDRV_O_NO_BACKING, &ctx, errp);
    qj_free(opts);
    g_hash_table_destroy(ctx.seen);
    return ret;
}
