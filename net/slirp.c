/*
 * -netdev user: user-mode networking on libslirp (docs/net.md). The guest's packets go into
 * slirp_input(); slirp's packets for the guest come back through send_packet. slirp's sockets
 * are polled by a GSource of the main loop (prepare: slirp_pollfds_fill, dispatch:
 * slirp_pollfds_poll) and its timers are main-loop timeouts, so all of slirp runs on the main
 * thread, with the big lock held like the rest of net/.
 *
 * Options and their errors as QEMU 7.2's net/slirp.c words them: net=ADDR[/MASK],
 * host=, dhcpstart=, dns=, hostname=, domainname=, dnssearch=, restrict=, ipv4=, ipv6=,
 * ipv6-prefix=, ipv6-prefixlen=, ipv6-host=, ipv6-dns=, tftp=, bootfile=, tftp-server-name=,
 * hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (any number of them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <slirp/libslirp.h>
#include "vireo/machine.h"
#include "vireo/net.h"
#include "vireo/qemu-opts.h"
#include "vireo/virtio.h"

typedef struct SlirpSource SlirpSource;

typedef struct UserState {
    NetClientState *nc;
    Slirp *slirp;
    SlirpSource *src;
    GSList *timers;
    char **dnssearch;
    char *strs[8]; /* option strings slirp keeps pointers to */
} UserState;

struct SlirpSource {
    GSource source;
    UserState *s;
    GArray *fds;     /* GPollFD, added to the source in prepare */
    gint64 deadline; /* when slirp's timeout from prepare ends (monotonic us), or -1 */
};

typedef struct UserTimer {
    UserState *s;
    SlirpTimerCb cb;
    void *opaque;
    guint id;
} UserTimer;

/* ---- slirp's callbacks -------------------------------------------------------------------- */

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
    UserState *s = opaque;
    net_send(s->nc, buf, len);
    return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
    (void)msg;
    (void)opaque; /* QEMU logs these only with -d guest_errors */
}

static int64_t clock_get_ns(void *opaque)
{
    (void)opaque;
    return g_get_monotonic_time() * 1000;
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    UserState *s = opaque;
    UserTimer *t = g_new0(UserTimer, 1);
    t->s = s;
    t->cb = cb;
    t->opaque = cb_opaque;
    s->timers = g_slist_prepend(s->timers, t);
    return t;
}

static void timer_free(void *timer, void *opaque)
{
    UserState *s = opaque;
    UserTimer *t = timer;
    if (t->id) {
        g_source_remove(t->id);
    }
    s->timers = g_slist_remove(s->timers, t);
    g_free(t);
}

static gboolean timer_fire(gpointer opaque)
{
    UserTimer *t = opaque;
    t->id = 0;
    bool locked = vireo_lock_held();
    if (!locked) {
        vireo_lock();
    }
    t->cb(t->opaque);
    if (!locked) {
        vireo_unlock();
    }
    return G_SOURCE_REMOVE;
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    UserTimer *t = timer;
    if (t->id) {
        g_source_remove(t->id);
    }
    int64_t now = clock_get_ns(opaque) / 1000000;
    int64_t delay = expire_ms > now ? expire_ms - now : 0;
    t->id = g_timeout_add((guint)(delay > INT_MAX ? INT_MAX : delay), timer_fire, t);
}

static void register_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque; /* the GSource asks slirp for its descriptors at every iteration */
}

static void notify(void *opaque)
{
    (void)opaque;
    g_main_context_wakeup(NULL);
}

static const SlirpCb user_cb = {
    .send_packet = send_packet,
    .guest_error = guest_error,
    .clock_get_ns = clock_get_ns,
    .timer_new = timer_new,
    .timer_free = timer_free,
    .timer_mod = timer_mod,
    .register_poll_fd = register_poll_fd,
    .unregister_poll_fd = register_poll_fd,
    .notify = notify,
};

/* ---- the main-loop source ----------------------------------------------------------------- */

