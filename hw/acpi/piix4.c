/*
 * PIIX4's power-management function (00:01.3, 8086:7113 rev 03) as QEMU's pc machine has it:
 * the ACPI PM registers (hw/acpi/pm.c) decode at the 64-port block the PMBA register (0x40,
 * bits 15:6; bit 0 reads 1) names while PMREGMISC (0x80) bit 0 is set, so the block moves where
 * the firmware (or the guest) puts it; the SMBus base (0x90) and host configuration (0xD2)
 * registers hold what firmware writes. The SCI is ISA IRQ 9 (interrupt pin A). The SMBus
 * controller itself is not emulated (its ports float): no guest driver Vireo boots uses it.
 * The APM ports (0xB2 control, 0xB3 status) hold what is written, as QEMU's apm device; with no
 * SMM a write to 0xB2 raises no SMI, which SeaBIOS's SMM set-up copes with (it reads 0xB3 back).
 */
#include "vireo/acpi.h"
#include "vireo/pci.h"
#include "vireo/vmstate.h"

#define PIIX4_PMBA      0x40
#define PIIX4_PMREGMISC 0x80
#define PIIX4_SMBHSTCFG 0xd2

typedef struct PIIX4PMState {
    PCIDevice pci;
    MemoryRegion io;
    MemoryRegion gpe; /* GPE0_BLK at 0xAFE0 */
    AcpiPciHpState pcihp;
    MemoryRegion apm_io;
    uint8_t apm_cnt, apm_sts;
    uint32_t smb_io_base;
    uint8_t disable_s3, disable_s4, s4_val;
    bool hotplug_bridge, root_hotplug, memory_hotplug, smm_compat, smm_enabled;
    bool not_migrate_acpi_index;
} PIIX4PMState;

static void update_pm_io(PIIX4PMState *s)
{
    uint8_t *c = s->pci.config;
    bool on = c[PIIX4_PMREGMISC] & 1;
    uint32_t base = pci_get_long(c + PIIX4_PMBA) & 0xffc0;
    memory_transaction_begin();
    memory_region_set_enabled(&s->io, on);
    memory_region_set_address(&s->io, base);
    memory_transaction_commit();
}

static void piix4_pm_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    pci_default_write_config(d, addr, val, len);
    if ((addr < PIIX4_PMBA + 4 && addr + len > PIIX4_PMBA) ||
        (addr <= PIIX4_PMREGMISC && addr + len > PIIX4_PMREGMISC)) {
        update_pm_io((PIIX4PMState *)d);
    }
}

static uint64_t apm_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)size;
    PIIX4PMState *s = opaque;
    return addr == 0 ? s->apm_cnt : s->apm_sts;
}

static void apm_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)size;
    PIIX4PMState *s = opaque;
    if (addr == 0) {
        s->apm_cnt = (uint8_t)val;
    } else {
        s->apm_sts = (uint8_t)val;
    }
}

static const MemoryRegionOps apm_ops = {.read = apm_read, .write = apm_write};

static bool piix4_pm_realize(Device *dev, char **errp)
{
    (void)errp;
    PIIX4PMState *s = (PIIX4PMState *)dev;
    s->pci.config[PCI_INTERRUPT_PIN] = 1;
    memory_region_init_io(&s->io, "piix4-pm", &acpi_pm_io_ops, s, 64);
    memory_region_set_enabled(&s->io, false);
    memory_region_add_subregion(get_system_io(), 0, &s->io, 0);
    memory_region_init_io(&s->gpe, "acpi-gpe0", &acpi_gpe_io_ops, s, ACPI_GPE0_LEN);
    memory_region_add_subregion(get_system_io(), ACPI_GPE0_BLK, &s->gpe, 0);
    memory_region_init_io(&s->apm_io, "apm-io", &apm_ops, s, 2);
    memory_region_add_subregion(get_system_io(), 0xb2, &s->apm_io, 0);
    if (s->root_hotplug) {
        acpi_pcihp_init(&s->pcihp, s->pci.bus);
    }
    return true;
}

static void piix4_pm_unrealize(Device *dev)
{
    PIIX4PMState *s = (PIIX4PMState *)dev;
    if (s->root_hotplug) {
        acpi_pcihp_destroy(&s->pcihp);
    }
    memory_region_destroy(&s->apm_io);
    memory_region_destroy(&s->gpe);
    memory_region_destroy(&s->io);
}

