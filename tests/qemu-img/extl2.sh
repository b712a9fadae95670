#!/bin/bash
# Extended L2 entries (extended_l2=on, 32 subclusters per cluster) beside QEMU 7.2: create is
# byte-identical; the same writes/zero writes/discards/compressed writes, with and without a
# backing file, give the same image bytes, map, check and info; QEMU's images read the same
# with ours; damaged subcluster bitmaps get QEMU's errors.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip extl2 "real qemu-img not installed"; exit 0; fi

C='$QI create -q -f qcow2 -o extended_l2=on'
for o in "" ",cluster_size=16k" ",cluster_size=2M" ",preallocation=metadata" \
    ",cluster_size=32k,preallocation=metadata" ",lazy_refcounts=on,refcount_bits=1" \
    ",compat=0.10" ",cluster_size=8k"; do
    both "extl2/create$o" true '$QI create -f qcow2 -o extended_l2=on'"$o"' x.qcow2 3G' \
        '$QI info --output=json x.qcow2' '$QI check x.qcow2'
done

# qemu-io commands covering partial subclusters, zero and discard at every granularity
OPS=(-c "write -P 1 0 64k" -c "write -P 2 100k 3k" -c "write -P 3 1M 2k" -c "write -z 2M 64k"
    -c "write -z 3M 2k" -c "write -P 4 3M 1k" -c "write -z 5M 40k" -c "write -z -u 5M 64k"
    -c "discard 6M 128k" -c "write -c -P 5 8M 64k" -c "write -P 6 8M 4k" -c "write -P 7 10M 200k"
    -c "write -z 10M 8k" -c "write -P 8 12M 1536" -c "write -z 12M 512" -c "discard 10M 64k")
# shellcheck disable=SC2034
ops() { $QO "${OPS[@]}" "$1"; }
both extl2/writes "$C x.qcow2 16M" 'ops x.qcow2' '$QI map --output=json x.qcow2' '$QI map x.qcow2' \
    '$QI check x.qcow2' '$QO -c "read -P 2 100k 3k" -c "read -P 0 97k 3k" -c "read -P 7 10M+8k 192k" x.qcow2'
both extl2/backing true '$QI create -q -f qcow2 base.qcow2 16M' \
    '$QO -c "write -P 9 0 16M" base.qcow2' "$C -b base.qcow2 -F qcow2 x.qcow2 16M" 'ops x.qcow2' \
    '$QI map --output=json x.qcow2' '$QI check x.qcow2' \
    '$QO -c "read -P 9 64k 36k" -c "read -P 2 100k 3k" -c "read -P 9 103k 1k" -c "read -P 0 6M 128k" x.qcow2' \
    '$QI compare base.qcow2 x.qcow2' '$QI commit x.qcow2' '$QI check base.qcow2' \
    '$QI map --output=json x.qcow2'
both extl2/small "$C -o cluster_size=16k x.qcow2 4M" \
    '$QO -c "write -P 1 1000 5000" -c "write -z 8k 4k" -c "write -P 2 30k 600" -c "discard 0 32k" -c "write -P 3 16k 512" x.qcow2' \
    '$QI map --output=json x.qcow2' '$QI check x.qcow2'
both extl2/snapshot "$C x.qcow2 16M" '$QO -c "write -P 1 0 100k" x.qcow2' '$QI snapshot -c s x.qcow2' \
    '$QO -c "write -P 2 4k 4k" -c "write -z 64k 8k" x.qcow2' '$QI check x.qcow2' \
    '$QI snapshot -a s x.qcow2' '$QO -c "read -P 1 0 100k" x.qcow2' '$QI snapshot -d s x.qcow2' '$QI check x.qcow2'
both extl2/resize "$C x.qcow2 16M" '$QO -c "write -P 1 15M 1M" -c "write -P 2 100k 2k" x.qcow2' \
    '$QI resize --shrink x.qcow2 1M' '$QI resize x.qcow2 3M' '$QI map --output=json x.qcow2' '$QI check x.qcow2' \
    '$QI amend -o compat=0.10 x.qcow2'
both extl2/convert true '$QI create -q -f qcow2 s.qcow2 16M' \
    '$QO -c "write -P 1 0 100k" -c "write -P 3 5M 5k" s.qcow2' \
    '$QI convert -O qcow2 -o extended_l2=on s.qcow2 x.qcow2' '$QI convert -c -O qcow2 -o extended_l2=on s.qcow2 y.qcow2' \
    '$QI convert -O qcow2 x.qcow2 z.qcow2' '$QI compare s.qcow2 y.qcow2' '$QI map --output=json y.qcow2' \
    '$QI measure -O qcow2 -o extended_l2=on s.qcow2'

# QEMU-made images read by ours: same map/check/info and contents
rm -f q.qcow2 b.qcow2
"$REF_QIMG" create -q -f qcow2 b.qcow2 16M
"$REF_QIO" -c "write -P 9 0 16M" b.qcow2 >/dev/null
"$REF_QIMG" create -q -f qcow2 -o extended_l2=on -b b.qcow2 -F qcow2 q.qcow2
"$REF_QIO" "${OPS[@]}" q.qcow2 >/dev/null
for c in "map --output=json" "check --output=json" "info --output=json"; do
    # shellcheck disable=SC2086
    "$REF_QIMG" $c q.qcow2 >r.out 2>&1
    # shellcheck disable=SC2086
    $QIMG $c q.qcow2 >o.out 2>&1
    if [ "$c" = "map --output=json" ]; then expect_same "extl2/qemu-image/$c" r.out o.out
    elif json_eq r.out o.out; then ok "extl2/qemu-image/$c"; else fail "extl2/qemu-image/$c" "$(head -c 300 o.out)"; fi
done
$QIMG convert -O raw q.qcow2 q.raw
if "$REF_QIMG" compare -q q.qcow2 q.raw; then ok extl2/qemu-image/read; else fail extl2/qemu-image/read "contents differ"; fi

# damaged subcluster bitmaps (entry 0 of the first L2 table)
cat >l2bits.py <<'EOF'
import struct, sys
path, mode = sys.argv[1], sys.argv[2]
f = open(path, 'r+b')
h = f.read(72)
l1 = struct.unpack('>Q', h[40:48])[0]
f.seek(l1)
l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
f.seek(l2)
e, b = struct.unpack('>QQ', f.read(16))
if mode == 'both': b = 0x0000000100000001
elif mode == 'unalloc': e, b = 0, 1
elif mode == 'compressed': f.seek(l2 + 16 * 2); f.write(struct.pack('>Q', 1)); sys.exit(0)
f.seek(l2)
f.write(struct.pack('>QQ', e, b))
EOF
for m in both unalloc compressed; do
    both "extl2/bad-$m" "$C x.qcow2 1M" '$QO -c "write -P 1 0 64k" -c "write -c -P 2 128k 64k" x.qcow2' \
        "python3 ../l2bits.py x.qcow2 $m" '$QI check x.qcow2' '$QO -c "read 0 4k" x.qcow2' \
        '$QI map --output=json x.qcow2' '$QI info x.qcow2'
done
finish
