/*
 * scsi-hd and scsi-cd (docs/scsi.md): SCSI disks and CD-ROMs on a block backend, answering
 * the commands a guest sends as QEMU 7.2's scsi-disk does: the same INQUIRY data and VPD pages
 * (0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2), READ CAPACITY 10/16, MODE SENSE 6/10 pages, MODE
 * SELECT of the caching page, READ/WRITE 6/10/12/16 and WRITE AND VERIFY, VERIFY, SYNCHRONIZE
 * CACHE, UNMAP and WRITE SAME 10/16 (discard and write-zeroes), START STOP UNIT and PREVENT
 * ALLOW MEDIUM REMOVAL, and for CD-ROMs READ TOC, GET CONFIGURATION, GET EVENT STATUS
 * NOTIFICATION, READ DISC INFORMATION, READ DVD STRUCTURE and MECHANISM STATUS; errors as
 * CHECK CONDITION with QEMU's sense codes.
 *
 * Reads and writes go from the HBA's iovecs (the guest's memory) straight to the backend;
 * completions arrive on the main loop. Removable media (scsi-cd): the tray, medium changes
 * from the monitor (BlockDevOps), the unit attentions a guest sees after a change (NOT READY
 * TO READY CHANGE after MEDIUM NOT PRESENT) and the media events of GET EVENT STATUS
 * NOTIFICATION.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/block-backend.h"
#include "vireo/machine.h"
#include "vireo/qjson.h"
#include "vireo/scsi.h"
#include "vireo/timer.h"
#include "vireo/virtio.h"
#include "vireo/vmstate.h"

/* opcodes */
#define TEST_UNIT_READY               0x00
#define REQUEST_SENSE                 0x03
#define FORMAT_UNIT                   0x04
#define READ_6                        0x08
#define WRITE_6                       0x0a
#define INQUIRY                       0x12
#define MODE_SELECT                   0x15
#define RESERVE                       0x16
#define RELEASE                       0x17
#define MODE_SENSE                    0x1a
#define START_STOP                    0x1b
#define ALLOW_MEDIUM_REMOVAL          0x1e
#define READ_CAPACITY_10              0x25
#define READ_10                       0x28
#define WRITE_10                      0x2a
#define SEEK_10                       0x2b
#define WRITE_VERIFY_10               0x2e
#define VERIFY_10                     0x2f
#define SYNCHRONIZE_CACHE             0x35
#define WRITE_SAME_10                 0x41
#define UNMAP                         0x42
#define READ_TOC                      0x43
#define GET_CONFIGURATION             0x46
#define GET_EVENT_STATUS_NOTIFICATION 0x4a
#define READ_DISC_INFORMATION         0x51
#define MODE_SELECT_10                0x55
#define RESERVE_10                    0x56
#define RELEASE_10                    0x57
#define MODE_SENSE_10                 0x5a
#define READ_16                       0x88
#define WRITE_16                      0x8a
#define WRITE_VERIFY_16               0x8e
#define VERIFY_16                     0x8f
#define SYNCHRONIZE_CACHE_16          0x91
#define WRITE_SAME_16                 0x93
#define SERVICE_ACTION_IN_16          0x9e
#define SAI_READ_CAPACITY_16          0x10
#define READ_12                       0xa8
#define WRITE_12                      0xaa
#define READ_DVD_STRUCTURE            0xad
#define WRITE_VERIFY_12               0xae
#define VERIFY_12                     0xaf
#define MECHANISM_STATUS              0xbd

/* mode pages */
#define MODE_PAGE_R_W_ERROR              0x01
#define MODE_PAGE_HD_GEOMETRY            0x04
#define MODE_PAGE_FLEXIBLE_DISK_GEOMETRY 0x05
#define MODE_PAGE_CACHING                0x08
#define MODE_PAGE_AUDIO_CTL              0x0e
#define MODE_PAGE_CAPABILITIES           0x2a
#define MODE_PAGE_ALLS                   0x3f

#define MMC_PROFILE_NONE    0x0000
#define MMC_PROFILE_CD_ROM  0x0008
#define MMC_PROFILE_DVD_ROM 0x0010
#define CD_MAX_SECTORS      (80ull * 60 * 75 * 2048 / 512)

#define SCSI_MAX_INQUIRY_LEN        256
#define SCSI_MAX_MODE_LEN           256
#define SCSI_WRITE_SAME_MAX         (512 * 1024)
#define DEFAULT_DISCARD_GRANULARITY 4096
#define DEFAULT_MAX_UNMAP_SIZE      (1ull << 30)
#define DEFAULT_MAX_IO_SIZE         2147483647ull
#define QEMU_HW_VERSION             "2.5+"

typedef struct SCSIDiskState {
    SCSIDevice qdev; /* first */
    BlockBackend *blk;
    bool attached, own_blk;
    /* properties (QEMU's names) */
    char *drive, *version, *serial, *vendor, *product, *device_id;
    bool removable, dpofua, share_rw;
    bool quirk_vendor_specific_apple, quirk_apple_vendor, quirk_rom_use_dbd, quirk_truncated;
    uint16_t port_index, rotation_rate;
    uint64_t max_unmap_size, max_io_size;
    uint32_t logical_block_size, physical_block_size, min_io_size, opt_io_size;
    uint32_t discard_granularity;
    uint32_t cyls, heads, secs, lcyls, lheads, lsecs;
    int32_t bootindex;
    int write_cache, backend_defaults, account_invalid, account_failed; /* OnOffAuto */
    int rerror, werror;                                                 /* BlockdevOnError */
    /* state */
    bool is_cd;
    bool tray_open, tray_locked, media_changed, media_event, eject_request;
    SCSIRequest *stopped; /* werror/rerror=stop: retried when the VM runs again */
    VTimer restart;
} SCSIDiskState;

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void pad_copy(uint8_t *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    for (size_t i = 0; i < n; i++) {
        dst[i] = i < l ? (uint8_t)src[i] : ' ';
    }
}

static SCSIDiskState *DISK(SCSIDevice *d)
{
    return (SCSIDiskState *)d;
}

/* Is there a medium the guest can use (inserted, tray closed)? */
static bool available(SCSIDiskState *s)
{
    return s->blk && blk_is_inserted(s->blk) && !s->tray_open;
}

/* The medium's size in 512-byte sectors (0: none). */
static uint64_t nb_sectors512(SCSIDiskState *s)
{
    if (!s->blk || !blk_is_inserted(s->blk)) {
        return 0;
    }
    int64_t len = blk_getlength(s->blk);
    return len > 0 ? (uint64_t)len >> 9 : 0;
}

static bool check_lba_range(SCSIDiskState *s, uint64_t lba, uint64_t n)
{
    return lba <= lba + n && lba + n <= s->qdev.max_lba + 1;
}

/* ---- INQUIRY -------------------------------------------------------------------------------- */

static int block_limits(SCSIDiskState *s, uint8_t *out)
{
    uint32_t bs = s->qdev.blocksize;
    uint32_t unmap = s->discard_granularity / bs, min_io = s->min_io_size / bs;
    uint32_t opt_io = s->opt_io_size / bs;
    uint32_t max_unmap = (uint32_t)(s->max_unmap_size / bs);
    uint32_t max_io = (uint32_t)(s->max_io_size / bs);
    /* the backend's own limit: QEMU's blk_get_max_transfer (INT_MAX for files) */
    uint32_t blk_max = (uint32_t)(DEFAULT_MAX_IO_SIZE / bs);
    if (blk_max && (!max_io || blk_max < max_io)) {
        max_io = blk_max;
    }
    memset(out, 0, 0x3c);
    out[0] = 1; /* WSNZ */
    if (max_io) {
        put16(out + 2, min_io < max_io ? min_io : max_io);
        put32(out + 4, max_io);
        put32(out + 8, opt_io < max_io ? opt_io : max_io);
    } else {
        put16(out + 2, min_io);
        put32(out + 8, opt_io);
    }
    put32(out + 16, max_unmap);
    put32(out + 20, 255); /* UNMAP descriptors in 4 KiB */
    put32(out + 24, unmap);
    put32(out + 36, max_io);
    return 0x3c;
}

