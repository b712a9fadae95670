#!/bin/bash
# Firmware boot (docs/firmware.md): SeaBIOS (Debian's bios-256k.bin, QEMU 7.2's default) runs
# under TCG and boots a boot sector built here (tests/lib/mkbootsect.py) from a virtio-blk disk,
# beside real QEMU 7.2 with the same command line: the same serial output and exit status (the
# sector ends through isa-debug-exit), and SeaBIOS's debug log (port 0x402, isa-debugcon) names
# the same PCI functions, boot devices and boot path. Also QEMU's message for a BIOS that cannot
# be loaded; bootindex= and -boot (the bootorder file, the booted disk, the menu prompt, errors).
# (Each Vireo start costs ~5 s in the sanitizer build: keep the starts few.)
. "$(dirname "$0")/../lib/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
python3 "$VIREO_ROOT/tests/lib/mkbootsect.py" "$work/disk.img" "vireo firmware test: booted by the BIOS"

# boot EMU TAG [ARGS...]: serial to TAG.ser, debug log to TAG.deb, status to TAG.rc
boot() {
    local emu=$1 tag=$2
    shift 2
    timeout 60 "$emu" -accel tcg -nodefaults -display none -m 128 -no-reboot \
        -serial "file:$work/$tag.ser" -chardev "file,id=dbg,path=$work/$tag.deb" \
        -device isa-debugcon,iobase=0x402,chardev=dbg -device isa-debug-exit "$@" \
        >"$work/$tag.out" 2>"$work/$tag.err"
    echo $? >"$work/$tag.rc"
}

# What the debug log says about devices and booting (QEMU's own kvmvapic option ROM aside:
# Vireo has no TPR-patching vapic).
log_lines() {
    grep -E '^(PCI: init bdf|found |Booting from|Searching bootorder for|ATA controller|Found [0-9]+ serial)' "$1" |
        grep -v kvmvapic
}

check_boot() {
    local name=$1 tag=$2
    if [ "$(cat "$work/$tag.rc")" = 67 ] && [ -n "$(cat "$work/$tag.ser")" ] &&
        cmp -s "$work/$tag.ser" "$work/qemu-$tag.ser" && [ "$(cat "$work/qemu-$tag.rc")" = 67 ] &&
        ! [ -s "$work/$tag.err" ]; then
        ok "$name"
    else
        fail "$name" "exit $(cat "$work/$tag.rc") (QEMU $(cat "$work/qemu-$tag.rc")); serial: $(head -c 200 "$work/$tag.ser"); stderr: $(head -c 300 "$work/$tag.err"); log tail: $(tail -n 5 "$work/$tag.deb" | tr '\n' '|')"
    fi
    if diff <(log_lines "$work/qemu-$tag.deb") <(log_lines "$work/$tag.deb") >"$work/$tag.diff"; then
        ok "$name-debug-log"
    else
        fail "$name-debug-log" "SeaBIOS's log differs from QEMU 7.2's: $(head -c 600 "$work/$tag.diff" | tr '\n' '|')"
    fi
}

disk=(-drive "file=$work/disk.img,format=raw,if=virtio")
boot "$QEMU" qemu-virtio "${disk[@]}"
boot "$VIREO" virtio "${disk[@]}"
check_boot firmware/virtio-blk-boot virtio

# bootindex= and -boot: the disk with the lowest bootindex boots (the sector in slot 3); the
# bootorder file SeaBIOS prints (its "boot order:" lines) is QEMU's, HALT last with strict=on;
# menu=on shows SeaBIOS's prompt (splash-time= keeps it short).
python3 "$VIREO_ROOT/tests/lib/mkbootsect.py" "$work/one.img" "disk one (bootindex 3)"
python3 "$VIREO_ROOT/tests/lib/mkbootsect.py" "$work/two.img" "disk two (bootindex 1)"
two=(-drive "file=$work/one.img,format=raw,if=none,id=a" -device virtio-blk-pci,drive=a,bootindex=3
     -drive "file=$work/two.img,format=raw,if=none,id=b" -device virtio-blk-pci,drive=b,bootindex=1
     -boot order=dc,strict=on,menu=on,splash-time=50,reboot-timeout=5000)
boot "$QEMU" qemu-bootindex "${two[@]}"
boot "$VIREO" bootindex "${two[@]}"
check_boot firmware/bootindex bootindex
bootorder() { sed -n '/^boot order:/,/^=/p' "$1"; }
if [ -n "$(bootorder "$work/bootindex.deb")" ] &&
    cmp -s <(bootorder "$work/qemu-bootindex.deb") <(bootorder "$work/bootindex.deb") &&
    grep -q '^Press ESC for boot menu' "$work/bootindex.deb"; then
    ok firmware/bootorder-file
else
    fail firmware/bootorder-file "Vireo: $(bootorder "$work/bootindex.deb" | tr '\n' '|'); QEMU: $(bootorder "$work/qemu-bootindex.deb" | tr '\n' '|')"
fi

# -boot errors: the parser's (build/tests/test-cmdline --parse) and the machine's, as QEMU.
PARSE=$VIREO_BUILD/tests/test-cmdline
for b in order=z order=cc once=x menu=maybe strict=x foo=1 splash-time=abc; do
    q=$("$QEMU" -accel tcg -nodefaults -display none -S -boot "$b" 2>&1 </dev/null)
    qrc=$?
    v=$("$PARSE" --parse -accel tcg -nodefaults -display none -S -boot "$b" 2>&1 </dev/null)
    vrc=$?
    if [ "$v" = "$q" ] && [ $vrc = $qrc ]; then
        ok "firmware/boot-option-$b"
    else
        fail "firmware/boot-option-$b" "Vireo ($vrc): $v; QEMU ($qrc): $q"
    fi
done
q=$("$QEMU" -accel tcg -nodefaults -display none -boot order=e 2>&1 </dev/null)
qrc=$?
v=$(timeout 20 "$VIREO" -accel tcg -nodefaults -display none -boot order=e 2>&1 </dev/null)
vrc=$?
if [ "$v" = "$q" ] && [ $vrc = $qrc ] && [ $vrc = 1 ]; then
    ok firmware/boot-order-not-pc
else
    fail firmware/boot-order-not-pc "Vireo ($vrc): $v; QEMU ($qrc): $q"
fi

# A BIOS that cannot be loaded (not a multiple of 64 KiB; a missing file takes the same path):
# QEMU's line (no program name) and status 1.
head -c 1000 /dev/zero >"$work/short.bin"
for b in "$work/short.bin"; do
    q=$("$QEMU" -accel tcg -nodefaults -display none -bios "$b" 2>&1 </dev/null)
    qrc=$?
    v=$(timeout 20 "$VIREO" -accel tcg -nodefaults -display none -bios "$b" 2>&1 </dev/null)
    vrc=$?
    if [ "$v" = "$q" ] && [ $vrc = $qrc ] && [ $vrc = 1 ]; then
        ok "firmware/bad-bios-$(basename "$b" .bin)"
    else
        fail "firmware/bad-bios-$(basename "$b" .bin)" "Vireo ($vrc): $v; QEMU ($qrc): $q"
    fi
done
finish
