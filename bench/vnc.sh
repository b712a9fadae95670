#!/bin/bash
# VNC beside QEMU 7.2 (issue 14's measure): a Debian guest on the VGA text console with a VNC
# client (bench/vnc.py, RFB 3.8, ZRLE and CopyRect, asking for updates without pause) connected:
#   scroll: the guest writes 4000 lines to tty0 (the console scrolls); bytes the client
#           received and emulator CPU seconds (user+sys, /proc) from the first line to the last,
#           per 1000 lines;
#   idle:   the guest sleeps 10 s with the client connected: emulator CPU seconds.
# Both under -accel tcg; best of VNC_BENCH_RUNS (default 2) runs. Ratios are Vireo/QEMU: below 1
# is better.
set -u
. "$(dirname "$0")/lib.sh"
bench_need vnc "$VIREO" "$BENCH_KERNEL" "$VIREO_CACHE/busybox"
bench_workdir
bb_root "$work/root"
bb_init "$work/root" <<'INIT'
mount -t proc proc /proc
mount -t devtmpfs dev /dev
sleep 2
echo @scroll-start
i=0
while [ $i -lt 4000 ]; do
    echo "line $i: the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnop" >/dev/tty0
    i=$((i + 1))
done
echo @scroll-end
sleep 10
echo @idle-end
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd.gz" 1
exec /usr/bin/python3 bench/vnc.py "$work" "$VIREO" "$QEMU_BIN" "$BENCH_KERNEL" "${VNC_BENCH_RUNS:-2}"
