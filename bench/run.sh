#!/bin/bash
# Runs every benchmark (make bench); none of them is part of the tests. Each prints its own report.
# (bench/lib.sh is what the guest benchmarks share, not a benchmark.)
#   bench/run.sh [NAME...]      names: every bench/*.sh but this one (kvm-exits, tcg-loop, ...)
set -u
cd "$(dirname "$0")/.."
benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
    for f in bench/*.sh; do
        b=$(basename "$f" .sh)
        [ "$b" = run ] || [ "$b" = lib ] || benches+=("$b")
    done
fi
rc=0
for b in "${benches[@]}"; do
    echo "== bench $b"
    t0=$SECONDS
    "bench/$b.sh" || { echo "bench $b: failed" >&2; rc=1; }
    echo "== bench $b: $((SECONDS - t0))s"
done
exit $rc
