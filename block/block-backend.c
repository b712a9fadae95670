/*
 * Block backends and their asynchronous requests (see include/vireo/block-backend.h).
 *
 * Request flow. blk_aio_*() checks the request (medium, read-only, range), turns an all-zero
 * write into write-zeroes with detect-zeroes=on/unmap, and queues it on its graph's domain
 * (one per connected node graph: a node shared by two backends joins their domains). The
 * domain's dispatcher takes requests in order:
 *   - FAST: a read or write that io_map() maps through the format layers to a file node's
 *     descriptor (allocated qcow2 clusters, raw), with O_DIRECT's alignment: started at once
 *     on the descriptor, Linux AIO for aio=native nodes, the thread pool otherwise; so are
 *     flush, discard and write-zeroes of graphs without metadata (raw on file). Any number run
 *     at the same time.
 *   - SLOW: everything else goes through the driver stack (bdrv_submit) in a pool thread, one
 *     at a time per domain, and no FAST request starts meanwhile (io_map reads the qcow2
 *     caches the SLOW request may change). Discard, write-zeroes and truncate on a graph with
 *     metadata first wait for the FAST requests in flight to end (they may free clusters those
 *     use).
 * When a request's I/O ends (in a pool thread, or when Linux AIO events are reaped) the
 * dispatcher runs again right there; a write on a backend without write cache (writethrough)
 * or with FUA goes back to the queue as a flush first. Then the request waits in the done
 * list for its callback, which the main loop runs (an eventfd wakes it).
 *
 * One mutex (blk_lock) guards backends, domains and queues; driver code runs in the pool
 * without it, with the domain's exclusivity as its lock.
 */
#include <errno.h>
#include <libaio.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include "vireo/block-backend.h"

const char *const blockdev_on_error_names[] = {"report", "ignore", "enospc", "stop", "auto", NULL};

typedef enum {
    REQ_READ,
    REQ_WRITE,
    REQ_FLUSH,
    REQ_DISCARD,
    REQ_WRITE_ZEROES,
    REQ_CALL, /* blk_run_exclusive */
} ReqType;

typedef enum {
    KIND_FAST_RW,   /* data I/O on a descriptor */
    KIND_FAST_CALL, /* a driver call that needs no exclusivity (graphs without metadata) */
    KIND_SLOW,      /* one at a time per domain */
    KIND_SLOW_DRAIN /* one at a time, after the FAST requests in flight */
} ReqKind;

typedef struct BlkReq BlkReq;

typedef struct BlockDomain {
    struct BlockDomain *parent; /* union-find: merged into parent */
    BlkReq *head, *tail;        /* waiting to be dispatched */
    int fast_inflight;
    int slow_running;
    int peak_fast; /* the most FAST requests in flight at once */
} BlockDomain;

struct BlockBackend {
    char *name;
    BlockDriverState *root;
    BdrvUser *user;
    uint64_t perm, shared;
    bool write_cache;
    BlockdevOnError on_read_error, on_write_error;
    BlockIoStatus iostatus;
    bool iostatus_enabled;
    BlockAcctStats stats;
    void *legacy_info;
    /* device */
    bool has_dev;
    bool dev_owned; /* made by blk_for_device for a node: goes with the device (blk_detach_dev) */
    char *dev_path, *dev_id;
    const BlockDevOps *dev_ops;
    void *dev_opaque;
    int root_flags; /* BDRV_O_* a new medium is opened with (QEMU's root state) */
    /* requests: queued or in I/O / done, waiting for the callback */
    int in_io, awaiting_cb;
    int refs; /* blk_delete waits for these */
};

struct BlkReq {
    BlockBackend *blk;
    BlockDomain *domain; /* the domain it was queued on (find() gives the live one) */
    ReqType type, orig_type;
    BlockAcctType acct;
    bool accounted;
    uint64_t offset, bytes;
    struct iovec *iov;
    int niov;
    int flags;
    BlockCompletionFunc *cb;
    void *opaque;
    int ret;
    int64_t start_ns;
    ReqKind kind;
    bool flush_after; /* writethrough / FUA: a flush before completing */
    bool flushing;
    /* FAST: where the data goes */
    BlockDriverState *node;
    int fd;
    uint64_t host;
    void *bounce;
    struct iocb iocb;
    /* REQ_CALL */
    int (*fn)(void *);
    void *fn_opaque;
    bool *call_done;
    BlkReq *next;
};

static pthread_mutex_t blk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t blk_cond = PTHREAD_COND_INITIALIZER;
static GPtrArray *backends;
static GPtrArray *domains;
static BlkReq *done_head, *done_tail;
static int done_fd = -1;
static pthread_t main_thread;
static bool engine_ready;

void (*blk_io_error_event_hook)(BlockBackend *blk, bool is_read, BlockErrorAction action,
                                int error);
void (*blk_stop_vm_hook)(void);
void (*blk_tray_moved_hook)(BlockBackend *blk, const char *id, bool open);

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the thread pool ---- */

#define POOL_MAX_THREADS 16

typedef struct PoolJob {
    void (*fn)(BlkReq *r);
    BlkReq *r;
    struct PoolJob *next;
} PoolJob;

static PoolJob *pool_head, *pool_tail;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static int pool_threads, pool_idle;
static bool pool_quit;
static pthread_t pool_tids[POOL_MAX_THREADS];

