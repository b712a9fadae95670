#!/bin/bash
# resize beside QEMU 7.2: what guests read after growing or shrinking an image (above all an
# overlay over a longer backing file, which must read zeros in the new area, not the backing
# file's data), the image bytes and QEMU's check of them.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip resize "real qemu-img not installed"; exit 0; fi
# base B.qcow2 of 2M filled with 0x55 (o = its create options)
base() { echo "\$QI create -q -f qcow2 ${1:+-o $1} b.qcow2 2M && \$QO -c 'write -q -P 0x55 0 2M' b.qcow2"; }
rd='$QO -c "read -q -P 0x55 0 1M" -c "map" o.qcow2; $QO -c "read -q -v 1040384 16384" o.qcow2 | md5sum; $QO -c "read -q -P 0 1M 1M" o.qcow2; $QI check o.qcow2'
for o in "" compat=0.10 extended_l2=on cluster_size=4096 extended_l2=on,cluster_size=1M; do
    for p in off metadata falloc full; do
        # 1: grow an overlay (aligned old size) whose backing file is longer
        both "resize/grow-over-backing/${o:-default}/$p" "$(base)" \
            "\$QI create -q -f qcow2 ${o:+-o $o} -b b.qcow2 -F qcow2 o.qcow2 1M" \
            "\$QI resize --preallocation=$p o.qcow2 2M" "$rd"
        # 2: the old size ends inside a cluster: the backing data before it stays, zeros after
        both "resize/unaligned-over-backing/${o:-default}/$p" "$(base)" \
            "\$QI create -q -f qcow2 ${o:+-o $o} -b b.qcow2 -F qcow2 o.qcow2 1025k" \
            "\$QI resize --preallocation=$p o.qcow2 2M" \
            '$QO -c "read -q -P 0x55 0 1025k" -c "read -q -P 0 1025k 1023k" o.qcow2' "$rd"
    done
    # 3: shrink, then grow within the same cluster: the old data must not come back
    both "resize/shrink-grow/${o:-default}" "$(base)" \
        "\$QI create -q -f qcow2 ${o:+-o $o} -b b.qcow2 -F qcow2 o.qcow2 2M" \
        '$QO -c "write -q -P 0x11 0 2M" o.qcow2' '$QI resize -q --shrink o.qcow2 1000k' \
        '$QI resize o.qcow2 1M' '$QO -c "read -q -P 0x11 0 1000k" -c "read -q -P 0 1000k 24k" o.qcow2' \
        '$QI resize o.qcow2 2M' '$QO -c "read -q -P 0 1000k 1048k" o.qcow2' "$rd"
done
# the backing file shorter than the old size: nothing to hide, plain growth
both resize/shorter-backing "\$QI create -q -f qcow2 b.qcow2 512k" '$QO -c "write -q -P 0x55 0 512k" b.qcow2' \
    '$QI create -q -f qcow2 -b b.qcow2 -F qcow2 o.qcow2 1M' '$QI resize o.qcow2 2M' "$rd"
# a compressed partial last cluster, and a zero-flagged one, grown with metadata preallocation
both resize/compressed-tail "$(base)" '$QI create -q -f qcow2 -b b.qcow2 -F qcow2 o.qcow2 1025k' \
    '$QO -c "write -q -c -P 0x33 960k 64k" o.qcow2' '$QI resize --preallocation=metadata o.qcow2 2M' \
    '$QO -c "read -q -P 0x33 960k 65k" -c "read -q -P 0 1025k 1023k" o.qcow2' "$rd"
both resize/zero-tail "$(base)" '$QI create -q -f qcow2 -b b.qcow2 -F qcow2 o.qcow2 1025k' \
    '$QO -c "write -q -z 960k 65k" o.qcow2' '$QI resize --preallocation=metadata o.qcow2 2M' \
    '$QO -c "read -q -P 0 960k 1088k" o.qcow2' "$rd"
# external data file (raw and not)
for r in off on; do
    both "resize/data-file-raw-$r" "$(base)" "rm -f o.data" \
        "\$QI create -q -f qcow2 -o data_file=o.data,data_file_raw=$r -b b.qcow2 -F qcow2 o.qcow2 1M" \
        '$QI resize o.qcow2 2M' "$rd" '[ ! -e o.data ] || md5sum < o.data'
done
# qemu-io's truncate goes the same way
both resize/qemu-io-truncate "$(base)" '$QI create -q -f qcow2 -b b.qcow2 -F qcow2 o.qcow2 1025k' \
    '$QO -c "truncate 2M" o.qcow2' "$rd"
finish
