/*
 * PS/2 keyboard and mouse (include/vireo/ps2.h).
 *
 * Keyboard: keys arrive as QKeyCodes; the keyboard sends them in scancode set 1, 2 or 3 (F0
 * command). With the controller's translation on (the default, and what Linux uses) the
 * guest reads set 2 translated to set 1: the keyboard then sends the set-1 form directly.
 * Set 2 codes come from set 1 through the byte-wise inverse of the 8042 translation, so E0
 * keys keep their prefix; Print Screen and Pause have their own sequences. Commands: LEDs
 * (ED, passed to the input layer), echo, scancode set, identify (AB 83, or AB 41 through
 * translation), typematic, enable/disable, defaults, reset (AA); anything else gets FE.
 *
 * Mouse: relative moves and buttons are summed and sent as 3-byte packets (4 for the
 * IntelliMouse types, unlocked by the sample-rate knocks 200,100,80 and 200,200,80) while
 * reporting is on; moves beyond +-127 go out in several packets. Commands: scaling, resolution,
 * status, stream/remote mode, read data, wrap mode, identify, sample rate, enable/disable,
 * defaults, reset (AA 00). Unknown commands are acknowledged (FA), as QEMU does, so the
 * probes of Linux's psmouse for other protocols fail cleanly.
 */
#include <glib.h>
#include <string.h>
#include "vireo/ps2.h"
#include "vireo/vmstate.h"

#define ACK    0xfa
#define RESEND 0xfe

/* ---- queue ----------------------------------------------------------------------------- */

static void queue_put(PS2Common *c, uint8_t b)
{
    PS2Queue *q = &c->q;
    if (q->count >= PS2_BUFFER_SIZE) {
        return;
    }
    q->data[q->wptr] = b;
    q->wptr = (q->wptr + 1) % PS2_BUFFER_SIZE;
    q->count++;
}

static void queue_done(PS2Common *c)
{
    if (c->update) {
        c->update(c->opaque);
    }
}

/* Command responses always fit; scancodes and packets only while the queue is short. */
static void queue_resp(PS2Common *c, const uint8_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        queue_put(c, b[i]);
    }
    queue_done(c);
}

static void queue1(PS2Common *c, uint8_t b)
{
    queue_resp(c, &b, 1);
}

static void queue2(PS2Common *c, uint8_t a, uint8_t b)
{
    uint8_t v[2] = {a, b};
    queue_resp(c, v, 2);
}

static void queue_clear(PS2Common *c)
{
    c->q.rptr = c->q.wptr = c->q.count = 0;
}

bool ps2_queue_empty(const PS2Common *c)
{
    return c->q.count == 0;
}

uint8_t ps2_read_data(PS2Common *c)
{
    PS2Queue *q = &c->q;
    if (q->count == 0) {
        int last = q->rptr - 1;
        return q->data[last < 0 ? PS2_BUFFER_SIZE - 1 : last];
    }
    uint8_t v = q->data[q->rptr];
    q->rptr = (q->rptr + 1) % PS2_BUFFER_SIZE;
    q->count--;
    return v;
}

/* ---- scancodes ------------------------------------------------------------------------- */

