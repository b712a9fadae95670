/*
 * The device registry and instances (include/vireo/device.h): property parsing with QEMU's
 * messages, "-device help" / "-device X,help" as QEMU 7.2 prints them, -global, realize,
 * reset and teardown from the machine's device list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/device.h"
#include "vireo/error.h"
#include "vireo/machine.h"
#include "vireo/pci.h"
#include "vireo/qemu-opts.h"
#include "vireo/qjson.h"
#include "vireo/qemu-opts.h"

static const char *const category_names[DEVICE_CATEGORY_COUNT] = {
    [DEVICE_CATEGORY_BRIDGE] = "Controller/Bridge/Hub devices",
    [DEVICE_CATEGORY_USB] = "USB devices",
    [DEVICE_CATEGORY_STORAGE] = "Storage devices",
    [DEVICE_CATEGORY_NETWORK] = "Network devices",
    [DEVICE_CATEGORY_INPUT] = "Input devices",
    [DEVICE_CATEGORY_DISPLAY] = "Display devices",
    [DEVICE_CATEGORY_SOUND] = "Sound devices",
    [DEVICE_CATEGORY_MISC] = "Misc devices",
    [DEVICE_CATEGORY_CPU] = "CPU devices",
    [DEVICE_CATEGORY_WATCHDOG] = "Watchdog devices",
    [DEVICE_CATEGORY_NONE] = "Uncategorized devices",
};

static const char *const bus_names[] = {
    [BUS_NONE] = NULL, [BUS_SYSTEM] = "System", [BUS_ISA] = "ISA", [BUS_PCI] = "PCI",
    [BUS_SCSI] = "SCSI", [BUS_USB] = "usb-bus", [BUS_IDE] = "IDE"};

const char *device_category_name(DeviceCategory c)
{
    return c < DEVICE_CATEGORY_COUNT ? category_names[c] : "Uncategorized devices";
}

const DeviceInfo *device_info_find(const char *name)
{
    if (!name) {
        return NULL;
    }
    for (size_t i = 0; device_infos[i]; i++) {
        const DeviceInfo *info = device_infos[i];
        if (!strcmp(info->name, name)) {
            return info;
        }
        for (size_t j = 0; info->aliases && info->aliases[j]; j++) {
            if (!strcmp(info->aliases[j], name)) {
                return info;
            }
        }
    }
    return NULL;
}

/* A type's properties: its own, its bus's (PCI), its family's (virtio-pci's transport). */
#define PROP_LISTS 3
static const Property *prop_lists(const DeviceInfo *info, int i)
{
    if (i == 0) {
        return info->props;
    }
    if (i == 1 && info->bus == BUS_PCI) {
        return pci_device_props;
    }
    if (i == 2) {
        return info->family_props;
    }
    return NULL;
}

const Property *device_info_prop(const DeviceInfo *info, const char *name)
{
    for (int l = 0; l < PROP_LISTS; l++) {
        const Property *p = prop_lists(info, l);
        for (; p && p->name; p++) {
            if (!strcmp(p->name, name)) {
                return p;
            }
        }
    }
    return NULL;
}

/* ---- help ---------------------------------------------------------------------------- */

static int cmp_info(const void *a, const void *b)
{
    const DeviceInfo *x = *(const DeviceInfo *const *)a, *y = *(const DeviceInfo *const *)b;
    return g_ascii_strcasecmp(x->name, y->name); /* QEMU sorts names ignoring case */
}

void device_print_list(void)
{
    size_t n = 0;
    while (device_infos[n]) {
        n++;
    }
    const DeviceInfo **sorted = g_new(const DeviceInfo *, n + 1);
    memcpy(sorted, device_infos, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_info);
    for (int c = 0; c < DEVICE_CATEGORY_COUNT; c++) {
        bool printed = false;
        for (size_t i = 0; i < n; i++) {
            const DeviceInfo *info = sorted[i];
            if ((int)info->category != c || !info->user_creatable) {
                continue;
            }
            if (!printed) {
                printf("%s%s:\n", c ? "\n" : "", category_names[c]);
                printed = true;
            }
            printf("name \"%s\"", info->name);
            if (bus_names[info->bus]) {
                printf(", bus %s", bus_names[info->bus]);
            }
            if (info->aliases && info->aliases[0]) {
                printf(", alias \"%s\"", info->aliases[0]);
            }
            if (info->desc) {
                printf(", desc \"%s\"", info->desc);
            }
            printf("\n");
        }
    }
    g_free(sorted);
}

static const char *type_name(const Property *p)
{
    if (p->type_name) {
        return p->type_name;
    }
    switch (p->type) {
    case PROP_BOOL:
        return "bool";
    case PROP_UINT8:
        return "uint8";
    case PROP_UINT16:
        return "uint16";
    case PROP_UINT32:
        return "uint32";
    case PROP_INT32:
    case PROP_PCI_DEVFN:
        return "int32";
    case PROP_UINT64:
        return "uint64";
    case PROP_SIZE:
    case PROP_SIZE32:
    case PROP_BLOCKSIZE:
        return "size";
    case PROP_ONOFFAUTO:
        return "OnOffAuto";
    default:
        return "str";
    }
}

