/*
 * The VNC server (ui/vnc*.c) in this process, showing a console this test fills, driven by
 * real clients from Debian (gvnccapture, TigerVNC's viewer under Xvfb, vncsnapshot with
 * vncpasswd's password file) and by raw sockets for the handshakes, the encodings a client
 * decodes here (zlib, CopyRect), input events and the malformed-input cases.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "../lib/unit.h"
#include "../../ui/vnc.h"
#include "vireo/console.h"
#include "vireo/input.h"
#include "vireo/runstate.h"
#include "vireo/machine.h"
#include "vireo/timer.h"
#include "vireo/ui.h"

#define W 640
#define H 480

static VConsole *con;
static char *tmpdir;
static int port;
static int stderr_fd = -1;
static bool asan; /* tests/run.sh --asan: VIREO_ASAN=1 */
static char *log_path;

/* ---- the screen ---- */

static uint32_t pattern(int x, int y)
{
    if (y < 160) { /* many colours: raw tiles */
        return (uint32_t)((x * 7) & 0xff) << 16 | (uint32_t)((y * 3) & 0xff) << 8 |
               (uint32_t)((x ^ y) & 0xff);
    }
    if (y < 320) { /* two colours, text-like */
        return (x / 3 + y / 5) % 3 == 0 ? 0xaaaaaa : 0x0000aa;
    }
    static const uint32_t pal[5] = {0x000000, 0xff5555, 0x55ff55, 0xffff55, 0x5555ff};
    return pal[(x / 64 + (y - 320) / 40) % 5];
}

static void fill(void)
{
    vireo_lock();
    uint32_t *px = pixman_image_get_data(console_surface(con));
    int st = pixman_image_get_stride(console_surface(con)) / 4;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            px[y * st + x] = 0xff000000u | pattern(x, y);
        }
    }
    console_dirty(con, 0, 0, W, H);
    vireo_unlock();
}

static uint32_t screen_px(int x, int y)
{
    uint32_t *px = pixman_image_get_data(console_surface(con));
    int st = pixman_image_get_stride(console_surface(con)) / 4;
    return px[y * st + x] & 0xffffff;
}

static void gfx_update(void *opaque)
{
}

static const ConsoleHwOps ops = {gfx_update, NULL};

/* ---- the main loop while something else happens ---- */

static gboolean tick(gpointer opaque)
{
    vireo_lock();
    vtimers_run();
    vireo_unlock();
    return G_SOURCE_CONTINUE;
}

static void spin(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* Run a client program while the server serves it; exit status, -1 on timeout. */
static int run_client(char **argv, int timeout_ms, const char *out_path)
{
    GPid pid;
    int out = -1;
    if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                  NULL, NULL, &pid, NULL, out_path ? &out : NULL, NULL, NULL)) {
        return -2;
    }
    GString *buf = g_string_new(NULL);
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    int status = 0;
    for (;;) {
        g_main_context_iteration(NULL, FALSE);
        if (out >= 0) {
            char b[4096];
            fcntl(out, F_SETFL, O_NONBLOCK);
            ssize_t n = read(out, b, sizeof(b));
            if (n > 0) {
                g_string_append_len(buf, b, n);
            }
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            break;
        }
        if (g_get_monotonic_time() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        g_usleep(1000);
    }
    if (out >= 0) {
        char b[4096];
        ssize_t n;
        while ((n = read(out, b, sizeof(b))) > 0) {
            g_string_append_len(buf, b, n);
        }
        close(out);
        g_file_set_contents(out_path, buf->str, buf->len, NULL);
    }
    g_string_free(buf, TRUE);
    g_spawn_close_pid(pid);
    if (status == -1) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- raw clients ---- */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Read exactly n bytes (the server runs meanwhile); false on EOF or timeout. */
static bool recv_n(int fd, void *buf, size_t n)
{
    size_t got = 0;
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (got < n && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        if (r == 0) {
            return false;
        }
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 1);
    }
    return got == n;
}

/* EOF from the server within a while. */
static bool closed_by_server(int fd)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        char b[4096];
        ssize_t r = recv(fd, b, sizeof(b), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            return true;
        }
        g_usleep(1000);
    }
    return false;
}

static void send_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r > 0) {
            p = (const char *)p + r, n -= (size_t)r;
        } else {
            g_main_context_iteration(NULL, FALSE);
        }
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Up to ServerInit with RFB 3.8 and security None; returns the socket or -1. */
static int handshake(uint8_t shared, char *name, size_t name_len)
{
    int fd = dial();
    uint8_t b[256];
    if (fd < 0 || !recv_n(fd, b, 12)) {
        return -1;
    }
    send_all(fd, "RFB 003.008\n", 12);
    if (!recv_n(fd, b, 2) || b[0] != 1 || b[1] != 1) {
        return -1;
    }
    send_all(fd, "\x01", 1);
    if (!recv_n(fd, b, 4) || be32(b) != 0) {
        return -1;
    }
    send_all(fd, &shared, 1);
    if (!recv_n(fd, b, 24)) {
        return -1;
    }
    uint32_t nl = be32(b + 20);
    if (nl >= sizeof(b) || !recv_n(fd, b, nl)) {
        return -1;
    }
    if (name) {
        snprintf(name, name_len, "%.*s", (int)nl, (char *)b);
    }
    return fd;
}

