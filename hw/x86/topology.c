/* x86 CPU topology: APIC IDs laid out as socket | die | core | thread bit fields. */
#include <stdlib.h>
#include "vireo/x86.h"

unsigned x86_topo_bits(unsigned count)
{
    unsigned bits = 0;
    while ((1u << bits) < count) {
        bits++;
    }
    return bits;
}

uint32_t x86_apic_id(const SmpConfig *smp, unsigned index)
{
    unsigned threads = smp->threads ? smp->threads : 1;
    unsigned cores = smp->cores ? smp->cores : 1;
    unsigned dies = smp->dies ? smp->dies : 1;
    unsigned tb = x86_topo_bits(threads), cb = x86_topo_bits(cores), db = x86_topo_bits(dies);
    unsigned thread = index % threads;
    unsigned core = (index / threads) % cores;
    unsigned die = (index / threads / cores) % dies;
    unsigned socket = index / threads / cores / dies;
    return thread | core << tb | die << (tb + cb) | socket << (tb + cb + db);
}

int x86_cpu_list_init(X86CpuList *list, const SmpConfig *smp)
{
    list->present = smp->cpus ? smp->cpus : 1;
    list->possible = smp->maxcpus > list->present ? smp->maxcpus : list->present;
    list->apic_id = calloc(list->possible, sizeof(*list->apic_id));
    if (!list->apic_id) {
        return -1;
    }
    for (unsigned i = 0; i < list->possible; i++) {
        list->apic_id[i] = x86_apic_id(smp, i);
    }
    return 0;
}

void x86_cpu_list_free(X86CpuList *list)
{
    free(list->apic_id);
    list->apic_id = NULL;
    list->present = list->possible = 0;
}

uint32_t x86_cpu_list_id_limit(const X86CpuList *list)
{
    uint32_t max = 0;
    for (unsigned i = 0; i < list->possible; i++) {
        max = list->apic_id[i] > max ? list->apic_id[i] : max;
    }
    return max + 1;
}