/* Set 1 code -> set 2 code (the inverse of the controller's translation), 0 for none. */
static const uint8_t set1_to_set2[128] = {
    [0x01] = 0x76, [0x02] = 0x16, [0x03] = 0x1e, [0x04] = 0x26, [0x05] = 0x25, [0x06] = 0x2e,
    [0x07] = 0x36, [0x08] = 0x3d, [0x09] = 0x3e, [0x0a] = 0x46, [0x0b] = 0x45, [0x0c] = 0x4e,
    [0x0d] = 0x55, [0x0e] = 0x66, [0x0f] = 0x0d, [0x10] = 0x15, [0x11] = 0x1d, [0x12] = 0x24,
    [0x13] = 0x2d, [0x14] = 0x2c, [0x15] = 0x35, [0x16] = 0x3c, [0x17] = 0x43, [0x18] = 0x44,
    [0x19] = 0x4d, [0x1a] = 0x54, [0x1b] = 0x5b, [0x1c] = 0x5a, [0x1d] = 0x14, [0x1e] = 0x1c,
    [0x1f] = 0x1b, [0x20] = 0x23, [0x21] = 0x2b, [0x22] = 0x34, [0x23] = 0x33, [0x24] = 0x3b,
    [0x25] = 0x42, [0x26] = 0x4b, [0x27] = 0x4c, [0x28] = 0x52, [0x29] = 0x0e, [0x2a] = 0x12,
    [0x2b] = 0x5d, [0x2c] = 0x1a, [0x2d] = 0x22, [0x2e] = 0x21, [0x2f] = 0x2a, [0x30] = 0x32,
    [0x31] = 0x31, [0x32] = 0x3a, [0x33] = 0x41, [0x34] = 0x49, [0x35] = 0x4a, [0x36] = 0x59,
    [0x37] = 0x7c, [0x38] = 0x11, [0x39] = 0x29, [0x3a] = 0x58, [0x3b] = 0x05, [0x3c] = 0x06,
    [0x3d] = 0x04, [0x3e] = 0x0c, [0x3f] = 0x03, [0x40] = 0x0b, [0x41] = 0x83, [0x42] = 0x0a,
    [0x43] = 0x01, [0x44] = 0x09, [0x45] = 0x77, [0x46] = 0x7e, [0x47] = 0x6c, [0x48] = 0x75,
    [0x49] = 0x7d, [0x4a] = 0x7b, [0x4b] = 0x6b, [0x4c] = 0x73, [0x4d] = 0x74, [0x4e] = 0x79,
    [0x4f] = 0x69, [0x50] = 0x72, [0x51] = 0x7a, [0x52] = 0x70, [0x53] = 0x71, [0x54] = 0x84,
    [0x56] = 0x61, [0x57] = 0x78, [0x58] = 0x07, [0x59] = 0x0f, [0x5b] = 0x1f, [0x5c] = 0x27,
    [0x5d] = 0x2f, [0x5e] = 0x37, [0x5f] = 0x3f, [0x63] = 0x5e, [0x64] = 0x08, [0x65] = 0x10,
    [0x66] = 0x18, [0x67] = 0x20, [0x68] = 0x28, [0x69] = 0x30, [0x6a] = 0x38, [0x6b] = 0x40,
    [0x6c] = 0x48, [0x6d] = 0x50, [0x70] = 0x13, [0x73] = 0x51, [0x79] = 0x64, [0x7b] = 0x67,
    [0x7d] = 0x6a, [0x7e] = 0x6d,
};

uint8_t ps2_set1_to_set2(uint8_t code)
{
    return code < 128 ? set1_to_set2[code] : 0;
}

/* Set 3 codes that differ from set 2, by qnum (the set-1 code, 0x80 | for E0 keys): the
 * function keys, modifiers, editing and cursor keys, keypad operators. */
static const uint8_t set3_diff[][2] = {
    {0x01, 0x08}, {0x3b, 0x07}, {0x3c, 0x0f}, {0x3d, 0x17}, {0x3e, 0x1f}, {0x3f, 0x27},
    {0x40, 0x2f}, {0x41, 0x37}, {0x42, 0x3f}, {0x43, 0x47}, {0x44, 0x4f}, {0x57, 0x56},
    {0x58, 0x5e}, {0x1d, 0x11}, {0x9d, 0x58}, {0x38, 0x19}, {0xb8, 0x39}, {0x3a, 0x14},
    {0x2b, 0x5c}, {0x56, 0x13}, {0xb7, 0x57}, {0x54, 0x57}, {0x46, 0x5f}, {0xc6, 0x62},
    {0xd2, 0x67}, {0xc7, 0x6e}, {0xc9, 0x6f}, {0xd3, 0x64}, {0xcf, 0x65}, {0xd1, 0x6d},
    {0xc8, 0x63}, {0xcb, 0x61}, {0xd0, 0x60}, {0xcd, 0x6a}, {0x45, 0x76}, {0xb5, 0x77},
    {0x37, 0x7e}, {0x4a, 0x84}, {0x4e, 0x7c}, {0x9c, 0x79}, {0xdb, 0x8b}, {0xdc, 0x8c},
    {0xdd, 0x8d},
};

static uint8_t set3_code(int qnum)
{
    for (size_t i = 0; i < sizeof(set3_diff) / sizeof(set3_diff[0]); i++) {
        if (set3_diff[i][0] == qnum) {
            return set3_diff[i][1];
        }
    }
    return (qnum & 0x80) || qnum < 0 ? 0 : set1_to_set2[qnum & 0x7f];
}

