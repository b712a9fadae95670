/*
 * The device model (hw/core/qdev.c, docs/device-model.md): one DeviceInfo per device type,
 * registered once in an explicit list (hw/core/device-list.c), read by the command line
 * (-device, -device help, -device TYPE,help, -global), by the machine, and later by
 * device_add/device_del, qom-list-types and device-list-properties.
 *
 * A device's state is a C struct whose first member is its bus's device struct (Device, or
 * PCIDevice whose first member is Device): one level deep, no inheritance beyond that.
 * Properties are a table of (QEMU name, type, offset into that struct, default, help).
 * Lifecycle:
 *
 *   device_new(info)            zeroed instance, property defaults applied (and -global values)
 *   device_set_prop(dev, k, v)  command-line text parsed by the property's type (QEMU errors)
 *   device_realize(dev, errp)   the bus plugs it (PCI: devfn, config space), then info->realize
 *                               maps regions, takes IRQ handles, opens backends
 *   info->reset(dev)            power-on state; machine reset calls every device's, in reverse
 *                               order of creation; nothing is rebuilt
 *   device_unrealize / free     unrealize in reverse order of creation (teardown, device_del)
 *
 * Saved state: info->vmsd, a declarative field table with a version (vmstate.h); savevm and
 * migration walk the device list with it.
 */
#ifndef VIREO_DEVICE_H
#define VIREO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vireo/config.h"

typedef struct Device Device;
typedef struct DeviceInfo DeviceInfo;
typedef struct VMStateDescription VMStateDescription;
typedef struct PCIDeviceInfo PCIDeviceInfo;
typedef struct QJ QJ;

/* QEMU's -device help categories, in its print order. */
typedef enum {
    DEVICE_CATEGORY_BRIDGE,  /* "Controller/Bridge/Hub devices" */
    DEVICE_CATEGORY_USB,     /* "USB devices" */
    DEVICE_CATEGORY_STORAGE, /* "Storage devices" */
    DEVICE_CATEGORY_NETWORK, /* "Network devices" */
    DEVICE_CATEGORY_INPUT,   /* "Input devices" */
    DEVICE_CATEGORY_DISPLAY, /* "Display devices" */
    DEVICE_CATEGORY_SOUND,   /* "Sound devices" */
    DEVICE_CATEGORY_MISC,    /* "Misc devices" */
    DEVICE_CATEGORY_CPU,     /* "CPU devices" */
    DEVICE_CATEGORY_WATCHDOG,
    DEVICE_CATEGORY_NONE, /* "Uncategorized devices" */
    DEVICE_CATEGORY_COUNT,
} DeviceCategory;

typedef enum { BUS_NONE, BUS_SYSTEM, BUS_ISA, BUS_PCI, BUS_SCSI, BUS_USB, BUS_IDE } BusType;

typedef enum {
    PROP_BOOL,      /* "on"/"off"/"true"/"false"/"yes"/"no" -> bool */
    PROP_UINT8,     /* uint8_t */
    PROP_UINT16,    /* uint16_t */
    PROP_UINT32,    /* uint32_t */
    PROP_INT32,     /* int32_t */
    PROP_UINT64,    /* uint64_t */
    PROP_SIZE,      /* uint64_t, with k/M/G/T suffixes */
    PROP_STRING,    /* char * (g_free'd with the device) */
    PROP_PCI_DEVFN, /* int32_t: "SLOT[.FN]" (hex) or a number; -1 = first free slot */
    PROP_CHR,       /* char *: a chardev id (the device looks it up) */
    PROP_DRIVE,     /* char *: a block node name or -drive id */
    PROP_NETDEV,    /* char *: a netdev id */
    PROP_MACADDR,   /* uint8_t[6] */
    PROP_ONOFFAUTO, /* int: ON_OFF_AUTO_* */
    PROP_HELP_ONLY, /* no value: a line in "-device X,help" only (QEMU's link<>/child<>) */
    PROP_ENUM,      /* int: an index into .enum_names (QEMU's QAPI enums: BlockdevOnError) */
    PROP_SIZE32,    /* uint32_t with k/M/G suffixes, at most 4294967295 */
    PROP_BLOCKSIZE, /* uint32_t: a power of two from 512 to 2 MiB, or 0 (QEMU's blocksize) */
} PropType;

enum { ON_OFF_AUTO_AUTO, ON_OFF_AUTO_ON, ON_OFF_AUTO_OFF };

