/*
 * The memory map: region trees for guest-physical memory and port I/O, flattened into one view
 * per address space at each commit, listeners (accelerators), write-eventfds, dispatch, dirty
 * tracking, and the reclamation of old views and freed RAM (include/vireo/memory.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/loader.h"
#include "vireo/memory.h"

struct AddressSpace {
    const char *name;
    MemoryRegion *root;
    FlatView *view; /* atomic pointer */
    /* the write-eventfds in effect (absolute addresses), as last told to the listeners */
    MREventfd *efds;
    unsigned n_efds;
    bool *efd_taken; /* per entry: an accelerator handles it */
};

static MemoryRegion system_memory, system_io;
AddressSpace address_space_memory = {.name = "memory", .root = &system_memory};
AddressSpace address_space_io = {.name = "I/O", .root = &system_io};
static AddressSpace *const spaces[] = {&address_space_memory, &address_space_io};
static bool roots_ready;

static MemoryListener *listeners;
static unsigned transaction_depth;
static bool map_changed;
static uint64_t seq_counter;
static uint64_t generation = 1;

/* ---- readers and reclamation ---------------------------------------------------------- */

static pthread_rwlock_t read_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
static MemoryReader *readers;

typedef struct Retired {
    uint64_t generation; /* free once every online reader has seen at least this */
    FlatView *view;
    void *mem;
    size_t mem_size;
    struct Retired *next;
} Retired;
static Retired *retired;

void memory_read_lock(void)
{
    pthread_rwlock_rdlock(&read_lock);
}

void memory_read_unlock(void)
{
    pthread_rwlock_unlock(&read_lock);
}

uint64_t memory_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_SEQ_CST);
}

void memory_reader_register(MemoryReader *r)
{
    pthread_mutex_lock(&readers_lock);
    r->seen = memory_generation();
    r->next = readers;
    readers = r;
    pthread_mutex_unlock(&readers_lock);
}

void memory_reader_unregister(MemoryReader *r)
{
    pthread_mutex_lock(&readers_lock);
    for (MemoryReader **p = &readers; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&readers_lock);
}

uint64_t memory_reader_quiescent(MemoryReader *r)
{
    uint64_t g = memory_generation();
    if (__atomic_load_n(&r->seen, __ATOMIC_RELAXED) != g) {
        __atomic_store_n(&r->seen, g, __ATOMIC_SEQ_CST);
    }
    return g;
}

void memory_reader_offline(MemoryReader *r)
{
    __atomic_store_n(&r->seen, 0, __ATOMIC_SEQ_CST);
}

static void flatview_free(FlatView *v)
{
    if (v) {
        free(v->ranges);
        free(v);
    }
}

static void reclaim(void)
{
    pthread_mutex_lock(&readers_lock);
    uint64_t min = UINT64_MAX;
    for (MemoryReader *r = readers; r; r = r->next) {
        uint64_t s = __atomic_load_n(&r->seen, __ATOMIC_SEQ_CST);
        if (s && s < min) {
            min = s;
        }
    }
    pthread_mutex_unlock(&readers_lock);
    /* readers holding the read lock took their pointers before we return from this */
    pthread_rwlock_wrlock(&read_lock);
    pthread_rwlock_unlock(&read_lock);
    for (Retired **p = &retired; *p;) {
        Retired *e = *p;
        if (e->generation <= min) {
            *p = e->next;
            flatview_free(e->view);
            if (e->mem) {
                munmap(e->mem, e->mem_size);
            }
            free(e);
        } else {
            p = &e->next;
        }
    }
}

static void retire(FlatView *v, void *mem, size_t mem_size)
{
    Retired *e = calloc(1, sizeof(*e));
    if (!e) {
        abort(); /* out of memory: nothing sensible to do */
    }
    e->generation = memory_generation();
    e->view = v;
    e->mem = mem;
    e->mem_size = mem_size;
    e->next = retired;
    retired = e;
}

/* ---- regions --------------------------------------------------------------------------- */