static void set_encodings(int fd, const int32_t *e, int n)
{
    uint8_t b[4 + 4 * 16] = {2, 0, 0, (uint8_t)n};
    for (int i = 0; i < n; i++) {
        b[4 + 4 * i] = (uint8_t)(e[i] >> 24), b[5 + 4 * i] = (uint8_t)(e[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(e[i] >> 8), b[7 + 4 * i] = (uint8_t)e[i];
    }
    send_all(fd, b, 4 + 4 * (size_t)n);
}

static void request(int fd, bool incremental, int x, int y, int w, int h)
{
    uint8_t b[10] = {3, incremental, x >> 8, x, y >> 8, y, w >> 8, w, h >> 8, h};
    send_all(fd, b, 10);
}

/* A raw client's copy of the screen. */
static uint32_t client_fb[W * H];

/* Read one FramebufferUpdate into client_fb; returns the encodings seen as a string. */
static bool read_update(int fd, z_stream *zs, GString *seen)
{
    uint8_t h[16];
    if (!recv_n(fd, h, 4) || h[0] != 0) {
        return false;
    }
    int n = be16(h + 2);
    for (int i = 0; i < n; i++) {
        if (!recv_n(fd, h, 12)) {
            return false;
        }
        int x = be16(h), y = be16(h + 2), w = be16(h + 4), hh = be16(h + 6);
        int32_t enc = (int32_t)be32(h + 8);
        g_string_append_printf(seen, "%d;", enc);
        if (enc == ENC_RAW || enc == ENC_ZLIB) {
            size_t len = (size_t)w * hh * 4;
            uint8_t *px = g_malloc(len + 1);
            if (enc == ENC_RAW) {
                if (!recv_n(fd, px, len)) {
                    return false;
                }
            } else {
                uint8_t l[4];
                if (!recv_n(fd, l, 4)) {
                    return false;
                }
                uint32_t zl = be32(l);
                uint8_t *z = g_malloc(zl + 1);
                if (!recv_n(fd, z, zl)) {
                    return false;
                }
                zs->next_in = z, zs->avail_in = zl;
                zs->next_out = px, zs->avail_out = (uInt)len;
                inflate(zs, Z_SYNC_FLUSH);
                g_free(z);
                if (zs->avail_out != 0) {
                    g_free(px);
                    return false;
                }
            }
            for (int j = 0; j < hh; j++) {
                for (int k = 0; k < w; k++) {
                    const uint8_t *p = px + ((size_t)j * w + k) * 4;
                    client_fb[(y + j) * W + x + k] = (uint32_t)p[2] << 16 | p[1] << 8 | p[0];
                }
            }
            g_free(px);
        } else if (enc == ENC_COPYRECT) {
            uint8_t s[4];
            if (!recv_n(fd, s, 4)) {
                return false;
            }
            int sx = be16(s), sy = be16(s + 2);
            uint32_t *tmp = g_new(uint32_t, (size_t)w * hh);
            for (int j = 0; j < hh; j++) {
                memcpy(tmp + j * w, client_fb + (sy + j) * W + sx, (size_t)w * 4);
            }
            for (int j = 0; j < hh; j++) {
                memcpy(client_fb + (y + j) * W + x, tmp + j * w, (size_t)w * 4);
            }
            g_free(tmp);
        } else if (enc == ENC_EXT_DESKTOPSIZE) {
            uint8_t s[4 + 16];
            if (!recv_n(fd, s, 4) || !recv_n(fd, s + 4, 16 * (size_t)s[0])) {
                return false;
            }
        } else if (enc == ENC_LED_STATE) {
            uint8_t s;
            if (!recv_n(fd, &s, 1)) {
                return false;
            }
        }
        /* pointer type change, QEMU ext key, DesktopSize: no data */
    }
    return true;
}

static bool client_matches_screen(void)
{
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            if (client_fb[y * W + x] != screen_px(x, y)) {
                printf("# differs at %d,%d: %06x vs %06x\n", x, y, client_fb[y * W + x],
                       screen_px(x, y));
                return false;
            }
        }
    }
    return true;
}

static char *read_log(void)
{
    fflush(stderr);
    gchar *s = NULL;
    g_file_get_contents(log_path, &s, NULL, NULL);
    return s ? s : g_strdup("");
}

/* ---- input ---- */

static GString *events;

