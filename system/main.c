/*
 * qemu-system-x86_64: parse the command line, open the chardevs and monitors, build the
 * machine, then run the glib main loop on this thread (signals, run-state requests, chardev
 * and monitor I/O) while the vCPU threads run the guest.
 *
 * Start-up order, as QEMU's: -daemonize forks first (the parent waits until the child reports
 * that everything listens), the child writes -pidfile, then -chardev backends, serial and
 * monitor chardevs, monitors, sockets with wait=on wait for their client, the machine is
 * built (vCPUs parked under -S), muxes send their open events, and the parent is released.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "vireo/net.h"
#include "vireo/ui.h"
#include "vireo/accel.h"
#include "vireo/blockdev.h"
#include "vireo/chardev.h"
#include "vireo/config.h"
#include "vireo/error.h"
#include "vireo/monitor.h"
#include "vireo/pc.h"
#include "vireo/rng.h"
#include "vireo/runstate.h"

static GMainLoop *loop;
static int exit_status;
static VireoConfig cfg;
static Chardev *serial_chr[VIREO_MAX_SERIAL];
static int daemon_pipe = -1;
static bool pidfile_written;

static void finish(int status)
{
    exit_status = status;
    g_main_loop_quit(loop);
}

static gboolean on_request(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    runstate_send_events();
    runstate_handle_request(runstate_take_request());
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gint fd, GIOCondition cond, gpointer opaque)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) != sizeof(si)) {
        return G_SOURCE_CONTINUE;
    }
    chardev_restore_tty();
    char comm[64] = "";
    char path[64];
    snprintf(path, sizeof(path), "/proc/%u/cmdline", si.ssi_pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(comm, 1, sizeof(comm) - 1, f);
        comm[n] = 0;
        fclose(f);
    }
    if (si.ssi_pid) {
        error_report("terminating on signal %u from pid %u (%s)", si.ssi_signo, si.ssi_pid, comm);
    } else {
        error_report("terminating on signal %u", si.ssi_signo);
    }
    vm_shutdown_and_exit(SHUTDOWN_HOST_SIGNAL, 0);
    return G_SOURCE_CONTINUE;
}

/* Report an error for an option: "-chardev ARG: message". */
static bool have_default_monitor(void)
{
    return !cfg.nodefaults && !cfg.nodefaults_monitor && cfg.n_mons == 0;
}

/* -serial: "chardev:ID", "mon:SPEC" (a mux shared with a human monitor), or a legacy spec.
 * Without -serial: -nographic puts the serial port (and the monitor, when none is given) on
 * stdio, as QEMU does; otherwise it would go to a graphical console Vireo lacks: null. */
static int open_serial_ports(bool machine_none)
{
    if (!cfg.serial_given && !cfg.nodefaults && !machine_none) {
        if (cfg.nographic) {
            cfg.serial[0] = g_strdup(have_default_monitor() ? "mon:stdio" : "stdio");
        } else {
            cfg.serial[0] = g_strdup("vc:80Cx24C");
        }
        cfg.n_serial = 1;
    }
    for (int i = 0; i < cfg.n_serial; i++) {
        const char *spec = cfg.serial[i];
        const char *loc = cfg.serial_locs[i];
        char *err = NULL;
        if (!spec) {
            continue;
        }
        char *label = g_strdup_printf("serial%d", i);
        if (!strncmp(spec, "chardev:", 8)) {
            serial_chr[i] = chardev_find(spec + 8);
            if (!serial_chr[i]) {
                err = g_strdup_printf("could not connect serial device to character backend "
                                      "'%s'",
                                      spec);
            }
        } else if (!strncmp(spec, "mon:", 4)) {
            serial_chr[i] = chardev_new_legacy(label, spec + 4, true, &err);
            if (serial_chr[i] && !monitor_new(serial_chr[i], false, false, &err)) {
                serial_chr[i] = NULL;
            }
        } else {
            serial_chr[i] = chardev_new_legacy(label, spec, false, &err);
        }
        g_free(label);
        if (!serial_chr[i]) {
            error_report_at(loc, err);
            if (strncmp(spec, "chardev:", 8) != 0) {
                char *m = g_strdup_printf("could not connect serial device to character "
                                          "backend '%s'",
                                          spec);
                error_report_at(loc, m);
                g_free(m);
            }
            g_free(err);
            return -1;
        }
    }
    return 0;
}

static int open_monitors(void)
{
    int compat = 0;
    for (int i = 0; i < cfg.n_mons; i++) {
        MonitorConfig *m = &cfg.mons[i];
        char *err = NULL;
        Chardev *chr;
        if (m->spec) {
            char *label = g_strdup_printf("compat_monitor%d", compat++);
            chr = chardev_new_legacy(label, m->spec, false, &err);
            g_free(label);
        } else {
            chr = chardev_find(m->chardev);
            if (!chr) {
                err = g_strdup_printf("chardev \"%s\" not found", m->chardev);
            }
        }
        if (!chr || !monitor_new(chr, m->qmp, m->pretty, &err)) {
            error_report_at(m->loc, err);
            if (m->spec && !chr) {
                char *pe = g_strdup_printf("parse error: %s", m->spec);
                if (strstr(err, "is not a valid char driver") && !strchr(err, '=')) {
                    error_report_at(m->loc, pe);
                }
                g_free(pe);
            }
            g_free(err);
            return -1;
        }
    }
    return 0;
}

