/*
 * Every device type Vireo has, registered once here. The list is explicit (not constructor
 * magic): the static library keeps only objects something references, and this table is that
 * reference. Add a new device's DeviceInfo below and nowhere else.
 */
#include <stddef.h>
#include "vireo/device.h"

extern const DeviceInfo i440fx_info;
extern const DeviceInfo piix3_info;
extern const DeviceInfo piix3_ide_info;
extern const DeviceInfo piix4_pm_info;
extern const DeviceInfo isa_debug_exit_info;
extern const DeviceInfo isa_debugcon_info;
extern const DeviceInfo edu_info;
extern const DeviceInfo piix3_usb_uhci_info;
extern const DeviceInfo usb_tablet_info;
extern const DeviceInfo usb_mouse_info;
extern const DeviceInfo usb_kbd_info;
extern const DeviceInfo virtio_blk_pci_info;
extern const DeviceInfo virtio_rng_pci_info;
extern const DeviceInfo virtio_balloon_pci_info;
extern const DeviceInfo virtio_net_pci_info;
extern const DeviceInfo e1000_info;
extern const DeviceInfo e1000_82544gc_info;
extern const DeviceInfo e1000_82545em_info;
extern const DeviceInfo virtio_scsi_pci_info;
extern const DeviceInfo scsi_hd_info;
extern const DeviceInfo scsi_cd_info;
extern const DeviceInfo ide_hd_info;
extern const DeviceInfo ide_cd_info;
extern const DeviceInfo isa_serial_info;
extern const DeviceInfo mc146818rtc_info;
extern const DeviceInfo i8042_info;
extern const DeviceInfo i8259_info;
extern const DeviceInfo ioapic_info;
extern const DeviceInfo apic_info;
extern const DeviceInfo i8254_info;
extern const DeviceInfo ioport80_info;
extern const DeviceInfo ioportf0_info;
extern const DeviceInfo vga_info;
extern const DeviceInfo bochs_display_info;

const DeviceInfo *const device_infos[] = {
    &i440fx_info,
    &piix3_info,
    &piix3_ide_info,
    &piix4_pm_info,
    &isa_debug_exit_info,
    &isa_debugcon_info,
    &edu_info,
    &virtio_blk_pci_info,
    &virtio_rng_pci_info,
    &virtio_balloon_pci_info,
    &virtio_net_pci_info,
    &e1000_info,
    &e1000_82544gc_info,
    &e1000_82545em_info,
    &virtio_scsi_pci_info,
    &scsi_hd_info,
    &scsi_cd_info,
    &piix3_usb_uhci_info,
    &usb_tablet_info,
    &usb_mouse_info,
    &usb_kbd_info,
    &ide_hd_info,
    &ide_cd_info,
    &isa_serial_info,
    &mc146818rtc_info,
    &i8042_info,
    &i8259_info,
    &ioapic_info,
    &apic_info,
    &i8254_info,
    &ioport80_info,
    &ioportf0_info,
    &vga_info,
    &bochs_display_info,
    NULL,
};
