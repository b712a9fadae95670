/*
 * Chardev core and backends: null, vc, stdio (raw tty when interactive), file, pipe, pty,
 * socket (unix/tcp, server/client, wait, reconnect, inherited fd), ringbuf, and the mux that
 * shares one backend between several frontends (Ctrl-A escapes as QEMU).
 *
 * Output: chardev_write() keeps a per-chardev buffer under a mutex; what the fd does not take
 * at once waits for a G_IO_OUT watch. vCPU threads wait when the buffer grows large (a slow
 * reader slows the guest, as in QEMU); the main thread never waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "vireo/chardev.h"
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/qemu-opts.h"

#define MAX_MUX_FE      4
#define OUT_SOFT_LIMIT  (64 * 1024)
#define OUT_HARD_LIMIT  (16 * 1024 * 1024)
#define RINGBUF_DEFAULT 65536

typedef enum {
    CHR_NULL,
    CHR_VC,
    CHR_STDIO,
    CHR_FILE,
    CHR_PIPE,
    CHR_PTY,
    CHR_SOCKET,
    CHR_RINGBUF,
    CHR_MUX,
} ChrKind;

struct Chardev {
    char *label;
    char *filename; /* what query-chardev reports */
    ChrKind kind;
    int in_fd, out_fd;
    bool owns_in, owns_out;
    bool drop_when_full; /* pty: nobody may be reading */
    guint in_watch;
    /* output, under lock */
    GMutex lock;
    GByteArray *outbuf;
    guint out_watch;
    /* frontends */
    CharFrontend fe[MAX_MUX_FE];
    bool fe_used[MAX_MUX_FE];
    bool opened; /* OPENED was sent to the frontends */
    /* mux */
    Chardev *base;   /* mux: the backend it multiplexes */
    Chardev *parent; /* base: its mux */
    int focus;
    bool mux_escape;
    /* mux: input bytes read (escapes already handled) that the frontend had no room for yet */
    uint8_t mux_pend[64];
    int mux_pend_n;
    bool realized;
    /* socket */
    bool is_server, is_unix, wait, connected;
    int listen_fd, conn_fd;
    guint listen_watch, reconnect_timer;
    int64_t reconnect;
    char *path, *host, *port;
    /* ringbuf */
    uint8_t *rb;
    size_t rb_size, rb_prod, rb_cons;
};

static GPtrArray *all_chardevs; /* creation order */
static pthread_t main_thread;
static bool stdio_in_use;
void (*chardev_quit_hook)(void);

/* ---- terminal ------------------------------------------------------------------------- */

static struct termios saved_tty;
static bool tty_saved;

void chardev_restore_tty(void)
{
    if (tty_saved) {
        tcsetattr(0, TCSANOW, &saved_tty);
        tty_saved = false;
    }
}

static void stdio_make_raw(bool signals)
{
    if (tty_saved || !isatty(0) || tcgetattr(0, &saved_tty) < 0) {
        return;
    }
    struct termios t = saved_tty;
    t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN);
    if (!signals) {
        t.c_lflag &= ~ISIG;
    }
    t.c_cflag &= ~(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &t);
    tty_saved = true;
    atexit(chardev_restore_tty);
}

/* ---- registry ------------------------------------------------------------------------- */

static Chardev *chr_new(const char *label, ChrKind kind, const char *filename)
{
    if (!all_chardevs) {
        all_chardevs = g_ptr_array_new();
        main_thread = pthread_self();
    }
    Chardev *c = g_new0(Chardev, 1);
    c->label = g_strdup(label);
    c->filename = g_strdup(filename);
    c->kind = kind;
    c->in_fd = c->out_fd = c->listen_fd = c->conn_fd = -1;
    c->focus = -1;
    g_mutex_init(&c->lock);
    c->outbuf = g_byte_array_new();
    return c;
}

static void chr_register(Chardev *c)
{
    g_ptr_array_add(all_chardevs, c);
}

Chardev *chardev_find(const char *label)
{
    for (guint i = 0; all_chardevs && i < all_chardevs->len; i++) {
        Chardev *c = g_ptr_array_index(all_chardevs, i);
        if (!strcmp(c->label, label)) {
            return c;
        }
    }
    return NULL;
}

const char *chardev_label(const Chardev *c)
{
    return c->label;
}

bool chardev_is_mux(const Chardev *c)
{
    return c->kind == CHR_MUX;
}

static void set_filename(Chardev *c, char *fn)
{
    g_free(c->filename);
    c->filename = fn;
}

/* ---- frontends and events ------------------------------------------------------------- */

static void fe_event(CharFrontend *fe, ChrEvent ev)
{
    if (!fe->event) {
        return;
    }
    if (!fe->unlocked) {
        vireo_lock();
    }
    fe->event(fe->opaque, ev);
    if (!fe->unlocked) {
        vireo_unlock();
    }
}

static void chr_send_event(Chardev *c, ChrEvent ev);

static void mux_send_event(Chardev *m, ChrEvent ev)
{
    for (int i = 0; i < MAX_MUX_FE; i++) {
        if (m->fe_used[i]) {
            fe_event(&m->fe[i], ev);
        }
    }
}

