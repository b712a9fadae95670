/*
 * Translation blocks at run time: the executable code buffer, the TB hash table, the per-vCPU
 * jump cache, direct chaining of goto_tb exits, and the cpu_exec loop (docs/tcg.md).
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "vireo/memory.h"
#include "vireo/tcg.h"

#define TB_HASH_BITS 15
#define TB_HASH_SIZE (1u << TB_HASH_BITS)
#define MAX_CPUS     288
#define TB_MIN_SPACE (64 * 1024)

static uint8_t *code_buf, *code_ptr, *code_end, *code_gen_start;
static TranslationBlock *tbs;
static size_t nb_tbs, max_tbs;
static TranslationBlock *tb_hash[TB_HASH_SIZE];
static TCGContext *tcg_ctx;
static CPUX86State *cpus[MAX_CPUS];
static unsigned nb_cpus;
static uint64_t flush_count;
static bool dump_tbs;  /* VIREO_TCG_DUMP=1: IR and host code of every TB on stderr */
static FILE *perf_map; /* VIREO_PERF_MAP=1: /tmp/perf-PID.map, for perf report */
static void print_stats(void);
static bool log_exceptions; /* VIREO_TCG_EXC=1: every exception delivered, on stderr */

TCGStats tcg_stats;
bool tcg_chaining = true;

/*
 * One lock over translation, the TB hash, chaining and invalidation (vCPU threads share the
 * code buffer). The jump-cache fast path runs without it.
 */
static pthread_mutex_t tb_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool tb_lock_held;

static void tb_lock(void)
{
    pthread_mutex_lock(&tb_mutex);
    tb_lock_held = true;
}

static void tb_unlock(void)
{
    tb_lock_held = false;
    pthread_mutex_unlock(&tb_mutex);
}

/*
 * Flushing the code buffer while several vCPUs run (system mode): a vCPU inside its exec loop
 * counts as running; the flush waits until every other vCPU has left generated code and parks
 * them at their loop top meanwhile (stop the world). The buffer asks for a flush when it is
 * nearly full (flush_margin), long before it really is.
 */
static size_t flush_margin; /* min(32 MiB, a quarter of the buffer) */
static pthread_mutex_t excl_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t excl_cond = PTHREAD_COND_INITIALIZER;
static int excl_running;
static int excl_pending; /* a flush is waiting for the others or running */
static int flush_wanted; /* the buffer is nearly full */

static void exec_start(CPUX86State *env)
{
    if (env->in_exec) {
        return;
    }
    pthread_mutex_lock(&excl_mutex);
    while (excl_pending) {
        pthread_cond_wait(&excl_cond, &excl_mutex);
    }
    excl_running++;
    env->in_exec = true;
    pthread_mutex_unlock(&excl_mutex);
}

static void exec_end(CPUX86State *env)
{
    if (!env->in_exec) {
        return;
    }
    pthread_mutex_lock(&excl_mutex);
    excl_running--;
    env->in_exec = false;
    pthread_cond_broadcast(&excl_cond);
    pthread_mutex_unlock(&excl_mutex);
}

/* Code pages (system mode): per guest physical page, the TBs made from it. */
static TranslationBlock **page_tbs;
static uint64_t page_count;

static TranslationBlock **page_slot(uint64_t pa_page)
{
    uint64_t n = pa_page >> 12;
    if (!page_tbs) {
        page_count = ram_top() >> 12;
        page_tbs = calloc(page_count ? page_count : 1, sizeof(*page_tbs));
        if (!page_tbs) {
            abort();
        }
    }
    return n < page_count ? &page_tbs[n] : NULL;
}

bool tb_page_has_code(uint64_t pa_page)
{
    TranslationBlock **slot = page_slot(pa_page);
    return slot && __atomic_load_n(slot, __ATOMIC_RELAXED) != NULL;
}

/* Never matches: pc + flags<<52 cannot be this for a canonical pc and flags < 16. */
static TranslationBlock dummy_tb = {.neg_key = (uint64_t)0 - 0x8000000000000001ull};

static uint64_t tb_key(uint64_t pc, uint32_t flags)
{
    return pc + ((uint64_t)flags << 52);
}

/* Each TB's code is preceded by a pointer to the TB (so a jump-cache slot needs only the code). */
#define TB_HEADER 16

