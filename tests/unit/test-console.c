/* Unit tests for ui/console.c and ui/input.c: surfaces, dirty areas and moves delivered to
 * listeners in order, refresh ticks only while watched, input routing and qcode tables. */
#include <glib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "../lib/unit.h"
#include "vireo/console.h"
#include "vireo/input.h"
#include "vireo/machine.h"
#include "vireo/runstate.h"
#include "vireo/ui.h"

/* ---- a fake display device ---- */
typedef struct FakeDev {
    VConsole *con;
    int updates, invalidates;
    int dirty_x, dirty_y, dirty_w, dirty_h; /* reported at the next update */
} FakeDev;

static void fake_update(void *opaque)
{
    FakeDev *d = opaque;
    d->updates++;
    if (d->dirty_w) {
        console_dirty(d->con, d->dirty_x, d->dirty_y, d->dirty_w, d->dirty_h);
        d->dirty_w = 0;
    }
}

static void fake_invalidate(void *opaque)
{
    ((FakeDev *)opaque)->invalidates++;
}

static const ConsoleHwOps fake_ops = {fake_update, fake_invalidate};

/* ---- a recording listener ---- */
typedef struct Rec {
    DisplayListener dl;
    int switches, refreshes;
    pixman_image_t *surface;
    char log[1024];
} Rec;

static void rec_switch(DisplayListener *dl, pixman_image_t *s)
{
    Rec *r = (Rec *)dl;
    r->switches++;
    r->surface = s;
    snprintf(r->log + strlen(r->log), sizeof(r->log) - strlen(r->log), "S%dx%d;",
             pixman_image_get_width(s), pixman_image_get_height(s));
}

static void rec_update(DisplayListener *dl, int x, int y, int w, int h)
{
    Rec *r = (Rec *)dl;
    snprintf(r->log + strlen(r->log), sizeof(r->log) - strlen(r->log), "U%d,%d,%d,%d;", x, y, w, h);
}

static void rec_copy(DisplayListener *dl, int sx, int sy, int dx, int dy, int w, int h)
{
    Rec *r = (Rec *)dl;
    snprintf(r->log + strlen(r->log), sizeof(r->log) - strlen(r->log), "C%d,%d>%d,%d:%dx%d;", sx,
             sy, dx, dy, w, h);
}

static void rec_refresh(DisplayListener *dl)
{
    ((Rec *)dl)->refreshes++;
}

static const DisplayListenerOps rec_ops = {
    .gfx_switch = rec_switch,
    .gfx_update = rec_update,
    .gfx_copy = rec_copy,
    .refresh = rec_refresh,
};

