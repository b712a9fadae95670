#!/bin/bash
# -device beside QEMU 7.2: exit status and stderr of real qemu-system-x86_64 and of Vireo's parser
# (build/tests/test-cmdline --parse) must match for accepted and refused -device options, and
# "-device help" / "-device DRIVER,help" must print what QEMU prints for the drivers Vireo has.
. "$(dirname "$0")/../lib/common.sh"

QEMU=${QEMU:-qemu-system-x86_64}
PARSE=$VIREO_BUILD/tests/test-cmdline
if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip device "$QEMU not installed"
    exit 0
fi
if [ ! -x "$PARSE" ]; then
    fail device "$PARSE not built"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

normalize() {
    sed -e 's|^[^ :]*qemu-system-x86_64: |PROG: |' "$1"
}

check() { # NAME ARGS...
    local name=$1
    shift
    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
        timeout 90 "$QEMU" -qmp stdio -display none "$@" >"$tmp/qemu.out" 2>"$tmp/qemu.err"
    local qrc=$?
    "$PARSE" --parse "$@" >"$tmp/vireo.out" 2>"$tmp/vireo.err" </dev/null
    local vrc=$?
    normalize "$tmp/qemu.err" >"$tmp/qemu.norm"
    normalize "$tmp/vireo.err" >"$tmp/vireo.norm"
    if [ "$qrc" != "$vrc" ]; then
        fail "device/$name" "exit status: qemu $qrc, vireo $vrc; qemu said: $(head -c 300 "$tmp/qemu.norm")"
    elif ! cmp -s "$tmp/qemu.norm" "$tmp/vireo.norm"; then
        fail "device/$name" "stderr differs: $(diff "$tmp/qemu.norm" "$tmp/vireo.norm" | head -c 600)"
    else
        ok "device/$name"
    fi
}

check good/debug-exit -device isa-debug-exit
check good/debug-exit-props -device isa-debug-exit,iobase=0xf4,iosize=0x04
check good/debug-exit-id-bus -device isa-debug-exit,id=dbg,bus=isa.0,iobase=0xf4
check good/debug-exit-driver-key -device driver=isa-debug-exit,iobase=244
check good/debug-exit-octal -device isa-debug-exit,iobase=010
check good/debug-exit-twice -device isa-debug-exit -device isa-debug-exit
check good/debug-exit-big -device isa-debug-exit,iobase=0x10000,iosize=0
check bad/unknown -device foo
check bad/empty -device ''
check bad/prop -device isa-debug-exit,bogus=1
check bad/prop-shortbool -device isa-debug-exit,iobase=0xf4,x
check bad/iobase-text -device isa-debug-exit,iobase=xyz
check bad/iobase-empty -device isa-debug-exit,iobase=
check bad/iobase-suffix -device isa-debug-exit,iobase=1k
check bad/iobase-range -device isa-debug-exit,iobase=0x100000000
check bad/iobase-negative -device isa-debug-exit,iosize=-1
check bad/iobase-octal-8 -device isa-debug-exit,iobase=08
check bad/bus -device isa-debug-exit,bus=foo
check bad/bus-before-prop -device isa-debug-exit,iobase=x,bus=foo
check bad/id -device isa-debug-exit,id=1x
check bad/id-duplicate -device isa-debug-exit,id=a -device isa-debug-exit,id=a,iobase=0x10
check bad/order-m-first -device foo -m 5X
check bad/order-append -device foo -append x
check help/list -device help
check help/driver -device isa-debug-exit,help
check help/driver-q -device isa-debug-exit,?
check help/unknown -device foo,help
check help/empty-driver -device ,help
check help/with-bad-device -device isa-debug-exit,help -device foo,help
check help/cpu-first -device foo -cpu help

# stdout of the help forms
printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
    timeout 20 "$QEMU" -qmp stdio -display none -device isa-debug-exit,help 2>/dev/null |
    grep -v '^{' >"$tmp/qemu.help"
"$PARSE" --parse -device isa-debug-exit,help >"$tmp/vireo.help" 2>/dev/null </dev/null
if cmp -s "$tmp/qemu.help" "$tmp/vireo.help"; then
    ok device/help-text
else
    fail device/help-text "$(diff "$tmp/qemu.help" "$tmp/vireo.help" | head -c 400)"
fi
"$PARSE" --parse -device help >"$tmp/vireo.list" 2>/dev/null </dev/null
"$QEMU" -device help 2>/dev/null | grep -F 'name "isa-debug-exit"' >"$tmp/qemu.line"
if grep -qxF -f "$tmp/qemu.line" "$tmp/vireo.list" && grep -qx 'Misc devices:' "$tmp/vireo.list"; then
    ok device/help-list
else
    fail device/help-list "$(head -c 300 "$tmp/vireo.list")"
fi
finish
