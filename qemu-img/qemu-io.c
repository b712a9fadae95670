/*
 * qemu-io: run block-layer commands against one image, with QEMU 7.2's options, commands,
 * output lines, error texts and exit status.
 *
 * Every request runs in a coroutine (include/vireo/coroutine.h) as in QEMU: a synchronous
 * command enters its request and polls the event loop until it is done (completions of
 * earlier aio_* requests are printed meanwhile, as QEMU prints them); aio_read/aio_write
 * return once their request waits (for I/O, a lock, a blkdebug breakpoint) and print their
 * result when it completes; aio_flush, close and the end of the program wait for all.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/coroutine.h"
#include "vireo/error.h"
#include "vireo/qjson.h"
#include "tools.h"

#define CMD_NOFILE_OK 0x01
#define CMD_GLOBAL    0x02
#define PERM_WRITE    0x01
#define PERM_RESIZE   0x02

#define REQUEST_MAX_BYTES 2147483136LL /* QEMU's BDRV_REQUEST_MAX_BYTES */
#define MISALIGN_OFFSET   16

static BlockDriverState *qio_bs;
static bool qio_image_opts;
static bool qio_misalign;
static bool quit_requested;
static const char *progname = "qemu-io";
static int inflight; /* aio requests not completed yet */
/* QEMU's BlockBackend write permission: held from a read-write open or taken by the first
 * command that writes; dropped by reopen -r (a reopen read-only through options fails while
 * it is held, as in QEMU). */
/*
 * qemu-io's BlockBackend permissions are those of the tool's user of the node
 * (block-perm.c): the write permission is taken by the first write command, as QEMU's.
 */
static bool qio_write_perm(void)
{
    return qio_bs && qio_bs->users && (qio_bs->users->perm & BLK_PERM_WRITE);
}

static int qio_set_write_perm(bool on, char **errp)
{
    BdrvUser *u = qio_bs->users;
    return bdrv_user_set_perm(u, on ? u->perm | BLK_PERM_WRITE : u->perm & ~BLK_PERM_WRITE,
                              u->shared, errp);
}

typedef struct Cmd {
    const char *name;
    const char *altname;
    int (*fn)(int argc, char **argv);
    int argmin, argmax; /* argmax -1: unlimited */
    int flags;
    int perm;
    const char *args;
    const char *oneline;
    void (*help)(void);
} Cmd;

static int usage_of(const char *name);

/* ---- numbers and reports ---- */

static int64_t cvtnum(const char *s)
{
    uint64_t v;
    int rc = qopts_strtosz(s, 'B', &v);
    if (rc < 0) {
        return rc;
    }
    if (v > INT64_MAX) {
        return -ERANGE;
    }
    return (int64_t)v;
}

static void print_cvtnum_err(int64_t rc, const char *arg)
{
    if (rc == -EINVAL) {
        printf("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- %s\n",
               arg);
    } else if (rc == -ERANGE) {
        printf("Parsing error: argument too large -- %s\n", arg);
    } else {
        printf("Parsing error: %s\n", arg);
    }
}

/*
 * A command's "off len" arguments, checked as QEMU's commands check them (the length against
 * BDRV_REQUEST_MAX_BYTES when check_max); <0 after printing the error.
 */
static int parse_off_len(char **argv, int64_t *offset, int64_t *count, bool check_max)
{
    *offset = cvtnum(argv[0]);
    if (*offset < 0) {
        print_cvtnum_err(*offset, argv[0]);
        return (int)*offset;
    }
    *count = cvtnum(argv[1]);
    if (*count < 0) {
        print_cvtnum_err(*count, argv[1]);
        return (int)*count;
    } else if (check_max && *count > REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRIu64 ", given %s\n", (uint64_t)REQUEST_MAX_BYTES,
               argv[1]);
        return -EINVAL;
    }
    return 0;
}

static int parse_pattern(const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 0);
    if (v < 0 || v > UCHAR_MAX || *end) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return (int)v;
}

static struct timespec now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t;
}

static void print_report(const char *op, struct timespec t, int64_t offset, int64_t count,
                         int64_t total, int cnt, bool cflag)
{
    char s1[64], s2[64], ts[64];
    tool_timestr(&t, ts, sizeof(ts), cflag);
    if (!cflag) {
        tool_cvtstr((double)total, s1, sizeof(s1));
        tool_cvtstr(tool_tdiv((double)total, t), s2, sizeof(s2));
        printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n", op, total, count,
               offset);
        printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n", s1, cnt, ts, s2,
               tool_tdiv((double)cnt, t));
    } else {
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts, tool_tdiv((double)total, t),
               tool_tdiv((double)cnt, t));
    }
}

static void dump_buffer(const uint8_t *p, int64_t offset, int64_t len)
{
    for (int64_t i = 0; i < len; i += 16) {
        printf("%08" PRIx64 ":  ", (uint64_t)(offset + i));
        for (int64_t j = 0; j < 16 && i + j < len; j++) {
            printf("%02x ", p[i + j]);
        }
        printf(" ");
        for (int64_t j = 0; j < 16 && i + j < len; j++) {
            printf("%c", isalnum(p[i + j]) ? p[i + j] : '.');
        }
        printf("\n");
    }
}

/* Buffers as QEMU's qemu_io_alloc: filled with a pattern, 16 bytes off alignment with -m. */
static uint8_t *io_alloc(int64_t len, int pattern)
{
    size_t n = (size_t)len + (qio_misalign ? MISALIGN_OFFSET : 0);
    uint8_t *b = g_try_malloc(n ? n : 1);
    if (!b) {
        return NULL;
    }
    memset(b, pattern, n);
    return b + (qio_misalign ? MISALIGN_OFFSET : 0);
}

static void io_free(uint8_t *p)
{
    if (p) {
        g_free(p - (qio_misalign ? MISALIGN_OFFSET : 0));
    }
}

/* ---- requests, run in coroutines ---- */

typedef enum {
    OP_READ,
    OP_WRITE,
    OP_WRITE_COMPRESSED,
    OP_ZERO,
    OP_DISCARD,
    OP_FLUSH,
    OP_TRUNCATE,
    OP_ALLOCATED,
    OP_LOAD_VMSTATE,
    OP_SAVE_VMSTATE,
} IoOp;

typedef struct IoReq IoReq;
struct IoReq {
    IoOp op;
    int64_t offset, bytes;
    uint8_t *buf;
    int flags;
    PreallocMode prealloc;
    char *err;
    uint64_t pnum;
    int ret;
    bool done;
    bool abandoned; /* a synchronous caller gave up waiting: free it when done */
    bool returned;  /* an aio request's submission returned */
    void (*cb)(IoReq *r);
    void *ctx;
};

static void req_free(IoReq *r)
{
    io_free(r->buf);
    g_free(r->err);
    g_free(r);
}

static void aio_complete_bh(void *opaque)
{
    IoReq *r = opaque;
    inflight--;
    r->cb(r);
}

