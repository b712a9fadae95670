/*
 * NBD pieces the server and the client share: errno mapping and a blocking byte stream on a
 * socket.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "vireo/nbd.h"

uint32_t nbd_errno_to_wire(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return 0;
    case EPERM:
    case EROFS:
        return NBD_EPERM;
    case EIO:
        return NBD_EIO;
    case ENOMEM:
        return NBD_ENOMEM;
#ifdef EDQUOT
    case EDQUOT:
#endif
    case EFBIG:
    case ENOSPC:
        return NBD_ENOSPC;
    case EOVERFLOW:
        return NBD_EOVERFLOW;
    case ENOTSUP:
        return NBD_ENOTSUP;
    case ESHUTDOWN:
        return NBD_ESHUTDOWN;
    default:
        return NBD_EINVAL;
    }
}

int nbd_wire_to_errno(uint32_t err)
{
    switch (err) {
    case 0:
        return 0;
    case NBD_EPERM:
        return -EPERM;
    case NBD_EIO:
        return -EIO;
    case NBD_ENOMEM:
        return -ENOMEM;
    case NBD_ENOSPC:
        return -ENOSPC;
    case NBD_EOVERFLOW:
        return -EOVERFLOW;
    case NBD_ENOTSUP:
        return -ENOTSUP;
    case NBD_ESHUTDOWN:
        return -ESHUTDOWN;
    default:
        return -EINVAL; /* NBD_EINVAL and anything unknown, as QEMU */
    }
}

static int fd_read(void *opaque, void *buf, size_t n)
{
    int fd = *(int *)opaque;
    char *p = buf;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            return -EPIPE;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int fd_writev(void *opaque, const struct iovec *iov_in, int niov)
{
    int fd = *(int *)opaque;
    struct iovec iov[64];
    if (niov > 64) {
        return -EINVAL;
    }
    memcpy(iov, iov_in, sizeof(*iov) * (size_t)niov);
    struct iovec *v = iov;
    while (niov) {
        struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)niov};
        ssize_t r = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        while (niov && (size_t)r >= v->iov_len) {
            r -= (ssize_t)v->iov_len;
            v++;
            niov--;
        }
        if (niov) {
            v->iov_base = (char *)v->iov_base + r;
            v->iov_len -= (size_t)r;
        }
    }
    return 0;
}

void nbd_conn_init_fd(NBDConn *c, int *fd)
{
    c->read = fd_read;
    c->writev = fd_writev;
    c->opaque = fd;
}
