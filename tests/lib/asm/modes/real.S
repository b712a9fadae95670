# Real mode: 32-bit protected mode -> 16-bit protected mode -> real mode (CS=0x0700: this blob is
# copied to 0x7000), then 16-bit addressing, segments, the stack, INT/IRET and #DE through the
# IVT, far calls and returns, BCD, string instructions, 0x66/0x67 prefixes; back to 32-bit mode.
        .include "common.inc"
        .set BLOB, 0x7000
        .set BSEG, 0x0700

        .text
        .code32
test_main:
        mov $rm_start, %esi           # copy the real-mode blob below 1 MiB
        mov $BLOB, %edi
        mov $(rm_end - rm_start), %ecx
        rep movsb
        mov %esp, saved_esp
        sidt saved_idt
        ljmp $0x18, $(BLOB + (pm16 - rm_start))
back32: mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov saved_esp, %esp
        lidt saved_idt
        mov $0x1234, %eax             # 32-bit again
        call save
        ret

saved_esp: .long 0
saved_idt: .quad 0

        .code16
rm_start:
pm16:   mov $0x20, %ax                # 16-bit protected mode, CS base 0
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %cr0, %eax
        and $0xfffffffe, %eax
        mov %eax, %cr0
        ljmp $BSEG, $(rm_entry - rm_start)
rm_entry:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x6ff0, %sp
        lidt (rm_idtr - rm_start) + BLOB
        movw $(int40 - rm_start), 0x40*4      # IVT: int 0x40, #DE
        movw $BSEG, 0x40*4 + 2
        movw $(de_handler - rm_start), 0
        movw $BSEG, 2

        # 16-bit addressing forms and the default segments
        mov $0x100, %bx
        mov $0x20, %si
        mov $0x30, %di
        mov $0x40, %bp
        lea 0x11(%bx,%si), %ax
        call rsave
        lea -3(%bp,%di), %ax
        call rsave
        lea 0x1234(%bp), %ax
        call rsave
        lea 0xfff0(%bx,%di), %ax       # wraps at 64 KiB
        call rsave
        movl $0x11111111, 0x8040
        movl $0x44444444, 0x8840
        mov $0x0080, %ax              # SS base 0x800: [bp] reads 0x840
        movl $0x33333333, 0x840
        mov %ax, %ss
        mov $0x0400, %sp
        mov (%bp), %eax               # SS:[bp] = 0x840
        call rsave
        mov 0x8000(%bp), %eax         # SS:0x8040 = 0x8840
        call rsave
        mov %ds:0x8000(%bp), %eax     # DS:0x8040
        call rsave
        xor %ax, %ax
        mov %ax, %ss
        mov $0x6ff0, %sp
        mov $0x0800, %ax              # ES:[bx] with ES base 0x8000
        mov %ax, %es
        mov %es:0x40, %eax
        call rsave
        xor %ax, %ax
        mov %ax, %es

        # segment registers on the stack
        push %cs
        pop %ax
        call rsave
        push $0x1234
        pop %es
        mov %es, %ax
        call rsave
        xor %ax, %ax
        mov %ax, %es

        # pusha / popa, inc/dec (40-4F), flags
        mov $0x1111, %ax
        mov $0x2222, %cx
        mov $0x3333, %dx
        mov $0x4444, %bx
        mov $0x5555, %bp
        mov $0x6666, %si
        mov $0x7777, %di
        pusha
        mov %sp, %ax
        call rsave
        xor %ax, %ax
        xor %cx, %cx
        xor %bp, %bp
        popa
        mov %bp, %ax
        shl $16, %eax
        mov %cx, %ax
        call rsave
        mov $0x7fff, %ax
        inc %ax
        call rsave_flags
        call rsave
        mov $1, %dx
        dec %dx
        call rsave_flags
        mov %dx, %ax
        call rsave

        # INT through the IVT, IRET; #DE through the IVT
        mov $0x55, %ax
        stc
        int $0x40
        call rsave_flags
        call rsave
        mov %bx, %ax
        call rsave
        mov $0, %bl
        mov $0x100, %ax
        div %bl                        # #DE: the handler skips the 2-byte div
        mov %cx, %ax
        call rsave

        # far calls and returns
        mov $7, %ax
        lcall $BSEG, $(farfn - rm_start)
        call rsave
        push $5
        lcall *%cs:(farptr - rm_start)
        call rsave
        mov %sp, %ax
        call rsave

        # BCD
        mov $0x0f, %al
        add $0x09, %al
        daa
        call rsave_flags
        call rsave
        mov $0x10, %al
        sub $0x01, %al
        das
        call rsave_flags
        call rsave
        mov $0x0105, %ax
        add $0x07, %al
        aaa
        call rsave_flags
        call rsave
        mov $0x0203, %ax
        sub $0x05, %al
        aas
        call rsave
        mov $79, %al
        aam
        call rsave_flags
        call rsave
        mov $0x0709, %ax
        aad
        call rsave_flags
        call rsave
        mov $0x1234, %ax
        aam $16
        call rsave

        # string instructions with 16-bit SI/DI/CX
        mov $0x0800, %ax
        mov %ax, %es
        cld
        movl $0x5a5a5a5a, %es:0x106
        movl $0x5a5a5a5a, %es:0x10a
        mov $(str1 - rm_start) + BLOB, %si
        mov $0x100, %di
        mov $6, %cx
        rep movsb                     # to 0x8100
        mov %di, %ax
        call rsave
        mov $0x100, %di
        mov $(str1 - rm_start) + BLOB, %si
        mov $10, %cx
        repe cmpsb
        mov %cx, %ax
        call rsave_flags
        call rsave
        mov $'c', %al
        mov $0x100, %di
        mov $6, %cx
        repne scasb
        mov %di, %ax
        shl $16, %eax
        mov %cx, %ax
        call rsave
        std
        mov $0x10f, %di
        mov $0xabcd, %ax
        mov $3, %cx
        rep stosw
        cld
        mov %di, %ax
        call rsave
        mov %es:0x10a, %eax
        call rsave
        xor %ax, %ax
        mov %ax, %es

        # loop, jcxz, xlat, cbw/cwd, 0x66 and 0x67 prefixes
        mov $5, %cx
        xor %ax, %ax
