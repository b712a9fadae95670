.code64
    # local APIC timer interrupt through a 64-bit IDT gate wakes HLT: enable the APIC (SVR),
    # one-shot timer on vector 0x40, sti; hlt until the handler has run (it sends EOI),
    # print "timer interrupt" on COM1, power off
    lea handler(%rip), %rax
    lea idt(%rip), %rdi
    mov %ax, 0x40*16(%rdi)
    mov %cs, %cx
    mov %cx, 0x40*16+2(%rdi)
    movw $0x8e00, 0x40*16+4(%rdi)
    shr $16, %rax
    mov %ax, 0x40*16+6(%rdi)
    shr $16, %rax
    mov %eax, 0x40*16+8(%rdi)
    movl $0, 0x40*16+12(%rdi)
    sub $16, %rsp
    movw $0x41*16-1, (%rsp)
    mov %rdi, 2(%rsp)
    lidt (%rsp)
    add $16, %rsp
    mov $0xfee00000, %ebx
    movl $0x1ff, 0xf0(%rbx)
    movl $0xb, 0x3e0(%rbx)
    movl $0x40, 0x320(%rbx)
    movl $1000000, 0x380(%rbx)
1:  sti
    hlt
    cli
    cmpb $0, flag(%rip)
    je 1b
    lea msg(%rip), %rsi
    mov $0x3f8, %dx
2:  lodsb
    test %al, %al
    jz 3f
    out %al, %dx
    jmp 2b
3:  mov $0x604, %dx
    mov $0x3400, %ax
    out %ax, %dx
4:  hlt
    jmp 4b
handler:
    movb $1, flag(%rip)
    movl $0, 0xb0(%rbx)
    iretq
flag: .byte 0
msg: .asciz "timer interrupt\n"
.balign 16
idt: .fill 0x41*16, 1, 0
