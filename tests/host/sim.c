/* The simulated device and test HAL described in sim.h. */
#include "sim.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_mmio.h"
#include "lvio/spec/virtio_ring.h"

static struct sim *sim_of(void *ctx) { return ctx; }

void sim_error(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    if (s->error[0])
        return; /* keep the first */
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

/* ---- HAL ------------------------------------------------------------- */

static void *hal_dma_alloc(void *ctx, size_t pages, uint64_t *dev_addr)
{
    struct sim *s = sim_of(ctx);
    if (s->fail_alloc_after == 0)
        return NULL;
    if (s->fail_alloc_after > 0)
        s->fail_alloc_after--;
    for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
        if (s->allocs[i].cpu)
            continue;
        void *p = aligned_alloc(LVIO_PAGE_SIZE, pages * LVIO_PAGE_SIZE);
        assert_non_null(p);
        memset(p, 0, pages * LVIO_PAGE_SIZE); /* the HAL contract: zeroed */
        s->allocs[i] = (struct sim_alloc){p, s->next_dev, pages};
        *dev_addr = s->next_dev;
        /* A gap between allocations: contiguous only where promised. */
        s->next_dev += (pages + 1) * LVIO_PAGE_SIZE;
        s->live_pages += (int)pages;
        return p;
    }
    fail_msg("sim: too many DMA allocations");
    return NULL;
}

static void hal_dma_free(void *ctx, void *cpu, size_t pages, uint64_t dev_addr)
{
    struct sim *s = sim_of(ctx);
    for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
        struct sim_alloc *a = &s->allocs[i];
        if (a->cpu != cpu)
            continue;
        assert_int_equal(a->dev, dev_addr);
        assert_int_equal(a->pages, pages);
        free(cpu);
        s->live_pages -= (int)pages;
        *a = (struct sim_alloc){0};
        return;
    }
    fail_msg("sim: dma_free of memory never allocated");
}

static uint64_t hal_now_ns(void *ctx)
{
    struct sim *s = sim_of(ctx);
    s->now += s->tick;
    return s->now;
}

static void hal_relax(void *ctx)
{
    struct sim *s = sim_of(ctx);
    if (s->relax_limit && ++s->relax_calls > s->relax_limit)
        fail_msg("sim: more than %llu polls in one wait", (unsigned long long)s->relax_limit);
    if (!s->relax_limit)
        s->relax_calls++;
    sim_step(s);
}

static void hal_log(void *ctx, enum lvio_log_level level, const char *line)
{
    struct sim *s = sim_of(ctx);
    (void)level;
    int n = snprintf(s->log + s->log_len, sizeof s->log - s->log_len, "%s\n", line);
    if (n > 0 && s->log_len + (size_t)n < sizeof s->log)
        s->log_len += (size_t)n;
}

/* share(): see sim.h for the two translations. */
static int hal_share(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                     uint64_t *dev_addr)
{
    struct sim *s = sim_of(ctx);
    if (!buf || len == 0 || !dev_addr) {
        sim_error(s, "share(%p, %zu): bad arguments", buf, len);
        return LVIO_E_INVAL;
    }
    if (s->share_fail_after == 0)
        return LVIO_E_NOMEM;
    if (s->share_fail_after > 0)
        s->share_fail_after--;
    struct sim_share *rec = NULL;
    for (int i = 0; i < SIM_MAX_SHARES && !rec; i++)
        if (!s->shares[i].cpu)
            rec = &s->shares[i];
    if (!rec)
        fail_msg("sim: too many live shares");
    uintptr_t cpu = (uintptr_t)buf;
    uint64_t dev;
    if (s->share_run == 0) {
        dev = SIM_SHARE_OFFSET + cpu;
    } else {
        uint64_t off = cpu & (LVIO_PAGE_SIZE - 1);
        uint64_t pages = (off + len + LVIO_PAGE_SIZE - 1) / LVIO_PAGE_SIZE;
        dev = s->next_share_dev + off;
        s->next_share_dev += pages * LVIO_PAGE_SIZE;
        s->share_pages_in_run += (unsigned)pages;
        if (s->share_pages_in_run >= s->share_run) {
            s->next_share_dev += LVIO_PAGE_SIZE; /* the gap */
            s->share_pages_in_run = 0;
        }
    }
    *rec = (struct sim_share){buf, len, dev, (int)dir};
    s->live_shares++;
    s->shares_made++;
    *dev_addr = dev;
    return LVIO_OK;
}

