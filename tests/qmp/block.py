"""The block commands over QMP beside QEMU 7.2 (-machine none, drives with if=none and
-blockdev nodes): blockdev-add / blockdev-del / block_resize sessions with their errors and
the queries after them, byte for byte once node names are masked. Then image locking between
the emulators: a running Vireo holds its images against QEMU's qemu-img, qemu-io and
qemu-system-x86_64, and a running QEMU against Vireo's, with QEMU's messages."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import BUILD, Emu, QEMU, VIREO, fail, finish, ok, skip  # noqa: E402

QEMU_IMG = "/usr/bin/qemu-img"

ARGS = ["-machine", "none", "-display", "none", "-S", "-nodefaults",
        "-blockdev", "driver=file,filename=o.qcow2,node-name=nf",
        "-blockdev", "driver=qcow2,file=nf,node-name=nq",
        "-drive", "file=rr.raw,format=raw,if=none,id=d0,node-name=nd",
        "-blockdev", "driver=file,filename=a.qcow2,node-name=nbf",
        "-blockdev", "driver=qcow2,file=nbf,node-name=nbq,read-only=on",
        "-drive", "file=r.raw,format=raw,if=none,id=d1,readonly=on",
        "-drive", "if=none,id=cd"]


def c(name, **args):
    return {"execute": name, "arguments": args} if args else {"execute": name}


# (name, commands): each session starts a fresh pair of emulators on fresh images
SESSIONS = [
    ("del", [c("blockdev-del", **{"node-name": "nf"}), c("blockdev-del", **{"node-name": "nq"}),
             c("blockdev-del", **{"node-name": "nf"}), c("blockdev-del", **{"node-name": "nd"}),
             c("blockdev-del", **{"node-name": "#block123"}), c("blockdev-del"),
             c("blockdev-del", **{"node-name": "nbq"}), c("blockdev-del", **{"node-name": "nbf"}),
             c("query-named-block-nodes")]),
    ("add", [c("blockdev-add", driver="file", filename="odd.bin"),
             c("blockdev-add", driver="file", filename="odd.bin", **{"node-name": "x1"}),
             c("blockdev-add", driver="file", filename="odd.bin", **{"node-name": "x2",
                                                                      "read-only": "on"}),
             c("blockdev-add", driver="file", filename="/nonexist", **{"node-name": "x4"}),
             c("blockdev-add", driver="file", filename="odd.bin", **{"node-name": "d0"}),
             c("blockdev-add", driver="file", filename="odd.bin", **{"node-name": "x1"}),
             c("blockdev-add", driver="raw", file={"driver": "file", "filename": "odd.bin",
                                                   "node-name": "x6f"}, **{"node-name": "x6"}),
             c("blockdev-del", **{"node-name": "x6f"}), c("blockdev-del", **{"node-name": "x6"}),
             c("blockdev-add", driver="raw", file={"driver": "file", "filename": "odd.bin"},
               bogus=1, **{"node-name": "x7"}),
             c("blockdev-add", driver="qcow2", file={"driver": "file", "filename": "z.qcow2"},
               backing="nbq", **{"node-name": "nz"}),
             c("blockdev-add", driver="qcow2", file={"driver": "file", "filename": "z.qcow2"},
               backing=None, **{"node-name": "nz2"}),
             c("blockdev-add", driver="qcow2", file="nf", **{"node-name": "nq2"}),
             c("query-named-block-nodes"), c("query-block"),
             c("query-blockstats", **{"query-nodes": True})]),
    ("resize", [c("block_resize", device="d0", size=1048576),
                c("block_resize", size=1048576),
                c("block_resize", device="nosuch", size=1),
                c("block_resize", **{"node-name": "nosuch", "size": 1}),
                c("block_resize", device="d0", size=1048577, **{"node-name": "x"}),
                c("block_resize", device="d0", size=-1),
                c("block_resize", device="d0", size="x"),
                c("block_resize", device="d1", size=1048576),
                c("block_resize", device="cd", size=100000),
                c("block_resize", **{"node-name": "nq", "size": 128 << 20}),
                c("block_resize", **{"node-name": "nbq", "size": 1 << 20}),
                c("query-block"), c("query-named-block-nodes", flat=True)]),
    ("hmp", [c("human-monitor-command", **{"command-line": l}) for l in
             ["info block", "info block -n", "info block -v", "info block d1", "info block nosuch",
              "info block -n nq", "info blockstats"]]),
]


KERNEL = os.path.join(os.environ.get("VIREO_CACHE", os.path.expanduser("~/.cache/vireo")),
                      "vmlinuz-cloud")
# Removable media on virtio-scsi (pc machine: Vireo needs a kernel to build it; -S, nothing runs):
# a scsi-cd with a medium (cd0), an empty one (cd1), a scsi-hd (not removable), a virtio-blk-pci,
# an empty ide-cd (icd)
MEDIA_ARGS = ["-machine", "pc", "-kernel", KERNEL, "-display", "none", "-S", "-nodefaults",
              "-device", "virtio-scsi-pci,id=s0",
              "-drive", "file=r.raw,format=raw,if=none,id=cd,media=cdrom",
              "-device", "scsi-cd,drive=cd,id=cd0",
              "-device", "scsi-cd,id=cd1",
              "-drive", "file=rr.raw,format=raw,if=none,id=hd",
              "-device", "scsi-hd,drive=hd,id=hd0",
              "-drive", "file=z.qcow2,if=none,id=vb",
              "-device", "virtio-blk-pci,drive=vb,id=vd",
              "-blockdev", "driver=file,filename=odd.bin,node-name=nodd",
              "-device", "ide-cd,id=icd,bus=ide.1"]
MEDIA = [
    ("media-errors", [c("eject"), c("eject", device="cd", id="cd0"), c("eject", device="nosuch"),
                      c("eject", id="nosuch"), c("eject", device="hd"), c("eject", id="hd0"),
                      c("eject", id="vd"), c("eject", device="vb"), c("eject", id="s0"),
                      c("blockdev-close-tray", device="hd"), c("blockdev-remove-medium", id="cd0"),
                      c("blockdev-insert-medium", id="cd0", **{"node-name": "nodd"}),
                      c("blockdev-insert-medium", id="cd1", **{"node-name": "nosuch"}),
                      c("blockdev-insert-medium", id="cd1", **{"node-name": "nodd"}),
                      c("blockdev-change-medium", id="cd0", filename="/nonexistent"),
                      c("blockdev-change-medium", id="cd0", filename="r.raw",
                        **{"read-only-mode": "bogus"}),
                      c("query-block")]),
    ("media-trays", [c("blockdev-open-tray", id="cd1"), c("blockdev-open-tray", id="cd1"),
                     c("blockdev-insert-medium", id="cd1", **{"node-name": "nodd"}),
                     c("blockdev-insert-medium", id="cd1", **{"node-name": "nodd"}),
                     c("query-block"), c("blockdev-close-tray", id="cd1"),
                     c("blockdev-close-tray", id="cd1"), c("eject", id="cd1"),
                     c("blockdev-open-tray", device="cd"), c("blockdev-remove-medium", id="cd0"),
                     c("blockdev-remove-medium", id="cd0"), c("query-block"),
                     c("blockdev-close-tray", device="cd"),
                     c("blockdev-change-medium", device="cd", filename="a.qcow2"),
                     c("blockdev-change-medium", id="cd1", filename="r.raw", format="raw",
                       **{"read-only-mode": "read-only"}),
                     c("blockdev-change-medium", id="cd0", filename="z.qcow2", force=True),
                     c("eject", device="cd", force=True),
                     c("blockdev-change-medium", id="icd", filename="r.raw", format="raw",
                       **{"read-only-mode": "read-only"}),
                     c("query-block"), c("eject", id="icd"), c("query-block"),
                     c("human-monitor-command", **{"command-line": "info block"})]),
]


def compare_media(wd):
    if not os.path.exists(KERNEL):
        skip("qmp-block/media", "no %s (scripts/guests.sh builds it)" % KERNEL)
        return
    compare_sessions(wd, MEDIA, MEDIA_ARGS)


def mask(s):
    s = re.sub(r"#block\d+", "#block", s)
    s = re.sub(r'"idle_time_ns": \d+', '"idle_time_ns": N', s)
    return re.sub(r"idle_time_ns=\d+", "idle_time_ns=N", s)


def setup(wd):
    subprocess.run("rm -f *; Q=%s; $Q create -q -f qcow2 a.qcow2 64M && "
                   "$Q create -q -f qcow2 -b a.qcow2 -F qcow2 o.qcow2 && $Q create -q -f raw "
                   "r.raw 1M && cp r.raw rr.raw && $Q create -q -f qcow2 z.qcow2 1M && "
                   "head -c 1000 /dev/zero > odd.bin" % QEMU_IMG,
                   shell=True, cwd=wd, check=True)


def session(binary, cmds, args=ARGS):
    """Each command's reply, then the events it caused (without their timestamps)."""
    e = Emu(args, binary=binary)
    try:
        q = e.qmp()
        q.negotiate()
        out = []
        for m in cmds:
            q.send_raw(json.dumps(m))
            r = mask(json.dumps(q.reply()))
            ev = [json.dumps({k: v for k, v in x.items() if k != "timestamp"}) for x in q.events]
            q.events = []
            out.append(" ".join([r] + ev))
        return out
    finally:
        e.stop()


