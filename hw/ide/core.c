/*
 * The ATA side of an IDE channel (include/vireo/ide.h, docs/ide.md): task-file registers of
 * the two units, the ATA commands of a disk (IDENTIFY, PIO and DMA reads and writes in 28- and
 * 48-bit LBA or CHS, FLUSH, SET FEATURES, ...), PIO data windows, soft reset, and the bus-master
 * engine that moves a command's data through the guest's PRD table. The ATAPI packet commands
 * are in atapi.c. What the guest reads (IDENTIFY words, signatures, register values after a
 * command) follows QEMU 7.2's IDE emulation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block-backend.h"
#include "vireo/ide.h"
#include "vireo/irq.h"
#include "vireo/machine.h"
#include "vireo/pci.h"
#include "vireo/vmstate.h"

/* ---- helpers ---- */

void ide_put16(uint8_t *id, int word, uint16_t v)
{
    id[word * 2] = (uint8_t)v;
    id[word * 2 + 1] = (uint8_t)(v >> 8);
}

/* ATA strings: byte-swapped pairs, padded with spaces */
void ide_padstr(uint8_t *id, int word, const char *src, int len)
{
    for (int i = 0; i < len; i++) {
        char c = *src ? *src++ : ' ';
        id[word * 2 + (i ^ 1)] = (uint8_t)c;
    }
}

void ide_set_irq(IDEBus *bus)
{
    bus->irq_pending = true;
    if (!(bus->ctrl & IDE_CTRL_NIEN)) {
        bus->bm_status |= BM_ST_INTR; /* the bus master sees the line rise */
        irq_raise(bus->irq);
    }
}

static void ide_lower_irq(IDEBus *bus)
{
    bus->irq_pending = false;
    irq_lower(bus->irq);
}

static void transfer_stop(IDEState *s)
{
    s->data_pos = s->data_end = 0;
    s->pio_kind = PIO_NONE;
    s->status &= ~IDE_DRQ;
}

/* Open a PIO window of len bytes at buf + pos. */
static void transfer_start(IDEState *s, uint32_t pos, uint32_t len, PIOKind kind)
{
    s->data_pos = pos;
    s->data_end = pos + len;
    s->pio_kind = kind;
    s->status |= IDE_DRQ;
}

void ide_cmd_done(IDEState *s)
{
    transfer_stop(s);
    s->status = IDE_DRDY | IDE_DSC;
    ide_set_irq(s->bus);
}

void ide_abort(IDEState *s)
{
    transfer_stop(s);
    s->dma_cmd = false;
    s->status = IDE_DRDY | IDE_ERR;
    s->error = IDE_ABRT;
    ide_set_irq(s->bus);
}

static void set_signature(IDEState *s)
{
    s->select &= 0xf0;
    s->nsector = 1;
    s->sector = 1;
    if (s->is_cd) {
        s->lcyl = 0x14;
        s->hcyl = 0xeb;
    } else if (s->blk) {
        s->lcyl = 0;
        s->hcyl = 0;
    } else {
        s->lcyl = 0xff;
        s->hcyl = 0xff;
    }
}

/* Requests in flight: their results are dropped after a reset (gen changed). */
typedef struct IDEReq {
    IDEState *s;
    uint32_t gen;
    void (*done)(IDEState *s, int ret);
    struct iovec iov;
} IDEReq;

static void req_cb(void *opaque, int ret)
{
    IDEReq *r = opaque;
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    IDEState *s = r->s;
    if (r->gen == s->gen) {
        s->busy_io = false;
        r->done(s, ret);
    }
    g_free(r);
    if (take) {
        vireo_unlock();
    }
}

static IDEReq *new_req(IDEState *s, void (*done)(IDEState *s, int ret), uint32_t len)
{
    IDEReq *r = g_new0(IDEReq, 1);
    r->s = s;
    r->gen = s->gen;
    r->done = done;
    r->iov.iov_base = s->buf;
    r->iov.iov_len = len;
    s->busy_io = true;
    s->status |= IDE_BSY;
    return r;
}

void ide_start_chunk_read(IDEState *s, uint64_t offset, uint32_t len,
                          void (*done)(IDEState *s, int ret))
{
    IDEReq *r = new_req(s, done, len);
    blk_aio_preadv(s->blk, offset, &r->iov, 1, 0, req_cb, r);
}

static void start_chunk_write(IDEState *s, uint64_t offset, uint32_t len,
                              void (*done)(IDEState *s, int ret))
{
    IDEReq *r = new_req(s, done, len);
    blk_aio_pwritev(s->blk, offset, &r->iov, 1, 0, req_cb, r);
}

/* Wait for a request in flight and forget it (reset, DMA stop). */
static void cancel_io(IDEState *s)
{
    s->gen++;
    if (s->busy_io && s->blk) {
        blk_drain(s->blk);
    }
    s->busy_io = false;
}

/* A failed block request: werror/rerror decide (a stop is reported like an error: the
 * request is not retried). Returns true when the guest gets the error. */
static bool io_error(IDEState *s, int ret, bool is_read)
{
    BlockErrorAction a = blk_get_error_action(s->blk, is_read, -ret);
    if (a == BLOCK_ERROR_ACTION_IGNORE) {
        blk_error_action(s->blk, a, is_read, -ret);
        return false;
    }
    blk_error_action(s->blk, BLOCK_ERROR_ACTION_REPORT, is_read, -ret);
    return true;
}

/* ---- addresses ---- */

static uint64_t get_sector(IDEState *s, bool lba48)
{
    if (lba48) {
        return ((uint64_t)s->hob_hcyl << 40) | ((uint64_t)s->hob_lcyl << 32) |
               ((uint64_t)s->hob_sector << 24) | ((uint64_t)s->hcyl << 16) |
               ((uint64_t)s->lcyl << 8) | s->sector;
    }
    if (s->select & 0x40) {
        return ((uint64_t)(s->select & 0x0f) << 24) | ((uint64_t)s->hcyl << 16) |
               ((uint64_t)s->lcyl << 8) | s->sector;
    }
    /* CHS */
    uint32_t cyl = (uint32_t)s->hcyl << 8 | s->lcyl;
    return ((uint64_t)cyl * s->heads + (s->select & 0x0f)) * s->secs + (s->sector - 1);
}

