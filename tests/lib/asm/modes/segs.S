# Segment limit and type checks outside 64-bit mode (docs/tcg.md): expand-up and expand-down data
# segments (16- and 32-bit upper bounds, byte and page granularity), accesses that straddle a
# limit, a read-only data segment, CS overrides (readable and execute-only code), null selectors,
# SS-relative accesses (#SS), string instructions stopping at a limit, the CS limit on
# instruction fetch; in real mode the 64 KiB limits (with 32-bit addresses and "unreal" 4 GiB
# limits) and IP running off the end of a 64 KiB code segment (#GP, no wrap to 0, as the host CPU
# does). Every exception handler records the vector, the error code (protected mode), the faulting
# EIP and CS, and resumes at `resume`.
# QEMU 7.2's TCG checks none of this (it runs every case through without a fault), so
# tests/tcg/modes.sh compares this program with KVM (the host CPU itself) when /dev/kvm works, and
# else with segs.expected (recorded from KVM on an Intel Xeon host).
        .include "common.inc"
        .set BLOB, 0x7000
        .set BSEG, 0x0700

        # the handler resumes at label (written with a flat DS: DS may be the segment under test)
        .macro expect label
        push %ds
        push $0x10
        pop %ds
        movl $\label, resume
        pop %ds
        .endm

        .text
        .code32
test_main:
        mov %esp, test_esp
        xor %ecx, %ecx
1:      mov stubs(,%ecx,4), %eax
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        movw $0x8e00, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        inc %ecx
        cmp $32, %ecx
        jb 1b
        lidt idtr
        sgdt saved_gdtr
        lgdt sgdtr
        movl $0x11111111, 0x200ffc
        movl $0x22222222, 0x201000
        movl $0x33333333, 0x1ffffc
        movl $0x44444444, 0x20fffc

        # expand-up, byte granular, limit 0xfff (base 0x200000)
        mov $0x78, %ax
        mov %ax, %ds
        mov 0xffc, %eax               # the last dword: fine
        call ssave
        movzbl 0xfff, %eax
        call ssave
        expect 1f
        mov 0xffd, %eax               # straddles the limit
1:      expect 1f
        movb 0x1000, %al              # just past it
1:      expect 1f
        mov $0x0ff0, %ebx
        movw $0x5555, 0x10(%ebx)      # a store past the limit writes nothing
1:      mov $0x10, %ax
        mov %ax, %ds
        mov 0x201000, %eax
        call save

        # page granular: limit 0xf -> 0xffff
        mov $0xa8, %ax
        mov %ax, %ds
        mov 0xfffc, %eax
        call ssave
        expect 1f
        mov 0xfffd, %eax
1:      expect 1f
        movb $1, 0x10000
1:
        # read-only data: reads work, writes and read-modify-writes #GP
        mov $0x80, %ax
        mov %ax, %ds
        mov 0xffc, %eax
        call ssave
        expect 1f
        movl $0, 0xffc
1:      expect 1f
        mov $0x80, %ax
        mov %ax, %ds
        addl $1, 0xffc
1:      expect 1f
        mov $0x80, %ax
        mov %ax, %es
        mov $0xffc, %edi
        stosl
1:      mov $0x10, %ax
        mov %ax, %es
        mov 0x200ffc, %eax
        call save

        # expand-down, 32-bit (B=1): valid offsets 0x1000..0xffffffff
        mov $0x88, %ax
        mov %ax, %ds
        mov 0x1000, %eax
        call ssave
        mov 0xfffffffc, %eax          # base 0x200000 + 0xfffffffc = 0x1ffffc
        call ssave
        expect 1f
        mov 0xfff, %eax               # at the limit: outside
1:      expect 1f
        mov $0x88, %ax
        mov %ax, %ds
        mov 0xffe, %ax                # straddles the lower bound
1:      expect 1f
        mov $0x88, %ax
        mov %ax, %ds
        mov 0xfffffffd, %eax          # straddles the upper bound
1:
        # expand-down, 16-bit (B=0): valid offsets 0x1000..0xffff
        mov $0x90, %ax
        mov %ax, %ds
        mov 0xfffc, %eax
        call ssave
        expect 1f
        mov 0xfffe, %eax              # beyond 0xffff
