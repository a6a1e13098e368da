/*
 * virtio-pci MSI-X, for both register interfaces (VIRTIO 1.2, 4.1.4.3,
 * 4.1.4.8, 4.1.5.1.2; the capability and table as PCI defines them).
 *
 * The probe finds the capability and maps the table when it is usable.
 * lvio_device_begin then enables MSI-X with the function masked, masks
 * every entry, routes entry 0 through hal->msix_route, unmasks it, clears
 * the function mask and gives the configuration vector 0. Each queue's
 * setup gives the queue its vector (1 + index while the table has room,
 * then shared), routing and unmasking the entry on its first use. Every
 * vector written is read back. A device that does not take one
 * (VIRTIO_MSI_NO_VECTOR: it has no such vector) or a route that fails is
 * not an error: MSI-X is switched off and the device runs on INTx, with a
 * warning that names what happened.
 *
 * A legacy device's configuration starts at 0x18 instead of 0x14 while
 * MSI-X is enabled: every change of the enable bit goes through
 * msix_control(), which keeps dev->transport_state.pci.legacy_cfg in step.
 */
#include "pci_internal.h"

#define MSIX(dev) (&(dev)->transport_state.pci.msix)

/* Entries the library uses (the vector bitmaps have 64 bits). */
static uint32_t msix_entries(const struct lvio_device *dev)
{
    uint32_t n = MSIX(dev)->table_size;
    return n < LVIO_PCI_MSIX_VECTORS_MAX ? n : LVIO_PCI_MSIX_VECTORS_MAX;
}

/* Vector v's bit in the bitmaps (none past them). */
static uint64_t vector_bit(uint32_t v)
{
    return v < LVIO_PCI_MSIX_VECTORS_MAX ? 1ull << v : 0;
}

/* ---- probe --------------------------------------------------------------------- */

/* The table may not share bytes with a virtio structure: writing an entry
 * would write a register. */
static const char *msix_overlap(const struct lvio_device *dev, uint32_t bar, uint32_t off,
                                uint32_t len)
{
    static const char *const names[] = {"common", "notify", "isr", "device", "legacy"};
    const struct lvio_pci_region *r[] = {&dev->transport_state.pci.common, &dev->transport_state.pci.notify,
                                         &dev->transport_state.pci.isr, &dev->transport_state.pci.devcfg,
                                         &dev->transport_state.pci.legacy};
    for (unsigned i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i]->base && r[i]->bar == bar && (uint64_t)off < (uint64_t)r[i]->offset + r[i]->len &&
            (uint64_t)r[i]->offset < (uint64_t)off + len)
            return names[i];
    return NULL;
}

/* Why the table at BAR `bir` + `off` cannot be used, into m->why; 0 when
 * it can (and is mapped). */
static int msix_table_map(struct lvio_device *dev, const struct lvio_pci_function *fn,
                          uint32_t bir, uint32_t off)
{
    struct lvio_pci_msix *m = MSIX(dev);
    uint32_t len = m->table_size * LVIO_PCI_MSIX_ENTRY_SIZE;
    const char *other = msix_overlap(dev, bir, off, len);
    char why[64];

    if (bir < LVIO_PCI_NUM_BARS && fn->bar[bir].io) {
        lvio_snprintf(m->why, sizeof m->why, "MSI-X table is in BAR %u, an I/O BAR", bir);
        return LVIO_E_LAYOUT;
    }
    if (!(lvio_pci_cfg_read(dev, LVIO_PCI_COMMAND, 2) & LVIO_PCI_COMMAND_MEMORY)) {
        lvio_snprintf(m->why, sizeof m->why, "MSI-X table: memory decoding is off");
        return LVIO_E_LAYOUT;
    }
    if (other) {
        lvio_snprintf(m->why, sizeof m->why,
                      "MSI-X table at BAR %u + 0x%x (0x%x bytes) overlaps the %s structure", bir,
                      off, len, other);
        return LVIO_E_LAYOUT;
    }
    int err = lvio_pci_region_map(dev, fn, &m->table, bir, off, len, LVIO_PCI_MSIX_ENTRY_SIZE,
                                  8, why, sizeof why);
    if (err) {
        m->table.base = NULL;
        lvio_snprintf(m->why, sizeof m->why, "MSI-X table %s", why);
    }
    return err;
}

