/*
 * The MSI capability (include/vireo/pci.h): message control (enable, multiple message
 * capable/enable, 64-bit, per-vector masking), address, data, mask and pending bits, laid out
 * as the PCI spec and QEMU's msi.c lay them out.
 */
#include <glib.h>
#include "vireo/accel.h"
#include "vireo/pci.h"

#define MSI_FLAGS         2
#define MSI_FLAGS_ENABLE  0x0001
#define MSI_FLAGS_QMASK   0x000e
#define MSI_FLAGS_QSIZE   0x0070
#define MSI_FLAGS_64BIT   0x0080
#define MSI_FLAGS_MASKBIT 0x0100
#define MSI_ADDRESS_LO    4

void msi_send_message(uint64_t addr, uint32_t data)
{
    if (current_accel && current_accel->send_msi) {
        current_accel->send_msi(addr, data);
    }
}

static uint16_t flags(const PCIDevice *d)
{
    return pci_get_word(d->config + d->msi_cap + MSI_FLAGS);
}

static unsigned data_off(const PCIDevice *d)
{
    return d->msi_cap + ((flags(d) & MSI_FLAGS_64BIT) ? 12 : 8);
}

static unsigned mask_off(const PCIDevice *d)
{
    return d->msi_cap + ((flags(d) & MSI_FLAGS_64BIT) ? 16 : 12);
}

int msi_init(PCIDevice *d, uint8_t offset, unsigned nr_vectors, bool msi64bit,
             bool per_vector_mask, char **errp)
{
    if (nr_vectors == 0 || nr_vectors > 32 || (nr_vectors & (nr_vectors - 1))) {
        *errp = g_strdup_printf("MSI: %u vectors is not a power of two up to 32", nr_vectors);
        return -1;
    }
    uint8_t size = msi64bit ? (per_vector_mask ? 0x18 : 0x0e) : (per_vector_mask ? 0x14 : 0x0a);
    int pos = pci_add_capability(d, PCI_CAP_ID_MSI, offset, size, errp);
    if (pos < 0) {
        return -1;
    }
    d->msi_cap = (uint8_t)pos;
    unsigned log2 = 0;
    while ((1u << log2) < nr_vectors) {
        log2++;
    }
    uint16_t f = (uint16_t)(log2 << 1);
    if (msi64bit) {
        f |= MSI_FLAGS_64BIT;
    }
    if (per_vector_mask) {
        f |= MSI_FLAGS_MASKBIT;
    }
    pci_set_word(d->config + pos + MSI_FLAGS, f);
    pci_set_word(d->wmask + pos + MSI_FLAGS, MSI_FLAGS_QSIZE | MSI_FLAGS_ENABLE);
    pci_set_long(d->wmask + pos + MSI_ADDRESS_LO, 0xfffffffc);
    if (msi64bit) {
        pci_set_long(d->wmask + pos + 8, 0xffffffff);
    }
    pci_set_word(d->wmask + data_off(d), 0xffff);
    if (per_vector_mask) {
        pci_set_long(d->wmask + mask_off(d),
                     nr_vectors == 32 ? 0xffffffffu : (1u << nr_vectors) - 1);
    }
    return pos;
}

bool msi_enabled(const PCIDevice *d)
{
    return d->msi_cap && (flags(d) & MSI_FLAGS_ENABLE);
}

unsigned msi_nr_vectors_allocated(const PCIDevice *d)
{
    return d->msi_cap ? 1u << ((flags(d) & MSI_FLAGS_QMASK) >> 1) : 0;
}

static unsigned nr_enabled(const PCIDevice *d)
{
    unsigned n = 1u << ((flags(d) & MSI_FLAGS_QSIZE) >> 4);
    unsigned max = msi_nr_vectors_allocated(d);
    return n > max ? max : n;
}

void msi_get_message(PCIDevice *d, unsigned vector, uint64_t *addr, uint32_t *data)
{
    uint16_t f = flags(d);
    *addr = pci_get_long(d->config + d->msi_cap + MSI_ADDRESS_LO);
    if (f & MSI_FLAGS_64BIT) {
        *addr |= (uint64_t)pci_get_long(d->config + d->msi_cap + 8) << 32;
    }
    uint32_t n = nr_enabled(d);
    uint16_t base = pci_get_word(d->config + data_off(d));
    *data = (base & ~(n - 1)) | (vector & (n - 1));
}

static bool masked(PCIDevice *d, unsigned vector)
{
    if (!(flags(d) & MSI_FLAGS_MASKBIT)) {
        return false;
    }
    return pci_get_long(d->config + mask_off(d)) & (1u << vector);
}

static void set_pending(PCIDevice *d, unsigned vector, bool on)
{
    uint32_t bit = 1u << vector;
    d->msi_pending = on ? d->msi_pending | bit : d->msi_pending & ~bit;
    if (flags(d) & MSI_FLAGS_MASKBIT) {
        pci_set_long(d->config + mask_off(d) + 4, d->msi_pending);
    }
}

void msi_notify(PCIDevice *d, unsigned vector)
{
    if (!msi_enabled(d) || vector >= nr_enabled(d)) {
        return;
    }
    if (masked(d, vector)) {
        set_pending(d, vector, true);
        return;
    }
    uint64_t addr;
    uint32_t data;
    msi_get_message(d, vector, &addr, &data);
    msi_send_message(addr, data);
}

bool msi_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
bool msi_write_config(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len)
{
    (void)val;
    uint8_t c = d->msi_cap;
    if (addr + len <= c || addr >= (uint32_t)c + 0x18) {
        return false;
    }
    /* MME above MMC reads back as MMC (the guest gets what the device can do) */
    uint16_t f = flags(d);
    unsigned mmc = (f & MSI_FLAGS_QMASK) >> 1, mme = (f & MSI_FLAGS_QSIZE) >> 4;
    if (mme > mmc) {
        f = (uint16_t)((f & ~MSI_FLAGS_QSIZE) | (mmc << 4));
        pci_set_word(d->config + c + MSI_FLAGS, f);
    }
    if (!msi_enabled(d)) {
        return true;
    }
    /* unmasked vectors with pending messages go now */
    for (unsigned v = 0; v < nr_enabled(d); v++) {
        if ((d->msi_pending & (1u << v)) && !masked(d, v)) {
            set_pending(d, v, false);
            msi_notify(d, v);
        }
    }
    return true;
}

void msi_reset(PCIDevice *d);
void msi_reset(PCIDevice *d)
{
    if (!d->msi_cap) {
        return;
    }
    uint8_t c = d->msi_cap;
    uint16_t f = flags(d) & ~(MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE);
    pci_set_word(d->config + c + MSI_FLAGS, f);
    pci_set_long(d->config + c + MSI_ADDRESS_LO, 0);
    if (f & MSI_FLAGS_64BIT) {
        pci_set_long(d->config + c + 8, 0);
    }
    pci_set_word(d->config + data_off(d), 0);
    if (f & MSI_FLAGS_MASKBIT) {
        pci_set_long(d->config + mask_off(d), 0);
        pci_set_long(d->config + mask_off(d) + 4, 0);
    }
    d->msi_pending = 0;
}

void pci_notify(PCIDevice *d, unsigned vector)
{
    if (msix_enabled(d)) {
        msix_notify(d, vector);
    } else if (msi_enabled(d)) {
        msi_notify(d, vector);
    } else {
        pci_irq_assert(d);
    }
}
