/*
 * HID devices' state (hw/input/hid.c): what a USB tablet, mouse or keyboard reports, fed by
 * the input layer, independent of the transport (hw/usb/dev-hid.c carries it over USB).
 * Report descriptors and report layouts are QEMU 7.2's.
 */
#ifndef VIREO_HID_H
#define VIREO_HID_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/input.h"

#define HID_DT_HID    0x21
#define HID_DT_REPORT 0x22

#define HID_TABLET_REPORT_LEN 74
#define HID_MOUSE_REPORT_LEN  52
#define HID_KBD_REPORT_LEN    63

#define HID_QUEUE_LEN 16

typedef enum { HID_MOUSE, HID_TABLET, HID_KEYBOARD } HIDKind;

typedef struct HIDPointerEvent {
    int32_t xdx, ydy; /* tablet: position; mouse: accumulated motion */
    int32_t dz;
    uint32_t buttons;
} HIDPointerEvent;

typedef struct HIDKeyboardReport {
    uint8_t modifiers;
    uint8_t keys[6];
} HIDKeyboardReport;

typedef struct HIDState HIDState;
struct HIDState {
    HIDKind kind;
    /* pointer: queue[head .. head+n) waits for the guest, queue[head+n] collects events */
    HIDPointerEvent ptr[HID_QUEUE_LEN];
    /* keyboard: reports waiting, and the current state */
    HIDKeyboardReport kbd[HID_QUEUE_LEN];
    HIDKeyboardReport kbd_state;
    uint8_t kbd_leds;
    int32_t head, n;
    uint8_t protocol; /* 0 boot, 1 report */
    uint8_t idle;     /* 4 ms units, 0: report only on change */
    int64_t next_idle; /* VIREO_CLOCK_VIRTUAL */
    void (*changed)(HIDState *hs);
    InputHandler *handler;
};

void hid_init(HIDState *hs, HIDKind kind, void (*changed)(HIDState *hs));
void hid_free(HIDState *hs);
void hid_reset(HIDState *hs);
/* The guest's driver polls the device: it takes the pointer (QEMU's activation rule). */
void hid_activate(HIDState *hs);
bool hid_has_events(HIDState *hs, int64_t now);
void hid_set_next_idle(HIDState *hs, int64_t now);
/* The next report into buf (at most len bytes): its length. */
int hid_poll(HIDState *hs, uint8_t *buf, int len);
/* SET_REPORT on a keyboard: the LED byte. */
void hid_keyboard_write(HIDState *hs, const uint8_t *buf, int len);
/* The report descriptor of a kind into buf (at most len): its length. */
int hid_report_descriptor(HIDKind kind, uint8_t *buf, int len);
/* The HID usage code of a key (0: none). */
uint8_t hid_usage_of_qcode(QKeyCode q);

/* The input handlers' callbacks (tests drive them directly). */
void hid_input_event(void *opaque, const InputEvent *e);
void hid_input_sync(void *opaque);

#endif
