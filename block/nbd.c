/*
 * Protocol driver "nbd": an image served by an NBD server (QEMU's qemu-nbd or Vireo's).
 * File names as QEMU takes them: nbd://HOST[:PORT]/EXPORT, nbd+tcp://..., nbd+unix:///EXPORT?
 * socket=PATH, the legacy nbd:HOST:PORT[:exportname=E] and nbd:unix:PATH[:exportname=E], and
 * options server.type=inet|unix, server.host, server.port, server.path, export (json:,
 * --image-opts, -blockdev).
 *
 * One blocking socket, one request at a time (the block layer gives a node one user at a
 * time). The handshake is fixed newstyle: structured replies, the base:allocation meta
 * context (or x-dirty-bitmap=qemu:dirty-bitmap:NAME, as QEMU's), then NBD_OPT_GO (or
 * NBD_OPT_EXPORT_NAME for servers without it). Block status comes from the context, reads
 * take OFFSET_DATA and OFFSET_HOLE chunks; every chunk is checked against its request, and a
 * server that breaks the protocol leaves the node failing with EIO.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/nbd.h"
#include "vireo/qjson.h"

typedef struct BDRVNBDState {
    int fd;
    NBDConn conn;
    bool dead; /* protocol error or lost connection: every request fails */
    bool unix_socket;
    char *host, *port, *path, *export;
    char *ctx_name; /* the meta context asked for */
    bool structured;
    bool has_ctx;
    uint32_t ctx_id;
    uint64_t size;
    uint16_t tflags;
    uint32_t min_block, max_block;
    uint64_t next_handle;
} BDRVNBDState;

static int rd(BDRVNBDState *s, void *buf, size_t n)
{
    return n ? s->conn.read(s->conn.opaque, buf, n) : 0;
}

static int wr2(BDRVNBDState *s, const void *a, size_t na, const void *b, size_t nb)
{
    struct iovec v[2] = {{(void *)a, na}, {(void *)b, nb}};
    return s->conn.writev(s->conn.opaque, v, nb ? 2 : 1);
}

static int skip(BDRVNBDState *s, uint64_t n)
{
    uint8_t buf[4096];
    while (n) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        int r = rd(s, buf, k);
        if (r < 0) {
            return r;
        }
        n -= k;
    }
    return 0;
}

/* ---- file names ---- */

static char *uri_decode(const char *s, size_t n)
{
    GString *o = g_string_new(NULL);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && g_ascii_isxdigit(s[i + 1]) && g_ascii_isxdigit(s[i + 2])) {
            g_string_append_c(
                o, (char)(g_ascii_xdigit_value(s[i + 1]) << 4 | g_ascii_xdigit_value(s[i + 2])));
            i += 2;
        } else {
            g_string_append_c(o, s[i]);
        }
    }
    return g_string_free(o, false);
}

