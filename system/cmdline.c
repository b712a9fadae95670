/*
 * The qemu-system-x86_64 command line, compatible with QEMU 7.2: option names, grammar,
 * defaults, error messages and the order in which QEMU reports errors.
 *
 * Like QEMU, parsing runs in three steps: a first pass rejects unknown options and
 * missing arguments; the main pass goes through the options in order, checks each
 * argument's syntax (errors carry the "-opt arg: " location) and acts at once on
 * -version, -help, -machine help, -accel help and -display help; the final checks then
 * run in QEMU's order (-append/-initrd without -kernel, -cpu help, machine type, -smp,
 * machine properties, -m, accelerators, CPU model, display).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "vireo/config.h"
#include "vireo/x86-cpu-model.h"
#include "vireo/device.h"
#include "vireo/blockdev.h"
#include "vireo/devices.h"
#include "vireo/qjson.h"
#include "vireo/error.h"
#include "vireo/qemu-opts.h"
#include "vireo/rng.h"
#include "vireo/ui.h"

#define DEFAULT_RAM_SIZE (128ULL << 20)
#define RAM_ALIGN        8192

typedef enum {
    OPT_UNSUPPORTED, /* a QEMU 7.2 option Vireo does not implement yet */
    OPT_GLOBAL,
    OPT_OVERCOMMIT,
    OPT_HELP,
    OPT_DEVICE,
    OPT_OBJECT,
    OPT_VERSION,
    OPT_MACHINE,
    OPT_ACCEL,
    OPT_ENABLE_KVM,
    OPT_CPU,
    OPT_M,
    OPT_SMP,
    OPT_KERNEL,
    OPT_INITRD,
    OPT_APPEND,
    OPT_SERIAL,
    OPT_NOGRAPHIC,
    OPT_VGA,
    OPT_DISPLAY,
    OPT_VNC,
    OPT_NO_REBOOT,
    OPT_NO_SHUTDOWN,
    OPT_S,
    OPT_NAME,
    OPT_NO_HPET,
    OPT_USB,
    OPT_USBDEVICE,
    OPT_K,
    OPT_CHARDEV,
    OPT_NETDEV,
    OPT_NIC,
    OPT_NET,
    OPT_MON,
    OPT_QMP,
    OPT_QMP_PRETTY,
    OPT_MONITOR,
    OPT_DAEMONIZE,
    OPT_PIDFILE,
    OPT_UUID,
    OPT_NODEFAULTS,
    OPT_DRIVE, /* -drive, -hda..-hdd, -cdrom, -blockdev, -snapshot: system/cmdline-block.c */
    OPT_HDA,
    OPT_HDB,
    OPT_HDC,
    OPT_HDD,
    OPT_CDROM,
    OPT_BLOCKDEV,
    OPT_SNAPSHOT,
    OPT_BIOS,
    OPT_BOOT,
    OPT_IGNORED, /* accepted and harmless: -nodefaults, -no-user-config */
} OptId;

typedef struct OptDesc {
    const char *name;
    bool has_arg;
    OptId id;
} OptDesc;

static const OptDesc options[] = {
    {"h", false, OPT_HELP},
    {"help", false, OPT_HELP},
    {"version", false, OPT_VERSION},
    {"machine", true, OPT_MACHINE},
    {"M", true, OPT_MACHINE},
    {"accel", true, OPT_ACCEL},
    {"enable-kvm", false, OPT_ENABLE_KVM},
    {"cpu", true, OPT_CPU},
    {"m", true, OPT_M},
    {"smp", true, OPT_SMP},
    {"kernel", true, OPT_KERNEL},
    {"initrd", true, OPT_INITRD},
    {"append", true, OPT_APPEND},
    {"serial", true, OPT_SERIAL},
    {"nographic", false, OPT_NOGRAPHIC},
    {"display", true, OPT_DISPLAY},
    {"no-reboot", false, OPT_NO_REBOOT},
    {"no-shutdown", false, OPT_NO_SHUTDOWN},
    {"S", false, OPT_S},
    {"name", true, OPT_NAME},
    {"no-hpet", false, OPT_NO_HPET},
    {"nodefaults", false, OPT_NODEFAULTS},
    {"chardev", true, OPT_CHARDEV},
    {"mon", true, OPT_MON},
    {"qmp", true, OPT_QMP},
    {"qmp-pretty", true, OPT_QMP_PRETTY},
    {"monitor", true, OPT_MONITOR},
    {"daemonize", false, OPT_DAEMONIZE},
    {"pidfile", true, OPT_PIDFILE},
    {"uuid", true, OPT_UUID},
    {"no-user-config", false, OPT_IGNORED},
    /* The rest of QEMU 7.2's x86 options: recognised, but not implemented yet. */
    {"D", true, OPT_UNSUPPORTED},
    {"L", true, OPT_UNSUPPORTED},
    {"acpitable", true, OPT_UNSUPPORTED},
    {"action", true, OPT_UNSUPPORTED},
    {"add-fd", true, OPT_UNSUPPORTED},
    {"async-teardown", false, OPT_UNSUPPORTED},
    {"audio", true, OPT_UNSUPPORTED},
    {"audio-help", false, OPT_UNSUPPORTED},
    {"audiodev", true, OPT_UNSUPPORTED},
    {"bios", true, OPT_BIOS},
    {"blockdev", true, OPT_BLOCKDEV},
    {"boot", true, OPT_BOOT},
    {"cdrom", true, OPT_CDROM},
    {"chroot", true, OPT_UNSUPPORTED},
    {"compat", true, OPT_UNSUPPORTED},
    {"d", true, OPT_UNSUPPORTED},
    {"debugcon", true, OPT_UNSUPPORTED},
    {"device", true, OPT_DEVICE},
    {"dfilter", true, OPT_UNSUPPORTED},
    {"drive", true, OPT_DRIVE},
    {"dtb", true, OPT_UNSUPPORTED},
    {"dump-vmstate", true, OPT_UNSUPPORTED},
    {"echr", true, OPT_UNSUPPORTED},
    {"enable-sync-profile", false, OPT_UNSUPPORTED},
    {"fda", true, OPT_UNSUPPORTED},
    {"fdb", true, OPT_UNSUPPORTED},
    {"fsdev", true, OPT_UNSUPPORTED},
    {"full-screen", false, OPT_UNSUPPORTED},
    {"fw_cfg", true, OPT_UNSUPPORTED},
    {"g", true, OPT_UNSUPPORTED},
    {"gdb", true, OPT_UNSUPPORTED},
    {"global", true, OPT_GLOBAL},
    {"hda", true, OPT_HDA},
    {"hdb", true, OPT_HDB},
    {"hdc", true, OPT_HDC},
    {"hdd", true, OPT_HDD},
    {"icount", true, OPT_UNSUPPORTED},
    {"incoming", true, OPT_UNSUPPORTED},
    {"iscsi", true, OPT_UNSUPPORTED},
    {"k", true, OPT_K},
    {"loadvm", true, OPT_UNSUPPORTED},
    {"mem-path", true, OPT_UNSUPPORTED},
    {"mem-prealloc", false, OPT_UNSUPPORTED},
    {"msg", true, OPT_UNSUPPORTED},
    {"mtdblock", true, OPT_UNSUPPORTED},
    {"net", true, OPT_NET},
    {"netdev", true, OPT_NETDEV},
    {"nic", true, OPT_NIC},
    {"no-acpi", false, OPT_UNSUPPORTED},
    {"no-fd-bootchk", false, OPT_UNSUPPORTED},
    {"numa", true, OPT_UNSUPPORTED},
    {"object", true, OPT_OBJECT},
    {"old-param", false, OPT_UNSUPPORTED},
    {"only-migratable", false, OPT_UNSUPPORTED},
    {"option-rom", true, OPT_UNSUPPORTED},
    {"overcommit", true, OPT_OVERCOMMIT},
    {"parallel", true, OPT_UNSUPPORTED},
    {"pflash", true, OPT_UNSUPPORTED},
    {"plugin", true, OPT_UNSUPPORTED},
    {"portrait", false, OPT_UNSUPPORTED},
    {"preconfig", false, OPT_UNSUPPORTED},
    {"prom-env", true, OPT_UNSUPPORTED},
    {"qtest", true, OPT_UNSUPPORTED},
    {"qtest-log", true, OPT_UNSUPPORTED},
    {"readconfig", true, OPT_UNSUPPORTED},
    {"rotate", true, OPT_UNSUPPORTED},
    {"rtc", true, OPT_UNSUPPORTED},
    {"runas", true, OPT_UNSUPPORTED},
    {"s", false, OPT_UNSUPPORTED},
    {"sandbox", true, OPT_UNSUPPORTED},
    {"sd", true, OPT_UNSUPPORTED},
    {"seed", true, OPT_UNSUPPORTED},
    {"semihosting", false, OPT_UNSUPPORTED},
    {"semihosting-config", true, OPT_UNSUPPORTED},
    {"set", true, OPT_UNSUPPORTED},
    {"singlestep", false, OPT_UNSUPPORTED},
    {"smbios", true, OPT_UNSUPPORTED},
    {"snapshot", false, OPT_SNAPSHOT},
    {"spice", true, OPT_UNSUPPORTED},
    {"tpmdev", true, OPT_UNSUPPORTED},
    {"trace", true, OPT_UNSUPPORTED},
    {"usb", false, OPT_USB},
    {"usbdevice", true, OPT_USBDEVICE},
    {"vga", true, OPT_VGA},
    {"virtfs", true, OPT_UNSUPPORTED},
    {"vnc", true, OPT_VNC},
    {"watchdog-action", true, OPT_UNSUPPORTED},
    {"win2k-hack", false, OPT_UNSUPPORTED},
    {"xen-attach", false, OPT_UNSUPPORTED},
    {"xen-domid", true, OPT_UNSUPPORTED},
    {"xen-domid-restrict", false, OPT_UNSUPPORTED},
};

