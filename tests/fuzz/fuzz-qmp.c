/*
 * libFuzzer target: bytes into a negotiated QMP monitor (JSON streamer, request checks,
 * argument checking against the schema, command handlers, HMP via human-monitor-command),
 * then the same bytes through qj_parse() and a serialize/re-parse round trip.
 * Built and run by tests/qmp/fuzz.sh with clang -fsanitize=fuzzer,address,undefined; the VM
 * side is stubbed (tests/fuzz/fuzz-stubs.c).
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/chardev.h"
#include "vireo/monitor.h"
#include "vireo/qjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Monitor *mon;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mon) {
        char *err = NULL;
        Chardev *chr = chardev_new_legacy("fuzz", "null", false, &err);
        mon = monitor_new(chr, true, false, &err);
        if (!mon || !chardev_new_from_opts("ringbuf,id=rb,size=64", &err)) {
            abort();
        }
    }
    static const char neg[] = "\x01{\"execute\":\"qmp_capabilities\"}";
    monitor_qmp_input(mon, (const uint8_t *)neg, sizeof(neg) - 1);
    monitor_qmp_input(mon, data, size);

    char *text = g_strndup((const char *)data, size);
    char *err = NULL;
    QJ *v = qj_parse(text, &err);
    if (v) {
        char *j = qj_to_json(v, QJ_QEMU_ORDER);
        QJ *w = qj_parse(j, NULL);
        if (!w || !qj_equal(v, w)) {
            /*
             * Doubles may print differently, and an out-of-range number parses to an infinity
             * that prints as "inf" (as QEMU's does), which is no JSON; everything else must
             * survive the round trip.
             */
            if (!strstr(j, ".") && !strstr(j, "e") && !strstr(j, "inf") && !strstr(j, "nan")) {
                abort();
            }
        }
        qj_free(w);
        g_free(j);
        char *p = qj_to_json(v, QJ_PRETTY);
        g_free(p);
        qj_free(v);
    }
    g_free(err);
    g_free(text);
    return 0;
}
