/*
 * fuzz_virtqueue: one split virtqueue, set up on a device whose registers
 * accept everything, driven by a sequence of operations taken from the
 * input: driver calls (add, kick, get, wait) interleaved with device acts
 * (serve a chain, hold it, complete out of order, made-up used entries,
 * used idx jumps, flags, scribbles over the driver's ring memory).
 *
 * Checked after every step:
 *   - num_free + descriptors of the chains in flight == queue size, and
 *     in_flight == chains in flight;
 *   - add returns exactly what its arguments and the free count call for,
 *     and the chain the device then sees is exactly the buffers given;
 *   - a token comes back only if it was added, and only once; its length is
 *     at most what the chain offered, and exactly what the device reported
 *     when that was no more;
 *   - once a call returned LVIO_E_BROKEN, every add/kick/get/wait returns
 *     LVIO_E_BROKEN at once: no register access, no wait, no ring change;
 *   - a wait ends (whatever its timeout, up to UINT64_MAX, and whatever the
 *     clock does: fuzz_dev.h), and does not time out before its time has
 *     passed by a clock that runs.
 *
 * Input: the common header (fuzz_dev.h), wanted features (8 bytes),
 * QueueNumMax ^ 256 (2), max_size (2), then operations until the input ends
 * (a wait's timeout: one byte, fz_timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_ring.h"

#define MAX_STEPS 400
#define BUF_PAGES 16
#define MAX_TOKENS 256
#define MAX_SG 6

struct inflight {
    uintptr_t token;   /* 0: slot unused */
    uint32_t writable;
    uint16_t ndesc;
    int head;          /* as the device saw it, -1 unknown */
};

struct vq_fuzz {
    struct fz f;
    struct lvio_device dev;
    struct lvio_virtqueue vq;
    uint64_t buf_dev;
    struct inflight fl[MAX_TOKENS];
    unsigned nfl;
    uintptr_t next_token;
    bool broken;
    /* what the device reported for each head it served (not lied about) */
    int64_t dev_len[LVIO_VQ_MAX_SIZE];
};

static struct vq_fuzz S;

/* The device's answer to a chain: fill the writable buffers, report a
 * length (exact, short, too long) or hold the chain. */
static uint32_t vq_service(struct fz *f, struct fz_chain *c)
{
    uint32_t writable = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (!c->buf[i].write)
            continue;
        writable += c->buf[i].len;
        if (c->buf[i].cpu)
            memset(c->buf[i].cpu, 0x5a, c->buf[i].len);
    }
    uint32_t len = writable;
    if (!fz_empty(&f->t)) {
        /* In 64 bits: a chain may offer up to UINT32_MAX writable bytes
         * (the library refuses more), so writable + 1 may not fit. */
        uint8_t m = fz_u8(&f->t);
        uint64_t more = (uint64_t)writable + 1;
        if ((m & 3) == 1)
            len = (uint32_t)(fz_u16(&f->t) % more);
        else if ((m & 3) == 2) {
            uint64_t over = more + fz_u16(&f->t);
            len = (uint32_t)(over > UINT32_MAX ? UINT32_MAX : over);
        }
        else if ((m & 3) == 3)
            f->hold_this = true;
    }
    if (f->empty_answers)
        len = 0; /* what fz_serve_one will report */
    if (c->queue == 0 && c->head < LVIO_VQ_MAX_SIZE)
        S.dev_len[c->head] = len;
    return len;
}

static void check_counts(void)
{
    unsigned desc = 0;
    for (unsigned i = 0; i < S.nfl; i++)
        desc += S.fl[i].ndesc;
    if (S.broken)
        return;
    if (lvio_vq_num_free(&S.vq) + desc != S.vq.size)
        fz_die("num_free %u + %u descriptors in flight != queue size %u",
               lvio_vq_num_free(&S.vq), desc, S.vq.size);
    if (lvio_vq_in_flight(&S.vq) != S.nfl)
        fz_die("in_flight %u, but %u chains were added and not returned",
               lvio_vq_in_flight(&S.vq), S.nfl);
}

/* Whatever the call was, once broken it must have failed fast. */
struct snapshot {
    uint64_t reads, writes, relax;
    uint16_t avail_idx;
};

static struct snapshot snap(void)
{
    struct snapshot s = {S.f.reg_reads, S.f.reg_writes, S.f.relax_calls, 0};
    if (S.vq.avail)
        s.avail_idx = S.vq.avail->idx;
    return s;
}

