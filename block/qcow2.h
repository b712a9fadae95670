/* qcow2 driver internals, shared by block/qcow2*.c. */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/block-qcow2.h"

#define QCOW_MAX_CLUSTER_BITS           21
#define QCOW_MIN_CLUSTER_BITS           9
#define QCOW_MAX_L1_SIZE                (32u << 20)
#define QCOW_MAX_REFTABLE_SIZE          (8u << 20)
#define QCOW_MAX_SNAPSHOTS              65536
#define QCOW_MAX_SNAPSHOTS_SIZE         (64u << 20)
#define QCOW_MAX_CLUSTER_OFFSET         ((1ULL << 56) - 1)
#define QCOW2_MAX_BITMAPS               65535
#define QCOW2_MAX_BITMAP_DIRECTORY_SIZE (1024u * QCOW2_MAX_BITMAPS)

#define QCOW_OFLAG_COPIED     (1ULL << 63)
#define QCOW_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW_OFLAG_ZERO       1ULL
#define L1E_OFFSET_MASK       0x00fffffffffffe00ULL
#define L1E_RESERVED_MASK     0x7f000000000001ffULL
#define L2E_OFFSET_MASK       0x00fffffffffffe00ULL
#define L2E_STD_RESERVED_MASK 0x3f000000000001feULL
#define REFT_OFFSET_MASK      0xfffffffffffffe00ULL
#define REFT_RESERVED_MASK    0x1ffULL

#define QCOW2_INCOMPAT_DIRTY        (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ULL << 4)
#define QCOW2_INCOMPAT_MASK         0x1fULL
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)
#define QCOW2_AUTOCLEAR_BITMAPS     (1ULL << 0)
#define QCOW2_AUTOCLEAR_DATA_RAW    (1ULL << 1)
#define QCOW2_AUTOCLEAR_MASK        (QCOW2_AUTOCLEAR_BITMAPS | QCOW2_AUTOCLEAR_DATA_RAW)

#define QCOW2_EXT_END         0x00000000u
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURES    0x6803f857u
#define QCOW2_EXT_BITMAPS     0x23852875u
#define QCOW2_EXT_CRYPTO      0x0537be77u
#define QCOW2_EXT_DATA_FILE   0x44415441u

