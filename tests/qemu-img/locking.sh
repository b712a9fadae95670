#!/bin/bash
# Image locking as QEMU 7.2's (OFD locks on bytes 100+n for permission n held, 200+n for
# permission n not shared): every command below runs while another process holds one such
# byte, with QEMU's tools and with ours; which bytes make a command fail, and the messages,
# must be the same. Then the tools against each other: one holds an image open, the other's
# commands see it (both directions).
. "$(dirname "$0")/lib.sh"
have_ref || { skip locking "$REF_QIMG not installed"; exit 0; }

# Each command runs in a fresh copy of the images, once while this test holds a shared OFD
# lock on each byte in turn (one python process drives them all: a process per run cost most
# of the test's time), with QEMU's tools in r/ and ours in o/; outputs (node names aside), exit
# codes and the qcow2 files must be the same. Each line: the image whose bytes are held, and
# the command ({QI}/{QO}: the tools).
$REF_QIMG create -q -f qcow2 a.qcow2 1M && $REF_QIMG create -q -f raw r.raw 1M &&
    $REF_QIMG create -q -f qcow2 -b a.qcow2 -F qcow2 o.qcow2 || fail locking/setup "qemu-img create"
/usr/bin/python3 - "$REF_QIMG" "$REF_QIO" "$QIMG" "$QIO" <<'PY'
import fcntl, filecmp, glob, os, re, shlex, shutil, struct, subprocess, sys
CMDS = [
    ("a.qcow2", "{QI} info a.qcow2"),
    ("a.qcow2", "{QI} info --backing-chain o.qcow2"),
    ("a.qcow2", "{QI} info -U a.qcow2"),
    ("r.raw", "{QI} map -f raw r.raw"),
    ("r.raw", "{QI} convert -f raw -O raw r.raw c.raw"),
    ("r.raw", "{QI} convert -U -f raw -O raw r.raw c.raw"),
    ("r.raw", "{QI} convert -n -O raw a.qcow2 r.raw"),
    ("a.qcow2", "{QI} check -r leaks a.qcow2"),
    ("a.qcow2", "{QI} snapshot -U -c s0 a.qcow2"),
    ("r.raw", "{QI} resize -f raw r.raw +1M"),
    ("a.qcow2", "{QI} amend -o lazy_refcounts=on a.qcow2"),
    ("a.qcow2", "{QI} rebase -b a.qcow2 -F qcow2 o.qcow2"),
    ("a.qcow2", "{QI} commit o.qcow2"),
    ("a.qcow2", "{QI} create -f qcow2 -b a.qcow2 -F qcow2 n.qcow2"),
    ("r.raw", "{QO} -f raw -c 'read 0 512' r.raw"),
    ("a.qcow2", "{QO} -r -U -c 'read 0 512' a.qcow2"),
    ("a.qcow2", "{QO} -U -c 'read 0 512' a.qcow2"),
]
BYTES = (100, 101, 103, 200, 201, 203)
if os.environ.get("VIREO_ASAN") == "1":
    BYTES = (101, 201)  # the sanitizer build's rerun: the write bytes (refusals and successes)
tools = {"r": sys.argv[1:3], "o": sys.argv[3:5]}

def session(d, img, cmd):
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    for f in ("a.qcow2", "r.raw", "o.qcow2"):
        shutil.copy(f, d)
    qi, qo = tools[d]
    argv = shlex.split(cmd.format(QI=qi, QO=qo))
    log = []
    for b in BYTES:
        fd = os.open(os.path.join(d, img), os.O_RDWR)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, b, 1, 0))
        p = subprocess.run(argv, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
        os.close(fd)
        out = p.stdout.decode(errors="replace").replace(qi, "QI").replace(qo, "QO")
        out = re.sub(r"#block[0-9]*", "#block", out)
        log.append("".join(l for l in out.splitlines(True) if not l.endswith(" ops/sec)\n")))
        log.append("rc=%d\n" % p.returncode)
    return "".join(log)

fails = 0
for i, (img, cmd) in enumerate(CMDS, 1):
    name = "locking/%d %s" % (i, cmd.replace("{", "").replace("}", ""))
    want, got = session("r", img, cmd), session("o", img, cmd)
    why = ""
    for f in sorted(glob.glob("r/*.qcow2")):
        g = "o/" + f[2:]
        if not os.path.exists(g) or not filecmp.cmp(f, g, shallow=False):
            why += " %s differs;" % f[2:]
    if want != got:
        w, g = want.splitlines(), got.splitlines()
        k = next((j for j in range(max(len(w), len(g))) if w[j:j + 1] != g[j:j + 1]), 0)
        why += " output line %d: %r vs QEMU %r" % (k + 1, g[k:k + 1], w[k:k + 1])
    if re.search(r"AddressSanitizer|runtime error|Segmentation", got):
        why += " sanitizer/crash"
    print(("FAIL %s:%s" % (name, why)) if why else "ok " + name, flush=True)
    fails += bool(why)
sys.exit(3 if fails else 0)
PY
rc=$?
case $rc in 0) ;; 3) _fails=$((_fails + 1)) ;; *) fail locking/driver "python exited with status $rc" ;; esac

# Our tools hold an image (qemu-io waiting for commands on its stdin); QEMU's see it, and the
# other way round.
cross() { # name holder-tool checker-tool args...
    local name=$1 holder=$2 checker=$3
    rm -f x.qcow2 && $REF_QIMG create -q -f qcow2 x.qcow2 1M
    mkfifo in.fifo 2>/dev/null
    $holder x.qcow2 <in.fifo >/dev/null 2>&1 &
    local pid=$!
    exec 7>in.fifo
    local n=0
    while [ $n -lt 100 ] && ! grep -q "OFDLCK.*:$(stat -c %i x.qcow2) " /proc/locks; do
        sleep 0.05
        n=$((n + 1))
    done
    local out
    out=$($checker info x.qcow2 2>&1; echo "rc=$?"; $checker info -U x.qcow2 2>&1 | head -2;
        ${checker%qemu-img}qemu-io -c 'read 0 1' x.qcow2 2>&1; echo "rc=$?")
    exec 7>&-
    wait $pid
    rm -f in.fifo
    local want="qemu-img: Could not open 'x.qcow2': Failed to get shared \"write\" lock
Is another process using the image [x.qcow2]?
rc=1
image: x.qcow2
file format: qcow2
qemu-io: can't open device x.qcow2: Failed to get \"write\" lock
Is another process using the image [x.qcow2]?
rc=1"
    if [ "$out" = "$want" ]; then ok "$name"; else fail "$name" "$(echo "$out" | tr '\n' '|')"; fi
}
cross locking/vireo-holds-qemu-sees "$QIO" "$REF_QIMG"
cross locking/qemu-holds-vireo-sees "$REF_QIO" "$QIMG"
finish
