#!/bin/bash
# Application processors under KVM start the way hardware starts them: the tiny kernel
# tests/lib/asm/smp-start.s (via tests/lib/mkkernel.py) sends INIT + SIPI + SIPI to all APs, twice;
# every AP must arrive in real mode at the SIPI vector (CS=vector<<8, IP=0, CR0.PE and IF clear)
# exactly once per round, with its local APIC's ID register equal to its CPUID initial APIC ID,
# and mark that ID, which must follow the -smp topology (thread | core | socket bit fields, as
# QEMU numbers them). This catches a VMM that makes an AP runnable before its SIPI, writes
# registers into an AP after it started, or gives the kernel's LAPIC and CPUID different APIC
# IDs. Repeated boots look for start-up races.
# Environment: VIREO_SMP_START_LOOPS (repeats of the -smp 4 case, default 3: each tiny guest that ends is a chance for the nested outer guest to freeze, see tests/nested/boot.sh).
. "$(dirname "$0")/../lib/common.sh"
kvm_gate kvm-smp-start hw
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$VIREO_ROOT/tests/lib/mkkernel.py" "$work/k" smp-start

# run NAME -smp-ARG CPUS APIC-ID...: one boot; the expected line is built from the APIC IDs
run() {
    local name=$1 smp=$2 n=$3 mask=0 id aps=$(($3 - 1)) rc line want
    shift 3
    for id in "$@"; do
        mask=$((mask | 1 << id))
    done
    want=$(printf 'smp-start cpus=%08x started=%08x ids=%08x again=%08x ids2=%08x bad=00000000' \
        "$n" "$aps" "$mask" "$aps" "$mask")
    timeout 60 "$VIREO" -accel kvm -m 64 -smp "$smp" -display none -serial stdio -no-reboot \
        -kernel "$work/k" </dev/null >"$work/out" 2>&1
    rc=$?
    line=$(tr -d '\r' <"$work/out" | grep '^smp-start' | head -n 1)
    if [ $rc = 0 ] && [ "$line" = "$want" ]; then
        ok "kvm-smp-start/$name"
    else
        fail "kvm-smp-start/$name" "exit $rc; want '$want'; output: $(head -c 600 "$work/out")"
    fi
}

run smp1 1 1
run smp2 2 2 1
run smp6-2sockets-3cores 6,sockets=2,cores=3 6 1 2 4 5 6
run smp8-2cores-2threads 8,sockets=2,cores=2,threads=2 8 1 2 3 4 5 6 7
for i in $(seq "${VIREO_SMP_START_LOOPS:-3}"); do
    run "smp4-boot$i" 4 4 1 2 3
done
finish