static void roots_init(void)
{
    if (roots_ready) {
        return;
    }
    roots_ready = true;
    memory_region_init_container(&system_memory, "system", UINT64_MAX);
    memory_region_init_container(&system_io, "io", 0x10000);
}

MemoryRegion *get_system_memory(void)
{
    roots_init();
    return &system_memory;
}

MemoryRegion *get_system_io(void)
{
    roots_init();
    return &system_io;
}

static void region_init(MemoryRegion *mr, const char *name, MRType type, uint64_t size)
{
    memset(mr, 0, sizeof(*mr));
    mr->name = name;
    mr->type = type;
    mr->size = size ? size : 1;
    mr->enabled = true;
}

void memory_region_init_container(MemoryRegion *mr, const char *name, uint64_t size)
{
    region_init(mr, name, MR_CONTAINER, size);
}

/*
 * Reserve `size` bytes aligned to 2 MiB, so that the host can back guest RAM with transparent
 * huge pages: guest-physical 2 MiB frames then line up with host huge pages, and the nested
 * page tables need one entry per 2 MiB instead of 512 (far fewer EPT/NPT faults at boot).
 */
#define RAM_ALIGN (2ULL << 20)

static void *map_aligned(uint64_t size)
{
    uint64_t span = size + RAM_ALIGN;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        return MAP_FAILED;
    }
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + RAM_ALIGN - 1) & ~(uintptr_t)(RAM_ALIGN - 1));
    if (aligned > p) {
        munmap(p, aligned - p);
    }
    uint8_t *end = aligned + size;
    if (end < p + span) {
        munmap(end, p + span - end);
    }
    madvise(aligned, size, MADV_HUGEPAGE);
    madvise(aligned, size, MADV_DONTDUMP);
    return aligned;
}

bool memory_region_init_ram(MemoryRegion *mr, const char *name, uint64_t size)
{
    region_init(mr, name, MR_RAM, size);
    void *p = map_aligned(size);
    if (p == MAP_FAILED) {
        return false;
    }
    mr->host = p;
    mr->owns_host = true;
    return true;
}

void memory_region_init_ram_ptr(MemoryRegion *mr, const char *name, uint64_t size, void *host)
{
    region_init(mr, name, MR_RAM, size);
    mr->host = host;
}

bool memory_region_init_rom(MemoryRegion *mr, const char *name, uint64_t size)
{
    if (!memory_region_init_ram(mr, name, size)) {
        return false;
    }
    mr->readonly = true;
    return true;
}

void memory_region_init_io(MemoryRegion *mr, const char *name, const MemoryRegionOps *ops,
                           void *opaque, uint64_t size)
{
    region_init(mr, name, MR_IO, size);
    mr->ops = ops;
    mr->opaque = opaque;
}

void memory_region_init_alias(MemoryRegion *mr, const char *name, MemoryRegion *target,
                              uint64_t offset, uint64_t size)
{
    region_init(mr, name, MR_ALIAS, size);
    mr->alias = target;
    mr->alias_offset = offset;
}

static void changed(void)
{
    map_changed = true;
    if (!transaction_depth) {
        memory_transaction_begin();
        memory_transaction_commit();
    }
}

static void link_sub(MemoryRegion *parent, MemoryRegion *sub)
{
    sub->seq = ++seq_counter;
    MemoryRegion **p = &parent->subregions;
    /* priority descending; among equals the newest first */
    while (*p && (*p)->priority > sub->priority) {
        p = &(*p)->next_sibling;
    }
    sub->next_sibling = *p;
    *p = sub;
}

static void unlink_sub(MemoryRegion *parent, MemoryRegion *sub)
{
    for (MemoryRegion **p = &parent->subregions; *p; p = &(*p)->next_sibling) {
        if (*p == sub) {
            *p = sub->next_sibling;
            break;
        }
    }
    sub->next_sibling = NULL;
}

void memory_region_add_subregion(MemoryRegion *parent, uint64_t addr, MemoryRegion *sub,
                                 int priority)
{
    if (parent == &system_memory || parent == &system_io) {
        roots_init();
    }
    if (sub->parent) {
        memory_region_del_subregion(sub->parent, sub);
    }
    sub->parent = parent;
    sub->addr = addr;
    sub->priority = priority;
    link_sub(parent, sub);
    changed();
}

