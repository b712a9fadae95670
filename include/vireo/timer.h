/*
 * The timer service (hw/core/timer.c): clocks and timers for devices, under either
 * accelerator. One timer thread runs the callbacks of expired timers with vireo_lock() held.
 *
 *   VIREO_CLOCK_VIRTUAL   guest time: nanoseconds, stops while the VM is paused (vm_stop), as
 *                   QEMU's QEMU_CLOCK_VIRTUAL. The PIT, the LAPIC timers, the RTC's periodic
 *                   interrupt, device timers (edu, later virtio, e1000) use it.
 *   VIREO_CLOCK_REALTIME  host monotonic time, never stops (display refresh, VNC, the monitor).
 *
 * Timers are embedded in the device's state: vtimer_init() once, vtimer_mod() to (re)arm at an
 * absolute time of its clock, vtimer_del() to disarm; every call with the big lock held. A
 * callback runs with the lock held and the timer disarmed (it may re-arm itself).
 * Unit tests inject a clock (vclock_set_source) and run expired timers themselves
 * (vtimers_run) instead of starting the thread.
 */
#ifndef VIREO_TIMER_H
#define VIREO_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { VIREO_CLOCK_VIRTUAL, VIREO_CLOCK_REALTIME, VIREO_CLOCK_COUNT } ClockType;

int64_t clock_ns(ClockType clock);
/* VIREO_CLOCK_VIRTUAL now (the clock the PIT and LAPIC timers count on). */
int64_t vclock_ns(void);
/* Replace the host clock under both clocks (tests); NULL restores CLOCK_MONOTONIC. */
void vclock_set_source(int64_t (*now_ns)(void));
/* The VM stops/starts: VIREO_CLOCK_VIRTUAL stands still in between (runstate calls these). */
void vclock_pause(void);
void vclock_resume(void);

typedef struct VTimer {
    int64_t expire; /* time of its clock */
    bool armed;
    ClockType clock;
    void (*cb)(void *opaque); /* called with vireo_lock() held, the timer disarmed */
    void *opaque;
    struct VTimer *next;
} VTimer;

/* A VIREO_CLOCK_VIRTUAL timer. */
void vtimer_init(VTimer *t, void (*cb)(void *opaque), void *opaque);
void vtimer_init_clock(VTimer *t, ClockType clock, void (*cb)(void *opaque), void *opaque);
void vtimer_mod(VTimer *t, int64_t expire_ns); /* (re)arm */
void vtimer_del(VTimer *t);
static inline bool vtimer_pending(const VTimer *t)
{
    return t->armed;
}
/* Run every timer whose time has come (lock held). Returns the next deadline in host
 * monotonic time (VIREO_CLOCK_REALTIME), or INT64_MAX. */
int64_t vtimers_run(void);
/* The timer thread (machine start/stop; stop is called without the big lock). */
int vtimer_thread_start(void);
void vtimer_thread_stop(void);
/* Forget every timer (machine teardown, after the thread stopped). */
void vtimers_reset(void);

#endif
