/*
 * virtio-blk driver (VIRTIO 1.2, 5.2).
 *
 * Each request queue has a request engine (lvio/request.h) whose slots
 * hold one chain's driver-side bytes: the header at +0, the ranges of a
 * discard / write zeroes / secure erase (or the 20 bytes GET_ID writes) at
 * +16, the status byte at +88. A caller's request becomes one or more
 * chains: header, its data buffers (the caller's memory, shared in place),
 * status. Requests wait on their queue's list, oldest first, until their
 * chains are all sent; only the oldest can be partly sent.
 *
 * Ownership: the request, its segment array and buffers are the driver's
 * from lvio_blk_submit until the request comes back (done list); a chain's
 * slot is the device's from its submit until its completion is taken
 * (lvio_reqs_reap), and the driver reads its status once, then. Caller
 * buffers are unshared when the last chain of their request is back, or
 * after a reset that completed; never while the device may still use them.
 */
#include "lvio/config.h"
#if LVIO_WITH_BLK /* else left out: lvio/config.h */

#include "lvio/blk.h"
#include "../core/internal.h"

#define SLOT_SIZE 96u
#define RESP_OFF 88u  /* the status byte */
#define DATA_OFF 16u  /* ranges, or the ID the device writes */
#define HDR_LEN ((uint32_t)sizeof(struct lvio_virtio_blk_outhdr))
#define RANGE_LEN ((uint32_t)sizeof(struct lvio_virtio_blk_discard_write_zeroes))
#define SECTOR LVIO_VIRTIO_BLK_SECTOR_SIZE
#define CFG(field) ((uint32_t)offsetof(struct lvio_virtio_blk_config, field))

_Static_assert(DATA_OFF >= HDR_LEN, "header fits");
_Static_assert(DATA_OFF + LVIO_BLK_RANGES * RANGE_LEN <= RESP_OFF, "ranges fit");
_Static_assert(DATA_OFF + LVIO_VIRTIO_BLK_ID_BYTES <= RESP_OFF, "ID fits");
_Static_assert(LVIO_BLK_CHAIN_BYTES % LVIO_BLK_MAX_BLOCK == 0, "a chain is whole blocks");

/* Where a request is (struct lvio_blk_req's state_). */
enum {
    REQ_IDLE = 0, /* the caller's */
    REQ_WAITING,  /* on its queue's list: chains still to send */
    REQ_SENT,     /* every chain sent (or it failed): chains with the device */
    REQ_DONE,     /* on the done list */
};

#define BLK_FEATURES                                                                    \
    ((1ull << LVIO_VIRTIO_BLK_F_SIZE_MAX) | (1ull << LVIO_VIRTIO_BLK_F_SEG_MAX) |       \
     (1ull << LVIO_VIRTIO_BLK_F_GEOMETRY) | (1ull << LVIO_VIRTIO_BLK_F_RO) |            \
     (1ull << LVIO_VIRTIO_BLK_F_BLK_SIZE) | (1ull << LVIO_VIRTIO_BLK_F_FLUSH) |         \
     (1ull << LVIO_VIRTIO_BLK_F_TOPOLOGY) | (1ull << LVIO_VIRTIO_BLK_F_CONFIG_WCE) |    \
     (1ull << LVIO_VIRTIO_BLK_F_MQ) | (1ull << LVIO_VIRTIO_BLK_F_DISCARD) |             \
     (1ull << LVIO_VIRTIO_BLK_F_WRITE_ZEROES) | (1ull << LVIO_VIRTIO_BLK_F_SECURE_ERASE))

/* ---- names ----------------------------------------------------------------------- */

const char *lvio_blk_status_name(uint8_t status)
{
    switch (status) {
    case LVIO_VIRTIO_BLK_S_OK: return "OK";
    case LVIO_VIRTIO_BLK_S_IOERR: return "IOERR";
    case LVIO_VIRTIO_BLK_S_UNSUPP: return "UNSUPP";
    case LVIO_BLK_STATUS_NONE: return "none";
    default: return "unknown";
    }
}

const char *lvio_blk_op_name(uint8_t op)
{
    static const char *const names[] = {"read", "write", "flush", "discard",
                                        "write-zeroes", "secure-erase", "get-id"};
    if (op >= LVIO_BLK_READ && op <= LVIO_BLK_GET_ID)
        return names[op - LVIO_BLK_READ];
    return "unknown";
}

const char *lvio_blk_errname(const struct lvio_blk_req *req)
{
    if (!req)
        return lvio_errname(LVIO_E_INVAL);
    if (req->result == LVIO_E_REFUSED)
        return lvio_blk_status_name(req->status);
    return lvio_errname(req->result);
}

static uint32_t min32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static bool feature(const struct lvio_blk *blk, unsigned bit)
{
    return lvio_has_feature(blk->dev->features_accepted, bit);
}

static uint32_t block_sectors(const struct lvio_blk *blk)
{
    return blk->block_size / SECTOR;
}

/* "read of sectors 8..15 on queue 1", into `out`, for messages. */
static const char *req_what(const struct lvio_blk_req *req, uint64_t sector, uint64_t sectors,
                            char *out, size_t size)
{
    if (sectors == 0)
        lvio_snprintf(out, size, "%s on queue %u", lvio_blk_op_name(req->op), req->queue);
    else
        lvio_snprintf(out, size, "%s of sectors %llu..%llu on queue %u",
                      lvio_blk_op_name(req->op), (unsigned long long)sector,
                      (unsigned long long)(sector + sectors - 1), req->queue);
    return out;
}

/* ---- configuration ----------------------------------------------------------------- */

/* The three configuration fields of a discard-like operation, when its
 * feature is negotiated: usable when one range can hold a logical block
 * and a request a range; else a warning says why not. */
static int config_ranges(struct lvio_blk *blk, unsigned bit, const char *what,
                         uint32_t off_sectors, uint32_t off_seg, uint32_t off_align,
                         struct lvio_blk_range_limit *lim)
{
    struct lvio_device *dev = blk->dev;
    int err = LVIO_OK;
    *lim = (struct lvio_blk_range_limit){0};
    if (!feature(blk, bit))
        return LVIO_OK;
    err = lvio_config_read32(dev, off_sectors, &lim->max_sectors);
    if (err == LVIO_OK)
        err = lvio_config_read32(dev, off_seg, &lim->max_seg);
    if (err == LVIO_OK && off_align)
        err = lvio_config_read32(dev, off_align, &lim->alignment);
    if (err)
        return err;
    /* Whole blocks per range, aligned splits only where the alignment
     * is itself whole blocks. */
    lim->max_sectors -= lim->max_sectors % block_sectors(blk);
    if (lim->alignment % block_sectors(blk))
        lim->alignment = block_sectors(blk);
    lim->usable = lim->max_sectors != 0 && lim->max_seg != 0;
    if (!lim->usable)
        lvio_log(dev, LVIO_LOG_WARN,
                 "blk: %s offered with max sectors %u and max segments %u: not used", what,
                 lim->max_sectors, lim->max_seg);
    return LVIO_OK;
}