static void set_sector(IDEState *s, uint64_t n, bool lba48)
{
    if (lba48) {
        s->sector = (uint8_t)n;
        s->lcyl = (uint8_t)(n >> 8);
        s->hcyl = (uint8_t)(n >> 16);
        s->hob_sector = (uint8_t)(n >> 24);
        s->hob_lcyl = (uint8_t)(n >> 32);
        s->hob_hcyl = (uint8_t)(n >> 40);
    } else if (s->select & 0x40) {
        s->select = (s->select & 0xf0) | ((n >> 24) & 0x0f);
        s->hcyl = (uint8_t)(n >> 16);
        s->lcyl = (uint8_t)(n >> 8);
        s->sector = (uint8_t)n;
    } else if (s->heads && s->secs) {
        uint32_t cyl = (uint32_t)(n / (s->heads * s->secs));
        uint32_t r = (uint32_t)(n % (s->heads * s->secs));
        s->hcyl = (uint8_t)(cyl >> 8);
        s->lcyl = (uint8_t)cyl;
        s->select = (s->select & 0xf0) | ((r / s->secs) & 0x0f);
        s->sector = (uint8_t)((r % s->secs) + 1);
    }
}

static uint32_t get_count(IDEState *s, bool lba48)
{
    if (lba48) {
        uint32_t n = (uint32_t)s->hob_nsector << 8 | s->nsector;
        return n ? n : 65536;
    }
    return s->nsector ? s->nsector : 256;
}

/* ---- IDENTIFY ---- */

static void ata_identify(IDEState *s)
{
    uint8_t *p = s->identify;
    if (!s->identify_set) {
        memset(p, 0, 512);
        ide_put16(p, 0, 0x0040);
        ide_put16(p, 1, (uint16_t)s->cyls);
        ide_put16(p, 3, (uint16_t)s->heads);
        ide_put16(p, 4, (uint16_t)(512 * s->secs));
        ide_put16(p, 5, 512);
        ide_put16(p, 6, (uint16_t)s->secs);
        ide_padstr(p, 10, s->serial, 20);
        ide_put16(p, 20, 3);
        ide_put16(p, 21, 512);
        ide_put16(p, 22, 4);
        ide_padstr(p, 23, s->version, 8);
        ide_padstr(p, 27, s->model, 40);
        ide_put16(p, 47, 0x8000 | IDE_MAX_MULT);
        ide_put16(p, 48, 1);
        ide_put16(p, 49, (1 << 11) | (1 << 9) | (1 << 8));
        ide_put16(p, 51, 0x200);
        ide_put16(p, 52, 0x200);
        ide_put16(p, 53, 1 | (1 << 1) | (1 << 2));
        ide_put16(p, 54, (uint16_t)s->cyls);
        ide_put16(p, 55, (uint16_t)s->heads);
        ide_put16(p, 56, (uint16_t)s->secs);
        uint32_t old = s->cyls * s->heads * s->secs;
        ide_put16(p, 57, (uint16_t)old);
        ide_put16(p, 58, (uint16_t)(old >> 16));
        if (s->mult_sectors) {
            ide_put16(p, 59, 0x100 | s->mult_sectors);
        }
        ide_put16(p, 60, (uint16_t)s->nb_sectors);
        ide_put16(p, 61, (uint16_t)(s->nb_sectors >> 16));
        ide_put16(p, 62, 0x07);
        ide_put16(p, 63, 0x07);
        ide_put16(p, 64, 0x03);
        ide_put16(p, 65, 120);
        ide_put16(p, 66, 120);
        ide_put16(p, 67, 120);
        ide_put16(p, 68, 120);
        ide_put16(p, 80, 0xf0);
        ide_put16(p, 81, 0x16);
        ide_put16(p, 82, (1 << 14) | (1 << 5) | 1);
        ide_put16(p, 83, (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10));
        ide_put16(p, 84, s->wwn ? (1 << 14) | (1 << 8) : (1 << 14));
        ide_put16(p, 86, (1 << 13) | (1 << 12) | (1 << 10));
        ide_put16(p, 87, s->wwn ? (1 << 14) | (1 << 8) : (1 << 14));
        ide_put16(p, 88, 0x3f | (1 << 13));
        ide_put16(p, 93, 1 | (1 << 14) | 0x2000);
        ide_put16(p, 100, (uint16_t)s->nb_sectors);
        ide_put16(p, 101, (uint16_t)(s->nb_sectors >> 16));
        ide_put16(p, 102, (uint16_t)(s->nb_sectors >> 32));
        ide_put16(p, 103, (uint16_t)(s->nb_sectors >> 48));
        ide_put16(p, 106, 0x6000);
        if (s->wwn) {
            ide_put16(p, 108, (uint16_t)(s->wwn >> 48));
            ide_put16(p, 109, (uint16_t)(s->wwn >> 32));
            ide_put16(p, 110, (uint16_t)(s->wwn >> 16));
            ide_put16(p, 111, (uint16_t)s->wwn);
        }
        ide_put16(p, 69, 1 << 14); /* deterministic zeroes after TRIM */
        ide_put16(p, 169, 1);      /* TRIM (QEMU's discard_granularity default) */
        ide_put16(p, 217, s->rotation_rate);
        s->identify_set = true;
    }
    /* the write cache as it is now */
    ide_put16(p, 85, (1 << 14) | (blk_enable_write_cache(s->blk) ? (1 << 5) : 0) | 1);
}

