#!/bin/bash
# The translator outside 64-bit mode: freestanding Multiboot test programs
# (tests/lib/asm/modes/*.S, built by tests/lib/mkmodetest.py) for real mode, 16/32-bit protected
# mode with a 32-bit IDT, ring 3 and SYSENTER, legacy and PAE paging, the switches into and out
# of 64-bit mode, hardware task switches, virtual-8086 mode, long-mode call gates, string I/O
# (INS/OUTS), and BMI1/BMI2 with the default CPU and with -cpu max (which offers them on every
# host: they are C with the model's flags). Each prints what it computed on COM1 and leaves through isa-debug-exit
# (status 33). Vireo -accel tcg must print exactly what real `qemu-system-x86_64 -accel tcg`
# prints (the oracle), end with "done", and keep stderr empty. segs.S (segment limit and type
# checks, the CS limit on fetch) is the exception: QEMU's TCG does not check segment limits, so its
# oracle is the host CPU: segs.expected, recorded with `qemu-system-x86_64 -accel kvm`, and the same
# KVM run again here when /dev/kvm works. Also the Multiboot kernel of tests/kvm/multiboot.sh under
# TCG, with -smp 2 as well. fine.S: CPU fine points (MSRs QEMU's TCG does not know, CLFLUSHOPT
# and PCOMMIT without CPUID, DR4/DR5 and CR4.DE, CR4.OSXSAVE without XSAVE).
. "$(dirname "$0")/../lib/common.sh"
QEMU=${QEMU:-qemu-system-x86_64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
have_qemu=
command -v "$QEMU" >/dev/null 2>&1 && [ -z "${VIREO_NESTED:-}" ] && have_qemu=1
kvm_ok=
[ -n "$have_qemu" ] && [ -z "$(kvm_problem)" ] && kvm_ok=1
ARGS=(-display none -serial stdio -m 64 -device isa-debug-exit,iobase=0xf4,iosize=0x4)
for t in real prot paging longmode tasks vm86 gate64 strio bmi bmi-max segs fine; do
    src=$t
    CPU=()
    case $t in *-max) src=${t%-max}; CPU=(-cpu max) ;; esac
    # fine.S: with "-append osxsave" it also sets CR4.OSXSAVE without XSAVE in CPUID, last; QEMU
    # 7.2 hangs there (its TCG loops on the MOV to CR4), so its oracle is the SDM: #GP, CR4 kept
    EXTRA=()
    [ $t = fine ] && EXTRA=(-append osxsave)
    python3 "$VIREO_ROOT/tests/lib/mkmodetest.py" "$work/$t.elf" "$src" 2>"$work/build.err"
    rc=$?
    if [ $rc -eq 2 ]; then
        skip "tcg-modes/$t" "$(cat "$work/build.err")"
        continue
    elif [ $rc -ne 0 ]; then
        fail "tcg-modes/$t" "build: $(head -c 300 "$work/build.err")"
        continue
    fi
    for smp in 1 2; do
        timeout 60 "$VIREO" -accel tcg -smp $smp "${CPU[@]}" "${ARGS[@]}" -kernel "$work/$t.elf" \
            "${EXTRA[@]}" >"$work/vireo.out" 2>"$work/vireo.err" </dev/null
        rc=$?
        if [ $t = fine ]; then
            osx=$(grep -E '^01[12] ' "$work/vireo.out" | tr '\n' ' ')
            if [ "$osx" != "011 0000000D 012 00000000 " ]; then
                fail tcg-modes/fine-osxsave$([ $smp -gt 1 ] && echo -smp$smp) "want #GP and CR4 0, got: $osx"
            else
                ok tcg-modes/fine-osxsave$([ $smp -gt 1 ] && echo -smp$smp)
            fi
            grep -vE '^01[12] ' "$work/vireo.out" >"$work/vireo.tmp" && mv "$work/vireo.tmp" "$work/vireo.out"
        fi
        name=tcg-modes/$t
        [ $smp -gt 1 ] && name=$name-smp$smp
        if [ $rc -ne 33 ] || [ "$(tail -1 "$work/vireo.out")" != done ]; then
            fail "$name" "exit $rc; $(tail -3 "$work/vireo.out" | tr '\n' '|') $(head -c 300 "$work/vireo.err")"
            continue
        elif [ -s "$work/vireo.err" ]; then
            fail "$name" "stderr: $(head -c 300 "$work/vireo.err")"
            continue
        fi
        [ $smp -gt 1 ] && { ok "$name"; continue; }
        if [ $t = segs ]; then
            expected=$VIREO_ROOT/tests/lib/asm/modes/segs.expected
            if ! cmp -s "$expected" "$work/vireo.out"; then
                fail "$name" "differs from the CPU's: $(diff "$expected" "$work/vireo.out" | head -8 | tr '\n' '|')"
                continue
            fi
            ok "$name ($(($(wc -l <"$work/vireo.out") - 1)) values as the host CPU's)"
            [ -z "$kvm_ok" ] && continue
            timeout 60 "$QEMU" -accel kvm "${ARGS[@]}" -kernel "$work/$t.elf" >"$work/kvm.out" \
                2>/dev/null </dev/null
            krc=$?
            if [ $krc -ne 33 ]; then # e.g. a paravirtual KVM that cannot run it
                skip "tcg-modes/segs-expected-is-kvm" "QEMU -accel kvm could not run it here (exit $krc)"
            elif cmp -s "$expected" "$work/kvm.out"; then
                ok "tcg-modes/segs-expected-is-kvm"
            else
                skip "tcg-modes/segs-expected-is-kvm" "this host CPU differs from segs.expected: $(diff "$expected" "$work/kvm.out" | head -4 | tr '\n' '|')"
            fi
            continue
        fi
        if [ -z "$have_qemu" ]; then
            ok "$name (no QEMU to compare with)"
            continue
        fi
        timeout 60 "$QEMU" -accel tcg "${CPU[@]}" "${ARGS[@]}" -kernel "$work/$t.elf" >"$work/qemu.out" \
            2>"$work/qemu.err" </dev/null
        qrc=$?
        if [ $qrc -ne 33 ]; then
            fail "$name" "QEMU exit $qrc (the test program is wrong?): $(head -c 200 "$work/qemu.err")"
        elif ! cmp -s "$work/qemu.out" "$work/vireo.out"; then
            fail "$name" "differs from QEMU: $(diff "$work/qemu.out" "$work/vireo.out" | head -8 | tr '\n' '|')"
        else
            ok "$name ($(($(wc -l <"$work/vireo.out") - 1)) values as QEMU)"
        fi
    done
