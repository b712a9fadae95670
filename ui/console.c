/*
 * Consoles (include/vireo/console.h): surfaces, dirty areas, the refresh timer and the
 * listeners that show them.
 *
 * State is guarded by vireo_lock(), except the listener list's walk from the main thread,
 * which only the main thread changes. A tick (timer thread, lock held) asks each watched
 * console's device for an update; what changed is kept per console as a list of moves
 * (console_copy) followed by a dirty region, and handed to the listeners on the main thread
 * (an eventfd wakes it): moves in order, then the dirty rectangles.
 */
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "vireo/console.h"
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/timer.h"

#define REFRESH_BASE_MS 30   /* QEMU's GUI_REFRESH_INTERVAL_DEFAULT */
#define REFRESH_INC_MS  50   /* per idle tick */
#define REFRESH_MAX_MS  3000 /* QEMU's GUI_REFRESH_INTERVAL_IDLE */
#define MAX_COPIES      16   /* queued moves per console; more become dirty areas */
#define MAX_CONSOLES    64

typedef struct Copy {
    int sx, sy, dx, dy, w, h;
} Copy;

struct VConsole {
    int index;
    bool graphic;
    char *label;
    int head;
    const ConsoleHwOps *ops; /* NULL: released or text */
    void *opaque;
    pixman_image_t *surface;
    /* pending for listeners (lock) */
    bool switched;
    Copy copies[MAX_COPIES];
    int n_copies;
    pixman_region32_t dirty;
    /* cursor (lock) */
    bool cursor_changed;
    int cur_w, cur_h, cur_hx, cur_hy;
    uint32_t *cur_pixels;
};

static VConsole *consoles[MAX_CONSOLES];
static int n_consoles;
static int active_index;
static bool text_enabled;

static DisplayListener *listeners; /* main thread */
static int n_listeners;            /* lock */

static VTimer refresh_timer;
static bool timer_ready;
static int interval_ms = REFRESH_BASE_MS;
static int wake_fd = -1;
static guint wake_watch;
static bool wake_pending; /* lock */

static void wake_main(void);

/* ---- consoles ----------------------------------------------------------------------------- */

static VConsole *console_alloc(bool graphic, const char *label, int head)
{
    if (n_consoles >= MAX_CONSOLES) {
        return NULL;
    }
    VConsole *con = g_new0(VConsole, 1);
    con->graphic = graphic;
    con->label = g_strdup(label ? label : "");
    con->head = head;
    pixman_region32_init(&con->dirty);
    con->surface = pixman_image_create_bits(PIXMAN_x8r8g8b8, 640, 480, NULL, 0);
    if (graphic) {
        /* graphic consoles before text ones, as QEMU orders them */
        int pos = 0;
        while (pos < n_consoles && consoles[pos]->graphic) {
            pos++;
        }
        memmove(&consoles[pos + 1], &consoles[pos], (n_consoles - pos) * sizeof(consoles[0]));
        consoles[pos] = con;
    } else {
        consoles[n_consoles] = con;
    }
    n_consoles++;
    for (int i = 0; i < n_consoles; i++) {
        consoles[i]->index = i;
    }
    /* the active console is the first graphic one, else the first text one */
    active_index = 0;
    /* listeners that had nothing to show (no console yet, or a machine reset freed theirs)
     * get the active console at the next delivery */
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        if (!dl->con) {
            dl->con = consoles[0];
            consoles[0]->switched = true;
            wake_main();
        }
    }
    return con;
}

VConsole *console_new_graphic(const char *label, int head, const ConsoleHwOps *ops, void *opaque)
{
    /* A device made again (the machine rebuilt at a guest reset) takes back its released
     * console, so the console's index and its viewers stay. */
    for (int i = 0; i < n_consoles; i++) {
        VConsole *c = consoles[i];
        if (c->graphic && !c->ops && c->head == head && !strcmp(c->label, label ? label : "")) {
            c->ops = ops;
            c->opaque = opaque;
            return c;
        }
    }
    VConsole *con = console_alloc(true, label, head);
    if (con) {
        con->ops = ops;
        con->opaque = opaque;
    }
    return con;
}

