/*
 * What the monitor asks of the user interfaces (ui/), kept free of pixman so the monitor (and
 * its fuzz target) need only glib.
 */
#ifndef VIREO_UI_H
#define VIREO_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vireo/qjson.h"

/*
 * QMP/HMP screendump (ui/screendump.c), WITHOUT the lock: console 0, or the console of display
 * device `device` (its id) at head `head`. False with *errp (g_free) in QEMU's words and
 * *errclass the QMP error class.
 */
bool console_screendump(const char *filename, const char *device, bool has_head, int64_t head,
                        bool png, const char **errclass, char **errp);

/* ---- VNC (ui/vnc.c) ---- */

/* Check a -vnc argument (also -display vnc=ARG); false with *errp in QEMU's words. */
bool vnc_check_opts(const char *arg, char **errp);
/* Start the server (main thread, without the lock, after the machine is built); guest_name
 * from -name (the desktop name becomes "QEMU (name)"). */
bool vnc_display_init(const char *arg, const char *guest_name, char **errp);
void vnc_display_cleanup(void);
/* -k LANG: the keyboard layout (QEMU's keymap file) VNC key events are read with; before
 * vnc_display_init. Without it the server reads keysyms with en-us. */
void vnc_set_keyboard_layout(const char *lang);
/* query-vnc's VncInfo and query-vnc-servers' list, as QEMU 7.2's. */
QJ *vnc_query(void);
QJ *vnc_query_servers(void);
/* HMP info vnc. */
char *vnc_info_text(void);
/* set_password / change-vnc-password: false when there is no VNC server or it has no
 * password auth (*hint then says so, for HMP). */
bool vnc_set_password(const char *display, const char *password, char **hint);
/* display: the VNC server id (NULL: the default one).
 * expire_password: "now", "never", "+SECONDS" or an absolute time in seconds. */
bool vnc_expire_password(const char *display, const char *when, char **errp);
/* A connected socket becomes a client (QEMU's add_client; the fuzz target). */
bool vnc_add_client_fd(int fd);
/* Tests: connected clients, and the longest output queue of any of them in bytes. */
int vnc_client_count(void);
size_t vnc_client_queued_max(void);

#endif
