#!/bin/bash
# x87, SSE3 and (with -cpu max) SSSE3/SSE4.x/POPCNT code in a guest under -accel tcg prints what
# it prints on the host: tests/tcg/fpu-guest.c, built here as a static binary (glibc's libm long
# double functions, fesetround/fetestexcept, SSE3 intrinsics, crc32/pshufb/pcmpistri and glibc's
# SSE4.2 string functions), run by a busybox init with -cpu qemu64 and with -cpu max.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/guest-initrd.sh"
kernel=$VIREO_CACHE/vmlinuz-cloud
bb=$VIREO_CACHE/busybox
if ! [ -r "$kernel" ] || ! [ -x "$bb" ] || ! command -v cpio >/dev/null; then
    skip tcg-fpu-guest "needs $kernel, $bb and cpio"
    finish; exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! gcc -static -O2 -msse3 -o "$work/fpu-guest" "$(dirname "$0")/fpu-guest.c" -lm 2>"$work/cc"; then
    skip tcg-fpu-guest "cannot build a static binary: $(head -c 200 "$work/cc")"
    finish; exit
fi
for cpu in qemu64 max; do
    arg=; [ $cpu = max ] && arg=max
    rm -rf "$work/root"
    bb_root "$work/root"
    cp "$work/fpu-guest" "$work/root/fpu-guest"
    bb_init "$work/root" <<INIT
echo ===BEGIN===
/fpu-guest $arg
echo ===END===
poweroff -f
INIT
    pack_initrd "$work/root" "$work/initrd"
    run_guest_section "$work/run" ${VIREO_BOOT_TIMEOUT:-120} -cpu $cpu -m 256 \
        -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1"
    "$work/fpu-guest" $arg >"$work/host" 2>&1
    if [ $rc -eq 0 ] && [ -s "$work/run.guest" ] && cmp -s "$work/run.guest" "$work/host"; then
        ok "tcg-fpu-guest/$cpu-matches-host"
    else
        fail "tcg-fpu-guest/$cpu-matches-host" "exit $rc; diff: $(diff "$work/host" "$work/run.guest" | head -c 600 | tr '\n' '|'); stderr: $(head -c 200 "$work/run.err"); $(console_tail "$work/run")"
    fi
done
finish
