/*
 * The userspace irqchip as one piece: the clock and timer thread shared by the LAPIC timers
 * and the PIT, GSI routing to the PIC and IOAPIC, and the X86IrqChip the TCG vCPUs call
 * (include/vireo/irqchip.h, include/vireo/x86-irq.h).
 *
 * Timer thread: the timer list is only touched with vireo_lock() held. The thread takes the
 * lock, runs what expired, notes the next deadline, drops the lock and sleeps on its own
 * condition variable (a leaf lock) until that deadline or until vtimer_mod() arms something
 * earlier.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vireo/error.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/machine.h"
#include "vireo/x86-irq.h"
#include "vireo/x86.h"

/* ---- clock ---------------------------------------------------------------------------- */

static int64_t (*clock_source)(void);

static int64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t vclock_ns(void)
{
    return clock_source ? clock_source() : host_monotonic_ns();
}

void vclock_set_source(int64_t (*now_ns)(void))
{
    clock_source = now_ns;
}

/* ---- timers --------------------------------------------------------------------------- */

static VTimer *timers; /* sorted by expire; vireo_lock() */

static pthread_mutex_t thr_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t thr_cond;
static bool thr_running, thr_stop, thr_kicked;
static int64_t thr_next = INT64_MAX; /* what the thread sleeps until (thr_lock) */
static pthread_t thr;

void vtimer_init(VTimer *t, void (*cb)(void *opaque), void *opaque)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
    t->opaque = opaque;
}

