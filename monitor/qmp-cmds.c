/*
 * The QMP command table. Each command's arguments are declared in a small schema beside its
 * handler (name, type, optional, enum values); qmp_check_args() checks a request against it
 * the way QEMU's QAPI input visitor does, with the same error texts, before the handler runs.
 * Reply members are inserted in QAPI declaration order (the serializer then orders them as
 * QEMU's QDict does).
 */
#include <glib.h>
#include <string.h>
#include <unistd.h>
#include "monitor-internal.h"
#include "vireo/accel.h"
#include "vireo/balloon.h"
#include "vireo/ui.h"
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/qemu-opts.h"
#include "vireo/qom.h"
#include "vireo/runstate.h"
#include "vireo/x86-cpu-model.h"

/* ---- argument checking ---------------------------------------------------------------- */

static const char *type_name(QmpArgType t)
{
    switch (t) {
    case QARG_STR:
    case QARG_ENUM:
        return "string";
    case QARG_INT:
        return "integer";
    case QARG_BOOL:
        return "boolean";
    case QARG_ENUM_LIST:
        return "array";
    case QARG_ANY:
        break;
    }
    return "value";
}

static bool type_ok(QmpArgType t, const QJ *v)
{
    switch (t) {
    case QARG_STR:
    case QARG_ENUM:
        return v->type == QJ_STRING;
    case QARG_INT:
        return v->type == QJ_INT;
    case QARG_BOOL:
        return v->type == QJ_BOOL;
    case QARG_ENUM_LIST:
        return v->type == QJ_ARRAY;
    case QARG_ANY:
        return true;
    }
    return false;
}

static bool enum_ok(const char *const *values, const char *s)
{
    for (; *values; values++) {
        if (!strcmp(*values, s)) {
            return true;
        }
    }
    return false;
}

bool qmp_check_args(const QmpCommand *cmd, const QJ *args, QmpError *err)
{
    if (cmd->args && cmd->args[0].name && !strcmp(cmd->args[0].name, "*")) {
        return true; /* the handler checks its arguments itself (blockdev-add, device_add) */
    }
    for (const QmpArg *a = cmd->args; a && a->name; a++) {
        const QJ *v = qj_get(args, a->name);
        if (!v) {
            if (!a->optional) {
                qmp_error(err, "GenericError", "Parameter '%s' is missing", a->name);
                return false;
            }
            continue;
        }
        if (!type_ok(a->type, v)) {
            qmp_error(err, "GenericError", "Invalid parameter type for '%s', expected: %s", a->name,
                      type_name(a->type));
            return false;
        }
        if (a->type == QARG_ENUM && !enum_ok(a->values, v->s)) {
            qmp_error(err, "GenericError", "Parameter '%s' does not accept value '%s'", a->name,
                      v->s);
            return false;
        }
        if (a->type == QARG_ENUM_LIST) {
            for (size_t i = 0; i < v->arr.n; i++) {
                const QJ *e = v->arr.items[i];
                if (e->type != QJ_STRING) {
                    qmp_error(err, "GenericError",
                              "Invalid parameter type for '%s[%zu]', expected: string", a->name, i);
                    return false;
                }
                if (!enum_ok(a->values, e->s)) {
                    /* QEMU 7.2 names list elements 'null' in this message. */
                    qmp_error(err, "GenericError", "Parameter 'null' does not accept value '%s'",
                              e->s);
                    return false;
                }
            }
        }
    }
    /* Then members the schema does not know, first in QEMU's iteration order. */
    size_t *order = qj_qemu_member_order(args);
    for (size_t k = 0; k < args->obj.n; k++) {
        const char *key = args->obj.m[order[k]].key;
        bool known = false;
        for (const QmpArg *a = cmd->args; a && a->name && !known; a++) {
            known = !strcmp(a->name, key);
        }
        if (!known) {
            qmp_error(err, "GenericError", "Parameter '%s' is unexpected", key);
            break;
        }
    }
    g_free(order);
    return !err->cls;
}

/* ---- handlers ------------------------------------------------------------------------- */

