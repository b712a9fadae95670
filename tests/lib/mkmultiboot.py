#!/usr/bin/env python3
"""Write a tiny Multiboot (v1) test kernel.

    mkmultiboot.py OUT [KIND]     KIND: elf (default) | aout | elf64-x86-64 | nomagic | kbd

The code (tests/lib/asm/multiboot.s, assembled for 0x10000c and embedded below) prints on COM1
what the boot loader passed (magic, info flags, command line, loader name, mem_lower, modules
with their command lines, sizes and first line, the first memory-map entry) and exits through
isa-debug-exit at port 0xf4 with value 0x10, i.e. exit status 33.
- elf: an ELF32 (EM_386) whose one PT_LOAD segment (file offset 0x1000, physical 0x100000)
  starts with the Multiboot header (flags: page-align modules, memory info), 4 KiB of bss after.
- aout: the same code as a flat image using the header's a.out kludge (flag bit 16): the file
  loads at 0x100000 (code at 0x10000c), the header follows the code, load_end_addr = 0 (whole
  file), bss_end_addr 4 KiB after the end.
- elf64-x86-64: an ELF64 for EM_X86_64, which QEMU (and Vireo) refuse to load as Multiboot.
- nomagic: the ELF without the Multiboot header (not a Multiboot kernel at all).
- kbd: the ELF with another program (tests/lib/asm/kbd-echo.s): it prints every byte the i8042
  gives it (keyboard in scancode set 2, translated; mouse reporting) and exits on Esc released.
"""
import struct
import sys

LOAD = 0x100000
CODE = bytes.fromhex(
    "89c689dfbc1003100056b89f011000e8300100005eb8b101100081fe02b0ad2b7405b8bb011000e818010000b8c60110"
    "00e80e0100008b07e834010000e8fe000000b8cd011000e8f80000008b4710e8f0000000e8e7000000b8d6011000e8e1"
    "0000008b4740e8d9000000e8d0000000b8de011000e8ca0000008b4704e8ef000000e8b9000000b8e9011000e8b30000"
    "008b4714e8d8000000e8a20000008b4f148b5f1885c9744451b8ef011000e8910000008b4308e889000000b8f4011000"
    "e87f0000008b43042b03e8a2000000b8fb011000e86b0000008b03e875000000e85b00000083c3105949ebb8b8020210"
    "00e84e0000008b5f308b4304e870000000b020e8300000008b430ce861000000b020e8210000008b4314e852000000e8"
    "1c000000b809021000e81600000066baf400b010eef4ebfd5266baf803ee5ac3b00aebf45689c6ac84c07407e8e7ffff"
    "ffebf45ec3565189c6b920000000ac84c0740b3c0a7407e8ccffffffe2f0595ec3515289c2b908000000c1c20488d024"
    "0f04303c3976020427e8aaffffffe2ea5a59c36d756c7469626f6f743a2068656c6c6f0a006d61676963206f6b0a006d"
    "61676963206261640a00666c6167732000636d646c696e6520006c6f6164657220006d656d5f6c6f77657220006d6f64"
    "7320006d6f6420002073697a652000206461746120006d6d61703020006279650a006690000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000")
CODE_KBD = bytes.fromhex(
    "bc88021000b865011000e817010000b0ade8af000000b0a7e8a8000000e8ed000000b060e89c000000b044e89f000000"
    "b0aee88e000000b0a8e887000000b871011000e8de000000b0f5e891000000b0f0e88a000000b002e883000000b0f4e8"
    "7c000000b0d4e85a000000b0f4e85d000000e86e000000e8a6000000b877011000e8a0000000e464a80174fa88c3e460"
    "88c1f6c3207407b06de87c00000088c8e892000000e878000000f6c32075d780f98175d2b882011000e868000000b010"
    "e6f4f4ebfd50e80e00000058e664c350e80400000058e660c3e464a80275fac3e8eaffffff51b900001000e464a80175"
    "0ee2f8b87e011000e82900000059c3e460e831000000b020e80d00000059c3e464a8017404e460ebf6c35266baf803ee"
    "5ac3b00aebf45689c6ac84c07407e8e7ffffffebf45ec3515288c2b902000000c0c20488d0240f04303c3976020427e8"
    "c6ffffffe2ea5a59c36b62643a2068656c6c6f0a00696e6974200072656164790a002d2d20006279650a009000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000")
BSS = 0x1000
MAGIC = 0x1BADB002


def mb_header(flags, extra=b""):
    return struct.pack("<III", MAGIC, flags, (-(MAGIC + flags)) & 0xFFFFFFFF) + extra


def elf(body, machine=3, cls=1):
    entry = LOAD + 12
    if cls == 1:
        eh = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + bytes(9), 2, machine, 1,
                         entry, 52, 0, 0, 52, 32, 1, 0, 0, 0)
        ph = struct.pack("<IIIIIIII", 1, 0x1000, LOAD, LOAD, len(body), len(body) + BSS, 7, 0x1000)
    else:
        eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, machine, 1,
                         entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
        ph = struct.pack("<IIQQQQQQ", 1, 7, 0x1000, LOAD, LOAD, len(body), len(body) + BSS, 0x1000)
    head = eh + ph
    return head + bytes(0x1000 - len(head)) + body


def main():
    out = sys.argv[1]
    kind = sys.argv[2] if len(sys.argv) > 2 else "elf"
    if kind == "elf":
        data = elf(mb_header(0x3) + CODE)
    elif kind == "kbd":
        data = elf(mb_header(0x3) + CODE_KBD)
    elif kind == "elf64-x86-64":
        data = elf(mb_header(0x3) + CODE, machine=62, cls=2)
    elif kind == "nomagic":
        data = elf(bytes(12) + CODE)
    elif kind == "aout":
        # the code must sit at 0x10000c, so the 32-byte header goes after it (still in 8 KiB)
        body = bytes(12) + CODE
        body += bytes(-len(body) % 4)
        size = len(body) + 32
        hdr = mb_header(0x10003, struct.pack("<IIIII", LOAD + len(body), LOAD, 0, LOAD + size + BSS,
                                             LOAD + 12))
        data = body + hdr
    else:
        sys.exit("unknown kind " + kind)
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
