/*
 * JSON values, the streaming lexer/parser and the serializer (see qjson.h for the dialect).
 *
 * The lexer is a byte-at-a-time state machine producing tokens; the streamer collects tokens
 * until the braces and brackets balance (or a scalar stands alone at the top) and hands the
 * token list to a recursive-descent parser. Error texts and recovery follow QEMU 7.2.
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/qjson.h"

/* ---- values --------------------------------------------------------------------------- */

static QJ *qj_new(QJType t)
{
    QJ *v = g_new0(QJ, 1);
    v->type = t;
    return v;
}

QJ *qj_null(void)
{
    return qj_new(QJ_NULL);
}

QJ *qj_bool(bool b)
{
    QJ *v = qj_new(QJ_BOOL);
    v->b = b;
    return v;
}

QJ *qj_int(int64_t i)
{
    QJ *v = qj_new(QJ_INT);
    v->i = i;
    return v;
}

QJ *qj_uint(uint64_t u)
{
    if (u <= INT64_MAX) {
        return qj_int((int64_t)u);
    }
    QJ *v = qj_new(QJ_UINT);
    v->u = u;
    return v;
}

QJ *qj_double(double d)
{
    QJ *v = qj_new(QJ_DOUBLE);
    v->d = d;
    return v;
}

QJ *qj_string(const char *s)
{
    return qj_string_take(g_strdup(s ? s : ""));
}

QJ *qj_string_take(char *s)
{
    QJ *v = qj_new(QJ_STRING);
    v->s = s;
    return v;
}

QJ *qj_array(void)
{
    return qj_new(QJ_ARRAY);
}

QJ *qj_object(void)
{
    return qj_new(QJ_OBJECT);
}

void qj_free(QJ *v)
{
    if (!v) {
        return;
    }
    switch (v->type) {
    case QJ_STRING:
        g_free(v->s);
        break;
    case QJ_ARRAY:
        for (size_t i = 0; i < v->arr.n; i++) {
            qj_free(v->arr.items[i]);
        }
        g_free(v->arr.items);
        break;
    case QJ_OBJECT:
        for (size_t i = 0; i < v->obj.n; i++) {
            g_free(v->obj.m[i].key);
            qj_free(v->obj.m[i].value);
        }
        g_free(v->obj.m);
        break;
    default:
        break;
    }
    g_free(v);
}

QJ *qj_copy(const QJ *v)
{
    if (!v) {
        return NULL;
    }
    QJ *c;
    switch (v->type) {
    case QJ_STRING:
        return qj_string(v->s);
    case QJ_ARRAY:
        c = qj_array();
        for (size_t i = 0; i < v->arr.n; i++) {
            qj_append(c, qj_copy(v->arr.items[i]));
        }
        return c;
    case QJ_OBJECT:
        c = qj_object();
        for (size_t i = 0; i < v->obj.n; i++) {
            qj_set(c, v->obj.m[i].key, qj_copy(v->obj.m[i].value));
        }
        return c;
    default:
        c = qj_new(v->type);
        *c = *v;
        return c;
    }
}

bool qj_equal(const QJ *a, const QJ *b)
{
    if (!a || !b || a->type != b->type) {
        return a == b;
    }
    switch (a->type) {
    case QJ_NULL:
        return true;
    case QJ_BOOL:
        return a->b == b->b;
    case QJ_INT:
        return a->i == b->i;
    case QJ_UINT:
        return a->u == b->u;
    case QJ_DOUBLE:
        return a->d == b->d;
    case QJ_STRING:
        return strcmp(a->s, b->s) == 0;
    case QJ_ARRAY:
        if (a->arr.n != b->arr.n) {
            return false;
        }
        for (size_t i = 0; i < a->arr.n; i++) {
            if (!qj_equal(a->arr.items[i], b->arr.items[i])) {
                return false;
            }
        }
        return true;
    case QJ_OBJECT:
        if (a->obj.n != b->obj.n) {
            return false;
        }
        for (size_t i = 0; i < a->obj.n; i++) {
            if (!qj_equal(a->obj.m[i].value, qj_get(b, a->obj.m[i].key))) {
                return false;
            }
        }
        return true;
    }
    return false;
}

