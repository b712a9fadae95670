/*
 * qemu-system-x86_64: parse the command line, open the chardevs, build the machine, then run
 * the glib main loop on this thread (signals, run-state requests, chardev input) while the
 * vCPU threads run the guest.
 */
#include <errno.h>
#include <glib.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "vireo/accel.h"
#include "vireo/chardev.h"
#include "vireo/config.h"
#include "vireo/error.h"
#include "vireo/pc.h"
#include "vireo/runstate.h"

static GMainLoop *loop;
static int exit_status;
static VireoConfig cfg;
static Chardev *serial_chr[VIREO_MAX_SERIAL];
static bool machine_running;

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
    ShutdownCause c = runstate_take_request();
    switch (c) {
    case SHUTDOWN_NONE:
        break;
    case SHUTDOWN_GUEST_POWEROFF:
        if (cfg.no_shutdown) {
            /* -no-shutdown: the guest is gone but the process stays, paused. */
            pc_machine_stop();
            machine_running = false;
        } else {
            finish(0);
        }
        break;
    case SHUTDOWN_GUEST_RESET:
        if (cfg.no_reboot) {
            finish(0);
            break;
        }
        pc_machine_stop();
        if (pc_machine_start(&cfg, serial_chr, cfg.n_serial) < 0) {
            finish(1);
        }
        break;
    case SHUTDOWN_GUEST_PANIC:
        finish(1);
        break;
    case SHUTDOWN_HOST_SIGNAL:
        finish(0);
        break;
    }
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
    finish(0);
    return G_SOURCE_CONTINUE;
}

static const char *default_serial(void)
{
    /* With -nographic the first serial port shares stdio (QEMU multiplexes it with the
     * monitor; the monitor comes with the QMP/HMP work). Otherwise it would go to the
     * graphical console, which Vireo does not have yet: null. */
    return cfg.nographic ? "mon:stdio" : "null";
}

static int open_serial_ports(void)
{
    if (!cfg.serial_given) {
        cfg.serial[0] = g_strdup(default_serial());
        cfg.n_serial = 1;
    }
    for (int i = 0; i < cfg.n_serial; i++) {
        const char *spec = cfg.serial[i];
        if (!spec) {
            continue;
        }
        if (!strncmp(spec, "mon:", 4)) {
            spec += 4;
        }
        bool none;
        serial_chr[i] = chardev_from_spec(spec, &none);
        if (!serial_chr[i] && !none) {
            return -1;
        }
    }
    return 0;
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
    loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(sig_fd, G_IO_IN, on_signal, NULL);
    g_unix_fd_add(req_fd, G_IO_IN, on_request, NULL);

    bool machine_none = cfg.machine_type && !strcmp(cfg.machine_type, "none");
    if (open_serial_ports() < 0 || machine_select_accel(&cfg) < 0) {
        exit_status = 1;
        goto out;
    }
    if (!machine_none) {
        if (pc_machine_start(&cfg, serial_chr, cfg.n_serial) < 0) {
            exit_status = 1;
            goto out;
        }
        machine_running = true;
    }
    g_main_loop_run(loop);
out:
    pc_machine_stop();
    chardev_restore_tty();
    for (int i = 0; i < VIREO_MAX_SERIAL; i++) {
        chardev_close(serial_chr[i]);
    }
    g_main_loop_unref(loop);
    close(sig_fd);
    close(req_fd);
    vireo_config_free(&cfg);
    return exit_status;
}
