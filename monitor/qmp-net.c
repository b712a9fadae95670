/*
 * The network commands (docs/net.md): netdev_add, netdev_del, set_link, query-rx-filter, and
 * HMP's set_link, netdev_add and netdev_del. Errors and classes as QEMU 7.2's. They take the
 * big lock: net/ runs under it.
 */
#include <glib.h>
#include <string.h>
#include "monitor-internal.h"
#include "vireo/machine.h"
#include "vireo/net.h"

/* QMP's Netdev object as -netdev text: type first, then id, then the rest (strings, numbers,
 * booleans; lists of {"str": ...} as repeated keys, as hostfwd and dnssearch are) */
static char *netdev_spec(const QJ *args, QmpError *err)
{
    GString *s = g_string_new(NULL);
    const char *type = qj_get_str(args, "type");
    if (!type) {
        qmp_error(err, "GenericError", "Parameter 'type' is missing");
        g_string_free(s, TRUE);
        return NULL;
    }
    g_string_append(s, type);
    for (size_t i = 0; i < args->obj.n; i++) {
        const char *k = args->obj.m[i].key;
        const QJ *v = args->obj.m[i].value;
        if (!strcmp(k, "type")) {
            continue;
        }
        if (v->type == QJ_ARRAY) {
            for (size_t j = 0; j < v->arr.n; j++) {
                const char *str =
                    v->arr.items[j]->type == QJ_OBJECT ? qj_get_str(v->arr.items[j], "str") : NULL;
                if (!str) {
                    qmp_error(err, "GenericError",
                              "Invalid parameter type for '%s.%zu', "
                              "expected: object",
                              k, j);
                    g_string_free(s, TRUE);
                    return NULL;
                }
                gchar **parts = g_strsplit(str, ",", -1);
                char *e = g_strjoinv(",,", parts);
                g_strfreev(parts);
                g_string_append_printf(s, ",%s=%s", k, e);
                g_free(e);
            }
            continue;
        }
        char *val = v->type == QJ_STRING ? g_strdup(v->s)
                    : v->type == QJ_BOOL ? g_strdup(v->b ? "on" : "off")
                    : v->type == QJ_INT  ? g_strdup_printf("%" G_GINT64_FORMAT, v->i)
                                         : NULL;
        if (!val) {
            qmp_error(err, "GenericError", "Invalid parameter type for '%s', expected: string", k);
            g_string_free(s, TRUE);
            return NULL;
        }
        gchar **parts = g_strsplit(val, ",", -1);
        char *e = g_strjoinv(",,", parts);
        g_strfreev(parts);
        g_string_append_printf(s, ",%s=%s", k, e);
        g_free(e);
        g_free(val);
    }
    return g_string_free(s, FALSE);
}

static QJ *cmd_netdev_add(Monitor *mon, const QJ *args, QmpError *err)
{
    char *spec = netdev_spec(args, err);
    if (!spec) {
        return NULL;
    }
    char *e = NULL;
    vireo_lock();
    bool ok = netdev_add_opts(spec, &e);
    vireo_unlock();
    if (!ok) {
        qmp_error(err, "GenericError", "%s", e ? e : "netdev_add failed");
    }
    g_free(e);
    g_free(spec);
    return NULL;
}

static QJ *cmd_netdev_del(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    vireo_lock();
    bool ok = netdev_del(qj_get_str(args, "id"), &e);
    vireo_unlock();
    if (!ok) {
        qmp_error(err, "DeviceNotFound", "%s", e);
        g_free(e);
    }
    return NULL;
}

static QJ *cmd_set_link(Monitor *mon, const QJ *args, QmpError *err)
{
    char *e = NULL;
    vireo_lock();
    bool ok = net_set_link(qj_get_str(args, "name"), qj_get(args, "up")->b, &e);
    vireo_unlock();
    if (!ok) {
        qmp_error(err, "DeviceNotFound", "%s", e);
        g_free(e);
    }
    return NULL;
}

