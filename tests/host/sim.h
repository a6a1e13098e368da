/*
 * A simulated virtio-mmio device for host tests: a test HAL whose DMA
 * memory lives at device addresses unrelated to its CPU addresses, a
 * register-level model of virtio-mmio Version 1 and Version 2, and a
 * device-side split-ring model that consumes chains and produces used
 * entries, in order or not. The model knows the spec, not our driver: it
 * computes ring placement from what was written to its registers.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvio/lvio.h"

#define SIM_MAX_QUEUES 16 /* a console of 7 ports uses them all */
#define SIM_MAX_ALLOCS 64
#define SIM_MAX_HELD 64
#define SIM_DMA_BASE 0x40000000ull /* first device address handed out */
#define SIM_MMIO_PHYS 0x0a003e00ull
#define SIM_MAX_SHARES 1024
#define SIM_MAX_SHM 4
/* share(): the linear translation adds this to the CPU address ... */
#define SIM_SHARE_OFFSET 0x5000000000000000ull
/* ... the scattered one hands out pages from here (above 4 GiB on purpose). */
#define SIM_SHARE_SCATTER_BASE 0x0000012340000000ull

struct sim_alloc {
    void *cpu;
    uint64_t dev;
    size_t pages;
};

struct sim_queue {
    uint32_t num_max;   /* 0: queue does not exist */
    uint32_t num;
    uint32_t ready;
    uint32_t pfn, align;             /* legacy */
    uint64_t desc, avail, used;      /* device addresses in use */
    uint16_t last_avail;             /* next avail entry to consume */
    uint16_t used_idx;               /* next used entry to produce */
};

/* A chain the device has taken but not yet completed. */
struct sim_held {
    uint16_t queue;
    uint16_t head;
    uint32_t len;
};

/* A buffer the driver shared with share() and has not unshared. */
struct sim_share {
    const void *cpu;
    size_t len;
    uint64_t dev;
    int dir;
};

struct sim;
/* Device behaviour for one chain: fill writable buffers, return bytes written. */
typedef uint32_t (*sim_handler)(struct sim *s, uint16_t queue, uint16_t head);
/* Device behaviour for a write of `width` bytes to configuration offset `off`. */
typedef void (*sim_config_hook)(struct sim *s, uint32_t off, unsigned width, uint32_t v);

struct sim {
    /* The HAL the driver sees; hal.ctx points back here. */
    struct lvio_hal hal;
    uint64_t now;             /* fake clock, ns */
    uint64_t tick;            /* added on each now_ns() call */
    struct sim_alloc allocs[SIM_MAX_ALLOCS];
    uint64_t next_dev;
    int live_pages;           /* pages allocated and not freed */
    int fail_alloc_after;     /* >= 0: that many allocations succeed, then NULL */
    char log[8192];           /* everything logged, for assertions */
    size_t log_len;

    /* share()/unshare() of caller memory. share_run 0: a linear
     * translation (CPU-contiguous stays device-contiguous, but the device
     * address is never the CPU address); n > 0: every share() call gets
     * its own device page from SIM_SHARE_SCATTER_BASE up (keeping the
     * offset in the page), with a one-page gap after every n pages, so
     * only runs of n pages are contiguous for the device. */
    unsigned share_run;
    int share_fail_after;     /* >= 0: that many share() calls succeed, then fail */
    struct sim_share shares[SIM_MAX_SHARES];
    int live_shares;          /* shared and not unshared */
    unsigned shares_made, unshares;
    uint64_t next_share_dev;
    unsigned share_pages_in_run;

    /* Registers. */
    uint8_t regs[0x200];      /* the region the driver maps (address only) */
    uint32_t magic, version, device_id, vendor_id;
    uint64_t features;        /* offered */
    uint64_t driver_features; /* as written */
    uint32_t dev_feat_sel, drv_feat_sel, queue_sel, page_size;
    uint8_t status;
    uint32_t isr;
    uint32_t generation;
    uint8_t config[256];      /* the whole MMIO window (virtio-input's is 136) */
    sim_config_hook config_write; /* NULL: config writes store into config[] */
    void (*on_reset)(struct sim *s); /* device behaviour on a reset (status 0) */
    /* A used-buffer notification on `queue` is due. NULL: set the ISR's
     * queue bit (INTx); the PCI model sends an MSI-X message instead
     * when MSI-X is on. */
    void (*used_irq)(struct sim *s, uint16_t queue);
    uint32_t config_writes;
    /* Called at the start of every sim_step (a device model that does
     * work of its own over time); NULL: none. */
    void (*on_step)(struct sim *s);
    /* Version 2 shared memory regions (SHMSel, SHMLen, SHMBase): region
     * `id` < SIM_MAX_SHM exists when shm_len[id] is not 0. */
    uint64_t shm_base[SIM_MAX_SHM], shm_len[SIM_MAX_SHM];
    uint32_t shm_sel;
    struct sim_queue q[SIM_MAX_QUEUES];
    uint32_t notifies;
    uint32_t interrupts;      /* used-buffer notifications the device sent */
    uint32_t reg_writes;

