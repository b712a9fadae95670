/*
 * Coroutines as threads that take turns (see include/vireo/coroutine.h).
 *
 * One mutex guards the turn. A context (the loop thread or a coroutine) that enters a
 * coroutine marks it running, wakes its thread and sleeps until the coroutine stops running
 * (it yielded, ended, or began a blocking call). A coroutine whose blocking call ends puts
 * itself on the ready list and sleeps until the loop thread enters it again from aio_poll.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "vireo/coroutine.h"

struct Coroutine {
    uint64_t io_seq; /* when its last blocking call began (completion order) */
    CoroutineEntry *entry;
    void *opaque;
    pthread_t thread;
    pthread_cond_t cond;
    bool started, running, finished;
    Coroutine *caller;                /* who entered it; NULL = the loop thread */
    Coroutine *wake_head, *wake_tail; /* woken by it: entered once it yields */
    Coroutine *next_wake;
    Coroutine *next_ready;
};

typedef struct CoWaiter {
    Coroutine *co;
    struct CoWaiter *next;
} CoWaiter;

typedef struct Timer {
    int64_t deadline;
    void (*cb)(void *opaque);
    void *opaque;
    struct Timer *next;
} Timer;

/*
 * Bottom halves run LIFO within one poll, as QEMU's: each aio_poll takes the list scheduled
 * so far and runs it newest first. Two of them stand for QEMU's shared ones: the thread
 * pool's completion BH (coroutines whose blocking call ended, newest call first, as QEMU's
 * pool list is walked) and the one that enters aio_co_schedule'd coroutines (FIFO).
 */
enum { BH_ONESHOT, BH_POOL, BH_SCHEDULED };
typedef struct BH {
    int kind;
    void (*cb)(void *opaque);
    void *opaque;
    struct BH *next;
} BH;

static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loop_cond;
static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static __thread Coroutine *current;

/* under turn_lock: */
static Coroutine *ready_head, *ready_tail; /* aio_co_schedule'd */
static Coroutine *done_list;               /* blocking calls that ended */
static BH *bh_head;                        /* newest first */
static bool pool_bh_pending, sched_bh_pending;
static int n_blocking;
static uint64_t io_seq;
/* touched only by whoever has the turn: */
static Timer *timers;

static void loop_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&loop_cond, &a);
    pthread_condattr_destroy(&a);
}

static pthread_cond_t *cond_of(Coroutine *co)
{
    pthread_once(&loop_once, loop_init);
    return co ? &co->cond : &loop_cond;
}

int64_t qemu_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

Coroutine *qemu_coroutine_self(void)
{
    return current;
}

bool qemu_in_coroutine(void)
{
    return current != NULL;
}

static void *trampoline(void *arg)
{
    Coroutine *co = arg;
    current = co;
    pthread_mutex_lock(&turn_lock);
    while (!co->running) {
        pthread_cond_wait(&co->cond, &turn_lock);
    }
    pthread_mutex_unlock(&turn_lock);
    co->entry(co->opaque);
    pthread_mutex_lock(&turn_lock);
    co->finished = true;
    co->running = false;
    pthread_cond_broadcast(cond_of(co->caller));
    pthread_mutex_unlock(&turn_lock);
    return NULL;
}

Coroutine *qemu_coroutine_create(CoroutineEntry *entry, void *opaque)
{
    Coroutine *co = g_new0(Coroutine, 1);
    co->entry = entry;
    co->opaque = opaque;
    pthread_cond_init(&co->cond, NULL);
    return co;
}

void qemu_coroutine_enter(Coroutine *co)
{
    Coroutine *self = current;
    pthread_cond_t *mine = cond_of(self);
    pthread_mutex_lock(&turn_lock);
    if (co->running || co->finished) {
        fprintf(stderr, "qemu_coroutine_enter: coroutine is %s\n",
                co->running ? "running" : "finished");
        abort();
    }
    co->caller = self;
    co->running = true;
    if (!co->started) {
        co->started = true;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8 << 20);
        int r = pthread_create(&co->thread, &attr, trampoline, co);
        pthread_attr_destroy(&attr);
        if (r) {
            fprintf(stderr, "qemu_coroutine_enter: cannot start a thread: %s\n", strerror(r));
            abort();
        }
    } else {
        pthread_cond_broadcast(&co->cond);
    }
    while (co->running) {
        pthread_cond_wait(mine, &turn_lock);
    }
    bool finished = co->finished;
    pthread_mutex_unlock(&turn_lock);
    /* what it woke runs now that it stopped, as QEMU's co_queue_wakeup */
    while (co->wake_head) {
        Coroutine *w = co->wake_head;
        co->wake_head = w->next_wake;
        if (!co->wake_head) {
            co->wake_tail = NULL;
        }
        w->next_wake = NULL;
        qemu_coroutine_enter(w);
    }
    if (finished) {
        pthread_join(co->thread, NULL);
        pthread_cond_destroy(&co->cond);
        g_free(co);
    }
}