static void add_filter(NetClientState *nc, void *opaque)
{
    if (nc->info->query_rx_filter) {
        qj_append(opaque, nc->info->query_rx_filter(nc));
    }
}

static QJ *cmd_query_rx_filter(Monitor *mon, const QJ *args, QmpError *err)
{
    const char *name = qj_get_str(args, "name");
    QJ *list = qj_array();
    vireo_lock();
    if (name) {
        NetClientState *nc = net_find_client(name);
        if (!nc) {
            qmp_error(err, "GenericError", "invalid net client name: %s", name);
        } else if (nc->info->kind != NET_CLIENT_NIC) {
            qmp_error(err, "GenericError", "net client(%s) isn't a NIC", name);
        } else if (!nc->info->query_rx_filter) {
            qmp_error(err, "GenericError", "net client(%s) doesn't support rx-filter querying",
                      name);
        } else {
            add_filter(nc, list);
        }
    } else {
        net_foreach_nic(add_filter, list);
    }
    vireo_unlock();
    if (err->cls) {
        qj_free(list);
        return NULL;
    }
    return list;
}

static const QmpArg any_args[] = {{"*", QARG_ANY, true, NULL}, {NULL}};
static const QmpArg id_args[] = {{"id", QARG_STR, false, NULL}, {NULL}};
static const QmpArg set_link_args[] = {
    {"name", QARG_STR, false, NULL},
    {"up", QARG_BOOL, false, NULL},
    {NULL},
};
static const QmpArg rx_filter_args[] = {{"name", QARG_STR, true, NULL}, {NULL}};

const QmpCommand qmp_net_commands[] = {
    {"netdev_add", cmd_netdev_add, any_args, "{}"},
    {"netdev_del", cmd_netdev_del, id_args, "{}"},
    {"set_link", cmd_set_link, set_link_args, "{}"},
    {"query-rx-filter", cmd_query_rx_filter, rx_filter_args, "[RxFilterInfo]"},
    {NULL},
};

/* ---- HMP ---------------------------------------------------------------------------------- */

void hmp_set_link(Monitor *mon, char **argv)
{
    if (!argv[0] || !argv[1]) {
        monitor_printf(mon, "set_link: %s expected\nTry \"help set_link\" for more information\n",
                       argv[0] ? "up" : "name");
        return;
    }
    bool up;
    if (!strcmp(argv[1], "on")) {
        up = true;
    } else if (!strcmp(argv[1], "off")) {
        up = false;
    } else {
        monitor_printf(mon, "Expected 'on' or 'off'\n");
        return;
    }
    char *e = NULL;
    vireo_lock();
    bool ok = net_set_link(argv[0], up, &e);
    vireo_unlock();
    if (!ok) {
        monitor_printf(mon, "Error: %s\n", e);
        g_free(e);
    }
}

void hmp_netdev_add(Monitor *mon, char **argv)
{
    if (!argv[0]) {
        monitor_printf(mon, "netdev_add: netdev expected\nTry \"help netdev_add\" for more "
                            "information\n");
        return;
    }
    char *e = NULL;
    vireo_lock();
    bool ok = netdev_add_opts(argv[0], &e);
    vireo_unlock();
    if (!ok) {
        monitor_printf(mon, "Error: %s\n", e ? e : "netdev_add failed");
    }
    g_free(e);
}

void hmp_netdev_del(Monitor *mon, char **argv)
{
    if (!argv[0]) {
        monitor_printf(mon, "netdev_del: id expected\nTry \"help netdev_del\" for more "
                            "information\n");
        return;
    }
    char *e = NULL;
    vireo_lock();
    bool ok = netdev_del(argv[0], &e);
    vireo_unlock();
    if (!ok) {
        monitor_printf(mon, "Error: %s\n", e);
        g_free(e);
    }
}