void vtimer_del(VTimer *t)
{
    if (!t->armed) {
        return;
    }
    for (VTimer **p = &timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->armed = false;
    t->next = NULL;
}

void vtimer_mod(VTimer *t, int64_t expire_ns)
{
    vtimer_del(t);
    t->expire = expire_ns;
    t->armed = true;
    VTimer **p = &timers;
    while (*p && (*p)->expire <= expire_ns) {
        p = &(*p)->next;
    }
    t->next = *p;
    *p = t;
    pthread_mutex_lock(&thr_lock);
    if (thr_running && expire_ns < thr_next) {
        thr_next = expire_ns;
        thr_kicked = true;
        pthread_cond_signal(&thr_cond);
    }
    pthread_mutex_unlock(&thr_lock);
}

int64_t vtimers_run(void)
{
    int64_t now = vclock_ns();
    /* A callback may re-arm its own timer in the past: bound the work per call. */
    for (int n = 0; timers && timers->expire <= now && n < 10000; n++) {
        VTimer *t = timers;
        timers = t->next;
        t->next = NULL;
        t->armed = false;
        t->cb(t->opaque);
        now = vclock_ns();
    }
    return timers ? timers->expire : INT64_MAX;
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
        while (!thr_stop && !thr_kicked && vclock_ns() < thr_next) {
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

/* ---- the accelerator's side ------------------------------------------------------------ */

/*
 * Weak: the irqchip links into every binary (unit tests, builds whose accelerator does not
 * provide these yet); a missing function is simply not called.
 */
extern void x86_cpu_kick(unsigned cpu) __attribute__((weak));
extern void x86_cpu_nmi(unsigned cpu) __attribute__((weak));
extern void x86_cpu_init_signal(unsigned cpu) __attribute__((weak));
extern void x86_cpu_sipi(unsigned cpu, uint8_t vector) __attribute__((weak));
extern int x86_cpu_current(void) __attribute__((weak));
extern uint64_t x86_cpu_tsc(unsigned cpu) __attribute__((weak));
extern uint64_t x86_tsc_hz(void) __attribute__((weak));
extern void x86_irq_register(const X86IrqChip *chip) __attribute__((weak));

static void acc_kick(unsigned cpu)
{
    if (x86_cpu_kick) {
        x86_cpu_kick(cpu);
    }
}

static void acc_nmi(unsigned cpu)
{
    if (x86_cpu_nmi) {
        x86_cpu_nmi(cpu);
    }
}

static void acc_init(unsigned cpu)
{
    if (x86_cpu_init_signal) {
        x86_cpu_init_signal(cpu);
    }
}

static void acc_sipi(unsigned cpu, uint8_t vector)
{
    if (x86_cpu_sipi) {
        x86_cpu_sipi(cpu, vector);
    }
}

static int acc_current(void)
{
    return x86_cpu_current ? x86_cpu_current() : -1;
}

/* Without an accelerator TSC: nanoseconds of the clock (1 GHz). */
static uint64_t acc_tsc(unsigned cpu)
{
    return x86_cpu_tsc ? x86_cpu_tsc(cpu) : (uint64_t)vclock_ns();
}

static uint64_t acc_tsc_hz(void)
{
    return x86_tsc_hz ? x86_tsc_hz() : 1000000000ull;
}

static const IrqchipCpuHooks accel_hooks = {
    .kick = acc_kick,
    .nmi = acc_nmi,
    .init_signal = acc_init,
    .sipi = acc_sipi,
    .current = acc_current,
    .tsc = acc_tsc,
    .tsc_hz = acc_tsc_hz,
};
const IrqchipCpuHooks *irqchip_cpu = &accel_hooks;

void irqchip_set_cpu_hooks(const IrqchipCpuHooks *hooks)
{
    irqchip_cpu = hooks ? hooks : &accel_hooks;
}

/* ---- the PC's irqchip ------------------------------------------------------------------- */

static PICState *pc_pic;
static IOAPICState *pc_ioapic;
static PITState *pc_pit;

void pc_irqchip_set_irq(unsigned gsi, int level)
{
    if (gsi < 16 && pc_pic) {
        i8259_set_irq(pc_pic, gsi, level);
    }
    if (pc_ioapic && gsi < IOAPIC_NUM_PINS) {
        ioapic_set_irq(pc_ioapic, gsi, level);
    }
}

unsigned pc_irqchip_gsi_routes(unsigned gsi)
{
    unsigned r = 0;
    if (pc_pic && gsi < 16 && i8259_irq_unmasked(pc_pic, gsi)) {
        r |= 1;
    }
    if (pc_ioapic && gsi < IOAPIC_NUM_PINS && !(ioapic_get_entry(pc_ioapic, gsi) & (1u << 16))) {
        r |= 2;
    }
    return r;
}

static void (*ack_notify)(unsigned gsi, void *opaque);
static void *ack_opaque;

void irqchip_set_ack_notifier(void (*fn)(unsigned gsi, void *opaque), void *opaque)
{
    ack_notify = fn;
    ack_opaque = opaque;
}

void irqchip_irq_acked(unsigned gsi)
{
    if (ack_notify) {
        ack_notify(gsi, ack_opaque);
    }
}

static void pic_notify(void *opaque)
{
    (void)opaque;
    apic_pic_intr_changed();
}

static void chip_reset(void)
{
}

static const X86IrqChip pc_chip = {
    .pending_vector = apic_pending_vector,
    .ack = apic_ack,
    .set_irq = pc_irqchip_set_irq,
    .get_tpr = apic_get_cr8,
    .set_tpr = apic_set_cr8,
    .msr = apic_msr,
    .reset = chip_reset,
};

int pc_irqchip_create(unsigned n_cpus, const uint32_t *apic_ids)
{
    pc_pic = i8259_create();
    i8259_set_notify(pc_pic, pic_notify, NULL);
    pc_ioapic = ioapic_create(PC_IOAPIC_BASE, 0);
    if (apic_create_all(n_cpus, apic_ids, PC_LAPIC_BASE) < 0) {
        return -1;
    }
    apic_set_ioapic(pc_ioapic);
    apic_set_pic(pc_pic);
    pc_pit = i8254_create();
    if (x86_irq_register) {
        x86_irq_register(&pc_chip);
    }
    /* With an injected clock (tests) the caller runs the timers itself. */
    return clock_source ? 0 : vtimer_thread_start();
}

/* Called at machine teardown, after the vCPUs stopped, without vireo_lock() held. */
void pc_irqchip_destroy(void)
{
    vtimer_thread_stop();
    if (x86_irq_register) {
        x86_irq_register(NULL);
    }
    if (pc_pit) {
        i8254_destroy(pc_pit);
        pc_pit = NULL;
    }
    apic_destroy_all();
    if (pc_ioapic) {
        ioapic_destroy(pc_ioapic);
        pc_ioapic = NULL;
    }
    if (pc_pic) {
        i8259_destroy(pc_pic);
        pc_pic = NULL;
    }
    timers = NULL;
}
