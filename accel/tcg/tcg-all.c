/*
 * The TCG accelerator: the AccelOps the machine calls (docs/tcg.md). One host thread per vCPU
 * runs tcg_cpu_exec(); HLT sleeps on the vCPU's condition variable until x86_cpu_kick() says an
 * interrupt may be pending. Interrupt controllers are the userspace ones in hw/intc, reached
 * through the X86IrqChip interface (include/vireo/x86-irq.h).
 */
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "vireo/x86-cpu-model.h"
#include "vireo/accel.h"
#include "vireo/error.h"
#include "vireo/irqchip.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/tcg.h"
#include "vireo/x86-irq.h"
#include "vireo/x86.h"

#define CPU_INTERRUPT_INIT 0x4u
#define CPU_INTERRUPT_SIPI 0x8u

typedef struct TCGVcpu {
    CPUX86State *env;
    MemoryReader reader; /* quiescent at the exec loop top, offline while asleep */
    unsigned index;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool wait_sipi; /* an AP before its startup IPI, or any CPU after INIT */
    uint8_t sipi_vector;
    int tid;
    bool parked, exited;
} TCGVcpu;

/* stop/cont: vCPU threads park on pause_cond while `paused` is set (kept across resets). */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pause_cond = PTHREAD_COND_INITIALIZER;
static bool paused;

static struct {
    TCGVcpu *vcpus;
    unsigned n;
    volatile bool stop;
    const VireoConfig *cfg;
    X86CPUDef cpu_def; /* the -cpu model as TCG gives it */
} tcg;

static _Thread_local int current_cpu = -1;
static uint64_t tsc_hz;
#define irqchip (x86_irq_chip())

int x86_cpu_current(void)
{
    return current_cpu;
}

static void calibrate_tsc(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t t0 = x86_host_tsc();
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 10000000L);
    uint64_t t1 = x86_host_tsc();
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    /* round to 1 MHz: the guest calibrates against the PIT anyway */
    tsc_hz = (uint64_t)((double)(t1 - t0) * 1e9 / ns / 1e6 + 0.5) * 1000000ull;
}

uint64_t x86_tsc_hz(void)
{
    if (!tsc_hz) {
        calibrate_tsc();
    }
    return tsc_hz;
}

uint64_t x86_cpu_tsc(unsigned cpu)
{
    if (cpu >= tcg.n) {
        return x86_host_tsc();
    }
    return x86_host_tsc() + tcg.vcpus[cpu].env->tsc_offset;
}

static void signal_cpu(unsigned cpu, uint32_t bits)
{
    if (cpu >= tcg.n || !tcg.vcpus) {
        return;
    }
    TCGVcpu *v = &tcg.vcpus[cpu];
    pthread_mutex_lock(&v->lock);
    __atomic_fetch_or(&v->env->interrupt_request, bits, __ATOMIC_SEQ_CST);
    v->env->exit_request = 1;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
}

void x86_cpu_kick(unsigned cpu)
{
    signal_cpu(cpu, CPU_INTERRUPT_HARD);
}

void x86_cpu_nmi(unsigned cpu)
{
    signal_cpu(cpu, CPU_INTERRUPT_NMI);
}

void x86_cpu_init_signal(unsigned cpu)
{
    /* a SIPI still pending is older than this INIT: drop it; one sent later is kept */
    if (cpu < tcg.n && tcg.vcpus) {
        __atomic_fetch_and(&tcg.vcpus[cpu].env->interrupt_request, ~CPU_INTERRUPT_SIPI,
                           __ATOMIC_SEQ_CST);
    }
    signal_cpu(cpu, CPU_INTERRUPT_INIT);
}

void x86_cpu_sipi(unsigned cpu, uint8_t vector)
{
    if (cpu >= tcg.n || !tcg.vcpus) {
        return;
    }
    TCGVcpu *v = &tcg.vcpus[cpu];
    pthread_mutex_lock(&v->lock);
    v->sipi_vector = vector;
    pthread_mutex_unlock(&v->lock);
    signal_cpu(cpu, CPU_INTERRUPT_SIPI);
}