1:      expect 1f
        mov $0x90, %ax
        mov %ax, %ds
        movb 0x10000, %al
1:      expect 1f
        mov $0x90, %ax
        mov %ax, %ds
        movb 0x800, %al
1:
        # 16-bit data segment (limit 0xffff) under 32-bit code
        mov $0x20, %ax
        mov %ax, %ds
        movzwl 0xfffe, %eax
        call ssave
        expect 1f
        mov 0xffff, %ax
1:
        # null selectors
        xor %eax, %eax
        mov %eax, %es
        mov %eax, %fs
        mov %eax, %gs
        mov $0x10, %ax
        mov %ax, %ds
        expect 1f
        mov %es:0x1000, %eax
1:      expect 1f
        movl $0, %fs:0x1000
1:      expect 1f
        incl %gs:0
1:      expect 1f
        mov $0x1000, %edi
        xor %eax, %eax
        mov %eax, %es
        stosb                         # ES:EDI
1:      expect 1f
        xor %eax, %eax
        mov %eax, %ds
        mov 0x1000, %eax
1:      mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs

        # the stack segment: 1 MiB limit, #SS for SS-relative accesses
        mov $0xb0, %ax
        mov %ax, %ss
        xor %ebp, %ebp
        mov 0x7fffc(%ebp), %eax       # the return address of test_main
        call ssave
        expect 1f
        mov 0x100000(%ebp), %eax      # SS by default
1:      expect 1f
        mov $0xb0, %ax
        mov %ax, %ss
        movl $0, %ss:0xffffe
1:      expect 1f
        mov $0xb0, %ax
        mov %ax, %ss
        mov %esp, %esi
        mov $0xffffe, %esp
        pop %eax                      # straddles: ESP unchanged
1:      mov %esp, %eax
        mov $0x10, %bx
        mov %bx, %ss
        mov test_esp, %esp
        call save
        mov $0xb0, %ax
        mov %ax, %ss
        mov $0x78, %ax
        mov %ax, %ds
        expect 1f
        mov $0x2000, %ebp
        mov %ds:0(%ebp), %eax         # DS override of an EBP base: #GP
1:      mov $0x10, %ax
        mov %ax, %ds

        # string instructions stop at the limit with ECX/ESI/EDI of the faulting element
        mov $0x78, %ax
        mov %ax, %ds
        mov $0xff0, %esi
        mov $strbuf, %edi
        mov $0x20, %ecx
        cld
        expect 1f
        rep movsb
1:      call save_csd
        mov $0x78, %ax
        mov %ax, %ds
        mov $0xffe, %esi
        expect 1f
        lodsl
1:      call save_csd
        mov $0x78, %ax
        mov %ax, %ds
        mov $0x20, %ecx
        mov $strbuf + 8, %edi         # equal to DS:0xff8..0xfff (copied above)
        mov $0xff8, %esi
        expect 1f
        repe cmpsb
1:      call save_csd
        mov $0x78, %ax
        mov %ax, %es
        mov $0xff8, %edi
        mov $0x4, %ecx
        mov $0x99, %eax
        expect 1f
        rep stosl
1:      call save_csd
        mov $0x10, %ax
        mov %ax, %es
        # INS writes ES:EDI: not to a read-only segment. (No OUTS case: under KVM the port I/O
        # exits to KVM's instruction emulator before the CPU checks the memory operand, and that
        # emulator lets an OUTS read past DS's limit.)
        mov $0x80, %dx
        mov $0x80, %ax                # read-only
        mov %ax, %es
        mov $0x10, %edi
        mov $2, %ecx
        expect 1f
        rep insb
1:      call save_csd
        mov $0x10, %ax
        mov %ax, %es
        mov $0x10, %ax
        mov %ax, %ds

        # CS overrides: a readable code segment reads, never writes; execute-only never reads
        mov %cs:csval, %eax
        call save
        expect 1f
        movl $0, %cs:csval
1:      expect 1f
        ljmp $0x98, $xonly
