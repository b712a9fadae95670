#!/bin/bash
# qemu-img dd and bench beside QEMU 7.2: same messages and exit codes, same output images.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip ddbench "real qemu-img not installed"; exit 0; fi

"$REF_QIMG" create -q -f qcow2 d.qcow2 1M
"$REF_QIO" -c 'write -P 5 0 100k' -c 'write -P 6 700k 3k' d.qcow2 >/dev/null
while read -r a; do
    [ -z "$a" ] && continue
    rm -rf r o
    mkdir r o
    (cd r && eval "\"$REF_QIMG\" dd $a" >../r.out 2>&1; echo "rc=$?" >>../r.out)
    (cd o && eval "\"$QIMG\" dd $a" >../o.out 2>&1; echo "rc=$?" >>../o.out)
    if ! cmp -s r.out o.out; then
        fail "dd/$a" "$(tr '\n' '|' <o.out) want $(tr '\n' '|' <r.out)"
    elif [ "$(ls r)" != "$(ls o)" ]; then
        fail "dd/$a" "files: $(ls o) want $(ls r)"
    else
        bad=
        for f in r/*; do
            [ -e "$f" ] || continue
            cmp -s "$f" "o/${f#r/}" || bad="${f#r/} differs"
        done
        if [ -n "$bad" ]; then fail "dd/$a" "$bad"; else ok "dd/$a"; fi
    fi
done <<'CASES'
if=../d.qcow2 of=x1 bs=4k count=10 skip=2
-O qcow2 if=../d.qcow2 of=x2 bs=64k
if=../d.qcow2 of=x3
-f qcow2 -O raw if=../d.qcow2 of=x3 bs=3000
-O qcow2 if=../d.qcow2 of=x4 bs=1k count=3 skip=1
if=../d.qcow2
of=x
if=../d.qcow2 of=x bs=0
if=../d.qcow2 of=x foo=1
if=../d.qcow2 of=x junk
if=../d.qcow2 of=x1 skip=5000
if=../d.qcow2 of=x2 count=0
if=nope of=x3
if=../d.qcow2 of=x7 bs=1k count=abc
-O foo if=../d.qcow2 of=x8
CASES

"$REF_QIMG" create -q -f qcow2 b.qcow2 64M
while read -r a; do
    [ -z "$a" ] && continue
    cp b.qcow2 r.qcow2
    cp b.qcow2 o.qcow2
    eval "\"$REF_QIMG\" bench $a r.qcow2" 2>&1 | sed 's/in [0-9.]* sec/in X sec/' >r.out
    eval "\"$QIMG\" bench $a o.qcow2" 2>&1 | sed 's/in [0-9.]* sec/in X sec/; s/o\.qcow2/r.qcow2/' >o.out
    if ! cmp -s r.out o.out; then
        fail "bench/$a" "$(tr '\n' '|' <o.out) want $(tr '\n' '|' <r.out)"
    elif ! "$REF_QIMG" compare -q r.qcow2 o.qcow2 || ! "$REF_QIMG" check -q o.qcow2; then
        fail "bench/$a" "image content or check"
    else
        ok "bench/$a"
    fi
done <<'CASES'
-c 1000 -w
-q -c 100
-c 100 -d 4 -s 64k -S 128k -o 1M --flush-interval=10 -w
-c 10 -i native
-c 10 -i native -t none
-c 10 -i foo
-c 0
--pattern=3 -c 10 -w
-n -c 10 -t none
-c 2000 -w -S 12345k --pattern=7
-c 10 --flush-interval=10
-c 10 -w --flush-interval=2
-c x
-c 5 -s 1G
CASES

# convert -m N / -W: a reader thread keeps up to N chunks in flight; the target must be the same
# bytes as QEMU's (without -W, which makes QEMU's layout vary; ours stay in order)
python3 - <<'PY'
import os
mib = 1 << 20
with open("mix.raw", "wb") as f:
    f.truncate(24 * mib)
    for i in range(0, 24, 3):
        f.seek(i * mib)
        f.write(os.urandom(mib) + bytes(300 << 10) + os.urandom(5000))
PY
for a in "-m 1" "-m 16 -W" "-W" "-m 4 -S 0" "-m 3 -c"; do
    rm -f r.qcow2 o.qcow2
    "$REF_QIMG" convert $a -f raw -O qcow2 mix.raw r.qcow2 >r.out 2>&1
    $QIMG convert $a -f raw -O qcow2 mix.raw o.qcow2 >o.out 2>&1
    if ! cmp -s r.out o.out; then
        fail "convert-parallel/$a" "$(tr '\n' '|' <o.out)"
    elif [[ "$a" != *-c* && "$a" != *-W* ]] && ! cmp -s r.qcow2 o.qcow2; then
        fail "convert-parallel/$a" "target differs from QEMU's"
    elif ! "$REF_QIMG" compare -q -f raw mix.raw o.qcow2; then
        fail "convert-parallel/$a" "content differs"
    else
        ok "convert-parallel/$a"
    fi
done
for a in "-m 0" "-m 17" "-m x"; do
    "$REF_QIMG" convert $a -O qcow2 mix.raw r.qcow2 >r.out 2>&1
    echo "rc=$?" >>r.out
    $QIMG convert $a -O qcow2 mix.raw r.qcow2 >o.out 2>&1
    echo "rc=$?" >>o.out
    expect_same "convert-parallel/$a" r.out o.out
done
finish
