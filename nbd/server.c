/*
 * The NBD server side (what qemu-nbd serves; facts from NetworkBlockDevice's doc/proto.md and
 * QEMU 7.2's behaviour as a client sees it): the fixed newstyle handshake with NBD_OPT_GO,
 * INFO, EXPORT_NAME, LIST, ABORT, STRUCTURED_REPLY, LIST/SET_META_CONTEXT (base:allocation,
 * qemu:dirty-bitmap:NAME), then the transmission phase: READ (sparse structured replies),
 * WRITE, FLUSH, TRIM, WRITE_ZEROES, CACHE, BLOCK_STATUS, DISC.
 *
 * One call serves one client on a blocking byte stream (NBDConn), one request at a time.
 * Whatever a client sends is checked before it reaches the block layer: option payloads are
 * bounded (longer ones are read and dropped), requests must lie inside the export and carry
 * only the flags their command takes, payloads are at most NBD_MAX_BUFFER_SIZE; a request
 * that breaks a rule gets an error reply, a stream that cannot be followed any more (bad
 * magic, an oversized write payload) is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/nbd.h"

/* option payloads beyond this are read, dropped and refused */
#define NBD_MAX_OPTION_SIZE (NBD_MAX_STRING_SIZE * 4 + 64)
/* at most this many extents in one block status reply */
#define NBD_MAX_EXTENTS (128 * 1024)

enum { CTX_ALLOC = 0, CTX_BITMAP = 1 };

typedef struct Client {
    NBDExport *exp;
    NBDConn *conn;
    bool fixed;
    bool no_zeroes;
    bool structured;
    bool ctx[2]; /* meta contexts selected (SET_META_CONTEXT) */
} Client;

static int rd(Client *c, void *buf, size_t n)
{
    return n ? c->conn->read(c->conn->opaque, buf, n) : 0;
}

static int wrv(Client *c, const struct iovec *iov, int niov)
{
    return c->conn->writev(c->conn->opaque, iov, niov);
}

static int wr(Client *c, const void *buf, size_t n)
{
    struct iovec v = {(void *)buf, n};
    return wrv(c, &v, 1);
}

/* Read and forget n bytes. */
static int drop(Client *c, uint64_t n)
{
    uint8_t buf[4096];
    while (n) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        int r = rd(c, buf, k);
        if (r < 0) {
            return r;
        }
        n -= k;
    }
    return 0;
}

static void lock(Client *c)
{
    if (c->exp->lock) {
        c->exp->lock(c->exp->lock_opaque);
    }
}

static void unlock(Client *c)
{
    if (c->exp->unlock) {
        c->exp->unlock(c->exp->lock_opaque);
    }
}

/* ---- handshake ---- */

static int send_rep(Client *c, uint32_t opt, uint32_t type, const void *data, uint32_t len)
{
    uint8_t h[20];
    nbd_put64(h, NBD_REP_MAGIC);
    nbd_put32(h + 8, opt);
    nbd_put32(h + 12, type);
    nbd_put32(h + 16, len);
    struct iovec v[2] = {{h, sizeof(h)}, {(void *)data, len}};
    return wrv(c, v, len ? 2 : 1);
}

