/*
 * e1000 (docs/net.md): Intel's 82540EM gigabit controller as QEMU 7.2 models it, the default NIC
 * of QEMU's pc machine; also its 82544GC and 82545EM variants.
 *
 * Registers live in one array indexed by offset / 4 (BAR 0, 128 KiB, 32-bit accesses; smaller
 * ones are widened as QEMU's memory core does). Which registers read and write, and how, follows
 * QEMU's tables: most are plain storage, the rest have handlers (interrupt cause/mask, the
 * EEPROM's Microwire port and EERD, the PHY through MDIC, the descriptor ring heads and tails).
 * BAR 1 is the 64-byte I/O window, which reads 0 as QEMU's does.
 *
 * Transmit runs when the driver writes TDT or TCTL (on the vCPU thread, big lock held): legacy
 * and extended data descriptors, context descriptors with checksum insertion and TCP/UDP
 * segmentation (TSO), VLAN tag insertion. Receive: the peer hands a frame; the receive filter
 * (unicast table RA, multicast hash MTA, broadcast, promiscuous, VLAN table), then as many
 * descriptors as the frame needs. Interrupts: ICR/IMS with QEMU's mitigation (ITR, RADV/TADV).
 * Link: the PHY's auto-negotiation takes 500 ms of virtual time after the driver restarts it.
 *
 * Every guest memory access goes through pci_dma_read/pci_dma_write: a descriptor or buffer
 * outside RAM drops the frame (and stops that ring's walk), never more.
 */
#include <string.h>
#include <glib.h>
#include "vireo/device.h"
#include "vireo/machine.h"
#include "vireo/memory.h"
#include "vireo/net.h"
#include "vireo/pci.h"
#include "vireo/timer.h"
#include "vireo/vmstate.h"

/* register indices (byte offset / 4) */
enum {
    CTRL = 0x0000 >> 2,
    STATUS = 0x0008 >> 2,
    EECD = 0x0010 >> 2,
    EERD = 0x0014 >> 2,
    MDIC = 0x0020 >> 2,
    VET = 0x0038 >> 2,
    ICR = 0x00c0 >> 2,
    ITR = 0x00c4 >> 2,
    ICS = 0x00c8 >> 2,
    IMS = 0x00d0 >> 2,
    IMC = 0x00d8 >> 2,
    RCTL = 0x0100 >> 2,
    TCTL = 0x0400 >> 2,
    AIT = 0x0458 >> 2,
    LEDCTL = 0x0e00 >> 2,
    PBA = 0x1000 >> 2,
    RDFH = 0x2410 >> 2,
    RDFT = 0x2418 >> 2,
    RDFHS = 0x2420 >> 2,
    RDFTS = 0x2428 >> 2,
    RDFPC = 0x2430 >> 2,
    RDBAL = 0x2800 >> 2,
    RDBAH = 0x2804 >> 2,
    RDLEN = 0x2808 >> 2,
    RDH = 0x2810 >> 2,
    RDT = 0x2818 >> 2,
    RDTR = 0x2820 >> 2,
    RADV = 0x282c >> 2,
    TDFH = 0x3410 >> 2,
    TDFT = 0x3418 >> 2,
    TDFHS = 0x3420 >> 2,
    TDFTS = 0x3428 >> 2,
    TDFPC = 0x3430 >> 2,
    TDBAL = 0x3800 >> 2,
    TDBAH = 0x3804 >> 2,
    TDLEN = 0x3808 >> 2,
    TDH = 0x3810 >> 2,
    TDT = 0x3818 >> 2,
    TXDCTL = 0x3828 >> 2,
    TADV = 0x382c >> 2,
    CRCERRS = 0x4000 >> 2,
    MPC = 0x4010 >> 2,
    SCC = 0x4014 >> 2,
    ECOL = 0x4018 >> 2,
    MCC = 0x401c >> 2,
    LATECOL = 0x4020 >> 2,
    COLC = 0x4028 >> 2,
    DC = 0x4030 >> 2,
    TNCRS = 0x4034 >> 2,
    SEQEC = 0x4038 >> 2,
    CEXTERR = 0x403c >> 2,
    RLEC = 0x4040 >> 2,
    XONRXC = 0x4048 >> 2,
    XONTXC = 0x404c >> 2,
    XOFFRXC = 0x4050 >> 2,
    XOFFTXC = 0x4054 >> 2,
    FCRUC = 0x4058 >> 2,
    PRC64 = 0x405c >> 2,
    PRC127 = 0x4060 >> 2,
    PRC255 = 0x4064 >> 2,
    PRC511 = 0x4068 >> 2,
    PRC1023 = 0x406c >> 2,
    PRC1522 = 0x4070 >> 2,
    GPRC = 0x4074 >> 2,
    BPRC = 0x4078 >> 2,
    MPRC = 0x407c >> 2,
    GPTC = 0x4080 >> 2,
    GORCL = 0x4088 >> 2,
    GORCH = 0x408c >> 2,
    GOTCL = 0x4090 >> 2,
    GOTCH = 0x4094 >> 2,
    RNBC = 0x40a0 >> 2,
    RUC = 0x40a4 >> 2,
    RFC = 0x40a8 >> 2,
    ROC = 0x40ac >> 2,
    RJC = 0x40b0 >> 2,
    MGTPRC = 0x40b4 >> 2,
    MGTPDC = 0x40b8 >> 2,
    MGTPTC = 0x40bc >> 2,
    TORL = 0x40c0 >> 2,
    TORH = 0x40c4 >> 2,
    TOTL = 0x40c8 >> 2,
    TOTH = 0x40cc >> 2,
    TPR = 0x40d0 >> 2,
    TPT = 0x40d4 >> 2,
    PTC64 = 0x40d8 >> 2,
    PTC127 = 0x40dc >> 2,
    PTC255 = 0x40e0 >> 2,
    PTC511 = 0x40e4 >> 2,
    PTC1023 = 0x40e8 >> 2,
    PTC1522 = 0x40ec >> 2,
    MPTC = 0x40f0 >> 2,
    BPTC = 0x40f4 >> 2,
    TSCTC = 0x40f8 >> 2,
    TSCTFC = 0x40fc >> 2,
    MTA = 0x5200 >> 2,
    RA = 0x5400 >> 2,
    VFTA = 0x5600 >> 2,
    WUC = 0x5800 >> 2,
    WUFC = 0x5808 >> 2,
    WUS = 0x5810 >> 2,
    MANC = 0x5820 >> 2,
    IPAV = 0x5838 >> 2,
    IP4AT = 0x5840 >> 2,
    IP6AT = 0x5880 >> 2,
    WUPM = 0x5a00 >> 2,
    SWSM = 0x5b50 >> 2,
    FFLT = 0x5f00 >> 2,
    FFMT = 0x9000 >> 2,
    FFVT = 0x9800 >> 2,
    PBM = 0x10000 >> 2,
    NREGS = 0x20000 >> 2,
};

