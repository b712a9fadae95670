/*
 * MC146818 CMOS real-time clock at 0x70 (index, bit 7 masks NMI) and 0x71 (data). The time
 * registers follow the host's UTC clock plus whatever offset the guest sets by writing
 * them; format (BCD/binary, 12/24 h) follows register B. CMOS bytes carry the memory sizes
 * firmware expects. Alarm and periodic interrupts are not generated yet.
 */
#include <string.h>
#include <time.h>
#include "vireo/device.h"
#include "vireo/devices.h"
#include "vireo/memory.h"
#include "vireo/ioport.h"

#define REG_A    0x0a
#define REG_B    0x0b
#define REG_C    0x0c
#define REG_D    0x0d
#define B_SET    0x80
#define B_24H    0x02
#define B_BINARY 0x04

static struct {
    uint8_t index;
    uint8_t cmos[128];
    int64_t offset; /* guest time minus host time, seconds */
} rtc;

static uint8_t to_reg(int v)
{
    if (rtc.cmos[REG_B] & B_BINARY) {
        return v;
    }
    return (v / 10) << 4 | (v % 10);
}

static int from_reg(uint8_t v)
{
    if (rtc.cmos[REG_B] & B_BINARY) {
        return v;
    }
    return (v >> 4) * 10 + (v & 0x0f);
}

static void current_tm(struct tm *tm)
{
    time_t t = time(NULL) + rtc.offset;
    gmtime_r(&t, tm);
}

static uint8_t hour_reg(int hour)
{
    if (rtc.cmos[REG_B] & B_24H) {
        return to_reg(hour);
    }
    int h12 = hour % 12 ? hour % 12 : 12;
    return to_reg(h12) | (hour >= 12 ? 0x80 : 0);
}

static uint64_t rtc_read(void *opaque, uint64_t addr, unsigned size)
{
    if (addr == 0) {
        return 0xff;
    }
    struct tm tm;
    uint8_t i = rtc.index;
    if (i <= 9 && !(rtc.cmos[REG_B] & B_SET)) {
        current_tm(&tm);
        switch (i) {
        case 0:
            return to_reg(tm.tm_sec);
        case 2:
            return to_reg(tm.tm_min);
        case 4:
            return hour_reg(tm.tm_hour);
        case 6:
            return to_reg(tm.tm_wday + 1);
        case 7:
            return to_reg(tm.tm_mday);
        case 8:
            return to_reg(tm.tm_mon + 1);
        case 9:
            return to_reg(tm.tm_year % 100);
        default:
            return rtc.cmos[i]; /* alarm registers */
        }
    }
    if (i == 0x32) { /* century */
        current_tm(&tm);
        return to_reg(19 + tm.tm_year / 100);
    }
    if (i == REG_C) {
        uint8_t v = rtc.cmos[REG_C];
        rtc.cmos[REG_C] = 0;
        return v;
    }
    return rtc.cmos[i];
}

/* The guest wrote the time registers while SET was on: recompute the offset. */
static void commit_time(void)
{
    struct tm tm = {0};
    tm.tm_sec = from_reg(rtc.cmos[0]);
    tm.tm_min = from_reg(rtc.cmos[2]);
    uint8_t h = rtc.cmos[4];
    if (rtc.cmos[REG_B] & B_24H) {
        tm.tm_hour = from_reg(h);
    } else {
        tm.tm_hour = from_reg(h & 0x7f) % 12 + ((h & 0x80) ? 12 : 0);
    }
    tm.tm_mday = from_reg(rtc.cmos[7]);
    tm.tm_mon = from_reg(rtc.cmos[8]) - 1;
    tm.tm_year = from_reg(rtc.cmos[9]) + (from_reg(rtc.cmos[0x32]) - 19) * 100;
    time_t t = timegm(&tm);
    if (t != (time_t)-1) {
        rtc.offset = (int64_t)t - (int64_t)time(NULL);
    }
}

static void rtc_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    if (addr == 0) {
        rtc.index = val & 0x7f;
        return;
    }
    uint8_t i = rtc.index, v = val;
    switch (i) {
    case REG_A:
        rtc.cmos[REG_A] = v & 0x7f; /* UIP is read-only */
        break;
    case REG_B: {
        bool was_set = rtc.cmos[REG_B] & B_SET;
        if (!was_set && (v & B_SET)) {
            /* Freeze the current time into the registers so the guest can edit them. */
            struct tm tm;
            current_tm(&tm);
            rtc.cmos[REG_B] = v & ~B_SET;
            rtc.cmos[0] = to_reg(tm.tm_sec);
            rtc.cmos[2] = to_reg(tm.tm_min);
            rtc.cmos[4] = hour_reg(tm.tm_hour);
            rtc.cmos[6] = to_reg(tm.tm_wday + 1);
            rtc.cmos[7] = to_reg(tm.tm_mday);
            rtc.cmos[8] = to_reg(tm.tm_mon + 1);
            rtc.cmos[9] = to_reg(tm.tm_year % 100);
            rtc.cmos[0x32] = to_reg(19 + tm.tm_year / 100);
        }
        rtc.cmos[REG_B] = v;
        if (was_set && !(v & B_SET)) {
            commit_time();
        }
        break;
    }
    case REG_C:
    case REG_D:
        break; /* read-only */
    default:
        rtc.cmos[i] = v;
        break;
    }
}

