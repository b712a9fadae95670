/*
 * The softmmu: the guest's page-table walkers (4-level long mode with PAE/NX and 2 MiB / 1 GiB
 * pages; outside long mode 2-level paging with 4 MiB PSE pages and 3-level PAE paging), with
 * accessed and dirty bits, U/S, R/W, NX, CR0.WP and CR4.PGE global pages; the per-vCPU TLB that
 * generated code probes inline, its slow paths (fill, MMIO through mmio_dispatch(), writes to
 * pages that hold translated code) and instruction fetch. See docs/tcg.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/ioport.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/tcg.h"
#include "vireo/x86-cpu.h"

#define PG_P           (1ull << 0)
#define PG_RW          (1ull << 1)
#define PG_US          (1ull << 2)
#define PG_A           (1ull << 5)
#define PG_D           (1ull << 6)
#define PG_PS          (1ull << 7)
#define PG_G           (1ull << 8)
#define PG_NX          (1ull << 63)
#define PHYS_MASK      0x000ffffffffff000ull /* 52-bit physical addresses */
#define PHYS_BITS_RSVD 0x000fff0000000000ull /* above the 40 bits CPUID reports */

static uint64_t *pte_ptr(uint64_t gpa)
{
    return gpa_to_hva(gpa, 8);
}

/* The permission checks of a finished walk: 0, or the #PF error code with bit 31 set. */
static uint32_t check_access(CPUX86State *env, bool user, int access, uint32_t err, bool rw,
                             bool us, bool nx)
{
    if (user && !us) {
        return 0x80000000u | err | PF_P;
    }
    if (access == ACC_WRITE && !rw && (user || (env->cr[0] & CR0_WP))) {
        return 0x80000000u | err | PF_P;
    }
    if (access == ACC_EXEC && nx) {
        return 0x80000000u | err | PF_P;
    }
    return 0;
}

/* Set the accessed bit in a 4- or 8-byte entry (and dirty when asked); atomic. */
static void set_ad(void *p, int bytes, uint64_t bits)
{
    if (bytes == 4) {
        uint32_t *q = p;
        if ((__atomic_load_n(q, __ATOMIC_RELAXED) & bits) != bits) {
            __atomic_fetch_or(q, (uint32_t)bits, __ATOMIC_RELAXED);
        }
    } else {
        uint64_t *q = p;
        if ((__atomic_load_n(q, __ATOMIC_RELAXED) & bits) != bits) {
            __atomic_fetch_or(q, bits, __ATOMIC_RELAXED);
        }
    }
}

/*
 * Paging outside long mode: 2-level 32-bit paging (4 KiB pages, 4 MiB pages with CR4.PSE,
 * PSE-36 physical bits 32..39) or 3-level PAE paging (4 PDPTEs at CR3, 2 MiB pages, NX).
 */