/* SET FEATURES 03h: the transfer mode the guest chose shows in words 62, 63 and 88. */
static bool set_xfer_mode(IDEState *s, uint8_t val)
{
    uint8_t *p = s->identify;
    uint8_t mode = val & 7;
    switch (val >> 3) {
    case 0: /* PIO default */
    case 1: /* PIO mode */
        break;
    case 2: /* single word DMA */
        ide_put16(p, 62, 0x07 | (1 << (mode + 8)));
        ide_put16(p, 63, 0x07);
        ide_put16(p, 88, 0x3f);
        break;
    case 4: /* multiword DMA */
        ide_put16(p, 62, 0x07);
        ide_put16(p, 63, 0x07 | (1 << (mode + 8)));
        ide_put16(p, 88, 0x3f);
        break;
    case 8: /* UDMA */
        ide_put16(p, 62, 0x07);
        ide_put16(p, 63, 0x07);
        ide_put16(p, 88, 0x3f | (1 << (mode + 8)));
        break;
    default:
        return false;
    }
    s->xfer_mode = val;
    return true;
}

/* ---- PIO reads and writes ---- */

static bool lba48_cmd(uint8_t c)
{
    return c == 0x24 || c == 0x25 || c == 0x29 || c == 0x34 || c == 0x35 || c == 0x39 ||
           c == 0x42 || c == 0x27;
}

static void pio_read_chunk_done(IDEState *s, int ret);

static void pio_read_next_chunk(IDEState *s)
{
    uint32_t n = s->left < IDE_BUF_SIZE / IDE_SECTOR ? s->left : IDE_BUF_SIZE / IDE_SECTOR;
    s->buf_len = n * IDE_SECTOR;
    s->buf_pos = 0;
    ide_start_chunk_read(s, s->lba * IDE_SECTOR, s->buf_len, pio_read_chunk_done);
}

static void pio_read_window(IDEState *s)
{
    uint32_t n = (s->buf_len - s->buf_pos) / IDE_SECTOR;
    if (n > s->block) {
        n = s->block;
    }
    if (n > s->left) {
        n = s->left;
    }
    s->status = IDE_DRDY | IDE_DSC;
    transfer_start(s, s->buf_pos, n * IDE_SECTOR, PIO_READ);
    ide_set_irq(s->bus);
}

static void pio_read_chunk_done(IDEState *s, int ret)
{
    if (ret < 0 && io_error(s, ret, true)) {
        s->status = IDE_DRDY | IDE_ERR;
        s->error = IDE_UNC | IDE_ABRT;
        transfer_stop(s);
        ide_set_irq(s->bus);
        return;
    }
    pio_read_window(s);
}

/* The guest took a read window. */
static void pio_read_end(IDEState *s)
{
    bool lba48 = lba48_cmd(s->cmd);
    uint32_t n = (s->data_end - s->buf_pos) / IDE_SECTOR;
    s->buf_pos = s->data_end;
    s->lba += n;
    s->left -= n;
    set_sector(s, s->lba, lba48);
    transfer_stop(s);
    if (!s->left) {
        s->nsector = 0;
        s->hob_nsector = 0;
        s->status = IDE_DRDY | IDE_DSC;
        return;
    }
    if (s->buf_pos < s->buf_len) {
        pio_read_window(s);
    } else {
        pio_read_next_chunk(s);
    }
}

static void pio_write_done(IDEState *s, int ret)
{
    bool lba48 = lba48_cmd(s->cmd);
    if (ret < 0 && io_error(s, ret, false)) {
        s->status = IDE_DRDY | IDE_ERR;
        s->error = IDE_ABRT;
        transfer_stop(s);
        ide_set_irq(s->bus);
        return;
    }
    uint32_t n = s->buf_len / IDE_SECTOR;
    s->lba += n;
    s->left -= n;
    set_sector(s, s->lba, lba48);
    s->status = IDE_DRDY | IDE_DSC;
    if (s->left) {
        n = s->left < s->block ? s->left : s->block;
        s->buf_len = n * IDE_SECTOR;
        transfer_start(s, 0, s->buf_len, PIO_WRITE);
    } else {
        s->nsector = 0;
        s->hob_nsector = 0;
    }
    ide_set_irq(s->bus);
}

/* The guest filled a write window: it goes to the disk. */
static void pio_write_end(IDEState *s)
{
    transfer_stop(s);
    start_chunk_write(s, s->lba * IDE_SECTOR, s->buf_len, pio_write_done);
}

static void end_transfer(IDEState *s)
{
    switch (s->pio_kind) {
    case PIO_READ:
        pio_read_end(s);
        break;
    case PIO_WRITE:
        pio_write_end(s);
        break;
    case PIO_PACKET:
        transfer_stop(s);
        memcpy(s->packet, s->buf, 12);
        ide_atapi_cmd(s);
        break;
    case PIO_ATAPI_IN:
        ide_atapi_pio_next(s); /* it needs the window's end */
        break;
    default:
        transfer_stop(s);
        break;
    }
}

/* ---- DMA ---- */

/* How many bytes the PRD table describes (at most one 4 KiB table, as QEMU); -1 if the table
 * cannot be read. */
static int64_t prd_coverage(IDEBus *bus)
{
    int64_t total = 0;
    uint32_t base = bus->bm_addr & ~3u;
    for (uint32_t off = 0; off < 4096; off += 8) {
        uint8_t e[8];
        if (pci_dma_read(bus->pci, base + off, e, 8) != DMA_OK) {
            return -1;
        }
        uint32_t len = ((uint32_t)e[4] | (uint32_t)e[5] << 8) & 0xfffe;
        total += len ? len : 0x10000;
        if (e[7] & 0x80) {
            break;
        }
    }
    return total;
}