static const char *type_desc(const Property *p)
{
    if (p->desc) {
        return p->desc;
    }
    switch (p->type) {
    case PROP_PCI_DEVFN:
        return "Slot and optional function number, example: 06.0 or 06";
    case PROP_CHR:
        return "ID of a chardev to use as a backend";
    case PROP_DRIVE:
        return "Node name or ID of a block device to use as a backend";
    case PROP_NETDEV:
        return "ID of a netdev to use as a backend";
    case PROP_MACADDR:
        return "Ethernet 6-byte MAC Address, example: 52:54:00:12:34:56";
    case PROP_ONOFFAUTO:
        return "on/off/auto";
    case PROP_BLOCKSIZE:
        return "A power of two between 512 B and 2 MiB";
    default:
        return NULL;
    }
}

static const char *const onoffauto_names[] = {"auto", "on", "off"};

/* The default as QEMU prints it (JSON), or NULL. */
static char *default_json(const Property *p)
{
    if (!p->has_default) {
        return NULL;
    }
    switch (p->type) {
    case PROP_BOOL:
        return g_strdup(p->def.b ? "true" : "false");
    case PROP_INT32:
    case PROP_PCI_DEVFN:
        return g_strdup_printf("%" G_GINT64_FORMAT, p->def.i);
    case PROP_ONOFFAUTO:
        return g_strdup_printf("\"%s\"", onoffauto_names[p->def.i % 3]);
    case PROP_ENUM:
        return g_strdup_printf("\"%s\"", p->enum_names[p->def.i]);
    case PROP_STRING:
        return p->def.s ? g_strdup_printf("\"%s\"", p->def.s) : NULL;
    case PROP_HELP_ONLY:
    case PROP_CHR:
    case PROP_DRIVE:
    case PROP_NETDEV:
    case PROP_MACADDR:
        return NULL;
    default:
        return g_strdup_printf("%" G_GUINT64_FORMAT, p->def.u);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void device_print_props(const DeviceInfo *info)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    for (int l = 0; l < PROP_LISTS; l++) {
        for (const Property *p = prop_lists(info, l); p && p->name; p++) {
            if (p->internal) {
                continue;
            }
            GString *s = g_string_new(NULL);
            g_string_append_printf(s, "  %s=<%s>", p->name, type_name(p));
            const char *desc = type_desc(p);
            char *def = default_json(p);
            if (desc || def) {
                if (s->len < 24) {
                    g_string_append_printf(s, "%*s", 24 - (int)s->len, "");
                }
                g_string_append(s, " - ");
            }
            if (desc) {
                g_string_append(s, desc);
            }
            if (def) {
                g_string_append_printf(s, " (default: %s)", def);
            }
            g_free(def);
            g_ptr_array_add(lines, g_string_free(s, FALSE));
        }
    }
    if (!lines->len) {
        printf("There are no options for %s.\n", info->name);
    } else {
        qsort(lines->pdata, lines->len, sizeof(char *), cmp_str);
        printf("%s options:\n", info->name);
        for (guint i = 0; i < lines->len; i++) {
            printf("%s\n", (char *)lines->pdata[i]);
        }
    }
    g_ptr_array_free(lines, TRUE);
}

/* ---- property values ----------------------------------------------------------------- */

static void *field(Device *dev, const Property *p)
{
    return (uint8_t *)dev + p->offset;
}

static void set_default(Device *dev, const Property *p)
{
    void *f = field(dev, p);
    switch (p->type) {
    case PROP_BOOL:
        *(bool *)f = p->def.b;
        break;
    case PROP_UINT8:
        *(uint8_t *)f = (uint8_t)p->def.u;
        break;
    case PROP_UINT16:
        *(uint16_t *)f = (uint16_t)p->def.u;
        break;
    case PROP_UINT32:
        *(uint32_t *)f = (uint32_t)p->def.u;
        break;
    case PROP_INT32:
    case PROP_PCI_DEVFN:
        *(int32_t *)f = (int32_t)p->def.i;
        break;
    case PROP_UINT64:
    case PROP_SIZE:
        *(uint64_t *)f = p->def.u;
        break;
    case PROP_ONOFFAUTO:
    case PROP_ENUM:
        *(int *)f = (int)p->def.i;
        break;
    case PROP_SIZE32:
    case PROP_BLOCKSIZE:
        *(uint32_t *)f = (uint32_t)p->def.u;
        break;
    case PROP_STRING:
    case PROP_CHR:
    case PROP_DRIVE:
    case PROP_NETDEV:
        *(char **)f = p->def.s ? g_strdup(p->def.s) : NULL;
        break;
    case PROP_MACADDR:
    case PROP_HELP_ONLY:
        break;
    }
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        if (!g_ascii_isxdigit(s[0]) || !g_ascii_isxdigit(s[1]) || (i < 5 && s[2] != ':') ||
            (i == 5 && s[2])) {
            return false;
        }
        mac[i] = (uint8_t)(g_ascii_xdigit_value(s[0]) << 4 | g_ascii_xdigit_value(s[1]));
        s += 3;
    }
    return true;
}

/* Value kinds of DeviceConfig.prop_kinds: keyval text, or typed JSON members. */
#define KIND_TEXT 0
#define KIND_JSON_INT 'i'
#define KIND_JSON_BOOL 'b'
#define KIND_JSON_STR 's'
#define KIND_JSON_OTHER 'o'
#define KIND_GLOBAL 'g' /* -global text: QEMU's string visitor words integer errors itself */

