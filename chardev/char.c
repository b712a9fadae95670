/*
 * Chardev backends: stdio (raw tty when interactive), null and file. Input is read by the
 * glib main loop only when the frontend has room, so a slow guest throttles the host side.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "vireo/chardev.h"
#include "vireo/error.h"
#include "vireo/machine.h"

struct Chardev {
    char *label;
    int in_fd, out_fd;
    bool owns_out;
    CharFrontend fe;
    bool attached;
    guint in_watch;
};

static struct termios saved_tty;
static bool tty_saved;

void chardev_restore_tty(void)
{
    if (tty_saved) {
        tcsetattr(0, TCSANOW, &saved_tty);
        tty_saved = false;
    }
}

static void stdio_make_raw(void)
{
    if (tty_saved || !isatty(0) || tcgetattr(0, &saved_tty) < 0) {
        return;
    }
    struct termios t = saved_tty;
    t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN);
    t.c_cflag &= ~(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    /* ISIG stays on, as QEMU's stdio chardev with signal=on: Ctrl-C ends the emulator. */
    tcsetattr(0, TCSANOW, &t);
    tty_saved = true;
    atexit(chardev_restore_tty);
}

static gboolean input_ready(GIOChannel *ch, GIOCondition cond, gpointer opaque)
{
    Chardev *c = opaque;
    uint8_t buf[256];
    vireo_lock();
    int room = c->attached ? c->fe.can_receive(c->fe.opaque) : (int)sizeof(buf);
    if (room <= 0) {
        /* Frontend full: stop polling until it calls chardev_accept_input(). */
        c->in_watch = 0;
        vireo_unlock();
        return G_SOURCE_REMOVE;
    }
    if (room > (int)sizeof(buf)) {
        room = sizeof(buf);
    }
    ssize_t n = read(c->in_fd, buf, room);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            vireo_unlock();
            return G_SOURCE_CONTINUE;
        }
        /* EOF or error: no more input, output goes on. */
        c->in_watch = 0;
        vireo_unlock();
        return G_SOURCE_REMOVE;
    }
    if (c->attached) {
        c->fe.receive(c->fe.opaque, buf, (int)n);
    }
    vireo_unlock();
    return G_SOURCE_CONTINUE;
}

/* Main loop: (re)start polling the input fd. */
static gboolean arm_input(gpointer opaque)
{
    Chardev *c = opaque;
    vireo_lock();
    if (c->in_fd >= 0 && !c->in_watch) {
        GIOChannel *ch = g_io_channel_unix_new(c->in_fd);
        c->in_watch = g_io_add_watch(ch, G_IO_IN | G_IO_HUP | G_IO_ERR, input_ready, c);
        g_io_channel_unref(ch);
    }
    vireo_unlock();
    return G_SOURCE_REMOVE;
}

void chardev_accept_input(Chardev *c)
{
    if (c && c->in_fd >= 0 && !c->in_watch) {
        g_idle_add(arm_input, c);
    }
}

Chardev *chardev_from_spec(const char *spec, bool *none)
{
    *none = false;
    Chardev *c = g_new0(Chardev, 1);
    c->in_fd = c->out_fd = -1;
    c->label = g_strdup(spec);
    if (!strcmp(spec, "none")) {
        *none = true;
        g_free(c->label);
        g_free(c);
        return NULL;
    } else if (!strcmp(spec, "stdio")) {
        c->in_fd = 0;
        c->out_fd = 1;
        stdio_make_raw();
    } else if (!strcmp(spec, "null")) {
        /* nothing in, output discarded */
    } else if (!strncmp(spec, "file:", 5)) {
        c->out_fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (c->out_fd < 0) {
            error_report("could not open serial device '%s': %s", spec + 5, strerror(errno));
            goto fail;
        }
        c->owns_out = true;
    } else {
        error_report("'%s' is not a valid char driver", spec);
        goto fail;
    }
    if (c->in_fd >= 0) {
        arm_input(c);
    }
    return c;
fail:
    g_free(c->label);
    g_free(c);
    return NULL;
}

void chardev_attach(Chardev *c, const CharFrontend *fe)
{
    c->fe = *fe;
    c->attached = true;
}

void chardev_detach(Chardev *c)
{
    c->attached = false;
}

void chardev_write(Chardev *c, const uint8_t *buf, size_t len)
{
    if (!c || c->out_fd < 0) {
        return;
    }
    while (len > 0) {
        ssize_t n = write(c->out_fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                /* Terminal flow control: wait briefly rather than lose output. */
                g_usleep(1000);
                continue;
            }
            return;
        }
        buf += n;
        len -= n;
    }
}

void chardev_close(Chardev *c)
{
    if (!c) {
        return;
    }
    if (c->in_watch) {
        g_source_remove(c->in_watch);
    }
    if (c->owns_out) {
        close(c->out_fd);
    }
    g_free(c->label);
    g_free(c);
}