static void test_console(void)
{
    FakeDev dev = {0};
    vireo_lock();
    dev.con = console_new_graphic("vga", 0, &fake_ops, &dev);
    vireo_unlock();
    CHECK("console/new-640x480", console_width(dev.con) == 640 && console_height(dev.con) == 480);
    CHECK("console/graphic-first", console_by_index(0) == dev.con && console_active() == dev.con);
    CHECK("console/by-device", console_by_device("vga", 0) == dev.con &&
                                   !console_by_device("vga", 1) && !console_by_device("x", 0));

    /* nobody watches: a tick asks the device for nothing */
    vireo_lock();
    console_tick_now();
    vireo_unlock();
    CHECK("console/idle-without-listeners", dev.updates == 0);

    Rec r = {.dl.ops = &rec_ops};
    display_listener_register(&r.dl, NULL);
    CHECK("console/register-invalidates-and-switches", dev.invalidates == 1 && dev.updates == 1 &&
                                                           r.switches == 1 && r.dl.con == dev.con &&
                                                           !strcmp(r.log, "S640x480;"));
    r.log[0] = 0;

    /* dirty areas are clipped and delivered once */
    dev.dirty_x = 600, dev.dirty_y = 470, dev.dirty_w = 100, dev.dirty_h = 100;
    vireo_lock();
    console_tick_now();
    vireo_unlock();
    console_deliver_now();
    CHECK("console/dirty-clipped", !strcmp(r.log, "U600,470,40,10;"));
    r.log[0] = 0;
    console_deliver_now();
    CHECK("console/delivered-once", r.log[0] == 0);

    /* a move before dirty areas is delivered first; a move out of a dirty area becomes pixels */
    vireo_lock();
    console_copy(dev.con, 0, 16, 0, 0, 640, 464);
    console_dirty(dev.con, 0, 464, 640, 16);
    console_copy(dev.con, 0, 464, 0, 448, 640, 16); /* source is dirty */
    vireo_unlock();
    console_deliver_now();
    CHECK("console/copy-then-dirty", !strcmp(r.log, "C0,16>0,0:640x464;U0,448,640,32;"));
    r.log[0] = 0;

    /* resize: a switch, and nothing older is delivered */
    vireo_lock();
    console_dirty(dev.con, 0, 0, 10, 10);
    console_resize(dev.con, 1024, 768);
    vireo_unlock();
    console_deliver_now();
    CHECK("console/resize-switch",
          !strcmp(r.log, "S1024x768;") && r.surface == console_surface(dev.con));
    r.log[0] = 0;

    /* snapshot: device brought up to date, a copy of the surface */
    uint32_t *px = pixman_image_get_data(console_surface(dev.con));
    px[5 * 1024 + 7] = 0x123456;
    vireo_lock();
    int inval = dev.invalidates;
    pixman_image_t *snap = console_snapshot(dev.con);
    vireo_unlock();
    CHECK("console/snapshot",
          dev.invalidates == inval + 1 && pixman_image_get_width(snap) == 1024 &&
              (pixman_image_get_data(snap)[5 * 1024 + 7] & 0xffffff) == 0x123456);
    pixman_image_unref(snap);

    /* a device surface in another format */
    vireo_lock();
    pixman_image_t *img16 = pixman_image_create_bits(PIXMAN_r5g6b5, 320, 200, NULL, 0);
    console_set_surface(dev.con, img16);
    pixman_image_unref(img16);
    vireo_unlock();
    console_deliver_now();
    CHECK("console/set-surface",
          !strcmp(r.log, "S320x200;") && pixman_image_get_format(r.surface) == PIXMAN_r5g6b5);
    r.log[0] = 0;

    display_listener_unregister(&r.dl);
    int before = dev.updates;
    vireo_lock();
    console_tick_now();
    vireo_unlock();
    CHECK("console/idle-after-unregister", dev.updates == before);

    vireo_lock();
    console_reset_all();
    vireo_unlock();
    CHECK("console/reset", console_count() == 0 && console_active() == NULL);

    /* a listener that came before any console (or outlived a machine reset) gets the next */
    Rec late = {.dl.ops = &rec_ops};
    display_listener_register(&late.dl, NULL);
    CHECK("console/listener-without-console", late.dl.con == NULL && late.switches == 0);
    FakeDev dev2 = {0};
    vireo_lock();
    dev2.con = console_new_graphic("vga", 0, &fake_ops, &dev2);
    vireo_unlock();
    console_deliver_now();
    CHECK("console/late-console-attached", late.dl.con == dev2.con && !strcmp(late.log, "S640x480;"));
    display_listener_unregister(&late.dl);
    vireo_lock();
    console_reset_all();
    vireo_unlock();

    /* a change made while nobody watched reaches a later listener: the tick wakes the main
     * loop for it */
    FakeDev dev3 = {0};
    for (int i = 0; i < 10; i++) {
        g_main_context_iteration(NULL, FALSE); /* nothing left from before */
    }
    vireo_lock();
    dev3.con = console_new_graphic("vga", 0, &fake_ops, &dev3);
    console_dirty(dev3.con, 1, 2, 3, 4);
    vireo_unlock();
    late.log[0] = 0;
    display_listener_register(&late.dl, NULL);
    late.log[0] = 0;
    vireo_lock();
    console_tick_now();
    vireo_unlock();
    for (int i = 0; i < 10; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    CHECK("console/tick-wakes-main-loop", !strcmp(late.log, "U1,2,3,4;"));
    display_listener_unregister(&late.dl);
    vireo_lock();
    console_reset_all();
    vireo_unlock();
}

/* ---- screendump ---- */
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void test_screendump(void)
{
    /* a 3x2 image: distinct colours, a stride wider than the row */
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, 3, 2, NULL, 0);
    uint32_t *px = pixman_image_get_data(img);
    int st = pixman_image_get_stride(img) / 4;
    static const uint32_t colours[6] = {0xff0000, 0x00ff00, 0x0000ff, 0x123456, 0xfedcba, 0x000001};
    for (int i = 0; i < 6; i++) {
        px[(i / 3) * st + i % 3] = 0xff000000u | colours[i];
    }
    uint8_t want[18];
    for (int i = 0; i < 6; i++) {
        want[i * 3] = colours[i] >> 16, want[i * 3 + 1] = colours[i] >> 8;
        want[i * 3 + 2] = colours[i];
    }
    char *dir = g_dir_make_tmp("vireo-sd-XXXXXX", NULL);
    char *ppm = g_build_filename(dir, "a.ppm", NULL), *png = g_build_filename(dir, "a.png", NULL);
    char *err = NULL;
    gchar *data = NULL;
    gsize len = 0;
    bool ok =
        console_save_image(img, ppm, false, &err) && g_file_get_contents(ppm, &data, &len, NULL);
    CHECK("screendump/ppm", ok && len == 11 + 18 && !memcmp(data, "P6\n3 2\n255\n", 11) &&
                                !memcmp(data + 11, want, 18));
    g_free(data);

    ok = console_save_image(img, png, true, &err) && g_file_get_contents(png, &data, &len, NULL);
    /* signature, IHDR 3x2 8-bit RGB with a right CRC, IDAT inflating to the filtered rows */
    const uint8_t *u = (const uint8_t *)data;
    bool png_ok = ok && len > 8 + 25 + 12 + 12 && !memcmp(u, "\x89PNG\r\n\x1a\n", 8) &&
                  be32(u + 8) == 13 && !memcmp(u + 12, "IHDR", 4) && be32(u + 16) == 3 &&
                  be32(u + 20) == 2 && u[24] == 8 && u[25] == 2 &&
                  be32(u + 29) == crc32(0, u + 12, 17) && !memcmp(u + 37, "IDAT", 4) &&
                  !memcmp(u + len - 8, "IEND", 4);
    if (png_ok) {
        uint8_t raw[2 * 10];
        uLongf rlen = sizeof(raw);
        png_ok = uncompress(raw, &rlen, u + 41, be32(u + 33)) == Z_OK && rlen == 20 &&
                 raw[0] == 0 && raw[10] == 0 && !memcmp(raw + 1, want, 9) &&
                 !memcmp(raw + 11, want + 9, 9);
    }
    CHECK("screendump/png", png_ok);
    g_free(data);

    char *bad = g_build_filename(dir, "no/such/dir.ppm", NULL);
    ok = console_save_image(img, bad, false, &err);
    CHECK("screendump/open-error", !ok && err && g_str_has_prefix(err, "failed to open file '") &&
                                       strstr(err, "No such file or directory"));
    g_free(err);
    err = NULL;
    const char *cls = NULL;
    ok = console_screendump(ppm, NULL, false, 0, false, &cls, &err);
    CHECK("screendump/no-console",
          !ok && !strcmp(cls, "GenericError") &&
              !strcmp(err, "There is no console to take a screendump from"));
    g_free(err);
    unlink(ppm), unlink(png), rmdir(dir);
    g_free(bad), g_free(ppm), g_free(png), g_free(dir);
    pixman_image_unref(img);
}

