/*
 * The KVM accelerator: one VM with the in-kernel irqchip (PIC, IOAPIC, LAPICs) and PIT,
 * guest RAM in memory slots, one thread per vCPU running KVM_RUN and handing PIO/MMIO exits
 * to the device dispatch under the big lock.
 */
#include <cpuid.h>
#include <errno.h>
#include <glib.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "kvm-internal.h"
#include "vireo/accel.h"
#include "vireo/error.h"
#include "vireo/ioport.h"
#include "vireo/machine.h"
#include "vireo/x86-cpu-model.h"
#include "vireo/x86.h"

KVMState kvm_state = {.kvm_fd = -1, .vm_fd = -1};

/* stop/cont: vCPU threads park on pause_cond while `paused` is set (kept across resets). */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pause_cond = PTHREAD_COND_INITIALIZER;
static bool paused;

#define SIG_KICK SIGUSR1
static __thread struct kvm_run *this_run;

static void kick_handler(int sig)
{
    (void)sig;
    if (this_run) {
        this_run->immediate_exit = 1;
    }
}

/*
 * QEMU's first steps of kvm_init, with its messages (plain lines on stderr, no program name):
 * open /dev/kvm, check the API version, create a VM and check the capabilities Vireo needs.
 * Returns 0 with both descriptors open, or a negative errno with both closed; the caller
 * reports "failed to initialize kvm: <strerror>" and may fall back, as QEMU does for any of
 * these (an absent or unreadable /dev/kvm, a node that is not KVM, a KVM that cannot make a VM).
 */