static TranslationBlock *tb_of_code(const uint8_t *code)
{
    TranslationBlock *tb;
    memcpy(&tb, code - TB_HEADER, sizeof(tb));
    return tb;
}

static const TBJmpCacheEntry jmp_cache_empty = {.neg_key = (uint64_t)0 - 0x8000000000000001ull};

void tcg_exec_init(size_t size)
{
    if (code_buf) {
        return;
    }
    code_buf =
        mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code_buf == MAP_FAILED) {
        perror("tcg: mmap code buffer");
        abort();
    }
    code_end = code_buf + size;
    flush_margin = size / 4 < (32u << 20) ? size / 4 : (32u << 20);
    int n = tcg_gen_prologue(code_buf, 256);
    code_gen_start = code_buf + ((n + 63) & ~63);
    code_ptr = code_gen_start;
    max_tbs = size / 128;
    tbs = calloc(max_tbs, sizeof(*tbs));
    tcg_ctx = calloc(1, sizeof(*tcg_ctx));
    if (!tbs || !tcg_ctx) {
        abort();
    }
    tcg_ctx_init(tcg_ctx);
    dump_tbs = getenv("VIREO_TCG_DUMP") != NULL;
    if (getenv("VIREO_TCG_STATS")) {
        atexit(print_stats);
    }
    if (getenv("VIREO_PERF_MAP")) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
        perf_map = fopen(path, "w");
        if (perf_map) {
            setvbuf(perf_map, NULL, _IOLBF, 0);
        }
    }
    log_exceptions = getenv("VIREO_TCG_EXC") != NULL;
    tcg_scramble_undef = getenv("VIREO_TCG_SCRAMBLE") != NULL;
}

static void print_stats(void)
{
    fprintf(stderr,
            "tcg stats: %llu TBs (%llu guest insns, %llu host bytes), %llu flushes, %llu chains, "
            "%llu slow lookups, %llu loop entries, %llu jump-cache clears\n",
            (unsigned long long)tcg_stats.tbs, (unsigned long long)tcg_stats.guest_insns,
            (unsigned long long)tcg_stats.host_bytes, (unsigned long long)tcg_stats.tb_flushes,
            (unsigned long long)tcg_stats.chains, (unsigned long long)tcg_stats.lookups_slow,
            (unsigned long long)tcg_stats.loop_entries,
            (unsigned long long)tcg_stats.jmp_cache_clears);
}

_Static_assert(TB_JMP_CACHE_BITS <= 16, "jump-cache log entries are 16-bit slot numbers");

static void jmp_cache_clear(CPUX86State *env)
{
    for (unsigned i = 0; i < TB_JMP_CACHE_SIZE; i++) {
        env->jmp_cache[i] = jmp_cache_empty;
    }
    env->jmp_cache_log_n = 0;
}

/* Is the code page of pc mapped global (CR4.PGE) in the vCPU's TLB right now? */
static bool code_page_global(const CPUX86State *env, uint64_t pc)
{
    if (!env->softmmu) {
        return false;
    }
    int m = env->cpl == 3 ? 1 : 0;
    unsigned i = (unsigned)(pc >> 12) & (TLB_SIZE - 1);
    return env->tlb_global[m][i] &&
           (env->tlb[m][i].addr_code & ~(uint64_t)TLB_SLOW) == (pc & ~0xfffull);
}

/*
 * Fill a slot. The log lists the slots a non-global TLB flush must clear: a TB reached through
 * a global mapping (the kernel's) stays valid across CR3 writes, so it is not logged.
 */
static void jmp_cache_set(CPUX86State *env, unsigned slot, TranslationBlock *tb, bool global)
{
    TBJmpCacheEntry e = {.neg_key = tb->neg_key, .code = tb->code};
    if (global) {
        env->jmp_cache[slot] = e; /* a stale logged slot may be reused: harmless */
        return;
    }
    /* logged on every such fill: the slot may have held a global TB that was not logged */
    if (env->jmp_cache_log_n < TB_JMP_CACHE_LOG) {
        env->jmp_cache_log[env->jmp_cache_log_n] = (uint16_t)slot;
    }
    env->jmp_cache_log_n++;
    env->jmp_cache[slot] = e;
}

