#!/bin/bash
# Busybox utilities inside a guest under -accel tcg print what the same static busybox prints on
# the host: sha256sum, gzip -9 | gzip -d, awk with floating point, sort, and a shell loop. The
# initramfs is built here from the cache's busybox (scripts/guests.sh fetches it).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/guest-initrd.sh"
kernel=$VIREO_CACHE/vmlinuz-cloud
bb=$VIREO_CACHE/busybox
if ! [ -r "$kernel" ] || ! [ -x "$bb" ] || ! command -v cpio >/dev/null; then
    skip tcg-userland "needs $kernel, $bb and cpio"
    finish; exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The commands, run by busybox sh in the guest and on the host.
cat >"$work/cmds" <<'CMDS'
echo hello | sha256sum
seq 1 3000 | gzip -9 | gzip -d | md5sum
seq 1 3000 | gzip -9 | wc -c
awk 'BEGIN { x = 0; for (i = 1; i <= 2000; i++) x += 1 / i; printf "%.9f %d %.4e\n", x, 7.9 * 3, 1 / 3 }'
printf "pear\nApple\n10\n9\nbanana\n" | sort | tr '\n' ' '; echo
i=0; s=0; while [ $i -lt 300 ]; do s=$((s + i * i)); i=$((i + 1)); done; echo $s
echo abcdefghij | cut -c 3-7 | rev
CMDS
bb_root "$work/root"
cp "$work/cmds" "$work/root/cmds"
bb_init "$work/root" <<'INIT'
echo ===BEGIN===
sh /cmds
echo ===END===
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd"
run_guest_section "$work/run" ${VIREO_BOOT_TIMEOUT:-120} -m 256 -initrd "$work/initrd" \
    -append "console=ttyS0 quiet panic=-1"
mkdir -p "$work/hostbin"
"$bb" --install -s "$work/hostbin" 2>/dev/null
(cd "$work" && PATH="$work/hostbin" "$bb" sh "$work/cmds") >"$work/host" 2>&1
if [ $rc -eq 0 ] && [ -s "$work/run.guest" ] && cmp -s "$work/run.guest" "$work/host"; then
    ok "tcg-userland/busybox-matches-host"
else
    fail "tcg-userland/busybox-matches-host" "exit $rc; guest: $(head -c 400 "$work/run.guest" | tr '\n' '|'); host: $(head -c 400 "$work/host" | tr '\n' '|'); stderr: $(head -c 200 "$work/run.err"); $(console_tail "$work/run")"
fi
finish
