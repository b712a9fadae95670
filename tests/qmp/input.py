"""QMP send-key and input-send-event, HMP sendkey, beside QEMU 7.2: the replies to good and bad
arguments, and the bytes the guest reads from the i8042 for them.

The guest is tests/lib/mkmultiboot.py's "kbd" kernel (it prints every byte of port 0x60 on
COM1, "m" before mouse bytes, and ends on Esc released), booted the same way on both. The
same session runs on both emulators:
  1. input-send-event: key, btn and rel events (the PS/2 keyboard and mouse), abs (no handler:
     an error), and argument errors of every kind (missing, mistyped, unknown members at every
     depth, bad enum values, unknown or unbound devices);
  2. send-key and HMP sendkey: qcodes, numbers, combinations released in reverse order,
     hold-time, errors; then every qcode of QEMU's schema (query-qmp-schema's QKeyCode) one by
     one, and numbers 0..0xff sampled; then Esc, which ends the guest.
The replies must be equal, and the guest's output (the scancodes of set 2 translated to set 1,
mouse packets) byte for byte.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import Emu, QEMU, ROOT, check, expect, fail, finish, normalize, ok, skip  # noqa: E402

K = '{"type":"qcode","data":"%s"}'
EV = '{"execute":"input-send-event","arguments":%s}'
SK = '{"execute":"send-key","arguments":%s}'

# Phase 1: input-send-event (sent at once: they come before any send-key queues keys).
PHASE1 = [
    EV % '{"events":[{"type":"key","data":{"down":true,"key":%s}}]}' % (K % "a"),
    EV % '{"events":[{"type":"key","data":{"down":false,"key":{"type":"number","data":30}}}]}',
    EV % '{"events":[{"type":"btn","data":{"down":true,"button":"left"}},'
         '{"type":"rel","data":{"axis":"x","value":7}},{"type":"rel","data":{"axis":"y","value":-5}}]}',
    EV % '{"events":[{"type":"btn","data":{"down":false,"button":"left"}}]}',
    EV % '{"events":[{"type":"btn","data":{"down":true,"button":"wheel-up"}}]}',
    EV % '{"events":[{"type":"abs","data":{"axis":"x","value":100}}]}',
    EV % '{"events":[{"type":"rel","data":{"axis":"y","value":1}},'
         '{"type":"abs","data":{"axis":"y","value":5}}]}',
    EV % '{"events":[{"type":"btn","data":{"down":true,"button":"touch"}}]}',
    EV % '{"events":[{"type":"rel","data":{"axis":"z","value":-5}}]}',
    EV % '{"events":[{"type":"rel","data":{"axis":"x"}}]}',
    EV % '{"events":[{"type":"rel","data":{"axis":"x","value":1,"extra":1}}]}',
    EV % '{"events":[{"type":"rel"}]}',
    EV % '{"events":[{"type":"rel","data":[]}]}',
    EV % '{"events":[{"type":"foo","data":{}}]}',
    EV % '{"events":[{"data":{}}]}',
    EV % '{"events":[]}',
    EV % '{"events":{}}',
    EV % '{"events":[1]}',
    EV % '{}',
    EV % '{"events":[{"type":"key","data":{"down":1,"key":%s}}]}' % (K % "a"),
    EV % '{"events":[{"type":"key","data":{"down":true,"key":%s}}]}' % (K % "zz"),
    EV % '{"events":[{"type":"key","data":{"down":true,"key":{"type":"number","data":"zz"}}}]}',
    EV % '{"events":[{"type":"key","data":{"down":true}}]}',
    EV % '{"events":[{"type":"key","data":{"key":%s,"down":true,"x":0}}]}' % (K % "b"),
    EV % '{"device":"nope","events":[{"type":"rel","data":{"axis":"y","value":-5}}]}',
    EV % '{"head":1,"events":[{"type":"rel","data":{"axis":"y","value":2}}]}',
    EV % '{"events":[{"type":"rel","data":{"axis":"y","value":-5}}],"x":1}',
    EV % '{"device":"vga0","events":[{"type":"rel","data":{"axis":"x","value":-3}}]}',
    EV % '{"device":"vga0","head":1,"events":[{"type":"rel","data":{"axis":"y","value":-5}}]}',
    EV % '{"device":"e0","head":-1,"events":[{"type":"rel","data":{"axis":"y","value":-5}}]}',
    EV % '{"device":"e0","events":[{"type":"rel","data":{"axis":"y","value":-5}}]}',
    EV % '{"device":7,"events":[]}',
]

# Phase 2: send-key and sendkey (queued behind one another).
PHASE2 = [
    SK % '{"keys":[%s]}' % (K % "a"),
    SK % '{"keys":[%s,%s,%s]}' % (K % "ctrl", K % "alt", K % "delete"),
    SK % '{"keys":[{"type":"number","data":30}],"hold-time":10}',
    SK % '{"keys":[{"type":"number","data":157},{"type":"number","data":200}],"hold-time":0}',
    SK % '{"keys":[]}',
    SK % '{}',
    SK % '{"keys":[{"type":"qcode"}]}',
    SK % '{"keys":[{"type":"bar","data":1}]}',
    SK % '{"keys":[{"type":"number","data":"x"}]}',
    SK % '{"keys":[{"type":"number","data":99999}]}',
    SK % '{"keys":[{"type":"number","data":-1}]}',
    SK % '{"keys":[{"type":"number","data":4294967326}]}',
    SK % '{"keys":[%s],"hold-time":"x"}' % (K % "a"),
    SK % '{"keys":{}}',
    SK % '{"keys":[1]}',
    SK % '{"keys":[{"type":"qcode","data":1}]}',
    SK % '{"keys":[{"type":"qcode","data":"a","x":1}]}',
    SK % '{"keys":[{"data":"a"}]}',
    SK % '{"keys":[{"type":"number","data":1.5}]}',
    SK % '{"keys":[%s,%s,%s]}' % (K % "a", K % "b", K % "bad"),
    SK % '{"keys":[%s],"hold-time":"x","z":1}' % (K % "bad"),
    SK % '{"keys":[%s],"z":1}' % (K % "c"),
    "sendkey",
    "sendkey shift-a-b",
    "sendkey a 10 20",
    "sendkey a x",
    "sendkey 0x",
    "sendkey 300",
    "sendkey 0x1234567",
    "sendkey 0x1e",
    "sendkey 0xe0",
    "sendkey <",
    "sendkey a--b",
    "sendkey -a",
    "sendkey A",
    "sendkey kp_0 20",
    "sendkey 1x",
    "help sendkey",
]


# Phase 4: a VNC client's KeyEvents (keysyms through the keymap file, QEMU's keyboard state,
# Caps Lock / Num Lock synchronisation) and QEMU extended key events. (down, keysym) pairs;
# a third member is an extended key event's key number.
def press(*syms):
    return [(1, k) for k in syms] + [(0, k) for k in reversed(syms)]


SHIFT, CTRL, ALT, ALTGR = 0xffe1, 0xffe3, 0xffe9, 0xfe03
VNC_US = (press(ord("a")) + press(ord("A")) + press(SHIFT, ord("A")) + press(ord("b")) +
          press(SHIFT, ord("b")) + press(ord("!")) + press(ord("@")) + press(SHIFT, ord("@")) +
          press(ord("1")) + press(0xff0d) + press(0xffb1) + press(0xff9c) + press(0xffb7) +
          press(0xffbe) + press(CTRL, ALT, 0xffff) + press(0xffe4, ord("c")) + press(0xff61) +
          press(0x20ac) + press(0xe4) + [(0, ord("q"))] + press(ord("Z")) +
          [(1, ord("x"), 0x2d), (0, ord("x"), 0x2d), (1, 0xff52, 0xc8), (0, 0xff52, 0xc8),
           (1, ord("m"), 0x1e), (0, ord("m"), 0x1e)] +
          press(ord("a")) + press(CTRL, ALT, ord("2")))
VNC_DE = (press(ord("y")) + press(ord("z")) + press(ord("Y")) + press(0xe4) + press(0xc4) +
          press(ord("@")) + press(0x20ac) + press(0xdf) + press(ord("<")) + press(ord(">")) +
          press(ord("#")) + press(ord("'")) + press(SHIFT, ord("@")) + press(ALTGR, ord("q")) +
          press(0xfe52) + press(ord("^")) + press(0xb0) + press(0xffb5) + press(0xffab) +
          [(1, ord("x"), 0x2d), (0, ord("x"), 0x2d)])


def vnc_keys(path, keys):
    """Connect as a VNC client (RFB 3.8, no auth), announce the extended key event, send keys."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(path)
    s.recv(12)
    s.sendall(b"RFB 003.008\n")
    n = s.recv(1)[0]
    s.recv(n)
    s.sendall(b"\x01")
    s.recv(4)
    s.sendall(b"\x01")
    head = b""
    while len(head) < 24:
        head += s.recv(24 - len(head))
    name_len = struct.unpack(">I", head[20:24])[0]
    while name_len > 0:
        name_len -= len(s.recv(name_len))
    s.sendall(struct.pack(">BxHi", 2, 1, -258))  # SetEncodings: QEMU extended key event
    for k in keys:
        if len(k) == 3:
            s.sendall(struct.pack(">BBHII", 255, 0, k[0], k[1], k[2]))
        else:
            s.sendall(struct.pack(">BBxxI", 4, k[0], k[1]))
    return s


