#!/bin/bash
# qemu-img -p beside QEMU 7.2: convert and rebase print the same meter byte for byte (values,
# skipped steps, the final newline, and the 0% line before failures); commit (QEMU's runs several
# requests at once, so which values it shows varies) prints each value QEMU may show, in order.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip progress "real qemu-img not installed"; exit 0; fi

# images, made by the real tools: an overlay over a smaller 4 KiB-cluster base, a raw file
"$REF_QIMG" create -q -f qcow2 -o cluster_size=4096 b.qcow2 12M
"$REF_QIO" -c 'write -P 0x55 0 3M' -c 'write -P 0x11 7M 4M' b.qcow2 >/dev/null
"$REF_QIMG" create -q -f qcow2 -b b.qcow2 -F qcow2 o.qcow2 14M
"$REF_QIO" -c 'write -P 0x66 1M 3M' -c 'write -z 8M 1M' -c 'write -P 7 12M 64k' o.qcow2 >/dev/null
"$REF_QIMG" create -q -f raw r.raw 5M
"$REF_QIO" -f raw -c 'write -P 3 100k 1M' -c 'write -P 4 3M 1M' r.raw >/dev/null
"$REF_QIMG" create -q -f qcow2 n.qcow2 12M
"$REF_QIO" -c 'write -P 0x55 0 2M' -c 'write -P 0x77 9M 1M' n.qcow2 >/dev/null

# same NAME CMD: CMD (eval, $T = the qemu-img to use) in fresh copies of the images
same() {
    local name=$1 d
    for d in r o; do
        rm -rf "$d" && mkdir "$d" && cp ./*.qcow2 ./*.raw "$d"/
    done
    (cd r && T=$REF_QIMG && eval "$2") >r.out 2>&1
    echo "rc=$?" >>r.out
    (cd o && T=$QIMG && eval "$2") >o.out 2>&1
    echo "rc=$?" >>o.out
    if cmp -s r.out o.out; then
        ok "progress/$name"
    else
        fail "progress/$name" "$(diff <(od -c r.out) <(od -c o.out) | head -4 | tr '\n' '|')"
    fi
}
same convert '$T convert -p -O qcow2 o.qcow2 x.qcow2'
same convert-S0 '$T convert -p -S 0 -O raw o.qcow2 x.raw'
same convert-c '$T convert -p -c -O qcow2 -o cluster_size=16k o.qcow2 x.qcow2'
same convert-B '$T convert -p -O qcow2 -B b.qcow2 -F qcow2 o.qcow2 x.qcow2'
same convert-concat '$T convert -p -O qcow2 r.raw o.qcow2 x.qcow2'
same convert-missing '$T convert -p -O qcow2 nosuch.qcow2 x.qcow2'
same convert-format '$T convert -p -O nosuch o.qcow2 x.qcow2'
same convert-F '$T convert -p -O raw -F qcow2 o.qcow2 x.raw'
same rebase '$T rebase -p -b n.qcow2 -F qcow2 o.qcow2'
same rebase-u '$T rebase -p -u -b n.qcow2 -F qcow2 o.qcow2'
same rebase-nofmt '$T rebase -p -b n.qcow2 o.qcow2'
same commit-none '$T commit -p n.qcow2'

# commit: QEMU's values (repeats dropped) must appear, in order, among ours; ours are fixed
mkdir c
"$REF_QIMG" create -q -f qcow2 c/cb.qcow2 8M
"$REF_QIMG" create -q -f qcow2 -b cb.qcow2 -F qcow2 c/ct.qcow2 8M
"$REF_QIO" -c 'write -P 1 1M 3M' -c 'write -z 4M 4M' c/ct.qcow2 >/dev/null
cp c/cb.qcow2 c/cb0 && cp c/ct.qcow2 c/ct0
values() { tr '\r' '\n' | uniq | tr '\n' ' '; }
(cd c && "$REF_QIMG" commit -p ct.qcow2) | values >r.out
cp c/cb0 c/cb.qcow2 && cp c/ct0 c/ct.qcow2
(cd c && "$QIMG" commit -p ct.qcow2) | values >o.out
if python3 - r.out o.out <<'PY'; then
import re, sys
r, o = (re.findall(r'\(([0-9.]+)/100%\)', open(p).read()) for p in sys.argv[1:3])
it = iter(o)
ours = ['0.00', '57.14', '71.43', '85.71', '100.00']  # the zeroing ends first, then each 1 MiB
ok = o == ours and all(v in it for v in r)
sys.exit(0 if ok and 'Image committed.' in open(sys.argv[2]).read() else 1)
PY
    ok progress/commit
else
    fail progress/commit "QEMU: $(cat r.out) ours: $(cat o.out)"
fi
finish
