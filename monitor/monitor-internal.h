/* State shared by the monitor's files. */
#ifndef VIREO_MONITOR_INTERNAL_H
#define VIREO_MONITOR_INTERNAL_H

#include <glib.h>
#include "vireo/monitor.h"

/* The HMP line editor (monitor/readline.c). */
#define RL_LINE_MAX 4095
#define RL_HISTORY  64
typedef struct ReadLine {
    char buf[RL_LINE_MAX + 1];   /* the line being edited */
    int len, pos;                /* its length and the cursor */
    char shown[RL_LINE_MAX + 1]; /* what the terminal shows after the prompt */
    int shown_len, shown_pos;
    char line[RL_LINE_MAX + 1]; /* the line just ended */
    int esc, esc_param;
    char *hist[RL_HISTORY];
    int hist_n, hist_pos; /* hist_pos -1: not browsing */
} ReadLine;

void rl_init(ReadLine *rl);
void rl_free(ReadLine *rl);
/* Forget the line being edited. */
void rl_restart(ReadLine *rl);
/* The prompt was just printed: the terminal shows an empty line. */
void rl_prompt_shown(ReadLine *rl);
/* One input byte: its echo is appended to out; true when a line ended (in rl->line). */
bool rl_feed(ReadLine *rl, uint8_t c, GString *out);

struct Monitor {
    Chardev *chr;
    bool qmp, pretty;
    bool connected; /* the chardev is open (a client is there) */
    /* QMP */
    QJStreamer *parser;
    bool negotiated, oob, in_command;
    /* HMP */
    ReadLine rl;
    /*
     * On a mux, as QEMU's monitor: output is held while another frontend has the focus
     * (mux_out) and goes out when it comes back; `suspended` counts the reasons not to show
     * the prompt (it starts at 1 for a monitor that lost the focus before its chardev opened);
     * reset_seen: the chardev has opened (the banner was printed).
     */
    bool mux_out, reset_seen;
    int suspended;
    GString *held;
    GString *capture; /* human-monitor-command: output goes here instead */
    bool quitting;
};

void monitor_puts(Monitor *mon, const char *s);
void monitor_printf(Monitor *mon, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* hmp.c: run one command line on mon. */
void hmp_execute(Monitor *mon, const char *cmdline);
/* No more input once quit has been requested. */
void monitor_set_quitting(void);

/* qmp-block.c: the block commands and HMP's info block / info blockstats */
extern const QmpCommand qmp_block_commands[];
/* qmp-input.c: send-key, input-send-event; HMP sendkey */
extern const QmpCommand qmp_input_commands[];
void hmp_sendkey(Monitor *mon, char **argv);
/* qmp-net.c: netdev_add, netdev_del, set_link, query-rx-filter; their HMP forms */
extern const QmpCommand qmp_net_commands[];
void hmp_set_link(Monitor *mon, char **argv);
void hmp_netdev_add(Monitor *mon, char **argv);
void hmp_netdev_del(Monitor *mon, char **argv);
void hmp_info_block(Monitor *mon, char **argv);
void hmp_info_blockstats(Monitor *mon, char **argv);

/* qmp-cmds.c helpers shared with hmp.c */
QJ *qmp_query_status(void);
void vireo_quit(void);

#endif
