/*
 * Keyboard layouts (ui/keymaps.c): QEMU's keymap files (`-k LANG`, read from
 * /usr/share/qemu/keymaps, Debian's qemu-system-data), which map X keysyms (what a VNC
 * KeyEvent carries) to QEMU key numbers ("qnum": set-1 scancode, 0x80 | code for E0 keys),
 * with the modifiers that make the symbol.
 */
#ifndef VIREO_UI_KEYMAPS_H
#define VIREO_UI_KEYMAPS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct KeysymName {
    const char *name;
    uint32_t sym;
} KeysymName;
extern const KeysymName keysym_names[]; /* ui/keysym-names.c, NULL-terminated */

/* A keycode in a layout: the qnum, and the modifiers its symbol needs. */
#define SCANCODE_KEYMASK 0xff
#define SCANCODE_SHIFT   0x100
#define SCANCODE_CTRL    0x200
#define SCANCODE_ALTGR   0x400

typedef struct KbdLayout KbdLayout;

/* Load layout `lang` ("en-us", "de"...); NULL with *errp "could not read keymap file: 'LANG'". */
KbdLayout *keymap_load(const char *lang, char **errp);
void keymap_free(KbdLayout *k);

/*
 * The keycode (with SCANCODE_* modifier bits) for keysym, 0 if the layout has none. A keysym
 * several keys make is resolved as QEMU does: on press, the one whose modifiers are those held
 * (mods: SCANCODE_SHIFT/CTRL/ALTGR); on release, one whose key is down (key_down(qnum));
 * else the first listed.
 */
int keymap_keysym_to_code(const KbdLayout *k, uint32_t keysym, bool down, unsigned mods,
                          bool (*key_down)(int qnum, void *opaque), void *opaque);
/* Keypad keys (0x47..0x53), and the keysyms that need Num Lock on (keypad digits, decimal). */
bool keymap_is_keypad(const KbdLayout *k, int keycode);
bool keymap_is_numlock(const KbdLayout *k, uint32_t keysym);

#endif
