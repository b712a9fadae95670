/*
 * virtio-scsi-pci (docs/scsi.md, docs/virtio.md): a virtio SCSI host bus adapter as QEMU 7.2's,
 * with a SCSI bus (include/vireo/scsi.h) for scsi-hd and scsi-cd.
 *
 * Queues: 0 control (task management, asynchronous notification queries), 1 events, 2.. the
 * request queues (num_queues). A request is {lun[8], tag, task_attr, prio, crn, cdb[cdb_size]}
 * then data-out, answered with {sense_len, resid, status_qualifier, status, response,
 * sense[sense_size]} then data-in; the data moves between the block backend and the guest's
 * buffers directly. Headers shorter than the configured sizes break the device
 * (virtio_error, as QEMU: "wrong size for virtio-scsi headers"); a request with both data
 * directions gets FAILURE, an unknown target BAD_TARGET, a transfer longer than the guest's
 * buffers (or in the wrong direction) OVERRUN, without touching the disk.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/block-backend.h"
#include "vireo/machine.h"
#include "vireo/scsi.h"
#include "vireo/virtio-pci.h"

#define VIRTIO_SCSI_F_INOUT   0
#define VIRTIO_SCSI_F_HOTPLUG 1
#define VIRTIO_SCSI_F_CHANGE  2

#define VIRTIO_SCSI_S_OK                 0
#define VIRTIO_SCSI_S_OVERRUN            1
#define VIRTIO_SCSI_S_BAD_TARGET         3
#define VIRTIO_SCSI_S_FAILURE            9
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED  11
#define VIRTIO_SCSI_S_INCORRECT_LUN      12

#define VIRTIO_SCSI_T_TMF           0
#define VIRTIO_SCSI_T_AN_QUERY      1
#define VIRTIO_SCSI_T_AN_SUBSCRIBE  2
#define VIRTIO_SCSI_T_PARAM_CHANGE  3
#define VIRTIO_SCSI_T_EVENTS_MISSED 0x80000000u

#define TMF_ABORT_TASK         0
#define TMF_ABORT_TASK_SET     1
#define TMF_CLEAR_ACA          2
#define TMF_CLEAR_TASK_SET     3
#define TMF_I_T_NEXUS_RESET    4
#define TMF_LOGICAL_UNIT_RESET 5
#define TMF_QUERY_TASK         6
#define TMF_QUERY_TASK_SET     7

#define VQ_NUM_FIXED       2
#define SENSE_DEFAULT_SIZE 96
#define CDB_DEFAULT_SIZE   32
#define CMD_REQ_SIZE       19 /* lun, tag, task_attr, prio, crn: before the CDB */
#define CMD_RESP_SIZE      12 /* sense_len, resid, status_qualifier, status, response */
#define CONFIG_SIZE        36
#define AUTO_NUM_QUEUES    0xffffffffu

typedef struct VirtIOSCSI {
    VirtIODevice *vdev;
    SCSIBus *bus;
    /* properties */
    uint32_t num_queues, virtqueue_size, max_sectors, cmd_per_lun;
    bool seg_max_adjust, hotplug, param_change;
    /* driver-writable config */
    uint32_t sense_size, cdb_size;
    bool events_dropped;
} VirtIOSCSI;

typedef struct VirtIOSCSIPCI {
    VirtIOPCIProxy proxy;
    VirtIOSCSI scsi;
} VirtIOSCSIPCI;

typedef struct VSReq {
    VirtIOSCSI *s;
    VirtQueue *vq;
    VirtQueueElement *elem;
    struct iovec *data;
    unsigned ndata;
    size_t data_size, resp_size;
} VSReq;

static const SCSIBusInfo virtio_scsi_bus_info;

static void put_le32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* The buffers of sg from byte `skip` on, as a new iovec array. */
static struct iovec *iov_skip(const struct iovec *sg, unsigned n, size_t skip, unsigned *out_n)
{
    struct iovec *v = g_new(struct iovec, n ? n : 1);
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t l = sg[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        v[k++] = (struct iovec){.iov_base = (uint8_t *)sg[i].iov_base + skip, .iov_len = l - skip};
        skip = 0;
    }
    *out_n = k;
    return v;
}

