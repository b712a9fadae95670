/*
 * util/coroutine.c: entering and yielding, wake-ups after the waker yields, the order in
 * which aio_poll runs bottom halves (newest first), scheduled coroutines (FIFO) and ended
 * blocking calls (newest call first, as QEMU's thread pool), CoMutex hand-over, timers, and
 * blocking calls that really overlap.
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/coroutine.h"
#include "../lib/unit.h"

static GString *trace;

static void note(const char *s)
{
    g_string_append(trace, s);
}

static void co_yield_twice(void *opaque)
{
    note("a");
    qemu_coroutine_yield();
    note("b");
    qemu_coroutine_yield();
    note("c");
}

static void bh_note(void *opaque)
{
    note(opaque);
}

static Coroutine *waiter;
static void co_wait(void *opaque)
{
    note("w1");
    qemu_coroutine_yield();
    note("w2");
}

static void co_waker(void *opaque)
{
    note("k1");
    aio_co_wake(waiter); /* runs once the waker yields */
    note("k2");
    qemu_coroutine_yield();
    note("k3");
}

static void co_sched(void *opaque)
{
    aio_co_schedule(qemu_coroutine_self());
    qemu_coroutine_yield();
    note(opaque);
}

static int calls_ended;
static void co_blocking(void *opaque)
{
    co_blocking_begin();
    usleep(20000);
    __atomic_add_fetch(&calls_ended, 1, __ATOMIC_SEQ_CST);
    co_blocking_end();
    note(opaque);
}

static CoMutex mutex;
static void co_locker(void *opaque)
{
    co_mutex_lock(&mutex);
    co_mutex_lock(&mutex); /* recursive */
    note(opaque);
    qemu_coroutine_yield();
    co_mutex_unlock(&mutex);
    note("u");
    co_mutex_unlock(&mutex);
}

static void co_sleeper(void *opaque)
{
    co_sleep_ns(30 * 1000000);
    note(opaque);
}

static int64_t overlap_start[2], overlap_end[2];
static void co_overlap(void *opaque)
{
    int i = GPOINTER_TO_INT(opaque);
    co_blocking_begin();
    overlap_start[i] = qemu_clock_ns();
    usleep(100000);
    overlap_end[i] = qemu_clock_ns();
    co_blocking_end();
}

static bool drain(void)
{
    while (aio_pending()) {
        if (!aio_poll(true)) {
            return false;
        }
    }
    return true;
}

int main(void)
{
    trace = g_string_new(NULL);

    Coroutine *co = qemu_coroutine_create(co_yield_twice, NULL);
    qemu_coroutine_enter(co);
    note("|");
    qemu_coroutine_enter(co);
    note("|");
    qemu_coroutine_enter(co);
    CHECK("coroutine/enter-yield", !strcmp(trace->str, "a|b|c"));
    CHECK("coroutine/outside", !qemu_in_coroutine() && !qemu_coroutine_self());

    g_string_truncate(trace, 0);
    waiter = qemu_coroutine_create(co_wait, NULL);
    qemu_coroutine_enter(waiter);
    Coroutine *k = qemu_coroutine_create(co_waker, NULL);
    qemu_coroutine_enter(k);
    qemu_coroutine_enter(k);
    CHECK("coroutine/wake-after-yield", !strcmp(trace->str, "w1k1k2w2k3"));

    g_string_truncate(trace, 0);
    aio_bh_schedule_oneshot(bh_note, "1");
    aio_bh_schedule_oneshot(bh_note, "2");
    aio_bh_schedule_oneshot(bh_note, "3");
    aio_poll(false);
    CHECK("coroutine/bh-lifo", !strcmp(trace->str, "321"));

    g_string_truncate(trace, 0);
    qemu_coroutine_enter(qemu_coroutine_create(co_sched, "x"));
    qemu_coroutine_enter(qemu_coroutine_create(co_sched, "y"));
    qemu_coroutine_enter(qemu_coroutine_create(co_sched, "z"));
    CHECK("coroutine/drain-scheduled", drain());
    CHECK("coroutine/scheduled-fifo", !strcmp(trace->str, "xyz"));

    g_string_truncate(trace, 0);
    qemu_coroutine_enter(qemu_coroutine_create(co_blocking, "p"));
    qemu_coroutine_enter(qemu_coroutine_create(co_blocking, "q"));
    qemu_coroutine_enter(qemu_coroutine_create(co_blocking, "r"));
    while (__atomic_load_n(&calls_ended, __ATOMIC_SEQ_CST) < 3) {
        usleep(1000); /* all three calls end before the loop looks */
    }
    CHECK("coroutine/drain-blocking", drain());
    CHECK("coroutine/blocking-newest-first", !strcmp(trace->str, "rqp"));

    g_string_truncate(trace, 0);
    Coroutine *l1 = qemu_coroutine_create(co_locker, "1");
    Coroutine *l2 = qemu_coroutine_create(co_locker, "2");
    qemu_coroutine_enter(l1);
    qemu_coroutine_enter(l2); /* waits for the mutex */
    note("|");
    qemu_coroutine_enter(l1); /* unlocks: 2 runs after 1 is done */
    qemu_coroutine_enter(l2);
    CHECK("coroutine/comutex", !strcmp(trace->str, "1|u2u"));
    CHECK("coroutine/comutex-free", mutex.holder == NULL);

    g_string_truncate(trace, 0);
    int64_t t0 = qemu_clock_ns();
    qemu_coroutine_enter(qemu_coroutine_create(co_sleeper, "s"));
    CHECK("coroutine/sleep-pending", aio_pending() && !trace->len);
    CHECK("coroutine/drain-sleep", drain());
    CHECK("coroutine/sleep", !strcmp(trace->str, "s") && qemu_clock_ns() - t0 >= 30 * 1000000);

    /* two blocking calls are in flight together, not one after the other */
    qemu_coroutine_enter(qemu_coroutine_create(co_overlap, GINT_TO_POINTER(0)));
    qemu_coroutine_enter(qemu_coroutine_create(co_overlap, GINT_TO_POINTER(1)));
    CHECK("coroutine/drain-overlap", drain());
    CHECK("coroutine/overlap",
          overlap_start[1] < overlap_end[0] && overlap_start[0] < overlap_end[1]);

    CHECK("coroutine/idle", !aio_pending() && !aio_poll(true));
    g_string_free(trace, true);
    UNIT_EXIT();
}
