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
printf 'not a kernel' >"$tmp/garbage"
for accel in kvm tcg; do
    expect kernel-missing-$accel 1 "^qemu: could not open kernel file '/nonexistent': No such file or directory\$" \
        -accel $accel -accel kvm -display none -kernel /nonexistent
done
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    expect kernel-garbage 1 '^qemu: invalid kernel header$' -accel kvm -display none -kernel "$tmp/garbage"
    python3 "$VIREO_ROOT/tests/lib/mkkernel.py" "$tmp/tiny" hlt-loop
    expect initrd-missing 1 '^qemu: error reading initrd /nonexistent: Failed to open file .*/nonexistent.*: open\(\) failed: No such file or directory$' \
        -accel kvm -display none -kernel "$tmp/tiny" -initrd /nonexistent
else
    skip kernel-garbage "/dev/kvm not usable: the loader runs after the accelerator starts"
    skip initrd-missing "/dev/kvm not usable"
fi

# Without /dev/kvm (hidden in a private mount namespace), -accel kvm and -enable-kvm fail with
# QEMU's exact lines and status.
nokvm() { # ARGS... : run in a namespace whose /dev has only null
    unshare -m bash -c 'mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && exec "$@"' \
        nokvm "$@"
}
if nokvm true 2>/dev/null; then
    for a in "-accel kvm" "-enable-kvm" "-machine accel=kvm"; do
        # shellcheck disable=SC2086
        nokvm timeout 10 /usr/bin/qemu-system-x86_64 $a -display none -machine none \
            >/dev/null 2>"$tmp/qerr" </dev/null
        qrc=$?
        # shellcheck disable=SC2086
        nokvm timeout 10 "$VIREO" $a -display none -machine none >/dev/null 2>"$tmp/verr" </dev/null
        vrc=$?
        if [ $qrc = $vrc ] && cmp -s "$tmp/qerr" "$tmp/verr"; then
            ok "no-kvm/${a// /}"
        else
            fail "no-kvm/${a// /}" "QEMU: $qrc $(cat "$tmp/qerr") / Vireo: $vrc $(cat "$tmp/verr")"
        fi
    done
else
    skip no-kvm "cannot make a mount namespace here (needs root)"
fi
finish
