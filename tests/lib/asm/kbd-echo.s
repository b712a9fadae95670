# A Multiboot (v1) test kernel that echoes the i8042's bytes (tests/lib/mkmultiboot.py, kind
# "kbd", embeds its bytes): loaded at 0x10000c, right after the 12-byte Multiboot header.
# It programs the controller itself (both ports on, no IRQs, set-1 translation), puts the
# keyboard in scancode set 2 and enables it and the mouse, prints "ready", then prints every
# byte it reads from port 0x60 on COM1, one per line ("m" before a mouse byte). A keyboard
# byte 0x81 (Esc released, translated) ends it through isa-debug-exit at 0xf4 with value 0x10
# (exit status 33).
# Assemble: as --32 -o k.o kbd-echo.s && ld -m elf_i386 -Ttext=0x10000c --oformat binary -o k.bin k.o
.code32
.text
start:
    mov $stack_top, %esp
    mov $s_hello, %eax
    call puts
    mov $0xad, %al          # keyboard port off
    call cmd
    mov $0xa7, %al          # mouse port off
    call cmd
    call flush
    mov $0x60, %al          # command byte: translate, system flag, no IRQs, both clocks on
    call cmd
    mov $0x44, %al
    call data
    mov $0xae, %al
    call cmd
    mov $0xa8, %al
    call cmd
    mov $s_init, %eax
    call puts
    mov $0xf5, %al          # keyboard: stop scanning, scancode set 2, scan again
    call kbd
    mov $0xf0, %al
    call kbd
    mov $0x02, %al
    call kbd
    mov $0xf4, %al
    call kbd
    mov $0xd4, %al          # mouse: enable data reporting
    call cmd
    mov $0xf4, %al
    call data
    call show
    call newline
    mov $s_ready, %eax
    call puts
echo:
    in $0x64, %al
    test $1, %al
    jz echo
    mov %al, %bl
    in $0x60, %al
    mov %al, %cl
    test $0x20, %bl
    jz 1f
    mov $'m', %al
    call putc
1:  mov %cl, %al
    call puthex8
    call newline
    test $0x20, %bl
    jnz echo
    cmp $0x81, %cl
    jne echo
    mov $s_bye, %eax
    call puts
    mov $0x10, %al
    out %al, $0xf4
2:  hlt
    jmp 2b

# cmd: AL to the controller's command port; data: AL to its data port (after the input
# buffer drains)
cmd:
    push %eax
    call wait_in
    pop %eax
    out %al, $0x64
    ret
data:
    push %eax
    call wait_in
    pop %eax
    out %al, $0x60
    ret
wait_in:
    in $0x64, %al
    test $2, %al
    jnz wait_in
    ret
# kbd: AL to the keyboard, then show its reply
kbd:
    call data
# show: the next byte from port 0x60 as two hex digits and a space ("-- " after ~1M polls)
show:
    push %ecx
    mov $0x100000, %ecx
1:  in $0x64, %al
    test $1, %al
    jnz 2f
    loop 1b
    mov $s_none, %eax
    call puts
    pop %ecx
    ret
2:  in $0x60, %al
    call puthex8
    mov $' ', %al
    call putc
    pop %ecx
    ret
# flush: read and drop whatever the controller holds
flush:
    in $0x64, %al
    test $1, %al
    jz 1f
    in $0x60, %al
    jmp flush
1:  ret

putc:
    push %edx
    mov $0x3f8, %dx
    out %al, %dx
    pop %edx
    ret
newline:
    mov $'\n', %al
    jmp putc
puts:
    push %esi
    mov %eax, %esi
1:  lodsb
    test %al, %al
    jz 2f
    call putc
    jmp 1b
2:  pop %esi
    ret
# puthex8: AL as 2 hex digits
puthex8:
    push %ecx
    push %edx
    mov %al, %dl
    mov $2, %ecx
1:  rol $4, %dl
    mov %dl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '9' - 1), %al
2:  call putc
    loop 1b
    pop %edx
    pop %ecx
    ret

s_hello: .asciz "kbd: hello\n"
s_init:  .asciz "init "
s_ready: .asciz "ready\n"
s_none:  .asciz "-- "
s_bye:   .asciz "bye\n"
.balign 4
stack:   .skip 256
stack_top:
