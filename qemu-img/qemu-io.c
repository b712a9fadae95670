/*
 * qemu-io: run block-layer commands against one image, with QEMU 7.2's command syntax and
 * output lines. Enough for tests: read, write, readv, writev, aio_read, aio_write, aio_flush,
 * discard, flush, map, alloc, length, truncate, info, open, close, quit.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/error.h"
#include "tools.h"

static BlockDriverState *bs;
static int open_flags = BDRV_O_RDWR | BDRV_O_UNMAP;

typedef int (*cmd_fn)(int argc, char **argv);

typedef struct Cmd {
    const char *name;
    const char *alt;
    cmd_fn fn;
    int argmin, argmax; /* argmax -1 = unlimited */
    bool write;         /* needs a writable image */
    const char *args;
    const char *oneline;
} Cmd;

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

static int parse_pattern(const char *arg)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 0);
    if (errno || end == arg || *end || v < 0 || v > 255) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return (int)v;
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
        printf("kb,xfers/sec,...\n");
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

static const Cmd *find_cmd(const char *name);
static int usage(const char *name)
{
    const Cmd *c = find_cmd(name);
    printf("%s %s -- %s\n", c->name, c->args, c->oneline);
    return -EINVAL;
}

static struct timespec now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

/* read/readv/aio_read share this: lengths after the offset are one buffer or an iovec. */
static int do_read_cmd(int argc, char **argv, const char *name, bool vector)
{
    bool cflag = false, qflag = false, vflag = false, pflag = false;
    int pattern = 0;
    int64_t poff = 0, pcount = -1;
    bool sflag = false, lflag = false;
    int c;
    optind = 0;
    while ((c = getopt(argc, argv, vector ? "+CqP:v" : "+bCqP:s:l:v")) != -1) {
        switch (c) {
        case 'b':
            break;
        case 'C':
            cflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        case 'v':
            vflag = true;
            break;
        case 'P':
            pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 's':
            sflag = true;
            poff = cvtnum(optarg);
            if (poff < 0) {
                print_cvtnum_err(poff, optarg);
                return (int)poff;
            }
            break;
        case 'l':
            lflag = true;
            pcount = cvtnum(optarg);
            if (pcount < 0) {
                print_cvtnum_err(pcount, optarg);
                return (int)pcount;
            }
            break;
        default:
            return usage(name);
        }
    }
    if (optind > argc - 2 || (!vector && optind != argc - 2)) {
        return usage(name);
    }
    if ((sflag || lflag) && !pflag) {
        return usage(name);
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return (int)offset;
    }
    int64_t count = 0;
    for (int i = optind + 1; i < argc; i++) {
        int64_t n = cvtnum(argv[i]);
        if (n < 0) {
            print_cvtnum_err(n, argv[i]);
            return (int)n;
        }
        count += n;
    }
    if (count > (int64_t)INT32_MAX) {
        printf("length cannot exceed %" PRId64 ", given %s\n", (int64_t)INT32_MAX,
               argv[optind + 1]);
        return -EINVAL;
    }
    if (pcount < 0) {
        pcount = count - poff;
    }
    if (poff + pcount > count) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    uint8_t *buf = g_malloc(count ? count : 1);
    memset(buf, 0xab, count);
    struct timespec t1 = now();
    int ret = bdrv_pread(bs, (uint64_t)offset, (uint64_t)count, buf);
    struct timespec t2 = now();
    if (ret < 0) {
        printf("%s failed: %s\n", vector ? "readv" : "read", strerror(-ret));
        g_free(buf);
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
    g_free(buf);
    return ret;
}

static int read_f(int argc, char **argv)
{
    return do_read_cmd(argc, argv, "read", false);
}

static int readv_f(int argc, char **argv)
{
    return do_read_cmd(argc, argv, "readv", true);
}

static int aio_read_f(int argc, char **argv)
{
    return do_read_cmd(argc, argv, "aio_read", true);
}

static int do_write_cmd(int argc, char **argv, const char *name, bool vector)
{
    bool cflag = false, qflag = false, zflag = false, uflag = false, compr = false, fua = false;
    bool nflag = false, pflag = false;
    int pattern = 0xcd;
    int c;
    optind = 0;
    while ((c = getopt(argc, argv, vector ? "+CfqP:" : "+bcCfnpP:quz")) != -1) {
        switch (c) {
        case 'b':
        case 'p':
            break;
        case 'c':
            compr = true;
            break;
        case 'C':
            cflag = true;
            break;
        case 'f':
            fua = true;
            break;
        case 'n':
            nflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        case 'u':
            uflag = true;
            break;
        case 'z':
            zflag = true;
            break;
        case 'P':
            pflag = true;
            pattern = parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        default:
            return usage(name);
        }
    }
    if (optind > argc - 2 || (!vector && optind != argc - 2)) {
        return usage(name);
    }
    if (zflag && pflag) {
        printf("-z and -P cannot be specified at the same time\n");
        return -EINVAL;
    }
    if (uflag && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (nflag && !zflag) {
        printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if (compr && zflag) {
        printf("-c and -z cannot be specified at the same time\n");
        return -EINVAL;
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return (int)offset;
    }
    int64_t count = 0;
    for (int i = optind + 1; i < argc; i++) {
        int64_t n = cvtnum(argv[i]);
        if (n < 0) {
            print_cvtnum_err(n, argv[i]);
            return (int)n;
        }
        count += n;
    }
    if (count > (int64_t)INT32_MAX && !zflag) {
        printf("length cannot exceed %" PRId64 ", given %s\n", (int64_t)INT32_MAX,
               argv[optind + 1]);
        return -EINVAL;
    }
    int flags = (fua ? BDRV_REQ_FUA : 0) | (compr ? BDRV_REQ_COMPRESSED : 0);
    struct timespec t1 = now();
    int ret;
    if (zflag) {
        flags |= (uflag ? BDRV_REQ_MAY_UNMAP : 0) | (nflag ? BDRV_REQ_NO_FALLBACK : 0);
        ret = bdrv_pwrite_zeroes(bs, (uint64_t)offset, (uint64_t)count, flags);
    } else {
        uint8_t *buf = g_malloc(count ? count : 1);
        memset(buf, pattern, count);
        ret = bdrv_pwrite(bs, (uint64_t)offset, (uint64_t)count, buf, flags);
        g_free(buf);
    }
    struct timespec t2 = now();
    if (ret < 0) {
        printf("%s failed: %s\n", vector ? "writev" : "write", strerror(-ret));
        return ret;
    }
    if (!qflag) {
        print_report("wrote", tool_tsub(t2, t1), offset, count, count, 1, cflag);
    }
    return 0;
}

static int write_f(int argc, char **argv)
{
    return do_write_cmd(argc, argv, "write", false);
}

static int writev_f(int argc, char **argv)
{
    return do_write_cmd(argc, argv, "writev", true);
}

static int aio_write_f(int argc, char **argv)
{
    return do_write_cmd(argc, argv, "aio_write", true);
}

static int discard_f(int argc, char **argv)
{
    bool cflag = false, qflag = false;
    int c;
    optind = 0;
    while ((c = getopt(argc, argv, "+Cq")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        default:
            return usage("discard");
        }
    }
    if (optind != argc - 2) {
        return usage("discard");
    }
    int64_t offset = cvtnum(argv[optind]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[optind]);
        return (int)offset;
    }
    int64_t bytes = cvtnum(argv[optind + 1]);
    if (bytes < 0) {
        print_cvtnum_err(bytes, argv[optind + 1]);
        return (int)bytes;
    }
    struct timespec t1 = now();
    int ret = bdrv_discard(bs, (uint64_t)offset, (uint64_t)bytes);
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

static int flush_f(int argc, char **argv)
{
    return bdrv_flush(bs);
}

static int aio_flush_f(int argc, char **argv)
{
    return bdrv_flush(bs);
}

static int map_is_allocated(uint64_t offset, uint64_t bytes, uint64_t *pnum)
{
    uint64_t num;
    int ret = bdrv_is_allocated(bs, offset, bytes, &num);
    if (ret < 0) {
        return ret;
    }
    int first = ret;
    *pnum = num;
    while (bytes > 0 && ret == first) {
        offset += num;
        bytes -= num;
        if (!bytes) {
            break;
        }
        ret = bdrv_is_allocated(bs, offset, bytes, &num);
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
    int64_t length = bdrv_getlength(bs);
    if (length < 0) {
        error_report("Failed to query image length: %s", strerror((int)-length));
        return (int)length;
    }
    uint64_t offset = 0, bytes = (uint64_t)length;
    do {
        uint64_t num;
        int ret = map_is_allocated(offset, bytes, &num);
        if (ret < 0) {
            error_report("Failed to get allocation status: %s", strerror(-ret));
            return ret;
        }
        if (!num) {
            error_report("Unexpected end of image");
            return -EIO;
        }
        char s1[64], s2[64];
        tool_cvtstr((double)num, s1, sizeof(s1));
        tool_cvtstr((double)offset, s2, sizeof(s2));
        printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n", s1, num,
               ret ? "    allocated" : "not allocated", s2, offset);
        offset += num;
        bytes -= num;
    } while (offset < (uint64_t)length);
    return 0;
}

static int alloc_f(int argc, char **argv)
{
    int64_t offset = cvtnum(argv[1]);
    if (offset < 0) {
        print_cvtnum_err(offset, argv[1]);
        return (int)offset;
    }
    if (offset & 511) {
        printf("%" PRId64 " is not a sector-aligned value for 'offset'\n", offset);
        return -EINVAL;
    }
    int64_t count = 512;
    if (argc == 3) {
        count = cvtnum(argv[2]);
        if (count < 0) {
            print_cvtnum_err(count, argv[2]);
            return (int)count;
        }
    }
    if (count & 511) {
        printf("%" PRId64 " is not a sector-aligned value for 'count'\n", count);
        return -EINVAL;
    }
    uint64_t start = (uint64_t)offset, remaining = (uint64_t)count, sum = 0;
    uint64_t off = start;
    while (remaining) {
        uint64_t num = 0;
        int ret = bdrv_is_allocated(bs, off, remaining, &num);
        if (ret < 0 && ret != -EIO) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return ret;
        }
        if (ret < 0 || num == 0) {
            count -= (int64_t)remaining;
            break;
        }
        off += num;
        remaining -= num;
        if (ret) {
            sum += num;
        }
    }
    char s1[64];
    tool_cvtstr((double)start, s1, sizeof(s1));
    printf("%" PRIu64 "/%" PRId64 " bytes allocated at offset %s\n", sum, count, s1);
    return 0;
}

static int length_f(int argc, char **argv)
{
    int64_t size = bdrv_getlength(bs);
    if (size < 0) {
        printf("getlength: %s\n", strerror((int)-size));
        return (int)size;
    }
    char s1[64];
    tool_cvtstr((double)size, s1, sizeof(s1));
    printf("%s\n", s1);
    return 0;
}

static int truncate_f(int argc, char **argv)
{
    int64_t size = cvtnum(argv[1]);
    if (size < 0) {
        print_cvtnum_err(size, argv[1]);
        return (int)size;
    }
    char *err = NULL;
    int ret = bdrv_truncate(bs, (uint64_t)size, false, PREALLOC_MODE_OFF, &err);
    if (ret < 0) {
        error_report("%s", err);
        g_free(err);
    }
    return ret;
}

static int info_f(int argc, char **argv)
{
    BlockDriverInfo bdi;
    char s1[64], s2[64];
    printf("format name: %s\n", bs->drv->format_name);
    if (bdrv_get_info(bs, &bdi) == 0) {
        tool_cvtstr((double)bdi.cluster_size, s1, sizeof(s1));
        tool_cvtstr((double)bdrv_getlength(bs), s2, sizeof(s2));
        printf("cluster size: %s\n", s1);
        printf("vm state offset: %s\n", s2);
    }
    return 0;
}

static int quit_f(int argc, char **argv)
{
    return 1; /* handled by the caller */
}

static int close_f(int argc, char **argv)
{
    bdrv_close(bs);
    bs = NULL;
    return 0;
}

static int open_image(const char *name, const char *fmt, int flags)
{
    char *err = NULL;
    if (bs) {
        error_report("file open already, try 'help close'");
        return 1;
    }
    bs = tool_open(name, fmt, flags, true, &err);
    if (!bs) {
        error_report("can't open device %s: %s", name, err);
        g_free(err);
        return 1;
    }
    return 0;
}

static int open_f(int argc, char **argv)
{
    int flags = BDRV_O_RDWR | BDRV_O_UNMAP;
    const char *fmt = NULL;
    int c;
    optind = 0;
    while ((c = getopt(argc, argv, "+snro:kt:d:U")) != -1) {
        switch (c) {
        case 'r':
            flags &= ~BDRV_O_RDWR;
            break;
        case 'n':
            flags |= BDRV_O_NOCACHE;
            break;
        case 'o':
            if (!strncmp(optarg, "driver=", 7)) {
                fmt = optarg + 7;
            }
            break;
        case 't': {
            bool wt;
            if (bdrv_parse_cache_mode(optarg, &flags, &wt) < 0) {
                error_report("Invalid cache option: %s", optarg);
                return -EINVAL;
            }
            break;
        }
        case 'U':
            flags |= BDRV_O_FORCE_SHARE;
            break;
        case 's':
        case 'k':
        case 'd':
            break;
        default:
            return usage("open");
        }
    }
    if (optind != argc - 1) {
        return usage("open");
    }
    return open_image(argv[optind], fmt, flags) ? -EINVAL : 0;
}

static const Cmd cmds[] = {
    {"read", "r", read_f, 2, -1, false, "[-abCqv] [-P pattern [-s off] [-l len]] off len",
     "reads a number of bytes at a specified offset"},
    {"readv", NULL, readv_f, 2, -1, false, "[-Cqv] [-P pattern] off len [len..]",
     "reads a number of bytes at a specified offset"},
    {"aio_read", NULL, aio_read_f, 2, -1, false, "[-Cqv] [-P pattern] [-i] off len [len..]",
     "asynchronously reads a number of bytes"},
    {"write", "w", write_f, 2, -1, true, "[-bcCfnquz] [-P pattern] off len",
     "writes a number of bytes at a specified offset"},
    {"writev", NULL, writev_f, 2, -1, true, "[-Cfq] [-P pattern] off len [len..]",
     "writes a number of bytes at a specified offset"},
    {"aio_write", NULL, aio_write_f, 2, -1, true, "[-Cfiquz] [-P pattern] off len [len..]",
     "asynchronously writes a number of bytes"},
    {"aio_flush", NULL, aio_flush_f, 0, 0, false, "", "completes all outstanding aio requests"},
    {"discard", "d", discard_f, 2, -1, true, "[-Cq] off len",
     "discards a number of bytes at a specified offset"},
    {"flush", "f", flush_f, 0, 0, false, "", "flush all in-core file state to disk"},
    {"map", NULL, map_f, 0, 0, false, "", "prints the allocated areas of a file"},
    {"alloc", NULL, alloc_f, 1, 2, false, "offset [count]",
     "checks if offset is allocated in the file"},
    {"length", "l", length_f, 0, 0, false, "", "gets the length of the current file"},
    {"truncate", "t", truncate_f, 1, 1, true, "off",
     "truncates the current file at the given offset"},
    {"info", "i", info_f, 0, 0, false, "", "prints information about the current file"},
    {"open", "o", open_f, 1, -1, false, "[-rsnkU] [-t cache] [-d discard] [-o options] [path]",
     "open the file specified by path"},
    {"close", "c", close_f, 0, 0, false, "", "close the current open file"},
    {"quit", "q", quit_f, 0, 0, false, "", "exit the program"},
};

static const Cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        if (!strcmp(cmds[i].name, name) || (cmds[i].alt && !strcmp(cmds[i].alt, name))) {
            return &cmds[i];
        }
    }
    return NULL;
}