QJ *qj_append(QJ *arr, QJ *v)
{
    if (arr->arr.n == arr->arr.cap) {
        arr->arr.cap = arr->arr.cap ? arr->arr.cap * 2 : 4;
        arr->arr.items = g_renew(QJ *, arr->arr.items, arr->arr.cap);
    }
    arr->arr.items[arr->arr.n++] = v;
    return arr;
}

QJ *qj_set(QJ *obj, const char *key, QJ *v)
{
    for (size_t i = 0; i < obj->obj.n; i++) {
        if (strcmp(obj->obj.m[i].key, key) == 0) {
            qj_free(obj->obj.m[i].value);
            obj->obj.m[i].value = v;
            return obj;
        }
    }
    if (obj->obj.n == obj->obj.cap) {
        obj->obj.cap = obj->obj.cap ? obj->obj.cap * 2 : 4;
        obj->obj.m = g_renew(QJMember, obj->obj.m, obj->obj.cap);
    }
    obj->obj.m[obj->obj.n].key = g_strdup(key);
    obj->obj.m[obj->obj.n].value = v;
    obj->obj.n++;
    return obj;
}

QJ *qj_set_str(QJ *obj, const char *key, const char *s)
{
    return qj_set(obj, key, qj_string(s));
}

QJ *qj_set_int(QJ *obj, const char *key, int64_t i)
{
    return qj_set(obj, key, qj_int(i));
}

QJ *qj_set_bool(QJ *obj, const char *key, bool b)
{
    return qj_set(obj, key, qj_bool(b));
}

QJ *qj_get(const QJ *obj, const char *key)
{
    if (!obj || obj->type != QJ_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; i < obj->obj.n; i++) {
        if (strcmp(obj->obj.m[i].key, key) == 0) {
            return obj->obj.m[i].value;
        }
    }
    return NULL;
}

QJ *qj_take(QJ *obj, const char *key)
{
    if (!obj || obj->type != QJ_OBJECT) {
        return NULL;
    }
    for (size_t i = 0; i < obj->obj.n; i++) {
        if (strcmp(obj->obj.m[i].key, key) == 0) {
            QJ *v = obj->obj.m[i].value;
            g_free(obj->obj.m[i].key);
            memmove(&obj->obj.m[i], &obj->obj.m[i + 1], (obj->obj.n - i - 1) * sizeof(QJMember));
            obj->obj.n--;
            return v;
        }
    }
    return NULL;
}

const char *qj_get_str(const QJ *obj, const char *key)
{
    QJ *v = qj_get(obj, key);
    return v && v->type == QJ_STRING ? v->s : NULL;
}

/* ---- serializer ----------------------------------------------------------------------- */

/*
 * Decode one code point of (modified) UTF-8 at s; *len gets the bytes used. Returns -1 for
 * an invalid sequence (then *len is the bytes to skip).
 */
static int32_t utf8_decode(const unsigned char *s, size_t *len)
{
    unsigned c = s[0];
    int n;
    int32_t cp, min;
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c >= 0xc0 && c < 0xe0) {
        n = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c < 0xf0) {
        n = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c < 0xf8) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        *len = 1;
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *len = i;
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    *len = n + 1;
    if (c == 0xc0 && s[1] == 0x80) {
        return 0; /* modified UTF-8 NUL */
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return -1;
    }
    return cp;
}

static void put_string(GString *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    g_string_append_c(out, '"');
    while (*s) {
        size_t len;
        int32_t cp = utf8_decode(s, &len);
        s += len;
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
            if (cp < 0) {
                cp = 0xfffd;
            }
            if (cp >= 0x20 && cp < 0x7f) {
                g_string_append_c(out, (char)cp);
            } else if (cp >= 0x10000) {
                cp -= 0x10000;
                g_string_append_printf(out, "\\u%04X\\u%04X", 0xd800 | (cp >> 10),
                                       0xdc00 | (cp & 0x3ff));
            } else {
                g_string_append_printf(out, "\\u%04X", (unsigned)cp);
            }
        }
    }
    g_string_append_c(out, '"');
}

