    # Application processor start-up through the local APIC (INIT, SIPI, SIPI), twice.
    # The boot CPU (IA32_APIC_BASE.BSP set) reads the CPU count from fw_cfg (key 0x05), copies two
    # real-mode trampolines to 0x10000 and 0x11000, enables its APIC and sends INIT + SIPI(0x10) +
    # SIPI(0x10) to all-excluding-self; every AP must arrive in real mode at CS=0x1000 IP=0 with
    # CR0.PE clear and IF clear, with its local APIC's ID register equal to its initial APIC ID
    # (CPUID.1:EBX[31:24]), and marks that ID in a bit mask.
    # Then the same again with vector 0x11 to the now halted APs (a second INIT must reset them).
    # The boot CPU waits (ACPI PM timer, at most 5 s per round) for N-1 arrivals, prints
    #   smp-start cpus=N started=C1 ids=M1 again=C2 ids2=M2 bad=B
    # (8-digit hex) on COM1 and powers off. A CPU that is not the BSP but runs this 64-bit entry
    # prints "smp-start: AP ran the boot entry" (an AP started with the boot CPU's registers).
    # Data page at 0x12000: +0 count1, +4 mask1, +8 bad, +0xc mask2, +0x10 count2.
.code64
    mov $0x1b, %ecx
    rdmsr
    test $0x100, %eax
    jnz bsp
    lea msg_ap(%rip), %rsi
    call puts
    jmp stop
bsp:
    cld
    mov $0x510, %dx                 # fw_cfg selector: NB_CPUS
    mov $5, %ax
    out %ax, %dx
    mov $0x511, %dx
    xor %eax, %eax
    in %dx, %al
    mov %eax, %r13d
    in %dx, %al
    shl $8, %eax
    or %eax, %r13d                  # r13 = number of CPUs
    lea tramp1(%rip), %rsi
    mov $0x10000, %edi
    mov $(tramp1_end - tramp1), %ecx
    rep movsb
    lea tramp2(%rip), %rsi
    mov $0x11000, %edi
    mov $(tramp2_end - tramp2), %ecx
    rep movsb
    xor %eax, %eax
    mov $0x12000, %edi
    mov $8, %ecx
    rep stosl
    mov $0xfee00000, %ebx
    movl $0x1ff, 0xf0(%rbx)         # APIC software enable, spurious vector 0xff
    mov $357954, %r15d              # 100 ms: an AP wrongly running already shows itself now
    call delay
    mov $0x10, %r12d
    call init_sipi
    mov $0x12000, %r14d
    call wait_count
    mov $0x11, %r12d
    call init_sipi
    mov $0x12010, %r14d
    call wait_count
    lea msg1(%rip), %rsi
    call puts
    mov %r13d, %eax
    call puthex
    lea msg2(%rip), %rsi
    call puts
    mov 0x12000, %eax
    call puthex
    lea msg3(%rip), %rsi
    call puts
    mov 0x12004, %eax
    call puthex
    lea msg4(%rip), %rsi
    call puts
    mov 0x12010, %eax
    call puthex
    lea msg5(%rip), %rsi
    call puts
    mov 0x1200c, %eax
    call puthex
    lea msg6(%rip), %rsi
    call puts
    mov 0x12008, %eax
    call puthex
    lea msg_nl(%rip), %rsi
    call puts
    mov $0x604, %dx                 # ACPI S5
    mov $0x3400, %ax
    out %ax, %dx
stop:
    cli
    hlt
    jmp stop

# INIT then two SIPIs with vector r12 to all APs, as the MP specification orders them.
init_sipi:
    movl $0, 0x310(%rbx)
    movl $0x000c4500, 0x300(%rbx)   # INIT, level assert, all excluding self
    call icr_idle
    mov $35795, %r15d               # 10 ms
    call delay
    mov $2, %ebp
1:  mov %r12d, %eax
    or $0x000c4600, %eax            # start-up, all excluding self
    movl $0, 0x310(%rbx)
    mov %eax, 0x300(%rbx)
    call icr_idle
    mov $716, %r15d                 # 200 us
    call delay
    dec %ebp
    jnz 1b
    ret
icr_idle:
    pause
    testl $0x1000, 0x300(%rbx)
    jnz icr_idle
    ret

