/* The VM side of the monitor, stubbed for the fuzz target: no machine, states only. */
#include <glib.h>
#include "vireo/accel.h"
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/monitor.h"
#include "vireo/qom.h"
#include "vireo/runstate.h"
#include "vireo/ui.h"
#include "vireo/balloon.h"
#include "vireo/net.h"
#include "vireo/console.h"
#include "vireo/timer.h"

const AccelOps *current_accel;
const AccelOps kvm_accel_ops = {.name = "kvm"};
static RunState state = RUN_STATE_RUNNING;
static VireoConfig cfg;

void vireo_lock(void)
{
}

void vireo_unlock(void)
{
}

RunState runstate_get(void)
{
    return state;
}

const char *runstate_name(RunState s)
{
    return s == RUN_STATE_RUNNING ? "running" : "paused";
}

bool runstate_is_running(void)
{
    return state == RUN_STATE_RUNNING;
}

bool vm_start(char **errp)
{
    if (state != RUN_STATE_RUNNING) {
        state = RUN_STATE_RUNNING;
        monitor_event("RESUME", NULL);
    }
    return true;
}

void vm_stop(RunState to)
{
    if (state == RUN_STATE_RUNNING) {
        state = to;
        monitor_event("STOP", NULL);
    }
}

void vm_reset(ShutdownCause cause)
{
    monitor_event("RESET", NULL);
}

void vm_powerdown(void)
{
    monitor_event("POWERDOWN", NULL);
}

void vm_shutdown_and_exit(ShutdownCause cause, int exit_status)
{
    monitor_event("SHUTDOWN", NULL);
}

unsigned vm_cpu_count(void)
{
    return 2;
}

int vm_cpu_thread_id(unsigned index)
{
    return 0;
}

const VireoConfig *vm_config(void)
{
    cfg.smp.cpus = cfg.smp.sockets = cfg.smp.dies = cfg.smp.threads = 1;
    cfg.smp.cores = 2;
    return &cfg;
}

bool console_screendump(const char *filename, const char *device, bool has_head, int64_t head,
                        bool png, const char **errclass, char **errp)
{
    *errclass = "GenericError";
    *errp = g_strdup("There is no console to take a screendump from");
    return false;
}

QJ *vnc_query(void)
{
    return qj_set_bool(qj_object(), "enabled", false);
}

QJ *vnc_query_servers(void)
{
    return qj_array();
}

char *vnc_info_text(void)
{
    return g_strdup("None\n");
}

bool vnc_set_password(const char *display, const char *password, char **hint)
{
    *hint = NULL;
    return false;
}

bool vnc_expire_password(const char *display, const char *when, char **errp)
{
    *errp = g_strdup("Could not set password expire time");
    return false;
}

/* No machine, no buses: every device_add fails, no id exists. */
Device *device_hotplug(const DeviceConfig *dc, char **errp)
{
    *errp = g_strdup_printf("No 'PCI' bus found for device '%s'", dc->driver ? dc->driver : "");
    return NULL;
}

char *device_add_from_monitor(const DeviceConfig *dc)
{
    char *e = NULL;
    device_hotplug(dc, &e);
    return e;
}

Device *device_find_id(const char *id)
{
    (void)id;
    return NULL;
}

int device_unplug_request(const char *id, char **errp)
{
    *errp = g_strdup_printf("Device '%s' not found", id);
    return -2;
}

/* No machine: no types, no objects. */
QJ *qom_list_types(const char *implements, bool abstract)
{
    return qj_array();
}

QJ *qom_device_list_properties(const char *typename, QomError *err)
{
    err->not_found = true;
    err->msg = g_strdup_printf("Device '%s' not found", typename);
    return NULL;
}

QJ *qom_list(const char *path, QomError *err)
{
    err->not_found = true;
    err->msg = g_strdup_printf("Device '%s' not found", path);
    return NULL;
}

QJ *qom_get(const char *path, const char *prop, QomError *err)
{
    return qom_list(path, err);
}

/* kvmdisk: qom-set (hw/core/qom.c) */
bool qom_set(const char *path, const char *prop, const QJ *value, QomError *err)
{
    (void)prop;
    (void)value;
    qj_free(qom_list(path, err));
    return false;
}

/* ui/input.c's neighbours: no consoles, timers that never fire (send-key's queue stays
 * bounded by its limit). */
void console_kick(VConsole *con)
{
    (void)con;
}

VConsole *console_lookup_locked(const char *device, int64_t head, const char **errclass,
                                char **errp)
{
    (void)head;
    *errclass = "DeviceNotFound";
    *errp = g_strdup_printf("Device '%s' not found", device);
    return NULL;
}

int64_t vclock_ns(void)
{
    return 0;
}

void vtimer_init(VTimer *t, void (*cb)(void *opaque), void *opaque)
{
    t->cb = cb;
    t->opaque = opaque;
    t->armed = false;
}

void vtimer_mod(VTimer *t, int64_t expire_ns)
{
    t->expire = expire_ns;
    t->armed = true;
}

void vtimer_del(VTimer *t)
{
    t->armed = false;
}

/* No balloon device. */
bool balloon_set_target(int64_t target)
{
    (void)target;
    return false;
}

bool balloon_get_actual(int64_t *actual)
{
    (void)actual;
    return false;
}

/* No networks: netdev_add refuses, nothing to find. */
bool netdev_add_opts(const char *spec, char **errp)
{
    (void)spec;
    *errp = g_strdup("Parameter 'type' is missing");
    return false;
}

bool netdev_del(const char *id, char **errp)
{
    *errp = g_strdup_printf("Device '%s' not found", id);
    return false;
}

bool net_set_link(const char *name, bool up, char **errp)
{
    (void)up;
    *errp = g_strdup_printf("Device '%s' not found", name);
    return false;
}

char *net_info_network(void)
{
    return g_strdup("");
}

/* ---- usb (helper "usb"): HMP info usb ---- */
char *usb_info_text(void)
{
    return NULL;
}

NetClientState *net_find_client(const char *name)
{
    (void)name;
    return NULL;
}

void net_foreach_nic(void (*fn)(NetClientState *nc, void *opaque), void *opaque)
{
    (void)fn;
    (void)opaque;
}

/* ---- CPU models (target/x86/cpu-models.c): query-cpu-definitions, -model-expansion ---- */
#include "vireo/x86-cpu-model.h"

QJ *x86_qmp_cpu_definitions(void)
{
    return qj_array();
}

QJ *x86_qmp_cpu_expansion(const char *type, const QJ *model, char **errp)
{
    (void)type;
    (void)model;
    *errp = g_strdup("CPU models are not linked into the fuzzer");
    return NULL;
}
