/*
 * The USB bus and the device side every USB device shares (include/vireo/usb.h,
 * docs/usb.md): ports, plugging with QEMU 7.2's port= and bus= rules and messages, the
 * control pipe's SETUP/DATA/STATUS stages, and the standard requests answered from a device's
 * descriptors (USB 2.0 chapter 9).
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/usb.h"

const Property usb_device_props[] = {
    DEFINE_PROP_HELP("attached", "bool"),
    DEFINE_PROP_BIT("msos-desc", USBDevice, msos_desc, true),
    DEFINE_PROP_STRING("pcap", USBDevice, pcap),
    DEFINE_PROP_STRING("port", USBDevice, port_prop),
    DEFINE_PROP_STRING("serial", USBDevice, serial_prop),
    DEFINE_PROP_END,
};

/* ---- buses ---------------------------------------------------------------------------------- */

static GPtrArray *usb_buses; /* in creation order: QEMU's bus numbers */

char *usb_info_text(void)
{
    if (!usb_buses || !usb_buses->len) {
        return NULL;
    }
    GString *s = g_string_new("");
    for (guint b = 0; b < usb_buses->len; b++) {
        USBBus *bus = usb_buses->pdata[b];
        for (int i = 0; i < bus->nports; i++) {
            USBDevice *d = bus->ports[i];
            if (!d) {
                continue;
            }
            g_string_append_printf(s, "  Device %u.%u, Port %d, Speed %s Mb/s, Product %s", b,
                                   d->addr, i + 1, d->speed == USB_SPEED_LOW ? "1.5" : "12",
                                   d->product_desc);
            if (d->dev.id) {
                g_string_append_printf(s, ", ID: %s", d->dev.id);
            }
            g_string_append_c(s, '\n');
        }
    }
    return g_string_free(s, FALSE);
}

USBBus *usb_bus_new(Device *owner, int nports, const USBPortOps *ops, void *opaque,
                    const char *path)
{
    USBBus *bus = g_new0(USBBus, 1);
    bus->owner = owner;
    bus->nports = nports > USB_MAX_PORTS ? USB_MAX_PORTS : nports;
    bus->ops = ops;
    bus->opaque = opaque;
    bus->path = g_strdup(path);
    bus->name = owner->id ? g_strdup_printf("%s.0", owner->id) : g_strdup("usb-bus.0");
    device_bus_register(bus->name, BUS_USB, bus);
    if (!usb_buses) {
        usb_buses = g_ptr_array_new();
    }
    g_ptr_array_add(usb_buses, bus);
    return bus;
}

void usb_bus_free(USBBus *bus)
{
    if (!bus) {
        return;
    }
    for (int i = 0; i < bus->nports; i++) {
        if (bus->ports[i]) {
            /* unrealizing the device unplugs it */
            device_free(&bus->ports[i]->dev);
        }
    }
    device_bus_unregister(bus);
    g_ptr_array_remove(usb_buses, bus);
    if (!usb_buses->len) {
        g_ptr_array_free(usb_buses, TRUE);
        usb_buses = NULL;
    }
    g_free(bus->name);
    g_free(bus->path);
    g_free(bus);
}

void usb_bus_reset(USBBus *bus)
{
    for (int i = 0; i < bus->nports; i++) {
        if (bus->ports[i]) {
            usb_device_reset(bus->ports[i]);
        }
    }
}

/* ---- plugging ------------------------------------------------------------------------------- */

