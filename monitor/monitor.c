/*
 * Monitors on chardevs: the QMP protocol engine (greeting, negotiation, request checking,
 * dispatch, replies, events) and the HMP line editor. Commands live in qmp-cmds.c and hmp.c.
 */
#include <glib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include "monitor-internal.h"

static GPtrArray *monitors;

/* ---- output --------------------------------------------------------------------------- */

void monitor_puts(Monitor *mon, const char *s)
{
    /* Monitors speak CRLF: every '\n' goes out as "\r\n", as QEMU's monitor_puts does. */
    GString *out = g_string_sized_new(strlen(s) + 16);
    for (const char *p = s; *p; p++) {
        if (*p == '\n') {
            g_string_append_c(out, '\r');
        }
        g_string_append_c(out, *p);
    }
    if (mon->capture) {
        g_string_append_len(mon->capture, out->str, out->len);
    } else if (mon->mux_out) {
        g_string_append_len(mon->held, out->str, out->len);
    } else if (mon->chr) {
        chardev_write(mon->chr, (const uint8_t *)out->str, out->len);
    }
    g_string_free(out, TRUE);
}

void monitor_printf(Monitor *mon, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    monitor_puts(mon, s);
    g_free(s);
}

static void qmp_send(Monitor *mon, const QJ *msg)
{
    char *json = qj_to_json(msg, QJ_QEMU_ORDER | (mon->pretty ? QJ_PRETTY : 0));
    monitor_puts(mon, json);
    monitor_puts(mon, "\n");
    g_free(json);
}

void qmp_error(QmpError *err, const char *cls, const char *fmt, ...)
{
    if (err->cls) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    err->desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    err->cls = cls;
}

/* ---- events --------------------------------------------------------------------------- */

void monitor_event(const char *name, QJ *data)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    QJ *ev = qj_object();
    qj_set_str(ev, "event", name);
    QJ *ts = qj_object();
    qj_set_int(ts, "seconds", tv.tv_sec);
    qj_set_int(ts, "microseconds", tv.tv_usec);
    qj_set(ev, "timestamp", ts);
    if (data) {
        qj_set(ev, "data", data);
    }
    for (guint i = 0; monitors && i < monitors->len; i++) {
        Monitor *mon = g_ptr_array_index(monitors, i);
        if (mon->qmp && mon->negotiated && mon->connected) {
            qmp_send(mon, ev);
        }
    }
    qj_free(ev);
}

/* ---- QMP ------------------------------------------------------------------------------ */

static void qmp_greeting(Monitor *mon)
{
    QJ *ver = qj_object();
    QJ *q = qj_object();
    qj_set_int(q, "major", VIREO_QEMU_MAJOR);
    qj_set_int(q, "minor", VIREO_QEMU_MINOR);
    qj_set_int(q, "micro", VIREO_QEMU_MICRO);
    qj_set(ver, "qemu", q);
    qj_set_str(ver, "package", VIREO_QEMU_PACKAGE);
    QJ *inner = qj_object();
    qj_set(inner, "version", ver);
    qj_set(inner, "capabilities", qj_append(qj_array(), qj_string("oob")));
    QJ *g = qj_set(qj_object(), "QMP", inner);
    qmp_send(mon, g);
    qj_free(g);
}

bool monitor_qmp_negotiated(const Monitor *mon)
{
    return mon->negotiated;
}

void monitor_qmp_set_negotiated(Monitor *mon, bool oob)
{
    mon->negotiated = true;
    mon->oob = oob;
}

static void qmp_reply_error(Monitor *mon, QJ *id, const char *cls, const char *desc)
{
    QJ *rsp = qj_object();
    QJ *e = qj_object();
    qj_set_str(e, "class", cls);
    qj_set_str(e, "desc", desc);
    qj_set(rsp, "error", e);
    if (id) {
        qj_set(rsp, "id", id);
    }
    qmp_send(mon, rsp);
    qj_free(rsp);
}