typedef struct MachineDesc {
    const char *name;
    const char *alias; /* short name printed first by -machine help, or NULL */
    const char *desc;
    bool is_default;
    bool is_pc;
    unsigned max_cpus;
} MachineDesc;

static const MachineDesc machines[] = {
    {"pc-i440fx-7.2", "pc", "Standard PC (i440FX + PIIX, 1996)", true, true, 255},
    {"pc-q35-7.2", "q35", "Standard PC (Q35 + ICH9, 2009)", false, true, 288},
    {"none", NULL, "empty machine", false, false, 1},
};

typedef struct PropDesc {
    const char *name;
    const char *type; /* "bool", "OnOffAuto", "string", "SMPConfiguration" */
    const char *desc;
    bool pc_only;
} PropDesc;

/*
 * Machine properties, in -machine X,help order. Vireo's machines take kernel/initrd/
 * append and smp; the others are accepted and checked but do not change the machine yet.
 */
static const PropDesc machine_props[] = {
    {"acpi", "OnOffAuto", "Enable ACPI", true},
    {"append", "string", "Linux kernel command line", false},
    {"dump-guest-core", "bool", "Include guest memory in a core dump", false},
    {"graphics", "bool", "Set on/off to enable/disable graphics emulation", false},
    {"hpet", "bool", "Enable/disable high precision event timer emulation", true},
    {"i8042", "bool", NULL, true},
    {"initrd", "string", "Linux initial ramdisk file", false},
    {"kernel", "string", "Linux kernel image file", false},
    {"mem-merge", "bool", "Enable/disable memory merge support", false},
    {"pic", "OnOffAuto", "Enable i8259 PIC", true},
    {"pit", "OnOffAuto", "Enable i8254 PIT", true},
    {"sata", "bool", "Enable/disable Serial ATA bus", true},
    {"smbus", "bool", "Enable/disable system management bus", true},
    {"smm", "OnOffAuto", "Enable SMM", true},
    {"smp", "SMPConfiguration", "CPU topology", false},
    {"suppress-vmdesc", "bool", "Set on to disable self-describing migration", false},
    {"usb", "bool", "Set on/off to enable/disable usb", false},
    {"vmport", "OnOffAuto", "Enable vmport (pc & q35)", true},
};

static const char *const display_types[] = {"none",   "gtk",       "sdl", "egl-headless",
                                            "curses", "spice-app", "dbus"};

/* Everything collected by the main pass, checked afterwards. */
typedef struct CmdLine {
    QOpts *machine; /* keyval, all -machine/-M merged, plus -kernel etc. */
    QOpts *smp;     /* keyval, merged */
    QOpts *mem;     /* legacy, merged */
    QOpts *name;    /* legacy, merged */
    QOpts *boot;    /* -boot, merged (QEMU's boot-opts) */
    QOpts *display; /* keyval, the last -display */
    QOptsList accels;
    const char *cpu;
    char *display_arg;
} CmdLine;

static void cmdline_free(CmdLine *cl)
{
    qopts_free(cl->machine);
    qopts_free(cl->smp);
    qopts_free(cl->mem);
    qopts_free(cl->name);
    qopts_free(cl->boot);
    qopts_free(cl->display);
    qopts_list_clear(&cl->accels);
    g_free(cl->display_arg);
}

/* Print an error with a location prefix such as "-m 5X". */
static void error_at(const char *loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_at(const char *loc, const char *fmt, ...)
{
    const char *saved = error_location;
    char *prefix = loc ? g_strdup_printf("%s: ", loc) : NULL;
    va_list ap;

    error_location = prefix;
    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    error_location = saved;
    g_free(prefix);
}

static const OptDesc *lookup_option(const char *arg)
{
    const char *name = arg + 1;
    if (arg[0] != '-') {
        return NULL;
    }
    if (name[0] == '-') {
        name++; /* "--opt" works like "-opt" */
    }
    for (size_t i = 0; i < G_N_ELEMENTS(options); i++) {
        if (strcmp(options[i].name, name) == 0) {
            return &options[i];
        }
    }
    return NULL;
}

static const MachineDesc *find_machine(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(machines); i++) {
        if (strcmp(machines[i].name, name) == 0 ||
            (machines[i].alias && strcmp(machines[i].alias, name) == 0)) {
            return &machines[i];
        }
    }
    return NULL;
}