static const char *const capability_values[] = {"oob", NULL};
static const char *const data_format_values[] = {"utf8", "base64", NULL};
static const char *const cpu_expansion_values[] = {"static", "full", NULL};
static const QmpArg cpu_expansion_args[] = {
    {"type", QARG_ENUM, false, cpu_expansion_values}, {"model", QARG_ANY, false, NULL}, {NULL}};

static QJ *cmd_qmp_capabilities(Monitor *mon, const QJ *args, QmpError *err)
{
    if (monitor_qmp_negotiated(mon)) {
        qmp_error(err, "CommandNotFound",
                  "Capabilities negotiation is already complete, command ignored");
        return NULL;
    }
    bool oob = false;
    const QJ *en = qj_get(args, "enable");
    for (size_t i = 0; en && i < en->arr.n; i++) {
        oob |= !strcmp(en->arr.items[i]->s, "oob");
    }
    monitor_qmp_set_negotiated(mon, oob);
    return NULL;
}

static QJ *version_info(void)
{
    QJ *v = qj_object();
    QJ *q = qj_object();
    qj_set_int(q, "major", VIREO_QEMU_MAJOR);
    qj_set_int(q, "minor", VIREO_QEMU_MINOR);
    qj_set_int(q, "micro", VIREO_QEMU_MICRO);
    qj_set(v, "qemu", q);
    qj_set_str(v, "package", VIREO_QEMU_PACKAGE);
    return v;
}

static QJ *cmd_query_version(Monitor *mon, const QJ *args, QmpError *err)
{
    return version_info();
}

static QJ *cmd_query_commands(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *list = qj_array();
    for (const QmpCommand *c = qmp_command_list(); c->name; c++) {
        qj_append(list, qj_set_str(qj_object(), "name", c->name));
    }
    return list;
}

QJ *qmp_query_status(void)
{
    QJ *s = qj_object();
    qj_set_bool(s, "running", runstate_is_running());
    qj_set_bool(s, "singlestep", false);
    qj_set_str(s, "status", runstate_name(runstate_get()));
    return s;
}

static QJ *cmd_query_status(Monitor *mon, const QJ *args, QmpError *err)
{
    return qmp_query_status();
}

static QJ *cmd_query_name(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *r = qj_object();
    const VireoConfig *cfg = vm_config();
    if (cfg && cfg->name) {
        qj_set_str(r, "name", cfg->name);
    }
    return r;
}

static QJ *cmd_query_uuid(Monitor *mon, const QJ *args, QmpError *err)
{
    const VireoConfig *cfg = vm_config();
    return qj_set_str(qj_object(), "UUID",
                      cfg && cfg->uuid ? cfg->uuid : "00000000-0000-0000-0000-000000000000");
}

static QJ *cmd_query_kvm(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *r = qj_object();
    qj_set_bool(r, "enabled", current_accel == &kvm_accel_ops);
    qj_set_bool(r, "present", true);
    return r;
}

static QJ *cmd_query_cpus_fast(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *list = qj_array();
    const VireoConfig *cfg = vm_config();
    unsigned n = vm_cpu_count();
    for (unsigned i = 0; i < n; i++) {
        const SmpConfig *smp = &cfg->smp;
        unsigned threads = smp->threads ? smp->threads : 1, cores = smp->cores ? smp->cores : 1;
        unsigned dies = smp->dies ? smp->dies : 1;
        QJ *c = qj_object();
        qj_set_int(c, "cpu-index", i);
        /* QEMU's PC machine: CPU 0 is the first unattached device, the others follow one
         * object later. */
        char *path = g_strdup_printf("/machine/unattached/device[%u]", i ? i + 1 : 0);
        qj_set_str(c, "qom-path", path);
        g_free(path);
        int tid = vm_cpu_thread_id(i);
        qj_set_int(c, "thread-id", tid ? tid : getpid());
        QJ *props = qj_object();
        qj_set_int(props, "socket-id", i / (threads * cores * dies));
        if (dies > 1) {
            qj_set_int(props, "die-id", (i / (threads * cores)) % dies);
        }
        qj_set_int(props, "core-id", (i / threads) % cores);
        qj_set_int(props, "thread-id", i % threads);
        qj_set(c, "props", props);
        qj_set_str(c, "target", "x86_64");
        qj_append(list, c);
    }
    return list;
}

