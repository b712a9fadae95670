/*
 * qemu-img's --image-opts (an image given as an option string, "driver=qcow2,file.filename=x")
 * and --object (user-creatable objects: secrets are checked as QEMU 7.2 does; the other types
 * qemu-img knows are accepted, none of them is used by Vireo's formats).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/block.h"
#include "vireo/block-qcow2.h"
#include "vireo/error.h"
#include "vireo/qjson.h"
#include "qemu-img-cmds.h"
#include "tools.h"

bool img_image_opts;
bool img_force_share;

BlockDriverState *img_open_plain(const char *filename, const char *fmt, int flags)
{
    char *err = NULL;
    if (img_force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    if (fmt && !bdrv_find_format(fmt)) {
        error_report("Unknown driver '%s'", fmt);
        return NULL;
    }
    BlockDriverState *bs = tool_open(filename, fmt, flags, &err);
    if (!bs) {
        error_report("Could not open '%s': %s", filename, err);
        g_free(err);
    }
    return bs;
}

BlockDriverState *img_open(const char *filename, const char *fmt, int flags)
{
    if (!img_image_opts) {
        return img_open_plain(filename, fmt, flags);
    }
    if (fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return NULL;
    }
    if (img_force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    GPtrArray *kv = tool_kv_parse(filename, "file");
    QJ *opts = qj_object();
    for (guint i = 0; i < kv->len; i++) {
        KeyVal *e = g_ptr_array_index(kv, i);
        qj_set_str(opts, e->key, e->val); /* the last one wins */
    }
    g_ptr_array_unref(kv);
    char *err = NULL;
    BlockDriverState *bs = tool_open_opts(NULL, opts, flags, &err);
    if (!bs) {
        error_report("Could not open '%s': %s", filename, err);
        g_free(err);
    }
    return bs;
}

int img_object_add(const char *spec)
{
    return tool_object_add(spec);
}

void img_objects_free(void)
{
    tool_objects_free();
}

int img_shared_option(int c, const char *arg)
{
    if (c == OPT_IMG_IMAGE_OPTS) {
        img_image_opts = true;
        return 0;
    }
    return img_object_add(arg);
}

/* ---- -o help ---- */

typedef struct HelpOpt {
    const char *name, *type, *help;
} HelpOpt;

/* QEMU 7.2's option lists as its help prints them (encryption options included: Vireo refuses
 * encrypted images when they are used). */
static const HelpOpt qcow2_create_help[] = {
    {"backing_file", "str", "File name of a base image"},
    {"backing_fmt", "str", "Image format of the base image"},
    {"cluster_size", "size", "qcow2 cluster size"},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"compression_type", "str", "Compression method used for image cluster compression"},
    {"data_file", "str", "File name of an external data file"},
    {"data_file_raw", "bool (on/off)", "The external data file must stay valid as a raw image"},
    {"encrypt.cipher-alg", "str", "Name of encryption cipher algorithm"},
    {"encrypt.cipher-mode", "str", "Name of encryption cipher mode"},
    {"encrypt.format", "str", "Encrypt the image, format choices: 'aes', 'luks'"},
    {"encrypt.hash-alg", "str", "Name of encryption hash algorithm"},
    {"encrypt.iter-time", "num", "Time to spend in PBKDF in milliseconds"},
    {"encrypt.ivgen-alg", "str", "Name of IV generator algorithm"},
    {"encrypt.ivgen-hash-alg", "str", "Name of IV generator hash algorithm"},
    {"encrypt.key-secret", "str", "ID of secret providing qcow AES key or LUKS passphrase"},
    {"encryption", "bool (on/off)",
     "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)"},
    {"extended_l2", "bool (on/off)", "Extended L2 tables"},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)"},
    {"refcount_bits", "num", "Width of a reference count entry in bits"},
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};
static const HelpOpt raw_create_help[] = {
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};
static const HelpOpt vdi_create_help[] = {
    {"size", "size", "Virtual disk size"},
    {"static", "bool (on/off)", "VDI static (pre-allocated) image"},
    {NULL, NULL, NULL},
};
static const HelpOpt vpc_create_help[] = {
    {"size", "size", "Virtual disk size"},
    {"subformat", "str",
     "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} "},
    {"force_size", "bool (on/off)",
     "Force disk size calculation to use the actual size specified, rather than using the "
     "nearest CHS-based calculation"},
    {NULL, NULL, NULL},
};
static const HelpOpt qcow_create_help[] = {
    {"backing_file", "str", "File name of a base image"},
    {"backing_fmt", "str", "Format of the backing image"},
    {"encrypt.format", "str", "Encrypt the image, format choices: 'aes'"},
    {"encrypt.key-secret", "str", "ID of the secret that provides the AES encryption key"},
    {"encryption", "bool (on/off)",
     "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)"},
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};
static const HelpOpt file_create_help[] = {
    {"size", "size", "Virtual disk size"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, falloc, full)"},
    {"nocow", "bool (on/off)", "Turn off copy-on-write (valid only on btrfs)"},
    {"extent_size_hint", "size", "Extent size hint for the image file, 0 to disable"},
    {NULL, NULL, NULL},
};
static const HelpOpt qcow2_amend_help[] = {
    {"backing_file", "str", "File name of a base image"},
    {"backing_fmt", "str", "Image format of the base image"},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"data_file", "str", "File name of an external data file"},
    {"data_file_raw", "bool (on/off)", "The external data file must stay valid as a raw image"},
    {"encrypt.iter-time", "num", "Time to spend in PBKDF in milliseconds"},
    {"encrypt.keyslot", "num", "Select a single keyslot to modify explicitly"},
    {"encrypt.new-secret", "str",
     "New secret to set in the matching keyslots. Empty string to erase"},
    {"encrypt.old-secret", "str", "Select all keyslots that match this password"},
    {"encrypt.state", "str", "Select new state of affected keyslots (active/inactive)"},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates"},
    {"refcount_bits", "num", "Width of a reference count entry in bits"},
    {"size", "size", "Virtual disk size"},
    {NULL, NULL, NULL},
};

