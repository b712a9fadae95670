/*
 * Input from the monitor: QMP send-key and input-send-event, HMP sendkey (ui/input.c does the
 * routing). The arguments are nested QAPI types (KeyValue, InputEvent), checked here member by
 * member in QAPI's visiting order with QEMU's texts: a missing or mistyped member is named by
 * its path ("keys[0].data"), a bad enum value by its own name ("Parameter 'data' does not
 * accept value 'x'"), unknown members after the known ones of each object.
 */
#include <glib.h>
#include <string.h>
#include "monitor-internal.h"
#include "vireo/console.h"
#include "vireo/input.h"
#include "vireo/runstate.h"

/* ---- a small QAPI input visitor ------------------------------------------------------- */

typedef struct Visit {
    QmpError *err;
    bool failed;
} Visit;

static char *join(const char *path, const char *name)
{
    return *path ? g_strdup_printf("%s.%s", path, name) : g_strdup(name);
}

static const char *json_type_name(QJType t)
{
    switch (t) {
    case QJ_OBJECT:
        return "object";
    case QJ_ARRAY:
        return "array";
    case QJ_STRING:
        return "string";
    case QJ_INT:
        return "integer";
    case QJ_BOOL:
        return "boolean";
    default:
        return "value";
    }
}

/* Member name of obj (at path) of JSON type t: NULL when absent (an error unless optional)
 * or mistyped (an error). */
static const QJ *member(Visit *v, const QJ *obj, const char *path, const char *name, QJType t,
                        bool optional)
{
    if (v->failed) {
        return NULL;
    }
    const QJ *m = qj_get(obj, name);
    char *p = join(path, name);
    if (!m) {
        if (!optional) {
            qmp_error(v->err, "GenericError", "Parameter '%s' is missing", p);
            v->failed = true;
        }
    } else if (m->type != t) {
        qmp_error(v->err, "GenericError", "Invalid parameter type for '%s', expected: %s", p,
                  json_type_name(t));
        v->failed = true;
        m = NULL;
    }
    g_free(p);
    return m;
}

/* An enum member: its index in values, -1 when absent or bad (bad: an error). */
static int member_enum(Visit *v, const QJ *obj, const char *path, const char *name,
                       int (*lookup)(const char *), bool optional)
{
    const QJ *m = member(v, obj, path, name, QJ_STRING, optional);
    if (!m) {
        return -1;
    }
    int i = lookup(m->s);
    if (i < 0) {
        qmp_error(v->err, "GenericError", "Parameter '%s' does not accept value '%s'", name, m->s);
        v->failed = true;
    }
    return i;
}

/* After the known members: the first unknown one of obj, in QEMU's order, is an error. */
static void no_extra(Visit *v, const QJ *obj, const char *path, const char *const *known)
{
    if (v->failed) {
        return;
    }
    size_t *order = qj_qemu_member_order(obj);
    for (size_t k = 0; k < obj->obj.n && !v->failed; k++) {
        const char *key = obj->obj.m[order[k]].key;
        bool ok = false;
        for (const char *const *n = known; *n && !ok; n++) {
            ok = !strcmp(*n, key);
        }
        if (!ok) {
            char *p = join(path, key);
            qmp_error(v->err, "GenericError", "Parameter '%s' is unexpected", p);
            g_free(p);
            v->failed = true;
        }
    }
    g_free(order);
}

/* An element of a list: must be an object. */
static bool element_obj(Visit *v, const QJ *e, const char *path)
{
    if (e->type != QJ_OBJECT) {
        qmp_error(v->err, "GenericError", "Invalid parameter type for '%s', expected: object",
                  path);
        v->failed = true;
    }
    return !v->failed;
}

/* ---- the types ---------------------------------------------------------------------------- */

static int key_kind(const char *s)
{
    return !strcmp(s, "number") ? 0 : !strcmp(s, "qcode") ? 1 : -1;
}

static int axis_from_name(const char *s)
{
    return !strcmp(s, "x") ? INPUT_AXIS_X : !strcmp(s, "y") ? INPUT_AXIS_Y : -1;
}

static int button_from_name(const char *s)
{
    for (int b = 0; b < INPUT_BUTTON__MAX; b++) {
        if (!strcmp(input_button_name((InputButton)b), s)) {
            return b;
        }
    }
    return -1;
}

static int event_kind(const char *s)
{
    static const char *const names[] = {"key", "btn", "rel", "abs"};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(names[i], s)) {
            return i;
        }
    }
    return -1;
}