static QJ *machine_info(const char *name, const char *alias, bool is_default, int cpu_max,
                        const char *ram_id, bool pc)
{
    QJ *m = qj_object();
    qj_set_str(m, "name", name);
    if (alias) {
        qj_set_str(m, "alias", alias);
    }
    if (is_default) {
        qj_set_bool(m, "is-default", true);
    }
    qj_set_int(m, "cpu-max", cpu_max);
    /* Vireo has no CPU hotplug: false keeps libvirt from asking query-hotpluggable-cpus. */
    qj_set_bool(m, "hotpluggable-cpus", false);
    qj_set_bool(m, "numa-mem-supported", false);
    qj_set_bool(m, "deprecated", false);
    if (pc) {
        qj_set_str(m, "default-cpu-type", "qemu64-x86_64-cpu");
    }
    qj_set_str(m, "default-ram-id", ram_id);
    return m;
}

static QJ *cmd_query_machines(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *list = qj_array();
    qj_append(list, machine_info("pc-i440fx-7.2", "pc", true, 255, "pc.ram", true));
    qj_append(list, machine_info("pc-q35-7.2", "q35", false, 288, "pc.ram", true));
    qj_append(list, machine_info("none", NULL, false, 1, "ram", false));
    return list;
}

static QJ *cmd_query_target(Monitor *mon, const QJ *args, QmpError *err)
{
    return qj_set_str(qj_object(), "arch", "x86_64");
}

static void add_chardev_info(void *opaque, const char *label, const char *filename, bool open)
{
    QJ *c = qj_object();
    qj_set_str(c, "label", label);
    qj_set_str(c, "filename", filename);
    qj_set_bool(c, "frontend-open", open);
    qj_append(opaque, c);
}

static QJ *cmd_query_chardev(Monitor *mon, const QJ *args, QmpError *err)
{
    QJ *list = qj_array();
    chardev_foreach(add_chardev_info, list);
    return list;
}

/* The x86 CPU models (target/x86/cpu-models.c builds the replies) */
static QJ *cmd_query_cpu_definitions(Monitor *mon, const QJ *args, QmpError *err)
{
    return x86_qmp_cpu_definitions();
}

static QJ *cmd_query_cpu_model_expansion(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    QJ *r = x86_qmp_cpu_expansion(qj_get_str(args, "type"), qj_get(args, "model"), &e);
    if (!r) {
        qmp_error(err, "GenericError", "%s", e);
        g_free(e);
    }
    return r;
}

static QJ *cmd_stop(Monitor *mon, const QJ *args, QmpError *err)
{
    vm_stop(RUN_STATE_PAUSED);
    return NULL;
}

static QJ *cmd_cont(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    if (!vm_start(&e)) {
        qmp_error(err, "GenericError", "%s", e);
        g_free(e);
    }
    return NULL;
}

static QJ *cmd_system_reset(Monitor *mon, const QJ *args, QmpError *err)
{
    vm_reset(SHUTDOWN_HOST_QMP_SYSTEM_RESET);
    return NULL;
}

static QJ *cmd_system_powerdown(Monitor *mon, const QJ *args, QmpError *err)
{
    vm_powerdown();
    return NULL;
}

void vireo_quit(void)
{
    monitor_set_quitting();
    vm_shutdown_and_exit(SHUTDOWN_HOST_QMP_QUIT, 0);
}

void monitor_quit(void)
{
    vireo_quit();
}

static QJ *cmd_quit(Monitor *mon, const QJ *args, QmpError *err)
{
    vireo_quit();
    return NULL;
}

static QJ *cmd_human_monitor_command(Monitor *mon, const QJ *args, QmpError *err)
{
    return qj_string_take(hmp_run_capture(qj_get_str(args, "command-line")));
}

static bool base64_valid(const char *s)
{
    for (; *s; s++) {
        if (!g_ascii_isalnum(*s) && *s != '+' && *s != '/' && *s != '=' && !g_ascii_isspace(*s)) {
            return false;
        }
    }
    return true;
}

