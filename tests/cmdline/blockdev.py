"""-drive, -blockdev, -snapshot, -hda..-hdd, -cdrom and disk images on the command line, beside
QEMU 7.2: each case runs QEMU, then Vireo, with the same options (-S, -nodefaults, a QMP
socket). When QEMU refuses the command line, Vireo must exit the same way with the same
message; when it starts, query-block, query-named-block-nodes, query-blockstats and HMP
"info block" must be the same (node names and temporary file names masked).

Cases QEMU starts only with devices Vireo does not have yet (floppy) are in MISSING with
the message Vireo gives instead. Cases with devices on the pc machine load the cache's kernel
(Vireo boots only with -kernel; -S keeps it from running). Images live in a scratch
directory."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import Emu, QEMU, VIREO, fail, finish, ok, skip  # noqa: E402

QEMU_IMG = "/usr/bin/qemu-img"
ASAN = os.environ.get("VIREO_ASAN") == "1"
SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")

NONE = ["-machine", "none"]
PC = ["-machine", "pc"]
KERNEL = os.path.join(os.environ.get("VIREO_CACHE", os.path.expanduser("~/.cache/vireo")),
                      "vmlinuz-cloud")
PCK = PC + ["-kernel", KERNEL]

# (name, machine, options)
CASES = [
    # -drive if=none: files, formats, the backend's and the nodes' options
    ("none/raw", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d0"]),
    ("none/probed-raw", NONE, ["-drive", "file=r.raw,if=none,id=d0"]),
    ("none/qcow2-backing", NONE, ["-drive", "file=o.qcow2,if=none,id=d0"]),
    ("none/default-ids", NONE, ["-drive", "file=r.raw,format=raw,if=none",
                                "-drive", "file=a.qcow2,if=none", "-drive", "if=none"]),
    ("none/index", NONE, ["-drive", "file=r.raw,format=raw,if=none,index=3"]),
    ("none/empty", NONE, ["-drive", "if=none,id=e", "-drive", "file=,if=none,id=f"]),
    ("none/cdrom", NONE, ["-drive", "file=r.raw,format=raw,if=none,media=cdrom,id=c"]),
    ("none/cache-none", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,cache=none"]),
    ("none/cache-unsafe", NONE, ["-drive", "file=o.qcow2,if=none,id=d,cache=unsafe"]),
    ("none/cache-directsync", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,"
                                               "cache=directsync"]),
    ("none/cache-writethrough", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,"
                                                 "cache=writethrough"]),
    ("none/cache-direct-override", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,"
                                                    "cache=none,cache.direct=off"]),
    ("none/aio-native", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,aio=native,"
                                         "cache=none"]),
    ("none/readonly", NONE, ["-drive", "file=o.qcow2,if=none,id=d,readonly=on"]),
    ("none/read-only", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,read-only=on"]),
    ("none/detect-zeroes", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,"
                                            "detect-zeroes=unmap,discard=unmap"]),
    ("none/detect-zeroes-no-discard", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,"
                                                       "detect-zeroes=on"]),
    ("none/werror", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,werror=stop,"
                                     "rerror=ignore"]),
    ("none/node-name", NONE, ["-drive", "file=a.qcow2,if=none,id=d,node-name=nn"]),
    ("none/file-options", NONE, ["-drive", "file=a.qcow2,if=none,id=d,file.locking=off,"
                                           "lazy-refcounts=on"]),
    ("none/driver-file-filename", NONE, ["-drive", "if=none,id=d,driver=raw,file.driver=file,"
                                                   "file.filename=r.raw"]),
    ("none/snapshot", NONE, ["-drive", "file=o.qcow2,if=none,id=d,snapshot=on"]),
    ("none/snapshot-raw", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,snapshot=on"]),
    ("none/-snapshot", NONE, ["-snapshot", "-drive", "file=a.qcow2,if=none,id=d",
                              "-drive", "file=r.raw,format=raw,if=none,id=e,snapshot=off"]),
    ("none/default-if", NONE, ["-drive", "file=r.raw,format=raw"]),
    ("none/hda", NONE, ["-hda", "r.raw"]),
    # -drive errors
    ("err/serial", NONE, ["-drive", "file=r.raw,format=raw,if=none,serial=abc"]),
    ("err/media", NONE, ["-drive", "file=r.raw,format=raw,media=x"]),
    ("err/format", NONE, ["-drive", "file=r.raw,format=bogus"]),
    ("err/cache", NONE, ["-drive", "file=r.raw,format=raw,cache=x"]),
    ("err/aio", NONE, ["-drive", "file=r.raw,format=raw,aio=x"]),
    ("err/aio-native-no-direct", NONE, ["-drive", "file=r.raw,format=raw,if=none,aio=native"]),
    ("err/werror", NONE, ["-drive", "file=r.raw,format=raw,werror=x"]),
    ("err/rerror-enospc", NONE, ["-drive", "file=r.raw,format=raw,rerror=enospc"]),
    ("err/if", NONE, ["-drive", "file=r.raw,format=raw,if=x"]),
    ("err/unit", PC, ["-drive", "file=r.raw,format=raw,if=ide,unit=5"]),
    ("err/index-and-unit", PC, ["-drive", "file=r.raw,format=raw,if=ide,index=1,unit=0"]),
    ("err/exists", PC, ["-drive", "file=r.raw,format=raw,if=none,index=0",
                        "-drive", "file=a.qcow2,if=none,index=0"]),
    ("err/id", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=1bad"]),
    ("err/duplicate-id", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d",
                                "-drive", "file=a.qcow2,if=none,id=d"]),
    ("err/node-name-is-id", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,node-name=d"]),
    ("err/node-name", NONE, ["-drive", "file=r.raw,format=raw,if=none,id=d,node-name=1x"]),
    ("err/unknown-option", NONE, ["-drive", "file=a.qcow2,if=none,id=d,foo=bar"]),
    ("err/nonexistent", NONE, ["-drive", "file=/nonexist,if=none,id=d"]),
    ("err/bus", NONE, ["-drive", "file=r.raw,format=raw,if=none,bus=x"]),
    ("err/readonly-value", NONE, ["-drive", "file=r.raw,format=raw,if=none,readonly=x"]),
    ("err/snapshot-value", NONE, ["-drive", "file=r.raw,format=raw,if=none,snapshot=x"]),
    ("err/discard", NONE, ["-drive", "file=r.raw,format=raw,if=none,discard=x"]),
    ("err/detect-zeroes", NONE, ["-drive", "file=r.raw,format=raw,if=none,detect-zeroes=x"]),
    ("err/driver-and-format", NONE, ["-drive", "file=r.raw,format=raw,if=none,driver=raw"]),
    ("err/wrong-format", NONE, ["-drive", "file=r.raw,if=none,format=qcow2"]),
    ("err/no-file-options", NONE, ["-drive", "if=none,cache=none"]),
    ("err/no-file-format", NONE, ["-drive", "if=none,format=raw"]),
    ("err/scsi", PC, ["-drive", "file=r.raw,format=raw,if=scsi"]),
    ("err/ide-bus", PC, ["-drive", "file=r.raw,format=raw,if=ide,bus=2"]),
    ("err/floppy-index", PC, ["-drive", "file=r.raw,format=raw,if=floppy,index=2"]),
    ("err/machine-none-ide", NONE, ["-drive", "file=r.raw,format=raw,if=ide"]),
    ("err/machine-none-virtio", NONE, ["-drive", "file=r.raw,format=raw,if=virtio"]),
    ("err/hda-twice", PC, ["-hda", "r.raw", "-hda", "a.qcow2"]),
    ("err/positional", NONE, ["/nonexist"]),
    ("err/locked-by-itself", NONE, ["-drive", "file=a.qcow2,if=none,id=a",
                                    "-drive", "file=o.qcow2,if=none,id=o"]),
    # -blockdev
    ("blockdev/file", NONE, ["-blockdev", "driver=file,filename=r.raw,node-name=f0"]),
    ("blockdev/raw-json", NONE, ["-blockdev", '{"driver":"raw","node-name":"r0","file":'
                                              '{"driver":"file","filename":"r.raw"}}']),
    ("blockdev/qcow2-chain", NONE, ["-blockdev", "driver=file,filename=a.qcow2,node-name=af",
                                    "-blockdev", "driver=qcow2,file=af,node-name=aq",
                                    "-blockdev", "driver=file,filename=o.qcow2,node-name=of",
                                    "-blockdev", "driver=qcow2,file=of,backing=aq,node-name=oq"]),
    ("blockdev/backing-null", NONE, ["-blockdev", "driver=qcow2,file.driver=file,file.filename="
                                                  "o.qcow2,backing=null,node-name=q"]),
    ("blockdev/options", NONE, ["-blockdev", "driver=qcow2,node-name=q,read-only=on,"
                                             "cache.direct=on,discard=unmap,detect-zeroes=on,"
                                             "file.driver=file,file.filename=a.qcow2,"
                                             "file.aio=native,auto-read-only=on"]),
    ("blockdev/implied-driver", NONE, ["-blockdev", "file,filename=r.raw,node-name=f0"]),
    ("blockdev/with-drive", NONE, ["-blockdev", "driver=file,filename=r.raw,node-name=f0",
                                   "-drive", "file=a.qcow2,if=none,id=d"]),
    ("blockdev-err/missing", NONE, ["-blockdev", "driver=file"]),
    ("blockdev-err/unexpected", NONE, ["-blockdev", "driver=file,filename=r.raw,foo=1"]),
    ("blockdev-err/nested-unexpected", NONE, ["-blockdev", "driver=raw,file.driver=file,"
                                                           "file.filename=r.raw,file.foo=1"]),
    ("blockdev-err/nested-missing", NONE, ["-blockdev", "driver=qcow2,file.driver=file"]),
    ("blockdev-err/no-driver", NONE, ["-blockdev", "filename=r.raw"]),
    ("blockdev-err/driver", NONE, ["-blockdev", "driver=bogus"]),
    ("blockdev-err/bool", NONE, ["-blockdev", "driver=file,filename=r.raw,read-only=x"]),
    ("blockdev-err/enum", NONE, ["-blockdev", "driver=file,filename=r.raw,discard=x"]),
    ("blockdev-err/int", NONE, ["-blockdev", "driver=raw,file.driver=file,file.filename=r.raw,"
                                             "size=x"]),
    ("blockdev-err/json-type", NONE, ["-blockdev", '{"driver":"file","filename":"r.raw",'
                                                   '"read-only":"on"}']),
    ("blockdev-err/json-nested", NONE, ["-blockdev", '{"driver":"raw","file":{"driver":"file",'
                                                     '"filename":"r.raw","x":1}}']),
    ("blockdev-err/json-syntax", NONE, ["-blockdev", '{"driver":"file"']),
    ("blockdev-err/node-name", NONE, ["-blockdev", "driver=file,filename=r.raw,node-name=1x"]),
    ("blockdev-err/node-name-long", NONE, ["-blockdev", "driver=file,filename=r.raw,node-name="
                                                        "abcdefghijabcdefghijabcdefghijab"]),
    ("blockdev-err/root-name", NONE, ["-blockdev", "driver=file,filename=r.raw"]),
    ("blockdev-err/ref", NONE, ["-blockdev", "driver=qcow2,node-name=q,file=nosuch"]),
    ("blockdev-err/backing-ref", NONE, ["-blockdev", "driver=qcow2,node-name=q,file.driver=file,"
                                                     "file.filename=o.qcow2,backing=nosuch"]),
    ("blockdev-err/open", NONE, ["-blockdev", "driver=file,filename=/nonexist,node-name=n"]),
    ("blockdev-err/aio", NONE, ["-blockdev", "driver=file,filename=r.raw,node-name=n,aio=native"]),
    ("blockdev-err/format", NONE, ["-blockdev", "driver=qcow2,node-name=q,file.driver=file,"
                                                "file.filename=r.raw"]),
    ("blockdev-err/duplicate", NONE, ["-blockdev", "driver=file,filename=r.raw,node-name=n",
                                      "-blockdev", "driver=file,filename=a.qcow2,node-name=n"]),
    ("blockdev-err/conflict", NONE, ["-blockdev", "driver=file,filename=a.qcow2,node-name=n",
                                     "-blockdev", "driver=qcow2,file=n,node-name=m",
                                     "-blockdev", "driver=qcow2,file=n,node-name=o"]),
    # virtio-blk-pci: the implied device of if=virtio and -device with a drive (one command
    # line for both: each pc case starts two emulators), and the device's own refusals
    ("virtio/drives-and-devices", PCK, ["-drive", "file=r.raw,format=raw,if=none,id=d0",
                                        "-device", "virtio-blk-pci,drive=d0,id=vd,serial=abc",
                                        "-drive", "file=o.qcow2,if=virtio,werror=stop"]),
    ("virtio-err/drive-twice", PCK, ["-drive", "file=r.raw,format=raw,if=none,id=d0",
                                     "-device", "virtio-blk-pci,drive=d0",
                                     "-device", "virtio-blk-pci,drive=d0"]),
    ("virtio-err/block-sizes", PCK, ["-drive", "file=r.raw,format=raw,if=none,id=d0",
                                     "-device", "virtio-blk-pci,drive=d0,"
                                                "logical_block_size=4096"]),
    # virtio-scsi-pci with scsi-hd and scsi-cd (a CD with a medium, an empty one): query-block's
    # removable media and tray state; the SCSI bus's refusals; -drive if=scsi as QEMU 7.2's pc
    ("scsi/hd-and-cd", PCK, ["-device", "virtio-scsi-pci,id=s0",
                             "-drive", "file=r.raw,format=raw,if=none,id=d0",
                             "-device", "scsi-hd,drive=d0,id=sd,serial=abc,wwn=0x5000c50015ea71ac",
                             "-drive", "file=a.qcow2,if=none,id=cd,media=cdrom",
                             "-device", "scsi-cd,drive=cd,bus=s0.0,scsi-id=3,lun=1",
                             "-device", "scsi-cd"]),
    ("scsi-err/no-bus", PCK, ["-drive", "file=r.raw,format=raw,if=none,id=d0",
                              "-device", "scsi-hd,drive=d0"]),
    ("scsi-err/lun-used", PCK, ["-device", "virtio-scsi-pci",
                                "-drive", "file=r.raw,format=raw,if=none,id=d0",
                                "-device", "scsi-hd,drive=d0,scsi-id=1,lun=0",
                                "-device", "scsi-cd,scsi-id=1,lun=0"]),
    ("scsi-err/drive-twice", PCK, ["-device", "virtio-scsi-pci",
                                   "-drive", "file=r.raw,format=raw,if=none,id=d0",
                                   "-device", "scsi-hd,drive=d0", "-device", "scsi-cd,drive=d0"]),
    ("scsi-err/hd-empty", PCK, ["-device", "virtio-scsi-pci", "-drive", "if=none,id=e",
                                "-device", "scsi-hd,drive=e"]),
    ("scsi-err/if-scsi", PCK, ["-drive", "file=r.raw,format=raw,if=scsi"]),
    ("scsi-err/queues", PCK, ["-device", "virtio-scsi-pci,num_queues=1022"]),
    ("ide/default-if", PCK, ["-drive", "file=r.raw,format=raw"]),
    ("ide/hda-cdrom", PCK, ["-hda", "r.raw", "-cdrom", "a.qcow2"]),
    ("ide/empty-cd", PCK, ["-drive", "if=ide,media=cdrom,index=3"]),
    ("ide-err/hd-empty", PCK, ["-drive", "if=ide"]),
    ("ide-err/unit-in-use", PCK, ["-drive", "file=r.raw,format=raw,if=none,id=d0",
                                  "-hda", "a.qcow2", "-device", "ide-hd,drive=d0,bus=ide.0,unit=0"]),
    ("blockdev-err/drive-id-is-node", NONE, ["-drive", "if=none,file=r.raw,format=raw,id=n",
                                             "-blockdev", "driver=file,filename=a.qcow2,"
                                                          "node-name=n"]),
]

# QEMU starts these with devices Vireo lacks so far: Vireo's own message.
MISSING = [
    ("missing/floppy", PC, ["-drive", "file=r.raw,format=raw,if=floppy"],
     "-drive file=r.raw,format=raw,if=floppy: Vireo has no floppy controller yet (if=floppy)"),
]

QUERIES = [("query-block", None), ("query-named-block-nodes", None),
           ("query-named-block-nodes", {"flat": True}), ("query-blockstats", None),
           ("query-blockstats", {"query-nodes": True})]
HMP = ["info block", "info block -n", "info block -v", "info blockstats"]


def mask(s):
    s = re.sub(r"#block\d+", "#block", s)
    s = re.sub(r"vl\.[A-Za-z0-9]{6}", "vl.XXXXXX", s)
    s = re.sub(r'"idle_time_ns": \d+', '"idle_time_ns": N', s)
    s = re.sub(r"idle_time_ns=\d+", "idle_time_ns=N", s)
    return s


def run(binary, machine, args, wd):
    """(exit status, stderr, answers or None when it did not start)"""
    e = Emu(["-S", "-display", "none", "-nodefaults"] + machine + args, binary=binary)
    old = os.getcwd()
    try:
        deadline = time.time() + 20
        while not os.path.exists(e.sock) and e.proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        if e.proc.poll() is not None or not os.path.exists(e.sock):
            rc = e.wait()
            return rc, e.stderr(), None
        try:
            q = e.qmp()
            q.negotiate()
        except (OSError, EOFError, ValueError):
            # it listened, then refused the command line (drives open after the monitors)
            rc = e.wait()
            return rc, e.stderr(), None
        answers = []
        for cmd, a in QUERIES:
            answers.append(json.dumps(q.cmd(cmd, a)))
        for h in HMP:
            answers.append(q.hmp(h))
        q.cmd("quit")  # a clean exit: LeakSanitizer looks at what the drives left behind
        q.close()
        return e.wait(), e.stderr(), [mask(x) for x in answers]
    finally:
        os.chdir(old)
        e.stop()


def make_templates(tpl):
    os.mkdir(tpl)
    subprocess.run("%s create -q -f qcow2 a.qcow2 64M && %s create -q -f raw r.raw 16M "
                   "&& %s create -q -f qcow2 -b a.qcow2 -F qcow2 o.qcow2" %
                   (QEMU_IMG, QEMU_IMG, QEMU_IMG), shell=True, cwd=tpl, check=True)


def copy_sparse(src, dst):
    """src's data extents into a new dst of the same size (holes stay holes)."""
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    size, off = os.fstat(fi).st_size, 0
    while off < size:
        try:
            d = os.lseek(fi, off, os.SEEK_DATA)
        except OSError:
            break
        off = os.lseek(fi, d, os.SEEK_HOLE)
        os.pwrite(fo, os.pread(fi, off - d, d), d)
    os.ftruncate(fo, size)
    os.close(fi)
    os.close(fo)


