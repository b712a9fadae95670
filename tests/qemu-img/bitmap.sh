#!/bin/bash
# Persistent dirty bitmaps beside QEMU 7.2: the same command sequence (qemu-img bitmap, writes
# through qemu-io, resize, commit, convert, check -r, snapshot, amend, measure) run once with
# the real tools and once with ours; every message, exit code and image byte must be the same.
# Then damaged bitmap directories/tables: same errors, no crash, no corruption.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip bitmap "real qemu-img not installed"; exit 0; fi

# A bitmap directory entry or header field damaged in place (MODE), after QEMU's own layout.
cat >corrupt.py <<'EOF'
import struct, sys
path, mode = sys.argv[1], sys.argv[2]
f = open(path, 'r+b')
h = f.read(65536)
off = struct.unpack('>I', h[100:104])[0]
ext = None
while off + 8 <= len(h):
    t, l = struct.unpack('>II', h[off:off + 8])
    if t == 0:
        break
    if t == 0x23852875:
        ext = off + 8
        break
    off += 8 + ((l + 7) & ~7)
nb, res, ds, do = struct.unpack('>IIQQ', h[ext:ext + 24])
def setext(nb=nb, res=res, ds=ds, do=do):
    f.seek(ext)
    f.write(struct.pack('>IIQQ', nb, res, ds, do))
f.seek(do)
d = bytearray(f.read(ds))
def wdir():
    f.seek(do)
    f.write(bytes(d))
toff = struct.unpack('>Q', d[0:8])[0]
if mode == 'inuse': d[15] |= 1; wdir()
elif mode == 'reserved': setext(res=1)
elif mode == 'zero': setext(nb=0)
elif mode == 'misaligned': setext(do=do + 8)
elif mode == 'hugedir': setext(ds=1 << 30)
elif mode == 'zerodir': setext(ds=0)
elif mode == 'less': setext(nb=nb + 1)
elif mode == 'more': setext(nb=nb - 1)
elif mode == 'short': setext(ds=ds - 8)
elif mode == 'extra': d[20:24] = struct.pack('>I', 8); wdir()
elif mode == 'gbits': d[17] = 8; wdir()
elif mode == 'type': d[16] = 2; wdir()
elif mode == 'flags': d[12:16] = struct.pack('>I', 0x10); wdir()
elif mode == 'tsize': d[8:12] = struct.pack('>I', 5); wdir()
elif mode == 'toff': d[0:8] = struct.pack('>Q', toff + 512); wdir()
elif mode == 'tpastend': d[0:8] = struct.pack('>Q', 1 << 40); wdir()
elif mode == 'dup':
    n1 = struct.unpack('>H', d[18:20])[0]
    e2 = (24 + n1 + 7) & ~7
    d[e2 + 24:e2 + 24 + n1] = d[24:24 + n1]; wdir()
elif mode == 'tentry': f.seek(toff); f.write(struct.pack('>Q', 0x100000000000002))
elif mode == 'tentry2': f.seek(toff); f.write(struct.pack('>Q', (1 << 20) + 513))
elif mode == 'autoclear': f.seek(95); f.write(b'\0')
EOF

C='$QI create -q -f qcow2'
both bitmap/add "$C x.qcow2 1M" '$QI bitmap --add x.qcow2 b' '$QI bitmap --add -g 512 x.qcow2 c' \
    '$QI info x.qcow2' '$QI info --output=json x.qcow2'
both bitmap/options "$C x.qcow2 1M" '$QI bitmap x.qcow2 b' '$QI bitmap --add x.qcow2' \
    '$QI bitmap -g 4k --remove x.qcow2 b' '$QI bitmap -F raw --add x.qcow2 b' \
    '$QI bitmap -b y --add x.qcow2 b' '$QI bitmap --add -g foo x.qcow2 b' \
    '$QI bitmap --add -g 100 x.qcow2 b' '$QI bitmap --add -g 4G x.qcow2 b' \
    '$QI bitmap --add -g 0 x.qcow2 b' '$QI bitmap --add x.qcow2 ""' \
    '$QI bitmap --add x.qcow2 b' '$QI bitmap --add x.qcow2 b' '$QI bitmap --remove x.qcow2 n' \
    '$QI bitmap --clear x.qcow2 n' '$QI bitmap --enable x.qcow2 n' '$QI bitmap --merge n x.qcow2 b' \
    '$QI bitmap --merge b x.qcow2 n' "$C -o compat=0.10 v2.qcow2 1M" '$QI bitmap --add v2.qcow2 b' \
    '$QI bitmap --add x.qcow2 $(printf "%01024d" 0)' '$QI bitmap --add -f raw x.qcow2 b' \
    '$QI bitmap --add missing.qcow2 b' '$QI bitmap --bogus x.qcow2 b' '$QI bitmap --merge' \
    '$QI bitmap --add --disable -g 2G x.qcow2 huge' '$QI info x.qcow2'