void memory_region_del_subregion(MemoryRegion *parent, MemoryRegion *sub)
{
    if (sub->parent != parent) {
        return;
    }
    unlink_sub(parent, sub);
    sub->parent = NULL;
    changed();
}

void memory_region_set_address(MemoryRegion *mr, uint64_t addr)
{
    if (mr->addr == addr && mr->parent) {
        return;
    }
    mr->addr = addr;
    if (mr->parent) {
        /* a moved region counts as newly added among its equals (QEMU re-adds it) */
        MemoryRegion *parent = mr->parent;
        unlink_sub(parent, mr);
        link_sub(parent, mr);
        changed();
    }
}

void memory_region_set_enabled(MemoryRegion *mr, bool enabled)
{
    if (mr->enabled == enabled) {
        return;
    }
    mr->enabled = enabled;
    changed();
}

void memory_region_set_readonly(MemoryRegion *mr, bool readonly)
{
    if (mr->readonly == readonly) {
        return;
    }
    mr->readonly = readonly;
    changed();
}

void memory_region_set_alias_offset(MemoryRegion *mr, uint64_t offset)
{
    if (mr->alias_offset == offset) {
        return;
    }
    mr->alias_offset = offset;
    changed();
}

void memory_region_destroy(MemoryRegion *mr)
{
    memory_transaction_begin();
    if (mr->parent) {
        memory_region_del_subregion(mr->parent, mr);
    }
    while (mr->subregions) {
        memory_region_del_subregion(mr, mr->subregions);
    }
    memory_transaction_commit();
    if (mr->owns_host && mr->host) {
        /* a vCPU may still reach it through a TLB entry until its next quiescent point */
        retire(NULL, mr->host, mr->size);
        reclaim();
    }
    free(mr->eventfds);
    free(mr->dirty);
    mr->host = NULL;
    mr->owns_host = false;
    mr->eventfds = NULL;
    mr->n_eventfds = 0;
    mr->dirty = NULL;
}

/* ---- flattening ---------------------------------------------------------------------- */

typedef struct ViewBuilder {
    FlatRange *r;
    unsigned n, cap;
} ViewBuilder;

static void vb_insert_at(ViewBuilder *b, unsigned i, FlatRange fr)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->r = realloc(b->r, b->cap * sizeof(*b->r));
        if (!b->r) {
            abort();
        }
    }
    memmove(&b->r[i + 1], &b->r[i], (b->n - i) * sizeof(*b->r));
    b->r[i] = fr;
    b->n++;
}

/* Add [start, last] of a terminal region where nothing rendered earlier (higher) is. */
static void vb_fill(ViewBuilder *b, uint64_t start, uint64_t last, MemoryRegion *mr,
                    uint64_t offset, bool ro)
{
    uint64_t cur = start;
    unsigned i = 0;
    while (i < b->n && b->r[i].last < cur) {
        i++;
    }
    for (;;) {
        uint64_t gap_last = last;
        if (i < b->n) {
            if (b->r[i].start <= cur) {
                /* covered: skip past it */
                if (b->r[i].last >= last) {
                    return;
                }
                cur = b->r[i].last + 1;
                i++;
                continue;
            }
            if (b->r[i].start - 1 < gap_last) {
                gap_last = b->r[i].start - 1;
            }
        }
        FlatRange fr = {cur, gap_last, mr, offset + (cur - start), ro};
        vb_insert_at(b, i, fr);
        i++;
        if (gap_last >= last) {
            return;
        }
        cur = gap_last + 1;
    }
}

/*
 * Render mr whose byte 0 sits at absolute `base` (an alias can put it below 0), within
 * [cs, cl]. Depth bounds alias loops a careless device could make.
 */
typedef __int128 Addr128;

