# Busybox initramfs helpers for the TCG guest tests and bench/tcg-guest.sh. Source after
# tests/lib/common.sh (it needs VIREO, VIREO_CACHE).
#   bb_root DIR            DIR/bin/busybox (the cache's busybox-static) and empty proc, dev, tmp
#   bb_init DIR <BODY      DIR/init: a busybox shell that installs its applets in /bin, sets
#                          PATH=/bin, then runs BODY (read from stdin)
#   pack_initrd DIR OUT [GZIP-LEVEL]   a newc cpio of DIR, gzipped (default level 6)
#   run_guest_section OUT-PREFIX SECONDS VIREO-ARGS...: boots $VIREO -accel tcg with the cache's
#                          cloud kernel, console on serial, under a time limit; sets rc; writes
#                          OUT-PREFIX.out (console), OUT-PREFIX.err (stderr) and OUT-PREFIX.guest
#                          (what the guest printed between its ===BEGIN=== and ===END=== lines)
#   console_tail OUT-PREFIX: the console's last lines and how long the run took, for a failure
#                          message (a guest that panics exits 0 under panic=-1 -no-reboot)
bb_root() {
    mkdir -p "$1/bin" "$1/proc" "$1/dev" "$1/tmp"
    cp "$VIREO_CACHE/busybox" "$1/bin/busybox"
}
bb_init() {
    {
        printf '#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin\n'
        cat
    } >"$1/init"
    chmod +x "$1/init"
}
pack_initrd() {
    (cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -"${3:-6}") >"$2"
}
run_guest_section() {
    local out=$1 secs=$2
    shift 2
    local t0=$SECONDS
    timeout "$secs" "$VIREO" -accel tcg -display none -serial stdio -no-reboot \
        -kernel "$VIREO_CACHE/vmlinuz-cloud" "$@" >"$out.out" 2>"$out.err"
    rc=$?
    echo $((SECONDS - t0)) >"$out.secs"
    tr -d '\r' <"$out.out" | sed -n '/^===BEGIN===$/,/^===END===$/p' | sed '1d;$d' >"$out.guest"
}
console_tail() {
    echo "console after $(cat "$1.secs")s, last lines: $(tr -d '\r' <"$1.out" | tail -n 12 | tail -c 900 | tr '\n' '|')"
}