bool usb_device_plug(USBDevice *dev, char **errp)
{
    dev->port = -1;
    USBBus *bus = device_plug_bus(&dev->dev, BUS_USB, errp);
    if (!bus) {
        return false;
    }
    int port = -1;
    if (dev->port_prop) {
        /* QEMU matches the port's path: "1".."N" on a root port (no hubs here) */
        for (int i = 0; i < bus->nports; i++) {
            char name[12];
            snprintf(name, sizeof(name), "%d", i + 1);
            if (!strcmp(name, dev->port_prop) && !bus->ports[i]) {
                port = i;
            }
        }
        if (port < 0) {
            *errp = g_strdup_printf("usb port %s (bus %s) not found (in use?)", dev->port_prop,
                                    bus->name);
            return false;
        }
    } else {
        for (int i = 0; i < bus->nports && port < 0; i++) {
            if (!bus->ports[i]) {
                port = i;
            }
        }
        if (port < 0) {
            *errp = g_strdup_printf("tried to attach usb device %s to a bus with no free ports",
                                    dev->product_desc);
            return false;
        }
    }
    dev->bus = bus;
    dev->port = port;
    dev->speed = USB_SPEED_FULL;
    bus->ports[port] = dev;
    /* QEMU's serial number: the descriptor's, the controller's path and the port's */
    if (dev->serial_prop) {
        dev->serial = g_strdup(dev->serial_prop);
    } else if (dev->desc && dev->desc->serial_index) {
        dev->serial = g_strdup_printf("%s-%s-%d", dev->desc->strings[dev->desc->serial_index - 1],
                                      bus->path ? bus->path : "", port + 1);
    }
    usb_device_reset(dev);
    if (bus->ops && bus->ops->attach) {
        bus->ops->attach(bus->opaque, port);
    }
    return true;
}

void usb_device_unplug(USBDevice *dev)
{
    USBBus *bus = dev->bus;
    if (!bus) {
        return;
    }
    if (dev->port >= 0 && bus->ports[dev->port] == dev) {
        bus->ports[dev->port] = NULL;
        if (bus->ops && bus->ops->detach) {
            bus->ops->detach(bus->opaque, dev->port);
        }
    }
    dev->bus = NULL;
    dev->port = -1;
    g_free(dev->serial);
    dev->serial = NULL;
}

void usb_device_reset(USBDevice *dev)
{
    dev->addr = 0;
    dev->new_addr = -1;
    dev->config = 0;
    dev->altsetting = 0;
    dev->remote_wakeup = false;
    dev->setup_state = SETUP_IDLE;
    if (dev->ops && dev->ops->reset) {
        dev->ops->reset(dev);
    }
}

void usb_wakeup(USBDevice *dev)
{
    if (dev->bus && dev->port >= 0 && dev->bus->ops && dev->bus->ops->wakeup) {
        dev->bus->ops->wakeup(dev->bus->opaque, dev->port);
    }
}

/* ---- descriptors ---------------------------------------------------------------------------- */

int usb_string_desc(const char *s, uint8_t *buf, int max)
{
    int n = (int)strlen(s);
    if (n > 126) {
        n = 126;
    }
    int len = 2 + 2 * n;
    if (max < 2) {
        return 0;
    }
    buf[0] = (uint8_t)len;
    buf[1] = USB_DT_STRING;
    int pos = 2;
    for (int i = 0; i < n && pos + 1 < max; i++) {
        buf[pos++] = (uint8_t)s[i];
        buf[pos++] = 0;
    }
    return pos;
}

static const char *desc_string(USBDevice *dev, int index)
{
    if (index == dev->desc->serial_index && dev->serial) {
        return dev->serial;
    }
    const char *const *s = dev->desc->strings;
    for (int i = 1; s[i - 1]; i++) {
        if (i == index) {
            return s[i - 1];
        }
    }
    return NULL;
}

