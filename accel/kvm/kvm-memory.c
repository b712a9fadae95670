/*
 * KVM and the memory map: a MemoryListener keeps the VM's memory slots equal to the RAM/ROM
 * ranges of the flat view (ROM as KVM_MEM_READONLY, so writes exit as MMIO; ranges KVM cannot
 * take, not page aligned, stay out and their accesses are served by the dispatcher), and turns
 * write-eventfds into KVM_IOEVENTFD. MSI through KVM_SIGNAL_MSI, irqfds through GSI routes.
 * Adjacent RAM of one region is one range in the view, so main RAM stays in as few slots as
 * the map allows (below the VGA window, above it, above 4 GiB), each 2 MiB congruent with its
 * host memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "kvm-internal.h"
#include "vireo/error.h"
#include "vireo/memory.h"

static MemoryListener kvm_listener;

static int set_slot(unsigned id, const KVMSlot *s, bool remove)
{
    struct kvm_userspace_memory_region r = {
        .slot = id,
        .flags = s->flags,
        .guest_phys_addr = s->gpa,
        .memory_size = remove ? 0 : s->size,
        .userspace_addr = (uint64_t)(uintptr_t)s->hva,
    };
    if (ioctl(kvm_state.vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        error_report("kvm_set_user_memory_region: KVM_SET_USER_MEMORY_REGION failed, slot=%u, "
                     "start=0x%llx, size=0x%llx: %s",
                     id, (unsigned long long)s->gpa, (unsigned long long)(remove ? 0 : s->size),
                     strerror(errno));
        return -1;
    }
    return 0;
}

/* The slot a flat range wants, or false when KVM cannot map it. */
static bool wanted_slot(const FlatRange *r, KVMSlot *s)
{
    if (r->mr->type != MR_RAM || !r->mr->host) {
        return false;
    }
    uint64_t size = r->last - r->start + 1;
    uint8_t *hva = r->mr->host + r->offset;
    if ((r->start | size | (uintptr_t)hva) & 0xfff || size == 0) {
        return false;
    }
    if (r->readonly && !kvm_state.readonly_mem) {
        return false;
    }
    *s = (KVMSlot){.used = true,
                   .gpa = r->start,
                   .size = size,
                   .hva = hva,
                   .flags = (r->readonly ? KVM_MEM_READONLY : 0) |
                            (r->mr->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0),
                   .mr = r->mr,
                   .mr_offset = r->offset};
    return true;
}

static bool slot_same(const KVMSlot *a, const KVMSlot *b)
{
    return a->gpa == b->gpa && a->size == b->size && a->hva == b->hva && a->flags == b->flags;
}

static void kvm_commit(MemoryListener *l, AddressSpace *as, const FlatView *old,
                       const FlatView *view)
{
    (void)l;
    (void)old;
    if (as != &address_space_memory || !view) {
        return;
    }
    KVMState *k = &kvm_state;
    KVMSlot *want = calloc(view->n ? view->n : 1, sizeof(*want));
    if (!want) {
        abort();
    }
    unsigned n = 0;
    for (unsigned i = 0; i < view->n; i++) {
        if (wanted_slot(&view->ranges[i], &want[n])) {
            n++;
        }
    }
    /* drop slots no longer wanted (KVM slots may not overlap: removals first) */
    for (unsigned id = 0; id < k->nr_slots; id++) {
        if (!k->slots[id].used) {
            continue;
        }
        bool keep = false;
        for (unsigned j = 0; j < n; j++) {
            if (want[j].used && slot_same(&k->slots[id], &want[j])) {
                want[j].used = false; /* already there */
                k->slots[id].mr = want[j].mr;
                k->slots[id].mr_offset = want[j].mr_offset;
                keep = true;
                break;
            }
        }
        if (!keep) {
            set_slot(id, &k->slots[id], true);
            k->slots[id].used = false;
        }
    }
    for (unsigned j = 0; j < n; j++) {
        if (!want[j].used) {
            continue;
        }
        unsigned id = 0;
        while (id < k->nr_slots && k->slots[id].used) {
            id++;
        }
        if (id == k->nr_slots) {
            error_report("kvm: out of memory slots (%u); 0x%llx+0x%llx is served as MMIO",
                         k->nr_slots, (unsigned long long)want[j].gpa,
                         (unsigned long long)want[j].size);
            continue;
        }
        if (set_slot(id, &want[j], false) == 0) {
            k->slots[id] = want[j];
        }
    }
    free(want);
}