/* QEMU's QDict: 512 buckets chosen by the TDB hash of the key, newest first in a bucket. */
static unsigned qdict_bucket(const char *key)
{
    const unsigned char *k = (const unsigned char *)key;
    uint32_t v = 0x238F13AFu * (uint32_t)strlen(key);
    for (unsigned i = 0; k[i]; i++) {
        v += (uint32_t)k[i] << (i * 5 % 24);
    }
    return (1103515243u * v + 12345u) % 512;
}

typedef struct {
    unsigned bucket;
    size_t index;
} MemberOrder;

static int member_order_cmp(const void *a, const void *b)
{
    const MemberOrder *x = a, *y = b;
    if (x->bucket != y->bucket) {
        return x->bucket < y->bucket ? -1 : 1;
    }
    return x->index > y->index ? -1 : 1;
}

static void newline(GString *out, unsigned flags, int depth)
{
    if (flags & QJ_PRETTY) {
        g_string_append_c(out, '\n');
        for (int i = 0; i < depth; i++) {
            g_string_append(out, "    ");
        }
    }
}

static void put_value(GString *out, const QJ *v, unsigned flags, int depth)
{
    switch (v->type) {
    case QJ_NULL:
        g_string_append(out, "null");
        break;
    case QJ_BOOL:
        g_string_append(out, v->b ? "true" : "false");
        break;
    case QJ_INT:
        g_string_append_printf(out, "%" PRId64, v->i);
        break;
    case QJ_UINT:
        g_string_append_printf(out, "%" PRIu64, v->u);
        break;
    case QJ_DOUBLE: {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.17g", v->d);
        g_string_append(out, buf);
        break;
    }
    case QJ_STRING:
        put_string(out, v->s);
        break;
    case QJ_ARRAY:
        g_string_append_c(out, '[');
        for (size_t i = 0; i < v->arr.n; i++) {
            g_string_append(out, i ? ((flags & QJ_PRETTY) ? "," : ", ") : "");
            newline(out, flags, depth + 1);
            put_value(out, v->arr.items[i], flags, depth + 1);
        }
        newline(out, flags, depth);
        g_string_append_c(out, ']');
        break;
    case QJ_OBJECT: {
        MemberOrder *ord = g_new(MemberOrder, v->obj.n ? v->obj.n : 1);
        for (size_t i = 0; i < v->obj.n; i++) {
            ord[i].index = i;
            ord[i].bucket = (flags & QJ_QEMU_ORDER) ? qdict_bucket(v->obj.m[i].key) : 0;
        }
        if (flags & QJ_QEMU_ORDER) {
            qsort(ord, v->obj.n, sizeof(*ord), member_order_cmp);
        }
        g_string_append_c(out, '{');
        for (size_t i = 0; i < v->obj.n; i++) {
            const QJMember *m = &v->obj.m[ord[i].index];
            g_string_append(out, i ? ((flags & QJ_PRETTY) ? "," : ", ") : "");
            newline(out, flags, depth + 1);
            put_string(out, m->key);
            g_string_append(out, ": ");
            put_value(out, m->value, flags, depth + 1);
        }
        newline(out, flags, depth);
        g_string_append_c(out, '}');
        g_free(ord);
        break;
    }
    }
}

size_t *qj_qemu_member_order(const QJ *obj)
{
    size_t n = obj->obj.n;
    MemberOrder *ord = g_new(MemberOrder, n ? n : 1);
    size_t *idx = g_new(size_t, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        ord[i].index = i;
        ord[i].bucket = qdict_bucket(obj->obj.m[i].key);
    }
    qsort(ord, n, sizeof(*ord), member_order_cmp);
    for (size_t i = 0; i < n; i++) {
        idx[i] = ord[i].index;
    }
    g_free(ord);
    return idx;
}

char *qj_to_json(const QJ *v, unsigned flags)
{
    GString *out = g_string_new(NULL);
    put_value(out, v, flags, 0);
    return g_string_free(out, FALSE);
}

