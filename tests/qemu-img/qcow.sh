#!/bin/bash
# qcow (version 1): create (with and without a backing file), qemu-io writes, compressed convert,
# a write into a compressed cluster, info/map/compare and convert both ways give the bytes,
# output and exit codes of QEMU 7.2's tools; malformed headers get QEMU's messages.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip qcow "real qemu-img not installed"; exit 0; fi

while IFS='|' read -r name opts size; do
    [ -z "$name" ] && continue
    mboth "qcow/create-$name" "\$QI create -f qcow $opts i.qcow $size" "\$QI info i.qcow" \
        "\$QI info --output=json i.qcow"
done <<'CASES'
10M||10M
odd||1000
100G||100G
encrypted|-o encryption=on|1M
CASES
mboth qcow/create-help "\$QI create -f qcow -o help" "\$QI create -f qcow -o help x.qcow 1M"

# (QEMU's convert -c -O qcow writes every cluster, then exits 1 without a message: its closing
# zero-length compressed write fails; Vireo exits 0, so that exit code is left out)
mboth qcow/chain "\$QI create -q -f qcow b.qcow 10M" \
    "\$QO -c 'write -P 5 1M 64k' -c 'write -P 6 5M 4k' -c 'write -P 7 5M 512' b.qcow" \
    "\$QI create -q -f qcow -b b.qcow -F qcow t.qcow" "\$QO -c 'write -P 8 1052672 4k' -c 'write -P 9 7M 1536' t.qcow" \
    "\$QO -c 'read -P 8 1052672 4k' -c 'read -P 5 1056768 4k' -c 'read -P 9 7M 1536' t.qcow" \
    "\$QI map --output=json b.qcow" "\$QI map --output=json t.qcow" "\$QI map t.qcow" \
    "\$QI info t.qcow | grep -v '^disk size'" "\$QI info --backing-chain t.qcow | grep -v '^disk size'" \
    "\$QI convert -c -O qcow b.qcow c.qcow; true" "\$QO -c 'write -P 1 1M 512' -c 'read -P 5 1049088 3584' c.qcow" \
    "\$QI map --output=json c.qcow" "\$QI compare -f qcow -F qcow b.qcow c.qcow" \
    "\$QI convert -O qcow2 t.qcow t.qcow2" "\$QI convert -O raw t.qcow t.raw" "\$QI convert -O qcow t.raw back.qcow" \
    "\$QI compare t.qcow t.qcow2" "\$QI commit t.qcow" "\$QI compare b.qcow t.raw" "\$QI check b.qcow" \
    "\$QI resize b.qcow 20M" "\$QO -c 'write -z 9M 8k' b.qcow" "\$QI map --output=json b.qcow"

"$REF_QIMG" create -q -f qcow base.qcow 4M
"$REF_QIO" -c 'write -P 7 1M 8k' base.qcow >/dev/null
python3 - <<'PY'
import struct
base = open('base.qcow', 'rb').read()
for name, off, fmt, val in [
    ('version', 4, '>I', 3), ('version-0', 4, '>I', 0), ('size-0', 24, '>Q', 0),
    ('cluster-bits', 32, 'B', 17), ('cluster-bits-low', 32, 'B', 8), ('l2-bits', 33, 'B', 14),
    ('l2-bits-low', 33, 'B', 5), ('crypt', 36, '>I', 2),
    ('backing-long', 16, '>I', 2000), ('version-2', 4, '>I', 2),
    ('huge', 24, '>Q', 1 << 62), ('l2-past-eof', 48, '>Q', 1 << 40),
]:
    b = bytearray(base)
    struct.pack_into(fmt, b, off, val)
    if name == 'backing-long':
        struct.pack_into('>Q', b, 8, 48)
    open('m-%s.qcow' % name, 'wb').write(b)
PY
mboth qcow/malformed "cp ../m-*.qcow ." \
    "for f in m-*.qcow; do echo \$f; \$QI info -f qcow \$f; \$QO -f qcow -c 'read -v 1M 16' \$f; done"

# Vireo refuses what QEMU opens: AES-encrypted images (QEMU shows them in info and needs the key
# to read), and a header whose L1 table lies past the end of the file (QEMU reads zeros there,
# allocating the table the header claims)
python3 -c 'import struct
b = bytearray(open("base.qcow", "rb").read())
struct.pack_into(">I", b, 36, 1)
open("aes.qcow", "wb").write(b)
b = bytearray(open("base.qcow", "rb").read())
struct.pack_into(">Q", b, 24, 1 << 50)
open("lying.qcow", "wb").write(b)'
for f in aes lying; do
    $QIMG info $f.qcow >out 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -q "Could not open '$f.qcow'" out; then ok "qcow/refused-$f"; else fail "qcow/refused-$f" "rc=$rc $(head -c 200 out)"; fi
done
finish