static void render(ViewBuilder *b, MemoryRegion *mr, Addr128 base, uint64_t cs, uint64_t cl,
                   bool ro, int depth)
{
    if (!mr->enabled || depth > 16) {
        return;
    }
    Addr128 last = base + (Addr128)mr->size - 1;
    Addr128 s = base > (Addr128)cs ? base : (Addr128)cs;
    Addr128 l = last < (Addr128)cl ? last : (Addr128)cl;
    if (s > l) {
        return;
    }
    ro |= mr->readonly;
    switch (mr->type) {
    case MR_ALIAS:
        if (mr->alias) {
            /* the target's byte alias_offset sits at base */
            render(b, mr->alias, base - (Addr128)mr->alias_offset, (uint64_t)s, (uint64_t)l, ro,
                   depth + 1);
        }
        return;
    case MR_CONTAINER:
    case MR_RAM:
    case MR_IO:
        for (MemoryRegion *sub = mr->subregions; sub; sub = sub->next_sibling) {
            render(b, sub, base + (Addr128)sub->addr, (uint64_t)s, (uint64_t)l, ro, depth + 1);
        }
        if (mr->type != MR_CONTAINER) {
            vb_fill(b, (uint64_t)s, (uint64_t)l, mr, (uint64_t)(s - base),
                    mr->type == MR_RAM && ro);
        }
        return;
    }
}

/* Merge neighbours that continue each other (one KVM slot for RAM split only by history). */
static void vb_merge(ViewBuilder *b)
{
    unsigned o = 0;
    for (unsigned i = 0; i < b->n; i++) {
        if (o > 0) {
            FlatRange *p = &b->r[o - 1], *c = &b->r[i];
            if (p->mr == c->mr && p->readonly == c->readonly && p->last + 1 == c->start &&
                p->offset + (p->last - p->start + 1) == c->offset) {
                p->last = c->last;
                continue;
            }
        }
        b->r[o++] = b->r[i];
    }
    b->n = o;
}

static FlatView *build_view(AddressSpace *as)
{
    ViewBuilder b = {0};
    render(&b, as->root, 0, 0, as->root->size - 1, false, 0);
    vb_merge(&b);
    FlatView *v = calloc(1, sizeof(*v));
    if (!v) {
        abort();
    }
    v->ranges = b.r;
    v->n = b.n;
    return v;
}

static bool views_equal(const FlatView *a, const FlatView *b)
{
    if (!a || !b || a->n != b->n) {
        return false;
    }
    return !a->n || !memcmp(a->ranges, b->ranges, a->n * sizeof(*a->ranges));
}

const FlatView *address_space_view(AddressSpace *as)
{
    return __atomic_load_n(&as->view, __ATOMIC_ACQUIRE);
}

const FlatRange *flatview_lookup(const FlatView *v, uint64_t addr)
{
    if (!v) {
        return NULL;
    }
    unsigned lo = 0, hi = v->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        const FlatRange *r = &v->ranges[mid];
        if (addr < r->start) {
            hi = mid;
        } else if (addr > r->last) {
            lo = mid + 1;
        } else {
            return r;
        }
    }
    return NULL;
}

/* ---- eventfds ------------------------------------------------------------------------- */

void memory_region_add_eventfd(MemoryRegion *mr, uint64_t offset, unsigned size, bool match_data,
                               uint64_t data, int fd)
{
    MREventfd *n = realloc(mr->eventfds, (mr->n_eventfds + 1) * sizeof(*n));
    if (!n) {
        abort();
    }
    mr->eventfds = n;
    mr->eventfds[mr->n_eventfds++] = (MREventfd){offset, size, match_data, data, fd};
    changed();
}

void memory_region_del_eventfd(MemoryRegion *mr, uint64_t offset, unsigned size,
                               bool match_data, uint64_t data, int fd)
{
    for (unsigned i = 0; i < mr->n_eventfds; i++) {
        MREventfd *e = &mr->eventfds[i];
        if (e->offset == offset && e->size == size && e->match_data == match_data &&
            e->data == data && e->fd == fd) {
            memmove(e, e + 1, (mr->n_eventfds - i - 1) * sizeof(*e));
            mr->n_eventfds--;
            changed();
            return;
        }
    }
}

