# Mode switches up to 64-bit mode and back: 32-bit protected mode -> (PAE, EFER.LME, CR0.PG)
# compatibility mode -> far jump into a 64-bit code segment -> 64-bit code (RIP-relative,
# REX, a 64-bit IDT is not needed) -> far return to compatibility mode -> paging off (leaves
# long mode) -> 32-bit protected mode; then through a 16-bit code segment into real mode and
# straight to 64-bit mode again, the way an SMP trampoline does.
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
        movl $(PDPT | 3), PML4
        movl $(PDIR | 3), PDPT
        movl $0x000083, PDIR
        movl $0x200083, PDIR + 8
        movl $0x400083, PDIR + 16
        movl $0x600083, PDIR + 24
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
