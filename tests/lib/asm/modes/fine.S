# Fine points of the CPU as QEMU 7.2's TCG shows them (default CPU, qemu64), in 32-bit protected
# mode: MSRs QEMU's TCG does not know (AMD's legacy performance counters 0xC0010000-7 and an
# unused index) read as 0 and take writes without #GP; CLFLUSHOPT and PCOMMIT (66 0F AE /7, 66 0F AE F8) without them in CPUID are #UD;
# MOV from DR4/DR5 reads DR6/DR7 with CR4.DE clear and is #UD with it set. Every fault saves
# its vector. With "-append osxsave", last: CR4.OSXSAVE without XSAVE in CPUID is #GP.
        .include "common.inc"

.macro gate vec, handler
        mov $\handler, %eax
        mov $\vec, %ecx
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        movw $0x8e00, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
.endm

        .text
        .code32
test_main:
        mov %ebx, mbi                       # the Multiboot information
        mov %esp, saved_esp
        gate 6, exc_ud
        gate 13, exc_gp
        lidt idtr

        # MSRs: write, read back, and an index nobody has
        mov $0xc0010000, %esi
1:      movl $2f, resume
        mov %esi, %ecx
        mov $0x12345678, %eax
        xor %edx, %edx
        wrmsr
        mov %esi, %ecx
        rdmsr
        call save
2:      inc %esi
        cmp $0xc0010008, %esi
        jne 1b
        movl $1f, resume
        mov $0x4b564d99, %ecx
        rdmsr
        call save
1:      movl $1f, resume
        mov $0x4b564d99, %ecx
        wrmsr
        mov $1, %eax
        call save

        # CLFLUSHOPT, PCOMMIT: #UD; CLFLUSH is fine
        movl $1f, resume
        .byte 0x66, 0x0f, 0xae, 0x3d        # clflushopt buf
        .long buf
1:      movl $1f, resume
        .byte 0x66, 0x0f, 0xae, 0xf8        # pcommit
1:      movl $1f, resume
        clflush buf
        mov $2, %eax
        call save

        # DR4/DR5: DR6/DR7 with CR4.DE clear, #UD with it set
1:      movl $1f, resume
        mov %dr4, %eax
        call save
        mov %dr5, %eax
        call save
        mov %cr4, %eax
        or $0x8, %eax
        mov %eax, %cr4
        mov %dr4, %eax
        call save
1:      movl $1f, resume
        mov %dr5, %eax
        call save
1:      mov %cr4, %eax
        and $~0x8, %eax
        mov %eax, %cr4

        # With "-append osxsave" only (QEMU 7.2 hangs on it: its oracle is the SDM), last:
        # CR4.OSXSAVE (bit 18) without XSAVE in CPUID is #GP and CR4 stays
        mov mbi, %ebx
        testb $4, (%ebx)                    # a command line?
        jz 2f
        mov 16(%ebx), %ebx                  # "KERNEL APPEND": does it end in "osxsave"?
1:      inc %ebx
        cmpb $0, (%ebx)
        jne 1b
        cmpl $0x65766173, -4(%ebx)          # "save"
        jne 2f
        movl $1f, resume
        mov %cr4, %eax
        or $0x40000, %eax
        mov %eax, %cr4
1:      mov %cr4, %eax
        call save
2:      mov saved_esp, %esp
        ret

# save the vector, resume
exc_ud: mov $6, %eax
        call save
        mov resume, %eax
        mov %eax, (%esp)
        iret
exc_gp: add $4, %esp                        # the error code
        mov $13, %eax
        call save
        mov resume, %eax
        mov %eax, (%esp)
        iret

        .data
saved_esp: .long 0
resume: .long 0
mbi:    .long 0
        .align 8
buf:    .fill 64, 1, 0
        .align 8
idtr:   .word 256 * 8 - 1
        .long idt
idt:    .fill 256 * 8, 1, 0
