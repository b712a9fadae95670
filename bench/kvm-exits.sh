#!/bin/bash
# KVM exits and VMM memory from power-on to the test guest's VIREO-INIT-OK line, Vireo beside real
# QEMU 7.2 booting the same kernel + initrd with the same command line (-accel kvm -m 512 -smp 1).
# Counts come from the kernel's kvm tracepoints (tracefs hist triggers, per vCPU thread of the
# emulator): kvm_exit by hardware exit reason, kvm_userspace_exit by KVM_RUN return reason (exits
# the VMM itself handles). Memory is sampled at the marker from /proc/PID: VmRSS, the resident part
# of the guest-RAM mapping(s) and the difference (the VMM's own overhead).
#   bench/kvm-exits.sh            in the nested-KVM guest (scripts/nested-run.sh), and directly too
#                                 when this machine has hardware KVM
#   bench/kvm-exits.sh --here     only in this machine's kernel (needs root, tracefs, /dev/kvm)
#   bench/kvm-exits.sh --nested   only nested
# Environment: VIREO (binary, default $VIREO_BUILD/qemu-system-x86_64), VIREO_BENCH_QEMU (default
#   /usr/bin/qemu-system-x86_64), VIREO_BENCH_SMP (1), VIREO_BENCH_MEM (MiB, 512),
#   VIREO_BENCH_TIMEOUT (seconds per boot; 60 direct, 300 nested), VIREO_BENCH_APPENDS (kernel
#   command lines separated by ';', default the tests' one and the same with quiet),
#   VIREO_BENCH_DEBUG=1 (dump the raw tables).
vireo_override=${VIREO:-}
. "$(dirname "$0")/../tests/lib/common.sh"
[ -n "$vireo_override" ] && VIREO=$vireo_override
export VIREO VIREO_CACHE VIREO_BUILD
cd "$VIREO_ROOT" || exit 1
QEMU=${VIREO_BENCH_QEMU:-/usr/bin/qemu-system-x86_64}
SMP=${VIREO_BENCH_SMP:-1}
MEM=${VIREO_BENCH_MEM:-512}
mode=${1:-auto}

