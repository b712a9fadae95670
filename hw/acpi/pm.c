/*
 * ACPI fixed hardware: PM1a event and control registers, the PM timer and the 0xCF9 reset
 * control register (port map in include/vireo/acpi.h).
 *
 * The PM1 and timer blocks are one 12-byte register file at 0x600, so an access of any
 * width at any offset works: reads are assembled byte by byte from a snapshot (the timer
 * is sampled once per access), writes are applied per byte lane with each register's
 * semantics (write-1-to-clear status, plain enable, control with SLP_EN action).
 *
 * The SCI (IRQ 9) level is (status & enable) for the SCI-capable events and is updated
 * after every access that can change it. TMR_STS is computed lazily (set once bit 23 of
 * the timer flipped since the last clear), so a TMR_EN SCI is only noticed on the next
 * PM1 access; no OS we care about enables the timer event.
 */
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include "vireo/acpi.h"
#include "vireo/ioport.h"
#include "vireo/irq.h"
#include "vireo/machine.h"

#define PM1_STS_MASK                                                                               \
    (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC |              \
     ACPI_PM1_PCIEXP | ACPI_PM1_WAK_STS)
#define PM1_EN_MASK                                                                                \
    (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC |              \
     ACPI_PM1_PCIEXP)
/* Events that raise the SCI (PCIEXP_WAKE and WAK only matter while asleep). */
#define PM1_SCI_EVENTS                                                                             \
    (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
/* Control bits that read back what was written: BM_RLD (1) and SLP_TYP. */
#define PM1_CNT_RW_MASK ((1u << 1) | ACPI_PM1_SLP_TYP)
#define RCR_MASK        0x0e
#define RCR_RESET       0x04

static struct {
    uint16_t sts, en, cnt;
    uint8_t gpe_sts[ACPI_GPE0_LEN / 2], gpe_en[ACPI_GPE0_LEN / 2];
    uint64_t tmr_epoch; /* ticks >> 23 when TMR_STS was last cleared */
    uint8_t rcr;
    int sci_level;
} pm;

static uint64_t pm_timer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* tv_nsec * HZ < 3.6e15: no overflow; the sum is monotonic across second boundaries. */
    uint64_t ticks = (uint64_t)ts.tv_sec * ACPI_PM_TIMER_HZ +
                     (uint64_t)ts.tv_nsec * ACPI_PM_TIMER_HZ / 1000000000u;
    return ticks;
}

static void pm_update_tmr_sts(uint64_t now)
{
    if (now >> 23 != pm.tmr_epoch) {
        pm.sts |= ACPI_PM1_TMR;
    }
}

static void pm_update_sci(void)
{
    int level = (pm.sts & pm.en & PM1_SCI_EVENTS) != 0;
    for (unsigned i = 0; i < ACPI_GPE0_LEN / 2; i++) {
        level |= (pm.gpe_sts[i] & pm.gpe_en[i]) != 0;
    }
    if (level != pm.sci_level) {
        pm.sci_level = level;
        irq_set(isa_get_irq(ACPI_SCI_IRQ), level);
    }
}

static void pm1_cnt_write(uint16_t val)
{
    pm.cnt = val & PM1_CNT_RW_MASK;
    if (val & ACPI_PM1_SLP_EN) {
        unsigned typ = (val & ACPI_PM1_SLP_TYP) >> 10;
        if (typ == ACPI_S5_SLP_TYP) {
            machine_request_shutdown(SHUTDOWN_GUEST_POWEROFF);
        }
        /* No other sleep state is advertised: ignore. */
    }
}

static uint64_t pm_io_read(void *opaque, uint64_t addr, unsigned size)
{
    uint8_t regs[ACPI_PM_IO_LEN];
    uint64_t now = pm_timer_now();
    pm_update_tmr_sts(now);
    uint32_t tmr = now & 0xffffff;
    uint16_t cnt = pm.cnt | ACPI_PM1_SCI_EN;
    regs[0] = pm.sts;
    regs[1] = pm.sts >> 8;
    regs[2] = pm.en;
    regs[3] = pm.en >> 8;
    regs[4] = cnt;
    regs[5] = cnt >> 8;
    regs[6] = regs[7] = 0;
    memcpy(&regs[8], &tmr, 4); /* little-endian host */

    uint64_t val = 0;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = addr + i < ACPI_PM_IO_LEN ? regs[addr + i] : 0xff;
        val |= (uint64_t)b << (8 * i);
    }
    pm_update_sci();
    return val;
}

