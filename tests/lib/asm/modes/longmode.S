# Mode switches up to 64-bit mode and back: 32-bit protected mode -> (PAE, EFER.LME, CR0.PG)
# compatibility mode -> far jump into a 64-bit code segment -> 64-bit code (RIP-relative,
# REX) -> far return to compatibility mode -> paging off (leaves long mode) -> 32-bit
# protected mode; then through a 16-bit code segment into real mode and straight to 64-bit mode
# again, the way an SMP trampoline does; there SYSRET to ring-3 compatibility mode, SYSCALL back
# through CSTAR, and INT 0x80 from ring-3 compatibility mode through a 64-bit IDT and the TSS;
# string I/O (INS/OUTS) with 64- and 32-bit addressing in 64-bit mode.
        .include "common.inc"
        .set PML4, 0x400000
        .set PDPT, 0x401000
        .set PDIR, 0x402000
        .set BLOB, 0x7000

        .text
        .code32
test_main:
        mov %esp, saved_esp
        mov $PML4, %edi              # identity map 0-8 MiB with 2 MiB pages
        mov $0xc00, %ecx
        xor %eax, %eax
        rep stosl
        movl $(PDPT | 7), PML4       # user-accessible (ring 3 runs below)
        movl $(PDIR | 7), PDPT
        movl $0x000087, PDIR
        movl $0x200087, PDIR + 8
        movl $0x400087, PDIR + 16
        movl $0x600087, PDIR + 24
        call enter_long
        mov $0xc0000080, %ecx        # EFER.LMA is set
        rdmsr
        call save
        mov %cs, %eax                # still CS 0x08: compatibility mode
        call save
        push $0x1234                 # 32-bit stack operations in compatibility mode
        pop %eax
        call save
        ljmp $0x28, $lm64
lm64:   .code64
        # string I/O in 64-bit mode: REP OUTSB with RSI/RCX, 32-bit addressing (0x67: ESI, ECX,
        # the upper halves cleared), INSD with REX.W (still 4 bytes: the host bridge's IDs)
        lea lm_msg(%rip), %rsi
        mov $(lm_msg_end - lm_msg), %ecx
        mov $0x3f8, %dx
        rep outsb
        lea lm_msg(%rip), %rax
        sub %rax, %rsi
        mov %esi, %eax
        call save64
        lea lm_msg(%rip), %rsi
        mov $0xffffffff00000000, %rax
        or %rax, %rsi
        mov $(lm_msg_end - lm_msg), %ecx
        or %rax, %rcx
        addr32 rep outsb
        mov %rsi, %rax
        shr $32, %rax
        or %ecx, %eax
        call save64
        mov $0x80000000, %eax
        mov $0xcf8, %dx
        out %eax, %dx
        mov $0xcfc, %dx
        mov $0x500000, %edi
        rex.w insl
        mov 0x500000, %eax
        call save64
        mov %edi, %eax
        call save64
        mov $0x123456789, %rax
        lea lm64(%rip), %rbx
        sub %rbx, %rax
        mov %eax, %ebx
        shr $32, %rax
        shl $16, %eax
        or %ebx, %eax
        mov %eax, %r12d
        mov %cs, %eax
        shl $16, %eax
        or $0x64, %eax
        push %rax
        push %r12
        pushq $0x08                  # far return to compatibility mode
        lea compat_back(%rip), %rax
        push %rax
        lretq
compat_back:
        .code32
        pop %eax                     # (pushed as 64-bit values: low halves at 8-byte steps)
        call save
        pop %eax
        pop %eax
        call save
        pop %eax
        call leave_long
        mov %cr0, %eax
        call save

        # real mode, then from real mode straight into long mode (a trampoline)
        mov $rm_start, %esi
        mov $BLOB, %edi
        mov $(rm_end - rm_start), %ecx
        rep movsb
        ljmp $0x18, $(BLOB + (pm16 - rm_start))