static void piix4_pm_reset(Device *dev)
{
    PIIX4PMState *s = (PIIX4PMState *)dev;
    uint8_t *c = s->pci.config;
    pci_device_reset(&s->pci);
    pci_set_long(c + PIIX4_PMBA, 1); /* I/O space indicator, read-only */
    s->pci.wmask[PIIX4_PMBA] = 0xc0;
    c[PIIX4_PMREGMISC] = 0;
    c[0x5f] = 0x10;
    if (!s->smm_enabled) {
        c[0x5b] = 0x02; /* DEVACTB APMC_EN: "SMM already set up", as QEMU without SMM */
    }
    s->apm_cnt = s->apm_sts = 0;
    c[0x63] = 0x60;
    c[0x67] = 0x08 | 0x10; /* serial ports and parallel port present (QEMU's default) */
    pci_set_long(c + 0x90, s->smb_io_base | 1);
    c[PIIX4_SMBHSTCFG] = 0;
    acpi_pm_reset();
    update_pm_io(s);
    if (s->root_hotplug && s->pci.dev.realized) {
        acpi_pcihp_reset(&s->pcihp);
    }
}

static const Property piix4_pm_props[] = {
    DEFINE_PROP_BOOL("acpi-pci-hotplug-with-bridge-support", PIIX4PMState, hotplug_bridge, true),
    DEFINE_PROP_BOOL("acpi-root-pci-hotplug", PIIX4PMState, root_hotplug, true),
    DEFINE_PROP_UINT8("disable_s3", PIIX4PMState, disable_s3, 0),
    DEFINE_PROP_UINT8("disable_s4", PIIX4PMState, disable_s4, 0),
    DEFINE_PROP_BOOL("memory-hotplug-support", PIIX4PMState, memory_hotplug, true),
    DEFINE_PROP_UINT8("s4_val", PIIX4PMState, s4_val, 2),
    DEFINE_PROP_UINT32("smb_io_base", PIIX4PMState, smb_io_base, 0),
    DEFINE_PROP_HELP("smi-irq[0]", "link<irq>"),
    DEFINE_PROP_BOOL("smm-compat", PIIX4PMState, smm_compat, false),
    DEFINE_PROP_BOOL("smm-enabled", PIIX4PMState, smm_enabled, false),
    DEFINE_PROP_HELP("unnamed-gpio-out[0]", "link<irq>"),
    DEFINE_PROP_BOOL("x-not-migrate-acpi-index", PIIX4PMState, not_migrate_acpi_index, false),
    DEFINE_PROP_END,
};

static const VMStateField piix4_pm_fields[] = {
    VMSTATE_BUFFER(pci.config, PIIX4PMState),
    VMSTATE_UINT8(apm_cnt, PIIX4PMState),
    VMSTATE_UINT8(apm_sts, PIIX4PMState),
    VMSTATE_END_OF_LIST(),
};

static bool piix4_pm_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    update_pm_io(opaque);
    return true;
}

static const VMStateDescription piix4_pm_vmsd = {
    .name = "piix4_pm",
    .version = 3,
    .minimum_version = 3,
    .fields = piix4_pm_fields,
    .post_load = piix4_pm_post_load,
};

static const PCIDeviceInfo piix4_pm_pci = {
    .vendor_id = 0x8086,
    .device_id = 0x7113,
    .revision = 0x03,
    .class_code = 0x068000,
    .status = PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM,
    .config_write = piix4_pm_config_write,
};

const DeviceInfo piix4_pm_info = {
    .name = "PIIX4_PM",
    .desc = "PM",
    .category = DEVICE_CATEGORY_BRIDGE,
    .bus = BUS_PCI,
    .instance_size = sizeof(PIIX4PMState),
    .props = piix4_pm_props,
    .realize = piix4_pm_realize,
    .unrealize = piix4_pm_unrealize,
    .reset = piix4_pm_reset,
    .vmsd = &piix4_pm_vmsd,
    .pci = &piix4_pm_pci,
    .qom_interfaces = (const char *const[]){"acpi-device-interface", "hotplug-handler", NULL},
};
