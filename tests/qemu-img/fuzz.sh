#!/bin/bash
# libFuzzer over image open + check + block status + read (tests/qemu-img/fuzz-qcow2.c: qcow2,
# and vdi, vpc, qcow through the probe), built
# with clang's -fsanitize=fuzzer,address,undefined from the block layer sources and run for a
# fixed number of inputs from a seed corpus of QEMU-made images. Skipped without clang/libFuzzer.
. "$(dirname "$0")/lib.sh"
RUNS=${VIREO_FUZZ_RUNS:-6000}
# The fuzzer is its own build (clang, with ASan and UBSan in it) from the sources, whatever build
# the suite runs with: the sanitizer rerun would build and run the very same binary on the same
# seed, so it runs once, in the normal pass.
if [ "${VIREO_ASAN:-0}" = 1 ]; then
    skip fuzz "the same libFuzzer build and seed as the normal pass, which carries its own sanitizers"
    exit 0
fi
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' |
    "$CLANG" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    skip fuzz "clang with libFuzzer not available"
    exit 0
fi
R=$VIREO_ROOT
srcs=("$R"/block/*.c "$R"/nbd/*.c "$R"/util/error.c "$R"/util/qemu-opts.c "$R"/util/qjson.c "$R"/util/coroutine.c
    "$R"/tests/qemu-img/fuzz-qcow2.c)
if ! "$CLANG" -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$R/include" $(pkg-config --cflags glib-2.0) \
    "${srcs[@]}" -o fuzz-qcow2 $(pkg-config --libs glib-2.0) -lz -laio -lm >build.log 2>&1; then
    fail fuzz/build "$(head -c 600 build.log)"
    exit 1
fi
ok fuzz/build
mkdir corpus
if have_ref; then
    i=0
    for o in "" "compat=0.10" "cluster_size=512" "cluster_size=4096,refcount_bits=1" \
        "refcount_bits=64,lazy_refcounts=on"; do
        i=$((i + 1))
        "$REF_QIMG" create -q -f qcow2 ${o:+-o $o} s$i.qcow2 1M
        "$REF_QIO" -c 'write -P 1 0 4k' -c 'write -z 64k 64k' -c 'write -c -P 3 512k 64k' \
            s$i.qcow2 >/dev/null 2>&1
        head -c 65536 s$i.qcow2 >corpus/s$i
        "$REF_QIMG" snapshot -c sn s$i.qcow2 2>/dev/null
        cp s$i.qcow2 corpus/full$i
    done
fi
if have_ref; then
    # the other formats the probe finds (vdi, vpc, qcow version 1), each with data written
    "$REF_QIMG" create -q -f vdi f.vdi 3M && "$REF_QIO" -c 'write -P 2 1M 4k' f.vdi >/dev/null 2>&1
    "$REF_QIMG" create -q -f vpc f.vhd 3M && "$REF_QIO" -c 'write -P 2 1M 4k' f.vhd >/dev/null 2>&1
    "$REF_QIMG" create -q -f qcow f.qcow 3M && "$REF_QIO" -c 'write -P 2 1M 4k' f.qcow >/dev/null 2>&1
    "$REF_QIMG" convert -c -O qcow f.qcow fc.qcow >/dev/null 2>&1
    for f in f.vdi f.vhd f.qcow fc.qcow; do
        [ -s "$f" ] && head -c 262144 "$f" >"corpus/$f"
    done
fi
printf 'QFI\xfb\0\0\0\3' >corpus/tiny
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir art
if timeout 900 ./fuzz-qcow2 -runs="$RUNS" -max_len=262144 -rss_limit_mb=1024 -timeout=10 \
    -seed=1 -artifact_prefix=art/ corpus >fuzz.log 2>&1; then
    ok "fuzz/runs=$RUNS"
else
    rc=$?
    fail "fuzz/runs=$RUNS" "exit $rc $(grep -m3 -E 'ERROR: [A-Za-z]+Sanitizer|ERROR: libFuzzer|SUMMARY|runtime error|crash-|timeout-|oom-' fuzz.log | tr '\n' '|')"
    grep -A30 -m1 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error|ERROR: libFuzzer|deadly signal' fuzz.log
    # keep the input that failed, so the failure can be reproduced:
    #   fuzz-qcow2 FILE   (or: base64 -d | gunzip >FILE from the lines below)
    keep=$VIREO_BUILD/test-logs
    mkdir -p "$keep"
    for a in art/*; do
        [ -f "$a" ] || continue
        dst=$keep/fuzz-$(basename "$a")
        cp "$a" "$dst"
        echo "fuzz input kept: $dst ($(stat -c %s "$a") bytes)"
        if [ "$(gzip -9c "$a" | wc -c)" -le 8192 ]; then
            echo "base64 of its gzip:"
            gzip -9c "$a" | base64
        fi
    done
    if ! ls art/* >/dev/null 2>&1; then
        echo "no input was saved (the fuzzer died before writing one); last lines of fuzz.log:"
        tail -n 15 fuzz.log
    fi
fi
finish
