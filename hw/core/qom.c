/*
 * Introspection as QEMU 7.2's QOM answers it (qom-list-types, device-list-properties, qom-list,
 * qom-get), read from the device registry and the machine's device list: Vireo has no object
 * tree, so the paths a management tool reads are resolved here. Types: every DeviceInfo (but
 * the not_qom ones) with its QEMU parent and interfaces, the abstract types above them, and the
 * machine types query-machines lists. Paths: /, /machine (its type), /machine/peripheral,
 * /machine/peripheral-anon and the -device/device_add devices under them, absolute or as a
 * partial path (a peripheral id). Lists come in Vireo's order; QEMU's is a hash table's.
 */
#include <stdio.h>
#include <glib.h>
#include <string.h>
#include "vireo/device.h"
#include "vireo/qom.h"
#include "vireo/runstate.h"

typedef struct QomType {
    const char *name, *parent;
    bool abstract;
    const char *ifaces[3];
} QomType;

/* QEMU's abstract types above Vireo's devices and machines, and the interfaces among them. */
static const QomType abstract_types[] = {
    {"object", NULL, true, {NULL}},
    {"device", "object", true, {"resettable", "vmstate-if"}},
    {"pci-device", "device", true, {NULL}},
    {"isa-device", "device", true, {NULL}},
    {"sys-bus-device", "device", true, {NULL}},
    {"pci-piix3", "pci-device", true, {"conventional-pci-device", "acpi-dev-aml-interface"}},
    {"pci-ide", "pci-device", true, {NULL}},
    {"pci-vga", "pci-device", true, {"conventional-pci-device", "acpi-dev-aml-interface"}},
    {"virtio-pci", "pci-device", true, {"conventional-pci-device", "pci-express-device"}},
    {"e1000-base", "pci-device", true, {"conventional-pci-device"}},
    {"virtio-blk-pci-base", "virtio-pci", true, {NULL}},
    {"virtio-rng-pci-base", "virtio-pci", true, {NULL}},
    {"virtio-balloon-pci-base", "virtio-pci", true, {NULL}},
    {"virtio-net-pci-base", "virtio-pci", true, {NULL}},
    {"virtio-scsi-pci-base", "virtio-pci", true, {NULL}},
    {"scsi-device", "device", true, {NULL}},
    {"pci-uhci-usb", "pci-device", true, {"conventional-pci-device"}},
    {"usb-device", "device", true, {NULL}},
    {"usb-hid", "usb-device", true, {NULL}},
    {"scsi-disk-base", "scsi-device", true, {NULL}},
    {"ide-device", "device", true, {NULL}},
    {"pic-common", "isa-device", true, {"intctrl"}},
    {"ioapic-common", "sys-bus-device", true, {"intctrl"}},
    {"apic-common", "device", true, {NULL}},
    {"pit-common", "isa-device", true, {NULL}},
    {"machine", "object", true, {NULL}},
    {"x86-machine", "machine", true, {"nmi"}},
    {"generic-pc-machine", "x86-machine", true, {"hotplug-handler"}},
    {"interface", NULL, true, {NULL}},
    {"conventional-pci-device", "interface", true, {NULL}},
    {"pci-express-device", "interface", true, {NULL}},
    {"resettable", "interface", true, {NULL}},
    {"vmstate-if", "interface", true, {NULL}},
    {"acpi-dev-aml-interface", "interface", true, {NULL}},
    {"acpi-device-interface", "interface", true, {NULL}},
    {"hotplug-handler", "interface", true, {NULL}},
    {"intctrl", "interface", true, {NULL}},
    {"nmi", "interface", true, {NULL}},
    /* the machine types of query-machines */
    {"pc-i440fx-7.2-machine", "generic-pc-machine", false, {NULL}},
    {"pc-q35-7.2-machine", "generic-pc-machine", false, {NULL}},
    {"none-machine", "machine", false, {NULL}},
};

static const char *device_parent(const DeviceInfo *info)
{
    if (info->qom_parent) {
        return info->qom_parent;
    }
    switch (info->bus) {
    case BUS_PCI:
        return "pci-device";
    case BUS_ISA:
        return "isa-device";
    case BUS_SYSTEM:
        return "sys-bus-device";
    default:
        return "device";
    }
}

static const DeviceInfo *qom_device(const char *name)
{
    for (const DeviceInfo *const *i = device_infos; *i; i++) {
        if (!(*i)->not_qom && !strcmp((*i)->name, name)) {
            return *i;
        }
    }
    return NULL;
}

