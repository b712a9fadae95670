#!/bin/bash
# Command-line compatibility with QEMU 7.2: each case runs the real qemu-system-x86_64 and
# Vireo's parser side by side and compares exit status and stderr (program name aside).
#
# Vireo's side is build/tests/test-cmdline --parse ARGS, which runs vireo_parse_cmdline
# exactly as main() does and exits without starting a machine. QEMU's side gets
# "-qmp stdio" (plus "-display none" unless the case sets a display) and a QMP "quit" on
# stdin, so accepted command lines exit at once; the options under test come first, so
# QEMU reports their errors before the added ones matter.
#
# Lines QEMU prints that depend on the host or on later stages are filtered out before
# comparing: CPUID feature warnings, and what accelerator start-up says about this host's
# /dev/kvm (its KVM lines, "failed to initialize kvm: ...", "falling back to ..."; none on a
# host with working KVM). Those lines are compared with Vireo's own, byte for byte, for every
# /dev/kvm situation in cmdline/main-exit.sh (no-kvm/...).
. "$(dirname "$0")/../lib/common.sh"

QEMU=${QEMU:-qemu-system-x86_64}
PARSE=$VIREO_BUILD/tests/test-cmdline
if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip qemu-compat "$QEMU not installed"
    exit 0
fi
if [ ! -x "$PARSE" ]; then
    fail qemu-compat "$PARSE not built"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

normalize() { # stderr file: drop host-specific lines, unify the program name
    grep -v -e "host doesn't support requested feature" \
        -e "TCG doesn't support requested feature" \
        -e "doesn't support hyperthreading" -e "Please configure -smp options properly" \
        -e "falling back to " -e "^qemu: module .* not found" \
        -e "^Could not access KVM kernel module: " -e "^kvm version too old$" \
        -e "^kvm version not supported$" -e "^ioctl(KVM_CREATE_VM) failed: " \
        -e "^[^ ]*qemu-system-x86_64: \(-accel kvm: \)\?failed to initialize kvm: " "$1" |
        sed -e 's|^[^ :]*qemu-system-x86_64: |PROG: |'
}

# QEMU gets 90 s: a case like -smp 255 starts 255 vCPU threads, which on a loaded 2-core host
# took more than 20 s. The harness options go first: QEMU still meets the options under test in the same order
# relative to each other, and a missing argument at the end stays missing. $qextra adds
# QEMU-only options a case needs (e.g. "-monitor none" next to -nographic).
run_qemu() {
    local extra=(-qmp stdio)
    case " $* " in
    *" -display "* | *" -nographic "* | *" --display "*) ;;
    *) extra+=(-display none) ;;
    esac
    # shellcheck disable=SC2086
    printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
        timeout 90 "$QEMU" "${extra[@]}" ${qextra:-} "$@" >"$tmp/qemu.out" 2>"$tmp/qemu.err"
    echo $? >"$tmp/qemu.rc"
}

# check NAME ARGS...: exit status and stderr must match QEMU's.
check() {
    local name=$1
    shift
    run_qemu "$@"
    "$PARSE" --parse "$@" >"$tmp/vireo.out" 2>"$tmp/vireo.err" </dev/null
    local vrc=$? qrc
    qrc=$(cat "$tmp/qemu.rc")
    normalize "$tmp/qemu.err" >"$tmp/qemu.norm"
    normalize "$tmp/vireo.err" >"$tmp/vireo.norm"
    if [ "$qrc" != "$vrc" ]; then
        fail "$name" "exit status: qemu $qrc, vireo $vrc; qemu said: $(head -c 300 "$tmp/qemu.norm")"
    elif ! cmp -s "$tmp/qemu.norm" "$tmp/vireo.norm"; then
        fail "$name" "stderr differs: $(diff "$tmp/qemu.norm" "$tmp/vireo.norm" | head -c 600)"
    else
        ok "$name"
    fi
}

