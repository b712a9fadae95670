/*
 * Consoles (ui/console.c): the screens a display device draws and a user interface shows.
 *
 * A console has a surface: a pixman image, normally 32-bit x8r8g8b8. Two kinds:
 *   - graphic: a display device (VGA, bochs-display) owns it (ConsoleHwOps) and draws into the
 *     surface, or hands the console an image over its own memory (console_set_surface);
 *   - text: a `vc` chardev (`-serial vc`, `-monitor vc`) rendered by ui/console-vc.c with the
 *     VGA font, as QEMU shows serial ports and monitors when there is a display.
 * Graphic consoles come first (index 0 is the first display device), as QEMU's.
 *
 * Refresh: while at least one listener (a VNC client, ...) watches, a VIREO_CLOCK_REALTIME
 * timer of the timer service ticks (30 ms, backing off to 3 s while nothing changes; an input
 * event or console_kick() brings it back to 30 ms). Each tick, in the timer thread with
 * vireo_lock() held, calls the device's gfx_update: the device brings the surface up to date
 * from the guest's state and reports changed areas with console_dirty(). Listeners then hear
 * about the changes on the main loop thread. Without listeners nothing ticks: a screen nobody
 * watches costs nothing.
 *
 * Locking: the device-side calls below are made with vireo_lock() held (from a tick, a vCPU's
 * MMIO/PIO exit, or realize/reset). Listener callbacks run on the main thread; gfx_switch and
 * gfx_update with the lock held (copy what you need, quickly), refresh without it.
 */
#ifndef VIREO_CONSOLE_H
#define VIREO_CONSOLE_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct VConsole VConsole;

/* ---- display devices ---------------------------------------------------------------------- */

typedef struct ConsoleHwOps {
    /* A refresh tick (vireo_lock held): update the surface and call console_dirty() for what
     * changed. May resize (console_resize/console_set_surface). */
    void (*gfx_update)(void *opaque);
    /* Everything must be redrawn at the next gfx_update (a new viewer, screendump). */
    void (*invalidate)(void *opaque);
} ConsoleHwOps;

/* A graphic console for a display device; label is the device's id or type name (QEMU's
 * console "device" for -vnc display= and screendump device=), head its output number. The
 * surface starts 640x480, black. */
VConsole *console_new_graphic(const char *label, int head, const ConsoleHwOps *ops, void *opaque);
/* The device goes away (unrealize): the console stays as a blank, unowned screen; a graphic
 * console made later with the same label and head takes it back (a machine rebuilt at reset). */
void console_release(VConsole *con);

/*
 * A new console-owned x8r8g8b8 surface of width x height, all black (listeners are told of the
 * new size). Returns it for drawing; valid until the next resize/set_surface.
 */
pixman_image_t *console_resize(VConsole *con, int width, int height);
/*
 * Install an image the device made (e.g. pixman_image_create_bits over its video memory, in
 * any pixman format). The console takes a reference and drops it at the next switch.
 */
void console_set_surface(VConsole *con, pixman_image_t *image);
pixman_image_t *console_surface(VConsole *con);
int console_width(VConsole *con);
int console_height(VConsole *con);
/* Pixels in this rectangle changed (clipped to the surface). */
void console_dirty(VConsole *con, int x, int y, int w, int h);
/* The area (sx,sy,w,h) moved to (dx,dy) with its contents, as a scroll does: viewers may copy
 * it on their side (VNC CopyRect) instead of sending pixels. The surface already holds the
 * result. */
void console_copy(VConsole *con, int sx, int sy, int dx, int dy, int w, int h);
/* Something will change soon: tick at the base rate from now on. */
void console_kick(VConsole *con);

/*
 * A hardware cursor image (w x h ARGB8888 words, premultiplied no, alpha 0 or 255), hotspot
 * (hx, hy); NULL pixels hides it. For devices that have one (virtio-gpu, vmware); std VGA has
 * none.
 */
void console_cursor_define(VConsole *con, int w, int h, int hx, int hy, const uint32_t *pixels);

/* ---- text consoles (vc chardevs) -------------------------------------------------------- */

/* Whether a display shows consoles: true once a user interface (-vnc) asked for text consoles;
 * before that (or with -display none / -nographic) vc chardevs stay plain sinks. */
void console_enable_text(bool on);
bool console_text_enabled(void);

/* ---- lookup ----------------------------------------------------------------------------- */

int console_count(void);
VConsole *console_by_index(int index);
/* By device id/label and head (QEMU's qemu_console_lookup_by_device_name), NULL if none. */
VConsole *console_by_device(const char *label, int head);
/* The same with QEMU's errors (DeviceNotFound, "Device D (head H) is not bound to a
 * QemuConsole"); lock held. */
VConsole *console_lookup_locked(const char *device, int64_t head, const char **errclass,
                                char **errp);
int console_index(VConsole *con);
bool console_is_graphic(VConsole *con);
const char *console_label(VConsole *con);
int console_head(VConsole *con);
/* The console user interfaces without a fixed one show: the first graphic console, else the
 * first text console; Ctrl-Alt-N in a viewer selects another (console_select). */
VConsole *console_active(void);
void console_select(int index);

/* ---- listeners (user interfaces, screendump) -------------------------------------------- */

typedef struct DisplayListener DisplayListener;
typedef struct DisplayListenerOps {
    /* A new surface (size or format changed, or the console followed changed): main thread,
     * lock held. The image stays valid until the next gfx_switch or unregister. */
    void (*gfx_switch)(DisplayListener *dl, pixman_image_t *surface);
    /* A changed rectangle of the surface: main thread, lock held. */
    void (*gfx_update)(DisplayListener *dl, int x, int y, int w, int h);
    /* A moved area (console_copy), reported in order with gfx_update; NULL: the console turns
     * it into a gfx_update of the destination. */
    void (*gfx_copy)(DisplayListener *dl, int sx, int sy, int dx, int dy, int w, int h);
    /* The hardware cursor changed (lock held); pixels NULL: none. */
    void (*cursor_define)(DisplayListener *dl, int w, int h, int hx, int hy,
                          const uint32_t *pixels);
    /* After the updates of one tick: main thread, lock NOT held. */
    void (*refresh)(DisplayListener *dl);
} DisplayListenerOps;

struct DisplayListener {
    const DisplayListenerOps *ops;
    VConsole *con; /* the console it watches (set by register; NULL there: the active one) */
    bool fixed;    /* registered with a console: it does not follow console_select */
    struct DisplayListener *next;
};

/* Main thread, WITHOUT the lock. The listener gets gfx_switch with the current surface at
 * once. con NULL: follow the active console. */
void display_listener_register(DisplayListener *dl, VConsole *con);
void display_listener_unregister(DisplayListener *dl);

/*
 * Bring con up to date now (invalidate + gfx_update, lock held by the caller) and return a
 * new x8r8g8b8 copy of its surface (pixman_image_unref it): screendump.
 */
pixman_image_t *console_snapshot(VConsole *con);

/*
 * screendump (ui/screendump.c): save img as a binary PPM (P6) or, png true, a PNG; false with
 * *errp (g_free) in QEMU's words, the half-written file removed.
 */
bool console_save_image(pixman_image_t *img, const char *filename, bool png, char **errp);

/* Machine teardown: forget every console and stop the timer (lock held). */
void console_reset_all(void);

/* For tests: run one refresh tick now (lock held), and deliver pending updates to
 * listeners (main thread, no lock). */
void console_tick_now(void);
void console_deliver_now(void);

#endif