/* Absolute eventfds of the view: those of I/O ranges whose region offset covers them. */
static void collect_eventfds(const FlatView *v, MREventfd **out, unsigned *n_out)
{
    MREventfd *list = NULL;
    unsigned n = 0;
    for (unsigned i = 0; i < v->n; i++) {
        const FlatRange *r = &v->ranges[i];
        for (unsigned j = 0; j < r->mr->n_eventfds; j++) {
            MREventfd e = r->mr->eventfds[j];
            if (e.offset < r->offset || e.offset - r->offset > r->last - r->start) {
                continue;
            }
            e.offset = r->start + (e.offset - r->offset);
            list = realloc(list, (n + 1) * sizeof(*list));
            if (!list) {
                abort();
            }
            list[n++] = e;
        }
    }
    *out = list;
    *n_out = n;
}

static bool efd_same(const MREventfd *a, const MREventfd *b)
{
    return a->offset == b->offset && a->size == b->size && a->match_data == b->match_data &&
           a->data == b->data && a->fd == b->fd;
}

static bool efd_in(const MREventfd *e, const MREventfd *list, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (efd_same(e, &list[i])) {
            return true;
        }
    }
    return false;
}

static bool tell_efd_add(AddressSpace *as, const MREventfd *e)
{
    bool taken = false;
    for (MemoryListener *l = listeners; l; l = l->next) {
        if (l->eventfd_add &&
            l->eventfd_add(l, as, e->offset, e->size, e->match_data, e->data, e->fd)) {
            taken = true;
        }
    }
    return taken;
}

static void tell_efd_del(AddressSpace *as, const MREventfd *e)
{
    for (MemoryListener *l = listeners; l; l = l->next) {
        if (l->eventfd_del) {
            l->eventfd_del(l, as, e->offset, e->size, e->match_data, e->data, e->fd);
        }
    }
}

static void update_eventfds(AddressSpace *as, const FlatView *v)
{
    MREventfd *list;
    unsigned n;
    collect_eventfds(v, &list, &n);
    bool *taken = calloc(n ? n : 1, sizeof(bool));
    if (!taken) {
        abort();
    }
    for (unsigned i = 0; i < as->n_efds; i++) {
        if (!efd_in(&as->efds[i], list, n)) {
            tell_efd_del(as, &as->efds[i]);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        bool known = false;
        for (unsigned j = 0; j < as->n_efds; j++) {
            if (efd_same(&list[i], &as->efds[j])) {
                known = true;
                taken[i] = as->efd_taken[j];
                break;
            }
        }
        if (!known) {
            taken[i] = tell_efd_add(as, &list[i]);
        }
    }
    /* readers (try_eventfd) hold the read lock while they walk the list */
    pthread_rwlock_wrlock(&read_lock);
    MREventfd *old_list = as->efds;
    bool *old_taken = as->efd_taken;
    as->efds = list;
    as->efd_taken = taken;
    __atomic_store_n(&as->n_efds, n, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&read_lock);
    free(old_list);
    free(old_taken);
}

/* ---- commit and listeners ------------------------------------------------------------- */

void memory_transaction_begin(void)
{
    transaction_depth++;
}

void memory_transaction_commit(void)
{
    if (!transaction_depth || --transaction_depth || !map_changed) {
        return;
    }
    map_changed = false;
    roots_init();
    bool any = false;
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        AddressSpace *as = spaces[i];
        FlatView *old = as->view;
        FlatView *v = build_view(as);
        if (views_equal(old, v)) {
            flatview_free(v);
            update_eventfds(as, old);
            continue;
        }
        v->generation = memory_generation() + 1;
        __atomic_store_n(&as->view, v, __ATOMIC_RELEASE);
        __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);
        for (MemoryListener *l = listeners; l; l = l->next) {
            if (l->commit) {
                l->commit(l, as, old, v);
            }
        }
        update_eventfds(as, v);
        if (old) {
            retire(old, NULL, 0);
        }
        any = true;
    }
    if (any) {
        reclaim();
    }
}