static void io_entry(void *opaque)
{
    IoReq *r = opaque;
    BlockDriverState *bs = qio_bs;
    switch (r->op) {
    case OP_READ:
        r->ret = bdrv_pread(bs, (uint64_t)r->offset, (uint64_t)r->bytes, r->buf);
        break;
    case OP_WRITE:
    case OP_WRITE_COMPRESSED:
        r->ret = bdrv_pwrite(bs, (uint64_t)r->offset, (uint64_t)r->bytes, r->buf,
                             r->flags | (r->op == OP_WRITE_COMPRESSED ? BDRV_REQ_COMPRESSED : 0));
        break;
    case OP_ZERO:
        r->ret = bdrv_pwrite_zeroes(bs, (uint64_t)r->offset, (uint64_t)r->bytes, r->flags);
        break;
    case OP_DISCARD:
        r->ret = bdrv_discard(bs, (uint64_t)r->offset, (uint64_t)r->bytes);
        break;
    case OP_FLUSH:
        r->ret = bdrv_flush(bs);
        break;
    case OP_TRUNCATE:
        r->ret = bdrv_truncate(bs, (uint64_t)r->offset, false, r->prealloc, &r->err);
        break;
    case OP_ALLOCATED:
        r->ret = bdrv_is_allocated(bs, (uint64_t)r->offset, (uint64_t)r->bytes, &r->pnum);
        break;
    case OP_LOAD_VMSTATE:
        r->ret = bdrv_load_vmstate(bs, (uint64_t)r->offset, (uint64_t)r->bytes, r->buf);
        break;
    case OP_SAVE_VMSTATE:
        r->ret = bdrv_save_vmstate(bs, (uint64_t)r->offset, (uint64_t)r->bytes, r->buf);
        break;
    }
    r->done = true;
    if (r->abandoned) {
        req_free(r);
    } else if (r->cb) {
        if (r->returned) {
            inflight--;
            r->cb(r);
        } else {
            /* completed without waiting: report from the loop, after the command returned */
            aio_bh_schedule_oneshot(aio_complete_bh, r);
        }
    }
}

/* Run r to completion (the loop runs meanwhile); -EDEADLK when nothing can ever finish it. */
static int run_sync(IoReq *r)
{
    qemu_coroutine_enter(qemu_coroutine_create(io_entry, r));
    while (!r->done) {
        if (!aio_poll(true) && !aio_pending()) {
            r->abandoned = true; /* it waits on a suspended request: QEMU would hang here */
            return -EDEADLK;
        }
    }
    return r->ret;
}

static void run_async(IoReq *r)
{
    inflight++;
    qemu_coroutine_enter(qemu_coroutine_create(io_entry, r));
    r->returned = true;
}

/* Wait for every aio request (QEMU's drain); false when some can never complete. */
static bool drain_all(void)
{
    while (inflight) {
        if (!aio_poll(true) && !aio_pending()) {
            return false;
        }
    }
    while (aio_poll(false)) {
    }
    return true;
}

static int sync_req(IoOp op, int64_t offset, int64_t bytes, uint8_t **buf, int flags)
{
    IoReq *r = g_new0(IoReq, 1);
    r->op = op;
    r->offset = offset;
    r->bytes = bytes;
    r->buf = buf ? *buf : NULL;
    r->flags = flags;
    int ret = run_sync(r);
    if (r->abandoned) {
        if (buf) {
            *buf = NULL; /* the request still owns it */
        }
        return ret;
    }
    r->buf = NULL;
    g_free(r);
    return ret;
}

static int is_allocated(int64_t offset, int64_t bytes, int64_t *pnum)
{
    IoReq *r = g_new0(IoReq, 1);
    r->op = OP_ALLOCATED;
    r->offset = offset;
    r->bytes = bytes;
    int ret = run_sync(r);
    if (!r->abandoned) {
        *pnum = (int64_t)r->pnum;
        g_free(r);
    }
    return ret;
}

/* ---- read, readv, aio_read ---- */

static void read_help(void)
{
    printf("\n"
           " reads a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'read -v 512 1k' - dumps 1 kilobyte read from 512 bytes into the file\n"
           "\n"
           " Reads a segment of the currently open file, optionally dumping it to the\n"
           " standard output stream (with -v option) for subsequent inspection.\n"
           " -b, -- read from the VM state rather than the virtual disk\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -l, -- length for pattern verification (only with -P)\n"
           " -p, -- ignored for backwards compatibility\n"
           " -P, -- use a pattern to verify read data\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           " -s, -- start offset for pattern verification (only with -P)\n"
           " -v, -- dump buffer to standard output\n"
           "\n");
}

/* read/write -b and write -c: offset and count in whole sectors (QEMU's messages) */
static bool sector_aligned(int64_t offset, int64_t count)
{
    if (offset & 511) {
        printf("%" PRId64 " is not a sector-aligned value for 'offset'\n", offset);
        return false;
    }
    if (count & 511) {
        printf("%" PRId64 " is not a sector-aligned value for 'count'\n", count);
        return false;
    }
    return true;
}

static int read_f(int argc, char **argv)
{
    bool cflag = false, qflag = false, vflag = false, pflag = false, sflag = false;
    bool lflag = false, bflag = false;
    int pattern = 0, c;
    int64_t poff = 0, pcount = 0;
    while ((c = getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'C':
            cflag = true;
            break;
        case 'l':
            lflag = true;
            pcount = cvtnum(optarg);
            if (pcount < 0) {
                print_cvtnum_err(pcount, optarg);
                return (int)pcount;
            }
            break;
        case 'p':
            break;
        case 'P':
            pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            poff = cvtnum(optarg);
            if (poff < 0) {
                print_cvtnum_err(poff, optarg);
                return (int)poff;
            }
            break;
        case 'v':
            vflag = true;
            break;
        default:
            return usage_of("read");
        }
    }
    if (optind != argc - 2) {
        return usage_of("read");
    }
    int64_t offset, count;
    int pr = parse_off_len(argv + optind, &offset, &count, true);
    if (pr < 0) {
        return pr;
    }
    if (!pflag && (lflag || sflag)) {
        return usage_of("read");
    }
    if (!lflag) {
        pcount = count - poff;
    }
    if (pcount < 0 || pcount + poff > count) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    if (bflag && !sector_aligned(offset, count)) {
        return -EINVAL;
    }
    uint8_t *buf = io_alloc(count, 0xab);
    int ret;
    struct timespec t1 = now();
    if (!buf) {
        ret = -ENOMEM;
    } else {
        ret = sync_req(bflag ? OP_LOAD_VMSTATE : OP_READ, offset, count, &buf, 0);
    }
    struct timespec t2 = now();
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
        io_free(buf);
        return ret;
    }
    if (pflag) {
        for (int64_t i = 0; i < pcount; i++) {
            if (buf[poff + i] != pattern) {
                printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n",
                       offset + poff, pcount);
                ret = -EINVAL;
                break;
            }
        }
    }
    if (!qflag) {
        if (vflag) {
            dump_buffer(buf, offset, count);
        }
        print_report("read", tool_tsub(t2, t1), offset, count, count, 1, cflag);
    }
    io_free(buf);
    return ret;
}

/* The lengths of a vectored request, checked as QEMU's create_iovec. */
static int iov_total(char **argv, int n, int64_t *total)
{
    int64_t count = 0;
    for (int i = 0; i < n; i++) {
        int64_t len = cvtnum(argv[i]);
        if (len < 0) {
            print_cvtnum_err(len, argv[i]);
            return -EINVAL;
        }
        if (len > REQUEST_MAX_BYTES) {
            printf("Argument '%s' exceeds maximum size %" PRIu64 "\n", argv[i],
                   (uint64_t)REQUEST_MAX_BYTES);
            return -EINVAL;
        }
        if (count > REQUEST_MAX_BYTES - len) {
            printf("The total number of bytes exceed the maximum size %" PRIu64 "\n",
                   (uint64_t)REQUEST_MAX_BYTES);
            return -EINVAL;
        }
        count += len;
    }
    *total = count;
    return 0;
}

/* "off len [len..]" of the vectored commands; <0 after printing the error. */
static int parse_off_vec(char **argv, int n, int64_t *offset, int64_t *count)
{
    *offset = cvtnum(argv[0]);
    if (*offset < 0) {
        print_cvtnum_err(*offset, argv[0]);
        return (int)*offset;
    }
    return iov_total(argv + 1, n - 1, count) < 0 ? -EINVAL : 0;
}

