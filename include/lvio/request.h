/*
 * The request engine: a driver's requests and responses in DMA slots it
 * owns, sent in batches under one notify, waited for with one bound, and
 * never reused while the device may still write them. Every driver whose
 * requests have a fixed shape (gpu commands, rng buffers; blk, net, input
 * and console to come) sits on it instead of keeping its own.
 *
 * Typical use:
 *
 *     struct lvio_reqs reqs;                          // in the driver's struct
 *     struct lvio_req_slot slots[16];                 // caller's storage too
 *     lvio_reqs_init(&reqs, dev, &vq, slots, 16, 256, 128); // 16 slots of 256
 *                                                     // bytes: request at +0,
 *                                                     // response at +128
 *     ...lvio_vq_setup(&vq, ...), lvio_device_driver_ok(dev)...
 *
 *     unsigned s[2];
 *     lvio_reqs_alloc(&reqs, s, 2);                   // two free slots, or none
 *     ...fill lvio_req_buf(&reqs, s[0]) and s[1]...
 *     struct lvio_req batch[2] = {{s[0], sizeof req0, sizeof resp0},
 *                                 {s[1], sizeof req1, sizeof resp1}};
 *     lvio_reqs_submit(&reqs, batch, 2);              // both or neither, one kick
 *     lvio_reqs_wait(&reqs, batch, 2, timeout_ns);    // one deadline for both
 *     ...read lvio_req_resp(&reqs, s[i]), reqs.slots[s[i]].len bytes...
 *     lvio_reqs_put(&reqs, s[0]); lvio_reqs_put(&reqs, s[1]);  // free again
 *
 *     lvio_reqs_reap(&reqs);                          // in the driver's poll
 *     lvio_device_reset(dev); lvio_vq_teardown(&vq); lvio_reqs_teardown(&reqs);
 *
 * A slot is FREE, BUSY (with the device), DONE (answered: its response is
 * the driver's to read until lvio_reqs_put) or LOST (a wait for it ended
 * without an answer: the device may still write its response and read its
 * request, so the slot is not reused until the device gives it back, or is
 * reset). A lost slot can also keep something else the device may still
 * read (a buffer the request points at): `held`, given to the driver's
 * release callback when the slot comes back.
 *
 * What the device writes is trusted with nothing: the queue validates ids
 * and clamps lengths (lvio/virtqueue.h), and the response bytes are the
 * driver's to validate, each read once. The engine takes no locks, like
 * the rest of the library (see lvio/virtio.h): one engine per queue, and
 * nothing else takes completions off that queue.
 */
#ifndef LVIO_REQUEST_H
#define LVIO_REQUEST_H

#include <stdint.h>

#include "virtio.h"
#include "virtqueue.h"

/* The state of a request slot (struct lvio_req_slot's `state`). */
enum lvio_req_state {
    LVIO_REQ_FREE = 0,
    LVIO_REQ_BUSY,   /* submitted, not answered yet */
    LVIO_REQ_DONE,   /* answered; the driver reads it, then lvio_reqs_put */
    LVIO_REQ_LOST,   /* a wait gave up on it; freed when the device answers */
};

/* One slot's bookkeeping (the driver's storage, kept by the engine). */
struct lvio_req_slot {
    uint8_t state;     /* enum lvio_req_state */
    uint32_t resp_len; /* BUSY, DONE: bytes offered for the device to write
                          (the slot's response and the request's `in`) */
    uint32_t len;      /* DONE: bytes the device says it wrote, at most
                          resp_len: how much of the response to believe */
    uint32_t seq;      /* DONE: when it was taken off the queue (see
                          lvio_reqs_next_done) */
    bool overlong;     /* DONE: the device said it wrote more than resp_len
                          (`len` is clamped to it): a driver that cares
                          drops what it wrote */
    /* Set by the driver, on a LOST slot only: what else the device may
     * still read for this request. The engine gives it to `release` once,
     * when the device gives the slot back or at lvio_reqs_teardown, and
     * sets it back to NULL. */
    void *held;
};

