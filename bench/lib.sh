# What the guest benchmarks share (bench/tcg-guest.sh, bench/virtio-blk.sh): the environment, the
# boot loop that runs one emulator with its serial console on stdout, and the best-of tables.
# Sourced after `set -u`; the caller's directory does not matter.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
. tests/lib/common.sh >/dev/null
. tests/lib/guest-initrd.sh
QEMU_BIN=${QEMU:-/usr/bin/qemu-system-x86_64}
BENCH_KERNEL=$VIREO_CACHE/vmlinuz-cloud

# bench_need NAME FILE...: stop when a file the benchmark needs is missing.
bench_need() {
    local name=$1 f
    shift
    for f in "$@"; do
        [ -e "$f" ] || { echo "$name: missing $f (scripts/guests.sh, make all)" >&2; exit 1; }
    done
}

# bench_workdir: $work, a directory under /var/tmp (disk images want a real file system), removed
# at exit.
bench_workdir() {
    work=$(mktemp -d /var/tmp/vireo-bench.XXXXXX)
    trap 'rm -rf "$work"' EXIT
}

# bench_boot LABEL BIN LIMIT ARGS...: run BIN ARGS (at most LIMIT seconds, stdin /dev/null, the
# guest's console on stdout). Every console line starting with '@' is appended to
# $work/lines.LABEL as "HOST-SECONDS-SINCE-START LINE" (stamped as it arrives); the emulator's CPU
# time (user + system, its threads and children) is appended to $work/cpu as "LABEL SECONDS",
# and the wall time of the whole run as "LABEL SECONDS" to $work/wall.
bench_boot() {
    local label=$1 bin=$2 limit=$3 t0 line
    shift 3
    t0=$(date +%s.%N)
    : >"$work/lines.$label.run"
    # `times` in the shell that ran the emulator gives its children's (the emulator's) CPU time
    (timeout "$limit" bash -c '"$@" </dev/null 2>/dev/null; r=$?; times >&3; exit $r' _ "$bin" "$@" |
        while IFS= read -r line; do
            line=${line%$'\r'}
            case "$line" in
            @*) echo "$(date +%s.%N) $line" ;;
            esac
        done | awk -v t0="$t0" '{ $1 = sprintf("%.3f", $1 - t0); print }' >"$work/lines.$label.run"
    ) 3>"$work/times.$label"
    cat "$work/lines.$label.run" >>"$work/lines.$label"
    echo "$label $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" >>"$work/wall"
    # the second line of `times`: children's user and system time, "XmY.YYYs XmY.YYYs"
    sed -n 2p "$work/times.$label" | awk -v l="$label" '{
        s = 0
        for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
        printf "%s %.2f\n", l, s }' >>"$work/cpu"
}

# bench_best FILE LABEL KEY min|max: the best value of the lines "LABEL KEY VALUE" in FILE.
bench_best() {
    awk -v l="$2" -v k="$3" -v w="$4" '$1 == l && $2 == k {
        if (m == "" || (w == "min" ? $3 < m : $3 > m)) m = $3 } END { print m }' "$1"
}

# bench_row NAME VIREO QEMU RATIO-EXPR: one table row; the ratio is "a/b" (vireo/qemu) or "b/a".
bench_row() {
    local name=$1 v=$2 q=$3 how=$4
    if [ -z "$v" ] || [ -z "$q" ]; then
        printf '  %-10s %9s %9s %11s\n' "$name" "${v:-missing}" "${q:-missing}" -
    else
        printf '  %-10s %9s %9s %11s\n' "$name" "$v" "$q" "$(awk -v a="$v" -v b="$q" -v h="$how" \
            'BEGIN { r = h == "a/b" ? a / b : b / a; printf "%.2fx", r }')"
    fi
}

# bench_cpu_rows: the emulators' CPU time per run (best, seconds; qemu/vireo > 1: Vireo used
# less) and the wall time of a whole run, from bench_boot's records.
bench_cpu_rows() {
    bench_row cpu "$(bench_best_of "$work/cpu" vireo)" "$(bench_best_of "$work/cpu" qemu)" b/a
    bench_row wall "$(bench_best_of "$work/wall" vireo)" "$(bench_best_of "$work/wall" qemu)" b/a
}
bench_best_of() { # FILE LABEL: the smallest second field of LABEL's lines
    awk -v l="$2" '$1 == l { if (m == "" || $2 < m) m = $2 } END { print m }' "$1"
}