/* Deliver a backend event to whoever is attached (the mux passes it on once realized). */
static void chr_send_event(Chardev *c, ChrEvent ev)
{
    if (ev == CHR_EVENT_OPENED) {
        c->opened = true;
    } else if (ev == CHR_EVENT_CLOSED) {
        c->opened = false;
    }
    if (c->parent) {
        if (c->parent->realized) {
            mux_send_event(c->parent, ev);
        }
        return;
    }
    if (c->fe_used[0]) {
        fe_event(&c->fe[0], ev);
    }
}

static bool backend_open(const Chardev *c)
{
    return c->kind != CHR_SOCKET || c->connected;
}

static void mux_set_focus(Chardev *m, int idx)
{
    if (m->focus >= 0 && m->fe_used[m->focus]) {
        fe_event(&m->fe[m->focus], CHR_EVENT_MUX_OUT);
    }
    m->focus = idx;
    if (idx >= 0 && m->fe_used[idx]) {
        fe_event(&m->fe[idx], CHR_EVENT_MUX_IN);
    }
}

bool chardev_attach(Chardev *c, const CharFrontend *fe, char **errp)
{
    int max = c->kind == CHR_MUX ? MAX_MUX_FE : 1;
    int slot = -1;
    for (int i = 0; i < max; i++) {
        if (!c->fe_used[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        if (errp) {
            *errp = g_strdup_printf("Device '%s' is in use", c->label);
        }
        return false;
    }
    c->fe[slot] = *fe;
    c->fe_used[slot] = true;
    if (c->kind == CHR_MUX) {
        if (!c->realized) {
            c->focus = slot; /* the last one attached at startup gets the focus */
        } else {
            if (backend_open(c->base)) {
                fe_event(&c->fe[slot], CHR_EVENT_OPENED);
            }
            if (slot == c->focus) {
                fe_event(&c->fe[slot], CHR_EVENT_MUX_IN);
            }
        }
    } else if (backend_open(c)) {
        c->opened = true;
        /* The caller holds the big lock for a locked frontend already. */
        if (fe->event) {
            fe->event(fe->opaque, CHR_EVENT_OPENED);
        }
    }
    chardev_accept_input(c);
    return true;
}

void chardev_detach(Chardev *c, void *opaque)
{
    if (!c) {
        return;
    }
    for (int i = 0; i < MAX_MUX_FE; i++) {
        if (c->fe_used[i] && c->fe[i].opaque == opaque) {
            c->fe_used[i] = false;
        }
    }
}

void chardev_muxes_realized(void)
{
    for (guint i = 0; all_chardevs && i < all_chardevs->len; i++) {
        Chardev *m = g_ptr_array_index(all_chardevs, i);
        if (m->kind != CHR_MUX || m->realized) {
            continue;
        }
        m->realized = true;
        /*
         * QEMU's start-up sequence: each frontend took the focus when it attached, so by the
         * time the machine is built every frontend but the last has lost it again; only then
         * does the backend's OPENED reach them all. An HMP monitor that is not focused (the
         * monitor of -nographic, whose serial port attached after it) therefore holds its
         * banner until Ctrl-A c brings it in.
         */
        for (int j = 0; j < MAX_MUX_FE; j++) {
            if (m->fe_used[j] && j != m->focus) {
                fe_event(&m->fe[j], CHR_EVENT_MUX_OUT);
            }
        }
        if (m->focus >= 0 && m->fe_used[m->focus]) {
            fe_event(&m->fe[m->focus], CHR_EVENT_MUX_IN);
        }
        if (backend_open(m->base)) {
            mux_send_event(m, CHR_EVENT_OPENED);
        }
    }
}

/* ---- output --------------------------------------------------------------------------- */

static gboolean out_ready(gint fd, GIOCondition cond, gpointer opaque);

static int chr_out_fd(Chardev *c)
{
    if (c->kind == CHR_SOCKET) {
        return c->connected ? c->conn_fd : -1;
    }
    return c->out_fd;
}

/* Write what the fd takes now; with block, wait for it (up to a peer that never reads). */
static void flush_locked(Chardev *c, bool block)
{
    int fd = chr_out_fd(c);
    while (c->outbuf->len > 0 && fd >= 0) {
        ssize_t n = write(fd, c->outbuf->data, c->outbuf->len);
        if (n > 0) {
            g_byte_array_remove_range(c->outbuf, 0, (guint)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (!block) {
                return;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            g_mutex_unlock(&c->lock);
            poll(&p, 1, 100);
            g_mutex_lock(&c->lock);
            fd = chr_out_fd(c);
            continue;
        }
        /* EPIPE and friends: the reader is gone; drop. */
        g_byte_array_set_size(c->outbuf, 0);
        return;
    }
    if (fd < 0) {
        g_byte_array_set_size(c->outbuf, 0);
    }
}

static void arm_out_locked(Chardev *c)
{
    int fd = chr_out_fd(c);
    if (c->outbuf->len && fd >= 0 && !c->out_watch) {
        c->out_watch = g_unix_fd_add(fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, out_ready, c);
    }
}

static gboolean out_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *c = opaque;
    g_mutex_lock(&c->lock);
    flush_locked(c, false);
    if (c->outbuf->len == 0 || chr_out_fd(c) != fd) {
        c->out_watch = 0;
        g_mutex_unlock(&c->lock);
        return G_SOURCE_REMOVE;
    }
    g_mutex_unlock(&c->lock);
    return G_SOURCE_CONTINUE;
}

static void ringbuf_put(Chardev *c, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        c->rb[c->rb_prod++ & (c->rb_size - 1)] = buf[i];
        if (c->rb_prod - c->rb_cons > c->rb_size) {
            c->rb_cons = c->rb_prod - c->rb_size;
        }
    }
}

void chardev_write(Chardev *c, const uint8_t *buf, size_t len)
{
    if (!c || !len) {
        return;
    }
    if (c->kind == CHR_MUX) {
        c = c->base;
    }
    g_mutex_lock(&c->lock);
    if (c->kind == CHR_RINGBUF) {
        ringbuf_put(c, buf, len);
        g_mutex_unlock(&c->lock);
        return;
    }
    if (chr_out_fd(c) < 0) {
        g_mutex_unlock(&c->lock);
        return;
    }
    bool on_main = pthread_equal(pthread_self(), main_thread);
    if (c->outbuf->len >= OUT_HARD_LIMIT ||
        (c->drop_when_full && c->outbuf->len >= OUT_SOFT_LIMIT)) {
        g_mutex_unlock(&c->lock); /* the reader is not reading: drop */
        return;
    }
    g_byte_array_append(c->outbuf, buf, (guint)len);
    flush_locked(c, false);
    if (c->outbuf->len > OUT_SOFT_LIMIT && !on_main && !c->drop_when_full) {
        flush_locked(c, true);
    }
    arm_out_locked(c);
    g_mutex_unlock(&c->lock);
}

/* ---- input ---------------------------------------------------------------------------- */

static void socket_closed(Chardev *c);

static int fe_can_receive(CharFrontend *fe)
{
    if (!fe->can_receive) {
        return 0;
    }
    if (!fe->unlocked) {
        vireo_lock();
    }
    int r = fe->can_receive(fe->opaque);
    if (!fe->unlocked) {
        vireo_unlock();
    }
    return r;
}

static void fe_receive(CharFrontend *fe, const uint8_t *buf, int len)
{
    if (!fe->receive) {
        return;
    }
    if (!fe->unlocked) {
        vireo_lock();
    }
    fe->receive(fe->opaque, buf, len);
    if (!fe->unlocked) {
        vireo_unlock();
    }
}

static const char mux_help[] = "\n\r"
                               "C-a h    print this help\n\r"
                               "C-a x    exit emulator\n\r"
                               "C-a s    save disk data back to file (if -snapshot)\n\r"
                               "C-a t    toggle console timestamps\n\r"
                               "C-a b    send break (magic sysrq)\n\r"
                               "C-a c    switch between console and monitor\n\r"
                               "C-a C-a  sends C-a\n\r";

/* A mux byte: Ctrl-A escapes, the rest to the focused frontend. Returns true to pass it on. */
static bool mux_filter(Chardev *m, uint8_t ch)
{
    if (m->mux_escape) {
        m->mux_escape = false;
        switch (ch) {
        case 'h':
        case '?':
            chardev_write(m, (const uint8_t *)mux_help, strlen(mux_help));
            return false;
        case 'x': {
            static const char term[] = "QEMU: Terminated\n\r";
            chardev_write(m, (const uint8_t *)term, strlen(term));
            if (chardev_quit_hook) {
                chardev_quit_hook();
            }
            return false;
        }
        case 'c': {
            int n = m->focus;
            for (int i = 0; i < MAX_MUX_FE; i++) {
                n = (n + 1) % MAX_MUX_FE;
                if (m->fe_used[n]) {
                    break;
                }
            }
            mux_set_focus(m, n);
            return false;
        }
        case 0x01:
            return true;
        default:
            return false; /* s, t, b and unknown keys: nothing to do here */
        }
    }
    if (ch == 0x01) {
        m->mux_escape = true;
        return false;
    }
    return true;
}

static CharFrontend *input_target(Chardev *c)
{
    if (c->parent) {
        Chardev *m = c->parent;
        return m->focus >= 0 && m->fe_used[m->focus] ? &m->fe[m->focus] : NULL;
    }
    return c->fe_used[0] ? &c->fe[0] : NULL;
}

static int in_fd_of(Chardev *c)
{
    return c->kind == CHR_SOCKET ? (c->connected ? c->conn_fd : -1) : c->in_fd;
}

static gboolean arm_input(gpointer opaque);

/* Hand the mux's held-back input to the focused frontend as far as it has room (main thread). */
static void mux_flush(Chardev *c)
{
    Chardev *m = c->parent;
    int done = 0;
    while (done < m->mux_pend_n) {
        CharFrontend *t = input_target(c);
        int room = t ? fe_can_receive(t) : 0;
        if (room <= 0) {
            break;
        }
        int k = MIN(room, m->mux_pend_n - done);
        fe_receive(t, m->mux_pend + done, k);
        done += k;
    }
    memmove(m->mux_pend, m->mux_pend + done, (size_t)(m->mux_pend_n - done));
    m->mux_pend_n -= done;
}

static gboolean input_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *c = opaque;
    uint8_t buf[4096];
    CharFrontend *fe = input_target(c);
    int room;
    if (c->parent) {
        /*
         * The mux reads even when the frontend is full, so that its escapes (Ctrl-A x) work
         * while the guest does not read; what the frontend cannot take yet waits in mux_pend
         * (the guest's UART FIFO holds only 16 bytes).
         */
        mux_flush(c);
        room = (int)sizeof(c->parent->mux_pend) - c->parent->mux_pend_n;
    } else {
        room = fe ? fe_can_receive(fe) : (int)sizeof(buf);
    }
    if (room <= 0) {
        /* Frontend full: stop polling until it calls chardev_accept_input(). */
        c->in_watch = 0;
        return G_SOURCE_REMOVE;
    }
    if (room > (int)sizeof(buf)) {
        room = sizeof(buf);
    }
    ssize_t n = read(fd, buf, room);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            return G_SOURCE_CONTINUE;
        }
        c->in_watch = 0;
        if (c->kind == CHR_SOCKET) {
            socket_closed(c);
        } else if (c->kind == CHR_PTY) {
            /* Nobody has the slave open: look again later. */
            c->in_watch = 0;
            g_timeout_add(1000, arm_input, c);
        }
        return G_SOURCE_REMOVE;
    }
    if (c->parent) {
        Chardev *m = c->parent;
        for (ssize_t i = 0; i < n; i++) {
            if (mux_filter(m, buf[i]) && m->mux_pend_n < (int)sizeof(m->mux_pend)) {
                m->mux_pend[m->mux_pend_n++] = buf[i];
            }
        }
        mux_flush(c);
    } else if (fe) {
        fe_receive(fe, buf, (int)n);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean arm_input(gpointer opaque)
{
    Chardev *c = opaque;
    if (c->parent && c->parent->mux_pend_n) {
        mux_flush(c);
    }
    int fd = in_fd_of(c);
    if (fd >= 0 && !c->in_watch) {
        c->in_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, input_ready, c);
    }
    return G_SOURCE_REMOVE;
}