static void print_version(void)
{
    printf("QEMU emulator version 7.2.0 (Vireo)\n"
           "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
}

static void print_help(void)
{
    print_version();
    printf("usage: qemu-system-x86_64 [options]\n"
           "\n"
           "Standard options:\n"
           "-h or -help     display this help and exit\n"
           "-version        display version information and exit\n"
           "-machine [type=]name[,prop[=value][,...]]\n"
           "                selects emulated machine ('-machine help' for list)\n"
           "                property accel=accel1[:accel2[:...]] selects accelerator\n"
           "                supported accelerators are kvm or tcg (default: tcg)\n"
           "-cpu cpu        select CPU ('-cpu help' for list)\n"
           "-accel [accel=]accelerator[,prop[=value][,...]]\n"
           "                select accelerator (kvm or tcg; use 'help' for a list)\n"
           "-smp [[cpus=]n][,maxcpus=maxcpus][,sockets=sockets][,dies=dies][,cores=cores]"
           "[,threads=threads]\n"
           "                set the number of initial CPUs to 'n' [default=1]\n"
           "                maxcpus= maximum number of total CPUs, including\n"
           "                offline CPUs for hotplug, etc\n"
           "                sockets= number of sockets on the machine board\n"
           "                dies= number of dies in one socket\n"
           "                cores= number of cores in one die\n"
           "                threads= number of threads in one core\n"
           "-m [size=]megs\n"
           "                configure guest RAM\n"
           "                size: initial amount of guest memory\n"
           "NOTE: Some architectures might enforce a specific granularity\n"
           "-name string1[,process=string2][,debug-threads=on|off]\n"
           "                set the name of the guest\n"
           "\n"
           "Display options:\n"
           "-display none\n"
           "                select display backend type\n"
           "-nographic      disable graphical output and redirect serial I/Os to console\n"
           "\n"
           "i386 target only:\n"
           "-no-hpet        disable HPET\n"
           "\n"
           "Linux/Multiboot boot specific:\n"
           "-kernel bzImage use 'bzImage' as kernel image\n"
           "-append cmdline use 'cmdline' as kernel command line\n"
           "-initrd file    use 'file' as initial ram disk\n"
           "\n"
           "Debug/Expert options:\n"
           "-serial dev     redirect the serial port to char device 'dev'\n"
           "-S              freeze CPU at startup (use 'c' to start execution)\n"
           "-enable-kvm     enable KVM full virtualization support\n"
           "-no-reboot      exit instead of rebooting\n"
           "-no-shutdown    stop before shutdown\n"
           "-nodefaults     don't create default devices\n"
           "-no-user-config\n"
           "                do not load default user-provided config files at startup\n"
           "\n"
           "Options may be given with one or two leading dashes.\n"
           "See docs/qemu-system-x86_64.md for what Vireo supports.\n");
}

static void print_machines(void)
{
    printf("Supported machines are:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(machines); i++) {
        const MachineDesc *m = &machines[i];
        if (m->alias) {
            printf("%-20s %s (alias of %s)\n", m->alias, m->desc, m->name);
        }
        printf("%-20s %s%s\n", m->name, m->desc, m->is_default ? " (default)" : "");
    }
}

static void print_machine_props(const MachineDesc *m)
{
    printf("%s-machine options:\n", m->name);
    for (size_t i = 0; i < G_N_ELEMENTS(machine_props); i++) {
        const PropDesc *p = &machine_props[i];
        if (p->pc_only && !m->is_pc) {
            continue;
        }
        char *left = g_strdup_printf("%s=<%s>", p->name, p->type);
        if (p->desc) {
            printf("  %-22s - %s\n", left, p->desc);
        } else {
            printf("  %s\n", left);
        }
        g_free(left);
    }
}

static void print_cpus(void)
{
    x86_cpu_print_help();
}

static void print_accels(void)
{
    printf("Accelerators supported in QEMU binary:\ntcg\nkvm\n");
}

static void print_displays(void)
{
    printf("Available display backend types:\nnone\n");
}

/* -machine: returns 1 after printing help, -1 on error, 0 otherwise. */
static int handle_machine(CmdLine *cl, const char *arg, const char *loc)
{
    char *err = NULL;
    if (!qopts_parse_into(cl->machine, arg, loc, "type", QOPTS_KEYVAL, &err)) {
        error_at(loc, "%s", err);
        g_free(err);
        return -1;
    }
    const char *type = qopts_get(cl->machine, "type");
    /* "-M help" lists the machines; "-M pc,help" (or -M pc -M help) pc's properties. */
    if (qopts_is_help(type) || (cl->machine->help && !type)) {
        print_machines();
        return 1;
    }
    if (cl->machine->help) {
        const MachineDesc *m = find_machine(type);
        if (!m) {
            error_report("unsupported machine type\nUse -machine help to list supported "
                         "machines");
            return -1;
        }
        print_machine_props(m);
        return 1;
    }
    return 0;
}

static int handle_accel(CmdLine *cl, const char *arg, const char *loc)
{
    char *err = NULL;
    QOpts *o = qopts_parse("accel", arg, loc, "accel", QOPTS_LEGACY, &err);
    if (!o) {
        error_at(loc, "%s", err);
        g_free(err);
        return -1;
    }
    const char *name = qopts_get(o, "accel");
    if (!name || qopts_is_help(name)) {
        print_accels();
        qopts_free(o);
        return 1;
    }
    qopts_list_append(&cl->accels, o);
    return 0;
}

static int handle_memory(CmdLine *cl, const char *arg, const char *loc)
{
    static const char *const known[] = {"size", "slots", "maxmem", NULL};
    char *err = NULL;
    QOpts *o = qopts_parse("m", arg, loc, "size", QOPTS_LEGACY, &err);
    uint64_t v;

    if (o) {
        /* Checked here, like QEMU, so a hex-suffix warning carries the location too. */
        const char *saved = error_location;
        char *prefix = g_strdup_printf("%s: ", loc);
        const char *bad = qopts_unknown_key(o, known);

        error_location = prefix;
        if (bad) {
            err = g_strdup_printf("Invalid parameter '%s'", bad);
        } else if (qopts_get_size(o, "size", 0, &v, &err) &&
                   qopts_get_number(o, "slots", 0, &v, &err)) {
            qopts_get_size(o, "maxmem", 0, &v, &err);
        }
        error_location = saved;
        g_free(prefix);
    }
    if (err) {
        error_at(loc, "%s", err);
        g_free(err);
        qopts_free(o);
        return -1;
    }
    for (size_t i = 0; i < o->n_pairs; i++) {
        qopts_set(cl->mem, o->pairs[i].key, o->pairs[i].value);
    }
    qopts_free(o);
    return 0;
}

static int handle_name(CmdLine *cl, const char *arg, const char *loc)
{
    static const char *const known[] = {"guest", "process", "debug-threads", NULL};
    char *err = NULL;
    QOpts *o = qopts_parse("name", arg, loc, "guest", QOPTS_LEGACY, &err);
    bool b;

    if (o) {
        const char *bad = qopts_unknown_key(o, known);
        if (bad) {
            err = g_strdup_printf("Invalid parameter '%s'", bad);
        } else {
            qopts_get_bool(o, "debug-threads", false, &b, &err);
        }
    }
    if (err) {
        error_at(loc, "%s", err);
        g_free(err);
        qopts_free(o);
        return -1;
    }
    for (size_t i = 0; i < o->n_pairs; i++) {
        qopts_set(cl->name, o->pairs[i].key, o->pairs[i].value);
    }
    qopts_free(o);
    return 0;
}

/* -overcommit mem-lock=on|off,cpu-pm=on|off: cpu-pm only tells KVM guests that they may halt
 * themselves (nothing to do here); mem-lock=on (mlockall) is not done yet. */
static int handle_overcommit(const char *arg, const char *loc)
{
    static const char *const known[] = {"mem-lock", "cpu-pm", NULL};
    char *err = NULL;
    QOpts *o = qopts_parse("overcommit", arg, loc, NULL, QOPTS_LEGACY, &err);
    bool lock = false, pm = false;
    if (o) {
        const char *bad = qopts_unknown_key(o, known);
        if (bad) {
            err = g_strdup_printf("Invalid parameter '%s'", bad);
        } else if (qopts_get_bool(o, "mem-lock", false, &lock, &err) &&
                   qopts_get_bool(o, "cpu-pm", false, &pm, &err) && lock) {
            err = g_strdup("mem-lock=on is not supported by Vireo yet");
        }
    }
    qopts_free(o);
    if (err) {
        error_at(loc, "%s", err);
        g_free(err);
        return -1;
    }
    return 0;
}

/* QEMU's validate_bootdevices: letters a-p, none given twice. */
static bool check_boot_devices(const char *devs)
{
    unsigned seen = 0;
    for (const char *p = devs; *p; p++) {
        if (*p < 'a' || *p > 'p') {
            error_report("Invalid boot device '%c'", *p);
            return false;
        }
        if (seen & (1u << (*p - 'a'))) {
            error_report("Boot device '%c' was given twice", *p);
            return false;
        }
        seen |= 1u << (*p - 'a');
    }
    return true;
}

/* -boot as QEMU's BootConfiguration: members in its order, then the device letters. */
static bool apply_boot(const QOpts *o, VireoConfig *cfg)
{
    static const char *const known[] = {"order",          "once",   "menu", "splash", "splash-time",
                                        "reboot-timeout", "strict", NULL};
    const char *bad = qopts_unknown_key(o, known);
    if (bad) {
        error_report("Parameter 'boot.%s' is unexpected", bad);
        return false;
    }
    static const char *const bools[] = {"menu", "strict"};
    bool *bool_has[] = {&cfg->boot_has_menu, &cfg->boot_has_strict};
    bool *bool_val[] = {&cfg->boot_menu, &cfg->boot_strict};
    static const char *const ints[] = {"splash-time", "reboot-timeout"};
    bool *int_has[] = {&cfg->boot_has_splash_time, &cfg->boot_has_reboot_timeout};
    int64_t *int_val[] = {&cfg->boot_splash_time, &cfg->boot_reboot_timeout};
    for (int i = 0; i < 2; i++) {
        const char *v = qopts_get(o, bools[i]);
        if (v && !qopts_parse_bool(v, bool_val[i])) {
            error_report("Parameter 'boot.%s' expects 'on' or 'off'", bools[i]);
            return false;
        }
        *bool_has[i] = v != NULL;
    }
    for (int i = 0; i < 2; i++) {
        const char *v = qopts_get(o, ints[i]);
        char *end = NULL;
        if (v) {
            errno = 0;
            long long n = strtoll(v, &end, 0);
            if (!*v || *end || errno) {
                error_report("Parameter 'boot.%s' expects integer", ints[i]);
                return false;
            }
            *int_val[i] = n;
        }
        *int_has[i] = v != NULL;
    }
    const char *order = qopts_get(o, "order"), *once = qopts_get(o, "once");
    if ((order && !check_boot_devices(order)) || (once && !check_boot_devices(once))) {
        return false;
    }
    cfg->boot_order = g_strdup(order);
    cfg->boot_once = g_strdup(once);
    cfg->boot_splash = g_strdup(qopts_get(o, "splash"));
    return true;
}

/* -vga TYPE: std and none; QEMU's other types are refused, unknown ones as QEMU words it. */
static int handle_vga(VireoConfig *cfg, const char *arg, const char *loc)
{
    static const char *const others[] = {"cirrus", "vmware", "qxl", "virtio",
                                         "xenfb",  "tcx",    "cg3"};
    if (!strcmp(arg, "std") || !strcmp(arg, "none")) {
        g_free(cfg->vga);
        cfg->vga = g_strdup(arg);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(others); i++) {
        if (!strcmp(arg, others[i])) {
            error_at(loc, "this option is not supported by Vireo yet");
            return -1;
        }
    }
    error_report("unknown vga type: %s", arg);
    return -1;
}

static int handle_display(CmdLine *cl, const char *arg, const char *loc)
{
    char *err = NULL;
    QOpts *o;

    if (qopts_is_help(arg)) {
        print_displays();
        return 1;
    }
    if (strncmp(arg, "vnc", 3) == 0 && (arg[3] == '=' || arg[3] == '\0')) {
        if (arg[3] == '\0') {
            error_at(loc, "VNC requires a display argument vnc=<display>");
            return -1;
        }
        char *verr = NULL;
        if (!vnc_check_opts(arg + 4, &verr)) {
            error_at(loc, "%s", verr);
            g_free(verr);
            return -1;
        }
        o = qopts_new("display");
        qopts_set(o, "type", "vnc");
        qopts_set(o, "vnc", arg + 4);
    } else {
        o = qopts_parse("display", arg, loc, "type", QOPTS_KEYVAL, &err);
        if (!o) {
            error_at(loc, "%s", err);
            g_free(err);
            return -1;
        }
        const char *type = qopts_get(o, "type");
        bool known = false;
        for (size_t i = 0; type && i < G_N_ELEMENTS(display_types); i++) {
            known |= strcmp(type, display_types[i]) == 0;
        }
        if (!type) {
            err = g_strdup("Parameter 'type' is missing");
        } else if (!known) {
            err = g_strdup_printf("Parameter 'type' does not accept value '%s'", type);
        } else if (strcmp(type, "none") == 0) {
            for (size_t i = 0; i < o->n_pairs && !err; i++) {
                const char *k = o->pairs[i].key;
                if (strcmp(k, "type") != 0 && strcmp(k, "gl") != 0) {
                    err = g_strdup_printf("Parameter '%s' is unexpected", k);
                }
            }
        }
        if (err) {
            error_at(loc, "%s", err);
            g_free(err);
            qopts_free(o);
            return -1;
        }
    }
    qopts_free(cl->display);
    cl->display = o;
    return 0;
}

/* Parse one -smp value like QEMU's integer visitor; false after printing an error. */
static bool smp_number(const QOpts *smp, const char *key, unsigned *out, bool *given)
{
    const char *v = qopts_get(smp, key);
    uint64_t n;

    *given = v != NULL;
    *out = 0;
    if (!v) {
        return true;
    }
    if (qopts_strtou64(v, 0, &n) < 0) {
        error_report("Parameter 'smp.%s' expects integer", key);
        return false;
    }
    *out = (unsigned)n; /* QEMU keeps the low 32 bits */
    return true;
}

static char *topology_string(const SmpConfig *s)
{
    return g_strdup_printf("sockets (%u) * dies (%u) * cores (%u) * threads (%u)", s->sockets,
                           s->dies, s->cores, s->threads);
}

/* QEMU 7.2's -smp topology rules for the PC machines (dies yes, clusters no). */
static bool apply_smp(const QOpts *smp, const MachineDesc *m, SmpConfig *out)
{
    static const char *const keys[] = {"cpus",  "sockets", "dies",    "clusters",
                                       "cores", "threads", "maxcpus", NULL};
    unsigned cpus, sockets, dies, clusters, cores, threads, maxcpus;
    bool g_cpus, g_sockets, g_dies, g_clusters, g_cores, g_threads, g_maxcpus;

    if (!smp_number(smp, "cpus", &cpus, &g_cpus) ||
        !smp_number(smp, "sockets", &sockets, &g_sockets) ||
        !smp_number(smp, "dies", &dies, &g_dies) ||
        !smp_number(smp, "clusters", &clusters, &g_clusters) ||
        !smp_number(smp, "cores", &cores, &g_cores) ||
        !smp_number(smp, "threads", &threads, &g_threads) ||
        !smp_number(smp, "maxcpus", &maxcpus, &g_maxcpus)) {
        return false;
    }
    const char *bad = qopts_unknown_key(smp, keys);
    if (bad) {
        error_report("Parameter 'smp.%.*s' is unexpected", (int)strcspn(bad, "."), bad);
        return false;
    }
    if ((g_cpus && !cpus) || (g_sockets && !sockets) || (g_dies && !dies) ||
        (g_clusters && !clusters) || (g_cores && !cores) || (g_threads && !threads) ||
        (g_maxcpus && !maxcpus)) {
        warn_report("Deprecated CPU topology (considered invalid): CPU topology parameters "
                    "must be greater than zero");
    }
    if (!m->is_pc && dies > 1) {
        error_report("dies not supported by this machine's CPU topology");
        return false;
    }
    if (clusters > 1) {
        error_report("clusters not supported by this machine's CPU topology");
        return false;
    }
    dies = dies ? dies : 1;

    /* Fill in what is missing; since QEMU 6.2 cores are preferred over sockets. */
    if (!cpus && !maxcpus) {
        sockets = sockets ? sockets : 1;
        cores = cores ? cores : 1;
        threads = threads ? threads : 1;
    } else {
        maxcpus = maxcpus ? maxcpus : cpus;
        if (!cores) {
            sockets = sockets ? sockets : 1;
            threads = threads ? threads : 1;
            cores = maxcpus / (sockets * dies * threads);
        } else if (!sockets) {
            threads = threads ? threads : 1;
            sockets = maxcpus / (dies * cores * threads);
        }
        if (!threads) {
            threads = maxcpus / (sockets * dies * cores);
        }
    }
    maxcpus = maxcpus ? maxcpus : sockets * dies * cores * threads;
    cpus = cpus ? cpus : maxcpus;

    out->cpus = cpus;
    out->maxcpus = maxcpus;
    out->sockets = sockets;
    out->dies = dies;
    out->cores = cores;
    out->threads = threads;

    /* The product is computed in unsigned arithmetic, as QEMU does. */
    if (sockets * dies * cores * threads != maxcpus) {
        char *topo = topology_string(out);
        error_report("Invalid CPU topology: product of the hierarchy must match maxcpus: "
                     "%s != maxcpus (%u)",
                     topo, maxcpus);
        g_free(topo);
        return false;
    }
    if (maxcpus < cpus) {
        char *topo = topology_string(out);
        error_report("Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                     "%s == maxcpus (%u) < smp_cpus (%u)",
                     topo, maxcpus, cpus);
        g_free(topo);
        return false;
    }
    if (maxcpus > m->max_cpus) {
        error_report("Invalid SMP CPUs %d. The max CPUs supported by machine '%s' is %d",
                     (int)maxcpus, m->name, (int)m->max_cpus);
        return false;
    }
    return true;
}

static bool check_machine_props(const QOpts *mo, const MachineDesc *m)
{
    for (size_t i = 0; i < mo->n_pairs; i++) {
        const char *key = mo->pairs[i].key, *val = mo->pairs[i].value;
        size_t klen = strcspn(key, ".");
        const PropDesc *p = NULL;

        if (strcmp(key, "type") == 0 || strcmp(key, "accel") == 0) {
            continue;
        }
        for (size_t j = 0; j < G_N_ELEMENTS(machine_props); j++) {
            if (strlen(machine_props[j].name) == klen &&
                strncmp(machine_props[j].name, key, klen) == 0 &&
                (m->is_pc || !machine_props[j].pc_only)) {
                p = &machine_props[j];
            }
        }
        if (!p || strcmp(p->name, "smp") == 0) {
            error_report("Property '%s-machine.%.*s' not found", m->name, (int)klen, key);
            return false;
        }
        bool b;
        if (strcmp(p->type, "bool") == 0 && !qopts_parse_bool(val, &b)) {
            error_report("Parameter '%s' expects 'on' or 'off'", p->name);
            return false;
        }
        if (strcmp(p->type, "OnOffAuto") == 0 && strcmp(val, "on") != 0 &&
            strcmp(val, "off") != 0 && strcmp(val, "auto") != 0) {
            error_report("Parameter '%s' does not accept value '%s'", p->name, val);
            return false;
        }
    }
    return true;
}

static bool apply_memory(const QOpts *mem, VireoConfig *cfg)
{
    const char *size = qopts_get(mem, "size");
    uint64_t sz = 0, maxmem = 0;

    if (size) {
        /* Like QEMU, a size ending in a digit is in MiB ("-m 512"). */
        char *s =
            g_ascii_isdigit(size[strlen(size) - 1]) ? g_strdup_printf("%sM", size) : g_strdup(size);
        int rc = qopts_strtosz(s, 'B', &sz);
        if (rc < 0) {
            char *err = qopts_size_error("size", s, rc);
            error_report("%s", err);
            g_free(err);
            g_free(s);
            return false;
        }
        g_free(s);
    }
    if (sz == 0) {
        sz = DEFAULT_RAM_SIZE;
    }
    if (sz > UINT64_MAX - RAM_ALIGN) {
        error_report("ram size too large");
        return false;
    }
    sz = (sz + RAM_ALIGN - 1) & ~(uint64_t)(RAM_ALIGN - 1);

    if (qopts_has(mem, "slots") && !qopts_has(mem, "maxmem")) {
        error_report("slots specified but no max-size");
        return false;
    }
    if (qopts_has(mem, "maxmem")) {
        qopts_strtosz(qopts_get(mem, "maxmem"), 'B', &maxmem);
        if (maxmem < sz) {
            error_report("invalid value of maxmem: maximum memory size (0x%" PRIx64
                         ") must be at least the initial memory size (0x%" PRIx64 ")",
                         maxmem, sz);
            return false;
        }
    }
    cfg->ram_size = sz;
    return true;
}

static bool add_accel(VireoConfig *cfg, AccelType a)
{
    if (cfg->n_accels < VIREO_MAX_ACCELS) {
        cfg->accels[cfg->n_accels++] = a;
    }
    return a == ACCEL_TCG;
}

static bool accel_from_name(const char *name, AccelType *a)
{
    if (strcmp(name, "kvm") == 0) {
        *a = ACCEL_KVM;
        return true;
    }
    if (strcmp(name, "tcg") == 0) {
        *a = ACCEL_TCG;
        return true;
    }
    return false;
}

static bool check_accel_props(const QOpts *o, AccelType a)
{
    for (size_t i = 0; i < o->n_pairs; i++) {
        const char *key = o->pairs[i].key, *val = o->pairs[i].value;
        if (strcmp(key, "accel") == 0) {
            continue;
        }
        if (a == ACCEL_TCG && strcmp(key, "thread") == 0) {
            if (strcmp(val, "single") != 0 && strcmp(val, "multi") != 0) {
                error_at(o->loc, "Invalid 'thread' setting %s", val);
                return false;
            }
            continue;
        }
        if (a == ACCEL_KVM && strcmp(key, "kernel-irqchip") == 0) {
            if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0 && strcmp(val, "split") != 0) {
                error_at(o->loc, "Parameter 'kernel-irqchip' does not accept value '%s'", val);
                return false;
            }
            continue;
        }
        error_at(o->loc, "Property '%s-accel.%s' not found", a == ACCEL_KVM ? "kvm" : "tcg", key);
        return false;
    }
    return true;
}