/* Most buffers one request's chain may have, all parts together (it
 * sizes an array on the stack of lvio_reqs_submit: 16 bytes each). */
#ifndef LVIO_REQ_MAX_BUFS
#define LVIO_REQ_MAX_BUFS 132u
#endif

/* One request of a batch. The chain is: the slot's request (`req_len`
 * bytes, 0: none), `out` (len 0: none), the `n_outs` buffers of `outs`,
 * then the `n_ins` buffers of `ins`, `in` (len 0: none), the slot's
 * response (`resp_len` bytes, 0: none); at least one of them, at most
 * LVIO_REQ_MAX_BUFS, every buffer of a list at least one byte long. */
struct lvio_req {
    struct lvio_sg out;  /* a buffer the device reads (a list, data to write) */
    struct lvio_sg in;   /* a buffer the device writes (data read, a large
                            response) before the slot's own response */
    /* Scatter-gather lists (a block request's data), read by the engine
     * only while it submits: the caller's storage, reusable afterwards. */
    const struct lvio_sg *outs; /* the device reads them, after `out` */
    const struct lvio_sg *ins;  /* the device writes them, before `in` */
    unsigned slot;
    uint32_t req_len;    /* at most resp_off */
    uint32_t resp_len;   /* at most slot_size - resp_off */
    unsigned n_outs;
    unsigned n_ins;
};

/* Called with a lost slot's `held`, once the device cannot read it any
 * more. May set `held` of another LOST slot (to hand the thing on). */
typedef void (*lvio_req_release_fn)(void *ctx, void *held);

struct lvio_reqs {
    /* Set by lvio_reqs_init(). */
    struct lvio_device *dev;
    struct lvio_virtqueue *vq;      /* the queue the requests go on */
    struct lvio_req_slot *slots;    /* caller's storage, nslots entries */
    unsigned nslots;
    uint32_t slot_size;             /* bytes per slot; slot i at i * slot_size */
    uint32_t resp_off;              /* where its response starts in it */
    uint8_t *mem;                   /* DMA pages holding the slots; NULL: not set up */
    uint64_t mem_addr;              /* their device address */
    uint32_t pages;

    /* May be set by the driver after lvio_reqs_init (NULL: nothing held). */
    lvio_req_release_fn release;
    void *release_ctx;

    /* Statistics, kept by the engine. */
    uint64_t requests;              /* requests submitted */
    uint64_t batches;               /* submits: one kick each (the queue's
                                       kicks say how many notified) */
    uint64_t lost;                  /* requests a wait gave up on */
    uint32_t seq;                   /* completions taken so far */
};

/*
 * Allocate `nslots` slots of `slot_size` bytes, each with its response at
 * `resp_off` (slot_size and resp_off multiples of 8, resp_off at most
 * slot_size: equal when requests have no response), in zeroed DMA pages
 * from the HAL, all free; `slots` (nslots entries) is the caller's
 * storage for their bookkeeping. `vq` is the queue they will go on: it
 * need not be set up yet (lvio_vq_setup may follow), but must be before
 * the first submit. Returns 0, LVIO_E_INVAL, LVIO_E_NOMEM or LVIO_E_HAL
 * (the HAL returned an unaligned page).
 */
int lvio_reqs_init(struct lvio_reqs *r, struct lvio_device *dev, struct lvio_virtqueue *vq,
                   struct lvio_req_slot *slots, unsigned nslots, uint32_t slot_size,
                   uint32_t resp_off);

/*
 * After lvio_device_reset (the device no longer touches any request):
 * every slot free, what lost slots held released, the pages given back —
 * kept instead when the device is dead (the reset never completed:
 * lvio_device_reset). Does nothing for NULL or an engine not set up.
 */
