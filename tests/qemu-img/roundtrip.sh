#!/bin/bash
# Images written by our tools are clean and readable for QEMU 7.2, and the other way round;
# qemu-io output lines, info and check (human and JSON) match QEMU's.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip roundtrip "real qemu-img not installed"; exit 0; fi

# 1. our writes -> real check clean + real reads see the data
for opts in "" "-o compat=0.10" "-o cluster_size=512" "-o cluster_size=4096,refcount_bits=1" \
    "-o cluster_size=2M" "-o refcount_bits=64,cluster_size=1024" "-o lazy_refcounts=on" \
    "-o preallocation=metadata,cluster_size=4096"; do
    name="ours-write/${opts:-default}"
    rm -f t.qcow2
    $QIMG create -q -f qcow2 $opts t.qcow2 8M
    if ! $QIO -c 'write -P 0x11 0 100k' -c 'write -P 0x22 1M 3k' -c 'write -P 0x33 2047k 2k' \
        -c 'write -z 4M 1M' -c 'write -P 0x44 7M 1M' -c 'discard 7M 64k' -c flush t.qcow2 \
        >out 2>&1; then
        fail "$name" "qemu-io: $(head -c 200 out)"
        continue
    fi
    if ! "$REF_QIMG" check t.qcow2 >chk 2>&1; then
        fail "$name" "real check: $(head -c 300 chk)"
        continue
    fi
    if ! "$REF_QIO" -r -c 'read -P 0x11 0 100k' -c 'read -P 0x22 1M 3k' -c 'read -P 0x33 2047k 2k' \
        -c 'read -P 0 4M 1M' -c 'read -P 0x44 7232k 960k' -c 'read -P 0 100k 924k' t.qcow2 \
        >out 2>&1 || grep -q 'verification failed' out; then
        fail "$name" "real read: $(grep -m1 -v ops/sec out)"
        continue
    fi
    ok "$name"
done

# 2. real writes -> our reads
for opts in "" "-o compat=0.10" "-o cluster_size=512" "-o cluster_size=2M" "-o refcount_bits=1" \
    "-o lazy_refcounts=on" "-o preallocation=metadata"; do
    name="ref-write/${opts:-default}"
    rm -f t.qcow2
    "$REF_QIMG" create -q -f qcow2 $opts t.qcow2 8M
    "$REF_QIO" -c 'write -P 0x11 0 100k' -c 'write -P 0x22 1M 3k' -c 'write -c -P 0x55 3M 64k' \
        -c 'write -z 4M 1M' -c 'write -P 0x44 7M 1M' t.qcow2 >/dev/null 2>&1
    if ! $QIO -r -c 'read -P 0x11 0 100k' -c 'read -P 0x22 1M 3k' -c 'read -P 0 4M 1M' \
        -c 'read -P 0x44 7M 1M' -c 'read -P 0 100k 924k' t.qcow2 >out 2>&1 ||
        grep -q 'verification failed' out; then
        fail "$name" "our read: $(grep -m1 -v ops/sec out)"
    elif ! $QIMG check t.qcow2 >chk 2>&1; then
        fail "$name" "our check: $(head -c 300 chk)"
    else
        ok "$name"
    fi
done

# 3. compressed clusters written by QEMU: cluster k of the disk holds byte (k*7)%256
for cs in 512 65536 2M; do
    rm -f c.qcow2
    python3 -c "
