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
untimed() { grep -v '^Run completed in'; }
# bench -d N with aio=native keeps N requests in flight: rewrites of preallocated clusters give
# QEMU's bytes; allocating writes (run one by one, in order) give QEMU's content
both aio/bench-depth '$QI create -q -f qcow2 -o preallocation=metadata p.qcow2 8M' \
    '$QI bench -w -t none -i native -d 8 -c 1000 -s 512 -S 1536 --pattern=0x77 p.qcow2 | untimed' \
    '$QI bench -t none -n -d 16 -c 2000 -s 4096 -S 8192 p.qcow2 | untimed' \
    '$QI bench -w -t none -i native -d 16 -c 300 -s 4096 -S 12288 -o 1000 p.qcow2 | untimed' \
    '$QI bench -w -t none -i native -d 4 --flush-interval=8 -c 100 -s 64k p.qcow2 | untimed' \
    '$QI bench -w -t none -i native -d 16 --flush-interval=8 -c 100 -s 64k p.qcow2 | untimed' \
    '$QI check p.qcow2'
for t in r o; do
    rm -f $t.qcow2
    $REF_QIMG create -q -f qcow2 $t.qcow2 64M
    if [ $t = r ]; then Q=$REF_QIMG; else Q=$QIMG; fi
    $Q bench -w -t none -i native -d 16 -c 2000 -s 4096 -S 65536 --pattern=0x5a $t.qcow2 >/dev/null
    $Q bench -w -t none -i native -d 16 -c 3000 -s 4096 -S 12288 -o 1000k --pattern=0x3c $t.qcow2 >/dev/null
done
if $REF_QIMG compare r.qcow2 o.qcow2 >/dev/null && $REF_QIMG check o.qcow2 >/dev/null; then
    ok aio/bench-depth-alloc
else
    fail aio/bench-depth-alloc "content differs from QEMU's or check fails"
fi
if command -v strace >/dev/null; then
    $REF_QIMG create -q -f raw d.raw 16M
    # most requests in flight at once on one AIO context (io_submit adds, io_getevents ends)
    inflight() {
        # (LeakSanitizer cannot run under ptrace)
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
            strace -f -e trace=io_submit,io_getevents -o st3.log "$@" >/dev/null 2>&1
        python3 - st3.log <<'PY'
import re, sys
cur, top = {}, {}
for line in open(sys.argv[1]):
    m = re.search(r'io_(submit|getevents)\((0x[0-9a-f]+),.*= (-?\d+)$', line.strip())
    if m:
        ctx, n = m.group(2), max(0, int(m.group(3)))
        cur[ctx] = cur.get(ctx, 0) + (n if m.group(1) == 'submit' else -n)
        top[ctx] = max(top.get(ctx, 0), cur[ctx])
print(max(top.values(), default=0))
PY
    }
    for d in 1 16; do
        for f in "-f raw d.raw" "-f qcow2 o/p.qcow2"; do
            got=$(inflight $QIMG bench -t none -i native -d $d -c 400 -s 4096 $f)
            if [ "$got" = $d ]; then
                ok "aio/bench-inflight-d$d-${f:3:4}"
            else
                fail "aio/bench-inflight-d$d-${f:3:4}" "at most $got requests in flight, want $d"
            fi
        done
    done
fi
finish