static int add_poll(int fd, int events, void *opaque)
{
    SlirpSource *src = opaque;
    GPollFD p = {.fd = fd};
    if (events & SLIRP_POLL_IN) {
        p.events |= G_IO_IN;
    }
    if (events & SLIRP_POLL_OUT) {
        p.events |= G_IO_OUT;
    }
    if (events & SLIRP_POLL_PRI) {
        p.events |= G_IO_PRI;
    }
    if (events & SLIRP_POLL_ERR) {
        p.events |= G_IO_ERR;
    }
    if (events & SLIRP_POLL_HUP) {
        p.events |= G_IO_HUP;
    }
    g_array_append_val(src->fds, p);
    return (int)src->fds->len - 1;
}

static int get_revents(int idx, void *opaque)
{
    SlirpSource *src = opaque;
    if (idx < 0 || (guint)idx >= src->fds->len) {
        return 0;
    }
    int re = g_array_index(src->fds, GPollFD, idx).revents, r = 0;
    if (re & G_IO_IN) {
        r |= SLIRP_POLL_IN;
    }
    if (re & G_IO_OUT) {
        r |= SLIRP_POLL_OUT;
    }
    if (re & G_IO_PRI) {
        r |= SLIRP_POLL_PRI;
    }
    if (re & G_IO_ERR) {
        r |= SLIRP_POLL_ERR;
    }
    if (re & G_IO_HUP) {
        r |= SLIRP_POLL_HUP;
    }
    return r;
}

static void remove_polls(SlirpSource *src)
{
    for (guint i = 0; i < src->fds->len; i++) {
        g_source_remove_poll(&src->source, &g_array_index(src->fds, GPollFD, i));
    }
    g_array_set_size(src->fds, 0);
}

static gboolean src_prepare(GSource *source, gint *timeout)
{
    SlirpSource *src = (SlirpSource *)source;
    remove_polls(src);
    uint32_t t = UINT32_MAX;
    vireo_lock();
    slirp_pollfds_fill(src->s->slirp, &t, add_poll, src);
    vireo_unlock();
    /* the array is complete: its elements stay put until the next prepare */
    for (guint i = 0; i < src->fds->len; i++) {
        g_source_add_poll(source, &g_array_index(src->fds, GPollFD, i));
    }
    *timeout = t > INT_MAX ? -1 : (gint)t;
    src->deadline = t > INT_MAX ? -1 : g_get_monotonic_time() + (gint64)t * 1000;
    return FALSE;
}

/*
 * Dispatch (slirp_pollfds_poll, which also runs slirp's TCP timers) when a descriptor is ready
 * or slirp's timeout has passed, not on every loop iteration: each dispatch takes the big lock,
 * and a main loop spinning for other sources (a -nographic mux feeding a full UART) would keep
 * a vCPU from getting it.
 */
static gboolean src_check(GSource *source)
{
    SlirpSource *src = (SlirpSource *)source;
    for (guint i = 0; i < src->fds->len; i++) {
        if (g_array_index(src->fds, GPollFD, i).revents) {
            return TRUE;
        }
    }
    return src->deadline >= 0 && g_get_monotonic_time() >= src->deadline;
}

static gboolean src_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    SlirpSource *src = (SlirpSource *)source;
    vireo_lock();
    slirp_pollfds_poll(src->s->slirp, 0, get_revents, src);
    vireo_unlock();
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs slirp_source_funcs = {
    .prepare = src_prepare,
    .check = src_check,
    .dispatch = src_dispatch,
};

/* ---- the client ----------------------------------------------------------------------------- */

static ssize_t user_receive(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    UserState *s = nc->opaque;
    size_t len = iov_size(iov, (unsigned)iovcnt);
    if (iovcnt == 1) {
        slirp_input(s->slirp, iov[0].iov_base, (int)len);
    } else {
        uint8_t *buf = g_malloc(len);
        iov_to_buf(iov, (unsigned)iovcnt, 0, buf, len);
        slirp_input(s->slirp, buf, (int)len);
        g_free(buf);
    }
    return (ssize_t)(len ? len : 1);
}