static QJ *cmd_ringbuf_write(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *data = qj_get_str(args, "data"), *fmt = qj_get_str(args, "format");
    guchar *bytes;
    gsize len;
    if (fmt && !strcmp(fmt, "base64")) {
        if (!base64_valid(data)) {
            qmp_error(err, "GenericError", "Base64 data contains invalid characters");
            return NULL;
        }
        bytes = g_base64_decode(data, &len);
    } else {
        len = strlen(data);
        bytes = (guchar *)g_strdup(data);
    }
    char *e = NULL;
    if (!chardev_ringbuf_write(qj_get_str(args, "device"), bytes, len, &e)) {
        qmp_error(err, "GenericError", "%s", e);
        g_free(e);
    }
    g_free(bytes);
    return NULL;
}

static QJ *cmd_ringbuf_read(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *fmt = qj_get_str(args, "format");
    size_t len;
    char *e = NULL;
    uint8_t *data =
        chardev_ringbuf_read(qj_get_str(args, "device"), qj_get(args, "size")->i, &len, &e);
    if (!data) {
        qmp_error(err, "GenericError", "%s", e);
        g_free(e);
        return NULL;
    }
    if (fmt && !strcmp(fmt, "base64")) {
        QJ *r = qj_string_take(g_base64_encode(data, len));
        g_free(data);
        return r;
    }
    return qj_string_take((char *)data);
}

static const char *const image_format_values[] = {"ppm", "png", NULL};

static QJ *cmd_screendump(Monitor *mon, const QJ *args, QmpError *err)
{
    const QJ *head = qj_get(args, "head");
    const char *fmt = qj_get_str(args, "format");
    const char *cls = NULL;
    char *e = NULL;
    if (!console_screendump(qj_get_str(args, "filename"), qj_get_str(args, "device"),
                            head != NULL, head ? head->i : 0, fmt && !strcmp(fmt, "png"), &cls,
                            &e)) {
        qmp_error(err, cls, "%s", e);
        g_free(e);
    }
    return NULL;
}

static const char *const password_protocol_values[] = {"vnc", "spice", NULL};
static const char *const set_password_action_values[] = {"keep", "fail", "disconnect", NULL};

static QJ *cmd_query_vnc(Monitor *mon, const QJ *args, QmpError *err)
{
    return vnc_query();
}

static QJ *cmd_query_vnc_servers(Monitor *mon, const QJ *args, QmpError *err)
{
    return vnc_query_servers();
}

static bool vnc_protocol(const QJ *args, QmpError *err)
{
    if (strcmp(qj_get_str(args, "protocol"), "vnc") != 0) {
        qmp_error(err, "DeviceNotActive", "SPICE is not in use");
        return false;
    }
    return true;
}

static QJ *cmd_set_password(Monitor *mon, const QJ *args, QmpError *err)
{
    if (!vnc_protocol(args, err)) {
        return NULL;
    }
    const char *connected = qj_get_str(args, "connected");
    if (connected && strcmp(connected, "keep") != 0) {
        qmp_error(err, "GenericError", "Invalid parameter 'connected'");
        return NULL;
    }
    char *hint = NULL;
    if (!vnc_set_password(qj_get_str(args, "display"), qj_get_str(args, "password"), &hint)) {
        qmp_error(err, "GenericError", "Could not set password");
    }
    g_free(hint);
    return NULL;
}

static QJ *cmd_change_vnc_password(Monitor *mon, const QJ *args, QmpError *err)
{
    char *hint = NULL;
    if (!vnc_set_password(NULL, qj_get_str(args, "password"), &hint)) {
        qmp_error(err, "GenericError", "Could not set password");
    }
    g_free(hint);
    return NULL;
}

static QJ *cmd_expire_password(Monitor *mon, const QJ *args, QmpError *err)
{
    if (!vnc_protocol(args, err)) {
        return NULL;
    }
    char *e = NULL;
    if (!vnc_expire_password(qj_get_str(args, "display"), qj_get_str(args, "time"), &e)) {
        qmp_error(err, "GenericError", "%s", e);
        g_free(e);
    }
    return NULL;
}

