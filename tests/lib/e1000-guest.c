/*
 * A tiny Multiboot guest that drives the first e1000 on PCI bus 0 the way Linux's e1000 driver
 * does, and prints what it sees on COM1 (tests/tcg/e1000.sh runs it under Vireo and QEMU 7.2 and
 * compares). Built with `cc -m32 -ffreestanding -nostdlib` (the test does it); 32-bit protected
 * mode, paging off, no interrupts (the INTx line is read from the 8259's IRR).
 *
 * Compared part: PCI config space, the registers after reset, the EEPROM (EERD and the Microwire
 * port), the PHY through MDIC, auto-negotiation after a restart (link drops, comes back, LSC),
 * the INTx level following ICR & IMS, an ARP request to slirp's gateway and its reply, an ICMP
 * echo with IP/ICMP checksum offload (context descriptor) and its reply, then with the PHY in
 * loopback: a TSO send cut into segments and a VLAN tag inserted and stripped, and the
 * statistics counters. After "end-compare": descriptors and buffers outside RAM (Vireo refuses
 * that DMA; QEMU would reach MMIO), after which the NIC must still work.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

__asm__(".section .mbhdr,\"a\"\n"
        ".align 4\n"
        ".long 0x1BADB002, 0, -0x1BADB002\n"
        ".text\n"
        ".globl _start\n"
        "_start:\n"
        "  mov $0x90000, %esp\n"
        "  call main\n"
        "1: hlt\n"
        "  jmp 1b\n");

static inline void outb(u16 p, u8 v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p));
}
static inline void outw(u16 p, u16 v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p));
}
static inline void outl(u16 p, u32 v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p));
}
static inline u8 inb(u16 p)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
    return v;
}
static inline u32 inl(u16 p)
{
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p));
    return v;
}

static void putc_(char c)
{
    outb(0x3f8, (u8)c);
}
static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}
static void hex(u32 v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}
static void kv(const char *k, u32 v, int digits)
{
    puts_(k);
    putc_('=');
    hex(v, digits);
    putc_(' ');
}
static void nl(void)
{
    putc_('\n');
}

/* ACPI PM timer (3.579545 MHz, 24 bits) at PMBASE 0x600 + 8 */
static u32 pmt(void)
{
    return inl(0x608) & 0xffffff;
}
static u32 elapsed_us(u32 start)
{
    return ((pmt() - start) & 0xffffff) * 10u / 36u;
}
static void udelay(u32 us)
{
    u32 t = pmt();
    while (elapsed_us(t) < us) {
    }
}

static u32 pci_cfg(int dev, int reg)
{
    outl(0xcf8, 0x80000000u | (u32)dev << 11 | (u32)reg);
    return inl(0xcfc);
}
static void pci_cfg_w(int dev, int reg, u32 v)
{
    outl(0xcf8, 0x80000000u | (u32)dev << 11 | (u32)reg);
    outl(0xcfc, v);
}

static volatile u32 *regs;
static u32 rd(u32 off)
{
    return regs[off / 4];
}
static void wr(u32 off, u32 v)
{
    regs[off / 4] = v;
}

enum {
    CTRL = 0,
    STATUS = 8,
    EECD = 0x10,
    EERD = 0x14,
    MDIC = 0x20,
    VET = 0x38,
    ICR = 0xc0,
    ITR = 0xc4,
    ICS = 0xc8,
    IMS = 0xd0,
    IMC = 0xd8,
    RCTL = 0x100,
    TCTL = 0x400,
    LEDCTL = 0xe00,
    PBA = 0x1000,
    RDBAL = 0x2800,
    RDBAH = 0x2804,
    RDLEN = 0x2808,
    RDH = 0x2810,
    RDT = 0x2818,
    TDBAL = 0x3800,
    TDBAH = 0x3804,
    TDLEN = 0x3808,
    TDH = 0x3810,
    TDT = 0x3818,
    MANC = 0x5820,
    RAL = 0x5400,
    RAH = 0x5404,
    MTA = 0x5200
};

