/*
 * Network clients, hubs and the -netdev / -nic / -net options (docs/net.md).
 *
 * A client is a backend (user), a NIC front-end or a hub port; two clients are peers. A
 * packet goes from a client to its peer's receive hook; while the peer cannot take it (a NIC
 * whose guest posted no buffers) it waits in the peer's queue, up to NET_QUEUE_MAX packets,
 * and the peer asks for it with net_flush_queue(). Hubs (legacy -net) forward what one port
 * receives to every other port's peer. Everything runs with the big lock held.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/config.h"
#include "vireo/error.h"
#include "vireo/net.h"
#include "vireo/qemu-opts.h"
#include "vireo/virtio.h"

#define NET_QUEUE_MAX 10000

struct NetPacket {
    NetPacket *next;
    size_t len;
    uint8_t data[];
};

static NetClientState *clients; /* creation order */
static GPtrArray *nic_requests; /* NicRequest * */
static unsigned mac_index;
static unsigned anon_index;

/* ---- clients ------------------------------------------------------------------------------ */

static unsigned model_count(const char *model)
{
    unsigned n = 0;
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->info->kind == NET_CLIENT_NIC && !strcmp(c->model, model)) {
            n++;
        }
    }
    return n;
}

NetClientState *net_client_new(const NetClientInfo *info, NetClientState *peer, const char *model,
                               const char *name, void *opaque)
{
    NetClientState *nc = g_new0(NetClientState, 1);
    nc->info = info;
    nc->model = g_strdup(model);
    nc->name = name ? g_strdup(name) : g_strdup_printf("%s.%u", model, model_count(model));
    nc->opaque = opaque;
    nc->hub_id = -1;
    nc->queue_tail = &nc->queue_head;
    if (peer) {
        nc->peer = peer;
        peer->peer = nc;
    }
    NetClientState **p = &clients;
    while (*p) {
        p = &(*p)->next;
    }
    *p = nc;
    return nc;
}

void net_purge_queue(NetClientState *nc)
{
    while (nc->queue_head) {
        NetPacket *p = nc->queue_head;
        nc->queue_head = p->next;
        g_free(p);
    }
    nc->queue_tail = &nc->queue_head;
    nc->queue_len = 0;
}

void net_client_free(NetClientState *nc)
{
    if (!nc) {
        return;
    }
    for (NetClientState **p = &clients; *p; p = &(*p)->next) {
        if (*p == nc) {
            *p = nc->next;
            break;
        }
    }
    if (nc->peer) {
        nc->peer->peer = NULL;
        net_purge_queue(nc->peer);
    }
    if (nc->info->cleanup) {
        nc->info->cleanup(nc);
    }
    net_purge_queue(nc);
    g_free(nc->name);
    g_free(nc->model);
    g_free(nc->info_str);
    g_free(nc);
}

void net_client_set_info(NetClientState *nc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_free(nc->info_str);
    nc->info_str = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

NetClientState *net_find_client(const char *name)
{
    for (NetClientState *c = clients; c; c = c->next) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

NetClientState *netdev_find(const char *id)
{
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->is_netdev && !strcmp(c->name, id)) {
            return c;
        }
    }
    return NULL;
}

void net_foreach_nic(void (*fn)(NetClientState *nc, void *opaque), void *opaque)
{
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->info->kind == NET_CLIENT_NIC) {
            fn(c, opaque);
        }
    }
}

