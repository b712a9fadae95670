/*
 * ACPI: the firmware tables (hw/x86/acpi-build.c, DSDT in hw/x86/dsdt.dsl) and the
 * fixed-hardware PM device they describe (hw/acpi/pm.c).
 *
 * I/O ports of the PM device:
 *   0x600-0x603  PM1a_EVT_BLK: status (0x600, write 1 to clear), enable (0x602)
 *   0x604-0x605  PM1a_CNT_BLK: SCI_EN (always 1), SLP_TYP, SLP_EN
 *   0x608-0x60B  PM_TMR_BLK: 24-bit free-running timer at 3.579545 MHz
 *   0xCF9        reset control register (also the FADT reset register, value 0x06)
 *   0xAFE0-0xAFE3  GPE0_BLK: status (0xAFE0-1, write 1 to clear), enable (0xAFE2-3); GPE 1 is
 *                ACPI PCI hotplug (hw/acpi/pcihp.c, registers at 0xAE00)
 * The SCI is ISA IRQ 9, level-triggered active-high (MADT interrupt source override).
 */
#ifndef VIREO_ACPI_H
#define VIREO_ACPI_H

#include <stdint.h>

#define ACPI_PM1_EVT_BLK 0x600
#define ACPI_PM1_CNT_BLK 0x604
#define ACPI_PM_TMR_BLK  0x608
#define ACPI_PM_IO_BASE  ACPI_PM1_EVT_BLK
#define ACPI_PM_IO_LEN   12
#define ACPI_RESET_PORT  0xcf9
#define ACPI_RESET_VALUE 0x06
#define ACPI_SCI_IRQ     9
#define ACPI_PM_TIMER_HZ 3579545
#define ACPI_GPE0_BLK    0xafe0
#define ACPI_GPE0_LEN    4
#define ACPI_PCIHP_BASE  0xae00
#define ACPI_PCIHP_LEN   0x18
#define ACPI_GPE_PCIHP   1 /* the GPE bit of PCI hotplug (\_GPE._E01 in the DSDT) */

/* SLP_TYP of \_S5 in the DSDT (hw/x86/dsdt.dsl must agree). */
#define ACPI_S5_SLP_TYP 5

/* PM1 status/enable bits */
#define ACPI_PM1_TMR     (1u << 0)
#define ACPI_PM1_GBL     (1u << 5)
#define ACPI_PM1_PWRBTN  (1u << 8)
#define ACPI_PM1_SLPBTN  (1u << 9)
#define ACPI_PM1_RTC     (1u << 10)
#define ACPI_PM1_PCIEXP  (1u << 14) /* PCIEXP_WAKE_STS / PCIEXP_WAKE_DIS */
#define ACPI_PM1_WAK_STS (1u << 15)
/* PM1 control bits */
#define ACPI_PM1_SCI_EN  (1u << 0)
#define ACPI_PM1_SLP_TYP (7u << 10)
#define ACPI_PM1_SLP_EN  (1u << 13)

/*
 * Write RSDP, XSDT, RSDT, FADT, FACS, DSDT and MADT for the machine's CPUs (x86.h: one MADT
 * entry per possible CPU with its APIC ID, enabled for the present ones) into host memory
 * `host` that the guest sees at [gpa, gpa+size). The whole range is overwritten (zeroed first).
 * It must lie below 4 GiB (RSDT and FADT hold 32-bit pointers); for the legacy RSDP scan it
 * should be (part of) 0xE0000-0xFFFFF. Returns the RSDP's guest address (16-byte aligned), or
 * 0 if the tables do not fit or no CPU is present.
 */
typedef struct X86CpuList X86CpuList;
uint64_t acpi_build_tables(void *host, uint64_t gpa, uint64_t size, const X86CpuList *cpus);
/* Slot `slot` of bus 0 holds a device that cannot be hot-unplugged (VGA): its DSDT entry loses
 * _SUN, so no "Physical Slot" shows, as in QEMU's DSDT. After acpi_build_tables. */
void acpi_dsdt_slot_fixed(int slot);

/*
 * The PM device's registers. PIIX4_PM (hw/acpi/piix4.c) maps acpi_pm_io_ops as a 64-byte
 * region where its PMBA register says (the firmware step puts it at 0x600); PIIX3 maps the
 * reset control register at 0xCF9. acpi_pm_init()/acpi_pm_reset() return the registers to
 * power-on state. Call with the big lock held.
 */
#include "vireo/memory.h"
extern const IOOps acpi_pm_io_ops;
void acpi_pm_init(void);
void acpi_pm_reset(void);
/* The GPE0 block (PIIX4 PM maps it at ACPI_GPE0_BLK); raise a GPE status bit (SCI if enabled). */
extern const IOOps acpi_gpe_io_ops;
void acpi_gpe_raise(unsigned bit);
/* Press the fixed-feature power button: PWRBTN_STS, and an SCI if PWRBTN_EN. Lock held. */
void acpi_pm_press_power_button(void);

/*
 * The reset control register at 0xCF9 (PIIX3 maps it).
 */
uint8_t acpi_pm_rcr_read(void);
void acpi_pm_rcr_write(uint8_t val);

/*
 * ACPI PCI hotplug (hw/acpi/pcihp.c), QEMU's interface: at ACPI_PCIHP_BASE, 32-bit registers
 * 0x00 PCIU (slots with a new device, read clears), 0x04 PCID (slots to eject), 0x08 B0EJ (write:
 * eject these slots), 0x0C PCRM (slots whose devices may be removed), 0x10 BNUM (bus selector),
 * 0x14 PIDX (acpi-index of a slot). A plug or unplug request sets the slot's bit and GPE 1; the
 * DSDT's \_GPE._E01 notifies the slot's device object; its _EJ0 writes B0EJ.
 */
typedef struct AcpiPciHpState {
    uint32_t up, down; /* bus 0 (BSEL 0), one bit per slot */
    uint32_t bsel, aidx;
    struct PCIBus *bus;
    MemoryRegion io;
} AcpiPciHpState;
void acpi_pcihp_init(AcpiPciHpState *s, struct PCIBus *bus);
void acpi_pcihp_destroy(AcpiPciHpState *s);
/* Machine reset: requested ejects happen now (as QEMU's acpi_pcihp_reset). */
void acpi_pcihp_reset(AcpiPciHpState *s);

#endif