void lvio_pci_msix_probe(struct lvio_device *dev, const struct lvio_pci_function *fn,
                         uint32_t cap)
{
    struct lvio_pci_msix *m = MSIX(dev);

    m->config_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    if (cap == 0) {
        lvio_snprintf(m->why, sizeof m->why, "no MSI-X capability");
        return;
    }
    m->cap = (uint8_t)cap;
    if (cap + LVIO_PCI_MSIX_CAP_LEN > LVIO_PCI_CFG_SPACE_SIZE) {
        lvio_snprintf(m->why, sizeof m->why, "MSI-X capability at 0x%02x runs past 0xff", cap);
        return;
    }
    if (dev->legacy && dev->transport_state.pci.legacy.len < LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX) {
        lvio_snprintf(m->why, sizeof m->why,
                      "legacy register block of 0x%x bytes has no MSI-X vector registers",
                      dev->transport_state.pci.legacy.len);
        return;
    }
    uint32_t mc = lvio_pci_cfg_read(dev, cap + LVIO_PCI_MSIX_MSG_CTRL, 2);
    uint32_t table = lvio_pci_cfg_read(dev, cap + LVIO_PCI_MSIX_TABLE, 4);
    m->table_size = (uint16_t)((mc & LVIO_PCI_MSIX_CTRL_SIZE) + 1);
    if (msix_table_map(dev, fn, table & LVIO_PCI_MSIX_BIR_MASK,
                       table & ~LVIO_PCI_MSIX_BIR_MASK) != LVIO_OK)
        lvio_log(dev, LVIO_LOG_WARN, "%s; interrupts will use INTx", m->why);
}

/* ---- registers -------------------------------------------------------------------- */

/* Write Message Control: `bits` of ENABLE and MASKALL, the reserved bits
 * as they were. */
static void msix_control(struct lvio_device *dev, uint32_t bits)
{
    uint32_t at = MSIX(dev)->cap + LVIO_PCI_MSIX_MSG_CTRL;
    uint32_t mc = lvio_pci_cfg_read(dev, at, 2);
    lvio_pci_cfg_write(dev, at, 2, (mc & LVIO_PCI_MSIX_CTRL_RESERVED) | bits);
    dev->transport_state.pci.legacy_cfg = (bits & LVIO_PCI_MSIX_CTRL_ENABLE) ? LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX
                                                               : LVIO_VIRTIO_PCI_LEGACY_CONFIG;
}

static uint32_t entry_read(struct lvio_device *dev, uint32_t v, uint32_t word)
{
    return lvio_pci_reg_read(dev, &MSIX(dev)->table, v * LVIO_PCI_MSIX_ENTRY_SIZE + word, 4);
}

static void entry_write(struct lvio_device *dev, uint32_t v, uint32_t word, uint32_t val)
{
    lvio_pci_reg_write(dev, &MSIX(dev)->table, v * LVIO_PCI_MSIX_ENTRY_SIZE + word, 4, val);
}

/* Mask or unmask entry `v`; the reserved bits of vector control kept. */
static void entry_mask(struct lvio_device *dev, uint32_t v, bool masked)
{
    uint32_t ctrl = entry_read(dev, v, LVIO_PCI_MSIX_ENTRY_CTRL) & ~LVIO_PCI_MSIX_ENTRY_MASKED;
    entry_write(dev, v, LVIO_PCI_MSIX_ENTRY_CTRL, ctrl | (masked ? LVIO_PCI_MSIX_ENTRY_MASKED : 0));
}

/* Write `vector` to the configuration vector register, or (is_queue) to
 * queue `index`'s, and read back what the device took. */
static uint16_t vector_set(struct lvio_device *dev, bool is_queue, uint16_t index,
                           uint16_t vector)
{
    const struct lvio_pci_region *r = dev->legacy ? LEGACY(dev) : COMMON(dev);
    uint32_t reg;
    if (is_queue) {
        lvio_pci_reg_write(dev, r,
                           dev->legacy ? LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL
                                       : LVIO_VIRTIO_PCI_COMMON_Q_SELECT,
                           2, index);
        reg = dev->legacy ? LVIO_VIRTIO_PCI_LEGACY_QUEUE_VECTOR : LVIO_VIRTIO_PCI_COMMON_Q_MSIX;
    } else {
        reg = dev->legacy ? LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR : LVIO_VIRTIO_PCI_COMMON_MSIX;
    }
    lvio_pci_reg_write(dev, r, reg, 2, vector);
    return (uint16_t)lvio_pci_reg_read(dev, r, reg, 2);
}

