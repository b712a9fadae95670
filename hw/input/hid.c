/*
 * HID device state (include/vireo/hid.h): pointer and keyboard reports built from input
 * events, with QEMU 7.2's report descriptors and queueing rules. docs/usb.md.
 */
#include <string.h>
#include "vireo/hid.h"

static const uint8_t mouse_report_desc[] = {
    0x05, 0x01, 0x09, 0x02, 0xa1, 0x01,       /* Generic Desktop, Mouse, Application */
    0x09, 0x01, 0xa1, 0x00,                   /*   Pointer, Physical */
    0x05, 0x09, 0x19, 0x01, 0x29, 0x05,       /*     Buttons 1..5 */
    0x15, 0x00, 0x25, 0x01, 0x95, 0x05, 0x75, 0x01, 0x81, 0x02, /* 5 x 1 bit, variable */
    0x95, 0x01, 0x75, 0x03, 0x81, 0x01,       /*     3 bits padding */
    0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, /* X, Y, Wheel */
    0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x03, 0x81, 0x06, /* 3 x 8 bit, relative */
    0xc0, 0xc0,
};

static const uint8_t tablet_report_desc[] = {
    0x05, 0x01, 0x09, 0x02, 0xa1, 0x01,       /* Generic Desktop, Mouse, Application */
    0x09, 0x01, 0xa1, 0x00,                   /*   Pointer, Physical */
    0x05, 0x09, 0x19, 0x01, 0x29, 0x03,       /*     Buttons 1..3 */
    0x15, 0x00, 0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02,
    0x95, 0x01, 0x75, 0x05, 0x81, 0x01,       /*     5 bits padding */
    0x05, 0x01, 0x09, 0x30, 0x09, 0x31,       /*     X, Y */
    0x15, 0x00, 0x26, 0xff, 0x7f,             /*     logical 0..0x7fff */
    0x35, 0x00, 0x46, 0xff, 0x7f,             /*     physical 0..0x7fff */
    0x75, 0x10, 0x95, 0x02, 0x81, 0x02,       /*     2 x 16 bit, absolute */
    0x05, 0x01, 0x09, 0x38,                   /*     Wheel */
    0x15, 0x81, 0x25, 0x7f, 0x35, 0x00, 0x45, 0x00,
    0x75, 0x08, 0x95, 0x01, 0x81, 0x06,       /*     8 bit, relative */
    0xc0, 0xc0,
};

static const uint8_t kbd_report_desc[] = {
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01,       /* Generic Desktop, Keyboard, Application */
    0x75, 0x01, 0x95, 0x08, 0x05, 0x07,       /*   8 x 1 bit, Key Codes */
    0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01, 0x81, 0x02, /* modifiers */
    0x95, 0x01, 0x75, 0x08, 0x81, 0x01,       /*   reserved byte */
    0x95, 0x05, 0x75, 0x01, 0x05, 0x08,       /*   5 LEDs */
    0x19, 0x01, 0x29, 0x05, 0x91, 0x02,
    0x95, 0x01, 0x75, 0x03, 0x91, 0x01,       /*   3 bits padding */
    0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0xff, /* 6 keys */
    0x05, 0x07, 0x19, 0x00, 0x29, 0xff, 0x81, 0x00,
    0xc0,
};

_Static_assert(sizeof(mouse_report_desc) == HID_MOUSE_REPORT_LEN, "mouse report descriptor");
_Static_assert(sizeof(tablet_report_desc) == HID_TABLET_REPORT_LEN, "tablet report descriptor");
_Static_assert(sizeof(kbd_report_desc) == HID_KBD_REPORT_LEN, "keyboard report descriptor");

int hid_report_descriptor(HIDKind kind, uint8_t *buf, int len)
{
    const uint8_t *d = kind == HID_MOUSE ? mouse_report_desc
                       : kind == HID_TABLET ? tablet_report_desc
                                            : kbd_report_desc;
    int n = kind == HID_MOUSE ? HID_MOUSE_REPORT_LEN
            : kind == HID_TABLET ? HID_TABLET_REPORT_LEN
                                 : HID_KBD_REPORT_LEN;
    if (n > len) {
        n = len;
    }
    memcpy(buf, d, n);
    return n;
}

/* ---- keys: QKeyCode -> HID usage (Keyboard/Keypad page) ---- */

