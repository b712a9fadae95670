#!/bin/bash
# Multiboot (v1) kernels under KVM, beside QEMU 7.2: tests/lib/mkmultiboot.py's kernel (ELF32 and
# a.out-kludge forms) prints what the loader passed (magic, info flags, command line, loader name,
# mem_lower, -initrd modules, the first memory-map entry) on COM1 and leaves through
# isa-debug-exit (exit status 33). Vireo's serial output must be the expected text, which is what
# real `qemu-system-x86_64 -accel tcg` prints (checked again here when QEMU is installed and this
# is not the nested guest); stderr must stay empty. Loader errors must match QEMU's.
# Folded in (a small guest that ends through isa-debug-exit too): a firmware boot under KVM,
# SeaBIOS booting tests/lib/mkbootsect.py's sector from a virtio-blk disk (kvm-firmware-boot);
# tests/tcg/firmware.sh checks the same boot beside QEMU 7.2.
# Folded in as well (kvm-cpu-models): QEMU 7.2's CPU models under KVM, beside QEMU 7.2
# -accel kvm in the same guest: tests/lib/asm/modes/cpuid.S's CPUID dump and the stderr
# (QEMU's "host doesn't support requested feature" warnings, per vCPU) must be QEMU's, and
# `enforce` must fail as QEMU does.
. "$(dirname "$0")/../lib/common.sh"
QEMU=${QEMU:-qemu-system-x86_64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for k in elf aout elf64-x86-64; do
    python3 "$VIREO_ROOT/tests/lib/mkmultiboot.py" "$work/mb-$k" "$k"
done
echo "module one line" >"$work/mod1.txt"
printf 'second\nmodule\n' >"$work/mod2.txt"
cd "$work" || exit 1

expected() { # KERNEL-NAME: the serial output for -append "hello world" and the two modules
    cat <<EOT
multiboot: hello
magic ok
flags 0000024f
cmdline $1 hello world
loader qemu
mem_lower 0000027f
mods 00000002
mod mod1.txt arg1 arg2 size 00000010 data module one line
mod mod2.txt size 0000000e data second
mmap0 00000000 0009fc00 00000001
bye
EOT
}
ARGS=(-display none -serial stdio -m 128 -append "hello world" -initrd "mod1.txt arg1 arg2,mod2.txt"
      -device isa-debug-exit,iobase=0xf4,iosize=0x4)

# The oracle: real QEMU prints the expected text (not inside the nested guest, where TCG-in-TCG
# through SeaBIOS would only be slow).
if command -v "$QEMU" >/dev/null 2>&1 && [ -z "${VIREO_NESTED:-}" ]; then
    for k in elf aout; do
        timeout 60 "$QEMU" -accel tcg "${ARGS[@]}" -kernel "mb-$k" >qemu.out 2>qemu.err </dev/null
        rc=$?
        if [ $rc -eq 33 ] && expected "mb-$k" | cmp -s - qemu.out; then
            ok multiboot/qemu-oracle-$k
        else
            fail multiboot/qemu-oracle-$k "QEMU exit $rc: $(expected "mb-$k" | diff - qemu.out | head -c 400)"
        fi
    done
else
    skip multiboot/qemu-oracle "QEMU not installed or nested guest"
fi

# Loader errors (any accelerator): the same message and status as QEMU.
check_error() { # NAME EXPECTED-STDERR ARGS...
    local name=$1 want=$2
    shift 2
    timeout 60 "$VIREO" -display none -serial none -m 128 "$@" >out 2>err </dev/null
    local rc=$?
    if [ $rc -eq 1 ] && [ "$(sed 's|^[^ :]*qemu-system-x86_64: |PROG: |' err)" = "PROG: $want" ]; then
        ok "multiboot/$name"
    else
        fail "multiboot/$name" "exit $rc, stderr: $(head -c 300 err)"
    fi
}
check_error error-x86-64 "Cannot load x86-64 image, give a 32bit one." -kernel mb-elf64-x86-64
check_error error-module "Failed to open file 'nonexist.txt'" -kernel mb-elf -initrd mod1.txt,nonexist.txt

kvm_gate multiboot/kvm
# (A paravirtual /dev/kvm without vmx/svm, such as PVM, runs these 32-bit guests too.)
for k in elf aout; do
    timeout 60 "$VIREO" -accel kvm "${ARGS[@]}" -kernel "mb-$k" >vireo.out 2>vireo.err </dev/null
    rc=$?
    if [ $rc -ne 33 ]; then
        fail multiboot/kvm-$k "exit $rc (want 33); stderr: $(head -c 300 vireo.err); out: $(head -c 300 vireo.out)"
    elif ! expected "mb-$k" | cmp -s - vireo.out; then
        fail multiboot/kvm-$k "serial output differs: $(expected "mb-$k" | diff - vireo.out | head -c 400)"
    elif [ -s vireo.err ]; then
        fail multiboot/kvm-$k "stderr not empty: $(head -c 300 vireo.err)"
    else
        ok multiboot/kvm-$k
    fi
done
# No -append and no modules: the command line is the file name and a space, no modules.
timeout 60 "$VIREO" -accel kvm -display none -serial stdio -m 64 -kernel mb-elf \
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 >vireo.out 2>vireo.err </dev/null
rc=$?
if [ $rc -eq 33 ] && grep -qx 'cmdline mb-elf ' vireo.out && grep -qx 'mods 00000000' vireo.out &&
    [ ! -s vireo.err ]; then
    ok multiboot/kvm-bare
else
    fail multiboot/kvm-bare "exit $rc; $(head -c 300 vireo.out) $(head -c 200 vireo.err)"
fi
# Firmware boot: no -kernel, so SeaBIOS runs from the reset vector in real mode (a vCPU whose
# registers Vireo never set) and boots the sector, which prints and exits with status 67.
python3 "$VIREO_ROOT/tests/lib/mkbootsect.py" disk.img "booted by SeaBIOS under KVM"
timeout 60 "$VIREO" -accel kvm -nodefaults -display none -serial stdio -m 128 \
    -drive file=disk.img,format=raw,if=virtio -device isa-debug-exit -no-reboot \
    >vireo.out 2>vireo.err </dev/null
rc=$?
if [ $rc -eq 67 ] && [ "$(tr -d '\r' <vireo.out)" = "booted by SeaBIOS under KVM" ] && [ ! -s vireo.err ]; then
    ok multiboot/kvm-firmware-boot
else
    fail multiboot/kvm-firmware-boot "exit $rc (want 67); out: $(head -c 300 vireo.out); err: $(head -c 300 vireo.err)"
fi

# ---- kvm-cpu-models: named CPU models under KVM, beside QEMU 7.2 (docs/cpu-models.md) ----
if ! python3 "$VIREO_ROOT/tests/lib/mkmodetest.py" cpuid.elf cpuid 2>build.err; then
    skip kvm-cpu-models "cannot build the CPUID program: $(head -c 200 build.err)"
elif ! command -v "$QEMU" >/dev/null 2>&1; then
    skip kvm-cpu-models "no QEMU 7.2 here"
else
    CPUA=(-accel kvm -nodefaults -display none -serial stdio -m 64
          -device isa-debug-exit,iobase=0xf4,iosize=0x4 -kernel cpuid.elf)
    # an Intel model on whatever host (the host's vendor, the XSAVE leaf, filtering), an AMD one
    # with its cache leaves on two vCPUs (topology, the warnings once per vCPU), the default,
    # host (everything KVM offers, the host's identity)
    for c in "-cpu Skylake-Client" "-cpu EPYC -smp 2" "" "-cpu host" "-cpu Skylake-Client,enforce"; do
        # shellcheck disable=SC2086
        timeout 60 "$QEMU" "${CPUA[@]}" $c >q.out 2>q.err </dev/null
        qrc=$?
        # shellcheck disable=SC2086
        timeout 60 "$VIREO" "${CPUA[@]}" $c >v.out 2>v.err </dev/null
        vrc=$?
        name=${c#-cpu }
        name="kvm-cpu-models/${name:-default}"
        name=${name// /}
        if [ $vrc != $qrc ]; then
            fail "$name" "exit $vrc, QEMU $qrc; stderr: $(head -c 300 v.err)"
        elif ! cmp -s q.out v.out; then
            fail "$name" "CPUID differs from QEMU's: $(diff q.out v.out | head -8 | tr '\n' '|')"
        elif ! cmp -s q.err v.err; then
            fail "$name" "stderr differs from QEMU's: $(diff q.err v.err | head -6 | tr '\n' '|')"
        else
            ok "$name"
        fi
    done
fi
finish
