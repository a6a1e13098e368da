/*
 * fuzz_pci: lvio_pci_probe on a function whose configuration space (256
 * or 4096 bytes), BAR sizes and kinds come from the input, with every
 * register read in the BARs taken from the input too (one opcode byte per
 * read, fz_perturb); then, when the probe succeeds, lvio_device_begin,
 * queue setup, a chain made available and kicked (the notify address),
 * DRIVER_OK, configuration reads, isr, lvio_dump, reset and teardown.
 *
 * The main property: the transport never touches anything but the
 * configuration space and the BAR ranges it was given. Configuration
 * space and every range map_regs hands out are unreadable host addresses
 * (fuzz_dev.h) of exactly the size given or asked for; reg_read and
 * reg_write abort on any access not wholly inside one of them, and
 * map_regs aborts on a range not wholly inside one BAR as given.
 *
 * Also checked: a register access in a BAR is naturally aligned (on Arm,
 * an unaligned access to Device memory faults); every call returns what it
 * documents; every DMA page comes back.
 *
 * MSI-X: the capability (size, BIR, offset) is whatever the configuration
 * bytes say, the vector registers keep what is written (a vector past the
 * table reads VIRTIO_MSI_NO_VECTOR, as QEMU answers) and every read of
 * them is perturbed like any register, and the HAL's msix_route fails or
 * gives a misaligned address when the device's tape says so. Checked: the
 * only configuration space write is a 16-bit one to Message Control of
 * the MSI-X capability the library found; every table write is a 32-bit
 * word of an entry of the table the library validated, inside its BAR and
 * clear of the virtio structures in use, and an entry's address and data
 * are written only while it cannot fire (masked, or the function masked);
 * routes are asked only for entries in the table; a legacy device's
 * configuration offset follows the enable bit; a device in MSI-X mode has
 * MSI-X enabled and unmasked, one in INTx mode has it disabled.
 *
 * With the "volatile configuration space" flag, every configuration read
 * also takes an opcode: a device (or a surprise removal, which reads
 * all-ones) may change what it reads between two reads of the same field.
 * Other flags make the device ignore resets (all after the first, only
 * the second, or all: it keeps its status and registers, and the HAL
 * aborts if anything it was given is freed meanwhile; LVIO_E_DEAD then
 * keeps the rings, which fz_finish counts) and stop the clock (every
 * wait ends by LVIO_CLOCK_STALL_POLLS).
 *
 * Input: flags (1: 1 4096-byte configuration space, 2 volatile
 * configuration, 4 segment 0x12, 8 device 33, 16 DMA at 16 TiB, bits 5-6
 * resets ignored: 1 after the first, 2 the second, 3 all; 0x80 the clock
 * stands still), DMA failure (1), six BARs (1 each: size code, bit 7
 * I/O), map failure (1), configuration bytes given n (2) and n bytes (the
 * rest of the space is zero; from 0x100 on it is also the device-specific
 * configuration), wanted features (8; bit 63, no feature, sets
 * dev.msix_off), max queue size (1), then opcodes. The device's tape also
 * decides each msix_route call (one byte).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_pci.h"

#define CFG_PHYS 0xc0000000ull /* where the harness says configuration space is */
#define BAR_PHYS(i) (0x1000000000ull + (uint64_t)(i) * 0x100000000ull)
#define NQ 2

struct region {
    int bar;            /* -1: none */
    uint64_t off, len;
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_pci_function fn;
    struct lvio_virtqueue vq[NQ];
    bool vq_up[NQ];
    uint8_t cfg[4096];
    bool cfg_volatile;
    unsigned map_calls, map_fail_at;
    bool map_failed;
    /* the device: what its capabilities say, and its registers */
    struct region common, notify, isr, devcfg;
    uint8_t common_regs[56];
    uint16_t q_size[NQ + 2], q_enable[NQ + 2];
    uint32_t legacy_pfn[NQ + 2], legacy_guest_features;
    uint16_t legacy_sel;
    uint8_t status;
    uint64_t features;
    /* MSI-X, as the library programs it */
    uint16_t q_vector[NQ + 2];
    uint32_t msix_ctrl[LVIO_PCI_MSIX_MAX_ENTRIES]; /* vector control words written */
    bool msix_ctrl_written;     /* Message Control written in this input */
} S;

