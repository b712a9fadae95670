/*
 * Coroutines and a small event loop for the block layer's asynchronous requests (qemu-io's
 * aio_read/aio_write, blkdebug breakpoints, null-co latency), in QEMU's model:
 *
 *  - a coroutine runs when entered and until it yields or ends; entering is synchronous
 *    (qemu_coroutine_enter returns when the coroutine yields or ends);
 *  - only one context runs block-layer code at a time (the loop thread or one coroutine), so
 *    block-layer state needs no locks of its own; the ordering of what runs is QEMU's;
 *  - a coroutine that makes a blocking system call (file I/O) gives up its turn meanwhile
 *    (co_blocking_begin/end): several requests can then be in flight in the kernel at once,
 *    and the coroutine continues only when the loop thread polls (aio_poll), as a request
 *    completed by QEMU's thread pool continues from the main loop.
 *
 * Each coroutine is a thread of its own that runs only when it holds the turn (a baton
 * passed under one mutex): plain pthreads, nothing the sanitizers need telling about.
 * Outside any coroutine (qemu-img) all of this is inert: locks are free, blocking sections
 * do nothing.
 */
#ifndef VIREO_COROUTINE_H
#define VIREO_COROUTINE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Coroutine Coroutine;
typedef void CoroutineEntry(void *opaque);

Coroutine *qemu_coroutine_create(CoroutineEntry *entry, void *opaque);
/* Run co until it yields or ends (a finished coroutine is freed). */
void qemu_coroutine_enter(Coroutine *co);
/* In a coroutine: give the turn back to whoever entered it. */
void qemu_coroutine_yield(void);
/* The running coroutine, or NULL on the loop thread. */
Coroutine *qemu_coroutine_self(void);
bool qemu_in_coroutine(void);

/*
 * Wake co: from a coroutine, co runs after the current one yields (QEMU's co_queue_wakeup);
 * from the loop thread it is entered right away.
 */
void aio_co_wake(Coroutine *co);
/* Run co from the next aio_poll. */
void aio_co_schedule(Coroutine *co);

/* A callback run from the next aio_poll (QEMU's one-shot bottom half). */
void aio_bh_schedule_oneshot(void (*cb)(void *opaque), void *opaque);

/*
 * The loop: run scheduled coroutines and bottom halves, due timers, and coroutines whose
 * blocking calls ended. With `blocking`, wait until at least one thing ran. Returns whether
 * anything ran; false with `blocking` means nothing can ever run again (no timer, no call in
 * flight, nothing scheduled).
 */
bool aio_poll(bool blocking);
/* Like aio_poll(true) but give up at the CLOCK_MONOTONIC deadline (ns); true if progress. */
bool aio_poll_until(int64_t deadline_ns);
/* Anything that could still make progress (calls in flight, timers, scheduled work)? */
bool aio_pending(void);

int64_t qemu_clock_ns(void);
/* In a coroutine: sleep (other coroutines and the loop run meanwhile). */
void co_sleep_ns(int64_t ns);

/* Around a blocking system call made from a coroutine (no-ops elsewhere). */
void co_blocking_begin(void);
void co_blocking_end(void);

/*
 * A recursive mutex for coroutines: a coroutine that waits yields. Outside coroutines it
 * is not taken at all (the single-threaded tools need none).
 */
typedef struct CoMutex {
    Coroutine *holder;
    int depth;
    struct CoWaiter *waiters, *waiters_tail;
} CoMutex;
void co_mutex_lock(CoMutex *m);
void co_mutex_unlock(CoMutex *m);
/* Unlock when the running coroutine holds m exactly once; returns whether it did. */
bool co_mutex_unlock_if_single(CoMutex *m);

#endif
