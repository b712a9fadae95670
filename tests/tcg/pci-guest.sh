#!/bin/bash
# The PCI view of a Debian guest beside QEMU 7.2's, and edu driven from inside it, under TCG
# (tests/kvm/pci-guest.sh runs the same script under KVM). One busybox initramfs with Debian's
# lspci/setpci (the cache's pciutils.tar, scripts/guests.sh) boots the cloud kernel under QEMU
# 7.2 and under Vireo with the same command line (-nodefaults: QEMU's pc would add a VGA and an
# e1000 that Vireo does not have yet); the script records, on both, and compares:
#   lspci -nn -vv                     every line
#   /proc/iomem, /proc/ioports        the lines of PCI functions (0000:00:...) and ACPI's (but
#                                     GPE0_BLK: Vireo's FADT has no GPE block until PCI hotplug)
#   edu from /dev/mem and setpci      BAR moves, overlapping BARs (the last mapped answers),
#                                     the INTx status bit, DMA RAM -> edu -> RAM, DMA from and to
#                                     addresses that are not RAM (the guest goes on, its RAM is
#                                     untouched), a DMA range outside edu's buffer (QEMU 7.2 stops
#                                     the process there: Vireo refuses it; checked on Vireo only)
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/guest-initrd.sh"
QEMU=${QEMU:-qemu-system-x86_64}
ACCEL=${PCI_GUEST_ACCEL:-tcg}
name=pci-guest-$ACCEL
kernel=$VIREO_CACHE/vmlinuz-cloud
pciutils=${VIREO_PCIUTILS:-$VIREO_CACHE/pciutils.tar}
for f in "$kernel" "$VIREO_CACHE/busybox" "$pciutils"; do
    if ! [ -r "$f" ]; then
        skip "$name" "no $f (scripts/guests.sh builds it)"
        finish
        exit
    fi
done
if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip "$name" "$QEMU not installed"
    finish
    exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bb_root "$work/root"
tar -xf "$pciutils" -C "$work/root"
mkdir -p "$work/root/sys"
bb_init "$work/root" <<'INIT'
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec 2>/dev/null
rd() { devmem "$1" 32; }
wr() { devmem "$1" 32 "$2"; }
echo ===BEGIN===
echo @lspci
lspci -nn -vv
echo @iomem
grep -E '0000:00:|ACPI' /proc/iomem
echo @ioports
grep -E '0000:00:|ACPI' /proc/ioports | grep -v GPE0_BLK
echo @edu
# 00:02.0 and 00:05.0 are edu (dma_mask=-1: no clamping); their BARs as the firmware left them
a=$((0x$(setpci -s 02.0 BASE_ADDRESS_0) & ~0xf)); b=$((0x$(setpci -s 05.0 BASE_ADDRESS_0) & ~0xf))
printf 'ids %s %s\n' "$(rd $a)" "$(rd $b)"
wr $((a + 4)) 0x1111; wr $((b + 4)) 0x2222
# move edu 2 onto 0xfe000000, then edu 5 on top of it: the last one mapped answers
setpci -s 02.0 BASE_ADDRESS_0=fe000000
echo "moved $(rd 0xfe000004) old $(rd $((a + 4)))"
setpci -s 05.0 BASE_ADDRESS_0=fe000000
echo "overlap $(rd 0xfe000004)"
setpci -s 05.0 BASE_ADDRESS_0=$(printf %x $b)
echo "uncovered $(rd 0xfe000004)"
# memory decode off: nothing answers there
setpci -s 02.0 COMMAND=0
echo "decode-off $(rd 0xfe000000)"
setpci -s 02.0 COMMAND=0006
# INTx: raise, the status bit shows it; acknowledge
wr 0xfe000060 0x40
echo "intx-raised $(lspci -s 02.0 -vv | grep -o 'INTx[+-]') $(rd 0xfe000024)"
wr 0xfe000064 0x40
echo "intx-acked $(lspci -s 02.0 -vv | grep -o 'INTx[+-]')"
# DMA RAM -> edu buffer -> RAM (low RAM: /dev/mem reaches the first MiB)
wr 0x8000 0xcafef00d; wr 0x8004 0x12345678; wr 0x8800 0; wr 0x8804 0
dma() { # src dst count cmd
    wr 0xfe000080 $1; wr 0xfe000084 0; wr 0xfe000088 $2; wr 0xfe00008c 0
    wr 0xfe000090 $3; wr 0xfe000098 $4
    n=0; while [ $(($(rd 0xfe000098) & 1)) = 1 ] && [ $n -lt 50 ]; do usleep 20000; n=$((n + 1)); done
}
dma 0x8000 0x40000 8 1
dma 0x40000 0x8800 8 3
echo "dma-roundtrip $(rd 0x8800) $(rd 0x8804)"
# DMA from an address that is no RAM (above RAM, below the PCI hole) and into one
dma 0x30000000 0x40000 8 1
dma 0x40000 0x30000000 8 3
echo "dma-nowhere $(rd 0x8800) $(rd 0x8804) $(rd 0xfe000000)"
# DMA with bus mastering off: RAM stays as it was
setpci -s 02.0 COMMAND=0002
wr 0x8800 0x0
dma 0x40000 0x8800 8 3
echo "dma-no-master $(rd 0x8800)"
setpci -s 02.0 COMMAND=0006
echo ===END===
# a range outside edu's 4 KiB buffer: QEMU 7.2 aborts there, Vireo refuses and goes on (only
# asked of Vireo: edu.outside on its command line)
if grep -q edu.outside /proc/cmdline; then
    dma 0x8000 0x41000 8 1
    echo "dma-outside-buffer $(rd 0xfe000000) $(rd 0xfe000098)"
