#!/bin/bash
# TCG, side by side with real QEMU 7.2 -accel tcg: the same kernel and a busybox initramfs whose
# init prints a marker, then runs CPU-bound work (gzip -9 round trip, sha256sum of 16 MiB, an awk
# floating-point loop), printing a line before and after each. The host timestamps every serial
# line as it arrives, so the figures are wall-clock phases as seen from outside the guest; the
# emulators' CPU time (user + system) per run is reported too (the machine is shared: CPU time
# is the steadier figure). Runs alternate between the two emulators; each figure is the best of
# N runs with the ratio QEMU / Vireo (> 1: Vireo is faster). The boot loop is bench/lib.sh's.
#   bench/tcg-guest.sh [RUNS]     (default 3)
set -u
. "$(dirname "$0")/lib.sh"
runs=${1:-3}
bench_need tcg-guest "$BENCH_KERNEL" "$VIREO_CACHE/busybox" "$QEMU_BIN" "$VIREO"
bench_workdir
bb_root "$work/root"
bb_init "$work/root" <<'INIT'
mount -t devtmpfs dev /dev
echo @init
seq 1 200000 | gzip -9 | gzip -d | md5sum >/dev/null
echo @gzip
dd if=/dev/zero bs=1M count=16 2>/dev/null | sha256sum >/dev/null
echo @sha256
awk 'BEGIN { x = 0; for (i = 1; i <= 300000; i++) x += (i * 0.5) / (i + 0.25) - x * 1e-7; printf "%.6f\n", x }' >/dev/null
echo @awk
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd"

one() { # label binary -> "label phase seconds" lines (time since the previous marker)
    local label=$1 bin=$2 prev=0 t p
    : >"$work/lines.$label"
    bench_boot "$label" "$bin" 300 -accel tcg -m 512 -display none -serial stdio -no-reboot \
        -kernel "$BENCH_KERNEL" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1"
    while read -r t p; do
        echo "$label ${p#@} $(awk -v a="$t" -v b="$prev" 'BEGIN { printf "%.3f", a - b }')" >>"$work/times"
        prev=$t
    done <"$work/lines.$label"
}

: >"$work/times"
for i in $(seq "$runs"); do
    one vireo "$VIREO"
    one qemu "$QEMU_BIN"
done
echo "tcg-guest: best of $runs, seconds (phase = time since the previous marker; cpu = user+sys of the emulator for a whole run)"
printf '  %-10s %9s %9s %11s\n' phase vireo qemu 'qemu/vireo'
for p in init gzip sha256 awk; do
    bench_row $p "$(bench_best "$work/times" vireo $p min)" "$(bench_best "$work/times" qemu $p min)" b/a
done
bench_cpu_rows
