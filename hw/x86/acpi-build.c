/*
 * ACPI tables for the PC machine, written from the ACPI specification (6.x; the FADT is a
 * revision 6 one). Layout inside [gpa, gpa+size), each table on its own boundary:
 *
 *   RSDP (36 bytes, ACPI 2.0, 16-byte aligned; the first thing, so a legacy scan of
 *         0xE0000-0xFFFFF finds it quickly)
 *   FACS (64 bytes, 64-byte aligned)
 *   DSDT (compiled from hw/x86/dsdt.dsl by iasl)
 *   FADT (276 bytes, revision 6: ACPI 6.0)
 *   MADT (44, a Local APIC entry (8) per possible CPU, or a Local x2APIC one (16) for an APIC
 *         ID above 254, the IOAPIC (12), the SCI override (10), the LAPIC NMI (6, or 12 for the
 *         x2APIC form when any CPU needs it))
 *   RSDT, XSDT (entries: FADT, MADT)
 *
 * Interrupt model described to the guest (matches KVM's in-kernel irqchip and its default
 * GSI routing, where GSI n drives PIC pin n (n < 16) and IOAPIC pin n):
 *   - one IOAPIC, ID 0 (the in-kernel IOAPIC's reset ID; x86-64 Linux only checks the
 *     MADT IDs against each other), at 0xFEC00000, 24 pins from GSI 0;
 *   - ISA IRQ 0 on GSI 2 (an interrupt source override, conforming), as QEMU's MADT: the timer
 *     (PIT, or HPET in legacy mode) drives ISA IRQ 0, which reaches PIC pin 0 and IOAPIC pin 2
 *     (KVM: Vireo's GSI routes, accel/kvm/kvm-memory.c, are QEMU's; TCG: hw/intc/irqchip.c);
 *     the other ISA IRQs are GSIs 1:1;
 *   - IRQs 5, 9 (the SCI), 10 and 11, the PCI-capable ones, overridden to level-triggered,
 *     active-high, as QEMU's pci_irq_mask 0x0e20 gives them;
 *   - LAPIC NMI on LINT1 of every processor;
 *   - one entry per possible CPU (-smp maxcpus), as QEMU 7.2 writes them: ACPI processor UID =
 *     CPU index, APIC ID from the topology (X86CpuList, the IDs KVM, the translator and the
 *     userspace irqchip use), enabled for the CPUs present at start and disabled for the rest.
 */
#include <stdbool.h>
#include <string.h>
#include "vireo/acpi.h"
#include "vireo/memory.h"
#include "vireo/x86.h"

/* build/generated/dsdt.hex: iasl names the array AmlCode (old) or <file>_aml_code (new). */
#define AmlCode       vireo_dsdt_aml
#define dsdt_aml_code vireo_dsdt_aml
#include "dsdt.hex"
#undef AmlCode
#undef dsdt_aml_code

#define ACPI_OEM_ID       "VIREO "
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID   "VIRE"
#define ACPI_CREATOR_REV  1

#define ACPI_HDR_LEN 36
#define RSDP_LEN     36
#define FACS_LEN     64
#define FADT_LEN     276
#define FADT_REV     6

#define LAPIC_BASE  0xfee00000u
#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_ID   0

/* FADT flags */
#define FADT_WBINVD        (1u << 0)
#define FADT_PROC_C1       (1u << 2)
#define FADT_SLP_BUTTON    (1u << 5) /* no fixed-feature sleep button */
#define FADT_FIX_RTC       (1u << 6) /* no RTC_STS/RTC_EN in PM1 */
#define FADT_RESET_REG_SUP (1u << 10)
/* IAPC_BOOT_ARCH */
#define BOOT_ARCH_LEGACY_DEVICES (1u << 0)

/* Generic Address Structure address spaces and access sizes */
#define GAS_SYSTEM_IO 1
#define GAS_BYTE      1
#define GAS_WORD      2
#define GAS_DWORD     3

typedef struct Builder {
    uint8_t *host;
    uint64_t gpa, size, next;
    bool overflow;
} Builder;

static void put8(uint8_t *p, unsigned off, uint8_t v)
{
    p[off] = v;
}

static void put16(uint8_t *p, unsigned off, uint16_t v)
{
    p[off] = v;
    p[off + 1] = v >> 8;
}

static void put32(uint8_t *p, unsigned off, uint32_t v)
{
    put16(p, off, v);
    put16(p, off + 2, v >> 16);
}

static void put64(uint8_t *p, unsigned off, uint64_t v)
{
    put32(p, off, v);
    put32(p, off + 4, v >> 32);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += p[i];
    }
    return (uint8_t)-sum;
}