static void ev(void *opaque, const InputEvent *e)
{
    switch (e->kind) {
    case INPUT_EVENT_KEY:
        g_string_append_printf(events, "K%s%d;", qcode_name(e->key.qcode), e->key.down);
        break;
    case INPUT_EVENT_BTN:
        g_string_append_printf(events, "B%s%d;", input_button_name(e->btn.button), e->btn.down);
        break;
    case INPUT_EVENT_ABS:
        g_string_append_printf(events, "A%d=%lld;", e->move.axis, (long long)e->move.value);
        break;
    case INPUT_EVENT_REL:
        g_string_append_printf(events, "R%d=%lld;", e->move.axis, (long long)e->move.value);
        break;
    }
}

static const InputHandlerOps kbd_ops = {"kbd", INPUT_MASK_KEY, ev, NULL};
static const InputHandlerOps tablet_ops = {"tablet", INPUT_MASK_BTN | INPUT_MASK_ABS, ev, NULL};

/* ---- tests ---- */

static void test_des(void)
{
    /* the worked example of FIPS 46 teaching material: K=133457799BBCDFF1 */
    static const uint8_t k[8] = {0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1};
    static const uint8_t p[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    static const uint8_t c[8] = {0x85, 0xe8, 0x13, 0x54, 0x0f, 0x0a, 0xb4, 0x05};
    uint8_t out[8];
    vnc_des_encrypt(k, p, out);
    CHECK("vnc/des-known-answer", !memcmp(out, c, 8));
}

static void start(const char *extra)
{
    char *err = NULL;
    /* a free port, then a range after it in case someone takes it first */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int p = 0;
    for (int tries = 0; tries < 20 && p < 5900 + 100; tries++) {
        bind(s, (struct sockaddr *)&sa, sizeof(sa));
        getsockname(s, (struct sockaddr *)&sa, &sl);
        p = ntohs(sa.sin_port);
        close(s);
        s = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_port = 0;
    }
    close(s);
    char *arg = g_strdup_printf("127.0.0.1:%d,to=%d%s", p - 5900, p - 5900 + 20, extra);
    if (!vnc_display_init(arg, "t", &err)) {
        printf("FAIL vnc/start: %s\n", err);
        exit(1);
    }
    g_free(arg);
    QJ *q = vnc_query();
    port = atoi(qj_get_str(q, "service"));
    qj_free(q);
}

static void test_handshakes(void)
{
    char name[64];
    int fd = handshake(1, name, sizeof(name));
    CHECK("vnc/rfb-3.8-none", fd >= 0 && !strcmp(name, "QEMU (t)"));
    close(fd);

    /* 3.3: the server names the security type; no SecurityResult for None */
    uint8_t b[32];
    fd = dial();
    bool ok = recv_n(fd, b, 12) && !memcmp(b, "RFB 003.008\n", 12);
    send_all(fd, "RFB 003.003\n", 12);
    ok = ok && recv_n(fd, b, 4) && be32(b) == 1;
    send_all(fd, "\x01", 1);
    ok = ok && recv_n(fd, b, 24) && be16(b) == W && be16(b + 2) == H && b[4] == 32 && b[5] == 24 &&
         b[7] == 1 && b[14] == 16 && b[15] == 8 && b[16] == 0;
    CHECK("vnc/rfb-3.3-none", ok);
    close(fd);

    /* 3.7: a list of types, the client picks; no SecurityResult for None */
    fd = dial();
    ok = recv_n(fd, b, 12);
    send_all(fd, "RFB 003.007\n", 12);
    ok = ok && recv_n(fd, b, 2) && b[0] == 1 && b[1] == 1;
    send_all(fd, "\x01\x01", 2); /* type None, then ClientInit */
    ok = ok && recv_n(fd, b, 24) && be16(b) == W;
    CHECK("vnc/rfb-3.7-none", ok);
    close(fd);
}

static void test_updates(void)
{
    z_stream zs = {0};
    inflateInit(&zs);
    int fd = handshake(1, NULL, 0);
    int32_t encs[] = {ENC_ZLIB, ENC_COPYRECT, ENC_RAW, ENC_EXT_DESKTOPSIZE};
    set_encodings(fd, encs, 4);
    request(fd, false, 0, 0, W, H);
    GString *seen = g_string_new(NULL);
    bool ok = read_update(fd, &zs, seen);
    CHECK("vnc/zlib-full-frame", ok && client_matches_screen() && strstr(seen->str, "6;"));
    CHECK("vnc/ext-desktop-size-announced", strstr(seen->str, "-308;") != NULL);

    /* a scroll: CopyRect for the moved area, then pixels for the new line only */
    vireo_lock();
    pixman_image_t *s = console_surface(con);
    uint32_t *px = pixman_image_get_data(s);
    memmove(px, px + 16 * W, (size_t)(H - 16) * W * 4);
    for (int i = (H - 16) * W; i < H * W; i++) {
        px[i] = 0xff123456;
    }
    console_copy(con, 0, 16, 0, 0, W, H - 16);
    console_dirty(con, 0, H - 16, W, 16);
    vireo_unlock();
    request(fd, true, 0, 0, W, H);
    size_t before = 0;
    (void)before;
    g_string_truncate(seen, 0);
    spin(80);
    ok = read_update(fd, &zs, seen);
    CHECK("vnc/copyrect-scroll", ok && !strcmp(seen->str, "1;6;") && client_matches_screen());
    if (strcmp(seen->str, "1;6;")) {
        printf("# seen %s\n", seen->str);
    }

    /* SetPixelFormat to 16 bits then back: a full update follows each (kept simple: 32) */
    close(fd);
    inflateEnd(&zs);
    g_string_free(seen, TRUE);
    fill();
    spin(60);
}

static void test_input_events(void)
{
    events = g_string_new(NULL);
    vireo_lock();
    InputHandler *k = input_handler_register(&kbd_ops, NULL);
    InputHandler *t = input_handler_register(&tablet_ops, NULL);
    vireo_unlock();
    int fd = handshake(1, NULL, 0);
    int32_t encs[] = {ENC_RAW, ENC_QEMU_EXT_KEY, ENC_POINTER_TYPE_CHANGE};
    set_encodings(fd, encs, 3);
    request(fd, true, 0, 0, W, H);
    GString *seen = g_string_new(NULL);
    bool ok = read_update(fd, NULL, seen);
    CHECK("vnc/pointer-type-absolute-and-ext-key-announced",
          ok && strstr(seen->str, "-257;") && strstr(seen->str, "-258;"));
    uint8_t key[8] = {4, 1, 0, 0, 0, 0, 0, 'A'};
    send_all(fd, key, 8);
    key[1] = 0;
    send_all(fd, key, 8);
    /* QEMU extended key event: Right Ctrl, scancode E0 1D sent as 0x9d */
    uint8_t ext[12] = {255, 0, 0, 1, 0, 0, 0xff, 0xe4, 0, 0, 0, 0x9d};
    send_all(fd, ext, 12);
    /* pointer at (639, 240) with the left button: scaled over the width as QEMU does
     * (639 * 0x7fff / 640) */
    uint8_t ptr[6] = {5, 1, 639 >> 8, 639 & 0xff, 0, 240};
    send_all(fd, ptr, 6);
    for (int i = 0; i < 300 && !(strstr(events->str, "Bleft") && strstr(events->str, "ctrl_r"));
         i++) {
        spin(10);
    }
    /* Keys go through QEMU's keyboard queue (10 ms apart), the pointer at once: compare each
     * in its order. 'A' without Shift: Caps Lock is pressed for it first (lock-key-sync). */
    GString *keys = g_string_new(NULL), *ptrs = g_string_new(NULL);
    char **ev = g_strsplit(events->str, ";", -1);
    for (char **e = ev; *e && **e; e++) {
        g_string_append_printf(**e == 'K' ? keys : ptrs, "%s;", *e);
    }
    g_strfreev(ev);
    CHECK("vnc/keys-and-absolute-pointer",
          !strcmp(keys->str, "Kcaps_lock1;Kcaps_lock0;Ka1;Ka0;Kctrl_r1;") &&
              !strcmp(ptrs->str, "A0=32715;A1=16383;Bleft1;"));
    if (strcmp(keys->str, "Kcaps_lock1;Kcaps_lock0;Ka1;Ka0;Kctrl_r1;")) {
        printf("# events %s\n", events->str);
    }
    g_string_free(keys, TRUE);
    g_string_free(ptrs, TRUE);
    close(fd);
    spin(20);
    vireo_lock();
    input_handler_unregister(t);
    input_handler_unregister(k);
    vireo_unlock();
    g_string_free(seen, TRUE);
    g_string_free(events, TRUE);
}

static void test_bad_input(void)
{
    int good = handshake(1, NULL, 0);
    static const struct {
        const char *name;
        const uint8_t *msg;
        size_t len;
        const char *log;
    } cases[] = {
        {"vnc/bad/unknown-message", (const uint8_t *)"\x07", 1, "unknown message type 7"},
        {"vnc/bad/huge-cut-text", (const uint8_t *)"\x06\0\0\0\x00\x20\x00\x00", 8,
         "exceeds the limit"},
        {"vnc/bad/pixel-format-24bpp",
         (const uint8_t *)"\0\0\0\0\x18\x18\0\x01\0\xff\0\xff\0\xff\x10\x08\0\0\0\0", 20,
         "unsupported pixel format"},
        {"vnc/bad/unknown-qemu-message", (const uint8_t *)"\xff\x09", 2, "unknown QEMU message"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        int fd = handshake(1, NULL, 0);
        send_all(fd, cases[i].msg, cases[i].len);
        bool closed = closed_by_server(fd);
        char *log = read_log();
        CHECK(cases[i].name, fd >= 0 && closed && strstr(log, cases[i].log));
        g_free(log);
        close(fd);
    }
    /* a bad version string; a handshake that stops half way */
    int fd = dial();
    uint8_t b[16];
    recv_n(fd, b, 12);
    send_all(fd, "XYZ 003.008\n", 12);
    char *log;
    bool closed = closed_by_server(fd);
    log = read_log();
    CHECK("vnc/bad/version", closed && strstr(log, "unsupported protocol version"));
    g_free(log);
    close(fd);
    fd = dial();
    recv_n(fd, b, 12);
    send_all(fd, "RFB 003.0", 9);
    spin(20);
    close(fd);
    spin(50);
    log = read_log();
    CHECK("vnc/bad/half-handshake", strstr(log, "connection closed during the handshake") != NULL);
    g_free(log);
    /* the well-behaved client is still served */
    request(good, false, 0, 0, 16, 16);
    GString *seen = g_string_new(NULL);
    CHECK("vnc/bad/others-unaffected", read_update(good, NULL, seen) && vnc_client_count() == 1);
    g_string_free(seen, TRUE);
    close(good);
    spin(20);
}

static void test_slow_client(void)
{
    int slow = handshake(1, NULL, 0);
    int shrink = 4096;
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &shrink, sizeof(shrink));
    int fast = handshake(1, NULL, 0);
    int updates = 0;
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < 20; i++) {
        request(slow, false, 0, 0, W, H); /* asks for everything, reads nothing */
        vireo_lock();
        uint32_t *px = pixman_image_get_data(console_surface(con));
        for (int j = 0; j < W * H; j += 7) {
            px[j] ^= 0x010203;
        }
        console_dirty(con, 0, 0, W, H);
        vireo_unlock();
        request(fast, true, 0, 0, W, H);
        spin(30);
        GString *seen = g_string_new(NULL);
        updates += read_update(fast, NULL, seen);
        g_string_free(seen, TRUE);
    }
    double secs = (g_get_monotonic_time() - t0) / 1e6;
    size_t q = vnc_client_queued_max();
    CHECK("vnc/slow-client-queue-bounded", q <= (size_t)W * H * 4);
    CHECK("vnc/slow-client-others-served", updates == 20 && secs < 20);
    if (q > (size_t)W * H * 4 || updates != 20) {
        printf("# queued %zu, %d updates in %.1fs\n", q, updates, secs);
    }
    close(slow);
    close(fast);
    spin(30);
    fill();
    spin(60);
}