def compare_sessions(wd, sessions=SESSIONS, args=ARGS):
    for name, cmds in sessions:
        setup(wd)
        a = session(QEMU, cmds, args)
        setup(wd)
        b = session(VIREO, cmds, args)
        for i, (x, y) in enumerate(zip(b, a)):
            if x != y:
                fail("qmp-block/" + name, "command %d %r:\n    vireo %s\n    qemu  %s" %
                     (i, cmds[i], x[:700], y[:700]))
                break
        else:
            ok("qmp-block/" + name)


def run(cmd, wd, stdin=None, stderr_only=False):
    p = subprocess.run(cmd, shell=True, cwd=wd, capture_output=True, text=True, input=stdin,
                       timeout=60)
    out = p.stderr if stderr_only else p.stdout + p.stderr
    return "%s rc=%d" % (out.strip(), p.returncode)


QUIT = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'


def emu_run(emu, drive, wd):
    """An emulator with one drive: its stderr and exit status (quit at once over QMP)."""
    return run("%s -machine none -S -display none -nodefaults -drive %s -qmp stdio" % (emu, drive),
               wd, stdin=QUIT, stderr_only=True)


def hold_and_probe(wd, holder, img, io, emu):
    """holder runs with the images open; what do img/io/emu (the other tools) say?"""
    setup(wd)
    e = Emu(["-machine", "none", "-display", "none", "-S", "-nodefaults",
             "-drive", "file=o.qcow2,if=none,id=d0", "-drive", "file=r.raw,format=raw,"
             "if=none,id=d1,readonly=on"], binary=holder)
    try:
        e.qmp().close()
        got = [
            run("%s info o.qcow2" % img, wd),
            run("%s info -U o.qcow2 | head -2" % img, wd),
            run("%s info --backing-chain o.qcow2 | head -1" % img, wd),
            run("%s check a.qcow2" % img, wd),
            run("%s check -r leaks a.qcow2" % img, wd),
            run("%s -c 'read 0 512' o.qcow2 | head -1" % io, wd),
            run("%s -r -c 'read 0 512' o.qcow2 | head -1" % io, wd),
            run("%s -r -U -c 'read 0 512' o.qcow2 | head -1" % io, wd),
            run("%s -f raw -c 'write 0 512' r.raw | head -1" % io, wd),
            emu_run(emu, "file=o.qcow2,if=none", wd),
            emu_run(emu, "file=a.qcow2,if=none,readonly=on", wd),
            emu_run(emu, "file=r.raw,format=raw,if=none", wd),
        ]
    finally:
        e.stop()
    return [re.sub(r"^\S*/qemu-(img|io|system-x86_64)", r"qemu-\1", g, flags=re.M)
            for g in got]