static int open_chardevs(void)
{
    for (int i = 0; i < cfg.n_chardevs; i++) {
        char *err = NULL;
        if (!chardev_new_from_opts(cfg.chardevs[i], &err)) {
            error_report_at(cfg.chardev_locs[i], err);
            g_free(err);
            return -1;
        }
    }
    return 0;
}

/* -daemonize: fork now; the parent exits 0 once the child calls daemon_ready(), 1 if the
 * child dies first. */
static void daemonize_start(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        error_report("cannot create pipe: %s", strerror(errno));
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        error_report("cannot fork: %s", strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        close(fds[1]);
        char status = 1;
        ssize_t n;
        do {
            n = read(fds[0], &status, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 && status == 0 ? 0 : 1);
    }
    close(fds[0]);
    daemon_pipe = fds[1];
    setsid();
    umask(027);
}

static void daemon_ready(void)
{
    if (daemon_pipe < 0) {
        return;
    }
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        close(null);
    }
    char ok = 0;
    ssize_t r = write(daemon_pipe, &ok, 1);
    (void)r;
    close(daemon_pipe);
    daemon_pipe = -1;
}

static int write_pidfile(void)
{
    int fd = open(cfg.pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_report("cannot create PID file: Could not create '%s': %s", cfg.pidfile,
                     strerror(errno));
        return -1;
    }
    if (lockf(fd, F_TLOCK, 0) < 0) {
        error_report("cannot create PID file: Cannot lock pid file '%s': %s", cfg.pidfile,
                     strerror(errno));
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || write(fd, buf, n) != n) {
        error_report("cannot create PID file: Failed to write PID file: %s", strerror(errno));
        close(fd);
        return -1;
    }
    /* The descriptor stays open (and locked) for the life of the process. */
    pidfile_written = true;
    return 0;
}

static void quit_from_mux(void)
{
    monitor_quit();
}

int main(int argc, char **argv)
{
    int r = vireo_parse_cmdline(argc, argv, &cfg);
    if (r < 0) {
        return 1;
    }
    if (r > 0) {
        vireo_config_free(&cfg);
        return 0;
    }
    if (cfg.daemonize) {
        daemonize_start();
    }
    if (cfg.pidfile && write_pidfile() < 0) {
        return 1;
    }

    /* Signals that end the VM are read from a signalfd by the main loop; every thread
     * (vCPU threads inherit this mask) keeps them blocked. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    int req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sig_fd < 0 || req_fd < 0) {
        error_report("cannot create signal/event descriptors: %s", strerror(errno));
        return 1;
    }
    runstate_set_wakeup_fd(req_fd);
    runstate_exit_hook = finish;
    runstate_add_notifier(monitor_event);
    chardev_quit_hook = quit_from_mux;
    loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(sig_fd, G_IO_IN, on_signal, NULL);
    g_unix_fd_add(req_fd, G_IO_IN, on_request, NULL);

    bool machine_none = cfg.machine_type && !strcmp(cfg.machine_type, "none");
    char *err = NULL;
    if (open_chardevs() < 0 || open_serial_ports(machine_none) < 0 || open_monitors() < 0) {
        exit_status = 1;
        goto out;
    }
    if (!chardev_wait_for_clients(&err)) {
        error_report("%s", err);
        g_free(err);
        exit_status = 1;
        goto out;
    }
    if (objects_create_all() < 0 || blockdev_init_all(&cfg) < 0) {
        exit_status = 1;
        goto out;
    }
    if (net_init_clients(&cfg) < 0) {
        exit_status = 1;
        goto out;
    }
    if (accel_select(&cfg) < 0) {
        exit_status = 1;
        goto out;
    }
    vm_setup(&cfg, serial_chr, cfg.n_serial, !machine_none);
    if (vm_boot(cfg.start_paused) < 0) {
        exit_status = 1;
        goto out;
    }
    net_check_clients();
    if (cfg.keyboard_layout) {
        vnc_set_keyboard_layout(cfg.keyboard_layout);
    }
    if (cfg.vnc && !vnc_display_init(cfg.vnc, cfg.name, &err)) {
        error_report("%s: %s", cfg.vnc_loc, err);
        g_free(err);
        exit_status = 1;
        goto out;
    }
    chardev_muxes_realized();
    daemon_ready();
    g_main_loop_run(loop);
out:
    vnc_display_cleanup();
    vm_teardown();
    net_cleanup();
    blockdev_close_all();
    objects_destroy_all();
    monitor_free_all();
    chardev_close_all();
    g_main_loop_unref(loop);
    close(sig_fd);
    close(req_fd);
    if (pidfile_written) {
        unlink(cfg.pidfile);
    }
    vireo_config_free(&cfg);
    return exit_status;
}