/*
 * Every encoder over every pixel format a client may ask for, on whole frames and on odd
 * rectangles at the edges; the sizes must be what the format says (Raw), and nothing may
 * touch memory it should not (the sanitizer build runs this too).
 */
static void test_encoders(void)
{
    pixman_image_t *fb = pixman_image_create_bits(PIXMAN_x8r8g8b8, W, H, NULL, 0);
    pixman_image_composite(PIXMAN_OP_SRC, console_surface(con), NULL, fb, 0, 0, 0, 0, 0, 0, W, H);
    static const VncPixelFormat fmts[] = {
        {32, 24, 0, 1, 255, 255, 255, 16, 8, 0},
        {32, 24, 1, 1, 255, 255, 255, 0, 8, 16},
        {16, 16, 1, 1, 31, 63, 31, 11, 5, 0},
        {8, 8, 0, 1, 7, 7, 3, 0, 3, 6},
    };
    static const int encs[] = {ENC_RAW, ENC_HEXTILE, ENC_ZLIB, ENC_TIGHT, ENC_ZRLE};
    static const int rects[][4] = {{0, 100, 320, 120},
                                   {W - 1, H - 1, 1, 1},
                                   {630, 470, 10, 10},
                                   {3, 150, 77, 33},
                                   {64, 0, 65, 200}};
    bool raw_ok = true;
    size_t total = 0;
    for (size_t f = 0; f < G_N_ELEMENTS(fmts); f++) {
        VncEncoder e;
        vnc_encoder_init(&e);
        vnc_encoder_set_format(&e, &fmts[f]);
        for (size_t k = 0; k < G_N_ELEMENTS(encs); k++) {
            for (size_t r = 0; r < G_N_ELEMENTS(rects); r++) {
                GByteArray *b = g_byte_array_new();
                vnc_encode_rect(&e, b, fb, rects[r][0], rects[r][1], rects[r][2], rects[r][3],
                                encs[k]);
                if (encs[k] == ENC_RAW &&
                    b->len != 12 + (size_t)rects[r][2] * rects[r][3] * fmts[f].bpp / 8) {
                    raw_ok = false;
                }
                total += b->len;
                g_byte_array_free(b, TRUE);
            }
        }
        vnc_encoder_free(&e);
    }
    CHECK("vnc/encoders-all-formats", raw_ok && total > 0);
    pixman_image_unref(fb);
}