void chardev_accept_input(Chardev *c)
{
    if (!c) {
        return;
    }
    if (c->kind == CHR_MUX) {
        c = c->base;
    }
    if (in_fd_of(c) >= 0 && (!c->in_watch || (c->parent && c->parent->mux_pend_n))) {
        if (pthread_equal(pthread_self(), main_thread)) {
            arm_input(c);
        } else {
            g_idle_add(arm_input, c);
        }
    }
}

/* ---- sockets -------------------------------------------------------------------------- */

static char *sockaddr_str(const struct sockaddr_storage *ss, bool with_port)
{
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    getnameinfo((const struct sockaddr *)ss, sizeof(*ss), host, sizeof(host), serv, sizeof(serv),
                NI_NUMERICHOST | NI_NUMERICSERV);
    return with_port ? g_strdup_printf("%s:%s", host, serv) : g_strdup(host);
}

static char *socket_base_name(Chardev *c)
{
    if (c->is_unix) {
        return g_strdup_printf("unix:%s%s", c->path, c->is_server ? ",server=on" : "");
    }
    return g_strdup_printf("tcp:%s:%s%s", c->host, c->port, c->is_server ? ",server=on" : "");
}

static void socket_update_filename(Chardev *c)
{
    char *base = socket_base_name(c);
    if (!c->connected) {
        set_filename(c, g_strdup_printf("disconnected:%s", base));
    } else if (c->is_unix) {
        set_filename(c, g_strdup(base));
    } else {
        struct sockaddr_storage l, r;
        socklen_t ll = sizeof(l), rl = sizeof(r);
        memset(&l, 0, sizeof(l));
        memset(&r, 0, sizeof(r));
        getsockname(c->conn_fd, (struct sockaddr *)&l, &ll);
        getpeername(c->conn_fd, (struct sockaddr *)&r, &rl);
        char *ls = sockaddr_str(&l, true), *rs = sockaddr_str(&r, true);
        set_filename(c,
                     g_strdup_printf("tcp:%s%s <-> %s", ls, c->is_server ? ",server=on" : "", rs));
        g_free(ls);
        g_free(rs);
    }
    g_free(base);
}