static void user_cleanup(NetClientState *nc)
{
    UserState *s = nc->opaque;
    if (s->src) {
        remove_polls(s->src);
        g_array_free(s->src->fds, TRUE);
        g_source_destroy(&s->src->source);
        g_source_unref(&s->src->source);
    }
    if (s->slirp) {
        slirp_cleanup(s->slirp);
    }
    while (s->timers) {
        timer_free(s->timers->data, s);
    }
    g_strfreev(s->dnssearch);
    for (size_t i = 0; i < G_N_ELEMENTS(s->strs); i++) {
        g_free(s->strs[i]);
    }
    g_free(s);
}

static const NetClientInfo user_info = {
    .kind = NET_CLIENT_USER,
    .type = "user",
    .receive = user_receive,
    .cleanup = user_cleanup,
};

/* ---- options ------------------------------------------------------------------------------- */

/* QEMU's get_str_sep: the text before sep into *out, *p after it; false without sep */
static bool str_sep(char **out, const char **p, char sep)
{
    const char *e = strchr(*p, sep);
    if (!e) {
        return false;
    }
    *out = g_strndup(*p, (size_t)(e - *p));
    *p = e + 1;
    return true;
}

static bool parse_port(const char *s, int lo, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (!*s || *end || errno || v < lo || v > 65535) {
        return false;
    }
    *out = (int)v;
    return true;
}

static bool add_hostfwd(Slirp *slirp, const char *rule, struct in_addr guest_def, char **errp)
{
    const char *p = rule, *why = NULL;
    char *buf = NULL;
    struct in_addr host = {.s_addr = INADDR_ANY}, guest = guest_def;
    int is_udp = 0, hport = 0, gport = 0;
    if (!str_sep(&buf, &p, ':')) {
        why = "No : separators";
    } else if (!strcmp(buf, "tcp") || !buf[0]) {
        is_udp = 0;
    } else if (!strcmp(buf, "udp")) {
        is_udp = 1;
    } else {
        why = "Bad protocol name";
    }
    if (!why) {
        g_free(buf);
        buf = NULL;
        if (!str_sep(&buf, &p, ':')) {
            why = "Missing : separator";
        } else if (buf[0] && !inet_aton(buf, &host)) {
            why = "Bad host address";
        }
    }
    if (!why) {
        g_free(buf);
        buf = NULL;
        if (!str_sep(&buf, &p, '-')) {
            why = "Bad host port separator";
        } else if (!parse_port(buf, 0, &hport)) {
            why = "Bad host port";
        }
    }
    if (!why) {
        g_free(buf);
        buf = NULL;
        if (!str_sep(&buf, &p, ':')) {
            why = "Missing guest address";
        } else if (buf[0] && !inet_aton(buf, &guest)) {
            why = "Bad guest address";
        } else if (!parse_port(p, 1, &gport)) {
            why = "Bad guest port";
        }
    }
    g_free(buf);
    if (why) {
        *errp = g_strdup_printf("Invalid host forwarding rule '%s' (%s)", rule, why);
        return false;
    }
    if (slirp_add_hostfwd(slirp, is_udp, host, hport, guest, gport) < 0) {
        *errp = g_strdup_printf("Could not set up host forwarding rule '%s'", rule);
        return false;
    }
    return true;
}

static bool get_onoff(const QOpts *o, const char *key, bool def, bool *out, char **errp)
{
    const char *v = qopts_get(o, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "y")) {
        *out = true;
    } else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "n")) {
        *out = false;
    } else {
        *errp = g_strdup_printf("Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    return true;
}

/* net=ADDR[/BITS|/MASK] as QEMU reads it (the mask from the class when absent) */
static bool parse_net(const char *arg, struct in_addr *net, struct in_addr *mask, char **errp)
{
    const char *slash = strchr(arg, '/');
    if (!slash) {
        if (!inet_aton(arg, net)) {
            *errp = g_strdup("Failed to parse netmask");
            return false;
        }
        uint32_t a = ntohl(net->s_addr), m;
        if (!(a & 0x80000000u)) {
            m = 0xff000000u;
        } else if ((a & 0xfff00000u) == 0xac100000u) {
            m = 0xfff00000u;
        } else if ((a & 0xc0000000u) == 0x80000000u) {
            m = 0xffff0000u;
        } else if ((a & 0xffff0000u) == 0xc0a80000u) {
            m = 0xffff0000u;
        } else if ((a & 0xffff0000u) == 0xc6120000u) {
            m = 0xfffe0000u;
        } else if ((a & 0xe0000000u) == 0xe0000000u) {
            m = 0xffffff00u;
        } else {
            m = 0xfffffff0u;
        }
        mask->s_addr = htonl(m);
        return true;
    }
    char *addr = g_strndup(arg, (size_t)(slash - arg));
    bool ok = inet_aton(addr, net);
    g_free(addr);
    if (!ok) {
        *errp = g_strdup("Failed to parse netmask");
        return false;
    }
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (*end) {
        if (!inet_aton(slash + 1, mask)) {
            *errp = g_strdup("Failed to parse netmask");
            return false;
        }
    } else if (bits < 4 || bits > 32) {
        *errp = g_strdup("Invalid netmask provided (must be in range 4-32)");
        return false;
    } else {
        mask->s_addr = htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits));
    }
    return true;
}