#define CTRL_RST      0x04000000u
#define CTRL_VME      0x40000000u
#define STATUS_LU     0x00000002u
#define EECD_SK       0x01u
#define EECD_CS       0x02u
#define EECD_DI       0x04u
#define EECD_DO       0x08u
#define EECD_FWE      0x30u
#define EECD_REQ      0x40u
#define EECD_GNT      0x80u
#define EECD_PRES     0x100u
#define EERD_START    0x01u
#define EERD_DONE     0x10u
#define MDIC_OP_WRITE 0x04000000u
#define MDIC_OP_READ  0x08000000u
#define MDIC_READY    0x10000000u
#define MDIC_INT_EN   0x20000000u
#define MDIC_ERROR    0x40000000u
#define ICR_TXDW      0x01u
#define ICR_TXQE      0x02u
#define ICR_LSC       0x04u
#define ICR_RXDMT0    0x10u
#define ICR_RXO       0x40u
#define ICR_RXT0      0x80u
#define ICR_MDAC      0x200u
#define RCTL_EN       0x02u
#define RCTL_SBP      0x04u
#define RCTL_UPE      0x08u
#define RCTL_MPE      0x10u
#define RCTL_LPE      0x20u
#define RCTL_BAM      0x8000u
#define RCTL_VFE      0x40000u
#define RCTL_BSEX     0x02000000u
#define RCTL_SECRC    0x04000000u
#define TCTL_EN       0x02u
#define RAH_AV        0x80000000u
/* transmit descriptor command bits (in the second dword) */
#define TXD_EOP       0x01000000u
#define TXD_TSE       0x04000000u
#define TXD_RS        0x08000000u
#define TXD_RPS       0x10000000u
#define TXD_DEXT      0x20000000u
#define TXD_VLE       0x40000000u
#define TXD_IDE       0x80000000u
#define TXD_DTYP_D    0x00100000u
#define TXD_CMD_TCP   0x01000000u
#define TXD_CMD_IP    0x02000000u
#define TXD_STAT_DD   0x01u
#define POPTS_IXSM    0x01u
#define POPTS_TXSM    0x02u
#define RXD_STAT_DD   0x01u
#define RXD_STAT_EOP  0x02u
#define RXD_STAT_IXSM 0x04u
#define RXD_STAT_VP   0x08u

/* PHY (MII) registers and bits */
enum {
    BMCR = 0,
    BMSR = 1,
    PHYID1 = 2,
    PHYID2 = 3,
    ANAR = 4,
    ANLPAR = 5,
    ANER = 6,
    CTRL1000 = 9,
    STAT1000 = 10,
    PHY_SPEC_CTRL = 0x10,
    PHY_SPEC_STATUS = 0x11,
    EXT_PHY_SPEC_CTRL = 0x14,
    RX_ERR_CNTR = 0x15
};
#define BMCR_ANRESTART 0x0200u
#define BMCR_AUTOEN    0x1000u
#define BMCR_LOOPBACK  0x4000u
#define BMCR_RESET     0x8000u
#define BMSR_LINK_ST   0x0004u
#define BMSR_AN_COMP   0x0020u
#define ANLPAR_ACK     0x4000u

#define FLAG_AUTONEG 1u
#define FLAG_MIT     2u
#define FLAG_MAC     4u
#define FLAG_TSO     8u
#define FLAG_VET     16u

#define TX_BUF_SIZE 0x10000
#define RX_MAX      0x10000
#define ETH_ZLEN    60

typedef struct E1000Model {
    const char *name;
    uint16_t device_id, phy_id2;
} E1000Model;

typedef struct TxProps {
    uint8_t ipcss, ipcso, tucss, tucso, hdr_len, ip, tcp;
    uint16_t ipcse, tucse, mss;
    uint32_t paylen;
} TxProps;

typedef struct E1000State {
    PCIDevice pci; /* first */
    MemoryRegion mmio, io;
    NetClientState *nc;
    const E1000Model *model;
    /* properties */
    char *netdev;
    uint8_t mac_prop[6];
    int32_t bootindex;
    bool p_autoneg, p_mit, p_mac, p_tso, p_vet;
    uint32_t flags; /* FLAG_* from the properties */

    uint32_t mac[NREGS];
    uint16_t phy[0x20];
    uint16_t eeprom[64];
    uint32_t rxbuf_size, rxbuf_min_shift;
    /* the EEPROM's Microwire port */
    uint32_t ee_val_in, ee_old;
    uint16_t ee_bit_in, ee_bit_out, ee_reading;
    /* transmit: the frame being assembled */
    TxProps props, tso_props;
    uint32_t tx_size;
    uint16_t tso_frames;
    uint8_t sum_needed, vlan_needed, cptse, tx_bad;
    uint8_t vlan_header[4];
    uint8_t tx_header[256];
    uint8_t tx_data[TX_BUF_SIZE];
    bool tx_busy;
    /* interrupt mitigation */
    VTimer mit_timer, autoneg_timer, flush_timer;
    bool mit_on, mit_level;
    uint32_t mit_ide;
    uint8_t rx_buf[RX_MAX];
} E1000State;

static const E1000Model model_82540em = {"e1000", 0x100e, 0x0c20};
static const E1000Model model_82544gc = {"e1000-82544gc", 0x100c, 0x0c30};
static const E1000Model model_82545em = {"e1000-82545em", 0x100f, 0x0c20};

/* EEPROM words as QEMU's template: MAC in 0-2, device ID in 11 and 13, checksum in 63 */
static const uint16_t eeprom_template[64] = {
    0x0000, 0x0000, 0x0000, 0x0000, 0xffff, 0x0000, 0x0000, 0x0000, 0x3000, 0x1000, 0x6403,
    0x0000, 0x8086, 0x0000, 0x8086, 0x3040, 0x0008, 0x2000, 0x7e14, 0x0048, 0x1000, 0x00d8,
    0x0000, 0x2700, 0x6cc9, 0x3150, 0x0722, 0x040b, 0x0984, 0x0000, 0xc000, 0x0706, 0x1008,
    0x0000, 0x0f04, 0x7fff, 0x4d01, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
    0xffff, 0xffff, 0xffff, 0xffff, 0x0100, 0x4000, 0x121c, 0xffff, 0xffff, 0xffff, 0xffff,
    0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0x0000,
};

