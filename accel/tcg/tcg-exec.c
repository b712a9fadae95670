/*
 * Translation blocks at run time: the executable code buffer, the TB hash table, the per-vCPU
 * jump cache, direct chaining of goto_tb exits, and the cpu_exec loop (docs/tcg.md).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "vireo/tcg.h"

#define TB_HASH_BITS 15
#define TB_HASH_SIZE (1u << TB_HASH_BITS)
#define MAX_CPUS     64
#define TB_MIN_SPACE (64 * 1024)

static uint8_t *code_buf, *code_ptr, *code_end, *code_gen_start;
static TranslationBlock *tbs;
static size_t nb_tbs, max_tbs;
static TranslationBlock *tb_hash[TB_HASH_SIZE];
static TCGContext *tcg_ctx;
static CPUX86State *cpus[MAX_CPUS];
static unsigned nb_cpus;
static uint64_t flush_count;
static bool dump_tbs; /* VIREO_TCG_DUMP=1: IR and host code of every TB on stderr */

TCGStats tcg_stats;
bool tcg_chaining = true;

/* Never matches: pc + flags<<52 cannot be this for a canonical pc and flags < 16. */
static TranslationBlock dummy_tb = {.neg_key = (uint64_t)0 - 0x8000000000000001ull};

static uint64_t tb_key(uint64_t pc, uint32_t flags)
{
    return pc + ((uint64_t)flags << 52);
}

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
}

static void jmp_cache_clear(CPUX86State *env)
{
    for (unsigned i = 0; i < TB_JMP_CACHE_SIZE; i++) {
        env->jmp_cache[i] = &dummy_tb;
    }
}

void tcg_exec_flush(void)
{
    code_ptr = code_gen_start;
    nb_tbs = 0;
    memset(tb_hash, 0, sizeof(tb_hash));
    for (unsigned i = 0; i < nb_cpus; i++) {
        jmp_cache_clear(cpus[i]);
    }
    flush_count++;
    tcg_stats.tb_flushes++;
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
}

static unsigned tb_hash_idx(uint64_t pc, uint32_t flags)
{
    uint64_t h = tb_key(pc, flags) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> (64 - TB_HASH_BITS));
}

static TranslationBlock *tb_gen_code(CPUX86State *env, uint64_t pc, uint32_t flags)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (nb_tbs >= max_tbs || code_end - code_ptr < TB_MIN_SPACE) {
            tcg_exec_flush();
        }
        TranslationBlock *tb = &tbs[nb_tbs];
        memset(tb, 0, sizeof(*tb));
        tb->pc = pc;
        tb->flags = flags;
        tb->neg_key = (uint64_t)0 - tb_key(pc, flags);
        TCGContext *s = tcg_ctx;
        tcg_func_start(s);
        s->mem_base = env->mem_base;
        tb->icount = (uint32_t)x86_translate(s, env, pc, flags);
        tcg_optimize(s);
        tcg_liveness(s);
        int n = tcg_gen_code(s, tb, code_ptr, (size_t)(code_end - code_ptr));
        if (n < 0) {
            tcg_exec_flush();
            continue;
        }
        tb->code = code_ptr;
        tb->code_size = (uint32_t)n;
        if (dump_tbs) {
            fprintf(stderr, "TB %#llx flags %#x: %u guest insns, %d host bytes\n",
                    (unsigned long long)pc, flags, tb->icount, n);
            tcg_dump(s, stderr);
            for (int i = 0; i < n; i++) {
                fprintf(stderr, "%02x%s", code_ptr[i], i % 32 == 31 ? "\n" : " ");
            }
            fprintf(stderr, "\n");
        }
        code_ptr += (n + 15) & ~15;
        nb_tbs++;
        unsigned h = tb_hash_idx(pc, flags);
        tb->hash_next = tb_hash[h];
        tb_hash[h] = tb;
        tcg_stats.tbs++;
        tcg_stats.host_bytes += (uint64_t)n;
        tcg_stats.guest_insns += tb->icount;
        return tb;
    }
    fprintf(stderr, "tcg: a translation block does not fit the code buffer\n");
    abort();
}

static TranslationBlock *tb_lookup(CPUX86State *env, uint64_t pc, uint32_t flags)
{
    TranslationBlock *tb = env->jmp_cache[pc & (TB_JMP_CACHE_SIZE - 1)];
    if (tb->pc == pc && tb->flags == flags && tb != &dummy_tb) {
        return tb;
    }
    tcg_stats.lookups_slow++;
    for (tb = tb_hash[tb_hash_idx(pc, flags)]; tb; tb = tb->hash_next) {
        if (tb->pc == pc && tb->flags == flags) {
            break;
        }
    }
    if (!tb) {
        tb = tb_gen_code(env, pc, flags);
    }
    env->jmp_cache[pc & (TB_JMP_CACHE_SIZE - 1)] = tb;
    return tb;
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

static uint32_t cpu_tb_flags(const CPUX86State *env)
{
    return (env->eflags & RFLAGS_DF) ? TBF_DF : 0;
}

int tcg_cpu_exec(CPUX86State *env)
{
    if (sigsetjmp(env->jmp_env, 0)) {
        return env->exception_index; /* raised by a helper; env is precise */
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
