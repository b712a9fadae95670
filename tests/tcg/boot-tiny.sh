#!/bin/bash
# Tiny freestanding kernels (tests/lib/mkkernel.py) under -accel tcg: serial output, exit status
# and stderr, and the same kernels under KVM when KVM starts here (any kind), compared. Covers port I/O,
# ACPI power-off, IDT delivery of a #PF with CR2 and error code, a local APIC timer interrupt
# waking HLT (the userspace irqchip), a triple fault with its register dump, and a halted guest
# that a signal ends (HLT sleeping, vCPU stop), and a machine reset (reset-ram: RAM kept, the
# kernel image written again, COM1 reset; the old rebuild-everything reset failed it by booting
# "first boot" forever).
. "$(dirname "$0")/../lib/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kvm_ok=false
kvm_why=$(kvm_problem) # tests/lib/common.sh: KVM starts a VM here (any kind of KVM)
[ -z "$kvm_why" ] && kvm_ok=true
for k in hello page-fault timer-irq triple-fault hlt-loop reset-ram; do
    python3 "$VIREO_ROOT/tests/lib/mkkernel.py" "$work/$k" $k
done

# run ACCEL KERNEL: stdout to $work/ACCEL-KERNEL.out, stderr to .err, status in .rc
run() {
    timeout 30 "$VIREO" -accel "$1" -m 64 -display none -serial stdio -kernel "$work/$2" \
        >"$work/$1-$2.out" 2>"$work/$1-$2.err"
    echo $? >"$work/$1-$2.rc"
}

declare -A want=([hello]="hello" [page-fault]="page fault handled" [timer-irq]="timer interrupt"
    [reset-ram]="reset-ram: first boot
reset-ram: second boot, RAM kept, image flag=0 scr-cleared=1")
for k in hello page-fault timer-irq reset-ram; do
    run tcg $k
    rc=$(cat "$work/tcg-$k.rc")
    if [ "$rc" = 0 ] && [ "$(cat "$work/tcg-$k.out")" = "${want[$k]}" ] && ! [ -s "$work/tcg-$k.err" ]; then
        ok "tcg-boot/$k"
    else
        fail "tcg-boot/$k" "exit $rc; stdout: $(head -c 200 "$work/tcg-$k.out"); stderr: $(head -c 300 "$work/tcg-$k.err")"
    fi
    if $kvm_ok; then
        run kvm $k
        if cmp -s "$work/tcg-$k.out" "$work/kvm-$k.out" && [ "$(cat "$work/kvm-$k.rc")" = "$rc" ]; then
            ok "tcg-boot/$k-same-as-kvm"
        else
            fail "tcg-boot/$k-same-as-kvm" "kvm: exit $(cat "$work/kvm-$k.rc"), $(head -c 200 "$work/kvm-$k.out")"
        fi
    else
        skip "tcg-boot/$k-same-as-kvm" "$kvm_why"
    fi
done

run tcg triple-fault
rc=$(cat "$work/tcg-triple-fault.rc")
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q 'triple fault' "$work/tcg-triple-fault.err" &&
    grep -q '^RIP=' "$work/tcg-triple-fault.err"; then
    ok tcg-boot/triple-fault
else
    fail tcg-boot/triple-fault "exit $rc; stderr: $(head -c 300 "$work/tcg-triple-fault.err")"
fi

for smp in 1 2; do
    "$VIREO" -accel tcg -m 64 -smp $smp -display none -kernel "$work/hlt-loop" >"$work/out" 2>&1 &
    pid=$!
    sleep 1
    if ! kill -0 $pid 2>/dev/null; then
        wait $pid
        fail tcg-boot/hlt-smp$smp "the process ended by itself (status $?): $(head -c 300 "$work/out")"
        continue
    fi
    cpu=$(ps -o time= -p $pid | awk -F: '{print $NF}')
    kill -TERM $pid
    wait $pid
    rc=$?
    if [ $rc -eq 0 ] && grep -q 'terminating on signal 15' "$work/out"; then
        ok "tcg-boot/hlt-smp$smp-sigterm"
    else
        fail "tcg-boot/hlt-smp$smp-sigterm" "exit $rc; output: $(head -c 300 "$work/out")"
    fi
    # a halted vCPU sleeps: well under a second of CPU time in the second it ran
    if [ "${cpu%%.*}" -lt 1 ] 2>/dev/null; then
        ok "tcg-boot/hlt-smp$smp-sleeps"
    else
        fail "tcg-boot/hlt-smp$smp-sleeps" "cpu time $cpu"
    fi
done
finish