static int get_descriptor(USBDevice *dev, int value, int length, uint8_t *data)
{
    int type = value >> 8, index = value & 0xff, len;
    switch (type) {
    case USB_DT_DEVICE:
        len = dev->desc->device[0];
        memcpy(data, dev->desc->device, len);
        if (dev->msos_desc && data[2] | data[3] << 8) {
            /* QEMU reports USB 2.0 when its Microsoft OS descriptors are on */
            if ((data[2] | data[3] << 8) < 0x0200) {
                data[2] = 0x00;
                data[3] = 0x02;
            }
        }
        break;
    case USB_DT_CONFIG:
        if (index != 0) {
            return USB_RET_STALL;
        }
        len = (int)dev->desc->config_len;
        memcpy(data, dev->desc->config, len);
        break;
    case USB_DT_STRING:
        if (index == 0) {
            data[0] = 4;
            data[1] = USB_DT_STRING;
            data[2] = 0x09; /* en-US */
            data[3] = 0x04;
            len = 4;
        } else {
            const char *s = desc_string(dev, index);
            if (!s) {
                return USB_RET_STALL;
            }
            len = usb_string_desc(s, data, USB_CTRL_BUF);
        }
        break;
    default:
        return USB_RET_STALL;
    }
    return len < length ? len : length;
}

/* The standard requests; class and vendor ones go to the device. */
static int handle_control(USBDevice *dev, int request, int value, int index, int length,
                          uint8_t *data)
{
    switch (request) {
    case USB_REQ_DEVICE_OUT | USB_REQ_SET_ADDRESS:
        dev->new_addr = (int16_t)(value & 0x7f);
        return 0;
    case USB_REQ_DEVICE_IN | USB_REQ_GET_DESCRIPTOR:
        return get_descriptor(dev, value, length, data);
    case USB_REQ_DEVICE_IN | USB_REQ_GET_CONFIGURATION:
        data[0] = dev->config;
        return length < 1 ? length : 1;
    case USB_REQ_DEVICE_OUT | USB_REQ_SET_CONFIGURATION:
        if (value != 0 && value != dev->desc->config[5]) {
            return USB_RET_STALL;
        }
        dev->config = (uint8_t)value;
        dev->altsetting = 0;
        return 0;
    case USB_REQ_DEVICE_IN | USB_REQ_GET_STATUS: {
        uint8_t attr = dev->desc->config[7];
        data[0] = (uint8_t)(((attr & 0x40) ? 1 : 0) | (dev->remote_wakeup ? 2 : 0));
        data[1] = 0;
        return length < 2 ? length : 2;
    }
    case USB_REQ_DEVICE_OUT | USB_REQ_CLEAR_FEATURE:
    case USB_REQ_DEVICE_OUT | USB_REQ_SET_FEATURE:
        if (value == USB_DEVICE_REMOTE_WAKEUP) {
            dev->remote_wakeup = (request & 0xff) == USB_REQ_SET_FEATURE;
            return 0;
        }
        return USB_RET_STALL;
    case USB_REQ_IFACE_IN | USB_REQ_GET_INTERFACE:
        if (dev->config == 0 || index != 0) {
            return USB_RET_STALL;
        }
        data[0] = dev->altsetting;
        return length < 1 ? length : 1;
    case USB_REQ_IFACE_OUT | USB_REQ_SET_INTERFACE:
        if (dev->config == 0 || index != 0 || value != 0) {
            return USB_RET_STALL;
        }
        dev->altsetting = 0;
        return 0;
    case USB_REQ_IFACE_IN | USB_REQ_GET_STATUS:
    case USB_REQ_EP_IN | USB_REQ_GET_STATUS:
        data[0] = data[1] = 0;
        return length < 2 ? length : 2;
    case USB_REQ_EP_OUT | USB_REQ_CLEAR_FEATURE:
    case USB_REQ_EP_OUT | USB_REQ_SET_FEATURE:
        return 0; /* endpoint halt: nothing to clear */
    default:
        if (dev->ops && dev->ops->control) {
            return dev->ops->control(dev, request, value, index, length, data);
        }
        return USB_RET_STALL;
    }
}

/* ---- the control pipe ----------------------------------------------------------------------- */

