/*
 * Local APICs (hw/intc/apic.c) through their registers (apic_reg_read/write, the MMIO page
 * with mmio_dispatch, the MSRs) and the X86IrqChip operations: priorities, TPR/PPR, EOI,
 * IPIs with every shorthand, NMI/INIT/SIPI, logical destinations, the timer in its three
 * modes against an injected clock, x2APIC, ExtINT from the PIC.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "../lib/unit.h"

#define NCPU 4
static int64_t now_ns = 1000000;
static int cur_cpu = 0;
static unsigned kicks[NCPU], nmis[NCPU], inits[NCPU], sipis[NCPU];
static uint8_t sipi_vec[NCPU];

static int64_t fake_clock(void)
{
    return now_ns;
}
static void h_kick(unsigned c)
{
    kicks[c]++;
}
static void h_nmi(unsigned c)
{
    nmis[c]++;
}
static void h_init(unsigned c)
{
    inits[c]++;
}
static void h_sipi(unsigned c, uint8_t v)
{
    sipis[c]++;
    sipi_vec[c] = v;
}
static int h_current(void)
{
    return cur_cpu;
}
static uint64_t h_tsc(unsigned c)
{
    return (uint64_t)now_ns * 2; /* a 2 GHz TSC */
}
static uint64_t h_tsc_hz(void)
{
    return 2000000000ull;
}
static const IrqchipCpuHooks hooks = {h_kick, h_nmi, h_init, h_sipi, h_current, h_tsc, h_tsc_hz};

static void wr(unsigned cpu, uint32_t off, uint32_t v)
{
    apic_reg_write(cpu, off, v);
}
static uint32_t rd(unsigned cpu, uint32_t off)
{
    return apic_reg_read(cpu, off);
}

/* Take the pending vector (as the CPU would) and return it, or -1. */
static int take(unsigned cpu)
{
    int v = apic_pending_vector(cpu);
    if (v >= 0) {
        apic_ack(cpu, v);
    }
    return v;
}

static void advance(int64_t ns)
{
    now_ns += ns;
    vtimers_run();
}

static const uint32_t ids[NCPU] = {0, 1, 2, 3};

static void setup(void)
{
    io_reset_all();
    apic_destroy_all();
    apic_create_all(NCPU, ids, 0xfee00000);
    for (unsigned i = 0; i < NCPU; i++) {
        wr(i, 0xf0, 0x1ff); /* software enable, spurious vector 0xff */
    }
    memset(kicks, 0, sizeof(kicks));
}

static void fixed(unsigned cpu, uint8_t vector, bool level)
{
    apic_bus_deliver(ids[cpu], false, APIC_DM_FIXED, vector, level);
}

