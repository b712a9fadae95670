#!/bin/bash
# libFuzzer over the JSON streamer and QMP dispatch (tests/fuzz/fuzz-qmp.c), built with clang
# -fsanitize=fuzzer,address,undefined and run for a fixed number of inputs from a small seed
# corpus. VIREO_FUZZ_RUNS overrides the count (default 20000).
. "$(dirname "$0")/../lib/common.sh"
if ! command -v clang >/dev/null; then
    skip qmp-fuzz "clang not installed"
    finish; exit
fi
out=$VIREO_BUILD/fuzz
mkdir -p "$out"
bin=$out/fuzz-qmp
src=(monitor/*.c ui/input.c chardev/char.c util/error.c util/qemu-opts.c util/qjson.c util/coroutine.c
     block/*.c nbd/*.c system/blockdev.c system/cmdline-block.c tests/fuzz/fuzz-qmp.c tests/fuzz/fuzz-stubs.c)
cd "$VIREO_ROOT" || exit 1
if [ ! -x "$bin" ] || [ -n "$(find "${src[@]}" include/vireo -newer "$bin" 2>/dev/null | head -n1)" ]; then
    # shellcheck disable=SC2046
    if ! clang -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined $(pkg-config --cflags glib-2.0 pixman-1) "${src[@]}" \
        -o "$bin" $(pkg-config --libs glib-2.0) -laio -lz -lpthread >"$out/build.log" 2>&1; then
        fail qmp-fuzz/build "clang failed: $(head -c 600 "$out/build.log")"
        finish; exit
    fi
fi
ok qmp-fuzz/build
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
i=0
while IFS= read -r seed; do
    printf '%s' "$seed" >"$corpus/seed$i"
    i=$((i + 1))
done <<'SEEDS'
{"execute":"query-status","id":1}
{'execute':'human-monitor-command','arguments':{'command-line':'info status'}}
{"execute":"ringbuf-write","arguments":{"device":"rb","data":"aGk=","format":"base64"}}
{"execute":"ringbuf-read","arguments":{"device":"rb","size":10,"format":"utf8"}}
{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}
{"exec-oob":"stop","id":[1,2.5e3,-0,"\u00e9\ud83d\ude00",null,true,false,{}]}
{"execute":"query-cpus-fast"}{"execute":"query-chardev"}{"execute":"cont"}
[[[[{"a":"\x"}]]]] 01 -} xyz
{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"q","file":{"driver":"file","filename":"/nonexistent/x","locking":"off"},"backing":null,"cache":{"direct":true}}}
{"execute":"block_resize","arguments":{"node-name":"q","size":1}}{"execute":"query-named-block-nodes","arguments":{"flat":true}}{"execute":"blockdev-del","arguments":{"node-name":"q"}}
{"execute":"query-blockstats","arguments":{"query-nodes":true}}{"execute":"query-block"}
{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"ctrl"},{"type":"number","data":30}],"hold-time":5}}
{"execute":"input-send-event","arguments":{"device":"v","head":0,"events":[{"type":"key","data":{"down":true,"key":{"type":"qcode","data":"a"}}},{"type":"rel","data":{"axis":"x","value":-3}}]}}
{"execute":"human-monitor-command","arguments":{"command-line":"sendkey ctrl-alt-0x1e 50"}}
SEEDS
runs=${VIREO_FUZZ_RUNS:-20000}
if "$bin" -runs="$runs" -max_len=4096 -seed=1 "$corpus" >"$out/run.log" 2>&1; then
    ok "qmp-fuzz/runs-$runs"
else
    fail qmp-fuzz/run "libFuzzer found a problem: $(grep -m3 -E 'ERROR|runtime error|SUMMARY' "$out/run.log")"
fi
finish