/* Reserve len bytes at a guest address aligned to align; returns the offset into host. */
static uint64_t alloc(Builder *b, uint64_t len, uint64_t align)
{
    uint64_t addr = (b->gpa + b->next + align - 1) & ~(align - 1);
    uint64_t off = addr - b->gpa;
    if (off > b->size || len > b->size - off) {
        b->overflow = true;
        return 0;
    }
    b->next = off + len;
    return off;
}

/* A Generic Address Structure (12 bytes). */
static void put_gas(uint8_t *p, unsigned off, uint8_t space, uint8_t bit_width, uint8_t access_size,
                    uint64_t addr)
{
    put8(p, off, space);
    put8(p, off + 1, bit_width);
    put8(p, off + 2, 0); /* bit offset */
    put8(p, off + 3, access_size);
    put64(p, off + 4, addr);
}

/* The common 36-byte header; the checksum is filled in by finish_table(). */
static void put_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    char table_id[9];
    memcpy(t, sig, 4);
    put32(t, 4, len);
    put8(t, 8, rev);
    memcpy(t + 10, ACPI_OEM_ID, 6);
    memcpy(table_id, "VIREO", 5);
    memcpy(table_id + 5, sig, 3); /* "VIREOFAC", "VIREOAPI", ... */
    memcpy(t + 16, table_id, 8);
    put32(t, 24, ACPI_OEM_REVISION);
    memcpy(t + 28, ACPI_CREATOR_ID, 4);
    put32(t, 32, ACPI_CREATOR_REV);
}

static void finish_table(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = checksum(t, len);
}

static void build_facs(uint8_t *t)
{
    memcpy(t, "FACS", 4);
    put32(t, 4, FACS_LEN);
    put32(t, 8, 0);  /* hardware signature */
    put32(t, 12, 0); /* firmware waking vector: no S3 */
    put32(t, 16, 0); /* global lock */
    put32(t, 20, 0); /* flags: no S4BIOS, no 64-bit wake */
    put64(t, 24, 0); /* X firmware waking vector */
    put8(t, 32, 2);  /* version */
}

static void build_fadt(uint8_t *t, uint32_t facs, uint32_t dsdt)
{
    put_header(t, "FACP", FADT_LEN, FADT_REV);
    /* 32-bit FACS pointer only: the spec wants X_FIRMWARE_CTRL zero when it is used. */
    put32(t, 36, facs);
    put32(t, 40, dsdt);
    put8(t, 45, 0); /* preferred PM profile: unspecified */
    put16(t, 46, ACPI_SCI_IRQ);
    put32(t, 48, 0); /* SMI_CMD: none, so the OS sees ACPI mode as already enabled */
    put32(t, 56, ACPI_PM1_EVT_BLK);
    put32(t, 64, ACPI_PM1_CNT_BLK);
    put32(t, 76, ACPI_PM_TMR_BLK);
    put32(t, 80, ACPI_GPE0_BLK);
    put8(t, 88, 4);       /* PM1_EVT_LEN */
    put8(t, 89, 2);       /* PM1_CNT_LEN */
    put8(t, 91, 4);       /* PM_TMR_LEN */
    put8(t, 92, ACPI_GPE0_LEN);
    put16(t, 96, 0x0fff); /* P_LVL2_LAT > 100: no C2 */
    put16(t, 98, 0x0fff); /* P_LVL3_LAT > 1000: no C3 */
    put16(t, 109, BOOT_ARCH_LEGACY_DEVICES);
    put32(t, 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_RESET_REG_SUP);
    put_gas(t, 116, GAS_SYSTEM_IO, 8, GAS_BYTE, ACPI_RESET_PORT);
    put8(t, 128, ACPI_RESET_VALUE);
    put64(t, 140, dsdt); /* X_DSDT, equal to the 32-bit one */
    put_gas(t, 148, GAS_SYSTEM_IO, 32, GAS_WORD, ACPI_PM1_EVT_BLK);
    put_gas(t, 172, GAS_SYSTEM_IO, 16, GAS_WORD, ACPI_PM1_CNT_BLK);
    put_gas(t, 208, GAS_SYSTEM_IO, 32, GAS_DWORD, ACPI_PM_TMR_BLK);
    put_gas(t, 220, GAS_SYSTEM_IO, 8 * ACPI_GPE0_LEN, GAS_BYTE, ACPI_GPE0_BLK);
    finish_table(t, FADT_LEN);
}

static bool x2apic_needed(const X86CpuList *cpus)
{
    for (unsigned i = 0; i < cpus->possible; i++) {
        if (cpus->apic_id[i] >= 255) {
            return true;
        }
    }
    return false;
}