/* ---- input ---- */
typedef struct FakeInput {
    char log[512];
    int syncs;
} FakeInput;

static void fake_event(void *opaque, const InputEvent *e)
{
    FakeInput *f = opaque;
    char *p = f->log + strlen(f->log);
    size_t room = sizeof(f->log) - strlen(f->log);
    switch (e->kind) {
    case INPUT_EVENT_KEY:
        snprintf(p, room, "K%s%c;", qcode_name(e->key.qcode), e->key.down ? 'v' : '^');
        break;
    case INPUT_EVENT_BTN:
        snprintf(p, room, "B%s%c;", input_button_name(e->btn.button), e->btn.down ? 'v' : '^');
        break;
    case INPUT_EVENT_REL:
        snprintf(p, room, "R%c%lld;", e->move.axis == INPUT_AXIS_X ? 'x' : 'y',
                 (long long)e->move.value);
        break;
    case INPUT_EVENT_ABS:
        snprintf(p, room, "A%c%lld;", e->move.axis == INPUT_AXIS_X ? 'x' : 'y',
                 (long long)e->move.value);
        break;
    }
}

static void fake_sync(void *opaque)
{
    ((FakeInput *)opaque)->syncs++;
}

static int mode_changes;
static bool mode_abs;
static unsigned led_seen;
static void n_mode(InputNotifier *n, bool abs)
{
    mode_changes++;
    mode_abs = abs;
}
static void n_leds(InputNotifier *n, unsigned l)
{
    led_seen = l;
}