static void vsreq_free(VSReq *r)
{
    g_free(r->data);
    g_free(r);
}

/* The guest's buffers are the response: write it and give the element back. */
static void complete_elem(VirtIOSCSI *s, VirtQueue *vq, VirtQueueElement *e, const uint8_t *resp,
                          size_t len, size_t pushed)
{
    iov_from_buf(e->in_sg, e->in_num, 0, resp, len);
    virtqueue_push(vq, e, (unsigned)pushed);
    virtio_notify_deferred(s->vdev, vq);
}

static void bad_req(VirtIOSCSI *s, VirtQueue *vq, VirtQueueElement *e)
{
    virtio_error(s->vdev, "wrong size for virtio-scsi headers");
    virtqueue_detach(vq, e);
}

/* lun[8] as virtio-scsi encodes it: 1, target, then a flat or peripheral LUN. */
static SCSIDevice *device_get(VirtIOSCSI *s, const uint8_t *lun)
{
    if (lun[0] != 1) {
        return NULL;
    }
    if (lun[2] != 0 && !(lun[2] >= 0x40 && lun[2] < 0x80)) {
        return NULL;
    }
    return scsi_device_find(s->bus, 0, lun[1], ((uint32_t)lun[2] << 8 | lun[3]) & 0x3fff);
}

static uint32_t get_lun(const uint8_t *lun)
{
    return ((uint32_t)lun[2] << 8 | lun[3]) & 0x3fff;
}

/* ---- requests ------------------------------------------------------------------------------- */

static void cmd_response(VSReq *r, uint8_t response)
{
    uint8_t hdr[CMD_RESP_SIZE] = {0};
    hdr[11] = response;
    uint8_t *resp = g_malloc0(r->resp_size);
    memcpy(resp, hdr, sizeof(hdr));
    complete_elem(r->s, r->vq, r->elem, resp, r->resp_size, r->resp_size + r->data_size);
    g_free(resp);
    vsreq_free(r);
}

static void command_complete(SCSIRequest *sreq)
{
    VSReq *r = sreq->hba_private;
    VirtIOSCSI *s = r->s;
    uint8_t *resp = g_malloc0(r->resp_size);
    resp[10] = (uint8_t)sreq->status;
    resp[11] = VIRTIO_SCSI_S_OK;
    if (sreq->status == SCSI_GOOD) {
        put_le32(resp + 4, (uint32_t)scsi_req_residual(sreq));
    } else {
        uint8_t sense[SCSI_SENSE_BUF_SIZE];
        uint32_t n = scsi_req_get_sense(sreq, sense, sizeof(sense));
        size_t room = r->resp_size - CMD_RESP_SIZE;
        if (n > room) {
            n = (uint32_t)room;
        }
        memcpy(resp + CMD_RESP_SIZE, sense, n);
        put_le32(resp, n);
    }
    complete_elem(s, r->vq, r->elem, resp, r->resp_size, r->resp_size + r->data_size);
    g_free(resp);
    scsi_req_free(sreq);
    vsreq_free(r);
}