static int inquiry_vpd(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    uint8_t page = req->cmd.buf[2];
    int n = 0;
    out[n++] = (uint8_t)(s->qdev.type & 0x1f);
    out[n++] = page;
    out[n++] = 0;
    out[n++] = 0;
    int start = n;
    switch (page) {
    case 0x00:
        out[n++] = 0x00;
        if (s->serial) {
            out[n++] = 0x80;
        }
        out[n++] = 0x83;
        if (s->qdev.type == SCSI_TYPE_DISK) {
            out[n++] = 0xb0;
            out[n++] = 0xb1;
            out[n++] = 0xb2;
        }
        break;
    case 0x80: {
        if (!s->serial) {
            return -1;
        }
        size_t l = strlen(s->serial);
        l = l > 36 ? 36 : l;
        memcpy(out + n, s->serial, l);
        n += (int)l;
        break;
    }
    case 0x83: {
        size_t id_len = s->device_id ? strlen(s->device_id) : 0;
        id_len = id_len > 255 - 8 ? 255 - 8 : id_len;
        if (id_len) {
            out[n++] = 0x2; /* ASCII */
            out[n++] = 0;
            out[n++] = 0;
            out[n++] = (uint8_t)id_len;
            memcpy(out + n, s->device_id, id_len);
            n += (int)id_len;
        }
        if (s->qdev.wwn) {
            out[n++] = 0x1; /* binary, NAA */
            out[n++] = 0x3;
            out[n++] = 0;
            out[n++] = 8;
            put64(out + n, s->qdev.wwn);
            n += 8;
        }
        if (s->qdev.port_wwn) {
            out[n++] = 0x61; /* SAS, binary; target port, NAA */
            out[n++] = 0x93;
            out[n++] = 0;
            out[n++] = 8;
            put64(out + n, s->qdev.port_wwn);
            n += 8;
        }
        if (s->port_index) {
            out[n++] = 0x61; /* relative target port */
            out[n++] = 0x94;
            out[n++] = 0;
            out[n++] = 4;
            put16(out + n + 2, s->port_index);
            n += 4;
        }
        break;
    }
    case 0xb0:
        if (s->qdev.type == SCSI_TYPE_ROM) {
            return -1;
        }
        n += block_limits(s, out + n);
        break;
    case 0xb1:
        n = 0x40;
        put16(out + 4, s->rotation_rate);
        break;
    case 0xb2:
        n = 8;
        out[5] = 0xe0; /* UNMAP, WRITE SAME 10/16 with UNMAP */
        out[6] = s->discard_granularity ? 2 : 1;
        break;
    default:
        return -1;
    }
    out[start - 1] = (uint8_t)(n - start);
    return n;
}

static int inquiry(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    if (req->cmd.buf[1] & 1) {
        return inquiry_vpd(s, req, out);
    }
    if (req->cmd.buf[2] != 0) {
        return -1;
    }
    int len = req->cmd.xfer > SCSI_MAX_INQUIRY_LEN ? SCSI_MAX_INQUIRY_LEN : (int)req->cmd.xfer;
    out[0] = (uint8_t)(s->qdev.type & 0x1f);
    out[1] = s->removable ? 0x80 : 0;
    pad_copy(out + 16, 16, s->product);
    pad_copy(out + 8, 8, s->vendor);
    memset(out + 32, 0, 4);
    size_t vl = strlen(s->version);
    memcpy(out + 32, s->version, vl < 4 ? vl : 4);
    out[2] = (uint8_t)s->qdev.default_scsi_version;
    out[3] = 2 | 0x10; /* response format 2, HiSup */
    out[4] = len > 36 ? (uint8_t)(len - 5) : 36 - 5;
    out[7] = 0x10 | (s->qdev.bus->info->tcq ? 0x02 : 0);
    return len;
}

/* ---- CD-ROM data ---------------------------------------------------------------------------- */

static bool media_is_dvd(SCSIDiskState *s)
{
    return s->qdev.type == SCSI_TYPE_ROM && available(s) && nb_sectors512(s) > CD_MAX_SECTORS;
}

static bool media_is_cd(SCSIDiskState *s)
{
    return s->qdev.type == SCSI_TYPE_ROM && available(s) && nb_sectors512(s) <= CD_MAX_SECTORS;
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    lba += 150;
    p[0] = (uint8_t)(lba / 75 / 60);
    p[1] = (uint8_t)((lba / 75) % 60);
    p[2] = (uint8_t)(lba % 75);
}

static int read_toc(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    bool msf = req->cmd.buf[1] & 2;
    int format = req->cmd.buf[2] & 0xf, start_track = req->cmd.buf[6];
    uint32_t nb = (uint32_t)(nb_sectors512(s) / (s->qdev.blocksize / 512));
    uint8_t *q = out + 2;
    switch (format) {
    case 0:
        if (start_track > 1 && start_track != 0xaa) {
            return -1;
        }
        *q++ = 1; /* first and last track */
        *q++ = 1;
        if (start_track <= 1) {
            *q++ = 0;
            *q++ = 0x14; /* data track */
            *q++ = 1;
            *q++ = 0;
            if (msf) {
                *q++ = 0;
                lba_to_msf(q, 0);
                q += 3;
            } else {
                put32(q, 0);
                q += 4;
            }
        }
        *q++ = 0; /* lead-out */
        *q++ = 0x16;
        *q++ = 0xaa;
        *q++ = 0;
        if (msf) {
            *q++ = 0;
            lba_to_msf(q, nb);
            q += 3;
        } else {
            put32(q, nb);
            q += 4;
        }
        break;
    case 1: /* one session */
        memset(out, 0, 12);
        out[1] = 0x0a;
        out[2] = 0x01;
        out[3] = 0x01;
        return 12;
    case 2: {
        *q++ = 1;
        *q++ = 1;
        static const uint8_t points[3] = {0xa0, 0xa1, 0xa2};
        for (int i = 0; i < 3; i++) {
            *q++ = 1;    /* session */
            *q++ = 0x14; /* data track */
            *q++ = 0;
            *q++ = points[i];
            *q++ = 0;
            *q++ = 0;
            *q++ = 0;
            if (i < 2) {
                *q++ = 0;
                *q++ = 1; /* first / last track */
                *q++ = 0;
                *q++ = 0;
            } else if (msf) {
                *q++ = 0;
                lba_to_msf(q, nb);
                q += 3;
            } else {
                put32(q, nb);
                q += 4;
            }
        }
        *q++ = 1;
        *q++ = 0x14;
        *q++ = 0;
        *q++ = 1; /* point: track 1 */
        *q++ = 0;
        *q++ = 0;
        *q++ = 0;
        if (msf) {
            *q++ = 0;
            lba_to_msf(q, 0);
            q += 3;
        } else {
            put32(q, 0);
            q += 4;
        }
        break;
    }
    default:
        return -1;
    }
    int len = (int)(q - out);
    put16(out, (uint32_t)len - 2);
    return len;
}

static int get_configuration(SCSIDiskState *s, uint8_t *out)
{
    if (s->qdev.type != SCSI_TYPE_ROM) {
        return -1;
    }
    uint32_t current = media_is_dvd(s)  ? MMC_PROFILE_DVD_ROM
                       : media_is_cd(s) ? MMC_PROFILE_CD_ROM
                                        : MMC_PROFILE_NONE;
    memset(out, 0, 40);
    put32(out, 36);
    put16(out + 6, current);
    out[10] = 0x03; /* profile list: persistent, current */
    out[11] = 8;
    put16(out + 12, MMC_PROFILE_DVD_ROM);
    out[14] = current == MMC_PROFILE_DVD_ROM;
    put16(out + 16, MMC_PROFILE_CD_ROM);
    out[18] = current == MMC_PROFILE_CD_ROM;
    put16(out + 20, 1); /* core feature */
    out[22] = 0x08 | 0x03;
    out[23] = 8;
    put32(out + 24, 1); /* SCSI */
    out[28] = 1;        /* DBE */
    put16(out + 32, 3); /* removable medium */
    out[34] = 0x08 | 0x03;
    out[35] = 4;
    out[36] = 0x39; /* tray, load, eject, lock */
    return 40;
}

