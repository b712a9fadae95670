/*
 * PIIX3's USB UHCI function, piix3-usb-uhci (what -usb and -machine usb=on add on pc, at
 * 00:01.2): 8086:7020 rev 01, class 0c0300, I/O BAR 4 (32 bytes), INTD, SBRN 0x10, two root
 * ports, and a USB bus "usb-bus.0" (or "ID.0"). Register layout from Intel's UHCI design guide
 * (rev 1.1); QEMU 7.2's choices where the guide leaves room. docs/usb.md.
 *
 *   0x00 USBCMD   RS, HCRESET, GRESET, EGSM, FGR, SWDBG, CF, MAXP
 *   0x02 USBSTS   USBINT, USBERR, RD, HSE, HCPE, HCHalted (write 1 to clear)
 *   0x04 USBINTR  timeout/CRC, resume, IOC, short packet
 *   0x06 FRNUM    (written only while halted)
 *   0x08 FRBASEADD (32 bit, 4 KiB aligned)    0x0c SOFMOD (8 bit)
 *   0x10, 0x12    PORTSC1, PORTSC2
 *
 * The schedule is walked once per 1 ms frame on a VIREO_CLOCK_VIRTUAL timer while Run/Stop is
 * set: the frame list entry, then queue heads and transfer descriptors, each read and written
 * through the PCI device's DMA (bus mastering honoured). A walk is bounded: a queue head met
 * twice with no transfer done in between ends the frame (Linux's FSBR loop), and at most
 * UHCI_MAX_ELEMENTS elements are visited per frame (a looping schedule simply runs out of
 * frame time). A pointer to memory that is not RAM, or bus mastering off, is a Host System
 * Error: the controller halts with HSE set and interrupts, as the hardware does on a master
 * abort. While a frame has nothing to do (every TD inactive, or NAKed) for a while, the
 * controller looks at the schedule only every UHCI_IDLE_FRAMES frames (the frame number still
 * counts every millisecond); any register access, a device with news (an input event) or a
 * completed transfer brings it back to every frame.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/pci.h"
#include "vireo/timer.h"
#include "vireo/usb.h"
#include "vireo/vmstate.h"

#define CMD_RS      0x0001
#define CMD_HCRESET 0x0002
#define CMD_GRESET  0x0004
#define CMD_EGSM    0x0008
#define CMD_FGR     0x0010

#define STS_USBINT  0x0001
#define STS_USBERR  0x0002
#define STS_RD      0x0004
#define STS_HSERR   0x0008
#define STS_HCPERR  0x0010
#define STS_HCHALTED 0x0020

#define INTR_TIMEOUT 0x0001
#define INTR_RESUME  0x0002
#define INTR_IOC     0x0004
#define INTR_SPD     0x0008

#define PORT_CCS     0x0001
#define PORT_CSC     0x0002
#define PORT_EN      0x0004
#define PORT_ENC     0x0008
#define PORT_RD      0x0040
#define PORT_LSDA    0x0100
#define PORT_RESET   0x0200
#define PORT_SUSPEND 0x1000
#define PORT_READ_ONLY  0x01bb
#define PORT_WRITE_CLEAR (PORT_CSC | PORT_ENC)

#define TD_CTRL_SPD     (1u << 29)
#define TD_CTRL_IOS     (1u << 25)
#define TD_CTRL_IOC     (1u << 24)
#define TD_CTRL_ACTIVE  (1u << 23)
#define TD_CTRL_STALL   (1u << 22)
#define TD_CTRL_BABBLE  (1u << 20)
#define TD_CTRL_NAK     (1u << 19)
#define TD_CTRL_TIMEOUT (1u << 18)
#define TD_CTRL_ERRCNT  (3u << 27)

#define LINK_TERM  0x1
#define LINK_QH    0x2
#define LINK_DEPTH 0x4

#define NB_PORTS          2
#define FRAME_NS          1000000
#define UHCI_MAX_ELEMENTS 512
#define UHCI_MAX_QHS      64
#define UHCI_MAX_PACKET   1280
#define UHCI_IDLE_AFTER   32 /* idle frames before the slow pace */
#define UHCI_IDLE_FRAMES  8

