# Shared setup for tests/qemu-img/*.sh (sourced, not run: no execute bit).
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
QIMG=$VIREO_BUILD/qemu-img
QIO=$VIREO_BUILD/qemu-io
REF_QIMG=${REF_QIMG:-/usr/bin/qemu-img}
REF_QIO=${REF_QIO:-/usr/bin/qemu-io}
if [ ! -x "$QIMG" ] || [ ! -x "$QIO" ]; then
    skip "$(basename "$0" .sh)" "$QIMG or $QIO not built"
    exit 0
fi
have_ref() { [ -x "$REF_QIMG" ] && [ -x "$REF_QIO" ]; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1
# Drop qemu-io's timing lines (they differ run to run).
untime() { grep -v ' ops/sec)$'; }
# json_eq FILE1 FILE2: same JSON value (key order ignored)
json_eq() {
    python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a==b else 1)' "$1" "$2"
}
# expect_same NAME FILE1 FILE2
expect_same() {
    if cmp -s "$2" "$3"; then ok "$1"; else fail "$1" "$(diff "$2" "$3" | head -5 | tr '\n' '|')"; fi
}
# sparse_cmp A B: same size and bytes, reading only the data extents (holes read as zero)
sparse_cmp() {
    python3 - "$1" "$2" <<'PY'
import os, sys
fa, fb = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(fa).st_size
if size != os.fstat(fb).st_size:
    sys.exit(1)
def extents(fd):
    out, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h))
        off = h
    return out
for d, h in sorted(extents(fa) + extents(fb)):
    for off in range(d, h, 1 << 20):
        n = min(1 << 20, h - off)
        if os.pread(fa, n, off) != os.pread(fb, n, off):
            sys.exit(1)
PY
}
# both NAME CMD...: each CMD runs (eval) in r/ with $QI/$QO = the real tools and in o/ with ours;
# outputs (node names and timing lines aside), exit codes and every *.qcow2 must be the same.
both() {
    local name=$1 c
    shift
    rm -rf r o
    mkdir r o
    (cd r && QI=$REF_QIMG QO=$REF_QIO && for c in "$@"; do eval "$c" >>log 2>&1; echo "rc=$?" >>log; done)
    (cd o && QI=$QIMG QO=$QIO && for c in "$@"; do eval "$c" >>log 2>&1; echo "rc=$?" >>log; done)
    sed -i 's/#block[0-9]*/#block/g; / ops\/sec)$/d' r/log o/log
    local why=
    for f in r/*.qcow2; do
        [ -e "$f" ] || continue
        cmp -s "$f" "o/${f#r/}" || why="$why ${f#r/} differs: $(cmp "$f" "o/${f#r/}" 2>&1 | head -1);"
    done
    cmp -s r/log o/log || why="$why output: $(diff r/log o/log | head -6 | tr '\n' '|')"
    if grep -qE 'AddressSanitizer|runtime error|Segmentation' o/log; then why="$why sanitizer/crash"; fi
    if [ -z "$why" ]; then ok "$name"; else fail "$name" "$why"; fi
}


# mboth NAME CMD...: as both(), for other formats: compares every *.vdi, *.vhd, *.qcow2 and *.raw
# after `$MASK FILE...` (a function the test defines) blanked the bytes that may differ (random
# UUIDs, timestamps), reading only the data extents of sparse files
mboth() {
    local name=$1 c
    shift
    rm -rf r o
    mkdir r o
    (cd r && QI=$REF_QIMG QO=$REF_QIO && for c in "$@"; do eval "$c" >>log 2>&1; echo "rc=$?" >>log; done)
    (cd o && QI=$QIMG QO=$QIO && for c in "$@"; do eval "$c" >>log 2>&1; echo "rc=$?" >>log; done)
    sed -i '/ ops\/sec)$/d' r/log o/log
    local why=
    for f in r/*.vdi r/*.vhd r/*.qcow2 r/*.raw; do
        [ -e "$f" ] || continue
        [ -n "${MASK:-}" ] && $MASK "$f" "o/${f#r/}" 2>/dev/null
        # small files with cmp; large (sparse) ones by their data extents
        if [ "$(stat -c %s "$f")" -lt $((64 << 20)) ] && [ -e "o/${f#r/}" ]; then
            cmp -s "$f" "o/${f#r/}"
        else
            sparse_cmp "$f" "o/${f#r/}"
        fi || why="$why ${f#r/} differs: $(cmp "$f" "o/${f#r/}" 2>&1 | head -1);"
    done
    cmp -s r/log o/log || why="$why output: $(diff r/log o/log | head -6 | tr '\n' '|')"
    if grep -qE 'AddressSanitizer|runtime error|Segmentation' o/log; then why="$why sanitizer/crash"; fi
    if [ -z "$why" ]; then ok "$name"; else fail "$name" "$why"; fi
}
