/*
 * VNC framebuffer encodings (RFC 6143 7.7): Raw, Hextile, zlib and ZRLE, from the server's
 * x8r8g8b8 copy of the screen into the client's pixel format. Each client has its own zlib
 * streams (the protocol keeps one stream per encoding for the whole connection).
 */
#include <string.h>
#include "vnc.h"

void vnc_put_u8(GByteArray *b, uint8_t v)
{
    g_byte_array_append(b, &v, 1);
}

void vnc_put_u16(GByteArray *b, uint16_t v)
{
    uint8_t be[2] = {v >> 8, v};
    g_byte_array_append(b, be, 2);
}

void vnc_put_u32(GByteArray *b, uint32_t v)
{
    uint8_t be[4] = {v >> 24, v >> 16, v >> 8, v};
    g_byte_array_append(b, be, 4);
}

void vnc_put_rect_header(GByteArray *b, int x, int y, int w, int h, int32_t enc)
{
    vnc_put_u16(b, (uint16_t)x);
    vnc_put_u16(b, (uint16_t)y);
    vnc_put_u16(b, (uint16_t)w);
    vnc_put_u16(b, (uint16_t)h);
    vnc_put_u32(b, (uint32_t)enc);
}

void vnc_native_format(VncPixelFormat *pf)
{
    *pf = (VncPixelFormat){.bpp = 32,
                           .depth = 24,
                           .big_endian = 0,
                           .true_colour = 1,
                           .rmax = 255,
                           .gmax = 255,
                           .bmax = 255,
                           .rshift = 16,
                           .gshift = 8,
                           .bshift = 0};
}

void vnc_encoder_init(VncEncoder *e)
{
    memset(e, 0, sizeof(*e));
    VncPixelFormat pf;
    vnc_native_format(&pf);
    vnc_encoder_set_format(e, &pf);
    e->zlib_level = 6;
}

void vnc_encoder_set_format(VncEncoder *e, const VncPixelFormat *pf)
{
    e->pf = *pf;
    e->bytes_pp = pf->bpp / 8;
    e->native = pf->bpp == 32 && pf->true_colour && !pf->big_endian && pf->rmax == 255 &&
                pf->gmax == 255 && pf->bmax == 255 && pf->rshift == 16 && pf->gshift == 8 &&
                pf->bshift == 0;
    e->cpixel = e->bytes_pp;
    if (pf->bpp == 32 && pf->depth <= 24) {
        uint32_t all = (uint32_t)pf->rmax << pf->rshift | (uint32_t)pf->gmax << pf->gshift |
                       (uint32_t)pf->bmax << pf->bshift;
        if (all < (1u << 24) || (all & 0xff) == 0) {
            e->cpixel = 3;
        }
    }
}

void vnc_encoder_free(VncEncoder *e)
{
    if (e->zlib_on) {
        deflateEnd(&e->zlib);
    }
    if (e->zrle_on) {
        deflateEnd(&e->zrle);
    }
    if (e->tight_on) {
        deflateEnd(&e->tight);
    }
    e->zlib_on = e->zrle_on = e->tight_on = false;
}

static uint32_t convert(const VncEncoder *e, uint32_t xrgb)
{
    const VncPixelFormat *pf = &e->pf;
    uint32_t r = (xrgb >> 16) & 0xff, g = (xrgb >> 8) & 0xff, b = xrgb & 0xff;
    return (r * pf->rmax + 127) / 255 << pf->rshift | (g * pf->gmax + 127) / 255 << pf->gshift |
           (b * pf->bmax + 127) / 255 << pf->bshift;
}

/* The client's bytes for one pixel; returns how many (bytes_pp). */
static int pixel_bytes(const VncEncoder *e, uint32_t xrgb, uint8_t out[4])
{
    uint32_t v = e->native ? (xrgb & 0xffffff) : convert(e, xrgb);
    int n = e->bytes_pp;
    for (int i = 0; i < n; i++) {
        int shift = e->pf.big_endian ? 8 * (n - 1 - i) : 8 * i;
        out[i] = (uint8_t)(v >> shift);
    }
    return n;
}

void vnc_put_pixel(VncEncoder *e, GByteArray *out, uint32_t xrgb)
{
    uint8_t b[4];
    g_byte_array_append(out, b, pixel_bytes(e, xrgb, b));
}

