/* The simulated virtio-pci function described in sim_pci.h. */
#include "sim_pci.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_pci.h"

static struct sim_pci *pci_of(void *ctx) { return ctx; } /* s is the first member */

static uint32_t all_ones(unsigned width)
{
    return width >= 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
}

/* ---- configuration space --------------------------------------------------- */

static void cfg_put(struct sim_pci *p, uint32_t off, unsigned width, uint32_t v)
{
    for (unsigned i = 0; i < width && off + i < SIM_PCI_CFG_SIZE; i++)
        p->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t cfg_get(const struct sim_pci *p, uint32_t off, unsigned width)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)p->cfg[off + i] << (8 * i);
    return v;
}

/* BAR registers hold bus addresses (not the CPU addresses in fn): a library
 * that read them instead of fn.bar would map the wrong thing. */
static void build_bars(struct sim_pci *p)
{
    for (unsigned i = 0; i < LVIO_PCI_NUM_BARS; i++) {
        const struct lvio_pci_bar *b = &p->fn.bar[i];
        uint32_t reg = 0x10 + 4 * i;
        if (b->size == 0)
            continue;
        if (b->io)
            cfg_put(p, reg, 4, SIM_PCI_IO_PORT | 0x1u);
        else if (i == SIM_PCI_MODERN_BAR && b->phys == SIM_PCI_MEM_PHYS) {
            cfg_put(p, reg, 4, (uint32_t)b->phys | 0xcu); /* 64-bit, prefetchable */
            cfg_put(p, reg + 4, 4, (uint32_t)(b->phys >> 32));
        } else
            cfg_put(p, reg, 4, (uint32_t)b->phys);
    }
}

static void build_cap(struct sim_pci *p, const struct sim_pci_cap *c, uint8_t next)
{
    p->cfg[c->pos] = c->id;
    p->cfg[c->pos + 1] = next;
    if (c->id == LVIO_PCI_CAP_ID_MSIX) {
        uint32_t mc = (uint32_t)(p->msix_size - 1) & LVIO_PCI_MSIX_CTRL_SIZE;
        mc |= (p->msix_enabled ? LVIO_PCI_MSIX_CTRL_ENABLE : 0) |
              (p->msix_masked ? LVIO_PCI_MSIX_CTRL_MASKALL : 0);
        cfg_put(p, c->pos + LVIO_PCI_MSIX_MSG_CTRL, 2, mc);
        cfg_put(p, c->pos + LVIO_PCI_MSIX_TABLE, 4, p->msix_table_off | p->msix_bar);
        cfg_put(p, c->pos + LVIO_PCI_MSIX_PBA, 4, p->msix_pba_off | p->msix_bar);
        return;
    }
    if (c->id != LVIO_PCI_CAP_ID_VNDR)
        return;
    p->cfg[c->pos + LVIO_VIRTIO_PCI_CAP_LEN] = c->cap_len;
    p->cfg[c->pos + LVIO_VIRTIO_PCI_CAP_CFG_TYPE] = c->cfg_type;
    p->cfg[c->pos + LVIO_VIRTIO_PCI_CAP_BAR] = c->bar;
    cfg_put(p, c->pos + LVIO_VIRTIO_PCI_CAP_OFFSET, 4, c->offset);
    cfg_put(p, c->pos + LVIO_VIRTIO_PCI_CAP_LENGTH, 4, c->length);
    if (c->cfg_type == LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG)
        cfg_put(p, c->pos + LVIO_VIRTIO_PCI_NOTIFY_CAP_MULT, 4, c->mult);
    if (c->cfg_type == LVIO_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG) {
        p->cfg[c->pos + LVIO_VIRTIO_PCI_CAP_ID] = c->shmid;
        cfg_put(p, c->pos + LVIO_VIRTIO_PCI_CAP64_OFFSET_HI, 4, c->offset_hi);
        cfg_put(p, c->pos + LVIO_VIRTIO_PCI_CAP64_LENGTH_HI, 4, c->length_hi);
    }
}

void sim_pci_build(struct sim_pci *p)
{
    memset(p->cfg, 0, sizeof p->cfg);
    cfg_put(p, LVIO_PCI_VENDOR_ID, 2, p->vendor);
    cfg_put(p, LVIO_PCI_DEVICE_ID, 2, p->pci_device);
    cfg_put(p, LVIO_PCI_COMMAND, 2, p->command);
    cfg_put(p, LVIO_PCI_STATUS, 2, p->pci_status);
    cfg_put(p, LVIO_PCI_REVISION_ID, 1, p->revision);
    cfg_put(p, 0x0b, 1, 0xff); /* class: other */
    build_bars(p);
    cfg_put(p, LVIO_PCI_SUBSYSTEM_ID - 2, 2, p->subsys_vendor);
    cfg_put(p, LVIO_PCI_SUBSYSTEM_ID, 2, p->subsys_id);
    cfg_put(p, 0x3d, 1, 1); /* INTx pin A */
    cfg_put(p, LVIO_PCI_CAPABILITY_LIST, 1, p->ncaps ? p->caps[0].pos : 0);
    for (unsigned i = 0; i < p->ncaps; i++)
        build_cap(p, &p->caps[i], i + 1 < p->ncaps ? p->caps[i + 1].pos : 0);
}

struct sim_pci_cap *sim_pci_cap(struct sim_pci *p, uint8_t type)
{
    for (unsigned i = 0; i < p->ncaps; i++)
        if (p->caps[i].id == LVIO_PCI_CAP_ID_VNDR && p->caps[i].cfg_type == type)
            return &p->caps[i];
    return NULL;
}

void sim_pci_drop_cap(struct sim_pci *p, unsigned i)
{
    assert_true(i < p->ncaps);
    memmove(&p->caps[i], &p->caps[i + 1], (p->ncaps - i - 1) * sizeof p->caps[0]);
    p->ncaps--;
}

static void add_cap(struct sim_pci *p, struct sim_pci_cap c)
{
    assert_true(p->ncaps < SIM_PCI_MAX_CAPS);
    p->caps[p->ncaps++] = c;
}

