/*
 * Vireo block layer: a small driver stack shared by qemu-img, qemu-io and (later) the
 * emulator's disk devices.
 *
 * A BlockDriverState (BDS) is one node: a protocol node ("file": a host file) or a format
 * node ("raw", "qcow2") stacked on a protocol node (bs->file) and optionally on a backing
 * node (bs->backing). Offsets and lengths are bytes. Functions return 0 (or a positive value
 * where documented) on success and a negative errno on failure; where a char **errp is
 * taken, a failure also stores a newly allocated message (QEMU's wording, free with g_free).
 *
 * Concurrency model: the bdrv_* calls are synchronous and a node has one user at a time. The
 * tools call them directly. The emulator's disks go through block backends
 * (vireo/block-backend.h), which run data I/O of allocated clusters in parallel on the file
 * descriptor (host_fd, io_map) and everything else through these calls, one at a time per node
 * graph, in a thread pool.
 */
#ifndef VIREO_BLOCK_H
#define VIREO_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vireo/coroutine.h"
#include "vireo/qemu-opts.h"

typedef struct BlockDriver BlockDriver;
typedef struct BlockDriverState BlockDriverState;
typedef struct BdrvDirtyBitmap BdrvDirtyBitmap;
typedef struct QJ QJ;

/* Open flags */
#define BDRV_O_RDWR         0x0002
#define BDRV_O_NOCACHE      0x0004 /* O_DIRECT (cache=none, directsync) */
#define BDRV_O_NO_FLUSH     0x0008 /* cache=unsafe: flushes are no-ops */
#define BDRV_O_NO_BACKING   0x0010 /* don't open the backing file */
#define BDRV_O_PROTOCOL     0x0020 /* open only the protocol layer */
#define BDRV_O_WRTHROUGH    0x0040 /* flush after every write (writethrough, directsync) */
#define BDRV_O_NO_IO        0x0080 /* metadata only (e.g. create -u): skip backing checks */
#define BDRV_O_CHECK        0x0100 /* opened for qemu-img check: tolerate some corruption */
#define BDRV_O_UNMAP        0x0200 /* discard=unmap: pass discards and unmapping zero writes down */
#define BDRV_O_NATIVE_AIO   0x0400 /* aio=native: file I/O through Linux AIO (needs NOCACHE) */
#define BDRV_O_FORCE_SHARE  0x0800 /* force-share=on (-U): share every permission (read-only) */
#define BDRV_O_NO_SHARE     0x1000 /* the user shares only reads (qemu-img convert's sources) */
#define BDRV_O_RESIZE       0x2000 /* the user will resize the image (qemu-img resize) */
#define BDRV_O_SNAPSHOT     0x4000 /* bdrv_open_opts: writes go to a temporary qcow2 overlay */
#define BDRV_O_COPY_ON_READ 0x8000 /* reads through the backing chain are copied up (-C) */

/* Request flags */
#define BDRV_REQ_MAY_UNMAP   0x1 /* zero writes may deallocate */
#define BDRV_REQ_FUA         0x2
#define BDRV_REQ_COMPRESSED  0x4 /* write a whole cluster compressed (qcow2) */
#define BDRV_REQ_NO_FALLBACK 0x8 /* zero writes: fail with -ENOTSUP rather than write zeros */

/* bdrv_block_status() result bits */
#define BDRV_BLOCK_DATA         0x01 /* reads come from this layer's storage */
#define BDRV_BLOCK_ZERO         0x02 /* reads as zero */
#define BDRV_BLOCK_OFFSET_VALID 0x04 /* *map is the host offset in *file */
#define BDRV_BLOCK_ALLOCATED    0x10 /* this layer defines the content (no backing read-through) */
#define BDRV_BLOCK_COMPRESSED   0x40
#define BDRV_BLOCK_EOF          0x20
/* (from a format driver only) data whose host range may be a hole: bdrv_block_status asks the
 * file, which can add BDRV_BLOCK_ZERO (QEMU's BDRV_BLOCK_RECURSE) */
#define BDRV_BLOCK_RECURSE 0x80

/* blkdebug events (QEMU's BlkdebugEvent, in its order): points in the drivers where a
 * blkdebug node below can inject errors, change state or suspend the request. */