static const QomType *qom_abstract(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(abstract_types); i++) {
        if (!strcmp(abstract_types[i].name, name)) {
            return &abstract_types[i];
        }
    }
    return NULL;
}

static const char *type_parent(const char *name)
{
    const DeviceInfo *d = qom_device(name);
    if (d) {
        return device_parent(d);
    }
    const QomType *t = qom_abstract(name);
    return t ? t->parent : NULL;
}

static int interface_count(const char *name)
{
    int n = 0;
    for (const char *t = name; t; t = type_parent(t)) {
        const DeviceInfo *d = qom_device(t);
        if (d) {
            n += d->bus == BUS_PCI && !d->qom_parent;
            for (const char *const *i = d->qom_interfaces; i && *i; i++) {
                n++;
            }
            continue;
        }
        const QomType *a = qom_abstract(t);
        for (int i = 0; a && i < 3 && a->ifaces[i]; i++) {
            n++;
        }
    }
    return n;
}

/*
 * Whether type `name` is `want` or derives from it or implements it (any ancestor's). As in
 * QEMU's cast, "interface" itself matches a class through its interfaces only when there is
 * exactly one (more are ambiguous).
 */
static bool type_implements(const char *name, const char *want)
{
    for (const char *t = name; t; t = type_parent(t)) {
        if (!strcmp(t, want)) {
            return true;
        }
    }
    if (!strcmp(want, "interface")) {
        return interface_count(name) == 1;
    }
    for (const char *t = name; t; t = type_parent(t)) {
        const DeviceInfo *d = qom_device(t);
        if (d) {
            if (d->bus == BUS_PCI && !d->qom_parent && !strcmp(want, "conventional-pci-device")) {
                return true;
            }
            for (const char *const *i = d->qom_interfaces; i && *i; i++) {
                if (!strcmp(*i, want)) {
                    return true;
                }
            }
            continue;
        }
        const QomType *a = qom_abstract(t);
        for (int i = 0; a && i < 3 && a->ifaces[i]; i++) {
            if (!strcmp(a->ifaces[i], want)) {
                return true;
            }
        }
    }
    return false;
}

static void add_type(QJ *list, const char *name, const char *parent, bool abstract,
                     const char *implements, bool want_abstract)
{
    if ((abstract && !want_abstract) || (implements && !type_implements(name, implements))) {
        return;
    }
    QJ *e = qj_object();
    qj_set_str(e, "name", name);
    if (abstract) {
        qj_set_bool(e, "abstract", true);
    }
    if (parent) {
        qj_set_str(e, "parent", parent);
    }
    qj_append(list, e);
}

