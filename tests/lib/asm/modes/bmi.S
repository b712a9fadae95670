# BMI1/BMI2 in 32-bit protected mode (run with the default CPU and with -cpu max): CPUID leaf 7's
# BMI1/BMI2 bits; when both are there, each instruction on a few operands with its flags, VEX
# prefixes (C4/C5 with a register ModRM) next to LES/LDS with a memory operand (the same opcode
# bytes), TZCNT of zero, and #UD for VEX.L=1 and for a VEX form that is not BMI; without them
# F3 0F BC is BSF (a zero source leaves the destination and sets ZF) and VEX is #UD.
        .include "common.inc"

# save the flags the SDM defines for the instruction before (the mask), not the undefined ones
# (they are the host's own under Vireo). BLSI's CF is left out: QEMU 7.2 computes it as for
# BLSR (CF = source is zero) where the SDM and the hardware say CF = source is not zero;
# tests/unit/test-tcg-diff.c compares it with the host CPU.
.macro flags mask
        push %eax
        pushf
        pop %eax
        and $\mask, %eax
        call save
        pop %eax
.endm

        .text
        .code32
test_main:
        mov %esp, saved_esp
        mov $6, %ecx                  # #UD: save 6, resume at `resume`
        mov $exc_ud, %eax
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        movw $0x8e00, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        lidt idtr
        mov $7, %eax
        xor %ecx, %ecx
        cpuid
        and $0x108, %ebx              # BMI1, BMI2
        mov %ebx, %eax
        call save
        cmp $0x108, %ebx
        jne no_bmi

        mov $0xf0f0ff00, %ebx
        mov $0x0ff00ff0, %ecx
        andn %ebx, %ecx, %eax         # ~ECX & EBX
        flags 0x8c1
        call save
        andn %ecx, %ecx, %eax         # zero: ZF
        flags 0x8c1
        call save
        mov $0x0804, %ecx             # start 4, length 8
        bextr %ecx, %ebx, %eax
        flags 0x841
        call save
        mov $0x2000, %ecx             # start 0, length 32 (all), then start 40: zero
        bextr %ecx, %ebx, %eax
        call save
        mov $0x0828, %ecx
        bextr %ecx, %ebx, %eax
        flags 0x841
        call save
        blsi %ebx, %eax
        flags 0x8c0
        call save
        blsmsk %ebx, %eax
        flags 0x8c1
        call save
        blsr %ebx, %eax
        flags 0x8c1
        call save
        xor %edx, %edx
        blsi %edx, %eax               # zero source: CF clear
        flags 0x8c0
        call save
        blsmsk %edx, %eax             # zero source: all ones, CF set
        flags 0x8c1
        call save
        blsr %edx, %eax
        flags 0x8c1
        call save
        tzcnt %ebx, %eax
        flags 0x41
        call save
        tzcnt %edx, %eax              # zero: the operand size, CF
        flags 0x41
        call save
        mov $12, %ecx
        bzhi %ecx, %ebx, %eax
        flags 0x8c1
        call save
        mov $40, %ecx                 # index past the size: CF, the source unchanged
        bzhi %ecx, %ebx, %eax
        flags 0x8c1
        call save
        mov $0x12345678, %edx
        mov $0x9abcdef0, %ebx
        stc
        mulx %ebx, %ecx, %eax         # EAX:ECX = EDX * EBX, flags untouched
        flags 0x8d5
        call save
        mov %ecx, %eax
        call save
        mulx %ebx, %eax, %eax         # one destination: the high half
        call save
        mov $0x00ff00f0, %ecx
        pdep %ecx, %ebx, %eax         # deposit EBX's low bits at ECX's mask
        call save
        pext %ecx, %ebx, %eax
        call save
        rorx $12, %ebx, %eax
        call save
        mov $36, %ecx                 # counts masked to 5 bits
        shlx %ecx, %ebx, %eax
        call save
        shrx %ecx, %ebx, %eax
        call save
        sarx %ecx, %ebx, %eax
        flags 0x8d5
        call save
        # C4/C5 with a memory ModRM are still LES/LDS outside 64-bit mode
        movl $0x11223344, farptr
        movw $0x10, farptr + 4
        les farptr, %eax
        call save
        lds farptr, %ebx
        mov %ebx, %eax
        call save
        # #UD: VEX.L=1 (andn), a VEX form that is not BMI (C5 vmovaps)
        movl $1f, resume
        .byte 0xc4, 0xe2, 0x74, 0xf2, 0xc3
1:      movl $1f, resume
        .byte 0xc5, 0xf8, 0x28, 0xc1
1:      jmp out

no_bmi: mov $0x1234, %eax             # F3 0F BC is BSF
        xor %ebx, %ebx
        tzcnt %ebx, %eax
        flags 0x40
        call save
        mov $0x80, %ebx
        tzcnt %ebx, %eax
        call save
        movl $1f, resume
        andn %ebx, %ecx, %eax         # #UD
1:
out:    mov saved_esp, %esp
        ret

exc_ud: push %eax
        mov $6, %eax
        call save
        mov resume, %eax
        mov %eax, 4(%esp)
        pop %eax
        iret

        .data
saved_esp: .long 0
resume: .long 0
farptr: .long 0, 0
        .align 8
idtr:   .word 256 * 8 - 1
        .long idt
idt:    .fill 256 * 8, 1, 0
