/*
 * The SCSI bus (include/vireo/scsi.h, docs/scsi.md): buses owned by HBAs, the bus side of a
 * device's realize (channel/scsi-id/lun as QEMU 7.2 checks and assigns them), CDB parsing,
 * unit attentions, and the commands the target answers itself (REPORT LUNS, INQUIRY and
 * REQUEST SENSE for LUNs no device has).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/scsi.h"
#include "vireo/virtio.h"
#include "vireo/vmstate.h"

/* opcodes the bus looks at */
#define TEST_UNIT_READY               0x00
#define REQUEST_SENSE                 0x03
#define FORMAT_UNIT                   0x04
#define READ_6                        0x08
#define WRITE_6                       0x0a
#define INQUIRY                       0x12
#define RESERVE                       0x16
#define RELEASE                       0x17
#define START_STOP                    0x1b
#define ALLOW_MEDIUM_REMOVAL          0x1e
#define READ_CAPACITY_10              0x25
#define READ_10                       0x28
#define WRITE_10                      0x2a
#define SEEK_10                       0x2b
#define WRITE_VERIFY_10               0x2e
#define VERIFY_10                     0x2f
#define PRE_FETCH                     0x34
#define SYNCHRONIZE_CACHE             0x35
#define WRITE_SAME_10                 0x41
#define GET_CONFIGURATION             0x46
#define GET_EVENT_STATUS_NOTIFICATION 0x4a
#define MODE_SELECT                   0x15
#define MODE_SELECT_10                0x55
#define RESERVE_10                    0x56
#define RELEASE_10                    0x57
#define READ_16                       0x88
#define WRITE_16                      0x8a
#define WRITE_VERIFY_16               0x8e
#define VERIFY_16                     0x8f
#define PRE_FETCH_16                  0x90
#define SYNCHRONIZE_CACHE_16          0x91
#define WRITE_SAME_16                 0x93
#define REPORT_LUNS                   0xa0
#define READ_12                       0xa8
#define WRITE_12                      0xaa
#define WRITE_VERIFY_12               0xae
#define VERIFY_12                     0xaf
#define MECHANISM_STATUS              0xbd
#define READ_DVD_STRUCTURE            0xad
#define SET_CD_SPEED                  0xbb
#define UNMAP                         0x42

enum { KIND_DEVICE, KIND_TARGET, KIND_UA, KIND_INVALID_OPCODE, KIND_INVALID_FIELD };

/* ---- buses ---------------------------------------------------------------------------------- */

SCSIBus *scsi_bus_new(Device *owner, const SCSIBusInfo *info, void *opaque)
{
    SCSIBus *bus = g_new0(SCSIBus, 1);
    bus->info = info;
    bus->owner = owner;
    bus->opaque = opaque;
    bus->name = owner->id ? g_strdup_printf("%s.0", owner->id) : g_strdup("scsi.0");
    device_bus_register(bus->name, BUS_SCSI, bus);
    return bus;
}

void scsi_bus_free(SCSIBus *bus)
{
    if (!bus) {
        return;
    }
    while (bus->devs) {
        /* unplugging takes it off the list */
        device_free(&bus->devs->dev);
    }
    device_bus_unregister(bus);
    g_free(bus->name);
    g_free(bus);
}

SCSIDevice *scsi_device_find(SCSIBus *bus, uint32_t channel, uint32_t id, uint32_t lun)
{
    SCSIDevice *target = NULL;
    for (SCSIDevice *d = bus->devs; d; d = d->bus_next) {
        if (d->channel == channel && d->id == id) {
            if (d->lun == lun) {
                return d;
            }
            if (!target) {
                target = d;
            }
        }
    }
    return target;
}

void scsi_bus_reset(SCSIBus *bus)
{
    for (SCSIDevice *d = bus->devs; d; d = d->bus_next) {
        if (d->ops->drain) {
            d->ops->drain(d);
        }
        if (d->ops->reset) {
            d->ops->reset(d);
        }
        d->sense_len = 0;
        d->sense_is_ua = false;
        d->unit_attention = SENSE_RESET;
    }
}

/* ---- devices on the bus --------------------------------------------------------------------- */

