/* Constructors of the PC's legacy devices (each in its own file under hw/). */
#ifndef VIREO_DEVICES_H
#define VIREO_DEVICES_H

#include <stdint.h>
#include "vireo/chardev.h"

typedef struct SerialState SerialState;

/* hw/char/serial-16550.c: a 16550A UART at `base` raising ISA `irq`, wired to chr. */
SerialState *serial_16550_create(uint16_t base, unsigned irq, Chardev *chr);
void serial_16550_destroy(SerialState *s);

/* hw/input/i8042.c: the keyboard controller (reset line via 0xFE, status, command byte). */
void i8042_create(void);

/* hw/timer/mc146818-rtc.c: CMOS RTC at 0x70/0x71, clock from the host's UTC time. */
void rtc_create(uint64_t ram_below_4g, uint64_t ram_above_4g);

/* hw/pci/i440fx.c: PCI configuration mechanism #1 at 0xCF8/0xCFC and the host bridge. */
void pci_i440fx_create(void);

/* hw/misc/debug-port.c: port 0x80 (POST codes / I/O delay) swallowed silently. */
void debug_port_create(void);

#endif
