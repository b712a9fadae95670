#!/bin/bash
# Crash safety: our writers (qemu-io with allocating writes, zero writes and discards; qemu-img
# convert -n) are killed with SIGKILL at random points; real `qemu-img check` must then find at
# most leaked clusters (exit 0 or 3), never corruption, and real qemu-io must read the image.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip crash "real qemu-img not installed"; exit 0; fi

RANDOM=4242
python3 - <<'PY'
import random
random.seed(7)
with open("cmds", "w") as f:
    for i in range(1500):
        off = random.randrange(0, 60 << 20) & ~511
        ln = random.choice([512, 4096, 65536, 200 << 10, 1 << 20]) 
        r = random.random()
        if r < 0.7:
            f.write(f"-c\nwrite -q -P {i % 250} {off} {ln}\n")
        elif r < 0.85:
            f.write(f"-c\nwrite -q -z {off} {ln}\n")
        else:
            f.write(f"-c\ndiscard -q {off} {ln}\n")
PY
mapfile -t CMDS <cmds
head -c 48M /dev/urandom >src.raw
dd if=/dev/zero of=src.raw bs=1M seek=8 count=16 conv=notrunc status=none

verdict() { # NAME IMAGE SIZE
    "$REF_QIMG" check "$2" >chk 2>&1
    local rc=$?
    if [ $rc != 0 ] && [ $rc != 3 ]; then
        fail "$1" "real check rc=$rc: $(head -c 300 chk | tr '\n' '|')"
    elif ! "$REF_QIO" -r -c "read 0 $3" "$2" >rd 2>&1 || grep -qi error rd; then
        fail "$1" "real read: $(head -c 200 rd)"
    else
        ok "$1 (check rc=$rc)"
    fi
}
for i in $(seq 1 14); do
    cs=$((512 << (RANDOM % 8)))
    rm -f t.qcow2
    $QIMG create -q -f qcow2 -o cluster_size=$cs t.qcow2 64M
    $QIO "${CMDS[@]}" t.qcow2 >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    verdict "crash/qemu-io-$i-cs$cs" t.qcow2 64M
done
for i in $(seq 1 6); do
    cs=$((4096 << (RANDOM % 5)))
    rm -f c.qcow2
    $QIMG create -q -f qcow2 -o cluster_size=$cs c.qcow2 48M
    $QIMG convert -n -O qcow2 src.raw c.qcow2 >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 10))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    verdict "crash/convert-$i-cs$cs" c.qcow2 48M
done
finish
