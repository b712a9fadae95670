/*
 * ATAPI for ide-cd (docs/ide.md): the PACKET command's 12-byte MMC/SCSI commands that Linux's
 * sr driver, SeaBIOS's CD-ROM boot and installers send, answered as QEMU 7.2's IDE CD-ROM
 * answers them, with data-in through PIO windows of the guest's byte count limit or through the
 * bus master. Medium changes (eject, blockdev-change-medium) show as QEMU shows them: NOT READY
 * then UNIT ATTENTION (medium may have changed) and a "new media" event.
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include "vireo/block-backend.h"
#include "vireo/ide.h"
#include "vireo/machine.h"
#include "vireo/qjson.h"
#include <glib.h>

/* sense keys, ASCs */
#define SK_NOT_READY                    0x02
#define SK_ILLEGAL_REQUEST              0x05
#define SK_UNIT_ATTENTION               0x06
#define ASC_INV_OPCODE                  0x20
#define ASC_LBA_OUT_OF_RANGE            0x21
#define ASC_INV_FIELD                   0x24
#define ASC_MEDIUM_MAY_HAVE_CHANGED     0x28
#define ASC_SAVING_PARAMS_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT          0x3a
#define ASC_MEDIA_REMOVAL_PREVENTED     0x53

#define MMC_PROFILE_CD_ROM  0x08
#define MMC_PROFILE_DVD_ROM 0x10
/* an 80-minute CD in 512-byte sectors: bigger media are DVDs */
#define CD_MAX_SECTORS (80ull * 60 * 75 * 2048 / 512)