static int event_status(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    const uint8_t *cdb = req->cmd.buf;
    if (s->qdev.type != SCSI_TYPE_ROM || !(cdb[1] & 1)) {
        return -1; /* asynchronous notification is not supported */
    }
    int size = 4;
    out[0] = out[1] = 0;
    out[3] = 1 << 4; /* media class supported */
    if (cdb[4] & (1 << 4)) {
        uint8_t status = 0, code = 0; /* no change */
        out[2] = 4;
        if (s->tray_open) {
            status = 1; /* tray open */
        } else if (s->blk && blk_is_inserted(s->blk)) {
            status = 2; /* media present */
        }
        if (status != 1) {
            if (s->media_event) {
                code = 2; /* new media */
                s->media_event = false;
            } else if (s->eject_request) {
                code = 1; /* eject requested */
                s->eject_request = false;
            }
        }
        out[4] = code;
        out[5] = status;
        out[6] = out[7] = 0;
        size += 4;
    } else {
        out[2] = 0x80; /* no event available */
    }
    put16(out, (uint32_t)size - 4);
    return size;
}

static int read_disc_information(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    if (s->qdev.type != SCSI_TYPE_ROM) {
        return -1;
    }
    if (req->cmd.buf[1] & 7) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
        return -2;
    }
    memset(out, 0, 34);
    out[1] = 32;
    out[2] = 0xe; /* last session complete, disc finalized */
    out[3] = 1;
    out[4] = 1;
    out[5] = 1;
    out[6] = 1;
    out[7] = 0x20; /* unrestricted use */
    return 34;
}

static int read_dvd_structure(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    static const int caps[5] = {[0] = 2048 + 4, [1] = 4 + 4, [3] = 188 + 4, [4] = 2048 + 4};
    uint8_t media = req->cmd.buf[1], layer = req->cmd.buf[6], format = req->cmd.buf[7];
    int size = -1;
    if (s->qdev.type != SCSI_TYPE_ROM) {
        return -1;
    }
    if (media != 0) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
        return -2;
    }
    if (format != 0xff) {
        if (!available(s)) {
            scsi_req_check_condition(req, SENSE_NO_MEDIUM);
            return -2;
        }
        if (media_is_cd(s)) {
            scsi_req_check_condition(req, SENSE_INCOMPATIBLE_FORMAT);
            return -2;
        }
        if (format >= 5) {
            return -1;
        }
        size = caps[format];
        memset(out, 0, (size_t)size);
    }
    switch (format) {
    case 0x00: {
        uint64_t nb = nb_sectors512(s);
        if (layer != 0) {
            return -1;
        }
        out[4] = 1;
        out[5] = 0xf;
        out[6] = 1;
        put32(out + 12, (uint32_t)((nb >> 2) - 1));
        put32(out + 16, (uint32_t)((nb >> 2) - 1));
        break;
    }
    case 0x01:
    case 0x04:
        break;
    case 0xff:
        size = 4;
        for (int i = 0; i < 5; i++) {
            if (!caps[i]) {
                continue;
            }
            out[size] = (uint8_t)i;
            out[size + 1] = 0x40;
            put16(out + size + 2, (uint32_t)caps[i]);
            size += 4;
        }
        break;
    default:
        return -1;
    }
    put16(out, (uint32_t)size - 2);
    return size;
}

/* ---- MODE SENSE / MODE SELECT -------------------------------------------------------------- */

static int mode_sense_page(SCSIDiskState *s, int page, uint8_t **pp, int pc)
{
    bool disk = s->qdev.type == SCSI_TYPE_DISK, rom = s->qdev.type == SCSI_TYPE_ROM;
    uint8_t *p = *pp + 2;
    int length;
    switch (page) {
    case MODE_PAGE_HD_GEOMETRY:
        if (!disk) {
            return -1;
        }
        length = 0x16;
        if (pc == 1) {
            break;
        }
        p[0] = (uint8_t)(s->cyls >> 16);
        p[1] = (uint8_t)(s->cyls >> 8);
        p[2] = (uint8_t)s->cyls;
        p[3] = (uint8_t)s->heads;
        p[4] = (uint8_t)(s->cyls >> 16);
        p[5] = (uint8_t)(s->cyls >> 8);
        p[6] = (uint8_t)s->cyls;
        p[7] = (uint8_t)(s->cyls >> 16);
        p[8] = (uint8_t)(s->cyls >> 8);
        p[9] = (uint8_t)s->cyls;
        p[10] = 0;
        p[11] = 200;
        p[12] = p[13] = p[14] = 0xff;
        put16(p + 18, 5400);
        break;
    case MODE_PAGE_FLEXIBLE_DISK_GEOMETRY:
        if (!disk) {
            return -1;
        }
        length = 0x1e;
        if (pc == 1) {
            break;
        }
        put16(p, 5000);
        p[2] = (uint8_t)s->heads;
        p[3] = (uint8_t)s->secs;
        p[4] = (uint8_t)(s->qdev.blocksize >> 8);
        p[6] = (uint8_t)(s->cyls >> 8);
        p[7] = (uint8_t)s->cyls;
        p[8] = (uint8_t)(s->cyls >> 8);
        p[9] = (uint8_t)s->cyls;
        p[10] = (uint8_t)(s->cyls >> 8);
        p[11] = (uint8_t)s->cyls;
        p[12] = 0;
        p[13] = 1;
        p[14] = 1;
        p[15] = 0;
        p[16] = 1;
        p[17] = 1;
        p[18] = 1;
        put16(p + 26, 5400);
        break;
    case MODE_PAGE_CACHING:
        if (!disk && !rom) {
            return -1;
        }
        length = 0x12;
        if (pc == 1 || (s->blk && blk_enable_write_cache(s->blk))) {
            p[0] = 4; /* WCE */
        }
        break;
    case MODE_PAGE_R_W_ERROR:
        if (!disk && !rom) {
            return -1;
        }
        length = 10;
        if (pc == 1) {
            if (rom) {
                p[0] = 0x80;
            }
            break;
        }
        p[0] = 0x80; /* automatic write reallocation */
        if (rom) {
            p[1] = 0x20; /* read retry count */
        }
        break;
    case MODE_PAGE_AUDIO_CTL:
        if (!rom) {
            return -1;
        }
        length = 14;
        break;
    case MODE_PAGE_CAPABILITIES:
        if (!rom) {
            return -1;
        }
        length = 0x14;
        if (pc == 1) {
            break;
        }
        p[0] = 0x3b; /* CD-R, CD-RW read */
        p[1] = 0;
        p[2] = 0x7f;
        p[3] = 0xff;
        p[4] = 0x2d | (s->tray_locked ? 2 : 0);
        p[5] = 0;
        put16(p + 6, 50 * 176);
        put16(p + 8, 2);
        put16(p + 10, 2048);
        put16(p + 12, 16 * 176);
        put16(p + 16, 16 * 176);
        put16(p + 18, 16 * 176);
        break;
    default:
        return -1;
    }
    (*pp)[0] = (uint8_t)page;
    (*pp)[1] = (uint8_t)length;
    *pp += length + 2;
    return length + 2;
}

static int mode_sense(SCSIDiskState *s, SCSIRequest *req, uint8_t *out)
{
    const uint8_t *cdb = req->cmd.buf;
    bool dbd = cdb[1] & 0x8, six = cdb[0] == MODE_SENSE;
    int page = cdb[2] & 0x3f, pc = (cdb[2] & 0xc0) >> 6;
    uint8_t dev_specific = 0;
    uint8_t *p = out;
    if (s->qdev.type == SCSI_TYPE_DISK) {
        dev_specific = s->dpofua ? 0x10 : 0;
        if (blk_is_read_only(s->blk)) {
            dev_specific |= 0x80;
        }
    } else if (!s->quirk_rom_use_dbd) {
        dbd = true; /* MMC: no block descriptors */
    }
    if (six) {
        p[1] = 0;
        p[2] = dev_specific;
        p[3] = 0;
        p += 4;
    } else {
        p[2] = 0;
        p[3] = dev_specific;
        p[6] = p[7] = 0;
        p += 8;
    }
    uint64_t nb = nb_sectors512(s);
    if (!dbd && nb) {
        out[six ? 3 : 7] = 8;
        nb /= s->qdev.blocksize / 512;
        if (nb > 0xffffff) {
            nb = 0;
        }
        p[0] = 0;
        p[1] = (uint8_t)(nb >> 16);
        p[2] = (uint8_t)(nb >> 8);
        p[3] = (uint8_t)nb;
        p[4] = 0;
        p[5] = 0;
        p[6] = (uint8_t)(s->qdev.blocksize >> 8);
        p[7] = 0;
        p += 8;
    }
    if (pc == 3) {
        scsi_req_check_condition(req, SENSE_SAVING_PARAMS_NOT_SUPPORTED);
        return -2;
    }
    if (page == MODE_PAGE_ALLS) {
        for (page = 0; page <= 0x3e; page++) {
            mode_sense_page(s, page, &p, pc);
        }
    } else if (mode_sense_page(s, page, &p, pc) < 0) {
        return -1;
    }
    int len = (int)(p - out);
    if (six) {
        out[0] = (uint8_t)(len - 1);
    } else {
        put16(out, (uint32_t)len - 2);
    }
    return len;
}

