#!/bin/bash
# qemu-img create: byte-identical images and identical "Formatting" lines vs QEMU 7.2.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip create "real qemu-img not installed"; exit 0; fi

"$REF_QIMG" create -f qcow2 base.qcow2 64M >/dev/null
"$REF_QIMG" create -f raw base.raw 10M >/dev/null
while IFS='|' read -r name opts size; do
    [ -z "$name" ] && continue
    rm -f ours.img ref.img
    $QIMG create $opts ours.img $size >out1 2>&1
    rc1=$?
    "$REF_QIMG" create $opts ref.img $size >out2 2>&1
    rc2=$?
    sed -i 's/ref\.img/ours.img/g' out2
    if [ $rc1 != $rc2 ]; then
        fail "create/$name" "rc $rc1 != $rc2: $(head -c 200 out1)"
    elif ! cmp -s out1 out2; then
        fail "create/$name" "output: $(head -c 300 out1) | want $(head -c 300 out2)"
    elif [ $rc1 = 0 ] && ! sparse_cmp ours.img ref.img; then
        fail "create/$name" "image differs: $(cmp ours.img ref.img 2>&1 | head -1)"
    else
        ok "create/$name"
    fi
done <<'CASES'
default-1G|-f qcow2|1G
size0|-f qcow2|0
size1000|-f qcow2|1000
64M|-f qcow2|64M
100G|-f qcow2|100G
2T|-f qcow2|2T
v2|-f qcow2 -o compat=0.10|1M
v2-alias|-f qcow2 -o compat=v2|1M
v3-alias|-f qcow2 -o compat=v3|1M
cs512|-f qcow2 -o cluster_size=512|1M
cs1k-rb2|-f qcow2 -o cluster_size=1024,refcount_bits=2|8M
cs4k|-f qcow2 -o cluster_size=4096|1M
cs8k|-f qcow2 -o cluster_size=8k|1M
cs2M|-f qcow2 -o cluster_size=2M|1G
rb1|-f qcow2 -o refcount_bits=1|1M
rb8|-f qcow2 -o refcount_bits=8|1M
rb32|-f qcow2 -o refcount_bits=32|1M
rb64|-f qcow2 -o refcount_bits=64|1M
lazy|-f qcow2 -o lazy_refcounts=on|1M
lazy-true|-f qcow2 -o lazy_refcounts=true,size=2M,cluster_size=4k|
prealloc-meta|-f qcow2 -o preallocation=metadata|64M
prealloc-meta-10G|-f qcow2 -o preallocation=metadata|10G
prealloc-meta-odd|-f qcow2 -o preallocation=metadata,cluster_size=4096|1000000
prealloc-meta-v2|-f qcow2 -o preallocation=metadata,compat=0.10|70M
prealloc-meta-rb1|-f qcow2 -o preallocation=metadata,cluster_size=512,refcount_bits=1|4M
prealloc-off|-f qcow2 -o preallocation=off|1M
backing|-f qcow2 -b base.qcow2 -F qcow2|
backing-size|-f qcow2 -b base.qcow2 -F qcow2|128M
backing-v2|-f qcow2 -b base.qcow2 -F qcow2 -o compat=0.10|
backing-raw|-f qcow2 -b base.raw -F raw -o cluster_size=4096|
backing-opts|-f qcow2 -o backing_file=base.qcow2,backing_fmt=qcow2,cluster_size=512|
backing-u|-f qcow2 -u -b nonexistent -F qcow2|1M
raw|-f raw|1M
raw-odd|-f raw|1000
raw-default|-q|1M
quiet|-q -f qcow2|1M
err-no-size|-f qcow2|
err-bad-size|-f qcow2|1Q
err-size-range|-f qcow2|9E
err-fmt|-f foo|1M
err-param|-f qcow2 -o foo=1|1M
err-cluster|-f qcow2 -o cluster_size=1000|1M
err-compat|-f qcow2 -o compat=0.9|1M
err-rb|-f qcow2 -o refcount_bits=3|1M
err-v2-rb|-f qcow2 -o compat=0.10,refcount_bits=8|1M
err-prealloc|-f qcow2 -o preallocation=foo|1M
err-bool|-f qcow2 -o lazy_refcounts=foo|1M
err-backing-nofmt|-f qcow2 -b base.qcow2|
err-backing-missing|-f qcow2 -b nonexistent -F qcow2|1M
err-extra|-f qcow2|1M extra
CASES
finish