static void check_fast_fail(const char *call, int rv, struct snapshot before)
{
    if (!S.broken)
        return;
    struct snapshot after = snap();
    if (rv != LVIO_E_BROKEN)
        fz_die("%s on a broken queue returned %d, not LVIO_E_BROKEN", call, rv);
    if (after.reads != before.reads || after.writes != before.writes ||
        after.relax != before.relax || after.avail_idx != before.avail_idx)
        fz_die("%s on a broken queue touched the device (reads %llu->%llu, writes "
               "%llu->%llu, relax %llu->%llu, avail idx %u->%u)", call,
               (unsigned long long)before.reads, (unsigned long long)after.reads,
               (unsigned long long)before.writes, (unsigned long long)after.writes,
               (unsigned long long)before.relax, (unsigned long long)after.relax,
               before.avail_idx, after.avail_idx);
}

/* A chain of `n` buffers goes through an indirect table (virtqueue.h). */
static bool uses_table(unsigned n)
{
    return S.vq.indirect && n > 1 && n <= LVIO_VQ_INDIRECT_MAX;
}

/* What the device sees for the chain just added must be what was given:
 * in ring descriptors, or in the indirect table the one ring descriptor
 * names (INDIRECT, no NEXT, n * 16 bytes of the queue's own memory). */
static int verify_chain(const struct lvio_sg *out, unsigned n_out, const struct lvio_sg *in,
                        unsigned n_in)
{
    struct fz *f = &S.f;
    const struct fz_queue *q = &f->q[0];
    if (!fz_queue_live(f, 0) || q->num != S.vq.size)
        return -1;
    uint8_t *avail = fz_dev_ptr(f, q->avail, 4 + 2ull * q->num);
    uint8_t *desc = fz_dev_ptr(f, q->desc, 16ull * q->num);
    if (!avail || !desc)
        fz_die("the queue's rings are not in live DMA memory");
    uint16_t idx = (uint16_t)(avail[2] | avail[3] << 8);
    if (idx != S.vq.avail_idx)
        fz_die("avail idx in memory %u, driver's %u", idx, S.vq.avail_idx);
    unsigned slot = (uint16_t)(idx - 1) % q->num;
    uint16_t d = (uint16_t)(avail[4 + 2 * slot] | avail[5 + 2 * slot] << 8);
    int head = d;
    if (uses_table(n_out + n_in)) {
        struct lvio_virtq_desc e;
        if (d >= q->num)
            fz_die("indirect chain at descriptor %u of %u", d, q->num);
        memcpy(&e, desc + 16u * d, sizeof e);
        desc = fz_dev_ptr(f, e.addr, e.len);
        if (e.flags != LVIO_VIRTQ_DESC_F_INDIRECT || e.len != 16u * (n_out + n_in) || !desc)
            fz_die("indirect descriptor: flags %u len %u at 0x%llx, for %u buffers", e.flags,
                   e.len, (unsigned long long)e.addr, n_out + n_in);
        d = 0;
    }
    unsigned entries = uses_table(n_out + n_in) ? n_out + n_in : q->num;
    for (unsigned i = 0; i < n_out + n_in; i++) {
        const struct lvio_sg *sg = i < n_out ? &out[i] : &in[i - n_out];
        struct lvio_virtq_desc e;
        if (d >= entries)
            fz_die("chain runs to descriptor %u of %u", d, entries);
        memcpy(&e, desc + 16u * d, sizeof e);
        bool last = i + 1 == n_out + n_in;
        uint16_t want = (uint16_t)((i >= n_out ? LVIO_VIRTQ_DESC_F_WRITE : 0) |
                                   (last ? 0 : LVIO_VIRTQ_DESC_F_NEXT));
        if (e.addr != sg->addr || e.len != sg->len || e.flags != want)
            fz_die("descriptor %u of the chain: addr 0x%llx len %u flags %u, given addr 0x%llx "
                   "len %u flags %u", i, (unsigned long long)e.addr, e.len, e.flags,
                   (unsigned long long)sg->addr, sg->len, want);
        d = e.next;
    }
    return head;
}