/* Check the request's members (in QEMU's iteration order, so the first error matches). */
static bool qmp_check_request(Monitor *mon, const QJ *req, const char **name, QmpError *err)
{
    bool have_exec = false;
    size_t *order = qj_qemu_member_order(req);
    for (size_t k = 0; k < req->obj.n && !err->cls; k++) {
        const QJMember *m = &req->obj.m[order[k]];
        if (!strcmp(m->key, "execute") || (!strcmp(m->key, "exec-oob") && mon->oob)) {
            if (m->value->type != QJ_STRING) {
                qmp_error(err, "GenericError", "QMP input member '%s' must be a string", m->key);
                break;
            }
            *name = m->value->s;
            have_exec = true;
        } else if (!strcmp(m->key, "arguments")) {
            if (m->value->type != QJ_OBJECT) {
                qmp_error(err, "GenericError", "QMP input member 'arguments' must be an object");
            }
        } else if (strcmp(m->key, "id") != 0) {
            qmp_error(err, "GenericError", "QMP input member '%s' is unexpected", m->key);
        }
    }
    g_free(order);
    if (!err->cls && !have_exec) {
        qmp_error(err, "GenericError", "QMP input lacks member 'execute'");
    }
    return !err->cls;
}

static void qmp_dispatch(Monitor *mon, QJ *req)
{
    QmpError err = {0};
    QJ *id = qj_copy(qj_get(req, "id"));
    const char *name = NULL;
    QJ *ret = NULL;
    if (!qmp_check_request(mon, req, &name, &err)) {
        goto reply;
    }
    if (qj_get(req, "exec-oob")) {
        qmp_error(&err, "GenericError", "The command %s does not support OOB", name);
        goto reply;
    }
    const QmpCommand *cmd = qmp_find_command(name);
    if (!mon->negotiated && (!cmd || strcmp(name, "qmp_capabilities") != 0)) {
        qmp_error(&err, "CommandNotFound",
                  "Expecting capabilities negotiation with 'qmp_capabilities'");
        goto reply;
    }
    if (!cmd) {
        qmp_error(&err, "CommandNotFound", "The command %s has not been found", name);
        goto reply;
    }
    QJ *args = qj_get(req, "arguments");
    QJ *empty = NULL;
    if (!args) {
        args = empty = qj_object();
    }
    if (qmp_check_args(cmd, args, &err)) {
        mon->in_command = true;
        ret = cmd->fn(mon, args, &err);
        mon->in_command = false;
        if (!err.cls && !ret) {
            ret = qj_object();
        }
    }
    qj_free(empty);
reply:
    if (err.cls) {
        qj_free(ret);
        qmp_reply_error(mon, id, err.cls, err.desc);
        g_free(err.desc);
        return;
    }
    QJ *rsp = qj_object();
    qj_set(rsp, "return", ret);
    if (id) {
        qj_set(rsp, "id", id);
    }
    qmp_send(mon, rsp);
    qj_free(rsp);
}

static void qmp_handle_message(void *opaque, QJ *value, const char *error)
{
    Monitor *mon = opaque;
    if (error) {
        qmp_reply_error(mon, NULL, "GenericError", error);
        return;
    }
    if (value->type != QJ_OBJECT) {
        qmp_reply_error(mon, NULL, "GenericError", "QMP input must be a JSON object");
    } else {
        qmp_dispatch(mon, value);
    }
    qj_free(value);
}

/* ---- HMP line editing ----------------------------------------------------------------- */

static void hmp_banner(Monitor *mon)
{
    monitor_printf(mon, "QEMU %d.%d.%d monitor - type 'help' for more information\n",
                   VIREO_QEMU_MAJOR, VIREO_QEMU_MINOR, VIREO_QEMU_MICRO);
}

static void hmp_prompt(Monitor *mon)
{
    monitor_puts(mon, "(qemu) ");
    rl_prompt_shown(&mon->rl);
}

/* Output held while the mux had the focus elsewhere goes out now. */
static void hmp_flush(Monitor *mon)
{
    if (!mon->mux_out && mon->held->len && mon->chr) {
        chardev_write(mon->chr, (const uint8_t *)mon->held->str, mon->held->len);
        g_string_truncate(mon->held, 0);
    }
}

static void hmp_input(Monitor *mon, const uint8_t *buf, int len)
{
    GString *echo = g_string_new(NULL);
    for (int i = 0; i < len && !mon->quitting; i++) {
        bool done = rl_feed(&mon->rl, buf[i], echo);
        monitor_puts(mon, echo->str);
        g_string_truncate(echo, 0);
        if (done) {
            hmp_execute(mon, mon->rl.line);
            if (!mon->quitting) {
                hmp_prompt(mon);
            }
        }
    }
    g_string_free(echo, TRUE);
}

