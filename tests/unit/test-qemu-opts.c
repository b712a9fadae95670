/* Unit tests for util/qemu-opts.c: QEMU's option grammar and size syntax. */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "vireo/qemu-opts.h"
#include "../lib/unit.h"

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Parse and return the opts, or NULL with the error in *err (caller frees). */
static QOpts *parse(const char *arg, const char *implied, QOptsSyntax syn, char **err)
{
    *err = NULL;
    return qopts_parse("t", arg, "-t x", implied, syn, err);
}

static void test_legacy(void)
{
    char *err;
    QOpts *o;

    o = parse("q35,accel=kvm", "type", QOPTS_LEGACY, &err);
    CHECK("legacy/implied", o && o->n_pairs == 2 && streq(qopts_get(o, "type"), "q35") &&
                                streq(qopts_get(o, "accel"), "kvm"));
    CHECK("legacy/order", o && streq(o->pairs[0].key, "type") && streq(o->pairs[1].key, "accel"));
    CHECK("legacy/loc", o && streq(o->loc, "-t x"));
    qopts_free(o);

    o = parse("foo,,bar", "guest", QOPTS_LEGACY, &err);
    CHECK("legacy/escaped-implied", o && streq(qopts_get(o, "guest"), "foo,bar"));
    qopts_free(o);

    o = parse("guest=a,,b,,,,c,x=1", NULL, QOPTS_LEGACY, &err);
    CHECK("legacy/escaped-value",
          o && streq(qopts_get(o, "guest"), "a,b,,c") && streq(qopts_get(o, "x"), "1"));
    qopts_free(o);

    o = parse("size=1G,size=2G", "size", QOPTS_LEGACY, &err);
    CHECK("legacy/dup-last-wins", o && o->n_pairs == 2 && streq(qopts_get(o, "size"), "2G"));
    qopts_free(o);

    o = parse("a=1,flag,noother", "x", QOPTS_LEGACY, &err);
    CHECK("legacy/short-bool",
          o && streq(qopts_get(o, "flag"), "on") && streq(qopts_get(o, "other"), "off"));
    qopts_free(o);

    o = parse("kvm,help", "accel", QOPTS_LEGACY, &err);
    CHECK("legacy/help", o && o->help && o->n_pairs == 1);
    qopts_free(o);

    o = parse("", "size", QOPTS_LEGACY, &err);
    CHECK("legacy/empty", o && o->n_pairs == 0);
    qopts_free(o);

    o = parse(",foo=1", "guest", QOPTS_LEGACY, &err);
    CHECK("legacy/empty-implied",
          o && streq(qopts_get(o, "guest"), "") && streq(qopts_get(o, "foo"), "1"));
    qopts_free(o);

    o = parse("foo,", "guest", QOPTS_LEGACY, &err);
    CHECK("legacy/trailing-comma", o && o->n_pairs == 1 && streq(qopts_get(o, "guest"), "foo"));
    qopts_free(o);

    o = parse("=x", "guest", QOPTS_LEGACY, &err);
    CHECK("legacy/empty-key", o && streq(qopts_get(o, ""), "x"));
    qopts_free(o);

    o = parse("x", NULL, QOPTS_LEGACY, &err);
    CHECK("legacy/no-implied-flag", o && streq(qopts_get(o, "x"), "on"));
    qopts_free(o);
}

