/*
 * IOAPIC (hw/intc/ioapic.c) through its MMIO window (IOREGSEL/IOWIN/EOI with
 * mmio_dispatch) delivering to real LAPICs: version and ID registers, edge and level pins,
 * remote IRR and EOI (from the LAPIC and the EOI register), masking, physical/logical
 * destinations, lowest priority, NMI/INIT delivery modes, polarity ignored.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "../lib/unit.h"

#define NCPU 2
static unsigned kicks[NCPU], nmis[NCPU], inits[NCPU];

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
}
static int h_current(void)
{
    return 0;
}
static uint64_t h_tsc(unsigned c)
{
    return 0;
}
static uint64_t h_hz(void)
{
    return 1000000000;
}
static const IrqchipCpuHooks hooks = {h_kick, h_nmi, h_init, h_sipi, h_current, h_tsc, h_hz};

static IOAPICState *io;

static uint32_t io_read(uint32_t reg)
{
    uint32_t v = reg;
    mmio_dispatch(0xfec00000, &v, 4, true);
    v = 0;
    mmio_dispatch(0xfec00010, &v, 4, false);
    return v;
}

static void io_write(uint32_t reg, uint32_t val)
{
    mmio_dispatch(0xfec00000, &reg, 4, true);
    mmio_dispatch(0xfec00010, &val, 4, true);
}

static void set_rte(unsigned pin, uint64_t e)
{
    io_write(0x11 + 2 * pin, e >> 32);
    io_write(0x10 + 2 * pin, (uint32_t)e);
}

static int take(unsigned cpu)
{
    int v = apic_pending_vector(cpu);
    if (v >= 0) {
        apic_ack(cpu, v);
    }
    return v;
}

static void eoi(unsigned cpu)
{
    apic_reg_write(cpu, 0xb0, 0);
}

#define LEVEL   (1ull << 15)
#define MASKED  (1ull << 16)
#define LOGIC   (1ull << 11)
#define REMOTE  (1ull << 14)
#define DEST(d) ((uint64_t)(d) << 56)

int main(void)
{
    static const uint32_t ids[NCPU] = {0, 1};
    irqchip_set_cpu_hooks(&hooks);
    apic_create_all(NCPU, ids, 0xfee00000);
    for (unsigned i = 0; i < NCPU; i++) {
        apic_reg_write(i, 0xf0, 0x1ff);
    }
    io = ioapic_create(0xfec00000, 0);
    apic_set_ioapic(io);

    CHECK("ioapic-version", io_read(0x01) == 0x00170020);
    CHECK("ioapic-id", io_read(0x00) == 0);
    io_write(0x00, 0x05000000);
    CHECK("ioapic-id-write", io_read(0x00) == 0x05000000 && io_read(0x02) == 0x05000000);
    io_write(0x01, 0);
    CHECK("ioapic-version-ro", io_read(0x01) == 0x00170020);
    uint32_t sel = 0;
    io_read(0x12);
    mmio_dispatch(0xfec00000, &sel, 4, false);
    CHECK("ioapic-regsel-read", sel == 0x12);
    CHECK("ioapic-reset-masked", io_read(0x10) == 0x10000 && io_read(0x10 + 2 * 23) == 0x10000);

    /* masked pins deliver nothing */
    ioapic_set_irq(io, 3, 1);
    ioapic_set_irq(io, 3, 0);
    CHECK("ioapic-masked-silent", apic_pending_vector(0) == -1);

    /* edge, physical destination 1 */
    set_rte(4, 0x34 | DEST(1));
    CHECK("ioapic-rte-readback", io_read(0x18) == 0x34 && io_read(0x19) == 0x01000000);
    kicks[1] = 0;
    ioapic_set_irq(io, 4, 1);
    CHECK("ioapic-edge-delivers", kicks[1] > 0 && apic_pending_vector(0) == -1 && take(1) == 0x34);
    ioapic_set_irq(io, 4, 1);
    CHECK("ioapic-edge-once-while-high", apic_pending_vector(1) == -1);
    ioapic_set_irq(io, 4, 0);
    ioapic_set_irq(io, 4, 1);
    CHECK("ioapic-edge-again", take(1) == -1); /* 0x34 still in service: same class */
    eoi(1);
    CHECK("ioapic-edge-after-eoi", take(1) == 0x34);
    eoi(1);
    ioapic_set_irq(io, 4, 0);
    CHECK("ioapic-edge-no-remote-irr", !(ioapic_get_entry(io, 4) & REMOTE));

    /* level: remote IRR, EOI re-delivery while asserted */
    set_rte(9, 0x49 | LEVEL | DEST(0));
    ioapic_set_irq(io, 9, 1);
    CHECK("ioapic-level-delivers", take(0) == 0x49 && (io_read(0x10 + 18) & REMOTE));
    ioapic_set_irq(io, 9, 1);
    CHECK("ioapic-level-waits-eoi", apic_pending_vector(0) == -1);
    eoi(0);
    CHECK("ioapic-level-redelivers", take(0) == 0x49 && (ioapic_get_entry(io, 9) & REMOTE));
    ioapic_set_irq(io, 9, 0);
    eoi(0);
    CHECK("ioapic-level-eoi-clears",
          !(ioapic_get_entry(io, 9) & REMOTE) && apic_pending_vector(0) == -1);
    /* remote IRR and delivery status are read-only */
    io_write(0x10 + 18, 0x49 | LEVEL | REMOTE | (1u << 12));
    CHECK("ioapic-ro-bits", !(io_read(0x10 + 18) & (REMOTE | (1u << 12))));
    /* the EOI register (version 0x20) */
    ioapic_set_irq(io, 9, 1);
    CHECK("ioapic-level-again", take(0) == 0x49);
    ioapic_set_irq(io, 9, 0);
    uint32_t vec = 0x49;
    mmio_dispatch(0xfec00040, &vec, 4, true);
    CHECK("ioapic-eoi-register", !(ioapic_get_entry(io, 9) & REMOTE));
    eoi(0);

    /* polarity ignored: active-low pins are still asserted by 1 */
    set_rte(10, 0x4a | LEVEL | (1u << 13) | DEST(0));
    ioapic_set_irq(io, 10, 1);
    CHECK("ioapic-polarity-ignored", take(0) == 0x4a);
    ioapic_set_irq(io, 10, 0);
    eoi(0);

    /* masking a level pin while asserted, unmasking delivers */
    set_rte(11, 0x4b | LEVEL | MASKED | DEST(1));
    ioapic_set_irq(io, 11, 1);
    CHECK("ioapic-level-masked", apic_pending_vector(1) == -1);
    set_rte(11, 0x4b | LEVEL | DEST(1));
    CHECK("ioapic-unmask-delivers", take(1) == 0x4b);
    ioapic_set_irq(io, 11, 0);
    eoi(1);

    /* logical destination (flat): LDR bit 1 on cpu 1 */
    apic_reg_write(0, 0xd0, 0x01000000);
    apic_reg_write(1, 0xd0, 0x02000000);
    set_rte(12, 0x5c | LOGIC | DEST(0x02));
    ioapic_set_irq(io, 12, 1);
    CHECK("ioapic-logical", take(1) == 0x5c && apic_pending_vector(0) == -1);
    eoi(1);
    ioapic_set_irq(io, 12, 0);
    set_rte(12, 0x5d | LOGIC | DEST(0x03));
    ioapic_set_irq(io, 12, 1);
    CHECK("ioapic-logical-multi", take(0) == 0x5d && take(1) == 0x5d);
    eoi(0);
    eoi(1);
    ioapic_set_irq(io, 12, 0);

    /* lowest priority */
    apic_reg_write(0, 0x80, 0x80);
    set_rte(13, 0x5e | (1u << 8) | LOGIC | DEST(0x03));
    ioapic_set_irq(io, 13, 1);
    CHECK("ioapic-lowest-priority", take(1) == 0x5e && apic_pending_vector(0) == -1);
    eoi(1);
    apic_reg_write(0, 0x80, 0);
    ioapic_set_irq(io, 13, 0);

    /* NMI and INIT delivery modes */
    set_rte(14, (4u << 8) | DEST(1));
    ioapic_set_irq(io, 14, 1);
    CHECK("ioapic-nmi", nmis[1] == 1 && nmis[0] == 0);
    ioapic_set_irq(io, 14, 0);
    set_rte(15, (5u << 8) | DEST(0));
    ioapic_set_irq(io, 15, 1);
    CHECK("ioapic-init", inits[0] == 1);
    ioapic_set_irq(io, 15, 0);
    apic_reg_write(0, 0xf0, 0x1ff);

    /* a pin beyond 23 is ignored; entries beyond 23 read 0 */
    ioapic_set_irq(io, 24, 1);
    CHECK("ioapic-pin-range", io_read(0x10 + 48) == 0);

    /* the userspace routing: GSI n -> pin n */
    set_rte(0, 0x30 | DEST(0));
    ioapic_set_irq(io, 0, 1);
    CHECK("ioapic-pin0", take(0) == 0x30);
    eoi(0);

    apic_destroy_all();
    ioapic_destroy(io);
    io_reset_all();
    UNIT_EXIT();
}
