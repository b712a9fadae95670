/* Unit tests for the PS/2 keyboard and mouse (hw/input/ps2.c): the replies to the commands
 * Linux's atkbd and psmouse send, scancodes in sets 1, 2 (with and without translation) and
 * 3, LEDs to the input layer, mouse packets from input events, the IntelliMouse knocks. */
#include <glib.h>
#include <string.h>
#include "../lib/unit.h"
#include "vireo/input.h"
#include "vireo/ps2.h"
#include "vireo/runstate.h"

static int updates;

static void upd(void *opaque)
{
    (void)opaque;
    updates++;
}

/* Everything queued, as hex bytes "fa aa". */
static const char *drain(PS2Common *c)
{
    static char buf[256];
    buf[0] = 0;
    while (!ps2_queue_empty(c)) {
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%02x", buf[0] ? " " : "",
                 ps2_read_data(c));
    }
    return buf;
}

static const char *key(PS2Kbd *k, QKeyCode q, bool down)
{
    ps2_kbd_key(k, q, down);
    return drain(&k->c);
}

static void test_kbd(void)
{
    PS2Kbd k;
    ps2_kbd_init(&k, upd, NULL);
    ps2_kbd_write(&k, 0xff);
    CHECK("kbd/reset", !strcmp(drain(&k.c), "fa aa") && updates > 0);
    ps2_kbd_write(&k, 0xf2);
    CHECK("kbd/identify", !strcmp(drain(&k.c), "fa ab 83"));
    ps2_kbd_set_translation(&k, true);
    ps2_kbd_write(&k, 0xf2);
    CHECK("kbd/identify-translated", !strcmp(drain(&k.c), "fa ab 41"));
    ps2_kbd_write(&k, 0xed);
    ps2_kbd_write(&k, 0x06);
    CHECK("kbd/leds", !strcmp(drain(&k.c), "fa fa") && input_get_leds() == 6);
    ps2_kbd_write(&k, 0xee);
    CHECK("kbd/echo", !strcmp(drain(&k.c), "ee"));
    ps2_kbd_write(&k, 0x42);
    CHECK("kbd/unknown-resend", !strcmp(drain(&k.c), "fe"));

    /* translated set 2 = set 1 */
    CHECK("kbd/set2-translated-a", !strcmp(key(&k, Q_KEY_CODE_A, true), "1e"));
    CHECK("kbd/set2-translated-a-up", !strcmp(key(&k, Q_KEY_CODE_A, false), "9e"));
    CHECK("kbd/set2-translated-right", !strcmp(key(&k, Q_KEY_CODE_RIGHT, true), "e0 4d"));
    ps2_kbd_set_translation(&k, false);
    CHECK("kbd/set2-a", !strcmp(key(&k, Q_KEY_CODE_A, true), "1c"));
    CHECK("kbd/set2-a-up", !strcmp(key(&k, Q_KEY_CODE_A, false), "f0 1c"));
    CHECK("kbd/set2-ctrl-r-up", !strcmp(key(&k, Q_KEY_CODE_CTRL_R, false), "e0 f0 14"));
    CHECK("kbd/set2-f7", !strcmp(key(&k, Q_KEY_CODE_F7, true), "83"));
    CHECK("kbd/set2-kp-enter", !strcmp(key(&k, Q_KEY_CODE_KP_ENTER, true), "e0 5a"));
    CHECK("kbd/set2-pause", !strcmp(key(&k, Q_KEY_CODE_PAUSE, true), "e1 14 77 e1 f0 14 f0 77"));
    CHECK("kbd/set2-print", !strcmp(key(&k, Q_KEY_CODE_PRINT, true), "e0 12 e0 7c"));
    CHECK("kbd/set2-print-up", !strcmp(key(&k, Q_KEY_CODE_PRINT, false), "e0 f0 7c e0 f0 12"));
    CHECK("kbd/set2-meta-l", !strcmp(key(&k, Q_KEY_CODE_META_L, true), "e0 1f"));

    ps2_kbd_write(&k, 0xf0);
    ps2_kbd_write(&k, 0x00);
    CHECK("kbd/get-set", !strcmp(drain(&k.c), "fa fa 02"));
    ps2_kbd_write(&k, 0xf0);
    ps2_kbd_write(&k, 0x01);
    drain(&k.c);
    CHECK("kbd/set1-esc-up", !strcmp(key(&k, Q_KEY_CODE_ESC, false), "81"));
    CHECK("kbd/set1-pause", !strcmp(key(&k, Q_KEY_CODE_PAUSE, true), "e1 1d 45 e1 9d c5"));
    ps2_kbd_write(&k, 0xf0);
    ps2_kbd_write(&k, 0x03);
    drain(&k.c);
    CHECK("kbd/set3-a", !strcmp(key(&k, Q_KEY_CODE_A, true), "1c"));
    CHECK("kbd/set3-f1-up", !strcmp(key(&k, Q_KEY_CODE_F1, false), "f0 07"));
    CHECK("kbd/set3-up-arrow", !strcmp(key(&k, Q_KEY_CODE_UP, true), "63"));

    /* disabled scanning: the input layer's keys are dropped; queue overflow drops keys */
    ps2_kbd_write(&k, 0xf6);
    ps2_kbd_write(&k, 0xf5);
    drain(&k.c);
    input_send_key(Q_KEY_CODE_B, true);
    CHECK("kbd/disabled-drops-keys", ps2_queue_empty(&k.c));
    ps2_kbd_write(&k, 0xf4);
    drain(&k.c);
    input_send_key(Q_KEY_CODE_B, true);
    CHECK("kbd/input-layer-key", !strcmp(drain(&k.c), "32"));
    /* a paused guest gets no input (QEMU drops it) */
    vm_stop(RUN_STATE_PAUSED);
    input_send_key(Q_KEY_CODE_B, false);
    CHECK("kbd/paused-drops-keys", ps2_queue_empty(&k.c));
    vm_start(NULL);
    for (int i = 0; i < 40; i++) {
        ps2_kbd_key(&k, Q_KEY_CODE_B, true);
    }
    CHECK("kbd/overflow-bounded", k.c.q.count <= PS2_QUEUE_SIZE);
    drain(&k.c);
    ps2_kbd_fini(&k);
}