/* ---- qemu-img's human dump ------------------------------------------------------------- */

static void human_dump(GString *out, const QJ *v, int indent);

static bool is_compound(const QJ *v)
{
    return v->type == QJ_OBJECT || v->type == QJ_ARRAY;
}

/* A scalar as qemu-img prints it: strings bare, the rest as in JSON. */
static void human_value(GString *out, const QJ *v, int indent)
{
    if (v->type == QJ_STRING) {
        g_string_append(out, v->s);
    } else if (is_compound(v)) {
        human_dump(out, v, indent);
    } else {
        put_value(out, v, 0, 0);
    }
}

static void human_dump(GString *out, const QJ *v, int indent)
{
    if (v->type == QJ_ARRAY) {
        for (size_t i = 0; i < v->arr.n; i++) {
            const QJ *e = v->arr.items[i];
            g_string_append_printf(out, "%*s[%zu]:%c", indent * 4, "", i,
                                   is_compound(e) ? '\n' : ' ');
            human_value(out, e, indent + 1);
            if (!is_compound(e)) {
                g_string_append_c(out, '\n');
            }
        }
        return;
    }
    size_t *order = qj_qemu_member_order(v);
    for (size_t k = 0; k < v->obj.n; k++) {
        const QJMember *m = &v->obj.m[order[k]];
        g_string_append_printf(out, "%*s", indent * 4, "");
        for (const char *p = m->key; *p; p++) {
            g_string_append_c(out, *p == '-' ? ' ' : *p);
        }
        g_string_append_printf(out, ":%c", is_compound(m->value) ? '\n' : ' ');
        human_value(out, m->value, indent + 1);
        if (!is_compound(m->value)) {
            g_string_append_c(out, '\n');
        }
    }
    g_free(order);
}

char *qj_to_human(const QJ *v, int indent)
{
    GString *out = g_string_new(NULL);
    if (is_compound(v)) {
        human_dump(out, v, indent);
    }
    return g_string_free(out, FALSE);
}

/* ---- lexer ---------------------------------------------------------------------------- */

typedef enum {
    TOK_LCURLY,
    TOK_RCURLY,
    TOK_LSQUARE,
    TOK_RSQUARE,
    TOK_COLON,
    TOK_COMMA,
    TOK_INTEGER,
    TOK_FLOAT,
    TOK_KEYWORD,
    TOK_STRING,
    TOK_ERROR,
    TOK_PARTIAL, /* a token cut at QJ_MAX_TOKEN_SIZE */
} TokType;

typedef enum {
    L_START,
    L_KEYWORD,
    L_DQ,
    L_DQ_ESC,
    L_SQ,
    L_SQ_ESC,
    L_NEG,
    L_ZERO,
    L_NONZERO,
    L_MANT_START,
    L_MANT,
    L_EXP_START,
    L_EXP_SIGN,
    L_EXP,
    L_RECOVERY,
} LexState;

typedef struct Token {
    TokType type;
    char *text;
    size_t len;
} Token;

struct QJStreamer {
    QJEmitFn *emit;
    void *opaque;
    LexState state;
    GString *tok;
    GPtrArray *tokens; /* Token* of the message being collected */
    size_t token_size;
    long brace, bracket;
};

static void token_free(gpointer p)
{
    Token *t = p;
    g_free(t->text);
    g_free(t);
}

/* ---- parser over a token list --------------------------------------------------------- */

typedef struct {
    Token **toks;
    size_t n, pos;
    char *err;
} Parser;

static QJ *parse_value(Parser *p);