def qkeycodes(q):
    """QEMU's QKeyCode values, from its schema."""
    r = q.cmd("query-qmp-schema")["return"]
    for t in r:
        if t.get("meta-type") == "enum" and "kp_0" in t.get("values", []):
            return t["values"]
    return None


def drained(vm):
    """Pace the keys: QEMU's keyboard queue holds 1024 items (a key sent with send-key takes
    six) and drops the rest, so wait until the guest has printed nothing new for a while (the
    queue plays an item every 10 ms)."""
    last, since = None, time.time()
    deadline = time.time() + 30
    while time.time() < deadline:
        out = vm.stdout()
        if out != last:
            last, since = out, time.time()
        elif time.time() - since > 0.25:
            return
        time.sleep(0.05)


def run(binary, phase3, td, vnc, extra=(), commands=True):
    kern = os.path.join(td, "kbd.elf")
    vpath = tempfile.mktemp(prefix="vnc.", dir=td)
    vm = Emu(["-accel", "tcg", "-m", "64", "-display", "none", "-nodefaults",
              "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
              "-device", "VGA,id=vga0", "-device", "edu,id=e0", "-kernel", kern,
              "-vnc", "unix:" + vpath] + list(extra), binary=binary)
    replies = []
    vs = None
    try:
        q = vm.qmp(timeout=30)
        q.negotiate()
        deadline = time.time() + 60
        while "ready\n" not in vm.stdout():
            if time.time() > deadline or not vm.alive():
                return None, "the guest never got ready: %r %s" % (vm.stdout()[-200:],
                                                                   vm.stderr()[-300:])
            time.sleep(0.05)
        lines = PHASE1 + PHASE2 + phase3 if commands else []
        for i, line in enumerate(lines):
            if line.startswith("{"):
                q.send_raw(line)
                r = q.reply(timeout=30)
            else:
                r = q.cmd("human-monitor-command", {"command-line": line}, timeout=30)
            replies.append((line, normalize(r)))
            # input-send-event's events go at once: let the guest read them all before the
            # next ones, or a key may land between a mouse packet's bytes (a timing race);
            # send-key's keys queue behind each other, paced every 100 commands
            if (i < len(PHASE1) and "return" in r) or i % 100 == 99:
                drained(vm)
        drained(vm)
        vs = vnc_keys(vpath, vnc)
        drained(vm)
        q.send_raw(SK % '{"keys":[%s]}' % (K % "esc"))
        replies.append(("esc", normalize(q.reply(timeout=30))))
        rc = vm.wait(120)
        if rc is None:
            return None, "the guest did not end on Esc: ...%r" % vm.stdout()[-300:]
        return (replies, vm.stdout(), rc), None
    finally:
        if vs:
            vs.close()
        vm.stop()