void memory_listener_register(MemoryListener *l)
{
    l->next = listeners;
    listeners = l;
    roots_init();
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        AddressSpace *as = spaces[i];
        if (!as->view) {
            map_changed = true;
            memory_transaction_begin();
            memory_transaction_commit();
        }
        if (l->commit) {
            l->commit(l, as, NULL, as->view);
        }
        for (unsigned j = 0; j < as->n_efds; j++) {
            MREventfd *e = &as->efds[j];
            if (l->eventfd_add &&
                l->eventfd_add(l, as, e->offset, e->size, e->match_data, e->data, e->fd)) {
                as->efd_taken[j] = true;
            }
        }
    }
}

void memory_listener_unregister(MemoryListener *l)
{
    for (MemoryListener **p = &listeners; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    l->next = NULL;
    /* what the accelerator had taken falls back to the dispatcher */
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        AddressSpace *as = spaces[i];
        for (unsigned j = 0; j < as->n_efds; j++) {
            as->efd_taken[j] = false;
        }
    }
}

/* ---- dirty tracking -------------------------------------------------------------------- */

#define PAGE_BITS 12
#define BPL       (8 * sizeof(unsigned long))

void memory_region_set_dirty_log(MemoryRegion *mr, bool on)
{
    if (mr->type != MR_RAM || mr->dirty_log == on) {
        return;
    }
    if (on) {
        uint64_t pages = (mr->size + 4095) >> PAGE_BITS;
        mr->dirty = calloc((pages + BPL - 1) / BPL, sizeof(unsigned long));
        if (!mr->dirty) {
            abort();
        }
    }
    mr->dirty_log = on;
    if (!on) {
        free(mr->dirty);
        mr->dirty = NULL;
    }
    changed(); /* KVM sets KVM_MEM_LOG_DIRTY_PAGES on the slots, TCG re-fills TLBs */
    map_changed = true;
}

void memory_region_set_dirty(MemoryRegion *mr, uint64_t offset, uint64_t size)
{
    if (!mr->dirty_log || !mr->dirty || !size || offset >= mr->size) {
        return;
    }
    if (size > mr->size - offset) {
        size = mr->size - offset;
    }
    for (uint64_t pg = offset >> PAGE_BITS; pg <= (offset + size - 1) >> PAGE_BITS; pg++) {
        __atomic_fetch_or(&mr->dirty[pg / BPL], 1ul << (pg % BPL), __ATOMIC_RELAXED);
    }
}

bool memory_region_test_and_clear_dirty(MemoryRegion *mr, uint64_t offset, uint64_t size)
{
    if (!mr->dirty_log || !mr->dirty || !size || offset >= mr->size) {
        return false;
    }
    for (MemoryListener *l = listeners; l; l = l->next) {
        if (l->log_sync) {
            l->log_sync(l, mr);
        }
    }
    if (size > mr->size - offset) {
        size = mr->size - offset;
    }
    bool dirty = false;
    for (uint64_t pg = offset >> PAGE_BITS; pg <= (offset + size - 1) >> PAGE_BITS; pg++) {
        unsigned long bit = 1ul << (pg % BPL);
        if (__atomic_fetch_and(&mr->dirty[pg / BPL], ~bit, __ATOMIC_RELAXED) & bit) {
            dirty = true;
        }
    }
    return dirty;
}

void memory_region_get_dirty_bitmap(MemoryRegion *mr, unsigned long *bitmap)
{
    if (!mr->dirty_log || !mr->dirty) {
        return;
    }
    for (MemoryListener *l = listeners; l; l = l->next) {
        if (l->log_sync) {
            l->log_sync(l, mr);
        }
    }
    uint64_t words = (((mr->size + 4095) >> PAGE_BITS) + BPL - 1) / BPL;
    for (uint64_t i = 0; i < words; i++) {
        bitmap[i] = __atomic_exchange_n(&mr->dirty[i], 0ul, __ATOMIC_RELAXED);
    }
}

/* ---- RAM lookups ------------------------------------------------------------------------ */