bool scsi_device_plug(SCSIDevice *dev, char **errp)
{
    SCSIBus *bus = device_plug_bus(&dev->dev, BUS_SCSI, errp);
    if (!bus) {
        return false;
    }
    const SCSIBusInfo *info = bus->info;
    if (dev->channel > info->max_channel) {
        *errp = g_strdup_printf("bad scsi channel id: %d", (int)dev->channel);
        return false;
    }
    if (dev->id != UINT32_MAX && dev->id > info->max_target) {
        *errp = g_strdup_printf("bad scsi device id: %d", (int)dev->id);
        return false;
    }
    if (dev->lun != UINT32_MAX && dev->lun > info->max_lun) {
        *errp = g_strdup_printf("bad scsi device lun: %d", (int)dev->lun);
        return false;
    }
    SCSIDevice *d;
    if (dev->id == UINT32_MAX) {
        uint32_t id = 0;
        if (dev->lun == UINT32_MAX) {
            dev->lun = 0;
        }
        for (;; id++) {
            d = scsi_device_find(bus, dev->channel, id, dev->lun);
            if (!(d && d->lun == dev->lun) || id >= info->max_target) {
                break;
            }
        }
        if (d && d->lun == dev->lun) {
            *errp = g_strdup("no free target");
            return false;
        }
        dev->id = id;
    } else if (dev->lun == UINT32_MAX) {
        uint32_t lun = 0;
        for (;; lun++) {
            d = scsi_device_find(bus, dev->channel, dev->id, lun);
            if (!(d && d->lun == lun) || lun >= info->max_lun) {
                break;
            }
        }
        if (d && d->lun == lun) {
            *errp = g_strdup("no free lun");
            return false;
        }
        dev->lun = lun;
    } else {
        d = scsi_device_find(bus, dev->channel, dev->id, dev->lun);
        if (d && d->lun == dev->lun) {
            *errp = g_strdup_printf("lun already used by '%s'", d->dev.id ? d->dev.id : "(null)");
            return false;
        }
    }
    dev->bus = bus;
    dev->bus_next = bus->devs;
    bus->devs = dev;
    return true;
}

void scsi_device_unplug(SCSIDevice *dev)
{
    SCSIBus *bus = dev->bus;
    if (!bus) {
        return;
    }
    for (SCSIDevice **p = &bus->devs; *p; p = &(*p)->bus_next) {
        if (*p == dev) {
            *p = dev->bus_next;
            break;
        }
    }
    dev->bus = NULL;
    dev->bus_next = NULL;
}

void scsi_device_set_ua(SCSIDevice *dev, SCSISense sense)
{
    /* a reset outranks everything; otherwise the newest condition wins */
    if (dev->unit_attention.key == 0x06 && dev->unit_attention.asc == 0x29 &&
        !(sense.asc == 0x29)) {
        return;
    }
    dev->unit_attention = sense;
}

void scsi_device_report_change(SCSIDevice *dev, SCSISense sense)
{
    if (dev->bus && dev->bus->info->change) {
        dev->bus->info->change(dev->bus, dev, sense);
    }
    scsi_device_set_ua(dev, sense);
}

int scsi_sense_from_errno(int err, SCSISense *sense)
{
    switch (err) {
    case 0:
        return SCSI_GOOD;
    case ENOMEDIUM:
        *sense = SENSE_NO_MEDIUM;
        break;
    case ENOMEM:
        *sense = SENSE_TARGET_FAILURE;
        break;
    case EINVAL:
        *sense = SENSE_INVALID_FIELD;
        break;
    case ENOSPC:
        *sense = SENSE_SPACE_ALLOC_FAILED;
        break;
    case ENODATA:
        *sense = (SCSISense){0x03, 0x11, 0x00}; /* unrecovered read error */
        break;
    case EREMOTEIO:
        *sense = SENSE_TARGET_FAILURE;
        break;
    default:
        *sense = SENSE_IO_ERROR;
        break;
    }
    return SCSI_CHECK_CONDITION;
}

uint32_t scsi_build_sense(uint8_t *buf, SCSISense sense)
{
    memset(buf, 0, SCSI_SENSE_LEN);
    buf[0] = 0x70; /* current error, fixed format */
    buf[2] = sense.key;
    buf[7] = 10; /* additional sense length */
    buf[12] = sense.asc;
    buf[13] = sense.ascq;
    return SCSI_SENSE_LEN;
}

