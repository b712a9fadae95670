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
check help/edu -device edu,help
check good/edu -device edu
check good/edu-props -device edu,id=e,addr=5,dma_mask=-1,multifunction=on,rombar=0
check good/edu-bus -device edu,bus=pci.0,addr=0x1f.7
check good/json -device '{"driver":"edu","id":"e1","addr":"0x5"}'
check good/json-bool -device '{"driver":"edu","multifunction":true}'
check good/json-isa -device '{"driver":"isa-debug-exit","iobase":244}'
check bad/edu-addr-text -device edu,addr=x
check bad/edu-addr-slot -device edu,addr=32
check bad/edu-addr-fn -device edu,addr=0x1f.8
check bad/edu-bool -device edu,multifunction=x
check bad/edu-uint64 -device edu,dma_mask=x
check bad/edu-uint32 -device edu,rombar=x
check bad/edu-prop -device edu,foo=1
check bad/edu-bus -device edu,bus=pci.1
check bad/edu-isa-bus -device edu,bus=isa.0
check bad/isa-on-pci -device isa-debug-exit,bus=pci.0
check bad/not-pluggable -device PIIX3
check bad/edu-machine-none -machine none -device edu
check bad/json-missing-driver -device '{"id":"a"}'
check bad/json-unknown -device '{"driver":"nope"}'
check bad/json-bool-type -device '{"driver":"edu","multifunction":"on"}'
check bad/json-int-type -device '{"driver":"isa-debug-exit","iobase":"0x10"}'
check bad/json-prop -device '{"driver":"isa-debug-exit","iobase":16,"x":1}'
check bad/scsi-no-bus -device scsi-cd
check good/scsi-bus -device virtio-scsi-pci,id=s -device scsi-cd,bus=s.0 -device scsi-cd
check bad/scsi-bus-named -device virtio-scsi-pci,id=s -device scsi-cd,bus=scsi.0
check bad/scsi-on-pci -device virtio-scsi-pci -device scsi-cd,bus=pci.0
# USB (docs/usb.md): the machine's usb-bus.0 (-usb, -machine usb=on, -usbdevice), a UHCI's
check bad/usb-no-bus -device usb-tablet
check good/usb -usb -device usb-tablet
check good/usb-machine -machine usb=on -device usb-mouse,bus=usb-bus.0
check good/usb-uhci-id -device piix3-usb-uhci,id=u -device usb-kbd,bus=u.0
check bad/usb-uhci-bus-name -device piix3-usb-uhci,id=u -device usb-kbd,bus=usb-bus.0
check bad/usb-on-pci -usb -device usb-tablet,bus=pci.0
check good/global -global edu.dma_mask=5 -device edu
check good/global-long -global driver=edu,property=dma_mask,value=5 -device edu
check bad/global-format -global foo
check bad/global-empty-driver -global .x=1
check bad/global-value -global edu.dma_mask=x -device edu
check bad/global-bool -global edu.multifunction=x -device edu
check bad/global-prop -global edu.foo=1 -device edu

