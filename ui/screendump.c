/*
 * screendump (QMP `screendump`, HMP `screendump`): a console's surface saved as a binary PPM
 * (P6, as QEMU's ppm_save) or a PNG (8-bit RGB, no interlace; zlib deflates the rows, each
 * with filter type 0), with QEMU's error texts.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "vireo/console.h"
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/ui.h"

/* The image as packed RGB rows (w * 3 bytes each). */
static uint8_t *rgb_rows(pixman_image_t *img, int w, int h)
{
    uint8_t *out = g_malloc((size_t)w * h * 3);
    const uint32_t *px = pixman_image_get_data(img);
    int stride = pixman_image_get_stride(img) / 4;
    uint8_t *p = out;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint32_t v = px[(size_t)y * stride + x];
            *p++ = v >> 16;
            *p++ = v >> 8;
            *p++ = v;
        }
    }
    return out;
}

static void put_be32(GByteArray *b, uint32_t v)
{
    uint8_t be[4] = {v >> 24, v >> 16, v >> 8, v};
    g_byte_array_append(b, be, 4);
}

static void png_chunk(GByteArray *b, const char *type, const uint8_t *data, size_t len)
{
    put_be32(b, (uint32_t)len);
    size_t start = b->len;
    g_byte_array_append(b, (const uint8_t *)type, 4);
    if (len) {
        g_byte_array_append(b, data, (guint)len);
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, b->data + start, (uInt)(len + 4));
    put_be32(b, (uint32_t)crc);
}

static GByteArray *encode_png(const uint8_t *rgb, int w, int h)
{
    size_t row = (size_t)w * 3;
    size_t raw_len = (row + 1) * h;
    uint8_t *raw = g_malloc(raw_len);
    for (int y = 0; y < h; y++) {
        raw[y * (row + 1)] = 0; /* filter: none */
        memcpy(raw + y * (row + 1) + 1, rgb + y * row, row);
    }
    uLongf zlen = compressBound(raw_len);
    uint8_t *z = g_malloc(zlen);
    compress2(z, &zlen, raw, raw_len, 6);
    g_free(raw);

    GByteArray *b = g_byte_array_new();
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    g_byte_array_append(b, sig, 8);
    uint8_t ihdr[13] = {w >> 24, w >> 16,      w >> 8,      w, h >> 24, h >> 16, h >> 8,
                        h,       8 /* bits */, 2 /* RGB */, 0, 0,       0};
    png_chunk(b, "IHDR", ihdr, sizeof(ihdr));
    png_chunk(b, "IDAT", z, zlen);
    png_chunk(b, "IEND", NULL, 0);
    g_free(z);
    return b;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

bool console_save_image(pixman_image_t *img, const char *filename, bool png, char **errp)
{
    int w = pixman_image_get_width(img), h = pixman_image_get_height(img);
    int fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        *errp = g_strdup_printf("failed to open file '%s': %s", filename, g_strerror(errno));
        return false;
    }
    uint8_t *rgb = rgb_rows(img, w, h);
    GByteArray *b;
    if (png) {
        b = encode_png(rgb, w, h);
    } else {
        b = g_byte_array_new();
        char *hdr = g_strdup_printf("P6\n%d %d\n%d\n", w, h, 255);
        g_byte_array_append(b, (uint8_t *)hdr, (guint)strlen(hdr));
        g_free(hdr);
        g_byte_array_append(b, rgb, (guint)((size_t)w * h * 3));
    }
    g_free(rgb);
    bool ok = write_all(fd, b->data, b->len);
    int saved = errno;
    g_byte_array_free(b, TRUE);
    if (close(fd) < 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        *errp = g_strdup_printf("failed to write file '%s': %s", filename, g_strerror(saved));
        unlink(filename);
    }
    return ok;
}

bool console_screendump(const char *filename, const char *device, bool has_head, int64_t head,
                        bool png, const char **errclass, char **errp)
{
    *errclass = "GenericError";
    VConsole *con;
    vireo_lock();
    if (device) {
        con = console_lookup_locked(device, head, errclass, errp);
    } else if (has_head) {
        con = NULL;
        *errp = g_strdup("'head' must be specified together with 'device'");
    } else {
        con = console_by_index(0);
        if (!con) {
            *errp = g_strdup("There is no console to take a screendump from");
        }
    }
    pixman_image_t *img = con ? console_snapshot(con) : NULL;
    vireo_unlock();
    if (!img) {
        return false;
    }
    bool ok = console_save_image(img, filename, png, errp);
    pixman_image_unref(img);
    return ok;
}
