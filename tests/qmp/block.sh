#!/bin/bash
# Block commands over QMP and image locking between emulators, beside QEMU 7.2: see block.py.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-block "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/block.py"
