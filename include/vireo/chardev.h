/*
 * Character devices: byte streams between the host and guest devices (serial ports now,
 * monitors later). A frontend (e.g. a UART) attaches callbacks; the main loop feeds input
 * to it as it can take it.
 */
#ifndef VIREO_CHARDEV_H
#define VIREO_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Chardev Chardev;

typedef struct CharFrontend {
    /* How many bytes the frontend can take now (0: none). Called with the big lock held. */
    int (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *buf, int len);
    void *opaque;
} CharFrontend;

/*
 * Create a chardev from a -serial style spec: "stdio", "null", "none" (returns NULL with
 * *none set), "file:PATH", "chardev:ID" is not supported yet. Returns NULL after
 * error_report() on failure.
 */
Chardev *chardev_from_spec(const char *spec, bool *none);
void chardev_attach(Chardev *c, const CharFrontend *fe);
void chardev_detach(Chardev *c);
/* Write guest output; never blocks the caller for long (drops output if the fd is gone). */
void chardev_write(Chardev *c, const uint8_t *buf, size_t len);
/* Tell the chardev the frontend may accept input again (re-arms polling). */
void chardev_accept_input(Chardev *c);
void chardev_close(Chardev *c);
/* Restore terminal settings changed for stdio (also done at exit). */
void chardev_restore_tty(void);

#endif
