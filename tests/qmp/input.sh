#!/bin/bash
# QMP send-key / input-send-event and HMP sendkey beside QEMU 7.2: replies, and the bytes a
# tiny guest reads from the i8042 for them (tests/qmp/input.py).
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-input "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/input.py"