static void *pool_worker(void *arg)
{
    pthread_mutex_lock(&blk_lock);
    for (;;) {
        while (!pool_head && !pool_quit) {
            pool_idle++;
            pthread_cond_wait(&pool_cond, &blk_lock);
            pool_idle--;
        }
        if (!pool_head) {
            break;
        }
        PoolJob *j = pool_head;
        pool_head = j->next;
        if (!pool_head) {
            pool_tail = NULL;
        }
        pthread_mutex_unlock(&blk_lock);
        j->fn(j->r); /* takes blk_lock itself to finish */
        g_free(j);
        pthread_mutex_lock(&blk_lock);
    }
    pthread_mutex_unlock(&blk_lock);
    return NULL;
}

/* Called with blk_lock held. */
static void pool_submit(void (*fn)(BlkReq *), BlkReq *r)
{
    PoolJob *j = g_new0(PoolJob, 1);
    j->fn = fn;
    j->r = r;
    if (pool_tail) {
        pool_tail->next = j;
    } else {
        pool_head = j;
    }
    pool_tail = j;
    if (pool_idle == 0 && pool_threads < POOL_MAX_THREADS) {
        if (pthread_create(&pool_tids[pool_threads], NULL, pool_worker, NULL) == 0) {
            pool_threads++;
        }
    }
    pthread_cond_signal(&pool_cond);
}

/* ---- Linux AIO ---- */

#define AIO_DEPTH 1024

static io_context_t aio_ctx;
static bool aio_ready;
static int aio_efd = -1;
static int aio_inflight;

static void request_io_done(BlkReq *r, int ret);

/* Collect ended Linux AIO requests; blk_lock held. */
static void aio_reap_locked(void)
{
    struct io_event ev[64];
    while (aio_inflight > 0) {
        struct timespec zero = {0, 0};
        int n = io_getevents(aio_ctx, 0, 64, ev, &zero);
        if (n <= 0) {
            break;
        }
        for (int i = 0; i < n; i++) {
            BlkReq *r = (BlkReq *)ev[i].data;
            long res = (long)ev[i].res;
            aio_inflight--;
            int ret = 0;
            if (res < 0) {
                ret = (int)res;
            } else if ((uint64_t)res < r->bytes) {
                if (r->type == REQ_READ) {
                    /* past the end of the file: zeros */
                    size_t got = (size_t)res;
                    for (int k = 0; k < r->niov && !r->bounce; k++) {
                        size_t len = r->iov[k].iov_len;
                        if (got < len) {
                            memset((char *)r->iov[k].iov_base + got, 0, len - got);
                        }
                        got = got > len ? got - len : 0;
                    }
                    if (r->bounce) {
                        memset((char *)r->bounce + res, 0, r->bytes - (uint64_t)res);
                    }
                } else {
                    ret = -EIO; /* a short O_DIRECT write: the disk is full */
                }
            }
            request_io_done(r, ret);
        }
    }
}

static gboolean on_aio_event(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t n;
    ssize_t rd = read(fd, &n, sizeof(n));
    (void)rd;
    pthread_mutex_lock(&blk_lock);
    aio_reap_locked();
    pthread_mutex_unlock(&blk_lock);
    return G_SOURCE_CONTINUE;
}

/* ---- completions on the main loop ---- */

static void run_callbacks(void)
{
    pthread_mutex_lock(&blk_lock);
    BlkReq *list = done_head;
    done_head = done_tail = NULL;
    pthread_mutex_unlock(&blk_lock);
    while (list) {
        BlkReq *r = list;
        list = r->next;
        if (r->cb) {
            r->cb(r->opaque, r->ret);
        }
        pthread_mutex_lock(&blk_lock);
        r->blk->awaiting_cb--;
        r->blk->refs--;
        pthread_cond_broadcast(&blk_cond);
        pthread_mutex_unlock(&blk_lock);
        g_free(r->iov);
        g_free(r);
    }
}

static gboolean on_done_event(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t n;
    ssize_t rd = read(fd, &n, sizeof(n));
    (void)rd;
    run_callbacks();
    return G_SOURCE_CONTINUE;
}

static void engine_init(void)
{
    if (engine_ready) {
        return;
    }
    engine_ready = true;
    main_thread = pthread_self();
    done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_unix_fd_add(done_fd, G_IO_IN, on_done_event, NULL);
    backends = backends ? backends : g_ptr_array_new();
    domains = domains ? domains : g_ptr_array_new_with_free_func(g_free);
}

static bool aio_init(void)
{
    if (aio_ready) {
        return true;
    }
    if (io_setup(AIO_DEPTH, &aio_ctx) < 0) {
        return false;
    }
    aio_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_unix_fd_add(aio_efd, G_IO_IN, on_aio_event, NULL);
    aio_ready = true;
    return true;
}

/* ---- domains ---- */

static BlockDomain *domain_find(BlockDomain *d)
{
    while (d->parent) {
        if (d->parent->parent) {
            d->parent = d->parent->parent;
        }
        d = d->parent;
    }
    return d;
}

static void domain_merge(BlockDomain *a, BlockDomain *b)
{
    a = domain_find(a);
    b = domain_find(b);
    if (a == b) {
        return;
    }
    b->fast_inflight += a->fast_inflight;
    b->slow_running += a->slow_running;
    if (a->head) {
        if (b->tail) {
            b->tail->next = a->head;
        } else {
            b->head = a->head;
        }
        b->tail = a->tail;
    }
    a->head = a->tail = NULL;
    a->parent = b;
}

static void graph_join(BlockDriverState *bs, BlockDomain **d)
{
    if (!bs) {
        return;
    }
    if (bs->domain) {
        if (*d) {
            domain_merge(bs->domain, *d);
        }
        *d = domain_find(bs->domain);
    }
    graph_join(bs->file, d);
    graph_join(bs->backing, d);
    graph_join(bs->data_file, d);
}

