/*
 * Input (ui/input.c): events from a user interface (VNC, QMP send-key / input-send-event) to
 * the guest's input devices (PS/2 keyboard and mouse, USB tablet), as QEMU's ui/input.c.
 *
 * Keys travel as QEMU's QKeyCode ("qcode": a key's position, not the character it makes);
 * pointers as buttons, relative moves, or absolute positions scaled to INPUT_ABS_MIN..MAX
 * over the console's surface. A device registers a handler for the kinds it takes; the most
 * recently activated handler that takes a kind gets it (QEMU's rule: a USB tablet whose guest
 * driver starts takes the pointer from the PS/2 mouse).
 *
 * Locking: senders (input_send_*, input_sync) are called WITHOUT vireo_lock() (they take it);
 * a handler's event/sync run with it held. Handlers are registered and activated by devices
 * with the lock held.
 *
 *   a VNC key event:  keysym --keymap (-k)--> qcode --> handler (PS/2: qcode -> scancode set)
 *   QEMU ext. key:    XT keycode ("qnum") ---------> qcode --> handler
 */
#ifndef VIREO_INPUT_H
#define VIREO_INPUT_H

#include <stdbool.h>
#include <stdint.h>

/* QEMU 7.2's QKeyCode, in its order (the values are Vireo's; QMP uses the names). */
typedef enum {
    Q_KEY_CODE_UNMAPPED,
    Q_KEY_CODE_SHIFT,
    Q_KEY_CODE_SHIFT_R,
    Q_KEY_CODE_ALT,
    Q_KEY_CODE_ALT_R,
    Q_KEY_CODE_CTRL,
    Q_KEY_CODE_CTRL_R,
    Q_KEY_CODE_MENU,
    Q_KEY_CODE_ESC,
    Q_KEY_CODE_1,
    Q_KEY_CODE_2,
    Q_KEY_CODE_3,
    Q_KEY_CODE_4,
    Q_KEY_CODE_5,
    Q_KEY_CODE_6,
    Q_KEY_CODE_7,
    Q_KEY_CODE_8,
    Q_KEY_CODE_9,
    Q_KEY_CODE_0,
    Q_KEY_CODE_MINUS,
    Q_KEY_CODE_EQUAL,
    Q_KEY_CODE_BACKSPACE,
    Q_KEY_CODE_TAB,
    Q_KEY_CODE_Q,
    Q_KEY_CODE_W,
    Q_KEY_CODE_E,
    Q_KEY_CODE_R,
    Q_KEY_CODE_T,
    Q_KEY_CODE_Y,
    Q_KEY_CODE_U,
    Q_KEY_CODE_I,
    Q_KEY_CODE_O,
    Q_KEY_CODE_P,
    Q_KEY_CODE_BRACKET_LEFT,
    Q_KEY_CODE_BRACKET_RIGHT,
    Q_KEY_CODE_RET,
    Q_KEY_CODE_A,
    Q_KEY_CODE_S,
    Q_KEY_CODE_D,
    Q_KEY_CODE_F,
    Q_KEY_CODE_G,
    Q_KEY_CODE_H,
    Q_KEY_CODE_J,
    Q_KEY_CODE_K,
    Q_KEY_CODE_L,
    Q_KEY_CODE_SEMICOLON,
    Q_KEY_CODE_APOSTROPHE,
    Q_KEY_CODE_GRAVE_ACCENT,
    Q_KEY_CODE_BACKSLASH,
    Q_KEY_CODE_Z,
    Q_KEY_CODE_X,
    Q_KEY_CODE_C,
    Q_KEY_CODE_V,
    Q_KEY_CODE_B,
    Q_KEY_CODE_N,
    Q_KEY_CODE_M,
    Q_KEY_CODE_COMMA,
    Q_KEY_CODE_DOT,
    Q_KEY_CODE_SLASH,
    Q_KEY_CODE_ASTERISK,
    Q_KEY_CODE_SPC,
    Q_KEY_CODE_CAPS_LOCK,
    Q_KEY_CODE_F1,
    Q_KEY_CODE_F2,
    Q_KEY_CODE_F3,
    Q_KEY_CODE_F4,
    Q_KEY_CODE_F5,
    Q_KEY_CODE_F6,
    Q_KEY_CODE_F7,
    Q_KEY_CODE_F8,
    Q_KEY_CODE_F9,
    Q_KEY_CODE_F10,
    Q_KEY_CODE_NUM_LOCK,
    Q_KEY_CODE_SCROLL_LOCK,
    Q_KEY_CODE_KP_DIVIDE,
    Q_KEY_CODE_KP_MULTIPLY,
    Q_KEY_CODE_KP_SUBTRACT,
    Q_KEY_CODE_KP_ADD,
    Q_KEY_CODE_KP_ENTER,
    Q_KEY_CODE_KP_DECIMAL,
    Q_KEY_CODE_SYSRQ,
    Q_KEY_CODE_KP_0,
    Q_KEY_CODE_KP_1,
    Q_KEY_CODE_KP_2,
    Q_KEY_CODE_KP_3,
    Q_KEY_CODE_KP_4,
    Q_KEY_CODE_KP_5,
    Q_KEY_CODE_KP_6,
    Q_KEY_CODE_KP_7,
    Q_KEY_CODE_KP_8,
    Q_KEY_CODE_KP_9,
    Q_KEY_CODE_LESS,
    Q_KEY_CODE_F11,
    Q_KEY_CODE_F12,
    Q_KEY_CODE_PRINT,
    Q_KEY_CODE_HOME,
    Q_KEY_CODE_PGUP,
    Q_KEY_CODE_PGDN,
    Q_KEY_CODE_END,
    Q_KEY_CODE_LEFT,
    Q_KEY_CODE_UP,
    Q_KEY_CODE_DOWN,
    Q_KEY_CODE_RIGHT,
    Q_KEY_CODE_INSERT,
    Q_KEY_CODE_DELETE,
    Q_KEY_CODE_STOP,
    Q_KEY_CODE_AGAIN,
    Q_KEY_CODE_PROPS,
    Q_KEY_CODE_UNDO,
    Q_KEY_CODE_FRONT,
    Q_KEY_CODE_COPY,
    Q_KEY_CODE_OPEN,
    Q_KEY_CODE_PASTE,
    Q_KEY_CODE_FIND,
    Q_KEY_CODE_CUT,
    Q_KEY_CODE_LF,
    Q_KEY_CODE_HELP,
    Q_KEY_CODE_META_L,
    Q_KEY_CODE_META_R,
    Q_KEY_CODE_COMPOSE,
    Q_KEY_CODE_PAUSE,
    Q_KEY_CODE_RO,
    Q_KEY_CODE_HIRAGANA,
    Q_KEY_CODE_HENKAN,
    Q_KEY_CODE_YEN,
    Q_KEY_CODE_MUHENKAN,
    Q_KEY_CODE_KATAKANAHIRAGANA,
    Q_KEY_CODE_KP_COMMA,
    Q_KEY_CODE_KP_EQUALS,
    Q_KEY_CODE_POWER,
    Q_KEY_CODE_SLEEP,
    Q_KEY_CODE_WAKE,
    Q_KEY_CODE_AUDIONEXT,
    Q_KEY_CODE_AUDIOPREV,
    Q_KEY_CODE_AUDIOSTOP,
    Q_KEY_CODE_AUDIOPLAY,
    Q_KEY_CODE_AUDIOMUTE,
    Q_KEY_CODE_VOLUMEUP,
    Q_KEY_CODE_VOLUMEDOWN,
    Q_KEY_CODE_MEDIASELECT,
    Q_KEY_CODE_MAIL,
    Q_KEY_CODE_CALCULATOR,
    Q_KEY_CODE_COMPUTER,
    Q_KEY_CODE_AC_HOME,
    Q_KEY_CODE_AC_BACK,
    Q_KEY_CODE_AC_FORWARD,
    Q_KEY_CODE_AC_REFRESH,
    Q_KEY_CODE_AC_BOOKMARKS,
    Q_KEY_CODE_LANG1,
    Q_KEY_CODE_LANG2,
    Q_KEY_CODE__MAX
} QKeyCode;

