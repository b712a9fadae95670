/*
 * zeroout DEVICE OFFSET LENGTH: the BLKZEROOUT ioctl (util-linux's `blkdiscard -z`, which
 * busybox lacks), so a guest's virtio-blk driver sends WRITE_ZEROES requests. Built static by
 * tests/tcg/pci-guest.sh for its busybox initramfs. Exit 0, or 1 with the error on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: zeroout DEVICE OFFSET LENGTH\n");
        return 1;
    }
    int fd = open(argv[1], O_WRONLY);
    if (fd < 0) {
        fprintf(stderr, "zeroout: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    uint64_t range[2] = {strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0)};
    if (ioctl(fd, BLKZEROOUT, range) < 0) {
        fprintf(stderr, "zeroout: BLKZEROOUT: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    close(fd);
    return 0;
}