/* MODE SELECT: only what MODE SENSE says is changeable may differ (the caching page's WCE). */
static int check_mode_select(SCSIDiskState *s, int page, const uint8_t *in, int inlen)
{
    uint8_t cur[SCSI_MAX_MODE_LEN], chg[SCSI_MAX_MODE_LEN];
    int expected = inlen + 2;
    if (expected > SCSI_MAX_MODE_LEN || page == MODE_PAGE_ALLS) {
        return -1;
    }
    memset(cur, 0, sizeof(cur));
    memset(chg, 0, sizeof(chg));
    uint8_t *p = cur;
    int len = mode_sense_page(s, page, &p, 0);
    if (len < 0 || len != expected) {
        return -1;
    }
    p = chg;
    mode_sense_page(s, page, &p, 1);
    for (int i = 2; i < len; i++) {
        if (((cur[i] ^ in[i - 2]) & ~chg[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int mode_select_pages(SCSIDiskState *s, SCSIRequest *req, const uint8_t *p, int len,
                             bool change)
{
    while (len > 0) {
        int page = p[0] & 0x3f, subpage, page_len;
        if (p[0] & 0x40) {
            if (len < 4) {
                goto bad_len;
            }
            subpage = p[1];
            page_len = (int)get16(p + 2);
            p += 4;
            len -= 4;
        } else {
            if (len < 2) {
                goto bad_len;
            }
            subpage = 0;
            page_len = p[1];
            p += 2;
            len -= 2;
        }
        if (subpage) {
            goto bad;
        }
        if (page_len > len) {
            if (!s->quirk_truncated) {
                goto bad_len;
            }
            page_len = len;
        }
        if (!change) {
            if (check_mode_select(s, page, p, page_len) < 0) {
                goto bad;
            }
        } else if (page == MODE_PAGE_CACHING) {
            blk_set_enable_write_cache(s->blk, (p[0] & 4) != 0);
        }
        p += page_len;
        len -= page_len;
    }
    return 0;
bad:
    scsi_req_check_condition(req, SENSE_INVALID_PARAM);
    return -1;
bad_len:
    scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
    return -1;
}

static void start(SCSIRequest *req);

static void mode_select(SCSIDiskState *s, SCSIRequest *req, uint8_t *in, size_t inlen)
{
    bool six = req->cmd.buf[0] == MODE_SELECT;
    int len = (int)inlen, hdr = six ? 4 : 8;
    uint8_t *p = in;
    if ((req->cmd.buf[1] & 0x11) != 0x10 && !s->quirk_vendor_specific_apple) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD); /* PF=1, SP=0 only */
        return;
    }
    if (len < hdr) {
        scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
        return;
    }
    int bd_len = six ? p[3] : (int)get16(p + 6);
    len -= hdr;
    p += hdr;
    if (len < bd_len) {
        scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
        return;
    }
    if (bd_len != 0 && bd_len != 8) {
        scsi_req_check_condition(req, SENSE_INVALID_PARAM);
        return;
    }
    if (bd_len) {
        uint32_t bs = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
        if (bs && !(bs & ~0xfe00u) && bs != s->qdev.blocksize) {
            s->qdev.blocksize = bs;
        }
    }
    len -= bd_len;
    p += bd_len;
    /* nothing changes when anything is wrong */
    if (mode_select_pages(s, req, p, len, false) < 0) {
        return;
    }
    mode_select_pages(s, req, p, len, true);
    if (!blk_enable_write_cache(s->blk)) {
        start(req); /* a flush */
        return;
    }
    scsi_req_complete(req, SCSI_GOOD);
}

/* ---- data commands ------------------------------------------------------------------------- */

static void submit(SCSIRequest *req);

/* werror/rerror=stop: the VM stopped; retry once it runs (virtual time stands still meanwhile) */
static void restart_stopped(void *opaque)
{
    SCSIDiskState *s = opaque;
    SCSIRequest *r = s->stopped;
    s->stopped = NULL;
    while (r) {
        SCSIRequest *next = r->dev_private;
        r->dev_private = NULL;
        s->qdev.inflight++;
        submit(r);
        r = next;
    }
}

static bool is_read_op(uint8_t op)
{
    return op == READ_6 || op == READ_10 || op == READ_12 || op == READ_16;
}

static void request_done(void *opaque, int ret)
{
    SCSIRequest *req = opaque;
    SCSIDiskState *s = DISK(req->dev);
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    s->qdev.inflight--;
    uint8_t op = req->cmd.buf[0];
    bool act = false, is_read = is_read_op(op);
    BlockErrorAction action = BLOCK_ERROR_ACTION_REPORT;
    BlockBackend *blk = s->blk;
    if (ret < 0) {
        /* QEMU: medium gone, a bad field or no space are reported to the guest at once */
        action = blk_get_error_action(blk, is_read, -ret);
        act = true;
        if (action == BLOCK_ERROR_ACTION_STOP) {
            req->dev_private = s->stopped;
            s->stopped = req;
            vtimer_mod(&s->restart, vclock_ns() + 1);
        } else if (action == BLOCK_ERROR_ACTION_IGNORE) {
            scsi_req_complete(req, SCSI_GOOD);
        } else {
            SCSISense sense;
            int status = scsi_sense_from_errno(-ret, &sense);
            if (status == SCSI_CHECK_CONDITION) {
                scsi_req_check_condition(req, sense);
            } else {
                scsi_req_complete(req, status);
            }
        }
    } else if (req->left) {
        /* UNMAP descriptors or WRITE SAME chunks still to go */
        s->qdev.inflight++;
        submit(req);
    } else {
        if (req->sub) {
            req->transferred = req->cmd.xfer;
        }
        scsi_req_complete(req, SCSI_GOOD);
    }
    if (take) {
        vireo_unlock();
    }
    if (act) {
        blk_error_action(blk, action, is_read, -ret);
    }
}

static uint32_t data_blocks(const uint8_t *cdb)
{
    /* READ(6)/WRITE(6): 0 blocks means 256 */
    return (cdb[0] >> 5) == 0 && cdb[4] == 0 ? 256 : (uint32_t)scsi_cdb_xfer(cdb);
}

/* Submit (or resubmit after a stop) the block request of req. */
static void submit(SCSIRequest *req)
{
    SCSIDiskState *s = DISK(req->dev);
    uint8_t op = req->cmd.buf[0];
    uint32_t bs = s->qdev.blocksize;
    switch (op) {
    case SYNCHRONIZE_CACHE:
    case SYNCHRONIZE_CACHE_16:
    case MODE_SELECT:
    case MODE_SELECT_10:
        blk_aio_flush(s->blk, request_done, req);
        return;
    case UNMAP: {
        /* one descriptor at a time, as QEMU */
        const uint8_t *d = req->buf + req->pos;
        uint64_t lba = get64(d);
        uint32_t n = get32(d + 8);
        req->pos += 16;
        req->left--;
        if (!check_lba_range(s, lba, n)) {
            s->qdev.inflight--;
            blk_account_invalid(s->blk, BLOCK_ACCT_UNMAP);
            req->left = 0;
            scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
            return;
        }
        blk_aio_pdiscard(s->blk, lba * bs, (uint64_t)n * bs, request_done, req);
        return;
    }
    case WRITE_SAME_10:
    case WRITE_SAME_16:
        if (req->buf_len == 0) {
            /* zeroes (or NDOB) */
            blk_aio_pwrite_zeroes(s->blk, req->cmd.lba * bs, req->left * bs,
                                  (req->cmd.buf[1] & 0x8) ? BDRV_REQ_MAY_UNMAP : 0, request_done,
                                  req);
            req->left = 0;
        } else {
            /* the block repeated, up to 512 KiB at a time */
            uint64_t per = req->buf_len / bs, n = req->left < per ? req->left : per;
            struct iovec iov = {.iov_base = req->buf, .iov_len = (size_t)(n * bs)};
            uint64_t off = (req->cmd.lba + req->pos) * bs;
            req->pos += n;
            req->left -= n;
            blk_aio_pwritev(s->blk, off, &iov, 1, 0, request_done, req);
        }
        return;
    default:
        break;
    }
    uint64_t off = req->cmd.lba * bs;
    if (is_read_op(op)) {
        blk_aio_preadv(s->blk, off, req->sub, (int)req->nsub, 0, request_done, req);
    } else {
        int flags = (req->cmd.len > 6 && (req->cmd.buf[1] & 0x8)) ? BDRV_REQ_FUA : 0;
        blk_aio_pwritev(s->blk, off, req->sub, (int)req->nsub, flags, request_done, req);
    }
}

static void start(SCSIRequest *req)
{
    req->dev->inflight++;
    submit(req);
}

static void dma_command(SCSIDiskState *s, SCSIRequest *req)
{
    const uint8_t *cdb = req->cmd.buf;
    uint8_t op = cdb[0];
    if (!available(s)) {
        scsi_req_check_condition(req, SENSE_NO_MEDIUM);
        return;
    }
    uint32_t n = data_blocks(cdb);
    bool write = !is_read_op(op);
    if (write && blk_is_read_only(s->blk)) {
        scsi_req_check_condition(req, SENSE_WRITE_PROTECTED);
        return;
    }
    if (s->qdev.scsi_version > 2 && (cdb[1] & 0xe0)) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD); /* no protection information */
        return;
    }
    if (!check_lba_range(s, req->cmd.lba, n)) {
        blk_account_invalid(s->blk, write ? BLOCK_ACCT_WRITE : BLOCK_ACCT_READ);
        scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
        return;
    }
    if (n == 0) {
        scsi_req_complete(req, SCSI_GOOD);
        return;
    }
    scsi_req_sub_iov(req, req->cmd.xfer);
    start(req);
}

static void unmap(SCSIDiskState *s, SCSIRequest *req, uint8_t *p, size_t len)
{
    if (req->cmd.buf[1] & 1) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD); /* anchor */
        return;
    }
    if (len < 8) {
        scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
        return;
    }
    if (len < get16(p) + 2u || len < get16(p + 2) + 8u) {
        scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
        return;
    }
    uint32_t bd = get16(p + 2);
    if (bd & 15) {
        scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
        return;
    }
    if (blk_is_read_only(s->blk)) {
        scsi_req_check_condition(req, SENSE_WRITE_PROTECTED);
        return;
    }
    if (!bd) {
        scsi_req_complete(req, SCSI_GOOD);
        return;
    }
    req->buf = g_memdup2(p, len);
    req->buf_len = len;
    req->pos = 8;
    req->left = bd / 16;
    start(req);
}

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static void write_same(SCSIDiskState *s, SCSIRequest *req, const uint8_t *in, size_t inlen)
{
    const uint8_t *cdb = req->cmd.buf;
    uint32_t bs = s->qdev.blocksize;
    uint64_t n = cdb[0] == WRITE_SAME_10 ? get16(cdb + 7) : get32(cdb + 10);
    if (n == 0 || (cdb[1] & 0x16)) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
        return;
    }
    if (blk_is_read_only(s->blk)) {
        scsi_req_check_condition(req, SENSE_WRITE_PROTECTED);
        return;
    }
    if (!check_lba_range(s, req->cmd.lba, n)) {
        blk_account_invalid(s->blk, BLOCK_ACCT_WRITE);
        scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
        return;
    }
    req->left = n;
    req->pos = 0;
    if ((cdb[1] & 1) || (inlen >= bs && is_zero(in, bs))) {
        req->buf_len = 0;
    } else {
        if (inlen < bs) {
            scsi_req_check_condition(req, SENSE_INVALID_PARAM_LEN);
            return;
        }
        uint64_t chunk = (uint64_t)SCSI_WRITE_SAME_MAX / bs;
        if (chunk > n) {
            chunk = n;
        }
        req->buf_len = (size_t)(chunk * bs);
        req->buf = g_malloc(req->buf_len);
        for (uint64_t i = 0; i < chunk; i++) {
            memcpy(req->buf + i * bs, in, bs);
        }
    }
    start(req);
}