static int parse_uri(const char *filename, QJ *opts)
{
    const char *sep = strstr(filename, "://");
    size_t slen = (size_t)(sep - filename);
    bool is_unix;
    if (slen == 3 && !strncmp(filename, "nbd", 3)) {
        is_unix = false;
    } else if (slen == 7 && !strncmp(filename, "nbd+tcp", 7)) {
        is_unix = false;
    } else if (slen == 8 && !strncmp(filename, "nbd+unix", 8)) {
        is_unix = true;
    } else {
        return -EINVAL;
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *path = auth + alen;
    size_t plen = strcspn(path, "?#");
    const char *query = path[plen] == '?' ? path + plen + 1 : NULL;
    if (path[plen] == '#') {
        return -EINVAL;
    }
    char *host = NULL, *port = NULL;
    if (alen) {
        const char *h = auth, *hend;
        if (*h == '[') {
            hend = memchr(h, ']', alen);
            if (!hend) {
                return -EINVAL;
            }
            host = g_strndup(h + 1, (size_t)(hend - h - 1));
            hend++;
        } else {
            hend = memchr(h, ':', alen);
            hend = hend ? hend : auth + alen;
            host = g_strndup(h, (size_t)(hend - h));
        }
        if (hend < auth + alen) {
            if (*hend != ':') {
                g_free(host);
                return -EINVAL;
            }
            port = g_strndup(hend + 1, (size_t)(auth + alen - hend - 1));
            for (const char *p = port; *p; p++) {
                if (!g_ascii_isdigit(*p)) {
                    g_free(host);
                    g_free(port);
                    return -EINVAL;
                }
            }
            if (!*port) {
                g_clear_pointer(&port, g_free);
            }
        }
    }
    int ret = 0;
    if (is_unix) {
        /* nbd+unix:///export?socket=path: no host, exactly one query parameter */
        if ((host && *host) || port || !query || strchr(query, '&') ||
            !g_str_has_prefix(query, "socket=")) {
            ret = -EINVAL;
        } else {
            char *sock = uri_decode(query + 7, strcspn(query + 7, "#"));
            qj_set_str(opts, "server.type", "unix");
            qj_set_str(opts, "server.path", sock);
            g_free(sock);
        }
    } else {
        if (!host || !*host || (query && *query)) {
            ret = -EINVAL;
        } else {
            qj_set_str(opts, "server.type", "inet");
            qj_set_str(opts, "server.host", host);
            if (port) {
                char *p = g_strdup_printf("%lu", strtoul(port, NULL, 10));
                qj_set_str(opts, "server.port", p);
                g_free(p);
            }
        }
    }
    if (ret == 0) {
        char *exp = uri_decode(path, plen);
        const char *e = exp[0] == '/' ? exp + 1 : exp;
        if (*e) {
            qj_set_str(opts, "export", e);
        }
        g_free(exp);
    }
    g_free(host);
    g_free(port);
    return ret;
}

static int nbd_parse_filename(const char *filename, QJ *opts, char **errp)
{
    if (qj_get(opts, "export") || qj_get(opts, "host") || qj_get(opts, "port") ||
        qj_get(opts, "path") || qj_get(opts, "server.type")) {
        block_error(errp, "No valid URL specified");
        return -EINVAL;
    }
    if (strstr(filename, "://")) {
        if (parse_uri(filename, opts) < 0) {
            block_error(errp, "No valid URL specified");
            return -EINVAL;
        }
        return 0;
    }
    /* nbd:unix:PATH[:exportname=E] or nbd:HOST:PORT[:exportname=E] */
    if (!g_str_has_prefix(filename, "nbd:")) {
        block_error(errp, "File name string must start with 'nbd:'");
        return -EINVAL;
    }
    char *rest = g_strdup(filename + 4);
    char *ex = strstr(rest, ":exportname=");
    if (ex) {
        *ex = 0;
        qj_set_str(opts, "export", ex + strlen(":exportname="));
    }
    int ret = 0;
    if (g_str_has_prefix(rest, "unix:")) {
        qj_set_str(opts, "server.type", "unix");
        qj_set_str(opts, "server.path", rest + 5);
    } else {
        char *colon = strrchr(rest, ':');
        char *host = rest;
        if (!colon || colon == rest) {
            block_error(errp, "No valid URL specified");
            ret = -EINVAL;
        } else {
            *colon = 0;
            if (host[0] == '[' && colon[-1] == ']') {
                colon[-1] = 0;
                host++;
            }
            qj_set_str(opts, "server.type", "inet");
            qj_set_str(opts, "server.host", host);
            qj_set_str(opts, "server.port", colon + 1);
        }
    }
    g_free(rest);
    return ret;
}

/* ---- connecting ---- */

static int connect_server(BDRVNBDState *s, char **errp)
{
    if (s->unix_socket) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(s->path) >= sizeof(sa.sun_path)) {
            block_error(errp, "UNIX socket path '%s' is too long", s->path);
            return -EINVAL;
        }
        strcpy(sa.sun_path, s->path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            int err = errno;
            if (fd >= 0) {
                close(fd);
            }
            block_error_errno(errp, err, "Failed to connect to '%s'", s->path);
            return -err;
        }
        s->fd = fd;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int e = getaddrinfo(s->host, s->port, &hints, &res);
    if (e) {
        block_error(errp, "address resolution failed for %s:%s: %s", s->host, s->port,
                    gai_strerror(e));
        return -EINVAL;
    }
    int err = ECONNREFUSED;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            s->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    block_error_errno(errp, err, "Failed to connect to '%s:%s'", s->host, s->port);
    return -err;
}

