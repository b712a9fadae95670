/*
 * The emulator's drives: -drive, -blockdev, -snapshot, -hda..-hdd and -cdrom as QEMU 7.2 takes
 * them (system/blockdev.c), turned into block backends (block-backend.h) and node graphs.
 *
 * Start-up: the command line keeps each option's text (config.h); blockdev_init_all() then
 * opens every -blockdev, then every -drive in order, with QEMU's checks and messages. A drive
 * with if=virtio/ide/scsi/floppy... asks for a device: drive_interfaces[] says which -device
 * type QEMU makes for each interface on the pc machine, and the device model creates them from
 * drive_implied_devices() after the -device ones (as QEMU appends them). An interface whose
 * device Vireo does not have yet (its .device is NULL) is refused with a clear message; the
 * device developers fill the table as the devices arrive.
 */
#ifndef VIREO_BLOCKDEV_H
#define VIREO_BLOCKDEV_H

#include <stdbool.h>
#include "vireo/block-backend.h"
#include "vireo/config.h"

typedef enum {
    IF_NONE,
    IF_IDE,
    IF_SCSI,
    IF_FLOPPY,
    IF_PFLASH,
    IF_MTD,
    IF_SD,
    IF_VIRTIO,
    IF_XEN,
    IF_COUNT,
} BlockInterfaceType;

/* What QEMU keeps about a -drive (DriveInfo). */
typedef struct DriveInfo {
    BlockInterfaceType type;
    int bus, unit;
    bool media_cd;
    char *id;
    char *loc; /* "-drive ARG", for messages about its device */
    BlockBackend *blk;
} DriveInfo;

/*
 * Per interface: QEMU's name, how many units a bus has (0: one bus, any number), the -device
 * type QEMU creates for a drive on it on the pc machine, and Vireo's: NULL until Vireo has
 * the device (then set to the same name), with `missing` saying what is lacking.
 */
typedef struct DriveInterface {
    const char *name;
    int max_devs;
    int max_bus;         /* buses the pc machine has for it (-1: the machine has none) */
    const char *device;  /* the -device driver Vireo creates, or NULL */
    const char *missing; /* why it is refused while device is NULL */
} DriveInterface;
extern DriveInterface drive_interfaces[IF_COUNT];

/* A device a -drive implies (QEMU adds "-device DRIVER,drive=ID" for it). */
typedef struct DriveDevice {
    const char *driver;
    DriveInfo *dinfo;
} DriveDevice;

/*
 * Open every -blockdev and -drive of cfg (after the chardevs and monitors, before the
 * machine). Prints QEMU's errors with the option's location and returns -1 on the first.
 */
int blockdev_init_all(const VireoConfig *cfg);
/* The devices the drives imply, in -drive order (for the device model). */
const DriveDevice *drive_implied_devices(int *n);
DriveInfo *drive_get(BlockInterfaceType type, int bus, int unit);
DriveInfo *drive_get_by_blk(BlockBackend *blk);
/* At exit: every backend and node is flushed and closed. */
void blockdev_close_all(void);

/* blockdev-add / -blockdev's work: open a graph from options, its root named. */
BlockDriverState *blockdev_add(const QJ *options, bool keyval, char **errp);
/* blockdev-del: QEMU's checks ("Node 'x' is busy: ..."), then close. */
int blockdev_del(const char *node_name, char **errp);

/*
 * The parser's part (system/cmdline-block.c): store each option's text after QEMU's
 * parse-time checks (-drive: syntax and id; -blockdev: syntax and the whole schema); -1 after
 * printing the error with its location. index/cdrom: -hda..-hdd (0..3), -cdrom (2, cdrom).
 */
int cmdline_drive(VireoConfig *cfg, const char *arg, const char *loc);
int cmdline_drive_sugar(VireoConfig *cfg, int index, bool cdrom, const char *file, const char *loc);
int cmdline_blockdev(VireoConfig *cfg, const char *arg, const char *loc);
void cmdline_block_free(VireoConfig *cfg);
/* -blockdev's text into options: JSON when it starts with '{', else dotted keys. */
QJ *blockdev_parse(const char *arg, bool *keyval, char **errp);

#endif
