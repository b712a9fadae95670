#!/usr/bin/env python3
"""CPUID of every QEMU 7.2 CPU model under Vireo's TCG, leaf by leaf, against QEMU 7.2's.

    cpu-models.py VIREO KERNEL EXPECTED          compare (prints ok/FAIL lines)
    cpu-models.py --record QEMU KERNEL EXPECTED  record QEMU 7.2's dumps (every -cpu help name)

KERNEL is tests/lib/asm/modes/cpuid.S built by mkmodetest.py. Running QEMU for all ~130 names
takes minutes, so its dumps are recorded in EXPECTED (identical dumps once, all-zero lines left
out); tests/tcg/cpu-models.sh also runs QEMU live for a few models and checks the record.

Vireo's translator lacks some instructions QEMU 7.2's TCG has (AVX and the rest of x86-64-v3,
AES, PCLMULQDQ, RDRAND, MONITOR, XSAVE, SMEP/SMAP, UMIP, PKU, LA57, SVM, ...): GAP lists them;
QEMU's dump less those bits (and the leaves that follow from them: 0xD without XSAVE, 0x8000000A
without SVM, 48-bit linear addresses without LA57) is what Vireo must show, exactly.
"""
import os
import subprocess
import sys

# (leaf, subleaf, register index EAX=0..EDX=3): the bits Vireo's TCG does not give
GAP = {
    (1, 0, 2): [1, 3, 12, 22, 25, 26, 28, 29, 30],  # pclmulqdq monitor fma movbe aes xsave avx f16c rdrand
    (7, 0, 1): [0, 5, 7, 14, 19, 20, 22, 23, 24],    # fsgsbase avx2 smep mpx adx smap pcommit clflushopt clwb
    (7, 0, 2): [2, 3, 9, 16, 31],                    # umip pku vaes la57 pks
    (0x80000001, 0, 3): [30, 31],                    # 3dnowext 3dnow
    (0x80000001, 0, 2): [2, 4, 6],                   # svm cr8legacy sse4a
    (0x8000000A, 0, 3): list(range(32)),             # the SVM leaf
}
ARGS = ["-accel", "tcg", "-nodefaults", "-display", "none", "-serial", "stdio", "-m", "64",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4"]


def dump(binary, kernel, model):
    p = subprocess.run([binary] + ARGS + ["-kernel", kernel, "-cpu", model],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    lines = p.stdout.decode(errors="replace").splitlines()
    if p.returncode != 33 or not lines or lines[-1] != "done":
        raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.decode()[:200]))
    out = {}
    for l in lines[:-1]:
        k, *r = l.split()
        leaf, sub = k.split(".")
        out[(int(leaf, 16), int(sub, 16))] = [int(x, 16) for x in r]
    return out


def fmt(d):
    return ["%08X.%02X %s" % (k[0], k[1], " ".join("%08X" % x for x in v))
            for k, v in sorted(d.items()) if any(v)]


def parse(lines):
    out = {}
    for l in lines:
        k, *r = l.split()
        leaf, sub = k.split(".")
        out[(int(leaf, 16), int(sub, 16))] = [int(x, 16) for x in r]
    return out


def without_gap(q):
    e = {k: list(v) for k, v in q.items()}
    l1 = q.get((1, 0), [0, 0, 0, 0])
    l7 = q.get((7, 0), [0, 0, 0, 0])
    for (leaf, sub, reg), bits in GAP.items():
        if (leaf, sub) in e:
            for b in bits:
                e[(leaf, sub)][reg] &= ~(1 << b)
    if q.get((0x80000001, 0), [0] * 4)[2] & (1 << 2) and (0x8000000A, 0) in e:  # no SVM leaf
        e[(0x8000000A, 0)] = [0, 0, 0, 0]
    if l1[2] & (1 << 26):  # no XSAVE: leaf 0xD is empty
        for k in e:
            if k[0] == 0xD:
                e[k] = [0, 0, 0, 0]
    if l7[2] & (1 << 16) and (0x80000008, 0) in e:  # no LA57: 48 linear address bits
        e[(0x80000008, 0)][0] = (e[(0x80000008, 0)][0] & ~0xff00) | 0x3000
    return e


def record(qemu, kernel, path):
    names = [l.split()[1] for l in subprocess.run([qemu, "-cpu", "help"], stdout=subprocess.PIPE)
             .stdout.decode().splitlines() if l.startswith("x86 ")]
    groups = {}
    for n in names:
        if n == "host":
            continue
        groups.setdefault(tuple(fmt(dump(qemu, kernel, n))), []).append(n)
    with open(path, "w") as f:
        f.write("# CPUID as QEMU 7.2 -accel tcg shows it for each -cpu model "
                "(tests/tcg/cpu-models.py --record); all-zero lines left out\n")
        for lines, ns in groups.items():
            f.write("== %s\n" % " ".join(ns))
            f.write("".join(l + "\n" for l in lines))


def load(path, everyone):
    """{name: dump lines}: every name, or the first of each group of names with one dump"""
    models, cur = {}, None
    for l in open(path):
        l = l.rstrip("\n")
        if l.startswith("#"):
            continue
        if l.startswith("== "):
            cur = []
            for n in l[3:].split()[:None if everyone else 1]:
                models[n] = cur
        else:
            cur.append(l)
    return models


def main():
    if sys.argv[1] == "--record":
        record(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    vireo, kernel, path = sys.argv[1:4]
    only = sys.argv[4:]
    models = load(path, os.environ.get("VIREO_CPU_MODELS_ALL") == "1")
    bad = 0
    for n, lines in sorted(models.items()):
        if only and n not in only:
            continue
        try:
            v = dump(vireo, kernel, n)
        except Exception as e:  # noqa: BLE001 (reported as the test's failure)
            print("FAIL tcg-cpu-models/%s: %s" % (n, e))
            bad += 1
            continue
        want = fmt(without_gap(parse(lines)))
        got = fmt(v)
        if want != got:
            diff = [("-" + l) for l in want if l not in got] + [("+" + l) for l in got if l not in want]
            print("FAIL tcg-cpu-models/%s: differs from QEMU 7.2 (less Vireo's gaps): %s"
                  % (n, " | ".join(diff[:6])))
            bad += 1
    count = len([n for n in models if not only or n in only])
    print("ok tcg-cpu-models (%d models, CPUID leaf by leaf as QEMU 7.2)" % count
          if not bad else "FAIL tcg-cpu-models: %d models differ" % bad)


if __name__ == "__main__":
    main()