static void handle_cmd(VirtIOSCSI *s, VirtQueue *vq, VirtQueueElement *e)
{
    size_t req_size = CMD_REQ_SIZE + s->cdb_size, resp_size = CMD_RESP_SIZE + s->sense_size;
    size_t out_size = iov_size(e->out_sg, e->out_num), in_size = iov_size(e->in_sg, e->in_num);
    if (out_size < req_size || in_size < resp_size) {
        bad_req(s, vq, e);
        return;
    }
    VSReq *r = g_new0(VSReq, 1);
    r->s = s;
    r->vq = vq;
    r->elem = e;
    r->resp_size = resp_size;
    size_t dout = out_size - req_size, din = in_size - resp_size;
    SCSIXferMode mode = SCSI_XFER_NONE;
    if (dout && din) {
        cmd_response(r, VIRTIO_SCSI_S_FAILURE); /* bidirectional: not offered */
        return;
    }
    if (dout) {
        mode = SCSI_XFER_TO_DEV;
        r->data = iov_skip(e->out_sg, e->out_num, req_size, &r->ndata);
        r->data_size = dout;
    } else if (din) {
        mode = SCSI_XFER_FROM_DEV;
        r->data = iov_skip(e->in_sg, e->in_num, resp_size, &r->ndata);
        r->data_size = din;
    }
    uint8_t *hdr = g_malloc(req_size);
    iov_to_buf(e->out_sg, e->out_num, 0, hdr, req_size);
    SCSIDevice *d = device_get(s, hdr);
    if (!d) {
        g_free(hdr);
        cmd_response(r, VIRTIO_SCSI_S_BAD_TARGET);
        return;
    }
    uint64_t tag;
    memcpy(&tag, hdr + 8, 8);
    SCSIRequest *sreq = scsi_req_new(d, tag, get_lun(hdr), hdr + CMD_REQ_SIZE, s->cdb_size, r);
    g_free(hdr);
    if (sreq->cmd.mode != SCSI_XFER_NONE &&
        (sreq->cmd.mode != mode || sreq->cmd.xfer > r->data_size)) {
        scsi_req_free(sreq);
        cmd_response(r, VIRTIO_SCSI_S_OVERRUN);
        return;
    }
    scsi_req_enqueue(sreq, r->data, r->ndata);
}

/* ---- control queue ----------------------------------------------------------------------------
 */

static void reset_device(SCSIDevice *d)
{
    if (d->ops->drain) {
        d->ops->drain(d);
    }
    if (d->ops->reset) {
        d->ops->reset(d);
    }
}

static uint8_t do_tmf(VirtIOSCSI *s, const uint8_t *req)
{
    uint32_t subtype;
    memcpy(&subtype, req + 4, 4);
    const uint8_t *lun = req + 8;
    SCSIDevice *d = device_get(s, lun);
    switch (subtype) {
    case TMF_ABORT_TASK:
    case TMF_QUERY_TASK:
    case TMF_ABORT_TASK_SET:
    case TMF_CLEAR_TASK_SET:
    case TMF_QUERY_TASK_SET:
        if (!d) {
            return VIRTIO_SCSI_S_BAD_TARGET;
        }
        if (d->lun != get_lun(lun)) {
            return VIRTIO_SCSI_S_INCORRECT_LUN;
        }
        /* requests end quickly here: let them end, then nothing is left to abort */
        if (d->ops->drain) {
            d->ops->drain(d);
        }
        return VIRTIO_SCSI_S_OK;
    case TMF_LOGICAL_UNIT_RESET:
        if (!d) {
            return VIRTIO_SCSI_S_BAD_TARGET;
        }
        if (d->lun != get_lun(lun)) {
            return VIRTIO_SCSI_S_INCORRECT_LUN;
        }
        reset_device(d);
        return VIRTIO_SCSI_S_OK;
    case TMF_I_T_NEXUS_RESET:
        if (!d) {
            return VIRTIO_SCSI_S_BAD_TARGET;
        }
        for (SCSIDevice *x = s->bus->devs; x; x = x->bus_next) {
            if (x->channel == 0 && x->id == lun[1]) {
                reset_device(x);
            }
        }
        return VIRTIO_SCSI_S_OK;
    default:
        return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    }
}

