/*
 * SCSI (hw/scsi/, docs/scsi.md): a bus that host bus adapters (virtio-scsi-pci) own, the
 * devices on it (scsi-hd, scsi-cd) and the requests between them, as QEMU 7.2's SCSI layer
 * behaves to a guest.
 *
 * An HBA makes a bus (scsi_bus_new) and, per guest command, a request:
 *
 *   req = scsi_req_new(dev, tag, lun, cdb, cdb_max, opaque)   parses the CDB (length, transfer
 *                                                           size, direction, LBA)
 *   the HBA checks req->cmd.mode / req->cmd.xfer against the guest's buffers, then
 *   scsi_req_enqueue(req, iov, niov)                        runs it; data goes straight between
 *                                                           the iovecs and the block backend
 *   bus->info->complete(req)                                once, maybe inside enqueue, else on
 *                                                           the main loop with the big lock held:
 *                                                           req->status, scsi_req_get_sense(),
 *                                                           scsi_req_residual(); then
 *   scsi_req_free(req)
 *
 * Errors are CHECK CONDITION with fixed-format sense data (18 bytes) as QEMU builds it; a
 * pending unit attention (power on/reset, medium changed, capacity changed) is reported to the
 * first command that is not INQUIRY, REPORT LUNS, GET CONFIGURATION or GET EVENT STATUS
 * NOTIFICATION. Commands for a LUN no device has go to the target (INQUIRY with peripheral
 * qualifier 3, REPORT LUNS, REQUEST SENSE; anything else LOGICAL UNIT NOT SUPPORTED).
 */
#ifndef VIREO_SCSI_H
#define VIREO_SCSI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vireo/device.h"

typedef struct SCSIBus SCSIBus;
typedef struct SCSIDevice SCSIDevice;
typedef struct SCSIRequest SCSIRequest;
typedef struct BlockBackend BlockBackend;

/* status */
#define SCSI_GOOD            0x00
#define SCSI_CHECK_CONDITION 0x02
#define SCSI_BUSY            0x08

/* peripheral device types */
#define SCSI_TYPE_DISK   0x00
#define SCSI_TYPE_ROM    0x05
#define SCSI_TYPE_NO_LUN 0x7f

#define SCSI_SENSE_BUF_SIZE 252
#define SCSI_SENSE_LEN      18 /* fixed format */

typedef enum { SCSI_XFER_NONE, SCSI_XFER_FROM_DEV, SCSI_XFER_TO_DEV } SCSIXferMode;

typedef struct SCSISense {
    uint8_t key, asc, ascq;
} SCSISense;

/* The sense codes Vireo reports (SPC/SBC/MMC names, QEMU's choice of code for each case). */
#define SENSE_NO_SENSE                      ((SCSISense){0x00, 0x00, 0x00})
#define SENSE_LUN_NOT_READY                 ((SCSISense){0x02, 0x04, 0x03})
#define SENSE_NO_MEDIUM                     ((SCSISense){0x02, 0x3a, 0x00})
#define SENSE_NOT_READY_REMOVAL_PREVENTED   ((SCSISense){0x02, 0x53, 0x02})
#define SENSE_TARGET_FAILURE                ((SCSISense){0x04, 0x44, 0x00})
#define SENSE_INVALID_OPCODE                ((SCSISense){0x05, 0x20, 0x00})
#define SENSE_LBA_OUT_OF_RANGE              ((SCSISense){0x05, 0x21, 0x00})
#define SENSE_INVALID_FIELD                 ((SCSISense){0x05, 0x24, 0x00})
#define SENSE_INVALID_PARAM                 ((SCSISense){0x05, 0x26, 0x00})
#define SENSE_INVALID_PARAM_LEN             ((SCSISense){0x05, 0x1a, 0x00})
#define SENSE_LUN_NOT_SUPPORTED             ((SCSISense){0x05, 0x25, 0x00})
#define SENSE_SAVING_PARAMS_NOT_SUPPORTED   ((SCSISense){0x05, 0x39, 0x00})
#define SENSE_INCOMPATIBLE_FORMAT           ((SCSISense){0x05, 0x30, 0x00})
#define SENSE_ILLEGAL_REQ_REMOVAL_PREVENTED ((SCSISense){0x05, 0x53, 0x02})
#define SENSE_IO_ERROR                      ((SCSISense){0x0b, 0x00, 0x06})
#define SENSE_WRITE_PROTECTED               ((SCSISense){0x07, 0x27, 0x00})
#define SENSE_SPACE_ALLOC_FAILED            ((SCSISense){0x07, 0x27, 0x07})
#define SENSE_RESET                         ((SCSISense){0x06, 0x29, 0x00})
#define SENSE_UNIT_ATTENTION_NO_MEDIUM      ((SCSISense){0x06, 0x3a, 0x00})
#define SENSE_MEDIUM_CHANGED                ((SCSISense){0x06, 0x28, 0x00})
#define SENSE_REPORTED_LUNS_CHANGED         ((SCSISense){0x06, 0x3f, 0x0e})
#define SENSE_CAPACITY_CHANGED              ((SCSISense){0x06, 0x2a, 0x09})

/* The parsed CDB. */
typedef struct SCSICommand {
    uint8_t buf[16];
    int len;       /* 6, 10, 12 or 16 */
    uint64_t xfer; /* bytes the command moves */
    uint64_t lba;
    SCSIXferMode mode;
} SCSICommand;

typedef struct SCSIBusInfo {
    bool tcq;
    uint32_t max_channel, max_target, max_lun;
    /* The request ended (status, sense, residual are set): answer the guest. */
    void (*complete)(SCSIRequest *req);
    /* A device reports a parameter change (capacity): the HBA may tell the guest. */
    void (*change)(SCSIBus *bus, SCSIDevice *dev, SCSISense sense);
} SCSIBusInfo;

