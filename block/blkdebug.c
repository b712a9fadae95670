/*
 * blkdebug: a filter over one child ("image") that injects errors and suspends requests at
 * block-layer events, as QEMU's blkdebug driver does; block-layer tests are written with it.
 *
 * Rules come from a config file (QEMU's "[inject-error]" / "[set-state]" groups of
 * `name = "value"` lines) and/or from the "inject-error.N.*" and "set-state.N.*" options
 * (json:{"driver":"blkdebug","inject-error":[{...}]}). A rule belongs to one event and
 * optionally to one state (the node starts in state 1). When the event is raised (a driver
 * above calls BLKDBG_EVENT on this node), its set-state rules change the state, its
 * inject-error rules become the active ones, and its breakpoints (qemu-io's `break`) suspend
 * the request's coroutine until `resume`. A request on this node fails with the first
 * active rule whose I/O type and sector match (a `once` rule is then gone).
 *
 * Options: config, x-image (from "blkdebug:CONFIG:IMAGE"), image.*, align, max-transfer,
 * opt-write-zero, max-write-zero, opt-discard, max-discard.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/coroutine.h"
#include "vireo/qjson.h"

const char *const blkdebug_event_names[BLKDBG__MAX] = {
    "l1_update",
    "l1_grow_alloc_table",
    "l1_grow_write_table",
    "l1_grow_activate_table",
    "l2_load",
    "l2_update",
    "l2_update_compressed",
    "l2_alloc_cow_read",
    "l2_alloc_write",
    "read_aio",
    "read_backing_aio",
    "read_compressed",
    "write_aio",
    "write_compressed",
    "vmstate_load",
    "vmstate_save",
    "cow_read",
    "cow_write",
    "reftable_load",
    "reftable_grow",
    "reftable_update",
    "refblock_load",
    "refblock_update",
    "refblock_update_part",
    "refblock_alloc",
    "refblock_alloc_hookup",
    "refblock_alloc_write",
    "refblock_alloc_write_blocks",
    "refblock_alloc_write_table",
    "refblock_alloc_switch_table",
    "cluster_alloc",
    "cluster_alloc_bytes",
    "cluster_free",
    "flush_to_os",
    "flush_to_disk",
    "pwritev_rmw_head",
    "pwritev_rmw_after_head",
    "pwritev_rmw_tail",
    "pwritev_rmw_after_tail",
    "pwritev",
    "pwritev_zero",
    "pwritev_done",
    "empty_image_prepare",
    "l1_shrink_write_table",
    "l1_shrink_free_l2_clusters",
    "cor_write",
    "cluster_alloc_space",
    "none",
};

int blkdebug_event_parse(const char *name)
{
    for (int i = 0; i < BLKDBG__MAX; i++) {
        if (!strcmp(blkdebug_event_names[i], name)) {
            return i;
        }
    }
    return -1;
}

typedef enum {
    IO_READ,
    IO_WRITE,
    IO_WRITE_ZEROES,
    IO_DISCARD,
    IO_FLUSH,
    IO_BLOCK_STATUS,
    IO__MAX
} BlkdebugIOType;
static const char *const iotype_names[IO__MAX] = {"read",    "write", "write-zeroes",
                                                  "discard", "flush", "block-status"};

enum { ACTION_INJECT_ERROR, ACTION_SET_STATE, ACTION_SUSPEND, ACTION__MAX };

typedef struct BlkdebugRule {
    int event;
    int action;
    int state; /* 0: any */
    uint64_t iotype_mask;
    int error;
    bool immediately, once;
    int64_t offset; /* -1: any */
    int new_state;
    char *tag;
    struct BlkdebugRule *next;        /* in rules[event] */
    struct BlkdebugRule *active_next; /* in the active list */
} BlkdebugRule;

typedef struct SuspendedReq {
    Coroutine *co;
    char *tag;
    struct SuspendedReq *next;
} SuspendedReq;

typedef struct BDRVBlkdebugState {
    uint64_t align, max_transfer, opt_write_zero, max_write_zero, opt_discard, max_discard;
    char *config_file;
    int state;
    BlkdebugRule *rules[BLKDBG__MAX];
    BlkdebugRule *active;
    SuspendedReq *suspended;
} BDRVBlkdebugState;

static void rule_free(BlkdebugRule *r)
{
    g_free(r->tag);
    g_free(r);
}

