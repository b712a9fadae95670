/*
 * Vireo DSDT (compiled by iasl into build/generated/dsdt.hex, see Makefile).
 *
 * Contents:
 *  \_S5      soft-off sleep type. SLP_TYP 5 must match ACPI_S5_SLP_TYP in
 *            include/vireo/acpi.h: hw/acpi/pm.c powers the machine off when the guest
 *            writes SLP_EN with this SLP_TYP to PM1a_CNT. No other sleep state exists.
 *  \_SB.PCI0 the PCI root bridge (bus 0, configuration mechanism #1 at 0xCF8/0xCFC).
 *            Its _PRT names the interrupt links LNKA-LNKD, whose _CRS/_SRS read and write
 *            PIIX3's PIRQ route registers (0x60-0x63) as QEMU's pc DSDT does, so the guest
 *            routes PCI INTx (level, active high, shared) where the firmware step put it
 *            (hw/x86/pc-firmware.c: A, B -> IRQ 10; C, D -> IRQ 11).
 *
 * PCI0 has no _ADR: iasl (rightly) rejects a device with both _HID and _ADR, and a host
 * bridge is identified by _HID/_BBN/_UID alone.
 *
 * The fixed-feature power button (FADT PWR_BUTTON flag clear) and the PM registers live
 * in the FADT, not here.
 */
