#!/bin/bash
# QMP transport and robustness: unix/tcp sockets, several clients, clients leaving mid-message,
# oversized and garbage input, events only after negotiation, -qmp-pretty, quit.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-protocol "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/protocol.py"