both bitmap/writes "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' \
    '$QO -c "write 1M 64k" -c "write -z 5M 1M" -c "discard 10M 1M" -c "write -c 30M 64k" x.qcow2' \
    '$QI bitmap --add --disable -g 1k x.qcow2 c' '$QO -c "write 20M 4k" -c "write 63M 1M" x.qcow2' \
    '$QO -r -c "read 0 1M" x.qcow2' '$QI check x.qcow2' '$QI info x.qcow2'
both bitmap/remove "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QI bitmap --add x.qcow2 c' \
    '$QO -c "write 1M 64k" x.qcow2' '$QI bitmap --remove x.qcow2 b' '$QI info x.qcow2' \
    '$QI bitmap --remove x.qcow2 c' '$QI info x.qcow2' '$QI check x.qcow2'
both bitmap/small-clusters "$C -o cluster_size=512 x.qcow2 64M" '$QI bitmap --add -g 512 x.qcow2 b' \
    '$QO -c "write 1M 64k" -c "write 30M 1M" x.qcow2' '$QI bitmap --clear x.qcow2 b' \
    '$QO -c "write 2M 512" -c "write 40M 2M" x.qcow2' '$QI check x.qcow2'
both bitmap/merge "$C x.qcow2 64M" '$QI bitmap --add -g 4k x.qcow2 a' '$QO -c "write 1M 64k" x.qcow2' \
    '$QI bitmap --add -g 128k x.qcow2 b' '$QO -c "write 7M 1k" x.qcow2' \
    '$QI bitmap --disable x.qcow2 a' '$QO -c "write 9M 1k" x.qcow2' \
    '$QI bitmap --merge b x.qcow2 a' "$C y.qcow2 64M" '$QI bitmap --add -g 1M y.qcow2 s' \
    '$QO -c "write 40M 1k" y.qcow2' '$QI bitmap --merge s -b y.qcow2 -F qcow2 x.qcow2 a' \
    '$QI bitmap --add --merge a --disable --enable --clear x.qcow2 n' \
    '$QI bitmap --merge zz --add x.qcow2 n2' "$C z.qcow2 32M" '$QI bitmap --add z.qcow2 s' \
    '$QI bitmap --merge s -b z.qcow2 x.qcow2 a' '$QI info x.qcow2' '$QI check x.qcow2'
both bitmap/inuse "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QI bitmap --add x.qcow2 c' \
    '$QO -c "write 1M 64k" x.qcow2' 'python3 ../corrupt.py x.qcow2 inuse' '$QI info x.qcow2' \
    '$QI bitmap --clear x.qcow2 b' '$QI bitmap --enable x.qcow2 b' '$QI bitmap --merge b x.qcow2 c' \
    '$QI resize x.qcow2 +1M' '$QO -c "write 2M 64k" x.qcow2' '$QI info x.qcow2' \
    '$QI bitmap --remove x.qcow2 b' '$QI info x.qcow2' '$QI check x.qcow2'
both bitmap/autoclear "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' 'python3 ../corrupt.py x.qcow2 autoclear' \
    '$QI info x.qcow2' '$QI check x.qcow2' '$QO -c "write 0 4k" x.qcow2' '$QI check -r leaks x.qcow2' \
    '$QI check x.qcow2'
both bitmap/resize "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QO -c "write 1M 64k" -c "write 63M 1M" x.qcow2' \
    '$QI resize x.qcow2 +100M' '$QO -c "write 150M 64k" x.qcow2' '$QI resize --shrink x.qcow2 10M' \
    '$QI check x.qcow2' '$QI info x.qcow2'
both bitmap/commit "$C base.qcow2 64M" '$QI bitmap --add base.qcow2 b' "$C -b base.qcow2 -F qcow2 x.qcow2" \
    '$QI bitmap --add x.qcow2 t' '$QO -c "write 1M 64k" -c "write -z 3M 64k" x.qcow2' \
    '$QI commit x.qcow2' '$QI check base.qcow2' '$QI check x.qcow2' '$QI info base.qcow2'