1:      add %cx, %ax
        loop 1b
        call rsave
        xor %cx, %cx
        mov $1, %ax
        jcxz 2f
        mov $2, %ax
2:      call rsave
        mov $(str1 - rm_start) + BLOB, %bx
        mov $3, %al
        xlat
        call rsave
        mov $0x80, %al
        cbw
        cwd
        shl $16, %eax
        mov %dx, %ax
        call rsave
        mov $0x12345678, %eax
        addl $0x11111111, %eax
        call rsave
        mov $0x8000, %esi
        mov $0x10, %ecx
        addr32 mov (%esi,%ecx,4), %eax   # 0x8040
        call rsave
        movzbl %cs:(str1 - rm_start) + 1, %eax
        call rsave

        # lds / les, enter / leave, pushf / popf
        lds %cs:(farptr - rm_start), %bx
        mov %ds, %ax
        shl $16, %eax
        mov %bx, %ax
        xor %bx, %bx
        mov %bx, %ds
        call rsave
        mov %sp, %si
        mov $0x1000, %bp
        enter $8, $0
        mov %sp, %ax
        sub %si, %ax
        shl $16, %eax
        mov %bp, %ax
        call rsave
        leave
        mov %sp, %ax
        sub %si, %ax
        call rsave
        pushf
        pop %ax
        or $0x8d5, %ax
        push %ax
        popf
        call rsave_flags
        push $0
        popf

        # mul / div / shifts of 16 bits
        mov $0x1234, %ax
        mov $0x100, %bx
        mul %bx
        shl $16, %edx
        mov %ax, %dx
        mov %edx, %eax
        call rsave
        mov $0x1234, %dx
        mov $0x5678, %ax
        mov $0x4321, %bx
        div %bx
        shl $16, %eax
        mov %dx, %ax
        call rsave
        mov $0x8001, %ax
        stc
        rcl $1, %ax
        call rsave_flags
        call rsave

        # an external interrupt through the IVT: PIT channel 0 -> PIC IRQ 0 (vector 0x50) wakes HLT
        movw $(irq0 - rm_start), 0x50*4
        movw $BSEG, 0x50*4 + 2
        mov $0x11, %al                # ICW1..4: vectors 0x50.., cascade on IRQ 2, 8086 mode
        out %al, $0x20
        mov $0x50, %al
        out %al, $0x21
        mov $0x04, %al
        out %al, $0x21
        mov $0x01, %al
        out %al, $0x21
        mov $0xfe, %al                # only IRQ 0
        out %al, $0x21
        mov $0xff, %al
        out %al, $0xa1
        mov $0x30, %al                # channel 0, lobyte/hibyte, mode 0 (one interrupt)
        out %al, $0x43
        mov $0x00, %al
        out %al, $0x40
        mov $0x10, %al
        out %al, $0x40
        movw $0, %cs:(irq_hits - rm_start)
        sti
1:      hlt
        cmpw $0, %cs:(irq_hits - rm_start)
        je 1b
        cli
        mov $0xff, %al
        out %al, $0x21
        movzwl %cs:(irq_hits - rm_start), %eax
        call rsave

        # back to protected mode
        cli
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $back32

# store EAX as a result (any DS)
rsave:  push %ds
        push %bx
        push $0
        pop %ds
        mov RES_COUNT, %bx
        mov %eax, RES(%bx)
        addw $4, RES_COUNT
        pop %bx
        pop %ds
        ret
rsave_flags:
        push %eax
        pushfl
        pop %eax
        and $FLAGS_MASK, %eax
        call rsave
        pop %eax
        ret

int40:  push %bp                      # AX += 1, BX = the flags and CS pushed
        mov %sp, %bp
        inc %ax
        mov 6(%bp), %bx
        and $0x0ed5, %bx
        xor 4(%bp), %bx
        pop %bp
        iret

irq0:   incw %cs:(irq_hits - rm_start)
        push %ax
        mov $0x20, %al                # EOI
        out %al, $0x20
        pop %ax
        iret
irq_hits: .word 0

de_handler:
        push %bp
        mov %sp, %bp
        addw $2, 2(%bp)               # skip the div
        mov $0xde, %cx
        pop %bp
        iret

farfn:  add $0x100, %ax
        lret
farfn2: push %bp
        mov %sp, %bp
        mov 6(%bp), %ax               # the argument
        add $0x200, %ax
        pop %bp
        lret $2

farptr: .word (farfn2 - rm_start), BSEG
rm_idtr: .word 0x3ff
        .long 0
str1:   .ascii "abcdefgh"
rm_end:
