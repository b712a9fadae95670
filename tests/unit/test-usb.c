/*
 * USB: the HID devices' descriptors and reports (QEMU 7.2's bytes), the control pipe, and
 * piix3-usb-uhci walking a schedule in guest RAM: a control transfer, interrupt IN with NAK
 * and data, bad pointers (host system error, halted), loops (the frame ends), the idle pace.
 */
#include <string.h>
#include <glib.h>
#include "../lib/unit.h"
#include "vireo/accel.h"
#include "vireo/hid.h"
#include "vireo/machine.h"
#include "vireo/pci.h"
#include "vireo/runstate.h"
#include "vireo/timer.h"
#include "vireo/usb.h"

static PCIBus *bus;
static int intx_level[4];
static uint8_t *ram;
static int64_t now_ns = 1000000000;

static int64_t fake_clock(void)
{
    return now_ns;
}

static int route(PCIDevice *d, int pin)
{
    return (PCI_SLOT(d->devfn) + pin - 1) & 3;
}

static void set_intx(void *opaque, int input, int level)
{
    (void)opaque;
    intx_level[input] = level;
}

static const AccelOps test_accel = {.name = "test"};

/* the test bus routes slot 1 pin D here */
#define IRQ_IN 3
#define IOBASE 0xc040
#define FL     0x10000 /* frame list */
#define QH0    0x11000
#define TD(n)  (0x12000 + 0x20 * (n))
#define BUF    0x13000

static void w32(uint32_t a, uint32_t v)
{
    memcpy(ram + a, &v, 4);
}

static uint32_t r32(uint32_t a)
{
    uint32_t v;
    memcpy(&v, ram + a, 4);
    return v;
}

static uint16_t inw(uint16_t off)
{
    uint16_t v = 0;
    pio_dispatch(IOBASE + off, &v, 2, false);
    return v;
}

static void outw(uint16_t off, uint16_t v)
{
    pio_dispatch(IOBASE + off, &v, 2, true);
}

static void outl(uint16_t off, uint32_t v)
{
    pio_dispatch(IOBASE + off, &v, 4, true);
}

/* Run the frames due after ms milliseconds of virtual time. */
static void run_ms(int ms)
{
    for (int i = 0; i < ms; i++) {
        now_ns += 1000000;
        vireo_lock();
        vtimers_run();
        vireo_unlock();
    }
}

static uint32_t token(int pid, int addr, int ep, int len)
{
    return (uint32_t)pid | (uint32_t)addr << 8 | (uint32_t)ep << 15 |
           (uint32_t)((len - 1) & 0x7ff) << 21;
}

#define ACTIVE (1u << 23)
#define IOC    (1u << 24)
#define SPD    (1u << 29)

/* A control transfer on a queue head: SETUP, one IN or OUT data TD (or none), status. */
static void control(int addr, const uint8_t setup[8], int in_len)
{
    memcpy(ram + BUF, setup, 8);
    w32(TD(0), TD(1) | 4);
    w32(TD(0) + 4, ACTIVE | (3u << 27));
    w32(TD(0) + 8, token(USB_TOKEN_SETUP, addr, 0, 8));
    w32(TD(0) + 12, BUF);
    if (in_len) {
        w32(TD(1), TD(2) | 4);
        w32(TD(1) + 4, ACTIVE | SPD);
        w32(TD(1) + 8, token(USB_TOKEN_IN, addr, 0, in_len));
        w32(TD(1) + 12, BUF + 0x100);
        w32(TD(2), 1);
        w32(TD(2) + 4, ACTIVE | IOC);
        w32(TD(2) + 8, token(USB_TOKEN_OUT, addr, 0, 0));
    } else {
        w32(TD(1), 1);
        w32(TD(1) + 4, ACTIVE | IOC);
        w32(TD(1) + 8, token(USB_TOKEN_IN, addr, 0, 0));
        w32(TD(2) + 4, 0);
    }
    w32(QH0, 1);
    w32(QH0 + 4, TD(0));
    run_ms(1);
}