/* At a block boundary with interrupt_request set: a vector to deliver, -1, or -2 to leave. */
int tcg_irq_poll(CPUX86State *env)
{
    uint32_t req = __atomic_load_n(&env->interrupt_request, __ATOMIC_SEQ_CST);
    if (req & (CPU_INTERRUPT_INIT | CPU_INTERRUPT_SIPI)) {
        return -2;
    }
    if (req & CPU_INTERRUPT_NMI) {
        __atomic_fetch_and(&env->interrupt_request, ~CPU_INTERRUPT_NMI, __ATOMIC_SEQ_CST);
        return EXCP_NMI;
    }
    if (!(req & CPU_INTERRUPT_HARD) || !(env->eflags & RFLAGS_IF)) {
        return -1;
    }
    __atomic_fetch_and(&env->interrupt_request, ~CPU_INTERRUPT_HARD, __ATOMIC_SEQ_CST);
    if (!irqchip) {
        return -1;
    }
    vireo_lock();
    int v = irqchip->pending_vector(env->cpu_index);
    if (v >= 0) {
        irqchip->ack(env->cpu_index, v);
        /* more may be pending: look again at the next boundary */
        __atomic_fetch_or(&env->interrupt_request, CPU_INTERRUPT_HARD, __ATOMIC_SEQ_CST);
    }
    vireo_unlock();
    return v;
}

/* What the userspace irqchip calls on the vCPUs (irqchip.h): installed by tcg_init. */
static const IrqchipCpuHooks tcg_cpu_hooks = {
    .kick = x86_cpu_kick,
    .nmi = x86_cpu_nmi,
    .init_signal = x86_cpu_init_signal,
    .sipi = x86_cpu_sipi,
    .current = x86_cpu_current,
    .tsc = x86_cpu_tsc,
    .tsc_hz = x86_tsc_hz,
};

/* Drop translated code on every page of [start, last] that has some (RAM pages only). */
static void invalidate_code(uint64_t start, uint64_t last)
{
    uint64_t top = ram_top();
    if (start >= top) {
        return;
    }
    if (last >= top) {
        last = top - 1;
    }
    for (uint64_t pg = start & ~0xfffull; pg <= last; pg += 4096) {
        if (tb_page_has_code(pg)) {
            tb_invalidate_phys_page(pg);
        }
    }
}

/*
 * The memory map changed: code on pages whose backing changed is stale (PAM, a ROM mapped over
 * RAM); every vCPU flushes its TLB at its next loop top (the current one right away, it may go
 * on in the same block).
 */
static void tcg_mem_commit(MemoryListener *l, AddressSpace *as, const FlatView *old,
                           const FlatView *view)
{
    (void)l;
    if (as != &address_space_memory || !old || !view) {
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        const FlatView *a = pass ? view : old, *b = pass ? old : view;
        for (unsigned i = 0; i < a->n; i++) {
            const FlatRange *r = &a->ranges[i];
            if (r->mr->type != MR_RAM) {
                continue;
            }
            /* the parts of r that b does not show the same way */
            uint64_t addr = r->start;
            for (;;) {
                const FlatRange *q = flatview_lookup(b, addr);
                uint64_t end = r->last;
                bool same = q && q->mr == r->mr && q->readonly == r->readonly &&
                            q->offset - r->offset == q->start - r->start;
                if (q && q->last < end) {
                    end = q->last;
                }
                if (!q) {
                    /* up to the next range of b */
                    for (unsigned j = 0; j < b->n; j++) {
                        if (b->ranges[j].start > addr && b->ranges[j].start - 1 < end) {
                            end = b->ranges[j].start - 1;
                            break;
                        }
                    }
                }
                if (!same) {
                    if (addr >= ram_top()) {
                        tcg_request_flush();
                    } else {
                        invalidate_code(addr, end);
                    }
                }
                if (end >= r->last) {
                    break;
                }
                addr = end + 1;
            }
        }
    }
    for (unsigned i = 0; i < tcg.n; i++) {
        tcg.vcpus[i].env->exit_request = 1;
    }
    if (current_cpu >= 0 && (unsigned)current_cpu < tcg.n) {
        CPUX86State *env = tcg.vcpus[current_cpu].env;
        x86_tlb_flush(env, true);
        env->mem_gen = view->generation;
    }
}

