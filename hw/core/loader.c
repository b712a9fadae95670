/* The loaders' blobs, rewritten at machine reset, and firmware file lookup
 * (include/vireo/loader.h). */
#include <stdbool.h>
#include <string.h>
#include <glib.h>
#include "vireo/loader.h"
#include "vireo/memory.h"

typedef struct Blob {
    uint64_t gpa;
    GByteArray *data;
} Blob;

static GArray *blobs; /* of Blob, in recording order */
static bool recording;

void loader_record_begin(void)
{
    loader_free();
    blobs = g_array_new(FALSE, FALSE, sizeof(Blob));
    recording = true;
}

void loader_record_end(void)
{
    recording = false;
}

void loader_note_write(uint64_t gpa, const void *buf, uint64_t len)
{
    if (!recording || !blobs || !len) {
        return;
    }
    if (blobs->len) {
        Blob *last = &g_array_index(blobs, Blob, blobs->len - 1);
        if (last->gpa + last->data->len == gpa) {
            g_byte_array_append(last->data, buf, (guint)len);
            return;
        }
    }
    Blob b = {.gpa = gpa, .data = g_byte_array_sized_new((guint)len)};
    g_byte_array_append(b.data, buf, (guint)len);
    g_array_append_val(blobs, b);
}

void loader_record_range(uint64_t gpa, uint64_t len)
{
    void *h = gpa_to_hva(gpa, len);
    if (h) {
        bool was = recording;
        recording = true;
        loader_note_write(gpa, h, len);
        recording = was;
    }
}

uint64_t loader_reset(void)
{
    uint64_t total = 0;
    for (guint i = 0; blobs && i < blobs->len; i++) {
        Blob *b = &g_array_index(blobs, Blob, i);
        if (guest_write(b->gpa, b->data->data, b->data->len) == 0) {
            total += b->data->len;
        }
    }
    return total;
}

void loader_free(void)
{
    for (guint i = 0; blobs && i < blobs->len; i++) {
        g_byte_array_free(g_array_index(blobs, Blob, i).data, TRUE);
    }
    if (blobs) {
        g_array_free(blobs, TRUE);
        blobs = NULL;
    }
    recording = false;
}

char *firmware_find(const char *name)
{
    /* A bare name is looked up where Debian's QEMU looks (qemu-system-x86_64 -L help) */
    static const char *const dirs[] = {"/usr/share/qemu/", "/usr/share/seabios/",
                                       "/usr/lib/ipxe/qemu/"};
    if (g_file_test(name, G_FILE_TEST_IS_REGULAR)) {
        return g_strdup(name);
    }
    for (size_t i = 0; !strchr(name, '/') && i < G_N_ELEMENTS(dirs); i++) {
        char *path = g_strconcat(dirs[i], name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            return path;
        }
        g_free(path);
    }
    return NULL;
}
