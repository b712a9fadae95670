#!/bin/bash
# QMP sessions with a booted guest under KVM: -S + cont, query-cpus-fast with 4 vCPUs, stop/cont,
# SHUTDOWN/STOP/RESET/POWERDOWN events in order, system_reset, system_powerdown, SIGTERM.
# Runs where /dev/kvm is hardware KVM, and inside the nested guest (tests/nested/boot.sh).
. "$(dirname "$0")/../lib/common.sh"
kvm_gate qmp-lifecycle hw
for f in vmlinuz-cloud test-initrd.cpio.gz; do
    [ -s "$VIREO_CACHE/$f" ] || { fail qmp-lifecycle "$VIREO_CACHE/$f missing: run scripts/setup"; finish; exit; }
done
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
exec "$PY" "$VIREO_ROOT/tests/kvm/qmp_lifecycle.py"
