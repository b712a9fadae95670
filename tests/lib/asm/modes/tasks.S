# Hardware task switches in 32-bit protected mode (with paging, so that CR3 comes from the new
# TSS): JMP to a TSS and back, CALL through a task gate and IRET with NT back through the back
# link, a CALL straight to a TSS, INT n and a #GP through task gates in the IDT (the error code on
# the handler task's stack; the handler fixes the interrupted task's saved EIP), a 16-bit TSS,
# an LDT from the TSS, busy bits, NT, CR0.TS, what the switch saves in the old TSS, and the
# faults: JMP to a busy TSS or through a task gate to one (#GP), a TSS below the minimum limit
# (#TS), a TSS not present (#NP), IRET with NT to a TSS that is not busy (#TS); a double fault
# through a task gate (as Linux i386 handles #DF), a bad SS in the new TSS (#TS raised in the new
# task, whose handler IRETs back through the back link), and a JMP to a TSS with EFLAGS.VM set
# (a virtual-8086 task, whose INT n handler at ring 0 JMPs back).
        .include "common.inc"
        .set PD1, 0x20000
        .set PD2, 0x21000
        .set GDT2, 0x22000
        .set DATA200, 0x200000

        .text
        .code32
test_main:
        mov %esp, saved_esp
        # a bigger GDT: the common one plus TSSs, gates and an LDT
        mov $GDT2, %edi
        mov $0x400, %ecx
        xor %eax, %eax
        rep stosl
        mov $gdt, %esi
        mov $GDT2, %edi
        mov $(gdt_end - gdt), %ecx
        rep movsb
        lgdt gdtr2
        # two page directories, both identity maps of 16 MiB with 4 MiB pages
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $22, %eax
        or $0x87, %eax               # user-accessible: the virtual-8086 task runs at CPL 3
        mov %eax, PD1(,%ecx,4)
        mov %eax, PD2(,%ecx,4)
        inc %ecx
        cmp $4, %ecx
        jb 1b
        mov %cr4, %eax
        or $0x10, %eax               # PSE
        mov %eax, %cr4
        mov $PD1, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        # IDT: #TS, #NP, #GP -> exc_common stubs
        mov $10, %ecx
        mov $exc10, %eax
        call set_igate
        mov $11, %ecx
        mov $exc11, %eax
        call set_igate
        mov $13, %ecx
        mov $exc13, %eax
        call set_igate
        movl $0x8500, idt + 0x50 * 8 + 4   # INT 0x50: a task gate to TSS C
        movw $0x70, idt + 0x50 * 8 + 2
        movl $0x8500, idt + 8 * 8 + 4      # #DF: a task gate to TSS D
        movw $0xc0, idt + 8 * 8 + 2
        mov $0x30, %ecx                    # INT 0x30 (DPL 3) for the virtual-8086 task
        mov $v86_int30, %eax
        call set_igate
        movb $0xee, idt + 0x30 * 8 + 5
        mov $v86_start, %esi
        mov $0x7000, %edi
        mov $(v86_end - v86_start), %ecx
        rep movsb
        lidt idtr

        # TSS descriptors: 0x40 A (this task), 0x68 B, 0x70 C, 0x80 E, 0x88 F (16-bit), 0x90 a
        # 32-bit TSS with limit 0x50, 0x98 one not present; task gates 0x78 -> C, 0xb0 -> A;
        # 0xa0 an LDT (one data segment, base 0x200000)
        mov $0x40, %ebx
        mov $tssA, %eax
        mov $0x67, %ecx
        mov $0x89, %dl
        call set_desc
        mov $0x68, %ebx
        mov $tssB, %eax
        call set_desc
        mov $0x70, %ebx
        mov $tssC, %eax
        call set_desc
        mov $0x80, %ebx
        mov $tssE, %eax
        call set_desc
        mov $0x88, %ebx
        mov $tssF, %eax
        mov $0x2b, %ecx
        mov $0x81, %dl
        call set_desc
        mov $0x90, %ebx
        mov $tssB, %eax
        mov $0x50, %ecx
        mov $0x89, %dl
        call set_desc
        mov $0x98, %ebx
        mov $tssB, %eax
        mov $0x67, %ecx
        mov $0x09, %dl
        call set_desc
        mov $0xa0, %ebx
        mov $ldt, %eax
        mov $0x0f, %ecx
        mov $0x82, %dl
        call set_desc
        mov $0xb8, %ebx               # H: a bad SS
        mov $tssH, %eax
        mov $0x67, %ecx
        mov $0x89, %dl
        call set_desc
        mov $0xc0, %ebx               # D: the double-fault task
        mov $tssD, %eax
        call set_desc
        mov $0xc8, %ebx               # V: a virtual-8086 task
        mov $tssV, %eax
        call set_desc
        movl $0x00700000, GDT2 + 0x78   # task gate -> 0x70
        movl $0x00008500, GDT2 + 0x7c
        movl $0x00400000, GDT2 + 0xb0   # task gate -> 0x40
        movl $0x00008500, GDT2 + 0xb4
        # the tasks' initial states
        movl $PD1, tssA + 0x1c
        mov $tssB, %edi
        mov $PD2, %eax
        mov $taskB, %ebx
        mov $0x30000, %ecx
        call init_tss
        movw $0xa0, tssB + 0x60     # LDT
        movw $0x04, tssB + 0x58     # FS from the LDT
        movl $0xb0b0b0b0, tssB + 0x28
        mov $tssC, %edi
        mov $PD1, %eax
        mov $taskC, %ebx
        mov $0x31000, %ecx
        call init_tss
        mov $tssE, %edi
        mov $taskE, %ebx
        mov $0x32000, %ecx
        call init_tss
        mov $tssH, %edi
        mov $PD1, %eax
        mov $taskH, %ebx
        mov $0xe000, %ecx
        call init_tss
        movl $0x08, tssH + 0x50       # SS: a code segment
        mov $tssD, %edi
        mov $taskD, %ebx
        mov $0x33000, %ecx
        call init_tss
        mov $tssV, %edi
        xor %ebx, %ebx
        mov $0x1000, %ecx
        call init_tss
        movl $0x23002, tssV + 0x24    # VM, IOPL 3
        movl $0x34000, tssV + 4       # ESP0
        movl $0x10, tssV + 8          # SS0
        movl $0x0800, tssV + 0x48     # ES
        movl $0x0700, tssV + 0x4c     # CS
        movl $0x0600, tssV + 0x50     # SS
        movl $0x0700, tssV + 0x54     # DS
        movl $0x0900, tssV + 0x58     # FS
        movl $0x0a00, tssV + 0x5c     # GS
        movl $0x5678, tssV + 0x28     # EAX
        movw $(taskF - mbhdr), tssF + 0x0e
        movw $0x0002, tssF + 0x10
        movw $0x1616, tssF + 0x12   # AX
        movw $0x7000, tssF + 0x1a   # SP
        movw $0x10, tssF + 0x22     # ES
        movw $0x50, tssF + 0x24     # CS: 16-bit code, base 0x100000
        movw $0x20, tssF + 0x26     # SS
        movw $0x10, tssF + 0x28     # DS
        movl $0xfeedface, DATA200
        mov $0x40, %ax
        ltr %ax
        clts

        # 1. JMP to TSS B and B's JMP back
        mov $0xaaaa, %ebx
        mov $0x5151, %esi
        ljmp $0x68, $0