typedef enum {
    BLKDBG_L1_UPDATE,
    BLKDBG_L1_GROW_ALLOC_TABLE,
    BLKDBG_L1_GROW_WRITE_TABLE,
    BLKDBG_L1_GROW_ACTIVATE_TABLE,
    BLKDBG_L2_LOAD,
    BLKDBG_L2_UPDATE,
    BLKDBG_L2_UPDATE_COMPRESSED,
    BLKDBG_L2_ALLOC_COW_READ,
    BLKDBG_L2_ALLOC_WRITE,
    BLKDBG_READ_AIO,
    BLKDBG_READ_BACKING_AIO,
    BLKDBG_READ_COMPRESSED,
    BLKDBG_WRITE_AIO,
    BLKDBG_WRITE_COMPRESSED,
    BLKDBG_VMSTATE_LOAD,
    BLKDBG_VMSTATE_SAVE,
    BLKDBG_COW_READ,
    BLKDBG_COW_WRITE,
    BLKDBG_REFTABLE_LOAD,
    BLKDBG_REFTABLE_GROW,
    BLKDBG_REFTABLE_UPDATE,
    BLKDBG_REFBLOCK_LOAD,
    BLKDBG_REFBLOCK_UPDATE,
    BLKDBG_REFBLOCK_UPDATE_PART,
    BLKDBG_REFBLOCK_ALLOC,
    BLKDBG_REFBLOCK_ALLOC_HOOKUP,
    BLKDBG_REFBLOCK_ALLOC_WRITE,
    BLKDBG_REFBLOCK_ALLOC_WRITE_BLOCKS,
    BLKDBG_REFBLOCK_ALLOC_WRITE_TABLE,
    BLKDBG_REFBLOCK_ALLOC_SWITCH_TABLE,
    BLKDBG_CLUSTER_ALLOC,
    BLKDBG_CLUSTER_ALLOC_BYTES,
    BLKDBG_CLUSTER_FREE,
    BLKDBG_FLUSH_TO_OS,
    BLKDBG_FLUSH_TO_DISK,
    BLKDBG_PWRITEV_RMW_HEAD,
    BLKDBG_PWRITEV_RMW_AFTER_HEAD,
    BLKDBG_PWRITEV_RMW_TAIL,
    BLKDBG_PWRITEV_RMW_AFTER_TAIL,
    BLKDBG_PWRITEV,
    BLKDBG_PWRITEV_ZERO,
    BLKDBG_PWRITEV_DONE,
    BLKDBG_EMPTY_IMAGE_PREPARE,
    BLKDBG_L1_SHRINK_WRITE_TABLE,
    BLKDBG_L1_SHRINK_FREE_L2_CLUSTERS,
    BLKDBG_COR_WRITE,
    BLKDBG_CLUSTER_ALLOC_SPACE,
    BLKDBG_NONE,
    BLKDBG__MAX,
} BlkdebugEvent;
extern const char *const blkdebug_event_names[BLKDBG__MAX];
/* -1 when unknown */
int blkdebug_event_parse(const char *name);

typedef enum {
    PREALLOC_MODE_OFF,
    PREALLOC_MODE_METADATA,
    PREALLOC_MODE_FALLOC,
    PREALLOC_MODE_FULL,
} PreallocMode;
extern const char *const prealloc_mode_names[];
int prealloc_mode_parse(const char *s); /* -1 when unknown */

typedef struct BdrvCheckResult {
    int corruptions;
    int leaks;
    int check_errors;
    int corruptions_fixed;
    int leaks_fixed;
    int64_t image_end_offset;
    uint64_t total_clusters;
    uint64_t allocated_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
    bool has_bfi; /* the cluster statistics are meaningful */
} BdrvCheckResult;

#define BDRV_FIX_LEAKS  1
#define BDRV_FIX_ERRORS 2

typedef struct BlockDriverInfo {
    int cluster_size;        /* 0 if not meaningful */
    int64_t vm_state_offset; /* where the VM state starts (qcow2: after the last L1 entry) */
    bool is_dirty;
    bool persistent_bitmaps; /* the format can store persistent dirty bitmaps */
} BlockDriverInfo;

typedef struct BlockSnapshotInfo {
    char *id;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    int64_t icount; /* -1 = none */
} BlockSnapshotInfo;

/* Options accepted by a driver's create(), in QEMU's create_opts order. */
typedef struct BlockCreateOpt {
    const char *name;
    const char *def;  /* printed default ("Formatting ..." line), or NULL */
    const char *type; /* "size", "bool", "string", "number" */
    const char *help;
} BlockCreateOpt;

