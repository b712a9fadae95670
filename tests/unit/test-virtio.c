/*
 * The virtio PCI transport and virtqueues (hw/virtio), driven the way a guest driver drives
 * them: PCI config space, BARs, the modern common configuration, the legacy I/O header, rings
 * in guest RAM, notifications through the notify registers (their eventfds run on the main
 * loop) and MSI-X / INTx interrupts. The device under test is an "echo" device defined here:
 * it copies each chain's driver-readable bytes into its device-writable buffers.
 *
 * Checked: IDs and capability layout; feature negotiation (FEATURES_OK refused on IOMMU
 * rules, bad bits dropped); split rings with direct and indirect chains, event index and
 * interrupt suppression; packed rings; the legacy interface with INTx and the ISR; a queue
 * reset; saved state into a fresh device that then goes on; and every malformed chain or ring
 * the spec forbids: the device reports it once in QEMU's words, sets NEEDS_RESET, raises the
 * config interrupt, touches nothing outside RAM, and works again after a reset.
 *
 * Then the real virtio-blk-pci on a -blockdev node (a raw temp file): a read, its saved state
 * into a fresh device that goes on (a write and a flush, found in the file), and the node free
 * for blockdev-del once the device is gone (it is "in use" while the device holds it).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "../lib/unit.h"
#include "vireo/accel.h"
#include "vireo/blockdev.h"
#include "vireo/device.h"
#include "vireo/qjson.h"
#include "vireo/virtio-pci.h"

#define RAM_SIZE (16u << 20)
#define BAR4 0xfe000000ull
#define BAR1 0xfd000000ull
#define BAR0 0xc000u
#define COMMON (BAR4 + 0x0000)
#define ISR (BAR4 + 0x1000)
#define DEVCFG (BAR4 + 0x2000)
#define NOTIFY (BAR4 + 0x3000)

static uint8_t *ram;
static PCIBus *bus;
static int intx_level[4];
static uint64_t msi_addr[64];
static uint32_t msi_data[64];
static int n_msi;
static char nbuf[128];
#define NAME(...) (snprintf(nbuf, sizeof(nbuf), __VA_ARGS__), nbuf)

static int route(PCIDevice *d, int pin)
{
    return (PCI_SLOT(d->devfn) + pin - 1) & 3;
}

static void set_intx(void *opaque, int input, int level)
{
    (void)opaque;
    intx_level[input] = level;
}

static void record_msi(uint64_t addr, uint32_t data)
{
    if (n_msi < 64) {
        msi_addr[n_msi] = addr;
        msi_data[n_msi] = data;
    }
    n_msi++;
}

static const AccelOps test_accel = {.name = "test", .send_msi = record_msi};

/* ---- the echo device ---- */

typedef struct EchoPCI {
    VirtIOPCIProxy proxy;
    uint32_t cfg_word; /* 4 bytes of device config the driver may write */
    unsigned handled;
} EchoPCI;

static void echo_handle(VirtIODevice *vdev, VirtQueue *vq)
{
    EchoPCI *s = vdev->opaque;
    VirtQueueElement *e;
    while ((e = virtqueue_pop(vq))) {
        size_t n = iov_size(e->out_sg, e->out_num);
        uint8_t *buf = g_malloc(n ? n : 1);
        iov_to_buf(e->out_sg, e->out_num, 0, buf, n);
        size_t w = iov_from_buf(e->in_sg, e->in_num, 0, buf, n);
        g_free(buf);
        virtqueue_push(vq, e, (unsigned)w);
        s->handled++;
        virtio_notify(vdev, vq);
    }
}

static void echo_get_config(VirtIODevice *vdev, uint8_t *c)
{
    EchoPCI *s = vdev->opaque;
    memcpy(c, &s->cfg_word, 4);
}

static void echo_set_config(VirtIODevice *vdev, const uint8_t *c)
{
    EchoPCI *s = vdev->opaque;
    memcpy(&s->cfg_word, c, 4);
}

static uint64_t echo_features(VirtIODevice *vdev, uint64_t f)
{
    (void)vdev;
    return f | 1ull << 0; /* a device-specific bit */
}

static const VirtIODeviceOps echo_ops = {
    .name = "virtio-echo",
    .device_id = 0x20,
    .get_features = echo_features,
    .get_config = echo_get_config,
    .set_config = echo_set_config,
};

static bool echo_realize(VirtIOPCIProxy *p, char **errp)
{
    (void)errp;
    EchoPCI *s = (EchoPCI *)p;
    s->cfg_word = 0x11223344;
    virtio_init(&p->vdev, &echo_ops, s, 4, 2);
    virtio_add_queue(&p->vdev, 16, echo_handle);
    virtio_add_queue(&p->vdev, 16, echo_handle);
    if (p->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        p->nvectors = 3;
    }
    return true;
}

static const VirtIOPCIDeviceInfo echo_vinfo = {
    .realize = echo_realize,
    .legacy_device_id = 0x10ff,
    .class_code = 0x00ff,
};