typedef struct UHCIState {
    PCIDevice pci;
    MemoryRegion io;
    USBBus *bus;
    uint16_t cmd, status, intr, frnum;
    uint32_t fl_base;
    uint8_t sof_timing;
    uint8_t status2; /* bit 0: an IOC completed, bit 1: a short packet (both raise USBINT) */
    uint16_t portsc[NB_PORTS];
    int64_t expire; /* the next frame's start */
    uint32_t idle_frames;
    VTimer frame_timer;
    /* properties */
    uint32_t bandwidth, maxframes;
    uint8_t buf[UHCI_MAX_PACKET];
} UHCIState;

/* Little-endian words through the function's bus-master DMA: false on any DMA error. */
static bool dma_ld32_pci(UHCIState *s, uint32_t addr, uint32_t *v)
{
    uint32_t le;
    if (pci_dma_read(&s->pci, addr, &le, 4) != DMA_OK) {
        return false;
    }
    *v = GUINT32_FROM_LE(le);
    return true;
}

static bool dma_st32_pci(UHCIState *s, uint32_t addr, uint32_t v)
{
    uint32_t le = GUINT32_TO_LE(v);
    return pci_dma_write(&s->pci, addr, &le, 4) == DMA_OK;
}

static void uhci_update_irq(UHCIState *s)
{
    bool level = ((s->status2 & 1) && (s->intr & INTR_IOC)) ||
                 ((s->status2 & 2) && (s->intr & INTR_SPD)) ||
                 ((s->status & STS_USBERR) && (s->intr & INTR_TIMEOUT)) ||
                 ((s->status & STS_RD) && (s->intr & INTR_RESUME)) ||
                 (s->status & (STS_HSERR | STS_HCPERR));
    pci_set_irq(&s->pci, level);
}

static void uhci_kick(UHCIState *s)
{
    /* back to one walk per frame; the pending tick comes at the next frame boundary */
    s->idle_frames = 0;
    if ((s->cmd & CMD_RS) && vtimer_pending(&s->frame_timer) &&
        s->frame_timer.expire > s->expire) {
        vtimer_mod(&s->frame_timer, s->expire);
    }
}

static void uhci_halt_error(UHCIState *s, uint16_t why)
{
    s->status |= why | STS_HCHALTED;
    s->cmd &= ~CMD_RS;
    vtimer_del(&s->frame_timer);
    uhci_update_irq(s);
}

static void uhci_reset_state(UHCIState *s)
{
    vtimer_del(&s->frame_timer);
    s->pci.config[0x6a] = 0x01; /* USB clock */
    s->pci.config[0x6b] = 0x00;
    s->cmd = 0;
    s->status = STS_HCHALTED;
    s->status2 = 0;
    s->intr = 0;
    s->fl_base = 0;
    s->sof_timing = 64;
    s->frnum = 0;
    s->idle_frames = 0;
    for (int i = 0; i < NB_PORTS; i++) {
        s->portsc[i] = 0x0080;
        USBDevice *d = s->bus ? s->bus->ports[i] : NULL;
        if (d) {
            /* a port reset: the device is seen as newly connected */
            usb_device_reset(d);
            s->portsc[i] |= PORT_CCS | PORT_CSC;
        }
    }
    uhci_update_irq(s);
}

/* ---- the schedule ----------------------------------------------------------------------------- */

static USBDevice *find_device(UHCIState *s, uint8_t addr)
{
    for (int i = 0; i < NB_PORTS; i++) {
        USBDevice *d = s->bus->ports[i];
        if (d && (s->portsc[i] & PORT_EN) && !(s->portsc[i] & PORT_SUSPEND) && d->addr == addr) {
            return d;
        }
    }
    return NULL;
}

enum { TD_DONE, TD_NEXT_QH, TD_HOST_ERROR };