NetClientState *net_init_user(const QOpts *o, const char *name, NetClientState *peer, char **errp)
{
    bool ipv4, ipv6, restricted;
    if (!get_onoff(o, "ipv4", true, &ipv4, errp) || !get_onoff(o, "ipv6", true, &ipv6, errp) ||
        !get_onoff(o, "restrict", false, &restricted, errp)) {
        return NULL;
    }
    if (qopts_get(o, "smb")) {
        if (access("/usr/sbin/smbd", X_OK) < 0) {
            *errp = g_strdup("Could not find '/usr/sbin/smbd', please install it");
        } else {
            *errp = g_strdup("smb= is not available in Vireo (docs/net.md)");
        }
        return NULL;
    }
    if (qopts_get(o, "guestfwd")) {
        *errp = g_strdup("guestfwd= is not available in Vireo yet (docs/net.md)");
        return NULL;
    }
    if (!ipv4 && !ipv6) {
        *errp = g_strdup("IPv4 and IPv6 disabled");
        return NULL;
    }
    struct in_addr net = {htonl(0x0a000200)}, mask = {htonl(0xffffff00)};
    struct in_addr host, dhcp, dns;
    const char *v;
    if ((v = qopts_get(o, "net")) && !parse_net(v, &net, &mask, errp)) {
        return NULL;
    }
    net.s_addr &= mask.s_addr;
    host.s_addr = net.s_addr | (htonl(0x0202) & ~mask.s_addr);
    dhcp.s_addr = net.s_addr | (htonl(0x020f) & ~mask.s_addr);
    dns.s_addr = net.s_addr | (htonl(0x0203) & ~mask.s_addr);
    if ((v = qopts_get(o, "host")) && !inet_aton(v, &host)) {
        *errp = g_strdup("Failed to parse host");
        return NULL;
    }
    if ((host.s_addr & mask.s_addr) != net.s_addr) {
        *errp = g_strdup("Host doesn't belong to network");
        return NULL;
    }
    if ((v = qopts_get(o, "dns")) && !inet_aton(v, &dns)) {
        *errp = g_strdup("Failed to parse DNS");
        return NULL;
    }
    if (restricted && (dns.s_addr & mask.s_addr) != net.s_addr) {
        *errp = g_strdup("DNS doesn't belong to network");
        return NULL;
    }
    if (dns.s_addr == host.s_addr) {
        *errp = g_strdup("DNS must be different from host");
        return NULL;
    }
    if ((v = qopts_get(o, "dhcpstart")) && !inet_aton(v, &dhcp)) {
        *errp = g_strdup("Failed to parse DHCP start address");
        return NULL;
    }
    if ((dhcp.s_addr & mask.s_addr) != net.s_addr) {
        *errp = g_strdup("DHCP doesn't belong to network");
        return NULL;
    }
    if (dhcp.s_addr == host.s_addr || dhcp.s_addr == dns.s_addr) {
        *errp = g_strdup("DNS must be different from host and DNS");
        return NULL;
    }
    /* IPv6: fec0::/64, host ::2, DNS ::3 unless given */
    struct in6_addr prefix, host6, dns6;
    inet_pton(AF_INET6, "fec0::", &prefix);
    uint64_t plen = 64;
    if ((v = qopts_get(o, "ipv6-prefix")) && !inet_pton(AF_INET6, v, &prefix)) {
        *errp = g_strdup("Failed to parse IPv6 prefix");
        return NULL;
    }
    if ((v = qopts_get(o, "ipv6-prefixlen")) && (qopts_strtou64(v, 10, &plen) < 0 || plen > 126)) {
        *errp = g_strdup("Invalid IPv6 prefix provided (IPv6 prefix length must be between 0 "
                         "and 126)");
        return NULL;
    }
    host6 = prefix;
    host6.s6_addr[15] |= 2;
    dns6 = prefix;
    dns6.s6_addr[15] |= 3;
    if ((v = qopts_get(o, "ipv6-host")) && !inet_pton(AF_INET6, v, &host6)) {
        *errp = g_strdup("Failed to parse IPv6 host");
        return NULL;
    }
    if ((v = qopts_get(o, "ipv6-dns")) && !inet_pton(AF_INET6, v, &dns6)) {
        *errp = g_strdup("Failed to parse IPv6 DNS");
        return NULL;
    }

    UserState *s = g_new0(UserState, 1);
    GPtrArray *search = g_ptr_array_new();
    for (size_t i = 0; i < o->n_pairs; i++) {
        if (!strcmp(o->pairs[i].key, "dnssearch")) {
            g_ptr_array_add(search, g_strdup(o->pairs[i].value));
        }
    }
    g_ptr_array_add(search, NULL);
    s->dnssearch = (char **)g_ptr_array_free(search, FALSE);
    static const char *const str_keys[] = {"hostname", "tftp", "bootfile", "domainname",
                                           "tftp-server-name"};
    for (size_t i = 0; i < G_N_ELEMENTS(str_keys); i++) {
        s->strs[i] = g_strdup(qopts_get(o, str_keys[i]));
    }
    SlirpConfig cfg = {
        .version = 1,
        .restricted = restricted,
        .in_enabled = ipv4,
        .vnetwork = net,
        .vnetmask = mask,
        .vhost = host,
        .in6_enabled = ipv6,
        .vprefix_addr6 = prefix,
        .vprefix_len = (uint8_t)plen,
        .vhost6 = host6,
        .vhostname = s->strs[0],
        .tftp_path = s->strs[1],
        .bootfile = s->strs[2],
        .vdomainname = s->strs[3],
        .tftp_server_name = s->strs[4],
        .vdhcp_start = dhcp,
        .vnameserver = dns,
        .vnameserver6 = dns6,
        .vdnssearch = s->dnssearch[0] ? (const char **)s->dnssearch : NULL,
    };
    s->slirp = slirp_new(&cfg, &user_cb, s);
    if (!s->slirp) {
        *errp = g_strdup("Failed to initialize slirp");
        g_strfreev(s->dnssearch);
        for (size_t i = 0; i < G_N_ELEMENTS(s->strs); i++) {
            g_free(s->strs[i]);
        }
        g_free(s);
        return NULL;
    }
    for (size_t i = 0; i < o->n_pairs; i++) {
        if (!strcmp(o->pairs[i].key, "hostfwd") &&
            !add_hostfwd(s->slirp, o->pairs[i].value, dhcp, errp)) {
            slirp_cleanup(s->slirp);
            s->slirp = NULL;
            NetClientState tmp = {.opaque = s};
            user_cleanup(&tmp);
            return NULL;
        }
    }
    NetClientState *nc = net_client_new(&user_info, peer, "user", name, s);
    s->nc = nc;
    char nb[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &net, nb, sizeof(nb));
    net_client_set_info(nc, "net=%s,restrict=%s", nb, restricted ? "on" : "off");
    s->src = (SlirpSource *)g_source_new(&slirp_source_funcs, sizeof(SlirpSource));
    s->src->s = s;
    s->src->fds = g_array_new(FALSE, TRUE, sizeof(GPollFD));
    g_source_attach(&s->src->source, NULL);
    return nc;
}