static bool ioeventfd(AddressSpace *as, uint64_t addr, unsigned size, bool match_data,
                      uint64_t data, int fd, bool assign)
{
    bool pio = as == &address_space_io;
    if (pio && size == 0) {
        return false; /* KVM wants a PIO length; the dispatcher handles any-size ones */
    }
    if (size != 0 && size != 1 && size != 2 && size != 4 && size != 8) {
        return false;
    }
    struct kvm_ioeventfd e = {
        .datamatch = match_data ? data : 0,
        .addr = addr,
        .len = size,
        .fd = fd,
        .flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                 (match_data ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
    };
    return ioctl(kvm_state.vm_fd, KVM_IOEVENTFD, &e) == 0;
}

static bool kvm_eventfd_add(MemoryListener *l, AddressSpace *as, uint64_t addr, unsigned size,
                            bool match_data, uint64_t data, int fd)
{
    (void)l;
    return ioeventfd(as, addr, size, match_data, data, fd, true);
}

static void kvm_eventfd_del(MemoryListener *l, AddressSpace *as, uint64_t addr, unsigned size,
                            bool match_data, uint64_t data, int fd)
{
    (void)l;
    ioeventfd(as, addr, size, match_data, data, fd, false);
}

static void kvm_log_sync(MemoryListener *l, MemoryRegion *mr)
{
    (void)l;
    KVMState *k = &kvm_state;
    for (unsigned id = 0; id < k->nr_slots; id++) {
        KVMSlot *s = &k->slots[id];
        if (!s->used || s->mr != mr || !(s->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
            continue;
        }
        uint64_t pages = s->size >> 12;
        size_t words = (pages + 63) / 64;
        uint64_t *bm = calloc(words ? words : 1, 8);
        if (!bm) {
            abort();
        }
        struct kvm_dirty_log d = {.slot = id, .dirty_bitmap = bm};
        if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &d) == 0) {
            for (uint64_t p = 0; p < pages; p++) {
                if (bm[p / 64] & (1ull << (p % 64))) {
                    memory_region_set_dirty(mr, s->mr_offset + (p << 12), 4096);
                }
            }
        }
        free(bm);
    }
}

/* ---- interrupts: GSI routing, MSI, irqfd ------------------------------------------------ */

#define MAX_ROUTES 1024

/*
 * QEMU's routes for the PC (kvm_pc_setup_irq_routing): GSI 0-15 to the PIC pair (but the cascade,
 * 2), GSI 0 to IOAPIC pin 2 (the MADT's IRQ0 override: the in-kernel PIT raises GSI 0), the others
 * to IOAPIC pin n. Set at every VM's creation (kvm_memory_attach).
 */
static void default_routes(void)
{
    KVMState *k = &kvm_state;
    struct kvm_irq_routing *r = k->routing;
    r->nr = 0;
    for (unsigned gsi = 0; gsi < 24; gsi++) {
        if (gsi == 2) {
            continue;
        }
        if (gsi < 16) {
            struct kvm_irq_routing_entry *e = &r->entries[r->nr++];
            memset(e, 0, sizeof(*e));
            e->gsi = gsi;
            e->type = KVM_IRQ_ROUTING_IRQCHIP;
            e->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            e->u.irqchip.pin = gsi & 7;
        }
        struct kvm_irq_routing_entry *e = &r->entries[r->nr++];
        memset(e, 0, sizeof(*e));
        e->gsi = gsi;
        e->type = KVM_IRQ_ROUTING_IRQCHIP;
        e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        e->u.irqchip.pin = gsi == 0 ? 2 : gsi;
    }
    k->next_msi_gsi = 24;
}

static int commit_routes(void)
{
    return ioctl(kvm_state.vm_fd, KVM_SET_GSI_ROUTING, kvm_state.routing);
}

void kvm_send_msi(uint64_t addr, uint32_t data)
{
    struct kvm_msi m = {.address_lo = (uint32_t)addr,
                        .address_hi = (uint32_t)(addr >> 32),
                        .data = data};
    if (kvm_state.vm_fd >= 0) {
        ioctl(kvm_state.vm_fd, KVM_SIGNAL_MSI, &m);
    }
}

static struct kvm_irq_routing_entry *find_route(unsigned gsi)
{
    struct kvm_irq_routing *r = kvm_state.routing;
    for (unsigned i = 0; r && i < r->nr; i++) {
        if (r->entries[i].gsi == gsi && r->entries[i].type == KVM_IRQ_ROUTING_MSI) {
            return &r->entries[i];
        }
    }
    return NULL;
}

