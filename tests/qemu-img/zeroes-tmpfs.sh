#!/bin/bash
# write-zeroes on a file system without FALLOC_FL_ZERO_RANGE (tmpfs: the nested test guest's
# only writable one): QEMU 7.2 punches a hole and allocates it again, so the range maps as
# zeros; the image's map must be QEMU's (qemu-io write -z, then qemu-img map of both images).
. "$(dirname "$0")/../lib/common.sh"
QEMU_IO_REF=${QEMU_IO:-/usr/bin/qemu-io}
QIMG_REF=${QEMU_IMG:-/usr/bin/qemu-img}
if ! [ -x "$QEMU_IO_REF" ] || ! [ -x "$QIMG_REF" ]; then
    skip zeroes-tmpfs "real qemu-io/qemu-img not installed"; finish; exit 0
fi
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" != tmpfs ]; then
    skip zeroes-tmpfs "/dev/shm is not a tmpfs"; finish; exit 0
fi
d=$(mktemp -d /dev/shm/vireo-zeroes.XXXXXX)
trap 'rm -rf "$d"' EXIT
head -c 1048576 /dev/urandom >"$d/q.raw"
cp "$d/q.raw" "$d/v.raw"
"$QEMU_IO_REF" -f raw -c "write -z 128k 64k" -c "discard 64k 64k" "$d/q.raw" >/dev/null 2>&1
"$VIREO_BUILD/qemu-io" -f raw -c "write -z 128k 64k" -c "discard 64k 64k" "$d/v.raw" >/dev/null 2>&1
q=$("$QIMG_REF" map --output=json -f raw "$d/q.raw")
v=$("$QIMG_REF" map --output=json -f raw "$d/v.raw")
if [ "$q" = "$v" ] && cmp -s "$d/q.raw" "$d/v.raw"; then
    ok zeroes-tmpfs/map-as-qemu
else
    fail zeroes-tmpfs/map-as-qemu "qemu $(echo "$q" | tr -d ' \n' | head -c 300) vireo $(echo "$v" | tr -d ' \n' | head -c 300)"
fi
finish