static int send_opt(BDRVNBDState *s, uint32_t opt, const void *data, uint32_t len)
{
    uint8_t h[16];
    nbd_put64(h, NBD_OPTS_MAGIC);
    nbd_put32(h + 8, opt);
    nbd_put32(h + 12, len);
    return wr2(s, h, sizeof(h), data, len);
}

/* One option reply: its type, and its payload (g_free) in *data. */
static int read_rep(BDRVNBDState *s, uint32_t opt, uint32_t *type, uint8_t **data, uint32_t *len,
                    char **errp)
{
    uint8_t h[20];
    if (rd(s, h, sizeof(h)) < 0) {
        block_error(errp, "Failed to read option reply");
        return -EIO;
    }
    if (nbd_get64(h) != NBD_REP_MAGIC || nbd_get32(h + 8) != opt) {
        block_error(errp, "Unexpected option reply");
        return -EIO;
    }
    *type = nbd_get32(h + 12);
    *len = nbd_get32(h + 16);
    if (*len > NBD_MAX_BUFFER_SIZE) {
        block_error(errp, "server sent an option reply that is too long");
        return -EIO;
    }
    *data = g_malloc(*len + 1);
    if (rd(s, *data, *len) < 0) {
        g_free(*data);
        block_error(errp, "Failed to read option reply");
        return -EIO;
    }
    (*data)[*len] = 0;
    return 0;
}

static int opt_structured(BDRVNBDState *s, char **errp)
{
    uint32_t type, len;
    uint8_t *d;
    if (send_opt(s, NBD_OPT_STRUCTURED_REPLY, NULL, 0) < 0 ||
        read_rep(s, NBD_OPT_STRUCTURED_REPLY, &type, &d, &len, errp) < 0) {
        return -EIO;
    }
    g_free(d);
    s->structured = type == NBD_REP_ACK;
    return 0;
}

static int opt_meta(BDRVNBDState *s, char **errp)
{
    size_t nl = strlen(s->export), ql = strlen(s->ctx_name);
    uint8_t *b = g_malloc(12 + nl + ql);
    nbd_put32(b, (uint32_t)nl);
    memcpy(b + 4, s->export, nl);
    nbd_put32(b + 4 + nl, 1);
    nbd_put32(b + 8 + nl, (uint32_t)ql);
    memcpy(b + 12 + nl, s->ctx_name, ql);
    int r = send_opt(s, NBD_OPT_SET_META_CONTEXT, b, (uint32_t)(12 + nl + ql));
    g_free(b);
    if (r < 0) {
        block_error(errp, "Failed to send option");
        return -EIO;
    }
    for (;;) {
        uint32_t type, len;
        uint8_t *d;
        if (read_rep(s, NBD_OPT_SET_META_CONTEXT, &type, &d, &len, errp) < 0) {
            return -EIO;
        }
        if (type == NBD_REP_META_CONTEXT && len >= 4 && len - 4 == ql &&
            !memcmp(d + 4, s->ctx_name, ql)) {
            s->has_ctx = true;
            s->ctx_id = nbd_get32(d);
        }
        g_free(d);
        if (type != NBD_REP_META_CONTEXT) {
            return 0; /* ACK, or an error: no context then */
        }
    }
}