void lvio_reqs_teardown(struct lvio_reqs *r);

/* Where slot `slot` lives: its request and response (CPU pointers) and
 * the device address of its request (the response is resp_off after). */
static inline void *lvio_req_buf(const struct lvio_reqs *r, unsigned slot)
{
    return r->mem + (size_t)slot * r->slot_size;
}
static inline void *lvio_req_resp(const struct lvio_reqs *r, unsigned slot)
{
    return r->mem + (size_t)slot * r->slot_size + r->resp_off;
}
static inline uint64_t lvio_req_addr(const struct lvio_reqs *r, unsigned slot)
{
    return r->mem_addr + (uint64_t)slot * r->slot_size;
}

/*
 * Take what the device answered (lvio_reqs_reap), then find `n` free
 * slots, lowest first, into `slots`. They stay free until submitted: take
 * all a batch needs in one call. Returns 0; LVIO_E_AGAIN when fewer are
 * free, nothing taken (the message says how many are held by requests
 * that timed out); LVIO_E_INVAL (n 0 or more than nslots, NULL, not set
 * up); or LVIO_E_BROKEN.
 */
int lvio_reqs_alloc(struct lvio_reqs *r, unsigned *slots, unsigned n);

/* Slots in `state` (0 for NULL). */
unsigned lvio_reqs_count(const struct lvio_reqs *r, enum lvio_req_state state);

/*
 * Send a batch: every request added to the queue, then one kick. Whole or
 * nothing: after taking what the device answered, the descriptors the
 * batch needs are counted against the queue's free ones first, and when
 * they do not fit nothing is added (LVIO_E_AGAIN, naming how many are
 * free, needed and still with the device). Each slot must be free and
 * each length within its slot (else LVIO_E_INVAL, nothing sent). The
 * slots are BUSY afterwards; their responses are zeroed by the caller if
 * it needs that. Returns 0, LVIO_E_AGAIN, LVIO_E_INVAL or LVIO_E_BROKEN
 * (then the requests already added are LOST).
 */
int lvio_reqs_submit(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n);

/*
 * lvio_reqs_submit without the kick: the batch is on the queue, whole or
 * not at all, and the device is told when the caller calls lvio_vq_kick
 * (several batches, or batches of several engines, under one notify).
 * Same results; a batch added this way counts in `batches` too.
 */
int lvio_reqs_add(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n);

/*
 * Wait until every request of `batch` (as submitted) is answered, for at
 * most `timeout_ns` by the HAL clock for all of them together (UINT64_MAX:
 * as long as the clock runs; a clock that stands still ends the wait
 * after LVIO_CLOCK_STALL_POLLS polls). Returns 0 with each slot DONE.
 * Otherwise every request not answered becomes LOST (counted in `lost`),
 * the answered ones stay DONE (the caller puts them), and the message
 * names the first one unanswered — "request 2 of 3 (slot 5)" — before
 * what went wrong: LVIO_E_TIMEOUT (the queue's indexes and the time
 * waited), LVIO_E_NEEDS_RESET or LVIO_E_BROKEN. LVIO_E_INVAL for bad
 * arguments.
 */
int lvio_reqs_wait(struct lvio_reqs *r, const struct lvio_req *batch, unsigned n,
                   uint64_t timeout_ns);

/*
 * Without waiting, take every completion the device has made: a BUSY slot
 * becomes DONE (with its `len`), a LOST one free (its `held` released).
 * Returns the slots that became DONE, LVIO_E_BROKEN or LVIO_E_INVAL.
 */
int lvio_reqs_reap(struct lvio_reqs *r);

/* The DONE slot taken off the queue first (the device's order), or -1. */
int lvio_reqs_next_done(const struct lvio_reqs *r);

/* The driver is done with DONE slot `slot`: free again. (Any other slot is
 * left as it is.) */
void lvio_reqs_put(struct lvio_reqs *r, unsigned slot);

#endif
