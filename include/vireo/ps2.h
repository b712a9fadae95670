/*
 * PS/2 keyboard and mouse (hw/input/ps2.c), the devices behind the i8042 (hw/input/i8042.c).
 * They take input events (include/vireo/input.h), answer the commands Linux and SeaBIOS send,
 * and queue bytes for the controller, which moves them into its output buffer one at a time.
 * All calls with vireo_lock() held.
 */
#ifndef VIREO_PS2_H
#define VIREO_PS2_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/input.h"

#define PS2_BUFFER_SIZE 256
#define PS2_QUEUE_SIZE  16 /* scancodes/packets beyond this many queued bytes are dropped */

typedef struct PS2Queue {
    uint8_t data[PS2_BUFFER_SIZE];
    int32_t rptr, wptr, count;
} PS2Queue;

typedef struct PS2Common {
    PS2Queue q;
    int32_t write_cmd;            /* command waiting for its data byte, or -1 */
    void (*update)(void *opaque); /* bytes are waiting: the controller pulls them */
    void *opaque;
} PS2Common;

typedef struct PS2Kbd {
    PS2Common c;
    bool scan_enabled;
    bool translate;       /* the controller's translation (command byte bit 6) */
    int32_t scancode_set; /* 1, 2 or 3 */
    uint32_t ledstate;
    uint8_t modifiers; /* shift/ctrl/alt held, for the Print Screen and Pause forms */
    InputHandler *handler;
} PS2Kbd;

typedef struct PS2Mouse {
    PS2Common c;
    uint8_t status; /* 0x40 remote, 0x20 enabled, 0x10 scaling 2:1, low bits buttons */
    uint8_t resolution, sample_rate;
    bool wrap;
    uint8_t type; /* 0 PS/2, 3 IntelliMouse, 4 IntelliMouse Explorer */
    uint8_t detect_state;
    int32_t dx, dy, dz, dw;
    uint8_t buttons;
    InputHandler *handler;
} PS2Mouse;

bool ps2_queue_empty(const PS2Common *c);
/* The next byte (the last one again when empty, as hardware repeats it). */
uint8_t ps2_read_data(PS2Common *c);

void ps2_kbd_init(PS2Kbd *k, void (*update)(void *), void *opaque);
void ps2_kbd_fini(PS2Kbd *k);
void ps2_kbd_reset(PS2Kbd *k);
void ps2_kbd_write(PS2Kbd *k, uint8_t val);
void ps2_kbd_set_translation(PS2Kbd *k, bool on);
/* A key as the keyboard sends it in its current set (for the input handler and tests). */
void ps2_kbd_key(PS2Kbd *k, QKeyCode q, bool down);

void ps2_mouse_init(PS2Mouse *m, void (*update)(void *), void *opaque);
void ps2_mouse_fini(PS2Mouse *m);
void ps2_mouse_reset(PS2Mouse *m);
void ps2_mouse_write(PS2Mouse *m, uint8_t val);

/* For tests: the set-2 code of a set-1 code (0 when none). */
uint8_t ps2_set1_to_set2(uint8_t code);

extern const struct VMStateDescription ps2_kbd_vmsd, ps2_mouse_vmsd;

#endif
