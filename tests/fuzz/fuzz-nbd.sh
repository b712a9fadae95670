#!/bin/bash
# libFuzzer over the NBD server's handshake and request parsing (tests/fuzz/fuzz-nbd.c), built
# with clang -fsanitize=fuzzer,address,undefined from a seed corpus of real sessions (option
# negotiations and requests). Not part of the suite (`make fuzz-nbd`); VIREO_FUZZ_RUNS sets the
# number of inputs (default 200000).
set -eu
cd "$(dirname "$0")/../.."
out=${VIREO_BUILD:-build}/fuzz
mkdir -p "$out"
bin=$out/fuzz-nbd
# shellcheck disable=SC2046
clang -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined $(pkg-config --cflags glib-2.0) \
    block/*.c nbd/*.c util/error.c util/qemu-opts.c util/qjson.c util/coroutine.c \
    tests/fuzz/fuzz-nbd.c -o "$bin" $(pkg-config --libs glib-2.0) -lz -laio -lm -lpthread
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
python3 - "$corpus" <<'PY'
import struct, sys
d = sys.argv[1]
M = 0x49484156454F5054
def opt(o, data=b""):
    return struct.pack(">QII", M, o, len(data)) + data
def req(cmd, off, ln, flags=0, payload=b""):
    return struct.pack(">IHHQQI", 0x25609513, flags, cmd, 1, off, ln) + payload
name = b"exp"
meta = struct.pack(">I", 3) + name + struct.pack(">I", 2) + \
    struct.pack(">I", 15) + b"base:allocation" + struct.pack(">I", 19) + b"qemu:dirty-bitmap:b"
go = opt(7, struct.pack(">I", 3) + name + struct.pack(">HHH", 2, 1, 3))
reqs = req(0, 0, 4096) + req(0, 0, 65536, 4) + req(1, 4096, 512, 1, b"x" * 512) + \
    req(6, 0, 8192, 2) + req(4, 0, 4096) + req(3, 0, 0) + req(7, 0, 1 << 20) + \
    req(7, 0, 1 << 20, 8) + req(5, 0, 4096) + req(2, 0, 0)
seeds = {
    "go": b"\x1f" + struct.pack(">I", 3) + opt(8) + opt(10, meta) + go + reqs,
    "list": b"\x03" + struct.pack(">I", 1) + opt(3) + opt(9, meta[:7] + struct.pack(">I", 0)) +
            opt(6, struct.pack(">I", 3) + name + struct.pack(">H", 0)) + opt(2),
    "export-name": b"\x00" + struct.pack(">I", 3) + opt(1, b"") + reqs,
    "simple": b"\x05" + struct.pack(">I", 1) + go + reqs,
}
for k, v in seeds.items():
    open("%s/%s" % (d, k), "wb").write(v)
PY
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
"$bin" -runs="${VIREO_FUZZ_RUNS:-200000}" -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
    "$corpus" 2>"$out/fuzz-nbd.log" &&
    echo "ok fuzz-nbd/runs-${VIREO_FUZZ_RUNS:-200000}" ||
    { echo "FAIL fuzz-nbd: $(grep -m1 -E 'ERROR|SUMMARY|panic' "$out/fuzz-nbd.log")"; exit 1; }