static void readv_help(void)
{
    printf("\n"
           " reads a range of bytes from the given offset into multiple buffers\n"
           "\n"
           " Example:\n"
           " 'readv -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the file\n"
           "\n"
           " Reads a segment of the currently open file, optionally dumping it to the\n"
           " standard output stream (with -v option) for subsequent inspection.\n"
           " Uses multiple iovec buffers if more than one byte range is specified.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -P, -- use a pattern to verify read data\n"
           " -v, -- dump buffer to standard output\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int readv_f(int argc, char **argv)
{
    bool cflag = false, qflag = false, vflag = false, pflag = false;
    int pattern = 0, c;
    while ((c = getopt(argc, argv, "CP:qv")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'P':
            pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 'v':
            vflag = true;
            break;
        default:
            return usage_of("readv");
        }
    }
    if (optind > argc - 2) {
        return usage_of("readv");
    }
    int64_t offset, count;
    int pr = parse_off_vec(argv + optind, argc - optind, &offset, &count);
    if (pr < 0) {
        return pr;
    }
    uint8_t *buf = io_alloc(count, 0xab);
    struct timespec t1 = now();
    int ret = buf ? sync_req(OP_READ, offset, count, &buf, 0) : -ENOMEM;
    struct timespec t2 = now();
    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
        io_free(buf);
        return ret;
    }
    if (pflag) {
        for (int64_t i = 0; i < count; i++) {
            if (buf[i] != pattern) {
                printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n",
                       offset, count);
                ret = -EINVAL;
                break;
            }
        }
    }
    if (!qflag) {
        if (vflag) {
            dump_buffer(buf, offset, count);
        }
        print_report("read", tool_tsub(t2, t1), offset, count, count, 1, cflag);
    }
    io_free(buf);
    return ret;
}

typedef struct AioCtx {
    int64_t offset, bytes;
    bool qflag, vflag, cflag, pflag;
    int pattern;
    struct timespec t1;
} AioCtx;

static void aio_read_done(IoReq *r)
{
    AioCtx *ctx = r->ctx;
    struct timespec t2 = now();
    if (r->ret < 0) {
        printf("readv failed: %s\n", strerror(-r->ret));
    } else {
        if (ctx->pflag) {
            for (int64_t i = 0; i < ctx->bytes; i++) {
                if (r->buf[i] != ctx->pattern) {
                    printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n",
                           ctx->offset, ctx->bytes);
                    break;
                }
            }
        }
        if (!ctx->qflag) {
            if (ctx->vflag) {
                dump_buffer(r->buf, ctx->offset, ctx->bytes);
            }
            print_report("read", tool_tsub(t2, ctx->t1), ctx->offset, ctx->bytes, ctx->bytes, 1,
                         ctx->cflag);
        }
    }
    g_free(ctx);
    req_free(r);
}

