/*
 * The drives on IDE channels (docs/ide.md): ide-hd and ide-cd as QEMU 7.2 has them (its old
 * ide-drive is gone in 7.2), with QEMU's properties, unit assignment and messages. A drive
 * plugs into a unit of ide.0/ide.1 (bus=, else ide.0; unit=, else the master if it is free,
 * else the slave) and stands on a block backend; ide-cd without drive= gets an empty one, its
 * medium changes with eject/blockdev-change-medium.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "vireo/block-backend.h"
#include "vireo/ide.h"
#include "vireo/machine.h"

#define QEMU_HW_VERSION "2.5+"

static int drive_serial = 1; /* QEMU numbers its IDE drives' serials from 1: QM00001 */

static void with_lock(void (*fn)(IDEState *, bool), IDEState *s, bool arg)
{
    bool take = !vireo_lock_held();
    if (take) {
        vireo_lock();
    }
    fn(s, arg);
    if (take) {
        vireo_unlock();
    }
}

static IDEState *unit_of(IDEDevice *d)
{
    return &d->bus->ifs[d->unit];
}

static void cd_change_media_cb(void *opaque, bool load)
{
    with_lock(ide_cd_change_media, unit_of(opaque), load);
}

static void cd_eject_request_cb(void *opaque, bool force)
{
    with_lock(ide_cd_eject_request, unit_of(opaque), force);
}

static bool cd_is_tray_open(void *opaque)
{
    return unit_of(opaque)->tray_open;
}

static bool cd_is_medium_locked(void *opaque)
{
    return unit_of(opaque)->tray_locked;
}

static void resize_unit(IDEState *s, bool unused)
{
    (void)unused;
    int64_t len = blk_getlength(s->blk);
    s->nb_sectors = len > 0 ? (uint64_t)len / IDE_SECTOR : 0;
    s->identify_set = false;
}

static void hd_resize_cb(void *opaque)
{
    with_lock(resize_unit, unit_of(opaque), false);
}

static const BlockDevOps cd_ops = {
    .change_media_cb = cd_change_media_cb,
    .eject_request_cb = cd_eject_request_cb,
    .is_tray_open = cd_is_tray_open,
    .is_medium_locked = cd_is_medium_locked,
};

static const BlockDevOps hd_ops = {
    .resize_cb = hd_resize_cb,
};

static void drop_backend(IDEDevice *d)
{
    if (d->attached) {
        blk_detach_dev(d->blk);
        d->attached = false;
    }
    if (d->own_blk) {
        blk_delete(d->blk);
        d->own_blk = false;
    }
    d->blk = NULL;
}