backA:  mov %ebx, %eax                # restored from TSS A
        call save
        mov %esi, %eax
        call save
        str %ax
        call save
        mov %cr3, %eax
        call save
        sldt %ax
        call save
        mov %cr0, %eax
        and $8, %eax
        call save
        mov tssB + 0x20, %eax         # B's saved EIP: after its JMP
        sub $afterB, %eax
        call save
        mov tssB + 0x34, %eax         # B's saved EBX
        call save
        mov tssA + 0x20, %eax         # A's saved EIP
        sub $backA, %eax
        call save
        movzbl GDT2 + 0x45, %eax
        shl $8, %eax
        movb GDT2 + 0x6d, %al
        call save                     # busy bits: A busy, B not

        # 2. CALL through the task gate to C, C's IRET back; a CALL straight to TSS C; INT 0x50
        clts
        lcall $0x78, $0
        pushf
        pop %eax
        and $0x4000, %eax
        call save
        movzbl GDT2 + 0x75, %eax
        call save                     # C not busy
        mov tssC + 0x24, %eax         # C's saved EFLAGS: NT cleared by the IRET
        call save
        mov tssC + 0x20, %eax
        sub $afterC, %eax
        call save
        lcall $0x70, $0
        int $0x50
        mov %cr0, %eax
        and $8, %eax
        call save

        # 3. #GP through a task gate to E: error code on E's stack, E fixes A's saved EIP
        movl $0x00800000, idt + 13 * 8
        movl $0x00008500, idt + 13 * 8 + 4
        mov $0x1234, %ax
