/* JSON values, the streaming parser (QEMU's error texts and recovery) and the serializer. */
#include <glib.h>
#include <string.h>
#include "../lib/unit.h"
#include "vireo/qjson.h"

/* Collects what the streamer emits as one line per message: JSON or "ERR: text". */
typedef struct {
    GString *out;
} Sink;

static void sink_emit(void *opaque, QJ *v, const char *err)
{
    Sink *s = opaque;
    if (err) {
        g_string_append_printf(s->out, "ERR: %s\n", err);
        return;
    }
    char *j = qj_to_json(v, 0);
    g_string_append_printf(s->out, "%s\n", j);
    g_free(j);
    qj_free(v);
}

/* Feed text in chunks of `chunk` bytes (0: all at once); returns the emitted lines. */
static char *stream(const char *text, size_t len, size_t chunk)
{
    Sink s = {g_string_new(NULL)};
    QJStreamer *st = qj_streamer_new(sink_emit, &s);
    if (!chunk) {
        chunk = len ? len : 1;
    }
    for (size_t i = 0; i < len; i += chunk) {
        qj_streamer_feed(st, text + i, MIN(chunk, len - i));
    }
    qj_streamer_free(st);
    return g_string_free(s.out, FALSE);
}

static void check_stream(const char *name, const char *in, const char *want)
{
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        char *got = stream(in, strlen(in), chunk);
        bool ok = strcmp(got, want) == 0;
        if (!ok) {
            printf("# %s (chunk %zu): got [%s] want [%s]\n", name, chunk, got, want);
        }
        char *n = g_strdup_printf("%s/chunk%zu", name, chunk);
        CHECK(n, ok);
        g_free(n);
        g_free(got);
    }
}

static void check_roundtrip(const char *name, const char *in, const char *want, unsigned flags)
{
    char *err = NULL;
    QJ *v = qj_parse(in, &err);
    char *got = v ? qj_to_json(v, flags) : g_strdup(err);
    bool ok = strcmp(got, want) == 0;
    if (!ok) {
        printf("# %s: got [%s] want [%s]\n", name, got, want);
    }
    CHECK(name, ok);
    g_free(got);
    g_free(err);
    qj_free(v);
}

