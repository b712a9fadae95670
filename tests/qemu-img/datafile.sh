#!/bin/bash
# External data files (data_file=..., data_file_raw=on/off) beside QEMU 7.2: the same create,
# writes, zero writes, discards, check, map and info give the same qcow2 bytes, the same data
# file bytes and the same output; broken setups get QEMU's errors.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip datafile "real qemu-img not installed"; exit 0; fi

# both() compares *.qcow2; the data files are compared here
data_same() { # NAME FILES...
    local name=$1 f why=
    shift
    for f in "$@"; do
        sparse_cmp "r/$f" "o/$f" || why="$why $f differs;"
    done
    if [ -z "$why" ]; then ok "$name"; else fail "$name" "$why"; fi
}

IO='$QO -c "write -P 1 1M 64k" -c "write -P 2 5M 4k" -c "write -z 8M 64k" -c "discard 5M 64k" -c "write -c -P 3 10M 64k" -c "write -P 4 20M 100k" -c "write -z -u 20M 64k" -c "write -P 5 0 3k"'
both datafile/plain '$QI create -f qcow2 -o data_file=d.data d.qcow2 64M' "$IO d.qcow2" \
    '$QI map --output=json d.qcow2' '$QI map d.qcow2' '$QI check d.qcow2' '$QI info d.qcow2' \
    '$QI info --output=json d.qcow2' '$QO -r -c "read -P 4 20M+64k 36k" -c "read -P 5 0 3k" d.qcow2' \
    '$QI snapshot -c s d.qcow2' '$QI compare d.qcow2 d.qcow2'
data_same datafile/plain-data d.data
both datafile/raw '$QI create -f qcow2 -o data_file=r.data,data_file_raw=on r.qcow2 4M' \
    '$QO -c "write -P 1 1M 64k" -c "write -z 2M 64k" -c "write -P 7 3M 64k" -c "write -z -u 3M 64k" -c "discard 1M 64k" -c "write -P 8 100k 1k" r.qcow2' \
    '$QI map --output=json r.qcow2' '$QI check r.qcow2' '$QI info --output=json r.qcow2' \
    '$QI compare -f qcow2 -F raw r.qcow2 r.data'
data_same datafile/raw-data r.data
both datafile/options '$QI create -f qcow2 -o data_file_raw=on x.qcow2 1M' \
    '$QI create -f qcow2 -o data_file=c.data,compat=0.10 x.qcow2 1M' \
    '$QI create -f qcow2 -o data_file=m.data,preallocation=metadata,cluster_size=4k m.qcow2 1M' \
    '$QI map --output=json m.qcow2' '$QI check m.qcow2'
both datafile/convert '$QI create -q -f qcow2 s.qcow2 8M' '$QO -c "write -P 1 0 100k" -c "write -P 3 5M 5k" s.qcow2' \
    '$QI convert -O qcow2 -o data_file=t.data s.qcow2 t.qcow2' '$QI compare s.qcow2 t.qcow2' \
    '$QI convert -c -O qcow2 -o data_file=u.data s.qcow2 u.qcow2' '$QI map --output=json t.qcow2'
data_same datafile/convert-data t.data
both datafile/missing '$QI create -q -f qcow2 -o data_file=g.data g.qcow2 1M' 'mv g.data h.data' \
    '$QI info g.qcow2' '$QI check g.qcow2' '$QO -c "read 0 4k" g.qcow2' 'mv h.data g.data' \
    "python3 -c 'import sys; f=open(\"g.qcow2\",\"r+b\"); f.seek(95); f.write(b\"\\x02\")'" \
    '$QI check g.qcow2' '$QI info g.qcow2'
# amend: data_file renames (or with an empty value drops) the recorded name, data_file_raw can
# only be cleared; both are refused on images without a data file; no downgrade to v2
MK='$QI create -q -f qcow2 -o data_file=d.data d.qcow2 1M; $QI create -q -f qcow2 -o data_file=r.data,data_file_raw=on r.qcow2 1M; $QI create -q -f qcow2 p.qcow2 1M'
both datafile/amend "$MK" \
    '$QI amend -o data_file=x.data p.qcow2' '$QI amend -o data_file_raw=on p.qcow2' \
    '$QI amend -o data_file_raw=off p.qcow2' '$QI amend -o data_file= p.qcow2' \
    '$QI amend -o data_file_raw=on d.qcow2' '$QI amend -o data_file_raw=foo r.qcow2' \
    '$QI amend -o compat=0.10 d.qcow2' '$QI amend -o data_file=d.data,compat=0.10 d.qcow2' \
    '$QI amend -o data_file=n.data,data_file_raw=on d.qcow2' \
    'cp r.qcow2 r1.qcow2; $QI amend -o data_file_raw=on r1.qcow2' \
    'cp r.qcow2 r2.qcow2; $QI amend -o data_file_raw=off,lazy_refcounts=on r2.qcow2; $QI info r2.qcow2' \
    'cp d.qcow2 d1.qcow2; $QI amend -o data_file=elsewhere/new.data d1.qcow2; $QI info d1.qcow2; $QI check d1.qcow2' \
    'cp d.qcow2 d2.qcow2; $QI amend -o data_file= d2.qcow2; $QI info d2.qcow2; $QO -c "read 0 4k" d2.qcow2' \
    'cp r.qcow2 r3.qcow2; $QI amend -o data_file=r.data,data_file_raw=off r3.qcow2; $QI check r3.qcow2' \
    'cp d.qcow2 d3.qcow2; $QI amend -o data_file=dd.data d3.qcow2; cp d.data dd.data; $QO -c "write -P 9 0 64k" d3.qcow2; $QI map --output=json d3.qcow2'
# resize: the data file follows the new size (exactly with preallocation=off, grown only
# otherwise); a raw data file gets the new clusters mapped; shrinking cuts the data file
n=0
for o in data_file=d.data data_file=d.data,data_file_raw=on; do
    for t in 1536K +1M '--shrink 512K' '--shrink 700K' '--preallocation=metadata 2M' \
        '--preallocation=falloc 2M' '--preallocation=full 1600K'; do
        for big in 0 1; do
            n=$((n + 1))
            both "datafile/resize$n" "\$QI create -q -f qcow2 -o $o t.qcow2 1M" \
                '$QO -c "write -P 7 0 64k" -c "write -P 8 960k 64k" t.qcow2' \
                "[ $big = 0 ] || truncate -s 4M d.data" "\$QI resize t.qcow2 $t" \
                'stat -c "%n %s" d.data' '$QI check t.qcow2' '$QI map --output=json t.qcow2' \
                '$QO -r -c "read -P 7 0 64k" t.qcow2'
            data_same "datafile/resize$n-data" d.data
        done
    done
done
both datafile/amend-size '$QI create -q -f qcow2 -o data_file=d.data,data_file_raw=on t.qcow2 1M' \
    '$QI amend -o size=3M t.qcow2' 'stat -c "%n %s" d.data' '$QI map --output=json t.qcow2'
# a shrink whose discarded range has no L2 table: QEMU allocates the one that stays
both datafile/shrink-no-l2 '$QI create -q -f qcow2 a.qcow2 1M' '$QI resize --shrink a.qcow2 512K' \
    '$QI create -q -f qcow2 -o cluster_size=512 b.qcow2 1M' '$QI resize --shrink b.qcow2 512K' \
    '$QI create -q -f qcow2 -o cluster_size=1k c.qcow2 64M' '$QI resize --shrink c.qcow2 300K' \
    'stat -c "%n %s" a.qcow2 b.qcow2 c.qcow2'
finish