/*
 * Build the accelerator list. As in QEMU, names in -machine accel= are all checked up
 * front, -accel entries only until one that always works (tcg); bad names are reported
 * but only fatal when nothing usable is left.
 */
static bool apply_accels(CmdLine *cl, VireoConfig *cfg)
{
    const char *list = qopts_get(cl->machine, "accel");
    AccelType a;

    if (list && cl->accels.n_groups) {
        error_report("The -accel and \"-machine accel=\" options are incompatible");
        return false;
    }
    if (list) {
        char **names = g_strsplit(list, ":", 0);
        for (char **n = names; *n; n++) {
            if (accel_from_name(*n, &a)) {
                add_accel(cfg, a);
            } else {
                error_report("invalid accelerator %s", *n);
            }
        }
        bool none_valid = cfg->n_accels == 0;
        if (none_valid && !names[0]) {
            error_report("no accelerator found");
        }
        g_strfreev(names);
        return !none_valid;
    }
    if (cl->accels.n_groups) {
        /*
         * QEMU never looks past tcg (it always starts), so it reports nothing about later
         * entries. Vireo keeps the valid ones after tcg as fallbacks, silently: its TCG may be
         * unavailable, and then the next accelerator is tried as QEMU would if tcg failed.
         */
        bool after_tcg = false;
        cfg->accels_from_option = true;
        for (size_t i = 0; i < cl->accels.n_groups; i++) {
            const QOpts *o = cl->accels.groups[i];
            const char *name = qopts_get(o, "accel");
            if (!accel_from_name(name, &a)) {
                if (!after_tcg) {
                    error_at(o->loc, "invalid accelerator %s", name);
                }
                continue;
            }
            if (after_tcg) {
                /* QEMU would never have parsed these: keep valid ones quietly. */
                add_accel(cfg, a);
                continue;
            }
            if (!check_accel_props(o, a)) {
                return false;
            }
            if (add_accel(cfg, a)) {
                after_tcg = true;
            }
        }
        return cfg->n_accels > 0;
    }
    /* QEMU's default for qemu-system-x86_64: tcg, then kvm. */
    add_accel(cfg, ACCEL_TCG);
    add_accel(cfg, ACCEL_KVM);
    return true;
}