static void handle_ctrl(VirtIOSCSI *s, VirtQueue *vq, VirtQueueElement *e)
{
    uint8_t req[24];
    uint32_t type;
    size_t out_size = iov_size(e->out_sg, e->out_num), in_size = iov_size(e->in_sg, e->in_num);
    if (out_size < 4) {
        bad_req(s, vq, e);
        return;
    }
    iov_to_buf(e->out_sg, e->out_num, 0, &type, 4);
    if (type == VIRTIO_SCSI_T_TMF) {
        if (out_size < 24 || in_size < 1) {
            bad_req(s, vq, e);
            return;
        }
        iov_to_buf(e->out_sg, e->out_num, 0, req, 24);
        uint8_t resp = do_tmf(s, req);
        complete_elem(s, vq, e, &resp, 1, 1);
    } else if (type == VIRTIO_SCSI_T_AN_QUERY || type == VIRTIO_SCSI_T_AN_SUBSCRIBE) {
        if (out_size < 16 || in_size < 5) {
            bad_req(s, vq, e);
            return;
        }
        uint8_t resp[5] = {0, 0, 0, 0, VIRTIO_SCSI_S_OK}; /* no events offered */
        complete_elem(s, vq, e, resp, 5, 5);
    } else {
        complete_elem(s, vq, e, NULL, 0, 0);
    }
}

/* ---- events --------------------------------------------------------------------------------- */

static void push_event(VirtIOSCSI *s, uint32_t event, SCSIDevice *d, uint32_t reason)
{
    VirtIODevice *vdev = s->vdev;
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) || vdev->broken) {
        return;
    }
    VirtQueue *vq = &vdev->vq[1];
    if (!vq->ready) {
        return;
    }
    VirtQueueElement *e = virtqueue_pop(vq);
    if (!e) {
        s->events_dropped = true;
        return;
    }
    if (iov_size(e->in_sg, e->in_num) < 16) {
        virtio_error(vdev, "wrong size for virtio-scsi headers");
        virtqueue_detach(vq, e);
        return;
    }
    uint8_t ev[16] = {0};
    if (s->events_dropped) {
        event |= VIRTIO_SCSI_T_EVENTS_MISSED;
        s->events_dropped = false;
    }
    put_le32(ev, event);
    if (d) {
        ev[4] = 1;
        ev[5] = (uint8_t)d->id;
        ev[6] = (uint8_t)((d->lun >> 8) | 0x40);
        ev[7] = (uint8_t)d->lun;
    }
    put_le32(ev + 12, reason);
    complete_elem(s, vq, e, ev, 16, 16);
}

static void bus_change(SCSIBus *bus, SCSIDevice *d, SCSISense sense)
{
    VirtIOSCSI *s = bus->opaque;
    if (virtio_vdev_has_feature(s->vdev, VIRTIO_SCSI_F_CHANGE)) {
        push_event(s, VIRTIO_SCSI_T_PARAM_CHANGE, d,
                   (uint32_t)sense.asc | (uint32_t)sense.ascq << 8);
    }
}

static const SCSIBusInfo virtio_scsi_bus_info = {
    .tcq = true,
    .max_channel = 0,
    .max_target = 255,
    .max_lun = 16383,
    .complete = command_complete,
    .change = bus_change,
};

/* ---- queues --------------------------------------------------------------------------------- */

static void handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOSCSI *s = vdev->opaque;
    if (vdev->broken || !vq->ready) {
        return;
    }
    if (vq->index == 1) {
        return; /* event buffers wait for events */
    }
    VirtQueueElement *e;
    while (!vdev->broken && (e = virtqueue_pop(vq))) {
        if (vq->index == 0) {
            handle_ctrl(s, vq, e);
        } else {
            handle_cmd(s, vq, e);
        }
    }
}

/* ---- config, features, reset ------------------------------------------------------------------
 */

static void scsi_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIOSCSI *s = vdev->opaque;
    uint16_t max_channel = 0, max_target = 255;
    put_le32(c + 0, s->num_queues);
    put_le32(c + 4, s->seg_max_adjust ? s->virtqueue_size - 2 : 128 - 2);
    put_le32(c + 8, s->max_sectors);
    put_le32(c + 12, s->cmd_per_lun);
    put_le32(c + 16, 16); /* event_info_size */
    put_le32(c + 20, s->sense_size);
    put_le32(c + 24, s->cdb_size);
    memcpy(c + 28, &max_channel, 2);
    memcpy(c + 30, &max_target, 2);
    put_le32(c + 32, 16383);
}

