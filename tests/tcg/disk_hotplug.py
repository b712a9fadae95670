"""Disk hotplug and a SIGKILL after flushed writes, in tests/tcg/pci-guest.sh's boot (no boot of
its own). The host side; the guest's side is pci-guest.sh's init ("@hp" and "@kill" lines).

    disk_hotplug.py QMP-SOCKET SERIAL-FILE IMAGE NOTES KILL-PID

Over QMP: blockdev-add a qcow2 node (cache writeback) and device_add a virtio-blk-pci on it;
the guest's acpiphp finds the disk, reads it, writes to it (flushed) and says so ("@hp
written"); device_del: the guest ejects the slot (_EJ0), DEVICE_DELETED comes, blockdev-del
then succeeds (nothing holds the node any more), and the guest has let the disk go. With KILL-PID (Vireo's
normal run only) the node and the disk come back, the guest writes and flushes once more ("@kill
flushed"), goes on writing without flushing, and the emulator (KILL-PID) gets SIGKILL a moment
later. The replies and the event go to NOTES, one line each, for the comparison with QEMU 7.2's
run; the kill phase's to NOTES.kill."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from qmp import QMP  # noqa: E402

sock, serial, image, notes_path, kill_pid = sys.argv[1:6]
TMO = 240 if os.environ.get("VIREO_NESTED") == "1" else 120
notes = []


def seen(marker):
    try:
        with open(serial, "rb") as f:
            return ("\n" + marker).encode() in f.read().replace(b"\r", b"")
    except OSError:
        return False


def wait_for(marker):
    end = time.time() + TMO
    while time.time() < end:
        if seen(marker):
            return True
        time.sleep(0.1)
    return False


def note(what, r):
    notes.append("%s %s" % (what, json.dumps(r, sort_keys=True)))


def plug(q, dev_id):
    note("blockdev-add", q.cmd("blockdev-add", {
        "driver": "qcow2", "node-name": "hp0", "cache": {"direct": False, "no-flush": False},
        "file": {"driver": "file", "filename": image}}))
    note("device_add", q.cmd("device_add", {
        "driver": "virtio-blk-pci", "id": dev_id, "drive": "hp0", "serial": "VIREO-HP"}))


t0 = time.time()
q = QMP(sock, timeout=30)
q.negotiate()
try:
    plug(q, "hp1")
    note("guest-wrote", wait_for("@hp written"))
    r = q.cmd("device_del", {"id": "hp1"})
    note("device_del", r)
    # the events up to the device's own (QEMU sends its virtio-backend's first)
    end = time.time() + (TMO if r == {"return": {}} else 0)
    while True:
        ev = q.wait_event("DEVICE_DELETED", max(0, end - time.time()))
        note("DEVICE_DELETED", ev and ev["data"])
        if not ev or ev["data"].get("device") == "hp1":
            break
    # (before the guest goes on: it powers off when it has seen the disk go)
    note("blockdev-del", q.cmd("blockdev-del", {"node-name": "hp0"}))
    note("guest-let-go", wait_for("@hp gone"))
except Exception as e:  # noqa: BLE001
    note("exception", repr(e))
with open(notes_path, "w") as f:
    f.write("\n".join(notes) + "\n")
print("hotplug part: %.1f s" % (time.time() - t0))
if kill_pid:
    notes = []
    try:
        plug(q, "hp2")
        if wait_for("@kill flushed"):
            # the guest writes on, unflushed: kill the emulator in the middle of it
            time.sleep(1)
            os.kill(int(kill_pid), signal.SIGKILL)
            note("killed", True)
    except Exception as e:  # noqa: BLE001
        note("exception", repr(e))
    with open(notes_path + ".kill", "w") as f:
        f.write("\n".join(notes) + "\n")
    print("with the kill part: %.1f s" % (time.time() - t0))
