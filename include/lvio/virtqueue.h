/*
 * Split virtqueue (VIRTIO 1.2, 2.7), non-blocking at its core.
 *
 * Typical usage:
 *
 *     struct lvio_virtqueue vq;                        // caller's storage
 *     lvio_vq_setup(&vq, dev, 0, 0);                   // after lvio_device_begin
 *     ...lvio_device_driver_ok(dev)...
 *
 *     struct lvio_sg out[1] = {{ req_addr, sizeof req }};   // device reads
 *     struct lvio_sg in[1]  = {{ resp_addr, sizeof resp }}; // device writes
 *     lvio_vq_add(&vq, out, 1, in, 1, my_token);       // many may be in flight
 *     lvio_vq_kick(&vq);                               // one notify for all
 *
 *     void *token; uint32_t len;
 *     while (lvio_vq_get(&vq, &token, &len) == 1) ...  // completions, in the
 *                                                      // order the device used them
 *     lvio_vq_wait(&vq, timeout_ns, &token, &len);     // or block, bounded
 *
 *     lvio_device_reset(dev); lvio_vq_teardown(&vq);   // device first, then memory
 *
 * Buffers are given as device addresses (struct lvio_sg). Between add and
 * the matching completion the buffers belong to the device: the caller must
 * neither reuse nor free them.
 *
 * The device is trusted with nothing: the driver keeps a private shadow of
 * every descriptor and never reads the shared table back; a used entry must
 * name the head of a chain that is in flight, the used index may not run
 * ahead of what was made available, and a used length is clamped to the
 * writable bytes offered. A device that breaks these rules marks the queue
 * broken: every later call returns LVIO_E_BROKEN without touching the ring.
 *
 * With VIRTIO_F_INDIRECT_DESC negotiated, a chain of 2 to
 * LVIO_VQ_INDIRECT_MAX buffers takes one ring descriptor pointing at an
 * indirect table (one per ring slot, in the queue's own DMA memory, written
 * and never read back), so a queue of N descriptors carries N requests.
 * With VIRTIO_F_EVENT_IDX negotiated, notifications go both ways by event
 * index (2.7.10): the driver notifies only when the device's avail_event
 * says it waits for this index, and tells the device in used_event up to
 * where it has consumed (used-buffer notifications, see
 * lvio_vq_enable_cb). Both are used whenever the device offers them,
 * unless the caller refused them (dev->features_refused).
 */
#ifndef LVIO_VIRTQUEUE_H
#define LVIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "spec/virtio_ring.h"
#include "virtio.h"

/* Largest queue this build supports; a power of two. It sizes the driver's
 * private shadow inside struct lvio_virtqueue (24 bytes per entry). */
#ifndef LVIO_VQ_MAX_SIZE
#define LVIO_VQ_MAX_SIZE 256
#endif

/* Most buffers one indirect table holds; longer chains use ring
 * descriptors. Each ring slot has a table of this many descriptors (16
 * bytes each) in the queue's DMA memory when INDIRECT_DESC is on. */
#ifndef LVIO_VQ_INDIRECT_MAX
#define LVIO_VQ_INDIRECT_MAX 16
#endif

/* One buffer: device address and length in bytes. */
struct lvio_sg {
    uint64_t addr;
    uint32_t len;
};

/* Per-descriptor driver-private state. */
struct lvio_vq_shadow {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* Per-chain-head driver-private state, valid while the chain is in flight. */
struct lvio_vq_head {
    void *token;       /* the caller's cookie */
    uint32_t writable; /* bytes the device may write into the chain */
    uint16_t ndesc;    /* ring descriptors the chain takes; 0: not in flight */
    uint16_t nbufs;    /* buffers (more than ndesc when indirect) */
};

struct lvio_virtqueue {
    /* Set by lvio_vq_setup(). */
    struct lvio_device *dev;
    uint16_t index;
    uint16_t size;                   /* descriptors, a power of two */
    struct lvio_virtq_desc *desc;    /* CPU pointers into DMA memory */
    struct lvio_virtq_avail *avail;
    struct lvio_virtq_used *used;
    uint64_t desc_addr;              /* device addresses of the three parts */
    uint64_t avail_addr;
    uint64_t used_addr;
    void *mem;                       /* the DMA allocation holding them */
    uint64_t mem_addr;
    uint32_t mem_pages;
    struct lvio_virtqueue *next;     /* the device's next queue (dev->queues) */
    uint32_t notify_off;             /* the transport's: where notifies go */
    bool indirect;                   /* INDIRECT_DESC negotiated */
    bool event_idx;                  /* EVENT_IDX negotiated */
    struct lvio_virtq_desc *tables;  /* indirect tables: LVIO_VQ_INDIRECT_MAX per slot */
    uint64_t tables_addr;
    uint16_t msix_vector;            /* PCI MSI-X vector of its used-buffer
                                        notifications;
                                        LVIO_VIRTIO_MSI_NO_VECTOR: none (INTx,
                                        MMIO, or MSI-X given up later) */

