/* x86 CPU topology: APIC IDs laid out as socket | die | core | thread bit fields. */
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
