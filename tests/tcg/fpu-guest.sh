#!/bin/bash
# x87, SSE3 and (with -cpu max) SSSE3/SSE4.x/POPCNT code in a guest under -accel tcg prints what
# it prints on the host: tests/tcg/fpu-guest.c, built here as a static binary (glibc's libm long
# double functions, fesetround/fetestexcept, SSE3 intrinsics, crc32/pshufb/pcmpistri and glibc's
# SSE4.2 string functions), run by a busybox init with -cpu qemu64 and with -cpu max.
. "$(dirname "$0")/../lib/common.sh"
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
    mkdir -p "$work/root/bin" "$work/root/proc"
    cp "$bb" "$work/root/bin/busybox"
    cp "$work/fpu-guest" "$work/root/fpu-guest"
    cat >"$work/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
echo ===BEGIN===
/fpu-guest $arg
echo ===END===
poweroff -f
INIT
    chmod +x "$work/root/init"
    (cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip >"$work/initrd")
    timeout ${VIREO_BOOT_TIMEOUT:-120} "$VIREO" -accel tcg -cpu $cpu -m 256 -display none \
        -serial stdio -no-reboot -kernel "$kernel" -initrd "$work/initrd" \
        -append "console=ttyS0 quiet panic=-1" >"$work/out" 2>"$work/err"
    rc=$?
    tr -d '\r' <"$work/out" | sed -n '/^===BEGIN===$/,/^===END===$/p' | sed '1d;$d' >"$work/guest"
    "$work/fpu-guest" $arg >"$work/host" 2>&1
    if [ $rc -eq 0 ] && [ -s "$work/guest" ] && cmp -s "$work/guest" "$work/host"; then
        ok "tcg-fpu-guest/$cpu-matches-host"
    else
        fail "tcg-fpu-guest/$cpu-matches-host" "exit $rc; diff: $(diff "$work/host" "$work/guest" | head -c 600 | tr '\n' '|'); stderr: $(head -c 200 "$work/err")"
    fi
done
finish