typedef enum {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN,
    QCOW2_CLUSTER_ZERO_ALLOC,
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

typedef struct Qcow2CacheEntry {
    uint64_t offset; /* 0 = empty */
    uint8_t *data;
    bool dirty;
    uint64_t lru;
} Qcow2CacheEntry;

typedef struct Qcow2Cache {
    int n;
    size_t table_size;
    bool is_l2;
    Qcow2CacheEntry *e;
    GHashTable *map; /* offset -> entry index + 1 */
    uint64_t lru_counter;
} Qcow2Cache;

typedef struct Qcow2Snapshot {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id;
    char *name;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t disk_size;
    int64_t icount;
    uint32_t extra_size;
    uint8_t *extra; /* raw extra data as stored */
} Qcow2Snapshot;

typedef struct Qcow2UnknownExt {
    uint32_t type;
    uint32_t len;
    uint8_t *data;
} Qcow2UnknownExt;

/* A request running with the node's lock given up for its data I/O (guest clusters). */
enum { QCOW2_INFLIGHT_READ, QCOW2_INFLIGHT_WRITE, QCOW2_INFLIGHT_ALLOC, QCOW2_INFLIGHT_MODIFY };
typedef struct Qcow2InFlight {
    uint64_t first, last;
    int kind;
    struct Qcow2InFlight *next;
} Qcow2InFlight;

typedef struct BDRVQcow2State {
    BlockDriverState *bs;
    BlockDriverState *file;
    BlockDriverState *data_file; /* external data file node, or NULL (data in `file`) */
    char *data_file_name;        /* as stored in the header extension */
    int cluster_bits;
    uint64_t cluster_size;
    int l2_bits;         /* log2 entries per L2 table */
    bool extended_l2;    /* 16-byte L2 entries with a subcluster bitmap */
    bool cow_read;       /* reading for copy-on-write: the last cluster past the end too */
    int l2e_shift;       /* 64-bit words per L2 entry, log2 (1 with extended L2) */
    int subcluster_bits; /* log2 bytes per subcluster (= cluster_bits without ext. L2) */
    uint64_t subcluster_size;
    uint64_t l2_entries;
    uint64_t slice_entries; /* QEMU's L2 slice size in entries (allocation chunking) */
    int refcount_order;
    int rb_bits; /* log2 entries per refcount block */
    uint64_t rb_entries;
    uint64_t refcount_max;
    int csize_shift;
    uint64_t csize_mask;
    uint64_t cluster_offset_mask;

    uint32_t version;
    uint64_t size;
    uint64_t incompat, compat, autoclear;
    uint32_t header_length;
    uint8_t compression_type;
    uint8_t *unknown_header;
    uint32_t unknown_header_len;
    Qcow2UnknownExt *unknown_exts;
    int n_unknown_exts;
    uint32_t nb_bitmaps; /* from the bitmaps extension, 0 unless its autoclear bit is set */
    uint64_t bitmap_dir_size, bitmap_dir_offset;

    uint64_t *l1; /* host order */
    uint32_t l1_size;
    uint64_t l1_offset;

    uint64_t *rt;     /* host order */
    uint64_t rt_size; /* entries */
    uint64_t rt_offset;
    uint32_t rt_clusters;

    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t snapshots_size;
    Qcow2Snapshot *snapshots;

    uint64_t free_cluster_index;
    uint64_t free_byte_offset;

    Qcow2Cache *l2_cache;
    Qcow2Cache *rb_cache;

    uint8_t *cbuf;          /* compressed data bounce */
    uint8_t *ccache;        /* last decompressed cluster */
    uint64_t ccache_offset; /* host descriptor of ccache, ~0 = none */

    int overlap_check;     /* QCOW2_OL_* kinds checked before writes */
    uint64_t rt_max_index; /* no refcount table entry past this one is in use */
    bool dead;             /* a fatal corruption was signalled: no further I/O */
    bool corrupt_reported;
    bool read_only;
    /* QEMU's guess, made at the first block status: the image was preallocated with metadata
     * (more clusters in use than the file has allocated), so data clusters may be holes */
    int metadata_prealloc; /* -1: not yet known */
    bool check_mode;
    bool open_done;              /* open succeeded: close stores bitmaps */
    bool stale_bitmaps_ext;      /* bitmaps extension without its autoclear bit: drop it */
    bool vmstate_io;             /* reading the VM state, past the virtual disk's end */
    Qcow2InFlight *inflight;     /* requests doing data I/O without the node lock */
    GPtrArray *inflight_waiters; /* coroutines waiting for one of them to end */
} BDRVQcow2State;

/* Extended L2 bitmaps: bit k = subcluster k allocated, bit 32 + k = subcluster k reads zero. */
#define QCOW_L2_BITMAP_ALL_ALLOC  0xffffffffULL
#define QCOW_L2_BITMAP_ALL_ZEROES (QCOW_L2_BITMAP_ALL_ALLOC << 32)

/* Entry i of an L2 table (as stored, big-endian words), and its bitmap (0 without ext. L2). */
static inline uint64_t l2_entry_get(const BDRVQcow2State *s, const uint64_t *l2, uint64_t i)
{
    return GUINT64_FROM_BE(l2[i << s->l2e_shift]);
}

static inline void l2_entry_set(const BDRVQcow2State *s, uint64_t *l2, uint64_t i, uint64_t e)
{
    l2[i << s->l2e_shift] = GUINT64_TO_BE(e);
}

static inline uint64_t l2_bitmap_get(const BDRVQcow2State *s, const uint64_t *l2, uint64_t i)
{
    return s->extended_l2 ? GUINT64_FROM_BE(l2[(i << 1) + 1]) : 0;
}

static inline void l2_bitmap_set(const BDRVQcow2State *s, uint64_t *l2, uint64_t i, uint64_t b)
{
    if (s->extended_l2) {
        l2[(i << 1) + 1] = GUINT64_TO_BE(b);
    }
}

/* Bits first..last (inclusive) of a 32-bit subcluster mask. */
static inline uint64_t sc_range_mask(unsigned first, unsigned last)
{
    return ((2ULL << last) - 1) & ~((1ULL << first) - 1);
}

typedef enum {
    QCOW2_SC_UNALLOCATED_PLAIN,
    QCOW2_SC_UNALLOCATED_ALLOC,
    QCOW2_SC_ZERO_PLAIN,
    QCOW2_SC_ZERO_ALLOC,
    QCOW2_SC_NORMAL,
    QCOW2_SC_COMPRESSED,
    QCOW2_SC_INVALID,
} Qcow2SubclusterType;

/* Type of subcluster sc of an extended L2 entry (QEMU's rules). */
Qcow2SubclusterType qcow2_subcluster_type(BDRVQcow2State *s, uint64_t entry, uint64_t bitmap,
                                          unsigned sc);

/* Where guest data lives: the external data file, or the image file itself. */
static inline BlockDriverState *qcow2_data(const BDRVQcow2State *s)
{
    return s->data_file ? s->data_file : s->file;
}

static inline bool qcow2_has_data_file(const BDRVQcow2State *s)
{
    return (s->incompat & QCOW2_INCOMPAT_DATA_FILE) != 0;
}

/*
 * Host offset for n new data clusters from guest cluster `first`: new clusters in the image
 * file, or (external data file) the guest offset itself, without refcounts.
 */
int64_t qcow2_alloc_data_clusters(BDRVQcow2State *s, uint64_t first, uint64_t n);

/* qcow2-cluster.c: caches and mapping */
Qcow2Cache *qcow2_cache_new(int n, size_t table_size, bool is_l2);
void qcow2_cache_free(Qcow2Cache *c);
int qcow2_cache_get(BDRVQcow2State *s, Qcow2Cache *c, uint64_t offset, bool read, uint64_t **table);
void qcow2_cache_mark_dirty(Qcow2Cache *c, const void *table);
int qcow2_cache_write_dirty(BDRVQcow2State *s, Qcow2Cache *c);
void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset);
bool qcow2_cache_is_dirty(Qcow2Cache *c);
void qcow2_cache_drop_all(Qcow2Cache *c);

