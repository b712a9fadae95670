/* The VNC server's internals (ui/vnc*.c). */
#ifndef VIREO_UI_VNC_H
#define VIREO_UI_VNC_H

#include <glib.h>
#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>
#include "vireo/input.h"

/* RFB encodings (RFC 6143 7.7, 7.8; QEMU's pseudo-encodings) */
enum {
    ENC_RAW = 0,
    ENC_COPYRECT = 1,
    ENC_HEXTILE = 5,
    ENC_ZLIB = 6,
    ENC_TIGHT = 7,
    ENC_ZRLE = 16,
    ENC_DESKTOPSIZE = -223,
    ENC_LASTRECT = -224,
    ENC_CURSOR = -239,
    ENC_POINTER_TYPE_CHANGE = -257,
    ENC_QEMU_EXT_KEY = -258,
    ENC_LED_STATE = -261,
    ENC_EXT_DESKTOPSIZE = -308,
};

typedef struct VncPixelFormat {
    uint8_t bpp, depth, big_endian, true_colour;
    uint16_t rmax, gmax, bmax;
    uint8_t rshift, gshift, bshift;
} VncPixelFormat;

/* One client's encoder state: its pixel format and its zlib streams. */
typedef struct VncEncoder {
    VncPixelFormat pf;
    int bytes_pp; /* 1, 2, 4 */
    int cpixel;   /* ZRLE's compressed pixel size */
    bool native;  /* pf is x8r8g8b8 little endian: pixels are copied as they are */
    z_stream zlib, zrle;
    bool zlib_on, zrle_on;
    z_stream tight; /* Tight's stream 0 (the only one Vireo uses) */
    bool tight_on;
    int zlib_level;
    uint64_t bytes_sent;
} VncEncoder;

void vnc_encoder_init(VncEncoder *e);
void vnc_encoder_set_format(VncEncoder *e, const VncPixelFormat *pf);
void vnc_encoder_free(VncEncoder *e);
/* The server's own pixel format (what ServerInit announces). */
void vnc_native_format(VncPixelFormat *pf);
/* Append rectangle x,y,w,h of fb in encoding enc (RAW, HEXTILE, ZLIB, TIGHT, ZRLE), headers
 * included; returns how many rectangles that took (Tight cuts large ones). */
int vnc_encode_rect(VncEncoder *e, GByteArray *out, pixman_image_t *fb, int x, int y, int w, int h,
                     int enc);
/* A pixel in the client's format, appended. */
void vnc_put_pixel(VncEncoder *e, GByteArray *out, uint32_t xrgb);

void vnc_put_u8(GByteArray *b, uint8_t v);
void vnc_put_u16(GByteArray *b, uint16_t v);
void vnc_put_u32(GByteArray *b, uint32_t v);
void vnc_put_rect_header(GByteArray *b, int x, int y, int w, int h, int32_t enc);

/* DES for VNC authentication (ui/vnc-des.c). */
void vnc_des_encrypt(const uint8_t key[8], const uint8_t in[8], uint8_t out[8]);
void vnc_auth_response(const char *password, const uint8_t challenge[16], uint8_t out[16]);

/* X keysym to QKeyCode, US layout (ui/vnc-keysym.c); Q_KEY_CODE_UNMAPPED if none. */
QKeyCode vnc_keysym_to_qcode(uint32_t keysym);

#endif
