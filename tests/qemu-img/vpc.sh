#!/bin/bash
# vpc (VHD, fixed and dynamic): create (CHS rounding, force_size, the 2040 GiB limit), qemu-io
# writes, info/map/compare and convert both ways give the bytes, output and exit codes of QEMU
# 7.2's tools; images from other creators are sized as QEMU sizes them; malformed headers get
# QEMU's messages and no huge allocation.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip vpc "real qemu-img not installed"; exit 0; fi

# the footer's timestamp, checksum and UUID (in both copies) are the bytes that may differ
unstamp() {
    local f size base
    for f; do
        size=$(stat -c %s "$f")
        for base in 0 $((size - 512)); do
            [ "$base" -ge 0 ] && [ "$(dd if="$f" bs=1 skip=$base count=8 status=none)" = conectix ] || continue
            dd if=/dev/zero of="$f" bs=1 seek=$((base + 24)) count=4 conv=notrunc status=none
            dd if=/dev/zero of="$f" bs=1 seek=$((base + 64)) count=20 conv=notrunc status=none
        done
    done
}
MASK=unstamp

while IFS='|' read -r name opts size; do
    [ -z "$name" ] && continue
    mboth "vpc/create-$name" "\$QI create -f vpc $opts i.vhd $size" "\$QI info -f vpc i.vhd" \
        "\$QI info -f vpc --output=json i.vhd"
done <<'CASES'
10M||10M
0||0
one-byte||1
100M||100M
127G||127G
200G||200G
max||2040G
too-big||2139095041k
fixed|-o subformat=fixed|10M
fixed-200G|-o subformat=fixed|200G
force|-o force_size=on|10M
fixed-force|-o subformat=fixed,force_size=on|1000k
bad-subformat|-o subformat=bad|1M
CASES
mboth vpc/create-help "\$QI create -f vpc -o help" "\$QI create -f vpc -o help x.vhd 1M"

for sub in dynamic fixed; do
    mboth "vpc/write-$sub" "\$QI create -q -f vpc -o subformat=$sub a.vhd 10M" \
        "\$QO -f vpc -c 'write -P 0x11 3M 4k' -c 'write -P 0x22 0 512' -c 'write -z 8M 1M' a.vhd" \
        "\$QO -f vpc -c 'write -P 0x33 4095k 2M' -c 'write -P 0x44 3M 512' a.vhd" \
        "\$QO -f vpc -c 'read -P 0x44 3M 512' -c 'read -P 0x11 3146240 3584' -c 'read -P 0 6M 1M' a.vhd" \
        "\$QI map -f vpc a.vhd" "\$QI map -f vpc --output=json a.vhd" \
        "\$QI info -f vpc a.vhd | grep -v '^disk size'" "\$QI check -f vpc a.vhd" \
        "\$QI resize -f vpc a.vhd 20M" "\$QI measure -O vpc --size 1M"
done

# convert both ways, each tool reading the other's images
python3 - <<'PY'
import random
r = random.Random(5)
with open('mix.raw', 'wb') as f:
    f.truncate(9 << 20)
    for i in range(0, 9 << 20, 3 << 20):
        f.seek(i + 4321)
        f.write(r.randbytes(50000))
PY
"$REF_QIMG" convert -f raw -O vpc mix.raw ref.vhd
$QIMG convert -f raw -O vpc mix.raw ours.vhd
mboth vpc/convert "cp ../mix.raw ../ref.vhd ../ours.vhd ." \
    "\$QI convert -f raw -O vpc mix.raw c.vhd" "\$QI convert -O vpc -o subformat=fixed mix.raw fx.vhd" \
    "\$QI convert -f vpc -O qcow2 ref.vhd from-ref.qcow2" "\$QI convert -O raw ours.vhd from-ours.raw" \
    "\$QI convert -f vpc -O raw fx.vhd from-fixed.raw" "\$QI compare -f raw -F vpc mix.raw ref.vhd" \
    "\$QI compare -F vpc mix.raw ours.vhd" "\$QI map --output=json ref.vhd" "\$QI info ours.vhd"

# other creators' images: the size from the geometry or from the footer, as QEMU decides, and
# the force_size_calc override; then malformed headers (a copy of a small image with one field
# changed, the footer checksum fixed up unless the case is about it)
"$REF_QIMG" create -q -f vpc base.vhd 4M
"$REF_QIO" -c 'write -P 7 1M 1M' -c 'write -P 9 3M 4k' base.vhd >/dev/null
python3 - <<'PY'
import struct
base = open('base.vhd', 'rb').read()
def footer_sum(b, at):
    b[at + 64:at + 68] = bytes(4)
    struct.pack_into('>I', b, at + 64, ~sum(b[at:at + 512]) & 0xffffffff)
cases = [  # name, offset, struct format, value, fix the checksum
    ('creator-win', 28, '4s', b'win ', True), ('creator-d2v', 28, '4s', b'd2v ', True),
    ('creator-tap', 28, '4s', b'tap\0', True), ('creator-ctxs', 28, '4s', b'CTXS', True),
    ('creator-vpc', 28, '4s', b'vpc ', True), ('current-size', 48, '>Q', 3 << 20, True),
    ('bad-checksum', 64, '>I', 1, False), ('bad-cookie', 0, '8s', b'conectiy', False),
    ('too-big', 48, '>Q', 3 << 40, True), ('max-geometry', 56, '>HBB', (65535, 16, 255), True),
    ('data-offset', 16, '>Q', 0x10000000, True), ('dyn-magic', 512, '8s', b'cxsparsy', False),
    ('block-size', 512 + 32, '>I', 3 << 20, False), ('block-size-small', 512 + 32, '>I', 256, False),
    ('table-small', 512 + 28, '>I', 1, False), ('table-huge', 512 + 28, '>I', 0x20000000, False),
    ('table-past-eof', 512 + 28, '>I', 0x1000000, False), ('table-offset', 512 + 16, '>Q', 1 << 40, False),
    ('bat-past-eof', 1536, '>I', 0x100000, False),
]
for name, off, fmt, val, fix in cases:
    b = bytearray(base)
    if isinstance(val, tuple):
        struct.pack_into(fmt, b, off, *val)
    else:
        struct.pack_into(fmt, b, off, val)
    if fix:
        footer_sum(b, 0)
    name = ('m-' if name.startswith(('bad', 'too', 'data', 'dyn', 'block', 'table', 'bat')) else 'c-') + name
    open(name + '.vhd', 'wb').write(b)
PY
mboth vpc/creators "cp ../c-*.vhd ." \
    "for f in c-*.vhd; do echo \$f; \$QI info -f vpc \$f | head -3; \$QO -f vpc -c 'read -v 1M 16' \$f; done" \
    "\$QI info --image-opts driver=vpc,force_size_calc=current_size,file.filename=c-creator-vpc.vhd | sed -n 3p" \
    "\$QI info --image-opts driver=vpc,force_size_calc=chs,file.filename=c-creator-win.vhd | sed -n 3p" \
    "\$QI info --image-opts driver=vpc,force_size_calc=what,file.filename=c-creator-win.vhd"
mboth vpc/malformed "cp ../m-*.vhd ." \
    "for f in m-*.vhd; do echo \$f; \$QI info -f vpc \$f; \$QO -f vpc -c 'read -v 1M 16' \$f; done"
finish
