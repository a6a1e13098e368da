/*
 * virtio-rng (entropy device, VIRTIO 1.2 5.4): one request queue; the
 * driver offers writable buffers and the device fills them with random
 * bytes, possibly fewer than offered, and possibly slowly when the host
 * rate-limits it.
 *
 * The device writes only into the driver's own DMA page, split into
 * LVIO_RNG_SLOTS request buffers by the request engine (lvio/request.h);
 * bytes are then copied to the caller. A request left pending by a read
 * that timed out stays with the device and its bytes serve the next read.
 */
#ifndef LVIO_RNG_H
#define LVIO_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "virtio.h"
#include "virtqueue.h"

#define LVIO_RNG_SLOTS 4
#define LVIO_RNG_SLOT_SIZE (LVIO_PAGE_SIZE / LVIO_RNG_SLOTS)

struct lvio_rng {
    /* Set by lvio_rng_init(). */
    struct lvio_device *dev;
    struct lvio_virtqueue vq;
    /* Its requests: a slot is BUSY while the device fills it, DONE with
     * bytes kept for a read (taken in the order the device answered). */
    struct lvio_reqs reqs;
    struct lvio_req_slot slots[LVIO_RNG_SLOTS];
    uint64_t bytes;         /* statistics: bytes the device gave */
    uint64_t requests;      /* requests made (reqs.requests, kept here too) */
    uint64_t empty;         /* requests the device answered with 0 bytes */
};

/*
 * Bring up the rng device `dev` (already probed; dev->device_id must be
 * LVIO_VIRTIO_ID_RNG): negotiate, set up the request queue, DRIVER_OK.
 * Returns 0 or a negative lvio_error; on error the device is left FAILED
 * and everything allocated is freed.
 */
int lvio_rng_init(struct lvio_rng *rng, struct lvio_device *dev);

/*
 * Fill `buf` with up to `len` random bytes, waiting at most `timeout_ns`
 * (UINT64_MAX: as long as the clock runs; a clock that stands still ends
 * the wait after LVIO_CLOCK_STALL_POLLS polls). Large buffers take several
 * requests. Returns the number of bytes written: `len` normally, fewer
 * when the time ran out after some bytes came (a short read: a success,
 * nothing logged). Returns LVIO_E_TIMEOUT when none came in time (the
 * message says whether the device was silent or answered with 0 bytes),
 * LVIO_E_AGAIN when `timeout_ns` is 0 and none were ready, or another
 * negative lvio_error. `len` above INT32_MAX is LVIO_E_INVAL.
 */
int lvio_rng_read(struct lvio_rng *rng, void *buf, size_t len,
                  uint64_t timeout_ns);

/*
 * Take the device's completions without reading (after an interrupt, or
 * to keep the queue moving): the bytes stay in the driver's request slots
 * and the next lvio_rng_read takes them first. Returns the bytes now ready
 * (0 or more), LVIO_E_BROKEN or LVIO_E_INVAL. Not for an interrupt
 * handler: call it where the other calls on this rng are made.
 */
int lvio_rng_poll(struct lvio_rng *rng);

/* Reset the device and free everything lvio_rng_init() allocated (kept
 * instead when the reset never completes: see lvio_device_reset). */
void lvio_rng_teardown(struct lvio_rng *rng);

/*
 * Recovery after LVIO_E_TIMEOUT, LVIO_E_NEEDS_RESET or LVIO_E_BROKEN: reset
 * the device (requests in flight are dropped, their memory returned) and
 * bring it up again on the same device. Returns what lvio_rng_init returns;
 * LVIO_E_INVAL if the rng was never initialised.
 */
int lvio_rng_reset(struct lvio_rng *rng);

#endif