def setup(wd, tpl):
    """Fresh images for a case: copies of the ones QEMU's qemu-img made once (a qemu-img run
    per image and case cost more than the emulators)."""
    for f in os.listdir(wd):
        p = os.path.join(wd, f)
        if os.path.isfile(p):
            os.unlink(p)
    for f in ("a.qcow2", "r.raw", "o.qcow2"):
        copy_sparse(os.path.join(tpl, f), os.path.join(wd, f))


def main():
    if not os.path.exists(QEMU) or not os.path.exists(QEMU_IMG):
        skip("cmdline-blockdev", "QEMU 7.2 not installed")
        return
    wd = tempfile.mkdtemp(prefix="vireo-blockdev.")
    os.chdir(wd)
    os.environ["TMPDIR"] = wd  # snapshot=on overlays
    tpl = os.path.join(wd, "tpl")
    try:
        make_templates(tpl)
        for name, machine, args in CASES:
            if machine == PCK and not os.path.exists(KERNEL):
                skip("blockdev/" + name, "no %s (scripts/guests.sh builds it)" % KERNEL)
                continue
            if ASAN:
                # the sanitizer build: the same command lines for its reports; the comparison
                # with QEMU is the normal build's run
                setup(wd, tpl)
                vrc, verr, _ = run(VIREO, machine, args, wd)
                if SANITIZER.search(verr) or vrc not in (0, 1):
                    fail("blockdev/" + name, "exit %r, stderr %r" % (vrc, verr[-600:]))
                else:
                    ok("blockdev/" + name)
                continue
            setup(wd, tpl)
            qrc, qerr, qans = run(QEMU, machine, args, wd)
            setup(wd, tpl)
            vrc, verr, vans = run(VIREO, machine, args, wd)
            qerr = mask(qerr.replace("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64"))
            verr = mask(verr.replace(VIREO, "qemu-system-x86_64"))
            if qrc != vrc or qerr != verr:
                fail("blockdev/" + name, "exit %r vs QEMU %r, stderr %r vs QEMU %r" %
                     (vrc, qrc, verr[-300:], qerr[-300:]))
            elif qans != vans:
                diff = next(((a, b) for a, b in zip(vans, qans) if a != b), (vans, qans))
                fail("blockdev/" + name, "answers differ: vireo %r\n    qemu  %r" %
                     (diff[0][:600], diff[1][:600]))
            else:
                ok("blockdev/" + name)
        for name, machine, args, want in MISSING:
            setup(wd, tpl)
            vrc, verr, _ = run(VIREO, machine, args, wd)
            verr = verr.replace(VIREO, "qemu-system-x86_64").strip().split("\n")[-1]
            if vrc == 1 and verr == "qemu-system-x86_64: " + want:
                ok("blockdev/" + name)
            else:
                fail("blockdev/" + name, "exit %r, stderr %r" % (vrc, verr))
    finally:
        subprocess.run(["rm", "-rf", wd])


main()
finish()
