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

typedef struct KVMState {
    int kvm_fd, vm_fd;
    int run_size;
    unsigned nr_slots, next_slot;
    unsigned n_vcpus;
    KVMVcpu *vcpus;
    atomic_bool stop;
    struct kvm_cpuid2 *supported_cpuid;
} KVMState;

extern KVMState kvm_state;

/* kvm-cpuid.c: the CPUID table for one vCPU (caller frees) per -cpu model and topology. */
struct kvm_cpuid2 *kvm_build_cpuid(const VireoConfig *cfg, const struct kvm_cpuid2 *supported,
                                   uint32_t apic_id);
/* kvm-cpuid.c: is this -cpu model known under KVM? */
bool kvm_cpu_model_valid(const char *model);

#endif