# Wait until the counter at r14 reaches r13-1 (at most 5 s), then 50 ms more for stragglers.
wait_count:
    mov $17897725, %r15d            # 5 s of PM timer ticks
    xor %r8d, %r8d                  # ticks so far
    mov $0x608, %dx
    in %dx, %eax
    mov %eax, %r9d
    mov %r13d, %r10d
    dec %r10d
1:  cmp %r10d, (%r14)
    jae 2f
    pause
    in %dx, %eax
    mov %eax, %r11d
    sub %r9d, %eax
    and $0xffffff, %eax
    add %rax, %r8
    mov %r11d, %r9d
    cmp %r15, %r8
    jb 1b
2:  mov $178977, %r15d              # 50 ms
    call delay
    ret

# Busy-wait r15 ticks of the 3.579545 MHz ACPI PM timer (24-bit counter at port 0x608).
delay:
    push %rdx
    push %r8
    push %r9
    push %r11
    xor %r8d, %r8d
    mov $0x608, %dx
    in %dx, %eax
    mov %eax, %r9d
1:  pause
    in %dx, %eax
    mov %eax, %r11d
    sub %r9d, %eax
    and $0xffffff, %eax
    add %rax, %r8
    mov %r11d, %r9d
    cmp %r15, %r8
    jb 1b
    pop %r11
    pop %r9
    pop %r8
    pop %rdx
    ret

puts:
    push %rdx
    mov $0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  pop %rdx
    ret
puthex:                             # eax as 8 hex digits
    push %rdx
    mov %eax, %esi
    mov $8, %ecx
    mov $0x3f8, %dx
1:  rol $4, %esi
    mov %esi, %eax
    and $0xf, %eax
    cmp $10, %eax
    jb 2f
    add $('a' - '0' - 10), %eax
2:  add $'0', %eax
    out %al, %dx
    dec %ecx
    jnz 1b
    pop %rdx
    ret

# Real-mode AP code, copied to CS*16 (= base) and entered at IP 0 by the SIPI. Checks CS, IP,
# CR0 and IF as the start-up left them and that the LAPIC ID matches CPUID's; marks the APIC ID in the mask at DS:MASK (all good) or counts a bad
# start at DS:8; then counts itself at DS:COUNT and halts with interrupts off.
.macro TRAMP cs, mask, count, base
.code16
    mov %cs, %si
    smsw %di
    mov $1, %eax
    cpuid
    shr $24, %ebx                   # initial APIC ID
    # Unreal mode (a flat 4 GiB DS, back in real mode) to read the local APIC's ID register.
    lgdtl %cs:(9f - 0b)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    mov $8, %dx
    mov %dx, %ds
    and $~1, %eax
    mov %eax, %cr0
    xor %dx, %dx
    mov %dx, %ds
    addr32 movl 0xfee00020, %ebp
    shr $24, %ebp                   # xAPIC ID
    xor %ax, %ax
    mov %ax, %ss
    mov %bx, %sp
    shl $4, %sp
    add $0xf000, %sp                # a 16-byte stack per APIC ID at 0xf000
    pushfw
    pop %cx
    call 1f
1:  pop %ax
    mov $0x1200, %dx
    mov %dx, %ds
    cmp $\cs, %si
    jne 2f
    cmp $(1b - 0b), %ax
    jne 2f
    and $0x11, %di                  # CR0: PE clear, ET set
    cmp $0x10, %di
    jne 2f
    test $0x200, %cx                # IF clear
    jnz 2f
    cmp %ebx, %ebp                  # the LAPIC's ID is the one CPUID reports
    jne 2f
    lock btsl %ebx, \mask
    jmp 3f
2:  lock incl 8
3:  lock incl \count
4:  cli
    hlt
    jmp 4b
.balign 8
8:  .quad 0, 0x00cf93000000ffff     # null, flat read/write data
9:  .word 15
    .long \base + (8b - 0b)
.code64
.endm
tramp1:
0:  TRAMP 0x1000, 4, 0, 0x10000
tramp1_end:
tramp2:
0:  TRAMP 0x1100, 0xc, 0x10, 0x11000
tramp2_end:

msg_ap: .asciz "smp-start: AP ran the boot entry\n"
msg1: .asciz "smp-start cpus="
msg2: .asciz " started="
msg3: .asciz " ids="
msg4: .asciz " again="
msg5: .asciz " ids2="
msg6: .asciz " bad="
msg_nl: .asciz "\n"
