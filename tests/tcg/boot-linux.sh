#!/bin/bash
# Debian's cloud kernel with the test initramfs under -accel tcg with -smp 1, -smp 2 and odd
# topologies (no /dev/kvm needed), the way tests/kvm/boot.sh boots it under KVM: the busybox init prints its
# marker and cpus=N and powers the machine off (exit 0, nothing on stderr). With -smp 2 the AP
# comes up through INIT/SIPI and Linux's real-mode trampoline (16-bit real mode, 32-bit
# protected mode, long mode). Prints the time to power-off.
. "$(dirname "$0")/../lib/common.sh"
kernel=$VIREO_CACHE/vmlinuz-cloud
initrd=$VIREO_CACHE/test-initrd.cpio.gz
if ! [ -r "$kernel" ] || ! [ -r "$initrd" ]; then
    skip tcg-linux "no $kernel or $initrd (scripts/guests.sh fetches them)"
    finish; exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the third run: -smp 2 with a 4 MiB code buffer, so that it is flushed (about a hundred times)
# while both vCPUs run; VIREO_TCG_STATS prints the count on stderr at exit. Then two topologies
# whose APIC IDs are not 0..n-1 in the MADT's order unless the MADT, the vCPUs and the
# userspace irqchip share one CPU list: 6 CPUs as 2 sockets of 3 cores (APIC IDs 0,1,2,4,5,6:
# Linux wakes each AP by the MADT's ID), and 3 of 4 possible CPUs as cores of 2 threads (the
# fourth listed disabled: Linux allows it for hotplug and brings up 3).
for run in 1 2 flush topo6 topo3; do
    smp=$run name=tcg-linux-smp$run args=$run possible=''
    [ $run = topo3 ] && possible=4
    [ $run = 1 ] && name=tcg-linux
    [ $run = flush ] && smp=2 args=2 name=tcg-linux-smp2-flush
    [ $run = topo6 ] && smp=6 args=6,sockets=2,cores=3 name=tcg-linux-smp6-2sockets-3cores
    [ $run = topo3 ] && smp=3 args=3,maxcpus=4,cores=2,threads=2 name=tcg-linux-smp3-maxcpus4-threads2
    start=$(date +%s.%N)
    if [ $run = flush ]; then
        export VIREO_TCG_BUFFER_MB=4 VIREO_TCG_STATS=1
    fi
    timeout ${VIREO_BOOT_TIMEOUT:-120} "$VIREO" -accel tcg -m 512 -smp "$args" -display none \
        -serial stdio -no-reboot -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1" >"$work/out" 2>"$work/err"
    rc=$?
    end=$(date +%s.%N)
    unset VIREO_TCG_BUFFER_MB VIREO_TCG_STATS
    if [ $run = flush ]; then
        flushes=$(sed -n 's/^tcg stats: .* \([0-9][0-9]*\) flushes.*/\1/p' "$work/err")
        if [ "${flushes:-0}" -gt 0 ]; then
            ok "$name/flushed"
            echo "# $(cat "$work/err")"
        else
            fail "$name/flushed" "no flush counted: $(head -c 300 "$work/err")"
        fi
        sed -i '/^tcg stats: /d' "$work/err"
    fi
    if grep -q 'Run /init as init process' "$work/out" && grep -q '^VIREO-INIT-OK' "$work/out" &&
        grep -qE "^cpus=$smp[[:space:]]*$" "$work/out"; then
        ok "$name/init-marker"
    else
        fail "$name/init-marker" "exit $rc; last lines: $(tail -5 "$work/out" | tr '\n' '|'); cpus: $(grep '^cpus=' "$work/out"); stderr: $(head -c 300 "$work/err")"
    fi
    if [ $smp -gt 1 ]; then
        if grep -q "smp: Brought up 1 node, $smp CPUs" "$work/out" &&
            ! grep -q "failed to boot\|CPU.*not responding" "$work/out"; then
            ok "$name/all-cpus-up"
        else
            fail "$name/all-cpus-up" "$(grep -E 'smp:|smpboot' "$work/out" | tr '\n' '|')"
        fi
    fi
    if [ -n "$possible" ]; then # the disabled MADT entries: CPUs Linux may hot-add
        if grep -q "smpboot: Allowing $possible CPUs, $((possible - smp)) hotplug CPUs" "$work/out"; then
            ok "$name/possible-cpus"
        else
            fail "$name/possible-cpus" "$(grep -E 'smpboot: Allowing' "$work/out")"
        fi
    fi
    if [ $rc -eq 0 ] && ! [ -s "$work/err" ]; then
        ok "$name/poweroff-exit-0"
    else
        fail "$name/poweroff-exit-0" "exit $rc; stderr: $(head -c 300 "$work/err")"
    fi
    echo "# -smp $args: $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s from start to power-off"
done
finish
