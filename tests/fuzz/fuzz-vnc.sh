#!/bin/bash
# libFuzzer over the VNC client-message parser (tests/fuzz/fuzz-vnc.c), built with clang
# -fsanitize=fuzzer,address,undefined from a seed corpus of real sessions. Not part of the
# suite (`make fuzz-vnc`); VIREO_FUZZ_RUNS sets the number of inputs (default 20000).
set -eu
cd "$(dirname "$0")/../.."
out=${VIREO_BUILD:-build}/fuzz
mkdir -p "$out"
bin=$out/fuzz-vnc
# shellcheck disable=SC2046
clang -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined $(pkg-config --cflags glib-2.0 pixman-1) \
    ui/vnc.c ui/vnc-enc.c ui/vnc-des.c ui/vnc-keysym.c ui/keymaps.c ui/keysym-names.c ui/console.c \
    ui/input.c util/error.c \
    util/qemu-opts.c util/qjson.c tests/fuzz/fuzz-vnc.c -o "$bin" \
    $(pkg-config --libs glib-2.0 pixman-1) -lz -lpthread
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# seeds: 3.8/None login, then SetPixelFormat 16 bpp, SetEncodings (zrle hextile zlib raw
# copyrect desktop-size ext-desktop cursor ext-key ptr-change led), a full request, keys,
# pointer, cut text, QEMU ext key, SetDesktopSize; and a 3.3 and a 3.7 login
printf 'RFB 003.008\n\001\001\000\000\000\000\020\020\000\001\000\037\000\077\000\037\013\005\000\000\000\000\002\000\000\013\000\000\000\020\000\000\000\005\000\000\000\006\000\000\000\000\000\000\000\001\377\377\377\041\377\377\376\314\377\377\377\021\377\377\376\376\377\377\376\377\377\377\376\373\003\000\000\000\000\000\000\100\000\060\004\001\000\000\000\000\000\141\005\001\000\005\000\006\006\000\000\000\000\000\000\003abc\377\000\000\001\000\000\377\344\000\000\000\235\373\000\000\100\000\060\001\000\000\000\000\000\000\000\000\000\000\100\000\060\000\000\000\000' >"$corpus/s1"
printf 'RFB 003.003\n\001\003\001\000\000\000\000\010\000\010' >"$corpus/s2"
printf 'RFB 003.007\n\001\000\002\000\000\001\000\000\000\005\003\000\000\000\000\000\000\100\000\060' >"$corpus/s3"
"$bin" -runs="${VIREO_FUZZ_RUNS:-20000}" -max_len=4096 -timeout=20 "$corpus" 2>"$out/fuzz-vnc.log" &&
    echo "ok fuzz-vnc/runs-${VIREO_FUZZ_RUNS:-20000}" ||
    { echo "FAIL fuzz-vnc: $(grep -m1 -E 'ERROR|SUMMARY|panic' "$out/fuzz-vnc.log")"; exit 1; }
