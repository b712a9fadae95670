/*
 * Machine-wide services devices call (hw/core/machine.c): the big device lock, interrupt lines,
 * and run-state requests (reset, power-off) that devices raise and the main loop carries out.
 */
#ifndef VIREO_MACHINE_H
#define VIREO_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

/* One lock serialises device emulation: vCPU exits take it, so does the main loop. */
void vireo_lock(void);
void vireo_unlock(void);
/* Whether this thread holds it (code reached both with and without it: block completions run
 * inside blk_drain() under the lock, and from the main loop without it). */
bool vireo_lock_held(void);

/* The present vCPUs of -smp (devices sizing per-CPU queues, as QEMU's num-queues=auto). */
unsigned machine_smp_cpus(void);
void machine_set_smp_cpus(unsigned n);

/*
 * Drive a GSI (ISA IRQs 0-15 are GSIs 0-15; IOAPIC pins up to 23) at the accelerator. Devices
 * use IRQ handles (irq.h) instead; this is what the machine's GSI handles end in.
 */
void irq_set_level(unsigned gsi, int level);
/* The handle of GSI n (0-23), or NULL. */
struct IRQ;
struct IRQ *machine_gsi(unsigned gsi);
static inline void irq_pulse(unsigned gsi)
{
    irq_set_level(gsi, 1);
    irq_set_level(gsi, 0);
}

typedef enum {
    SHUTDOWN_NONE,
    SHUTDOWN_GUEST_POWEROFF,        /* ACPI S5 or equivalent */
    SHUTDOWN_GUEST_RESET,           /* keyboard controller, 0xCF9, ACPI reset register */
    SHUTDOWN_HOST_SIGNAL,           /* SIGINT/SIGTERM */
    SHUTDOWN_GUEST_PANIC,           /* triple fault, internal error: exit non-zero */
    SHUTDOWN_HOST_QMP_QUIT,         /* QMP/HMP quit, Ctrl-A x */
    SHUTDOWN_HOST_QMP_SYSTEM_RESET, /* QMP/HMP system_reset */
} ShutdownCause;

/* Ask the main loop to power off or reset the machine. Safe from any thread, lock held or not. */
void machine_request_shutdown(ShutdownCause cause);

/*
 * A QMP event a device raises (DEVICE_DELETED when the guest ejects a device): queued and sent
 * to the monitors from the main loop, so it is safe from any thread (a vCPU's PIO exit). Takes
 * ownership of data (a QJ object or NULL). machine_take_event() is the main loop's side.
 */
struct QJ;
void machine_post_event(const char *name, struct QJ *data);
bool machine_take_event(char **name, struct QJ **data);

#endif
