#!/bin/bash
# Debian's cloud kernel with the test initramfs under -accel tcg (no /dev/kvm needed): the kernel
# must reach the init line. (Userland needs SSE, which the translator does not have yet: the run
# ends in a kernel panic, rebooted into an exit by -no-reboot.) Prints the time to the init line.
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
if grep -q 'Run /init as init process' "$work/out"; then
    ok "tcg-linux/init-line"
else
    fail "tcg-linux/init-line" "exit $rc; last lines: $(tail -5 "$work/out" | tr '\n' '|'); stderr: $(head -c 300 "$work/err")"
fi
if [ $rc -ne 124 ] && ! grep -q 'triple fault\|tcg:' "$work/err"; then
    ok "tcg-linux/clean-exit"
else
    fail "tcg-linux/clean-exit" "exit $rc; stderr: $(head -c 300 "$work/err")"
fi
echo "# $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s for the whole run"
finish