static const struct {
    QKeyCode q;
    uint8_t usage;
} key_usages[] = {
    {Q_KEY_CODE_A, 0x04}, {Q_KEY_CODE_B, 0x05}, {Q_KEY_CODE_C, 0x06}, {Q_KEY_CODE_D, 0x07},
    {Q_KEY_CODE_E, 0x08}, {Q_KEY_CODE_F, 0x09}, {Q_KEY_CODE_G, 0x0a}, {Q_KEY_CODE_H, 0x0b},
    {Q_KEY_CODE_I, 0x0c}, {Q_KEY_CODE_J, 0x0d}, {Q_KEY_CODE_K, 0x0e}, {Q_KEY_CODE_L, 0x0f},
    {Q_KEY_CODE_M, 0x10}, {Q_KEY_CODE_N, 0x11}, {Q_KEY_CODE_O, 0x12}, {Q_KEY_CODE_P, 0x13},
    {Q_KEY_CODE_Q, 0x14}, {Q_KEY_CODE_R, 0x15}, {Q_KEY_CODE_S, 0x16}, {Q_KEY_CODE_T, 0x17},
    {Q_KEY_CODE_U, 0x18}, {Q_KEY_CODE_V, 0x19}, {Q_KEY_CODE_W, 0x1a}, {Q_KEY_CODE_X, 0x1b},
    {Q_KEY_CODE_Y, 0x1c}, {Q_KEY_CODE_Z, 0x1d}, {Q_KEY_CODE_1, 0x1e}, {Q_KEY_CODE_2, 0x1f},
    {Q_KEY_CODE_3, 0x20}, {Q_KEY_CODE_4, 0x21}, {Q_KEY_CODE_5, 0x22}, {Q_KEY_CODE_6, 0x23},
    {Q_KEY_CODE_7, 0x24}, {Q_KEY_CODE_8, 0x25}, {Q_KEY_CODE_9, 0x26}, {Q_KEY_CODE_0, 0x27},
    {Q_KEY_CODE_RET, 0x28}, {Q_KEY_CODE_ESC, 0x29}, {Q_KEY_CODE_BACKSPACE, 0x2a},
    {Q_KEY_CODE_TAB, 0x2b}, {Q_KEY_CODE_SPC, 0x2c}, {Q_KEY_CODE_MINUS, 0x2d},
    {Q_KEY_CODE_EQUAL, 0x2e}, {Q_KEY_CODE_BRACKET_LEFT, 0x2f}, {Q_KEY_CODE_BRACKET_RIGHT, 0x30},
    {Q_KEY_CODE_BACKSLASH, 0x31}, {Q_KEY_CODE_SEMICOLON, 0x33}, {Q_KEY_CODE_APOSTROPHE, 0x34},
    {Q_KEY_CODE_GRAVE_ACCENT, 0x35}, {Q_KEY_CODE_COMMA, 0x36}, {Q_KEY_CODE_DOT, 0x37},
    {Q_KEY_CODE_SLASH, 0x38}, {Q_KEY_CODE_CAPS_LOCK, 0x39}, {Q_KEY_CODE_F1, 0x3a},
    {Q_KEY_CODE_F2, 0x3b}, {Q_KEY_CODE_F3, 0x3c}, {Q_KEY_CODE_F4, 0x3d}, {Q_KEY_CODE_F5, 0x3e},
    {Q_KEY_CODE_F6, 0x3f}, {Q_KEY_CODE_F7, 0x40}, {Q_KEY_CODE_F8, 0x41}, {Q_KEY_CODE_F9, 0x42},
    {Q_KEY_CODE_F10, 0x43}, {Q_KEY_CODE_F11, 0x44}, {Q_KEY_CODE_F12, 0x45},
    {Q_KEY_CODE_PRINT, 0x46}, {Q_KEY_CODE_SYSRQ, 0x46}, {Q_KEY_CODE_SCROLL_LOCK, 0x47},
    {Q_KEY_CODE_PAUSE, 0x48}, {Q_KEY_CODE_INSERT, 0x49}, {Q_KEY_CODE_HOME, 0x4a},
    {Q_KEY_CODE_PGUP, 0x4b}, {Q_KEY_CODE_DELETE, 0x4c}, {Q_KEY_CODE_END, 0x4d},
    {Q_KEY_CODE_PGDN, 0x4e}, {Q_KEY_CODE_RIGHT, 0x4f}, {Q_KEY_CODE_LEFT, 0x50},
    {Q_KEY_CODE_DOWN, 0x51}, {Q_KEY_CODE_UP, 0x52}, {Q_KEY_CODE_NUM_LOCK, 0x53},
    {Q_KEY_CODE_KP_DIVIDE, 0x54}, {Q_KEY_CODE_KP_MULTIPLY, 0x55},
    {Q_KEY_CODE_KP_SUBTRACT, 0x56}, {Q_KEY_CODE_KP_ADD, 0x57}, {Q_KEY_CODE_KP_ENTER, 0x58},
    {Q_KEY_CODE_KP_1, 0x59}, {Q_KEY_CODE_KP_2, 0x5a}, {Q_KEY_CODE_KP_3, 0x5b},
    {Q_KEY_CODE_KP_4, 0x5c}, {Q_KEY_CODE_KP_5, 0x5d}, {Q_KEY_CODE_KP_6, 0x5e},
    {Q_KEY_CODE_KP_7, 0x5f}, {Q_KEY_CODE_KP_8, 0x60}, {Q_KEY_CODE_KP_9, 0x61},
    {Q_KEY_CODE_KP_0, 0x62}, {Q_KEY_CODE_KP_DECIMAL, 0x63}, {Q_KEY_CODE_LESS, 0x64},
    {Q_KEY_CODE_COMPOSE, 0x65}, {Q_KEY_CODE_MENU, 0x65}, {Q_KEY_CODE_POWER, 0x66},
    {Q_KEY_CODE_KP_EQUALS, 0x67}, {Q_KEY_CODE_STOP, 0x78}, {Q_KEY_CODE_AGAIN, 0x79},
    {Q_KEY_CODE_UNDO, 0x7a}, {Q_KEY_CODE_CUT, 0x7b}, {Q_KEY_CODE_COPY, 0x7c},
    {Q_KEY_CODE_PASTE, 0x7d}, {Q_KEY_CODE_FIND, 0x7e}, {Q_KEY_CODE_AUDIOMUTE, 0x7f},
    {Q_KEY_CODE_VOLUMEUP, 0x80}, {Q_KEY_CODE_VOLUMEDOWN, 0x81}, {Q_KEY_CODE_KP_COMMA, 0x85},
    {Q_KEY_CODE_RO, 0x87}, {Q_KEY_CODE_KATAKANAHIRAGANA, 0x88}, {Q_KEY_CODE_YEN, 0x89},
    {Q_KEY_CODE_HENKAN, 0x8a}, {Q_KEY_CODE_MUHENKAN, 0x8b}, {Q_KEY_CODE_LANG1, 0x90},
    {Q_KEY_CODE_LANG2, 0x91}, {Q_KEY_CODE_HIRAGANA, 0x93},
    {Q_KEY_CODE_CTRL, 0xe0}, {Q_KEY_CODE_SHIFT, 0xe1}, {Q_KEY_CODE_ALT, 0xe2},
    {Q_KEY_CODE_META_L, 0xe3}, {Q_KEY_CODE_CTRL_R, 0xe4}, {Q_KEY_CODE_SHIFT_R, 0xe5},
    {Q_KEY_CODE_ALT_R, 0xe6}, {Q_KEY_CODE_META_R, 0xe7},
};

