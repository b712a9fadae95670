#!/bin/bash
# Boots the test guest (Debian's cloud kernel + the cache's test-initrd) under KVM with $VIREO, the
# way QEMU is used: -accel kvm -m 512 -smp N -nographic -no-reboot -kernel -initrd -append.
# Checks: the init marker, cpus=N, exit status 0 after the guest powers off, and after a guest
# reboot under -no-reboot; odd -smp topologies (APIC IDs with gaps, maxcpus above cpus, threads);
# -m 4G; the model name with -cpu qemu64 and -cpu host. A failed boot shows
# the console's last lines; a hung one also its HMP `info status` / `info registers -a`, and inside
# the nested guest the triple faults and injected exceptions the kernel traced.
# Runs here when /dev/kvm is hardware KVM, and inside the nested-KVM guest (tests/nested/boot.sh).
# Environment: VIREO=/usr/bin/qemu-system-x86_64 runs the same checks on real QEMU (the oracle);
#   VIREO_BOOT_TIMEOUT seconds per boot (default 60, 90 nested: below the nested per-script
#   limit, so a hung boot is still examined); VIREO_KVM_FORCE=1 runs even where /dev/kvm looks
#   like software KVM.
vireo_override=${VIREO:-}
. "$(dirname "$0")/../lib/common.sh"
[ -n "$vireo_override" ] && VIREO=$vireo_override

# Hardware KVM (tests/lib/common.sh: KVM starts a VM and the CPU shows vmx or svm); without it
# /dev/kvm may be a software KVM (e.g. kvm_pvm) that cannot run a stock Debian kernel. Inside the
# nested guest /dev/kvm must work: a problem there is the harness failing.
nested=${VIREO_NESTED:-0}
kvm_gate kvm-boot hw
C=$VIREO_CACHE
for f in vmlinuz-cloud test-initrd.cpio.gz; do
    if [ ! -s "$C/$f" ]; then
        fail kvm-boot "$C/$f missing: run 'sudo scripts/setup' (it fetches the guests)"
        finish; exit
    fi
done
if [ ! -x "$VIREO" ]; then
    fail kvm-boot "$VIREO not built"
    finish; exit
fi
if [ "$nested" = 1 ]; then tmo=${VIREO_BOOT_TIMEOUT:-90}; else tmo=${VIREO_BOOT_TIMEOUT:-60}; fi
echo "# $VIREO; guests from $C; ${tmo}s per boot"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-kvm-boot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Inside the nested guest, the kernel's kvm tracepoints record every triple fault (kvm_exit with
# SVM's shutdown or VMX's triple-fault reason, which keeps the exception being delivered: the
# registers a VMM can read afterwards are already reset on AMD), every exception KVM injects and
# every nested page fault (a few hundred per boot; a guest livelocked on one shows its address);
# a failed boot shows the last of them. Only there: this machine's own tracing is left alone.
T=/sys/kernel/tracing
tracing=0
if [ "$nested" = 1 ] && [ -w $T/events/kvm/kvm_exit/filter ]; then
    echo 'exit_reason == 127 || exit_reason == 2' >$T/events/kvm/kvm_exit/filter &&
        echo 1 >$T/events/kvm/kvm_exit/enable &&
        echo 1 >$T/events/kvm/kvm_inj_exception/enable &&
        echo 1 >$T/events/kvm/kvm_page_fault/enable && tracing=1
    trap 'echo 0 >$T/events/kvm/kvm_exit/enable; echo 0 >$T/events/kvm/kvm_inj_exception/enable;
          echo 0 >$T/events/kvm/kvm_page_fault/enable; echo 0 >$T/events/kvm/kvm_exit/filter
          rm -rf "$tmp"' EXIT
fi