/* 0, 1 when the server does not know NBD_OPT_GO, < 0 on error */
static int opt_go(BDRVNBDState *s, char **errp)
{
    size_t nl = strlen(s->export);
    uint8_t *b = g_malloc(8 + nl);
    nbd_put32(b, (uint32_t)nl);
    memcpy(b + 4, s->export, nl);
    nbd_put16(b + 4 + nl, 1);
    nbd_put16(b + 6 + nl, NBD_INFO_BLOCK_SIZE);
    int r = send_opt(s, NBD_OPT_GO, b, (uint32_t)(8 + nl));
    g_free(b);
    if (r < 0) {
        block_error(errp, "Failed to send option");
        return -EIO;
    }
    bool have_size = false;
    for (;;) {
        uint32_t type, len;
        uint8_t *d;
        if (read_rep(s, NBD_OPT_GO, &type, &d, &len, errp) < 0) {
            return -EIO;
        }
        if (type == NBD_REP_INFO && len >= 2) {
            uint16_t it = nbd_get16(d);
            if (it == NBD_INFO_EXPORT && len == 12) {
                s->size = nbd_get64(d + 2);
                s->tflags = nbd_get16(d + 10);
                have_size = true;
            } else if (it == NBD_INFO_BLOCK_SIZE && len == 14) {
                s->min_block = nbd_get32(d + 2);
                s->max_block = nbd_get32(d + 10);
            }
            g_free(d);
            continue;
        }
        if (type == NBD_REP_ACK) {
            g_free(d);
            if (!have_size) {
                block_error(errp, "broken server omitted NBD_INFO_EXPORT");
                return -EIO;
            }
            return 0;
        }
        if (type == NBD_REP_ERR_UNSUP) {
            g_free(d);
            return 1;
        }
        if (type == NBD_REP_ERR_UNKNOWN) {
            block_error(errp, "Requested export not available%s%s",
                        len ? "\nserver reported: " : "", (char *)d);
        } else if (type & (1U << 31)) {
            block_error(errp, "Server error %#x (%s)%s%s", type & 0x7fffffff, "unknown",
                        len ? "\nserver reported: " : "", (char *)d);
        } else {
            block_error(errp, "Unexpected reply type %u to NBD_OPT_GO", type);
        }
        g_free(d);
        return -EIO;
    }
}

static int handshake(BDRVNBDState *s, char **errp)
{
    uint8_t h[18];
    if (rd(s, h, 16) < 0) {
        block_error(errp, "Failed to read initial magic");
        return -EIO;
    }
    if (nbd_get64(h) != NBD_MAGIC) {
        block_error(errp, "Invalid magic received");
        return -EIO;
    }
    if (nbd_get64(h + 8) != NBD_OPTS_MAGIC) {
        block_error(errp, "Server using oldstyle negotiation is not supported");
        return -EIO;
    }
    if (rd(s, h, 2) < 0) {
        block_error(errp, "Failed to read server flags");
        return -EIO;
    }
    uint16_t sflags = nbd_get16(h);
    bool fixed = sflags & NBD_FLAG_FIXED_NEWSTYLE;
    bool no_zeroes = sflags & NBD_FLAG_NO_ZEROES;
    uint8_t cf[4];
    nbd_put32(cf, (fixed ? NBD_FLAG_C_FIXED_NEWSTYLE : 0) | (no_zeroes ? NBD_FLAG_C_NO_ZEROES : 0));
    if (wr2(s, cf, 4, NULL, 0) < 0) {
        block_error(errp, "Failed to send clientflags field");
        return -EIO;
    }
    s->min_block = 1;
    s->max_block = NBD_MAX_BUFFER_SIZE;
    int r = 1;
    if (fixed) {
        if (opt_structured(s, errp) < 0 || (s->structured && opt_meta(s, errp) < 0)) {
            return -EIO;
        }
        r = opt_go(s, errp);
        if (r < 0) {
            return r;
        }
    }
    if (r == 1) {
        size_t nl = strlen(s->export);
        if (send_opt(s, NBD_OPT_EXPORT_NAME, s->export, (uint32_t)nl) < 0) {
            block_error(errp, "Failed to send export name");
            return -EIO;
        }
        uint8_t ex[10 + 124];
        if (rd(s, ex, no_zeroes ? 10 : sizeof(ex)) < 0) {
            block_error(errp, "Failed to read export length");
            return -EIO;
        }
        s->size = nbd_get64(ex);
        s->tflags = nbd_get16(ex + 8);
    }
    if (s->min_block == 0 || s->min_block > 65536 || (s->min_block & (s->min_block - 1))) {
        s->min_block = 1;
    }
    if (s->max_block < s->min_block || s->max_block > NBD_MAX_BUFFER_SIZE) {
        s->max_block = NBD_MAX_BUFFER_SIZE;
    }
    return 0;
}