both bitmap/convert "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' "$C s.qcow2 64M" \
    '$QO -c "write 1M 64k" -c "write 20M 4M" s.qcow2' '$QI convert -n -O qcow2 s.qcow2 x.qcow2' \
    '$QI check x.qcow2'
both bitmap/convert-bitmaps "$C s.qcow2 64M" '$QI bitmap --add s.qcow2 b' '$QI bitmap --add -g 4k s.qcow2 a' \
    '$QO -c "write 1M 64k" -c "write 20M 3M" s.qcow2' '$QI bitmap --disable s.qcow2 a' \
    '$QI convert --bitmaps -O qcow2 s.qcow2 x.qcow2' '$QI info x.qcow2' \
    '$QI convert --bitmaps -O raw s.qcow2 x.raw' '$QI convert --skip-broken-bitmaps -O qcow2 s.qcow2 y.qcow2' \
    '$QI convert --bitmaps -O qcow2 s.qcow2 s.qcow2 y.qcow2' \
    'python3 ../corrupt.py s.qcow2 inuse' '$QI convert --bitmaps -O qcow2 s.qcow2 y.qcow2' \
    '$QI convert --bitmaps --skip-broken-bitmaps -O qcow2 s.qcow2 z.qcow2' '$QI info z.qcow2' \
    '$QI convert --bitmaps -O qcow2 -o compat=0.10 s.qcow2 w.qcow2'
both bitmap/check-r "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QO -c "write 1M 64k" x.qcow2' \
    '$QI check -r all x.qcow2' '$QI check -r leaks x.qcow2' '$QO -c "read 0 64k" x.qcow2' \
    '$QI info x.qcow2'
both bitmap/snapshot "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QO -c "write 1M 64k" x.qcow2' \
    '$QI snapshot -c s1 x.qcow2' '$QO -c "write 1M 64k" x.qcow2' '$QI snapshot -a s1 x.qcow2' \
    '$QI snapshot -d s1 x.qcow2' '$QI check x.qcow2'
both bitmap/amend "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QO -c "write 1M 64k" x.qcow2' \
    '$QI amend -o lazy_refcounts=on x.qcow2' '$QI amend -o size=128M x.qcow2' \
    '$QI amend -o compat=0.10 x.qcow2' '$QI check x.qcow2' '$QI info x.qcow2'
both bitmap/measure "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QI bitmap --add -g 512 x.qcow2 c' \
    '$QO -c "write 1M 64k" x.qcow2' '$QI measure -O qcow2 x.qcow2' \
    '$QI measure -O qcow2 -o cluster_size=4k --output=json x.qcow2' '$QI measure -O raw x.qcow2' \
    '$QI measure -O qcow2 -o compat=0.10 x.qcow2'

# damaged bitmap structures: same messages and bytes as QEMU, no crash
for m in reserved zero misaligned hugedir zerodir less more extra gbits type flags tsize toff \
    short dup tentry tentry2; do
    both "bitmap/bad-$m" "$C x.qcow2 64M" '$QI bitmap --add x.qcow2 b' '$QI bitmap --add -g 512 x.qcow2 cc' \
        '$QO -c "write 1M 64k" x.qcow2' "python3 ../corrupt.py x.qcow2 $m" '$QI info x.qcow2' \
        '$QI check x.qcow2' '$QO -c "read 0 4k" x.qcow2' '$QI bitmap --remove x.qcow2 b' \
        '$QI check -r all x.qcow2' '$QI info --output=json x.qcow2'
done
# a bitmap table past the end of the file: QEMU leaks differently; ours must stay uncorrupted
rm -f t.qcow2
"$REF_QIMG" create -q -f qcow2 t.qcow2 64M
"$REF_QIMG" bitmap --add t.qcow2 b
python3 corrupt.py t.qcow2 tpastend
$QIO -c "write 0 4k" t.qcow2 >o.out 2>&1
$QIMG bitmap --remove t.qcow2 b >>o.out 2>&1
"$REF_QIMG" check t.qcow2 >r.out 2>&1
rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 3 ]; then ok bitmap/bad-tpastend; else
    fail bitmap/bad-tpastend "real check rc=$rc: $(tr '\n' '|' <r.out)"; fi
finish