/* One active TD at td_addr (its words in td[]): 0 done, TD_NEXT_QH, or TD_HOST_ERROR. */
static int uhci_handle_td(UHCIState *s, uint32_t td_addr, uint32_t *td, uint32_t *int_mask)
{
    uint32_t ctrl = td[1], token = td[2];
    int pid = token & 0xff;
    int maxlen = (int)((token >> 21) + 1) & 0x7ff;
    int ep = (token >> 15) & 0xf;
    uint8_t addr = (token >> 8) & 0x7f;
    int ret;

    if (maxlen > UHCI_MAX_PACKET) {
        ret = USB_RET_BABBLE;
    } else if (pid != USB_TOKEN_IN && pid != USB_TOKEN_OUT && pid != USB_TOKEN_SETUP) {
        ret = USB_RET_STALL;
    } else {
        USBDevice *dev = find_device(s, addr);
        if (!dev) {
            ret = USB_RET_NODEV;
        } else {
            if (pid != USB_TOKEN_IN && maxlen > 0 &&
                pci_dma_read(&s->pci, td[3], s->buf, maxlen) != DMA_OK) {
                return TD_HOST_ERROR;
            }
            ret = usb_handle_packet(dev, pid, ep, s->buf, maxlen);
            if (pid == USB_TOKEN_IN && ret > 0) {
                if (ret > maxlen) {
                    ret = USB_RET_BABBLE;
                } else if (pci_dma_write(&s->pci, td[3], s->buf, ret) != DMA_OK) {
                    return TD_HOST_ERROR;
                }
            }
        }
    }

    if (ret == USB_RET_NAK) {
        ctrl |= TD_CTRL_NAK;
        if (ctrl != td[1]) {
            td[1] = ctrl;
            if (!dma_st32_pci(s, td_addr + 4, ctrl)) {
                return TD_HOST_ERROR;
            }
        }
        return TD_NEXT_QH;
    }
    ctrl &= ~(TD_CTRL_ACTIVE | TD_CTRL_NAK | 0x7ffu);
    if (ret < 0) {
        switch (ret) {
        case USB_RET_STALL:
            ctrl |= TD_CTRL_STALL;
            break;
        case USB_RET_BABBLE:
            ctrl |= TD_CTRL_BABBLE | TD_CTRL_STALL;
            break;
        default: /* no device answers: a time-out, errors count down to 0 at once */
            ctrl |= TD_CTRL_TIMEOUT;
            ctrl &= ~TD_CTRL_ERRCNT;
            break;
        }
        ctrl |= 0x7ff; /* actual length: none */
        s->status |= STS_USBERR;
        if (ctrl & TD_CTRL_IOC) {
            *int_mask |= 1;
        }
        td[1] = ctrl;
        if (!dma_st32_pci(s, td_addr + 4, ctrl)) {
            return TD_HOST_ERROR;
        }
        uhci_update_irq(s);
        return TD_NEXT_QH;
    }
    ctrl |= (uint32_t)(ret - 1) & 0x7ff;
    td[1] = ctrl;
    if (!dma_st32_pci(s, td_addr + 4, ctrl)) {
        return TD_HOST_ERROR;
    }
    if (ctrl & TD_CTRL_IOC) {
        *int_mask |= 1;
    }
    if (pid == USB_TOKEN_IN && ret < maxlen && (ctrl & TD_CTRL_SPD)) {
        *int_mask |= 2; /* short packet: the queue stops here, its element is not advanced */
        return TD_NEXT_QH;
    }
    return TD_DONE;
}