static uint32_t madt_len(const X86CpuList *cpus)
{
    uint32_t len = ACPI_HDR_LEN + 8 + 12 + 10 * 5 + (x2apic_needed(cpus) ? 12 : 6);
    for (unsigned i = 0; i < cpus->possible; i++) {
        len += cpus->apic_id[i] < 255 ? 8 : 16;
    }
    return len;
}

static void build_madt(uint8_t *t, const X86CpuList *cpus)
{
    uint32_t len = madt_len(cpus);
    put_header(t, "APIC", len, 3);
    put32(t, 36, LAPIC_BASE);
    put32(t, 40, 1); /* PCAT_COMPAT: dual 8259s present */
    unsigned off = 44;
    for (unsigned i = 0; i < cpus->possible; i++) {
        uint32_t id = cpus->apic_id[i], enabled = i < cpus->present;
        if (id < 255) { /* Processor Local APIC */
            put8(t, off, 0);
            put8(t, off + 1, 8);
            put8(t, off + 2, i);  /* ACPI processor UID */
            put8(t, off + 3, id); /* APIC ID */
            put32(t, off + 4, enabled);
            off += 8;
        } else { /* Processor Local x2APIC */
            put8(t, off, 9);
            put8(t, off + 1, 16);
            put16(t, off + 2, 0);
            put32(t, off + 4, id);
            put32(t, off + 8, enabled);
            put32(t, off + 12, i); /* ACPI processor UID */
            off += 16;
        }
    }
    put8(t, off, 1); /* I/O APIC */
    put8(t, off + 1, 12);
    put8(t, off + 2, IOAPIC_ID);
    put8(t, off + 3, 0);
    put32(t, off + 4, IOAPIC_BASE);
    put32(t, off + 8, 0); /* GSI base */
    off += 12;
    /* Interrupt Source Overrides: IRQ 0 on GSI 2, then the PCI-capable IRQs as level/high */
    static const uint8_t iso_irq[5] = {0, 5, ACPI_SCI_IRQ, 10, 11};
    for (unsigned i = 0; i < 5; i++) {
        put8(t, off, 2);
        put8(t, off + 1, 10);
        put8(t, off + 2, 0); /* ISA */
        put8(t, off + 3, iso_irq[i]);
        put32(t, off + 4, iso_irq[i] ? iso_irq[i] : 2);
        put16(t, off + 8, iso_irq[i] ? 0x1 | 0x3 << 2 : 0); /* level/high, or conforming */
        off += 10;
    }
    if (x2apic_needed(cpus)) {
        put8(t, off, 0xa); /* Local x2APIC NMI */
        put8(t, off + 1, 12);
        put16(t, off + 2, 0);          /* flags: conforms to the bus */
        put32(t, off + 4, 0xffffffff); /* all processors */
        put8(t, off + 8, 1);           /* LINT1 */
        off += 12;
    } else {
        put8(t, off, 4); /* Local APIC NMI */
        put8(t, off + 1, 6);
        put8(t, off + 2, 0xff); /* all processors */
        put16(t, off + 3, 0);   /* flags: conforms to the bus */
        put8(t, off + 5, 1);    /* LINT1 */
        off += 6;
    }
    finish_table(t, len);
}

/* Find `pat` in [p, p+len): offset or -1. */
static long find_bytes(const uint8_t *p, size_t len, const uint8_t *pat, size_t plen)
{
    for (size_t i = 0; i + plen <= len; i++) {
        if (!memcmp(p + i, pat, plen)) {
            return (long)i;
        }
    }
    return -1;
}

/*
 * The PCI windows of PCI0's _CRS for this machine's RAM, as QEMU computes them: 32-bit from the end
 * of RAM below 4 GiB to 0xFEC00000, 64-bit 2 GiB from the first GiB boundary at or above the end of
 * RAM above 4 GiB (4 GiB without any). The DSDT's placeholders are patched in place (the AML
 * descriptors keep their sizes: the checksum is computed afterwards).
 */
static void patch_pci_windows(uint8_t *dsdt, uint32_t len)
{
    uint64_t low_end = guest_ram.n ? guest_ram.blocks[0].gpa + guest_ram.blocks[0].size : 0;
    uint64_t high_end = 1ull << 32;
    for (unsigned i = 1; i < guest_ram.n; i++) {
        uint64_t e = guest_ram.blocks[i].gpa + guest_ram.blocks[i].size;
        high_end = e > high_end ? e : high_end;
    }
    if (low_end) {
        static const uint8_t pat32[8] = {0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe};
        long at = find_bytes(dsdt, len, pat32, sizeof(pat32));
        if (at >= 0 && low_end < 0xfec00000ull) {
            put32(dsdt, (unsigned)at, (uint32_t)low_end);
            put32(dsdt, (unsigned)at + 12, (uint32_t)(0xfec00000ull - low_end));
        }
    }
    static const uint8_t pat64[16] = {0, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0};
    long at = find_bytes(dsdt, len, pat64, sizeof(pat64));
    if (at >= 0) {
        uint64_t start = (high_end + (1ull << 30) - 1) & ~((1ull << 30) - 1);
        put64(dsdt, (unsigned)at, start);
        put64(dsdt, (unsigned)at + 8, start + (2ull << 30) - 1);
        put64(dsdt, (unsigned)at + 24, 2ull << 30);
    }
}