int qcow2_file_sync(BDRVQcow2State *s);
int qcow2_flush_metadata(BDRVQcow2State *s);
Qcow2ClusterType qcow2_entry_type(BDRVQcow2State *s, uint64_t l2_entry);
/*
 * L2 entry for the cluster containing guest offset; *n_same gets how many consecutive
 * clusters (up to max_clusters, same L2 table) have the same type and, for normal ones,
 * contiguous host offsets.
 */
int qcow2_get_entry(BDRVQcow2State *s, uint64_t offset, uint64_t max_clusters, uint64_t *entry,
                    uint64_t *n_same);
/*
 * Extended L2: entry and bitmap of the cluster holding `offset`, and how many bytes from
 * `offset` (at most `bytes`, within the cluster) share the subcluster type in *type.
 */
int qcow2_get_subcluster(BDRVQcow2State *s, uint64_t offset, uint64_t bytes, uint64_t *entry,
                         uint64_t *bitmap, Qcow2SubclusterType *type, uint64_t *run);
int qcow2_write_l1_entry(BDRVQcow2State *s, uint32_t index);
/* Make the L2 table for l1_index writable (allocate or copy-on-write); returns its offset. */
int qcow2_get_l2_for_write(BDRVQcow2State *s, uint64_t l1_index, uint64_t *l2_offset);
int qcow2_decompress_cluster(BDRVQcow2State *s, uint64_t l2_entry, uint8_t **out);
void qcow2_signal_corruption(BDRVQcow2State *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* qcow2-overlap.c: QEMU's metadata overlap checks (QCOW2_OL_* = 1 << bit number) */
enum {
    QCOW2_OL_MAIN_HEADER = 1 << 0,
    QCOW2_OL_ACTIVE_L1 = 1 << 1,
    QCOW2_OL_ACTIVE_L2 = 1 << 2,
    QCOW2_OL_REFCOUNT_TABLE = 1 << 3,
    QCOW2_OL_REFCOUNT_BLOCK = 1 << 4,
    QCOW2_OL_SNAPSHOT_TABLE = 1 << 5,
    QCOW2_OL_INACTIVE_L1 = 1 << 6,
    QCOW2_OL_INACTIVE_L2 = 1 << 7,
    QCOW2_OL_BITMAP_DIRECTORY = 1 << 8,
    QCOW2_OL_MAX_BITNR = 9,
};
#define QCOW2_OL_CONSTANT                                                                          \
    (QCOW2_OL_MAIN_HEADER | QCOW2_OL_ACTIVE_L1 | QCOW2_OL_REFCOUNT_TABLE |                         \
     QCOW2_OL_SNAPSHOT_TABLE | QCOW2_OL_BITMAP_DIRECTORY)
#define QCOW2_OL_CACHED                                                                            \
    (QCOW2_OL_CONSTANT | QCOW2_OL_ACTIVE_L2 | QCOW2_OL_REFCOUNT_BLOCK | QCOW2_OL_INACTIVE_L1)
#define QCOW2_OL_ALL (QCOW2_OL_CACHED | QCOW2_OL_INACTIVE_L2)
/* Is key one of the overlap-check options? */
bool qcow2_overlap_is_option(const char *key);
/* The kinds to check from opts (overlap-check[.template], overlap-check.<kind>), or an error. */
int qcow2_overlap_parse(const QOpts *opts, int *mask, char **errp);
/* Recompute rt_max_index after the refcount table was replaced or changed wholesale. */
void qcow2_rt_max_update(BDRVQcow2State *s);
/* The QCOW2_OL_* kind that [offset, +size) would overwrite (kinds in ign allowed), 0, or -errno. */
int qcow2_check_metadata_overlap(BDRVQcow2State *s, int ign, uint64_t offset, uint64_t size);
/*
 * Before writing [offset, +size) of the image file (data_file: guest data, which lives
 * elsewhere with an external data file): refuse with QEMU's corruption message and -EIO when
 * it would overwrite metadata.
 */
int qcow2_pre_write_overlap_check(BDRVQcow2State *s, int ign, uint64_t offset, uint64_t size,
                                  bool data_file);
/* Checked writes of metadata to the image file, and of guest data to where it lives. */
int qcow2_write_meta(BDRVQcow2State *s, int ign, uint64_t offset, uint64_t size, const void *buf);
int qcow2_write_data(BDRVQcow2State *s, uint64_t offset, uint64_t size, const void *buf);

/* qcow2-refcount.c */
int qcow2_get_refcount(BDRVQcow2State *s, uint64_t cluster_index, uint64_t *refcount);
int qcow2_update_refcount(BDRVQcow2State *s, uint64_t offset, uint64_t length, int64_t addend);
int64_t qcow2_alloc_clusters(BDRVQcow2State *s, uint64_t n);
int64_t qcow2_alloc_bytes(BDRVQcow2State *s, uint64_t size);
/*
 * QEMU's qcow2_refcount_area(): a new refcount table (and the refcount blocks still missing)
 * at start_offset covering the file plus additional_clusters (exactly, or with QEMU's room to
 * grow); new_block (if not 0) becomes entry new_block_index; the header is switched to it and
 * the old table freed. Returns the offset right after the new structures.
 */
int64_t qcow2_refcount_area(BDRVQcow2State *s, uint64_t start_offset, uint64_t additional_clusters,
                            bool exact_size, uint64_t new_block_index, uint64_t new_block);
/* After a shrink: drop the refcount blocks that count no cluster but themselves (QEMU's). */
int qcow2_shrink_reftable(BDRVQcow2State *s);
/* Take up to n free clusters at offset; returns how many (stops at the first used one). */
int64_t qcow2_alloc_clusters_at(BDRVQcow2State *s, uint64_t offset, uint64_t n);
/* Drop one reference from each cluster in [offset, +length) once metadata no longer points at
 * them (flushes the L2 cache first). discard: punch freed clusters out of the file. */
int qcow2_free_clusters(BDRVQcow2State *s, uint64_t offset, uint64_t length, bool discard);
/* Free whatever an L2 entry points at. */
int qcow2_free_entry(BDRVQcow2State *s, uint64_t l2_entry, bool discard);
int qcow2_check_image(BlockDriverState *bs, BdrvCheckResult *res, int fix);

/* qcow2.c */
/* QEMU's table checks: "<name> too large" (-EFBIG), "<name> offset invalid" (-EINVAL). */
int qcow2_validate_table(BDRVQcow2State *s, uint64_t offset, uint64_t entries, size_t entry_len,
                         uint64_t max_bytes, const char *name, char **errp);
int qcow2_update_header(BDRVQcow2State *s);
/* Grow the active L1 table to exactly new_size entries (no-op when not bigger). */
int qcow2_grow_l1_exact(BDRVQcow2State *s, uint32_t new_size);

/* qcow2-snapshot.c */
/* Write the snapshot table anew (every entry with at least the 24 bytes of extra data v3
 * wants), switch the header over, free the old table. */
int qcow2_rewrite_snapshot_table(BDRVQcow2State *s);
int qcow2_snapshot_create(BlockDriverState *bs, const BlockSnapshotInfo *info);
int qcow2_snapshot_goto(BlockDriverState *bs, const char *id_or_name);
int qcow2_snapshot_delete(BlockDriverState *bs, const char *id, const char *name, char **errp);
int qcow2_snapshot_load_tmp(BlockDriverState *bs, const char *id, const char *name, char **errp);

/* qcow2-bitmap.c */
/* Load the directory's bitmaps into s->bs (open); a writable image gets them marked in-use. */
int qcow2_load_dirty_bitmaps(BDRVQcow2State *s, bool *header_updated, char **errp);
/* Store the persistent bitmaps of s->bs (close of a writable image). */
int qcow2_store_dirty_bitmaps(BDRVQcow2State *s, char **errp);
bool qcow2_can_store_new_dirty_bitmap(BlockDriverState *bs, const char *name, uint32_t granularity,
                                      char **errp);
int qcow2_remove_persistent_dirty_bitmap(BlockDriverState *bs, const char *name, char **errp);
int qcow2_truncate_bitmaps_check(BDRVQcow2State *s, char **errp);

/* qcow2's open options, checked as QEMU checks them (QEMU's messages). */
int qcow2_check_runtime_opts(QOpts *opts, char **errp);

#endif
