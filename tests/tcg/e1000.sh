#!/bin/bash
# e1000 beside QEMU 7.2: tests/lib/e1000-guest.c (a tiny Multiboot guest, built here with cc -m32)
# drives the NIC on -netdev user and prints PCI config, registers, EEPROM, PHY, auto-negotiation,
# the INTx level, an ARP and an ICMP exchange with slirp (checksum offload), TSO segments and VLAN
# tags through the PHY loopback, and the statistics; everything up to "end-compare" must equal
# QEMU's. Then (Vireo only) descriptors and buffers outside RAM: no crash, the NIC still answers.
# Runs in a user and network namespace of its own (unshare -rn); slirp opens no socket here.
. "$(dirname "$0")/../lib/common.sh"
QEMU=${QEMU:-qemu-system-x86_64}
if [ -z "${E1000_SH_NETNS:-}" ]; then
    if ! unshare -rn true 2>/dev/null; then
        skip e1000 "cannot make a user and network namespace (unshare -rn)"
        exit 0
    fi
    E1000_SH_NETNS=1 exec unshare -rn bash "$0" "$@"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/guest.ld" <<'EOF'
ENTRY(_start)
SECTIONS {
    . = 0x100000;
    .text : { *(.mbhdr) *(.text*) *(.rodata*) *(.data*) *(.bss*) *(COMMON) }
    /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame*) }
}
EOF
if ! cc -m32 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
    -nostdlib -static -no-pie -O2 -Wl,-T,"$work/guest.ld" -Wl,--build-id=none \
    -o "$work/guest" "$VIREO_ROOT/tests/lib/e1000-guest.c" 2>"$work/cc"; then
    skip e1000 "cannot build the 32-bit guest: $(head -c 300 "$work/cc")"
    exit 0
fi
args=(-M pc -m 128 -nodefaults -display none -no-reboot -kernel "$work/guest"
    -netdev user,id=n0 -device e1000,netdev=n0,mac=52:54:00:12:34:56)
# both at once: most of a run is the guest waiting (auto-negotiation, QEMU's receive hold-off)
have_qemu=0
if command -v "$QEMU" >/dev/null 2>&1; then
    have_qemu=1
    timeout 60 "$QEMU" -accel tcg "${args[@]}" -serial "file:$work/q.out" 2>"$work/q.err" &
fi
timeout 60 "$VIREO" -accel tcg "${args[@]}" -serial "file:$work/v.out" 2>"$work/v.err"
vrc=$?
wait
sed '/^end-compare/q' "$work/v.out" >"$work/v.cmp"
if [ $vrc = 0 ] && grep -q '^done$' "$work/v.out" && ! [ -s "$work/v.err" ]; then
    ok e1000/runs
else
    fail e1000/runs "exit $vrc; $(tail -c 300 "$work/v.out" | tr '\n' '|') stderr: $(head -c 300 "$work/v.err")"
fi
if [ $have_qemu = 1 ]; then
    sed '/^end-compare/q' "$work/q.out" >"$work/q.cmp"
    if grep -q '^end-compare' "$work/q.cmp" && cmp -s "$work/q.cmp" "$work/v.cmp"; then
        ok e1000/as-qemu
    else
        fail e1000/as-qemu "$(diff "$work/q.cmp" "$work/v.cmp" | head -c 1500 | tr '\n' '|')"
    fi
else
    skip e1000/as-qemu "$QEMU not installed"
fi
# what the compared part must hold (so that a NIC both get wrong the same way still fails)
if grep -q '^arp-reply len=0040 status=07 .* data=52540012345652550a0002020806000108000604000252550a000202' "$work/v.cmp" &&
    grep -q '^echo-reply len=004a status=07 ' "$work/v.cmp" &&
    [ "$(grep -c '^ipsum-ok=1 tcpsum-ok=1 ' "$work/v.cmp")" = 3 ] &&
    grep -q '^vlan-stripped len=003c status=0f errors=00 special=2005 ' "$work/v.cmp" &&
    grep -q 'eeprom-sum=baba ' "$work/v.cmp" && grep -q 'link-back=1 ' "$work/v.cmp"; then
    ok e1000/traffic
else
    fail e1000/traffic "$(tr '\n' '|' <"$work/v.cmp" | tail -c 1500)"
fi
if grep -q '^arp-after-bad-dma len=003c status=07 ' "$work/v.out"; then
    ok e1000/bad-dma
else
    fail e1000/bad-dma "$(sed -n '/^end-compare/,$p' "$work/v.out" | tr '\n' '|' | head -c 500)"
fi
finish