static bool ide_dev_realize(Device *dev, char **errp)
{
    IDEDevice *d = (IDEDevice *)dev;
    bool is_cd = !strcmp(dev->info->name, "ide-cd");
    IDEBus *bus;
    if (dev->bus_name) {
        bus = ide_bus_by_name(dev->bus_name);
        if (!bus) {
            *errp = g_strdup_printf("Bus '%s' not found", dev->bus_name);
            return false;
        }
    } else {
        bus = ide_bus_by_name("ide.0");
        if (!bus) {
            *errp = g_strdup_printf("No 'IDE' bus found for device '%s'", dev->info->name);
            return false;
        }
    }
    if (d->unit == 0xffffffffu) {
        d->unit = bus->ifs[0].dev ? 1 : 0;
    }
    if (d->unit >= 2) {
        *errp = g_strdup_printf("Can't create IDE unit %u, bus supports only 2 units", d->unit);
        return false;
    }
    if (bus->ifs[d->unit].dev) {
        *errp = g_strdup_printf("IDE unit %u is in use", d->unit);
        return false;
    }
    if (d->drive && d->drive[0]) {
        d->blk = blk_for_device(d->drive, is_cd ? "ide-cd.drive" : "ide-hd.drive", errp);
        if (!d->blk) {
            return false;
        }
    } else if (is_cd) {
        d->blk = blk_new(NULL, NULL, errp);
        if (!d->blk) {
            return false;
        }
        d->own_blk = true;
    } else {
        *errp = g_strdup("No drive specified");
        return false;
    }
    if (!is_cd && !blk_is_inserted(d->blk)) {
        *errp = g_strdup("Device needs media, but drive is empty");
        d->blk = NULL;
        return false;
    }
    char *path = dev->id ? g_strdup(dev->id) : device_qom_path(dev);
    int r = blk_attach_dev(d->blk, path, dev->id, is_cd ? &cd_ops : &hd_ops, d, errp);
    g_free(path);
    if (r < 0) {
        if (d->own_blk) {
            blk_delete(d->blk);
            d->own_blk = false;
        }
        d->blk = NULL;
        return false;
    }
    d->attached = true;
    if (blk_is_inserted(d->blk) &&
        blk_set_dev_perm(d->blk, is_cd || blk_is_read_only(d->blk), d->share_rw, errp) < 0) {
        drop_backend(d);
        return false;
    }
    if (!is_cd) {
        if (!d->cyls && !d->heads && !d->secs) {
            blk_guess_geometry(d->blk, &d->cyls, &d->heads, &d->secs);
        }
        if (d->cyls < 1 || d->cyls > 65535) {
            *errp = g_strdup("cyls must be between 1 and 65535");
            drop_backend(d);
            return false;
        }
        if (d->heads < 1 || d->heads > 16) {
            *errp = g_strdup("heads must be between 1 and 16");
            drop_backend(d);
            return false;
        }
        if (d->secs < 1 || d->secs > 255) {
            *errp = g_strdup("secs must be between 1 and 255");
            drop_backend(d);
            return false;
        }
    }
    BlockdevOnError rerror = d->rerror, werror = d->werror;
    if (rerror == BLOCKDEV_ON_ERROR_AUTO) {
        rerror = blk_get_on_error(d->blk, true);
    }
    if (werror == BLOCKDEV_ON_ERROR_AUTO) {
        werror = blk_get_on_error(d->blk, false);
    }
    blk_set_on_error(d->blk, rerror, werror);
    if (d->write_cache != ON_OFF_AUTO_AUTO) {
        blk_set_enable_write_cache(d->blk, d->write_cache == ON_OFF_AUTO_ON);
    }
    blk_iostatus_enable(d->blk);
    d->bus = bus;
    IDEState *s = &bus->ifs[d->unit];
    s->cyls = d->cyls;
    s->heads = d->heads;
    s->secs = d->secs;
    s->wwn = d->wwn;
    s->rotation_rate = d->rotation_rate;
    s->drive_serial = (uint32_t)drive_serial++;
    if (d->serial) {
        snprintf(s->serial, sizeof(s->serial), "%s", d->serial);
    } else {
        snprintf(s->serial, sizeof(s->serial), "QM%05u", s->drive_serial);
    }
    snprintf(s->model, sizeof(s->model), "%s",
             d->model ? d->model
             : is_cd  ? "QEMU DVD-ROM"
                      : "QEMU HARDDISK");
    snprintf(s->version, sizeof(s->version), "%s", d->version ? d->version : QEMU_HW_VERSION);
    s->tray_open = false;
    s->tray_locked = false;
    s->media_event = false;
    s->eject_request = false;
    ide_unit_attach(s, d, d->blk, is_cd);
    return true;
}

static void ide_dev_unrealize(Device *dev)
{
    IDEDevice *d = (IDEDevice *)dev;
    if (d->bus) {
        ide_unit_detach(unit_of(d));
        d->bus = NULL;
    }
    drop_backend(d);
}

static const char *const trans_names[] = {"auto", "none", "lba", "large", "rechs", NULL};

#define IDE_PROPS_A                                                                                \
    DEFINE_PROP_("account-failed", PROP_ONOFFAUTO, IDEDevice, account_failed, true,                \
                 .def.i = ON_OFF_AUTO_AUTO),                                                       \
        DEFINE_PROP_("account-invalid", PROP_ONOFFAUTO, IDEDevice, account_invalid, true,          \
                     .def.i = ON_OFF_AUTO_AUTO),                                                   \
        DEFINE_PROP_("backend_defaults", PROP_ONOFFAUTO, IDEDevice, backend_defaults, true,        \
                     .def.i = ON_OFF_AUTO_AUTO)

#define IDE_PROPS_B                                                                                \
    DEFINE_PROP_("discard_granularity", PROP_SIZE32, IDEDevice, discard_granularity, true,         \
                 .def.u = 0xffffffffu),                                                            \
        DEFINE_PROP_DRIVE("drive", IDEDevice, drive)

