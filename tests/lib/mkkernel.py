#!/usr/bin/env python3
"""Write a tiny bzImage-shaped test kernel whose 64-bit entry runs the given machine code.

The image has a Linux setup header (boot protocol 2.12, XLF_KERNEL_64) so direct boot accepts it;
the protected-mode part holds 0x200 bytes of padding (the 64-bit entry is load address + 0x200)
and then the code. Used by tests to make a guest misbehave on purpose.
    mkkernel.py OUT KIND      KIND: triple-fault | hlt-loop | out-of-ram
"""
import struct
import sys

CODES = {
    # push 0; push 0; lidt [rsp] (an empty IDT); int3 -> #GP -> #DF -> triple fault
    "triple-fault": bytes([0x6A, 0x00, 0x6A, 0x00, 0x0F, 0x01, 0x1C, 0x24, 0xCC]),
    # cli; hlt; jmp back: a guest that never ends (for signal tests)
    "hlt-loop": bytes([0xFA, 0xF4, 0xEB, 0xFD]),
    # mov rax, 0xfe000000 (unclaimed MMIO); loop: mov al, [rax]; jmp loop
    "mmio-read": bytes([0x48, 0xB8, 0x00, 0x00, 0x00, 0xFE, 0, 0, 0, 0, 0x8A, 0x00, 0xEB, 0xFC]),
}


def main():
    out, kind = sys.argv[1], sys.argv[2]
    setup = bytearray(1024)  # boot sector + one setup sector
    setup[0x1F1] = 1  # setup_sects
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200] = 0xEB  # jump over the header
    setup[0x201] = 0x66  # header ends at 0x268
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020C)  # protocol 2.12
    setup[0x211] = 0x01  # LOADED_HIGH
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)  # initrd_addr_max
    struct.pack_into("<H", setup, 0x236, 0x0001)  # XLF_KERNEL_64
    struct.pack_into("<I", setup, 0x238, 2047)  # cmdline_size
    pm = bytearray(0x200) + CODES[kind]
    pm += bytes(4096 - len(pm) % 4096)
    with open(out, "wb") as f:
        f.write(setup + pm)


if __name__ == "__main__":
    main()
