/*
 * virtio-net-pci (docs/net.md): a virtio network card on a net/ client, as QEMU 7.2's.
 *
 * Queues: receive 0, transmit 1, control 2 (one queue pair). Transmit runs on the main loop
 * (the queue's eventfd) with the big lock held: every chain is a virtio_net_hdr and a frame,
 * which goes to the peer at once. Receive: the peer calls nic_receive() with the big lock
 * held; the frame passes the receive filter (promiscuous and the other RX modes, the MAC
 * table, VLAN table, broadcast), then fills one receive chain, or several with mergeable
 * buffers (num_buffers in the first header), completed together. With no room the frame
 * waits in the client's queue and the device asks for the driver's notification.
 *
 * The header the guest sees is the no-offload one (flags 0, GSO_NONE): the backends here have
 * no vnet header, so the checksum and segmentation features are not offered, as QEMU does
 * for such a peer. Control queue: RX modes, MAC table and address, VLAN filter, announce
 * acknowledgement, guest offloads (none to set). Link state from set_link goes into the
 * status field with a config interrupt.
 */
#include <string.h>
#include <glib.h>
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/net.h"
#include "vireo/qjson.h"
#include "vireo/virtio-pci.h"

#define VIRTIO_NET_F_CSUM                0
#define VIRTIO_NET_F_GUEST_CSUM          1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU                 3
#define VIRTIO_NET_F_MAC                 5
#define VIRTIO_NET_F_GSO                 6
#define VIRTIO_NET_F_GUEST_TSO4          7
#define VIRTIO_NET_F_GUEST_TSO6          8
#define VIRTIO_NET_F_GUEST_ECN           9
#define VIRTIO_NET_F_GUEST_UFO           10
#define VIRTIO_NET_F_HOST_TSO4           11
#define VIRTIO_NET_F_HOST_TSO6           12
#define VIRTIO_NET_F_HOST_ECN            13
#define VIRTIO_NET_F_HOST_UFO            14
#define VIRTIO_NET_F_MRG_RXBUF           15
#define VIRTIO_NET_F_STATUS              16
#define VIRTIO_NET_F_CTRL_VQ             17
#define VIRTIO_NET_F_CTRL_RX             18
#define VIRTIO_NET_F_CTRL_VLAN           19
#define VIRTIO_NET_F_CTRL_RX_EXTRA       20
#define VIRTIO_NET_F_GUEST_ANNOUNCE      21
#define VIRTIO_NET_F_MQ                  22
#define VIRTIO_NET_F_CTRL_MAC_ADDR       23

#define VIRTIO_NET_S_LINK_UP  1
#define VIRTIO_NET_S_ANNOUNCE 2

#define CTRL_RX             0
#define CTRL_MAC            1
#define CTRL_VLAN           2
#define CTRL_ANNOUNCE       3
#define CTRL_GUEST_OFFLOADS 5
#define VIRTIO_NET_OK       0
#define VIRTIO_NET_ERR      1

#define MAC_TABLE_ENTRIES 64
#define MAX_VLAN          4096
#define HDR_LEN           10 /* struct virtio_net_hdr */
#define HDR_MRG_LEN       12 /* with num_buffers */
#define CONFIG_SIZE       8  /* mac, status: what QEMU's sizes give for its default features */
#define MAX_RX_CHAIN      256

typedef struct VirtIONet {
    VirtIODevice *vdev;
    NetClientState *nc;
    /* properties */
    char *netdev;
    uint8_t mac_prop[6];
    uint16_t rx_queue_size, tx_queue_size, host_mtu;
    int32_t speed, txburst, bootindex;
    uint32_t txtimer, rsc_interval;
    char *duplex, *tx;
    bool f_csum, f_guest_csum, f_gso, f_guest_tso4, f_guest_tso6, f_guest_ecn, f_guest_ufo,
        f_guest_announce, f_host_tso4, f_host_tso6, f_host_ecn, f_host_ufo, f_mrg_rxbuf, f_status,
        f_ctrl_vq, f_ctrl_rx, f_ctrl_vlan, f_ctrl_rx_extra, f_ctrl_mac_addr, f_ctrl_guest_offloads,
        f_mq, f_rss, f_hash, f_guest_rsc_ext, failover, mtu_bypass_backend;
    /* state */
    VirtQueue *rx_vq, *tx_vq, *ctrl_vq;
    uint8_t mac[6];
    uint16_t status;
    uint8_t promisc, allmulti, alluni, nomulti, nouni, nobcast;
    uint32_t mac_in_use, mac_first_multi;
    uint8_t mac_uni_overflow, mac_multi_overflow;
    uint8_t mac_table[MAC_TABLE_ENTRIES * 6];
    uint32_t vlans[MAX_VLAN / 32];
    bool mergeable;
    unsigned hdr_len;
} VirtIONet;

