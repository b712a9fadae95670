"""A small scripted QMP client for the tests (no third-party modules).

    vm = Emu(["-machine", "none", "-display", "none"], qmp=True)   # starts $VIREO
    q = vm.qmp()                  # connects, reads the greeting
    q.negotiate()
    r = q.cmd("query-status")     # the reply dict; events seen meanwhile go to q.events
    vm.stop()

Results are printed as "ok NAME" / "FAIL NAME: why" lines for tests/run.sh.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("VIREO_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("VIREO_BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
VIREO = os.environ.get("VIREO") or os.path.join(BUILD, "qemu-system-x86_64")
QEMU = os.environ.get("QEMU", "/usr/bin/qemu-system-x86_64")
CACHE = os.environ.get("VIREO_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vireo")

failures = 0
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")


def progress(msg):
    """Inside the nested guest, also show progress on its console (the runner only relays a
    test's output once it has finished)."""
    if os.environ.get("VIREO_NESTED") == "1":
        try:
            with open("/dev/console", "w") as c:
                c.write("  ... %s\n" % msg)
        except OSError:
            pass


# While run_attempts records an attempt, result lines go here instead of to stdout.
_recording = None


def _result(line):
    if _recording is not None:
        _recording.append(line)
    else:
        print(line, flush=True)


def ok(name):
    progress("ok " + name)
    _result("ok " + name)


def fail(name, why=""):
    global failures
    failures += 1
    progress("FAIL " + name)
    _result("FAIL %s: %s" % (name, why))


def run_attempts(fn, second_attempt):
    """Runs the scenario fn() (an exception is a failed check). With second_attempt, a scenario
    that failed a check runs once more and only the second run's results count; the first run's
    lines are printed as comments. For guests that the nested stack (QEMU's TCG emulating SVM)
    breaks now and then, whatever VMM runs them: see docs/architecture.md, "Tests"."""
    global _recording, failures
    before = failures
    if second_attempt:
        _recording = []
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        fail(fn.__name__, "exception %r" % e)
    lines, _recording = _recording, None
    if not second_attempt:
        return
    if failures == before:
        for line in lines:
            print(line, flush=True)
        return
    failures = before
    print("# %s: first attempt failed; running it again. The first attempt's lines:" % fn.__name__)
    for line in lines:
        print("#   " + line, flush=True)
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        fail(fn.__name__, "exception %r" % e)


def skip(name, why=""):
    print("skip %s: %s" % (name, why), flush=True)


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        fail(name, why)
    return cond


def expect(name, got, want):
    return check(name, got == want, "got %r, want %r" % (got, want))


def finish():
    sys.exit(1 if failures else 0)


class QMP:
    def __init__(self, addr, timeout=10):
        if isinstance(addr, str):
            self.sock = socket.socket(socket.AF_UNIX)
        else:
            self.sock = socket.socket(socket.AF_INET)
        deadline = time.time() + timeout
        while True:
            try:
                self.sock.connect(addr)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []
        self.greeting = self.recv()

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def recv_line(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self, timeout=None):
        return json.loads(self.recv_line(timeout))

    def reply(self, timeout=None):
        """The next non-event message; events go to self.events."""
        while True:
            m = self.recv(timeout)
            if "event" in m:
                self.events.append(m)
                continue
            return m

    def cmd(self, name, args=None, id=None, timeout=None):
        m = {"execute": name}
        if args is not None:
            m["arguments"] = args
        if id is not None:
            m["id"] = id
        self.send_raw(json.dumps(m))
        return self.reply(timeout)

    def negotiate(self):
        r = self.cmd("qmp_capabilities")
        assert r == {"return": {}}, r
        return r

    def wait_event(self, name, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                m = self.recv(timeout=left)
            except socket.timeout:
                return None
            if "event" in m:
                self.events.append(m)

    def hmp(self, line):
        r = self.cmd("human-monitor-command", {"command-line": line})
        return r.get("return", r)


class Emu:
    """One emulator process ($VIREO unless binary= is given) with a QMP unix socket."""

    def __init__(self, args, binary=None, qmp=True, stdin=subprocess.DEVNULL, env=None):
        self.tmp = tempfile.mkdtemp(prefix="vireo-qmp.")
        self.sock = os.path.join(self.tmp, "qmp.sock")
        self.binary = binary or VIREO
        argv = [self.binary] + list(args)
        if qmp:
            argv += ["-qmp", "unix:%s,server=on,wait=off" % self.sock]
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.stdout_path = os.path.join(self.tmp, "stdout")
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=open(self.stdout_path, "wb"),
                                     stderr=open(self.stderr_path, "wb"), env=env)

    def qmp(self, timeout=10):
        deadline = time.time() + timeout
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("no QMP socket; stderr: " + self.stderr())
            time.sleep(0.02)
        return QMP(self.sock, timeout=timeout)

    def stderr(self):
        try:
            return open(self.stderr_path, "rb").read().decode(errors="replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            return open(self.stdout_path, "rb").read().decode(errors="replace")
        except OSError:
            return ""

    def wait(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        # A sanitizer report of the emulator goes to the test's log (tests/run.sh looks there)
        # and fails the test: the process's stderr is otherwise lost with the directory.
        err = self.stderr()
        if SANITIZER_RE.search(err):
            print(err, flush=True)
            fail("sanitizer", "%s reported an error (above)" % os.path.basename(self.binary))
        shutil.rmtree(self.tmp, ignore_errors=True)


def normalize(msg):
    """A reply or event with what differs between emulators masked: versions, timestamps,
    thread ids, socket paths."""
    msg = json.loads(json.dumps(msg))
    if "timestamp" in msg:
        msg["timestamp"] = "T"
    if "QMP" in msg:
        msg["QMP"]["version"] = "V"
    r = msg.get("return")
    if isinstance(r, dict) and "qemu" in r and "package" in r:
        msg["return"] = "V"
    if isinstance(r, str):
        msg["return"] = re.sub(r"^\d+\.\d+\.\d+.*\r\n$", "VERSION\r\n", r)
    return msg