static void hal_unshare(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                        uint64_t dev_addr)
{
    struct sim *s = sim_of(ctx);
    s->unshares++;
    for (int i = 0; i < SIM_MAX_SHARES; i++) {
        struct sim_share *rec = &s->shares[i];
        if (rec->cpu != buf)
            continue;
        if (rec->len != len || rec->dev != dev_addr || rec->dir != (int)dir)
            sim_error(s,
                      "unshare(%p, %zu, dir %d, dev 0x%llx) does not match "
                      "share(%p, %zu, dir %d) = 0x%llx",
                      buf, len, (int)dir, (unsigned long long)dev_addr, rec->cpu, rec->len,
                      rec->dir, (unsigned long long)rec->dev);
        *rec = (struct sim_share){0};
        s->live_shares--;
        return;
    }
    sim_error(s, "unshare(%p, %zu, dev 0x%llx) of memory not shared", buf, len,
              (unsigned long long)dev_addr);
}

const struct sim_share *sim_share_of(const struct sim *s, const void *cpu)
{
    for (int i = 0; i < SIM_MAX_SHARES; i++) {
        const struct sim_share *rec = &s->shares[i];
        if (rec->cpu && (const uint8_t *)cpu >= (const uint8_t *)rec->cpu &&
            (const uint8_t *)cpu < (const uint8_t *)rec->cpu + rec->len)
            return rec;
    }
    return NULL;
}

/* The live share holding device address `dev`, or NULL. */
static const struct sim_share *sim_share_at(const struct sim *s, uint64_t dev)
{
    for (int i = 0; i < SIM_MAX_SHARES; i++) {
        const struct sim_share *rec = &s->shares[i];
        if (rec->cpu && dev >= rec->dev && dev - rec->dev < rec->len)
            return rec;
    }
    return NULL;
}

/* CPU pointer for the longest prefix (<= len) of dev_addr in DMA memory. */
static void *sim_dma_prefix(struct sim *s, uint64_t dev_addr, size_t len, size_t *n)
{
    for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
        struct sim_alloc *a = &s->allocs[i];
        uint64_t size = (uint64_t)a->pages * LVIO_PAGE_SIZE;
        if (a->cpu && dev_addr >= a->dev && dev_addr - a->dev < size) {
            uint64_t left = size - (dev_addr - a->dev);
            *n = len < left ? len : (size_t)left;
            return (uint8_t *)a->cpu + (dev_addr - a->dev);
        }
    }
    return NULL;
}

/* Copy between `buf` and the device addresses [dev_addr, +len): DMA
 * memory or shares, possibly several. A write into a share the driver
 * made for the device to read only is noted. */
static bool sim_dev_copy(struct sim *s, uint64_t dev_addr, void *buf, size_t len, bool write)
{
    uint8_t *o = buf;
    while (len > 0) {
        size_t n = 0;
        uint8_t *mem = sim_dma_prefix(s, dev_addr, len, &n);
        if (!mem) {
            const struct sim_share *rec = sim_share_at(s, dev_addr);
            if (!rec) {
                sim_error(s, "device %s of 0x%llx: neither DMA memory nor shared",
                          write ? "write" : "read", (unsigned long long)dev_addr);
                return false;
            }
            if (write && rec->dir == LVIO_DMA_TO_DEVICE)
                sim_error(s, "device write of 0x%llx: shared for the device to read only",
                          (unsigned long long)dev_addr);
            uint64_t left = rec->len - (dev_addr - rec->dev);
            n = len < left ? len : (size_t)left;
            mem = (uint8_t *)(uintptr_t)rec->cpu + (dev_addr - rec->dev);
        }
        if (write)
            memcpy(mem, o, n);
        else
            memcpy(o, mem, n);
        o += n;
        dev_addr += n;
        len -= n;
    }
    return true;
}