typedef struct VirtIONetPCI {
    VirtIOPCIProxy proxy; /* first */
    VirtIONet net;
} VirtIONetPCI;

static inline uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- receive ------------------------------------------------------------------------------ */

static bool rx_ready(VirtIONet *n)
{
    VirtIODevice *vdev = n->vdev;
    return (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->broken && n->rx_vq->ready;
}

static bool nic_can_receive(NetClientState *nc)
{
    return rx_ready(nc->opaque);
}

/* QEMU's receive filter: 1 to take the frame */
static bool rx_filter(VirtIONet *n, const uint8_t *p, size_t size)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (n->promisc) {
        return true;
    }
    if (size < 14) {
        return false;
    }
    if (p[12] == 0x81 && p[13] == 0x00 && size >= 16) {
        unsigned vid = ((unsigned)p[14] << 8 | p[15]) & 0xfff;
        if (!(n->vlans[vid >> 5] & (1u << (vid & 31)))) {
            return false;
        }
    }
    if (p[0] & 1) {
        if (!memcmp(p, bcast, 6)) {
            return !n->nobcast;
        }
        if (n->nomulti) {
            return false;
        }
        if (n->allmulti || n->mac_multi_overflow) {
            return true;
        }
        for (uint32_t i = n->mac_first_multi; i < n->mac_in_use; i++) {
            if (!memcmp(p, &n->mac_table[i * 6], 6)) {
                return true;
            }
        }
        return false;
    }
    if (n->nouni) {
        return false;
    }
    if (n->alluni || n->mac_uni_overflow || !memcmp(p, n->mac, 6)) {
        return true;
    }
    for (uint32_t i = 0; i < n->mac_first_multi; i++) {
        if (!memcmp(p, &n->mac_table[i * 6], 6)) {
            return true;
        }
    }
    return false;
}

static ssize_t nic_receive(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    VirtIONet *n = nc->opaque;
    VirtIODevice *vdev = n->vdev;
    size_t size = iov_size(iov, (unsigned)iovcnt);
    if (!rx_ready(n)) {
        return 0;
    }
    uint8_t head[16] = {0};
    iov_to_buf(iov, (unsigned)iovcnt, 0, head, sizeof(head));
    if (!rx_filter(n, head, size)) {
        return (ssize_t)size; /* filtered out: taken and dropped */
    }
    VirtQueueElement *elems[MAX_RX_CHAIN];
    unsigned lens[MAX_RX_CHAIN];
    unsigned ne = 0;
    size_t offset = 0, total = size + n->hdr_len;
    uint8_t hdr[HDR_MRG_LEN] = {0};
    size_t done = 0; /* bytes of header + frame placed */
    while (done < total) {
        if (ne == MAX_RX_CHAIN) {
            goto no_room;
        }
        VirtQueueElement *e = virtqueue_pop(n->rx_vq);
        if (!e) {
            if (vdev->broken) {
                return (ssize_t)size;
            }
            goto no_room;
        }
        if (e->in_num < 1 || e->out_num) {
            virtio_error(vdev, "virtio-net receive queue contains no in buffers");
            virtqueue_detach(n->rx_vq, e);
            for (unsigned i = ne; i-- > 0;) {
                virtqueue_detach(n->rx_vq, elems[i]);
            }
            return (ssize_t)size;
        }
        size_t cap = iov_size(e->in_sg, e->in_num), put = 0;
        if (ne == 0) {
            if (cap < n->hdr_len) {
                virtio_error(vdev, "virtio-net header not in first element");
                virtqueue_detach(n->rx_vq, e);
                return (ssize_t)size;
            }
            put = n->hdr_len; /* written last, with num_buffers */
        }
        /* frame bytes into the rest of this element */
        uint8_t tmp[2048];
        while (put < cap && offset < size) {
            size_t chunk = cap - put < sizeof(tmp) ? cap - put : sizeof(tmp);
            size_t got = iov_to_buf(iov, (unsigned)iovcnt, offset, tmp, chunk);
            iov_from_buf(e->in_sg, e->in_num, put, tmp, got);
            put += got;
            offset += got;
        }
        elems[ne] = e;
        lens[ne++] = (unsigned)put;
        done += put;
        if (!n->mergeable && done < total) {
            /* QEMU drops a frame that does not fit one buffer without mergeable buffers */
            for (unsigned i = ne; i-- > 0;) {
                virtqueue_unpop(n->rx_vq, elems[i]);
            }
            return (ssize_t)size;
        }
    }
    if (n->hdr_len == HDR_MRG_LEN) {
        hdr[10] = (uint8_t)ne;
        hdr[11] = (uint8_t)(ne >> 8);
    }
    iov_from_buf(elems[0]->in_sg, elems[0]->in_num, 0, hdr, n->hdr_len);
    virtqueue_push_many(n->rx_vq, elems, lens, ne);
    virtio_notify(vdev, n->rx_vq);
    return (ssize_t)size;

no_room:
    for (unsigned i = ne; i-- > 0;) {
        virtqueue_unpop(n->rx_vq, elems[i]);
    }
    virtqueue_set_notification(n->rx_vq, true);
    return 0;
}

