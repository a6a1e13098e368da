/*
 * The request engine (include/lvio/request.h): slots in DMA pages the
 * driver owns, batches under one kick, one deadline per wait, lost slots
 * kept until the device gives them back.
 *
 * Ownership: a slot's bytes belong to the device from submit until its
 * completion is taken off the queue (a LOST slot's until then too, and
 * what it holds); the engine itself never reads or writes them. Tokens on
 * the queue are pointers to our own slot records, checked to be ours.
 */
#include "lvio/request.h"
#include "internal.h"

/* Most bytes of slots one engine takes (a bound that keeps the sizes in
 * 32 bits; real drivers use a few pages). */
#define LVIO_REQS_MAX_BYTES (64u << 20)

static bool lvio_reqs_ready(const struct lvio_reqs *r)
{
    return r && r->mem && lvio_device_valid(r->dev);
}

static int lvio_reqs_check_layout(unsigned nslots, uint32_t slot_size, uint32_t resp_off)
{
    if (nslots == 0 || slot_size == 0 || resp_off > slot_size || slot_size % 8 ||
        resp_off % 8 || (uint64_t)nslots * slot_size > LVIO_REQS_MAX_BYTES)
        return LVIO_E_INVAL;
    return LVIO_OK;
}

int lvio_reqs_init(struct lvio_reqs *r, struct lvio_device *dev, struct lvio_virtqueue *vq,
                   struct lvio_req_slot *slots, unsigned nslots, uint32_t slot_size,
                   uint32_t resp_off)
{
    if (!r || !vq || !slots || !lvio_device_valid(dev) ||
        lvio_reqs_check_layout(nslots, slot_size, resp_off))
        return LVIO_E_INVAL;
    char what[48];
    uint32_t pages = (nslots * slot_size + LVIO_PAGE_SIZE - 1) / LVIO_PAGE_SIZE;
    void *mem;
    memset(r, 0, sizeof *r);
    memset(slots, 0, nslots * sizeof *slots);
    lvio_snprintf(what, sizeof what, "%u %s request slots", nslots,
                  lvio_device_type_name(dev->device_id));
    int err = lvio_dma_take(dev, pages, &mem, &r->mem_addr, what);
    if (err)
        return err;
    r->mem = mem;
    r->dev = dev;
    r->vq = vq;
    r->slots = slots;
    r->nslots = nslots;
    r->slot_size = slot_size;
    r->resp_off = resp_off;
    r->pages = pages;
    return LVIO_OK;
}

/* Slot `s` may be read by the device no more: free, and what it held
 * released (which may hand it to another lost slot). */
static void lvio_reqs_free_lost(struct lvio_reqs *r, struct lvio_req_slot *s)
{
    void *held = s->held;
    s->held = NULL;
    s->state = LVIO_REQ_FREE;
    if (held && r->release)
        r->release(r->release_ctx, held);
}

void lvio_reqs_teardown(struct lvio_reqs *r)
{
    if (!r || !r->mem)
        return;
    /* Each slot is freed before its release is called, and a release
     * hands what it held on only to a slot still lost (one this loop has
     * yet to free): everything held is released once. */
    for (unsigned i = 0; i < r->nslots; i++)
        lvio_reqs_free_lost(r, &r->slots[i]);
    lvio_dma_give_back(r->dev, r->mem, r->pages, r->mem_addr);
    r->mem = NULL;
}

unsigned lvio_reqs_count(const struct lvio_reqs *r, enum lvio_req_state state)
{
    unsigned n = 0;
    for (unsigned i = 0; r && r->slots && i < r->nslots; i++)
        n += r->slots[i].state == state;
    return n;
}

/* A completion: `token` is one of our slot records (the queue only gives
 * back tokens of chains in flight, which are ours); `overlong` when the
 * queue clamped its length. Returns 1 when a request is answered, 0 for a
 * lost one given back. */