bool sim_dev_read(struct sim *s, uint64_t dev_addr, void *out, size_t len)
{
    return sim_dev_copy(s, dev_addr, out, len, false);
}

bool sim_dev_write(struct sim *s, uint64_t dev_addr, const void *in, size_t len)
{
    return sim_dev_copy(s, dev_addr, (void *)(uintptr_t)in, len, true);
}

static volatile void *hal_map_regs(void *ctx, uint64_t phys, size_t len)
{
    struct sim *s = sim_of(ctx);
    if (phys != SIM_MMIO_PHYS || len > sizeof s->regs)
        return NULL;
    return s->regs;
}

/* ---- device memory access, through device addresses only --------------- */

void *sim_mem(struct sim *s, uint64_t dev_addr, size_t len)
{
    for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
        struct sim_alloc *a = &s->allocs[i];
        uint64_t size = (uint64_t)a->pages * LVIO_PAGE_SIZE;
        if (a->cpu && dev_addr >= a->dev && dev_addr - a->dev <= size &&
            len <= size - (dev_addr - a->dev))
            return (uint8_t *)a->cpu + (dev_addr - a->dev);
    }
    sim_error(s, "device access to 0x%llx+%zu: not a device address of DMA memory",
              (unsigned long long)dev_addr, len);
    return NULL;
}

/* Legacy devices are guest-endian, modern ones little-endian; on this host
 * both are the CPU's order unless it is big-endian. */
static uint16_t sim_rd16(struct sim *s, uint64_t a)
{
    uint16_t v = 0;
    void *p = sim_mem(s, a, 2);
    if (p)
        memcpy(&v, p, 2);
    return s->version == 1 ? v : lvio_le16_to_cpu(v);
}

static void sim_wr16(struct sim *s, uint64_t a, uint16_t v)
{
    void *p = sim_mem(s, a, 2);
    v = s->version == 1 ? v : lvio_cpu_to_le16(v);
    if (p)
        memcpy(p, &v, 2);
}

static void sim_wr32(struct sim *s, uint64_t a, uint32_t v)
{
    void *p = sim_mem(s, a, 4);
    v = s->version == 1 ? v : lvio_cpu_to_le32(v);
    if (p)
        memcpy(p, &v, 4);
}

/* The descriptor at device address `at` (a ring slot or a table entry). */
static bool sim_read_desc(struct sim *s, uint64_t at, struct lvio_virtq_desc *out)
{
    void *p = sim_mem(s, at, 16);
    if (!p)
        return false;
    memcpy(out, p, 16);
    if (s->version != 1) {
        out->addr = lvio_le64_to_cpu(out->addr);
        out->len = lvio_le32_to_cpu(out->len);
        out->flags = lvio_le16_to_cpu(out->flags);
        out->next = lvio_le16_to_cpu(out->next);
    }
    return true;
}

static bool sim_desc(struct sim *s, struct sim_queue *q, uint16_t i,
                     struct lvio_virtq_desc *out)
{
    return sim_read_desc(s, q->desc + 16u * i, out);
}

/* Buffer `i` of the indirect table `ind` (2.7.5.3), checked as a device
 * must: the table's length a multiple of 16, no nested tables, every
 * `next` inside the table, no loop. */
static bool sim_table_buf(struct sim *s, uint16_t queue, const struct lvio_virtq_desc *ind,
                          unsigned i, struct lvio_virtq_desc *out)
{
    unsigned n = ind->len / 16;
    uint16_t t = 0;
    if (!(s->driver_features & (1ull << LVIO_VIRTIO_F_INDIRECT_DESC)))
        sim_error(s, "queue %u: an indirect descriptor without INDIRECT_DESC", queue);
    if (ind->flags & LVIO_VIRTQ_DESC_F_NEXT)
        sim_error(s, "queue %u: an indirect descriptor with NEXT", queue);
    if (ind->len == 0 || ind->len % 16 != 0) {
        sim_error(s, "queue %u: indirect table of %u bytes", queue, ind->len);
        return false;
    }
    for (unsigned k = 0; k <= i; k++) {
        if (t >= n || k >= n || !sim_read_desc(s, ind->addr + 16u * t, out)) {
            sim_error(s, "queue %u: indirect table entry %u of %u", queue, t, n);
            return false;
        }
        if (out->flags & LVIO_VIRTQ_DESC_F_INDIRECT)
            sim_error(s, "queue %u: a nested indirect table", queue);
        if (k == i)
            return true;
        if (!(out->flags & LVIO_VIRTQ_DESC_F_NEXT))
            return false;
        t = out->next;
    }
    return false;
}

