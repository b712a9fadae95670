/*
 * Block backends: what a disk device stands on (the emulator side of the block layer).
 *
 * A BlockBackend (BB) is a named user of a node graph: "-drive id=d0" (or QEMU's default ids
 * "virtio0", "ide0-hd0", "scsi0-hd0", "floppy0"), or an anonymous one a device makes for a
 * "-blockdev node-name=" node given in its drive= property. A device finds it with
 * blk_for_device() from its drive= property, attaches with blk_attach_dev() and takes the
 * permissions it needs with blk_set_dev_perm(); then it submits requests.
 *
 * Requests (blk_aio_*) may be submitted from any thread and many may be in flight. Each
 * completes exactly once with cb(opaque, ret) (ret 0 or a negative errno) on the main loop
 * thread (the glib default context), never before the blk_aio_* call returns and without any
 * lock of the block layer held, or inside blk_drain() when the main thread calls it. The iovec
 * array is copied; the buffers it points to must stay valid until the callback.
 *
 * Underneath, reads and writes of allocated data go straight to the image file's descriptor,
 * in parallel: Linux AIO with aio=native (cache.direct=on), a thread pool otherwise. Anything
 * that reads or changes metadata (qcow2 allocation, reads of unallocated clusters, discard,
 * write-zeroes, flush of qcow2) runs one at a time per node graph in the thread pool; discard
 * and write-zeroes on qcow2 first wait for the data I/O in flight (they may free clusters it
 * uses). See docs/block.md.
 */
#ifndef VIREO_BLOCK_BACKEND_H
#define VIREO_BLOCK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vireo/block.h"

typedef struct BlockBackend BlockBackend;
typedef struct QJ QJ;

/* werror= / rerror= (QEMU's BlockdevOnError); AUTO is rerror's default: report for reads */
typedef enum {
    BLOCKDEV_ON_ERROR_REPORT,
    BLOCKDEV_ON_ERROR_IGNORE,
    BLOCKDEV_ON_ERROR_ENOSPC,
    BLOCKDEV_ON_ERROR_STOP,
    BLOCKDEV_ON_ERROR_AUTO,
} BlockdevOnError;
extern const char *const blockdev_on_error_names[]; /* NULL-terminated, in enum order */

typedef enum {
    BLOCK_ERROR_ACTION_IGNORE,
    BLOCK_ERROR_ACTION_REPORT,
    BLOCK_ERROR_ACTION_STOP,
} BlockErrorAction;

typedef enum {
    BLOCK_IO_STATUS_OK,
    BLOCK_IO_STATUS_FAILED,
    BLOCK_IO_STATUS_NOSPACE,
} BlockIoStatus;

/* detect-zeroes= */
typedef enum {
    BLOCKDEV_DETECT_ZEROES_OFF,
    BLOCKDEV_DETECT_ZEROES_ON,
    BLOCKDEV_DETECT_ZEROES_UNMAP,
} BlockdevDetectZeroes;

/* Kinds of request, for the statistics (QEMU's BlockAcctType) */
typedef enum {
    BLOCK_ACCT_READ,
    BLOCK_ACCT_WRITE,
    BLOCK_ACCT_FLUSH,
    BLOCK_ACCT_UNMAP,
    BLOCK_ACCT_MAX,
} BlockAcctType;

typedef struct BlockAcctStats {
    uint64_t nr_bytes[BLOCK_ACCT_MAX];
    uint64_t nr_ops[BLOCK_ACCT_MAX];
    uint64_t failed_ops[BLOCK_ACCT_MAX];
    uint64_t invalid_ops[BLOCK_ACCT_MAX];
    uint64_t merged[BLOCK_ACCT_MAX];
    uint64_t total_time_ns[BLOCK_ACCT_MAX];
    uint64_t wr_highest_offset;
    int64_t last_access_ns; /* -1: never (no idle_time_ns in query-blockstats) */
    bool account_invalid, account_failed;
} BlockAcctStats;

/* ---- the backends ---- */

/*
 * A new backend on root (NULL: no medium), named `name` (NULL: anonymous). Its user
 * permissions start as QEMU's -drive: CONSISTENT_READ, sharing everything; a device raises
 * them. Errors: QEMU's "Device with id 'x' already exists", lock conflicts.
 */
BlockBackend *blk_new(const char *name, BlockDriverState *root, char **errp);
/* Drains, detaches the device, drops the root and frees the backend. */
void blk_delete(BlockBackend *blk);

BlockBackend *blk_by_name(const char *name);
/* Every backend, in creation order (NULL: start). */
BlockBackend *blk_next(BlockBackend *blk);
/* "" for anonymous backends */
const char *blk_name(const BlockBackend *blk);
/* The root node, or NULL (no medium). */
BlockDriverState *blk_bs(BlockBackend *blk);
/* The backend whose root is bs, or NULL. */
BlockBackend *blk_by_root(BlockDriverState *bs);

