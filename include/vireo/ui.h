/*
 * What the monitor asks of the user interfaces (ui/), kept free of pixman so the monitor (and
 * its fuzz target) need only glib.
 */
#ifndef VIREO_UI_H
#define VIREO_UI_H

#include <stdbool.h>
#include <stdint.h>

/*
 * QMP/HMP screendump (ui/screendump.c), WITHOUT the lock: console 0, or the console of display
 * device `device` (its id) at head `head`. False with *errp (g_free) in QEMU's words and
 * *errclass the QMP error class.
 */
bool console_screendump(const char *filename, const char *device, bool has_head, int64_t head,
                        bool png, const char **errclass, char **errp);

#endif