/* START STOP UNIT: load or eject (a locked tray refuses) */
static void tray_moved(SCSIDiskState *s, bool open)
{
    QJ *d = qj_object();
    qj_set_str(d, "device", blk_name(s->blk));
    const char *id = blk_get_attached_dev_id(s->blk);
    char *path = NULL;
    if (!id) {
        path = device_qom_path(&s->qdev.dev);
    }
    qj_set_str(d, "id", id ? id : path);
    g_free(path);
    qj_set_bool(d, "tray-open", open);
    machine_post_event("DEVICE_TRAY_MOVED", d);
}

static int start_stop(SCSIDiskState *s, SCSIRequest *req)
{
    const uint8_t *cdb = req->cmd.buf;
    bool st = cdb[4] & 1, loej = cdb[4] & 2;
    if (cdb[4] & 0xf0) {
        return 0; /* power conditions: no load or eject */
    }
    if (s->removable && loej) {
        if (!st && !s->tray_open && s->tray_locked) {
            scsi_req_check_condition(req, blk_is_inserted(s->blk)
                                              ? SENSE_ILLEGAL_REQ_REMOVAL_PREVENTED
                                              : SENSE_NOT_READY_REMOVAL_PREVENTED);
            return -1;
        }
        if (s->tray_open != !st) {
            s->tray_open = !st;
            tray_moved(s, !st);
        }
    }
    return 0;
}

/* ---- the command dispatcher ------------------------------------------------------------------ */