static bool apply_cpu(const char *cpu, VireoConfig *cfg)
{
    X86CPUDef *def = g_new0(X86CPUDef, 1);
    if (!x86_cpu_def_parse(cpu, cfg->accels[0] == ACCEL_TCG, def)) {
        g_free(def);
        return false;
    }
    cfg->cpu_model = g_strdup(def->name);
    cfg->cpu_def = def;
    return true;
}

static bool apply_display(const CmdLine *cl, VireoConfig *cfg)
{
    if (!cl->display) {
        return true;
    }
    const char *type = qopts_get(cl->display, "type");
    if (strcmp(type, "vnc") == 0) {
        /* -display vnc=ARG: -vnc ARG without a local display */
        g_free(cfg->vnc);
        g_free(cfg->vnc_loc);
        cfg->vnc = g_strdup(qopts_get(cl->display, "vnc"));
        cfg->vnc_loc = g_strdup(cl->display_arg);
        cfg->display_none = true;
        return true;
    }
    if (strcmp(type, "none") != 0) {
        error_report("Display '%s' is not available.", type);
        return false;
    }
    if (qopts_has(cl->display, "gl")) {
        bool b;
        const char *gl = qopts_get(cl->display, "gl");
        if (!qopts_parse_bool(gl, &b) && strcmp(gl, "core") != 0 && strcmp(gl, "es") != 0) {
            error_at(cl->display_arg, "Parameter 'gl' does not accept value '%s'", gl);
            return false;
        }
        if (b || strcmp(gl, "core") == 0 || strcmp(gl, "es") == 0) {
            error_report("OpenGL is not supported by the display");
            return false;
        }
    }
    cfg->display_none = true;
    return true;
}