void qemu_coroutine_yield(void)
{
    Coroutine *self = current;
    if (!self) {
        fprintf(stderr, "qemu_coroutine_yield: not in a coroutine\n");
        abort();
    }
    pthread_mutex_lock(&turn_lock);
    self->running = false;
    pthread_cond_broadcast(cond_of(self->caller));
    while (!self->running) {
        pthread_cond_wait(&self->cond, &turn_lock);
    }
    pthread_mutex_unlock(&turn_lock);
}

void aio_co_wake(Coroutine *co)
{
    Coroutine *self = current;
    if (!self) {
        qemu_coroutine_enter(co);
        return;
    }
    co->next_wake = NULL;
    if (self->wake_tail) {
        self->wake_tail->next_wake = co;
    } else {
        self->wake_head = co;
    }
    self->wake_tail = co;
}

/* under turn_lock */
static void push_bh(int kind, void (*cb)(void *), void *opaque)
{
    BH *bh = g_new0(BH, 1);
    bh->kind = kind;
    bh->cb = cb;
    bh->opaque = opaque;
    bh->next = bh_head;
    bh_head = bh;
    pthread_cond_broadcast(cond_of(NULL));
}

void aio_co_schedule(Coroutine *co)
{
    pthread_mutex_lock(&turn_lock);
    co->next_ready = NULL;
    if (ready_tail) {
        ready_tail->next_ready = co;
    } else {
        ready_head = co;
    }
    ready_tail = co;
    if (!sched_bh_pending) {
        sched_bh_pending = true;
        push_bh(BH_SCHEDULED, NULL, NULL);
    }
    pthread_mutex_unlock(&turn_lock);
}

void aio_bh_schedule_oneshot(void (*cb)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&turn_lock);
    push_bh(BH_ONESHOT, cb, opaque);
    pthread_mutex_unlock(&turn_lock);
}

void co_blocking_begin(void)
{
    Coroutine *self = current;
    if (!self) {
        return;
    }
    pthread_mutex_lock(&turn_lock);
    n_blocking++;
    self->io_seq = ++io_seq;
    self->running = false;
    pthread_cond_broadcast(cond_of(self->caller));
    pthread_mutex_unlock(&turn_lock);
}

void co_blocking_end(void)
{
    Coroutine *self = current;
    if (!self) {
        return;
    }
    pthread_mutex_lock(&turn_lock);
    n_blocking--;
    self->next_ready = done_list;
    done_list = self;
    if (!pool_bh_pending) {
        pool_bh_pending = true;
        push_bh(BH_POOL, NULL, NULL);
    }
    while (!self->running) {
        pthread_cond_wait(&self->cond, &turn_lock);
    }
    pthread_mutex_unlock(&turn_lock);
}

static void add_timer(int64_t deadline, void (*cb)(void *), void *opaque)
{
    Timer *t = g_new0(Timer, 1);
    t->deadline = deadline;
    t->cb = cb;
    t->opaque = opaque;
    Timer **p = &timers;
    while (*p && (*p)->deadline <= deadline) {
        p = &(*p)->next;
    }
    t->next = *p;
    *p = t;
}

static void wake_sleeper(void *opaque)
{
    aio_co_wake(opaque);
}

void co_sleep_ns(int64_t ns)
{
    add_timer(qemu_clock_ns() + ns, wake_sleeper, qemu_coroutine_self());
    qemu_coroutine_yield();
}

bool aio_pending(void)
{
    pthread_mutex_lock(&turn_lock);
    bool r = bh_head || n_blocking || timers;
    pthread_mutex_unlock(&turn_lock);
    return r;
}

