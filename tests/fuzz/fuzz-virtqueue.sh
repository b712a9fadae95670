#!/bin/bash
# libFuzzer over the virtqueue parser (tests/fuzz/fuzz-virtqueue.c), built with clang
# -fsanitize=fuzzer,address,undefined on the real memory map and DMA code, from seeds that are
# well-formed split, indirect and packed rings. Not part of the suite (`make fuzz-virtqueue`);
# VIREO_FUZZ_RUNS sets the number of inputs (default 200000).
set -eu
cd "$(dirname "$0")/../.."
out=${VIREO_BUILD:-build}/fuzz
mkdir -p "$out"
bin=$out/fuzz-virtqueue
# shellcheck disable=SC2046
clang -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined $(pkg-config --cflags glib-2.0) \
    hw/virtio/virtio.c hw/virtio/virtqueue.c hw/core/memory.c hw/core/dma.c util/error.c \
    tests/fuzz/fuzz-virtqueue.c -o "$bin" $(pkg-config --libs glib-2.0) -lpthread
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# seeds (the first byte: 1 indirect, 2 event index, 4 packed; then RAM from 0: rings at 0x100)
python3 - "$corpus" <<'PY'
import struct, sys
d = sys.argv[1]
def ram(n=0x800):
    return bytearray(n)
def desc(r, i, addr, ln, flags, nxt):
    struct.pack_into("<QIHH", r, 0x100 + 16 * i, addr, ln, flags, nxt)
def avail(r, heads):
    struct.pack_into("<HH", r, 0x200, 0, len(heads))
    for k, h in enumerate(heads):
        struct.pack_into("<H", r, 0x204 + 2 * k, h)
# split: a chain out 16 -> in 16, and a single writable buffer
r = ram()
desc(r, 0, 0x400, 16, 1, 1)
desc(r, 1, 0x500, 16, 2, 0)
desc(r, 2, 0x600, 32, 2, 0)
avail(r, [0, 2])
open(d + "/split", "wb").write(bytes([3]) + r)
# indirect: descriptor 0 points at a table of two at 0x300
r = ram()
desc(r, 0, 0x300, 32, 4, 0)
struct.pack_into("<QIHH", r, 0x300, 0x400, 16, 1, 1)
struct.pack_into("<QIHH", r, 0x310, 0x500, 16, 2, 0)
avail(r, [0])
open(d + "/indirect", "wb").write(bytes([3]) + r)
# packed: one available descriptor (AVAIL bit 7 set, USED bit 15 clear, wrap counter 1)
r = ram()
struct.pack_into("<QIHH", r, 0x100, 0x500, 16, 0x80 | 2, 0)
open(d + "/packed", "wb").write(bytes([7]) + r)
PY
"$bin" -runs="${VIREO_FUZZ_RUNS:-200000}" -max_len=4096 -timeout=20 "$corpus" 2>"$out/fuzz-virtqueue.log" &&
    echo "ok fuzz-virtqueue/runs-${VIREO_FUZZ_RUNS:-200000}" ||
    { echo "FAIL fuzz-virtqueue: $(grep -m1 -E 'ERROR|SUMMARY|panic' "$out/fuzz-virtqueue.log")"; exit 1; }
