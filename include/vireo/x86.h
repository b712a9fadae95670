/* x86 PC machine pieces shared by the loader, the machine and the accelerators. */
#ifndef VIREO_X86_H
#define VIREO_X86_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/config.h"

typedef struct X86BootState X86BootState;

/* Where the loader wants the boot CPU to start (64-bit Linux entry). */
struct X86BootState {
    uint64_t rip, rsi, rsp, rflags;
    uint64_t cr0, cr3, cr4, efer;
    uint64_t gdt_base;
    uint16_t gdt_limit;
    uint16_t cs, ds; /* selectors; flat 64-bit code and data */
    /*
     * Flat 32-bit protected mode instead of 64-bit (Multiboot): cs is a 32-bit code selector,
     * paging off (cr0 = PE|ET, cr3/cr4/efer 0), and rax/rbx hold the loader's registers.
     */
    bool protected32;
    uint64_t rax, rbx;
    /* Firmware boot: the BSP starts at the reset vector (F000:FFF0) in power-on state; the
     * other fields are unused. */
    bool reset_vector;
};

/* PC memory map */
#define PC_LOWMEM_LIMIT   0xC0000000ULL /* RAM below 3 GiB, then the 32-bit PCI hole */
#define PC_BIOS_AREA      0xE0000ULL    /* ACPI tables live in [0xE0000, 0x100000) */
#define PC_BIOS_AREA_SIZE 0x20000ULL
#define PC_IOAPIC_BASE    0xFEC00000ULL
#define PC_LAPIC_BASE     0xFEE00000ULL

/* CPU topology: APIC ID of vCPU `index` under cfg->smp (sockets/dies/cores/threads). */
uint32_t x86_apic_id(const SmpConfig *smp, unsigned index);
unsigned x86_topo_bits(unsigned count);

/*
 * The machine's CPUs, computed once from -smp and handed to everything that names a CPU: the
 * MADT, both accelerators, the userspace irqchip, fw_cfg. Index i (0..possible-1) has APIC ID
 * apic_id[i] (thread | core | die | socket bit fields, so a topology that is not a power of two
 * leaves gaps: -smp 6,sockets=2,cores=3 gives 0,1,2,4,5,6); indexes below `present` exist at
 * start, the others (up to maxcpus) are listed disabled in the MADT, as QEMU lists them.
 */
typedef struct X86CpuList {
    unsigned present, possible;
    uint32_t *apic_id;
} X86CpuList;
/* fills list (free with x86_cpu_list_free); returns 0 */
int x86_cpu_list_init(X86CpuList *list, const SmpConfig *smp);
void x86_cpu_list_free(X86CpuList *list);
/* the highest APIC ID + 1 (QEMU's apic_id_limit: fw_cfg's FW_CFG_MAX_CPUS) */
uint32_t x86_cpu_list_id_limit(const X86CpuList *list);

/*
 * Load a Linux bzImage (with initrd and command line) into guest RAM and fill the boot state
 * for the 64-bit entry point. rsdp is the ACPI RSDP address passed in boot_params.
 * Returns 0, or -1 after error_report().
 */
int linux_boot_load(const VireoConfig *cfg, uint64_t rsdp, X86BootState *bs);

/*
 * hw/x86/multiboot.c: a Multiboot (v1) kernel, as QEMU loads one. multiboot_probe() says whether
 * the -kernel file has a Multiboot header in its first 8 KiB (and is no Linux bzImage).
 * multiboot_load() puts the image, its info block (EBX=0x9500), memory map and -initrd modules
 * in guest RAM and fills bs for the flat 32-bit entry (EAX=0x2BADB002); with fw non-NULL it adds
 * QEMU's fw_cfg kernel items. Returns 0, or -1 after error_report().
 */
typedef struct FWCfgState FWCfgState;
bool multiboot_probe(const char *path);
int multiboot_load(const VireoConfig *cfg, X86BootState *bs, FWCfgState *fw);

/*
 * hw/x86/pc-fw-cfg.c: -boot and bootindex= for the firmware. pc_boot_config() checks -boot as
 * QEMU's pc does (0, or -1 after QEMU's message) and sets the CMOS boot order (once= if given),
 * the boot menu and the wait files; pc_boot_order_file() writes "bootorder" from the devices'
 * bootindex (after they exist, and again at each reset, where pc_boot_order_restore() puts
 * order= back in CMOS after a once=).
 */
int pc_boot_config(FWCfgState *fw, const VireoConfig *cfg);
void pc_boot_order_file(FWCfgState *fw, const VireoConfig *cfg);
void pc_boot_order_restore(const VireoConfig *cfg);

#endif
