/*
 * A BIOS-booted test program for the IDE controller (tests/tcg/ide.sh), built at test time:
 *   gcc -m16 -ffreestanding ... ; ld -T ide-guest.ld ; objcopy -O binary
 * Its first sector (loaded by SeaBIOS from the IDE disk) loads the rest with INT 13h and calls
 * main(), which drives PIIX3's IDE channels directly (task-file registers, PIO, bus-master DMA
 * with its own PRD tables, ATAPI packets) and prints what it sees on COM1, one line per check.
 * The same image runs under QEMU 7.2 and Vireo; the lines before "== vireo" must be equal. After
 * that line come the malformed-input checks (PRD tables and buffers outside RAM), whose answers
 * differ by design (Vireo refuses DMA outside RAM; QEMU lets it reach unassigned space).
 * Expected drives: ide.0 master = this disk, ide.0 slave = a CD, ide.1 master = a scratch disk.
 * Exit: isa-debug-exit with 0x21.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

__asm__(".code16gcc\n"
        ".section .boot,\"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "  cli\n"
        "  xorw %ax, %ax\n"
        "  movw %ax, %ds\n"
        "  movw %ax, %es\n"
        "  movw %ax, %ss\n"
        "  movl $0x7000, %esp\n"
        "  ljmp $0, $1f\n"
        "1:\n"
        "  movw $dap, %si\n"
        "  movb $0x42, %ah\n"
        "  int $0x13\n"
        "  jc 2f\n"
        "  cli\n"
        "  calll main\n"
        "2:\n"
        "  hlt\n"
        "  jmp 2b\n"
        ".align 4\n"
        "dap: .byte 0x10, 0\n"
        "  .word 32\n"
        "  .word 0x7e00, 0\n"
        "  .long 1, 0\n"
        ".org 510\n"
        ".byte 0x55, 0xaa\n"
        ".text\n");

static inline void outb(u16 p, u8 v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(p));
}
static inline void outw(u16 p, u16 v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(p));
}
static inline void outl(u16 p, u32 v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(p));
}
static inline u8 inb(u16 p)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
    return v;
}
static inline u16 inw(u16 p)
{
    u16 v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p));
    return v;
}
static inline u32 inl(u16 p)
{
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p));
    return v;
}

void *memset(void *d, int c, unsigned long n)
{
    u8 *p = d;
    while (n--) {
        *p++ = (u8)c;
    }
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--) {
        *p++ = *q++;
    }
    return d;
}

/* ---- output ---- */
static void putc_(char c)
{
    outb(0x3f8, (u8)c);
}
static void puts_(const char *s)
{
    while (*s) {
        putc_(*s++);
    }
}
static void hex(u32 v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
    }
}
static void nl(void)
{
    puts_("\r\n");
}
static void hexbuf(const u8 *b, int n)
{
    for (int i = 0; i < n; i++) {
        hex(b[i], 2);
    }
}
static u32 sum(const u8 *b, u32 n)
{
    u32 h = 2166136261u;
    for (u32 i = 0; i < n; i++) {
        h = (h ^ b[i]) * 16777619u;
    }
    return h;
}

/* memory below 64 KiB (real mode, DS = 0) */
#define PRD   ((volatile u32 *)0x1000)
#define PRD2  ((volatile u32 *)0x1100)
#define IDBUF ((u8 *)0x2000)
#define PKT   ((u8 *)0x2400)
#define BUFA  0xc000u /* 16 KiB up to 0x10000; the program is below */
#define BUF   ((u8 *)BUFA)
#define BUF2  ((u8 *)0x4000) /* 12 KiB */

static const u16 cmdp[2] = {0x1f0, 0x170}, ctlp[2] = {0x3f6, 0x376};
static u16 bmbase;

static u32 pci_read(u8 fn, u8 reg)
{
    outl(0xcf8, 0x80000000u | (1u << 11) | ((u32)fn << 8) | reg);
    return inl(0xcfc);
}
static void pci_write(u8 fn, u8 reg, u32 v)
{
    outl(0xcf8, 0x80000000u | (1u << 11) | ((u32)fn << 8) | reg);
    outl(0xcfc, v);
}

