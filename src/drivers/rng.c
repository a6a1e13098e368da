/*
 * virtio-rng driver (VIRTIO 1.2, 5.4).
 *
 * The driver's LVIO_RNG_SLOTS request buffers live in one DMA page of the
 * request engine (lvio/request.h): each request is one writable buffer,
 * the whole slot at most. A slot belongs to the device from submit until
 * its completion is taken; only then are its bytes copied out (and wiped
 * from the page). A read that ends leaves the slots still with the device
 * BUSY and the answered ones it did not need DONE: the next read takes
 * those first.
 */
#include "lvio/config.h"
#if LVIO_WITH_RNG /* else left out: lvio/config.h */

#include "lvio/rng.h"
#include "../core/internal.h"

#define RNG_QUEUE 0

int lvio_rng_init(struct lvio_rng *rng, struct lvio_device *dev)
{
    if (!rng || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_RNG)
        return lvio_fail(dev, LVIO_E_INVAL, "rng: device id %u is not an rng", dev->device_id);
    memset(rng, 0, sizeof *rng);
    rng->dev = dev;
    int err = lvio_device_begin(dev, 0);
    if (err)
        return err;
    /* Writable buffers only: no request part, the response is the slot. */
    err = lvio_reqs_init(&rng->reqs, dev, &rng->vq, rng->slots, LVIO_RNG_SLOTS,
                         LVIO_RNG_SLOT_SIZE, 0);
    if (err)
        goto fail;
    err = lvio_vq_setup(&rng->vq, dev, RNG_QUEUE, LVIO_RNG_SLOTS);
    if (err)
        goto free_slots;
    err = lvio_device_driver_ok(dev);
    if (err)
        goto teardown_queue;
    return LVIO_OK;

teardown_queue:
    err = lvio_device_reset_after(dev, err); /* the device lets go of the ring first */
    lvio_vq_teardown(&rng->vq);
free_slots:
    lvio_reqs_teardown(&rng->reqs);
fail:
    lvio_device_fail(dev);
    return err;
}

/* Offer free slots to the device, in one batch, until `want` bytes are
 * requested (counting those of requests still out). */
static int rng_submit(struct lvio_rng *rng, uint32_t want)
{
    struct lvio_req batch[LVIO_RNG_SLOTS];
    unsigned slots[LVIO_RNG_SLOTS], n = 0;
    uint32_t pending = 0;
    for (unsigned s = 0; s < LVIO_RNG_SLOTS; s++)
        if (rng->slots[s].state == LVIO_REQ_BUSY)
            pending += rng->slots[s].resp_len;
    /* A request takes a descriptor: a queue smaller than LVIO_RNG_SLOTS
     * may be full of them before the slots are. */
    unsigned room = lvio_reqs_count(&rng->reqs, LVIO_REQ_FREE);
    if (room > lvio_vq_num_free(&rng->vq))
        room = lvio_vq_num_free(&rng->vq);
    for (; n < room && pending < want; n++) {
        uint32_t len = want - pending < LVIO_RNG_SLOT_SIZE ? want - pending : LVIO_RNG_SLOT_SIZE;
        batch[n] = (struct lvio_req){.resp_len = len};
        pending += len;
    }
    if (n == 0)
        return LVIO_OK;
    int err = lvio_reqs_alloc(&rng->reqs, slots, n);
    for (unsigned i = 0; i < n; i++)
        batch[i].slot = slots[i];
    if (err == LVIO_OK)
        err = lvio_reqs_submit(&rng->reqs, batch, n);
    rng->requests = rng->reqs.requests;
    return err;
}

/* The answered slots' bytes, in the order the device answered, into
 * out[*got, len): each slot's bytes copied as far as the caller needs
 * them, then wiped (entropy handed out is not left lying around), and
 * the slot freed. */