/* The driver added receive buffers: deliver what waits. */
static void handle_rx(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONet *n = vdev->opaque;
    (void)vq;
    if (n->nc) {
        net_flush_queue(n->nc);
    }
}

/* ---- transmit ----------------------------------------------------------------------------- */

static void handle_tx(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONet *n = vdev->opaque;
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) || vdev->broken) {
        return;
    }
    for (;;) {
        virtqueue_set_notification(vq, false);
        VirtQueueElement *e;
        while ((e = virtqueue_pop(vq))) {
            if (e->out_num < 1) {
                virtio_error(vdev, "virtio-net header not in first element");
                virtqueue_detach(vq, e);
                return;
            }
            size_t size = iov_size(e->out_sg, e->out_num);
            if (size < n->hdr_len) {
                virtio_error(vdev, "virtio-net header incorrect");
                virtqueue_detach(vq, e);
                return;
            }
            /* the frame without the header */
            struct iovec frame[VIRTQUEUE_MAX_SIZE];
            unsigned nf = 0;
            size_t skip = n->hdr_len;
            for (unsigned i = 0; i < e->out_num; i++) {
                size_t l = e->out_sg[i].iov_len;
                if (skip >= l) {
                    skip -= l;
                    continue;
                }
                frame[nf].iov_base = (uint8_t *)e->out_sg[i].iov_base + skip;
                frame[nf++].iov_len = l - skip;
                skip = 0;
            }
            if (n->nc && nf) {
                net_send_iov(n->nc, frame, (int)nf);
            }
            virtqueue_push(vq, e, 0);
            virtio_notify_deferred(vdev, vq);
            if (vdev->broken) {
                return;
            }
        }
        virtqueue_set_notification(vq, true);
        if (virtqueue_empty(vq)) {
            return;
        }
    }
}

/* ---- control queue ------------------------------------------------------------------------ */

