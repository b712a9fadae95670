#!/bin/bash
# convert, resize, map and compare: same bytes, output and exit codes as QEMU 7.2.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip convert "real qemu-img not installed"; exit 0; fi

python3 - <<'PY'
import random
r = random.Random(7)
with open('mix.raw', 'wb') as f:
    f.truncate(24 << 20)
    for i in range(0, 24 << 20, 3 << 20):
        f.seek(i)
        f.write(bytes(r.getrandbits(8) for _ in range(100000)))
        f.seek(i + 1000000)
        f.write(b'hello world' * 5000)
PY
"$REF_QIMG" create -q -f qcow2 base.qcow2 24M
"$REF_QIO" -c 'write -P 1 0 2M' -c 'write -P 2 8M 1M' base.qcow2 >/dev/null
"$REF_QIMG" create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
"$REF_QIO" -c 'write -P 3 1M 2M' -c 'write -z 8M 64k' -c 'write -c -P 4 20M 64k' top.qcow2 >/dev/null

# convert: byte-identical targets
while IFS='|' read -r name args src; do
    [ -z "$name" ] && continue
    rm -f c1 c2
    $QIMG convert $args "$src" c1 >o1 2>&1
    echo "rc=$?" >>o1
    "$REF_QIMG" convert $args "$src" c2 >o2 2>&1
    echo "rc=$?" >>o2
    sed -i 's/\bc2\b/c1/g' o2
    if ! cmp -s o1 o2; then
        fail "convert/$name" "output: $(head -c 300 o1) | want $(head -c 300 o2)"
    elif [ -e c2 ] && ! sparse_cmp c1 c2; then
        fail "convert/$name" "target differs: $("$REF_QIMG" compare c1 c2 2>&1 | head -1)"
    else
        ok "convert/$name"
    fi
done <<'CASES'
raw-qcow2|-f raw -O qcow2|mix.raw
raw-qcow2-cs4k|-f raw -O qcow2 -o cluster_size=4096|mix.raw
raw-qcow2-v2|-f raw -O qcow2 -o compat=0.10|mix.raw
raw-qcow2-S0|-f raw -O qcow2 -S 0|mix.raw
raw-qcow2-S64k|-f raw -O qcow2 -S 64k|mix.raw
raw-qcow2-prealloc|-f raw -O qcow2 -o preallocation=metadata|mix.raw
raw-qcow2-compressed|-c -f raw -O qcow2|mix.raw
raw-raw|-f raw -O raw|mix.raw
qcow2-raw|-O raw|top.qcow2
qcow2-qcow2|-O qcow2|top.qcow2
qcow2-qcow2-compressed|-c -O qcow2|top.qcow2
qcow2-qcow2-quiet|-q -O qcow2|top.qcow2
err-source|-O qcow2|nonexistent
err-format|-O foo|top.qcow2
err-compress-raw|-c -O raw|top.qcow2
err-opt|-O qcow2 -o foo=bar|top.qcow2
CASES

# -B: only what the top allocates is copied
rm -f c1
$QIMG convert -O qcow2 -B base.qcow2 -F qcow2 top.qcow2 c1 >o1 2>&1
if "$REF_QIMG" compare top.qcow2 c1 >o2 2>&1 && "$REF_QIMG" check c1 >/dev/null &&
    "$REF_QIMG" info c1 | grep -q 'backing file: base.qcow2'; then
    ok "convert/backing"
else
    fail "convert/backing" "$(cat o1 o2 | head -c 300)"
fi
# -n onto an existing dirty target
"$REF_QIMG" create -q -f qcow2 n.qcow2 24M
"$REF_QIO" -c 'write -P 9 0 24M' n.qcow2 >/dev/null
if $QIMG convert -n -O qcow2 top.qcow2 n.qcow2 && "$REF_QIMG" compare top.qcow2 n.qcow2 >o1 &&
    "$REF_QIMG" check n.qcow2 >/dev/null; then
    ok "convert/-n"
