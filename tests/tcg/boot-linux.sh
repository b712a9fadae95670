#!/bin/bash
# Debian's cloud kernel with the test initramfs under -accel tcg -smp 1 (no /dev/kvm needed), the
# way tests/kvm/boot.sh boots it under KVM: the busybox init prints its marker and cpus=1 and
# powers the machine off (exit 0, nothing on stderr). Prints the time to the init marker.
. "$(dirname "$0")/../lib/common.sh"
kernel=$VIREO_CACHE/vmlinuz-cloud
initrd=$VIREO_CACHE/test-initrd.cpio.gz
if ! [ -r "$kernel" ] || ! [ -r "$initrd" ]; then
    skip tcg-linux "no $kernel or $initrd (scripts/guests.sh fetches them)"
    finish; exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)
timeout ${VIREO_BOOT_TIMEOUT:-120} "$VIREO" -accel tcg -m 512 -smp 1 -display none -serial stdio \
    -no-reboot -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1" \
    >"$work/out" 2>"$work/err"
rc=$?
end=$(date +%s.%N)
if grep -q 'Run /init as init process' "$work/out" && grep -q '^VIREO-INIT-OK' "$work/out" &&
    grep -q '^cpus=1' "$work/out"; then
    ok "tcg-linux/init-marker"
else
    fail "tcg-linux/init-marker" "exit $rc; last lines: $(tail -5 "$work/out" | tr '\n' '|'); stderr: $(head -c 300 "$work/err")"
fi
if [ $rc -eq 0 ] && ! [ -s "$work/err" ]; then
    ok "tcg-linux/poweroff-exit-0"
else
    fail "tcg-linux/poweroff-exit-0" "exit $rc; stderr: $(head -c 300 "$work/err")"
fi
echo "# $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s from start to power-off"
finish
