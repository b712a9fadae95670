/*
 * libFuzzer target over the VNC server's client-message parser (ui/vnc.c): each input is what
 * a client sends after connecting (version, security, ClientInit, then messages), fed through
 * a socketpair to a server showing a small console; the server runs until it has consumed the
 * input or closed the client. Built and run by `make fuzz-vnc` (tests/fuzz/fuzz-vnc.sh) with
 * clang -fsanitize=fuzzer,address,undefined; the machine side is stubbed below.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "vireo/console.h"
#include "vireo/device.h"
#include "vireo/runstate.h"
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/monitor.h"
#include "vireo/timer.h"
#include "vireo/ui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the machine side, stubbed ---- */
void vireo_lock(void)
{
}
void vireo_unlock(void)
{
}
int64_t clock_ns(ClockType clock)
{
    return g_get_monotonic_time() * 1000;
}
void vtimer_init_clock(VTimer *t, ClockType clock, void (*cb)(void *opaque), void *opaque)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb, t->opaque = opaque;
}
void vtimer_mod(VTimer *t, int64_t expire_ns)
{
    t->expire = expire_ns, t->armed = true;
}
void vtimer_del(VTimer *t)
{
    t->armed = false;
}
void vtimer_init(VTimer *t, void (*cb)(void *opaque), void *opaque)
{
    vtimer_init_clock(t, VIREO_CLOCK_VIRTUAL, cb, opaque);
}
int64_t vclock_ns(void)
{
    return clock_ns(VIREO_CLOCK_VIRTUAL);
}
bool runstate_is_running(void)
{
    return true; /* keys reach the (absent) devices; send-key's queue stays bounded */
}
Device *device_find_id(const char *id)
{
    (void)id;
    return NULL;
}
void monitor_event(const char *name, QJ *data)
{
    qj_free(data);
}

static void update(void *opaque)
{
}
static const ConsoleHwOps ops = {update, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static VConsole *con;
    if (!con) {
        error_progname = "fuzz-vnc";
        con = console_new_graphic("vga", 0, &ops, NULL);
        pixman_image_t *s = console_resize(con, 64, 48);
        uint32_t *px = pixman_image_get_data(s);
        for (int i = 0; i < 64 * 48; i++) {
            px[i] = (uint32_t)(i * 2654435761u);
        }
        char *err = NULL;
        /* security None, so inputs reach the messages (VNC auth needs the DES of a random
         * challenge, which a fuzzer cannot send) */
        if (!vnc_display_init("none", NULL, &err)) {
            abort();
        }
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return 0;
    }
    int big = 1 << 22;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    vnc_add_client_fd(sv[0]);
    size_t off = 0;
    int idle = 0;
    char sink[65536];
    while (idle < 3 && vnc_client_count() > 0) {
        if (off < size) {
            ssize_t n = send(sv[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                off += (size_t)n;
            }
        } else {
            shutdown(sv[1], SHUT_WR);
        }
        while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0) {
        }
        if (!g_main_context_iteration(NULL, FALSE)) {
            idle += off >= size;
        } else {
            idle = 0;
        }
        console_tick_now();
        console_deliver_now();
    }
    close(sv[1]);
    /* the client goes when it sees EOF; run until it has */
    for (int i = 0; i < 100 && vnc_client_count() > 0; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    return 0;
}
