/*
 * Run state shared by all threads: the big device lock, interrupt routing to the
 * accelerator, and shutdown/reset requests carried out by the main loop.
 */
#include <pthread.h>
#include <unistd.h>
#include "vireo/accel.h"
#include "vireo/machine.h"
#include "vireo/runstate.h"

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
const AccelOps *current_accel;

static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t req_cond = PTHREAD_COND_INITIALIZER;
static ShutdownCause pending;
static int wake_fd = -1;

void vireo_lock(void)
{
    pthread_mutex_lock(&big_lock);
}

void vireo_unlock(void)
{
    pthread_mutex_unlock(&big_lock);
}

void irq_set_level(unsigned gsi, int level)
{
    if (current_accel && current_accel->set_irq) {
        current_accel->set_irq(gsi, level);
    }
}

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
    pthread_cond_broadcast(&req_cond);
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