static MemoryListener tcg_listener = {.commit = tcg_mem_commit};

static void tcg_ram_written(uint64_t gpa, uint64_t len)
{
    if (len) {
        invalidate_code(gpa, gpa + len - 1 < gpa ? UINT64_MAX : gpa + len - 1);
    }
}

static void tcg_send_msi(uint64_t addr, uint32_t data)
{
    if (irqchip && irqchip->send_msi) {
        irqchip->send_msi(addr, data);
    }
}

static bool tcg_available(const char **why)
{
#if defined(__x86_64__)
    (void)why;
    return true;
#else
    *why = "the translator needs an x86-64 host";
    return false;
#endif
}

static int tcg_init(const VireoConfig *cfg)
{
    tcg.cfg = cfg;
    tcg.stop = false;
    /* VIREO_TCG_BUFFER_MB: a smaller code buffer, for tests of the flush (at least 4 MiB) */
    size_t mb = 256;
    const char *e = getenv("VIREO_TCG_BUFFER_MB");
    if (e && atoi(e) >= 4) {
        mb = (size_t)atoi(e);
    }
    /* the -cpu model less what the translator cannot give, with QEMU's warnings */
    if (cfg->cpu_def) {
        tcg.cpu_def = *cfg->cpu_def;
    } else {
        x86_cpu_def_parse(NULL, true, &tcg.cpu_def);
    }
    uint32_t sup[FW_WORDS], quiet[FW_WORDS];
    x86_tcg_supported(sup);
    x86_tcg_quiet(quiet);
    if (!x86_cpu_filter(&tcg.cpu_def, sup, quiet, "TCG")) {
        return -1;
    }
    tcg_exec_init(mb << 20);
    x86_tsc_hz();
    irqchip_set_cpu_hooks(&tcg_cpu_hooks);
    memory_listener_register(&tcg_listener);
    return 0;
}

/*
 * A vCPU's state on 2 MiB pages where the host allows it: generated code reaches the softmmu TLB
 * on every guest memory access and the jump cache (1 MiB) on every indirect branch, and spread
 * over 4 KiB pages those cost the host a TLB miss each time.
 */
static CPUX86State *env_alloc(void)
{
    size_t align = 2u << 20, size = (sizeof(CPUX86State) + align - 1) & ~(align - 1);
    void *p;
    if (posix_memalign(&p, align, size)) {
        return NULL;
    }
    madvise(p, size, MADV_HUGEPAGE); /* a hint: without it the state works as well */
    memset(p, 0, sizeof(CPUX86State));
    return p;
}

