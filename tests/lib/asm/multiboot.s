# A Multiboot (v1) test kernel (tests/lib/mkmultiboot.py embeds its bytes): loaded at 0x10000c,
# right after the 12-byte Multiboot header. It prints what the boot loader passed on COM1 and
# leaves through isa-debug-exit at 0xf4 with value 0x10 (exit status 33).
# Assemble: as --32 -o mb.o multiboot.s && ld -m elf_i386 -Ttext=0x10000c --oformat binary -o mb.bin mb.o
.code32
.text
start:
    mov %eax, %esi
    mov %ebx, %edi
    mov $stack_top, %esp
    push %esi
    mov $s_hello, %eax
    call puts
    pop %esi
    mov $s_magic_ok, %eax
    cmp $0x2badb002, %esi
    je 1f
    mov $s_magic_bad, %eax
1:  call puts
    mov $s_flags, %eax
    call puts
    mov 0(%edi), %eax
    call puthex
    call newline
    mov $s_cmdline, %eax
    call puts
    mov 16(%edi), %eax
    call puts
    call newline
    mov $s_loader, %eax
    call puts
    mov 64(%edi), %eax
    call puts
    call newline
    mov $s_lower, %eax
    call puts
    mov 4(%edi), %eax
    call puthex
    call newline
    mov $s_mods, %eax
    call puts
    mov 20(%edi), %eax
    call puthex
    call newline
    mov 20(%edi), %ecx
    mov 24(%edi), %ebx
2:  test %ecx, %ecx
    jz 4f
    push %ecx
    mov $s_mod, %eax
    call puts
    mov 8(%ebx), %eax
    call puts
    mov $s_size, %eax
    call puts
    mov 4(%ebx), %eax
    sub 0(%ebx), %eax
    call puthex
    mov $s_data, %eax
    call puts
    mov 0(%ebx), %eax
    call putline
    call newline
    add $16, %ebx
    pop %ecx
    dec %ecx
    jmp 2b
4:  mov $s_mmap, %eax
    call puts
    mov 48(%edi), %ebx
    mov 4(%ebx), %eax
    call puthex
    mov $' ', %al
    call putc
    mov 12(%ebx), %eax
    call puthex
    mov $' ', %al
    call putc
    mov 20(%ebx), %eax
    call puthex
    call newline
    mov $s_bye, %eax
    call puts
    mov $0xf4, %dx
    mov $0x10, %al
    out %al, %dx
5:  hlt
    jmp 5b

# putc: AL to COM1
putc:
    push %edx
    mov $0x3f8, %dx
    out %al, %dx
    pop %edx
    ret
newline:
    mov $'\n', %al
    jmp putc
# puts: the NUL-terminated string at EAX
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
# putline: at most 32 bytes at EAX, up to a newline or NUL
putline:
    push %esi
    push %ecx
    mov %eax, %esi
    mov $32, %ecx
1:  lodsb
    test %al, %al
    jz 2f
    cmp $'\n', %al
    je 2f
    call putc
    loop 1b
2:  pop %ecx
    pop %esi
    ret
# puthex: EAX as 8 hex digits
puthex:
    push %ecx
    push %edx
    mov %eax, %edx
    mov $8, %ecx
1:  rol $4, %edx
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

s_hello:     .asciz "multiboot: hello\n"
s_magic_ok:  .asciz "magic ok\n"
s_magic_bad: .asciz "magic bad\n"
s_flags:     .asciz "flags "
s_cmdline:   .asciz "cmdline "
s_loader:    .asciz "loader "
s_lower:     .asciz "mem_lower "
s_mods:      .asciz "mods "
s_mod:       .asciz "mod "
s_size:      .asciz " size "
s_data:      .asciz " data "
s_mmap:      .asciz "mmap0 "
s_bye:       .asciz "bye\n"
.balign 4
stack:       .skip 256
stack_top:
