/*
 * virtio-blk (block device, VIRTIO 1.2, 5.2): reads, writes, flush,
 * discard, write zeroes (with or without unmap), secure erase and the
 * device's ID string, many requests in flight on each of several queues,
 * completions in whatever order the device makes them.
 *
 * Typical use:
 *
 *     struct lvio_blk blk;                       // caller's storage, no heap
 *     lvio_blk_init(&blk, &dev, 0);              // negotiates, reads the
 *                                                // configuration, all queues
 *     lvio_blk_read(&blk, 0, buf, 4096);         // blocking helpers, queue 0
 *
 *     struct lvio_blk_seg seg[2] = {{a, 4096}, {b, 8192}};  // any memory
 *     struct lvio_blk_req r = {.op = LVIO_BLK_READ, .queue = 1, .sector = 64,
 *                              .segs = seg, .nsegs = 2, .token = me};
 *     lvio_blk_submit(&blk, &r);                 // non-blocking; r and the
 *                                                // buffers are the driver's now
 *     ...interrupt: lvio_blk_poll(&blk, isr)...  // takes completions
 *     struct lvio_blk_req *done;
 *     while ((done = lvio_blk_done(&blk)))       // in completion order
 *         ...done->result, done->token...
 *     lvio_blk_wait(&blk, &r, timeout_ns);       // or wait for one, bounded
 *
 * Units: sectors are always 512 bytes (the protocol's unit, whatever the
 * device's logical block size); a request's sector and length must still
 * be whole logical blocks (blk->block_size), and lie within the disk.
 *
 * Buffers: each segment of a read or write is shared with the device in
 * place through the HAL's share() (one call per segment: a segment must be
 * memory share() can give one device address, e.g. physically contiguous in
 * a plain kernel) and unshared when the request comes back. Between
 * lvio_blk_submit and the request's return (lvio_blk_done, lvio_blk_wait,
 * or a reset/teardown, which end every request) the request struct, its
 * segment array and the buffers belong to the driver and the device: the
 * caller neither reads, changes nor frees them. A request larger than one
 * chain can carry (seg_max segments, size_max bytes a segment,
 * LVIO_BLK_CHAIN_BYTES in all) is split into several chains, sent as slots
 * and descriptors free up; it completes when all of them have.
 *
 * Every answer is checked: the status byte (filled with
 * LVIO_BLK_STATUS_NONE before the request goes, so one the device never
 * wrote is seen), and, on a modern device, that the used length covers
 * everything up to the status. IOERR and UNSUPP are LVIO_E_REFUSED with the
 * status kept in the request (lvio_blk_errname says "IOERR"); a request
 * past the end of the disk, not on logical-block boundaries, a write to a
 * read-only device or an operation the device did not offer is refused
 * before it reaches the device, with a message that says which.
 *
 * Concurrency: as for every device (lvio/virtio.h), the caller serialises
 * all calls on one blk; several queues spread the work inside the device,
 * not the calls. Nothing is global: any number of disks coexist.
 */
#ifndef LVIO_BLK_H
#define LVIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "spec/virtio_blk.h"
#include "virtio.h"
#include "virtqueue.h"

/* Request queues used at most (the device may offer more: the rest stay
 * unused). Each costs about 12 KiB of struct lvio_blk. */
#ifndef LVIO_BLK_MAX_QUEUES
#define LVIO_BLK_MAX_QUEUES 4
#endif
/* Chains in flight on one queue at most (each takes a request slot). */
#ifndef LVIO_BLK_SLOTS
#define LVIO_BLK_SLOTS 64
#endif
/* Descriptors asked for each queue (the device's maximum and
 * LVIO_VQ_MAX_SIZE may make it smaller). */
#ifndef LVIO_BLK_QUEUE_SIZE
#define LVIO_BLK_QUEUE_SIZE 256
#endif
/* Data buffers one chain carries at most (the device's seg_max may make
 * it fewer). */