static void test_mouse(void)
{
    PS2Mouse m;
    ps2_mouse_init(&m, upd, NULL);
    ps2_mouse_write(&m, 0xff);
    CHECK("mouse/reset", !strcmp(drain(&m.c), "fa aa 00"));
    ps2_mouse_write(&m, 0xf2);
    CHECK("mouse/id", !strcmp(drain(&m.c), "fa 00"));
    ps2_mouse_write(&m, 0xe9);
    CHECK("mouse/status", !strcmp(drain(&m.c), "fa 00 02 64"));
    /* not enabled: no packets */
    input_send_rel(INPUT_AXIS_X, 5);
    input_sync();
    CHECK("mouse/disabled-silent", ps2_queue_empty(&m.c));
    ps2_mouse_write(&m, 0xf4);
    drain(&m.c);
    input_send_rel(INPUT_AXIS_X, 10);
    input_send_rel(INPUT_AXIS_Y, 3); /* down on screen: negative for PS/2 */
    input_send_btn(INPUT_BUTTON_LEFT, true);
    input_sync();
    CHECK("mouse/packet", !strcmp(drain(&m.c), "29 0a fd"));
    input_send_rel(INPUT_AXIS_X, 300);
    input_sync();
    CHECK("mouse/split-packets", !strcmp(drain(&m.c), "09 7f 00 09 7f 00 09 2e 00"));
    /* IntelliMouse knock: rates 200, 100, 80 -> id 3 and 4-byte packets */
    const uint8_t knock[] = {0xf3, 200, 0xf3, 100, 0xf3, 80};
    for (size_t i = 0; i < sizeof(knock); i++) {
        ps2_mouse_write(&m, knock[i]);
    }
    drain(&m.c);
    ps2_mouse_write(&m, 0xf2);
    CHECK("mouse/intellimouse-id", !strcmp(drain(&m.c), "fa 03"));
    input_send_btn(INPUT_BUTTON_WHEEL_DOWN, true);
    input_sync();
    CHECK("mouse/wheel", !strcmp(drain(&m.c), "09 00 00 01"));
    /* wrap mode echoes until EC */
    ps2_mouse_write(&m, 0xee);
    ps2_mouse_write(&m, 0x12);
    ps2_mouse_write(&m, 0xec);
    CHECK("mouse/wrap", !strcmp(drain(&m.c), "fa 12 fa"));
    ps2_mouse_write(&m, 0x99);
    CHECK("mouse/unknown-acked", !strcmp(drain(&m.c), "fa"));
    ps2_mouse_fini(&m);
}

int main(void)
{
    vm_start(NULL); /* input reaches devices only while the VM runs (no machine: state only) */
    test_kbd();
    test_mouse();
    CHECK("ps2/set1-to-set2-table",
          ps2_set1_to_set2(0x1e) == 0x1c && ps2_set1_to_set2(0x41) == 0x83);
    UNIT_EXIT();
}
