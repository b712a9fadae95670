# Paging outside long mode: 2-level 32-bit paging with 4 KiB pages and 4 MiB (PSE) pages, then
# 3-level PAE paging with 2 MiB pages and NX; accessed/dirty bits, #PF error codes and CR2
# (not present, write to a read-only page with CR0.WP, user access to a supervisor page,
# instruction fetch from an NX page), INVLPG.
        .include "common.inc"
        .set PD, 0x400000           # 2-level: page directory, page table
        .set PT, 0x401000
        .set PDPT, 0x402000         # PAE: PDPT, page directory, page table
        .set PAE_PD, 0x403000
        .set PAE_PT, 0x404000
        .set DATA, 0x600000         # physical pages the tests map

        .text
        .code32
test_main:
        mov %esp, saved_esp
        mov $14, %ecx               # #PF handler
        mov $pf_handler, %eax
        mov %ax, idt(,%ecx,8)
        movw $0x08, idt + 2(,%ecx,8)
        movw $0x8e00, idt + 4(,%ecx,8)
        shr $16, %eax
        mov %ax, idt + 6(,%ecx,8)
        lidt idtr
        movl $0x11111111, DATA
        movl $0x22222222, DATA + 0x1000
        movl $0x33333333, DATA + 0x2000

        # 2-level: 0-4 MiB and 4-8 MiB identity as 4 MiB pages, 8 MiB+ through PT
        mov $PD, %edi
        mov $0x1000, %ecx
        xor %eax, %eax
        rep stosl                   # PD and PT cleared
        movl $0x000083, PD          # 4 MiB page, RW, present
        movl $0x400083, PD + 4
        movl $(PT | 7), PD + 8      # user, RW, present
        movl $(DATA | 3), PT        # 0x800000 -> DATA, supervisor RW
        movl $(DATA + 0x1000 | 5), PT + 4   # 0x801000 -> DATA+0x1000, user, read-only
        movl $(DATA + 0x2000 | 7), PT + 8   # 0x802000 -> DATA+0x2000
        mov $PD, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x10, %eax              # PSE
        mov %eax, %cr4
        mov %cr0, %eax
        or $0x80010000, %eax        # PG, WP
        mov %eax, %cr0
        mov 0x800000, %eax
        call save
        mov 0x801000, %eax
        call save
        movl $0x44444444, 0x802004
        mov DATA + 0x2004, %eax
        call save
        mov PT, %eax                # accessed, not dirty
        call save
        mov PT + 8, %eax            # accessed and dirty
        call save
        mov PD, %eax                # the 4 MiB page the code runs in: accessed
        and $0xff, %eax
        call save
        movl $1f, resume
        movl $5, 0x801000           # write to a read-only page (WP): error 3
1:      movl $1f, resume
        mov 0x803000, %eax          # not present: error 0
1:      movl $(DATA + 0x1000 | 7), PT + 4   # now writable; without INVLPG the TLB may keep
        invlpg 0x801000                     # the old entry, with it the write works
        movl $0x55555555, 0x801000
        mov DATA + 0x1000, %eax
        call save
        # user access to a supervisor page from ring 3 is tested in prot.S's style: not here

        # paging off, PAE on: 0-2 MiB, 2-4 MiB, 4-6 MiB identity as 2 MiB pages, 8 MiB via PT
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov $PDPT, %edi
        mov $0xc00, %ecx
        xor %eax, %eax
        rep stosl
        movl $(PAE_PD | 1), PDPT
        movl $0x000083, PAE_PD
        movl $0x200083, PAE_PD + 8
        movl $0x400083, PAE_PD + 16
        movl $(PAE_PT | 3), PAE_PD + 32
        movl $(DATA | 3), PAE_PT    # 0x800000 -> DATA
        movl $(DATA + 0x1000 | 3), PAE_PT + 8   # 0x801000 -> DATA + 0x1000, NX
        movl $0x80000000, PAE_PT + 12           # (0x802000: not present)
        movb $0xc3, DATA + 0x1000   # ret
        mov $0xc0000080, %ecx       # EFER.NXE
        rdmsr
        or $0x800, %eax
        wrmsr
        mov %cr4, %eax
        or $0x20, %eax
        mov %eax, %cr4
        mov $PDPT, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        mov 0x800000, %eax
        call save
        movl $1f, resume
        mov 0x802000, %eax          # not present in the PAE table
1:      movl $1f, resume
        call *nx_target             # fetch from an NX page: error 0x11
1:      mov PAE_PT, %eax
        call save
        mov PAE_PD, %eax
        and $0xff, %eax
        call save
        mov %cr0, %eax
        and $0x7fffffff, %eax
        mov %eax, %cr0
        mov saved_esp, %esp
        ret

pf_handler:
        mov $14, %eax
        call save
        pop %eax                    # error code
        call save
        mov %cr2, %eax
        call save
        mov resume, %eax
        mov %eax, (%esp)
        iret

        .data
        .align 8
nx_target: .long 0x801000
resume: .long 0
saved_esp: .long 0
idtr:   .word 256 * 8 - 1
        .long idt
idt:    .fill 256 * 8, 1, 0