static uint16_t ld16be(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void st16be(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static uint32_t ld32le(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void st32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (v >> (8 * i)) & 0xff;
    }
}

/* ---- statistics ---------------------------------------------------------------------------- */

static void inc_reg(E1000State *s, int r)
{
    if (s->mac[r] != 0xffffffffu) {
        s->mac[r]++;
    }
}

static void grow_8reg(E1000State *s, int lo, uint64_t n)
{
    uint64_t v = ((uint64_t)s->mac[lo + 1] << 32 | s->mac[lo]);
    v = v + n < v ? UINT64_MAX : v + n;
    s->mac[lo] = (uint32_t)v;
    s->mac[lo + 1] = (uint32_t)(v >> 32);
}

static void size_stats(E1000State *s, const int regs[6], size_t size)
{
    if (size > 1023) {
        inc_reg(s, regs[5]);
    } else if (size > 511) {
        inc_reg(s, regs[4]);
    } else if (size > 255) {
        inc_reg(s, regs[3]);
    } else if (size > 127) {
        inc_reg(s, regs[2]);
    } else if (size > 64) {
        inc_reg(s, regs[1]);
    } else if (size == 64) {
        inc_reg(s, regs[0]);
    }
}

/* ---- interrupts ---------------------------------------------------------------------------- */

static void lower_delay(uint32_t *cur, uint32_t v)
{
    if (v && (*cur == 0 || v < *cur)) {
        *cur = v;
    }
}

/* ICR (and ICS, which reads the same) := cause; the line follows ICR & IMS, rising edges
   held back by the mitigation timer (ITR in 256 ns units, RADV/TADV in 1024 ns) */
static void set_cause(E1000State *s, uint32_t cause)
{
    s->mac[ICR] = cause;
    s->mac[ICS] = cause;
    uint32_t pending = s->mac[IMS] & s->mac[ICR];
    if (!s->mit_level && pending) {
        if (s->mit_on) {
            return;
        }
        if (s->flags & FLAG_MIT) {
            uint32_t delay = 0;
            if (s->mit_ide && (pending & (ICR_TXQE | ICR_TXDW))) {
                lower_delay(&delay, s->mac[TADV] * 4);
            }
            if (s->mac[RDTR] && (pending & ICR_RXT0)) {
                lower_delay(&delay, s->mac[RADV] * 4);
            }
            lower_delay(&delay, s->mac[ITR]);
            if (delay < 500) {
                delay = 500;
            }
            s->mit_on = true;
            vtimer_mod(&s->mit_timer, vclock_ns() + (int64_t)delay * 256);
            s->mit_ide = 0;
        }
    }
    s->mit_level = pending != 0;
    pci_set_irq(&s->pci, s->mit_level);
}

static void set_ics(E1000State *s, uint32_t bits)
{
    set_cause(s, s->mac[ICR] | bits);
}

static void mit_timer_cb(void *opaque)
{
    E1000State *s = opaque;
    s->mit_on = false;
    set_cause(s, s->mac[ICR]);
}

/* ---- link ---------------------------------------------------------------------------------- */

static void link_down_regs(E1000State *s)
{
    s->mac[STATUS] &= ~STATUS_LU;
    s->phy[BMSR] &= ~(BMSR_LINK_ST | BMSR_AN_COMP);
    s->phy[ANLPAR] &= ~ANLPAR_ACK;
}

static void link_up_regs(E1000State *s)
{
    s->mac[STATUS] |= STATUS_LU;
    s->phy[BMSR] |= BMSR_LINK_ST;
}

static bool have_autoneg(E1000State *s)
{
    return (s->flags & FLAG_AUTONEG) && (s->phy[BMCR] & BMCR_AUTOEN);
}

static void restart_autoneg(E1000State *s)
{
    link_down_regs(s);
    vtimer_mod(&s->autoneg_timer, vclock_ns() + 500 * 1000 * 1000LL);
}

static void autoneg_timer_cb(void *opaque)
{
    E1000State *s = opaque;
    if (s->nc && s->nc->link_down) {
        return;
    }
    link_up_regs(s);
    s->phy[ANLPAR] |= ANLPAR_ACK;
    s->phy[BMSR] |= BMSR_AN_COMP;
    if (s->nc) {
        net_flush_queue(s->nc);
    }
    set_ics(s, ICR_LSC);
}

static void nic_link_changed(NetClientState *nc)
{
    E1000State *s = nc->opaque;
    uint32_t old = s->mac[STATUS];
    if (nc->link_down) {
        link_down_regs(s);
    } else if (have_autoneg(s) && !(s->phy[BMSR] & BMSR_AN_COMP)) {
        restart_autoneg(s);
    } else {
        link_up_regs(s);
        net_flush_queue(nc);
    }
    if (s->mac[STATUS] != old) {
        set_ics(s, ICR_LSC);
    }
}

/* ---- PHY through MDIC ---------------------------------------------------------------------- */

enum { PHY_R = 1, PHY_W = 2, PHY_RW = 3 };
static const uint8_t phy_cap[0x20] = {
    [BMCR] = PHY_RW,
    [BMSR] = PHY_R,
    [PHYID1] = PHY_R,
    [PHYID2] = PHY_R,
    [ANAR] = PHY_RW,
    [ANLPAR] = PHY_R,
    [ANER] = PHY_R,
    [CTRL1000] = PHY_RW,
    [STAT1000] = PHY_R,
    [PHY_SPEC_CTRL] = PHY_RW,
    [PHY_SPEC_STATUS] = PHY_R,
    [EXT_PHY_SPEC_CTRL] = PHY_RW,
    [RX_ERR_CNTR] = PHY_R,
};

static void set_mdic(E1000State *s, uint32_t val)
{
    uint32_t data = val & 0xffff, reg = (val >> 16) & 0x1f;
    if (((val >> 21) & 0x1f) != 1) { /* only PHY address 1 answers */
        val = s->mac[MDIC] | MDIC_ERROR;
    } else if (val & MDIC_OP_READ) {
        if (!(phy_cap[reg] & PHY_R)) {
            val |= MDIC_ERROR;
        } else {
            val = (val ^ data) | s->phy[reg];
        }
    } else if (val & MDIC_OP_WRITE) {
        if (!(phy_cap[reg] & PHY_W)) {
            val |= MDIC_ERROR;
        } else if (reg == BMCR) {
            s->phy[BMCR] = data & ~(0x3fu | BMCR_RESET | BMCR_ANRESTART);
            if (have_autoneg(s) && (data & BMCR_ANRESTART)) {
                restart_autoneg(s);
            }
        } else {
            s->phy[reg] = data;
        }
    }
    s->mac[MDIC] = val | MDIC_READY;
    if (val & MDIC_INT_EN) {
        set_ics(s, ICR_MDAC);
    }
}

/* ---- EEPROM -------------------------------------------------------------------------------- */

static uint32_t get_eecd(E1000State *s)
{
    uint32_t v = EECD_PRES | EECD_GNT | s->ee_old;
    if (!s->ee_reading ||
        ((s->eeprom[(s->ee_bit_out >> 4) & 0x3f] >> ((s->ee_bit_out & 0xf) ^ 0xf)) & 1)) {
        v |= EECD_DO;
    }
    return v;
}

static void set_eecd(E1000State *s, uint32_t val)
{
    uint32_t old = s->ee_old;
    s->ee_old = val & (EECD_SK | EECD_CS | EECD_DI | EECD_FWE | EECD_REQ);
    if (!(val & EECD_CS)) {
        return;
    }
    if ((val ^ old) & EECD_CS) { /* chip select rises: a new command */
        s->ee_val_in = 0;
        s->ee_bit_in = s->ee_bit_out = s->ee_reading = 0;
    }
    if (!((val ^ old) & EECD_SK)) {
        return;
    }
    if (!(val & EECD_SK)) { /* falling clock: next output bit */
        s->ee_bit_out++;
        return;
    }
    s->ee_val_in = s->ee_val_in << 1 | !!(val & EECD_DI);
    if (++s->ee_bit_in == 9 && !s->ee_reading) {
        /* start bit, 2-bit opcode (6 = read), 6-bit word address */
        s->ee_bit_out = (uint16_t)(((s->ee_val_in & 0x3f) << 4) - 1);
        s->ee_reading = ((s->ee_val_in >> 6) & 7) == 6;
    }
}

static uint32_t get_eerd(E1000State *s)
{
    uint32_t r = s->mac[EERD] & ~EERD_START;
    if (!(s->mac[EERD] & EERD_START)) {
        return s->mac[EERD];
    }
    unsigned idx = r >> 8;
    if (idx > 63) {
        return EERD_DONE | r;
    }
    return (uint32_t)s->eeprom[idx] << 16 | EERD_DONE | r;
}

/* ---- transmit ------------------------------------------------------------------------------ */

static uint32_t csum_add(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    }
    return sum;
}

static uint16_t csum_finish_nozero(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    uint16_t r = (uint16_t)~sum;
    return r ? r : 0xffff;
}

/* write the checksum of [css, end] at sloc (end: cse when set and inside the frame) */
static void put_sum(uint8_t *d, uint32_t n, uint32_t sloc, uint32_t css, uint32_t cse)
{
    if (cse && cse < n) {
        n = cse + 1;
    }
    if (n >= 1 && sloc < n - 1) {
        uint32_t sum = css < n ? csum_add(d + css, n - css) : 0;
        st16be(d + sloc, csum_finish_nozero(sum));
    }
}

static void send_frame(E1000State *s, const uint8_t *buf, size_t size, const uint8_t *vlan)
{
    static const int ptc[6] = {PTC64, PTC127, PTC255, PTC511, PTC1023, PTC1522};
    struct iovec iov[3];
    int n = 0;
    size_t total = size;
    if (vlan && size >= 12) {
        iov[n++] = (struct iovec){(void *)buf, 12};
        iov[n++] = (struct iovec){(void *)vlan, 4};
        iov[n++] = (struct iovec){(void *)(buf + 12), size - 12};
        total += 4;
    } else {
        iov[n++] = (struct iovec){(void *)buf, size};
    }
    if (s->nc) {
        if (s->phy[BMCR] & BMCR_LOOPBACK) {
            /* PHY loopback: the frame comes straight back in */
            uint8_t *copy = g_malloc(total);
            size_t off = 0;
            for (int i = 0; i < n; i++) {
                memcpy(copy + off, iov[i].iov_base, iov[i].iov_len);
                off += iov[i].iov_len;
            }
            struct iovec one = {copy, total};
            s->nc->info->receive(s->nc, &one, 1);
            g_free(copy);
        } else {
            net_send_iov(s->nc, iov, n);
        }
    }
    const uint8_t *dst = buf;
    if (size >= 6) {
        static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        if (!memcmp(dst, bcast, 6)) {
            inc_reg(s, BPTC);
        } else if (dst[0] & 1) {
            inc_reg(s, MPTC);
        }
    }
    size_stats(s, ptc, total + 4);
}