static const IOOps rtc_ops = {.read = rtc_read, .write = rtc_write};

static void cmos_init(uint64_t ram_below_4g, uint64_t ram_above_4g)
{
    memset(&rtc, 0, sizeof(rtc));
    rtc.cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
    rtc.cmos[REG_B] = B_24H;
    rtc.cmos[REG_D] = 0x80; /* valid RAM and time */
    /* Memory sizes, as firmware reads them: base, extended (1-16 MiB), above 16 MiB, above 4 GiB */
    rtc.cmos[0x15] = 0x80;
    rtc.cmos[0x16] = 0x02; /* 640 KiB base memory */
    uint64_t ext = ram_below_4g > (1 << 20) ? (ram_below_4g - (1 << 20)) >> 10 : 0;
    if (ext > 0xfc00) {
        ext = 0xfc00;
    }
    rtc.cmos[0x17] = rtc.cmos[0x30] = ext & 0xff;
    rtc.cmos[0x18] = rtc.cmos[0x31] = ext >> 8;
    uint64_t above16 = ram_below_4g > (16 << 20) ? (ram_below_4g - (16 << 20)) >> 16 : 0;
    if (above16 > 0xffff) {
        above16 = 0xffff;
    }
    rtc.cmos[0x34] = above16 & 0xff;
    rtc.cmos[0x35] = above16 >> 8;
    uint64_t high = ram_above_4g >> 16;
    rtc.cmos[0x5b] = high & 0xff;
    rtc.cmos[0x5c] = (high >> 8) & 0xff;
    rtc.cmos[0x5d] = (high >> 16) & 0xff;
}

/*
 * QEMU's "mc146818rtc" device: iobase (0x70) and irq (8) as QEMU has them; base_year and
 * lost_tick_policy are accepted (no periodic interrupt is generated yet, so no tick is lost).
 */
typedef struct RTCDevice {
    Device dev;
    int32_t base_year;
    uint16_t iobase;
    uint8_t irq;
    char *lost_tick_policy;
    MemoryRegion io;
} RTCDevice;

static bool rtc_realize(Device *dev, char **errp)
{
    (void)errp;
    RTCDevice *s = (RTCDevice *)dev;
    cmos_init(guest_ram.n ? guest_ram.blocks[0].size : 0,
              guest_ram.n > 1 ? guest_ram.blocks[1].size : 0);
    memory_region_init_io(&s->io, "rtc", &rtc_ops, s, 2);
    memory_region_add_subregion(get_system_io(), s->iobase, &s->io, 0);
    return true;
}

static void rtc_unrealize(Device *dev)
{
    RTCDevice *s = (RTCDevice *)dev;
    memory_region_destroy(&s->io);
}

/* A CMOS byte the machine sets (the boot order, as QEMU's pc_cmos_init writes it). */
void rtc_cmos_set(uint8_t index, uint8_t val)
{
    if (index < sizeof(rtc.cmos)) {
        rtc.cmos[index] = val;
    }
}

/* Power-on: the interrupt enables and flags clear; time and CMOS contents stay. */
static void rtc_reset(Device *dev)
{
    (void)dev;
    rtc.cmos[REG_B] &= (uint8_t)~0x70; /* PIE, AIE, UIE */
    rtc.cmos[REG_C] = 0;
}

static const Property rtc_props[] = {
    DEFINE_PROP_INT32("base_year", RTCDevice, base_year, 1980),
    DEFINE_PROP_UINT16("iobase", RTCDevice, iobase, 0x70),
    DEFINE_PROP_UINT8("irq", RTCDevice, irq, 8),
    DEFINE_PROP_(("lost_tick_policy"), PROP_STRING, RTCDevice, lost_tick_policy, true,
                 .def.s = "discard", .type_name = "LostTickPolicy"),
    DEFINE_PROP_END,
};

const DeviceInfo mc146818rtc_info = {
    .name = "mc146818rtc",
    .category = DEVICE_CATEGORY_MISC,
    .bus = BUS_ISA,
    .instance_size = sizeof(RTCDevice),
    .props = rtc_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = rtc_realize,
    .unrealize = rtc_unrealize,
    .reset = rtc_reset,
    .qom_interfaces = (const char *const[]){"acpi-dev-aml-interface", NULL},
};
