/*
 * 16550A UART (National Semiconductor data sheet): divisor latch, FIFOs with a 16-byte
 * receive queue, the four interrupt sources with their priorities, modem control loopback.
 * Transmission is immediate: a byte written to THR goes to the chardev at once and the
 * transmitter is empty again, as seen by LSR and the THRE interrupt.
 *
 * QEMU's "isa-serial" device: index= picks COMn (0x3f8/IRQ 4, 0x2f8/3, 0x3e8/4, 0x2e8/3; the
 * next free one when not given), iobase= and irq= override it, chardev= names the backend.
 * The machine makes one per -serial; -device isa-serial,chardev=ID adds more.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/device.h"
#include "vireo/devices.h"
#include "vireo/ioport.h"
#include "vireo/irq.h"
#include "vireo/machine.h"
#include "vireo/vmstate.h"

enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI      0x01
#define IER_THRI     0x02
#define IER_RLSI     0x04
#define IER_MSI      0x08
#define IIR_NO_INT   0x01
#define IIR_MSI      0x00
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_RLSI     0x06
#define IIR_FIFO     0xc0
#define LCR_DLAB     0x80
#define LSR_DR       0x01
#define LSR_OE       0x02
#define LSR_BI       0x10
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MCR_LOOP     0x10
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FIFO_SIZE    16

typedef struct SerialState {
    Device dev;
    /* properties */
    uint32_t baudbase, index, iobase, irqnum;
    char *chardev;
    bool wakeup;
    MemoryRegion io;
    IRQ *irq;
    Chardev *chr;
    uint16_t divisor;
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    bool thr_ipending;
    bool fifo_enabled;
    uint8_t rx[FIFO_SIZE];
    unsigned rx_head, rx_count;
    int irq_level;
} SerialState;

static uint8_t current_iir(SerialState *s)
{
    uint8_t id = IIR_NO_INT;
    if ((s->ier & IER_RLSI) && (s->lsr & (LSR_OE | LSR_BI))) {
        id = IIR_RLSI;
    } else if ((s->ier & IER_RDI) && s->rx_count) {
        id = IIR_RDI;
    } else if ((s->ier & IER_THRI) && s->thr_ipending) {
        id = IIR_THRI;
    } else if ((s->ier & IER_MSI) && (s->msr & 0x0f)) {
        id = IIR_MSI;
    }
    return id | (s->fifo_enabled ? IIR_FIFO : 0);
}

static void update_irq(SerialState *s)
{
    int level = !(current_iir(s) & IIR_NO_INT);
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(s->irq, level);
    }
}

static void rx_push(SerialState *s, uint8_t b)
{
    if (s->rx_count == FIFO_SIZE) {
        s->lsr |= LSR_OE;
        return;
    }
    s->rx[(s->rx_head + s->rx_count) % FIFO_SIZE] = b;
    s->rx_count++;
    s->lsr |= LSR_DR;
}

static uint8_t rx_pop(SerialState *s)
{
    if (!s->rx_count) {
        return 0;
    }
    uint8_t b = s->rx[s->rx_head];
    s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
    s->rx_count--;
    if (!s->rx_count) {
        s->lsr &= ~LSR_DR;
    }
    return b;
}

/* Modem status as the guest sees it: loopback maps MCR outputs back to the inputs. */
static uint8_t modem_status(SerialState *s)
{
    uint8_t lines;
    if (s->mcr & MCR_LOOP) {
        lines = ((s->mcr & 0x02) ? 0x10 : 0) | ((s->mcr & 0x01) ? 0x20 : 0) |
                ((s->mcr & 0x04) ? 0x40 : 0) | ((s->mcr & 0x08) ? 0x80 : 0);
    } else {
        lines = 0xb0; /* DCD, DSR, CTS: a connected terminal */
    }
    return lines | (s->msr & 0x0f);
}

static void set_modem_lines(SerialState *s)
{
    uint8_t old = s->msr & 0xf0, now = modem_status(s) & 0xf0;
    uint8_t delta = 0;
    if ((old ^ now) & 0x10) {
        delta |= 0x01;
    }
    if ((old ^ now) & 0x20) {
        delta |= 0x02;
    }
    if ((old & 0x40) && !(now & 0x40)) {
        delta |= 0x04; /* trailing edge of RI */
    }
    if ((old ^ now) & 0x80) {
        delta |= 0x08;
    }
    s->msr = now | (s->msr & 0x0f) | delta;
}

