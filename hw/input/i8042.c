/*
 * The PC keyboard controller (8042), enough for firmware and kernels to talk to it and to
 * reset the machine: status and command registers, the command byte, self tests, output
 * port writes and the 0xFE pulse of the reset line. No keyboard or mouse is attached yet.
 */
#include <stdbool.h>
#include <stdint.h>
#include "vireo/device.h"
#include "vireo/devices.h"
#include "vireo/ioport.h"
#include "vireo/machine.h"

#define STAT_OBF      0x01
#define STAT_SYS      0x04
#define STAT_CMD      0x08
#define STAT_UNLOCKED 0x10

static struct {
    uint8_t status;
    uint8_t cmd_byte;
    uint8_t out;         /* output buffer */
    uint8_t pending_cmd; /* command waiting for its data byte */
    uint8_t outport;
} kbc;

static void output(uint8_t v)
{
    kbc.out = v;
    kbc.status |= STAT_OBF;
}

static uint64_t i8042_read(void *opaque, uint64_t addr, unsigned size)
{
    if (!opaque) { /* port 0x60 */
        kbc.status &= ~STAT_OBF;
        return kbc.out;
    }
    return kbc.status; /* port 0x64 */
}

static void i8042_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    uint8_t v = val;
    if (!opaque) { /* data port 0x60; opaque marks the command port 0x64 */
        kbc.status &= ~STAT_CMD;
        switch (kbc.pending_cmd) {
        case 0x60:
            kbc.cmd_byte = v;
            kbc.status = (kbc.status & ~STAT_SYS) | (v & STAT_SYS);
            break;
        case 0xd1:
            kbc.outport = v;
            if (!(v & 1)) {
                machine_request_shutdown(SHUTDOWN_GUEST_RESET);
            }
            break;
        case 0xd2: /* write keyboard output buffer */
        case 0xd3: /* write aux output buffer */
            output(v);
            break;
        default:
            /* A byte for the keyboard itself: no keyboard attached, nothing answers. */
            break;
        }
        kbc.pending_cmd = 0;
        return;
    }
    kbc.status |= STAT_CMD;
    switch (v) {
    case 0x20:
        output(kbc.cmd_byte);
        break;
    case 0x60:
    case 0xd1:
    case 0xd2:
    case 0xd3:
    case 0xd4:
        kbc.pending_cmd = v;
        break;
    case 0xa7: /* disable aux */
        kbc.cmd_byte |= 0x20;
        break;
    case 0xa8: /* enable aux */
        kbc.cmd_byte &= ~0x20;
        break;
    case 0xa9: /* aux interface test */
    case 0xab: /* keyboard interface test */
        output(0x00);
        break;
    case 0xaa: /* controller self test */
        kbc.status |= STAT_SYS;
        output(0x55);
        break;
    case 0xad:
        kbc.cmd_byte |= 0x10;
        break;
    case 0xae:
        kbc.cmd_byte &= ~0x10;
        break;
    case 0xd0:
        output(kbc.outport);
        break;
    default:
        /* 0xF0-0xFF pulse output port lines; bit 0 low is the CPU reset line. */
        if ((v & 0xf0) == 0xf0 && !(v & 1)) {
            machine_request_shutdown(SHUTDOWN_GUEST_RESET);
        }
        break;
    }
}

static const IOOps i8042_ops = {.read = i8042_read, .write = i8042_write};

/* QEMU's "i8042" device: kbd-irq/mouse-irq as QEMU has them (no keyboard or mouse yet). */
typedef struct I8042Device {
    Device dev;
    bool extended_state, kbd_throttle;
    uint8_t kbd_irq, mouse_irq;
    MemoryRegion data, cmd;
} I8042Device;

static void i8042_reset(Device *dev)
{
    (void)dev;
    kbc.status = STAT_UNLOCKED | STAT_SYS;
    kbc.cmd_byte = 0x45; /* translate, system flag, keyboard interrupt */
    kbc.out = 0;
    kbc.pending_cmd = 0;
    kbc.outport = 0x03; /* A20 on, reset line high */
}

static bool i8042_realize(Device *dev, char **errp)
{
    (void)errp;
    I8042Device *s = (I8042Device *)dev;
    /* 0x61 belongs to the PIT/speaker; 0x64 is status/command (told apart by opaque). */
    memory_region_init_io(&s->data, "i8042-data", &i8042_ops, NULL, 1);
    memory_region_add_subregion(get_system_io(), 0x60, &s->data, 0);
    memory_region_init_io(&s->cmd, "i8042-cmd", &i8042_ops, (void *)1, 1);
    memory_region_add_subregion(get_system_io(), 0x64, &s->cmd, 0);
    return true;
}

static void i8042_unrealize(Device *dev)
{
    I8042Device *s = (I8042Device *)dev;
    memory_region_destroy(&s->data);
    memory_region_destroy(&s->cmd);
}

static const Property i8042_props[] = {
    DEFINE_PROP_HELP("a20[0]", "link<irq>"),
    DEFINE_PROP_BOOL("extended-state", I8042Device, extended_state, true),
    DEFINE_PROP_HELP("i8042-cmd[0]", "child<memory-region>"),
    DEFINE_PROP_HELP("i8042-data[0]", "child<memory-region>"),
    DEFINE_PROP_UINT8("kbd-irq", I8042Device, kbd_irq, 1),
    DEFINE_PROP_BOOL("kbd-throttle", I8042Device, kbd_throttle, false),
    DEFINE_PROP_UINT8("mouse-irq", I8042Device, mouse_irq, 12),
    DEFINE_PROP_HELP("ps2-kbd-input-irq[0]", "child<irq>"),
    DEFINE_PROP_HELP("ps2-mouse-input-irq[0]", "child<irq>"),
    DEFINE_PROP_HELP("ps2kbd", "child<ps2-kbd>"),
    DEFINE_PROP_HELP("ps2mouse", "child<ps2-mouse>"),
    DEFINE_PROP_HELP("unnamed-gpio-out[0]", "link<irq>"),
    DEFINE_PROP_HELP("unnamed-gpio-out[1]", "link<irq>"),
    DEFINE_PROP_END,
};

const DeviceInfo i8042_info = {
    .name = "i8042",
    .category = DEVICE_CATEGORY_INPUT,
    .bus = BUS_ISA,
    .instance_size = sizeof(I8042Device),
    .props = i8042_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = i8042_realize,
    .unrealize = i8042_unrealize,
    .reset = i8042_reset,
};
