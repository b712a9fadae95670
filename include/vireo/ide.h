/*
 * IDE (hw/ide/, docs/ide.md): the ATA register file of a channel with its two units, ATA PIO
 * and bus-master DMA, ATAPI for CD-ROMs, and the devices on the channels (ide-hd, ide-cd).
 *
 * A controller (PIIX3's IDE function, piix.c) owns two IDEBus channels: it routes the legacy
 * ports (0x1F0-0x1F7 + 0x3F6 for ide.0, 0x170-0x177 + 0x376 for ide.1) and its bus-master
 * registers to ide_ioport_*() / ide_bmdma_*(), gives each channel an IRQ handle and the PCI
 * device through which DMA reaches guest memory (pci_dma_*: bus master must be on, only RAM is
 * a target). Devices (ide-dev.c) plug into a channel's unit and give it a block backend.
 *
 * Requests to the block layer complete on the main loop; the channel keeps BSY meanwhile. A
 * reset (SRST, machine reset, BM stop during a transfer) waits for what is in flight and forgets
 * its result (a generation number per unit).
 */
#ifndef VIREO_IDE_H
#define VIREO_IDE_H

#include <stdbool.h>
#include <stdint.h>
#include "vireo/device.h"

typedef struct IDEBus IDEBus;
typedef struct IDEState IDEState;
typedef struct IDEDevice IDEDevice;
typedef struct BlockBackend BlockBackend;
typedef struct PCIDevice PCIDevice;
typedef struct IRQ IRQ;

/* status register */
#define IDE_ERR  0x01
#define IDE_DRQ  0x08
#define IDE_DSC  0x10
#define IDE_DF   0x20
#define IDE_DRDY 0x40
#define IDE_BSY  0x80
/* error register */
#define IDE_ABRT 0x04
#define IDE_IDNF 0x10
#define IDE_UNC  0x40
/* device control register */
#define IDE_CTRL_NIEN 0x02
#define IDE_CTRL_SRST 0x04
#define IDE_CTRL_HOB  0x80
/* bus master registers */
#define BM_CMD_START 0x01
#define BM_CMD_READ  0x08 /* the device writes to memory */
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR  0x02
#define BM_ST_INTR   0x04

#define IDE_SECTOR    512
#define IDE_CD_SECTOR 2048
#define IDE_MAX_MULT  16
#define IDE_BUF_SIZE  (256 * 1024) /* one chunk of a transfer: 512 disk or 128 CD sectors */

/* What the PIO window does when the guest has moved its last byte. */
typedef enum {
    PIO_NONE,
    PIO_READ,     /* ATA read: next block, or the next chunk from the disk */
    PIO_WRITE,    /* ATA write: the block goes to the disk */
    PIO_IDENTIFY, /* one-shot data-in (IDENTIFY): done */
    PIO_PACKET,   /* ATAPI: the 12 command bytes came */
    PIO_ATAPI_IN, /* ATAPI data-in: next window, next chunk, or the end */
    PIO_DSM,      /* (unused for PIO: DATA SET MANAGEMENT is DMA) */
} PIOKind;

/* One unit of a channel: its task-file registers and whatever drive sits there. */
struct IDEState {
    IDEBus *bus;
    int unit;
    IDEDevice *dev; /* NULL: no drive (the unit reads as absent) */
    BlockBackend *blk;
    bool is_cd;
    uint64_t nb_sectors; /* 512-byte sectors of the medium */
    uint32_t cyls, heads, secs;
    uint32_t drive_serial;
    char serial[21], model[41], version[9];
    uint64_t wwn;
    uint16_t rotation_rate;

    /* task file */
    uint8_t feature, error, nsector, sector, lcyl, hcyl, select, status;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    uint8_t cmd;
    uint8_t mult_sectors;
    uint8_t xfer_mode; /* SET FEATURES 03h: the selected mode (0: default PIO) */
    bool identify_set;
    uint8_t identify[512];

    /* the transfer of the command in progress */
    uint8_t *buf;                /* IDE_BUF_SIZE + 4 */
    uint32_t data_pos, data_end; /* PIO window in buf */
    uint32_t buf_len;            /* valid bytes in buf (a chunk) */
    uint32_t buf_pos;            /* next byte of buf to hand out */
    uint8_t pio_kind;
    bool dma_cmd; /* the command waits for (or runs) the bus master */
    bool dma_to_guest;
    bool busy_io;   /* a block request is in flight */
    uint64_t lba;   /* next sector of the request (512 or 2048 bytes) */
    uint32_t left;  /* sectors (ATA) or bytes (ATAPI in) still to move */
    uint32_t block; /* PIO: sectors per interrupt (1 or the multiple count) */
    uint32_t gen;   /* bumped by resets: completions of older requests are dropped */

