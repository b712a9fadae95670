#!/bin/bash
# The real binary honours vireo_parse_cmdline's contract: help/version exit 0, command-line
# errors exit 1 with QEMU's one-line message, before any machine is built.
. "$(dirname "$0")/../lib/common.sh"

if [ ! -x "$VIREO" ]; then
    skip main-exit "$VIREO not built"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME RC STDERR-REGEX ARGS...
expect() {
    local name=$1 want_rc=$2 want_err=$3
    shift 3
    timeout 20 "$VIREO" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local rc=$?
    if [ "$rc" != "$want_rc" ]; then
        fail "$name" "exit status $rc, want $want_rc: $(head -c 300 "$tmp/err")"
    elif [ -n "$want_err" ] && ! grep -qE "$want_err" "$tmp/err"; then
        fail "$name" "stderr: $(head -c 300 "$tmp/err")"
    else
        ok "$name"
    fi
}

expect version 0 '' -version
if head -n1 "$tmp/out" | grep -qE '^QEMU emulator version [0-9]+\.[0-9]+\.[0-9]+'; then
    ok version/banner
else
    fail version/banner "$(head -n1 "$tmp/out")"
fi
expect help 0 '' -h
expect machine-help 0 '' -machine help
expect cpu-help 0 '' -cpu help
expect invalid-option 1 '^qemu-system-x86_64: -foo: invalid option$' -foo
expect missing-arg 1 '^qemu-system-x86_64: -m: requires an argument$' -m
expect bad-size 1 "^qemu-system-x86_64: -m 5X: Parameter 'size' expects a non-negative" -m 5X
expect bad-machine 1 '^qemu-system-x86_64: unsupported machine type$' -M foo
expect append-no-kernel 1 '^qemu-system-x86_64: -append only allowed with -kernel option$' \
    -append x

# Boot-file errors: QEMU's loader wording (bare "qemu: " prefix), exit 1, whichever accelerator.
# With -accel kvm the outcome depends on this host's /dev/kvm (the loader runs only once KVM
# started; without it both stop at the accelerator), so that case is compared with QEMU 7.2.
printf 'not a kernel' >"$tmp/garbage"
expect kernel-missing-tcg 1 "^qemu: could not open kernel file '/nonexistent': No such file or directory\$" \
    -accel tcg -accel kvm -display none -kernel /nonexistent
# same_as_qemu NAME ARGS...: exit status and stderr byte for byte as QEMU 7.2's
same_as_qemu() {
    local name=$1 qrc vrc
    shift
    timeout 20 /usr/bin/qemu-system-x86_64 "$@" >/dev/null 2>"$tmp/qerr" </dev/null
    qrc=$?
    timeout 20 "$VIREO" "$@" >/dev/null 2>"$tmp/verr" </dev/null
    vrc=$?
    if [ $qrc = $vrc ] && cmp -s "$tmp/qerr" "$tmp/verr"; then
        ok "$name"
    else
        fail "$name" "QEMU: $qrc $(cat "$tmp/qerr") / Vireo: $vrc $(cat "$tmp/verr")"
    fi
}
if [ -x /usr/bin/qemu-system-x86_64 ]; then
    same_as_qemu kernel-missing-kvm -accel kvm -display none -kernel /nonexistent
else
    skip kernel-missing-kvm "QEMU 7.2 not installed"
fi
kvm_why=$(kvm_problem)
if [ -z "$kvm_why" ]; then
    expect kernel-garbage 1 '^qemu: invalid kernel header$' -accel kvm -display none -kernel "$tmp/garbage"
    python3 "$VIREO_ROOT/tests/lib/mkkernel.py" "$tmp/tiny" hlt-loop
    expect initrd-missing 1 '^qemu: error reading initrd /nonexistent: Failed to open file .*/nonexistent.*: open\(\) failed: No such file or directory$' \
        -accel kvm -display none -kernel "$tmp/tiny" -initrd /nonexistent
else
    skip kernel-garbage "$kvm_why (the loader runs after the accelerator starts)"
    skip initrd-missing "$kvm_why"
fi

# Every /dev/kvm situation a host can be in, made in a private mount namespace (a tmpfs over
# /dev holding /dev/null and the /dev/kvm of the case): absent (ENOENT); a node without
# permission for the user (EACCES: run as nobody); a node whose driver is not loaded (ENODEV,
# as /dev/kvm without the kvm module: an unregistered misc minor); a node that is not KVM
# (/dev/null: the version ioctl fails); a directory. -accel kvm, -enable-kvm and
# -machine accel=kvm fail; -accel kvm -accel tcg and -machine accel=kvm:tcg fall back to TCG.
# Vireo's stderr and exit status must be QEMU 7.2's byte for byte (-machine none and a QMP quit
# end the fallback runs at once).
misc_free=""
for m in $(seq 200 254); do
    if ! cat /sys/class/misc/*/dev 2>/dev/null | grep -qx "10:$m"; then misc_free=$m; break; fi
done
kvmns() { # SITUATION ARGS...: run ARGS with /dev/kvm as SITUATION
    unshare -m bash -c '
        set -e
        mount -t tmpfs tmpfs /dev
        mknod -m 666 /dev/null c 1 3
        case $1 in
        absent) ;;
        eacces) mknod -m 600 /dev/kvm c 10 232 ;;
        nodev) mknod -m 666 /dev/kvm c 10 "$2" ;;
        devnull) mknod -m 666 /dev/kvm c 1 3 ;;
        dir) mkdir /dev/kvm ;;
        esac
        s=$1
        shift 2
        set +e
        if [ $s = eacces ]; then exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; fi
        exec "$@"' kvmns "$1" "$misc_free" "${@:2}"
}
if ! command -v setpriv >/dev/null || ! kvmns absent true 2>/dev/null; then
    skip no-kvm "cannot make a mount namespace here (needs root and setpriv)"
elif [ ! -x /usr/bin/qemu-system-x86_64 ]; then
    skip no-kvm "QEMU 7.2 not installed"
else
    for sit in absent eacces nodev devnull dir; do
        [ $sit = nodev ] && [ -z "$misc_free" ] && { skip no-kvm/nodev "no free misc minor"; continue; }
        for a in "-accel kvm" "-enable-kvm" "-machine accel=kvm" "-accel kvm -accel tcg" \
            "-machine accel=kvm:tcg"; do
            for who in qemu vireo; do # side by side
                if [ $who = qemu ]; then bin=/usr/bin/qemu-system-x86_64; else bin=$VIREO; fi
                {
                    # shellcheck disable=SC2086
                    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
                        kvmns $sit timeout 10 "$bin" $a -display none -machine none -qmp stdio \
                            >/dev/null 2>"$tmp/$who.err"
                    echo $? >"$tmp/$who.rc"
                } &
            done
            wait
            name="no-kvm/$sit/$(echo "$a" | tr -d ' ')"
            if cmp -s "$tmp/qemu.rc" "$tmp/vireo.rc" && cmp -s "$tmp/qemu.err" "$tmp/vireo.err"; then
                ok "$name"
            else
                fail "$name" "QEMU: $(cat "$tmp/qemu.rc") $(cat "$tmp/qemu.err") / Vireo: $(cat "$tmp/vireo.rc") $(cat "$tmp/vireo.err")"
            fi
        done
    done
fi
finish
