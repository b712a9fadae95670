/*
 * Entropy backends (include/vireo/rng.h): rng-builtin reads the host's getrandom() (QEMU's
 * qemu_guest_getrandom without a -seed), rng-random reads a file (default /dev/urandom), opened
 * non-blocking when the object is created; when it has nothing to give, a main-loop watch on
 * the descriptor tells the device to ask again.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include "vireo/rng.h"

struct RngBackend {
    char *id; /* NULL: a device's own default backend */
    int fd;   /* rng-random; -1 for rng-builtin */
    int refs;
    bool eof; /* the file ended: poll for more */
    guint watch;
    void (*cb)(void *opaque);
    void *opaque;
};

static GPtrArray *backends;

bool rng_backend_create(const char *type, const char *id, const char *filename, char **errp);
void rng_backends_destroy(void);

bool rng_backend_create(const char *type, const char *id, const char *filename, char **errp)
{
    RngBackend *b = g_new0(RngBackend, 1);
    b->fd = -1;
    b->refs = 1;
    if (!strcmp(type, "rng-random")) {
        const char *f = filename ? filename : "/dev/urandom";
        b->fd = open(f, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (b->fd < 0) {
            *errp = g_strdup_printf("Could not open '%s': %s", f, strerror(errno));
            g_free(b);
            return false;
        }
    }
    b->id = g_strdup(id);
    if (!backends) {
        backends = g_ptr_array_new();
    }
    g_ptr_array_add(backends, b);
    return true;
}

RngBackend *rng_backend_find(const char *id)
{
    for (guint i = 0; backends && i < backends->len; i++) {
        RngBackend *b = g_ptr_array_index(backends, i);
        if (!strcmp(b->id, id)) {
            return b;
        }
    }
    return NULL;
}

RngBackend *rng_backend_new_builtin(void)
{
    RngBackend *b = g_new0(RngBackend, 1);
    b->fd = -1;
    b->refs = 1;
    return b;
}

void rng_backend_ref(RngBackend *b)
{
    b->refs++;
}

void rng_backend_unref(RngBackend *b)
{
    if (--b->refs > 0) {
        return;
    }
    rng_backend_cancel(b);
    if (b->fd >= 0) {
        close(b->fd);
    }
    g_free(b->id);
    g_free(b);
}

void rng_backends_destroy(void)
{
    for (guint i = 0; backends && i < backends->len; i++) {
        rng_backend_unref(g_ptr_array_index(backends, i));
    }
    if (backends) {
        g_ptr_array_free(backends, TRUE);
        backends = NULL;
    }
}

size_t rng_backend_read(RngBackend *b, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = b->fd < 0 ? getrandom((uint8_t *)buf + done, len - done, GRND_NONBLOCK)
                              : read(b->fd, (uint8_t *)buf + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0 && b->fd >= 0) {
            b->eof = true;
        }
        if (n <= 0) {
            break; /* EAGAIN, the end of a file, an error: what we have */
        }
        done += (size_t)n;
    }
    return done;
}

static gboolean readable(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)fd;
    (void)cond;
    RngBackend *b = opaque;
    void (*cb)(void *) = b->cb;
    b->watch = 0;
    b->cb = NULL;
    if (cb) {
        cb(b->opaque);
    }
    return G_SOURCE_REMOVE;
}

static gboolean retry_later(gpointer opaque)
{
    return readable(-1, 0, opaque);
}

void rng_backend_wait(RngBackend *b, void (*cb)(void *opaque), void *opaque)
{
    rng_backend_cancel(b);
    b->cb = cb;
    b->opaque = opaque;
    /* a file at its end (or getrandom without entropy yet) is not "readable" later: poll */
    b->watch = b->fd >= 0 && !b->eof ? g_unix_fd_add(b->fd, G_IO_IN, readable, b)
                                     : g_timeout_add(100, retry_later, b);
}

void rng_backend_cancel(RngBackend *b)
{
    if (b->watch) {
        g_source_remove(b->watch);
        b->watch = 0;
    }
    b->cb = NULL;
}