bool img_has_help_option(const char *options)
{
    const char *p = options;
    while (p && *p) {
        GString *v = g_string_new(NULL);
        while (*p && (*p != ',' || p[1] == ',')) {
            if (*p == ',') {
                p++; /* ",," is one comma */
            }
            g_string_append_c(v, *p++);
        }
        if (*p == ',') {
            p++;
        }
        bool help = qopts_is_help(v->str);
        g_string_free(v, TRUE);
        if (help) {
            return true;
        }
    }
    return false;
}

static gint help_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(const HelpOpt *const *)a)->name, (*(const HelpOpt *const *)b)->name);
}

/* QEMU's qemu_opts_print_help(): sorted by name, "  name=<type>" padded to 24, " - help". */
static void print_help_lists(const HelpOpt *a, const HelpOpt *b)
{
    GPtrArray *all = g_ptr_array_new();
    for (const HelpOpt *o = a; o && o->name; o++) {
        g_ptr_array_add(all, (gpointer)o);
    }
    for (const HelpOpt *o = b; o && o->name; o++) {
        bool dup = false; /* the format's own option wins, as in qemu_opts_append() */
        for (const HelpOpt *p = a; p && p->name && !dup; p++) {
            dup = !strcmp(p->name, o->name);
        }
        if (!dup) {
            g_ptr_array_add(all, (gpointer)o);
        }
    }
    g_ptr_array_sort(all, help_cmp);
    for (guint i = 0; i < all->len; i++) {
        const HelpOpt *o = g_ptr_array_index(all, i);
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "  %s=<%s>", o->name, o->type);
        while (s->len < 24) {
            g_string_append_c(s, ' ');
        }
        printf("%s - %s\n", s->str, o->help);
        g_string_free(s, TRUE);
    }
    g_ptr_array_free(all, TRUE);
}

int img_print_create_help(const char *fmt, const char *filename)
{
    const BlockDriver *drv = bdrv_find_format(fmt);
    if (!drv || drv->is_protocol) {
        if (!drv || strcmp(fmt, "file")) {
            error_report("Unknown file format '%s'", fmt);
            return 1;
        }
    }
    const HelpOpt *list = !strcmp(fmt, "qcow2") ? qcow2_create_help
                          : !strcmp(fmt, "raw") ? raw_create_help
                          : !strcmp(fmt, "vdi") ? vdi_create_help
                          : !strcmp(fmt, "qcow") ? qcow_create_help
                          : !strcmp(fmt, "vpc") ? vpc_create_help
                                                : file_create_help;
    if (filename) {
        printf("Supported options:\n");
        print_help_lists(list, file_create_help);
    } else {
        printf("Supported %s options:\n", fmt);
        print_help_lists(list, NULL);
        printf("\nThe protocol level may support further options.\n"
               "Specify the target filename to include those options.\n");
    }
    return 0;
}

int img_print_amend_help(const char *fmt)
{
    const BlockDriver *drv = bdrv_find_format(fmt);
    if (!drv) {
        error_report("Unknown file format '%s'", fmt);
        return 1;
    }
    if (strcmp(fmt, "qcow2")) {
        error_report("Format driver '%s' does not support option amendment", fmt);
        return 1;
    }
    printf("Amend options for '%s':\n", fmt);
    print_help_lists(qcow2_amend_help, NULL);
    return 0;
}