/*
 * A TLB flush (CR3 write): every slot may now be stale. A context switch typically refills a
 * few hundred of the 64K slots before the next one, so clear just the slots the log names;
 * clearing all 512 KiB each time cost more than the lookups it protects.
 */
void tcg_jmp_cache_clear(CPUX86State *env, bool include_global)
{
    tcg_stats.jmp_cache_clears++;
    if (include_global || env->jmp_cache_log_n > TB_JMP_CACHE_LOG) {
        jmp_cache_clear(env);
        return;
    }
    for (uint32_t i = 0; i < env->jmp_cache_log_n; i++) {
        env->jmp_cache[env->jmp_cache_log[i]] = jmp_cache_empty;
    }
    env->jmp_cache_log_n = 0;
}

/* The jump cache is indexed by the low 16 bits of RIP: one page's TBs sit in 4096 slots. */
void tcg_jmp_cache_clear_page(CPUX86State *env, uint64_t va)
{
    unsigned base = (unsigned)(va & (TB_JMP_CACHE_SIZE - 1) & ~0xfffu);
    for (unsigned i = 0; i < 4096; i++) {
        env->jmp_cache[base + i] = jmp_cache_empty;
    }
}

void tcg_exec_flush(void)
{
    if (page_tbs) {
        memset(page_tbs, 0, page_count * sizeof(*page_tbs));
    }
    code_ptr = code_gen_start;
    nb_tbs = 0;
    memset(tb_hash, 0, sizeof(tb_hash));
    for (unsigned i = 0; i < nb_cpus; i++) {
        jmp_cache_clear(cpus[i]);
    }
    flush_count++;
    tcg_stats.tb_flushes++;
}

/* Called from a vCPU's loop top (not in generated code, tb_lock not held). */
static void flush_exclusive(CPUX86State *env)
{
    exec_end(env);
    pthread_mutex_lock(&excl_mutex);
    if (excl_pending || !__atomic_load_n(&flush_wanted, __ATOMIC_ACQUIRE)) {
        while (excl_pending) { /* another vCPU flushes */
            pthread_cond_wait(&excl_cond, &excl_mutex);
        }
    } else {
        excl_pending = 1;
        for (unsigned i = 0; i < nb_cpus; i++) {
            cpus[i]->exit_request = 1;
        }
        while (excl_running > 0) {
            pthread_cond_wait(&excl_cond, &excl_mutex);
        }
        tb_lock();
        tcg_exec_flush();
        __atomic_store_n(&flush_wanted, 0, __ATOMIC_RELEASE);
        tb_unlock();
        excl_pending = 0;
        pthread_cond_broadcast(&excl_cond);
    }
    pthread_mutex_unlock(&excl_mutex);
    exec_start(env);
}

void tcg_exec_forget_cpus(void)
{
    nb_cpus = 0;
    if (code_buf) {
        tcg_exec_flush();
    }
    free(page_tbs);
    page_tbs = NULL;
    page_count = 0;
}

void tcg_cpu_reset(CPUX86State *env)
{
    bool known = false;
    for (unsigned i = 0; i < nb_cpus; i++) {
        known |= cpus[i] == env;
    }
    if (!known) {
        assert(nb_cpus < MAX_CPUS);
        cpus[nb_cpus++] = env;
    }
    jmp_cache_clear(env);
    env->exit_request = 0;
    env->exception_index = -1;
    env->old_exception = -1;
}