static void graph_set(BlockDriverState *bs, BlockDomain *d)
{
    if (!bs) {
        return;
    }
    bs->domain = d;
    graph_set(bs->file, d);
    graph_set(bs->backing, d);
    graph_set(bs->data_file, d);
}

/* The domain of a graph, made or merged as needed; blk_lock held. */
static BlockDomain *graph_domain(BlockDriverState *root)
{
    BlockDomain *d = NULL;
    graph_join(root, &d);
    if (!d) {
        d = g_new0(BlockDomain, 1);
        g_ptr_array_add(domains, d);
    }
    graph_set(root, d);
    return d;
}

/* A graph with no metadata (raw and file nodes only): no driver state to protect. */
static bool graph_stateless(BlockDriverState *bs)
{
    if (!bs) {
        return true;
    }
    if (bs->drv != &bdrv_raw && bs->drv != &bdrv_file) {
        return false;
    }
    return !bs->probed && graph_stateless(bs->file) && !bs->backing;
}

/* ---- dispatch ---- */

static void run_fast_rw(BlkReq *r);
static void run_call(BlkReq *r);
static void dispatch(BlockDomain *d);

static size_t iov_total(const struct iovec *iov, int niov)
{
    size_t n = 0;
    for (int i = 0; i < niov; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

static bool iov_aligned(const struct iovec *iov, int niov, size_t align)
{
    for (int i = 0; i < niov; i++) {
        if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (align - 1)) {
            return false;
        }
    }
    return true;
}

/* Map a read or write down to a descriptor; blk_lock held, no SLOW request running. */
static bool map_fast(BlkReq *r)
{
    BlockDriverState *node = r->blk->root;
    uint64_t host = r->offset;
    bool write = r->type == REQ_WRITE;
    if (!r->bytes || r->bytes > INT32_MAX || r->niov > IOV_MAX) {
        return false;
    }
    while (!node->drv->host_fd) {
        BlockDriverState *next = NULL;
        if (!node->drv->io_map || !node->drv->io_map(node, host, r->bytes, write, &next, &host)) {
            return false;
        }
        node = next;
    }
    size_t align = 1;
    int fd = node->drv->host_fd(node, &align);
    if (fd < 0 || ((host | r->bytes) & (align - 1)) || (write && node->read_only)) {
        return false;
    }
    r->fd = fd;
    r->host = host;
    r->node = node;
    if (write && r->blk->root->dirty_bitmaps) {
        /* the driver stack marks the others; here no SLOW request runs */
        bdrv_set_dirty(r->blk->root, r->offset, r->bytes);
    }
    if (align > 1 && !iov_aligned(r->iov, r->niov, align)) {
        if (posix_memalign(&r->bounce, align, r->bytes)) {
            return false;
        }
        if (write) {
            size_t off = 0;
            for (int i = 0; i < r->niov; i++) {
                memcpy((char *)r->bounce + off, r->iov[i].iov_base, r->iov[i].iov_len);
                off += r->iov[i].iov_len;
            }
        }
    }
    r->kind = KIND_FAST_RW;
    /* aio=native on a direct node: Linux AIO */
    if ((node->open_flags & BDRV_O_NATIVE_AIO) && (node->open_flags & BDRV_O_NOCACHE) &&
        aio_init() && aio_inflight < AIO_DEPTH) {
        struct iovec one = {r->bounce, r->bytes};
        const struct iovec *v = r->bounce ? &one : r->iov;
        int nv = r->bounce ? 1 : r->niov;
        if (write) {
            io_prep_pwritev(&r->iocb, fd, v, nv, (long long)host);
        } else {
            io_prep_preadv(&r->iocb, fd, v, nv, (long long)host);
        }
        r->iocb.data = r;
        io_set_eventfd(&r->iocb, aio_efd);
        struct iocb *cbs[1] = {&r->iocb};
        int ret;
        do {
            ret = io_submit(aio_ctx, 1, cbs);
        } while (ret == -EINTR);
        if (ret == 1) {
            aio_inflight++;
            return true;
        }
        /* EAGAIN and the like: the thread pool does it */
    }
    pool_submit(run_fast_rw, r);
    return true;
}

static ReqKind classify(BlkReq *r)
{
    BlockDriverState *root = r->blk->root;
    if (r->type == REQ_CALL) {
        return KIND_SLOW_DRAIN;
    }
    bool stateless = graph_stateless(root) && !root->dirty_bitmaps;
    if (r->type == REQ_READ || r->type == REQ_WRITE) {
        return KIND_SLOW;
    }
    if (stateless) {
        return KIND_FAST_CALL;
    }
    return r->type == REQ_FLUSH ? KIND_SLOW : KIND_SLOW_DRAIN;
}

static void dispatch(BlockDomain *d)
{
    d = domain_find(d);
    while (d->head && !d->slow_running) {
        BlkReq *r = d->head;
        bool fast = false;
        if (r->type == REQ_READ || r->type == REQ_WRITE) {
            fast = map_fast(r);
        }
        ReqKind kind = fast ? KIND_FAST_RW : classify(r);
        if (kind == KIND_SLOW_DRAIN && d->fast_inflight > 0) {
            break;
        }
        d->head = r->next;
        if (!d->head) {
            d->tail = NULL;
        }
        r->next = NULL;
        r->kind = kind;
        if (kind == KIND_FAST_RW) {
            d->fast_inflight++;
            d->peak_fast = MAX(d->peak_fast, d->fast_inflight);
        } else if (kind == KIND_FAST_CALL) {
            d->fast_inflight++;
            pool_submit(run_call, r);
        } else {
            d->slow_running++;
            pool_submit(run_call, r);
        }
    }
}

/* Queue a request on its domain (at the head for a writethrough flush); blk_lock held. */
static void enqueue(BlkReq *r, bool at_head)
{
    BlockDomain *d = domain_find(r->blk->root->domain);
    if (at_head) {
        r->next = d->head;
        d->head = r;
        if (!d->tail) {
            d->tail = r;
        }
    } else {
        r->next = NULL;
        if (d->tail) {
            d->tail->next = r;
        } else {
            d->head = r;
        }
        d->tail = r;
    }
    dispatch(d);
}

static void account_done(BlkReq *r)
{
    BlockAcctStats *st = &r->blk->stats;
    if (!r->accounted) {
        return;
    }
    int64_t t = now_ns();
    if (r->ret < 0) {
        st->failed_ops[r->acct]++;
    } else {
        st->nr_ops[r->acct]++;
        st->nr_bytes[r->acct] += r->bytes;
        st->total_time_ns[r->acct] += (uint64_t)(t - r->start_ns);
        if (r->acct == BLOCK_ACCT_WRITE && r->offset + r->bytes > st->wr_highest_offset) {
            st->wr_highest_offset = r->offset + r->bytes;
        }
    }
    st->last_access_ns = t;
}

/* The request's final result is known: to the done list; blk_lock held. */
static void finish_request(BlkReq *r)
{
    BlockBackend *blk = r->blk;
    account_done(r);
    if (r->type == REQ_CALL) {
        *r->call_done = true;
        blk->in_io--;
        pthread_cond_broadcast(&blk_cond);
        return; /* blk_run_exclusive's caller takes it from here */
    }
    blk->in_io--;
    blk->awaiting_cb++;
    r->next = NULL;
    if (done_tail) {
        done_tail->next = r;
    } else {
        done_head = r;
    }
    done_tail = r;
    uint64_t one = 1;
    ssize_t w = write(done_fd, &one, sizeof(one));
    (void)w;
    pthread_cond_broadcast(&blk_cond);
}

/* The I/O of a request ended (any thread); blk_lock held. */
static void request_io_done(BlkReq *r, int ret)
{
    BlockDomain *d = domain_find(r->domain);
    if (r->kind == KIND_FAST_RW || r->kind == KIND_FAST_CALL) {
        d->fast_inflight--;
    } else {
        d->slow_running--;
    }
    if (r->bounce && r->type == REQ_READ && ret >= 0) {
        size_t off = 0;
        for (int i = 0; i < r->niov; i++) {
            memcpy(r->iov[i].iov_base, (char *)r->bounce + off, r->iov[i].iov_len);
            off += r->iov[i].iov_len;
        }
    }
    free(r->bounce);
    r->bounce = NULL;
    if (r->kind == KIND_FAST_RW && r->type == REQ_WRITE && ret >= 0) {
        bdrv_note_write(r->node, r->host + r->bytes);
        bdrv_note_write(r->blk->root, r->offset + r->bytes);
    }
    if (r->flushing) {
        /* the flush after a writethrough write ended: the write's result, or the flush's error */
        r->type = r->orig_type;
        r->flushing = false;
        if (ret < 0) {
            r->ret = ret;
        }
    } else {
        r->ret = ret;
    }
    if (r->ret >= 0 && r->flush_after) {
        r->flush_after = false;
        r->flushing = true;
        r->orig_type = r->type;
        r->type = REQ_FLUSH;
        enqueue(r, true);
        return;
    }
    finish_request(r);
    dispatch(d);
}

/* Data I/O on the descriptor, in a pool thread. */
static void run_fast_rw(BlkReq *r)
{
    bool write = r->type == REQ_WRITE;
    struct iovec one = {r->bounce, r->bytes};
    struct iovec *v = r->bounce ? &one : g_memdup2(r->iov, sizeof(*r->iov) * (size_t)r->niov);
    int nv = r->bounce ? 1 : r->niov;
    struct iovec *cur = v;
    uint64_t off = r->host, left = r->bytes;
    int ret = 0;
    while (left) {
        ssize_t n =
            write ? pwritev(r->fd, cur, nv, (off_t)off) : preadv(r->fd, cur, nv, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            ret = -errno;
            break;
        }
        if (n == 0) {
            if (write) {
                ret = -EIO;
            } else {
                /* past the end of the file: zeros */
                for (int i = 0; i < nv; i++) {
                    memset(cur[i].iov_base, 0, cur[i].iov_len);
                }
            }
            break;
        }
        off += (uint64_t)n;
        left -= (uint64_t)n;
        size_t k = (size_t)n;
        while (nv && k >= cur->iov_len) {
            k -= cur->iov_len;
            cur++;
            nv--;
        }
        if (nv && k) {
            cur->iov_base = (char *)cur->iov_base + k;
            cur->iov_len -= k;
        }
    }
    if (!r->bounce) {
        g_free(v);
    }
    pthread_mutex_lock(&blk_lock);
    request_io_done(r, ret);
    pthread_mutex_unlock(&blk_lock);
}

/* A request through the driver stack, in a pool thread. */
static void run_call(BlkReq *r)
{
    BlockDriverState *bs = r->blk->root;
    int ret;
    if (r->type == REQ_CALL) {
        ret = r->fn(r->fn_opaque);
    } else {
        static const BlockRequestType types[] = {
            [REQ_READ] = BLOCK_REQ_READ,
            [REQ_WRITE] = BLOCK_REQ_WRITE,
            [REQ_FLUSH] = BLOCK_REQ_FLUSH,
            [REQ_DISCARD] = BLOCK_REQ_DISCARD,
            [REQ_WRITE_ZEROES] = BLOCK_REQ_WRITE_ZEROES,
        };
        BlockRequest br = {
            .type = types[r->type],
            .offset = r->offset,
            .bytes = r->bytes,
            .iov = r->iov,
            .niov = r->niov,
            .flags = r->flags & ~BDRV_REQ_FUA,
        };
        bdrv_submit(bs, &br);
        ret = br.ret;
    }
    pthread_mutex_lock(&blk_lock);
    request_io_done(r, ret);
    pthread_mutex_unlock(&blk_lock);
}

/*
 * Wait for a request to end (blk_lock held): a pool thread signals blk_cond; Linux AIO
 * completions are only seen by reaping, so look again after a millisecond.
 */
static void wait_for_progress(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&blk_cond, &blk_lock, &ts);
}

