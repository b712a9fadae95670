#!/bin/bash
# -netdev, -nic, -net and virtio-net-pci's netdev=/mac= beside QEMU 7.2: exit status and stderr of
# the whole emulator (a tiny kernel, -S, quit over QMP) for refused options and for the warnings
# QEMU prints about clients without peers; `info network` over HMP for accepted ones (the hub
# layout, names, MACs; QEMU's anonymous netdev names "#netNNN" are not compared). Runs go six
# at a time in the background (a QEMU start takes ~0.7 s of wall time but little CPU).
# No guest runs, so no packet moves; the runs are still in a network namespace of their own
# when one can be made (-netdev user opens no socket without hostfwd=).
. "$(dirname "$0")/../lib/common.sh"
QEMU=${QEMU:-qemu-system-x86_64}
if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip net "$QEMU not installed"
    exit 0
fi
if [ -z "${NET_SH_NETNS:-}" ] && unshare -rn true 2>/dev/null; then
    NET_SH_NETNS=1 exec unshare -rn bash "$0" "$@"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$VIREO_ROOT/tests/lib/mkkernel.py" "$tmp/tiny" hlt-loop

cases=(
    "bad/type|-netdev foo,id=a"
    "bad/no-id|-netdev user"
    "bad/key|-netdev user,id=a,bogus=1"
    "bad/dup-id|-netdev user,id=a -netdev user,id=a"
    "bad/nic-key|-nic user,model=virtio,bogus=2"
    "bad/net-model|-net nic,model=foo"
    "bad/user-net|-netdev user,id=a,net=300.0.0.0/8"
    "bad/user-host|-netdev user,id=a,host=10.0.3.2"
    "bad/hostfwd-proto|-netdev user,id=a,hostfwd=foo:1-:2"
    "bad/hostfwd-sep|-netdev user,id=a,hostfwd=tcp::1"
    "bad/hostfwd-gport|-netdev user,id=a,hostfwd=tcp::1-:x"
    "bad/device-netdev|-device virtio-net-pci,netdev=nope"
    "bad/device-in-use|-netdev user,id=a -device virtio-net-pci,netdev=a -device virtio-net-pci,netdev=a"
    "bad/device-mac|-device virtio-net-pci,mac=zz"
    "warn/no-peers|-netdev user,id=a -device virtio-net-pci"
    "warn/hub-no-nics|-net user"
    "info/device|-netdev user,id=n1,net=192.168.7.0/24 -device virtio-net-pci,netdev=n1,id=x,mac=52:54:00:01:02:03"
    "info/hub|-net nic,model=virtio -net nic,model=virtio-net-pci,macaddr=52:54:00:aa:bb:cc -net user,id=u,restrict=on -net none"
    "info/nic|-nic user,model=virtio-net-pci -nic none"
    "default/model|+defaults -vga none -nic user -net nic -net user"
    "default/netdev-only|+defaults -vga none -netdev user,id=a"
)
# "+defaults": without -nodefaults (QEMU's pc adds -net nic -net user unless -nic, -net, -netdev
# or -nodefaults is given; Vireo does not yet, so these cases give one of those).
# The sanitizer build's rerun keeps the cases that build a machine, a NIC or a backend (the
# option-parsing errors run the same code in both builds; each sanitizer start costs ~0.6 s CPU)
if [ "${VIREO_ASAN:-0}" = 1 ]; then
    keep=()
    for c in "${cases[@]}"; do
        case ${c%%|*} in
        bad/device-* | bad/hostfwd-sep | bad/user-host | warn/* | info/* | default/model) keep+=("$c") ;;
        esac
    done
    cases=("${keep[@]}")
fi
run() { # BIN OUT [+defaults] ARGS...  (+defaults: without -nodefaults, QEMU's default NIC)
    local bin=$1 out=$2 nd=-nodefaults
    shift 2
    if [ "$1" = +defaults ]; then
        nd=
        shift
    fi
    printf 'info network\nquit\n' |
        timeout 120 "$bin" -monitor stdio -display none $nd -S -accel tcg \
        -kernel "$tmp/tiny" "$@" >"$out.out" 2>"$out.err"
    echo $? >"$out.rc"
}
# the monitor's output: the lines of info network, names of anonymous netdevs masked
monitor_lines() {
    tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | grep -v '^QEMU \|^(qemu)\|^$' |
        sed 's/#net[0-9]*/#netN/g'
}
# both emulators for every case, six runs at a time
i=0
for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    run "$QEMU" "$tmp/q$i" ${c#*|} &
    # shellcheck disable=SC2086
    run "$VIREO" "$tmp/v$i" ${c#*|} &
    i=$((i + 1))
    [ $((i % 3)) = 0 ] && wait
done
wait
i=0
for c in "${cases[@]}"; do
    name=net/${c%%|*}
    sed -e 's|^[^ :]*qemu-system-x86_64: |PROG: |' -e '/terminating on signal/d' "$tmp/q$i.err" >"$tmp/q.err"
    sed -e 's|^[^ :]*qemu-system-x86_64: |PROG: |' "$tmp/v$i.err" >"$tmp/v.err"
    monitor_lines "$tmp/q$i.out" >"$tmp/q.mon"
    monitor_lines "$tmp/v$i.out" >"$tmp/v.mon"
    if [ "$(cat "$tmp/q$i.rc")" != "$(cat "$tmp/v$i.rc")" ]; then
        fail "$name" "exit status: qemu $(cat "$tmp/q$i.rc"), vireo $(cat "$tmp/v$i.rc"); qemu said: $(head -c 300 "$tmp/q.err"); vireo said: $(head -c 300 "$tmp/v.err")"
    elif ! cmp -s "$tmp/q.err" "$tmp/v.err"; then
        fail "$name" "stderr differs: $(diff "$tmp/q.err" "$tmp/v.err" | head -c 600)"
    elif ! cmp -s "$tmp/q.mon" "$tmp/v.mon"; then
        fail "$name" "info network differs: $(diff "$tmp/q.mon" "$tmp/v.mon" | head -c 600)"
    else
        ok "$name"
    fi
    i=$((i + 1))
done
finish