/* Take rule out of its event's list and out of the active list, and free it. */
static void remove_rule(BDRVBlkdebugState *s, BlkdebugRule *rule)
{
    for (BlkdebugRule **p = &s->rules[rule->event]; *p; p = &(*p)->next) {
        if (*p == rule) {
            *p = rule->next;
            break;
        }
    }
    for (BlkdebugRule **p = &s->active; *p; p = &(*p)->active_next) {
        if (*p == rule) {
            *p = rule->active_next;
            break;
        }
    }
    rule_free(rule);
}

static void add_rule(BDRVBlkdebugState *s, BlkdebugRule *r)
{
    r->next = s->rules[r->event];
    s->rules[r->event] = r;
}

/* ---- rule groups: one group's key/value pairs, from the file or the options ---- */

typedef struct Group {
    bool inject; /* [inject-error], else [set-state] */
    GPtrArray *keys, *vals;
} Group;

static void group_free(gpointer p)
{
    Group *g = p;
    g_ptr_array_unref(g->keys);
    g_ptr_array_unref(g->vals);
    g_free(g);
}

static Group *group_new(bool inject)
{
    Group *g = g_new0(Group, 1);
    g->inject = inject;
    g->keys = g_ptr_array_new_with_free_func(g_free);
    g->vals = g_ptr_array_new_with_free_func(g_free);
    return g;
}

static const char *group_get(const Group *g, const char *key)
{
    const char *v = NULL;
    for (guint i = 0; i < g->keys->len; i++) {
        if (!strcmp(g_ptr_array_index(g->keys, i), key)) {
            v = g_ptr_array_index(g->vals, i);
        }
    }
    return v;
}

/* A key set in a group, checked as QemuOpts checks it against the group's description. */
static int group_set(Group *g, const char *key, const char *val, char **errp)
{
    static const char *const inject_keys[] = {"event",  "state", "iotype",      "errno",
                                              "sector", "once",  "immediately", NULL};
    static const char *const state_keys[] = {"event", "state", "new_state", NULL};
    const char *const *keys = g->inject ? inject_keys : state_keys;
    bool known = false;
    for (int i = 0; keys[i]; i++) {
        known = known || !strcmp(keys[i], key);
    }
    if (!known) {
        block_error(errp, "Invalid parameter '%s'", key);
        return -EINVAL;
    }
    if (!strcmp(key, "once") || !strcmp(key, "immediately")) {
        bool b;
        if (!qopts_parse_bool(val, &b)) {
            block_error(errp, "Parameter '%s' expects 'on' or 'off'", key);
            return -EINVAL;
        }
    } else if (strcmp(key, "event") && strcmp(key, "iotype")) {
        uint64_t n;
        if (qopts_strtou64(val, 0, &n) < 0) {
            block_error(errp, "Parameter '%s' expects a number", key);
            return -EINVAL;
        }
    }
    g_ptr_array_add(g->keys, g_strdup(key));
    g_ptr_array_add(g->vals, g_strdup(val));
    return 0;
}

static int64_t group_number(const Group *g, const char *key, int64_t def)
{
    const char *v = group_get(g, key);
    uint64_t n;
    if (!v || qopts_strtou64(v, 0, &n) < 0) {
        return def;
    }
    return (int64_t)n;
}

static bool group_bool(const Group *g, const char *key)
{
    const char *v = group_get(g, key);
    bool b = false;
    return v && qopts_parse_bool(v, &b) && b;
}

/* QEMU's config file syntax: "[group]" or '[group "id"]' lines, then `name = "value"`. */
static int parse_config(const char *path, GPtrArray *groups, char **errp)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        block_error_errno(errp, e, "Could not read blkdebug config file");
        return -e;
    }
    char line[1024];
    Group *cur = NULL;
    bool have_group = false;
    int ret = 0;
    while (ret == 0 && fgets(line, sizeof(line), f)) {
        char group[64], id[64], arg[64], value[1024];
        if (line[0] == '\n' || line[0] == '#') {
            continue;
        }
        if (sscanf(line, "[%63s \"%63[^\"]\"]", group, id) == 2 ||
            sscanf(line, "[%63[^]]]", group) == 1) {
            if (strcmp(group, "inject-error") && strcmp(group, "set-state")) {
                block_error(errp, "There is no option group '%s'", group);
                ret = -EINVAL;
                break;
            }
            cur = group_new(!strcmp(group, "inject-error"));
            g_ptr_array_add(groups, cur);
            have_group = true;
            continue;
        }
        value[0] = '\0';
        if (sscanf(line, " %63s = \"%1023[^\"]\"", arg, value) == 2 ||
            sscanf(line, " %63s = \"\"", arg) == 1) {
            if (!have_group) {
                block_error(errp, "no group defined");
                ret = -EINVAL;
                break;
            }
            ret = group_set(cur, arg, value, errp);
            continue;
        }
        block_error(errp, "parse error");
        ret = -EINVAL;
    }
    fclose(f);
    return ret;
}

