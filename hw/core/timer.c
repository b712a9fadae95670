/*
 * The timer service (include/vireo/timer.h): VIREO_CLOCK_VIRTUAL and VIREO_CLOCK_REALTIME, timers sorted per
 * clock, and the timer thread that runs them under either accelerator.
 *
 * Timer thread: the timer lists are only touched with vireo_lock() held. The thread takes the
 * lock, runs what expired, notes the next deadline, drops the lock and sleeps on its own
 * condition variable (a leaf lock) until that deadline or until vtimer_mod() arms something
 * earlier.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/timer.h"

/* ---- clocks ---------------------------------------------------------------------------- */

static int64_t (*clock_source)(void);
/* VIREO_CLOCK_VIRTUAL = host - paused_total, frozen at paused_at while paused (vireo_lock or not:
 * the fields are only changed by the main thread, read atomically enough for timing) */
static int64_t paused_total, paused_at;
static bool paused;

static int64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t host_ns(void)
{
    return clock_source ? clock_source() : host_monotonic_ns();
}

int64_t clock_ns(ClockType clock)
{
    if (clock == VIREO_CLOCK_REALTIME) {
        return host_ns();
    }
    if (__atomic_load_n(&paused, __ATOMIC_ACQUIRE)) {
        return paused_at - paused_total;
    }
    return host_ns() - __atomic_load_n(&paused_total, __ATOMIC_ACQUIRE);
}

int64_t vclock_ns(void)
{
    return clock_ns(VIREO_CLOCK_VIRTUAL);
}

void vclock_set_source(int64_t (*now_ns)(void))
{
    clock_source = now_ns;
    paused = false;
    paused_total = paused_at = 0;
}

static void thread_kick(int64_t host_deadline);

void vclock_pause(void)
{
    if (paused) {
        return;
    }
    paused_at = host_ns();
    __atomic_store_n(&paused, true, __ATOMIC_RELEASE);
}

void vclock_resume(void)
{
    if (!paused) {
        return;
    }
    __atomic_store_n(&paused_total, paused_total + (host_ns() - paused_at), __ATOMIC_RELEASE);
    __atomic_store_n(&paused, false, __ATOMIC_RELEASE);
    thread_kick(host_ns()); /* virtual deadlines moved: look again */
}

/* ---- timers ---------------------------------------------------------------------------- */

static VTimer *timers[VIREO_CLOCK_COUNT]; /* sorted by expire; vireo_lock() */

static pthread_mutex_t thr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t thr_cond;
static bool thr_running, thr_stop, thr_kicked;
static int64_t thr_next = INT64_MAX; /* host time the thread sleeps until (thr_lock) */
static pthread_t thr;

void vtimer_init_clock(VTimer *t, ClockType clock, void (*cb)(void *opaque), void *opaque)
{
    memset(t, 0, sizeof(*t));
    t->clock = clock;
    t->cb = cb;
    t->opaque = opaque;
}

void vtimer_init(VTimer *t, void (*cb)(void *opaque), void *opaque)
{
    vtimer_init_clock(t, VIREO_CLOCK_VIRTUAL, cb, opaque);
}

void vtimer_del(VTimer *t)
{
    if (!t->armed) {
        return;
    }
    for (VTimer **p = &timers[t->clock]; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->armed = false;
    t->next = NULL;
}

/* Host time at which a deadline of clock c falls (INT64_MAX: never, while paused). */
static int64_t to_host(ClockType c, int64_t expire)
{
    if (c == VIREO_CLOCK_REALTIME) {
        return expire;
    }
    if (__atomic_load_n(&paused, __ATOMIC_ACQUIRE)) {
        return INT64_MAX;
    }
    int64_t pt = __atomic_load_n(&paused_total, __ATOMIC_ACQUIRE);
    return expire > INT64_MAX - pt ? INT64_MAX : expire + pt;
}

static void thread_kick(int64_t host_deadline)
{
    pthread_mutex_lock(&thr_lock);
    if (thr_running && host_deadline < thr_next) {
        thr_next = host_deadline;
        thr_kicked = true;
        pthread_cond_signal(&thr_cond);
    }
    pthread_mutex_unlock(&thr_lock);
}

void vtimer_mod(VTimer *t, int64_t expire_ns)
{
    vtimer_del(t);
    t->expire = expire_ns;
    t->armed = true;
    VTimer **p = &timers[t->clock];
    while (*p && (*p)->expire <= expire_ns) {
        p = &(*p)->next;
    }
    t->next = *p;
    *p = t;
    thread_kick(to_host(t->clock, expire_ns));
}

int64_t vtimers_run(void)
{
    int64_t next = INT64_MAX;
    for (int c = 0; c < VIREO_CLOCK_COUNT; c++) {
        int64_t now = clock_ns((ClockType)c);
        /* A callback may re-arm its own timer in the past: bound the work per call. */
        for (int n = 0; timers[c] && timers[c]->expire <= now && n < 10000; n++) {
            VTimer *t = timers[c];
            timers[c] = t->next;
            t->next = NULL;
            t->armed = false;
            t->cb(t->opaque);
            now = clock_ns((ClockType)c);
        }
        if (timers[c]) {
            int64_t h = to_host((ClockType)c, timers[c]->expire);
            next = h < next ? h : next;
        }
    }
    return next;
}

static void *timer_thread(void *arg)
{
    (void)arg;
    for (;;) {
        vireo_lock();
        int64_t next = vtimers_run();
        pthread_mutex_lock(&thr_lock);
        thr_next = next;
        vireo_unlock();
        while (!thr_stop && !thr_kicked && host_ns() < thr_next) {
            if (thr_next == INT64_MAX) {
                pthread_cond_wait(&thr_cond, &thr_lock);
            } else {
                struct timespec ts = {.tv_sec = thr_next / 1000000000,
                                      .tv_nsec = thr_next % 1000000000};
                pthread_cond_timedwait(&thr_cond, &thr_lock, &ts);
            }
        }
        thr_kicked = false;
        bool stop = thr_stop;
        pthread_mutex_unlock(&thr_lock);
        if (stop) {
            return NULL;
        }
    }
}

int vtimer_thread_start(void)
{
    if (thr_running) {
        return 0;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&thr_cond, &attr);
    pthread_condattr_destroy(&attr);
    thr_stop = thr_kicked = false;
    thr_next = INT64_MAX;
    thr_running = true;
    int err = pthread_create(&thr, NULL, timer_thread, NULL);
    if (err) {
        thr_running = false;
        error_report("cannot create the timer thread: %s", strerror(err));
        return -1;
    }
    return 0;
}

/* Called without vireo_lock() held (the thread takes it). */
void vtimer_thread_stop(void)
{
    if (!thr_running) {
        return;
    }
    pthread_mutex_lock(&thr_lock);
    thr_stop = true;
    pthread_cond_signal(&thr_cond);
    pthread_mutex_unlock(&thr_lock);
    pthread_join(thr, NULL);
    pthread_mutex_lock(&thr_lock);
    thr_running = false;
    pthread_mutex_unlock(&thr_lock);
    pthread_cond_destroy(&thr_cond);
}

void vtimers_reset(void)
{
    for (int c = 0; c < VIREO_CLOCK_COUNT; c++) {
        while (timers[c]) {
            VTimer *t = timers[c];
            timers[c] = t->next;
            t->next = NULL;
            t->armed = false;
        }
    }
}