int main(void)
{
    /* serializer: QEMU's compact form, escapes, numbers */
    check_roundtrip("json/scalars", "[null, true, false, 0, -0, 1.5, 1e3, 0.1]",
                    "[null, true, false, 0, 0, 1.5, 1000, 0.10000000000000001]", 0);
    check_roundtrip("json/big-numbers",
                    "[9223372036854775807, 9223372036854775808, 18446744073709551615, "
                    "18446744073709551616, -9223372036854775809]",
                    "[9223372036854775807, 9223372036854775808, 18446744073709551615, "
                    "1.8446744073709552e+19, -9.2233720368547758e+18]",
                    0);
    check_roundtrip("json/escapes", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0001\\u007f\"",
                    "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u007F\"", 0);
    check_roundtrip("json/unicode", "\"\\u00e9\xc3\xa9\\ud83d\\ude00\"",
                    "\"\\u00E9\\u00E9\\uD83D\\uDE00\"", 0);
    check_roundtrip("json/nul", "\"a\\u0000b\"", "\"a\\u0000b\"", 0);
    check_roundtrip("json/single-quotes", "{'a': 'it\\'s \"x\"'}", "{\"a\": \"it's \\\"x\\\"\"}",
                    0);
    check_roundtrip("json/nested", "{\"a\":[1,{\"b\":{}},[]]}", "{\"a\": [1, {\"b\": {}}, []]}", 0);
    check_roundtrip(
        "json/qemu-order", "{\"running\":true,\"singlestep\":false,\"status\":\"running\"}",
        "{\"status\": \"running\", \"singlestep\": false, \"running\": true}", QJ_QEMU_ORDER);
    check_roundtrip("json/qemu-order-2", "{\"major\":7,\"minor\":2,\"micro\":0}",
                    "{\"micro\": 0, \"minor\": 2, \"major\": 7}", QJ_QEMU_ORDER);
    check_roundtrip("json/pretty", "{\"a\":[1,2],\"b\":{}}",
                    "{\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": {\n    }\n}",
                    QJ_PRETTY);
    check_roundtrip("json/trailing", "{} {}", "JSON parse error, trailing data", 0);

    /* qemu-img's human dump: QDict order, '-' as ' ', strings bare, lists as [i] */
    {
        QJ *v = qj_parse("{\"compat\":\"1.1\",\"lazy-refcounts\":false,\"refcount-bits\":16,"
                         "\"bitmaps\":[{\"flags\":[\"auto\"],\"name\":\"b 1\",\"granularity\":"
                         "65536}],\"corrupt\":false}",
                         NULL);
        char *h = qj_to_human(v, 1);
        const char *want = "    compat: 1.1\n"
                           "    lazy refcounts: false\n"
                           "    bitmaps:\n"
                           "        [0]:\n"
                           "            flags:\n"
                           "                [0]: auto\n"
                           "            name: b 1\n"
                           "            granularity: 65536\n"
                           "    refcount bits: 16\n"
                           "    corrupt: false\n";
        if (strcmp(h, want)) {
            printf("# got [%s]\n", h);
        }
        CHECK("json/human-dump", !strcmp(h, want));
        g_free(h);
        qj_free(v);
    }
    check_roundtrip("json/empty", "  ", "JSON parse error, expecting value", 0);

    /* streaming: split anywhere, several per chunk */
    check_stream("stream/split", "{\"execute\": \"query-status\", \"id\": [1, 2.5]}",
                 "{\"execute\": \"query-status\", \"id\": [1, 2.5]}\n");
    check_stream("stream/concat", "{\"a\":1}{\"b\":2}[3] ", "{\"a\": 1}\n{\"b\": 2}\n[3]\n");
    check_stream("stream/scalar-waits", "1", "");
    check_stream("stream/scalar", "1 \"x\" ", "1\n\"x\"\n");

    /* QEMU 7.2's error texts */
    check_stream("err/expecting", "{\"execute\": }", "ERR: JSON parse error, expecting value\n");
    check_stream("err/colon", "{\"execute\" \"x\"}",
                 "ERR: JSON parse error, missing : in object pair\n");
    check_stream("err/key", "{1:2}", "ERR: JSON parse error, key is not a string in object\n");
    check_stream("err/dict-sep", "{\"a\":1 \"b\":2}",
                 "ERR: JSON parse error, expected separator in dict\n");
    check_stream("err/list-sep", "[1 2]", "ERR: JSON parse error, expected separator in list\n");
    check_stream("err/close", "}]",
                 "ERR: JSON parse error, expecting value\nERR: JSON parse error, expecting "
                 "value\n");
    check_stream("err/keyword", "xyz {}", "ERR: JSON parse error, invalid keyword 'xyz'\n{}\n");
    check_stream("err/stray", "{\"a\":@}",
                 "ERR: JSON parse error, stray '@'\nERR: JSON parse error, expecting value\n");
    check_stream("err/zero", "{\"a\" : 01}",
                 "ERR: JSON parse error, stray '01'\nERR: JSON parse error, expecting value\n");
    check_stream("err/minus", "{\"a\": -}", "ERR: JSON parse error, stray '-}'\n");
    check_stream("err/escape", "{\"a\":\"\\x\"}",
                 "ERR: JSON parse error, invalid escape sequence in string\n");
    check_stream("err/uescape", "{\"a\":\"\\u12\"}",
                 "ERR: JSON parse error, \\u12\" is not a valid Unicode character\n");
    check_stream("err/surrogate", "{\"a\":\"\\ud800\"}",
                 "ERR: JSON parse error, \\ud800 is not a valid Unicode character\n");
    check_stream("err/noncharacter", "{\"a\":\"\\uffff\"}",
                 "ERR: JSON parse error, \\uffff is not a valid Unicode character\n");
    check_stream("err/utf8", "{\"a\":\"\xc3(\"}",
                 "ERR: JSON parse error, invalid UTF-8 sequence in string\n");
    check_stream("err/duplicate", "{\"a\":1,\"a\":2}", "ERR: JSON parse error, duplicate key\n");
    /* after a lexical error the lexer skips to a structural or control character */
    check_stream("recover/control", "{\"a\":\"x\x01y\"}",
                 "ERR: JSON parse error, stray '\"x\x01'\nERR: JSON parse error, expecting "
                 "value\n");
    check_stream("recover/ff", "\xff{\"a\":1}",
                 "ERR: JSON parse error, stray '\xff'\n{\"a\": 1}\n");

    /* limits */
    GString *deep = g_string_new(NULL);
    for (int i = 0; i < 1024; i++) {
        g_string_append_c(deep, '[');
    }
    for (int i = 0; i < 1024; i++) {
        g_string_append_c(deep, ']');
    }
    char *got = stream(deep->str, deep->len, 0);
    CHECK("limit/nesting-1024", g_str_has_prefix(got, "[[[[") && !strstr(got, "ERR"));
    g_free(got);
    g_string_prepend_c(deep, '[');
    got = stream(deep->str, deep->len, 0);
    CHECK("limit/nesting-1025",
          g_str_has_prefix(got, "ERR: JSON nesting depth limit exceeded\nERR: JSON parse "
                                "error, expecting value\n"));
    g_free(got);
    g_string_free(deep, TRUE);

    GString *many = g_string_new("[");
    for (int i = 0; i < (1 << 20) + 10; i++) {
        g_string_append(many, "1,");
    }
    g_string_append(many, "1] {}");
    got = stream(many->str, many->len, 0);
    CHECK("limit/token-count", g_str_has_prefix(got, "ERR: JSON token count limit exceeded\n") &&
                                   g_str_has_suffix(got, "{}\n"));
    g_free(got);
    g_string_free(many, TRUE);

    size_t big = (64u << 20) + 16;
    char *huge = g_malloc(big + 32);
    strcpy(huge, "[\"");
    memset(huge + 2, 'a', big);
    strcpy(huge + 2 + big, "\"] {\"b\":1}");
    got = stream(huge, strlen(huge), 1 << 16);
    CHECK("limit/token-size", g_str_has_prefix(got, "ERR: JSON token size limit exceeded\n"));
    g_free(got);
    g_free(huge);

    /* values API */
    QJ *o = qj_object();
    qj_set_int(o, "a", 1);
    qj_set_str(o, "b", "x");
    qj_set_int(o, "a", 2);
    QJ *c = qj_copy(o);
    CHECK("value/replace", o->obj.n == 2 && qj_get(o, "a")->i == 2);
    CHECK("value/equal", qj_equal(o, c));
    QJ *t = qj_take(c, "b");
    CHECK("value/take", t && !strcmp(t->s, "x") && c->obj.n == 1 && !qj_equal(o, c));
    qj_free(t);
    qj_free(c);
    qj_free(o);
    UNIT_EXIT();
}