static void test_input(void)
{
    CHECK("input/qcode-names", qcode_from_name("shift_r") == Q_KEY_CODE_SHIFT_R &&
                                   !strcmp(qcode_name(Q_KEY_CODE_LANG2), "lang2") &&
                                   qcode_from_name("nosuch") == -1 && Q_KEY_CODE__MAX == 150);
    CHECK("input/qnum", qcode_to_qnum(Q_KEY_CODE_A) == 0x1e &&
                            qcode_to_qnum(Q_KEY_CODE_CTRL_R) == 0x9d &&
                            qnum_to_qcode(0xc8) == Q_KEY_CODE_UP &&
                            qnum_to_qcode(0x37) == Q_KEY_CODE_KP_MULTIPLY &&
                            qnum_to_qcode(0x1000) == Q_KEY_CODE_UNMAPPED);
    int roundtrip_bad = 0;
    for (int q = 1; q < Q_KEY_CODE__MAX; q++) {
        int n = qcode_to_qnum((QKeyCode)q);
        if (n && q != Q_KEY_CODE_ASTERISK && (int)qnum_to_qcode(n) != q) {
            roundtrip_bad++;
        }
    }
    CHECK("input/qnum-roundtrip", roundtrip_bad == 0);

    InputNotifier note = {.leds_changed = n_leds, .mode_changed = n_mode};
    input_add_notifier(&note);

    FakeInput kbd = {0}, mouse = {0}, tablet = {0};
    static const InputHandlerOps kbd_ops = {"kbd", INPUT_MASK_KEY, fake_event, NULL};
    static const InputHandlerOps mouse_ops = {"mouse", INPUT_MASK_BTN | INPUT_MASK_REL, fake_event,
                                              fake_sync};
    static const InputHandlerOps tablet_ops = {"tablet", INPUT_MASK_BTN | INPUT_MASK_ABS,
                                               fake_event, fake_sync};
    vireo_lock();
    input_handler_register(&kbd_ops, &kbd);
    input_handler_register(&mouse_ops, &mouse);
    vireo_unlock();
    CHECK("input/relative-first", !input_is_absolute() && mode_changes == 0);

    input_send_key(Q_KEY_CODE_A, true);
    input_send_key(Q_KEY_CODE_A, false);
    input_update_buttons(0, 1u << INPUT_BUTTON_LEFT | 1u << INPUT_BUTTON_WHEEL_UP);
    input_send_rel(INPUT_AXIS_X, -3);
    input_send_abs(INPUT_AXIS_X, 10, 640); /* nobody takes ABS: dropped */
    input_sync();
    CHECK("input/routed", !strcmp(kbd.log, "Kav;Ka^;") &&
                              !strcmp(mouse.log, "Bleftv;Bwheel-upv;Rx-3;") && mouse.syncs == 1);

    vireo_lock();
    InputHandler *t = input_handler_register(&tablet_ops, &tablet);
    vireo_unlock();
    CHECK("input/tablet-absolute", input_is_absolute() && mode_changes == 1 && mode_abs &&
                                       !strcmp(input_active_name(INPUT_EVENT_BTN), "tablet"));
    input_send_abs(INPUT_AXIS_X, 639, 640);
    input_send_abs(INPUT_AXIS_Y, 240, 481);
    input_send_abs(INPUT_AXIS_Y, 5000, 481); /* clamped */
    input_send_btn(INPUT_BUTTON_RIGHT, true);
    input_sync();
    CHECK("input/abs-scaled", !strcmp(tablet.log, "Ax32767;Ay16383;Ay32767;Brightv;") &&
                                  tablet.syncs == 1 && mouse.syncs == 1);

    vireo_lock();
    input_handler_unregister(t);
    vireo_unlock();
    CHECK("input/back-to-relative", !input_is_absolute() && mode_changes == 2 && !mode_abs);

    vireo_lock();
    input_set_leds(INPUT_LED_CAPS | INPUT_LED_NUM);
    vireo_unlock();
    CHECK("input/leds", led_seen == 6 && input_get_leds() == 6);

    input_remove_notifier(&note);
    vireo_lock();
    input_reset();
    vireo_unlock();
    CHECK("input/reset", input_active_name(INPUT_EVENT_KEY) == NULL);
}

int main(void)
{
    vm_start(NULL); /* input reaches handlers only while the VM runs (no machine: state only) */
    test_console();
    test_screendump();
    test_input();
    UNIT_EXIT();
}
