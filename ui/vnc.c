/*
 * The VNC server (RFC 6143): -vnc / -display vnc=, RFB 3.3/3.7/3.8, security None and VNC
 * authentication, Raw/CopyRect/Hextile/zlib/ZRLE and the pseudo-encodings DesktopSize,
 * ExtendedDesktopSize, Cursor, QEMU's extended key event, pointer type change and LED state;
 * QMP query-vnc / query-vnc-servers / set_password / expire_password and the VNC_* events.
 *
 * Everything runs on the main loop thread. The server keeps its own x8r8g8b8 copy of the
 * console (filled in the listener callbacks, which run with the big lock held), so encoding
 * needs no lock and never races with the device. Each client has a dirty region and a short
 * list of moves; an update is produced only when the client asked for one and its output
 * queue is short, so a slow client gets fewer, coalesced updates and never holds anyone up.
 * A client that breaks the protocol is closed with a log line; the others go on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "vireo/console.h"
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/monitor.h"
#include "vireo/qemu-opts.h"
#include "vireo/ui.h"
#include "keymaps.h"
#include "vnc.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))
#define VNC_PORT_BASE         5900
#define MAX_LISTEN            8
#define MAX_COPIES            16
#define CUT_TEXT_MAX          (1 << 20) /* QEMU's limit for ClientCutText */
#define HANDSHAKE_TIMEOUT_S   30
#define MAX_UPDATE_RECTS      128 /* more dirty rectangles than this: send their bounding box */

enum { AUTH_NONE = 1, AUTH_VNC = 2 };
enum { SHARE_ALLOW_EXCLUSIVE, SHARE_FORCE_SHARED, SHARE_IGNORE };
enum { CS_VERSION, CS_SECTYPE, CS_AUTH, CS_INIT, CS_NORMAL, CS_CLOSING };

typedef struct Copy {
    int sx, sy, dx, dy, w, h;
} Copy;

typedef struct VncServer VncServer;

typedef struct VncClient {
    VncServer *vs;
    struct VncClient *next;
    int fd;
    guint in_watch, out_watch, timeout_src, close_src;
    char *host, *service;
    const char *family;
    int state, minor;
    GByteArray *in, *out;
    uint8_t challenge[16];
    VncEncoder enc;
    int pref_enc;
    bool has_copyrect, has_desktop_size, has_ext_desktop, has_cursor, has_ext_key, has_ptr_change,
        has_led;
    bool announce_ext_desktop, announce_ext_key, cursor_pending, reply_set_desktop;
    int sent_absolute; /* -1: not told yet */
    int sent_leds;     /* -1: not told yet */
    pixman_region32_t dirty;
    Copy copies[MAX_COPIES];
    int n_copies;
    bool update_requested, resize_pending;
    uint32_t buttons;
    int last_x, last_y;
    bool initialized; /* VNC_INITIALIZED sent */
    bool quiet;       /* closed at exit: no event */
    /* websocket (RFC 6455): the socket carries frames; `wire` is what goes on it */
    bool ws, ws_open;
    GByteArray *ws_in, *wire;
} VncClient;

struct VncServer {
    char *id;
    char *arg; /* as given, for error messages */
    int lfd[MAX_LISTEN];
    guint lwatch[MAX_LISTEN];
    int n_listen;
    bool lws[MAX_LISTEN]; /* a websocket listener */
    char *ws_host, *ws_service;
    const char *ws_family;
    char *unix_path;
    char *host, *service;
    const char *family;
    bool none; /* -vnc none: no listener */
    int auth;
    char *password;
    int64_t expires; /* CLOCK_REALTIME seconds; 0: never */
    int share;
    int max_clients;
    char *display_id;
    int head;
    VncClient *clients;
    int n_clients;
    DisplayListener dl;
    bool dl_registered;
    pixman_image_t *fb;
    /* hardware cursor */
    int cur_w, cur_h, cur_hx, cur_hy;
    uint32_t *cur_pixels;
    InputNotifier note;
    volatile int mode_pending;
    char *name;
    int handshake_timeout;
    /* keys: the layout (-k, else en-us) and QEMU's keyboard state (QKbdState) */
    KbdLayout *layout;
    bool layout_given; /* -k: extended key events go through the layout too */
    bool lock_key_sync;
    int key_delay_ms;
    uint8_t keys_down[(Q_KEY_CODE__MAX + 7) / 8];
    bool capslock, numlock;
};

static char *keyboard_layout; /* -k */

void vnc_set_keyboard_layout(const char *lang)
{
    g_free(keyboard_layout);
    keyboard_layout = g_strdup(lang);
}

static VncServer *server;

/* The strings a server owns, and the server. */
static void vnc_server_free(VncServer *vs)
{
    keymap_free(vs->layout);
    g_free(vs->ws_host);
    g_free(vs->ws_service);
    g_free(vs->host);
    g_free(vs->service);
    g_free(vs->unix_path);
    g_free(vs->display_id);
    g_free(vs->name);
    g_free(vs->id);
    g_free(vs->arg);
    g_free(vs);
}

/* ---- options ----------------------------------------------------------------------------- */

static const char *const vnc_keys[] = {
    "vnc",
    "to",
    "share",
    "password",
    "connections",
    "display",
    "head",
    "ipv4",
    "ipv6",
    "lossy",
    "non-adaptive",
    "key-delay-ms",
    "lock-key-sync",
    "power-control",
    "websocket",
    "id",
    "reverse",
    "tls-creds",
    "tls-authz",
    "sasl",
    "sasl-authz",
    "acl",
    "x509",
    "x509verify",
    "tls",
    "audiodev",
    "password-secret",
    NULL,
};

/* Keys QEMU has that Vireo does not implement yet. */
static const char *const unsupported_keys[] = {
    "reverse", "tls-creds",  "tls-authz", "sasl",     "sasl-authz",      "acl",
    "x509",    "x509verify", "tls",       "audiodev", "password-secret", NULL,
};

typedef struct VncOpts {
    bool none, unix_sock;
    char *path, *host;
    int port, to_port;
    int share;
    bool password;
    int connections;
    char *display;
    int head;
    char *ws_host;
    int ws_port; /* 0: none */
    bool lock_key_sync;
    int key_delay_ms;
} VncOpts;

static void vnc_opts_free(VncOpts *o)
{
    g_free(o->path);
    g_free(o->host);
    g_free(o->display);
    g_free(o->ws_host);
}