static bool set_prop_kind(Device *dev, const Property *p, const char *value, int kind,
                          char **errp)
{
    void *f = field(dev, p);
    const char *name = p->name;
    bool global = kind == KIND_GLOBAL;
    if (global) {
        kind = KIND_TEXT;
    }
    bool json = kind != KIND_TEXT;
    switch (p->type) {
    case PROP_BOOL: {
        bool b;
        if (json) {
            if (kind != KIND_JSON_BOOL) {
                *errp = g_strdup_printf("Invalid parameter type for '%s', expected: boolean",
                                        name);
                return false;
            }
            *(bool *)f = !strcmp(value, "true");
            return true;
        }
        if (!qopts_parse_bool(value, &b)) {
            *errp = g_strdup_printf("Parameter '%s' expects 'on' or 'off'", name);
            return false;
        }
        *(bool *)f = b;
        return true;
    }
    case PROP_UINT8:
    case PROP_UINT16:
    case PROP_UINT32:
    case PROP_UINT64:
    case PROP_INT32: {
        uint64_t v;
        bool neg = false;
        if (json && kind != KIND_JSON_INT) {
            *errp = g_strdup_printf("Parameter '%s' expects %s", name,
                                    p->type == PROP_INT32 ? "int64" : "uint64");
            return false;
        }
        const char *s = value;
        if (p->type == PROP_INT32 && s[0] == '-') {
            neg = true;
            s++;
        }
        if (qopts_strtou64(s, json ? 10 : 0, &v) < 0) {
            *errp = global ? g_strdup_printf("Parameter '%s' expects %s", name,
                                             p->type == PROP_INT32 ? "int64" : "uint64")
                           : g_strdup_printf("Parameter '%s' expects integer", name);
            return false;
        }
        static const char *const tn[] = {[PROP_UINT8] = "uint8_t", [PROP_UINT16] = "uint16_t",
                                         [PROP_UINT32] = "uint32_t", [PROP_INT32] = "int32_t"};
        uint64_t max = p->type == PROP_UINT8    ? 0xff
                       : p->type == PROP_UINT16 ? 0xffff
                       : p->type == PROP_UINT32 ? 0xffffffffu
                       : p->type == PROP_INT32  ? (neg ? 0x80000000u : 0x7fffffffu)
                                                : UINT64_MAX;
        if (v > max && !(p->type == PROP_UINT64)) {
            *errp = g_strdup_printf("Parameter '%s' expects %s", name, tn[p->type]);
            return false;
        }
        switch (p->type) {
        case PROP_UINT8:
            *(uint8_t *)f = (uint8_t)v;
            break;
        case PROP_UINT16:
            *(uint16_t *)f = (uint16_t)v;
            break;
        case PROP_UINT32:
            *(uint32_t *)f = (uint32_t)v;
            break;
        case PROP_INT32:
            *(int32_t *)f = neg ? (int32_t)(0 - v) : (int32_t)v;
            break;
        default:
            *(uint64_t *)f = v;
            break;
        }
        return true;
    }
    case PROP_SIZE: {
        uint64_t v;
        if (json ? kind != KIND_JSON_INT || qopts_strtou64(value, 10, &v) < 0
                 : qopts_strtosz(value, 'B', &v) < 0) {
            *errp = g_strdup_printf("Parameter '%s' expects size", name);
            return false;
        }
        *(uint64_t *)f = v;
        return true;
    }
    case PROP_STRING:
    case PROP_CHR:
    case PROP_DRIVE:
    case PROP_NETDEV:
        if (json && kind != KIND_JSON_STR) {
            *errp = g_strdup_printf("Invalid parameter type for '%s', expected: string", name);
            return false;
        }
        g_free(*(char **)f);
        *(char **)f = g_strdup(value);
        return true;
    case PROP_PCI_DEVFN: {
        if (kind == KIND_JSON_INT) {
            uint64_t v;
            if (qopts_strtou64(value, 10, &v) < 0 || v > 255) {
                *errp = g_strdup_printf("Property '%s.%s' doesn't take value %s",
                                        dev->info->name, name, value);
                return false;
            }
            *(int32_t *)f = (int32_t)v;
            return true;
        }
        if (json && kind != KIND_JSON_STR) {
            *errp = g_strdup_printf("Invalid parameter type for '%s', expected: string", name);
            return false;
        }
        char *e;
        unsigned long slot = strtoul(value, &e, 16), fn = 0;
        bool bad = e == value || value[0] == '-' || value[0] == '+' || g_ascii_isspace(value[0]);
        if (!bad && *e == '.') {
            const char *q = e + 1;
            fn = strtoul(q, &e, 16);
            bad = e == q || q[0] == '-' || q[0] == '+' || g_ascii_isspace(q[0]);
        }
        if (bad || *e || slot > 31 || fn > 7) {
            *errp = g_strdup_printf("Property '%s.%s' doesn't take value '%s'", dev->info->name,
                                    name, value);
            return false;
        }
        *(int32_t *)f = (int32_t)PCI_DEVFN(slot, fn);
        return true;
    }
    case PROP_MACADDR:
        if ((json && kind != KIND_JSON_STR) || !parse_mac(value, f)) {
            *errp = g_strdup_printf("Property '%s.%s' doesn't take value '%s'",
                                    p->owner ? p->owner : dev->info->name, name, value);
            return false;
        }
        return true;
    case PROP_ONOFFAUTO:
        for (int i = 0; i < 3; i++) {
            if (!strcmp(value, onoffauto_names[i])) {
                *(int *)f = i;
                return true;
            }
        }
        *errp = g_strdup_printf("Parameter '%s' does not accept value '%s'", name, value);
        return false;
    case PROP_ENUM:
        for (int i = 0; p->enum_names[i]; i++) {
            if (!strcmp(value, p->enum_names[i])) {
                *(int *)f = i;
                return true;
            }
        }
        *errp = g_strdup_printf("Parameter '%s' does not accept value '%s'", name, value);
        return false;
    case PROP_SIZE32:
    case PROP_BLOCKSIZE: {
        uint64_t v;
        if (json ? kind != KIND_JSON_INT || qopts_strtou64(value, 10, &v) < 0
                 : qopts_strtosz(value, 'B', &v) < 0) {
            *errp = g_strdup_printf("Parameter '%s' expects size", name);
            return false;
        }
        const char *owner = p->owner ? p->owner : dev->info->name;
        if (p->type == PROP_BLOCKSIZE) {
            if (v < 512 || v > 2 * 1024 * 1024) {
                *errp = g_strdup_printf("Property %s.%s doesn't take value %" G_GUINT64_FORMAT
                                        " (minimum: 512, maximum: 2097152)",
                                        owner, name, v);
                return false;
            }
            if (v & (v - 1)) {
                *errp = g_strdup_printf("Property %s.%s doesn't take value '%" G_GUINT64_FORMAT
                                        "', it's not a power of 2",
                                        owner, name, v);
                return false;
            }
        } else if (v > UINT32_MAX) {
            *errp = g_strdup_printf("Property %s.%s doesn't take value %" G_GUINT64_FORMAT
                                    " (maximum: 4294967295)",
                                    owner, name, v);
            return false;
        }
        *(uint32_t *)f = (uint32_t)v;
        return true;
    }
    case PROP_HELP_ONLY:
        break;
    }
    *errp = g_strdup_printf("Property '%s.%s' not found", dev->info->name, name);
    return false;
}