/* ---- submission ---- */

static BlkReq *new_request(BlockBackend *blk, ReqType type, uint64_t offset, uint64_t bytes,
                           const struct iovec *iov, int niov, int flags, BlockCompletionFunc *cb,
                           void *opaque)
{
    BlkReq *r = g_new0(BlkReq, 1);
    r->blk = blk;
    r->type = type;
    r->offset = offset;
    r->bytes = bytes;
    if (niov > 0) {
        r->iov = g_memdup2(iov, sizeof(*iov) * (size_t)niov);
        r->niov = niov;
    }
    r->flags = flags;
    r->cb = cb;
    r->opaque = opaque;
    r->start_ns = now_ns();
    r->fd = -1;
    switch (type) {
    case REQ_READ:
        r->acct = BLOCK_ACCT_READ;
        break;
    case REQ_WRITE:
    case REQ_WRITE_ZEROES:
        r->acct = BLOCK_ACCT_WRITE;
        break;
    case REQ_FLUSH:
        r->acct = BLOCK_ACCT_FLUSH;
        break;
    case REQ_DISCARD:
        r->acct = BLOCK_ACCT_UNMAP;
        break;
    case REQ_CALL:
        break;
    }
    r->accounted = type != REQ_CALL;
    return r;
}

/* Complete at once with ret (still through the main loop); blk_lock held. */
static void fail_now(BlkReq *r, int ret)
{
    r->ret = ret;
    r->blk->in_io++;
    finish_request(r);
}