trampoline_done:
        .code64
        mov $0x10, %eax
        mov %eax, %ds
        mov %eax, %ss
        mov %cs, %eax
        call save64
        mov %rsp, %rax
        call save64

        # SYSRET to compatibility mode at CPL 3, SYSCALL back through CSTAR, SYSRET again and
        # INT 0x80 through a 64-bit IDT onto the TSS's RSP0
        lea tss64(%rip), %rax        # a 16-byte TSS descriptor at 0x40
        mov %ax, gdt_tss + 2(%rip)
        shr $16, %rax
        mov %al, gdt_tss + 4(%rip)
        mov %ah, gdt_tss + 7(%rip)
        shr $16, %rax
        mov %eax, gdt_tss + 8(%rip)
        movl $0, gdt_tss + 12(%rip)
        movw $0x67, gdt_tss(%rip)
        movb $0x89, gdt_tss + 5(%rip)
        movb $0, gdt_tss + 6(%rip)
        mov $0x40, %ax
        ltr %ax
        movq $0x68000, tss64 + 4(%rip)
        lea int80_64(%rip), %rax
        mov %ax, idt64 + 0x80 * 16(%rip)
        movw $0x28, idt64 + 0x80 * 16 + 2(%rip)
        movw $0xee00, idt64 + 0x80 * 16 + 4(%rip)
        shr $16, %rax
        mov %ax, idt64 + 0x80 * 16 + 6(%rip)
        shr $16, %rax
        mov %eax, idt64 + 0x80 * 16 + 8(%rip)
        lidt idtr64(%rip)
        mov $0xc0000081, %ecx        # STAR: SYSCALL CS 0x28, SYSRET base 0x30 (CS 0x33, SS 0x3b)
        xor %eax, %eax
        mov $0x00300028, %edx
        wrmsr
        mov $0xc0000083, %ecx        # CSTAR
        lea cstar_entry(%rip), %rax
        mov %rax, %rdx
        shr $32, %rdx
        wrmsr
        mov $0xc0000084, %ecx        # SFMASK
        mov $0x400, %eax
        xor %edx, %edx
        wrmsr
        mov $0xc0000080, %ecx        # EFER.SCE
        rdmsr
        or $1, %eax
        wrmsr
        mov %rsp, saved_rsp64(%rip)
        lea compat_user(%rip), %rcx
        mov $0x402, %r11d            # DF set: SFMASK clears it again
        mov $0x60000, %esp
        sysretl
        .code32
compat_user:
        mov %cs, %eax
        call save
        mov %ss, %eax
        call save
        pushf
        pop %eax
        call save
        syscall
        .code64
cstar_entry:
        lea compat_user(%rip), %rax
        sub %ecx, %eax
        neg %eax
        call save64                  # the return address, relative
        mov %r11d, %eax
        call save64
        pushf
        pop %rax
        call save64
        mov %cs, %eax
        shl $16, %eax
        mov %ss, %ax
        call save64
        lea compat_user2(%rip), %rcx
        mov $2, %r11d
        sysretl
        .code32
compat_user2:
        mov $0x55, %eax
        int $0x80
        .code64
int80_64:
        call save64
        mov 8(%rsp), %rax            # CS
        call save64
        mov 24(%rsp), %rax           # RSP
        call save64
        mov 32(%rsp), %rax           # SS
        call save64
        mov %rsp, %rax
        call save64
        mov saved_rsp64(%rip), %rsp
        mov $0x10, %eax
        mov %eax, %ss
        pushq $0x08
        lea 1f(%rip), %rax
        push %rax
        lretq
1:      .code32
        call leave_long
        mov $0x10, %ax
        mov %ax, %ss
        mov saved_esp, %esp
        ret

        .code64
lm_msg: .ascii "64-bit outsb\n"
lm_msg_end:
save64: push %rbx
        mov RES_COUNT, %ebx
        mov %eax, RES(%rbx)
        addl $4, RES_COUNT
        pop %rbx
        ret
        .code32

enter_long:
        mov %cr4, %eax
        or $0x20, %eax
        mov %eax, %cr4
        mov $PML4, %eax
        mov %eax, %cr3
        mov $0xc0000080, %ecx
        rdmsr
        or $0x100, %eax
        wrmsr
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        ret

leave_long:
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov $0xc0000080, %ecx
        rdmsr
        and $~0x100, %eax
        wrmsr
        mov %cr4, %eax
        and $~0x20, %eax
        mov %eax, %cr4
        ret

        .code16
rm_start:
pm16:   mov $0x20, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov %cr0, %eax
        and $0xfffffffe, %eax
        mov %eax, %cr0
        ljmp $0x0700, $(rm_entry - rm_start)
rm_entry:
        mov %cs, %ax
        mov %ax, %ds
        mov %ax, %ss
        mov $0x1000, %sp
        lgdtl %cs:(gdtr_copy - rm_start)
        mov %cr4, %eax
        or $0x20, %eax
        mov %eax, %cr4
        mov $PML4, %eax
        mov %eax, %cr3
        mov $0xc0000080, %ecx
        rdmsr
        or $0x100, %eax
        wrmsr
        mov $0x80000011, %eax        # PE and PG at once
        mov %eax, %cr0
        ljmpl $0x28, $trampoline_done
gdtr_copy:
        .word 0x67
        .long gdt
rm_end:
        .code32

        .data
saved_esp: .long 0
        .align 8
saved_rsp64: .quad 0
idtr64: .word 256 * 16 - 1
        .long idt64, 0
        .align 16
tss64:  .fill 0x68, 1, 0
idt64:  .fill 256 * 16, 1, 0
