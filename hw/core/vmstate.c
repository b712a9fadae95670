/* Saved device state from declarative field tables (include/vireo/vmstate.h). */
#include <string.h>
#include "vireo/timer.h"
#include "vireo/vmstate.h"

static void put_be(GByteArray *out, uint64_t v, unsigned bytes)
{
    uint8_t b[8];
    for (unsigned i = 0; i < bytes; i++) {
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    g_byte_array_append(out, b, bytes);
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static unsigned scalar_bytes(VMStateType t)
{
    switch (t) {
    case VMS_BOOL:
    case VMS_UINT8:
        return 1;
    case VMS_UINT16:
        return 2;
    case VMS_UINT32:
    case VMS_INT32:
        return 4;
    default:
        return 8;
    }
}

static uint64_t load_scalar(const void *p, VMStateType t)
{
    switch (t) {
    case VMS_BOOL:
        return *(const bool *)p;
    case VMS_UINT8:
        return *(const uint8_t *)p;
    case VMS_UINT16:
        return *(const uint16_t *)p;
    case VMS_UINT32:
    case VMS_INT32:
        return *(const uint32_t *)p;
    default:
        return *(const uint64_t *)p;
    }
}

static void store_scalar(void *p, VMStateType t, uint64_t v)
{
    switch (t) {
    case VMS_BOOL:
        *(bool *)p = v != 0;
        break;
    case VMS_UINT8:
        *(uint8_t *)p = (uint8_t)v;
        break;
    case VMS_UINT16:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case VMS_UINT32:
    case VMS_INT32:
        *(uint32_t *)p = (uint32_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

static void save_fields(const VMStateDescription *d, void *obj, GByteArray *out)
{
    for (const VMStateField *f = d->fields; f->name; f++) {
        uint8_t *p = (uint8_t *)obj + f->offset;
        switch (f->type) {
        case VMS_BUFFER:
            g_byte_array_append(out, p, (guint)f->size);
            break;
        case VMS_TIMER: {
            VTimer *t = (VTimer *)p;
            put_be(out, t->armed ? (uint64_t)t->expire : UINT64_MAX, 8);
            break;
        }
        case VMS_STRUCT:
            save_fields(f->vmsd, p, out);
            break;
        case VMS_VBUFFER: {
            uint32_t n = *(uint32_t *)((uint8_t *)obj + f->count_offset);
            put_be(out, n, 4);
            if (n) {
                g_byte_array_append(out, *(uint8_t **)p, n);
            }
            break;
        }
        case VMS_STRUCT_VARRAY: {
            unsigned n = *(unsigned *)((uint8_t *)obj + f->count_offset);
            uint8_t *a = *(uint8_t **)p;
            put_be(out, n, 4);
            for (unsigned i = 0; i < n; i++) {
                save_fields(f->vmsd, a + i * f->size, out);
            }
            break;
        }
        default: {
            unsigned n = f->count ? f->count : 1;
            for (unsigned i = 0; i < n; i++) {
                put_be(out, load_scalar(p + i * f->size, f->type), scalar_bytes(f->type));
            }
            break;
        }
        }
    }
}

void vmstate_save(const VMStateDescription *d, void *obj, GByteArray *out)
{
    if (d->pre_save) {
        d->pre_save(obj);
    }
    put_be(out, d->version, 4);
    save_fields(d, obj, out);
}

static bool load_fields(const VMStateDescription *d, unsigned version, void *obj,
                        const uint8_t *buf, size_t len, size_t *pos, char **errp)
{
    for (const VMStateField *f = d->fields; f->name; f++) {
        if (f->version > version) {
            continue;
        }
        uint8_t *p = (uint8_t *)obj + f->offset;
        size_t need;
        switch (f->type) {
        case VMS_BUFFER:
            need = f->size;
            break;
        case VMS_TIMER:
            need = 8;
            break;
        case VMS_STRUCT:
            if (!load_fields(f->vmsd, f->vmsd->version, p, buf, len, pos, errp)) {
                return false;
            }
            continue;
        case VMS_VBUFFER: {
            uint32_t have = *(uint32_t *)((uint8_t *)obj + f->count_offset);
            if (len - *pos < 4 || get_be(buf + *pos, 4) != have || len - *pos - 4 < have) {
                *errp = g_strdup_printf("%s: field '%s' has the wrong length or the stream ends",
                                        d->name, f->name);
                return false;
            }
            *pos += 4;
            if (have) {
                memcpy(*(uint8_t **)p, buf + *pos, have);
            }
            *pos += have;
            continue;
        }
        case VMS_STRUCT_VARRAY: {
            unsigned have = *(unsigned *)((uint8_t *)obj + f->count_offset);
            if (len - *pos < 4) {
                *errp = g_strdup_printf("%s: stream ends in field '%s'", d->name, f->name);
                return false;
            }
            unsigned n = (unsigned)get_be(buf + *pos, 4);
            *pos += 4;
            if (n != have) {
                *errp = g_strdup_printf("%s: '%s' has %u elements in the stream, the device %u",
                                        d->name, f->name, n, have);
                return false;
            }
            uint8_t *a = *(uint8_t **)p;
            for (unsigned i = 0; i < n; i++) {
                if (!load_fields(f->vmsd, f->vmsd->version, a + i * f->size, buf, len, pos,
                                 errp)) {
                    return false;
                }
            }
            continue;
        }
        default:
            need = (size_t)(f->count ? f->count : 1) * scalar_bytes(f->type);
            break;
        }
        if (len - *pos < need) {
            *errp = g_strdup_printf("%s: stream ends in field '%s'", d->name, f->name);
            return false;
        }
        const uint8_t *q = buf + *pos;
        switch (f->type) {
        case VMS_BUFFER:
            memcpy(p, q, f->size);
            break;
        case VMS_TIMER: {
            VTimer *t = (VTimer *)p;
            uint64_t e = get_be(q, 8);
            if (e == UINT64_MAX) {
                vtimer_del(t);
            } else {
                vtimer_mod(t, (int64_t)e);
            }
            break;
        }
        default: {
            unsigned n = f->count ? f->count : 1, b = scalar_bytes(f->type);
            for (unsigned i = 0; i < n; i++) {
                store_scalar(p + i * f->size, f->type, get_be(q + i * b, b));
            }
            break;
        }
        }
        *pos += need;
    }
    return true;
}

bool vmstate_load(const VMStateDescription *d, void *obj, const uint8_t *buf, size_t len,
                  size_t *used, char **errp)
{
    if (len < 4) {
        *errp = g_strdup_printf("%s: no version in the stream", d->name);
        return false;
    }
    unsigned version = (unsigned)get_be(buf, 4);
    if (version > d->version || version < d->minimum_version) {
        *errp = g_strdup_printf("%s: version %u not in [%u, %u]", d->name, version,
                                d->minimum_version, d->version);
        return false;
    }
    size_t pos = 4;
    if (!load_fields(d, version, obj, buf, len, &pos, errp)) {
        return false;
    }
    if (used) {
        *used = pos;
    }
    return !d->post_load || d->post_load(obj, version, errp);
}
