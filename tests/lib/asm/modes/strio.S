# String I/O (INS/OUTS) in 32-bit protected mode: REP OUTSB to COM1 forwards and backwards (DF),
# OUTS with a segment override, REP INSB from the fw_cfg data port (ES fixed, an override
# ignored), INSW/INSD/OUTSW/OUTSD through the PCI configuration ports and the fw_cfg selector,
# 16-bit addressing (DI and CX wrap, the upper halves kept), a zero count; at ring 3 with IOPL 0
# the TSS's I/O permission bitmap (allowed, #GP(0) for a port not allowed, also with a zero
# count); the LAPIC timer interrupting a long REP OUTSB between elements (the frame's EIP is the
# REP instruction, the registers at an element boundary) and the REP finishing after IRET; and
# with paging a #PF in the middle of REP OUTSB and REP INSB and for an INSW element crossing
# pages: the handler sees the count and index at the faulting element, maps the page, and the
# instruction goes on from there (no port data lost).
        .include "common.inc"
        .set KSTACK0, 0x70000
        .set USTACK, 0x60000
        .set PD, 0x400000
        .set PT, 0x401000
        .set DATA, 0x600000          # physical pages behind 0x800000 + n * 0x1000
        .set SCRATCH, 0x500000
        .set LONG_N, 0x100000        # elements of the long REP OUTSB
        .set LONG_SRC, 0x100000

        .text
        .code32
test_main:
        mov %esp, saved_esp
        mov $0xff, %al                # the PICs masked
        out %al, $0x21
        out %al, $0xa1
        mov $13, %ecx
        mov $exc_gp, %eax
        mov $0x8e00, %edx
        call set_gate
        mov $14, %ecx
        mov $exc_pf, %eax
        call set_gate
        mov $0x40, %ecx
        mov $int_timer, %eax
        call set_gate
        mov $0x32, %ecx
        mov $int_back, %eax
        mov $0xee00, %edx
        call set_gate
        lidt idtr
        cld

        # REP OUTSB to COM1
        mov $msg1, %esi
        mov $(msg1_end - msg1), %ecx
        mov $0x3f8, %dx
        rep outsb
        mov %ecx, %eax
        call save
        mov %esi, %eax
        sub $msg1, %eax
        call save
        # backwards (DF=1)
        std
        mov $(msg2_end - 1), %esi
        mov $(msg2_end - msg2), %ecx
        rep outsb
        cld
        mov %esi, %eax
        sub $msg2, %eax
        call save
        mov $'\n', %al
        out %al, %dx
        # a segment override: FS (base 0x200000)
        mov $msg3, %esi
        mov $0x200100, %edi
        mov $(msg3_end - msg3), %ecx
        rep movsb
        mov $0x48, %ax
        mov %ax, %fs
        mov $0x100, %esi
        mov $(msg3_end - msg3), %ecx
        rep outsb %fs:(%esi), (%dx)
        mov %esi, %eax
        call save
        # a zero count: nothing happens
        xor %ecx, %ecx
        mov $msg1, %esi
        rep outsb
        mov %esi, %eax
        sub $msg1, %eax
        call save

        # REP INSB from the fw_cfg data port (the signature), an FS prefix ignored
        call fwcfg_sig
        mov $SCRATCH, %edi
        movl $0, (%edi)
        mov $4, %ecx
        .byte 0x64                    # fs: (INS always stores to ES)
        rep insb
        mov SCRATCH, %eax
        call save
        mov %edi, %eax
        call save
        # OUTSW to the fw_cfg selector, then INSB one at a time, backwards
        movw $0, SCRATCH + 0x10
        mov $SCRATCH + 0x10, %esi
        mov $0x510, %dx
        outsw
        mov %esi, %eax
        call save
        mov $0x511, %dx
        mov $SCRATCH + 0x23, %edi
        std
        insb
        insb
        insb
        insb
        cld
        mov SCRATCH + 0x20, %eax
        call save
        mov %edi, %eax
        call save
        # OUTSD to CONFIG_ADDRESS, INSD/INSW from CONFIG_DATA: the host bridge's IDs
        movl $0x80000000, SCRATCH + 0x30
        mov $SCRATCH + 0x30, %esi
        mov $0xcf8, %dx
        outsl
        mov $0xcfc, %dx
        mov $SCRATCH + 0x40, %edi
        insl
        insw
        mov SCRATCH + 0x40, %eax
        call save
        movzwl SCRATCH + 0x44, %eax
        call save
        mov %edi, %eax
        call save
        movl $0x80000008, SCRATCH + 0x30
        mov $SCRATCH + 0x30, %esi
        mov $0xcf8, %dx
        mov $1, %ecx
        rep outsl
        mov $0xcfc, %dx
        in %dx, %eax
        call save

        # 16-bit addressing: DI wraps at 64 KiB, CX counts, the upper halves stay
        call fwcfg_sig
        movl $0, 0xfffc
        movl $0, 0
        mov $0x1234fffe, %edi
        mov $0xabcd0004, %ecx
        addr16 rep insb
        mov %ecx, %eax
        call save
        mov %edi, %eax
        call save
        mov 0xfffc, %eax
        call save
        mov 0, %eax
        call save

        # ring 3, IOPL 0: the I/O permission bitmap allows COM1's data port and port 0x80 only
        movl $KSTACK0, tss + 4
        movl $0x10, tss + 8
        movw $0x68, tss + 0x66
        movb $0xfe, tss + 0x68 + 0x10           # port 0x80
        movb $0xfe, tss + 0x68 + 0x7f           # port 0x3f8
        mov $tss, %eax
        mov %ax, gdt_tss + 2
        shr $16, %eax
        mov %al, gdt_tss + 4
        mov %ah, gdt_tss + 7
        movw $(0x68 + 0x80), gdt_tss
        movb $0x89, gdt_tss + 5
        mov $0x40, %ax
        ltr %ax
        mov %esp, ring0_esp
        push $0x3b
        push $USTACK
        push $0x0002
        push $0x33
        push $ring3
        iret
