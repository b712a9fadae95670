"""bench/vnc.sh's client and timing: WORK VIREO QEMU KERNEL RUNS."""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

work, vireo, qemu, kernel, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """User + system seconds of the process (all its threads)."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


class Client(threading.Thread):
    """RFB 3.8 with no authentication; reads everything, asks for an incremental update after
    each FramebufferUpdate; counts the bytes."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.bytes, self.updates, self.stop = path, 0, 0, False

    def recv(self, n):
        b = b""
        while len(b) < n:
            d = self.s.recv(n - len(b))
            if not d:
                raise EOFError
            b += d
        self.bytes += n
        return b

    def run(self):
        s = self.s = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                s.connect(self.path)
                break
            except OSError:
                time.sleep(0.05)
        self.recv(12)
        s.sendall(b"RFB 003.008\n")
        self.recv(self.recv(1)[0])
        s.sendall(b"\x01")
        self.recv(4)
        s.sendall(b"\x01")
        w, h = struct.unpack(">HH", self.recv(4))
        self.recv(16)
        self.recv(struct.unpack(">I", self.recv(4))[0])
        encs = [16, 1, 0, -223]  # ZRLE, CopyRect, Raw, DesktopSize
        s.sendall(struct.pack(">BxH%di" % len(encs), 2, len(encs), *encs))
        s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
        try:
            while not self.stop:
                t = self.recv(1)[0]
                if t != 0:  # Bell (2) has no body; others are not expected here
                    continue
                self.recv(1)
                n = struct.unpack(">H", self.recv(2))[0]
                for _ in range(n):
                    x, y, rw, rh, enc = struct.unpack(">HHHHi", self.recv(12))
                    if enc == 0:
                        self.recv(rw * rh * 4)
                    elif enc == 1:
                        self.recv(4)
                    elif enc == 16:
                        self.recv(struct.unpack(">I", self.recv(4))[0])
                    elif enc == -223:
                        w, h = rw, rh
                self.updates += 1
                s.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, w, h))
        except (EOFError, OSError):
            pass


def one(binary):
    path = os.path.join(work, "vnc.sock")
    if os.path.exists(path):
        os.unlink(path)
    p = subprocess.Popen([binary, "-accel", "tcg", "-m", "256", "-nodefaults", "-device", "VGA",
                          "-serial", "stdio", "-display", "none", "-vnc", "unix:" + path,
                          "-kernel", kernel, "-initrd", os.path.join(work, "initrd.gz"),
                          "-append", "console=tty0 console=ttyS0 panic=-1 quiet", "-no-reboot"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    c = Client(path)
    c.start()
    marks = {}
    for line in p.stdout:
        line = line.decode(errors="replace").strip()
        if line.startswith("@"):
            marks[line] = (time.time(), cpu(p.pid), c.bytes, c.updates)
            if line == "@idle-end":
                break
    c.stop = True
    p.kill()
    p.wait()
    if len(marks) < 3:
        return None
    s, e, i = marks["@scroll-start"], marks["@scroll-end"], marks["@idle-end"]
    return {"scroll-bytes/1000 lines": (e[2] - s[2]) / 4, "scroll-cpu-s/1000 lines": (e[1] - s[1]) / 4,
            "scroll-updates": e[3] - s[3], "idle-cpu-s/10 s": i[1] - e[1], "idle-bytes": i[2] - e[2]}


best = {}
for label, binary in (("vireo", vireo), ("qemu", qemu)):
    for _ in range(runs):
        r = one(binary)
        if r is None:
            print("vnc bench: %s did not finish" % label)
            continue
        for k, v in r.items():
            key = (label, k)
            best[key] = v if key not in best or (v < best[key] if "updates" not in k else v > best[key]) else best[key]
print("%-26s %14s %14s %8s" % ("vnc (tcg, best of %d)" % runs, "Vireo", "QEMU 7.2", "ratio"))
for k in ("scroll-bytes/1000 lines", "scroll-cpu-s/1000 lines", "scroll-updates", "idle-cpu-s/10 s",
          "idle-bytes"):
    v, q = best.get(("vireo", k)), best.get(("qemu", k))
    ratio = "%.2f" % (v / q) if v is not None and q else "-"
    print("%-26s %14s %14s %8s" % (k, "%.2f" % v if v is not None else "-",
                                    "%.2f" % q if q is not None else "-", ratio))
