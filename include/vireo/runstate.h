/* Main-loop side of run-state requests (see machine.h for the device side). */
#ifndef VIREO_RUNSTATE_H
#define VIREO_RUNSTATE_H

#include <stdbool.h>
#include "vireo/machine.h"

/* An eventfd the main loop polls; machine_request_shutdown() writes to it. */
void runstate_set_wakeup_fd(int fd);
/* Fetch and clear the pending request (SHUTDOWN_NONE when none). */
ShutdownCause runstate_take_request(void);
bool runstate_request_pending(void);

#endif
