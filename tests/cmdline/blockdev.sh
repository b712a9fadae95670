#!/bin/bash
# -drive / -blockdev / -snapshot / -hdX / -cdrom beside QEMU 7.2: see blockdev.py.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail cmdline-blockdev "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/cmdline/blockdev.py"
