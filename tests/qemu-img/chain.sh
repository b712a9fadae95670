#!/bin/bash
# qemu-img commit, rebase and measure beside QEMU 7.2: same messages, exit codes and (where
# QEMU's result is deterministic) the same image bytes; results clean under real check.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip chain "real qemu-img not installed"; exit 0; fi

mkdir r o
# QEMU's commit copies with several requests in flight, so its base's layout varies from run to
# run: commit cases compare content, cleanliness and backing names ("no"), the others bytes.
# chain in DIR: base (4M) <- mid <- top (8M)
mk() {
    (
        cd "$1" && rm -f ./* &&
            "$REF_QIMG" create -q -f qcow2 base.qcow2 4M &&
            "$REF_QIO" -c 'write -P 1 0 1M' base.qcow2 &&
            "$REF_QIMG" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 &&
            "$REF_QIO" -c 'write -P 2 512k 1M' -c 'write -P 0 2M 4k' mid.qcow2 &&
            "$REF_QIMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 8M &&
            "$REF_QIO" -c 'write -P 3 3M 1M' -c 'write -z 0 64k' top.qcow2 &&
            "$REF_QIMG" create -q -f raw other.raw 2M &&
            "$REF_QIO" -f raw -c 'write -P 9 1M 100k' other.raw
    ) >/dev/null 2>&1
}
# run NAME IDENTICAL CMD...: CMD in r/ with QEMU and o/ with ours; compare
run() {
    local name=$1 identical=$2
    shift 2
    mk r
    mk o
    (cd r && eval "\"$REF_QIMG\" $*" >../r.out 2>&1; echo "rc=$?" >>../r.out)
    (cd o && eval "\"$QIMG\" $*" >../o.out 2>&1; echo "rc=$?" >>../o.out)
    local f bad=
    if ! cmp -s <(tr '\r' '\n' <r.out | grep -v '^    (') <(tr '\r' '\n' <o.out | grep -v '^    ('); then
        fail "$name" "output: $(head -c 300 o.out) | want $(head -c 300 r.out)"
        return
    fi
    for f in base mid top; do
        if [ "$identical" = yes ]; then
            cmp -s r/$f.qcow2 o/$f.qcow2 || bad="$f.qcow2 bytes differ"
        elif ! (cd o && "$REF_QIMG" compare -q $f.qcow2 ../r/$f.qcow2 >/dev/null 2>&1); then
            bad="$f.qcow2 content differs"
        elif ! "$REF_QIMG" check -q o/$f.qcow2 >/dev/null 2>&1; then
            bad="$f.qcow2 not clean"
        elif [ "$(cd o && "$REF_QIMG" info -U $f.qcow2 | grep backing)" != \
            "$(cd r && "$REF_QIMG" info -U $f.qcow2 | grep backing)" ]; then
            bad="$f.qcow2 backing differs"
        fi
    done
    if [ -n "$bad" ]; then fail "$name" "$bad"; else ok "$name"; fi
}

run commit/default no commit top.qcow2
run commit/-d no commit -d top.qcow2
run commit/-q-p no commit -q -p top.qcow2
run commit/-b-mid no commit -b mid.qcow2 top.qcow2
run commit/-b-base no commit -b base.qcow2 top.qcow2
run commit/-b-missing yes commit -b nope top.qcow2
run commit/no-backing yes commit base.qcow2
run commit/mid no commit mid.qcow2

# commit as QEMU's mirror job: the base keeps its own backing file (partial-cluster copy-on-write
# reads it; growing the base zeroes the area it would show, and a v2 base cannot be grown so),
# and the base allocates what QEMU's job allocates (whole granules of 4-64 KiB are copied, zeros
# become zero clusters only where whole base clusters are covered). Compared: output, exit code,
# the base's content and its allocation map (host offsets aside: QEMU's copies run in parallel).
# mcase NAME SETUP COMMIT-ARGS: SETUP (shell, with QEMU's tools as $QI/$QO) in r/ and o/
mcase() {
    local name=$1 setup=$2 args=$3 d bad=
    for d in r o; do
        rm -rf $d && mkdir $d
        (cd $d && QI=$REF_QIMG QO=$REF_QIO && eval "$setup") >/dev/null 2>&1
    done
    (cd r && eval "\"$REF_QIMG\" commit $args" >../r.out 2>&1; echo "rc=$?" >>../r.out)
    (cd o && eval "\"$QIMG\" commit $args" >../o.out 2>&1; echo "rc=$?" >>../o.out)
    cmp -s r.out o.out || bad="output: $(head -c 200 o.out) | want $(head -c 200 r.out)"
    (cd o && "$REF_QIMG" compare -q -f qcow2 -F qcow2 m.qcow2 ../r/m.qcow2 >/dev/null 2>&1) ||
        bad="$bad m.qcow2 content differs"
    for d in r o; do
        "$REF_QIMG" map --output=json -f qcow2 $d/m.qcow2 2>&1 | python3 -c '
import json, sys
out = []
for e in json.load(sys.stdin):
    e.pop("offset", None)
    if out and out[-1]["start"] + out[-1]["length"] == e["start"] and \
            dict(out[-1], start=0, length=0) == dict(e, start=0, length=0):
        out[-1]["length"] += e["length"]
    else:
        out.append(e)
print(json.dumps(out, indent=0))' >$d.map
    done
    cmp -s r.map o.map || bad="$bad map: $(diff r.map o.map | head -4 | tr '\n' '|')"
    if [ -n "$bad" ]; then fail "$name" "$bad"; else ok "$name"; fi
}
B='$QI create -q -f raw b.raw 1M && $QO -f raw -c "write -P 85 0 1M" b.raw'
mcase commit/base-backing-cow "$B"' && $QI create -q -f qcow2 -b b.raw -F raw m.qcow2 &&
    $QI create -q -f qcow2 -o cluster_size=4k -b m.qcow2 -F qcow2 t.qcow2 &&
    $QO -c "write -P 1 4k 4k" -c "write -z 72k 4k" t.qcow2' t.qcow2
mcase commit/grow-over-backing "$B"' && $QI create -q -f qcow2 -b b.raw -F raw m.qcow2 128K &&
    $QI create -q -f qcow2 -b m.qcow2 -F qcow2 t.qcow2 1M && $QO -c "write -P 1 0 4k" t.qcow2' t.qcow2
mcase commit/grow-over-backing-v2 "$B"' &&
    $QI create -q -f qcow2 -o compat=0.10 -b b.raw -F raw m.qcow2 128K &&
    $QI create -q -f qcow2 -b m.qcow2 -F qcow2 t.qcow2 1M && $QO -c "write -P 1 0 4k" t.qcow2' t.qcow2
mcase commit/granules '$QI create -q -f qcow2 -o cluster_size=2k m.qcow2 1M &&
    $QI create -q -f qcow2 -o cluster_size=512 -b m.qcow2 -F qcow2 t.qcow2 &&
    $QO -c "write -P 1 6k 1k" -c "write -z 64k 512" -c "write -P 2 1020k 4k" t.qcow2' t.qcow2
mcase commit/big-clusters '$QI create -q -f qcow2 -o cluster_size=128k m.qcow2 1M &&
    $QI create -q -f qcow2 -o cluster_size=4k -b m.qcow2 -F qcow2 t.qcow2 &&
    $QO -c "write -z 0 64k" -c "write -z 256k 256k" -c "write -P 3 600k 4k" t.qcow2' t.qcow2

run rebase/no-b yes rebase top.qcow2
run rebase/missing yes rebase -b nope -F qcow2 top.qcow2
run rebase/no-F yes rebase -b base.qcow2 top.qcow2
run rebase/safe-base yes rebase -b base.qcow2 -F qcow2 top.qcow2
run rebase/safe-raw yes rebase -b other.raw -F raw top.qcow2
run rebase/flatten yes "rebase -b '' top.qcow2"
run rebase/-p yes rebase -p -b base.qcow2 -F qcow2 top.qcow2
run rebase/unsafe yes rebase -u -b zzz -F qcow2 top.qcow2
run rebase/unsafe-no-F yes rebase -u -b zzz top.qcow2
run rebase/unsafe-remove yes rebase -u top.qcow2
run rebase/unsafe-empty yes "rebase -u -b '' mid.qcow2"

# measure: same output and exit code
mkdir m && cd m || exit 1
"$REF_QIMG" create -q -f qcow2 base.qcow2 64M
"$REF_QIO" -c 'write -P 1 0 1M' -c 'write -z 2M 1M' -c 'write -P 2 10M 100k' base.qcow2 >/dev/null
"$REF_QIMG" create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
"$REF_QIO" -c 'write -P 3 512k 1M' top.qcow2 >/dev/null
"$REF_QIMG" convert -O raw top.qcow2 r.raw
"$REF_QIMG" snapshot -c s1 base.qcow2
while read -r a; do
    [ -z "$a" ] && continue
    eval "\"$REF_QIMG\" measure $a" >r.out 2>&1
    echo "rc=$?" >>r.out
    eval "\"$QIMG\" measure $a" >o.out 2>&1
    echo "rc=$?" >>o.out
    expect_same "measure/$a" r.out o.out
done <<'CASES'
--size 10G
--size 10G -O qcow2
--output=json --size 10G -O qcow2
--output=json -O qcow2 top.qcow2
-O qcow2 top.qcow2
-O qcow2 -o cluster_size=512,refcount_bits=1 top.qcow2
-O qcow2 -o preallocation=full top.qcow2
-O qcow2 -o preallocation=metadata top.qcow2
-O qcow2 -o compat=0.10 top.qcow2
--output=json -O qcow2 -o compat=0.10 top.qcow2
-O qcow2 -o backing_file=x r.raw
-O qcow2 r.raw
--output=json -O qcow2 r.raw
r.raw
-O qcow2 -l s1 base.qcow2
-O qcow2 -l snapshot.name=s1 base.qcow2
--output=json --size 1T -O qcow2 -o cluster_size=2M
-O qcow2 --size 100P
-O qcow2 -o extended_l2=on --size 5G
-O qcow2 -o foo=1 --size 1M
-O qcow2 -o cluster_size=3000 --size 1M

--size 1M r.raw
-f raw
--size -1
--output=xml --size 1M
-O qcow2 a b
CASES
finish
