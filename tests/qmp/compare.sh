#!/bin/bash
# Vireo's QMP beside real QEMU 7.2: the same sessions (negotiation, every query, bad input,
# JSON errors, argument errors, stop/cont, quit) must give the same replies and events.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-compare "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/compare.py"