static gboolean listen_ready(gint fd, GIOCondition cond, gpointer opaque);

static void socket_listen_arm(Chardev *c)
{
    if (c->listen_fd >= 0 && !c->listen_watch && !c->connected) {
        c->listen_watch = g_unix_fd_add(c->listen_fd, G_IO_IN, listen_ready, c);
    }
}

static void socket_connected(Chardev *c, int fd)
{
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    if (!c->is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    g_mutex_lock(&c->lock);
    c->conn_fd = fd;
    c->connected = true;
    g_mutex_unlock(&c->lock);
    socket_update_filename(c);
    chr_send_event(c, CHR_EVENT_OPENED);
    chardev_accept_input(c);
}

static gboolean listen_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *c = opaque;
    int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
        return G_SOURCE_CONTINUE;
    }
    /* One client at a time, as QEMU: the next waits in the backlog until this one leaves. */
    c->listen_watch = 0;
    socket_connected(c, conn);
    return G_SOURCE_REMOVE;
}

static int socket_connect_fd(Chardev *c, char **errp);
static gboolean reconnect_tick(gpointer opaque);

static void socket_closed(Chardev *c)
{
    if (!c->connected) {
        return;
    }
    if (c->in_watch) {
        g_source_remove(c->in_watch);
        c->in_watch = 0;
    }
    g_mutex_lock(&c->lock);
    if (c->out_watch) {
        g_source_remove(c->out_watch);
        c->out_watch = 0;
    }
    close(c->conn_fd);
    c->conn_fd = -1;
    c->connected = false;
    g_byte_array_set_size(c->outbuf, 0);
    g_mutex_unlock(&c->lock);
    socket_update_filename(c);
    chr_send_event(c, CHR_EVENT_CLOSED);
    if (c->is_server) {
        socket_listen_arm(c);
    } else if (c->reconnect > 0 && !c->reconnect_timer) {
        c->reconnect_timer = g_timeout_add_seconds((guint)c->reconnect, reconnect_tick, c);
    }
}