/* "inject-error.N.key" / "set-state.N.key" options into groups (and out of opts). */
static int options_groups(QJ *opts, GPtrArray *groups, char **errp)
{
    static const char *const names[] = {"inject-error", "set-state"};
    for (int n = 0; n < 2; n++) {
        size_t plen = strlen(names[n]);
        GHashTable *by_index = g_hash_table_new(g_str_hash, g_str_equal);
        GPtrArray *order = g_ptr_array_new_with_free_func(g_free);
        for (size_t i = 0; i < opts->obj.n;) {
            const char *k = opts->obj.m[i].key;
            const char *dot;
            if (strncmp(k, names[n], plen) || k[plen] != '.' ||
                !(dot = strchr(k + plen + 1, '.'))) {
                i++;
                continue;
            }
            char *idx = g_strndup(k + plen + 1, (gsize)(dot - (k + plen + 1)));
            Group *g = g_hash_table_lookup(by_index, idx);
            if (!g) {
                g = group_new(n == 0);
                g_ptr_array_add(groups, g);
                g_ptr_array_add(order, idx);
                g_hash_table_insert(by_index, idx, g);
            } else {
                g_free(idx);
            }
            const QJ *v = opts->obj.m[i].value;
            int ret = group_set(g, dot + 1, v->type == QJ_STRING ? v->s : "", errp);
            if (ret < 0) {
                g_hash_table_destroy(by_index);
                g_ptr_array_unref(order);
                return ret;
            }
            qj_free(qj_take(opts, k));
        }
        g_hash_table_destroy(by_index);
        g_ptr_array_unref(order);
    }
    return 0;
}

static int make_rule(BDRVBlkdebugState *s, const Group *g, char **errp)
{
    const char *ev = group_get(g, "event");
    if (!ev) {
        block_error(errp, "Missing event name for rule");
        return -EINVAL;
    }
    int event = blkdebug_event_parse(ev);
    if (event < 0) {
        block_error(errp, "invalid parameter value: %s", ev);
        return -EINVAL;
    }
    BlkdebugRule *r = g_new0(BlkdebugRule, 1);
    r->event = event;
    r->state = (int)group_number(g, "state", 0);
    if (g->inject) {
        r->action = ACTION_INJECT_ERROR;
        r->error = (int)group_number(g, "errno", EIO);
        r->once = group_bool(g, "once");
        r->immediately = group_bool(g, "immediately");
        int64_t sector = group_number(g, "sector", -1);
        r->offset = sector == -1 ? -1 : sector * 512;
        const char *io = group_get(g, "iotype");
        if (io) {
            int t = -1;
            for (int i = 0; i < IO__MAX; i++) {
                if (!strcmp(iotype_names[i], io)) {
                    t = i;
                }
            }
            if (t < 0) {
                block_error(errp, "invalid parameter value: %s", io);
                g_free(r);
                return -EINVAL;
            }
            r->iotype_mask = 1ULL << t;
        } else {
            r->iotype_mask = (1ULL << IO_READ) | (1ULL << IO_WRITE) | (1ULL << IO_WRITE_ZEROES) |
                             (1ULL << IO_DISCARD) | (1ULL << IO_FLUSH);
        }
    } else {
        r->action = ACTION_SET_STATE;
        r->new_state = (int)group_number(g, "new_state", 0);
    }
    add_rule(s, r);
    return 0;
}