static uint32_t walk_legacy(CPUX86State *env, uint64_t va, int access, bool user, bool nxe,
                            uint32_t err, X86Translation *out)
{
    va = (uint32_t)va;
    bool pae = env->cr[4] & CR4_PAE;
    int esize = pae ? 8 : 4;
    void *ptes[3];
    int nlev = 0;
    uint64_t e, table, page_size;
    bool rw = true, us = true, nx = false;
    if (pae) {
        uint64_t *pdpte = pte_ptr((env->cr[3] & 0xffffffe0u) + ((va >> 30) & 3) * 8);
        if (!pdpte) {
            return 0x80000000u | err | PF_RSVD;
        }
        e = __atomic_load_n(pdpte, __ATOMIC_RELAXED);
        if (!(e & PG_P)) {
            return 0x80000000u | err;
        }
        if (e & (PHYS_BITS_RSVD | 0x1e6ull | PG_NX)) {
            return 0x80000000u | err | PF_P | PF_RSVD;
        }
        table = e & PHYS_MASK;
        /* the PD */
        uint64_t *pde = pte_ptr(table + ((va >> 21) & 511) * 8);
        if (!pde) {
            return 0x80000000u | err | PF_RSVD;
        }
        ptes[nlev++] = pde;
        e = __atomic_load_n(pde, __ATOMIC_RELAXED);
        if (!(e & PG_P)) {
            return 0x80000000u | err;
        }
        if ((e & PHYS_BITS_RSVD) || ((e & PG_NX) && !nxe)) {
            return 0x80000000u | err | PF_P | PF_RSVD;
        }
        rw &= (e & PG_RW) != 0;
        us &= (e & PG_US) != 0;
        nx |= nxe && (e & PG_NX);
        if (e & PG_PS) {
            if (e & 0x1fe000ull) {
                return 0x80000000u | err | PF_P | PF_RSVD;
            }
            page_size = 2u << 20;
        } else {
            uint64_t *pte = pte_ptr((e & PHYS_MASK) + ((va >> 12) & 511) * 8);
            if (!pte) {
                return 0x80000000u | err | PF_RSVD;
            }
            ptes[nlev++] = pte;
            e = __atomic_load_n(pte, __ATOMIC_RELAXED);
            if (!(e & PG_P)) {
                return 0x80000000u | err;
            }
            if ((e & PHYS_BITS_RSVD) || ((e & PG_NX) && !nxe)) {
                return 0x80000000u | err | PF_P | PF_RSVD;
            }
            rw &= (e & PG_RW) != 0;
            us &= (e & PG_US) != 0;
            nx |= nxe && (e & PG_NX);
            page_size = 4096;
        }
    } else {
        uint32_t *pde = (uint32_t *)gpa_to_hva((env->cr[3] & 0xfffff000u) + (va >> 22) * 4, 4);
        if (!pde) {
            return 0x80000000u | err | PF_RSVD;
        }
        ptes[nlev++] = pde;
        e = __atomic_load_n(pde, __ATOMIC_RELAXED);
        if (!(e & PG_P)) {
            return 0x80000000u | err;
        }
        rw &= (e & PG_RW) != 0;
        us &= (e & PG_US) != 0;
        if ((e & PG_PS) && (env->cr[4] & CR4_PSE)) {
            if (e & (1u << 21)) {
                return 0x80000000u | err | PF_P | PF_RSVD;
            }
            page_size = 4u << 20;
            /* PSE-36: bits 13..20 are physical address bits 32..39 */
            e = (e & 0xffc00fffull) | ((e >> 13) & 0xffull) << 32;
        } else {
            uint32_t *pte = (uint32_t *)gpa_to_hva((e & 0xfffff000u) + ((va >> 12) & 1023) * 4, 4);
            if (!pte) {
                return 0x80000000u | err | PF_RSVD;
            }
            ptes[nlev++] = pte;
            e = __atomic_load_n(pte, __ATOMIC_RELAXED);
            if (!(e & PG_P)) {
                return 0x80000000u | err;
            }
            rw &= (e & PG_RW) != 0;
            us &= (e & PG_US) != 0;
            page_size = 4096;
        }
    }
    uint32_t f = check_access(env, user, access, err, rw, us, nx);
    if (f) {
        return f;
    }
    for (int l = 0; l < nlev; l++) {
        set_ad(ptes[l], esize, PG_A);
    }
    bool dirty = (e & PG_D) != 0;
    if (access == ACC_WRITE && !dirty) {
        set_ad(ptes[nlev - 1], esize, PG_D);
        dirty = true;
    }
    uint64_t mask = pae ? PHYS_MASK : 0xffffffffffull;
    out->pa = (e & mask & ~(page_size - 1)) | (va & (page_size - 1));
    out->writable = user ? rw : (rw || !(env->cr[0] & CR0_WP));
    out->executable = !nx;
    out->user = us;
    out->global = (e & PG_G) && (env->cr[4] & CR4_PGE);
    out->dirty = dirty;
    return 0;
}