/* Capacity: 512-byte sectors whose bytes fit 64 bits. */
static int config_capacity(struct lvio_blk *blk, uint64_t *capacity)
{
    int err = lvio_config_read64(blk->dev, CFG(capacity), capacity);
    if (err == LVIO_OK && *capacity > UINT64_MAX / SECTOR)
        err = lvio_fail(blk->dev, LVIO_E_CONFIG,
                        "blk: capacity %llu sectors: more bytes than 64 bits count",
                        (unsigned long long)*capacity);
    return err;
}

/* blk_size: the logical block, a power of two from 512. */
static int config_block_size(struct lvio_blk *blk)
{
    uint32_t b = SECTOR;
    int err = LVIO_OK;
    if (feature(blk, LVIO_VIRTIO_BLK_F_BLK_SIZE))
        err = lvio_config_read32(blk->dev, CFG(blk_size), &b);
    if (err)
        return err;
    if (b < SECTOR || b > LVIO_BLK_MAX_BLOCK || (b & (b - 1)) != 0)
        return lvio_fail(blk->dev, LVIO_E_CONFIG,
                         "blk: blk_size %u is not a power of two from 512 to %u", b,
                         LVIO_BLK_MAX_BLOCK);
    blk->block_size = b;
    return LVIO_OK;
}

/* seg_max and size_max: without SEG_MAX one data buffer a chain (as
 * Linux assumes), without SIZE_MAX any length. */
static int config_segments(struct lvio_blk *blk)
{
    struct lvio_device *dev = blk->dev;
    uint32_t seg_max = 1, size_max = LVIO_BLK_CHAIN_BYTES;
    int err = LVIO_OK;
    if (feature(blk, LVIO_VIRTIO_BLK_F_SEG_MAX))
        err = lvio_config_read32(dev, CFG(seg_max), &seg_max);
    if (err == LVIO_OK && feature(blk, LVIO_VIRTIO_BLK_F_SIZE_MAX))
        err = lvio_config_read32(dev, CFG(size_max), &size_max);
    if (err)
        return err;
    if (seg_max == 0 || size_max == 0)
        return lvio_fail(dev, LVIO_E_CONFIG, "blk: seg_max %u, size_max %u: a request cannot "
                         "carry data", seg_max, size_max);
    blk->seg_max = min32(seg_max, LVIO_BLK_SEGS);
    blk->size_max = min32(size_max, LVIO_BLK_CHAIN_BYTES);
    return LVIO_OK;
}

/* Geometry and topology only advise: nonsense is ignored, with a warning. */
static int config_advice(struct lvio_blk *blk)
{
    struct lvio_device *dev = blk->dev;
    int err = LVIO_OK;
    if (feature(blk, LVIO_VIRTIO_BLK_F_GEOMETRY)) {
        err = lvio_config_read16(dev, CFG(geometry.cylinders), &blk->geometry.cylinders);
        if (err == LVIO_OK)
            err = lvio_config_read8(dev, CFG(geometry.heads), &blk->geometry.heads);
        if (err == LVIO_OK)
            err = lvio_config_read8(dev, CFG(geometry.sectors), &blk->geometry.sectors);
        if (err == LVIO_OK && (blk->geometry.heads == 0 || blk->geometry.sectors == 0)) {
            lvio_log(dev, LVIO_LOG_WARN, "blk: geometry %u/%u/%u has no heads or sectors: ignored",
                     blk->geometry.cylinders, blk->geometry.heads, blk->geometry.sectors);
            memset(&blk->geometry, 0, sizeof blk->geometry);
        }
    }
    if (err == LVIO_OK && feature(blk, LVIO_VIRTIO_BLK_F_TOPOLOGY)) {
        err = lvio_config_read8(dev, CFG(topology.physical_block_exp),
                                &blk->topology.physical_block_exp);
        if (err == LVIO_OK)
            err = lvio_config_read8(dev, CFG(topology.alignment_offset),
                                    &blk->topology.alignment_offset);
        if (err == LVIO_OK)
            err = lvio_config_read16(dev, CFG(topology.min_io_size), &blk->topology.min_io_size);
        if (err == LVIO_OK)
            err = lvio_config_read32(dev, CFG(topology.opt_io_size), &blk->topology.opt_io_size);
        if (err == LVIO_OK && (blk->topology.physical_block_exp > 15 ||
                               blk->topology.alignment_offset >=
                                   (1u << (blk->topology.physical_block_exp & 15)))) {
            lvio_log(dev, LVIO_LOG_WARN,
                     "blk: topology: physical block exponent %u, alignment offset %u: ignored",
                     blk->topology.physical_block_exp, blk->topology.alignment_offset);
            memset(&blk->topology, 0, sizeof blk->topology);
        }
    }
    return err;
}

/* The cache: with CONFIG_WCE the writeback field says (read after
 * FEATURES_OK, as 5.2.5.1 asks), else FLUSH alone means writeback. */
static int config_cache(struct lvio_blk *blk)
{
    uint8_t wb = 0;
    blk->can_flush = feature(blk, LVIO_VIRTIO_BLK_F_FLUSH);
    blk->can_set_writeback = feature(blk, LVIO_VIRTIO_BLK_F_CONFIG_WCE);
    blk->writeback = blk->can_flush;
    if (!blk->can_set_writeback)
        return LVIO_OK;
    int err = lvio_config_read8(blk->dev, CFG(writeback), &wb);
    if (err)
        return err;
    if (wb > 1)
        lvio_log(blk->dev, LVIO_LOG_WARN, "blk: writeback %u, neither 0 nor 1: taken as writeback",
                 wb);
    blk->writeback = wb != 0;
    return LVIO_OK;
}

static int config_queues(struct lvio_blk *blk)
{
    uint16_t n = 1;
    int err = LVIO_OK;
    if (feature(blk, LVIO_VIRTIO_BLK_F_MQ))
        err = lvio_config_read16(blk->dev, CFG(num_queues), &n);
    if (err == LVIO_OK && n == 0)
        err = lvio_fail(blk->dev, LVIO_E_CONFIG, "blk: num_queues 0");
    blk->device_queues = n;
    blk->nqueues = min32(n, LVIO_BLK_MAX_QUEUES);
    if (blk->max_queues)
        blk->nqueues = min32(blk->nqueues, blk->max_queues);
    return err;
}

/* Every field the negotiated features bring, each read once and checked. */
static int blk_read_config(struct lvio_blk *blk)
{
    uint8_t may_unmap = 0;
    int err = config_capacity(blk, &blk->capacity);
    if (err == LVIO_OK)
        err = config_block_size(blk);
    if (err == LVIO_OK)
        err = config_segments(blk);
    if (err == LVIO_OK)
        err = config_advice(blk);
    if (err == LVIO_OK)
        err = config_cache(blk);
    if (err == LVIO_OK)
        err = config_queues(blk);
    if (err == LVIO_OK)
        err = config_ranges(blk, LVIO_VIRTIO_BLK_F_DISCARD, "DISCARD", CFG(max_discard_sectors),
                            CFG(max_discard_seg), CFG(discard_sector_alignment), &blk->discard);
    if (err == LVIO_OK)
        err = config_ranges(blk, LVIO_VIRTIO_BLK_F_WRITE_ZEROES, "WRITE_ZEROES",
                            CFG(max_write_zeroes_sectors), CFG(max_write_zeroes_seg), 0,
                            &blk->write_zeroes);
    if (err == LVIO_OK && blk->write_zeroes.usable)
        err = lvio_config_read8(blk->dev, CFG(write_zeroes_may_unmap), &may_unmap);
    blk->write_zeroes_may_unmap = may_unmap != 0;
    if (err == LVIO_OK)
        err = config_ranges(blk, LVIO_VIRTIO_BLK_F_SECURE_ERASE, "SECURE_ERASE",
                            CFG(max_secure_erase_sectors), CFG(max_secure_erase_seg),
                            CFG(secure_erase_sector_alignment), &blk->secure_erase);
    return err;
}

