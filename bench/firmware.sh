#!/bin/bash
# Firmware boot time (issue 13's measure, the TCG half): power-on to a boot sector through SeaBIOS
# (bios-256k.bin) from a virtio-blk disk, Vireo beside real QEMU 7.2 with the same command line
# (-accel tcg -nodefaults -m 128; the sector, tests/lib/mkbootsect.py, ends the emulator through
# isa-debug-exit). Best of VIREO_BENCH_RUNS (5) for wall and CPU time (user + system), and the
# ratios Vireo/QEMU. (The KVM exit counts of a firmware boot are not measured yet.)
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib/common.sh >/dev/null
QEMU=${VIREO_BENCH_QEMU:-/usr/bin/qemu-system-x86_64}
RUNS=${VIREO_BENCH_RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 tests/lib/mkbootsect.py "$work/disk.img" "bench"

# best LABEL BIN: best wall and CPU seconds of RUNS boots, as "WALL CPU"
best() {
    local bin=$1 w c bw=999 bc=999
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %U %S" -o "$work/t" timeout 60 "$bin" -accel tcg -nodefaults \
            -display none -m 128 -no-reboot -serial null -device isa-debug-exit \
            -drive "file=$work/disk.img,format=raw,if=virtio" </dev/null >/dev/null 2>&1
        read -r w u s < <(tail -n 1 "$work/t") || continue
        c=$(echo "$u + $s" | bc)
        bw=$(echo "if ($w < $bw) $w else $bw" | bc)
        bc=$(echo "if ($c < $bc) $c else $bc" | bc)
    done
    echo "$bw $bc"
}
read -r vw vc < <(best "$VIREO")
read -r qw qc < <(best "$QEMU")
ratio() { echo "scale=2; $1 / $2" | bc; }
printf '%-34s %8s %8s %7s\n' "firmware boot to the boot sector" Vireo QEMU ratio
printf '%-34s %8s %8s %7s\n' "wall seconds (best of $RUNS)" "$vw" "$qw" "$(ratio "$vw" "$qw")"
printf '%-34s %8s %8s %7s\n' "CPU seconds (best of $RUNS)" "$vc" "$qc" "$(ratio "$vc" "$qc")"
