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
                /* The 32-bit PCI hole: RAM stops at 3 GiB, the IOAPIC starts at 0xFEC00000. */
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000,         // Granularity
                    0xC0000000,         // Range Minimum
                    0xFEBFFFFF,         // Range Maximum
                    0x00000000,         // Translation Offset
                    0x3EC00000)         // Length
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
            }

            /* Slots 2-31: their numbers (lspci's "Physical Slot"), as QEMU's hotplug slots */
            Device (S10)
            {
                Name (_ADR, 0x00020000)
                Name (_SUN, 0x02)
            }
            Device (S18)
            {
                Name (_ADR, 0x00030000)
                Name (_SUN, 0x03)
            }
            Device (S20)
            {
                Name (_ADR, 0x00040000)
                Name (_SUN, 0x04)
            }
            Device (S28)
            {
                Name (_ADR, 0x00050000)
                Name (_SUN, 0x05)
            }
            Device (S30)
            {
                Name (_ADR, 0x00060000)
                Name (_SUN, 0x06)
            }
            Device (S38)
            {
                Name (_ADR, 0x00070000)
                Name (_SUN, 0x07)
            }
            Device (S40)
            {
                Name (_ADR, 0x00080000)
                Name (_SUN, 0x08)
            }
            Device (S48)
            {
                Name (_ADR, 0x00090000)
                Name (_SUN, 0x09)
            }
            Device (S50)
            {
                Name (_ADR, 0x000A0000)
                Name (_SUN, 0x0A)
            }
            Device (S58)
            {
                Name (_ADR, 0x000B0000)
                Name (_SUN, 0x0B)
            }
            Device (S60)
            {
                Name (_ADR, 0x000C0000)
                Name (_SUN, 0x0C)
            }
            Device (S68)
            {
                Name (_ADR, 0x000D0000)
                Name (_SUN, 0x0D)
            }
            Device (S70)
            {
                Name (_ADR, 0x000E0000)
                Name (_SUN, 0x0E)
            }
            Device (S78)
            {
                Name (_ADR, 0x000F0000)
                Name (_SUN, 0x0F)
            }
            Device (S80)
            {
                Name (_ADR, 0x00100000)
                Name (_SUN, 0x10)
            }
            Device (S88)
            {
                Name (_ADR, 0x00110000)
                Name (_SUN, 0x11)
            }
            Device (S90)
            {
                Name (_ADR, 0x00120000)
                Name (_SUN, 0x12)
            }
            Device (S98)
            {
                Name (_ADR, 0x00130000)
                Name (_SUN, 0x13)
            }
            Device (SA0)
            {
                Name (_ADR, 0x00140000)
                Name (_SUN, 0x14)
            }
            Device (SA8)
            {
                Name (_ADR, 0x00150000)
                Name (_SUN, 0x15)
            }
            Device (SB0)
            {
                Name (_ADR, 0x00160000)
                Name (_SUN, 0x16)
            }
            Device (SB8)
            {
                Name (_ADR, 0x00170000)
                Name (_SUN, 0x17)
            }
            Device (SC0)
            {
                Name (_ADR, 0x00180000)
                Name (_SUN, 0x18)
            }
            Device (SC8)
            {
                Name (_ADR, 0x00190000)
                Name (_SUN, 0x19)
            }
            Device (SD0)
            {
                Name (_ADR, 0x001A0000)
                Name (_SUN, 0x1A)
            }
            Device (SD8)
            {
                Name (_ADR, 0x001B0000)
                Name (_SUN, 0x1B)
            }
            Device (SE0)
            {
                Name (_ADR, 0x001C0000)
                Name (_SUN, 0x1C)
            }
            Device (SE8)
            {
                Name (_ADR, 0x001D0000)
                Name (_SUN, 0x1D)
            }
            Device (SF0)
            {
                Name (_ADR, 0x001E0000)
                Name (_SUN, 0x1E)
            }
            Device (SF8)
            {
                Name (_ADR, 0x001F0000)
                Name (_SUN, 0x1F)
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