void net_default_mac(uint8_t mac[6])
{
    static const uint8_t base[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    memcpy(mac, base, 6);
    mac[5] = (uint8_t)(base[5] + mac_index++);
}

bool netdev_claim(const char *id, const char *prop, NetClientState **out, char **errp)
{
    *out = NULL;
    if (!id) {
        return true;
    }
    NetClientState *nc = netdev_find(id);
    if (!nc) {
        /* a hub port of -net nic is not a netdev, but the implied NIC names it */
        nc = net_find_client(id);
        if (nc && nc->info->kind != NET_CLIENT_HUBPORT) {
            nc = NULL;
        }
    }
    if (!nc) {
        *errp = g_strdup_printf("Property '%s' can't find value '%s'", prop, id);
        return false;
    }
    if (nc->peer) {
        *errp = g_strdup_printf("Property '%s' can't take value '%s', it's in use", prop, id);
        return false;
    }
    *out = nc;
    return true;
}

/* ---- sending ------------------------------------------------------------------------------ */

static ssize_t deliver(NetClientState *to, const struct iovec *iov, int iovcnt)
{
    if (to->info->can_receive && !to->info->can_receive(to)) {
        return 0;
    }
    return to->info->receive(to, iov, iovcnt);
}

static void enqueue(NetClientState *to, const struct iovec *iov, int iovcnt)
{
    if (to->queue_len >= NET_QUEUE_MAX) {
        return; /* dropped, as QEMU's full queue drops */
    }
    size_t len = iov_size(iov, (unsigned)iovcnt);
    NetPacket *p = g_malloc(sizeof(*p) + len);
    p->next = NULL;
    p->len = len;
    iov_to_buf(iov, (unsigned)iovcnt, 0, p->data, len);
    *to->queue_tail = p;
    to->queue_tail = &p->next;
    to->queue_len++;
}

void net_send_iov(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    NetClientState *to = nc->peer;
    if (!to || nc->link_down || to->link_down) {
        return;
    }
    if (to->queue_head || deliver(to, iov, iovcnt) == 0) {
        enqueue(to, iov, iovcnt);
    }
}

void net_send(NetClientState *nc, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    net_send_iov(nc, &iov, 1);
}

void net_flush_queue(NetClientState *nc)
{
    while (nc->queue_head) {
        NetPacket *p = nc->queue_head;
        struct iovec iov = {.iov_base = p->data, .iov_len = p->len};
        if (deliver(nc, &iov, 1) == 0) {
            return;
        }
        nc->queue_head = p->next;
        if (!nc->queue_head) {
            nc->queue_tail = &nc->queue_head;
        }
        nc->queue_len--;
        g_free(p);
    }
}

/* ---- hubs --------------------------------------------------------------------------------- */

static ssize_t hubport_receive(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    size_t len = iov_size(iov, (unsigned)iovcnt);
    for (NetClientState *c = clients; c; c = c->next) {
        if (c != nc && c->info->kind == NET_CLIENT_HUBPORT && c->hub_id == nc->hub_id) {
            net_send_iov(c, iov, iovcnt);
        }
    }
    return (ssize_t)len;
}

static const NetClientInfo hubport_info = {
    .kind = NET_CLIENT_HUBPORT,
    .type = "hubport",
    .receive = hubport_receive,
};

static NetClientState *hub_add_port(int hub_id, const char *name, NetClientState *peer)
{
    unsigned n = 0;
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->info->kind == NET_CLIENT_HUBPORT && c->hub_id == hub_id) {
            n++;
        }
    }
    char *def = g_strdup_printf("hub%dport%u", hub_id, n);
    NetClientState *nc = net_client_new(&hubport_info, peer, "hub", name ? name : def, NULL);
    nc->hub_id = hub_id;
    g_free(def);
    return nc;
}

/* ---- -netdev / -nic / -net ---------------------------------------------------------------- */

static const char *const netdev_types[] = {"socket", "stream",     "dgram",      "hubport",
                                           "tap",    "user",       "l2tpv3",     "vde",
                                           "bridge", "vhost-user", "vhost-vdpa", NULL};

static const char *const nic_models[] = {"e1000",
                                         "e1000-82544gc",
                                         "e1000-82545em",
                                         "e1000e",
                                         "i82550",
                                         "i82551",
                                         "i82557a",
                                         "i82557b",
                                         "i82557c",
                                         "i82558a",
                                         "i82558b",
                                         "i82559a",
                                         "i82559b",
                                         "i82559c",
                                         "i82559er",
                                         "i82562",
                                         "i82801",
                                         "ne2k_pci",
                                         "pcnet",
                                         "pvrdma",
                                         "rtl8139",
                                         "tulip",
                                         "virtio-net-pci",
                                         "virtio-net-pci-non-transitional",
                                         "virtio-net-pci-transitional",
                                         "vmxnet3",
                                         NULL};

static bool is_implemented_nic(const char *model)
{
    return !strcmp(model, "virtio-net-pci") || !strcmp(model, "e1000") ||
           !strcmp(model, "e1000-82544gc") || !strcmp(model, "e1000-82545em");
}

