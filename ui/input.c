/*
 * Input routing (include/vireo/input.h): qcode names and numbers, the handler list, LEDs.
 *
 * Handlers are kept newest-activated first; an event goes to the first handler whose mask
 * takes its kind. State is guarded by vireo_lock().
 */
#include <glib.h>
#include <string.h>
#include "vireo/console.h"
#include "vireo/input.h"
#include "vireo/machine.h"
#include "vireo/runstate.h"
#include "vireo/timer.h"

static const char *const qcode_names[Q_KEY_CODE__MAX] = {
    "unmapped",
    "shift",
    "shift_r",
    "alt",
    "alt_r",
    "ctrl",
    "ctrl_r",
    "menu",
    "esc",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "0",
    "minus",
    "equal",
    "backspace",
    "tab",
    "q",
    "w",
    "e",
    "r",
    "t",
    "y",
    "u",
    "i",
    "o",
    "p",
    "bracket_left",
    "bracket_right",
    "ret",
    "a",
    "s",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "semicolon",
    "apostrophe",
    "grave_accent",
    "backslash",
    "z",
    "x",
    "c",
    "v",
    "b",
    "n",
    "m",
    "comma",
    "dot",
    "slash",
    "asterisk",
    "spc",
    "caps_lock",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "f6",
    "f7",
    "f8",
    "f9",
    "f10",
    "num_lock",
    "scroll_lock",
    "kp_divide",
    "kp_multiply",
    "kp_subtract",
    "kp_add",
    "kp_enter",
    "kp_decimal",
    "sysrq",
    "kp_0",
    "kp_1",
    "kp_2",
    "kp_3",
    "kp_4",
    "kp_5",
    "kp_6",
    "kp_7",
    "kp_8",
    "kp_9",
    "less",
    "f11",
    "f12",
    "print",
    "home",
    "pgup",
    "pgdn",
    "end",
    "left",
    "up",
    "down",
    "right",
    "insert",
    "delete",
    "stop",
    "again",
    "props",
    "undo",
    "front",
    "copy",
    "open",
    "paste",
    "find",
    "cut",
    "lf",
    "help",
    "meta_l",
    "meta_r",
    "compose",
    "pause",
    "ro",
    "hiragana",
    "henkan",
    "yen",
    "muhenkan",
    "katakanahiragana",
    "kp_comma",
    "kp_equals",
    "power",
    "sleep",
    "wake",
    "audionext",
    "audioprev",
    "audiostop",
    "audioplay",
    "audiomute",
    "volumeup",
    "volumedown",
    "mediaselect",
    "mail",
    "calculator",
    "computer",
    "ac_home",
    "ac_back",
    "ac_forward",
    "ac_refresh",
    "ac_bookmarks",
    "lang1",
    "lang2",
};

/*
 * qcode -> qnum. Keys 0x01-0x58 are the set-1 scancodes of the 83/102-key layout; 0x80 and
 * up are the E0-prefixed keys. (The keymap files' comments list the same numbers.)
 */
