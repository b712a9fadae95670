# The x87 instructions whose results QEMU 7.2 computes in software (FSIN, FCOS, FSINCOS, FPTAN,
# F2XM1, FYL2X, FYL2XP1, FPATAN) and their exact neighbours (FSQRT, FRNDINT, FXTRACT, FSCALE,
# FPREM, FPREM1) on fixed operands: zeros, denormals, a pseudo-denormal, an unnormal, a
# pseudo-infinity, infinities, quiet and signalling NaNs, arguments beyond 2^63 (FSIN and the
# like leave them with C2 set), and ordinary values, under several rounding controls. Each case
# starts from FNINIT with a control word of the case's table, loads a marker, ST1 and ST0, runs
# the instruction and saves (status word << 16 | ST0 exponent), ST0's significand (high, low),
# ST1's exponent and significand: the same on every host (Vireo computes them in C, QEMU's TCG
# in softfloat and the host libm's double functions), so it is compared with QEMU 7.2's TCG.
        .include "common.inc"

        .text
        .code32
test_main:
        mov $cases, %esi
next_table:
        mov (%esi), %eax
        test %eax, %eax
        jz all_done
        mov %eax, stub
        mov 4(%esi), %edi             # operands: ST0, ST1 (ten bytes each, padded to 12)
        mov 8(%esi), %ecx             # how many
        mov 12(%esi), %eax
        mov %ax, cw
        mov 16(%esi), %eax
        mov %eax, swmask
1:      fninit
        fldcw cw
        fldt marker
        fldt 12(%edi)
        fldt (%edi)
        call *stub
        fnstsw %ax
        and swmask, %eax
        shl $16, %eax
        fstpt tmp
        mov tmp + 8, %ax
        call save
        mov tmp + 4, %eax
        call save
        mov tmp, %eax
        call save
        fstpt tmp
        movzwl tmp + 8, %eax
        call save
        mov tmp + 4, %eax
        call save
        mov tmp, %eax
        call save
        add $24, %edi
        dec %ecx
        jnz 1b
        add $20, %esi
        jmp next_table
all_done:
        fninit
        ret

op_fsin:    fsin
            ret
op_fcos:    fcos
            ret
op_fsincos: fsincos
            ret
op_fptan:   fptan
            ret
op_f2xm1:   f2xm1
            ret
op_fsqrt:   fsqrt
            ret
op_frndint: frndint
            ret
op_fxtract: fxtract
            ret
op_fyl2x:   fyl2x
            ret
op_fyl2xp1: fyl2xp1
            ret
op_fpatan:  fpatan
            ret
op_fscale:  fscale
            ret
op_fprem:   fprem
            ret
op_fprem1:  fprem1
            ret

        .data
        .align 4
# stub, operands, count, control word (0x37f nearest, 0x77f down, 0xb7f up, 0x07f 24-bit,
# 0x27f 53-bit), the status word bits compared. The transcendental instructions are compared
# whole. The others are exact by definition; the bits the manuals define for them are the
# architecture's in Vireo (the host's: every vendor's are the same) and QEMU 7.2 leaves some out,
# so those are not compared: DE (QEMU never reports a denormal operand but for FXTRACT), C1 of
# FSQRT, FRNDINT and FSCALE (rounded up), FPREM1's quotient bits C0 C1 C3 (QEMU 7.2 reports
# none). C0, C2 and C3, which the manuals leave undefined after FSQRT, FRNDINT, FSCALE and
# FXTRACT, are compared: Vireo gives the model's (QEMU's), not the host's.
.macro unary op
        .long \op, uinputs, NU, 0x37f, 0xffff
        .long \op, uinputs, NU, 0x77f, 0xffff
        .long \op, uinputs, NU, 0xb7f, 0xffff
        .long \op, uinputs, NU, 0x07f, 0xffff
        .long \op, uinputs, NU, 0x27f, 0xffff
.endm
.macro binary op
        .long \op, binputs, NB, 0x37f, 0xffff
        .long \op, binputs, NB, 0x77f, 0xffff
        .long \op, binputs, NB, 0xb7f, 0xffff
.endm
cases:
        unary op_fsin
        unary op_fcos
        unary op_fsincos
        unary op_fptan
        unary op_f2xm1
        .long op_fsqrt, uinputs, NU, 0x37f, 0xfdfd
        .long op_frndint, uinputs, NU, 0x37f, 0xfdfd
        .long op_frndint, uinputs, NU, 0x77f, 0xfdfd
        .long op_fxtract, uinputs, NU, 0x37f, 0xffff
        binary op_fyl2x
        binary op_fyl2xp1
        binary op_fpatan
        .long op_fscale, binputs, NB, 0x37f, 0xfdfd
        .long op_fprem, binputs, NB, 0x37f, 0xfffd
        .long op_fprem1, binputs, NB, 0x37f, 0xbcfd
        .long 0
stub:   .long 0
cw:     .word 0
        .align 4
swmask: .long 0
        .align 4
tmp:    .quad 0, 0
marker: .quad 0x8000000000000000
        .word 0x4000
# operand pairs (ST0, ST1), twelve bytes each
        .align 4
uinputs:
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0xbfff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3ffe, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc90fdaa22168c235
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xb333333333333333
        .word 0xbffe, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc800000000000000
        .word 0x4005, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xa7c5ac471b478423
        .word 0x3fee, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3f9b, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xd3c21bcecceda100
        .word 0x3c17, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000001
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x4000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000001
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x0001, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x403e, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000001
        .word 0x403e, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x403f, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xde0b6b3a76400000
        .word 0x403a, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xbf21e44003acdd2d
        .word 0x43e3, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x878678326eac9000
        .word 0xc048, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc000000000000123
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xa000000000000456
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x4000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xffbe76c8b4395810
        .word 0x3ffe, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x999999999999999a
        .word 0xbffd, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x83126e978d4fdf3b
        .word 0x3ff5, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc90fdaa22168c235
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x7e7f, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x9c40123456789abc
        .word 0x400c, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xaaaaaaaaaaaaaaab
        .word 0x3ffd, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xffffffffffffffff
        .word 0x3ffe, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xfedcba9876543210
        .word 0xc03d, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xb8aa3b295c17f0bb        # 2^-16382 / ln 2 rounded down: F2XM1 just below 2^-16382
        .word 0x0001, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .set NU, 41
        .align 4
binputs:
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x3ffc, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xcccccccccccccccd
        .word 0x3ffb, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xcccccccccccccccd
        .word 0xbffc, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x4000, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xe000000000000000
        .word 0x4000, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xc000000000000000
        .word 0xbfff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x9502f90000000000
        .word 0x4020, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x0000000000001234
        .word 0x0000, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x7fff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xc000000000000000
        .word 0x7fff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x947ae147ae147ae1
        .word 0x3ffd, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x947ae147ae147ae1
        .word 0xbffd, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000001
        .word 0x3fff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xa2425ff75e14fc32
        .word 0x3f9c, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0xa000000000000001
        .word 0x7fff, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0x8000000000000000
        .word 0x3fff, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0xa000000000000000
        .word 0xc000, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0x0000000000000000
        .word 0x0000, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0x0000000000000000
        .word 0x8000, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0x8000000000000001
        .word 0x0100, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0xc000000000000123
        .word 0x7000, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0x8000000000000000
        .word 0xffff, 0
        .quad 0x8000000000000000
        .word 0x3fb9, 0
        .quad 0x9555555555555555
        .word 0x4000, 0
        .set NB, 160
