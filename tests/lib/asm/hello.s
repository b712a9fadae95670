.code64
    lea msg(%rip), %rsi
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
msg: .asciz "hello\n"
