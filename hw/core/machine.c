/*
 * The services every device calls (include/vireo/machine.h, irq.h): the big device lock, the
 * machine's interrupt lines (GSIs to the accelerator), and the shutdown/reset request mailbox
 * that the main loop empties (system/runstate.c carries the requests out).
 */
#include <pthread.h>
#include <unistd.h>
#include "vireo/accel.h"
#include "vireo/irq.h"
#include "vireo/machine.h"
#include "vireo/qjson.h"
#include "vireo/runstate.h"
#include <glib.h>

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool holding;

void vireo_lock(void)
{
    pthread_mutex_lock(&big_lock);
    holding = true;
}

void vireo_unlock(void)
{
    holding = false;
    pthread_mutex_unlock(&big_lock);
}

bool vireo_lock_held(void)
{
    return holding;
}

static unsigned smp_cpus = 1;

void machine_set_smp_cpus(unsigned n)
{
    smp_cpus = n ? n : 1;
}

unsigned machine_smp_cpus(void)
{
    return smp_cpus;
}

/* ---- interrupt lines ------------------------------------------------------------------ */

void irq_set_level(unsigned gsi, int level)
{
    if (current_accel && current_accel->set_irq) {
        current_accel->set_irq(gsi, level);
    }
}

#define N_GSI 24
static IRQ gsi_lines[N_GSI];

static void gsi_handler(void *opaque, int n, int level)
{
    (void)opaque;
    irq_set_level((unsigned)n, level);
}

IRQ *machine_gsi(unsigned gsi)
{
    if (gsi >= N_GSI) {
        return NULL;
    }
    IRQ *l = &gsi_lines[gsi];
    if (!l->handler) {
        l->handler = gsi_handler;
        l->n = (int)gsi;
    }
    return l;
}

IRQ *isa_get_irq(unsigned n)
{
    return n < 16 ? machine_gsi(n) : NULL;
}

/* ---- shutdown and reset requests -------------------------------------------------------- */

static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static ShutdownCause pending;
static int wake_fd = -1;

void runstate_set_wakeup_fd(int fd)
{
    wake_fd = fd;
}

void machine_request_shutdown(ShutdownCause cause)
{
    pthread_mutex_lock(&req_lock);
    /* A power-off or panic wins over a reset requested at the same time. */
    if (pending == SHUTDOWN_NONE || cause != SHUTDOWN_GUEST_RESET) {
        pending = cause;
    }
    pthread_mutex_unlock(&req_lock);
    if (wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(wake_fd, &one, sizeof(one));
        (void)r;
    }
}

ShutdownCause runstate_take_request(void)
{
    pthread_mutex_lock(&req_lock);
    ShutdownCause c = pending;
    pending = SHUTDOWN_NONE;
    pthread_mutex_unlock(&req_lock);
    return c;
}

bool runstate_request_pending(void)
{
    pthread_mutex_lock(&req_lock);
    bool p = pending != SHUTDOWN_NONE;
    pthread_mutex_unlock(&req_lock);
    return p;
}

/* ---- events devices raise (DEVICE_DELETED), sent from the main loop ---------------------- */

typedef struct PendingEvent {
    char *name;
    QJ *data;
} PendingEvent;
static GQueue events = G_QUEUE_INIT;

void machine_post_event(const char *name, QJ *data)
{
    PendingEvent *e = g_new(PendingEvent, 1);
    e->name = g_strdup(name);
    e->data = data;
    pthread_mutex_lock(&req_lock);
    g_queue_push_tail(&events, e);
    pthread_mutex_unlock(&req_lock);
    if (wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(wake_fd, &one, sizeof(one));
        (void)r;
    }
}

bool machine_take_event(char **name, QJ **data)
{
    pthread_mutex_lock(&req_lock);
    PendingEvent *e = g_queue_pop_head(&events);
    pthread_mutex_unlock(&req_lock);
    if (!e) {
        return false;
    }
    *name = e->name;
    *data = e->data;
    g_free(e);
    return true;
}