/* one frame (a TSO segment) out of tx_data */
static void xmit_seg(E1000State *s)
{
    TxProps *p = s->cptse ? &s->tso_props : &s->props;
    uint8_t *d = s->tx_data;
    uint32_t size = s->tx_size;
    if (s->cptse) {
        uint32_t css = p->ipcss, frames = s->tso_frames;
        if (p->ip) { /* IPv4: total length, identification + segment number */
            st16be(d + css + 2, (uint16_t)(size - css));
            st16be(d + css + 4, (uint16_t)(ld16be(d + css + 4) + frames));
        } else { /* IPv6: payload length */
            st16be(d + css + 4, (uint16_t)(size - css));
        }
        css = p->tucss;
        uint16_t len = (uint16_t)(size - css);
        if (p->tcp) {
            uint32_t sofar = frames * p->mss;
            uint8_t *seq = d + css + 4;
            uint32_t v = (uint32_t)(seq[0] << 24 | seq[1] << 16 | seq[2] << 8 | seq[3]) + sofar;
            seq[0] = v >> 24;
            seq[1] = (v >> 16) & 0xff;
            seq[2] = (v >> 8) & 0xff;
            seq[3] = v & 0xff;
            if (p->paylen - sofar > p->mss) {
                d[css + 13] &= ~9; /* PSH, FIN only on the last segment */
            } else if (frames) {
                inc_reg(s, TSCTC);
            }
        } else {
            st16be(d + css + 4, len);
        }
        if (s->sum_needed & POPTS_TXSM) { /* the pseudo-header sum gets the length */
            uint32_t ph = ld16be(d + p->tucso) + len;
            ph = (ph >> 16) + (ph & 0xffff);
            st16be(d + p->tucso, (uint16_t)ph);
        }
        s->tso_frames++;
    }
    if (s->sum_needed & POPTS_TXSM) {
        put_sum(d, size, p->tucso, p->tucss, p->tucse);
    }
    if (s->sum_needed & POPTS_IXSM) {
        put_sum(d, size, p->ipcso, p->ipcss, p->ipcse);
    }
    send_frame(s, d, size, s->vlan_needed ? s->vlan_header : NULL);
    inc_reg(s, TPT);
    grow_8reg(s, TOTL, size + 4u);
    inc_reg(s, GPTC);
    grow_8reg(s, GOTCL, size + 4u);
}

static void read_ctx(const uint8_t *desc, TxProps *p)
{
    uint32_t op = ld32le(desc + 8);
    p->ipcss = desc[0];
    p->ipcso = desc[1];
    p->ipcse = (uint16_t)(desc[2] | desc[3] << 8);
    p->tucss = desc[4];
    p->tucso = desc[5];
    p->tucse = (uint16_t)(desc[6] | desc[7] << 8);
    p->paylen = op & 0xfffff;
    p->hdr_len = desc[13];
    p->mss = (uint16_t)(desc[14] | desc[15] << 8);
    p->ip = !!(op & TXD_CMD_IP);
    p->tcp = !!(op & TXD_CMD_TCP);
}

/* copy bytes of a data descriptor's buffer into tx_data */
static void tx_fetch(E1000State *s, uint64_t addr, uint32_t len)
{
    if (len && pci_dma_read(&s->pci, addr, s->tx_data + s->tx_size, len) != DMA_OK) {
        s->tx_bad = 1; /* a buffer outside RAM: the frame is dropped at its end */
    }
    s->tx_size += len;
}

static void process_tx_desc(E1000State *s, const uint8_t *desc)
{
    uint32_t lower = ld32le(desc + 8), upper = ld32le(desc + 12);
    uint32_t dtype = lower & (TXD_DEXT | TXD_DTYP_D);
    uint32_t split = lower & 0xffff;
    uint64_t addr = ld32le(desc) | (uint64_t)ld32le(desc + 4) << 32;

    s->mit_ide |= lower & TXD_IDE;
    if (dtype == TXD_DEXT) { /* context descriptor */
        if (lower & TXD_TSE) {
            read_ctx(desc, &s->tso_props);
            s->tso_frames = 0;
        } else {
            read_ctx(desc, &s->props);
        }
        return;
    }
    if (dtype == (TXD_DEXT | TXD_DTYP_D)) {
        if (s->tx_size == 0) {
            s->sum_needed = (upper >> 8) & 0xff;
        }
        s->cptse = !!(lower & TXD_TSE);
    } else {
        s->cptse = 0;
    }
    if ((s->mac[CTRL] & CTRL_VME) && (lower & TXD_VLE) && (s->cptse || (lower & TXD_EOP))) {
        s->vlan_needed = 1;
        st16be(s->vlan_header, (uint16_t)s->mac[VET]);
        st16be(s->vlan_header + 2, (uint16_t)(upper >> 16));
    }
    if (s->cptse) {
        uint32_t hdr = s->tso_props.hdr_len, msh = hdr + s->tso_props.mss;
        while (split && s->tx_size < msh) {
            uint32_t take = split;
            if (s->tx_size + take > msh) {
                take = msh - s->tx_size;
            }
            if (take > TX_BUF_SIZE - s->tx_size) {
                take = TX_BUF_SIZE - s->tx_size;
            }
            if (!take) {
                break;
            }
            uint32_t before = s->tx_size;
            tx_fetch(s, addr, take);
            if (s->tx_size >= hdr && before < hdr) {
                memcpy(s->tx_header, s->tx_data, hdr);
            }
            addr += take;
            split -= take;
            if (s->tx_size == msh) {
                if (!s->tx_bad) {
                    xmit_seg(s);
                }
                memcpy(s->tx_data, s->tx_header, hdr);
                s->tx_size = hdr;
            }
        }
    } else {
        if (split > TX_BUF_SIZE - s->tx_size) {
            split = TX_BUF_SIZE - s->tx_size;
        }
        tx_fetch(s, addr, split);
    }
    if (!(lower & TXD_EOP)) {
        return;
    }
    if (!(s->cptse && s->tx_size < s->tso_props.hdr_len) && !s->tx_bad) {
        xmit_seg(s);
    }
    s->tso_frames = 0;
    s->sum_needed = s->vlan_needed = s->cptse = s->tx_bad = 0;
    s->tx_size = 0;
}

static void start_xmit(E1000State *s)
{
    uint32_t tdh_start = s->mac[TDH], cause = ICR_TXQE;
    if (!(s->mac[TCTL] & TCTL_EN) || s->tx_busy) {
        return;
    }
    s->tx_busy = true;
    while (s->mac[TDH] != s->mac[TDT]) {
        uint64_t base =
            ((uint64_t)s->mac[TDBAH] << 32 | (s->mac[TDBAL] & ~0xfu)) + 16ull * s->mac[TDH];
        uint8_t desc[16];
        if (pci_dma_read(&s->pci, base, desc, 16) != DMA_OK) {
            break; /* a ring outside RAM: stop where it is */
        }
        process_tx_desc(s, desc);
        uint32_t lower = ld32le(desc + 8);
        if (lower & (TXD_RS | TXD_RPS)) { /* write back "descriptor done" */
            uint32_t upper = (ld32le(desc + 12) | TXD_STAT_DD) & ~0x0eu;
            uint8_t w[4];
            st32le(w, upper);
            pci_dma_write(&s->pci, base + 12, w, 4);
            cause |= ICR_TXDW;
        }
        if (++s->mac[TDH] * 16ull >= s->mac[TDLEN]) {
            s->mac[TDH] = 0;
        }
        /* a tail the ring never reaches (bogus TDT/TDLEN): one lap at most */
        if (s->mac[TDH] == tdh_start || tdh_start >= s->mac[TDLEN] / 16) {
            break;
        }
    }
    s->tx_busy = false;
    set_ics(s, cause);
}

