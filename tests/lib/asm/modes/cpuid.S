# CPUID as the guest sees it (tests/tcg/cpu-models.sh): every basic leaf up to the maximum,
# 0x40000000-1, every extended leaf up to the maximum; the leaves with subleaves (4, 7, 0xB,
# 0xD, 0x12, 0x14, 0x18, 0x1D, 0x1F, 0x8000001D) for subleaves 0-7 (0xD: 0-19). One line per
# (leaf, subleaf): "LLLLLLLL.SS EAX EBX ECX EDX". Leaf 1 EBX (APIC ID, CLFLUSH size, logical
# count) and leaf 0xB/0x1F EDX are the same on every -smp 1 machine.
        .include "common.inc"

        .text
        .code32
test_main:
        xor %eax, %eax
        cpuid
        mov %eax, max_basic
        xor %esi, %esi
1:      call leaf
        inc %esi
        cmp max_basic, %esi
        jbe 1b
        mov $0x40000000, %esi
        call leaf
        mov $0x40000001, %esi
        call leaf
        mov $0x80000000, %eax
        cpuid
        mov %eax, max_ext
        mov $0x80000000, %esi
2:      call leaf
        inc %esi
        cmp max_ext, %esi
        jbe 2b
        ret

# all subleaves of leaf ESI that this program looks at
leaf:   mov $1, %ecx
        mov $subleaf_list, %ebx
1:      mov (%ebx), %eax
        test %eax, %eax
        jz 2f
        add $8, %ebx
        cmp %eax, %esi
        jne 1b
        mov -4(%ebx), %ecx
2:      xor %edi, %edi
3:      push %ecx
        call one
        pop %ecx
        inc %edi
        cmp %ecx, %edi
        jb 3b
        ret

# print CPUID(ESI, EDI)
one:    mov %esi, %eax
        call puthex
        mov $'.', %al
        call putc
        mov %edi, %eax
        mov $2, %ecx
        call puthex_n
        mov %esi, %eax
        mov %edi, %ecx
        cpuid
        push %edx
        push %ecx
        push %ebx
        call sphex
        pop %eax
        call sphex
        pop %eax
        call sphex
        pop %eax
        call sphex
        mov $'\n', %al
        call putc
        ret

sphex:  push %eax
        mov $' ', %al
        call putc
        pop %eax
        jmp puthex

        .data
        .align 4
max_basic: .long 0
max_ext:   .long 0
subleaf_list:
        .long 4, 8, 7, 8, 0xb, 8, 0xd, 20, 0x12, 8, 0x14, 8, 0x18, 8, 0x1d, 8, 0x1f, 8
        .long 0x8000001d, 8, 0
