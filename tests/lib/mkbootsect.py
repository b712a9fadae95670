#!/usr/bin/env python3
"""A tiny BIOS boot sector for firmware boot tests, as a raw disk image.

mkbootsect.py IMAGE [MESSAGE] [SIZE_KIB]

The sector (real mode, loaded at 0000:7C00 by the BIOS) writes MESSAGE and CR LF to COM1's
data port, then writes 0x21 to isa-debug-exit's port 0x501, so the emulator exits with status
(0x21 << 1) | 1 = 67; without that device it halts. The image is SIZE_KIB (default 1024) long.
"""
import struct
import sys

MSG_OFF = 28  # the code below is 28 bytes; the message follows it


def boot_sector(message: bytes) -> bytes:
    code = bytes([
        0xFA,                                      # cli
        0x31, 0xC0,                                # xor ax, ax
        0x8E, 0xD8,                                # mov ds, ax
        0xBE]) + struct.pack("<H", 0x7C00 + MSG_OFF) + bytes([  # mov si, message
        0xBA, 0xF8, 0x03,                          # mov dx, 0x3f8
        0xAC,                                      # next: lodsb
        0x84, 0xC0,                                # test al, al
        0x74, 0x03,                                # jz done
        0xEE,                                      # out dx, al
        0xEB, 0xF8,                                # jmp next
        0xBA, 0x01, 0x05,                          # done: mov dx, 0x501
        0xB0, 0x21,                                # mov al, 0x21
        0xEE,                                      # out dx, al
        0xF4,                                      # halt: hlt
        0xEB, 0xFD,                                # jmp halt
    ])
    assert len(code) == MSG_OFF
    body = code + message + b"\r\n\0"
    if len(body) > 510:
        raise SystemExit("message too long")
    return body + bytes(510 - len(body)) + b"\x55\xaa"


def main():
    path = sys.argv[1]
    message = (sys.argv[2] if len(sys.argv) > 2 else "hello from the boot sector").encode()
    size = (int(sys.argv[3]) if len(sys.argv) > 3 else 1024) * 1024
    sector = boot_sector(message)
    with open(path, "wb") as f:
        f.write(sector)
        f.truncate(size)


if __name__ == "__main__":
    main()
