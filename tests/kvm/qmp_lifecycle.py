"""QMP with a booted guest under KVM (run by tests/kvm/qmp-lifecycle.sh, inside the nested guest
when this machine has no hardware KVM): -S + cont, query-cpus-fast with 4 vCPUs, stop/cont
while the guest runs, events in order while the guest boots and powers off under -no-shutdown,
system_reset out of the shutdown state, system_powerdown reaching the guest's ACPI power
button, and SIGTERM giving SHUTDOWN {guest: false, reason: host-signal}."""
import os
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import CACHE, Emu, check, expect, fail, finish, ok, run_attempts  # noqa: E402

NESTED = os.environ.get("VIREO_NESTED") == "1"
TMO = 120 if NESTED else 60
KERNEL = os.path.join(CACHE, "vmlinuz-cloud")
INITRD = os.path.join(CACHE, "test-initrd.cpio.gz")


def guest(action, extra, smp=4):
    return ["-accel", "kvm", "-m", "512", "-smp", str(smp), "-display", "none",
            "-kernel", KERNEL, "-initrd", INITRD,
            "-append", "console=ttyS0 panic=-1 vireo.action=" + action] + extra


def event_names(q):
    return [e["event"] for e in q.events]


def lifecycle():
    tmp_log = "/tmp/vireo-qmp-lifecycle-serial.log"
    vm = Emu(guest("poweroff", ["-S", "-no-shutdown", "-name", "lc", "-serial", "file:" + tmp_log]))
    try:
        q = vm.qmp()
        q.negotiate()
        expect("lifecycle/prelaunch", q.cmd("query-status")["return"]["status"], "prelaunch")
        cpus = q.cmd("query-cpus-fast")["return"]
        tids = [c["thread-id"] for c in cpus]
        check("lifecycle/cpus-fast-4", len(cpus) == 4 and len(set(tids)) == 4 and
              vm.proc.pid not in tids and [c["cpu-index"] for c in cpus] == [0, 1, 2, 3],
              repr(cpus))
        hmp = q.hmp("info cpus")
        check("lifecycle/hmp-info-cpus", hmp.startswith("* CPU #0: thread_id=%d\r\n" % tids[0]) and
              hmp.count("CPU #") == 4, repr(hmp))
        time.sleep(0.5)
        check("lifecycle/-S-stays-paused", not os.path.exists(tmp_log) or
              os.path.getsize(tmp_log) == 0, "the guest printed while paused")
        r = q.cmd("cont")
        expect("lifecycle/cont", r, {"return": {}})
        expect("lifecycle/resume-event", event_names(q), ["RESUME"])
        q.events.clear()
        # stop/cont while the guest boots
        time.sleep(0.3)
        r = q.cmd("stop")
        check("lifecycle/stop", r == {"return": {}} and event_names(q) == ["STOP"], repr((r, q.events)))
        expect("lifecycle/paused", q.cmd("query-status")["return"],
               {"running": False, "singlestep": False, "status": "paused"})
        regs = q.hmp("info registers")
        check("lifecycle/info-registers", "RIP=" in regs and "CR3=" in regs, regs[:200])
        q.events.clear()
        q.cmd("cont")
        # the guest powers off: SHUTDOWN (guest-shutdown), then STOP (-no-shutdown)
        sd = q.wait_event("SHUTDOWN", TMO)
        check("lifecycle/shutdown-event", sd and sd["data"] == {"guest": True, "reason": "guest-shutdown"},
              repr(sd))
        st = q.wait_event("STOP", 10)
        check("lifecycle/stop-after-shutdown", st is not None, repr(q.events))
        expect("lifecycle/state-shutdown", q.cmd("query-status")["return"]["status"], "shutdown")
        expect("lifecycle/hmp-status-shutdown", q.hmp("info status"), "VM status: paused (shutdown)\r\n")
        expect("lifecycle/cont-needs-reset", q.cmd("cont"),
               {"error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}})
        check("lifecycle/alive-after-poweroff", vm.alive(), "process exited under -no-shutdown")
        q.events.clear()
        r = q.cmd("system_reset")
        rs = [e for e in q.events if e["event"] == "RESET"]
        check("lifecycle/system-reset", r == {"return": {}} and len(rs) == 1 and
              rs[0]["data"] == {"guest": False, "reason": "host-qmp-system-reset"}, repr((r, q.events)))
        expect("lifecycle/reset-to-prelaunch", q.cmd("query-status")["return"]["status"], "prelaunch")
        q.events.clear()
        q.cmd("cont")
        sd = q.wait_event("SHUTDOWN", TMO)
        check("lifecycle/second-boot-poweroff", sd is not None, repr(q.events))
        q.events.clear()
        vm.proc.send_signal(signal.SIGTERM)
        sd = q.wait_event("SHUTDOWN", 10)
        check("lifecycle/sigterm-event", sd and sd["data"] == {"guest": False, "reason": "host-signal"},
              repr(sd))
        expect("lifecycle/sigterm-exit", vm.wait(TMO), 0)
        log = open(tmp_log, errors="replace").read()
        check("lifecycle/guest-booted-twice", log.count("VIREO-INIT-OK") == 2, log[-300:])
    except Exception as e:  # noqa: BLE001
        # Say why the emulator went away: its exit status, stderr and the guest's last lines.
        serial = open(tmp_log, errors="replace").read()[-600:] if os.path.exists(tmp_log) else ""
        fail("lifecycle", "exception %r; exit %r; stderr: %r; serial: %r"
             % (e, vm.proc.poll(), vm.stderr()[-1200:], serial))
    finally:
        vm.stop()
        if os.path.exists(tmp_log):
            os.unlink(tmp_log)


def guest_reset_events():
    """A guest that reboots: RESET, and the machine (reset in place: devices reset, RAM kept, a
    fresh KVM VM underneath) boots Linux again with both vCPUs and reboots again."""
    fd, log = tempfile.mkstemp(prefix="vireo-reboot-serial.")
    os.close(fd)
    vm = Emu(guest("reboot", ["-serial", "file:" + log], smp=2))
    try:
        q = vm.qmp()
        q.negotiate()
        rs = q.wait_event("RESET", TMO)
        check("reboot/reset-event", rs and rs["data"] == {"guest": True, "reason": "guest-reset"}, repr(rs))
        expect("reboot/still-running", q.cmd("query-status")["return"]["status"], "running")
        rs2 = q.wait_event("RESET", TMO)
        with open(log, "rb") as f:
            serial = f.read().decode(errors="replace")
        check("reboot/boots-again", rs2 is not None and serial.count("VIREO-INIT-OK") >= 2 and
              serial.count("smp: Brought up 1 node, 2 CPUs") >= 2,
              "second RESET %r; serial: %r" % (rs2, serial[-600:]))
        q.cmd("quit")
        expect("reboot/quit-exit", vm.wait(), 0)
    finally:
        vm.stop()
        if os.path.exists(log):
            os.unlink(log)


def powerdown():
    """system_powerdown: POWERDOWN at once; a guest watching its ACPI power button powers off."""
    tmp = "/tmp/vireo-qmp-pwr.sock"
    vm = Emu(guest("shell", ["-chardev", "socket,id=ser,path=%s,server=on,wait=off" % tmp,
                             "-serial", "chardev:ser"], smp=1))
    try:
        q = vm.qmp()
        q.negotiate()
        s = socket.socket(socket.AF_UNIX)
        s.connect(tmp)
        s.settimeout(TMO)
        out = b""
        while b"vireo: shell" not in out:
            d = s.recv(4096)
            if not d:
                break
            out += d
        # Power off when the kernel counts a fixed-feature power button event.
        s.sendall(b"f=/sys/firmware/acpi/interrupts/ff_pwr_btn; a=$(cat $f); echo WATCH:$a; "
                  b"while [ \"$(cat $f)\" = \"$a\" ]; do sleep 0.2; done; echo PWRBTN; poweroff -f\n")
        while b"WATCH:" not in out.split(b"vireo: shell", 1)[1].replace(b"echo WATCH", b""):
            d = s.recv(4096)
            if not d:
                break
            out += d
        r = q.cmd("system_powerdown")
        check("powerdown/event", r == {"return": {}} and "POWERDOWN" in event_names(q),
              repr((r, q.events)))
        sd = q.wait_event("SHUTDOWN", 60)
        if sd:
            expect("powerdown/guest-powers-off", sd["data"], {"guest": True, "reason": "guest-shutdown"})
        else:
            s.settimeout(2)
            try:
                out += s.recv(65536)
            except OSError:
                pass
            fail("powerdown/guest-powers-off", "no SHUTDOWN; console: %r" % out[-600:])
        expect("powerdown/exit", vm.wait(TMO), 0)
        s.close()
    finally:
        vm.stop()


# Inside the nested guest a scenario that fails runs once more (run_attempts): each boots Linux,
# and the nested stack now and then hangs or breaks such a guest, QEMU 7.2's as well as ours.
for f in (lifecycle, guest_reset_events, powerdown):
    run_attempts(f, NESTED)
finish()
