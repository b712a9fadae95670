#!/bin/bash
# virtio-blk under TCG, side by side with real QEMU 7.2 -accel tcg: the same kernel, a busybox
# initramfs with the cache's virtio drivers (virtio-modules.tar), and one raw disk on
# cache=none,aio=native (a file in /var/tmp). The guest times dd with O_DIRECT on /dev/vda
# (fio is not in the guest image): 1 MiB sequential writes and reads of 64 MiB, 4 KiB writes and
# reads of 8 MiB at queue depth 1. Each phase reports the best of N runs, in MiB/s, and the
# ratio Vireo / QEMU (> 1: Vireo is faster); then the emulators' CPU time (user + system) and
# wall time for a whole run (boot included), with the ratio QEMU / Vireo (> 1: Vireo used less).
# The boot loop is bench/lib.sh's.
#   bench/virtio-blk.sh [RUNS]     (default 3)
set -u
. "$(dirname "$0")/lib.sh"
runs=${1:-3}
vmods=$VIREO_CACHE/virtio-modules.tar
bench_need virtio-blk "$BENCH_KERNEL" "$vmods" "$QEMU_BIN" "$VIREO"
bench_workdir
bb_root "$work/root"
tar -xf "$vmods" -C "$work/root" ./lib/modules/order
for m in $(sed '/^virtio_blk.ko$/q' "$work/root/lib/modules/order"); do
    tar -xf "$vmods" -C "$work/root" "./lib/modules/$m"
done
bb_init "$work/root" <<'INIT'
mount -t devtmpfs dev /dev
mount -t proc proc /proc
for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m"
    [ "$m" = virtio_blk.ko ] && break
done
n=0; while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
t() { cut -d' ' -f1 /proc/uptime; }
phase() { # name dd-args...
    local name=$1 a b
    shift
    a=$(t)
    dd "$@" 2>/dev/null
    b=$(t)
    echo "@$name $a $b"
}
phase seq-write if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct
phase seq-read if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct
phase 4k-write if=/dev/zero of=/dev/vda bs=4k count=2048 oflag=direct
phase 4k-read if=/dev/vda of=/dev/null bs=4k count=2048 iflag=direct
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd"
truncate -s 128M "$work/disk.raw"

one() { # label binary -> "label phase MiB/s" lines in $work/rates (guest clock)
    local label=$1 bin=$2 s p a b mib
    : >"$work/lines.$label"
    bench_boot "$label" "$bin" 600 -accel tcg -m 512 -nodefaults -display none -serial stdio \
        -no-reboot -kernel "$BENCH_KERNEL" -initrd "$work/initrd" \
        -append "console=ttyS0 quiet panic=-1" \
        -drive "file=$work/disk.raw,format=raw,if=virtio,cache=none,aio=native"
    while read -r s p a b; do
        case "$p" in @seq-*) mib=64 ;; *) mib=8 ;; esac
        echo "$label ${p#@} $(awk -v a="$a" -v b="$b" -v m=$mib 'BEGIN { d = b - a; if (d <= 0) d = 0.01; printf "%.1f", m / d }')"
    done <"$work/lines.$label" >>"$work/rates"
}

: >"$work/rates"
for i in $(seq "$runs"); do
    one vireo "$VIREO"
    one qemu "$QEMU_BIN"
done
echo "virtio-blk: best of $runs, MiB/s in the guest (guest clock), raw, cache=none,aio=native"
printf '  %-10s %9s %9s %11s\n' phase vireo qemu 'vireo/qemu'
for p in seq-write seq-read 4k-write 4k-read; do
    bench_row $p "$(bench_best "$work/rates" vireo $p max)" "$(bench_best "$work/rates" qemu $p max)" a/b
done
echo "  whole run, seconds (best of $runs)                 qemu/vireo"
bench_cpu_rows