void chardev_disconnect(Chardev *c)
{
    if (c && c->kind == CHR_MUX) {
        c = c->base;
    }
    if (c && c->kind == CHR_SOCKET) {
        socket_closed(c);
    }
}

static gboolean reconnect_tick(gpointer opaque)
{
    Chardev *c = opaque;
    int fd = socket_connect_fd(c, NULL);
    if (fd < 0) {
        return G_SOURCE_CONTINUE;
    }
    c->reconnect_timer = 0;
    socket_connected(c, fd);
    return G_SOURCE_REMOVE;
}

static int socket_connect_fd(Chardev *c, char **errp)
{
    if (c->is_unix) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(c->path) >= sizeof(sa.sun_path)) {
            if (errp) {
                *errp = g_strdup_printf("UNIX socket path '%s' is too long", c->path);
            }
            return -1;
        }
        strcpy(sa.sun_path, c->path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return fd;
        }
        if (errp) {
            *errp = g_strdup_printf("Failed to connect to '%s': %s", c->path, g_strerror(errno));
        }
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    const char *host = *c->host ? c->host : "localhost";
    int r = getaddrinfo(host, c->port, &hints, &res);
    if (r != 0) {
        if (errp) {
            *errp = g_strdup_printf("address resolution failed for %s:%s: %s", host, c->port,
                                    gai_strerror(r));
        }
        return -1;
    }
    int err = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (errp) {
        *errp = g_strdup_printf("Failed to connect to '%s:%s': %s", host, c->port, g_strerror(err));
    }
    return -1;
}