static int send_rep_err(Client *c, uint32_t opt, uint32_t type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int send_rep_err(Client *c, uint32_t opt, uint32_t type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    int r = send_rep(c, opt, type, msg, (uint32_t)strlen(msg));
    g_free(msg);
    return r;
}

static bool name_is_export(Client *c, const uint8_t *name, uint32_t len)
{
    return strlen(c->exp->name) == len && !memcmp(c->exp->name, name, len);
}

static uint16_t transmission_flags(Client *c)
{
    uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
                 NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_CACHE | NBD_FLAG_SEND_FAST_ZERO;
    if (c->exp->readonly) {
        f |= NBD_FLAG_READ_ONLY | NBD_FLAG_CAN_MULTI_CONN;
    } else {
        f |= NBD_FLAG_SEND_TRIM;
    }
    if (c->structured) {
        f |= NBD_FLAG_SEND_DF;
    }
    return f;
}

static int send_info(Client *c, uint32_t opt, uint16_t type, const void *data, uint32_t len)
{
    uint8_t *buf = g_malloc(2 + len);
    nbd_put16(buf, type);
    memcpy(buf + 2, data, len);
    int r = send_rep(c, opt, NBD_REP_INFO, buf, 2 + len);
    g_free(buf);
    return r;
}

/* NBD_OPT_INFO / NBD_OPT_GO: 1 when the transmission phase starts, 0 to go on, < 0 drop */
static int opt_info(Client *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
    if (len < 6) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "option length is too short");
    }
    uint32_t nlen = nbd_get32(d);
    if (nlen > NBD_MAX_STRING_SIZE || (uint64_t)nlen + 6 > len) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "name length is incorrect");
    }
    const uint8_t *name = d + 4;
    uint16_t nreq = nbd_get16(d + 4 + nlen);
    if ((uint64_t)nlen + 6 + 2ULL * nreq != len) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "request data length is incorrect");
    }
    bool want_name = false, want_desc = false;
    for (uint16_t i = 0; i < nreq; i++) {
        uint16_t t = nbd_get16(d + 6 + nlen + 2 * i);
        want_name |= t == NBD_INFO_NAME;
        want_desc |= t == NBD_INFO_DESCRIPTION;
    }
    if (!name_is_export(c, name, nlen)) {
        return send_rep_err(c, opt, NBD_REP_ERR_UNKNOWN, "export '%.*s' not present", (int)nlen,
                            name);
    }
    NBDExport *e = c->exp;
    int r = 0;
    if (want_name) {
        r = send_info(c, opt, NBD_INFO_NAME, e->name, (uint32_t)strlen(e->name));
    }
    if (r == 0 && want_desc && e->description) {
        r = send_info(c, opt, NBD_INFO_DESCRIPTION, e->description,
                      (uint32_t)strlen(e->description));
    }
    if (r == 0) {
        uint8_t bsz[12];
        uint32_t pref = 4096;
        if (e->bs->request_alignment > pref) {
            pref = e->bs->request_alignment;
        }
        nbd_put32(bsz, 1);
        nbd_put32(bsz + 4, pref);
        nbd_put32(bsz + 8, NBD_MAX_BUFFER_SIZE);
        r = send_info(c, opt, NBD_INFO_BLOCK_SIZE, bsz, sizeof(bsz));
    }
    if (r == 0) {
        uint8_t ex[10];
        nbd_put64(ex, e->size);
        nbd_put16(ex + 8, transmission_flags(c));
        r = send_info(c, opt, NBD_INFO_EXPORT, ex, sizeof(ex));
    }
    if (r == 0) {
        r = send_rep(c, opt, NBD_REP_ACK, NULL, 0);
    }
    return r < 0 ? r : opt == NBD_OPT_GO;
}

static char *bitmap_context(Client *c)
{
    return c->exp->bitmap ? g_strdup_printf("qemu:dirty-bitmap:%s", c->exp->bitmap->name) : NULL;
}

/* Which context a query names for LIST (namespace prefixes too) or SET (exact names). */
static void match_query(Client *c, const char *q, bool list, bool sel[2])
{
    char *bm = bitmap_context(c);
    if (!strcmp(q, "base:allocation") || (list && !strcmp(q, "base:"))) {
        sel[CTX_ALLOC] = true;
    }
    if (bm &&
        (!strcmp(q, bm) || (list && (!strcmp(q, "qemu:") || !strcmp(q, "qemu:dirty-bitmap:"))))) {
        sel[CTX_BITMAP] = true;
    }
    g_free(bm);
}

static int opt_meta_context(Client *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
    bool list = opt == NBD_OPT_LIST_META_CONTEXT;
    if (!c->structured) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "request structured replies first");
    }
    if (len < 8) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "option length is too short");
    }
    uint32_t nlen = nbd_get32(d);
    if (nlen > NBD_MAX_STRING_SIZE || (uint64_t)nlen + 8 > len) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "name length is incorrect");
    }
    if (!name_is_export(c, d + 4, nlen)) {
        return send_rep_err(c, opt, NBD_REP_ERR_UNKNOWN, "export '%.*s' not present", (int)nlen,
                            d + 4);
    }
    uint32_t nq = nbd_get32(d + 4 + nlen);
    uint64_t pos = 8 + (uint64_t)nlen;
    bool sel[2] = {false, false};
    for (uint32_t i = 0; i < nq; i++) {
        if (pos + 4 > len) {
            return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "query length is incorrect");
        }
        uint32_t qlen = nbd_get32(d + pos);
        pos += 4;
        if (qlen > NBD_MAX_STRING_SIZE || pos + qlen > len) {
            return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "query length is incorrect");
        }
        char *q = g_strndup((const char *)d + pos, qlen);
        if (strlen(q) == qlen) {
            match_query(c, q, list, sel);
        }
        g_free(q);
        pos += qlen;
    }
    if (pos != len) {
        return send_rep_err(c, opt, NBD_REP_ERR_INVALID, "option length is incorrect");
    }
    if (list && nq == 0) {
        sel[CTX_ALLOC] = true;
        sel[CTX_BITMAP] = c->exp->bitmap != NULL;
    }
    int r = 0;
    for (int id = 0; id < 2 && r == 0; id++) {
        if (!sel[id]) {
            continue;
        }
        char *name = id == CTX_ALLOC ? g_strdup("base:allocation") : bitmap_context(c);
        size_t n = strlen(name);
        uint8_t *buf = g_malloc(4 + n);
        nbd_put32(buf, (uint32_t)id);
        memcpy(buf + 4, name, n);
        r = send_rep(c, opt, NBD_REP_META_CONTEXT, buf, (uint32_t)(4 + n));
        g_free(buf);
        g_free(name);
    }
    if (!list) {
        c->ctx[CTX_ALLOC] = sel[CTX_ALLOC];
        c->ctx[CTX_BITMAP] = sel[CTX_BITMAP];
    }
    return r < 0 ? r : send_rep(c, opt, NBD_REP_ACK, NULL, 0);
}

