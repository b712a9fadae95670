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
#include "vireo/blockdev.h"
#include <glib.h>
#include "vireo/device.h"
#include "vireo/devices.h"
#include "vireo/error.h"
#include "vireo/ioport.h"
#include "vireo/irqchip.h"
#include "vireo/loader.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/net.h"
#include "vireo/pc.h"
#include "vireo/pci.h"
#include "vireo/runstate.h"
#include "vireo/timer.h"
#include "vireo/x86-cpu.h"
#include "vireo/x86.h"

static bool userspace_irqchip;
static FWCfgState *fw_cfg;
static PCIBus *pci_bus;

/* -device, in command-line order (the parser checked what it could): QEMU's messages. */
static int create_cli_device(const DeviceConfig *d)
{
    char *err = NULL;
    if (!device_create_from_config(d, false, &err)) {
        error_report("%s: %s", d->loc, err);
        g_free(err);
        return -1;
    }
    return 0;
}

/*
 * The devices -drive implies ("-device virtio-blk-pci,drive=ID" for if=virtio): QEMU appends
 * them to its key=value -device list, so they come after those and before the JSON forms;
 * their errors name the -drive.
 */
static int create_drive_devices(void)
{
    int n;
    const DriveDevice *dd = drive_implied_devices(&n);
    for (int i = 0; i < n; i++) {
        if (dd[i].dinfo->type == IF_IDE) {
            continue;
        }
        char *key = (char *)"drive", *val = dd[i].dinfo->id;
        DeviceConfig d = {.driver = (char *)dd[i].driver, .prop_keys = &key, .prop_values = &val,
                          .n_props = 1, .loc = dd[i].dinfo->loc};
        if (create_cli_device(&d) < 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * The drives of -drive if=ide are the machine's, as QEMU's pc_init1 makes them: in index order
 * (ide.0 master, slave, ide.1 master, slave) right after PIIX3's IDE function, so they are
 * QEMU's /machine/unattached/device[N] and their errors carry no option's location.
 */
static int create_ide_drives(void)
{
    int n, k = 0;
    const DriveDevice *dd = drive_implied_devices(&n);
    for (int index = 0; index < 4; index++) {
        for (int i = 0; i < n; i++) {
            const DriveInfo *di = dd[i].dinfo;
            if (di->type != IF_IDE || di->bus * 2 + di->unit != index) {
                continue;
            }
            char bus[16], unit[16];
            snprintf(bus, sizeof(bus), "ide.%d", di->bus);
            snprintf(unit, sizeof(unit), "%d", di->unit);
            /* QEMU: the CPUs, 16 objects of the chipset and PIIX3's IDE, then the drives */
            device_set_next_unattached((int)vm_cpu_count() + 17 + k++);
            if (!device_create_simple(dd[i].driver, "drive", di->id, "bus", bus, "unit", unit,
                                      NULL)) {
                return -1;
            }
        }
    }
    return 0;
}

/* The NICs of -nic and -net nic: after the VGA, before -device, as QEMU's pc_nic_init. */
static int create_nics(void)
{
    int n;
    const NicRequest *r = net_nic_requests(&n);
    for (int i = 0; i < n; i++) {
        char *keys[2] = {(char *)"netdev", (char *)"mac"};
        char *vals[2] = {r[i].netdev, r[i].mac};
        DeviceConfig d = {.driver = r[i].driver, .prop_keys = keys, .prop_values = vals,
                          .n_props = r[i].mac ? 2 : 1, .loc = r[i].loc};
        if (create_cli_device(&d) < 0) {
            return -1;
        }
    }
    return 0;
}

static int create_cli_devices(const VireoConfig *cfg)
{
    /* key=value devices first, then the drives' devices, then the JSON ones, as QEMU */
    for (int i = 0; i < cfg->n_devices; i++) {
        if (!cfg->devices[i].json && create_cli_device(&cfg->devices[i]) < 0) {
            return -1;
        }
    }
    if (create_drive_devices() < 0) {
        return -1;
    }
    for (int i = 0; i < cfg->n_devices; i++) {
        if (cfg->devices[i].json && create_cli_device(&cfg->devices[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* -usbdevice NAME: QEMU's legacy names, created before the -device ones (its order). */
static int create_usbdevices(const VireoConfig *cfg)
{
    static const char *const legacy[][2] = {
        {"tablet", "usb-tablet"}, {"mouse", "usb-mouse"}, {"keyboard", "usb-kbd"}};
    for (int i = 0; i < cfg->n_usbdevices; i++) {
        const char *driver = NULL;
        for (size_t j = 0; j < G_N_ELEMENTS(legacy); j++) {
            if (!strcmp(cfg->usbdevices[i], legacy[j][0])) {
                driver = legacy[j][1];
            }
        }
        char *err = NULL;
        DeviceConfig d = {.driver = (char *)driver, .loc = cfg->usbdevice_locs[i]};
        if (!driver || !device_create_from_config(&d, false, &err)) {
            error_report("%s: could not add USB device '%s'", cfg->usbdevice_locs[i],
                         cfg->usbdevices[i]);
            g_free(err);
            return -1;
        }
    }
    return 0;
}

/*
 * 00:00.0 i440FX, 00:01.0 PIIX3, 00:01.1 PIIX3 IDE, 00:01.2 PIIX3 UHCI (-usb, -machine usb=on),
 * 00:01.3 PIIX4 PM, as QEMU's pc.
 */
static int create_chipset(bool usb)
{
    pci_bus = pc_pci_host_create(piix3_route_intx, piix3_set_intx, NULL);
    device_set_machine_buses(true);
    if (!device_create_simple("i440FX", "addr", "00.0", NULL) ||
        !device_create_simple("PIIX3", "addr", "01.0", "multifunction", "on", NULL) ||
        !device_create_simple("piix3-ide", "addr", "01.1", NULL) || create_ide_drives() < 0 ||
        (usb && !device_create_simple("piix3-usb-uhci", "addr", "01.2", NULL)) ||
        !device_create_simple("PIIX4_PM", "addr", "01.3", NULL)) {
        return -1;
    }
    return 0;
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

/* Where the BSP starts (the loader's answer, kept for reset). */
static X86BootState boot;
static const VireoConfig *machine_cfg;
static bool linux_boot; /* boot.rsi is boot_params */

/* Firmware boot (no -kernel): the BIOS does what the loaders and pc-firmware.c do otherwise. */
static bool fw_boot;

/* ACPI tables into the BIOS area, then the kernel (Linux or Multiboot) and its data. */
static int load_boot(const VireoConfig *cfg)
{
    if (fw_boot) {
        boot = (X86BootState){.reset_vector = true};
        linux_boot = false;
        return 0;
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
    loader_record_range(PC_BIOS_AREA, PC_BIOS_AREA_SIZE);
    linux_boot = false;
    if (multiboot_probe(cfg->kernel)) {
        return multiboot_load(cfg, &boot, fw_cfg);
    }
    linux_boot = true;
    if (linux_boot_load(cfg, rsdp, &boot) < 0) {
        return -1;
    }
    fw_cfg_add_linux_boot(fw_cfg, cfg, boot.rsi); /* rsi: boot_params */
    return 0;
}

/*
 * What the firmware and the machine's tables say about the devices once they exist: slots
 * holding a device that cannot be unplugged (VGA) lose _SUN/_EJ0 in the DSDT as in QEMU's; the
 * boot VGA is set up as its BIOS would (screen_info for a Linux boot). Again at each reset,
 * after the loaders' blobs are written back.
 */
static void firmware_devices_setup(void)
{
    for (int slot = 2; slot < 32; slot++) {
        PCIDevice *d = pci_bus_device(pci_bus, (uint8_t)PCI_DEVFN(slot, 0));
        if (d && !d->dev.info->hotpluggable) {
            acpi_dsdt_slot_fixed(slot);
        }
    }
    if (!fw_boot) {
        pc_firmware_pci_setup(pci_bus);
        pc_firmware_vga_setup(linux_boot ? boot.rsi : 0);
    }
}

int pc_machine_start(const VireoConfig *cfg, Chardev *const *serial, int n_serial)
{
    machine_cfg = cfg;
    const AccelOps *accel = current_accel;
    fw_boot = !cfg->kernel;
    if (x86_cpu_list_init(&cpus, &cfg->smp) < 0) {
        error_report("out of memory");
        return -1;
    }
    machine_set_smp_cpus(cpus.present);
    if (ram_alloc_pc(cfg->ram_size, PC_LOWMEM_LIMIT) < 0) {
        return -1;
    }
    if (accel->init(cfg) < 0) {
        return -1;
    }
    if (!accel->has_kernel_irqchip && create_userspace_irqchip() < 0) {
        return -1;
    }
    if (!device_create_simple("ioport80", NULL) || !device_create_simple("ioportF0", NULL)) {
        return -1;
    }
    if (!device_create_simple("i8042", NULL)) {
        return -1;
    }
    if (!device_create_simple("mc146818rtc", NULL)) {
        return -1;
    }
    acpi_pm_init();
    if (create_chipset(cfg->usb) < 0) {
        return -1;
    }
    if (fw_boot ? pc_bios_init(cfg->bios) < 0 : (pc_firmware_pam_setup(pci_bus), false)) {
        return -1;
    }
    if (cfg->vga && !strcmp(cfg->vga, "std") && !device_create_simple("VGA", NULL)) {
        return -1;
    }
    if (create_nics() < 0) {
        return -1;
    }
    for (int i = 0; i < n_serial && i < 4; i++) {
        if (serial[i]) {
            char idx[4];
            snprintf(idx, sizeof(idx), "%d", i);
            if (!device_create_simple("isa-serial", "index", idx, "chardev",
                                      chardev_label(serial[i]), NULL)) {
                return -1;
            }
        }
    }

    fw_cfg = fw_cfg_create(cfg, cfg->ram_size, x86_cpu_list_id_limit(&cpus));
    fw_cfg_add_e820(fw_cfg);
    if (pc_boot_config(fw_cfg, cfg) < 0) {
        return -1;
    }
    /* What the loaders write (ACPI tables, kernel, initrd, boot data) is written again at reset */
    loader_record_begin();
    int r = load_boot(cfg);
    loader_record_end();
    if (r < 0) {
        return -1;
    }
    if (create_usbdevices(cfg) < 0 || create_cli_devices(cfg) < 0) {
        return -1;
    }
    device_globals_check();
    pc_boot_order_file(fw_cfg, cfg);
    firmware_devices_setup();
    if (vtimer_thread_start() < 0 || accel->create_vcpus(cfg, &cpus, &boot) < 0) {
        return -1;
    }
    return accel->start_vcpus();
}

/*
 * Machine reset, as QEMU's: the machine stays (devices, hotplugged ones included, their
 * backends, RAM and its content, the memory map); the vCPUs stop, every device's reset runs
 * newest first, the firmware step runs again (PAM, PIRQs, BARs: hotplugged devices get theirs
 * as SeaBIOS would give them), the loaders' blobs are written back (QEMU's ROM reset and its
 * firmware reloading -kernel), and the vCPUs start from power-on state with the BSP at the
 * kernel's entry, as at the first start.
 */
int pc_machine_reset(void)
{
    const AccelOps *accel = current_accel;
    vtimer_thread_stop(); /* device timers stay armed (or not) as the resets leave them */
    accel->stop_vcpus();
    vireo_lock();
    int r = accel->reset();
    if (r == 0) {
        devices_reset_all();
        fw_cfg_reset(fw_cfg);
        pc_boot_order_restore(machine_cfg);
        pc_boot_order_file(fw_cfg, machine_cfg);
        if (!fw_boot) {
            pc_firmware_pam_setup(pci_bus);
        }
        loader_reset();
        firmware_devices_setup();
        r = accel->create_vcpus(machine_cfg, &cpus, &boot);
    }
    vireo_unlock();
    if (r < 0 || vtimer_thread_start() < 0) {
        return -1;
    }
    return accel->start_vcpus();
}

void pc_machine_stop(void)
{
    vtimer_thread_stop(); /* no timer may kick a vCPU the accelerator is tearing down */
    if (current_accel) {
        current_accel->stop_vcpus();
        current_accel->destroy();
    }
    fw_cfg_destroy(fw_cfg);
    fw_cfg = NULL;
    vireo_lock();
    if (userspace_irqchip) {
        pc_irqchip_disconnect();
        userspace_irqchip = false;
    }
    devices_destroy_all();
    vireo_unlock();
    pc_bios_free();
    pc_pci_host_destroy();
    pci_bus = NULL;
    io_reset_all();
    vtimers_reset();
    loader_free();
    ram_free();
    x86_cpu_list_free(&cpus);
}