static gint by_io_seq_desc(gconstpointer a, gconstpointer b)
{
    const Coroutine *x = *(Coroutine *const *)a, *y = *(Coroutine *const *)b;
    return x->io_seq < y->io_seq ? 1 : x->io_seq > y->io_seq ? -1 : 0;
}

static void run_bh(BH *b)
{
    if (b->kind == BH_ONESHOT) {
        b->cb(b->opaque);
        return;
    }
    pthread_mutex_lock(&turn_lock);
    Coroutine *list;
    if (b->kind == BH_POOL) {
        list = done_list;
        done_list = NULL;
        pool_bh_pending = false;
    } else {
        list = ready_head;
        ready_head = ready_tail = NULL;
        sched_bh_pending = false;
    }
    pthread_mutex_unlock(&turn_lock);
    GPtrArray *cos = g_ptr_array_new();
    for (Coroutine *co = list; co; co = co->next_ready) {
        g_ptr_array_add(cos, co);
    }
    if (b->kind == BH_POOL) {
        g_ptr_array_sort(cos, by_io_seq_desc);
    }
    for (guint i = 0; i < cos->len; i++) {
        qemu_coroutine_enter(g_ptr_array_index(cos, i));
    }
    g_ptr_array_free(cos, true);
}

/* deadline: -1 = do not wait, INT64_MAX = until progress (or nothing can happen) */
static bool poll_internal(int64_t deadline)
{
    for (;;) {
        bool progress = false;
        pthread_mutex_lock(&turn_lock);
        BH *bh = bh_head;
        bh_head = NULL;
        pthread_mutex_unlock(&turn_lock);
        while (bh) {
            BH *b = bh;
            bh = b->next;
            run_bh(b);
            g_free(b);
            progress = true;
        }
        int64_t now = qemu_clock_ns();
        while (timers && timers->deadline <= now) {
            Timer *t = timers;
            timers = t->next;
            t->cb(t->opaque);
            g_free(t);
            progress = true;
        }
        if (progress) {
            return true;
        }
        if (deadline < 0) {
            return false;
        }
        pthread_mutex_lock(&turn_lock);
        if (!bh_head) {
            if (!n_blocking && !timers) {
                pthread_mutex_unlock(&turn_lock);
                return false; /* nothing can ever happen */
            }
            int64_t until = timers && timers->deadline < deadline ? timers->deadline : deadline;
            if (until == INT64_MAX) {
                pthread_cond_wait(cond_of(NULL), &turn_lock);
            } else {
                struct timespec ts = {until / 1000000000, until % 1000000000};
                pthread_cond_timedwait(cond_of(NULL), &turn_lock, &ts);
            }
        }
        pthread_mutex_unlock(&turn_lock);
        if (deadline != INT64_MAX && qemu_clock_ns() >= deadline) {
            return false;
        }
    }
}

bool aio_poll(bool blocking)
{
    return poll_internal(blocking ? INT64_MAX : -1);
}

bool aio_poll_until(int64_t deadline_ns)
{
    return poll_internal(deadline_ns);
}

void co_mutex_lock(CoMutex *m)
{
    Coroutine *self = current;
    if (!self) {
        return;
    }
    if (!m->holder) {
        m->holder = self;
        m->depth = 1;
        return;
    }
    if (m->holder == self) {
        m->depth++;
        return;
    }
    CoWaiter *w = g_new0(CoWaiter, 1); /* freed by the unlock that hands over */
    w->co = self;
    if (m->waiters_tail) {
        m->waiters_tail->next = w;
    } else {
        m->waiters = w;
    }
    m->waiters_tail = w;
    while (m->holder != self) {
        qemu_coroutine_yield();
    }
}

bool co_mutex_unlock_if_single(CoMutex *m)
{
    if (!current || m->holder != current || m->depth != 1) {
        return false;
    }
    co_mutex_unlock(m);
    return true;
}

void co_mutex_unlock(CoMutex *m)
{
    Coroutine *self = current;
    if (!self || m->holder != self) {
        return;
    }
    if (--m->depth) {
        return;
    }
    CoWaiter *w = m->waiters;
    if (!w) {
        m->holder = NULL;
        return;
    }
    m->waiters = w->next;
    if (!m->waiters) {
        m->waiters_tail = NULL;
    }
    Coroutine *co = w->co;
    g_free(w);
    m->holder = co;
    m->depth = 1;
    aio_co_wake(co);
}