static const Property echo_props[] = {
    DEFINE_PROP_BIT("ioeventfd", EchoPCI, proxy.ioeventfd, true),
    DEFINE_PROP_UINT32("vectors", EchoPCI, proxy.nvectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_END,
};

static const VMStateField echo_fields[] = {
    VMSTATE_STRUCT(proxy, EchoPCI, virtio_pci_vmstate),
    VMSTATE_UINT32(cfg_word, EchoPCI),
    VMSTATE_END_OF_LIST(),
};

static bool echo_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    return virtio_pci_post_load(&((EchoPCI *)opaque)->proxy, errp);
}

static const VMStateDescription echo_vmsd = {
    .name = "virtio-echo",
    .version = 1,
    .minimum_version = 1,
    .fields = echo_fields,
    .post_load = echo_post_load,
};

static const DeviceInfo echo_info = {
    .name = "virtio-echo-pci",
    VIRTIO_PCI_DEVICE_INFO,
    .instance_size = sizeof(EchoPCI),
    .props = echo_props,
    .vmsd = &echo_vmsd,
    .family = &echo_vinfo,
};

/* ---- driver side helpers ---- */

static PCIDevice *pd;

static uint32_t cfg_r(uint32_t addr, unsigned len)
{
    return pci_bus_config_read(bus, (uint8_t)pd->devfn, addr, len);
}

static void cfg_w(uint32_t addr, uint32_t val, unsigned len)
{
    pci_bus_config_write(bus, (uint8_t)pd->devfn, addr, val, len);
}

static uint64_t mr(uint64_t addr, unsigned size)
{
    uint64_t v = 0;
    mmio_dispatch(addr, &v, size, false);
    return v;
}

static void mw(uint64_t addr, uint64_t v, unsigned size)
{
    mmio_dispatch(addr, &v, size, true);
}

static uint32_t io_r(uint16_t port, unsigned size)
{
    uint32_t v = 0;
    pio_dispatch(port, &v, size, false);
    return v;
}

static void io_w(uint16_t port, uint32_t v, unsigned size)
{
    pio_dispatch(port, &v, size, true);
}

static void put16(uint64_t a, uint16_t v)
{
    memcpy(ram + a, &v, 2);
}
static void put32(uint64_t a, uint32_t v)
{
    memcpy(ram + a, &v, 4);
}
static void put64(uint64_t a, uint64_t v)
{
    memcpy(ram + a, &v, 8);
}
static uint16_t get16(uint64_t a)
{
    uint16_t v;
    memcpy(&v, ram + a, 2);
    return v;
}
static uint32_t get32(uint64_t a)
{
    uint32_t v;
    memcpy(&v, ram + a, 4);
    return v;
}

/* Let the main loop run the queue handlers the notify eventfds woke. */
static void run_loop(void)
{
    for (int i = 0; i < 50 && g_main_context_iteration(NULL, FALSE); i++) {
    }
}

/* stderr captured while a check runs: the device's one-line messages */
static char errtxt[4096];
static int saved_stderr = -1;
static FILE *errfile;

static void capture_begin(void)
{
    fflush(stderr);
    errfile = tmpfile();
    saved_stderr = dup(2);
    dup2(fileno(errfile), 2);
}

static const char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(errfile);
    size_t n = fread(errtxt, 1, sizeof(errtxt) - 1, errfile);
    errtxt[n] = 0;
    fclose(errfile);
    return errtxt;
}

static unsigned lines(const char *s)
{
    unsigned n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

/* ring layout used by the tests (split): queue of 16 */
#define QN 16
#define DESC 0x100000ull
#define AVAIL 0x101000ull
#define USED 0x102000ull
#define BUFS 0x200000ull
#define INDIRECT 0x300000ull

static uint16_t avail_idx;

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    put64(DESC + 16 * i, addr);
    put32(DESC + 16 * i + 8, len);
    put16(DESC + 16 * i + 12, flags);
    put16(DESC + 16 * i + 14, next);
}

static void publish(uint16_t head)
{
    put16(AVAIL + 4 + 2 * (avail_idx % QN), head);
    avail_idx++;
    put16(AVAIL + 2, avail_idx);
}

static void kick(unsigned q)
{
    mw(NOTIFY + 4 * q, q, 2);
    run_loop();
}

static uint8_t status(void)
{
    return (uint8_t)mr(COMMON + 0x14, 1);
}

