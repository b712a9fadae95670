/*
 * The PC machine ("pc", i440FX-like): RAM split around the 32-bit PCI hole, COM ports,
 * keyboard controller, CMOS RTC, PCI host bridge, ACPI PM block and tables, and direct
 * Linux boot. Under KVM the PIC, IOAPIC, LAPICs and PIT are the kernel's; with an accelerator
 * that has no in-kernel irqchip (TCG) the machine builds the userspace ones (hw/intc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/accel.h"
#include "vireo/acpi.h"
#include "vireo/devices.h"
#include "vireo/error.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/pc.h"
#include "vireo/x86-cpu.h"
#include "vireo/x86.h"

static const uint16_t com_base[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
static const unsigned com_irq[4] = {4, 3, 4, 3};
static SerialState *com[4];
static bool userspace_irqchip;
static FWCfgState *fw_cfg;

/* Port 0xF0, the PC's coprocessor-error latch: a write drops FERR#'s IRQ 13 and asserts IGNNE#
 * (QEMU's ioportF0). Reads float. */
static uint64_t port_f0_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque;
    (void)addr;
    return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
}

static void port_f0_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)val;
    (void)size;
    irq_set_level(13, 0);
    x86_fpu_set_ignne(true);
}

static const IOOps port_f0_ops = {.read = port_f0_read, .write = port_f0_write};

/* -device: the drivers the command line accepted (system/cmdline.c checked them). */
static void create_cli_devices(const VireoConfig *cfg)
{
    for (int i = 0; i < cfg->n_devices; i++) {
        if (!strcmp(cfg->devices[i].driver, "isa-debug-exit")) {
            isa_debug_exit_create(&cfg->devices[i]);
        }
    }
}

/* The machine's CPUs (x86.h): made once per machine start from -smp. */
static X86CpuList cpus;

/* PIC pair, IOAPIC, one LAPIC per vCPU, PIT: what KVM's irqchip would have provided. */
static int create_userspace_irqchip(void)
{
    int r = pc_irqchip_create(cpus.present, cpus.apic_id);
    userspace_irqchip = true;
    return r;
}

static const AccelOps *accel_ops_for(AccelType t)
{
    return t == ACCEL_KVM ? &kvm_accel_ops : &tcg_accel_ops;
}

int machine_select_accel(const VireoConfig *cfg)
{
    AccelType def = ACCEL_TCG;
    const AccelType *list = cfg->n_accels ? cfg->accels : &def;
    int n = cfg->n_accels ? cfg->n_accels : 1;
    for (int i = 0; i < n; i++) {
        const AccelOps *ops = accel_ops_for(list[i]);
        const char *why = NULL;
        if (ops->available(&why)) {
            if (i > 0) {
                error_report("falling back to %s", ops->name);
            }
            current_accel = ops;
            return 0;
        }
        /* The accelerator printed its own lines (QEMU's); then the (located) failure. */
        if (cfg->accels_from_option) {
            error_report("-accel %s: failed to initialize %s: %s", ops->name, ops->name, why);
        } else {
            error_report("failed to initialize %s: %s", ops->name, why);
        }
    }
    return -1;
}

int pc_machine_start(const VireoConfig *cfg, Chardev *const *serial, int n_serial)
{
    const AccelOps *accel = current_accel;
    if (!cfg->kernel) {
        error_report("no kernel given: Vireo boots Linux with -kernel; firmware (BIOS) boot is "
                     "not supported yet");
        return -1;
    }
    if (x86_cpu_list_init(&cpus, &cfg->smp) < 0) {
        error_report("out of memory");
        return -1;
    }
    if (ram_alloc_pc(cfg->ram_size, PC_LOWMEM_LIMIT) < 0) {
        return -1;
    }
    if (accel->init(cfg) < 0) {
        return -1;
    }
    for (unsigned i = 0; i < guest_ram.n; i++) {
        RAMBlock *b = &guest_ram.blocks[i];
        if (accel->map_ram(b->gpa, b->size, b->host) < 0) {
            return -1;
        }
    }

    if (!accel->has_kernel_irqchip && create_userspace_irqchip() < 0) {
        return -1;
    }
    debug_port_create();
    pio_register(0xf0, 1, &port_f0_ops, NULL);
    i8042_create();
    rtc_create(guest_ram.blocks[0].size, guest_ram.n > 1 ? guest_ram.blocks[1].size : 0);
    pci_i440fx_create();
    acpi_pm_init();
    for (int i = 0; i < n_serial && i < 4; i++) {
        if (serial[i]) {
            com[i] = serial_16550_create(com_base[i], com_irq[i], serial[i]);
        }
    }

    void *bios = gpa_to_hva(PC_BIOS_AREA, PC_BIOS_AREA_SIZE);
    if (!bios) {
        error_report("guest RAM too small for the BIOS area");
        return -1;
    }
    memset(bios, 0, PC_BIOS_AREA_SIZE);
    uint64_t rsdp = acpi_build_tables(bios, PC_BIOS_AREA, PC_BIOS_AREA_SIZE, &cpus);
    if (!rsdp) {
        error_report("could not build ACPI tables");
        return -1;
    }
    fw_cfg = fw_cfg_create(cfg, cfg->ram_size, x86_cpu_list_id_limit(&cpus));
    fw_cfg_add_e820(fw_cfg);
    X86BootState boot;
    if (multiboot_probe(cfg->kernel)) {
        if (multiboot_load(cfg, &boot, fw_cfg) < 0) {
            return -1;
        }
    } else {
        if (linux_boot_load(cfg, rsdp, &boot) < 0) {
            return -1;
        }
        fw_cfg_add_linux_boot(fw_cfg, cfg, boot.rsi); /* rsi: boot_params */
    }
    create_cli_devices(cfg);
    if (accel->create_vcpus(cfg, &cpus, &boot) < 0) {
        return -1;
    }
    return accel->start_vcpus();
}

void pc_machine_stop(void)
{
    if (userspace_irqchip) {
        vtimer_thread_stop(); /* no timer may kick a vCPU the accelerator is tearing down */
    }
    if (current_accel) {
        current_accel->stop_vcpus();
        current_accel->destroy();
    }
    if (userspace_irqchip) {
        pc_irqchip_destroy();
        userspace_irqchip = false;
    }
    for (int i = 0; i < 4; i++) {
        if (com[i]) {
            serial_16550_destroy(com[i]);
            com[i] = NULL;
        }
    }
    fw_cfg_destroy(fw_cfg);
    fw_cfg = NULL;
    isa_debug_exit_reset();
    io_reset_all();
    ram_free();
    x86_cpu_list_free(&cpus);
}