static int blkdebug_parse_filename(const char *filename, QJ *opts, char **errp)
{
    if (!g_str_has_prefix(filename, "blkdebug:")) {
        qj_set_str(opts, "x-image", filename);
        return 0;
    }
    filename += strlen("blkdebug:");
    const char *c = strchr(filename, ':');
    if (!c) {
        block_error(errp, "blkdebug requires both config file and image path");
        return -EINVAL;
    }
    if (c != filename) {
        char *conf = g_strndup(filename, (gsize)(c - filename));
        qj_set_str(opts, "config", conf);
        g_free(conf);
    }
    qj_set_str(opts, "x-image", c + 1);
    return 0;
}

static bool pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int blkdebug_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    BDRVBlkdebugState *s = g_new0(BDRVBlkdebugState, 1);
    bs->opaque = s;
    char *err = NULL;
    static const char *const sizes[] = {"align",          "max-transfer", "opt-write-zero",
                                        "max-write-zero", "opt-discard",  "max-discard"};
    uint64_t *dst[] = {&s->align,          &s->max_transfer, &s->opt_write_zero,
                       &s->max_write_zero, &s->opt_discard,  &s->max_discard};
    for (int i = 0; i < 6; i++) {
        if (!qopts_get_size(opts, sizes[i], 0, dst[i], &err)) {
            block_error(errp, "%s", err);
            g_free(err);
            return -EINVAL;
        }
    }
    s->config_file = g_strdup(qopts_get(opts, "config"));
    GPtrArray *groups = g_ptr_array_new_with_free_func(group_free);
    int ret = 0;
    if (s->config_file) {
        ret = parse_config(s->config_file, groups, errp);
    }
    if (ret == 0) {
        ret = options_groups(bs->open_options, groups, errp);
    }
    for (int inject = 1; inject >= 0 && ret == 0; inject--) {
        for (guint i = 0; i < groups->len && ret == 0; i++) {
            Group *g = g_ptr_array_index(groups, i);
            if (g->inject == inject) {
                ret = make_rule(s, g, errp);
            }
        }
    }
    g_ptr_array_unref(groups);
    if (ret < 0) {
        return ret;
    }
    s->state = 1;
    bs->file = bdrv_open_child(bs, qopts_get(opts, "x-image"), "image", flags, false, errp);
    if (!bs->file) {
        return -EINVAL;
    }
    uint64_t align = MAX(s->align, (uint64_t)MAX(bs->file->request_alignment, 1));
    if (s->align && (s->align >= INT_MAX || !pow2(s->align))) {
        block_error(errp, "Cannot meet constraints with align %" PRIu64, s->align);
        return -EINVAL;
    }
    if (s->max_transfer && (s->max_transfer >= INT_MAX || s->max_transfer % align)) {
        block_error(errp, "Cannot meet constraints with max-transfer %" PRIu64, s->max_transfer);
        return -EINVAL;
    }
    if (s->opt_write_zero && (s->opt_write_zero >= INT_MAX || s->opt_write_zero % align)) {
        block_error(errp, "Cannot meet constraints with opt-write-zero %" PRIu64,
                    s->opt_write_zero);
        return -EINVAL;
    }
    if (s->max_write_zero &&
        (s->max_write_zero >= INT_MAX || s->max_write_zero % MAX(s->opt_write_zero, align))) {
        block_error(errp, "Cannot meet constraints with max-write-zero %" PRIu64,
                    s->max_write_zero);
        return -EINVAL;
    }
    if (s->opt_discard && (s->opt_discard >= INT_MAX || s->opt_discard % align)) {
        block_error(errp, "Cannot meet constraints with opt-discard %" PRIu64, s->opt_discard);
        return -EINVAL;
    }
    if (s->max_discard &&
        (s->max_discard >= INT_MAX || s->max_discard % MAX(s->opt_discard, align))) {
        block_error(errp, "Cannot meet constraints with max-discard %" PRIu64, s->max_discard);
        return -EINVAL;
    }
    bs->request_alignment = s->align ? (uint32_t)s->align : bs->file->request_alignment;
    bs->max_transfer = s->max_transfer;
    bs->pwrite_zeroes_alignment = s->opt_write_zero;
    bs->max_pwrite_zeroes = s->max_write_zero;
    bs->pdiscard_alignment = s->opt_discard;
    bs->max_pdiscard = s->max_discard;
    g_free(bs->filename);
    bs->filename =
        g_strdup_printf("blkdebug:%s:%s", s->config_file ? s->config_file : "", bs->file->filename);
    bdrv_debug_event(bs, BLKDBG_NONE);
    return 0;
}