/* BMP (what gvnccapture writes for a .bmp name): 24 or 32 bits, bottom-up rows. */
static bool bmp_matches_screen(const char *path)
{
    gchar *d = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &d, &len, NULL) || len < 54 || d[0] != 'B') {
        g_free(d);
        return false;
    }
    const uint8_t *u = (const uint8_t *)d;
    uint32_t off = u[10] | u[11] << 8 | u[12] << 16 | (uint32_t)u[13] << 24;
    int32_t w = (int32_t)(u[18] | u[19] << 8 | u[20] << 16 | (uint32_t)u[21] << 24);
    int32_t h = (int32_t)(u[22] | u[23] << 8 | u[24] << 16 | (uint32_t)u[25] << 24);
    int bpp = u[28];
    bool ok = w == W && (h == H || h == -H) && (bpp == 24 || bpp == 32);
    size_t row = ((size_t)W * (bpp / 8) + 3) & ~3u;
    if (ok && off + row * H > len) {
        ok = false;
    }
    for (int y = 0; ok && y < H; y++) {
        const uint8_t *r = u + off + row * (size_t)(h > 0 ? H - 1 - y : y);
        for (int x = 0; x < W; x++) {
            const uint8_t *p = r + x * (bpp / 8);
            uint32_t v = (uint32_t)p[2] << 16 | p[1] << 8 | p[0];
            if (v != screen_px(x, y)) {
                printf("# %s differs at %d,%d: %06x vs %06x\n", path, x, y, v, screen_px(x, y));
                ok = false;
                break;
            }
        }
    }
    g_free(d);
    return ok;
}