QJ *qom_list_types(const char *implements, bool abstract)
{
    QJ *list = qj_array();
    for (const DeviceInfo *const *i = device_infos; *i; i++) {
        if (!(*i)->not_qom) {
            add_type(list, (*i)->name, device_parent(*i), false, implements, abstract);
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(abstract_types); i++) {
        const QomType *t = &abstract_types[i];
        add_type(list, t->name, t->parent, t->abstract, implements, abstract);
    }
    return list;
}

typedef struct PropList {
    QJ *list;
    bool with_defaults; /* device-list-properties (else qom-list: name and type only) */
} PropList;

static void add_prop(void *opaque, const Property *p, const char *type, const char *desc,
                     const char *default_json)
{
    PropList *pl = opaque;
    QJ *e = qj_object();
    qj_set_str(e, "name", p->name);
    qj_set_str(e, "type", type);
    if (pl->with_defaults && desc) {
        qj_set_str(e, "description", desc);
    }
    if (pl->with_defaults && default_json) {
        QJ *v = qj_parse(default_json, NULL);
        if (v) {
            qj_set(e, "default-value", v);
        }
    }
    qj_append(pl->list, e);
}

QJ *qom_device_list_properties(const char *typename, QomError *err)
{
    const DeviceInfo *d = qom_device(typename);
    if (!d) {
        if (qom_abstract(typename)) {
            err->not_found = false;
            err->msg = g_strdup("Parameter 'typename' expects a non-abstract device type");
        } else {
            err->not_found = true;
            err->msg = g_strdup_printf("Device '%s' not found", typename);
        }
        return NULL;
    }
    PropList pl = {qj_array(), true};
    device_info_foreach_prop(d, add_prop, &pl);
    return pl.list;
}

/* ---- paths ---------------------------------------------------------------------------- */

typedef enum { OBJ_ROOT, OBJ_MACHINE, OBJ_PERIPHERAL, OBJ_PERIPHERAL_ANON, OBJ_DEVICE } ObjKind;

typedef struct Obj {
    ObjKind kind;
    Device *dev;
    char *path; /* canonical */
} Obj;

static bool is_pc(void)
{
    const VireoConfig *cfg = vm_config();
    return cfg && cfg->machine_type && strcmp(cfg->machine_type, "none");
}

static const char *machine_type_name(void)
{
    const VireoConfig *cfg = vm_config();
    if (!cfg || !cfg->machine_type || !strcmp(cfg->machine_type, "none")) {
        return "none-machine";
    }
    return strstr(cfg->machine_type, "q35") ? "pc-q35-7.2-machine" : "pc-i440fx-7.2-machine";
}

/* The peripheral devices (-device, device_add): with an id, or anonymous. */
static bool peripheral(Device *d, bool anon)
{
    return d->from_cli && d->realized && !d->info->not_qom && (d->id == NULL) == anon;
}

static bool resolve_abs(char **parts, Obj *o)
{
    int n = 0;
    const char *c[4];
    for (char **p = parts; *p; p++) {
        if (**p) {
            if (n == 4) {
                return false;
            }
            c[n++] = *p;
        }
    }
    o->dev = NULL;
    if (n == 0) {
        o->kind = OBJ_ROOT;
        o->path = g_strdup("/");
        return true;
    }
    if (strcmp(c[0], "machine")) {
        return false;
    }
    if (n == 1) {
        o->kind = OBJ_MACHINE;
        o->path = g_strdup("/machine");
        return true;
    }
    bool anon = !strcmp(c[1], "peripheral-anon");
    if (!anon && strcmp(c[1], "peripheral")) {
        return false;
    }
    if (n == 2) {
        o->kind = anon ? OBJ_PERIPHERAL_ANON : OBJ_PERIPHERAL;
        o->path = g_strdup_printf("/machine/%s", c[1]);
        return true;
    }
    if (n > 3) {
        return false;
    }
    for (Device *d = device_list_first(); d; d = d->next) {
        if (!peripheral(d, anon)) {
            continue;
        }
        char *path = device_qom_path(d);
        bool match = !strcmp(strrchr(path, '/') + 1, c[2]);
        if (match) {
            o->kind = OBJ_DEVICE;
            o->dev = d;
            o->path = path;
            return true;
        }
        g_free(path);
    }
    return false;
}

/* An absolute path, or a partial one naming one object (here: a peripheral's id). */
static bool resolve(const char *path, Obj *o)
{
    if (path[0] == '/') {
        char **parts = g_strsplit(path, "/", -1);
        bool ok = resolve_abs(parts, o);
        g_strfreev(parts);
        return ok;
    }
    if (!is_pc() || strchr(path, '/')) {
        return false;
    }
    Device *d = device_find_id(path);
    if (!d || !peripheral(d, false)) {
        return false;
    }
    o->kind = OBJ_DEVICE;
    o->dev = d;
    o->path = device_qom_path(d);
    return true;
}

static void entry(QJ *list, const char *name, const char *type)
{
    QJ *e = qj_object();
    qj_set_str(e, "name", name);
    qj_set_str(e, "type", type);
    qj_append(list, e);
}

static void device_children(Device *d, void (*fn)(void *, const char *, const char *), void *op)
{
    for (const char *const *c = d->info->qom_children; c && *c; c++) {
        const char *eq = strchr(*c, '=');
        char *name = g_strndup(*c, eq - *c);
        fn(op, name, eq + 1);
        g_free(name);
    }
    if (d->info->bus == BUS_PCI) {
        fn(op, "bus master[0]", "child<memory-region>");
        fn(op, "bus master container[0]", "child<memory-region>");
    }
}

static void list_child(void *opaque, const char *name, const char *type)
{
    entry(opaque, name, type);
}

QJ *qom_list(const char *path, QomError *err)
{
    Obj o;
    if (!resolve(path, &o)) {
        err->not_found = true;
        err->msg = g_strdup_printf("Device '%s' not found", path);
        return NULL;
    }
    QJ *list = qj_array();
    entry(list, "type", "string");
    switch (o.kind) {
    case OBJ_ROOT: {
        entry(list, "objects", "child<container>");
        char *t = g_strdup_printf("child<%s>", machine_type_name());
        entry(list, "machine", t);
        g_free(t);
        entry(list, "chardevs", "child<container>");
        break;
    }
    case OBJ_MACHINE:
        entry(list, "peripheral-anon", "child<container>");
        entry(list, "peripheral", "child<container>");
        break;
    case OBJ_PERIPHERAL:
    case OBJ_PERIPHERAL_ANON:
        for (Device *d = device_list_first(); d; d = d->next) {
            if (peripheral(d, o.kind == OBJ_PERIPHERAL_ANON)) {
                char *p = device_qom_path(d);
                char *t = g_strdup_printf("child<%s>", d->info->name);
                entry(list, strrchr(p, '/') + 1, t);
                g_free(t);
                g_free(p);
            }
        }
        break;
    case OBJ_DEVICE: {
        entry(list, "parent_bus", "link<bus>");
        entry(list, "realized", "bool");
        entry(list, "hotplugged", "bool");
        entry(list, "hotpluggable", "bool");
        PropList pl = {list, false};
        device_info_foreach_prop(o.dev->info, add_prop, &pl);
        if (o.dev->info->bus == BUS_PCI) {
            entry(list, "legacy-addr", "str");
        }
        device_children(o.dev, list_child, list);
        break;
    }
    }
    g_free(o.path);
    return list;
}

typedef struct ChildFind {
    const char *name;
    const char *type;
} ChildFind;

static void find_child(void *opaque, const char *name, const char *type)
{
    ChildFind *f = opaque;
    if (!f->type && !strcmp(name, f->name)) {
        f->type = g_intern_string(type);
    }
}

static QJ *device_prop(Obj *o, const char *prop)
{
    Device *d = o->dev;
    const DeviceInfo *info = d->info;
    if (!strcmp(prop, "type")) {
        return qj_string(info->name);
    }
    if (!strcmp(prop, "realized")) {
        return qj_bool(d->realized);
    }
    if (!strcmp(prop, "hotplugged")) {
        return qj_bool(d->hotplugged);
    }
    if (!strcmp(prop, "hotpluggable")) {
        return qj_bool(info->hotpluggable && info->bus == BUS_PCI); /* and its bus is */
    }
    if (!strcmp(prop, "parent_bus")) {
        if (info->bus == BUS_PCI) {
            return qj_string("/machine/i440fx/pci.0");
        }
        if (info->bus == BUS_ISA) {
            /* under PIIX3, which QEMU's pc creates after the CPUs and two more objects */
            return qj_string_take(
                g_strdup_printf("/machine/unattached/device[%u]/isa.0", vm_cpu_count() + 2));
        }
        return qj_string("/machine/unattached/sysbus");
    }
    if (info->bus == BUS_PCI && !strcmp(prop, "legacy-addr")) {
        const Property *p = device_info_prop(info, "addr");
        return qj_string_take(device_get_prop(d, p));
    }
    if (info->qom_get) {
        QJ *v = info->qom_get(d, prop);
        if (v) {
            return v;
        }
    }
    const Property *p = device_info_prop(info, prop);
    ChildFind f = {prop, p && p->type == PROP_HELP_ONLY ? p->type_name : NULL};
    if (!p) {
        device_children(d, find_child, &f);
    }
    if (f.type) {
        /* a child is its path; an unset link is empty */
        if (g_str_has_prefix(f.type, "child<")) {
            return qj_string_take(g_strdup_printf("%s/%s", o->path, prop));
        }
        return qj_string("");
    }
    if (!p) {
        return NULL;
    }
    char *json = device_get_prop_json(d, p);
    QJ *v = json ? qj_parse(json, NULL) : NULL;
    g_free(json);
    return v;
}

QJ *qom_get(const char *path, const char *prop, QomError *err)
{
    Obj o;
    if (!resolve(path, &o)) {
        err->not_found = true;
        err->msg = g_strdup_printf("Device '%s' not found", path);
        return NULL;
    }
    QJ *v = NULL;
    const char *type = "container";
    switch (o.kind) {
    case OBJ_ROOT:
        if (!strcmp(prop, "type")) {
            v = qj_string("container");
        } else if (!strcmp(prop, "machine") || !strcmp(prop, "objects") ||
                   !strcmp(prop, "chardevs")) {
            v = qj_string_take(g_strdup_printf("/%s", prop));
        }
        break;
    case OBJ_MACHINE:
        type = machine_type_name();
        if (!strcmp(prop, "type")) {
            v = qj_string(type);
        } else if (!strcmp(prop, "peripheral") || !strcmp(prop, "peripheral-anon")) {
            v = qj_string_take(g_strdup_printf("/machine/%s", prop));
        }
        break;
    case OBJ_PERIPHERAL:
    case OBJ_PERIPHERAL_ANON:
        if (!strcmp(prop, "type")) {
            v = qj_string("container");
            break;
        }
        for (Device *d = device_list_first(); d && !v; d = d->next) {
            if (peripheral(d, o.kind == OBJ_PERIPHERAL_ANON)) {
                char *p = device_qom_path(d);
                if (!strcmp(strrchr(p, '/') + 1, prop)) {
                    v = qj_string_take(p);
                } else {
                    g_free(p);
                }
            }
        }
        break;
    case OBJ_DEVICE:
        type = o.dev->info->name;
        v = device_prop(&o, prop);
        break;
    }
    if (!v) {
        err->not_found = false;
        err->msg = g_strdup_printf("Property '%s.%s' not found", type, prop);
    }
    g_free(o.path);
    return v;
}

/*
 * qom-set: what a device lets change while it runs (its qom_set hook: the balloon's polling
 * interval); everything else is refused in QEMU's words: properties that only read ("type",
 * children, links, the device's state) are not writable, and a device's -device properties
 * cannot change once it is realized. Known differences: QEMU also takes "realized" (and then
 * unrealizes the device) and a few plain QOM properties such as edu's dma_mask; Vireo refuses
 * them. For a virtio device, properties other than the PCI and transport ones belong to QEMU's
 * inner device (anonymous, of the "virtio-backend" child's type).
 */
static const char *backend_type(const DeviceInfo *info, char *buf, size_t len)
{
    const Property *b = device_info_prop(info, "virtio-backend");
    if (!b || !g_str_has_prefix(b->type_name, "child<")) {
        return NULL;
    }
    snprintf(buf, len, "%.*s", (int)strlen(b->type_name) - 7, b->type_name + 6);
    return buf;
}

static bool in_list(const Property *p, const Property *list)
{
    for (; list && list->name; list++) {
        if (list == p) {
            return true;
        }
    }
    return false;
}

bool qom_set(const char *path, const char *prop, const QJ *value, QomError *err)
{
    Obj o;
    if (!resolve(path, &o)) {
        err->not_found = true;
        err->msg = g_strdup_printf("Device '%s' not found", path);
        return false;
    }
    if (o.kind == OBJ_DEVICE && o.dev->info->qom_set) {
        char *e = NULL;
        int r = o.dev->info->qom_set(o.dev, prop, value, &e);
        if (r) {
            g_free(o.path);
            err->msg = e;
            return r > 0;
        }
    }
    QomError ge = {0};
    QJ *v = qom_get(o.path, prop, &ge);
    if (!v) {
        g_free(o.path);
        *err = ge; /* not found */
        return false;
    }
    qj_free(v);
    const Property *p = o.kind == OBJ_DEVICE ? device_info_prop(o.dev->info, prop) : NULL;
    if (p && p->type != PROP_HELP_ONLY) {
        const DeviceInfo *info = o.dev->info;
        char bt[64];
        const char *inner = in_list(p, info->props) ? backend_type(info, bt, sizeof(bt)) : NULL;
        if (inner || !o.dev->id) {
            err->msg = g_strdup_printf("Attempt to set property '%s' on anonymous device (type "
                                       "'%s') after it was realized",
                                       prop, inner ? inner : info->name);
        } else {
            err->msg = g_strdup_printf("Attempt to set property '%s' on device '%s' (type '%s') "
                                       "after it was realized",
                                       prop, o.dev->id, info->name);
        }
    } else {
        /* a virtio device's read-only properties but its child are its inner device's */
        char bt[64];
        const char *inner = p && strcmp(prop, "virtio-backend") && in_list(p, o.dev->info->props)
                                ? backend_type(o.dev->info, bt, sizeof(bt))
                                : NULL;
        const char *type = inner                   ? inner
                           : o.kind == OBJ_DEVICE  ? o.dev->info->name
                           : o.kind == OBJ_MACHINE ? machine_type_name()
                                                   : "container";
        err->msg = g_strdup_printf("Property '%s.%s' is not writable", type, prop);
    }
    g_free(o.path);
    return false;
}