static bool parse_vnc(const char *arg, VncOpts *o, char **errp)
{
    memset(o, 0, sizeof(*o));
    o->connections = 32;
    char *perr = NULL;
    QOpts *q = qopts_parse("vnc", arg, NULL, "vnc", QOPTS_LEGACY, &perr);
    if (!q) {
        *errp = perr;
        return false;
    }
    bool ok = false;
    const char *unknown = qopts_unknown_key(q, vnc_keys);
    if (unknown) {
        *errp = g_strdup_printf("Invalid parameter '%s'", unknown);
        goto out;
    }
    for (const char *const *k = unsupported_keys; *k; k++) {
        if (qopts_has(q, *k)) {
            *errp = g_strdup_printf("vnc option '%s' is not supported by Vireo yet", *k);
            goto out;
        }
    }
    const char *addr = qopts_get(q, "vnc");
    if (!addr) {
        *errp = g_strdup("no vnc port specified");
        goto out;
    }
    if (!strcmp(addr, "none")) {
        o->none = true;
    } else if (g_str_has_prefix(addr, "unix:")) {
        o->unix_sock = true;
        o->path = g_strdup(addr + 5);
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon) {
            *errp = g_strdup("no vnc port specified");
            goto out;
        }
        const char *h = addr;
        size_t hl = (size_t)(colon - addr);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++, hl -= 2;
        }
        o->host = g_strndup(h, hl);
        char *end;
        errno = 0;
        long n = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || errno) {
            *errp = g_strdup_printf("can't convert to a number: %s", colon + 1);
            goto out;
        }
        if (n < 0 || n + VNC_PORT_BASE > 65535) {
            *errp = g_strdup_printf("port %s out of range", colon + 1);
            goto out;
        }
        o->port = (int)n + VNC_PORT_BASE;
        o->to_port = o->port;
        if (qopts_has(q, "to")) {
            const char *t = qopts_get(q, "to");
            long tn = strtol(t, &end, 10);
            if (!*t || *end) {
                *errp = g_strdup("Parameter 'to' expects a number");
                goto out;
            }
            if (tn + VNC_PORT_BASE > 65535 || tn < n) {
                *errp = g_strdup_printf("to port %s out of range", t);
                goto out;
            }
            o->to_port = (int)tn + VNC_PORT_BASE;
        }
    }
    const char *share = qopts_get(q, "share");
    if (!share || !strcmp(share, "allow-exclusive")) {
        o->share = SHARE_ALLOW_EXCLUSIVE;
    } else if (!strcmp(share, "force-shared")) {
        o->share = SHARE_FORCE_SHARED;
    } else if (!strcmp(share, "ignore")) {
        o->share = SHARE_IGNORE;
    } else {
        *errp = g_strdup("unknown vnc share= option");
        goto out;
    }
    if (!qopts_get_bool(q, "password", false, &o->password, errp)) {
        goto out;
    }
    uint64_t num;
    if (!qopts_get_number(q, "connections", 32, &num, errp)) {
        goto out;
    }
    o->connections = num > 65535 ? 65535 : (int)num;
    if (!qopts_get_number(q, "head", 0, &num, errp)) {
        goto out;
    }
    o->head = (int)num;
    const char *ws = qopts_get(q, "websocket");
    if (ws) {
        /* websocket=PORT or websocket=HOST:PORT */
        const char *wc = strrchr(ws, ':');
        const char *wp = wc ? wc + 1 : ws;
        char *end;
        long wn = strtol(wp, &end, 10);
        if (!*wp || *end || wn <= 0 || wn > 65535) {
            *errp = g_strdup_printf("can't convert to a number: %s", wp);
            goto out;
        }
        o->ws_port = (int)wn;
        o->ws_host = wc ? g_strndup(ws, (size_t)(wc - ws)) : g_strdup(o->host ? o->host : "");
    }
    if (qopts_get(q, "display")) {
        o->display = g_strdup(qopts_get(q, "display"));
    }
    bool b;
    static const char *const bools[] = {"ipv4",          "ipv6",          "lossy", "non-adaptive",
                                        "lock-key-sync", "power-control", NULL};
    for (const char *const *k = bools; *k; k++) {
        if (!qopts_get_bool(q, *k, !strcmp(*k, "lock-key-sync"), &b, errp)) {
            goto out;
        }
        if (!strcmp(*k, "lock-key-sync")) {
            o->lock_key_sync = b;
        }
    }
    o->key_delay_ms = 10;
    if (qopts_get(q, "key-delay-ms")) {
        o->key_delay_ms = atoi(qopts_get(q, "key-delay-ms"));
    }
    ok = true;
out:
    qopts_free(q);
    if (!ok) {
        vnc_opts_free(o);
    }
    return ok;
}

bool vnc_check_opts(const char *arg, char **errp)
{
    VncOpts o;
    if (!parse_vnc(arg, &o, errp)) {
        return false;
    }
    vnc_opts_free(&o);
    return true;
}

/* ---- output ------------------------------------------------------------------------------ */

static void client_close(VncClient *c, const char *why);

static gboolean on_writable(gint fd, GIOCondition cond, gpointer opaque);

static gboolean close_idle(gpointer opaque)
{
    VncClient *c = opaque;
    c->close_src = 0;
    client_close(c, NULL);
    return G_SOURCE_REMOVE;
}

/* RFB bytes into one binary websocket frame (server frames are not masked). */
static void ws_frame(VncClient *c)
{
    if (!c->ws || !c->ws_open || !c->out->len) {
        return;
    }
    size_t n = c->out->len;
    uint8_t h[10] = {0x82};
    int hl;
    if (n < 126) {
        h[1] = (uint8_t)n, hl = 2;
    } else if (n < 65536) {
        h[1] = 126, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++) {
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        }
        hl = 10;
    }
    g_byte_array_append(c->wire, h, (guint)hl);
    g_byte_array_append(c->wire, c->out->data, (guint)n);
    g_byte_array_set_size(c->out, 0);
}

static void flush_out(VncClient *c)
{
    ws_frame(c);
    GByteArray *w = c->wire;
    while (w->len) {
        ssize_t n = send(c->fd, w->data, w->len, MSG_NOSIGNAL);
        if (n > 0) {
            g_byte_array_remove_range(w, 0, (guint)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->out_watch) {
                c->out_watch = g_unix_fd_add(c->fd, G_IO_OUT, on_writable, c);
            }
            return;
        }
        g_byte_array_set_size(w, 0);
        c->state = CS_CLOSING;
        break;
    }
    if (c->out_watch && !w->len) {
        g_source_remove(c->out_watch);
        c->out_watch = 0;
    }
    if (c->state == CS_CLOSING && !w->len && !c->close_src) {
        /* closed from the main loop: callers up the stack still use c */
        c->close_src = g_idle_add(close_idle, c);
    }
}

/* Output beyond which no new update is produced for this client. */
static size_t out_limit(VncServer *vs)
{
    size_t fb = (size_t)pixman_image_get_width(vs->fb) * pixman_image_get_height(vs->fb) * 4;
    return fb / 2 + 65536;
}

/* ---- events and info --------------------------------------------------------------------- */

static QJ *server_info(VncServer *vs, bool ws, bool with_auth)
{
    QJ *s = qj_object();
    qj_set_str(s, "host", (ws ? vs->ws_host : vs->host) ? (ws ? vs->ws_host : vs->host) : "");
    qj_set_str(s, "service",
               (ws ? vs->ws_service : vs->service) ? (ws ? vs->ws_service : vs->service) : "");
    const char *fam = ws ? vs->ws_family : vs->family;
    qj_set_str(s, "family", fam ? fam : "ipv4");
    qj_set_bool(s, "websocket", ws);
    if (with_auth) {
        qj_set_str(s, "auth", vs->auth == AUTH_VNC ? "vnc" : "none");
    }
    return s;
}

static QJ *server_basic(VncServer *vs, bool with_auth)
{
    return server_info(vs, false, with_auth);
}

static QJ *client_basic(VncClient *c)
{
    QJ *o = qj_object();
    qj_set_str(o, "host", c->host);
    qj_set_str(o, "service", c->service);
    qj_set_str(o, "family", c->family);
    qj_set_bool(o, "websocket", c->ws);
    return o;
}

static void emit(VncClient *c, const char *event)
{
    QJ *d = qj_object();
    /* QEMU names the main listener here, also for a websocket client */
    qj_set(d, "server", server_basic(c->vs, true));
    qj_set(d, "client", client_basic(c));
    monitor_event(event, d);
}

/* ---- updates ----------------------------------------------------------------------------- */

static int fb_w(VncServer *vs)
{
    return pixman_image_get_width(vs->fb);
}

static int fb_h(VncServer *vs)
{
    return pixman_image_get_height(vs->fb);
}

static void put_ext_desktop(VncClient *c, GByteArray *b, int reason, int status)
{
    VncServer *vs = c->vs;
    vnc_put_rect_header(b, reason, status, fb_w(vs), fb_h(vs), ENC_EXT_DESKTOPSIZE);
    vnc_put_u8(b, 1); /* one screen */
    vnc_put_u8(b, 0), vnc_put_u8(b, 0), vnc_put_u8(b, 0);
    vnc_put_u32(b, 0); /* id */
    vnc_put_u16(b, 0), vnc_put_u16(b, 0);
    vnc_put_u16(b, (uint16_t)fb_w(vs)), vnc_put_u16(b, (uint16_t)fb_h(vs));
    vnc_put_u32(b, 0); /* flags */
}