# run_guest NAME ARGS...: runs $VIREO with a QMP socket, console to $tmp/NAME.log; sets rc and secs.
# A guest still running after $tmo seconds is asked for its state (HMP info status, info registers
# -a) before it is killed; rc is then 124 and $tmp/NAME.hung holds the answers.
run_guest() {
    local name=$1 sock=$tmp/qmp.sock pid end t0
    shift
    rm -f "$sock" "$tmp/$name.hung"
    [ $tracing = 1 ] && : >$T/trace
    t0=$(date +%s.%N)
    "$VIREO" "$@" -qmp "unix:$sock,server=on,wait=off" </dev/null >"$tmp/$name.log" 2>&1 &
    pid=$!
    end=$((SECONDS + tmo))
    while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $end ]; do
        sleep 0.2
    done
    if kill -0 $pid 2>/dev/null; then
        timeout 30 python3 - "$sock" "$VIREO_ROOT/tests/lib" >"$tmp/$name.hung" 2>&1 <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from qmp import QMP
q = QMP(sys.argv[1])
q.negotiate()
for c in ("info status", "info registers -a"):
    print("(hmp) " + c)
    print(q.hmp(c).rstrip())
PY
    fi
    if kill -0 $pid 2>/dev/null; then
        kill -TERM $pid 2>/dev/null
        for _ in $(seq 25); do kill -0 $pid 2>/dev/null || break; sleep 0.2; done
        kill -KILL $pid 2>/dev/null
        wait $pid
        rc=124
    else
        rm -f "$tmp/$name.hung" # it ended by itself (perhaps while being asked): not hung
        wait $pid
        rc=$?
    fi
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

# explain NAME: the console's last lines, the answers of a hung guest, traced faults (nested).
explain() {
    tr -d '\r' <"$tmp/$1.log" | tail -n 15 | sed 's/^/    | /'
    [ -s "$tmp/$1.hung" ] && sed 's/^/    hung: /' "$tmp/$1.hung"
    if [ $tracing = 1 ]; then
        grep -v '^#' $T/trace | tail -n 8 | sed 's/^/    trace: /'
    fi
}

# boot_once NAME SMP ACTION: one guest boot, checked; sets why (empty: passed). SMP is the -smp
# argument; its first number is the CPU count the guest must see, and with maxcpus= the guest
# must also allow the rest as hotplug CPUs (the MADT's disabled entries).
boot_once() {
    local name=$1 smp=$2 action=$3 log=$tmp/$1.log n ncpu=${2%%,*} maxc
    maxc=$(echo ",$2," | sed -n 's/.*,maxcpus=\([0-9]*\),.*/\1/p')
    why=""
    run_guest "$name" -accel kvm -m 512 -smp "$smp" -nographic -no-reboot \
        -kernel "$C/vmlinuz-cloud" -initrd "$C/test-initrd.cpio.gz" \
        -append "console=ttyS0 panic=-1 vireo.action=$action"
    n=$(tr -d '\r' <"$log" | sed -n 's/^cpus=\([0-9]*\)$/\1/p' | head -n 1)
    if [ $rc = 124 ]; then
        why="timed out after ${tmo}s"
    elif ! tr -d '\r' <"$log" | grep -qx 'VIREO-INIT-OK'; then
        why="no VIREO-INIT-OK marker (exit status $rc)"
    elif [ "$n" != "$ncpu" ]; then
        why="guest saw cpus=${n:-?}, expected $ncpu; $(tr -d '\r' <"$log" | grep -E 'smpboot: (Allowing|do_boot_cpu)' | tr '\n' ' ')"
    elif [ -n "$maxc" ] && ! tr -d '\r' <"$log" | grep -q "smpboot: Allowing $maxc CPUs, $((maxc - ncpu)) hotplug CPUs"; then
        why="guest did not allow $maxc CPUs: $(tr -d '\r' <"$log" | grep 'smpboot: Allowing')"
    elif ! tr -d '\r' <"$log" | grep -qx "vireo: $action"; then
        why="init did not reach '$action'"
    elif [ $rc != 0 ]; then
        why="exit status $rc after $action"
    fi
}

