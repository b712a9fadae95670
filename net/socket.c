/*
 * -netdev stream, dgram and socket (docs/net.md): emulators joined by a socket, no root needed.
 *
 * stream (and socket listen=/connect=): a TCP or Unix stream; each frame is a 4-byte big-endian
 * length and the frame, as QEMU's. A server accepts one peer at a time; frames sent while no
 * peer is connected are dropped. dgram (and socket udp=): one frame per datagram, sent to the
 * remote address, received on the local one.
 *
 * Sockets are non-blocking and watched on the glib main loop; the callbacks take the big lock.
 * A stream whose socket buffer is full keeps the rest in an output buffer and makes the sender
 * queue (net_flush_queue when the socket drains).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include "vireo/machine.h"
#include "vireo/net.h"
#include "vireo/qemu-opts.h"

#define FRAME_MAX 69632
#define OUT_MAX   (1 << 20)

typedef struct SockState {
    NetClientState *nc;
    bool dgram;
    int listen_fd, fd;
    guint listen_watch, watch, out_watch;
    struct sockaddr_storage remote;
    socklen_t remote_len;
    /* stream input: the length word, then the frame */
    uint8_t hdr[4];
    uint32_t hdr_got, frame_len, frame_got;
    uint8_t frame[FRAME_MAX];
    /* stream output not yet written */
    uint8_t *out;
    size_t out_len, out_cap;
    char *desc; /* what the address part of info network says */
} SockState;

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) {
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

static gboolean sock_readable(gint fd, GIOCondition cond, gpointer opaque);
static gboolean sock_accept(gint fd, GIOCondition cond, gpointer opaque);

static void stream_disconnect(SockState *s)
{
    if (s->watch) {
        g_source_remove(s->watch);
        s->watch = 0;
    }
    if (s->out_watch) {
        g_source_remove(s->out_watch);
        s->out_watch = 0;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    s->hdr_got = s->frame_got = s->frame_len = 0;
    s->out_len = 0;
    if (s->listen_fd >= 0 && !s->listen_watch) {
        s->listen_watch = g_unix_fd_add(s->listen_fd, G_IO_IN, sock_accept, s);
    }
    net_client_set_info(s->nc, "%s", s->desc);
}

static void stream_connected(SockState *s, int fd)
{
    s->fd = fd;
    set_nonblock(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->watch = g_unix_fd_add(fd, G_IO_IN, sock_readable, s);
}

static gboolean sock_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)cond;
    SockState *s = opaque;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        return G_SOURCE_CONTINUE;
    }
    vireo_lock();
    stream_connected(s, c);
    net_client_set_info(s->nc, "%s,connected", s->desc);
    s->listen_watch = 0;
    vireo_unlock();
    return G_SOURCE_REMOVE; /* one peer at a time */
}

/* the bytes of one read: length words and frames, each frame to the peer */
static void stream_input(SockState *s, const uint8_t *p, size_t n)
{
    while (n) {
        if (s->hdr_got < 4) {
            s->hdr[s->hdr_got++] = *p++;
            n--;
            if (s->hdr_got == 4) {
                s->frame_len =
                    (uint32_t)s->hdr[0] << 24 | s->hdr[1] << 16 | s->hdr[2] << 8 | s->hdr[3];
                s->frame_got = 0;
            }
            continue;
        }
        size_t take = s->frame_len - s->frame_got;
        if (take > n) {
            take = n;
        }
        if (s->frame_got + take <= FRAME_MAX) {
            memcpy(s->frame + s->frame_got, p, take);
        }
        s->frame_got += (uint32_t)take;
        p += take;
        n -= take;
        if (s->frame_got == s->frame_len) {
            if (s->frame_len <= FRAME_MAX) { /* a longer one is skipped */
                net_send(s->nc, s->frame, s->frame_len);
            }
            s->hdr_got = 0;
        }
    }
}

