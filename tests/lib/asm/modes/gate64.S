# Long-mode call gates: far CALL and JMP through 16-byte call gates in 64-bit mode, to the same
# level and from ring 3 to ring 0 (RSP0 from the 64-bit TSS, SS becomes a null selector with
# the new RPL, the old SS:RSP and CS:RIP pushed as 8-byte values, no parameters copied), LRETQ
# back to ring 3 (also from and to ring-3 compatibility mode), and the #GP / #NP cases with their error codes (a gate whose upper half is not
# type 0, a gate below the caller's CPL, a JMP to a more privileged level, a gate not present,
# a 32-bit target code segment, a legacy 32-bit call gate).
        .include "common.inc"
        .set PML4, 0x400000
        .set PDPT, 0x401000
        .set PDIR, 0x402000
        .set RSP0, 0x68000
        .set USTACK, 0x60000

        .text
        .code32
test_main:
        mov %esp, saved_esp
        mov $PML4, %edi              # identity map 0-8 MiB with 2 MiB user pages
        mov $0xc00, %ecx
        xor %eax, %eax
        rep stosl
        movl $(PDPT | 7), PML4
        movl $(PDIR | 7), PDPT
        movl $0x000087, PDIR
        movl $0x200087, PDIR + 8
        movl $0x400087, PDIR + 16
        movl $0x600087, PDIR + 24
        mov $gdt, %esi               # a larger copy of the GDT (room for 16-byte gates)
        mov $gdt64, %edi
        mov $(gdt_end - gdt), %ecx
        rep movsb
        lgdt gdtr64
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
        ljmp $0x28, $lm64
        .code64
lm64:   mov $0x10, %eax
        mov %eax, %ss
        mov %eax, %ds
        mov %eax, %es
        # TSS (16-byte descriptor at 0x40), RSP0
        lea tss64(%rip), %rax
        mov %ax, gdt64 + 0x40 + 2(%rip)
        shr $16, %rax
        mov %al, gdt64 + 0x40 + 4(%rip)
        mov %ah, gdt64 + 0x40 + 7(%rip)
        shr $16, %rax
        mov %eax, gdt64 + 0x48(%rip)
        movl $0, gdt64 + 0x4c(%rip)
        movw $0x67, gdt64 + 0x40(%rip)
        movb $0x89, gdt64 + 0x40 + 5(%rip)
        movb $0, gdt64 + 0x40 + 6(%rip)
        mov $0x40, %ax
        ltr %ax
        movq $RSP0, tss64 + 4(%rip)
        # IDT: #GP, #NP -> exc handlers, 0x80 (DPL 3) back to ring 0
        mov $13, %ecx
        lea exc_gp(%rip), %rax
        mov $0x8e00, %edx
        call set_gate64
        mov $11, %ecx
        lea exc_np(%rip), %rax
        call set_gate64
        mov $0x80, %ecx
        lea int80(%rip), %rax
        mov $0xee00, %edx
        call set_gate64
        lidt idtr64(%rip)
        # call gates: 0x80 DPL 3 -> ring0_fn, 0x90 DPL 0 -> same_fn, 0xa0 DPL 3 -> user_fn
        # (DPL-3 64-bit code 0x60), 0xb0 with a bad upper half, 0xc0 not present, 0xd0 DPL 3 ->
        # 32-bit code 0x08, 0xe0 DPL 0 -> jmp_fn, 0xf0 DPL 0 -> ring0_fn
        lea ring0_fn(%rip), %rax
        mov $0x80, %ebx
        mov $0x28, %ecx
        mov $0xec, %edx
        call set_cg
        lea same_fn(%rip), %rax
        mov $0x90, %ebx
        mov $0x8c, %edx
        call set_cg
        lea user_fn(%rip), %rax
        mov $0xa0, %ebx
        mov $0x63, %ecx
        mov $0xec, %edx
        call set_cg
        lea ring0_fn(%rip), %rax
        mov $0xb0, %ebx
        mov $0x28, %ecx
        call set_cg
        movb $0x0c, gdt64 + 0xb0 + 13(%rip)   # upper half type 0xc: #GP(0xb0)
        mov $0xc0, %ebx
        mov $0x6c, %edx
        call set_cg                  # not present
        mov $0xd0, %ebx
        mov $0x08, %ecx
        mov $0xec, %edx
        call set_cg                  # target is 32-bit code
        mov $0xf0, %ebx
        mov $0x28, %ecx
        mov $0x8c, %edx
        call set_cg                  # DPL 0
        lea jmp_fn(%rip), %rax
        mov $0xe0, %ebx
        call set_cg

        # same level through a gate: CALL (pushes 8-byte CS:RIP) and JMP
        mov %rsp, %r15
        lcall *fp_90(%rip)
