/* JSON values printed the way QEMU's QObject layer prints them; see block-qobject.h. */
#include <string.h>
#include "vireo/block-qobject.h"

typedef struct QObjEntry {
    char *key;
    QObj *value;
    unsigned bucket;
    unsigned seq;
} QObjEntry;

struct QObj {
    QObjType type;
    int64_t i;
    bool b;
    char *s;
    GPtrArray *items; /* QObjEntry* for dicts, QObj* for lists */
    unsigned seq;
};

static unsigned tdb_hash(const char *key)
{
    uint32_t value = 0x238F13AFu * (uint32_t)strlen(key);
    for (uint32_t i = 0; key[i]; i++) {
        value = value + ((uint32_t)(unsigned char)key[i] << (i * 5 % 24));
    }
    return (1103515243u * value + 12345u) % 512;
}

static QObj *qobj_new(QObjType t)
{
    QObj *o = g_new0(QObj, 1);
    o->type = t;
    return o;
}

QObj *qobj_int(int64_t v)
{
    QObj *o = qobj_new(QOBJ_INT);
    o->i = v;
    return o;
}

QObj *qobj_str(const char *s)
{
    QObj *o = qobj_new(QOBJ_STR);
    o->s = g_strdup(s);
    return o;
}

QObj *qobj_bool(bool b)
{
    QObj *o = qobj_new(QOBJ_BOOL);
    o->b = b;
    return o;
}

QObj *qobj_dict(void)
{
    QObj *o = qobj_new(QOBJ_DICT);
    o->items = g_ptr_array_new();
    return o;
}

QObj *qobj_list(void)
{
    QObj *o = qobj_new(QOBJ_LIST);
    o->items = g_ptr_array_new();
    return o;
}

void qobj_free(QObj *o)
{
    if (!o) {
        return;
    }
    if (o->items) {
        for (guint i = 0; i < o->items->len; i++) {
            if (o->type == QOBJ_DICT) {
                QObjEntry *e = o->items->pdata[i];
                g_free(e->key);
                qobj_free(e->value);
                g_free(e);
            } else {
                qobj_free(o->items->pdata[i]);
            }
        }
        g_ptr_array_free(o->items, TRUE);
    }
    g_free(o->s);
    g_free(o);
}

void qobj_put(QObj *dict, const char *key, QObj *v)
{
    for (guint i = 0; i < dict->items->len; i++) {
        QObjEntry *e = dict->items->pdata[i];
        if (!strcmp(e->key, key)) {
            qobj_free(e->value);
            e->value = v;
            return;
        }
    }
    QObjEntry *e = g_new0(QObjEntry, 1);
    e->key = g_strdup(key);
    e->value = v;
    e->bucket = tdb_hash(key);
    e->seq = dict->seq++;
    g_ptr_array_add(dict->items, e);
}

void qobj_append(QObj *list, QObj *v)
{
    g_ptr_array_add(list->items, v);
}

static gint entry_cmp(gconstpointer a, gconstpointer b)
{
    const QObjEntry *x = *(QObjEntry *const *)a, *y = *(QObjEntry *const *)b;
    if (x->bucket != y->bucket) {
        return x->bucket < y->bucket ? -1 : 1;
    }
    return x->seq > y->seq ? -1 : x->seq < y->seq ? 1 : 0;
}

static GPtrArray *sorted_entries(const QObj *dict)
{
    GPtrArray *a = g_ptr_array_new();
    for (guint i = 0; i < dict->items->len; i++) {
        g_ptr_array_add(a, dict->items->pdata[i]);
    }
    g_ptr_array_sort(a, entry_cmp);
    return a;
}