int main(void)
{
    static MemoryRegion pci_space, pci_alias, ram_mr;
    ram = calloc(1, 16 << 20);
    current_accel = &test_accel;
    vclock_set_source(fake_clock);
    memory_region_init_ram_ptr(&ram_mr, "ram", 16 << 20, ram);
    memory_region_add_subregion(get_system_memory(), 0, &ram_mr, 0);
    memory_region_init_container(&pci_space, "pci", UINT64_MAX);
    memory_region_init_alias(&pci_alias, "pci-hole", &pci_space, 0, UINT64_MAX);
    memory_region_add_subregion(get_system_memory(), 0, &pci_alias, -1);
    bus = pci_bus_new("pci.0", &pci_space, get_system_io(), route, set_intx, NULL, 4);
    device_set_machine_buses(true);
    vm_start(NULL); /* input reaches devices only while the VM runs */

    /* ---- HID report descriptors and the devices' descriptors ---- */
    uint8_t b[256];
    CHECK("hid/report-desc-sizes", hid_report_descriptor(HID_TABLET, b, 256) == 74 &&
                                       hid_report_descriptor(HID_MOUSE, b, 256) == 52 &&
                                       hid_report_descriptor(HID_KEYBOARD, b, 256) == 63);
    hid_report_descriptor(HID_TABLET, b, 256);
    /* Usage (Mouse); X/Y logical 0..0x7fff in 16 bits; the relative wheel last */
    CHECK("hid/tablet-report-desc", b[3] == 0x02 && b[40] == 0x26 && b[41] == 0xff &&
                                        b[42] == 0x7f && b[49] == 0x10 && b[71] == 0x06 &&
                                        b[73] == 0xc0);
    const USBDesc *td = usb_hid_desc(HID_TABLET);
    static const uint8_t tablet_dev[18] = {18, 1, 0x00, 0x01, 0, 0, 0, 8, 0x27, 0x06, 0x01, 0,
                                           0, 0, 1, 3, 10, 1};
    CHECK("desc/tablet-device", !memcmp(td->device, tablet_dev, 18));
    CHECK("desc/tablet-config", td->config_len == 34 && td->config[2] == 34 &&
                                    td->config[6] == 7 && td->config[7] == 0xa0 &&
                                    td->config[8] == 50 && td->config[14] == 3 &&
                                    td->config[15] == 0 && td->config[16] == 0 &&
                                    td->config[25] == 74 && td->config[29] == 0x81 &&
                                    td->config[31] == 8 && td->config[33] == 10);
    const USBDesc *kd = usb_hid_desc(HID_KEYBOARD), *md = usb_hid_desc(HID_MOUSE);
    CHECK("desc/kbd-mouse", kd->config[15] == 1 && kd->config[16] == 1 && kd->config[20] == 0x11 &&
                                kd->config[21] == 0x01 && kd->config[25] == 63 &&
                                md->config[16] == 2 && md->config[31] == 4 &&
                                kd->device[15] == 4 && md->device[16] == 9);
    CHECK("desc/string", usb_string_desc("QEMU", b, 64) == 10 && b[0] == 10 && b[1] == 3 &&
                             b[2] == 'Q' && b[3] == 0 && b[8] == 'U');
    CHECK("hid/usage", hid_usage_of_qcode(Q_KEY_CODE_A) == 0x04 &&
                           hid_usage_of_qcode(Q_KEY_CODE_RET) == 0x28 &&
                           hid_usage_of_qcode(Q_KEY_CODE_SHIFT_R) == 0xe5 &&
                           hid_usage_of_qcode(Q_KEY_CODE_KP_0) == 0x62);

    /* ---- the controller and a tablet on port 1 ---- */
    Device *u = device_create_simple("piix3-usb-uhci", "addr", "01.2", NULL);
    PCIDevice *pd = PCI_DEVICE(u);
    CHECK("uhci/created", u && pci_bus_config_read(bus, 0x0a, 0, 4) == 0x70208086 &&
                              pci_bus_config_read(bus, 0x0a, 8, 4) == 0x0c030001 &&
                              pci_bus_config_read(bus, 0x0a, 0x3d, 1) == 4 &&
                              pci_bus_config_read(bus, 0x0a, 0x60, 1) == 0x10 &&
                              pci_bus_config_read(bus, 0x0a, 0x6a, 1) == 0x01);
    pci_bus_config_write(bus, 0x0a, 0x20, 0xffffffff, 4);
    CHECK("uhci/bar4-size", pci_bus_config_read(bus, 0x0a, 0x20, 4) == 0xffffffe1);
    pci_bus_config_write(bus, 0x0a, 0x20, IOBASE, 4);
    pci_bus_config_write(bus, 0x0a, 0x04, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    Device *t = device_create_simple("usb-tablet", NULL);
    USBDevice *ud = (USBDevice *)t;
    CHECK("tablet/plugged", t && ud->port == 0 && !strcmp(ud->serial, "28754-0000:00:01.2-1"));
    CHECK("uhci/regs-after-reset", inw(0) == 0 && inw(2) == 0x20 && inw(0x10) == 0x83 &&
                                       inw(0x12) == 0x80 && inw(0x14) == 0xff7f);

    /* ports: reset, enable, write-1-to-clear the change bit */
    outw(0x10, 0x0200);
    outw(0x10, 0x0000);
    outw(0x10, 0x0004 | 0x0002);
    CHECK("uhci/port-enable", inw(0x10) == 0x85);
    outw(0x12, 0x0004);
    CHECK("uhci/empty-port-stays-disabled", inw(0x12) == 0x80);

    /* every frame list entry points at one queue head */
    for (int i = 0; i < 1024; i++) {
        w32(FL + 4 * i, QH0 | 2);
    }
    w32(QH0, 1);
    w32(QH0 + 4, 1);
    outl(8, FL);
    outw(4, 0x000f); /* every interrupt */
    outw(0, 0x0001); /* run */
    CHECK("uhci/running", inw(2) == 0 && inw(0) == 1);
    run_ms(3);
    CHECK("uhci/frames-count", inw(6) == 3);

    /* GET_DESCRIPTOR(device) at address 0, 18 bytes in one IN TD */
    static const uint8_t get_dev[8] = {0x80, 6, 0, 1, 0, 0, 18, 0};
    control(0, get_dev, 18);
    CHECK("ctrl/get-device-desc", !(r32(TD(0) + 4) & ACTIVE) && !(r32(TD(1) + 4) & ACTIVE) &&
                                      !(r32(TD(2) + 4) & ACTIVE) &&
                                      (r32(TD(1) + 4) & 0x7ff) == 17 &&
                                      !memcmp(ram + BUF + 0x100, "\x12\x01\x00\x02", 4) &&
                                      ram[BUF + 0x100 + 16] == 10 && r32(QH0 + 4) == 1);
    CHECK("ctrl/ioc-interrupt", (inw(2) & 1) && intx_level[IRQ_IN] == 1);
    outw(2, 0x0001);
    CHECK("ctrl/interrupt-acked", !(inw(2) & 1) && intx_level[IRQ_IN] == 0);

    /* SET_ADDRESS 5: the address changes after the status stage */
    static const uint8_t set_addr[8] = {0x00, 5, 5, 0, 0, 0, 0, 0};
    control(0, set_addr, 0);
    CHECK("ctrl/set-address", ud->addr == 5 && !(r32(TD(1) + 4) & ACTIVE));
    /* the serial number string at the new address */
    static const uint8_t get_serial[8] = {0x80, 6, 10, 3, 0x09, 0x04, 255, 0};
    control(5, get_serial, 64);
    CHECK("ctrl/serial-string", ram[BUF + 0x100] == 2 + 2 * 20 &&
                                    !memcmp(ram + BUF + 0x102, "2\0" "8\0" "7\0" "5\0" "4\0-", 11));
    /* a device that is not there: time-out, error interrupt, the TD retired */
    control(9, get_dev, 18);
    CHECK("ctrl/no-device", !(r32(TD(0) + 4) & ACTIVE) && (r32(TD(0) + 4) & (1u << 18)) &&
                                (inw(2) & 2));
    outw(2, 0x0003);
    /* a request the device refuses stalls */
    static const uint8_t bad_desc[8] = {0x80, 6, 0, 9, 0, 0, 8, 0};
    control(5, bad_desc, 8);
    CHECK("ctrl/stall", (r32(TD(0) + 4) & (1u << 22)) && !(r32(TD(0) + 4) & ACTIVE));
    outw(2, 0x0003);
    static const uint8_t set_config[8] = {0x00, 9, 1, 0, 0, 0, 0, 0};
    control(5, set_config, 0);
    CHECK("ctrl/set-config", ud->config == 1);
    /* HID report descriptor through GET_DESCRIPTOR on the interface */
    static const uint8_t get_report_desc[8] = {0x81, 6, 0, 0x22, 0, 0, 74, 0};
    control(5, get_report_desc, 74);
    hid_report_descriptor(HID_TABLET, b, 256);
    CHECK("ctrl/report-desc", !memcmp(ram + BUF + 0x100, b, 74));

    /* interrupt IN: NAK without events, then the report of an absolute move and a click */
    w32(TD(3), 1);
    w32(TD(3) + 4, ACTIVE | SPD | IOC);
    w32(TD(3) + 8, token(USB_TOKEN_IN, 5, 1, 8));
    w32(TD(3) + 12, BUF + 0x200);
    w32(QH0 + 4, TD(3));
    run_ms(2);
    CHECK("intr/nak", (r32(TD(3) + 4) & ACTIVE) && (r32(TD(3) + 4) & (1u << 19)) &&
                          r32(QH0 + 4) == TD(3));
    InputEvent ev = {.kind = INPUT_EVENT_ABS, .move = {INPUT_AXIS_X, 0x1234}};
    input_send_event(&ev);
    ev.move.axis = INPUT_AXIS_Y;
    ev.move.value = 0x4321;
    input_send_event(&ev);
    input_send_btn(INPUT_BUTTON_LEFT, true);
    input_sync();
    run_ms(1);
    CHECK("intr/report", !(r32(TD(3) + 4) & ACTIVE) && (r32(TD(3) + 4) & 0x7ff) == 5 &&
                             !memcmp(ram + BUF + 0x200, "\x01\x34\x12\x21\x43\x00", 6) &&
                             r32(QH0 + 4) == TD(3) /* a short packet: the queue stops */ &&
                             (inw(2) & 1));
    outw(2, 0x0001);
    CHECK("input/tablet-active", input_active_name(INPUT_EVENT_ABS) &&
                                     !strcmp(input_active_name(INPUT_EVENT_ABS),
                                             "QEMU HID Tablet"));

    /* idle: after a while without transfers, frames are walked every 8 ms; the frame number
     * still counts every millisecond; an input event brings the walk back at once */
    w32(TD(3) + 4, ACTIVE | SPD | IOC);
    w32(QH0 + 4, TD(3));
    run_ms(40);
    uint16_t f0 = inw(6);
    now_ns += 3000000;
    CHECK("idle/frnum-counts", inw(6) == ((f0 + 3) & 0x7ff));
    now_ns -= 3000000;
    input_send_btn(INPUT_BUTTON_LEFT, false);
    input_sync();
    run_ms(1);
    CHECK("idle/wakeup", !(r32(TD(3) + 4) & ACTIVE) && ram[BUF + 0x200] == 0);
    outw(2, 0x0003);

    /* while idle a transfer queued in memory alone waits at most 8 frames */
    run_ms(40);
    static const uint8_t get_status[8] = {0x80, 0, 0, 0, 0, 0, 2, 0};
    memcpy(ram + BUF, get_status, 8);
    w32(TD(0), 1);
    w32(TD(0) + 4, ACTIVE);
    w32(TD(0) + 8, token(USB_TOKEN_SETUP, 5, 0, 8));
    w32(TD(0) + 12, BUF);
    w32(QH0 + 4, TD(0));
    int waited = 0;
    while ((r32(TD(0) + 4) & ACTIVE) && waited < 20) {
        run_ms(1);
        waited++;
    }
    CHECK("idle/queued-transfer-bounded", !(r32(TD(0) + 4) & ACTIVE) && waited <= 8);
    outw(2, 0x0003);

    /* loops: a queue head linked to itself with nothing to do, a TD ring of inactive TDs */
    w32(QH0, QH0 | 2);
    w32(QH0 + 4, 1);
    run_ms(2);
    CHECK("loop/qh-self", !(inw(2) & 0x38) && (inw(0) & 1));
    w32(TD(4), TD(5));
    w32(TD(4) + 4, 0);
    w32(TD(5), TD(4));
    w32(TD(5) + 4, 0);
    w32(QH0, TD(4));
    run_ms(2);
    CHECK("loop/td-ring", !(inw(2) & 0x38) && (inw(0) & 1));
    /* active TDs in a ring inside a queue (depth first): bounded too */
    w32(TD(4), TD(5) | 4);
    w32(TD(4) + 4, ACTIVE);
    w32(TD(4) + 8, token(USB_TOKEN_OUT, 9, 0, 0));
    w32(TD(5), TD(4) | 4);
    w32(TD(5) + 4, ACTIVE);
    w32(TD(5) + 8, token(USB_TOKEN_OUT, 9, 0, 0));
    w32(QH0, 1);
    w32(QH0 + 4, TD(4));
    run_ms(2);
    CHECK("loop/active-ring", !(inw(2) & 0x18) && (inw(0) & 1));
    outw(2, 0x0003);

    /* bad pointers: a queue head outside RAM halts the controller with a host system error */
    w32(QH0, 0xfebf0000 | 2);
    w32(QH0 + 4, 1);
    run_ms(1);
    CHECK("bad/qh-outside-ram", (inw(2) & 0x28) == 0x28 && !(inw(0) & 1) &&
                                    intx_level[IRQ_IN] == 1);
    outw(2, 0x0008);
    CHECK("bad/hse-cleared", !(inw(2) & 0x08) && intx_level[IRQ_IN] == 0);
    /* a TD buffer outside RAM, and bus mastering off: the same */
    w32(QH0, 1);
    w32(QH0 + 4, TD(0));
    w32(TD(0), 1);
    w32(TD(0) + 4, ACTIVE);
    w32(TD(0) + 8, token(USB_TOKEN_SETUP, 5, 0, 8));
    w32(TD(0) + 12, 0xfffffff0);
    outw(0, 0x0001);
    run_ms(1);
    CHECK("bad/buffer-outside-ram", (inw(2) & 0x28) == 0x28 && (r32(TD(0) + 4) & ACTIVE));
    outw(2, 0x0008);
    w32(TD(0) + 12, BUF);
    pci_bus_config_write(bus, 0x0a, 0x04, PCI_COMMAND_IO, 2);
    outw(0, 0x0001);
    run_ms(1);
    CHECK("bad/no-bus-master", (inw(2) & 0x28) == 0x28);
    pci_bus_config_write(bus, 0x0a, 0x04, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    outw(2, 0x0008);
    /* a frame list base outside RAM */
    outl(8, 0xfec00000);
    outw(0, 0x0001);
    run_ms(1);
    CHECK("bad/frame-list", (inw(2) & 0x28) == 0x28);

    /* HMP info usb, as QEMU prints it */
    char *info = usb_info_text();
    CHECK("info-usb", info && !strcmp(info, "  Device 0.5, Port 1, Speed 12 Mb/s, Product QEMU "
                                            "USB Tablet\n"));
    g_free(info);

    /* host controller reset, then a detach */
    outw(0, 0x0002);
    CHECK("reset/hcreset", inw(0) == 0 && inw(2) == 0x20 && inw(0x10) == 0x83);
    device_free(t);
    CHECK("detach/port", inw(0x10) == 0x82);
    (void)pd;
    device_free(u);
    UNIT_EXIT();
}