bool ide_bm_xfer(IDEBus *bus, uint8_t *buf, uint32_t len, bool to_guest)
{
    while (len) {
        if (!bus->prd_left) {
            if (bus->prd_last || bus->prd_index >= 4096 / 8) {
                bus->bm_status |= BM_ST_ERROR;
                return false;
            }
            uint8_t e[8];
            if (pci_dma_read(bus->pci, (bus->bm_addr & ~3u) + bus->prd_index * 8, e, 8) != DMA_OK) {
                bus->bm_status |= BM_ST_ERROR;
                return false;
            }
            bus->prd_index++;
            bus->prd_addr = ((uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
                             (uint32_t)e[3] << 24) &
                            ~1u;
            uint32_t l = ((uint32_t)e[4] | (uint32_t)e[5] << 8) & 0xfffe;
            bus->prd_left = l ? l : 0x10000;
            bus->prd_last = e[7] & 0x80;
        }
        uint32_t n = len < bus->prd_left ? len : bus->prd_left;
        DMAResult r = to_guest ? pci_dma_write(bus->pci, bus->prd_addr, buf, n)
                               : pci_dma_read(bus->pci, bus->prd_addr, buf, n);
        if (r != DMA_OK) {
            bus->bm_status |= BM_ST_ERROR;
            return false;
        }
        bus->prd_addr += n;
        bus->prd_left -= n;
        buf += n;
        len -= n;
    }
    return true;
}

/* The bus master stops: inactive, and the interrupt (unless the PRD table was short). */
static void dma_finish(IDEState *s, bool irq)
{
    IDEBus *bus = s->bus;
    bus->bm_status &= ~BM_ST_ACTIVE;
    bus->bm_running = false;
    s->dma_cmd = false;
    if (irq) {
        ide_set_irq(bus);
    }
}

static void dma_fault(IDEState *s)
{
    s->status = IDE_DRDY | IDE_ERR;
    s->error = IDE_ABRT;
    if (s->is_cd) {
        s->nsector = (s->nsector & ~7) | 3;
        s->error = 0x50; /* ILLEGAL REQUEST in the sense key bits */
    }
    transfer_stop(s);
    dma_finish(s, true);
}

static void ata_dma_step(IDEState *s);

static void ata_dma_read_done(IDEState *s, int ret)
{
    if (ret < 0 && io_error(s, ret, true)) {
        s->status = IDE_DRDY | IDE_ERR;
        s->error = IDE_UNC | IDE_ABRT;
        dma_finish(s, true);
        return;
    }
    if (!ide_bm_xfer(s->bus, s->buf, s->buf_len, true)) {
        dma_fault(s);
        return;
    }
    uint32_t n = s->buf_len / IDE_SECTOR;
    s->lba += n;
    s->left -= n;
    ata_dma_step(s);
}

static void ata_dma_write_done(IDEState *s, int ret)
{
    if (ret < 0 && io_error(s, ret, false)) {
        s->status = IDE_DRDY | IDE_ERR;
        s->error = IDE_ABRT;
        dma_finish(s, true);
        return;
    }
    uint32_t n = s->buf_len / IDE_SECTOR;
    s->lba += n;
    s->left -= n;
    ata_dma_step(s);
}

/* DATA SET MANAGEMENT: the ranges came by DMA; each is discarded (all at once). */
typedef struct DSMReq {
    IDEState *s;
    uint32_t gen;
    unsigned pending;
    int ret;
} DSMReq;

static void dsm_cb(void *opaque, int ret)
{
    DSMReq *d = opaque;
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    if (ret < 0 && !d->ret) {
        d->ret = ret;
    }
    if (!--d->pending) {
        IDEState *s = d->s;
        if (d->gen == s->gen) {
            s->busy_io = false;
            if (d->ret < 0 && io_error(s, d->ret, false)) {
                s->status = IDE_DRDY | IDE_ERR;
                s->error = IDE_ABRT;
            } else {
                s->status = IDE_DRDY | IDE_DSC;
            }
            dma_finish(s, true);
        }
        g_free(d);
    }
    if (take) {
        vireo_unlock();
    }
}

static void dsm_run(IDEState *s)
{
    uint32_t len = s->left * IDE_SECTOR;
    if (len > IDE_BUF_SIZE) {
        len = IDE_BUF_SIZE;
    }
    if (!ide_bm_xfer(s->bus, s->buf, len, false)) {
        dma_fault(s);
        return;
    }
    DSMReq *d = g_new0(DSMReq, 1);
    d->s = s;
    d->gen = s->gen;
    d->pending = 1;
    s->busy_io = true;
    s->status |= IDE_BSY;
    for (uint32_t off = 0; off + 8 <= len; off += 8) {
        uint64_t e = 0;
        for (int i = 7; i >= 0; i--) {
            e = e << 8 | s->buf[off + i];
        }
        uint64_t lba = e & 0xffffffffffffull, n = e >> 48;
        if (!n) {
            continue;
        }
        if (lba + n > s->nb_sectors) {
            d->ret = -EINVAL;
            break;
        }
        d->pending++;
        blk_aio_pdiscard(s->blk, lba * IDE_SECTOR, n * IDE_SECTOR, dsm_cb, d);
    }
    dsm_cb(d, 0);
}

static void ata_dma_step(IDEState *s)
{
    if (s->cmd == 0x06) {
        if (s->left) {
            dsm_run(s);
            s->left = 0;
        }
        return;
    }
    bool lba48 = lba48_cmd(s->cmd);
    set_sector(s, s->lba, lba48);
    if (!s->left) {
        s->nsector = 0;
        s->hob_nsector = 0;
        s->status = IDE_DRDY | IDE_DSC;
        dma_finish(s, true);
        return;
    }
    uint32_t n = s->left < IDE_BUF_SIZE / IDE_SECTOR ? s->left : IDE_BUF_SIZE / IDE_SECTOR;
    s->buf_len = n * IDE_SECTOR;
    if (s->dma_to_guest) {
        ide_start_chunk_read(s, s->lba * IDE_SECTOR, s->buf_len, ata_dma_read_done);
    } else {
        if (!ide_bm_xfer(s->bus, s->buf, s->buf_len, false)) {
            dma_fault(s);
            return;
        }
        start_chunk_write(s, s->lba * IDE_SECTOR, s->buf_len, ata_dma_write_done);
    }
}

void ide_dma_start(IDEState *s, bool to_guest)
{
    s->dma_cmd = true;
    s->dma_to_guest = to_guest;
    s->status = IDE_DRDY | IDE_DSC | IDE_DRQ;
    if (s->bus->bm_status & BM_ST_ACTIVE) {
        ide_dma_run(s->bus);
    }
}

/* Both the command and the bus master are ready: check the PRD table, then move the data. */
void ide_dma_run(IDEBus *bus)
{
    IDEState *s = &bus->ifs[bus->cur];
    if (!s->dma_cmd) {
        s = &bus->ifs[bus->cur ^ 1];
        if (!s->dma_cmd) {
            return;
        }
    }
    if (bus->bm_running) {
        return;
    }
    bus->bm_running = true;
    bus->prd_index = 0;
    bus->prd_left = 0;
    bus->prd_last = false;
    uint64_t need = s->is_cd ? s->atapi_total : (uint64_t)s->left * IDE_SECTOR;
    int64_t have = prd_coverage(bus);
    if (have < 0) {
        bus->bm_status |= BM_ST_ERROR;
        dma_fault(s);
        return;
    }
    if ((uint64_t)have < need) {
        /* QEMU: a PRD table too short for the request ends it without an interrupt */
        s->status = IDE_DRDY | IDE_DSC;
        transfer_stop(s);
        dma_finish(s, false);
        return;
    }
    if (s->is_cd) {
        ide_atapi_chunk_done(s, 0);
    } else {
        ata_dma_step(s);
    }
}

/* ---- commands ---- */

static void flush_done(IDEState *s, int ret)
{
    if (ret < 0 && io_error(s, ret, false)) {
        s->status = IDE_DRDY | IDE_ERR;
        s->error = IDE_ABRT;
        ide_set_irq(s->bus);
        return;
    }
    ide_cmd_done(s);
}

static void flush_cb(void *opaque, int ret)
{
    req_cb(opaque, ret);
}

/* Start a read/write: range check, then PIO or DMA. */
static void rw_cmd(IDEState *s, bool lba48, bool is_write, bool dma, uint32_t block)
{
    if (!s->blk || s->is_cd) {
        ide_abort(s);
        return;
    }
    uint64_t lba = get_sector(s, lba48);
    uint32_t n = get_count(s, lba48);
    if (!blk_is_inserted(s->blk) || lba + n > s->nb_sectors || lba + n < lba) {
        ide_abort(s);
        return;
    }
    if (is_write && blk_is_read_only(s->blk)) {
        ide_abort(s);
        return;
    }
    s->lba = lba;
    s->left = n;
    s->block = block;
    if (dma) {
        ide_dma_start(s, !is_write);
    } else if (is_write) {
        uint32_t w = n < block ? n : block;
        s->buf_len = w * IDE_SECTOR;
        s->status = IDE_DRDY | IDE_DSC;
        transfer_start(s, 0, s->buf_len, PIO_WRITE);
    } else {
        s->status = IDE_DRDY | IDE_DSC;
        pio_read_next_chunk(s);
    }
}

static void verify_cmd(IDEState *s, bool lba48)
{
    uint64_t lba = get_sector(s, lba48);
    uint32_t n = get_count(s, lba48);
    if (!s->blk || s->is_cd || lba + n > s->nb_sectors) {
        ide_abort(s);
        return;
    }
    set_sector(s, lba + n - 1, lba48);
    ide_cmd_done(s);
}

static void unit_reset(IDEState *s);

static void exec_cmd(IDEState *s, uint8_t val)
{
    IDEBus *bus = s->bus;
    s->cmd = val;
    s->error = 0;
    switch (val) {
    case 0xec: /* IDENTIFY DEVICE */
        if (s->blk && !s->is_cd) {
            ata_identify(s);
            memcpy(s->buf, s->identify, 512);
            s->status = IDE_DRDY | IDE_DSC;
            transfer_start(s, 0, 512, PIO_IDENTIFY);
            ide_set_irq(bus);
        } else {
            if (s->is_cd) {
                set_signature(s);
            }
            ide_abort(s);
        }
        return;
    case 0xa1: /* IDENTIFY PACKET DEVICE */
        if (!s->is_cd) {
            ide_abort(s);
            return;
        }
        ide_atapi_identify(s);
        memcpy(s->buf, s->identify, 512);
        s->status = IDE_DRDY | IDE_DSC;
        transfer_start(s, 0, 512, PIO_IDENTIFY);
        ide_set_irq(bus);
        return;
    case 0x20: /* READ SECTORS */
    case 0x21:
        rw_cmd(s, false, false, false, 1);
        return;
    case 0x24:
        rw_cmd(s, true, false, false, 1);
        return;
    case 0x30: /* WRITE SECTORS */
    case 0x31:
        rw_cmd(s, false, true, false, 1);
        return;
    case 0x34:
        rw_cmd(s, true, true, false, 1);
        return;
    case 0xc4: /* READ MULTIPLE */
    case 0x29:
    case 0xc5: /* WRITE MULTIPLE */
    case 0x39:
        if (!s->mult_sectors) {
            ide_abort(s);
            return;
        }
        rw_cmd(s, val == 0x29 || val == 0x39, val == 0xc5 || val == 0x39, false, s->mult_sectors);
        return;
    case 0xc8: /* READ DMA */
    case 0xc9:
        rw_cmd(s, false, false, true, 1);
        return;
    case 0x25:
        rw_cmd(s, true, false, true, 1);
        return;
    case 0xca: /* WRITE DMA */
    case 0xcb:
        rw_cmd(s, false, true, true, 1);
        return;
    case 0x35:
        rw_cmd(s, true, true, true, 1);
        return;
    case 0x40: /* READ VERIFY SECTORS */
    case 0x41:
        verify_cmd(s, false);
        return;
    case 0x42:
        verify_cmd(s, true);
        return;
    case 0xc6: /* SET MULTIPLE MODE */
        if (s->is_cd || !s->blk || s->nsector > IDE_MAX_MULT || (s->nsector & (s->nsector - 1))) {
            ide_abort(s);
            return;
        }
        s->mult_sectors = s->nsector;
        ide_cmd_done(s);
        return;
    case 0xe7: /* FLUSH CACHE */
    case 0xea:
        if (!s->blk || !blk_is_inserted(s->blk)) {
            ide_cmd_done(s);
            return;
        }
        {
            IDEReq *r = new_req(s, flush_done, 0);
            blk_aio_flush(s->blk, flush_cb, r);
        }
        return;
    case 0xef: /* SET FEATURES */
        if (!s->blk) {
            ide_abort(s);
            return;
        }
        switch (s->feature) {
        case 0x02: /* write cache on */
        case 0x82: /* write cache off */
            blk_set_enable_write_cache(s->blk, s->feature == 0x02);
            if (s->identify_set) {
                ide_put16(s->identify, 85, (1 << 14) | (s->feature == 0x02 ? (1 << 5) : 0) | 1);
            }
            ide_cmd_done(s);
            return;
        case 0x03: /* transfer mode */
            if (!s->identify_set) {
                if (s->is_cd) {
                    ide_atapi_identify(s);
                } else {
                    ata_identify(s);
                }
            }
            if (!set_xfer_mode(s, s->nsector)) {
                ide_abort(s);
                return;
            }
            ide_cmd_done(s);
            return;
        case 0xcc:
        case 0x66:
        case 0x04:
        case 0x05:
        case 0x85:
        case 0x42:
        case 0xaa:
        case 0x55:
        case 0x69:
        case 0x96:
        case 0x9a:
        case 0x31:
        case 0xcd:
            ide_cmd_done(s);
            return;
        default:
            ide_abort(s);
            return;
        }
    case 0x91: /* INITIALIZE DEVICE PARAMETERS */
        if (s->is_cd || !s->blk) {
            ide_abort(s);
            return;
        }
        ide_cmd_done(s);
        return;
    case 0x10: /* RECALIBRATE */
    case 0x70: /* SEEK */
        if (s->is_cd || !s->blk) {
            ide_abort(s);
            return;
        }
        ide_cmd_done(s);
        return;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3:
    case 0xe6: /* power management */
        ide_cmd_done(s);
        return;
    case 0xe5: /* CHECK POWER MODE */
        s->nsector = 0xff;
        ide_cmd_done(s);
        return;
    case 0x90: /* EXECUTE DEVICE DIAGNOSTIC */
        set_signature(s);
        s->status = s->is_cd ? 0 : IDE_DRDY | IDE_DSC;
        s->error = 0x01;
        transfer_stop(s);
        ide_set_irq(bus);
        return;
    case 0x08: /* DEVICE RESET */
        if (!s->is_cd) {
            ide_abort(s);
            return;
        }
        unit_reset(s);
        set_signature(s);
        s->status = 0;
        return;
    case 0xf8: /* READ NATIVE MAX ADDRESS */
    case 0x27:
        if (s->is_cd || !s->blk || !s->nb_sectors) {
            ide_abort(s);
            return;
        }
        set_sector(s, s->nb_sectors - 1, val == 0x27);
        ide_cmd_done(s);
        return;
    case 0x06: /* DATA SET MANAGEMENT (TRIM, DMA) */
        if (s->is_cd || !s->blk || !(s->feature & 1)) {
            ide_abort(s);
            return;
        }
        s->left = s->nsector ? s->nsector : 256;
        s->lba = 0;
        ide_dma_start(s, false);
        return;
    case 0xa0: /* PACKET */
        if (!s->is_cd) {
            ide_abort(s);
            return;
        }
        s->atapi_dma = s->feature & 1;
        s->byte_limit = (uint16_t)(s->lcyl | s->hcyl << 8);
        s->nsector = 1;
        s->status = IDE_DRDY | IDE_DSC;
        transfer_start(s, 0, 12, PIO_PACKET);
        return;
    default:
        ide_abort(s);
        return;
    }
}

/* ---- the registers ---- */

static bool no_drives(IDEBus *bus)
{
    return !bus->ifs[0].blk && !bus->ifs[1].blk;
}

static uint32_t data_read(IDEState *s, unsigned size)
{
    if (!(s->status & IDE_DRQ) || s->pio_kind == PIO_WRITE || s->pio_kind == PIO_PACKET ||
        s->data_pos + size > s->data_end) {
        return 0;
    }
    uint32_t v = s->buf[s->data_pos] | (uint32_t)s->buf[s->data_pos + 1] << 8;
    if (size == 4) {
        v |= (uint32_t)s->buf[s->data_pos + 2] << 16 | (uint32_t)s->buf[s->data_pos + 3] << 24;
    }
    s->data_pos += size;
    if (s->data_pos >= s->data_end) {
        end_transfer(s);
    }
    return v;
}

static void data_write(IDEState *s, uint32_t v, unsigned size)
{
    if (!(s->status & IDE_DRQ) || (s->pio_kind != PIO_WRITE && s->pio_kind != PIO_PACKET) ||
        s->data_pos + size > s->data_end) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        s->buf[s->data_pos + i] = (uint8_t)(v >> (8 * i));
    }
    s->data_pos += size;
    if (s->data_pos >= s->data_end) {
        end_transfer(s);
    }
}

