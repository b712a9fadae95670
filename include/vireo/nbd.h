/*
 * The NBD protocol (NetworkBlockDevice's doc/proto.md): wire constants shared by the server
 * (nbd/server.c, served by qemu-nbd) and the client driver (block/nbd.c), and the server's
 * interface. Everything on the wire is big-endian.
 */
#ifndef VIREO_NBD_H
#define VIREO_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vireo/block.h"

#define NBD_DEFAULT_PORT 10809

/* handshake */
#define NBD_MAGIC          0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC     0x49484156454f5054ULL /* "IHAVEOPT" */
#define NBD_REP_MAGIC      0x0003e889045565a9ULL
#define NBD_OLDSTYLE_MAGIC 0x0000420281861253ULL

#define NBD_FLAG_FIXED_NEWSTYLE   (1 << 0) /* server handshake flags */
#define NBD_FLAG_NO_ZEROES        (1 << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1 << 0) /* client flags */
#define NBD_FLAG_C_NO_ZEROES      (1 << 1)

/* options */
#define NBD_OPT_EXPORT_NAME       1
#define NBD_OPT_ABORT             2
#define NBD_OPT_LIST              3
#define NBD_OPT_STARTTLS          5
#define NBD_OPT_INFO              6
#define NBD_OPT_GO                7
#define NBD_OPT_STRUCTURED_REPLY  8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT  10

/* option replies */
#define NBD_REP_ACK          1
#define NBD_REP_SERVER       2
#define NBD_REP_INFO         3
#define NBD_REP_META_CONTEXT 4
#define NBD_REP_ERR(n)       ((1U << 31) | (n))
#define NBD_REP_ERR_UNSUP    NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY   NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID  NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN  NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)
#define NBD_REP_ERR_TOO_BIG  NBD_REP_ERR(9)

/* NBD_REP_INFO types */
#define NBD_INFO_EXPORT      0
#define NBD_INFO_NAME        1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE  3

/* transmission flags */
#define NBD_FLAG_HAS_FLAGS         (1 << 0)
#define NBD_FLAG_READ_ONLY         (1 << 1)
#define NBD_FLAG_SEND_FLUSH        (1 << 2)
#define NBD_FLAG_SEND_FUA          (1 << 3)
#define NBD_FLAG_ROTATIONAL        (1 << 4)
#define NBD_FLAG_SEND_TRIM         (1 << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1 << 6)
#define NBD_FLAG_SEND_DF           (1 << 7)
#define NBD_FLAG_CAN_MULTI_CONN    (1 << 8)
#define NBD_FLAG_SEND_CACHE        (1 << 10)
#define NBD_FLAG_SEND_FAST_ZERO    (1 << 11)

/* requests */
#define NBD_REQUEST_MAGIC    0x25609513U
#define NBD_REQUEST_SIZE     28
#define NBD_CMD_READ         0
#define NBD_CMD_WRITE        1
#define NBD_CMD_DISC         2
#define NBD_CMD_FLUSH        3
#define NBD_CMD_TRIM         4
#define NBD_CMD_CACHE        5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7

#define NBD_CMD_FLAG_FUA       (1 << 0)
#define NBD_CMD_FLAG_NO_HOLE   (1 << 1)
#define NBD_CMD_FLAG_DF        (1 << 2)
#define NBD_CMD_FLAG_REQ_ONE   (1 << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1 << 4)

/* replies */
#define NBD_SIMPLE_REPLY_MAGIC      0x67446698U
#define NBD_STRUCTURED_REPLY_MAGIC  0x668e33efU
#define NBD_SIMPLE_REPLY_SIZE       16
#define NBD_STRUCTURED_REPLY_SIZE   20
#define NBD_REPLY_FLAG_DONE         (1 << 0)
#define NBD_REPLY_TYPE_NONE         0
#define NBD_REPLY_TYPE_OFFSET_DATA  1
#define NBD_REPLY_TYPE_OFFSET_HOLE  2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR        ((1 << 15) + 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET ((1 << 15) + 2)
#define NBD_REPLY_TYPE_IS_ERR(t)    (((t) >> 15) & 1)

/* errors on the wire */
#define NBD_EPERM     1
#define NBD_EIO       5
#define NBD_ENOMEM    12
#define NBD_EINVAL    22
#define NBD_ENOSPC    28
#define NBD_EOVERFLOW 75
#define NBD_ENOTSUP   95
#define NBD_ESHUTDOWN 108

/* base:allocation and qemu:dirty-bitmap: flags */
#define NBD_STATE_HOLE  (1 << 0)
#define NBD_STATE_ZERO  (1 << 1)
#define NBD_STATE_DIRTY (1 << 0)

/* limits (QEMU's): names and descriptions, the largest request payload */
#define NBD_MAX_STRING_SIZE 4096
#define NBD_MAX_BUFFER_SIZE (32 * 1024 * 1024)

/* big-endian fields */
static inline void nbd_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
    nbd_put16(p, (uint16_t)(v >> 16));
    nbd_put16(p + 2, (uint16_t)v);
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
    nbd_put32(p, (uint32_t)(v >> 32));
    nbd_put32(p + 4, (uint32_t)v);
}

static inline uint16_t nbd_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
    return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
    return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

/* errno <-> NBD error */
uint32_t nbd_errno_to_wire(int err);
int nbd_wire_to_errno(uint32_t err);

/* ---- the server (nbd/server.c) ---- */

typedef struct NBDExport {
    BlockDriverState *bs;
    char *name;        /* "" by default */
    char *description; /* NULL: none */
    bool readonly;
    uint64_t offset; /* qemu-nbd -o: where the export starts in the image */
    uint64_t size;
    BdrvDirtyBitmap *bitmap; /* --bitmap: qemu:dirty-bitmap:NAME, or NULL */
    /* Serialises block-layer calls of all clients (a node has one user at a time). */
    void (*lock)(void *opaque);
    void (*unlock)(void *opaque);
    void *lock_opaque;
} NBDExport;

/*
 * The byte stream a client is served on: read exactly n bytes (0, or -errno / -EPIPE at the
 * end of the stream), write exactly n bytes (0 or -errno), writev likewise.
 */
typedef struct NBDConn {
    int (*read)(void *opaque, void *buf, size_t n);
    int (*writev)(void *opaque, const struct iovec *iov, int niov);
    void *opaque;
} NBDConn;

/* An NBDConn on a connected socket. */
void nbd_conn_init_fd(NBDConn *c, int *fd);

/*
 * Serve one client: the fixed newstyle handshake, then requests until NBD_CMD_DISC or the end
 * of the stream. A misbehaving client gets an NBD error or is dropped (return < 0); nothing it
 * sends reaches the image outside the export.
 */
int nbd_serve_client(NBDExport *exp, NBDConn *conn);

#endif
