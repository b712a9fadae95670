/*
 * sgio DEVICE [in:LEN|out:HEX] CDB-HEX...: send SCSI commands through the SG_IO ioctl and print,
 * per command, the status, the sense bytes and the data-in bytes as hex (one line each), so a
 * guest can show what its SCSI device answers byte for byte (tests/tcg/pci-guest.sh compares
 * Vireo's answers with QEMU 7.2's). Each command is "in:LEN:CDB" (LEN bytes from the device),
 * "out:DATAHEX:CDB" (the bytes to the device) or "none:CDB"; CDB is hex. Built static for the
 * busybox initramfs. Exit 0, or 1 when the device cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <scsi/sg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
    size_t n = 0;
    while (s[0] && s[1] && n < max) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1) {
            break;
        }
        out[n++] = (unsigned char)v;
        s += 2;
    }
    return n;
}

static void hex(const char *what, const unsigned char *p, size_t n)
{
    printf(" %s", what);
    for (size_t i = 0; i < n; i++) {
        printf("%s%02x", i ? "" : "=", p[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sgio DEVICE in:LEN:CDB|out:HEX:CDB|none:CDB...\n");
        return 1;
    }
    int fd = open(argv[1], O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "sgio: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    static unsigned char data[65536], sense[64];
    for (int i = 2; i < argc; i++) {
        unsigned char cdb[16];
        char *arg = strdup(argv[i]), *kind = arg, *a = strchr(arg, ':'), *b;
        size_t len = 0, cdb_len;
        int dir = SG_DXFER_NONE;
        if (!a) {
            printf("%s bad argument\n", argv[i]);
            free(arg);
            continue;
        }
        *a++ = 0;
        if (!strcmp(kind, "none")) {
            b = a;
        } else {
            b = strchr(a, ':');
            if (!b) {
                printf("%s bad argument\n", argv[i]);
                free(arg);
                continue;
            }
            *b++ = 0;
            memset(data, 0, sizeof(data));
            if (!strcmp(kind, "in")) {
                len = strtoul(a, NULL, 0);
                len = len > sizeof(data) ? sizeof(data) : len;
                dir = SG_DXFER_FROM_DEV;
            } else {
                len = unhex(a, data, sizeof(data));
                dir = SG_DXFER_TO_DEV;
            }
        }
        cdb_len = unhex(b, cdb, sizeof(cdb));
        sg_io_hdr_t h;
        memset(&h, 0, sizeof(h));
        memset(sense, 0, sizeof(sense));
        h.interface_id = 'S';
        h.cmdp = cdb;
        h.cmd_len = (unsigned char)cdb_len;
        h.dxfer_direction = dir;
        h.dxferp = len ? data : NULL;
        h.dxfer_len = (unsigned)len;
        h.sbp = sense;
        h.mx_sb_len = sizeof(sense);
        h.timeout = 20000;
        printf("%s", b);
        if (ioctl(fd, SG_IO, &h) < 0) {
            printf(" ioctl=%s\n", strerror(errno));
            free(arg);
            continue;
        }
        printf(" status=%02x host=%x driver=%x resid=%d", h.status, h.host_status, h.driver_status,
               h.resid);
        if (h.sb_len_wr) {
            hex("sense", sense, h.sb_len_wr);
        }
        if (dir == SG_DXFER_FROM_DEV) {
            size_t got = len - (size_t)(h.resid > 0 ? h.resid : 0);
            /* trailing zeroes are left out */
            while (got && !data[got - 1]) {
                got--;
            }
            hex("data", data, got);
        }
        printf("\n");
        free(arg);
    }
    close(fd);
    return 0;
}