/* ---- giving up ------------------------------------------------------------------------ */

/* Switch MSI-X off for this device (the enable bit, every vector we
 * recorded), keep the reason and warn: "<reason>; using INTx". */
static void msix_give_up(struct lvio_device *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void msix_give_up(struct lvio_device *dev, const char *fmt, ...)
{
    struct lvio_pci_msix *m = MSIX(dev);
    va_list ap;
    va_start(ap, fmt);
    lvio_vsnprintf(m->why, sizeof m->why, fmt, ap);
    va_end(ap);
    msix_control(dev, 0);
    dev->irq_mode = LVIO_IRQ_INTX;
    m->config_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    m->queue_vectors = 0;
    for (struct lvio_virtqueue *q = dev->queues; q; q = q->next)
        q->msix_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    lvio_log(dev, LVIO_LOG_WARN, "%s; using INTx", m->why);
}

/* The device read back `got` for `want`: say which way it refused. */
static void msix_refused(struct lvio_device *dev, const char *who, uint16_t want, uint16_t got)
{
    if (got == LVIO_VIRTIO_MSI_NO_VECTOR)
        msix_give_up(dev, "%s: device answered VIRTIO_MSI_NO_VECTOR for MSI-X vector %u", who,
                     want);
    else
        msix_give_up(dev, "%s: MSI-X vector %u reads back as %u", who, want, got);
}

/*
 * Route entry `v` through the HAL and program it, unmasked (it is masked
 * while its address and data are written). `who` names its user for the
 * warning. False when MSI-X was given up.
 */
static bool entry_program(struct lvio_device *dev, uint16_t v, const char *who)
{
    const struct lvio_hal *hal = dev->hal;
    uint64_t addr = 0;
    uint32_t data = 0;
    int err = hal->msix_route(hal->ctx, dev, v, &addr, &data);
    if (err != LVIO_OK) {
        msix_give_up(dev, "%s: msix_route for MSI-X vector %u returned %d (%s)", who, v, err,
                     lvio_errname(err));
        return false;
    }
    if (addr & 3) {
        msix_give_up(dev, "%s: msix_route gave MSI-X vector %u address 0x%llx, not 4-byte aligned",
                     who, v, (unsigned long long)addr);
        return false;
    }
    entry_write(dev, v, LVIO_PCI_MSIX_ENTRY_ADDR_LO, (uint32_t)addr);
    entry_write(dev, v, LVIO_PCI_MSIX_ENTRY_ADDR_HI, (uint32_t)(addr >> 32));
    entry_write(dev, v, LVIO_PCI_MSIX_ENTRY_DATA, data);
    entry_mask(dev, v, false);
    return true;
}

/* ---- begin and queues ------------------------------------------------------------------- */

/* MSI-X is to be used: the table is usable, the caller and the HAL want
 * it. Otherwise m->why says why not. */
static bool msix_wanted(struct lvio_device *dev)
{
    struct lvio_pci_msix *m = MSIX(dev);
    if (!m->cap || !m->table.base)
        return false; /* the probe's reason stands */
    if (dev->msix_off)
        lvio_snprintf(m->why, sizeof m->why, "switched off by the caller (msix_off)");
    else if (!dev->hal->msix_route)
        lvio_snprintf(m->why, sizeof m->why, "the HAL has no msix_route");
    else
        return true;
    return false;
}

void lvio_pci_msix_setup(struct lvio_device *dev)
{
    struct lvio_pci_msix *m = MSIX(dev);

    dev->irq_mode = LVIO_IRQ_INTX;
    m->config_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    m->queue_vectors = 0;
    if (!msix_wanted(dev)) {
        /* Firmware may have left it on; then the device would send its
         * interrupts as messages nobody routed. */
        uint32_t mc = m->cap ? lvio_pci_cfg_read(dev, m->cap + LVIO_PCI_MSIX_MSG_CTRL, 2) : 0;
        if (mc & (LVIO_PCI_MSIX_CTRL_ENABLE | LVIO_PCI_MSIX_CTRL_MASKALL))
            msix_control(dev, 0);
        dev->transport_state.pci.legacy_cfg = LVIO_VIRTIO_PCI_LEGACY_CONFIG;
        return;
    }
    m->why[0] = '\0';
    msix_control(dev, LVIO_PCI_MSIX_CTRL_ENABLE | LVIO_PCI_MSIX_CTRL_MASKALL);
    for (uint32_t v = 0; v < m->table_size; v++)
        entry_mask(dev, v, true); /* unused entries stay masked */
    if (!entry_program(dev, 0, "config"))
        return;
    msix_control(dev, LVIO_PCI_MSIX_CTRL_ENABLE);
    dev->irq_mode = LVIO_IRQ_MSIX;
    uint16_t got = vector_set(dev, false, 0, 0);
    if (got != 0) {
        msix_refused(dev, "config", 0, got);
        return;
    }
    m->config_vector = 0;
}

/* The vector policy: the configuration has 0; queue q has 1 + q while the
 * table has room, then the queues share 1 .. n-1 (or 0 with one entry). */
static uint16_t queue_vector_for(uint32_t n, uint16_t q)
{
    if ((uint32_t)q + 1 < n)
        return (uint16_t)(q + 1);
    if (n >= 2)
        return (uint16_t)(1 + q % (n - 1));
    return 0;
}

uint16_t lvio_pci_msix_queue(struct lvio_device *dev, uint16_t index)
{
    struct lvio_pci_msix *m = MSIX(dev);
    char who[16];

    if (dev->irq_mode != LVIO_IRQ_MSIX)
        return LVIO_VIRTIO_MSI_NO_VECTOR;
    lvio_snprintf(who, sizeof who, "queue %u", index);
    uint16_t v = queue_vector_for(msix_entries(dev), index);
    bool programmed = v == m->config_vector || (m->queue_vectors & vector_bit(v));
    if (!programmed && !entry_program(dev, v, who))
        return LVIO_VIRTIO_MSI_NO_VECTOR;
    uint16_t got = vector_set(dev, true, index, v);
    if (got != v) {
        msix_refused(dev, who, v, got);
        return LVIO_VIRTIO_MSI_NO_VECTOR;
    }
    m->queue_vectors |= vector_bit(v);
    return v;
}

/* ---- answers for interrupt handlers ----------------------------------------------------- */

uint32_t lvio_pci_msix_isr(const struct lvio_device *dev, uint16_t vector)
{
    const struct lvio_pci_msix *m = MSIX(dev);
    uint32_t isr = 0;
    if (dev->irq_mode != LVIO_IRQ_MSIX)
        return 0;
    if (vector == m->config_vector)
        isr |= LVIO_VIRTIO_ISR_CONFIG;
    if (m->queue_vectors & vector_bit(vector))
        isr |= LVIO_VIRTIO_ISR_QUEUE;
    return isr;
}

unsigned lvio_pci_msix_vectors(const struct lvio_device *dev)
{
    const struct lvio_pci_msix *m = MSIX(dev);
    if (dev->irq_mode != LVIO_IRQ_MSIX)
        return 0;
    uint64_t all = m->queue_vectors | vector_bit(m->config_vector);
    unsigned n = 0;
    for (; all; all &= all - 1)
        n++;
    return n;
}

void lvio_pci_msix_dump(struct lvio_device *dev)
{
    const struct lvio_pci_msix *m = MSIX(dev);
    char queues[128];
    size_t n = 0;

    if (dev->irq_mode != LVIO_IRQ_MSIX) {
        lvio_log_dump(dev, "dump: pci   interrupts INTx (ISR status), MSI-X not used: %s",
                      m->why[0] ? m->why : "not enabled (lvio_device_begin enables it)");
        return;
    }
    queues[0] = '\0';
    for (const struct lvio_virtqueue *q = dev->queues; q && n < sizeof queues; q = q->next) {
        int k = lvio_snprintf(queues + n, sizeof queues - n, ", queue %u vector %u", q->index,
                              q->msix_vector);
        n += k > 0 ? (size_t)k : 0;
    }
    lvio_log_dump(dev,
                  "dump: pci   interrupts MSI-X, %u vectors (table BAR %u + 0x%x, %u entries): "
                  "config vector %u%s",
                  lvio_pci_msix_vectors(dev), m->table.bar, m->table.offset, m->table_size,
                  m->config_vector, queues);
}
