#!/bin/bash
# Differential test of the translator against the host CPU with more seeds and cases than the
# unit run (tests/unit/test-tcg-diff.c): every case runs natively and translated and the register,
# flag and memory states are compared. Fixed seeds, so a failure reproduces with
#   $VIREO_BUILD/tests/test-tcg-diff --seed N --cases M
source "$(dirname "$0")/../lib/common.sh"
bin=$VIREO_BUILD/tests/test-tcg-diff
[ -x "$bin" ] || { fail tcg-diff "missing $bin (make all)"; exit 1; }
cases=${VIREO_TCG_CASES:-50000}
for seed in 101 202 303 404; do
    out=$("$bin" --seed $seed --cases $cases 2>&1)
    if echo "$out" | grep -q '^ok random/one-seed'; then
        ok "tcg-diff/seed-$seed ($cases cases)"
    else
        fail "tcg-diff/seed-$seed" "$(echo "$out" | grep -m1 '^FAIL')"
        echo "$out" | grep -A12 -m1 '^FAIL' | sed 's/^/    /'
    fi
done
finish