static int lvio_reqs_complete(struct lvio_reqs *r, void *token, uint32_t len, bool overlong)
{
    struct lvio_req_slot *s = token;
    if (s < r->slots || s >= r->slots + r->nslots)
        return 0; /* not ours: cannot be, the queue validates ids */
    if (s->state == LVIO_REQ_LOST) {
        lvio_reqs_free_lost(r, s);
        return 0;
    }
    s->state = LVIO_REQ_DONE;
    s->len = len; /* the queue clamped it to what the chain offered */
    s->overlong = overlong;
    s->seq = r->seq++;
    return 1;
}

int lvio_reqs_reap(struct lvio_reqs *r)
{
    void *token;
    uint32_t len;
    int got, done = 0;
    if (!lvio_reqs_ready(r))
        return LVIO_E_INVAL;
    uint64_t clamped = r->vq->clamped;
    while ((got = lvio_vq_get(r->vq, &token, &len)) == 1) {
        done += lvio_reqs_complete(r, token, len, r->vq->clamped != clamped);
        clamped = r->vq->clamped;
    }
    return got < 0 ? got : done;
}

int lvio_reqs_next_done(const struct lvio_reqs *r)
{
    int first = -1;
    uint32_t oldest = 0;
    for (unsigned i = 0; r && r->slots && i < r->nslots; i++) {
        const struct lvio_req_slot *s = &r->slots[i];
        uint32_t age = r->seq - s->seq; /* wrap-safe: older is larger */
        if (s->state == LVIO_REQ_DONE && (first < 0 || age > oldest)) {
            first = (int)i;
            oldest = age;
        }
    }
    return first;
}

void lvio_reqs_put(struct lvio_reqs *r, unsigned slot)
{
    if (r && r->slots && slot < r->nslots && r->slots[slot].state == LVIO_REQ_DONE)
        r->slots[slot].state = LVIO_REQ_FREE;
}

int lvio_reqs_alloc(struct lvio_reqs *r, unsigned *slots, unsigned n)
{
    unsigned got = 0;
    if (!lvio_reqs_ready(r) || !slots || n == 0 || n > r->nslots)
        return LVIO_E_INVAL;
    int err = lvio_reqs_reap(r);
    if (err < 0)
        return err;
    for (unsigned i = 0; i < r->nslots && got < n; i++)
        if (r->slots[i].state == LVIO_REQ_FREE)
            slots[got++] = i;
    if (got == n)
        return LVIO_OK;
    return lvio_fail(r->dev, LVIO_E_AGAIN,
                     "queue %u: %u request slot(s) wanted, %u of %u free (%u held by "
                     "requests that timed out)",
                     r->vq->index, n, got, r->nslots, lvio_reqs_count(r, LVIO_REQ_LOST));
}

/* Buffers request `q` makes a chain of, into sg[0..*n_out) (the device
 * reads them) and sg[*n_out..*n_out + *n_in) (it writes them). The batch
 * check made sure they fit LVIO_REQ_MAX_BUFS. */
static void lvio_reqs_chain(const struct lvio_reqs *r, const struct lvio_req *q,
                            struct lvio_sg *sg, unsigned *n_out, unsigned *n_in)
{
    uint64_t addr = lvio_req_addr(r, q->slot);
    unsigned n = 0;
    if (q->req_len)
        sg[n++] = (struct lvio_sg){addr, q->req_len};
    if (q->out.len)
        sg[n++] = q->out;
    for (unsigned i = 0; i < q->n_outs; i++)
        sg[n++] = q->outs[i];
    *n_out = n;
    for (unsigned i = 0; i < q->n_ins; i++)
        sg[n++] = q->ins[i];
    if (q->in.len)
        sg[n++] = q->in;
    if (q->resp_len)
        sg[n++] = (struct lvio_sg){addr + r->resp_off, q->resp_len};
    *n_in = n - *n_out;
}

/* A list of `n` buffers, each at least a byte long; their bytes added to
 * *bytes. */