def compare(name, want, got):
    bad = [(l, w, g) for (l, w), (_, g) in zip(want[0], got[0]) if w != g]
    check(name + "/replies", not bad and len(want[0]) == len(got[0]),
          "; ".join("%s: QEMU %s, Vireo %s" % b for b in bad[:3]))
    expect(name + "/exit-status", got[2], want[2])
    w, g = want[1].split("ready\n", 1)[-1], got[1].split("ready\n", 1)[-1]
    if w == g and w.endswith("81\nbye\n"):
        ok(name + "/guest-bytes")
    else:
        wl, gl = w.splitlines(), g.splitlines()
        i = next((i for i in range(min(len(wl), len(gl))) if wl[i] != gl[i]), min(len(wl), len(gl)))
        if os.environ.get("INPUT_DUMP"):
            open(os.environ["INPUT_DUMP"] + name.replace("/", "_") + ".qemu", "w").write(want[1])
            open(os.environ["INPUT_DUMP"] + name.replace("/", "_") + ".vireo", "w").write(got[1])
        fail(name + "/guest-bytes", "line %d of %d/%d: QEMU %r, Vireo %r" %
             (i, len(wl), len(gl), wl[i - 2:i + 3], gl[i - 2:i + 3]))
    # the kernel's own start (controller and device replies) too
    expect(name + "/guest-init", got[1].split("ready\n", 1)[0], want[1].split("ready\n", 1)[0])


