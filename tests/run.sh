#!/bin/bash
# Vireo test runner. Each test program (a unit-test binary in $BUILD/tests/ or an executable
# tests/<group>/*.sh) prints one line per check:
#   ok NAME            a check passed
#   FAIL NAME: why     a check failed
#   skip NAME: why     a check could not run here
# A program that exits non-zero without printing a FAIL line counts as one failure.
# The last line printed is "N passed, N failed, N skipped".
#   tests/run.sh [--asan | --with-asan] [GROUP...]     groups: unit cmdline kvm nested ...
# --asan runs the sanitizer groups with the sanitizer build (build-asan) only; --with-asan runs
# the groups asked for with build/, then the sanitizer groups again with build-asan/.
set -u
cd "$(dirname "$0")/.."
user_build=${VIREO_BUILD:-}
export VIREO_BUILD=${VIREO_BUILD:-build}
export VIREO_ROOT=$PWD
asan=0
with_asan=0
groups=()
for a in "$@"; do
    case "$a" in
    --asan) asan=1 ;;
    --with-asan) with_asan=1 ;;
    *) groups+=("$a") ;;
    esac
done
asan_groups=(unit cmdline tcg qemu-img qmp)
if [ ${#groups[@]} -eq 0 ]; then
    if [ $asan = 1 ]; then
        groups=("${asan_groups[@]}")
    else
        groups=(unit cmdline tcg kvm nested qemu-img qmp)
    fi
fi
set_asan() {
    asan=$1
    export VIREO_ASAN=$asan
    if [ "$asan" = 1 ]; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    fi
}
if [ $asan = 1 ] && [ -z "$user_build" ]; then
    export VIREO_BUILD=build-asan
fi
set_asan $asan

passed=0 failed=0 skipped=0
logdir=$VIREO_BUILD/test-logs
mkdir -p "$logdir"
# Every FAIL line is also collected here and repeated just above the summary line, so the end of
# a long run's output (all a CI page may show) names what failed.
faillist=$logdir/failures.txt
: >"$faillist"

run_one() { # name, command...
    local name=$1; shift
    local log=$logdir/${name//\//_}.log
    local t0=$SECONDS
    timeout --kill-after=10 ${VIREO_TEST_TIMEOUT:-1200} "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    s=$(grep -c '^skip ' "$log")
    grep -E '^(ok|FAIL|skip) ' "$log" | sed "s|^|  [$name] |"
    grep -E '^FAIL ' "$log" | sed "s|^|  [$name] |" >>"$faillist"
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  [$name] FAIL $name: exited with status $rc (log: $log)" | tee -a "$faillist"
        tail -n 20 "$log" | sed 's/^/      /'
        f=1
    elif [ "$f" -gt 0 ]; then
        echo "  [$name] log: $log"
    fi
    if [ $asan = 1 ] && grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
        echo "  [$name] FAIL $name: sanitizer report (log: $log)" | tee -a "$faillist"
        f=$((f + 1))
    fi
    echo "  [$name] ($((SECONDS - t0))s)"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

run_groups() { # prefix, groups...
    local prefix=$1 g t
    shift
    for g in "$@"; do
        echo "== $prefix$g ($VIREO_BUILD)"
        if [ "$g" = unit ]; then
            for t in "$VIREO_BUILD"/tests/test-*; do
                [ -x "$t" ] || continue
                run_one "${prefix}unit/$(basename "$t")" "$t"
            done
            continue
        fi
        [ -d "tests/$g" ] || continue
        for t in tests/"$g"/*.sh; do
            [ -x "$t" ] || continue
            run_one "$prefix$g/$(basename "$t" .sh)" "$t"
        done
    done
}
if [ $asan = 1 ]; then
    run_groups asan/ "${groups[@]}"
else
    run_groups "" "${groups[@]}"
fi
if [ $with_asan = 1 ]; then
    export VIREO_BUILD=build-asan
    set_asan 1
    run_groups asan/ "${asan_groups[@]}"
fi
if [ -s "$faillist" ]; then
    echo "== failures (also in $faillist)"
    cut -c1-400 "$faillist" | head -n 40
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