bool device_set_prop(Device *dev, const char *name, const char *value, char **errp)
{
    const Property *p = device_info_prop(dev->info, name);
    if (!p || p->type == PROP_HELP_ONLY || p->hidden) {
        *errp = g_strdup_printf("Property '%s.%s' not found", dev->info->name, name);
        return false;
    }
    return set_prop_kind(dev, p, value, KIND_TEXT, errp);
}

char *device_get_prop(Device *dev, const Property *p)
{
    void *f = field(dev, p);
    switch (p->type) {
    case PROP_BOOL:
        return g_strdup(*(bool *)f ? "on" : "off");
    case PROP_UINT8:
        return g_strdup_printf("%u", *(uint8_t *)f);
    case PROP_UINT16:
        return g_strdup_printf("%u", *(uint16_t *)f);
    case PROP_UINT32:
        return g_strdup_printf("%u", *(uint32_t *)f);
    case PROP_INT32:
        return g_strdup_printf("%d", *(int32_t *)f);
    case PROP_PCI_DEVFN: {
        int32_t v = *(int32_t *)f;
        return v < 0 ? g_strdup("<unset>") : g_strdup_printf("%02x.%x", v >> 3, v & 7);
    }
    case PROP_UINT64:
    case PROP_SIZE:
        return g_strdup_printf("%" G_GUINT64_FORMAT, *(uint64_t *)f);
    case PROP_ONOFFAUTO:
        return g_strdup(onoffauto_names[*(int *)f % 3]);
    case PROP_ENUM:
        return g_strdup(p->enum_names[*(int *)f]);
    case PROP_SIZE32:
    case PROP_BLOCKSIZE:
        return g_strdup_printf("%u", *(uint32_t *)f);
    case PROP_MACADDR: {
        uint8_t *m = f;
        return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                               m[5]);
    }
    case PROP_HELP_ONLY:
        return NULL;
    default:
        return g_strdup(*(char **)f ? *(char **)f : "");
    }
}

char *device_get_prop_json(Device *dev, const Property *p)
{
    void *f = field(dev, p);
    switch (p->type) {
    case PROP_BOOL:
        return g_strdup(*(bool *)f ? "true" : "false");
    case PROP_PCI_DEVFN:
        return g_strdup_printf("%d", *(int32_t *)f);
    case PROP_ONOFFAUTO:
    case PROP_ENUM:
    case PROP_MACADDR:
    case PROP_STRING:
    case PROP_CHR:
    case PROP_DRIVE:
    case PROP_NETDEV: {
        char *text = device_get_prop(dev, p);
        GString *s = g_string_new("\"");
        for (const char *c = text; *c; c++) {
            if (*c == '"' || *c == '\\') {
                g_string_append_c(s, '\\');
            }
            if ((unsigned char)*c < 0x20) {
                g_string_append_printf(s, "\\u%04x", *c);
            } else {
                g_string_append_c(s, *c);
            }
        }
        g_string_append_c(s, '"');
        g_free(text);
        return g_string_free(s, FALSE);
    }
    case PROP_HELP_ONLY:
        return NULL;
    default:
        return device_get_prop(dev, p); /* the integers, in decimal */
    }
}