hw_kvm() { [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null && grep -qwE 'vmx|svm' /proc/cpuinfo; }

if [ "$mode" != --here ]; then
    for f in vmlinuz-cloud test-initrd.cpio.gz; do
        [ -s "$VIREO_CACHE/$f" ] || { echo "kvm-exits: $VIREO_CACHE/$f missing: run 'sudo scripts/setup'" >&2; exit 1; }
    done
    rc=0
    if [ "$mode" != --nested ] && hw_kvm; then
        echo "== kvm-exits: directly on this machine's KVM"
        "$0" --here || rc=1
    fi
    if [ "$mode" != --direct ]; then
        echo "== kvm-exits: nested (KVM inside QEMU TCG -cpu max)"
        out=$(mktemp /tmp/vireo-bench.XXXXXX)
        VIREO_NESTED_TIMEOUT=${VIREO_NESTED_TIMEOUT:-900} scripts/nested-run.sh "bench/kvm-exits.sh --here" >"$out" 2>&1 || rc=1
        # Only the report: the outer console carries firmware and kernel noise.
        if grep -q '^kvm-exits-report-begin' "$out"; then
            grep '^kvm-exits: ' "$out"
            sed -n '/^kvm-exits-report-begin/,/^kvm-exits-report-end/p' "$out" | grep -v '^kvm-exits-report'
        else
            tail -n 30 "$out"
        fi
        rm -f "$out"
    fi
    exit $rc
fi

# --- measure here ---
die() { echo "kvm-exits: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (tracefs)"
[ -c /dev/kvm ] || die "no /dev/kvm"
TR=/sys/kernel/tracing
if [ ! -d $TR/events ]; then
    mount -t tracefs tracefs $TR 2>/dev/null || die "tracefs not available at $TR"
fi
[ -f $TR/events/kvm/kvm_exit/trigger ] || die "no kvm tracepoints in $TR (kvm module not loaded?)"
[ "${VIREO_NESTED:-0}" = 1 ] && tmo=${VIREO_BENCH_TIMEOUT:-300} || tmo=${VIREO_BENCH_TIMEOUT:-60}
tmp=$(mktemp -d /tmp/vireo-kvm-exits.XXXXXX)
EXIT_KEYS="hist:keys=common_pid,isa,exit_reason"
USER_KEYS="hist:keys=common_pid,reason"
cleanup() {
    echo "!$EXIT_KEYS" >>$TR/events/kvm/kvm_exit/trigger 2>/dev/null
    echo "!$USER_KEYS" >>$TR/events/kvm/kvm_userspace_exit/trigger 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# Reason names from the tracepoints' own print formats: "SECTION CODE NAME" per line. kvm_exit has
# two tables, VMX (isa 1) then SVM (isa 2); kvm_userspace_exit one.
symbols() {
    sed -n 's/^print fmt: //p' "$1" | awk '
    function num(s,  i, v) {
        s = tolower(s); if (substr(s, 1, 2) != "0x") return s + 0
        v = 0; for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    { n = split($0, secs, /__print_symbolic\(/)
      for (s = 2; s <= n; s++) { t = secs[s]
        while (match(t, /[{] *(0x)?[0-9a-fA-F]+, *("[^"]*" *)+[}]/)) {
            p = substr(t, RSTART + 1, RLENGTH - 2); t = substr(t, RSTART + RLENGTH)
            c = p; sub(/,.*/, "", c); gsub(/ /, "", c)
            nm = p; sub(/^[^,]*,/, "", nm); gsub(/[" ]/, "", nm)
            print s - 1, num(c), nm } } }'
}
cat $TR/events/kvm/kvm_exit/format >"$tmp/exit.fmt"
cat $TR/events/kvm/kvm_userspace_exit/format >"$tmp/user.fmt"
symbols "$tmp/exit.fmt" >"$tmp/exit.sym"
symbols "$tmp/user.fmt" >"$tmp/user.sym"

# hist_counts HISTFILE SYMFILE exit|user -> "NAME COUNT" lines summed over the threads in $tmp/tids.
hist_counts() { # histfile symfile kind(exit|user)
    awk -v kind="$3" -v tidfile="$tmp/tids" -v symfile="$2" '
    BEGIN {
        while ((getline l < tidfile) > 0) tids[l] = 1
        while ((getline l < symfile) > 0) { split(l, f, " "); sym[f[1] " " f[2]] = f[3] }
    }
    /^[{].*hitcount:/ {
        line = $0; gsub(/[{},:]/, " ", line); n = split(line, w, " ")
        # w: common_pid PID isa N exit_reason N hitcount N   |   common_pid PID reason N hitcount N
        for (i = 1; i < n; i += 2) v[w[i]] = w[i + 1]
        if (!(v["common_pid"] in tids)) next
        if (kind == "exit") {
            code = v["exit_reason"]; if (v["isa"] == 1) code = code % 65536
            name = sym[v["isa"] " " code]; if (name == "") name = "reason_" code
        } else {
            name = sym["1 " v["reason"]]; if (name == "") name = "reason_" v["reason"]
            sub(/^KVM_EXIT_/, "", name)
        }
        cnt[name] += v["hitcount"]
    }
    END { for (k in cnt) print k, cnt[k] }' "$1" | sort
}

# At the marker, after the reader paused the counters: the emulator's threads and memory, while
# the guest sleeps (vireo.hold). Arguments: NAME PID.
cat >"$tmp/snap.sh" <<EOF
ls "/proc/\$2/task" >"$tmp/tids"
{
    awk '/^(VmRSS|RssAnon|RssFile|VmHWM):/ { print \$1, \$2 }' "/proc/\$2/status"
    # Guest RAM: the big mapping(s), at least a quarter of -m.
    awk -v min=$((MEM * 256)) '/^Size:/ { sz = \$2 } /^Rss:/ { if (sz >= min) t += \$2 }
        END { print "GuestRss:", t + 0 }' "/proc/\$2/smaps"
} >"$tmp/\$1.mem"
EOF

# measure NAME BINARY APPEND: one boot to the marker; leaves $tmp/NAME.{exit,user,info,mem,log}.
measure() {
    local name=$1 bin=$2 pid wd t0 rc
    echo "$EXIT_KEYS" >>$TR/events/kvm/kvm_exit/trigger
    echo "$USER_KEYS" >>$TR/events/kvm/kvm_userspace_exit/trigger
    rm -f "$tmp/$name".*
    : >"$tmp/tids"
    mkfifo "$tmp/fifo"
    t0=${EPOCHREALTIME/./}
    "$bin" -accel kvm -m "$MEM" -smp "$SMP" -nographic -no-reboot -kernel "$VIREO_CACHE/vmlinuz-cloud" \
        -initrd "$VIREO_CACHE/test-initrd.cpio.gz" -append "$3 vireo.hold=3" </dev/null >"$tmp/fifo" 2>&1 &
    pid=$!
    # Watchdog: kills the emulator at the time limit; killed itself (with its sleep) when done.
    (
        trap 'kill $s 2>/dev/null; exit 0' TERM
        sleep "$tmo" & s=$!; wait $s
        kill "$pid"; sleep 5; kill -9 "$pid"
    ) >/dev/null 2>&1 &
    wd=$!
    # tee and grep act on each block as it comes (a shell read loop lags seconds behind under
    # nested TCG, mawk waits for full buffers); cat drains the rest of the boot.
    # The guest holds 3 s after the marker (vireo.hold=3) so the emulator's memory can be read;
    # the counters are paused first, with shell builtins only.
    tee "$tmp/$name.log" <"$tmp/fifo" | {
        if grep -q -m1 VIREO-INIT-OK; then
            echo "$EXIT_KEYS:pause" >>$TR/events/kvm/kvm_exit/trigger
            echo "$USER_KEYS:pause" >>$TR/events/kvm/kvm_userspace_exit/trigger
            echo "${EPOCHREALTIME/./}" >"$tmp/$name.tmark"
            sh "$tmp/snap.sh" "$name" "$pid"
        fi
        cat >/dev/null
    }
    wait "$pid"; rc=$?
    echo "kvm-exits: $name: exit status $rc after $(((${EPOCHREALTIME/./} - t0) / 1000)) ms" >&2
    kill "$wd" 2>/dev/null; wait "$wd" 2>/dev/null
    rm -f "$tmp/fifo"
    # A copy of each table: consistent, and read once.
    cat $TR/events/kvm/kvm_exit/hist >"$tmp/exit.hist"
    cat $TR/events/kvm/kvm_userspace_exit/hist >"$tmp/user.hist"
    echo "!$EXIT_KEYS" >>$TR/events/kvm/kvm_exit/trigger
    echo "!$USER_KEYS" >>$TR/events/kvm/kvm_userspace_exit/trigger
    # No marker: count every thread (the run failed anyway; the numbers say how far it got).
    [ -s "$tmp/tids" ] || awk '/^[{].*hitcount:/ { gsub(/[{},:]/, " "); print $2 }' "$tmp/exit.hist" |
        sort -u >"$tmp/tids"
    hist_counts "$tmp/exit.hist" "$tmp/exit.sym" exit >"$tmp/$name.exit"
    hist_counts "$tmp/user.hist" "$tmp/user.sym" user >"$tmp/$name.user"
    if [ "${VIREO_BENCH_DEBUG:-0}" = 1 ]; then
        for f in tids exit.hist "$name.mem" "$name.exit" "$name.user" "$name.tmark"; do
            echo "kvm-exits: debug: $f:" >&2; head -n 20 "$tmp/$f" | sed 's/^/kvm-exits:    /' >&2
        done
    fi
    {
        echo "rc $rc"
        if [ -s "$tmp/$name.tmark" ]; then
            echo "ms $((($(cat "$tmp/$name.tmark") - t0) / 1000))"
        else
            echo "ms none"
        fi
    } >"$tmp/$name.info"
}

# side NAMEFILE-SUFFIX TITLE: one table, Vireo beside QEMU, with totals and the ratio.
side() {
    echo "$2"
    awk -v vf="$tmp/vireo.$1" -v qf="$tmp/qemu.$1" '
    BEGIN {
        while ((getline l < vf) > 0) { split(l, f, " "); v[f[1]] = f[2]; k[f[1]] = 1; tv += f[2] }
        while ((getline l < qf) > 0) { split(l, f, " "); q[f[1]] = f[2]; k[f[1]] = 1; tq += f[2] }
        for (r in k) printf "  %-28s %10d %10d\n", r, v[r], q[r]
    }' | sort -k3,3nr -k2,2nr
    awk -v vf="$tmp/vireo.$1" -v qf="$tmp/qemu.$1" '
    BEGIN {
        while ((getline l < vf) > 0) { split(l, f, " "); tv += f[2] }
        while ((getline l < qf) > 0) { split(l, f, " "); tq += f[2] }
        printf "  %-28s %10d %10d   vireo/qemu %s\n", "TOTAL", tv, tq, tq ? sprintf("%.2f", tv / tq) : "n/a"
    }'
}
memline() { # label key
    local v q
    v=$(awk -v k="$2:" '$1 == k { print $2 }' "$tmp/vireo.mem" 2>/dev/null)
    q=$(awk -v k="$2:" '$1 == k { print $2 }' "$tmp/qemu.mem" 2>/dev/null)
    printf "  %-28s %10s %10s\n" "$1" "$(kib_mib "$v")" "$(kib_mib "$q")"
}
kib_mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo n/a; }
info() { awk -v k="$2" '$1 == k { print $2 }' "$tmp/$1.info"; }

[ -x "$QEMU" ] || die "$QEMU (real QEMU, the baseline) missing"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
where="direct"
[ "${VIREO_NESTED:-0}" = 1 ] && where="nested: $(lsmod 2>/dev/null | awk '$1 ~ /^kvm_(amd|intel)$/ { print $1 }') in QEMU TCG"
# report APPEND: both emulators booted with this kernel command line, then the tables.
report() {
    measure qemu "$QEMU" "$1"
    if [ -x "$VIREO" ]; then
        measure vireo "$VIREO" "$1"
    else
        echo "kvm-exits: $VIREO not built: Vireo's column stays empty" >&2
        : >"$tmp/vireo.exit"; : >"$tmp/vireo.user"; printf 'rc none\nms none\n' >"$tmp/vireo.info"
    fi
    local n v q
    for n in vireo qemu; do
        if [ "$(info $n ms)" = none ]; then
            echo "kvm-exits: $n did not reach VIREO-INIT-OK (exit status $(info $n rc)); last console lines:" >&2
            tr -d '\r' <"$tmp/$n.log" 2>/dev/null | tail -n 8 | sed 's/^/    | /' >&2
        fi
    done
    echo "kvm-exits-report-begin"
    echo "KVM exits from power-on to VIREO-INIT-OK, -m $MEM -smp $SMP, -append '$1 vireo.hold=3'"
    echo "  ($where; $cpu)"
    printf "  %-28s %10s %10s\n" "" "vireo" "qemu-7.2"
    side exit "hardware exits (kvm_exit), by reason:"
    side user "exits to the VMM (KVM_RUN returns), by reason:"
    echo "at the marker:"
    printf "  %-28s %10s %10s\n" "time to marker (ms)" "$(info vireo ms)" "$(info qemu ms)"
    memline "VmRSS (MiB)" VmRSS
    memline "  RssAnon (MiB)" RssAnon
    memline "  RssFile (MiB)" RssFile
    memline "guest RAM resident (MiB)" GuestRss
    v=$(awk '$1 == "VmRSS:" { r = $2 } $1 == "GuestRss:" { g = $2 } END { if (r) print r - g }' "$tmp/vireo.mem" 2>/dev/null)
    q=$(awk '$1 == "VmRSS:" { r = $2 } $1 == "GuestRss:" { g = $2 } END { if (r) print r - g }' "$tmp/qemu.mem" 2>/dev/null)
    printf "  %-28s %10s %10s\n" "VMM overhead (MiB)" "$(kib_mib "$v")" "$(kib_mib "$q")"
    echo "kvm-exits-report-end"
}
# The tests' command line (the boot log costs one exit per serial byte), then a quiet boot.
appends=${VIREO_BENCH_APPENDS:-"console=ttyS0 panic=-1;console=ttyS0 panic=-1 quiet"}
IFS=';' read -ra appends <<<"$appends"
for a in "${appends[@]}"; do report "$a"; done