/* ---- configuration space, as the device's capabilities say ------------------------- */

static uint32_t cfg_le(unsigned off, unsigned width)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < width && off + i < sizeof S.cfg; i++)
        v |= (uint32_t)S.cfg[off + i] << (8 * i);
    return v;
}

/* The device's own view of its layout: the first capability of each type. */
static void parse_caps(void)
{
    struct region *r[5] = {NULL, &S.common, &S.notify, &S.isr, &S.devcfg};
    S.common.bar = S.notify.bar = S.isr.bar = S.devcfg.bar = -1;
    unsigned at = S.cfg[LVIO_PCI_CAPABILITY_LIST] & ~3u;
    for (unsigned n = 0; n < 48 && at >= 0x40 && at < 0x100; n++) {
        unsigned type = S.cfg[at + 3];
        if (S.cfg[at] == LVIO_PCI_CAP_ID_VNDR && type >= 1 && type <= 4 && r[type]->bar < 0 &&
            S.cfg[at + 4] < LVIO_PCI_NUM_BARS && at + 16 <= 0x100) {
            r[type]->bar = S.cfg[at + 4];
            r[type]->off = cfg_le(at + 8, 4);
            r[type]->len = cfg_le(at + 12, 4);
        }
        at = S.cfg[at + 1] & ~3u;
    }
}

/* ---- the register model ----------------------------------------------------------- */

static bool in_region(const struct region *r, int bar, uint64_t off, uint64_t *rel)
{
    if (r->bar != bar || off < r->off || off - r->off >= r->len)
        return false;
    *rel = off - r->off;
    return true;
}

static void pci_reset(void)
{
    fz_reset_done(&S.f);
    S.status = 0;
    memset(S.common_regs, 0, sizeof S.common_regs);
    memset(S.q_enable, 0, sizeof S.q_enable);
    memset(S.legacy_pfn, 0, sizeof S.legacy_pfn);
    for (unsigned i = 0; i < NQ + 2; i++) {
        S.q_size[i] = 64;
        S.q_vector[i] = LVIO_VIRTIO_MSI_NO_VECTOR; /* a reset forgets the vectors */
    }
    S.common_regs[LVIO_VIRTIO_PCI_COMMON_MSIX] = 0xff;
    S.common_regs[LVIO_VIRTIO_PCI_COMMON_MSIX + 1] = 0xff;
}

/* ---- MSI-X ------------------------------------------------------------------------------ */

/* The MSI-X capability the library found (0: none) and its Message Control
 * as the model holds it (configuration space bytes, updated by writes). */
static unsigned msix_cap(void)
{
    return S.dev.transport == LVIO_TRANSPORT_PCI ? S.dev.transport_state.pci.msix.cap : 0;
}

static uint32_t msix_msg_ctrl(void)
{
    unsigned cap = msix_cap();
    return cap ? cfg_le(cap + LVIO_PCI_MSIX_MSG_CTRL, 2) : 0;
}

static bool msix_enabled(void)
{
    return msix_msg_ctrl() & LVIO_PCI_MSIX_CTRL_ENABLE;
}

/* The table size the capability says (the model's word for it). */
static uint32_t msix_size(void)
{
    return (msix_msg_ctrl() & LVIO_PCI_MSIX_CTRL_SIZE) + 1;
}

/* What a vector register keeps: QEMU refuses vectors past the table. */
static uint16_t vector_take(uint32_t v)
{
    return v != LVIO_VIRTIO_MSI_NO_VECTOR && v >= msix_size() ? LVIO_VIRTIO_MSI_NO_VECTOR
                                                              : (uint16_t)v;
}

/* A configuration space write: only Message Control of the library's MSI-X
 * capability, 16 bits; enable and function mask are what changes. */
