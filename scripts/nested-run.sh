#!/bin/bash
# Runs a shell command inside a nested-KVM guest: real QEMU with TCG (-cpu max emulates SVM) boots
# Debian's generic kernel with the cache's outer-initrd.cpio.gz, which loads kvm-amd (or kvm-intel),
# mounts this machine's / read-only over 9p, chroots into it and runs the command with /dev/kvm
# usable. Works without /dev/kvm on this machine. The console streams to stdout; the exit status is
# the command's (from the VIREO-NESTED-EXIT=<n> marker), 124 on timeout, 125 when no marker came.
#   scripts/nested-run.sh [-t SECONDS] 'SHELL COMMAND'
# Inside, the command runs as root in the current directory with HOME=/tmp, VIREO_NESTED=1 and
# VIREO and every VIREO_* variable of the caller; writable: /tmp /run /var/tmp /dev/shm (tmpfs), nothing else.
# Environment: VIREO_CACHE (guest cache), VIREO_NESTED_TIMEOUT (default 600 s),
#   VIREO_NESTED_STALL (seconds: with it, the command prints a heartbeat line `# nested: alive`
#   every 20 s, and a console silent for this long (the outer kernel's soft-lockup and RCU-stall
#   reports do not count) means the outer guest froze: it is killed and
#   the exit status is 124, as on a timeout; default 0, off), VIREO_NESTED_MEM (MiB, default 3072), VIREO_NESTED_SMP (default 2), VIREO_NESTED_QEMU (the outer
#   QEMU, default qemu-system-x86_64), VIREO_NESTED_DEBUG=1 (show the outer kernel's boot log).
set -u
timeout_s=${VIREO_NESTED_TIMEOUT:-600}
if [ "${1:-}" = -t ]; then
    timeout_s=$2
    shift 2
fi
if [ $# -ne 1 ] || [ -z "$1" ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
export VIREO_CACHE=${VIREO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
CACHE=$VIREO_CACHE
for f in vmlinuz-generic outer-initrd.cpio.gz; do
    if [ ! -s "$CACHE/$f" ]; then
        echo "nested-run: $CACHE/$f missing: run scripts/setup (or scripts/guests.sh) first" >&2
        exit 125
    fi
done
qemu=${VIREO_NESTED_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || { echo "nested-run: $qemu not found (apt-get install qemu-system-x86)" >&2; exit 125; }

# The command as the guest runs it: same directory, caller's VIREO_* variables.
cmd="cd $(printf '%q' "$PWD") || exit 125"
while IFS= read -r v; do
    cmd+="; export $v=$(printf '%q' "${!v}")"
done < <(compgen -e | grep -E '^VIREO(_|$)' | grep -vE '^VIREO_NESTED_')
stall=${VIREO_NESTED_STALL:-0}
if [ "$stall" -gt 0 ]; then
    # The heartbeat shows the outer guest's clock still runs; it ends with the command.
    cmd+="; (while sleep 20; do echo '# nested: alive'; done) & _hb=\$!; { $1
}; _rc=\$?; kill \$_hb; exit \$_rc"
else
    cmd+="; $1"
fi
b64=$(printf '%s' "$cmd" | base64 -w0)
# x86 COMMAND_LINE_SIZE is 2048: keep room for the rest.
if [ ${#b64} -gt 1800 ]; then
    echo "nested-run: command too long for the kernel command line (${#b64} base64 chars); put it in a script" >&2
    exit 2
fi
if [ "${VIREO_NESTED_DEBUG:-0}" = 1 ]; then
    klog="loglevel=7"
else
    klog="quiet loglevel=1"
fi

log=$(mktemp /tmp/vireo-nested.XXXXXX)
trap 'rm -f "$log" "$log.rc" "$log.pid"' EXIT
t0=$(date +%s.%N)
# timeout: the outer QEMU gets killed (TERM, then KILL 10 s later) at the time limit. Its status
# goes to $log.rc (the pipeline runs in the background so the console can be watched for a stall).
stalled=0
{
    timeout -k 10 "$timeout_s" "$qemu" -accel tcg -cpu max -m "${VIREO_NESTED_MEM:-3072}" \
        -smp "${VIREO_NESTED_SMP:-2}" -nographic -no-reboot -pidfile "$log.pid" \
        -kernel "$CACHE/vmlinuz-generic" -initrd "$CACHE/outer-initrd.cpio.gz" \
        -append "console=ttyS0 panic=-1 mitigations=off $klog vireo.cwd=$(printf '%s' "$PWD" | base64 -w0) vireo.cmd=$b64" \
        -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
        </dev/null 2>&1
    echo $? >"$log.rc"
} | sed -u 's/\r$//' | tee "$log" &
pipe=$!
if [ "$stall" -gt 0 ]; then
    size=-1
    last=$SECONDS
    while kill -0 $pipe 2>/dev/null; do
        sleep 2
        # Progress is console output other than the outer kernel's lockup and stall reports: a
        # frozen outer guest may still print those (its timers run while its CPUs are stuck).
        now=$(grep -avE 'soft lockup|rcu.*(stall|detected)|hung_task|blocked for more than' "$log" 2>/dev/null | wc -c)
        if [ "$now" != "$size" ]; then
            size=$now
            last=$SECONDS
        elif [ $((SECONDS - last)) -ge "$stall" ] && [ -s "$log.pid" ]; then
            echo "nested-run: the console was silent for ${stall}s: the outer guest froze; killing it" >&2
            stalled=1
            q=$(cat "$log.pid")
            kill -TERM "$q" 2>/dev/null
            kill -CONT "$q" 2>/dev/null # a stopped process takes TERM once it runs again
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$q" 2>/dev/null || break; sleep 1; done
            kill -KILL "$q" 2>/dev/null
            break
        fi
    done
fi
wait $pipe
qrc=$(cat "$log.rc" 2>/dev/null || echo 125)
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
rc=$(sed -n 's/^.*VIREO-NESTED-EXIT=\([0-9][0-9]*\).*$/\1/p' "$log" | tail -n 1)
if [ $stalled = 1 ]; then
    echo "nested-run: outer guest killed after ${stall}s of console silence (a frozen outer guest)" >&2
    exit 124
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    echo "nested-run: timed out after ${timeout_s}s (outer QEMU killed)" >&2
    exit 124
fi
if [ -z "$rc" ]; then
    echo "nested-run: no VIREO-NESTED-EXIT marker (outer QEMU exited with $qrc after ${secs}s)" >&2
    exit 125
fi
echo "nested-run: command exited with $rc (outer guest ran ${secs}s)" >&2
exit "$rc"