/* ui/console-vc.c makes text consoles through this. */
VConsole *console_new_text(const char *label, const ConsoleHwOps *ops, void *opaque);
VConsole *console_new_text(const char *label, const ConsoleHwOps *ops, void *opaque)
{
    VConsole *con = console_alloc(false, label, 0);
    if (con) {
        con->ops = ops;
        con->opaque = opaque;
    }
    return con;
}

void console_release(VConsole *con)
{
    con->ops = NULL;
    con->opaque = NULL;
    console_resize(con, 640, 480);
}

static void surface_switched(VConsole *con)
{
    con->switched = true;
    con->n_copies = 0;
    pixman_region32_clear(&con->dirty);
    wake_main();
}

pixman_image_t *console_resize(VConsole *con, int width, int height)
{
    if (width < 1) {
        width = 1;
    }
    if (height < 1) {
        height = 1;
    }
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, 0);
    if (con->surface) {
        pixman_image_unref(con->surface);
    }
    con->surface = img;
    surface_switched(con);
    return img;
}

void console_set_surface(VConsole *con, pixman_image_t *image)
{
    pixman_image_ref(image);
    if (con->surface) {
        pixman_image_unref(con->surface);
    }
    con->surface = image;
    surface_switched(con);
}

pixman_image_t *console_surface(VConsole *con)
{
    return con->surface;
}

int console_width(VConsole *con)
{
    return pixman_image_get_width(con->surface);
}

int console_height(VConsole *con)
{
    return pixman_image_get_height(con->surface);
}

/* Clip (x, y, w, h) to the surface; false if nothing is left. */
static bool clip(VConsole *con, int *x, int *y, int *w, int *h)
{
    int sw = console_width(con), sh = console_height(con);
    int x0 = *x < 0 ? 0 : *x, y0 = *y < 0 ? 0 : *y;
    int64_t x1 = (int64_t)*x + *w, y1 = (int64_t)*y + *h;
    if (x1 > sw) {
        x1 = sw;
    }
    if (y1 > sh) {
        y1 = sh;
    }
    if (x1 <= x0 || y1 <= y0) {
        return false;
    }
    *x = x0, *y = y0, *w = (int)x1 - x0, *h = (int)y1 - y0;
    return true;
}

void console_dirty(VConsole *con, int x, int y, int w, int h)
{
    if (!clip(con, &x, &y, &w, &h)) {
        return;
    }
    pixman_region32_union_rect(&con->dirty, &con->dirty, x, y, (unsigned)w, (unsigned)h);
    wake_main();
}

void console_copy(VConsole *con, int sx, int sy, int dx, int dy, int w, int h)
{
    int sw = console_width(con), sh = console_height(con);
    if (w <= 0 || h <= 0 || sx < 0 || sy < 0 || dx < 0 || dy < 0 || sx + w > sw || dx + w > sw ||
        sy + h > sh || dy + h > sh) {
        console_dirty(con, dx, dy, w, h);
        return;
    }
    /* A move of pixels the listeners have not seen yet, or one too many: send pixels. */
    pixman_box32_t src = {sx, sy, sx + w, sy + h};
    if (con->switched || con->n_copies == MAX_COPIES ||
        pixman_region32_contains_rectangle(&con->dirty, &src) != PIXMAN_REGION_OUT) {
        console_dirty(con, dx, dy, w, h);
        return;
    }
    con->copies[con->n_copies++] = (Copy){sx, sy, dx, dy, w, h};
    wake_main();
}

void console_kick(VConsole *con)
{
    (void)con;
    if (interval_ms != REFRESH_BASE_MS && timer_ready && vtimer_pending(&refresh_timer)) {
        interval_ms = REFRESH_BASE_MS;
        int64_t when = clock_ns(VIREO_CLOCK_REALTIME) + (int64_t)REFRESH_BASE_MS * 1000000;
        if (refresh_timer.expire > when) {
            vtimer_mod(&refresh_timer, when);
        }
    }
}

void console_cursor_define(VConsole *con, int w, int h, int hx, int hy, const uint32_t *pixels)
{
    g_free(con->cur_pixels);
    con->cur_pixels = NULL;
    if (pixels && w > 0 && h > 0 && w <= 256 && h <= 256) {
        con->cur_pixels = g_memdup2(pixels, (gsize)w * h * 4);
        con->cur_w = w, con->cur_h = h, con->cur_hx = hx, con->cur_hy = hy;
    } else {
        con->cur_w = con->cur_h = 0;
    }
    con->cursor_changed = true;
    wake_main();
}

