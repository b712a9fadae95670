#!/bin/bash
# NBD read throughput: Vireo's qemu-nbd beside QEMU 7.2's serving the same image, read by the
# same client (QEMU's qemu-img convert -O raw from nbd+unix:// into a file in /dev/shm), in a
# network namespace of its own. Each row: best of N runs, wall time and the server's CPU time;
# ratio = QEMU / Vireo (> 1: Vireo is faster).
#   bench/nbd.sh [-n RUNS] [-s SIZE_MIB]      (defaults: 3 runs, 512 MiB image)
set -u
if [ -z "${NBD_BENCH_NETNS:-}" ] && unshare -rn true 2>/dev/null; then
    NBD_BENCH_NETNS=1 exec unshare -rn bash "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$@"
fi
cd "$(dirname "$0")/.."
BUILD=${VIREO_BUILD:-build}
OURS=$PWD/$BUILD/qemu-nbd
REF=${REF_QNBD:-/usr/bin/qemu-nbd}
CLIENT=${REF_QIMG:-/usr/bin/qemu-img}
RUNS=3
SIZE_MIB=512
while getopts "n:s:" o; do
    case $o in
    n) RUNS=$OPTARG ;;
    s) SIZE_MIB=$OPTARG ;;
    *) exit 2 ;;
    esac
done
if [ ! -x "$OURS" ]; then echo "nbd bench: $OURS not built" >&2; exit 1; fi
if [ ! -x "$REF" ] || [ ! -x "$CLIENT" ]; then echo "nbd bench: QEMU's qemu-nbd/qemu-img not installed, skipped"; exit 0; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/vireo-nbd-bench.XXXXXX")
OUT=$(mktemp -d /dev/shm/vireo-nbd-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$W" "$OUT"' EXIT
cd "$W" || exit 1
# data everywhere (raw), and a qcow2 with data in every other MiB and holes between
python3 - "$SIZE_MIB" <<'PY'
import sys
n = int(sys.argv[1])
with open("data.raw", "wb") as f:
    for i in range(n):
        f.write(bytes([(i * 7 + j) & 0xff for j in range(256)]) * 4096)
PY
"$CLIENT" create -q -f qcow2 mixed.qcow2 "${SIZE_MIB}M"
cmds=()
for ((i = 0; i < SIZE_MIB; i += 2)); do cmds+=(-c "write -P $((i & 255)) ${i}M 1M"); done
/usr/bin/qemu-io "${cmds[@]}" mixed.qcow2 >/dev/null

now() { date +%s.%N; }
# run SERVER IMAGE FMT: "wall cpu" of the best run (wall) of the client reading everything
run() {
    local server=$1 img=$2 fmt=$3 best_w= best_c= i t0 t1 w c pid
    for ((i = 0; i < RUNS; i++)); do
        rm -f "$W/s.sock" "$OUT/out.raw"
        "$server" -k "$W/s.sock" -t -r -f "$fmt" "$img" 2>/dev/null &
        pid=$!
        for _ in $(seq 200); do [ -S "$W/s.sock" ] && break; sleep 0.02; done
        t0=$(now)
        "$CLIENT" convert -f raw -O raw "nbd+unix:///?socket=$W/s.sock" "$OUT/out.raw" ||
            { echo "FAILED: $server $img" >&2; kill $pid; echo "0 0"; return; }
        t1=$(now)
        # the server's CPU time (user + system ticks) before it exits
        c=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' /proc/$pid/stat 2>/dev/null || echo 0)
        kill $pid 2>/dev/null
        wait $pid 2>/dev/null
        w=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best_w" ] || [ "$(echo "$w < $best_w" | bc -l)" = 1 ]; then best_w=$w best_c=$c; fi
    done
    echo "$best_w $best_c"
}
printf '%-34s %10s %10s %8s %10s %10s %8s\n' "read $SIZE_MIB MiB through NBD" "Vireo wall" "QEMU wall" ratio \
    "Vireo cpu" "QEMU cpu" ratio
for row in "data.raw raw" "mixed.qcow2 qcow2"; do
    set -- $row
    read -r vw vc <<<"$(run "$OURS" "$1" "$2")"
    read -r qw qc <<<"$(run "$REF" "$1" "$2")"
    printf '%-34s %9.3fs %9.3fs %7.2fx %9.2fs %9.2fs %7.2fx\n' "$1" "$vw" "$qw" \
        "$(echo "$qw / ($vw + 0.0000001)" | bc -l)" "$vc" "$qc" "$(echo "$qc / ($vc + 0.001)" | bc -l)"
done