/* ---- setup ------------------------------------------------------------------------- */

/* Buffers one chain may have on `vq`: through an indirect table up to
 * LVIO_VQ_INDIRECT_MAX, else (or longer) one ring descriptor each. */
static uint32_t chain_bufs(const struct lvio_virtqueue *vq)
{
    uint32_t n = vq->size;
    if (vq->indirect && n < LVIO_VQ_INDIRECT_MAX)
        n = LVIO_VQ_INDIRECT_MAX;
    return n;
}

/* Queues [0, n) and engines [0, n_engines): memory back (or kept, dead). */
static void blk_free_queues(struct lvio_blk *blk, unsigned n, unsigned n_engines)
{
    for (unsigned i = 0; i < n; i++)
        lvio_vq_teardown(&blk->q[i].vq);
    for (unsigned i = 0; i < n_engines; i++)
        lvio_reqs_teardown(&blk->q[i].reqs);
}

/* Each queue and its engine; seg_max cut to what the smallest queue
 * carries. Unwinds itself on failure (the device reset first). */
static int blk_setup_queues(struct lvio_blk *blk)
{
    struct lvio_device *dev = blk->dev;
    unsigned i = 0;
    int err = LVIO_OK;
    for (; i < blk->nqueues && err == LVIO_OK; i++) {
        struct lvio_blk_queue *q = &blk->q[i];
        err = lvio_reqs_init(&q->reqs, dev, &q->vq, q->slots, LVIO_BLK_SLOTS, SLOT_SIZE,
                             RESP_OFF);
        if (err)
            break;
        err = lvio_vq_setup(&q->vq, dev, (uint16_t)i, LVIO_BLK_QUEUE_SIZE);
        if (err == LVIO_OK && chain_bufs(&q->vq) < 3)
            err = lvio_fail(dev, LVIO_E_QUEUE,
                            "blk: queue %u of %u descriptors cannot hold a request (header, "
                            "data, status)", i, q->vq.size);
        else if (err == LVIO_OK && chain_bufs(&q->vq) - 2 < blk->seg_max)
            blk->seg_max = chain_bufs(&q->vq) - 2;
        if (err) {
            if (q->vq.mem)
                i++; /* set up, then found too small: torn down below */
            err = lvio_device_reset_after(dev, err);
            blk_free_queues(blk, i, i + (q->vq.mem == NULL));
            return err;
        }
    }
    if (err) { /* the engine of queue i failed: queues [0, i) are set up */
        err = lvio_device_reset_after(dev, err);
        blk_free_queues(blk, i, i);
    }
    return err;
}

/* One logical block must fit one chain, in buffers of size_max. */
static int blk_check_limits(struct lvio_blk *blk)
{
    if ((uint64_t)blk->seg_max * blk->size_max >= blk->block_size)
        return LVIO_OK;
    return lvio_fail(blk->dev, LVIO_E_CONFIG,
                     "blk: a %u-byte block does not fit one request: %u buffers of %u bytes "
                     "(seg_max, size_max, queue size)",
                     blk->block_size, blk->seg_max, blk->size_max);
}

/* Negotiate, read the configuration, queues, DRIVER_OK; FAILED on error. */
static int blk_bring_up(struct lvio_blk *blk)
{
    struct lvio_device *dev = blk->dev;
    int err = lvio_device_begin(dev, BLK_FEATURES);
    if (err)
        return err;
    err = blk_read_config(blk);
    if (err)
        goto fail;
    err = blk_setup_queues(blk);
    if (err)
        goto fail;
    err = blk_check_limits(blk);
    if (err == LVIO_OK)
        err = lvio_device_driver_ok(dev);
    if (err)
        goto teardown_queues;
    blk->read_only = feature(blk, LVIO_VIRTIO_BLK_F_RO);
    blk->up = true;
    return LVIO_OK;

teardown_queues:
    err = lvio_device_reset_after(dev, err); /* the device lets go of the rings first */
    blk_free_queues(blk, blk->nqueues, blk->nqueues);
fail:
    lvio_device_fail(dev);
    return err;
}

int lvio_blk_init(struct lvio_blk *blk, struct lvio_device *dev, unsigned max_queues)
{
    if (!blk || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_BLOCK)
        return lvio_fail(dev, LVIO_E_INVAL, "blk: device id %u is not a block device",
                         dev->device_id);
    memset(blk, 0, sizeof *blk);
    blk->dev = dev;
    blk->max_queues = max_queues;
    blk->timeout_ns = LVIO_BLK_TIMEOUT_NS;
    return blk_bring_up(blk);
}

/* ---- requests coming back ------------------------------------------------------------ */

static enum lvio_dma_dir data_dir(const struct lvio_blk_req *req)
{
    return req->op == LVIO_BLK_READ ? LVIO_DMA_FROM_DEVICE : LVIO_DMA_TO_DEVICE;
}

/* Undo share() of the first req->shared_ segments (kept if the device is
 * dead: lvio_unshare_give_back). */
static void req_unshare(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    for (uint32_t i = 0; i < req->shared_; i++)
        lvio_unshare_give_back(blk->dev, req->segs[i].buf, req->segs[i].len, data_dir(req),
                               req->segs[i].addr);
    req->shared_ = 0;
}

/* `req` (no chain with the device any more) is back: unshared, at the
 * end of the done list. */
static void req_finish(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    req_unshare(blk, req);
    req->state_ = REQ_DONE;
    req->next_ = NULL;
    if (blk->done_tail)
        blk->done_tail->next_ = req;
    else
        blk->done = req;
    blk->done_tail = req;
    blk->done_count++;
    blk->q[req->queue].in_flight--;
}

/* The chain in `slot` failed with `err`: the request's first failure is
 * the one it keeps (the message says which chain). */
static void req_failed(struct lvio_blk_req *req, int err, uint8_t status, uint64_t sector)
{
    if (req->result)
        return;
    req->result = err;
    req->status = status;
    req->error_sector = sector;
}

/* The status byte and used length of a chain that came back, checked;
 * the ID copied out for GET_ID. */