/* The TB key's mode bits for the CPU's current state (docs/tcg.md). */
static uint32_t cpu_tb_flags(const CPUX86State *env)
{
    uint32_t f = ((env->eflags & RFLAGS_DF) ? TBF_DF : 0) | (env->cpl == 3 ? TBF_CPL3 : 0);
    if (!env->softmmu) {
        return f | TBF_CODE64;
    }
    const SegmentCache *sg = env->segs;
    if ((env->efer & EFER_LMA) && (sg[R_CS].flags & DESC_L)) {
        return f | TBF_CODE64;
    }
    f |= (sg[R_CS].flags & DESC_B) ? TBF_CODE32 : 0;
    f |= (sg[R_SS].flags & DESC_B) ? TBF_SS32 : 0;
    bool pm = (env->cr[0] & CR0_PE) && !(env->eflags & RFLAGS_VM);
    if (!x86_seg_flat(&sg[R_DS], pm) || !x86_seg_flat(&sg[R_ES], pm) ||
        !x86_seg_flat(&sg[R_SS], pm)) {
        f |= TBF_SEGCHK_DSS;
    }
    f |= x86_seg_flat(&sg[R_FS], pm) ? 0 : TBF_SEGCHK_FS;
    f |= x86_seg_flat(&sg[R_GS], pm) ? 0 : TBF_SEGCHK_GS;
    if (env->cr[0] & CR0_PE) {
        f |= TBF_PE | ((env->eflags & RFLAGS_VM) ? TBF_VM : 0);
        if (sg[R_DS].base | sg[R_ES].base | sg[R_SS].base) {
            f |= TBF_ADDSEG;
        }
    } else {
        f |= TBF_ADDSEG;
    }
    return f;
}

static uint64_t cpu_cs_base(const CPUX86State *env, uint32_t flags)
{
    return (flags & TBF_CODE64) ? 0 : env->segs[R_CS].base;
}

static unsigned tb_hash_idx(uint64_t pc, uint32_t flags)
{
    uint64_t h = tb_key(pc, flags) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> (64 - TB_HASH_BITS));
}

static void tb_page_add(TranslationBlock *tb, int n, uint64_t pa_page)
{
    TranslationBlock **slot = page_slot(pa_page);
    if (!slot) {
        return;
    }
    bool first = *slot == NULL;
    tb->page_next[n] = *slot;
    __atomic_store_n(slot, tb, __ATOMIC_RELEASE);
    if (first) {
        for (unsigned i = 0; i < nb_cpus; i++) {
            x86_tlb_protect_code(cpus[i], pa_page);
        }
    }
}

static TranslationBlock *tb_gen_code(CPUX86State *env, uint64_t pc, uint64_t cs_base,
                                     uint32_t flags, uint64_t phys_page)
{
    bool shared = env->softmmu && nb_cpus > 1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (shared && (nb_tbs + 4096 >= max_tbs || (size_t)(code_end - code_ptr) < flush_margin) &&
            !__atomic_load_n(&flush_wanted, __ATOMIC_RELAXED)) {
            /* nearly full: the next loop top of some vCPU flushes with the others stopped */
            __atomic_store_n(&flush_wanted, 1, __ATOMIC_RELEASE);
            for (unsigned i = 0; i < nb_cpus; i++) {
                cpus[i]->exit_request = 1;
            }
        }
        if (nb_tbs >= max_tbs || code_end - code_ptr < TB_MIN_SPACE) {
            if (shared) {
                return NULL; /* the caller flushes with the other vCPUs stopped */
            }
            tcg_exec_flush();
        }
        TranslationBlock *tb = &tbs[nb_tbs];
        memset(tb, 0, sizeof(*tb));
        tb->pc = pc;
        tb->cs_base = cs_base;
        tb->flags = flags;
        tb->neg_key = (uint64_t)0 - tb_key(pc, flags);
        tb->phys_page = phys_page;
        tb->phys_page2 = ~0ull;
        TCGContext *s = tcg_ctx;
        tcg_func_start(s);
        s->mem_base = env->mem_base;
        s->softmmu = env->softmmu;
        env->cur_tb = tb;
        tb->icount = (uint32_t)x86_translate(s, env, pc, flags);
        tcg_optimize(s);
        tcg_liveness(s);
        int n =
            tcg_gen_code(s, tb, code_ptr + TB_HEADER, (size_t)(code_end - code_ptr - TB_HEADER));
        if (n < 0) {
            if (shared) {
                __atomic_store_n(&flush_wanted, 1, __ATOMIC_RELEASE);
                return NULL;
            }
            tcg_exec_flush();
            continue;
        }
        memcpy(code_ptr, &tb, sizeof(tb));
        code_ptr += TB_HEADER;
        tb->code = code_ptr;
        tb->code_size = (uint32_t)n;
        if (dump_tbs) {
            fprintf(stderr, "TB %#llx flags %#x: %u guest insns, %d host bytes at %p\n",
                    (unsigned long long)pc, flags, tb->icount, n, (void *)code_ptr);
            tcg_dump(s, stderr);
            for (int i = 0; i < n; i++) {
                fprintf(stderr, "%02x%s", code_ptr[i], i % 32 == 31 ? "\n" : " ");
            }
            fprintf(stderr, "\n");
        }
        if (perf_map) {
            fprintf(perf_map, "%lx %x tb_%llx_%x\n", (unsigned long)(uintptr_t)code_ptr,
                    (unsigned)n, (unsigned long long)pc, flags);
        }
        code_ptr += (n + 15) & ~15;
        nb_tbs++;
        unsigned h = tb_hash_idx(pc, flags);
        tb->hash_next = tb_hash[h];
        tb_hash[h] = tb;
        if (env->softmmu) {
            tb_page_add(tb, 0, phys_page);
            if (tb->phys_page2 != ~0ull) {
                tb_page_add(tb, 1, tb->phys_page2);
            }
        }
        tcg_stats.tbs++;
        tcg_stats.host_bytes += (uint64_t)n;
        tcg_stats.guest_insns += tb->icount;
        return tb;
    }
    fprintf(stderr, "tcg: a translation block does not fit the code buffer\n");
    abort();
}

