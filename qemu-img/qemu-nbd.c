/*
 * qemu-nbd: serve one image over NBD (QEMU 7.2's options, messages and exit codes).
 *
 * The main thread runs a glib main loop: the listening sockets, SIGINT/SIGTERM/SIGHUP, and
 * the end of each client. Every accepted client is served by a thread of its own on a
 * blocking socket (nbd/server.c), one request at a time; block-layer calls of all clients go
 * through one mutex, since a node has one user at a time. Without -t the server ends when its
 * last client has gone; -e N accepts at most N clients at once (0: any number).
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include "tools.h"
#include "vireo/error.h"
#include "vireo/nbd.h"
#include "vireo/qjson.h"

static const char *argv0;
static NBDExport exp_;
static GMutex bdrv_mutex;
static GMainLoop *loop;
static int listen_fds[16];
static guint listen_src[16];
static int n_listen;
static int shared = 1;
static bool persistent;
static int nb_clients;
static bool had_client;
static GPtrArray *clients;

typedef struct NbdClient {
    int fd;
    GThread *thread;
} NbdClient;

static void usage(void)
{
    printf("Usage: %s [OPTIONS] FILE\n"
           "  or:  %s -L [OPTIONS]\n"
           "QEMU Disk Network Block Device Utility\n"
           "\n"
           "  -h, --help                display this help and exit\n"
           "  -V, --version             output version information and exit\n"
           "\n"
           "Connection properties:\n"
           "  -p, --port=PORT           port to listen on (default `10809')\n"
           "  -b, --bind=IFACE          interface to bind to (default `0.0.0.0')\n"
           "  -k, --socket=PATH         path to the unix socket\n"
           "                            (default '/var/lock/qemu-nbd-DEVICE')\n"
           "  -e, --shared=NUM          device can be shared by NUM clients (default '1')\n"
           "  -t, --persistent          don't exit on the last connection\n"
           "  -v, --verbose             display extra debugging information\n"
           "  -x, --export-name=NAME    expose export by name (default is empty string)\n"
           "  -D, --description=TEXT    export a human-readable description\n"
           "\n"
           "Exposing part of the image:\n"
           "  -o, --offset=OFFSET       offset into the image\n"
           "  -A, --allocation-depth    expose the allocation depth\n"
           "  -B, --bitmap=NAME         expose a persistent dirty bitmap\n"
           "\n"
           "General purpose options:\n"
           "  -L, --list                list exports available from another NBD server\n"
           "  --object type,id=ID,...   define an object such as 'secret' for providing\n"
           "                            passwords and/or encryption keys\n"
           "  --tls-creds=ID            use id of an earlier --object to provide TLS\n"
           "  --tls-authz=ID            use id of an earlier --object to provide\n"
           "                            authorization\n"
           "  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
           "                            specify tracing options\n"
           "  --fork                    fork off the server process and exit the parent\n"
           "                            once the server is running\n"
           "  --pid-file=PATH           store the server's process ID in the given file\n"
           "  --selinux-label=LABEL     set SELinux process label on listening socket\n"
           "\n"
           "Kernel NBD client support:\n"
           "  -c, --connect=DEV         connect FILE to the local NBD device DEV\n"
           "  -d, --disconnect          disconnect the specified device\n"
           "\n"
           "Block device options:\n"
           "  -f, --format=FORMAT       set image format (raw, qcow2, ...)\n"
           "  -r, --read-only           export read-only\n"
           "  -s, --snapshot            use FILE as an external snapshot, create a temporary\n"
           "                            file with backing_file=FILE, redirect the write to\n"
           "                            the temporary one\n"
           "  -l, --load-snapshot=SNAPSHOT_PARAM\n"
           "                            load an internal snapshot inside FILE and export it\n"
           "                            as an read-only device, SNAPSHOT_PARAM format is\n"
           "                            'snapshot.id=[ID],snapshot.name=[NAME]', or\n"
           "                            '[ID_OR_NAME]'\n"
           "  -n, --nocache             disable host cache\n"
           "      --cache=MODE          set cache mode used to access the disk image, the\n"
           "                            valid options are: 'none', 'writeback' (default),\n"
           "                            'writethrough', 'directsync' and 'unsafe'\n"
           "      --aio=MODE            set AIO mode (native, io_uring or threads)\n"
           "      --discard=MODE        set discard mode (ignore, unmap)\n"
           "      --detect-zeroes=MODE  set detect-zeroes mode (off, on, unmap)\n"
           "      --image-opts          treat FILE as a full set of image options\n"
           "\n"
           "See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
           "More information on the QEMU project at <https://qemu.org>.\n",
           argv0, argv0);
}

static void version(void)
{
    printf("%s " TOOLS_VERSION "\n"
           "Written by Anthony Liguori.\n"
           "\n"
           "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n"
           "This is free software; see the source for copying conditions.  There is NO\n"
           "warranty; not even for MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.\n",
           argv0);
}

static void bdrv_lock(void *opaque)
{
    g_mutex_lock(&bdrv_mutex);
}

static void bdrv_unlock(void *opaque)
{
    g_mutex_unlock(&bdrv_mutex);
}

/* ---- listening and clients ---- */

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer data);

