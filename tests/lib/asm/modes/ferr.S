# x87 error reporting the PC way (CR0.NE clear): an unmasked zero divide, then FWAIT asserts
# FERR#, which reaches the CPU as IRQ 13 through the slave PIC; the handler writes port 0xF0
# (IRQ 13 dropped, IGNNE# asserted) and clears the exception. With IGNNE# asserted the next
# pending exception raises no IRQ 13; FLDENV of an environment without ES deasserts IGNNE#, and
# the following one is reported again. With CR0.NE set FWAIT raises #MF instead.
        .include "common.inc"

        .text
        .code32
test_main:
        mov %esp, saved_esp
        # PICs: master at 0x20, slave at 0x28; only the cascade and IRQ 13 unmasked
        mov $0x11, %al
        out %al, $0x20
        out %al, $0xa0
        mov $0x20, %al
        out %al, $0x21
        mov $0x28, %al
        out %al, $0xa1
        mov $4, %al
        out %al, $0x21
        mov $2, %al
        out %al, $0xa1
        mov $1, %al
        out %al, $0x21
        out %al, $0xa1
        mov $0xfb, %al
        out %al, $0x21
        mov $0xdf, %al
        out %al, $0xa1
        mov $0x2d, %ecx
        mov $irq13, %eax
        call set_gate
        mov $16, %ecx
        mov $exc_mf, %eax
        call set_gate
        lidt idtr
        mov %cr0, %eax
        and $~0x2c, %eax              # NE, TS, EM clear
        or $0x2, %eax                 # MP
        mov %eax, %cr0
        mov %cr0, %eax
        and $0x2e, %eax
        call save
        fninit
        fldcw cw_ze
        sti

        call zero_divide              # 1: IRQ 13
        call wait_irq
        mov hits, %eax
        call save
        mov irq_sw, %eax
        call save

        call zero_divide              # 2: IGNNE# (port 0xF0 was written): no IRQ 13
        call spin
        mov hits, %eax
        call save
        fnstsw %ax
        and $0x80bf, %eax
        call save
        fnclex
        fnstenv env_buf               # (masks everything)
        fldenv env_buf                # ES clear: IGNNE# deasserted
        fldcw cw_ze
        call zero_divide              # 3: IRQ 13 again
        call wait_irq
        mov hits, %eax
        call save

        mov %cr0, %eax                # 4: CR0.NE: #MF
        or $0x20, %eax
        mov %eax, %cr0
        call zero_divide
        mov mf_hits, %eax
        call save
        mov hits, %eax
        call save
        cli
        mov saved_esp, %esp
        ret

zero_divide:
        fld1
        fldz
        fdivrp                        # 1 / 0, ZE unmasked: ES
        fwait
        ret

wait_irq:
        mov hits, %ebx
        mov $10000000, %ecx
1:      cmp hits, %ebx
        jne 2f
        loop 1b
2:      ret

spin:   mov $2000000, %ecx
1:      loop 1b
        ret

# IDT gate ECX <- handler EAX (interrupt gate, selector 0x08)
set_gate:
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        movw $0x8e00, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        ret

irq13:  push %eax
        fnstsw %ax
        and $0x80bf, %eax
        mov %eax, irq_sw
        incl hits
        xor %al, %al
        out %al, $0xf0                # FERR# latch cleared, IGNNE# asserted
        fnclex
        fstp %st(0)                   # (the fld1 the faulting divide left)
        mov $0x20, %al
        out %al, $0xa0
        out %al, $0x20
        pop %eax
        iret

exc_mf: incl mf_hits
        fnclex
        fstp %st(0)
        iret

        .data
saved_esp: .long 0
hits:   .long 0
mf_hits: .long 0
irq_sw: .long 0
cw_ze:  .word 0x37b
        .align 4
env_buf: .fill 28, 1, 0
        .align 8
idtr:   .word 256 * 8 - 1
        .long idt
idt:    .fill 256 * 8, 1, 0