static int chain_check(struct lvio_blk *blk, struct lvio_blk_queue *q, unsigned slot,
                       uint8_t *status)
{
    const struct lvio_req_slot *s = &q->slots[slot];
    const struct lvio_blk_chain *c = &q->chains[slot];
    struct lvio_blk_req *req = c->req;
    const volatile uint8_t *resp = lvio_req_resp(&q->reqs, slot);
    char what[96];
    *status = *resp; /* read once: only this copy is checked and used */
    req_what(req, c->sector, c->sectors, what, sizeof what);
    if (*status == LVIO_BLK_STATUS_NONE)
        return lvio_fail(blk->dev, LVIO_E_DEVICE,
                         "blk %s: the device never wrote the status byte (used length %u)",
                         what, s->len);
    if (*status == LVIO_VIRTIO_BLK_S_IOERR || *status == LVIO_VIRTIO_BLK_S_UNSUPP)
        return lvio_fail(blk->dev, LVIO_E_REFUSED, "blk %s: the device answered %s", what,
                         lvio_blk_status_name(*status));
    if (*status != LVIO_VIRTIO_BLK_S_OK)
        return lvio_fail(blk->dev, LVIO_E_DEVICE, "blk %s: status 0x%02x is not a status",
                         what, *status);
    /* A legacy device's used length means nothing (5.2.6.3). */
    if (!blk->dev->legacy && s->len < s->resp_len)
        return lvio_fail(blk->dev, LVIO_E_DEVICE,
                         "blk %s: used length %u, shorter than the %u bytes up to and "
                         "including the status",
                         what, s->len, s->resp_len);
    if (req->op == LVIO_BLK_GET_ID) {
        const volatile uint8_t *id = (const volatile uint8_t *)lvio_req_buf(&q->reqs, slot) +
                                     DATA_OFF;
        uint8_t *out = req->segs[0].buf;
        for (unsigned i = 0; i < LVIO_VIRTIO_BLK_ID_BYTES; i++)
            out[i] = id[i];
    }
    return LVIO_OK;
}

/* The chain in DONE slot `slot` is back: checked, its slot free, its
 * request finished when it was the last. */
static void chain_done(struct lvio_blk *blk, struct lvio_blk_queue *q, unsigned slot)
{
    struct lvio_blk_chain *c = &q->chains[slot];
    struct lvio_blk_req *req = c->req;
    uint8_t status;
    int err = chain_check(blk, q, slot, &status);
    if (err)
        req_failed(req, err, status, c->sector);
    lvio_reqs_put(&q->reqs, slot);
    c->req = NULL;
    req->chains_--;
    if (req->chains_ == 0 && req->state_ == REQ_SENT)
        req_finish(blk, req);
}

/* Every answered chain of `q`, in the order the device answered. */
static unsigned queue_complete(struct lvio_blk *blk, struct lvio_blk_queue *q)
{
    unsigned n = 0;
    int slot;
    while ((slot = lvio_reqs_next_done(&q->reqs)) >= 0) {
        chain_done(blk, q, (unsigned)slot);
        n++;
    }
    return n;
}

/* ---- sending chains ---------------------------------------------------------------- */

/* A position in a request's data: segment, byte in it. */
struct data_pos {
    uint32_t seg, off;
};

/*
 * The pieces of the next chain of data from `pos`: at most blk->seg_max
 * buffers of at most blk->size_max bytes, `limit` bytes in all. Their
 * device addresses into sg[] (when sg is not NULL); *pos moves past them.
 * Returns the bytes.
 */
static uint32_t data_pieces(const struct lvio_blk *blk, const struct lvio_blk_req *req,
                            struct data_pos *pos, uint32_t limit, struct lvio_sg *sg,
                            unsigned *n)
{
    uint32_t bytes = 0;
    *n = 0;
    while (pos->seg < req->nsegs && *n < blk->seg_max && bytes < limit) {
        const struct lvio_blk_seg *s = &req->segs[pos->seg];
        uint32_t piece = s->len - pos->off;
        if (piece > blk->size_max)
            piece = blk->size_max;
        if (piece > limit - bytes)
            piece = limit - bytes;
        if (sg)
            sg[*n] = (struct lvio_sg){s->addr + pos->off, piece};
        (*n)++;
        bytes += piece;
        pos->off += piece;
        if (pos->off == s->len) {
            pos->seg++;
            pos->off = 0;
        }
    }
    return bytes;
}

/* The next chain of data from `pos`: as many whole logical blocks as one
 * chain carries (0: not even one). Pieces and position as data_pieces. */
static uint32_t data_chain(const struct lvio_blk *blk, const struct lvio_blk_req *req,
                           struct data_pos *pos, struct lvio_sg *sg, unsigned *n)
{
    struct data_pos probe = *pos;
    uint32_t bytes = data_pieces(blk, req, &probe, LVIO_BLK_CHAIN_BYTES, NULL, n);
    bytes -= bytes % blk->block_size;
    if (bytes)
        data_pieces(blk, req, pos, bytes, sg, n); /* the same pieces, cut at a block */
    return bytes;
}

/* The next chain's ranges (sectors from req->issued_ on), at most as
 * many and as long as `lim` allows, split on its alignment; written into
 * `out` (device order). Returns how many; *sectors what they cover. */
static unsigned range_chain(const struct lvio_blk *blk, const struct lvio_blk_req *req,
                            const struct lvio_blk_range_limit *lim,
                            struct lvio_virtio_blk_discard_write_zeroes *out, uint64_t *sectors)
{
    const struct lvio_device *dev = blk->dev;
    unsigned n = 0, max = min32(lim->max_seg, LVIO_BLK_RANGES);
    uint32_t flags = req->op == LVIO_BLK_WRITE_ZEROES && (req->flags & LVIO_BLK_UNMAP)
                         ? LVIO_VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
                         : 0;
    *sectors = 0;
    while (n < max && req->issued_ + *sectors < req->total_) {
        uint64_t start = req->sector + req->issued_ + *sectors;
        uint64_t len = req->total_ - req->issued_ - *sectors;
        if (len > lim->max_sectors) {
            uint64_t end = start + lim->max_sectors;
            uint64_t over = lim->alignment > 1 ? lvio_mod64(end, lim->alignment) : 0;
            if (end - over > start)
                end -= over;
            len = end - start;
        }
        out[n].sector = lvio_cpu_to_dev64(dev, start);
        out[n].num_sectors = lvio_cpu_to_dev32(dev, (uint32_t)len);
        out[n].flags = lvio_cpu_to_dev32(dev, flags);
        *sectors += len;
        n++;
    }
    return n;
}

static const struct lvio_blk_range_limit *range_limit(const struct lvio_blk *blk, uint8_t op)
{
    if (op == LVIO_BLK_DISCARD)
        return &blk->discard;
    if (op == LVIO_BLK_WRITE_ZEROES)
        return &blk->write_zeroes;
    return &blk->secure_erase;
}

static uint32_t wire_type(uint8_t op)
{
    switch (op) {
    case LVIO_BLK_READ: return LVIO_VIRTIO_BLK_T_IN;
    case LVIO_BLK_WRITE: return LVIO_VIRTIO_BLK_T_OUT;
    case LVIO_BLK_FLUSH: return LVIO_VIRTIO_BLK_T_FLUSH;
    case LVIO_BLK_DISCARD: return LVIO_VIRTIO_BLK_T_DISCARD;
    case LVIO_BLK_WRITE_ZEROES: return LVIO_VIRTIO_BLK_T_WRITE_ZEROES;
    case LVIO_BLK_SECURE_ERASE: return LVIO_VIRTIO_BLK_T_SECURE_ERASE;
    default: return LVIO_VIRTIO_BLK_T_GET_ID;
    }
}

/* A chain being built: the engine's request, its data buffers, what it
 * covers and how far it moves the request. */
struct chain {
    struct lvio_req r;
    struct lvio_sg data[LVIO_BLK_SEGS];
    struct data_pos pos;        /* data: where the request is after it */
    uint64_t sector, sectors;   /* what it covers */
    uint64_t advance;           /* req->issued_ grows by this */
};

/*
 * The next chain of `req` in free slot `slot`: the header (and ranges) in
 * the slot, the status byte set to LVIO_BLK_STATUS_NONE, the caller's
 * data (or the slot's ID room) as buffers.
 */
static void chain_build(struct lvio_blk *blk, struct lvio_blk_queue *q,
                        const struct lvio_blk_req *req, unsigned slot, struct chain *ch)
{
    uint8_t *buf = lvio_req_buf(&q->reqs, slot);
    struct lvio_virtio_blk_outhdr *hdr = (struct lvio_virtio_blk_outhdr *)buf;
    const struct lvio_device *dev = blk->dev;
    memset(buf, 0, SLOT_SIZE);
    *(volatile uint8_t *)(buf + RESP_OFF) = LVIO_BLK_STATUS_NONE;
    ch->r = (struct lvio_req){.slot = slot, .req_len = HDR_LEN, .resp_len = 1};
    ch->sector = ch->sectors = 0;
    ch->advance = 1; /* flush, get-id: the whole request */
    if (req->op == LVIO_BLK_READ || req->op == LVIO_BLK_WRITE) {
        unsigned n;
        ch->pos = (struct data_pos){req->seg_, req->seg_off_};
        uint32_t bytes = data_chain(blk, req, &ch->pos, ch->data, &n);
        ch->sector = req->sector + req->issued_ / SECTOR;
        ch->sectors = bytes / SECTOR;
        ch->advance = bytes;
        if (req->op == LVIO_BLK_READ) {
            ch->r.ins = ch->data;
            ch->r.n_ins = n;
        } else {
            ch->r.outs = ch->data;
            ch->r.n_outs = n;
        }
    } else if (req->op == LVIO_BLK_GET_ID) {
        ch->r.in = (struct lvio_sg){lvio_req_addr(&q->reqs, slot) + DATA_OFF,
                                    LVIO_VIRTIO_BLK_ID_BYTES};
    } else if (req->op != LVIO_BLK_FLUSH) {
        struct lvio_virtio_blk_discard_write_zeroes *ranges =
            (struct lvio_virtio_blk_discard_write_zeroes *)(buf + DATA_OFF);
        unsigned n = range_chain(blk, req, range_limit(blk, req->op), ranges, &ch->advance);
        ch->sector = req->sector + req->issued_;
        ch->sectors = ch->advance;
        /* The header alone in its descriptor, as the legacy framing
         * (without ANY_LAYOUT) wants it; the ranges after it. */
        ch->r.out = (struct lvio_sg){lvio_req_addr(&q->reqs, slot) + DATA_OFF, n * RANGE_LEN};
    }
    /* Only reads and writes name a sector in the header (5.2.6). */
    bool rw = req->op == LVIO_BLK_READ || req->op == LVIO_BLK_WRITE;
    hdr->type = lvio_cpu_to_dev32(dev, wire_type(req->op));
    hdr->sector = lvio_cpu_to_dev64(dev, rw ? ch->sector : 0);
}

/* A free slot of `q`, or -1. */
static int free_slot(const struct lvio_blk_queue *q)
{
    for (unsigned i = 0; i < LVIO_BLK_SLOTS; i++)
        if (q->slots[i].state == LVIO_REQ_FREE)
            return (int)i;
    return -1;
}

/* Buffers of the chain (header, data or ID or ranges, status). */
static unsigned chain_nbufs(const struct chain *ch)
{
    return 2u + ch->r.n_ins + ch->r.n_outs + (ch->r.in.len != 0) + (ch->r.out.len != 0);
}

/* Take the oldest waiting request off `q`'s list. */
static void waiting_pop(struct lvio_blk_queue *q)
{
    struct lvio_blk_req *req = q->waiting;
    q->waiting = req->next_;
    if (!q->waiting)
        q->waiting_tail = NULL;
    req->next_ = NULL;
    req->state_ = REQ_SENT;
}

/* Send one more chain of `req`, the oldest waiting on `q`. Returns 1 when
 * sent, 0 when there is no room now, or LVIO_E_BROKEN. */
static int send_one(struct lvio_blk *blk, struct lvio_blk_queue *q, struct lvio_blk_req *req)
{
    struct chain ch;
    int slot = free_slot(q);
    if (slot < 0)
        return 0;
    chain_build(blk, q, req, (unsigned)slot, &ch);
    if (lvio_vq_descs(&q->vq, chain_nbufs(&ch)) > lvio_vq_num_free(&q->vq))
        return 0;
    int err = lvio_reqs_add(&q->reqs, &ch.r, 1);
    if (err)
        return err == LVIO_E_AGAIN ? 0 : err;
    q->chains[slot] = (struct lvio_blk_chain){req, ch.sector, ch.sectors};
    q->chains_sent++;
    req->chains_++;
    req->issued_ += ch.advance;
    req->seg_ = ch.pos.seg;
    req->seg_off_ = ch.pos.off;
    if (req->issued_ >= req->total_)
        waiting_pop(q);
    return 1;
}

/* Send what fits of the requests waiting on `q`, then one notify. A
 * request that failed meanwhile sends nothing more. Returns the chains
 * sent, or LVIO_E_BROKEN. */
static int queue_send(struct lvio_blk *blk, struct lvio_blk_queue *q)
{
    int sent = 0, r = 1;
    while (q->waiting && r == 1) {
        struct lvio_blk_req *req = q->waiting;
        if (req->result) {
            waiting_pop(q);
            if (req->chains_ == 0)
                req_finish(blk, req);
            continue;
        }
        r = send_one(blk, q, req);
        sent += r == 1;
    }
    int kick = sent && !blk->plugged ? lvio_vq_kick(&q->vq) : LVIO_OK;
    if (r < 0)
        return r;
    return kick < 0 ? kick : sent;
}

/* Completions and sends on `q` until neither makes progress. */
static int queue_service(struct lvio_blk *blk, struct lvio_blk_queue *q)
{
    int r = lvio_reqs_reap(&q->reqs);
    if (r < 0)
        return r;
    queue_complete(blk, q);
    while (q->waiting) {
        r = queue_send(blk, q);
        if (r > 0) /* a device may answer at once */
            r = lvio_reqs_reap(&q->reqs) < 0 ? LVIO_E_BROKEN : r;
        if (r < 0)
            return r;
        /* Sending reaps too: what came back makes room for more. */
        if (queue_complete(blk, q) == 0 || r == 0)
            break;
    }
    return LVIO_OK;
}

/* ---- submitting -------------------------------------------------------------------- */