/* ---- receive ------------------------------------------------------------------------------- */

static uint32_t rxbufsize(uint32_t rctl)
{
    switch (rctl & (RCTL_BSEX | 0x30000)) {
    case RCTL_BSEX | 0x10000:
        return 16384;
    case RCTL_BSEX | 0x20000:
        return 8192;
    case RCTL_BSEX | 0x30000:
        return 4096;
    case 0x10000:
        return 1024;
    case 0x20000:
        return 512;
    case 0x30000:
        return 256;
    }
    return 2048;
}

static bool has_rxbufs(E1000State *s, size_t total)
{
    uint32_t h = s->mac[RDH], t = s->mac[RDT];
    if (total <= s->rxbuf_size) {
        return h != t;
    }
    uint64_t bufs;
    if (h < t) {
        bufs = t - h;
    } else if (h > t) {
        bufs = s->mac[RDLEN] / 16 + t - h;
    } else {
        return false;
    }
    return total <= bufs * s->rxbuf_size;
}

static bool rx_ready(E1000State *s)
{
    return (s->mac[STATUS] & STATUS_LU) && (s->mac[RCTL] & RCTL_EN) &&
           (s->pci.config[PCI_COMMAND] & PCI_COMMAND_MASTER);
}

static bool nic_can_receive(NetClientState *nc)
{
    E1000State *s = nc->opaque;
    return rx_ready(s) && has_rxbufs(s, 1) && !vtimer_pending(&s->flush_timer);
}

static bool rx_filter(E1000State *s, const uint8_t *buf)
{
    uint32_t rctl = s->mac[RCTL];
    /* VLAN table */
    if (ld16be(buf + 12) == (uint16_t)s->mac[VET] && (rctl & RCTL_VFE)) {
        uint16_t vid = ld16be(buf + 14) & 0xfff;
        if (!(s->mac[VFTA + (vid >> 5)] & (1u << (vid & 31)))) {
            return false;
        }
    }
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (!memcmp(buf, bcast, 6)) {
        if (rctl & RCTL_BAM) {
            return true;
        }
    } else if (buf[0] & 1) {
        if (rctl & RCTL_MPE) {
            return true;
        }
    } else if (rctl & RCTL_UPE) {
        return true;
    }
    for (int i = 0; i < 16; i++) {
        uint32_t lo = s->mac[RA + 2 * i], hi = s->mac[RA + 2 * i + 1];
        if (!(hi & RAH_AV)) {
            continue;
        }
        uint8_t a[6] = {lo & 0xff, (lo >> 8) & 0xff, (lo >> 16) & 0xff,
                        lo >> 24,  hi & 0xff,        (hi >> 8) & 0xff};
        if (!memcmp(buf, a, 6)) {
            return true;
        }
    }
    static const int mo_shift[4] = {4, 3, 2, 0};
    uint32_t f = mo_shift[(rctl >> 12) & 3];
    f = ((uint32_t)(buf[5] << 8 | buf[4]) >> f) & 0xfff;
    return (s->mac[MTA + (f >> 5)] >> (f & 31)) & 1;
}

static void rx_overrun(E1000State *s)
{
    inc_reg(s, RNBC);
    inc_reg(s, MPC);
    set_ics(s, ICR_RXO);
}

static ssize_t nic_receive(NetClientState *nc, const struct iovec *iov, int iovcnt)
{
    E1000State *s = nc->opaque;
    static const int prc[6] = {PRC64, PRC127, PRC255, PRC511, PRC1023, PRC1522};
    size_t size = 0;
    for (int i = 0; i < iovcnt; i++) {
        size += iov[i].iov_len;
    }
    if (!(s->mac[STATUS] & STATUS_LU) || !(s->mac[RCTL] & RCTL_EN)) {
        return (ssize_t)size; /* dropped */
    }
    if (vtimer_pending(&s->flush_timer)) {
        return 0; /* the driver is still setting up: keep it queued */
    }
    ssize_t ret = (ssize_t)size;
    if (size > RX_MAX) {
        return ret;
    }
    uint8_t *buf = s->rx_buf;
    size_t off = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    if (size < ETH_ZLEN) {
        memset(buf + size, 0, ETH_ZLEN - size);
        size = ETH_ZLEN;
    }
    /* oversized frames: past 1522 bytes without long-packet mode, past 16 KiB - 4 with it */
    if ((size > 16384 - 4 || (size > 14 + 4 + 1500 && !(s->mac[RCTL] & RCTL_LPE))) &&
        !(s->mac[RCTL] & RCTL_SBP)) {
        inc_reg(s, ROC);
        return ret;
    }
    if (!rx_filter(s, buf)) {
        return ret;
    }
    uint16_t special = 0;
    uint8_t vlan_status = 0;
    if ((s->mac[CTRL] & CTRL_VME) && ld16be(buf + 12) == (uint16_t)s->mac[VET]) {
        special = ld16be(buf + 14); /* the tag goes into the descriptor */
        memmove(buf + 4, buf, 12);
        buf += 4;
        size -= 4;
        vlan_status = RXD_STAT_VP;
    }
    bool bcast = buf[0] == 0xff && !memcmp(buf, buf + 1, 5) && buf[5] == 0xff;
    bool mcast = !bcast && (buf[0] & 1);
    size_t total = size + ((s->mac[RCTL] & RCTL_SECRC) ? 0 : 4);
    if (!has_rxbufs(s, total)) {
        rx_overrun(s);
        return ret;
    }
    uint32_t rdh_start = s->mac[RDH];
    size_t done = 0;
    do {
        size_t dsize = total - done;
        if (dsize > s->rxbuf_size) {
            dsize = s->rxbuf_size;
        }
        uint64_t base =
            ((uint64_t)s->mac[RDBAH] << 32 | (s->mac[RDBAL] & ~0xfu)) + 16ull * s->mac[RDH];
        uint8_t desc[16];
        if (pci_dma_read(&s->pci, base, desc, 16) != DMA_OK) {
            rx_overrun(s); /* a ring outside RAM: the frame is lost */
            return ret;
        }
        desc[14] = special & 0xff;
        desc[15] = special >> 8;
        desc[12] &= ~RXD_STAT_DD;
        uint64_t ba = ld32le(desc) | (uint64_t)ld32le(desc + 4) << 32;
        if (ba) {
            if (done < size) {
                size_t copy = size - done;
                if (copy > s->rxbuf_size) {
                    copy = s->rxbuf_size;
                }
                pci_dma_write(&s->pci, ba, buf + done, copy);
            }
            done += dsize;
            desc[8] = dsize & 0xff;
            desc[9] = (dsize >> 8) & 0xff;
            if (done >= total) {
                desc[12] |= RXD_STAT_EOP | RXD_STAT_IXSM;
            } else {
                desc[12] &= ~RXD_STAT_EOP;
            }
        } /* a descriptor without a buffer is skipped, as the manual says */
        pci_dma_write(&s->pci, base, desc, 16);
        desc[12] |= vlan_status | RXD_STAT_DD;
        pci_dma_write(&s->pci, base + 12, &desc[12], 1);
        if (++s->mac[RDH] * 16ull >= s->mac[RDLEN]) {
            s->mac[RDH] = 0;
        }
        if (s->mac[RDH] == rdh_start || rdh_start >= s->mac[RDLEN] / 16) {
            rx_overrun(s);
            return ret;
        }
    } while (done < total);

    size_stats(s, prc, total);
    inc_reg(s, TPR);
    inc_reg(s, GPRC);
    grow_8reg(s, TORL, size + 4);
    grow_8reg(s, GORCL, size + 4);
    if (bcast) {
        inc_reg(s, BPRC);
    } else if (mcast) {
        inc_reg(s, MPRC);
    }
    uint32_t cause = ICR_RXT0;
    uint64_t rdt = s->mac[RDT];
    if (rdt < s->mac[RDH]) {
        rdt += s->mac[RDLEN] / 16;
    }
    if ((rdt - s->mac[RDH]) * 16 <= (s->mac[RDLEN] >> s->rxbuf_min_shift)) {
        cause |= ICR_RXDMT0;
    }
    set_ics(s, cause);
    return ret;
}