    /* Driver-private ring state; the device never sees it. */
    uint16_t free_head;
    uint16_t num_free;
    uint16_t avail_idx;      /* next avail idx we will publish */
    uint16_t kicked_idx;     /* avail idx at the last notify */
    uint16_t last_used;      /* used idx we have consumed up to */
    int broken;              /* 0, or the error that broke the queue */
    bool cb_off;             /* used-buffer notifications disabled */
    uint64_t kicks;          /* statistics for lvio_dump and benchmarks */
    uint64_t kicks_saved;    /* kicks the device said it did not need */
    uint64_t completions;
    uint64_t indirect_chains;
    uint64_t clamped;        /* used lengths larger than offered */
    struct lvio_vq_shadow shadow[LVIO_VQ_MAX_SIZE];
    struct lvio_vq_head head[LVIO_VQ_MAX_SIZE];
};

/*
 * Create queue `index` of `dev`: choose its size (the largest power of two
 * no larger than the device's maximum, LVIO_VQ_MAX_SIZE and `max_size`
 * when non-zero; a legacy PCI device fixes the size itself, and a fixed
 * size above LVIO_VQ_MAX_SIZE is LVIO_E_QUEUE), allocate its DMA memory
 * from the HAL and give it to the device in the way the transport requires
 * (legacy MMIO: GuestPageSize, QueueNum, QueueAlign, QueuePFN; modern:
 * QueueDesc/Driver/Device, then QueueReady, read back; PCI likewise through
 * its common configuration or legacy registers, and with MSI-X in use the
 * queue's vector, programmed and read back first: see lvio/pci.h). Call between
 * lvio_device_begin() and lvio_device_driver_ok(). Returns 0, LVIO_E_QUEUE
 * (no such queue, already in use, or the device did not accept it),
 * LVIO_E_NOMEM, LVIO_E_RANGE, LVIO_E_LAYOUT (PCI: the queue's notify
 * address is outside the notify structure or odd) or LVIO_E_INVAL. When
 * the device was given the ring's addresses and then did not accept the
 * queue, it is reset before the ring's memory is freed (it may already
 * use the ring): the caller starts again from lvio_device_begin(). If that
 * reset never completes, the result is LVIO_E_DEAD, the message names both
 * failures, and the ring is kept, not freed (see lvio_device_reset).
 */
int lvio_vq_setup(struct lvio_virtqueue *vq, struct lvio_device *dev,
                  uint16_t index, uint16_t max_size);

/*
 * Make a chain available: `n_out` buffers the device reads, then `n_in`
 * buffers it writes. `token` (any value, NULL too) comes back with the
 * completion. The device is not notified until lvio_vq_kick().
 * Returns 0, LVIO_E_NOSPC (wait for completions and retry), LVIO_E_INVAL or
 * LVIO_E_BROKEN.
 */
int lvio_vq_add(struct lvio_virtqueue *vq, const struct lvio_sg *out,
                unsigned n_out, const struct lvio_sg *in, unsigned n_in,
                void *token);

/* Notify the device of everything added since the last kick, unless the
 * device said it does not need it (VIRTQ_USED_F_NO_NOTIFY, or with
 * EVENT_IDX its avail_event). Returns 0, LVIO_E_INVAL or LVIO_E_BROKEN. */
int lvio_vq_kick(struct lvio_virtqueue *vq);

/*
 * Used-buffer notifications (interrupts) for this queue. They are on after
 * setup. lvio_vq_disable_cb asks the device not to send them (a hint: it
 * may send some anyway). lvio_vq_enable_cb asks for them again and then
 * looks at the used ring once more: it returns true when completions are
 * already waiting, which the caller must take with lvio_vq_get (no
 * notification may come for them) — the race-free "enable, then check".
 * With EVENT_IDX, enabling writes used_event, and so does every
 * lvio_vq_get while they are on. Not for NULL or a torn-down queue
 * (returns false / does nothing).
 */
void lvio_vq_disable_cb(struct lvio_virtqueue *vq);
bool lvio_vq_enable_cb(struct lvio_virtqueue *vq);

/*
 * Take the next completion, if any: returns 1 and sets *token and *len
 * (bytes the device wrote, at most what the chain offered); 0 when nothing
 * has completed; LVIO_E_BROKEN when the device broke the rules (now or
 * before). `token` and `len` may be NULL.
 */
int lvio_vq_get(struct lvio_virtqueue *vq, void **token, uint32_t *len);

/*
 * Block until a completion arrives, for at most `timeout_ns` by the HAL
 * clock. Returns 0 with *token and *len set, LVIO_E_TIMEOUT (the device's
 * error message then names the queue, avail idx, used idx and time waited,
 * and says so when the wait ended because the HAL clock stood still for
 * LVIO_CLOCK_STALL_POLLS polls), LVIO_E_NEEDS_RESET, LVIO_E_BROKEN or
 * LVIO_E_INVAL. `timeout_ns` UINT64_MAX waits as long as the clock runs.
 */
int lvio_vq_wait(struct lvio_virtqueue *vq, uint64_t timeout_ns, void **token,
                 uint32_t *len);

/* Free descriptors, and chains added but not yet completed (0 for NULL). */
unsigned lvio_vq_num_free(const struct lvio_virtqueue *vq);
unsigned lvio_vq_in_flight(const struct lvio_virtqueue *vq);

/*
 * Release the queue's DMA memory and forget it. The device must have been
 * reset first (lvio_device_reset), or it might still write there; tokens of
 * chains still in flight are dropped. When that reset never completed
 * (LVIO_E_DEAD, dev->dead) the memory is kept instead of freed, and
 * counted in dev->kept_pages.
 */
void lvio_vq_teardown(struct lvio_virtqueue *vq);

#endif