void device_info_foreach_prop(const DeviceInfo *info, DevicePropFn *fn, void *opaque)
{
    for (int l = 0; l < PROP_LISTS; l++) {
        for (const Property *p = prop_lists(info, l); p && p->name; p++) {
            if (p->internal) {
                continue;
            }
            char *def = default_json(p);
            fn(opaque, p, type_name(p), type_desc(p), def);
            g_free(def);
        }
    }
}

/* ---- -global -------------------------------------------------------------------------- */

typedef struct GlobalProp {
    char *driver, *prop, *value;
    bool used;
} GlobalProp;
static GPtrArray *globals;

bool device_global_add(const char *driver, const char *prop, const char *value, char **errp)
{
    (void)errp; /* QEMU checks -global values when a device of that type is created */
    if (!globals) {
        globals = g_ptr_array_new();
    }
    GlobalProp *g = g_new0(GlobalProp, 1);
    g->driver = g_strdup(driver);
    g->prop = g_strdup(prop);
    g->value = g_strdup(value);
    g_ptr_array_add(globals, g);
    return true;
}

void device_globals_clear(void)
{
    for (guint i = 0; globals && i < globals->len; i++) {
        GlobalProp *g = globals->pdata[i];
        g_free(g->driver);
        g_free(g->prop);
        g_free(g->value);
        g_free(g);
    }
    if (globals) {
        g_ptr_array_free(globals, TRUE);
        globals = NULL;
    }
}

/* -global values for dev's type, in order; a bad one is an error at creation (as QEMU). */
static bool apply_globals(Device *dev, char **errp)
{
    for (guint i = 0; globals && i < globals->len; i++) {
        GlobalProp *g = globals->pdata[i];
        if (strcmp(g->driver, dev->info->name)) {
            continue;
        }
        g->used = true;
        char *err = NULL;
        const Property *p = device_info_prop(dev->info, g->prop);
        if (!p || p->type == PROP_HELP_ONLY || p->hidden) {
            err = g_strdup_printf("Property '%s.%s' not found", dev->info->name, g->prop);
        }
        if (err || !set_prop_kind(dev, p, g->value, KIND_GLOBAL, &err)) {
            *errp = g_strdup_printf("can't apply global %s.%s=%s: %s", g->driver, g->prop,
                                    g->value, err);
            g_free(err);
            return false;
        }
    }
    return true;
}

/* QEMU 7.2 classes the PC machine has that are not Vireo devices (the in-kernel irqchip and PIT
 * under KVM, ...): a -global for them is accepted without a warning, as QEMU accepts it when it
 * creates none (test kernels pass -global kvm-pit.lost_tick_policy=discard) */
static bool qemu_internal_class(const char *name)
{
    static const char *const classes[] = {"kvm-pit", "kvm-i8259", "kvm-ioapic", "kvm-apic",
                                          "isa-pit", "isa-i8259", "ioapic", "apic", "kvmclock",
                                          "mc146818rtc", "PIIX4_PM", "i440FX-pcihost"};
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        if (!strcmp(name, classes[i])) {
            return true;
        }
    }
    return false;
}

void device_globals_check(void)
{
    for (guint i = 0; globals && i < globals->len; i++) {
        GlobalProp *g = globals->pdata[i];
        const DeviceInfo *info = device_info_find(g->driver);
        if (g->used) {
            continue;
        }
        if (!info) {
            if (!qemu_internal_class(g->driver)) {
                warn_report("global %s.%s has invalid class name", g->driver, g->prop);
            }
        } else if (!info->hotpluggable) {
            warn_report("global %s.%s=%s not used", g->driver, g->prop, g->value);
        }
    }
}

/* ---- instances ------------------------------------------------------------------------ */

static Device *dev_list, *dev_tail;
/* QEMU names -device/device_add devices without an id device[N] in creation order */
static int anon_devices;

Device *device_new(const DeviceInfo *info)
{
    Device *dev = g_malloc0(info->instance_size);
    dev->info = info;
    for (int l = 0; l < PROP_LISTS; l++) {
        for (const Property *p = prop_lists(info, l); p && p->name; p++) {
            set_default(dev, p);
        }
    }
    return dev;
}

static void free_props(Device *dev)
{
    for (int l = 0; l < PROP_LISTS; l++) {
        for (const Property *p = prop_lists(dev->info, l); p && p->name; p++) {
            if (p->type == PROP_STRING || p->type == PROP_CHR || p->type == PROP_DRIVE ||
                p->type == PROP_NETDEV) {
                g_free(*(char **)field(dev, p));
                *(char **)field(dev, p) = NULL;
            }
        }
    }
}

void device_free(Device *dev)
{
    if (!dev) {
        return;
    }
    if (dev->realized) {
        device_unrealize(dev);
    }
    free_props(dev);
    g_free(dev->bus_name);
    g_free(dev->id);
    g_free(dev->canonical);
    g_free(dev);
}