const FlatRange *memory_lookup_ram(uint64_t gpa, uint8_t **host, uint64_t *avail)
{
    const FlatRange *r = flatview_lookup(address_space_view(&address_space_memory), gpa);
    if (!r || r->mr->type != MR_RAM || !r->mr->host) {
        return NULL;
    }
    *host = r->mr->host + r->offset + (gpa - r->start);
    *avail = r->last - gpa + 1;
    if (*avail == 0) { /* [gpa, 2^64) */
        *avail = UINT64_MAX;
    }
    return r;
}

void *gpa_to_hva(uint64_t gpa, uint64_t len)
{
    uint8_t *h;
    uint64_t avail;
    if (!memory_lookup_ram(gpa, &h, &avail) || len > avail) {
        return NULL;
    }
    return h;
}

int guest_write(uint64_t gpa, const void *buf, uint64_t len)
{
    void *h = gpa_to_hva(gpa, len);
    if (!h) {
        return -1;
    }
    memcpy(h, buf, len);
    loader_note_write(gpa, buf, len);
    return 0;
}

int guest_read(uint64_t gpa, void *buf, uint64_t len)
{
    void *h = gpa_to_hva(gpa, len);
    if (!h) {
        return -1;
    }
    memcpy(buf, h, len);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static uint64_t load_le(const void *data, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, data, size); /* x86 host: little endian */
    return v;
}

static bool efd_match(const MREventfd *e, uint64_t addr, uint64_t val, unsigned size)
{
    return e->offset == addr && (!e->size || e->size == size) &&
           (!e->match_data || e->data == val);
}

/* A write-eventfd of as at addr: signal it (no big lock). */
static bool try_eventfd(AddressSpace *as, uint64_t addr, const void *data, unsigned size)
{
    if (!__atomic_load_n(&as->n_efds, __ATOMIC_RELAXED)) {
        return false;
    }
    bool hit = false;
    uint64_t val = load_le(data, size);
    memory_read_lock();
    for (unsigned i = 0; i < as->n_efds; i++) {
        if (efd_match(&as->efds[i], addr, val, size)) {
            uint64_t one = 1;
            ssize_t r = write(as->efds[i].fd, &one, sizeof(one));
            (void)r;
            hit = true;
            break;
        }
    }
    memory_read_unlock();
    return hit;
}

bool address_space_access(AddressSpace *as, uint64_t addr, void *data, unsigned size,
                          bool is_write)
{
    const FlatRange *r = flatview_lookup(address_space_view(as), addr);
    if (!r) {
        /* unassigned: ports float high; memory reads 0, as QEMU 7.2's unassigned memory */
        if (!is_write) {
            memset(data, as == &address_space_io ? 0xff : 0, size);
        }
        return false;
    }
    MemoryRegion *mr = r->mr;
    uint64_t off = r->offset + (addr - r->start);
    if (mr->type == MR_RAM && mr->host) {
        /* a RAM access that exited (a KVM slot being replaced, TCG's slow path) */
        uint64_t n = size;
        if (off + n > mr->size) {
            n = mr->size - off;
        }
        if (!is_write) {
            memset(data, 0xff, size);
            memcpy(data, mr->host + off, n);
        } else if (!r->readonly) {
            memcpy(mr->host + off, data, n);
            memory_region_set_dirty(mr, off, n);
        } else if (mr->ops && mr->ops->write) {
            mr->ops->write(mr->opaque, off, load_le(data, size), size);
        }
        return true;
    }
    if (is_write) {
        if (mr->ops && mr->ops->write) {
            mr->ops->write(mr->opaque, off, load_le(data, size), size);
        }
    } else {
        uint64_t v = mr->ops && mr->ops->read ? mr->ops->read(mr->opaque, off, size) : ~0ULL;
        memcpy(data, &v, size);
    }
    return true;
}

void pio_dispatch(uint16_t port, void *data, unsigned size, bool is_write)
{
    if (is_write && try_eventfd(&address_space_io, port, data, size)) {
        return;
    }
    vireo_lock();
    address_space_access(&address_space_io, port, data, size, is_write);
    vireo_unlock();
}

