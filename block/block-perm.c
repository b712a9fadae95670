/*
 * Permissions on nodes, as QEMU's block layer has them (BLK_PERM_*): which users of a node
 * read it consistently, write it, resize it, and which of these they let others do.
 *
 * The users of a node are its parents in the graph (a format node using its "file" child, an
 * overlay using its "backing" child, qcow2 using its data file) and users outside the graph
 * (BdrvUser: a backend a device writes through, a tool's open image). Each parent link asks for
 * what its driver needs, derived from what the parent itself is asked for; a node's perm is the
 * union of its users' permissions and its shared_perm the intersection of what they share.
 * Inside one process two users of a node conflict when one needs what another does not share
 * (QEMU's "Permission conflict on node" message); across processes the file driver guards the
 * combined permissions with OFD lock bytes (block/file-posix.c), so that QEMU and Vireo see
 * each other.
 *
 * The rules below are QEMU 7.2's as observed through its lock bytes (tests/qemu-img/locking.sh
 * compares every tool command's bytes with qemu-img's and qemu-io's):
 *   - qcow2 (any format with metadata) on its file and data file: CONSISTENT_READ unless opened
 *     without I/O, WRITE and RESIZE when writable; it shares neither WRITE nor RESIZE (another
 *     writer would change the metadata under it) unless force-share=on;
 *   - raw passes its own users' permissions to its file unchanged;
 *   - an overlay on its backing node: CONSISTENT_READ (unless without I/O), sharing everything.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"

static const char *const perm_names[] = {"consistent read", "write", "write unchanged", "resize"};

char *bdrv_perm_names(uint64_t perm)
{
    GString *s = g_string_new(NULL);
    for (unsigned i = 0; i < G_N_ELEMENTS(perm_names); i++) {
        if (perm & (1ULL << i)) {
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", perm_names[i]);
        }
    }
    return g_string_free(s, FALSE);
}

void bdrv_flags_to_perm(int flags, uint64_t *perm, uint64_t *shared)
{
    *perm = (flags & BDRV_O_NO_IO) ? 0 : BLK_PERM_CONSISTENT_READ;
    if (flags & BDRV_O_RDWR) {
        *perm |= BLK_PERM_WRITE;
    }
    if (flags & BDRV_O_RESIZE) {
        *perm |= BLK_PERM_RESIZE;
    }
    *shared = (flags & BDRV_O_NO_SHARE) ? BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED
                                        : BLK_PERM_ALL;
}

/* One way a node is used: by a parent node through a child role, or by a BdrvUser. */
typedef struct PermEdge {
    const char *role; /* "file", "backing", "data-file", "root" */
    BlockDriverState *parent;
    const BdrvUser *user;
    uint64_t perm, shared;
} PermEdge;

typedef struct PermState {
    GHashTable *done; /* node -> PermResult (computed perm / shared) */
} PermState;

typedef struct PermResult {
    uint64_t perm, shared;
} PermResult;

static void node_perm(PermState *ps, BlockDriverState *bs, uint64_t *perm, uint64_t *shared);

/* What `parent` (whose users want perm/shared) asks of its child in `role`. */
static void child_perm(BlockDriverState *parent, const char *role, uint64_t perm, uint64_t shared,
                       uint64_t *cperm, uint64_t *cshared)
{
    bool no_io = parent->open_flags & BDRV_O_NO_IO;
    bool force = parent->open_flags & BDRV_O_FORCE_SHARE;
    if (!strcmp(role, "backing")) {
        *cperm = no_io ? 0 : BLK_PERM_CONSISTENT_READ;
        *cshared = BLK_PERM_ALL;
        return;
    }
    if (parent->drv == &bdrv_raw || parent->drv->is_filter) {
        *cperm = perm;
        *cshared = force ? BLK_PERM_ALL : shared;
        return;
    }
    *cperm = no_io ? 0 : BLK_PERM_CONSISTENT_READ;
    if (!parent->read_only) {
        *cperm |= BLK_PERM_WRITE | BLK_PERM_RESIZE;
    }
    *cshared = force ? BLK_PERM_ALL : BLK_PERM_ALL & ~(BLK_PERM_WRITE | BLK_PERM_RESIZE);
}

/* Every use of bs: its users and the child links of the nodes above it. */
static GArray *node_edges(PermState *ps, BlockDriverState *bs)
{
    GArray *edges = g_array_new(FALSE, TRUE, sizeof(PermEdge));
    for (const BdrvUser *u = bs->users; u; u = u->next) {
        PermEdge e = {"root", NULL, u, u->perm, u->shared};
        g_array_append_val(edges, e);
    }
    for (BlockDriverState *p = bdrv_next_node(NULL); p; p = bdrv_next_node(p)) {
        const char *roles[3] = {NULL, NULL, NULL};
        roles[0] = p->file == bs ? "file" : NULL;
        roles[1] = p->backing == bs ? "backing" : NULL;
        roles[2] = p->data_file == bs ? "data-file" : NULL;
        for (int r = 0; r < 3; r++) {
            if (!roles[r]) {
                continue;
            }
            uint64_t pp, ps_;
            node_perm(ps, p, &pp, &ps_);
            PermEdge e = {roles[r], p, NULL, 0, 0};
            child_perm(p, roles[r], pp, ps_, &e.perm, &e.shared);
            g_array_append_val(edges, e);
        }
    }
    return edges;
}

