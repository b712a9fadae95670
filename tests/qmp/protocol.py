"""QMP transport and robustness: unix and tcp sockets, several clients on several monitors,
one client at a time per socket, clients that leave mid-message, oversized and garbage input,
events only after negotiation, -qmp-pretty, quit. The VM must keep answering throughout."""
import json
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import QMP, Emu, check, expect, fail, finish  # noqa: E402

BASE = ["-machine", "none", "-display", "none", "-nodefaults"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def alive(q, name):
    r = q.cmd("query-status", id=name)
    return check(name, r.get("id") == name and r.get("return", {}).get("status") == "running", repr(r))


def tcp_and_unix():
    port = free_port()
    vm = Emu(BASE + ["-qmp", "tcp:127.0.0.1:%d,server=on,wait=off" % port])
    try:
        q = vm.qmp()
        q.negotiate()
        alive(q, "unix/query-status")
        t = QMP(("127.0.0.1", port))
        check("tcp/greeting", t.greeting["QMP"]["version"]["qemu"] == {"major": 7, "minor": 2, "micro": 0},
              repr(t.greeting))
        t.negotiate()
        alive(t, "tcp/query-status")
        fns = [c["filename"] for c in q.cmd("query-chardev")["return"]]
        fn = ([f for f in fns if f.startswith("tcp:")] + [repr(fns)])[0]
        check("tcp/chardev-filename", fn.startswith("tcp:127.0.0.1:%d,server=on <-> 127.0.0.1:" % port), fn)
        # events go to every negotiated client
        q.cmd("stop")
        e = t.wait_event("STOP", 5)
        check("events/both-clients", e is not None and q.events and q.events[0]["event"] == "STOP",
              repr((e, q.events)))
        ts = e["timestamp"] if e else {}
        check("events/timestamp", abs(ts.get("seconds", 0) - time.time()) < 60 and
              0 <= ts.get("microseconds", -1) < 1000000, repr(ts))
        q.cmd("cont")
        t.close()
        q.close()
    finally:
        vm.stop()


def several_clients():
    vm = Emu(BASE + ["-qmp", "unix:/tmp/vireo-qmp-b-%d.sock,server=on,wait=off" % os.getpid()])
    b_path = "/tmp/vireo-qmp-b-%d.sock" % os.getpid()
    try:
        a = vm.qmp()
        a.negotiate()
        for _ in range(100):
            if os.path.exists(b_path):
                break
            time.sleep(0.02)
        b = QMP(b_path)
        # b has not negotiated: no events for it
        a.cmd("stop")
        b.sock.settimeout(0.5)
        try:
            m = b.recv()
            fail("events/not-before-negotiation", repr(m))
        except socket.timeout:
            check("events/not-before-negotiation", True)
        b.negotiate()
        a.cmd("cont")
        check("events/after-negotiation", b.wait_event("RESUME", 5) is not None, repr(b.events))
        # a second client on the same socket waits until the first leaves
        c = socket.socket(socket.AF_UNIX)
        c.connect(b_path)
        c.settimeout(0.5)
        try:
            c.recv(100)
            fail("socket/one-client-at-a-time", "second client got a greeting at once")
        except socket.timeout:
            check("socket/one-client-at-a-time", True)
        b.close()
        c.settimeout(5)
        g = c.recv(4096)
        check("socket/next-client-after-close", g.startswith(b'{"QMP"'), repr(g))
        c.close()
        alive(a, "socket/vm-alive")
        a.close()
    finally:
        vm.stop()
        if os.path.exists(b_path):
            os.unlink(b_path)
    check("socket/unlinked-at-exit", not os.path.exists(b_path))


def bad_input():
    vm = Emu(BASE)
    try:
        # a client that leaves in the middle of a message leaves nothing behind
        q = vm.qmp()
        q.negotiate()
        q.send_raw('{"execute": "query-st')
        q.close()
        q = vm.qmp()
        q.negotiate()
        alive(q, "disconnect/mid-message")
        q.send_raw('{"execute": "qmp_capabilities"')
        q.close()
        q = vm.qmp()
        expect("disconnect/negotiation-reset", q.cmd("query-status")["error"]["desc"],
               "Expecting capabilities negotiation with 'qmp_capabilities'")
        q.negotiate()
        # several messages in one write, and one message in many writes
        q.send_raw('{"execute":"query-status","id":1}{"execute":"query-name","id":2}')
        expect("stream/two-in-one", [q.reply()["id"], q.reply()["id"]], [1, 2])
        for ch in '{"execute": "query-status", "id": "split"}':
            q.send_raw(ch)
        expect("stream/split", q.reply()["id"], "split")
        # oversized: nesting, token count, token size
        q.send_raw("[" * 2000)
        r = q.reply()
        expect("oversize/nesting", r, {"error": {"class": "GenericError",
                                                 "desc": "JSON nesting depth limit exceeded"}})
        q.send_raw("\x01")  # a control character resynchronises the lexer
        q.reply()
        # exactly one token too many: the closing bracket is the 2Mi+1st. The socket timeout
        # also bounds each send: the server drains these megabytes only as fast as it parses
        # them, which under ASan on a loaded host took more than the default 10 s per chunk.
        q.sock.settimeout(120)
        q.send_raw("[" + "1," * ((1 << 20) - 1) + "1]")
        r = q.reply(timeout=60)
        expect("oversize/token-count", r.get("error", {}).get("desc"), "JSON token count limit exceeded")
        alive(q, "oversize/after-token-count")
        # a string that fits the lexer but not the message budget; the stray '}' is an error too
        q.send_raw('{"execute":"query-name","id":"' + "a" * ((64 << 20) - 10) + '"}')
        r = q.reply(timeout=120)
        expect("oversize/token-size", r.get("error", {}).get("desc"), "JSON token size limit exceeded")
        expect("oversize/token-size-rest", q.reply(timeout=10).get("error", {}).get("desc"),
               "JSON parse error, expecting value")
        q.send_raw("\x01")
        q.close()
        q = vm.qmp()
        q.negotiate()
        alive(q, "oversize/vm-alive")
        # random garbage, then a control character and a command
        rnd = random.Random(1)
        for i in range(20):
            q.send_raw(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))))
        q.send_raw(b'"\x01\x01{"execute":"query-status","id":"after-garbage"}')
        while True:
            m = q.reply(timeout=10)
            if m.get("id") == "after-garbage":
                check("garbage/recovers", m.get("return", {}).get("status") == "running", repr(m))
                break
        q.close()
        check("garbage/process-alive", vm.alive())
    finally:
        vm.stop()