    /* Behaviour. */
    sim_handler handler;      /* NULL: complete with len 0 */
    bool refuse_features;     /* clear FEATURES_OK when it is written */
    bool never_complete;      /* take chains, never return them */
    bool hold;                /* take chains, return them on sim_release() */
    int complete_budget;      /* >= 0: complete this many chains, then hold */
    bool set_no_notify;       /* device sets VIRTQ_USED_F_NO_NOTIFY */
    uint32_t reset_delay;     /* status reads non-zero this many times after reset */
    bool reset_stuck;         /* a write of 0 to status is ignored: the device
                                 keeps its status and goes on using its queues */
    uint32_t resets_before_stuck; /* with reset_stuck: these resets still work */
    bool refuse_queue;        /* QueueReady / QueuePFN writes do not stick */
    bool raise_needs_reset;   /* DEVICE_NEEDS_RESET appears with FEATURES_OK */
    uint32_t delay_polls;     /* the device ignores this many sim_step()s */
    bool stale_avail_event;   /* with EVENT_IDX, never writes avail_event */
    uint64_t relax_calls;     /* relax() calls so far */
    uint64_t relax_limit;     /* > 0: more relax() calls fail the test (a
                                 runaway wait fails fast instead of hanging) */
    uint32_t generation_flips;/* config generation changes on this many reads */
    bool config_counts;       /* config bytes 0..3 count up on every read of them */
    int bad_used_id;          /* >= 0: next used entry gets this id */
    int64_t len_override;     /* >= 0: report this used len */
    uint16_t used_idx_jump;   /* add to the next used idx update */
    struct sim_held held[SIM_MAX_HELD];
    unsigned nheld;
    bool hold_this;           /* set by a handler: hold this one chain */
    bool take_this;           /* set by a handler: the chain is the handler's,
                                 which completes it later (sim_complete) */

    /* Errors the model noticed in the driver's behaviour. */
    char error[256];
    uint8_t rng_byte;         /* next byte the rng handler produces */
    uint32_t rng_limit;       /* > 0: at most this many bytes per chain */
};

/* Record what the device model saw go wrong in s->error (the first
 * finding is kept; tests assert it stays empty). */
void sim_error(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Device configuration byte order: a modern device's is little-endian, a
 * legacy device's the guest's own (here: the host's). sim_config_value is
 * what a `width`-byte register read of bytes `b` returns; sim_config_bytes
 * stores a value the way the device lays it out (at most `room` bytes).
 */
uint32_t sim_config_value(bool legacy, const uint8_t *b, unsigned width);
void sim_config_bytes(bool legacy, uint32_t v, unsigned width, uint8_t *out, size_t room);

/* Fresh simulator: Version `version` (1 or 2) device of type `device_id`. */
void sim_init(struct sim *s, uint32_t version, uint32_t device_id);

/* Run the device: consume available chains (called from the HAL's relax). */
void sim_step(struct sim *s);

/* Complete chain `head` of `queue` now, reporting `len` bytes written (a
 * device model that keeps chains until it has something for them). */
void sim_push_used(struct sim *s, uint16_t queue, uint16_t head, uint32_t len);
/* Put chain `head` of `queue` in the used ring with length `len`, and
 * notify as the driver asked (a chain a handler took: take_this). */
void sim_complete(struct sim *s, uint16_t queue, uint16_t head, uint32_t len);

/* Complete held chains, last taken first (out of order on purpose). */
void sim_release_reversed(struct sim *s);

/* CPU pointer for a device address range, NULL if not allocated DMA memory. */
void *sim_mem(struct sim *s, uint64_t dev_addr, size_t len);

/* Copy `len` bytes the device reads at `dev_addr` (DMA memory or shared
 * memory, possibly spanning several shares) into `out`; false, and an error
 * noted, if any byte is not device-visible memory. */
bool sim_dev_read(struct sim *s, uint64_t dev_addr, void *out, size_t len);

/* Write `len` bytes from `in` where the device writes, at `dev_addr` (DMA
 * memory or shared memory, as sim_dev_read); false, and an error noted, if
 * any byte is not device-visible memory or is shared for reading only. */
bool sim_dev_write(struct sim *s, uint64_t dev_addr, const void *in, size_t len);

/* The live share() record holding CPU address `cpu`, or NULL. */
const struct sim_share *sim_share_of(const struct sim *s, const void *cpu);

/* Buffer `i` of chain `head` on `queue`: device address, length, flags. */
bool sim_chain_buf(struct sim *s, uint16_t queue, uint16_t head, unsigned i,
                   uint64_t *addr, uint32_t *len, uint16_t *flags);

/* Handler: fills every writable buffer with an incrementing byte pattern. */
uint32_t sim_rng_handler(struct sim *s, uint16_t queue, uint16_t head);

/* Free every DMA allocation still live (memory the library kept for a dead
 * device, or a failed test left), so the sanitizers see no leak. */
void sim_free_dma(struct sim *s);

/* `n` zeroed pages of caller memory for a test (page-aligned host memory,
 * at most 16 allocations live), all freed by sim_pages_release (call it
 * when a test starts, so a failed one leaks nothing). */
uint8_t *sim_pages(size_t n);
void sim_pages_release(void);

/* Probe the simulated device; asserts success. */
void sim_probe(struct sim *s, struct lvio_device *dev);

#endif