xonly:  mov %cs:csval, %eax
1:
        # the CS limit on fetch: a 32-bit code segment ending 0x1000 bytes after its base
        mov $cslim1 - 0xff8, %eax
        mov $0xb8, %ebx
        call set_code_base
        mov $cslim2 - 0xffb, %eax
        mov $0xc0, %ebx
        call set_code_base
        lgdt sgdtr
        expect 1f
        ljmp $0xb8, $0xff8            # an instruction crossing the limit
1:      call save_csd
        expect 1f
        ljmp $0xc0, $0xffb            # the next instruction is past the limit
1:      call save_csd

        # real mode
        mov $rm_start, %esi
        mov $BLOB, %edi
        mov $(rm_end - rm_start), %ecx
        rep movsb
        sidt saved_idt
        ljmp $0x18, $(BLOB + (pm16 - rm_start))
back32: mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov test_esp, %esp
        lidt saved_idt
        lgdt saved_gdtr
        ret

# base EAX into the code descriptor at selector EBX
set_code_base:
        mov %ax, sgdt + 2(%ebx)
        shr $16, %eax
        mov %al, sgdt + 4(%ebx)
        mov %ah, sgdt + 7(%ebx)
        ret

# save EAX with DS flat again (DS may be the segment under test), then DS back
ssave:  push %ds
        push %eax
        mov $0x10, %ax
        mov %ax, %ds
        pop %eax
        call save
        pop %ds
        ret

# save ECX, ESI, EDI (with a flat DS)
save_csd:
        push %ds
        push $0x10
        pop %ds
        mov %ecx, %eax
        call save
        mov %esi, %eax
        call save
        mov %edi, %eax
        call save
        pop %ds
        ret

exc_common:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        pop %eax                      # vector
        call save
        pop %eax                      # error code
        call save
        pop %eax                      # EIP
        call save
        pop %eax                      # CS
        call save
        mov test_esp, %esp
        jmp *resume

        .align 16
cslim1: nop                           # offsets 0xff8..0xffc
        nop
        nop
        nop
        nop
        mov $0x11223344, %ecx         # 0xffd..0x1001: crosses the limit
        ljmp $0x08, $1f
1:      ret
cslim2: mov $0x55, %ecx               # 0xffb..0xfff
        ljmp $0x08, $1f
1:      ret

        .code16
rm_start:
pm16:   mov $0xe0, %ax                # a 4 GiB data segment for "unreal mode"
        mov %ax, %fs
        mov $0x20, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %gs
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
        movw $(rm_gp - rm_start), 13*4
        movw $BSEG, 13*4 + 2
        movw $(rm_ss - rm_start), 12*4
        movw $BSEG, 12*4 + 2
        movw $(rm_ud - rm_start), 6*4
        movw $BSEG, 6*4 + 2

        movl $0x12345678, 0xfffc
        mov 0xfffe, %ax
        call rsave
        movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        mov 0xffff, %ax               # straddles the 64 KiB limit
1:      movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        addr32 mov 0x10000, %al       # a 32-bit offset past the limit
1:      movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        mov $0xffff, %bp
        mov (%bp), %ax                # SS-relative: #SS
1:      movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        mov $0xfff0, %sp
        addr32 mov 0x10000(%esp), %al
1:      mov $0x6ff0, %sp
        addr32 mov %fs:0x200ffc, %eax # unreal: FS kept its 4 GiB limit
        call rsave
        movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        mov $0xfff0, %si
        mov $0x20, %cx
        mov $0x100, %di
        rep movsb                     # byte accesses: SI wraps from 0xffff to 0, no fault
1:      mov %cx, %ax
        shl $16, %eax
        mov %si, %ax
        call rsave

        # IP reaching 0x10000: a 3-byte instruction ending at 0xffff, then one crossing 0xffff. The
        # CPU does not wrap IP to 0 here: fetching past the 64 KiB CS limit is #GP (without CS
        # limit checks a translator reaches 0x2000:0000, which jumps to nowrap, or, wrapping IP,
        # 0x1000:0000)
        mov $0x2000, %ax
        mov %ax, %es
        movb $0x56, %es:0
        movb $0xea, %es:1
        movw $(nowrap - rm_start), %es:2
        movw $BSEG, %es:4
        mov $0x1000, %ax
        mov %ax, %es
        movb $0xba, %es:0xfffd        # mov $0x1234, %dx
        movw $0x1234, %es:0xfffe
        movb $0xea, %es:0             # ljmp BSEG:wrap1_back
        movw $(wrap1_back - rm_start), %es:1
        movw $BSEG, %es:3
        movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        xor %dx, %dx
        ljmp $0x1000, $0xfffd