static void put_cursor(VncClient *c, GByteArray *b)
{
    VncServer *vs = c->vs;
    int w = vs->cur_pixels ? vs->cur_w : 0, h = vs->cur_pixels ? vs->cur_h : 0;
    vnc_put_rect_header(b, vs->cur_hx, vs->cur_hy, w, h, ENC_CURSOR);
    for (int i = 0; i < w * h; i++) {
        vnc_put_pixel(&c->enc, b, vs->cur_pixels[i]);
    }
    int row = (w + 7) / 8;
    for (int y = 0; y < h; y++) {
        for (int bx = 0; bx < row; bx++) {
            uint8_t m = 0;
            for (int bit = 0; bit < 8 && bx * 8 + bit < w; bit++) {
                if (vs->cur_pixels[y * w + bx * 8 + bit] >> 24) {
                    m |= 0x80 >> bit;
                }
            }
            vnc_put_u8(b, m);
        }
    }
}

static void try_update(VncClient *c)
{
    VncServer *vs = c->vs;
    if (c->state != CS_NORMAL || !c->update_requested ||
        c->wire->len + (c->ws ? c->out->len : 0) > out_limit(vs)) {
        return;
    }
    bool absolute = vs->dl_registered && input_is_absolute();
    unsigned leds = input_get_leds();
    bool tell_abs = c->has_ptr_change && c->sent_absolute != (int)absolute;
    bool tell_leds = c->has_led && c->sent_leds != (int)leds;
    bool any = c->resize_pending || c->n_copies || pixman_region32_not_empty(&c->dirty) ||
               c->announce_ext_desktop || c->announce_ext_key || c->cursor_pending ||
               c->reply_set_desktop || tell_abs || tell_leds;
    if (!any) {
        return;
    }
    GByteArray *b = c->out;
    size_t start = b->len;
    vnc_put_u8(b, 0);
    vnc_put_u8(b, 0);
    size_t count_pos = b->len;
    vnc_put_u16(b, 0);
    int n = 0;
    if (c->resize_pending) {
        if (c->has_ext_desktop) {
            put_ext_desktop(c, b, 0, 0);
            n++;
        } else if (c->has_desktop_size) {
            vnc_put_rect_header(b, 0, 0, fb_w(vs), fb_h(vs), ENC_DESKTOPSIZE);
            n++;
        }
        c->resize_pending = false;
        c->announce_ext_desktop = false;
    }
    if (c->announce_ext_desktop) {
        put_ext_desktop(c, b, 0, 0);
        c->announce_ext_desktop = false;
        n++;
    }
    if (c->reply_set_desktop) {
        /* a client's SetDesktopSize: the guest decides its own size (prohibited, 1) */
        put_ext_desktop(c, b, 1, 1);
        c->reply_set_desktop = false;
        n++;
    }
    if (tell_abs) {
        vnc_put_rect_header(b, absolute, 0, fb_w(vs), fb_h(vs), ENC_POINTER_TYPE_CHANGE);
        c->sent_absolute = absolute;
        n++;
    }
    if (c->announce_ext_key) {
        vnc_put_rect_header(b, 0, 0, fb_w(vs), fb_h(vs), ENC_QEMU_EXT_KEY);
        c->announce_ext_key = false;
        n++;
    }
    if (tell_leds) {
        vnc_put_rect_header(b, 0, 0, 1, 1, ENC_LED_STATE);
        vnc_put_u8(b, (uint8_t)leds);
        c->sent_leds = (int)leds;
        n++;
    }
    if (c->cursor_pending && c->has_cursor) {
        put_cursor(c, b);
        n++;
    }
    c->cursor_pending = false;
    for (int i = 0; i < c->n_copies; i++) {
        Copy *cp = &c->copies[i];
        vnc_put_rect_header(b, cp->dx, cp->dy, cp->w, cp->h, ENC_COPYRECT);
        vnc_put_u16(b, (uint16_t)cp->sx);
        vnc_put_u16(b, (uint16_t)cp->sy);
        n++;
    }
    c->n_copies = 0;
    int nr;
    pixman_box32_t *r = pixman_region32_rectangles(&c->dirty, &nr);
    if (nr > MAX_UPDATE_RECTS) {
        pixman_box32_t *e = pixman_region32_extents(&c->dirty);
        n += vnc_encode_rect(&c->enc, b, vs->fb, e->x1, e->y1, e->x2 - e->x1, e->y2 - e->y1,
                             c->pref_enc);
    } else {
        for (int i = 0; i < nr; i++) {
            n += vnc_encode_rect(&c->enc, b, vs->fb, r[i].x1, r[i].y1, r[i].x2 - r[i].x1,
                                 r[i].y2 - r[i].y1, c->pref_enc);
        }
    }
    pixman_region32_clear(&c->dirty);
    if (n == 0) {
        g_byte_array_set_size(b, (guint)start);
        return;
    }
    b->data[count_pos] = (uint8_t)(n >> 8);
    b->data[count_pos + 1] = (uint8_t)n;
    c->update_requested = false;
    flush_out(c);
}

static void update_all(VncServer *vs)
{
    for (VncClient *c = vs->clients, *next; c; c = next) {
        next = c->next;
        try_update(c);
    }
}

/* ---- display listener (lock held except refresh) ----------------------------------------- */

static void mark_all_dirty(VncClient *c)
{
    pixman_region32_fini(&c->dirty);
    pixman_region32_init_rect(&c->dirty, 0, 0, (unsigned)fb_w(c->vs), (unsigned)fb_h(c->vs));
    c->n_copies = 0;
}

static void dl_switch(DisplayListener *dl, pixman_image_t *surface)
{
    VncServer *vs = container_of(dl, VncServer, dl);
    int w = pixman_image_get_width(surface), h = pixman_image_get_height(surface);
    bool resized = w != fb_w(vs) || h != fb_h(vs);
    if (resized) {
        pixman_image_unref(vs->fb);
        vs->fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
    }
    pixman_image_composite(PIXMAN_OP_SRC, surface, NULL, vs->fb, 0, 0, 0, 0, 0, 0, w, h);
    for (VncClient *c = vs->clients; c; c = c->next) {
        if (resized) {
            c->resize_pending = true;
        }
        mark_all_dirty(c);
    }
}

static void dl_update(DisplayListener *dl, int x, int y, int w, int h)
{
    VncServer *vs = container_of(dl, VncServer, dl);
    if (!dl->con) {
        return;
    }
    pixman_image_t *s = console_surface(dl->con);
    if (pixman_image_get_width(s) != fb_w(vs) || pixman_image_get_height(s) != fb_h(vs)) {
        return; /* a switch is on its way */
    }
    pixman_image_composite(PIXMAN_OP_SRC, s, NULL, vs->fb, x, y, 0, 0, x, y, w, h);
    for (VncClient *c = vs->clients; c; c = c->next) {
        pixman_region32_union_rect(&c->dirty, &c->dirty, x, y, (unsigned)w, (unsigned)h);
    }
}

static void dl_copy(DisplayListener *dl, int sx, int sy, int dx, int dy, int w, int h)
{
    VncServer *vs = container_of(dl, VncServer, dl);
    if (sx < 0 || sy < 0 || dx < 0 || dy < 0 || w <= 0 || h <= 0 || sx + w > fb_w(vs) ||
        dx + w > fb_w(vs) || sy + h > fb_h(vs) || dy + h > fb_h(vs)) {
        return;
    }
    uint32_t *d = pixman_image_get_data(vs->fb);
    int stride = pixman_image_get_stride(vs->fb) / 4;
    if (dy <= sy) {
        for (int j = 0; j < h; j++) {
            memmove(d + (size_t)(dy + j) * stride + dx, d + (size_t)(sy + j) * stride + sx,
                    (size_t)w * 4);
        }
    } else {
        for (int j = h - 1; j >= 0; j--) {
            memmove(d + (size_t)(dy + j) * stride + dx, d + (size_t)(sy + j) * stride + sx,
                    (size_t)w * 4);
        }
    }
    for (VncClient *c = vs->clients; c; c = c->next) {
        pixman_box32_t src = {sx, sy, sx + w, sy + h};
        if (c->has_copyrect && !c->resize_pending && c->n_copies < MAX_COPIES &&
            pixman_region32_contains_rectangle(&c->dirty, &src) == PIXMAN_REGION_OUT) {
            c->copies[c->n_copies++] = (Copy){sx, sy, dx, dy, w, h};
        } else {
            pixman_region32_union_rect(&c->dirty, &c->dirty, dx, dy, (unsigned)w, (unsigned)h);
        }
    }
}