struct BlockDriver {
    const char *format_name;
    bool is_protocol;
    /* The "proto:" prefix of file names this protocol driver takes ("file", "null-co"...). */
    const char *protocol_name;
    /*
     * Turn a file name given for this protocol into options (QEMU's bdrv_parse_filename):
     * e.g. "file:x" -> filename=x, "blkdebug:CONF:IMG" -> config, x-image. Without
     * needs_filename the "filename" option is dropped afterwards.
     */
    int (*parse_filename)(const char *filename, QJ *opts, char **errp);
    bool needs_filename;
    /* Options the driver takes besides the generic ones: exact keys, or "prefix." */
    const char *const *runtime_opts;
    bool supports_backing;
    /* A filter (blkdebug): qemu-io's break/resume and block status pass through it. */
    bool is_filter;
    /* Score 0..100 for this header (the first 2 KiB, zero-padded). */
    int (*probe)(const uint8_t *buf, size_t len);
    int (*open)(BlockDriverState *bs, QOpts *opts, int flags, char **errp);
    void (*close)(BlockDriverState *bs);
    int (*pread)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf);
    int (*pwrite)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf,
                  int flags);
    int (*pwrite_zeroes)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags);
    int (*discard)(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
    int (*flush)(BlockDriverState *bs);
    /* Returns BDRV_BLOCK_* flags for [offset, offset + *pnum), *pnum <= bytes, *pnum > 0. */
    int (*block_status)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                        uint64_t *map, BlockDriverState **file);
    int (*truncate)(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                    char **errp);
    int64_t (*getlength)(BlockDriverState *bs);
    int64_t (*allocated_size)(BlockDriverState *bs);
    int (*check)(BlockDriverState *bs, BdrvCheckResult *res, int fix);
    int (*get_info)(BlockDriverState *bs, BlockDriverInfo *bdi);
    /* Create an image; `opts` holds -o options with "size" set. */
    int (*create)(const char *filename, QOpts *opts, char **errp);
    const BlockCreateOpt *create_opts;
    /* "format-specific" data for qemu-img info (a dict), or NULL. */
    QJ *(*get_specific_info)(BlockDriverState *bs);
    int (*snapshot_list)(BlockDriverState *bs, BlockSnapshotInfo **list);
    /* info->id NULL or "" = next free id; uses name, dates, vm_clock_nsec, icount. */
    int (*snapshot_create)(BlockDriverState *bs, const BlockSnapshotInfo *info);
    int (*snapshot_goto)(BlockDriverState *bs, const char *id_or_name);
    int (*snapshot_delete)(BlockDriverState *bs, const char *id, const char *name, char **errp);
    /*
     * qemu-img measure: space needed by a new image of this format with `opts` (-o options,
     * "size" set when --size is given) holding in_bs's data (NULL: an empty image).
     */
    int (*measure)(QOpts *opts, BlockDriverState *in_bs, uint64_t *required,
                   uint64_t *fully_allocated, char **errp);
    /* qemu-img amend; opts holds only amendable options. Errors in QEMU's wording. */
    int (*amend)(BlockDriverState *bs, QOpts *opts, char **errp);
    const BlockCreateOpt *amend_opts;
    /* Rewrite the backing file name and format stored in the image (NULL/"" = none). */
    int (*change_backing_file)(BlockDriverState *bs, const char *file, const char *fmt);
    /* Drop all data so that reads go to the backing file (qemu-img commit). */
    int (*make_empty)(BlockDriverState *bs);
    /* Read-only open: make the snapshot the visible image (convert -l). */
    int (*snapshot_load_tmp)(BlockDriverState *bs, const char *id, const char *name, char **errp);
    /* Persistent dirty bitmaps: can a new one be stored (QEMU's wording on failure)? */
    bool (*can_store_new_dirty_bitmap)(BlockDriverState *bs, const char *name, uint32_t granularity,
                                       char **errp);
    /* Drop a persistent bitmap from the image right away (absent: not an error). */
    int (*remove_persistent_dirty_bitmap)(BlockDriverState *bs, const char *name, char **errp);
    /*
     * Format nodes: where [offset, +bytes) sits in a lower node, when a plain read (or an
     * in-place write, which changes no metadata) can go there directly. Returns true with the
     * node and offset there, or false (the request must go through pread/pwrite).
     */
    bool (*io_map)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool write,
                   BlockDriverState **file, uint64_t *host);
    /*
     * Protocol nodes: the permissions every user of this node now holds (perm) and lets others
     * have (shared), BLK_PERM_* bits; the file driver takes QEMU's OFD lock bytes for them and
     * fails (QEMU's "Failed to get ... lock" messages) when another process conflicts, keeping
     * what it held before.
     */
    int (*set_perm)(BlockDriverState *bs, uint64_t perm, uint64_t shared, char **errp);
    /*
     * Protocol nodes whose data a request may read and write directly (preadv/pwritev or Linux
     * AIO on the descriptor, from any thread), or -1. *align: the offset, length and buffer
     * alignment such I/O needs (1 = any).
     */
    int (*host_fd)(BlockDriverState *bs, size_t *align);
    /* The VM state stored in the image (qemu-io's read/write -b), at a byte position. */
    int (*save_vmstate)(BlockDriverState *bs, uint64_t pos, uint64_t bytes, const void *buf);
    int (*load_vmstate)(BlockDriverState *bs, uint64_t pos, uint64_t bytes, void *buf);
    /* Switch an open node to new open flags (read-only, cache): NULL = nothing to do. */
    int (*reopen)(BlockDriverState *bs, int flags, char **errp);
    /* Requests to one node of this driver run one at a time (its metadata is not shared). */
    bool lock_requests;
    /* blkdebug: an event raised on this node, and qemu-io's breakpoint commands. */
    void (*debug_event)(BlockDriverState *bs, BlkdebugEvent event);
    int (*debug_breakpoint)(BlockDriverState *bs, const char *event, const char *tag);
    int (*debug_remove_breakpoint)(BlockDriverState *bs, const char *tag);
    int (*debug_resume)(BlockDriverState *bs, const char *tag);
    bool (*debug_is_suspended)(BlockDriverState *bs, const char *tag);
};