static void put_codes(PS2Kbd *k, const uint8_t *b, int n)
{
    if (k->c.q.count + n > PS2_QUEUE_SIZE) {
        return; /* the guest is not reading: drop, as a real keyboard overflows */
    }
    queue_resp(&k->c, b, n);
}

/* Modifier state, left and right apart (Print's codes depend on which Alt is held). */
#define MOD_SHIFT_L 0x01
#define MOD_SHIFT_R 0x02
#define MOD_CTRL_L  0x04
#define MOD_CTRL_R  0x08
#define MOD_ALT_L   0x10
#define MOD_ALT_R   0x20
#define MOD_SHIFT   (MOD_SHIFT_L | MOD_SHIFT_R)
#define MOD_CTRL    (MOD_CTRL_L | MOD_CTRL_R)

/* Keys QEMU 7.2's PS/2 keyboard has no scancode for in sets 2 and 3 (translated or not):
 * they send nothing, although they have set-1 numbers. */
static bool no_set2_code(QKeyCode q)
{
    switch (q) {
    case Q_KEY_CODE_MENU:
    case Q_KEY_CODE_AGAIN:
    case Q_KEY_CODE_PROPS:
    case Q_KEY_CODE_UNDO:
    case Q_KEY_CODE_FRONT:
    case Q_KEY_CODE_COPY:
    case Q_KEY_CODE_OPEN:
    case Q_KEY_CODE_PASTE:
    case Q_KEY_CODE_FIND:
    case Q_KEY_CODE_CUT:
    case Q_KEY_CODE_LF:
    case Q_KEY_CODE_HELP:
    case Q_KEY_CODE_LANG1:
    case Q_KEY_CODE_LANG2:
        return true;
    default:
        return false;
    }
}

/* Print Screen, whose codes depend on the modifiers held (as QEMU sends them): with Left Alt
 * it is SysRq after Alt's break and make again; with Right Alt the same with E0 prefixes;
 * with Shift or Ctrl E0 37 alone; else E0 2A E0 37. */
static void put_print(PS2Kbd *k, bool set1, bool down)
{
    static const uint8_t s1_alt_l[2][3] = {{0xd4, 0xb8, 0x38}, {0xb8, 0x38, 0x54}};
    static const uint8_t s2_alt_l[2][5] = {{0xf0, 0x84, 0xf0, 0x11, 0x11},
                                           {0xf0, 0x11, 0x11, 0x84}};
    static const uint8_t s1_alt_r[2][5] = {{0xd4, 0xe0, 0xb8, 0xe0, 0x38},
                                           {0xe0, 0xb8, 0xe0, 0x38, 0x54}};
    static const uint8_t s2_alt_r[2][7] = {{0xf0, 0x84, 0xe0, 0xf0, 0x11, 0xe0, 0x11},
                                           {0xe0, 0xf0, 0x11, 0xe0, 0x11, 0x84}};
    static const uint8_t s1_mod[2][2] = {{0xe0, 0xb7}, {0xe0, 0x37}};
    static const uint8_t s2_mod[2][3] = {{0xe0, 0xf0, 0x7c}, {0xe0, 0x7c}};
    static const uint8_t s1_plain[2][4] = {{0xe0, 0xb7, 0xe0, 0xaa}, {0xe0, 0x2a, 0xe0, 0x37}};
    static const uint8_t s2_plain[2][6] = {{0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12},
                                           {0xe0, 0x12, 0xe0, 0x7c}};
    if (k->modifiers & MOD_ALT_L) {
        put_codes(k, set1 ? s1_alt_l[down] : s2_alt_l[down], set1 ? 3 : (down ? 4 : 5));
    } else if (k->modifiers & MOD_ALT_R) {
        put_codes(k, set1 ? s1_alt_r[down] : s2_alt_r[down], set1 ? 5 : (down ? 6 : 7));
    } else if (k->modifiers & (MOD_SHIFT | MOD_CTRL)) {
        put_codes(k, set1 ? s1_mod[down] : s2_mod[down], set1 ? 2 : (down ? 2 : 3));
    } else {
        put_codes(k, set1 ? s1_plain[down] : s2_plain[down], set1 || down ? 4 : 6);
    }
}