void console_enable_text(bool on)
{
    text_enabled = on;
}

bool console_text_enabled(void)
{
    return text_enabled;
}

int console_count(void)
{
    return n_consoles;
}

VConsole *console_by_index(int index)
{
    return index >= 0 && index < n_consoles ? consoles[index] : NULL;
}

VConsole *console_lookup_locked(const char *device, int64_t head, const char **errclass,
                                char **errp)
{
    VConsole *con = head < 0 || head > INT32_MAX ? NULL : console_by_device(device, (int)head);
    if (!con) {
        if (!device_find_id(device)) {
            *errclass = "DeviceNotFound";
            *errp = g_strdup_printf("Device '%s' not found", device);
        } else {
            *errclass = "GenericError";
            *errp = g_strdup_printf("Device %s (head %" G_GINT64_FORMAT
                                    ") is not bound to a QemuConsole",
                                    device, head);
        }
    }
    return con;
}

VConsole *console_by_device(const char *label, int head)
{
    for (int i = 0; i < n_consoles; i++) {
        if (consoles[i]->graphic && !strcmp(consoles[i]->label, label) &&
            consoles[i]->head == head) {
            return consoles[i];
        }
    }
    return NULL;
}

int console_index(VConsole *con)
{
    return con->index;
}

bool console_is_graphic(VConsole *con)
{
    return con->graphic;
}

const char *console_label(VConsole *con)
{
    return con->label;
}

int console_head(VConsole *con)
{
    return con->head;
}

VConsole *console_active(void)
{
    return console_by_index(active_index);
}

/* ---- refresh ------------------------------------------------------------------------------ */

static bool watched(VConsole *con)
{
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        if (dl->con == con) {
            return true;
        }
    }
    return false;
}

static void update_console(VConsole *con)
{
    if (con->ops && con->ops->gfx_update) {
        con->ops->gfx_update(con->opaque);
    }
}

static bool pending(VConsole *con)
{
    return con->switched || con->n_copies || pixman_region32_not_empty(&con->dirty) ||
           con->cursor_changed;
}

static void refresh_tick(void *opaque)
{
    (void)opaque;
    bool busy = false;
    for (int i = 0; i < n_consoles; i++) {
        if (watched(consoles[i])) {
            update_console(consoles[i]);
            busy |= pending(consoles[i]);
        }
    }
    if (busy) {
        /* changes made while nobody listened (or before a wake was possible) go out now */
        wake_main();
        interval_ms = REFRESH_BASE_MS;
    } else if (interval_ms < REFRESH_MAX_MS) {
        interval_ms += REFRESH_INC_MS;
        if (interval_ms > REFRESH_MAX_MS) {
            interval_ms = REFRESH_MAX_MS;
        }
    }
    if (n_listeners > 0) {
        vtimer_mod(&refresh_timer, clock_ns(VIREO_CLOCK_REALTIME) + (int64_t)interval_ms * 1000000);
    }
}

void console_tick_now(void)
{
    refresh_tick(NULL);
}

/* Called with the lock held: wake the main thread to deliver. */
static void wake_main(void)
{
    if (wake_fd < 0 || wake_pending || n_listeners == 0) {
        return;
    }
    wake_pending = true;
    uint64_t one = 1;
    ssize_t r = write(wake_fd, &one, sizeof(one));
    (void)r;
}

static void deliver_console(VConsole *con)
{
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        if (dl->con != con) {
            continue;
        }
        if (con->switched) {
            dl->ops->gfx_switch(dl, con->surface);
            continue;
        }
        for (int i = 0; i < con->n_copies; i++) {
            Copy *c = &con->copies[i];
            if (dl->ops->gfx_copy) {
                dl->ops->gfx_copy(dl, c->sx, c->sy, c->dx, c->dy, c->w, c->h);
            } else {
                dl->ops->gfx_update(dl, c->dx, c->dy, c->w, c->h);
            }
        }
        int n;
        pixman_box32_t *b = pixman_region32_rectangles(&con->dirty, &n);
        for (int i = 0; i < n; i++) {
            dl->ops->gfx_update(dl, b[i].x1, b[i].y1, b[i].x2 - b[i].x1, b[i].y2 - b[i].y1);
        }
        if (con->cursor_changed && dl->ops->cursor_define) {
            dl->ops->cursor_define(dl, con->cur_w, con->cur_h, con->cur_hx, con->cur_hy,
                                   con->cur_pixels);
        }
    }
    con->switched = false;
    con->n_copies = 0;
    con->cursor_changed = false;
    pixman_region32_clear(&con->dirty);
}