static int socket_listen_fd(Chardev *c, char **errp)
{
    if (c->is_unix) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(c->path) >= sizeof(sa.sun_path)) {
            *errp = g_strdup_printf("UNIX socket path '%s' is too long", c->path);
            return -1;
        }
        strcpy(sa.sun_path, c->path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(c->path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
            *errp = g_strdup_printf("Failed to bind socket to %s: %s", c->path, g_strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return -1;
        }
        return fd;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    int r = getaddrinfo(*c->host ? c->host : NULL, c->port, &hints, &res);
    if (r != 0) {
        *errp = g_strdup_printf("address resolution failed for %s:%s: %s", c->host, c->port,
                                gai_strerror(r));
        return -1;
    }
    int err = EADDRINUSE;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    *errp = g_strdup_printf("Failed to bind socket: %s", g_strerror(err));
    return -1;
}

static bool socket_open(Chardev *c, const QOpts *o, char **errp)
{
    const char *path = qopts_get(o, "path"), *host = qopts_get(o, "host");
    const char *port = qopts_get(o, "port"), *fdstr = qopts_get(o, "fd");
    bool server, wait;
    uint64_t reconnect;
    if (!qopts_get_bool(o, "server", false, &server, errp) ||
        !qopts_get_bool(o, "wait", true, &wait, errp) ||
        !qopts_get_number(o, "reconnect", 0, &reconnect, errp)) {
        return false;
    }
    c->is_server = server;
    c->wait = server && wait;
    c->reconnect = (int64_t)reconnect;
    if (server && reconnect) {
        *errp = g_strdup("'reconnect' option is incompatible with socket in server listen mode");
        return false;
    }
    if (path) {
        c->is_unix = true;
        c->path = g_strdup(path);
    } else if (host || port) {
        if (!port) {
            *errp = g_strdup("chardev: socket: no port given");
            return false;
        }
        c->host = g_strdup(host ? host : "");
        c->port = g_strdup(port);
    } else {
        /* An inherited descriptor (libvirt passes a listening socket). */
        char *end = NULL;
        long fd = fdstr ? strtol(fdstr, &end, 10) : -1;
        if (!fdstr || *end || fd < 0 || fcntl((int)fd, F_GETFD) < 0) {
            *errp = g_strdup_printf("Unable to parse FD number %s", fdstr ? fdstr : "");
            return false;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        getsockname((int)fd, (struct sockaddr *)&ss, &sl);
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        if (ss.ss_family == AF_UNIX) {
            c->is_unix = true;
            c->path = g_strdup(((struct sockaddr_un *)&ss)->sun_path);
        } else {
            c->host = sockaddr_str(&ss, false);
            c->port = g_strdup_printf("%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
        if (server) {
            c->listen_fd = (int)fd;
            socket_update_filename(c);
            socket_listen_arm(c);
        } else {
            socket_update_filename(c);
            socket_connected(c, (int)fd);
        }
        return true;
    }
    socket_update_filename(c);
    if (server) {
        c->listen_fd = socket_listen_fd(c, errp);
        if (c->listen_fd < 0) {
            return false;
        }
        socket_listen_arm(c);
        return true;
    }
    int fd = socket_connect_fd(c, c->reconnect ? NULL : errp);
    if (fd < 0) {
        if (!c->reconnect) {
            return false;
        }
        c->reconnect_timer = g_timeout_add_seconds((guint)c->reconnect, reconnect_tick, c);
        return true;
    }
    socket_connected(c, fd);
    return true;
}

static bool socket_wait_client(Chardev *c, char **errp)
{
    if (c->wait && !c->connected && c->listen_fd >= 0) {
        fprintf(stderr, "%s: info: QEMU waiting for connection on: %s\n", error_progname,
                c->filename);
        int fd;
        do {
            fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            *errp = g_strdup_printf("Failed to accept connection: %s", g_strerror(errno));
            return false;
        }
        if (c->listen_watch) {
            g_source_remove(c->listen_watch);
            c->listen_watch = 0;
        }
        socket_connected(c, fd);
    }
    return true;
}

bool chardev_wait_for_clients(char **errp)
{
    for (guint i = 0; all_chardevs && i < all_chardevs->len; i++) {
        if (!socket_wait_client(g_ptr_array_index(all_chardevs, i), errp)) {
            return false;
        }
    }
    return true;
}

/* ---- creation ------------------------------------------------------------------------- */

static bool open_file_backend(Chardev *c, const QOpts *o, char **errp)
{
    const char *path = qopts_get(o, "path");
    bool append;
    if (!path) {
        *errp = g_strdup("chardev: file: no filename given");
        return false;
    }
    if (!qopts_get_bool(o, "append", false, &append, errp)) {
        return false;
    }
    c->out_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0666);
    if (c->out_fd < 0) {
        *errp = g_strdup_printf("Could not open '%s': %s", path, g_strerror(errno));
        return false;
    }
    c->owns_out = true;
    return true;
}

static bool open_pipe_backend(Chardev *c, const QOpts *o, char **errp)
{
    const char *path = qopts_get(o, "path");
    if (!path) {
        *errp = g_strdup("chardev: pipe: no filename given");
        return false;
    }
    char *in = g_strdup_printf("%s.in", path), *out = g_strdup_printf("%s.out", path);
    c->in_fd = open(in, O_RDWR | O_CLOEXEC);
    c->out_fd = open(out, O_RDWR | O_CLOEXEC);
    g_free(in);
    g_free(out);
    if (c->in_fd < 0 || c->out_fd < 0) {
        if (c->in_fd >= 0) {
            close(c->in_fd);
        }
        if (c->out_fd >= 0) {
            close(c->out_fd);
        }
        c->in_fd = c->out_fd = open(path, O_RDWR | O_CLOEXEC);
        if (c->in_fd < 0) {
            *errp = g_strdup_printf("Could not open '%s': %s", path, g_strerror(errno));
            return false;
        }
        c->owns_in = true;
        return true;
    }
    c->owns_in = c->owns_out = true;
    return true;
}

static bool open_pty_backend(Chardev *c, char **errp)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0) {
        *errp = g_strdup_printf("Failed to create PTY: %s", g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSAFLUSH, &t);
    }
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    const char *name = ptsname(fd);
    set_filename(c, g_strdup_printf("pty:%s", name));
    fprintf(stderr, "char device redirected to %s (label %s)\n", name, c->label);
    c->in_fd = c->out_fd = fd;
    c->owns_in = true;
    c->drop_when_full = true;
    return true;
}

static const char *const common_keys[] = {"backend", "id", "mux", "logfile", "logappend", NULL};

static bool check_keys(const QOpts *o, const char *const *extra, char **errp)
{
    for (size_t i = 0; i < o->n_pairs; i++) {
        const char *k = o->pairs[i].key;
        bool known = false;
        for (const char *const *p = common_keys; *p && !known; p++) {
            known = !strcmp(*p, k);
        }
        for (const char *const *p = extra; p && *p && !known; p++) {
            known = !strcmp(*p, k);
        }
        if (!known) {
            *errp = g_strdup_printf("Invalid parameter '%s'", k);
            return false;
        }
    }
    return true;
}

static void chr_free(Chardev *c)
{
    if (c->in_watch) {
        g_source_remove(c->in_watch);
    }
    if (c->out_watch) {
        g_source_remove(c->out_watch);
    }
    if (c->listen_watch) {
        g_source_remove(c->listen_watch);
    }
    if (c->reconnect_timer) {
        g_source_remove(c->reconnect_timer);
    }
    if (c->owns_in && c->in_fd >= 0) {
        close(c->in_fd);
    }
    if (c->owns_out && c->out_fd >= 0 && c->out_fd != c->in_fd) {
        close(c->out_fd);
    }
    if (c->conn_fd >= 0) {
        close(c->conn_fd);
    }
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        if (c->is_unix && c->is_server && c->path) {
            unlink(c->path);
        }
    }
    if (c->kind == CHR_STDIO) {
        stdio_in_use = false;
    }
    g_mutex_clear(&c->lock);
    g_byte_array_free(c->outbuf, TRUE);
    g_free(c->rb);
    g_free(c->label);
    g_free(c->filename);
    g_free(c->path);
    g_free(c->host);
    g_free(c->port);
    g_free(c);
}