void ps2_kbd_key(PS2Kbd *k, QKeyCode q, bool down)
{
    uint8_t m = 0;
    if (q == Q_KEY_CODE_SYSRQ) {
        q = Q_KEY_CODE_PRINT; /* QEMU sends SysRq as the Print Screen key */
    }
    switch (q) {
    case Q_KEY_CODE_SHIFT:
        m = MOD_SHIFT_L;
        break;
    case Q_KEY_CODE_SHIFT_R:
        m = MOD_SHIFT_R;
        break;
    case Q_KEY_CODE_CTRL:
        m = MOD_CTRL_L;
        break;
    case Q_KEY_CODE_CTRL_R:
        m = MOD_CTRL_R;
        break;
    case Q_KEY_CODE_ALT:
        m = MOD_ALT_L;
        break;
    case Q_KEY_CODE_ALT_R:
        m = MOD_ALT_R;
        break;
    default:
        break;
    }
    k->modifiers = down ? (k->modifiers | m) : (k->modifiers & ~m);
    bool set1 = k->scancode_set == 1 || k->translate;
    uint8_t b[8];
    int n = 0;
    if (k->scancode_set != 1 && no_set2_code(q)) {
        return;
    }
    if (k->scancode_set == 3 && !k->translate) {
        uint8_t c = set3_code(qcode_to_qnum(q));
        if (!c) {
            return;
        }
        if (!down) {
            b[n++] = 0xf0;
        }
        b[n++] = c;
        put_codes(k, b, n);
        return;
    }
    if (q == Q_KEY_CODE_PAUSE) {
        if (!down) {
            return; /* Pause has no break code */
        }
        if (k->modifiers & MOD_CTRL) { /* Ctrl-Pause is Break: E0 46 */
            static const uint8_t s1[] = {0xe0, 0x46, 0xe0, 0xc6};
            static const uint8_t s2[] = {0xe0, 0x7e, 0xe0, 0xf0, 0x7e};
            put_codes(k, set1 ? s1 : s2, set1 ? 4 : 5);
        } else {
            static const uint8_t s1[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
            static const uint8_t s2[] = {0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77};
            put_codes(k, set1 ? s1 : s2, set1 ? 6 : 8);
        }
        return;
    }
    if (q == Q_KEY_CODE_PRINT) {
        put_print(k, set1, down);
        return;
    }
    int qnum = qcode_to_qnum(q);
    if (qnum <= 0) {
        return;
    }
    uint8_t code = qnum & 0x7f;
    if (qnum & 0x80) {
        b[n++] = 0xe0;
    }
    if (set1) {
        b[n++] = down ? code : (code | 0x80);
    } else {
        uint8_t c2 = set1_to_set2[code];
        if (!c2) {
            return;
        }
        if (!down) {
            b[n++] = 0xf0;
        }
        b[n++] = c2;
    }
    put_codes(k, b, n);
}

/* ---- keyboard -------------------------------------------------------------------------- */

static void kbd_event(void *opaque, const InputEvent *e)
{
    PS2Kbd *k = opaque;
    if (e->kind != INPUT_EVENT_KEY || !k->scan_enabled) {
        return;
    }
    ps2_kbd_key(k, e->key.qcode, e->key.down);
}

static const InputHandlerOps kbd_handler_ops = {
    .name = "QEMU PS/2 Keyboard",
    .mask = INPUT_MASK_KEY,
    .event = kbd_event,
};

static void kbd_defaults(PS2Kbd *k)
{
    k->scancode_set = 2;
    k->scan_enabled = true;
}

void ps2_kbd_reset(PS2Kbd *k)
{
    queue_clear(&k->c);
    k->c.write_cmd = -1;
    k->translate = false;
    k->ledstate = 0;
    k->modifiers = 0;
    kbd_defaults(k);
    input_set_leds(0);
}

void ps2_kbd_init(PS2Kbd *k, void (*update)(void *), void *opaque)
{
    memset(k, 0, sizeof(*k));
    k->c.update = update;
    k->c.opaque = opaque;
    ps2_kbd_reset(k);
    k->handler = input_handler_register(&kbd_handler_ops, k);
}

void ps2_kbd_fini(PS2Kbd *k)
{
    if (k->handler) {
        input_handler_unregister(k->handler);
        k->handler = NULL;
    }
}

void ps2_kbd_set_translation(PS2Kbd *k, bool on)
{
    k->translate = on;
}

void ps2_kbd_write(PS2Kbd *k, uint8_t val)
{
    switch (k->c.write_cmd) {
    case -1:
        break;
    case 0xed: /* LEDs: bit 0 scroll, 1 num, 2 caps, as the input layer counts them */
        k->ledstate = val & 7;
        input_set_leds(k->ledstate);
        k->c.write_cmd = -1;
        queue1(&k->c, ACK);
        return;
    case 0xf0: /* scancode set */
        k->c.write_cmd = -1;
        if (val == 0) {
            /* the set, as the guest reads it (translated when translation is on) */
            static const uint8_t translated[4] = {0, 0x43, 0x41, 0x3f};
            queue2(&k->c, ACK,
                   k->translate ? translated[k->scancode_set] : (uint8_t)k->scancode_set);
        } else if (val >= 1 && val <= 3) {
            k->scancode_set = val;
            queue1(&k->c, ACK);
        } else {
            queue1(&k->c, RESEND);
        }
        return;
    case 0xf3: /* typematic rate/delay */
        k->c.write_cmd = -1;
        queue1(&k->c, ACK);
        return;
    default:
        k->c.write_cmd = -1;
        break;
    }
    switch (val) {
    case 0x00: /* not a command: ack, as QEMU */
        queue1(&k->c, ACK);
        break;
    case 0x05:
        queue1(&k->c, RESEND);
        break;
    case 0xee: /* echo */
        queue1(&k->c, 0xee);
        break;
    case 0xf2: /* identify: an MF2 keyboard */
        queue_resp(&k->c, (const uint8_t[]){ACK, 0xab, k->translate ? 0x41 : 0x83}, 3);
        break;
    case 0xf4:
        k->scan_enabled = true;
        queue1(&k->c, ACK);
        break;
    case 0xf5:
        kbd_defaults(k);
        k->scan_enabled = false;
        queue1(&k->c, ACK);
        break;
    case 0xf6:
        kbd_defaults(k);
        queue1(&k->c, ACK);
        break;
    case 0xed:
    case 0xf0:
    case 0xf3:
        k->c.write_cmd = val;
        queue1(&k->c, ACK);
        break;
    case 0xff: /* reset: ack, then the self-test result */
        kbd_defaults(k);
        queue_clear(&k->c);
        queue2(&k->c, ACK, 0xaa);
        break;
    case 0xf7:
    case 0xf8:
    case 0xf9:
    case 0xfa:
    case 0xfb:
    case 0xfc:
    case 0xfd:
        queue1(&k->c, ACK);
        break;
    default:
        queue1(&k->c, RESEND);
        break;
    }
}

/* ---- mouse ----------------------------------------------------------------------------- */

#define MS_REMOTE  0x40
#define MS_ENABLED 0x20
#define MS_SCALE21 0x10

static int clamp127(int32_t v)
{
    return v > 127 ? 127 : v < -127 ? -127 : v;
}

/* One packet from the summed motion; returns whether another is needed. */
static bool mouse_packet(PS2Mouse *m)
{
    int dx = clamp127(m->dx), dy = clamp127(m->dy), dz = m->dz > 7 ? 7 : m->dz < -7 ? -7 : m->dz;
    uint8_t b[4];
    int n = 3;
    b[0] = 0x08 | (m->buttons & 0x07) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0);
    b[1] = (uint8_t)dx;
    b[2] = (uint8_t)dy;
    if (m->type == 3) {
        b[n++] = (uint8_t)dz;
    } else if (m->type == 4) {
        b[n++] = (uint8_t)((dz & 0x0f) | ((m->buttons & 0x18) << 1));
    }
    queue_resp(&m->c, b, n);
    m->dx -= dx;
    m->dy -= dy;
    m->dz -= dz;
    return m->dx || m->dy || m->dz;
}