/* ZRLE's CPIXEL: 3 bytes when the colour lives in three of the four. */
static void put_cpixel(VncEncoder *e, GByteArray *out, uint32_t xrgb)
{
    if (e->cpixel == 4 || e->cpixel == e->bytes_pp) {
        vnc_put_pixel(e, out, xrgb);
        return;
    }
    uint8_t b[4];
    pixel_bytes(e, xrgb, b);
    uint32_t v = e->native ? (xrgb & 0xffffff) : convert(e, xrgb);
    bool low = v < (1u << 24) &&
               ((uint32_t)e->pf.rmax << e->pf.rshift | (uint32_t)e->pf.gmax << e->pf.gshift |
                (uint32_t)e->pf.bmax << e->pf.bshift) < (1u << 24);
    /* the three bytes holding the colour, in the client's byte order */
    const uint8_t *p;
    if (low) {
        p = e->pf.big_endian ? b + 1 : b;
    } else {
        p = e->pf.big_endian ? b : b + 1;
    }
    g_byte_array_append(out, p, 3);
}

static inline uint32_t px_at(pixman_image_t *fb, int x, int y)
{
    const uint32_t *d = pixman_image_get_data(fb);
    int stride = pixman_image_get_stride(fb) / 4;
    return d[(size_t)y * stride + x] & 0xffffff;
}

static void put_raw_pixels(VncEncoder *e, GByteArray *out, pixman_image_t *fb, int x, int y, int w,
                           int h)
{
    if (e->native) {
        const uint32_t *d = pixman_image_get_data(fb);
        int stride = pixman_image_get_stride(fb) / 4;
        for (int j = 0; j < h; j++) {
            g_byte_array_append(out, (const uint8_t *)(d + (size_t)(y + j) * stride + x),
                                (guint)w * 4);
        }
        return;
    }
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            vnc_put_pixel(e, out, px_at(fb, x + i, y + j));
        }
    }
}

/* ---- Hextile -------------------------------------------------------------------------- */

enum { HT_RAW = 1, HT_BG = 2, HT_FG = 4, HT_ANY = 8 };

static void hextile(VncEncoder *e, GByteArray *out, pixman_image_t *fb, int x, int y, int w, int h)
{
    bool have_bg = false;
    uint32_t last_bg = 0;
    for (int ty = y; ty < y + h; ty += 16) {
        int th = MIN(16, y + h - ty);
        for (int tx = x; tx < x + w; tx += 16) {
            int tw = MIN(16, x + w - tx);
            uint32_t c[2] = {px_at(fb, tx, ty), 0};
            int cnt[2] = {0, 0}, n = 1;
            bool many = false;
            for (int j = 0; j < th && !many; j++) {
                for (int i = 0; i < tw; i++) {
                    uint32_t p = px_at(fb, tx + i, ty + j);
                    if (p == c[0]) {
                        cnt[0]++;
                    } else if (n == 2 && p == c[1]) {
                        cnt[1]++;
                    } else if (n == 1) {
                        c[1] = p, cnt[1] = 1, n = 2;
                    } else {
                        many = true;
                        break;
                    }
                }
            }
            if (many) {
                vnc_put_u8(out, HT_RAW);
                put_raw_pixels(e, out, fb, tx, ty, tw, th);
                have_bg = false;
                continue;
            }
            int bgi = n == 2 && cnt[1] > cnt[0] ? 1 : 0;
            uint32_t bg = c[bgi], fg = c[1 - bgi];
            uint8_t sub = 0;
            if (!have_bg || bg != last_bg) {
                sub |= HT_BG;
            }
            if (n == 1) {
                vnc_put_u8(out, sub);
                if (sub & HT_BG) {
                    vnc_put_pixel(e, out, bg);
                }
                have_bg = true, last_bg = bg;
                continue;
            }
            /* two colours: runs of the foreground, row by row */
            uint8_t rects[256][2];
            int nr = 0;
            for (int j = 0; j < th && nr < 256; j++) {
                for (int i = 0; i < tw && nr < 256;) {
                    if (px_at(fb, tx + i, ty + j) != fg) {
                        i++;
                        continue;
                    }
                    int s = i;
                    while (i < tw && px_at(fb, tx + i, ty + j) == fg) {
                        i++;
                    }
                    rects[nr][0] = (uint8_t)(s << 4 | j);
                    rects[nr][1] = (uint8_t)((i - s - 1) << 4);
                    nr++;
                }
            }
            size_t size = 1 + 2 * e->bytes_pp + 1 + 2 * (size_t)nr;
            if (nr >= 255 || size >= 1 + (size_t)tw * th * e->bytes_pp) {
                vnc_put_u8(out, HT_RAW);
                put_raw_pixels(e, out, fb, tx, ty, tw, th);
                have_bg = false;
                continue;
            }
            vnc_put_u8(out, sub | HT_FG | HT_ANY);
            if (sub & HT_BG) {
                vnc_put_pixel(e, out, bg);
            }
            vnc_put_pixel(e, out, fg);
            vnc_put_u8(out, (uint8_t)nr);
            g_byte_array_append(out, &rects[0][0], (guint)nr * 2);
            have_bg = true, last_bg = bg;
        }
    }
}

