#!/bin/bash
# Process life: -daemonize and -pidfile as libvirt probes them, the probe's queries, signals.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-process "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/process.py"
