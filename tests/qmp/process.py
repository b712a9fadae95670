"""Process life: libvirt's probe command line (-daemonize: the parent exits 0 once the QMP
socket listens, the daemon keeps no stdio; -pidfile), the probe's QMP queries, a daemon
that fails before it is ready, SIGINT/SIGTERM as SHUTDOWN host-signal."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import QMP, VIREO, Emu, check, expect, fail, finish  # noqa: E402


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def libvirt_probe():
    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "qmp.monitor")
    pidfile = os.path.join(tmp, "qmp.pid")
    argv = [VIREO, "-S", "-no-user-config", "-nodefaults", "-nographic",
            "-machine", "none,accel=kvm:tcg", "-qmp", "unix:%s,server=on,wait=off" % sock,
            "-pidfile", pidfile, "-daemonize"]
    # libvirt waits for the foreground process and for EOF on the stderr it captures
    t0 = time.time()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    expect("probe/parent-exit", p.returncode, 0)
    check("probe/stdio-released", time.time() - t0 < 20, "took %.1fs" % (time.time() - t0))
    pid = int(open(pidfile).read().strip()) if os.path.exists(pidfile) else 0
    check("probe/pidfile", pid > 0 and pid_alive(pid), repr(pid))
    check("probe/socket-listens", os.path.exists(sock))
    try:
        q = QMP(sock)
        q.negotiate()
        for c in ["query-version", "query-target", "query-qmp-schema", "query-commands",
                  "query-kvm", "query-machines", "query-command-line-options",
                  "query-migrate-capabilities", "query-jobs"]:
            r = q.cmd(c, id="libvirt-1")
            check("probe/" + c, "return" in r and r.get("id") == "libvirt-1", repr(r)[:200])
        expect("probe/prelaunch", q.cmd("query-status")["return"]["status"], "prelaunch")
        q.cmd("quit")
        for _ in range(200):
            if not pid_alive(pid):
                break
            time.sleep(0.05)
        check("probe/quit-ends-daemon", not pid_alive(pid))
        check("probe/pidfile-removed", not os.path.exists(pidfile))
    finally:
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", tmp])


def daemon_fails():
    tmp = tempfile.mkdtemp()
    p = subprocess.run([VIREO, "-machine", "none", "-nodefaults", "-daemonize",
                        "-pidfile", os.path.join(tmp, "pid"),
                        "-chardev", "socket,id=s,path=%s/none.sock" % tmp],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    check("daemonize/child-error", p.returncode == 1 and "Failed to connect to" in p.stderr,
          repr((p.returncode, p.stderr)))
    subprocess.run(["rm", "-rf", tmp])


def signals():
    for sig in (signal.SIGTERM, signal.SIGINT):
        vm = Emu(["-machine", "none", "-display", "none", "-nodefaults"])
        try:
            q = vm.qmp()
            q.negotiate()
            vm.proc.send_signal(sig)
            e = q.wait_event("SHUTDOWN", 10)
            name = "signal/%d" % sig
            check(name + "-event", e and e["data"] == {"guest": False, "reason": "host-signal"}, repr(e))
            expect(name + "-exit", vm.wait(), 0)
            check(name + "-message", "terminating on signal %d from pid %d" % (sig, os.getpid())
                  in vm.stderr(), vm.stderr())
        finally:
            vm.stop()


for f in (libvirt_probe, daemon_fails, signals):
    try:
        f()
    except Exception as e:  # noqa: BLE001
        fail(f.__name__, "exception %r" % e)
finish()