uint8_t hid_usage_of_qcode(QKeyCode q)
{
    for (size_t i = 0; i < sizeof(key_usages) / sizeof(key_usages[0]); i++) {
        if (key_usages[i].q == q) {
            return key_usages[i].usage;
        }
    }
    return 0;
}

/* ---- events ---- */

static void keyboard_event(HIDState *hs, QKeyCode q, bool down)
{
    uint8_t u = hid_usage_of_qcode(q);
    if (!u) {
        return;
    }
    HIDKeyboardReport *k = &hs->kbd_state;
    HIDKeyboardReport old = *k;
    if (u >= 0xe0) {
        uint8_t bit = (uint8_t)(1u << (u - 0xe0));
        k->modifiers = down ? (k->modifiers | bit) : (k->modifiers & ~bit);
    } else {
        int i;
        for (i = 0; i < 6 && k->keys[i] != u; i++) {
        }
        if (down && i == 6) {
            for (i = 0; i < 6 && k->keys[i]; i++) {
            }
            if (i < 6) {
                k->keys[i] = u; /* more than six keys: the rest go unreported */
            }
        } else if (!down && i < 6) {
            memmove(&k->keys[i], &k->keys[i + 1], 5 - i);
            k->keys[5] = 0;
        }
    }
    if (!memcmp(&old, k, sizeof(old))) {
        return;
    }
    if (hs->n < HID_QUEUE_LEN) {
        hs->kbd[(hs->head + hs->n) % HID_QUEUE_LEN] = *k;
        hs->n++;
    } else {
        /* full: the newest entry becomes the current state (the guest sees the latest) */
        hs->kbd[(hs->head + hs->n - 1) % HID_QUEUE_LEN] = *k;
    }
    hs->changed(hs);
}

