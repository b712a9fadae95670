# Machine reset keeps RAM, reloads the kernel image and resets devices (tests/tcg/boot-tiny.sh).
# First boot: no marker at 0x300000 (outside the image): write it, set `flag` inside the image,
# write 0x5a to COM1's scratch register, print "reset-ram: first boot", reset through 0xCF9.
# Second boot: the marker is there (RAM kept); print the image's flag (0: the loader wrote the
# image again) and whether the scratch register is 0 again (the serial port was reset), then
# power off.
.code64
    lea flag(%rip), %rbx
    mov $0x300000, %rdi
    cmpl $0xb007b007, (%rdi)
    je 5f
    movl $0xb007b007, (%rdi)
    movb $1, (%rbx)
    mov $0x3ff, %dx
    mov $0x5a, %al
    out %al, %dx
    lea msg1(%rip), %rsi
    call puts
    mov $0xcf9, %dx
    mov $0x06, %al
    out %al, %dx
1:  hlt
    jmp 1b
5:  lea msg2(%rip), %rsi
    call puts
    movzbl (%rbx), %eax
    add $0x30, %al
    mov $0x3f8, %dx
    out %al, %dx
    lea msg3(%rip), %rsi
    call puts
    mov $0x3ff, %dx
    in %dx, %al
    test %al, %al
    sete %al
    add $0x30, %al
    mov $0x3f8, %dx
    out %al, %dx
    mov $0x0a, %al
    out %al, %dx
    mov $0x604, %dx
    mov $0x3400, %ax
    out %ax, %dx
2:  hlt
    jmp 2b
puts:
    mov $0x3f8, %dx
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  ret
msg1: .asciz "reset-ram: first boot\n"
msg2: .asciz "reset-ram: second boot, RAM kept, image flag="
msg3: .asciz " scr-cleared="
flag: .byte 0