ret_same:
        mov %r15, %rax
        sub %rsp, %rax
        call save64
        lea 1f(%rip), %rax
        mov %rax, jmp_target(%rip)
        ljmp *fp_e0(%rip)
1:      mov %cs, %eax
        call save64
        # #GP cases at ring 0: upper half type, not present (#NP), 32-bit target
        lea 1f(%rip), %rax
        mov %rax, resume(%rip)
        lcall *fp_b0(%rip)
1:      lea 1f(%rip), %rax
        mov %rax, resume(%rip)
        lcall *fp_c0(%rip)
1:      lea 1f(%rip), %rax
        mov %rax, resume(%rip)
        lcall *fp_d0(%rip)
1:
        # ring 3 (64-bit code 0x60) through IRETQ
        lea compat_test(%rip), %rax
        mov %rax, int80_cont(%rip)
        mov %rsp, ring0_rsp(%rip)
        pushq $0x3b
        pushq $USTACK
        pushfq
        pushq $0x63
        lea ring3(%rip), %rax
        push %rax
        iretq
ring3:  mov %cs, %eax
        call save64
        mov $0x1111222233334444, %r12
        lcall *fp_83(%rip)           # to ring 0 through the DPL-3 gate (RPL 3)
ret_ring3:
        mov %rsp, %rax               # back: RSP as before, R12 changed by ring 0
        call save64
        mov %cs, %eax
        shl $16, %eax
        mov %ss, %ax
        call save64
        mov %r12d, %eax
        call save64
        # a JMP to ring 0 through the gate: #GP(0x28), a DPL-0 gate: #GP(0xf0), a gate to a
        # DPL-3 function at ring 3
        lea 1f(%rip), %rax
        mov %rax, resume(%rip)
        ljmp *fp_83(%rip)
1:      lea 1f(%rip), %rax
        mov %rax, resume(%rip)
        lcall *fp_f3(%rip)
1:      lcall *fp_a3(%rip)
        mov %eax, %eax
        call save64
        int $0x80                    # back to ring 0

ring0_fn:                            # ring 0, entered through a gate
        mov %rsp, %rax
        call save64
        mov %ss, %eax
        call save64
        mov %cs, %eax
        call save64
        lea ret_ring3(%rip), %rax
        sub (%rsp), %rax             # the return RIP
        call save64
        mov 8(%rsp), %rax            # CS
        call save64
        mov 16(%rsp), %rax           # RSP
        call save64
        mov 24(%rsp), %rax           # SS
        call save64
        mov $0x55, %r12d
        lretq
same_fn:
        mov 8(%rsp), %rax            # CS (same level)
        call save64
        lea ret_same(%rip), %rax
        sub (%rsp), %rax
        call save64
        mov %cs, %eax
        call save64
        lretq
jmp_fn: mov %rsp, %rax                # nothing pushed by a JMP
        sub %r15, %rax
        call save64
        jmp *jmp_target(%rip)
user_fn:                             # ring 3 through a DPL-3 gate to DPL-3 code
        mov %cs, %eax
        shl $16, %eax
        mov 8(%rsp), %ax
        lretq

int80:  mov ring0_rsp(%rip), %rsp
        mov %cs, %eax
        call save64
        mov $0x10, %eax
        mov %eax, %ss
        jmp *int80_cont(%rip)
to_back32:
        pushq $0x08
        lea back32(%rip), %rax
        push %rax
        lretq