/* Insert (a reference is taken) or remove the medium, for removable devices. */
int blk_insert_bs(BlockBackend *blk, BlockDriverState *bs, char **errp);
void blk_remove_bs(BlockBackend *blk);

/* Backend settings from -drive (werror/rerror, cache=writeback/writethrough). */
void blk_set_on_error(BlockBackend *blk, BlockdevOnError on_read_error,
                      BlockdevOnError on_write_error);
BlockdevOnError blk_get_on_error(BlockBackend *blk, bool is_read);
bool blk_enable_write_cache(BlockBackend *blk);
/* The guest's cache setting (virtio-blk's WCE): writes then flush when it is off. */
void blk_set_enable_write_cache(BlockBackend *blk, bool wce);
/* -drive if=... information kept with the backend (blockdev.c's DriveInfo). */
void blk_set_legacy_info(BlockBackend *blk, void *drive_info);
void *blk_legacy_info(BlockBackend *blk);

/* ---- devices ---- */

typedef struct BlockDevOps {
    /* The medium came (load) or went: eject, blockdev-change-medium. */
    void (*change_media_cb)(void *opaque, bool load);
    /* eject with the medium locked: the guest is asked to let it go (force: unlock it) */
    void (*eject_request_cb)(void *opaque, bool force);
    /* block_resize changed the size: tell the guest. */
    void (*resize_cb)(void *opaque);
    /* Removable media devices with a tray (CD-ROMs): is it open; is the medium locked. */
    bool (*is_tray_open)(void *opaque);
    bool (*is_medium_locked)(void *opaque);
} BlockDevOps;

/*
 * The backend a device's drive= property names: a backend by name, or a node by node-name
 * (then a new anonymous backend on it, as QEMU does). prop is the property's QOM name for the
 * message, e.g. "virtio-blk-device.drive": "Property 'virtio-blk-device.drive' can't find value
 * 'x'".
 */
BlockBackend *blk_for_device(const char *drive, const char *prop, char **errp);
/*
 * Attach a device (qdev_path: its QOM path, e.g. "/machine/peripheral/disk0/virtio-backend";
 * id: its -device id or NULL). Fails with QEMU's "Drive 'd0' is already in use by another
 * device" (or the automatically-connected variant for if=virtio drives).
 */
int blk_attach_dev(BlockBackend *blk, const char *qdev_path, const char *id, const BlockDevOps *ops,
                   void *opaque, char **errp);
/* Detaches the device; an anonymous backend blk_for_device made for a node is deleted with it
 * (QEMU's device drops its reference: the node has no user left, blockdev-del works). */
void blk_detach_dev(BlockBackend *blk);
bool blk_has_dev(BlockBackend *blk);
/* QEMU's geometry guess for a disk without one given (hw/block/geometry.c). */
void blk_guess_geometry(BlockBackend *blk, uint32_t *cyls, uint32_t *heads, uint32_t *secs);
/* Tell the device its medium's size changed (block_resize). */
void blk_notify_resize(BlockBackend *blk);
/*
 * The permissions a disk device takes, as QEMU's blkconf_apply_backend_options(): consistent
 * reads, writes unless read_only, sharing reads, unchanged writes and resizing, and writes too
 * when share_rw. Lock conflicts get QEMU's message ("Failed to get \"write\" lock" ...).
 * A read-only device on a writable backend is fine; a writable device on a read-only backend
 * is refused as QEMU ("Block node is read-only").
 */
int blk_set_dev_perm(BlockBackend *blk, bool read_only, bool share_rw, char **errp);
/* Any user permissions (perm/shared: BLK_PERM_*). */
int blk_set_perm(BlockBackend *blk, uint64_t perm, uint64_t shared, char **errp);

int64_t blk_getlength(BlockBackend *blk); /* bytes, or -ENOMEDIUM */
bool blk_is_read_only(BlockBackend *blk);
bool blk_is_inserted(BlockBackend *blk);

/* ---- requests ---- */

typedef void BlockCompletionFunc(void *opaque, int ret);

/* flags: BDRV_REQ_FUA for writes (written through to the disk before completion) */
void blk_aio_preadv(BlockBackend *blk, uint64_t offset, const struct iovec *iov, int niov,
                    int flags, BlockCompletionFunc *cb, void *opaque);
void blk_aio_pwritev(BlockBackend *blk, uint64_t offset, const struct iovec *iov, int niov,
                     int flags, BlockCompletionFunc *cb, void *opaque);
void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque);
/* Ignored (completes with 0) unless the root node has discard=unmap. */
void blk_aio_pdiscard(BlockBackend *blk, uint64_t offset, uint64_t bytes, BlockCompletionFunc *cb,
                      void *opaque);