int main(void)
{
    vclock_set_source(fake_clock);
    irqchip_set_cpu_hooks(&hooks);
    setup();

    /* identification and reset state */
    CHECK("apic-id", rd(2, 0x20) == 2u << 24);
    CHECK("apic-version", rd(0, 0x30) == 0x00050014);
    CHECK("apic-dfr-reset", rd(1, 0xe0) == 0xffffffff);
    CHECK("apic-lint0-bsp-extint", rd(0, 0x350) == 0x700 && (rd(1, 0x350) & 0x10000));
    CHECK("apic-lint1-nmi", rd(1, 0x360) == 0x400);
    CHECK("apic-timer-masked", rd(0, 0x320) & 0x10000);
    uint64_t base = 0;
    CHECK("apic-base-msr-bsp", apic_msr(0, 0x1b, &base, false) && base == 0xfee00900);
    CHECK("apic-base-msr-ap", apic_msr(1, 0x1b, &base, false) && base == 0xfee00800);

    /* MMIO: each vCPU sees its own page */
    uint32_t v32 = 0;
    cur_cpu = 3;
    mmio_dispatch(0xfee00020, &v32, 4, false);
    CHECK("apic-mmio-own-id", v32 == 3u << 24);
    v32 = 0x30;
    mmio_dispatch(0xfee00080, &v32, 4, true);
    CHECK("apic-mmio-write-tpr", rd(3, 0x80) == 0x30 && rd(0, 0x80) == 0);
    wr(3, 0x80, 0);
    cur_cpu = 0;

    /* priority, PPR, EOI */
    fixed(0, 0x45, false);
    fixed(0, 0x62, false);
    CHECK("apic-kick-on-irr", kicks[0] >= 2);
    CHECK("apic-irr-bits", rd(0, 0x220) == (1u << 5) && rd(0, 0x230) == (1u << 2));
    CHECK("apic-highest-first", take(0) == 0x62);
    CHECK("apic-isr-set", rd(0, 0x130) == (1u << 2) && rd(0, 0x230) == 0);
    CHECK("apic-ppr-isr-class", rd(0, 0xa0) == 0x60);
    CHECK("apic-lower-class-waits", apic_pending_vector(0) == -1);
    fixed(0, 0x6a, false);
    CHECK("apic-same-class-waits", apic_pending_vector(0) == -1);
    fixed(0, 0x71, false);
    CHECK("apic-higher-class-nests", take(0) == 0x71);
    wr(0, 0xb0, 0);
    CHECK("apic-eoi-highest-isr", rd(0, 0x130) == (1u << 2) && rd(0, 0x170) == 0);
    wr(0, 0xb0, 0);
    CHECK("apic-eoi-then-next", take(0) == 0x6a);
    wr(0, 0xb0, 0);
    /* TPR blocks 0x45 (class 4) at TPR 0x50, CR8 mirrors it */
    wr(0, 0x80, 0x50);
    CHECK("apic-tpr-blocks", apic_pending_vector(0) == -1 && apic_get_cr8(0) == 5);
    CHECK("apic-ppr-tpr", rd(0, 0xa0) == 0x50);
    apic_set_cr8(0, 3);
    CHECK("apic-cr8-write", rd(0, 0x80) == 0x30 && take(0) == 0x45);
    wr(0, 0xb0, 0);
    apic_set_cr8(0, 0);
    CHECK("apic-idle", apic_pending_vector(0) == -1 && rd(0, 0x100) == 0 && rd(0, 0x140) == 0);

    /* illegal vectors set ESR */
    fixed(1, 0x05, false);
    wr(1, 0x280, 0);
    CHECK("apic-esr-recv-illegal", rd(1, 0x280) == 0x40 && apic_pending_vector(1) == -1);
    wr(1, 0x280, 0);
    CHECK("apic-esr-cleared", rd(1, 0x280) == 0);
    wr(1, 0x370, 0xfe); /* LVT error: vector 0xfe */
    fixed(1, 0x07, false);
    CHECK("apic-lvt-error", take(1) == 0xfe);
    wr(1, 0xb0, 0);
    wr(1, 0x280, 0);
    wr(1, 0x370, 0x10000);

    /* software disable drops fixed interrupts and masks the LVTs */
    wr(2, 0xf0, 0x0ff);
    fixed(2, 0x50, false);
    CHECK("apic-sw-disabled-drops", apic_pending_vector(2) == -1);
    wr(2, 0x320, 0x40);
    CHECK("apic-sw-disabled-lvt-masked", rd(2, 0x320) == 0x10040);
    wr(2, 0xf0, 0x1ff);

    /* IPIs: physical destination, shorthands */
    wr(0, 0x310, 2u << 24);
    wr(0, 0x300, 0x4051);
    CHECK("apic-ipi-physical", take(2) == 0x51 && apic_pending_vector(1) == -1);
    CHECK("apic-icr-idle", (rd(0, 0x300) & 0x1000) == 0 && (rd(0, 0x300) & 0xff) == 0x51);
    wr(2, 0xb0, 0);
    wr(1, 0x300, 0x44052); /* self */
    CHECK("apic-ipi-self", take(1) == 0x52 && apic_pending_vector(0) == -1);
    wr(1, 0xb0, 0);
    wr(1, 0x300, 0xc4053); /* all but self */
    CHECK("apic-ipi-all-but-self",
          apic_pending_vector(1) == -1 && take(0) == 0x53 && take(2) == 0x53 && take(3) == 0x53);
    for (unsigned i = 0; i < NCPU; i++) {
        wr(i, 0xb0, 0);
    }
    wr(1, 0x300, 0x84054); /* all including self */
    int all = 0;
    for (unsigned i = 0; i < NCPU; i++) {
        all += take(i) == 0x54;
        wr(i, 0xb0, 0);
    }
    CHECK("apic-ipi-all", all == NCPU);
    wr(0, 0x310, 0xffu << 24);
    wr(0, 0x300, 0x4055); /* physical broadcast */
    all = 0;
    for (unsigned i = 0; i < NCPU; i++) {
        all += take(i) == 0x55;
        wr(i, 0xb0, 0);
    }
    CHECK("apic-ipi-broadcast-ff", all == NCPU);
    wr(0, 0x310, 1u << 24);
    wr(0, 0x300, 0x4008); /* vector < 16 */
    wr(0, 0x280, 0);
    CHECK("apic-esr-send-illegal", rd(0, 0x280) == 0x20 && apic_pending_vector(1) == -1);

    /* NMI, INIT, SIPI */
    wr(0, 0x310, 3u << 24);
    wr(0, 0x300, 0x4400);
    CHECK("apic-ipi-nmi", nmis[3] == 1 && nmis[1] == 0);
    fixed(3, 0x60, false);
    wr(0, 0x300, 0xc500); /* INIT assert, level */
    CHECK("apic-ipi-init",
          inits[3] == 1 && apic_pending_vector(3) == -1 && (rd(3, 0xf0) & 0x100) == 0);
    wr(0, 0x300, 0x8500); /* INIT de-assert: ignored */
    CHECK("apic-init-deassert-ignored", inits[3] == 1);
    wr(0, 0x300, 0x4698);
    CHECK("apic-ipi-sipi", sipis[3] == 1 && sipi_vec[3] == 0x98);
    wr(0, 0x300, 0xc4600 | 0x10); /* SIPI to all but self */
    CHECK("apic-sipi-all-but-self",
          sipis[1] == 1 && sipis[2] == 1 && sipis[3] == 2 && sipis[0] == 0 && sipi_vec[1] == 0x10);
    wr(3, 0xf0, 0x1ff);

    /* logical destinations: flat and cluster */
    for (unsigned i = 0; i < NCPU; i++) {
        wr(i, 0xd0, (1u << i) << 24);
    }
    wr(0, 0x310, 0x0au << 24);
    wr(0, 0x300, 0x4861); /* logical, fixed */
    CHECK("apic-logical-flat", apic_pending_vector(0) == -1 && take(1) == 0x61 &&
                                   apic_pending_vector(2) == -1 && take(3) == 0x61);
    wr(1, 0xb0, 0);
    wr(3, 0xb0, 0);
    for (unsigned i = 0; i < NCPU; i++) {
        wr(i, 0xe0, 0x0fffffff);                             /* cluster model */
        wr(i, 0xd0, ((i / 2) << 4 | (1u << (i % 2))) << 24); /* cluster i/2, bit i%2 */
    }
    CHECK("apic-dfr-cluster", rd(0, 0xe0) == 0x0fffffff);
    wr(0, 0x310, 0x12u << 24); /* cluster 1, member bit 1 -> cpu 3 */
    wr(0, 0x300, 0x4862);
    CHECK("apic-logical-cluster",
          take(3) == 0x62 && apic_pending_vector(2) == -1 && apic_pending_vector(1) == -1);
    wr(3, 0xb0, 0);
    /* lowest priority: among cluster 0 (cpus 0, 1) the lower TPR wins */
    wr(0, 0x80, 0x40);
    wr(1, 0x80, 0x20);
    apic_bus_deliver(0x03, true, APIC_DM_LOWPRI, 0x70, false);
    CHECK("apic-lowest-priority", take(1) == 0x70 && apic_pending_vector(0) == -1);
    wr(1, 0xb0, 0);
    wr(0, 0x80, 0);
    wr(1, 0x80, 0);
    apic_bus_deliver(0x03, true, APIC_DM_LOWPRI, 0x71, false);
    CHECK("apic-lowest-priority-tie", take(0) == 0x71 && apic_pending_vector(1) == -1);
    wr(0, 0xb0, 0);
    for (unsigned i = 0; i < NCPU; i++) {
        wr(i, 0xe0, 0xffffffff);
    }

    /* level-triggered: TMR and the EOI broadcast to the IOAPIC */
    IOAPICState *io = ioapic_create(0xfec00000, 0);
    apic_set_ioapic(io);
    uint32_t sel = 0x10 + 2 * 5, lo = 0x8066; /* pin 5: vector 0x66, level, dest 0 */
    mmio_dispatch(0xfec00000, &sel, 4, true);
    mmio_dispatch(0xfec00010, &lo, 4, true);
    ioapic_set_irq(io, 5, 1);
    CHECK("apic-level-tmr", rd(0, 0x180 + 0x30) & (1u << 6));
    CHECK("apic-level-remote-irr", ioapic_get_entry(io, 5) & (1u << 14));
    CHECK("apic-level-take", take(0) == 0x66);
    ioapic_set_irq(io, 5, 0);
    wr(0, 0xb0, 0);
    CHECK("apic-eoi-broadcast",
          !(ioapic_get_entry(io, 5) & (1u << 14)) && apic_pending_vector(0) == -1);
    apic_set_ioapic(NULL);
    ioapic_destroy(io);

    /* timer: one-shot, divide by 1 */
    wr(0, 0x3e0, 0xb);
    wr(0, 0x320, 0x30);
    wr(0, 0x380, 1000);
    advance(400);
    CHECK("apic-timer-count", rd(0, 0x390) == 600 && rd(0, 0x380) == 1000);
    advance(599);
    CHECK("apic-timer-not-yet", apic_pending_vector(0) == -1);
    advance(1);
    CHECK("apic-timer-oneshot-fires", rd(0, 0x390) == 0 && take(0) == 0x30);
    wr(0, 0xb0, 0);
    advance(5000);
    CHECK("apic-timer-oneshot-once", apic_pending_vector(0) == -1);
    /* periodic, divide by 16: 100 counts = 1600 ns */
    wr(0, 0x3e0, 0x3);
    wr(0, 0x320, 0x20031);
    wr(0, 0x380, 100);
    int fired = 0;
    for (int i = 0; i < 10; i++) {
        advance(1600);
        if (take(0) == 0x31) {
            fired++;
            wr(0, 0xb0, 0);
        }
    }
    CHECK("apic-timer-periodic", fired == 10);
    /* the guest takes none for three periods: the ticks are owed, then re-injected one by one */
    advance(1600);
    advance(1600);
    advance(1600);
    fired = 0;
    while (take(0) == 0x31 && fired < 10) {
        fired++;
        wr(0, 0xb0, 0);
    }
    CHECK("apic-timer-periodic-reinject", fired == 3);
    /* the host runs the timer five periods late: five ticks */
    now_ns += 1600 * 4;
    advance(1600);
    fired = 0;
    while (take(0) == 0x31 && fired < 10) {
        fired++;
        wr(0, 0xb0, 0);
    }
    CHECK("apic-timer-periodic-late-host", fired == 5);
    advance(800);
    CHECK("apic-timer-periodic-count", rd(0, 0x390) == 50);
    /* divide 128 */
    wr(0, 0x3e0, 0xa);
    uint32_t c0 = rd(0, 0x390);
    advance(128 * 10);
    CHECK("apic-timer-divide-128", c0 - rd(0, 0x390) == 10);
    /* masked: counts, no interrupt */
    wr(0, 0x320, 0x30031);
    advance(128 * 200);
    CHECK("apic-timer-masked-silent", apic_pending_vector(0) == -1);
    wr(0, 0x380, 0);
    CHECK("apic-timer-stopped", rd(0, 0x390) == 0);
    /* TSC deadline: 2 GHz TSC, deadline 1000 ticks ahead = 500 ns */
    wr(0, 0x320, 0x40032);
    uint64_t dl = (uint64_t)now_ns * 2 + 1000;
    CHECK("apic-tscdl-write", apic_msr(0, 0x6e0, &dl, true));
    uint64_t rdl = 0;
    CHECK("apic-tscdl-read", apic_msr(0, 0x6e0, &rdl, false) && rdl == dl);
    advance(499);
    CHECK("apic-tscdl-not-yet", apic_pending_vector(0) == -1);
    advance(1);
    CHECK("apic-tscdl-fires", take(0) == 0x32);
    wr(0, 0xb0, 0);
    CHECK("apic-tscdl-cleared", apic_msr(0, 0x6e0, &rdl, false) && rdl == 0);
    dl = 1; /* in the past: at once */
    apic_msr(0, 0x6e0, &dl, true);
    advance(0);
    CHECK("apic-tscdl-past", take(0) == 0x32);
    wr(0, 0xb0, 0);
    wr(0, 0x320, 0x10000);
    dl = (uint64_t)now_ns * 2 + 10;
    apic_msr(0, 0x6e0, &dl, true);
    advance(100);
    CHECK("apic-tscdl-ignored-other-mode",
          apic_pending_vector(0) == -1 && apic_msr(0, 0x6e0, &rdl, false) && rdl == 0);

    /* ExtINT: the PIC's vector through LINT0 of the BSP */
    PICState *pic = i8259_create();
    apic_set_pic(pic);
    uint8_t b;
    const uint8_t init_seq[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                   {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}};
    for (unsigned i = 0; i < 8; i++) {
        b = init_seq[i][1];
        pio_dispatch(init_seq[i][0], &b, 1, true);
    }
    i8259_set_irq(pic, 1, 1);
    CHECK("apic-extint-pending", apic_pending_vector(0) == 0x31 && apic_pending_vector(1) == -1);
    fixed(0, 0x80, false);
    CHECK("apic-before-extint", take(0) == 0x80);
    wr(0, 0xb0, 0);
    CHECK("apic-extint-ack", take(0) == 0x31 && !i8259_intr(pic));
    b = 0x0b;
    pio_dispatch(0x20, &b, 1, true);
    pio_dispatch(0x20, &b, 1, false);
    CHECK("apic-extint-pic-isr", b == 0x02);
    b = 0x20;
    pio_dispatch(0x20, &b, 1, true);
    i8259_set_irq(pic, 1, 0);
    wr(0, 0x350, 0x10700);
    i8259_set_irq(pic, 1, 1);
    CHECK("apic-extint-lint0-masked", apic_pending_vector(0) == -1);
    wr(0, 0x350, 0x700);
    CHECK("apic-extint-unmasked", apic_pending_vector(0) == 0x31);
    apic_set_pic(NULL);
    i8259_destroy(pic);

    /* x2APIC */
    uint64_t m = 0xfee00000 | (1u << 11) | (1u << 10);
    CHECK("apic-x2apic-enable", apic_msr(2, 0x1b, &m, true));
    uint64_t val = 0;
    CHECK("apic-x2apic-id", apic_msr(2, 0x802, &val, false) && val == 2);
    CHECK("apic-x2apic-ldr", apic_msr(2, 0x80d, &val, false) && val == (1u << 2));
    CHECK("apic-x2apic-no-dfr", !apic_msr(2, 0x80e, &val, false));
    CHECK("apic-x2apic-msr-gp-in-xapic", !apic_msr(1, 0x802, &val, false));
    cur_cpu = 2;
    v32 = 0;
    mmio_dispatch(0xfee00020, &v32, 4, false);
    CHECK("apic-x2apic-no-mmio", v32 == 0);
    cur_cpu = 0;
    val = 0x69;
    apic_msr(2, 0x83f, &val, true);
    CHECK("apic-x2apic-self-ipi", take(2) == 0x69);
    val = 0;
    CHECK("apic-x2apic-eoi", apic_msr(2, 0x80b, &val, true) && rd(2, 0x160) == 0);
    val = 1;
    CHECK("apic-x2apic-eoi-nonzero-gp", !apic_msr(2, 0x80b, &val, true));
    val = (uint64_t)0 << 32 | 0x4077; /* ICR: physical dest 0 */
    CHECK("apic-x2apic-icr", apic_msr(2, 0x830, &val, true) && take(0) == 0x77);
    wr(0, 0xb0, 0);
    CHECK("apic-x2apic-tpr", (val = 0x20, apic_msr(2, 0x808, &val, true)) && rd(2, 0x80) == 0x20);
    m = 0xfee00000 | (1u << 11);
    CHECK("apic-x2apic-no-downgrade", !apic_msr(2, 0x1b, &m, true));
    m = 0xfee00000;
    CHECK("apic-disable",
          apic_msr(2, 0x1b, &m, true) && apic_msr(2, 0x1b, &val, false) && val == 0xfee00000);
    fixed(2, 0x50, false);
    CHECK("apic-disabled-deaf", apic_pending_vector(2) == -1);
    m = 0xfee00000 | (1u << 11) | (1u << 10);
    CHECK("apic-disabled-to-x2apic-gp", !apic_msr(2, 0x1b, &m, true));
    m = 0xfee00000 | (1u << 11);
    CHECK("apic-reenable", apic_msr(2, 0x1b, &m, true) && rd(2, 0xf0) == 0xff);
    m = 0xfee00000 | (1u << 11) | 1;
    CHECK("apic-base-reserved-gp", !apic_msr(2, 0x1b, &m, true));

    apic_destroy_all();
    io_reset_all();
    UNIT_EXIT();
}
