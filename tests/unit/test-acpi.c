/*
 * ACPI: table layout and checksums (hw/x86/acpi-build.c) and the PM device (hw/acpi/pm.c)
 * driven through pio_dispatch(). If iasl is installed, the tables are also disassembled
 * with `iasl -d`, which must not complain, and the disassembled DSDT must compile again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vireo/accel.h"
#include "vireo/acpi.h"
#include "vireo/ioport.h"
#include "vireo/runstate.h"
#include "vireo/x86.h"
#include "../lib/unit.h"

#define AREA_GPA  0xe0000ULL
#define AREA_SIZE 0x20000ULL

static uint8_t area[AREA_SIZE];

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++) {
        s += p[i];
    }
    return s;
}

/* Host pointer of a table at gpa, or NULL if its header/length is outside the area. */
static const uint8_t *table_at(uint64_t gpa)
{
    if (gpa < AREA_GPA || gpa + 36 > AREA_GPA + AREA_SIZE) {
        return NULL;
    }
    const uint8_t *t = area + (gpa - AREA_GPA);
    if (rd32(t + 4) < 36 || gpa + rd32(t + 4) > AREA_GPA + AREA_SIZE) {
        return NULL;
    }
    return t;
}

static bool table_ok(const uint8_t *t, const char *sig)
{
    return t && !memcmp(t, sig, 4) && sum(t, rd32(t + 4)) == 0 && !memcmp(t + 10, "VIREO ", 6);
}

static void dump(const char *dir, const char *name, const uint8_t *t, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(t, 1, len, f);
        fclose(f);
    }
}

/*
 * The MADT's processor entries a topology must give: want[i] = the APIC ID of CPU index i, as
 * QEMU numbers them (thread | core | die | socket bit fields), written out by hand here.
 */
typedef struct Topo {
    const char *name;
    SmpConfig smp;
    unsigned possible;
    const uint32_t *want;
} Topo;

static const uint32_t ids_6_2s_3c[] = {0, 1, 2, 4, 5, 6};
static const uint32_t ids_12_2s_3c_2t[] = {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13};
static const uint32_t ids_3_of_6[] = {0, 1, 2, 3, 4, 5};
static const uint32_t ids_4_2c_2t_of_8[] = {0, 1, 2, 3, 4, 5, 6, 7};

