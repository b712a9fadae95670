/*
 * The accelerator interface. KVM (accel/kvm) and TCG (accel/tcg) implement it; the machine
 * and devices never ask which one runs.
 */
#ifndef VIREO_ACCEL_H
#define VIREO_ACCEL_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/config.h"

typedef struct X86BootState X86BootState;
typedef struct X86CpuList X86CpuList;

typedef struct AccelOps {
    const char *name;
    /*
     * The PIC, IOAPIC, local APICs and PIT are the accelerator's own (KVM's in-kernel
     * irqchip). When false the machine builds the userspace ones (include/vireo/irqchip.h).
     */
    bool has_kernel_irqchip;
    /*
     * Can this accelerator run here? On false it has printed its own diagnostics (QEMU's) and
     * *why names the reason (strerror text) for "failed to initialize NAME: WHY".
     */
    bool (*available)(const char **why);
    /* Create the VM: interrupt controllers, timers. Returns 0 or -1 after error_report(). */
    int (*init)(const VireoConfig *cfg);
    /*
     * The memory map reaches the accelerator through a MemoryListener (memory.h) that init()
     * registers and destroy() unregisters: KVM keeps its memory slots and ioeventfds in step,
     * TCG flushes TLBs.
     */
    /*
     * Create the present vCPUs of cpus (index i with APIC ID cpus->apic_id[i]) and put the BSP
     * in the given boot state (APs wait for INIT/SIPI).
     */
    int (*create_vcpus)(const VireoConfig *cfg, const X86CpuList *cpus, const X86BootState *boot);
    /* Start one thread per vCPU. */
    int (*start_vcpus)(void);
    /* Make every vCPU thread leave guest mode and exit; join them. */
    void (*stop_vcpus)(void);
    /* Tear the VM down (machine teardown). */
    void (*destroy)(void);
    /*
     * Machine reset, after stop_vcpus(): forget the vCPUs and give the guest power-on state
     * underneath, so create_vcpus() and start_vcpus() can follow as at the first start. The
     * memory map, RAM and the devices stay. KVM builds a fresh VM (in-kernel irqchip and PIT at
     * power-on; memory slots and ioeventfds replayed from the memory map, GSI routes and
     * irqfds from its own tables); TCG drops every translated block (TLBs go with the vCPUs).
     * Returns 0 or -1 after error_report().
     */
    int (*reset)(void);
    void (*set_irq)(unsigned gsi, int level);
    /*
     * Deliver an MSI message (address and data as a device writes them) to the local APICs:
     * KVM_SIGNAL_MSI under KVM, the userspace APIC bus under TCG. Big lock held.
     */
    void (*send_msi)(uint64_t addr, uint32_t data);
    /*
     * irqfd: writing 1 to eventfd fd delivers the MSI (addr, data) without any lock (KVM: a GSI
     * route and KVM_IRQFD). Returns a route number >= 0, or -1 when the accelerator has none
     * (irq.h's msi_route then delivers from the main loop). Optional.
     */
    int (*irqfd_add)(int fd, uint64_t addr, uint32_t data);
    int (*irqfd_update)(int route, uint64_t addr, uint32_t data);
    void (*irqfd_del)(int route, int fd);
    /* Guest RAM [gpa, gpa+len) was written behind the vCPUs (DMA): drop translated code. */
    void (*ram_written)(uint64_t gpa, uint64_t len);
    /*
     * Run control for stop/cont (optional: NULL when unsupported). pause_vcpus() returns once
     * every vCPU thread is parked outside guest mode; called before start_vcpus() it makes
     * the threads start parked (-S). resume_vcpus() lets them run again. The setting
     * survives destroy()/init() (machine reset).
     */
    void (*pause_vcpus)(void);
    void (*resume_vcpus)(void);
    /* Host thread id (gettid) of vCPU index, 0 when it has none. */
    int (*vcpu_thread_id)(unsigned index);
    /* "info registers" text for vCPU index (g_free it), or NULL. */
    char *(*format_registers)(unsigned index);
} AccelOps;

extern const AccelOps kvm_accel_ops;
extern const AccelOps tcg_accel_ops;

/* The accelerator in use (set by accel_select()). */
extern const AccelOps *current_accel;

/*
 * accel/accel.c: pick the accelerator in -accel order (default tcg), with QEMU's messages on
 * fallback ("Could not access KVM kernel module: ...", "falling back to tcg"). 0 or -1.
 */
int accel_select(const VireoConfig *cfg);

#endif