/* Called with tb_lock held. */
static TranslationBlock *tb_lookup(CPUX86State *env, uint64_t pc, uint32_t flags)
{
    uint64_t cs_base = cpu_cs_base(env, flags);
    if (!(flags & TBF_CODE64) && pc > env->segs[R_CS].limit) {
        x86_raise_exception(env, EXCP_GP, 0); /* past the CS limit (before any #PF) */
    }
    const TBJmpCacheEntry *e = &env->jmp_cache[pc & (TB_JMP_CACHE_SIZE - 1)];
    TranslationBlock *tb = e->code ? tb_of_code(e->code) : &dummy_tb;
    if (tb->pc == pc && tb->flags == flags && tb->cs_base == cs_base && tb != &dummy_tb &&
        !tb->invalid) {
        return tb;
    }
    uint64_t phys = 0;
    uint64_t la = cs_base + pc; /* the linear address of the code */
    if (!(flags & TBF_CODE64)) {
        la = (uint32_t)la;
    }
    if (env->softmmu) {
        x86_code_page(env, la, &phys); /* may raise #PF (tb_lock is dropped by the handler) */
    }
    tcg_stats.lookups_slow++;
    for (tb = tb_hash[tb_hash_idx(pc, flags)]; tb; tb = tb->hash_next) {
        if (tb->pc == pc && tb->flags == flags && tb->cs_base == cs_base && tb->phys_page == phys) {
            break;
        }
    }
    if (!tb) {
        tb = tb_gen_code(env, pc, cs_base, flags, phys);
        if (!tb) {
            return NULL; /* the code buffer must be flushed first */
        }
    }
    /* a TB whose first instruction runs into a second page is never treated as global */
    jmp_cache_set(env, (unsigned)(pc & (TB_JMP_CACHE_SIZE - 1)), tb,
                  tb->phys_page2 == ~0ull && code_page_global(env, la));
    return tb;
}

void tb_invalidate_phys_page(uint64_t pa_page)
{
    bool held = tb_lock_held;
    if (!held) {
        tb_lock();
    }
    TranslationBlock **slot = page_slot(pa_page);
    if (slot) {
        TranslationBlock *tb = *slot;
        *slot = NULL;
        while (tb) {
            int n = tb->phys_page == pa_page ? 0 : 1;
            TranslationBlock *next = tb->page_next[n];
            if (!tb->invalid) {
                tb->invalid = true;
                tb->neg_key = dummy_tb.neg_key;
                /* the inline probes compare the key in the slot: no vCPU may find it there */
                for (unsigned c = 0; c < nb_cpus; c++) {
                    TBJmpCacheEntry *e = &cpus[c]->jmp_cache[tb->pc & (TB_JMP_CACHE_SIZE - 1)];
                    if (e->code == tb->code) {
                        __atomic_store_n(&e->neg_key, jmp_cache_empty.neg_key, __ATOMIC_RELAXED);
                    }
                }
                unsigned h = tb_hash_idx(tb->pc, tb->flags);
                for (TranslationBlock **pp = &tb_hash[h]; *pp; pp = &(*pp)->hash_next) {
                    if (*pp == tb) {
                        *pp = tb->hash_next;
                        break;
                    }
                }
                /*
                 * No unlinking: in system mode goto_tb chains stay within one virtual page, so
                 * every TB jumping into this one was made from the same physical page and dies
                 * with it. (A vCPU inside one of them finishes the block it is in; the TB's
                 * other page keeps a stale link to it, harmless since it is marked invalid.)
                 */
            }
            tb = next;
        }
    }
    if (!held) {
        tb_unlock();
    }
}