static void quoted(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    const char *p = s;
    while (*p) {
        gunichar cp = g_utf8_get_char_validated(p, -1);
        const char *next;
        if (cp == (gunichar)-1 || cp == (gunichar)-2) {
            cp = 0xFFFD;
            next = p + 1;
        } else {
            next = g_utf8_next_char(p);
        }
        switch (cp) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (cp < 0x20 || cp >= 0x7f) {
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    g_string_append_printf(out, "\\u%04X\\u%04X", 0xD800 | (cp >> 10),
                                           0xDC00 | (cp & 0x3FF));
                } else {
                    g_string_append_printf(out, "\\u%04X", cp);
                }
            } else {
                g_string_append_c(out, (char)cp);
            }
        }
        p = next;
    }
    g_string_append_c(out, '"');
}

static void to_json(const QObj *o, GString *out, int depth)
{
    switch (o->type) {
    case QOBJ_INT:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, o->i);
        break;
    case QOBJ_STR:
        quoted(out, o->s);
        break;
    case QOBJ_BOOL:
        g_string_append(out, o->b ? "true" : "false");
        break;
    case QOBJ_DICT: {
        GPtrArray *a = sorted_entries(o);
        g_string_append_c(out, '{');
        for (guint i = 0; i < a->len; i++) {
            QObjEntry *e = a->pdata[i];
            if (i) {
                g_string_append_c(out, ',');
            }
            g_string_append_printf(out, "\n%*s", 4 * (depth + 1), "");
            quoted(out, e->key);
            g_string_append(out, ": ");
            to_json(e->value, out, depth + 1);
        }
        g_string_append_printf(out, "\n%*s}", 4 * depth, "");
        g_ptr_array_free(a, TRUE);
        break;
    }
    case QOBJ_LIST:
        g_string_append_c(out, '[');
        for (guint i = 0; i < o->items->len; i++) {
            if (i) {
                g_string_append_c(out, ',');
            }
            g_string_append_printf(out, "\n%*s", 4 * (depth + 1), "");
            to_json(o->items->pdata[i], out, depth + 1);
        }
        g_string_append_printf(out, "\n%*s]", 4 * depth, "");
        break;
    }
}

void qobj_to_json(const QObj *o, GString *out)
{
    to_json(o, out, 0);
}

static void dump(const QObj *o, int indent, GString *out);

static void dump_value(const QObj *o, int indent, GString *out)
{
    switch (o->type) {
    case QOBJ_INT:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, o->i);
        break;
    case QOBJ_STR:
        g_string_append(out, o->s);
        break;
    case QOBJ_BOOL:
        g_string_append(out, o->b ? "true" : "false");
        break;
    default:
        dump(o, indent, out);
        break;
    }
}

static void dump(const QObj *o, int indent, GString *out)
{
    if (o->type == QOBJ_LIST) {
        for (guint i = 0; i < o->items->len; i++) {
            const QObj *v = o->items->pdata[i];
            bool comp = v->type == QOBJ_DICT || v->type == QOBJ_LIST;
            g_string_append_printf(out, "%*s[%u]:%c", indent * 4, "", i, comp ? '\n' : ' ');
            dump_value(v, indent + 1, out);
            if (!comp) {
                g_string_append_c(out, '\n');
            }
        }
        return;
    }
    GPtrArray *a = sorted_entries(o);
    for (guint i = 0; i < a->len; i++) {
        QObjEntry *e = a->pdata[i];
        bool comp = e->value->type == QOBJ_DICT || e->value->type == QOBJ_LIST;
        char *key = g_strdup(e->key);
        for (char *p = key; *p; p++) {
            if (*p == '-') {
                *p = ' ';
            }
        }
        g_string_append_printf(out, "%*s%s:%c", indent * 4, "", key, comp ? '\n' : ' ');
        g_free(key);
        dump_value(e->value, indent + 1, out);
        if (!comp) {
            g_string_append_c(out, '\n');
        }
    }
    g_ptr_array_free(a, TRUE);
}

void qobj_dump_human(const QObj *o, int indent, GString *out)
{
    dump(o, indent, out);
}

QObj *qobj_list_get(const QObj *list, unsigned i)
{
    return i < list->items->len ? list->items->pdata[i] : NULL;
}
