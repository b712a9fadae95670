#!/bin/bash
# The differential randomized tester (tests/lib/blockdiff.py, docs/qemu-img.md): every bug it
# found, kept as a fixed sequence in tests/qemu-img/blockdiff/*.ops, then a few random sequences
# of fixed seeds. Each runs with Vireo's qemu-img/qemu-io and with QEMU 7.2's side by side and is
# compared after every step. The long run is `make blockdiff-long`, never part of the suite.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then
    skip blockdiff "QEMU 7.2's qemu-img/qemu-io not installed"
    exit 0
fi
B=$VIREO_ROOT/tests/lib/blockdiff.py
rc=0
python3 "$B" --vireo "$VIREO_BUILD" --replay "$VIREO_ROOT"/tests/qemu-img/blockdiff/*.ops || rc=1
# (a failing random sequence is printed as a script, not minimised here: minimise it with
#  tests/lib/blockdiff.py --seed N)
python3 "$B" --vireo "$VIREO_BUILD" --seeds "${VIREO_BLOCKDIFF_SEEDS:-1-3}" --ops 20 \
    --no-minimise || rc=1
exit $rc
