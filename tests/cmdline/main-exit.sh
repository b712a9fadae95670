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
finish
