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
# Tests run $VIREO_TEST_JOBS at a time (default: the number of CPUs, at most 4); each test's lines
# are printed together when it ends. Every test must therefore be able to run beside any other
# (and beside its own run under the other build): temporary files from mktemp, free ports.
jobs=${VIREO_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -gt 4 ] && jobs=4
[ "$jobs" -lt 1 ] && jobs=1
resdir=$(mktemp -d "${TMPDIR:-/tmp}/vireo-run.XXXXXX")
trap 'rm -rf "$resdir"' EXIT
# Every FAIL line is also collected and repeated just above the summary line, so the end of a
# long run's output (all a CI page may show) names what failed.
faillist=$VIREO_BUILD/test-logs/failures.txt
mkdir -p "$VIREO_BUILD/test-logs"

run_one() { # name, command...  (runs in its own subshell; writes $resdir/<n>.out and .cnt)
    local name=$1; shift
    local logdir=$VIREO_BUILD/test-logs
    mkdir -p "$logdir"
    local log=$logdir/${name//\//_}.log
    local t0=$SECONDS
    timeout --kill-after=10 ${VIREO_TEST_TIMEOUT:-1200} "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    s=$(grep -c '^skip ' "$log")
    grep -E '^(ok|FAIL|skip) ' "$log" | sed "s|^|  [$name] |"
    grep -E '^FAIL ' "$log" | sed "s|^|  [$name] |" >>"$out.fail"
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  [$name] FAIL $name: exited with status $rc (log: $log)" | tee -a "$out.fail"
        tail -n 20 "$log" | sed 's/^/      /'
        f=1
    elif [ "$f" -gt 0 ]; then
        echo "  [$name] log: $log"
    fi
    if [ "$VIREO_ASAN" = 1 ] && grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
        echo "  [$name] FAIL $name: sanitizer report (log: $log)" | tee -a "$out.fail"
        f=$((f + 1))
    fi
    echo "  [$name] ($((SECONDS - t0))s)"
    echo "$p $f $s" >"$out.cnt"
}

# The queue: one entry per test, "ASAN BUILD NAME COMMAND". Long tests go first so that the
# last minutes are not one long test running alone.
queue=()
add_groups() { # asan(0|1), build, prefix, groups...
    local a=$1 b=$2 prefix=$3 g t
    shift 3
    for g in "$@"; do
        if [ "$g" = unit ]; then
            for t in "$b"/tests/test-*; do
                [ -x "$t" ] || continue
                queue+=("$a $b ${prefix}unit/$(basename "$t") $t")
            done
            continue
        fi
        [ -d "tests/$g" ] || continue
        for t in tests/"$g"/*.sh; do
            [ -x "$t" ] || continue
            queue+=("$a $b $prefix$g/$(basename "$t" .sh) $t")
        done
    done
}
if [ $asan = 1 ]; then
    add_groups 1 "$VIREO_BUILD" asan/ "${groups[@]}"
else
    add_groups 0 "$VIREO_BUILD" "" "${groups[@]}"
fi
if [ $with_asan = 1 ]; then
    add_groups 1 build-asan asan/ "${asan_groups[@]}"
fi
# Known long tests first (in this order), then the rest as listed.
long_first="nested/boot asan/tcg/diff-seeds qemu-img/bitmap cmdline/qemu-compat tcg/diff-seeds asan/qemu-img/bitmap asan/cmdline/qemu-compat qemu-img/datafile asan/qemu-img/datafile"
ordered=()
for l in $long_first; do
    for e in "${queue[@]}"; do
        set -- $e
        [ "$3" = "$l" ] && ordered+=("$e")
    done
done
for e in "${queue[@]}"; do
    set -- $e
    case " $long_first " in *" $3 "*) ;; *) ordered+=("$e") ;; esac
done

declare -A running=()
n=0
collect() { # pid
    local id=${running[$1]}
    unset "running[$1]"
    cat "$resdir/$id.out"
    local p f s
    read -r p f s <"$resdir/$id.cnt" 2>/dev/null || { p=0 f=1 s=0; echo "  FAIL runner: test $id left no result"; }
    [ -s "$resdir/$id.out.fail" ] && cat "$resdir/$id.out.fail" >>"$resdir/failures"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}
echo "== running ${#ordered[@]} test programs, $jobs at a time"
for e in "${ordered[@]}"; do
    set -- $e
    a=$1 b=$2 name=$3
    shift 3
    while [ ${#running[@]} -ge "$jobs" ]; do
        wait -n -p done_pid "${!running[@]}"
        collect "$done_pid"
    done
    n=$((n + 1))
    (
        export VIREO_BUILD=$b
        set_asan "$a"
        out=$resdir/$n
        run_one "$name" "$@" >"$out.out"
    ) &
    running[$!]=$n
done
while [ ${#running[@]} -gt 0 ]; do
    wait -n -p done_pid "${!running[@]}"
    collect "$done_pid"
done
: >"$faillist"
if [ -s "$resdir/failures" ]; then
    cp "$resdir/failures" "$faillist"
    echo "== failures (also in $faillist)"
    cut -c1-400 "$faillist" | head -n 40
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
