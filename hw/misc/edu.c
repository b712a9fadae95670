/*
 * QEMU's educational PCI device "edu" (facts from QEMU's docs/specs/edu.txt): 1234:11e8 rev
 * 0x10, class 00ff, BAR 0 = 1 MiB of registers, one MSI vector (64-bit), INTx pin A.
 *
 *   0x00 RO  identification 0x010000ed            0x04 RW  liveness: reads ~value written
 *   0x08 RW  factorial: write n, read n!           0x20 RW  status: 0x01 computing (RO),
 *   0x24 RO  interrupt status                                0x80 interrupt when n! is done
 *   0x60 WO  raise interrupt (status |= value)     0x64 WO  acknowledge (status &= ~value)
 *   0x80 RW  DMA source   0x88 RW  DMA destination   0x90 RW  DMA count
 *   0x98 RW  DMA command: 0x01 run, 0x02 direction (0: RAM -> edu, 1: edu -> RAM),
 *            0x04 interrupt 0x100 when done
 * The DMA buffer is 4 KiB at 0x40000 of edu's own address space; a transfer runs 100 ms of
 * virtual time after the command (a timer), through the DMA API: bus master must be on, the RAM
 * side must be RAM. Addresses are masked with dma_mask (QEMU's default 2^28 - 1). Registers
 * below 0x80 take 4-byte accesses, DMA registers 4 or 8; anything else reads all ones.
 *
 * Where QEMU stops the process (hw_error on a DMA range outside the buffer), Vireo refuses the
 * transfer with a one-line message on stderr and goes on; DMA outside RAM is refused the same
 * way (QEMU would send it to whatever device claims the address).
 */
#include <stdio.h>
#include "vireo/pci.h"
#include "vireo/timer.h"
#include "vireo/vmstate.h"

#define EDU_DMA_START 0x40000
#define EDU_DMA_SIZE  4096
#define DMA_RUN       0x1
#define DMA_DIR_FROM_EDU 0x2
#define DMA_IRQ_ON    0x4
#define FACT_IRQ      0x00000001u
#define DMA_IRQ       0x00000100u
#define STATUS_COMPUTING 0x01u
#define STATUS_IRQFACT   0x80u

typedef struct EduState {
    PCIDevice pci;
    MemoryRegion mmio;
    uint64_t dma_mask;
    uint32_t addr4, fact, status, irq_status;
    uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
    uint8_t dma_buf[EDU_DMA_SIZE];
    VTimer dma_timer;
} EduState;

static void raise_irq(EduState *s, uint32_t val)
{
    s->irq_status |= val;
    if (s->irq_status) {
        if (msi_enabled(&s->pci)) {
            msi_notify(&s->pci, 0);
        } else {
            pci_set_irq(&s->pci, 1);
        }
    }
}

static void lower_irq(EduState *s, uint32_t val)
{
    s->irq_status &= ~val;
    if (!s->irq_status && !msi_enabled(&s->pci)) {
        pci_set_irq(&s->pci, 0);
    }
}

static uint64_t clamp(EduState *s, uint64_t addr)
{
    return addr & s->dma_mask;
}

/* The buffer side of a transfer: inside [0x40000, 0x41000), else -1. */
static int64_t buf_offset(EduState *s, uint64_t addr, uint64_t len)
{
    if (addr < EDU_DMA_START || len > EDU_DMA_SIZE || addr - EDU_DMA_START > EDU_DMA_SIZE - len) {
        fprintf(stderr,
                "edu: DMA range 0x%016llx-0x%016llx out of bounds (0x%016x-0x%016x): ignored\n",
                (unsigned long long)addr, (unsigned long long)(addr + len - 1), EDU_DMA_START,
                EDU_DMA_START + EDU_DMA_SIZE - 1);
        return -1;
    }
    return (int64_t)(addr - EDU_DMA_START);
}

static void dma_done(void *opaque)
{
    EduState *s = opaque;
    if (!(s->dma_cmd & DMA_RUN)) {
        return;
    }
    if (s->dma_cmd & DMA_DIR_FROM_EDU) {
        int64_t off = buf_offset(s, s->dma_src, s->dma_cnt);
        uint64_t dst = clamp(s, s->dma_dst);
        if (off >= 0 && pci_dma_write(&s->pci, dst, s->dma_buf + off, s->dma_cnt) != DMA_OK) {
            fprintf(stderr, "edu: DMA write to 0x%llx+0x%llx refused (not RAM, or bus master "
                            "off)\n",
                    (unsigned long long)dst, (unsigned long long)s->dma_cnt);
        }
    } else {
        int64_t off = buf_offset(s, s->dma_dst, s->dma_cnt);
        uint64_t src = clamp(s, s->dma_src);
        if (off >= 0 && pci_dma_read(&s->pci, src, s->dma_buf + off, s->dma_cnt) != DMA_OK) {
            fprintf(stderr, "edu: DMA read from 0x%llx+0x%llx refused (not RAM, or bus master "
                            "off)\n",
                    (unsigned long long)src, (unsigned long long)s->dma_cnt);
        }
    }
    s->dma_cmd &= ~(uint64_t)DMA_RUN;
    if (s->dma_cmd & DMA_IRQ_ON) {
        raise_irq(s, DMA_IRQ);
    }
}

