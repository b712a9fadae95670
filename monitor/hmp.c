/*
 * HMP, the human monitor: a few of QEMU's commands with QEMU's output texts. Runs on a
 * readline chardev (-monitor stdio, mon:stdio) and under QMP's human-monitor-command.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>
#include "monitor-internal.h"
#include "vireo/accel.h"
#include "vireo/balloon.h"
#include "vireo/ui.h"
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/net.h"
#include "vireo/qemu-opts.h"
#include "vireo/runstate.h"
#include "vireo/usb.h"

typedef void HmpFn(Monitor *mon, char **argv);

typedef struct HmpCmd {
    const char *name; /* "cont|c": aliases after '|' */
    const char *params;
    const char *help;
    HmpFn *fn;
} HmpCmd;

static void print_error(Monitor *mon, const char *msg)
{
    monitor_printf(mon, "Error: %s\n", msg);
}

/* ---- info ----------------------------------------------------------------------------- */

static void info_status(Monitor *mon, char **argv)
{
    RunState s = runstate_get();
    bool running = runstate_is_running();
    monitor_printf(mon, "VM status: %s", running ? "running" : "paused");
    if (!running && s != RUN_STATE_PAUSED) {
        monitor_printf(mon, " (%s)", runstate_name(s));
    }
    monitor_puts(mon, "\n");
}

static void info_version(Monitor *mon, char **argv)
{
    monitor_printf(mon, "%d.%d.%d%s\n", VIREO_QEMU_MAJOR, VIREO_QEMU_MINOR, VIREO_QEMU_MICRO,
                   VIREO_QEMU_PACKAGE);
}

static void info_name(Monitor *mon, char **argv)
{
    const VireoConfig *cfg = vm_config();
    if (cfg && cfg->name) {
        monitor_printf(mon, "%s\n", cfg->name);
    }
}

static void info_uuid(Monitor *mon, char **argv)
{
    const VireoConfig *cfg = vm_config();
    monitor_printf(mon, "%s\n",
                   cfg && cfg->uuid ? cfg->uuid : "00000000-0000-0000-0000-000000000000");
}

static void info_balloon(Monitor *mon, char **argv)
{
    int64_t actual;
    vireo_lock();
    bool ok = balloon_get_actual(&actual);
    vireo_unlock();
    if (!ok) {
        print_error(mon, BALLOON_NOT_ACTIVE_MSG);
        return;
    }
    monitor_printf(mon, "balloon: actual=%" PRId64 "\n", actual >> 20);
}

static void info_kvm(Monitor *mon, char **argv)
{
    monitor_printf(mon, "kvm support: %s\n",
                   current_accel == &kvm_accel_ops ? "enabled" : "disabled");
}

static void info_cpus(Monitor *mon, char **argv)
{
    unsigned n = vm_cpu_count();
    for (unsigned i = 0; i < n; i++) {
        int tid = vm_cpu_thread_id(i);
        monitor_printf(mon, "%c CPU #%u: thread_id=%d\n", i == 0 ? '*' : ' ', i,
                       tid ? tid : (int)getpid());
    }
}

static void info_registers(Monitor *mon, char **argv)
{
    unsigned n = vm_cpu_count();
    unsigned first = 0, last = n ? 1 : 0;
    if (argv[0] && !strcmp(argv[0], "-a")) {
        last = n;
    } else if (argv[0]) {
        char *end;
        unsigned long v = strtoul(argv[0], &end, 0);
        if (*end || v >= n) {
            monitor_printf(mon, "CPU#%s not available\n", argv[0]);
            return;
        }
        first = (unsigned)v;
        last = first + 1;
    }
    for (unsigned i = first; i < last; i++) {
        char *regs = current_accel && current_accel->format_registers
                         ? current_accel->format_registers(i)
                         : NULL;
        monitor_printf(mon, "\nCPU#%u\n", i);
        if (regs) {
            monitor_puts(mon, regs);
            g_free(regs);
        }
    }
}