static u8 wait_nbsy(int ch)
{
    u8 st = 0;
    for (u32 i = 0; i < 20000000u; i++) {
        st = inb(ctlp[ch]);
        if (!(st & 0x80)) {
            break;
        }
    }
    return st;
}

static void sel(int ch, int unit, u8 extra)
{
    outb(cmdp[ch] + 6, (u8)(0xa0 | (unit << 4) | extra));
    wait_nbsy(ch);
}

/* the task file as one line */
static void regs(const char *tag, int ch)
{
    puts_(tag);
    puts_(": ");
    for (int r = 1; r <= 6; r++) {
        hex(inb(cmdp[ch] + r), 2);
        putc_(' ');
    }
    hex(inb(ctlp[ch]), 2);
    putc_(' ');
    hex(inb(cmdp[ch] + 7), 2);
    nl();
}

static void cmd(int ch, u8 c)
{
    outb(cmdp[ch] + 7, c);
}

static void taskfile28(int ch, int unit, u32 lba, u8 n, u8 feat)
{
    sel(ch, unit, 0x40 | ((lba >> 24) & 15));
    outb(cmdp[ch] + 1, feat);
    outb(cmdp[ch] + 2, n);
    outb(cmdp[ch] + 3, (u8)lba);
    outb(cmdp[ch] + 4, (u8)(lba >> 8));
    outb(cmdp[ch] + 5, (u8)(lba >> 16));
}

static void taskfile48(int ch, int unit, u32 lba, u16 n)
{
    sel(ch, unit, 0x40);
    outb(cmdp[ch] + 2, (u8)(n >> 8));
    outb(cmdp[ch] + 3, (u8)(lba >> 24));
    outb(cmdp[ch] + 4, 0);
    outb(cmdp[ch] + 5, 0);
    outb(cmdp[ch] + 2, (u8)n);
    outb(cmdp[ch] + 3, (u8)lba);
    outb(cmdp[ch] + 4, (u8)(lba >> 8));
    outb(cmdp[ch] + 5, (u8)(lba >> 16));
}

/* PIO data-in of nsect sectors, `block` sectors per DRQ; returns the last status */
static u8 pio_in(int ch, u8 *buf, u32 nsect, u32 block, int wide)
{
    u8 st = 0;
    while (nsect) {
        st = wait_nbsy(ch);
        if (!(st & 0x08)) {
            return st;
        }
        u32 n = nsect < block ? nsect : block;
        for (u32 i = 0; i < n * 512; i += wide ? 4 : 2) {
            if (wide) {
                *(u32 *)(buf + i) = inl(cmdp[ch]);
            } else {
                *(u16 *)(buf + i) = inw(cmdp[ch]);
            }
        }
        buf += n * 512;
        nsect -= n;
    }
    return wait_nbsy(ch);
}

static u8 pio_out(int ch, const u8 *buf, u32 nsect)
{
    u8 st = 0;
    while (nsect--) {
        st = wait_nbsy(ch);
        if (!(st & 0x08)) {
            return st;
        }
        for (u32 i = 0; i < 512; i += 2) {
            outw(cmdp[ch], *(const u16 *)(buf + i));
        }
        buf += 512;
    }
    return wait_nbsy(ch);
}

static void line_st(const char *tag, u8 st, u32 h)
{
    puts_(tag);
    puts_(": st=");
    hex(st, 2);
    puts_(" sum=");
    hex(h, 8);
    nl();
}

static void identify(const char *tag, int ch, int unit, u8 c)
{
    sel(ch, unit, 0);
    cmd(ch, c);
    u8 st = wait_nbsy(ch);
    puts_(tag);
    puts_(": st=");
    hex(st, 2);
    if (st & 0x08) {
        for (int i = 0; i < 256; i++) {
            ((u16 *)IDBUF)[i] = inw(cmdp[ch]);
        }
        puts_(" ");
        hexbuf(IDBUF, 512);
    }
    nl();
    regs(tag, ch);
}

/* bus master: one PRD entry list at tbl, run command c, wait for the end */
static u16 bm(int ch)
{
    return (u16)(bmbase + ch * 8);
}

