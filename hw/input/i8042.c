/*
 * The PC keyboard controller (8042) with a PS/2 keyboard and mouse behind it
 * (hw/input/ps2.c), as QEMU's "i8042": status and command registers, the command byte
 * (interrupt enables, port disables, translation), self tests, output port (the reset
 * line), the aux loopback commands Linux probes with, and one output buffer fed from the
 * controller's own replies first, then the keyboard, then the mouse; IRQ 1 / IRQ 12 follow
 * the buffer's owner and the command byte.
 */
#include <stdbool.h>
#include <stdint.h>
#include "vireo/device.h"
#include "vireo/devices.h"
#include "vireo/ioport.h"
#include "vireo/irq.h"
#include "vireo/machine.h"
#include "vireo/ps2.h"
#include "vireo/vmstate.h"

#define STAT_OBF      0x01
#define STAT_SYS      0x04
#define STAT_CMD      0x08
#define STAT_UNLOCKED 0x10
#define STAT_AUX_OBF  0x20

#define MODE_KBD_INT    0x01
#define MODE_MOUSE_INT  0x02
#define MODE_SYS        0x04
#define MODE_NO_KEYLOCK 0x08
#define MODE_DIS_KBD    0x10
#define MODE_DIS_MOUSE  0x20
#define MODE_KCC        0x40

/* QEMU's "i8042": kbd-irq/mouse-irq as QEMU has them. */
typedef struct I8042Device {
    Device dev;
    bool extended_state, kbd_throttle;
    uint8_t kbd_irq, mouse_irq;
    MemoryRegion data, cmd;
    IRQ *irq_kbd, *irq_mouse;
    /* controller */
    uint8_t status, mode, out, pending_cmd, outport;
    uint8_t ctrl_byte; /* a controller reply waiting for the buffer */
    bool ctrl_pending, ctrl_aux;
    PS2Kbd kbd;
    PS2Mouse mouse;
} I8042Device;

/* Fill the output buffer if it is empty and set both IRQ lines. */
static void update(void *opaque)
{
    I8042Device *s = opaque;
    if (!(s->status & STAT_OBF)) {
        if (s->ctrl_pending) {
            s->out = s->ctrl_byte;
            s->ctrl_pending = false;
            s->status = (s->status & ~STAT_AUX_OBF) | STAT_OBF | (s->ctrl_aux ? STAT_AUX_OBF : 0);
        } else if (!(s->mode & MODE_DIS_KBD) && !ps2_queue_empty(&s->kbd.c)) {
            s->out = ps2_read_data(&s->kbd.c);
            s->status = (s->status & ~STAT_AUX_OBF) | STAT_OBF;
        } else if (!(s->mode & MODE_DIS_MOUSE) && !ps2_queue_empty(&s->mouse.c)) {
            s->out = ps2_read_data(&s->mouse.c);
            s->status |= STAT_OBF | STAT_AUX_OBF;
        }
    }
    int kbd = 0, mouse = 0;
    if (s->status & STAT_OBF) {
        if (s->status & STAT_AUX_OBF) {
            mouse = (s->mode & MODE_MOUSE_INT) != 0;
        } else {
            kbd = (s->mode & MODE_KBD_INT) != 0;
        }
    }
    irq_set(s->irq_kbd, kbd);
    irq_set(s->irq_mouse, mouse);
}

/* A reply of the controller itself (as from the keyboard port, or the aux port). */
static void reply(I8042Device *s, uint8_t v, bool aux)
{
    s->ctrl_byte = v;
    s->ctrl_aux = aux;
    s->ctrl_pending = true;
    update(s);
}

static void write_outport(I8042Device *s, uint8_t v)
{
    s->outport = v;
    if (!(v & 1)) {
        machine_request_shutdown(SHUTDOWN_GUEST_RESET);
    }
}

static uint64_t data_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)addr;
    (void)size;
    I8042Device *s = opaque;
    uint8_t v = s->out;
    s->status &= ~(STAT_OBF | STAT_AUX_OBF);
    /* the lines drop with the buffer, so the next byte moved in raises a new edge */
    irq_set(s->irq_kbd, 0);
    irq_set(s->irq_mouse, 0);
    update(s);
    return v;
}

static uint64_t status_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)addr;
    (void)size;
    return ((I8042Device *)opaque)->status;
}

static void data_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)addr;
    (void)size;
    I8042Device *s = opaque;
    uint8_t v = (uint8_t)val;
    s->status &= ~STAT_CMD;
    uint8_t cmd = s->pending_cmd;
    s->pending_cmd = 0;
    switch (cmd) {
    case 0x60: /* command byte */
        s->mode = v;
        s->status = (s->status & ~STAT_SYS) | (v & MODE_SYS);
        ps2_kbd_set_translation(&s->kbd, (v & MODE_KCC) != 0);
        update(s);
        break;
    case 0xd1:
        write_outport(s, v);
        break;
    case 0xd2: /* as if from the keyboard */
        reply(s, v, false);
        break;
    case 0xd3: /* as if from the mouse (loopback) */
        reply(s, v, true);
        break;
    case 0xd4: /* to the mouse */
        ps2_mouse_write(&s->mouse, v);
        break;
    default:
        /* a byte for the keyboard; sending it enables the keyboard port again */
        ps2_kbd_write(&s->kbd, v);
        s->mode &= ~MODE_DIS_KBD;
        update(s);
        break;
    }
}

