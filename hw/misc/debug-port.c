/* Port 0x80: POST codes and the classic I/O delay. Writes vanish, reads float. */
#include "vireo/devices.h"
#include "vireo/ioport.h"

static const IOOps debug_port_ops = {0};

void debug_port_create(void)
{
    pio_register(0x80, 1, &debug_port_ops, NULL);
}