static void test_gvnccapture(void)
{
    char *gv = g_find_program_in_path("gvnccapture");
    if (!gv) {
        printf("skip vnc/gvnccapture: gvnccapture not installed (gvncviewer)\n");
        return;
    }
    char *out = g_build_filename(tmpdir, "cap.bmp", NULL);
    char *target = g_strdup_printf("127.0.0.1:%d", port - 5900);
    char *argv[] = {gv, "-q", target, out, NULL};
    int rc = run_client(argv, 20000, NULL);
    CHECK("vnc/gvnccapture-pixels", rc == 0 && bmp_matches_screen(out));
    unlink(out);
    g_free(out), g_free(target), g_free(gv);
}

/*
 * xwd -root of a 24-bit Xvfb screen: somewhere near the top left (no window manager: the
 * viewer places itself where it guesses its frame ends) a W x H area must be the console.
 */
static bool xwd_matches_screen(const char *path, bool verbose)
{
    gchar *d = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &d, &len, NULL) || len < 100) {
        g_free(d);
        return false;
    }
    const uint8_t *u = (const uint8_t *)d;
    uint32_t hdr = be32(u), fmt = be32(u + 8), sw = be32(u + 16), sh = be32(u + 20);
    uint32_t bpp = be32(u + 44), bpl = be32(u + 48), ncolors = be32(u + 76);
    uint32_t byte_order = be32(u + 28);
    size_t off = hdr + (size_t)ncolors * 12;
    bool ok =
        fmt == 2 && bpp == 32 && sw >= W + 64 && sh >= H + 64 && off + (size_t)bpl * sh <= len;
#define XPX(x, y)                                                                                  \
    (byte_order                                                                                    \
         ? (uint32_t)u[off + (size_t)(y)*bpl + (x)*4 + 1] << 16 |                                  \
               u[off + (size_t)(y)*bpl + (x)*4 + 2] << 8 | u[off + (size_t)(y)*bpl + (x)*4 + 3]    \
         : (uint32_t)u[off + (size_t)(y)*bpl + (x)*4 + 2] << 16 |                                  \
               u[off + (size_t)(y)*bpl + (x)*4 + 1] << 8 | u[off + (size_t)(y)*bpl + (x)*4])
    int ox = -1, oy = -1;
    for (int y = 0; ok && y < 64 && ox < 0; y++) {
        for (int x = 0; x < 64; x++) {
            if (XPX(x + 1, y) == screen_px(1, 0) && XPX(x + 5, y + 3) == screen_px(5, 3) &&
                XPX(x + 100, y + 200) == screen_px(100, 200)) {
                ox = x, oy = y;
                break;
            }
        }
    }
    if (ok && ox < 0) {
        if (verbose) {
            printf("# %s: the picture is not there\n", path);
        }
        ok = false;
    }
    for (int y = 0; ok && y < H; y++) {
        for (int x = 0; x < W; x++) {
            uint32_t v = XPX(ox + x, oy + y);
            if (v != screen_px(x, y)) {
                if (verbose) {
                    printf("# %s differs at %d,%d: %06x vs %06x\n", path, x, y, v, screen_px(x, y));
                }
                ok = false;
                break;
            }
        }
    }
#undef XPX
    g_free(d);
    return ok;
}

