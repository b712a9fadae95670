#!/bin/bash
# qemu-img snapshot -c/-a/-d/-l and convert -l: same image bytes as QEMU 7.2 (dates masked),
# same messages and exit codes, clean under real qemu-img check, snapshots readable by QEMU.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip snapshot "real qemu-img not installed"; exit 0; fi

# image bytes with the snapshot table's date fields zeroed
masked() {
    python3 - "$1" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
nb, off = struct.unpack('>IQ', d[60:72])
for i in range(nb):
    off = (off + 7) & ~7
    _, _, il, nl, _, _, _, _, es = struct.unpack('>QIHHIIQII', d[off:off + 40])
    d[off + 16:off + 24] = bytes(8)
    off += 40 + es + il + nl
sys.stdout.buffer.write(d)
PY
}
# step NAME ARGS...: run on r.qcow2 (QEMU) and o.qcow2 (ours); compare rc, stderr, bytes
step() {
    local name=$1
    shift
    "$REF_QIMG" "$@" r.qcow2 >r.out 2>&1
    local rc2=$?
    $QIMG "$@" o.qcow2 >o.out 2>&1
    local rc1=$?
    sed -i 's/r\.qcow2/o.qcow2/g' r.out
    if [ $rc1 != $rc2 ]; then
        fail "$name" "rc $rc1 != $rc2: $(head -c 200 o.out)"
    elif ! diff -q <(sed 's/20[0-9-]* [0-9:]*/DATE/; /^disk size:/d' r.out) \
        <(sed 's/20[0-9-]* [0-9:]*/DATE/; /^disk size:/d' o.out) >/dev/null; then
        fail "$name" "output: $(head -c 300 o.out) | want $(head -c 300 r.out)"
    elif ! cmp -s <(masked r.qcow2) <(masked o.qcow2); then
        fail "$name" "image differs: $(cmp <(masked r.qcow2) <(masked o.qcow2) 2>&1 | head -1)"
XX
    else
        ok "$name"
    fi
}
both_io() {
    "$REF_QIO" "$@" r.qcow2 >/dev/null 2>&1
    "$REF_QIO" "$@" o.qcow2 >/dev/null 2>&1
}

for opts in "" "-o cluster_size=512" "-o compat=0.10" "-o refcount_bits=1,cluster_size=4096" \
    "-o refcount_bits=64,lazy_refcounts=on,cluster_size=2M"; do
    t="snap${opts:+/${opts#-o }}"
    rm -f r.qcow2 o.qcow2
    "$REF_QIMG" create -q -f qcow2 $opts r.qcow2 4M
    "$REF_QIO" -c 'write -P 1 0 128k' -c 'write -c -P 2 1M 64k' -c 'write -z 2M 64k' \
        r.qcow2 >/dev/null 2>&1
    cp r.qcow2 o.qcow2
    step "$t/create-s1" snapshot -c s1
    both_io -c 'write -P 3 64k 128k' -c 'discard 1M 64k'
    step "$t/create-s2" snapshot -c s2
    step "$t/create-dup-name" snapshot -c s1
    step "$t/list" snapshot -l
    step "$t/info" info
    step "$t/apply-id" snapshot -a 1
    step "$t/delete-s2" snapshot -d s2
    step "$t/delete-by-id-not-found" snapshot -d 3
    step "$t/apply-name" snapshot -a s1
    step "$t/apply-missing" snapshot -a nope
    step "$t/delete-s1" snapshot -d s1
    step "$t/delete-last" snapshot -d s1
    step "$t/delete-missing" snapshot -d s1
done

# usage errors
rm -f r.qcow2 o.qcow2
"$REF_QIMG" create -q -f qcow2 r.qcow2 1M
cp r.qcow2 o.qcow2
step usage/mix snapshot -l -c x
step usage/no-action snapshot
step usage/list-empty snapshot -l

# content: apply restores the data; QEMU reads our snapshots; convert -l
rm -f o.qcow2
$QIMG create -q -f qcow2 o.qcow2 4M
$QIO -c 'write -P 0x11 0 192k' o.qcow2 >/dev/null
$QIMG snapshot -c first o.qcow2
$QIO -c 'write -P 0x22 64k 64k' -c 'write -P 0x33 3M 64k' o.qcow2 >/dev/null
$QIMG snapshot -c second o.qcow2
$QIO -c 'write -P 0x44 0 4M' o.qcow2 >/dev/null
if "$REF_QIO" -r -c 'read -P 0x44 0 4M' o.qcow2 >out 2>&1 && ! grep -q verification out; then
    ok content/active
else
    fail content/active "$(head -c 200 out)"
fi
for l in first 1 snapshot.name=second snapshot.id=2; do
    "$REF_QIMG" convert -l "$l" -O raw o.qcow2 ref.raw
    $QIMG convert -l "$l" -O raw o.qcow2 our.raw
    if cmp -s ref.raw our.raw; then ok "convert-l/$l"; else fail "convert-l/$l" "differs"; fi
done
$QIMG convert -l nope -O raw o.qcow2 our.raw >out 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "Failed to load snapshot: Can't find snapshot" out; then
    ok convert-l/missing
else
    fail convert-l/missing "rc=$rc $(head -c 200 out)"
fi
$QIMG snapshot -a first o.qcow2
if $QIO -r -c 'read -P 0x11 0 192k' -c 'read -P 0 192k 3904k' o.qcow2 >out 2>&1 &&
    ! grep -q verification out && "$REF_QIMG" check o.qcow2 >/dev/null 2>&1; then
    ok content/apply-first
else
    fail content/apply-first "$(grep -v ops/sec out | head -c 200)"
fi
$QIMG snapshot -a second o.qcow2
if "$REF_QIO" -r -c 'read -P 0x11 0 64k' -c 'read -P 0x22 64k 64k' -c 'read -P 0x11 128k 64k' \
    -c 'read -P 0x33 3M 64k' o.qcow2 >out 2>&1 && ! grep -q verification out; then
    ok content/apply-second
else
    fail content/apply-second "$(grep -v ops/sec out | head -c 200)"
fi
# persistent dirty bitmaps listed by info like QEMU (human and JSON)
rm -f bm.qcow2
"$REF_QIMG" create -q -f qcow2 bm.qcow2 64M
"$REF_QIMG" bitmap --add bm.qcow2 bm0
"$REF_QIMG" bitmap --add -g 1M bm.qcow2 other
"$REF_QIMG" bitmap --disable bm.qcow2 other
"$REF_QIMG" snapshot -c s1 bm.qcow2
for o in human json; do
    "$REF_QIMG" info --output=$o bm.qcow2 2>&1 | sed '/^disk size/d; s/"actual-size": [0-9]*/A/' >r.out
    $QIMG info --output=$o bm.qcow2 2>&1 | sed '/^disk size/d; s/"actual-size": [0-9]*/A/' >o.out
    expect_same "info/bitmaps/$o" r.out o.out
done
finish