/* Build tables for topology tp and check them; with dump_dir, also write them there as NAME.dat */
static void test_tables_topo(const Topo *tp, const char *dump_dir)
{
    char name[128];
    unsigned ncpus = tp->possible;
#define N(s) (snprintf(name, sizeof(name), "acpi/%s/%s", tp->name, s), name)
    X86CpuList cpus;
    x86_cpu_list_init(&cpus, &tp->smp);
    memset(area, 0xa5, sizeof(area));
    uint64_t rsdp_gpa = acpi_build_tables(area, AREA_GPA, AREA_SIZE, &cpus);
    x86_cpu_list_free(&cpus);
    CHECK(N("build"), rsdp_gpa != 0);
    if (!rsdp_gpa) {
        return;
    }
    /* Find it the way Linux's legacy scan does. */
    const uint8_t *rsdp = NULL;
    for (uint64_t off = 0; off + 36 <= AREA_SIZE; off += 16) {
        if (!memcmp(area + off, "RSD PTR ", 8)) {
            rsdp = area + off;
            break;
        }
    }
    CHECK(N("rsdp-found"), rsdp && AREA_GPA + (uint64_t)(rsdp - area) == rsdp_gpa);
    if (!rsdp) {
        return;
    }
    CHECK(N("rsdp-checksum"), sum(rsdp, 20) == 0);
    CHECK(N("rsdp-ext-checksum"), rsdp[15] == 2 && rd32(rsdp + 20) == 36 && sum(rsdp, 36) == 0);

    const uint8_t *rsdt = table_at(rd32(rsdp + 16));
    const uint8_t *xsdt = table_at(rd64(rsdp + 24));
    CHECK(N("rsdt"), table_ok(rsdt, "RSDT"));
    CHECK(N("xsdt"), table_ok(xsdt, "XSDT"));
    if (!table_ok(rsdt, "RSDT") || !table_ok(xsdt, "XSDT")) {
        return;
    }
    unsigned n = (rd32(xsdt + 4) - 36) / 8;
    CHECK(N("rsdt-matches-xsdt"), (rd32(rsdt + 4) - 36) / 4 == n);
    const uint8_t *fadt = NULL, *madt = NULL;
    bool all_ok = true;
    for (unsigned i = 0; i < n; i++) {
        uint64_t a = rd64(xsdt + 36 + 8 * i);
        const uint8_t *t = table_at(a);
        all_ok &= t && rd32(rsdt + 36 + 4 * i) == a && sum(t, rd32(t + 4)) == 0;
        if (t && !memcmp(t, "FACP", 4)) {
            fadt = t;
        } else if (t && !memcmp(t, "APIC", 4)) {
            madt = t;
        }
    }
    CHECK(N("tables-checksum"), all_ok);
    CHECK(N("fadt"), table_ok(fadt, "FACP"));
    CHECK(N("madt"), table_ok(madt, "APIC"));
    if (!table_ok(fadt, "FACP") || !table_ok(madt, "APIC")) {
        return;
    }

    /* FADT */
    uint32_t facs_gpa = rd32(fadt + 36);
    const uint8_t *dsdt = table_at(rd32(fadt + 40));
    CHECK(N("fadt-x-dsdt"), rd64(fadt + 140) == rd32(fadt + 40));
    CHECK(N("dsdt"), table_ok(dsdt, "DSDT"));
    bool s5 = false;
    if (dsdt) {
        for (uint32_t i = 0; i + 4 <= rd32(dsdt + 4); i++) {
            s5 |= !memcmp(dsdt + i, "_S5_", 4);
        }
    }
    CHECK(N("dsdt-s5"), s5);
    CHECK(N("facs"), facs_gpa % 64 == 0 && facs_gpa >= AREA_GPA &&
                         facs_gpa + 64 <= AREA_GPA + AREA_SIZE &&
                         !memcmp(area + (facs_gpa - AREA_GPA), "FACS", 4) &&
                         rd32(area + (facs_gpa - AREA_GPA) + 4) == 64);
    CHECK(N("fadt-fields"),
          rd32(fadt + 4) >= 244 && fadt[8] >= 3 && (fadt[46] | fadt[47] << 8) == ACPI_SCI_IRQ &&
              rd32(fadt + 48) == 0 && rd32(fadt + 56) == ACPI_PM1_EVT_BLK &&
              rd32(fadt + 64) == ACPI_PM1_CNT_BLK && rd32(fadt + 76) == ACPI_PM_TMR_BLK &&
              fadt[88] == 4 && fadt[89] == 2 && fadt[91] == 4);
    uint32_t flags = rd32(fadt + 112);
    CHECK(N("fadt-flags"), (flags & (1u << 10)) && (flags & (1u << 5)) && !(flags & (1u << 4)) &&
                               !(flags & (1u << 8)) && !(flags & (1u << 20)));
    CHECK(N("fadt-reset-reg"), fadt[116] == 1 && fadt[117] == 8 && fadt[118] == 0 &&
                                   rd64(fadt + 120) == ACPI_RESET_PORT &&
                                   fadt[128] == ACPI_RESET_VALUE);
    CHECK(N("fadt-x-blocks"),
          fadt[148] == 1 && fadt[149] == 32 && rd64(fadt + 152) == ACPI_PM1_EVT_BLK &&
              fadt[172] == 1 && fadt[173] == 16 && rd64(fadt + 176) == ACPI_PM1_CNT_BLK &&
              fadt[208] == 1 && fadt[209] == 32 && rd64(fadt + 212) == ACPI_PM_TMR_BLK);

    /* MADT */
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    bool ids_ok = true, sci_ok = false, irq0_override = false, x2 = false, isos_ok = true;
    uint32_t mlen = rd32(madt + 4);
    CHECK(N("madt-header"), rd32(madt + 36) == 0xfee00000u && (rd32(madt + 40) & 1));
    for (uint32_t off = 44; off + 2 <= mlen && madt[off + 1] >= 2; off += madt[off + 1]) {
        const uint8_t *e = madt + off;
        switch (e[0]) {
        case 0: { /* UID = index, the topology's APIC ID, enabled for the present CPUs */
            uint32_t want = tp->want ? tp->want[lapics] : lapics;
            ids_ok &= lapics < ncpus && e[1] == 8 && e[2] == lapics && e[3] == want &&
                      rd32(e + 4) == (lapics < tp->smp.cpus);
            lapics++;
            break;
        }
        case 9: /* x2APIC: an APIC ID above 254 */
            ids_ok &= lapics < ncpus && e[1] == 16 && rd32(e + 4) >= 255 &&
                      rd32(e + 4) == (tp->want ? tp->want[lapics] : lapics) &&
                      rd32(e + 8) == (lapics < tp->smp.cpus) && rd32(e + 12) == lapics;
            lapics++;
            x2 = true;
            break;
        case 1:
            ioapics++;
            ids_ok &= e[1] == 12 && rd32(e + 4) == 0xfec00000u && rd32(e + 8) == 0;
            break;
        case 2:
            isos++;
            irq0_override |= e[3] == 0 && rd32(e + 4) == 2 && rd16(e + 8) == 0;
            sci_ok |= e[3] == 9 && rd32(e + 4) == 9 && (e[8] & 0xf) == 0xd;
            /* QEMU's: IRQ0 -> GSI 2, and 5, 9, 10, 11 level/high on their own GSI */
            isos_ok &= e[1] == 10 && e[2] == 0 &&
                       (e[3] == 0 || ((e[3] == 5 || e[3] == 9 || e[3] == 10 || e[3] == 11) &&
                                      rd32(e + 4) == e[3] && rd16(e + 8) == 0xd));
            break;
        case 4:
            nmis++;
            ids_ok &= e[1] == 6 && e[2] == 0xff && e[5] == 1;
            break;
        case 0xa:
            nmis++;
            ids_ok &= e[1] == 12 && rd32(e + 4) == 0xffffffff && e[8] == 1 && x2;
            break;
        }
    }
    CHECK(N("madt-lapics"), lapics == ncpus);
    CHECK(N("madt-ioapic"), ioapics == 1);
    CHECK(N("madt-entries"), ids_ok);
    CHECK(N("madt-sci-override"), sci_ok);
    CHECK(N("madt-irq0-override"), irq0_override);
    CHECK(N("madt-overrides-as-qemu"), isos_ok && isos == 5);
    CHECK(N("madt-nmi"), nmis == 1);

    const char *dir = dump_dir;
    if (dir) {
        dump(dir, "facp", fadt, rd32(fadt + 4));
        dump(dir, "apic", madt, rd32(madt + 4));
        dump(dir, "dsdt", dsdt, rd32(dsdt + 4));
        dump(dir, "rsdt", rsdt, rd32(rsdt + 4));
        dump(dir, "xsdt", xsdt, rd32(xsdt + 4));
        dump(dir, "facs", area + (facs_gpa - AREA_GPA), 64);
        dump(dir, "rsdp", rsdp, 36);
    }
#undef N
}