static void dma_cmd(const char *tag, int ch, int write, volatile u32 *tbl)
{
    outb(bm(ch), 0);
    outb(bm(ch) + 2, 0x06); /* clear error and interrupt */
    outl(bm(ch) + 4, (u32)(unsigned long)tbl);
    outb(bm(ch), write ? 0x01 : 0x09);
    u8 bs = 0;
    for (u32 i = 0; i < 20000000u; i++) {
        bs = inb(bm(ch) + 2);
        if ((bs & 0x04) || !(bs & 0x01)) {
            break;
        }
    }
    u8 st = wait_nbsy(ch);
    bs = inb(bm(ch) + 2);
    outb(bm(ch), 0);
    puts_(tag);
    puts_(": bm=");
    hex(bs, 2);
    puts_(" st=");
    hex(st, 2);
    puts_(" err=");
    hex(inb(cmdp[ch] + 1), 2);
    nl();
    inb(cmdp[ch] + 7);
    outb(bm(ch) + 2, 0x06);
}

/* ---- ATAPI ---- */
static u32 packet(int ch, int unit, const u8 *p, u8 *buf, u16 limit, int dma, volatile u32 *tbl)
{
    sel(ch, unit, 0);
    outb(cmdp[ch] + 1, dma ? 1 : 0);
    outb(cmdp[ch] + 4, (u8)limit);
    outb(cmdp[ch] + 5, (u8)(limit >> 8));
    if (dma) {
        outb(bm(ch), 0);
        outb(bm(ch) + 2, 0x06);
        outl(bm(ch) + 4, (u32)(unsigned long)tbl);
    }
    cmd(ch, 0xa0);
    u8 st = wait_nbsy(ch);
    if (!(st & 0x08)) {
        return 0xffffffffu;
    }
    for (int i = 0; i < 12; i += 2) {
        outw(cmdp[ch], (u16)(p[i] | p[i + 1] << 8));
    }
    u32 got = 0;
    if (dma) {
        outb(bm(ch), 0x09);
        for (u32 i = 0; i < 20000000u; i++) {
            u8 bs = inb(bm(ch) + 2);
            if ((bs & 0x04) || !(bs & 0x01)) {
                break;
            }
        }
        wait_nbsy(ch);
        outb(bm(ch), 0);
        return 0;
    }
    for (;;) {
        st = wait_nbsy(ch);
        if (!(st & 0x08)) {
            break;
        }
        u32 n = inb(cmdp[ch] + 4) | (u32)inb(cmdp[ch] + 5) << 8;
        for (u32 i = 0; i < n; i += 2) {
            *(u16 *)(buf + got + i) = inw(cmdp[ch]);
        }
        got += n;
    }
    return got;
}

static void atapi(const char *tag, const u8 *p, u16 limit, int show)
{
    memset(BUF, 0xee, 4096);
    u32 got = packet(0, 1, p, BUF, limit, 0, 0);
    puts_(tag);
    puts_(": n=");
    hex(got, 4);
    puts_(" st=");
    hex(inb(0x3f6), 2);
    puts_(" err=");
    hex(inb(0x1f1), 2);
    puts_(" ir=");
    hex(inb(0x1f2), 2);
    puts_(" ");
    if (show && got <= 64) {
        hexbuf(BUF, (int)got);
    } else {
        hex(sum(BUF, got), 8);
    }
    nl();
    inb(0x1f7);
}

static void sense(const char *tag)
{
    static const u8 rs[12] = {0x03, 0, 0, 0, 18, 0};
    atapi(tag, rs, 18, 1);
}

