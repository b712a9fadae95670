#!/bin/bash
# Serial console input under -nographic (stdio through the mux into COM1): a command line much
# longer than the UART's 16-byte receive FIFO, typed at once into the guest's shell, arrives
# whole. Then the guest powers off and the emulator exits 0.
. "$(dirname "$0")/../lib/common.sh"
kernel=$VIREO_CACHE/vmlinuz-cloud
initrd=$VIREO_CACHE/test-initrd.cpio.gz
if ! [ -r "$kernel" ] || ! [ -r "$initrd" ]; then
    skip serial-input "needs $kernel and $initrd (scripts/guests.sh)"
    finish
    exit
fi
out=$(
    /usr/bin/python3 - "$VIREO" "$kernel" "$initrd" <<'PY'
import os, select, subprocess, sys, time
vireo, kernel, initrd = sys.argv[1:4]
p = subprocess.Popen([vireo, "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
                      "-kernel", kernel, "-initrd", initrd,
                      "-append", "console=ttyS0 quiet panic=-1 vireo.action=shell"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
buf = b""
def wait_for(needle, limit):
    global buf
    end = time.time() + limit
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    return needle in buf
line = "echo " + "".join(chr(ord("a") + i % 26) for i in range(150)) + "-END"
want = line[5:].encode()
ok = wait_for(b"/ # ", 90)
if ok:
    p.stdin.write(line.encode() + b"\n")
    p.stdin.flush()
    ok = wait_for(b"\n" + want, 30) or wait_for(b"\r\n" + want, 1)
p.stdin.write(b"poweroff -f\n")
p.stdin.flush()
try:
    rc = p.wait(30)
except subprocess.TimeoutExpired:
    p.kill()
    rc = "timeout"
print("result", "ok" if ok else "missing", rc)
if not ok:
    print(buf[-600:].decode(errors="replace").replace("\r", "").replace("\n", "|"))
PY
)
case "$out" in
"result ok 0"*) ok "serial-input/150-byte-line" ;;
*) fail "serial-input/150-byte-line" "$(echo "$out" | tr '\n' ' ' | head -c 700)" ;;
esac
finish