/* ---- CDB parsing (QEMU's scsi_req_parse_cdb for disks and CD-ROMs) ----------------------------
 */

static int cdb_length(const uint8_t *cdb)
{
    switch (cdb[0] >> 5) {
    case 0:
        return 6;
    case 1:
    case 2:
        return 10;
    case 4:
        return 16;
    case 5:
        return 12;
    default:
        return -1;
    }
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

uint64_t scsi_cdb_xfer(const uint8_t *cdb)
{
    switch (cdb[0] >> 5) {
    case 0:
        return cdb[4];
    case 1:
    case 2:
        return be16(cdb + 7);
    case 4:
        return be32(cdb + 10);
    case 5:
        return be32(cdb + 6);
    default:
        return 0;
    }
}

static uint64_t cdb_lba(const uint8_t *cdb)
{
    switch (cdb[0] >> 5) {
    case 0:
        return ((uint64_t)cdb[1] & 0x1f) << 16 | be16(cdb + 2);
    case 1:
    case 2:
    case 5:
        return be32(cdb + 2);
    case 4:
        return be64(cdb + 2);
    default:
        return 0;
    }
}

static bool is_write_cmd(uint8_t op)
{
    switch (op) {
    case WRITE_6:
    case WRITE_10:
    case WRITE_12:
    case WRITE_16:
    case WRITE_VERIFY_10:
    case WRITE_VERIFY_12:
    case WRITE_VERIFY_16:
    case VERIFY_10:
    case VERIFY_12:
    case VERIFY_16:
    case MODE_SELECT:
    case MODE_SELECT_10:
    case UNMAP:
    case WRITE_SAME_10:
    case WRITE_SAME_16:
    case FORMAT_UNIT:
        return true;
    default:
        return false;
    }
}

static int parse_cdb(SCSIDevice *dev, SCSICommand *cmd, const uint8_t *cdb, size_t cdb_max)
{
    int len = cdb_length(cdb);
    if (len < 0 || (size_t)len > cdb_max) {
        return -1;
    }
    memset(cmd, 0, sizeof(*cmd));
    memcpy(cmd->buf, cdb, (size_t)len);
    cmd->len = len;
    uint8_t op = cdb[0];
    uint64_t xfer = scsi_cdb_xfer(cdb);
    uint32_t bs = dev->blocksize ? dev->blocksize : 512;
    switch (op) {
    case TEST_UNIT_READY:
    case RESERVE:
    case RELEASE:
    case START_STOP:
    case ALLOW_MEDIUM_REMOVAL:
    case SEEK_10:
    case SYNCHRONIZE_CACHE:
    case SYNCHRONIZE_CACHE_16:
    case PRE_FETCH:
    case PRE_FETCH_16:
    case SET_CD_SPEED:
    case RESERVE_10:
    case RELEASE_10:
        xfer = 0;
        break;
    case VERIFY_10:
    case VERIFY_12:
    case VERIFY_16:
        if ((cdb[1] & 2) == 0) {
            xfer = 0;
        } else if ((cdb[1] & 4) != 0) {
            xfer = 1;
        }
        xfer *= bs;
        break;
    case READ_CAPACITY_10:
        xfer = 8;
        break;
    case INQUIRY:
        xfer = be16(cdb + 3);
        break;
    case READ_6:
    case WRITE_6:
        xfer = (cdb[4] ? cdb[4] : 256) * (uint64_t)bs;
        break;
    case READ_10:
    case READ_12:
    case READ_16:
    case WRITE_10:
    case WRITE_12:
    case WRITE_16:
    case WRITE_VERIFY_10:
    case WRITE_VERIFY_12:
    case WRITE_VERIFY_16:
        xfer *= bs;
        break;
    case WRITE_SAME_10:
    case WRITE_SAME_16:
        xfer = (cdb[1] & 1) ? 0 : bs;
        break;
    case FORMAT_UNIT:
        xfer = (cdb[1] & 16) ? ((cdb[1] & 32) ? 8 : 4) : 0;
        break;
    case MECHANISM_STATUS:
    case READ_DVD_STRUCTURE:
        if (dev->type == SCSI_TYPE_ROM) {
            xfer = be16(cdb + 8);
        }
        break;
    default:
        break;
    }
    cmd->xfer = xfer;
    cmd->lba = cdb_lba(cdb);
    if (!xfer) {
        cmd->mode = SCSI_XFER_NONE;
    } else if (is_write_cmd(op)) {
        cmd->mode = SCSI_XFER_TO_DEV;
    } else {
        cmd->mode = SCSI_XFER_FROM_DEV;
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

SCSIRequest *scsi_req_new(SCSIDevice *dev, uint64_t tag, uint32_t lun, const uint8_t *cdb,
                          size_t cdb_max, void *hba_private)
{
    SCSIRequest *req = g_new0(SCSIRequest, 1);
    SCSIBus *bus = dev->bus;
    req->bus = bus;
    req->dev = dev;
    req->tag = tag;
    req->lun = lun;
    req->status = -1;
    req->hba_private = hba_private;
    uint8_t op = cdb_max ? cdb[0] : 0xff;
    if (cdb_max && (dev->unit_attention.key == 0x06 || bus->unit_attention.key == 0x06) &&
        op != INQUIRY && op != REPORT_LUNS && op != GET_CONFIGURATION &&
        op != GET_EVENT_STATUS_NOTIFICATION && !(op == REQUEST_SENSE && dev->sense_is_ua)) {
        req->kind = KIND_UA;
    } else if (lun != dev->lun || op == REPORT_LUNS || (op == REQUEST_SENSE && dev->sense_len)) {
        req->kind = KIND_TARGET;
    } else {
        req->kind = KIND_DEVICE;
    }
    if (!cdb_max || parse_cdb(dev, &req->cmd, cdb, cdb_max) < 0) {
        req->kind = KIND_INVALID_OPCODE;
        if (cdb_max) {
            memcpy(req->cmd.buf, cdb, cdb_max < 16 ? cdb_max : 16);
        }
    } else if (req->cmd.xfer > INT32_MAX) {
        req->kind = KIND_INVALID_FIELD;
    }
    return req;
}

uint64_t scsi_req_residual(const SCSIRequest *req)
{
    return req->cmd.xfer > req->transferred ? req->cmd.xfer - req->transferred : 0;
}

void scsi_req_free(SCSIRequest *req)
{
    if (!req) {
        return;
    }
    g_free(req->buf);
    g_free(req->sub);
    g_free(req);
}

static void clear_unit_attention(SCSIRequest *req)
{
    SCSIDevice *dev = req->dev;
    SCSISense *ua;
    if (dev->unit_attention.key != 0x06 && req->bus->unit_attention.key != 0x06) {
        return;
    }
    uint8_t op = req->cmd.buf[0];
    if (op == INQUIRY || op == GET_CONFIGURATION || op == GET_EVENT_STATUS_NOTIFICATION) {
        return;
    }
    ua = dev->unit_attention.key == 0x06 ? &dev->unit_attention : &req->bus->unit_attention;
    if (op == REPORT_LUNS && !(ua->asc == 0x3f && ua->ascq == 0x0e)) {
        return;
    }
    *ua = SENSE_NO_SENSE;
}

static void unit_attention_reported(SCSIDevice *dev)
{
    if (dev->ops && dev->ops->unit_attention_reported) {
        dev->ops->unit_attention_reported(dev);
    }
}

void scsi_req_complete(SCSIRequest *req, int status)
{
    SCSIDevice *dev = req->dev;
    req->status = status;
    if (status == SCSI_GOOD) {
        req->sense_len = 0;
    }
    if (req->sense_len) {
        memcpy(dev->sense, req->sense, req->sense_len);
        dev->sense_len = req->sense_len;
        dev->sense_is_ua = req->kind == KIND_UA;
    } else {
        dev->sense_len = 0;
        dev->sense_is_ua = false;
    }
    clear_unit_attention(req);
    req->bus->info->complete(req);
}

void scsi_req_check_condition(SCSIRequest *req, SCSISense sense)
{
    req->sense_len = scsi_build_sense(req->sense, sense);
    scsi_req_complete(req, SCSI_CHECK_CONDITION);
}

uint32_t scsi_req_get_sense(SCSIRequest *req, uint8_t *buf, uint32_t len)
{
    if (!req->sense_len) {
        return 0;
    }
    uint32_t n = req->sense_len < len ? req->sense_len : len;
    memcpy(buf, req->sense, n);
    /* autosense reports the unit attention: it is cleared */
    if (req->dev->sense_is_ua) {
        unit_attention_reported(req->dev);
        req->dev->sense_len = 0;
        req->dev->sense_is_ua = false;
    }
    return n;
}

void scsi_req_data_in(SCSIRequest *req, const void *buf, size_t len)
{
    if (len > req->cmd.xfer) {
        len = req->cmd.xfer;
    }
    req->transferred = iov_from_buf(req->iov, req->niov, 0, buf, len);
}

size_t scsi_req_data_out(SCSIRequest *req, void *buf, size_t len)
{
    if (len > req->cmd.xfer) {
        len = req->cmd.xfer;
    }
    size_t n = iov_to_buf(req->iov, req->niov, 0, buf, len);
    req->transferred = n;
    return n;
}

void scsi_req_sub_iov(SCSIRequest *req, size_t len)
{
    g_free(req->sub);
    req->sub = g_new(struct iovec, req->niov ? req->niov : 1);
    req->nsub = 0;
    for (unsigned i = 0; i < req->niov && len; i++) {
        size_t l = req->iov[i].iov_len < len ? req->iov[i].iov_len : len;
        req->sub[req->nsub++] = (struct iovec){.iov_base = req->iov[i].iov_base, .iov_len = l};
        len -= l;
    }
}

/* ---- what the target answers ---------------------------------------------------------------- */

static void put_lun(uint8_t *p, uint32_t lun)
{
    memset(p, 0, 8);
    if (lun < 256) {
        p[1] = (uint8_t)lun;
    } else {
        p[0] = 0x40 | (uint8_t)(lun >> 8);
        p[1] = (uint8_t)lun;
    }
}

static void target_report_luns(SCSIRequest *req)
{
    const uint8_t *cdb = req->cmd.buf;
    if (cdb[2] > 2 || req->cmd.xfer < 16) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
        return;
    }
    SCSIDevice *dev = req->dev;
    GArray *luns = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    bool have0 = false;
    for (SCSIDevice *d = req->bus->devs; d; d = d->bus_next) {
        if (d->channel == dev->channel && d->id == dev->id) {
            g_array_append_val(luns, d->lun);
            have0 |= d->lun == 0;
        }
    }
    if (!have0) {
        uint32_t zero = 0;
        g_array_prepend_val(luns, zero);
    }
    size_t len = 8 + (size_t)luns->len * 8;
    uint8_t *out = g_malloc0(len);
    uint32_t list = luns->len * 8;
    out[0] = (uint8_t)(list >> 24);
    out[1] = (uint8_t)(list >> 16);
    out[2] = (uint8_t)(list >> 8);
    out[3] = (uint8_t)list;
    /* QEMU lists the devices newest first, after a LUN 0 it adds when there is none */
    for (guint i = 0; i < luns->len; i++) {
        put_lun(out + 8 + 8 * i, g_array_index(luns, uint32_t, i));
    }
    scsi_req_data_in(req, out, len);
    g_free(out);
    g_array_free(luns, TRUE);
    scsi_req_complete(req, SCSI_GOOD);
}

static void target_inquiry(SCSIRequest *req)
{
    const uint8_t *cdb = req->cmd.buf;
    uint8_t out[36] = {0};
    size_t len;
    if (cdb[1] & 1) {
        /* VPD: only the list of pages (which has itself) */
        if (cdb[2] != 0) {
            scsi_req_check_condition(req, SENSE_INVALID_FIELD);
            return;
        }
        out[0] = req->lun == req->dev->lun ? (uint8_t)req->dev->type : SCSI_TYPE_NO_LUN;
        out[1] = 0;
        out[3] = 1;
        out[4] = 0;
        len = 5;
    } else {
        if (cdb[2] != 0) {
            scsi_req_check_condition(req, SENSE_INVALID_FIELD);
            return;
        }
        len = req->cmd.xfer < 36 ? req->cmd.xfer : 36;
        if (req->lun != 0) {
            out[0] = SCSI_TYPE_NO_LUN;
        } else {
            out[0] = 0x20 | 0x1f; /* not present, inactive */
            out[2] = 5;
            out[3] = 2 | 0x10;
            out[4] = (uint8_t)(len - 5);
            out[7] = 0x10 | (req->bus->info->tcq ? 0x02 : 0);
            memcpy(out + 8, "QEMU    ", 8);
            memcpy(out + 16, "QEMU TARGET     ", 16);
            memcpy(out + 32, "2.5+", 4);
        }
    }
    scsi_req_data_in(req, out, len);
    scsi_req_complete(req, SCSI_GOOD);
}

static void target_request_sense(SCSIRequest *req)
{
    uint8_t out[SCSI_SENSE_BUF_SIZE];
    SCSIDevice *dev = req->dev;
    uint32_t len;
    if (req->lun != dev->lun) {
        len = scsi_build_sense(out, SENSE_LUN_NOT_SUPPORTED);
    } else {
        len = dev->sense_len;
        memcpy(out, dev->sense, len);
        if (dev->sense_is_ua) {
            unit_attention_reported(dev);
        }
        dev->sense_len = 0;
        dev->sense_is_ua = false;
    }
    if (req->cmd.buf[1] & 1) {
        /* descriptor format: built from the fixed one */
        uint8_t d[8] = {0x72, out[2] & 0x0f, out[12], out[13], 0, 0, 0, 0};
        memcpy(out, d, 8);
        len = 8;
    }
    scsi_req_data_in(req, out, len);
    scsi_req_complete(req, SCSI_GOOD);
}

static void target_command(SCSIRequest *req)
{
    switch (req->cmd.buf[0]) {
    case REPORT_LUNS:
        target_report_luns(req);
        return;
    case INQUIRY:
        target_inquiry(req);
        return;
    case REQUEST_SENSE:
        target_request_sense(req);
        return;
    case TEST_UNIT_READY:
        if (req->lun != req->dev->lun) {
            scsi_req_check_condition(req, SENSE_LUN_NOT_SUPPORTED);
        } else {
            scsi_req_complete(req, SCSI_GOOD);
        }
        return;
    default:
        scsi_req_check_condition(req, req->lun != req->dev->lun ? SENSE_LUN_NOT_SUPPORTED
                                                                : SENSE_INVALID_OPCODE);
        return;
    }
}

void scsi_req_enqueue(SCSIRequest *req, struct iovec *iov, unsigned niov)
{
    req->iov = iov;
    req->niov = niov;
    switch (req->kind) {
    case KIND_UA: {
        SCSIDevice *dev = req->dev;
        SCSISense ua =
            dev->unit_attention.key == 0x06 ? dev->unit_attention : req->bus->unit_attention;
        scsi_req_check_condition(req, ua);
        return;
    }
    case KIND_TARGET:
        target_command(req);
        return;
    case KIND_INVALID_OPCODE:
        scsi_req_check_condition(req, SENSE_INVALID_OPCODE);
        return;
    case KIND_INVALID_FIELD:
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
        return;
    default:
        req->dev->ops->send_command(req);
        return;
    }
}

/* ---- saved state ---------------------------------------------------------------------------- */

static const VMStateField scsi_device_fields[] = {
    VMSTATE_BUFFER(sense, SCSIDevice),
    VMSTATE_UINT32(sense_len, SCSIDevice),
    VMSTATE_BOOL(sense_is_ua, SCSIDevice),
    VMSTATE_UINT8(unit_attention.key, SCSIDevice),
    VMSTATE_UINT8(unit_attention.asc, SCSIDevice),
    VMSTATE_UINT8(unit_attention.ascq, SCSIDevice),
    VMSTATE_INT32(scsi_version, SCSIDevice),
    VMSTATE_UINT64(max_lba, SCSIDevice),
    VMSTATE_UINT32(blocksize, SCSIDevice),
    VMSTATE_END_OF_LIST(),
};

const VMStateDescription scsi_device_vmstate = {
    .name = "SCSIDevice",
    .version = 1,
    .minimum_version = 1,
    .fields = scsi_device_fields,
};