/*
 * device_add as QEMU 7.2 takes it: the arguments become -device options (QemuOpts), so values
 * are text (integers in decimal, booleans on/off; other JSON types are dropped), a non-string id
 * is ignored, and an id must be an identifier.
 */
static QJ *cmd_device_add(Monitor *mon, const QJ *args, QmpError *err)
{
    DeviceConfig dc = {0};
    size_t n = args ? args->obj.n : 0;
    dc.prop_keys = g_new0(char *, n + 1);
    dc.prop_values = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        const char *k = args->obj.m[i].key;
        const QJ *v = args->obj.m[i].value;
        char *text = NULL;
        switch (v->type) {
        case QJ_STRING:
            text = g_strdup(v->s);
            break;
        case QJ_INT:
            text = g_strdup_printf("%" G_GINT64_FORMAT, v->i);
            break;
        case QJ_UINT:
            text = g_strdup_printf("%" G_GUINT64_FORMAT, v->u);
            break;
        case QJ_BOOL:
            text = g_strdup(v->b ? "on" : "off");
            break;
        default:
            break;
        }
        if (!strcmp(k, "driver")) {
            g_free(dc.driver);
            dc.driver = text;
        } else if (!strcmp(k, "id")) {
            if (v->type == QJ_STRING) {
                g_free(dc.id);
                dc.id = text;
            } else {
                g_free(text);
            }
        } else if (text) {
            dc.prop_keys[dc.n_props] = g_strdup(k);
            dc.prop_values[dc.n_props++] = text;
        }
    }
    char *e = device_add_from_monitor(&dc);
    if (e) {
        qmp_error(err, "GenericError", "%s", e);
        g_free(e);
    }
    g_free(dc.driver);
    g_free(dc.id);
    g_strfreev(dc.prop_keys);
    g_strfreev(dc.prop_values);
    return NULL;
}

static QJ *cmd_device_del(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    vireo_lock();
    int r = device_unplug_request(qj_get_str(args, "id"), &e);
    vireo_unlock();
    if (r < 0) {
        qmp_error(err, r == -2 ? "DeviceNotFound" : "GenericError", "%s", e);
        g_free(e);
    }
    return NULL;
}

/* ---- the balloon (hw/virtio/virtio-balloon.c) ---- */

static QJ *cmd_balloon(Monitor *mon, const QJ *args, QmpError *err)
{
    int64_t value = qj_get(args, "value")->i, actual;
    vireo_lock();
    bool have = balloon_get_actual(&actual);
    if (have && value > 0) {
        balloon_set_target(value);
    }
    vireo_unlock();
    if (!have) {
        qmp_error(err, "DeviceNotActive", BALLOON_NOT_ACTIVE_MSG);
    } else if (value <= 0) {
        qmp_error(err, "GenericError", "Parameter 'target' expects a size");
    }
    return NULL;
}

static QJ *cmd_query_balloon(Monitor *mon, const QJ *args, QmpError *err)
{
    int64_t actual;
    vireo_lock();
    bool have = balloon_get_actual(&actual);
    vireo_unlock();
    if (!have) {
        qmp_error(err, "DeviceNotActive", BALLOON_NOT_ACTIVE_MSG);
        return NULL;
    }
    QJ *r = qj_object();
    qj_set_int(r, "actual", actual);
    return r;
}

/* ---- QOM introspection (hw/core/qom.c) ---- */

static QJ *qom_result(QJ *r, QomError *e, QmpError *err)
{
    if (!r) {
        qmp_error(err, e->not_found ? "DeviceNotFound" : "GenericError", "%s", e->msg);
        g_free(e->msg);
    }
    return r;
}

static QJ *cmd_qom_list_types(Monitor *mon, const QJ *args, QmpError *err)
{
    const QJ *abs = qj_get(args, "abstract");
    return qom_list_types(qj_get_str(args, "implements"), abs && abs->b);
}

static QJ *cmd_device_list_properties(Monitor *mon, const QJ *args, QmpError *err)
{
    QomError e = {0};
    return qom_result(qom_device_list_properties(qj_get_str(args, "typename"), &e), &e, err);
}