/* Build a backend from options; registers it (and a mux in front when asked). */
static Chardev *chr_create(const char *id, const char *backend, const QOpts *o, bool mux,
                           char **errp)
{
    static const char *const file_keys[] = {"path", "append", "in", NULL};
    static const char *const pipe_keys[] = {"path", NULL};
    static const char *const stdio_keys[] = {"signal", NULL};
    static const char *const socket_keys[] = {
        "path",     "host",  "port",      "fd",        "server", "wait",   "reconnect",
        "nodelay",  "to",    "ipv4",      "ipv6",      "telnet", "tn3270", "websocket",
        "abstract", "tight", "tls-creds", "tls-authz", NULL};
    static const char *const ringbuf_keys[] = {"size", NULL};
    static const char *const vc_keys[] = {"width", "height", "cols", "rows", NULL};
    ChrKind kind;
    const char *const *keys = NULL;
    const char *fname = backend;

    if (!strcmp(backend, "null")) {
        kind = CHR_NULL;
    } else if (!strcmp(backend, "vc")) {
        kind = CHR_VC, keys = vc_keys;
    } else if (!strcmp(backend, "stdio")) {
        kind = CHR_STDIO, keys = stdio_keys;
    } else if (!strcmp(backend, "file")) {
        kind = CHR_FILE, keys = file_keys;
    } else if (!strcmp(backend, "pipe")) {
        kind = CHR_PIPE, keys = pipe_keys;
    } else if (!strcmp(backend, "pty")) {
        kind = CHR_PTY;
    } else if (!strcmp(backend, "socket")) {
        kind = CHR_SOCKET, keys = socket_keys;
    } else if (!strcmp(backend, "ringbuf") || !strcmp(backend, "memory")) {
        kind = CHR_RINGBUF, keys = ringbuf_keys, fname = "ringbuf";
    } else {
        *errp = g_strdup_printf("'%s' is not a valid char driver name", backend);
        return NULL;
    }
    if (!check_keys(o, keys, errp)) {
        return NULL;
    }
    if (chardev_find(id)) {
        *errp = g_strdup_printf("Duplicate ID '%s' for chardev", id);
        return NULL;
    }
    char *base_id = mux ? g_strdup_printf("%s-base", id) : g_strdup(id);
    Chardev *c = chr_new(base_id, kind, fname);
    g_free(base_id);
    bool ok = true;
    switch (kind) {
    case CHR_NULL:
    case CHR_VC:
        break;
    case CHR_STDIO: {
        bool sig;
        if (stdio_in_use) {
            *errp = g_strdup("cannot use stdio by multiple character devices");
            ok = false;
            break;
        }
        if (!qopts_get_bool(o, "signal", true, &sig, errp)) {
            ok = false;
            break;
        }
        stdio_in_use = true;
        c->in_fd = 0;
        c->out_fd = 1;
        stdio_make_raw(sig);
        break;
    }
    case CHR_FILE:
        ok = open_file_backend(c, o, errp);
        break;
    case CHR_PIPE:
        ok = open_pipe_backend(c, o, errp);
        break;
    case CHR_PTY:
        ok = open_pty_backend(c, errp);
        break;
    case CHR_SOCKET:
        /* A server with wait=on blocks here until its first client, as QEMU does. */
        ok = socket_open(c, o, errp) && socket_wait_client(c, errp);
        break;
    case CHR_RINGBUF: {
        uint64_t size;
        if (!qopts_get_size(o, "size", RINGBUF_DEFAULT, &size, errp)) {
            ok = false;
        } else if (size == 0 || (size & (size - 1)) || size > (1u << 30)) {
            *errp = g_strdup("size of ringbuf chardev must be power of two");
            ok = false;
        } else {
            c->rb_size = size;
            c->rb = g_malloc0(size);
        }
        break;
    }
    case CHR_MUX:
        break;
    }
    if (!ok) {
        chr_free(c);
        return NULL;
    }
    chr_register(c);
    if (!mux) {
        return c;
    }
    Chardev *m = chr_new(id, CHR_MUX, "mux");
    m->base = c;
    c->parent = m;
    chr_register(m);
    chardev_accept_input(c);
    return m;
}

Chardev *chardev_new_from_opts(const char *arg, char **errp)
{
    QOpts *o = qopts_parse("chardev", arg, NULL, "backend", QOPTS_LEGACY, errp);
    if (!o) {
        return NULL;
    }
    Chardev *c = NULL;
    const char *id = qopts_get(o, "id"), *backend = qopts_get(o, "backend");
    bool mux;
    if (!backend) {
        *errp = g_strdup("chardev: \"\" missing backend");
    } else if (!id) {
        *errp = g_strdup("chardev: no id specified");
    } else if (qopts_get_bool(o, "mux", false, &mux, errp)) {
        c = chr_create(id, backend, o, mux, errp);
    }
    qopts_free(o);
    return c;
}

