/* State shared by the KVM accelerator's files. */
#ifndef VIREO_KVM_INTERNAL_H
#define VIREO_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include "vireo/config.h"

typedef struct KVMVcpu {
    unsigned index;
    uint32_t apic_id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    int tid;     /* gettid() of the thread */
    bool parked; /* waiting in pause (under the pause lock) */
    bool exited; /* the thread left its loop */
} KVMVcpu;

/* One memory slot as KVM has it (gpa/size/hva/flags), and what it shows. */
typedef struct KVMSlot {
    bool used;
    uint64_t gpa, size;
    uint8_t *hva;
    uint32_t flags;
    struct MemoryRegion *mr;
    uint64_t mr_offset;
} KVMSlot;

typedef struct KVMState {
    int kvm_fd, vm_fd;
    int run_size;
    unsigned nr_slots;
    KVMSlot *slots;
    bool readonly_mem; /* KVM_CAP_READONLY_MEM */
    struct kvm_irq_routing *routing;
    unsigned next_msi_gsi;
    struct KVMIrqfd {
        int fd;
        unsigned gsi;
    } *irqfds; /* what KVM_IRQFD was given, replayed into a new VM at reset */
    unsigned n_irqfds;
    unsigned n_vcpus;
    KVMVcpu *vcpus;
    atomic_bool stop;
    struct kvm_cpuid2 *supported_cpuid;
    struct X86CPUDef *cpu_def; /* the -cpu model as KVM builds it, before filtering */
    uint32_t *supported_words; /* kvm_supported_words() */
} KVMState;

extern KVMState kvm_state;

/*
 * kvm-memory.c: memory slots and ioeventfds from the memory map; MSI, irqfd. init/destroy own
 * the tables (GSI routes, irqfds) for the accelerator's life; attach hands them and the memory
 * map (a listener: replayed on registration) to the current VM, detach takes them back before
 * the VM goes (reset).
 */
int kvm_memory_init(void);
int kvm_memory_attach(void);
void kvm_memory_detach(void);
void kvm_memory_destroy(void);
void kvm_send_msi(uint64_t addr, uint32_t data);
int kvm_irqfd_add(int fd, uint64_t addr, uint32_t data);
int kvm_irqfd_update(int route, uint64_t addr, uint32_t data);
void kvm_irqfd_del(int route, int fd);

/* kvm-cpuid.c: the CPUID table for one vCPU (caller frees) per -cpu model (filtered) and
 * topology. */
struct kvm_cpuid2 *kvm_build_cpuid(const VireoConfig *cfg, const struct X86CPUDef *def,
                                   const struct kvm_cpuid2 *supported, uint32_t apic_id);
/* kvm-cpuid.c: what KVM offers per feature word, as QEMU reads it (its corrections included) */
void kvm_supported_words(int kvm_fd, const struct kvm_cpuid2 *supported, uint32_t *out);

#endif