static const char *const user_keys[] = {"type",
                                        "id",
                                        "ipv4",
                                        "ipv6",
                                        "restrict",
                                        "ip",
                                        "net",
                                        "host",
                                        "tftp",
                                        "bootfile",
                                        "dhcpstart",
                                        "dns",
                                        "dnssearch",
                                        "domainname",
                                        "hostname",
                                        "ipv6-prefix",
                                        "ipv6-prefixlen",
                                        "ipv6-host",
                                        "ipv6-dns",
                                        "ipv6-net",
                                        "tftp-server-name",
                                        "smb",
                                        "smbserver",
                                        "hostfwd",
                                        "guestfwd",
                                        NULL};
static const char *const hubport_keys[] = {"type", "id", "hubid", "netdev", NULL};

static void print_models(void)
{
    printf("Supported NIC models:\n");
    for (int i = 0; nic_models[i]; i++) {
        printf("%s\n", nic_models[i]);
    }
}

static char *type_error(const char *type)
{
    return g_strdup_printf("Parameter 'type' does not accept value '%s'", type);
}

static bool known_type(const char *type)
{
    for (int i = 0; netdev_types[i]; i++) {
        if (!strcmp(netdev_types[i], type)) {
            return true;
        }
    }
    return false;
}

/* QEMU's model aliases for -net nic / -nic */
static const char *nic_model_name(const char *model)
{
    if (!model) {
        return "e1000"; /* QEMU's pc */
    }
    if (!strcmp(model, "virtio")) {
        return "virtio-net-pci";
    }
    return model;
}

static void add_nic_request(const char *driver, const char *netdev, const char *mac,
                            const char *loc)
{
    if (!nic_requests) {
        nic_requests = g_ptr_array_new();
    }
    NicRequest *r = g_new0(NicRequest, 1);
    r->driver = g_strdup(driver);
    r->netdev = g_strdup(netdev);
    r->mac = g_strdup(mac);
    r->loc = g_strdup(loc);
    g_ptr_array_add(nic_requests, r);
}

const NicRequest *net_nic_requests(int *n)
{
    static NicRequest *empty;
    if (!nic_requests) {
        *n = 0;
        return empty;
    }
    *n = (int)nic_requests->len;
    /* the array holds pointers; hand out a packed copy kept until net_cleanup */
    static NicRequest *packed;
    g_free(packed);
    packed = g_new0(NicRequest, nic_requests->len + 1);
    for (guint i = 0; i < nic_requests->len; i++) {
        packed[i] = *(NicRequest *)g_ptr_array_index(nic_requests, i);
    }
    return packed;
}

/*
 * Create a backend of `type` from opts (keys already checked). peer may be a hub port.
 * is_netdev: it has a -netdev id.
 */
static NetClientState *create_backend(const char *type, const QOpts *opts, const char *name,
                                      NetClientState *peer, char **errp)
{
    if (!strcmp(type, "user")) {
        return net_init_user(opts, name, peer, errp);
    }
    if (!strcmp(type, "tap")) {
        return net_init_tap(opts, name, peer, errp);
    }
    if (!strcmp(type, "stream")) {
        return net_init_stream(opts, name, peer, errp);
    }
    if (!strcmp(type, "dgram")) {
        return net_init_dgram(opts, name, peer, errp);
    }
    if (!strcmp(type, "socket")) {
        return net_init_socket(opts, name, peer, errp);
    }
    if (!strcmp(type, "hubport")) {
        const char *hubid = qopts_get(opts, "hubid");
        uint64_t id;
        if (!hubid) {
            *errp = g_strdup("Parameter 'hubid' is missing");
            return NULL;
        }
        if (qopts_strtou64(hubid, 10, &id) < 0 || id > 0x7fffffff) {
            *errp = g_strdup("Parameter 'hubid' expects int32");
            return NULL;
        }
        if (qopts_get(opts, "netdev")) {
            NetClientState *p;
            if (!netdev_claim(qopts_get(opts, "netdev"), "netdev", &p, errp)) {
                return NULL;
            }
            return hub_add_port((int)id, name, p);
        }
        return hub_add_port((int)id, name, NULL);
    }
    *errp = g_strdup_printf("network backend '%s' is not available in Vireo (docs/net.md)", type);
    return NULL;
}

static const char *const tap_keys[] = {
    "type",       "id",       "ifname",     "fd",     "fds",      "script",
    "downscript", "br",       "helper",     "sndbuf", "vnet_hdr", "vhost",
    "vhostfd",    "vhostfds", "vhostforce", "queues", "poll-us",  NULL};
