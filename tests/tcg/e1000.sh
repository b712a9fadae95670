#!/bin/bash
# e1000 beside QEMU 7.2: tests/lib/e1000-guest.c (a tiny Multiboot guest, built here with cc -m32)
# drives the NIC on -netdev user and prints PCI config, registers, EEPROM, PHY, auto-negotiation,
# the INTx level, an ARP and an ICMP exchange with slirp (checksum offload), TSO segments and VLAN
# tags through the PHY loopback, and the statistics; everything up to "end-compare" must equal
# QEMU's. Then (Vireo only) descriptors and buffers outside RAM: no crash, the NIC still answers.
# The same guest on -netdev tap, stream and dgram (e1000/backend-*) must get its ARP and ICMP
# replies through them.
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
# Backends (Vireo only, beside the runs above): the same guest on -netdev tap (a tap in this
# namespace with 10.0.2.2: the kernel answers ARP and ping), and on -netdev stream and dgram to
# a QEMU 7.2 whose hub joins that socket to its own slirp (QEMU's framing on the wire).
gargs=(-M pc -m 128 -nodefaults -display none -no-reboot -kernel "$work/guest")
ip link set lo up 2>/dev/null
backend() { # NAME NETDEV-OPTIONS
    timeout 60 "$VIREO" -accel tcg "${gargs[@]}" -netdev "$2" -device e1000,netdev=n0 \
        -serial "file:$work/b-$1.out" 2>"$work/b-$1.err"
    echo $? >"$work/b-$1.rc"
}
if ip tuntap add dev vtap0 mode tap 2>"$work/tap.err" && ip addr add 10.0.2.2/24 dev vtap0 &&
    ip link set vtap0 up; then
    backend tap tap,id=n0,ifname=vtap0,script=no,downscript=no &
else
    echo "cannot make a tap: $(head -c 200 "$work/tap.err")" >"$work/b-tap.skip"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
router=()
if [ $have_qemu = 1 ]; then
    p1=$(free_port)
    timeout 60 "$QEMU" -M none -nodefaults -display none -netdev user,id=u \
        -netdev "stream,id=s,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=$p1" \
        -netdev hubport,id=h1,hubid=0,netdev=u -netdev hubport,id=h2,hubid=0,netdev=s 2>/dev/null &
    router+=($!)
    p2=$(free_port) p3=$(free_port)
    timeout 60 "$QEMU" -M none -nodefaults -display none -netdev user,id=u \
        -netdev "dgram,id=s,local.type=inet,local.host=127.0.0.1,local.port=$p2,remote.type=inet,remote.host=127.0.0.1,remote.port=$p3" \
        -netdev hubport,id=h1,hubid=0,netdev=u -netdev hubport,id=h2,hubid=0,netdev=s 2>/dev/null &
    router+=($!)
    for _ in $(seq 100); do listening "$p1" && break; sleep 0.1; done
    backend stream "stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=$p1" &
    backend dgram "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=$p3,remote.type=inet,remote.host=127.0.0.1,remote.port=$p2" &
fi
timeout 60 "$VIREO" -accel tcg "${args[@]}" -serial "file:$work/v.out" 2>"$work/v.err"
vrc=$?
while [ "$(jobs -rp | wc -l)" -gt "${#router[@]}" ]; do sleep 0.2; done
[ ${#router[@]} -gt 0 ] && kill "${router[@]}" 2>/dev/null
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
for b in tap stream dgram; do
    if [ -f "$work/b-$b.skip" ]; then
        skip "e1000/backend-$b" "$(cat "$work/b-$b.skip")"
    elif [ $b != tap ] && [ $have_qemu = 0 ]; then
        skip "e1000/backend-$b" "$QEMU not installed"
    elif [ "$(cat "$work/b-$b.rc" 2>/dev/null)" = 0 ] && ! [ -s "$work/b-$b.err" ] &&
        grep -q '^arp-reply len=00.. status=07 ' "$work/b-$b.out" &&
        grep -q '^echo-reply len=004a status=07 .*0a0002020a00020f0000' "$work/b-$b.out"; then
        ok "e1000/backend-$b"
    else
        fail "e1000/backend-$b" "exit $(cat "$work/b-$b.rc" 2>/dev/null); $(grep -E '^(arp|echo)-reply' "$work/b-$b.out" | head -c 300 | tr '\n' '|') stderr: $(head -c 300 "$work/b-$b.err")"
    fi
done
finish