# Errors only the machine finds (slot in use, function 0 rules): the whole emulator beside QEMU,
# with a tiny kernel so Vireo builds its machine (-S: nothing runs).
python3 "$VIREO_ROOT/tests/lib/mkkernel.py" "$tmp/tiny" hlt-loop
run_check() { # NAME ARGS...
    local name=$1
    shift
    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
        timeout 20 "$QEMU" -qmp stdio -display none -nodefaults -S -accel tcg -kernel "$tmp/tiny" "$@" \
        >/dev/null 2>"$tmp/qemu.err"
    local qrc=$?
    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
        timeout 20 "$VIREO" -qmp stdio -display none -nodefaults -S -accel tcg -kernel "$tmp/tiny" "$@" \
        >/dev/null 2>"$tmp/vireo.err"
    local vrc=$?
    normalize "$tmp/qemu.err" >"$tmp/qemu.norm"
    normalize "$tmp/vireo.err" >"$tmp/vireo.norm"
    if [ "$qrc" != "$vrc" ]; then
        fail "device/$name" "exit status: qemu $qrc, vireo $vrc; qemu said: $(head -c 300 "$tmp/qemu.norm"); vireo said: $(head -c 300 "$tmp/vireo.norm")"
    elif ! cmp -s "$tmp/qemu.norm" "$tmp/vireo.norm"; then
        fail "device/$name" "stderr differs: $(diff "$tmp/qemu.norm" "$tmp/vireo.norm" | head -c 600)"
    else
        ok "device/$name"
    fi
}
run_check run/edu-two -device edu -device edu,id=b
run_check run/slot-in-use-chipset -device edu,addr=1
run_check run/slot-in-use-id -device edu,id=a,addr=3 -device edu,addr=3
run_check run/slot-in-use-noid -device edu,addr=3 -device edu,id=z,addr=3
run_check run/multifunction -device edu,addr=3.0,multifunction=on -device edu,addr=3.1
run_check run/fn0-single-after -device edu,addr=3.1 -device edu,addr=3.0
run_check run/fn-without-multi -device edu,addr=4.0 -device edu,addr=4.2
run_check run/json-devfn-int -device '{"driver":"edu","addr":5}'
run_check run/json-after-keyval -device '{"driver":"edu","id":"j"}' -device edu,id=k
run_check run/json-id-duplicate -device '{"driver":"edu","id":"x"}' -device edu,id=x
run_check run/json-id-duplicate-json -device '{"driver":"edu","id":"x"}' -device '{"driver":"edu","id":"x"}'
run_check run/global-invalid-class -global foo.bar=1
run_check run/global-unused -global isa-debug-exit.iobase=0xf4
run_check run/romfile-missing -device edu,romfile=/nonexistent
run_check run/slots-full -device edu,addr=2 $(for s in $(seq 3 31); do printf -- '-device edu,addr=%x ' $s; done) -device edu
# virtio-rng-pci and its -object backends, virtio-balloon-pci (docs/virtio.md)
run_check run/rng-no-backend -device virtio-rng-pci,rng=nope
run_check run/rng-period -device virtio-rng-pci,period=0
run_check run/rng-max-bytes -device virtio-rng-pci,max-bytes=9223372036854775808
run_check run/rng-backend -object rng-random,id=r,filename=/dev/urandom -device virtio-rng-pci,rng=r
run_check run/rng-builtin-json -object '{"qom-type":"rng-builtin","id":"b"}' -device virtio-rng,rng=b
run_check run/object-type -object foo,id=x
run_check run/object-no-id -object rng-random
run_check run/object-bad-id -object rng-builtin,id=1r
run_check run/object-dup -object rng-builtin,id=r -object rng-random,id=r
run_check run/object-param -object rng-random,id=r,bogus=1
run_check run/object-builtin-param -object rng-builtin,id=r,filename=/dev/urandom
run_check run/object-no-file -object rng-random,id=r,filename=/nonexistent
# USB: ports and versions the machine checks
run_check run/usb-two -usb -device usb-tablet,port=2 -device usb-kbd,id=k
run_check run/usb-port-missing -usb -device usb-tablet,port=3
run_check run/usb-port-in-use -usb -device usb-tablet,port=1 -device usb-mouse,port=1
run_check run/usb-version -usb -device usb-tablet,usb_version=3
run_check run/usbdevice -usbdevice tablet
run_check run/usbdevice-unknown -usbdevice foo
run_check run/balloon-hint -device virtio-balloon-pci,free-page-hint=on
run_check run/balloon-two -device virtio-balloon-pci -device virtio-balloon,id=b2
for o in rng-random rng-builtin; do
    "$QEMU" -object $o,help >"$tmp/qemu.h" 2>&1
    "$PARSE" --parse -object $o,help >"$tmp/vireo.h" 2>&1 </dev/null
    if cmp -s "$tmp/qemu.h" "$tmp/vireo.h"; then
        ok "device/object-help/$o"
    else
        fail "device/object-help/$o" "$(diff "$tmp/qemu.h" "$tmp/vireo.h" | head -c 400)"
    fi
done

# stdout of the help forms (virtio-blk-pci: its own, the transport's and the PCI properties)
for drv in isa-debug-exit virtio-blk-pci; do
    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
        timeout 20 "$QEMU" -qmp stdio -display none -device $drv,help 2>/dev/null |
        grep -v '^{' >"$tmp/qemu.help"
    "$PARSE" --parse -device $drv,help >"$tmp/vireo.help" 2>/dev/null </dev/null
    n=help-text
    [ $drv = isa-debug-exit ] || n=help-text-$drv
    if cmp -s "$tmp/qemu.help" "$tmp/vireo.help"; then
        ok device/$n
    else
        fail device/$n "$(diff "$tmp/qemu.help" "$tmp/vireo.help" | head -c 400)"
    fi
done
# -device help: every line Vireo prints is QEMU's, in QEMU's order (QEMU lists more devices)
"$PARSE" --parse -device help >"$tmp/vireo.list" 2>/dev/null </dev/null
"$QEMU" -device help >"$tmp/qemu.list" 2>/dev/null
grep -v '^$' "$tmp/vireo.list" >"$tmp/vireo.lines"
grep -xF -f "$tmp/vireo.lines" "$tmp/qemu.list" >"$tmp/qemu.sub"
if [ -s "$tmp/vireo.lines" ] && cmp -s "$tmp/qemu.sub" "$tmp/vireo.lines" &&
    grep -qx 'name "edu", bus PCI' "$tmp/vireo.list"; then
    ok device/help-list
else
    fail device/help-list "$(diff "$tmp/qemu.sub" "$tmp/vireo.lines" | head -c 400)"
fi
# -device X,help for each device Vireo has, text for text
for dev in $(sed -n 's/^name "\([^"]*\)".*/\1/p' "$tmp/vireo.list"); do
    "$QEMU" -device "$dev,help" >"$tmp/qemu.h" 2>&1
    "$PARSE" --parse -device "$dev,help" >"$tmp/vireo.h" 2>&1 </dev/null
    if cmp -s "$tmp/qemu.h" "$tmp/vireo.h"; then
        ok "device/help-props/$dev"
    else
        fail "device/help-props/$dev" "$(diff "$tmp/qemu.h" "$tmp/vireo.h" | head -c 400)"
    fi
done
finish