static void submit(BlkReq *r)
{
    BlockBackend *blk = r->blk;
    pthread_mutex_lock(&blk_lock);
    engine_init();
    blk->refs++;
    BlockDriverState *root = blk->root;
    if (!root) {
        fail_now(r, -ENOMEDIUM);
        pthread_mutex_unlock(&blk_lock);
        return;
    }
    bool writes = r->type == REQ_WRITE || r->type == REQ_WRITE_ZEROES || r->type == REQ_DISCARD;
    if (writes && (root->read_only || !(blk->perm & BLK_PERM_WRITE))) {
        fail_now(r, -EPERM);
        pthread_mutex_unlock(&blk_lock);
        return;
    }
    pthread_mutex_unlock(&blk_lock);

    /* range and detect-zeroes need no lock: the length changes only exclusively */
    int64_t len = (r->type == REQ_FLUSH || r->type == REQ_CALL) ? 0 : bdrv_getlength(root);
    if (r->type != REQ_FLUSH && r->type != REQ_CALL &&
        (len < 0 || r->offset > (uint64_t)len || r->bytes > (uint64_t)len - r->offset)) {
        pthread_mutex_lock(&blk_lock);
        fail_now(r, len < 0 ? (int)len : -EIO);
        pthread_mutex_unlock(&blk_lock);
        return;
    }
    if (r->type == REQ_WRITE && root->detect_zeroes && r->bytes) {
        bool zero = true;
        for (int i = 0; i < r->niov && zero; i++) {
            zero = buffer_is_zero(r->iov[i].iov_base, r->iov[i].iov_len);
        }
        if (zero) {
            r->type = REQ_WRITE_ZEROES;
            if (root->detect_zeroes == BLOCKDEV_DETECT_ZEROES_UNMAP) {
                r->flags |= BDRV_REQ_MAY_UNMAP;
            }
        }
    }
    pthread_mutex_lock(&blk_lock);
    if ((r->type == REQ_WRITE || r->type == REQ_WRITE_ZEROES) &&
        (!blk->write_cache || (r->flags & BDRV_REQ_FUA))) {
        r->flush_after = true;
    }
    if (r->type == REQ_DISCARD && !(root->open_flags & BDRV_O_UNMAP)) {
        fail_now(r, 0); /* discard=ignore */
        pthread_mutex_unlock(&blk_lock);
        return;
    }
    blk->in_io++;
    r->domain = root->domain;
    enqueue(r, false);
    pthread_mutex_unlock(&blk_lock);
}

void blk_aio_preadv(BlockBackend *blk, uint64_t offset, const struct iovec *iov, int niov,
                    int flags, BlockCompletionFunc *cb, void *opaque)
{
    submit(new_request(blk, REQ_READ, offset, iov_total(iov, niov), iov, niov, flags, cb, opaque));
}

void blk_aio_pwritev(BlockBackend *blk, uint64_t offset, const struct iovec *iov, int niov,
                     int flags, BlockCompletionFunc *cb, void *opaque)
{
    submit(new_request(blk, REQ_WRITE, offset, iov_total(iov, niov), iov, niov, flags, cb, opaque));
}

void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque)
{
    submit(new_request(blk, REQ_FLUSH, 0, 0, NULL, 0, 0, cb, opaque));
}