static QJ *cmd_qom_list(Monitor *mon, const QJ *args, QmpError *err)
{
    QomError e = {0};
    vireo_lock();
    QJ *r = qom_list(qj_get_str(args, "path"), &e);
    vireo_unlock();
    return qom_result(r, &e, err);
}

static QJ *cmd_qom_get(Monitor *mon, const QJ *args, QmpError *err)
{
    QomError e = {0};
    vireo_lock();
    QJ *r = qom_get(qj_get_str(args, "path"), qj_get_str(args, "property"), &e);
    vireo_unlock();
    return qom_result(r, &e, err);
}

static QJ *cmd_qom_set(Monitor *mon, const QJ *args, QmpError *err)
{
    QomError e = {0};
    vireo_lock();
    bool ok =
        qom_set(qj_get_str(args, "path"), qj_get_str(args, "property"), qj_get(args, "value"), &e);
    vireo_unlock();
    return qom_result(ok ? qj_object() : NULL, &e, err);
}

static QJ *cmd_empty_list(Monitor *mon, const QJ *args, QmpError *err)
{
    return qj_array();
}

/* ---- the table ------------------------------------------------------------------------ */

static const QmpArg no_args[] = {{NULL}};
static const QmpArg any_args[] = {{"*", QARG_ANY, true, NULL}, {NULL}};
static const QmpArg device_del_args[] = {{"id", QARG_STR, false, NULL}, {NULL}};
static const QmpArg qom_list_types_args[] = {
    {"implements", QARG_STR, true, NULL},
    {"abstract", QARG_BOOL, true, NULL},
    {NULL},
};
static const QmpArg balloon_args[] = {{"value", QARG_INT, false, NULL}, {NULL}};
static const QmpArg typename_args[] = {{"typename", QARG_STR, false, NULL}, {NULL}};
static const QmpArg path_args[] = {{"path", QARG_STR, false, NULL}, {NULL}};
static const QmpArg qom_get_args[] = {
    {"path", QARG_STR, false, NULL},
    {"property", QARG_STR, false, NULL},
    {NULL},
};
static const QmpArg qom_set_args[] = {
    {"path", QARG_STR, false, NULL},
    {"property", QARG_STR, false, NULL},
    {"value", QARG_ANY, false, NULL},
    {NULL},
};
static const QmpArg capabilities_args[] = {
    {"enable", QARG_ENUM_LIST, true, capability_values},
    {NULL},
};
static const QmpArg hmp_args[] = {
    {"command-line", QARG_STR, false, NULL},
    {"cpu-index", QARG_INT, true, NULL},
    {NULL},
};
static const QmpArg ringbuf_write_args[] = {
    {"device", QARG_STR, false, NULL},
    {"data", QARG_STR, false, NULL},
    {"format", QARG_ENUM, true, data_format_values},
    {NULL},
};
static const QmpArg ringbuf_read_args[] = {
    {"device", QARG_STR, false, NULL},
    {"size", QARG_INT, false, NULL},
    {"format", QARG_ENUM, true, data_format_values},
    {NULL},
};

static const QmpArg screendump_args[] = {
    {"filename", QARG_STR, false, NULL},
    {"device", QARG_STR, true, NULL},
    {"head", QARG_INT, true, NULL},
    {"format", QARG_ENUM, true, image_format_values},
    {NULL},
};

static const QmpArg set_password_args[] = {
    {"protocol", QARG_ENUM, false, password_protocol_values},
    {"password", QARG_STR, false, NULL},
    {"connected", QARG_ENUM, true, set_password_action_values},
    {"display", QARG_STR, true, NULL},
    {NULL},
};
static const QmpArg expire_password_args[] = {
    {"protocol", QARG_ENUM, false, password_protocol_values},
    {"time", QARG_STR, false, NULL},
    {"display", QARG_STR, true, NULL},
    {NULL},
};
static const QmpArg change_vnc_password_args[] = {
    {"password", QARG_STR, false, NULL},
    {NULL},
};

