#!/usr/bin/env python3
"""A resolver for network tests, run inside the test's own network namespace (tests never
reach a real resolver): answers A queries for NAME with ADDR over UDP on 127.0.0.1:53, NOERROR
without answers for NAME's other types, NXDOMAIN for anything else. Usage: dns-stub.py NAME ADDR.
Prints "ready" once it listens and one line per query to stderr."""
import socket
import struct
import sys

name, addr = sys.argv[1].lower().rstrip("."), socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(1500)
    if len(q) < 17:
        continue
    tid, _flags, qdcount = struct.unpack(">HHH", q[:6])
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += q[i] + 1
    if qdcount != 1 or i + 5 > len(q):
        continue
    qtype, _qclass = struct.unpack(">HH", q[i + 1:i + 5])
    question = q[12:i + 5]
    qname = ".".join(labels).lower()
    answers = b""
    rcode = 0
    if qname == name and qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + addr
    elif qname != name:
        rcode = 3
    hdr = struct.pack(">HHHHHH", tid, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(hdr + question + answers, peer)
    print("query %s type %d rcode %d" % (qname, qtype, rcode), file=sys.stderr, flush=True)