/* dotted keys (addr.type, addr.host, ...) are checked by their first part */
static const char *const stream_keys[] = {"type", "id", "server", "addr", NULL};
static const char *const dgram_keys[] = {"type", "id", "local", "remote", NULL};
static const char *const socket_keys[] = {"type",  "id",        "fd",  "listen", "connect",
                                          "mcast", "localaddr", "udp", NULL};

static const char *const *keys_for(const char *type)
{
    if (!strcmp(type, "user")) {
        return user_keys;
    }
    if (!strcmp(type, "tap")) {
        return tap_keys;
    }
    if (!strcmp(type, "stream")) {
        return stream_keys;
    }
    if (!strcmp(type, "dgram")) {
        return dgram_keys;
    }
    if (!strcmp(type, "socket")) {
        return socket_keys;
    }
    if (!strcmp(type, "hubport")) {
        return hubport_keys;
    }
    return NULL;
}

/* -netdev TYPE,id=ID,... and netdev_add */
static bool netdev_init(const char *spec, const char *loc, char **errp)
{
    QOpts *o = qopts_parse("netdev", spec, loc, "type", QOPTS_LEGACY, errp);
    if (!o) {
        return false;
    }
    bool ok = false;
    const char *type = qopts_get(o, "type");
    const char *id = qopts_get(o, "id");
    if (type && qopts_is_help(type)) {
        printf("Available netdev backend types:\n");
        for (int i = 0; netdev_types[i]; i++) {
            printf("%s\n", netdev_types[i]);
        }
        exit(0);
    }
    if (!id) {
        *errp = g_strdup("Parameter 'id' is missing");
    } else if (!qopts_is_identifier(id)) {
        *errp = g_strdup("Parameter 'id' expects an identifier\nIdentifiers consist of letters, "
                         "digits, '-', '.', '_', starting with a letter.");
    } else if (netdev_find(id)) {
        *errp = g_strdup_printf("Duplicate ID '%s' for netdev", id);
    } else if (!type) {
        *errp = g_strdup("Parameter 'type' is missing");
    } else if (!known_type(type)) {
        *errp = type_error(type);
    } else {
        const char *const *keys = keys_for(type);
        const char *bad = keys ? qopts_unknown_key(o, keys) : NULL;
        if (bad) {
            *errp = g_strdup_printf("Invalid parameter '%s'", bad);
        } else {
            NetClientState *nc = create_backend(type, o, id, NULL, errp);
            if (nc) {
                nc->is_netdev = true;
                ok = true;
            }
        }
    }
    qopts_free(o);
    return ok;
}

bool netdev_add_opts(const char *spec, char **errp)
{
    return netdev_init(spec, NULL, errp);
}

/* -nic [TYPE][,model=M][,mac=A][,backend keys] */
static bool nic_init(const char *spec, const char *loc, char **errp)
{
    QOpts *o = qopts_parse("nic", spec, loc, "type", QOPTS_LEGACY, errp);
    if (!o) {
        return false;
    }
    bool ok = false;
    const char *type = qopts_get(o, "type");
    const char *model = qopts_get(o, "model");
    if (model && qopts_is_help(model)) {
        print_models();
        exit(0);
    }
    if (!type) {
        type = "user";
    }
    if (!strcmp(type, "none")) {
        qopts_free(o);
        return true;
    }
    if (!known_type(type) || !strcmp(type, "hubport")) {
        *errp = type_error(type);
        goto out;
    }
    const char *const *keys = keys_for(type);
    if (keys) {
        /* the backend's keys, and model= / mac= */
        for (size_t i = 0; i < o->n_pairs; i++) {
            const char *k = o->pairs[i].key;
            bool known = !strcmp(k, "model") || !strcmp(k, "mac");
            for (int j = 0; !known && keys[j]; j++) {
                known = !strcmp(keys[j], k);
            }
            if (!known) {
                *errp = g_strdup_printf("Invalid parameter '%s'", k);
                goto out;
            }
        }
    }
    const char *m = nic_model_name(model);
    if (!is_implemented_nic(m)) {
        *errp = g_strdup_printf("Unsupported NIC model: %s", m);
        goto out;
    }
    char *name = qopts_get(o, "id") ? g_strdup(qopts_get(o, "id"))
                                    : g_strdup_printf("#net%03u", anon_index++);
    NetClientState *nc = create_backend(type, o, name, NULL, errp);
    if (nc) {
        nc->is_netdev = true;
        add_nic_request(m, name, qopts_get(o, "mac"), loc);
        ok = true;
    }
    g_free(name);
out:
    qopts_free(o);
    return ok;
}

