/* State shared by the monitor's files. */
#ifndef VIREO_MONITOR_INTERNAL_H
#define VIREO_MONITOR_INTERNAL_H

#include <glib.h>
#include "vireo/monitor.h"

struct Monitor {
    Chardev *chr;
    bool qmp, pretty;
    bool connected; /* the chardev is open (a client is there) */
    /* QMP */
    QJStreamer *parser;
    bool negotiated, oob, in_command;
    /* HMP */
    GString *line;
    int esc_state;
    bool last_cr, mux_out, banner_shown;
    GString *capture; /* human-monitor-command: output goes here instead */
    bool quitting;
};

void monitor_puts(Monitor *mon, const char *s);
void monitor_printf(Monitor *mon, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* hmp.c: run one command line on mon. */
void hmp_execute(Monitor *mon, const char *cmdline);
/* No more input once quit has been requested. */
void monitor_set_quitting(void);

/* qmp-cmds.c helpers shared with hmp.c */
QJ *qmp_query_status(void);
void vireo_quit(void);

#endif