fi
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd" 1

args=(-m 512 -smp 1 -nodefaults -display none -serial stdio -no-reboot
    -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 panic=-1 quiet"
    -device edu,dma_mask=0xffffffffffffffff -device edu,addr=5,dma_mask=0xffffffffffffffff)
extract() { tr -d '\r' <"$1" | sed -n '/^===BEGIN===$/,/^===END===$/p' | grep -v 'libkmod'; }
timeout 300 "$QEMU" -accel "$ACCEL" "${args[@]}" >"$work/qemu.out" 2>"$work/qemu.err"
qrc=$?
timeout 300 "$VIREO" -accel "$ACCEL" "${args[@]}" -append "console=ttyS0 panic=-1 quiet edu.outside" \
    >"$work/vireo.out" 2>"$work/vireo.err"
vrc=$?
extract "$work/qemu.out" >"$work/qemu.txt"
extract "$work/vireo.out" >"$work/vireo.txt"
if [ $qrc != 0 ] || ! grep -q '^@edu' "$work/qemu.txt"; then
    fail "$name/qemu-ran" "QEMU 7.2 exit $qrc: $(tail -c 300 "$work/qemu.out" | tr '\n' '|') $(head -c 200 "$work/qemu.err")"
    finish
    exit
fi
if [ $vrc != 0 ] || ! grep -q '^@edu' "$work/vireo.txt"; then
    fail "$name/vireo-ran" "exit $vrc: $(tail -c 400 "$work/vireo.out" | tr '\n' '|') $(head -c 300 "$work/vireo.err")"
    finish
    exit
fi
section() { sed -n "/^@$2\$/,/^@/p" "$1" | sed '$d'; }
for s in lspci iomem ioports edu; do
    section "$work/qemu.txt" $s >"$work/q.$s"
    section "$work/vireo.txt" $s >"$work/v.$s"
    [ $s = edu ] && { grep -v '^===END' "$work/q.$s" >"$work/q.x"; mv "$work/q.x" "$work/q.$s"; }
    [ $s = edu ] && { grep -v '^===END' "$work/v.$s" >"$work/v.x"; mv "$work/v.x" "$work/v.$s"; }
    if [ -s "$work/q.$s" ] && cmp -s "$work/q.$s" "$work/v.$s"; then
        ok "$name/$s"
    else
        fail "$name/$s" "differs from QEMU 7.2: $(diff "$work/q.$s" "$work/v.$s" | head -c 700 | tr '\n' '|')"
    fi
done
# what the guest saw of its own DMA (the comparison above says QEMU saw the same)
if grep -q '^dma-roundtrip 0xCAFEF00D 0x12345678$' "$work/v.edu" &&
    grep -q '^dma-no-master 0x00000000$' "$work/v.edu"; then
    ok "$name/dma-values"
else
    fail "$name/dma-values" "$(grep '^dma' "$work/v.edu" | tr '\n' '|')"
fi
if tr -d '\r' <"$work/vireo.out" | grep -q '^dma-outside-buffer 0x010000ED 0x00000000' &&
    grep -q 'edu: DMA range .* out of bounds' "$work/vireo.err"; then
    ok "$name/dma-outside-buffer-refused"
else
    fail "$name/dma-outside-buffer-refused" "$(tr -d '\r' <"$work/vireo.out" | grep '^dma-outside') $(head -c 300 "$work/vireo.err")"
fi
finish