static int add_monitor(VireoConfig *cfg, const char *spec, const char *chardev, bool qmp,
                       bool pretty, const char *loc)
{
    if (cfg->n_mons >= VIREO_MAX_MONITORS) {
        error_at(loc, "too many monitors");
        return -1;
    }
    MonitorConfig *m = &cfg->mons[cfg->n_mons++];
    m->spec = g_strdup(spec);
    m->chardev = g_strdup(chardev);
    m->qmp = qmp;
    m->pretty = pretty;
    m->loc = g_strdup(loc);
    return 0;
}

/* -mon [chardev=]ID[,mode=readline|control][,pretty=on|off] */
static int handle_mon(VireoConfig *cfg, const char *arg, const char *loc)
{
    static const char *const known[] = {"chardev", "mode", "pretty", "id", NULL};
    char *err = NULL;
    QOpts *o = qopts_parse("mon", arg, loc, "chardev", QOPTS_LEGACY, &err);
    bool pretty = false;
    const char *mode = NULL;
    if (o) {
        const char *bad = qopts_unknown_key(o, known);
        mode = qopts_get(o, "mode");
        if (bad) {
            err = g_strdup_printf("Invalid parameter '%s'", bad);
        } else if (qopts_get_bool(o, "pretty", false, &pretty, &err) && mode &&
                   strcmp(mode, "readline") && strcmp(mode, "control")) {
            err = g_strdup_printf("unknown monitor mode '%s'", mode);
        } else if (!err && !qopts_get(o, "chardev")) {
            err = g_strdup("Parameter 'chardev' is missing");
        }
    }
    int r = -1;
    if (err) {
        error_at(loc, "%s", err);
        g_free(err);
    } else {
        r = add_monitor(cfg, NULL, qopts_get(o, "chardev"), mode && !strcmp(mode, "control"),
                        pretty, loc);
    }
    qopts_free(o);
    return r;
}

/* QEMU's UUID syntax: 8-4-4-4-12 hex digits. */
static int handle_uuid(VireoConfig *cfg, const char *arg, const char *loc)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    const char *p = arg;
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, p++) {
            if (!g_ascii_isxdigit(*p)) {
                goto bad;
            }
        }
        if (g < 4 && *p++ != '-') {
            goto bad;
        }
    }
    if (*p) {
        goto bad;
    }
    g_free(cfg->uuid);
    cfg->uuid = g_ascii_strdown(arg, -1);
    return 0;
bad:
    error_at(loc, "failed to parse UUID string: wrong format");
    return -1;
}

/* ---- -device --------------------------------------------------------------------------- */

/* -global DRIVER.PROP=VALUE, or -global driver=D,property=P,value=V (QEMU's two forms). */
static int handle_global(VireoConfig *cfg, const char *arg, const char *loc)
{
    const char *eq = strchr(arg, '=');
    const char *dot = eq ? memchr(arg, '.', (size_t)(eq - arg)) : NULL;
    char *driver = NULL, *prop = NULL, *value = NULL;
    if (dot && dot > arg && strncmp(arg, "driver=", 7)) {
        driver = g_strndup(arg, (size_t)(dot - arg));
        prop = g_strndup(dot + 1, (size_t)(eq - dot - 1));
        value = g_strdup(eq + 1);
    } else {
        char *err = NULL;
        QOpts *o = qopts_parse("global", arg, loc, NULL, QOPTS_LEGACY, &err);
        if (!o) {
            error_at(loc, "%s", err);
            g_free(err);
            return -1;
        }
        for (size_t i = 0; i < o->n_pairs; i++) {
            const char *k = o->pairs[i].key;
            if (strcmp(k, "driver") && strcmp(k, "property") && strcmp(k, "value")) {
                error_at(loc, "Invalid parameter '%s'", k);
                qopts_free(o);
                return -1;
            }
        }
        driver = g_strdup(qopts_get(o, "driver"));
        prop = g_strdup(qopts_get(o, "property"));
        value = g_strdup(qopts_get(o, "value"));
        qopts_free(o);
    }
    cfg->global_drivers = g_renew(char *, cfg->global_drivers, cfg->n_globals + 1);
    cfg->global_props = g_renew(char *, cfg->global_props, cfg->n_globals + 1);
    cfg->global_values = g_renew(char *, cfg->global_values, cfg->n_globals + 1);
    cfg->global_drivers[cfg->n_globals] = driver;
    cfg->global_props[cfg->n_globals] = prop;
    cfg->global_values[cfg->n_globals] = value;
    cfg->n_globals++;
    return 0;
}

/* Check id= and record one -device (text values; JSON kinds when from the JSON form). */
static int add_device(VireoConfig *cfg, const char *loc, const char *driver, const char *id,
                      char **keys, char **values, char *kinds, int n, bool json)
{
    if (json) {
        /* QEMU checks a JSON device's id when it creates it (check_devices) */
    } else if (id && !qopts_is_identifier(id)) {
        error_at(loc, "Parameter 'id' expects an identifier\nIdentifiers consist of letters, "
                      "digits, '-', '.', '_', starting with a letter.");
        return -1;
    }
    for (int i = 0; !json && id && i < cfg->n_devices; i++) {
        if (!cfg->devices[i].json && cfg->devices[i].id && !strcmp(cfg->devices[i].id, id)) {
            error_at(loc, "Duplicate ID '%s' for device", id);
            return -1;
        }
    }
    if (cfg->n_devices >= VIREO_MAX_DEVICES) {
        error_at(loc, "too many -device options");
        return -1;
    }
    DeviceConfig *d = &cfg->devices[cfg->n_devices++];
    d->loc = g_strdup(loc);
    d->driver = g_strdup(driver);
    d->id = g_strdup(id);
    d->prop_keys = keys;
    d->prop_values = values;
    d->prop_kinds = kinds;
    d->json = json;
    d->n_props = n;
    return 0;
}

/* -device '{"driver": ..., "id": ..., "prop": value, ...}' (QEMU's JSON form). */
static int handle_device_json(VireoConfig *cfg, const char *arg, const char *loc)
{
    char *err = NULL;
    QJ *o = qj_parse(arg, &err);
    if (!o || o->type != QJ_OBJECT) {
        error_at(loc, "%s", err ? err : "JSON object expected");
        g_free(err);
        qj_free(o);
        return -1;
    }
    const char *driver = NULL, *id = NULL;
    size_t n = o->obj.n;
    char **keys = g_new0(char *, n + 1), **values = g_new0(char *, n + 1);
    char *kinds = g_new0(char, n + 1);
    int np = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = o->obj.m[i].key;
        QJ *v = o->obj.m[i].value;
        if (!strcmp(k, "driver") || !strcmp(k, "id")) {
            if (v->type != QJ_STRING) {
                error_at(loc, "Parameter '%s' expects string", k);
                r = -1;
                break;
            }
            *(!strcmp(k, "driver") ? &driver : &id) = v->s;
            continue;
        }
        keys[np] = g_strdup(k);
        switch (v->type) {
        case QJ_BOOL:
            kinds[np] = 'b';
            values[np] = g_strdup(v->b ? "true" : "false");
            break;
        case QJ_INT:
            kinds[np] = 'i';
            values[np] = g_strdup_printf("%" G_GINT64_FORMAT, v->i);
            break;
        case QJ_UINT:
            kinds[np] = 'i';
            values[np] = g_strdup_printf("%" G_GUINT64_FORMAT, v->u);
            break;
        case QJ_STRING:
            kinds[np] = 's';
            values[np] = g_strdup(v->s);
            break;
        default:
            kinds[np] = 'o';
            values[np] = g_strdup("");
            break;
        }
        np++;
    }
    if (r == 0) {
        r = add_device(cfg, loc, driver, id, keys, values, kinds, np, true);
    }
    if (r < 0) {
        g_strfreev(keys);
        g_strfreev(values);
        g_free(kinds);
    }
    qj_free(o);
    return r;
}