import sys
cs = $(numfmt --from=iec $cs)
sys.stdout.buffer.write(b''.join(bytes([(k * 7) % 256]) * cs for k in range(4194304 // cs)))" >src.raw
    "$REF_QIMG" convert -c -o cluster_size=$cs -f raw -O qcow2 src.raw c.qcow2
    args=()
    step=$((4194304 / 64))
    for k in $(seq 0 63); do
        off=$((k * step))
        args+=(-c "read -q -P $(((off / $(numfmt --from=iec $cs)) * 7 % 256)) $off 512")
    done
    if $QIO -r "${args[@]}" c.qcow2 >out 2>&1 && ! grep -q . out && $QIMG check c.qcow2 >/dev/null; then
        ok "compressed/read-cs$cs"
    else
        fail "compressed/read-cs$cs" "$(head -c 300 out)"
    fi
done

# 4. qemu-io output lines match QEMU's (timing lines removed)
$QIMG create -q -f qcow2 a.qcow2 16M
cp a.qcow2 b.qcow2
i=0
for c in "write -P 0xab 0 64k" "write -P 0x11 1000 3000" "read -P 0xab 0 1000" \
    "read -P 0x11 1000 3000" "read -P 0x12 1000 3000" "write -z 128k 64k" "write -z 130k 10k" \
    "discard 0 64k" "write -c 1M 64k" "read -P 0xcd 1M 64k" "map" "alloc 0 1M" "length" \
    "read 16M 1" "write -P 0x22 15M 1M" "write -P 300 0 1" "read x 1" "read" "write -c 1M 64k" \
    "flush" "map" "bogus"; do
    i=$((i + 1))
    $QIO -c "$c" a.qcow2 2>&1 | untime >o1
    echo "rc=${PIPESTATUS[0]}" >>o1
    "$REF_QIO" -c "$c" b.qcow2 2>&1 | untime >o2
    echo "rc=${PIPESTATUS[0]}" >>o2
    expect_same "qemu-io/$i:$c" o1 o2
done
"$REF_QIMG" compare a.qcow2 b.qcow2 >cmp 2>&1 && ok "qemu-io/same-content" ||
    fail "qemu-io/same-content" "$(cat cmp)"
"$REF_QIMG" map --output=json a.qcow2 >m1
"$REF_QIMG" map --output=json b.qcow2 >m2
expect_same "qemu-io/same-layout" m1 m2

# 5. info / check, human and JSON
"$REF_QIMG" create -q -f qcow2 base.qcow2 64M
"$REF_QIMG" create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
"$REF_QIO" -c 'write -P 1 0 1M' -c 'write -c 2M 64k' top.qcow2 >/dev/null
"$REF_QIMG" create -q -f qcow2 -o compat=0.10 v2.qcow2 1M
"$REF_QIMG" create -q -f raw r.raw 1000
cp top.qcow2 leak.qcow2
python3 - <<'PY'
import struct
d = bytearray(open('leak.qcow2', 'rb').read())
rt = struct.unpack('>Q', d[48:56])[0]
rb = struct.unpack('>Q', d[rt:rt + 8])[0]
# claim a cluster far past the used ones
struct.pack_into('>H', d, rb + 2 * 20, 1)
open('leak.qcow2', 'wb').write(bytes(d))
PY
for cmd in "info top.qcow2" "info --output=json top.qcow2" "info --backing-chain top.qcow2" \
    "info --output=json --backing-chain top.qcow2" "info v2.qcow2" "info --output=json v2.qcow2" \
    "info r.raw" "info --output=json r.raw" "info -f raw top.qcow2" "check top.qcow2" \
    "check --output=json top.qcow2" "check v2.qcow2" "check r.raw" "check leak.qcow2" \
    "check --output=json leak.qcow2" "info nonexistent" "check -r foo top.qcow2"; do
    $QIMG $cmd >o1 2>&1
    echo "rc=$?" >>o1
    "$REF_QIMG" $cmd >o2 2>&1
    echo "rc=$?" >>o2
    expect_same "img/$cmd" o1 o2
done
for cmd in "info --output=json top.qcow2" "check --output=json leak.qcow2"; do
    $QIMG $cmd >j1 2>/dev/null
    "$REF_QIMG" $cmd >j2 2>/dev/null
    if json_eq j1 j2; then ok "json/$cmd"; else fail "json/$cmd" "$(head -c 300 j1)"; fi
done
cp leak.qcow2 leak2.qcow2
$QIMG check -r leaks leak2.qcow2 >o1 2>&1
rc=$?
if [ $rc = 0 ] && "$REF_QIMG" check leak2.qcow2 >/dev/null 2>&1; then
    ok "check/repair-leaks"
else
    fail "check/repair-leaks" "rc=$rc $(head -c 300 o1)"
fi
finish