static int tcg_create_vcpus(const VireoConfig *cfg, const X86CpuList *cpus,
                            const X86BootState *boot)
{
    tcg.n = cpus->present;
    tcg.vcpus = calloc(tcg.n, sizeof(TCGVcpu));
    if (!tcg.vcpus) {
        error_report("tcg: out of memory");
        return -1;
    }
    uint64_t tsc0 = x86_host_tsc();
    for (unsigned i = 0; i < tcg.n; i++) {
        TCGVcpu *v = &tcg.vcpus[i];
        v->index = i;
        v->env = env_alloc();
        if (!v->env) {
            error_report("tcg: out of memory");
            return -1;
        }
        pthread_mutex_init(&v->lock, NULL);
        pthread_cond_init(&v->cond, NULL);
        CPUX86State *env = v->env;
        env->softmmu = true;
        memory_reader_register(&v->reader);
        env->mem_reader = &v->reader;
        env->cpu_index = i;
        env->apic_id = cpus->apic_id[i];
        env->cpuid_threads = cfg->smp.threads;
        env->cpuid_cores = cfg->smp.cores;
        env->cpuid_cpus = tcg.n;
        env->cpu_def = &tcg.cpu_def;
        tcg_cpu_reset(env);
        x86_cpu_reset_state(env);
        env->tsc_offset = 0 - tsc0;
        env->apic_base = 0xfee00000ull | (1u << 11) | (i == 0 ? (1u << 8) : 0);
        if (i == 0 && boot->reset_vector) {
            /* power-on state, as x86_cpu_reset_state() left it: CS=F000 base FFFF0000, IP FFF0 */
        } else if (i == 0 && boot->protected32) {
            /* Multiboot: flat 32-bit protected mode, paging off, EAX/EBX from the loader */
            x86_cpu_set_protected32(env, boot->cr0, boot->cs, boot->ds);
            env->gdt_base = boot->gdt_base;
            env->gdt_limit = boot->gdt_limit;
            env->rip = boot->rip;
            env->regs[R_EAX] = boot->rax;
            env->regs[R_EBX] = boot->rbx;
            env->regs[R_ESP] = boot->rsp;
            env->regs[R_EDX] = 0;
            x86_set_rflags(env, boot->rflags | RFLAGS_FIXED);
        } else if (i == 0) {
            x86_cpu_set_long_mode(env, boot->cr0, boot->cr3, boot->cr4, boot->efer, boot->cs,
                                  boot->ds);
            env->gdt_base = boot->gdt_base;
            env->gdt_limit = boot->gdt_limit;
            env->rip = boot->rip;
            env->regs[R_ESI] = boot->rsi;
            env->regs[R_ESP] = boot->rsp;
            env->regs[R_EDX] = 0;
            x86_set_rflags(env, boot->rflags | RFLAGS_FIXED);
        } else {
            v->wait_sipi = true;
        }
    }
    return 0;
}

static void dump_registers(TCGVcpu *v)
{
    char *s = x86_cpu_format_registers(v->env);
    if (s) {
        fprintf(stderr, "CPU#%u\n%s", v->index, s);
        free(s);
    }
}

/* Sleep until something is pending (HLT, wait-for-SIPI). Returns false when stopping. */
static bool wait_event(TCGVcpu *v, uint32_t bits)
{
    memory_reader_offline(&v->reader);
    pthread_mutex_lock(&v->lock);
    while (!tcg.stop && !v->env->stop_request && !(v->env->interrupt_request & bits)) {
        pthread_cond_wait(&v->cond, &v->lock);
    }
    pthread_mutex_unlock(&v->lock);
    return !tcg.stop;
}

static void handle_init_sipi(TCGVcpu *v)
{
    CPUX86State *env = v->env;
    uint32_t req = __atomic_load_n(&env->interrupt_request, __ATOMIC_SEQ_CST);
    if (req & CPU_INTERRUPT_INIT) {
        /* a SIPI pending now came after the INIT (x86_cpu_init_signal drops older ones) */
        __atomic_fetch_and(&env->interrupt_request, ~CPU_INTERRUPT_INIT, __ATOMIC_SEQ_CST);
        uint64_t tsc_offset = env->tsc_offset, apic_base = env->apic_base;
        x86_cpu_reset_state(env);
        env->tsc_offset = tsc_offset;
        env->apic_base = apic_base;
        v->wait_sipi = true;
        return;
    }
    if (req & CPU_INTERRUPT_SIPI) {
        __atomic_fetch_and(&env->interrupt_request, ~CPU_INTERRUPT_SIPI, __ATOMIC_SEQ_CST);
        if (v->wait_sipi) {
            /* start in real mode at vector << 12: CS = vector << 8, IP = 0 */
            SegmentCache *cs = &env->segs[R_CS];
            cs->selector = (uint16_t)(v->sipi_vector << 8);
            cs->base = (uint64_t)v->sipi_vector << 12;
            env->rip = 0;
            env->halted = false;
            v->wait_sipi = false;
        }
    }
}

