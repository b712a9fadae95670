#!/bin/bash
# The VNC server's monitor side and handshake beside QEMU 7.2: query-vnc, query-vnc-servers,
# set_password / expire_password / change-vnc-password, HMP info vnc / change vnc password,
# the VNC_* events, and the bytes of the RFB handshake up to ServerInit.
. "$(dirname "$0")/../lib/common.sh"
[ -x "$VIREO" ] || { fail qmp-vnc "$VIREO not built"; finish; exit; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/qmp/vnc.py"