# checked NAME CHECK ARGS...: runs CHECK NAME ARGS... (a function that boots once and sets why,
# empty when the boot passed) and reports it. Inside the nested guest a failed boot gets one second
# attempt: the nested stack itself (QEMU's TCG emulating SVM) now and then breaks a guest, QEMU
# 7.2's as well as ours, most often one with several vCPUs, and sometimes as a hang: a vCPU spins on
# a lock or livelocks in nested page faults that never reach the VMM (docs/architecture.md,
# "Tests"). The first failure is printed with its diagnosis either way; a boot that fails twice
# fails the test. Outside the nested guest there is no second attempt.
checked() {
    local name=$1 check=$2 first=""
    shift 2
    "$check" "$name" "$@"
    if [ -n "$why" ] && [ "$nested" = 1 ]; then
        first="$why (${secs}s)"
        echo "# $name: first attempt failed: $first; last console lines:"
        explain "$name" | sed 's/^/#/'
        "$check" "$name" "$@"
    fi
    if [ -z "$why" ]; then
        ok "$name (${ok_detail:+$ok_detail, }${secs}s${first:+; second attempt, the first failed: $first})"
    else
        fail "$name" "$why (${secs}s)${first:+; the first attempt failed too: $first}; last console lines:"
        explain "$name"
    fi
}

checked boot-smp1 boot_once 1 poweroff
# 4 vCPUs of 6 possible in 2 sockets of 3 cores: APIC IDs 0,1,2,4 present and 5,6 disabled, so
# Linux wakes CPU#3 by the MADT's ID 4 and allows 2 hotplug CPUs (the MADT, KVM's vCPU IDs and
# CPUID must agree); then 3 of 4 possible CPUs as cores of 2 threads.
checked boot-smp4-2sockets-3cores-maxcpus6 boot_once 4,maxcpus=6,sockets=2,cores=3 poweroff
checked boot-smp3-maxcpus4-threads2 boot_once 3,maxcpus=4,cores=2,threads=2 poweroff
checked reboot-smp2 boot_once 2 reboot

# -m beyond the 32-bit PCI hole (RAM split at 3 GiB, the rest from 4 GiB) and -cpu models: the
# guest sees all the memory, and the CPU model QEMU would show (qemu64's brand string by default,
# the host's with -cpu host).
# guest_line NAME KEY ARGS...: boot, set $val to the value of the guest's KEY= line
guest_line() {
    local name=$1 key=$2
    shift 2
    run_guest "$name" -accel kvm -smp 1 -nographic -no-reboot "$@" \
        -kernel "$C/vmlinuz-cloud" -initrd "$C/test-initrd.cpio.gz" \
        -append "console=ttyS0 panic=-1 vireo.action=poweroff"
    val=$(tr -d '\r' <"$tmp/$name.log" | sed -n "s/^$key=//p" | head -n 1)
}
# 4 GiB less what the kernel keeps for itself: well above the 3 GiB below the hole.
mem_4g() {
    guest_line "$1" memkb -m 4G
    ok_detail="MemTotal ${val} kB"
    why=""
    if [ $rc != 0 ] || [ -z "$val" ] || [ "$val" -le $((3584 * 1024)) ] || [ "$val" -gt $((4096 * 1024)) ]; then
        why="guest MemTotal '${val}' kB with -m 4G, exit status $rc"
    fi
}
checked mem-4g mem_4g
ok_detail=""
cpu_qemu64() {
    guest_line "$1" model -m 256
    why=""
    if [ $rc != 0 ] || [ "$val" != "QEMU Virtual CPU version 2.5+" ]; then
        why="guest model name '$val', exit status $rc"
    fi
}
checked cpu-qemu64 cpu_qemu64
# -cpu host passes everything KVM offers: inside the nested guest that includes la57, so this guest
# runs with 5-level paging (the others with 4).
host_model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
cpu_host() {
    guest_line "$1" model -m 256 -cpu host
    why=""
    if [ $rc != 0 ] || [ -z "$val" ] || [ "$val" != "$host_model" ]; then
        why="guest model name '$val', host '$host_model', exit status $rc"
    fi
}
checked cpu-host cpu_host
finish
