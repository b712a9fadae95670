/*
 * QOM-style introspection as QEMU 7.2 answers it (hw/core/qom.c): the QMP commands
 * qom-list-types, device-list-properties, qom-list, qom-get and qom-set read these.
 */
#ifndef VIREO_QOM_H
#define VIREO_QOM_H

#include <stdbool.h>
#include "vireo/qjson.h"

typedef struct QomError {
    bool not_found; /* QMP class DeviceNotFound (else GenericError) */
    char *msg;      /* g_malloc'd */
} QomError;

/* [ObjectTypeInfo]: types deriving from or implementing `implements` (NULL: all). */
QJ *qom_list_types(const char *implements, bool abstract);
/* [ObjectPropertyInfo] of a device type; NULL with *err. */
QJ *qom_device_list_properties(const char *typename, QomError *err);
/* [ObjectPropertyInfo] of the object at path; NULL with *err. */
QJ *qom_list(const char *path, QomError *err);
/* The property's value; NULL with *err. */
QJ *qom_get(const char *path, const char *prop, QomError *err);
/* Sets the property (only what a device lets change while it runs); false with *err. */
bool qom_set(const char *path, const char *prop, const QJ *value, QomError *err);

#endif