struct BlockDriverState {
    const BlockDriver *drv;
    void *opaque;
    char *filename; /* as given by the user */
    int open_flags;
    bool read_only;
    BlockDriverState *file;    /* protocol child of a format node */
    BlockDriverState *backing; /* opened backing image, or NULL */
    char *backing_file;        /* backing name stored in the image ("" = none) */
    char *backing_format;      /* backing format stored in the image, or NULL */
    char *full_backing_filename;
    int64_t total_size; /* virtual size cached by the format driver */
    bool probed;        /* format was guessed: raw refuses writes that change the guess */
    /* amend's progress (qemu-img amend -p): the driver reports its steps in percent */
    void (*amend_status)(double pct);
    BdrvDirtyBitmap *dirty_bitmaps; /* newest first, as QEMU's list */
    char node_name[32];             /* -blockdev node-name=, or "#blockNNN" */
    bool node_name_set;             /* node_name was given by the user */
    /* graph bookkeeping (block/block-perm.c) */
    int refcnt;                  /* bdrv_close() frees the node when this drops to 0 */
    BlockDriverState *data_file; /* qcow2's external data file node (owned by the driver) */
    struct BdrvUser *users;      /* users outside the graph: backends, the tools */
    uint64_t perm, shared_perm;  /* what the node's parents and users hold / share, combined */
    struct BlockDomain *domain;  /* request serialisation (block/block-backend.c) */
    int detect_zeroes;           /* detect-zeroes=: 0 off, 1 on, 2 unmap */
    uint64_t wr_highest_offset;  /* the end of the furthest write (query-blockstats) */
    bool monitor_owned;          /* made by -blockdev / blockdev-add (blockdev-del may close it) */
    /*
     * While the node is being opened: its remaining options (a QJ object of flat dotted keys
     * with string values), for drivers that open children of their own (bdrv_open_child).
     */
    QJ *open_options;
    /* Request limits (QEMU's BlockLimits; 0 = none): the generic layer pads, splits. */
    uint32_t request_alignment;
    uint64_t max_transfer;
    uint64_t pwrite_zeroes_alignment, max_pwrite_zeroes;
    uint64_t pdiscard_alignment, max_pdiscard;
    CoMutex req_lock;                /* drivers with lock_requests */
    uint64_t write_gen, flushed_gen; /* writes so far / at the last flush (QEMU's) */
    CoMutex rmw_lock;                /* read-modify-write of padded requests */
};

/*
 * For drivers with lock_requests: let other requests on bs run during I/O that needs no
 * metadata (QEMU's qcow2 drops its lock around data I/O). The lock is given up only when the
 * request holds it once (not in nested calls); pass the result back to bdrv_req_relock.
 */
bool bdrv_req_unlock(BlockDriverState *bs);
void bdrv_req_relock(BlockDriverState *bs, bool released);

/*
 * For format drivers: read [offset, +bytes) of bs's backing file into buf, zeros past its end
 * or when bs has none (raises BLKDBG_READ_BACKING_AIO).
 */
int bdrv_read_backing(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *buf);