static void *vcpu_thread(void *arg)
{
    TCGVcpu *v = arg;
    CPUX86State *env = v->env;
    current_cpu = (int)v->index;
    v->tid = (int)gettid();
    while (!tcg.stop) {
        pthread_mutex_lock(&pause_lock);
        if (paused && !tcg.stop) {
            memory_reader_offline(&v->reader);
            v->parked = true;
            pthread_cond_broadcast(&pause_cond);
            while (paused && !tcg.stop) {
                pthread_cond_wait(&pause_cond, &pause_lock);
            }
            v->parked = false;
        }
        if (!tcg.stop) {
            env->stop_request = false;
        }
        pthread_mutex_unlock(&pause_lock);
        if (tcg.stop) {
            break;
        }
        if (env->interrupt_request & (CPU_INTERRUPT_INIT | CPU_INTERRUPT_SIPI)) {
            handle_init_sipi(v);
            continue;
        }
        if (v->wait_sipi) {
            if (!wait_event(v, CPU_INTERRUPT_INIT | CPU_INTERRUPT_SIPI)) {
                break;
            }
            continue;
        }
        if (env->halted) {
            if (!wait_event(v, CPU_INTERRUPT_HARD | CPU_INTERRUPT_NMI | CPU_INTERRUPT_INIT |
                                   CPU_INTERRUPT_SIPI)) {
                break;
            }
            uint32_t req = env->interrupt_request;
            if (req & (CPU_INTERRUPT_NMI | CPU_INTERRUPT_INIT | CPU_INTERRUPT_SIPI)) {
                env->halted = false;
                continue;
            }
            /* a maskable interrupt wakes HLT only when IF=1 and the irqchip has one */
            __atomic_fetch_and(&env->interrupt_request, ~CPU_INTERRUPT_HARD, __ATOMIC_SEQ_CST);
            int pending = -1;
            if ((env->eflags & RFLAGS_IF) && irqchip) {
                vireo_lock();
                pending = irqchip->pending_vector(v->index);
                vireo_unlock();
            }
            if (pending >= 0) {
                __atomic_fetch_or(&env->interrupt_request, CPU_INTERRUPT_HARD, __ATOMIC_SEQ_CST);
                env->halted = false;
            }
            continue;
        }
        int r = tcg_cpu_exec(env);
        switch (r) {
        case EXCP_HLT:
            env->halted = true;
            break;
        case EXCP_TRIPLE:
            error_report("vCPU %u: triple fault", v->index);
            dump_registers(v);
            machine_request_shutdown(SHUTDOWN_GUEST_PANIC);
            goto out;
        default:
            break;
        }
    }
out:
    memory_reader_offline(&v->reader);
    current_cpu = -1;
    pthread_mutex_lock(&pause_lock);
    v->exited = true;
    pthread_cond_broadcast(&pause_cond);
    pthread_mutex_unlock(&pause_lock);
    return NULL;
}

/* Make every vCPU leave generated code (or its HLT sleep) and come back to the loop top. */
static void kick_all(void)
{
    for (unsigned i = 0; i < tcg.n; i++) {
        TCGVcpu *v = &tcg.vcpus[i];
        pthread_mutex_lock(&v->lock);
        v->env->stop_request = true;
        v->env->exit_request = 1;
        pthread_cond_broadcast(&v->cond);
        pthread_mutex_unlock(&v->lock);
    }
}

static void tcg_pause_vcpus(void)
{
    pthread_mutex_lock(&pause_lock);
    paused = true;
    pthread_mutex_unlock(&pause_lock);
    kick_all();
    pthread_mutex_lock(&pause_lock);
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < tcg.n; i++) {
            TCGVcpu *v = &tcg.vcpus[i];
            all &= !v->thread_started || v->parked || v->exited;
        }
        if (all) {
            break;
        }
        pthread_cond_wait(&pause_cond, &pause_lock);
    }
    pthread_mutex_unlock(&pause_lock);
}