static void dl_cursor(DisplayListener *dl, int w, int h, int hx, int hy, const uint32_t *pixels)
{
    VncServer *vs = container_of(dl, VncServer, dl);
    g_free(vs->cur_pixels);
    vs->cur_pixels = pixels && w > 0 && h > 0 ? g_memdup2(pixels, (gsize)w * h * 4) : NULL;
    vs->cur_w = w, vs->cur_h = h, vs->cur_hx = hx, vs->cur_hy = hy;
    for (VncClient *c = vs->clients; c; c = c->next) {
        c->cursor_pending = true;
    }
}

static void dl_refresh(DisplayListener *dl)
{
    update_all(container_of(dl, VncServer, dl));
}

static const DisplayListenerOps vnc_dl_ops = {
    .gfx_switch = dl_switch,
    .gfx_update = dl_update,
    .gfx_copy = dl_copy,
    .cursor_define = dl_cursor,
    .refresh = dl_refresh,
};

/* Pointer mode or LEDs changed (lock held, any thread): tell the clients from the main loop. */
static gboolean mode_idle(gpointer opaque)
{
    VncServer *vs = opaque;
    g_atomic_int_set(&vs->mode_pending, 0);
    update_all(vs);
    return G_SOURCE_REMOVE;
}

static void schedule_mode_idle(VncServer *vs)
{
    if (g_atomic_int_compare_and_exchange(&vs->mode_pending, 0, 1)) {
        g_idle_add(mode_idle, vs);
    }
}

static void note_leds(InputNotifier *n, unsigned leds)
{
    (void)leds;
    schedule_mode_idle(container_of(n, VncServer, note));
}

static void note_mode(InputNotifier *n, bool absolute)
{
    (void)absolute;
    schedule_mode_idle(container_of(n, VncServer, note));
}

/* ---- client messages ---------------------------------------------------------------------- */