/* flags: BDRV_REQ_MAY_UNMAP (deallocate if the node has discard=unmap) */
void blk_aio_pwrite_zeroes(BlockBackend *blk, uint64_t offset, uint64_t bytes, int flags,
                           BlockCompletionFunc *cb, void *opaque);

/*
 * Wait until every request of blk has ended. On the main thread the callbacks then run too
 * (and whatever they submit is waited for); on another thread they are left to the main loop.
 */
void blk_drain(BlockBackend *blk);
void blk_drain_all(void);

/*
 * Run fn(opaque) on blk's graph with nothing else running on it (in the thread pool), then
 * return its result; for monitor commands (block_resize, snapshots) on the main thread.
 */
int blk_run_exclusive(BlockBackend *blk, int (*fn)(void *opaque), void *opaque);

/* ---- errors (werror/rerror) ---- */

/* What a device does with a failed request (error: a positive errno), as QEMU. */
BlockErrorAction blk_get_error_action(BlockBackend *blk, bool is_read, int error);
/*
 * Act on it: BLOCK_IO_ERROR to the monitors, iostatus, and for STOP the VM stops with run
 * state io-error (through blk_stop_vm_hook; the device keeps the request and retries it when
 * the VM runs again).
 */
void blk_error_action(BlockBackend *blk, BlockErrorAction action, bool is_read, int error);
BlockIoStatus blk_iostatus(BlockBackend *blk);
void blk_iostatus_reset(BlockBackend *blk);
/* Devices that report I/O status (virtio-blk, scsi-hd, IDE) enable it when realized: query-block
 * then shows "io-status" and BLOCK_IO_ERROR has "nospace". */
void blk_iostatus_enable(BlockBackend *blk);
bool blk_iostatus_is_enabled(BlockBackend *blk);
/* Hooks the emulator sets (system/blockdev.c): the event and the run-state change. */
extern void (*blk_io_error_event_hook)(BlockBackend *blk, bool is_read, BlockErrorAction action,
                                       int error);
extern void (*blk_stop_vm_hook)(void);

/* ---- statistics (query-blockstats) ---- */

/* A copy of blk's counters. */
void blk_get_stats(BlockBackend *blk, BlockAcctStats *out);
/* Requests the device refused itself, or merged into others (virtio-blk). */
void blk_account_invalid(BlockBackend *blk, BlockAcctType type);
void blk_account_merged(BlockBackend *blk, BlockAcctType type, unsigned n);

/* The most data requests blk's graph had running on descriptors at once (tests, benchmarks). */
int blk_debug_peak_inflight(BlockBackend *blk);

/* Device side of query-block: its QOM path, id, and the removable-media state. */
const char *blk_get_attached_dev_path(BlockBackend *blk);
const char *blk_get_attached_dev_id(BlockBackend *blk);
bool blk_dev_has_removable_media(BlockBackend *blk);
bool blk_dev_has_tray(BlockBackend *blk);
bool blk_dev_is_tray_open(BlockBackend *blk);
bool blk_dev_is_medium_locked(BlockBackend *blk);
/* The medium came or went (QMP's tray and medium commands): the device's change_media_cb, and
 * DEVICE_TRAY_MOVED through blk_tray_moved_hook when the tray moved. */
void blk_dev_change_media_cb(BlockBackend *blk, bool load);
/* Ask the device to let its locked medium go (force: unlock it). */
void blk_dev_eject_request(BlockBackend *blk, bool force);
extern void (*blk_tray_moved_hook)(BlockBackend *blk, const char *id, bool open);
/* The BDRV_O_* flags a new medium opens with: the last medium's, or the -drive's (QEMU's root
 * state: read-only drives and media=cdrom stay read-only). */
void blk_set_root_flags(BlockBackend *blk, int flags);
int blk_root_flags(BlockBackend *blk);

/* Close every backend and node (at exit): drains, flushes, stops the I/O threads. */
void blk_close_all(void);

/* ---- opening node graphs from options (block/block-open.c) ---- */

/*
 * Open the node graph one BlockdevOptions object describes (-blockdev, blockdev-add), after
 * checking it as QEMU's QAPI visitor does. keyval: the dotted syntax, whose values are all
 * strings. need_node_name: the root must have a node-name (-blockdev, blockdev-add).
 */
BlockDriverState *bdrv_open_blockdev(const QJ *options, bool keyval, bool need_node_name,
                                     char **errp);
/* Only the checks of bdrv_open_blockdev() (-blockdev is checked while parsing the command line). */
bool bdrv_check_blockdev(const QJ *options, bool keyval, char **errp);
/* The dotted keys of a parsed -blockdev into nested objects ("file.driver" -> file: {...}). */
QJ *bdrv_keyval_to_options(const QOpts *opts, char **errp);
/* QEMU's node-name rules: "Invalid node-name: 'x'", "Node name too long". */
bool bdrv_node_name_valid(const char *name, char **errp);

#endif