/* -device DRIVER[,id=ID][,prop=value...] (QemuOpts, implied key "driver"): syntax and id. */
static int handle_device(VireoConfig *cfg, const char *arg, const char *loc)
{
    if (arg[0] == '{') {
        return handle_device_json(cfg, arg, loc);
    }
    char *err = NULL;
    QOpts *o = qopts_parse("device", arg, loc, "driver", QOPTS_LEGACY, &err);
    if (!o) {
        error_at(loc, "%s", err);
        g_free(err);
        return -1;
    }
    char **keys = g_new0(char *, o->n_pairs + 2), **values = g_new0(char *, o->n_pairs + 2);
    int n = 0;
    for (size_t i = 0; i < o->n_pairs; i++) {
        const char *k = o->pairs[i].key;
        if (strcmp(k, "driver") && strcmp(k, "id")) {
            keys[n] = g_strdup(k);
            values[n++] = g_strdup(o->pairs[i].value);
        }
    }
    if (o->help) {
        keys[n] = g_strdup("help");
        values[n++] = g_strdup("on");
    }
    int r = add_device(cfg, loc, qopts_get(o, "driver"), qopts_get(o, "id"), keys, values, NULL, n,
                       false);
    if (r < 0) {
        g_strfreev(keys);
        g_strfreev(values);
    }
    qopts_free(o);
    return r;
}

static bool device_wants_help(const DeviceConfig *d)
{
    for (int i = 0; i < d->n_props; i++) {
        if (qopts_is_help(d->prop_keys[i])) {
            return true;
        }
    }
    return false;
}

/* "-device help" / "-device DRIVER,help", as QEMU's qdev_device_help(): 1 when handled. */
static int device_help(const VireoConfig *cfg)
{
    for (int i = 0; i < cfg->n_devices; i++) {
        const DeviceConfig *d = &cfg->devices[i];
        if (d->driver && qopts_is_help(d->driver)) {
            device_print_list();
            return 1;
        }
        if (!d->driver || !device_wants_help(d)) {
            continue;
        }
        const DeviceInfo *info = device_info_find(d->driver);
        if (info) {
            device_print_props(info);
        } else {
            error_at(d->loc, "Device '%s' not found", d->driver);
        }
        return 1;
    }
    return 0;
}

/* The devices themselves, after every other check (QEMU creates them last). */
static bool check_devices(const VireoConfig *cfg)
{
    device_set_machine_buses(!cfg->machine_type || strcmp(cfg->machine_type, "none"));
    if (cfg->usb) {
        device_bus_add_pending("usb-bus.0", BUS_USB);
    }
    device_globals_clear();
    for (int i = 0; i < cfg->n_globals; i++) {
        device_global_add(cfg->global_drivers[i], cfg->global_props[i], cfg->global_values[i],
                          NULL);
    }
    /* key=value devices first, then the JSON ones (QEMU's creation order) */
    for (int k = 0; k < 2 * cfg->n_devices; k++) {
        const DeviceConfig *d = &cfg->devices[k % cfg->n_devices];
        if (d->json != (k >= cfg->n_devices)) {
            continue;
        }
        char *err = NULL;
        for (int j = 0; d->json && d->id && j < cfg->n_devices; j++) {
            const DeviceConfig *o = &cfg->devices[j];
            if (o != d && o->id && !strcmp(o->id, d->id) && (!o->json || o < d)) {
                error_at(d->loc, "Duplicate device ID '%s'", d->id);
                return false;
            }
        }
        device_create_from_config(d, true, &err);
        if (err) {
            error_at(d->loc, "%s", err);
            g_free(err);
            return false;
        }
    }
    return true;
}

/* The main pass: returns 1 when done (help/version), -1 on error, 0 to go on. */
static int main_pass(int argc, char **argv, CmdLine *cl, VireoConfig *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const OptDesc *d;
        const char *arg = NULL;
        char *loc;
        int r = 0;

        if (opt[0] != '-') {
            /* a disk image: -hda (QEMU's drive_add(IF_DEFAULT, 0, ...)) */
            if (cmdline_drive_sugar(cfg, 0, false, opt, opt) < 0) {
                return -1;
            }
            continue;
        }
        d = lookup_option(opt);
        if (d->has_arg) {
            arg = argv[++i];
        }
        loc = arg ? g_strdup_printf("%s %s", opt, arg) : g_strdup(opt);

        switch (d->id) {
        case OPT_HELP:
            print_help();
            r = 1;
            break;
        case OPT_VERSION:
            print_version();
            r = 1;
            break;
        case OPT_MACHINE:
            r = handle_machine(cl, arg, loc);
            break;
        case OPT_ACCEL:
            r = handle_accel(cl, arg, loc);
            break;
        case OPT_ENABLE_KVM:
            qopts_set(cl->machine, "accel", "kvm");
            break;
        case OPT_CPU:
            cl->cpu = arg;
            break;
        case OPT_M:
            r = handle_memory(cl, arg, loc);
            break;
        case OPT_SMP: {
            char *err = NULL;
            if (!qopts_parse_into(cl->smp, arg, loc, "cpus", QOPTS_KEYVAL, &err)) {
                error_at(loc, "%s", err);
                g_free(err);
                r = -1;
            }
            break;
        }
        case OPT_KERNEL:
            qopts_set(cl->machine, "kernel", arg);
            break;
        case OPT_INITRD:
            qopts_set(cl->machine, "initrd", arg);
            break;
        case OPT_APPEND:
            qopts_set(cl->machine, "append", arg);
            break;
        case OPT_SERIAL:
            if (cfg->n_serial < VIREO_MAX_SERIAL) {
                /* "none": no port at this index */
                cfg->serial_locs[cfg->n_serial] = g_strdup(loc);
                cfg->serial[cfg->n_serial++] = strcmp(arg, "none") ? g_strdup(arg) : NULL;
            }
            cfg->serial_given = true;
            break;
        case OPT_NOGRAPHIC:
            cfg->nographic = true;
            break;
        case OPT_VNC: {
            char *verr = NULL;
            if (!vnc_check_opts(arg, &verr)) {
                error_at(loc, "%s", verr);
                g_free(verr);
                r = -1;
                break;
            }
            g_free(cfg->vnc);
            g_free(cfg->vnc_loc);
            cfg->vnc = g_strdup(arg);
            cfg->vnc_loc = g_strdup(loc);
            break;
        }
        case OPT_VGA:
            r = handle_vga(cfg, arg, loc);
            break;
        case OPT_BOOT: {
            char *err = NULL;
            if (!qopts_parse_into(cl->boot, arg, loc, "order", QOPTS_LEGACY, &err)) {
                error_at(loc, "%s", err);
                g_free(err);
                r = -1;
            }
            break;
        }
        case OPT_BIOS:
            g_free(cfg->bios);
            cfg->bios = g_strdup(arg);
            break;
        case OPT_DISPLAY:
            r = handle_display(cl, arg, loc);
            if (r == 0) {
                g_free(cl->display_arg);
                cl->display_arg = g_strdup(loc);
            }
            break;
        case OPT_NO_REBOOT:
            cfg->no_reboot = true;
            break;
        case OPT_NO_SHUTDOWN:
            cfg->no_shutdown = true;
            break;
        case OPT_S:
            cfg->start_paused = true;
            break;
        case OPT_NAME:
            r = handle_name(cl, arg, loc);
            break;
        case OPT_K:
            g_free(cfg->keyboard_layout);
            cfg->keyboard_layout = g_strdup(arg);
            break;
        case OPT_NO_HPET:
            qopts_set(cl->machine, "hpet", "off");
            break;
        case OPT_USB:
            qopts_set(cl->machine, "usb", "on");
            break;
        case OPT_USBDEVICE:
            qopts_set(cl->machine, "usb", "on");
            if (cfg->n_usbdevices >= VIREO_MAX_DEVICES) {
                error_at(loc, "too many -usbdevice options");
                r = -1;
                break;
            }
            cfg->usbdevices[cfg->n_usbdevices] = g_strdup(arg);
            cfg->usbdevice_locs[cfg->n_usbdevices++] = g_strdup(loc);
            break;
        case OPT_CHARDEV:
            if (cfg->n_chardevs >= VIREO_MAX_CHARDEVS) {
                error_at(loc, "too many -chardev options");
                r = -1;
                break;
            }
            cfg->chardev_locs[cfg->n_chardevs] = g_strdup(loc);
            cfg->chardevs[cfg->n_chardevs++] = g_strdup(arg);
            break;
        case OPT_NETDEV:
        case OPT_NIC:
        case OPT_NET:
            if (cfg->n_nets >= VIREO_MAX_NETS) {
                error_at(loc, "too many network options");
                r = -1;
                break;
            }
            cfg->nets[cfg->n_nets].kind = d->id == OPT_NETDEV ? NET_OPT_NETDEV
                                          : d->id == OPT_NIC  ? NET_OPT_NIC
                                                              : NET_OPT_NET;
            cfg->nets[cfg->n_nets].spec = g_strdup(arg);
            cfg->nets[cfg->n_nets++].loc = g_strdup(loc);
            if (d->id != OPT_NETDEV) {
                cfg->nic_given = true;
            }
            break;
        case OPT_MON:
            r = handle_mon(cfg, arg, loc);
            break;
        case OPT_QMP:
        case OPT_QMP_PRETTY:
        case OPT_MONITOR:
            if (strcmp(arg, "none") != 0) {
                r = add_monitor(cfg, arg, NULL, d->id != OPT_MONITOR, d->id == OPT_QMP_PRETTY, loc);
            } else if (d->id == OPT_MONITOR) {
                /* -monitor none: no default monitor either */
                cfg->nodefaults_monitor = true;
            }
            break;
        case OPT_DAEMONIZE:
            cfg->daemonize = true;
            break;
        case OPT_PIDFILE:
            g_free(cfg->pidfile);
            cfg->pidfile = g_strdup(arg);
            break;
        case OPT_UUID:
            r = handle_uuid(cfg, arg, loc);
            break;
        case OPT_NODEFAULTS:
            cfg->nodefaults = true;
            break;
        case OPT_DEVICE:
            r = handle_device(cfg, arg, loc);
            break;
        case OPT_GLOBAL:
            r = handle_global(cfg, arg, loc);
            break;
        case OPT_OVERCOMMIT:
            r = handle_overcommit(arg, loc);
            break;
        case OPT_OBJECT:
            r = object_parse(arg, loc);
            break;
        case OPT_DRIVE:
            r = cmdline_drive(cfg, arg, loc);
            break;
        case OPT_HDA:
        case OPT_HDB:
        case OPT_HDC:
        case OPT_HDD:
        case OPT_CDROM:
            r = cmdline_drive_sugar(cfg, d->id == OPT_CDROM ? 2 : (int)(d->id - OPT_HDA),
                                    d->id == OPT_CDROM, arg, loc);
            break;
        case OPT_BLOCKDEV:
            r = cmdline_blockdev(cfg, arg, loc);
            break;
        case OPT_SNAPSHOT:
            cfg->snapshot = true;
            break;
        case OPT_IGNORED:
            break;
        case OPT_UNSUPPORTED:
            error_at(loc, "this option is not supported by Vireo yet");
            r = -1;
            break;
        }
        g_free(loc);
        if (r != 0) {
            return r;
        }
    }
    return 0;
}