int main(void)
{
    puts_("ide-guest start");
    nl();
    /* the controller: bus master on, BAR 4 */
    pci_write(1, 0x04, pci_read(1, 0x04) | 0x05);
    bmbase = (u16)(pci_read(1, 0x20) & 0xfff0);
    puts_("pci: ");
    hex(pci_read(1, 0), 8);
    putc_(' ');
    hex(pci_read(1, 8), 8);
    putc_(' ');
    hex(pci_read(1, 0x3c), 8);
    nl();
    outb(0x3f6, 0);
    outb(0x376, 0);

    /* soft reset of channel 0: the signatures */
    outb(0x3f6, 0x04);
    outb(0x3f6, 0x00);
    wait_nbsy(0);
    sel(0, 0, 0);
    regs("sig0.0", 0);
    sel(0, 1, 0);
    regs("sig0.1", 0);
    sel(1, 1, 0);
    regs("sig1.1-absent", 1);

    identify("id-hd", 0, 0, 0xec);
    identify("id-cd-ata", 0, 1, 0xec);
    identify("id-cd", 0, 1, 0xa1);
    identify("id-hd2", 1, 0, 0xec);
    identify("id-hd-packet", 0, 0, 0xa1);

    /* PIO reads: LBA28 single, 32-bit data port, READ MULTIPLE, LBA48, CHS */
    taskfile28(0, 0, 0, 3, 0);
    cmd(0, 0x20);
    line_st("pio-read28", pio_in(0, BUF, 3, 1, 0), sum(BUF, 3 * 512));
    regs("pio-read28", 0);
    taskfile28(0, 0, 1, 2, 0);
    cmd(0, 0x20);
    line_st("pio-read32", pio_in(0, BUF, 2, 1, 1), sum(BUF, 2 * 512));
    taskfile28(0, 0, 0, 4, 0);
    cmd(0, 0xc6);
    regs("set-mult", 0);
    taskfile28(0, 0, 4, 10, 0);
    cmd(0, 0xc4);
    line_st("read-mult", pio_in(0, BUF, 10, 4, 0), sum(BUF, 10 * 512));
    regs("read-mult", 0);
    taskfile48(0, 0, 5, 3);
    cmd(0, 0x24);
    line_st("read-ext", pio_in(0, BUF, 3, 1, 0), sum(BUF, 3 * 512));
    regs("read-ext", 0);
    sel(0, 0, 0); /* CHS: cyl 0 head 1 sector 2 */
    outb(0x1f2, 1);
    outb(0x1f3, 2);
    outb(0x1f4, 0);
    outb(0x1f5, 0);
    outb(0x1f6, 0xa1);
    cmd(0, 0x20);
    line_st("read-chs", pio_in(0, BUF, 1, 1, 0), sum(BUF, 512));
    regs("read-chs", 0);
    taskfile28(0, 0, 0x7fff, 2, 0); /* past the end */
    cmd(0, 0x20);
    wait_nbsy(0);
    regs("read-oob", 0);
    taskfile28(0, 0, 0, 1, 0);
    cmd(0, 0xf8);
    wait_nbsy(0);
    regs("native-max", 0);
    taskfile28(0, 0, 0, 0, 0);
    cmd(0, 0xe7);
    wait_nbsy(0);
    regs("flush", 0);
    taskfile28(0, 0, 0, 0x45, 0x03);
    cmd(0, 0xef);
    wait_nbsy(0);
    regs("set-udma5", 0);
    identify("id-hd-udma5", 0, 0, 0xec);
    taskfile28(0, 0, 0, 0, 0x77);
    cmd(0, 0xef);
    wait_nbsy(0);
    regs("set-features-bad", 0);
    taskfile28(0, 0, 0, 0, 0);
    cmd(0, 0x00);
    wait_nbsy(0);
    regs("nop", 0);

    /* PIO write to the scratch disk, read back by DMA */
    for (int i = 0; i < 1024; i++) {
        BUF2[i] = (u8)(i * 7 + 3);
    }
    taskfile28(1, 0, 10, 2, 0);
    cmd(1, 0x30);
    line_st("pio-write", pio_out(1, BUF2, 2), 0);
    regs("pio-write", 1);

    /* DMA read of 12 sectors through two PRD entries, into BUF */
    memset(BUF, 0, 6144);
    PRD[0] = BUFA;
    PRD[1] = 2048;
    PRD[2] = BUFA + 0x800;
    PRD[3] = 0x80000000u | 4096;
    taskfile28(0, 0, 0, 12, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-read", 0, 0, PRD);
    line_st("dma-read", inb(0x3f6), sum(BUF, 6144));
    regs("dma-read", 0);
    /* the same sectors by PIO agree */
    taskfile28(0, 0, 0, 12, 0);
    cmd(0, 0x20);
    line_st("pio-same", pio_in(0, BUF, 12, 1, 0), sum(BUF, 6144));

    /* DMA read back of the PIO write on channel 1 */
    memset(BUF, 0, 1024);
    PRD2[0] = BUFA;
    PRD2[1] = 0x80000000u | 1024;
    taskfile28(1, 0, 10, 2, 0);
    cmd(1, 0xc8);
    dma_cmd("dma-readback", 1, 0, PRD2);
    line_st("dma-readback", inb(0x376), sum(BUF, 1024));
    puts_("readback-equal: ");
    hex(sum(BUF, 1024) == sum(BUF2, 1024), 1);
    nl();

    /* DMA write, 48-bit, then FLUSH CACHE EXT */
    for (int i = 0; i < 2048; i++) {
        BUF2[i] = (u8)(i ^ 0x5a);
    }
    PRD2[0] = 0x4000;
    PRD2[1] = 0x80000000u | 2048;
    taskfile48(1, 0, 20, 4);
    cmd(1, 0x35);
    dma_cmd("dma-write-ext", 1, 1, PRD2);
    regs("dma-write-ext", 1);
    taskfile28(1, 0, 0, 0, 0);
    cmd(1, 0xea);
    wait_nbsy(1);
    regs("flush-ext", 1);

    /* a PRD table too short for the command */
    PRD[0] = BUFA;
    PRD[1] = 0x80000000u | 1024;
    taskfile28(0, 0, 0, 4, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-short-prd", 0, 0, PRD);
    regs("dma-short-prd", 0);

    /* ATAPI on the CD (ide.0 slave) */
    static const u8 tur[12] = {0x00};
    static const u8 inq[12] = {0x12, 0, 0, 0, 36, 0};
    static const u8 inq_vpd[12] = {0x12, 1, 0, 0, 64, 0};
    static const u8 cap[12] = {0x25};
    static const u8 ms2a[12] = {0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64, 0};
    static const u8 ms01[12] = {0x5a, 0, 0x01, 0, 0, 0, 0, 0, 64, 0};
    static const u8 ms_saved[12] = {0x5a, 0, 0xea, 0, 0, 0, 0, 0, 64, 0};
    static const u8 gc[12] = {0x46, 0, 0, 0, 0, 0, 0, 0, 64, 0};
    static const u8 toc0[12] = {0x43, 0, 0, 0, 0, 0, 0, 0, 64, 0};
    static const u8 toc0msf[12] = {0x43, 2, 0, 0, 0, 0, 0, 0, 64, 0};
    static const u8 toc1[12] = {0x43, 0, 0, 0, 0, 0, 0, 0, 64, 0x40};
    static const u8 gesn[12] = {0x4a, 1, 0, 0, 0x10, 0, 0, 0, 64, 0};
    static const u8 mech[12] = {0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 64};
    static const u8 rdi[12] = {0x51, 0, 0, 0, 0, 0, 0, 0, 64, 0};
    static const u8 rd10[12] = {0x28, 0, 0, 0, 0, 16, 0, 0, 3, 0};
    static const u8 rd12[12] = {0xa8, 0, 0, 0, 0, 17, 0, 0, 0, 1, 0};
    static const u8 rd_oob[12] = {0x28, 0, 0, 0x10, 0, 0, 0, 0, 1, 0};
    static const u8 bad[12] = {0xff};
    static const u8 lock[12] = {0x1e, 0, 0, 0, 1, 0};
    static const u8 unlock[12] = {0x1e, 0, 0, 0, 0, 0};
    static const u8 eject[12] = {0x1b, 0, 0, 0, 2, 0};
    static const u8 load[12] = {0x1b, 0, 0, 0, 3, 0};
    atapi("tur", tur, 0, 1);
    sense("tur-sense");
    atapi("inquiry", inq, 64, 1);
    atapi("inquiry-vpd", inq_vpd, 64, 1);
    atapi("capacity", cap, 64, 1);
    atapi("mode-sense-2a", ms2a, 64, 1);
    atapi("mode-sense-01", ms01, 64, 1);
    atapi("mode-sense-saved", ms_saved, 64, 1);
    sense("mode-sense-saved-sense");
    atapi("get-config", gc, 64, 1);
    atapi("toc", toc0, 64, 1);
    atapi("toc-msf", toc0msf, 64, 1);
    atapi("toc-session", toc1, 64, 1);
    atapi("gesn", gesn, 64, 1);
    atapi("mech-status", mech, 64, 1);
    atapi("disc-info", rdi, 64, 1);
    atapi("read10", rd10, 2048, 0);
    atapi("read10-small-limit", rd10, 1000, 0);
    atapi("read12", rd12, 0xffff, 0);
    atapi("read-oob", rd_oob, 2048, 1);
    sense("read-oob-sense");
    atapi("bad-opcode", bad, 64, 1);
    sense("bad-opcode-sense");
    /* a READ through the bus master */
    memset(BUF, 0, 6144);
    PRD[0] = BUFA;
    PRD[1] = 0x80000000u | 6144;
    packet(0, 1, rd10, BUF, 0, 1, PRD);
    puts_("read10-dma: bm=");
    hex(inb(bm(0) + 2), 2);
    puts_(" st=");
    hex(inb(0x3f6), 2);
    puts_(" ir=");
    hex(inb(0x1f2), 2);
    puts_(" sum=");
    hex(sum(BUF, 6144), 8);
    nl();
    inb(0x1f7);
    outb(bm(0) + 2, 0x06);
    atapi("lock", lock, 0, 1);
    atapi("eject-locked", eject, 0, 1);
    sense("eject-locked-sense");
    atapi("unlock", unlock, 0, 1);
    atapi("eject", eject, 0, 1);
    atapi("tur-open", tur, 0, 1);
    sense("tur-open-sense");
    atapi("gesn-open", gesn, 64, 1);
    atapi("load", load, 0, 1);
    atapi("tur-loaded", tur, 0, 1);
    atapi("gesn-loaded", gesn, 64, 1);

    /* DEVICE RESET of the CD, EXECUTE DEVICE DIAGNOSTIC */
    sel(0, 1, 0);
    cmd(0, 0x08);
    wait_nbsy(0);
    regs("device-reset", 0);
    sel(0, 0, 0);
    cmd(0, 0x90);
    wait_nbsy(0);
    regs("diagnostic", 0);

    /* ---- malformed input: Vireo refuses DMA outside RAM ---- */
    puts_("== vireo");
    nl();
    PRD[0] = 0xc0000000u; /* a buffer in the PCI hole (no RAM, no device) */
    PRD[1] = 0x80000000u | 512;
    taskfile28(0, 0, 0, 1, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-buffer-unmapped", 0, 0, PRD);
    taskfile28(0, 0, 0, 1, 0); /* a PRD table outside RAM */
    cmd(0, 0xc8);
    dma_cmd("dma-table-unmapped", 0, 0, (volatile u32 *)0xd0000000u);
    PRD[0] = 0xffffff00u; /* a buffer that runs off the end of the address space */
    PRD[1] = 0x80000000u | 0x1000;
    taskfile28(0, 0, 0, 8, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-buffer-wrap", 0, 0, PRD);
    PRD[0] = 0x000f0000u; /* DMA into the BIOS ROM */
    PRD[1] = 0x80000000u | 512;
    taskfile28(0, 0, 0, 1, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-into-rom", 0, 0, PRD);
    /* a PRD table with no end entry: at most one page of it is read */
    for (int i = 0; i < 1024; i++) {
        PRD[i] = (i & 1) ? 2 : BUFA;
    }
    taskfile28(0, 0, 0, 4, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-endless-table", 0, 0, PRD);
    /* the channel still works */
    PRD[0] = BUFA;
    PRD[1] = 0x80000000u | 512;
    memset(BUF, 0, 512);
    taskfile28(0, 0, 1, 1, 0);
    cmd(0, 0xc8);
    dma_cmd("dma-after", 0, 0, PRD);
    line_st("dma-after", inb(0x3f6), sum(BUF, 512));
    puts_("ide-guest done");
    nl();
    outb(0x501, 0x21);
    for (;;) {
        __asm__ volatile("hlt");
    }
    return 0;
}