/* A number as QEMU turns it into a qcode: the low 32 bits index its qnum table. */
static QKeyCode number_to_qcode(int64_t n)
{
    uint32_t u = (uint32_t)n;
    return u > 0xff ? Q_KEY_CODE_UNMAPPED : qnum_to_qcode((int)u);
}

/* KeyValue: {"type": "number", "data": int} | {"type": "qcode", "data": QKeyCode}. */
static QKeyCode visit_key(Visit *v, const QJ *obj, const char *path)
{
    static const char *const known[] = {"type", "data", NULL};
    QKeyCode q = Q_KEY_CODE_UNMAPPED;
    int kind = member_enum(v, obj, path, "type", key_kind, false);
    if (kind == 0) {
        const QJ *d = member(v, obj, path, "data", QJ_INT, false);
        if (d) {
            q = number_to_qcode(d->i);
        }
    } else if (kind == 1) {
        int c = member_enum(v, obj, path, "data", qcode_from_name, false);
        if (c >= 0) {
            q = (QKeyCode)c;
        }
    }
    no_extra(v, obj, path, known);
    return q;
}

/* InputEvent: {"type": "key"|"btn"|"rel"|"abs", "data": {...}} */
static void visit_event(Visit *v, const QJ *obj, const char *path, InputEvent *e)
{
    static const char *const known[] = {"type", "data", NULL};
    static const char *const key_known[] = {"key", "down", NULL};
    static const char *const btn_known[] = {"button", "down", NULL};
    static const char *const move_known[] = {"axis", "value", NULL};
    int kind = member_enum(v, obj, path, "type", event_kind, false);
    const QJ *d = kind >= 0 ? member(v, obj, path, "data", QJ_OBJECT, false) : NULL;
    if (d) {
        char *dp = join(path, "data");
        memset(e, 0, sizeof(*e));
        e->kind = (InputEventKind)kind;
        if (kind == INPUT_EVENT_KEY) {
            const QJ *k = member(v, d, dp, "key", QJ_OBJECT, false);
            if (k) {
                char *kp = join(dp, "key");
                e->key.qcode = visit_key(v, k, kp);
                g_free(kp);
            }
            const QJ *down = member(v, d, dp, "down", QJ_BOOL, false);
            e->key.down = down && down->b;
            no_extra(v, d, dp, key_known);
        } else if (kind == INPUT_EVENT_BTN) {
            e->btn.button = (InputButton)member_enum(v, d, dp, "button", button_from_name, false);
            const QJ *down = member(v, d, dp, "down", QJ_BOOL, false);
            e->btn.down = down && down->b;
            no_extra(v, d, dp, btn_known);
        } else {
            e->move.axis = (InputAxis)member_enum(v, d, dp, "axis", axis_from_name, false);
            const QJ *val = member(v, d, dp, "value", QJ_INT, false);
            e->move.value = val ? val->i : 0;
            no_extra(v, d, dp, move_known);
        }
        g_free(dp);
    }
    no_extra(v, obj, path, known);
}

/* ---- send-key ----------------------------------------------------------------------------- */

/* QEMU's qmp_send_key: each key pressed with a pause (hold-time, 0: QEMU's default) after it,
 * then released in reverse order, a pause after each. */
static void send_keys(const QKeyCode *keys, size_t n, int64_t hold_ms)
{
    for (size_t i = 0; i < n; i++) {
        input_key_queued(keys[i], true);
        input_key_delay((uint32_t)hold_ms);
    }
    for (size_t i = n; i-- > 0;) {
        input_key_queued(keys[i], false);
        input_key_delay(0);
    }
}

static QJ *cmd_send_key(Monitor *mon, const QJ *args, QmpError *err)
{
    (void)mon;
    static const char *const known[] = {"keys", "hold-time", NULL};
    Visit v = {err, false};
    const QJ *keys = member(&v, args, "", "keys", QJ_ARRAY, false);
    size_t n = keys ? keys->arr.n : 0;
    QKeyCode *q = g_new0(QKeyCode, n + 1);
    for (size_t i = 0; i < n && !v.failed; i++) {
        char *p = g_strdup_printf("keys[%zu]", i);
        if (element_obj(&v, keys->arr.items[i], p)) {
            q[i] = visit_key(&v, keys->arr.items[i], p);
        }
        g_free(p);
    }
    const QJ *hold = member(&v, args, "", "hold-time", QJ_INT, true);
    no_extra(&v, args, "", known);
    if (!v.failed) {
        send_keys(q, n, hold ? hold->i : 0);
    }
    g_free(q);
    return NULL;
}

/* ---- input-send-event -------------------------------------------------------------------- */