static void nbd_close(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;
    if (!s) {
        return;
    }
    if (s->fd >= 0) {
        if (!s->dead) {
            uint8_t h[NBD_REQUEST_SIZE] = {0};
            nbd_put32(h, NBD_REQUEST_MAGIC);
            nbd_put16(h + 6, NBD_CMD_DISC);
            wr2(s, h, sizeof(h), NULL, 0);
        }
        close(s->fd);
    }
    g_free(s->host);
    g_free(s->port);
    g_free(s->path);
    g_free(s->export);
    g_free(s->ctx_name);
    g_free(s);
    bs->opaque = NULL;
}

static int nbd_open(BlockDriverState *bs, QOpts *opts, int flags, char **errp)
{
    BDRVNBDState *s = g_new0(BDRVNBDState, 1);
    bs->opaque = s;
    s->fd = -1;
    const char *type = qopts_get(opts, "server.type");
    const char *host = qopts_get(opts, "server.host");
    const char *port = qopts_get(opts, "server.port");
    const char *path = qopts_get(opts, "server.path");
    /* the legacy top-level keys */
    if (!type && !host && !path) {
        host = qopts_get(opts, "host");
        path = qopts_get(opts, "path");
        port = port ? port : qopts_get(opts, "port");
        type = path ? "unix" : host ? "inet" : NULL;
    }
    if (qopts_get(opts, "tls-creds")) {
        block_error(errp, "TLS is not supported by this NBD client");
        return -ENOTSUP;
    }
    if (!type) {
        block_error(errp, "NBD server address missing");
        return -EINVAL;
    }
    if (!strcmp(type, "unix")) {
        if (!path) {
            block_error(errp, "Parameter 'path' is missing");
            return -EINVAL;
        }
        s->unix_socket = true;
        s->path = g_strdup(path);
    } else if (!strcmp(type, "inet")) {
        if (!host) {
            block_error(errp, "Parameter 'host' is missing");
            return -EINVAL;
        }
        s->host = g_strdup(host);
        s->port = g_strdup(port ? port : "10809");
    } else {
        block_error(errp, "Parameter 'type' does not accept value '%s'", type);
        return -EINVAL;
    }
    const char *exp = qopts_get(opts, "export");
    s->export = g_strdup(exp ? exp : "");
    const char *bm = qopts_get(opts, "x-dirty-bitmap");
    s->ctx_name = g_strdup(bm ? bm : "base:allocation");
    int ret = connect_server(s, errp);
    if (ret < 0) {
        return ret;
    }
    nbd_conn_init_fd(&s->conn, &s->fd);
    if ((ret = handshake(s, errp)) < 0) {
        return ret;
    }
    if ((s->tflags & NBD_FLAG_READ_ONLY) && (flags & BDRV_O_RDWR)) {
        block_error_errno(errp, EACCES, "Could not open image");
        return -EACCES;
    }
    if (s->size > INT64_MAX) {
        block_error(errp, "server sent an export size that is too large");
        return -EINVAL;
    }
    bs->total_size = (int64_t)s->size;
    bs->max_transfer = s->max_block;
    bs->max_pwrite_zeroes = 0x7fffffffULL & ~(uint64_t)(s->min_block - 1);
    bs->max_pdiscard = bs->max_pwrite_zeroes;
    g_free(bs->filename);
    if (s->unix_socket) {
        bs->filename = *s->export ? g_strdup_printf("nbd+unix:///%s?socket=%s", s->export, s->path)
                                  : g_strdup_printf("nbd+unix://?socket=%s", s->path);
    } else {
        bool v6 = strchr(s->host, ':') != NULL;
        bs->filename = g_strdup_printf("nbd://%s%s%s:%s%s%s", v6 ? "[" : "", s->host, v6 ? "]" : "",
                                       s->port, *s->export ? "/" : "", s->export);
    }
    return 0;
}