bool pci_qdev_realize(Device *dev, char **errp);
void pci_qdev_unrealize(Device *dev);

bool device_realize(Device *dev, char **errp)
{
    if (!dev->canonical) {
        dev->canonical = g_strdup(dev->id ? dev->id : dev->info->name);
    }
    if (dev->info->bus == BUS_PCI) {
        if (!pci_qdev_realize(dev, errp)) {
            return false;
        }
    } else if (dev->info->realize && !dev->info->realize(dev, errp)) {
        return false;
    }
    dev->realized = true;
    dev->next = NULL;
    if (dev_tail) {
        dev_tail->next = dev;
    } else {
        dev_list = dev;
    }
    dev_tail = dev;
    if (dev->info->reset) {
        dev->info->reset(dev);
    }
    return true;
}

void device_unrealize(Device *dev)
{
    if (!dev->realized) {
        return;
    }
    if (dev->info->bus == BUS_PCI) {
        pci_qdev_unrealize(dev);
    } else if (dev->info->unrealize) {
        dev->info->unrealize(dev);
    }
    dev->realized = false;
    Device *prev = NULL;
    for (Device *d = dev_list; d; prev = d, d = d->next) {
        if (d == dev) {
            if (prev) {
                prev->next = d->next;
            } else {
                dev_list = d->next;
            }
            if (dev_tail == d) {
                dev_tail = prev;
            }
            break;
        }
    }
    dev->next = NULL;
}

Device *device_list_first(void)
{
    return dev_list;
}

Device *device_find_id(const char *id)
{
    for (Device *d = dev_list; d; d = d->next) {
        if (d->id && id && !strcmp(d->id, id)) {
            return d;
        }
    }
    return NULL;
}

/* The list reversed into an array (newest first). */
static Device **newest_first(size_t *n)
{
    size_t count = 0;
    for (Device *d = dev_list; d; d = d->next) {
        count++;
    }
    Device **a = g_new(Device *, count + 1);
    size_t i = count;
    for (Device *d = dev_list; d; d = d->next) {
        a[--i] = d;
    }
    *n = count;
    return a;
}

void devices_reset_all(void)
{
    size_t n;
    Device **a = newest_first(&n);
    for (size_t i = 0; i < n; i++) {
        if (a[i]->info->reset) {
            a[i]->info->reset(a[i]);
        }
    }
    g_free(a);
}

void devices_destroy_all(void)
{
    size_t n;
    Device **a = newest_first(&n);
    for (size_t i = 0; i < n; i++) {
        device_free(a[i]);
    }
    g_free(a);
    dev_list = dev_tail = NULL;
    anon_devices = 0;
}

/* ---- creation from the command line ---------------------------------------------------- */

char *device_qom_path(const Device *dev)
{
    if (dev->id) {
        return g_strdup_printf("/machine/peripheral/%s", dev->id);
    }
    if (dev->from_cli) {
        return g_strdup_printf("/machine/peripheral-anon/device[%d]", dev->anon_index);
    }
    if (dev->unattached_index > 0) {
        return g_strdup_printf("/machine/unattached/device[%d]", dev->unattached_index);
    }
    return g_strdup_printf("/machine/unattached/%s", dev->info->name);
}

/* Buses the machine has ("pci.0", "isa.0" on pc; none with -machine none). */
static bool machine_has_buses = true;

void device_set_machine_buses(bool present);
void device_set_machine_buses(bool present)
{
    machine_has_buses = present;
}

/* Buses devices own, in registration order. */
typedef struct OwnedBus {
    char *name;
    BusType type;
    void *bus;
} OwnedBus;
static GPtrArray *owned_buses;

void device_bus_register(const char *name, BusType type, void *bus)
{
    if (!owned_buses) {
        owned_buses = g_ptr_array_new();
    }
    OwnedBus *b = g_new(OwnedBus, 1);
    b->name = g_strdup(name);
    b->type = type;
    b->bus = bus;
    g_ptr_array_add(owned_buses, b);
}

void device_bus_unregister(void *bus)
{
    for (guint i = 0; owned_buses && i < owned_buses->len; i++) {
        OwnedBus *b = owned_buses->pdata[i];
        if (b->bus == bus) {
            g_ptr_array_remove_index(owned_buses, i);
            g_free(b->name);
            g_free(b);
            return;
        }
    }
}

void *device_bus_find(const char *name, BusType *type)
{
    for (guint i = 0; owned_buses && i < owned_buses->len; i++) {
        OwnedBus *b = owned_buses->pdata[i];
        if (!strcmp(b->name, name)) {
            if (type) {
                *type = b->type;
            }
            return b->bus;
        }
    }
    return NULL;
}

void *device_bus_newest(BusType type)
{
    for (guint i = owned_buses ? owned_buses->len : 0; i-- > 0;) {
        OwnedBus *b = owned_buses->pdata[i];
        if (b->type == type) {
            return b->bus;
        }
    }
    return NULL;
}

/*
 * The buses earlier -device options will provide, while the command line is checked before
 * the machine exists (their owners are not realized yet): name and type.
 */
static GPtrArray *pending_buses;

static BusType pending_bus(const char *name)
{
    for (guint i = 0; pending_buses && i < pending_buses->len; i += 2) {
        if (!name || !strcmp(pending_buses->pdata[i], name)) {
            return (BusType)GPOINTER_TO_INT(pending_buses->pdata[i + 1]);
        }
    }
    return BUS_NONE;
}