static void log_client(VncClient *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void log_client(VncClient *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!strcmp(c->family, "unix")) {
        error_report("vnc: unix client: %s", m);
    } else {
        error_report("vnc: client %s:%s: %s", c->host, c->service, m);
    }
    g_free(m);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void send_server_init(VncClient *c)
{
    VncServer *vs = c->vs;
    GByteArray *b = c->out;
    vnc_put_u16(b, (uint16_t)fb_w(vs));
    vnc_put_u16(b, (uint16_t)fb_h(vs));
    VncPixelFormat pf;
    vnc_native_format(&pf);
    uint8_t pfb[16] = {pf.bpp, pf.depth, pf.big_endian, pf.true_colour, 0,         255, 0, 255,
                       0,      255,      pf.rshift,     pf.gshift,      pf.bshift, 0,   0, 0};
    g_byte_array_append(b, pfb, 16);
    vnc_put_u32(b, (uint32_t)strlen(vs->name));
    g_byte_array_append(b, (const uint8_t *)vs->name, (guint)strlen(vs->name));
}

static void auth_failed(VncClient *c, const char *why)
{
    vnc_put_u32(c->out, 1);
    if (c->minor >= 8) {
        /* QEMU sends the terminating NUL too */
        static const char msg[] = "Authentication failed";
        vnc_put_u32(c->out, sizeof(msg));
        g_byte_array_append(c->out, (const uint8_t *)msg, sizeof(msg));
    }
    log_client(c, "%s", why);
    c->state = CS_CLOSING;
    flush_out(c);
}

static void start_auth(VncClient *c)
{
    for (int i = 0; i < 16; i++) {
        c->challenge[i] = (uint8_t)g_random_int();
    }
    g_byte_array_append(c->out, c->challenge, 16);
    c->state = CS_AUTH;
}

static void set_encodings(VncClient *c, const uint8_t *p, int n)
{
    c->pref_enc = ENC_RAW;
    bool chosen = false;
    c->has_copyrect = c->has_desktop_size = c->has_ext_desktop = c->has_cursor = false;
    c->has_ext_key = c->has_ptr_change = c->has_led = false;
    for (int i = 0; i < n; i++) {
        int32_t e = (int32_t)rd32(p + 4 * i);
        switch (e) {
        case ENC_RAW:
        case ENC_HEXTILE:
        case ENC_ZLIB:
        case ENC_TIGHT:
        case ENC_ZRLE:
            if (!chosen) {
                c->pref_enc = e;
                chosen = true;
            }
            break;
        case ENC_COPYRECT:
            c->has_copyrect = true;
            break;
        case ENC_DESKTOPSIZE:
            c->has_desktop_size = true;
            break;
        case ENC_EXT_DESKTOPSIZE:
            if (!c->has_ext_desktop) {
                c->announce_ext_desktop = true;
            }
            c->has_ext_desktop = true;
            break;
        case ENC_CURSOR:
            c->has_cursor = true;
            c->cursor_pending = c->vs->cur_pixels != NULL;
            break;
        case ENC_QEMU_EXT_KEY:
            c->has_ext_key = true;
            c->announce_ext_key = true;
            break;
        case ENC_POINTER_TYPE_CHANGE:
            c->has_ptr_change = true;
            c->sent_absolute = -1;
            break;
        case ENC_LED_STATE:
            c->has_led = true;
            c->sent_leds = -1;
            break;
        default:
            if (e >= -9 && e <= 0 && e != ENC_RAW) {
                /* tight quality levels (-32..-23) and compress levels (-256..-247) are
                 * hints; zlib level from the compress level */
            }
            if (e >= -256 && e <= -247) {
                c->enc.zlib_level = e + 256;
            }
            break;
        }
    }
}

static void pointer_event(VncClient *c, uint8_t mask, int x, int y)
{
    VncServer *vs = c->vs;
    mask &= 0x1f;
    if (input_is_absolute()) {
        /* QEMU scales over [0, width], not [0, width - 1] */
        input_send_abs(INPUT_AXIS_X, x, fb_w(vs) + 1);
        input_send_abs(INPUT_AXIS_Y, y, fb_h(vs) + 1);
    } else if (c->has_ptr_change) {
        input_send_rel(INPUT_AXIS_X, x - 0x7fff);
        input_send_rel(INPUT_AXIS_Y, y - 0x7fff);
    } else {
        if (c->last_x >= 0) {
            input_send_rel(INPUT_AXIS_X, x - c->last_x);
            input_send_rel(INPUT_AXIS_Y, y - c->last_y);
        }
        c->last_x = x, c->last_y = y;
    }
    input_update_buttons(c->buttons, mask);
    c->buttons = mask;
    input_sync();
}

static void disconnect_others(VncClient *keep)
{
    for (VncClient *o = keep->vs->clients, *next; o; o = next) {
        next = o->next;
        if (o != keep && o->state != CS_CLOSING) {
            client_close(o, NULL);
        }
    }
}

/*
 * Handle what is buffered; returns the bytes used by one message, 0 when more must come,
 * -1 when the client was closed.
 */
/* ---- keys (QEMU's VNC key handling and QKbdState) --------------------------------------- */

static bool kbd_down(const VncServer *vs, QKeyCode q)
{
    return (unsigned)q < Q_KEY_CODE__MAX && (vs->keys_down[q / 8] >> (q % 8)) & 1;
}

static bool kbd_qnum_down(int qnum, void *opaque)
{
    return kbd_down(opaque, qnum_to_qcode(qnum));
}

static bool kbd_graphic(void)
{
    vireo_lock();
    VConsole *con = console_active();
    bool g = con && console_is_graphic(con);
    vireo_unlock();
    return g;
}

/* QEMU's qkbd_state_key_event: a release of a key not down is dropped; the lock keys toggle
 * their state on press; the key goes to the guest's keyboard queue with the server's delay
 * after it. */
static void kbd_key_event(VncServer *vs, QKeyCode q, bool down)
{
    if ((unsigned)q >= Q_KEY_CODE__MAX || (!down && !kbd_down(vs, q))) {
        return;
    }
    if (down) {
        vs->keys_down[q / 8] |= (uint8_t)(1u << (q % 8));
    } else {
        vs->keys_down[q / 8] &= (uint8_t) ~(1u << (q % 8));
    }
    if (down && q == Q_KEY_CODE_CAPS_LOCK) {
        vs->capslock = !vs->capslock;
    }
    if (down && q == Q_KEY_CODE_NUM_LOCK) {
        vs->numlock = !vs->numlock;
    }
    input_key_queued(q, down);
    if (vs->key_delay_ms) {
        input_key_delay((uint32_t)vs->key_delay_ms);
    }
}

static void kbd_tap(VncServer *vs, QKeyCode q)
{
    kbd_key_event(vs, q, true);
    kbd_key_event(vs, q, false);
}

/* QEMU's do_key_event: Ctrl-Alt-1..9 selects a console (when the server follows the active
 * one); clients without the LED-state extension get Num Lock and Caps Lock pressed for them
 * when the guest's state cannot make the symbol they typed (lock-key-sync). */
static void do_key_event(VncClient *c, bool down, QKeyCode q, int keycode, uint32_t sym)
{
    VncServer *vs = c->vs;
    bool shift = kbd_down(vs, Q_KEY_CODE_SHIFT) || kbd_down(vs, Q_KEY_CODE_SHIFT_R);
    if (q >= Q_KEY_CODE_1 && q <= Q_KEY_CODE_9 && !vs->display_id && down &&
        (kbd_down(vs, Q_KEY_CODE_CTRL) || kbd_down(vs, Q_KEY_CODE_CTRL_R)) &&
        kbd_down(vs, Q_KEY_CODE_ALT)) {
        console_select(q - Q_KEY_CODE_1); /* takes the lock */
        return;
    }
    if (down && vs->lock_key_sync && !c->has_led && keymap_is_keypad(vs->layout, keycode)) {
        bool want = keymap_is_numlock(vs->layout, sym & 0xffff);
        if (want != vs->numlock) {
            kbd_tap(vs, Q_KEY_CODE_NUM_LOCK);
        }
    }
    if (down && vs->lock_key_sync && !c->has_led &&
        ((sym >= 'A' && sym <= 'Z') || (sym >= 'a' && sym <= 'z'))) {
        bool upper = sym >= 'A' && sym <= 'Z';
        if (vs->capslock ? upper == shift : upper != shift) {
            kbd_tap(vs, Q_KEY_CODE_CAPS_LOCK);
        }
    }
    kbd_key_event(vs, q, down);
}

/* A KeyEvent's keysym through the layout (QEMU's key_event). */
static void key_event(VncClient *c, bool down, uint32_t sym)
{
    VncServer *vs = c->vs;
    if (!kbd_graphic()) {
        /* no graphic console: keys go to the guest as keysyms of the US layout */
        input_send_key(vnc_keysym_to_qcode(sym), down);
        return;
    }
    uint32_t lsym = sym >= 'A' && sym <= 'Z' ? sym - 'A' + 'a' : sym;
    unsigned mods = 0;
    if (kbd_down(vs, Q_KEY_CODE_SHIFT) || kbd_down(vs, Q_KEY_CODE_SHIFT_R)) {
        mods |= SCANCODE_SHIFT;
    }
    if (kbd_down(vs, Q_KEY_CODE_ALT_R)) {
        mods |= SCANCODE_ALTGR;
    }
    if (kbd_down(vs, Q_KEY_CODE_CTRL) || kbd_down(vs, Q_KEY_CODE_CTRL_R)) {
        mods |= SCANCODE_CTRL;
    }
    int keycode = keymap_keysym_to_code(vs->layout, lsym & 0xffff, down, mods, kbd_qnum_down, vs) &
                  SCANCODE_KEYMASK;
    do_key_event(c, down, keycode ? qnum_to_qcode(keycode) : Q_KEY_CODE_UNMAPPED, keycode, sym);
}

static int handle_one(VncClient *c)
{
    VncServer *vs = c->vs;
    const uint8_t *p = c->in->data;
    size_t len = c->in->len;
    switch (c->state) {
    case CS_VERSION: {
        if (len < 12) {
            return 0;
        }
        int major, minor;
        char v[13];
        memcpy(v, p, 12);
        v[12] = 0;
        if (sscanf(v, "RFB %03d.%03d\n", &major, &minor) != 2 || major != 3 || minor < 3) {
            log_client(c, "unsupported protocol version '%.11s'", v);
            client_close(c, NULL);
            return -1;
        }
        c->minor = minor >= 8 ? 8 : minor == 7 ? 7 : 3;
        if (c->minor == 3) {
            vnc_put_u32(c->out, (uint32_t)vs->auth);
            if (vs->auth == AUTH_VNC) {
                start_auth(c);
            } else {
                c->state = CS_INIT;
            }
        } else {
            vnc_put_u8(c->out, 1);
            vnc_put_u8(c->out, (uint8_t)vs->auth);
            c->state = CS_SECTYPE;
        }
        flush_out(c);
        return 12;
    }
    case CS_SECTYPE:
        if (len < 1) {
            return 0;
        }
        if (p[0] != vs->auth) {
            auth_failed(c, "unsupported security type");
            return -1;
        }
        if (vs->auth == AUTH_VNC) {
            start_auth(c);
        } else {
            if (c->minor >= 8) {
                vnc_put_u32(c->out, 0);
            }
            c->state = CS_INIT;
        }
        flush_out(c);
        return 1;
    case CS_AUTH: {
        if (len < 16) {
            return 0;
        }
        uint8_t want[16];
        bool expired = vs->expires && time(NULL) >= vs->expires;
        if (!vs->password || !*vs->password) {
            auth_failed(c, "authentication failed: no password set");
            return -1;
        }
        if (expired) {
            auth_failed(c, "authentication failed: password expired");
            return -1;
        }
        vnc_auth_response(vs->password, c->challenge, want);
        if (memcmp(want, p, 16) != 0) {
            auth_failed(c, "authentication failed: wrong password");
            return -1;
        }
        vnc_put_u32(c->out, 0);
        c->state = CS_INIT;
        flush_out(c);
        return 16;
    }
    case CS_INIT:
        if (len < 1) {
            return 0;
        }
        if (vs->share == SHARE_ALLOW_EXCLUSIVE && !p[0]) {
            disconnect_others(c);
        }
        send_server_init(c);
        c->state = CS_NORMAL;
        if (c->timeout_src) {
            g_source_remove(c->timeout_src);
            c->timeout_src = 0;
        }
        c->initialized = true;
        emit(c, "VNC_INITIALIZED");
        flush_out(c);
        return 1;
    case CS_NORMAL:
        break;
    default:
        return (int)len; /* closing: drop input */
    }

    switch (p[0]) {
    case 0: { /* SetPixelFormat */
        if (len < 20) {
            return 0;
        }
        const uint8_t *f = p + 4;
        VncPixelFormat pf = {f[0],        f[1],        f[2],  f[3],  rd16(f + 4),
                             rd16(f + 6), rd16(f + 8), f[10], f[11], f[12]};
        if ((pf.bpp != 8 && pf.bpp != 16 && pf.bpp != 32) || !pf.true_colour ||
            pf.rshift >= pf.bpp || pf.gshift >= pf.bpp || pf.bshift >= pf.bpp) {
            log_client(c, "unsupported pixel format (%d bpp, true colour %d)", pf.bpp,
                       pf.true_colour);
            client_close(c, NULL);
            return -1;
        }
        vnc_encoder_set_format(&c->enc, &pf);
        mark_all_dirty(c);
        return 20;
    }
    case 2: { /* SetEncodings */
        if (len < 4) {
            return 0;
        }
        int n = rd16(p + 2);
        if (len < 4 + 4 * (size_t)n) {
            return 0;
        }
        set_encodings(c, p + 4, n);
        return 4 + 4 * n;
    }
    case 3: { /* FramebufferUpdateRequest */
        if (len < 10) {
            return 0;
        }
        int x = rd16(p + 2), y = rd16(p + 4), w = rd16(p + 6), h = rd16(p + 8);
        if (!p[1]) {
            /* clipped to the screen: a client may ask for its old size after a resize */
            pixman_region32_t r;
            pixman_region32_init_rect(&r, x, y, (unsigned)w, (unsigned)h);
            pixman_region32_intersect_rect(&r, &r, 0, 0, (unsigned)fb_w(vs), (unsigned)fb_h(vs));
            pixman_region32_union(&c->dirty, &c->dirty, &r);
            pixman_region32_fini(&r);
        }
        c->update_requested = true;
        try_update(c);
        return 10;
    }
    case 4: /* KeyEvent */
        if (len < 8) {
            return 0;
        }
        key_event(c, p[1] != 0, rd32(p + 4));
        return 8;
    case 5: /* PointerEvent */
        if (len < 6) {
            return 0;
        }
        pointer_event(c, p[1], rd16(p + 2), rd16(p + 4));
        return 6;
    case 6: { /* ClientCutText */
        if (len < 8) {
            return 0;
        }
        int32_t n = (int32_t)rd32(p + 4);
        uint32_t size = n < 0 ? (uint32_t)(-(int64_t)n) : (uint32_t)n;
        if (size > CUT_TEXT_MAX) {
            log_client(c, "client cut text of %u bytes exceeds the limit of 1 MB", size);
            client_close(c, NULL);
            return -1;
        }
        if (len < 8 + (size_t)size) {
            return 0;
        }
        return 8 + (int)size; /* the guest has no clipboard agent: dropped */
    }
    case 251: { /* SetDesktopSize */
        if (len < 8) {
            return 0;
        }
        size_t need = 8 + 16 * (size_t)p[6];
        if (len < need) {
            return 0;
        }
        if (!c->has_ext_desktop) {
            log_client(c, "SetDesktopSize without ExtendedDesktopSize");
            client_close(c, NULL);
            return -1;
        }
        c->reply_set_desktop = true;
        try_update(c);
        return (int)need;
    }
    case 255: /* QEMU client messages */
        if (len < 2) {
            return 0;
        }
        if (p[1] == 0) { /* extended key event */
            if (len < 12) {
                return 0;
            }
            uint32_t keycode = rd32(p + 8);
            bool down = rd16(p + 2) != 0;
            if (c->vs->layout_given || !kbd_graphic()) {
                key_event(c, down, rd32(p + 4)); /* QEMU: with -k, the layout decides */
                return 12;
            }
            /* the keycode is an XT scancode with 0x80 for the E0 prefix; 0xe0xx also */
            int qnum = (keycode & 0xff00) == 0xe000 ? (int)(0x80 | (keycode & 0x7f)) : (int)keycode;
            QKeyCode q = qnum_to_qcode(qnum);
            if (q == Q_KEY_CODE_UNMAPPED) {
                q = vnc_keysym_to_qcode(rd32(p + 4));
            }
            do_key_event(c, down, q, qnum, rd32(p + 4));
            return 12;
        }
        if (p[1] == 1) { /* audio: no sound device to stream from; parsed and ignored */
            if (len < 4) {
                return 0;
            }
            int op = rd16(p + 2);
            if (op == 0 || op == 1) {
                return 4;
            }
            if (op == 2) {
                return len < 10 ? 0 : 10;
            }
            log_client(c, "unknown QEMU audio message %d", op);
            client_close(c, NULL);
            return -1;
        }
        log_client(c, "unknown QEMU message %d", p[1]);
        client_close(c, NULL);
        return -1;
    default:
        log_client(c, "unknown message type %d", p[0]);
        client_close(c, NULL);
        return -1;
    }
}

/* The opening handshake (RFC 6455 4.2): the HTTP upgrade request, answered with the key's
 * SHA-1. False if the client was closed. */
static bool ws_handshake(VncClient *c)
{
    GByteArray *r = c->ws_in;
    guint end = 0;
    for (guint i = 0; i + 3 < r->len; i++) {
        if (!memcmp(r->data + i, "\r\n\r\n", 4)) {
            end = i + 4;
            break;
        }
    }
    if (!end) {
        if (r->len > 8192) {
            log_client(c, "websocket handshake too long");
            client_close(c, NULL);
            return false;
        }
        return true;
    }
    char *req = g_strndup((const char *)r->data, end);
    g_byte_array_remove_range(r, 0, end);
    char *key = NULL;
    bool upgrade = false, binary = false;
    char **lines = g_strsplit(req, "\r\n", -1);
    bool get = g_str_has_prefix(lines[0], "GET ");
    /* QEMU serves the resource "/" only */
    bool root = g_str_has_prefix(lines[0], "GET / ");
    for (char **l = lines + 1; *l; l++) {
        char *colon = strchr(*l, ':');
        if (!colon) {
            continue;
        }
        *colon = 0;
        char *v = g_strstrip(colon + 1);
        if (!g_ascii_strcasecmp(*l, "Sec-WebSocket-Key")) {
            g_free(key);
            key = g_strdup(v);
        } else if (!g_ascii_strcasecmp(*l, "Upgrade")) {
            upgrade = !g_ascii_strcasecmp(v, "websocket");
        } else if (!g_ascii_strcasecmp(*l, "Sec-WebSocket-Protocol")) {
            binary = strstr(v, "binary") != NULL;
        }
    }
    g_strfreev(lines);
    g_free(req);
    if (!get || !upgrade || !key || !root) {
        g_free(key);
        GDateTime *now = g_date_time_new_now_utc();
        char *date = g_date_time_format(now, "%a, %d %b %Y %H:%M:%S GMT");
        g_date_time_unref(now);
        char *bad =
            g_strdup_printf("HTTP/1.1 %s\r\nServer: QEMU VNC\r\nDate: %s\r\n"
                            "Connection: close\r\n\r\n",
                            get && upgrade && key ? "404 Not Found" : "400 Bad Request", date);
        g_byte_array_append(c->wire, (const uint8_t *)bad, (guint)strlen(bad));
        g_free(bad);
        g_free(date);
        log_client(c, "not a websocket upgrade request for /");
        c->state = CS_CLOSING;
        flush_out(c);
        return false; /* flush_out closes it once the answer is out */
    }
    char *cat = g_strconcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", NULL);
    GChecksum *sha = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(sha, (const guchar *)cat, (gssize)strlen(cat));
    uint8_t dig[20];
    gsize dl = sizeof(dig);
    g_checksum_get_digest(sha, dig, &dl);
    g_checksum_free(sha);
    char *accept = g_base64_encode(dig, dl);
    char *resp = g_strdup_printf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                                 accept, binary ? "Sec-WebSocket-Protocol: binary\r\n" : "");
    g_byte_array_append(c->wire, (const uint8_t *)resp, (guint)strlen(resp));
    g_free(resp), g_free(accept), g_free(cat), g_free(key);
    c->ws_open = true;
    g_byte_array_append(c->out, (const uint8_t *)"RFB 003.008\n", 12);
    flush_out(c);
    return c->state != CS_CLOSING;
}