DefinitionBlock ("", "DSDT", 2, "VIREO ", "VIREODSD", 0x00000001)
{
    /* Soft off: SLP_TYPa, SLP_TYPb, reserved, reserved */
    Name (\_S5, Package (0x04)
    {
        0x05,
        0x05,
        Zero,
        Zero
    })

    /* General-purpose events: GPE 1 is PCI hotplug (the FADT's GPE0_BLK at 0xAFE0) */
    Scope (\_GPE)
    {
        Name (_HID, "ACPI0006")
        Method (_E01, 0, NotSerialized)
        {
            Acquire (\_SB.PCI0.BLCK, 0xFFFF)
            \_SB.PCI0.PCNT ()
            Release (\_SB.PCI0.BLCK)
        }
    }

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_BBN, Zero)
            Name (_UID, Zero)

            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000,             // Granularity
                    0x0000,             // Range Minimum
                    0x00FF,             // Range Maximum
                    0x0000,             // Translation Offset
                    0x0100)             // Length
                /* The configuration ports are the bridge's own, not forwarded. */
                IO (Decode16,
                    0x0CF8,             // Range Minimum
                    0x0CF8,             // Range Maximum
                    0x01,               // Alignment
                    0x08)               // Length
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000,             // Granularity
                    0x0000,             // Range Minimum
                    0x0CF7,             // Range Maximum
                    0x0000,             // Translation Offset
                    0x0CF8)             // Length
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000,             // Granularity
                    0x0D00,             // Range Minimum
                    0xFFFF,             // Range Maximum
                    0x0000,             // Translation Offset
                    0xF300)             // Length
                /* Legacy VGA window */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000,         // Granularity
                    0x000A0000,         // Range Minimum
                    0x000BFFFF,         // Range Maximum
                    0x00000000,         // Translation Offset
                    0x00020000)         // Length
                /*
                 * The 32-bit PCI hole: from the end of RAM below 4 GiB to the IOAPIC at
                 * 0xFEC00000; and QEMU's 2 GiB 64-bit hole from the first GiB boundary above
                 * RAM. hw/x86/acpi-build.c patches both ranges for the machine's RAM (these
                 * values are what it looks for).
                 */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000,         // Granularity
                    0xC0000000,         // Range Minimum
                    0xFEBFFFFF,         // Range Maximum
                    0x00000000,         // Translation Offset
                    0x3EC00000)         // Length
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x0000000000000000, // Granularity
                    0x0000000100000000, // Range Minimum
                    0x000000017FFFFFFF, // Range Maximum
                    0x0000000000000000, // Translation Offset
                    0x0000000080000000) // Length
            })

            /*
             * Legacy INTx routing as QEMU's pc DSDT has it: slot S pin P (0 = INTA) uses link
             * LNK[DABC][(S + P) mod 4], i.e. PIRQ (S + P - 1) mod 4 of PIIX3 (hw/isa/piix3.c);
             * 00:01 INTA is the PIIX4 PM's SCI (LNKS, IRQ 9).
             */
            Name (_PRT, Package (0x80)
            {
                Package (0x04) { 0x0000FFFF, 0, LNKD, Zero },
                Package (0x04) { 0x0000FFFF, 1, LNKA, Zero },
                Package (0x04) { 0x0000FFFF, 2, LNKB, Zero },
                Package (0x04) { 0x0000FFFF, 3, LNKC, Zero },
                Package (0x04) { 0x0001FFFF, 0, LNKS, Zero },
                Package (0x04) { 0x0001FFFF, 1, LNKB, Zero },
                Package (0x04) { 0x0001FFFF, 2, LNKC, Zero },
                Package (0x04) { 0x0001FFFF, 3, LNKD, Zero },
                Package (0x04) { 0x0002FFFF, 0, LNKB, Zero },
                Package (0x04) { 0x0002FFFF, 1, LNKC, Zero },
                Package (0x04) { 0x0002FFFF, 2, LNKD, Zero },
                Package (0x04) { 0x0002FFFF, 3, LNKA, Zero },
                Package (0x04) { 0x0003FFFF, 0, LNKC, Zero },
                Package (0x04) { 0x0003FFFF, 1, LNKD, Zero },
                Package (0x04) { 0x0003FFFF, 2, LNKA, Zero },
                Package (0x04) { 0x0003FFFF, 3, LNKB, Zero },
                Package (0x04) { 0x0004FFFF, 0, LNKD, Zero },
                Package (0x04) { 0x0004FFFF, 1, LNKA, Zero },
                Package (0x04) { 0x0004FFFF, 2, LNKB, Zero },
                Package (0x04) { 0x0004FFFF, 3, LNKC, Zero },
                Package (0x04) { 0x0005FFFF, 0, LNKA, Zero },
                Package (0x04) { 0x0005FFFF, 1, LNKB, Zero },
                Package (0x04) { 0x0005FFFF, 2, LNKC, Zero },
                Package (0x04) { 0x0005FFFF, 3, LNKD, Zero },
                Package (0x04) { 0x0006FFFF, 0, LNKB, Zero },
                Package (0x04) { 0x0006FFFF, 1, LNKC, Zero },
                Package (0x04) { 0x0006FFFF, 2, LNKD, Zero },
                Package (0x04) { 0x0006FFFF, 3, LNKA, Zero },
                Package (0x04) { 0x0007FFFF, 0, LNKC, Zero },
                Package (0x04) { 0x0007FFFF, 1, LNKD, Zero },
                Package (0x04) { 0x0007FFFF, 2, LNKA, Zero },
                Package (0x04) { 0x0007FFFF, 3, LNKB, Zero },
                Package (0x04) { 0x0008FFFF, 0, LNKD, Zero },
                Package (0x04) { 0x0008FFFF, 1, LNKA, Zero },
                Package (0x04) { 0x0008FFFF, 2, LNKB, Zero },
                Package (0x04) { 0x0008FFFF, 3, LNKC, Zero },
                Package (0x04) { 0x0009FFFF, 0, LNKA, Zero },
                Package (0x04) { 0x0009FFFF, 1, LNKB, Zero },
                Package (0x04) { 0x0009FFFF, 2, LNKC, Zero },
                Package (0x04) { 0x0009FFFF, 3, LNKD, Zero },
                Package (0x04) { 0x000AFFFF, 0, LNKB, Zero },
                Package (0x04) { 0x000AFFFF, 1, LNKC, Zero },
                Package (0x04) { 0x000AFFFF, 2, LNKD, Zero },
                Package (0x04) { 0x000AFFFF, 3, LNKA, Zero },
                Package (0x04) { 0x000BFFFF, 0, LNKC, Zero },
                Package (0x04) { 0x000BFFFF, 1, LNKD, Zero },
                Package (0x04) { 0x000BFFFF, 2, LNKA, Zero },
                Package (0x04) { 0x000BFFFF, 3, LNKB, Zero },
                Package (0x04) { 0x000CFFFF, 0, LNKD, Zero },
                Package (0x04) { 0x000CFFFF, 1, LNKA, Zero },
                Package (0x04) { 0x000CFFFF, 2, LNKB, Zero },
                Package (0x04) { 0x000CFFFF, 3, LNKC, Zero },
                Package (0x04) { 0x000DFFFF, 0, LNKA, Zero },
                Package (0x04) { 0x000DFFFF, 1, LNKB, Zero },
                Package (0x04) { 0x000DFFFF, 2, LNKC, Zero },
                Package (0x04) { 0x000DFFFF, 3, LNKD, Zero },
                Package (0x04) { 0x000EFFFF, 0, LNKB, Zero },
                Package (0x04) { 0x000EFFFF, 1, LNKC, Zero },
                Package (0x04) { 0x000EFFFF, 2, LNKD, Zero },
                Package (0x04) { 0x000EFFFF, 3, LNKA, Zero },
                Package (0x04) { 0x000FFFFF, 0, LNKC, Zero },
                Package (0x04) { 0x000FFFFF, 1, LNKD, Zero },
                Package (0x04) { 0x000FFFFF, 2, LNKA, Zero },
                Package (0x04) { 0x000FFFFF, 3, LNKB, Zero },
                Package (0x04) { 0x0010FFFF, 0, LNKD, Zero },
                Package (0x04) { 0x0010FFFF, 1, LNKA, Zero },
                Package (0x04) { 0x0010FFFF, 2, LNKB, Zero },
                Package (0x04) { 0x0010FFFF, 3, LNKC, Zero },
                Package (0x04) { 0x0011FFFF, 0, LNKA, Zero },
                Package (0x04) { 0x0011FFFF, 1, LNKB, Zero },
                Package (0x04) { 0x0011FFFF, 2, LNKC, Zero },
                Package (0x04) { 0x0011FFFF, 3, LNKD, Zero },
                Package (0x04) { 0x0012FFFF, 0, LNKB, Zero },
                Package (0x04) { 0x0012FFFF, 1, LNKC, Zero },
                Package (0x04) { 0x0012FFFF, 2, LNKD, Zero },
                Package (0x04) { 0x0012FFFF, 3, LNKA, Zero },
                Package (0x04) { 0x0013FFFF, 0, LNKC, Zero },
                Package (0x04) { 0x0013FFFF, 1, LNKD, Zero },
                Package (0x04) { 0x0013FFFF, 2, LNKA, Zero },
                Package (0x04) { 0x0013FFFF, 3, LNKB, Zero },
                Package (0x04) { 0x0014FFFF, 0, LNKD, Zero },
                Package (0x04) { 0x0014FFFF, 1, LNKA, Zero },
                Package (0x04) { 0x0014FFFF, 2, LNKB, Zero },
                Package (0x04) { 0x0014FFFF, 3, LNKC, Zero },
                Package (0x04) { 0x0015FFFF, 0, LNKA, Zero },
                Package (0x04) { 0x0015FFFF, 1, LNKB, Zero },
                Package (0x04) { 0x0015FFFF, 2, LNKC, Zero },
                Package (0x04) { 0x0015FFFF, 3, LNKD, Zero },
                Package (0x04) { 0x0016FFFF, 0, LNKB, Zero },
                Package (0x04) { 0x0016FFFF, 1, LNKC, Zero },
                Package (0x04) { 0x0016FFFF, 2, LNKD, Zero },
                Package (0x04) { 0x0016FFFF, 3, LNKA, Zero },
                Package (0x04) { 0x0017FFFF, 0, LNKC, Zero },
                Package (0x04) { 0x0017FFFF, 1, LNKD, Zero },
                Package (0x04) { 0x0017FFFF, 2, LNKA, Zero },
                Package (0x04) { 0x0017FFFF, 3, LNKB, Zero },
                Package (0x04) { 0x0018FFFF, 0, LNKD, Zero },
                Package (0x04) { 0x0018FFFF, 1, LNKA, Zero },
                Package (0x04) { 0x0018FFFF, 2, LNKB, Zero },
                Package (0x04) { 0x0018FFFF, 3, LNKC, Zero },
                Package (0x04) { 0x0019FFFF, 0, LNKA, Zero },
                Package (0x04) { 0x0019FFFF, 1, LNKB, Zero },
                Package (0x04) { 0x0019FFFF, 2, LNKC, Zero },
                Package (0x04) { 0x0019FFFF, 3, LNKD, Zero },
                Package (0x04) { 0x001AFFFF, 0, LNKB, Zero },
                Package (0x04) { 0x001AFFFF, 1, LNKC, Zero },
                Package (0x04) { 0x001AFFFF, 2, LNKD, Zero },
                Package (0x04) { 0x001AFFFF, 3, LNKA, Zero },
                Package (0x04) { 0x001BFFFF, 0, LNKC, Zero },
                Package (0x04) { 0x001BFFFF, 1, LNKD, Zero },
                Package (0x04) { 0x001BFFFF, 2, LNKA, Zero },
                Package (0x04) { 0x001BFFFF, 3, LNKB, Zero },
                Package (0x04) { 0x001CFFFF, 0, LNKD, Zero },
                Package (0x04) { 0x001CFFFF, 1, LNKA, Zero },
                Package (0x04) { 0x001CFFFF, 2, LNKB, Zero },
                Package (0x04) { 0x001CFFFF, 3, LNKC, Zero },
                Package (0x04) { 0x001DFFFF, 0, LNKA, Zero },
                Package (0x04) { 0x001DFFFF, 1, LNKB, Zero },
                Package (0x04) { 0x001DFFFF, 2, LNKC, Zero },
                Package (0x04) { 0x001DFFFF, 3, LNKD, Zero },
                Package (0x04) { 0x001EFFFF, 0, LNKB, Zero },
                Package (0x04) { 0x001EFFFF, 1, LNKC, Zero },
                Package (0x04) { 0x001EFFFF, 2, LNKD, Zero },
                Package (0x04) { 0x001EFFFF, 3, LNKA, Zero },
                Package (0x04) { 0x001FFFFF, 0, LNKC, Zero },
                Package (0x04) { 0x001FFFFF, 1, LNKD, Zero },
                Package (0x04) { 0x001FFFFF, 2, LNKA, Zero },
                Package (0x04) { 0x001FFFFF, 3, LNKB, Zero }
            })

            /* PIIX3 (00:01.0): the PIRQ route control registers 0x60-0x63 */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                OperationRegion (P40C, PCI_Config, 0x60, 0x04)

                /* The CMOS RTC: its 8 ports and IRQ 8, as QEMU's DSDT has it */
                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x08)
                        IRQNoFlags () {8}
                    })
                }
                /* the i8042's keyboard and mouse ports (Linux finds the controller by them) */
                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }
                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_STA, 0x0F)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }
            }

            /*
             * ACPI PCI hotplug as QEMU's pc DSDT has it (hw/acpi/pcihp.c): PCIU/PCID at 0xAE00
             * say which slots got a device or must eject one, B0EJ at 0xAE08 ejects, BNUM at 0xAE10
             * selects the bus (0: the only one). GPE 1 runs \_GPE._E01 -> PCNT, which notifies each
             * slot's object (1: device check, 3: eject request); a slot's _EJ0 writes its bit to
             * B0EJ. Slots 2-31 carry their numbers (_SUN, lspci's "Physical Slot").
             */
            OperationRegion (PCST, SystemIO, 0xAE00, 0x08)
            Field (PCST, DWordAcc, NoLock, WriteAsZeros)
            {
                PCIU,   32,
                PCID,   32
            }
            OperationRegion (SEJ, SystemIO, 0xAE08, 0x04)
            Field (SEJ, DWordAcc, NoLock, WriteAsZeros)
            {
                B0EJ,   32
            }
            OperationRegion (BNMR, SystemIO, 0xAE10, 0x08)
            Field (BNMR, DWordAcc, NoLock, WriteAsZeros)
            {
                BNUM,   32,
                PIDX,   32
            }
            Mutex (BLCK, 0x00)
            Method (PCEJ, 2, NotSerialized)
            {
                Acquire (BLCK, 0xFFFF)
                BNUM = Arg0
                B0EJ = (One << Arg1)
                Release (BLCK)
                Return (Zero)
            }
            Name (BSEL, Zero)
            Device (S10)
            {
                Name (_SUN, 0x02)
                Name (_ADR, 0x00020000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S18)
            {
                Name (_SUN, 0x03)
                Name (_ADR, 0x00030000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S20)
            {
                Name (_SUN, 0x04)
                Name (_ADR, 0x00040000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S28)
            {
                Name (_SUN, 0x05)
                Name (_ADR, 0x00050000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S30)
            {
                Name (_SUN, 0x06)
                Name (_ADR, 0x00060000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S38)
            {
                Name (_SUN, 0x07)
                Name (_ADR, 0x00070000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S40)
            {
                Name (_SUN, 0x08)
                Name (_ADR, 0x00080000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S48)
            {
                Name (_SUN, 0x09)
                Name (_ADR, 0x00090000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S50)
            {
                Name (_SUN, 0x0A)
                Name (_ADR, 0x000A0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S58)
            {
                Name (_SUN, 0x0B)
                Name (_ADR, 0x000B0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S60)
            {
                Name (_SUN, 0x0C)
                Name (_ADR, 0x000C0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S68)
            {
                Name (_SUN, 0x0D)
                Name (_ADR, 0x000D0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S70)
            {
                Name (_SUN, 0x0E)
                Name (_ADR, 0x000E0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S78)
            {
                Name (_SUN, 0x0F)
                Name (_ADR, 0x000F0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S80)
            {
                Name (_SUN, 0x10)
                Name (_ADR, 0x00100000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S88)
            {
                Name (_SUN, 0x11)
                Name (_ADR, 0x00110000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S90)
            {
                Name (_SUN, 0x12)
                Name (_ADR, 0x00120000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (S98)
            {
                Name (_SUN, 0x13)
                Name (_ADR, 0x00130000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SA0)
            {
                Name (_SUN, 0x14)
                Name (_ADR, 0x00140000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SA8)
            {
                Name (_SUN, 0x15)
                Name (_ADR, 0x00150000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SB0)
            {
                Name (_SUN, 0x16)
                Name (_ADR, 0x00160000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SB8)
            {
                Name (_SUN, 0x17)
                Name (_ADR, 0x00170000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SC0)
            {
                Name (_SUN, 0x18)
                Name (_ADR, 0x00180000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SC8)
            {
                Name (_SUN, 0x19)
                Name (_ADR, 0x00190000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SD0)
            {
                Name (_SUN, 0x1A)
                Name (_ADR, 0x001A0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SD8)
            {
                Name (_SUN, 0x1B)
                Name (_ADR, 0x001B0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SE0)
            {
                Name (_SUN, 0x1C)
                Name (_ADR, 0x001C0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SE8)
            {
                Name (_SUN, 0x1D)
                Name (_ADR, 0x001D0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SF0)
            {
                Name (_SUN, 0x1E)
                Name (_ADR, 0x001E0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Device (SF8)
            {
                Name (_SUN, 0x1F)
                Name (_ADR, 0x001F0000)
                Method (_EJ0, 1, NotSerialized)
                {
                    PCEJ (BSEL, _SUN)
                }
            }
            Method (DVNT, 2, NotSerialized)
            {
                If ((Arg0 & 0x00000004))
                {
                    Notify (S10, Arg1)
                }
                If ((Arg0 & 0x00000008))
                {
                    Notify (S18, Arg1)
                }
                If ((Arg0 & 0x00000010))
                {
                    Notify (S20, Arg1)
                }
                If ((Arg0 & 0x00000020))
                {
                    Notify (S28, Arg1)
                }
                If ((Arg0 & 0x00000040))
                {
                    Notify (S30, Arg1)
                }
                If ((Arg0 & 0x00000080))
                {
                    Notify (S38, Arg1)
                }
                If ((Arg0 & 0x00000100))
                {
                    Notify (S40, Arg1)
                }
                If ((Arg0 & 0x00000200))
                {
                    Notify (S48, Arg1)
                }
                If ((Arg0 & 0x00000400))
                {
                    Notify (S50, Arg1)
                }
                If ((Arg0 & 0x00000800))
                {
                    Notify (S58, Arg1)
                }
                If ((Arg0 & 0x00001000))
                {
                    Notify (S60, Arg1)
                }
                If ((Arg0 & 0x00002000))
                {
                    Notify (S68, Arg1)
                }
                If ((Arg0 & 0x00004000))
                {
                    Notify (S70, Arg1)
                }
                If ((Arg0 & 0x00008000))
                {
                    Notify (S78, Arg1)
                }
                If ((Arg0 & 0x00010000))
                {
                    Notify (S80, Arg1)
                }
                If ((Arg0 & 0x00020000))
                {
                    Notify (S88, Arg1)
                }
                If ((Arg0 & 0x00040000))
                {
                    Notify (S90, Arg1)
                }
                If ((Arg0 & 0x00080000))
                {
                    Notify (S98, Arg1)
                }
                If ((Arg0 & 0x00100000))
                {
                    Notify (SA0, Arg1)
                }
                If ((Arg0 & 0x00200000))
                {
                    Notify (SA8, Arg1)
                }
                If ((Arg0 & 0x00400000))
                {
                    Notify (SB0, Arg1)
                }
                If ((Arg0 & 0x00800000))
                {
                    Notify (SB8, Arg1)
                }
                If ((Arg0 & 0x01000000))
                {
                    Notify (SC0, Arg1)
                }
                If ((Arg0 & 0x02000000))
                {
                    Notify (SC8, Arg1)
                }
                If ((Arg0 & 0x04000000))
                {
                    Notify (SD0, Arg1)
                }
                If ((Arg0 & 0x08000000))
                {
                    Notify (SD8, Arg1)
                }
                If ((Arg0 & 0x10000000))
                {
                    Notify (SE0, Arg1)
                }
                If ((Arg0 & 0x20000000))
                {
                    Notify (SE8, Arg1)
                }
                If ((Arg0 & 0x40000000))
                {
                    Notify (SF0, Arg1)
                }
                If ((Arg0 & 0x80000000))
                {
                    Notify (SF8, Arg1)
                }
            }
            Method (PCNT, 0, NotSerialized)
            {
                BNUM = Zero
                DVNT (PCIU, One)
                DVNT (PCID, 0x03)
            }

            /* QEMU's fw_cfg, as its DSDT lists it (selector, data and DMA ports) */
            Device (FWCF)
            {
                Name (_HID, "QEMU0002")
                Name (_STA, 0x0B)
                Name (_CRS, ResourceTemplate ()
                {
                    IO (Decode16, 0x0510, 0x0510, 0x01, 0x0C)
                })
            }
        }

        Field (PCI0.ISA.P40C, ByteAcc, NoLock, Preserve)
        {
            PRQ0,   8,
            PRQ1,   8,
            PRQ2,   8,
            PRQ3,   8
        }

        /* A link's status from its route register: bit 7 set = disabled */
        Method (IQST, 1, NotSerialized)
        {
            If ((0x80 & Arg0))
            {
                Return (0x09)
            }
            Return (0x0B)
        }

        /* A link's current resource: the routed IRQ (none when disabled) */
        Method (IQCR, 1, Serialized)
        {
            Name (PRR0, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, _Y00)
                {
                    0x00000000,
                }
            })
            CreateDWordField (PRR0, \_SB.IQCR._Y00._INT, PRRI)
            If ((Arg0 < 0x80))
            {
                PRRI = Arg0
            }
            Return (PRR0)
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, Zero)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )
                {
                    0x00000005,
                    0x0000000A,
                    0x0000000B,
                }
            })
            Method (_STA, 0, NotSerialized)
            {
                Return (IQST (PRQ0))
            }
            Method (_DIS, 0, NotSerialized)
            {
                PRQ0 |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (IQCR (PRQ0))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ0 = PRRI
            }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )
                {
                    0x00000005,
                    0x0000000A,
                    0x0000000B,
                }
            })
            Method (_STA, 0, NotSerialized)
            {
                Return (IQST (PRQ1))
            }
            Method (_DIS, 0, NotSerialized)
            {
                PRQ1 |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (IQCR (PRQ1))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ1 = PRRI
            }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )
                {
                    0x00000005,
                    0x0000000A,
                    0x0000000B,
                }
            })
            Method (_STA, 0, NotSerialized)
            {
                Return (IQST (PRQ2))
            }
            Method (_DIS, 0, NotSerialized)
            {
                PRQ2 |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (IQCR (PRQ2))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ2 = PRRI
            }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )
                {
                    0x00000005,
                    0x0000000A,
                    0x0000000B,
                }
            })
            Method (_STA, 0, NotSerialized)
            {
                Return (IQST (PRQ3))
            }
            Method (_DIS, 0, NotSerialized)
            {
                PRQ3 |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (IQCR (PRQ3))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                PRQ3 = PRRI
            }
        }

        /* The SCI's link: IRQ 9, fixed */
        Device (LNKS)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x04)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )
                {
                    0x00000009,
                }
            })
            Method (_STA, 0, NotSerialized)
            {
                Return (0x0B)
            }
            Method (_DIS, 0, NotSerialized)
            {
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (_PRS)
            }
            Method (_SRS, 1, NotSerialized)
            {
            }
        }
    }
}