typedef struct Property {
    const char *name; /* QEMU's name */
    PropType type;
    size_t offset; /* in the device's state struct */
    bool has_default;
    union {
        uint64_t u;
        int64_t i;
        bool b;
        const char *s;
    } def;
    /*
     * Help text as QEMU prints it after " - " (e.g. "on/off" for DEFINE_PROP_BIT bools);
     * NULL: the type's own (chardev: "ID of a chardev to use as a backend", ...), if any.
     */
    const char *desc;
    /* The type name "-device X,help" prints (NULL: the type's: uint32, bool, str, ...). */
    const char *type_name;
    /* Setting it on the command line is refused with QEMU's message (read-only/internal). */
    bool hidden;
    /* PROP_ENUM: the values' names, NULL-terminated */
    const char *const *enum_names;
    /*
     * The QOM type QEMU names in this property's value errors when it is not the -device
     * type ("virtio-blk-device" for virtio-blk-pci's block properties); NULL: the device's.
     */
    const char *owner;
    /* Vireo's own wiring, not QEMU's: left out of -device X,help and introspection. */
    bool internal;
} Property;

/* Table helpers: DEFINE_PROP_UINT32("iobase", MyState, iobase, 0x501), ... end with
 * DEFINE_PROP_END. */
#define DEFINE_PROP_(n, t, st, f, hd, d, ...)                                                   \
    {.name = (n), .type = (t), .offset = offsetof(st, f), .has_default = (hd), d, __VA_ARGS__}
#define DEFINE_PROP_BOOL(n, st, f, v)   DEFINE_PROP_(n, PROP_BOOL, st, f, true, .def.b = (v))
#define DEFINE_PROP_BIT(n, st, f, v)    DEFINE_PROP_(n, PROP_BOOL, st, f, true, .def.b = (v), .desc = "on/off")
#define DEFINE_PROP_UINT8(n, st, f, v)  DEFINE_PROP_(n, PROP_UINT8, st, f, true, .def.u = (v))
#define DEFINE_PROP_UINT16(n, st, f, v) DEFINE_PROP_(n, PROP_UINT16, st, f, true, .def.u = (v))
#define DEFINE_PROP_UINT32(n, st, f, v) DEFINE_PROP_(n, PROP_UINT32, st, f, true, .def.u = (v))
#define DEFINE_PROP_INT32(n, st, f, v)  DEFINE_PROP_(n, PROP_INT32, st, f, true, .def.i = (v))
#define DEFINE_PROP_UINT64(n, st, f, v) DEFINE_PROP_(n, PROP_UINT64, st, f, true, .def.u = (v))
#define DEFINE_PROP_SIZE(n, st, f, v)   DEFINE_PROP_(n, PROP_SIZE, st, f, true, .def.u = (v))
#define DEFINE_PROP_STRING(n, st, f)    DEFINE_PROP_(n, PROP_STRING, st, f, false, .def.s = NULL)
#define DEFINE_PROP_CHR(n, st, f)       DEFINE_PROP_(n, PROP_CHR, st, f, false, .def.s = NULL)
#define DEFINE_PROP_DRIVE(n, st, f)     DEFINE_PROP_(n, PROP_DRIVE, st, f, false, .def.s = NULL)
#define DEFINE_PROP_NETDEV(n, st, f)    DEFINE_PROP_(n, PROP_NETDEV, st, f, false, .def.s = NULL)
#define DEFINE_PROP_MACADDR(n, st, f)   DEFINE_PROP_(n, PROP_MACADDR, st, f, false, .def.u = 0)
#define DEFINE_PROP_ENUM(n, st, f, names, tn, d, desc_)                                       \
    DEFINE_PROP_(n, PROP_ENUM, st, f, true, .def.i = (d), .enum_names = (names),             \
                 .type_name = (tn), .desc = (desc_))
/* A help line only: DEFINE_PROP_HELP("a20[0]", "link<irq>"). */
#define DEFINE_PROP_HELP(n, tn)                                                                \
    {.name = (n), .type = PROP_HELP_ONLY, .type_name = (tn)}
#define DEFINE_PROP_END {.name = NULL}

