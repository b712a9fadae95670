#!/bin/bash
# Metadata overlap checks beside QEMU 7.2: a write that would land on the image's own metadata
# (an L2 entry or a damaged refcount structure pointing there) is refused with QEMU's message,
# the image is marked corrupt and nothing else is written; overlap-check=none|constant|cached|all
# and the per-kind options choose what is checked. Images, output and exit codes must match.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip overlap "real qemu-img not installed"; exit 0; fi
# base image: data in guest clusters 0..3, a snapshot, a persistent bitmap, then more data
"$REF_QIMG" create -q -f qcow2 base.qcow2 4M
"$REF_QIO" -c 'write -q -P 1 0 256k' base.qcow2
"$REF_QIMG" snapshot -c s1 base.qcow2
"$REF_QIO" -c 'write -q -P 2 0 64k' base.qcow2
"$REF_QIMG" bitmap --add base.qcow2 bm
cat >point.py <<'PY'
# point.py IMG KIND: make the L2 entry of guest cluster 1 (already allocated, COPIED) point at
# the cluster holding metadata KIND
import struct, sys
path, kind = sys.argv[1], sys.argv[2]
f = open(path, 'r+b')
h = f.read(4096)
be = lambda o, n: int.from_bytes(h[o:o + n], 'big')
cs = 1 << be(20, 4)
l1 = be(40, 8)
rt = be(48, 8)
snaps = be(64, 8)
def rd(off, n):
    f.seek(off)
    return f.read(n)
q = lambda off: struct.unpack('>Q', rd(off, 8))[0]
l2 = q(l1) & 0x00fffffffffffe00
sn_l1 = struct.unpack('>Q', rd(snaps + 0, 8))[0]
sn_l2 = q(sn_l1) & 0x00fffffffffffe00
ext, bmdir = be(100, 4), 0
while ext + 8 <= cs:
    t, n = struct.unpack('>II', rd(ext, 8))
    if t == 0:
        break
    if t == 0x23852875:
        bmdir = struct.unpack('>Q', rd(ext + 8 + 8, 8))[0]
    ext += 8 + ((n + 7) & ~7)
target = {'header': 0, 'l1': l1, 'rt': rt, 'rb': q(rt) & ~0x1ff, 'snaptable': snaps,
          'inactive-l1': sn_l1, 'l2': l2, 'inactive-l2': sn_l2, 'bitmapdir': bmdir}[kind]
f.seek(l2 + 8)
f.write(struct.pack('>Q', target | (1 << 63)))
PY
# every kind, default mode (qemu-io: the refused write, then what follows on the dead node)
for k in l1 rt rb snaptable inactive-l1 l2 inactive-l2 bitmapdir; do
    both "overlap/$k" 'cp ../base.qcow2 x.qcow2' "python3 ../point.py x.qcow2 $k" \
        '$QO -c "write -P 9 64k 4k" -c "read -P 9 0 4k" x.qcow2' '$QI check x.qcow2 | head -3'
done
# modes and per-kind switches (through --image-opts; one write each)
wr() { echo "\$QI bench -w -c 1 -s 4k -o 64k --pattern=9 --image-opts driver=qcow2,file.filename=x.qcow2${1:+,$1} | grep -v '^Run completed'"; }
while read -r k o; do
    both "overlap/$k/$o" 'cp ../base.qcow2 x.qcow2' "python3 ../point.py x.qcow2 $k" "$(wr "$o")"
done <<'CASES'
l1 overlap-check=none
rb overlap-check=constant
rb overlap-check=cached
snaptable overlap-check=constant
inactive-l2 overlap-check=all
rt overlap-check.refcount-table=off
l2 overlap-check=none,overlap-check.active-l2=on
l1 overlap-check.template=constant,overlap-check.active-l1=off
inactive-l1 overlap-check.template=all,overlap-check.inactive-l1=off
CASES
# a refcount table that lost its first entry: a write would put a new refcount block over the
# refcount table (QEMU refuses it); v2 and v3
for o in compat=1.1 compat=0.10; do
    both "overlap/reftable-entry-0/$o" "\$QI create -q -f qcow2 -o $o x.qcow2 1M" \
        '$QO -c "write -q -P 1 0 64k" x.qcow2' \
        "python3 -c \"import struct; f=open('x.qcow2','r+b'); f.seek(48); rt=struct.unpack('>Q',f.read(8))[0]; f.seek(rt); f.write(bytes(8))\"" \
        '$QO -c "write -P 2 64k 64k" -c "read -P 1 0 64k" x.qcow2' '$QO -r -c "read -P 1 0 64k" x.qcow2' \
        '$QI check x.qcow2'
done
# bad option values
for o in overlap-check=foo overlap-check.template=bad overlap-check=all,overlap-check.template=none \
    overlap-check=all,overlap-check.template=all overlap-check.main-header=maybe overlap-check.bogus=on; do
    both "overlap/option/$o" '$QI create -q -f qcow2 x.qcow2 1M' \
        "\$QI info --image-opts driver=qcow2,file.filename=x.qcow2,$o | head -1"
done
finish