static void blkdebug_close(BlockDriverState *bs)
{
    BDRVBlkdebugState *s = bs->opaque;
    for (int i = 0; i < BLKDBG__MAX; i++) {
        while (s->rules[i]) {
            BlkdebugRule *r = s->rules[i];
            s->rules[i] = r->next;
            rule_free(r);
        }
    }
    while (s->suspended) {
        SuspendedReq *r = s->suspended;
        s->suspended = r->next;
        g_free(r->tag);
        g_free(r);
    }
    g_free(s->config_file);
}

/* The error for a request, from the first active rule that matches it (0: none). */
static int rule_check(BlockDriverState *bs, uint64_t offset, uint64_t bytes, BlkdebugIOType t)
{
    BDRVBlkdebugState *s = bs->opaque;
    BlkdebugRule *rule;
    for (rule = s->active; rule; rule = rule->active_next) {
        int64_t o = rule->offset;
        if ((o == -1 || (bytes && (uint64_t)o >= offset && (uint64_t)o < offset + bytes)) &&
            (rule->iotype_mask & (1ULL << t))) {
            break;
        }
    }
    if (!rule || !rule->error) {
        return 0;
    }
    bool immediately = rule->immediately;
    int error = rule->error;
    if (rule->once) {
        remove_rule(s, rule);
    }
    if (!immediately && qemu_in_coroutine()) {
        /* the error arrives from the event loop, not within the request's call */
        aio_co_schedule(qemu_coroutine_self());
        qemu_coroutine_yield();
    }
    return -error;
}

static int blkdebug_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    int err = rule_check(bs, offset, bytes, IO_READ);
    return err ? err : bdrv_pread(bs->file, offset, bytes, buf);
}

static int blkdebug_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                           int flags)
{
    int err = rule_check(bs, offset, bytes, IO_WRITE);
    return err ? err : bdrv_pwrite(bs->file, offset, bytes, buf, flags & ~BDRV_REQ_COMPRESSED);
}

static int blkdebug_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    uint64_t align = MAX((uint64_t)bs->request_alignment, bs->pwrite_zeroes_alignment);
    if (align > 1 && bytes < align) {
        return -ENOTSUP; /* the generic layer writes zeroes instead, as QEMU's test driver */
    }
    int err = rule_check(bs, offset, bytes, IO_WRITE_ZEROES);
    return err ? err : bdrv_pwrite_zeroes(bs->file, offset, bytes, flags);
}

static int blkdebug_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    if (bs->request_alignment > 1 && bytes < bs->request_alignment) {
        return 0;
    }
    int err = rule_check(bs, offset, bytes, IO_DISCARD);
    return err ? err : bdrv_discard(bs->file, offset, bytes);
}

static int blkdebug_flush(BlockDriverState *bs)
{
    int err = rule_check(bs, 0, 0, IO_FLUSH);
    return err ? err : bdrv_flush(bs->file);
}

static int blkdebug_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                 uint64_t *pnum, uint64_t *map, BlockDriverState **file)
{
    int err = rule_check(bs, offset, bytes, IO_BLOCK_STATUS);
    if (err) {
        return err;
    }
    int ret = bdrv_block_status(bs->file, offset, bytes, pnum, map, file);
    if (ret < 0) {
        return ret;
    }
    return ret & ~BDRV_BLOCK_ALLOCATED;
}

static int64_t blkdebug_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs->file);
}

static int blkdebug_truncate(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                             char **errp)
{
    return bdrv_truncate(bs->file, size, exact, prealloc, errp);
}

static int blkdebug_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    return bdrv_get_info(bs->file, bdi);
}