bool mmio_dispatch(uint64_t addr, void *data, unsigned size, bool is_write)
{
    if (is_write && try_eventfd(&address_space_memory, addr, data, size)) {
        return true;
    }
    vireo_lock();
    bool r = address_space_access(&address_space_memory, addr, data, size, is_write);
    vireo_unlock();
    return r;
}

/* ---- fixed registrations of legacy devices ---------------------------------------------- */

typedef struct OwnedRegion {
    MemoryRegion mr;
    struct OwnedRegion *next;
} OwnedRegion;
static OwnedRegion *owned;

static MemoryRegion *register_owned(MemoryRegion *root, uint64_t base, uint64_t len,
                                    const IOOps *ops, void *opaque)
{
    OwnedRegion *o = calloc(1, sizeof(*o));
    if (!o) {
        abort();
    }
    memory_region_init_io(&o->mr, "legacy", ops, opaque, len);
    o->next = owned;
    owned = o;
    memory_region_add_subregion(root, base, &o->mr, 0);
    return &o->mr;
}

MemoryRegion *pio_register(uint16_t base, uint32_t len, const IOOps *ops, void *opaque)
{
    return register_owned(get_system_io(), base, len ? len : 1, ops, opaque);
}

MemoryRegion *mmio_register(uint64_t base, uint64_t len, const IOOps *ops, void *opaque)
{
    return register_owned(get_system_memory(), base, len ? len : 1, ops, opaque);
}

void io_reset_all(void)
{
    roots_init();
    memory_transaction_begin();
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        MemoryRegion *root = spaces[i]->root;
        while (root->subregions) {
            memory_region_del_subregion(root, root->subregions);
        }
    }
    memory_transaction_commit();
    while (owned) {
        OwnedRegion *o = owned;
        owned = o->next;
        free(o->mr.eventfds);
        free(o);
    }
}

/* ---- the PC's main RAM ------------------------------------------------------------------ */

GuestRAM guest_ram;
static MemoryRegion ram_region, ram_below_4g, ram_above_4g;

#define GiB (1ULL << 30)

int ram_alloc_pc(uint64_t size, uint64_t lowmem_limit)
{
    ram_free();
    void *p = map_aligned(size);
    if (p == MAP_FAILED) {
        error_report("cannot set up guest memory 'pc.ram': %s", strerror(errno));
        return -1;
    }
    guest_ram.base = p;
    guest_ram.base_size = size;
    uint64_t low = size < lowmem_limit ? size : lowmem_limit;
    guest_ram.blocks[0] = (RAMBlock){0, low, p};
    guest_ram.n = 1;
    memory_region_init_ram_ptr(&ram_region, "pc.ram", size, p);
    memory_transaction_begin();
    memory_region_init_alias(&ram_below_4g, "ram-below-4g", &ram_region, 0, low);
    memory_region_add_subregion(get_system_memory(), 0, &ram_below_4g, 0);
    if (size > low) {
        guest_ram.blocks[1] = (RAMBlock){4 * GiB, size - low, (uint8_t *)p + low};
        guest_ram.n = 2;
        memory_region_init_alias(&ram_above_4g, "ram-above-4g", &ram_region, low, size - low);
        memory_region_add_subregion(get_system_memory(), 4 * GiB, &ram_above_4g, 0);
    }
    memory_transaction_commit();
    return 0;
}

void ram_free(void)
{
    if (guest_ram.base) {
        memory_transaction_begin();
        memory_region_del_subregion(get_system_memory(), &ram_below_4g);
        memory_region_del_subregion(get_system_memory(), &ram_above_4g);
        memory_transaction_commit();
        /* no vCPU runs any more (machine teardown): the memory can go now */
        munmap(guest_ram.base, guest_ram.base_size);
    }
    memset(&guest_ram, 0, sizeof(guest_ram));
}

MemoryRegion *ram_region_main(void)
{
    return &ram_region;
}

uint64_t ram_top(void)
{
    uint64_t top = 0;
    for (unsigned i = 0; i < guest_ram.n; i++) {
        uint64_t end = guest_ram.blocks[i].gpa + guest_ram.blocks[i].size;
        top = end > top ? end : top;
    }
    return top;
}