static void print_chardev(void *opaque, const char *label, const char *filename, bool open)
{
    monitor_printf(opaque, "%s: filename=%s\n", label, filename);
}

static void info_chardev(Monitor *mon, char **argv)
{
    chardev_foreach(print_chardev, mon);
}

static void info_qtree(Monitor *mon, char **argv)
{
    monitor_puts(mon, "bus: main-system-bus\n  type System\n");
    if (!vm_cpu_count()) {
        return; /* -machine none */
    }
    const VireoConfig *cfg = vm_config();
    /* What the PC machine really has (hw/x86/pc.c): no PIIX bridges, the ISA devices sit on
     * their own bus. */
    monitor_puts(mon, "  dev: ioapic, id \"\"\n"
                      "    gpio-in \"\" 24\n"
                      "    mmio 00000000fec00000/0000000000001000\n"
                      "  dev: i440FX-pcihost, id \"\"\n"
                      "    bus: pci.0\n"
                      "      type PCI\n"
                      "      dev: i440FX, id \"\"\n"
                      "        addr = 00.0\n"
                      "        class Host bridge, addr 00:00.0, pci id 8086:1237 (sub 1af4:1100)\n"
                      "  bus: isa.0\n"
                      "    type ISA\n");
    static const unsigned base[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
    static const unsigned irq[4] = {4, 3, 4, 3};
    for (int i = 0; i < cfg->n_serial && i < 4; i++) {
        if (cfg->serial[i]) {
            monitor_printf(mon,
                           "    dev: isa-serial, id \"\"\n"
                           "      index = %d (0x%x)\n"
                           "      iobase = %u (0x%x)\n"
                           "      irq = %u (0x%x)\n"
                           "      chardev = \"serial%d\"\n",
                           i, i, base[i], base[i], irq[i], irq[i], i);
        }
    }
    monitor_puts(mon, "    dev: i8042, id \"\"\n"
                      "    dev: mc146818rtc, id \"\"\n"
                      "      base_year = 0 (0x0)\n"
                      "    dev: acpi-pm, id \"\"\n"
                      "      iobase = 1536 (0x600)\n"
                      "      sci-irq = 9 (0x9)\n");
}

static void info_vnc(Monitor *mon, char **argv)
{
    char *t = vnc_info_text();
    monitor_puts(mon, t);
    g_free(t);
}

static void info_usb(Monitor *mon, char **argv)
{
    (void)argv;
    vireo_lock();
    char *t = usb_info_text();
    vireo_unlock();
    monitor_puts(mon, t ? t : "Error: USB support not enabled\n");
    g_free(t);
}

static void info_network(Monitor *mon, char **argv)
{
    vireo_lock();
    char *t = net_info_network();
    vireo_unlock();
    monitor_puts(mon, t);
    g_free(t);
}

static const HmpCmd info_cmds[] = {
    {"block", "[-n] [-v] [device]", "show info of one block device or all block devices",
     hmp_info_block},
    {"balloon", "", "show balloon information", info_balloon},
    {"blockstats", "", "show block device statistics", hmp_info_blockstats},
    {"chardev", "", "show the character devices", info_chardev},
    {"cpus", "", "show infos for each CPU", info_cpus},
    {"kvm", "", "show KVM information", info_kvm},
    {"name", "", "show the current VM name", info_name},
    {"network", "", "show the network state", info_network},
    {"qtree", "", "show device tree", info_qtree},
    {"registers", "[-a|vcpu]",
     "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to "
     "query; show the current CPU's registers if no argument is specified)",
     info_registers},
    {"status", "", "show the current VM status (running|paused)", info_status},
    {"usb", "", "show guest USB devices", info_usb},
    {"uuid", "", "show the current VM UUID", info_uuid},
    {"version", "", "show the version of QEMU", info_version},
    {"vnc", "", "show the vnc server status", info_vnc},
    {NULL},
};

/* ---- commands ------------------------------------------------------------------------- */

static void hmp_help(Monitor *mon, char **argv);

static void print_cmd_help(Monitor *mon, const char *prefix, const HmpCmd *c)
{
    monitor_printf(mon, "%s%s %s -- %s\n", prefix, c->name, c->params, c->help);
}

static void hmp_info(Monitor *mon, char **argv)
{
    if (!argv[0]) {
        for (const HmpCmd *c = info_cmds; c->name; c++) {
            print_cmd_help(mon, "info ", c);
        }
        return;
    }
    for (const HmpCmd *c = info_cmds; c->name; c++) {
        if (!strcmp(c->name, argv[0])) {
            c->fn(mon, argv + 1);
            return;
        }
    }
    monitor_printf(mon, "unknown command: 'info %s'\n", argv[0]);
}

static void hmp_stop(Monitor *mon, char **argv)
{
    vm_stop(RUN_STATE_PAUSED);
}

static void hmp_cont(Monitor *mon, char **argv)
{
    char *e = NULL;
    if (!vm_start(&e)) {
        print_error(mon, e);
        g_free(e);
    }
}

static void hmp_system_reset(Monitor *mon, char **argv)
{
    vm_reset(SHUTDOWN_HOST_QMP_SYSTEM_RESET);
}

static void hmp_system_powerdown(Monitor *mon, char **argv)
{
    vm_powerdown();
}

/* device_add DRIVER[,prop=value][,...]: the -device syntax. */
static void hmp_device_add(Monitor *mon, char **argv)
{
    if (!argv[0]) {
        print_error(mon, "Parameter 'driver' is missing");
        return;
    }
    char *e = NULL;
    QOpts *o = qopts_parse("device", argv[0], NULL, "driver", QOPTS_LEGACY, &e);
    if (!o) {
        print_error(mon, e);
        g_free(e);
        return;
    }
    DeviceConfig dc = {0};
    dc.prop_keys = g_new0(char *, o->n_pairs + 1);
    dc.prop_values = g_new0(char *, o->n_pairs + 1);
    for (size_t i = 0; i < o->n_pairs; i++) {
        const char *k = o->pairs[i].key;
        if (strcmp(k, "driver") && strcmp(k, "id")) {
            dc.prop_keys[dc.n_props] = g_strdup(k);
            dc.prop_values[dc.n_props++] = g_strdup(o->pairs[i].value);
        }
    }
    dc.driver = (char *)qopts_get(o, "driver");
    dc.id = (char *)qopts_get(o, "id");
    e = device_add_from_monitor(&dc);
    if (e) {
        print_error(mon, e);
        g_free(e);
    }
    g_strfreev(dc.prop_keys);
    g_strfreev(dc.prop_values);
    qopts_free(o);
}

static void hmp_device_del(Monitor *mon, char **argv)
{
    if (!argv[0]) {
        print_error(mon, "Parameter 'id' is missing");
        return;
    }
    char *e = NULL;
    vireo_lock();
    int r = device_unplug_request(argv[0], &e);
    vireo_unlock();
    if (r < 0) {
        print_error(mon, e);
        g_free(e);
    }
}

/* balloon target: in MiB ("value:M"), a plain positive integer. */
static void hmp_balloon(Monitor *mon, char **argv)
{
    const char *try = "Try \"help balloon\" for more information\n";
    if (!argv[0]) {
        monitor_printf(mon, "unexpected end of expression\n%s", try);
        return;
    }
    char *end;
    errno = 0;
    long long v = strtoll(argv[0], &end, 0);
    if (end == argv[0] || errno) {
        monitor_printf(mon, "invalid char '%c' in expression\n%s", argv[0][0], try);
        return;
    }
    if (v < 0) {
        monitor_printf(mon, "enter a positive value\n%s", try);
        return;
    }
    if (*end || argv[1]) {
        monitor_printf(mon, "balloon: extraneous characters at the end of line\n%s", try);
        return;
    }
    vireo_lock();
    bool have = balloon_get_actual(&(int64_t){0});
    if (have && v > 0) {
        balloon_set_target((int64_t)v << 20);
    }
    vireo_unlock();
    if (!have) {
        print_error(mon, BALLOON_NOT_ACTIVE_MSG);
    } else if (v <= 0) {
        print_error(mon, "Parameter 'target' expects a size");
    }
}

static void hmp_quit(Monitor *mon, char **argv)
{
    mon->quitting = true;
    vireo_quit();
}

/* screendump filename [-f format] [device [head]] (QEMU's args "filename:F,format:-fs,..."). */
static void hmp_screendump(Monitor *mon, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL};
    const char *fmt = NULL;
    int n = 0;
    for (int i = 0; argv[i]; i++) {
        if (!strcmp(argv[i], "-f") && n == 1 && !fmt) {
            if (!argv[i + 1]) {
                monitor_puts(mon, "screendump: value expected for -f\n"
                                  "Try \"help screendump\" for more information\n");
                return;
            }
            fmt = argv[++i];
        } else if (n < 3) {
            pos[n++] = argv[i];
        } else {
            monitor_puts(mon, "screendump: extraneous characters at the end of line\n"
                              "Try \"help screendump\" for more information\n");
            return;
        }
    }
    if (!pos[0]) {
        monitor_puts(mon, "screendump: filename expected\n"
                          "Try \"help screendump\" for more information\n");
        return;
    }
    if (fmt && strcmp(fmt, "ppm") && strcmp(fmt, "png")) {
        monitor_printf(mon, "Error: invalid parameter value: %s\n", fmt);
        return;
    }
    int64_t head = 0;
    if (pos[2]) {
        char *end;
        head = g_ascii_strtoll(pos[2], &end, 0);
        if (*end) {
            monitor_printf(mon,
                           "invalid char '%c' in expression\n"
                           "Try \"help screendump\" for more information\n",
                           *end);
            return;
        }
    }
    const char *cls = NULL;
    char *e = NULL;
    if (!console_screendump(pos[0], pos[1], pos[2] != NULL, head, fmt && !strcmp(fmt, "png"),
                            &cls, &e)) {
        print_error(mon, e);
    }
    g_free(e);
}

