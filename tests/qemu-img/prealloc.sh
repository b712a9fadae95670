#!/bin/bash
# preallocation=falloc|full beside QEMU 7.2: create and resize --preallocation lay out the new
# refcount structures, data clusters and L2 tables as QEMU does (same bytes).
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip prealloc "real qemu-img not installed"; exit 0; fi
for o in "" cluster_size=512 cluster_size=4096,refcount_bits=1 cluster_size=4096,refcount_bits=64 \
    extended_l2=on compat=0.10 cluster_size=2M cluster_size=512,refcount_bits=2; do
    size=64M
    case "$o" in "" | cluster_size=2M) size=1G ;; esac
    both "prealloc/falloc/${o:-default}" "\$QI create -q -f qcow2 -o preallocation=falloc${o:+,$o} x.qcow2 $size" \
        '$QI check x.qcow2'
    both "prealloc/full/${o:-default}" "\$QI create -q -f qcow2 -o preallocation=full${o:+,$o} x.qcow2 20M" \
        '$QI map --output=json x.qcow2'
done
both prealloc/resize '$QI create -q -f qcow2 x.qcow2 10M' '$QO -c "write -P 1 0 3M" x.qcow2' \
    '$QI resize --preallocation=falloc x.qcow2 100M' '$QI resize --preallocation=full x.qcow2 +7M' \
    '$QI resize --preallocation=metadata x.qcow2 +100M' '$QI resize --preallocation=falloc x.qcow2 +100000' \
    '$QI check x.qcow2' '$QO -c "read -P 1 0 3M" x.qcow2'
both prealloc/backing '$QI create -q -f qcow2 b.qcow2 10M' \
    '$QI create -q -f qcow2 -o extended_l2=on,preallocation=falloc -b b.qcow2 -F qcow2 x.qcow2' \
    '$QI create -q -f qcow2 -o preallocation=falloc -b b.qcow2 -F qcow2 y.qcow2' '$QI check x.qcow2'
# Refcount structures grown by writes, as QEMU: a data run that needs a new refcount block is
# placed where it was found (the search restarts there), and a refcount table too small for a
# new block is replaced by a bigger one (room to grow) right after the area the blocks cover.
both refcount/grow-write '$QI create -q -f qcow2 -o cluster_size=512 x.qcow2 64M' \
    '$QO -c "write -P 1 0 20M" -c "write -P 2 40M 1M" -c "write -P 3 63M 1M" x.qcow2' \
    '$QI check x.qcow2'
both refcount/grow-convert '$QI create -q -f qcow2 s.qcow2 8M' '$QO -c "write -P 1 0 1M" s.qcow2' \
    '$QI convert -O qcow2 -o cluster_size=512,compat=0.10 -S 0 s.qcow2 x.qcow2' \
    '$QI check x.qcow2'
finish
