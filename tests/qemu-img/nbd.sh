#!/bin/bash
# qemu-nbd and the nbd client driver beside QEMU 7.2 (docs/qemu-nbd.md), in a user and network
# namespace of its own (so the TCP port is ours and no packet leaves the machine):
# - QEMU's qemu-img and qemu-io read and write through Vireo's qemu-nbd over a unix socket and
#   over TCP; the image then equals a copy that got the same writes directly;
# - Vireo's qemu-img reads through QEMU's qemu-nbd (info, map, convert, compare);
# - qemu-img map (block status through base:allocation) through Vireo's server equals the map
#   through QEMU's server, and Vireo's client maps what QEMU's client maps;
# - qemu-nbd's refusals of bad options: QEMU's messages and exit codes;
# - --fork/--pid-file, -D/LIST, -r refusing writes, -o offset;
# - a misbehaving client (nbd-badclient.py) harms neither the image nor the server.
if [ -z "${NBD_SH_NETNS:-}" ]; then
    if ! unshare -rn true 2>/dev/null; then
        echo "skip nbd: cannot make a user and network namespace (unshare -rn)"
        exit 0
    fi
    NBD_SH_NETNS=1 exec unshare -rn bash "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$@"
fi
. "$(dirname "$0")/lib.sh"
QNBD=$VIREO_BUILD/qemu-nbd
REF_QNBD=${REF_QNBD:-/usr/bin/qemu-nbd}
if ! have_ref || [ ! -x "$REF_QNBD" ]; then skip nbd "QEMU's qemu-img/qemu-io/qemu-nbd not installed"; exit 0; fi
if [ ! -x "$QNBD" ]; then skip nbd "$QNBD not built"; exit 0; fi
ip link set lo up 2>/dev/null

