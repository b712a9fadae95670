.code64
    # a #PF handler through a 64-bit interrupt gate: touch an unmapped address above 4 GiB,
    # check CR2 and the error code in the handler, print the verdict, power off
    lea handler(%rip), %rax
    lea idt(%rip), %rdi
    mov %ax, 14*16(%rdi)
    mov %cs, %cx
    mov %cx, 14*16+2(%rdi)
    movw $0x8e00, 14*16+4(%rdi)
    shr $16, %rax
    mov %ax, 14*16+6(%rdi)
    shr $16, %rax
    mov %eax, 14*16+8(%rdi)
    movl $0, 14*16+12(%rdi)
    sub $16, %rsp
    movw $32*16-1, (%rsp)
    mov %rdi, 2(%rsp)
    lidt (%rsp)
    add $16, %rsp
    mov $0x123, %rbx
    movabs $0x200000008, %rax
    movb $0x5a, (%rax)          # write fault: error code 2
    lea bad(%rip), %rsi
    jmp print
handler:
    pop %rcx                    # error code
    lea bad(%rip), %rsi
    cmp $2, %rcx
    jne print
    mov %cr2, %rdx
    movabs $0x200000008, %rax
    cmp %rax, %rdx
    jne print
    cmp $0x123, %rbx            # registers intact
    jne print
    lea good(%rip), %rsi
print:
    mov $0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  mov $0x604, %dx
    mov $0x3400, %ax
    out %ax, %dx
3:  hlt
    jmp 3b
good: .asciz "page fault handled\n"
bad: .asciz "page fault wrong\n"
.balign 16
idt: .fill 32*16, 1, 0
