/*
 * User-creatable objects (-object) and the entropy backends (backends/object.c, backends/rng.c;
 * docs/virtio.md). QEMU 7.2's `-object TYPE,id=ID[,prop=value...]` and its JSON form: only the
 * types Vireo has (rng-builtin: the host's getrandom(); rng-random: a file, /dev/urandom by
 * default), checked at parse time with QEMU's messages and created before the devices, so a
 * device finds its backend by id (`virtio-rng-pci,rng=ID`).
 */
#ifndef VIREO_RNG_H
#define VIREO_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- -object ---- */

/*
 * Check one -object argument (key=value with the implied key qom-type, or JSON) and keep it
 * for objects_create_all(). 0, 1 when it asked for help (printed: exit 0), or -1 after
 * printing QEMU's error with `loc`.
 */
int object_parse(const char *arg, const char *loc);
/* Create every -object in order; -1 after printing the error (exit 1). */
int objects_create_all(void);
/* Destroy them (process end). */
void objects_destroy_all(void);

/* ---- entropy backends ---- */

typedef struct RngBackend RngBackend;

/* The backend with this id (-object ...,id=ID), or NULL. */
RngBackend *rng_backend_find(const char *id);
/* A backend of the device's own (QEMU's "default-backend": an rng-builtin). */
RngBackend *rng_backend_new_builtin(void);
void rng_backend_unref(RngBackend *b);
void rng_backend_ref(RngBackend *b);
/*
 * Read up to len bytes of entropy into buf now. Returns the bytes read (0: none available
 * now; rng_backend_wait() tells when), never blocks.
 */
size_t rng_backend_read(RngBackend *b, void *buf, size_t len);
/*
 * Call cb(opaque) once from the main loop (without the big lock) when the backend may have
 * entropy again; replaces an earlier wait. rng_backend_cancel() drops it.
 */
void rng_backend_wait(RngBackend *b, void (*cb)(void *opaque), void *opaque);
void rng_backend_cancel(RngBackend *b);

#endif