static void mouse_sync(void *opaque)
{
    PS2Mouse *m = opaque;
    if (!(m->status & MS_ENABLED) || (m->status & MS_REMOTE)) {
        return;
    }
    do {
        if (m->c.q.count + 4 > PS2_QUEUE_SIZE) {
            break; /* the guest lags: keep the rest summed for later */
        }
    } while (mouse_packet(m));
}

static void mouse_event(void *opaque, const InputEvent *e)
{
    PS2Mouse *m = opaque;
    if (!(m->status & MS_ENABLED)) {
        return;
    }
    switch (e->kind) {
    case INPUT_EVENT_REL:
        if (e->move.axis == INPUT_AXIS_X) {
            m->dx += (int32_t)e->move.value;
        } else {
            m->dy -= (int32_t)e->move.value; /* PS/2 counts up as positive */
        }
        break;
    case INPUT_EVENT_BTN: {
        static const uint8_t bits[INPUT_BUTTON__MAX] = {
            [INPUT_BUTTON_LEFT] = 0x01, [INPUT_BUTTON_RIGHT] = 0x02, [INPUT_BUTTON_MIDDLE] = 0x04,
            [INPUT_BUTTON_SIDE] = 0x08, [INPUT_BUTTON_EXTRA] = 0x10,
        };
        if (e->btn.button == INPUT_BUTTON_WHEEL_UP && e->btn.down) {
            m->dz--;
        } else if (e->btn.button == INPUT_BUTTON_WHEEL_DOWN && e->btn.down) {
            m->dz++;
        } else if (e->btn.button < INPUT_BUTTON__MAX) {
            uint8_t bit = bits[e->btn.button];
            m->buttons = e->btn.down ? (m->buttons | bit) : (m->buttons & ~bit);
        }
        break;
    }
    default:
        break;
    }
}