struct DeviceInfo {
    const char *name; /* -device name */
    const char *desc; /* NULL: no desc in "-device help" */
    DeviceCategory category;
    BusType bus;
    size_t instance_size; /* the state struct, Device (or PCIDevice) first */
    const Property *props;
    bool user_creatable; /* -device / device_add may create it (else the machine only) */
    bool hotpluggable;
    /* Plug: regions, IRQ handles, backends. false with *errp (g_malloc'd) on failure. */
    bool (*realize)(Device *dev, char **errp);
    void (*unrealize)(Device *dev);
    void (*reset)(Device *dev);
    const VMStateDescription *vmsd;
    const PCIDeviceInfo *pci; /* bus == BUS_PCI: IDs, config hooks (pci.h) */
    /* -device aliases ("pci-testdev" needs none); NULL-terminated, may be NULL. */
    const char *const *aliases;
    /*
     * A family of device types built on one base (virtio-pci: the transport): properties every
     * member has (offsets into the member's state, whose first member is the family's base
     * struct), and the family's own descriptor of this type (virtio-pci.h's
     * VirtIOPCIDeviceInfo).
     */
    const Property *family_props;
    const void *family;
    /*
     * Not a QOM type in QEMU (a bare memory region there: ioport80, ioportF0): introspection
     * (qom-list-types, info qtree, qom-list) leaves it out.
     */
    bool not_qom;
    /*
     * Introspection (hw/core/qom.c): QEMU's parent type (NULL: "pci-device", "isa-device" or
     * "sys-bus-device" by bus), the interfaces QEMU's type adds to its parents' (NULL-terminated,
     * may be NULL), and the QOM children an instance has beyond its properties, as
     * "name=type" ("edu-mmio[0]=child<memory-region>"; PCI's bus master regions come with the
     * bus).
     */
    const char *qom_parent;
    const char *const *qom_interfaces;
    const char *const *qom_children;
    /* A device with a "bootindex" property: what QEMU appends to its firmware path in the
     * bootorder file ("/disk@0,0" for virtio-blk) */
    const char *boot_suffix;
    /* The bus an instance provides for other devices (virtio-scsi-pci: BUS_SCSI), named as
     * QEMU names it: "ID.0", or "scsi.0" without an id. */
    BusType child_bus;
    /*
     * Properties the device computes or lets change while it runs (QEMU's dynamic QOM
     * properties: the balloon's guest-stats, guest-stats-polling-interval), under the big lock:
     * qom_get returns the value (NULL: not one of them); qom_set returns 1 when it set it, 0 when
     * prop is not one of them, -1 with *errp (g_malloc'd, QEMU's words).
     */
    QJ *(*qom_get)(Device *dev, const char *prop);
    int (*qom_set)(Device *dev, const char *prop, const QJ *value, char **errp);
};

struct Device {
    const DeviceInfo *info;
    char *id;        /* id=, or NULL */
    char *canonical; /* QEMU's path-ish name for messages ("edu", or the id) */
    bool realized;
    bool from_cli; /* -device / device_add (not machine-built) */
    bool hotplugged;     /* device_add while the machine existed */
    bool unplug_pending; /* device_del asked the guest; it has not ejected it yet */
    int anon_index;      /* from_cli without id: N of /machine/peripheral-anon/device[N] */
    char *bus_name;      /* bus= as given (devices on buses devices own: SCSI), or NULL */
    int unattached_index; /* > 0: QEMU's /machine/unattached/device[N] (machine-made drives) */
    Device *next;        /* machine's device list, creation order */
};

/* ---- registry ---- */

/* Every DeviceInfo Vireo has (hw/core/device-list.c), NULL-terminated. */
extern const DeviceInfo *const device_infos[];
const DeviceInfo *device_info_find(const char *name); /* name or alias */
const Property *device_info_prop(const DeviceInfo *info, const char *name);
const char *device_category_name(DeviceCategory c);
/* "-device help" and "-device NAME,help" as QEMU 7.2 prints them (stdout). */
void device_print_list(void);
void device_print_props(const DeviceInfo *info);

/* ---- instances ---- */

/* A new instance (zeroed, defaults and -global values applied), not on any list. */
Device *device_new(const DeviceInfo *info);
/*
 * Set a property from its text as QEMU's -device/-global would; false with *errp (QEMU's
 * message, e.g. "Parameter 'iobase' expects uint32_t") on a bad value, an unknown property
 * ("Property 'edu.foo' not found") or a hidden one.
 */
