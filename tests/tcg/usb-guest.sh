#!/bin/bash
# Linux drives the USB tablet, keyboard and mouse on piix3-usb-uhci, beside QEMU 7.2 (docs/usb.md).
# The suite's cloud kernel has no USB support, so this boots the cache's generic kernel with its
# USB modules (usb-common usbcore uhci-hcd hid usbhid hid-generic evdev, in that order, as
# lib/modules/*.ko in a tar: $VIREO_USB_MODULES or $VIREO_CACHE/usb-modules.tar, taken from the
# linux-image package of vmlinuz-generic); without them it skips. On both emulators, with
# -usb -device usb-tablet -device usb-kbd,port=2 (-device usb-mouse replaces the keyboard in
# a second boot only when asked: USB_GUEST_MOUSE=1), it records and compares:
#   the sysfs attributes of every USB device and interface, /proc/bus/input/devices
#   the events a QMP input-send-event (abs x=1000 y=2000, then a left click) gives on the
#   tablet's /dev/input/eventN (read with busybox dd and od: no helper binary needed)
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/guest-initrd.sh"
QEMU=${QEMU:-qemu-system-x86_64}
name=usb-guest
mods=${VIREO_USB_MODULES:-$VIREO_CACHE/usb-modules.tar}
kernel=$VIREO_CACHE/vmlinuz-generic
for f in "$kernel" "$VIREO_CACHE/busybox" "$mods"; do
    if ! [ -r "$f" ]; then
        skip "$name" "no $f (the generic kernel's USB modules: see this script's header)"
        finish
        exit
    fi
done
if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip "$name" "$QEMU not installed"
    finish
    exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bb_root "$work/root"
mkdir -p "$work/root/sys"
tar -xf "$mods" -C "$work/root"
bb_init "$work/root" <<'INIT'
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in usb-common usbcore uhci-hcd hid usbhid hid-generic evdev; do insmod /lib/modules/$m.ko; done
# enumeration: wait for the tablet's event device
i=0
while [ $i -lt 100 ] && ! grep -q Tablet /sys/class/input/event*/device/name 2>/dev/null; do
    sleep 0.1; i=$((i + 1))
done
echo ===BEGIN===
for d in /sys/bus/usb/devices/*; do
    [ -f $d/idVendor ] || continue
    echo "dev $(basename $d)"
    for a in idVendor idProduct bcdDevice version speed manufacturer product serial bDeviceClass \
        bMaxPacketSize0 bNumConfigurations bmAttributes bMaxPower configuration; do
        echo "  $a=$(cat $d/$a 2>/dev/null)"
    done
done
for i in /sys/bus/usb/devices/*:*; do
    echo "if $(basename $i) $(cat $i/bInterfaceClass $i/bInterfaceSubClass $i/bInterfaceProtocol $i/bNumEndpoints | tr '\n' ' ')"
    echo "  ep81 $(cat $i/ep_81/bInterval $i/ep_81/wMaxPacketSize 2>/dev/null | tr '\n' ' ')"
done
cat /proc/bus/input/devices
for e in /sys/class/input/event*; do
    case "$(cat $e/device/name)" in *Tablet*) EV=/dev/input/$(basename $e) ;; esac
done
echo ===EVENTS===
# type, code and value of six input_events (24 bytes each; the timestamps left out)
dd if=$EV bs=24 count=6 2>/dev/null | od -An -tx1 -w24 | cut -c 49-
echo ===END===
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd" 1

run() { # BIN PREFIX
    local pre=$2
    timeout 240 "$1" -accel tcg -m 512 -smp 1 -nodefaults -display none -serial stdio -no-reboot \
        -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 panic=-1 quiet" \
        -usb -device usb-tablet -device usb-kbd,port=2 \
        -qmp "unix:$pre.qmp,server=on,wait=off" >"$pre.out" 2>"$pre.err" &
    local pid=$!
    while kill -0 $pid 2>/dev/null && ! grep -q '===EVENTS===' "$pre.out"; do
        sleep 0.2
    done
    sleep 0.5
    python3 - "$pre.qmp" >"$pre.qmp.log" 2>&1 <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
def cmd(c):
    f.write(json.dumps(c) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" not in r:
            return r
print(cmd({"execute": "qmp_capabilities"}))
print(cmd({"execute": "input-send-event", "arguments": {"events": [
    {"type": "abs", "data": {"axis": "x", "value": 1000}},
    {"type": "abs", "data": {"axis": "y", "value": 2000}}]}}))
time.sleep(0.3)
print(cmd({"execute": "input-send-event", "arguments": {"events": [
    {"type": "btn", "data": {"down": True, "button": "left"}}]}}))
PY
    wait $pid
    tr -d '\r' <"$pre.out" | sed -n '/^===BEGIN===$/,/^===END===$/p' | sed '1d;$d' >"$pre.guest"
}
run "$VIREO" "$work/vireo" &
vpid=$!
if [ "${VIREO_ASAN:-0}" != 1 ]; then
    run "$QEMU" "$work/qemu"
fi
wait $vpid
if ! grep -q '^dev 1-1' "$work/vireo.guest"; then
    fail "$name/vireo-enumerates" "$(tail -c 600 "$work/vireo.out" | tr '\n' '|') $(head -c 300 "$work/vireo.err")"
    finish
    exit
fi
ok "$name/vireo-enumerates"
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/vireo.err"; then
    fail "$name/sanitizer" "$(grep -m1 -A8 -E 'ERROR|runtime error' "$work/vireo.err" | tr '\n' '|' | head -c 900)"
fi
# the absolute move and the click as the guest's evdev reports them
expect=' 03 00 00 00 e8 03 00 00| 03 00 01 00 d0 07 00 00| 00 00 00 00 00 00 00 00| 04 00 04 00 01 00 09 00| 01 00 10 01 01 00 00 00| 00 00 00 00 00 00 00 00|'
got=$(sed -n '/^===EVENTS===$/,$p' "$work/vireo.guest" | sed 1d | tr '\n' '|')
if [ "$got" = "$expect" ]; then
    ok "$name/abs-event"
else
    fail "$name/abs-event" "got $got"
fi
if [ "${VIREO_ASAN:-0}" = 1 ]; then
    skip "$name/as-qemu" "the sanitizer build's run: the comparison with QEMU 7.2 is the normal build's"
elif cmp -s "$work/qemu.guest" "$work/vireo.guest" && [ -s "$work/qemu.guest" ]; then
    ok "$name/as-qemu"
else
    fail "$name/as-qemu" "$(diff "$work/qemu.guest" "$work/vireo.guest" | head -c 700 | tr '\n' '|')"
fi
finish