/* Raise a blkdebug event on bs (no-op unless bs is a blkdebug node). */
void bdrv_debug_event(BlockDriverState *bs, BlkdebugEvent event);
#define BLKDBG_EVENT(bs, event) bdrv_debug_event(bs, event)
/* qemu-io's break/remove_break/resume/wait_break: on the first node down the primary
 * children (file) that is a blkdebug node; -ENOTSUP when there is none. */
int bdrv_debug_breakpoint(BlockDriverState *bs, const char *event, const char *tag);
int bdrv_debug_remove_breakpoint(BlockDriverState *bs, const char *tag);
int bdrv_debug_resume(BlockDriverState *bs, const char *tag);
bool bdrv_debug_is_suspended(BlockDriverState *bs, const char *tag);

/*
 * Permissions on a node, as QEMU's BLK_PERM_*. Every user of a node (a parent node through a
 * child link, a backend, a tool) takes some and shares some with the others; a node combines
 * them, and file nodes guard them across processes with QEMU's OFD lock bytes: 100 + bit for
 * a permission held, 200 + bit for one not shared (so QEMU and Vireo exclude each other).
 */
#define BLK_PERM_CONSISTENT_READ 0x01
#define BLK_PERM_WRITE           0x02
#define BLK_PERM_WRITE_UNCHANGED 0x04
#define BLK_PERM_RESIZE          0x08
#define BLK_PERM_ALL             0x0f

typedef struct BdrvUser {
    BlockDriverState *bs;
    char *name; /* in conflict messages: "block device 'd0'" */
    uint64_t perm, shared;
    struct BdrvUser *next;
} BdrvUser;

/* QEMU's names of the bits in perm, comma-separated ("write, resize"); g_free it. */
char *bdrv_perm_names(uint64_t perm);
/*
 * Add a user of bs (a backend, a tool's image) with the permissions it needs, refreshing the
 * locks of every file node below: NULL with QEMU's message ("Failed to get \"write\" lock\nIs
 * another process using the image [x]?", "Permission conflict on node ...") on a conflict.
 */
BdrvUser *bdrv_add_user(BlockDriverState *bs, const char *name, uint64_t perm, uint64_t shared,
                        char **errp);
int bdrv_user_set_perm(BdrvUser *u, uint64_t perm, uint64_t shared, char **errp);
void bdrv_remove_user(BdrvUser *u);
/*
 * What a user opening with these flags needs, as QEMU's blk_new_open(): CONSISTENT_READ unless
 * BDRV_O_NO_IO, WRITE with RDWR, RESIZE with BDRV_O_RESIZE; sharing everything, or only
 * CONSISTENT_READ and WRITE_UNCHANGED with BDRV_O_NO_SHARE.
 */
void bdrv_flags_to_perm(int flags, uint64_t *perm, uint64_t *shared);
/* Recompute every node's permissions and its locks (after a graph change). */
int bdrv_refresh_perms(char **errp);
/* Another reference to bs (a -blockdev node used by a second parent); bdrv_close() drops one. */
void bdrv_ref(BlockDriverState *bs);
/* Every open node, oldest first (NULL: start). */
BlockDriverState *bdrv_next_node(BlockDriverState *bs);
BlockDriverState *bdrv_find_node(const char *node_name);

