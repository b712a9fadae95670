/*
 * -netdev tap (docs/net.md): a Linux TAP interface, opened by name (ifname=, the kernel picks
 * one without it) or passed in (fd=, as libvirt does). script=/downscript= run with the
 * interface name as QEMU's do (defaults /etc/qemu-ifup and /etc/qemu-ifdown, "no" for none).
 * Frames go through read()/writev() one at a time; no vnet header, so no offloads (vnet_hdr=on,
 * vhost=on and queues>1 are refused).
 *
 * The descriptor is watched on the glib main loop; its callback takes the big lock and hands
 * every waiting frame to the peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include "vireo/machine.h"
#include "vireo/net.h"
#include "vireo/qemu-opts.h"

#define TAP_BUF 69632 /* 64 KiB frames (and some) */

typedef struct TapState {
    NetClientState *nc;
    int fd;
    guint watch;
    char ifname[IFNAMSIZ];
    char *downscript;
    uint8_t buf[TAP_BUF];
} TapState;

static gboolean tap_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)cond;
    TapState *s = opaque;
    vireo_lock();
    for (int i = 0; i < 64; i++) { /* a batch, then let the loop breathe */
        ssize_t n = read(fd, s->buf, sizeof(s->buf));
        if (n <= 0) {
            break;
        }
        net_send(s->nc, s->buf, (size_t)n);
    }
    vireo_unlock();
    return G_SOURCE_CONTINUE;
}

static ssize_t tap_receive(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    TapState *s = nc->opaque;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    ssize_t r;
    do {
        r = writev(s->fd, iov, iovcnt);
    } while (r < 0 && errno == EINTR);
    /* a full queue (EAGAIN) or a down interface (EIO) drops the frame, as a wire would */
    return (ssize_t)(len ? len : 1);
}

static bool run_script(const char *script, const char *ifname, char **errp)
{
    pid_t pid = fork();
    if (pid < 0) {
        *errp = g_strdup_printf("could not launch network script %s", script);
        return false;
    }
    if (pid == 0) {
        /* the child: only the standard descriptors stay open */
        int max = (int)sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < max && fd < 4096; fd++) {
            close(fd);
        }
        execl(script, script, ifname, (char *)NULL);
        _exit(1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            *errp = g_strdup_printf("could not launch network script %s", script);
            return false;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return true;
    }
    *errp = g_strdup_printf("network script %s failed with status %d", script, status);
    return false;
}

static void tap_cleanup(NetClientState *nc)
{
    TapState *s = nc->opaque;
    if (s->watch) {
        g_source_remove(s->watch);
    }
    if (s->downscript) {
        char *err = NULL;
        if (!run_script(s->downscript, s->ifname, &err)) {
            g_free(err);
        }
        g_free(s->downscript);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    g_free(s);
}

static const NetClientInfo tap_info = {
    .kind = NET_CLIENT_TAP,
    .type = "tap",
    .receive = tap_receive,
    .cleanup = tap_cleanup,
};

static int tap_open(const char *want, char *ifname, char **errp)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *errp = g_strdup_printf("could not open /dev/net/tun: %s", g_strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    g_strlcpy(ifr.ifr_name, want ? want : "tap%d", IFNAMSIZ);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        *errp = g_strdup_printf("could not configure /dev/net/tun (%s): %s", ifr.ifr_name,
                                g_strerror(errno));
        close(fd);
        return -1;
    }
    g_strlcpy(ifname, ifr.ifr_name, IFNAMSIZ);
    return fd;
}

NetClientState *net_init_tap(const QOpts *o, const char *name, NetClientState *peer, char **errp)
{
    const char *fdstr = qopts_get(o, "fd"), *ifname = qopts_get(o, "ifname");
    const char *script = qopts_get(o, "script"), *downscript = qopts_get(o, "downscript");
    bool vhost = false, vnet_hdr = false;
    uint64_t queues = 1;
    if (!qopts_get_bool(o, "vhost", false, &vhost, errp) ||
        !qopts_get_bool(o, "vnet_hdr", false, &vnet_hdr, errp) ||
        !qopts_get_number(o, "queues", 1, &queues, errp)) {
        return NULL;
    }
    if (qopts_has(o, "fds") || qopts_has(o, "vhostfds") || qopts_has(o, "vhostfd") ||
        qopts_has(o, "helper") || qopts_has(o, "br")) {
        *errp = g_strdup("tap: fds=, vhostfd=, vhostfds=, helper= and br= are not available in "
                         "Vireo (docs/net.md)");
        return NULL;
    }
    if (vhost || qopts_has(o, "vhostforce")) {
        *errp = g_strdup("vhost-net is not available in Vireo (docs/net.md)");
        return NULL;
    }
    if (vnet_hdr) {
        *errp = g_strdup("tap: vnet_hdr=on is not available in Vireo (docs/net.md)");
        return NULL;
    }
    TapState *s = g_new0(TapState, 1);
    s->fd = -1;
    if (fdstr) {
        if (ifname || script || downscript || qopts_has(o, "vnet_hdr") || qopts_has(o, "queues")) {
            *errp = g_strdup("ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, "
                             "and vhostfds= are invalid with fd=");
            g_free(s);
            return NULL;
        }
        char *end;
        errno = 0;
        long fd = strtol(fdstr, &end, 10);
        if (errno || *end || end == fdstr || fd < 0 || fd > INT32_MAX ||
            fcntl((int)fd, F_GETFD) < 0) {
            *errp = g_strdup_printf("Failed to find file descriptor '%s'", fdstr);
            g_free(s);
            return NULL;
        }
        s->fd = (int)fd;
        fcntl(s->fd, F_SETFD, FD_CLOEXEC);
    } else {
        if (queues != 1) {
            *errp = g_strdup("tap: queues= other than 1 is not available in Vireo (docs/net.md)");
            g_free(s);
            return NULL;
        }
        s->fd = tap_open(ifname, s->ifname, errp);
        if (s->fd < 0) {
            g_free(s);
            return NULL;
        }
        const char *up = script ? script : "/etc/qemu-ifup";
        const char *down = downscript ? downscript : "/etc/qemu-ifdown";
        if (strcmp(up, "no") && up[0] && !run_script(up, s->ifname, errp)) {
            close(s->fd);
            g_free(s);
            return NULL;
        }
        if (strcmp(down, "no") && down[0]) {
            s->downscript = g_strdup(down);
        }
    }
    int fl = fcntl(s->fd, F_GETFL);
    if (fl >= 0) {
        fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
    }
    NetClientState *nc = net_client_new(&tap_info, peer, "tap", name, s);
    s->nc = nc;
    if (fdstr) {
        net_client_set_info(nc, "fd=%d", s->fd);
    } else {
        net_client_set_info(nc, "ifname=%s,script=%s,downscript=%s", s->ifname,
                            script ? script : "/etc/qemu-ifup",
                            downscript ? downscript : "/etc/qemu-ifdown");
    }
    s->watch = g_unix_fd_add(s->fd, G_IO_IN, tap_readable, s);
    return nc;
}