uint64_t ide_ioport_read(IDEBus *bus, uint32_t reg, unsigned size)
{
    IDEState *s = &bus->ifs[bus->cur];
    bool hob = bus->ctrl & IDE_CTRL_HOB;
    bool absent = no_drives(bus) || (bus->cur && !s->blk);
    if (reg == 0) {
        if (size == 1) {
            return 0xff;
        }
        return data_read(s, size == 4 ? 4 : 2);
    }
    switch (reg) {
    case 1:
        return absent ? 0 : hob ? s->hob_feature : s->error;
    case 2:
        return no_drives(bus) ? 0 : hob ? s->hob_nsector : s->nsector;
    case 3:
        return no_drives(bus) ? 0 : hob ? s->hob_sector : s->sector;
    case 4:
        return no_drives(bus) ? 0 : hob ? s->hob_lcyl : s->lcyl;
    case 5:
        return no_drives(bus) ? 0 : hob ? s->hob_hcyl : s->hcyl;
    case 6:
        return no_drives(bus) ? 0 : s->select;
    default:
        ide_lower_irq(bus);
        return absent ? 0 : s->status;
    }
}

void ide_ioport_write(IDEBus *bus, uint32_t reg, uint64_t val, unsigned size)
{
    IDEState *s = &bus->ifs[bus->cur];
    if (reg == 0) {
        if (size >= 2) {
            data_write(s, (uint32_t)val, size == 4 ? 4 : 2);
        }
        return;
    }
    uint8_t v = (uint8_t)val;
    if (reg != 7) {
        bus->ctrl &= ~IDE_CTRL_HOB;
    }
    for (int i = 0; i < 2 && reg != 7; i++) {
        IDEState *u = &bus->ifs[i];
        switch (reg) {
        case 1:
            u->hob_feature = u->feature;
            u->feature = v;
            break;
        case 2:
            u->hob_nsector = u->nsector;
            u->nsector = v;
            break;
        case 3:
            u->hob_sector = u->sector;
            u->sector = v;
            break;
        case 4:
            u->hob_lcyl = u->lcyl;
            u->lcyl = v;
            break;
        case 5:
            u->hob_hcyl = u->hcyl;
            u->hcyl = v;
            break;
        case 6:
            u->select = v | 0xa0;
            break;
        }
    }
    if (reg == 6) {
        bus->cur = (v >> 4) & 1;
        return;
    }
    if (reg != 7) {
        return;
    }
    /* command: ignored for an absent slave, and while busy (but DEVICE RESET of a CD) */
    if (bus->cur && !s->blk) {
        return;
    }
    if ((s->status & (IDE_BSY | IDE_DRQ)) && !(v == 0x08 && s->is_cd)) {
        return;
    }
    ide_lower_irq(bus);
    exec_cmd(s, v);
}