uint32_t x86_walk(CPUX86State *env, uint64_t va, int access, int mmu_idx, X86Translation *out)
{
    bool user = mmu_idx == MMU_USER;
    uint32_t err = (access == ACC_WRITE ? PF_W : 0) | (user ? PF_U : 0);
    memset(out, 0, sizeof(*out));
    if (!(env->cr[0] & CR0_PG)) {
        out->pa = env->efer & EFER_LMA ? va : (uint32_t)va;
        out->writable = out->executable = out->user = out->dirty = true;
        return 0;
    }
    bool nxe = env->efer & EFER_NXE;
    if (access == ACC_EXEC && nxe) {
        err |= PF_I;
    }
    if (!(env->efer & EFER_LMA)) {
        return walk_legacy(env, va, access, user, nxe, err, out);
    }
    /* canonical check is the caller's (#GP); here a non-canonical address just faults */
    uint64_t *ptes[4];
    uint64_t table = env->cr[3] & PHYS_MASK;
    bool rw = true, us = true, nx = false;
    int level;
    uint64_t e = 0, page_size = 0;
    for (level = 3; level >= 0; level--) {
        unsigned idx = (unsigned)(va >> (12 + 9 * level)) & 511;
        uint64_t *p = pte_ptr(table + idx * 8);
        if (!p) {
            return 0x80000000u | err | PF_RSVD; /* page table outside RAM */
        }
        ptes[level] = p;
        e = __atomic_load_n(p, __ATOMIC_RELAXED);
        if (!(e & PG_P)) {
            static int debug = -1; /* VIREO_WALK_DEBUG=1: not-present walks on stderr */
            if (debug < 0) {
                debug = getenv("VIREO_WALK_DEBUG") != NULL;
            }
            if (debug) {
                fprintf(stderr, "walk %#llx cr3 %#llx: level %d table %#llx idx %u -> %#llx\n",
                        (unsigned long long)va, (unsigned long long)env->cr[3], level,
                        (unsigned long long)table, idx, (unsigned long long)e);
            }
            return 0x80000000u | err;
        }
        if ((e & PHYS_BITS_RSVD) || ((e & PG_NX) && !nxe) || (level == 3 && (e & PG_PS)) ||
            (level == 3 && (e & PG_G) && false)) {
            return 0x80000000u | err | PF_P | PF_RSVD;
        }
        rw &= (e & PG_RW) != 0;
        us &= (e & PG_US) != 0;
        nx |= nxe && (e & PG_NX);
        if (level > 0 && (e & PG_PS)) {
            page_size = 1ull << (12 + 9 * level);
            uint64_t rsvd = (page_size - 1) & ~0x1fffull & PHYS_MASK; /* bits 20:13 or 29:13 */
            if (e & rsvd) {
                return 0x80000000u | err | PF_P | PF_RSVD;
            }
            break;
        }
        if (level == 0) {
            page_size = 4096;
            break;
        }
        table = e & PHYS_MASK;
    }
    if (level < 0) {
        level = 0;
    }
    /* permissions */
    bool wp = env->cr[0] & CR0_WP;
    if (user && !us) {
        return 0x80000000u | err | PF_P;
    }
    if (access == ACC_WRITE && !rw && (user || wp)) {
        return 0x80000000u | err | PF_P;
    }
    if (access == ACC_EXEC && nx) {
        return 0x80000000u | err | PF_P;
    }
    /* accessed bits on every level, dirty on the leaf for a write */
    for (int l = 3; l >= level; l--) {
        if (!(__atomic_load_n(ptes[l], __ATOMIC_RELAXED) & PG_A)) {
            __atomic_fetch_or(ptes[l], PG_A, __ATOMIC_RELAXED);
        }
    }
    bool dirty = (e & PG_D) != 0;
    if (access == ACC_WRITE && !dirty) {
        __atomic_fetch_or(ptes[level], PG_D, __ATOMIC_RELAXED);
        dirty = true;
    }
    uint64_t base = e & PHYS_MASK & ~(page_size - 1);
    out->pa = base | (va & (page_size - 1));
    out->writable = user ? rw : (rw || !wp);
    out->executable = !nx;
    out->user = us;
    out->global = (e & PG_G) && (env->cr[4] & CR4_PGE);
    out->dirty = dirty;
    return 0;
}