static void emulate(SCSIDiskState *s, SCSIRequest *req)
{
    const uint8_t *cdb = req->cmd.buf;
    uint8_t op = cdb[0];
    switch (op) {
    case INQUIRY:
    case MODE_SENSE:
    case MODE_SENSE_10:
    case RESERVE:
    case RESERVE_10:
    case RELEASE:
    case RELEASE_10:
    case START_STOP:
    case ALLOW_MEDIUM_REMOVAL:
    case GET_CONFIGURATION:
    case GET_EVENT_STATUS_NOTIFICATION:
    case MECHANISM_STATUS:
    case REQUEST_SENSE:
        break;
    default:
        if (!available(s)) {
            scsi_req_check_condition(req, SENSE_NO_MEDIUM);
            return;
        }
        break;
    }
    if (req->cmd.xfer > 65536) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
        return;
    }
    size_t buflen = req->cmd.xfer > 4096 ? (size_t)req->cmd.xfer : 4096;
    uint8_t *out = g_malloc0(buflen);
    int len = 0;
    bool data_out = req->cmd.mode == SCSI_XFER_TO_DEV;
    switch (op) {
    case TEST_UNIT_READY:
        break;
    case INQUIRY:
        len = inquiry(s, req, out);
        break;
    case MODE_SENSE:
    case MODE_SENSE_10:
        len = mode_sense(s, req, out);
        break;
    case READ_TOC:
        len = read_toc(s, req, out);
        break;
    case RESERVE:
    case RELEASE:
        len = (cdb[1] & 1) ? -1 : 0;
        break;
    case RESERVE_10:
    case RELEASE_10:
        len = (cdb[1] & 3) ? -1 : 0;
        break;
    case START_STOP:
        len = start_stop(s, req) < 0 ? -2 : 0;
        break;
    case ALLOW_MEDIUM_REMOVAL:
        s->tray_locked = cdb[4] & 1;
        break;
    case READ_CAPACITY_10:
    case SERVICE_ACTION_IN_16: {
        bool rc16 = op == SERVICE_ACTION_IN_16;
        if (rc16 && (cdb[1] & 31) != SAI_READ_CAPACITY_16) {
            len = -1;
            break;
        }
        uint64_t nb = nb_sectors512(s);
        if (!nb) {
            scsi_req_check_condition(req, SENSE_LUN_NOT_READY);
            len = -2;
            break;
        }
        if ((cdb[rc16 ? 14 : 8] & 1) == 0 && req->cmd.lba) {
            len = -1; /* PMI=0 with an LBA */
            break;
        }
        nb /= s->qdev.blocksize / 512;
        nb--;
        s->qdev.max_lba = nb;
        if (!rc16) {
            put32(out, nb > UINT32_MAX ? UINT32_MAX : (uint32_t)nb);
            put32(out + 4, s->qdev.blocksize & 0xff00);
        } else {
            put64(out, nb);
            put32(out + 8, s->qdev.blocksize & 0xff00);
            uint32_t pbs = s->physical_block_size, exp = 0;
            while (pbs > s->logical_block_size && (pbs >>= 1)) {
                exp++;
            }
            out[13] = (uint8_t)exp;
            if (s->discard_granularity) {
                out[14] = 0x80; /* thin provisioning enabled */
            }
        }
        len = (int)req->cmd.xfer;
        break;
    }
    case REQUEST_SENSE: {
        /* nothing pending: NO SENSE, fixed or descriptor format */
        if (cdb[1] & 1) {
            out[0] = 0x72;
            len = 8;
        } else {
            len = (int)scsi_build_sense(out, SENSE_NO_SENSE);
        }
        break;
    }
    case MECHANISM_STATUS:
        if (s->qdev.type != SCSI_TYPE_ROM) {
            len = -1;
        } else {
            memset(out, 0, 8);
            out[5] = 1;
            len = 8;
        }
        break;
    case GET_CONFIGURATION:
        len = get_configuration(s, out);
        break;
    case GET_EVENT_STATUS_NOTIFICATION:
        len = event_status(s, req, out);
        break;
    case READ_DISC_INFORMATION:
        len = read_disc_information(s, req, out);
        break;
    case READ_DVD_STRUCTURE:
        len = read_dvd_structure(s, req, out);
        break;
    case SYNCHRONIZE_CACHE:
    case SYNCHRONIZE_CACHE_16:
        g_free(out);
        start(req);
        return;
    case SEEK_10:
        if (req->cmd.lba > s->qdev.max_lba) {
            scsi_req_check_condition(req, SENSE_LBA_OUT_OF_RANGE);
            len = -2;
        }
        break;
    case MODE_SELECT:
    case MODE_SELECT_10:
    case UNMAP:
    case WRITE_SAME_10:
    case WRITE_SAME_16:
    case FORMAT_UNIT:
        break;
    case VERIFY_10:
    case VERIFY_12:
    case VERIFY_16:
        if (cdb[1] & 6) {
            len = -1; /* BYTCHK */
        }
        break;
    default:
        scsi_req_check_condition(req, SENSE_INVALID_OPCODE);
        g_free(out);
        return;
    }
    if (len == -1) {
        scsi_req_check_condition(req, SENSE_INVALID_FIELD);
    }
    if (len < 0) {
        g_free(out);
        return;
    }
    if (data_out && req->cmd.xfer) {
        /* the parameter list, then the command */
        size_t n = scsi_req_data_out(req, out, (size_t)req->cmd.xfer);
        switch (op) {
        case MODE_SELECT:
        case MODE_SELECT_10:
            mode_select(s, req, out, n);
            break;
        case UNMAP:
            unmap(s, req, out, n);
            break;
        case WRITE_SAME_10:
        case WRITE_SAME_16:
            write_same(s, req, out, n);
            break;
        default:
            scsi_req_complete(req, SCSI_GOOD);
            break;
        }
        g_free(out);
        return;
    }
    if ((op == WRITE_SAME_10 || op == WRITE_SAME_16) && (cdb[1] & 1)) {
        write_same(s, req, NULL, 0); /* NDOB: zeroes, no data */
        g_free(out);
        return;
    }
    /* emulated data-in: the whole allocation length, zeroes after the data */
    scsi_req_data_in(req, out, (size_t)req->cmd.xfer);
    g_free(out);
    scsi_req_complete(req, SCSI_GOOD);
}

static void disk_send_command(SCSIRequest *req)
{
    SCSIDiskState *s = DISK(req->dev);
    switch (req->cmd.buf[0]) {
    case READ_6:
    case READ_10:
    case READ_12:
    case READ_16:
    case WRITE_6:
    case WRITE_10:
    case WRITE_12:
    case WRITE_16:
    case WRITE_VERIFY_10:
    case WRITE_VERIFY_12:
    case WRITE_VERIFY_16:
        dma_command(s, req);
        return;
    default:
        emulate(s, req);
        return;
    }
}

/* ---- reset, media, unit attentions ---------------------------------------------------------- */

static void disk_drain(SCSIDevice *d)
{
    SCSIDiskState *s = DISK(d);
    if (s->blk) {
        blk_drain(s->blk);
    }
}

static void disk_reset_state(SCSIDiskState *s)
{
    uint64_t nb = nb_sectors512(s) / (s->qdev.blocksize / 512);
    s->qdev.max_lba = nb ? nb - 1 : 0;
    s->tray_locked = false;
    s->tray_open = false;
    s->qdev.scsi_version = s->qdev.default_scsi_version;
}

static void drop_stopped(SCSIDiskState *s)
{
    vtimer_del(&s->restart);
    while (s->stopped) {
        SCSIRequest *r = s->stopped;
        s->stopped = r->dev_private;
        r->dev_private = NULL;
        scsi_req_check_condition(r, SENSE_RESET);
    }
}

static void disk_lun_reset(SCSIDevice *d)
{
    SCSIDiskState *s = DISK(d);
    disk_drain(d);
    drop_stopped(s);
    disk_reset_state(s);
    scsi_device_set_ua(d, SENSE_RESET);
}

static void disk_unit_attention_reported(SCSIDevice *d)
{
    SCSIDiskState *s = DISK(d);
    if (s->media_changed) {
        s->media_changed = false;
        scsi_device_set_ua(d, SENSE_MEDIUM_CHANGED);
    }
}

static const SCSIDeviceOps disk_ops = {
    .send_command = disk_send_command,
    .unit_attention_reported = disk_unit_attention_reported,
    .drain = disk_drain,
    .reset = disk_lun_reset,
};

static void with_lock(void (*fn)(SCSIDiskState *, bool), SCSIDiskState *s, bool arg)
{
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    fn(s, arg);
    if (take) {
        vireo_unlock();
    }
}

static void change_media(SCSIDiskState *s, bool load)
{
    /* the guest sees the medium go (and the tray open), then the new one */
    s->media_changed = load;
    s->tray_open = !load;
    scsi_device_set_ua(&s->qdev, SENSE_UNIT_ATTENTION_NO_MEDIUM);
    s->media_event = true;
    s->eject_request = false;
}

static void cd_change_media_cb(void *opaque, bool load)
{
    with_lock(change_media, opaque, load);
}

static void eject_request(SCSIDiskState *s, bool force)
{
    s->eject_request = true;
    if (force) {
        s->tray_locked = false;
    }
}

static void cd_eject_request_cb(void *opaque, bool force)
{
    with_lock(eject_request, opaque, force);
}

static bool cd_is_tray_open(void *opaque)
{
    return ((SCSIDiskState *)opaque)->tray_open;
}

static bool cd_is_medium_locked(void *opaque)
{
    return ((SCSIDiskState *)opaque)->tray_locked;
}

static void resize(SCSIDiskState *s, bool unused)
{
    (void)unused;
    if (s->qdev.type == SCSI_TYPE_DISK) {
        scsi_device_report_change(&s->qdev, SENSE_CAPACITY_CHANGED);
    }
}

static void disk_resize_cb(void *opaque)
{
    with_lock(resize, opaque, false);
}

static const BlockDevOps removable_ops = {
    .change_media_cb = cd_change_media_cb,
    .eject_request_cb = cd_eject_request_cb,
    .resize_cb = disk_resize_cb,
    .is_tray_open = cd_is_tray_open,
    .is_medium_locked = cd_is_medium_locked,
};

static const BlockDevOps fixed_ops = {
    .resize_cb = disk_resize_cb,
};

/* ---- realize ----------------------------------------------------------------------------------
 */