struct SCSIBus {
    const SCSIBusInfo *info;
    char *name;    /* QEMU's: "ID.0" for an HBA with an id, else "scsi.0" */
    Device *owner; /* the HBA */
    void *opaque;
    SCSIDevice *devs; /* newest first, as QEMU's children lists */
    SCSISense unit_attention;
};

/* What a device type does with commands (scsi-disk.c). */
typedef struct SCSIDeviceOps {
    /* Start the command; it ends with scsi_req_complete()/scsi_req_check_condition(). */
    void (*send_command)(SCSIRequest *req);
    /* The guest was told about a unit attention (CD: the medium-changed state machine). */
    void (*unit_attention_reported)(SCSIDevice *dev);
    /* Every request of the device has ended when this returns (device or LUN reset). */
    void (*drain)(SCSIDevice *dev);
    /* LUN reset: power-on state of the unit (a unit attention follows). */
    void (*reset)(SCSIDevice *dev);
} SCSIDeviceOps;

struct SCSIDevice {
    Device dev; /* first: the device model's instance */
    SCSIBus *bus;
    SCSIDevice *bus_next;
    const SCSIDeviceOps *ops;
    /* properties: channel, scsi-id, lun (-1: the first free one) */
    uint32_t channel, id, lun;
    uint64_t wwn, port_wwn;
    int32_t default_scsi_version;
    /* state */
    int type;
    uint32_t blocksize;
    uint64_t max_lba;
    int32_t scsi_version;
    uint8_t sense[SCSI_SENSE_BUF_SIZE]; /* what REQUEST SENSE returns next */
    uint32_t sense_len;
    bool sense_is_ua;
    SCSISense unit_attention;
    unsigned inflight;
};

struct SCSIRequest {
    SCSIBus *bus;
    SCSIDevice *dev;
    uint64_t tag;
    uint32_t lun;
    SCSICommand cmd;
    int kind; /* who answers: the device, the target, a unit attention, a parse error */
    void *hba_private;
    /* the HBA's data buffers (the guest's memory), at most cmd.xfer bytes are used */
    struct iovec *iov;
    unsigned niov;
    size_t transferred;
    int status; /* -1 while running */
    uint8_t sense[SCSI_SENSE_BUF_SIZE];
    uint32_t sense_len;
    /* for the device type */
    uint8_t *buf;
    size_t buf_len;
    struct iovec *sub;
    unsigned nsub;
    uint64_t pos, left; /* UNMAP/WRITE SAME progress */
    void *dev_private;
};

/* ---- buses (for HBAs) ---- */

SCSIBus *scsi_bus_new(Device *owner, const SCSIBusInfo *info, void *opaque);
/* Unrealizes and frees every device on the bus, then the bus. */
void scsi_bus_free(SCSIBus *bus);
/* The device at exactly (channel, id, lun), else any device of that target, else NULL. */
SCSIDevice *scsi_device_find(SCSIBus *bus, uint32_t channel, uint32_t id, uint32_t lun);
/* Bus reset (HBA reset): every device drained and reset, unit attention RESET. */
void scsi_bus_reset(SCSIBus *bus);

/* ---- requests ---- */

SCSIRequest *scsi_req_new(SCSIDevice *dev, uint64_t tag, uint32_t lun, const uint8_t *cdb,
                          size_t cdb_max, void *hba_private);
void scsi_req_enqueue(SCSIRequest *req, struct iovec *iov, unsigned niov);
void scsi_req_free(SCSIRequest *req);
/* Fixed-format sense into buf (at most len bytes); returns its length. Reporting a unit
 * attention this way clears it (autosense). */
uint32_t scsi_req_get_sense(SCSIRequest *req, uint8_t *buf, uint32_t len);
/* Bytes of cmd.xfer not moved. */
uint64_t scsi_req_residual(const SCSIRequest *req);

/* For device types: end the request. */
void scsi_req_complete(SCSIRequest *req, int status);
void scsi_req_check_condition(SCSIRequest *req, SCSISense sense);
/* Data-in of an emulated command: copy len bytes to the HBA's buffers. */
void scsi_req_data_in(SCSIRequest *req, const void *buf, size_t len);
/* Data-out: the first len bytes from the HBA's buffers (returns what there was). */
size_t scsi_req_data_out(SCSIRequest *req, void *buf, size_t len);
/* The HBA's buffers cut to `len` bytes (into req->sub / req->nsub). */
void scsi_req_sub_iov(SCSIRequest *req, size_t len);

/* ---- devices ---- */

/* Bus part of realize: find the bus (bus= or the newest), check and assign channel/id/lun. */
bool scsi_device_plug(SCSIDevice *dev, char **errp);
void scsi_device_unplug(SCSIDevice *dev);
void scsi_device_set_ua(SCSIDevice *dev, SCSISense sense);
/* A parameter change the guest should hear of (unit attention and the HBA's change hook). */
void scsi_device_report_change(SCSIDevice *dev, SCSISense sense);
/* An errno from the block layer as SCSI status and sense (QEMU's mapping). */
int scsi_sense_from_errno(int err, SCSISense *sense);
/* The transfer length field of a CDB as its group places it (6: byte 4, 10: 7-8, ...). */
uint64_t scsi_cdb_xfer(const uint8_t *cdb);
/* Fixed-format sense bytes (18). */
uint32_t scsi_build_sense(uint8_t *buf, SCSISense sense);

/* The saved state of a SCSI device's common part (sense, unit attention, version). */
extern const VMStateDescription scsi_device_vmstate;

#endif
