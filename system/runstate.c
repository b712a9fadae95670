/*
 * The VM lifecycle (QEMU's RunState: prelaunch, running, paused, shutdown) and its events,
 * told to run-state notifiers (the monitor turns them into QMP events). The services devices
 * call (big lock, interrupt lines, shutdown requests) live in hw/core/machine.c.
 */
#include <glib.h>
#include "vireo/accel.h"
#include "vireo/acpi.h"
#include "vireo/machine.h"
#include "vireo/pc.h"
#include "vireo/qjson.h"
#include "vireo/runstate.h"
#include "vireo/timer.h"

/* Run-state events go to whoever listens (the monitor registers at start). */
#define MAX_NOTIFIERS 4
static RunStateNotifier notifiers[MAX_NOTIFIERS];
static int n_notifiers;

void runstate_add_notifier(RunStateNotifier fn)
{
    if (n_notifiers < MAX_NOTIFIERS) {
        notifiers[n_notifiers++] = fn;
    }
}

/* Takes ownership of data (a QJ object or NULL). */
static void notify(const char *event, QJ *data)
{
    for (int i = 0; i < n_notifiers; i++) {
        notifiers[i](event, i == n_notifiers - 1 ? data : (data ? qj_copy(data) : NULL));
    }
    if (!n_notifiers && data) {
        qj_free(data);
    }
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static RunState state = RUN_STATE_PRELAUNCH;
static VireoConfig *vm_cfg;
static Chardev *const *vm_serial;
static int vm_n_serial;
static bool vm_have_machine;
static bool vm_built;
void (*runstate_exit_hook)(int status);

static const char *const state_names[] = {
    [RUN_STATE_PRELAUNCH] = "prelaunch",
    [RUN_STATE_RUNNING] = "running",
    [RUN_STATE_PAUSED] = "paused",
    [RUN_STATE_SHUTDOWN] = "shutdown",
    [RUN_STATE_GUEST_PANICKED] = "guest-panicked",
    [RUN_STATE_INTERNAL_ERROR] = "internal-error",
    [RUN_STATE_IO_ERROR] = "io-error",
};

RunState runstate_get(void)
{
    return state;
}

const char *runstate_name(RunState s)
{
    return state_names[s];
}

bool runstate_is_running(void)
{
    return state == RUN_STATE_RUNNING;
}

const char *shutdown_cause_name(ShutdownCause c)
{
    switch (c) {
    case SHUTDOWN_NONE:
        return "none";
    case SHUTDOWN_GUEST_POWEROFF:
        return "guest-shutdown";
    case SHUTDOWN_GUEST_RESET:
        return "guest-reset";
    case SHUTDOWN_HOST_SIGNAL:
        return "host-signal";
    case SHUTDOWN_GUEST_PANIC:
        return "guest-panic";
    case SHUTDOWN_HOST_QMP_QUIT:
        return "host-qmp-quit";
    case SHUTDOWN_HOST_QMP_SYSTEM_RESET:
        return "host-qmp-system-reset";
    }
    return "none";
}

static bool cause_is_guest(ShutdownCause c)
{
    return c == SHUTDOWN_GUEST_POWEROFF || c == SHUTDOWN_GUEST_RESET || c == SHUTDOWN_GUEST_PANIC;
}

static QJ *guest_reason(ShutdownCause c)
{
    QJ *d = qj_object();
    qj_set_bool(d, "guest", cause_is_guest(c));
    qj_set_str(d, "reason", shutdown_cause_name(c));
    return d;
}

void vm_setup(VireoConfig *cfg, Chardev *const *serial, int n_serial, bool have_machine)
{
    vm_cfg = cfg;
    vm_serial = serial;
    vm_n_serial = n_serial;
    vm_have_machine = have_machine;
}

const VireoConfig *vm_config(void)
{
    return vm_cfg;
}

static void accel_pause(void)
{
    vclock_pause();
    if (current_accel && current_accel->pause_vcpus) {
        current_accel->pause_vcpus();
    }
}

static void accel_resume(void)
{
    vclock_resume();
    if (current_accel && current_accel->resume_vcpus) {
        current_accel->resume_vcpus();
    }
}

/* Build the machine; its vCPU threads start parked unless `run`. */
static int machine_build(bool run)
{
    if (!vm_have_machine) {
        return 0;
    }
    if (run) {
        accel_resume();
    } else {
        accel_pause();
    }
    if (pc_machine_start(vm_cfg, vm_serial, vm_n_serial) < 0) {
        return -1;
    }
    vm_built = true;
    return 0;
}

static void machine_destroy(void)
{
    if (vm_built) {
        pc_machine_stop();
        vm_built = false;
    }
}

int vm_boot(bool start_paused)
{
    state = RUN_STATE_PRELAUNCH;
    if (machine_build(false) < 0) {
        return -1;
    }
    if (!start_paused) {
        vm_start(NULL);
    }
    return 0;
}

void vm_teardown(void)
{
    machine_destroy();
}

bool vm_start(char **errp)
{
    if (state == RUN_STATE_SHUTDOWN || state == RUN_STATE_GUEST_PANICKED ||
        state == RUN_STATE_INTERNAL_ERROR) {
        if (errp) {
            *errp = g_strdup("Resetting the Virtual Machine is required");
        }
        return false;
    }
    if (state == RUN_STATE_RUNNING) {
        return true;
    }
    state = RUN_STATE_RUNNING;
    accel_resume();
    notify("RESUME", NULL);
    return true;
}

void vm_stop(RunState to)
{
    if (state != RUN_STATE_RUNNING) {
        return; /* QEMU: stopping a VM that does not run changes nothing, says nothing */
    }
    accel_pause();
    state = to;
    notify("STOP", NULL);
}

void vm_reset(ShutdownCause cause)
{
    notify("RESET", guest_reason(cause));
    bool run = state == RUN_STATE_RUNNING;
    if (vm_have_machine && vm_built) {
        /* The machine stays: devices reset newest first, vCPUs at power-on (hw/x86/pc.c). */
        if (run) {
            accel_resume();
        } else {
            accel_pause();
        }
        if (pc_machine_reset() < 0) {
            vm_shutdown_and_exit(SHUTDOWN_NONE, 1);
            return;
        }
    }
    /* Out of shutdown/panic the VM is ready to run again, as a fresh one. */
    if (!run && state != RUN_STATE_PAUSED) {
        state = RUN_STATE_PRELAUNCH;
    }
}

void vm_powerdown(void)
{
    notify("POWERDOWN", NULL);
    if (vm_built) {
        vireo_lock();
        acpi_pm_press_power_button();
        vireo_unlock();
    }
}

void vm_shutdown_and_exit(ShutdownCause cause, int exit_status)
{
    if (cause != SHUTDOWN_NONE) {
        notify("SHUTDOWN", guest_reason(cause));
    }
    if (runstate_exit_hook) {
        runstate_exit_hook(exit_status);
    }
}

/* The guest is gone: exit, or with -no-shutdown stay paused in "shutdown". */
static void guest_shutdown(ShutdownCause cause)
{
    if (vm_cfg && vm_cfg->no_shutdown) {
        notify("SHUTDOWN", guest_reason(cause));
        vm_stop(RUN_STATE_SHUTDOWN);
        state = RUN_STATE_SHUTDOWN;
        return;
    }
    vm_shutdown_and_exit(cause, 0);
}

void runstate_send_events(void)
{
    char *name;
    QJ *data;
    while (machine_take_event(&name, &data)) {
        notify(name, data);
        g_free(name);
    }
}

void runstate_handle_request(ShutdownCause c)
{
    switch (c) {
    case SHUTDOWN_NONE:
        break;
    case SHUTDOWN_GUEST_POWEROFF:
        guest_shutdown(c);
        break;
    case SHUTDOWN_GUEST_RESET:
        if (vm_cfg && vm_cfg->no_reboot) {
            guest_shutdown(c);
        } else {
            vm_reset(c);
        }
        break;
    case SHUTDOWN_GUEST_PANIC:
        vm_shutdown_and_exit(SHUTDOWN_NONE, 1);
        break;
    case SHUTDOWN_HOST_SIGNAL:
    case SHUTDOWN_HOST_QMP_QUIT:
        vm_shutdown_and_exit(c, 0);
        break;
    case SHUTDOWN_HOST_QMP_SYSTEM_RESET:
        vm_reset(c);
        break;
    }
}

unsigned vm_cpu_count(void)
{
    return vm_have_machine && vm_cfg ? vm_cfg->smp.cpus : 0;
}

int vm_cpu_thread_id(unsigned index)
{
    if (!vm_built || !current_accel || !current_accel->vcpu_thread_id) {
        return 0;
    }
    return current_accel->vcpu_thread_id(index);
}