# --- accepted command lines -------------------------------------------------------------
check good/empty
check good/m-4G -m 4G
check good/m-4096 -m 4096
check good/m-1.5G -m 1.5G
check good/m-lower -m 4g
check good/m-size -m size=2G
check good/m-dup -m size=1G,size=2G
check good/m-empty -m ''
check good/m-zero -m 0
check good/m-1.0 -m 1.0
check good/m-100k -m 100k
check good/m-hex -m 0x100
check good/m-maxmem -m 4G,maxmem=8G
check good/m-repeat -m 1G -m 2G
check good/smp-4 -smp 4
check good/smp-sockets -smp 4,sockets=2
check good/smp-maxcpus -smp 4,maxcpus=8
check good/smp-dies -smp 8,dies=2
check good/smp-zero -smp 0
check good/smp-hex -smp 0x10
check good/smp-merge -smp 4,maxcpus=8 -smp 2
check good/smp-dup -smp 4,sockets=2,sockets=1
check good/smp-255 -smp 255
check good/smp-q35-288-max -M q35 -smp 8,maxcpus=16
check good/machine-pc -machine pc
check good/machine-q35 -M q35
check good/machine-type -M type=q35
check good/machine-full -M pc-i440fx-7.2
check good/machine-none -M none
check good/machine-props -M q35,usb=off,vmport=off,dump-guest-core=off,hpet=off,acpi=on
check good/machine-trailing-comma -M pc,
check good/machine-last-wins -M pc -M q35
check good/machine-empty -M ''
check good/machine-bool-yes -M pc,mem-merge=yes,usb=true
check good/accel-tcg -accel tcg
check good/accel-repeat -accel kvm -accel tcg
check good/accel-tcg-thread -accel tcg,thread=single
check good/accel-machine -M accel=kvm:tcg
check good/accel-machine-last -M pc,accel=kvm,accel=tcg
check good/accel-enable-kvm-then-M -enable-kvm -M accel=tcg
check good/accel-invalid-then-tcg -accel foo -accel tcg
check good/accel-machine-invalid -M accel=foo:tcg
check good/cpu-max -cpu max
check good/cpu-qemu64 -cpu qemu64
check good/overcommit -overcommit mem-lock=off,cpu-pm=on
check good/cpu-models -cpu Skylake-Server-IBRS,+ssse3,-hle,sse4_1=on,xd=off,check=off
check good/cpu-model-alias -cpu Opteron_G1
check good/cpu-model-props -cpu kvm64,family=6,model=2,stepping=3,model-id=X,vendor=GenuineIntel
check good/cpu-max-flags -cpu max,-bmi1,+x2apic,+tsc-deadline,+umip
check good/name -name foo
check good/name-escaped -name foo,,bar
check good/name-debug -name foo,debug-threads=yes
check good/name-shortbool -name foo,debug-threads
check good/name-noflag -name foo,nodebug-threads
check good/display-none -display none
check good/display-none-comma -display none,
qextra="-monitor none" check good/nographic -nographic -serial none
check good/flags -S -no-reboot -no-shutdown -nodefaults -no-user-config -no-hpet
check good/double-dash --m 1G --smp 2
check good/serial-null -serial null -serial none -serial null