static void tb_link(TranslationBlock *from, int n, TranslationBlock *to)
{
    if (from->jmp_off[n] == UINT32_MAX || from->jmp_dest[n]) {
        return;
    }
    tcg_patch_jump(from->code + from->jmp_off[n], to->code);
    from->jmp_dest[n] = to;
    tcg_stats.chains++;
}

static bool has_error_code(int v)
{
    return v == EXCP_DF || (v >= EXCP_TS && v <= EXCP_PF) || v == EXCP_AC;
}

static bool contributory(int v)
{
    return v == EXCP_DE || (v >= EXCP_TS && v <= EXCP_GP);
}

/*
 * Deliver a pending exception (double fault and triple fault rules: a contributory fault or #PF
 * while delivering one turns into #DF, a fault while delivering #DF is a triple fault).
 * Returns false on a triple fault.
 */
static bool deliver_exception(CPUX86State *env, int ex)
{
    bool sw = ex >= EXCP_INT_SW;
    int vector = ex & 0xff;
    uint32_t err = env->error_code;
    if (log_exceptions) {
        fprintf(stderr, "tcg: cpu %u exception %d%s err %#x at rip %#llx cr2 %#llx\n",
                env->cpu_index, vector, sw ? " (int n)" : "", err, (unsigned long long)env->rip,
                (unsigned long long)env->cr[2]);
        /* the bytes at CS:RIP (outside 64-bit mode a linear address within 4 GiB) */
        uint32_t fl = cpu_tb_flags(env);
        uint64_t pc = env->rip + cpu_cs_base(env, fl);
        if (!(fl & TBF_CODE64)) {
            pc = (uint32_t)pc;
        }
        X86Translation t;
        if (vector == EXCP_UD && !x86_walk(env, pc, ACC_READ, MMU_KERNEL, &t)) {
            const uint8_t *p = gpa_to_hva(t.pa, 16);
            fprintf(stderr, "tcg: bytes at linear %#llx: ", (unsigned long long)pc);
            for (int i = 0; p && i < 16; i++) {
                fprintf(stderr, "%02x ", p[i]);
            }
            fprintf(stderr, "\n");
        }
    }
    if (!sw && env->old_exception >= 0) {
        int old = env->old_exception;
        if (old == EXCP_DF) {
            return false;
        }
        if ((contributory(old) && contributory(vector)) ||
            (old == EXCP_PF && (contributory(vector) || vector == EXCP_PF))) {
            vector = EXCP_DF;
            err = 0;
        }
    }
    env->old_exception = vector;
    uint64_t next = env->rip;
    if (sw) {
        /* INT n, INT3, INTO: env->rip is the next instruction and the error code slot holds the
         * instruction's length; a fault while delivering it reports the instruction itself */
        env->rip = next - err;
        if (!(env->efer & EFER_LMA) || !(env->segs[R_CS].flags & DESC_L)) {
            env->rip &= (env->segs[R_CS].flags & DESC_B) ? 0xffffffffu : 0xffffu;
        }
    }
    x86_do_interrupt(env, vector, sw, false, err, !sw && has_error_code(vector), next);
    env->old_exception = -1;
    return true;
}

/*
 * System mode. With env->stop_rip set (the differential harness) exceptions are returned
 * instead of delivered, and stop_rip/tb_budget work as in flat mode.
 */
/*
 * The memory map changed since this vCPU last looked: drop its TLB (entries may point at RAM
 * that is no longer there), then tell the memory core it holds nothing older.
 */
static inline void mem_quiescent(CPUX86State *env)
{
    if (env->mem_reader) {
        uint64_t g = memory_generation();
        if (g != env->mem_gen) {
            x86_tlb_flush(env, true);
            env->mem_gen = g;
        }
        memory_reader_quiescent(env->mem_reader);
    }
}