/* ---- chardev frontend ----------------------------------------------------------------- */

static int mon_can_receive(void *opaque)
{
    Monitor *mon = opaque;
    return mon->quitting ? 0 : 4096;
}

static void mon_receive(void *opaque, const uint8_t *buf, int len)
{
    Monitor *mon = opaque;
    if (mon->qmp) {
        qj_streamer_feed(mon->parser, (const char *)buf, (size_t)len);
    } else {
        hmp_input(mon, buf, len);
    }
}

void monitor_qmp_input(Monitor *mon, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        int n = len > 4096 ? 4096 : (int)len;
        mon_receive(mon, buf, n);
        buf += n;
        len -= n;
    }
}

static void mon_event(void *opaque, ChrEvent ev)
{
    Monitor *mon = opaque;
    switch (ev) {
    case CHR_EVENT_OPENED:
        mon->connected = true;
        if (mon->qmp) {
            qj_streamer_reset(mon->parser);
            mon->negotiated = false;
            mon->oob = false;
            qmp_greeting(mon);
        } else {
            /* Held (not shown) when the mux gave the focus to another frontend first, as
             * with -nographic: the banner and prompt then appear at the first Ctrl-A c. */
            hmp_banner(mon);
            if (!mon->mux_out) {
                rl_restart(&mon->rl);
                hmp_prompt(mon);
            }
            mon->reset_seen = true;
        }
        break;
    case CHR_EVENT_CLOSED:
        mon->connected = false;
        if (mon->qmp) {
            /* A client that leaves mid-message leaves nothing behind. */
            qj_streamer_reset(mon->parser);
            mon->negotiated = false;
        } else {
            rl_restart(&mon->rl);
        }
        break;
    case CHR_EVENT_MUX_OUT:
        if (mon->qmp) {
            break;
        }
        if (mon->reset_seen && mon->suspended == 0) {
            monitor_puts(mon, "\n"); /* leave the prompt's line */
        }
        mon->suspended++;
        mon->mux_out = true;
        break;
    case CHR_EVENT_MUX_IN:
        if (mon->qmp) {
            break;
        }
        mon->mux_out = false;
        if (mon->reset_seen) {
            hmp_flush(mon);
            rl_restart(&mon->rl);
            if (mon->suspended > 0 && --mon->suspended == 0) {
                hmp_prompt(mon);
            }
        } else {
            mon->suspended = 0;
        }
        break;
    }
}

Monitor *monitor_new(Chardev *chr, bool qmp, bool pretty, char **errp)
{
    Monitor *mon = g_new0(Monitor, 1);
    mon->chr = chr;
    mon->qmp = qmp;
    mon->pretty = pretty;
    rl_init(&mon->rl);
    mon->held = g_string_new(NULL);
    if (qmp) {
        mon->parser = qj_streamer_new(qmp_handle_message, mon);
    }
    if (!monitors) {
        monitors = g_ptr_array_new();
    }
    g_ptr_array_add(monitors, mon);
    CharFrontend fe = {
        .can_receive = mon_can_receive,
        .receive = mon_receive,
        .opaque = mon,
        .event = mon_event,
        .unlocked = true,
    };
    if (!chardev_attach(chr, &fe, errp)) {
        g_ptr_array_remove(monitors, mon);
        qj_streamer_free(mon->parser);
        g_string_free(mon->held, TRUE);
        g_free(mon);
        return NULL;
    }
    return mon;
}

void monitor_free_all(void)
{
    for (guint i = 0; monitors && i < monitors->len; i++) {
        Monitor *mon = g_ptr_array_index(monitors, i);
        chardev_detach(mon->chr, mon);
        qj_streamer_free(mon->parser);
        rl_free(&mon->rl);
        g_string_free(mon->held, TRUE);
        g_free(mon);
    }
    if (monitors) {
        g_ptr_array_free(monitors, TRUE);
        monitors = NULL;
    }
}

char *hmp_run_capture(const char *cmdline)
{
    Monitor tmp = {0};
    tmp.capture = g_string_new(NULL);
    hmp_execute(&tmp, cmdline);
    return g_string_free(tmp.capture, FALSE);
}

void monitor_set_quitting(void)
{
    for (guint i = 0; monitors && i < monitors->len; i++) {
        Monitor *mon = g_ptr_array_index(monitors, i);
        mon->quitting = true;
    }
}
