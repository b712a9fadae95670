/*
 * Vireo DSDT (compiled by iasl into build/generated/dsdt.hex, see Makefile).
 *
 * Contents:
 *  \_S5      soft-off sleep type. SLP_TYP 5 must match ACPI_S5_SLP_TYP in
 *            include/vireo/acpi.h: hw/acpi/pm.c powers the machine off when the guest
 *            writes SLP_EN with this SLP_TYP to PM1a_CNT. No other sleep state exists.
 *  \_SB.PCI0 the PCI root bridge (bus 0, configuration mechanism #1 at 0xCF8/0xCFC).
 *            Its _PRT hard-wires INTx to GSIs 10 and 11 the way QEMU's i440fx does with
 *            its default link setup: slot S pin P (0 = INTA) uses link (S + P - 1) mod 4,
 *            links A and B are GSI 10, links C and D are GSI 11 (see acpi_pci_intx_gsi()).
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

            /* Legacy INTx routing: { address (slot << 16 | 0xFFFF), pin, source, GSI } */
            Name (_PRT, Package (0x80)
            {
            Package (0x04) { 0x0000FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0000FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0000FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0000FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0001FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0001FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0001FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0001FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0002FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0002FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0002FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0002FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0003FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0003FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0003FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0003FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0004FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0004FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0004FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0004FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0005FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0005FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0005FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0005FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0006FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0006FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0006FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0006FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0007FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0007FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0007FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0007FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0008FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0008FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0008FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0008FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0009FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0009FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0009FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0009FFFF, 3, Zero, 11 },
            Package (0x04) { 0x000AFFFF, 0, Zero, 10 },
            Package (0x04) { 0x000AFFFF, 1, Zero, 11 },
            Package (0x04) { 0x000AFFFF, 2, Zero, 11 },
            Package (0x04) { 0x000AFFFF, 3, Zero, 10 },
            Package (0x04) { 0x000BFFFF, 0, Zero, 11 },
            Package (0x04) { 0x000BFFFF, 1, Zero, 11 },
            Package (0x04) { 0x000BFFFF, 2, Zero, 10 },
            Package (0x04) { 0x000BFFFF, 3, Zero, 10 },
            Package (0x04) { 0x000CFFFF, 0, Zero, 11 },
            Package (0x04) { 0x000CFFFF, 1, Zero, 10 },
            Package (0x04) { 0x000CFFFF, 2, Zero, 10 },
            Package (0x04) { 0x000CFFFF, 3, Zero, 11 },
            Package (0x04) { 0x000DFFFF, 0, Zero, 10 },
            Package (0x04) { 0x000DFFFF, 1, Zero, 10 },
            Package (0x04) { 0x000DFFFF, 2, Zero, 11 },
            Package (0x04) { 0x000DFFFF, 3, Zero, 11 },
            Package (0x04) { 0x000EFFFF, 0, Zero, 10 },
            Package (0x04) { 0x000EFFFF, 1, Zero, 11 },
            Package (0x04) { 0x000EFFFF, 2, Zero, 11 },
            Package (0x04) { 0x000EFFFF, 3, Zero, 10 },
            Package (0x04) { 0x000FFFFF, 0, Zero, 11 },
            Package (0x04) { 0x000FFFFF, 1, Zero, 11 },
            Package (0x04) { 0x000FFFFF, 2, Zero, 10 },
            Package (0x04) { 0x000FFFFF, 3, Zero, 10 },
            Package (0x04) { 0x0010FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0010FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0010FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0010FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0011FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0011FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0011FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0011FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0012FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0012FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0012FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0012FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0013FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0013FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0013FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0013FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0014FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0014FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0014FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0014FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0015FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0015FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0015FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0015FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0016FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0016FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0016FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0016FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0017FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0017FFFF, 1, Zero, 11 },
            Package (0x04) { 0x0017FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0017FFFF, 3, Zero, 10 },
            Package (0x04) { 0x0018FFFF, 0, Zero, 11 },
            Package (0x04) { 0x0018FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0018FFFF, 2, Zero, 10 },
            Package (0x04) { 0x0018FFFF, 3, Zero, 11 },
            Package (0x04) { 0x0019FFFF, 0, Zero, 10 },
            Package (0x04) { 0x0019FFFF, 1, Zero, 10 },
            Package (0x04) { 0x0019FFFF, 2, Zero, 11 },
            Package (0x04) { 0x0019FFFF, 3, Zero, 11 },
            Package (0x04) { 0x001AFFFF, 0, Zero, 10 },
            Package (0x04) { 0x001AFFFF, 1, Zero, 11 },
            Package (0x04) { 0x001AFFFF, 2, Zero, 11 },
            Package (0x04) { 0x001AFFFF, 3, Zero, 10 },
            Package (0x04) { 0x001BFFFF, 0, Zero, 11 },
            Package (0x04) { 0x001BFFFF, 1, Zero, 11 },
            Package (0x04) { 0x001BFFFF, 2, Zero, 10 },
            Package (0x04) { 0x001BFFFF, 3, Zero, 10 },
            Package (0x04) { 0x001CFFFF, 0, Zero, 11 },
            Package (0x04) { 0x001CFFFF, 1, Zero, 10 },
            Package (0x04) { 0x001CFFFF, 2, Zero, 10 },
            Package (0x04) { 0x001CFFFF, 3, Zero, 11 },
            Package (0x04) { 0x001DFFFF, 0, Zero, 10 },
            Package (0x04) { 0x001DFFFF, 1, Zero, 10 },
            Package (0x04) { 0x001DFFFF, 2, Zero, 11 },
            Package (0x04) { 0x001DFFFF, 3, Zero, 11 },
            Package (0x04) { 0x001EFFFF, 0, Zero, 10 },
            Package (0x04) { 0x001EFFFF, 1, Zero, 11 },
            Package (0x04) { 0x001EFFFF, 2, Zero, 11 },
            Package (0x04) { 0x001EFFFF, 3, Zero, 10 },
            Package (0x04) { 0x001FFFFF, 0, Zero, 11 },
            Package (0x04) { 0x001FFFFF, 1, Zero, 11 },
            Package (0x04) { 0x001FFFFF, 2, Zero, 10 },
            Package (0x04) { 0x001FFFFF, 3, Zero, 10 }
            })
        }
    }
}
