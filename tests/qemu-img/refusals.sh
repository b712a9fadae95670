#!/bin/bash
# Requests QEMU 7.2 refuses get its message and exit code, and leave the files as QEMU leaves
# them (a creation that fails after making its files deletes them).
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip refusals "real qemu-img not installed"; exit 0; fi
img='$QI create -q -f qcow2 a.qcow2 1M && $QI create -q -f qcow2 b.qcow2 1M'
lsf='ls'
both refuse/convert-B-without-F "$img" '$QI convert -O qcow2 -B b.qcow2 a.qcow2 o.qcow2' \
    '$QI convert -O qcow2 -o backing_file=b.qcow2 a.qcow2 o.qcow2' "$lsf"
both refuse/convert-B-several-inputs "$img" '$QI convert -O qcow2 -B b.qcow2 -F qcow2 a.qcow2 b.qcow2 o.qcow2' \
    '$QI convert -O qcow2 -B b.qcow2 a.qcow2 b.qcow2 o.qcow2' \
    '$QI convert -O qcow2 -o backing_file=b.qcow2,backing_fmt=qcow2 a.qcow2 b.qcow2 o.qcow2' "$lsf"
both refuse/convert-c-prealloc "$img" '$QI convert -c -O qcow2 -o preallocation=metadata a.qcow2 o.qcow2' \
    '$QI convert -c -O qcow2 -o preallocation=off a.qcow2 o.qcow2' "$lsf"
both refuse/convert-target-is-zero-backing "$img" '$QI create -q -f qcow2 o.qcow2 1M' \
    '$QI convert -n --target-is-zero -O qcow2 -B b.qcow2 -F qcow2 a.qcow2 o.qcow2'
both refuse/create-size-twice '$QI create -f qcow2 -o size=1M o.qcow2 2M' '$QI create -f qcow2 -o size=1M o.qcow2 1M' \
    '$QI create -f raw -o size=1M o.raw 1M' "$lsf"
both refuse/create-data-file-raw-backing "$img" 'echo x > o.qcow2; echo x > o.data' \
    '$QI create -q -f qcow2 -o data_file=o.data,data_file_raw=on -b b.qcow2 -F qcow2 o.qcow2 1M' "$lsf"
# commit -b: a relative name is relative to the image above it, not to the working directory
chain='mkdir -p sub && cd sub && $QI create -q -f qcow2 base.qcow2 1M && $QI create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 && $QI create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 && $QO -c "write -q -P 7 0 64k" top.qcow2; cd ..'
for b in sub/base.qcow2 ./sub/mid.qcow2 ../sub/base.qcow2 base.qcow2 mid.qcow2 '$PWD/sub/base.qcow2' sub/nosuch.qcow2 top.qcow2; do
    both "refuse/commit-b/$b" "$chain" "\$QI commit -b $b sub/top.qcow2" '$QO -c "read -q -P 7 0 64k" sub/base.qcow2'
done
# names that do not fit in the header cluster
L=$(printf 'd%.0s' {1..200})
long="mkdir -p $L/$L/$L && \$QI create -q -f qcow2 $L/$L/$L/b.qcow2 1M"
both refuse/header-full/create "$long" "\$QI create -q -f qcow2 -o cluster_size=512 -b $L/$L/$L/b.qcow2 -F qcow2 x.qcow2" \
    "\$QI create -q -f qcow2 -o cluster_size=512 -b $L/$L/$L/b.qcow2 -F qcow2 -u y.qcow2 1M" \
    "\$QI create -q -f qcow2 -o cluster_size=512,data_file=$L/$L/$L/d.data z.qcow2 1M" "$lsf; ls $L/$L/$L"
both refuse/header-full/rebase "$long" '$QI create -q -f qcow2 -o cluster_size=512 x.qcow2 1M' \
    "\$QI rebase -u -b $L/$L/$L/b.qcow2 -F qcow2 x.qcow2"
# -o help / ? and option lists
both refuse/option-help 'touch x' '$QI create -f qcow2 -o help' '$QI create -f qcow2 -o ?' \
    '$QI create -f raw -o help' '$QI create -f qcow2 -o help,size=1M x 1M' '$QI create -f qcow2 -o size=1M,? x' \
    '$QI create -f foo -o help' '$QI create -o help' '$QI create -f file -o help' \
    '$QI convert -O qcow2 -o help' '$QI convert -o help' '$QI convert -O qcow2 -o help a b' \
    '$QI convert -O raw -o help,x a b' '$QI amend -f qcow2 -o help x' '$QI amend -f qcow2 -o help' \
    '$QI amend -f raw -o help x' '$QI amend -o help x' '$QI amend -o help' \
    '$QI create -f qcow2 -o bogus=1 x 1M' '$QI create -f qcow2 -o preallocation=bogus x 1M'
finish