static void cmd_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)addr;
    (void)size;
    I8042Device *s = opaque;
    uint8_t v = (uint8_t)val;
    s->status |= STAT_CMD;
    switch (v) {
    case 0x20:
        reply(s, s->mode, false);
        break;
    case 0x60:
    case 0xd1:
    case 0xd2:
    case 0xd3:
    case 0xd4:
        s->pending_cmd = v;
        break;
    case 0xa7:
        s->mode |= MODE_DIS_MOUSE;
        update(s);
        break;
    case 0xa8:
        s->mode &= ~MODE_DIS_MOUSE;
        update(s);
        break;
    case 0xa9: /* aux interface test */
    case 0xab: /* keyboard interface test */
        reply(s, 0x00, false);
        break;
    case 0xaa: /* controller self test */
        s->status |= STAT_SYS;
        reply(s, 0x55, false);
        break;
    case 0xad:
        s->mode |= MODE_DIS_KBD;
        update(s);
        break;
    case 0xae:
        s->mode &= ~MODE_DIS_KBD;
        update(s);
        break;
    case 0xc0: /* input port */
        reply(s, 0x80, false);
        break;
    case 0xd0:
        reply(s, s->outport, false);
        break;
    case 0xe0: /* test inputs */
        reply(s, 0x00, false);
        break;
    case 0xdd: /* A20 off / on: recorded in the output port */
        s->outport &= ~0x02;
        break;
    case 0xdf:
        s->outport |= 0x02;
        break;
    default:
        /* 0xF0-0xFF pulse output port lines; bit 0 low is the CPU reset line. */
        if ((v & 0xf0) == 0xf0 && !(v & 1)) {
            machine_request_shutdown(SHUTDOWN_GUEST_RESET);
        }
        break;
    }
}

static const IOOps data_ops = {.read = data_read, .write = data_write};
static const IOOps cmd_ops = {.read = status_read, .write = cmd_write};

static void i8042_reset(Device *dev)
{
    I8042Device *s = (I8042Device *)dev;
    s->status = STAT_UNLOCKED | STAT_SYS;
    s->mode = MODE_KCC | MODE_SYS | MODE_KBD_INT; /* 0x45: translate, system flag, kbd irq */
    s->out = 0;
    s->pending_cmd = 0;
    s->outport = 0x03; /* A20 on, reset line high */
    s->ctrl_pending = false;
    ps2_kbd_reset(&s->kbd);
    ps2_kbd_set_translation(&s->kbd, true);
    ps2_mouse_reset(&s->mouse);
    update(s);
}

static bool i8042_realize(Device *dev, char **errp)
{
    (void)errp;
    I8042Device *s = (I8042Device *)dev;
    s->irq_kbd = isa_get_irq(s->kbd_irq);
    s->irq_mouse = isa_get_irq(s->mouse_irq);
    ps2_kbd_init(&s->kbd, update, s);
    ps2_mouse_init(&s->mouse, update, s);
    /* 0x61 belongs to the PIT/speaker; 0x64 is status/command. */
    memory_region_init_io(&s->data, "i8042-data", &data_ops, s, 1);
    memory_region_add_subregion(get_system_io(), 0x60, &s->data, 0);
    memory_region_init_io(&s->cmd, "i8042-cmd", &cmd_ops, s, 1);
    memory_region_add_subregion(get_system_io(), 0x64, &s->cmd, 0);
    i8042_reset(dev);
    return true;
}

static void i8042_unrealize(Device *dev)
{
    I8042Device *s = (I8042Device *)dev;
    ps2_kbd_fini(&s->kbd);
    ps2_mouse_fini(&s->mouse);
    memory_region_destroy(&s->data);
    memory_region_destroy(&s->cmd);
}

static bool i8042_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    update(opaque);
    return true;
}

static const VMStateField i8042_fields[] = {
    VMSTATE_UINT8(status, I8042Device),
    VMSTATE_UINT8(mode, I8042Device),
    VMSTATE_UINT8(out, I8042Device),
    VMSTATE_UINT8(pending_cmd, I8042Device),
    VMSTATE_UINT8(outport, I8042Device),
    VMSTATE_UINT8(ctrl_byte, I8042Device),
    VMSTATE_BOOL(ctrl_pending, I8042Device),
    VMSTATE_BOOL(ctrl_aux, I8042Device),
    VMSTATE_STRUCT(kbd, I8042Device, ps2_kbd_vmsd),
    VMSTATE_STRUCT(mouse, I8042Device, ps2_mouse_vmsd),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription i8042_vmsd = {
    .name = "pckbd",
    .version = 1,
    .minimum_version = 1,
    .fields = i8042_fields,
    .post_load = i8042_post_load,
};

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
    .vmsd = &i8042_vmsd,
    .qom_interfaces = (const char *const[]){"acpi-dev-aml-interface", NULL},
};
