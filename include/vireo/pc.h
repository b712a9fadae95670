/* The x86 PC machine: builds RAM, devices, firmware tables and vCPUs for a VireoConfig. */
#ifndef VIREO_PC_H
#define VIREO_PC_H

#include "vireo/chardev.h"
#include "vireo/config.h"

/* Pick the accelerator (-accel order, with QEMU's fallback messages). Returns 0 or -1. */
int machine_select_accel(const VireoConfig *cfg);
/* Build the machine and start its vCPUs. serial[i] may be NULL. Returns 0 or -1. */
int pc_machine_start(const VireoConfig *cfg, Chardev *const *serial, int n_serial);
/* Stop the vCPUs and free everything pc_machine_start() made (chardevs stay). */
void pc_machine_stop(void);

#endif
