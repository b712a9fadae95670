/*
 * Saved device state (hw/core/vmstate.c): a declarative field table per device type with a
 * version, as QEMU's VMStateDescription. savevm/migration write each device's section with
 * vmstate_save() and read it back into a freshly realized device with vmstate_load(); a field
 * added in version N carries .version = N and is skipped when loading an older stream.
 *
 * Stream of one section: u32 version, then each field in table order, integers big endian,
 * buffers raw, nested structs recursively. Timers save their expiry (or -1 when idle) and are
 * re-armed by load.
 */
#ifndef VIREO_VMSTATE_H
#define VIREO_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct VMStateDescription VMStateDescription;

typedef enum {
    VMS_BOOL,
    VMS_UINT8,
    VMS_UINT16,
    VMS_UINT32,
    VMS_UINT64,
    VMS_INT32,
    VMS_INT64,
    VMS_BUFFER, /* size bytes */
    VMS_TIMER,  /* a VTimer (timer.h) */
    VMS_STRUCT, /* a nested struct described by .vmsd */
    /*
     * A pointer to an array of .vmsd structs of .size bytes each, as many as the unsigned at
     * .count_offset says (virtio's queues). The stream carries the count; loading needs an
     * object that already has that many (the device was made with the same properties).
     */
    VMS_STRUCT_VARRAY,
    /* A pointer to a buffer of as many bytes as the uint32_t at .count_offset says (MSI-X
     * tables); loading needs the same length. */
    VMS_VBUFFER,
} VMStateType;

typedef struct VMStateField {
    const char *name;
    VMStateType type;
    size_t offset;
    size_t size;      /* VMS_BUFFER: bytes; arrays: element size */
    unsigned count;   /* array elements (0 or 1: a scalar) */
    unsigned version; /* first version that has the field (0: all) */
    const VMStateDescription *vmsd;
    size_t count_offset; /* VMS_STRUCT_VARRAY: the element count's offset (an unsigned) */
} VMStateField;

struct VMStateDescription {
    const char *name;
    unsigned version, minimum_version;
    const VMStateField *fields; /* ends with VMSTATE_END_OF_LIST() */
    void (*pre_save)(void *opaque);
    /* After the fields were loaded: recompute derived state (mappings, IRQ levels). */
    bool (*post_load)(void *opaque, unsigned version, char **errp);
};

#define VMSTATE_F_(n, t, st, f, sz, c)                                                          \
    {.name = (n), .type = (t), .offset = offsetof(st, f), .size = (sz), .count = (c)}
#define VMSTATE_BOOL(f, st)    VMSTATE_F_(#f, VMS_BOOL, st, f, sizeof(bool), 0)
#define VMSTATE_UINT8(f, st)   VMSTATE_F_(#f, VMS_UINT8, st, f, 1, 0)
#define VMSTATE_UINT16(f, st)  VMSTATE_F_(#f, VMS_UINT16, st, f, 2, 0)
#define VMSTATE_UINT32(f, st)  VMSTATE_F_(#f, VMS_UINT32, st, f, 4, 0)
#define VMSTATE_UINT64(f, st)  VMSTATE_F_(#f, VMS_UINT64, st, f, 8, 0)
#define VMSTATE_INT32(f, st)   VMSTATE_F_(#f, VMS_INT32, st, f, 4, 0)
#define VMSTATE_INT64(f, st)   VMSTATE_F_(#f, VMS_INT64, st, f, 8, 0)
#define VMSTATE_UINT8_ARRAY(f, st, n)  VMSTATE_F_(#f, VMS_UINT8, st, f, 1, n)
#define VMSTATE_UINT16_ARRAY(f, st, n) VMSTATE_F_(#f, VMS_UINT16, st, f, 2, n)
#define VMSTATE_UINT32_ARRAY(f, st, n) VMSTATE_F_(#f, VMS_UINT32, st, f, 4, n)
#define VMSTATE_UINT64_ARRAY(f, st, n) VMSTATE_F_(#f, VMS_UINT64, st, f, 8, n)
#define VMSTATE_BUFFER(f, st)  VMSTATE_F_(#f, VMS_BUFFER, st, f, sizeof(((st *)0)->f), 0)
#define VMSTATE_TIMER(f, st)   VMSTATE_F_(#f, VMS_TIMER, st, f, 0, 0)
#define VMSTATE_STRUCT(f, st, d)                                                               \
    {.name = #f, .type = VMS_STRUCT, .offset = offsetof(st, f), .vmsd = &(d)}
#define VMSTATE_STRUCT_VARRAY(f, st, cnt, d, et)                                               \
    {.name = #f, .type = VMS_STRUCT_VARRAY, .offset = offsetof(st, f), .size = sizeof(et),     \
     .vmsd = &(d), .count_offset = offsetof(st, cnt)}
#define VMSTATE_VBUFFER(f, st, len_field)                                                      \
    {.name = #f, .type = VMS_VBUFFER, .offset = offsetof(st, f),                              \
     .count_offset = offsetof(st, len_field)}
#define VMSTATE_END_OF_LIST() {.name = NULL}

/* Append obj's section to out. */
void vmstate_save(const VMStateDescription *d, void *obj, GByteArray *out);
/*
 * Load a section from buf (len bytes) into obj; *used gets the bytes consumed. false with
 * *errp on a short stream or a version outside [minimum_version, version].
 */
bool vmstate_load(const VMStateDescription *d, void *obj, const uint8_t *buf, size_t len,
                  size_t *used, char **errp);

#endif