bool sim_chain_buf(struct sim *s, uint16_t queue, uint16_t head, unsigned i,
                   uint64_t *addr, uint32_t *len, uint16_t *flags)
{
    struct sim_queue *q = &s->q[queue];
    struct lvio_virtq_desc d;
    uint16_t idx = head;
    if (head < q->num && sim_desc(s, q, head, &d) && (d.flags & LVIO_VIRTQ_DESC_F_INDIRECT)) {
        struct lvio_virtq_desc ind = d;
        if (!sim_table_buf(s, queue, &ind, i, &d))
            return false;
        *addr = d.addr;
        *len = d.len;
        *flags = d.flags;
        return true;
    }
    for (unsigned n = 0; n <= i; n++) {
        if (idx >= q->num || n > q->num || !sim_desc(s, q, idx, &d)) {
            sim_error(s, "queue %u: bad descriptor index %u in chain %u", queue, idx, head);
            return false;
        }
        if (n == i)
            break;
        if (!(d.flags & LVIO_VIRTQ_DESC_F_NEXT))
            return false;
        idx = d.next;
    }
    *addr = d.addr;
    *len = d.len;
    *flags = d.flags;
    return true;
}

uint32_t sim_rng_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    uint64_t addr;
    uint32_t len, total = 0;
    uint16_t flags;
    for (unsigned i = 0; sim_chain_buf(s, queue, head, i, &addr, &len, &flags); i++) {
        if (!(flags & LVIO_VIRTQ_DESC_F_WRITE)) {
            sim_error(s, "rng chain %u has a device-readable buffer", head);
            return 0;
        }
        if (s->rng_limit && len > s->rng_limit - total)
            len = s->rng_limit - total;
        uint8_t *p = sim_mem(s, addr, len);
        for (uint32_t b = 0; p && b < len; b++)
            p[b] = s->rng_byte++;
        total += len;
    }
    return total;
}

/* ---- ring model --------------------------------------------------------- */