void blk_aio_pdiscard(BlockBackend *blk, uint64_t offset, uint64_t bytes, BlockCompletionFunc *cb,
                      void *opaque)
{
    submit(new_request(blk, REQ_DISCARD, offset, bytes, NULL, 0, 0, cb, opaque));
}

void blk_aio_pwrite_zeroes(BlockBackend *blk, uint64_t offset, uint64_t bytes, int flags,
                           BlockCompletionFunc *cb, void *opaque)
{
    submit(new_request(blk, REQ_WRITE_ZEROES, offset, bytes, NULL, 0, flags, cb, opaque));
}

int blk_run_exclusive(BlockBackend *blk, int (*fn)(void *opaque), void *opaque)
{
    bool done = false;
    BlkReq *r = new_request(blk, REQ_CALL, 0, 0, NULL, 0, 0, NULL, NULL);
    r->fn = fn;
    r->fn_opaque = opaque;
    r->call_done = &done;
    pthread_mutex_lock(&blk_lock);
    engine_init();
    if (!blk->root) {
        pthread_mutex_unlock(&blk_lock);
        g_free(r);
        return -ENOMEDIUM;
    }
    blk->in_io++;
    r->domain = blk->root->domain;
    enqueue(r, false);
    while (!done) {
        aio_reap_locked();
        wait_for_progress();
    }
    int ret = r->ret;
    pthread_mutex_unlock(&blk_lock);
    g_free(r);
    return ret;
}

/* ---- draining ---- */

static bool on_main_thread(void)
{
    return engine_ready && pthread_equal(pthread_self(), main_thread);
}

void blk_drain(BlockBackend *blk)
{
    pthread_mutex_lock(&blk_lock);
    if (!engine_ready) {
        pthread_mutex_unlock(&blk_lock);
        return;
    }
    bool main = on_main_thread();
    for (;;) {
        aio_reap_locked();
        if (blk->in_io == 0 && (!main || blk->awaiting_cb == 0)) {
            break;
        }
        if (main && done_head) {
            pthread_mutex_unlock(&blk_lock);
            run_callbacks();
            pthread_mutex_lock(&blk_lock);
            continue;
        }
        wait_for_progress();
    }
    pthread_mutex_unlock(&blk_lock);
}

void blk_drain_all(void)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        blk_drain(blk);
    }
}

/* ---- backends ---- */

BlockBackend *blk_new(const char *name, BlockDriverState *root, char **errp)
{
    if (name && blk_by_name(name)) {
        block_error(errp, "Device with id '%s' already exists", name);
        return NULL;
    }
    if (name && bdrv_find_node(name)) {
        block_error(errp, "Device name '%s' conflicts with an existing node name", name);
        return NULL;
    }
    BlockBackend *blk = g_new0(BlockBackend, 1);
    blk->name = g_strdup(name ? name : "");
    blk->perm = BLK_PERM_CONSISTENT_READ;
    blk->shared = BLK_PERM_ALL;
    blk->write_cache = true;
    blk->on_read_error = BLOCKDEV_ON_ERROR_AUTO;
    blk->on_write_error = BLOCKDEV_ON_ERROR_ENOSPC;
    blk->stats.last_access_ns = -1;
    blk->stats.account_invalid = blk->stats.account_failed = true;
    if (root && blk_insert_bs(blk, root, errp) < 0) {
        g_free(blk->name);
        g_free(blk);
        return NULL;
    }
    pthread_mutex_lock(&blk_lock);
    if (!backends) {
        backends = g_ptr_array_new();
    }
    g_ptr_array_add(backends, blk);
    pthread_mutex_unlock(&blk_lock);
    return blk;
}

static char *user_name(BlockBackend *blk)
{
    if (blk->dev_path && !blk->name[0]) {
        return g_strdup_printf("block device '%s'", blk->dev_path);
    }
    return g_strdup_printf("block device '%s'", blk->name);
}

int blk_insert_bs(BlockBackend *blk, BlockDriverState *bs, char **errp)
{
    char *uname = user_name(blk);
    BdrvUser *u = bdrv_add_user(bs, uname, blk->perm, blk->shared, errp);
    g_free(uname);
    if (!u) {
        return -EPERM;
    }
    bdrv_ref(bs);
    pthread_mutex_lock(&blk_lock);
    engine_init();
    blk->user = u;
    blk->root = bs;
    blk->root_flags = bs->open_flags;
    graph_domain(bs);
    pthread_mutex_unlock(&blk_lock);
    return 0;
}

void blk_set_root_flags(BlockBackend *blk, int flags)
{
    blk->root_flags = flags;
}

int blk_root_flags(BlockBackend *blk)
{
    return blk->root_flags;
}

void blk_remove_bs(BlockBackend *blk)
{
    if (!blk->root) {
        return;
    }
    blk_drain(blk);
    BlockDriverState *bs = blk->root;
    pthread_mutex_lock(&blk_lock);
    blk->root = NULL;
    pthread_mutex_unlock(&blk_lock);
    bdrv_remove_user(blk->user);
    blk->user = NULL;
    bdrv_close(bs);
}

void blk_delete(BlockBackend *blk)
{
    blk_remove_bs(blk);
    pthread_mutex_lock(&blk_lock);
    while (blk->refs) {
        pthread_mutex_unlock(&blk_lock);
        run_callbacks();
        pthread_mutex_lock(&blk_lock);
        if (blk->refs) {
            pthread_cond_wait(&blk_cond, &blk_lock);
        }
    }
    g_ptr_array_remove(backends, blk);
    pthread_mutex_unlock(&blk_lock);
    g_free(blk->name);
    g_free(blk->dev_path);
    g_free(blk->dev_id);
    g_free(blk);
}

