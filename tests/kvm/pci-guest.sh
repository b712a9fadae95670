#!/bin/bash
# tests/tcg/pci-guest.sh under KVM: the guest's lspci -nn -vv, the PCI lines of /proc/iomem and
# /proc/ioports and edu driven from inside it, beside QEMU 7.2 -accel kvm. Runs where /dev/kvm is
# hardware KVM and inside the nested-KVM guest (tests/nested/boot.sh).
. "$(dirname "$0")/../lib/common.sh"
kvm_gate pci-guest-kvm hw
PCI_GUEST_ACCEL=kvm exec bash "$(dirname "$0")/../tcg/pci-guest.sh"