compat_test:                         # ring 3 in compatibility mode (CS 0x33), through IRETQ
        lea ring0_from_compat(%rip), %rax
        mov $0x80, %ebx
        mov $0x28, %ecx
        mov $0xec, %edx
        call set_cg
        lea to_back32(%rip), %rax
        mov %rax, int80_cont(%rip)
        pushq $0x3b
        pushq $USTACK
        pushfq
        pushq $0x33
        lea compat3(%rip), %rax
        push %rax
        iretq
        .code32
compat3:
        mov $0x3b, %ax
        mov %ax, %ds
        mov %ax, %es
        lcall $0x83, $0              # 32-bit code through the 64-bit gate into 64-bit ring 0
ret_compat:
        mov %esp, %eax
        call save
        mov %cs, %eax
        shl $16, %eax
        mov %ss, %ax
        call save
        int $0x80
        .code64
ring0_from_compat:
        mov %rsp, %rax
        call save64
        lea ret_compat(%rip), %rax
        sub (%rsp), %rax             # an 8-byte return address
        call save64
        mov 4(%rsp), %eax            # its upper half
        call save64
        mov 8(%rsp), %rax            # CS
        call save64
        mov 16(%rsp), %rax           # RSP
        call save64
        mov 24(%rsp), %rax           # SS
        call save64
        lretq                        # 64-bit pops, to 32-bit ring 3

exc_np: mov $11, %eax
        jmp 1f
exc_gp: mov $13, %eax
1:      call save64
        pop %rax                     # the error code
        call save64
        mov resume(%rip), %rax
        mov %rax, (%rsp)
        iretq

        .code32
back32: mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov $0xc0000080, %ecx
        rdmsr
        and $~0x100, %eax
        wrmsr
        mov %cr4, %eax
        and $~0x20, %eax
        mov %eax, %cr4
        lgdt gdtr
        mov $0x10, %ax
        mov %ax, %ss
        mov %ax, %ds
        mov %ax, %es
        mov saved_esp, %esp
        ret

        .code64
save64: push %rbx
        mov RES_COUNT, %ebx
        mov %eax, RES(%rbx)
        addl $4, RES_COUNT
        pop %rbx
        ret
# IDT gate ECX <- handler RAX, type/DPL EDX (CS 0x28)
set_gate64:
        shl $4, %ecx
        lea idt64(%rip), %rdi
        add %rcx, %rdi
        mov %ax, (%rdi)
        movw $0x28, 2(%rdi)
        mov %dx, 4(%rdi)
        shr $16, %rax
        mov %ax, 6(%rdi)
        shr $16, %rax
        mov %eax, 8(%rdi)
        movl $0, 12(%rdi)
        ret
# 16-byte call gate at GDT offset EBX: target RAX, selector ECX, access byte DL
set_cg: lea gdt64(%rip), %rdi
        add %rbx, %rdi
        mov %ax, (%rdi)
        mov %cx, 2(%rdi)
        movb $0, 4(%rdi)
        mov %dl, 5(%rdi)
        shr $16, %rax
        mov %ax, 6(%rdi)
        shr $16, %rax
        mov %eax, 8(%rdi)
        movl $0, 12(%rdi)
        ret

        .data
saved_esp: .long 0
        .align 8
ring0_rsp: .quad 0
resume: .quad 0
jmp_target: .quad 0
int80_cont: .quad 0
fp_90:  .long 0
        .word 0x90
fp_e0:  .long 0
        .word 0xe0
fp_b0:  .long 0
        .word 0xb0
fp_c0:  .long 0
        .word 0xc0
fp_d0:  .long 0
        .word 0xd0
fp_83:  .long 0
        .word 0x83
fp_f3:  .long 0
        .word 0xf3
fp_a3:  .long 0
        .word 0xa3
        .align 8
gdtr64: .word 0x100 - 1
        .long gdt64, 0
idtr64: .word 256 * 16 - 1
        .long idt64, 0
        .align 16
gdt64:  .fill 0x100, 1, 0
tss64:  .fill 0x68, 1, 0
idt64:  .fill 256 * 16, 1, 0