static const char *const kind_names[] = {"key", "btn", "rel", "abs"};

static QJ *cmd_input_send_event(Monitor *mon, const QJ *args, QmpError *err)
{
    (void)mon;
    static const char *const known[] = {"device", "head", "events", NULL};
    Visit v = {err, false};
    const QJ *dev = member(&v, args, "", "device", QJ_STRING, true);
    const QJ *head = member(&v, args, "", "head", QJ_INT, true);
    const QJ *events = member(&v, args, "", "events", QJ_ARRAY, false);
    size_t n = events ? events->arr.n : 0;
    InputEvent *ev = g_new0(InputEvent, n + 1);
    for (size_t i = 0; i < n && !v.failed; i++) {
        char *p = g_strdup_printf("events[%zu]", i);
        if (element_obj(&v, events->arr.items[i], p)) {
            visit_event(&v, events->arr.items[i], p, &ev[i]);
        }
        g_free(p);
    }
    no_extra(&v, args, "", known);
    if (v.failed) {
        g_free(ev);
        return NULL;
    }
    /* The console the events are for (no handler is bound to one in Vireo: its check only) */
    if (dev) {
        const char *cls = "GenericError";
        char *e = NULL;
        vireo_lock();
        VConsole *con = console_lookup_locked(dev->s, head ? head->i : 0, &cls, &e);
        vireo_unlock();
        if (!con) {
            qmp_error(err, cls, "%s", e);
            g_free(e);
            g_free(ev);
            return NULL;
        }
    }
    if (!runstate_is_running()) {
        qmp_error(err, "GenericError", "VM not running");
        g_free(ev);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!input_has_handler(ev[i].kind)) {
            qmp_error(err, "GenericError", "Input handler not found for event type %s",
                      kind_names[ev[i].kind]);
            g_free(ev);
            return NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        input_send_event(&ev[i]);
    }
    input_sync();
    g_free(ev);
    return NULL;
}

static const QmpArg any_args[] = {{"*", QARG_ANY, true, NULL}, {NULL}};

const QmpCommand qmp_input_commands[] = {
    {"send-key", cmd_send_key, any_args, "{}"},
    {"input-send-event", cmd_input_send_event, any_args, "{}"},
    {NULL},
};

/* ---- HMP sendkey keys [hold-time] -------------------------------------------------------- */

/* One key name of HMP's sendkey: a qcode name, or a number written 0x..; -1 if neither. */
static int hmp_key(const char *name, size_t len, QKeyCode *q)
{
    char *k = g_strndup(name, len);
    int r = 0;
    if (!strcmp(k, "<")) {
        /* the old interface's name of the key beside left shift */
        *q = (QKeyCode)qcode_from_name("less");
    } else if (g_str_has_prefix(k, "0x")) {
        char *end;
        guint64 n = g_ascii_strtoull(k, &end, 0);
        if (*end || end == k + 1) {
            r = -1;
        } else {
            *q = number_to_qcode((int64_t)(int)n);
        }
    } else {
        int c = qcode_from_name(k);
        if (c < 0) {
            r = -1;
        } else {
            *q = (QKeyCode)c;
        }
    }
    g_free(k);
    return r;
}

void hmp_sendkey(Monitor *mon, char **argv)
{
    if (!argv[0]) {
        monitor_puts(mon, "sendkey: string expected\n"
                          "Try \"help sendkey\" for more information\n");
        return;
    }
    int64_t hold = 0;
    if (argv[1]) {
        if (argv[2]) {
            monitor_puts(mon, "sendkey: extraneous characters at the end of line\n"
                              "Try \"help sendkey\" for more information\n");
            return;
        }
        char *end;
        hold = g_ascii_strtoll(argv[1], &end, 0);
        if (*end) {
            monitor_printf(mon,
                           "invalid char '%c' in expression\n"
                           "Try \"help sendkey\" for more information\n",
                           *end);
            return;
        }
    }
    GArray *keys = g_array_new(false, false, sizeof(QKeyCode));
    const char *s = argv[0];
    for (;;) {
        const char *dash = strchr(s, '-');
        size_t len = dash ? (size_t)(dash - s) : strlen(s);
        QKeyCode q;
        if (len == 0 || hmp_key(s, len, &q) < 0) {
            monitor_printf(mon, "invalid parameter: %.*s\n", (int)len, s);
            g_array_free(keys, true);
            return;
        }
        g_array_append_val(keys, q);
        if (!dash) {
            break;
        }
        s = dash + 1;
    }
    send_keys((const QKeyCode *)keys->data, keys->len, hold);
    g_array_free(keys, true);
}