/* n CPUs in one socket of n cores */
static void test_tables(unsigned n, const char *dump_dir)
{
    char label[32];
    snprintf(label, sizeof(label), "%u-cpu", n);
    Topo tp = {label, {n, n, 1, 1, n, 1}, n, NULL};
    test_tables_topo(&tp, dump_dir);
}

/* The odd topologies: APIC IDs with gaps, maxcpus above cpus (disabled entries), x2APIC. */
static void test_topologies(void)
{
    static uint32_t x2ids[201];
    for (unsigned i = 0; i < 201; i++) {
        x2ids[i] = i < 200 ? i : 256; /* 2 sockets of 200 cores: socket 1 starts at 256 */
    }
    const Topo topos[] = {
        {"smp6-2sockets-3cores", {6, 6, 2, 1, 3, 1}, 6, ids_6_2s_3c},
        {"smp12-2s-3c-2t", {12, 12, 2, 1, 3, 2}, 12, ids_12_2s_3c_2t},
        {"smp3-maxcpus6", {3, 6, 6, 1, 1, 1}, 6, ids_3_of_6},
        {"smp4-2c-2t-maxcpus8", {4, 8, 2, 1, 2, 2}, 8, ids_4_2c_2t_of_8},
        {"smp2-maxcpus201-x2apic", {2, 201, 2, 1, 200, 1}, 201, x2ids},
    };
    for (size_t i = 0; i < sizeof(topos) / sizeof(topos[0]); i++) {
        test_tables_topo(&topos[i], NULL);
    }
}