def locking(wd):
    """A running emulator holds its images: QEMU's reference (QEMU holds, QEMU's tools look),
    then Vireo holding against QEMU's tools and emulator, and QEMU holding against Vireo's."""
    vimg, vio = os.path.join(BUILD, "qemu-img"), os.path.join(BUILD, "qemu-io")
    qtools = (QEMU_IMG, "/usr/bin/qemu-io", QEMU)
    ref = hold_and_probe(wd, QEMU, *qtools)
    if not any("Failed to get" in r for r in ref):
        fail("qmp-block/locking", "QEMU's own tools saw no lock: %r" % ref)
        return
    for who, holder, tools in [("vireo-holds", VIREO, qtools),
                               ("qemu-holds", QEMU, (vimg, vio, VIREO)),
                               ("vireo-holds-vireo-tools", VIREO, (vimg, vio, VIREO))]:
        got = hold_and_probe(wd, holder, *tools)
        bad = ["%d: %r (QEMU: %r)" % (i, g, r) for i, (g, r) in enumerate(zip(got, ref)) if g != r]
        if bad:
            fail("qmp-block/locking/" + who, "; ".join(bad))
        else:
            ok("qmp-block/locking/" + who)


def main():
    if not os.path.exists(QEMU) or not os.path.exists(QEMU_IMG):
        skip("qmp-block", "QEMU 7.2 not installed")
        return
    wd = tempfile.mkdtemp(prefix="vireo-qmp-block.")
    os.chdir(wd)
    try:
        compare_sessions(wd)
        compare_media(wd)
        locking(wd)
    finally:
        subprocess.run(["rm", "-rf", wd])


main()
finish()