wrap1_back:
1:      mov %dx, %ax
        call rsave
        movw $0xb9b9, %es:0xfffe      # mov $0x5678, %cx (the last byte at offset 0)
        movb $0x56, %es:0
        movb $0xea, %es:1
        movw $(wrap2_back - rm_start), %es:2
        movw $BSEG, %es:4
        movw $(1f - rm_start), %cs:(rm_resume - rm_start)
        xor %cx, %cx
        ljmp $0x1000, $0xffff
wrap2_back:
1:      mov %cx, %ax
        call rsave
        xor %ax, %ax
        mov %ax, %es

        # back to protected mode
        cli
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $back32

nowrap: mov $0x6ff0, %sp
        mov $0xbad, %eax
        call rsave
        jmp *%cs:(rm_resume - rm_start)

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

rm_gp:  mov $13, %eax
        jmp rm_exc
rm_ss:  mov $12, %eax
        jmp rm_exc
rm_ud:  mov $6, %eax
rm_exc: call rsave
        pop %ax                       # IP
        movzwl %ax, %eax
        call rsave
        pop %ax                       # CS
        call rsave
        pop %ax                       # FLAGS
        xor %ax, %ax
        mov %ax, %ss
        mov $0x6ff0, %sp
        jmp *%cs:(rm_resume - rm_start)
rm_resume: .word 0
rm_idtr: .word 0x3ff
        .long 0
rm_end:
        .code32

        .data
        .align 8
sgdt:   .quad 0
        .quad 0x00cf9a000000ffff    # 0x08 code32
        .quad 0x00cf92000000ffff    # 0x10 data32
        .quad 0x00009a000000ffff    # 0x18 code16, base 0, 64 KiB
        .quad 0x000092000000ffff    # 0x20 data16, base 0, 64 KiB
        .quad 0x00af9a000000ffff    # 0x28 code64
        .quad 0x00cffa000000ffff    # 0x30 code32, DPL 3
        .quad 0x00cff2000000ffff    # 0x38 data32, DPL 3
        .quad 0, 0, 0, 0, 0, 0, 0   # 0x40..0x70
        .quad 0x0040922000000fff    # 0x78 data, base 0x200000, limit 0xfff
        .quad 0x004090200000ffff    # 0x80 read-only data, base 0x200000, limit 0xffff
        .quad 0x0040962000000fff    # 0x88 expand-down data, B=1, limit 0xfff
        .quad 0x0000962000000fff    # 0x90 expand-down data, B=0, limit 0xfff
        .quad 0x00cf98000000ffff    # 0x98 execute-only code32, 4 GiB
        .quad 0                     # 0xa0
        .quad 0x00c092200000000f    # 0xa8 data, G=1, limit 0xf (0xffff)
        .quad 0x004f92000000ffff    # 0xb0 data (stack), limit 0xfffff
        .quad 0x00409a0000000fff    # 0xb8 code32, limit 0xfff (base set at run time)
        .quad 0x00409a0000000fff    # 0xc0 code32, limit 0xfff (base set at run time)
        .quad 0, 0                  # 0xc8, 0xd0
        .quad 0                     # 0xd8
        .quad 0x00cf92000000ffff    # 0xe0 data32, 4 GiB
sgdt_end:
        .align 4
        .word 0
sgdtr:  .word sgdt_end - sgdt - 1
        .long sgdt
        .word 0
saved_gdtr: .word 0
        .long 0
saved_idt: .quad 0
stubs:  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .long exc\n
        .endr
resume: .long 0
test_esp: .long 0
csval:  .long 0xc0dec0de
strbuf: .fill 64, 1, 0
idtr:   .word 256 * 8 - 1
        .long idt
        .align 8
idt:    .fill 256 * 8, 1, 0

        .text
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exc\n:
        .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17)
        .else
        pushl $0xffffffff
        .endif
        pushl $\n
        jmp exc_common
        .endr
