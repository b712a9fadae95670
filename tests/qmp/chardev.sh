#!/bin/bash
# Chardev backends carrying monitors (file, pipe, pty, socket client/server/fd, mux with Ctrl-A),
# -monitor stdio, and -chardev/-mon/-qmp errors worded as QEMU 7.2's.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-chardev "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/chardev.py"