static void rng_take(struct lvio_rng *rng, uint8_t *out, size_t len, size_t *got)
{
    int s;
    while (*got < len && (s = lvio_reqs_next_done(&rng->reqs)) >= 0) {
        uint32_t n = rng->slots[s].len;
        uint8_t *src = lvio_req_resp(&rng->reqs, (unsigned)s);
        size_t take = len - *got < n ? len - *got : n;
        memcpy(out + *got, src, take);
        memset(src, 0, n);
        *got += take;
        rng->bytes += n;
        rng->empty += n == 0;
        lvio_reqs_put(&rng->reqs, (unsigned)s);
    }
}

int lvio_rng_poll(struct lvio_rng *rng)
{
    uint32_t ready = 0;
    if (!rng || !lvio_device_valid(rng->dev) || !rng->reqs.mem)
        return LVIO_E_INVAL;
    int r = lvio_reqs_reap(&rng->reqs);
    if (r < 0)
        return r;
    for (unsigned s = 0; s < LVIO_RNG_SLOTS; s++)
        if (rng->slots[s].state == LVIO_REQ_DONE)
            ready += rng->slots[s].len;
    return (int)ready;
}

/* Nothing came within the time: say why, by what the device did. */
static int rng_out_of_time(struct lvio_rng *rng, const struct lvio_deadline *d,
                           uint64_t empty)
{
    struct lvio_device *dev = rng->dev;
    if (d->timeout == 0)
        return LVIO_E_AGAIN;
    int err = lvio_device_check(dev);
    if (err)
        return err;
    if (empty == 0)
        return lvio_vq_timeout(&rng->vq, d, "");
    return lvio_fail(dev, LVIO_E_TIMEOUT,
                     "rng: no entropy after %llu us: the device answered %llu requests with "
                     "0 bytes%s",
                     (unsigned long long)lvio_div64(lvio_deadline_elapsed(d, dev->hal), 1000),
                     (unsigned long long)empty, lvio_deadline_why(d));
}

/*
 * One loop, one deadline: completions are collected and slots offered
 * again on every poll, so a device that answers at once with 0 bytes is
 * bounded like a silent one (by the clock, or by the polls of a clock that
 * stands still). Nothing is logged when some bytes came: a short read is
 * a success.
 */
int lvio_rng_read(struct lvio_rng *rng, void *buf, size_t len,
                  uint64_t timeout_ns)
{
    struct lvio_deadline d;
    size_t got = 0;
    if (!rng || !lvio_device_valid(rng->dev) || !rng->reqs.mem || (!buf && len) ||
        len > INT32_MAX)
        return LVIO_E_INVAL;
    if (len == 0)
        return 0;
    uint64_t empty = rng->empty;
    lvio_deadline_start(&d, rng->dev->hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        int err = lvio_reqs_reap(&rng->reqs);
        rng_take(rng, buf, len, &got);
        if (err >= 0 && got < len)
            err = rng_submit(rng, (uint32_t)(len - got));
        if (err >= 0 && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(rng->dev);
        if (err < 0 || got == len)
            return got ? (int)got : err;
        if (lvio_deadline_passed(&d, rng->dev->hal))
            break;
    }
    int err = lvio_reqs_reap(&rng->reqs); /* it may have come as time ran out */
    rng_take(rng, buf, len, &got);
    if (got)
        return (int)got;
    if (err < 0)
        return err;
    return rng_out_of_time(rng, &d, rng->empty - empty);
}

int lvio_rng_reset(struct lvio_rng *rng)
{
    if (!rng || !rng->dev)
        return LVIO_E_INVAL;
    struct lvio_device *dev = rng->dev;
    lvio_rng_teardown(rng);
    return lvio_rng_init(rng, dev);
}

void lvio_rng_teardown(struct lvio_rng *rng)
{
    if (!rng || !rng->dev)
        return;
    lvio_device_reset(rng->dev);
    lvio_vq_teardown(&rng->vq);
    lvio_reqs_teardown(&rng->reqs);
    rng->dev = NULL;
}

#else
typedef int lvio_rng_left_out; /* ISO C wants a declaration */
#endif
