/*
 * The VM's run state (QEMU's RunState) and its lifecycle: start/stop of the vCPUs, reset,
 * power-down, shutdown. Devices raise requests with machine_request_shutdown() (machine.h)
 * from any thread; the main loop carries them out through runstate_handle_request().
 * Everything else here runs on the main thread without the big lock.
 */
#ifndef VIREO_RUNSTATE_H
#define VIREO_RUNSTATE_H

#include <stdbool.h>
#include "vireo/chardev.h"
#include "vireo/config.h"
#include "vireo/machine.h"

typedef enum {
    RUN_STATE_PRELAUNCH, /* -S: built, never run */
    RUN_STATE_RUNNING,
    RUN_STATE_PAUSED,
    RUN_STATE_SHUTDOWN, /* guest powered off under -no-shutdown */
    RUN_STATE_GUEST_PANICKED,
    RUN_STATE_INTERNAL_ERROR,
    RUN_STATE_IO_ERROR, /* a disk's werror/rerror=stop stopped it; cont retries */
} RunState;

/*
 * Run-state changes as QMP event names ("STOP", "RESUME", "RESET", "SHUTDOWN", "POWERDOWN")
 * with their data (a QJ object the notifier owns, or NULL). The monitor registers one.
 */
struct QJ;
typedef void (*RunStateNotifier)(const char *event, struct QJ *data);
void runstate_add_notifier(RunStateNotifier fn);

/* An eventfd the main loop polls; machine_request_shutdown() writes to it. */
void runstate_set_wakeup_fd(int fd);
/* Fetch and clear the pending request (SHUTDOWN_NONE when none). */
ShutdownCause runstate_take_request(void);
bool runstate_request_pending(void);

RunState runstate_get(void);
const char *runstate_name(RunState s);
bool runstate_is_running(void);
/* QEMU's ShutdownCause names: "guest-shutdown", "host-signal", ... */
const char *shutdown_cause_name(ShutdownCause c);

/*
 * The machine the lifecycle drives. have_machine false (-machine none): state changes and
 * events only. Called once by main() before vm_boot().
 */
void vm_setup(VireoConfig *cfg, Chardev *const *serial, int n_serial, bool have_machine);
/* Build the machine (vCPUs parked when start_paused) and enter prelaunch or running. */
int vm_boot(bool start_paused);
/* cont: prelaunch/paused -> running (RESUME). Returns false with *errp when a reset is
 * needed first (shutdown, panicked). */
bool vm_start(char **errp);
/* stop: running -> paused (STOP). */
void vm_stop(RunState to);
/* system_reset and guest resets: RESET event, reset the machine in place, keep running/paused. */
void vm_reset(ShutdownCause cause);
/* system_powerdown: POWERDOWN event and the ACPI power button. */
void vm_powerdown(void);
/* Emit SHUTDOWN {guest, reason} and ask the main loop to exit (exit_status). */
void vm_shutdown_and_exit(ShutdownCause cause, int exit_status);
/* Carry out a request raised with machine_request_shutdown(). */
void runstate_handle_request(ShutdownCause c);
/* Send the events devices posted (machine_post_event) to the notifiers. Main loop. */
void runstate_send_events(void);
/* Main loop hook: set by main(), called when the process should exit. */
extern void (*runstate_exit_hook)(int status);
/* Tear the machine down (at exit). */
void vm_teardown(void);

/* Per-vCPU facts for query-cpus-fast / info cpus. */
unsigned vm_cpu_count(void);
int vm_cpu_thread_id(unsigned index);
const VireoConfig *vm_config(void);

#endif