static gboolean sock_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)cond;
    SockState *s = opaque;
    uint8_t buf[16384];
    vireo_lock();
    for (int i = 0; i < 64; i++) {
        if (s->dgram) {
            ssize_t n = recv(fd, s->frame, sizeof(s->frame), 0);
            if (n <= 0) {
                break;
            }
            net_send(s->nc, s->frame, (size_t)n);
            continue;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            s->watch = 0;         /* this source ends with the return below */
            stream_disconnect(s); /* the peer went away */
            vireo_unlock();
            return G_SOURCE_REMOVE;
        }
        if (n < 0) {
            break;
        }
        stream_input(s, buf, (size_t)n);
    }
    vireo_unlock();
    return G_SOURCE_CONTINUE;
}

static bool stream_flush(SockState *s)
{
    while (s->out_len) {
        ssize_t w = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        memmove(s->out, s->out + w, s->out_len - (size_t)w);
        s->out_len -= (size_t)w;
    }
    return true;
}

static gboolean sock_writable(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)fd, (void)cond;
    SockState *s = opaque;
    vireo_lock();
    bool ok = stream_flush(s);
    if (!ok) {
        s->out_watch = 0;
        stream_disconnect(s);
        vireo_unlock();
        return G_SOURCE_REMOVE;
    }
    if (s->out_len) {
        vireo_unlock();
        return G_SOURCE_CONTINUE;
    }
    s->out_watch = 0;
    net_flush_queue(s->nc);
    vireo_unlock();
    return G_SOURCE_REMOVE;
}

static ssize_t sock_receive(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    SockState *s = nc->opaque;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    ssize_t ret = (ssize_t)(len ? len : 1);
    if (s->fd < 0) {
        return ret; /* no peer: dropped */
    }
    if (s->dgram) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        if (s->remote_len) {
            m.msg_name = &s->remote;
            m.msg_namelen = s->remote_len;
        }
        sendmsg(s->fd, &m, MSG_NOSIGNAL);
        return ret;
    }
    if (s->out_len > OUT_MAX) {
        return 0; /* queued until the socket drains */
    }
    size_t need = s->out_len + 4 + len;
    if (need > s->out_cap) {
        s->out_cap = need * 2;
        s->out = g_realloc(s->out, s->out_cap);
    }
    uint8_t *p = s->out + s->out_len;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p += 4;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    s->out_len = need;
    if (!stream_flush(s)) {
        stream_disconnect(s);
    } else if (s->out_len && !s->out_watch) {
        s->out_watch = g_unix_fd_add(s->fd, G_IO_OUT, sock_writable, s);
    }
    return ret;
}

static void sock_cleanup(NetClientState *nc)
{
    SockState *s = nc->opaque;
    guint w[] = {s->listen_watch, s->watch, s->out_watch};
    for (size_t i = 0; i < G_N_ELEMENTS(w); i++) {
        if (w[i]) {
            g_source_remove(w[i]);
        }
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    g_free(s->out);
    g_free(s->desc);
    g_free(s);
}

static const NetClientInfo sock_info = {
    .kind = NET_CLIENT_SOCKET,
    .type = "socket",
    .receive = sock_receive,
    .cleanup = sock_cleanup,
};

/* ---- addresses ----------------------------------------------------------------------------- */

/* "host:port" (host may be empty: any) into an IPv4/IPv6 address */
static bool inet_addr(const char *host, const char *port, bool passive, int socktype,
                      struct sockaddr_storage *ss, socklen_t *len, char **errp)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = socktype,
                             .ai_flags = passive ? AI_PASSIVE : 0},
                    *res;
    if (!port || !*port) {
        *errp = g_strdup("port is missing");
        return false;
    }
    int e = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
    if (e) {
        *errp = g_strdup_printf("address resolution failed for %s:%s: %s", host ? host : "", port,
                                gai_strerror(e));
        return false;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static bool split_host_port(const char *s, char **host, char **port, char **errp)
{
    const char *colon = strrchr(s, ':');
    if (!colon) {
        *errp = g_strdup_printf("host and port must be specified and separated by a colon");
        return false;
    }
    *host = g_strndup(s, (size_t)(colon - s));
    *port = g_strdup(colon + 1);
    return true;
}

typedef struct Addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char *text;
} Addr;