static void cfg_write(uint64_t off, unsigned width, uint32_t v)
{
    unsigned cap = msix_cap();
    if (cap == 0 || off != cap + LVIO_PCI_MSIX_MSG_CTRL || width != 2)
        fz_die("configuration space write of %u bytes at 0x%llx: only MSI-X Message Control "
               "(capability at 0x%02x) may be written", width, (unsigned long long)off, cap);
    if (cap < 0x40 || cap + 4 > 0x100)
        fz_die("MSI-X capability at 0x%02x is outside 0x40..0xff", cap);
    if (!S.cfg_volatile && S.cfg[cap] != LVIO_PCI_CAP_ID_MSIX)
        fz_die("Message Control written at 0x%02x, but capability id there is 0x%02x", cap + 2,
               S.cfg[cap]);
    uint32_t rw = LVIO_PCI_MSIX_CTRL_ENABLE | LVIO_PCI_MSIX_CTRL_MASKALL;
    uint32_t mc = (msix_msg_ctrl() & ~rw) | (v & rw);
    S.cfg[off] = (uint8_t)mc;
    S.cfg[off + 1] = (uint8_t)(mc >> 8);
    S.msix_ctrl_written = true;
}

/* The table the library validated, as a range of CPU physical addresses. */
static bool lib_table(uint64_t *phys, uint64_t *len)
{
    const struct lvio_pci_region *t = &S.dev.transport_state.pci.msix.table;
    if (!msix_cap() || !t->base || t->bar >= LVIO_PCI_NUM_BARS)
        return false;
    *phys = S.fn.bar[t->bar].phys + t->offset;
    *len = t->len;
    return true;
}

/* A write into the library's table mapping (map `map`, offset `off`). */
static void table_write(unsigned map, uint64_t off, unsigned width, uint32_t v)
{
    const struct lvio_pci_msix *m = &S.dev.transport_state.pci.msix;
    uint64_t phys = S.f.maps[map].phys + off, t_phys, t_len, rel;
    if (!lib_table(&t_phys, &t_len) || phys < t_phys || phys + width > t_phys + t_len)
        fz_die("MSI-X table write at 0x%llx outside the table the library validated",
               (unsigned long long)phys);
    if (t_len != (uint64_t)m->table_size * LVIO_PCI_MSIX_ENTRY_SIZE || m->table_size == 0 ||
        m->table_size > LVIO_PCI_MSIX_MAX_ENTRIES)
        fz_die("MSI-X table of %u entries mapped as 0x%llx bytes", m->table_size,
               (unsigned long long)t_len);
    if (!S.cfg_volatile) {
        unsigned cap = msix_cap();
        uint32_t table = cfg_le(cap + LVIO_PCI_MSIX_TABLE, 4);
        if (m->table.bar != (table & LVIO_PCI_MSIX_BIR_MASK) ||
            m->table.offset != (table & ~LVIO_PCI_MSIX_BIR_MASK) || m->table_size != msix_size())
            fz_die("the library's MSI-X table (BAR %u + 0x%x, %u entries) is not the one the "
                   "capability describes (0x%08x, %u entries)", m->table.bar, m->table.offset,
                   m->table_size, table, msix_size());
    }
    const struct lvio_pci_region *used[] = {&S.dev.transport_state.pci.common, &S.dev.transport_state.pci.notify,
                                            &S.dev.transport_state.pci.isr, &S.dev.transport_state.pci.devcfg,
                                            &S.dev.transport_state.pci.legacy};
    for (unsigned i = 0; i < sizeof used / sizeof used[0]; i++) {
        const struct lvio_pci_region *r = used[i];
        uint64_t r_phys = S.fn.bar[r->bar].phys + r->offset;
        if (r->base && phys < r_phys + r->len && r_phys < phys + width)
            fz_die("MSI-X table write at 0x%llx lands in a virtio structure in use",
                   (unsigned long long)phys);
    }
    rel = phys - t_phys;
    if (width != 4 || rel % 4)
        fz_die("%u-byte MSI-X table write at +0x%llx (entries are 32-bit words)", width,
               (unsigned long long)rel);
    uint32_t entry = (uint32_t)(rel / LVIO_PCI_MSIX_ENTRY_SIZE);
    uint32_t word = (uint32_t)(rel % LVIO_PCI_MSIX_ENTRY_SIZE);
    if (word == LVIO_PCI_MSIX_ENTRY_CTRL) {
        S.msix_ctrl[entry] = v;
        return;
    }
    bool can_fire = msix_enabled() && !(msix_msg_ctrl() & LVIO_PCI_MSIX_CTRL_MASKALL) &&
                    !(S.msix_ctrl[entry] & LVIO_PCI_MSIX_ENTRY_MASKED);
    if (can_fire)
        fz_die("MSI-X entry %u: word +%u written while the entry may fire (unmasked)", entry,
               word);
}