static const uint8_t qcode_qnum[Q_KEY_CODE__MAX] = {
    [Q_KEY_CODE_ESC] = 0x01,
    [Q_KEY_CODE_1] = 0x02,
    [Q_KEY_CODE_2] = 0x03,
    [Q_KEY_CODE_3] = 0x04,
    [Q_KEY_CODE_4] = 0x05,
    [Q_KEY_CODE_5] = 0x06,
    [Q_KEY_CODE_6] = 0x07,
    [Q_KEY_CODE_7] = 0x08,
    [Q_KEY_CODE_8] = 0x09,
    [Q_KEY_CODE_9] = 0x0a,
    [Q_KEY_CODE_0] = 0x0b,
    [Q_KEY_CODE_MINUS] = 0x0c,
    [Q_KEY_CODE_EQUAL] = 0x0d,
    [Q_KEY_CODE_BACKSPACE] = 0x0e,
    [Q_KEY_CODE_TAB] = 0x0f,
    [Q_KEY_CODE_Q] = 0x10,
    [Q_KEY_CODE_W] = 0x11,
    [Q_KEY_CODE_E] = 0x12,
    [Q_KEY_CODE_R] = 0x13,
    [Q_KEY_CODE_T] = 0x14,
    [Q_KEY_CODE_Y] = 0x15,
    [Q_KEY_CODE_U] = 0x16,
    [Q_KEY_CODE_I] = 0x17,
    [Q_KEY_CODE_O] = 0x18,
    [Q_KEY_CODE_P] = 0x19,
    [Q_KEY_CODE_BRACKET_LEFT] = 0x1a,
    [Q_KEY_CODE_BRACKET_RIGHT] = 0x1b,
    [Q_KEY_CODE_RET] = 0x1c,
    [Q_KEY_CODE_CTRL] = 0x1d,
    [Q_KEY_CODE_A] = 0x1e,
    [Q_KEY_CODE_S] = 0x1f,
    [Q_KEY_CODE_D] = 0x20,
    [Q_KEY_CODE_F] = 0x21,
    [Q_KEY_CODE_G] = 0x22,
    [Q_KEY_CODE_H] = 0x23,
    [Q_KEY_CODE_J] = 0x24,
    [Q_KEY_CODE_K] = 0x25,
    [Q_KEY_CODE_L] = 0x26,
    [Q_KEY_CODE_SEMICOLON] = 0x27,
    [Q_KEY_CODE_APOSTROPHE] = 0x28,
    [Q_KEY_CODE_GRAVE_ACCENT] = 0x29,
    [Q_KEY_CODE_SHIFT] = 0x2a,
    [Q_KEY_CODE_BACKSLASH] = 0x2b,
    [Q_KEY_CODE_Z] = 0x2c,
    [Q_KEY_CODE_X] = 0x2d,
    [Q_KEY_CODE_C] = 0x2e,
    [Q_KEY_CODE_V] = 0x2f,
    [Q_KEY_CODE_B] = 0x30,
    [Q_KEY_CODE_N] = 0x31,
    [Q_KEY_CODE_M] = 0x32,
    [Q_KEY_CODE_COMMA] = 0x33,
    [Q_KEY_CODE_DOT] = 0x34,
    [Q_KEY_CODE_SLASH] = 0x35,
    [Q_KEY_CODE_SHIFT_R] = 0x36,
    [Q_KEY_CODE_KP_MULTIPLY] = 0x37,
    [Q_KEY_CODE_ASTERISK] = 0x37,
    [Q_KEY_CODE_ALT] = 0x38,
    [Q_KEY_CODE_SPC] = 0x39,
    [Q_KEY_CODE_CAPS_LOCK] = 0x3a,
    [Q_KEY_CODE_F1] = 0x3b,
    [Q_KEY_CODE_F2] = 0x3c,
    [Q_KEY_CODE_F3] = 0x3d,
    [Q_KEY_CODE_F4] = 0x3e,
    [Q_KEY_CODE_F5] = 0x3f,
    [Q_KEY_CODE_F6] = 0x40,
    [Q_KEY_CODE_F7] = 0x41,
    [Q_KEY_CODE_F8] = 0x42,
    [Q_KEY_CODE_F9] = 0x43,
    [Q_KEY_CODE_F10] = 0x44,
    [Q_KEY_CODE_NUM_LOCK] = 0x45,
    [Q_KEY_CODE_SCROLL_LOCK] = 0x46,
    [Q_KEY_CODE_KP_7] = 0x47,
    [Q_KEY_CODE_KP_8] = 0x48,
    [Q_KEY_CODE_KP_9] = 0x49,
    [Q_KEY_CODE_KP_SUBTRACT] = 0x4a,
    [Q_KEY_CODE_KP_4] = 0x4b,
    [Q_KEY_CODE_KP_5] = 0x4c,
    [Q_KEY_CODE_KP_6] = 0x4d,
    [Q_KEY_CODE_KP_ADD] = 0x4e,
    [Q_KEY_CODE_KP_1] = 0x4f,
    [Q_KEY_CODE_KP_2] = 0x50,
    [Q_KEY_CODE_KP_3] = 0x51,
    [Q_KEY_CODE_KP_0] = 0x52,
    [Q_KEY_CODE_KP_DECIMAL] = 0x53,
    [Q_KEY_CODE_SYSRQ] = 0x54,
    [Q_KEY_CODE_LESS] = 0x56,
    [Q_KEY_CODE_F11] = 0x57,
    [Q_KEY_CODE_F12] = 0x58,
    [Q_KEY_CODE_KP_EQUALS] = 0x59,
    [Q_KEY_CODE_LF] = 0x5b,
    [Q_KEY_CODE_OPEN] = 0x64,
    [Q_KEY_CODE_PASTE] = 0x65,
    [Q_KEY_CODE_KATAKANAHIRAGANA] = 0x70,
    [Q_KEY_CODE_LANG2] = 0x71,
    [Q_KEY_CODE_LANG1] = 0x72,
    [Q_KEY_CODE_RO] = 0x73,
    [Q_KEY_CODE_HIRAGANA] = 0x77,
    [Q_KEY_CODE_HENKAN] = 0x79,
    [Q_KEY_CODE_MUHENKAN] = 0x7b,
    [Q_KEY_CODE_YEN] = 0x7d,
    [Q_KEY_CODE_KP_COMMA] = 0x7e,
    [Q_KEY_CODE_AGAIN] = 0x85,
    [Q_KEY_CODE_PROPS] = 0x86,
    [Q_KEY_CODE_UNDO] = 0x87,
    [Q_KEY_CODE_FRONT] = 0x8c,
    [Q_KEY_CODE_AUDIOPREV] = 0x90,
    [Q_KEY_CODE_AUDIONEXT] = 0x99,
    [Q_KEY_CODE_KP_ENTER] = 0x9c,
    [Q_KEY_CODE_CTRL_R] = 0x9d,
    [Q_KEY_CODE_MENU] = 0x9e,
    [Q_KEY_CODE_AUDIOMUTE] = 0xa0,
    [Q_KEY_CODE_CALCULATOR] = 0xa1,
    [Q_KEY_CODE_AUDIOPLAY] = 0xa2,
    [Q_KEY_CODE_AUDIOSTOP] = 0xa4,
    [Q_KEY_CODE_VOLUMEDOWN] = 0xae,
    [Q_KEY_CODE_VOLUMEUP] = 0xb0,
    [Q_KEY_CODE_AC_HOME] = 0xb2,
    [Q_KEY_CODE_KP_DIVIDE] = 0xb5,
    [Q_KEY_CODE_PRINT] = 0xb7,
    [Q_KEY_CODE_ALT_R] = 0xb8,
    [Q_KEY_CODE_CUT] = 0xbc,
    [Q_KEY_CODE_FIND] = 0xc1,
    [Q_KEY_CODE_PAUSE] = 0xc6,
    [Q_KEY_CODE_HOME] = 0xc7,
    [Q_KEY_CODE_UP] = 0xc8,
    [Q_KEY_CODE_PGUP] = 0xc9,
    [Q_KEY_CODE_LEFT] = 0xcb,
    [Q_KEY_CODE_RIGHT] = 0xcd,
    [Q_KEY_CODE_END] = 0xcf,
    [Q_KEY_CODE_DOWN] = 0xd0,
    [Q_KEY_CODE_PGDN] = 0xd1,
    [Q_KEY_CODE_INSERT] = 0xd2,
    [Q_KEY_CODE_DELETE] = 0xd3,
    [Q_KEY_CODE_META_L] = 0xdb,
    [Q_KEY_CODE_META_R] = 0xdc,
    [Q_KEY_CODE_COMPOSE] = 0xdd,
    [Q_KEY_CODE_POWER] = 0xde,
    [Q_KEY_CODE_SLEEP] = 0xdf,
    [Q_KEY_CODE_WAKE] = 0xe3,
    [Q_KEY_CODE_AC_BOOKMARKS] = 0xe6,
    [Q_KEY_CODE_AC_REFRESH] = 0xe7,
    [Q_KEY_CODE_STOP] = 0xe8,
    [Q_KEY_CODE_AC_FORWARD] = 0xe9,
    [Q_KEY_CODE_AC_BACK] = 0xea,
    [Q_KEY_CODE_COMPUTER] = 0xeb,
    [Q_KEY_CODE_MAIL] = 0xec,
    [Q_KEY_CODE_MEDIASELECT] = 0xed,
    [Q_KEY_CODE_HELP] = 0xf5,
    [Q_KEY_CODE_COPY] = 0xf8,
};