BlockBackend *blk_by_name(const char *name)
{
    for (guint i = 0; backends && i < backends->len; i++) {
        BlockBackend *blk = backends->pdata[i];
        if (blk->name[0] && !strcmp(blk->name, name)) {
            return blk;
        }
    }
    return NULL;
}

BlockBackend *blk_next(BlockBackend *blk)
{
    guint i = 0;
    if (!backends) {
        return NULL;
    }
    if (blk) {
        if (!g_ptr_array_find(backends, blk, &i)) {
            return NULL;
        }
        i++;
    }
    return i < backends->len ? backends->pdata[i] : NULL;
}

BlockBackend *blk_by_root(BlockDriverState *bs)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (blk->root == bs) {
            return blk;
        }
    }
    return NULL;
}

const char *blk_name(const BlockBackend *blk)
{
    return blk->name;
}

BlockDriverState *blk_bs(BlockBackend *blk)
{
    return blk->root;
}

void blk_set_on_error(BlockBackend *blk, BlockdevOnError on_read_error,
                      BlockdevOnError on_write_error)
{
    blk->on_read_error = on_read_error;
    blk->on_write_error = on_write_error;
}

BlockdevOnError blk_get_on_error(BlockBackend *blk, bool is_read)
{
    BlockdevOnError e = is_read ? blk->on_read_error : blk->on_write_error;
    return e == BLOCKDEV_ON_ERROR_AUTO
               ? (is_read ? BLOCKDEV_ON_ERROR_REPORT : BLOCKDEV_ON_ERROR_ENOSPC)
               : e;
}

bool blk_enable_write_cache(BlockBackend *blk)
{
    return blk->write_cache;
}

void blk_set_enable_write_cache(BlockBackend *blk, bool wce)
{
    pthread_mutex_lock(&blk_lock);
    blk->write_cache = wce;
    pthread_mutex_unlock(&blk_lock);
}

void blk_set_legacy_info(BlockBackend *blk, void *drive_info)
{
    blk->legacy_info = drive_info;
}

void *blk_legacy_info(BlockBackend *blk)
{
    return blk->legacy_info;
}

int64_t blk_getlength(BlockBackend *blk)
{
    return blk->root ? bdrv_getlength(blk->root) : -ENOMEDIUM;
}

bool blk_is_read_only(BlockBackend *blk)
{
    return blk->root ? blk->root->read_only : false;
}

bool blk_is_inserted(BlockBackend *blk)
{
    return blk->root != NULL;
}

/* ---- devices ---- */

BlockBackend *blk_for_device(const char *drive, const char *prop, char **errp)
{
    BlockBackend *blk = blk_by_name(drive);
    if (blk) {
        return blk;
    }
    BlockDriverState *bs = bdrv_find_node(drive);
    if (!bs) {
        block_error(errp, "Property '%s' can't find value '%s'", prop, drive);
        return NULL;
    }
    blk = blk_new(NULL, bs, errp);
    if (blk) {
        blk->dev_owned = true;
    }
    return blk;
}

int blk_attach_dev(BlockBackend *blk, const char *qdev_path, const char *id, const BlockDevOps *ops,
                   void *opaque, char **errp)
{
    if (blk->has_dev) {
        block_error(errp, "Drive '%s' is already in use by another device", blk->name);
        return -EBUSY;
    }
    blk->has_dev = true;
    blk->dev_path = g_strdup(qdev_path);
    blk->dev_id = g_strdup(id);
    blk->dev_ops = ops;
    blk->dev_opaque = opaque;
    if (blk->user) {
        g_free(blk->user->name);
        blk->user->name = user_name(blk);
    }
    return 0;
}

void blk_detach_dev(BlockBackend *blk)
{
    blk_drain(blk);
    blk->has_dev = false;
    g_free(blk->dev_path);
    g_free(blk->dev_id);
    blk->dev_path = blk->dev_id = NULL;
    blk->dev_ops = NULL;
    blk->dev_opaque = NULL;
    if (blk->dev_owned) {
        /* the device's own backend on a -blockdev node: the node is free again (blockdev-del) */
        blk_delete(blk);
        return;
    }
    blk_set_perm(blk, BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL, NULL);
}

void blk_notify_resize(BlockBackend *blk)
{
    if (blk->dev_ops && blk->dev_ops->resize_cb) {
        blk->dev_ops->resize_cb(blk->dev_opaque);
    }
}

bool blk_has_dev(BlockBackend *blk)
{
    return blk->has_dev;
}

int blk_set_perm(BlockBackend *blk, uint64_t perm, uint64_t shared, char **errp)
{
    if (blk->user) {
        int ret = bdrv_user_set_perm(blk->user, perm, shared, errp);
        if (ret < 0) {
            return ret;
        }
    }
    blk->perm = perm;
    blk->shared = shared;
    return 0;
}

int blk_set_dev_perm(BlockBackend *blk, bool read_only, bool share_rw, char **errp)
{
    uint64_t perm = BLK_PERM_CONSISTENT_READ | (read_only ? 0 : BLK_PERM_WRITE);
    uint64_t shared = BLK_PERM_CONSISTENT_READ | BLK_PERM_WRITE_UNCHANGED | BLK_PERM_RESIZE |
                      (share_rw ? BLK_PERM_WRITE : 0);
    if (!read_only && blk->root && blk->root->read_only) {
        block_error(errp, "Block node is read-only");
        return -EACCES;
    }
    return blk_set_perm(blk, perm, shared, errp);
}

const char *blk_get_attached_dev_path(BlockBackend *blk)
{
    return blk->dev_path;
}