/* Websocket frames from ws_in into the RFB input; false if the client was closed. */
static bool ws_input(VncClient *c)
{
    if (!c->ws_open) {
        if (!ws_handshake(c)) {
            return false;
        }
        if (!c->ws_open) {
            return true; /* the request is not complete yet */
        }
    }
    GByteArray *r = c->ws_in;
    while (r->len >= 2) {
        const uint8_t *p = r->data;
        int op = p[0] & 0x0f;
        bool masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (r->len < 4) {
                return true;
            }
            len = (uint64_t)p[2] << 8 | p[3], hl = 4;
        } else if (len == 127) {
            if (r->len < 10) {
                return true;
            }
            len = 0;
            for (int i = 0; i < 8; i++) {
                len = len << 8 | p[2 + i];
            }
            hl = 10;
        }
        if (!masked || len > CUT_TEXT_MAX + 65536) {
            log_client(c, masked ? "websocket frame too large" : "unmasked websocket frame");
            client_close(c, NULL);
            return false;
        }
        if (r->len < hl + 4 + len) {
            return true;
        }
        const uint8_t *mk = p + hl;
        uint8_t *pl = r->data + hl + 4;
        for (uint64_t i = 0; i < len; i++) {
            pl[i] ^= mk[i & 3];
        }
        if (op == 0 || op == 1 || op == 2) {
            g_byte_array_append(c->in, pl, (guint)len);
        } else if (op == 8) {
            client_close(c, NULL);
            return false;
        } else if (op == 9) { /* ping: pong with the same data */
            uint8_t h[2] = {0x8a, (uint8_t)MIN(len, 125)};
            g_byte_array_append(c->wire, h, 2);
            g_byte_array_append(c->wire, pl, h[1]);
        }
        g_byte_array_remove_range(r, 0, (guint)(hl + 4 + len));
    }
    return true;
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    VncClient *c = opaque;
    uint8_t buf[65536];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        c->in_watch = 0;
        if (c->state < CS_NORMAL) {
            log_client(c, "connection closed during the handshake");
        }
        client_close(c, NULL);
        return G_SOURCE_REMOVE;
    }
    if (c->ws) {
        g_byte_array_append(c->ws_in, buf, (guint)n);
        if (!ws_input(c)) {
            return G_SOURCE_REMOVE;
        }
    } else {
        g_byte_array_append(c->in, buf, (guint)n);
    }
    for (;;) {
        if (!c->in->len) {
            break;
        }
        int used = handle_one(c);
        if (used < 0) {
            return G_SOURCE_REMOVE; /* closed: the watch is gone */
        }
        if (used == 0) {
            break;
        }
        g_byte_array_remove_range(c->in, 0, (guint)used);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer opaque)
{
    VncClient *c = opaque;
    c->out_watch = 0;
    flush_out(c);
    if (c->state != CS_CLOSING) {
        try_update(c);
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_handshake_timeout(gpointer opaque)
{
    VncClient *c = opaque;
    c->timeout_src = 0;
    log_client(c, "handshake not finished in %d s", c->vs->handshake_timeout);
    client_close(c, NULL);
    return G_SOURCE_REMOVE;
}

/* Called on the main thread; frees c. */
static void client_close(VncClient *c, const char *why)
{
    VncServer *vs = c->vs;
    if (why) {
        log_client(c, "%s", why);
    }
    if (c->in_watch) {
        g_source_remove(c->in_watch);
    }
    if (c->out_watch) {
        g_source_remove(c->out_watch);
    }
    if (c->timeout_src) {
        g_source_remove(c->timeout_src);
    }
    if (c->close_src) {
        g_source_remove(c->close_src);
    }
    for (VncClient **pp = &vs->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    vs->n_clients--;
    close(c->fd);
    c->fd = -1;
    if (!c->quiet) {
        emit(c, "VNC_DISCONNECTED"); /* as QEMU: also for a client that never got in */
    }
    if (c->has_ext_key || c->buttons) {
        input_update_buttons(c->buttons, 0);
    }
    vnc_encoder_free(&c->enc);
    pixman_region32_fini(&c->dirty);
    g_byte_array_free(c->in, TRUE);
    g_byte_array_free(c->out, TRUE);
    if (c->ws) {
        g_byte_array_free(c->wire, TRUE);
        g_byte_array_free(c->ws_in, TRUE);
    }
    g_free(c->host);
    g_free(c->service);
    g_free(c);
}

static void addr_strings(const struct sockaddr_storage *sa, socklen_t len, char **host,
                         char **service, const char **family)
{
    if (sa->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        *family = "unix";
        *host = g_strdup("");
        *service = g_strdup(len > offsetof(struct sockaddr_un, sun_path) ? un->sun_path : "");
        return;
    }
    char h[NI_MAXHOST] = "", s[NI_MAXSERV] = "";
    getnameinfo((const struct sockaddr *)sa, len, h, sizeof(h), s, sizeof(s),
                NI_NUMERICHOST | NI_NUMERICSERV);
    *family = sa->ss_family == AF_INET6 ? "ipv6" : "ipv4";
    *host = g_strdup(h);
    *service = g_strdup(s);
}

static void add_client(VncServer *vs, int fd, const struct sockaddr_storage *sa, socklen_t sl,
                       bool ws);

static gboolean on_accept(gint lfd, GIOCondition cond, gpointer opaque)
{
    VncServer *vs = opaque;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    int fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        return G_SOURCE_CONTINUE;
    }
    if (vs->n_clients >= vs->max_clients) {
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    bool ws = false;
    for (int i = 0; i < vs->n_listen; i++) {
        ws |= vs->lfd[i] == lfd && vs->lws[i];
    }
    add_client(vs, fd, &sa, sl, ws);
    return G_SOURCE_CONTINUE;
}

bool vnc_add_client_fd(int fd)
{
    if (!server) {
        return false;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) < 0) {
        memset(&sa, 0, sizeof(sa));
        sa.ss_family = AF_UNIX;
        sl = sizeof(sa_family_t);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    add_client(server, fd, &sa, sl, false);
    return true;
}

static void add_client(VncServer *vs, int fd, const struct sockaddr_storage *sa, socklen_t sl,
                       bool ws)
{
    if (sa->ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    VncClient *c = g_new0(VncClient, 1);
    c->vs = vs;
    c->fd = fd;
    addr_strings(sa, sl, &c->host, &c->service, &c->family);
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    c->ws = ws;
    c->wire = ws ? g_byte_array_new() : c->out;
    c->ws_in = ws ? g_byte_array_new() : NULL;
    vnc_encoder_init(&c->enc);
    c->pref_enc = ENC_RAW;
    c->sent_absolute = c->sent_leds = -1;
    c->last_x = c->last_y = -1;
    pixman_region32_init_rect(&c->dirty, 0, 0, (unsigned)fb_w(vs), (unsigned)fb_h(vs));
    c->next = vs->clients;
    vs->clients = c;
    vs->n_clients++;
    emit(c, "VNC_CONNECTED");
    c->in_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
    c->timeout_src = g_timeout_add_seconds((guint)vs->handshake_timeout, on_handshake_timeout, c);
    if (!ws) { /* a websocket client hears the version after the upgrade */
        g_byte_array_append(c->out, (const uint8_t *)"RFB 003.008\n", 12);
        flush_out(c);
    }
}

/* ---- listening ---------------------------------------------------------------------------- */

static bool listen_unix(VncServer *vs, const char *path, char **errp)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(un.sun_path)) {
        *errp = g_strdup_printf("UNIX socket path '%s' is too long", path);
        return false;
    }
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(fd, 16) < 0) {
        *errp = g_strdup_printf("Failed to bind socket to %s: %s", path, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    vs->lfd[vs->n_listen++] = fd;
    vs->unix_path = g_strdup(path);
    vs->family = "unix";
    vs->host = g_strdup("");
    vs->service = g_strdup(path);
    return true;
}

/* Bind every address of host:port; false (nothing left open) if one is in use. */
static bool listen_port(VncServer *vs, const char *host, int port, int *err)
{
    struct addrinfo hints = {
        .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int r = getaddrinfo(host && *host ? host : NULL, ps, &hints, &res);
    if (r) {
        *err = -r - 100000; /* a resolver error */
        return false;
    }
    int first = vs->n_listen;
    bool ok = true;
    for (struct addrinfo *a = res; a && vs->n_listen < MAX_LISTEN; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (a->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 16) < 0) {
            *err = errno;
            close(fd);
            if (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT) {
                continue; /* e.g. no IPv6 here */
            }
            ok = false;
            break;
        }
        if (vs->n_listen == first) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            getsockname(fd, (struct sockaddr *)&ss, &sl);
            g_free(vs->host);
            g_free(vs->service);
            char *h, *s;
            addr_strings(&ss, sl, &h, &s, &vs->family);
            vs->host = h, vs->service = s;
        }
        vs->lfd[vs->n_listen++] = fd;
    }
    freeaddrinfo(res);
    if (!ok || vs->n_listen == first) {
        while (vs->n_listen > first) {
            close(vs->lfd[--vs->n_listen]);
        }
        return false;
    }
    return true;
}

/* ---- start / stop ------------------------------------------------------------------------- */

bool vnc_display_init(const char *arg, const char *guest_name, char **errp)
{
    VncOpts o;
    if (!parse_vnc(arg, &o, errp)) {
        return false;
    }
    KbdLayout *layout = keymap_load(keyboard_layout ? keyboard_layout : "en-us", errp);
    if (!layout) {
        vnc_opts_free(&o);
        return false;
    }
    VncServer *vs = g_new0(VncServer, 1);
    vs->layout = layout;
    vs->layout_given = keyboard_layout != NULL;
    vs->lock_key_sync = o.lock_key_sync;
    vs->key_delay_ms = o.key_delay_ms;
    vs->id = g_strdup("default");
    vs->arg = g_strdup(arg);
    vs->auth = o.password ? AUTH_VNC : AUTH_NONE;
    vs->share = o.share;
    vs->max_clients = o.connections;
    vs->display_id = g_strdup(o.display);
    vs->head = o.head;
    vs->none = o.none;
    vs->name = guest_name ? g_strdup_printf("QEMU (%s)", guest_name) : g_strdup("QEMU");
    vs->handshake_timeout = HANDSHAKE_TIMEOUT_S;
    const char *t = getenv("VIREO_VNC_HANDSHAKE_TIMEOUT");
    if (t && atoi(t) > 0) {
        vs->handshake_timeout = atoi(t);
    }
    bool ok = true;
    if (o.unix_sock) {
        ok = listen_unix(vs, o.path, errp);
    } else if (!o.none) {
        int err = 0;
        ok = false;
        for (int port = o.port; port <= o.to_port && !ok; port++) {
            ok = listen_port(vs, o.host, port, &err);
            if (!ok && err != EADDRINUSE) {
                break;
            }
        }
        if (!ok) {
            if (err <= -100000) {
                *errp = g_strdup_printf("address resolution failed for %s:%d: %s", o.host, o.port,
                                        gai_strerror(-(err + 100000)));
            } else {
                *errp = g_strdup_printf("Failed to find an available port: %s", g_strerror(err));
            }
        }
    }
    if (ok && o.ws_port) {
        int first = vs->n_listen, err = 0;
        char *h = vs->host, *sv = vs->service;
        const char *fam = vs->family;
        vs->host = vs->service = NULL;
        ok = listen_port(vs, o.ws_host, o.ws_port, &err);
        vs->ws_host = vs->host, vs->ws_service = vs->service, vs->ws_family = vs->family;
        vs->host = h, vs->service = sv, vs->family = fam;
        for (int i = first; i < vs->n_listen; i++) {
            vs->lws[i] = true;
        }
        if (!ok) {
            *errp = g_strdup_printf("Failed to bind socket: %s", g_strerror(err));
            while (vs->n_listen > 0) {
                close(vs->lfd[--vs->n_listen]);
            }
        }
    }
    vnc_opts_free(&o);
    if (!ok) {
        vnc_server_free(vs);
        return false;
    }
    vs->fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, 640, 480, NULL, 0);
    for (int i = 0; i < vs->n_listen; i++) {
        vs->lwatch[i] = g_unix_fd_add(vs->lfd[i], G_IO_IN, on_accept, vs);
    }
    server = vs;
    vs->dl.ops = &vnc_dl_ops;
    VConsole *con = NULL;
    if (vs->display_id) {
        vireo_lock();
        con = console_by_device(vs->display_id, vs->head);
        vireo_unlock();
    }
    display_listener_register(&vs->dl, con);
    vs->dl_registered = true;
    vs->note.leds_changed = note_leds;
    vs->note.mode_changed = note_mode;
    input_add_notifier(&vs->note);
    return true;
}

void vnc_display_cleanup(void)
{
    VncServer *vs = server;
    if (!vs) {
        return;
    }
    while (vs->clients) {
        VncClient *c = vs->clients;
        c->quiet = true; /* no events at exit */
        client_close(c, NULL);
    }
    for (int i = 0; i < vs->n_listen; i++) {
        g_source_remove(vs->lwatch[i]);
        close(vs->lfd[i]);
    }
    if (vs->unix_path) {
        unlink(vs->unix_path);
    }
    input_remove_notifier(&vs->note);
    display_listener_unregister(&vs->dl);
    pixman_image_unref(vs->fb);
    g_free(vs->cur_pixels);
    g_free(vs->password);
    vnc_server_free(vs);
    server = NULL;
}

/* ---- monitor ------------------------------------------------------------------------------ */

static const char *auth_name(VncServer *vs)
{
    return vs->auth == AUTH_VNC ? "vnc" : "none";
}

QJ *vnc_query(void)
{
    QJ *r = qj_object();
    VncServer *vs = server;
    qj_set_bool(r, "enabled", vs != NULL);
    if (!vs) {
        return r;
    }
    if (vs->n_listen) {
        qj_set_str(r, "host", vs->host);
        qj_set_str(r, "service", vs->service);
        qj_set_str(r, "family", vs->family);
    }
    qj_set_str(r, "auth", auth_name(vs));
    QJ *list = qj_array();
    for (VncClient *c = vs->clients; c; c = c->next) {
        qj_append(list, client_basic(c));
    }
    qj_set(r, "clients", list);
    return r;
}

QJ *vnc_query_servers(void)
{
    QJ *list = qj_array();
    VncServer *vs = server;
    if (!vs) {
        return list;
    }
    QJ *s = qj_object();
    qj_set_str(s, "id", vs->id);
    QJ *servers = qj_array();
    /* QEMU lists the websocket listener first */
    if (vs->ws_service) {
        qj_append(servers, server_info(vs, true, true));
    }
    if (vs->n_listen && vs->service) {
        qj_append(servers, server_basic(vs, true));
    }
    qj_set(s, "server", servers);
    QJ *clients = qj_array();
    for (VncClient *c = vs->clients; c; c = c->next) {
        qj_append(clients, client_basic(c));
    }
    qj_set(s, "clients", clients);
    qj_set_str(s, "auth", auth_name(vs));
    if (vs->display_id) {
        qj_set_str(s, "display", vs->display_id);
    }
    qj_append(list, s);
    return list;
}

char *vnc_info_text(void)
{
    VncServer *vs = server;
    if (!vs) {
        return g_strdup("None\n");
    }
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%s:\n", vs->id);
    if (vs->n_listen) {
        if (!strcmp(vs->family, "unix")) {
            g_string_append_printf(s, "  Server: :%s (unix)\n", vs->service);
        } else {
            g_string_append_printf(s, "  Server: %s:%s (%s)\n", vs->host, vs->service, vs->family);
        }
        g_string_append_printf(s, "    Auth: %s (Sub: none)\n", auth_name(vs));
    }
    for (VncClient *c = vs->clients; c; c = c->next) {
        if (!strcmp(c->family, "unix")) {
            g_string_append_printf(s, "  Client: :%s (unix)\n", c->service);
        } else {
            g_string_append_printf(s, "  Client: %s:%s (%s)\n", c->host, c->service, c->family);
        }
        g_string_append(s, "    x509_dname: none\n    sasl_username: none\n");
    }
    if (!vs->n_listen && !vs->clients) {
        g_string_append(s, "  not started\n");
    }
    return g_string_free(s, FALSE);
}

bool vnc_set_password(const char *display, const char *password, char **hint)
{
    VncServer *vs = server;
    *hint = NULL;
    if (!vs || (display && strcmp(display, vs->id))) {
        return false;
    }
    if (vs->auth != AUTH_VNC) {
        *hint = g_strdup("If you want use passwords please enable password auth using "
                         "'-vnc ${dpy},password'.");
        return false;
    }
    g_free(vs->password);
    vs->password = g_strdup(password);
    return true;
}

bool vnc_expire_password(const char *display, const char *when, char **errp)
{
    int64_t t;
    if (!strcmp(when, "now")) {
        t = 1;
    } else if (!strcmp(when, "never")) {
        t = 0;
    } else {
        char *end;
        bool rel = when[0] == '+';
        int64_t v = g_ascii_strtoll(when + rel, &end, 10);
        if (!when[rel] || *end) {
            /* QEMU reads the number with strtoull and takes what it gets */
            v = 0;
        }
        t = rel ? (int64_t)time(NULL) + v : v;
    }
    if (!server || (display && strcmp(display, server->id))) {
        *errp = g_strdup("Could not set password expire time");
        return false;
    }
    server->expires = t;
    return true;
}

/* For tests that drive the server without a machine. */
int vnc_client_count(void)
{
    return server ? server->n_clients : 0;
}

size_t vnc_client_queued_max(void)
{
    size_t m = 0;
    for (VncClient *c = server ? server->clients : NULL; c; c = c->next) {
        m = MAX(m, c->out->len);
    }
    return m;
}