static void put16be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get16be(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void padstr8(uint8_t *buf, int len, const char *src)
{
    for (int i = 0; i < len; i++) {
        buf[i] = *src ? (uint8_t)*src++ : ' ';
    }
}

void ide_atapi_identify(IDEState *s)
{
    uint8_t *p = s->identify;
    if (s->identify_set) {
        return;
    }
    memset(p, 0, 512);
    /* removable CD-ROM, 50 us DRQ, 12-byte packets */
    ide_put16(p, 0, (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5));
    ide_padstr(p, 10, s->serial, 20);
    ide_put16(p, 20, 3);
    ide_put16(p, 21, 512);
    ide_put16(p, 22, 4);
    ide_padstr(p, 23, s->version, 8);
    ide_padstr(p, 27, s->model, 40);
    ide_put16(p, 48, 1);
    ide_put16(p, 49, (1 << 9) | (1 << 8));
    ide_put16(p, 53, 7);
    ide_put16(p, 62, 7);
    ide_put16(p, 63, 7);
    ide_put16(p, 64, 3);
    ide_put16(p, 65, 0xb4);
    ide_put16(p, 66, 0xb4);
    ide_put16(p, 67, 0x12c);
    ide_put16(p, 68, 0xb4);
    ide_put16(p, 71, 30);
    ide_put16(p, 72, 30);
    ide_put16(p, 80, 0x1e);
    if (s->wwn) {
        ide_put16(p, 84, 1 << 8);
        ide_put16(p, 87, 1 << 8);
        ide_put16(p, 108, (uint16_t)(s->wwn >> 48));
        ide_put16(p, 109, (uint16_t)(s->wwn >> 32));
        ide_put16(p, 110, (uint16_t)(s->wwn >> 16));
        ide_put16(p, 111, (uint16_t)s->wwn);
    }
    ide_put16(p, 88, 0x3f | (1 << 13));
    s->identify_set = true;
}

static bool media_present(IDEState *s)
{
    return !s->tray_open && s->blk && blk_is_inserted(s->blk) && s->nb_sectors;
}

void ide_atapi_ok(IDEState *s)
{
    s->error = 0;
    s->status = IDE_DRDY | IDE_DSC;
    s->nsector = (s->nsector & ~7) | 3; /* I/O, C/D: status */
    s->dma_cmd = false;
    ide_set_irq(s->bus);
}

void ide_atapi_error(IDEState *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
    s->error = (uint8_t)(key << 4);
    s->status = IDE_DRDY | IDE_ERR;
    s->nsector = (s->nsector & ~7) | 3;
    s->sense_key = key;
    s->asc = asc;
    s->ascq = ascq;
    s->dma_cmd = false;
    ide_set_irq(s->bus);
}

/* ---- data-in: the reply of an emulated command, or READ data chunk by chunk ---- */

/* Whether the data comes from the medium (READ): more chunks follow the buffer's. */
static bool reading(IDEState *s)
{
    return s->cmd == 0xa0 && (s->packet[0] == 0x28 || s->packet[0] == 0xa8);
}

static void read_chunk_done(IDEState *s, int ret);

static void read_next_chunk(IDEState *s)
{
    uint32_t n = s->left < IDE_BUF_SIZE ? s->left : IDE_BUF_SIZE;
    s->buf_len = n;
    s->buf_pos = 0;
    ide_start_chunk_read(s, s->lba * IDE_CD_SECTOR, n, read_chunk_done);
}

/* PIO: the next window of at most the byte count limit, with an interrupt. */
static void pio_window(IDEState *s)
{
    uint32_t limit = s->byte_limit;
    if (limit == 0xffff || limit == 0) {
        limit = 0xfffe;
    }
    uint32_t size = s->buf_len - s->buf_pos;
    if (size > s->left) {
        size = s->left;
    }
    if (size > limit) {
        size = limit & ~1u;
    }
    s->lcyl = (uint8_t)size;
    s->hcyl = (uint8_t)(size >> 8);
    s->nsector = (s->nsector & ~7) | 2; /* I/O: data to the host */
    s->status = IDE_DRDY | IDE_DSC | IDE_DRQ;
    s->data_pos = s->buf_pos;
    s->data_end = s->buf_pos + size;
    s->pio_kind = PIO_ATAPI_IN;
    ide_set_irq(s->bus);
}

void ide_atapi_pio_next(IDEState *s)
{
    uint32_t took = s->data_end - s->buf_pos;
    s->buf_pos = s->data_end;
    s->left -= took;
    s->status &= ~IDE_DRQ;
    s->data_pos = s->data_end = 0;
    s->pio_kind = PIO_NONE;
    if (!s->left) {
        ide_atapi_ok(s);
    } else if (s->buf_pos < s->buf_len) {
        pio_window(s);
    } else if (reading(s)) {
        s->lba += s->buf_len / IDE_CD_SECTOR;
        read_next_chunk(s);
    } else {
        ide_atapi_ok(s);
    }
}

/* A chunk is in the buffer (READ), or the DMA of a reply may start (ret 0, from ide_dma_run). */
void ide_atapi_chunk_done(IDEState *s, int ret)
{
    if (ret < 0) {
        ide_atapi_error(s, 0x03, 0x11, 0x00); /* MEDIUM ERROR, unrecovered read error */
        if (s->bus->bm_running) {
            s->bus->bm_status &= ~BM_ST_ACTIVE;
            s->bus->bm_running = false;
        }
        return;
    }
    if (!s->atapi_dma) {
        pio_window(s);
        return;
    }
    if (!s->bus->bm_running) {
        return; /* the bus master has not been started yet */
    }
    if (reading(s) && !s->buf_len) {
        read_next_chunk(s);
        return;
    }
    uint32_t n = s->buf_len - s->buf_pos;
    if (n > s->left) {
        n = s->left;
    }
    if (!ide_bm_xfer(s->bus, s->buf + s->buf_pos, n, true)) {
        s->bus->bm_status &= ~BM_ST_ACTIVE;
        s->bus->bm_running = false;
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
    s->left -= n;
    s->buf_pos += n;
    if (s->left && reading(s)) {
        s->lba += s->buf_len / IDE_CD_SECTOR;
        read_next_chunk(s);
        return;
    }
    s->bus->bm_status &= ~BM_ST_ACTIVE;
    s->bus->bm_running = false;
    ide_atapi_ok(s);
}

static void read_chunk_done(IDEState *s, int ret)
{
    ide_atapi_chunk_done(s, ret);
}

/* Reply with the first `size` bytes of s->buf (at most max). */
static void reply(IDEState *s, uint32_t size, uint32_t max)
{
    if (size > max) {
        size = max;
    }
    s->buf_len = size;
    s->buf_pos = 0;
    s->left = size;
    s->atapi_total = size;
    if (!size) {
        ide_atapi_ok(s);
        return;
    }
    if (s->atapi_dma) {
        ide_dma_start(s, true);
    } else {
        pio_window(s);
    }
}

/* ---- the commands ---- */

static void cmd_inquiry(IDEState *s, const uint8_t *p)
{
    uint8_t *b = s->buf;
    uint32_t max = p[4];
    if (p[1] & 1) {
        /* vital product data: the list of pages, and device identification */
        memset(b, 0, 64);
        b[0] = 0x05;
        b[1] = p[2];
        if (p[2] == 0x00) {
            b[3] = 2;
            b[4] = 0x00;
            b[5] = 0x83;
            reply(s, 6, max);
            return;
        }
        if (p[2] == 0x83) {
            size_t l = strlen(s->serial);
            int idx = 4;
            b[idx++] = 0x02; /* ASCII */
            b[idx++] = 0x00;
            b[idx++] = 0x00;
            b[idx++] = (uint8_t)l;
            memcpy(b + idx, s->serial, l);
            idx += (int)l;
            b[3] = (uint8_t)(idx - 4);
            reply(s, (uint32_t)idx, max);
            return;
        }
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
    memset(b, 0, 36);
    b[0] = 0x05; /* CD-ROM */
    b[1] = 0x80; /* removable */
    b[2] = 0x00;
    b[3] = 0x21;
    b[4] = 36 - 5;
    padstr8(b + 8, 8, "QEMU");
    padstr8(b + 16, 16, "QEMU DVD-ROM");
    padstr8(b + 32, 4, s->version);
    reply(s, 36, max);
}

static void cmd_mode_sense(IDEState *s, const uint8_t *p)
{
    uint8_t *b = s->buf;
    uint32_t max = get16be(p + 7);
    int action = p[2] >> 6, code = p[2] & 0x3f;
    if (action == 3) {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_NOT_SUPPORTED, 0);
        return;
    }
    if (action != 0) {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
    memset(b, 0, 30);
    b[2] = 0x70;
    switch (code) {
    case 0x01: /* error recovery */
        put16be(b, 16 - 2);
        b[8] = 0x01;
        b[9] = 16 - 10;
        b[11] = 0x05;
        reply(s, 16, max);
        return;
    case 0x0e: /* audio control */
        put16be(b, 24 - 2);
        b[8] = 0x0e;
        b[9] = 24 - 10;
        reply(s, 24, max);
        return;
    case 0x2a: /* capabilities */
        put16be(b, 30 - 2);
        b[8] = 0x2a;
        b[9] = 30 - 10;
        b[10] = 0x3b;
        b[12] = 0x71;
        b[13] = 3 << 5;
        b[14] = (1 << 0) | (1 << 3) | (1 << 5) | (s->tray_locked ? 1 << 1 : 0);
        put16be(b + 16, 704);
        b[19] = 2;
        put16be(b + 20, 512);
        put16be(b + 22, 704);
        reply(s, 30, max);
        return;
    default:
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
}

static void lba_to_msf(uint8_t *b, uint32_t lba)
{
    lba += 150;
    b[0] = (uint8_t)((lba / 75) / 60);
    b[1] = (uint8_t)((lba / 75) % 60);
    b[2] = (uint8_t)(lba % 75);
}

static void cmd_read_toc(IDEState *s, const uint8_t *p)
{
    uint8_t *b = s->buf;
    uint32_t max = get16be(p + 7);
    int format = p[9] >> 6;
    bool msf = (p[1] >> 1) & 1;
    int start = p[6];
    uint32_t total = (uint32_t)(s->nb_sectors >> 2);
    memset(b, 0, 64);
    if (format == 0) {
        if (start > 1 && start != 0xaa) {
            ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
            return;
        }
        uint8_t *q = b + 2;
        *q++ = 1;
        *q++ = 1;
        if (start <= 1) {
            *q++ = 0;
            *q++ = 0x14;
            *q++ = 1;
            *q++ = 0;
            if (msf) {
                *q++ = 0;
                lba_to_msf(q, 0);
                q += 3;
            } else {
                put32be(q, 0);
                q += 4;
            }
        }
        *q++ = 0;
        *q++ = 0x16;
        *q++ = 0xaa;
        *q++ = 0;
        if (msf) {
            *q++ = 0;
            lba_to_msf(q, total);
            q += 3;
        } else {
            put32be(q, total);
            q += 4;
        }
        uint32_t len = (uint32_t)(q - b);
        put16be(b, len - 2);
        reply(s, len, max);
    } else if (format == 1) {
        b[1] = 0x0a;
        b[2] = 0x01;
        b[3] = 0x01;
        reply(s, 12, max);
    } else {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
    }
}

static void cmd_get_configuration(IDEState *s, const uint8_t *p)
{
    uint8_t *b = s->buf;
    if (p[2] || p[3]) {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
    uint32_t max = get16be(p + 7);
    if (max > 512) {
        max = 512;
    }
    memset(b, 0, 512);
    bool present = media_present(s);
    if (present && s->nb_sectors > CD_MAX_SECTORS) {
        put16be(b + 6, MMC_PROFILE_DVD_ROM);
    } else if (present) {
        put16be(b + 6, MMC_PROFILE_CD_ROM);
    }
    b[10] = 0x03;
    uint32_t len = 12;
    static const uint16_t profiles[] = {MMC_PROFILE_DVD_ROM, MMC_PROFILE_CD_ROM};
    for (int i = 0; i < 2; i++) {
        uint8_t *pp = b + 12 + i * 4;
        put16be(pp, profiles[i]);
        pp[2] = pp[0] == b[6] && pp[1] == b[7];
        b[11] += 4;
        len += 4;
    }
    put32be(b, len - 4);
    reply(s, len, max);
}

static void cmd_event_status(IDEState *s, const uint8_t *p)
{
    uint8_t *b = s->buf;
    uint32_t max = get16be(p + 7);
    if (!(p[1] & 1)) {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
    memset(b, 0, 16);
    uint32_t used = 4;
    b[3] = 1 << 4; /* media class events */
    if (p[4] & (1 << 4)) {
        uint8_t status = 0, code = 0;
        b[2] = 4;
        if (s->tray_open) {
            status = 1;
        } else if (s->blk && blk_is_inserted(s->blk)) {
            status = 2;
        }
        if (status != 1) {
            if (s->media_event) {
                code = 2;
                s->media_event = false;
            } else if (s->eject_request) {
                code = 1;
                s->eject_request = false;
            }
        }
        b[4] = code;
        b[5] = status;
        used += 4;
    } else {
        b[2] = 0x80;
    }
    put16be(b, used - 4);
    reply(s, used, max);
}

static void cmd_read(IDEState *s, const uint8_t *p)
{
    uint32_t lba = get32be(p + 2);
    uint32_t n = p[0] == 0x28 ? get16be(p + 7) : get32be(p + 6);
    uint64_t total = s->nb_sectors >> 2;
    if (!n) {
        ide_atapi_ok(s);
        return;
    }
    if ((uint64_t)lba + n > total) {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    if ((uint64_t)n * IDE_CD_SECTOR > 0xffffffffu) {
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
        return;
    }
    s->lba = lba;
    s->left = n * IDE_CD_SECTOR;
    s->atapi_total = s->left;
    s->buf_len = 0;
    s->buf_pos = 0;
    if (s->atapi_dma) {
        ide_dma_start(s, true);
    } else {
        read_next_chunk(s);
    }
}

static void cmd_start_stop(IDEState *s, const uint8_t *p)
{
    bool start = p[4] & 1, loej = p[4] & 2;
    if (loej) {
        if (!start && !s->tray_open && s->tray_locked) {
            ide_atapi_error(s, blk_is_inserted(s->blk) ? SK_NOT_READY : SK_ILLEGAL_REQUEST,
                            ASC_MEDIA_REMOVAL_PREVENTED, 0);
            return;
        }
        if (s->tray_open != !start) {
            s->tray_open = !start;
            QJ *d = qj_object();
            qj_set_str(d, "device", blk_name(s->blk));
            const char *id = blk_get_attached_dev_id(s->blk);
            char *path = id ? NULL : device_qom_path(&s->dev->dev);
            qj_set_str(d, "id", id ? id : path);
            g_free(path);
            qj_set_bool(d, "tray-open", s->tray_open);
            machine_post_event("DEVICE_TRAY_MOVED", d);
        }
    }
    ide_atapi_ok(s);
}

/* Which commands may report a pending unit attention / need a medium. */
static bool allow_ua(uint8_t op)
{
    return op == 0x12 || op == 0x03 || op == 0x46 || op == 0x4a;
}

static bool check_ready(uint8_t op)
{
    switch (op) {
    case 0x00:
    case 0x25:
    case 0x28:
    case 0xa8:
    case 0x2b:
    case 0x43:
    case 0x51:
    case 0xbe:
    case 0xb9:
    case 0xad:
        return true;
    default:
        return false;
    }
}

void ide_atapi_cmd(IDEState *s)
{
    const uint8_t *p = s->packet;
    uint8_t *b = s->buf;
    uint8_t op = p[0];
    s->status = IDE_DRDY | IDE_DSC;
    if (s->sense_key == SK_UNIT_ATTENTION && !allow_ua(op)) {
        ide_atapi_error(s, s->sense_key, s->asc, s->ascq);
        return;
    }
    /* a new medium: NOT READY once, then UNIT ATTENTION once (QEMU's cdrom_changed) */
    if (!allow_ua(op) && s->cdrom_changed && media_present(s)) {
        if (s->cdrom_changed == 1) {
            ide_atapi_error(s, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
            s->cdrom_changed = 2;
        } else {
            ide_atapi_error(s, SK_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED, 0);
            s->cdrom_changed = 0;
        }
        return;
    }
    if (check_ready(op) && !media_present(s)) {
        ide_atapi_error(s, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
        return;
    }
    switch (op) {
    case 0x00: /* TEST UNIT READY */
        ide_atapi_ok(s);
        return;
    case 0x03: { /* REQUEST SENSE */
        uint32_t max = p[4];
        memset(b, 0, 18);
        b[0] = 0x70 | 0x80;
        b[2] = s->sense_key;
        b[7] = 10;
        b[12] = s->asc;
        b[13] = s->ascq;
        if (s->sense_key == SK_UNIT_ATTENTION) {
            s->sense_key = 0;
        }
        reply(s, 18, max);
        return;
    }
    case 0x12:
        cmd_inquiry(s, p);
        return;
    case 0x5a: /* MODE SENSE (10) */
        cmd_mode_sense(s, p);
        return;
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
        s->tray_locked = p[4] & 1;
        ide_atapi_ok(s);
        return;
    case 0x28: /* READ (10) */
    case 0xa8: /* READ (12) */
        cmd_read(s, p);
        return;
    case 0x2b: { /* SEEK (10) */
        uint32_t lba = get32be(p + 2);
        if (lba >= s->nb_sectors >> 2) {
            ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
            return;
        }
        ide_atapi_ok(s);
        return;
    }
    case 0x1b: /* START STOP UNIT */
        cmd_start_stop(s, p);
        return;
    case 0xbd: { /* MECHANISM STATUS */
        uint32_t max = get16be(p + 8);
        memset(b, 0, 8);
        b[5] = 1;
        reply(s, 8, max);
        return;
    }
    case 0x43:
        cmd_read_toc(s, p);
        return;
    case 0x25: { /* READ CAPACITY */
        uint32_t total = (uint32_t)(s->nb_sectors >> 2);
        put32be(b, total - 1);
        put32be(b + 4, IDE_CD_SECTOR);
        reply(s, 8, 8);
        return;
    }
    case 0xbb: /* SET CD SPEED */
        ide_atapi_ok(s);
        return;
    case 0x46:
        cmd_get_configuration(s, p);
        return;
    case 0x4a:
        cmd_event_status(s, p);
        return;
    case 0x51: { /* READ DISC INFORMATION */
        uint32_t max = get16be(p + 7);
        if (p[1] & 7) {
            ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_FIELD, 0);
            return;
        }
        memset(b, 0, 34);
        b[1] = 32;
        b[2] = 0xe;
        b[3] = 1;
        b[4] = 1;
        b[5] = 1;
        b[6] = 1;
        b[7] = 0x20;
        reply(s, 34, max);
        return;
    }
    default:
        ide_atapi_error(s, SK_ILLEGAL_REQUEST, ASC_INV_OPCODE, 0);
        return;
    }
}

/* ---- medium changes ---- */

void ide_cd_change_media(IDEState *s, bool load)
{
    int64_t len = s->blk ? blk_getlength(s->blk) : -1;
    s->nb_sectors = load && len > 0 ? (uint64_t)len / IDE_SECTOR : 0;
    s->tray_open = !load;
    s->cdrom_changed = 1;
    s->media_event = true;
    s->eject_request = false;
    ide_set_irq(s->bus);
}

void ide_cd_eject_request(IDEState *s, bool force)
{
    s->eject_request = true;
    if (force) {
        s->tray_locked = false;
    }
    ide_set_irq(s->bus);
}
