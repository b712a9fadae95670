#!/bin/bash
# Broken snapshot entries and L2 entries beside QEMU 7.2: refused up front when used
# (snapshot -d/-a, convert -l), noticed by check and repaired by check -r all as QEMU does;
# amend to v3 extends old snapshot entries. Same output, exit codes and image bytes.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip repair "real qemu-img not installed"; exit 0; fi
cat >patch.py <<'PY'
import struct, sys
f = open(sys.argv[1], 'r+b')
h = f.read(112)
what = sys.argv[2]
if what == 'unaligned-snapshot-l1':          # snapshot 1's L1 table offset + 512
    so = struct.unpack('>Q', h[64:72])[0]
    f.seek(so); l1 = struct.unpack('>Q', f.read(8))[0]
    f.seek(so); f.write(struct.pack('>Q', l1 + 512))
elif what == 'short-snapshots':               # every snapshot entry without extra data
    nsn, so = struct.unpack('>IQ', h[60:72])
    f.seek(so); out = b''
    for i in range(nsn):
        e = f.read(40)
        l1o, l1s, idl, nml, ds, dn, vmc, vms, exs = struct.unpack('>QIHHIIQII', e)
        f.read(exs); idn = f.read(idl); nm = f.read(nml); f.read((-(40 + exs + idl + nml)) % 8)
        ent = struct.pack('>QIHHIIQII', l1o, l1s, idl, nml, ds, dn, vmc, vms, 0) + idn + nm
        out += ent + bytes((-len(ent)) % 8)
    f.seek(so); f.write(out)
elif what == 'v3':                            # a v2 header made v3 (no extensions)
    f.seek(4); f.write(struct.pack('>I', 3))
    f.seek(72); f.write(bytes(24) + struct.pack('>II', 4, 104))
elif what == 'unaligned-prealloc':            # guest cluster 2: unaligned, no data
    ext = struct.unpack('>I', h[4:8])[0] == 3 and struct.unpack('>Q', h[72:80])[0] & 16
    l1 = struct.unpack('>Q', h[40:48])[0]
    f.seek(l1); l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
    es = 16 if ext else 8
    f.seek(l2 + 2 * es); e = struct.unpack('>Q', f.read(8))[0]
    f.seek(l2 + 2 * es)
    f.write(struct.pack('>Q', (e | 0x200) & ~1 if ext else e | 0x201))
    if ext:
        f.write(struct.pack('>Q', 0xffffffff << 32))
elif what.startswith('reftable'):           # refcount table entry N cleared (reftableN) or
    rt = struct.unpack('>Q', h[48:56])[0]       # with a reserved bit (reftable0-reserved)
    n = int(what[8:].split('-')[0])
    f.seek(rt + 8 * n); e = struct.unpack('>Q', f.read(8))[0]
    f.seek(rt + 8 * n); f.write(struct.pack('>Q', e | 1 if what.endswith('reserved') else 0))
PY
# images with snapshots are made once (their dates would differ)
for v in 1.1 0.10; do
    "$REF_QIMG" create -q -f qcow2 -o compat=$v snap-$v.qcow2 1M
    "$REF_QIO" -c "write -q -P 1 0 64k" snap-$v.qcow2
    "$REF_QIMG" snapshot -c s1 snap-$v.qcow2
    "$REF_QIMG" snapshot -c s2 snap-$v.qcow2
done
snap='cp ../snap-1.1.qcow2 x.qcow2'
both repair/unaligned-snapshot-l1 "$snap" 'python3 ../patch.py x.qcow2 unaligned-snapshot-l1' \
    '$QI snapshot -d s1 x.qcow2' '$QI snapshot -a s1 x.qcow2' '$QI convert -l s1 -O raw x.qcow2 o.raw' \
    '$QI convert -l snapshot.name=s1 -O raw x.qcow2 o.raw' '$QI check x.qcow2' '$QI snapshot -d s2 x.qcow2'
v2snap='cp ../snap-0.10.qcow2 x.qcow2 && python3 ../patch.py x.qcow2 short-snapshots'
both repair/amend-v3-short-snapshots "$v2snap" '$QI check x.qcow2' '$QI amend -o compat=1.1 x.qcow2' \
    '$QI check x.qcow2' '$QI snapshot -l x.qcow2 | cut -c1-40'
both repair/check-short-snapshots "$v2snap" 'python3 ../patch.py x.qcow2 v3' '$QI check x.qcow2' \
    '$QI check -r leaks x.qcow2' '$QI check -r all x.qcow2' '$QI check x.qcow2'
# a refcount block lost (or unusable): check -r all builds a new refcount structure as QEMU's
# rebuild does (same messages, same bytes); -r leaks refuses
both repair/rebuild-refcounts '$QI create -q -f qcow2 x.qcow2 4M' \
    '$QO -c "write -q -P 7 0 1M" -c "write -q -P 8 2M 512k" x.qcow2' \
    'python3 ../patch.py x.qcow2 reftable0' '$QI check -r leaks x.qcow2' '$QI check -r all x.qcow2' \
    '$QO -c "read -q -P 7 0 1M" -c "read -q -P 8 2M 512k" x.qcow2'
both repair/rebuild-refcounts-512 '$QI create -q -f qcow2 -o cluster_size=512,refcount_bits=4 x.qcow2 2M' \
    '$QO -c "write -q -P 7 0 300k" -c "write -q -P 8 600k 400k" x.qcow2' \
    'python3 ../patch.py x.qcow2 reftable1' '$QI check -r all x.qcow2' \
    '$QO -c "read -q -P 7 0 300k" -c "read -q -P 8 600k 400k" x.qcow2'
both repair/rebuild-refcounts-reserved '$QI create -q -f qcow2 x.qcow2 1M' \
    '$QO -c "write -q -P 7 0 64k" x.qcow2' 'python3 ../patch.py x.qcow2 reftable0-reserved' \
    '$QI check -r all x.qcow2'
for o in extended_l2=on extended_l2=off; do
    both "repair/unaligned-prealloc/$o" "\$QI create -q -f qcow2 -o $o x.qcow2 1M" \
        '$QO -c "write -q -P 1 0 128k" -c "write -q -z 128k 64k" x.qcow2' \
        'python3 ../patch.py x.qcow2 unaligned-prealloc' '$QI check x.qcow2' '$QI check -r all x.qcow2' \
        '$QI check x.qcow2' '$QO -c "read -P 1 0 128k" -c "read -P 0 128k 64k" x.qcow2'
done
finish