/* Reset and bring the device up as a modern driver with queue 0 at DESC/AVAIL/USED. */
static void modern_init(uint64_t features)
{
    mw(COMMON + 0x14, 0, 1); /* reset */
    memset(ram + DESC, 0, 0x3000);
    avail_idx = 0;
    mw(COMMON + 0x14, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
    mw(COMMON + 0x08, 0, 4);
    mw(COMMON + 0x0c, (uint32_t)features, 4);
    mw(COMMON + 0x08, 1, 4);
    mw(COMMON + 0x0c, (uint32_t)(features >> 32), 4);
    mw(COMMON + 0x14, 0x0b, 1); /* FEATURES_OK */
    mw(COMMON + 0x10, 0, 2);    /* config vector 0 */
    mw(COMMON + 0x16, 0, 2);    /* queue 0 */
    mw(COMMON + 0x18, QN, 2);
    mw(COMMON + 0x1a, 1, 2); /* vector 1 */
    mw(COMMON + 0x20, DESC, 4);
    mw(COMMON + 0x24, 0, 4);
    mw(COMMON + 0x28, AVAIL, 4);
    mw(COMMON + 0x2c, 0, 4);
    mw(COMMON + 0x30, USED, 4);
    mw(COMMON + 0x34, 0, 4);
    mw(COMMON + 0x1c, 1, 2);
    mw(COMMON + 0x14, 0x0f, 1); /* DRIVER_OK */
}

static void msix_setup(void)
{
    uint8_t cap = pci_find_capability(pd, PCI_CAP_ID_MSIX);
    cfg_w(cap + 2, 0x8000, 2);
    for (unsigned v = 0; v < 3; v++) {
        mw(BAR1 + 16 * v, 0xfee00000, 4);
        mw(BAR1 + 16 * v + 4, 0, 4);
        mw(BAR1 + 16 * v + 8, 0x40 + v, 4);
        mw(BAR1 + 16 * v + 12, 0, 4);
    }
}

/* A malformed setup: the device says `msg` once, sets NEEDS_RESET, raises the config
 * interrupt; then a reset makes it work again. */
static void expect_broken(const char *name, const char *msg, void (*setup)(void))
{
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC);
    memset(ram + BUFS, 0, 0x1000);
    n_msi = 0;
    capture_begin();
    setup();
    const char *out = capture_end();
    char want[256];
    snprintf(want, sizeof(want), "qemu-system-x86_64: %s\n", msg);
    CHECK(NAME("bad/%s/message", name), !strcmp(out, want));
    if (strcmp(out, want)) {
        printf("# got: %s# want: %s", out, want);
    }
    CHECK(NAME("bad/%s/needs-reset", name), status() & VIRTIO_CONFIG_S_NEEDS_RESET);
    CHECK(NAME("bad/%s/config-interrupt", name), n_msi >= 1 && msi_data[n_msi - 1] == 0x40);
    /* broken: another notification does nothing and prints nothing */
    capture_begin();
    kick(0);
    CHECK(NAME("bad/%s/quiet-after", name), lines(capture_end()) == 0);
    /* and a reset brings it back */
    modern_init(1ull << VIRTIO_F_VERSION_1);
    memcpy(ram + BUFS, "ping", 4);
    desc(0, BUFS, 4, 0, 0);
    desc(1, BUFS + 0x100, 4, 2, 0);
    put16(DESC + 12, 1); /* NEXT */
    put16(DESC + 14, 1);
    publish(0);
    kick(0);
    CHECK(NAME("bad/%s/works-after-reset", name),
          get16(USED + 2) == 1 && !memcmp(ram + BUFS + 0x100, "ping", 4) &&
              !(status() & VIRTIO_CONFIG_S_NEEDS_RESET));
}

