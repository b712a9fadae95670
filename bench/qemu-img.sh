#!/bin/bash
# qemu-img benchmarks: Vireo's qemu-img side by side with QEMU 7.2's in one run, each row the
# best of N wall-clock runs (perf's instruction counter is not available on every host), with
# ratio = QEMU time / Vireo time (> 1: Vireo is faster).
#   bench/qemu-img.sh [-n RUNS] [-s SIZE_MIB]      (defaults: 3 runs, 1024 MiB image)
set -u
cd "$(dirname "$0")/.."
BUILD=${VIREO_BUILD:-build}
OURS=$PWD/$BUILD/qemu-img
REF=${REF_QIMG:-/usr/bin/qemu-img}
RUNS=3
SIZE_MIB=1024
while getopts "n:s:" o; do
    case $o in
    n) RUNS=$OPTARG ;;
    s) SIZE_MIB=$OPTARG ;;
    *) exit 2 ;;
    esac
done
if [ ! -x "$OURS" ]; then echo "qemu-img bench: $OURS not built" >&2; exit 1; fi
if [ ! -x "$REF" ]; then echo "qemu-img bench: $REF (qemu-utils) not installed, skipped"; exit 0; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/vireo-qimg-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

now() { date +%s.%N; }
# best TOOL SETUP-CMD CMD...: best wall time of $RUNS runs of "TOOL CMD..." (SETUP-CMD before each)
best() {
    local tool=$1 setup=$2
    shift 2
    local b= t0 t1 d i
    for ((i = 0; i < RUNS; i++)); do
        eval "$setup"
        sync
        t0=$(now)
        "$tool" "$@" >/dev/null 2>&1 || { echo "FAILED: $tool $*" >&2; echo 0; return; }
        t1=$(now)
        d=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$d < $b" | bc -l)" = 1 ]; then b=$d; fi
    done
    echo "$b"
}
row() { # NAME SETUP CMD...  (CMD's first word is replaced by each tool)
    local name=$1 setup=$2
    shift 2
    local to tr
    to=$(best "$OURS" "$setup" "$@")
    tr=$(best "$REF" "$setup" "$@")
    printf '%-44s %9.3f s %9.3f s %7.2fx\n' "$name" "$to" "$tr" "$(echo "$tr / ($to + 0.0000001)" | bc -l)"
}

echo "qemu-img benchmarks (best of $RUNS, wall clock; ratio = QEMU / Vireo, > 1 is faster)"
printf '%-44s %11s %11s %8s\n' "row" "vireo" "qemu-7.2" "ratio"

# 1. a SIZE_MIB image: 1 MiB of incompressible data, 1 MiB of zeros, 1 MiB of text, 1 MiB hole
python3 - "$SIZE_MIB" <<'PY'
import os, sys
mib = 1 << 20
n = int(sys.argv[1])
text = (b"Vireo benchmark line: the quick brown fox jumps over the lazy dog 0123456789\n" * 14000)[:mib]
with open("mixed.raw", "wb") as f:
    f.truncate(n * mib)
    for i in range(0, n, 4):
        f.seek(i * mib)
        f.write(os.urandom(mib))
        f.write(bytes(mib))
        if i + 2 < n:
            f.write(text)
PY
row "convert raw->qcow2 (${SIZE_MIB} MiB mixed)" "rm -f out.qcow2" convert -f raw -O qcow2 mixed.raw out.qcow2
"$REF" convert -f raw -O qcow2 mixed.raw src.qcow2
row "convert qcow2->raw (${SIZE_MIB} MiB mixed)" "rm -f out.raw" convert -f qcow2 -O raw src.qcow2 out.raw
# the other formats people bring (issue 15): each made from the same data by QEMU's qemu-img
for fmt in vdi vpc qcow; do
    row "convert raw->$fmt (${SIZE_MIB} MiB mixed)" "rm -f out.$fmt" convert -f raw -O $fmt mixed.raw out.$fmt
    "$REF" convert -f raw -O $fmt mixed.raw src.$fmt
    row "convert $fmt->raw (${SIZE_MIB} MiB mixed)" "rm -f out.raw" convert -f $fmt -O raw src.$fmt out.raw
    rm -f src.$fmt out.$fmt
done
rm -f mixed.raw out.raw out.qcow2

# 2. convert -c of 128 MiB of compressible data
python3 - <<'PY'
mib = 1 << 20
text = (b"Vireo compression row: lorem ipsum dolor sit amet, consectetur adipiscing elit 42\n" * 13000)[:mib]
with open("text.raw", "wb") as f:
    for i in range(128):
        f.write(text[i:] + text[:i])
PY
row "convert -c raw->qcow2 (128 MiB text)" "rm -f c.qcow2" convert -c -f raw -O qcow2 text.raw c.qcow2
rm -f text.raw c.qcow2

# 3. a heavily fragmented image: 4 KiB clusters allocated in scattered order
"$REF" create -q -f qcow2 -o cluster_size=4096 frag.qcow2 256M
"$REF" bench -q -w -c 32768 -s 4096 -S 40955904 --pattern=165 frag.qcow2 >/dev/null
"$REF" bench -q -w -c 20000 -s 4096 -S 12288 -o 1M frag.qcow2 >/dev/null
row "check (256 MiB, 4 KiB clusters, fragmented)" ":" check frag.qcow2
row "map --output=json (same image)" ":" map --output=json frag.qcow2
row "map (human, same image)" ":" map frag.qcow2

# 4. 4 KiB writes scattered over a fresh 1 GiB image (qemu-img bench, writeback cache)
row "bench -w 4 KiB x 20000 scattered (qcow2)" "rm -f w.qcow2; $REF create -q -f qcow2 w.qcow2 1G" \
    bench -w -c 20000 -s 4096 -S 53686272 w.qcow2
row "bench -w 4 KiB x 20000 rewrite (qcow2)" ":" bench -w -c 20000 -s 4096 -S 53686272 w.qcow2
row "bench read 4 KiB x 50000 (qcow2)" ":" bench -c 50000 -s 4096 -S 53686272 w.qcow2

# 5. queue depth 16 through Linux AIO (cache=none, aio=native): reads and in-place rewrites of
# the image above, reads of a raw image with data (needs O_DIRECT where the images are)
if dd if=/dev/zero of=direct.tst bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    row "bench none,native -d 16 read (qcow2)" ":" \
        bench -t none -i native -d 16 -c 50000 -s 4096 -S 53686272 w.qcow2
    row "bench none,native -d 16 -w rewrite (qcow2)" ":" \
        bench -t none -i native -d 16 -w -c 20000 -s 4096 -S 53686272 w.qcow2
    head -c $((256 << 20)) /dev/urandom >d.raw
    row "bench none,native -d 16 read (raw 256 MiB)" ":" \
        bench -t none -i native -d 16 -f raw -c 50000 -s 4096 -S 5246976 d.raw
    row "bench none,native -d 1 read (raw 256 MiB)" ":" \
        bench -t none -i native -d 1 -f raw -c 20000 -s 4096 -S 5246976 d.raw
else
    echo "(aio=native rows skipped: no O_DIRECT in $W)"
fi
