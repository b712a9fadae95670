/*
 * USB HID devices: usb-tablet (absolute pointer), usb-mouse, usb-kbd, with QEMU 7.2's
 * descriptors so that guests see the same devices ("QEMU USB Tablet", 0627:0001, serial
 * "28754-0000:00:01.2-1"), fed by the input layer (ui/input.c). Facts (descriptor bytes,
 * string table, report layouts) are QEMU 7.2's; docs/usb.md.
 *
 * Reports (the interrupt IN endpoint 1, and GET_REPORT):
 *   tablet   buttons, X lo, X hi, Y lo, Y hi, wheel      X/Y 0..0x7fff over the screen
 *   mouse    buttons, dX, dY, wheel                      deltas clamped to -127..127
 *   keyboard modifiers, 0, up to 6 usage codes           boot protocol layout
 * Pointer events are queued (16 entries) as QEMU's hid.c does: motion without a button change
 * merges into the entry the guest has not read yet.
 */
#include <string.h>
#include <glib.h>
#include "vireo/hid.h"
#include "vireo/input.h"
#include "vireo/timer.h"
#include "vireo/usb.h"
#include "vireo/vmstate.h"

/* QEMU 7.2's string table (its enum order gives the indices) */
static const char *const hid_strings[] = {
    "QEMU",              /* 1 manufacturer */
    "QEMU USB Mouse",    /* 2 */
    "QEMU USB Tablet",   /* 3 */
    "QEMU USB Keyboard", /* 4 */
    "42",                /* 5 the old serial */
    "HID Mouse",         /* 6 configuration names */
    "HID Tablet",        /* 7 */
    "HID Keyboard",      /* 8 */
    "89126",             /* 9 serials */
    "28754",             /* 10 */
    "68284",             /* 11 */
    NULL,
};

#define DEVICE_DESC(product, serial)                                                           \
    {18,   USB_DT_DEVICE, 0x00, 0x01, /* bcdUSB 1.00 (2.00 with msos-desc) */                   \
     0,    0,             0,    8,    /* class, subclass, protocol, ep0 max packet */           \
     0x27, 0x06,          0x01, 0x00, /* 0627:0001 */                                          \
     0x00, 0x00,          1,    (product), (serial), 1}

#define CONFIG_DESC(iconf, subclass, protocol, bcdhid, report_len, maxpacket)                  \
    {9,    USB_DT_CONFIG, 34, 0, 1, 1, (iconf), 0xa0, 50, /* self-powered off, wakeup */       \
     9,    USB_DT_INTERFACE, 0, 0, 1, 3, (subclass), (protocol), 0, /* HID */                  \
     9,    HID_DT_HID, (bcdhid) & 0xff, (bcdhid) >> 8, 0, 1, HID_DT_REPORT, (report_len), 0,                       \
     7,    USB_DT_ENDPOINT, 0x81, 0x03, (maxpacket), 0, 10} /* interrupt IN 1, 10 ms */

static const uint8_t tablet_device[] = DEVICE_DESC(3, 10);
static const uint8_t mouse_device[] = DEVICE_DESC(2, 9);
static const uint8_t kbd_device[] = DEVICE_DESC(4, 11);
static const uint8_t tablet_config[] = CONFIG_DESC(7, 0, 0, 0x0001, HID_TABLET_REPORT_LEN, 8);
static const uint8_t mouse_config[] = CONFIG_DESC(6, 1, 2, 0x0001, HID_MOUSE_REPORT_LEN, 4);
static const uint8_t kbd_config_raw[] = CONFIG_DESC(8, 1, 1, 0x0111, HID_KBD_REPORT_LEN, 8);

static const USBDesc tablet_desc = {tablet_device, tablet_config, sizeof(tablet_config),
                                    hid_strings, 10};
static const USBDesc mouse_desc = {mouse_device, mouse_config, sizeof(mouse_config), hid_strings,
                                   9};
static const USBDesc kbd_desc = {kbd_device, kbd_config_raw, sizeof(kbd_config_raw), hid_strings,
                                 11};