/* Walk frame `frnum`'s list. false: a host system error halted the controller. */
static bool uhci_process_frame(UHCIState *s, uint32_t *int_mask)
{
    uint32_t link, qh_seen[UHCI_MAX_QHS];
    int n_qh_seen = 0, done_since_qh = 0;
    uint32_t cur_qh = 0, qh[2] = {0, 0};

    if (!dma_ld32_pci(s, s->fl_base + ((s->frnum & 0x3ff) << 2), &link)) {
        return false;
    }
    for (int elements = 0; elements < UHCI_MAX_ELEMENTS; elements++) {
        if (link & LINK_TERM) {
            if (!cur_qh) {
                break;
            }
            /* the queue's element list ended: on to the queue head's horizontal link */
            link = qh[0];
            cur_qh = 0;
            continue;
        }
        uint32_t addr = link & ~0xfu;
        if (link & LINK_QH) {
            bool seen = false;
            for (int i = 0; i < n_qh_seen; i++) {
                seen |= qh_seen[i] == addr;
            }
            if (seen) {
                if (!done_since_qh) {
                    break; /* a loop with nothing to do: the frame is over */
                }
                done_since_qh = 0;
                n_qh_seen = 0;
            }
            if (n_qh_seen < UHCI_MAX_QHS) {
                qh_seen[n_qh_seen++] = addr;
            }
            if (!dma_ld32_pci(s, addr, &qh[0]) || !dma_ld32_pci(s, addr + 4, &qh[1])) {
                return false;
            }
            if (qh[1] & LINK_TERM) {
                cur_qh = 0;
                link = qh[0];
            } else {
                cur_qh = addr;
                link = qh[1];
            }
            continue;
        }
        uint32_t td[4];
        if (pci_dma_read(&s->pci, addr, td, sizeof(td)) != DMA_OK) {
            return false;
        }
        for (int i = 0; i < 4; i++) {
            td[i] = GUINT32_FROM_LE(td[i]);
        }
        if (!(td[1] & TD_CTRL_ACTIVE)) {
            if (cur_qh) {
                /* an inactive element: this queue waits for the driver */
                link = qh[0];
                cur_qh = 0;
            } else {
                link = td[0];
            }
            continue;
        }
        int r = uhci_handle_td(s, addr, td, int_mask);
        if (r == TD_HOST_ERROR) {
            return false;
        }
        if (r == TD_NEXT_QH) {
            link = cur_qh ? qh[0] : td[0];
            cur_qh = 0;
            continue;
        }
        done_since_qh++;
        s->idle_frames = 0;
        link = td[0];
        if (cur_qh) {
            /* advance the queue's element pointer */
            qh[1] = link;
            if (!dma_st32_pci(s, cur_qh + 4, link)) {
                return false;
            }
            if (!(link & LINK_DEPTH)) {
                link = qh[0];
                cur_qh = 0;
            }
        }
    }
    return true;
}

static void uhci_frame_timer(void *opaque)
{
    UHCIState *s = opaque;
    int64_t now = vclock_ns();
    if (!(s->cmd & CMD_RS)) {
        return;
    }
    /* frames due since the last tick; a long stall (paused, slow host) is not replayed */
    int64_t due = (now - s->expire) / FRAME_NS + 1;
    if (due < 1) {
        due = 1;
    }
    if (due > (int64_t)s->maxframes) {
        s->expire = now;
        due = 1;
    }
    uint32_t int_mask = 0;
    s->frnum = (uint16_t)((s->frnum + due - 1) & 0x7ff);
    if (!uhci_process_frame(s, &int_mask)) {
        uhci_halt_error(s, STS_HSERR);
        return;
    }
    s->frnum = (s->frnum + 1) & 0x7ff;
    s->expire += due * FRAME_NS;
    if (int_mask) {
        s->status2 |= (uint8_t)int_mask;
        s->status |= STS_USBINT;
        uhci_update_irq(s);
    }
    /* idle: nothing completed for a while: look at the schedule every few frames */
    if (s->idle_frames < UHCI_IDLE_AFTER) {
        s->idle_frames++;
    }
    int64_t next = s->expire;
    if (s->idle_frames >= UHCI_IDLE_AFTER) {
        next += (UHCI_IDLE_FRAMES - 1) * (int64_t)FRAME_NS;
    }
    vtimer_mod(&s->frame_timer, next);
}

/* ---- registers -------------------------------------------------------------------------------- */

static uint16_t uhci_readw(UHCIState *s, uint64_t addr)
{
    switch (addr) {
    case 0x00:
        return s->cmd;
    case 0x02:
        return s->status;
    case 0x04:
        return s->intr;
    case 0x06:
        if (s->cmd & CMD_RS) {
            /* the frame number counts every millisecond, also while the walks are sparse */
            /* frames begun since the last walk (which set expire one frame ahead) */
            int64_t late = (vclock_ns() - s->expire + FRAME_NS) / FRAME_NS;
            if (late > 0) {
                return (uint16_t)((s->frnum + late) & 0x7ff);
            }
        }
        return s->frnum;
    case 0x08:
        return (uint16_t)s->fl_base;
    case 0x0a:
        return (uint16_t)(s->fl_base >> 16);
    case 0x0c:
        return s->sof_timing;
    default:
        if (addr >= 0x10 && ((addr >> 1) & 7) < NB_PORTS) {
            return s->portsc[(addr >> 1) & 7];
        }
        return 0xff7f; /* a disabled port */
    }
}

