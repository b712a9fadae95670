/*
 * USB (hw/usb/, docs/usb.md): the bus host controllers own, the devices on its ports, and the
 * device side of the protocol every device shares (control transfers on endpoint 0 with the
 * standard requests answered from the device's descriptors).
 *
 *   host controller (piix3-usb-uhci)          USB device (usb-tablet, usb-mouse, usb-kbd)
 *   walks the guest's schedule ──► usb_handle_packet(dev, pid, ep, buf, len)
 *                                      ep 0: SETUP/IN/OUT stages ──► standard requests here,
 *                                                                    class requests: ops->control
 *                                      ep N: ops->data (interrupt IN: a report or NAK)
 *
 * Everything is synchronous: a packet completes (data, NAK or STALL) in the call that hands it
 * over, so a controller never keeps guest memory mapped between frames. Calls come with the
 * big lock held.
 */
#ifndef VIREO_USB_H
#define VIREO_USB_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/device.h"

#define USB_TOKEN_SETUP 0x2d
#define USB_TOKEN_IN    0x69
#define USB_TOKEN_OUT   0xe1

/* usb_handle_packet results below 0 */
#define USB_RET_NODEV  (-1)
#define USB_RET_NAK    (-2)
#define USB_RET_STALL  (-3)
#define USB_RET_BABBLE (-4)

#define USB_SPEED_LOW  0
#define USB_SPEED_FULL 1

/* standard requests */
#define USB_REQ_GET_STATUS        0x00
#define USB_REQ_CLEAR_FEATURE     0x01
#define USB_REQ_SET_FEATURE       0x03
#define USB_REQ_SET_ADDRESS       0x05
#define USB_REQ_GET_DESCRIPTOR    0x06
#define USB_REQ_SET_DESCRIPTOR    0x07
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_REQ_GET_INTERFACE     0x0a
#define USB_REQ_SET_INTERFACE     0x0b

#define USB_DT_DEVICE    1
#define USB_DT_CONFIG    2
#define USB_DT_STRING    3
#define USB_DT_INTERFACE 4
#define USB_DT_ENDPOINT  5

/* a request as ((bmRequestType << 8) | bRequest) */
#define USB_DIR_IN          0x80
#define USB_REQ_DEVICE_IN   ((USB_DIR_IN | 0x00) << 8)
#define USB_REQ_DEVICE_OUT  (0x00 << 8)
#define USB_REQ_IFACE_IN    ((USB_DIR_IN | 0x01) << 8)
#define USB_REQ_IFACE_OUT   (0x01 << 8)
#define USB_REQ_EP_IN       ((USB_DIR_IN | 0x02) << 8)
#define USB_REQ_EP_OUT      (0x02 << 8)
#define USB_REQ_CLASS_IFACE_IN  ((USB_DIR_IN | 0x21) << 8)
#define USB_REQ_CLASS_IFACE_OUT (0x21 << 8)

#define USB_DEVICE_REMOTE_WAKEUP 1

#define USB_MAX_PORTS 8
#define USB_CTRL_BUF  4096

typedef struct USBDevice USBDevice;
typedef struct USBBus USBBus;

/* What a device's descriptors are made of (raw bytes, as the guest reads them). */
typedef struct USBDesc {
    const uint8_t *device; /* 18 bytes */
    const uint8_t *config; /* the whole configuration: config, interface, class, endpoints */
    unsigned config_len;
    const char *const *strings; /* index 1..n, NULL-terminated; index 0 is the language list */
    uint8_t serial_index;       /* the string QEMU builds a serial number for */
} USBDesc;

typedef struct USBDeviceOps {
    /* A bus reset (port reset) or machine reset: the device's own state. */
    void (*reset)(USBDevice *dev);
    /*
     * A control request the core does not answer (class or vendor requests, interface
     * descriptors such as HID's report descriptor): the data stage's bytes in data (at most
     * length, USB_CTRL_BUF), the number of bytes for an IN request, 0 for OUT, or USB_RET_STALL.
     */
    int (*control)(USBDevice *dev, int request, int value, int index, int length,
                   uint8_t *data);
    /* A packet for endpoint ep (1..15): bytes moved, USB_RET_NAK or USB_RET_STALL. */
    int (*data)(USBDevice *dev, int pid, int ep, uint8_t *buf, int len);
} USBDeviceOps;

/* The controller side of a port. */
typedef struct USBPortOps {
    void (*attach)(void *opaque, int port);
    void (*detach)(void *opaque, int port);
    /* A suspended device asks for a resume (remote wakeup). */
    void (*wakeup)(void *opaque, int port);
} USBPortOps;

struct USBBus {
    char *name; /* "usb-bus.0" or "ID.0" */
    Device *owner;
    int nports;
    USBDevice *ports[USB_MAX_PORTS];
    const USBPortOps *ops;
    void *opaque;
    char *path; /* the controller's PCI path for serial numbers: "0000:00:01.2" */
};

struct USBDevice {
    Device dev; /* first */
    const USBDeviceOps *ops;
    const USBDesc *desc;
    const char *product_desc; /* "QEMU USB Tablet" (messages, info usb) */
    USBBus *bus;
    int port; /* 0-based, -1 while unplugged */
    int speed;
    /* properties every USB device has (QEMU's usb-device) */
    char *port_prop, *serial_prop, *pcap;
    bool msos_desc;
    char *serial; /* the serial number string the guest reads */

    uint8_t addr;
    int16_t new_addr;    /* SET_ADDRESS takes effect after its status stage; -1: none */
    uint8_t config;      /* 0: not configured */
    uint8_t altsetting;
    bool remote_wakeup;  /* the host enabled it (SET_FEATURE) */
    /* the control pipe */
    enum { SETUP_IDLE, SETUP_DATA_IN, SETUP_DATA_OUT, SETUP_ACK } setup_state;
    uint8_t setup[8];
    int setup_len, setup_index;
    uint8_t ctrl_buf[USB_CTRL_BUF];
};

/* The standard properties (port, serial, msos-desc, pcap, attached) for a USB DeviceInfo. */
extern const Property usb_device_props[];

/* ---- buses (host controllers) ---- */
USBBus *usb_bus_new(Device *owner, int nports, const USBPortOps *ops, void *opaque,
                    const char *path);
void usb_bus_free(USBBus *bus);
/* Reset every device on the bus (a global reset). */
void usb_bus_reset(USBBus *bus);

/*
 * HMP "info usb": a line per plugged device, as QEMU 7.2 prints it ("  Device 0.2, Port 1,
 * Speed 12 Mb/s, Product QEMU USB Tablet, ID: t1"), NULL when no USB bus exists (QEMU's
 * "USB support not enabled"). g_free it. Lock held.
 */
char *usb_info_text(void);

/* ---- devices ---- */
/* The bus part of a device's realize: bus= or the newest USB bus, port= or the first free. */
bool usb_device_plug(USBDevice *dev, char **errp);
void usb_device_unplug(USBDevice *dev);
/* A port reset: address 0, unconfigured, control pipe idle, the device's reset. */
void usb_device_reset(USBDevice *dev);
/* One transaction; see above. */
int usb_handle_packet(USBDevice *dev, int pid, int ep, uint8_t *buf, int len);
/* A device with news for the host (a report waiting): wakes a suspended port if allowed. */
void usb_wakeup(USBDevice *dev);

/* The descriptors of usb-mouse, usb-tablet, usb-kbd (an HIDKind), for tests. */
const USBDesc *usb_hid_desc(int hid_kind);

/* Building blocks shared with tests: a string descriptor from ASCII (returns its length). */
int usb_string_desc(const char *s, uint8_t *buf, int max);

#endif