/* ---- error helpers ---- */
void block_error(char **errp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": strerror(-err)". */
void block_error_errno(char **errp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- drivers ---- */
const BlockDriver *bdrv_find_format(const char *name);
/* The same, with QEMU's "Unknown driver 'x'" when there is none. */
const BlockDriver *bdrv_find_format_err(const char *name, char **errp);
/* The names of every driver, sorted, space-separated (qemu-img -h); g_free it. */
char *bdrv_supported_formats(void);
extern const BlockDriver bdrv_file;
/* The file driver's discard counters (query-blockstats' driver-specific). */
void bdrv_file_discard_stats(BlockDriverState *bs, uint64_t *nb_ok, uint64_t *nb_failed,
                             uint64_t *bytes_ok);
/* A write to bs ended at end (any thread): raises bs->wr_highest_offset, and counts in
 * bs->write_gen so that the next flush is not skipped. */
void bdrv_note_write(BlockDriverState *bs, uint64_t end);
extern const BlockDriver bdrv_raw;
extern const BlockDriver bdrv_qcow2;
extern const BlockDriver bdrv_vdi;
extern const BlockDriver bdrv_vpc;
extern const BlockDriver bdrv_qcow;
extern const BlockDriver bdrv_null_co;
extern const BlockDriver bdrv_null_aio;
extern const BlockDriver bdrv_blkdebug;
/* NBD client (block/nbd.c), one driver per URL scheme: nbd, nbd+tcp, nbd+unix */
extern const BlockDriver bdrv_nbd;
extern const BlockDriver bdrv_nbd_tcp;
extern const BlockDriver bdrv_nbd_unix;
/* Protocol driver for a file name: its "proto:" prefix, or "file". */
const BlockDriver *bdrv_find_protocol(const char *filename, bool allow_prefix, char **errp);
bool bdrv_path_has_protocol(const char *path);

/*
 * Open `filename` with `fmt` (NULL = probe): bdrv_open_opts() with opts (driver options, may be
 * NULL) as flat options and fmt as "driver". Errors are worded like QEMU's "Could not open
 * 'x': ..." tail, without the "Could not open" prefix already added where QEMU adds it.
 */
BlockDriverState *bdrv_open(const char *filename, const char *fmt, QOpts *opts, int flags,
                            char **errp);
/*
 * Open a node graph as QEMU's bdrv_open() does (block/block-open.c): `filename` may be NULL, a
 * path, a "proto:..." name or "json:{...}"; `options` (taken; NULL = none) is a QJ object of flat
 * dotted keys: "driver", "file.filename", "file.driver", "backing" (null: none),
 * "backing.driver", "cache.direct", "read-only", driver options ("offset", "size", ...).
 * BDRV_O_SNAPSHOT puts a temporary qcow2 overlay on top; BDRV_O_COPY_ON_READ enables
 * copy-on-read on the top node. Errors are QEMU's texts.
 */
BlockDriverState *bdrv_open_opts(const char *filename, QJ *options, int flags, char **errp);
/*
 * For drivers' open: open the child `name` of `parent` from its "name.*" options (and the
 * "name" reference) in parent->open_options, or from `filename`. NULL with allow_none and
 * nothing given (no error), or on error.
 */
BlockDriverState *bdrv_open_child(BlockDriverState *parent, const char *filename, const char *name,
                                  int flags, bool allow_none, char **errp);
/* Flat options from "key=value,..." pairs (QOpts) or a JSON object; strings throughout. */
QJ *bdrv_opts_from_qopts(const QOpts *opts);
bool bdrv_opts_flatten_json(QJ *dst, const QJ *json, char **errp);
/*
 * qemu-io's reopen: new open flags (BDRV_O_RDWR, cache flags) for bs and its file children,
 * and options (taken): cache.direct, cache.no-flush, discard, detect-zeroes and the driver's
 * own; any other is QEMU's "Cannot change the option 'x'".
 */
int bdrv_reopen(BlockDriverState *bs, int flags, QJ *opts, char **errp);
/*
 * A temporary qcow2 overlay over base (a reference is taken), as QEMU's -snapshot, snapshot=on
 * and qemu-io -s: in $TMPDIR or /var/tmp, cache=unsafe, gone from the directory once open,
 * named json:{...}.
 */
BlockDriverState *bdrv_append_temp_snapshot(BlockDriverState *base, char **errp);
void bdrv_close(BlockDriverState *bs);
/*
 * One node, the step every open path takes (block.c): a new node of drv over file (NULL for
 * a protocol node; the node takes over that reference; drv NULL = probe the file, the node is
 * then `probed`), registered in the node list, named by opts' "node-name", with its
 * permissions on file taken before the driver reads it. open_options: the node's remaining
 * flat options while the driver opens (bs->open_options, for bdrv_open_child), or NULL.
 */
BlockDriverState *bdrv_open_driver(const BlockDriver *drv, BlockDriverState *file,
                                   const char *filename, QOpts *opts, QJ *open_options, int flags,
                                   char **errp);
/*
 * The steps of bdrv_open() for building a graph node by node (-blockdev): a protocol node on
 * a file; a format node on an existing node (a reference is taken; drv NULL = probe), without
 * its backing file; then either the backing file its header names, or a given node (a
 * reference is taken), or none.
 */
BlockDriverState *bdrv_open_protocol(const BlockDriver *drv, const char *filename, QOpts *opts,
                                     int flags, char **errp);
BlockDriverState *bdrv_open_format(const BlockDriver *drv, BlockDriverState *file, QOpts *opts,
                                   int flags, char **errp);
int bdrv_open_backing_file(BlockDriverState *bs, char **errp);
int bdrv_set_backing(BlockDriverState *bs, BlockDriverState *backing, char **errp);
/* Probe the format of an opened protocol node. */
const BlockDriver *bdrv_probe(BlockDriverState *file);
const BlockDriver *bdrv_probe_buf(const uint8_t *buf, size_t len);
/* Combine a backing file name with the directory of the image that names it. */
char *bdrv_path_combine(const char *base, const char *name);
/* "ignore"/"off" or "unmap"/"on" to BDRV_O_UNMAP in *flags; -1 when unknown. */
int bdrv_parse_discard_flags(const char *mode, int *flags);
/* Cache-mode string ("none", "writeback", "writethrough", "directsync", "unsafe") to flags. */
int bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough);

int64_t bdrv_getlength(BlockDriverState *bs);
int64_t bdrv_allocated_size(BlockDriverState *bs);
int bdrv_pread(BlockDriverState *bs, uint64_t offset, uint64_t bytes, void *buf);
int bdrv_pwrite(BlockDriverState *bs, uint64_t offset, uint64_t bytes, const void *buf, int flags);
int bdrv_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags);
int bdrv_discard(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
int bdrv_flush(BlockDriverState *bs);
/* The VM state, on the first node down the file children that keeps one (-ENOTSUP: none). */
int bdrv_save_vmstate(BlockDriverState *bs, uint64_t pos, uint64_t bytes, const void *buf);
int bdrv_load_vmstate(BlockDriverState *bs, uint64_t pos, uint64_t bytes, void *buf);
int bdrv_truncate(BlockDriverState *bs, uint64_t size, bool exact, PreallocMode prealloc,
                  char **errp);
int bdrv_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                      uint64_t *map, BlockDriverState **file);
/*
 * Like qemu-io's "map": whether [offset, +*pnum) is allocated in bs itself (1) or not (0).
 */