static void uhci_port_write(UHCIState *s, int n, uint16_t val)
{
    USBDevice *dev = s->bus->ports[n];
    if (dev && (val & PORT_RESET) && !(s->portsc[n] & PORT_RESET)) {
        usb_device_reset(dev);
    }
    uint16_t old = s->portsc[n];
    s->portsc[n] = (uint16_t)((old & PORT_READ_ONLY) | (val & ~PORT_READ_ONLY));
    s->portsc[n] &= (uint16_t)~(val & PORT_WRITE_CLEAR);
    if (!dev) {
        s->portsc[n] &= (uint16_t)~PORT_EN; /* nothing to enable */
    }
}

static void uhci_writew(UHCIState *s, uint64_t addr, uint16_t val)
{
    switch (addr) {
    case 0x00:
        if ((val & CMD_RS) && !(s->cmd & CMD_RS)) {
            s->expire = vclock_ns() + FRAME_NS;
            s->idle_frames = 0;
            s->status &= ~STS_HCHALTED;
            vtimer_mod(&s->frame_timer, s->expire);
        } else if (!(val & CMD_RS)) {
            s->status |= STS_HCHALTED;
            vtimer_del(&s->frame_timer);
        }
        if (val & CMD_GRESET) {
            if (s->bus) {
                usb_bus_reset(s->bus);
            }
            uhci_reset_state(s);
            return;
        }
        if (val & CMD_HCRESET) {
            uhci_reset_state(s);
            return;
        }
        s->cmd = val;
        break;
    case 0x02:
        s->status &= ~(val & ~STS_HCHALTED);
        if (val & STS_USBINT) {
            s->status2 = 0;
        }
        uhci_update_irq(s);
        break;
    case 0x04:
        s->intr = val;
        uhci_update_irq(s);
        break;
    case 0x06:
        if (s->status & STS_HCHALTED) {
            s->frnum = val & 0x7ff;
        }
        break;
    case 0x08:
        s->fl_base = (s->fl_base & 0xffff0000u) | (val & 0xf000u);
        break;
    case 0x0a:
        s->fl_base = (s->fl_base & 0xffffu) | (uint32_t)val << 16;
        break;
    case 0x0c:
        s->sof_timing = (uint8_t)val;
        break;
    default:
        if (addr >= 0x10 && ((addr >> 1) & 7) < NB_PORTS) {
            uhci_port_write(s, (int)(addr >> 1) & 7, val);
        }
        break;
    }
}

/*
 * The registers are 16 bits wide; other sizes are split or narrowed as QEMU 7.2's memory core
 * does for its 2-byte implementation: a byte access is a 16-bit access at the same (possibly
 * odd) offset, of which a read keeps the low byte; a 32-bit access is two 16-bit ones.
 */
static uint64_t uhci_io_read(void *opaque, uint64_t addr, unsigned size)
{
    UHCIState *s = opaque;
    uhci_kick(s);
    if (size == 4) {
        return uhci_readw(s, addr) | (uint32_t)uhci_readw(s, addr + 2) << 16;
    }
    uint16_t w = uhci_readw(s, addr);
    return size == 1 ? (w & 0xff) : w;
}

static void uhci_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    UHCIState *s = opaque;
    uhci_kick(s);
    if (size == 4) {
        uhci_writew(s, addr, (uint16_t)val);
        uhci_writew(s, addr + 2, (uint16_t)(val >> 16));
    } else {
        uhci_writew(s, addr, (uint16_t)(size == 1 ? (val & 0xff) : val));
    }
}

static const MemoryRegionOps uhci_io_ops = {.read = uhci_io_read, .write = uhci_io_write};

/* ---- ports ------------------------------------------------------------------------------------ */

static void uhci_attach(void *opaque, int port)
{
    UHCIState *s = opaque;
    s->portsc[port] |= PORT_CCS | PORT_CSC;
    s->portsc[port] &= (uint16_t)~PORT_LSDA; /* full speed */
    if (s->cmd & CMD_EGSM) {
        /* a connect resumes a suspended bus */
        s->cmd |= CMD_FGR;
        s->status |= STS_RD;
        uhci_update_irq(s);
    }
}

static void uhci_detach(void *opaque, int port)
{
    UHCIState *s = opaque;
    s->portsc[port] &= (uint16_t)~(PORT_CCS | PORT_LSDA);
    s->portsc[port] |= PORT_CSC;
    if (s->portsc[port] & PORT_EN) {
        s->portsc[port] &= (uint16_t)~PORT_EN;
        s->portsc[port] |= PORT_ENC;
    }
}