static uint64_t edu_read(void *opaque, uint64_t addr, unsigned size)
{
    EduState *s = opaque;
    if ((addr < 0x80 && size != 4) || (addr >= 0x80 && size != 4 && size != 8)) {
        return ~0ULL;
    }
    switch (addr) {
    case 0x00:
        return 0x010000edu;
    case 0x04:
        return ~s->addr4 & 0xffffffffu;
    case 0x08:
        return s->fact;
    case 0x20:
        return s->status;
    case 0x24:
        return s->irq_status;
    case 0x80:
        return s->dma_src;
    case 0x88:
        return s->dma_dst;
    case 0x90:
        return s->dma_cnt;
    case 0x98:
        return s->dma_cmd;
    default:
        return ~0ULL;
    }
}

/* A 4-byte write sets the whole register (QEMU's edu does the same). */
static void dma_reg_write(EduState *s, uint64_t *reg, uint64_t val)
{
    if (s->dma_cmd & DMA_RUN) {
        return; /* a transfer in flight keeps its parameters */
    }
    *reg = val;
}

static void edu_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    EduState *s = opaque;
    if ((addr < 0x80 && size != 4) || (addr >= 0x80 && size != 4 && size != 8)) {
        return;
    }
    switch (addr) {
    case 0x04:
        s->addr4 = (uint32_t)val;
        break;
    case 0x08: {
        if (s->status & STATUS_COMPUTING) {
            break;
        }
        uint32_t n = (uint32_t)val, f = 1;
        for (uint32_t i = n; i > 0; i--) {
            f *= i; /* wraps at 32 bits, as QEMU's does */
        }
        s->fact = f;
        if (s->status & STATUS_IRQFACT) {
            raise_irq(s, FACT_IRQ);
        }
        break;
    }
    case 0x20:
        s->status = (s->status & ~STATUS_IRQFACT) | ((uint32_t)val & STATUS_IRQFACT);
        break;
    case 0x60:
        raise_irq(s, (uint32_t)val);
        break;
    case 0x64:
        lower_irq(s, (uint32_t)val);
        break;
    case 0x80:
        dma_reg_write(s, &s->dma_src, val);
        break;
    case 0x88:
        dma_reg_write(s, &s->dma_dst, val);
        break;
    case 0x90:
        dma_reg_write(s, &s->dma_cnt, val);
        break;
    case 0x98:
        /* only a command with the run bit starts (and is stored), as in QEMU */
        if (!(val & DMA_RUN) || (s->dma_cmd & DMA_RUN)) {
            break;
        }
        s->dma_cmd = val;
        vtimer_mod(&s->dma_timer, vclock_ns() + 100 * 1000 * 1000);
        break;
    default:
        break;
    }
}

static const MemoryRegionOps edu_ops = {.read = edu_read, .write = edu_write};

static bool edu_realize(Device *dev, char **errp)
{
    EduState *s = (EduState *)dev;
    s->pci.config[PCI_INTERRUPT_PIN] = 1;
    if (msi_init(&s->pci, 0, 1, true, false, errp) < 0) {
        return false;
    }
    vtimer_init(&s->dma_timer, dma_done, s);
    memory_region_init_io(&s->mmio, "edu-mmio", &edu_ops, s, 1 << 20);
    pci_register_bar(&s->pci, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);
    return true;
}

static void edu_unrealize(Device *dev)
{
    EduState *s = (EduState *)dev;
    vtimer_del(&s->dma_timer);
    memory_region_destroy(&s->mmio);
}

static void edu_reset(Device *dev)
{
    EduState *s = (EduState *)dev;
    vtimer_del(&s->dma_timer);
    pci_device_reset(&s->pci);
    s->addr4 = s->fact = s->status = s->irq_status = 0;
    s->dma_src = s->dma_dst = s->dma_cnt = s->dma_cmd = 0;
}

static const Property edu_props[] = {
    /* QEMU's is an object property: no default shown in its help */
    DEFINE_PROP_(("dma_mask"), PROP_UINT64, EduState, dma_mask, false, .def.u = (1u << 28) - 1),
    DEFINE_PROP_END,
};

static const VMStateField edu_fields[] = {
    VMSTATE_BUFFER(pci.config, EduState),
    VMSTATE_UINT32(addr4, EduState),
    VMSTATE_UINT32(fact, EduState),
    VMSTATE_UINT32(status, EduState),
    VMSTATE_UINT32(irq_status, EduState),
    VMSTATE_UINT64(dma_src, EduState),
    VMSTATE_UINT64(dma_dst, EduState),
    VMSTATE_UINT64(dma_cnt, EduState),
    VMSTATE_UINT64(dma_cmd, EduState),
    VMSTATE_BUFFER(dma_buf, EduState),
    VMSTATE_TIMER(dma_timer, EduState),
    VMSTATE_END_OF_LIST(),
};

static bool edu_post_load(void *opaque, unsigned version, char **errp)
{
    (void)version;
    (void)errp;
    EduState *s = opaque;
    pci_update_mappings(&s->pci);
    return true;
}

const VMStateDescription edu_vmsd = {
    .name = "edu",
    .version = 1,
    .minimum_version = 1,
    .fields = edu_fields,
    .post_load = edu_post_load,
};

static const PCIDeviceInfo edu_pci = {
    .vendor_id = 0x1234,
    .device_id = 0x11e8,
    .revision = 0x10,
    .class_code = 0x00ff00,
};

const DeviceInfo edu_info = {
    .name = "edu",
    .category = DEVICE_CATEGORY_MISC,
    .bus = BUS_PCI,
    .instance_size = sizeof(EduState),
    .props = edu_props,
    .user_creatable = true,
    .hotpluggable = true,
    .realize = edu_realize,
    .unrealize = edu_unrealize,
    .reset = edu_reset,
    .vmsd = &edu_vmsd,
    .pci = &edu_pci,
    .qom_children = (const char *const[]){"edu-mmio[0]=child<memory-region>", NULL},
};
