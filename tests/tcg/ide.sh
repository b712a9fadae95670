#!/bin/bash
# IDE and ATAPI (docs/ide.md) under TCG, beside real QEMU 7.2 with the same command lines:
# - ide/guest: SeaBIOS boots tests/lib/ide-guest.c (built here with gcc -m16) from an IDE disk;
#   the program drives PIIX3's channels itself (signatures, IDENTIFY words, PIO in 16/32-bit,
#   READ MULTIPLE, LBA48, CHS, errors, bus-master DMA with its PRD tables, a short PRD table,
#   ATAPI commands by PIO and DMA, tray lock/eject/load, DEVICE RESET) and prints what it sees:
#   every line must be QEMU's. Its writes to a scratch disk (PIO and DMA) must leave the same
#   image as under QEMU (qemu-img compare) with the bytes it wrote.
# - ide/guest-malformed: the same run's last lines (Vireo only: QEMU lets DMA reach unassigned
#   space): PRD tables and buffers outside RAM, into ROM, wrapping, a table with no end entry
#   give a device error (bus-master error bit, ATA ABRT) and the channel keeps working.
# - ide/cdrom-boot: `-cdrom X.iso -boot d`, an El Torito ISO made here with xorriso around a
#   tests/lib/mkbootsect.py sector: SeaBIOS boots it as under QEMU (serial, exit, debug log).
. "$(dirname "$0")/../lib/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
QEMU_IMG=${QEMU_IMG:-/usr/bin/qemu-img}

# boot EMU TAG [ARGS...]: serial to TAG.ser, debug log to TAG.deb, status to TAG.rc
boot() {
    local emu=$1 tag=$2
    shift 2
    timeout 120 "$emu" -accel tcg -nodefaults -display none -m 128 -no-reboot \
        -serial "file:$work/$tag.ser" -chardev "file,id=dbg,path=$work/$tag.deb" \
        -device isa-debugcon,iobase=0x402,chardev=dbg -device isa-debug-exit "$@" \
        >"$work/$tag.out" 2>"$work/$tag.err"
    echo $? >"$work/$tag.rc"
}

log_lines() {
    grep -E '^(PCI: init bdf|found |Booting from|Searching bootorder for|ATA controller|DVD/CD|ata[0-9])' "$1" |
        grep -v kvmvapic
}

# ---- the guest program on ide.0 master, a CD on ide.0 slave, a scratch disk on ide.1 ----
cflags=(-m16 -ffreestanding -fno-pic -fno-pie -Os -nostdlib -fno-stack-protector
        -fno-asynchronous-unwind-tables -fno-builtin -fcf-protection=none)
if ! gcc "${cflags[@]}" -c "$VIREO_ROOT/tests/lib/ide-guest.c" -o "$work/g.o" 2>"$work/cc.err" ||
    ! ld -m elf_i386 --no-warn-rwx-segments -T "$VIREO_ROOT/tests/lib/ide-guest.ld" \
        -o "$work/g.elf" "$work/g.o" 2>>"$work/cc.err" ||
    ! objcopy -O binary "$work/g.elf" "$work/hd.img"; then
    fail ide/guest "building the guest program: $(head -c 400 "$work/cc.err")"
    finish
    exit
fi
size=$(stat -c %s "$work/hd.img")
if [ "$size" -gt 16384 ]; then
    fail ide/guest "the program is $size bytes: its first sector loads only 16 KiB"
fi
truncate -s 1M "$work/hd.img"

have_iso=1
if command -v xorriso >/dev/null; then
    mkdir "$work/iso"
    python3 "$VIREO_ROOT/tests/lib/mkbootsect.py" "$work/iso/boot.bin" "booted from the CD" 2
    head -c 300000 /dev/urandom >"$work/iso/data.bin"
    xorriso -as mkisofs -quiet -b boot.bin -no-emul-boot -boot-load-size 4 \
        -o "$work/cd.iso" "$work/iso" 2>"$work/xorriso.err" || have_iso=0
else
    have_iso=0
fi
if [ $have_iso = 0 ]; then
    # without the ISO the CD checks cannot run: ide/guest needs a medium too
    skip ide/guest "no xorriso (scripts/setup installs it): cannot build the test ISO"
    skip ide/cdrom-boot "no xorriso"
    finish
    exit
fi

for e in qemu vireo; do
    truncate -s 1M "$work/$e-scratch.img"