static void aio_read_help(void)
{
    printf("\n"
           " asynchronously reads a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'aio_read -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the file\n"
           "\n"
           " Reads a segment of the currently open file, optionally dumping it to the\n"
           " standard output stream (with -v option) for subsequent inspection.\n"
           " The read is performed asynchronously and the aio_flush command must be\n"
           " used to ensure all outstanding aio requests have been completed.\n"
           " Note that due to its asynchronous nature, this command will be\n"
           " considered successful once the request is submitted, independently\n"
           " of potential I/O errors or pattern mismatches.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -P, -- use a pattern to verify read data\n"
           " -i, -- treat request as invalid, for exercising stats\n"
           " -v, -- dump buffer to standard output\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int aio_read_f(int argc, char **argv)
{
    AioCtx *ctx = g_new0(AioCtx, 1);
    int c;
    while ((c = getopt(argc, argv, "CP:iqv")) != -1) {
        switch (c) {
        case 'C':
            ctx->cflag = true;
            break;
        case 'P':
            ctx->pflag = true;
            ctx->pattern = parse_pattern(optarg);
            if (ctx->pattern < 0) {
                g_free(ctx);
                return -EINVAL;
            }
            break;
        case 'i':
            printf("injecting invalid read request\n");
            g_free(ctx);
            return 0;
        case 'q':
            ctx->qflag = true;
            break;
        case 'v':
            ctx->vflag = true;
            break;
        default:
            g_free(ctx);
            return usage_of("aio_read");
        }
    }
    if (optind > argc - 2) {
        g_free(ctx);
        return usage_of("aio_read");
    }
    int pr = parse_off_vec(argv + optind, argc - optind, &ctx->offset, &ctx->bytes);
    if (pr < 0) {
        g_free(ctx);
        return pr;
    }
    IoReq *r = g_new0(IoReq, 1);
    r->op = OP_READ;
    r->offset = ctx->offset;
    r->bytes = ctx->bytes;
    r->buf = io_alloc(ctx->bytes, 0xab);
    r->cb = aio_read_done;
    r->ctx = ctx;
    ctx->t1 = now();
    if (!r->buf) {
        printf("readv failed: %s\n", strerror(ENOMEM));
        g_free(ctx);
        g_free(r);
        return 0;
    }
    run_async(r);
    return 0;
}

/* ---- write, writev, aio_write ---- */

static void write_help(void)
{
    printf("\n"
           " writes a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'write 512 1k' - writes 1 kilobyte at 512 bytes into the open file\n"
           "\n"
           " Writes into a segment of the currently open file, using a buffer\n"
           " filled with a set pattern (0xcdcdcdcd).\n"
           " -b, -- write to the VM state rather than the virtual disk\n"
           " -c, -- write compressed data with blk_write_compressed\n"
           " -f, -- use Force Unit Access semantics\n"
           " -n, -- with -z, don't allow slow fallback\n"
           " -p, -- ignored for backwards compatibility\n"
           " -P, -- use different pattern to fill file\n"
           " -s, -- use a pattern file to fill the write buffer\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           " -u, -- with -z, allow unmapping\n"
           " -z, -- write zeroes using blk_co_pwrite_zeroes\n"
           "\n");
}

/* A buffer filled with the file's bytes, repeated (QEMU's qemu_io_alloc_from_file). */
static uint8_t *alloc_from_file(int64_t len, const char *name)
{
    FILE *f = fopen(name, "r");
    if (!f) {
        perror(name);
        return NULL;
    }
    uint8_t *buf = io_alloc(len, 0);
    uint8_t *p = buf;
    int64_t left = len;
    while (buf && left > 0) {
        size_t n = fread(p, 1, (size_t)left, f);
        if (ferror(f)) {
            perror(name);
            io_free(buf);
            buf = NULL;
            break;
        }
        if (feof(f)) {
            rewind(f);
        }
        if (n == 0) {
            fprintf(stderr, "%s: file is empty\n", name);
            io_free(buf);
            buf = NULL;
            break;
        }
        p += n;
        left -= (int64_t)n;
    }
    fclose(f);
    return buf;
}

static int write_f(int argc, char **argv)
{
    bool cflag = false, qflag = false, bflag = false, pflag = false, zflag = false;
    bool compr = false, sflag = false;
    int flags = 0, pattern = 0xcd, c;
    const char *file_name = NULL;
    while ((c = getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'c':
            compr = true;
            break;
        case 'C':
            cflag = true;
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'n':
            flags |= BDRV_REQ_NO_FALLBACK;
            break;
        case 'p':
            break;
        case 'P':
            pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            file_name = optarg;
            break;
        case 'u':
            flags |= BDRV_REQ_MAY_UNMAP;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            return usage_of("write");
        }
    }
    if (optind != argc - 2) {
        return usage_of("write");
    }
    if (bflag && zflag) {
        printf("-b and -z cannot be specified at the same time\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_FUA) && (bflag || compr)) {
        printf("-f and -b or -c cannot be specified at the same time\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_NO_FALLBACK) && !zflag) {
        printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_MAY_UNMAP) && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if ((int)zflag + (int)pflag + (int)sflag > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same time\n");
        return -EINVAL;
    }
    int64_t offset, count;
    int pr = parse_off_len(argv + optind, &offset, &count, false);
    if (pr < 0) {
        return pr;
    }
    if (count > REQUEST_MAX_BYTES && !(flags & BDRV_REQ_NO_FALLBACK)) {
        printf("length cannot exceed %" PRIu64 " without -n, given %s\n",
               (uint64_t)REQUEST_MAX_BYTES, argv[optind + 1]);
        return -EINVAL;
    }
    if ((bflag || compr) && !sector_aligned(offset, count)) {
        return -EINVAL;
    }
    uint8_t *buf = NULL;
    if (!zflag) {
        if (sflag) {
            buf = alloc_from_file(count, file_name);
            if (!buf) {
                return -EINVAL;
            }
        } else {
            buf = io_alloc(count, pattern);
        }
    }
    int ret;
    struct timespec t1 = now();
    if (!zflag && !buf) {
        ret = -ENOMEM;
    } else if (bflag) {
        ret = sync_req(OP_SAVE_VMSTATE, offset, count, &buf, 0);
    } else if (zflag) {
        ret = sync_req(OP_ZERO, offset, count, NULL, flags);
    } else {
        ret = sync_req(compr ? OP_WRITE_COMPRESSED : OP_WRITE, offset, count, &buf, flags);
    }
    struct timespec t2 = now();
    if (ret < 0) {
        printf("write failed: %s\n", strerror(-ret));
    } else if (!qflag) {
        print_report("wrote", tool_tsub(t2, t1), offset, count, count, 1, cflag);
    }
    io_free(buf);
    return ret < 0 ? ret : 0;
}

static void writev_help(void)
{
    printf("\n"
           " writes a range of bytes from the given offset source from multiple buffers\n"
           "\n"
           " Example:\n"
           " 'writev 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
           "\n"
           " Writes into a segment of the currently open file, using a buffer\n"
           " filled with a set pattern (0xcdcdcdcd).\n"
           " -P, -- use different pattern to fill file\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -f, -- use Force Unit Access semantics\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int writev_f(int argc, char **argv)
{
    bool cflag = false, qflag = false;
    int flags = 0, pattern = 0xcd, c;
    while ((c = getopt(argc, argv, "CfqP:")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'q':
            qflag = true;
            break;
        case 'P':
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        default:
            return usage_of("writev");
        }
    }
    if (optind > argc - 2) {
        return usage_of("writev");
    }
    int64_t offset, count;
    int pr = parse_off_vec(argv + optind, argc - optind, &offset, &count);
    if (pr < 0) {
        return pr;
    }
    uint8_t *buf = io_alloc(count, pattern);
    struct timespec t1 = now();
    int ret = buf ? sync_req(OP_WRITE, offset, count, &buf, flags) : -ENOMEM;
    struct timespec t2 = now();
    if (ret < 0) {
        printf("writev failed: %s\n", strerror(-ret));
    } else if (!qflag) {
        print_report("wrote", tool_tsub(t2, t1), offset, count, count, 1, cflag);
    }
    io_free(buf);
    return ret < 0 ? ret : 0;
}

static void aio_write_done(IoReq *r)
{
    AioCtx *ctx = r->ctx;
    struct timespec t2 = now();
    if (r->ret < 0) {
        printf("aio_write failed: %s\n", strerror(-r->ret));
    } else if (!ctx->qflag) {
        print_report("wrote", tool_tsub(t2, ctx->t1), ctx->offset, ctx->bytes, ctx->bytes, 1,
                     ctx->cflag);
    }
    g_free(ctx);
    req_free(r);
}

static void aio_write_help(void)
{
    printf("\n"
           " asynchronously writes a range of bytes from the given offset source\n"
           " from multiple buffers\n"
           "\n"
           " Example:\n"
           " 'aio_write 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
           "\n"
           " Writes into a segment of the currently open file, using a buffer\n"
           " filled with a set pattern (0xcdcdcdcd).\n"
           " The write is performed asynchronously and the aio_flush command must be\n"
           " used to ensure all outstanding aio requests have been completed.\n"
           " Note that due to its asynchronous nature, this command will be\n"
           " considered successful once the request is submitted, independently\n"
           " of potential I/O errors or pattern mismatches.\n"
           " -P, -- use different pattern to fill file\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -f, -- use Force Unit Access semantics\n"
           " -i, -- treat request as invalid, for exercising stats\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           " -u, -- with -z, allow unmapping\n"
           " -z, -- write zeroes using blk_aio_pwrite_zeroes\n"
           "\n");
}

static int aio_write_f(int argc, char **argv)
{
    AioCtx *ctx = g_new0(AioCtx, 1);
    int flags = 0, pattern = 0xcd, c;
    bool zflag = false;
    while ((c = getopt(argc, argv, "CfiqP:uz")) != -1) {
        switch (c) {
        case 'C':
            ctx->cflag = true;
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'q':
            ctx->qflag = true;
            break;
        case 'u':
            flags |= BDRV_REQ_MAY_UNMAP;
            break;
        case 'P':
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                g_free(ctx);
                return -EINVAL;
            }
            break;
        case 'i':
            printf("injecting invalid write request\n");
            g_free(ctx);
            return 0;
        case 'z':
            zflag = true;
            break;
        default:
            g_free(ctx);
            return usage_of("aio_write");
        }
    }
    if (optind > argc - 2) {
        g_free(ctx);
        return usage_of("aio_write");
    }
    if (zflag && optind != argc - 2) {
        printf("-z supports only a single length parameter\n");
        g_free(ctx);
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_MAY_UNMAP) && !zflag) {
        printf("-u requires -z to be specified\n");
        g_free(ctx);
        return -EINVAL;
    }
    ctx->offset = cvtnum(argv[optind]);
    if (ctx->offset < 0) {
        int ret = (int)ctx->offset;
        print_cvtnum_err(ctx->offset, argv[optind]);
        g_free(ctx);
        return ret;
    }
    IoReq *r = g_new0(IoReq, 1);
    if (zflag) {
        int64_t count = cvtnum(argv[optind + 1]);
        if (count < 0) {
            print_cvtnum_err(count, argv[optind + 1]);
            g_free(ctx);
            g_free(r);
            return (int)count;
        }
        ctx->bytes = count;
        r->op = OP_ZERO;
    } else {
        if (iov_total(argv + optind + 1, argc - optind - 1, &ctx->bytes) < 0) {
            g_free(ctx);
            g_free(r);
            return -EINVAL;
        }
        r->op = OP_WRITE;
        r->buf = io_alloc(ctx->bytes, pattern);
        if (!r->buf) {
            printf("aio_write failed: %s\n", strerror(ENOMEM));
            g_free(ctx);
            g_free(r);
            return 0;
        }
    }
    r->offset = ctx->offset;
    r->bytes = ctx->bytes;
    r->flags = flags;
    r->cb = aio_write_done;
    r->ctx = ctx;
    ctx->t1 = now();
    run_async(r);
    return 0;
}

static int aio_flush_f(int argc, char **argv)
{
    if (!drain_all()) {
        error_report("aio_flush: a request is suspended and can never complete");
        return -EDEADLK;
    }
    return 0;
}

static int flush_f(int argc, char **argv)
{
    return sync_req(OP_FLUSH, 0, 0, NULL, 0);
}

/* ---- truncate, length, info, discard, alloc, map ---- */

static int truncate_f(int argc, char **argv)
{
    PreallocMode prealloc = PREALLOC_MODE_OFF;
    int c;
    while ((c = getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm': {
            int m = prealloc_mode_parse(optarg);
            if (m < 0) {
                error_report("Invalid preallocation mode '%s'", optarg);
                return -EINVAL;
            }
            prealloc = m;
            break;
        }
        default:
            return usage_of("truncate");
        }
    }
    if (optind != argc - 1) {
        return usage_of("truncate");
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return (int)offset;
    }
    IoReq *r = g_new0(IoReq, 1);
    r->op = OP_TRUNCATE;
    r->offset = offset;
    r->prealloc = prealloc;
    int ret = run_sync(r);
    if (ret < 0) {
        error_report("%s", r->err ? r->err : strerror(-ret));
    }
    if (!r->abandoned) {
        req_free(r);
    }
    return ret < 0 ? ret : 0;
}

static int length_f(int argc, char **argv)
{
    int64_t size = bdrv_getlength(qio_bs);
    if (size < 0) {
        printf("getlength: %s\n", strerror((int)-size));
        return (int)size;
    }
    char s1[64];
    tool_cvtstr((double)size, s1, sizeof(s1));
    printf("%s\n", s1);
    return 0;
}

static int info_f(int argc, char **argv)
{
    BlockDriverState *bs = qio_bs;
    BlockDriverInfo bdi;
    char s1[64], s2[64];
    printf("format name: %s\n", bs->drv->format_name);
    if (bs->drv->protocol_name) {
        printf("format name: %s\n", bs->drv->protocol_name);
    }
    int ret = bdrv_get_info(bs, &bdi);
    if (ret) {
        return ret;
    }
    tool_cvtstr((double)bdi.cluster_size, s1, sizeof(s1));
    tool_cvtstr((double)bdi.vm_state_offset, s2, sizeof(s2));
    printf("cluster size: %s\n", s1);
    printf("vm state offset: %s\n", s2);
    QJ *spec = bdrv_get_specific_info(bs);
    if (spec) {
        char *h = qj_to_human(spec, 1);
        printf("Format specific information:\n%s", h);
        g_free(h);
        qj_free(spec);
    }
    return 0;
}

static void discard_help(void)
{
    printf("\n"
           " discards a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'discard 512 1k' - discards 1 kilobyte from 512 bytes into the file\n"
           "\n"
           " Discards a segment of the currently open file.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int discard_f(int argc, char **argv)
{
    bool cflag = false, qflag = false;
    int c;
    while ((c = getopt(argc, argv, "Cq")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        default:
            return usage_of("discard");
        }
    }
    if (optind != argc - 2) {
        return usage_of("discard");
    }
    int64_t offset, bytes;
    int pr = parse_off_len(argv + optind, &offset, &bytes, true);
    if (pr < 0) {
        return pr;
    }
    struct timespec t1 = now();
    int ret = sync_req(OP_DISCARD, offset, bytes, NULL, 0);
    struct timespec t2 = now();
    if (ret < 0) {
        printf("discard failed: %s\n", strerror(-ret));
        return ret;
    }
    if (!qflag) {
        print_report("discard", tool_tsub(t2, t1), offset, bytes, bytes, 1, cflag);
    }
    return 0;
}

static int alloc_f(int argc, char **argv)
{
    int64_t offset = cvtnum(argv[1]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[1]);
        return (int)offset;
    }
    int64_t start = offset, count = 512;
    if (argc == 3) {
        count = cvtnum(argv[2]);
        if (count < 0) {
            print_cvtnum_err(count, argv[2]);
            return (int)count;
        }
    }
    int64_t remaining = count, sum = 0;
    while (remaining) {
        int64_t num = 0;
        int ret = is_allocated(offset, remaining, &num);
        if (ret < 0) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return ret;
        }
        offset += num;
        remaining -= num;
        if (ret) {
            sum += num;
        }
        if (num == 0) {
            count -= remaining;
            remaining = 0;
        }
    }
    char s1[64];
    tool_cvtstr((double)start, s1, sizeof(s1));
    printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n", sum, count, s1);
    return 0;
}

static int map_is_allocated(int64_t offset, int64_t bytes, int64_t *pnum)
{
    int64_t num = 0;
    int ret = is_allocated(offset, MIN(bytes, REQUEST_MAX_BYTES), &num);
    if (ret < 0) {
        return ret;
    }
    int first = ret;
    *pnum = num;
    while (bytes > 0 && ret == first) {
        offset += num;
        bytes -= num;
        ret = is_allocated(offset, MIN(bytes, REQUEST_MAX_BYTES), &num);
        if (ret == first && num) {
            *pnum += num;
        } else {
            break;
        }
    }
    return first;
}

static int map_f(int argc, char **argv)
{
    int64_t offset = 0, bytes = bdrv_getlength(qio_bs);
    if (bytes < 0) {
        error_report("Failed to query image length: %s", strerror((int)-bytes));
        return (int)bytes;
    }
    while (bytes) {
        int64_t num = 0;
        int ret = map_is_allocated(offset, bytes, &num);
        if (ret < 0) {
            error_report("Failed to get allocation status: %s", strerror(-ret));
            return ret;
        } else if (!num) {
            error_report("Unexpected end of image");
            return -EIO;
        }
        char s1[64], s2[64];
        tool_cvtstr((double)num, s1, sizeof(s1));
        tool_cvtstr((double)offset, s2, sizeof(s2));
        printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n", s1, (uint64_t)num,
               ret ? "    allocated" : "not allocated", s2, (uint64_t)offset);
        offset += num;
        bytes -= num;
    }
    return 0;
}

/* ---- open, reopen, close ---- */

/* The -o / --image-opts syntax (QemuOpts, no implied key) into flat options. */
static bool parse_opts_into(QJ *opts, const char *arg)
{
    char *err = NULL;
    QOpts *q = qopts_parse("opts", arg, NULL, NULL, QOPTS_LEGACY, &err);
    if (!q) {
        error_report("%s", err);
        g_free(err);
        return false;
    }
    for (size_t i = 0; i < q->n_pairs; i++) {
        qj_set_str(opts, q->pairs[i].key, q->pairs[i].value);
    }
    qopts_free(q);
    return true;
}

static int openfile(const char *name, int flags, bool writethrough, bool force_share, QJ *opts)
{
    if (qio_bs) {
        error_report("file open already, try 'help close'");
        qj_free(opts);
        return 1;
    }
    if (force_share) {
        if (!opts) {
            opts = qj_object();
        }
        const char *fs = qj_get_str(opts, "force-share");
        if (fs && strcmp(fs, "on")) {
            error_report("-U conflicts with image options");
            qj_free(opts);
            return 1;
        }
        qj_set_str(opts, "force-share", "on");
    }
    if (writethrough) {
        flags |= BDRV_O_WRTHROUGH;
    }
    char *err = NULL;
    qio_bs = tool_open_opts(name, opts, flags, &err);
    if (!qio_bs) {
        error_report("can't open%s%s: %s", name ? " device " : "", name ? name : "", err);
        g_free(err);
        return 1;
    }
    return 0;
}

static void open_help(void)
{
    printf("\n"
           " opens a new file in the requested mode\n"
           "\n"
           " Example:\n"
           " 'open -n -o driver=raw /tmp/data' - opens raw data file read-write, uncached\n"
           "\n"
           " Opens a file for subsequent use by all of the other qemu-io commands.\n"
           " -r, -- open file read-only\n"
           " -s, -- use snapshot file\n"
           " -C, -- use copy-on-read\n"
           " -n, -- disable host cache, short for -t none\n"
           " -U, -- force shared permissions\n"
           " -k, -- use kernel AIO implementation (Linux only, prefer use of -i)\n"
           " -i, -- use AIO mode (threads, native or io_uring)\n"
           " -t, -- use the given cache mode for the image\n"
           " -d, -- use the given discard mode for the image\n"
           " -o, -- options to be given to the block driver\n");
}

static int parse_aio(const char *mode, int *flags)
{
    if (!strcmp(mode, "native")) {
        *flags |= BDRV_O_NATIVE_AIO;
    } else if (!strcmp(mode, "threads") || !strcmp(mode, "io_uring")) {
        *flags &= ~BDRV_O_NATIVE_AIO;
    } else {
        return -1;
    }
    return 0;
}

/*
 * The open options qemu-io's command line and its open command share (-s -n -C -r -k -t -d -i
 * -U): 1 when c was one of them, 0 when not, -1 (after QEMU's message) when its value is bad.
 */
typedef struct OpenOpts {
    int flags;
    bool readonly, writethrough, force_share;
} OpenOpts;

static int open_opt(OpenOpts *o, int c, const char *arg)
{
    switch (c) {
    case 's':
        o->flags |= BDRV_O_SNAPSHOT;
        return 1;
    case 'n':
        o->flags |= BDRV_O_NOCACHE;
        o->writethrough = false;
        return 1;
    case 'C':
        o->flags |= BDRV_O_COPY_ON_READ;
        return 1;
    case 'r':
        o->readonly = true;
        return 1;
    case 'k':
        o->flags |= BDRV_O_NATIVE_AIO;
        return 1;
    case 't':
        if (bdrv_parse_cache_mode(arg, &o->flags, &o->writethrough) < 0) {
            error_report("Invalid cache option: %s", arg);
            return -1;
        }
        return 1;
    case 'd':
        if (bdrv_parse_discard_flags(arg, &o->flags) < 0) {
            error_report("Invalid discard option: %s", arg);
            return -1;
        }
        return 1;
    case 'i':
        if (parse_aio(arg, &o->flags) < 0) {
            error_report("Invalid aio option: %s", arg);
            return -1;
        }
        return 1;
    case 'U':
        o->force_share = true;
        return 1;
    }
    return 0;
}

static int open_f(int argc, char **argv)
{
    OpenOpts oo = {BDRV_O_UNMAP, false, false, false};
    int c, r;
    QJ *opts = NULL;
    while ((c = getopt(argc, argv, "snCro:ki:t:d:U")) != -1) {
        if ((r = open_opt(&oo, c, optarg)) != 0) {
            if (r < 0) {
                qj_free(opts);
                return -EINVAL;
            }
            continue;
        }
        switch (c) {
        case 'o':
            if (qio_image_opts) {
                printf("--image-opts and 'open -o' are mutually exclusive\n");
                qj_free(opts);
                return -EINVAL;
            }
            if (!opts) {
                opts = qj_object();
            }
            if (!parse_opts_into(opts, optarg)) {
                qj_free(opts);
                return -EINVAL;
            }
            break;
        default:
            qj_free(opts);
            return usage_of("open");
        }
    }
    int flags = oo.flags | (oo.readonly ? 0 : BDRV_O_RDWR);
    bool writethrough = oo.writethrough, force_share = oo.force_share;
    if (qio_image_opts && optind == argc - 1) {
        opts = qj_object();
        if (!parse_opts_into(opts, argv[optind])) {
            qj_free(opts);
            return -EINVAL;
        }
        optind++;
    }
    int ret;
    if (optind == argc - 1) {
        ret = openfile(argv[optind], flags, writethrough, force_share, opts);
    } else if (optind == argc) {
        ret = openfile(NULL, flags, writethrough, force_share, opts);
    } else {
        qj_free(opts);
        return usage_of("open");
    }
    return ret ? -EINVAL : 0;
}

static void close_image(void)
{
    if (!drain_all()) {
        /* a request stays suspended (QEMU would wait for it forever): keep the node */
        qio_bs = NULL;
        return;
    }
    bdrv_flush(qio_bs);
    bdrv_close(qio_bs);
    qio_bs = NULL;
}

static int close_f(int argc, char **argv)
{
    close_image();
    return 0;
}

static void reopen_help(void)
{
    printf("\n"
           " Changes the open options of an already opened image\n"
           "\n"
           " Example:\n"
           " 'reopen -o lazy-refcounts=on' - activates lazy refcount writeback on a qcow2 image\n"
           "\n"
           " -r, -- Reopen the image read-only\n"
           " -w, -- Reopen the image read-write\n"
           " -c, -- Change the cache mode to the given value\n"
           " -o, -- Changes block driver options (cf. 'open' command)\n"
           "\n");
}

static int reopen_f(int argc, char **argv)
{
    BlockDriverState *bs = qio_bs;
    int flags = bs->open_flags, c;
    bool writethrough = flags & BDRV_O_WRTHROUGH, has_rw = false, has_cache = false;
    QJ *opts = qj_object();
    while ((c = getopt(argc, argv, "c:o:rw")) != -1) {
        switch (c) {
        case 'c':
            if (bdrv_parse_cache_mode(optarg, &flags, &writethrough) < 0) {
                error_report("Invalid cache option: %s", optarg);
                qj_free(opts);
                return -EINVAL;
            }
            has_cache = true;
            break;
        case 'o':
            if (!parse_opts_into(opts, optarg)) {
                qj_free(opts);
                return -EINVAL;
            }
            break;
        case 'r':
        case 'w':
            if (has_rw) {
                error_report("Only one -r/-w option may be given");
                qj_free(opts);
                return -EINVAL;
            }
            flags = c == 'r' ? flags & ~BDRV_O_RDWR : flags | BDRV_O_RDWR;
            has_rw = true;
            break;
        default:
            qj_free(opts);
            return usage_of("reopen");
        }
    }
    if (optind != argc) {
        qj_free(opts);
        return usage_of("reopen");
    }
    if (!(flags & BDRV_O_RDWR)) {
        qio_set_write_perm(false, NULL); /* QEMU's reopen -r gives the write permission up first */
    }
    const char *ro = qj_get_str(opts, "read-only");
    if (ro) {
        if (has_rw) {
            error_report("Cannot set both -r/-w and 'read-only'");
            qj_free(opts);
            return -EINVAL;
        }
        bool b;
        if (!qopts_parse_bool(ro, &b)) {
            error_report("Parameter 'read-only' expects 'on' or 'off'");
            qj_free(opts);
            return -EINVAL;
        }
        flags = b ? flags & ~BDRV_O_RDWR : flags | BDRV_O_RDWR;
    }
    if (qj_get(opts, "cache.direct") || qj_get(opts, "cache.no-flush")) {
        if (has_cache) {
            error_report("Cannot set both -c and the cache options");
            qj_free(opts);
            return -EINVAL;
        }
    }
    if (!drain_all()) {
        error_report("reopen: a request is suspended and can never complete");
        qj_free(opts);
        return -EDEADLK;
    }
    if (!(flags & BDRV_O_RDWR) && qio_write_perm()) {
        error_report("Read-only block node '%s' cannot support read-write users",
                     bdrv_get_node_name(bs));
        qj_free(opts);
        return -EPERM;
    }
    if (writethrough) {
        flags |= BDRV_O_WRTHROUGH;
    } else {
        flags &= ~BDRV_O_WRTHROUGH;
    }
    char *err = NULL;
    int ret = bdrv_reopen(bs, flags, opts, &err);
    if (ret < 0) {
        error_report("%s", err);
        g_free(err);
    }
    return ret;
}

/* ---- breakpoints ---- */

static int break_f(int argc, char **argv)
{
    int ret = bdrv_debug_breakpoint(qio_bs, argv[1], argv[2]);
    if (ret < 0) {
        printf("Could not set breakpoint: %s\n", strerror(-ret));
    }
    return ret;
}

static int remove_break_f(int argc, char **argv)
{
    int ret = bdrv_debug_remove_breakpoint(qio_bs, argv[1]);
    if (ret < 0) {
        printf("Could not remove breakpoint %s: %s\n", argv[1], strerror(-ret));
    }
    return ret;
}

static int resume_f(int argc, char **argv)
{
    int ret = bdrv_debug_resume(qio_bs, argv[1]);
    if (ret < 0) {
        printf("Could not resume request: %s\n", strerror(-ret));
    }
    return ret;
}

static int wait_break_f(int argc, char **argv)
{
    while (!bdrv_debug_is_suspended(qio_bs, argv[1])) {
        if (!aio_poll(true) && !aio_pending()) {
            /* QEMU would wait forever: no request left can reach the breakpoint */
            error_report("wait_break: no request can reach breakpoint '%s'", argv[1]);
            return -EDEADLK;
        }
    }
    return 0;
}

/* ---- abort, sigraise, sleep, help, quit ---- */

static int abort_f(int argc, char **argv)
{
    abort();
}

static void sigraise_help(void)
{
    printf("\n"
           " raises the given signal\n"
           "\n"
           " Example:\n"
           " 'sigraise %i' - raises SIGTERM\n"
           "\n"
           " Invokes raise(signal), where \"signal\" is the mandatory integer argument\n"
           " given to sigraise.\n"
           "\n",
           SIGTERM);
}

static int sigraise_f(int argc, char **argv)
{
    int64_t sig = cvtnum(argv[1]);
    if (sig < 0) {
        print_cvtnum_err(sig, argv[1]);
        return (int)sig;
    } else if (sig > NSIG) {
        printf("signal argument '%s' is too large to be a valid signal\n", argv[1]);
        return -EINVAL;
    }
    fflush(stdout);
    fflush(stderr);
    raise((int)sig);
    return 0;
}

static int sleep_f(int argc, char **argv)
{
    char *end;
    long ms = strtol(argv[1], &end, 0);
    if (ms < 0 || *end) {
        printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    int64_t deadline = qemu_clock_ns() + (int64_t)ms * 1000000;
    while (qemu_clock_ns() < deadline) {
        if (!aio_poll_until(deadline) && !aio_pending()) {
            int64_t left = deadline - qemu_clock_ns();
            if (left > 0) {
                struct timespec ts = {left / 1000000000, left % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
    }
    return 0;
}

static int quit_f(int argc, char **argv)
{
    quit_requested = true;
    return 0;
}

static int help_f(int argc, char **argv);

static const Cmd cmds[] = {
    {"abort", NULL, abort_f, 0, 0, CMD_NOFILE_OK, 0, NULL,
     "simulate a program crash using abort(3)", NULL},
    {"aio_flush", NULL, aio_flush_f, 0, 0, 0, 0, NULL, "completes all outstanding aio requests",
     NULL},
    {"aio_read", NULL, aio_read_f, 2, -1, 0, 0, "[-Ciqv] [-P pattern] off len [len..]",
     "asynchronously reads a number of bytes", aio_read_help},
    {"aio_write", NULL, aio_write_f, 2, -1, 0, PERM_WRITE, "[-Cfiquz] [-P pattern] off len [len..]",
     "asynchronously writes a number of bytes", aio_write_help},
    {"alloc", "a", alloc_f, 1, 2, 0, 0, "offset [count]",
     "checks if offset is allocated in the file", NULL},
    {"break", NULL, break_f, 2, 2, 0, 0, "event tag",
     "sets a breakpoint on event and tags the stopped request as tag", NULL},
    {"close", "c", close_f, 0, 0, 0, 0, NULL, "close the current open file", NULL},
    {"discard", "d", discard_f, 2, -1, 0, PERM_WRITE, "[-Cq] off len",
     "discards a number of bytes at a specified offset", discard_help},
    {"flush", "f", flush_f, 0, 0, 0, 0, NULL, "flush all in-core file state to disk", NULL},
    {"help", "?", help_f, 0, 1, CMD_GLOBAL, 0, "[command]", "help for one or all commands", NULL},
    {"info", "i", info_f, 0, 0, 0, 0, NULL, "prints information about the current file", NULL},
    {"length", "l", length_f, 0, 0, 0, 0, NULL, "gets the length of the current file", NULL},
    {"map", NULL, map_f, 0, 0, 0, 0, "", "prints the allocated areas of a file", NULL},
    {"open", "o", open_f, 1, -1, CMD_NOFILE_OK, 0,
     "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]", "open the file specified by path",
     open_help},
    {"quit", "q", quit_f, 0, -1, CMD_GLOBAL, 0, NULL, "exit the program", NULL},
    {"read", "r", read_f, 2, -1, 0, 0, "[-abCqv] [-P pattern [-s off] [-l len]] off len",
     "reads a number of bytes at a specified offset", read_help},
    {"readv", NULL, readv_f, 2, -1, 0, 0, "[-Cqv] [-P pattern] off len [len..]",
     "reads a number of bytes at a specified offset", readv_help},
    {"remove_break", NULL, remove_break_f, 1, 1, 0, 0, "tag", "remove a breakpoint by tag", NULL},
    {"reopen", NULL, reopen_f, 0, -1, 0, 0, "[(-r|-w)] [-c cache] [-o options]",
     "reopens an image with new options", reopen_help},
    {"resume", NULL, resume_f, 1, 1, 0, 0, "tag", "resumes the request tagged as tag", NULL},
    {"sigraise", NULL, sigraise_f, 1, 1, CMD_NOFILE_OK, 0, "signal", "raises a signal",
     sigraise_help},
    {"sleep", NULL, sleep_f, 1, 1, CMD_NOFILE_OK, 0, NULL,
     "waits for the given value in milliseconds", NULL},
    {"truncate", "t", truncate_f, 1, 3, 0, PERM_WRITE | PERM_RESIZE, "[-m prealloc_mode] off",
     "truncates the current file at the given offset", NULL},
    {"wait_break", NULL, wait_break_f, 1, 1, 0, 0, "tag", "waits for the suspension of a request",
     NULL},
    {"write", "w", write_f, 2, -1, 0, PERM_WRITE,
     "[-bcCfnquz] [-P pattern | -s source_file] off len",
     "writes a number of bytes at a specified offset", write_help},
    {"writev", NULL, writev_f, 2, -1, 0, PERM_WRITE, "[-Cfq] [-P pattern] off len [len..]",
     "writes a number of bytes at a specified offset", writev_help},
};

static const Cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        if (!strcmp(cmds[i].name, name) || (cmds[i].altname && !strcmp(cmds[i].altname, name))) {
            return &cmds[i];
        }
    }
    return NULL;
}

static int usage_of(const char *name)
{
    const Cmd *c = find_cmd(name);
    printf("%s %s -- %s\n", c->name, c->args, c->oneline);
    return -EINVAL;
}

static void help_oneline(const char *name, const Cmd *c)
{
    printf("%s ", name);
    if (c->args) {
        printf("%s ", c->args);
    }
    printf("-- %s\n", c->oneline);
}

static int help_f(int argc, char **argv)
{
    if (argc == 1) {
        for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
            help_oneline(cmds[i].name, &cmds[i]);
        }
        printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }
    const Cmd *c = find_cmd(argv[1]);
    if (!c) {
        printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    help_oneline(argv[1], c);
    if (c->help) {
        c->help();
    }
    return 0;
}

/* One command line, split at spaces as QEMU's breakline. Returns <0 when it failed. */
static int run_command(const char *line)
{
    char *input = g_strdup(line);
    GPtrArray *words = g_ptr_array_new();
    for (char *p = input, *w; (w = strsep(&p, " ")) != NULL;) {
        if (*w) {
            g_ptr_array_add(words, w);
        }
    }
    g_ptr_array_add(words, NULL);
    int argc = (int)words->len - 1;
    char **argv = (char **)words->pdata;
    int ret = 0;
    if (argc) {
        const Cmd *c = find_cmd(argv[0]);
        if (!c) {
            fprintf(stderr, "command \"%s\" not found\n", argv[0]);
            ret = -EINVAL;
        } else if (!(c->flags & (CMD_GLOBAL | CMD_NOFILE_OK)) && !qio_bs) {
            fprintf(stderr, "no file open, try 'help open'\n");
            ret = -EINVAL;
        } else if (argc - 1 < c->argmin || (c->argmax != -1 && argc - 1 > c->argmax)) {
            if (c->argmax == -1) {
                fprintf(stderr, "bad argument count %d to %s, expected at least %d arguments\n",
                        argc - 1, argv[0], c->argmin);
            } else if (c->argmin == c->argmax) {
                fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n", argc - 1,
                        argv[0], c->argmin);
            } else {
                fprintf(stderr,
                        "bad argument count %d to %s, expected between %d and %d arguments\n",
                        argc - 1, argv[0], c->argmin, c->argmax);
            }
            ret = -EINVAL;
        } else if (c->perm && qio_bs && !qio_write_perm() && qio_bs->read_only) {
            error_report("Block node is read-only");
            ret = -EPERM;
        } else {
            char *err = NULL;
            if (c->perm && qio_bs && !qio_write_perm() && qio_set_write_perm(true, &err) < 0) {
                error_report("%s", err);
                g_free(err);
                ret = -EPERM;
            } else {
                optind = 0;
                ret = c->fn(argc, argv);
            }
        }
    }
    g_ptr_array_free(words, true);
    g_free(input);
    return ret;
}

/* ---- -T: QEMU's trace options (Vireo has no trace events) ---- */

static bool trace_is_pattern(const char *s)
{
    return strchr(s, '*') || strchr(s, '?');
}

static void trace_enable(const char *pattern, const char *file, int line)
{
    const char *p = pattern[0] == '-' ? pattern + 1 : pattern;
    if (!strcmp(p, "help")) {
        exit(0); /* the list of trace events: Vireo has none */
    }
    if (!trace_is_pattern(p)) {
        if (file) {
            fprintf(stderr, "%s:%s:%d: warning: trace event '%s' does not exist\n", progname, file,
                    line, p);
        } else {
            warn_report("trace event '%s' does not exist", p);
        }
    }
}

static void trace_opt_parse(const char *arg)
{
    char *err = NULL;
    QOpts *q = qopts_parse("trace", arg, NULL, "enable", QOPTS_LEGACY, &err);
    if (!q) {
        error_report("%s", err);
        exit(1);
    }
    static const char *const known[] = {"enable", "events", "file", NULL};
    const char *bad = qopts_unknown_key(q, known);
    if (bad) {
        error_report("Invalid parameter '%s'", bad);
        exit(1);
    }
    const char *v;
    if ((v = qopts_get(q, "enable"))) {
        trace_enable(v, NULL, 0);
    }
    if ((v = qopts_get(q, "events"))) {
        FILE *f = fopen(v, "r");
        if (!f) {
            fprintf(stderr, "%s:%s: %s\n", progname, v, strerror(errno));
            exit(1);
        }
        char buf[1024];
        int line = 0;
        while (fgets(buf, sizeof(buf), f)) {
            line++;
            buf[strcspn(buf, "\n")] = 0;
            if (buf[0] && buf[0] != '#') {
                trace_enable(buf, v, line);
            }
        }
        fclose(f);
    }
    if ((v = qopts_get(q, "file"))) {
        FILE *f = fopen(v, "w");
        if (f) {
            fclose(f);
        }
    }
    qopts_free(q);
}

/* ---- main ---- */

static void usage(void)
{
    printf("Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
           "QEMU Disk exerciser\n"
           "\n"
           "  --object OBJECTDEF   define an object such as 'secret' for\n"
           "                       passwords and/or encryption keys\n"
           "  --image-opts         treat file as option string\n"
           "  -c, --cmd STRING     execute command with its arguments\n"
           "                       from the given string\n"
           "  -f, --format FMT     specifies the block driver to use\n"
           "  -r, --read-only      export read-only\n"
           "  -s, --snapshot       use snapshot file\n"
           "  -n, --nocache        disable host cache, short for -t none\n"
           "  -C, --copy-on-read   enable copy-on-read\n"
           "  -m, --misalign       misalign allocations for O_DIRECT\n"
           "  -k, --native-aio     use kernel AIO implementation\n"
           "                       (Linux only, prefer use of -i)\n"
           "  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
           "  -t, --cache=MODE     use the given cache mode for the image\n"
           "  -d, --discard=MODE   use the given discard mode for the image\n"
           "  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
           "                       specify tracing options\n"
           "                       see qemu-img(1) man page for full description\n"
           "  -U, --force-share    force shared permissions\n"
           "  -h, --help           display this help and exit\n"
           "  -V, --version        output version information and exit\n"
           "\n"
           "See '%s -c help' for information on available commands.\n"
           "\n"
           "See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
           "More information on the QEMU project at <https://qemu.org>.\n",
           progname, progname);
}

enum { OPTION_OBJECT = 256, OPTION_IMAGE_OPTS };

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"cmd", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"read-only", no_argument, NULL, 'r'},
        {"snapshot", no_argument, NULL, 's'},
        {"nocache", no_argument, NULL, 'n'},
        {"copy-on-read", no_argument, NULL, 'C'},
        {"misalign", no_argument, NULL, 'm'},
        {"native-aio", no_argument, NULL, 'k'},
        {"aio", required_argument, NULL, 'i'},
        {"discard", required_argument, NULL, 'd'},
        {"cache", required_argument, NULL, 't'},
        {"trace", required_argument, NULL, 'T'},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    char *base = g_path_get_basename(argv[0]);
    progname = base;
    error_progname = base;
    signal(SIGPIPE, SIG_IGN);
    OpenOpts oo = {BDRV_O_UNMAP, false, false, false};
    int c, r;
    const char *format = NULL;
    GPtrArray *cmdv = g_ptr_array_new();
    while ((c = getopt_long(argc, argv, "hVc:d:f:rsnCmki:t:T:U", long_opts, NULL)) != -1) {
        if ((r = open_opt(&oo, c, optarg)) != 0) {
            if (r < 0) {
                exit(1);
            }
            continue;
        }
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'c':
            g_ptr_array_add(cmdv, optarg);
            break;
        case 'm':
            qio_misalign = true;
            break;
        case 'T':
            trace_opt_parse(optarg);
            break;
        case 'V':
            printf("%s version " TOOLS_VERSION "\n"
                   "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n",
                   progname);
            exit(0);
        case 'h':
            usage();
            exit(0);
        case OPTION_OBJECT:
            if (tool_object_add(optarg) < 0) {
                exit(1);
            }
            break;
        case OPTION_IMAGE_OPTS:
            qio_image_opts = true;
            break;
        default:
            usage();
            exit(1);
        }
    }
    if (argc - optind > 1) {
        usage();
        exit(1);
    }
    if (qio_image_opts && format) {
        error_report("--image-opts and -f are mutually exclusive");
        exit(1);
    }
    int flags = oo.flags | (oo.readonly ? 0 : BDRV_O_RDWR);
    if (optind == argc - 1) {
        QJ *opts = NULL;
        const char *name = argv[optind];
        if (qio_image_opts) {
            opts = qj_object();
            if (!parse_opts_into(opts, argv[optind])) {
                exit(1);
            }
            name = NULL;
        } else if (format) {
            opts = qj_object();
            qj_set_str(opts, "driver", format);
        }
        if (openfile(name, flags, oo.writethrough, oo.force_share, opts)) {
            exit(1);
        }
    }
    int last_error = 0;
    for (guint i = 0; i < cmdv->len && !quit_requested; i++) {
        int ret = run_command(cmdv->pdata[i]);
        if (ret < 0) {
            last_error = ret;
        }
    }
    if (!cmdv->len) {
        char *line = NULL;
        size_t cap = 0;
        while (!quit_requested) {
            printf("%s> ", progname);
            fflush(stdout);
            ssize_t n = getline(&line, &cap, stdin);
            if (n < 0) {
                break;
            }
            if (n && line[n - 1] == '\n') {
                line[n - 1] = 0;
            }
            int ret = run_command(line);
            if (ret < 0) {
                last_error = ret;
            }
        }
        free(line);
    }
    g_ptr_array_free(cmdv, true);
    if (qio_bs) {
        close_image();
    }
    tool_objects_free();
    fflush(stdout);
    g_free(base);
    return last_error < 0 ? 1 : 0;
}