gp_here:
        mov %ax, %ds                  # #GP(0x1230)
        mov %ds, %eax
        call save
        mov $13, %ecx
        mov $exc13, %eax
        call set_igate

        # 4. a 16-bit TSS
        mov $0x12345678, %eax
        lcall $0x88, $0
        movzwl tssF + 0x0e, %eax      # F's saved IP
        sub $(afterF - mbhdr), %eax
        call save
        movzwl tssF + 0x12, %eax      # F's saved AX
        call save
        movzbl GDT2 + 0x8d, %eax      # F: available 16-bit TSS again
        call save
        movzwl tssF, %eax             # back link
        call save

        # 5. faults
        movl $1f, resume
        ljmp $0x40, $0                # busy: #GP(0x40)
1:      movl $1f, resume
        ljmp $0xb0, $0                # task gate to the busy TSS A: #GP(0x40)
1:      movl $1f, resume
        lcall $0x90, $0               # limit 0x50: #TS(0x90)
1:      movl $1f, resume
        lcall $0x98, $0               # not present: #NP(0x98)
1:      movl $1f, resume
        movw $0x68, tssA              # back link to B, which is not busy
        pushf
        orl $0x4000, (%esp)
        popf
        iret                          # #TS(0x68)
1:      pushf
        andl $~0x4000, (%esp)
        popf
        str %ax
        call save
        movzbl GDT2 + 0x45, %eax
        call save

        # 6. #GP with its IDT gate not present: #NP while delivering it, so #DF, through the
        # task gate to D, which fixes the gate and A's saved EIP
        andb $0x7f, idt + 13 * 8 + 5
        mov $0x1234, %ax
df_here:
        mov %ax, %ds
        mov %ds, %eax
        call save
        # 7. a CALL to H, whose SS is a code segment: #TS(0x08) in H, IRET back to A
        mov $10, %ecx
        mov $exc10_h, %eax
        call set_igate
        lcall $0xb8, $0
        str %ax
        call save
        mov tssH + 0x20, %eax         # H's saved EIP
        sub $h_back, %eax
        call save
        mov $10, %ecx
        mov $exc10, %eax
        call set_igate
        # 8. a JMP to the virtual-8086 task V; its INT 0x30 handler JMPs back
        ljmp $0xc8, $0
        str %ax
        call save
        movzbl GDT2 + 0xcd, %eax      # V not busy
        shl $8, %eax
        movb GDT2 + 0x45, %al
        call save
        mov tssV + 0x20, %eax         # V's saved EIP: in the ring-0 handler
        sub $v86_back, %eax
        call save
        mov tssV + 0x24, %eax         # its EFLAGS there
        call save
        movzwl tssV + 0x50, %eax      # and SS
        call save

        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        lgdt gdtr
        mov saved_esp, %esp
        ret

taskB:  mov %eax, %edx                # EAX from the TSS
        str %ax
        call save
        mov %edx, %eax
        call save
        mov %esi, %eax                # ESI from the TSS: 0
        call save
        mov %cr3, %eax
        call save
        sldt %ax
        call save
        mov %cr0, %eax
        and $8, %eax
        call save
        pushf
        pop %eax
        call save                     # NT clear after a JMP
        mov %fs:0, %eax               # FS from the LDT: base 0x200000
        call save
        movzbl GDT2 + 0x45, %eax
        shl $8, %eax
        movb GDT2 + 0x6d, %al
        call save                     # A not busy, B busy
        mov %ss, %eax
        shl $16, %eax
        mov %cs, %ax
        call save
        mov $0x12345678, %ebx
        ljmp $0x40, $0
afterB: hlt

taskC:  incl c_runs
        mov c_runs, %eax
        call save
        pushf
        pop %eax
        and $0x4000, %eax
        call save                     # NT set
        movzwl tssC, %eax             # back link: A
        call save
        movzbl GDT2 + 0x45, %eax
        shl $8, %eax
        movb GDT2 + 0x75, %al
        call save                     # both busy
        str %ax
        call save
        iret
afterC: jmp taskC

taskE:  pop %eax                      # the error code
        call save
        movzwl tssE, %eax             # back link
        call save
        mov tssA + 0x20, %eax
        sub $gp_here, %eax
        call save
        addl $2, tssA + 0x20          # skip the faulting MOV
        str %ax
        call save
        iret
        hlt

