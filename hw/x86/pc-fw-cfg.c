/*
 * What QEMU's pc tells its firmware (SeaBIOS) about booting, from -boot and bootindex=:
 *   CMOS 0x3D/0x38   the legacy boot order (order=, or once= for the first boot only): one
 *                    nibble per device, a/b floppy 1, c disk 2, d CD-ROM 3, n network 4; 0x38
 *                    bit 0 clear (check the floppy's boot signature)
 *   FW_CFG_BOOT_MENU menu=on
 *   etc/boot-menu-wait   splash-time= (milliseconds, 16-bit), only when given
 *   etc/boot-fail-wait   reboot-timeout= (32-bit, -1 when not given: never reboot)
 *   bootorder        the firmware paths of the devices with a bootindex, lowest index first,
 *                    one per line with a NUL after the last ("HALT" last with strict=on), as
 *                    QEMU's get_boot_devices_list writes them; empty without bootindex
 */
#include <glib.h>
#include "vireo/ide.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/device.h"
#include "vireo/devices.h"
#include "vireo/error.h"
#include "vireo/pci.h"
#include "vireo/x86.h"

static const char *boot_order(const VireoConfig *cfg)
{
    return cfg->boot_order ? cfg->boot_order : "cad";
}

/* QEMU's set_boot_dev: the order into CMOS; 0, or -1 after QEMU's message. */
static int set_cmos_boot_order(const char *order)
{
    uint8_t nib[3] = {0, 0, 0};
    if (strlen(order) > 3) {
        error_report("Too many boot devices for PC");
        return -1;
    }
    for (size_t i = 0; order[i]; i++) {
        switch (order[i]) {
        case 'a':
        case 'b':
            nib[i] = 1;
            break;
        case 'c':
            nib[i] = 2;
            break;
        case 'd':
            nib[i] = 3;
            break;
        case 'n':
            nib[i] = 4;
            break;
        default:
            error_report("Invalid boot device for PC: '%c'", order[i]);
            return -1;
        }
    }
    rtc_cmos_set(0x3d, (uint8_t)(nib[1] << 4 | nib[0]));
    rtc_cmos_set(0x38, (uint8_t)(nib[2] << 4));
    return 0;
}

int pc_boot_config(FWCfgState *fw, const VireoConfig *cfg)
{
    if (cfg->boot_has_splash_time) {
        if (cfg->boot_splash_time < 0 || cfg->boot_splash_time > 0xffff) {
            error_report("splash-time is invalid,it should be a value between 0 and 65535");
            return -1;
        }
        uint8_t w[2] = {(uint8_t)cfg->boot_splash_time, (uint8_t)(cfg->boot_splash_time >> 8)};
        fw_cfg_add_file(fw, "etc/boot-menu-wait", w, 2);
    }
    int64_t rt = -1;
    if (cfg->boot_has_reboot_timeout) {
        rt = cfg->boot_reboot_timeout;
        if (rt < -1 || rt > 0xffff) {
            error_report("reboot timeout is invalid,it should be a value between -1 and 65535");
            return -1;
        }
    }
    uint32_t r32 = (uint32_t)rt;
    uint8_t w[4] = {(uint8_t)r32, (uint8_t)(r32 >> 8), (uint8_t)(r32 >> 16), (uint8_t)(r32 >> 24)};
    fw_cfg_add_file(fw, "etc/boot-fail-wait", w, 4);
    fw_cfg_add_i16(fw, 0x0e /* FW_CFG_BOOT_MENU */, cfg->boot_has_menu && cfg->boot_menu);
    /* the order is checked even when once= is what the first boot uses */
    if (set_cmos_boot_order(boot_order(cfg)) < 0 ||
        (cfg->boot_once && set_cmos_boot_order(cfg->boot_once) < 0)) {
        return -1;
    }
    return 0;
}

void pc_boot_order_restore(const VireoConfig *cfg)
{
    set_cmos_boot_order(boot_order(cfg)); /* checked at start */
}

/* A PCI function's node name as QEMU's pci_dev_fw_name gives it (by class, else IDs). */
static char *pci_fw_name(PCIDevice *d)
{
    static const struct {
        uint16_t cls;
        const char *name;
    } names[] = {{0x0100, "scsi"},    {0x0101, "ide"},   {0x0106, "sata"}, {0x0200, "ethernet"},
                 {0x0300, "display"}, {0x0403, "sound"}, {0x0c03, "usb"}};
    uint16_t cls = pci_get_word(d->config + PCI_CLASS_DEVICE);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].cls == cls) {
            return g_strdup(names[i].name);
        }
    }
    return g_strdup_printf("pci%04x,%04x", pci_get_word(d->config), pci_get_word(d->config + 2));
}

typedef struct BootEntry {
    long index;
    char *path;
} BootEntry;

static int entry_cmp(const void *a, const void *b)
{
    const BootEntry *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

void pc_boot_order_file(FWCfgState *fw, const VireoConfig *cfg)
{
    GArray *list = g_array_new(FALSE, FALSE, sizeof(BootEntry));
    for (Device *dev = device_list_first(); dev; dev = dev->next) {
        const Property *p = device_info_prop(dev->info, "bootindex");
        if (!p || ((!dev->info->boot_suffix || dev->info->bus != BUS_PCI) &&
                   dev->info->bus != BUS_IDE)) {
            continue;
        }
        char *v = device_get_prop(dev, p);
        long idx = v ? strtol(v, NULL, 0) : -1;
        g_free(v);
        if (idx < 0) {
            continue;
        }
        if (dev->info->bus == BUS_IDE) {
            /* QEMU's: the controller, then drive@CHANNEL/disk@UNIT */
            IDEDevice *ide = (IDEDevice *)dev;
            if (!ide->bus) {
                continue;
            }
            BootEntry e = {.index = idx};
            e.path = g_strdup_printf("/pci@i0cf8/ide@1,1/drive@%x/disk@%x", ide->bus->bus_id,
                                     ide->unit);
            g_array_append_val(list, e);
            continue;
        }
        PCIDevice *d = (PCIDevice *)dev;
        char *name = pci_fw_name(d);
        unsigned slot = PCI_SLOT(d->devfn), fn = PCI_FUNC(d->devfn);
        BootEntry e = {.index = idx};
        e.path =
            fn ? g_strdup_printf("/pci@i0cf8/%s@%x,%x%s", name, slot, fn, dev->info->boot_suffix)
               : g_strdup_printf("/pci@i0cf8/%s@%x%s", name, slot, dev->info->boot_suffix);
        g_free(name);
        g_array_append_val(list, e);
    }
    g_array_sort(list, entry_cmp);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < list->len; i++) {
        BootEntry *e = &g_array_index(list, BootEntry, i);
        g_string_append(s, e->path);
        g_string_append_c(s, i + 1 < list->len ? '\n' : '\0');
        g_free(e->path);
    }
    if (list->len && cfg->boot_has_strict && cfg->boot_strict) {
        s->str[s->len - 1] = '\n';
        g_string_append(s, "HALT");
        g_string_append_c(s, '\0');
    }
    fw_cfg_set_file(fw, "bootorder", s->str, (uint32_t)s->len);
    g_string_free(s, TRUE);
    g_array_free(list, TRUE);
}
