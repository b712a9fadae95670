/*
 * A tiny JSON value model for qemu-img output. Dictionaries iterate in QEMU's QDict order
 * (tdb_hash(key) % 512 ascending, newest first within a bucket), so printed JSON and the
 * human "Format specific information" block come out in the same order as QEMU's.
 */
#ifndef VIREO_BLOCK_QOBJECT_H
#define VIREO_BLOCK_QOBJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef enum { QOBJ_INT, QOBJ_STR, QOBJ_BOOL, QOBJ_DICT, QOBJ_LIST } QObjType;

typedef struct QObj QObj;

QObj *qobj_int(int64_t v);
QObj *qobj_str(const char *s);
QObj *qobj_bool(bool b);
QObj *qobj_dict(void);
QObj *qobj_list(void);
void qobj_free(QObj *o);

/* Takes ownership of v. */
void qobj_put(QObj *dict, const char *key, QObj *v);
void qobj_append(QObj *list, QObj *v);
QObj *qobj_list_get(const QObj *list, unsigned i);

/* QEMU's pretty JSON (4-space indent), no trailing newline. */
void qobj_to_json(const QObj *o, GString *out);
/* qemu-img's human dump of a dict (keys with '-' shown as ' '), starting at `indent` levels. */
void qobj_dump_human(const QObj *o, int indent, GString *out);

#endif