ring3:  mov $0x3b, %ax
        mov %ax, %ds
        mov %ax, %es
        mov $msg4, %esi
        mov $(msg4_end - msg4), %ecx
        mov $0x3f8, %dx
        rep outsb                     # allowed
        mov %esi, %eax
        sub $msg4, %eax
        call save
        movl $1f, resume
        mov $msg4, %esi
        outsw                         # 0x3f9 is not allowed: #GP(0)
1:      mov %esi, %eax
        sub $msg4, %eax
        call save
        movl $1f, resume
        mov $0x511, %dx
        xor %ecx, %ecx
        mov $SCRATCH, %edi
        rep insb                      # #GP(0) even with a zero count
1:      mov %edi, %eax
        call save
        movl $1f, resume
        mov $0x80, %dx
        mov $SCRATCH, %edi
        mov $3, %ecx
        rep insb                      # allowed
        mov %edi, %eax
        call save
        mov $0x84, %dx
        mov $msg4, %esi
        outsb                         # #GP(0)
1:      mov %esi, %eax
        sub $msg4, %eax
        call save
        int $0x32                     # back to ring 0
ring0_back:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es

        # the LAPIC timer interrupts a long REP OUTSB; it goes on after the IRET
        movl $0x1ff, 0xfee000f0       # SVR: enabled
        movl $0x0b, 0xfee003e0        # divide by 1
        movl $0x40, 0xfee00320        # LVT timer: vector 0x40, one-shot
        mov $0x80, %dx
        mov $LONG_SRC, %esi
        mov $LONG_N, %ecx
        sti
        movl $100000, 0xfee00380