static void hmp_change(Monitor *mon, char **argv)
{
    if (!argv[0] || !argv[1]) {
        monitor_puts(mon, "change: block device name expected\n"
                          "Try \"help change\" for more information\n");
        return;
    }
    if (strcmp(argv[0], "vnc") != 0) {
        monitor_printf(mon, "Error: Device '%s' not found\n", argv[0]);
        return;
    }
    if (strcmp(argv[1], "password") != 0) {
        monitor_puts(mon, "Expected 'password' after 'vnc'\n");
        return;
    }
    if (!argv[2]) {
        monitor_puts(mon, "terminal does not support password prompting\n");
        return;
    }
    char *hint = NULL;
    if (!vnc_set_password(NULL, argv[2], &hint)) {
        if (hint) {
            monitor_printf(mon, "%s\n", hint);
        }
        print_error(mon, "Could not set password");
    }
    g_free(hint);
}

static void hmp_set_password(Monitor *mon, char **argv)
{
    if (!argv[0] || !argv[1]) {
        monitor_printf(mon, "set_password: %s expected\n"
                            "Try \"help set_password\" for more information\n",
                       argv[0] ? "password" : "protocol");
        return;
    }
    if (strcmp(argv[0], "vnc") != 0) {
        print_error(mon, strcmp(argv[0], "spice") ? "Invalid parameter 'protocol'"
                                                  : "SPICE is not in use");
        return;
    }
    char *hint = NULL;
    if (!vnc_set_password(NULL, argv[1], &hint)) {
        if (hint) {
            monitor_printf(mon, "%s\n", hint);
        }
        print_error(mon, "Could not set password");
    }
    g_free(hint);
}