static void test_build_errors(void)
{
    uint32_t ids[2] = {0, 1};
    X86CpuList one = {1, 1, ids}, none = {0, 0, ids}, two = {2, 2, ids};
    CHECK("acpi/build-too-small", acpi_build_tables(area, AREA_GPA, 256, &one) == 0);
    CHECK("acpi/build-no-cpus", acpi_build_tables(area, AREA_GPA, AREA_SIZE, &none) == 0);
    CHECK("acpi/build-above-4g", acpi_build_tables(area, 1ULL << 32, AREA_SIZE, &one) == 0);
    /* An unaligned area still gets an aligned RSDP. */
    uint64_t r = acpi_build_tables(area, AREA_GPA + 4, AREA_SIZE - 4, &two);
    CHECK("acpi/build-unaligned", r != 0 && r % 16 == 0);
}

/* The PM block at 0x600 (PIIX4_PM maps it there after the firmware step) and 0xCF9. */
static uint64_t rcr_rd(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    return acpi_pm_rcr_read() | (~0ULL << 8);
}

static void rcr_wr(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    acpi_pm_rcr_write((uint8_t)val);
}

static const IOOps rcr_ops = {.read = rcr_rd, .write = rcr_wr};

static void pm_map(void)
{
    acpi_pm_init();
    pio_register(ACPI_PM_IO_BASE, 64, &acpi_pm_io_ops, NULL);
    pio_register(ACPI_RESET_PORT, 1, &rcr_ops, NULL);
}

static uint32_t in(uint16_t port, unsigned size)
{
    uint32_t v = 0;
    pio_dispatch(port, &v, size, false);
    return v;
}

