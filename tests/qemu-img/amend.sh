#!/bin/bash
# qemu-img amend beside QEMU 7.2: a sequence of amendments applied to both copies; messages,
# exit codes and image bytes must stay identical.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip amend "real qemu-img not installed"; exit 0; fi

seq_test() { # NAME SETUP-OPTS BACKING(yes|no) OPTIONS...
    local name=$1 copts=$2 backing=$3
    shift 3
    rm -f ./*.qcow2
    if [ "$backing" = yes ]; then
        "$REF_QIMG" create -q -f qcow2 base.qcow2 4M
        "$REF_QIMG" create -q -f qcow2 $copts -b base.qcow2 -F qcow2 r.qcow2
    else
        "$REF_QIMG" create -q -f qcow2 $copts r.qcow2 4M
    fi
    "$REF_QIO" -c 'write -P 1 0 64k' -c 'write -z 1M 128k' -c 'write -z 3M 4k' r.qcow2 >/dev/null
    cp r.qcow2 o.qcow2
    local o
    for o in "$@"; do
        "$REF_QIMG" amend ${o:+-o "$o"} r.qcow2 >r.out 2>&1
        echo "rc=$?" >>r.out
        $QIMG amend ${o:+-o "$o"} o.qcow2 >o.out 2>&1
        echo "rc=$?" >>o.out
        if ! cmp -s r.out o.out; then
            fail "amend/$name/$o" "$(tr '\n' '|' <o.out) want $(tr '\n' '|' <r.out)"
        elif ! cmp -s r.qcow2 o.qcow2; then
            fail "amend/$name/$o" "image differs: $(cmp r.qcow2 o.qcow2 2>&1)"
        else
            ok "amend/$name/$o"
        fi
    done
}
seq_test default "" no compat=0.10 compat=1.1 lazy_refcounts=on compat=0.10 lazy_refcounts=off \
    cluster_size=4k foo=1 backing_file=x backing_file=x,backing_fmt=qcow2 size=8M size=2M \
    refcount_bits=8 compat=0.10 compat=2 lazy_refcounts=on compat=v3 lazy_refcounts=on \
    lazy_refcounts=off "" refcount_bits=3 size=1G
seq_test backing "" yes compat=0.10 compat=1.1 backing_file=base.qcow2,backing_fmt=qcow2 \
    backing_fmt=raw
seq_test small "-o cluster_size=512" no compat=0.10 lazy_refcounts=on compat=1.1 size=5M
# refcount_bits changes: our own layout (new structure past the end), so content + real check
for seq in "1 16" "8 64 2 16" "32 4" "64 1"; do
    rm -f t.qcow2
    "$REF_QIMG" create -q -f qcow2 -o cluster_size=4096 t.qcow2 64M
    "$REF_QIO" -c 'write -P 1 0 3M' -c 'write -P 2 40M 1M' t.qcow2 >/dev/null
    good=yes
    for b in $seq; do
        $QIMG amend -o refcount_bits=$b t.qcow2 >o.out 2>&1 || good="amend $b: $(cat o.out)"
        [ "$good" = yes ] || break
        "$REF_QIMG" check -q t.qcow2 >/dev/null 2>&1 || { good="check after $b"; break; }
        [ "$("$REF_QIMG" info t.qcow2 | sed -n 's/.*refcount bits: //p')" = $b ] ||
            { good="width after $b"; break; }
        "$REF_QIO" -r -c 'read -P 1 0 3M' -c 'read -P 2 40M 1M' -c 'read -P 0 3M 37M' t.qcow2 \
            >rd 2>&1 && ! grep -q verification rd || { good="read after $b"; break; }
    done
    if [ "$good" = yes ]; then ok "amend/refcount_bits/$seq"; else fail "amend/refcount_bits/$seq" "$good"; fi
done
"$REF_QIMG" create -q -f qcow2 t.qcow2 4M
"$REF_QIMG" snapshot -c s t.qcow2
"$REF_QIMG" amend -o refcount_bits=1 t.qcow2 >r.out 2>&1
echo "rc=$?" >>r.out
$QIMG amend -o refcount_bits=1 t.qcow2 >o.out 2>&1
echo "rc=$?" >>o.out
expect_same amend/refcount_bits/too-narrow r.out o.out

$QIMG create -q -f raw r.raw 1M
$QIMG amend -o size=2M r.raw >o.out 2>&1
if [ $? = 1 ] && grep -q "Format driver 'raw' does not support option amendment" o.out; then
    ok amend/raw
else
    fail amend/raw "$(cat o.out)"
fi
# -p prints QEMU's steps (an upgrade has two: snapshot table, header)
both amend/progress '$QI create -q -f qcow2 -o compat=0.10 x.qcow2 4M' \
    '$QI amend -p -o compat=1.1 x.qcow2 | od -c' '$QI amend -p -o compat=0.10 x.qcow2 | od -c' \
    '$QI amend -p -o lazy_refcounts=on x.qcow2 | od -c'
finish