const char *qcode_name(QKeyCode q)
{
    return (unsigned)q < Q_KEY_CODE__MAX ? qcode_names[q] : NULL;
}

int qcode_from_name(const char *name)
{
    for (int i = 0; i < Q_KEY_CODE__MAX; i++) {
        if (!strcmp(qcode_names[i], name)) {
            return i;
        }
    }
    return -1;
}

int qcode_to_qnum(QKeyCode q)
{
    return (unsigned)q < Q_KEY_CODE__MAX ? qcode_qnum[q] : 0;
}

QKeyCode qnum_to_qcode(int qnum)
{
    if (qnum <= 0 || qnum > 0xff) {
        return Q_KEY_CODE_UNMAPPED;
    }
    /* kp_multiply and asterisk share 0x37: the keypad key is the one the keyboard has */
    if (qnum == 0x37) {
        return Q_KEY_CODE_KP_MULTIPLY;
    }
    for (int i = 1; i < Q_KEY_CODE__MAX; i++) {
        if (qcode_qnum[i] == qnum) {
            return (QKeyCode)i;
        }
    }
    return Q_KEY_CODE_UNMAPPED;
}

static const char *const button_names[INPUT_BUTTON__MAX] = {
    "left", "middle", "right",      "wheel-up",    "wheel-down",
    "side", "extra",  "wheel-left", "wheel-right",
};