static void listen_enable(bool on)
{
    for (int i = 0; i < n_listen; i++) {
        if (on && !listen_src[i]) {
            listen_src[i] = g_unix_fd_add(listen_fds[i], G_IO_IN, accept_cb, NULL);
        } else if (!on && listen_src[i]) {
            g_source_remove(listen_src[i]);
            listen_src[i] = 0;
        }
    }
}

static gboolean client_done(gpointer data)
{
    NbdClient *cl = data;
    g_thread_join(cl->thread);
    close(cl->fd);
    g_ptr_array_remove(clients, cl);
    g_free(cl);
    nb_clients--;
    if (!persistent && nb_clients == 0) {
        g_main_loop_quit(loop);
    } else {
        listen_enable(true);
    }
    return G_SOURCE_REMOVE;
}

static gpointer client_thread(gpointer data)
{
    NbdClient *cl = data;
    NBDConn conn;
    nbd_conn_init_fd(&conn, &cl->fd);
    nbd_serve_client(&exp_, &conn);
    shutdown(cl->fd, SHUT_RDWR);
    g_idle_add(client_done, cl);
    return NULL;
}

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer data)
{
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        return G_SOURCE_CONTINUE;
    }
    NbdClient *cl = g_new0(NbdClient, 1);
    cl->fd = c;
    nb_clients++;
    had_client = true;
    g_ptr_array_add(clients, cl);
    cl->thread = g_thread_new("nbd-client", client_thread, cl);
    if (shared > 0 && nb_clients >= shared) {
        listen_enable(false);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        error_report("UNIX socket path '%s' is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_report("Failed to create Unix socket: %s", strerror(errno));
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        error_report("Failed to bind socket to %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 1) < 0) {
        error_report("Failed to listen on socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    listen_fds[n_listen++] = fd;
    return 0;
}

static int listen_inet(const char *host, const char *port)
{
    struct addrinfo hints = {
        .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e) {
        error_report("address resolution failed for %s:%s: %s", host, port, gai_strerror(e));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *a = res; a && n_listen < 16; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (a->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 1) < 0) {
            err = errno;
            close(fd);
            continue;
        }
        listen_fds[n_listen++] = fd;
    }
    freeaddrinfo(res);
    if (!n_listen) {
        error_report("Failed to bind socket: %s", strerror(err ? err : EADDRNOTAVAIL));
        return -1;
    }
    return 0;
}

/* ---- options ---- */

enum {
    OPT_CACHE = 256,
    OPT_AIO,
    OPT_DISCARD,
    OPT_DETECT_ZEROES,
    OPT_OBJECT,
    OPT_TLSCREDS,
    OPT_TLSAUTHZ,
    OPT_IMAGE_OPTS,
    OPT_FORK,
    OPT_PID_FILE,
    OPT_SELINUX_LABEL,
};

static void try_help(void)
{
    error_report("Try `%s --help' for more information.", argv0);
    exit(EXIT_FAILURE);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"bind", required_argument, NULL, 'b'},
        {"port", required_argument, NULL, 'p'},
        {"socket", required_argument, NULL, 'k'},
        {"offset", required_argument, NULL, 'o'},
        {"read-only", no_argument, NULL, 'r'},
        {"allocation-depth", no_argument, NULL, 'A'},
        {"bitmap", required_argument, NULL, 'B'},
        {"connect", required_argument, NULL, 'c'},
        {"disconnect", no_argument, NULL, 'd'},
        {"list", no_argument, NULL, 'L'},
        {"snapshot", no_argument, NULL, 's'},
        {"load-snapshot", required_argument, NULL, 'l'},
        {"nocache", no_argument, NULL, 'n'},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"aio", required_argument, NULL, OPT_AIO},
        {"discard", required_argument, NULL, OPT_DISCARD},
        {"detect-zeroes", required_argument, NULL, OPT_DETECT_ZEROES},
        {"shared", required_argument, NULL, 'e'},
        {"format", required_argument, NULL, 'f'},
        {"persistent", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"object", required_argument, NULL, OPT_OBJECT},
        {"export-name", required_argument, NULL, 'x'},
        {"description", required_argument, NULL, 'D'},
        {"tls-creds", required_argument, NULL, OPT_TLSCREDS},
        {"tls-authz", required_argument, NULL, OPT_TLSAUTHZ},
        {"image-opts", no_argument, NULL, OPT_IMAGE_OPTS},
        {"trace", required_argument, NULL, 'T'},
        {"fork", no_argument, NULL, OPT_FORK},
        {"pid-file", required_argument, NULL, OPT_PID_FILE},
        {"selinux-label", required_argument, NULL, OPT_SELINUX_LABEL},
        {NULL, 0, NULL, 0},
    };
    argv0 = argv[0];
    error_progname = "qemu-nbd";
    const char *bindto = NULL, *port = NULL, *sockpath = NULL, *fmt = NULL, *bitmap = NULL;
    const char *export_name = "", *desc = NULL, *pid_file = NULL, *snapshot_param = NULL;
    const char *detect_zeroes = NULL, *device = NULL;
    uint64_t dev_offset = 0;
    int flags = BDRV_O_RDWR;
    bool readonly = false, image_opts = false, do_fork = false, writethrough = false;
    bool seen_cache = false, seen_aio = false, seen_discard = false, list = false;
    bool disconnect = false;
    int c;
    while ((c = getopt_long(argc, argv, "hVb:o:p:rsnc:dvk:e:f:tl:x:T:D:AB:L", lopts, NULL)) != -1) {
        switch (c) {
        case 's':
            flags |= BDRV_O_SNAPSHOT;
            break;
        case 'n':
            optarg = (char *)"none";
            /* fallthrough */
        case OPT_CACHE:
            if (seen_cache) {
                error_report("-n and --cache can only be specified once");
                exit(EXIT_FAILURE);
            }
            seen_cache = true;
            if (bdrv_parse_cache_mode(optarg, &flags, &writethrough) < 0) {
                error_report("Invalid cache mode `%s'", optarg);
                exit(EXIT_FAILURE);
            }
            break;
        case OPT_AIO:
            if (seen_aio) {
                error_report("--aio can only be specified once");
                exit(EXIT_FAILURE);
            }
            seen_aio = true;
            if (!strcmp(optarg, "native")) {
                flags |= BDRV_O_NATIVE_AIO;
            } else if (strcmp(optarg, "threads") && strcmp(optarg, "io_uring")) {
                error_report("Invalid aio mode '%s'", optarg);
                exit(EXIT_FAILURE);
            }
            break;
        case OPT_DISCARD:
            if (seen_discard) {
                error_report("--discard can only be specified once");
                exit(EXIT_FAILURE);
            }
            seen_discard = true;
            if (bdrv_parse_discard_flags(optarg, &flags) < 0) {
                error_report("Invalid discard mode `%s'", optarg);
                exit(EXIT_FAILURE);
            }
            break;
        case OPT_DETECT_ZEROES:
            if (strcmp(optarg, "off") && strcmp(optarg, "on") && strcmp(optarg, "unmap")) {
                error_report("Failed to parse detect_zeroes mode: invalid parameter value: %s",
                             optarg);
                exit(EXIT_FAILURE);
            }
            detect_zeroes = optarg;
            break;
        case 'b':
            bindto = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case 'o': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                error_report("Invalid offset '%s'", optarg);
                exit(EXIT_FAILURE);
            }
            dev_offset = v;
            break;
        }
        case 'l':
            snapshot_param = optarg;
            readonly = true;
            break;
        case 'r':
            readonly = true;
            break;
        case 'k':
            sockpath = optarg;
            if (sockpath[0] != '/') {
                error_report("socket path must be absolute");
                exit(EXIT_FAILURE);
            }
            break;
        case 'd':
            disconnect = true;
            break;
        case 'c':
            device = optarg;
            break;
        case 'e': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 0);
            if (errno || end == optarg || *end || v < 0 || v > INT32_MAX) {
                error_report("Invalid shared device number '%s'", optarg);
                exit(EXIT_FAILURE);
            }
            shared = (int)v;
            break;
        }
        case 'f':
            fmt = optarg;
            break;
        case 't':
            persistent = true;
            break;
        case 'x':
            export_name = optarg;
            if (strlen(optarg) > NBD_MAX_STRING_SIZE) {
                error_report("export name '%s' too long", optarg);
                exit(EXIT_FAILURE);
            }
            break;
        case 'D':
            desc = optarg;
            if (strlen(optarg) > NBD_MAX_STRING_SIZE) {
                error_report("export description '%s' too long", optarg);
                exit(EXIT_FAILURE);
            }
            break;
        case 'v':
        case 'T':
        case OPT_SELINUX_LABEL:
            break;
        case 'A':
            error_report("--allocation-depth is not supported by this qemu-nbd");
            exit(EXIT_FAILURE);
        case 'B':
            bitmap = optarg;
            break;
        case 'V':
            version();
            exit(0);
        case 'h':
            usage();
            exit(0);
        case '?':
            try_help();
            break;
        case 'L':
            list = true;
            break;
        case OPT_OBJECT:
            if (tool_object_add(optarg) < 0) {
                exit(EXIT_FAILURE);
            }
            break;
        case OPT_TLSCREDS:
        case OPT_TLSAUTHZ:
            error_report("TLS is not supported by this qemu-nbd");
            exit(EXIT_FAILURE);
        case OPT_IMAGE_OPTS:
            image_opts = true;
            break;
        case OPT_FORK:
            do_fork = true;
            break;
        case OPT_PID_FILE:
            pid_file = optarg;
            break;
        }
    }
    int nargs = argc - optind;
    const char *srcpath = optind < argc ? argv[optind] : NULL;
    if (list) {
        if (nargs) {
            error_report("List mode is incompatible with a file name");
            exit(EXIT_FAILURE);
        }
        error_report("List mode is not supported by this qemu-nbd");
        exit(EXIT_FAILURE);
    }
    if (disconnect || device) {
        error_report("%s %s: No such file or directory",
                     disconnect ? "Cannot open" : "Failed to open", disconnect ? srcpath : device);
        exit(EXIT_FAILURE);
    }
    if (nargs != 1) {
        error_report("Invalid number of arguments");
        fprintf(stderr, "Try `%s --help' for more information.\n", argv0);
        exit(EXIT_FAILURE);
    }
    if (detect_zeroes && !strcmp(detect_zeroes, "unmap") && !(flags & BDRV_O_UNMAP)) {
        error_report("setting detect-zeroes to unmap is not allowed without setting discard "
                     "operation to unmap");
        exit(EXIT_FAILURE);
    }
    if (readonly) {
        flags &= ~BDRV_O_RDWR;
    }
    if (writethrough) {
        flags |= BDRV_O_WRTHROUGH;
    }

    int ready_pipe[2] = {-1, -1};
    if (do_fork) {
        if (pipe(ready_pipe) < 0) {
            error_report("Failed to create pipe: %s", strerror(errno));
            exit(EXIT_FAILURE);
        }
        pid_t pid = fork();
        if (pid < 0) {
            error_report("Failed to fork: %s", strerror(errno));
            exit(EXIT_FAILURE);
        }
        if (pid > 0) {
            /* the parent: exit once the child listens (it writes a byte), 1 if it failed */
            close(ready_pipe[1]);
            char b;
            ssize_t r;
            do {
                r = read(ready_pipe[0], &b, 1);
            } while (r < 0 && errno == EINTR);
            exit(r == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
        }
        close(ready_pipe[0]);
        setsid();
    }

    QJ *opts = qj_object();
    if (image_opts) {
        char *err = NULL;
        QOpts *q = qopts_parse("image-opts", srcpath, NULL, NULL, QOPTS_LEGACY, &err);
        if (!q) {
            error_report("%s", err);
            exit(EXIT_FAILURE);
        }
        for (size_t i = 0; i < q->n_pairs; i++) {
            qj_set_str(opts, q->pairs[i].key, q->pairs[i].value);
        }
        qopts_free(q);
        if (fmt) {
            error_report("--image-opts and -f are mutually exclusive");
            exit(EXIT_FAILURE);
        }
    } else if (fmt) {
        qj_set_str(opts, "driver", fmt);
    }
    if (detect_zeroes) {
        qj_set_str(opts, "detect-zeroes", detect_zeroes);
    }
    char *err = NULL;
    BlockDriverState *bs = tool_open_opts(image_opts ? NULL : srcpath, opts, flags, &err);
    if (!bs) {
        error_report("Failed to blk_new_open '%s': %s", srcpath, err);
        exit(EXIT_FAILURE);
    }
    if (snapshot_param) {
        char *id = NULL, *name = NULL;
        if (g_str_has_prefix(snapshot_param, "snapshot.")) {
            GPtrArray *kv = tool_kv_parse(snapshot_param, NULL);
            id = g_strdup(tool_kv_get(kv, "snapshot.id"));
            name = g_strdup(tool_kv_get(kv, "snapshot.name"));
            g_ptr_array_free(kv, true);
        } else if (bdrv_snapshot_find(bs, snapshot_param, &id, &name) < 0) {
            id = g_strdup(snapshot_param);
        }
        if (bdrv_snapshot_load_tmp(bs, id, name, &err) < 0) {
            error_report("Failed to load snapshot: %s", err);
            exit(EXIT_FAILURE);
        }
        g_free(id);
        g_free(name);
    }
    int64_t fd_size = bdrv_getlength(bs);
    if (fd_size < 0) {
        error_report("Failed to determine the image length: %s", strerror((int)-fd_size));
        exit(EXIT_FAILURE);
    }
    if (dev_offset > (uint64_t)fd_size) {
        error_report("Offset (%" PRIu64 ") cannot be greater than size of the containing file "
                     "(%" PRId64 ")",
                     dev_offset, fd_size);
        exit(EXIT_FAILURE);
    }
    exp_.bs = bs;
    exp_.name = (char *)export_name;
    exp_.description = (char *)desc;
    exp_.readonly = readonly;
    exp_.offset = dev_offset;
    exp_.size = (uint64_t)fd_size - dev_offset;
    exp_.lock = bdrv_lock;
    exp_.unlock = bdrv_unlock;
    if (bitmap) {
        exp_.bitmap = bdrv_find_dirty_bitmap(bs, bitmap);
        if (!exp_.bitmap) {
            error_report("Bitmap '%s' is not found", bitmap);
            exit(EXIT_FAILURE);
        }
        if (bdrv_dirty_bitmap_check(exp_.bitmap, BDRV_BITMAP_ALLOW_RO, &err) < 0) {
            error_report("%s", err);
            exit(EXIT_FAILURE);
        }
    }

    if (sockpath ? listen_unix(sockpath) < 0
                 : listen_inet(bindto ? bindto : "0.0.0.0", port ? port : "10809") < 0) {
        exit(EXIT_FAILURE);
    }
    if (pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (!f) {
            error_report("Could not create '%s': %s", pid_file, strerror(errno));
            exit(EXIT_FAILURE);
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    signal(SIGPIPE, SIG_IGN);
    loop = g_main_loop_new(NULL, FALSE);
    clients = g_ptr_array_new();
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGHUP, on_signal, NULL);
    listen_enable(true);
    if (do_fork) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, STDIN_FILENO);
            dup2(nul, STDOUT_FILENO);
            dup2(nul, STDERR_FILENO);
            close(nul);
        }
        if (write(ready_pipe[1], "", 1) < 0) {
            /* the parent is gone: serve anyway */
        }
        close(ready_pipe[1]);
    }
    (void)had_client;
    g_main_loop_run(loop);

    /* the end: stop listening, drop the clients, write the image back */
    listen_enable(false);
    for (int i = 0; i < n_listen; i++) {
        close(listen_fds[i]);
    }
    if (sockpath) {
        unlink(sockpath);
    }
    for (guint i = 0; i < clients->len; i++) {
        NbdClient *cl = g_ptr_array_index(clients, i);
        shutdown(cl->fd, SHUT_RDWR);
    }
    while (clients->len) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_ptr_array_free(clients, true);
    g_main_loop_unref(loop);
    bdrv_flush(bs);
    bdrv_close(bs);
    tool_objects_free();
    if (pid_file) {
        unlink(pid_file);
    }
    return 0;
}