#define IDE_PROPS_C                                                                                \
    DEFINE_PROP_("logical_block_size", PROP_BLOCKSIZE, IDEDevice, logical_block_size, true,        \
                 .def.u = 0)

#define IDE_PROPS_D                                                                                \
    DEFINE_PROP_("min_io_size", PROP_SIZE32, IDEDevice, min_io_size, true, .def.u = 0),            \
        DEFINE_PROP_STRING("model", IDEDevice, model),                                             \
        DEFINE_PROP_("opt_io_size", PROP_SIZE32, IDEDevice, opt_io_size, true, .def.u = 0),        \
        DEFINE_PROP_("physical_block_size", PROP_BLOCKSIZE, IDEDevice, physical_block_size, true,  \
                     .def.u = 0),                                                                  \
        DEFINE_PROP_ENUM("rerror", IDEDevice, rerror, blockdev_on_error_names, "BlockdevOnError",  \
                         BLOCKDEV_ON_ERROR_AUTO,                                                   \
                         "Error handling policy, report/ignore/enospc/stop/auto")

#define IDE_PROPS_E                                                                                \
    DEFINE_PROP_STRING("serial", IDEDevice, serial),                                               \
        DEFINE_PROP_BOOL("share-rw", IDEDevice, share_rw, false),                                  \
        DEFINE_PROP_UINT32("unit", IDEDevice, unit, 0xffffffffu),                                  \
        DEFINE_PROP_STRING("ver", IDEDevice, version),                                             \
        DEFINE_PROP_ENUM("werror", IDEDevice, werror, blockdev_on_error_names, "BlockdevOnError",  \
                         BLOCKDEV_ON_ERROR_AUTO,                                                   \
                         "Error handling policy, report/ignore/enospc/stop/auto"),                 \
        DEFINE_PROP_("write-cache", PROP_ONOFFAUTO, IDEDevice, write_cache, true,                  \
                     .def.i = ON_OFF_AUTO_AUTO),                                                   \
        DEFINE_PROP_UINT64("wwn", IDEDevice, wwn, 0)

static const Property ide_hd_props[] = {
    IDE_PROPS_A,
    DEFINE_PROP_ENUM("bios-chs-trans", IDEDevice, bios_chs_trans, trans_names, "BiosAtaTranslation",
                     0, "Logical CHS translation algorithm, auto/none/lba/large/rechs"),
    DEFINE_PROP_("bootindex", PROP_INT32, IDEDevice, bootindex, false, .def.i = -1),
    DEFINE_PROP_UINT32("cyls", IDEDevice, cyls, 0),
    IDE_PROPS_B,
    DEFINE_PROP_UINT32("heads", IDEDevice, heads, 0),
    DEFINE_PROP_UINT32("lcyls", IDEDevice, lcyls, 0),
    DEFINE_PROP_UINT32("lheads", IDEDevice, lheads, 0),
    IDE_PROPS_C,
    DEFINE_PROP_UINT32("lsecs", IDEDevice, lsecs, 0),
    IDE_PROPS_D,
    DEFINE_PROP_UINT16("rotation_rate", IDEDevice, rotation_rate, 0),
    DEFINE_PROP_UINT32("secs", IDEDevice, secs, 0),
    IDE_PROPS_E,
    DEFINE_PROP_END,
};

static const Property ide_cd_props[] = {
    IDE_PROPS_A,
    DEFINE_PROP_("bootindex", PROP_INT32, IDEDevice, bootindex, false, .def.i = -1),
    IDE_PROPS_B,
    IDE_PROPS_C,
    IDE_PROPS_D,
    IDE_PROPS_E,
    DEFINE_PROP_END,
};

const DeviceInfo ide_hd_info = {
    .name = "ide-hd",
    .desc = "virtual IDE disk",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus = BUS_IDE,
    .instance_size = sizeof(IDEDevice),
    .props = ide_hd_props,
    .user_creatable = true,
    .realize = ide_dev_realize,
    .unrealize = ide_dev_unrealize,
    .qom_parent = "ide-device",
};

const DeviceInfo ide_cd_info = {
    .name = "ide-cd",
    .desc = "virtual IDE CD-ROM",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus = BUS_IDE,
    .instance_size = sizeof(IDEDevice),
    .props = ide_cd_props,
    .user_creatable = true,
    .realize = ide_dev_realize,
    .unrealize = ide_dev_unrealize,
    .qom_parent = "ide-device",
};