static bool disk_realize_common(SCSIDiskState *s, char **errp)
{
    Device *dev = &s->qdev.dev;
    if (!s->blk) {
        *errp = g_strdup("drive property not set");
        return false;
    }
    if (!s->removable && !blk_is_inserted(s->blk)) {
        *errp = g_strdup("Device needs media, but drive is empty");
        return false;
    }
    if (s->qdev.type == SCSI_TYPE_DISK) {
        if (blk_is_inserted(s->blk) && !s->cyls && !s->heads && !s->secs) {
            blk_guess_geometry(s->blk, &s->cyls, &s->heads, &s->secs);
        }
        if (s->cyls > 65535 || (blk_is_inserted(s->blk) && s->cyls < 1)) {
            *errp = g_strdup("cyls must be between 1 and 65535");
            return false;
        }
        if (s->heads > 255 || (blk_is_inserted(s->blk) && s->heads < 1)) {
            *errp = g_strdup("heads must be between 1 and 255");
            return false;
        }
        if (s->secs > 255 || (blk_is_inserted(s->blk) && s->secs < 1)) {
            *errp = g_strdup("secs must be between 1 and 255");
            return false;
        }
    }
    bool read_only = s->qdev.type == SCSI_TYPE_ROM || blk_is_read_only(s->blk);
    BlockdevOnError rerror = s->rerror, werror = s->werror;
    if (rerror == BLOCKDEV_ON_ERROR_AUTO) {
        rerror = blk_get_on_error(s->blk, true);
    }
    if (werror == BLOCKDEV_ON_ERROR_AUTO) {
        werror = blk_get_on_error(s->blk, false);
    }
    blk_set_on_error(s->blk, rerror, werror);
    if (blk_is_inserted(s->blk) && blk_set_dev_perm(s->blk, read_only, s->share_rw, errp) < 0) {
        return false;
    }
    if (s->write_cache != ON_OFF_AUTO_AUTO) {
        blk_set_enable_write_cache(s->blk, s->write_cache == ON_OFF_AUTO_ON);
    }
    if (s->discard_granularity == 0xffffffffu) {
        s->discard_granularity = s->logical_block_size > DEFAULT_DISCARD_GRANULARITY
                                     ? s->logical_block_size
                                     : DEFAULT_DISCARD_GRANULARITY;
    }
    if (!s->version) {
        s->version = g_strdup(QEMU_HW_VERSION);
    }
    if (!s->vendor) {
        s->vendor = g_strdup("QEMU");
    }
    if (!s->device_id) {
        if (s->serial) {
            s->device_id = g_strdup_printf("%.20s", s->serial);
        } else if (blk_name(s->blk)[0]) {
            s->device_id = g_strdup(blk_name(s->blk));
        }
    }
    blk_iostatus_enable(s->blk);
    (void)dev;
    return true;
}

static bool check_block_sizes(SCSIDiskState *s, char **errp)
{
    if (!s->physical_block_size) {
        s->physical_block_size = 512;
    }
    if (!s->logical_block_size) {
        s->logical_block_size = 512;
    }
    if (s->logical_block_size > s->physical_block_size) {
        *errp = g_strdup("logical_block_size > physical_block_size not supported");
        return false;
    }
    if (s->min_io_size % s->logical_block_size) {
        *errp = g_strdup("min_io_size must be a multiple of logical_block_size");
        return false;
    }
    if (s->opt_io_size % s->logical_block_size) {
        *errp = g_strdup("opt_io_size must be a multiple of logical_block_size");
        return false;
    }
    if (s->discard_granularity != 0xffffffffu && s->discard_granularity &&
        s->discard_granularity % s->logical_block_size) {
        *errp = g_strdup("discard_granularity must be a multiple of logical_block_size");
        return false;
    }
    return true;
}

static bool disk_realize(Device *dev, char **errp)
{
    SCSIDiskState *s = (SCSIDiskState *)dev;
    s->qdev.ops = &disk_ops;
    s->is_cd = !strcmp(dev->info->name, "scsi-cd");
    if (!scsi_device_plug(&s->qdev, errp)) {
        return false;
    }
    if (s->drive && s->drive[0]) {
        const char *prop = s->is_cd ? "scsi-cd.drive" : "scsi-hd.drive";
        s->blk = blk_for_device(s->drive, prop, errp);
        if (!s->blk) {
            goto fail;
        }
    } else if (s->is_cd) {
        /* an empty drive of its own */
        s->blk = blk_new(NULL, NULL, errp);
        if (!s->blk) {
            goto fail;
        }
        s->own_blk = true;
    }
    if (s->blk) {
        /* QEMU's query-block names the device by its id, else by its QOM path */
        char *path = dev->id ? g_strdup(dev->id) : device_qom_path(dev);
        int r =
            blk_attach_dev(s->blk, path, dev->id, s->is_cd ? &removable_ops : &fixed_ops, s, errp);
        g_free(path);
        if (r < 0) {
            if (s->own_blk) {
                blk_delete(s->blk);
                s->own_blk = false;
            }
            s->blk = NULL;
            goto fail;
        }
        s->attached = true;
    }
    /* QEMU's scsi-cd: 2048-byte blocks unless physical_block_size says otherwise */
    uint32_t cd_blocksize = s->physical_block_size ? s->physical_block_size : 2048;
    if (!check_block_sizes(s, errp)) {
        goto fail;
    }
    if (s->is_cd) {
        s->qdev.blocksize = cd_blocksize;
        s->qdev.type = SCSI_TYPE_ROM;
        s->removable = true;
        if (!s->product) {
            s->product = g_strdup("QEMU CD-ROM");
        }
    } else {
        s->qdev.blocksize = s->logical_block_size;
        s->qdev.type = SCSI_TYPE_DISK;
        if (!s->product) {
            s->product = g_strdup("QEMU HARDDISK");
        }
    }
    if (!disk_realize_common(s, errp)) {
        goto fail;
    }
    vtimer_init(&s->restart, restart_stopped, s);
    return true;
fail:
    if (s->attached) {
        blk_detach_dev(s->blk);
        s->attached = false;
    }
    if (s->own_blk) {
        blk_delete(s->blk);
        s->own_blk = false;
    }
    s->blk = NULL;
    scsi_device_unplug(&s->qdev);
    return false;
}

static void disk_unrealize(Device *dev)
{
    SCSIDiskState *s = (SCSIDiskState *)dev;
    if (s->blk) {
        blk_drain(s->blk);
    }
    vtimer_del(&s->restart);
    while (s->stopped) {
        SCSIRequest *r = s->stopped;
        s->stopped = r->dev_private;
        r->dev_private = NULL;
        scsi_req_check_condition(r, SENSE_RESET);
    }
    if (s->attached) {
        blk_detach_dev(s->blk);
        s->attached = false;
    }
    if (s->own_blk) {
        blk_delete(s->blk);
        s->own_blk = false;
    }
    s->blk = NULL;
    scsi_device_unplug(&s->qdev);
}

static void disk_reset(Device *dev)
{
    SCSIDiskState *s = (SCSIDiskState *)dev;
    disk_drain(&s->qdev);
    drop_stopped(s);
    disk_reset_state(s);
    scsi_device_set_ua(&s->qdev, SENSE_RESET);
}

/* ---- the device types --------------------------------------------------------------------------
 */

#define DISK_PROPS_A                                                                               \
    DEFINE_PROP_("account-failed", PROP_ONOFFAUTO, SCSIDiskState, account_failed, true,            \
                 .def.i = ON_OFF_AUTO_AUTO),                                                       \
        DEFINE_PROP_("account-invalid", PROP_ONOFFAUTO, SCSIDiskState, account_invalid, true,      \
                     .def.i = ON_OFF_AUTO_AUTO),                                                   \
        DEFINE_PROP_("backend_defaults", PROP_ONOFFAUTO, SCSIDiskState, backend_defaults, true,    \
                     .def.i = ON_OFF_AUTO_AUTO),                                                   \
        DEFINE_PROP_("bootindex", PROP_INT32, SCSIDiskState, bootindex, false, .def.i = -1),       \
        DEFINE_PROP_UINT32("channel", SCSIDiskState, qdev.channel, 0)

#define DISK_PROPS_BLOCK                                                                           \
    DEFINE_PROP_("discard_granularity", PROP_SIZE32, SCSIDiskState, discard_granularity, true,     \
                 .def.u = 0xffffffffu),                                                            \
        DEFINE_PROP_DRIVE("drive", SCSIDiskState, drive)