/* ---- requests ---- */

static int fail(BDRVNBDState *s)
{
    s->dead = true;
    return -EIO;
}

static int send_req(BDRVNBDState *s, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
                    const void *payload, uint64_t *handle)
{
    if (s->dead) {
        return -EIO;
    }
    uint8_t h[NBD_REQUEST_SIZE];
    *handle = ++s->next_handle;
    nbd_put32(h, NBD_REQUEST_MAGIC);
    nbd_put16(h + 4, flags);
    nbd_put16(h + 6, type);
    nbd_put64(h + 8, *handle);
    nbd_put64(h + 16, off);
    nbd_put32(h + 24, len);
    if (wr2(s, h, sizeof(h), payload, payload ? len : 0) < 0) {
        return fail(s);
    }
    return 0;
}

/*
 * The reply to request `handle` (of [off, +len)): reads fill buf (data and holes), block
 * status fills *bs_len and *bs_flags from the first extent of our context. Returns 0 or -errno
 * (the server's error); -EIO with the node dead on a protocol error.
 */
static int recv_reply(BDRVNBDState *s, uint64_t handle, uint64_t off, uint32_t len, void *buf,
                      uint32_t *bs_len, uint32_t *bs_flags)
{
    uint8_t h[NBD_STRUCTURED_REPLY_SIZE];
    if (rd(s, h, 4) < 0) {
        return fail(s);
    }
    uint32_t magic = nbd_get32(h);
    if (magic == NBD_SIMPLE_REPLY_MAGIC) {
        if (rd(s, h + 4, NBD_SIMPLE_REPLY_SIZE - 4) < 0 || nbd_get64(h + 8) != handle) {
            return fail(s);
        }
        uint32_t err = nbd_get32(h + 4);
        if (err) {
            return nbd_wire_to_errno(err);
        }
        if (bs_len) {
            return fail(s); /* block status needs a structured reply */
        }
        if (buf && rd(s, buf, len) < 0) {
            return fail(s);
        }
        return 0;
    }
    if (magic != NBD_STRUCTURED_REPLY_MAGIC || !s->structured) {
        return fail(s);
    }
    int ret = 0;
    bool got_status = false;
    for (bool first = true;; first = false) {
        if (!first && (rd(s, h, 4) < 0 || nbd_get32(h) != NBD_STRUCTURED_REPLY_MAGIC)) {
            return fail(s);
        }
        if (rd(s, h + 4, NBD_STRUCTURED_REPLY_SIZE - 4) < 0 || nbd_get64(h + 8) != handle) {
            return fail(s);
        }
        uint16_t flags = nbd_get16(h + 4), type = nbd_get16(h + 6);
        uint32_t clen = nbd_get32(h + 16);
        uint8_t f[12];
        if (NBD_REPLY_TYPE_IS_ERR(type)) {
            if (clen < 6 || rd(s, f, 6) < 0) {
                return fail(s);
            }
            uint32_t err = nbd_get32(f);
            if (clen - 6 < nbd_get16(f + 4) || skip(s, clen - 6) < 0) {
                return fail(s);
            }
            ret = ret ? ret : nbd_wire_to_errno(err ? err : NBD_EINVAL);
        } else if (type == NBD_REPLY_TYPE_OFFSET_DATA && buf) {
            if (clen < 8 || rd(s, f, 8) < 0) {
                return fail(s);
            }
            uint64_t o = nbd_get64(f), n = clen - 8;
            if (o < off || o - off > len || n > len - (o - off)) {
                return fail(s);
            }
            if (rd(s, (uint8_t *)buf + (o - off), n) < 0) {
                return fail(s);
            }
        } else if (type == NBD_REPLY_TYPE_OFFSET_HOLE && buf) {
            if (clen != 12 || rd(s, f, 12) < 0) {
                return fail(s);
            }
            uint64_t o = nbd_get64(f), n = nbd_get32(f + 8);
            if (o < off || o - off > len || n > len - (o - off)) {
                return fail(s);
            }
            memset((uint8_t *)buf + (o - off), 0, n);
        } else if (type == NBD_REPLY_TYPE_BLOCK_STATUS && bs_len) {
            if (clen < 12 || (clen - 4) % 8 || rd(s, f, 12) < 0) {
                return fail(s);
            }
            if (nbd_get32(f) == s->ctx_id && !got_status) {
                *bs_len = nbd_get32(f + 4);
                *bs_flags = nbd_get32(f + 8);
                got_status = true;
            }
            if (skip(s, clen - 12) < 0) {
                return fail(s);
            }
        } else if (type == NBD_REPLY_TYPE_NONE && clen == 0) {
            /* nothing */
        } else {
            return fail(s);
        }
        if (flags & NBD_REPLY_FLAG_DONE) {
            break;
        }
    }
    if (ret == 0 && bs_len && !got_status) {
        return fail(s);
    }
    return ret;
}