int bdrv_is_allocated(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum);
/*
 * Allocation over the chain above `base` (NULL = whole chain): returns 1 when some layer
 * above base allocates it; *depth = index of that layer (0 = bs).
 */
int bdrv_is_allocated_above(BlockDriverState *bs, BlockDriverState *base, uint64_t offset,
                            uint64_t bytes, uint64_t *pnum, int *depth);
int bdrv_get_info(BlockDriverState *bs, BlockDriverInfo *bdi);
int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, int fix);
QJ *bdrv_get_specific_info(BlockDriverState *bs);
/* Number of snapshots (>= 0) with *list g_malloc'd, or -errno. */
int bdrv_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list);
void bdrv_snapshot_list_free(BlockSnapshotInfo *list, int n);
/* Find a snapshot by name (as QEMU's bdrv_snapshot_find): 0 and *id / *name (g_malloc'd),
 * or -ENOENT. */
int bdrv_snapshot_find(BlockDriverState *bs, const char *name_arg, char **id, char **name);
int bdrv_snapshot_create(BlockDriverState *bs, const BlockSnapshotInfo *info);
/* Errors are "Failed to load snapshot: ..." like QEMU's bdrv_snapshot_goto(). */
int bdrv_snapshot_goto(BlockDriverState *bs, const char *id_or_name, char **errp);
int bdrv_snapshot_delete(BlockDriverState *bs, const char *id, const char *name, char **errp);
int bdrv_snapshot_load_tmp(BlockDriverState *bs, const char *id, const char *name, char **errp);

/* -ENOTSUP when the format has no backing files / no way to empty itself. */
int bdrv_change_backing_file(BlockDriverState *bs, const char *file, const char *fmt);
int bdrv_make_empty(BlockDriverState *bs);

/*
 * Status of [offset, +bytes) through the whole backing chain: BDRV_BLOCK_* of the first layer
 * that allocates it (ALLOCATED set), or ZERO / 0 when nothing does. *pnum as bdrv_block_status.
 */
int bdrv_block_status_above(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum);

/* Create an image of format drv; opts holds the -o options (with "size"). */
int bdrv_create(const BlockDriver *drv, const char *filename, QOpts *opts, char **errp);

/* ---- one request with an iovec (the backends run these in their thread pool) ---- */
typedef enum {
    BLOCK_REQ_READ,
    BLOCK_REQ_WRITE,
    BLOCK_REQ_WRITE_ZEROES,
    BLOCK_REQ_DISCARD,
    BLOCK_REQ_FLUSH,
} BlockRequestType;

typedef struct BlockRequest BlockRequest;
typedef void BlockRequestDoneFunc(BlockRequest *req, int ret);

struct BlockRequest {
    BlockRequestType type;
    uint64_t offset;
    uint64_t bytes;
    const struct iovec *iov; /* READ/WRITE: scatter-gather list covering `bytes` */
    int niov;
    int flags; /* BDRV_REQ_* */
    BlockRequestDoneFunc *cb;
    void *opaque; /* caller's */
    int ret;      /* result, also passed to cb */
};