static uint64_t serial_read(void *opaque, uint64_t addr, unsigned size)
{
    SerialState *s = opaque;
    uint8_t v = 0;
    switch (addr) {
    case RBR:
        if (s->lcr & LCR_DLAB) {
            v = s->divisor & 0xff;
        } else {
            v = rx_pop(s);
            if (!s->rx_count) {
                chardev_accept_input(s->chr);
            }
        }
        break;
    case IER:
        v = (s->lcr & LCR_DLAB) ? s->divisor >> 8 : s->ier;
        break;
    case IIR:
        v = current_iir(s);
        /* Reading IIR while it reports THRE acknowledges that interrupt. */
        if ((v & 0x0f) == IIR_THRI) {
            s->thr_ipending = false;
        }
        break;
    case LCR:
        v = s->lcr;
        break;
    case MCR:
        v = s->mcr;
        break;
    case LSR:
        v = s->lsr;
        s->lsr &= ~(LSR_OE | LSR_BI);
        break;
    case MSR:
        v = s->msr;
        s->msr &= 0xf0;
        break;
    case SCR:
        v = s->scr;
        break;
    }
    update_irq(s);
    return v;
}

static void transmit(SerialState *s, uint8_t b)
{
    if (s->mcr & MCR_LOOP) {
        rx_push(s, b);
    } else {
        chardev_write(s->chr, &b, 1);
    }
    s->lsr |= LSR_THRE | LSR_TEMT;
    s->thr_ipending = true;
}

static void serial_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    SerialState *s = opaque;
    uint8_t v = val;
    switch (addr) {
    case RBR:
        if (s->lcr & LCR_DLAB) {
            s->divisor = (s->divisor & 0xff00) | v;
        } else {
            s->thr_ipending = false;
            transmit(s, v);
        }
        break;
    case IER:
        if (s->lcr & LCR_DLAB) {
            s->divisor = (s->divisor & 0x00ff) | v << 8;
        } else {
            uint8_t old = s->ier;
            s->ier = v & 0x0f;
            /* Enabling THRE interrupts with an empty transmitter raises one at once. */
            if ((s->ier & IER_THRI) && !(old & IER_THRI) && (s->lsr & LSR_THRE)) {
                s->thr_ipending = true;
            }
        }
        break;
    case IIR: /* FCR */
        s->fifo_enabled = v & FCR_ENABLE;
        if (v & FCR_CLEAR_RX) {
            s->rx_count = 0;
            s->lsr &= ~LSR_DR;
            chardev_accept_input(s->chr);
        }
        s->fcr = v & 0xc9;
        break;
    case LCR:
        s->lcr = v;
        break;
    case MCR: {
        bool was_loop = s->mcr & MCR_LOOP;
        s->mcr = v & 0x1f;
        set_modem_lines(s);
        if (was_loop && !(s->mcr & MCR_LOOP)) {
            chardev_accept_input(s->chr);
        }
        break;
    }
    case LSR:
    case MSR:
        break; /* read-only */
    case SCR:
        s->scr = v;
        break;
    }
    update_irq(s);
}

static const IOOps serial_ops = {.read = serial_read, .write = serial_write};

static int serial_can_receive(void *opaque)
{
    SerialState *s = opaque;
    if (s->mcr & MCR_LOOP) {
        return 0;
    }
    return s->fifo_enabled ? FIFO_SIZE - s->rx_count : (s->rx_count ? 0 : 1);
}

static void serial_receive(void *opaque, const uint8_t *buf, int len)
{
    SerialState *s = opaque;
    for (int i = 0; i < len; i++) {
        rx_push(s, buf[i]);
    }
    update_irq(s);
}