uint8_t ide_ctrl_read(IDEBus *bus)
{
    IDEState *s = &bus->ifs[bus->cur];
    if (no_drives(bus) || (bus->cur && !s->blk)) {
        return 0;
    }
    return s->status;
}

static void unit_reset(IDEState *s)
{
    cancel_io(s);
    s->mult_sectors = IDE_MAX_MULT;
    s->feature = s->error = s->nsector = s->sector = s->lcyl = s->hcyl = 0;
    s->hob_feature = s->hob_nsector = s->hob_sector = s->hob_lcyl = s->hob_hcyl = 0;
    s->select = 0xa0;
    s->status = IDE_DRDY | IDE_DSC;
    s->cmd = 0;
    s->sense_key = s->asc = s->ascq = 0;
    s->cdrom_changed = 0;
    s->dma_cmd = false;
    s->left = 0;
    s->buf_len = s->buf_pos = 0;
    transfer_stop(s);
}

void ide_ctrl_write(IDEBus *bus, uint8_t val)
{
    if (!(bus->ctrl & IDE_CTRL_SRST) && (val & IDE_CTRL_SRST)) {
        /* reset asserted: both units busy until it is released */
        for (int i = 0; i < 2; i++) {
            IDEState *s = &bus->ifs[i];
            if (s->dma_cmd || s->busy_io) {
                bus->bm_status &= ~BM_ST_ACTIVE;
                bus->bm_running = false;
            }
            unit_reset(s);
            set_signature(s);
            s->status = IDE_BSY | IDE_DSC;
            s->error = 0x01;
        }
    } else if ((bus->ctrl & IDE_CTRL_SRST) && !(val & IDE_CTRL_SRST)) {
        for (int i = 0; i < 2; i++) {
            IDEState *s = &bus->ifs[i];
            s->status = s->is_cd ? 0 : IDE_DRDY | IDE_DSC;
            s->error = 0x01;
        }
    }
    bus->ctrl = val;
}