static const uint32_t button_bits[INPUT_BUTTON__MAX] = {
    [INPUT_BUTTON_LEFT] = 0x01, [INPUT_BUTTON_RIGHT] = 0x02, [INPUT_BUTTON_MIDDLE] = 0x04,
    [INPUT_BUTTON_SIDE] = 0x08, [INPUT_BUTTON_EXTRA] = 0x10,
};

void hid_input_event(void *opaque, const InputEvent *e)
{
    HIDState *hs = opaque;
    if (hs->kind == HID_KEYBOARD) {
        if (e->kind == INPUT_EVENT_KEY) {
            keyboard_event(hs, e->key.qcode, e->key.down);
        }
        return;
    }
    HIDPointerEvent *cur = &hs->ptr[(hs->head + hs->n) % HID_QUEUE_LEN];
    switch (e->kind) {
    case INPUT_EVENT_REL:
        if (e->move.axis == INPUT_AXIS_X) {
            cur->xdx += (int32_t)e->move.value;
        } else {
            cur->ydy += (int32_t)e->move.value;
        }
        break;
    case INPUT_EVENT_ABS:
        if (e->move.axis == INPUT_AXIS_X) {
            cur->xdx = (int32_t)e->move.value;
        } else {
            cur->ydy = (int32_t)e->move.value;
        }
        break;
    case INPUT_EVENT_BTN:
        if (e->btn.button == INPUT_BUTTON_WHEEL_UP) {
            cur->dz -= e->btn.down ? 1 : 0;
        } else if (e->btn.button == INPUT_BUTTON_WHEEL_DOWN) {
            cur->dz += e->btn.down ? 1 : 0;
        } else if (e->btn.button < INPUT_BUTTON__MAX) {
            uint32_t bit = button_bits[e->btn.button];
            cur->buttons = e->btn.down ? (cur->buttons | bit) : (cur->buttons & ~bit);
        }
        break;
    default:
        break;
    }
}

void hid_input_sync(void *opaque)
{
    HIDState *hs = opaque;
    if (hs->kind == HID_KEYBOARD || hs->n >= HID_QUEUE_LEN - 1) {
        return; /* full: the collecting entry keeps the newest state */
    }
    HIDPointerEvent *cur = &hs->ptr[(hs->head + hs->n) % HID_QUEUE_LEN];
    HIDPointerEvent *next = &hs->ptr[(hs->head + hs->n + 1) % HID_QUEUE_LEN];
    if (hs->n > 0) {
        HIDPointerEvent *prev = &hs->ptr[(hs->head + hs->n - 1) % HID_QUEUE_LEN];
        if (prev->buttons == cur->buttons) {
            /* motion only: merge into the entry the guest has not read yet */
            if (hs->kind == HID_MOUSE) {
                prev->xdx += cur->xdx;
                prev->ydy += cur->ydy;
                cur->xdx = cur->ydy = 0;
            } else {
                prev->xdx = cur->xdx;
                prev->ydy = cur->ydy;
            }
            prev->dz += cur->dz;
            cur->dz = 0;
            return;
        }
    }
    next->xdx = hs->kind == HID_MOUSE ? 0 : cur->xdx;
    next->ydy = hs->kind == HID_MOUSE ? 0 : cur->ydy;
    next->dz = 0;
    next->buttons = cur->buttons;
    hs->n++;
    hs->changed(hs);
}

/* ---- reports ---- */

static int clamp127(int32_t v)
{
    return v > 127 ? 127 : v < -127 ? -127 : v;
}