static void blkdebug_debug_event(BlockDriverState *bs, BlkdebugEvent event)
{
    BDRVBlkdebugState *s = bs->opaque;
    int count[ACTION__MAX] = {0};
    int new_state = s->state;
    BlkdebugRule *next;
    for (BlkdebugRule *r = s->rules[event]; r; r = next) {
        next = r->next;
        if (r->state && r->state != s->state) {
            continue;
        }
        count[r->action]++;
        switch (r->action) {
        case ACTION_INJECT_ERROR:
            if (count[ACTION_INJECT_ERROR] == 1) {
                s->active = NULL;
            }
            r->active_next = s->active;
            s->active = r;
            break;
        case ACTION_SET_STATE:
            new_state = r->new_state;
            break;
        case ACTION_SUSPEND: {
            SuspendedReq *req = g_new0(SuspendedReq, 1);
            req->co = qemu_coroutine_self();
            req->tag = g_strdup(r->tag);
            remove_rule(s, r);
            req->next = s->suspended;
            s->suspended = req;
            printf("blkdebug: Suspended request '%s'\n", req->tag);
            if (!req->co) {
                /* outside a coroutine nothing can wait: drop it at once */
                s->suspended = req->next;
                g_free(req->tag);
                g_free(req);
                count[ACTION_SUSPEND]--;
            }
            break;
        }
        }
    }
    s->state = new_state;
    while (count[ACTION_SUSPEND]-- > 0) {
        qemu_coroutine_yield();
    }
}

static int blkdebug_debug_breakpoint(BlockDriverState *bs, const char *event, const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    int ev = blkdebug_event_parse(event);
    if (ev < 0) {
        return -ENOENT;
    }
    BlkdebugRule *r = g_new0(BlkdebugRule, 1);
    r->event = ev;
    r->action = ACTION_SUSPEND;
    r->tag = g_strdup(tag);
    add_rule(s, r);
    return 0;
}

/* With `all`, every request with the tag is resumed and, as in QEMU, -ENOENT returned. */
static int resume_by_tag(BDRVBlkdebugState *s, const char *tag, bool all)
{
retry:
    for (SuspendedReq **p = &s->suspended; *p; p = &(*p)->next) {
        SuspendedReq *r = *p;
        if (strcmp(r->tag, tag)) {
            continue;
        }
        printf("blkdebug: Resuming request '%s'\n", r->tag);
        *p = r->next;
        Coroutine *co = r->co;
        g_free(r->tag);
        g_free(r);
        qemu_coroutine_enter(co);
        if (all) {
            goto retry;
        }
        return 0;
    }
    return -ENOENT;
}

static int blkdebug_debug_resume(BlockDriverState *bs, const char *tag)
{
    return resume_by_tag(bs->opaque, tag, false);
}

static int blkdebug_debug_remove_breakpoint(BlockDriverState *bs, const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    int ret = -ENOENT;
    for (int i = 0; i < BLKDBG__MAX; i++) {
        BlkdebugRule *next;
        for (BlkdebugRule *r = s->rules[i]; r; r = next) {
            next = r->next;
            if (r->action == ACTION_SUSPEND && !strcmp(r->tag, tag)) {
                remove_rule(s, r);
                ret = 0;
            }
        }
    }
    if (resume_by_tag(s, tag, true) == 0) {
        ret = 0;
    }
    return ret;
}

static bool blkdebug_debug_is_suspended(BlockDriverState *bs, const char *tag)
{
    BDRVBlkdebugState *s = bs->opaque;
    for (SuspendedReq *r = s->suspended; r; r = r->next) {
        if (!strcmp(r->tag, tag)) {
            return true;
        }
    }
    return false;
}

static const char *const blkdebug_runtime_opts[] = {
    "config",
    "x-image",
    "align",
    "max-transfer",
    "opt-write-zero",
    "max-write-zero",
    "opt-discard",
    "max-discard",
    "take-child-perms.",
    "unshare-child-perms.",
    NULL,
};

const BlockDriver bdrv_blkdebug = {
    .format_name = "blkdebug",
    .is_protocol = true,
    .protocol_name = "blkdebug",
    .is_filter = true,
    .parse_filename = blkdebug_parse_filename,
    .runtime_opts = blkdebug_runtime_opts,
    .open = blkdebug_open,
    .close = blkdebug_close,
    .pread = blkdebug_pread,
    .pwrite = blkdebug_pwrite,
    .pwrite_zeroes = blkdebug_pwrite_zeroes,
    .discard = blkdebug_discard,
    .flush = blkdebug_flush,
    .block_status = blkdebug_block_status,
    .getlength = blkdebug_getlength,
    .truncate = blkdebug_truncate,
    .get_info = blkdebug_get_info,
    .debug_event = blkdebug_debug_event,
    .debug_breakpoint = blkdebug_debug_breakpoint,
    .debug_remove_breakpoint = blkdebug_debug_remove_breakpoint,
    .debug_resume = blkdebug_debug_resume,
    .debug_is_suspended = blkdebug_debug_is_suspended,
};