static uint8_t ctrl_rx(VirtIONet *n, uint8_t cmd, const uint8_t *d, size_t len)
{
    if (len != 1) {
        return VIRTIO_NET_ERR;
    }
    uint8_t on = d[0] ? 1 : 0;
    uint8_t *f[] = {&n->promisc, &n->allmulti, &n->alluni, &n->nomulti, &n->nouni, &n->nobcast};
    if (cmd >= G_N_ELEMENTS(f)) {
        return VIRTIO_NET_ERR;
    }
    if (cmd >= 2 && !virtio_vdev_has_feature(n->vdev, VIRTIO_NET_F_CTRL_RX_EXTRA)) {
        return VIRTIO_NET_ERR;
    }
    *f[cmd] = on;
    return VIRTIO_NET_OK;
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t ctrl_mac(VirtIONet *n, uint8_t cmd, const uint8_t *d, size_t len)
{
    if (cmd == 1) { /* ADDR_SET */
        if (len != 6) {
            return VIRTIO_NET_ERR;
        }
        memcpy(n->mac, d, 6);
        return VIRTIO_NET_OK;
    }
    if (cmd != 0) {
        return VIRTIO_NET_ERR;
    }
    /* TABLE_SET: unicast table, then multicast table: le32 entries, entries * 6 bytes */
    uint8_t table[MAC_TABLE_ENTRIES * 6];
    uint32_t in_use = 0, first_multi = 0;
    uint8_t uni_over = 0, multi_over = 0;
    size_t off = 0;
    for (int t = 0; t < 2; t++) {
        if (len - off < 4) {
            return VIRTIO_NET_ERR;
        }
        uint32_t entries = ld32(d + off);
        off += 4;
        if ((uint64_t)entries * 6 > len - off) {
            return VIRTIO_NET_ERR;
        }
        if (in_use + entries <= MAC_TABLE_ENTRIES) {
            memcpy(&table[in_use * 6], d + off, (size_t)entries * 6);
            in_use += entries;
        } else if (t == 0) {
            uni_over = 1;
        } else {
            multi_over = 1;
        }
        off += (size_t)entries * 6;
        if (t == 0) {
            first_multi = in_use;
        }
    }
    if (off != len) {
        return VIRTIO_NET_ERR;
    }
    memcpy(n->mac_table, table, sizeof(table));
    n->mac_in_use = in_use;
    n->mac_first_multi = first_multi;
    n->mac_uni_overflow = uni_over;
    n->mac_multi_overflow = multi_over;
    return VIRTIO_NET_OK;
}

static uint8_t ctrl_vlan(VirtIONet *n, uint8_t cmd, const uint8_t *d, size_t len)
{
    if (len != 2) {
        return VIRTIO_NET_ERR;
    }
    uint16_t vid = ld16(d);
    if (vid >= MAX_VLAN) {
        return VIRTIO_NET_ERR;
    }
    if (cmd == 0) {
        n->vlans[vid >> 5] |= 1u << (vid & 31);
    } else if (cmd == 1) {
        n->vlans[vid >> 5] &= ~(1u << (vid & 31));
    } else {
        return VIRTIO_NET_ERR;
    }
    return VIRTIO_NET_OK;
}

static void handle_ctrl(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONet *n = vdev->opaque;
    VirtQueueElement *e;
    while ((e = virtqueue_pop(vq))) {
        size_t out = iov_size(e->out_sg, e->out_num), in = iov_size(e->in_sg, e->in_num);
        if (out < 2 || in < 1) {
            virtio_error(vdev, "virtio-net ctrl missing headers");
            virtqueue_detach(vq, e);
            return;
        }
        uint8_t *buf = g_malloc(out);
        iov_to_buf(e->out_sg, e->out_num, 0, buf, out);
        uint8_t cls = buf[0], cmd = buf[1], status = VIRTIO_NET_ERR;
        const uint8_t *d = buf + 2;
        size_t len = out - 2;
        if (cls == CTRL_RX) {
            status = ctrl_rx(n, cmd, d, len);
        } else if (cls == CTRL_MAC) {
            status = ctrl_mac(n, cmd, d, len);
        } else if (cls == CTRL_VLAN) {
            status = ctrl_vlan(n, cmd, d, len);
        } else if (cls == CTRL_ANNOUNCE && cmd == 0 &&
                   virtio_vdev_has_feature(vdev, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
            n->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
            status = VIRTIO_NET_OK;
        } else if (cls == CTRL_GUEST_OFFLOADS && cmd == 0 && len == 8 &&
                   virtio_vdev_has_feature(vdev, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) {
            /* no offload can be turned on without a vnet-header backend */
            uint64_t v = (uint64_t)ld32(d) | (uint64_t)ld32(d + 4) << 32;
            status = v ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
        }
        g_free(buf);
        iov_from_buf(e->in_sg, e->in_num, in - 1, &status, 1);
        virtqueue_push(vq, e, 1);
        virtio_notify(vdev, vq);
    }
}

/* ---- config, features, status ------------------------------------------------------------- */

static uint64_t net_get_features(VirtIODevice *vdev, uint64_t f)
{
    VirtIONet *n = vdev->opaque;
    const struct {
        bool on;
        unsigned bit;
    } props[] = {
        /* the checksum and segmentation offloads need a vnet-header peer: never offered here */
        {n->f_gso, VIRTIO_NET_F_GSO},
        {n->f_mrg_rxbuf, VIRTIO_NET_F_MRG_RXBUF},
        {n->f_status, VIRTIO_NET_F_STATUS},
        {n->f_ctrl_vq, VIRTIO_NET_F_CTRL_VQ},
        {n->f_ctrl_rx, VIRTIO_NET_F_CTRL_RX},
        {n->f_ctrl_vlan, VIRTIO_NET_F_CTRL_VLAN},
        {n->f_ctrl_rx_extra, VIRTIO_NET_F_CTRL_RX_EXTRA},
        {n->f_guest_announce, VIRTIO_NET_F_GUEST_ANNOUNCE},
        {n->f_ctrl_mac_addr, VIRTIO_NET_F_CTRL_MAC_ADDR},
        {n->f_ctrl_guest_offloads, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(props); i++) {
        if (props[i].on) {
            f |= 1ull << props[i].bit;
        }
    }
    f |= 1ull << VIRTIO_NET_F_MAC;
    if (!n->f_ctrl_vq) {
        f &= ~(1ull << VIRTIO_NET_F_CTRL_RX | 1ull << VIRTIO_NET_F_CTRL_VLAN |
               1ull << VIRTIO_NET_F_CTRL_RX_EXTRA | 1ull << VIRTIO_NET_F_GUEST_ANNOUNCE |
               1ull << VIRTIO_NET_F_CTRL_MAC_ADDR | 1ull << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
    }
    return f;
}

static void net_set_features(VirtIODevice *vdev, uint64_t features)
{
    VirtIONet *n = vdev->opaque;
    n->mergeable = virtio_has_feature(features, VIRTIO_NET_F_MRG_RXBUF);
    n->hdr_len =
        (n->mergeable || virtio_has_feature(features, VIRTIO_F_VERSION_1)) ? HDR_MRG_LEN : HDR_LEN;
    memset(n->vlans, virtio_has_feature(features, VIRTIO_NET_F_CTRL_VLAN) ? 0 : 0xff,
           sizeof(n->vlans));
}

static void net_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIONet *n = vdev->opaque;
    memcpy(c, n->mac, 6);
    c[6] = (uint8_t)n->status;
    c[7] = (uint8_t)(n->status >> 8);
}

static void net_set_config(VirtIODevice *vdev, const uint8_t *c)
{
    VirtIONet *n = vdev->opaque;
    /* a legacy driver may write the MAC (QEMU: unless VERSION_1 or CTRL_MAC_ADDR) */
    if (!virtio_vdev_has_feature(vdev, VIRTIO_NET_F_CTRL_MAC_ADDR) &&
        !virtio_vdev_has_feature(vdev, VIRTIO_F_VERSION_1) && memcmp(c, n->mac, 6)) {
        memcpy(n->mac, c, 6);
        if (n->nc) {
            net_client_set_info(n->nc, "model=virtio-net-pci,macaddr=%02x:%02x:%02x:%02x:%02x:%02x",
                                c[0], c[1], c[2], c[3], c[4], c[5]);
        }
    }
}

static void net_set_status(VirtIODevice *vdev, uint8_t old)
{
    VirtIONet *n = vdev->opaque;
    if ((vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) && n->nc) {
        net_flush_queue(n->nc);
    }
}

static void rx_mode_reset(VirtIONet *n)
{
    n->promisc = 1; /* QEMU: for compatibility */
    n->allmulti = n->alluni = n->nomulti = n->nouni = n->nobcast = 0;
    n->mac_in_use = n->mac_first_multi = 0;
    n->mac_uni_overflow = n->mac_multi_overflow = 0;
    memset(n->mac_table, 0, sizeof(n->mac_table));
    memset(n->vlans, 0, sizeof(n->vlans));
}

static void net_reset(VirtIODevice *vdev)
{
    VirtIONet *n = vdev->opaque;
    rx_mode_reset(n);
    memcpy(n->mac, n->mac_prop, 6);
    n->status = (n->nc && n->nc->link_down) ? 0 : VIRTIO_NET_S_LINK_UP;
    n->mergeable = false;
    n->hdr_len = HDR_LEN;
    if (n->nc) {
        net_purge_queue(n->nc);
    }
}

static void nic_link_changed(NetClientState *nc)
{
    VirtIONet *n = nc->opaque;
    uint16_t old = n->status;
    if (nc->link_down) {
        n->status &= (uint16_t)~VIRTIO_NET_S_LINK_UP;
    } else {
        n->status |= VIRTIO_NET_S_LINK_UP;
    }
    if (n->status != old && virtio_vdev_has_feature(n->vdev, VIRTIO_NET_F_STATUS)) {
        virtio_notify_config(n->vdev);
    }
}

static const VirtIODeviceOps virtio_net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .get_features = net_get_features,
    .set_features = net_set_features,
    .get_config = net_get_config,
    .set_config = net_set_config,
    .set_status = net_set_status,
    .reset = net_reset,
};

static QJ *mac_string(const uint8_t *m)
{
    return qj_string_take(
        g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]));
}

static const char *rx_state(uint8_t none, uint8_t all)
{
    return none ? "none" : all ? "all" : "normal";
}

/*
 * QMP's RxFilterInfo as QEMU 7.2 fills it: lists built by prepending (so newest first), bit 31
 * of each VLAN word not listed, vlan "none" for an empty table, and broadcast-allowed carrying
 * the no-broadcast flag (QEMU's quirks, kept so management tools see the same answers).
 */
static QJ *nic_query_rx_filter(NetClientState *nc)
{
    VirtIONet *n = nc->opaque;
    QJ *o = qj_object();
    qj_set_str(o, "name", nc->name);
    qj_set_bool(o, "promiscuous", n->promisc);
    qj_set_str(o, "multicast", rx_state(n->nomulti, n->allmulti));
    qj_set_str(o, "unicast", rx_state(n->nouni, n->alluni));
    bool vlan = virtio_vdev_has_feature(n->vdev, VIRTIO_NET_F_CTRL_VLAN);
    QJ *vt = qj_array();
    for (int i = MAX_VLAN / 32 - 1; i >= 0; i--) {
        for (int j = 30; j >= 0; j--) {
            if (n->vlans[i] & (1u << j)) {
                qj_append(vt, qj_int(i * 32 + j));
            }
        }
    }
    qj_set_str(o, "vlan", !vlan ? "all" : vt->arr.n ? "normal" : "none");
    qj_set_bool(o, "broadcast-allowed", n->nobcast);
    qj_set_bool(o, "multicast-overflow", n->mac_multi_overflow);
    qj_set_bool(o, "unicast-overflow", n->mac_uni_overflow);
    qj_set(o, "main-mac", mac_string(n->mac));
    qj_set(o, "vlan-table", vt);
    QJ *ut = qj_array(), *mt = qj_array();
    for (uint32_t i = n->mac_in_use; i-- > 0;) {
        qj_append(i < n->mac_first_multi ? ut : mt, mac_string(&n->mac_table[i * 6]));
    }
    qj_set(o, "unicast-table", ut);
    qj_set(o, "multicast-table", mt);
    return o;
}

static const NetClientInfo nic_info = {
    .kind = NET_CLIENT_NIC,
    .type = "nic",
    .receive = nic_receive,
    .can_receive = nic_can_receive,
    .link_status_changed = nic_link_changed,
    .query_rx_filter = nic_query_rx_filter,
};

/* ---- realize ------------------------------------------------------------------------------ */

static bool queue_size_ok(const char *what, uint16_t v, uint16_t max, char **errp)
{
    if (v < 256 || v > max || (v & (v - 1))) {
        *errp = g_strdup_printf("Invalid %s_queue_size (= %u), must be a power of 2 between %d "
                                "and %d.",
                                what, v, 256, max);
        return false;
    }
    return true;
}

static bool net_realize(VirtIOPCIProxy *p, char **errp)
{
    VirtIONetPCI *d = (VirtIONetPCI *)p;
    VirtIONet *n = &d->net;
    Device *dev = &p->pci.dev;
    n->vdev = &p->vdev;
    if (!queue_size_ok("rx", n->rx_queue_size, VIRTQUEUE_MAX_SIZE, errp) ||
        !queue_size_ok("tx", n->tx_queue_size, 256, errp)) {
        return false;
    }
    if (n->speed < -1) {
        *errp = g_strdup("'speed' must be between 0 and INT_MAX");
        return false;
    }
    if (n->duplex && strcmp(n->duplex, "half") && strcmp(n->duplex, "full")) {
        *errp = g_strdup("'duplex' must be 'half' or 'full'");
        return false;
    }
    NetClientState *peer;
    if (!netdev_claim(n->netdev, "virtio-net-device.netdev", &peer, errp)) {
        return false;
    }
    if (p->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        p->nvectors = 4; /* 2 * queue pairs + 2, as QEMU */
    }
    static const uint8_t zero[6];
    if (!memcmp(n->mac_prop, zero, 6)) {
        net_default_mac(n->mac_prop);
    }
    memcpy(n->mac, n->mac_prop, 6);
    virtio_init(&p->vdev, &virtio_net_ops, n, CONFIG_SIZE, 3);
    n->rx_vq = virtio_add_queue(&p->vdev, n->rx_queue_size, handle_rx);
    n->tx_vq = virtio_add_queue(&p->vdev, n->tx_queue_size, handle_tx);
    n->ctrl_vq = virtio_add_queue(&p->vdev, 64, handle_ctrl);
    n->nc = net_client_new(&nic_info, peer, "virtio-net-pci", dev->id, n);
    const uint8_t *m = n->mac;
    net_client_set_info(n->nc, "model=virtio-net-pci,macaddr=%02x:%02x:%02x:%02x:%02x:%02x", m[0],
                        m[1], m[2], m[3], m[4], m[5]);
    net_reset(&p->vdev);
    return true;
}

static void net_unrealize(VirtIOPCIProxy *p)
{
    VirtIONet *n = &((VirtIONetPCI *)p)->net;
    if (n->nc) {
        net_client_free(n->nc);
        n->nc = NULL;
    }
}

/* ---- the device type ---------------------------------------------------------------------- */

#define NP(name, field, def) DEFINE_PROP_BIT(name, VirtIONetPCI, net.field, def)
static const Property virtio_net_props[] = {
    DEFINE_PROP_("bootindex", PROP_INT32, VirtIONetPCI, net.bootindex, false, .def.i = -1),
    NP("csum", f_csum, true),
    NP("ctrl_guest_offloads", f_ctrl_guest_offloads, true),
    NP("ctrl_mac_addr", f_ctrl_mac_addr, true),
    NP("ctrl_rx", f_ctrl_rx, true),
    NP("ctrl_rx_extra", f_ctrl_rx_extra, true),
    NP("ctrl_vlan", f_ctrl_vlan, true),
    NP("ctrl_vq", f_ctrl_vq, true),
    DEFINE_PROP_STRING("duplex", VirtIONetPCI, net.duplex),
    DEFINE_PROP_BOOL("failover", VirtIONetPCI, net.failover, false),
    NP("gso", f_gso, true),
    NP("guest_announce", f_guest_announce, true),
    NP("guest_csum", f_guest_csum, true),
    NP("guest_ecn", f_guest_ecn, true),
    NP("guest_rsc_ext", f_guest_rsc_ext, false),
    NP("guest_tso4", f_guest_tso4, true),
    NP("guest_tso6", f_guest_tso6, true),
    NP("guest_ufo", f_guest_ufo, true),
    NP("hash", f_hash, false),
    NP("host_ecn", f_host_ecn, true),
    DEFINE_PROP_UINT16("host_mtu", VirtIONetPCI, net.host_mtu, 0),
    NP("host_tso4", f_host_tso4, true),
    NP("host_tso6", f_host_tso6, true),
    NP("host_ufo", f_host_ufo, true),
    DEFINE_PROP_BIT("ioeventfd", VirtIONetPCI, proxy.ioeventfd, true),
    DEFINE_PROP_("mac", PROP_MACADDR, VirtIONetPCI, net.mac_prop, false, .def.u = 0,
                 .owner = "virtio-net-device"),
    NP("mq", f_mq, false),
    NP("mrg_rxbuf", f_mrg_rxbuf, true),
    DEFINE_PROP_("netdev", PROP_NETDEV, VirtIONetPCI, net.netdev, false, .def.s = NULL,
                 .owner = "virtio-net-device"),
    DEFINE_PROP_UINT32("rsc_interval", VirtIONetPCI, net.rsc_interval, 300000),
    NP("rss", f_rss, false),
    DEFINE_PROP_UINT16("rx_queue_size", VirtIONetPCI, net.rx_queue_size, 256),
    DEFINE_PROP_INT32("speed", VirtIONetPCI, net.speed, -1),
    NP("status", f_status, true),
    DEFINE_PROP_STRING("tx", VirtIONetPCI, net.tx),
    DEFINE_PROP_UINT16("tx_queue_size", VirtIONetPCI, net.tx_queue_size, 256),
    DEFINE_PROP_UINT32("vectors", VirtIONetPCI, proxy.nvectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_HELP("virtio-backend", "child<virtio-net-device>"),
    DEFINE_PROP_BOOL("x-mtu-bypass-backend", VirtIONetPCI, net.mtu_bypass_backend, true),
    DEFINE_PROP_INT32("x-txburst", VirtIONetPCI, net.txburst, 256),
    DEFINE_PROP_UINT32("x-txtimer", VirtIONetPCI, net.txtimer, 150000),
    DEFINE_PROP_END,
};

static const VirtIOPCIDeviceInfo virtio_net_pci_vinfo = {
    .realize = net_realize,
    .unrealize = net_unrealize,
    .legacy_device_id = 0x1000,
    .class_code = 0x0200,
};

static const VMStateField virtio_net_pci_fields[] = {
    VMSTATE_STRUCT(proxy, VirtIONetPCI, virtio_pci_vmstate),
    VMSTATE_UINT8_ARRAY(net.mac, VirtIONetPCI, 6),
    VMSTATE_UINT16(net.status, VirtIONetPCI),
    VMSTATE_UINT8(net.promisc, VirtIONetPCI),
    VMSTATE_UINT8(net.allmulti, VirtIONetPCI),
    VMSTATE_UINT8(net.alluni, VirtIONetPCI),
    VMSTATE_UINT8(net.nomulti, VirtIONetPCI),
    VMSTATE_UINT8(net.nouni, VirtIONetPCI),
    VMSTATE_UINT8(net.nobcast, VirtIONetPCI),
    VMSTATE_UINT32(net.mac_in_use, VirtIONetPCI),
    VMSTATE_UINT32(net.mac_first_multi, VirtIONetPCI),
    VMSTATE_UINT8(net.mac_uni_overflow, VirtIONetPCI),
    VMSTATE_UINT8(net.mac_multi_overflow, VirtIONetPCI),
    VMSTATE_BUFFER(net.mac_table, VirtIONetPCI),
    VMSTATE_UINT32_ARRAY(net.vlans, VirtIONetPCI, MAX_VLAN / 32),
    VMSTATE_BOOL(net.mergeable, VirtIONetPCI),
    VMSTATE_UINT32(net.hdr_len, VirtIONetPCI),
    VMSTATE_END_OF_LIST(),
};

static bool virtio_net_pci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    VirtIONetPCI *d = opaque;
    VirtIONet *n = &d->net;
    if ((n->hdr_len != HDR_LEN && n->hdr_len != HDR_MRG_LEN) || n->mac_in_use > MAC_TABLE_ENTRIES ||
        n->mac_first_multi > n->mac_in_use) {
        *errp = g_strdup("virtio-net: invalid saved state");
        return false;
    }
    return virtio_pci_post_load(&d->proxy, errp);
}

static const VMStateDescription virtio_net_pci_vmstate = {
    .name = "virtio-net",
    .version = 1,
    .minimum_version = 1,
    .fields = virtio_net_pci_fields,
    .post_load = virtio_net_pci_post_load,
};

static const char *const virtio_net_aliases[] = {"virtio-net", NULL};

const DeviceInfo virtio_net_pci_info = {
    .name = "virtio-net-pci",
    .category = DEVICE_CATEGORY_NETWORK,
    VIRTIO_PCI_DEVICE_INFO_IDS(virtio_pci_net_ids),
    .instance_size = sizeof(VirtIONetPCI),
    .props = virtio_net_props,
    .vmsd = &virtio_net_pci_vmstate,
    .family = &virtio_net_pci_vinfo,
    .aliases = virtio_net_aliases,
    .qom_parent = "virtio-net-pci-base",
};
