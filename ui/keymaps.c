/*
 * QEMU's keymap files, read as QEMU 7.2 reads them (ui/keymaps.h). A line is
 *   KEYSYM-NAME KEYCODE [shift] [altgr] [ctrl] [numlock] [addupper] [localstate] ...
 * or "include FILE" or "map 0xLCID" (ignored); '#' starts a comment; the numlock and
 * localstate marks are not used. A keysym name is an X
 * name (ui/keysym-names.c) or "Uxxxx" (four hex digits: that value); lines with names
 * neither knows are skipped. "addupper" also maps the upper-case name's keysym to the same key
 * with Shift. A keysym keeps at most four keycodes, the first listed first.
 */
#include "keymaps.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYMAP_DIR  "/usr/share/qemu/keymaps"
#define MAX_CODES   4
#define MAX_INCLUDE 8

typedef struct KeyCodes {
    int n;
    int code[MAX_CODES];
} KeyCodes;

struct KbdLayout {
    GHashTable *map; /* keysym -> KeyCodes */
};

static uint32_t keysym_by_name(const char *name)
{
    /* the table is sorted by name (scripts/gen-keysyms.py): binary search */
    size_t lo = 0, hi = 0;
    while (keysym_names[hi].name) {
        hi++;
    }
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(keysym_names[mid].name, name);
        if (c == 0) {
            return keysym_names[mid].sym;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (name[0] == 'U' && strlen(name) == 5) {
        char *end;
        unsigned long v = strtoul(name + 1, &end, 16);
        if (!*end && v > 0) {
            return (uint32_t)v;
        }
    }
    return 0;
}

static void add_code(KbdLayout *k, uint32_t sym, int code)
{
    KeyCodes *kc = g_hash_table_lookup(k->map, GUINT_TO_POINTER(sym));
    if (!kc) {
        kc = g_new0(KeyCodes, 1);
        g_hash_table_insert(k->map, GUINT_TO_POINTER(sym), kc);
    }
    for (int i = 0; i < kc->n; i++) {
        if (kc->code[i] == code) {
            return;
        }
    }
    if (kc->n < MAX_CODES) {
        kc->code[kc->n++] = code;
    }
}

static bool parse_file(KbdLayout *k, const char *lang, int depth)
{
    if (depth > MAX_INCLUDE || strchr(lang, '/')) {
        return false;
    }
    char *path = g_build_filename(KEYMAP_DIR, lang, NULL);
    FILE *f = fopen(path, "r");
    g_free(path);
    if (!f) {
        return false;
    }
    char line[1024];
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        g_strchomp(line);
        if (line[0] == '#' || !line[0]) {
            continue;
        }
        if (!strncmp(line, "map ", 4)) {
            continue;
        }
        if (!strncmp(line, "include ", 8)) {
            ok = parse_file(k, g_strstrip(line + 8), depth + 1);
            continue;
        }
        char *sp = strchr(line, ' ');
        if (!sp) {
            continue;
        }
        *sp = '\0';
        const char *rest = sp + 1;
        uint32_t sym = keysym_by_name(line);
        if (!sym) {
            continue; /* QEMU warns about an unknown keysym and goes on */
        }
        int code = (int)strtol(rest, NULL, 0);
        if (strstr(rest, "shift")) {
            code |= SCANCODE_SHIFT;
        }
        if (strstr(rest, "altgr")) {
            code |= SCANCODE_ALTGR;
        }
        if (strstr(rest, "ctrl")) {
            code |= SCANCODE_CTRL;
        }
        add_code(k, sym, code);
        if (strstr(rest, "addupper")) {
            for (char *c = line; *c; c++) {
                *c = (char)toupper((unsigned char)*c);
            }
            uint32_t up = keysym_by_name(line);
            if (up) {
                add_code(k, up, code | SCANCODE_SHIFT);
            }
        }
    }
    fclose(f);
    return ok;
}

KbdLayout *keymap_load(const char *lang, char **errp)
{
    KbdLayout *k = g_new0(KbdLayout, 1);
    k->map = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    if (!parse_file(k, lang, 0)) {
        keymap_free(k);
        *errp = g_strdup_printf("could not read keymap file: '%s'", lang);
        return NULL;
    }
    return k;
}

void keymap_free(KbdLayout *k)
{
    if (!k) {
        return;
    }
    g_hash_table_destroy(k->map);
    g_free(k);
}

int keymap_keysym_to_code(const KbdLayout *k, uint32_t keysym, bool down, unsigned mods,
                          bool (*key_down)(int qnum, void *opaque), void *opaque)
{
    const KeyCodes *kc = g_hash_table_lookup(k->map, GUINT_TO_POINTER(keysym));
    if (!kc) {
        return 0;
    }
    if (kc->n > 1) {
        const int mask = SCANCODE_SHIFT | SCANCODE_ALTGR | SCANCODE_CTRL;
        for (int i = 0; i < kc->n; i++) {
            if (down ? (unsigned)(kc->code[i] & mask) == mods
                     : key_down(kc->code[i] & SCANCODE_KEYMASK, opaque)) {
                return kc->code[i];
            }
        }
    }
    return kc->code[0];
}

/* QEMU decides these by fixed ranges, not by the file's numlock marks: the keypad is keys
 * 0x47..0x53, and the symbols that need Num Lock are the keypad's digits and separators. */
bool keymap_is_keypad(const KbdLayout *k, int keycode)
{
    (void)k;
    return keycode >= 0x47 && keycode <= 0x53;
}

bool keymap_is_numlock(const KbdLayout *k, uint32_t keysym)
{
    (void)k;
    return (keysym >= 0xffb0 && keysym <= 0xffb9) || keysym == 0xffac || keysym == 0xffae;
}