/* QEMU's SocketAddress from dotted keys: PREFIX.type = inet | unix | fd */
static bool parse_sockaddr(const QOpts *o, const char *prefix, int socktype, bool passive, Addr *a,
                           char **errp)
{
    char k[64];
    snprintf(k, sizeof(k), "%s.type", prefix);
    const char *type = qopts_get(o, k);
    if (!type) {
        *errp = g_strdup_printf("Parameter '%s.type' is missing", prefix);
        return false;
    }
    if (!strcmp(type, "inet")) {
        char kh[64], kp[64];
        snprintf(kh, sizeof(kh), "%s.host", prefix);
        snprintf(kp, sizeof(kp), "%s.port", prefix);
        const char *h = qopts_get(o, kh), *p = qopts_get(o, kp);
        if (!h) {
            *errp = g_strdup_printf("Parameter '%s.host' is missing", prefix);
            return false;
        }
        if (!p) {
            *errp = g_strdup_printf("Parameter '%s.port' is missing", prefix);
            return false;
        }
        if (!inet_addr(h, p, passive, socktype, &a->ss, &a->len, errp)) {
            return false;
        }
        a->text = g_strdup_printf("%s:%s", h, p);
        return true;
    }
    if (!strcmp(type, "unix")) {
        char kp[64];
        snprintf(kp, sizeof(kp), "%s.path", prefix);
        const char *p = qopts_get(o, kp);
        if (!p) {
            *errp = g_strdup_printf("Parameter '%s.path' is missing", prefix);
            return false;
        }
        struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
        memset(un, 0, sizeof(*un));
        un->sun_family = AF_UNIX;
        if (strlen(p) >= sizeof(un->sun_path)) {
            *errp = g_strdup_printf("UNIX socket path '%s' is too long", p);
            return false;
        }
        memcpy(un->sun_path, p, strlen(p));
        a->len = sizeof(*un);
        a->text = g_strdup_printf("unix:%s", p);
        return true;
    }
    *errp = g_strdup_printf("Parameter '%s.type' does not accept value '%s'", prefix, type);
    return false;
}

static SockState *sock_new(bool dgram, const char *desc)
{
    SockState *s = g_new0(SockState, 1);
    s->dgram = dgram;
    s->fd = s->listen_fd = -1;
    s->desc = g_strdup(desc);
    return s;
}

static NetClientState *sock_client(SockState *s, const char *name, NetClientState *peer)
{
    s->nc = net_client_new(&sock_info, peer, "socket", name, s);
    net_client_set_info(s->nc, "%s%s", s->desc, s->fd >= 0 && !s->dgram ? ",connected" : "");
    if (s->dgram && s->fd >= 0) {
        s->watch = g_unix_fd_add(s->fd, G_IO_IN, sock_readable, s);
    }
    return s->nc;
}