static void test_tigervnc(void)
{
    char *xvfb = g_find_program_in_path("Xvfb"),
         *viewer = g_find_program_in_path("xtigervncviewer");
    char *xwd = g_find_program_in_path("xwd");
    if (!xvfb || !viewer || !xwd) {
        printf("skip vnc/tigervnc: needs Xvfb, xtigervncviewer and xwd\n");
        g_free(xvfb), g_free(viewer), g_free(xwd);
        return;
    }
    /* a display number nobody uses: Xvfb writes it to the fd given with -displayfd */
    int pfd[2];
    if (pipe(pfd) < 0) {
        return;
    }
    char *fdarg = g_strdup_printf("%d", pfd[1]);
    char *xargv[] = {xvfb,         "-displayfd", fdarg, "-screen", "0",
                     "800x600x24", "-nolisten",  "tcp", NULL};
    GPid xpid;
    if (!g_spawn_async(NULL, xargv, NULL,
                       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_LEAVE_DESCRIPTORS_OPEN |
                           G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, &xpid, NULL)) {
        printf("skip vnc/tigervnc: Xvfb did not start\n");
        return;
    }
    close(pfd[1]);
    char num[16] = "";
    struct pollfd p = {pfd[0], POLLIN, 0};
    if (poll(&p, 1, 10000) > 0) {
        ssize_t n = read(pfd[0], num, sizeof(num) - 1);
        num[n > 0 ? n : 0] = 0;
    }
    close(pfd[0]);
    g_strchomp(num);
    char *dpy = g_strdup_printf(":%s", num);
    char *server_arg = g_strdup_printf("127.0.0.1::%d", port);
    static const char *const encs[] = {"ZRLE", "Tight", "Hextile", "Raw"};
    int n_encs = 4;
    for (int i = 0; i < n_encs && *num; i++) {
        char *pref = g_strdup_printf("-PreferredEncoding=%s", encs[i]);
        char *vargv[] = {viewer,      "-display", dpy,       "-AutoSelect=0", pref, "-FullColor",
                         "-geometry", "+0+0",     "-Shared", server_arg,      NULL};
        GPid vpid;
        g_spawn_async(NULL, vargv, NULL,
                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL |
                          G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, &vpid, NULL);
        char *shot = g_build_filename(tmpdir, "shot.xwd", NULL);
        char *name = g_strdup_printf("vnc/tigervnc-%s-pixels", encs[i]);
        bool ok = false;
        /* poll the screen until the picture is there (the viewer takes a moment) */
        for (int tries = 0; tries < 30 && !ok; tries++) {
            spin(150);
            char *out_arg = g_strdup_printf("%s", shot);
            char *wargv[] = {xwd, "-display", dpy, "-root", "-silent", "-out", out_arg, NULL};
            if (run_client(wargv, 10000, NULL) == 0) {
                ok = xwd_matches_screen(shot, false);
            }
            g_free(out_arg);
        }
        if (!ok) {
            xwd_matches_screen(shot, true); /* print where it differs */
        }
        CHECK(name, ok);
        kill(vpid, SIGTERM);
        waitpid(vpid, NULL, 0);
        g_spawn_close_pid(vpid);
        unlink(shot);
        g_free(shot), g_free(name), g_free(pref);
        spin(50);
    }
    if (!*num) {
        printf("FAIL vnc/tigervnc: Xvfb gave no display number\n");
        unit_failures++;
    }
    kill(xpid, SIGTERM);
    waitpid(xpid, NULL, 0);
    g_spawn_close_pid(xpid);
    g_free(dpy), g_free(server_arg), g_free(fdarg), g_free(xvfb), g_free(viewer), g_free(xwd);
}

/* noVNC (Debian's novnc) in headless Chromium over websocket=: it logs in and shows the
 * desktop name in its status line. */
static void test_novnc(void)
{
    char *chromium = g_find_program_in_path("chromium");
    if (!chromium || !g_file_test("/usr/share/novnc/vnc_lite.html", G_FILE_TEST_EXISTS)) {
        printf("skip vnc/novnc: needs chromium and novnc\n");
        g_free(chromium);
        return;
    }
    int wsport = 0;
    for (int tries = 0; tries < 5 && !wsport; tries++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t sl = sizeof(sa);
        bind(s, (struct sockaddr *)&sa, sizeof(sa));
        getsockname(s, (struct sockaddr *)&sa, &sl);
        close(s);
        vnc_display_cleanup();
        char *extra = g_strdup_printf(",websocket=127.0.0.1:%d", ntohs(sa.sin_port));
        char *err = NULL;
        char *arg = g_strdup_printf("127.0.0.1:%d,to=%d%s", port - 5900, port - 5900 + 20, extra);
        if (vnc_display_init(arg, "t", &err)) {
            wsport = ntohs(sa.sin_port);
        }
        g_free(err), g_free(arg), g_free(extra);
    }
    char *url = g_strdup_printf(
        "file:///usr/share/novnc/vnc_lite.html?host=127.0.0.1&port=%d&path=", wsport);
    char *dom = g_build_filename(tmpdir, "dom.html", NULL);
    char *argv[] = {chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--allow-file-access-from-files",
                    NULL, /* --virtual-time-budget=, set below */
                    "--run-all-compositor-stages-before-draw",
                    "--dump-dom",
                    url,
                    NULL};
    /* Chromium's virtual time does not wait for the websocket: on a busy host the page was
     * dumped still "Connecting" after a 4 s budget. Each try gives it more; a noVNC that never
     * connects still fails. */
    int rc = -5;
    gchar *text = NULL;
    static const char *const budgets[] = {"--virtual-time-budget=4000",
                                          "--virtual-time-budget=15000",
                                          "--virtual-time-budget=40000"};
    for (int i = 0; i < 3 && wsport; i++) {
        argv[5] = (char *)budgets[i];
        g_free(text);
        text = NULL;
        rc = run_client(argv, 60000, dom);
        g_file_get_contents(dom, &text, NULL, NULL);
        if (rc == 0 && text && strstr(text, "Connected to QEMU (t)")) {
            break;
        }
        printf("# noVNC try %d: not connected yet\n", i + 1);
    }
    CHECK("vnc/novnc-websocket", rc == 0 && text && strstr(text, "Connected to QEMU (t)"));
    if (!(rc == 0 && text && strstr(text, "Connected to QEMU (t)"))) {
        const char *st = text ? strstr(text, "<div id=\"status\">") : NULL;
        printf("# chromium rc %d, ws port %d, status %.60s\n", rc, wsport, st ? st : "(none)");
    }
    g_free(text), g_free(dom), g_free(url), g_free(chromium);
}

