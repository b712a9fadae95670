#!/bin/bash
# aio=native (Linux AIO through libaio, with O_DIRECT) in qemu-io and qemu-img bench: same
# output and errors as QEMU 7.2, and the requests really go through io_submit.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip aio "real qemu-img not installed"; exit 0; fi
if ! dd if=/dev/zero of=direct.tst bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    skip aio "no O_DIRECT here"; exit 0
fi
both aio/qemu-io '$QI create -q -f qcow2 x.qcow2 4M' \
    '$QO -i native -c "read 0 4k" x.qcow2' \
    '$QO -i native -n -c "write -P 3 0 4k" -c "read -P 3 0 4k" -c "read -P 0 4k 4k" -c "write -P 5 1000 3000" -c "read -P 5 1000 3000" -c "write -z 64k 64k" -c "aio_write -P 7 1M 64k" -c "aio_flush" -c "read -P 7 1M 64k" x.qcow2' \
    '$QO -i foo -c "read 0 4k" x.qcow2' '$QO --aio=threads -c "read -P 3 0 4k" x.qcow2' \
    '$QI check x.qcow2' '$QI bench -i native -c 10 x.qcow2'
if command -v strace >/dev/null; then
    strace -f -e trace=io_submit -o st.log $QIO -i native -n -c 'read 0 64k' o/x.qcow2 >/dev/null 2>&1 ||
        true
    if grep -q 'io_submit(' st.log; then ok aio/io_submit; else fail aio/io_submit "no io_submit seen"; fi
    strace -f -e trace=io_submit -o st2.log $QIMG bench -i native -t none -w -c 100 o/x.qcow2 >/dev/null 2>&1
    if grep -q 'io_submit(' st2.log; then ok aio/bench-io_submit; else fail aio/bench-io_submit "no io_submit seen"; fi
else
    skip aio/io_submit "strace not installed"
fi
finish
