/*
 * JSON values, a streaming parser and a serializer, speaking the dialect of QEMU's QObject
 * layer: the one JSON library of Vireo, used by QMP (monitor/), qemu-img's --output=json and
 * its human "Format specific information" dump, and the block layer's info structures.
 *
 *  - the parser accepts RFC 8259 JSON plus 'single-quoted' strings and the escape \'; strings
 *    are kept as NUL-terminated modified UTF-8 (U+0000 is stored as C0 80);
 *  - the streaming parser (QJStreamer) takes bytes in arbitrary chunks and emits every
 *    top-level value as soon as it is complete: messages may arrive split or several at once;
 *    errors (lexical, syntactic, limits) are reported with QEMU 7.2's texts and the lexer
 *    resynchronises on '{' '[' '}' ']' or a control character, as QMP clients expect;
 *  - the serializer writes QEMU's compact form ("key": value, ", " separators, non-ASCII as
 *    \uXXXX) or its pretty form, and can order object members the way QEMU's QDict iterates
 *    them (QJ_QEMU_ORDER), so replies are byte-for-byte what QEMU sends.
 */
#ifndef VIREO_QJSON_H
#define VIREO_QJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    QJ_NULL,
    QJ_BOOL,
    QJ_INT,    /* fits int64_t */
    QJ_UINT,   /* above INT64_MAX, fits uint64_t */
    QJ_DOUBLE, /* fraction, exponent, or an integer too large for 64 bits */
    QJ_STRING,
    QJ_ARRAY,
    QJ_OBJECT,
} QJType;

typedef struct QJ QJ;

typedef struct QJMember {
    char *key;
    QJ *value;
} QJMember;

struct QJ {
    QJType type;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        char *s;
        struct {
            QJ **items;
            size_t n, cap;
        } arr;
        struct {
            QJMember *m; /* in insertion order */
            size_t n, cap;
        } obj;
    };
};

/* Constructors. Strings are copied. */
QJ *qj_null(void);
QJ *qj_bool(bool b);
QJ *qj_int(int64_t i);
QJ *qj_uint(uint64_t u);
QJ *qj_double(double d);
QJ *qj_string(const char *s);
QJ *qj_string_take(char *s); /* takes ownership of a g_malloc'd string */
QJ *qj_array(void);
QJ *qj_object(void);

void qj_free(QJ *v);
QJ *qj_copy(const QJ *v);
bool qj_equal(const QJ *a, const QJ *b);

/* Append v (ownership passes) to an array. Returns the array. */
QJ *qj_append(QJ *arr, QJ *v);
/* Set key to v (ownership passes) in an object; an existing key is replaced in place. */
QJ *qj_set(QJ *obj, const char *key, QJ *v);
/* Shorthands for qj_set with a fresh value. */
QJ *qj_set_str(QJ *obj, const char *key, const char *s);
QJ *qj_set_int(QJ *obj, const char *key, int64_t i);
QJ *qj_set_bool(QJ *obj, const char *key, bool b);
/* Member lookup: NULL when absent or obj is not an object. */
QJ *qj_get(const QJ *obj, const char *key);
/* Remove a member, returning its value (caller frees), or NULL. */
QJ *qj_take(QJ *obj, const char *key);
const char *qj_get_str(const QJ *obj, const char *key); /* NULL unless a string */

/* Serializer flags */
#define QJ_PRETTY     1u /* newlines and 4-space indentation, as QEMU's pretty mode */
#define QJ_QEMU_ORDER 2u /* members in QEMU QDict iteration order instead of insertion order */
char *qj_to_json(const QJ *v, unsigned flags);
/*
 * qemu-img's human dump of an object or array (QEMU's dump_qobject): one "key: value" line per
 * member in QDict order, '-' in keys shown as ' ', nested values indented by 4 more spaces per
 * level starting at `indent` levels, array elements as "[i]:". Returns a g_malloc'd string.
 */
char *qj_to_human(const QJ *v, int indent);
/* The indexes of obj's members in QEMU QDict iteration order (g_free the array). */
size_t *qj_qemu_member_order(const QJ *obj);

/* Limits of one message, as QEMU's JSON streamer has them. */
#define QJ_MAX_TOKEN_SIZE  (64ULL << 20)
#define QJ_MAX_TOKEN_COUNT (2ULL << 20)
#define QJ_MAX_NESTING     1024

/*
 * Streaming parser. Feed bytes; for each complete top-level value emit(opaque, value, NULL)
 * is called (the callback owns value), for each error emit(opaque, NULL, message) (message
 * owned by the parser, valid during the call), e.g. "JSON parse error, expecting value".
 */
typedef void QJEmitFn(void *opaque, QJ *value, const char *error);
typedef struct QJStreamer QJStreamer;
QJStreamer *qj_streamer_new(QJEmitFn *emit, void *opaque);
void qj_streamer_feed(QJStreamer *s, const char *buf, size_t len);
/* Forget any partial message and lexer state (a client disconnected). */
void qj_streamer_reset(QJStreamer *s);
void qj_streamer_free(QJStreamer *s);

/*
 * Parse one complete value from a string (NUL-terminated). Returns NULL and sets *errp
 * (g_free it) on error or when the text holds no value or more than one.
 */
QJ *qj_parse(const char *text, char **errp);

#endif