/* The HAL's msix_route: the device's tape says whether it fails (bit 7)
 * or gives a misaligned address (bit 6); an empty tape routes. */
static int pci_msix_route(void *ctx, const struct lvio_device *dev, uint16_t vector,
                          uint64_t *addr, uint32_t *data)
{
    struct fz *f = ctx;
    if (dev != &S.dev)
        fz_die("msix_route for another device");
    if (vector >= dev->transport_state.pci.msix.table_size || vector >= LVIO_PCI_MSIX_VECTORS_MAX)
        fz_die("msix_route for vector %u of a table of %u entries", vector,
               dev->transport_state.pci.msix.table_size);
    uint8_t b = fz_u8(&f->t);
    if (b & 0x80)
        return (b & 1) ? LVIO_E_HAL : -(int)(b & 0x3f) - 1;
    *addr = 0x08020040ull + ((b & 0x40) ? (b & 3u) : 0) + ((uint64_t)(b & 0x30) << 28);
    *data = 80u + vector;
    return 0;
}

/* What an MSI-X handler would be told: the configuration on its vector,
 * each queue set up on its own. */
static void check_msix_answers(void)
{
    unsigned n = lvio_device_msix_vectors(&S.dev);
    if (S.dev.irq_mode != LVIO_IRQ_MSIX) {
        if (n)
            fz_die("%u MSI-X vectors reported in INTx mode", n);
        return;
    }
    if (n == 0 || n > S.dev.transport_state.pci.msix.table_size || n > LVIO_PCI_MSIX_VECTORS_MAX)
        fz_die("%u MSI-X vectors reported with a table of %u", n, S.dev.transport_state.pci.msix.table_size);
    if (!(lvio_device_msix_isr(&S.dev, 0) & LVIO_VIRTIO_ISR_CONFIG))
        fz_die("MSI-X vector 0 is not the configuration's");
    for (unsigned i = 0; i < NQ; i++) {
        uint16_t v = S.vq[i].msix_vector;
        if (S.vq_up[i] && (v >= S.dev.transport_state.pci.msix.table_size ||
                           !(lvio_device_msix_isr(&S.dev, v) & LVIO_VIRTIO_ISR_QUEUE)))
            fz_die("queue %u: MSI-X vector %u, which the library does not say is a queue's", i,
                   v);
    }
}

/* After begin and each queue: the library's mode agrees with the device,
 * and a legacy device's configuration offset with the enable bit. */
static void check_irq_state(void)
{
    const struct lvio_pci_msix *m = &S.dev.transport_state.pci.msix;
    if (S.dev.irq_mode == LVIO_IRQ_MSIX) {
        if (!m->table.base || !msix_enabled() ||
            (msix_msg_ctrl() & LVIO_PCI_MSIX_CTRL_MASKALL) || m->config_vector != 0 ||
            S.f.hal.msix_route == NULL || S.dev.msix_off)
            fz_die("MSI-X mode, but table %p, Message Control 0x%04x, config vector %u",
                   (void *)(uintptr_t)m->table.base, msix_msg_ctrl(), m->config_vector);
    } else if (S.dev.irq_mode != LVIO_IRQ_INTX) {
        fz_die("irq_mode %d", (int)S.dev.irq_mode);
    } else if (S.msix_ctrl_written && msix_enabled()) {
        fz_die("INTx mode, but MSI-X left enabled (Message Control 0x%04x)", msix_msg_ctrl());
    } else if (lvio_device_msix_vectors(&S.dev) != 0 || lvio_device_msix_isr(&S.dev, 0) != 0) {
        fz_die("INTx mode, but MSI-X vectors reported");
    }
    if (S.dev.legacy && S.msix_ctrl_written &&
        S.dev.transport_state.pci.legacy_cfg != (msix_enabled() ? LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX
                                                  : LVIO_VIRTIO_PCI_LEGACY_CONFIG))
        fz_die("legacy configuration at 0x%x with MSI-X %s", S.dev.transport_state.pci.legacy_cfg,
               msix_enabled() ? "enabled" : "disabled");
}