int kvm_irqfd_add(int fd, uint64_t addr, uint32_t data)
{
    KVMState *k = &kvm_state;
    if (!k->routing || k->routing->nr >= MAX_ROUTES) {
        return -1;
    }
    unsigned gsi = k->next_msi_gsi;
    while (find_route(gsi)) {
        gsi++;
    }
    struct kvm_irq_routing_entry *e = &k->routing->entries[k->routing->nr++];
    memset(e, 0, sizeof(*e));
    e->gsi = gsi;
    e->type = KVM_IRQ_ROUTING_MSI;
    e->u.msi.address_lo = (uint32_t)addr;
    e->u.msi.address_hi = (uint32_t)(addr >> 32);
    e->u.msi.data = data;
    struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = gsi};
    if (commit_routes() < 0 || ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0) {
        k->routing->nr--;
        commit_routes();
        return -1;
    }
    struct KVMIrqfd *a = realloc(k->irqfds, (k->n_irqfds + 1) * sizeof(*a));
    if (a) {
        k->irqfds = a;
        k->irqfds[k->n_irqfds++] = (struct KVMIrqfd){fd, gsi};
    }
    return (int)gsi;
}

int kvm_irqfd_update(int route, uint64_t addr, uint32_t data)
{
    struct kvm_irq_routing_entry *e = find_route((unsigned)route);
    if (!e) {
        return -1;
    }
    e->u.msi.address_lo = (uint32_t)addr;
    e->u.msi.address_hi = (uint32_t)(addr >> 32);
    e->u.msi.data = data;
    return commit_routes();
}

void kvm_irqfd_del(int route, int fd)
{
    KVMState *k = &kvm_state;
    struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = (uint32_t)route,
                              .flags = KVM_IRQFD_FLAG_DEASSIGN};
    ioctl(k->vm_fd, KVM_IRQFD, &irqfd);
    for (unsigned i = 0; i < k->n_irqfds; i++) {
        if (k->irqfds[i].fd == fd && k->irqfds[i].gsi == (unsigned)route) {
            k->irqfds[i] = k->irqfds[--k->n_irqfds];
            break;
        }
    }
    struct kvm_irq_routing_entry *e = find_route((unsigned)route);
    if (e) {
        *e = k->routing->entries[--k->routing->nr];
        commit_routes();
    }
}

int kvm_memory_init(void)
{
    KVMState *k = &kvm_state;
    k->routing = calloc(1, sizeof(*k->routing) + MAX_ROUTES * sizeof(struct kvm_irq_routing_entry));
    if (!k->routing) {
        error_report("kvm: out of memory");
        return -1;
    }
    default_routes();
    return 0;
}

int kvm_memory_attach(void)
{
    KVMState *k = &kvm_state;
    int n = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    k->nr_slots = n > 0 ? (unsigned)n : 32;
    if (k->nr_slots > 512) {
        k->nr_slots = 512; /* plenty for a PC; bounds the diff loop */
    }
    k->slots = calloc(k->nr_slots, sizeof(*k->slots));
    if (!k->slots) {
        error_report("kvm: out of memory");
        return -1;
    }
    k->readonly_mem = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    if (k->routing->nr > 0 && commit_routes() < 0) {
        error_report("kvm: KVM_SET_GSI_ROUTING failed: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < k->n_irqfds; i++) {
        struct kvm_irqfd irqfd = {.fd = (uint32_t)k->irqfds[i].fd, .gsi = k->irqfds[i].gsi};
        if (ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0) {
            error_report("kvm: KVM_IRQFD failed: %s", strerror(errno));
            return -1;
        }
    }
    kvm_listener = (MemoryListener){
        .commit = kvm_commit,
        .eventfd_add = kvm_eventfd_add,
        .eventfd_del = kvm_eventfd_del,
        .log_sync = kvm_log_sync,
    };
    memory_listener_register(&kvm_listener);
    return 0;
}

void kvm_memory_detach(void)
{
    memory_listener_unregister(&kvm_listener);
    free(kvm_state.slots);
    kvm_state.slots = NULL;
}

void kvm_memory_destroy(void)
{
    free(kvm_state.routing);
    kvm_state.routing = NULL;
    free(kvm_state.irqfds);
    kvm_state.irqfds = NULL;
    kvm_state.n_irqfds = 0;
}
