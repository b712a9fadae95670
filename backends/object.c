/*
 * -object (include/vireo/rng.h): QEMU 7.2's user-creatable objects, for the types Vireo has.
 * Parse time checks the type, the id (present, an identifier, not a duplicate) and the
 * properties, with QEMU's messages; objects_create_all() makes them before the devices.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/error.h"
#include "vireo/qemu-opts.h"
#include "vireo/qjson.h"
#include "vireo/rng.h"

typedef struct ObjectType {
    const char *name;
    const char *const *props; /* NULL-terminated: the settable properties (all strings) */
    const char *const *help;  /* "-object TYPE,help" lines */
} ObjectType;

static const char *const rng_random_props[] = {"filename", NULL};
static const char *const rng_random_help[] = {"  filename=<string>", NULL};
static const char *const no_props[] = {NULL};

static const ObjectType object_types[] = {
    {"rng-builtin", no_props, NULL},
    {"rng-random", rng_random_props, rng_random_help},
};

typedef struct ObjectConf {
    const ObjectType *type;
    char *id;
    char *filename;
} ObjectConf;

static GPtrArray *objects; /* ObjectConf, in command-line order */

/* created backends (rng.c) */
bool rng_backend_create(const char *type, const char *id, const char *filename, char **errp);
void rng_backends_destroy(void);

static const ObjectType *find_type(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(object_types); i++) {
        if (!strcmp(object_types[i].name, name)) {
            return &object_types[i];
        }
    }
    return NULL;
}

static bool has_prop(const ObjectType *t, const char *k)
{
    for (size_t i = 0; t->props[i]; i++) {
        if (!strcmp(t->props[i], k)) {
            return true;
        }
    }
    return false;
}

static int print_help(const char *type)
{
    if (qopts_is_help(type)) {
        printf("List of user creatable objects:\n");
        for (size_t i = 0; i < G_N_ELEMENTS(object_types); i++) {
            printf("  %s\n", object_types[i].name);
        }
        return 1;
    }
    const ObjectType *t = find_type(type);
    if (t && t->help) {
        printf("%s options:\n", t->name);
        for (size_t i = 0; t->help[i]; i++) {
            printf("%s\n", t->help[i]);
        }
    } else if (t) {
        printf("There are no options for %s.\n", t->name);
    }
    return t ? 1 : 0;
}

/* One object from its (key, string value) pairs. */
static int add_object(const char *loc, const char *type, const char *id, char **keys, char **values,
                      size_t n)
{
    const ObjectType *t = find_type(type);
    if (!t) {
        char *m = g_strdup_printf("Parameter 'qom-type' does not accept value '%s'", type);
        error_report_at(loc, m);
        g_free(m);
        return -1;
    }
    if (!id) {
        error_report_at(loc, "Parameter 'id' is missing");
        return -1;
    }
    if (!qopts_is_identifier(id)) {
        error_report_at(loc, "Parameter 'id' expects an identifier\nIdentifiers consist of "
                             "letters, digits, '-', '.', '_', starting with a letter.");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!has_prop(t, keys[i])) {
            char *m = g_strdup_printf("Invalid parameter '%s'", keys[i]);
            error_report_at(loc, m);
            g_free(m);
            return -1;
        }
    }
    for (guint i = 0; objects && i < objects->len; i++) {
        ObjectConf *o = g_ptr_array_index(objects, i);
        if (!strcmp(o->id, id)) {
            char *m = g_strdup_printf("Duplicate ID '%s' for object", id);
            error_report_at(loc, m);
            g_free(m);
            return -1;
        }
    }
    ObjectConf *o = g_new0(ObjectConf, 1);
    o->type = t;
    o->id = g_strdup(id);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(keys[i], "filename")) {
            g_free(o->filename);
            o->filename = g_strdup(values[i]);
        }
    }
    if (!objects) {
        objects = g_ptr_array_new();
    }
    g_ptr_array_add(objects, o);
    return 0;
}

int object_parse(const char *arg, const char *loc)
{
    char *err = NULL;
    int r;
    if (arg[0] == '{') {
        QJ *j = qj_parse(arg, &err);
        if (!j || j->type != QJ_OBJECT) {
            error_report_at(loc, err ? err : "JSON object expected");
            g_free(err);
            qj_free(j);
            return -1;
        }
        const char *type = NULL, *id = NULL;
        char **keys = g_new0(char *, j->obj.n + 1), **values = g_new0(char *, j->obj.n + 1);
        size_t n = 0;
        r = 0;
        for (size_t i = 0; i < j->obj.n && r == 0; i++) {
            const char *k = j->obj.m[i].key;
            QJ *v = j->obj.m[i].value;
            if (v->type != QJ_STRING) {
                char *m = g_strdup_printf("Parameter '%s' expects string", k);
                error_report_at(loc, m);
                g_free(m);
                r = -1;
            } else if (!strcmp(k, "qom-type")) {
                type = v->s;
            } else if (!strcmp(k, "id")) {
                id = v->s;
            } else {
                keys[n] = g_strdup(k);
                values[n++] = g_strdup(v->s);
            }
        }
        if (r == 0 && !type) {
            error_report_at(loc, "Parameter 'qom-type' is missing");
            r = -1;
        }
        if (r == 0) {
            r = add_object(loc, type, id, keys, values, n);
        }
        g_strfreev(keys);
        g_strfreev(values);
        qj_free(j);
        return r;
    }
    QOpts *o = qopts_parse("object", arg, loc, "qom-type", QOPTS_KEYVAL, &err);
    if (!o) {
        error_report_at(loc, err);
        g_free(err);
        return -1;
    }
    const char *type = qopts_get(o, "qom-type");
    if (type && (o->help || qopts_is_help(type))) {
        r = print_help(type);
        if (r) {
            qopts_free(o);
            return 1;
        }
    }
    if (!type) {
        error_report_at(loc, "Parameter 'qom-type' is missing");
        qopts_free(o);
        return -1;
    }
    char **keys = g_new0(char *, o->n_pairs + 1), **values = g_new0(char *, o->n_pairs + 1);
    size_t n = 0;
    for (size_t i = 0; i < o->n_pairs; i++) {
        const char *k = o->pairs[i].key;
        if (strcmp(k, "qom-type") && strcmp(k, "id")) {
            keys[n] = g_strdup(k);
            values[n++] = g_strdup(o->pairs[i].value);
        }
    }
    r = add_object(loc, type, qopts_get(o, "id"), keys, values, n);
    g_strfreev(keys);
    g_strfreev(values);
    qopts_free(o);
    return r;
}

int objects_create_all(void)
{
    for (guint i = 0; objects && i < objects->len; i++) {
        ObjectConf *o = g_ptr_array_index(objects, i);
        char *err = NULL;
        if (!rng_backend_create(o->type->name, o->id, o->filename, &err)) {
            error_report("%s", err);
            g_free(err);
            return -1;
        }
    }
    return 0;
}

void objects_destroy_all(void)
{
    rng_backends_destroy();
    for (guint i = 0; objects && i < objects->len; i++) {
        ObjectConf *o = g_ptr_array_index(objects, i);
        g_free(o->id);
        g_free(o->filename);
        g_free(o);
    }
    if (objects) {
        g_ptr_array_free(objects, TRUE);
        objects = NULL;
    }
}