static void node_perm(PermState *ps, BlockDriverState *bs, uint64_t *perm, uint64_t *shared)
{
    PermResult *r = g_hash_table_lookup(ps->done, bs);
    if (r) {
        *perm = r->perm;
        *shared = r->shared;
        return;
    }
    GArray *edges = node_edges(ps, bs);
    *perm = 0;
    *shared = BLK_PERM_ALL;
    for (guint i = 0; i < edges->len; i++) {
        PermEdge *e = &g_array_index(edges, PermEdge, i);
        *perm |= e->perm;
        *shared &= e->shared;
    }
    g_array_free(edges, TRUE);
    r = g_new(PermResult, 1);
    r->perm = *perm;
    r->shared = *shared;
    g_hash_table_insert(ps->done, bs, r);
}

static char *edge_desc(const PermEdge *e)
{
    if (e->user) {
        return g_strdup(e->user->name);
    }
    return g_strdup_printf("node '%s'", e->parent->node_name);
}

/* Two users of one node in this process that exclude each other: QEMU's message. */
static int check_conflicts(PermState *ps, BlockDriverState *bs, char **errp)
{
    GArray *edges = node_edges(ps, bs);
    int ret = 0;
    for (guint i = 0; i < edges->len && !ret; i++) {
        for (guint j = 0; j < edges->len && !ret; j++) {
            PermEdge *a = &g_array_index(edges, PermEdge, i);
            PermEdge *b = &g_array_index(edges, PermEdge, j);
            uint64_t clash = a->perm & ~b->shared;
            if (i == j || !clash) {
                continue;
            }
            char *names = bdrv_perm_names(clash), *da = edge_desc(a), *db = edge_desc(b);
            block_error(errp,
                        "Permission conflict on node '%s': permissions '%s' are both required "
                        "by %s (uses node '%s' as '%s' child) and unshared by %s (uses node "
                        "'%s' as '%s' child).",
                        bs->node_name, names, da, bs->node_name, a->role, db, bs->node_name,
                        b->role);
            g_free(names);
            g_free(da);
            g_free(db);
            ret = -EPERM;
        }
    }
    g_array_free(edges, TRUE);
    return ret;
}

int bdrv_refresh_perms(char **errp)
{
    PermState ps = {g_hash_table_new_full(NULL, NULL, NULL, g_free)};
    int ret = 0;
    for (BlockDriverState *bs = bdrv_next_node(NULL); bs && !ret; bs = bdrv_next_node(bs)) {
        ret = check_conflicts(&ps, bs, errp);
    }
    for (BlockDriverState *bs = bdrv_next_node(NULL); bs && !ret; bs = bdrv_next_node(bs)) {
        uint64_t perm, shared;
        node_perm(&ps, bs, &perm, &shared);
        bs->perm = perm;
        bs->shared_perm = shared;
        if (bs->drv->set_perm && bs->opaque) {
            ret = bs->drv->set_perm(bs, perm, shared, errp);
        }
    }
    g_hash_table_destroy(ps.done);
    return ret;
}

BdrvUser *bdrv_add_user(BlockDriverState *bs, const char *name, uint64_t perm, uint64_t shared,
                        char **errp)
{
    BdrvUser *u = g_new0(BdrvUser, 1);
    u->bs = bs;
    u->name = g_strdup(name);
    u->perm = perm;
    u->shared = shared;
    u->next = bs->users;
    bs->users = u;
    if (bdrv_refresh_perms(errp) < 0) {
        bdrv_remove_user(u);
        return NULL;
    }
    return u;
}

int bdrv_user_set_perm(BdrvUser *u, uint64_t perm, uint64_t shared, char **errp)
{
    uint64_t old_perm = u->perm, old_shared = u->shared;
    u->perm = perm;
    u->shared = shared;
    int ret = bdrv_refresh_perms(errp);
    if (ret < 0) {
        u->perm = old_perm;
        u->shared = old_shared;
        bdrv_refresh_perms(NULL);
    }
    return ret;
}

void bdrv_remove_user(BdrvUser *u)
{
    for (BdrvUser **p = &u->bs->users; *p; p = &(*p)->next) {
        if (*p == u) {
            *p = u->next;
            break;
        }
    }
    g_free(u->name);
    g_free(u);
    bdrv_refresh_perms(NULL);
}