void x86_tlb_flush(CPUX86State *env, bool include_global)
{
    for (int m = 0; m < 2; m++) {
        for (unsigned i = 0; i < TLB_SIZE; i++) {
            if (include_global || !env->tlb_global[m][i]) {
                CPUTLBEntry *te = &env->tlb[m][i];
                te->addr_read = te->addr_write = te->addr_code = TLB_INVALID;
                env->tlb_global[m][i] = 0;
            }
        }
    }
    tcg_jmp_cache_clear(env, include_global);
}

void x86_tlb_flush_page(CPUX86State *env, uint64_t va)
{
    uint64_t page = va & ~0xfffull;
    unsigned i = (unsigned)(va >> 12) & (TLB_SIZE - 1);
    for (int m = 0; m < 2; m++) {
        CPUTLBEntry *te = &env->tlb[m][i];
        if ((te->addr_read & ~(uint64_t)TLB_SLOW) == page ||
            (te->addr_write & ~(uint64_t)TLB_SLOW) == page ||
            (te->addr_code & ~(uint64_t)TLB_SLOW) == page) {
            te->addr_read = te->addr_write = te->addr_code = TLB_INVALID;
            env->tlb_global[m][i] = 0;
        }
    }
    tcg_jmp_cache_clear_page(env, va);
}