static void op_add(void)
{
    struct fz_tape *t = &S.f.h;
    struct lvio_sg sg[2 * MAX_SG];
    uint8_t shape = fz_u8(t);
    unsigned n_out = shape % MAX_SG, n_in = (shape / MAX_SG) % MAX_SG;
    uint64_t writable = 0;
    bool zero = false;
    for (unsigned i = 0; i < n_out + n_in; i++) {
        uint32_t len = fz_u16(t) % (BUF_PAGES * LVIO_PAGE_SIZE / 4);
        uint32_t off = fz_u16(t) % (BUF_PAGES * LVIO_PAGE_SIZE - len + 1);
        sg[i] = (struct lvio_sg){S.buf_dev + off, len};
        zero |= len == 0;
        if (i >= n_out)
            writable += len;
    }
    unsigned n = n_out + n_in;
    uintptr_t token = ++S.next_token;
    struct snapshot before = snap();
    unsigned free_before = lvio_vq_num_free(&S.vq);
    fz_call(&S.f, "lvio_vq_add");
    int rv = lvio_vq_add(&S.vq, sg, n_out, sg + n_out, n_in, (void *)token);
    check_fast_fail("lvio_vq_add", rv, before);
    if (S.broken)
        return;
    int want = LVIO_OK;
    unsigned ndesc = uses_table(n) ? 1 : n;
    if (n == 0 || zero || (n > S.vq.size && !uses_table(n)))
        want = LVIO_E_INVAL;
    else if (ndesc > free_before)
        want = LVIO_E_NOSPC;
    if (rv != want)
        fz_die("lvio_vq_add(%u out, %u in) with %u free of %u returned %d, expected %d",
               n_out, n_in, free_before, S.vq.size, rv, want);
    if (rv != LVIO_OK)
        return;
    if (S.nfl == MAX_TOKENS)
        fz_die("more chains in flight than the harness can track");
    int head = verify_chain(sg, n_out, sg + n_out, n_in);
    if (head >= 0)
        S.dev_len[head] = -1;
    S.fl[S.nfl++] = (struct inflight){token, (uint32_t)writable, (uint16_t)ndesc, head};
}

/* A completion came back: it must be one of ours, once, within bounds. */
static void completed(void *token, uint32_t len)
{
    for (unsigned i = 0; i < S.nfl; i++) {
        struct inflight *e = &S.fl[i];
        if (e->token != (uintptr_t)token)
            continue;
        if (len > e->writable)
            fz_die("completion of %u bytes for a chain offering %u", len, e->writable);
        if (e->head >= 0 && !S.f.lied && S.dev_len[e->head] >= 0) {
            uint64_t want = (uint64_t)S.dev_len[e->head];
            if (want > e->writable)
                want = e->writable;
            if (len != want)
                fz_die("completion length %u, device reported %lld (chain offers %u)", len,
                       (long long)S.dev_len[e->head], e->writable);
        }
        *e = S.fl[--S.nfl];
        return;
    }
    fz_die("completion with token %p, which is not in flight", token);
}

static void got(const char *call, int rv, int ok, void *token, uint32_t len)
{
    if (rv == ok) {
        completed(token, len);
        return;
    }
    if (rv == LVIO_E_BROKEN) {
        S.broken = true;
        return;
    }
    if (rv == 0 && ok == 1)
        return; /* get: nothing yet */
    if (ok == LVIO_OK && (rv == LVIO_E_TIMEOUT || rv == LVIO_E_NEEDS_RESET))
        return; /* wait */
    fz_die("%s returned %d", call, rv);
}

static void op_get(void)
{
    void *token = NULL;
    uint32_t len = 0;
    struct snapshot before = snap();
    fz_call(&S.f, "lvio_vq_get");
    int rv = lvio_vq_get(&S.vq, &token, &len);
    check_fast_fail("lvio_vq_get", rv, before);
    got("lvio_vq_get", rv, 1, token, len);
}

static void op_wait(void)
{
    void *token = NULL;
    uint32_t len = 0;
    uint64_t timeout = fz_timeout(fz_u8(&S.f.h), 16);
    struct snapshot before = snap();
    fz_call(&S.f, "lvio_vq_wait");
    int rv = lvio_vq_wait(&S.vq, timeout, &token, &len);
    check_fast_fail("lvio_vq_wait", rv, before);
    fz_check_waited(&S.f, rv, timeout);
    got("lvio_vq_wait", rv, LVIO_OK, token, len);
}

static void op_kick(void)
{
    struct snapshot before = snap();
    fz_call(&S.f, "lvio_vq_kick");
    int rv = lvio_vq_kick(&S.vq);
    check_fast_fail("lvio_vq_kick", rv, before);
    if (!S.broken && rv != LVIO_OK)
        fz_die("lvio_vq_kick returned %d", rv);
}