# --- errors ------------------------------------------------------------------------------
check bad/invalid-option -foo
check bad/invalid-double-dash --foo
check bad/invalid-three-dashes ---m 1G
check bad/invalid-equals -m=1G
check bad/invalid-dash-only -
check bad/invalid-dashdash --
check bad/invalid-before-version -version -foo
check bad/invalid-after-error -m 5X -foo
check bad/missing-arg -m
check bad/missing-arg-name -name
check bad/missing-arg-after-version -version -m
check bad/m-5X -m 5X
check bad/m-MB -m 512MB
check bad/m-GiB -m 4GiB
check bad/m-1.5 -m 1.5
check bad/m-neg -m -1
check bad/m-exp -m 1e3
check bad/m-dotfirst -m .5G
check bad/m-trailing-space -m '4G '
check bad/m-16E -m 16E
check bad/m-size-empty -m size=
check bad/m-size-flag -m size
check bad/m-unknown -m foo=1
check bad/m-shortbool -m 1,5G
check bad/m-hex-suffix -m 0x1p4
check bad/m-slots -m 4G,slots=2
check bad/m-slots-merged -m 4G -m slots=2
check bad/m-slots-nan -m 4G,slots=x
check bad/m-maxmem-nan -m 4G,maxmem=x
check bad/m-maxmem-small -m 4G,maxmem=2G
check bad/smp-x -smp x
check bad/smp-4x -smp 4x
check bad/smp-frac -smp 1.5
check bad/smp-empty-cpus -smp cpus=
check bad/smp-empty-maxcpus -smp 4,maxcpus=
check bad/smp-unknown -smp 4,foo=1
check bad/smp-flag -smp 4,sockets
check bad/smp-escape -smp 4,,2
check bad/smp-maxcpus-small -smp 4,maxcpus=2
check bad/smp-product -smp 4,cores=3
check bad/smp-threads -smp 4,threads=3
check bad/smp-256 -smp 256
check bad/smp-minus -smp cpus=-1
check bad/smp-huge -smp 99999999999
check bad/smp-clusters -smp 8,clusters=2
check bad/smp-q35-289 -M q35 -smp 289
check bad/smp-none-2 -M none -smp 2
check bad/smp-none-maxcpus -M none -smp 1,maxcpus=2
check bad/machine-unknown -M foo
check bad/machine-case -M Pc
check bad/machine-prop -M pc,foo=bar
check bad/machine-prop-none -M none,hpet=off
check bad/machine-dotted -M pc,a.b=1
check bad/machine-flag -M pc,usb
check bad/machine-noflag -M pc,nousb
check bad/machine-bool -M pc,usb=maybe
check bad/machine-onoffauto -M pc,vmport=x
check bad/machine-badkey -M pc,1a=b
check bad/machine-dots -M pc,a..b=1
check bad/machine-underscore -M pc,_x=1
check bad/machine-escape -M pc,,foo
check bad/machine-empty-first -M ,accel=kvm
check bad/machine-equals-first -M =pc
check bad/machine-inconsistent -M pc,a=1,a.b=2
check bad/machine-long-key -M "pc,$(printf 'a%.0s' {1..130})=1"
check bad/machine-value-implied -M pc=1
check bad/no-hpet-none -M none -no-hpet
check bad/append-no-kernel -append x
check bad/initrd-no-kernel -initrd x
check bad/append-initrd-no-kernel -initrd x -append y
check bad/append-prop-no-kernel -M pc,append=x
check bad/order-append-before-machine -M foo -append x
check bad/order-machine-before-smp -M foo -smp x
check bad/order-smp-before-accel -accel foo -smp x
check bad/order-smp-before-prop -M pc,foo=1 -smp x
check bad/order-smp-before-mem -smp 9999 -m 4G,slots=2
check bad/order-mem-before-accel -m 4G,slots=2 -accel foo
check bad/order-accel-before-cpu -cpu foo -accel foo
check bad/accel-invalid -accel foo
check bad/accel-invalid-machine -M accel=foo
check bad/accel-empty-machine -M pc,accel=
check bad/accel-incompatible -M accel=kvm -accel tcg
check bad/accel-incompatible-enable-kvm -enable-kvm -accel tcg
check bad/accel-incompatible-first -accel foo -M accel=tcg
check bad/accel-prop -accel kvm,foo=bar
check bad/accel-flag -accel kvm,foo
check bad/accel-thread -accel tcg,thread=x
check bad/accel-irqchip -accel kvm,kernel-irqchip=x
check bad/kernel-machine-none -M none -kernel /nonexistent -append x
check bad/cpu-unknown -cpu foo
check bad/cpu-flag-unknown -cpu qemu64,+nosuch
check bad/overcommit-key -overcommit foo=on
check bad/overcommit-value -overcommit mem-lock=maybe,cpu-pm=on
check bad/cpu-prop-unknown -cpu EPYC,nosuch=1
check bad/cpu-prop-int -cpu EPYC,level=x
check bad/cpu-flag-value -cpu qemu64,sse3=maybe
check bad/cpu-empty -cpu ''
check bad/cpu-host-tcg -cpu host
check bad/cpu-host-machine-tcg -cpu host -enable-kvm -M accel=tcg
check bad/cpu-help-features -cpu help,foo
check bad/name-flag -name foo,bar
check bad/name-unknown -name guest=x,y=1
check bad/name-noflag -name foo,nox
check bad/name-bool -name foo,debug-threads=maybe
check bad/name-bool-case -name foo,debug-threads=ON
check bad/name-bool-empty -name foo,debug-threads=
check bad/name-empty-key -name foo,=x
check bad/display-unknown -display foo
check bad/display-empty -display ''
check bad/display-none-prop -display none,foo=1
check bad/display-vnc-noarg -display vnc
check bad/display-vnc-nan -display vnc=:x
check bad/vnc-no-port -vnc foo
check bad/vnc-port-nan -vnc :x
check bad/vnc-param -vnc :0,bogus=1
check bad/vnc-port-range -vnc :99999
check bad/vnc-to -vnc :1,to=x
check bad/vnc-share -vnc 127.0.0.1:5,share=bad
check bad/vnc-password -vnc :1,password=maybe
check bad/display-gl -display none,gl=on

# --- help, version: exit status only (the lists are Vireo's own) -----------------------------
check help/machine -machine help
check help/machine-q -M '?'
check help/machine-after-error-free -M help -m 5X
check help/machine-props -M pc,help
check help/cpu -cpu help
check help/cpu-before-machine -cpu help -M foo
check help/cpu-after-append -cpu help -append x
check help/accel -accel help
check help/accel-empty -accel ''
check help/display -display help
check help/version -version
check help/version-first -version -m 5X
check help/h -h
check help/help --help

# The version banner: tools parse its first line.
"$PARSE" --parse -version >"$tmp/v" 2>&1
if head -n1 "$tmp/v" | grep -qE '^QEMU emulator version [0-9]+\.[0-9]+\.[0-9]+' &&
    sed -n 2p "$tmp/v" | grep -q '^Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers$'; then
    ok version/banner
else
    fail version/banner "$(cat "$tmp/v")"
fi
finish