static void parse_error(Parser *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void parse_error(Parser *p, const char *fmt, ...)
{
    if (p->err) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *m = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p->err = g_strdup_printf("JSON parse error, %s", m);
    g_free(m);
}

static Token *peek(Parser *p)
{
    return p->pos < p->n ? p->toks[p->pos] : NULL;
}

static Token *next(Parser *p)
{
    return p->pos < p->n ? p->toks[p->pos++] : NULL;
}

static bool valid_codepoint(uint32_t cp)
{
    return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && (cp & 0xfffe) != 0xfffe &&
           !(cp >= 0xfdd0 && cp <= 0xfdef);
}

static void put_utf8(GString *out, uint32_t cp)
{
    if (cp == 0) {
        g_string_append_len(out, "\xc0\x80", 2);
    } else {
        g_string_append_unichar(out, cp);
    }
}

/* Four hex digits at s; on a non-hex digit returns -1 and *bad points at it. */
static int32_t hex4(const char *s, const char **bad)
{
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = g_ascii_xdigit_value(s[i]);
        if (d < 0) {
            *bad = s + i;
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

static QJ *parse_string(Parser *p, const Token *t)
{
    const char *s = t->text + 1, *end = t->text + t->len - 1; /* inside the quotes */
    GString *out = g_string_sized_new(t->len);
    while (s < end) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\') {
            const char *esc = s;
            s++;
            switch (*s++) {
            case '"':
                g_string_append_c(out, '"');
                break;
            case '\'':
                g_string_append_c(out, '\'');
                break;
            case '\\':
                g_string_append_c(out, '\\');
                break;
            case '/':
                g_string_append_c(out, '/');
                break;
            case 'b':
                g_string_append_c(out, '\b');
                break;
            case 'f':
                g_string_append_c(out, '\f');
                break;
            case 'n':
                g_string_append_c(out, '\n');
                break;
            case 'r':
                g_string_append_c(out, '\r');
                break;
            case 't':
                g_string_append_c(out, '\t');
                break;
            case 'u': {
                const char *bad = NULL;
                int32_t cp = hex4(s, &bad);
                if (cp < 0) {
                    parse_error(p, "%.*s is not a valid Unicode character", (int)(bad - esc + 1),
                                esc);
                    goto fail;
                }
                s += 4;
                if (cp >= 0xd800 && cp <= 0xdbff && s[0] == '\\' && s[1] == 'u') {
                    int32_t lo = hex4(s + 2, &bad);
                    if (lo >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        s += 6;
                    }
                }
                if (!valid_codepoint((uint32_t)cp)) {
                    parse_error(p, "%.*s is not a valid Unicode character", (int)(s - esc), esc);
                    goto fail;
                }
                put_utf8(out, (uint32_t)cp);
                break;
            }
            default:
                parse_error(p, "invalid escape sequence in string");
                goto fail;
            }
        } else if (c >= 0x80) {
            size_t len;
            int32_t cp = utf8_decode((const unsigned char *)s, &len);
            if (cp < 0 || s + len > end || (cp > 0 && !valid_codepoint((uint32_t)cp))) {
                parse_error(p, "invalid UTF-8 sequence in string");
                goto fail;
            }
            g_string_append_len(out, s, len);
            s += len;
        } else {
            g_string_append_c(out, (char)c);
            s++;
        }
    }
    return qj_string_take(g_string_free(out, FALSE));
fail:
    g_string_free(out, TRUE);
    return NULL;
}

static QJ *parse_number(const Token *t)
{
    if (t->type == TOK_INTEGER) {
        errno = 0;
        long long i = strtoll(t->text, NULL, 10);
        if (errno == 0) {
            return qj_int(i);
        }
        if (t->text[0] != '-') {
            errno = 0;
            unsigned long long u = strtoull(t->text, NULL, 10);
            if (errno == 0) {
                return qj_uint(u);
            }
        }
    }
    return qj_double(strtod(t->text, NULL));
}

static QJ *parse_object(Parser *p)
{
    QJ *obj = qj_object();
    Token *t = peek(p);
    if (t && t->type == TOK_RCURLY) {
        next(p);
        return obj;
    }
    for (;;) {
        QJ *key = parse_value(p);
        if (!key) {
            goto fail;
        }
        if (key->type != QJ_STRING) {
            qj_free(key);
            parse_error(p, "key is not a string in object");
            goto fail;
        }
        t = next(p);
        if (!t || t->type != TOK_COLON) {
            qj_free(key);
            parse_error(p, "missing : in object pair");
            goto fail;
        }
        QJ *val = parse_value(p);
        if (!val) {
            qj_free(key);
            goto fail;
        }
        if (qj_get(obj, key->s)) {
            qj_free(key);
            qj_free(val);
            parse_error(p, "duplicate key");
            goto fail;
        }
        qj_set(obj, key->s, val);
        qj_free(key);
        t = next(p);
        if (t && t->type == TOK_RCURLY) {
            return obj;
        }
        if (!t || t->type != TOK_COMMA) {
            parse_error(p, "expected separator in dict");
            goto fail;
        }
    }
fail:
    qj_free(obj);
    return NULL;
}

static QJ *parse_array(Parser *p)
{
    QJ *arr = qj_array();
    Token *t = peek(p);
    if (t && t->type == TOK_RSQUARE) {
        next(p);
        return arr;
    }
    for (;;) {
        QJ *v = parse_value(p);
        if (!v) {
            qj_free(arr);
            return NULL;
        }
        qj_append(arr, v);
        t = next(p);
        if (t && t->type == TOK_RSQUARE) {
            return arr;
        }
        if (!t || t->type != TOK_COMMA) {
            parse_error(p, "expected separator in list");
            qj_free(arr);
            return NULL;
        }
    }
}

static QJ *parse_value(Parser *p)
{
    Token *t = next(p);
    if (!t) {
        parse_error(p, "premature EOI");
        return NULL;
    }
    switch (t->type) {
    case TOK_LCURLY:
        return parse_object(p);
    case TOK_LSQUARE:
        return parse_array(p);
    case TOK_STRING:
        return parse_string(p, t);
    case TOK_INTEGER:
    case TOK_FLOAT:
        return parse_number(t);
    case TOK_KEYWORD:
        if (!strcmp(t->text, "true")) {
            return qj_bool(true);
        } else if (!strcmp(t->text, "false")) {
            return qj_bool(false);
        } else if (!strcmp(t->text, "null")) {
            return qj_null();
        }
        parse_error(p, "invalid keyword '%s'", t->text);
        return NULL;
    default:
        parse_error(p, "expecting value");
        return NULL;
    }
}

/* ---- streamer ------------------------------------------------------------------------- */

static void streamer_clear(QJStreamer *s)
{
    g_ptr_array_set_size(s->tokens, 0);
    s->token_size = 0;
    s->brace = s->bracket = 0;
}

static void emit_error(QJStreamer *s, const char *msg)
{
    streamer_clear(s);
    s->emit(s->opaque, NULL, msg);
}

static void parse_and_emit(QJStreamer *s)
{
    Parser p = {.toks = (Token **)s->tokens->pdata, .n = s->tokens->len};
    QJ *v = parse_value(&p);
    if (v && p.pos < p.n) {
        qj_free(v);
        v = NULL;
        parse_error(&p, "expecting value");
    }
    streamer_clear(s);
    s->emit(s->opaque, v, v ? NULL : p.err);
    g_free(p.err);
}

static void process_token(QJStreamer *s, TokType type, const char *text, size_t len)
{
    switch (type) {
    case TOK_LCURLY:
        s->brace++;
        break;
    case TOK_RCURLY:
        s->brace--;
        break;
    case TOK_LSQUARE:
        s->bracket++;
        break;
    case TOK_RSQUARE:
        s->bracket--;
        break;
    case TOK_ERROR: {
        char *m = g_strdup_printf("JSON parse error, stray '%.*s'", (int)len, text);
        emit_error(s, m);
        g_free(m);
        return;
    }
    default:
        break;
    }
    if (s->token_size + len + 1 > QJ_MAX_TOKEN_SIZE) {
        emit_error(s, "JSON token size limit exceeded");
        return;
    }
    if (s->tokens->len + 1 > QJ_MAX_TOKEN_COUNT) {
        emit_error(s, "JSON token count limit exceeded");
        return;
    }
    if (s->brace + s->bracket > QJ_MAX_NESTING) {
        emit_error(s, "JSON nesting depth limit exceeded");
        return;
    }
    Token *t = g_new(Token, 1);
    t->type = type;
    t->text = g_strndup(text, len);
    t->len = len;
    g_ptr_array_add(s->tokens, t);
    s->token_size += len;
    if ((s->brace > 0 || s->bracket > 0) && s->brace >= 0 && s->bracket >= 0) {
        return;
    }
    parse_and_emit(s);
}

static void lex_emit(QJStreamer *s, TokType type)
{
    /* Copy out first: the callback may feed nothing back, but keep the buffer reusable. */
    GString *tok = s->tok;
    s->tok = g_string_new(NULL);
    s->state = type == TOK_ERROR ? L_RECOVERY : L_START;
    process_token(s, type, tok->str, tok->len);
    g_string_free(tok, TRUE);
}

QJStreamer *qj_streamer_new(QJEmitFn *emit, void *opaque)
{
    QJStreamer *s = g_new0(QJStreamer, 1);
    s->emit = emit;
    s->opaque = opaque;
    s->tok = g_string_new(NULL);
    s->tokens = g_ptr_array_new_with_free_func(token_free);
    return s;
}

void qj_streamer_reset(QJStreamer *s)
{
    g_string_truncate(s->tok, 0);
    s->state = L_START;
    streamer_clear(s);
}

void qj_streamer_free(QJStreamer *s)
{
    if (!s) {
        return;
    }
    g_string_free(s->tok, TRUE);
    g_ptr_array_free(s->tokens, TRUE);
    g_free(s);
}

static bool is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

/* One byte through the lexer. */
static void lex_char(QJStreamer *s, unsigned char c)
{
again:
    switch (s->state) {
    case L_START:
        switch (c) {
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            return;
        case '{':
        case '}':
        case '[':
        case ']':
        case ':':
        case ',':
            g_string_append_c(s->tok, (char)c);
            lex_emit(s, c == '{'   ? TOK_LCURLY
                        : c == '}' ? TOK_RCURLY
                        : c == '[' ? TOK_LSQUARE
                        : c == ']' ? TOK_RSQUARE
                        : c == ':' ? TOK_COLON
                                   : TOK_COMMA);
            return;
        case '"':
            s->state = L_DQ;
            break;
        case '\'':
            s->state = L_SQ;
            break;
        case '-':
            s->state = L_NEG;
            break;
        case '0':
            s->state = L_ZERO;
            break;
        default:
            if (c >= '1' && c <= '9') {
                s->state = L_NONZERO;
            } else if (c >= 'a' && c <= 'z') {
                s->state = L_KEYWORD;
            } else {
                g_string_append_c(s->tok, (char)c);
                lex_emit(s, TOK_ERROR);
                return;
            }
        }
        g_string_append_c(s->tok, (char)c);
        break;
    case L_KEYWORD:
        if (c >= 'a' && c <= 'z') {
            g_string_append_c(s->tok, (char)c);
            break;
        }
        lex_emit(s, TOK_KEYWORD);
        goto again;
    case L_DQ:
    case L_SQ:
        g_string_append_c(s->tok, (char)c);
        if (c == (s->state == L_DQ ? '"' : '\'')) {
            lex_emit(s, TOK_STRING);
            return;
        } else if (c == '\\') {
            s->state = s->state == L_DQ ? L_DQ_ESC : L_SQ_ESC;
        } else if (c < 0x20 || c >= 0xfe) {
            lex_emit(s, TOK_ERROR);
            return;
        }
        break;
    case L_DQ_ESC:
    case L_SQ_ESC:
        g_string_append_c(s->tok, (char)c);
        if (c < 0x20 || c >= 0xfe) {
            lex_emit(s, TOK_ERROR);
            return;
        }
        s->state = s->state == L_DQ_ESC ? L_DQ : L_SQ;
        break;
    case L_NEG:
        g_string_append_c(s->tok, (char)c);
        if (c == '0') {
            s->state = L_ZERO;
        } else if (is_digit(c)) {
            s->state = L_NONZERO;
        } else {
            lex_emit(s, TOK_ERROR);
            return;
        }
        break;
    case L_ZERO:
    case L_NONZERO:
        if (is_digit(c) && s->state == L_NONZERO) {
            g_string_append_c(s->tok, (char)c);
        } else if (c == '.' || c == 'e' || c == 'E' || is_digit(c)) {
            g_string_append_c(s->tok, (char)c);
            if (is_digit(c)) {
                lex_emit(s, TOK_ERROR); /* leading zero */
                return;
            }
            s->state = c == '.' ? L_MANT_START : L_EXP_START;
        } else {
            lex_emit(s, TOK_INTEGER);
            goto again;
        }
        break;
    case L_MANT_START:
    case L_EXP_SIGN:
        g_string_append_c(s->tok, (char)c);
        if (!is_digit(c)) {
            lex_emit(s, TOK_ERROR);
            return;
        }
        s->state = s->state == L_MANT_START ? L_MANT : L_EXP;
        break;
    case L_MANT:
        if (is_digit(c)) {
            g_string_append_c(s->tok, (char)c);
        } else if (c == 'e' || c == 'E') {
            g_string_append_c(s->tok, (char)c);
            s->state = L_EXP_START;
        } else {
            lex_emit(s, TOK_FLOAT);
            goto again;
        }
        break;
    case L_EXP_START:
        g_string_append_c(s->tok, (char)c);
        if (c == '+' || c == '-') {
            s->state = L_EXP_SIGN;
        } else if (is_digit(c)) {
            s->state = L_EXP;
        } else {
            lex_emit(s, TOK_ERROR);
            return;
        }
        break;
    case L_EXP:
        if (is_digit(c)) {
            g_string_append_c(s->tok, (char)c);
            break;
        }
        lex_emit(s, TOK_FLOAT);
        goto again;
    case L_RECOVERY:
        /* Skip to a structural character or a control character, then start over there. */
        if ((c < 0x20 && c != '\t') || c >= 0xfe || c == '{' || c == '}' || c == '[' || c == ']') {
            s->state = L_START;
            goto again;
        }
        return;
    }
    /* No single token may grow without bound: cut it, the streamer rejects the message. */
    if (s->tok->len > QJ_MAX_TOKEN_SIZE) {
        lex_emit(s, TOK_PARTIAL);
    }
}

void qj_streamer_feed(QJStreamer *s, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        lex_char(s, (unsigned char)buf[i]);
    }
}