done
guest() {
    boot "$1" "$2-guest" -drive "file=$work/hd.img,format=raw,if=ide,index=0,snapshot=on" \
        -drive "file=$work/cd.iso,format=raw,if=ide,index=1,media=cdrom" \
        -drive "file=$work/$2-scratch.img,format=raw,if=ide,index=2"
}
guest "$QEMU" qemu
guest "$VIREO" vireo

vser=$work/vireo-guest.ser
if [ "$(cat "$work/vireo-guest.rc")" != 67 ] || ! grep -q "ide-guest done" "$vser" ||
    [ -s "$work/vireo-guest.err" ]; then
    fail ide/guest "exit $(cat "$work/vireo-guest.rc"); serial tail: $(tail -n 3 "$vser" | cut -c1-200 | tr '\n' '|'); stderr: $(head -c 300 "$work/vireo-guest.err")"
elif [ "$(cat "$work/qemu-guest.rc")" != 67 ]; then
    fail ide/guest "QEMU 7.2 did not finish the program (exit $(cat "$work/qemu-guest.rc"))"
elif ! diff <(sed '/^== vireo/q' "$work/qemu-guest.ser") <(sed '/^== vireo/q' "$vser") \
    >"$work/guest.diff"; then
    fail ide/guest "lines differ from QEMU 7.2's: $(cut -c1-160 "$work/guest.diff" | head -n 12 | tr '\n' '|')"
else
    ok ide/guest
fi

# the scratch disk: QEMU's image, and the bytes the program wrote (PIO at LBA 10, DMA at 20)
if ! "$QEMU_IMG" compare -q -f raw -F raw "$work/qemu-scratch.img" "$work/vireo-scratch.img"; then
    fail ide/guest-writes "the scratch disk differs from QEMU 7.2's after the same writes"
elif ! python3 - "$work/vireo-scratch.img" <<'EOF'; then
import sys
d = open(sys.argv[1], "rb").read()
pio = bytes((i * 7 + 3) & 255 for i in range(1024))
dma = bytes((i ^ 0x5a) & 255 for i in range(2048))
sys.exit(0 if d[10 * 512:12 * 512] == pio and d[20 * 512:24 * 512] == dma else 1)
EOF
    fail ide/guest-writes "the scratch disk does not hold the bytes the guest wrote"
else
    ok ide/guest-writes
fi

expect=$'dma-buffer-unmapped: bm=06 st=41 err=04\ndma-table-unmapped: bm=06 st=41 err=04
dma-buffer-wrap: bm=06 st=41 err=04\ndma-into-rom: bm=06 st=41 err=04
dma-endless-table: bm=00 st=50 err=00\ndma-after: bm=04 st=50 err=00'
got=$(sed -n '/^== vireo/,$p' "$vser" | tr -d '\r' | grep -E '^dma-[a-z-]+: bm=')
after_q=$(grep '^dma-after: st=' "$work/qemu-guest.ser")
after_v=$(grep '^dma-after: st=' "$vser")
if [ "$got" = "$expect" ] && [ -n "$after_v" ] && [ "$after_q" = "$after_v" ]; then
    ok ide/guest-malformed
else
    fail ide/guest-malformed "got: $(echo "$got" | tr '\n' '|'); after: $after_v (QEMU: $after_q)"
fi

# ---- El Torito boot from -cdrom ----
boot "$QEMU" qemu-cd -cdrom "$work/cd.iso" -boot d
boot "$VIREO" cd -cdrom "$work/cd.iso" -boot d
if [ "$(cat "$work/cd.rc")" = 67 ] && grep -q "booted from the CD" "$work/cd.ser" &&
    cmp -s "$work/cd.ser" "$work/qemu-cd.ser" && [ "$(cat "$work/qemu-cd.rc")" = 67 ] &&
    ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/cd.err" &&
    diff <(log_lines "$work/qemu-cd.deb") <(log_lines "$work/cd.deb") >"$work/cd.diff"; then
    ok ide/cdrom-boot
else
    fail ide/cdrom-boot "exit $(cat "$work/cd.rc") (QEMU $(cat "$work/qemu-cd.rc")); serial: $(head -c 200 "$work/cd.ser"); log diff: $(head -c 400 "$work/cd.diff" 2>/dev/null | tr '\n' '|'); stderr: $(head -c 300 "$work/cd.err")"
fi
finish