def pretty_and_quit():
    vm = Emu(BASE + ["-qmp-pretty", "unix:/tmp/vireo-qmp-p-%d.sock,server=on,wait=off" % os.getpid()])
    path = "/tmp/vireo-qmp-p-%d.sock" % os.getpid()
    try:
        # the socket appears, then listens: under ASan on a loaded host that takes seconds
        deadline = time.time() + 30
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.time() > deadline or vm.proc.poll() is not None:
                    raise
                time.sleep(0.05)
        s.settimeout(5)
        s.sendall(b'{"execute":"qmp_capabilities"}{"execute":"query-target"}')
        data = b""
        while b'"x86_64"\r\n    }\r\n}\r\n' not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
        check("pretty/format", b'{\r\n    "return": {\r\n        "arch": "x86_64"\r\n    }\r\n}\r\n' in data,
              repr(data))
        s.close()
        q = vm.qmp()
        q.negotiate()
        q.send_raw('{"execute":"quit"}')
        msgs = []
        try:
            while True:
                msgs.append(q.recv())
        except EOFError:
            pass
        check("quit/event-then-reply", [m.get("event", "return" if "return" in m else "?") for m in msgs] ==
              ["SHUTDOWN", "return"], repr(msgs))
        expect("quit/exit-status", vm.wait(), 0)
        check("quit/sockets-removed", not os.path.exists(vm.sock) and not os.path.exists(path))
    finally:
        vm.stop()
        if os.path.exists(path):
            os.unlink(path)


for f in (tcp_and_unix, several_clients, bad_input, pretty_and_quit):
    try:
        f()
    except Exception as e:  # noqa: BLE001
        fail(f.__name__, "exception %r" % e)
finish()