static bool lvio_reqs_list_ok(const struct lvio_sg *list, unsigned n, uint64_t *bytes)
{
    if (n && !list)
        return false;
    for (unsigned i = 0; i < n; i++) {
        if (list[i].len == 0)
            return false;
        *bytes += list[i].len;
    }
    return true;
}

/* Request `q` names a free slot, lengths within it, lists that fit one
 * chain (and the queue, were it empty), and at most UINT32_MAX bytes for the device to write; its
 * buffers into *nbufs. */
static bool lvio_reqs_check_one(const struct lvio_reqs *r, const struct lvio_req *q,
                                unsigned *nbufs)
{
    uint64_t out_bytes = 0, in_bytes = (uint64_t)q->in.len + q->resp_len;
    if (q->n_outs > LVIO_REQ_MAX_BUFS || q->n_ins > LVIO_REQ_MAX_BUFS)
        return false;
    *nbufs = (q->req_len != 0) + (q->out.len != 0) + q->n_outs + q->n_ins + (q->in.len != 0) +
             (q->resp_len != 0);
    return q->slot < r->nslots && r->slots[q->slot].state == LVIO_REQ_FREE && *nbufs != 0 &&
           *nbufs <= LVIO_REQ_MAX_BUFS && lvio_vq_descs(r->vq, *nbufs) <= r->vq->size &&
           q->req_len <= r->resp_off &&
           q->resp_len <= r->slot_size - r->resp_off &&
           lvio_reqs_list_ok(q->outs, q->n_outs, &out_bytes) &&
           lvio_reqs_list_ok(q->ins, q->n_ins, &in_bytes) && in_bytes <= UINT32_MAX;
}

/* Every request names a free slot once, lengths within it; the ring
 * descriptors they take all together into *need. */
static int lvio_reqs_check_batch(const struct lvio_reqs *r, const struct lvio_req *batch,
                                 unsigned n, unsigned *need)
{
    *need = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned nbufs;
        if (!lvio_reqs_check_one(r, &batch[i], &nbufs))
            return LVIO_E_INVAL;
        for (unsigned j = 0; j < i; j++)
            if (batch[j].slot == batch[i].slot)
                return LVIO_E_INVAL;
        *need += lvio_vq_descs(r->vq, nbufs);
    }
    return LVIO_OK;
}

/* Whole or nothing: the batch fits the descriptors the queue has free. */
static int lvio_reqs_fits(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n)
{
    unsigned need;
    int err = lvio_reqs_reap(r); /* a lost request given back frees descriptors */
    if (err < 0)
        return err;
    if (lvio_reqs_check_batch(r, batch, n, &need))
        return LVIO_E_INVAL;
    unsigned free_desc = lvio_vq_num_free(r->vq);
    if (need <= free_desc)
        return LVIO_OK;
    return lvio_fail(r->dev, LVIO_E_AGAIN,
                     "queue %u has %u free descriptors, the batch needs %u (%u are still "
                     "with the device for requests not answered or timed out)",
                     r->vq->index, free_desc, need, r->vq->size - free_desc);
}

/* The batch on the queue, then one kick if `kick`. */
static int lvio_reqs_send(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n,
                          bool kick)
{
    unsigned added = 0;
    if (!lvio_reqs_ready(r) || !batch || n == 0 || n > r->nslots)
        return LVIO_E_INVAL;
    int err = lvio_reqs_fits(r, batch, n);
    for (; err == LVIO_OK && added < n; added++) {
        struct lvio_sg sg[LVIO_REQ_MAX_BUFS];
        unsigned n_out, n_in;
        const struct lvio_req *q = &batch[added];
        struct lvio_req_slot *s = &r->slots[q->slot];
        lvio_reqs_chain(r, q, sg, &n_out, &n_in);
        err = lvio_vq_add(r->vq, sg, n_out, sg + n_out, n_in, s);
        if (err)
            break; /* only a broken queue: the check above counted */
        s->state = LVIO_REQ_BUSY;
        s->resp_len = 0;
        for (unsigned i = n_out; i < n_out + n_in; i++)
            s->resp_len += sg[i].len; /* fits: the check summed them */
        s->len = 0;
    }
    if (added == 0)
        return err;
    r->requests += added;
    r->batches++;
    int kicked = kick ? lvio_vq_kick(r->vq) : LVIO_OK;
    if (!err && !kicked)
        return LVIO_OK;
    /* Out, but the batch failed: nobody will wait for what went. */
    for (unsigned i = 0; i < added; i++)
        r->slots[batch[i].slot].state = LVIO_REQ_LOST;
    return err ? err : kicked;
}