static const uint16_t com_base[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
static const uint8_t com_irq[4] = {4, 3, 4, 3};
static uint8_t indexes_used; /* bit per COM index taken */

static void serial_reset(Device *dev)
{
    SerialState *s = (SerialState *)dev;
    s->divisor = 12; /* 9600 baud */
    s->ier = s->mcr = s->scr = s->fcr = 0;
    s->lcr = 0x03; /* 8N1 */
    s->lsr = LSR_THRE | LSR_TEMT;
    s->msr = 0xb0;
    s->thr_ipending = s->fifo_enabled = false;
    s->rx_head = s->rx_count = 0;
    update_irq(s);
}

static bool serial_realize(Device *dev, char **errp)
{
    SerialState *s = (SerialState *)dev;
    if (s->index == UINT32_MAX) {
        for (uint32_t i = 0; i < 4; i++) {
            if (!(indexes_used & (1u << i))) {
                s->index = i;
                break;
            }
        }
    }
    if (s->index >= 4) {
        *errp = g_strdup_printf("Max. supported number of ISA serial ports is %d.", 4);
        return false;
    }
    if (s->iobase == UINT32_MAX) {
        s->iobase = com_base[s->index];
    }
    if (s->irqnum == UINT32_MAX) {
        s->irqnum = com_irq[s->index];
    }
    if (s->chardev) {
        s->chr = chardev_find(s->chardev);
        if (!s->chr) {
            *errp = g_strdup_printf("Property 'isa-serial.chardev' can't find value '%s'",
                                    s->chardev);
            return false;
        }
    }
    indexes_used |= (uint8_t)(1u << s->index);
    s->irq = isa_get_irq(s->irqnum);
    memory_region_init_io(&s->io, "serial", &serial_ops, s, 8);
    memory_region_add_subregion(get_system_io(), s->iobase & 0xffff, &s->io, 0);
    if (s->chr) {
        CharFrontend fe = {
            .can_receive = serial_can_receive, .receive = serial_receive, .opaque = s};
        chardev_attach(s->chr, &fe, NULL);
        chardev_accept_input(s->chr);
    }
    return true;
}

static void serial_unrealize(Device *dev)
{
    SerialState *s = (SerialState *)dev;
    if (s->chr) {
        chardev_detach(s->chr, s);
        s->chr = NULL;
    }
    memory_region_destroy(&s->io);
    indexes_used &= (uint8_t)~(1u << s->index);
}

static const Property serial_props[] = {
    DEFINE_PROP_UINT32("baudbase", SerialState, baudbase, 115200),
    DEFINE_PROP_CHR("chardev", SerialState, chardev),
    DEFINE_PROP_UINT32("index", SerialState, index, UINT32_MAX),
    DEFINE_PROP_UINT32("iobase", SerialState, iobase, UINT32_MAX),
    DEFINE_PROP_UINT32("irq", SerialState, irqnum, UINT32_MAX),
    DEFINE_PROP_HELP("serial", "child<serial>"),
    DEFINE_PROP_BOOL("wakeup", SerialState, wakeup, false),
    DEFINE_PROP_END,
};

static const VMStateField serial_fields[] = {
    VMSTATE_UINT16(divisor, SerialState),
    VMSTATE_UINT8(ier, SerialState),
    VMSTATE_UINT8(lcr, SerialState),
    VMSTATE_UINT8(mcr, SerialState),
    VMSTATE_UINT8(lsr, SerialState),
    VMSTATE_UINT8(msr, SerialState),
    VMSTATE_UINT8(scr, SerialState),
    VMSTATE_UINT8(fcr, SerialState),
    VMSTATE_BOOL(thr_ipending, SerialState),
    VMSTATE_BOOL(fifo_enabled, SerialState),
    VMSTATE_UINT8_ARRAY(rx, SerialState, FIFO_SIZE),
    VMSTATE_UINT32(rx_head, SerialState),
    VMSTATE_UINT32(rx_count, SerialState),
    VMSTATE_END_OF_LIST(),
};

static bool serial_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    SerialState *s = opaque;
    if (s->rx_head >= FIFO_SIZE || s->rx_count > FIFO_SIZE) {
        *errp = g_strdup("serial: receive queue out of range");
        return false;
    }
    update_irq(s);
    return true;
}

static const VMStateDescription serial_vmsd = {
    .name = "serial",
    .version = 3,
    .minimum_version = 2,
    .fields = serial_fields,
    .post_load = serial_post_load,
};

const DeviceInfo isa_serial_info = {
    .name = "isa-serial",
    .category = DEVICE_CATEGORY_INPUT,
    .bus = BUS_ISA,
    .instance_size = sizeof(SerialState),
    .props = serial_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = serial_realize,
    .unrealize = serial_unrealize,
    .reset = serial_reset,
    .vmsd = &serial_vmsd,
    .qom_interfaces = (const char *const[]){"acpi-dev-aml-interface", NULL},
    .qom_children = (const char *const[]){"serial[0]=child<memory-region>", NULL},
};