/* Sectors [sector, sector + n) lie on block boundaries and on the disk. */
static int check_range(struct lvio_blk *blk, const struct lvio_blk_req *req, uint64_t n)
{
    uint32_t bs = block_sectors(blk);
    const char *op = lvio_blk_op_name(req->op);
    if (n == 0)
        return lvio_fail(blk->dev, LVIO_E_INVAL, "blk %s of no sectors", op);
    if (lvio_mod64(req->sector, bs) || lvio_mod64(n, bs))
        return lvio_fail(blk->dev, LVIO_E_INVAL,
                         "blk %s of %llu sectors at sector %llu: not whole %u-byte blocks", op,
                         (unsigned long long)n, (unsigned long long)req->sector, blk->block_size);
    if (req->sector > blk->capacity || n > blk->capacity - req->sector)
        return lvio_fail(blk->dev, LVIO_E_INVAL,
                         "blk %s of sectors %llu..%llu: past the end of the disk (%llu sectors)",
                         op, (unsigned long long)req->sector,
                         (unsigned long long)(req->sector + n - 1),
                         (unsigned long long)blk->capacity);
    return LVIO_OK;
}

/* A read or write: segments that say how much, and one chain at least a
 * block at a time all the way through. */
static int check_data(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    struct lvio_device *dev = blk->dev;
    uint64_t bytes = 0;
    if (!req->segs || req->nsegs == 0)
        return lvio_fail(dev, LVIO_E_INVAL, "blk %s without segments",
                         lvio_blk_op_name(req->op));
    for (unsigned i = 0; i < req->nsegs; i++) {
        if (!req->segs[i].buf || req->segs[i].len == 0)
            return lvio_fail(dev, LVIO_E_INVAL, "blk %s: segment %u of %u is empty",
                             lvio_blk_op_name(req->op), i, req->nsegs);
        bytes += req->segs[i].len;
    }
    if (bytes % SECTOR)
        return lvio_fail(dev, LVIO_E_INVAL, "blk %s of %llu bytes: not whole %u-byte blocks",
                         lvio_blk_op_name(req->op), (unsigned long long)bytes, blk->block_size);
    int err = check_range(blk, req, bytes / SECTOR);
    if (err)
        return err;
    if (!dev->hal->share)
        return lvio_fail(dev, LVIO_E_UNSUPPORTED, "blk %s: the HAL has no share()",
                         lvio_blk_op_name(req->op));
    struct data_pos pos = {0, 0};
    for (uint64_t at = 0; at < bytes;) {
        unsigned n;
        uint32_t chunk = data_chain(blk, req, &pos, NULL, &n);
        if (chunk == 0)
            return lvio_fail(dev, LVIO_E_INVAL,
                             "blk %s: the %u-byte block at byte %llu spans more than the %u "
                             "buffers of up to %u bytes one request carries",
                             lvio_blk_op_name(req->op), blk->block_size,
                             (unsigned long long)at, blk->seg_max, blk->size_max);
        at += chunk;
    }
    req->total_ = bytes;
    return LVIO_OK;
}

/* Discard, write zeroes, secure erase: offered, usable, ranges on the disk. */
static int check_ranges(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    const struct lvio_blk_range_limit *lim = range_limit(blk, req->op);
    uint8_t flags_ok = req->op == LVIO_BLK_WRITE_ZEROES ? LVIO_BLK_UNMAP : 0;
    if (!lim->usable)
        return lvio_fail(blk->dev, LVIO_E_UNSUPPORTED, "blk %s: the device %s",
                         lvio_blk_op_name(req->op),
                         lim->max_sectors || lim->max_seg ? "gave unusable limits"
                                                          : "does not offer it");
    if (req->flags & ~flags_ok)
        return lvio_fail(blk->dev, LVIO_E_INVAL, "blk %s: flags 0x%x", lvio_blk_op_name(req->op),
                         req->flags);
    req->total_ = req->sectors;
    return check_range(blk, req, req->sectors);
}

/* Which op, which queue, read-only refused, then what the op needs. */
static int check_request(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    struct lvio_device *dev = blk->dev;
    if (req->op < LVIO_BLK_READ || req->op > LVIO_BLK_GET_ID)
        return lvio_fail(dev, LVIO_E_INVAL, "blk: no such request op %u", req->op);
    if (req->queue >= blk->nqueues)
        return lvio_fail(dev, LVIO_E_INVAL, "blk %s on queue %u: %u queues in use",
                         lvio_blk_op_name(req->op), req->queue, blk->nqueues);
    bool writes = req->op == LVIO_BLK_WRITE || req->op == LVIO_BLK_DISCARD ||
                  req->op == LVIO_BLK_WRITE_ZEROES || req->op == LVIO_BLK_SECURE_ERASE;
    if (writes && blk->read_only)
        return lvio_fail(dev, LVIO_E_READ_ONLY, "blk %s of sectors from %llu: the device is "
                         "read-only", lvio_blk_op_name(req->op),
                         (unsigned long long)req->sector);
    if (req->op == LVIO_BLK_READ || req->op == LVIO_BLK_WRITE)
        return check_data(blk, req);
    if (req->op != LVIO_BLK_FLUSH && req->op != LVIO_BLK_GET_ID)
        return check_ranges(blk, req);
    bool id = req->op == LVIO_BLK_GET_ID;
    if (req->sector || req->sectors || req->flags ||
        (id ? !req->segs || req->nsegs != 1 || !req->segs[0].buf ||
                  req->segs[0].len < LVIO_VIRTIO_BLK_ID_BYTES
            : req->segs || req->nsegs))
        return lvio_fail(dev, LVIO_E_INVAL, "blk %s: %s", lvio_blk_op_name(req->op),
                         id ? "needs one segment of 20 bytes, no sector" : "takes no sector or data");
    req->total_ = 1;
    return LVIO_OK;
}

/* Share every segment in place; all or none. */
static int req_share(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    const struct lvio_hal *hal = blk->dev->hal;
    for (; req->shared_ < req->nsegs; req->shared_++) {
        struct lvio_blk_seg *s = &req->segs[req->shared_];
        int err = hal->share(hal->ctx, s->buf, s->len, data_dir(req), &s->addr);
        if (err == LVIO_OK)
            continue;
        unsigned at = req->shared_;
        for (uint32_t i = 0; i < at && hal->unshare; i++) /* never given to the device */
            hal->unshare(hal->ctx, req->segs[i].buf, req->segs[i].len, data_dir(req),
                         req->segs[i].addr);
        req->shared_ = 0;
        return lvio_fail(blk->dev, err < 0 ? err : LVIO_E_HAL,
                         "blk %s: sharing segment %u of %u (%u bytes) failed (%s)",
                         lvio_blk_op_name(req->op), at, req->nsegs, s->len,
                         lvio_errname(err));
    }
    return LVIO_OK;
}

static bool blk_ready(const struct lvio_blk *blk)
{
    return blk && blk->up && lvio_device_valid(blk->dev);
}