/* ---- zlib streams --------------------------------------------------------------------- */

/* in, compressed onto the stream and flushed (Z_SYNC_FLUSH), appended to out. */
static void deflate_raw(z_stream *z, GByteArray *out, const uint8_t *in, size_t len)
{
    z->next_in = (uint8_t *)in;
    z->avail_in = (uInt)len;
    do {
        uint8_t buf[65536];
        z->next_out = buf;
        z->avail_out = sizeof(buf);
        deflate(z, Z_SYNC_FLUSH);
        g_byte_array_append(out, buf, (guint)(sizeof(buf) - z->avail_out));
    } while (z->avail_in || z->avail_out == 0);
}

/* The same after a 4-byte big-endian length (zlib and ZRLE encodings). */
static void deflate_into(z_stream *z, GByteArray *out, const GByteArray *in)
{
    size_t len_pos = out->len;
    vnc_put_u32(out, 0);
    deflate_raw(z, out, in->data, in->len);
    uint32_t n = out->len - len_pos - 4;
    out->data[len_pos] = n >> 24, out->data[len_pos + 1] = n >> 16;
    out->data[len_pos + 2] = n >> 8, out->data[len_pos + 3] = n;
}

static z_stream *stream(VncEncoder *e, bool zrle)
{
    z_stream *z = zrle ? &e->zrle : &e->zlib;
    bool *on = zrle ? &e->zrle_on : &e->zlib_on;
    if (!*on) {
        memset(z, 0, sizeof(*z));
        deflateInit(z, e->zlib_level);
        *on = true;
    }
    return z;
}

/* ---- Tight ------------------------------------------------------------------------------ */

/*
 * Tight (the TightVNC protocol's encoding 7) without JPEG: a rectangle of one colour is a fill
 * (control 0x80 and one TPIXEL); any other is basic compression with the copy filter on
 * stream 0: its TPIXELs as they are when under 12 bytes, else a compact length and the zlib
 * data (the stream persists across rectangles; the control byte's reset bit tells the client
 * when Vireo started it afresh). TPIXEL is R, G, B when the client's format is 32-bit depth 24
 * with 8-bit channels, else the client's pixel. Rectangles are cut to at most 2048 pixels wide
 * and 65536 pixels, the limits clients decode.
 */
#define TIGHT_MAX_WIDTH 2048
#define TIGHT_MAX_AREA  65536

static bool tight_888(const VncEncoder *e)
{
    const VncPixelFormat *pf = &e->pf;
    return pf->bpp == 32 && pf->depth == 24 && pf->true_colour && pf->rmax == 255 &&
           pf->gmax == 255 && pf->bmax == 255 && pf->rshift % 8 == 0 && pf->gshift % 8 == 0 &&
           pf->bshift % 8 == 0;
}

static void put_tpixel(VncEncoder *e, GByteArray *out, uint32_t xrgb)
{
    if (tight_888(e)) {
        uint8_t rgb[3] = {(uint8_t)(xrgb >> 16), (uint8_t)(xrgb >> 8), (uint8_t)xrgb};
        g_byte_array_append(out, rgb, 3);
    } else {
        vnc_put_pixel(e, out, xrgb);
    }
}