#define LVIO_BLK_SEGS (LVIO_REQ_MAX_BUFS - 4u)
/* Data bytes one chain carries at most: larger requests are split. */
#ifndef LVIO_BLK_CHAIN_BYTES
#define LVIO_BLK_CHAIN_BYTES (4u << 20)
#endif
/* Ranges one discard, write zeroes or secure erase chain carries at most
 * (the device's max_*_seg may make it fewer). */
#define LVIO_BLK_RANGES 4u
/* Largest logical block size driven (a power of two from 512). */
#define LVIO_BLK_MAX_BLOCK (64u * 1024u)
/* Default bound on a blocking helper in nanoseconds. */
#ifndef LVIO_BLK_TIMEOUT_NS
#define LVIO_BLK_TIMEOUT_NS 30000000000ull
#endif

/* The status byte before the device writes it: not a status. */
#define LVIO_BLK_STATUS_NONE 0xffu

/* What a request does (struct lvio_blk_req's `op`). */
enum lvio_blk_op {
    LVIO_BLK_READ = 1,      /* segs <- sectors */
    LVIO_BLK_WRITE,         /* segs -> sectors (refused on a read-only device) */
    LVIO_BLK_FLUSH,         /* completed writes made stable (no data) */
    LVIO_BLK_DISCARD,       /* the device may deallocate; contents undefined */
    LVIO_BLK_WRITE_ZEROES,  /* reads of the range return zeroes */
    LVIO_BLK_SECURE_ERASE,  /* erased beyond recovery */
    LVIO_BLK_GET_ID,        /* the device ID string into segs[0] (>= 20 bytes) */
};

/* struct lvio_blk_req's `flags`. */
#define LVIO_BLK_UNMAP 1u /* write zeroes: the device may deallocate the range */

/* One piece of caller memory of a read or write. */
struct lvio_blk_seg {
    void *buf;      /* set by the caller */
    uint32_t len;   /* bytes, > 0; set by the caller */
    uint64_t addr;  /* set by the driver: its device address while shared */
};

/* A request: the caller's storage, the driver's while it is submitted. */
struct lvio_blk_req {
    /* Set by the caller before lvio_blk_submit. */
    uint8_t op;                 /* enum lvio_blk_op */
    uint8_t flags;              /* LVIO_BLK_UNMAP (write zeroes only), else 0 */
    uint16_t queue;             /* request queue, below blk->nqueues */
    uint64_t sector;            /* first sector (not for flush and get-id: 0) */
    uint64_t sectors;           /* discard, write zeroes, secure erase: how
                                   many sectors; read and write: ignored
                                   (the segments say), others: 0 */
    struct lvio_blk_seg *segs;  /* read, write: the data in order; get-id:
                                   one segment of at least 20 bytes; others:
                                   NULL */
    unsigned nsegs;
    void *token;                /* anything: the caller's */

    /* Set by the driver when the request comes back. */
    int result;                 /* LVIO_OK or a negative lvio_error */
    uint8_t status;             /* the status byte of the chain that failed
                                   (VIRTIO_BLK_S_*, or LVIO_BLK_STATUS_NONE) */
    uint64_t error_sector;      /* first sector of that chain */

    /* Private to the driver from submit to return. */
    struct lvio_blk_req *next_;
    uint64_t total_;            /* bytes of data, or sectors of ranges */
    uint64_t issued_;           /* how much of it is in chains sent */
    uint32_t seg_, seg_off_;    /* where the next chain's data starts */
    uint32_t shared_;           /* segments shared with the device */
    uint16_t chains_;           /* chains with the device */
    uint8_t state_;
};

/* What a chain in flight carries (private). */
struct lvio_blk_chain {
    struct lvio_blk_req *req;
    uint64_t sector;            /* its first sector */
    uint64_t sectors;           /* sectors it covers */
};

/* One request queue (private but for the statistics). */
struct lvio_blk_queue {
    struct lvio_virtqueue vq;
    struct lvio_reqs reqs;      /* slots: header and ranges at +0, status at +88 */
    struct lvio_req_slot slots[LVIO_BLK_SLOTS];
    struct lvio_blk_chain chains[LVIO_BLK_SLOTS];
    struct lvio_blk_req *waiting, *waiting_tail; /* chains still to send */
    unsigned in_flight;         /* requests submitted here, not yet back */
    uint64_t requests;          /* statistics: requests submitted */
    uint64_t chains_sent;       /* and the chains they took */
};