static void scsi_set_config(VirtIODevice *vdev, const uint8_t *c)
{
    VirtIOSCSI *s = vdev->opaque;
    uint32_t sense_size, cdb_size;
    memcpy(&sense_size, c + 20, 4);
    memcpy(&cdb_size, c + 24, 4);
    if (sense_size >= 65536 || cdb_size >= 256) {
        virtio_error(vdev, "bad data written to virtio-scsi configuration space");
        return;
    }
    s->sense_size = sense_size;
    s->cdb_size = cdb_size;
}

static uint64_t scsi_get_features(VirtIODevice *vdev, uint64_t f)
{
    VirtIOSCSI *s = vdev->opaque;
    if (s->hotplug) {
        f |= 1ull << VIRTIO_SCSI_F_HOTPLUG;
    }
    if (s->param_change) {
        f |= 1ull << VIRTIO_SCSI_F_CHANGE;
    }
    return f;
}

static void scsi_reset(VirtIODevice *vdev)
{
    VirtIOSCSI *s = vdev->opaque;
    if (s->bus) {
        /* every request ends (into the old rings) before the driver reuses its memory */
        for (SCSIDevice *d = s->bus->devs; d; d = d->bus_next) {
            reset_device(d);
        }
    }
    s->sense_size = SENSE_DEFAULT_SIZE;
    s->cdb_size = CDB_DEFAULT_SIZE;
    s->events_dropped = false;
}

static const VirtIODeviceOps virtio_scsi_ops = {
    .name = "virtio-scsi",
    .device_id = VIRTIO_ID_SCSI,
    .get_features = scsi_get_features,
    .get_config = scsi_get_config,
    .set_config = scsi_set_config,
    .reset = scsi_reset,
};

/* ---- realize ----------------------------------------------------------------------------------
 */

static bool vscsi_realize(VirtIOPCIProxy *p, char **errp)
{
    VirtIOSCSIPCI *d = (VirtIOSCSIPCI *)p;
    VirtIOSCSI *s = &d->scsi;
    s->vdev = &p->vdev;
    if (s->num_queues == AUTO_NUM_QUEUES) {
        unsigned n = machine_smp_cpus();
        s->num_queues = n > VIRTIO_QUEUE_MAX - VQ_NUM_FIXED ? VIRTIO_QUEUE_MAX - VQ_NUM_FIXED : n;
    }
    if (s->num_queues == 0 || s->num_queues > VIRTIO_QUEUE_MAX - VQ_NUM_FIXED) {
        *errp = g_strdup_printf("Invalid number of queues (= %u), must be a positive integer "
                                "less than %d.",
                                s->num_queues, VIRTIO_QUEUE_MAX - VQ_NUM_FIXED);
        return false;
    }
    if (s->virtqueue_size <= 2) {
        *errp = g_strdup_printf("invalid virtqueue_size property (= %u), must be > 2",
                                s->virtqueue_size);
        return false;
    }
    if ((s->virtqueue_size & (s->virtqueue_size - 1)) || s->virtqueue_size > VIRTQUEUE_MAX_SIZE) {
        /* QEMU 7.2 aborts on a queue above 1024 entries; Vireo refuses it */
        *errp = g_strdup_printf("invalid virtqueue_size property (= %u), must be a power of 2 "
                                "(max %d)",
                                s->virtqueue_size, VIRTQUEUE_MAX_SIZE);
        return false;
    }
    if (p->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        p->nvectors = s->num_queues + 3;
    }
    s->sense_size = SENSE_DEFAULT_SIZE;
    s->cdb_size = CDB_DEFAULT_SIZE;
    virtio_init(&p->vdev, &virtio_scsi_ops, s, CONFIG_SIZE, s->num_queues + VQ_NUM_FIXED);
    for (unsigned i = 0; i < s->num_queues + VQ_NUM_FIXED; i++) {
        virtio_add_queue(&p->vdev, (uint16_t)s->virtqueue_size, handle_output);
    }
    s->bus = scsi_bus_new(&p->pci.dev, &virtio_scsi_bus_info, s);
    return true;
}

