# 16- and 32-bit protected mode: a 32-bit IDT (exceptions with and without error codes, INT n,
# INT3, INTO, BOUND, a DPL-3 gate reached from ring 3 through the TSS's ring-0 stack, IRET to
# ring 3), SYSENTER/SYSEXIT, segment bases, a 16-bit stack segment under 32-bit code, 16-bit
# protected-mode code reached by far calls with and without operand-size prefixes, PUSHA/POPA,
# ENTER with nesting, BCD, CMPXCHG8B, LDS/LES/LSS/LFS/LGS, LAR/LSL/VERR/VERW/ARPL.
        .include "common.inc"
        .set KSTACK0, 0x70000

        .text
        .code32
test_main:
        mov %esp, saved_esp
        # IDT: vectors 0..31 -> exc_N stubs, 0x41 interrupt gate, 0x80 DPL-3 trap gate
        xor %ecx, %ecx
1:      mov stubs(,%ecx,4), %eax
        mov $0x8e00, %edx             # present, DPL 0, 32-bit interrupt gate
        call set_gate
        inc %ecx
        cmp $32, %ecx
        jb 1b
        mov $0x41, %ecx
        mov $int41, %eax
        mov $0x8e00, %edx
        call set_gate
        mov $0x80, %ecx
        mov $int80, %eax
        mov $0xef00, %edx             # DPL 3 trap gate
        call set_gate
        lidt idtr
        # TSS: ring-0 stack
        movl $KSTACK0, tss + 4
        movl $0x10, tss + 8
        mov $tss, %eax
        mov %ax, gdt_tss + 2
        shr $16, %eax
        mov %al, gdt_tss + 4
        mov %ah, gdt_tss + 7
        movw $0x67, gdt_tss
        movb $0x89, gdt_tss + 5
        mov $0x40, %ax
        ltr %ax

        # exceptions: #DE, #UD, #GP(sel), #BR, #OF (INTO), #BP, INT n
        movl $1f, resume
        xor %ecx, %ecx
        div %ecx
1:      movl $1f, resume
        ud2
1:      movl $1f, resume
        mov $0x1234, %ax
        mov %ax, %ds                  # #GP(0x1230)
1:      mov $0x10, %ax
        mov %ax, %ds
        movl $1f, resume
        mov $5, %eax
        bound %eax, bounds            # [10, 20]: #BR
1:      mov $15, %eax
        bound %eax, bounds            # inside: no exception
        movl $1f, resume
        mov $0x7f, %al
        add $1, %al                   # OF
        into
1:      movl $1f, resume
        int3
1:      mov $0x99, %eax
        int $0x41
        call save

        # ring 3 through IRET, back through a DPL-3 trap gate (stack switch from the TSS)
        mov %esp, ring0_esp
        push $0x3b                    # SS
        push $0x60000                 # ESP
        pushf
        push $0x33                    # CS
        push $ring3
        iret
ring3:  mov $0x3b, %ax                # the IRET to ring 3 nulled DS (DPL 0)
        mov %ax, %ds
        mov %cs, %eax
        call save
        mov %ss, %eax
        call save
        mov $0x777, %eax
        int $0x80                     # does not return here
ring0_back:
        # call gates (0x68: DPL 3, to 0x08:gate_fn, 1 parameter; 0x70: DPL 0, same level)
        mov $gate_fn, %eax
        mov %ax, gdt_spare
        movw $0x08, gdt_spare + 2
        movw $0xec01, gdt_spare + 4   # present, DPL 3, 32-bit call gate, 1 parameter
        shr $16, %eax
        mov %ax, gdt_spare + 6
        mov $gate_fn0, %eax
        mov %ax, gdt_spare + 8
        movw $0x08, gdt_spare + 10
        movw $0x8c00, gdt_spare + 12
        shr $16, %eax
        mov %ax, gdt_spare + 14
        lcall $0x70, $0               # same level: the offset is the gate's
        call save
        movl $ring0_back2, int80_cont
        mov %esp, ring0_esp
        push $0x3b
        push $0x60000
        pushf
        push $0x33
        push $ring3_gate
        iret
ring3_gate:
        mov $0x3b, %ax
        mov %ax, %ds
        push $0x42                    # the parameter
        lcall $0x6b, $0               # to ring 0 through the gate
        mov %esp, %eax                # back in ring 3, parameter released
        call save
        mov %cs, %eax
        call save
        int $0x80
