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
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/block-backend.h"
#include "vireo/qemu-opts.h"
#include "vireo/qjson.h"

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