static int kvm_open_vm(int *kvm_fd, int *vm_fd)
{
    static const struct {
        int cap;
        const char *name;
    } required[] = {
        {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
        {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
        {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
        {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
        {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    };
    int err;
    *vm_fd = -1;
    *kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (*kvm_fd < 0) {
        err = errno;
        fprintf(stderr, "Could not access KVM kernel module: %s\n", strerror(err));
        return -err;
    }
    int v = ioctl(*kvm_fd, KVM_GET_API_VERSION, 0);
    if (v < KVM_API_VERSION) {
        err = v < 0 ? errno : EINVAL; /* /dev/null as /dev/kvm: ENOTTY */
        fprintf(stderr, "kvm version too old\n");
        goto fail;
    }
    if (v > KVM_API_VERSION) {
        err = EINVAL;
        fprintf(stderr, "kvm version not supported\n");
        goto fail;
    }
    do {
        *vm_fd = ioctl(*kvm_fd, KVM_CREATE_VM, 0);
    } while (*vm_fd < 0 && errno == EINTR);
    if (*vm_fd < 0) {
        err = errno;
        fprintf(stderr, "ioctl(KVM_CREATE_VM) failed: %d %s\n", err, strerror(err));
        goto fail;
    }
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        int r = ioctl(*vm_fd, KVM_CHECK_EXTENSION, required[i].cap);
        if (r <= 0) {
            err = EINVAL;
            fprintf(stderr,
                    "kvm does not support %s\n"
                    "Please upgrade to at least kernel 2.6.29 or recent kvm-kmod\n"
                    "(see http://sourceforge.net/projects/kvm).\n",
                    required[i].name);
            goto fail;
        }
    }
    return 0;
fail:
    if (*vm_fd >= 0) {
        close(*vm_fd);
    }
    close(*kvm_fd);
    *kvm_fd = *vm_fd = -1;
    return -err;
}

/* The probe behind -accel selection: everything kvm_init does before it touches the machine. */
static bool kvm_available(const char **why)
{
    int kvm_fd, vm_fd;
    int r = kvm_open_vm(&kvm_fd, &vm_fd);
    if (r < 0) {
        *why = strerror(-r);
        return false;
    }
    close(vm_fd);
    close(kvm_fd);
    return true;
}

static int check_ext(int ext)
{
    int r =
        ioctl(kvm_state.vm_fd >= 0 ? kvm_state.vm_fd : kvm_state.kvm_fd, KVM_CHECK_EXTENSION, ext);
    return r < 0 ? 0 : r;
}

/* What a new VM gets before any vCPU: the TSS and identity-map pages, irqchip and PIT. */
static int kvm_vm_setup(KVMState *s)
{
    /* Three pages below the BIOS for the real-mode TSS and one for the EPT identity map. */
    if (ioctl(s->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0 ||
        ioctl(s->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){0xfeffc000ULL}) < 0) {
        error_report("kvm: cannot set TSS/identity map address: %s", strerror(errno));
        return -1;
    }
    if (ioctl(s->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        error_report("Could not enable split/in-kernel irqchip: %s", strerror(errno));
        return -1;
    }
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(s->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        error_report("Create kernel PIT failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int kvm_init(const VireoConfig *cfg)
{
    KVMState *s = &kvm_state;
    int r = kvm_open_vm(&s->kvm_fd, &s->vm_fd);
    if (r < 0) {
        error_report("failed to initialize kvm: %s", strerror(-r));
        return -1;
    }
    /* QEMU's vCPU limits: a warning above the recommended count (KVM_CAP_NR_VCPUS, 4 when the
     * kernel does not say), the end above the maximum (KVM_CAP_MAX_VCPUS) */
    unsigned soft = check_ext(KVM_CAP_NR_VCPUS);
    soft = soft ? soft : 4;
    unsigned hard = check_ext(KVM_CAP_MAX_VCPUS);
    hard = hard ? hard : soft;
    const struct {
        const char *name;
        unsigned num;
    } nc[] = {
        {"SMP", cfg->smp.cpus},
        {"hotpluggable", cfg->smp.maxcpus > cfg->smp.cpus ? cfg->smp.maxcpus : cfg->smp.cpus}};
    for (size_t i = 0; i < 2; i++) {
        if (nc[i].num <= soft) {
            continue;
        }
        const char *saved = error_location;
        error_location = cfg->accels_from_option ? "-accel kvm: " : NULL;
        warn_report("Number of %s cpus requested (%u) exceeds the recommended cpus supported by "
                    "KVM (%u)",
                    nc[i].name, nc[i].num, soft);
        error_location = saved;
        if (nc[i].num > hard) {
            fprintf(stderr,
                    "Number of %s cpus requested (%u) exceeds the maximum cpus supported by KVM "
                    "(%u)\n",
                    nc[i].name, nc[i].num, hard);
            exit(1);
        }
    }
    s->run_size = ioctl(s->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (s->run_size <= 0) {
        error_report("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
        return -1;
    }
    if (kvm_vm_setup(s) < 0) {
        return -1;
    }
    /* Supported CPUID: grow the buffer until the kernel is satisfied. */
    for (int n = 128;; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
        c->nent = n;
        if (ioctl(s->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            s->supported_cpuid = c;
            break;
        }
        free(c);
        if (errno != E2BIG || n > 4096) {
            error_report("KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
            return -1;
        }
    }
    /* the -cpu model as QEMU's KVM builds it; each vCPU filters it (kvm_create_vcpus) */
    free(s->supported_words);
    s->supported_words = calloc(FW_WORDS, sizeof(uint32_t));
    kvm_supported_words(s->kvm_fd, s->supported_cpuid, s->supported_words);
    free(s->cpu_def);
    s->cpu_def = calloc(1, sizeof(*s->cpu_def));
    if (cfg->cpu_def) {
        *s->cpu_def = *cfg->cpu_def;
    } else {
        x86_cpu_def_parse(NULL, false, s->cpu_def);
    }
    char vendor[13] = {0};
    unsigned int v0[4];
    __cpuid(0, v0[0], v0[1], v0[2], v0[3]);
    memcpy(vendor, &v0[1], 4);
    memcpy(vendor + 4, &v0[3], 4);
    memcpy(vendor + 8, &v0[2], 4);
    uint32_t levels[2] = {0, 0};
    for (uint32_t i = 0; i < s->supported_cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &s->supported_cpuid->entries[i];
        if (e->function == 0 || e->function == 0x80000000) {
            levels[e->function ? 1 : 0] = e->eax;
        }
    }
    x86_cpu_def_kvm(s->cpu_def, vendor, s->supported_words, levels[0], levels[1]);
    x86_cpu_set_kvm_supported(s->supported_words, vendor, levels[0], levels[1]);
    if (kvm_memory_init() < 0 || kvm_memory_attach() < 0) {
        return -1;
    }
    struct sigaction sa = {.sa_handler = kick_handler};
    sigemptyset(&sa.sa_mask);
    sigaction(SIG_KICK, &sa, NULL);
    atomic_store(&s->stop, false);
    return 0;
}

/* A flat segment: 64-bit code (long mode), 32-bit code, or data. */
static void set_seg(struct kvm_segment *seg, uint16_t sel, bool code, bool code64)
{
    *seg = (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffff,
        .selector = sel,
        .type = code ? 0xb : 0x3, /* execute/read accessed, read/write accessed */
        .present = 1,
        .dpl = 0,
        .db = code64 ? 0 : 1,
        .s = 1,
        .l = code64 ? 1 : 0,
        .g = 1,
    };
}

static int setup_bsp(KVMVcpu *v, const X86BootState *bs)
{
    struct kvm_sregs sregs;
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
        return -1;
    }
    set_seg(&sregs.cs, bs->cs, true, !bs->protected32);
    set_seg(&sregs.ds, bs->ds, false, false);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.gdt.base = bs->gdt_base;
    sregs.gdt.limit = bs->gdt_limit;
    sregs.cr0 = bs->cr0;
    sregs.cr3 = bs->cr3;
    sregs.cr4 = bs->cr4;
    sregs.efer = bs->efer;
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
        return -1;
    }
    struct kvm_regs regs = {.rip = bs->rip,
                            .rsi = bs->rsi,
                            .rsp = bs->rsp,
                            .rflags = bs->rflags,
                            .rax = bs->rax,
                            .rbx = bs->rbx};
    return ioctl(v->fd, KVM_SET_REGS, &regs);
}

/* LINT0 as ExtINT (8259 pass-through) on the BSP, LINT1 as NMI everywhere, as firmware leaves it.
 */
static int setup_lapic(KVMVcpu *v)
{
    struct kvm_lapic_state l;
    if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0) {
        return -1;
    }
    uint32_t lvt0, lvt1;
    memcpy(&lvt0, &l.regs[0x350], 4);
    memcpy(&lvt1, &l.regs[0x360], 4);
    lvt0 = (lvt0 & ~0x1700u & ~(1u << 16)) | (v->index == 0 ? 0x700u : (1u << 16));
    lvt1 = (lvt1 & ~0x1700u & ~(1u << 16)) | 0x400u;
    memcpy(&l.regs[0x350], &lvt0, 4);
    memcpy(&l.regs[0x360], &lvt1, 4);
    return ioctl(v->fd, KVM_SET_LAPIC, &l);
}

/*
 * Power-on MSR values. Every vCPU's TSC is written with 0 at nearly the same moment: KVM
 * takes writes of one value close together as a request to synchronise the TSCs, so the
 * guest sees one stable TSC across CPUs.
 */
static int setup_msrs(KVMVcpu *v)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[2];
    } m = {.hdr.nmsrs = 2,
           .e = {
               {.index = 0x1a0 /* IA32_MISC_ENABLE: fast strings */, .data = 1},
               {.index = 0x10 /* IA32_TIME_STAMP_COUNTER */, .data = 0},
           }};
    return ioctl(v->fd, KVM_SET_MSRS, &m) == 2 ? 0 : -1;
}

static int kvm_create_vcpus(const VireoConfig *cfg, const X86CpuList *cpus,
                            const X86BootState *boot)
{
    KVMState *s = &kvm_state;
    s->n_vcpus = cpus->present;
    s->vcpus = calloc(s->n_vcpus, sizeof(KVMVcpu));
    for (unsigned i = 0; i < s->n_vcpus; i++) {
        s->vcpus[i].fd = -1;
    }
    for (unsigned i = 0; i < s->n_vcpus; i++) {
        KVMVcpu *v = &s->vcpus[i];
        v->index = i;
        v->apic_id = cpus->apic_id[i];
        v->fd = ioctl(s->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->apic_id);
        if (v->fd < 0) {
            error_report("kvm_init_vcpu: kvm_get_vcpu failed (%u): %s", i, strerror(errno));
            return -1;
        }
        v->run = mmap(NULL, s->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
            error_report("kvm: cannot map vCPU %u state: %s", i, strerror(errno));
            return -1;
        }
        /* as QEMU, every vCPU filters the model against KVM and warns (or, with enforce,
         * fails) */
        X86CPUDef def = *s->cpu_def;
        if (!x86_cpu_filter(&def, s->supported_words, NULL, "host")) {
            return -1;
        }
        struct kvm_cpuid2 *cpuid = kvm_build_cpuid(cfg, &def, s->supported_cpuid, v->apic_id);
        if (!cpuid) {
            return -1;
        }
        int r = ioctl(v->fd, KVM_SET_CPUID2, cpuid);
        free(cpuid);
        if (r < 0) {
            error_report("kvm: KVM_SET_CPUID2 failed: %s", strerror(errno));
            return -1;
        }
        if (setup_msrs(v) < 0 || setup_lapic(v) < 0) {
            error_report("kvm: cannot set up vCPU %u: %s", i, strerror(errno));
            return -1;
        }
        if (i == 0 && !boot->reset_vector && setup_bsp(v, boot) < 0) {
            error_report("kvm: cannot set boot CPU registers: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void dump_registers(KVMVcpu *v)
{
    struct kvm_regs r;
    struct kvm_sregs sr;
    if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
        return;
    }
    fprintf(stderr,
            "CPU#%u\n"
            "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
            "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
            "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
            "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
            "RIP=%016llx RFL=%08llx\n"
            "CS =%04x %016llx  SS =%04x %016llx\n"
            "GDT=     %016llx %08x\nIDT=     %016llx %08x\n"
            "CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx\nEFER=%016llx\n",
            v->index, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10,
            r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags, sr.cs.selector, sr.cs.base,
            sr.ss.selector, sr.ss.base, sr.gdt.base, sr.gdt.limit, sr.idt.base, sr.idt.limit,
            sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer);
}

/* After KVM_EXIT_SHUTDOWN: does the vCPU hold the architectural INIT state (CS=f000, RIP=fff0)? */
static bool shutdown_left_reset_state(KVMVcpu *v)
{
    struct kvm_regs r;
    struct kvm_sregs sr;
    return ioctl(v->fd, KVM_GET_REGS, &r) == 0 && ioctl(v->fd, KVM_GET_SREGS, &sr) == 0 &&
           r.rip == 0xfff0 && sr.cs.selector == 0xf000;
}

static void handle_io(struct kvm_run *run)
{
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool out = run->io.direction == KVM_EXIT_IO_OUT;
    for (uint32_t i = 0; i < run->io.count; i++) {
        pio_dispatch(run->io.port, data, run->io.size, out); /* takes the big lock */
        data += run->io.size;
    }
}

static void *vcpu_thread(void *arg)
{
    KVMVcpu *v = arg;
    KVMState *s = &kvm_state;
    struct kvm_run *run = v->run;
    this_run = run;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG_KICK);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    v->tid = (int)gettid();

    while (!atomic_load(&s->stop)) {
        pthread_mutex_lock(&pause_lock);
        if (paused && !atomic_load(&s->stop)) {
            v->parked = true;
            pthread_cond_broadcast(&pause_cond);
            while (paused && !atomic_load(&s->stop)) {
                pthread_cond_wait(&pause_cond, &pause_lock);
            }
            v->parked = false;
            pthread_mutex_unlock(&pause_lock);
            continue;
        }
        pthread_mutex_unlock(&pause_lock);
        int r = ioctl(v->fd, KVM_RUN, 0);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                run->immediate_exit = 0;
                continue;
            }
            error_report("error: kvm run failed %s", strerror(errno));
            dump_registers(v);
            machine_request_shutdown(SHUTDOWN_GUEST_PANIC);
            break;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            handle_io(run);
            break;
        case KVM_EXIT_MMIO:
            mmio_dispatch(run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_SHUTDOWN:
            error_report("vCPU %u: triple fault (KVM_EXIT_SHUTDOWN)", v->index);
            dump_registers(v);
            if (shutdown_left_reset_state(v)) {
                /* kvm-amd INITs the vCPU when it intercepts a shutdown (the VMCB is undefined
                 * afterwards), so the registers of the fault itself are gone. */
                fprintf(stderr,
                        "(these are the vCPU's INIT values: on AMD hosts KVM resets a vCPU "
                        "that shut down before returning, so the faulting state is lost)\n");
            }
            machine_request_shutdown(SHUTDOWN_GUEST_PANIC);
            goto out;
        case KVM_EXIT_SYSTEM_EVENT:
            machine_request_shutdown(run->system_event.type == KVM_SYSTEM_EVENT_RESET
                                         ? SHUTDOWN_GUEST_RESET
                                         : SHUTDOWN_GUEST_POWEROFF);
            goto out;
        case KVM_EXIT_INTERNAL_ERROR:
            error_report("KVM internal error. Suberror: %u", run->internal.suberror);
            for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++) {
                fprintf(stderr, "extra data[%u]: 0x%016llx\n", i,
                        (unsigned long long)run->internal.data[i]);
            }
            dump_registers(v);
            machine_request_shutdown(SHUTDOWN_GUEST_PANIC);
            goto out;
        case KVM_EXIT_FAIL_ENTRY:
            error_report("KVM: entry failed, hardware error 0x%llx",
                         (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            dump_registers(v);
            machine_request_shutdown(SHUTDOWN_GUEST_PANIC);
            goto out;
        default:
            error_report("KVM: unhandled exit reason %u", run->exit_reason);
            dump_registers(v);
            machine_request_shutdown(SHUTDOWN_GUEST_PANIC);
            goto out;
        }
    }
out:
    this_run = NULL;
    pthread_mutex_lock(&pause_lock);
    v->exited = true;
    pthread_cond_broadcast(&pause_cond);
    pthread_mutex_unlock(&pause_lock);
    return NULL;
}

static int kvm_start_vcpus(void)
{
    KVMState *s = &kvm_state;
    sigset_t set, old;
    /* Threads start with the kick signal blocked and unblock it once this_run is set. */
    sigemptyset(&set);
    sigaddset(&set, SIG_KICK);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (unsigned i = 0; i < s->n_vcpus; i++) {
        if (pthread_create(&s->vcpus[i].thread, NULL, vcpu_thread, &s->vcpus[i]) != 0) {
            error_report("cannot create vCPU thread");
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return -1;
        }
        s->vcpus[i].thread_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static void kvm_stop_vcpus(void)
{
    KVMState *s = &kvm_state;
    pthread_mutex_lock(&pause_lock);
    atomic_store(&s->stop, true);
    pthread_cond_broadcast(&pause_cond);
    pthread_mutex_unlock(&pause_lock);
    for (unsigned i = 0; i < s->n_vcpus; i++) {
        KVMVcpu *v = &s->vcpus[i];
        if (!v->thread_started) {
            continue;
        }
        /* Kick until the thread has left: a kick can land just before KVM_RUN is entered. */
        for (;;) {
            pthread_kill(v->thread, SIG_KICK);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0) {
                break;
            }
        }
        v->thread_started = false;
    }
}

/* Park every vCPU thread (kicking it out of KVM_RUN) and wait until all are parked. */
static void kvm_pause_vcpus(void)
{
    KVMState *s = &kvm_state;
    pthread_mutex_lock(&pause_lock);
    paused = true;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < s->n_vcpus; i++) {
            KVMVcpu *v = &s->vcpus[i];
            if (v->thread_started && !v->parked && !v->exited) {
                all = false;
                pthread_kill(v->thread, SIG_KICK);
            }
        }
        if (all) {
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pause_cond, &pause_lock, &ts);
    }
    pthread_mutex_unlock(&pause_lock);
}

static void kvm_resume_vcpus(void)
{
    pthread_mutex_lock(&pause_lock);
    paused = false;
    pthread_cond_broadcast(&pause_cond);
    pthread_mutex_unlock(&pause_lock);
}

static int kvm_vcpu_thread_id(unsigned index)
{
    KVMState *s = &kvm_state;
    if (index >= s->n_vcpus || !s->vcpus || !s->vcpus[index].thread_started) {
        return 0;
    }
    return s->vcpus[index].tid;
}

static char *kvm_format_registers(unsigned index)
{
    KVMState *s = &kvm_state;
    if (index >= s->n_vcpus || !s->vcpus || s->vcpus[index].fd < 0) {
        return NULL;
    }
    /* A running vCPU holds its state in the kernel: park everyone while reading. */
    pthread_mutex_lock(&pause_lock);
    bool was_paused = paused;
    pthread_mutex_unlock(&pause_lock);
    if (!was_paused) {
        kvm_pause_vcpus();
    }
    KVMVcpu *v = &s->vcpus[index];
    struct kvm_regs r;
    struct kvm_sregs sr;
    char *out = NULL;
    if (ioctl(v->fd, KVM_GET_REGS, &r) == 0 && ioctl(v->fd, KVM_GET_SREGS, &sr) == 0) {
        const struct kvm_segment *segs[] = {&sr.es, &sr.cs, &sr.ss,  &sr.ds,
                                            &sr.fs, &sr.gs, &sr.ldt, &sr.tr};
        static const char *const names[] = {
            "ES =", "CS =", "SS =", "DS =", "FS =", "GS =", "LDT=", "TR ="};
        char segtxt[8][80];
        for (int i = 0; i < 8; i++) {
            const struct kvm_segment *g = segs[i];
            uint32_t flags = (g->type << 8) | (g->s << 12) | (g->dpl << 13) | (g->present << 15) |
                             (g->avl << 20) | (g->l << 21) | (g->db << 22) | (g->g << 23);
            snprintf(segtxt[i], sizeof(segtxt[i]), "%s%04x %016llx %08x %08x", names[i],
                     g->selector, (unsigned long long)g->base, g->limit, flags);
        }
        out = g_strdup_printf(
            "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
            "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
            "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
            "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
            "RIP=%016llx RFL=%08llx [%c%c%c%c%c%c%c] CPL=%u\n"
            "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n"
            "GDT=     %016llx %08x\nIDT=     %016llx %08x\n"
            "CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx\n"
            "EFER=%016llx\n",
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12,
            r.r13, r.r14, r.r15, r.rip, r.rflags, r.rflags & (1 << 11) ? 'O' : '-',
            r.rflags & (1 << 10) ? 'D' : '-', r.rflags & (1 << 7) ? 'S' : '-',
            r.rflags & (1 << 6) ? 'Z' : '-', r.rflags & (1 << 4) ? 'A' : '-',
            r.rflags & (1 << 2) ? 'P' : '-', r.rflags & 1 ? 'C' : '-', sr.cs.dpl, segtxt[0],
            segtxt[1], segtxt[2], segtxt[3], segtxt[4], segtxt[5], segtxt[6], segtxt[7],
            (unsigned long long)sr.gdt.base, sr.gdt.limit, (unsigned long long)sr.idt.base,
            sr.idt.limit, sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer);
    }
    if (!was_paused) {
        kvm_resume_vcpus();
    }
    return out;
}

static void close_vcpus(KVMState *s)
{
    for (unsigned i = 0; i < s->n_vcpus; i++) {
        KVMVcpu *v = &s->vcpus[i];
        if (v->run && v->run != MAP_FAILED && s->run_size > 0) {
            munmap(v->run, s->run_size);
        }
        if (v->fd >= 0) {
            close(v->fd);
        }
    }
    free(s->vcpus);
    s->vcpus = NULL;
    s->n_vcpus = 0;
}

/*
 * Machine reset: a fresh VM under the same /dev/kvm descriptor. Everything KVM keeps for the
 * guest (registers, MSRs such as kvmclock's that point into RAM, the LAPICs, IOAPIC, PIC, PIT)
 * starts at power-on as at the first start, so nothing of the old run reaches the kept RAM;
 * the memory map, GSI routes and irqfds are handed to the new VM.
 */
static int kvm_reset(void)
{
    KVMState *s = &kvm_state;
    kvm_stop_vcpus();
    kvm_memory_detach();
    close_vcpus(s);
    if (s->vm_fd >= 0) {
        close(s->vm_fd);
    }
    do {
        s->vm_fd = ioctl(s->kvm_fd, KVM_CREATE_VM, 0);
    } while (s->vm_fd < 0 && errno == EINTR);
    if (s->vm_fd < 0) {
        error_report("ioctl(KVM_CREATE_VM) failed: %d %s", errno, strerror(errno));
        return -1;
    }
    if (kvm_vm_setup(s) < 0 || kvm_memory_attach() < 0) {
        return -1;
    }
    atomic_store(&s->stop, false);
    return 0;
}

static void kvm_destroy(void)
{
    KVMState *s = &kvm_state;
    kvm_stop_vcpus();
    if (s->vm_fd >= 0) {
        kvm_memory_detach();
    }
    kvm_memory_destroy();
    close_vcpus(s);
    free(s->supported_cpuid);
    free(s->supported_words);
    free(s->cpu_def);
    s->supported_words = NULL;
    x86_cpu_set_kvm_supported(NULL, NULL, 0, 0);
    s->cpu_def = NULL;
    if (s->vm_fd >= 0) {
        close(s->vm_fd);
    }
    if (s->kvm_fd >= 0) {
        close(s->kvm_fd);
    }
    memset(s, 0, sizeof(*s));
    s->kvm_fd = s->vm_fd = -1;
}

static void kvm_set_irq(unsigned gsi, int level)
{
    struct kvm_irq_level irq = {.irq = gsi, .level = level};
    if (kvm_state.vm_fd >= 0) {
        ioctl(kvm_state.vm_fd, KVM_IRQ_LINE, &irq);
    }
}

const AccelOps kvm_accel_ops = {
    .name = "kvm",
    .has_kernel_irqchip = true,
    .available = kvm_available,
    .init = kvm_init,
    .create_vcpus = kvm_create_vcpus,
    .start_vcpus = kvm_start_vcpus,
    .stop_vcpus = kvm_stop_vcpus,
    .destroy = kvm_destroy,
    .reset = kvm_reset,
    .set_irq = kvm_set_irq,
    .send_msi = kvm_send_msi,
    .irqfd_add = kvm_irqfd_add,
    .irqfd_update = kvm_irqfd_update,
    .irqfd_del = kvm_irqfd_del,
    .pause_vcpus = kvm_pause_vcpus,
    .resume_vcpus = kvm_resume_vcpus,
    .vcpu_thread_id = kvm_vcpu_thread_id,
    .format_registers = kvm_format_registers,
};