static void put_compact_len(GByteArray *b, size_t n)
{
    if (n < 0x80) {
        vnc_put_u8(b, (uint8_t)n);
    } else if (n < 0x4000) {
        vnc_put_u8(b, (uint8_t)(n & 0x7f) | 0x80);
        vnc_put_u8(b, (uint8_t)(n >> 7));
    } else {
        vnc_put_u8(b, (uint8_t)(n & 0x7f) | 0x80);
        vnc_put_u8(b, (uint8_t)((n >> 7) & 0x7f) | 0x80);
        vnc_put_u8(b, (uint8_t)(n >> 14));
    }
}

static void tight_rect(VncEncoder *e, GByteArray *out, pixman_image_t *fb, int x, int y, int w,
                       int h)
{
    vnc_put_rect_header(out, x, y, w, h, ENC_TIGHT);
    uint32_t first = px_at(fb, x, y);
    bool solid = true;
    for (int j = 0; j < h && solid; j++) {
        for (int i = 0; i < w; i++) {
            if ((px_at(fb, x + i, y + j) ^ first) & 0xffffff) {
                solid = false;
                break;
            }
        }
    }
    if (solid) {
        vnc_put_u8(out, 0x80);
        put_tpixel(e, out, first);
        return;
    }
    uint8_t control = 0x00; /* basic, stream 0, no filter byte (copy) */
    if (!e->tight_on) {
        memset(&e->tight, 0, sizeof(e->tight));
        deflateInit(&e->tight, e->zlib_level);
        e->tight_on = true;
        control |= 0x01; /* the client resets its stream 0 */
    }
    vnc_put_u8(out, control);
    GByteArray *pix = g_byte_array_sized_new((guint)w * h * 4);
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            put_tpixel(e, pix, px_at(fb, x + i, y + j));
        }
    }
    if (pix->len < 12) {
        g_byte_array_append(out, pix->data, pix->len);
    } else {
        GByteArray *z = g_byte_array_new();
        deflate_raw(&e->tight, z, pix->data, pix->len);
        put_compact_len(out, z->len);
        g_byte_array_append(out, z->data, z->len);
        g_byte_array_free(z, TRUE);
    }
    g_byte_array_free(pix, TRUE);
}

static int tight(VncEncoder *e, GByteArray *out, pixman_image_t *fb, int x, int y, int w, int h)
{
    int n = 0;
    for (int cx = x; cx < x + w; cx += TIGHT_MAX_WIDTH) {
        int cw = MIN(TIGHT_MAX_WIDTH, x + w - cx);
        int rows = MAX(1, TIGHT_MAX_AREA / cw);
        for (int cy = y; cy < y + h; cy += rows) {
            tight_rect(e, out, fb, cx, cy, cw, MIN(rows, y + h - cy));
            n++;
        }
    }
    return n;
}

/* ---- ZRLE ----------------------------------------------------------------------------- */

static void put_run_length(GByteArray *b, int len)
{
    len -= 1;
    while (len >= 255) {
        vnc_put_u8(b, 255);
        len -= 255;
    }
    vnc_put_u8(b, (uint8_t)len);
}

