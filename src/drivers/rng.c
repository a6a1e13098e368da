/*
 * virtio-rng driver (VIRTIO 1.2, 5.4).
 *
 * The driver owns one DMA page split into LVIO_RNG_SLOTS request buffers.
 * A slot belongs to the device from lvio_vq_add until its completion comes
 * back; only then are its bytes copied out (and wiped from the page).
 */
#include "lvio/rng.h"
#include "../core/internal.h"

#define RNG_QUEUE 0

static void rng_free_page(struct lvio_rng *rng)
{
    if (rng->page)
        lvio_dma_give_back(rng->dev, rng->page, 1, rng->page_addr);
    rng->page = NULL;
}

static int rng_alloc_page(struct lvio_rng *rng)
{
    const struct lvio_hal *hal = rng->dev->hal;
    rng->page = hal->dma_alloc(hal->ctx, 1, &rng->page_addr);
    if (!rng->page)
        return lvio_fail(rng->dev, LVIO_E_NOMEM, "rng: no DMA page for requests");
    if (((uintptr_t)rng->page | rng->page_addr) & (LVIO_PAGE_SIZE - 1)) {
        hal->dma_free(hal->ctx, rng->page, 1, rng->page_addr); /* never given */
        rng->page = NULL;
        return lvio_fail(rng->dev, LVIO_E_HAL, "rng: dma_alloc returned an unaligned page");
    }
    return LVIO_OK;
}

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
    err = rng_alloc_page(rng);
    if (err)
        goto fail;
    err = lvio_vq_setup(&rng->vq, dev, RNG_QUEUE, LVIO_RNG_SLOTS);
    if (err)
        goto free_page;
    err = lvio_device_driver_ok(dev);
    if (err)
        goto teardown_queue;
    return LVIO_OK;

teardown_queue:
    err = lvio_device_reset_after(dev, err); /* the device lets go of the ring first */
    lvio_vq_teardown(&rng->vq);
free_page:
    rng_free_page(rng);
fail:
    lvio_device_fail(dev);
    return err;
}

/* Offer free slots to the device until `want` bytes are requested. */
static int rng_submit(struct lvio_rng *rng, uint32_t want)
{
    for (unsigned s = 0; s < LVIO_RNG_SLOTS && rng->pending < want; s++) {
        if ((rng->busy | rng->done) & (1u << s))
            continue;
        uint32_t n = want - rng->pending;
        if (n > LVIO_RNG_SLOT_SIZE)
            n = LVIO_RNG_SLOT_SIZE;
        struct lvio_sg sg = {rng->page_addr + (uint64_t)s * LVIO_RNG_SLOT_SIZE, n};
        int err = lvio_vq_add(&rng->vq, NULL, 0, &sg, 1, (void *)(uintptr_t)(s + 1));
        if (err == LVIO_E_NOSPC)
            break; /* a queue smaller than LVIO_RNG_SLOTS: it is full of our requests */
        if (err)
            return err;
        rng->busy |= (uint8_t)(1u << s);
        rng->slot_len[s] = (uint16_t)n;
        rng->pending += n;
        rng->requests++;
    }
    return lvio_vq_kick(&rng->vq);
}

/* A slot came back with `n` bytes: copy what the caller still needs. */
static void rng_consume(struct lvio_rng *rng, void *token, uint32_t n,
                        uint8_t *out, size_t len, size_t *got)
{
    unsigned s = (unsigned)((uintptr_t)token - 1); /* our own token */
    uint8_t *src = rng->page + (size_t)s * LVIO_RNG_SLOT_SIZE;
    size_t take = len - *got < n ? len - *got : n;
    memcpy(out + *got, src, take);
    memset(src, 0, n); /* entropy handed out is not left lying around */
    *got += take;
    rng->bytes += n;
    rng->empty += n == 0;
    rng->pending -= rng->slot_len[s];
    rng->busy &= (uint8_t)~(1u << s);
}

/* A completion nobody was reading for (lvio_rng_poll): the slot keeps
 * its bytes until a read takes them. */
static void rng_keep(struct lvio_rng *rng, void *token, uint32_t n)
{
    unsigned s = (unsigned)((uintptr_t)token - 1); /* our own token */
    rng->bytes += n;
    rng->empty += n == 0;
    rng->pending -= rng->slot_len[s];
    rng->busy &= (uint8_t)~(1u << s);
    rng->done |= (uint8_t)(1u << s);
    rng->done_len[s] = (uint16_t)n;
}

/* The bytes kept by lvio_rng_poll, to the caller first. */
static void rng_take_kept(struct lvio_rng *rng, uint8_t *out, size_t len, size_t *got)
{
    for (unsigned s = 0; s < LVIO_RNG_SLOTS && rng->done && *got < len; s++) {
        if (!(rng->done & (1u << s)))
            continue;
        uint8_t *src = rng->page + (size_t)s * LVIO_RNG_SLOT_SIZE;
        size_t take = len - *got < rng->done_len[s] ? len - *got : rng->done_len[s];
        memcpy(out + *got, src, take);
        memset(src, 0, rng->done_len[s]);
        *got += take;
        rng->done &= (uint8_t)~(1u << s);
    }
}

int lvio_rng_poll(struct lvio_rng *rng)
{
    void *token;
    uint32_t n, ready = 0;
    int r;
    if (!rng || !lvio_device_valid(rng->dev) || !rng->page)
        return LVIO_E_INVAL;
    while ((r = lvio_vq_get(&rng->vq, &token, &n)) == 1)
        rng_keep(rng, token, n);
    if (r < 0)
        return r;
    for (unsigned s = 0; s < LVIO_RNG_SLOTS; s++)
        if (rng->done & (1u << s))
            ready += rng->done_len[s];
    return (int)ready;
}

static int rng_collect(struct lvio_rng *rng, uint8_t *out, size_t len,
                       size_t *got)
{
    void *token;
    uint32_t n;
    int r;
    while ((r = lvio_vq_get(&rng->vq, &token, &n)) == 1)
        rng_consume(rng, token, n, out, len, got);
    return r;
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
        return lvio_vq_timeout(&rng->vq, d);
    return lvio_fail(dev, LVIO_E_TIMEOUT,
                     "rng: no entropy after %llu us: the device answered %llu requests with "
                     "0 bytes%s",
                     (unsigned long long)(lvio_deadline_elapsed(d, dev->hal) / 1000),
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
    if (!rng || !lvio_device_valid(rng->dev) || !rng->page || (!buf && len) ||
        len > INT32_MAX)
        return LVIO_E_INVAL;
    if (len == 0)
        return 0;
    uint64_t empty = rng->empty;
    lvio_deadline_start(&d, rng->dev->hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        rng_take_kept(rng, buf, len, &got);
        int err = rng_collect(rng, buf, len, &got);
        if (!err && got < len)
            err = rng_submit(rng, (uint32_t)(len - got));
        if (!err && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(rng->dev);
        if (err || got == len)
            return got ? (int)got : err;
        if (lvio_deadline_passed(&d, rng->dev->hal))
            break;
    }
    int err = rng_collect(rng, buf, len, &got); /* it may have come as time ran out */
    if (got)
        return (int)got;
    if (err)
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
    rng_free_page(rng);
    rng->busy = 0;
    rng->done = 0;
    rng->pending = 0;
    rng->dev = NULL;
}