done

# x87.S: FSIN FCOS FSINCOS FPTAN F2XM1 FYL2X FYL2XP1 FPATAN (software in Vireo, x87_math.c) and
# the exact FSQRT FRNDINT FXTRACT FSCALE FPREM FPREM1 on fixed operands under several rounding
# and precision controls, value by value as QEMU 7.2's TCG. One exception, pinned: QEMU's FCOS
# and FSINCOS take the host libm's cos() of the operand rounded to double, and glibc's cos() of
# 0x3FF921FB54442D19 (pi/2 rounded up; x87.S case fcos/fsincos, control word 0xb7f, operand 32)
# is -0x1.72cece675d1fcp-53, 0.56 ulp off the exact -1.6081226496766364922e-16; Vireo rounds
# correctly (...fd: ST0 significand low word AE8FE800). Another host's libm (its FMA variant, a
# later glibc) may round it correctly too: then QEMU's line equals Vireo's. The same run with
# VIREO_TCG_SCRAMBLE=1 (another vendor's x87 simulated: the undefined condition codes and the
# last bit of a transcendental result flipped whenever the host computes them) must not change a
# line.
x87_pinned="1917 AE8FE800
3147 AE8FE800"
if python3 "$VIREO_ROOT/tests/lib/mkmodetest.py" "$work/x87.elf" x87 2>"$work/build.err"; then
    timeout 60 "$VIREO" -accel tcg "${ARGS[@]}" -kernel "$work/x87.elf" >"$work/vireo.out" \
        2>"$work/vireo.err" </dev/null
    rc=$?
    if [ $rc -ne 33 ] || [ "$(tail -1 "$work/vireo.out")" != done ] || [ -s "$work/vireo.err" ]; then
        fail tcg-modes/x87 "exit $rc; $(tail -2 "$work/vireo.out" | tr '\n' '|') $(head -c 300 "$work/vireo.err")"
    else
        pinned_bad=$(awk 'NR == FNR { want[$1] = $2; next } (FNR in want) && $2 != want[FNR] { print FNR ": " $0 }' \
            <(echo "$x87_pinned") "$work/vireo.out")
        if [ -n "$pinned_bad" ]; then
            fail tcg-modes/x87 "pinned values differ: $pinned_bad"
        elif [ -z "$have_qemu" ]; then
            ok "tcg-modes/x87 (no QEMU to compare with)"
        else
            timeout 60 "$QEMU" -accel tcg "${ARGS[@]}" -kernel "$work/x87.elf" >"$work/qemu.out" \
                2>"$work/qemu.err" </dev/null
            qrc=$?
            differ=$(paste -d'|' "$work/qemu.out" "$work/vireo.out" | awk -F'|' -v pinned="$x87_pinned" '
                BEGIN { n = split(pinned, p, "\n"); for (i = 1; i <= n; i++) { split(p[i], f, " "); ok[f[1]] = 1 } }
                $1 != $2 && !(NR in ok) { print NR ": " $0 }' | head -4)
            if [ $qrc -ne 33 ]; then
                fail tcg-modes/x87 "QEMU exit $qrc: $(head -c 200 "$work/qemu.err")"
            elif [ "$(wc -l <"$work/qemu.out")" != "$(wc -l <"$work/vireo.out")" ] || [ -n "$differ" ]; then
                fail tcg-modes/x87 "differs from QEMU (line: QEMU Vireo): $(echo "$differ" | tr '\n' '|')"
            else
                ok "tcg-modes/x87 ($(($(wc -l <"$work/vireo.out") - 1)) values as QEMU, 2 pinned)"
            fi
        fi
        VIREO_TCG_SCRAMBLE=1 timeout 60 "$VIREO" -accel tcg "${ARGS[@]}" -kernel "$work/x87.elf" \
            >"$work/scramble.out" 2>&1 </dev/null
        if cmp -s "$work/vireo.out" "$work/scramble.out"; then
            ok tcg-modes/x87-scramble
        else
            fail tcg-modes/x87-scramble "VIREO_TCG_SCRAMBLE=1 changed: $(diff "$work/vireo.out" "$work/scramble.out" | head -4 | tr '\n' '|')"
        fi
    fi
else
    skip tcg-modes/x87 "$(head -c 200 "$work/build.err")"
fi

# ferr.S: x87 error reporting with CR0.NE clear (FERR# -> IRQ 13, port 0xF0, IGNNE#). QEMU 7.2
# cannot be the oracle here: it aborts on this path ("tcg_handle_interrupt: assertion failed:
# (qemu_mutex_iothread_locked())", FERR# raised without its lock). What the program must print
# follows from the PC's behaviour: CR0's MP/NE/TS/EM bits (MP), one IRQ 13 whose handler sees
# ES, B and ZE, none while IGNNE# is asserted (the exception still pending), a second one after
# FLDENV deasserted IGNNE#, then with CR0.NE one #MF and no further IRQ 13.
cat >"$work/ferr.expected" <<'EOT'
000 00000002
001 00000001
002 00008084
003 00000001
004 00008084
005 00000002
006 00000001
007 00000002
done
EOT
if python3 "$VIREO_ROOT/tests/lib/mkmodetest.py" "$work/ferr.elf" ferr 2>"$work/build.err"; then
    for smp in 1 2; do
        timeout 60 "$VIREO" -accel tcg -smp $smp "${ARGS[@]}" -kernel "$work/ferr.elf" \
            >"$work/vireo.out" 2>"$work/vireo.err" </dev/null
        rc=$?
        if [ $rc -eq 33 ] && cmp -s "$work/ferr.expected" "$work/vireo.out" && ! [ -s "$work/vireo.err" ]; then
            ok "tcg-modes/ferr-smp$smp"
        else
            fail "tcg-modes/ferr-smp$smp" "exit $rc: $(diff "$work/ferr.expected" "$work/vireo.out" | head -6 | tr '\n' '|') $(head -c 200 "$work/vireo.err")"
        fi
    done
else
    skip "tcg-modes/ferr" "$(head -c 200 "$work/build.err")"
fi

# VIREO_TCG_EXC=1 logs a #UD with the bytes at CS:IP: in virtual-8086 mode (vm86.S's ARPL, CS
# 0x0700) they are at CS base + IP.
if [ -s "$work/vm86.elf" ]; then
    VIREO_TCG_EXC=1 timeout 60 "$VIREO" -accel tcg "${ARGS[@]}" -kernel "$work/vm86.elf" \
        >/dev/null 2>"$work/exc.err" </dev/null
    line=$(grep -A1 'exception 6 ' "$work/exc.err" | sed -n 2p)
    case "$line" in
    *"bytes at linear 0x"*": 63 c3 "*) ok "tcg-modes/ud-log-vm86" ;;
    *) fail "tcg-modes/ud-log-vm86" "log: $(grep -A1 'exception 6 ' "$work/exc.err" | head -2 | tr '\n' '|')" ;;
    esac