void *device_plug_bus(Device *dev, BusType type, char **errp)
{
    void *bus;
    if (dev->bus_name) {
        BusType t = BUS_NONE;
        bus = device_bus_find(dev->bus_name, &t);
        if (!bus || t != type) {
            *errp = g_strdup_printf("Bus '%s' not found", dev->bus_name);
            return NULL;
        }
        return bus;
    }
    bus = device_bus_newest(type);
    if (!bus) {
        *errp = g_strdup_printf("No '%s' bus found for device '%s'", bus_names[type],
                                dev->info->name);
    }
    return bus;
}

static bool pending_bus_of_type(BusType type)
{
    for (guint i = 0; pending_buses && i < pending_buses->len; i += 2) {
        if ((BusType)GPOINTER_TO_INT(pending_buses->pdata[i + 1]) == type) {
            return true;
        }
    }
    return false;
}

void device_bus_add_pending(const char *name, BusType type)
{
    if (!pending_buses) {
        pending_buses = g_ptr_array_new();
    }
    g_ptr_array_add(pending_buses, g_strdup(name));
    g_ptr_array_add(pending_buses, GINT_TO_POINTER(type));
}

static char *child_bus_name(const DeviceInfo *info, const char *id)
{
    if (id) {
        return g_strdup_printf("%s.0", id);
    }
    char *type = g_ascii_strdown(bus_names[info->child_bus], -1);
    char *name = g_strdup_printf("%s.0", type);
    g_free(type);
    return name;
}

static bool bus_check(const DeviceInfo *info, const char *bus, bool check_only, char **errp)
{
    if (bus) {
        BusType t = BUS_NONE;
        if (machine_has_buses && !strcmp(bus, "pci.0")) {
            t = BUS_PCI;
        } else if (machine_has_buses && !strcmp(bus, "isa.0")) {
            t = BUS_ISA;
        } else if (machine_has_buses && (!strcmp(bus, "ide.0") || !strcmp(bus, "ide.1"))) {
            t = BUS_IDE; /* PIIX3's IDE channels, always there on pc */
        } else if (check_only) {
            t = pending_bus(bus);
        } else {
            device_bus_find(bus, &t);
        }
        if (t == BUS_NONE) {
            *errp = g_strdup_printf("Bus '%s' not found", bus);
            return false;
        }
        if (t != info->bus) {
            *errp = g_strdup_printf("Device '%s' can't go on %s bus", info->name, bus_names[t]);
            return false;
        }
        return true;
    }
    if (((info->bus == BUS_PCI || info->bus == BUS_ISA || info->bus == BUS_IDE) &&
         !machine_has_buses) ||
        ((info->bus == BUS_SCSI || info->bus == BUS_USB) &&
         !(check_only ? pending_bus_of_type(info->bus)
                      : device_bus_newest(info->bus) != NULL))) {
        *errp = g_strdup_printf("No '%s' bus found for device '%s'", bus_names[info->bus],
                                info->name);
        return false;
    }
    return true;
}


static Device *create_device(const DeviceConfig *dc, bool check_only, bool hotplug, char **errp);

Device *device_create_from_config(const DeviceConfig *dc, bool check_only, char **errp)
{
    return create_device(dc, check_only, false, errp);
}

/* The bus a device would plug into, named as QEMU names it (for its hotplug messages). */
static const char *bus_qom_name(BusType t)
{
    switch (t) {
    case BUS_PCI:
        return "pci.0";
    case BUS_ISA:
        return "isa.0";
    case BUS_IDE:
        return "ide.0";
    default:
        return "main-system-bus";
    }
}

char *device_add_from_monitor(const DeviceConfig *dc)
{
    char *e = NULL;
    if (dc->id && !qopts_is_identifier(dc->id)) {
        return g_strdup("Parameter 'id' expects an identifier");
    }
    vireo_lock();
    if (!device_hotplug(dc, &e) && !e) {
        e = g_strdup("cannot add the device");
    }
    vireo_unlock();
    return e;
}

Device *device_hotplug(const DeviceConfig *dc, char **errp)
{
    return create_device(dc, false, true, errp);
}

static Device *find_for_unplug(const char *id)
{
    for (Device *d = dev_list; d; d = d->next) {
        if (!d->from_cli) {
            continue;
        }
        char *path = device_qom_path(d);
        bool match = (d->id && !strcmp(d->id, id)) || !strcmp(path, id);
        g_free(path);
        if (match) {
            return d;
        }
    }
    return NULL;
}

int device_unplug_request(const char *id, char **errp)
{
    Device *dev = find_for_unplug(id);
    if (!dev) {
        *errp = g_strdup_printf("Device '%s' not found", id);
        return -2;
    }
    if (dev->info->bus != BUS_PCI) {
        *errp = g_strdup_printf("Bus '%s' does not support hotplugging",
                                bus_qom_name(dev->info->bus));
        return -1;
    }
    if (!dev->info->hotpluggable) {
        *errp = g_strdup_printf("Device '%s' does not support hotplugging", dev->info->name);
        return -1;
    }
    if (dev->unplug_pending) {
        *errp = g_strdup_printf("Device %s is already in the process of unplug",
                                dev->id ? dev->id : "");
        return -1;
    }
    if (!pci_device_unplug_request(PCI_DEVICE(dev), errp)) {
        return -1;
    }
    dev->unplug_pending = true;
    return 0;
}