/* The DSDT of the last build, for acpi_dsdt_slot_fixed(). */
static uint8_t *last_dsdt;
static uint32_t last_dsdt_len;

void acpi_dsdt_slot_fixed(int slot)
{
    /* Name (_SUN, slot): 08 '_SUN' 0A slot; renamed so that OSPM sees no slot number there,
     * as QEMU's DSDT describes a slot holding a device that cannot be unplugged. */
    static const uint8_t pat[5] = {0x08, '_', 'S', 'U', 'N'};
    if (!last_dsdt || slot < 2 || slot > 31) {
        return;
    }
    for (uint32_t i = ACPI_HDR_LEN; i + 7 <= last_dsdt_len; i++) {
        if (!memcmp(last_dsdt + i, pat, 5) && last_dsdt[i + 5] == 0x0a && last_dsdt[i + 6] == slot) {
            last_dsdt[i + 1] = 'X';
            /* and the slot's eject method that follows it: not a hotplug slot at all */
            for (uint32_t j = i + 7; j + 4 <= last_dsdt_len && j < i + 7 + 16; j++) {
                if (!memcmp(last_dsdt + j, "_EJ0", 4)) {
                    last_dsdt[j] = 'X';
                    break;
                }
            }
            finish_table(last_dsdt, last_dsdt_len);
            return;
        }
    }
}

uint64_t acpi_build_tables(void *host, uint64_t gpa, uint64_t size, const X86CpuList *cpus)
{
    if (!host || !cpus || cpus->present == 0 || cpus->possible > 288 || gpa + size < gpa ||
        gpa + size > (1ULL << 32)) {
        return 0;
    }
    Builder b = {.host = host, .gpa = gpa, .size = size};
    uint32_t dsdt_len = sizeof(vireo_dsdt_aml);
    unsigned ntables = 2; /* FADT, MADT */
    uint32_t rsdt_len = ACPI_HDR_LEN + 4 * ntables, xsdt_len = ACPI_HDR_LEN + 8 * ntables;

    uint64_t rsdp = alloc(&b, RSDP_LEN, 16);
    uint64_t facs = alloc(&b, FACS_LEN, 64);
    uint64_t dsdt = alloc(&b, dsdt_len, 16);
    uint64_t fadt = alloc(&b, FADT_LEN, 16);
    uint64_t madt = alloc(&b, madt_len(cpus), 16);
    uint64_t rsdt = alloc(&b, rsdt_len, 16);
    uint64_t xsdt = alloc(&b, xsdt_len, 16);
    if (b.overflow) {
        return 0;
    }
    uint8_t *h = host;
    memset(h, 0, size);

    build_facs(h + facs);
    memcpy(h + dsdt, vireo_dsdt_aml, dsdt_len);
    patch_pci_windows(h + dsdt, dsdt_len);
    finish_table(h + dsdt, dsdt_len);
    last_dsdt = h + dsdt;
    last_dsdt_len = dsdt_len;
    build_fadt(h + fadt, gpa + facs, gpa + dsdt);
    build_madt(h + madt, cpus);

    uint64_t entries[] = {gpa + fadt, gpa + madt};
    put_header(h + rsdt, "RSDT", rsdt_len, 1);
    put_header(h + xsdt, "XSDT", xsdt_len, 1);
    for (unsigned i = 0; i < ntables; i++) {
        put32(h + rsdt, ACPI_HDR_LEN + 4 * i, entries[i]);
        put64(h + xsdt, ACPI_HDR_LEN + 8 * i, entries[i]);
    }
    finish_table(h + rsdt, rsdt_len);
    finish_table(h + xsdt, xsdt_len);

    uint8_t *p = h + rsdp;
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, ACPI_OEM_ID, 6);
    put8(p, 15, 2); /* ACPI 2.0+ */
    put32(p, 16, gpa + rsdt);
    put32(p, 20, RSDP_LEN);
    put64(p, 24, gpa + xsdt);
    p[8] = checksum(p, 20);
    p[32] = checksum(p, RSDP_LEN);
    return gpa + rsdp;
}