int lvio_blk_submit(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    if (!blk || !req || !blk->dev)
        return LVIO_E_INVAL;
    if (req->state_ != REQ_IDLE) /* the driver's: left as it is */
        return lvio_fail(blk->dev, LVIO_E_INVAL, "blk %s: request already submitted",
                         lvio_blk_op_name(req->op));
    if (!blk_ready(blk))
        return req->result = lvio_fail(blk->dev, LVIO_E_STATE, "blk: the device is not up");
    req->result = LVIO_OK;
    req->status = LVIO_BLK_STATUS_NONE;
    req->error_sector = 0;
    req->issued_ = 0;
    req->seg_ = req->seg_off_ = req->shared_ = 0;
    req->chains_ = 0;
    req->next_ = NULL;
    int err = check_request(blk, req);
    if (err == LVIO_OK && (req->op == LVIO_BLK_READ || req->op == LVIO_BLK_WRITE))
        err = req_share(blk, req);
    if (err)
        return req->result = err;
    struct lvio_blk_queue *q = &blk->q[req->queue];
    q->requests++;
    q->in_flight++;
    if (req->op == LVIO_BLK_FLUSH && !blk->can_flush) {
        req_finish(blk, req); /* writes are stable when they complete */
        return LVIO_OK;
    }
    req->state_ = REQ_WAITING;
    if (q->waiting_tail)
        q->waiting_tail->next_ = req;
    else
        q->waiting = req;
    q->waiting_tail = req;
    err = queue_service(blk, q);
    return err < 0 ? err : LVIO_OK;
}

/* ---- completions ---------------------------------------------------------------------- */

/* A configuration change: the capacity (and the cache mode) again. */
static void blk_config_changed(struct lvio_blk *blk)
{
    uint64_t capacity;
    blk->config_changes++;
    if (config_capacity(blk, &capacity) == LVIO_OK && capacity != blk->capacity) {
        lvio_log(blk->dev, LVIO_LOG_INFO, "blk: capacity now %llu sectors (was %llu)",
                 (unsigned long long)capacity, (unsigned long long)blk->capacity);
        blk->capacity = capacity;
    }
    config_cache(blk);
}

/* Notify every queue of what was sent without a notify (plugged). */
static int blk_kick_all(struct lvio_blk *blk)
{
    int err = LVIO_OK;
    for (unsigned i = 0; i < blk->nqueues; i++) {
        int e = lvio_vq_kick(&blk->q[i].vq); /* nothing new: nothing done */
        if (e < 0 && err == LVIO_OK)
            err = e;
    }
    return err;
}

void lvio_blk_plug(struct lvio_blk *blk)
{
    if (blk)
        blk->plugged = true;
}

int lvio_blk_unplug(struct lvio_blk *blk)
{
    if (!blk || !blk->dev)
        return LVIO_E_INVAL;
    blk->plugged = false;
    return blk_ready(blk) ? blk_kick_all(blk) : LVIO_E_STATE;
}

int lvio_blk_poll(struct lvio_blk *blk, uint32_t isr)
{
    if (!blk || !blk->dev)
        return LVIO_E_INVAL;
    if (!blk_ready(blk))
        return LVIO_E_STATE;
    int err = blk->plugged ? blk_kick_all(blk) : LVIO_OK; /* a poll keeps things moving */
    for (unsigned i = 0; i < blk->nqueues; i++) {
        int e = queue_service(blk, &blk->q[i]);
        if (e < 0 && err == LVIO_OK)
            err = e;
    }
    if (isr & LVIO_VIRTIO_ISR_CONFIG)
        blk_config_changed(blk);
    return err < 0 ? err : (int)blk->done_count;
}

struct lvio_blk_req *lvio_blk_done(struct lvio_blk *blk)
{
    struct lvio_blk_req *req = blk ? blk->done : NULL;
    if (!req)
        return NULL;
    blk->done = req->next_;
    if (!blk->done)
        blk->done_tail = NULL;
    blk->done_count--;
    req->next_ = NULL;
    req->state_ = REQ_IDLE;
    return req;
}

/* Take `req` (DONE) off the done list, wherever it is in it. */
static int done_take(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    struct lvio_blk_req *prev = NULL;
    for (struct lvio_blk_req *r = blk->done; r; prev = r, r = r->next_) {
        if (r != req)
            continue;
        if (prev)
            prev->next_ = r->next_;
        else
            blk->done = r->next_;
        if (blk->done_tail == r)
            blk->done_tail = prev;
        blk->done_count--;
        r->next_ = NULL;
        r->state_ = REQ_IDLE;
        break;
    }
    return req->result;
}

unsigned lvio_blk_in_flight(const struct lvio_blk *blk)
{
    unsigned n = 0;
    for (unsigned i = 0; blk && i < blk->nqueues; i++)
        n += blk->q[i].in_flight;
    return n;
}

/* ---- reset and teardown ---------------------------------------------------------------- */

/* Request `req` ended by a reset: `cause`, unless it failed already; but
 * LVIO_E_DEAD always when the reset never completed (its buffers stay
 * shared, which the caller must know). */
static void req_ended(struct lvio_blk_req *req, int cause)
{
    if (cause == LVIO_E_DEAD)
        req->result = LVIO_E_DEAD;
    req_failed(req, cause, LVIO_BLK_STATUS_NONE, req->sector);
}

/* After a reset: every request still with the driver comes back with
 * `cause` (what the slots held is the device's no more). */
static void blk_end_all(struct lvio_blk *blk, int cause)
{
    for (unsigned i = 0; i < blk->nqueues; i++) {
        struct lvio_blk_queue *q = &blk->q[i];
        for (unsigned s = 0; s < LVIO_BLK_SLOTS; s++) {
            struct lvio_blk_req *req = q->chains[s].req;
            q->chains[s].req = NULL;
            if (req && --req->chains_ == 0 && req->state_ == REQ_SENT) {
                req_ended(req, cause);
                req_finish(blk, req);
            }
        }
        while (q->waiting) {
            struct lvio_blk_req *req = q->waiting;
            waiting_pop(q);
            req->chains_ = 0;
            req_ended(req, cause);
            req_finish(blk, req);
        }
    }
}

/* Reset the device, end every request with `cause` (LVIO_E_DEAD when
 * the reset never completed), give back the queues. */
static void blk_down(struct lvio_blk *blk, int cause)
{
    if (!blk->up)
        return;
    blk->up = false;
    if (lvio_device_reset(blk->dev) == LVIO_E_DEAD)
        cause = LVIO_E_DEAD;
    blk_end_all(blk, cause);
    blk_free_queues(blk, blk->nqueues, blk->nqueues);
}

void lvio_blk_teardown(struct lvio_blk *blk)
{
    if (blk && blk->dev)
        blk_down(blk, LVIO_E_STATE);
}

int lvio_blk_reset(struct lvio_blk *blk)
{
    if (!blk || !lvio_device_valid(blk->dev))
        return LVIO_E_INVAL;
    blk_down(blk, LVIO_E_STATE);
    /* What came back stays, and the caller's settings; the rest is the
     * device's anew. */
    struct lvio_device *dev = blk->dev;
    struct lvio_blk_req *done = blk->done, *done_tail = blk->done_tail;
    unsigned done_count = blk->done_count, max_queues = blk->max_queues;
    uint32_t resets = blk->resets, changes = blk->config_changes;
    uint64_t timeout = blk->timeout_ns;
    memset(blk, 0, sizeof *blk);
    blk->dev = dev;
    blk->max_queues = max_queues;
    blk->timeout_ns = timeout;
    blk->resets = resets + 1;
    blk->config_changes = changes;
    blk->done = done;
    blk->done_tail = done_tail;
    blk->done_count = done_count;
    return blk_bring_up(blk);
}

