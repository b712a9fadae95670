#!/usr/bin/env python3
"""Write a tiny bzImage-shaped test kernel whose 64-bit entry runs the given machine code.

The image has a Linux setup header (boot protocol 2.12, XLF_KERNEL_64) so direct boot accepts it;
the protected-mode part holds 0x200 bytes of padding (the 64-bit entry is load address + 0x200)
and then the code. Used by tests to make a guest misbehave on purpose.
    mkkernel.py OUT KIND      KIND: triple-fault | hlt-loop | mmio-read | hello | page-fault | timer-irq |
          smp-start | reset-ram
(the sources of hello and page-fault are in tests/lib/asm/)
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
    # print "hello\n" on COM1 (out to 0x3f8), then ACPI power-off: out 0x604 <- 0x3400 (SLP_TYP=5|SLP_EN)
    "hello": bytes.fromhex(
        "488d351900000066baf803ac84c07403eeebf866ba040666b8003466eff4ebfd68656c6c6f0a00"
    ),
    # install a #PF handler in a 64-bit IDT, write to unmapped 0x200000008, check CR2, the error code
    # (2: write, not present) and RBX in the handler, print "page fault handled" (or "page fault
    # wrong") on COM1, power off (tests/lib/asm/page-fault.s is the source)
    "page-fault": bytes.fromhex(
        "488d0574000000488d3de2000000668987e0000000668cc966898fe200000066c787e4000000008e48c1e810"
        "668987e600000048c1e8108987e8000000c787ec000000000000004883ec1066c70424ff0148897c24020f01"
        "1c244883c41048c7c32301000048b80800000002000000c6005a488d355f000000eb3059488d355500000048"
        "83f90275220f20d248b808000000020000004839c275104881fb230100007507488d351900000066baf803ac"
        "84c07403eeebf866ba040666b8003466eff4ebfd70616765206661756c742068616e646c65640a0070616765"
        "206661756c742077726f6e670a00660f1f4400"
    ),
    # local APIC one-shot timer on vector 0x40 wakes "sti; hlt"; the handler sends EOI; print "timer
    # interrupt" on COM1, power off (tests/lib/asm/timer-irq.s)
    "timer-irq": bytes.fromhex(
        "488d05b0000000488d3dd200000066898700040000668cc966898f0204000066c78704040000008e48c1e810"
        "6689870604000048c1e810898708040000c7870c040000000000004883ec1066c704240f0448897c24020f01"
        "1c244883c410bb0000e0fec783f0000000ff010000c783e00300000b000000c7832003000040000000c78380"
        "03000040420f00fbf4fa803d350000000074f4488d352d00000066baf803ac84c07403eeebf866ba040666b8"
        "003466eff4ebfdc6050c00000001c783b00000000000000048cf0074696d657220696e746572727570740a00"
        "0f1f4000"
    ),
    # AP start-up: INIT + SIPI + SIPI to all APs, twice; each AP checks its real-mode start state
    # and that its LAPIC ID is CPUID's, and marks its APIC ID; prints "smp-start cpus=N started=C
    # ids=M again=C2 ids2=M2 bad=B" on COM1, powers off (tests/lib/asm/smp-start.s)
    "smp-start": bytes.fromhex(
        "b91b0000000f32a9000100007511488d35a1030000e81a020000e938010000fc66ba100566b8050066ef66ba"
        "110531c0ec4189c5ecc1e0084109c5488d3527020000bf00000100b9a5000000f3a4488d35b9020000bf0010"
        "0100b9a8000000f3a431c0bf00200100b908000000f3abbb0000e0fec783f0000000ff01000041bf42760500"
        "e87801000041bc10000000e8c700000041be00200100e82101000041bc11000000e8b100000041be10200100"
        "e80b010000488d351c030000e8730100004489e8e87a010000488d3518030000e85f0100008b042500200100"
        "e862010000488d350a030000e8470100008b042504200100e84a010000488d35f8020000e82f0100008b0425"
        "10200100e832010000488d35e8020000e8170100008b04250c200100e81a010000488d35d7020000e8ff0000"
        "008b042508200100e802010000488d35c5020000e8e700000066ba040666b8003466effaf4ebfcc783100300"
        "0000000000c7830003000000450c00e83d00000041bfd38b0000e882000000bd020000004489e00d00460c00"
        "c7831003000000000000898300030000e81000000041bfcc020000e855000000ffcd75d4c3f390f783000300"
        "000010000075f2c341bffd1811014531c066ba0806ed4189c14589ea41ffca4539167319f390ed4189c34429"
        "c825ffffff004901c04589d94d39f872e241bf21bb0200e801000000c3524150415141534531c066ba0806ed"
        "4189c1f390ed4189c34429c825ffffff004901c04589d94d39f872e7415b415941585ac35266baf803ac84c0"
        "7403eeebf85ac35289c6b90800000066baf803c1c60489f083e00f83f80a720383c02783c030eeffc975e85a"
        "c38cce0f01e766b8010000000fa266c1eb182e660f01169f000f20c06683c8010f22c0ba08008eda6683e0fe"
        "0f22c031d28eda67668b2d2000e0fe66c1ed1831c08ed089dcc1e40481c400f09c59e8000058ba00128eda81"
        "fe0010752183f850751c83e71183ff107514f7c10002750e6639dd750966f00fab1e0400eb0666f0ff060800"
        "66f0ff060000faf4ebfc66900000000000000000ffff00000093cf000f008f0001008cce0f01e766b8010000"
        "000fa266c1eb182e660f0116a2000f20c06683c8010f22c0ba08008eda6683e0fe0f22c031d28eda67668b2d"
        "2000e0fe66c1ed1831c08ed089dcc1e40481c400f09c59e8000058ba00128eda81fe0011752183f850751c83"
        "e71183ff107514f7c10002750e6639dd750966f00fab1e0c00eb0666f0ff06080066f0ff061000faf4ebfc0f"
        "1f4400000000000000000000ffff00000093cf000f0092100100736d702d73746172743a2041502072616e20"
        "74686520626f6f7420656e7472790a00736d702d737461727420637075733d0020737461727465643d002069"
        "64733d0020616761696e3d0020696473323d00206261643d000a00"
    ),
    # machine reset keeps RAM, writes the image again and resets the devices: a marker outside the
    # image survives, a flag inside it does not, COM1's scratch register is 0 again; prints both
    # on the second boot and powers off (tests/lib/asm/reset-ram.s)
    "reset-ram": bytes.fromhex(
        "488d1dd800000048c7c700003000813f07b007b07426c70707b007b0c6030166baff03b05aee488d355f0000"
        "00e84d00000066baf90cb006eef4ebfd488d3560000000e8370000000fb603043066baf803ee488d35780000"
        "00e82100000066baff03ec84c00f94c0043066baf803eeb00aee66ba040666b8003466eff4ebfd66baf803ac"
        "84c07403eeebf8c372657365742d72616d3a20666972737420626f6f740a0072657365742d72616d3a207365"
        "636f6e6420626f6f742c2052414d206b6570742c20696d61676520666c61673d00207363722d636c65617265"
        "643d0000"
    ),
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
