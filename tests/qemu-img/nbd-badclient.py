#!/usr/bin/env python3
"""A misbehaving NBD client against a qemu-nbd on a unix socket (argv[1]; export "exp",
writable, persistent, 1 MiB or more): garbage, broken options, requests outside the export,
oversized requests, disconnects in the middle of a request. Every case must get its NBD error
or a closed connection, and a proper client must still be served afterwards. The caller checks
the image afterwards. Prints ok/FAIL lines."""
import socket
import struct
import sys
import time

PATH = sys.argv[1]
EXP = b"exp"
OPTS_MAGIC = 0x49484156454F5054
REP_MAGIC = 0x3E889045565A9
fails = 0


def check(name, cond, why=""):
    global fails
    if cond:
        print("ok nbd/badclient/" + name)
    else:
        fails += 1
        print("FAIL nbd/badclient/%s: %s" % (name, why))


def recvall(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def connect(flags=3):
    for _ in range(100):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(PATH)
            break
        except OSError:
            time.sleep(0.05)
    hello = recvall(s, 18)
    assert hello[:8] == b"NBDMAGIC", hello
    if flags is not None:
        s.sendall(struct.pack(">I", flags))
    return s


def opt(s, o, data=b""):
    s.sendall(struct.pack(">QII", OPTS_MAGIC, o, len(data)) + data)


def rep(s):
    magic, o, t, n = struct.unpack(">QIII", recvall(s, 20))
    assert magic == REP_MAGIC, hex(magic)
    return o, t, recvall(s, n)


def closed(s):
    """True when the server has dropped the connection (reads EOF)."""
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def go(s, name=EXP, structured=True, meta=True):
    if structured:
        opt(s, 8)
        assert rep(s)[1] == 1
    if structured and meta:
        q = b"base:allocation"
        opt(s, 10, struct.pack(">I", len(name)) + name + struct.pack(">II", 1, len(q)) + q)
        while rep(s)[1] != 1:
            pass
    opt(s, 7, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    size = None
    while True:
        o, t, d = rep(s)
        if t == 3 and struct.unpack(">H", d[:2])[0] == 0:
            size = struct.unpack(">Q", d[2:10])[0]
        if t != 3:
            assert t == 1, hex(t)
            return size


def req(s, cmd, off, ln, flags=0, payload=b"", handle=7):
    s.sendall(struct.pack(">IHHQQI", 0x25609513, flags, cmd, handle, off, ln) + payload)


def reply(s):
    """(error, data) of one reply, simple or structured (chunks gathered)."""
    magic = struct.unpack(">I", recvall(s, 4))[0]
    if magic == 0x67446698:
        err, h = struct.unpack(">IQ", recvall(s, 12))
        return err, None
    assert magic == 0x668E33EF, hex(magic)
    err, data = 0, b""
    while True:
        fl, t, h, n = struct.unpack(">HHQI", recvall(s, 16))
        body = recvall(s, n)
        if t & 0x8000:
            err = struct.unpack(">I", body[:4])[0]
        elif t == 1:
            data += body[8:]
        elif t == 2:
            data += bytes(struct.unpack(">I", body[8:12])[0])
        elif t == 5:
            data += body[4:]
        if fl & 1:
            return err, data
        magic = struct.unpack(">I", recvall(s, 4))[0]


# 1. garbage instead of client flags / options
s = connect(flags=None)
s.sendall(b"\xff" * 64)
check("garbage-flags", closed(s))
s = connect()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 64)
check("garbage-option", closed(s))

# 2. options: unknown, oversized, inconsistent lengths, unknown export, order
s = connect()
opt(s, 99, b"abc")
o, t, d = rep(s)
check("unknown-option", o == 99 and t == (1 << 31) + 1, hex(t))
opt(s, 7, b"\xff" * (1 << 20))
o, t, d = rep(s)
check("huge-option", t >> 31 == 1, hex(t))
opt(s, 7, struct.pack(">I", 1000) + b"exp" + struct.pack(">H", 0))
check("bad-name-length", rep(s)[1] == (1 << 31) + 3)
opt(s, 7, struct.pack(">I", 3) + b"exp" + struct.pack(">H", 5) + b"\0\0")
check("bad-info-count", rep(s)[1] == (1 << 31) + 3)
opt(s, 6, struct.pack(">I", 4) + b"nope" + struct.pack(">H", 0))
o, t, d = rep(s)
check("unknown-export", t == (1 << 31) + 6 and b"nope" in d, "%x %r" % (t, d))
opt(s, 10, struct.pack(">I", 3) + b"exp" + struct.pack(">I", 0))
check("meta-before-structured", rep(s)[1] == (1 << 31) + 3)
opt(s, 3)
o, t, d = rep(s)
check("list", t == 2 and d[4:7] == b"exp" and rep(s)[1] == 1, repr(d))
opt(s, 8, b"x")
check("structured-with-payload", rep(s)[1] == (1 << 31) + 3)
size = go(s)
check("go-after-errors", size is not None and size >= 1 << 20, repr(size))

# 3. requests
req(s, 0, size - 512, 1024)
check("read-past-eof", reply(s)[0] == 22)
req(s, 0, 0xFFFFFFFFFFFFFE00, 1024)
check("read-offset-overflow", reply(s)[0] == 22)
req(s, 0, 0, 64 << 20)
check("read-too-large", reply(s)[0] == 22)
req(s, 1, size - 512, 1024, payload=b"\xaa" * 1024)
check("write-past-eof", reply(s)[0] == 22)
req(s, 0, 0, 512, flags=0x8000)
check("bad-flags", reply(s)[0] == 22)
req(s, 42, 0, 512)
check("unknown-command", reply(s)[0] == 22)
req(s, 6, size - 4096, 8192)
check("zeroes-past-eof", reply(s)[0] == 22)
req(s, 4, size, 1)
check("trim-past-eof", reply(s)[0] == 22)
req(s, 7, 0, 0)
check("status-zero-length", reply(s)[0] == 22)
req(s, 7, 0, 65536)
err, d = reply(s)
check("status", err == 0 and len(d) >= 8, "%d %r" % (err, d))
req(s, 0, 0, 4096)
err, d = reply(s)
check("read-after-errors", err == 0 and len(d) == 4096, "%d %d" % (err, len(d)))
# a write header claiming 64 MiB: an error, then the connection is dropped
req(s, 1, 0, 64 << 20)
err, d = reply(s)
check("write-too-large", err != 0 and closed(s), str(err))

# 4. bad request magic, disconnect in the middle of a write payload / header
s = connect()
go(s)
s.sendall(b"\x13\x95\x60\x25" + b"\0" * 24)
check("bad-request-magic", closed(s))
s = connect()
go(s, structured=False)
req(s, 1, 0, 65536, payload=b"\xee" * 1000)
s.close()
s = connect()
go(s)
s.sendall(struct.pack(">IHH", 0x25609513, 0, 1))
s.close()

# 5. simple replies still work, and the first 64k was not touched by the broken write
s = connect()
go(s, structured=False)
req(s, 0, 0, 65536)
magic, err, h = struct.unpack(">IIQ", recvall(s, 16))
data = recvall(s, 65536) if err == 0 else b""
check("untouched", err == 0 and b"\xee" not in data, str(err))
req(s, 2, 0, 0)
check("disconnect", closed(s))
sys.exit(1 if fails else 0)
