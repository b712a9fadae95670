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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ws_recv_frame(s):
    h = recv_n(s, 2)
    n = h[1] & 0x7f
    if n == 126:
        n = struct.unpack(">H", recv_n(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_n(s, 8))[0]
    return h[0], recv_n(s, n)


def ws_send(s, data):
    mask = b"\x11\x22\x33\x44"
    s.sendall(bytes([0x82, 0x80 | len(data)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def session_websocket(binary):
    """websocket=PORT (RFC 6455, what noVNC speaks): the upgrade, RFB inside binary frames,
    the queries and events naming the websocket."""
    d = tempfile.mkdtemp(prefix="vireo-vnc.")
    out = []
    e = None
    for _ in range(5):
        port = free_port()
        e = Emu(["-machine", "none", "-display", "none", "-S", "-vnc",
                 "unix:%s/vnc.sock,websocket=127.0.0.1:%d" % (d, port)], binary=binary)
        e.vnc_dir, e.vnc_path = d, os.path.join(d, "vnc.sock")
        try:
            q = e.qmp()
            break
        except RuntimeError:
            e.stop()
            e = None
    if not e:
        return ["could not start"]
    try:
        q.negotiate()
        # a resource other than "/" is not served
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /websockify HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        resp = b""
        while True:
            x = s.recv(4096)
            if not x:
                break
            resp += x
        s.close()
        out.append(("not-root", resp.split(b"\r\n")[0].decode(), b"Server: QEMU VNC" in resp))
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Protocol: binary\r\nSec-WebSocket-Version: 13\r\n\r\n")
        resp = b""
        while b"\r\n\r\n" not in resp:
            resp += s.recv(1)
        lines = resp.decode().split("\r\n")
        hdr = {x.split(":", 1)[0].lower(): x.split(":", 1)[1].strip() for x in lines[1:] if ":" in x}
        out.append((lines[0], hdr.get("upgrade", "").lower(), hdr.get("sec-websocket-accept"),
                    hdr.get("sec-websocket-protocol")))
        rfb = b""
        while len(rfb) < 12:
            op, data = ws_recv_frame(s)
            rfb += data
        out.append(("version", op, rfb.decode()))
        ws_send(s, b"RFB 003.008\n")
        op, data = ws_recv_frame(s)
        ws_send(s, b"\x01")
        op, res = ws_recv_frame(s)
        ws_send(s, b"\x01")
        init = b""
        while len(init) < 24:
            op, data = ws_recv_frame(s)
            init += data
        out.append(("serverinit", data[:4].hex() if len(init) == len(data) else init[:4].hex(),
                    res.hex()))
        for name in ("VNC_CONNECTED", "VNC_DISCONNECTED", "VNC_CONNECTED", "VNC_INITIALIZED"):
            ev = masked(e, q.wait_event(name, 5))
            ev["data"]["client"]["service"] = "CPORT"
            out.append(ev)
        qv = masked(e, q.cmd("query-vnc-servers"))
        for srv in qv["return"][0]["server"]:
            if srv["websocket"]:
                srv["service"] = "WSPORT" if srv["service"] == str(port) else srv["service"]
        for c in qv["return"][0]["clients"]:
            c["service"] = "CPORT"
        out.append(("query-vnc-servers", qv))
        s.close()
    finally:
        q.close()
        e.stop()
        os.system("rm -rf '%s'" % d)
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
    compare("vnc/websocket", session_websocket(VIREO), session_websocket(QEMU))


main()
finish()