taskD:  pop %eax                      # #DF: error code 0
        call save
        movzwl tssD, %eax             # back link
        call save
        mov tssA + 0x20, %eax
        sub $df_here, %eax
        call save
        orb $0x80, idt + 13 * 8 + 5   # the #GP gate present again
        addl $2, tssA + 0x20
        iret
        hlt

taskH:  hlt                           # never runs: loading SS faults
h_back: iret                          # in H, with NT: back to A

exc10_h:                              # #TS in task H (its SS, DS, ES not loaded yet)
        mov $0x10, %ax
        mov %ax, %ss
        mov %ax, %ds
        mov %ax, %es
        mov $10, %eax
        call save
        pop %eax                      # error code
        call save
        str %ax
        call save
        # (the EIP pushed is H's entry here; QEMU 7.2 pushes the EIP of A's CALL instead)
        movl $h_back, (%esp)
        iret

v86_int30:                            # INT 0x30 from the virtual-8086 task, at ring 0
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov 8(%esp), %eax             # EFLAGS
        call save
        mov 24(%esp), %eax            # DS
        shl $16, %eax
        mov 12(%esp), %ax             # SP
        call save
        str %ax
        call save
        ljmp $0x40, $0
v86_back:
        hlt

# IDT interrupt gate ECX <- EAX (CS 0x08, DPL 0)
set_igate:
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        movw $0x8e00, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        ret

# system descriptor at GDT2 + EBX: base EAX, limit ECX (< 64 KiB), access byte DL
set_desc:
        mov %cx, GDT2(%ebx)
        mov %ax, GDT2 + 2(%ebx)
        shr $16, %eax
        mov %al, GDT2 + 4(%ebx)
        mov %dl, GDT2 + 5(%ebx)
        movb $0, GDT2 + 6(%ebx)
        mov %ah, GDT2 + 7(%ebx)
        ret

# a 32-bit TSS at EDI: CR3 EAX, EIP EBX, ESP ECX, flat ring-0 segments
init_tss:
        mov %eax, 0x1c(%edi)
        mov %ebx, 0x20(%edi)
        movl $2, 0x24(%edi)
        mov %ecx, 0x38(%edi)
        movl $0x10, 0x48(%edi)
        movl $0x08, 0x4c(%edi)
        movl $0x10, 0x50(%edi)
        movl $0x10, 0x54(%edi)
        movl $0x10, 0x58(%edi)
        movl $0x10, 0x5c(%edi)
        ret

exc10:  push $10
        jmp exc_common
exc11:  push $11
        jmp exc_common
exc13:  push $13
exc_common:
        pop %eax
        call save
        pop %eax                      # error code
        call save
        mov resume, %eax
        mov %eax, (%esp)
        iret

        .code16
v86_start:                            # the virtual-8086 task, at 0700:0000
        push %ax                      # EAX from the TSS
        int $0x30
v86_end:

taskF:  mov %ax, %dx
        str %ax
        call save16
        mov %dx, %ax
        call save16                   # AX from the TSS
        pushf
        pop %ax
        and $0x4000, %ax
        call save16                   # NT
        mov %ss, %ax
        call save16
        mov %cs, %ax
        call save16
        addr32 movzbw GDT2 + 0x8d, %ax  # F busy
        call save16
        mov $0x4242, %ax
        iret
afterF: hlt
save16: push %ebx
        movzwl %ax, %eax
        movl RES_COUNT, %ebx
        addr32 movl %eax, RES(%ebx)
        addl $4, RES_COUNT
        pop %ebx
        ret
        .code32

        .data
saved_esp: .long 0
resume: .long 0
c_runs: .long 0
        .align 8
gdtr2:  .word 0x100 - 1
        .long GDT2
        .align 8
idtr:   .word 256 * 8 - 1
        .long idt
ldt:    .quad 0x00cf92200000ffff     # data32, base 0x200000
        .quad 0
        .align 16
tssA:   .fill 0x68, 1, 0
tssB:   .fill 0x68, 1, 0
tssC:   .fill 0x68, 1, 0
tssE:   .fill 0x68, 1, 0
tssF:   .fill 0x2c, 1, 0
        .align 16
tssH:   .fill 0x68, 1, 0
tssD:   .fill 0x68, 1, 0
tssV:   .fill 0x68, 1, 0
        .align 8
idt:    .fill 256 * 8, 1, 0
