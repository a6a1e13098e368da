/*
 * Split virtqueue (VIRTIO 1.2, 2.7). Usage is described in
 * include/lvio/virtqueue.h.
 *
 * Ownership: the descriptor table and avail ring are written only by us and
 * never read back (the shadow[] copy is the truth); the used ring is written
 * only by the device and everything read from it is validated before use.
 */
#include "internal.h"

static uint32_t lvio_align_up(uint32_t v, uint32_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Byte offsets of the used ring and the allocation's end for `size`. The
 * used ring sits at the next 4096 boundary after the avail ring (with or
 * without its used_event word, the boundary is the same), which legacy
 * transports require and modern ones accept. */
static uint32_t lvio_vq_used_offset(uint32_t size)
{
    uint32_t desc_and_avail = 16 * size + 6 + 2 * size;
    return lvio_align_up(desc_and_avail, LVIO_VIRTQ_LEGACY_ALIGN);
}

/* The ring (with used_event and avail_event, which a device counts with
 * EVENT_IDX), then, with INDIRECT_DESC, a table per slot. */
static uint32_t lvio_vq_tables_offset(uint32_t size)
{
    return lvio_align_up(lvio_vq_used_offset(size) + 6 + 8 * size + 2, 16);
}

static uint32_t lvio_vq_bytes(uint32_t size, bool indirect)
{
    uint32_t tables = indirect ? size * LVIO_VQ_INDIRECT_MAX * 16u : 0;
    return lvio_vq_tables_offset(size) + tables;
}

static int lvio_vq_break(struct lvio_virtqueue *vq, const char *what,
                         uint32_t a, uint32_t b)
{
    vq->broken = LVIO_E_BROKEN;
    return lvio_fail(vq->dev, LVIO_E_BROKEN, "queue %u: %s (%u, %u); queue marked broken",
                     vq->index, what, a, b);
}

static uint16_t lvio_vq_choose_size(uint32_t dev_max, uint16_t max_size)
{
    uint32_t limit = LVIO_VQ_MAX_SIZE;
    if (dev_max < limit)
        limit = dev_max;
    if (max_size && max_size < limit)
        limit = max_size;
    uint32_t size = 1;
    while (size * 2 <= limit)
        size *= 2;
    return (uint16_t)size;
}

static int lvio_vq_alloc(struct lvio_virtqueue *vq)
{
    const struct lvio_hal *hal = vq->dev->hal;
    uint32_t bytes = lvio_vq_bytes(vq->size, vq->indirect);
    vq->mem_pages = lvio_align_up(bytes, LVIO_PAGE_SIZE) / LVIO_PAGE_SIZE;
    vq->mem = hal->dma_alloc(hal->ctx, vq->mem_pages, &vq->mem_addr);
    if (!vq->mem)
        return lvio_fail(vq->dev, LVIO_E_NOMEM, "queue %u: no DMA memory for %u pages",
                         vq->index, vq->mem_pages);
    if (((uintptr_t)vq->mem | vq->mem_addr) & (LVIO_PAGE_SIZE - 1)) {
        hal->dma_free(hal->ctx, vq->mem, vq->mem_pages, vq->mem_addr); /* never given */
        vq->mem = NULL;
        return lvio_fail(vq->dev, LVIO_E_HAL, "queue %u: dma_alloc returned an unaligned page",
                         vq->index);
    }
    memset(vq->mem, 0, (size_t)vq->mem_pages * LVIO_PAGE_SIZE);
    uint8_t *base = vq->mem;
    uint32_t used_off = lvio_vq_used_offset(vq->size);
    vq->desc = (struct lvio_virtq_desc *)base;
    vq->avail = (struct lvio_virtq_avail *)(base + (size_t)16 * vq->size);
    vq->used = (struct lvio_virtq_used *)(base + used_off);
    vq->desc_addr = vq->mem_addr;
    vq->avail_addr = vq->mem_addr + (uint64_t)16 * vq->size;
    vq->used_addr = vq->mem_addr + used_off;
    if (vq->indirect) {
        uint32_t off = lvio_vq_tables_offset(vq->size);
        vq->tables = (struct lvio_virtq_desc *)(base + off);
        vq->tables_addr = vq->mem_addr + off;
    }
    return LVIO_OK;
}

static void lvio_vq_free_mem(struct lvio_virtqueue *vq)
{
    if (vq->mem)
        lvio_dma_give_back(vq->dev, vq->mem, vq->mem_pages, vq->mem_addr);
    vq->mem = NULL;
    vq->desc = NULL;
    vq->avail = NULL;
    vq->used = NULL;
    vq->tables = NULL;
}

static int lvio_vq_check_setup(const struct lvio_virtqueue *vq,
                               struct lvio_device *dev, uint16_t index)
{
    if (!vq || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    for (const struct lvio_virtqueue *q = dev->queues; q; q = q->next)
        if (q->index == index || q == vq)
            return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: already set up", index);
    if ((dev->status & LVIO_VIRTIO_STATUS_DRIVER_OK) ||
        !(dev->status & LVIO_VIRTIO_STATUS_DRIVER))
        return lvio_fail(dev, LVIO_E_STATE,
                         "queue %u: set up queues between lvio_device_begin and "
                         "lvio_device_driver_ok (status 0x%02x)",
                         index, dev->status);
    return LVIO_OK;
}

int lvio_vq_setup(struct lvio_virtqueue *vq, struct lvio_device *dev,
                  uint16_t index, uint16_t max_size)
{
    int err = lvio_vq_check_setup(vq, dev, index);
    if (err)
        return err;
    memset(vq, 0, sizeof *vq);
    vq->dev = dev;
    vq->index = index;
    vq->msix_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    vq->indirect = lvio_has_feature(dev->features_accepted, LVIO_VIRTIO_F_INDIRECT_DESC);
    vq->event_idx = lvio_has_feature(dev->features_accepted, LVIO_VIRTIO_F_EVENT_IDX);
    uint32_t dev_max = 0;
    err = dev->ops->queue_max(dev, index, &dev_max);
    if (err)
        return err;
    if (dev->ops->queue_size_fixed) {
        if (dev_max > LVIO_VQ_MAX_SIZE || (dev_max & (dev_max - 1)) != 0)
            return lvio_fail(dev, LVIO_E_QUEUE,
                             "queue %u: the device fixes its size at %u, which is not a power "
                             "of two up to LVIO_VQ_MAX_SIZE (%u)",
                             index, dev_max, LVIO_VQ_MAX_SIZE);
        vq->size = (uint16_t)dev_max; /* no choice: the device's size */
    } else {
        vq->size = lvio_vq_choose_size(dev_max, max_size);
    }
    err = lvio_vq_alloc(vq);
    if (err)
        return err;
    for (uint16_t i = 0; i < vq->size; i++)
        vq->shadow[i].next = (uint16_t)(i + 1);
    vq->num_free = vq->size;
    /* Its interrupt vector (PCI MSI-X) before the queue is enabled; with
     * none, or MSI-X given up, the ISR status says it. */
    if (dev->ops->queue_vector)
        vq->msix_vector = dev->ops->queue_vector(dev, index);
    /* The zeroed ring is in memory before the device is told where it is. */
    lvio_wmb();
    struct lvio_queue_place place = {index, vq->size, vq->desc_addr, vq->avail_addr,
                                     vq->used_addr};
    err = dev->ops->queue_enable(dev, &place, &vq->notify_off);
    if (err) {
        /* The device may hold the ring's addresses (and use them): it lets
         * go of them by a reset before the memory is freed. The message
         * stays the one about the queue, unless the reset fails too: then
         * the ring is kept, and both are said. */
        err = lvio_device_reset_after(dev, err);
        lvio_vq_free_mem(vq);
        return err;
    }
    vq->next = dev->queues;
    dev->queues = vq;
    return LVIO_OK;
}

void lvio_vq_teardown(struct lvio_virtqueue *vq)
{
    if (!vq || !vq->dev)
        return;
    for (struct lvio_virtqueue **p = &vq->dev->queues; *p; p = &(*p)->next) {
        if (*p == vq) {
            *p = vq->next;
            break;
        }
    }
    vq->next = NULL;
    lvio_vq_free_mem(vq);
    vq->msix_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    vq->num_free = 0;
    vq->broken = LVIO_E_STATE;
}

/* Fill descriptor `d` (shadow first, then the device's copy). */
static void lvio_vq_set_desc(struct lvio_virtqueue *vq, uint16_t d,
                             const struct lvio_sg *sg, uint16_t flags)
{
    struct lvio_vq_shadow *s = &vq->shadow[d];
    const struct lvio_device *dev = vq->dev;
    s->addr = sg->addr;
    s->len = sg->len;
    s->flags = flags;
    vq->desc[d].addr = lvio_cpu_to_dev64(dev, s->addr);
    vq->desc[d].len = lvio_cpu_to_dev32(dev, s->len);
    vq->desc[d].flags = lvio_cpu_to_dev16(dev, s->flags);
    vq->desc[d].next = lvio_cpu_to_dev16(dev, s->next);
}

/* A chain of `n` buffers goes through an indirect table. */
static bool lvio_vq_use_indirect(const struct lvio_virtqueue *vq, unsigned n)
{
    return vq->indirect && n > 1 && n <= LVIO_VQ_INDIRECT_MAX;
}

unsigned lvio_vq_descs(const struct lvio_virtqueue *vq, unsigned nbufs)
{
    return lvio_vq_use_indirect(vq, nbufs) ? 1 : nbufs;
}

static int lvio_vq_check_add(struct lvio_virtqueue *vq,
                             const struct lvio_sg *out, unsigned n_out,
                             const struct lvio_sg *in, unsigned n_in,
                             uint32_t *writable)
{
    unsigned n = n_out + n_in;
    uint64_t w = 0;
    if (n == 0 || n_out > LVIO_VQ_MAX_SIZE || n_in > LVIO_VQ_MAX_SIZE ||
        (n > vq->size && !lvio_vq_use_indirect(vq, n)) || (n_out && !out) || (n_in && !in))
        return LVIO_E_INVAL;
    for (unsigned i = 0; i < n; i++) {
        const struct lvio_sg *sg = i < n_out ? &out[i] : &in[i - n_out];
        if (sg->len == 0)
            return LVIO_E_INVAL;
        if (i >= n_out)
            w += sg->len;
    }
    if (w > UINT32_MAX)
        return LVIO_E_INVAL;
    *writable = (uint32_t)w;
    return lvio_vq_descs(vq, n) > vq->num_free ? LVIO_E_NOSPC : LVIO_OK;
}

/* Write the indirect table of ring slot `head` (written once, never read
 * back) and return its descriptor for the ring. */
static struct lvio_sg lvio_vq_fill_table(struct lvio_virtqueue *vq, uint16_t head,
                                         const struct lvio_sg *out, unsigned n_out,
                                         const struct lvio_sg *in, unsigned n_in)
{
    const struct lvio_device *dev = vq->dev;
    struct lvio_virtq_desc *t = vq->tables + (size_t)head * LVIO_VQ_INDIRECT_MAX;
    unsigned n = n_out + n_in;
    for (unsigned i = 0; i < n; i++) {
        bool is_in = i >= n_out;
        const struct lvio_sg *sg = is_in ? &in[i - n_out] : &out[i];
        uint16_t flags = (uint16_t)((is_in ? LVIO_VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? LVIO_VIRTQ_DESC_F_NEXT : 0));
        t[i].addr = lvio_cpu_to_dev64(dev, sg->addr);
        t[i].len = lvio_cpu_to_dev32(dev, sg->len);
        t[i].flags = lvio_cpu_to_dev16(dev, flags);
        t[i].next = lvio_cpu_to_dev16(dev, (uint16_t)(i + 1 < n ? i + 1 : 0));
    }
    uint64_t addr = vq->tables_addr + (uint64_t)head * LVIO_VQ_INDIRECT_MAX * 16u;
    return (struct lvio_sg){addr, (uint32_t)n * 16u};
}

int lvio_vq_add(struct lvio_virtqueue *vq, const struct lvio_sg *out,
                unsigned n_out, const struct lvio_sg *in, unsigned n_in,
                void *token)
{
    uint32_t writable;
    if (!vq || !vq->dev || !vq->desc)
        return LVIO_E_INVAL;
    if (vq->broken)
        return vq->broken;
    int err = lvio_vq_check_add(vq, out, n_out, in, n_in, &writable);
    if (err)
        return err;
    unsigned n = n_out + n_in, ndesc = n;
    uint16_t head = vq->free_head, d = head;
    if (lvio_vq_use_indirect(vq, n)) {
        struct lvio_sg table = lvio_vq_fill_table(vq, head, out, n_out, in, n_in);
        lvio_vq_set_desc(vq, d, &table, LVIO_VIRTQ_DESC_F_INDIRECT);
        d = vq->shadow[d].next;
        ndesc = 1;
        vq->indirect_chains++;
    } else {
        for (unsigned i = 0; i < n; i++) {
            bool is_in = i >= n_out;
            uint16_t flags = (uint16_t)((is_in ? LVIO_VIRTQ_DESC_F_WRITE : 0) |
                                        (i + 1 < n ? LVIO_VIRTQ_DESC_F_NEXT : 0));
            lvio_vq_set_desc(vq, d, is_in ? &in[i - n_out] : &out[i], flags);
            d = vq->shadow[d].next;
        }
    }
    vq->free_head = d;
    vq->num_free = (uint16_t)(vq->num_free - ndesc);
    vq->head[head] = (struct lvio_vq_head){token, writable, (uint16_t)ndesc, (uint16_t)n};
    vq->avail->ring[vq->avail_idx & (vq->size - 1)] = lvio_cpu_to_dev16(vq->dev, head);
    /* The descriptors (and table) and the ring entry before the index
     * that publishes them. */
    lvio_wmb();
    vq->avail_idx++;
    *(volatile lvio_le16 *)&vq->avail->idx = lvio_cpu_to_dev16(vq->dev, vq->avail_idx);
    return LVIO_OK;
}

/*
 * With EVENT_IDX: does the device want a notification now that the avail
 * index went from `old` to `new`, having asked for one when it reaches
 * `event` + 1? (2.7.10.1; wrap-safe in 16 bits: true when event lies in
 * [old, new).)
 */
static bool lvio_vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

int lvio_vq_kick(struct lvio_virtqueue *vq)
{
    if (!vq || !vq->dev || !vq->used)
        return LVIO_E_INVAL;
    if (vq->broken)
        return vq->broken;
    if (vq->kicked_idx == vq->avail_idx)
        return LVIO_OK;
    /* Our avail idx store must be visible before we read what the device
     * asked for (its flags, or its avail_event): otherwise both sides can
     * decide the other will act, and nobody does. The same full barrier
     * puts the ring before the notify register write below: it is the only
     * barrier a notify needs, and the transports add none. */
    lvio_mb();
    uint16_t old_idx = vq->kicked_idx;
    bool need;
    if (vq->event_idx) {
        volatile lvio_le16 *avail_event = (volatile lvio_le16 *)&vq->used->ring[vq->size];
        need = lvio_vq_need_event(lvio_dev16_to_cpu(vq->dev, *avail_event), vq->avail_idx,
                                  old_idx);
    } else {
        uint16_t flags = lvio_dev16_to_cpu(vq->dev, *(volatile lvio_le16 *)&vq->used->flags);
        need = !(flags & LVIO_VIRTQ_USED_F_NO_NOTIFY);
    }
    vq->kicked_idx = vq->avail_idx;
    if (!need) {
        vq->kicks_saved++;
        return LVIO_OK;
    }
    if (vq->dev->trace)
        lvio_trace_emit(vq->dev, LVIO_TRACE_NOTIFY, 0, vq->avail_idx, vq->index, 0, 0);
    vq->dev->ops->notify(vq->dev, vq->index, vq->notify_off);
    vq->kicks++;
    return LVIO_OK;
}

/* Tell the device, with EVENT_IDX, to notify when it uses the entry after
 * the ones we consumed. */
static void lvio_vq_write_used_event(struct lvio_virtqueue *vq)
{
    volatile lvio_le16 *used_event = (volatile lvio_le16 *)&vq->avail->ring[vq->size];
    *used_event = lvio_cpu_to_dev16(vq->dev, vq->last_used);
}

void lvio_vq_disable_cb(struct lvio_virtqueue *vq)
{
    if (!vq || !vq->avail || vq->cb_off)
        return;
    vq->cb_off = true;
    /* With EVENT_IDX, used_event is simply no longer moved on: the device
     * notifies once more at most, when it passes the old value. */
    if (!vq->event_idx)
        *(volatile lvio_le16 *)&vq->avail->flags =
            lvio_cpu_to_dev16(vq->dev, LVIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
}

bool lvio_vq_enable_cb(struct lvio_virtqueue *vq)
{
    if (!vq || !vq->avail || vq->broken)
        return false;
    vq->cb_off = false;
    if (vq->event_idx)
        lvio_vq_write_used_event(vq);
    else
        *(volatile lvio_le16 *)&vq->avail->flags = 0;
    /* The request must be visible before we look at the used index again:
     * a completion the device made before seeing it is found here, one it
     * made after will be notified. */
    lvio_mb();
    uint16_t used_idx = lvio_dev16_to_cpu(vq->dev, *(volatile lvio_le16 *)&vq->used->idx);
    return used_idx != vq->last_used;
}

/* Return chain `head` to the free list, following only our shadow links. */
static void lvio_vq_free_chain(struct lvio_virtqueue *vq, uint16_t head)
{
    uint16_t last = head;
    for (uint16_t i = 1; i < vq->head[head].ndesc; i++)
        last = vq->shadow[last].next;
    vq->shadow[last].next = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + vq->head[head].ndesc);
    vq->head[head].ndesc = 0;
    vq->head[head].token = NULL;
}

int lvio_vq_get(struct lvio_virtqueue *vq, void **token, uint32_t *len)
{
    if (!vq || !vq->dev)
        return LVIO_E_INVAL;
    if (vq->broken)
        return vq->broken;
    uint16_t used_idx = lvio_dev16_to_cpu(vq->dev, *(volatile lvio_le16 *)&vq->used->idx);
    if (used_idx == vq->last_used)
        return 0;
    uint16_t pending = (uint16_t)(vq->avail_idx - vq->last_used);
    if ((uint16_t)(used_idx - vq->last_used) > pending)
        return lvio_vq_break(vq, "used idx ran ahead of avail idx (used, avail)",
                             used_idx, vq->avail_idx);
    /* The index before the entry it covers. */
    lvio_rmb();
    /* Each field read once, into a local, through volatile: the device may
     * rewrite the entry at any time, and only what was checked is used. */
    volatile struct lvio_virtq_used_elem *e = &vq->used->ring[vq->last_used & (vq->size - 1)];
    uint32_t id = lvio_dev32_to_cpu(vq->dev, e->id);
    uint32_t n = lvio_dev32_to_cpu(vq->dev, e->len);
    if (id >= vq->size)
        return lvio_vq_break(vq, "used id out of range (id, queue size)", id, vq->size);
    if (vq->head[id].ndesc == 0)
        return lvio_vq_break(vq, "used id is not a chain in flight (id, used idx)", id,
                             vq->last_used);
    if (n > vq->head[id].writable) {
        /* A chain the device only reads has no length to report, but
         * QEMU's input status queue reports the bytes it read: clamped to
         * 0 and counted, said only at debug level. */
        lvio_log(vq->dev, vq->head[id].writable ? LVIO_LOG_WARN : LVIO_LOG_DEBUG,
                 "queue %u: used len %u > %u offered, clamped", vq->index, n,
                 vq->head[id].writable);
        n = vq->head[id].writable;
        vq->clamped++;
    }
    if (token)
        *token = vq->head[id].token;
    if (len)
        *len = n;
    lvio_vq_free_chain(vq, (uint16_t)id);
    vq->last_used++;
    vq->completions++;
    if (vq->event_idx && !vq->cb_off)
        lvio_vq_write_used_event(vq);
    if (vq->dev->trace)
        lvio_trace_emit(vq->dev, LVIO_TRACE_COMPLETE, 0, 0, vq->index, id, n);
    return 1;
}

int lvio_vq_timeout(struct lvio_virtqueue *vq, const struct lvio_deadline *d,
                    const char *what)
{
    uint16_t used_idx = lvio_dev16_to_cpu(vq->dev, *(volatile lvio_le16 *)&vq->used->idx);
    return lvio_fail(vq->dev, LVIO_E_TIMEOUT,
                     "%squeue %u: no completion after %llu us (avail idx %u, used idx %u, "
                     "last seen %u, in flight %u)%s",
                     what, vq->index,
                     (unsigned long long)lvio_div64(lvio_deadline_elapsed(d, vq->dev->hal), 1000),
                     vq->avail_idx, used_idx, vq->last_used, lvio_vq_in_flight(vq),
                     lvio_deadline_why(d));
}

int lvio_vq_wait(struct lvio_virtqueue *vq, uint64_t timeout_ns, void **token,
                 uint32_t *len)
{
    struct lvio_deadline d;
    if (!vq || !vq->dev)
        return LVIO_E_INVAL;
    if (vq->broken)
        return vq->broken;
    lvio_deadline_start(&d, vq->dev->hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        int r = lvio_vq_get(vq, token, len);
        if (r != 0)
            return r == 1 ? LVIO_OK : r;
        if (polls % LVIO_STATUS_CHECK_INTERVAL == 0 && lvio_device_check(vq->dev))
            return LVIO_E_NEEDS_RESET;
        if (lvio_deadline_passed(&d, vq->dev->hal))
            break;
    }
    int r = lvio_vq_get(vq, token, len); /* it may have come as time ran out */
    if (r != 0)
        return r == 1 ? LVIO_OK : r;
    if (lvio_device_check(vq->dev))
        return LVIO_E_NEEDS_RESET;
    return lvio_vq_timeout(vq, &d, "");
}

unsigned lvio_vq_num_free(const struct lvio_virtqueue *vq)
{
    return vq ? vq->num_free : 0;
}

unsigned lvio_vq_in_flight(const struct lvio_virtqueue *vq)
{
    return vq ? (uint16_t)(vq->avail_idx - vq->last_used) : 0;
}