static int nbd_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf)
{
    BDRVNBDState *s = bs->opaque;
    while (bytes) {
        uint32_t n = (uint32_t)MIN(bytes, s->max_block);
        uint64_t h;
        int ret = send_req(s, NBD_CMD_READ, 0, offset, n, NULL, &h);
        if (ret == 0) {
            ret = recv_reply(s, h, offset, n, buf, NULL, NULL);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
        buf = (uint8_t *)buf + n;
    }
    return 0;
}

static int nbd_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                      int flags)
{
    BDRVNBDState *s = bs->opaque;
    while (bytes) {
        uint32_t n = (uint32_t)MIN(bytes, s->max_block);
        uint64_t h;
        uint16_t f =
            (flags & BDRV_REQ_FUA) && (s->tflags & NBD_FLAG_SEND_FUA) ? NBD_CMD_FLAG_FUA : 0;
        int ret = send_req(s, NBD_CMD_WRITE, f, offset, n, buf, &h);
        if (ret == 0) {
            ret = recv_reply(s, h, offset, n, NULL, NULL, NULL);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
        buf = (const uint8_t *)buf + n;
    }
    return 0;
}

static int simple_cmd(BlockDriverState *bs, uint16_t type, uint16_t flags, uint64_t offset,
                      uint64_t bytes)
{
    BDRVNBDState *s = bs->opaque;
    do {
        uint32_t n = (uint32_t)MIN(bytes, 0x7fffffffULL & ~(uint64_t)(s->min_block - 1));
        uint64_t h;
        int ret = send_req(s, type, flags, offset, n, NULL, &h);
        if (ret == 0) {
            ret = recv_reply(s, h, offset, n, NULL, NULL, NULL);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    } while (bytes);
    return 0;
}

static int nbd_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVNBDState *s = bs->opaque;
    if (!(s->tflags & NBD_FLAG_SEND_WRITE_ZEROES)) {
        return -ENOTSUP;
    }
    uint16_t f = flags & BDRV_REQ_MAY_UNMAP ? 0 : NBD_CMD_FLAG_NO_HOLE;
    if (flags & BDRV_REQ_NO_FALLBACK) {
        if (!(s->tflags & NBD_FLAG_SEND_FAST_ZERO)) {
            return -ENOTSUP;
        }
        f |= NBD_CMD_FLAG_FAST_ZERO;
    }
    return bytes ? simple_cmd(bs, NBD_CMD_WRITE_ZEROES, f, offset, bytes) : 0;
}

static int nbd_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVNBDState *s = bs->opaque;
    if (!(s->tflags & NBD_FLAG_SEND_TRIM) || !bytes) {
        return 0;
    }
    return simple_cmd(bs, NBD_CMD_TRIM, 0, offset, bytes);
}