void sim_push_used(struct sim *s, uint16_t queue, uint16_t head, uint32_t len)
{
    struct sim_queue *q = &s->q[queue];
    uint64_t elem = q->used + 4 + 8u * (q->used_idx % q->num);
    uint32_t id = head;
    if (s->bad_used_id >= 0) {
        id = (uint32_t)s->bad_used_id;
        s->bad_used_id = -1;
    }
    if (s->len_override >= 0)
        len = (uint32_t)s->len_override;
    sim_wr32(s, elem, id);
    sim_wr32(s, elem + 4, len);
    uint16_t old_idx = q->used_idx;
    q->used_idx = (uint16_t)(q->used_idx + 1 + s->used_idx_jump);
    s->used_idx_jump = 0;
    sim_wr16(s, q->used + 2, q->used_idx);
    /* A used-buffer notification when the driver asked for one: by
     * used_event with EVENT_IDX (2.7.10), else unless NO_INTERRUPT. */
    bool notify;
    if (s->driver_features & (1ull << LVIO_VIRTIO_F_EVENT_IDX)) {
        uint16_t used_event = sim_rd16(s, q->avail + 4 + 2u * q->num);
        notify = (uint16_t)(q->used_idx - used_event - 1) < (uint16_t)(q->used_idx - old_idx);
    } else {
        notify = !(sim_rd16(s, q->avail) & LVIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    if (notify) {
        if (s->used_irq)
            s->used_irq(s, queue);
        else
            s->isr |= LVIO_VIRTIO_MMIO_INT_VRING;
        s->interrupts++;
    }
}

static bool sim_queue_live(struct sim *s, struct sim_queue *q)
{
    if (!(s->status & LVIO_VIRTIO_STATUS_DRIVER_OK) || q->num == 0)
        return false;
    return s->version == 1 ? q->pfn != 0 : q->ready != 0;
}

static void sim_consume(struct sim *s, uint16_t queue)
{
    struct sim_queue *q = &s->q[queue];
    uint16_t avail_idx = sim_rd16(s, q->avail + 2);
    while (q->last_avail != avail_idx && !s->error[0]) {
        uint16_t head = sim_rd16(s, q->avail + 4 + 2u * (q->last_avail % q->num));
        q->last_avail++;
        if (head >= q->num) {
            sim_error(s, "queue %u: avail ring names descriptor %u of %u", queue, head, q->num);
            return;
        }
        uint32_t len = s->handler ? s->handler(s, queue, head) : 0;
        if (s->never_complete)
            continue;
        if (s->take_this) {
            s->take_this = false;
            continue;
        }
        if (s->hold_this) {
            s->hold_this = false;
            if (s->nheld < SIM_MAX_HELD)
                s->held[s->nheld++] = (struct sim_held){queue, head, len};
            continue;
        }
        if (s->complete_budget == 0)
            s->hold = true;
        else if (s->complete_budget > 0)
            s->complete_budget--;
        if (s->hold && s->nheld < SIM_MAX_HELD) {
            s->held[s->nheld++] = (struct sim_held){queue, head, len};
            continue;
        }
        sim_push_used(s, queue, head, len);
    }
    /* With EVENT_IDX: notify me when you make entry last_avail available. */
    if ((s->driver_features & (1ull << LVIO_VIRTIO_F_EVENT_IDX)) && !s->stale_avail_event)
        sim_wr16(s, q->used + 4 + 8u * q->num, q->last_avail);
}

void sim_step(struct sim *s)
{
    if (s->on_step)
        s->on_step(s);
    if (s->delay_polls) {
        s->delay_polls--;
        return;
    }
    for (uint16_t i = 0; i < SIM_MAX_QUEUES; i++)
        if (sim_queue_live(s, &s->q[i]))
            sim_consume(s, i);
}

void sim_complete(struct sim *s, uint16_t queue, uint16_t head, uint32_t len)
{
    sim_push_used(s, queue, head, len);
}

void sim_release_reversed(struct sim *s)
{
    while (s->nheld) {
        struct sim_held *h = &s->held[--s->nheld];
        sim_push_used(s, h->queue, h->head, h->len);
    }
}

/* ---- registers ------------------------------------------------------------ */

static void sim_reset(struct sim *s)
{
    s->status = 0;
    s->isr = 0;
    s->driver_features = 0;
    for (int i = 0; i < SIM_MAX_QUEUES; i++) {
        struct sim_queue *q = &s->q[i];
        *q = (struct sim_queue){.num_max = q->num_max};
    }
    s->nheld = 0;
    if (s->on_reset)
        s->on_reset(s);
}

/* Legacy ring placement, computed the way a device does from QueueAlign. */
static void sim_legacy_layout(struct sim *s, struct sim_queue *q)
{
    uint64_t align = q->align ? q->align : 4096;
    q->desc = (uint64_t)q->pfn * (s->page_size ? s->page_size : 4096);
    q->avail = q->desc + 16u * q->num;
    q->used = (q->avail + 6 + 2u * q->num + align - 1) & ~(align - 1);
    if (s->page_size != 4096)
        sim_error(s, "QueuePFN written with GuestPageSize %u", s->page_size);
}

static uint32_t sim_reg_read_v(struct sim *s, uint32_t off)
{
    struct sim_queue *q = &s->q[s->queue_sel % SIM_MAX_QUEUES];
    bool v1 = s->version == 1;
    switch (off) {
    case LVIO_VIRTIO_MMIO_MAGIC_VALUE: return s->magic;
    case LVIO_VIRTIO_MMIO_VERSION: return s->version;
    case LVIO_VIRTIO_MMIO_DEVICE_ID: return s->device_id;
    case LVIO_VIRTIO_MMIO_VENDOR_ID: return s->vendor_id;
    case LVIO_VIRTIO_MMIO_DEVICE_FEATURES:
        if (v1 && s->dev_feat_sel)
            return 0;
        return s->dev_feat_sel < 2 ? (uint32_t)(s->features >> (32 * s->dev_feat_sel)) : 0;
    case LVIO_VIRTIO_MMIO_QUEUE_NUM_MAX: return s->queue_sel < SIM_MAX_QUEUES ? q->num_max : 0;
    case LVIO_VIRTIO_MMIO_QUEUE_PFN: return v1 ? q->pfn : 0;
    case LVIO_VIRTIO_MMIO_QUEUE_READY: return v1 ? 0 : q->ready;
    case LVIO_VIRTIO_MMIO_INTERRUPT_STATUS: return s->isr;
    case LVIO_VIRTIO_MMIO_STATUS:
        if (s->reset_delay) {
            s->reset_delay--;
            return 0x01;
        }
        return s->status;
    case LVIO_VIRTIO_MMIO_CONFIG_GENERATION:
        if (v1)
            return 0;
        if (s->generation_flips) {
            s->generation_flips--;
            s->generation++;
        }
        return s->generation;
    case LVIO_VIRTIO_MMIO_SHM_LEN_LOW:
    case LVIO_VIRTIO_MMIO_SHM_LEN_HIGH:
    case LVIO_VIRTIO_MMIO_SHM_BASE_LOW:
    case LVIO_VIRTIO_MMIO_SHM_BASE_HIGH: {
        if (v1)
            return 0;
        bool is = s->shm_sel < SIM_MAX_SHM && s->shm_len[s->shm_sel];
        uint64_t v = off < LVIO_VIRTIO_MMIO_SHM_BASE_LOW
                         ? (is ? s->shm_len[s->shm_sel] : UINT64_MAX)
                         : (is ? s->shm_base[s->shm_sel] : 0);
        return (off & 4) ? (uint32_t)(v >> 32) : (uint32_t)v;
    }
    default:
        if (off >= LVIO_VIRTIO_MMIO_CONFIG && off < LVIO_VIRTIO_MMIO_CONFIG + sizeof s->config)
            return s->config[off - LVIO_VIRTIO_MMIO_CONFIG];
        return 0;
    }
}

static void sim_write_status(struct sim *s, uint32_t v)
{
    if (v == 0 && s->reset_stuck && s->resets_before_stuck == 0)
        return; /* status keeps reading what it was, the queues stay live */
    if (v == 0 && s->reset_stuck)
        s->resets_before_stuck--;
    if (v == 0) {
        sim_reset(s);
        return;
    }
    if (s->raise_needs_reset && (v & LVIO_VIRTIO_STATUS_FEATURES_OK))
        v |= LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if ((v & LVIO_VIRTIO_STATUS_FEATURES_OK) && !(s->status & LVIO_VIRTIO_STATUS_FEATURES_OK) &&
        s->version != 1) {
        if ((s->driver_features & ~s->features) != 0)
            sim_error(s, "driver accepted features 0x%llx never offered",
                      (unsigned long long)(s->driver_features & ~s->features));
        if (s->refuse_features)
            v &= ~LVIO_VIRTIO_STATUS_FEATURES_OK;
    }
    s->status = (uint8_t)v;
}

static void sim_write_queue_v2(struct sim *s, struct sim_queue *q, uint32_t off,
                               uint32_t v)
{
    switch (off) {
    case LVIO_VIRTIO_MMIO_QUEUE_READY: q->ready = s->refuse_queue ? 0 : v & 1; break;
    case LVIO_VIRTIO_MMIO_QUEUE_DESC_LOW: q->desc = (q->desc & ~0xffffffffull) | v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_DESC_HIGH: q->desc = (q->desc & 0xffffffffull) | (uint64_t)v << 32; break;
    case LVIO_VIRTIO_MMIO_QUEUE_AVAIL_LOW: q->avail = (q->avail & ~0xffffffffull) | v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_AVAIL_HIGH: q->avail = (q->avail & 0xffffffffull) | (uint64_t)v << 32; break;
    case LVIO_VIRTIO_MMIO_QUEUE_USED_LOW: q->used = (q->used & ~0xffffffffull) | v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_USED_HIGH: q->used = (q->used & 0xffffffffull) | (uint64_t)v << 32; break;
    }
}

static void sim_write_queue_v1(struct sim *s, struct sim_queue *q, uint32_t off,
                               uint32_t v)
{
    switch (off) {
    case LVIO_VIRTIO_MMIO_GUEST_PAGE_SIZE: s->page_size = v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_ALIGN: q->align = v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_PFN:
        q->pfn = s->refuse_queue ? 0 : v;
        if (v)
            sim_legacy_layout(s, q);
        break;
    }
}

static void sim_reg_write_v(struct sim *s, uint32_t off, uint32_t v)
{
    struct sim_queue *q = &s->q[s->queue_sel % SIM_MAX_QUEUES];
    s->reg_writes++;
    switch (off) {
    case LVIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL: s->dev_feat_sel = v; return;
    case LVIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL: s->drv_feat_sel = v; return;
    case LVIO_VIRTIO_MMIO_DRIVER_FEATURES:
        if (s->drv_feat_sel < 2 && !(s->version == 1 && s->drv_feat_sel)) {
            uint64_t mask = 0xffffffffull << (32 * s->drv_feat_sel);
            s->driver_features = (s->driver_features & ~mask) | ((uint64_t)v << (32 * s->drv_feat_sel));
        }
        return;
    case LVIO_VIRTIO_MMIO_QUEUE_SEL: s->queue_sel = v; return;
    case LVIO_VIRTIO_MMIO_SHM_SEL: s->shm_sel = v; return;
    case LVIO_VIRTIO_MMIO_QUEUE_NUM:
        if (v > q->num_max)
            sim_error(s, "QueueNum %u > QueueNumMax %u", v, q->num_max);
        q->num = v;
        return;
    case LVIO_VIRTIO_MMIO_QUEUE_NOTIFY: s->notifies++; sim_step(s); return;
    case LVIO_VIRTIO_MMIO_INTERRUPT_ACK: s->isr &= ~v; return;
    case LVIO_VIRTIO_MMIO_STATUS: sim_write_status(s, v); return;
    }
    if (s->version == 1)
        sim_write_queue_v1(s, q, off, v); /* v2 queue registers: ignored */
    else
        sim_write_queue_v2(s, q, off, v); /* legacy registers: ignored */
}

static uint32_t hal_reg_read(void *ctx, volatile void *addr, unsigned width)
{
    struct sim *s = sim_of(ctx);
    uint32_t off = (uint32_t)((volatile uint8_t *)addr - s->regs);
    assert_true(off < sizeof s->regs);
    if (off < LVIO_VIRTIO_MMIO_CONFIG && width != 4)
        sim_error(s, "%u-byte read of register 0x%x", width, off);
    if (off >= LVIO_VIRTIO_MMIO_CONFIG) {
        uint8_t b[4] = {0};
        if (s->config_counts && off == LVIO_VIRTIO_MMIO_CONFIG) {
            uint32_t n = sim_config_value(s->version == 1, s->config, 4) + 1;
            sim_config_bytes(s->version == 1, n, 4, s->config, sizeof s->config);
        }
        for (unsigned i = 0; i < width && i < 4; i++)
            b[i] = (uint8_t)sim_reg_read_v(s, off + i);
        return sim_config_value(s->version == 1, b, width);
    }
    return sim_reg_read_v(s, off);
}

static void hal_reg_write(void *ctx, volatile void *addr, unsigned width, uint32_t v)
{
    struct sim *s = sim_of(ctx);
    uint32_t off = (uint32_t)((volatile uint8_t *)addr - s->regs);
    assert_true(off < sizeof s->regs);
    if (off >= LVIO_VIRTIO_MMIO_CONFIG) {
        /* Configuration: 1-, 2- or 4-byte writes, device behaviour decides. */
        uint32_t c = off - LVIO_VIRTIO_MMIO_CONFIG;
        s->reg_writes++;
        s->config_writes++;
        if (width != 1 && width != 2 && width != 4)
            sim_error(s, "%u-byte write of config 0x%x", width, c);
        else if (s->config_write)
            s->config_write(s, c, width, v);
        else
            sim_config_bytes(s->version == 1, v, width, s->config + c,
                             c < sizeof s->config ? sizeof s->config - c : 0);
        return;
    }
    if (width != 4)
        sim_error(s, "%u-byte write of register 0x%x", width, off);
    sim_reg_write_v(s, off, v);
}

uint32_t sim_config_value(bool legacy, const uint8_t *b, unsigned width)
{
    uint32_t v = 0;
    if (legacy && width == 2) {
        uint16_t h;
        memcpy(&h, b, 2);
        return h;
    }
    if (legacy && width == 4) {
        memcpy(&v, b, 4);
        return v;
    }
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

void sim_config_bytes(bool legacy, uint32_t v, unsigned width, uint8_t *out, size_t room)
{
    uint8_t b[4];
    if (legacy && width == 2) {
        uint16_t h = (uint16_t)v;
        memcpy(b, &h, 2);
    } else if (legacy && width == 4) {
        memcpy(b, &v, 4);
    } else {
        for (unsigned i = 0; i < width && i < 4; i++)
            b[i] = (uint8_t)(v >> (8 * i));
    }
    for (unsigned i = 0; i < width && i < room; i++)
        out[i] = b[i];
}

void sim_init(struct sim *s, uint32_t version, uint32_t device_id)
{
    memset(s, 0, sizeof *s);
    s->hal = (struct lvio_hal){
        .ctx = s,
        .dma_alloc = hal_dma_alloc,
        .dma_free = hal_dma_free,
        .share = hal_share,
        .unshare = hal_unshare,
        .map_regs = hal_map_regs,
        .now_ns = hal_now_ns,
        .relax = hal_relax,
        .log = hal_log,
        .log_level = LVIO_LOG_DEBUG,
        .reg_read = hal_reg_read,
        .reg_write = hal_reg_write,
    };
    s->tick = 1000; /* 1 us per clock read */
    s->next_dev = SIM_DMA_BASE;
    s->fail_alloc_after = -1;
    s->share_fail_after = -1;
    s->next_share_dev = SIM_SHARE_SCATTER_BASE;
    s->magic = LVIO_VIRTIO_MMIO_MAGIC;
    s->version = version;
    s->device_id = device_id;
    s->vendor_id = 0x554d4551; /* "QEMU" */
    s->features = version == 1 ? 0 : 1ull << LVIO_VIRTIO_F_VERSION_1;
    s->q[0].num_max = 1024; /* what QEMU reports */
    s->q[1].num_max = 1024;
    s->bad_used_id = -1;
    s->len_override = -1;
    s->complete_budget = -1;
}

void sim_free_dma(struct sim *s)
{
    for (int i = 0; i < SIM_MAX_ALLOCS; i++)
        free(s->allocs[i].cpu);
    memset(s->allocs, 0, sizeof s->allocs);
    s->live_pages = 0;
}

void sim_probe(struct sim *s, struct lvio_device *dev)
{
    assert_int_equal(lvio_mmio_probe(dev, &s->hal, SIM_MMIO_PHYS, 0x200), 0);
}

static void *sim_page_allocs[16];

uint8_t *sim_pages(size_t n)
{
    for (size_t i = 0; i < sizeof sim_page_allocs / sizeof sim_page_allocs[0]; i++) {
        if (sim_page_allocs[i])
            continue;
        uint8_t *p = aligned_alloc(LVIO_PAGE_SIZE, n * LVIO_PAGE_SIZE);
        assert_non_null(p);
        memset(p, 0, n * LVIO_PAGE_SIZE);
        sim_page_allocs[i] = p;
        return p;
    }
    fail_msg("sim: more than 16 page allocations live");
    return NULL;
}

void sim_pages_release(void)
{
    for (size_t i = 0; i < sizeof sim_page_allocs / sizeof sim_page_allocs[0]; i++) {
        free(sim_page_allocs[i]);
        sim_page_allocs[i] = NULL;
    }
}