static int pointer_poll(HIDState *hs, uint8_t *buf, int len)
{
    HIDPointerEvent *e = &hs->ptr[hs->head % HID_QUEUE_LEN];
    uint8_t out[6];
    int n, dz = clamp127(e->dz);
    e->dz -= dz;
    if (hs->kind == HID_MOUSE) {
        int dx = clamp127(e->xdx), dy = clamp127(e->ydy);
        e->xdx -= dx;
        e->ydy -= dy;
        out[0] = (uint8_t)e->buttons;
        out[1] = (uint8_t)dx;
        out[2] = (uint8_t)dy;
        out[3] = (uint8_t)-dz;
        n = 4;
        if (hs->n > 0 && !e->xdx && !e->ydy && !e->dz) {
            hs->head = (hs->head + 1) % HID_QUEUE_LEN;
            hs->n--;
        }
    } else {
        out[0] = (uint8_t)e->buttons;
        out[1] = (uint8_t)(e->xdx & 0xff);
        out[2] = (uint8_t)((e->xdx >> 8) & 0xff);
        out[3] = (uint8_t)(e->ydy & 0xff);
        out[4] = (uint8_t)((e->ydy >> 8) & 0xff);
        out[5] = (uint8_t)-dz;
        n = 6;
        if (hs->n > 0 && !e->dz) {
            hs->head = (hs->head + 1) % HID_QUEUE_LEN;
            hs->n--;
        }
    }
    if (n > len) {
        n = len;
    }
    memcpy(buf, out, n);
    return n;
}

static int keyboard_poll(HIDState *hs, uint8_t *buf, int len)
{
    HIDKeyboardReport r = hs->kbd_state;
    if (hs->n > 0) {
        r = hs->kbd[hs->head];
        hs->head = (hs->head + 1) % HID_QUEUE_LEN;
        hs->n--;
    }
    uint8_t out[8] = {r.modifiers, 0, r.keys[0], r.keys[1], r.keys[2], r.keys[3], r.keys[4],
                      r.keys[5]};
    int n = len < 8 ? len : 8;
    memcpy(buf, out, n);
    return n;
}

int hid_poll(HIDState *hs, uint8_t *buf, int len)
{
    if (len <= 0) {
        return 0;
    }
    return hs->kind == HID_KEYBOARD ? keyboard_poll(hs, buf, len) : pointer_poll(hs, buf, len);
}

bool hid_has_events(HIDState *hs, int64_t now)
{
    return hs->n > 0 || (hs->idle && now >= hs->next_idle);
}

void hid_set_next_idle(HIDState *hs, int64_t now)
{
    hs->next_idle = now + (int64_t)hs->idle * 4 * 1000 * 1000;
}

void hid_keyboard_write(HIDState *hs, const uint8_t *buf, int len)
{
    if (len < 1) {
        return;
    }
    hs->kbd_leds = buf[0];
    unsigned leds = 0;
    if (buf[0] & 0x01) {
        leds |= INPUT_LED_NUM;
    }
    if (buf[0] & 0x02) {
        leds |= INPUT_LED_CAPS;
    }
    if (buf[0] & 0x04) {
        leds |= INPUT_LED_SCROLL;
    }
    input_set_leds(leds);
}

/* ---- lifecycle ---- */

static const InputHandlerOps mouse_ops = {
    .name = "QEMU HID Mouse", .mask = INPUT_MASK_BTN | INPUT_MASK_REL,
    .event = hid_input_event, .sync = hid_input_sync};
static const InputHandlerOps tablet_ops = {
    .name = "QEMU HID Tablet", .mask = INPUT_MASK_BTN | INPUT_MASK_ABS,
    .event = hid_input_event, .sync = hid_input_sync};
static const InputHandlerOps kbd_ops = {
    .name = "QEMU HID Keyboard", .mask = INPUT_MASK_KEY, .event = hid_input_event};

void hid_init(HIDState *hs, HIDKind kind, void (*changed)(HIDState *hs))
{
    hs->kind = kind;
    hs->changed = changed;
    hid_reset(hs);
    hs->handler = input_handler_register(kind == HID_MOUSE    ? &mouse_ops
                                         : kind == HID_TABLET ? &tablet_ops
                                                              : &kbd_ops,
                                         hs);
}

void hid_free(HIDState *hs)
{
    input_handler_unregister(hs->handler);
    hs->handler = NULL;
}

void hid_reset(HIDState *hs)
{
    memset(hs->ptr, 0, sizeof(hs->ptr));
    memset(hs->kbd, 0, sizeof(hs->kbd));
    memset(&hs->kbd_state, 0, sizeof(hs->kbd_state));
    hs->kbd_leds = 0;
    hs->head = hs->n = 0;
    hs->protocol = 1;
    hs->idle = 0;
    hs->next_idle = 0;
}

void hid_activate(HIDState *hs)
{
    if (hs->handler) {
        input_handler_activate(hs->handler);
    }
}