long_rep:
        rep outsb
        cli
        mov %ecx, %eax
        call save
        mov %esi, %eax
        call save
        mov timer_hits, %eax
        call save
        mov timer_ok, %eax
        call save

        # paging: 0-8 MiB identity (4 MiB pages), 0x800000 + n * 0x1000 -> DATA + n * 0x1000
        # through PT, pages 1, 3, 5 not present at first
        mov $PD, %edi
        mov $0x800, %ecx
        xor %eax, %eax
        rep stosl
        movl $0x000083, PD
        movl $0x400083, PD + 4
        movl $(PT | 3), PD + 8
        movl $(DATA | 3), PT
        movl $(DATA + 0x2000 | 3), PT + 8
        movl $(DATA + 0x4000 | 3), PT + 16
        movl $0x44434241, DATA + 0xffc          # "ABCD" | "EFGH\n"
        movl $0x48474645, DATA + 0x1000
        movb $'\n', DATA + 0x1004
        movl $0, DATA + 0x2ffc
        movl $0, DATA + 0x3000
        movl $0xaaaaaaaa, DATA + 0x4ffc
        movl $0xaaaaaaaa, DATA + 0x5000
        mov $PD, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x10, %eax                # PSE
        mov %eax, %cr4
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        # REP OUTSB faults at its fifth element
        mov $0x800ffc, %esi
        mov $9, %ecx
        mov $0x3f8, %dx
        rep outsb
        mov %ecx, %eax
        call save
        mov %esi, %eax
        call save
        # REP INSB faults at its third element; no fw_cfg byte is lost
        call fwcfg_sig
        mov $0x802ffe, %edi
        mov $4, %ecx
        rep insb
        mov DATA + 0x2ffe, %eax
        call save
        mov %edi, %eax
        call save
        # an INSW element crossing into a page not present: nothing stored before the #PF
        movl $0x80000000, %eax
        mov $0xcf8, %dx
        out %eax, %dx
        mov $0xcfc, %dx
        mov $0x804fff, %edi
        movl $1f, pf_peek
        insw
        mov DATA + 0x4ffc, %eax
        call save
        mov DATA + 0x5000, %eax
        call save
        mov %edi, %eax
        call save
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov saved_esp, %esp
        ret
1:                                    # (the INSW fault's peek, in the #PF handler)
        mov DATA + 0x4ffc, %eax
        call save
        ret

# select fw_cfg item 0 (the signature "QEMU")
fwcfg_sig:
        push %eax
        xor %eax, %eax
        mov $0x510, %dx
        out %ax, %dx
        mov $0x511, %dx
        pop %eax
        ret

# IDT gate ECX <- handler EAX, type/DPL EDX (selector 0x08)
set_gate:
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        mov %dx, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        ret

exc_gp: push %eax                     # vector, error code; resume at `resume`
        mov $13, %eax
        call save
        mov 4(%esp), %eax
        call save
        mov resume, %eax
        mov %eax, 8(%esp)
        pop %eax
        add $4, %esp
        iret

exc_pf: push %eax                     # vector, error code, CR2, ECX, ESI, EDI; map CR2's page
        push %ebx
        mov $14, %eax
        call save
        mov 8(%esp), %eax
        call save
        mov %cr2, %eax
        call save
        mov %ecx, %eax
        call save
        mov %esi, %eax
        call save
        mov %edi, %eax
        call save
        mov pf_peek, %eax
        test %eax, %eax
        jz 1f
        call *%eax
        movl $0, pf_peek
1:      mov %cr2, %eax
        sub $0x800000, %eax
        shr $12, %eax
        mov %eax, %ebx
        shl $12, %ebx
        add $(DATA | 3), %ebx
        mov %ebx, PT(,%eax,4)
        mov %cr2, %eax
        invlpg (%eax)
        pop %ebx
        pop %eax
        add $4, %esp
        iret

int_timer:                            # checks the frame and the registers at the interrupt
        push %eax
        incl timer_hits
        xor %eax, %eax
        cmpl $long_rep, 4(%esp)       # EIP: the REP instruction
        jne 1f
        test %ecx, %ecx               # not finished (QEMU may take it before the first element)
        jz 1f
        lea (%esi,%ecx), %eax         # index and count agree
        cmp $(LONG_SRC + LONG_N), %eax
        jne 1f
        mov $1, %eax
1:      mov %eax, timer_ok
        movl $0, 0xfee000b0           # EOI
        pop %eax
        iret

int_back:                             # INT 0x32 from ring 3: back to ring 0
        mov ring0_esp, %esp
        jmp ring0_back

msg1:   .ascii "rep outsb\n"
msg1_end:
msg2:   .ascii "sdrawkcab"
msg2_end:
msg3:   .ascii "override\n"
msg3_end:
msg4:   .ascii "ring 3\n"
msg4_end:

        .data
saved_esp: .long 0
ring0_esp: .long 0
resume: .long 0
pf_peek: .long 0
timer_hits: .long 0
timer_ok: .long 0
        .align 8
idtr:   .word 256 * 8 - 1
        .long idt
        .align 16
tss:    .fill 0x68, 1, 0
        .fill 0x80, 1, 0xff
        .byte 0xff
        .align 8
idt:    .fill 256 * 8, 1, 0