static void test_keyval(void)
{
    char *err;
    QOpts *o;

    o = parse("pc,accel=kvm:tcg,usb=off", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/implied", o && streq(qopts_get(o, "type"), "pc") &&
                                streq(qopts_get(o, "accel"), "kvm:tcg") &&
                                streq(qopts_get(o, "usb"), "off"));
    qopts_free(o);

    o = parse("pc,,foo", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/implied-no-escape", !o && streq(err, "Invalid parameter ''"));
    g_free(err);

    o = parse("pc,x=a,,b", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/escaped-value", o && streq(qopts_get(o, "x"), "a,b"));
    qopts_free(o);

    o = parse("pc,usb", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/needs-equals", !o && streq(err, "Expected '=' after parameter 'usb'"));
    g_free(err);

    o = parse("pc,1a=b", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/bad-key", !o && streq(err, "Invalid parameter '1a'"));
    g_free(err);

    o = parse("pc,a..b=1", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/bad-dotted", !o && streq(err, "Invalid parameter 'a..b'"));
    g_free(err);

    o = parse("a.b=1,a.0=2,c-d_e=3", NULL, QOPTS_KEYVAL, &err);
    CHECK("keyval/dotted", o && streq(qopts_get(o, "a.b"), "1") &&
                               streq(qopts_get(o, "a.0"), "2") &&
                               streq(qopts_get(o, "c-d_e"), "3"));
    qopts_free(o);

    o = parse("pc,a=1,a.b=2", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/inconsistent", !o && streq(err, "Parameters 'a.*' used inconsistently"));
    g_free(err);

    o = parse(",accel=kvm", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/empty-first", !o && streq(err, "Invalid parameter ''"));
    g_free(err);

    o = parse("pc,", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/trailing-comma", o && o->n_pairs == 1);
    qopts_free(o);

    o = parse("help", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/help", o && o->help && o->n_pairs == 0);
    qopts_free(o);

    o = parse("pc,?", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/help-q", o && o->help && o->n_pairs == 1);
    qopts_free(o);

    o = parse("usb=on,usb=off", "type", QOPTS_KEYVAL, &err);
    CHECK("keyval/dup-last-wins", o && streq(qopts_get(o, "usb"), "off"));
    qopts_free(o);

    char *longkey = g_strnfill(128, 'a');
    char *arg = g_strdup_printf("%s=1", longkey);
    o = parse(arg, NULL, QOPTS_KEYVAL, &err);
    char *want = g_strdup_printf("Parameter '%s' is too long", longkey);
    CHECK("keyval/too-long", !o && streq(err, want));
    g_free(err);
    g_free(want);
    g_free(arg);
    g_free(longkey);

    /* Merging a second argument into the same group. */
    o = parse("4", "cpus", QOPTS_KEYVAL, &err);
    bool ok = o && qopts_parse_into(o, "sockets=2", "-smp sockets=2", "cpus", QOPTS_KEYVAL, &err);
    CHECK("keyval/merge", ok && streq(qopts_get(o, "cpus"), "4") &&
                              streq(qopts_get(o, "sockets"), "2") &&
                              streq(o->loc, "-smp sockets=2"));
    ok = o && !qopts_parse_into(o, "cpus.x=1", "-smp cpus.x=1", "cpus", QOPTS_KEYVAL, &err);
    CHECK("keyval/merge-inconsistent",
          ok && streq(err, "Parameters 'cpus.*' used inconsistently") && o->n_pairs == 2);
    g_free(err);
    qopts_free(o);
}

static void test_lookups(void)
{
    char *err = NULL;
    QOpts *o = parse("b1=on,b2=yes,b3=true,b4=off,b5=no,b6=false,b7=ON,n=0x10,s=1.5k,bad=x", NULL,
                     QOPTS_LEGACY, &err);
    bool b = false, all = true;
    uint64_t v = 0;

    for (int i = 1; i <= 6; i++) {
        char key[4];
        snprintf(key, sizeof(key), "b%d", i);
        all &= qopts_get_bool(o, key, false, &b, &err) && b == (i <= 3);
    }
    CHECK("bool/values", all);
    CHECK("bool/default", qopts_get_bool(o, "none", true, &b, &err) && b);
    CHECK("bool/bad", !qopts_get_bool(o, "b7", false, &b, &err) &&
                          streq(err, "Parameter 'b7' expects 'on' or 'off'"));
    g_free(err);
    CHECK("number/hex", qopts_get_number(o, "n", 0, &v, &err) && v == 16);
    CHECK("number/default", qopts_get_number(o, "none", 7, &v, &err) && v == 7);
    CHECK("number/bad", !qopts_get_number(o, "bad", 0, &v, &err) &&
                            streq(err, "Parameter 'bad' expects a number"));
    g_free(err);
    CHECK("size/fraction", qopts_get_size(o, "s", 0, &v, &err) && v == 1536);
    CHECK("size/bad", !qopts_get_size(o, "bad", 0, &v, &err) &&
                          g_str_has_prefix(err, "Parameter 'bad' expects a non-negative number "
                                                "below 2^64\nOptional suffix k, M, G, T, P or E"));
    g_free(err);

    static const char *const known[] = {"b1", "b2", "b3", "b4", "b5", "b6", "b7", "n", "s", NULL};
    CHECK("unknown-key", streq(qopts_unknown_key(o, known), "bad"));
    qopts_del(o, "bad");
    CHECK("del", !qopts_has(o, "bad") && qopts_unknown_key(o, known) == NULL);
    qopts_set(o, "n", "5");
    CHECK("set", qopts_get_number(o, "n", 0, &v, &err) && v == 5);
    qopts_free(o);

    QOptsList list = {0};
    qopts_list_append(&list, qopts_new("accel"));
    qopts_list_append(&list, qopts_new("m"));
    qopts_list_append(&list, qopts_new("accel"));
    CHECK("list/find",
          qopts_list_find(&list, "accel") == list.groups[2] && qopts_list_find(&list, "x") == NULL);
    qopts_list_clear(&list);
    CHECK("list/clear", list.n_groups == 0 && list.groups == NULL);
}

static void size_case(const char *name, const char *str, char def, int want_rc, uint64_t want)
{
    uint64_t v = 0;
    int rc = qopts_strtosz(str, def, &v);
    CHECK(name, rc == want_rc && (rc != 0 || v == want));
}

static void test_sizes(void)
{
    size_case("size/plain-bytes", "4096", 'B', 0, 4096);
    size_case("size/plain-mib", "4096", 'M', 0, 4096ULL << 20);
    size_case("size/G", "4G", 'B', 0, 4ULL << 30);
    size_case("size/g", "4g", 'B', 0, 4ULL << 30);
    size_case("size/k", "100k", 'B', 0, 102400);
    size_case("size/K", "1K", 'B', 0, 1024);
    size_case("size/T", "2T", 'B', 0, 2ULL << 40);
    size_case("size/P", "1P", 'B', 0, 1ULL << 50);
    size_case("size/E", "15E", 'B', 0, 15ULL << 60);
    size_case("size/b", "1b", 'M', 0, 1);
    size_case("size/B", "512B", 'M', 0, 512);
    size_case("size/1.5G", "1.5G", 'B', 0, 3ULL << 29);
    size_case("size/1.0", "1.0", 'B', 0, 1);
    size_case("size/1.k", "1.k", 'B', 0, 1024);
    size_case("size/round", "0.5k", 'B', 0, 512);
    size_case("size/round-half-up", "1.0005k", 'B', 0, 1025);
    size_case("size/leading-space", " 4G", 'B', 0, 4ULL << 30);
    size_case("size/plus", "+4G", 'B', 0, 4ULL << 30);
    size_case("size/hex", "0x100", 'B', 0, 256);
    size_case("size/hex-suffix", "0x1k", 'B', 0, 1024);
    size_case("size/max", "18446744073709551615", 'B', 0, UINT64_MAX);
    size_case("size/1.5-bytes", "1.5", 'B', -EINVAL, 0);
    size_case("size/1.5b", "1.5b", 'M', -EINVAL, 0);
    size_case("size/MB", "512MB", 'B', -EINVAL, 0);
    size_case("size/GiB", "4GiB", 'B', -EINVAL, 0);
    size_case("size/negative", "-1", 'B', -EINVAL, 0);
    size_case("size/empty", "", 'B', -EINVAL, 0);
    size_case("size/trailing-space", "4G ", 'B', -EINVAL, 0);
    size_case("size/dot-first", ".5G", 'B', -EINVAL, 0);
    size_case("size/exponent", "1e3", 'B', -EINVAL, 0);
    size_case("size/frac-exponent", "1.5e3", 'B', -EINVAL, 0);
    size_case("size/hex-fraction", "0x1.8G", 'B', -EINVAL, 0);
    size_case("size/hex-empty", "0x", 'B', -EINVAL, 0);
    size_case("size/letters", "X", 'B', -EINVAL, 0);
    size_case("size/16E", "16E", 'B', -ERANGE, 0);
    size_case("size/overflow", "18446744073709551616", 'B', -ERANGE, 0);
    size_case("size/overflow-mib", "17592186044416", 'M', -ERANGE, 0);

    char *e = qopts_size_error("size", "16E", -ERANGE);
    CHECK("size/range-msg", streq(e, "Value '16E' is out of range for parameter 'size'"));
    g_free(e);
    e = qopts_size_error("size", "5X", -EINVAL);
    CHECK("size/invalid-msg",
          streq(e, "Parameter 'size' expects a non-negative number below 2^64\n"
                   "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                   "and exabytes, respectively."));
    g_free(e);
}

static void test_numbers(void)
{
    uint64_t v = 0;
    CHECK("u64/dec", qopts_strtou64("42", 0, &v) == 0 && v == 42);
    CHECK("u64/hex", qopts_strtou64("0x10", 0, &v) == 0 && v == 16);
    CHECK("u64/octal", qopts_strtou64("010", 0, &v) == 0 && v == 8);
    CHECK("u64/space", qopts_strtou64(" 4", 0, &v) == 0 && v == 4);
    CHECK("u64/minus-wraps", qopts_strtou64("-1", 0, &v) == 0 && v == UINT64_MAX);
    CHECK("u64/trailing", qopts_strtou64("4x", 0, &v) == -EINVAL);
    CHECK("u64/empty", qopts_strtou64("", 0, &v) == -EINVAL);
    CHECK("u64/fraction", qopts_strtou64("1.5", 0, &v) == -EINVAL);
    CHECK("u64/range", qopts_strtou64("99999999999999999999", 0, &v) == -ERANGE);

    bool b;
    CHECK("parse-bool", qopts_parse_bool("yes", &b) && b && qopts_parse_bool("false", &b) && !b &&
                            !qopts_parse_bool("", &b) && !qopts_parse_bool("1", &b));
    CHECK("is-help", qopts_is_help("help") && qopts_is_help("?") && !qopts_is_help("Help") &&
                         !qopts_is_help(NULL));
}

int main(void)
{
    test_legacy();
    test_keyval();
    test_lookups();
    test_sizes();
    test_numbers();
    UNIT_EXIT();
}