static void bad_outside_ram(void)
{
    desc(0, 0x80000000ull, 16, 0, 0);
    publish(0);
    kick(0);
}
static void bad_loop(void)
{
    desc(0, BUFS, 16, 1, 1);
    desc(1, BUFS + 16, 16, 1, 0);
    publish(0);
    kick(0);
}
static void bad_next(void)
{
    desc(0, BUFS, 16, 1, 9 + QN);
    publish(0);
    kick(0);
}
static void bad_head(void)
{
    put16(AVAIL + 4, 100);
    avail_idx = 1;
    put16(AVAIL + 2, 1);
    kick(0);
}
static void bad_avail_jump(void)
{
    put16(AVAIL + 2, 100);
    kick(0);
}
static void bad_nested_indirect(void)
{
    put64(INDIRECT, INDIRECT + 0x100);
    put32(INDIRECT + 8, 16);
    put16(INDIRECT + 12, 4); /* INDIRECT inside the table */
    desc(0, INDIRECT, 16, 4, 0);
    publish(0);
    kick(0);
}
static void bad_indirect_size(void)
{
    desc(0, INDIRECT, 20, 4, 0);
    publish(0);
    kick(0);
}
static void bad_indirect_outside(void)
{
    desc(0, 0xf0000000ull, 64, 4, 0);
    publish(0);
    kick(0);
}
static void bad_zero_len(void)
{
    desc(0, BUFS, 0, 0, 0);
    publish(0);
    kick(0);
}
static void bad_huge_len(void)
{
    desc(0, RAM_SIZE - 0x1000, 0xffffffffu, 0, 0);
    publish(0);
    kick(0);
}
static void bad_wrap(void)
{
    desc(0, 0xffffffffffffff00ull, 0x200, 0, 0);
    publish(0);
    kick(0);
}
static void bad_order(void)
{
    desc(0, BUFS, 16, 2 | 1, 1); /* writable first */
    desc(1, BUFS + 16, 16, 0, 0);
    publish(0);
    kick(0);
}
static void bad_too_many(void)
{
    /* an indirect table of 1100 one-byte descriptors: more segments than an element holds */
    for (unsigned i = 0; i < 1100; i++) {
        put64(INDIRECT + 16 * i, BUFS + i);
        put32(INDIRECT + 16 * i + 8, 1);
        put16(INDIRECT + 16 * i + 12, i + 1 < 1100 ? 1 : 0);
        put16(INDIRECT + 16 * i + 14, (uint16_t)(i + 1));
    }
    desc(0, INDIRECT, 1100 * 16, 4, 0);
    publish(0);
    kick(0);
}
static void bad_ring_outside(void)
{
    mw(COMMON + 0x14, 0, 1);
    mw(COMMON + 0x14, 3, 1);
    mw(COMMON + 0x08, 1, 4);
    mw(COMMON + 0x0c, 1, 4);
    mw(COMMON + 0x14, 0x0b, 1);
    mw(COMMON + 0x10, 0, 2);
    mw(COMMON + 0x16, 0, 2);
    mw(COMMON + 0x20, 0xe0000000u, 4); /* no RAM there */
    mw(COMMON + 0x28, AVAIL, 4);
    mw(COMMON + 0x30, USED, 4);
    mw(COMMON + 0x14, 0x0f, 1);
    mw(COMMON + 0x1c, 1, 2);
}
static void bad_used_rom_end(void)
{
    mw(COMMON + 0x14, 0, 1);
    mw(COMMON + 0x14, 3, 1);
    mw(COMMON + 0x08, 1, 4);
    mw(COMMON + 0x0c, 1, 4);
    mw(COMMON + 0x14, 0x0b, 1);
    mw(COMMON + 0x10, 0, 2);
    mw(COMMON + 0x16, 0, 2);
    mw(COMMON + 0x20, DESC, 4);
    mw(COMMON + 0x28, AVAIL, 4);
    mw(COMMON + 0x30, RAM_SIZE - 8, 4); /* the used ring runs off the end of RAM */
    mw(COMMON + 0x14, 0x0f, 1);
    mw(COMMON + 0x1c, 1, 2);
}
static void bad_queue_enable(void)
{
    mw(COMMON + 0x1c, 2, 2);
}

/* ---- virtio-blk: requests through the real device on a -blockdev node; its saved state into
 * a fresh device that goes on; the node free again once the device is gone ---- */