void device_unplug_complete(Device *dev)
{
    QJ *data = qj_object();
    if (dev->id) {
        qj_set_str(data, "device", dev->id);
    }
    char *path = device_qom_path(dev);
    qj_set_str(data, "path", path);
    /* A virtio proxy's inner device (QEMU's child "virtio-backend", a device of its own) goes
     * first, with an event of its own: a path, no id. */
    if (device_info_prop(dev->info, "virtio-backend")) {
        QJ *inner = qj_object();
        char *ipath = g_strdup_printf("%s/virtio-backend", path);
        qj_set_str(inner, "path", ipath);
        g_free(ipath);
        machine_post_event("DEVICE_DELETED", inner);
    }
    g_free(path);
    device_free(dev);
    machine_post_event("DEVICE_DELETED", data);
}

static Device *create_device(const DeviceConfig *dc, bool check_only, bool hotplug, char **errp)
{
    if (!dc->driver) {
        *errp = g_strdup("Parameter 'driver' is missing");
        return NULL;
    }
    const DeviceInfo *info = device_info_find(dc->driver);
    if (!info) {
        *errp = g_strdup_printf("'%s' is not a valid device model name", dc->driver);
        return NULL;
    }
    if (!info->user_creatable || (hotplug && !info->hotpluggable)) {
        *errp = g_strdup("Parameter 'driver' expects a pluggable device type");
        return NULL;
    }
    const char *bus = NULL;
    for (int i = 0; i < dc->n_props; i++) {
        if (!strcmp(dc->prop_keys[i], "bus")) {
            bus = dc->prop_values[i];
        }
    }
    if (!bus_check(info, bus, check_only, errp)) {
        return NULL;
    }
    if (hotplug && info->bus != BUS_PCI) {
        /* only pci.0 has a hotplug handler (ACPI PCI hotplug) on the pc machine */
        *errp = g_strdup_printf("Bus '%s' does not support hotplugging", bus_qom_name(info->bus));
        return NULL;
    }
    if (hotplug && dc->id && device_find_id(dc->id)) {
        *errp = g_strdup_printf("Duplicate device ID '%s'", dc->id);
        return NULL;
    }
    Device *dev = device_new(info);
    dev->id = g_strdup(dc->id);
    dev->bus_name = g_strdup(bus);
    dev->from_cli = true;
    dev->anon_index = -1;
    dev->hotplugged = hotplug;
    if (!apply_globals(dev, errp)) {
        device_free(dev);
        return NULL;
    }
    for (int i = 0; i < dc->n_props; i++) {
        const char *k = dc->prop_keys[i];
        if (!strcmp(k, "bus")) {
            continue;
        }
        const Property *p = device_info_prop(info, k);
        int kind = dc->prop_kinds ? dc->prop_kinds[i] : KIND_TEXT;
        if (!p || p->type == PROP_HELP_ONLY || p->hidden) {
            *errp = g_strdup_printf("Property '%s.%s' not found", info->name, k);
            device_free(dev);
            return NULL;
        }
        if (!set_prop_kind(dev, p, dc->prop_values[i], kind, errp)) {
            device_free(dev);
            return NULL;
        }
    }
    if (check_only) {
        if (info->child_bus != BUS_NONE) {
            if (!pending_buses) {
                pending_buses = g_ptr_array_new();
            }
            g_ptr_array_add(pending_buses, child_bus_name(info, dc->id));
            g_ptr_array_add(pending_buses, GINT_TO_POINTER(info->child_bus));
        }
        device_free(dev);
        return NULL;
    }
    if (!dev->id) {
        dev->anon_index = anon_devices; /* QEMU's device[N]: counted once realized */
    }
    if (!device_realize(dev, errp)) {
        device_free(dev);
        return NULL;
    }
    if (!dev->id) {
        anon_devices++;
    }
    if (hotplug && !pci_device_hotplug_plug(PCI_DEVICE(dev), errp)) {
        device_free(dev);
        return NULL;
    }
    return dev;
}

static int next_unattached;

void device_set_next_unattached(int index)
{
    next_unattached = index;
}

Device *device_create_simple(const char *name, ...)
{
    int unattached = next_unattached;
    next_unattached = 0;
    const DeviceInfo *info = device_info_find(name);
    if (!info) {
        error_report("internal error: no device type '%s'", name);
        return NULL;
    }
    Device *dev = device_new(info);
    dev->unattached_index = unattached;
    char *err = NULL;
    bool ok = apply_globals(dev, &err);
    va_list ap;
    va_start(ap, name);
    for (const char *k; ok && (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        if (!strcmp(k, "bus")) {
            g_free(dev->bus_name);
            dev->bus_name = g_strdup(v);
            continue;
        }
        ok = device_set_prop(dev, k, v, &err);
    }
    va_end(ap);
    if (!ok || !device_realize(dev, &err)) {
        error_report("%s", err ? err : "cannot create device");
        g_free(err);
        device_free(dev);
        return NULL;
    }
    return dev;
}
