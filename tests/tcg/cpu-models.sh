#!/bin/bash
# QEMU 7.2's CPU models under TCG: `-cpu help` byte for byte as QEMU's; the CPUID of every model
# (tests/lib/asm/modes/cpuid.S dumps every leaf on COM1), leaf by leaf, equal to QEMU 7.2's
# recorded dumps (tests/tcg/cpu-models.expected, less the instructions Vireo's translator lacks:
# tests/tcg/cpu-models.py); one name per distinct dump (aliases and versions that build the same
# CPUID share one boot). With QEMU here, a few models again live: QEMU's dump equals the record
# and Vireo's warnings for a model are QEMU's, line for line. Flags and properties: +f/-f/f=on,
# aliases (sse4_1, xd), enforce, a bad flag and a bad value give QEMU's text and exit status.
. "$(dirname "$0")/../lib/common.sh"
QEMU=${QEMU:-qemu-system-x86_64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
have_qemu=
command -v "$QEMU" >/dev/null 2>&1 && [ -z "${VIREO_NESTED:-}" ] && have_qemu=1
python3 "$VIREO_ROOT/tests/lib/mkmodetest.py" "$work/cpuid.elf" cpuid 2>"$work/build.err"
rc=$?
if [ $rc -eq 2 ]; then
    skip tcg-cpu-models "$(cat "$work/build.err")"
    exit 0
elif [ $rc -ne 0 ]; then
    fail tcg-cpu-models "build: $(head -c 300 "$work/build.err")"
    exit 0
fi
expected=$VIREO_ROOT/tests/tcg/cpu-models.expected
# the sanitizer build boots a handful (its start-up costs a second of CPU each)
only=()
[ "${VIREO_ASAN:-}" = 1 ] && only=(qemu64 max 486 Skylake-Server Dhyana EPYC-Rome)
python3 "$VIREO_ROOT/tests/tcg/cpu-models.py" "$VIREO" "$work/cpuid.elf" "$expected" "${only[@]}"

ARGS=(-accel tcg -nodefaults -display none -serial stdio -m 64
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 -kernel "$work/cpuid.elf")
# flags: Vireo's dump with +f/-f/f=v against the same model's without them
"$VIREO" "${ARGS[@]}" -cpu qemu64,+ssse3,sse4_1=on,-sse3,xd=off,model-id=Test,family=6,model=2 \
    >"$work/flags.out" 2>"$work/flags.err"
l1=$(grep '^00000001.00' "$work/flags.out")
l81=$(grep '^80000001.00' "$work/flags.out")
brand=$(grep '^80000002.00' "$work/flags.out")
if [ "$l1" = "00000001.00 00000621 00000800 80082200 078BFBFD" ] &&
    [ "$l81" = "80000001.00 00000621 00000000 00000001 2183FBFD" ] &&
    [ "$brand" = "80000002.00 74736554 00000000 00000000 00000000" ] && [ ! -s "$work/flags.err" ]; then
    ok tcg-cpu-models/flags
else
    fail tcg-cpu-models/flags "$l1 | $l81 | $brand | $(head -c 200 "$work/flags.err")"
fi

[ -z "$have_qemu" ] && { skip tcg-cpu-models/vs-qemu "no QEMU 7.2 here"; exit 0; }
# Multiboot kernels linked low, as test kernels often are: loaded where QEMU loads them (kvm64:
# a model without svm, which Vireo lacks)
for at in 0x3000 0x8000; do
    python3 "$VIREO_ROOT/tests/lib/mkmodetest.py" "$work/low.elf" cpuid $at 2>"$work/build.err"
    LOW=(-accel tcg -nodefaults -display none -serial stdio -m 64
        -device isa-debug-exit,iobase=0xf4,iosize=0x4 -kernel "$work/low.elf" -cpu kvm64)
    "$QEMU" "${LOW[@]}" >"$work/q.out" 2>&1 </dev/null
    "$VIREO" "${LOW[@]}" >"$work/v.out" 2>&1 </dev/null
    if [ "$(tail -1 "$work/v.out")" = done ] && cmp -s "$work/q.out" "$work/v.out"; then
        ok tcg-cpu-models/multiboot-at-$at
    else
        fail tcg-cpu-models/multiboot-at-$at "$(diff "$work/q.out" "$work/v.out" | head -4 | tr '\n' '|')"
    fi
done
if cmp -s <("$VIREO" -cpu help) <("$QEMU" -cpu help); then
    ok tcg-cpu-models/help
else
    fail tcg-cpu-models/help "$(diff <("$VIREO" -cpu help) <("$QEMU" -cpu help) | head -5 | tr '\n' '|')"
fi
for m in EPYC-Rome Cascadelake-Server-v2; do
    "$QEMU" "${ARGS[@]}" -cpu $m >"$work/q.out" 2>"$work/q.err" </dev/null
    "$VIREO" "${ARGS[@]}" -cpu $m >/dev/null 2>"$work/v.err" </dev/null
    want=$(awk -v m="$m" '/^== /{f=0; for (i = 2; i <= NF; i++) if ($i == m) f=1; next} f' "$expected")
    got=$(grep -v ' 00000000 00000000 00000000 00000000$' "$work/q.out" | grep -v '^done')
    if [ "$want" != "$got" ]; then
        fail tcg-cpu-models/record-$m "QEMU's dump is not the recorded one"
    elif ! cmp -s "$work/q.err" "$work/v.err"; then
        fail tcg-cpu-models/warnings-$m "$(diff "$work/q.err" "$work/v.err" | head -4 | tr '\n' '|')"
    else
        ok tcg-cpu-models/live-$m
    fi
done
# what test kernels pass besides: -global kvm-pit.lost_tick_policy=discard, -overcommit
EXTRA=(-global kvm-pit.lost_tick_policy=discard -overcommit mem-lock=off,cpu-pm=on)
"$QEMU" "${ARGS[@]}" "${EXTRA[@]}" -cpu kvm64 >"$work/q.out" 2>"$work/q.err" </dev/null
qrc=$?
"$VIREO" "${ARGS[@]}" "${EXTRA[@]}" -cpu kvm64 >"$work/v.out" 2>"$work/v.err" </dev/null
vrc=$?
if [ $qrc = $vrc ] && cmp -s "$work/q.out" "$work/v.out" && cmp -s "$work/q.err" "$work/v.err"; then
    ok tcg-cpu-models/global-overcommit
else
    fail tcg-cpu-models/global-overcommit "exit $vrc (QEMU $qrc): $(head -c 200 "$work/v.err")"
fi
for c in qemu64,+nosuch qemu64,nosuch=on qemu64,family=x qemu64,+avx512f,enforce nosuchcpu; do
    "$QEMU" "${ARGS[@]}" -cpu $c >/dev/null 2>"$work/q.err" </dev/null
    qrc=$?
    "$VIREO" "${ARGS[@]}" -cpu $c >/dev/null 2>"$work/v.err" </dev/null
    vrc=$?
    if [ $qrc = $vrc ] && cmp -s "$work/q.err" "$work/v.err"; then
        ok "tcg-cpu-models/error $c"
    else
        fail "tcg-cpu-models/error $c" "exit $vrc (QEMU $qrc): $(head -c 200 "$work/v.err") | QEMU: $(head -c 200 "$work/q.err")"
    fi
done