static const char *const net_nic_keys[] = {"type",    "netdev", "macaddr", "model", "addr",
                                           "vectors", "name",   "id",      NULL};

/* -net nic|user|none|... (hub 0) */
static bool net_legacy_init(const char *spec, const char *loc, char **errp)
{
    QOpts *o = qopts_parse("net", spec, loc, "type", QOPTS_LEGACY, errp);
    if (!o) {
        return false;
    }
    bool ok = false;
    const char *type = qopts_get(o, "type");
    if (!type) {
        *errp = g_strdup("Parameter 'type' is missing");
        goto out;
    }
    if (!strcmp(type, "none")) {
        ok = true;
        goto out;
    }
    if (!strcmp(type, "nic")) {
        const char *bad = qopts_unknown_key(o, net_nic_keys);
        if (bad) {
            *errp = g_strdup_printf("Invalid parameter '%s'", bad);
            goto out;
        }
        const char *model = qopts_get(o, "model");
        if (model && qopts_is_help(model)) {
            print_models();
            exit(0);
        }
        const char *m = nic_model_name(model);
        if (!is_implemented_nic(m)) {
            /* QEMU reports this one without the option's location */
            *errp = g_strdup_printf("Unsupported NIC model: %s", m);
            g_free(o->loc);
            o->loc = NULL;
            goto out;
        }
        const char *netdev = qopts_get(o, "netdev");
        char *port = NULL;
        if (!netdev) {
            NetClientState *p = hub_add_port(0, NULL, NULL);
            port = g_strdup(p->name);
        }
        add_nic_request(m, netdev ? netdev : port, qopts_get(o, "macaddr"), loc);
        g_free(port);
        ok = true;
        goto out;
    }
    if (!known_type(type) || !strcmp(type, "hubport")) {
        *errp = type_error(type);
        goto out;
    }
    const char *const *keys = keys_for(type);
    const char *bad = keys ? qopts_unknown_key(o, keys) : NULL;
    if (bad) {
        *errp = g_strdup_printf("Invalid parameter '%s'", bad);
        goto out;
    }
    const char *id = qopts_get(o, "id");
    char *name = id ? g_strdup(id) : g_strdup_printf("#net%03u", anon_index++);
    NetClientState *port = hub_add_port(0, NULL, NULL);
    NetClientState *nc = create_backend(type, o, name, port, errp);
    if (!nc) {
        net_client_free(port);
    } else {
        ok = true;
    }
    g_free(name);
out:
    qopts_free(o);
    return ok;
}

int net_init_clients(const VireoConfig *cfg)
{
    /*
     * QEMU's pc adds -net nic -net user when no -nic/-net/-netdev/-nodefaults is given. Not yet:
     * a user backend on the main loop starves a vCPU of the big lock while a -nographic mux
     * holds input back (tests/tcg/serial-input.sh; docs/net.md).
     */
    for (int i = 0; i < cfg->n_nets; i++) {
        const NetOption *n = &cfg->nets[i];
        char *err = NULL;
        bool ok = n->kind == NET_OPT_NETDEV ? netdev_init(n->spec, n->loc, &err)
                  : n->kind == NET_OPT_NIC  ? nic_init(n->spec, n->loc, &err)
                                            : net_legacy_init(n->spec, n->loc, &err);
        if (!ok) {
            if (err && !strncmp(err, "Unsupported NIC model", 21) && n->kind == NET_OPT_NET) {
                error_report("%s", err);
            } else {
                error_report_at(n->loc, err ? err : "error");
            }
            g_free(err);
            return -1;
        }
    }
    return 0;
}

void net_check_clients(void)
{
    /* hubs: a hub without NICs, or with NICs and no backend */
    for (int hub = 0;; hub++) {
        bool any = false, has_nic = false, has_host = false;
        int max = -1;
        for (NetClientState *c = clients; c; c = c->next) {
            if (c->info->kind == NET_CLIENT_HUBPORT) {
                max = c->hub_id > max ? c->hub_id : max;
                if (c->hub_id == hub) {
                    any = true;
                    if (c->peer && c->peer->info->kind == NET_CLIENT_NIC) {
                        has_nic = true;
                    } else if (c->peer) {
                        has_host = true;
                    }
                }
            }
        }
        if (any && has_nic && !has_host) {
            error_report("warning: hub %d is not connected to host network", hub);
        }
        if (any && !has_nic && has_host) {
            error_report("warning: hub %d with no nics", hub);
        }
        if (hub >= max) {
            break;
        }
    }
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->peer || c->info->kind == NET_CLIENT_HUBPORT) {
            continue;
        }
        if (c->info->kind == NET_CLIENT_NIC) {
            error_report("warning: nic %s has no peer", c->name);
        } else {
            error_report("warning: netdev %s has no peer", c->name);
        }
    }
}