static void hmp_expire_password(Monitor *mon, char **argv)
{
    if (!argv[0] || !argv[1]) {
        monitor_printf(mon, "expire_password: %s expected\n"
                            "Try \"help expire_password\" for more information\n",
                       argv[0] ? "time" : "protocol");
        return;
    }
    if (strcmp(argv[0], "vnc") != 0) {
        print_error(mon, strcmp(argv[0], "spice") ? "Invalid parameter 'protocol'"
                                                  : "SPICE is not in use");
        return;
    }
    char *e = NULL;
    if (!vnc_expire_password(NULL, argv[1], &e)) {
        print_error(mon, e);
    }
    g_free(e);
}

static const HmpCmd cmds[] = {
    {"balloon", "target", "request VM to change its memory allocation (in MB)", hmp_balloon},
    {"change", "device [-f] filename [format [read-only-mode]]",
     "change a removable medium, optional format, use -f to force the operation", hmp_change},
    {"cont|c", "", "resume emulation", hmp_cont},
    {"device_add", "driver[,prop=value][,...]",
     "add device, like -device on the command line", hmp_device_add},
    {"device_del", "device", "remove device", hmp_device_del},
    {"expire_password", "protocol time [-d display]",
     "set spice/vnc password expire-time", hmp_expire_password},
    {"help|?", "[cmd]", "show the help", hmp_help},
    {"info", "[subcommand]", "show various information about the system state", hmp_info},
    {"netdev_add",
     "[user|tap|socket|stream|dgram|vde|bridge|hubport|netmap|vhost-user],id=str[,prop=value][,...]",
     "add host network device", hmp_netdev_add},
    {"netdev_del", "id", "remove host network device", hmp_netdev_del},
    {"quit|q", "", "quit the emulator", hmp_quit},
    {"screendump", "filename [-f format] [device [head]]",
     "save screen from head 'head' of display device 'device'in specified format 'format' as "
     "image 'filename'.Currently only 'png' and 'ppm' formats are supported.",
     hmp_screendump},
    {"sendkey", "keys [hold_ms]",
     "send keys to the VM (e.g. 'sendkey ctrl-alt-f1', default hold time=100 ms)", hmp_sendkey},
    {"set_link", "name on|off", "change the link status of a network adapter", hmp_set_link},
    {"set_password", "protocol password [-d display] [action-if-connected]",
     "set spice/vnc password", hmp_set_password},
    {"stop|s", "", "stop emulation", hmp_stop},
    {"system_powerdown", "", "send system power down event", hmp_system_powerdown},
    {"system_reset", "", "reset the system", hmp_system_reset},
    {NULL},
};