static void uhci_wakeup(void *opaque, int port)
{
    UHCIState *s = opaque;
    USBDevice *d = s->bus->ports[port];
    uhci_kick(s);
    if ((s->portsc[port] & PORT_SUSPEND) && d && d->remote_wakeup) {
        s->portsc[port] |= PORT_RD;
        if (s->cmd & CMD_EGSM) {
            s->cmd |= CMD_FGR;
            s->status |= STS_RD;
            uhci_update_irq(s);
        }
    }
}

static const USBPortOps uhci_port_ops = {
    .attach = uhci_attach, .detach = uhci_detach, .wakeup = uhci_wakeup};

/* ---- the device ------------------------------------------------------------------------------- */

static bool uhci_realize(Device *dev, char **errp)
{
    (void)errp;
    UHCIState *s = (UHCIState *)dev;
    s->pci.config[PCI_CLASS_PROG] = 0x00;
    s->pci.config[0x60] = 0x10; /* SBRN: USB 1.0 */
    s->pci.config[PCI_INTERRUPT_PIN] = 4; /* INTD */
    vtimer_init(&s->frame_timer, uhci_frame_timer, s);
    memory_region_init_io(&s->io, "uhci", &uhci_io_ops, s, 0x20);
    pci_register_bar(&s->pci, 4, PCI_BASE_ADDRESS_SPACE_IO, &s->io);
    char path[16];
    snprintf(path, sizeof(path), "0000:00:%02x.%x", PCI_SLOT(s->pci.devfn),
             PCI_FUNC(s->pci.devfn));
    s->bus = usb_bus_new(dev, NB_PORTS, &uhci_port_ops, s, path);
    uhci_reset_state(s);
    return true;
}

static void uhci_unrealize(Device *dev)
{
    UHCIState *s = (UHCIState *)dev;
    vtimer_del(&s->frame_timer);
    usb_bus_free(s->bus);
    s->bus = NULL;
    memory_region_destroy(&s->io);
}

static void uhci_reset(Device *dev)
{
    UHCIState *s = (UHCIState *)dev;
    pci_device_reset(&s->pci);
    uhci_reset_state(s);
}

static bool uhci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    UHCIState *s = opaque;
    pci_update_mappings(&s->pci);
    uhci_update_irq(s);
    return true;
}

static const VMStateField uhci_fields[] = {
    VMSTATE_BUFFER(pci.config, UHCIState),
    VMSTATE_UINT16_ARRAY(portsc, UHCIState, NB_PORTS),
    VMSTATE_UINT16(cmd, UHCIState),
    VMSTATE_UINT16(status, UHCIState),
    VMSTATE_UINT16(intr, UHCIState),
    VMSTATE_UINT16(frnum, UHCIState),
    VMSTATE_UINT32(fl_base, UHCIState),
    VMSTATE_UINT8(sof_timing, UHCIState),
    VMSTATE_UINT8(status2, UHCIState),
    VMSTATE_TIMER(frame_timer, UHCIState),
    VMSTATE_INT64(expire, UHCIState),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription uhci_vmsd = {
    .name = "uhci", .version = 3, .minimum_version = 3, .fields = uhci_fields,
    .post_load = uhci_post_load};

static const Property uhci_props[] = {
    DEFINE_PROP_UINT32("bandwidth", UHCIState, bandwidth, 1280),
    DEFINE_PROP_UINT32("maxframes", UHCIState, maxframes, 128),
    DEFINE_PROP_END,
};

static const PCIDeviceInfo uhci_pci = {
    .vendor_id = 0x8086, .device_id = 0x7020, .revision = 0x01, .class_code = 0x0c0300};

const DeviceInfo piix3_usb_uhci_info = {
    .name = "piix3-usb-uhci",
    .category = DEVICE_CATEGORY_USB,
    .bus = BUS_PCI,
    .instance_size = sizeof(UHCIState),
    .props = uhci_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = uhci_realize,
    .unrealize = uhci_unrealize,
    .reset = uhci_reset,
    .vmsd = &uhci_vmsd,
    .pci = &uhci_pci,
    .child_bus = BUS_USB,
    .qom_parent = "pci-uhci-usb",
    .qom_children = (const char *const[]){"uhci[0]=child<memory-region>", NULL},
};
