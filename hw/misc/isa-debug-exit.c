/*
 * QEMU's isa-debug-exit device: `-device isa-debug-exit[,iobase=N][,iosize=N]` (defaults
 * 0x501 and 2). Any write of value v to its ports ends the process with exit status
 * (v << 1) | 1, so a freestanding test reports success or failure without a shutdown path.
 * Reads return all ones (nothing answers, as in QEMU).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "vireo/devices.h"
#include "vireo/ioport.h"
#include "vireo/qemu-opts.h"

#define DEFAULT_IOBASE 0x501
#define DEFAULT_IOSIZE 2

/* QEMU's uint32 property parsing: any base (0x, 0 octal), "expects integer/uint32_t". */
static bool parse_u32(const char *key, const char *value, uint32_t *out, char **errp)
{
    uint64_t v;
    if (qopts_strtou64(value, 0, &v) < 0) {
        *errp = g_strdup_printf("Parameter '%s' expects integer", key);
        return false;
    }
    if (v > UINT32_MAX) {
        *errp = g_strdup_printf("Parameter '%s' expects uint32_t", key);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static bool get_props(const DeviceConfig *d, uint32_t *iobase, uint32_t *iosize, char **errp)
{
    *iobase = DEFAULT_IOBASE;
    *iosize = DEFAULT_IOSIZE;
    /* QEMU finds the bus first, then sets the properties. */
    for (int i = 0; i < d->n_props; i++) {
        if (!strcmp(d->prop_keys[i], "bus") && strcmp(d->prop_values[i], "isa.0")) {
            *errp = g_strdup_printf("Bus '%s' not found", d->prop_values[i]);
            return false;
        }
    }
    for (int i = 0; i < d->n_props; i++) {
        const char *k = d->prop_keys[i];
        if ((!strcmp(k, "iobase") && !parse_u32(k, d->prop_values[i], iobase, errp)) ||
            (!strcmp(k, "iosize") && !parse_u32(k, d->prop_values[i], iosize, errp))) {
            return false;
        }
    }
    for (int i = 0; i < d->n_props; i++) {
        const char *k = d->prop_keys[i];
        if (strcmp(k, "iobase") && strcmp(k, "iosize") && strcmp(k, "bus")) {
            *errp = g_strdup_printf("Property 'isa-debug-exit.%s' not found", k);
            return false;
        }
    }
    return true;
}

bool isa_debug_exit_check(const DeviceConfig *d, char **errp)
{
    uint32_t base, size;
    return get_props(d, &base, &size, errp);
}

void isa_debug_exit_print_help(void)
{
    printf("isa-debug-exit options:\n"
           "  iobase=<uint32>        -  (default: %u)\n"
           "  iosize=<uint32>        -  (default: %u)\n",
           DEFAULT_IOBASE, DEFAULT_IOSIZE);
}

static uint64_t debug_exit_read(void *opaque, uint64_t addr, unsigned size)
{
    return ~0ull;
}

static void debug_exit_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    exit((int)((val << 1) | 1));
}

static const IOOps debug_exit_ops = {.read = debug_exit_read, .write = debug_exit_write};

/* Ports already taken by earlier isa-debug-exit devices (QEMU lets them overlap). */
static uint8_t claimed[65536 / 8];

void isa_debug_exit_create(const DeviceConfig *d)
{
    uint32_t base, size;
    char *err = NULL;
    if (!get_props(d, &base, &size, &err)) {
        g_free(err); /* checked when the command line was parsed */
        return;
    }
    /* Ports beyond the 64 KiB I/O space are unreachable, as in QEMU. */
    uint32_t end = base >= 0x10000 ? base : (size > 0x10000 - base ? 0x10000 : base + size);
    uint32_t run = 0;
    for (uint32_t p = base; p <= end; p++) {
        bool free_port = p < end && !(claimed[p / 8] & (1u << (p % 8)));
        if (free_port) {
            claimed[p / 8] |= 1u << (p % 8);
            run++;
            continue;
        }
        if (run) {
            pio_register(p - run, run, &debug_exit_ops, NULL);
            run = 0;
        }
    }
}

void isa_debug_exit_reset(void)
{
    memset(claimed, 0, sizeof(claimed));
}