static const Property scsi_hd_props[] = {
    DISK_PROPS_A,
    DEFINE_PROP_UINT32("cyls", SCSIDiskState, cyls, 0),
    DEFINE_PROP_STRING("device_id", SCSIDiskState, device_id),
    DISK_PROPS_BLOCK,
    DEFINE_PROP_BIT("dpofua", SCSIDiskState, dpofua, false),
    DEFINE_PROP_UINT32("heads", SCSIDiskState, heads, 0),
    DEFINE_PROP_UINT32("lcyls", SCSIDiskState, lcyls, 0),
    DEFINE_PROP_UINT32("lheads", SCSIDiskState, lheads, 0),
    DEFINE_PROP_(("logical_block_size"), PROP_BLOCKSIZE, SCSIDiskState, logical_block_size, true,
                 .def.u = 0),
    DEFINE_PROP_UINT32("lsecs", SCSIDiskState, lsecs, 0),
    DEFINE_PROP_UINT32("lun", SCSIDiskState, qdev.lun, 0xffffffffu),
    DEFINE_PROP_UINT64("max_io_size", SCSIDiskState, max_io_size, DEFAULT_MAX_IO_SIZE),
    DEFINE_PROP_UINT64("max_unmap_size", SCSIDiskState, max_unmap_size, DEFAULT_MAX_UNMAP_SIZE),
    DEFINE_PROP_(("min_io_size"), PROP_SIZE32, SCSIDiskState, min_io_size, true, .def.u = 0),
    DEFINE_PROP_(("opt_io_size"), PROP_SIZE32, SCSIDiskState, opt_io_size, true, .def.u = 0),
    DEFINE_PROP_(("physical_block_size"), PROP_BLOCKSIZE, SCSIDiskState, physical_block_size, true,
                 .def.u = 0),
    DEFINE_PROP_UINT16("port_index", SCSIDiskState, port_index, 0),
    DEFINE_PROP_UINT64("port_wwn", SCSIDiskState, qdev.port_wwn, 0),
    DEFINE_PROP_STRING("product", SCSIDiskState, product),
    DEFINE_PROP_BIT("quirk_mode_page_vendor_specific_apple", SCSIDiskState,
                    quirk_vendor_specific_apple, false),
    DEFINE_PROP_BIT("removable", SCSIDiskState, removable, false),
    DEFINE_PROP_ENUM("rerror", SCSIDiskState, rerror, blockdev_on_error_names, "BlockdevOnError",
                     BLOCKDEV_ON_ERROR_AUTO,
                     "Error handling policy, report/ignore/enospc/stop/auto"),
    DEFINE_PROP_UINT16("rotation_rate", SCSIDiskState, rotation_rate, 0),
    DEFINE_PROP_UINT32("scsi-id", SCSIDiskState, qdev.id, 0xffffffffu),
    DEFINE_PROP_INT32("scsi_version", SCSIDiskState, qdev.default_scsi_version, 5),
    DEFINE_PROP_UINT32("secs", SCSIDiskState, secs, 0),
    DEFINE_PROP_STRING("serial", SCSIDiskState, serial),
    DEFINE_PROP_BOOL("share-rw", SCSIDiskState, share_rw, false),
    DEFINE_PROP_STRING("vendor", SCSIDiskState, vendor),
    DEFINE_PROP_STRING("ver", SCSIDiskState, version),
    DEFINE_PROP_ENUM("werror", SCSIDiskState, werror, blockdev_on_error_names, "BlockdevOnError",
                     BLOCKDEV_ON_ERROR_AUTO,
                     "Error handling policy, report/ignore/enospc/stop/auto"),
    DEFINE_PROP_("write-cache", PROP_ONOFFAUTO, SCSIDiskState, write_cache, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_UINT64("wwn", SCSIDiskState, qdev.wwn, 0),
    DEFINE_PROP_END,
};

static const Property scsi_cd_props[] = {
    DISK_PROPS_A,
    DEFINE_PROP_STRING("device_id", SCSIDiskState, device_id),
    DISK_PROPS_BLOCK,
    DEFINE_PROP_(("logical_block_size"), PROP_BLOCKSIZE, SCSIDiskState, logical_block_size, true,
                 .def.u = 0),
    DEFINE_PROP_UINT32("lun", SCSIDiskState, qdev.lun, 0xffffffffu),
    DEFINE_PROP_UINT64("max_io_size", SCSIDiskState, max_io_size, DEFAULT_MAX_IO_SIZE),
    DEFINE_PROP_(("min_io_size"), PROP_SIZE32, SCSIDiskState, min_io_size, true, .def.u = 0),
    DEFINE_PROP_(("opt_io_size"), PROP_SIZE32, SCSIDiskState, opt_io_size, true, .def.u = 0),
    DEFINE_PROP_(("physical_block_size"), PROP_BLOCKSIZE, SCSIDiskState, physical_block_size, true,
                 .def.u = 0),
    DEFINE_PROP_UINT16("port_index", SCSIDiskState, port_index, 0),
    DEFINE_PROP_UINT64("port_wwn", SCSIDiskState, qdev.port_wwn, 0),
    DEFINE_PROP_STRING("product", SCSIDiskState, product),
    DEFINE_PROP_BIT("quirk_mode_page_apple_vendor", SCSIDiskState, quirk_apple_vendor, false),
    DEFINE_PROP_BIT("quirk_mode_page_truncated", SCSIDiskState, quirk_truncated, false),
    DEFINE_PROP_BIT("quirk_mode_page_vendor_specific_apple", SCSIDiskState,
                    quirk_vendor_specific_apple, false),
    DEFINE_PROP_BIT("quirk_mode_sense_rom_use_dbd", SCSIDiskState, quirk_rom_use_dbd, false),
    DEFINE_PROP_ENUM("rerror", SCSIDiskState, rerror, blockdev_on_error_names, "BlockdevOnError",
                     BLOCKDEV_ON_ERROR_AUTO,
                     "Error handling policy, report/ignore/enospc/stop/auto"),
    DEFINE_PROP_UINT32("scsi-id", SCSIDiskState, qdev.id, 0xffffffffu),
    DEFINE_PROP_INT32("scsi_version", SCSIDiskState, qdev.default_scsi_version, 5),
    DEFINE_PROP_STRING("serial", SCSIDiskState, serial),
    DEFINE_PROP_BOOL("share-rw", SCSIDiskState, share_rw, false),
    DEFINE_PROP_STRING("vendor", SCSIDiskState, vendor),
    DEFINE_PROP_STRING("ver", SCSIDiskState, version),
    DEFINE_PROP_ENUM("werror", SCSIDiskState, werror, blockdev_on_error_names, "BlockdevOnError",
                     BLOCKDEV_ON_ERROR_AUTO,
                     "Error handling policy, report/ignore/enospc/stop/auto"),
    DEFINE_PROP_("write-cache", PROP_ONOFFAUTO, SCSIDiskState, write_cache, true,
                 .def.i = ON_OFF_AUTO_AUTO),
    DEFINE_PROP_UINT64("wwn", SCSIDiskState, qdev.wwn, 0),
    DEFINE_PROP_END,
};

/* Saved state: the bus part, the tray and media-change state (requests end before a save). */
static const VMStateField scsi_disk_fields[] = {
    VMSTATE_STRUCT(qdev, SCSIDiskState, scsi_device_vmstate),
    VMSTATE_BOOL(media_changed, SCSIDiskState),
    VMSTATE_BOOL(media_event, SCSIDiskState),
    VMSTATE_BOOL(eject_request, SCSIDiskState),
    VMSTATE_BOOL(tray_open, SCSIDiskState),
    VMSTATE_BOOL(tray_locked, SCSIDiskState),
    VMSTATE_END_OF_LIST(),
};

static void scsi_disk_pre_save(void *opaque)
{
    SCSIDiskState *s = opaque;
    if (s->blk) {
        blk_drain(s->blk);
    }
}

static const VMStateDescription scsi_disk_vmstate = {
    .name = "scsi-disk",
    .version = 1,
    .minimum_version = 1,
    .fields = scsi_disk_fields,
    .pre_save = scsi_disk_pre_save,
};

const DeviceInfo scsi_hd_info = {
    .name = "scsi-hd",
    .desc = "virtual SCSI disk",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus = BUS_SCSI,
    .instance_size = sizeof(SCSIDiskState),
    .props = scsi_hd_props,
    .user_creatable = true,
    .realize = disk_realize,
    .unrealize = disk_unrealize,
    .reset = disk_reset,
    .vmsd = &scsi_disk_vmstate,
    .qom_parent = "scsi-disk-base",
};

const DeviceInfo scsi_cd_info = {
    .name = "scsi-cd",
    .desc = "virtual SCSI CD-ROM",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus = BUS_SCSI,
    .instance_size = sizeof(SCSIDiskState),
    .props = scsi_cd_props,
    .user_creatable = true,
    .realize = disk_realize,
    .unrealize = disk_unrealize,
    .reset = disk_reset,
    .vmsd = &scsi_disk_vmstate,
    .qom_parent = "scsi-disk-base",
};
