#!/bin/bash
# virtio-blk under TCG, side by side with real QEMU 7.2 -accel tcg: the same kernel, a busybox
# initramfs with the cache's virtio drivers (virtio-modules.tar), and one raw disk on
# cache=none,aio=native (a file in /var/tmp). The guest times dd with O_DIRECT on /dev/vda
# (fio is not in the guest image): 1 MiB sequential writes and reads of 64 MiB, 4 KiB writes and
# reads of 8 MiB at queue depth 1. Each phase reports the best of N runs, in MiB/s, and the
# ratio Vireo / QEMU (> 1: Vireo is faster).
#   bench/virtio-blk.sh [RUNS]     (default 3)
set -u
cd "$(dirname "$0")/.."
. tests/lib/common.sh >/dev/null
. tests/lib/guest-initrd.sh
runs=${1:-3}
kernel=$VIREO_CACHE/vmlinuz-cloud
vmods=$VIREO_CACHE/virtio-modules.tar
qemu=${QEMU:-/usr/bin/qemu-system-x86_64}
for f in "$kernel" "$vmods" "$qemu" "$VIREO"; do
    [ -e "$f" ] || { echo "virtio-blk: missing $f (scripts/guests.sh, make all)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/vireo-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
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

one() { # label binary -> "label phase MiB/s" lines in $work/rates
    local label=$1 bin=$2 p a b mib
    timeout 600 "$bin" -accel tcg -m 512 -nodefaults -display none -serial stdio -no-reboot \
        -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1" \
        -drive "file=$work/disk.raw,format=raw,if=virtio,cache=none,aio=native" \
        2>/dev/null </dev/null | tr -d '\r' | grep '^@' | while read -r p a b; do
        case "$p" in @seq-*) mib=64 ;; *) mib=8 ;; esac
        echo "$label ${p#@} $(awk -v a="$a" -v b="$b" -v m=$mib 'BEGIN { d = b - a; if (d <= 0) d = 0.01; printf "%.1f", m / d }')"
    done >>"$work/rates"
}

: >"$work/rates"
for i in $(seq "$runs"); do
    one vireo "$VIREO"
    one qemu "$qemu"
done
echo "virtio-blk: best of $runs, MiB/s in the guest (guest clock), raw, cache=none,aio=native"
printf '  %-10s %9s %9s %11s\n' phase vireo qemu 'vireo/qemu'
for p in seq-write seq-read 4k-write 4k-read; do
    v=$(awk -v p=$p '$1 == "vireo" && $2 == p { if ($3 > m) m = $3 } END { print m }' "$work/rates")
    q=$(awk -v p=$p '$1 == "qemu" && $2 == p { if ($3 > m) m = $3 } END { print m }' "$work/rates")
    if [ -z "$v" ] || [ -z "$q" ]; then
        printf '  %-10s %9s %9s %11s\n' "$p" "${v:-missing}" "${q:-missing}" -
    else
        printf '  %-10s %9s %9s %11s\n' "$p" "$v" "$q" "$(awk -v a="$v" -v b="$q" 'BEGIN { printf "%.2fx", a / b }')"
    fi
done