const char *blk_get_attached_dev_id(BlockBackend *blk)
{
    return blk->dev_id;
}

bool blk_dev_has_removable_media(BlockBackend *blk)
{
    return !blk->has_dev || (blk->dev_ops && blk->dev_ops->change_media_cb);
}

void blk_dev_change_media_cb(BlockBackend *blk, bool load)
{
    if (!blk->dev_ops || !blk->dev_ops->change_media_cb) {
        return;
    }
    bool was_open = blk_dev_is_tray_open(blk);
    blk->dev_ops->change_media_cb(blk->dev_opaque, load);
    bool is_open = blk_dev_is_tray_open(blk);
    if (was_open != is_open && blk_tray_moved_hook) {
        blk_tray_moved_hook(blk, blk->dev_id ? blk->dev_id : blk->dev_path, is_open);
    }
}

void blk_dev_eject_request(BlockBackend *blk, bool force)
{
    if (blk->dev_ops && blk->dev_ops->eject_request_cb) {
        blk->dev_ops->eject_request_cb(blk->dev_opaque, force);
    }
}

bool blk_dev_has_tray(BlockBackend *blk)
{
    return blk->dev_ops && blk->dev_ops->is_tray_open;
}

bool blk_dev_is_tray_open(BlockBackend *blk)
{
    return blk->dev_ops && blk->dev_ops->is_tray_open &&
           blk->dev_ops->is_tray_open(blk->dev_opaque);
}

bool blk_dev_is_medium_locked(BlockBackend *blk)
{
    return blk->dev_ops && blk->dev_ops->is_medium_locked &&
           blk->dev_ops->is_medium_locked(blk->dev_opaque);
}

/* ---- errors ---- */

BlockErrorAction blk_get_error_action(BlockBackend *blk, bool is_read, int error)
{
    switch (blk_get_on_error(blk, is_read)) {
    case BLOCKDEV_ON_ERROR_ENOSPC:
        return error == ENOSPC ? BLOCK_ERROR_ACTION_STOP : BLOCK_ERROR_ACTION_REPORT;
    case BLOCKDEV_ON_ERROR_STOP:
        return BLOCK_ERROR_ACTION_STOP;
    case BLOCKDEV_ON_ERROR_IGNORE:
        return BLOCK_ERROR_ACTION_IGNORE;
    default:
        return BLOCK_ERROR_ACTION_REPORT;
    }
}

void blk_error_action(BlockBackend *blk, BlockErrorAction action, bool is_read, int error)
{
    if (action == BLOCK_ERROR_ACTION_STOP) {
        /* the first error that stops the VM sets the status, as QEMU's iostatus */
        if (blk->iostatus_enabled && blk->iostatus == BLOCK_IO_STATUS_OK) {
            blk->iostatus = error == ENOSPC ? BLOCK_IO_STATUS_NOSPACE : BLOCK_IO_STATUS_FAILED;
        }
    }
    /* as QEMU: the event, then the stop */
    if (blk_io_error_event_hook) {
        blk_io_error_event_hook(blk, is_read, action, error);
    }
    if (action == BLOCK_ERROR_ACTION_STOP && blk_stop_vm_hook) {
        blk_stop_vm_hook();
    }
}

BlockIoStatus blk_iostatus(BlockBackend *blk)
{
    return blk->iostatus;
}

void blk_iostatus_reset(BlockBackend *blk)
{
    blk->iostatus = BLOCK_IO_STATUS_OK;
}

void blk_iostatus_enable(BlockBackend *blk)
{
    blk->iostatus_enabled = true;
    blk->iostatus = BLOCK_IO_STATUS_OK;
}

bool blk_iostatus_is_enabled(BlockBackend *blk)
{
    return blk->iostatus_enabled;
}

/* ---- statistics ---- */

void blk_get_stats(BlockBackend *blk, BlockAcctStats *out)
{
    pthread_mutex_lock(&blk_lock);
    *out = blk->stats;
    pthread_mutex_unlock(&blk_lock);
}

void blk_account_invalid(BlockBackend *blk, BlockAcctType type)
{
    pthread_mutex_lock(&blk_lock);
    blk->stats.invalid_ops[type]++;
    blk->stats.last_access_ns = now_ns();
    pthread_mutex_unlock(&blk_lock);
}

int blk_debug_peak_inflight(BlockBackend *blk)
{
    pthread_mutex_lock(&blk_lock);
    int n = blk->root && blk->root->domain ? domain_find(blk->root->domain)->peak_fast : 0;
    pthread_mutex_unlock(&blk_lock);
    return n;
}

void blk_account_merged(BlockBackend *blk, BlockAcctType type, unsigned n)
{
    pthread_mutex_lock(&blk_lock);
    blk->stats.merged[type] += n;
    pthread_mutex_unlock(&blk_lock);
}

/* ---- at exit ---- */

void blk_close_all(void)
{
    blk_drain_all();
    while (backends && backends->len) {
        blk_delete(backends->pdata[backends->len - 1]);
    }
    pthread_mutex_lock(&blk_lock);
    pool_quit = true;
    pthread_cond_broadcast(&pool_cond);
    int n = pool_threads;
    pthread_mutex_unlock(&blk_lock);
    for (int i = 0; i < n; i++) {
        pthread_join(pool_tids[i], NULL);
    }
    pthread_mutex_lock(&blk_lock);
    pool_threads = 0;
    pool_quit = false;
    pthread_mutex_unlock(&blk_lock);
    if (aio_ready) {
        io_destroy(aio_ctx);
        aio_ready = false;
    }
}