const char *input_button_name(InputButton b)
{
    return (unsigned)b < INPUT_BUTTON__MAX ? button_names[b] : NULL;
}

/* ---- handlers ----------------------------------------------------------------------------- */

struct InputHandler {
    const InputHandlerOps *ops;
    void *opaque;
    bool got_events; /* since the last sync */
    InputHandler *next;
};

static InputHandler *handlers; /* most recently activated first */
static unsigned leds;
static InputNotifier *notifiers;
static bool last_absolute;

static InputHandler *find_handler(InputEventKind kind)
{
    for (InputHandler *h = handlers; h; h = h->next) {
        if (h->ops->mask & (1u << kind)) {
            return h;
        }
    }
    return NULL;
}

static bool absolute_locked(void)
{
    return find_handler(INPUT_EVENT_ABS) != NULL;
}

/* Tell notifiers when the pointer mode changed (lock held). */
static void check_mode(void)
{
    bool abs = absolute_locked();
    if (abs == last_absolute) {
        return;
    }
    last_absolute = abs;
    for (InputNotifier *n = notifiers; n; n = n->next) {
        if (n->mode_changed) {
            n->mode_changed(n, abs);
        }
    }
}

static void unlink_handler(InputHandler *h)
{
    for (InputHandler **p = &handlers; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    h->next = NULL;
}

InputHandler *input_handler_register(const InputHandlerOps *ops, void *opaque)
{
    InputHandler *h = g_new0(InputHandler, 1);
    h->ops = ops;
    h->opaque = opaque;
    h->next = handlers;
    handlers = h;
    check_mode();
    return h;
}

void input_handler_activate(InputHandler *h)
{
    if (handlers == h) {
        return;
    }
    unlink_handler(h);
    h->next = handlers;
    handlers = h;
    check_mode();
}

void input_handler_unregister(InputHandler *h)
{
    if (!h) {
        return;
    }
    unlink_handler(h);
    g_free(h);
    check_mode();
}

static void kbd_queue_clear(void);

void input_reset(void)
{
    kbd_queue_clear();
    while (handlers) {
        InputHandler *h = handlers;
        handlers = h->next;
        g_free(h);
    }
    leds = 0;
    check_mode();
}

/* ---- senders ------------------------------------------------------------------------------ */

static void send_locked(const InputEvent *e)
{
    /* QEMU's rule: input reaches the guest only while it runs (a paused guest loses it) */
    if (!runstate_is_running()) {
        return;
    }
    InputHandler *h = find_handler(e->kind);
    if (!h) {
        return;
    }
    h->ops->event(h->opaque, e);
    h->got_events = true;
}

static void send(const InputEvent *e)
{
    vireo_lock();
    console_kick(NULL); /* the screen will likely change: refresh at the base rate */
    send_locked(e);
    vireo_unlock();
}

/* One key to the keyboard (lock held); a key with no qcode goes nowhere. */
static void key_locked(QKeyCode q, bool down)
{
    if ((unsigned)q >= Q_KEY_CODE__MAX || q == Q_KEY_CODE_UNMAPPED) {
        return;
    }
    InputEvent e = {.kind = INPUT_EVENT_KEY, .key = {q, down}};
    console_kick(NULL);
    send_locked(&e);
}

void input_send_key(QKeyCode q, bool down)
{
    vireo_lock();
    key_locked(q, down);
    vireo_unlock();
}

void input_send_btn(InputButton b, bool down)
{
    if ((unsigned)b >= INPUT_BUTTON__MAX) {
        return;
    }
    InputEvent e = {.kind = INPUT_EVENT_BTN, .btn = {b, down}};
    send(&e);
}

void input_send_rel(InputAxis axis, int64_t delta)
{
    InputEvent e = {.kind = INPUT_EVENT_REL, .move = {axis, delta}};
    send(&e);
}

void input_send_abs(InputAxis axis, int64_t value, int64_t size)
{
    /* QEMU's qemu_input_scale_axis: 0..size-1 onto INPUT_ABS_MIN..MAX */
    int64_t v;
    if (size <= 1) {
        v = INPUT_ABS_MIN + (INPUT_ABS_MAX - INPUT_ABS_MIN) / 2;
    } else {
        if (value < 0) {
            value = 0;
        }
        if (value > size - 1) {
            value = size - 1;
        }
        v = INPUT_ABS_MIN + value * (INPUT_ABS_MAX - INPUT_ABS_MIN) / (size - 1);
    }
    InputEvent e = {.kind = INPUT_EVENT_ABS, .move = {axis, v}};
    send(&e);
}

static void sync_locked(void)
{
    for (InputHandler *h = handlers; h; h = h->next) {
        if (h->got_events) {
            h->got_events = false;
            if (h->ops->sync) {
                h->ops->sync(h->opaque);
            }
        }
    }
}

void input_sync(void)
{
    vireo_lock();
    sync_locked();
    vireo_unlock();
}

bool input_has_handler(InputEventKind kind)
{
    vireo_lock();
    bool has = find_handler(kind) != NULL;
    vireo_unlock();
    return has;
}

void input_send_event(const InputEvent *e)
{
    if (e->kind == INPUT_EVENT_KEY) {
        input_send_key(e->key.qcode, e->key.down);
    } else {
        send(e);
    }
}

/* ---- the keyboard queue (send-key) -------------------------------------------------------- */

/*
 * QEMU's queue for keys sent with pauses between them: a key sent while the queue is empty
 * goes at once, later ones wait behind the pending pause; a VIRTUAL-clock timer plays the
 * queue (so a paused guest's queue waits). Items count as QEMU counts them (a key: its event
 * and its sync) against QEMU's limit; what is over it is dropped.
 */
#define KBD_QUEUE_LIMIT   1024
#define KBD_DEFAULT_DELAY 10 /* ms, when 0 is asked for */

typedef struct KbdItem {
    bool is_delay;
    uint32_t delay_ms;
    QKeyCode q;
    bool down;
} KbdItem;

static GQueue kbd_queue = G_QUEUE_INIT;
static unsigned kbd_count; /* QEMU's queue_count */
static VTimer kbd_timer;
static bool kbd_timer_ready;

static void kbd_arm(uint32_t ms)
{
    vtimer_mod(&kbd_timer, vclock_ns() + (int64_t)ms * 1000000);
}

static void kbd_play(void *opaque)
{
    (void)opaque;
    /* the head is the pause that just ended */
    KbdItem *it = g_queue_pop_head(&kbd_queue);
    g_free(it);
    kbd_count--;
    while ((it = g_queue_peek_head(&kbd_queue))) {
        if (it->is_delay) {
            kbd_arm(it->delay_ms);
            return;
        }
        key_locked(it->q, it->down);
        sync_locked();
        g_queue_pop_head(&kbd_queue);
        g_free(it);
        kbd_count -= 2;
    }
}

static void kbd_queue_clear(void)
{
    if (kbd_timer_ready) {
        vtimer_del(&kbd_timer);
        kbd_timer_ready = false;
    }
    g_queue_clear_full(&kbd_queue, g_free);
    kbd_count = 0;
}

void input_key_queued(QKeyCode q, bool down)
{
    vireo_lock();
    if (g_queue_is_empty(&kbd_queue)) {
        key_locked(q, down);
        sync_locked();
    } else if (kbd_count < KBD_QUEUE_LIMIT) {
        KbdItem *it = g_new0(KbdItem, 1);
        it->q = (unsigned)q < Q_KEY_CODE__MAX ? q : Q_KEY_CODE_UNMAPPED;
        it->down = down;
        g_queue_push_tail(&kbd_queue, it);
        kbd_count += 2;
    }
    vireo_unlock();
}

void input_key_delay(uint32_t ms)
{
    vireo_lock();
    if (runstate_is_running() && kbd_count < KBD_QUEUE_LIMIT) {
        if (!kbd_timer_ready) {
            vtimer_init(&kbd_timer, kbd_play, NULL);
            kbd_timer_ready = true;
        }
        KbdItem *it = g_new0(KbdItem, 1);
        it->is_delay = true;
        it->delay_ms = ms ? ms : KBD_DEFAULT_DELAY;
        bool start = g_queue_is_empty(&kbd_queue);
        g_queue_push_tail(&kbd_queue, it);
        kbd_count++;
        if (start) {
            kbd_arm(it->delay_ms);
        }
    }
    vireo_unlock();
}

void input_update_buttons(uint32_t old_mask, uint32_t new_mask)
{
    for (int b = 0; b < INPUT_BUTTON__MAX; b++) {
        uint32_t bit = 1u << b;
        if ((old_mask ^ new_mask) & bit) {
            input_send_btn((InputButton)b, (new_mask & bit) != 0);
        }
    }
}

bool input_is_absolute(void)
{
    vireo_lock();
    bool abs = absolute_locked();
    vireo_unlock();
    return abs;
}

const char *input_active_name(InputEventKind kind)
{
    InputHandler *h = find_handler(kind);
    return h ? h->ops->name : NULL;
}

/* ---- LEDs and notifiers ------------------------------------------------------------------- */

void input_set_leds(unsigned l)
{
    l &= INPUT_LED_SCROLL | INPUT_LED_NUM | INPUT_LED_CAPS;
    if (l == leds) {
        return;
    }
    leds = l;
    for (InputNotifier *n = notifiers; n; n = n->next) {
        if (n->leds_changed) {
            n->leds_changed(n, l);
        }
    }
}

unsigned input_get_leds(void)
{
    return leds;
}

void input_add_notifier(InputNotifier *n)
{
    vireo_lock();
    n->next = notifiers;
    notifiers = n;
    vireo_unlock();
}

void input_remove_notifier(InputNotifier *n)
{
    vireo_lock();
    for (InputNotifier **p = &notifiers; *p; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            break;
        }
    }
    n->next = NULL;
    vireo_unlock();
}