void net_cleanup(void)
{
    while (clients) {
        NetClientState *c = clients;
        if (c->info->kind == NET_CLIENT_NIC) {
            /* the device owns it (its unrealize frees it); unlink only */
            clients = c->next;
            if (c->peer) {
                c->peer->peer = NULL;
            }
            c->peer = NULL;
            continue;
        }
        net_client_free(c);
    }
    if (nic_requests) {
        for (guint i = 0; i < nic_requests->len; i++) {
            NicRequest *r = g_ptr_array_index(nic_requests, i);
            g_free(r->driver);
            g_free(r->netdev);
            g_free(r->mac);
            g_free(r->loc);
            g_free(r);
        }
        g_ptr_array_free(nic_requests, TRUE);
        nic_requests = NULL;
    }
}

/* ---- QMP / HMP ---------------------------------------------------------------------------- */

bool netdev_del(const char *id, char **errp)
{
    NetClientState *nc = netdev_find(id);
    if (!nc) {
        *errp = g_strdup_printf("Device '%s' not found", id);
        return false;
    }
    if (nc->peer && nc->peer->info->kind == NET_CLIENT_NIC) {
        /* QEMU keeps the backend until its NIC goes: the NIC just loses its peer */
        nc->peer->peer = NULL;
        nc->peer = NULL;
    }
    net_client_free(nc);
    return true;
}

bool net_set_link(const char *name, bool up, char **errp)
{
    NetClientState *nc = net_find_client(name);
    if (!nc) {
        *errp = g_strdup_printf("Device '%s' not found", name);
        return false;
    }
    nc->link_down = !up;
    if (nc->info->link_status_changed) {
        nc->info->link_status_changed(nc);
    }
    /* a NIC and its backend go down together (QEMU: the peer too, unless it is a hub port) */
    if (nc->peer && nc->peer->info->kind != NET_CLIENT_HUBPORT) {
        nc->peer->link_down = !up;
        if (nc->peer->info->link_status_changed) {
            nc->peer->info->link_status_changed(nc->peer);
        }
    }
    return true;
}

static void print_client(GString *s, const NetClientState *nc)
{
    g_string_append_printf(s, "%s: index=0,type=%s,%s\n", nc->name, nc->info->type,
                           nc->info_str ? nc->info_str : "");
}

char *net_info_network(void)
{
    GString *s = g_string_new(NULL);
    int max = -1;
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->info->kind == NET_CLIENT_HUBPORT && c->hub_id > max) {
            max = c->hub_id;
        }
    }
    for (int hub = 0; hub <= max; hub++) {
        GPtrArray *ports = g_ptr_array_new();
        for (NetClientState *c = clients; c; c = c->next) {
            if (c->info->kind == NET_CLIENT_HUBPORT && c->hub_id == hub) {
                g_ptr_array_add(ports, c);
            }
        }
        if (!ports->len) {
            g_ptr_array_free(ports, TRUE);
            continue;
        }
        g_string_append_printf(s, "hub %d\n", hub);
        for (guint i = ports->len; i-- > 0;) { /* newest first, as QEMU lists them */
            NetClientState *p = g_ptr_array_index(ports, i);
            g_string_append_printf(s, " \\ %s", p->name);
            if (p->peer) {
                g_string_append(s, ": ");
                print_client(s, p->peer);
            } else {
                g_string_append(s, "\n");
            }
        }
        g_ptr_array_free(ports, TRUE);
    }
    for (NetClientState *c = clients; c; c = c->next) {
        if (c->info->kind == NET_CLIENT_HUBPORT ||
            (c->peer && c->peer->info->kind == NET_CLIENT_HUBPORT)) {
            continue;
        }
        if (!c->peer || c->info->kind == NET_CLIENT_NIC) {
            print_client(s, c);
        }
        if (c->peer && c->info->kind == NET_CLIENT_NIC) {
            g_string_append(s, " \\ ");
            print_client(s, c->peer);
        }
    }
    return g_string_free(s, FALSE);
}