else
    fail "convert/-n" "$(head -c 300 o1)"
fi
# multiple sources are concatenated
"$REF_QIMG" create -q -f raw s1.raw 1M
"$REF_QIO" -f raw -c 'write -P 5 0 1M' s1.raw >/dev/null
$QIMG convert -O raw s1.raw mix.raw cat1.raw
"$REF_QIMG" convert -O raw s1.raw mix.raw cat2.raw
if cmp -s cat1.raw cat2.raw; then ok "convert/concat"; else fail "convert/concat" "differs"; fi
# progress output shape
$QIMG convert -p -O qcow2 mix.raw p.qcow2 >prog
if head -c 20 prog | grep -q '^    (0.00/100%)' && tail -c 20 prog | grep -q '(100.00/100%)'; then
    ok "convert/progress"
else
    fail "convert/progress" "$(od -c prog | head -2)"
fi

# resize
while IFS='|' read -r name fmt size args; do
    [ -z "$name" ] && continue
    rm -f r1 r2
    "$REF_QIMG" create -q -f $fmt r1 $size
    "$REF_QIO" -f $fmt -c 'write -P 7 0 9M' r1 >/dev/null 2>&1
    cp r1 r2
    $QIMG resize -f $fmt r1 $args >o1 2>&1
    echo "rc=$?" >>o1
    "$REF_QIMG" resize -f $fmt r2 $args >o2 2>&1
    echo "rc=$?" >>o2
    sed -i 's/\br2\b/r1/g' o2
    if ! cmp -s o1 o2; then
        fail "resize/$name" "output: $(head -c 300 o1) | want $(head -c 300 o2)"
    elif ! cmp -s r1 r2; then
        fail "resize/$name" "image differs"
    else
        ok "resize/$name"
    fi
done <<'CASES'
grow|qcow2|16M|+1M
grow-abs|qcow2|16M|100G
grow-prealloc|qcow2|16M|--preallocation=metadata 32M
grow-raw|raw|16M|+1M
shrink-refused|qcow2|16M|1000
shrink|qcow2|16M|--shrink 8M
shrink-raw|raw|16M|--shrink 1000
shrink-odd|qcow2|16M|--shrink 8000
negative|qcow2|16M|-- -100M
bad-size|qcow2|16M|foo
quiet|qcow2|16M|-q 20M
CASES

# map and compare
cp top.qcow2 top2.qcow2
"$REF_QIO" -c 'write -P 6 5M 1' top2.qcow2 >/dev/null
"$REF_QIMG" create -q -f qcow2 big.qcow2 25M
for cmd in "map top.qcow2" "map --output=json top.qcow2" "map --output=json base.qcow2" \
    "map --output=json --start-offset=1M --max-length=3M top.qcow2" "map -f raw mix.raw" \
    "map --output=json -f raw mix.raw" "map --output=json c1" "compare top.qcow2 top.qcow2" \
    "compare top.qcow2 top2.qcow2" "compare -s top.qcow2 top2.qcow2" "compare base.qcow2 top.qcow2" \
    "compare top.qcow2 big.qcow2" "compare -s top.qcow2 big.qcow2" "compare -q top.qcow2 top2.qcow2" \
    "compare top.qcow2 nonexistent" "compare -f raw mix.raw -F qcow2 c1"; do
    $QIMG $cmd >o1 2>&1
    echo "rc=$?" >>o1
    "$REF_QIMG" $cmd >o2 2>&1
    echo "rc=$?" >>o2
    expect_same "img/$cmd" o1 o2
done
# -n onto a target smaller than the source (a qcow2 file taken as raw, a smaller image)
both convert/n-small '$QI create -q -f qcow2 x.qcow2 1M' '$QI create -q -f qcow2 s.qcow2 512K' \
    '$QI convert -n x.qcow2 s.qcow2' '$QI convert -n -O qcow2 x.qcow2 s.qcow2'
finish