static const QmpCommand commands[] = {
    {"qmp_capabilities", cmd_qmp_capabilities, capabilities_args, "{}"},
    {"query-version", cmd_query_version, no_args, "VersionInfo"},
    {"query-commands", cmd_query_commands, no_args, "[CommandInfo]"},
    {"query-status", cmd_query_status, no_args, "StatusInfo"},
    {"query-name", cmd_query_name, no_args, "NameInfo"},
    {"query-uuid", cmd_query_uuid, no_args, "UuidInfo"},
    {"query-kvm", cmd_query_kvm, no_args, "KvmInfo"},
    {"query-cpus-fast", cmd_query_cpus_fast, no_args, "[CpuInfoFast]"},
    {"query-machines", cmd_query_machines, no_args, "[MachineInfo]"},
    {"query-target", cmd_query_target, no_args, "TargetInfo"},
    {"query-cpu-definitions", cmd_query_cpu_definitions, no_args, "[CpuDefinitionInfo]"},
    {"query-cpu-model-expansion", cmd_query_cpu_model_expansion, cpu_expansion_args,
     "CpuModelExpansionInfo"},
    {"query-chardev", cmd_query_chardev, no_args, "[ChardevInfo]"},
    {"stop", cmd_stop, no_args, "{}"},
    {"cont", cmd_cont, no_args, "{}"},
    {"system_reset", cmd_system_reset, no_args, "{}"},
    {"system_powerdown", cmd_system_powerdown, no_args, "{}"},
    {"quit", cmd_quit, no_args, "{}"},
    {"human-monitor-command", cmd_human_monitor_command, hmp_args, "str"},
    {"ringbuf-write", cmd_ringbuf_write, ringbuf_write_args, "{}"},
    {"ringbuf-read", cmd_ringbuf_read, ringbuf_read_args, "str"},
    {"screendump", cmd_screendump, screendump_args, "{}"},
    {"query-vnc", cmd_query_vnc, no_args, "VncInfo"},
    {"query-vnc-servers", cmd_query_vnc_servers, no_args, "[VncInfo2]"},
    {"set_password", cmd_set_password, set_password_args, "{}"},
    {"expire_password", cmd_expire_password, expire_password_args, "{}"},
    {"change-vnc-password", cmd_change_vnc_password, change_vnc_password_args, "{}"},
    {"device_add", cmd_device_add, any_args, "{}"},
    {"device_del", cmd_device_del, device_del_args, "{}"},
    {"balloon", cmd_balloon, balloon_args, "{}"},
    {"query-balloon", cmd_query_balloon, no_args, "BalloonInfo"},
    {"qom-list-types", cmd_qom_list_types, qom_list_types_args, "[ObjectTypeInfo]"},
    {"device-list-properties", cmd_device_list_properties, typename_args, "[ObjectPropertyInfo]"},
    {"qom-list", cmd_qom_list, path_args, "[ObjectPropertyInfo]"},
    {"qom-get", cmd_qom_get, qom_get_args, "any"},
    {"qom-set", cmd_qom_set, qom_set_args, "{}"},
    /* What a management tool's probe asks for; Vireo has none of these things yet. */
    {"query-qmp-schema", cmd_empty_list, no_args, "[SchemaInfo]"},
    {"query-jobs", cmd_empty_list, no_args, "[JobInfo]"},
    {"query-migrate-capabilities", cmd_empty_list, no_args, "[MigrationCapabilityStatus]"},
    {"query-command-line-options", cmd_empty_list, no_args, "[CommandLineOptionInfo]"},
    {NULL},
};

/* This file's commands, then each subsystem's table, as one NULL-terminated list. */
static const QmpCommand *const command_tables[] = {commands, qmp_block_commands,
                                                     qmp_input_commands, qmp_net_commands};

const QmpCommand *qmp_command_list(void)
{
    static QmpCommand *all;
    if (!all) {
        GArray *a = g_array_new(TRUE, TRUE, sizeof(QmpCommand));
        for (size_t t = 0; t < G_N_ELEMENTS(command_tables); t++) {
            for (const QmpCommand *c = command_tables[t]; c->name; c++) {
                g_array_append_val(a, *c);
            }
        }
        all = (QmpCommand *)(void *)g_array_free(a, FALSE);
    }
    return all;
}

const QmpCommand *qmp_find_command(const char *name)
{
    for (const QmpCommand *c = qmp_command_list(); c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}