void tcg_request_flush(void)
{
    __atomic_store_n(&flush_wanted, 1, __ATOMIC_RELEASE);
}

static int cpu_exec_system(CPUX86State *env)
{
    TranslationBlock *last = NULL;
    int slot = 0;
    uint64_t budget = env->tb_budget;
    for (;;) {
        mem_quiescent(env);
        int ex = env->exception_index;
        if (ex >= 0) {
            env->exception_index = -1;
            last = NULL;
            if ((ex >= EXCP_INTERRUPT && ex < EXCP_INT_SW) || env->stop_rip) {
                return ex;
            }
            if (!deliver_exception(env, ex)) {
                env->old_exception = -1;
                return EXCP_TRIPLE;
            }
        }
        bool skip_check = false;
        if (env->exit_request) {
            env->exit_request = 0;
            last = NULL;
            if (env->stop_request) {
                return EXCP_SHUTDOWN;
            }
        }
        if (env->interrupt_request) {
            if (env->int_shadow) {
                /* run one more block first; its end brings us back here */
                env->exit_request = 1;
                skip_check = true;
            } else {
                int v = tcg_irq_poll(env);
                if (v == -2) {
                    return EXCP_INTERRUPT;
                }
                if (v >= 0) {
                    last = NULL;
                    x86_do_interrupt(env, v, false, true, 0, false, env->rip);
                }
            }
        }
        env->int_shadow = false;
        if (env->stop_rip && env->rip == env->stop_rip) {
            return EXCP_STOP;
        }
        if (env->tb_budget && budget-- == 0) {
            return EXCP_BUDGET;
        }
        tcg_stats.loop_entries++;
        if (__atomic_load_n(&excl_pending, __ATOMIC_RELAXED) ||
            __atomic_load_n(&flush_wanted, __ATOMIC_RELAXED)) {
            flush_exclusive(env);
            last = NULL;
        }
        tb_lock();
        uint64_t fc = flush_count;
        TranslationBlock *tb = tb_lookup(env, env->rip, cpu_tb_flags(env));
        if (!tb) {
            tb_unlock();
            flush_exclusive(env);
            last = NULL;
            continue;
        }
        if (last && tcg_chaining && !last->invalid && fc == flush_count) {
            tb_link(last, slot, tb);
        }
        tb_unlock();
        uintptr_t ret = tcg_qemu_tb_exec(env, tb->code + (skip_check ? tb->body_off : 0));
        last = (TranslationBlock *)(ret & ~(uintptr_t)3);
        slot = (int)(ret & 3);
        if (slot == TB_EXIT_NOCHAIN || slot == TB_EXIT_EXCEPTION) {
            last = NULL;
        }
    }
}

int tcg_cpu_exec(CPUX86State *env)
{
    env->exception_index = -1;
    if (sigsetjmp(env->jmp_env, 0)) {
        if (tb_lock_held) {
            tb_unlock();
        }
        if (!env->softmmu) {
            return env->exception_index; /* raised by a helper; env is precise */
        }
    }
    if (env->softmmu) {
        exec_start(env);
        int r = cpu_exec_system(env);
        exec_end(env);
        return r;
    }
    TranslationBlock *last = NULL;
    int slot = 0;
    uint64_t budget = env->tb_budget;
    for (;;) {
        if (env->exit_request) {
            env->exit_request = 0;
            return EXCP_INTERRUPT;
        }
        if (env->stop_rip && env->rip == env->stop_rip) {
            return EXCP_STOP;
        }
        if (env->tb_budget && budget-- == 0) {
            return EXCP_BUDGET;
        }
        uint64_t fc = flush_count;
        TranslationBlock *tb = tb_lookup(env, env->rip, cpu_tb_flags(env));
        if (last && tcg_chaining && fc == flush_count) {
            tb_link(last, slot, tb);
        }
        uintptr_t ret = tcg_qemu_tb_exec(env, tb->code);
        last = (TranslationBlock *)(ret & ~(uintptr_t)3);
        slot = (int)(ret & 3);
        if (slot == TB_EXIT_EXCEPTION) {
            return env->exception_index;
        }
        if (slot == TB_EXIT_NOCHAIN) {
            last = NULL;
        }
    }
}
