/*
 * Monitors: QMP (JSON, "control" mode) and HMP (the human monitor, "readline" mode), each on
 * a chardev. All monitor code runs on the main thread without the big lock.
 *
 * QMP follows QEMU's qmp-spec: greeting, qmp_capabilities negotiation, commands with
 * arguments and id, error classes and texts as QEMU 7.2, events with timestamps to every
 * negotiated client. Commands are listed with a small argument schema in monitor/qmp-cmds.c;
 * arguments are type-checked against it before the handler runs.
 */
#ifndef VIREO_MONITOR_H
#define VIREO_MONITOR_H

#include <stdbool.h>
#include "vireo/chardev.h"
#include "vireo/qjson.h"

typedef struct Monitor Monitor;

/* Version reported by query-version, the greeting and "info version". */
#define VIREO_QEMU_MAJOR   7
#define VIREO_QEMU_MINOR   2
#define VIREO_QEMU_MICRO   0
#define VIREO_QEMU_PACKAGE " (Vireo)"

/* Create a monitor on chr. Returns NULL with *errp set ("Device 'X' is in use"). */
Monitor *monitor_new(Chardev *chr, bool qmp, bool pretty, char **errp);
void monitor_free_all(void);

/* Bytes for a monitor as if its chardev had received them (tests, fuzzing). */
void monitor_qmp_input(Monitor *mon, const uint8_t *buf, size_t len);

/* quit: SHUTDOWN {guest: false, reason: host-qmp-quit}, then the process exits. */
void monitor_quit(void);

/* Emit an event (data may be NULL; ownership passes) to every negotiated QMP client. */
void monitor_event(const char *name, QJ *data);

/*
 * Run one HMP command line and return its output (g_free it), as human-monitor-command does.
 */
char *hmp_run_capture(const char *cmdline);

/* ---- the command table (monitor/qmp-cmds.c) ---- */

typedef struct QmpError {
    const char *cls; /* "GenericError", "CommandNotFound", ... ; NULL: no error */
    char *desc;
} QmpError;

void qmp_error(QmpError *err, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef enum {
    QARG_STR,
    QARG_INT,
    QARG_BOOL,
    QARG_ENUM,
    QARG_ENUM_LIST,
    QARG_ANY,
} QmpArgType;

typedef struct QmpArg {
    const char *name;
    QmpArgType type;
    bool optional;
    const char *const *values; /* QARG_ENUM, QARG_ENUM_LIST */
} QmpArg;

/* A handler gets type-checked arguments (an object, possibly empty) and returns the result
 * (NULL means {}), or sets *err. */
typedef QJ *QmpHandler(Monitor *mon, const QJ *args, QmpError *err);

typedef struct QmpCommand {
    const char *name;
    QmpHandler *fn;
    const QmpArg *args;  /* terminated by {NULL} */
    const char *returns; /* for query-qmp-schema: the return type's name (informative) */
} QmpCommand;

const QmpCommand *qmp_find_command(const char *name);
/* Every command, NULL-terminated. */
const QmpCommand *qmp_command_list(void);
/* Check args against the schema; sets *err with QEMU's text on mismatch. */
bool qmp_check_args(const QmpCommand *cmd, const QJ *args, QmpError *err);

/* Set by qmp_capabilities on the calling monitor. */
bool monitor_qmp_negotiated(const Monitor *mon);
void monitor_qmp_set_negotiated(Monitor *mon, bool oob);

#endif