/* Returns <0 on failure, 0 on success, 1 to quit. */
static int run_command(const char *line)
{
    char **argv = g_strsplit_set(line, " \t", -1);
    /* drop empty words */
    int argc = 0;
    for (int i = 0; argv[i]; i++) {
        if (argv[i][0]) {
            argv[argc++] = argv[i];
        } else {
            g_free(argv[i]);
        }
    }
    argv[argc] = NULL;
    int ret = 0;
    if (argc == 0) {
        g_strfreev(argv);
        return 0;
    }
    const Cmd *c = find_cmd(argv[0]);
    if (!c) {
        fprintf(stderr, "command \"%s\" not found\n", argv[0]);
        g_strfreev(argv);
        return -EINVAL;
    }
    if (c->fn == quit_f) {
        g_strfreev(argv);
        return 1;
    }
    if (!bs && c->fn != open_f) {
        fprintf(stderr, "no file open, try 'help open'\n");
        g_strfreev(argv);
        return -EINVAL;
    }
    if (c->write && bs->read_only) {
        error_report("Block node is read-only");
        g_strfreev(argv);
        return -EACCES;
    }
    int nargs = argc - 1;
    if (nargs < c->argmin || (c->argmax != -1 && nargs > c->argmax)) {
        if (c->argmax == -1) {
            fprintf(stderr, "bad argument count %d to %s, expected at least %d arguments\n", nargs,
                    argv[0], c->argmin);
        } else if (c->argmin == c->argmax) {
            fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n", nargs, argv[0],
                    c->argmin);
        } else {
            fprintf(stderr, "bad argument count %d to %s, expected between %d and %d arguments\n",
                    nargs, argv[0], c->argmin, c->argmax);
        }
        g_strfreev(argv);
        return -EINVAL;
    }
    ret = c->fn(argc, argv);
    fflush(stdout);
    g_strfreev(argv);
    return ret;
}