/* QEMU's final checks, in QEMU's order. */
static int finish(CmdLine *cl, VireoConfig *cfg)
{
    const QOpts *mo = cl->machine;
    const char *kernel = qopts_get(mo, "kernel");

    if (!kernel && qopts_has(mo, "append")) {
        error_report("-append only allowed with -kernel option");
        return -1;
    }
    if (!kernel && qopts_has(mo, "initrd")) {
        error_report("-initrd only allowed with -kernel option");
        return -1;
    }
    if (qopts_is_help(cl->cpu)) {
        print_cpus();
        return 1;
    }
    if (device_help(cfg)) {
        return 1;
    }

    const char *type = qopts_get(mo, "type");
    const MachineDesc *m = find_machine(type ? type : "pc");
    if (!m) {
        error_report("unsupported machine type\nUse -machine help to list supported machines");
        return -1;
    }
    if (!apply_smp(cl->smp, m, &cfg->smp) || !check_machine_props(mo, m) ||
        !apply_memory(cl->mem, cfg) || !apply_accels(cl, cfg) || !apply_cpu(cl->cpu, cfg) ||
        !apply_display(cl, cfg) || !apply_boot(cl->boot, cfg)) {
        return -1;
    }
    if (kernel && !*kernel) {
        kernel = NULL;
    }
    if (kernel && !m->is_pc) {
        error_report("The -kernel parameter is not supported (use the generic 'loader' device "
                     "instead).");
        return -1;
    }
    cfg->machine_type = g_strdup(m->name);
    /* pc's usb= (checked above as a bool); the machine adds the UHCI and its bus */
    bool usb = false;
    cfg->usb = m->is_pc && qopts_has(mo, "usb") && qopts_parse_bool(qopts_get(mo, "usb"), &usb) &&
               usb;
    cfg->kernel = g_strdup(kernel);
    cfg->initrd = g_strdup(kernel ? qopts_get(mo, "initrd") : NULL);
    cfg->append = g_strdup(kernel ? qopts_get(mo, "append") : NULL);
    cfg->name = g_strdup(qopts_get(cl->name, "guest"));
    if (!check_devices(cfg)) {
        return -1;
    }
    return 0;
}

int vireo_parse_cmdline(int argc, char **argv, VireoConfig *cfg)
{
    CmdLine cl = {0};
    int r;

    memset(cfg, 0, sizeof(*cfg));

    /* First pass: unknown options and missing arguments, before anything else. */
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            continue;
        }
        const OptDesc *d = lookup_option(argv[i]);
        if (!d) {
            error_report("%s: invalid option", argv[i]);
            return -1;
        }
        if (d->has_arg) {
            if (i + 1 >= argc) {
                error_report("%s: requires an argument", argv[i]);
                return -1;
            }
            i++;
        }
    }

    cl.machine = qopts_new("machine");
    cl.smp = qopts_new("smp");
    cl.mem = qopts_new("m");
    cl.name = qopts_new("name");
    cl.boot = qopts_new("boot");

    r = main_pass(argc, argv, &cl, cfg);
    if (r == 0) {
        r = finish(&cl, cfg);
    }
    cmdline_free(&cl);
    if (r != 0) {
        vireo_config_free(cfg);
    }
    return r;
}

void vireo_config_free(VireoConfig *cfg)
{
    g_free(cfg->machine_type);
    g_free(cfg->cpu_model);
    g_free(cfg->cpu_def);
    g_free(cfg->kernel);
    g_free(cfg->bios);
    g_free(cfg->boot_order);
    g_free(cfg->boot_once);
    g_free(cfg->boot_splash);
    g_free(cfg->vga);
    g_free(cfg->initrd);
    g_free(cfg->append);
    g_free(cfg->name);
    g_free(cfg->keyboard_layout);
    for (int i = 0; i < cfg->n_usbdevices; i++) {
        g_free(cfg->usbdevices[i]);
        g_free(cfg->usbdevice_locs[i]);
    }
    for (int i = 0; i < cfg->n_devices; i++) {
        DeviceConfig *d = &cfg->devices[i];
        for (int j = 0; j < d->n_props; j++) {
            g_free(d->prop_keys[j]);
            g_free(d->prop_values[j]);
            d->prop_keys[j] = d->prop_values[j] = NULL;
        }
        g_free(d->prop_keys);
        g_free(d->prop_values);
        g_free(d->prop_kinds);
        g_free(d->driver);
        g_free(d->id);
        g_free(d->loc);
    }
    for (int i = 0; i < VIREO_MAX_SERIAL; i++) {
        g_free(cfg->serial[i]);
        g_free(cfg->serial_locs[i]);
    }
    for (int i = 0; i < cfg->n_nets; i++) {
        g_free(cfg->nets[i].spec);
        g_free(cfg->nets[i].loc);
    }
    for (int i = 0; i < cfg->n_chardevs; i++) {
        g_free(cfg->chardevs[i]);
        g_free(cfg->chardev_locs[i]);
    }
    for (int i = 0; i < cfg->n_mons; i++) {
        g_free(cfg->mons[i].spec);
        g_free(cfg->mons[i].chardev);
        g_free(cfg->mons[i].loc);
    }
    g_free(cfg->uuid);
    g_free(cfg->vnc);
    g_free(cfg->vnc_loc);
    g_free(cfg->pidfile);
    for (int i = 0; i < cfg->n_globals; i++) {
        g_free(cfg->global_drivers[i]);
        g_free(cfg->global_props[i]);
        g_free(cfg->global_values[i]);
    }
    g_free(cfg->global_drivers);
    g_free(cfg->global_props);
    g_free(cfg->global_values);
    cmdline_block_free(cfg);
    memset(cfg, 0, sizeof(*cfg));
}