static void trace(void *ctx, const struct lvio_trace_event *ev)
{
    (void)ctx;
    if (ev->kind == LVIO_TRACE_COMPLETE && ev->queue != 0)
        fz_die("completion traced on queue %u", ev->queue);
}

static void run_ops(void)
{
    bool dumped = false;
    for (unsigned step = 0; step < MAX_STEPS && !fz_empty(&S.f.h); step++) {
        uint8_t op = fz_u8(&S.f.h);
        switch (op % 8) {
        case 0: case 1: op_add(); break;
        case 2: op_kick(); break;
        case 3: op_get(); break;
        case 4: op_wait(); break;
        case 5: case 6:
            fz_call(&S.f, "(the device, between calls)");
            fz_device_step(&S.f);
            break;
        default:
            /* A dump formats a dozen lines, which under comparison tracing
             * costs more than all the other calls of an input: one op in
             * 256 dumps (its figures only read what the ring keeps), and
             * only the first such op of an input (a fuzzer likes 0xff). */
            fz_call(&S.f, "lvio_dump / lvio_device_isr");
            if (op == 0xff && !dumped) {
                dumped = true;
                lvio_dump(&S.dev);
            }
            else
                lvio_device_isr(&S.dev);
            break;
        }
        check_counts();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_CONSOLE);
    /* Offer the ring features: INDIRECT_DESC and EVENT_IDX, which the
     * driver takes unless refused, and RING_PACKED, which it must never
     * take. The harness's tape says which are offered and refused. */
    uint64_t ring = (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) | (1ull << LVIO_VIRTIO_F_EVENT_IDX);
    uint8_t rf = fz_u8(&f->h);
    f->features = (1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_F_RING_PACKED) |
                  (rf & 1 ? 0 : 1ull << LVIO_VIRTIO_F_INDIRECT_DESC) |
                  (rf & 2 ? 0 : 1ull << LVIO_VIRTIO_F_EVENT_IDX);
    uint64_t refused = (rf & 4 ? 1ull << LVIO_VIRTIO_F_INDIRECT_DESC : 0) |
                       (rf & 8 ? 1ull << LVIO_VIRTIO_F_EVENT_IDX : 0);
    uint64_t wanted = fz_u64(&f->h);
    f->q[0].num_max = 256u ^ fz_u16(&f->h);
    uint16_t max_size = fz_u16(&f->h);
    f->service = vq_service;

    if (lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, 0x200) != LVIO_OK)
        goto out;
    lvio_device_set_trace(&S.dev, trace, NULL);
    S.dev.features_refused = refused;
    fz_call(f, "lvio_device_begin");
    int rv = lvio_device_begin(&S.dev, wanted);
    FZ_EXPECT("lvio_device_begin", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_FEATURES,
              LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET);
    fz_check_waited(f, rv, 0);
    if (rv != LVIO_OK)
        goto out;
    /* What the driver read as offered may be perturbed (hostile
     * registers): judge by what it read. */
    uint64_t want_ring = S.dev.features_offered & ring & ~refused;
    if ((S.dev.features_accepted & (ring | (1ull << LVIO_VIRTIO_F_RING_PACKED))) != want_ring)
        fz_die("ring features accepted 0x%llx, offered 0x%llx, refused 0x%llx",
               (unsigned long long)S.dev.features_accepted,
               (unsigned long long)S.dev.features_offered, (unsigned long long)refused);
    fz_call(f, "lvio_vq_setup");
    rv = lvio_vq_setup(&S.vq, &S.dev, 0, max_size);
    FZ_EXPECT("lvio_vq_setup", rv, LVIO_OK, LVIO_E_QUEUE, LVIO_E_NOMEM, LVIO_E_RANGE,
              LVIO_E_DEAD);
    fz_check_waited(f, rv, 0);
    if (rv != LVIO_OK) {
        lvio_device_fail(&S.dev);
        goto out;
    }
    if (S.vq.size == 0 || (S.vq.size & (S.vq.size - 1)) || S.vq.size > LVIO_VQ_MAX_SIZE ||
        (max_size && S.vq.size > max_size))
        fz_die("queue size %u (max_size %u)", S.vq.size, max_size);
    fz_harness_dma(f, BUF_PAGES, &S.buf_dev);
    fz_call(f, "lvio_device_driver_ok");
    lvio_device_driver_ok(&S.dev);
    run_ops();
    bool up = true;
    fz_reset_teardown(&S.dev, &S.vq, &up, 1);
out:
    fz_check_errmsg(&S.dev);
    fz_finish(f);
    return 0;
}