static void out(uint16_t port, uint32_t v, unsigned size)
{
    pio_dispatch(port, &v, size, true);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int sci_level = -1;

static void fake_set_irq(unsigned gsi, int level)
{
    if (gsi == ACPI_SCI_IRQ) {
        sci_level = level;
    }
}

static const AccelOps fake_accel = {.name = "fake", .set_irq = fake_set_irq};

static void test_sci(void)
{
    io_reset_all();
    pm_map();
    current_accel = &fake_accel;
    sci_level = -1;
    acpi_pm_press_power_button();
    CHECK("acpi/sci-disabled", sci_level != 1);
    out(ACPI_PM1_EVT_BLK + 2, ACPI_PM1_PWRBTN, 2); /* enabling a pending event raises it */
    CHECK("acpi/sci-on-enable", sci_level == 1);
    out(ACPI_PM1_EVT_BLK + 2, 0, 2);
    CHECK("acpi/sci-off-on-disable", sci_level == 0);
    out(ACPI_PM1_EVT_BLK + 2, ACPI_PM1_PWRBTN, 2);
    out(ACPI_PM1_EVT_BLK, ACPI_PM1_PWRBTN, 2);
    CHECK("acpi/sci-off-on-clear", sci_level == 0);
    acpi_pm_press_power_button();
    CHECK("acpi/sci-on-press", sci_level == 1);
    acpi_pm_reset();
    CHECK("acpi/sci-off-on-reset", sci_level == 0);
    current_accel = NULL;
    io_reset_all();
}

static void test_pm(void)
{
    io_reset_all();
    pm_map();
    runstate_take_request();

    /*
     * PM timer: 24 bits, 3.579545 MHz. Its count over a sleep must match the host clock read
     * around each timer read, however long a loaded host makes the sleep (below the 4.7 s
     * wrap; a longer one is tried again).
     */
    uint32_t t0 = 0, t1 = 0, d = 0;
    double tlo = 0, thi = 0;
    for (int tries = 0; tries < 5; tries++) {
        struct timespec c0, c1, c2, c3;
        clock_gettime(CLOCK_MONOTONIC, &c0);
        t0 = in(ACPI_PM_TMR_BLK, 4);
        clock_gettime(CLOCK_MONOTONIC, &c1);
        sleep_ms(20);
        clock_gettime(CLOCK_MONOTONIC, &c2);
        t1 = in(ACPI_PM_TMR_BLK, 4);
        clock_gettime(CLOCK_MONOTONIC, &c3);
#define SECS(a, b) ((double)((b).tv_sec - (a).tv_sec) + ((b).tv_nsec - (a).tv_nsec) / 1e9)
        tlo = SECS(c1, c2) * ACPI_PM_TIMER_HZ - 2; /* the reads came between these clocks */
        thi = SECS(c0, c3) * ACPI_PM_TIMER_HZ + 2;
#undef SECS
        d = (t1 - t0) & 0xffffff;
        if (thi < (1 << 24) - 2) {
            break;
        }
    }
    CHECK("acpi/pm-timer-24bit", (t0 >> 24) == 0 && (t1 >> 24) == 0);
    CHECK("acpi/pm-timer-rate", d >= tlo && d <= thi);
    if (!(d >= tlo && d <= thi)) {
        printf("# %u ticks, want %.0f..%.0f\n", d, tlo, thi);
    }
    uint32_t lo = in(ACPI_PM_TMR_BLK, 2), hi = in(ACPI_PM_TMR_BLK + 2, 1);
    CHECK("acpi/pm-timer-narrow", lo <= 0xffff && hi <= 0xff);

    /* SCI_EN reads as 1 */
    CHECK("acpi/pm1-cnt-sci-en", (in(ACPI_PM1_CNT_BLK, 2) & ACPI_PM1_SCI_EN) != 0);

    /* Power button: status set even when disabled, write-1-to-clear */
    CHECK("acpi/pm1-sts-initial", (in(ACPI_PM1_EVT_BLK, 2) & ACPI_PM1_PWRBTN) == 0);
    acpi_pm_press_power_button();
    CHECK("acpi/pwrbtn-sts", (in(ACPI_PM1_EVT_BLK, 2) & ACPI_PM1_PWRBTN) != 0);
    out(ACPI_PM1_EVT_BLK, 0, 2);
    CHECK("acpi/pwrbtn-write0-keeps", (in(ACPI_PM1_EVT_BLK, 2) & ACPI_PM1_PWRBTN) != 0);
    out(ACPI_PM1_EVT_BLK + 1, ACPI_PM1_PWRBTN >> 8, 1); /* byte write to the high half */
    CHECK("acpi/pwrbtn-w1c", (in(ACPI_PM1_EVT_BLK, 2) & ACPI_PM1_PWRBTN) == 0);
    out(ACPI_PM1_EVT_BLK + 2, ACPI_PM1_PWRBTN, 2);
    CHECK("acpi/pwrbtn-en", (in(ACPI_PM1_EVT_BLK + 2, 2) & ACPI_PM1_PWRBTN) != 0);
    /* a 32-bit read sees status in the low half, enable in the high half */
    acpi_pm_press_power_button();
    uint32_t evt = in(ACPI_PM1_EVT_BLK, 4);
    CHECK("acpi/pm1-evt-dword", (evt & ACPI_PM1_PWRBTN) && ((evt >> 16) & ACPI_PM1_PWRBTN));
    /* a 32-bit write clears status and sets enable at once */
    out(ACPI_PM1_EVT_BLK, ACPI_PM1_PWRBTN, 4);
    evt = in(ACPI_PM1_EVT_BLK, 4);
    CHECK("acpi/pm1-evt-dword-write", !(evt & ACPI_PM1_PWRBTN) && (evt >> 16) == 0);

    /* S5: SLP_TYP alone does nothing, SLP_EN with another type does nothing */
    uint16_t s5 = ACPI_S5_SLP_TYP << 10;
    out(ACPI_PM1_CNT_BLK, s5 | ACPI_PM1_SCI_EN, 2);
    CHECK("acpi/slp-typ-no-en", runstate_take_request() == SHUTDOWN_NONE);
    CHECK("acpi/slp-typ-readback",
          (in(ACPI_PM1_CNT_BLK, 2) & (ACPI_PM1_SLP_TYP | ACPI_PM1_SLP_EN)) == s5);
    out(ACPI_PM1_CNT_BLK, (1 << 10) | ACPI_PM1_SLP_EN, 2);
    CHECK("acpi/s1-ignored", runstate_take_request() == SHUTDOWN_NONE);
    out(ACPI_PM1_CNT_BLK, s5 | ACPI_PM1_SLP_EN | ACPI_PM1_SCI_EN, 2);
    CHECK("acpi/s5-poweroff", runstate_take_request() == SHUTDOWN_GUEST_POWEROFF);
    out(ACPI_PM1_CNT_BLK + 1, (s5 | ACPI_PM1_SLP_EN) >> 8, 1);
    CHECK("acpi/s5-poweroff-byte", runstate_take_request() == SHUTDOWN_GUEST_POWEROFF);

    /* Reset control register */
    out(ACPI_RESET_PORT, 0x02, 1);
    CHECK("acpi/cf9-no-reset", runstate_take_request() == SHUTDOWN_NONE);
    CHECK("acpi/cf9-readback", in(ACPI_RESET_PORT, 1) == 0x02);
    out(ACPI_RESET_PORT, 0x06, 1);
    CHECK("acpi/cf9-reset", runstate_take_request() == SHUTDOWN_GUEST_RESET);
    CHECK("acpi/cf9-readback-masked", in(ACPI_RESET_PORT, 1) == 0x06);
    out(ACPI_RESET_PORT, 0xff, 1);
    CHECK("acpi/cf9-full-reset",
          runstate_take_request() == SHUTDOWN_GUEST_RESET && in(ACPI_RESET_PORT, 1) == 0x0e);

    /* reset() clears everything */
    out(ACPI_PM1_EVT_BLK + 2, ACPI_PM1_PWRBTN, 2);
    acpi_pm_press_power_button();
    acpi_pm_reset();
    CHECK("acpi/pm-reset", (in(ACPI_PM1_EVT_BLK, 4) & ~ACPI_PM1_TMR) == 0 &&
                               in(ACPI_RESET_PORT, 1) == 0 &&
                               in(ACPI_PM1_CNT_BLK, 2) == ACPI_PM1_SCI_EN);
    io_reset_all();
}

static void test_iasl(void)
{
    char dir[] = "/tmp/vireo-test-acpi-XXXXXX";
    if (system("command -v iasl >/dev/null 2>&1") != 0) {
        test_tables(4, NULL);
        printf("skip acpi/iasl-disassemble: iasl not installed\n");
        return;
    }
    if (!mkdtemp(dir)) {
        test_tables(4, NULL);
        CHECK("acpi/iasl-tmpdir", 0);
        return;
    }
    test_tables(4, dir);
    static const char *const names[] = {"facp", "apic", "dsdt", "rsdt", "xsdt", "facs"};
    char cmd[1024], name[64];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        /* iasl exits 0 even on bad tables: look for its complaints instead. */
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && iasl -d %s.dat >%s.log 2>&1 && test -s %s.dsl && "
                 "! grep -qiE 'warning|error|unknown|terminates|\\*\\*\\*\\*' %s.log %s.dsl",
                 dir, names[i], names[i], names[i], names[i], names[i]);
        snprintf(name, sizeof(name), "acpi/iasl-disassemble-%s", names[i]);
        CHECK(name, system(cmd) == 0);
    }
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && iasl -p recompiled dsdt.dsl >recompile.log 2>&1 && "
             "grep -q ' 0 Errors, 0 Warnings' recompile.log",
             dir);
    CHECK("acpi/iasl-dsdt-roundtrip", system(cmd) == 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        printf("warning: could not remove %s\n", dir);
    }
}

int main(void)
{
    test_tables(1, NULL);
    test_iasl(); /* includes test_tables(4, ...) */
    test_tables(255, NULL);
    test_topologies();
    test_build_errors();
    test_pm();
    test_sci();
    UNIT_EXIT();
}