static int nbd_flush(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;
    if (!(s->tflags & NBD_FLAG_SEND_FLUSH)) {
        return 0;
    }
    uint64_t h;
    int ret = send_req(s, NBD_CMD_FLUSH, 0, 0, 0, NULL, &h);
    return ret ? ret : recv_reply(s, h, 0, 0, NULL, NULL, NULL);
}

static int nbd_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                            uint64_t *map, BlockDriverState **file)
{
    BDRVNBDState *s = bs->opaque;
    *map = offset;
    *file = bs;
    if (!s->has_ctx) {
        *pnum = bytes;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    uint32_t n = (uint32_t)MIN(bytes, 0x7fffffffULL & ~(uint64_t)(s->min_block - 1));
    uint64_t h;
    uint32_t elen = 0, eflags = 0;
    int ret = send_req(s, NBD_CMD_BLOCK_STATUS, NBD_CMD_FLAG_REQ_ONE, offset, n, NULL, &h);
    if (ret == 0) {
        ret = recv_reply(s, h, offset, n, NULL, &elen, &eflags);
    }
    if (ret < 0) {
        return ret;
    }
    if (elen == 0) {
        return fail(s);
    }
    *pnum = MIN(elen, n);
    if (strcmp(s->ctx_name, "base:allocation")) {
        /* x-dirty-bitmap: QEMU's trick, dirty areas read as holes (unallocated) */
        return BDRV_BLOCK_OFFSET_VALID | (eflags & NBD_STATE_HOLE ? 0 : BDRV_BLOCK_DATA);
    }
    return BDRV_BLOCK_OFFSET_VALID | (eflags & NBD_STATE_HOLE ? 0 : BDRV_BLOCK_DATA) |
           (eflags & NBD_STATE_ZERO ? BDRV_BLOCK_ZERO : 0);
}

static int64_t nbd_getlength(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;
    return (int64_t)s->size;
}

static const char *const nbd_runtime_opts[] = {
    "server.",        "export",          "host",         "port", "path", "tls-creds",
    "x-dirty-bitmap", "reconnect-delay", "open-timeout", NULL,
};

#define NBD_DRIVER(proto)                                                                          \
    {                                                                                              \
        .format_name = "nbd", .is_protocol = true, .protocol_name = proto,                         \
        .parse_filename = nbd_parse_filename, .runtime_opts = nbd_runtime_opts, .open = nbd_open,  \
        .close = nbd_close, .pread = nbd_pread, .pwrite = nbd_pwrite,                              \
        .pwrite_zeroes = nbd_pwrite_zeroes, .discard = nbd_discard, .flush = nbd_flush,            \
        .block_status = nbd_block_status, .getlength = nbd_getlength,                              \
    }

const BlockDriver bdrv_nbd = NBD_DRIVER("nbd");
const BlockDriver bdrv_nbd_tcp = NBD_DRIVER("nbd+tcp");
const BlockDriver bdrv_nbd_unix = NBD_DRIVER("nbd+unix");