static struct sim_pci_cap vcap(uint8_t pos, uint8_t type, uint32_t off, uint32_t len)
{
    return (struct sim_pci_cap){.pos = pos, .id = LVIO_PCI_CAP_ID_VNDR, .cap_len = 16,
                                .cfg_type = type, .bar = SIM_PCI_MODERN_BAR,
                                .offset = off, .length = len};
}

/* QEMU's list: MSI-X at 0x98, then (newest first) pci_cfg, notify, device,
 * ISR, common. pci_cfg names BAR 0 with offset and length 0, whether or
 * not BAR 0 exists: a driver must not hold that against the device. */
static void default_caps(struct sim_pci *p)
{
    p->ncaps = 0;
    if (p->kind == SIM_PCI_LEGACY) {
        add_cap(p, (struct sim_pci_cap){.pos = 0x40, .id = LVIO_PCI_CAP_ID_MSIX});
        return;
    }
    add_cap(p, (struct sim_pci_cap){.pos = 0x98, .id = LVIO_PCI_CAP_ID_MSIX});
    struct sim_pci_cap pcfg = vcap(0x84, LVIO_VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
    pcfg.cap_len = 20;
    pcfg.bar = 0;
    add_cap(p, pcfg);
    struct sim_pci_cap notify = vcap(0x70, LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG, SIM_PCI_NOTIFY_OFF,
                                     SIM_PCI_REGION_LEN);
    notify.cap_len = 20;
    notify.mult = SIM_PCI_NOTIFY_MULT;
    add_cap(p, notify);
    add_cap(p, vcap(0x60, LVIO_VIRTIO_PCI_CAP_DEVICE_CFG, SIM_PCI_DEVICE_OFF, SIM_PCI_REGION_LEN));
    add_cap(p, vcap(0x50, LVIO_VIRTIO_PCI_CAP_ISR_CFG, SIM_PCI_ISR_OFF, SIM_PCI_REGION_LEN));
    add_cap(p, vcap(0x40, LVIO_VIRTIO_PCI_CAP_COMMON_CFG, SIM_PCI_COMMON_OFF, SIM_PCI_REGION_LEN));
}

/* ---- device state ------------------------------------------------------------ */

static void pci_reset(struct sim_pci *p)
{
    struct sim *s = &p->s;
    s->status = 0;
    s->isr = 0;
    s->driver_features = 0;
    s->dev_feat_sel = s->drv_feat_sel = s->queue_sel = 0;
    for (unsigned i = 0; i < SIM_MAX_QUEUES; i++) {
        struct sim_queue *q = &s->q[i];
        *q = (struct sim_queue){.num_max = q->num_max, .num = q->num_max};
        if (p->stuck_queues & (1u << i)) {
            q->ready = 1;
            q->pfn = 0x12345;
        }
    }
    s->nheld = 0;
    /* The device forgets its vectors; MSI-X itself is PCI state, which a
     * virtio reset leaves alone. */
    p->config_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    for (unsigned i = 0; i < SIM_MAX_QUEUES; i++)
        p->queue_vector[i] = LVIO_VIRTIO_MSI_NO_VECTOR;
    if (s->on_reset)
        s->on_reset(s);
}

static struct sim_queue *selected(struct sim_pci *p)
{
    return p->s.queue_sel < SIM_MAX_QUEUES ? &p->s.q[p->s.queue_sel] : NULL;
}

static uint16_t num_queues(const struct sim_pci *p)
{
    uint16_t n = 0;
    if (p->num_queues)
        return p->num_queues;
    for (unsigned i = 0; i < SIM_MAX_QUEUES; i++)
        if (p->s.q[i].num_max)
            n = (uint16_t)(i + 1);
    return n;
}

/* Status writes, either interface: 0 resets; bits are never cleared
 * otherwise; FEATURES_OK stays only for an acceptable feature set. */
static void write_status(struct sim_pci *p, uint32_t v, bool modern)
{
    struct sim *s = &p->s;
    if (v == 0) {
        pci_reset(p);
        return;
    }
    if ((v & s->status) != s->status)
        sim_error(&p->s, "status 0x%02x written over 0x%02x clears bits without a reset", v,
                  s->status);
    if (modern && (v & LVIO_VIRTIO_STATUS_FEATURES_OK) &&
        !(s->status & LVIO_VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t extra = s->driver_features & ~s->features;
        if (extra)
            sim_error(&p->s, "driver accepted features 0x%llx never offered",
                      (unsigned long long)extra);
        if (s->refuse_features || extra ||
            !(s->driver_features & (1ull << LVIO_VIRTIO_F_VERSION_1)))
            v &= ~LVIO_VIRTIO_STATUS_FEATURES_OK;
    }
    s->status = (uint8_t)v;
}

static uint8_t read_status(struct sim_pci *p)
{
    if (p->s.reset_delay) {
        p->s.reset_delay--;
        return LVIO_VIRTIO_STATUS_ACKNOWLEDGE;
    }
    return p->s.status;
}

static uint8_t read_isr(struct sim_pci *p)
{
    uint8_t v = (uint8_t)p->s.isr;
    p->s.isr = 0; /* reading acknowledges */
    p->isr_reads++;
    return v;
}

/* ---- MSI-X ------------------------------------------------------------------------ */

/* What a vector register keeps of a write of `v`. */
static uint16_t vector_take(struct sim_pci *p, uint32_t v, bool refuse)
{
    uint16_t limit = p->vector_limit ? p->vector_limit : p->msix_size;
    p->msix_vector_writes++;
    if (refuse || (v != LVIO_VIRTIO_MSI_NO_VECTOR && v >= limit))
        return LVIO_VIRTIO_MSI_NO_VECTOR;
    return (uint16_t)(v ^ p->vector_xor);
}

static bool msix_entry_masked(const struct sim_pci *p, uint16_t v)
{
    return (p->msix_table[v].ctrl & LVIO_PCI_MSIX_ENTRY_MASKED) || p->msix_masked;
}

static void msix_deliver(struct sim_pci *p, uint16_t v)
{
    const struct sim_pci_msix_entry *e = &p->msix_table[v];
    if (p->nmsgs < SIM_PCI_MAX_MSGS)
        p->msgs[p->nmsgs] = (struct sim_pci_msg){
            (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data, v};
    p->nmsgs++;
}

/* Send vector `v`'s message, or hold it pending while masked; no vector:
 * no interrupt at all (QEMU's behaviour with MSI-X on). */
static void msix_send(struct sim_pci *p, uint16_t v)
{
    if (v == LVIO_VIRTIO_MSI_NO_VECTOR || v >= p->msix_size)
        return;
    if (msix_entry_masked(p, v))
        p->msix_pending |= 1ull << v;
    else
        msix_deliver(p, v);
}

/* Pending messages whose entries are now unmasked go out. */
static void msix_flush_pending(struct sim_pci *p)
{
    if (!p->msix_enabled)
        return;
    for (uint16_t v = 0; v < p->msix_size; v++)
        if (((p->msix_pending >> v) & 1u) && !msix_entry_masked(p, v)) {
            p->msix_pending &= ~(1ull << v);
            msix_deliver(p, v);
        }
}

static void used_irq(struct sim *s, uint16_t queue)
{
    struct sim_pci *p = pci_of(s);
    if (p->msix_enabled)
        msix_send(p, queue < SIM_MAX_QUEUES ? p->queue_vector[queue] : LVIO_VIRTIO_MSI_NO_VECTOR);
    else
        s->isr |= LVIO_VIRTIO_ISR_QUEUE;
}

void sim_pci_config_change(struct sim_pci *p)
{
    p->s.generation++;
    if (p->msix_enabled)
        msix_send(p, p->config_vector);
    else
        p->s.isr |= LVIO_VIRTIO_ISR_CONFIG;
}

/* The table and the PBA, in BAR msix_bar: 32-bit accesses only. */
static uint32_t msix_access(struct sim_pci *p, uint32_t off, unsigned width, bool write,
                            uint32_t v)
{
    if (width != 4 || off % 4) {
        sim_error(&p->s, "%u-byte %s of MSI-X BAR %u + 0x%x (entries are 32-bit words)", width,
                  write ? "write" : "read", p->msix_bar, off);
        return all_ones(width);
    }
    if (off >= p->msix_pba_off) {
        if (write)
            sim_error(&p->s, "write of 0x%x to the MSI-X PBA (+0x%x)", v, off - p->msix_pba_off);
        return off == p->msix_pba_off ? (uint32_t)p->msix_pending
                                      : (uint32_t)(p->msix_pending >> 32);
    }
    uint32_t rel = off - p->msix_table_off, n = rel / LVIO_PCI_MSIX_ENTRY_SIZE;
    if (n >= SIM_PCI_MSIX_MAX) {
        sim_error(&p->s, "sim: MSI-X entry %u is beyond the model's %u", n, SIM_PCI_MSIX_MAX);
        return all_ones(width);
    }
    uint32_t *word = &(&p->msix_table[n].addr_lo)[(rel % LVIO_PCI_MSIX_ENTRY_SIZE) / 4];
    if (!write)
        return *word;
    p->msix_table_writes++;
    if (rel % LVIO_PCI_MSIX_ENTRY_SIZE != LVIO_PCI_MSIX_ENTRY_CTRL && p->msix_enabled &&
        !msix_entry_masked(p, (uint16_t)n))
        sim_error(&p->s, "MSI-X entry %u: address/data written while it may fire (unmasked)", n);
    *word = v;
    msix_flush_pending(p);
    return 0;
}

/* Is BAR `bar` offset `off` the table or the PBA? (Where a test laid
 * the table over a virtio structure, the structure answers.) */
static bool in_msix(const struct sim_pci *p, unsigned bar, uint32_t off)
{
    uint32_t table_end = p->msix_table_off + p->msix_size * LVIO_PCI_MSIX_ENTRY_SIZE;
    if (bar != p->msix_bar)
        return false;
    for (unsigned i = 0; i < p->ncaps; i++) {
        const struct sim_pci_cap *c = &p->caps[i];
        if (c->id == LVIO_PCI_CAP_ID_VNDR && c->bar == bar && off >= c->offset &&
            off - c->offset < c->length)
            return false;
    }
    return (off >= p->msix_table_off && off < table_end) ||
           (off >= p->msix_pba_off && off < p->msix_pba_off + 8);
}

int sim_pci_msix_route(void *ctx, const struct lvio_device *dev, uint16_t vector,
                       uint64_t *addr, uint32_t *data)
{
    struct sim_pci *p = pci_of(ctx);
    p->route_calls++;
    if (dev->transport != LVIO_TRANSPORT_PCI || dev->transport_state.pci.device != p->fn.device)
        sim_error(&p->s, "msix_route asked for %s, not this function", dev->name);
    if (vector >= p->route_fail_from)
        return p->route_result;
    *addr = SIM_PCI_MSI_ADDR;
    *data = sim_pci_msi_data(p, vector);
    return 0;
}

uint32_t sim_pci_msi_data(const struct sim_pci *p, uint16_t vector)
{
    return SIM_PCI_MSI_SPI_BASE + 16u * p->fn.device + vector;
}

unsigned sim_pci_msgs_for(const struct sim_pci *p, uint16_t vector)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->nmsgs && i < SIM_PCI_MAX_MSGS; i++)
        n += p->msgs[i].vector == vector;
    return n;
}

/* ---- modern: common configuration ------------------------------------------- */

struct field {
    uint16_t off;
    uint8_t width;
    bool writable;
    const char *name;
};

static const struct field common_fields[] = {
    {LVIO_VIRTIO_PCI_COMMON_DFSELECT, 4, true, "device_feature_select"},
    {LVIO_VIRTIO_PCI_COMMON_DF, 4, false, "device_feature"},
    {LVIO_VIRTIO_PCI_COMMON_GFSELECT, 4, true, "driver_feature_select"},
    {LVIO_VIRTIO_PCI_COMMON_GF, 4, true, "driver_feature"},
    {LVIO_VIRTIO_PCI_COMMON_MSIX, 2, true, "config_msix_vector"},
    {LVIO_VIRTIO_PCI_COMMON_NUMQ, 2, false, "num_queues"},
    {LVIO_VIRTIO_PCI_COMMON_STATUS, 1, true, "device_status"},
    {LVIO_VIRTIO_PCI_COMMON_CFGGENERATION, 1, false, "config_generation"},
    {LVIO_VIRTIO_PCI_COMMON_Q_SELECT, 2, true, "queue_select"},
    {LVIO_VIRTIO_PCI_COMMON_Q_SIZE, 2, true, "queue_size"},
    {LVIO_VIRTIO_PCI_COMMON_Q_MSIX, 2, true, "queue_msix_vector"},
    {LVIO_VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, "queue_enable"},
    {LVIO_VIRTIO_PCI_COMMON_Q_NOFF, 2, false, "queue_notify_off"},
    {LVIO_VIRTIO_PCI_COMMON_Q_DESCLO, 4, true, "queue_desc (low)"},
    {LVIO_VIRTIO_PCI_COMMON_Q_DESCHI, 4, true, "queue_desc (high)"},
    {LVIO_VIRTIO_PCI_COMMON_Q_AVAILLO, 4, true, "queue_driver (low)"},
    {LVIO_VIRTIO_PCI_COMMON_Q_AVAILHI, 4, true, "queue_driver (high)"},
    {LVIO_VIRTIO_PCI_COMMON_Q_USEDLO, 4, true, "queue_device (low)"},
    {LVIO_VIRTIO_PCI_COMMON_Q_USEDHI, 4, true, "queue_device (high)"},
};

/* The field at `off` if the access fits it exactly; an error otherwise. */
static const struct field *common_field(struct sim_pci *p, uint32_t off, unsigned width,
                                        bool write)
{
    for (size_t i = 0; i < sizeof common_fields / sizeof common_fields[0]; i++) {
        const struct field *f = &common_fields[i];
        if (off < f->off || off >= f->off + f->width)
            continue;
        if (off != f->off || width != f->width) {
            sim_error(&p->s, "%u-byte %s at common+0x%x: %s is a %u-byte field at 0x%x", width,
                      write ? "write" : "read", off, f->name, f->width, f->off);
            return NULL;
        }
        if (write && !f->writable) {
            sim_error(&p->s, "write to read-only %s (common+0x%x)", f->name, off);
            return NULL;
        }
        return f;
    }
    sim_error(&p->s, "%u-byte %s at common+0x%x: beyond the 56-byte common structure", width,
              write ? "write" : "read", off);
    return NULL;
}

static uint32_t half(uint64_t v, uint32_t off)
{
    return off % 8 == 0 ? (uint32_t)v : (uint32_t)(v >> 32);
}

static uint64_t set_half(uint64_t v, uint32_t off, uint32_t x)
{
    if (off % 8 == 0)
        return (v & ~0xffffffffull) | x;
    return (v & 0xffffffffull) | (uint64_t)x << 32;
}

static uint32_t common_read(struct sim_pci *p, uint32_t off)
{
    struct sim *s = &p->s;
    struct sim_queue *q = selected(p);
    switch (off) {
    case LVIO_VIRTIO_PCI_COMMON_DFSELECT: return s->dev_feat_sel;
    case LVIO_VIRTIO_PCI_COMMON_DF:
        return s->dev_feat_sel < 2 ? (uint32_t)(s->features >> (32 * s->dev_feat_sel)) : 0;
    case LVIO_VIRTIO_PCI_COMMON_GFSELECT: return s->drv_feat_sel;
    case LVIO_VIRTIO_PCI_COMMON_GF:
        return s->drv_feat_sel < 2 ? (uint32_t)(s->driver_features >> (32 * s->drv_feat_sel))
                                   : 0;
    case LVIO_VIRTIO_PCI_COMMON_MSIX: return p->config_vector;
    case LVIO_VIRTIO_PCI_COMMON_NUMQ: return num_queues(p);
    case LVIO_VIRTIO_PCI_COMMON_STATUS: return read_status(p);
    case LVIO_VIRTIO_PCI_COMMON_CFGGENERATION:
        if (s->generation_flips) {
            s->generation_flips--;
            s->generation++;
        }
        return s->generation & 0xff;
    case LVIO_VIRTIO_PCI_COMMON_Q_SELECT: return s->queue_sel;
    case LVIO_VIRTIO_PCI_COMMON_Q_SIZE: return q ? q->num : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_MSIX:
        return q ? p->queue_vector[s->queue_sel] : LVIO_VIRTIO_MSI_NO_VECTOR;
    case LVIO_VIRTIO_PCI_COMMON_Q_ENABLE: return q ? q->ready : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_NOFF: return q ? p->notify_off[s->queue_sel] : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_DESCLO:
    case LVIO_VIRTIO_PCI_COMMON_Q_DESCHI: return q ? half(q->desc, off) : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_AVAILLO:
    case LVIO_VIRTIO_PCI_COMMON_Q_AVAILHI: return q ? half(q->avail, off - 8) : 0;
    case LVIO_VIRTIO_PCI_COMMON_Q_USEDLO:
    case LVIO_VIRTIO_PCI_COMMON_Q_USEDHI: return q ? half(q->used, off - 16) : 0;
    }
    return 0;
}

static void queue_enable(struct sim_pci *p, struct sim_queue *q, uint32_t v)
{
    unsigned n = p->s.queue_sel;
    if (v != 1) {
        sim_error(&p->s, "queue %u: queue_enable written with %u (only 1 is allowed)", n, v);
        return;
    }
    if (q->num == 0 || !q->desc || !q->avail || !q->used || q->desc % 16 || q->avail % 2 ||
        q->used % 4)
        sim_error(&p->s, "queue %u enabled with size %u desc 0x%llx driver 0x%llx device 0x%llx", n,
                  q->num, (unsigned long long)q->desc, (unsigned long long)q->avail,
                  (unsigned long long)q->used);
    q->ready = 1;
}

static void common_write_queue(struct sim_pci *p, uint32_t off, uint32_t v)
{
    struct sim_queue *q = selected(p);
    if (!q)
        return; /* no such queue: ignored, as QEMU does */
    if (q->ready) {
        sim_error(&p->s, "queue %u: common+0x%x written while the queue is enabled",
                  p->s.queue_sel, off);
        return;
    }
    switch (off) {
    case LVIO_VIRTIO_PCI_COMMON_Q_SIZE:
        if (v == 0 || v > q->num_max)
            sim_error(&p->s, "queue %u: queue_size %u (the device's maximum is %u)",
                      p->s.queue_sel, v, q->num_max);
        else
            q->num = v;
        return;
    case LVIO_VIRTIO_PCI_COMMON_Q_ENABLE: queue_enable(p, q, v); return;
    case LVIO_VIRTIO_PCI_COMMON_Q_MSIX:
        p->queue_vector[p->s.queue_sel] =
            vector_take(p, v, (p->refuse_queue_vector >> p->s.queue_sel) & 1u);
        return;
    case LVIO_VIRTIO_PCI_COMMON_Q_DESCLO:
    case LVIO_VIRTIO_PCI_COMMON_Q_DESCHI: q->desc = set_half(q->desc, off, v); return;
    case LVIO_VIRTIO_PCI_COMMON_Q_AVAILLO:
    case LVIO_VIRTIO_PCI_COMMON_Q_AVAILHI: q->avail = set_half(q->avail, off - 8, v); return;
    case LVIO_VIRTIO_PCI_COMMON_Q_USEDLO:
    case LVIO_VIRTIO_PCI_COMMON_Q_USEDHI: q->used = set_half(q->used, off - 16, v); return;
    }
}

static void common_write(struct sim_pci *p, uint32_t off, uint32_t v)
{
    struct sim *s = &p->s;
    switch (off) {
    case LVIO_VIRTIO_PCI_COMMON_DFSELECT: s->dev_feat_sel = v; return;
    case LVIO_VIRTIO_PCI_COMMON_GFSELECT: s->drv_feat_sel = v; return;
    case LVIO_VIRTIO_PCI_COMMON_GF:
        if (s->drv_feat_sel < 2) {
            uint64_t mask = 0xffffffffull << (32 * s->drv_feat_sel);
            s->driver_features =
                (s->driver_features & ~mask) | ((uint64_t)v << (32 * s->drv_feat_sel));
        }
        return;
    case LVIO_VIRTIO_PCI_COMMON_MSIX:
        p->config_vector = vector_take(p, v, p->refuse_config_vector);
        return;
    case LVIO_VIRTIO_PCI_COMMON_STATUS: write_status(p, v, true); return;
    case LVIO_VIRTIO_PCI_COMMON_Q_SELECT: s->queue_sel = v; return;
    }
    common_write_queue(p, off, v);
}

static uint32_t common_access(struct sim_pci *p, uint32_t off, unsigned width, bool write,
                              uint32_t v)
{
    if (!common_field(p, off, width, write))
        return all_ones(width);
    uint32_t r = 0;
    if (write)
        common_write(p, off, v);
    else
        r = common_read(p, off);
    if (p->nlog < SIM_PCI_MAX_LOG)
        p->log[p->nlog++] = (struct sim_pci_access){write, (uint8_t)width, (uint16_t)off,
                                                     write ? v : r};
    return r;
}

/* ---- modern: ISR, device configuration, notify -------------------------------- */

static uint32_t isr_access(struct sim_pci *p, uint32_t off, unsigned width, bool write)
{
    if (write || off != 0 || width != 1) {
        sim_error(&p->s, "%u-byte %s of ISR+0x%x (the ISR status is one byte, read only)", width,
                  write ? "write" : "read", off);
        return all_ones(width);
    }
    return read_isr(p);
}

/* Device configuration bytes `off`.. of s.config (zero beyond it). */
static uint32_t devcfg_access(struct sim_pci *p, uint32_t off, unsigned width, bool write,
                              uint32_t v, bool legacy)
{
    struct sim *s = &p->s;
    uint8_t b[4] = {0};
    if (off % width) {
        sim_error(&p->s, "misaligned %u-byte %s of %s device config +0x%x", width,
                  write ? "write" : "read", legacy ? "legacy" : "modern", off);
        return all_ones(width);
    }
    if (write) {
        s->config_writes++;
        if (s->config_write) {
            s->config_write(s, off, width, v);
            return 0;
        }
        sim_config_bytes(legacy, v, width, b, sizeof b);
        for (unsigned i = 0; i < width && off + i < sizeof s->config; i++)
            s->config[off + i] = b[i];
        return 0;
    }
    for (unsigned i = 0; i < width && off + i < sizeof s->config; i++)
        b[i] = s->config[off + i];
    return sim_config_value(legacy, b, width);
}

static uint32_t notify_access(struct sim_pci *p, const struct sim_pci_cap *c, uint32_t off,
                              unsigned width, bool write, uint32_t v)
{
    if (!write || width != 2) {
        sim_error(&p->s, "%u-byte %s of notify+0x%x (notifies are 16-bit writes)", width,
                  write ? "write" : "read", off);
        return all_ones(width);
    }
    if (v >= SIM_MAX_QUEUES) {
        sim_error(&p->s, "notify+0x%x names queue %u, which does not exist", off, v);
        return 0;
    }
    uint64_t expect = (uint64_t)p->notify_off[v] * c->mult;
    if (off != expect) {
        sim_error(&p->s, "notify of queue %u at notify+0x%x; queue_notify_off %u x multiplier %u "
                  "puts it at +0x%llx", v, off, p->notify_off[v], c->mult,
                  (unsigned long long)expect);
        return 0;
    }
    p->last_notify_off = off;
    p->last_notify_queue = (uint16_t)v;
    p->s.notifies++;
    sim_step(&p->s);
    return 0;
}

/* The modern structure holding BAR `bar` offset `off` (the first of the
 * device's own capabilities that covers it), dispatched; an error if none. */
static uint32_t modern_access(struct sim_pci *p, unsigned bar, uint32_t off, unsigned width,
                              bool write, uint32_t v)
{
    for (unsigned i = 0; i < p->ncaps; i++) {
        const struct sim_pci_cap *c = &p->caps[i];
        if (c->id != LVIO_PCI_CAP_ID_VNDR || c->cfg_type < LVIO_VIRTIO_PCI_CAP_COMMON_CFG ||
            c->cfg_type > LVIO_VIRTIO_PCI_CAP_DEVICE_CFG || c->bar != bar ||
            off < c->offset || (uint64_t)off + width > (uint64_t)c->offset + c->length)
            continue;
        uint32_t rel = off - c->offset;
        p->modern_accesses++;
        switch (c->cfg_type) {
        case LVIO_VIRTIO_PCI_CAP_COMMON_CFG: return common_access(p, rel, width, write, v);
        case LVIO_VIRTIO_PCI_CAP_ISR_CFG: return isr_access(p, rel, width, write);
        case LVIO_VIRTIO_PCI_CAP_DEVICE_CFG:
            return devcfg_access(p, rel, width, write, v, false);
        default: return notify_access(p, c, rel, width, write, v);
        }
    }
    sim_error(&p->s, "%u-byte %s of BAR %u + 0x%x: no virtio structure there", width,
              write ? "write" : "read", bar, off);
    return all_ones(width);
}

/* ---- legacy: the I/O BAR 0 block ------------------------------------------------ */

static const struct field legacy_fields[] = {
    {LVIO_VIRTIO_PCI_LEGACY_HOST_FEATURES, 4, false, "host features"},
    {LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES, 4, true, "guest features"},
    {LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN, 4, true, "queue PFN"},
    {LVIO_VIRTIO_PCI_LEGACY_QUEUE_NUM, 2, false, "queue num"},
    {LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL, 2, true, "queue select"},
    {LVIO_VIRTIO_PCI_LEGACY_QUEUE_NOTIFY, 2, true, "queue notify"},
    {LVIO_VIRTIO_PCI_LEGACY_STATUS, 1, true, "status"},
    {LVIO_VIRTIO_PCI_LEGACY_ISR, 1, false, "ISR"},
    {LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR, 2, true, "config MSI-X vector"}, /* MSI-X on only */
    {LVIO_VIRTIO_PCI_LEGACY_QUEUE_VECTOR, 2, true, "queue MSI-X vector"},
};

/* The legacy ring layout, as a device computes it from the PFN alone: the
 * fixed size, 4096-byte pages and alignment. */
static void legacy_layout(struct sim_queue *q)
{
    q->desc = (uint64_t)q->pfn << LVIO_VIRTIO_PCI_LEGACY_QUEUE_ADDR_SHIFT;
    q->avail = q->desc + 16u * q->num;
    q->used = (q->avail + 6 + 2u * q->num + 4095) & ~4095ull;
}

static uint32_t legacy_read(struct sim_pci *p, uint32_t off)
{
    struct sim *s = &p->s;
    struct sim_queue *q = selected(p);
    switch (off) {
    case LVIO_VIRTIO_PCI_LEGACY_HOST_FEATURES: return (uint32_t)s->features;
    case LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES: return (uint32_t)s->driver_features;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN: return q ? q->pfn : 0;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_NUM: return q ? q->num_max : 0;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL: return s->queue_sel;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_NOTIFY:
        sim_error(&p->s, "read of the legacy queue notify register");
        return 0;
    case LVIO_VIRTIO_PCI_LEGACY_STATUS: return read_status(p);
    case LVIO_VIRTIO_PCI_LEGACY_ISR: return read_isr(p);
    case LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR: return p->config_vector;
    }
    return q ? p->queue_vector[s->queue_sel] : LVIO_VIRTIO_MSI_NO_VECTOR;
}

static void legacy_write(struct sim_pci *p, uint32_t off, uint32_t v)
{
    struct sim *s = &p->s;
    struct sim_queue *q = selected(p);
    switch (off) {
    case LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES:
        if (v & ~(uint32_t)s->features)
            sim_error(&p->s, "driver accepted legacy features 0x%x never offered",
                      v & ~(uint32_t)s->features);
        s->driver_features = v;
        return;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN:
        if (!q)
            return;
        if (q->pfn && v)
            sim_error(&p->s, "queue %u: PFN 0x%x written over PFN 0x%x", s->queue_sel, v, q->pfn);
        q->pfn = v;
        if (v)
            legacy_layout(q);
        return;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL: s->queue_sel = v; return;
    case LVIO_VIRTIO_PCI_LEGACY_QUEUE_NOTIFY:
        if (v >= SIM_MAX_QUEUES) {
            sim_error(&p->s, "legacy notify names queue %u, which does not exist", v);
            return;
        }
        p->last_notify_queue = (uint16_t)v;
        s->notifies++;
        sim_step(s);
        return;
    case LVIO_VIRTIO_PCI_LEGACY_STATUS: write_status(p, v, false); return;
    case LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR:
        p->config_vector = vector_take(p, v, p->refuse_config_vector);
        return;
    }
    if (q) /* the queue vector */
        p->queue_vector[s->queue_sel] =
            vector_take(p, v, (p->refuse_queue_vector >> s->queue_sel) & 1u);
}

static uint32_t legacy_access(struct sim_pci *p, uint32_t off, unsigned width, bool write,
                              uint32_t v)
{
    uint32_t cfg_start = p->msix_enabled ? LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX
                                         : LVIO_VIRTIO_PCI_LEGACY_CONFIG;
    p->legacy_accesses++;
    if (off >= cfg_start)
        return devcfg_access(p, off - cfg_start, width, write, v, true);
    for (size_t i = 0; i < sizeof legacy_fields / sizeof legacy_fields[0]; i++) {
        const struct field *f = &legacy_fields[i];
        if (off < f->off || off >= f->off + f->width)
            continue;
        if (off != f->off || width != f->width) {
            sim_error(&p->s, "%u-byte %s at legacy 0x%x: %s is a %u-byte register at 0x%x", width,
                      write ? "write" : "read", off, f->name, f->width, f->off);
            return all_ones(width);
        }
        if (write && !f->writable) {
            sim_error(&p->s, "write of 0x%x to the read-only legacy %s (0x%x)", v, f->name, off);
            return 0;
        }
        if (!write)
            return legacy_read(p, off);
        legacy_write(p, off, v);
        return 0;
    }
    sim_error(&p->s, "legacy access at 0x%x", off); /* unreachable: the table is complete */
    return all_ones(width);
}

/* ---- the HAL's register hooks -------------------------------------------------- */

static volatile void *hal_map_regs(void *ctx, uint64_t phys, size_t len)
{
    struct sim_pci *p = pci_of(ctx);
    if (p->fail_map)
        return NULL;
    for (unsigned i = 0; i < LVIO_PCI_NUM_BARS; i++) {
        const struct lvio_pci_bar *b = &p->fn.bar[i];
        if (b->size == 0 || phys < b->phys || phys - b->phys > b->size ||
            len > b->size - (phys - b->phys))
            continue;
        if (p->ports && b->io) {
            sim_error(&p->s, "map_regs(0x%llx): I/O BAR %u mapped although the HAL has ports",
                      (unsigned long long)phys, i);
            return NULL;
        }
        uint64_t off = phys - b->phys;
        if (off + len > SIM_PCI_BAR_BYTES) {
            sim_error(&p->s, "sim: BAR %u mapped up to 0x%llx, beyond its model", i,
                      (unsigned long long)(off + len));
            return NULL;
        }
        if (p->nmaps == SIM_PCI_MAX_MAPS)
            fail_msg("sim_pci: too many map_regs calls");
        uintptr_t cpu = (uintptr_t)&p->bar_mem[i][off];
        p->maps[p->nmaps++] = (struct sim_pci_map){phys, len, cpu, i};
        return (volatile void *)cpu;
    }
    sim_error(&p->s, "map_regs(0x%llx, 0x%zx): not inside any BAR", (unsigned long long)phys, len);
    return NULL;
}

/* The mapped range holding [a, a + width), or NULL. */
static const struct sim_pci_map *mapping_of(const struct sim_pci *p, uintptr_t a,
                                            unsigned width)
{
    for (unsigned i = 0; i < p->nmaps; i++) {
        const struct sim_pci_map *m = &p->maps[i];
        if (a >= m->cpu && a - m->cpu < m->len && width <= m->len - (a - m->cpu))
            return m;
    }
    return NULL;
}

static bool in_cfg(const struct sim_pci *p, uintptr_t a)
{
    uintptr_t base = (uintptr_t)p->cfg;
    return a >= base && a - base < sizeof p->cfg;
}

/* The one configuration register a driver may write: MSI-X Message
 * Control, 16 bits; only enable and function mask change. */
static void msix_control_write(struct sim_pci *p, uint32_t off, unsigned width, uint32_t v)
{
    const struct sim_pci_cap *c = NULL;
    for (unsigned i = 0; i < p->ncaps; i++)
        if (p->caps[i].id == LVIO_PCI_CAP_ID_MSIX)
            c = &p->caps[i];
    if (!c || off != c->pos + (uint32_t)LVIO_PCI_MSIX_MSG_CTRL || width != 2) {
        sim_error(&p->s, "write of 0x%x to configuration space 0x%x", v, off);
        return;
    }
    p->msix_ctrl_writes++;
    uint32_t mc = cfg_get(p, off, 2);
    uint32_t rw = LVIO_PCI_MSIX_CTRL_ENABLE | LVIO_PCI_MSIX_CTRL_MASKALL;
    /* Table size is read only (what is written there is ignored); the
     * reserved bits are to be written as they read. */
    if ((v & LVIO_PCI_MSIX_CTRL_RESERVED) != (mc & LVIO_PCI_MSIX_CTRL_RESERVED))
        sim_error(&p->s, "Message Control written 0x%04x over 0x%04x changes reserved bits", v,
                  mc);
    cfg_put(p, off, 2, (mc & ~rw) | (v & rw));
    p->msix_enabled = v & LVIO_PCI_MSIX_CTRL_ENABLE;
    p->msix_masked = v & LVIO_PCI_MSIX_CTRL_MASKALL;
    msix_flush_pending(p);
}

static uint32_t cfg_access(struct sim_pci *p, uintptr_t a, unsigned width, bool write,
                           uint32_t v)
{
    uint32_t off = (uint32_t)(a - (uintptr_t)p->cfg);
    if (off % width || off + width > p->fn.cfg_size) {
        sim_error(&p->s, "%u-byte %s of configuration space at 0x%x (%u bytes, natural alignment)",
                  width, write ? "write" : "read", off, p->fn.cfg_size);
        return all_ones(width);
    }
    if (write) {
        p->cfg_writes++;
        msix_control_write(p, off, width, v);
        return 0;
    }
    p->cfg_reads++;
    return cfg_get(p, off, width);
}

static uint32_t access(struct sim_pci *p, volatile void *addr, unsigned width, bool write,
                       uint32_t v)
{
    uintptr_t a = (uintptr_t)addr;
    if (width != 1 && width != 2 && width != 4) {
        sim_error(&p->s, "%u-byte register access", width);
        return 0;
    }
    if (in_cfg(p, a))
        return cfg_access(p, a, width, write, v);
    const struct sim_pci_map *m = mapping_of(p, a, width);
    if (!m) {
        sim_error(&p->s, "%u-byte %s at %p: outside configuration space and every mapped range",
                  width, write ? "write" : "read", addr);
        return all_ones(width);
    }
    if (write) {
        p->dev_writes++;
        p->s.reg_writes++;
    }
    uint32_t off = (uint32_t)(a - (uintptr_t)p->bar_mem[m->bar]);
    if (in_msix(p, m->bar, off))
        return msix_access(p, off, width, write, v);
    if (m->bar == 0 && p->kind != SIM_PCI_MODERN && p->fn.bar[0].io)
        return legacy_access(p, off, width, write, v);
    return modern_access(p, m->bar, off, width, write, v);
}

static uint32_t hal_reg_read(void *ctx, volatile void *addr, unsigned width)
{
    return access(pci_of(ctx), addr, width, false, 0);
}

static void hal_reg_write(void *ctx, volatile void *addr, unsigned width, uint32_t v)
{
    access(pci_of(ctx), addr, width, true, v);
}

/* ---- x86 port I/O ----------------------------------------------------------------- */

static uint32_t port_access(struct sim_pci *p, uint64_t port, unsigned width, bool write,
                            uint32_t v)
{
    const struct lvio_pci_bar *b = &p->fn.bar[0];
    p->port_accesses++;
    if (width != 1 && width != 2 && width != 4) {
        sim_error(&p->s, "%u-byte port access", width);
        return 0;
    }
    if (!b->io || port < b->phys || port - b->phys >= b->size || width > b->size - (port - b->phys)) {
        sim_error(&p->s, "%u-byte port %s at 0x%llx: outside I/O BAR 0", width,
                  write ? "write" : "read", (unsigned long long)port);
        return all_ones(width);
    }
    if (write) {
        p->dev_writes++;
        p->s.reg_writes++;
    }
    return legacy_access(p, (uint32_t)(port - b->phys), width, write, v);
}

static uint32_t hal_port_read(void *ctx, uint64_t port, unsigned width)
{
    return port_access(pci_of(ctx), port, width, false, 0);
}

static void hal_port_write(void *ctx, uint64_t port, unsigned width, uint32_t v)
{
    port_access(pci_of(ctx), port, width, true, v);
}

void sim_pci_use_ports(struct sim_pci *p)
{
    p->ports = true;
    p->s.hal.port_read = hal_port_read;
    p->s.hal.port_write = hal_port_write;
    if (p->fn.bar[0].io)
        p->fn.bar[0].phys = SIM_PCI_IO_PORT;
}

/* ---- set-up ----------------------------------------------------------------------- */

static void default_function(struct sim_pci *p)
{
    p->fn = (struct lvio_pci_function){
        .cfg = p->cfg,
        .cfg_size = SIM_PCI_CFG_SIZE,
        .bus = 0,
        .device = 2,
        .function = 0,
    };
    p->fn.bar[1] = (struct lvio_pci_bar){SIM_PCI_MSIX_PHYS, 0x1000, false};
    if (p->kind != SIM_PCI_LEGACY)
        p->fn.bar[SIM_PCI_MODERN_BAR] = (struct lvio_pci_bar){SIM_PCI_MEM_PHYS, 0x4000, false};
    if (p->kind != SIM_PCI_MODERN) /* QEMU: 20 bytes plus config, a power of two */
        p->fn.bar[0] = (struct lvio_pci_bar){SIM_PCI_IO_PHYS, 0x20, true};
}

void sim_pci_init(struct sim_pci *p, enum sim_pci_kind kind, uint32_t device_id)
{
    memset(p, 0, sizeof *p);
    sim_init(&p->s, kind == SIM_PCI_LEGACY ? 1 : 2, device_id);
    assert_ptr_equal(&p->s, (void *)p);
    p->s.hal.map_regs = hal_map_regs;
    p->s.hal.reg_read = hal_reg_read;
    p->s.hal.reg_write = hal_reg_write;
    p->s.used_irq = used_irq;
    p->kind = kind;
    p->msix_size = 4;
    p->msix_bar = SIM_PCI_MSIX_BAR;
    p->msix_pba_off = 0x800;
    for (unsigned i = 0; i < SIM_PCI_MSIX_MAX; i++)
        p->msix_table[i].ctrl = LVIO_PCI_MSIX_ENTRY_MASKED; /* as after a PCI reset */
    p->route_fail_from = 0xffff;
    p->route_result = LVIO_E_HAL;
    p->vendor = LVIO_PCI_VENDOR_ID_VIRTIO;
    p->subsys_vendor = LVIO_PCI_VENDOR_ID_VIRTIO;
    if (kind == SIM_PCI_MODERN) {
        p->pci_device = (uint16_t)(LVIO_VIRTIO_PCI_ID_MODERN_BASE + device_id);
        p->subsys_id = 0x1100; /* QEMU's; says nothing about the type */
        p->revision = 1;
    } else {
        /* The transitional ids: 0x1000 net, 0x1001 blk, ... 0x1005 rng. */
        p->pci_device = device_id == LVIO_VIRTIO_ID_RNG ? 0x1005 : 0x1000;
        p->subsys_id = (uint16_t)device_id;
    }
    p->command = LVIO_PCI_COMMAND_MEMORY | LVIO_PCI_COMMAND_MASTER |
                 (kind != SIM_PCI_MODERN ? LVIO_PCI_COMMAND_IO : 0);
    p->pci_status = LVIO_PCI_STATUS_CAP_LIST;
    if (kind == SIM_PCI_LEGACY)
        p->s.features = (1ull << LVIO_VIRTIO_F_NOTIFY_ON_EMPTY) |
                        (1ull << LVIO_VIRTIO_F_ANY_LAYOUT) |
                        (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) | (1ull << LVIO_VIRTIO_F_EVENT_IDX);
    else
        p->s.features = (1ull << LVIO_VIRTIO_F_VERSION_1) |
                        (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) | (1ull << LVIO_VIRTIO_F_EVENT_IDX);
    for (unsigned i = 0; i < SIM_MAX_QUEUES; i++)
        p->notify_off[i] = (uint16_t)i;
    /* Legacy sizes are fixed; QEMU's usual is 256 (rng: 8). */
    p->s.q[0].num_max = p->s.q[1].num_max = kind == SIM_PCI_LEGACY ? 256 : 1024;
    default_function(p);
    default_caps(p);
    pci_reset(p);
    sim_pci_build(p);
}

int sim_pci_probe(struct sim_pci *p, struct lvio_device *dev)
{
    return lvio_pci_probe(dev, &p->s.hal, &p->fn);
}

void sim_pci_clear_log(struct sim_pci *p)
{
    p->nlog = 0;
}

int sim_pci_find_access(const struct sim_pci *p, unsigned from, bool write, uint16_t off)
{
    for (unsigned i = from; i < p->nlog; i++)
        if (p->log[i].write == write && p->log[i].off == off)
            return (int)i;
    return -1;
}

/* ---- a device model on any bus ------------------------------------------------------ */

void sim_dev_init(union sim_dev *d, enum sim_bus bus, uint32_t device_id)
{
    if (bus == SIM_BUS_PCI || bus == SIM_BUS_PCI_LEGACY)
        sim_pci_init(&d->pci, bus == SIM_BUS_PCI ? SIM_PCI_MODERN : SIM_PCI_LEGACY, device_id);
    else
        sim_init(&d->sim, bus == SIM_BUS_MMIO1 ? 1 : 2, device_id);
}

void sim_dev_probe(union sim_dev *d, enum sim_bus bus, struct lvio_device *dev)
{
    if (bus == SIM_BUS_PCI || bus == SIM_BUS_PCI_LEGACY)
        assert_int_equal(sim_pci_probe(&d->pci, dev), 0);
    else
        sim_probe(&d->sim, dev);
}

void sim_dev_config_change(union sim_dev *d, enum sim_bus bus)
{
    if (bus == SIM_BUS_PCI || bus == SIM_BUS_PCI_LEGACY) {
        sim_pci_config_change(&d->pci);
    } else {
        d->sim.generation++;
        d->sim.isr |= LVIO_VIRTIO_MMIO_INT_CONFIG;
    }
}