void console_deliver_now(void)
{
    vireo_lock();
    wake_pending = false;
    for (int i = 0; i < n_consoles; i++) {
        if (pending(consoles[i])) {
            deliver_console(consoles[i]);
        }
    }
    vireo_unlock();
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        if (dl->ops->refresh) {
            dl->ops->refresh(dl);
        }
    }
}

static gboolean on_wake(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    console_deliver_now();
    return G_SOURCE_CONTINUE;
}

/* ---- listeners ---------------------------------------------------------------------------- */

static void start_timer_locked(void)
{
    if (!timer_ready) {
        vtimer_init_clock(&refresh_timer, VIREO_CLOCK_REALTIME, refresh_tick, NULL);
        timer_ready = true;
    }
    interval_ms = REFRESH_BASE_MS;
    vtimer_mod(&refresh_timer, clock_ns(VIREO_CLOCK_REALTIME) + (int64_t)REFRESH_BASE_MS * 1000000);
}

/* A listener starts watching con: bring the console up to date and hand it the surface. */
static void attach_locked(DisplayListener *dl)
{
    VConsole *con = dl->con;
    if (!con) {
        return;
    }
    if (con->ops && con->ops->invalidate) {
        con->ops->invalidate(con->opaque);
    }
    update_console(con);
    dl->ops->gfx_switch(dl, con->surface);
    if (con->cur_w && dl->ops->cursor_define) {
        dl->ops->cursor_define(dl, con->cur_w, con->cur_h, con->cur_hx, con->cur_hy,
                               con->cur_pixels);
    }
}

void display_listener_register(DisplayListener *dl, VConsole *con)
{
    if (wake_fd < 0) {
        wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd >= 0) {
            wake_watch = g_unix_fd_add(wake_fd, G_IO_IN, on_wake, NULL);
        }
    }
    vireo_lock();
    dl->fixed = con != NULL;
    dl->con = con ? con : console_active();
    dl->next = listeners;
    listeners = dl;
    if (n_listeners++ == 0) {
        start_timer_locked();
    }
    attach_locked(dl);
    vireo_unlock();
    if (dl->ops->refresh) {
        dl->ops->refresh(dl);
    }
}

void display_listener_unregister(DisplayListener *dl)
{
    vireo_lock();
    for (DisplayListener **p = &listeners; *p; p = &(*p)->next) {
        if (*p == dl) {
            *p = dl->next;
            n_listeners--;
            break;
        }
    }
    dl->next = NULL;
    if (n_listeners == 0 && timer_ready) {
        vtimer_del(&refresh_timer);
    }
    vireo_unlock();
}

void console_select(int index)
{
    vireo_lock();
    if (index < 0 || index >= n_consoles || index == active_index) {
        vireo_unlock();
        return;
    }
    active_index = index;
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        if (!dl->fixed) {
            dl->con = consoles[index];
            attach_locked(dl);
        }
    }
    vireo_unlock();
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        if (dl->ops->refresh) {
            dl->ops->refresh(dl);
        }
    }
}

pixman_image_t *console_snapshot(VConsole *con)
{
    if (con->ops && con->ops->invalidate) {
        con->ops->invalidate(con->opaque);
    }
    update_console(con);
    int w = console_width(con), h = console_height(con);
    pixman_image_t *copy = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
    pixman_image_composite(PIXMAN_OP_SRC, con->surface, NULL, copy, 0, 0, 0, 0, 0, 0, w, h);
    return copy;
}

void console_reset_all(void)
{
    if (timer_ready) {
        vtimer_del(&refresh_timer);
    }
    for (DisplayListener *dl = listeners; dl; dl = dl->next) {
        dl->con = NULL;
    }
    for (int i = 0; i < n_consoles; i++) {
        VConsole *con = consoles[i];
        pixman_region32_fini(&con->dirty);
        if (con->surface) {
            pixman_image_unref(con->surface);
        }
        g_free(con->cur_pixels);
        g_free(con->label);
        g_free(con);
        consoles[i] = NULL;
    }
    n_consoles = 0;
    active_index = 0;
}