fi

# The Multiboot test kernel (tests/lib/mkmultiboot.py) under TCG: the loader's state as QEMU's.
python3 "$VIREO_ROOT/tests/lib/mkmultiboot.py" "$work/mb-elf" elf
echo "module one line" >"$work/mod1.txt"
printf 'second\nmodule\n' >"$work/mod2.txt"
cd "$work" || exit 1
cat >expected <<EOT
multiboot: hello
magic ok
flags 0000024f
cmdline mb-elf hello world
loader qemu
mem_lower 0000027f
mods 00000002
mod mod1.txt arg1 arg2 size 00000010 data module one line
mod mod2.txt size 0000000e data second
mmap0 00000000 0009fc00 00000001
bye
EOT
for smp in 1 2; do
    timeout 60 "$VIREO" -accel tcg -smp $smp -display none -serial stdio -m 128 \
        -append "hello world" -initrd "mod1.txt arg1 arg2,mod2.txt" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x4 -kernel mb-elf >vireo.out 2>vireo.err </dev/null
    rc=$?
    if [ $rc -eq 33 ] && cmp -s expected vireo.out && ! [ -s vireo.err ]; then
        ok "tcg-modes/multiboot-smp$smp"
    else
        fail "tcg-modes/multiboot-smp$smp" "exit $rc: $(diff expected vireo.out | head -c 300) $(head -c 200 vireo.err)"
    fi
done
finish