static void flush_timer_cb(void *opaque)
{
    E1000State *s = opaque;
    if (s->nc) {
        net_flush_queue(s->nc);
    }
}

/* ---- register access ----------------------------------------------------------------------- */

typedef enum { R_NONE, R_PLAIN, R_CLR4, R_CLR8, R_ICR, R_EECD, R_EERD } ReadKind;

static bool in(unsigned i, unsigned base, unsigned n)
{
    return i >= base && i < base + n;
}

/* registers QEMU's "extra_mac_registers" (on by default) makes visible */
static bool is_extra(unsigned i)
{
    switch (i) {
    case IPAV:
    case WUC:
    case IP6AT:
    case IP4AT:
    case FFVT:
    case WUPM:
    case ECOL:
    case MCC:
    case DC:
    case TNCRS:
    case RLEC:
    case XONRXC:
    case XOFFTXC:
    case RFC:
    case TSCTFC:
    case MGTPRC:
    case WUS:
    case AIT:
    case FFLT:
    case FFMT:
    case SCC:
    case FCRUC:
    case LATECOL:
    case COLC:
    case SEQEC:
    case CEXTERR:
    case XONTXC:
    case XOFFRXC:
    case RJC:
    case RNBC:
    case MGTPDC:
    case MGTPTC:
    case RUC:
    case ROC:
    case GORCL:
    case GORCH:
    case GOTCL:
    case GOTCH:
    case BPRC:
    case MPRC:
    case TSCTC:
    case PRC64:
    case PRC127:
    case PRC255:
    case PRC511:
    case PRC1023:
    case PRC1522:
    case PTC64:
    case PTC127:
    case PTC255:
    case PTC511:
    case PTC1023:
    case PTC1522:
    case MPTC:
    case BPTC:
    case TDFH:
    case TDFT:
    case TDFHS:
    case TDFTS:
    case TDFPC:
    case RDFH:
    case RDFT:
    case RDFHS:
    case RDFTS:
    case RDFPC:
    case PBM:
        return true;
    }
    return false;
}

static bool is_mit(unsigned i)
{
    return i == RDTR || i == TADV || i == RADV || i == ITR;
}

static bool allowed(E1000State *s, unsigned i)
{
    if (is_mit(i)) {
        return s->flags & FLAG_MIT;
    }
    return !is_extra(i) || (s->flags & FLAG_MAC);
}

static ReadKind read_kind(unsigned i)
{
    switch (i) {
    case TOTH:
    case TORH:
    case GOTCH:
    case GORCH:
        return R_CLR8;
    case PRC64:
    case PRC127:
    case PRC255:
    case PRC511:
    case PRC1023:
    case PRC1522:
    case PTC64:
    case PTC127:
    case PTC255:
    case PTC511:
    case PTC1023:
    case PTC1522:
    case GPRC:
    case GPTC:
    case TPT:
    case TPR:
    case RUC:
    case ROC:
    case BPRC:
    case MPRC:
    case TSCTC:
    case BPTC:
    case MPTC:
        return R_CLR4;
    case ICR:
        return R_ICR;
    case EECD:
        return R_EECD;
    case EERD:
        return R_EERD;
    case PBA:
    case RCTL:
    case TDH:
    case TXDCTL:
    case WUFC:
    case TDT:
    case CTRL:
    case LEDCTL:
    case MANC:
    case MDIC:
    case SWSM:
    case STATUS:
    case TORL:
    case TOTL:
    case IMS:
    case TCTL:
    case RDH:
    case RDT:
    case VET:
    case ICS:
    case TDBAL:
    case TDBAH:
    case RDBAH:
    case RDBAL:
    case TDLEN:
    case RDLEN:
    case RDTR:
    case RADV:
    case TADV:
    case ITR:
    case FCRUC:
    case IPAV:
    case WUC:
    case WUS:
    case SCC:
    case ECOL:
    case MCC:
    case LATECOL:
    case COLC:
    case DC:
    case TNCRS:
    case SEQEC:
    case CEXTERR:
    case RLEC:
    case XONRXC:
    case XONTXC:
    case XOFFRXC:
    case XOFFTXC:
    case RFC:
    case RJC:
    case RNBC:
    case TSCTFC:
    case MGTPRC:
    case MGTPDC:
    case MGTPTC:
    case GORCL:
    case GOTCL:
    case RDFH:
    case RDFT:
    case RDFHS:
    case RDFTS:
    case RDFPC:
    case TDFH:
    case TDFT:
    case TDFHS:
    case TDFTS:
    case TDFPC:
    case AIT:
        return R_PLAIN;
    }
    if (in(i, CRCERRS, MPC - CRCERRS + 1) || in(i, IP6AT, 4) || in(i, IP4AT, 7) || in(i, FFLT, 7) ||
        in(i, RA, 32) || in(i, WUPM, 32) || in(i, MTA, 128) || in(i, VFTA, 128) ||
        in(i, FFMT, 255) || in(i, FFVT, 255) || in(i, PBM, 16384)) {
        return R_PLAIN;
    }
    return R_NONE;
}

static uint32_t reg_read(E1000State *s, unsigned i)
{
    ReadKind k = read_kind(i);
    if (k == R_NONE || !allowed(s, i)) {
        return 0;
    }
    uint32_t v = s->mac[i];
    switch (k) {
    case R_CLR4:
        s->mac[i] = 0;
        break;
    case R_CLR8:
        s->mac[i] = s->mac[i - 1] = 0;
        break;
    case R_ICR:
        set_cause(s, 0); /* read to clear */
        break;
    case R_EECD:
        v = get_eecd(s);
        break;
    case R_EERD:
        v = get_eerd(s);
        break;
    default:
        break;
    }
    return v;
}

static void update_info(E1000State *s)
{
    if (!s->nc) {
        return;
    }
    uint32_t lo = s->mac[RA], hi = s->mac[RA + 1];
    net_client_set_info(s->nc, "model=%s,macaddr=%02x:%02x:%02x:%02x:%02x:%02x", s->model->name,
                        lo & 0xff, (lo >> 8) & 0xff, (lo >> 16) & 0xff, lo >> 24, hi & 0xff,
                        (hi >> 8) & 0xff);
}