/* A device limit: how many sectors one range may have, how many ranges one
 * request, where splits go (512-byte sectors). */
struct lvio_blk_range_limit {
    bool usable;                /* negotiated, and the limits make sense */
    uint32_t max_sectors;
    uint32_t max_seg;
    uint32_t alignment;
};

struct lvio_blk {
    /* Set by lvio_blk_init(), from the device and its configuration. */
    struct lvio_device *dev;
    unsigned nqueues;           /* queues in use, 1..LVIO_BLK_MAX_QUEUES */
    unsigned device_queues;     /* num_queues the device has (1 without MQ) */
    uint64_t capacity;          /* disk size in 512-byte sectors */
    uint32_t block_size;        /* logical block in bytes (512 without BLK_SIZE) */
    bool read_only;             /* VIRTIO_BLK_F_RO */
    bool writeback;             /* a cache that needs FLUSH to make writes stable */
    bool can_flush;             /* VIRTIO_BLK_F_FLUSH */
    bool can_set_writeback;     /* VIRTIO_BLK_F_CONFIG_WCE */
    uint32_t seg_max;           /* data buffers one chain carries (as used) */
    uint32_t size_max;          /* bytes one buffer carries (as used) */
    struct {
        uint16_t cylinders;
        uint8_t heads, sectors;
    } geometry;                 /* 0s: none */
    struct {
        uint8_t physical_block_exp, alignment_offset;
        uint16_t min_io_size;
        uint32_t opt_io_size;
    } topology;                 /* 0s: none */
    struct lvio_blk_range_limit discard, write_zeroes, secure_erase;
    bool write_zeroes_may_unmap;

    /* May be changed by the caller. */
    uint64_t timeout_ns;        /* bound on each blocking helper */

    /* Driver state. */
    bool plugged;               /* lvio_blk_plug: submissions do not notify */
    unsigned max_queues;        /* as given to init (for a reset) */
    bool up;                    /* queues live (false after teardown or a
                                   reset that could not bring it back) */
    struct lvio_blk_req *done, *done_tail; /* requests back, in order */
    unsigned done_count;
    uint32_t config_changes;    /* configuration change notices handled */
    uint32_t resets;            /* recoveries (lvio_blk_reset, a failed wait) */
    struct lvio_blk_queue q[LVIO_BLK_MAX_QUEUES];
};

/*
 * Bring up the block device `dev` (probed; device id LVIO_VIRTIO_ID_BLOCK):
 * negotiate every feature the driver knows that the device offers (SIZE_MAX,
 * SEG_MAX, GEOMETRY, RO, BLK_SIZE, FLUSH, TOPOLOGY, CONFIG_WCE, MQ, DISCARD,
 * WRITE_ZEROES, SECURE_ERASE; INDIRECT_DESC and EVENT_IDX from the core),
 * read and check the configuration, set up min(max_queues, the device's
 * num_queues, LVIO_BLK_MAX_QUEUES) queues (max_queues 0: as many as
 * possible), DRIVER_OK.
 *
 * The configuration is checked: a blk_size that is not a power of two from
 * 512 to LVIO_BLK_MAX_BLOCK, num_queues 0, seg_max or size_max 0, a
 * capacity whose bytes do not fit 64 bits, or limits with which one
 * logical block cannot go in one chain, is LVIO_E_CONFIG naming the field
 * and value. Advisory fields that make no sense (geometry, topology) are
 * logged and ignored; discard, write zeroes or secure erase limits that
 * make no sense leave that operation unusable (LVIO_E_UNSUPPORTED, saying
 * why), with a warning.
 *
 * Returns 0, LVIO_E_INVAL, LVIO_E_CONFIG or another negative lvio_error of
 * device bring-up; on error the device is left FAILED and everything
 * allocated is freed.
 */
int lvio_blk_init(struct lvio_blk *blk, struct lvio_device *dev, unsigned max_queues);