bool device_set_prop(Device *dev, const char *name, const char *value, char **errp);
/* The property's current value as text (device-list-properties, info qtree). g_free it. */
char *device_get_prop(Device *dev, const Property *p);
/* The value as JSON text as qom-get returns it (NULL for a help-only property). g_free it. */
char *device_get_prop_json(Device *dev, const Property *p);
/*
 * Every property of a type as device-list-properties has it (the -device X,help set): name,
 * type name, description or NULL, default as JSON text or NULL.
 */
typedef void DevicePropFn(void *opaque, const Property *p, const char *type, const char *desc,
                          const char *default_json);
void device_info_foreach_prop(const DeviceInfo *info, DevicePropFn *fn, void *opaque);
/* Bus plug + info->realize; on success the device joins the machine's list. */
bool device_realize(Device *dev, char **errp);
void device_unrealize(Device *dev);
void device_free(Device *dev);

/* QEMU's QOM path: /machine/peripheral/ID, /machine/peripheral-anon/device[N], ... (g_free). */
char *device_qom_path(const Device *dev);

/* The machine's devices, in creation order. */
Device *device_list_first(void);
Device *device_find_id(const char *id);
/* Reset every realized device, newest first. */
void devices_reset_all(void);
/* Unrealize and free every device, newest first (machine teardown). */
void devices_destroy_all(void);

/*
 * Create, configure and realize a device in one go from the command line's DeviceConfig
 * (-device driver=...,id=...,bus=...,prop=...), with QEMU's messages. check_only: parse and
 * validate what can be checked before the machine exists (command-line time), create nothing.
 */
Device *device_create_from_config(const DeviceConfig *dc, bool check_only, char **errp);
/* Machine-built devices: new + props as "k1", "v1", ..., NULL + realize; errors are fatal to
 * the machine (error_report, NULL). */
Device *device_create_simple(const char *name, ...);

/* The next device_create_simple() makes QEMU's /machine/unattached/device[index] (the IDE
 * drives the pc machine makes for -drive if=ide). */
void device_set_next_unattached(int index);

/*
 * Hotplug (QMP/HMP device_add, device_del), as QEMU's pc machine does it: a PCI device on pci.0
 * through ACPI PCI hotplug (PIIX4 PM's registers at 0xAE00, GPE 1; hw/acpi/pcihp.c); devices on
 * other buses are refused with QEMU's messages. device_hotplug() creates, realizes and announces
 * the device to the guest. device_unplug_request() finds it by id or QOM path
 * (/machine/peripheral/ID, /machine/peripheral-anon/device[N]) and asks the guest to eject it:
 * returns 0, -1 with *errp, or -2 with *errp when nothing has that id (QMP's DeviceNotFound).
 * The eject (or a machine reset while the request is pending) ends in device_unplug_complete():
 * DEVICE_DELETED goes out, the device is unrealized and freed.
 */
Device *device_hotplug(const DeviceConfig *dc, char **errp);
/*
 * device_add as both monitors run it (QMP and HMP): the id must be an identifier, then
 * device_hotplug() under the big lock (taken here). NULL on success, else the message for the
 * client (g_free it).
 */
char *device_add_from_monitor(const DeviceConfig *dc);
int device_unplug_request(const char *id, char **errp);
void device_unplug_complete(Device *dev);
/*
 * Buses that devices own (an HBA's SCSI bus): registered under QEMU's name so that bus= and
 * the default-bus rule find them. device_bus_find: by name (NULL: none); device_bus_newest:
 * the newest bus of a type (QEMU searches its children lists, newest first).
 */
void device_bus_register(const char *name, BusType type, void *bus);
void device_bus_unregister(void *bus);
void *device_bus_find(const char *name, BusType *type);
void *device_bus_newest(BusType type);
/* A bus the machine will provide (pc's usb-bus.0 with -usb), while the command line is checked
 * before the machine exists. */
void device_bus_add_pending(const char *name, BusType type);
/* The bus a device of a bus-owned type plugs into: its bus= (a bus of that type), or the newest
 * of the type; NULL with QEMU's message ("Bus 'x' not found", "No 'SCSI' bus found for ..."). */
void *device_plug_bus(Device *dev, BusType type, char **errp);

/* Whether the machine has its buses (pci.0, isa.0): false for -machine none. */
void device_set_machine_buses(bool present);

/* -global DRIVER.PROP=VALUE: recorded, applied by device_new(). The check is QEMU's. */
bool device_global_add(const char *driver, const char *prop, const char *value, char **errp);
void device_globals_clear(void);
/* After the machine's devices exist: QEMU's warnings for -global values nothing used. */
void device_globals_check(void);

#endif
