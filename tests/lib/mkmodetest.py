#!/usr/bin/env python3
"""Build a mode test program: a Multiboot (v1) ELF32 from tests/lib/asm/modes/NAME.S.

    mkmodetest.py OUT NAME [ADDRESS]

The sources are GNU assembler text (with .code16/.code32/.code64 sections); this script runs
`as --32` and `ld -m elf_i386` (binutils) to link them at 1 MiB (or ADDRESS) with the Multiboot header first,
then checks that the result is what a Multiboot loader accepts: an ELF32 for EM_386 whose first
8 KiB hold the header at a 4-byte-aligned offset with a valid checksum. Exit status 2 when
binutils is not installed (the caller skips).
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "asm", "modes")
MAGIC = 0x1BADB002


def check(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or struct.unpack_from("<H", data, 18)[0] != 3:
        sys.exit("%s: not an ELF32 for i386" % path)
    for off in range(0, min(len(data), 8192) - 12, 4):
        magic, flags, csum = struct.unpack_from("<III", data, off)
        if magic == MAGIC and (magic + flags + csum) & 0xFFFFFFFF == 0:
            return
    sys.exit("%s: no Multiboot header in the first 8 KiB" % path)


def main():
    out, name = sys.argv[1], sys.argv[2]
    addr = sys.argv[3] if len(sys.argv) > 3 else "0x100000"
    if not shutil.which("as") or not shutil.which("ld"):
        print("binutils (as, ld) not installed", file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp:
        obj = os.path.join(tmp, name + ".o")
        subprocess.run(["as", "--32", "-I", SRC, "-o", obj, os.path.join(SRC, name + ".S")],
                       check=True)
        subprocess.run(["ld", "-m", "elf_i386", "-N", "-Ttext=" + addr, "-e", "_start",
                        "--no-warn-rwx-segments", "-o", out, obj], check=True)
    check(out)


if __name__ == "__main__":
    main()
