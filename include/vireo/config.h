/*
 * VireoConfig: everything the command line decides about the machine.
 * system/cmdline.c fills it; the machine and accelerators only read it.
 */
#ifndef VIREO_CONFIG_H
#define VIREO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VIREO_MAX_ACCELS   4
#define VIREO_MAX_SERIAL   4
#define VIREO_MAX_CPUS     288
#define VIREO_MAX_CHARDEVS 32
#define VIREO_MAX_MONITORS 8

#define VIREO_MAX_DEVICES 64
#define VIREO_MAX_DRIVES  64

typedef enum { ACCEL_KVM, ACCEL_TCG } AccelType;

typedef struct SmpConfig {
    unsigned cpus;    /* vCPUs present at start */
    unsigned maxcpus; /* cpus <= maxcpus */
    unsigned sockets, dies, cores, threads;
} SmpConfig;

/* One -qmp, -monitor or -mon. */
typedef struct MonitorConfig {
    char *spec;    /* -qmp/-monitor: a legacy chardev spec ("stdio", "unix:PATH,server=on") */
    char *chardev; /* -mon: the chardev id */
    bool qmp;      /* mode=control */
    bool pretty;
    char *loc; /* "-qmp ARG", for error messages */
} MonitorConfig;

/*
 * One -device, in command-line order: QEMU's "device" option group. driver is the first
 * (implied) element; id, when given, is a valid identifier unique among -device ids; the
 * other key=value pairs are the device's properties, in order, as given.
 */
typedef struct DeviceConfig {
    char *driver;
    char *id;
    char **prop_keys, **prop_values;
    /* per property: 0 for key=value text; for the JSON form the member's JSON type:
     * 'i' integer, 'b' boolean, 's' string, 'o' anything else (values are then text) */
    char *prop_kinds;
    bool json; /* the JSON form: created after every key=value -device, as QEMU does */
    int n_props;
    char *loc; /* "-device ARG", for error messages */
} DeviceConfig;

/*
 * One -drive, -hda..-hdd, -cdrom or positional disk image, in command-line order: the option
 * text (QEMU's "drive" group, legacy syntax; its syntax and id checked by the parser). The
 * sugar options give their file apart (file names may hold commas) with spec "index=N,media=..".
 * system/blockdev.c opens them at start-up.
 */
typedef struct DriveConfig {
    char *spec;
    char *file; /* -hdX/-cdrom/positional: the image, or NULL */
    char *loc;  /* "-drive ARG", "-hda FILE", or the positional FILE */
} DriveConfig;

/* -netdev, -nic and -net, in command-line order (net/net.c parses them). */
typedef enum { NET_OPT_NETDEV, NET_OPT_NIC, NET_OPT_NET } NetOptionKind;
typedef struct NetOption {
    NetOptionKind kind;
    char *spec;
    char *loc; /* "-netdev ARG" */
} NetOption;
#define VIREO_MAX_NETS 64

typedef struct VireoConfig {
    /* -accel / -enable-kvm / -machine accel=a:b: tried in order */
    AccelType accels[VIREO_MAX_ACCELS];
    int n_accels;
    bool accels_from_option;   /* the list came from -accel (errors then name "-accel X: ") */
    char *machine_type;        /* canonical name, e.g. "pc-i440fx-7.2" or "none" */
    char *cpu_model;           /* the -cpu model's name: "qemu64" (default), "host", "max", ... */
    struct X86CPUDef *cpu_def; /* -cpu resolved (vireo/x86-cpu-model.h) */
    uint64_t ram_size;         /* bytes */
    SmpConfig smp;
    char *kernel, *initrd, *append;
    char *bios; /* -bios FILE (a bare name is looked up in the firmware directories) */
    /* -boot: order (NULL: "cad") and once as given (checked: a-p, none twice), the rest as QEMU's
     * BootConfiguration (has_X: given); ranges are the machine's checks */
    char *boot_order, *boot_once, *boot_splash;
    bool boot_has_menu, boot_menu, boot_has_strict, boot_strict;
    bool boot_has_splash_time, boot_has_reboot_timeout;
    int64_t boot_splash_time, boot_reboot_timeout;
    /*
     * -serial arguments in order (COM1 first), as given: "stdio", "null",
     * "none", "file:PATH", "chardev:ID", "mon:stdio" ...; chardev/ parses them.
     * NULL entries mean "no serial port at that index".
     */
    char *serial[VIREO_MAX_SERIAL];
    int n_serial;
    bool serial_given; /* at least one -serial on the command line */
    bool nographic;
    bool display_none;
    char *vnc, *vnc_loc; /* -vnc ARG (or -display vnc=ARG) and where it was given */
    char *keyboard_layout; /* -k LANG */
    /* -vga: "std" (QEMU's VGA at the first free slot before -device ones) or "none"/NULL */
    char *vga;
    bool no_reboot;
    bool no_shutdown;
    bool start_paused; /* -S */
    char *name;        /* -name guest=... or positional */
    /* -device, in order, checked by the parser (driver known, properties valid) */
    DeviceConfig devices[VIREO_MAX_DEVICES];
    int n_devices;
    /* -machine usb=on (also -usb, -usbdevice): pc's piix3-usb-uhci at 00:01.2 */
    bool usb;
    /* -usbdevice NAME in order, and where each was given */
    char *usbdevices[VIREO_MAX_DEVICES];
    char *usbdevice_locs[VIREO_MAX_DEVICES];
    int n_usbdevices;
    char *uuid; /* -uuid, canonical lower-case form */
    /* -chardev arguments in order, and their locations ("-chardev ARG") */
    char *chardevs[VIREO_MAX_CHARDEVS];
    char *chardev_locs[VIREO_MAX_CHARDEVS];
    int n_chardevs;
    MonitorConfig mons[VIREO_MAX_MONITORS];
    int n_mons;
    char *serial_locs[VIREO_MAX_SERIAL]; /* "-serial ARG" */
    bool nodefaults;
    bool nodefaults_monitor; /* -monitor none */
    bool daemonize;
    char *pidfile;
    /* -global DRIVER.PROP=VALUE (or driver=,property=,value=), in order */
    char **global_drivers, **global_props, **global_values;
    int n_globals;
    /* -drive and its sugar, -blockdev (checked against the schema), -snapshot */
    DriveConfig drives[VIREO_MAX_DRIVES];
    int n_drives;
    char *blockdevs[VIREO_MAX_DRIVES];
    char *blockdev_locs[VIREO_MAX_DRIVES];
    int n_blockdevs;
    bool snapshot;
    NetOption nets[VIREO_MAX_NETS];
    int n_nets;
    bool nic_given; /* a -nic or -net (none included): QEMU's default NIC is off */
} VireoConfig;

/*
 * Parse argv into cfg. Returns 0 to go on and start the machine, 1 when the
 * command was fully handled (-version, -help, -machine help) and the process
 * should exit 0, and -1 after printing an error in QEMU's style (exit 1).
 */
int vireo_parse_cmdline(int argc, char **argv, VireoConfig *cfg);
void vireo_config_free(VireoConfig *cfg);

#endif