static NetClientState *stream_listen(const Addr *a, const char *name, NetClientState *peer,
                                     char **errp)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 1) < 0) {
        *errp = g_strdup_printf("Failed to bind socket: %s", g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    set_nonblock(fd);
    char *desc = g_strdup_printf("listening on %s", a->text);
    SockState *s = sock_new(false, desc);
    g_free(desc);
    s->listen_fd = fd;
    NetClientState *nc = sock_client(s, name, peer);
    s->listen_watch = g_unix_fd_add(fd, G_IO_IN, sock_accept, s);
    return nc;
}

static NetClientState *stream_connect(const Addr *a, const char *name, NetClientState *peer,
                                      char **errp)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        *errp = g_strdup_printf("Failed to connect to '%s': %s", a->text, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    char *desc = g_strdup_printf("connect to %s", a->text);
    SockState *s = sock_new(false, desc);
    g_free(desc);
    stream_connected(s, fd);
    return sock_client(s, name, peer);
}

static NetClientState *dgram_open(const Addr *local, const Addr *remote, const char *name,
                                  NetClientState *peer, char **errp)
{
    int family = local ? local->ss.ss_family : remote->ss.ss_family;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (fd < 0 || (local && bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0)) {
        *errp = g_strdup_printf("can't bind ip=%s to socket: %s", local ? local->text : "",
                                g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    set_nonblock(fd);
    char *desc = remote ? g_strdup_printf("udp=%s:%s", local ? local->text : "", remote->text)
                        : g_strdup_printf("udp=%s", local->text);
    SockState *s = sock_new(true, desc);
    g_free(desc);
    s->fd = fd;
    if (remote) {
        s->remote = remote->ss;
        s->remote_len = remote->len;
    }
    return sock_client(s, name, peer);
}

/* ---- the three option forms --------------------------------------------------------------- */

NetClientState *net_init_stream(const QOpts *o, const char *name, NetClientState *peer, char **errp)
{
    bool server = false;
    if (!qopts_get_bool(o, "server", false, &server, errp)) {
        return NULL;
    }
    Addr a = {0};
    if (!parse_sockaddr(o, "addr", SOCK_STREAM, server, &a, errp)) {
        return NULL;
    }
    NetClientState *nc =
        server ? stream_listen(&a, name, peer, errp) : stream_connect(&a, name, peer, errp);
    g_free(a.text);
    return nc;
}

NetClientState *net_init_dgram(const QOpts *o, const char *name, NetClientState *peer, char **errp)
{
    bool has_local = qopts_has(o, "local.type"), has_remote = qopts_has(o, "remote.type");
    if (!has_remote) {
        *errp = g_strdup("dgram requires remote= (Vireo has no multicast: docs/net.md)");
        return NULL;
    }
    Addr l = {0}, r = {0};
    NetClientState *nc = NULL;
    if ((!has_local || parse_sockaddr(o, "local", SOCK_DGRAM, true, &l, errp)) &&
        parse_sockaddr(o, "remote", SOCK_DGRAM, false, &r, errp)) {
        nc = dgram_open(has_local ? &l : NULL, &r, name, peer, errp);
    }
    g_free(l.text);
    g_free(r.text);
    return nc;
}

NetClientState *net_init_socket(const QOpts *o, const char *name, NetClientState *peer, char **errp)
{
    const char *listen_s = qopts_get(o, "listen"), *connect_s = qopts_get(o, "connect");
    const char *udp = qopts_get(o, "udp"), *mcast = qopts_get(o, "mcast");
    const char *fd = qopts_get(o, "fd"), *localaddr = qopts_get(o, "localaddr");
    int n = !!listen_s + !!connect_s + !!udp + !!mcast + !!fd;
    if (n != 1) {
        *errp = g_strdup("exactly one of listen=, connect=, mcast= or udp= is required");
        return NULL;
    }
    if (localaddr && !udp && !mcast) {
        *errp = g_strdup("localaddr= is only valid with mcast= or udp=");
        return NULL;
    }
    if (udp && !localaddr) {
        *errp = g_strdup("localaddr= is mandatory with udp=");
        return NULL;
    }
    if (mcast || fd) {
        *errp = g_strdup_printf("socket %s= is not available in Vireo (docs/net.md)",
                                mcast ? "mcast" : "fd");
        return NULL;
    }
    char *host = NULL, *port = NULL;
    Addr a = {0}, l = {0};
    NetClientState *nc = NULL;
    const char *spec = listen_s ? listen_s : connect_s ? connect_s : udp;
    if (!split_host_port(spec, &host, &port, errp) ||
        !inet_addr(host, port, !!listen_s, udp ? SOCK_DGRAM : SOCK_STREAM, &a.ss, &a.len, errp)) {
        goto out;
    }
    a.text = g_strdup(spec);
    if (listen_s) {
        nc = stream_listen(&a, name, peer, errp);
    } else if (connect_s) {
        nc = stream_connect(&a, name, peer, errp);
    } else {
        g_free(host);
        g_free(port);
        host = port = NULL;
        if (!split_host_port(localaddr, &host, &port, errp) ||
            !inet_addr(host, port, true, SOCK_DGRAM, &l.ss, &l.len, errp)) {
            goto out;
        }
        l.text = g_strdup(localaddr);
        nc = dgram_open(&l, &a, name, peer, errp);
    }
out:
    g_free(host);
    g_free(port);
    g_free(a.text);
    g_free(l.text);
    return nc;
}