int lvio_reqs_submit(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n)
{
    return lvio_reqs_send(r, batch, n, true);
}

int lvio_reqs_add(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n)
{
    return lvio_reqs_send(r, batch, n, false);
}

/* Requests of the batch still with the device. */
static unsigned lvio_reqs_pending(const struct lvio_reqs *r, const struct lvio_req *batch,
                                  unsigned n)
{
    unsigned busy = 0;
    for (unsigned i = 0; i < n; i++)
        busy += r->slots[batch[i].slot].state == LVIO_REQ_BUSY;
    return busy;
}

/* The wait ended with `err`: the requests not answered are lost; the
 * message names the first of them, then says why (for a timeout, the
 * queue's state after deadline `d`). */
static int lvio_reqs_unanswered(struct lvio_reqs *r, const struct lvio_req *batch,
                                unsigned n, int err, const struct lvio_deadline *d)
{
    char what[64], why[LVIO_ERRMSG_SIZE];
    unsigned stuck = n;
    for (unsigned i = 0; i < n; i++) {
        struct lvio_req_slot *s = &r->slots[batch[i].slot];
        if (s->state != LVIO_REQ_BUSY)
            continue;
        s->state = LVIO_REQ_LOST;
        r->lost++;
        if (stuck == n)
            stuck = i;
    }
    lvio_snprintf(what, sizeof what, "request %u of %u (slot %u): ", stuck + 1, n,
                  batch[stuck < n ? stuck : 0].slot);
    if (err == LVIO_E_TIMEOUT)
        return lvio_vq_timeout(r->vq, d, what);
    lvio_snprintf(why, sizeof why, "%s", r->dev->errmsg);
    return lvio_fail(r->dev, err, "%s%s", what, why);
}

static int lvio_reqs_check_wait(const struct lvio_reqs *r, const struct lvio_req *batch,
                                unsigned n)
{
    if (!lvio_reqs_ready(r) || !batch || n == 0)
        return LVIO_E_INVAL;
    for (unsigned i = 0; i < n; i++)
        if (batch[i].slot >= r->nslots)
            return LVIO_E_INVAL;
    return LVIO_OK;
}

/*
 * One loop, one deadline: completions are taken on every poll (also
 * those of other requests, and lost ones given back), the device's status
 * is checked now and then, and one last look is taken when time is up.
 */
int lvio_reqs_wait(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n,
                   uint64_t timeout_ns)
{
    struct lvio_deadline d;
    int err = lvio_reqs_check_wait(r, batch, n);
    if (err)
        return err;
    const struct lvio_hal *hal = r->dev->hal;
    lvio_deadline_start(&d, hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        err = lvio_reqs_reap(r);
        if (lvio_reqs_pending(r, batch, n) == 0)
            return LVIO_OK;
        if (err >= 0 && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(r->dev);
        if (err < 0)
            return lvio_reqs_unanswered(r, batch, n, err, &d);
        if (lvio_deadline_passed(&d, hal))
            break;
    }
    err = lvio_reqs_reap(r); /* it may have come as time ran out */
    if (lvio_reqs_pending(r, batch, n) == 0)
        return LVIO_OK;
    if (err >= 0)
        err = lvio_device_check(r->dev);
    return lvio_reqs_unanswered(r, batch, n, err < 0 ? err : LVIO_E_TIMEOUT, &d);
}