static u32 mdic_read(int reg)
{
    wr(MDIC, 0x08000000u | 1u << 21 | (u32)reg << 16);
    u32 v;
    for (int i = 0; i < 1000 && !((v = rd(MDIC)) & 0x10000000u); i++) {
    }
    return v;
}
static u32 mdic_write(int reg, u16 val)
{
    wr(MDIC, 0x04000000u | 1u << 21 | (u32)reg << 16 | val);
    return rd(MDIC);
}

/* Microwire EEPROM read of one word, bit by bit (e1000_shift_out_ee_bits & co.) */
static void ee_clock(u32 *eecd, int up)
{
    *eecd = up ? (*eecd | 1) : (*eecd & ~1u);
    wr(EECD, *eecd);
}
static u16 ee_read_microwire(int word)
{
    u32 eecd = rd(EECD) | 0x40; /* REQ */
    wr(EECD, eecd);
    eecd &= ~0x0fu;
    wr(EECD, eecd);
    eecd |= 0x02; /* CS */
    wr(EECD, eecd);
    u32 cmd = 0x6u << 6 | (u32)word; /* 110 AAAAAA: start bit, read opcode, address */
    for (int b = 8; b >= 0; b--) {
        eecd = (eecd & ~0x04u) | ((cmd >> b) & 1 ? 0x04 : 0);
        wr(EECD, eecd);
        ee_clock(&eecd, 1);
        ee_clock(&eecd, 0);
    }
    u16 v = 0;
    for (int b = 0; b < 16; b++) {
        ee_clock(&eecd, 1);
        v = (u16)(v << 1 | ((rd(EECD) >> 3) & 1));
        ee_clock(&eecd, 0);
    }
    eecd &= ~0x06u;
    wr(EECD, eecd);
    wr(EECD, eecd & ~0x40u);
    return v;
}

/* memory the NIC reaches: rings and buffers at fixed physical addresses */
#define TXRING 0x00300000u
#define RXRING 0x00301000u
#define TXBUF  0x00310000u
#define RXBUF  0x00320000u
#define NDESC  8
#define RXSZ   2048

static u8 *mem(u32 a)
{
    return (u8 *)a;
}
static void memset_(void *d, int c, u32 n)
{
    for (u32 i = 0; i < n; i++)
        ((u8 *)d)[i] = (u8)c;
}
static void memcpy_(void *d, const void *s, u32 n)
{
    for (u32 i = 0; i < n; i++)
        ((u8 *)d)[i] = ((const u8 *)s)[i];
}

static u32 txtail, rxnext;
static u8 mymac[6];

static void put_desc(u32 ring, int i, u64 addr, u32 lower, u32 upper)
{
    volatile u32 *d = (volatile u32 *)(ring + 16 * (u32)i);
    d[0] = (u32)addr;
    d[1] = (u32)(addr >> 32);
    d[2] = lower;
    d[3] = upper;
}

/* queue descriptors and wait until the head reaches the tail */
static void tx_kick(void)
{
    wr(TDT, txtail);
    u32 t = pmt();
    while (rd(TDH) != txtail && elapsed_us(t) < 200000) {
    }
}

static void tx_legacy(u32 buf, u32 len, u32 cmd_extra)
{
    put_desc(TXRING, (int)txtail, buf, len | 0x01000000u | 0x02000000u | 0x08000000u | cmd_extra,
             0);
    txtail = (txtail + 1) % NDESC;
}

static void rx_refill(void)
{
    for (int i = 0; i < NDESC; i++)
        put_desc(RXRING, i, RXBUF + (u32)i * RXSZ, 0, 0);
}

/* wait for one received frame; prints it (first n bytes) with its descriptor; 0 on timeout */
static int rx_wait(const char *what, u32 timeout_us, u32 show)
{
    volatile u8 *d = mem(RXRING + 16 * rxnext);
    u32 t = pmt();
    while (!(d[12] & 1) && elapsed_us(t) < timeout_us) {
    }
    puts_(what);
    putc_(' ');
    if (!(d[12] & 1)) {
        puts_("none\n");
        return 0;
    }
    u32 len = d[8] | (u32)d[9] << 8;
    kv("len", len, 4);
    kv("status", d[12], 2);
    kv("errors", d[13], 2);
    kv("special", d[14] | (u32)d[15] << 8, 4);
    puts_("data=");
    u8 *b = mem(RXBUF + rxnext * RXSZ);
    for (u32 i = 0; i < len && i < show; i++)
        hex(b[i], 2);
    nl();
    memset_((void *)d + 8, 0, 8);
    wr(RDT, rxnext); /* give it back (the tail trails the head by one) */
    rxnext = (rxnext + 1) % NDESC;
    return 1;
}