static const InputHandlerOps mouse_handler_ops = {
    .name = "QEMU PS/2 Mouse",
    .mask = INPUT_MASK_BTN | INPUT_MASK_REL,
    .event = mouse_event,
    .sync = mouse_sync,
};

static void mouse_defaults(PS2Mouse *m)
{
    m->status = 0;
    m->resolution = 2;
    m->sample_rate = 100;
    m->dx = m->dy = m->dz = m->dw = 0;
}

void ps2_mouse_reset(PS2Mouse *m)
{
    queue_clear(&m->c);
    m->c.write_cmd = -1;
    mouse_defaults(m);
    m->wrap = false;
    m->type = 0;
    m->detect_state = 0;
    m->buttons = 0;
}

void ps2_mouse_init(PS2Mouse *m, void (*update)(void *), void *opaque)
{
    memset(m, 0, sizeof(*m));
    m->c.update = update;
    m->c.opaque = opaque;
    ps2_mouse_reset(m);
    m->handler = input_handler_register(&mouse_handler_ops, m);
}

void ps2_mouse_fini(PS2Mouse *m)
{
    if (m->handler) {
        input_handler_unregister(m->handler);
        m->handler = NULL;
    }
}

void ps2_mouse_write(PS2Mouse *m, uint8_t val)
{
    switch (m->c.write_cmd) {
    case 0xe8: /* resolution */
        m->resolution = val;
        m->c.write_cmd = -1;
        queue1(&m->c, ACK);
        return;
    case 0xf3: /* sample rate, and the knock sequences that unlock the wheel types */
        m->sample_rate = val;
        m->c.write_cmd = -1;
        switch (m->detect_state) {
        case 0:
            m->detect_state = val == 200 ? 1 : 0;
            break;
        case 1:
            m->detect_state = val == 100 ? 2 : val == 200 ? 3 : 0;
            break;
        case 2:
            if (val == 80) {
                m->type = 3;
            }
            m->detect_state = 0;
            break;
        default:
            if (val == 80) {
                m->type = 4;
            }
            m->detect_state = 0;
            break;
        }
        queue1(&m->c, ACK);
        return;
    default:
        m->c.write_cmd = -1;
        break;
    }
    if (m->wrap) {
        if (val == 0xec) { /* reset wrap mode */
            m->wrap = false;
            queue1(&m->c, ACK);
        } else if (val != 0xff) {
            queue1(&m->c, val); /* echoed */
            return;
        }
        if (val != 0xff) {
            return;
        }
    }
    switch (val) {
    case 0xe6:
        m->status &= ~MS_SCALE21;
        queue1(&m->c, ACK);
        break;
    case 0xe7:
        m->status |= MS_SCALE21;
        queue1(&m->c, ACK);
        break;
    case 0xe8:
    case 0xf3:
        m->c.write_cmd = val;
        queue1(&m->c, ACK);
        break;
    case 0xe9: /* status request */
        queue_resp(&m->c, (const uint8_t[]){ACK, m->status, m->resolution, m->sample_rate}, 4);
        break;
    case 0xea:
        m->status &= ~MS_REMOTE;
        queue1(&m->c, ACK);
        break;
    case 0xeb: /* read data */
        queue1(&m->c, ACK);
        mouse_packet(m);
        break;
    case 0xee:
        m->wrap = true;
        queue1(&m->c, ACK);
        break;
    case 0xf0:
        m->status |= MS_REMOTE;
        queue1(&m->c, ACK);
        break;
    case 0xf2:
        queue2(&m->c, ACK, m->type);
        break;
    case 0xf4:
        m->status |= MS_ENABLED;
        queue1(&m->c, ACK);
        break;
    case 0xf5:
        m->status &= ~MS_ENABLED;
        queue1(&m->c, ACK);
        break;
    case 0xf6:
        mouse_defaults(m);
        queue1(&m->c, ACK);
        break;
    case 0xff:
        mouse_defaults(m);
        m->wrap = false;
        m->type = 0;
        queue_clear(&m->c);
        queue_resp(&m->c, (const uint8_t[]){ACK, 0xaa, m->type}, 3);
        break;
    default:
        queue1(&m->c, ACK);
        break;
    }
}