    /* ATAPI */
    uint8_t sense_key, asc, ascq;
    uint16_t byte_limit;  /* the guest's byte count limit for PIO data-in */
    bool atapi_dma;       /* the packet asked for DMA */
    uint32_t atapi_total; /* bytes the command moves in all */
    bool tray_open, tray_locked, media_event, eject_request;
    uint8_t cdrom_changed; /* 1: medium came (NOT READY next), 2: UNIT ATTENTION next */
    uint8_t packet[12];
};

/* A channel. */
struct IDEBus {
    int bus_id;
    char name[8]; /* "ide.0", "ide.1" */
    IDEState ifs[2];
    int cur;      /* the selected unit (DEV bit of the device register) */
    uint8_t ctrl; /* device control register */
    bool irq_pending;
    IRQ *irq;
    PCIDevice *pci;
    /* bus master */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_addr;            /* PRD table */
    uint32_t prd_index;          /* next PRD entry */
    uint32_t prd_addr, prd_left; /* the current entry's rest */
    bool prd_last;               /* the current entry is the table's last */
    bool bm_running;             /* a DMA command is transferring */
};

/* The device part (ide-hd, ide-cd): a qdev on an IDE bus. */
struct IDEDevice {
    Device dev;
    uint32_t unit; /* property, 0xffffffff: the first free one */
    int32_t bootindex;
    char *drive, *serial, *model, *version;
    uint64_t wwn;
    uint32_t cyls, heads, secs, lcyls, lheads, lsecs;
    int bios_chs_trans;
    uint32_t logical_block_size, physical_block_size, min_io_size, opt_io_size;
    uint32_t discard_granularity;
    uint16_t rotation_rate;
    int rerror, werror, write_cache, account_failed, account_invalid, backend_defaults;
    bool share_rw;
    /* state */
    IDEBus *bus;
    BlockBackend *blk;
    bool own_blk, attached;
};

/* ---- channels (controllers) ---- */
void ide_bus_init(IDEBus *bus, int bus_id, IRQ *irq, PCIDevice *pci);
void ide_bus_reset(IDEBus *bus);
/* Drain and let go of the buffers (controller unrealize). */
void ide_bus_cleanup(IDEBus *bus);
uint64_t ide_ioport_read(IDEBus *bus, uint32_t reg, unsigned size); /* 0-7 */
void ide_ioport_write(IDEBus *bus, uint32_t reg, uint64_t val, unsigned size);
uint8_t ide_ctrl_read(IDEBus *bus); /* alternate status */
void ide_ctrl_write(IDEBus *bus, uint8_t val);
uint64_t ide_bmdma_read(IDEBus *bus, uint32_t reg, unsigned size); /* 0-7 of the channel */
void ide_bmdma_write(IDEBus *bus, uint32_t reg, uint64_t val, unsigned size);
/* The channels of the machine's controller (ide.0/ide.1), for bus= and -drive if=ide. */
IDEBus *ide_bus_by_name(const char *name);
extern const VMStateDescription ide_bus_vmstate;

/* ---- devices ---- */
/* A drive came onto (or left) unit of bus (ide-dev.c). */
void ide_unit_attach(IDEState *s, IDEDevice *dev, BlockBackend *blk, bool is_cd);
void ide_unit_detach(IDEState *s);
void ide_set_irq(IDEBus *bus);
/* Medium changes of a CD (the QMP tray commands). */
void ide_cd_change_media(IDEState *s, bool load);
void ide_cd_eject_request(IDEState *s, bool force);

/* ---- inside hw/ide (core.c <-> atapi.c) ---- */
/* IDENTIFY data: a little-endian word; an ATA string (byte pairs swapped, space padded) */
void ide_put16(uint8_t *id, int word, uint16_t v);
void ide_padstr(uint8_t *id, int word, const char *src, int len);
void ide_atapi_cmd(IDEState *s);      /* the packet is in s->packet */
void ide_atapi_pio_next(IDEState *s); /* the guest took a data-in window */
void ide_atapi_ok(IDEState *s);       /* command completion */
void ide_atapi_error(IDEState *s, uint8_t key, uint8_t asc, uint8_t ascq);
void ide_atapi_chunk_done(IDEState *s, int ret); /* a READ chunk came from the disk */
void ide_atapi_identify(IDEState *s);
void ide_start_chunk_read(IDEState *s, uint64_t offset, uint32_t len,
                          void (*done)(IDEState *s, int ret));
void ide_dma_start(IDEState *s, bool to_guest); /* the command is ready for the bus master */
void ide_dma_run(IDEBus *bus);
void ide_cmd_done(IDEState *s); /* status ready, interrupt */
void ide_abort(IDEState *s);
/* Move len bytes between buf and the guest through the PRD table; false on a PRD or DMA
 * fault (then BM_ST_ERROR is set). */
bool ide_bm_xfer(IDEBus *bus, uint8_t *buf, uint32_t len, bool to_guest);

#endif