static void pm_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    uint16_t sts_clear = 0, en_val = pm.en, en_mask = 0, cnt_val = 0, cnt_mask = 0;
    for (unsigned i = 0; i < size && addr + i < ACPI_PM_IO_LEN; i++) {
        uint16_t b = (val >> (8 * i)) & 0xff;
        unsigned off = addr + i, shift = 8 * (off & 1);
        switch (off) {
        case 0:
        case 1:
            sts_clear |= b << shift;
            break;
        case 2:
        case 3:
            en_val = (en_val & ~(0xff << shift)) | b << shift;
            en_mask |= 0xff << shift;
            break;
        case 4:
        case 5:
            cnt_val |= b << shift;
            cnt_mask |= 0xff << shift;
            break;
        default: /* reserved, timer: read-only */
            break;
        }
    }
    if (sts_clear) {
        uint64_t now = pm_timer_now();
        pm_update_tmr_sts(now);
        if (sts_clear & ACPI_PM1_TMR) {
            pm.tmr_epoch = now >> 23;
        }
        pm.sts &= ~(sts_clear & PM1_STS_MASK);
    }
    if (en_mask) {
        pm.en = en_val & PM1_EN_MASK;
    }
    if (cnt_mask) {
        /* A byte write keeps the other byte; SLP_EN only acts when its byte is written. */
        uint16_t cur = pm.cnt | ACPI_PM1_SCI_EN;
        pm1_cnt_write((cur & ~cnt_mask) | (cnt_val & cnt_mask));
    }
    pm_update_sci();
}

const IOOps acpi_pm_io_ops = {
    .read = pm_io_read,
    .write = pm_io_write,
};

/* GPE0_BLK: status bytes (write 1 to clear), then enable bytes. */
static uint64_t gpe_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t a = addr + i;
        uint8_t b = a < ACPI_GPE0_LEN / 2   ? pm.gpe_sts[a]
                    : a < ACPI_GPE0_LEN     ? pm.gpe_en[a - ACPI_GPE0_LEN / 2]
                                            : 0xff;
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

static void gpe_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    for (unsigned i = 0; i < size; i++) {
        uint64_t a = addr + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        if (a < ACPI_GPE0_LEN / 2) {
            pm.gpe_sts[a] &= (uint8_t)~b;
        } else if (a < ACPI_GPE0_LEN) {
            pm.gpe_en[a - ACPI_GPE0_LEN / 2] = b;
        }
    }
    pm_update_sci();
}

const IOOps acpi_gpe_io_ops = {.read = gpe_read, .write = gpe_write};

void acpi_gpe_raise(unsigned bit)
{
    if (bit < 8 * ACPI_GPE0_LEN / 2) {
        pm.gpe_sts[bit / 8] |= (uint8_t)(1u << (bit % 8));
        pm_update_sci();
    }
}

uint8_t acpi_pm_rcr_read(void)
{
    return pm.rcr;
}

void acpi_pm_rcr_write(uint8_t val)
{
    pm.rcr = val & RCR_MASK;
    if (val & RCR_RESET) {
        machine_request_shutdown(SHUTDOWN_GUEST_RESET);
    }
}

void acpi_pm_reset(void)
{
    if (pm.sci_level) {
        irq_set(isa_get_irq(ACPI_SCI_IRQ), 0);
    }
    memset(&pm, 0, sizeof(pm));
    pm.tmr_epoch = pm_timer_now() >> 23;
}

void acpi_pm_init(void)
{
    acpi_pm_reset();
}

void acpi_pm_press_power_button(void)
{
    pm.sts |= ACPI_PM1_PWRBTN;
    pm_update_sci();
}