static void usage_main(void)
{
    printf("Usage: qemu-io [OPTIONS]... [-c STRING]... [file]\n"
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
           "See 'qemu-io -c help' for information on available commands.\n");
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {"cmd", required_argument, NULL, 'c'},    {"format", required_argument, NULL, 'f'},
        {"read-only", no_argument, NULL, 'r'},    {"snapshot", no_argument, NULL, 's'},
        {"nocache", no_argument, NULL, 'n'},      {"copy-on-read", no_argument, NULL, 'C'},
        {"misalign", no_argument, NULL, 'm'},     {"native-aio", no_argument, NULL, 'k'},
        {"aio", required_argument, NULL, 'i'},    {"discard", required_argument, NULL, 'd'},
        {"cache", required_argument, NULL, 't'},  {"trace", required_argument, NULL, 'T'},
        {"force-share", no_argument, NULL, 'U'},  {"image-opts", no_argument, NULL, 'I'},
        {"object", required_argument, NULL, 'O'}, {NULL, 0, NULL, 0},
    };
    error_progname = "qemu-io";
    const char *fmt = NULL;
    GPtrArray *cmdv = g_ptr_array_new();
    int c;
    while ((c = getopt_long(argc, argv, "+hVc:f:rsnCmki:d:t:T:U", long_opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage_main();
            return 0;
        case 'V':
            printf("qemu-io version " TOOLS_VERSION "\n"
                   "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
            return 0;
        case 'c':
            g_ptr_array_add(cmdv, optarg);
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'r':
            open_flags &= ~BDRV_O_RDWR;
            break;
        case 'n':
            open_flags |= BDRV_O_NOCACHE;
            break;
        case 't': {
            bool wt;
            if (bdrv_parse_cache_mode(optarg, &open_flags, &wt) < 0) {
                error_report("Invalid cache option: %s", optarg);
                return 1;
            }
            break;
        }
        case 'i':
            if (!strcmp(optarg, "native")) {
                open_flags |= BDRV_O_NATIVE_AIO;
            } else if (!strcmp(optarg, "threads") || !strcmp(optarg, "io_uring")) {
                open_flags &= ~BDRV_O_NATIVE_AIO;
            } else {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            break;
        case 'd':
            if (bdrv_parse_discard_flags(optarg, &open_flags) < 0) {
                error_report("Invalid discard option: %s", optarg);
                return 1;
            }
            break;
        case 's':
        case 'C':
        case 'm':
        case 'k':
        case 'T':
        case 'O':
            break;
        case 'U':
            open_flags |= BDRV_O_FORCE_SHARE;
            break;
        case 'I':
            error_report("--image-opts is not supported");
            return 1;
        default:
            usage_main();
            return 1;
        }
    }
    if (argc - optind > 1) {
        error_report("too many arguments");
        usage_main();
        return 1;
    }
    if (fmt && !bdrv_find_format(fmt)) {
        error_report("Unknown driver '%s'", fmt);
        return 1;
    }
    if (optind < argc && open_image(argv[optind], fmt, open_flags)) {
        g_ptr_array_free(cmdv, TRUE);
        return 1;
    }
    int last_error = 0;
    for (guint i = 0; i < cmdv->len; i++) {
        int ret = run_command(cmdv->pdata[i]);
        if (ret == 1) {
            break;
        }
        if (ret < 0) {
            last_error = ret;
        }
    }
    if (!cmdv->len) {
        char line[4096];
        while (fgets(line, sizeof(line), stdin)) {
            line[strcspn(line, "\n")] = 0;
            int ret = run_command(line);
            if (ret == 1) {
                break;
            }
            if (ret < 0) {
                last_error = ret;
            }
        }
    }
    g_ptr_array_free(cmdv, TRUE);
    if (bs) {
        bdrv_flush(bs);
        bdrv_close(bs);
    }
    return last_error < 0 ? 1 : 0;
}