static void test_password(void)
{
    vnc_display_cleanup();
    start(",password=on");
    char *snap = g_find_program_in_path("vncsnapshot"), *pw = g_find_program_in_path("vncpasswd");
    if (!snap || !pw) {
        printf("skip vnc/password: needs vncsnapshot and vncpasswd (tigervnc-tools)\n");
        g_free(snap), g_free(pw);
        return;
    }
    char *hint = NULL;
    CHECK("vnc/set-password", vnc_set_password(NULL, "s3cret", &hint));
    char *good = g_build_filename(tmpdir, "good.pw", NULL),
         *bad = g_build_filename(tmpdir, "bad.pw", NULL);
    char *cmd = g_strdup_printf(
        "printf 's3cret\\n' | %s -f > %s && printf 'wrong1\\n' | %s -f > %s", pw, good, pw, bad);
    int st = system(cmd);
    g_free(cmd);
    char *jpg = g_build_filename(tmpdir, "s.jpg", NULL);
    char *target = g_strdup_printf("127.0.0.1:%d", port - 5900);
    char *argv_good[] = {snap, "-quiet", "-passwd", good, target, jpg, NULL};
    char *argv_bad[] = {snap, "-quiet", "-passwd", bad, target, jpg, NULL};
    int rc = st == 0 ? run_client(argv_good, 20000, NULL) : -3;
    struct stat sb;
    CHECK("vnc/password-right", rc == 0 && stat(jpg, &sb) == 0 && sb.st_size > 1000);
    unlink(jpg);
    rc = run_client(argv_bad, 20000, NULL);
    char *log = read_log();
    CHECK("vnc/password-wrong", rc != 0 && stat(jpg, &sb) != 0 && strstr(log, "wrong password"));
    g_free(log);
    char *err = NULL;
    vnc_expire_password(NULL, "now", &err);
    rc = run_client(argv_good, 20000, NULL);
    log = read_log();
    CHECK("vnc/password-expired", rc != 0 && strstr(log, "password expired"));
    g_free(log);
    vnc_expire_password(NULL, "never", &err);
    rc = run_client(argv_good, 20000, NULL);
    CHECK("vnc/password-never-expires", rc == 0);
    unlink(jpg), unlink(good), unlink(bad);
    g_free(jpg), g_free(good), g_free(bad), g_free(target), g_free(snap), g_free(pw);
}

int main(void)
{
    vm_start(NULL); /* input reaches handlers only while the VM runs (no machine: state only) */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    asan = g_strcmp0(getenv("VIREO_ASAN"), "1") == 0;
    test_des();
    tmpdir = g_dir_make_tmp("vireo-vnc-XXXXXX", NULL);
    /* the server's log lines go to a file the checks read */
    log_path = g_build_filename(tmpdir, "log", NULL);
    int lfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    stderr_fd = dup(2);
    dup2(lfd, 2);
    close(lfd);

    vireo_lock();
    con = console_new_graphic("vga", 0, &ops, NULL);
    vireo_unlock();
    fill();
    g_timeout_add(10, tick, NULL);
    start("");
    spin(50);

    test_handshakes();
    test_updates();
    test_input_events();
    test_bad_input();
    test_slow_client();
    test_encoders();
    if (!asan) {
        /* the sanitizer rerun leaves out the X viewers (Xvfb alone takes 2 s): the same
         * encoder code ran just above under the sanitizers */
        test_gvnccapture();
        test_tigervnc();
        test_novnc();
    }
    test_password();

    vnc_display_cleanup();
    vireo_lock();
    console_reset_all();
    vireo_unlock();
    dup2(stderr_fd, 2);
    char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    int r = system(cmd);
    (void)r;
    g_free(cmd), g_free(tmpdir), g_free(log_path);
    UNIT_EXIT();
}
