#!/bin/bash
# What guests read through a backing file after convert -B and discard, beside QEMU 7.2: zeros
# written as data in an overlay must stay zeros (not let the backing file's data through), and
# a v2 image (no zero flag) must keep clusters a discard would expose. Same bytes, output, exit
# codes, and QEMU's check of every image.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip backing-data "real qemu-img not installed"; exit 0; fi
chk='for f in *.qcow2; do $QI check -q $f || echo "check $f: $?"; done'
# base 0x55, overlay with zeros written as data over half of it and 0x11 elsewhere
mk() { # $1 = create options of both
    echo "\$QI create -q -f qcow2 ${1:+-o $1} b.qcow2 1M && \$QO -c 'write -q -P 0x55 0 1M' b.qcow2 &&
        \$QI create -q -f qcow2 ${1:+-o $1} -b b.qcow2 -F qcow2 o.qcow2 &&
        \$QO -c 'write -q -P 0 0 512k' -c 'write -q -P 0x11 512k 256k' -c 'write -q -z 768k 64k' o.qcow2"
}
cmpo='$QI compare o.qcow2 c.qcow2; $QO -c "read -q -P 0 0 512k" -c "read -q -P 0x11 512k 256k" -c "read -q -P 0 768k 64k" -c "read -q -P 0x55 832k 192k" c.qcow2'
for o in "" compat=0.10 extended_l2=on cluster_size=4096; do
    for a in "-c" "" "-c -S 0" "-S 0" "-c -S 64k"; do
        both "convert-B/${o:-default}/${a:-plain}" "$(mk "$o")" \
            "\$QI convert $a -O qcow2 ${o:+-o $o} -B b.qcow2 -F qcow2 o.qcow2 c.qcow2" "$cmpo" "$chk"
    done
done
# -o backing_file= is -B too
both convert-B/o-backing-file "$(mk)" \
    '$QI convert -c -O qcow2 -o backing_file=b.qcow2,backing_fmt=qcow2 o.qcow2 c.qcow2' "$cmpo" "$chk"
# -n into an existing overlay
both convert-B/n "$(mk)" '$QI create -q -f qcow2 -b b.qcow2 -F qcow2 c.qcow2' \
    '$QI convert -n -c -O qcow2 -B b.qcow2 -F qcow2 o.qcow2 c.qcow2' "$cmpo" "$chk"
# compressed clusters of zeros in the source
both convert-B/compressed-zeros "$(mk)" '$QO -c "write -q -c -P 0 896k 64k" o.qcow2' \
    '$QI convert -c -O qcow2 -B b.qcow2 -F qcow2 o.qcow2 c.qcow2' '$QI compare o.qcow2 c.qcow2' "$chk"
# convert -c of concatenated inputs whose sizes are not cluster multiples: the clusters that
# span two inputs are compressed whole
both convert-c/concat 'head -c 1047552 /dev/zero | tr "\0" "\1" > a.raw; head -c 1047552 /dev/zero | tr "\0" "\2" > b.raw' \
    'echo "hello" >> b.raw; truncate -s 1047552 b.raw' \
    '$QI convert -c -O qcow2 a.raw b.raw c.qcow2' 'cat a.raw b.raw > ab.raw; $QI compare -F raw c.qcow2 ab.raw' \
    '$QI convert -c -O qcow2 -o cluster_size=4096 b.raw a.raw b.raw d.qcow2' "$chk"

# discard on v2 with a backing file leaves the clusters (QEMU refuses it quietly)
for o in compat=0.10 compat=1.1 compat=1.1,extended_l2=on; do
    both "discard/${o}" "\$QI create -q -f qcow2 -o $o b.qcow2 1M" '$QO -c "write -q -P 0x55 0 1M" b.qcow2' \
        "\$QI create -q -f qcow2 -o $o -b b.qcow2 -F qcow2 o.qcow2" '$QO -c "write -q -P 0x22 0 1M" o.qcow2' \
        '$QO -c "discard 0 512k" -c "discard 960k 64k" -c "write -z -u 512k 64k" o.qcow2' \
        '$QO -c "read -q -v 0 16" -c "read -q -v 520k 16" -c "read -q -v 1000k 16" -c map o.qcow2' "$chk"
done
both discard/v2-no-backing '$QI create -q -f qcow2 -o compat=0.10 o.qcow2 1M' \
    '$QO -c "write -q -P 0x22 0 1M" -c "discard 0 512k" -c "read -q -P 0 0 512k" -c map o.qcow2' "$chk"
finish