static void zrle_tile(VncEncoder *e, GByteArray *b, pixman_image_t *fb, int tx, int ty, int tw,
                      int th)
{
    uint32_t pal[127];
    int np = 0, runs = 0, single_runs = 0;
    uint32_t prev = 0;
    int run = 0;
    for (int j = 0; j < th; j++) {
        for (int i = 0; i < tw; i++) {
            uint32_t p = px_at(fb, tx + i, ty + j);
            if (np <= 127) {
                int k;
                for (k = 0; k < np && pal[k] != p; k++) {
                }
                if (k == np) {
                    if (np < 127) {
                        pal[np] = p;
                    }
                    np++;
                }
            }
            if (run && p == prev) {
                run++;
            } else {
                if (run) {
                    runs++;
                    single_runs += run == 1;
                }
                prev = p, run = 1;
            }
        }
    }
    runs++;
    single_runs += run == 1;
    int cp = e->cpixel, n = tw * th;
    if (np == 1) {
        vnc_put_u8(b, 1);
        put_cpixel(e, b, pal[0]);
        return;
    }
    size_t raw = (size_t)n * cp;
    size_t plain_rle = (size_t)runs * (cp + 1) + n / 255;
    size_t packed = SIZE_MAX, pal_rle = SIZE_MAX;
    int bits = np <= 2 ? 1 : np <= 4 ? 2 : 4;
    if (np <= 16) {
        packed = (size_t)np * cp + (size_t)((tw * bits + 7) / 8) * th;
    }
    if (np <= 127) {
        pal_rle = (size_t)np * cp + (size_t)(runs - single_runs) * 2 + single_runs + n / 255;
    }
    size_t best = MIN(MIN(raw, plain_rle), MIN(packed, pal_rle));
    if (best == raw) {
        vnc_put_u8(b, 0);
        for (int j = 0; j < th; j++) {
            for (int i = 0; i < tw; i++) {
                put_cpixel(e, b, px_at(fb, tx + i, ty + j));
            }
        }
        return;
    }
    if (best == packed) {
        vnc_put_u8(b, (uint8_t)np);
        for (int k = 0; k < np; k++) {
            put_cpixel(e, b, pal[k]);
        }
        for (int j = 0; j < th; j++) {
            uint8_t acc = 0;
            int nb = 0;
            for (int i = 0; i < tw; i++) {
                uint32_t p = px_at(fb, tx + i, ty + j);
                int k;
                for (k = 0; pal[k] != p; k++) {
                }
                acc = (uint8_t)(acc << bits | k);
                nb += bits;
                if (nb == 8) {
                    vnc_put_u8(b, acc);
                    acc = 0, nb = 0;
                }
            }
            if (nb) {
                vnc_put_u8(b, (uint8_t)(acc << (8 - nb)));
            }
        }
        return;
    }
    bool use_pal = best == pal_rle;
    if (use_pal) {
        vnc_put_u8(b, (uint8_t)(128 + np));
        for (int k = 0; k < np; k++) {
            put_cpixel(e, b, pal[k]);
        }
    } else {
        vnc_put_u8(b, 128);
    }
    run = 0;
    for (int idx = 0; idx <= n; idx++) {
        uint32_t p = idx < n ? px_at(fb, tx + idx % tw, ty + idx / tw) : 0;
        if (idx < n && run && p == prev) {
            run++;
            continue;
        }
        if (run) {
            if (use_pal) {
                int k;
                for (k = 0; pal[k] != prev; k++) {
                }
                if (run == 1) {
                    vnc_put_u8(b, (uint8_t)k);
                } else {
                    vnc_put_u8(b, (uint8_t)(k | 128));
                    put_run_length(b, run);
                }
            } else {
                put_cpixel(e, b, prev);
                put_run_length(b, run);
            }
        }
        prev = p, run = 1;
    }
}

/* ---- entry ---------------------------------------------------------------------------- */

int vnc_encode_rect(VncEncoder *e, GByteArray *out, pixman_image_t *fb, int x, int y, int w, int h,
                    int enc)
{
    size_t start = out->len;
    int n = 1;
    switch (enc) {
    case ENC_TIGHT:
        n = tight(e, out, fb, x, y, w, h);
        break;
    case ENC_HEXTILE:
        vnc_put_rect_header(out, x, y, w, h, ENC_HEXTILE);
        hextile(e, out, fb, x, y, w, h);
        break;
    case ENC_ZLIB: {
        vnc_put_rect_header(out, x, y, w, h, ENC_ZLIB);
        GByteArray *raw = g_byte_array_sized_new((guint)w * h * e->bytes_pp);
        put_raw_pixels(e, raw, fb, x, y, w, h);
        deflate_into(stream(e, false), out, raw);
        g_byte_array_free(raw, TRUE);
        break;
    }
    case ENC_ZRLE: {
        vnc_put_rect_header(out, x, y, w, h, ENC_ZRLE);
        GByteArray *tiles = g_byte_array_new();
        for (int ty = y; ty < y + h; ty += 64) {
            for (int tx = x; tx < x + w; tx += 64) {
                zrle_tile(e, tiles, fb, tx, ty, MIN(64, x + w - tx), MIN(64, y + h - ty));
            }
        }
        deflate_into(stream(e, true), out, tiles);
        g_byte_array_free(tiles, TRUE);
        break;
    }
    default:
        vnc_put_rect_header(out, x, y, w, h, ENC_RAW);
        put_raw_pixels(e, out, fb, x, y, w, h);
        break;
    }
    e->bytes_sent += out->len - start;
    return n;
}