static void tcg_resume_vcpus(void)
{
    pthread_mutex_lock(&pause_lock);
    paused = false;
    pthread_cond_broadcast(&pause_cond);
    pthread_mutex_unlock(&pause_lock);
}

static int tcg_vcpu_thread_id(unsigned index)
{
    return index < tcg.n ? tcg.vcpus[index].tid : 0;
}

static char *tcg_format_registers(unsigned index)
{
    if (index >= tcg.n) {
        return NULL;
    }
    char *s = x86_cpu_format_registers(tcg.vcpus[index].env);
    char *g = s ? g_strdup(s) : NULL;
    free(s);
    return g;
}

static int tcg_start_vcpus(void)
{
    for (unsigned i = 0; i < tcg.n; i++) {
        if (pthread_create(&tcg.vcpus[i].thread, NULL, vcpu_thread, &tcg.vcpus[i]) != 0) {
            error_report("cannot create vCPU thread");
            return -1;
        }
        tcg.vcpus[i].thread_started = true;
    }
    return 0;
}

static void tcg_stop_vcpus(void)
{
    pthread_mutex_lock(&pause_lock);
    tcg.stop = true;
    pthread_cond_broadcast(&pause_cond);
    pthread_mutex_unlock(&pause_lock);
    for (unsigned i = 0; i < tcg.n; i++) {
        TCGVcpu *v = &tcg.vcpus[i];
        pthread_mutex_lock(&v->lock);
        v->env->stop_request = true;
        v->env->exit_request = 1;
        pthread_cond_broadcast(&v->cond);
        pthread_mutex_unlock(&v->lock);
    }
    for (unsigned i = 0; i < tcg.n; i++) {
        if (tcg.vcpus[i].thread_started) {
            pthread_join(tcg.vcpus[i].thread, NULL);
            tcg.vcpus[i].thread_started = false;
        }
    }
}

/* The vCPUs go (their threads have stopped), and with them every translated block. */
static void forget_vcpus(void)
{
    tcg_exec_forget_cpus();
    for (unsigned i = 0; i < tcg.n; i++) {
        memory_reader_unregister(&tcg.vcpus[i].reader);
        pthread_mutex_destroy(&tcg.vcpus[i].lock);
        pthread_cond_destroy(&tcg.vcpus[i].cond);
        free(tcg.vcpus[i].env);
    }
    free(tcg.vcpus);
    tcg.vcpus = NULL;
    tcg.n = 0;
}

static void tcg_destroy(void)
{
    if (irqchip && irqchip->reset) {
        irqchip->reset();
    }
    memory_listener_unregister(&tcg_listener);
    irqchip_set_cpu_hooks(NULL);
    forget_vcpus();
}

static int tcg_reset(void)
{
    forget_vcpus();
    tcg.stop = false;
    return 0;
}

static void tcg_set_irq(unsigned gsi, int level)
{
    if (irqchip && irqchip->set_irq) {
        irqchip->set_irq(gsi, level);
    }
}

const AccelOps tcg_accel_ops = {
    .name = "tcg",
    .available = tcg_available,
    .init = tcg_init,
    .create_vcpus = tcg_create_vcpus,
    .start_vcpus = tcg_start_vcpus,
    .stop_vcpus = tcg_stop_vcpus,
    .destroy = tcg_destroy,
    .reset = tcg_reset,
    .set_irq = tcg_set_irq,
    .send_msi = tcg_send_msi,
    .ram_written = tcg_ram_written,
    .pause_vcpus = tcg_pause_vcpus,
    .resume_vcpus = tcg_resume_vcpus,
    .vcpu_thread_id = tcg_vcpu_thread_id,
    .format_registers = tcg_format_registers,
};
