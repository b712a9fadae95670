#!/bin/bash
# TCG, side by side with real QEMU 7.2 -accel tcg: the same kernel and a busybox initramfs whose
# init prints a marker, then runs CPU-bound work (gzip -9 round trip, sha256sum of 16 MiB, an awk
# floating-point loop), printing a line before and after each. The host timestamps every serial
# line as it arrives, so the figures are wall-clock phases as seen from outside the guest.
# Runs alternate between the two emulators; each phase reports the best of N runs and the ratio
# QEMU / Vireo (> 1: Vireo is faster).
#   bench/tcg-guest.sh [RUNS]     (default 3)
set -u
cd "$(dirname "$0")/.."
. tests/lib/common.sh >/dev/null
. tests/lib/guest-initrd.sh
runs=${1:-3}
kernel=$VIREO_CACHE/vmlinuz-cloud
bb=$VIREO_CACHE/busybox
qemu=${QEMU:-/usr/bin/qemu-system-x86_64}
for f in "$kernel" "$bb" "$qemu" "$VIREO"; do
    [ -e "$f" ] || { echo "tcg-guest: missing $f (scripts/guests.sh, make all)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/vireo-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
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

# stamp: prefix each line of stdin with seconds since $1 (a `date +%s.%N` value)
stamp() {
    local t0=$1 line
    while IFS= read -r line; do
        line=${line%$'\r'}
        case "$line" in
        @*) echo "$(date +%s.%N) $line" ;;
        esac
    done | awk -v t0="$t0" '{ printf "%.3f %s\n", $1 - t0, $2 }'
}

one() { # label binary -> appends "label phase seconds" lines to $work/times
    local label=$1 bin=$2 t0 out
    t0=$(date +%s.%N)
    out=$(timeout 300 "$bin" -accel tcg -m 512 -display none -serial stdio -no-reboot \
        -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1" \
        2>/dev/null </dev/null | stamp "$t0")
    local prev=0 t p
    while read -r t p; do
        echo "$label ${p#@} $(awk -v a="$t" -v b="$prev" 'BEGIN { printf "%.3f", a - b }')" >>"$work/times"
        prev=$t
    done <<<"$out"
    echo "$label total $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" >>"$work/times"
}

: >"$work/times"
for i in $(seq "$runs"); do
    one vireo "$VIREO"
    one qemu "$qemu"
done
echo "tcg-guest: best of $runs, seconds (phase = time since the previous marker)"
printf '  %-8s %9s %9s %8s\n' phase vireo qemu 'qemu/vireo'
for p in init gzip sha256 awk total; do
    v=$(awk -v p=$p '$1 == "vireo" && $2 == p { if (m == "" || $3 < m) m = $3 } END { print m }' "$work/times")
    q=$(awk -v p=$p '$1 == "qemu" && $2 == p { if (m == "" || $3 < m) m = $3 } END { print m }' "$work/times")
    if [ -z "$v" ] || [ -z "$q" ]; then
        printf '  %-8s %9s %9s %8s\n' "$p" "${v:-missing}" "${q:-missing}" -
    else
        printf '  %-8s %9s %9s %8s\n' "$p" "$v" "$q" "$(awk -v a="$q" -v b="$v" 'BEGIN { printf "%.2fx", a / b }')"
    fi
done
