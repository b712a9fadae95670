# Virtual-8086 mode: entered by IRETD at CPL 0 with VM=1 in the popped EFLAGS (ESP, SS, ES,
# DS, FS, GS popped too), real-mode addressing at CPL 3, far CALL/RET and IRET inside it, INT n
# to a ring-0 32-bit handler through the TSS's ring-0 stack (GS, FS, DS, ES, SS, ESP pushed,
# the data segment registers zeroed) and IRETD back, exceptions (#DE, #UD for ARPL, #GP for a
# DPL-0 gate and HLT) delivered the same way; with IOPL 3 CLI/STI/PUSHF/POPF/IRET work (PUSHF
# shows VM and RF clear, IRET cannot change IOPL); with IOPL 0 they and INT n raise #GP(0) while
# INT3 does not; IN/OUT and INS/OUTS in virtual-8086 mode through the TSS's I/O permission
# bitmap; an external interrupt (the LAPIC timer) taken in virtual-8086 mode.
        .include "common.inc"
        .set KSTACK0, 0x70000
        .set BLOB, 0x7000            # the virtual-8086 code, CS 0x0700

        .text
        .code32
test_main:
        mov %esp, saved_esp
        mov $0xff, %al                # the PICs masked
        out %al, $0x21
        out %al, $0xa1
        mov $v86_start, %esi
        mov $BLOB, %edi
        mov $(v86_end - v86_start), %ecx
        rep movsb
        # IDT: #DE, #BP (DPL 3), #UD, #GP, INT 0x30/0x33 (DPL 3), INT 0x31 (DPL 0)
        mov $0, %ecx
        mov $exc_de, %eax
        mov $0x8e00, %edx
        call set_gate
        mov $3, %ecx
        mov $exc_bp, %eax
        mov $0xee00, %edx
        call set_gate
        mov $6, %ecx
        mov $exc_ud, %eax
        mov $0x8e00, %edx
        call set_gate
        mov $13, %ecx
        mov $exc_gp, %eax
        call set_gate
        mov $0x30, %ecx
        mov $int30, %eax
        mov $0xee00, %edx
        call set_gate
        mov $0x33, %ecx
        mov $int33, %eax
        call set_gate
        mov $0x31, %ecx
        mov $int30, %eax
        mov $0x8e00, %edx
        call set_gate
        mov $0x40, %ecx
        mov $int_timer, %eax
        mov $0x8e00, %edx
        call set_gate
        lidt idtr
        # TSS with a ring-0 stack and an I/O bitmap for ports 0-0x3ff (only port 0x80 allowed)
        movl $KSTACK0, tss + 4
        movl $0x10, tss + 8
        movw $0x68, tss + 0x66
        movb $0xfe, tss + 0x68 + 0x10
        mov $tss, %eax
        mov %ax, gdt_tss + 2
        shr $16, %eax
        mov %al, gdt_tss + 4
        mov %ah, gdt_tss + 7
        movw $(0x68 + 0x80), gdt_tss
        movb $0x89, gdt_tss + 5
        mov $0x40, %ax
        ltr %ax

        # phase 1: IOPL 3
        mov $0x3002, %eax
        mov $(v86_iopl3 - v86_start), %ebx
        call enter_v86
        # the LAPIC timer expires with IF clear; its interrupt is taken after an STI in
        # virtual-8086 mode
        movl $0x1ff, 0xfee000f0       # SVR: enabled
        movl $0x0b, 0xfee003e0        # divide by 1
        movl $0x40, 0xfee00320        # LVT timer: vector 0x40, one-shot
        movl $1000, 0xfee00380
1:      cmpl $0, 0xfee00390           # current count
        jne 1b
        mov $0x3002, %eax
        mov $(v86_timer - v86_start), %ebx
        call enter_v86
        # phase 2: IOPL 0
        mov $0x0002, %eax
        mov $(v86_iopl0 - v86_start), %ebx
        call enter_v86
        mov 0x8010, %eax              # what the virtual-8086 code stored at 0800:0010
        call save
        mov saved_esp, %esp
        ret

# IRETD into virtual-8086 mode with EFLAGS EAX, IP EBX (CS 0x0700, SS 0x0600:0x1000, DS 0x0700,
# ES 0x0800, FS 0x0900, GS 0x0a00); returns when the code there executes HLT
enter_v86:
        mov %esp, ring0_esp
        push $0x0a00                  # GS
        push $0x0900                  # FS
        push $0x0700                  # DS
        push $0x0800                  # ES
        push $0x0600                  # SS
        push $0x1000                  # ESP
        or $0x20000, %eax
        push %eax                     # EFLAGS with VM
        push $0x0700                  # CS
        push %ebx                     # EIP
        iret

# IDT gate ECX <- handler EAX, type/DPL EDX (selector 0x08)
set_gate:
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        mov %dx, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        ret

# handlers run with null DS/ES/FS/GS (SS is the flat ring-0 stack): load DS first
.macro flat_ds
        push %eax
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        pop %eax
.endm

int30:  flat_ds                       # a result from the virtual-8086 code: EAX
        call save
        iret

int33:  push %eax                     # the whole frame and the handler's segment registers
        mov %ds, %eax
        shl $8, %eax
        mov %es, %ax
        shl $8, %eax
        mov %fs, %ax
        shl $8, %eax
        mov %gs, %ax
        flat_ds
        call save
        mov %cs, %eax
        shl $16, %eax
        mov %ss, %ax
        call save
        lea 4(%esp), %eax
        call save                     # ESP: KSTACK0 - 9 * 4
        xor %ecx, %ecx
