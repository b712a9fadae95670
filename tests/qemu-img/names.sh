#!/bin/bash
# Image names with special characters in qemu-img's JSON and human output, beside QEMU 7.2:
# escapes, non-ASCII (\uXXXX, surrogate pairs), modified UTF-8 (C0 80 = U+0000) and invalid
# UTF-8 (U+FFFD per broken sequence) go through the one JSON serializer (util/qjson.c).
. "$(dirname "$0")/lib.sh"
have_ref || { skip names "$REF_QIMG not installed"; exit 0; }
i=0
for n in $'caf\xc3\xa9' $'bad\xff\xfe' $'ov\xc0\x80l' $'cut\xe2\x82' $'emoji\xf0\x9f\x98\x80' \
    $'tab\tq"\\' $'del\x7f'; do
    i=$((i + 1))
    both "names/$i" "\$QI create -q -f qcow2 '$n.qcow2' 1M" "\$QI info --output=json '$n.qcow2'" \
        "\$QI info '$n.qcow2'" "\$QI check --output=json '$n.qcow2'"
done
finish