static bool canonical(uint64_t va)
{
    return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/* Fill the TLB entry for va or raise #PF (#GP for a non-canonical address). */
static CPUTLBEntry *tlb_fill(CPUX86State *env, uint64_t va, int access, int mmu_idx)
{
    if ((env->efer & EFER_LMA) && !canonical(va)) {
        x86_raise_exception(env, EXCP_GP, 0);
    }
    X86Translation t;
    uint32_t err = x86_walk(env, va, access, mmu_idx, &t);
    if (err) {
        env->cr[2] = va;
        x86_raise_exception(env, EXCP_PF, err & 0x7fffffffu);
    }
    uint64_t page = va & ~0xfffull, pa_page = t.pa & ~0xfffull;
    unsigned i = (unsigned)(va >> 12) & (TLB_SIZE - 1);
    CPUTLBEntry *te = &env->tlb[mmu_idx][i];
    uint8_t *host = NULL;
    uint64_t avail;
    const FlatRange *fr = memory_lookup_ram(pa_page, &host, &avail);
    if (fr && avail < 4096) {
        host = NULL; /* RAM ends inside the page: byte-wise through the dispatcher */
    }
    te->addend = host ? (uintptr_t)host - (uintptr_t)page : 0;
    uint64_t slow = host ? 0 : TLB_SLOW;
    /* writes to ROM, to tracked (dirty-logged) RAM and to pages with code take the slow path */
    bool wslow = host && (fr->readonly || fr->mr->dirty_log || tb_page_has_code(pa_page));
    te->addr_read = page | slow;
    te->addr_write = t.writable && t.dirty ? page | slow | (wslow ? TLB_SLOW : 0) : TLB_INVALID;
    te->addr_code = t.executable && host ? page : TLB_INVALID;
    env->tlb_phys[mmu_idx][i] = pa_page;
    env->tlb_global[mmu_idx][i] = t.global;
    return te;
}

static CPUTLBEntry *tlb_lookup(CPUX86State *env, uint64_t va, int access, int mmu_idx)
{
    uint64_t page = va & ~0xfffull;
    CPUTLBEntry *te = &env->tlb[mmu_idx][(va >> 12) & (TLB_SIZE - 1)];
    uint64_t tag = access == ACC_READ    ? te->addr_read
                   : access == ACC_WRITE ? te->addr_write
                                         : te->addr_code;
    if ((tag & ~(uint64_t)TLB_SLOW) != page) {
        te = tlb_fill(env, va, access, mmu_idx);
    }
    return te;
}

static uint64_t ld_page(CPUX86State *env, uint64_t va, int bytes, int mmu_idx)
{
    CPUTLBEntry *te = tlb_lookup(env, va, ACC_READ, mmu_idx);
    uint64_t v = 0;
    if (te->addr_read & TLB_SLOW) {
        unsigned i = (unsigned)(va >> 12) & (TLB_SIZE - 1);
        uint64_t pa = env->tlb_phys[mmu_idx][i] | (va & 0xfff);
        mmio_dispatch(pa, &v, (unsigned)bytes, false); /* takes the big lock */
        return v;
    }
    memcpy(&v, (void *)(uintptr_t)(va + te->addend), (size_t)bytes);
    return v;
}

static void st_page(CPUX86State *env, uint64_t va, uint64_t v, int bytes, int mmu_idx)
{
    CPUTLBEntry *te = tlb_lookup(env, va, ACC_WRITE, mmu_idx);
    if (te->addr_write & TLB_SLOW) {
        unsigned i = (unsigned)(va >> 12) & (TLB_SIZE - 1);
        uint64_t pa = env->tlb_phys[mmu_idx][i] | (va & 0xfff);
        uint8_t *host;
        uint64_t avail;
        const FlatRange *fr = memory_lookup_ram(pa, &host, &avail);
        if (fr && !fr->readonly && avail >= (uint64_t)bytes) {
            /* RAM that holds translated code or is tracked: drop those TBs, mark, store */
            tb_invalidate_phys_page(pa & ~0xfffull);
            memory_region_set_dirty(fr->mr, fr->offset + (pa - fr->start), (uint64_t)bytes);
            memcpy(host, &v, (size_t)bytes);
            return;
        }
        mmio_dispatch(pa, &v, (unsigned)bytes, true); /* ROM, MMIO: takes the big lock */
        return;
    }
    memcpy((void *)(uintptr_t)(va + te->addend), &v, (size_t)bytes);
}

void *x86_host_rw(CPUX86State *env, uint64_t va, int bytes, int mmu_idx)
{
    if (!env->softmmu) {
        return (void *)(uintptr_t)(env->mem_base + va);
    }
    if (((va & 0xfff) + (uint64_t)bytes) > 0x1000) {
        return NULL;
    }
    CPUTLBEntry *te = tlb_lookup(env, va, ACC_WRITE, mmu_idx);
    if (te->addr_write & TLB_SLOW) {
        unsigned i = (unsigned)(va >> 12) & (TLB_SIZE - 1);
        uint64_t pa = env->tlb_phys[mmu_idx][i] | (va & 0xfff);
        uint8_t *host;
        uint64_t avail;
        const FlatRange *fr = memory_lookup_ram(pa, &host, &avail);
        if (!fr || fr->readonly || fr->mr->dirty_log || avail < (uint64_t)bytes) {
            return NULL; /* MMIO, ROM, tracked: the caller's byte-wise path */
        }
        tb_invalidate_phys_page(pa & ~0xfffull);
        return host;
    }
    return (void *)(uintptr_t)(va + te->addend);
}

const void *x86_host_r(CPUX86State *env, uint64_t va, int mmu_idx)
{
    if (!env->softmmu) {
        return (const void *)(uintptr_t)(env->mem_base + va);
    }
    CPUTLBEntry *te = tlb_lookup(env, va, ACC_READ, mmu_idx);
    if (te->addr_read & TLB_SLOW) {
        return NULL;
    }
    return (const void *)(uintptr_t)(va + te->addend);
}

void x86_probe_write(CPUX86State *env, uint64_t va, int bytes, int mmu_idx)
{
    if (!env->softmmu) {
        return;
    }
    tlb_lookup(env, va, ACC_WRITE, mmu_idx);
    if (((va & 0xfff) + (uint64_t)bytes) > 0x1000) {
        tlb_lookup(env, (va + (uint64_t)bytes - 1) & ~0xfffull, ACC_WRITE, mmu_idx);
    }
}

uint64_t x86_ld(CPUX86State *env, uint64_t va, int bytes, int mmu_idx)
{
    if (!env->softmmu) {
        uint64_t v = 0;
        memcpy(&v, (void *)(uintptr_t)(env->mem_base + va), (size_t)bytes);
        return v;
    }
    if (((va & 0xfff) + (uint64_t)bytes) > 0x1000) {
        uint64_t v = 0;
        for (int k = 0; k < bytes; k++) {
            v |= ld_page(env, va + (uint64_t)k, 1, mmu_idx) << (8 * k);
        }
        return v;
    }
    return ld_page(env, va, bytes, mmu_idx);
}

void x86_st(CPUX86State *env, uint64_t va, uint64_t val, int bytes, int mmu_idx)
{
    if (!env->softmmu) {
        memcpy((void *)(uintptr_t)(env->mem_base + va), &val, (size_t)bytes);
        return;
    }
    if (((va & 0xfff) + (uint64_t)bytes) > 0x1000) {
        /* probe both pages first so a fault leaves memory untouched */
        uint64_t second = (va + (uint64_t)bytes - 1) & ~0xfffull;
        tlb_lookup(env, va, ACC_WRITE, mmu_idx);
        tlb_lookup(env, second, ACC_WRITE, mmu_idx);
        for (int k = 0; k < bytes; k++) {
            st_page(env, va + (uint64_t)k, (val >> (8 * k)) & 0xff, 1, mmu_idx);
        }
        return;
    }
    st_page(env, va, val, bytes, mmu_idx);
}

uint64_t helper_ld_slow(CPUX86State *env, uint64_t va, uint64_t info)
{
    int bytes = (int)(info & 15);
    uint64_t v = x86_ld(env, va, bytes, (int)((info >> 8) & 1));
    if (info & 0x10) {
        int sh = 64 - 8 * bytes;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    return v;
}

void helper_st_slow(CPUX86State *env, uint64_t va, uint64_t val, uint64_t info)
{
    x86_st(env, va, val, (int)(info & 15), (int)((info >> 8) & 1));
}

const uint8_t *x86_code_page(CPUX86State *env, uint64_t va, uint64_t *phys_page)
{
    int mmu_idx = x86_mmu_idx(env);
    CPUTLBEntry *te = tlb_lookup(env, va, ACC_EXEC, mmu_idx);
    if (te->addr_code == TLB_INVALID) {
        /* executable but not RAM: nothing to run there */
        env->cr[2] = va;
        x86_raise_exception(env, EXCP_PF, PF_P | PF_I | (mmu_idx ? PF_U : 0));
    }
    *phys_page = env->tlb_phys[mmu_idx][(va >> 12) & (TLB_SIZE - 1)];
    return (const uint8_t *)(uintptr_t)((va & ~0xfffull) + te->addend);
}

/* A page became a code page: make every vCPU's write entries for it take the slow path. */
void x86_tlb_protect_code(CPUX86State *env, uint64_t pa_page)
{
    for (int m = 0; m < 2; m++) {
        for (unsigned i = 0; i < TLB_SIZE; i++) {
            if (env->tlb_phys[m][i] == pa_page && env->tlb[m][i].addr_write != TLB_INVALID) {
                env->tlb[m][i].addr_write |= TLB_SLOW;
            }
        }
    }
}
