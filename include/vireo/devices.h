/* Constructors of the PC's legacy devices (each in its own file under hw/). */
#ifndef VIREO_DEVICES_H
#define VIREO_DEVICES_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/chardev.h"
#include "vireo/config.h"


/*
 * hw/misc/fw_cfg.c: QEMU's fw_cfg I/O interface at 0x510 (16-bit selector) and 0x511 (data),
 * with the DMA address register at 0x514. fw_cfg_create() maps it with the standard items
 * (signature, ID, UUID, RAM size, CPU counts, ...); add items and files before the guest runs.
 * max_cpus is QEMU's FW_CFG_MAX_CPUS: the highest possible APIC ID + 1 (x86_cpu_list_id_limit).
 */
typedef struct FWCfgState FWCfgState;
FWCfgState *fw_cfg_create(const VireoConfig *cfg, uint64_t ram_size, uint32_t max_cpus);
void fw_cfg_destroy(FWCfgState *s);
/* Machine reset: no item selected, read offset and DMA address cleared (the items stay). */
void fw_cfg_reset(FWCfgState *s);
/* Item `key` holds a copy of data (len bytes). */
void fw_cfg_add_bytes(FWCfgState *s, uint16_t key, const void *data, uint32_t len);
void fw_cfg_add_i16(FWCfgState *s, uint16_t key, uint16_t v);
void fw_cfg_add_i32(FWCfgState *s, uint16_t key, uint32_t v);
void fw_cfg_add_i64(FWCfgState *s, uint16_t key, uint64_t v);
void fw_cfg_add_string(FWCfgState *s, uint16_t key, const char *str); /* with its NUL */
/* A named file in the directory (item 0x19), e.g. "etc/e820". */
void fw_cfg_add_file(FWCfgState *s, const char *name, const void *data, uint32_t len);
/* Replace a file's contents, or add the file. */
void fw_cfg_set_file(FWCfgState *s, const char *name, const void *data, uint32_t len);
/* "etc/e820": the RAM blocks, as QEMU lists them (address, length, type; 20 bytes each). */
void fw_cfg_add_e820(FWCfgState *s);
/*
 * After linux_boot_load(): QEMU's kernel, setup, command line and initrd address/size items
 * (0x07, 0x08, 0x0a, 0x0b, 0x13-0x17) read back from the boot_params the loader wrote.
 */
void fw_cfg_add_linux_boot(FWCfgState *s, const VireoConfig *cfg, uint64_t boot_params);

/* hw/timer/mc146818-rtc.c: set CMOS byte `index` (machine set-up: the boot order). */
void rtc_cmos_set(uint8_t index, uint8_t val);

#endif