/* QEMU's name of a qcode ("shift_r"), NULL when out of range; the reverse (-1: unknown). */
const char *qcode_name(QKeyCode q);
int qcode_from_name(const char *name);
/*
 * A "qnum" is QEMU's key number (send-key type=number, the VNC QEMU extended key event's
 * keycode): the PC/XT scancode of set 1, with 0x80 added for keys sent with an E0 prefix
 * (Right Ctrl 0x9d, Up 0xc8). Set 1 is then qnum & 0x7f, prefixed with E0 when qnum >= 0x80.
 * 0 when the key has none.
 */
int qcode_to_qnum(QKeyCode q);
QKeyCode qnum_to_qcode(int qnum); /* Q_KEY_CODE_UNMAPPED when unknown */

typedef enum {
    INPUT_BUTTON_LEFT,
    INPUT_BUTTON_MIDDLE,
    INPUT_BUTTON_RIGHT,
    INPUT_BUTTON_WHEEL_UP,
    INPUT_BUTTON_WHEEL_DOWN,
    INPUT_BUTTON_SIDE,
    INPUT_BUTTON_EXTRA,
    INPUT_BUTTON_WHEEL_LEFT,
    INPUT_BUTTON_WHEEL_RIGHT,
    INPUT_BUTTON__MAX
} InputButton;
const char *input_button_name(InputButton b); /* "wheel-up" */

