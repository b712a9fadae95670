"""-vnc unix:PATH on Vireo and on QEMU 7.2 (-machine none): the same monitor replies, events and
handshake bytes, once socket paths and timestamps are masked."""
import json
import os
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import QEMU, Emu, fail, finish, ok, skip  # noqa: E402


def start(binary, password):
    d = tempfile.mkdtemp(prefix="vireo-vnc.")
    path = os.path.join(d, "vnc.sock")
    opt = "unix:" + path + (",password=on" if password else "")
    e = Emu(["-machine", "none", "-display", "none", "-S", "-name", "guest1", "-vnc", opt],
            binary=binary)
    e.vnc_dir, e.vnc_path = d, path
    q = e.qmp()
    q.negotiate()
    return e, q


def masked(e, obj):
    s = json.dumps(obj, sort_keys=True)
    s = s.replace(e.vnc_path, "VNC").replace(e.vnc_dir, "DIR")
    o = json.loads(s)
    if isinstance(o, dict) and "timestamp" in o:
        o["timestamp"] = "T"
    return o


def vnc_connect(e):
    s = socket.socket(socket.AF_UNIX)
    deadline = time.time() + 5
    while True:
        try:
            s.connect(e.vnc_path)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.02)
    s.settimeout(5)
    return s


def recv_n(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            break
        b += d
    return b


def session_password(binary):
    e, q = start(binary, True)
    out = []
    try:
        for cmd, args in [("query-vnc", None), ("query-vnc-servers", None),
                          ("set_password", {"protocol": "vnc", "password": "pw1"}),
                          ("set_password", {"protocol": "spice", "password": "pw1"}),
                          ("set_password", {"protocol": "vnc", "password": "p", "connected": "fail"}),
                          ("set_password", {"protocol": "vnc", "password": "p", "display": "x"}),
                          ("expire_password", {"protocol": "vnc", "time": "+1000"}),
                          ("expire_password", {"protocol": "vnc", "time": "never", "display": "x"}),
                          ("change-vnc-password", {"password": "pw2"}),
                          ("expire_password", {"protocol": "vnc", "time": "never"})]:
            out.append(masked(e, q.cmd(cmd, args)))
        for line in ["info vnc", "change vnc password pw3", "change vnc foo",
                     "set_password vnc pw4", "expire_password vnc never"]:
            out.append(masked(e, q.hmp(line)))
        # VNC authentication with a wrong response: the failure as 3.8 words it
        s = vnc_connect(e)
        hs = recv_n(s, 12)
        s.sendall(b"RFB 003.008\n")
        types = recv_n(s, 2)
        s.sendall(b"\x02")
        chal = recv_n(s, 16)
        s.sendall(b"\0" * 16)
        res = recv_n(s, 4)
        rlen = recv_n(s, 4)
        reason = recv_n(s, struct.unpack(">I", rlen)[0] if len(rlen) == 4 else 0)
        rest = s.recv(10)
        s.close()
        out.append([hs.decode(), types.hex(), len(chal), res.hex(), reason.decode(), rest.hex()])
    finally:
        q.close()
        e.stop()
        os.system("rm -rf '%s'" % e.vnc_dir)
    return out


def session_none(binary):
    e, q = start(binary, False)
    out = []
    try:
        s = vnc_connect(e)
        hs = recv_n(s, 12)
        out.append(("connected", masked(e, q.wait_event("VNC_CONNECTED", 5))))
        s.sendall(b"RFB 003.008\n")
        out.append(("sectypes", recv_n(s, 2).hex()))
        s.sendall(b"\x01")
        out.append(("result", recv_n(s, 4).hex()))
        s.sendall(b"\x01")
        init = recv_n(s, 24)
        name = recv_n(s, struct.unpack(">I", init[20:24])[0])
        out.append(("serverinit", hs.decode(), init.hex(), name.decode()))
        out.append(("initialized", masked(e, q.wait_event("VNC_INITIALIZED", 5))))
        out.append(("query-vnc", masked(e, q.cmd("query-vnc"))))
        out.append(("query-vnc-servers", masked(e, q.cmd("query-vnc-servers"))))
        out.append(("info vnc", masked(e, q.hmp("info vnc"))))
        s.close()
        out.append(("disconnected", masked(e, q.wait_event("VNC_DISCONNECTED", 5))))
        # a second client that stops half way through the handshake: no INITIALIZED
        s = vnc_connect(e)
        recv_n(s, 12)
        out.append(("connected2", q.wait_event("VNC_CONNECTED", 5) is not None))
        s.sendall(b"RFB 003.0")
        s.close()
        time.sleep(0.2)
        out.append(("query-after", masked(e, q.cmd("query-vnc"))))
        out.append(("more-events", [masked(e, x) for x in q.events]))
    finally:
        q.close()
        e.stop()
        os.system("rm -rf '%s'" % e.vnc_dir)
    return out


def compare(name, a, b):
    if a == b:
        ok(name)
    else:
        for x, y in zip(a, b):
            if x != y:
                fail(name, "vireo %r\n    qemu  %r" % (x, y))
                return
        fail(name, "lengths differ: %r vs %r" % (a, b))


def main():
    if not os.path.exists(QEMU):
        skip("qmp-vnc", QEMU + " not installed")
        return
    from qmp import VIREO
    compare("vnc/password-commands-and-auth-failure", session_password(VIREO),
            session_password(QEMU))
    compare("vnc/handshake-events-queries", session_none(VIREO), session_none(QEMU))


main()
finish()