static void reg_write(E1000State *s, unsigned i, uint32_t v)
{
    if (!allowed(s, i)) {
        return;
    }
    switch (i) {
    case PBA:
    case EERD:
    case SWSM:
    case WUFC:
    case TDBAL:
    case TDBAH:
    case TXDCTL:
    case RDBAH:
    case RDBAL:
    case LEDCTL:
    case VET:
    case FCRUC:
    case IPAV:
    case WUC:
    case WUS:
        s->mac[i] = v;
        return;
    case TDLEN:
    case RDLEN:
        s->mac[i] = v & 0xfff80;
        return;
    case TCTL:
    case TDT:
        s->mac[i] = v;
        s->mac[TDT] &= 0xffff;
        start_xmit(s);
        return;
    case MDIC:
        set_mdic(s, v);
        return;
    case ICS:
        set_ics(s, v);
        return;
    case TDH:
    case RDH:
    case RDTR:
    case RADV:
    case TADV:
    case ITR:
    case AIT:
        s->mac[i] = v & 0xffff;
        return;
    case RDT:
        s->mac[i] = v & 0xffff;
        if (s->nc && has_rxbufs(s, 1)) {
            net_flush_queue(s->nc);
        }
        return;
    case IMC:
        s->mac[IMS] &= ~v;
        set_ics(s, 0);
        return;
    case IMS:
        s->mac[IMS] |= v;
        set_ics(s, 0);
        return;
    case ICR:
        set_cause(s, s->mac[ICR] & ~v);
        return;
    case EECD:
        set_eecd(s, v);
        return;
    case RCTL:
        s->mac[RCTL] = v;
        s->rxbuf_size = rxbufsize(v);
        s->rxbuf_min_shift = ((v / 0x100) & 3) + 1;
        /* QEMU holds received frames back for a second while the driver sets up */
        vtimer_mod(&s->flush_timer, vclock_ns() + 1000 * 1000 * 1000LL);
        return;
    case CTRL:
        s->mac[CTRL] = v & ~CTRL_RST;
        return;
    case TDFH:
    case TDFT:
        s->mac[i] = v & 0x7ff;
        return;
    case TDFHS:
    case TDFTS:
    case TDFPC:
    case RDFH:
    case RDFT:
    case RDFHS:
    case RDFTS:
    case RDFPC:
        s->mac[i] = v & 0x1fff;
        return;
    }
    if (in(i, FFLT, 7)) {
        s->mac[i] = v & 0x7ff;
    } else if (in(i, FFMT, 255)) {
        s->mac[i] = v & 0xf;
    } else if (in(i, IP6AT, 4) || in(i, IP4AT, 7) || in(i, RA, 32) || in(i, WUPM, 32) ||
               in(i, MTA, 128) || in(i, VFTA, 128) || in(i, FFVT, 255) || in(i, PBM, 16384)) {
        s->mac[i] = v;
        if (i == RA + 1) {
            update_info(s);
        }
    }
}

/* 32-bit registers. A narrower access is widened at its own address, as QEMU's memory core
   does for a device that takes only 32-bit accesses: it reaches the register containing it,
   a read returns that register's low bytes and a write stores the zero-extended value. */
static uint64_t mmio_read(void *opaque, uint64_t addr, unsigned size)
{
    E1000State *s = opaque;
    if (size == 8) {
        return mmio_read(opaque, addr, 4) | mmio_read(opaque, addr + 4, 4) << 32;
    }
    uint32_t v = reg_read(s, (unsigned)((addr & 0x1ffff) >> 2));
    return size == 4 ? v : v & ((1u << (size * 8)) - 1);
}

static void mmio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    E1000State *s = opaque;
    if (size == 8) {
        mmio_write(opaque, addr, val & 0xffffffffu, 4);
        mmio_write(opaque, addr + 4, val >> 32, 4);
        return;
    }
    uint32_t v = size == 4 ? (uint32_t)val : (uint32_t)(val & ((1u << (size * 8)) - 1));
    reg_write(s, (unsigned)((addr & 0x1ffff) >> 2), v);
}

static const MemoryRegionOps mmio_ops = {.read = mmio_read, .write = mmio_write};

/* the I/O window (IOADDR/IODATA): not modelled, as in QEMU 7.2 */
static uint64_t io_read(void *opaque, uint64_t addr, unsigned size)
{
    (void)opaque, (void)addr, (void)size;
    return 0;
}

static void io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    (void)opaque, (void)addr, (void)val, (void)size;
}

static const MemoryRegionOps io_ops = {.read = io_read, .write = io_write};

static void e1000_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    E1000State *s = (E1000State *)d;
    pci_default_write_config(d, addr, val, len);
    if (addr <= (uint32_t)PCI_COMMAND && addr + len > (uint32_t)PCI_COMMAND &&
        (d->config[PCI_COMMAND] & PCI_COMMAND_MASTER) && s->nc) {
        net_flush_queue(s->nc);
    }
}

/* ---- reset, realize ------------------------------------------------------------------------ */

static void e1000_reset(Device *dev)
{
    E1000State *s = (E1000State *)dev;
    pci_device_reset(&s->pci);
    vtimer_del(&s->autoneg_timer);
    vtimer_del(&s->mit_timer);
    vtimer_del(&s->flush_timer);
    s->mit_on = s->mit_level = false;
    s->mit_ide = 0;
    memset(s->phy, 0, sizeof(s->phy));
    s->phy[BMCR] = 0x1140; /* 1000 Mb/s, full duplex, auto-negotiation on */
    s->phy[BMSR] = 0x794d; /* link up, negotiation not complete yet */
    s->phy[PHYID1] = 0x0141;
    s->phy[PHYID2] = s->model->phy_id2;
    s->phy[ANAR] = 0x0de1;
    s->phy[ANLPAR] = 0x01e0;
    s->phy[CTRL1000] = 0x0e00;
    s->phy[STAT1000] = 0x3c00;
    s->phy[PHY_SPEC_CTRL] = 0x0360;
    s->phy[PHY_SPEC_STATUS] = 0xac00;
    s->phy[EXT_PHY_SPEC_CTRL] = 0x0d60;
    memset(s->mac, 0, sizeof(s->mac));
    s->mac[PBA] = 0x00100030;
    s->mac[LEDCTL] = 0x602;
    s->mac[CTRL] = 0x00140240;   /* SWDPIN2, SWDPIN0, 1000 Mb/s, set link up */
    s->mac[STATUS] = 0x80080783; /* GIO master, ASDV, MTXCKOK, 1000 Mb/s, FD, LU */
    s->mac[MANC] = 0x00222300;
    s->rxbuf_min_shift = 1;
    s->rxbuf_size = 0;
    memset(&s->props, 0, sizeof(s->props));
    memset(&s->tso_props, 0, sizeof(s->tso_props));
    s->tx_size = s->tso_frames = 0;
    s->sum_needed = s->vlan_needed = s->cptse = s->tx_bad = 0;
    s->tx_busy = false;
    s->ee_val_in = s->ee_old = 0;
    s->ee_bit_in = s->ee_bit_out = s->ee_reading = 0;
    if (s->nc && s->nc->link_down) {
        link_down_regs(s);
    }
    const uint8_t *m = s->mac_prop;
    s->mac[RA] = m[0] | m[1] << 8 | m[2] << 16 | (uint32_t)m[3] << 24;
    s->mac[RA + 1] = RAH_AV | m[4] | m[5] << 8;
    update_info(s);
    if (s->flags & FLAG_VET) {
        s->mac[VET] = 0x8100;
    }
    if (s->nc) {
        net_purge_queue(s->nc);
    }
}

static const NetClientInfo nic_info = {
    .kind = NET_CLIENT_NIC,
    .type = "nic",
    .receive = nic_receive,
    .can_receive = nic_can_receive,
    .link_status_changed = nic_link_changed,
};

static bool e1000_realize_model(Device *dev, const E1000Model *model, char **errp)
{
    E1000State *s = (E1000State *)dev;
    s->model = model;
    s->flags = (s->p_autoneg ? FLAG_AUTONEG : 0) | (s->p_mit ? FLAG_MIT : 0) |
               (s->p_mac ? FLAG_MAC : 0) | (s->p_tso ? FLAG_TSO : 0) | (s->p_vet ? FLAG_VET : 0);
    NetClientState *peer;
    char *prop = g_strdup_printf("%s.netdev", model->name);
    bool ok = netdev_claim(s->netdev, prop, &peer, errp);
    g_free(prop);
    if (!ok) {
        return false;
    }
    s->pci.config[PCI_CACHE_LINE_SIZE] = 0x10;
    s->pci.config[PCI_INTERRUPT_PIN] = 1;
    memory_region_init_io(&s->mmio, "e1000-mmio", &mmio_ops, s, 0x20000);
    memory_region_init_io(&s->io, "e1000-io", &io_ops, s, 0x40);
    pci_register_bar(&s->pci, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);
    pci_register_bar(&s->pci, 1, PCI_BASE_ADDRESS_SPACE_IO, &s->io);
    static const uint8_t zero[6];
    if (!memcmp(s->mac_prop, zero, 6)) {
        net_default_mac(s->mac_prop);
    }
    /* EEPROM: the template, the MAC, the device ID, and a checksum making the sum 0xBABA */
    memcpy(s->eeprom, eeprom_template, sizeof(s->eeprom));
    for (int i = 0; i < 3; i++) {
        s->eeprom[i] = (uint16_t)(s->mac_prop[2 * i + 1] << 8 | s->mac_prop[2 * i]);
    }
    s->eeprom[11] = s->eeprom[13] = model->device_id;
    uint16_t sum = 0;
    for (int i = 0; i < 63; i++) {
        sum = (uint16_t)(sum + s->eeprom[i]);
    }
    s->eeprom[63] = (uint16_t)(0xbaba - sum);
    vtimer_init(&s->autoneg_timer, autoneg_timer_cb, s);
    vtimer_init(&s->mit_timer, mit_timer_cb, s);
    vtimer_init(&s->flush_timer, flush_timer_cb, s);
    s->nc = net_client_new(&nic_info, peer, model->name, dev->id, s);
    e1000_reset(dev);
    return true;
}