static bool name_matches(const char *names, const char *word)
{
    char **alts = g_strsplit(names, "|", -1);
    bool m = false;
    for (char **a = alts; *a && !m; a++) {
        m = !strcmp(*a, word);
    }
    g_strfreev(alts);
    return m;
}

static void hmp_help(Monitor *mon, char **argv)
{
    for (const HmpCmd *c = cmds; c->name; c++) {
        if (!argv[0] || name_matches(c->name, argv[0])) {
            if (argv[0] && !strcmp(c->name, "info")) {
                hmp_info(mon, argv + 1);
                return;
            }
            print_cmd_help(mon, "", c);
        }
    }
    if (!argv[0]) {
        for (const HmpCmd *c = info_cmds; c->name; c++) {
            print_cmd_help(mon, "info ", c);
        }
    }
}

void hmp_execute(Monitor *mon, const char *cmdline)
{
    char **argv = g_strsplit_set(cmdline, " \t", -1);
    /* Drop empty words (runs of blanks). */
    int n = 0;
    for (int i = 0; argv[i]; i++) {
        if (*argv[i]) {
            argv[n++] = argv[i];
        } else {
            g_free(argv[i]);
        }
    }
    argv[n] = NULL;
    if (n > 0) {
        const HmpCmd *c;
        for (c = cmds; c->name; c++) {
            if (name_matches(c->name, argv[0])) {
                c->fn(mon, argv + 1);
                break;
            }
        }
        if (!c->name) {
            monitor_printf(mon, "unknown command: '%s'\n", argv[0]);
        }
    }
    g_strfreev(argv);
}