/* 0: the transmission phase starts; < 0: the client is dropped (or aborted) */
static int handshake(Client *c)
{
    uint8_t h[18];
    nbd_put64(h, NBD_MAGIC);
    nbd_put64(h + 8, NBD_OPTS_MAGIC);
    nbd_put16(h + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    int r = wr(c, h, sizeof(h));
    uint8_t cf[4];
    if (r < 0 || (r = rd(c, cf, 4)) < 0) {
        return r;
    }
    uint32_t cflags = nbd_get32(cf);
    if (cflags & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
        return -EINVAL; /* unknown client flags: the spec says close */
    }
    c->fixed = cflags & NBD_FLAG_C_FIXED_NEWSTYLE;
    c->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
    for (;;) {
        uint8_t oh[16];
        if ((r = rd(c, oh, sizeof(oh))) < 0) {
            return r;
        }
        if (nbd_get64(oh) != NBD_OPTS_MAGIC) {
            return -EINVAL;
        }
        uint32_t opt = nbd_get32(oh + 8), len = nbd_get32(oh + 12);
        if (!c->fixed && opt != NBD_OPT_EXPORT_NAME) {
            return -EINVAL; /* plain newstyle: nothing else can be answered */
        }
        if (len > NBD_MAX_OPTION_SIZE) {
            if (opt == NBD_OPT_EXPORT_NAME || (r = drop(c, len)) < 0) {
                return -EINVAL;
            }
            if ((r = send_rep_err(c, opt, NBD_REP_ERR_TOO_BIG, "option too long")) < 0) {
                return r;
            }
            continue;
        }
        uint8_t *d = g_malloc(len + 1);
        if ((r = rd(c, d, len)) < 0) {
            g_free(d);
            return r;
        }
        switch (opt) {
        case NBD_OPT_EXPORT_NAME:
            if (!name_is_export(c, d, len)) {
                r = -EINVAL; /* no way to say so: close */
                break;
            }
            {
                uint8_t ex[10 + 124] = {0};
                nbd_put64(ex, c->exp->size);
                nbd_put16(ex + 8, transmission_flags(c));
                r = wr(c, ex, c->no_zeroes ? 10 : sizeof(ex));
                r = r < 0 ? r : 1;
            }
            break;
        case NBD_OPT_ABORT:
            send_rep(c, opt, NBD_REP_ACK, NULL, 0);
            r = -ECONNABORTED;
            break;
        case NBD_OPT_LIST:
            if (len) {
                r = send_rep_err(c, opt, NBD_REP_ERR_INVALID, "no payload expected");
                break;
            }
            {
                size_t n = strlen(c->exp->name);
                size_t dl = c->exp->description ? strlen(c->exp->description) : 0;
                uint8_t *buf = g_malloc(4 + n + dl);
                nbd_put32(buf, (uint32_t)n);
                memcpy(buf + 4, c->exp->name, n);
                if (dl) {
                    memcpy(buf + 4 + n, c->exp->description, dl);
                }
                r = send_rep(c, opt, NBD_REP_SERVER, buf, (uint32_t)(4 + n + dl));
                g_free(buf);
                r = r < 0 ? r : send_rep(c, opt, NBD_REP_ACK, NULL, 0);
            }
            break;
        case NBD_OPT_INFO:
        case NBD_OPT_GO:
            r = opt_info(c, opt, d, len);
            break;
        case NBD_OPT_STRUCTURED_REPLY:
            if (len) {
                r = send_rep_err(c, opt, NBD_REP_ERR_INVALID, "no payload expected");
            } else if (c->structured) {
                r = send_rep_err(c, opt, NBD_REP_ERR_INVALID,
                                 "structured reply already negotiated");
            } else {
                c->structured = true;
                r = send_rep(c, opt, NBD_REP_ACK, NULL, 0);
            }
            break;
        case NBD_OPT_LIST_META_CONTEXT:
        case NBD_OPT_SET_META_CONTEXT:
            r = opt_meta_context(c, opt, d, len);
            break;
        case NBD_OPT_STARTTLS:
            r = send_rep_err(c, opt, NBD_REP_ERR_POLICY, "TLS not configured");
            break;
        default:
            r = send_rep_err(c, opt, NBD_REP_ERR_UNSUP, "Unsupported option %" PRIu32, opt);
            break;
        }
        g_free(d);
        if (r != 0) {
            return r > 0 ? 0 : r;
        }
    }
}

/* ---- transmission ---- */

static int simple_reply(Client *c, uint64_t handle, uint32_t err, const void *data, size_t len)
{
    uint8_t h[NBD_SIMPLE_REPLY_SIZE];
    nbd_put32(h, NBD_SIMPLE_REPLY_MAGIC);
    nbd_put32(h + 4, err);
    nbd_put64(h + 8, handle);
    struct iovec v[2] = {{h, sizeof(h)}, {(void *)data, len}};
    return wrv(c, v, len ? 2 : 1);
}

/* A structured chunk: header, then a fixed part and a payload. */
static int chunk(Client *c, uint64_t handle, uint16_t flags, uint16_t type, const void *fixed,
                 size_t flen, const void *data, size_t dlen)
{
    uint8_t h[NBD_STRUCTURED_REPLY_SIZE];
    nbd_put32(h, NBD_STRUCTURED_REPLY_MAGIC);
    nbd_put16(h + 4, flags);
    nbd_put16(h + 6, type);
    nbd_put64(h + 8, handle);
    nbd_put32(h + 16, (uint32_t)(flen + dlen));
    struct iovec v[3] = {{h, sizeof(h)}, {(void *)fixed, flen}, {(void *)data, dlen}};
    return wrv(c, v, dlen ? 3 : flen ? 2 : 1);
}

static int error_reply(Client *c, uint64_t handle, int err, const char *msg)
{
    uint32_t e = nbd_errno_to_wire(err);
    if (!c->structured) {
        return simple_reply(c, handle, e, NULL, 0);
    }
    size_t n = msg ? strlen(msg) : 0;
    uint8_t f[6];
    nbd_put32(f, e);
    nbd_put16(f + 4, (uint16_t)n);
    return chunk(c, handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, f, sizeof(f), msg, n);
}

static int do_read(Client *c, uint64_t handle, uint16_t flags, uint64_t off, uint32_t len)
{
    NBDExport *e = c->exp;
    uint64_t base = e->offset;
    if (!c->structured || (flags & NBD_CMD_FLAG_DF) || len == 0) {
        uint8_t *buf = g_try_malloc(len ? len : 1);
        if (!buf) {
            return error_reply(c, handle, -ENOMEM, "out of memory");
        }
        lock(c);
        int ret = len ? bdrv_pread(e->bs, base + off, len, buf) : 0;
        unlock(c);
        int r;
        if (ret < 0) {
            r = error_reply(c, handle, ret, "reading from file failed");
        } else if (!c->structured) {
            r = simple_reply(c, handle, 0, buf, len);
        } else {
            uint8_t o[8];
            nbd_put64(o, off);
            r = len ? chunk(c, handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, o, 8, buf,
                            len)
                    : chunk(c, handle, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
        }
        g_free(buf);
        return r;
    }
    /* sparse: holes as OFFSET_HOLE chunks, the rest as OFFSET_DATA, DONE on the last one */
    uint8_t *buf = NULL;
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        uint64_t pnum = 0;
        lock(c);
        int st = bdrv_block_status_above(e->bs, base + pos, end - pos, &pnum);
        if (st < 0 || pnum == 0 || pnum > end - pos) {
            st = BDRV_BLOCK_DATA; /* read it then */
            pnum = end - pos;
        }
        int ret = 0;
        if (!(st & BDRV_BLOCK_ZERO)) {
            if (!buf) {
                buf = g_try_malloc(len);
            }
            ret = buf ? bdrv_pread(e->bs, base + pos, pnum, buf) : -ENOMEM;
        }
        unlock(c);
        if (ret < 0) {
            g_free(buf);
            return error_reply(c, handle, ret, "reading from file failed");
        }
        uint16_t fl = pos + pnum == end ? NBD_REPLY_FLAG_DONE : 0;
        uint8_t f[12];
        nbd_put64(f, pos);
        int r;
        if (st & BDRV_BLOCK_ZERO) {
            nbd_put32(f + 8, (uint32_t)pnum);
            r = chunk(c, handle, fl, NBD_REPLY_TYPE_OFFSET_HOLE, f, 12, NULL, 0);
        } else {
            r = chunk(c, handle, fl, NBD_REPLY_TYPE_OFFSET_DATA, f, 8, buf, pnum);
        }
        if (r < 0) {
            g_free(buf);
            return r;
        }
        pos += pnum;
    }
    g_free(buf);
    return 0;
}

/* Extents of one context over [off, off+len) into *out (pairs of length, flags). */
static size_t extents(Client *c, int ctx, uint64_t off, uint32_t len, bool one, uint8_t **out)
{
    NBDExport *e = c->exp;
    size_t n = 0, cap = 16;
    uint8_t *x = g_malloc(cap * 8);
    uint64_t pos = off, end = off + len;
    while (pos < end && n < NBD_MAX_EXTENTS) {
        uint64_t pnum;
        uint32_t fl;
        if (ctx == CTX_ALLOC) {
            int st = bdrv_block_status_above(e->bs, e->offset + pos, end - pos, &pnum);
            if (st < 0 || pnum == 0 || pnum > end - pos) {
                st = BDRV_BLOCK_DATA;
                pnum = end - pos;
            }
            fl = (st & BDRV_BLOCK_DATA ? 0 : NBD_STATE_HOLE) |
                 (st & BDRV_BLOCK_ZERO ? NBD_STATE_ZERO : 0);
        } else {
            BdrvDirtyBitmap *bm = e->bitmap;
            uint64_t g = bm->granularity, p = e->offset + pos;
            bool dirty = p / g < bm->nbits && bdrv_dirty_bitmap_get(bm, p / g);
            uint64_t q = (p / g + 1) * g;
            while (q < e->offset + end && q / g < bm->nbits &&
                   bdrv_dirty_bitmap_get(bm, q / g) == dirty) {
                q += g;
            }
            pnum = MIN(q, e->offset + end) - p;
            fl = dirty ? NBD_STATE_DIRTY : 0;
        }
        if (n && nbd_get32(x + 8 * (n - 1) + 4) == fl &&
            (uint64_t)nbd_get32(x + 8 * (n - 1)) + pnum <= UINT32_MAX) {
            nbd_put32(x + 8 * (n - 1), (uint32_t)(nbd_get32(x + 8 * (n - 1)) + pnum));
        } else {
            if (one && n == 1) {
                break;
            }
            if (n == cap) {
                cap *= 2;
                x = g_realloc(x, cap * 8);
            }
            nbd_put32(x + 8 * n, (uint32_t)pnum);
            nbd_put32(x + 8 * n + 4, fl);
            n++;
        }
        pos += pnum;
    }
    *out = x;
    return n;
}

static int do_block_status(Client *c, uint64_t handle, uint16_t flags, uint64_t off, uint32_t len)
{
    int last = c->ctx[CTX_BITMAP] ? CTX_BITMAP : CTX_ALLOC;
    for (int id = 0; id < 2; id++) {
        if (!c->ctx[id]) {
            continue;
        }
        uint8_t *x;
        lock(c);
        size_t n = extents(c, id, off, len, flags & NBD_CMD_FLAG_REQ_ONE, &x);
        unlock(c);
        uint8_t f[4];
        nbd_put32(f, (uint32_t)id);
        int r = chunk(c, handle, id == last ? NBD_REPLY_FLAG_DONE : 0, NBD_REPLY_TYPE_BLOCK_STATUS,
                      f, 4, x, n * 8);
        g_free(x);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* 0: go on; 1: the client asked to disconnect; < 0: drop it */
static int request(Client *c)
{
    uint8_t h[NBD_REQUEST_SIZE];
    int r = rd(c, h, sizeof(h));
    if (r < 0) {
        return r;
    }
    if (nbd_get32(h) != NBD_REQUEST_MAGIC) {
        return -EINVAL;
    }
    uint16_t flags = nbd_get16(h + 4), type = nbd_get16(h + 6);
    uint64_t handle = nbd_get64(h + 8), off = nbd_get64(h + 16);
    uint32_t len = nbd_get32(h + 24);
    NBDExport *e = c->exp;
    if (type == NBD_CMD_DISC) {
        return 1;
    }
    uint8_t *payload = NULL;
    if (type == NBD_CMD_WRITE) {
        if (len > NBD_MAX_BUFFER_SIZE) {
            /* the payload cannot be taken in: say so and give up on the stream */
            error_reply(c, handle, -EOVERFLOW, "write request too large");
            return -EINVAL;
        }
        payload = g_try_malloc(len ? len : 1);
        if (!payload) {
            return -ENOMEM;
        }
        if ((r = rd(c, payload, len)) < 0) {
            g_free(payload); /* disconnected mid-request: nothing was written */
            return r;
        }
    }
    uint16_t allowed;
    switch (type) {
    case NBD_CMD_READ:
        allowed = c->structured ? NBD_CMD_FLAG_DF : 0;
        break;
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
        allowed = NBD_CMD_FLAG_FUA;
        break;
    case NBD_CMD_WRITE_ZEROES:
        allowed = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
        break;
    case NBD_CMD_BLOCK_STATUS:
        allowed = NBD_CMD_FLAG_REQ_ONE;
        break;
    case NBD_CMD_FLUSH:
    case NBD_CMD_CACHE:
        allowed = 0;
        break;
    default:
        g_free(payload);
        return error_reply(c, handle, -EINVAL, "unsupported command");
    }
    const char *bad = NULL;
    int err = -EINVAL;
    if (flags & ~allowed) {
        bad = "unsupported flags";
    } else if (type != NBD_CMD_FLUSH && (off > e->size || len > e->size - off)) {
        bad = "operation past EOF";
    } else if (type == NBD_CMD_READ && len > NBD_MAX_BUFFER_SIZE) {
        bad = "read request too large";
    } else if (e->readonly &&
               (type == NBD_CMD_WRITE || type == NBD_CMD_WRITE_ZEROES || type == NBD_CMD_TRIM)) {
        bad = "export is read-only";
        err = -EPERM;
    } else if (type == NBD_CMD_BLOCK_STATUS && (!len || !(c->ctx[0] || c->ctx[1]))) {
        bad = len ? "no meta context selected" : "need non-zero length";
    }
    if (bad) {
        g_free(payload);
        return error_reply(c, handle, err, bad);
    }
    int ret = 0;
    uint64_t at = e->offset + off;
    switch (type) {
    case NBD_CMD_READ:
        return do_read(c, handle, flags, off, len);
    case NBD_CMD_BLOCK_STATUS:
        return do_block_status(c, handle, flags, off, len);
    case NBD_CMD_WRITE:
        lock(c);
        ret = len ? bdrv_pwrite(e->bs, at, len, payload, 0) : 0;
        unlock(c);
        g_free(payload);
        break;
    case NBD_CMD_WRITE_ZEROES: {
        int rf = flags & NBD_CMD_FLAG_NO_HOLE ? 0 : BDRV_REQ_MAY_UNMAP;
        if (flags & NBD_CMD_FLAG_FAST_ZERO) {
            rf |= BDRV_REQ_NO_FALLBACK;
        }
        lock(c);
        ret = len ? bdrv_pwrite_zeroes(e->bs, at, len, rf) : 0;
        unlock(c);
        break;
    }
    case NBD_CMD_TRIM:
        lock(c);
        ret = len ? bdrv_discard(e->bs, at, len) : 0;
        unlock(c);
        break;
    case NBD_CMD_FLUSH:
        lock(c);
        ret = bdrv_flush(e->bs);
        unlock(c);
        break;
    case NBD_CMD_CACHE:
        break; /* a hint: nothing to prefetch into */
    }
    if (ret >= 0 && (flags & NBD_CMD_FLAG_FUA)) {
        lock(c);
        ret = bdrv_flush(e->bs);
        unlock(c);
    }
    if (ret < 0) {
        return error_reply(c, handle, ret, "request failed");
    }
    return simple_reply(c, handle, 0, NULL, 0);
}

int nbd_serve_client(NBDExport *exp, NBDConn *conn)
{
    Client c = {.exp = exp, .conn = conn};
    int r = handshake(&c);
    while (r == 0) {
        r = request(&c);
    }
    return r == 1 || r == -EPIPE || r == -ECONNABORTED ? 0 : r;
}