static uint32_t regs_get(const uint8_t *regs, uint64_t off, unsigned width, size_t size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < width && off + i < size; i++)
        v |= (uint32_t)regs[off + i] << (8 * i);
    return v;
}

static uint32_t common_read(uint64_t off, unsigned width)
{
    uint16_t sel = (uint16_t)regs_get(S.common_regs, LVIO_VIRTIO_PCI_COMMON_Q_SELECT, 2, 56);
    bool q = sel < NQ + 2;
    switch (off) {
    case LVIO_VIRTIO_PCI_COMMON_DF: {
        uint32_t w = regs_get(S.common_regs, LVIO_VIRTIO_PCI_COMMON_DFSELECT, 4, 56);
        return w < 2 ? (uint32_t)(S.features >> (32 * w)) : 0;
    }
    case LVIO_VIRTIO_PCI_COMMON_NUMQ: return NQ + 1;
    case LVIO_VIRTIO_PCI_COMMON_STATUS: return S.status;
    case LVIO_VIRTIO_PCI_COMMON_CFGGENERATION: return 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_SIZE: return q ? S.q_size[sel] : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_ENABLE: return q ? S.q_enable[sel] : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_NOFF: return sel;
    case LVIO_VIRTIO_PCI_COMMON_Q_MSIX: return q ? S.q_vector[sel] : LVIO_VIRTIO_MSI_NO_VECTOR;
    default: return regs_get(S.common_regs, off, width, 56);
    }
}