static u32 pic_irr(int irq)
{
    if (irq < 8) {
        outb(0x20, 0x0a);
        return (inb(0x20) >> irq) & 1;
    }
    outb(0xa0, 0x0a);
    return (inb(0xa0) >> (irq - 8)) & 1;
}

static u16 csum(const u8 *p, u32 n)
{
    u32 s = 0;
    for (u32 i = 0; i + 1 < n; i += 2)
        s += (u32)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (u32)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (u16)~s;
}

static const u8 gw_ip[4] = {10, 0, 2, 2}, my_ip[4] = {10, 0, 2, 15};

static u32 build_eth(u8 *f, const u8 *dst, u16 type)
{
    memcpy_(f, dst, 6);
    memcpy_(f + 6, mymac, 6);
    f[12] = (u8)(type >> 8);
    f[13] = (u8)type;
    return 14;
}

static u32 build_ipv4(u8 *p, u8 proto, u32 payload, u16 id)
{
    memset_(p, 0, 20);
    p[0] = 0x45;
    p[2] = (u8)((20 + payload) >> 8);
    p[3] = (u8)(20 + payload);
    p[4] = (u8)(id >> 8);
    p[5] = (u8)id;
    p[8] = 64;
    p[9] = proto;
    memcpy_(p + 12, my_ip, 4);
    memcpy_(p + 16, gw_ip, 4);
    return 20;
}

static void dump_stats(void)
{
    static const u32 st[] = {0x4010, 0x4074, 0x4078, 0x407c, 0x4080, 0x4088, 0x4090,
                             0x40c0, 0x40c8, 0x40d0, 0x40d4, 0x40d8, 0x40dc, 0x40e0,
                             0x405c, 0x4060, 0x40f0, 0x40f4, 0x40f8, 0x40a0, 0x40ac};
    puts_("stats ");
    for (u32 i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        hex(st[i], 4);
        putc_(':');
        hex(rd(st[i]), 0x8);
        putc_(' ');
    }
    nl();
}

static void poweroff(void)
{
    outw(0x604, 0x2000); /* S5 as QEMU's DSDT has it */
    outw(0x604, 0x3400); /* and as Vireo's */
    outb(0xf4, 0x10);
    for (;;)
        __asm__ volatile("hlt");
}