/* ---- waiting and the blocking helpers ---------------------------------------------------- */

/* The wait for `req` ended with `err` (from the deadline `d` for a
 * timeout): the message names it, the device is reset. */
static int wait_failed(struct lvio_blk *blk, struct lvio_blk_req *req, int err,
                       const struct lvio_deadline *d)
{
    char what[96], prefix[112], why[LVIO_ERRMSG_SIZE];
    uint64_t sectors = req->total_; /* ranges: sectors */
    if (req->op == LVIO_BLK_READ || req->op == LVIO_BLK_WRITE)
        sectors = req->total_ / SECTOR;
    else if (req->op == LVIO_BLK_FLUSH || req->op == LVIO_BLK_GET_ID)
        sectors = 0;
    lvio_snprintf(prefix, sizeof prefix, "blk %s: ",
                  req_what(req, req->sector, sectors, what, sizeof what));
    if (err == LVIO_E_TIMEOUT) {
        lvio_vq_timeout(&blk->q[req->queue].vq, d, prefix);
    } else {
        memcpy(why, blk->dev->errmsg, sizeof why);
        lvio_fail(blk->dev, err, "%s%s", prefix, why);
    }
    memcpy(why, blk->dev->errmsg, sizeof why);
    req_failed(req, err, LVIO_BLK_STATUS_NONE, req->sector); /* the others: LVIO_E_STATE */
    int rerr = lvio_blk_reset(blk);
    if (rerr == LVIO_OK) /* the device is back: the message is the wait's */
        memcpy(blk->dev->errmsg, why, sizeof why);
    return done_take(blk, req);
}

int lvio_blk_wait(struct lvio_blk *blk, struct lvio_blk_req *req, uint64_t timeout_ns)
{
    struct lvio_deadline d;
    int err;
    if (!blk || !req || !blk->dev || req->state_ == REQ_IDLE)
        return LVIO_E_INVAL;
    if (timeout_ns == 0) { /* a look, not a wait: nothing is reset */
        err = lvio_blk_poll(blk, 0);
        if (req->state_ == REQ_DONE)
            return done_take(blk, req);
        return err < 0 ? err : LVIO_E_AGAIN;
    }
    lvio_deadline_start(&d, blk->dev->hal, timeout_ns);
    for (uint32_t polls = 1; req->state_ != REQ_DONE; polls++) {
        if (lvio_deadline_passed(&d, blk->dev->hal)) {
            err = lvio_blk_poll(blk, 0); /* it may have come as time ran out */
            if (req->state_ == REQ_DONE)
                break;
            return wait_failed(blk, req, err < 0 ? err : LVIO_E_TIMEOUT, &d);
        }
        err = lvio_blk_poll(blk, 0);
        if (err >= 0 && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(blk->dev);
        if (err < 0 && req->state_ != REQ_DONE)
            return wait_failed(blk, req, err, &d);
    }
    return done_take(blk, req);
}

/* Submit `req` (the helper's own storage) on queue 0 and wait for it,
 * blk->timeout_ns: it is back when this returns, whatever happened (a
 * timeout of 0 is a wait that ends at once, not a look). */
static int blk_sync(struct lvio_blk *blk, struct lvio_blk_req *req)
{
    int err = lvio_blk_submit(blk, req);
    if (err == LVIO_OK || req->state_ != REQ_IDLE)
        err = lvio_blk_wait(blk, req, blk->timeout_ns ? blk->timeout_ns : 1);
    return err;
}

int lvio_blk_read(struct lvio_blk *blk, uint64_t sector, void *buf, uint32_t len)
{
    struct lvio_blk_seg seg = {buf, len, 0};
    struct lvio_blk_req req = {.op = LVIO_BLK_READ, .sector = sector, .segs = &seg, .nsegs = 1};
    return blk_sync(blk, &req);
}

int lvio_blk_write(struct lvio_blk *blk, uint64_t sector, const void *buf, uint32_t len)
{
    /* The device only reads it: shared to the device, never written. */
    struct lvio_blk_seg seg = {(void *)(uintptr_t)buf, len, 0};
    struct lvio_blk_req req = {.op = LVIO_BLK_WRITE, .sector = sector, .segs = &seg, .nsegs = 1};
    return blk_sync(blk, &req);
}

int lvio_blk_flush(struct lvio_blk *blk)
{
    struct lvio_blk_req req = {.op = LVIO_BLK_FLUSH};
    return blk_sync(blk, &req);
}

static int blk_ranges_sync(struct lvio_blk *blk, uint8_t op, uint64_t sector, uint64_t sectors,
                           uint8_t flags)
{
    struct lvio_blk_req req = {.op = op, .flags = flags, .sector = sector, .sectors = sectors};
    return blk_sync(blk, &req);
}

int lvio_blk_discard(struct lvio_blk *blk, uint64_t sector, uint64_t sectors)
{
    return blk_ranges_sync(blk, LVIO_BLK_DISCARD, sector, sectors, 0);
}

int lvio_blk_write_zeroes(struct lvio_blk *blk, uint64_t sector, uint64_t sectors, bool unmap)
{
    return blk_ranges_sync(blk, LVIO_BLK_WRITE_ZEROES, sector, sectors,
                           unmap ? LVIO_BLK_UNMAP : 0);
}

int lvio_blk_secure_erase(struct lvio_blk *blk, uint64_t sector, uint64_t sectors)
{
    return blk_ranges_sync(blk, LVIO_BLK_SECURE_ERASE, sector, sectors, 0);
}

int lvio_blk_get_id(struct lvio_blk *blk, char id[LVIO_VIRTIO_BLK_ID_BYTES + 1])
{
    if (!id)
        return LVIO_E_INVAL;
    memset(id, 0, LVIO_VIRTIO_BLK_ID_BYTES + 1);
    struct lvio_blk_seg seg = {id, LVIO_VIRTIO_BLK_ID_BYTES, 0};
    struct lvio_blk_req req = {.op = LVIO_BLK_GET_ID, .segs = &seg, .nsegs = 1};
    int err = blk_sync(blk, &req);
    id[LVIO_VIRTIO_BLK_ID_BYTES] = '\0';
    return err;
}

int lvio_blk_set_writeback(struct lvio_blk *blk, bool writeback)
{
    uint8_t v = writeback ? 1 : 0, back = 0xff;
    if (!blk || !blk->dev)
        return LVIO_E_INVAL;
    if (!blk_ready(blk))
        return LVIO_E_STATE;
    if (!blk->can_set_writeback)
        return lvio_fail(blk->dev, LVIO_E_UNSUPPORTED,
                         "blk: the device does not offer CONFIG_WCE");
    int err = lvio_config_write(blk->dev, CFG(writeback), &v, 1);
    if (err == LVIO_OK)
        err = lvio_config_read8(blk->dev, CFG(writeback), &back);
    if (err == LVIO_OK && back != v)
        err = lvio_fail(blk->dev, LVIO_E_CONFIG, "blk: writeback set to %u, reads back %u", v,
                        back);
    if (err == LVIO_OK)
        blk->writeback = writeback;
    return err;
}

#else
typedef int lvio_blk_left_out; /* ISO C wants a declaration */
#endif
