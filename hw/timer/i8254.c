/*
 * The 8254 programmable interval timer at 0x40-0x43 (1.193182 MHz input clock) and the
 * NMI status/control port 0x61 (channel 2's gate and OUT, the speaker enable, the refresh
 * toggle). Counters are computed from vclock_ns() rather than ticked: a channel remembers
 * when its count was loaded, and its counter and OUT follow from the time elapsed.
 *
 * Modes (8254 data sheet): 0 interrupt on terminal count, 1 hardware one-shot, 2 rate
 * generator, 3 square wave, 4 software strobe, 5 hardware strobe; binary or BCD counting;
 * LSB/MSB/word access, counter latch, read-back (count and status).
 *
 * Channel 0 drives IRQ0 (irq_set_level(0, ...)) in real time: a timer fires at each rising
 * edge of OUT. In the periodic modes (2, 3) lost ticks are re-injected, as KVM's in-kernel PIT
 * does by default: while the guest has not acknowledged the last IRQ0 (INTA at the PIC, or a
 * LAPIC taking the IOAPIC pin's vector), further periods are counted instead of coalesced, and
 * each acknowledgement releases one owed tick (at most one second's worth is kept). Without a
 * route to a CPU (IRQ0 masked everywhere, or no userspace irqchip) the edges are just sent.
 * A tick stops waiting when IRQ0's routing changes (the guest moved it from the PIC to the
 * IOAPIC, as Linux's check_timer does) or after 250 ms (the guest may never acknowledge it).
 */
#include <stdlib.h>
#include "vireo/device.h"
#include "vireo/ioport.h"
#include "vireo/irq.h"
#include "vireo/irqchip.h"
#include "vireo/machine.h"
#include "vireo/vmstate.h"