const USBDesc *usb_hid_desc(int kind)
{
    return kind == HID_TABLET ? &tablet_desc : kind == HID_MOUSE ? &mouse_desc : &kbd_desc;
}

typedef struct USBHIDState {
    USBDevice usb; /* first */
    HIDState hid;
    uint32_t usb_version;
    char *display;
    uint32_t head;
} USBHIDState;

/* HID class requests (bmRequestType << 8 | bRequest) */
#define HID_GET_REPORT   (USB_REQ_CLASS_IFACE_IN | 0x01)
#define HID_GET_IDLE     (USB_REQ_CLASS_IFACE_IN | 0x02)
#define HID_GET_PROTOCOL (USB_REQ_CLASS_IFACE_IN | 0x03)
#define HID_SET_REPORT   (USB_REQ_CLASS_IFACE_OUT | 0x09)
#define HID_SET_IDLE     (USB_REQ_CLASS_IFACE_OUT | 0x0a)
#define HID_SET_PROTOCOL (USB_REQ_CLASS_IFACE_OUT | 0x0b)

static void usb_hid_changed(HIDState *hs)
{
    USBHIDState *s = (USBHIDState *)((char *)hs - offsetof(USBHIDState, hid));
    usb_wakeup(&s->usb);
}

static void usb_hid_reset(USBDevice *dev)
{
    hid_reset(&((USBHIDState *)dev)->hid);
}

static int usb_hid_control(USBDevice *dev, int request, int value, int index, int length,
                           uint8_t *data)
{
    HIDState *hs = &((USBHIDState *)dev)->hid;
    (void)index;
    switch (request) {
    case USB_REQ_IFACE_IN | USB_REQ_GET_DESCRIPTOR:
        if ((value >> 8) == HID_DT_REPORT) {
            int n = hid_report_descriptor(hs->kind, data, length);
            return n;
        }
        if ((value >> 8) == HID_DT_HID) {
            const uint8_t *cfg = dev->desc->config + 18; /* after config and interface */
            int n = cfg[0] < length ? cfg[0] : length;
            memcpy(data, cfg, n);
            return n;
        }
        return USB_RET_STALL;
    case HID_GET_REPORT:
        return hid_poll(hs, data, length);
    case HID_SET_REPORT:
        if (hs->kind != HID_KEYBOARD) {
            return USB_RET_STALL;
        }
        hid_keyboard_write(hs, data, length);
        return 0;
    case HID_GET_PROTOCOL:
        if (hs->kind == HID_TABLET) {
            return USB_RET_STALL;
        }
        data[0] = hs->protocol;
        return length < 1 ? length : 1;
    case HID_SET_PROTOCOL:
        if (hs->kind == HID_TABLET) {
            return USB_RET_STALL;
        }
        hs->protocol = (uint8_t)value;
        return 0;
    case HID_GET_IDLE:
        data[0] = hs->idle;
        return length < 1 ? length : 1;
    case HID_SET_IDLE:
        hs->idle = (uint8_t)(value >> 8);
        hid_set_next_idle(hs, vclock_ns());
        if (hs->kind != HID_KEYBOARD) {
            hid_activate(hs);
        }
        return 0;
    default:
        return USB_RET_STALL;
    }
}

static int usb_hid_data(USBDevice *dev, int pid, int ep, uint8_t *buf, int len)
{
    HIDState *hs = &((USBHIDState *)dev)->hid;
    if (pid != USB_TOKEN_IN || ep != 1) {
        return USB_RET_STALL;
    }
    if (hs->kind != HID_KEYBOARD) {
        hid_activate(hs); /* the guest's driver reads it: it gets the pointer */
    }
    int64_t now = vclock_ns();
    if (!hid_has_events(hs, now)) {
        return USB_RET_NAK;
    }
    hid_set_next_idle(hs, now);
    return hid_poll(hs, buf, len);
}

static const USBDeviceOps usb_hid_ops = {
    .reset = usb_hid_reset,
    .control = usb_hid_control,
    .data = usb_hid_data,
};