typedef enum { INPUT_AXIS_X, INPUT_AXIS_Y, INPUT_AXIS__MAX } InputAxis;

/* Absolute positions span 0..0x7fff over the surface, as QEMU's. */
#define INPUT_ABS_MIN 0
#define INPUT_ABS_MAX 0x7fff

typedef enum { INPUT_EVENT_KEY, INPUT_EVENT_BTN, INPUT_EVENT_REL, INPUT_EVENT_ABS } InputEventKind;
#define INPUT_MASK_KEY (1u << INPUT_EVENT_KEY)
#define INPUT_MASK_BTN (1u << INPUT_EVENT_BTN)
#define INPUT_MASK_REL (1u << INPUT_EVENT_REL)
#define INPUT_MASK_ABS (1u << INPUT_EVENT_ABS)

typedef struct InputEvent {
    InputEventKind kind;
    union {
        struct {
            QKeyCode qcode;
            bool down;
        } key;
        struct {
            InputButton button;
            bool down;
        } btn;
        struct {
            InputAxis axis;
            int64_t value; /* REL: a delta in pixels; ABS: INPUT_ABS_MIN..INPUT_ABS_MAX */
        } move;
    };
} InputEvent;

typedef struct InputHandlerOps {
    const char *name; /* "QEMU PS/2 Keyboard", as QEMU names it (query-mice, info mice) */
    uint32_t mask;    /* INPUT_MASK_* it takes */
    /* One event (vireo_lock held). */
    void (*event)(void *opaque, const InputEvent *e);
    /* The end of a group of events that belong together (a pointer move with its buttons);
     * NULL if the device reports each event as it comes. */
    void (*sync)(void *opaque);
} InputHandlerOps;

typedef struct InputHandler InputHandler;

/* Device side, vireo_lock held. A new handler starts active (it is the newest). */
InputHandler *input_handler_register(const InputHandlerOps *ops, void *opaque);
/* Make h the one that gets its kinds of events (the guest driver enabled it). */
void input_handler_activate(InputHandler *h);
void input_handler_unregister(InputHandler *h);

/* Sender side, WITHOUT vireo_lock. Events go to the active handler of their kind. */
void input_send_key(QKeyCode q, bool down);
void input_send_btn(InputButton b, bool down);
void input_send_rel(InputAxis axis, int64_t delta);
/* An absolute position: value in [0, size) pixels, scaled to INPUT_ABS_MIN..MAX. */
void input_send_abs(InputAxis axis, int64_t value, int64_t size);
/* The end of a group: calls the sync of every handler that got an event since the last. */
void input_sync(void);
/* QMP input-send-event: whether a handler takes kind; one event as given (ABS values already
 * in INPUT_ABS_MIN..MAX), followed by input_sync() after the batch. */
bool input_has_handler(InputEventKind kind);
void input_send_event(const InputEvent *e);
/*
 * send-key's keyboard queue (QEMU's): a key goes at once when nothing waits, else after the
 * pauses queued before it; input_key_delay queues a pause of ms (0: QEMU's 10 ms) while the
 * guest runs. Keys sent while the guest does not run are lost, as in QEMU.
 */
void input_key_queued(QKeyCode q, bool down);
void input_key_delay(uint32_t ms);
/* Button state changes between two masks of (1 << InputButton) bits, as QEMU's
 * qemu_input_update_buttons: one BTN event per changed bit. */
void input_update_buttons(uint32_t old_mask, uint32_t new_mask);

/* Whether the active pointer handler takes absolute moves (a tablet). */
bool input_is_absolute(void);
/* Which handler gets a kind now (NULL: none), for info mice / tests. */
const char *input_active_name(InputEventKind kind);

/*
 * Keyboard LEDs, as the guest's keyboard device last set them: bit 0 Scroll Lock, bit 1
 * Num Lock, bit 2 Caps Lock (the VNC LED-state pseudo-encoding's bits). A keyboard device
 * calls input_set_leds (lock held); listeners hear about it and about pointer-mode changes
 * (a handler for ABS came or went).
 */
#define INPUT_LED_SCROLL 1u
#define INPUT_LED_NUM    2u
#define INPUT_LED_CAPS   4u
void input_set_leds(unsigned leds);
unsigned input_get_leds(void);

typedef struct InputNotifier {
    /* Called from the thread that made the change, with vireo_lock held; must not block. */
    void (*leds_changed)(struct InputNotifier *n, unsigned leds);
    void (*mode_changed)(struct InputNotifier *n, bool absolute);
    struct InputNotifier *next;
} InputNotifier;
void input_add_notifier(InputNotifier *n);
void input_remove_notifier(InputNotifier *n);

/* Forget every handler (machine teardown; notifiers stay). */
void input_reset(void);

#endif
