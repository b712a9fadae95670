/*
 * libFuzzer target over the virtqueue parser (hw/virtio/virtqueue.c): each input is a guest's
 * view of one queue: a feature byte (indirect descriptors, event index, packed ring), then the
 * first bytes of 64 KiB of guest RAM (the rest is zero): the descriptor table at 0x100, the
 * driver area at 0x200, the device area at 0x240 (a queue of 16), then indirect tables and buffers.
 * The device pops every chain the ring offers, writes its device-writable buffers and pushes it
 * back, as a device does; malformed rings must end in virtio_error (NEEDS_RESET), never in a
 * read or write outside the RAM (ASan sees every access: RAM is its own allocation, and
 * everything outside it is not RAM to the DMA layer). Built and run by `make fuzz-virtqueue`
 * (tests/fuzz/fuzz-virtqueue.sh) with clang -fsanitize=fuzzer,address,undefined, on the real
 * memory map and DMA code (hw/core/memory.c, dma.c); the machine side is stubbed below.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vireo/accel.h"
#include "vireo/dma.h"
#include "vireo/loader.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the machine side, stubbed: no accelerator, no loaders, one thread ---- */
const AccelOps *current_accel;
void loader_note_write(uint64_t gpa, const void *buf, uint64_t len)
{
    (void)gpa;
    (void)buf;
    (void)len;
}
void vireo_lock(void)
{
}
void vireo_unlock(void)
{
}

#define RAM_BYTES (64u << 10)
#define QN        16
/* the rings first, so that short inputs reach them: desc 256 bytes, avail 38, used 134 (an
 * address 0 means "not set" to the transport) */
#define DESC      0x100u
#define AVAIL     0x200u
#define USED      0x240u

static MemoryRegion ram_mr;
static uint8_t *ram;

static bool dma_on(VirtIODevice *vdev)
{
    (void)vdev;
    return true;
}
static void notify(VirtIODevice *vdev, uint16_t vector)
{
    (void)vdev;
    (void)vector;
}
static void host_notifier(VirtIODevice *vdev, unsigned n, bool assign)
{
    (void)vdev;
    (void)n;
    (void)assign;
}
static const VirtIOTransportOps transport = {
    .notify = notify, .set_host_notifier = host_notifier, .dma_enabled = dma_on};

static uint64_t features(VirtIODevice *vdev, uint64_t f)
{
    (void)vdev;
    return f;
}
static const VirtIODeviceOps ops = {.name = "virtio-fuzz", .device_id = 0x20, .get_features = features};

static void handle(VirtIODevice *vdev, VirtQueue *vq)
{
    (void)vdev;
    (void)vq;
}

static void setup(void)
{
    if (ram) {
        return;
    }
    memory_region_init_ram(&ram_mr, "fuzz.ram", RAM_BYTES);
    memory_region_add_subregion(get_system_memory(), 0, &ram_mr, 0);
    ram = memory_region_get_ram_ptr(&ram_mr, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    setup();
    uint8_t flags = data[0];
    memset(ram, 0, RAM_BYTES);
    memcpy(ram, data + 1, size - 1 < RAM_BYTES ? size - 1 : RAM_BYTES);

    VirtIODevice vdev;
    memset(&vdev, 0, sizeof(vdev));
    virtio_init(&vdev, &ops, NULL, 0, 1);
    vdev.transport = &transport;
    vdev.indirect_desc = flags & 1;
    vdev.event_idx = flags & 2;
    vdev.packed = flags & 4;
    virtio_init_features(&vdev, 1ull << VIRTIO_F_VERSION_1);
    virtio_add_queue(&vdev, QN, handle);
    uint64_t f = vdev.host_features;
    virtio_set_features(&vdev, f);
    virtio_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                 VIRTIO_CONFIG_S_FEATURES_OK);
    virtio_queue_set_num(&vdev, 0, QN);
    virtio_queue_set_rings(&vdev, 0, DESC, AVAIL, USED);
    virtio_queue_enable(&vdev, 0);
    virtio_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    VirtQueue *vq = &vdev.vq[0];
    VirtQueueElement *e;
    for (int n = 0; n < 4 * QN && (e = virtqueue_pop(vq)); n++) {
        uint8_t buf[64];
        size_t out = iov_to_buf(e->out_sg, e->out_num, 0, buf, sizeof(buf));
        size_t w = iov_from_buf(e->in_sg, e->in_num, 0, buf, out);
        virtqueue_push(vq, e, (unsigned)w);
        virtio_notify(&vdev, vq);
    }
    virtio_reset(&vdev);
    virtio_cleanup(&vdev);
    return 0;
}