/* Run a request synchronously (the backends' thread pool does); cb(req, ret) runs before this
 * returns. */
void bdrv_submit(BlockDriverState *bs, BlockRequest *req);

/* ---- dirty bitmaps (block/dirty-bitmap.c) ---- */
struct BdrvDirtyBitmap {
    BdrvDirtyBitmap *next;
    char *name;
    uint32_t granularity; /* bytes per bit, a power of two */
    uint64_t size;        /* bytes covered (the image length when created) */
    uint64_t nbits;
    uint8_t *bits; /* bit k of byte j covers granule 8 * j + k (QEMU's serialization) */
    bool disabled;
    bool persistent;
    bool readonly;     /* loaded from a read-only image */
    bool inconsistent; /* stored with the in-use flag: contents unknown */
};

/* bdrv_dirty_bitmap_check() flags, as QEMU's BDRV_BITMAP_* */
#define BDRV_BITMAP_RO           0x2
#define BDRV_BITMAP_INCONSISTENT 0x4
#define BDRV_BITMAP_DEFAULT      (BDRV_BITMAP_RO | BDRV_BITMAP_INCONSISTENT)
#define BDRV_BITMAP_ALLOW_RO     BDRV_BITMAP_INCONSISTENT

/* A new enabled, non-persistent bitmap over the whole image ("Bitmap already exists: x"). */
BdrvDirtyBitmap *bdrv_create_dirty_bitmap(BlockDriverState *bs, uint32_t granularity,
                                          const char *name, char **errp);
BdrvDirtyBitmap *bdrv_find_dirty_bitmap(BlockDriverState *bs, const char *name);
void bdrv_release_dirty_bitmap(BlockDriverState *bs, BdrvDirtyBitmap *bm);
void bdrv_release_all_dirty_bitmaps(BlockDriverState *bs);
/* Mark [offset, +bytes) dirty in every enabled bitmap of bs (guest writes, zeroes, discards). */
void bdrv_set_dirty(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
void bdrv_dirty_bitmap_set_range(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes);
void bdrv_clear_dirty_bitmap(BdrvDirtyBitmap *bm);
bool bdrv_dirty_bitmap_get(const BdrvDirtyBitmap *bm, uint64_t bit);
/* Number of dirty bits. */
uint64_t bdrv_dirty_bitmap_count(const BdrvDirtyBitmap *bm);
/* Resize all bitmaps of bs (new bits clear). */
void bdrv_dirty_bitmap_truncate(BlockDriverState *bs, uint64_t size);
/* 0, or -1 with QEMU's message when the bitmap is unusable for an operation of these flags. */
int bdrv_dirty_bitmap_check(const BdrvDirtyBitmap *bm, int flags, char **errp);
/* dst |= src (any granularities, same size). */
int bdrv_merge_dirty_bitmap(BdrvDirtyBitmap *dst, const BdrvDirtyBitmap *src, char **errp);
/* QEMU's default: the cluster size clamped to 4 KiB .. 64 KiB, else 64 KiB. */
uint32_t bdrv_get_default_bitmap_granularity(BlockDriverState *bs);
/* "#blockNNN": how QEMU names an unnamed node in messages. */
const char *bdrv_get_node_name(BlockDriverState *bs);
bool bdrv_can_store_new_dirty_bitmap(BlockDriverState *bs, const char *name, uint32_t granularity,
                                     char **errp);
int bdrv_remove_persistent_dirty_bitmap(BlockDriverState *bs, const char *name, char **errp);

/* ---- what QEMU shows about an image (block/block-info.c) ---- */

/* ImageInfo: qemu-img info's JSON; with_backing: "backing-image" too, as query-block has it. */
QJ *bdrv_image_info(BlockDriverState *bs, const char *filename, bool with_backing);
/* qemu-img info's text (also HMP's "info block -v"); needs <glib.h> for GString. */
struct _GString;
void bdrv_image_info_dump(BlockDriverState *bs, const char *filename, struct _GString *out);
/* A node given its backing node explicitly (not by its header) is named "json:{...}". */
void bdrv_refresh_json_filename(BlockDriverState *bs);
/* qemu-img snapshot -l's table */
void bdrv_snapshot_dump_header(struct _GString *out);
void bdrv_snapshot_dump(struct _GString *out, const BlockSnapshotInfo *sn);

/* ---- helpers shared by drivers and tools ---- */
bool buffer_is_zero(const void *buf, size_t len);
/* QEMU's size_to_str(): "1 GiB", "1.34 MiB", "196 KiB", "512 B". Returns g_malloc'd. */
char *size_to_str(uint64_t val);

#endif
