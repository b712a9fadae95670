# Shell helpers for tests: source it, then call ok/fail/skip.
VIREO_ROOT=${VIREO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VIREO_BUILD=${VIREO_BUILD:-build}
case "$VIREO_BUILD" in /*) ;; *) VIREO_BUILD=$VIREO_ROOT/$VIREO_BUILD ;; esac
VIREO=${VIREO:-$VIREO_BUILD/qemu-system-x86_64}
VIREO_CACHE=${VIREO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
_fails=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: ${2:-}"; _fails=$((_fails + 1)); }
skip() { echo "skip $1: ${2:-}"; }
finish() { [ $_fails -eq 0 ]; }

# kvm_problem: empty when KVM starts a VM here, else why not (the accelerator's own lines). The
# emulator under test is asked to start an empty KVM machine, so every /dev/kvm situation counts
# the way it counts for a guest: absent, no permission, a node that is not KVM or whose module is
# not loaded, a KVM that cannot create a VM. (Checking the node's permissions alone would call an
# unusable /dev/kvm usable.)
kvm_problem() {
    if [ -z "${_kvm_problem+set}" ]; then
        _kvm_problem=$(printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
            timeout 30 "$VIREO" -accel kvm -machine none -display none -qmp stdio 2>&1 >/dev/null)
        if [ $? = 0 ]; then
            _kvm_problem=""
        else
            _kvm_problem="KVM does not start here: $(echo "$_kvm_problem" | head -n 1)"
        fi
    fi
    echo "$_kvm_problem"
}

# kvm_hw_problem: as kvm_problem, and the CPU must show vmx or svm: hardware KVM, which runs any
# guest. A paravirtual KVM such as kvm_pvm starts VMs but cannot boot a stock Linux kernel
# (QEMU 7.2 cannot either); VIREO_KVM_FORCE=1 runs the tests there anyway.
kvm_hw_problem() {
    local why
    why=$(kvm_problem)
    if [ -n "$why" ]; then
        echo "$why"
    elif [ "${VIREO_KVM_FORCE:-0}" != 1 ] && ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
        echo "/dev/kvm is not hardware KVM here (no vmx/svm in /proc/cpuinfo$(
            [ -d /sys/module/kvm_pvm ] && echo ", kvm_pvm loaded"))"
    fi
}

# kvm_gate NAME [hw]: stop the test script unless KVM (hardware KVM with "hw") works here: a
# skip on this machine, a failure inside the nested guest (where the harness must provide it).
kvm_gate() {
    local why
    if [ "${2:-}" = hw ]; then why=$(kvm_hw_problem); else why=$(kvm_problem); fi
    [ -z "$why" ] && return 0
    if [ "${VIREO_NESTED:-0}" = 1 ]; then
        fail "$1" "$why"
    else
        skip "$1" "$why (the nested group runs this inside a KVM guest)"
    fi
    finish
    exit
}