ring0_back2:
        # SYSENTER / SYSEXIT (SYSENTER_CS 0x20: ring 0 CS 0x20 / SS 0x28, ring 3 CS 0x33 / SS 0x3b)
        mov $0x174, %ecx
        mov $0x20, %eax
        xor %edx, %edx
        wrmsr
        mov $0x175, %ecx
        mov $0x68000, %eax
        wrmsr
        mov $0x176, %ecx
        mov $sysenter_entry, %eax
        wrmsr
        mov %esp, ring0_esp
        mov $0x60000, %ecx
        mov $sysexit_target, %edx
        sysexit
sysexit_target:
        mov %cs, %eax
        call save
        mov %ss, %eax
        call save
        mov %esp, %eax
        call save
        sysenter
sysenter_entry:
        mov %cs, %eax
        shl $16, %eax
        mov %ss, %ax
        call save
        mov %esp, %eax
        call save
        pushl $0x08                   # back to the GDT's code segment through a far return
        pushl $1f
        lret
1:      mov $0x10, %ax
        mov %ax, %ss
        mov ring0_esp, %esp

        # a data segment with a base, LDS/LES/LFS/LGS/LSS
        mov $0x48, %ax
        mov %ax, %es
        movl $0xcafe, %es:0x10
        mov 0x200010, %eax
        call save
        movl $0x10, farp
        movw $0x48, farp + 4
        lfs farp, %ebx
        mov %fs:(%ebx), %eax
        call save
        lgs farp, %ebx
        mov %gs:(%ebx), %eax
        call save
        mov $0x10, %ax
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs

        # a 16-bit stack segment (base 0x300000) under 32-bit code
        mov %esp, %edi
        movl $0x58, farp + 4
        movl $0xabcd0010, farp
        lss farp, %esp
        push $0x12345678
        pushw $0x99
        mov %esp, %eax
        call save
        mov %ds:0x30000c, %eax
        call save
        pop %ax
        pop %eax
        call save
        mov %esp, %eax
        call save
        mov $0x10, %ax
        mov %ax, %ss
        mov %edi, %esp

        # 16-bit protected-mode code: a far call with a 32-bit frame, one with a 16-bit frame
        mov $0x1111, %eax
        lcall $0x50, $(pm16_fn32 - mbhdr)
        call save
        mov $0x3333, %eax
        lcall $0x50, $(pm16_based - mbhdr)
        call save

        # PUSHA/POPA, ENTER with nesting, BCD, CMPXCHG8B, XLAT, segment pushes
        mov $1, %eax
        mov $2, %ecx
        mov $3, %edx
        mov $4, %ebx
        mov $5, %ebp
        mov $6, %esi
        mov $7, %edi
        pusha
        mov 12(%esp), %eax            # the ESP slot
        sub %esp, %eax
        call save
        movl $0, 4(%esp)
        popa
        mov %edi, %eax
        shl $8, %eax
        or %esi, %eax
        call save
        mov %esp, %ebp
        mov %esp, %esi
        enter $16, $3
        mov %esi, %eax
        sub %esp, %eax
        call save
        mov %esi, %eax
        sub %ebp, %eax
        call save
        mov %esi, %esp
        mov $0x19, %al
        add $0x28, %al
        daa
        call save_flags
        call save
        mov $0x0309, %ax
        add $0x09, %al
        aaa
        call save
        mov $0x11111111, %eax
        mov $0x22222222, %edx
        mov $0x33333333, %ebx
        mov $0x44444444, %ecx
        movl $0x11111111, qword
        movl $0x22222222, qword + 4
        cmpxchg8b qword
        call save_flags
        mov qword + 4, %eax
        call save
        lock cmpxchg8b qword
        call save_flags
        mov %edx, %eax
        call save
        push %ds
        push %cs
        pop %eax
        pop %ebx
        shl $16, %eax
        or %ebx, %eax
        call save

        # an external interrupt (the LAPIC timer, vector 0x40) through the 32-bit IDT wakes HLT
        mov $0xff, %al                # the PICs masked (the firmware may have left IRQ 0 on)
        out %al, $0x21
        out %al, $0xa1
        mov $0x40, %ecx
        mov $int_timer, %eax
        mov $0x8e00, %edx
        call set_gate
        movl $0x1ff, 0xfee000f0       # SVR: enabled
        movl $0x0b, 0xfee003e0        # divide by 1
        movl $0x40, 0xfee00320        # LVT timer: vector 0x40, one-shot
        movl $10000, 0xfee00380
        sti