/*
 * Reset the device and free the driver's DMA pages. Requests still with the
 * driver come back with LVIO_E_STATE (collect them with lvio_blk_done),
 * their buffers unshared — unless the reset never completes (LVIO_E_DEAD):
 * then the device may still use them, and they stay shared and the pages
 * kept (see lvio_device_reset); such requests come back with LVIO_E_DEAD.
 */
void lvio_blk_teardown(struct lvio_blk *blk);

/*
 * Recovery (after LVIO_E_TIMEOUT, LVIO_E_BROKEN or LVIO_E_NEEDS_RESET):
 * reset the device, end every request it still had (for lvio_blk_done:
 * LVIO_E_STATE, not answered; LVIO_E_DEAD when the reset never completed,
 * their buffers then staying shared), and bring it up again on the same
 * device with the same max_queues; requests that had come back stay in the
 * done list. Returns what lvio_blk_init returns; LVIO_E_INVAL if the blk
 * was never initialised.
 */
int lvio_blk_reset(struct lvio_blk *blk);

/*
 * Submit `req` without waiting for it. Checked before anything reaches
 * the device (req->result is set to the same error, nothing is shared):
 *   LVIO_E_INVAL        a bad field: no such op or queue, no data, a
 *                       segment of 0 bytes, a length or sector not on
 *                       logical-block boundaries, a range past the end of
 *                       the disk, flags other than UNMAP on write zeroes,
 *                       a block that would need more buffers than one chain
 *                       carries, or a request already submitted;
 *   LVIO_E_READ_ONLY    a write, discard, write zeroes or secure erase on a
 *                       read-only device;
 *   LVIO_E_UNSUPPORTED  flush, discard, write zeroes or secure erase the
 *                       device did not offer (or offered with unusable
 *                       limits), or no share() in the HAL for a read or
 *                       write;
 *   LVIO_E_STATE        the blk is not up (torn down, failed reset);
 *   an error of share() (nothing stays shared).
 * A flush on a device without a writeback cache (no FLUSH, or CONFIG_WCE
 * with writeback off) has nothing to do: it comes back at once with 0.
 * Returns 0 when the request is the driver's until it comes back, having
 * sent as many of its chains as fit now (the rest go as earlier requests
 * on the queue complete, in lvio_blk_poll); LVIO_E_BROKEN when the queue
 * broke while sending (the request then stays until lvio_blk_reset).
 */
int lvio_blk_submit(struct lvio_blk *blk, struct lvio_blk_req *req);

/*
 * Plugging: between lvio_blk_plug and lvio_blk_unplug, lvio_blk_submit
 * sends its chains without notifying the device; lvio_blk_unplug notifies
 * each queue once for all of them (as does any lvio_blk_poll or
 * lvio_blk_wait meanwhile: a wait never waits for a request the device was
 * not told of). Many requests, one notify a queue. lvio_blk_unplug returns
 * 0, LVIO_E_BROKEN, LVIO_E_STATE (not up: nothing to notify) or
 * LVIO_E_INVAL.
 */
void lvio_blk_plug(struct lvio_blk *blk);
int lvio_blk_unplug(struct lvio_blk *blk);

/*
 * After an interrupt, or now and then when polling: take every completion
 * off every queue, check each answer, send the chains that now fit, and
 * when `isr` has LVIO_VIRTIO_ISR_CONFIG (as lvio_device_isr() returned it,
 * or set by the caller for a configuration vector) re-read the capacity and
 * the cache mode. Requests that came back go to the done list with their
 * result: 0, or
 *   LVIO_E_REFUSED  the device answered IOERR or UNSUPP (req->status);
 *   LVIO_E_DEVICE   a status byte the device never wrote, a status that is
 *                   none of the three, a used length shorter than the
 *                   bytes up to and including the status (modern devices;
 *                   a legacy device's used length means nothing, 5.2.6.3);
 * the message of the last failure (lvio_device_error) names the operation,
 * its sectors, the queue and the chain.
 * Returns the requests now in the done list (0 or more), LVIO_E_BROKEN
 * (a queue broke: its requests stay with the device until lvio_blk_reset),
 * LVIO_E_STATE (not up) or LVIO_E_INVAL. Not for an interrupt handler:
 * call it where the other calls on this blk are made.
 */