/* ---- bus master registers ---- */

uint64_t ide_bmdma_read(IDEBus *bus, uint32_t reg, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size && reg + i < 8; i++) {
        uint8_t b;
        switch (reg + i) {
        case 0:
            b = bus->bm_cmd;
            break;
        case 2:
            b = bus->bm_status;
            break;
        case 4:
        case 5:
        case 6:
        case 7:
            b = (uint8_t)(bus->bm_addr >> (8 * (reg + i - 4)));
            break;
        default:
            b = 0;
            break;
        }
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

static void bm_cmd_write(IDEBus *bus, uint8_t val)
{
    if (!(val & BM_CMD_START)) {
        if (bus->bm_status & BM_ST_ACTIVE) {
            /* stop: what is in flight is waited for and forgotten */
            for (int i = 0; i < 2; i++) {
                IDEState *s = &bus->ifs[i];
                if (s->dma_cmd) {
                    cancel_io(s);
                    s->dma_cmd = false;
                    s->status &= ~(IDE_BSY | IDE_DRQ);
                }
            }
            bus->bm_running = false;
            bus->bm_status &= ~BM_ST_ACTIVE;
        }
        bus->bm_cmd = val & 0x09;
        return;
    }
    bus->bm_cmd = val & 0x09;
    if (!(bus->bm_status & BM_ST_ACTIVE)) {
        bus->bm_status |= BM_ST_ACTIVE;
        ide_dma_run(bus);
    }
}

void ide_bmdma_write(IDEBus *bus, uint32_t reg, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size && reg + i < 8; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        switch (reg + i) {
        case 0:
            bm_cmd_write(bus, b);
            break;
        case 2:
            bus->bm_status = (b & 0x60) | (bus->bm_status & BM_ST_ACTIVE) |
                             (bus->bm_status & ~b & (BM_ST_ERROR | BM_ST_INTR));
            break;
        case 4:
        case 5:
        case 6:
        case 7: {
            unsigned sh = 8 * (reg + i - 4);
            bus->bm_addr = ((bus->bm_addr & ~(0xffu << sh)) | ((uint32_t)b << sh)) & ~3u;
            break;
        }
        default:
            break;
        }
    }
}

/* ---- channels ---- */

void ide_bus_init(IDEBus *bus, int bus_id, IRQ *irq, PCIDevice *pci)
{
    memset(bus, 0, sizeof(*bus));
    bus->bus_id = bus_id;
    snprintf(bus->name, sizeof(bus->name), "ide.%d", bus_id);
    bus->irq = irq;
    bus->pci = pci;
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];
        s->bus = bus;
        s->unit = i;
        s->buf = g_malloc0(IDE_BUF_SIZE + 4);
        unit_reset(s);
        set_signature(s);
    }
}

