#!/bin/bash
# vdi (VirtualBox): create, qemu-io writes, info/map/check/compare and convert both ways give the
# bytes, output and exit codes of QEMU 7.2's tools; each tool reads the other's images; malformed
# headers get QEMU's messages, a lying header no huge allocation.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip vdi "real qemu-img not installed"; exit 0; fi

# the two random UUIDs (image, last snapshot) at 0x188 are the only bytes that may differ
unuuid() {
    local f
    for f; do
        [ "$(stat -c %s "$f")" -ge 512 ] && dd if=/dev/zero of="$f" bs=1 seek=392 count=32 conv=notrunc status=none
    done
}
MASK=unuuid

# create: the same image (UUIDs aside), "Formatting" line and refusals
while IFS='|' read -r name opts size; do
    [ -z "$name" ] && continue
    mboth "vdi/create-$name" "\$QI create -f vdi $opts i.vdi $size" "\$QI info i.vdi" \
        "\$QI info --output=json i.vdi"
done <<'CASES'
10M||10M
0||0
odd||1000
1536k||1536k
static|-o static=on|3M
static-odd|-o static=on|2500k
prealloc-full|-o preallocation=full|3M
prealloc-falloc-static|-o static=on,preallocation=falloc|2M
prealloc-meta|-o preallocation=metadata|3M
prealloc-bad|-o preallocation=bogus|3M
too-big|-o static=on|1025T
max||2047T
cluster-size|-o cluster_size=2M|4M
CASES
mboth vdi/create-help "\$QI create -f vdi -o help" "\$QI create -f vdi -o help x.vdi 1M"

# writes: allocation order, partial blocks, zero writes, writes across blocks, overwrite in place
mboth vdi/write "\$QI create -q -f vdi a.vdi 10M" \
    "\$QO -c 'write -P 0x11 5M 4k' -c 'write -P 0x22 1M 512' -c 'write -z 8M 1M' a.vdi" \
    "\$QO -c 'write -P 0x33 4095k 2M' -c 'write -P 0x44 5M 512' -c 'write -P 0x55 9M 1M' a.vdi" \
    "\$QO -c 'read -P 0x44 5M 512' -c 'read -P 0x11 5243392 3584' -c 'read -P 0 2M 1M' a.vdi" \
    "\$QI map a.vdi" "\$QI map --output=json a.vdi" "\$QI info a.vdi | grep -v '^disk size'" \
    "\$QI check a.vdi" \
    "\$QI check -r all a.vdi" "\$QI check --output=json a.vdi" "\$QI measure -O vdi --size 1M" \
    "\$QI resize a.vdi 20M"
mboth vdi/static-write "\$QI create -q -f vdi -o static=on s.vdi 3M" \
    "\$QO -c 'write -P 7 1000k 100k' s.vdi" "\$QI map --output=json s.vdi" "\$QI check s.vdi"

# convert both ways, each tool reading the other's images
python3 - <<'PY'
import random
r = random.Random(11)
with open('mix.raw', 'wb') as f:
    f.truncate(12 << 20)
    for i in range(0, 12 << 20, 3 << 20):
        f.seek(i + 12345)
        f.write(r.randbytes(70000))
PY
"$REF_QIMG" convert -f raw -O vdi mix.raw ref.vdi
$QIMG convert -f raw -O vdi mix.raw ours.vdi
mboth vdi/convert "cp ../mix.raw ../ref.vdi ../ours.vdi ." \
    "\$QI convert -f raw -O vdi mix.raw c.vdi" "\$QI convert -O vdi -o static=on mix.raw st.vdi" \
    "\$QI convert -f vdi -O qcow2 ref.vdi from-ref.qcow2" "\$QI convert -O raw ours.vdi from-ours.raw" \
    "\$QI convert -O qcow2 st.vdi st.qcow2" "\$QI compare mix.raw ref.vdi" "\$QI compare mix.raw ours.vdi" \
    "\$QI compare -f vdi -F qcow2 ours.vdi from-ref.qcow2" "\$QI map --output=json ref.vdi" \
    "\$QI info ours.vdi" "\$QI check ref.vdi" "\$QI convert -c -O vdi mix.raw comp.vdi"

# malformed headers (each a copy of a small image with one field changed): QEMU's message
"$REF_QIMG" create -q -f vdi base.vdi 4M
"$REF_QIO" -c 'write -P 7 1M 1M' -c 'write -P 9 3M 4k' base.vdi >/dev/null
python3 - <<'PY'
import struct
base = open('base.vdi', 'rb').read()
cases = """sig 0x40 I 0x12345678
version 0x44 I 0x00020001
bmap-unaligned 0x154 I 0x201
data-unaligned 0x158 I 0x401
sector-size 0x168 I 4096
block-size 0x178 I 0x200000
no-room 0x170 Q 0x500000
link 0x1a8 I 1
parent 0x1bc I 5
too-many 0x180 I 0x20000000
huge 0x170 Q 0x2000000000000
odd-size 0x170 Q 0x3fffff
type 0x4c I 9
count 0x184 I 0
shared 0x200 I 0
out-of-range 0x208 I 4
lying 0x180 I 0x1000000"""
for line in cases.splitlines():
    name, off, fmt, val = line.split()
    b = bytearray(base)
    struct.pack_into('<' + fmt, b, int(off, 0), int(val, 0))
    open('m-%s.vdi' % name, 'wb').write(b)
PY
# one run over all of them (the lying one aside, below)
mv m-lying.vdi lying.vdi
mboth vdi/malformed "cp ../m-*.vdi ." \
    "for f in m-*.vdi; do echo \$f; \$QI info -f vdi \$f; \$QI check -f vdi \$f; \$QO -f vdi -c 'read -v 1M 16' -c 'read -v 3M 16' \$f; done"

# a header whose block map lies past the end of the file (64 MiB of map for a 2 MiB file): QEMU
# reads zeros there and aliases every block onto block 0; Vireo refuses to open it
$QIMG info lying.vdi >out 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "Could not open 'lying.vdi'" out; then
    ok vdi/lying-block-map
else
    fail vdi/lying-block-map "rc=$rc $(head -c 200 out)"
fi
finish