void main(void);
void main(void)
{
    int dev = -1;
    for (int d = 0; d < 32; d++) {
        if (pci_cfg(d, 0) == 0x100e8086u) {
            dev = d;
            break;
        }
    }
    if (dev < 0) {
        puts_("no e1000\n");
        poweroff();
    }
    puts_("pci");
    for (int r = 0; r < 0x40; r += 4) {
        putc_(' ');
        hex(pci_cfg(dev, r), 8);
    }
    nl();
    u32 bar0 = pci_cfg(dev, 0x10) & ~0xfu;
    u32 irq = pci_cfg(dev, 0x3c) & 0xff;
    pci_cfg_w(dev, 4, pci_cfg(dev, 4) | 7); /* I/O, memory, bus master */
    regs = (volatile u32 *)bar0;

    /* registers after reset */
    static const u32 rr[] = {CTRL, STATUS, EECD, MDIC,   VET,    ICR,    ICS,
                             IMS,  ITR,    RCTL, TCTL,   LEDCTL, PBA,    MANC,
                             RAL,  RAH,    0x18, 0x5800, 0x5b50, 0x2828, 0x3828};
    puts_("regs ");
    for (u32 i = 0; i < sizeof(rr) / sizeof(rr[0]); i++) {
        hex(rr[i], 4);
        putc_(':');
        hex(rd(rr[i]), 8);
        putc_(' ');
    }
    nl();
    /* 8-bit and 16-bit reads of STATUS, a write to a read-only register */
    kv("status.b1", *((volatile u8 *)regs + 9), 2);
    kv("status.w1", *((volatile u16 *)((volatile u8 *)regs + 10)), 4);
    wr(STATUS, 0);
    kv("status-after-write", rd(STATUS), 8);
    nl();

    /* EEPROM through EERD, its checksum, and three words through the Microwire port */
    u16 sum = 0;
    puts_("eeprom");
    for (int w = 0; w < 64; w++) {
        wr(EERD, (u32)w << 8 | 1);
        u32 v = rd(EERD);
        putc_(' ');
        hex(v >> 16, 4);
        sum = (u16)(sum + (v >> 16));
        if (w < 3) {
            mymac[2 * w] = (u8)(v >> 16);
            mymac[2 * w + 1] = (u8)(v >> 24);
        }
    }
    nl();
    kv("eeprom-sum", sum, 4);
    wr(EERD, 64u << 8 | 1);
    kv("eerd-past-end", rd(EERD), 8);
    kv("microwire", (u32)ee_read_microwire(0) << 16 | ee_read_microwire(2), 8);
    kv("microwire63", ee_read_microwire(63), 4);
    nl();

    /* PHY */
    puts_("phy");
    for (int r = 0; r < 0x20; r++) {
        putc_(' ');
        hex(mdic_read(r), 8);
    }
    nl();
    kv("mdic-phy2", (wr(MDIC, 0x08000000u | 2u << 21), rd(MDIC)), 8);
    kv("mdic-write-ro", mdic_write(1, 0x1234), 8);
    nl();

    /* auto-negotiation: restart it as the driver does; the link drops and comes back */
    rd(ICR);
    mdic_write(0, 0x1140 | 0x0200);
    kv("status-during-autoneg", rd(STATUS), 8);
    kv("bmsr-during-autoneg", mdic_read(1) & 0xffff, 4);
    u32 t = pmt();
    while (!(rd(STATUS) & 2) && elapsed_us(t) < 3000000) {
    }
    kv("link-back", (rd(STATUS) & 2) && elapsed_us(t) > 300000 ? 1 : 0, 1);
    kv("bmsr-after", mdic_read(1) & 0xffff, 4);
    kv("anlpar-after", mdic_read(5) & 0xffff, 4);
    kv("icr", rd(ICR), 8);
    nl();

    /* INTx follows ICR & IMS (the line level-triggered in the ELCR, as SeaBIOS leaves it) */
    outb((u16)(0x4d0 + irq / 8), (u8)(inb((u16)(0x4d0 + irq / 8)) | 1u << (irq & 7)));
    wr(IMS, 0x04);
    kv("irq-line", irq, 2);
    kv("level0", pic_irr((int)irq), 1);
    wr(ICS, 0x04);
    udelay(1000);
    kv("level-ics", pic_irr((int)irq), 1);
    kv("ics-read", rd(ICS), 8);
    kv("icr-read", rd(ICR), 8);
    kv("level-after-icr", pic_irr((int)irq), 1);
    wr(ICS, 0x80);
    kv("level-masked", pic_irr((int)irq), 1);
    kv("icr2", rd(ICR), 8);
    wr(IMC, 0xffffffff);
    kv("ims", rd(IMS), 8);
    nl();

    /* rings */
    memset_(mem(TXRING), 0, 16 * NDESC);
    rx_refill();
    wr(TDBAL, TXRING);
    wr(TDBAH, 0);
    wr(TDLEN, 16 * NDESC);
    wr(TDH, 0);
    wr(TDT, 0);
    wr(RDBAL, RXRING);
    wr(RDBAH, 0);
    wr(RDLEN, 16 * NDESC);
    wr(RDH, 0);
    wr(RDT, NDESC - 1);
    wr(TCTL, 0x0103f0fa); /* EN, PSP, CT, COLD (Linux's values) */
    wr(RCTL, 0x04008002); /* EN, BAM, 2048-byte buffers, strip CRC */
    kv("rdlen", rd(RDLEN), 8);
    kv("tdlen-masked", (wr(TDLEN, 0xffffffff), rd(TDLEN)), 8);
    wr(TDLEN, 16 * NDESC);
    nl();

    /* ARP request for 10.0.2.2 */
    static const u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    u8 *f = mem(TXBUF);
    u32 n = build_eth(f, bcast, 0x0806);
    static const u8 arp_hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
    memcpy_(f + n, arp_hdr, 8);
    memcpy_(f + n + 8, mymac, 6);
    memcpy_(f + n + 14, my_ip, 4);
    memset_(f + n + 18, 0, 6);
    memcpy_(f + n + 24, gw_ip, 4);
    n += 28;
    rd(ICR);
    tx_legacy(TXBUF, n, 0);
    tx_kick();
    kv("tdh", rd(TDH), 4);
    kv("txdesc-status", mem(TXRING)[12], 2);
    kv("icr-tx", rd(ICR), 8);
    nl();
    /* received frames wait while the driver is within a second of writing RCTL (QEMU) */
    rx_wait("arp-reply", 3000000, 64);
    u8 gwmac[6];
    memcpy_(gwmac, mem(RXBUF + 6), 6);
    kv("icr-rx", rd(ICR) & ~0x10u, 8);
    nl();

    /* ICMP echo with checksum offload: context descriptor + data descriptor (IXSM | TXSM) */
    f = mem(TXBUF + 0x1000);
    n = build_eth(f, gwmac, 0x0800);
    u32 ip = n;
    n += build_ipv4(f + n, 1, 8 + 32, 0x1234);
    u32 icmp = n;
    f[n] = 8;
    f[n + 1] = 0;
    f[n + 2] = f[n + 3] = 0;
    f[n + 4] = 0x12;
    f[n + 5] = 0x34;
    f[n + 6] = 0;
    f[n + 7] = 1;
    n += 8;
    for (int i = 0; i < 32; i++)
        f[n++] = (u8)('a' + i % 26);
    /* context: ipcss, ipcso, ipcse | tucss, tucso, tucse (0: to the end) | DEXT | paylen */
    put_desc(TXRING, (int)txtail,
             (u64)(ip | (ip + 10) << 8 | (ip + 19) << 16) | (u64)(icmp | (icmp + 2) << 8) << 32,
             0x20000000u | (n - icmp), 0);
    txtail = (txtail + 1) % NDESC;
    put_desc(TXRING, (int)txtail, TXBUF + 0x1000,
             n | 0x20000000u | 0x00100000u | 0x01000000u | 0x08000000u | 0x02000000u, 0x03u << 8);
    txtail = (txtail + 1) % NDESC;
    tx_kick();
    rx_wait("echo-reply", 2000000, 80);
    nl();

    /* PHY loopback: TSO (3 segments of at most 100 payload bytes) and a VLAN tag */
    mdic_write(0, 0x1140 | 0x4000);
    rx_wait("loopback-idle", 1000, 0);
    f = mem(TXBUF + 0x2000);
    n = build_eth(f, mymac, 0x0800);
    ip = n;
    u32 payload = 250;
    n += build_ipv4(f + n, 6, 20 + payload, 0x4000);
    u32 tcp = n;
    memset_(f + n, 0, 20);
    f[n] = 0x30;
    f[n + 1] = 0x39;
    f[n + 2] = 0x00;
    f[n + 3] = 0x50; /* ports 12345 -> 80 */
    f[n + 4] = 0x11;
    f[n + 5] = 0x22;
    f[n + 6] = 0x33;
    f[n + 7] = 0x44; /* seq */
    f[n + 12] = 0x50;
    f[n + 13] = 0x19; /* FIN PSH ACK */
    f[n + 14] = 0xff;
    /* the pseudo-header sum without the length, as Linux leaves it for TSO */
    u32 ph = (10 << 8 | 0) + (2 << 8 | 15) + (10 << 8 | 0) + (2 << 8 | 2) + 6;
    ph = (ph & 0xffff) + (ph >> 16);
    f[n + 16] = (u8)(ph >> 8);
    f[n + 17] = (u8)ph;
    n += 20;
    for (u32 i = 0; i < payload; i++)
        f[n++] = (u8)i;
    u32 hdr = tcp + 20;
    put_desc(TXRING, (int)txtail,
             (u64)(ip | (ip + 10) << 8 | (ip + 19) << 16) | (u64)(tcp | (tcp + 16) << 8) << 32,
             0x20000000u | 0x04000000u | 0x02000000u | 0x01000000u | payload,
             (u32)(hdr << 8 | 100u << 16));
    txtail = (txtail + 1) % NDESC;
    /* the frame in two data descriptors: header + 30 bytes, the rest */
    put_desc(TXRING, (int)txtail, TXBUF + 0x2000,
             (hdr + 30) | 0x20000000u | 0x00100000u | 0x04000000u | 0x08000000u, 0x03u << 8);
    txtail = (txtail + 1) % NDESC;
    put_desc(TXRING, (int)txtail, TXBUF + 0x2000 + hdr + 30,
             (n - hdr - 30) | 0x20000000u | 0x00100000u | 0x04000000u | 0x01000000u | 0x08000000u,
             0x03u << 8);
    txtail = (txtail + 1) % NDESC;
    tx_kick();
    for (int i = 0; i < 3; i++) {
        rx_wait("tso-seg", 100000, 64);
        u8 *b = mem(RXBUF + ((rxnext + NDESC - 1) % NDESC) * RXSZ);
        kv("ipsum-ok", csum(b + ip, 20) == 0, 1);
        /* TCP checksum over pseudo-header + segment */
        u32 tl = (u32)(b[ip + 2] << 8 | b[ip + 3]) - 20;
        u8 ps[12] = {10, 0, 2, 15, 10, 0, 2, 2, 0, 6, (u8)(tl >> 8), (u8)tl};
        u32 s = 0;
        for (int k = 0; k < 12; k += 2)
            s += (u32)ps[k] << 8 | ps[k + 1];
        for (u32 k = 0; k + 1 < tl; k += 2)
            s += (u32)b[tcp + k] << 8 | b[tcp + k + 1];
        if (tl & 1)
            s += (u32)b[tcp + tl - 1] << 8;
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        kv("tcpsum-ok", s == 0xffff, 1);
        nl();
    }
    rx_wait("tso-extra", 1000, 0);
    /* VLAN: insert on transmit (VLE), strip on receive (CTRL.VME) */
    wr(CTRL, rd(CTRL) | 0x40000000u);
    tx_legacy(TXBUF + 0x2000, 60, 0x40000000u);
    mem(TXRING + 16 * ((txtail + NDESC - 1) % NDESC))[14] = 0x05;
    mem(TXRING + 16 * ((txtail + NDESC - 1) % NDESC))[15] = 0x20;
    tx_kick();
    rx_wait("vlan-stripped", 100000, 20);
    wr(CTRL, rd(CTRL) & ~0x40000000u);
    tx_legacy(TXBUF + 0x2000, 60, 0x40000000u);
    tx_kick();
    rx_wait("vlan-off", 100000, 20);
    mdic_write(0, 0x1140);
    dump_stats();
    puts_("end-compare\n");

    /* Vireo only: DMA outside RAM. A TX ring beyond memory, a data buffer beyond it, an RX
       buffer in the APIC page, a tail far past the ring. */
    wr(TDBAH, 0x100);
    put_desc(TXRING, (int)txtail, 0, 0, 0);
    wr(TDT, (txtail + 1) % NDESC);
    wr(TDBAH, 0);
    wr(TDH, txtail);
    wr(TDT, txtail);
    tx_legacy(0x7ff00000u, 60, 0);
    tx_kick();
    wr(TDT, 0xffff);
    wr(TDH, txtail);
    wr(TDT, txtail);
    put_desc(RXRING, (int)rxnext, 0xfee00000u, 0, 0);
    mdic_write(0, 0x1140 | 0x4000);
    tx_legacy(TXBUF + 0x2000, 60, 0);
    tx_kick();
    volatile u8 *d = mem(RXRING + 16 * rxnext);
    t = pmt();
    while (!(d[12] & 1) && elapsed_us(t) < 100000) {
    }
    kv("bad-rx-desc-status", d[12], 2);
    nl();
    memset_((void *)d + 8, 0, 8);
    put_desc(RXRING, (int)rxnext, RXBUF + rxnext * RXSZ, 0, 0);
    wr(RDT, rxnext);
    rxnext = (rxnext + 1) % NDESC;
    mdic_write(0, 0x1140);
    /* still alive: another ARP exchange */
    f = mem(TXBUF);
    tx_legacy(TXBUF, 42, 0);
    tx_kick();
    rx_wait("arp-after-bad-dma", 1000000, 14);
    puts_("done\n");
    poweroff();
}