void ide_bus_reset(IDEBus *bus)
{
    bus->cur = 0;
    bus->ctrl = 0;
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];
        unit_reset(s);
        set_signature(s);
        s->xfer_mode = 0;
        s->identify_set = false;
        if (s->is_cd) {
            s->tray_locked = false;
            s->tray_open = false;
        }
    }
    bus->bm_cmd = 0;
    bus->bm_status &= 0x60;
    bus->bm_addr = 0;
    bus->bm_running = false;
    ide_lower_irq(bus);
}

void ide_bus_cleanup(IDEBus *bus)
{
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];
        cancel_io(s);
        g_free(s->buf);
        s->buf = NULL;
    }
}

void ide_unit_attach(IDEState *s, IDEDevice *dev, BlockBackend *blk, bool is_cd)
{
    s->dev = dev;
    s->blk = blk;
    s->is_cd = is_cd;
    s->identify_set = false;
    int64_t len = blk_getlength(blk);
    s->nb_sectors = len > 0 ? (uint64_t)len / IDE_SECTOR : 0;
    unit_reset(s);
    set_signature(s);
}

void ide_unit_detach(IDEState *s)
{
    cancel_io(s);
    s->dev = NULL;
    s->blk = NULL;
    s->is_cd = false;
    unit_reset(s);
    set_signature(s);
}

/* ---- saved state ---- */

static const VMStateField ide_unit_fields[] = {
    VMSTATE_UINT8(feature, IDEState),
    VMSTATE_UINT8(error, IDEState),
    VMSTATE_UINT8(nsector, IDEState),
    VMSTATE_UINT8(sector, IDEState),
    VMSTATE_UINT8(lcyl, IDEState),
    VMSTATE_UINT8(hcyl, IDEState),
    VMSTATE_UINT8(select, IDEState),
    VMSTATE_UINT8(status, IDEState),
    VMSTATE_UINT8(hob_feature, IDEState),
    VMSTATE_UINT8(hob_nsector, IDEState),
    VMSTATE_UINT8(hob_sector, IDEState),
    VMSTATE_UINT8(hob_lcyl, IDEState),
    VMSTATE_UINT8(hob_hcyl, IDEState),
    VMSTATE_UINT8(cmd, IDEState),
    VMSTATE_UINT8(mult_sectors, IDEState),
    VMSTATE_UINT8(xfer_mode, IDEState),
    VMSTATE_BOOL(identify_set, IDEState),
    VMSTATE_BUFFER(identify, IDEState),
    VMSTATE_UINT32(data_pos, IDEState),
    VMSTATE_UINT32(data_end, IDEState),
    VMSTATE_UINT32(buf_len, IDEState),
    VMSTATE_UINT32(buf_pos, IDEState),
    VMSTATE_UINT8(pio_kind, IDEState),
    VMSTATE_BOOL(dma_cmd, IDEState),
    VMSTATE_BOOL(dma_to_guest, IDEState),
    VMSTATE_UINT64(lba, IDEState),
    VMSTATE_UINT32(left, IDEState),
    VMSTATE_UINT32(block, IDEState),
    VMSTATE_UINT8(sense_key, IDEState),
    VMSTATE_UINT8(asc, IDEState),
    VMSTATE_UINT8(ascq, IDEState),
    VMSTATE_UINT16(byte_limit, IDEState),
    VMSTATE_BOOL(atapi_dma, IDEState),
    VMSTATE_UINT32(atapi_total, IDEState),
    VMSTATE_BOOL(tray_open, IDEState),
    VMSTATE_BOOL(tray_locked, IDEState),
    VMSTATE_UINT8(cdrom_changed, IDEState),
    VMSTATE_BOOL(media_event, IDEState),
    VMSTATE_BOOL(eject_request, IDEState),
    VMSTATE_BUFFER(packet, IDEState),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription ide_unit_vmstate = {
    .name = "ide_drive",
    .version = 1,
    .minimum_version = 1,
    .fields = ide_unit_fields,
};

static void ide_bus_pre_save(void *opaque)
{
    IDEBus *bus = opaque;
    for (int i = 0; i < 2; i++) {
        if (bus->ifs[i].blk) {
            blk_drain(bus->ifs[i].blk);
        }
    }
}

static bool ide_bus_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    IDEBus *bus = opaque;
    bus->cur &= 1;
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];
        /* a PIO window must lie inside the buffer */
        if (s->data_end > IDE_BUF_SIZE || s->data_pos > s->data_end || s->buf_len > IDE_BUF_SIZE ||
            s->buf_pos > s->buf_len || s->pio_kind > PIO_DSM) {
            transfer_stop(s);
            s->buf_len = s->buf_pos = 0;
        }
    }
    if (bus->irq_pending && !(bus->ctrl & IDE_CTRL_NIEN)) {
        irq_raise(bus->irq);
    } else {
        irq_lower(bus->irq);
    }
    return true;
}

static const VMStateField ide_bus_fields[] = {
    VMSTATE_STRUCT(ifs[0], IDEBus, ide_unit_vmstate),
    VMSTATE_STRUCT(ifs[1], IDEBus, ide_unit_vmstate),
    VMSTATE_INT32(cur, IDEBus),
    VMSTATE_UINT8(ctrl, IDEBus),
    VMSTATE_BOOL(irq_pending, IDEBus),
    VMSTATE_UINT8(bm_cmd, IDEBus),
    VMSTATE_UINT8(bm_status, IDEBus),
    VMSTATE_UINT32(bm_addr, IDEBus),
    VMSTATE_UINT32(prd_index, IDEBus),
    VMSTATE_UINT32(prd_addr, IDEBus),
    VMSTATE_UINT32(prd_left, IDEBus),
    VMSTATE_BOOL(prd_last, IDEBus),
    VMSTATE_END_OF_LIST(),
};

const VMStateDescription ide_bus_vmstate = {
    .name = "ide_bus",
    .version = 1,
    .minimum_version = 1,
    .fields = ide_bus_fields,
    .pre_save = ide_bus_pre_save,
    .post_load = ide_bus_post_load,
};
