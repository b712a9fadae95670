"""Chardev backends carrying monitors: file, pipe, pty, socket client with reconnect, socket
server with wait=on, an inherited listening fd (as libvirt passes it), the mux with Ctrl-A
escapes shared by HMP and QMP, -monitor stdio, and -chardev errors worded as QEMU's."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import QEMU, QMP, VIREO, Emu, check, expect, fail, finish, skip  # noqa: E402

BASE = ["-machine", "none", "-display", "none", "-nodefaults"]
BANNER = b"QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) "


def read_until(f, token, timeout=10):
    """Read from a socket or fd until token appears."""
    data = b""
    deadline = time.time() + timeout
    while token not in data and time.time() < deadline:
        try:
            if isinstance(f, socket.socket):
                f.settimeout(max(0.05, deadline - time.time()))
                d = f.recv(4096)
            else:
                import select
                r, _, _ = select.select([f], [], [], max(0.05, deadline - time.time()))
                d = os.read(f, 4096) if r else b""
                if not r:
                    continue
        except (socket.timeout, BlockingIOError):
            continue
        if not d:
            break
        data += d
    return data


def wait_path(p, t=5):
    for _ in range(int(t / 0.02)):
        if os.path.exists(p):
            return True
        time.sleep(0.02)
    return False


def file_backend():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "mon.txt")
    vm = Emu(BASE + ["-chardev", "file,id=f,path=" + path, "-mon", "chardev=f,mode=readline"])
    try:
        q = vm.qmp()
        q.negotiate()
        expect("file/banner", open(path, "rb").read(), BANNER)
        c = {x["label"]: x for x in q.cmd("query-chardev")["return"]}
        expect("file/query", c.get("f"), {"label": "f", "filename": "file", "frontend-open": True})
    finally:
        vm.stop()
        subprocess.run(["rm", "-rf", tmp])


def pipe_backend():
    tmp = tempfile.mkdtemp()
    p = os.path.join(tmp, "p")
    os.mkfifo(p + ".in")
    os.mkfifo(p + ".out")
    # open both ends non-blocking first so the emulator's opens do not block
    win = os.open(p + ".in", os.O_RDWR)
    rout = os.open(p + ".out", os.O_RDWR | os.O_NONBLOCK)
    vm = Emu(BASE + ["-chardev", "pipe,id=p,path=" + p, "-mon", "chardev=p,mode=control"])
    try:
        g = read_until(rout, b"\r\n")
        check("pipe/greeting", g.startswith(b'{"QMP"'), repr(g))
        os.write(win, b'{"execute":"qmp_capabilities"}{"execute":"query-target","id":1}')
        r = read_until(rout, b'"id": 1}')
        check("pipe/command", b'{"return": {"arch": "x86_64"}, "id": 1}' in r, repr(r))
    finally:
        vm.stop()
        os.close(win)
        os.close(rout)
        subprocess.run(["rm", "-rf", tmp])


def pty_backend():
    vm = Emu(BASE + ["-chardev", "pty,id=pt", "-mon", "chardev=pt,mode=control"])
    try:
        q = vm.qmp()
        q.negotiate()
        c = {x["label"]: x for x in q.cmd("query-chardev")["return"]}
        fn = c.get("pt", {}).get("filename", "")
        check("pty/filename", fn.startswith("pty:/dev/pts/"), fn)
        err = vm.stderr()
        check("pty/redirect-message", "char device redirected to %s (label pt)" % fn[4:] in err, err)
        fd = os.open(fn[4:], os.O_RDWR | os.O_NOCTTY)
        import termios
        import tty
        tty.setraw(fd)
        os.write(fd, b'{"execute":"qmp_capabilities"}{"execute":"query-status","id":"pty"}')
        r = read_until(fd, b'"id": "pty"}')
        check("pty/qmp", b'"status": "running"' in r, repr(r))
        os.close(fd)
        del termios
    finally:
        vm.stop()


def socket_client_reconnect():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "srv.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(10)
    vm = Emu(BASE + ["-chardev", "socket,id=cl,path=%s,reconnect=1" % path,
                     "-mon", "chardev=cl,mode=control"])
    try:
        c, _ = srv.accept()
        g = read_until(c, b"\r\n")
        check("client/greeting", g.startswith(b'{"QMP"'), repr(g))
        c.close()
        t0 = time.time()
        c, _ = srv.accept()
        g = read_until(c, b"\r\n")
        # reconnect=1: about a second; a loaded host may take longer (the server waits 10 s)
        check("client/reconnect", g.startswith(b'{"QMP"') and time.time() - t0 < 10, repr(g))
        c.sendall(b'{"execute":"qmp_capabilities"}{"execute":"query-chardev","id":2}')
        r = read_until(c, b'"id": 2}')
        check("client/query", b'"filename": "unix:%s"' % path.encode() in r, repr(r))
        c.close()
    finally:
        vm.stop()
        srv.close()
        subprocess.run(["rm", "-rf", tmp])
    # without reconnect, a refused connection ends the process with QEMU's message
    p = subprocess.run([VIREO] + BASE + ["-chardev", "socket,id=s,path=/nonexistent/x.sock"],
                       capture_output=True, text=True, timeout=20)
    expect("client/refused", (p.returncode, p.stderr),
           (1, "qemu-system-x86_64: -chardev socket,id=s,path=/nonexistent/x.sock: Failed to connect "
               "to '/nonexistent/x.sock': No such file or directory\n"))


def socket_server_wait():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "w.sock")
    vm = Emu(BASE + ["-chardev", "socket,id=w,path=%s,server=on" % path,
                     "-mon", "chardev=w,mode=control"])
    try:
        check("wait/listening", wait_path(path))
        time.sleep(0.3)
        err = vm.stderr()
        expect("wait/message", err, "qemu-system-x86_64: info: QEMU waiting for connection on: "
                                    "disconnected:unix:%s,server=on\n" % path)
        check("wait/qmp-not-yet", not os.path.exists(vm.sock))
        q = QMP(path)
        q.negotiate()
        check("wait/qmp-after-client", wait_path(vm.sock), vm.stderr())
        expect("wait/status", q.cmd("query-status")["return"]["status"], "running")
        q.close()
    finally:
        vm.stop()
        subprocess.run(["rm", "-rf", tmp])


def inherited_fd():
    """libvirt binds and listens itself and passes the socket: -chardev socket,fd=N."""
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "monitor.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)
    fd = ls.fileno()
    os.set_inheritable(fd, True)
    p = subprocess.Popen([VIREO] + BASE + ["-chardev", "socket,id=charmonitor,fd=%d,server=on,wait=off" % fd,
                                           "-mon", "chardev=charmonitor,id=monitor,mode=control"],
                         pass_fds=(fd,), stderr=subprocess.PIPE)
    ls.close()
    try:
        for n in range(2):  # re-accepts after a client leaves (libvirtd restart)
            q = QMP(path)
            q.negotiate()
            expect("fd/session-%d" % n, q.cmd("query-status")["return"]["status"], "running")
            q.close()
    finally:
        p.kill()
        p.wait()
        subprocess.run(["rm", "-rf", tmp])


def mux():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "mux.sock")
    vm = Emu(BASE + ["-chardev", "socket,id=m,path=%s,server=on,wait=off,mux=on" % path,
                     "-mon", "chardev=m,mode=readline", "-mon", "chardev=m,mode=control"])
    try:
        check("mux/listening", wait_path(path))
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        g = read_until(s, b"\r\n")
        check("mux/qmp-has-focus", g.startswith(b'{"QMP"') and b"monitor" not in g, repr(g))
        s.sendall(b"\x01c")
        r = read_until(s, b"(qemu) ")
        expect("mux/ctrl-a-c-to-hmp", r, BANNER)
        s.sendall(b"info status\r")
        r = read_until(s, b"(qemu) ")
        check("mux/hmp-command", r.endswith(b"info status\x1b[K\r\nVM status: running\r\n(qemu) "),
              repr(r))
        s.sendall(b"\x01h")
        r = read_until(s, b"C-a C-a  sends C-a\n\r")
        check("mux/help", b"C-a c    switch between console and monitor\n\r" in r, repr(r))
        s.sendall(b"\x01c")
        time.sleep(0.2)
        s.sendall(b'{"execute":"qmp_capabilities"}{"execute":"query-chardev","id":"m"}')
        r = read_until(s, b'"id": "m"}')
        check("mux/back-to-qmp", b'"label": "m-base"' in r and b'"filename": "mux"' in r, repr(r))
        s.sendall(b"\x01x")
        r = read_until(s, b"QEMU: Terminated\n\r")
        check("mux/ctrl-a-x", b"QEMU: Terminated\n\r" in r, repr(r))
        expect("mux/ctrl-a-x-exit", vm.wait(), 0)
        s.close()
    finally:
        vm.stop()
        subprocess.run(["rm", "-rf", tmp])


def same_version(b):
    """QEMU's banner names its own micro version (Debian's 7.2 says 7.2.22); Vireo says 7.2.0."""
    import re
    return re.sub(rb"QEMU 7\.2\.[0-9]+ monitor", b"QEMU 7.2.0 monitor", b)


def monitor_stdio():
    # The line editor echoes as QEMU's does (the line redrawn after every byte with ESC [ D /
    # ESC [ K), history (ESC [ A), Ctrl-W, cursor keys, backspace: byte for byte as QEMU 7.2.
    # (Not Tab: QEMU completes from its own, larger command table.)
    keys = (b"info name\nstop\ninfo status\nbogus\n\x1b[A\x1b[A\n"
            b"info  versionx\x7f\x1b[D\x1b[Dio\x1b[F\x17\x17status\r"
            b"\x1b[1~\x04\x1b[4~\x1bOH\x1bOF\x01\x05quit\n")
    res = []
    for b in (VIREO, QEMU):
        p = subprocess.run([b] + BASE + ["-monitor", "stdio", "-name", "hmp1"], input=keys,
                           capture_output=True, timeout=20)
        res.append((p.returncode, same_version(p.stdout)))
    expect("stdio/hmp-session-as-qemu", res[0], res[1])
    check("stdio/hmp-session-ran", b"VM status: paused" in res[0][1], repr(res[0][1][-300:]))


def mux_session_vs_qemu():
    """The serial port and the human monitor on one mux (-serial mon:stdio, -nographic): the
    guest's bytes come first, with no monitor banner or prompt before them; the first Ctrl-A c
    shows the banner and a prompt, a command runs, Ctrl-A c back prints a line end, and again
    the prompt: every byte as QEMU 7.2 writes it. The guest is tests/lib/mkmultiboot.py's
    kernel without isa-debug-exit: it prints what the loader passed and halts."""
    tmp = tempfile.mkdtemp()
    try:
        kernel = os.path.join(tmp, "mb.elf")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "../lib/mkmultiboot.py"),
                        kernel], check=True)
        for mode, args in (("serial-mon-stdio", ["-display", "none", "-serial", "mon:stdio"]),
                           ("nographic", ["-nographic"])):
            res = {}
            for who, b in (("vireo", VIREO), ("qemu", QEMU)):
                p = subprocess.Popen([b, "-accel", "tcg", "-m", "64", "-kernel", kernel] + args,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
                fd = p.stdout.fileno()
                parts = [read_until(fd, b"bye\n", 30)]  # the guest's last line
                for keys, token in ((b"\x01c", b"(qemu) "), (b"info status\r", b"(qemu) "),
                                    (b"\x01c", b"\r\n"), (b"\x01c", b"(qemu) "),
                                    (b"\x01x", b"QEMU: Terminated\n\r")):
                    p.stdin.write(keys)
                    p.stdin.flush()
                    parts.append(same_version(read_until(fd, token, 10)))
                try:
                    rc = p.wait(60)  # an ASan build takes 7-10 s to exit (its leak check) on a loaded host
                except subprocess.TimeoutExpired:
                    p.kill()
                    rc = "timeout"
                res[who] = (parts, rc)
            v, q = res["vireo"][0], res["qemu"][0]
            name = "mux/" + mode
            # Before the first Ctrl-A c: the guest's bytes only (QEMU's -nographic adds SeaBIOS's
            # console output in front; Vireo boots without firmware).
            check(name + "/no-banner-before-guest",
                  v[0].startswith(b"multiboot: hello") and b"monitor" not in v[0]
                  and b"monitor" not in q[0] and q[0].endswith(v[0]), repr((v[0][:120], q[0][-200:])))
            expect(name + "/session-as-qemu", (v[1:], res["vireo"][1]), (q[1:], res["qemu"][1]))
    finally:
        subprocess.run(["rm", "-rf", tmp])


def errors_like_qemu():
    cases = [
        ["-chardev", "null"],
        ["-chardev", "foo,id=x"],
        ["-chardev", "null,id=x,bogus=1"],
        ["-chardev", "null,id=x", "-chardev", "null,id=x"],
        ["-chardev", "ringbuf,id=r,size=100"],
        ["-chardev", "file,id=f,path=/nonexist/x"],
        ["-chardev", "socket,id=s,host=127.0.0.1,port=1"],
        ["-chardev", "socket,id=s,path=/tmp/x.sock,server=on,wait=off,reconnect=1"],
        ["-serial", "chardev:nope"],
        ["-mon", "chardev=nope"],
        ["-mon", "foo"],
        ["-qmp", "foo"],
        ["-chardev", "stdio,id=a", "-chardev", "stdio,id=b"],
        ["-chardev", "null,id=a", "-mon", "chardev=a", "-mon", "chardev=a"],
        ["-uuid", "foo"],
        ["-pidfile", "/nonexist/pid"],
    ]
    for i, args in enumerate(cases):
        res = []
        for b in (VIREO, QEMU):
            p = subprocess.run([b, "-machine", "none", "-display", "none"] + args,
                               capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
            res.append((p.returncode, p.stderr))
        expect("errors/" + " ".join(args), res[0], res[1])


for f in (file_backend, pipe_backend, pty_backend, socket_client_reconnect, socket_server_wait,
          inherited_fd, mux, monitor_stdio, mux_session_vs_qemu, errors_like_qemu):
    try:
        f()
    except Exception as e:  # noqa: BLE001
        fail(f.__name__, "exception %r" % e)
finish()