Chardev *chardev_new_legacy(const char *label, const char *spec, bool mux, char **errp)
{
    QOpts *o = NULL;
    const char *backend = NULL;
    char *err = NULL;
    if (!strcmp(spec, "null") || !strcmp(spec, "stdio") || !strcmp(spec, "pty") ||
        !strcmp(spec, "vc") || !strncmp(spec, "vc:", 3) || !strcmp(spec, "ringbuf")) {
        o = qopts_new("chardev");
        backend = !strncmp(spec, "vc", 2) ? "vc" : spec;
    } else if (!strncmp(spec, "file:", 5) || !strncmp(spec, "pipe:", 5)) {
        o = qopts_new("chardev");
        qopts_set(o, "path", spec + 5);
        backend = spec[0] == 'f' ? "file" : "pipe";
    } else if (!strncmp(spec, "unix:", 5)) {
        o = qopts_parse("chardev", spec + 5, NULL, "path", QOPTS_LEGACY, &err);
        backend = "socket";
    } else if (!strncmp(spec, "tcp:", 4) || !strncmp(spec, "telnet:", 7)) {
        const char *hp = strchr(spec, ':') + 1;
        const char *comma = strchr(hp, ',');
        char *hostport = comma ? g_strndup(hp, comma - hp) : g_strdup(hp);
        char *colon = strrchr(hostport, ':');
        o = comma ? qopts_parse("chardev", comma + 1, NULL, NULL, QOPTS_LEGACY, &err)
                  : qopts_new("chardev");
        if (o && colon) {
            *colon = 0;
            qopts_set(o, "host", hostport);
            qopts_set(o, "port", colon + 1);
        } else if (o) {
            err = g_strdup_printf("parse error: %s", spec);
        }
        g_free(hostport);
        backend = "socket";
    } else {
        *errp = g_strdup_printf("'%s' is not a valid char driver", spec);
        return NULL;
    }
    if (err) {
        *errp = err;
        qopts_free(o);
        return NULL;
    }
    Chardev *c = chr_create(label, backend, o, mux, errp);
    qopts_free(o);
    return c;
}

/* ---- queries, ringbuf ----------------------------------------------------------------- */

void chardev_foreach(ChardevInfoFn *fn, void *opaque)
{
    for (guint i = 0; all_chardevs && i < all_chardevs->len; i++) {
        Chardev *c = g_ptr_array_index(all_chardevs, i);
        bool open = false;
        for (int j = 0; j < MAX_MUX_FE; j++) {
            open |= c->fe_used[j];
        }
        fn(opaque, c->label, c->filename, open || c->parent != NULL);
    }
}

static Chardev *find_ringbuf(const char *label, char **errp)
{
    Chardev *c = chardev_find(label);
    if (!c) {
        *errp = g_strdup_printf("Device '%s' not found", label);
        return NULL;
    }
    if (c->kind != CHR_RINGBUF) {
        *errp = g_strdup_printf("%s is not a ringbuf device", label);
        return NULL;
    }
    return c;
}

bool chardev_ringbuf_write(const char *label, const uint8_t *data, size_t len, char **errp)
{
    Chardev *c = find_ringbuf(label, errp);
    if (!c) {
        return false;
    }
    g_mutex_lock(&c->lock);
    ringbuf_put(c, data, len);
    g_mutex_unlock(&c->lock);
    return true;
}

uint8_t *chardev_ringbuf_read(const char *label, int64_t size, size_t *out_len, char **errp)
{
    Chardev *c = find_ringbuf(label, errp);
    if (!c) {
        return NULL;
    }
    if (size <= 0) {
        *errp = g_strdup("size must be greater than zero");
        return NULL;
    }
    g_mutex_lock(&c->lock);
    size_t avail = c->rb_prod - c->rb_cons;
    size_t n = (uint64_t)size < avail ? (size_t)size : avail;
    uint8_t *out = g_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        out[i] = c->rb[c->rb_cons++ & (c->rb_size - 1)];
    }
    out[n] = 0;
    g_mutex_unlock(&c->lock);
    *out_len = n;
    return out;
}

void chardev_close_all(void)
{
    if (!all_chardevs) {
        return;
    }
    /* Flush what is buffered (best effort, blocking briefly). */
    for (guint i = 0; i < all_chardevs->len; i++) {
        Chardev *c = g_ptr_array_index(all_chardevs, i);
        g_mutex_lock(&c->lock);
        int fd = chr_out_fd(c);
        if (fd >= 0 && c->outbuf->len) {
            g_unix_set_fd_nonblocking(fd, FALSE, NULL);
            flush_locked(c, false);
        }
        g_mutex_unlock(&c->lock);
    }
    for (guint i = all_chardevs->len; i > 0; i--) {
        chr_free(g_ptr_array_index(all_chardevs, i - 1));
    }
    g_ptr_array_free(all_chardevs, TRUE);
    all_chardevs = NULL;
    chardev_restore_tty();
}
