"""tests/tcg/pci-guest.sh's QMP part after the guest's "go" (in the same boot, no boot of its
own): disk hotplug, the balloon's guest statistics, and a SIGKILL after flushed writes. The host
side; the guest's side is pci-guest.sh's init ("@hp" and "@kill" lines).

    pci-guest-late.py QMP-SOCKET SERIAL-FILE IMAGE NOTES KILL-PID

The balloon first: qom-set of its guest-stats-polling-interval to 1 (the guest's driver gets
its statistics buffer back at once and every second). Over QMP then: blockdev-add a qcow2 node
(cache writeback) and device_add a virtio-blk-pci on it; the guest's acpiphp finds the disk,
reads it, writes to it (flushed) and says so ("@hp written"); device_del: the guest ejects the
slot (_EJ0), DEVICE_DELETED comes (QEMU's two), blockdev-del then succeeds (nothing holds the
node any more), and the guest has let the disk go. Before the unplug, while the guest waits for
it: qom-get of the balloon's guest-stats (once the guest has reported): which statistics the
guest reported, and the total memory it gave. With KILL-PID (Vireo's normal run only) the node and the disk come back, the guest writes
and flushes once more ("@kill flushed"), goes on writing, and the emulator (KILL-PID) gets
SIGKILL a moment later. The replies and the events go to NOTES, one line each, for the
comparison with QEMU 7.2's run; the kill phase's to NOTES.kill, the guest's total memory as the
balloon reported it to NOTES.total."""
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
def find_balloon(q):
    for i in range(32):
        p = "/machine/peripheral-anon/device[%d]" % i
        if q.cmd("qom-get", {"path": p, "property": "type"}).get("return") == "virtio-balloon-pci":
            return p
    return None


q = QMP(sock, timeout=30)
q.negotiate()
try:
    bal = find_balloon(q)
    note("balloon-polling", bal and q.cmd("qom-set", {
        "path": bal, "property": "guest-stats-polling-interval", "value": 1}))
    plug(q, "hp1")
    note("guest-wrote", wait_for("@hp written"))
    # (while the guest waits for the unplug: once it has let the disk go it powers off)
    # the guest's statistics, once it has reported (-1: a statistic it does not report)
    st = {}
    end = time.time() + 30
    while bal and time.time() < end:
        st = q.cmd("qom-get", {"path": bal, "property": "guest-stats"}).get("return", {})
        if st.get("last-update"):
            break
        time.sleep(0.2)
    stats = st.get("stats", {})
    note("guest-stats-reported", sorted(k for k, v in stats.items() if v != (1 << 64) - 1))
    note("guest-stats-updated", bool(st.get("last-update")))
    with open(notes_path + ".total", "w") as f:
        f.write("%s\n" % stats.get("stat-total-memory"))
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