static int do_setup(USBDevice *dev, const uint8_t *buf, int len)
{
    if (len != 8) {
        return USB_RET_STALL;
    }
    memcpy(dev->setup, buf, 8);
    int request = dev->setup[0] << 8 | dev->setup[1];
    int value = dev->setup[2] | dev->setup[3] << 8;
    int index = dev->setup[4] | dev->setup[5] << 8;
    int length = dev->setup[6] | dev->setup[7] << 8;
    if (length > USB_CTRL_BUF) {
        dev->setup_state = SETUP_IDLE;
        return USB_RET_STALL;
    }
    dev->setup_index = 0;
    dev->new_addr = -1;
    if (dev->setup[0] & USB_DIR_IN) {
        memset(dev->ctrl_buf, 0, sizeof(dev->ctrl_buf));
        int r = handle_control(dev, request, value, index, length, dev->ctrl_buf);
        if (r < 0) {
            dev->setup_state = SETUP_IDLE;
            return r;
        }
        dev->setup_len = r < length ? r : length;
        dev->setup_state = SETUP_DATA_IN;
    } else if (length == 0) {
        int r = handle_control(dev, request, value, index, 0, dev->ctrl_buf);
        if (r < 0) {
            dev->setup_state = SETUP_IDLE;
            return r;
        }
        dev->setup_len = 0;
        dev->setup_state = SETUP_ACK;
    } else {
        dev->setup_len = length;
        dev->setup_state = SETUP_DATA_OUT;
    }
    return 8;
}

static int do_control_in(USBDevice *dev, uint8_t *buf, int len)
{
    switch (dev->setup_state) {
    case SETUP_ACK: /* status stage of a no-data or OUT request */
        dev->setup_state = SETUP_IDLE;
        if (dev->new_addr >= 0) {
            dev->addr = (uint8_t)dev->new_addr;
            dev->new_addr = -1;
        }
        return 0;
    case SETUP_DATA_IN: {
        int n = dev->setup_len - dev->setup_index;
        if (n > len) {
            n = len;
        }
        memcpy(buf, dev->ctrl_buf + dev->setup_index, n);
        dev->setup_index += n;
        return n;
    }
    default:
        return USB_RET_STALL;
    }
}

static int do_control_out(USBDevice *dev, const uint8_t *buf, int len)
{
    switch (dev->setup_state) {
    case SETUP_DATA_IN: /* status stage of an IN request */
        dev->setup_state = SETUP_IDLE;
        return 0;
    case SETUP_DATA_OUT: {
        int n = dev->setup_len - dev->setup_index;
        if (n > len) {
            n = len;
        }
        memcpy(dev->ctrl_buf + dev->setup_index, buf, n);
        dev->setup_index += n;
        if (dev->setup_index >= dev->setup_len) {
            int request = dev->setup[0] << 8 | dev->setup[1];
            int value = dev->setup[2] | dev->setup[3] << 8;
            int index = dev->setup[4] | dev->setup[5] << 8;
            int r = handle_control(dev, request, value, index, dev->setup_len, dev->ctrl_buf);
            if (r < 0) {
                dev->setup_state = SETUP_IDLE;
                return r;
            }
            dev->setup_state = SETUP_ACK;
        }
        return n;
    }
    default:
        return USB_RET_STALL;
    }
}

int usb_handle_packet(USBDevice *dev, int pid, int ep, uint8_t *buf, int len)
{
    if (!dev || !dev->bus) {
        return USB_RET_NODEV;
    }
    if (ep == 0) {
        switch (pid) {
        case USB_TOKEN_SETUP:
            return do_setup(dev, buf, len);
        case USB_TOKEN_IN:
            return do_control_in(dev, buf, len);
        case USB_TOKEN_OUT:
            return do_control_out(dev, buf, len);
        default:
            return USB_RET_STALL;
        }
    }
    if (pid == USB_TOKEN_SETUP || dev->config == 0 || !dev->ops || !dev->ops->data) {
        return USB_RET_STALL;
    }
    return dev->ops->data(dev, pid, ep, buf, len);
}
