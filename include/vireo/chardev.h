/*
 * Character devices: byte streams between the host and frontends (serial ports, monitors).
 *
 * Backends (QEMU's -chardev names): null, stdio, file, pipe, pty, socket (unix/tcp,
 * server/client, wait, reconnect, an inherited fd), ringbuf, vc (no display: like null);
 * mux=on puts a multiplexer in front of a backend so several frontends share it, switched
 * with Ctrl-A c (Ctrl-A x quits, Ctrl-A h helps), as QEMU's mux chardev.
 *
 * Threads: chardev_write() may be called from any thread (vCPU threads write serial output
 * with the big lock held); everything else runs on the main thread. Input is read by the glib
 * main loop only when the frontend has room, so a slow frontend throttles the host side.
 * Frontend callbacks run with the big lock held unless CharFrontend.unlocked is set (monitors,
 * which must be able to stop the vCPUs).
 */
#ifndef VIREO_CHARDEV_H
#define VIREO_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Chardev Chardev;

typedef enum {
    CHR_EVENT_OPENED,  /* the backend is connected (socket client came, or always-open) */
    CHR_EVENT_CLOSED,  /* the peer went away */
    CHR_EVENT_MUX_IN,  /* a mux gave this frontend the focus */
    CHR_EVENT_MUX_OUT, /* ... and took it away */
} ChrEvent;

typedef struct CharFrontend {
    /* How many bytes the frontend can take now (0: none). */
    int (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *buf, int len);
    void *opaque;
    void (*event)(void *opaque, ChrEvent event); /* may be NULL */
    bool unlocked;                               /* call these without the big lock */
} CharFrontend;

/*
 * -chardev BACKEND,id=ID,...: create and register. Returns NULL and sets *errp (QEMU's
 * message, without location; g_free it) on failure.
 */
Chardev *chardev_new_from_opts(const char *arg, char **errp);
/*
 * The legacy one-string form used by -serial, -monitor, -qmp: "null", "stdio", "vc", "pty",
 * "file:PATH", "pipe:PATH", "unix:PATH[,opts]", "tcp:[HOST]:PORT[,opts]", "ringbuf". The
 * chardev is registered under label; mux=true adds a multiplexer ("mon:" specs).
 */
Chardev *chardev_new_legacy(const char *label, const char *spec, bool mux, char **errp);
Chardev *chardev_find(const char *label);
const char *chardev_label(const Chardev *c);
bool chardev_is_mux(const Chardev *c);

/*
 * Attach a frontend. A mux takes up to four, focus on the last attached; other chardevs take
 * one. Returns false with *errp = "Device 'ID' is in use" when full.
 */
bool chardev_attach(Chardev *c, const CharFrontend *fe, char **errp);
/* Detach the frontend whose opaque this is. */
void chardev_detach(Chardev *c, void *opaque);
/* Tell frontends the backend is open (done at attach, or later for muxes: call once all are
 * attached, as QEMU does after machine creation). */
void chardev_muxes_realized(void);

/* Write output. From vCPU threads it may wait for a slow reader; from the main thread it
 * never blocks (buffers, and drops past a large limit). Output to a socket with no peer is
 * dropped. */
void chardev_write(Chardev *c, const uint8_t *buf, size_t len);
/* Tell the chardev the frontend may accept input again (re-arms polling). */
void chardev_accept_input(Chardev *c);
/* Drop a frontend's peer (e.g. the monitor saw garbage): sockets close the connection. */
void chardev_disconnect(Chardev *c);

/* query-chardev / info chardev: call fn for every chardev in creation order. */
typedef void ChardevInfoFn(void *opaque, const char *label, const char *filename,
                           bool frontend_open);
void chardev_foreach(ChardevInfoFn *fn, void *opaque);

/* ringbuf-write / ringbuf-read. Errors as QEMU words them. */
bool chardev_ringbuf_write(const char *label, const uint8_t *data, size_t len, char **errp);
/* Returns the bytes read (at most size; *out_len set) or NULL with *errp. */
uint8_t *chardev_ringbuf_read(const char *label, int64_t size, size_t *out_len, char **errp);

/* Wait for the first client of every socket server with wait=on (QEMU does this at startup,
 * printing "QEMU waiting for connection on: ..."). Returns false on error (*errp set). */
bool chardev_wait_for_clients(char **errp);
/* Close every chardev (at exit). */
void chardev_close_all(void);
/* Restore terminal settings changed for stdio (also done at exit). */
void chardev_restore_tty(void);
/* Called by the mux on Ctrl-A x (set by main: quit as QMP quit does). */
extern void (*chardev_quit_hook)(void);

#endif