static bool usb_hid_realize(USBHIDState *s, HIDKind kind, const char *product, char **errp)
{
    if (s->usb_version != 1 && s->usb_version != 2) {
        *errp = g_strdup_printf("Invalid usb version %u for usb hid device", s->usb_version);
        return false;
    }
    s->usb.ops = &usb_hid_ops;
    s->usb.desc = usb_hid_desc(kind);
    s->usb.product_desc = product;
    hid_init(&s->hid, kind, usb_hid_changed);
    if (!usb_device_plug(&s->usb, errp)) {
        hid_free(&s->hid);
        return false;
    }
    return true;
}

static bool usb_tablet_realize(Device *dev, char **errp)
{
    return usb_hid_realize((USBHIDState *)dev, HID_TABLET, "QEMU USB Tablet", errp);
}

static bool usb_mouse_realize(Device *dev, char **errp)
{
    return usb_hid_realize((USBHIDState *)dev, HID_MOUSE, "QEMU USB Mouse", errp);
}

static bool usb_kbd_realize(Device *dev, char **errp)
{
    return usb_hid_realize((USBHIDState *)dev, HID_KEYBOARD, "QEMU USB Keyboard", errp);
}

static void usb_hid_unrealize(Device *dev)
{
    USBHIDState *s = (USBHIDState *)dev;
    usb_device_unplug(&s->usb);
    hid_free(&s->hid);
}

static void usb_hid_dev_reset(Device *dev)
{
    usb_device_reset(&((USBHIDState *)dev)->usb);
}

static const VMStateField usb_hid_fields[] = {
    VMSTATE_UINT8(usb.addr, USBHIDState),
    VMSTATE_UINT8(usb.config, USBHIDState),
    VMSTATE_BOOL(usb.remote_wakeup, USBHIDState),
    VMSTATE_UINT8(hid.idle, USBHIDState),
    VMSTATE_UINT8(hid.protocol, USBHIDState),
    VMSTATE_INT32(hid.head, USBHIDState),
    VMSTATE_INT32(hid.n, USBHIDState),
    VMSTATE_BUFFER(hid.ptr, USBHIDState),
    VMSTATE_BUFFER(hid.kbd, USBHIDState),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription usb_ptr_vmsd = {
    .name = "usb-ptr", .version = 1, .minimum_version = 1, .fields = usb_hid_fields};
static const VMStateDescription usb_kbd_vmsd = {
    .name = "usb-kbd", .version = 1, .minimum_version = 1, .fields = usb_hid_fields};

static const Property usb_tablet_props[] = {
    DEFINE_PROP_STRING("display", USBHIDState, display),
    DEFINE_PROP_UINT32("head", USBHIDState, head, 0),
    DEFINE_PROP_UINT32("usb_version", USBHIDState, usb_version, 2),
    DEFINE_PROP_END,
};

static const Property usb_mouse_props[] = {
    DEFINE_PROP_UINT32("usb_version", USBHIDState, usb_version, 2),
    DEFINE_PROP_END,
};

static const Property usb_kbd_props[] = {
    DEFINE_PROP_STRING("display", USBHIDState, display),
    DEFINE_PROP_UINT32("usb_version", USBHIDState, usb_version, 2),
    DEFINE_PROP_END,
};

#define USB_HID_INFO(n, p, r, vm)                                                              \
    {.name = (n), .category = DEVICE_CATEGORY_INPUT, .bus = BUS_USB,                           \
     .instance_size = sizeof(USBHIDState), .props = (p), .family_props = usb_device_props,     \
     .user_creatable = true, .hotpluggable = true, .realize = (r),                             \
     .unrealize = usb_hid_unrealize, .reset = usb_hid_dev_reset, .vmsd = (vm),                 \
     .qom_parent = "usb-hid"}

const DeviceInfo usb_tablet_info = USB_HID_INFO("usb-tablet", usb_tablet_props,
                                                usb_tablet_realize, &usb_ptr_vmsd);
const DeviceInfo usb_mouse_info = USB_HID_INFO("usb-mouse", usb_mouse_props, usb_mouse_realize,
                                               &usb_ptr_vmsd);
const DeviceInfo usb_kbd_info = USB_HID_INFO("usb-kbd", usb_kbd_props, usb_kbd_realize,
                                             &usb_kbd_vmsd);
