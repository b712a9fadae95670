#!/bin/bash
# The differential randomized tester (tests/lib/blockdiff.py, docs/qemu-img.md): every bug it
# found, kept as a fixed sequence in tests/qemu-img/blockdiff/*.ops, then one random sequence of
# a fixed seed. Each runs with Vireo's qemu-img/qemu-io and with QEMU 7.2's side by side. The
# saved sequences compare exit codes, messages and new files after every op and the whole state
# after their last op (--check-last); the random one compares everything after every op.
# Suite time: the saved sequences run with the normal build only, the random sequence with both
# builds (the ASan rerun). The long run is `make blockdiff-long`, never part of the suite.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then
    skip blockdiff "QEMU 7.2's qemu-img/qemu-io not installed"
    exit 0
fi
B=$VIREO_ROOT/tests/lib/blockdiff.py
rc=0
if [ "${VIREO_ASAN:-0}" != 1 ]; then
    python3 "$B" --vireo "$VIREO_BUILD" --check-last \
        --replay "$VIREO_ROOT"/tests/qemu-img/blockdiff/*.ops || rc=1
fi
# (a failing random sequence is printed as a script, not minimised here: minimise it with
#  tests/lib/blockdiff.py --seed N --ops 12)
python3 "$B" --vireo "$VIREO_BUILD" --seeds "${VIREO_BLOCKDIFF_SEEDS:-1}" --ops 12 \
    --no-minimise || rc=1
exit $rc