1:      mov 4(%esp,%ecx,4), %eax      # EIP CS EFLAGS ESP SS ES DS FS GS
        call save
        inc %ecx
        cmp $9, %ecx
        jb 1b
        pop %eax
        iret

int_timer:                            # the LAPIC timer in virtual-8086 mode
        flat_ds
        push %eax
        mov 4(%esp), %eax             # IP
        call save
        mov 8(%esp), %eax             # CS
        call save
        mov 12(%esp), %eax            # EFLAGS: VM, IF
        call save
        movl $0, 0xfee000b0           # EOI
        addl $2, 4(%esp)
        pop %eax
        iret

exc_de: flat_ds
        push %eax
        mov $0, %eax
        jmp exc_common
exc_bp: flat_ds
        push %eax
        mov $3, %eax
        call save
        mov 4(%esp), %eax             # IP after INT3
        call save
        pop %eax
        iret
exc_ud: flat_ds
        push %eax
        mov $6, %eax
exc_common:                           # save vector, IP; skip 2 bytes
        call save
        mov 4(%esp), %eax
        call save
        addl $2, 4(%esp)
        pop %eax
        iret

exc_gp: flat_ds
        push %eax
        push %ebx
        mov $13, %eax
        call save
        mov 8(%esp), %eax             # error code
        call save
        mov 12(%esp), %eax            # IP
        call save
        movzwl 16(%esp), %ebx         # CS
        shl $4, %ebx
        add 12(%esp), %ebx
        movzbl (%ebx), %eax           # the opcode
        cmp $0xf4, %al
        je 3f                         # HLT: leave virtual-8086 mode
        mov $1, %ebx
        cmp $0x66, %al
        je 1f
        cmp $0xcd, %al
        je 1f
        cmp $0xf3, %al                # REP and a one-byte string instruction
        je 1f
        cmp $0xe6, %al
        je 1f
        cmp $0xe7, %al
        jne 2f
1:      inc %ebx
2:      add %ebx, 12(%esp)
        pop %ebx
        pop %eax
        add $4, %esp                  # the error code
        iret
3:      mov 24(%esp), %eax            # ESP of the virtual-8086 code
        call save
        mov ring0_esp, %esp
        ret

        .code16
v86_start:
v86_iopl3:
        mov %cs, %ax
        int $0x30                     # 0700
        int $0x33                     # the frame
        mov %ds, %ax
        shl $16, %eax
        mov %ss, %ax
        int $0x30
        movl $0x11223344, %es:0x10    # 0800:0010 = linear 0x8010
        mov $0x0801, %bx
        mov %bx, %fs
        mov %fs:0, %eax
        int $0x30
        mov %sp, %ax
        int $0x30                     # 1000: the stack as it was
        pushf
        pop %ax
        int $0x30                     # IOPL 3, IF 0
        pushfl
        popl %eax
        int $0x30                     # VM and RF clear in the image
        sti
        pushf
        pop %ax
        int $0x30
        cli
        push $0x0cd5
        popf                          # IOPL stays 3
        pushf
        pop %ax
        int $0x30
        lcall $0x0700, $(v86_fn - v86_start)
        int $0x30                     # what v86_fn returned
        push $0x0202                  # IRET inside: IOPL stays 3, IF set
        push %cs
        push $(1f - v86_start)
        iret
1:      pushf
        pop %ax
        cli
        int $0x30
        xor %cl, %cl
        div %cl                       # #DE
        arpl %ax, %bx                 # #UD
        int $0x31                     # #GP(0x18a): a DPL-0 gate
        out %al, $0x80                # allowed by the bitmap
        mov $0x80, %ax
        int $0x30
        mov $0x80, %dx
        mov $0x20, %si
        mov $2, %cx
        rep outsb                     # string I/O: allowed by the bitmap, from DS:SI
        mov %si, %ax
        shl $16, %eax
        mov %cx, %ax
        int $0x30
        mov $0x7f, %dx
        mov $0x30, %di
        mov $3, %cx
        rep insb                      # #GP(0), nothing done
        mov %di, %ax
        shl $16, %eax
        mov %cx, %ax
        int $0x30
        mov $0x80, %dx
        outsw                         # port 0x81 is not allowed: #GP(0)
        out %al, $0x84                # #GP(0)
        out %ax, $0x7f                # port 0x7f is not allowed: #GP(0)
        mov $0x3f8, %dx
        in %dx, %al                   # #GP(0)
        int3
        hlt                           # #GP(0): back to protected mode

v86_timer:
        sti                           # the timer interrupt is pending already
timer_wait:
        jmp timer_wait                # the handler moves IP past this
        cli
        hlt                           # #GP(0): back to protected mode

v86_iopl0:
        cli                           # each of these: #GP(0)
        sti
        pushf
        pushfl
        popf
        int $0x30
        iret
        int3                          # not IOPL-sensitive: through the DPL-3 gate
        hlt

v86_fn: mov %cs, %ax
        shl $16, %eax
        mov %sp, %ax
        lret
v86_end:
        .code32

        .data
saved_esp: .long 0
ring0_esp: .long 0
        .align 8
idtr:   .word 256 * 8 - 1
        .long idt
        .align 16
tss:    .fill 0x68, 1, 0
        .fill 0x80, 1, 0xff
        .byte 0xff
        .align 8
idt:    .fill 256 * 8, 1, 0