/* ---- whole-string parsing ------------------------------------------------------------- */

typedef struct {
    QJ *value;
    char *err;
    int count;
} OneResult;

static void collect_one(void *opaque, QJ *value, const char *error)
{
    OneResult *r = opaque;
    r->count++;
    if (r->count > 1 || error) {
        if (!r->err) {
            r->err = g_strdup(error ? error : "JSON parse error, trailing data");
        }
        qj_free(value);
        return;
    }
    r->value = value;
}

QJ *qj_parse(const char *text, char **errp)
{
    OneResult r = {0};
    QJStreamer *s = qj_streamer_new(collect_one, &r);
    qj_streamer_feed(s, text, strlen(text));
    /* End of input: finish a pending keyword or number, then the message. */
    switch (s->state) {
    case L_KEYWORD:
        lex_emit(s, TOK_KEYWORD);
        break;
    case L_ZERO:
    case L_NONZERO:
        lex_emit(s, TOK_INTEGER);
        break;
    case L_MANT:
    case L_EXP:
        lex_emit(s, TOK_FLOAT);
        break;
    case L_START:
    case L_RECOVERY:
        break;
    default:
        if (!r.err) {
            r.err = g_strdup("JSON parse error, premature EOI");
        }
    }
    if (s->tokens->len && !r.err) {
        r.err = g_strdup("JSON parse error, premature EOI");
    }
    qj_streamer_free(s);
    if (!r.err && !r.value) {
        r.err = g_strdup("JSON parse error, expecting value");
    }
    if (r.err) {
        qj_free(r.value);
        if (errp) {
            *errp = r.err;
        } else {
            g_free(r.err);
        }
        return NULL;
    }
    return r.value;
}