1:      hlt
        cmpl $0, timer_hits
        je 1b
        cli
        mov timer_hits, %eax
        call save
        mov timer_frame, %eax
        call save

        # LAR / LSL / VERR / VERW / ARPL
        mov $0x30, %ebx               # DPL-3 code
        mov $0xffffffff, %eax
        lar %ebx, %eax
        call save_flags
        call save
        mov $0x48, %ebx
        lsl %ebx, %eax
        call save
        mov $0x40, %ebx               # the TSS: LSL yes, VERR no
        lsl %ebx, %eax
        call save
        verr %bx
        call save_flags
        mov $0x10, %ebx
        verw %bx
        call save_flags
        mov $0x08, %ebx
        verw %bx                      # code: not writable
        call save_flags
        mov $0x1000, %ebx             # beyond the GDT: ZF = 0, EAX unchanged
        mov $0x5a5a, %eax
        lar %ebx, %eax
        call save_flags
        call save
        mov $0x10, %eax
        mov $0x13, %ecx
        arpl %cx, %ax
        call save_flags
        call save
        arpl %cx, %ax
        call save_flags

        mov saved_esp, %esp
        ret

# IDT gate ECX <- handler EAX, type/DPL EDX (selector 0x08)
set_gate:
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        mov %dx, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        ret

# exception entry: vector in EAX (and an error code on the stack for some); saves vector, error
# code and the CS pushed; resumes at `resume`
exc_common:
        call save
        cmp $8, %eax
        je 1f
        cmp $10, %eax
        jb 2f
        cmp $14, %eax
        ja 2f
1:      pop %eax                      # error code
        call save
2:      mov 4(%esp), %eax             # CS
        call save
        mov resume, %eax
        mov %eax, (%esp)
        iret

int_timer:
        push %eax
        incl timer_hits
        mov 12(%esp), %eax            # the pushed EFLAGS: IF was set
        and $0x200, %eax
        or 8(%esp), %eax              # | CS
        mov %eax, timer_frame
        movl $0, 0xfee000b0           # EOI
        pop %eax
        iret

int41:  pushf
        pop %ebx
        and $0x200, %ebx              # IF was cleared by the interrupt gate
        add %ebx, %eax
        iret

int80:  call save                     # EAX from ring 3
        mov %esp, %eax
        call save
        mov 4(%esp), %eax             # CS
        call save
        mov 12(%esp), %eax            # ESP
        call save
        mov 16(%esp), %eax            # SS
        call save
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov ring0_esp, %esp
        jmp *int80_cont

gate_fn:                              # entered from ring 3 through the call gate
        mov %esp, %eax
        call save
        mov 4(%esp), %eax             # caller CS
        call save
        mov 8(%esp), %eax             # the copied parameter
        call save
        mov 12(%esp), %eax            # caller ESP
        call save
        mov 16(%esp), %eax            # caller SS
        call save
        mov %cs, %eax
        call save
        lret $4
gate_fn0:
        mov 4(%esp), %eax             # caller CS (same level)
        add $0x1000, %eax
        lret

        .code16
pm16_fn32:                            # called with a 32-bit frame: 66 lret
        add $0x100, %ax
        lea 2(%bx,%si), %cx
        addr32 lea 2(%ebx,%esi), %ecx
        lretl
pm16_fn16:
        push %bp
        mov %sp, %bp
        add 2(%bp), %ax               # + the return IP
        sub 2(%bp), %ax
        add $0x200, %ax
        pop %bp
        lret
pm16_based:                           # CS base 0x100000: IP is an offset from there
        call 1f
1:      pop %bx
        lcall $0x50, $(pm16_fn16 - mbhdr)   # a 16-bit frame
        shl $16, %eax
        mov %bx, %ax
        lretl
        .code32

        .data
        .align 8
stubs:  .long exc0, exc1, exc2, exc3, exc4, exc5, exc6, exc7, exc8, exc9, exc10, exc11, exc12
        .long exc13, exc14, exc15, exc16, exc17, exc18, exc19, exc20, exc21, exc22, exc23, exc24
        .long exc25, exc26, exc27, exc28, exc29, exc30, exc31
bounds: .long 10, 20
resume: .long 0
timer_hits: .long 0
timer_frame: .long 0
saved_esp: .long 0
ring0_esp: .long 0
int80_cont: .long ring0_back
farp:   .long 0, 0
qword:  .quad 0
idtr:   .word 256 * 8 - 1
        .long idt
        .align 8
tss:    .fill 0x68, 1, 0
idt:    .fill 256 * 8, 1, 0

        .text
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exc\n:  mov $\n, %eax
        jmp exc_common
        .endr