/* ---- saved state ----------------------------------------------------------------------- */

static const VMStateField queue_fields[] = {
    VMSTATE_BUFFER(data, PS2Queue), VMSTATE_INT32(rptr, PS2Queue), VMSTATE_INT32(wptr, PS2Queue),
    VMSTATE_INT32(count, PS2Queue), VMSTATE_END_OF_LIST(),
};

static const VMStateDescription queue_vmsd = {
    .name = "ps2-queue",
    .version = 1,
    .minimum_version = 1,
    .fields = queue_fields,
};

static bool queue_ok(const PS2Queue *q)
{
    return q->rptr >= 0 && q->rptr < PS2_BUFFER_SIZE && q->wptr >= 0 && q->wptr < PS2_BUFFER_SIZE &&
           q->count >= 0 && q->count <= PS2_BUFFER_SIZE;
}

static bool kbd_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    PS2Kbd *k = opaque;
    if (!queue_ok(&k->c.q) || k->scancode_set < 1 || k->scancode_set > 3) {
        *errp = g_strdup("ps2kbd: invalid state");
        return false;
    }
    return true;
}

static bool mouse_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    PS2Mouse *m = opaque;
    if (!queue_ok(&m->c.q)) {
        *errp = g_strdup("ps2mouse: invalid state");
        return false;
    }
    return true;
}

static const VMStateField kbd_fields[] = {
    VMSTATE_STRUCT(c.q, PS2Kbd, queue_vmsd), VMSTATE_INT32(c.write_cmd, PS2Kbd),
    VMSTATE_BOOL(scan_enabled, PS2Kbd),      VMSTATE_BOOL(translate, PS2Kbd),
    VMSTATE_INT32(scancode_set, PS2Kbd),     VMSTATE_UINT32(ledstate, PS2Kbd),
    VMSTATE_UINT8(modifiers, PS2Kbd),        VMSTATE_END_OF_LIST(),
};

const VMStateDescription ps2_kbd_vmsd = {
    .name = "ps2kbd",
    .version = 1,
    .minimum_version = 1,
    .fields = kbd_fields,
    .post_load = kbd_post_load,
};

static const VMStateField mouse_fields[] = {
    VMSTATE_STRUCT(c.q, PS2Mouse, queue_vmsd),
    VMSTATE_INT32(c.write_cmd, PS2Mouse),
    VMSTATE_UINT8(status, PS2Mouse),
    VMSTATE_UINT8(resolution, PS2Mouse),
    VMSTATE_UINT8(sample_rate, PS2Mouse),
    VMSTATE_BOOL(wrap, PS2Mouse),
    VMSTATE_UINT8(type, PS2Mouse),
    VMSTATE_UINT8(detect_state, PS2Mouse),
    VMSTATE_INT32(dx, PS2Mouse),
    VMSTATE_INT32(dy, PS2Mouse),
    VMSTATE_INT32(dz, PS2Mouse),
    VMSTATE_UINT8(buttons, PS2Mouse),
    VMSTATE_END_OF_LIST(),
};

const VMStateDescription ps2_mouse_vmsd = {
    .name = "ps2mouse",
    .version = 1,
    .minimum_version = 1,
    .fields = mouse_fields,
    .post_load = mouse_post_load,
};