def main():
    if not os.path.exists(QEMU):
        skip("qmp-input", QEMU + " not installed")
        finish()
    with tempfile.TemporaryDirectory() as td:
        subprocess.check_call([sys.executable, os.path.join(ROOT, "tests/lib/mkmultiboot.py"),
                               os.path.join(td, "kbd.elf"), "kbd"])
        # QEMU's key names, from its schema
        probe = Emu(["-machine", "none", "-display", "none", "-S"], binary=QEMU)
        try:
            q = probe.qmp()
            q.negotiate()
            codes = qkeycodes(q)
        finally:
            probe.stop()
        if not codes:
            fail("qmp-input/schema", "no QKeyCode in QEMU's schema")
            finish()
        # 40 ms of guest time a key (a 30 ms hold): the guest must read a key's bytes before
        # the PS/2 keyboard's 16-byte queue fills, also on a loaded host
        phase3 = [SK % '{"keys":[%s],"hold-time":30}' % (K % c) for c in codes if c != "esc"]
        phase3 += [SK % '{"keys":[{"type":"number","data":%d}],"hold-time":30}' % n
                   for n in range(0, 256, 7)]
        want, why = run(QEMU, phase3, td, VNC_US)
        if want is None:
            fail("qmp-input/qemu", why)
            finish()
        got, why = run(None, phase3, td, VNC_US)
        if got is None:
            fail("qmp-input/vireo", why)
            finish()
        compare("qmp-input", want, got)
        # -k de: the German keymap file, VNC keys only
        want, why = run(QEMU, [], td, VNC_DE, ["-k", "de"], commands=False)
        if want is None:
            fail("qmp-input/k-de/qemu", why)
            finish()
        got, why = run(None, [], td, VNC_DE, ["-k", "de"], commands=False)
        if got is None:
            fail("qmp-input/k-de/vireo", why)
            finish()
        compare("qmp-input/k-de", want, got)
        # a layout QEMU has no keymap file for: its error and exit status
        res = []
        for b in (QEMU, None):
            vm = Emu(["-display", "none", "-nodefaults", "-k", "xx", "-kernel",
                      os.path.join(td, "kbd.elf"), "-vnc", "unix:" + os.path.join(td, "v.bad")],
                     binary=b, qmp=False)
            rc = vm.wait(30)
            res.append((rc, vm.stderr().replace(vm.binary, "EMU")))
            vm.stop()
        expect("qmp-input/k-unknown", res[1], res[0])
    finish()


main()