static void common_write(uint64_t off, unsigned width, uint32_t v)
{
    uint16_t sel = (uint16_t)regs_get(S.common_regs, LVIO_VIRTIO_PCI_COMMON_Q_SELECT, 2, 56);
    bool q = sel < NQ + 2;
    if (off == LVIO_VIRTIO_PCI_COMMON_STATUS && v == 0) {
        pci_reset();
        return;
    }
    if (off == LVIO_VIRTIO_PCI_COMMON_STATUS)
        S.status = (uint8_t)v;
    if (off == LVIO_VIRTIO_PCI_COMMON_Q_SIZE && q)
        S.q_size[sel] = (uint16_t)v;
    if (off == LVIO_VIRTIO_PCI_COMMON_Q_ENABLE && q)
        S.q_enable[sel] = (uint16_t)v;
    if (off == LVIO_VIRTIO_PCI_COMMON_Q_MSIX && q)
        S.q_vector[sel] = vector_take(v);
    if (off == LVIO_VIRTIO_PCI_COMMON_MSIX)
        v = vector_take(v);
    for (unsigned i = 0; i < width && off + i < sizeof S.common_regs; i++)
        S.common_regs[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t devcfg_read(uint64_t off, unsigned width)
{
    return off < 0x100 ? cfg_le(0x100 + (unsigned)off, width) : 0;
}

/* Device configuration starts after the MSI-X vectors while MSI-X is on. */
static uint32_t legacy_cfg_start(void)
{
    return msix_enabled() ? LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX : LVIO_VIRTIO_PCI_LEGACY_CONFIG;
}

static uint32_t legacy_read(uint64_t off, unsigned width)
{
    bool q = S.legacy_sel < NQ + 2;
    if (msix_enabled() && off == LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR)
        return regs_get(S.common_regs, LVIO_VIRTIO_PCI_COMMON_MSIX, 2, 56);
    if (msix_enabled() && off == LVIO_VIRTIO_PCI_LEGACY_QUEUE_VECTOR)
        return q ? S.q_vector[S.legacy_sel] : LVIO_VIRTIO_MSI_NO_VECTOR;
    switch (off) {
    case LVIO_VIRTIO_PCI_LEGACY_HOST_FEATURES: return (uint32_t)S.features;
    case LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES: return S.legacy_guest_features;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN: return q ? S.legacy_pfn[S.legacy_sel] : 0;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_NUM: return q ? 64 : 0;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL: return S.legacy_sel;
    case LVIO_VIRTIO_PCI_LEGACY_STATUS: return S.status;
    case LVIO_VIRTIO_PCI_LEGACY_ISR: return 0;
    default:
        return off >= legacy_cfg_start() ? devcfg_read(off - legacy_cfg_start(), width) : 0;
    }
}

static void legacy_write(uint64_t off, uint32_t v)
{
    bool q = S.legacy_sel < NQ + 2;
    if (msix_enabled() && off == LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR)
        common_write(LVIO_VIRTIO_PCI_COMMON_MSIX, 2, v); /* the same register */
    if (msix_enabled() && off == LVIO_VIRTIO_PCI_LEGACY_QUEUE_VECTOR && q)
        S.q_vector[S.legacy_sel] = vector_take(v);
    switch (off) {
    case LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES: S.legacy_guest_features = v; break;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN: if (q) S.legacy_pfn[S.legacy_sel] = v; break;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL: S.legacy_sel = (uint16_t)v; break;
    case LVIO_VIRTIO_PCI_LEGACY_STATUS:
        if (v == 0)
            pci_reset();
        S.status = (uint8_t)v;
        break;
    default: break;
    }
}

/* Which BAR a physical address is in (-1: none), and the offset in it. */
static int bar_of(uint64_t phys, uint64_t *off)
{
    for (int b = 0; b < LVIO_PCI_NUM_BARS; b++) {
        const struct lvio_pci_bar *bar = &S.fn.bar[b];
        if (bar->size && phys >= bar->phys && phys - bar->phys < bar->size) {
            *off = phys - bar->phys;
            return b;
        }
    }
    return -1;
}

static void check_aligned(uint64_t phys, unsigned width, const char *what)
{
    if (phys % width)
        fz_die("%u-byte register %s at 0x%llx, not naturally aligned (faults on Device "
               "memory)", width, what, (unsigned long long)phys);
}

/* The status register as the library found it (its view of the layout,
 * which a device with odd capabilities may make differ from the model's):
 * the device ignores a reset written there, and completes it when the
 * library reads 0 there. */
static bool lib_status_reg(const struct fz *f, unsigned map, uint64_t off)
{
    const struct lvio_pci_region *r = S.dev.legacy ? &S.dev.transport_state.pci.legacy : &S.dev.transport_state.pci.common;
    uint64_t at = S.dev.legacy ? LVIO_VIRTIO_PCI_LEGACY_STATUS : LVIO_VIRTIO_PCI_COMMON_STATUS;
    return r->base && f->maps[map].base + off == (uintptr_t)r->base + at;
}

static uint32_t pci_reg_read(struct fz *f, unsigned map, uint64_t off, unsigned width)
{
    uint64_t phys = f->maps[map].phys + off, rel, boff;
    uint32_t v = 0;
    if (map == 0) { /* configuration space */
        v = cfg_le((unsigned)off, width);
        return S.cfg_volatile ? fz_perturb(f, v, width) : v;
    }
    int bar = bar_of(phys, &boff);
    check_aligned(phys, width, "read");
    if (S.dev.transport_state.pci.msix.table.base &&
        f->maps[map].base == (uintptr_t)S.dev.transport_state.pci.msix.table.base) {
        if (off % LVIO_PCI_MSIX_ENTRY_SIZE == LVIO_PCI_MSIX_ENTRY_CTRL &&
            off / LVIO_PCI_MSIX_ENTRY_SIZE < LVIO_PCI_MSIX_MAX_ENTRIES)
            v = S.msix_ctrl[off / LVIO_PCI_MSIX_ENTRY_SIZE];
    } else if (in_region(&S.common, bar, boff, &rel))
        v = common_read(rel, width);
    else if (in_region(&S.devcfg, bar, boff, &rel))
        v = devcfg_read(rel, width);
    else if (bar == 0 && S.fn.bar[0].io && !in_region(&S.notify, bar, boff, &rel) &&
             !in_region(&S.isr, bar, boff, &rel))
        v = legacy_read(boff, width);
    v = fz_perturb(f, v, width);
    if (lib_status_reg(f, map, off) && fz_status_told(f, v))
        pci_reset(); /* told it is reset, the driver will free: it is */
    return v;
}

static void pci_reg_write(struct fz *f, unsigned map, uint64_t off, unsigned width, uint32_t v)
{
    uint64_t phys = f->maps[map].phys + off, rel, boff;
    if (map == 0) {
        cfg_write(off, width, v);
        return;
    }
    int bar = bar_of(phys, &boff);
    check_aligned(phys, width, "write");
    if (S.dev.transport_state.pci.msix.table.base &&
        f->maps[map].base == (uintptr_t)S.dev.transport_state.pci.msix.table.base) {
        table_write(map, off, width, v);
        return;
    }
    if (v == 0 && lib_status_reg(f, map, off) && fz_reset_ignored(f))
        return; /* a zombie: status, queues, all stay as they were */
    if (in_region(&S.common, bar, boff, &rel))
        common_write(rel, width, v);
    else if (in_region(&S.notify, bar, boff, &rel))
        f->notifies++;
    else if (bar == 0 && S.fn.bar[0].io)
        legacy_write(boff, v);
}

/* map_regs: only ranges inside one BAR as given; the k-th call may fail. */
static volatile void *pci_map_regs(void *ctx, uint64_t phys, size_t len)
{
    struct fz *f = ctx;
    uint64_t off;
    int bar = bar_of(phys, &off);
    if (bar < 0 || len > S.fn.bar[bar].size - off)
        fz_die("map_regs(0x%llx, 0x%zx): not inside one BAR", (unsigned long long)phys, len);
    int i = ++S.map_calls == S.map_fail_at ? -1 : fz_map_regs(f, phys, len);
    S.map_failed |= i < 0;
    return i < 0 ? NULL : (volatile void *)f->maps[i].base;
}

/* ---- the input ---------------------------------------------------------------------- */

static void read_function(void)
{
    struct fz_tape *t = &S.f.h;
    uint8_t flags = fz_u8(t);
    uint8_t dma_fail = fz_u8(t);
    S.f.dma_fail_mask = dma_fail ? 1u << ((dma_fail - 1) % 32) : 0;
    S.f.dma_base = (flags & 16) ? FZ_DMA_BASE_16TIB : FZ_DMA_BASE_LOW;
    S.cfg_volatile = flags & 2;
    S.fn.cfg_size = (flags & 1) ? 4096 : 256;
    S.fn.segment = (flags & 4) ? 0x12 : 0;
    S.fn.bus = 0;
    S.fn.device = (uint8_t)((flags & 8) ? 33 : 2); /* 33: out of range, INVAL */
    static const uint32_t refuse[4][2] = {{0, 0}, {1, UINT32_MAX}, {1, 2}, {0, UINT32_MAX}};
    S.f.refuse_first = refuse[(flags >> 5) & 3][0];
    S.f.refuse_end = refuse[(flags >> 5) & 3][1];
    S.f.clock = (flags & 0x80) ? FZ_CLOCK_STOPPED : FZ_CLOCK_TICK;
    S.fn.function = 0;
    for (unsigned b = 0; b < LVIO_PCI_NUM_BARS; b++) {
        uint8_t code = fz_u8(t);
        uint8_t k = code & 0x3f;
        S.fn.bar[b].phys = BAR_PHYS(b);
        S.fn.bar[b].io = code & 0x80;
        if (k == 0)
            S.fn.bar[b].size = 0;
        else if (code & 0x40)
            S.fn.bar[b].size = 0x10 + 4u * k; /* small, not a power of two */
        else
            S.fn.bar[b].size = 1ull << (k % 33);
    }
    S.map_fail_at = fz_u8(t);
    size_t n = fz_u16(t) % (sizeof S.cfg + 1);
    fz_bytes(t, S.cfg, n);
    parse_caps();
}

/* Make a chain available on each queue and kick it: the notify address. */
static void kick_queues(void)
{
    uint64_t buf;
    fz_harness_dma(&S.f, 1, &buf);
    for (unsigned i = 0; i < NQ; i++) {
        if (!S.vq_up[i])
            continue;
        struct lvio_sg sg = {buf, 64};
        if (lvio_vq_add(&S.vq[i], NULL, 0, &sg, 1, &S) != LVIO_OK)
            fz_die("lvio_vq_add on a fresh queue failed");
        if (lvio_vq_kick(&S.vq[i]) != LVIO_OK)
            fz_die("lvio_vq_kick on a fresh queue failed");
        void *token;
        lvio_vq_get(&S.vq[i], &token, NULL);
    }
}

static void after_probe(void)
{
    struct fz_tape *t = &S.f.h;
    uint64_t wanted = fz_u64(t);
    uint8_t max = fz_u8(t);
    S.dev.msix_off = (wanted >> 63) & 1; /* no feature there: the caller's switch */
    fz_call(&S.f, "lvio_device_begin");
    int rv = lvio_device_begin(&S.dev, wanted);
    FZ_EXPECT("lvio_device_begin", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_FEATURES,
           LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET);
    fz_check_waited(&S.f, rv, 0);
    if (rv == LVIO_OK) {
        check_irq_state();
        for (unsigned i = 0; i < NQ; i++) {
            fz_call(&S.f, "lvio_vq_setup");
            rv = lvio_vq_setup(&S.vq[i], &S.dev, (uint16_t)i, max);
            FZ_EXPECT("lvio_vq_setup", rv, LVIO_OK, LVIO_E_QUEUE, LVIO_E_NOMEM, LVIO_E_RANGE,
                   LVIO_E_LAYOUT, LVIO_E_DEAD);
            fz_check_waited(&S.f, rv, 0);
            S.vq_up[i] = rv == LVIO_OK;
            if (!fz_driver_still_on(&S.dev, rv))
                break;
            check_irq_state();
        }
        if (S.dev.status & LVIO_VIRTIO_STATUS_DRIVER) {
            fz_call(&S.f, "lvio_device_driver_ok");
            rv = lvio_device_driver_ok(&S.dev);
            FZ_EXPECT("lvio_device_driver_ok", rv, LVIO_OK, LVIO_E_NEEDS_RESET);
            check_msix_answers();
            kick_queues();
        }
    }
    fz_call(&S.f, "lvio_config_read, isr, dump");
    for (unsigned k = fz_u8(t) % 4; k > 0; k--) {
        uint32_t off = fz_u16(t) % 0x1100, len = fz_u8(t) + 1u;
        uint8_t *buf = malloc(len);
        rv = lvio_config_read(&S.dev, off, buf, len);
        FZ_EXPECT("lvio_config_read", rv, LVIO_OK, LVIO_E_CONFIG, LVIO_E_INVAL);
        if ((rv == LVIO_E_INVAL) != (off > 4096))
            fz_die("lvio_config_read(%u, %u) returned %d", off, len, rv);
        free(buf);
    }
    lvio_device_isr(&S.dev);
    lvio_dump(&S.dev);
    fz_reset_teardown(&S.dev, S.vq, S.vq_up, NQ);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_init(f, data, size);
    fz_watch(f, &S.dev);
    f->reg_read = pci_reg_read;
    f->reg_write = pci_reg_write;
    f->hal.map_regs = pci_map_regs;
    f->hal.msix_route = pci_msix_route;
    for (unsigned i = 0; i < LVIO_PCI_MSIX_MAX_ENTRIES; i++)
        S.msix_ctrl[i] = LVIO_PCI_MSIX_ENTRY_MASKED; /* as after a PCI reset */
    f->quiet = true; /* no ring model behind PCI: the rings are not served */
    read_function();
    S.features = (1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_F_ACCESS_PLATFORM);
    pci_reset();
    if (fz_map_regs(f, CFG_PHYS, S.fn.cfg_size) != 0)
        fz_die("cannot map configuration space");
    S.fn.cfg = (volatile void *)f->maps[0].base;

    fz_call(f, "lvio_pci_probe");
    int rv = lvio_pci_probe(&S.dev, &f->hal, &S.fn);
    FZ_EXPECT("lvio_pci_probe", rv, LVIO_OK, LVIO_E_NOT_VIRTIO, LVIO_E_LAYOUT, LVIO_E_STATE,
           LVIO_E_INVAL);
    if ((rv == LVIO_E_INVAL) && S.fn.device <= 31 && !S.map_failed)
        fz_die("lvio_pci_probe returned LVIO_E_INVAL with valid arguments and map_regs");
    fz_check_errmsg(&S.dev);
    if (rv == LVIO_OK) {
        if ((S.dev.version != 1 && S.dev.version != 2) || S.dev.device_id == 0 || !S.dev.ops)
            fz_die("probe succeeded with version %u device %u", S.dev.version,
                   S.dev.device_id);
        after_probe();
    }
    fz_check_errmsg(&S.dev);
    fz_finish(f);
    return 0;
}