static void vscsi_unrealize(VirtIOPCIProxy *p)
{
    VirtIOSCSI *s = &((VirtIOSCSIPCI *)p)->scsi;
    if (s->bus) {
        for (SCSIDevice *d = s->bus->devs; d; d = d->bus_next) {
            if (d->ops->drain) {
                d->ops->drain(d);
            }
        }
    }
    scsi_bus_free(s->bus);
    s->bus = NULL;
}

/* ---- the device type ---------------------------------------------------------------------- */

static const Property virtio_scsi_props[] = {
    DEFINE_PROP_UINT32("cmd_per_lun", VirtIOSCSIPCI, scsi.cmd_per_lun, 128),
    DEFINE_PROP_BIT("hotplug", VirtIOSCSIPCI, scsi.hotplug, true),
    DEFINE_PROP_BIT("ioeventfd", VirtIOSCSIPCI, proxy.ioeventfd, true),
    DEFINE_PROP_HELP("iothread", "link<iothread>"),
    DEFINE_PROP_UINT32("max_sectors", VirtIOSCSIPCI, scsi.max_sectors, 65535),
    DEFINE_PROP_UINT32("num_queues", VirtIOSCSIPCI, scsi.num_queues, AUTO_NUM_QUEUES),
    DEFINE_PROP_BIT("param_change", VirtIOSCSIPCI, scsi.param_change, true),
    DEFINE_PROP_BOOL("seg_max_adjust", VirtIOSCSIPCI, scsi.seg_max_adjust, true),
    DEFINE_PROP_UINT32("vectors", VirtIOSCSIPCI, proxy.nvectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_HELP("virtio-backend", "child<virtio-scsi-device>"),
    DEFINE_PROP_UINT32("virtqueue_size", VirtIOSCSIPCI, scsi.virtqueue_size, 256),
    DEFINE_PROP_END,
};

static const VirtIOPCIDeviceInfo virtio_scsi_pci_vinfo = {
    .realize = vscsi_realize,
    .unrealize = vscsi_unrealize,
    .legacy_device_id = 0x1004,
    .class_code = 0x0100,
};

static const VMStateField virtio_scsi_pci_fields[] = {
    VMSTATE_STRUCT(proxy, VirtIOSCSIPCI, virtio_pci_vmstate),
    VMSTATE_UINT32(scsi.sense_size, VirtIOSCSIPCI),
    VMSTATE_UINT32(scsi.cdb_size, VirtIOSCSIPCI),
    VMSTATE_BOOL(scsi.events_dropped, VirtIOSCSIPCI),
    VMSTATE_END_OF_LIST(),
};

static void virtio_scsi_pci_pre_save(void *opaque)
{
    VirtIOSCSIPCI *d = opaque;
    /* what is saved has nothing in flight */
    if (d->scsi.bus) {
        for (SCSIDevice *x = d->scsi.bus->devs; x; x = x->bus_next) {
            if (x->ops->drain) {
                x->ops->drain(x);
            }
        }
    }
}

static bool virtio_scsi_pci_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    VirtIOSCSIPCI *d = opaque;
    return virtio_pci_post_load(&d->proxy, errp);
}

static const VMStateDescription virtio_scsi_pci_vmstate = {
    .name = "virtio-scsi",
    .version = 1,
    .minimum_version = 1,
    .fields = virtio_scsi_pci_fields,
    .pre_save = virtio_scsi_pci_pre_save,
    .post_load = virtio_scsi_pci_post_load,
};

static const char *const virtio_scsi_aliases[] = {"virtio-scsi", NULL};

const DeviceInfo virtio_scsi_pci_info = {
    .name = "virtio-scsi-pci",
    .category = DEVICE_CATEGORY_STORAGE,
    VIRTIO_PCI_DEVICE_INFO,
    .instance_size = sizeof(VirtIOSCSIPCI),
    .props = virtio_scsi_props,
    .vmsd = &virtio_scsi_pci_vmstate,
    .aliases = virtio_scsi_aliases,
    .family = &virtio_scsi_pci_vinfo,
    .qom_parent = "virtio-scsi-pci-base",
    .child_bus = BUS_SCSI,
};