int lvio_blk_poll(struct lvio_blk *blk, uint32_t isr);

/* The request that came back first and is not collected yet, taken off
 * the done list (the caller's again, req->result set), or NULL. */
struct lvio_blk_req *lvio_blk_done(struct lvio_blk *blk);

/*
 * Wait until `req` (submitted) comes back, polling, for at most
 * `timeout_ns` by the HAL clock (UINT64_MAX: as long as the clock runs; a
 * clock that stands still ends the wait after LVIO_CLOCK_STALL_POLLS
 * polls); other requests that come back meanwhile stay in the done list.
 * Returns req->result (taking req off the done list). When the time runs
 * out, a queue breaks or the device asks for a reset, the device is reset
 * and brought up again (lvio_blk_reset: every request it had comes back,
 * this one with LVIO_E_TIMEOUT, LVIO_E_BROKEN or LVIO_E_NEEDS_RESET and a
 * message naming it, the queue's indexes and the time waited; the others
 * with LVIO_E_STATE; all of them with LVIO_E_DEAD when that reset never
 * completed: their buffers then stay shared, see lvio_device_reset). `timeout_ns` 0 only looks: LVIO_E_AGAIN (or an error of
 * lvio_blk_poll) while `req` is not back, nothing reset. LVIO_E_INVAL if
 * `req` is not the driver's.
 */
int lvio_blk_wait(struct lvio_blk *blk, struct lvio_blk_req *req, uint64_t timeout_ns);

/*
 * Blocking helpers on queue 0, each bounded by blk->timeout_ns (a timeout
 * resets the device, as lvio_blk_wait says). `buf` of `len` bytes (whole
 * logical blocks) is one segment. Return what lvio_blk_submit or
 * lvio_blk_wait return; the request and `buf` are the caller's again then,
 * except after LVIO_E_DEAD (a reset that never completed): `buf` stays
 * shared, the device may still write it, and it must stay allocated.
 * lvio_blk_get_id writes the ID string, NUL terminated, into `id` (21
 * bytes).
 */
int lvio_blk_read(struct lvio_blk *blk, uint64_t sector, void *buf, uint32_t len);
int lvio_blk_write(struct lvio_blk *blk, uint64_t sector, const void *buf, uint32_t len);
int lvio_blk_flush(struct lvio_blk *blk);
int lvio_blk_discard(struct lvio_blk *blk, uint64_t sector, uint64_t sectors);
int lvio_blk_write_zeroes(struct lvio_blk *blk, uint64_t sector, uint64_t sectors, bool unmap);
int lvio_blk_secure_erase(struct lvio_blk *blk, uint64_t sector, uint64_t sectors);
int lvio_blk_get_id(struct lvio_blk *blk, char id[LVIO_VIRTIO_BLK_ID_BYTES + 1]);

/*
 * With CONFIG_WCE: switch the device's cache to writeback (true) or
 * writethrough (false), and read back what it took (blk->writeback).
 * Returns 0, LVIO_E_UNSUPPORTED (no CONFIG_WCE), LVIO_E_CONFIG (the device
 * did not take it, or reads back neither 0 nor 1), LVIO_E_STATE or
 * LVIO_E_INVAL.
 */
int lvio_blk_set_writeback(struct lvio_blk *blk, bool writeback);

/* Requests submitted and not yet back (in flight or waiting to be sent). */
unsigned lvio_blk_in_flight(const struct lvio_blk *blk);

/* "OK", "IOERR", "UNSUPP"; "none" for LVIO_BLK_STATUS_NONE; else "unknown". */
const char *lvio_blk_status_name(uint8_t status);

/* "read", "write", "flush", "discard", "write-zeroes", "secure-erase",
 * "get-id"; "unknown". */
const char *lvio_blk_op_name(uint8_t op);

/* The name to report for a request that came back: the device's status
 * ("IOERR", "UNSUPP") for LVIO_E_REFUSED, lvio_errname(result) otherwise. */
const char *lvio_blk_errname(const struct lvio_blk_req *req);

#endif