/* Map a freshly realized device's BARs where the helpers above expect them. */
static void bars_at_test_addresses(void)
{
    cfg_w(0x10, BAR0, 4);
    cfg_w(0x14, (uint32_t)BAR1, 4);
    cfg_w(0x20, (uint32_t)BAR4, 4);
    cfg_w(0x24, 0, 4);
    cfg_w(0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    msix_setup();
}

/* One request: header (type, sector) at BUFS + 0x10 * slot, data at BUFS + 0x1000 * (slot + 1)
 * (512 bytes, written by the device when in), status at BUFS + 0x800 + slot. */
static void blk_request(unsigned slot, uint32_t type, uint64_t sector, bool in)
{
    uint64_t hdr = BUFS + 0x10 * slot, data = BUFS + 0x1000 * (slot + 1), st = BUFS + 0x800 + slot;
    put32(hdr, type);
    put32(hdr + 4, 0);
    put64(hdr + 8, sector);
    ram[st] = 0xff;
    unsigned d = 3 * slot;
    if (type == 4) { /* flush: header and status */
        desc(d, hdr, 16, 1, d + 1);
        desc(d + 1, st, 1, 2, 0);
    } else {
        desc(d, hdr, 16, 1, d + 1);
        desc(d + 1, data, 512, in ? 3 : 1, d + 2);
        desc(d + 2, st, 1, 2, 0);
    }
    publish((uint16_t)d);
}

/* Kick queue 0 and let the main loop run until the used index reaches `want` (the block layer
 * completes on its threads, the callbacks run on the main loop). */
static bool blk_wait_used(uint16_t want)
{
    kick(0);
    for (int i = 0; i < 2000 && get16(USED + 2) != want; i++) {
        g_usleep(1000);
        run_loop();
    }
    return get16(USED + 2) == want;
}

static void virtio_blk_state(void)
{
    char path[] = "/tmp/vireo-test-vblk-XXXXXX";
    int fd = mkstemp(path);
    uint8_t sec[512];
    for (unsigned i = 0; i < 4; i++) {
        memset(sec, 0xa0 + i, sizeof(sec));
        CHECK(NAME("vblk/image-%u", i), fd >= 0 && pwrite(fd, sec, 512, 512 * i) == 512);
    }
    CHECK("vblk/image-size", ftruncate(fd, 1 << 20) == 0);
    char *err = NULL;
    char *opts_s = g_strdup_printf("{\"driver\": \"raw\", \"node-name\": \"vb0\", "
                                   "\"file\": {\"driver\": \"file\", \"filename\": \"%s\"}}",
                                   path);
    QJ *opts = qj_parse(opts_s, &err);
    g_free(opts_s);
    CHECK("vblk/blockdev-add", opts && blockdev_add(opts, false, &err));
    qj_free(opts);

    const DeviceInfo *info = device_info_find("virtio-blk-pci");
    Device *dev = device_new(info);
    pd = PCI_DEVICE(dev);
    pd->devfn = PCI_DEVFN(5, 0);
    CHECK("vblk/realize", device_set_prop(dev, "drive", "vb0", &err) &&
                              device_set_prop(dev, "num-queues", "1", &err) &&
                              device_realize(dev, &err));
    if (err) {
        printf("# %s\n", err);
        g_free(err);
        err = NULL;
    }
    /* the node is in use while the device holds it */
    CHECK("vblk/node-in-use", blockdev_del("vb0", &err) < 0);
    g_free(err);
    err = NULL;
    bars_at_test_addresses();
    modern_init(1ull << VIRTIO_F_VERSION_1);
    memset(ram + BUFS, 0, 0x8000);
    blk_request(0, 0, 1, true); /* read sector 1 */
    memset(sec, 0xa1, sizeof(sec));
    CHECK("vblk/read", blk_wait_used(1) && ram[BUFS + 0x800] == 0 &&
                           !memcmp(ram + BUFS + 0x1000, sec, 512));

    /* saved with a request done, into a fresh device (the old one gone: it held the drive) */
    GByteArray *st = g_byte_array_new();
    vmstate_save(info->vmsd, dev, st);
    device_free(dev);
    Device *fresh = device_new(info);
    pd = PCI_DEVICE(fresh);
    pd->devfn = PCI_DEVFN(5, 0);
    CHECK("vblk/state/fresh-realize", device_set_prop(fresh, "drive", "vb0", &err) &&
                                          device_set_prop(fresh, "num-queues", "1", &err) &&
                                          device_realize(fresh, &err));
    size_t used = 0;
    CHECK("vblk/state/load",
          vmstate_load(info->vmsd, fresh, st->data, st->len, &used, &err) && used == st->len);
    if (err) {
        printf("# %s\n", err);
        g_free(err);
        err = NULL;
    }
    g_byte_array_free(st, TRUE);
    VirtIOPCIProxy *fp = (VirtIOPCIProxy *)fresh;
    CHECK("vblk/state/queue", fp->vdev.vq[0].last_avail_idx == 1 && fp->vdev.vq[0].used_idx == 1 &&
                                  fp->vdev.status == 0x0f);
    /* it goes on: a write to sector 2 and a flush, on the host file afterwards */
    memset(ram + BUFS + 0x2000, 0x5c, 512);
    blk_request(1, 1, 2, false);
    blk_request(2, 4, 0, false);
    CHECK("vblk/state/goes-on", blk_wait_used(3) && ram[BUFS + 0x801] == 0 &&
                                    ram[BUFS + 0x802] == 0);
    memset(sec, 0x5c, sizeof(sec));
    uint8_t back[512];
    CHECK("vblk/state/written", pread(fd, back, 512, 1024) == 512 && !memcmp(back, sec, 512));
    device_free(fresh);
    /* the device's own backend went with it: the node can go */
    CHECK("vblk/node-free-after-unplug", blockdev_del("vb0", &err) == 0);
    if (err) {
        printf("# %s\n", err);
        g_free(err);
    }
    close(fd);
    unlink(path);
}

int main(void)
{
    static MemoryRegion pci_space, pci_alias, ram_mr;
    ram = calloc(1, RAM_SIZE);
    current_accel = &test_accel;
    memory_region_init_ram_ptr(&ram_mr, "ram", RAM_SIZE, ram);
    memory_region_add_subregion(get_system_memory(), 0, &ram_mr, 0);
    memory_region_init_container(&pci_space, "pci", UINT64_MAX);
    memory_region_init_alias(&pci_alias, "pci-hole", &pci_space, 0, UINT64_MAX);
    memory_region_add_subregion(get_system_memory(), 0, &pci_alias, -1);
    bus = pci_bus_new("pci.0", &pci_space, get_system_io(), route, set_intx, NULL, 4);
    device_set_machine_buses(true);

    char *err = NULL;
    Device *dev = device_new(&echo_info);
    pd = PCI_DEVICE(dev);
    pd->devfn = PCI_DEVFN(3, 0);
    CHECK("realize", device_realize(dev, &err));
    EchoPCI *echo = (EchoPCI *)dev;
    VirtIODevice *vdev = &echo->proxy.vdev;

    /* identity and layout as QEMU's transitional virtio-*-pci */
    CHECK("pci/ids", cfg_r(0, 4) == 0x10ff1af4 && cfg_r(8, 4) == 0x00ff0000 &&
                         cfg_r(0x2c, 4) == 0x00201af4 && cfg_r(0x3d, 1) == 1);
    CHECK("pci/cap-order", cfg_r(0x34, 1) == 0x98 && cfg_r(0x98, 1) == 0x11 &&
                               cfg_r(0x99, 1) == 0x84 && cfg_r(0x85, 1) == 0x70 &&
                               cfg_r(0x71, 1) == 0x60 && cfg_r(0x61, 1) == 0x50 &&
                               cfg_r(0x51, 1) == 0x40 && cfg_r(0x41, 1) == 0);
    CHECK("pci/cap-common", cfg_r(0x40, 4) == 0x01100009 && cfg_r(0x44, 1) == 4 &&
                                cfg_r(0x48, 4) == 0 && cfg_r(0x4c, 4) == 0x1000);
    CHECK("pci/cap-notify", cfg_r(0x73, 1) == 2 && cfg_r(0x78, 4) == 0x3000 &&
                                cfg_r(0x7c, 4) == 0x1000 && cfg_r(0x80, 4) == 4);
    CHECK("pci/cap-pcicfg", cfg_r(0x86, 1) == 0x14 && cfg_r(0x87, 1) == 5);
    cfg_w(0x10, 0xffffffff, 4);
    cfg_w(0x14, 0xffffffff, 4);
    cfg_w(0x20, 0xffffffff, 4);
    cfg_w(0x24, 0xffffffff, 4);
    CHECK("pci/bar-sizes", cfg_r(0x10, 4) == 0xffffffe1 && cfg_r(0x14, 4) == 0xfffff000 &&
                               cfg_r(0x20, 4) == 0xffffc00c && cfg_r(0x24, 4) == 0xffffffff);
    cfg_w(0x10, BAR0, 4);
    cfg_w(0x14, (uint32_t)BAR1, 4);
    cfg_w(0x20, (uint32_t)BAR4, 4);
    cfg_w(0x24, 0, 4);
    cfg_w(0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    msix_setup();

    /* features: device bits offered, transport bits; BAD_FEATURE only on the legacy side */
    mw(COMMON + 0x00, 0, 4);
    uint32_t f0 = (uint32_t)mr(COMMON + 0x04, 4);
    mw(COMMON + 0x00, 1, 4);
    uint32_t f1 = (uint32_t)mr(COMMON + 0x04, 4);
    CHECK("features/offered", f0 == (1u << 0 | 1u << 24 | 1u << 27 | 1u << 28 | 1u << 29) &&
                                  f1 == (1u << 0 | 1u << 8));
    CHECK("features/legacy-bad-feature", io_r(BAR0, 4) == (f0 | 1u << 30));
    CHECK("cfg/numq", mr(COMMON + 0x12, 2) == 2 && mr(COMMON + 0x13, 1) == 0);
    mw(COMMON + 0x16, 1, 2);
    CHECK("cfg/qsize-noff", mr(COMMON + 0x18, 2) == 16 && mr(COMMON + 0x1e, 2) == 1);
    mw(COMMON + 0x16, 5, 2);
    CHECK("cfg/missing-queue", mr(COMMON + 0x18, 2) == 0);
    mw(COMMON + 0x1a, 77, 2);
    CHECK("cfg/bad-vector-reads-no-vector", mr(COMMON + 0x1a, 2) == 0xffff);
    CHECK("cfg/device-config", mr(DEVCFG, 4) == 0x11223344 && mr(DEVCFG + 1, 1) == 0x33);
    mw(DEVCFG, 0x55667788, 4);
    CHECK("cfg/device-config-write", echo->cfg_word == 0x55667788 && mr(DEVCFG + 4, 4) == 0xffffffff);
    /* the PCI configuration access window reads the common config too */
    cfg_w(0x84 + 4, 4, 1);
    cfg_w(0x84 + 8, 0x12, 4);
    cfg_w(0x84 + 12, 2, 4);
    CHECK("cfg/pci-cfg-window", (cfg_r(0x84 + 16, 4) & 0xffff) == 2);

    /* a feature the device does not offer is dropped; GF reads what was written */
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << 5);
    CHECK("features/bad-bit-dropped", vdev->guest_features == 1ull << VIRTIO_F_VERSION_1);
    CHECK("status/driver-ok", status() == 0x0f);

    /* a chain: 4 bytes out, 8 in; the echo, the used entry, the vector-1 interrupt */
    n_msi = 0;
    memcpy(ram + BUFS, "abcd", 4);
    desc(0, BUFS, 4, 1, 1);
    desc(1, BUFS + 0x100, 8, 2, 0);
    publish(0);
    kick(0);
    CHECK("split/echo", !memcmp(ram + BUFS + 0x100, "abcd", 4));
    CHECK("split/used", get16(USED + 2) == 1 && get32(USED + 4) == 0 && get32(USED + 8) == 4);
    CHECK("split/msix-vector", n_msi == 1 && msi_data[0] == 0x41 && msi_addr[0] == 0xfee00000);
    /* the avail ring's NO_INTERRUPT flag suppresses it */
    put16(AVAIL, 1);
    n_msi = 0;
    publish(0);
    kick(0);
    CHECK("split/no-interrupt-flag", get16(USED + 2) == 2 && n_msi == 0);
    put16(AVAIL, 0);
    /* a chain that crosses into another RAM range is split in iovecs; several in one kick */
    for (unsigned k = 0; k < 3; k++) {
        desc(2 + 2 * k, BUFS + 0x200 + k, 1, 1, (uint16_t)(3 + 2 * k));
        desc(3 + 2 * k, BUFS + 0x300 + k, 1, 2, 0);
        ram[BUFS + 0x200 + k] = (uint8_t)('x' + k);
        publish((uint16_t)(2 + 2 * k));
    }
    kick(0);
    CHECK("split/batch", get16(USED + 2) == 5 && !memcmp(ram + BUFS + 0x300, "xyz", 3));

    /* indirect descriptors */
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC);
    memcpy(ram + BUFS, "indirect", 8);
    put64(INDIRECT, BUFS);
    put32(INDIRECT + 8, 8);
    put16(INDIRECT + 12, 1);
    put16(INDIRECT + 14, 1);
    put64(INDIRECT + 16, BUFS + 0x400);
    put32(INDIRECT + 24, 8);
    put16(INDIRECT + 28, 2);
    desc(0, INDIRECT, 32, 4, 0);
    publish(0);
    kick(0);
    CHECK("indirect/echo", get16(USED + 2) == 1 && !memcmp(ram + BUFS + 0x400, "indirect", 8));

    /* event index: the device asks to be notified at the next entry; the driver's used_event
     * decides interrupts */
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX);
    n_msi = 0;
    desc(0, BUFS, 4, 1, 1);
    desc(1, BUFS + 0x100, 4, 2, 0);
    put16(AVAIL + 4 + 2 * QN, 5); /* used_event: interrupt after entry 5 */
    publish(0);
    kick(0);
    CHECK("event-idx/avail-event", get16(USED + 4 + 8 * QN) == 1);
    CHECK("event-idx/first-interrupt", n_msi == 1); /* nothing signalled yet: always */
    publish(0);
    kick(0);
    CHECK("event-idx/suppressed", get16(USED + 2) == 2 && n_msi == 1);
    for (int i = 0; i < 4; i++) {
        publish(0);
    }
    kick(0);
    CHECK("event-idx/crossed", get16(USED + 2) == 6 && n_msi == 2);

    /* a masked vector pends and is delivered on unmask */
    mw(BAR1 + 16 + 12, 1, 4);
    n_msi = 0;
    put16(AVAIL + 4 + 2 * QN, 6);
    publish(0);
    kick(0);
    CHECK("msix/masked-pending", n_msi == 0 && (mr(BAR1 + 0x800, 4) & 2));
    mw(BAR1 + 16 + 12, 0, 4);
    CHECK("msix/unmask-delivers", n_msi == 1 && msi_data[0] == 0x41);

    /* queue reset (VIRTIO_F_RING_RESET): the queue goes back to disabled */
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_RESET);
    mw(COMMON + 0x3a, 1, 2);
    CHECK("queue-reset", mr(COMMON + 0x1c, 2) == 0 && mr(COMMON + 0x20, 4) == 0 &&
                             mr(COMMON + 0x18, 2) == 16);

    /* packed ring: descriptors written by the driver with AVAIL=wrap, USED=!wrap */
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_PACKED);
    CHECK("packed/negotiated", virtio_vdev_has_feature(vdev, VIRTIO_F_RING_PACKED) == 0);
    echo->proxy.vdev.packed = true;
    virtio_init_features(vdev, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_BAD_FEATURE);
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_PACKED);
    CHECK("packed/offered", virtio_vdev_has_feature(vdev, VIRTIO_F_RING_PACKED));
    memcpy(ram + BUFS, "packed!!", 8);
    /* chain at slots 0-1, id 7 */
    put64(DESC, BUFS);
    put32(DESC + 8, 8);
    put16(DESC + 12, 7);
    put64(DESC + 16, BUFS + 0x500);
    put32(DESC + 24, 8);
    put16(DESC + 28, 7);
    put16(DESC + 16 + 14, (uint16_t)(2 | 1u << 7));
    put16(DESC + 14, (uint16_t)(1 | 1u << 7));
    n_msi = 0;
    kick(0);
    CHECK("packed/echo", !memcmp(ram + BUFS + 0x500, "packed!!", 8));
    CHECK("packed/used-desc", get16(DESC + 12) == 7 && get32(DESC + 8) == 8 &&
                                  get16(DESC + 14) == (1u << 7 | 1u << 15));
    CHECK("packed/interrupt", n_msi == 1);
    echo->proxy.vdev.packed = false;
    virtio_init_features(vdev, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_BAD_FEATURE);

    /* malformed rings and chains */
    expect_broken("outside-ram", "virtio: bogus descriptor or out of resources", bad_outside_ram);
    expect_broken("loop", "Looped descriptor", bad_loop);
    expect_broken("next", "Desc next is 25", bad_next);
    expect_broken("head", "Guest says index 100 is available", bad_head);
    expect_broken("avail-jump", "Guest moved used index from 0 to 100", bad_avail_jump);
    expect_broken("nested-indirect", "Nested indirect descriptor", bad_nested_indirect);
    expect_broken("indirect-size", "Invalid size for indirect buffer table", bad_indirect_size);
    expect_broken("indirect-outside", "Cannot map indirect buffer", bad_indirect_outside);
    expect_broken("zero-length", "virtio: zero sized buffers are not allowed", bad_zero_len);
    expect_broken("huge-length", "virtio: bogus descriptor or out of resources", bad_huge_len);
    expect_broken("wrapping", "virtio: bogus descriptor or out of resources", bad_wrap);
    expect_broken("order", "Incorrect order for descriptors", bad_order);
    expect_broken("too-many", "virtio: too many write descriptors in indirect table",
                  bad_too_many);
    expect_broken("ring-outside", "Cannot map desc", bad_ring_outside);
    expect_broken("used-past-ram", "Cannot map used", bad_used_rom_end);
    expect_broken("queue-enable", "wrong value for queue_enable 2", bad_queue_enable);

    /* saved state: a device mid-stream into a fresh one, which goes on from there */
    modern_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX);
    desc(0, BUFS, 4, 1, 1);
    desc(1, BUFS + 0x100, 4, 2, 0);
    publish(0);
    publish(0);
    kick(0);
    GByteArray *st = g_byte_array_new();
    vmstate_save(&echo_vmsd, dev, st);
    cfg_w(0x04, 0, 2); /* the old device stops decoding: the fresh one answers there */
    Device *fresh = device_new(&echo_info);
    PCIDevice *fp = PCI_DEVICE(fresh);
    fp->devfn = PCI_DEVFN(4, 0);
    CHECK("state/fresh-realize", device_realize(fresh, &err));
    size_t used = 0;
    CHECK("state/load", vmstate_load(&echo_vmsd, fresh, st->data, st->len, &used, &err) &&
                            used == st->len);
    EchoPCI *fe = (EchoPCI *)fresh;
    CHECK("state/queue", fe->proxy.vdev.vq[0].last_avail_idx == 2 &&
                             fe->proxy.vdev.vq[0].used_idx == 2 && fe->proxy.vdev.status == 0x0f &&
                             fe->proxy.vdev.vq[0].ready);
    publish(0);
    mw(NOTIFY, 0, 2);
    run_loop();
    CHECK("state/goes-on", get16(USED + 2) == 3 && fe->handled == 1);
    g_byte_array_free(st, TRUE);
    device_free(fresh);
    cfg_w(0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);

    /* bus mastering off: the driver no longer runs the device, nothing is read */
    modern_init(1ull << VIRTIO_F_VERSION_1);
    cfg_w(0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
    CHECK("bus-master-off/driver-ok-cleared", !(status() & VIRTIO_CONFIG_S_DRIVER_OK));
    cfg_w(0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);

    /* legacy driver: I/O BAR, PFN rings, INTx and the ISR (MSI-X off) */
    uint8_t cap = pci_find_capability(pd, PCI_CAP_ID_MSIX);
    cfg_w(cap + 2, 0, 2);
    io_w(BAR0 + 18, 0, 1);
    io_w(BAR0 + 18, 3, 1);
    io_w(BAR0 + 4, (1u << 28), 4);
    CHECK("legacy/features", io_r(BAR0 + 4, 4) == (1u << 28));
    io_w(BAR0 + 14, 0, 2);
    CHECK("legacy/qnum", io_r(BAR0 + 12, 2) == 16);
    memset(ram + 0x400000, 0, 0x3000);
    io_w(BAR0 + 8, 0x400000 >> 12, 4);
    CHECK("legacy/pfn", io_r(BAR0 + 8, 4) == 0x400);
    io_w(BAR0 + 18, 7, 1);
    CHECK("legacy/config-at-20", io_r(BAR0 + 20, 4) == 0x55667788);
    /* rings: desc at 0x400000, avail at +16*16, used at the next page */
    uint64_t ld = 0x400000, la = ld + 256, lu = 0x401000;
    put64(ld, BUFS);
    put32(ld + 8, 2);
    put16(ld + 12, 1);
    put16(ld + 14, 1);
    put64(ld + 16, BUFS + 0x600);
    put32(ld + 24, 2);
    put16(ld + 28, 2);
    memcpy(ram + BUFS, "LG", 2);
    put16(la + 4, 0);
    put16(la + 2, 1);
    io_w(BAR0 + 16, 0, 2);
    run_loop();
    int pin_in = route(pd, 0);
    CHECK("legacy/echo", get16(lu + 2) == 1 && !memcmp(ram + BUFS + 0x600, "LG", 2));
    CHECK("legacy/intx", intx_level[pin_in] == 1);
    CHECK("legacy/isr-clears", io_r(BAR0 + 19, 1) == 1 && intx_level[pin_in] == 0 &&
                                   io_r(BAR0 + 19, 1) == 0);
    io_w(BAR0 + 8, 0, 4); /* PFN 0: reset */
    CHECK("legacy/pfn0-resets", io_r(BAR0 + 18, 1) == 0);

    device_free(dev);
    virtio_blk_state();
    pci_bus_free(bus);
    free(ram);
    UNIT_EXIT();
}