# serve LOG PID_VAR ARGS...: start a server in the background, wait for its socket or port
pids=()
serve() {
    local log=$1
    shift
    "$@" 2>>"$log" &
    pids+=($!)
}
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap 'cleanup; rm -rf "$W"' EXIT
wait_sock() { # PATH
    for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
    return 1
}
wait_port() { # PORT
    for _ in $(seq 100); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
san_check() { # NAME LOG: the server's own stderr must hold no sanitizer report
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$2"; then
        fail "$1" "sanitizer: $(grep -m1 -E 'ERROR|runtime error' "$2")"
    fi
}

# an image with data, a zero cluster and holes
$REF_QIMG create -q -f qcow2 img.qcow2 8M
$REF_QIO -c 'write -P 0x11 0 64k' -c 'write -z 1M 64k' -c 'write -P 0x22 2M 1M' \
    -c 'write -P 0x33 5M 4k' img.qcow2 >/dev/null
cp img.qcow2 ref.qcow2
WRITES=(-c 'write -P 0x44 64k 4k' -c 'write -z 2M 64k' -c 'discard 5M 64k' -c 'write -P 0x55 7M 64k'
    -c 'write -P 0x66 8388096 512' -c flush)

# 1. QEMU's qemu-io/qemu-img through Vireo's server, unix socket then TCP
serve vnbd.log "$QNBD" -k "$W/v.sock" -x exp -D "the disk" --discard=unmap img.qcow2
if wait_sock "$W/v.sock"; then
    U="nbd+unix:///exp?socket=$W/v.sock"
    out=$($REF_QIO -f raw "${WRITES[@]}" -c 'read -P 0x11 0 64k' -c 'read -P 0x44 64k 4k' \
        -c 'read -P 0 2M 64k' -c 'read -P 0x55 7M 64k' "$U" 2>&1 | untime)
    if echo "$out" | grep -qiE 'fail|error|pattern'; then
        fail nbd/qemu-io-unix "$(echo "$out" | grep -iE 'fail|error|pattern' | head -3 | tr '\n' '|')"
    else
        ok nbd/qemu-io-unix
    fi
    # without -t the server ends with its client
    for _ in $(seq 40); do [ -S "$W/v.sock" ] || break; sleep 0.05; done
    if [ -S "$W/v.sock" ]; then fail nbd/exit-after-client "socket still there"; else ok nbd/exit-after-client; fi
else
    fail nbd/qemu-io-unix "server did not start: $(head -3 vnbd.log)"
fi
$REF_QIO "${WRITES[@]}" ref.qcow2 >/dev/null
out=$($REF_QIMG compare img.qcow2 ref.qcow2 2>&1)
[ "$out" = "Images are identical." ] && ok nbd/writes-landed || fail nbd/writes-landed "$out"

PORT=10809
serve vnbd.log "$QNBD" -p $PORT -b 127.0.0.1 -t -f qcow2 --cache=writeback --aio=threads \
    --discard=unmap --detect-zeroes=unmap img.qcow2
if wait_port $PORT; then
    T="nbd://127.0.0.1:$PORT"
    $REF_QIO -f raw -c 'write -P 0x77 3M 128k' -c 'write -P 0 4M 64k' "$T" >/dev/null 2>&1
    $REF_QIO -c 'write -P 0x77 3M 128k' -c 'write -P 0 4M 64k' ref.qcow2 >/dev/null
    out=$($REF_QIMG compare -f raw -F qcow2 "$T" ref.qcow2 2>&1)
    [ "$out" = "Images are identical." ] && ok nbd/qemu-img-tcp || fail nbd/qemu-img-tcp "$out"
    $REF_QIMG info "$T" >r.info 2>&1
    $QIMG info "$T" >o.info 2>&1
    expect_same nbd/info-tcp r.info o.info
    kill "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null
else
    fail nbd/qemu-img-tcp "server did not start: $(tail -3 vnbd.log)"
fi

# 2. maps: Vireo's server beside QEMU's, Vireo's client beside QEMU's
serve vnbd.log "$QNBD" -k "$W/v.sock" -t -r -x exp img.qcow2
serve qnbd.log "$REF_QNBD" -k "$W/q.sock" -t -r -x exp img.qcow2
if wait_sock "$W/v.sock" && wait_sock "$W/q.sock"; then
    V="nbd+unix:///exp?socket=$W/v.sock" Q="nbd+unix:///exp?socket=$W/q.sock"
    $REF_QIMG map --output=json "$Q" >map.ref 2>&1
    $REF_QIMG map --output=json "$V" >map.vsrv 2>&1
    $QIMG map --output=json "$Q" >map.vcli 2>&1
    $QIMG map --output=json "$V" >map.both 2>&1
    expect_same nbd/map-server map.ref map.vsrv
    expect_same nbd/map-client map.ref map.vcli
    expect_same nbd/map-both map.ref map.both
    $REF_QIMG map "$Q" | sed "s|$W/q.sock|S|" >map.ref
    $QIMG map "$Q" | sed "s|$W/q.sock|S|" >map.vcli
    expect_same nbd/map-human map.ref map.vcli
    for u in "$Q" "nbd:unix:$W/q.sock:exportname=exp" "nbd+unix:///nope?socket=$W/q.sock" \
        "nbd+unix:///exp" "nbd://" "nbd:unix:$W/none.sock" \
        "json:{\"driver\":\"nbd\",\"server\":{\"type\":\"unix\",\"path\":\"$W/q.sock\"},\"export\":\"exp\"}" \
        'json:{"driver":"nbd"}' 'json:{"driver":"nbd","server.type":"unix"}'; do
        $REF_QIMG info --output=json "$u" 2>&1
        echo "rc=$?"
    done >info.ref
    for u in "$Q" "nbd:unix:$W/q.sock:exportname=exp" "nbd+unix:///nope?socket=$W/q.sock" \
        "nbd+unix:///exp" "nbd://" "nbd:unix:$W/none.sock" \
        "json:{\"driver\":\"nbd\",\"server\":{\"type\":\"unix\",\"path\":\"$W/q.sock\"},\"export\":\"exp\"}" \
        'json:{"driver":"nbd"}' 'json:{"driver":"nbd","server.type":"unix"}'; do
        $QIMG info --output=json "$u" 2>&1
        echo "rc=$?"
    done >info.vcli
    expect_same nbd/info-client info.ref info.vcli
    # the emulator's -drive on an NBD image (Vireo's emulator beside QEMU's, on QEMU's server)
    for emu in /usr/bin/qemu-system-x86_64 "$VIREO_BUILD/qemu-system-x86_64"; do
        [ -x "$emu" ] || continue
        printf 'info block\nquit\n' | timeout 60 "$emu" -S -display none -nodefaults -monitor stdio \
            -drive "file=$Q,format=raw,if=virtio,readonly=on" 2>&1 | grep -a 'virtio0' |
            sed 's/#block[0-9]*/#block/'
    done >drive.out
    if [ "$(wc -l <drive.out)" = 2 ] && [ "$(sed -n 1p drive.out)" = "$(sed -n 2p drive.out)" ]; then
        ok nbd/drive
    else
        fail nbd/drive "$(tr '\n' '|' <drive.out)"
    fi
    $QIMG convert -O raw "$Q" conv.raw 2>&1
    out=$($REF_QIMG compare -F raw img.qcow2 conv.raw 2>&1)
    [ "$out" = "Images are identical." ] && ok nbd/convert-from-qemu-nbd || fail nbd/convert-from-qemu-nbd "$out"
    out=$($QIMG compare "$V" img.qcow2 2>&1)
    [ "$out" = "Images are identical." ] && ok nbd/compare-client || fail nbd/compare-client "$out"
    # -r: writes are refused, by the client's open and by the server
    $REF_QIO -f raw -c 'write 0 512' "$Q" >r.ro 2>&1
    echo "rc=$?" >>r.ro
    $REF_QIO -f raw -c 'write 0 512' "$V" 2>&1 | sed "s|$W/v.sock|$W/q.sock|" >o.ro
    echo "rc=${PIPESTATUS[0]}" >>o.ro
    expect_same nbd/read-only r.ro o.ro
    $QIO -f raw -c 'write 0 512' "$Q" >o.ro 2>&1
    echo "rc=$?" >>o.ro
    sed -i 's/^[^:]*qemu-io:/X:/' r.ro o.ro
    expect_same nbd/read-only-client r.ro o.ro
else
    fail nbd/map-server "servers did not start: $(tail -2 vnbd.log qnbd.log)"
fi
cleanup
pids=()

# 3. bad options: QEMU's messages and exit codes
OPTS=("" "a b" "--bogus img.qcow2" "-p abc img.qcow2" "-e -1 img.qcow2" "--cache=bogus img.qcow2"
    "--aio=native img.qcow2" "--detect-zeroes=unmap img.qcow2" "-o 99999999 img.qcow2"
    "-k rel.sock img.qcow2" "-x $(printf 'x%.0s' $(seq 4097)) img.qcow2" "-B nobitmap img.qcow2"
    "--pid-file=/nonexistent/x -k $W/p.sock img.qcow2")
for prog in "$REF_QNBD" "$QNBD"; do
    for a in "${OPTS[@]}"; do
        echo "== $a" | cut -c1-60
        # shellcheck disable=SC2086
        timeout 5 "$prog" $a 2>&1 | sed "s|$prog|QNBD|g"
        echo "rc=${PIPESTATUS[0]}"
    done >"opts.$(basename "$(dirname "$prog")")"
done
mv opts.bin opts.ref
mv "opts.$(basename "$VIREO_BUILD")" opts.vireo
expect_same nbd/options opts.ref opts.vireo

# 4. --fork and --pid-file; -o offset
if "$QNBD" --fork --pid-file="$W/nbd.pid" -k "$W/f.sock" -f qcow2 -r -o 2097152 img.qcow2; then
    pid=$(cat "$W/nbd.pid" 2>/dev/null)
    out=$($REF_QIO -f raw -r -c 'read -P 0x22 0 1M' "nbd+unix:///?socket=$W/f.sock" 2>&1 | untime)
    case "$out" in *"read 1048576/1048576"*) ok nbd/fork-offset ;; *) fail nbd/fork-offset "$out" ;; esac
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && { kill "$pid"; fail nbd/fork-exit "still running"; } || ok nbd/fork-exit
else
    fail nbd/fork-offset "--fork failed"
fi

# 5. a misbehaving client
cp img.qcow2 before.qcow2
serve bad.log "$QNBD" -k "$W/b.sock" -t -x exp img.qcow2
if wait_sock "$W/b.sock"; then
    timeout 60 python3 "$VIREO_ROOT/tests/qemu-img/nbd-badclient.py" "$W/b.sock" || true
    out=$($REF_QIMG compare -f raw -F qcow2 "nbd+unix:///exp?socket=$W/b.sock" before.qcow2 2>&1)
    [ "$out" = "Images are identical." ] && ok nbd/badclient-image || fail nbd/badclient-image "$out"
else
    fail nbd/badclient "server did not start: $(tail -3 bad.log)"
fi
cleanup
pids=()
san_check nbd/sanitizer vnbd.log
san_check nbd/sanitizer bad.log
out=$($REF_QIMG check img.qcow2 2>&1)
case "$out" in "No errors were found on the image."*) ok nbd/check ;; *) fail nbd/check "$out" ;; esac
finish