static bool realize_82540em(Device *dev, char **errp)
{
    return e1000_realize_model(dev, &model_82540em, errp);
}

static bool realize_82544gc(Device *dev, char **errp)
{
    return e1000_realize_model(dev, &model_82544gc, errp);
}

static bool realize_82545em(Device *dev, char **errp)
{
    return e1000_realize_model(dev, &model_82545em, errp);
}

static void e1000_unrealize(Device *dev)
{
    E1000State *s = (E1000State *)dev;
    vtimer_del(&s->autoneg_timer);
    vtimer_del(&s->mit_timer);
    vtimer_del(&s->flush_timer);
    if (s->nc) {
        net_client_free(s->nc);
        s->nc = NULL;
    }
    memory_region_destroy(&s->mmio);
    memory_region_destroy(&s->io);
}

static const Property e1000_props[] = {
    DEFINE_PROP_BIT("autonegotiation", E1000State, p_autoneg, true),
    DEFINE_PROP_("bootindex", PROP_INT32, E1000State, bootindex, false, .def.i = -1),
    DEFINE_PROP_BIT("extra_mac_registers", E1000State, p_mac, true),
    DEFINE_PROP_BIT("init-vet", E1000State, p_vet, true),
    DEFINE_PROP_MACADDR("mac", E1000State, mac_prop),
    DEFINE_PROP_BIT("migrate_tso_props", E1000State, p_tso, true),
    DEFINE_PROP_BIT("mitigation", E1000State, p_mit, true),
    DEFINE_PROP_NETDEV("netdev", E1000State, netdev),
    DEFINE_PROP_END,
};

/* ---- saved state --------------------------------------------------------------------------- */

#define TXP(f) VMSTATE_UINT8(props.f, E1000State), VMSTATE_UINT8(tso_props.f, E1000State)
static const VMStateField e1000_fields[] = {
    VMSTATE_BUFFER(pci.config, E1000State),
    VMSTATE_UINT32_ARRAY(mac, E1000State, NREGS),
    VMSTATE_UINT16_ARRAY(phy, E1000State, 0x20),
    VMSTATE_UINT16_ARRAY(eeprom, E1000State, 64),
    VMSTATE_UINT32(rxbuf_size, E1000State),
    VMSTATE_UINT32(rxbuf_min_shift, E1000State),
    VMSTATE_UINT32(ee_val_in, E1000State),
    VMSTATE_UINT32(ee_old, E1000State),
    VMSTATE_UINT16(ee_bit_in, E1000State),
    VMSTATE_UINT16(ee_bit_out, E1000State),
    VMSTATE_UINT16(ee_reading, E1000State),
    TXP(ipcss),
    TXP(ipcso),
    TXP(tucss),
    TXP(tucso),
    TXP(hdr_len),
    TXP(ip),
    TXP(tcp),
    VMSTATE_UINT16(props.ipcse, E1000State),
    VMSTATE_UINT16(props.tucse, E1000State),
    VMSTATE_UINT16(props.mss, E1000State),
    VMSTATE_UINT32(props.paylen, E1000State),
    VMSTATE_UINT16(tso_props.ipcse, E1000State),
    VMSTATE_UINT16(tso_props.tucse, E1000State),
    VMSTATE_UINT16(tso_props.mss, E1000State),
    VMSTATE_UINT32(tso_props.paylen, E1000State),
    VMSTATE_UINT32(tx_size, E1000State),
    VMSTATE_UINT16(tso_frames, E1000State),
    VMSTATE_UINT8(sum_needed, E1000State),
    VMSTATE_UINT8(vlan_needed, E1000State),
    VMSTATE_UINT8(cptse, E1000State),
    VMSTATE_UINT8(tx_bad, E1000State),
    VMSTATE_UINT8_ARRAY(vlan_header, E1000State, 4),
    VMSTATE_BUFFER(tx_header, E1000State),
    VMSTATE_BUFFER(tx_data, E1000State),
    VMSTATE_BOOL(mit_on, E1000State),
    VMSTATE_BOOL(mit_level, E1000State),
    VMSTATE_UINT32(mit_ide, E1000State),
    VMSTATE_TIMER(mit_timer, E1000State),
    VMSTATE_TIMER(autoneg_timer, E1000State),
    VMSTATE_TIMER(flush_timer, E1000State),
    VMSTATE_END_OF_LIST(),
};

static bool e1000_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    E1000State *s = opaque;
    if ((s->rxbuf_size != 0 && s->rxbuf_size != rxbufsize(s->mac[RCTL])) ||
        s->tx_size > TX_BUF_SIZE) {
        *errp = g_strdup("e1000: invalid saved state");
        return false;
    }
    if (s->rxbuf_min_shift < 1 || s->rxbuf_min_shift > 4) {
        s->rxbuf_min_shift = 1;
    }
    s->tx_busy = false;
    pci_update_mappings(&s->pci);
    pci_set_irq(&s->pci, s->mit_level);
    update_info(s);
    return true;
}

static const VMStateDescription e1000_vmsd = {
    .name = "e1000",
    .version = 1,
    .minimum_version = 1,
    .fields = e1000_fields,
    .post_load = e1000_post_load,
};

#define E1000_PCI(id)                                                                              \
    {                                                                                              \
        .vendor_id = 0x8086, .device_id = (id), .revision = 0x03, .class_code = 0x020000,          \
        .romfile = "efi-e1000.rom", .config_write = e1000_config_write                             \
    }
static const PCIDeviceInfo pci_82540em = E1000_PCI(0x100e);
static const PCIDeviceInfo pci_82544gc = E1000_PCI(0x100c);
static const PCIDeviceInfo pci_82545em = E1000_PCI(0x100f);

#define E1000_INFO(nm, rz, pc, al)                                                                 \
    {                                                                                              \
        .name = (nm), .aliases = (al), .desc = "Intel Gigabit Ethernet",                           \
        .category = DEVICE_CATEGORY_NETWORK, .bus = BUS_PCI, .instance_size = sizeof(E1000State),  \
        .props = e1000_props, .user_creatable = true, .hotpluggable = true, .realize = (rz),       \
        .unrealize = e1000_unrealize, .reset = e1000_reset, .vmsd = &e1000_vmsd, .pci = &(pc),     \
        .qom_parent = "e1000-base"                                                                 \
    }
static const char *const e1000_aliases[] = {"e1000-82540em", NULL};
const DeviceInfo e1000_info = E1000_INFO("e1000", realize_82540em, pci_82540em, e1000_aliases);
const DeviceInfo e1000_82544gc_info =
    E1000_INFO("e1000-82544gc", realize_82544gc, pci_82544gc, NULL);
const DeviceInfo e1000_82545em_info =
    E1000_INFO("e1000-82545em", realize_82545em, pci_82545em, NULL);
