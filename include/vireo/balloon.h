/*
 * The memory balloon as the monitor sees it (hw/virtio/virtio-balloon.c; QMP `balloon`,
 * `query-balloon`, HMP `balloon`, `info balloon`). One balloon device at most, as QEMU's.
 */
#ifndef VIREO_BALLOON_H
#define VIREO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#define BALLOON_NOT_ACTIVE_MSG "No balloon device has been activated"

/* Ask the guest to keep `target` bytes of RAM. false when no balloon device exists. */
bool balloon_set_target(int64_t target);
/* The RAM the guest has now (RAM size - ballooned pages); false when no balloon. */
bool balloon_get_actual(int64_t *actual);

#endif