enum { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

typedef struct PITChannel {
    uint32_t count; /* reload value: 1..65536 (10000 in BCD) */
    uint16_t latched_count;
    uint8_t count_latched; /* RW_* of the pending latched read, 0 when none */
    uint8_t status;
    bool status_latched;
    uint8_t read_state, write_state, write_latch;
    uint8_t rw_mode, mode;
    bool bcd;
    bool gate;
    bool loaded;    /* a count was written since the control word */
    bool triggered; /* modes 1 and 5: a gate rising edge started the count */
    bool null_count;
    int64_t load_time; /* vclock_ns() when counting (re)started */
    uint64_t edges;    /* IRQ0 rising edges already signalled since load_time */
} PITChannel;

struct PITState {
    Device dev; /* "isa-pit" (with port 0x61, which QEMU's isa-pcspk holds) */
    MemoryRegion io, port61;
    uint32_t iobase;
    IRQ *irq; /* ISA IRQ 0 */
    PITChannel ch[3];
    bool speaker_data;
    int irq_level;
    VTimer timer;
    uint64_t owed;  /* periodic ticks not yet delivered */
    bool in_flight; /* an IRQ0 edge waits for its acknowledgement */
    unsigned route; /* pc_irqchip_gsi_routes(0) when it was sent */
    int64_t sent;   /* and when */
};

static uint64_t ticks_since(int64_t from, int64_t now)
{
    if (now <= from) {
        return 0;
    }
    uint64_t ns = (uint64_t)(now - from);
    return ns / 1000000000ull * PIT_FREQ + ns % 1000000000ull * PIT_FREQ / 1000000000ull;
}

/* The first vclock_ns() time at which `ticks` input clocks have passed since from. */
static int64_t time_of_tick(int64_t from, uint64_t ticks)
{
    uint64_t ns = ticks / PIT_FREQ * 1000000000ull +
                  ((ticks % PIT_FREQ) * 1000000000ull + PIT_FREQ - 1) / PIT_FREQ;
    return from + (int64_t)ns;
}

static bool counting(const PITChannel *c)
{
    if (!c->loaded) {
        return false;
    }
    if (c->mode == 1 || c->mode == 5) {
        return c->triggered;
    }
    return true;
}

static int get_out(const PITChannel *c, int64_t now)
{
    if (!counting(c)) {
        return c->mode == 0 ? 0 : 1;
    }
    if ((c->mode == 2 || c->mode == 3) && !c->gate) {
        return 1;
    }
    uint64_t d = ticks_since(c->load_time, now);
    switch (c->mode) {
    case 0:
    case 1:
        return d >= c->count;
    case 2:
        return d % c->count != c->count - 1;
    case 3:
        return d % c->count < (c->count + 1) / 2;
    default: /* 4, 5 */
        return d != c->count;
    }
}

static uint16_t to_bcd(uint32_t v)
{
    v %= 10000;
    return (v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
}

static uint32_t from_bcd(uint16_t v)
{
    return (v >> 12) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

/* The counting element as a read or latch sees it. */
static uint16_t get_count(const PITChannel *c, int64_t now)
{
    uint32_t modulus = c->bcd ? 10000 : 65536;
    uint32_t v;
    if (!counting(c)) {
        v = c->count % modulus;
    } else {
        uint64_t d = ticks_since(c->load_time, now);
        switch (c->mode) {
        case 2:
            v = c->count - (uint32_t)(d % c->count);
            break;
        case 3:
            v = (c->count - (uint32_t)((2 * d) % c->count)) & ~1u;
            break;
        default:
            v = (uint32_t)((c->count + modulus - d % modulus) % modulus);
            break;
        }
        v %= modulus;
    }
    return c->bcd ? to_bcd(v) : (uint16_t)v;
}

static void set_irq0(PITState *s, int level)
{
    if (s->irq_level != level) {
        s->irq_level = level;
        irq_set(s->irq, level);
    }
}

/* One IRQ0 tick of the periodic modes; it waits for its acknowledgement if it can get one. */
static void periodic_tick(PITState *s)
{
    set_irq0(s, 0);
    set_irq0(s, 1);
    s->route = pc_irqchip_gsi_routes(0);
    s->sent = vclock_ns();
    s->in_flight = s->route != 0;
    if (!s->in_flight) {
        s->owed = 0;
    }
}

static void pit_acked(unsigned gsi, void *opaque)
{
    PITState *s = opaque;
    if (gsi != 0 || !s->in_flight) {
        return;
    }
    s->in_flight = false;
    if (s->owed) {
        s->owed--;
        periodic_tick(s);
    }
}

/* Channel 0: signal the edges that happened, arm the timer for the next one. */
static void ch0_update(PITState *s)
{
    PITChannel *c = &s->ch[0];
    int64_t now = vclock_ns();
    vtimer_del(&s->timer);
    if (!counting(c)) {
        set_irq0(s, get_out(c, now));
        return;
    }
    uint64_t d = ticks_since(c->load_time, now);
    switch (c->mode) {
    case 2:
    case 3: {
        uint64_t n = d / c->count;
        if (n > c->edges) {
            uint64_t max_owed = PIT_FREQ / c->count + 1; /* one second */
            s->owed += n - c->edges;
            s->owed = s->owed > max_owed ? max_owed : s->owed;
            c->edges = n;
        }
        if (s->in_flight && (pc_irqchip_gsi_routes(0) != s->route || now - s->sent > 250000000)) {
            s->in_flight = false; /* that tick went somewhere it will not be acknowledged */
        }
        if (s->owed && !s->in_flight) {
            s->owed--;
            periodic_tick(s);
        }
        set_irq0(s, get_out(c, now) || c->mode == 2);
        vtimer_mod(&s->timer, time_of_tick(c->load_time, (n + 1) * c->count));
        break;
    }
    case 0:
    case 1:
        if (d >= c->count) {
            set_irq0(s, 1);
        } else {
            set_irq0(s, 0);
            vtimer_mod(&s->timer, time_of_tick(c->load_time, c->count));
        }
        break;
    default: /* 4, 5: one strobe after count + 1 clocks */
        if (d > c->count) {
            if (!c->edges) {
                set_irq0(s, 0);
                set_irq0(s, 1);
                c->edges = 1;
            }
        } else {
            set_irq0(s, 1);
            vtimer_mod(&s->timer, time_of_tick(c->load_time, c->count + 1));
        }
        break;
    }
}

static void pit_timer_cb(void *opaque)
{
    ch0_update(opaque);
}

static void load_count(PITState *s, int n, uint16_t val)
{
    PITChannel *c = &s->ch[n];
    uint32_t count = c->bcd ? from_bcd(val) : val;
    if (count == 0) {
        count = c->bcd ? 10000 : 65536;
    }
    c->count = count;
    c->load_time = vclock_ns();
    c->loaded = true;
    c->triggered = false;
    c->null_count = false;
    c->edges = 0;
    if (n == 0) {
        s->owed = 0;
        s->in_flight = false;
        ch0_update(s);
    }
}

static void set_gate(PITState *s, int n, bool gate)
{
    PITChannel *c = &s->ch[n];
    if (gate && !c->gate && c->loaded && c->mode != 0 && c->mode != 4) {
        /* rising edge: modes 1 and 5 trigger, modes 2 and 3 restart */
        c->load_time = vclock_ns();
        c->triggered = true;
        c->edges = 0;
    }
    c->gate = gate;
    if (n == 0) {
        ch0_update(s);
    }
}

static void latch_count(PITChannel *c, int64_t now)
{
    if (!c->count_latched) {
        c->latched_count = get_count(c, now);
        c->count_latched = c->rw_mode;
    }
}

static void write_control(PITState *s, uint8_t val)
{
    int64_t now = vclock_ns();
    int n = val >> 6;
    if (n == 3) { /* read-back */
        for (int i = 0; i < 3; i++) {
            if (!(val & (2 << i))) {
                continue;
            }
            PITChannel *c = &s->ch[i];
            if (!(val & 0x20)) {
                latch_count(c, now);
            }
            if (!(val & 0x10) && !c->status_latched) {
                c->status = get_out(c, now) << 7 | c->null_count << 6 | c->rw_mode << 4 |
                            c->mode << 1 | c->bcd;
                c->status_latched = true;
            }
        }
        return;
    }
    PITChannel *c = &s->ch[n];
    int rw = (val >> 4) & 3;
    if (rw == RW_LATCH) {
        latch_count(c, now);
        return;
    }
    c->rw_mode = rw;
    c->read_state = c->write_state = rw;
    c->mode = (val >> 1) & 7;
    if (c->mode > 5) {
        c->mode -= 4; /* 6 and 7 are 2 and 3 */
    }
    c->bcd = val & 1;
    c->loaded = false;
    c->null_count = true;
    c->count_latched = 0;
    c->status_latched = false;
    if (n == 0) {
        s->owed = 0;
        s->in_flight = false;
        ch0_update(s);
    }
}

static void pit_write(void *opaque, uint64_t addr, uint64_t v, unsigned size)
{
    PITState *s = opaque;
    uint8_t val = v;
    if (addr == 3) {
        write_control(s, val);
        return;
    }
    PITChannel *c = &s->ch[addr];
    switch (c->write_state) {
    case RW_LSB:
        load_count(s, addr, val);
        break;
    case RW_MSB:
        load_count(s, addr, val << 8);
        break;
    case RW_WORD0:
        c->write_latch = val;
        c->write_state = RW_WORD1;
        break;
    case RW_WORD1:
        load_count(s, addr, c->write_latch | val << 8);
        c->write_state = RW_WORD0;
        break;
    }
}

static uint64_t pit_read(void *opaque, uint64_t addr, unsigned size)
{
    PITState *s = opaque;
    if (addr == 3) {
        return 0xff; /* the control word register is write-only */
    }
    PITChannel *c = &s->ch[addr];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->count_latched) {
        switch (c->count_latched) {
        case RW_LSB:
            c->count_latched = 0;
            return c->latched_count & 0xff;
        case RW_MSB:
            c->count_latched = 0;
            return c->latched_count >> 8;
        default: /* word: LSB now, MSB next */
            c->count_latched = RW_MSB;
            return c->latched_count & 0xff;
        }
    }
    uint16_t count = get_count(c, vclock_ns());
    switch (c->read_state) {
    case RW_LSB:
        return count & 0xff;
    case RW_MSB:
        return count >> 8;
    case RW_WORD0:
        c->read_state = RW_WORD1;
        return count & 0xff;
    case RW_WORD1:
        c->read_state = RW_WORD0;
        return count >> 8;
    default:
        return 0;
    }
}

/* Port 0x61: bit 0 gate 2, bit 1 speaker data, bit 4 refresh toggle, bit 5 OUT2. */
static uint64_t port61_read(void *opaque, uint64_t addr, unsigned size)
{
    PITState *s = opaque;
    int64_t now = vclock_ns();
    int refresh = (now / 15085) & 1;
    return s->ch[2].gate | s->speaker_data << 1 | refresh << 4 | get_out(&s->ch[2], now) << 5;
}

static void port61_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PITState *s = opaque;
    s->speaker_data = (val >> 1) & 1;
    set_gate(s, 2, val & 1);
}

static const IOOps pit_ops = {.read = pit_read, .write = pit_write};
static const IOOps port61_ops = {.read = port61_read, .write = port61_write};

static bool pit_realize(Device *dev, char **errp)
{
    (void)errp;
    PITState *s = (PITState *)dev;
    s->irq = isa_get_irq(0);
    vtimer_init(&s->timer, pit_timer_cb, s);
    irqchip_set_ack_notifier(pit_acked, s);
    memory_region_init_io(&s->io, "pit", &pit_ops, s, 4);
    memory_region_init_io(&s->port61, "pcspk", &port61_ops, s, 1);
    memory_transaction_begin();
    memory_region_add_subregion(get_system_io(), s->iobase, &s->io, 0);
    memory_region_add_subregion(get_system_io(), 0x61, &s->port61, 0);
    memory_transaction_commit();
    return true;
}

static void pit_unrealize(Device *dev)
{
    PITState *s = (PITState *)dev;
    irqchip_set_ack_notifier(NULL, NULL);
    vtimer_del(&s->timer);
    memory_transaction_begin();
    memory_region_destroy(&s->io);
    memory_region_destroy(&s->port61);
    memory_transaction_commit();
}

/* Power-on: every channel in mode 3 with the full count, gates 0 and 1 high (QEMU's pit_reset). */
static void pit_reset(Device *dev)
{
    PITState *s = (PITState *)dev;
    vtimer_del(&s->timer);
    for (int i = 0; i < 3; i++) {
        PITChannel *c = &s->ch[i];
        *c = (PITChannel){0};
        c->gate = i != 2;
        c->rw_mode = c->read_state = c->write_state = RW_WORD0;
        c->mode = 3;
        c->count = 65536;
    }
    s->speaker_data = false;
    s->owed = 0;
    s->in_flight = false;
    s->route = 0;
    s->sent = 0;
    set_irq0(s, 0);
}

static const Property pit_props[] = {
    DEFINE_PROP_UINT32("iobase", PITState, iobase, 0xffffffffu), /* QEMU's; pc sets 0x40 */
    DEFINE_PROP_END,
};

const DeviceInfo i8254_info = {
    .name = "isa-pit",
    .category = DEVICE_CATEGORY_NONE,
    .bus = BUS_ISA,
    .instance_size = sizeof(PITState),
    .props = pit_props,
    .realize = pit_realize,
    .unrealize = pit_unrealize,
    .reset = pit_reset,
    .qom_parent = "pit-common",
};

PITState *i8254_create(void)
{
    return (PITState *)device_create_simple("isa-pit", "iobase", "64", NULL);
}

void i8254_destroy(PITState *s)
{
    if (s) {
        device_free(&s->dev);
    }
}

int i8254_get_out(PITState *s, int channel)
{
    return get_out(&s->ch[channel], vclock_ns());
}
