/*
 * What every fuzz target shares: a HAL that keeps books, and a hostile
 * virtio-mmio device whose every decision is taken from the fuzzer's input.
 *
 * The HAL
 *   - DMA pages are real, page-aligned host allocations (ASan guards their
 *     ends), from a small budget of pages, at fake device addresses that
 *     are never the CPU address. dma_free must name an allocation exactly.
 *   - share()/unshare() are recorded; unshare must name a live share
 *     exactly. The input chooses how device addresses of shares line up
 *     (contiguous or not) and which calls fail.
 *   - map_regs() hands out addresses inside a PROT_NONE reservation, one
 *     range per call of exactly the length asked: the library must go
 *     through reg_read/reg_write, and those abort() on any access that is
 *     not wholly inside one mapped range.
 *   - the clock advances FZ_TICK_NS on every now_ns() call, so every
 *     bounded wait ends after a few polls.
 *   - relax() is where the device acts on its rings.
 *   - fz_finish() checks that every DMA page and share came back.
 *
 * The device (virtio-mmio, Version 1 or 2) answers registers like a
 * well-behaved device would, unless the input says otherwise: with
 * hostile_regs set, every register read takes one opcode byte from the
 * input that either keeps the model's answer or replaces it (see
 * fz_perturb). Its rings are found through the registers, as a real
 * device finds them, and only through device addresses.
 *
 * An input is two tapes: the first two bytes (little-endian) say how long
 * the harness's tape is; it follows, and the rest is the device's tape.
 * The harness's tape holds the setup and the driver calls to make, the
 * device's tape every decision the device takes (register opcodes, what to
 * do on each relax, how to answer each chain). Each decision takes the next
 * bytes; when the device's tape runs out, the device behaves (answers
 * everything correctly), so an input that is all harness tape already goes
 * all the way through the driver with a well-behaved device.
 */
#ifndef FUZZ_DEV_H
#define FUZZ_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvio/lvio.h"

#define FZ_TICK_NS 1000000ull      /* clock advance per now_ns() call */
#define FZ_MAX_DMA 64              /* live DMA allocations at once */
#define FZ_DMA_PAGE_BUDGET 96      /* pages live at once; more is NOMEM */
#define FZ_MAX_SHARES 512
#define FZ_MAX_MAPS 16
#define FZ_MAX_QUEUES 8
#define FZ_MAX_HELD 64
#define FZ_MAX_CHAIN 64            /* descriptors the device follows in one chain */
#define FZ_MMIO_PHYS 0x0a003e00ull

/* Device addresses: DMA allocations are spaced 1 MiB apart from the base
 * (each fits), shares come from their own ranges. */
#define FZ_DMA_BASE_LOW 0x40000000ull
#define FZ_DMA_BASE_16TIB 0x00000ffffff00000ull /* 2nd allocation is at 16 TiB */
#define FZ_DMA_STRIDE 0x100000ull
#define FZ_SHARE_LINEAR 0x5000000000000000ull   /* + CPU address */
#define FZ_SHARE_SCATTER 0x0000012340000000ull

/* The input, consumed front to back. Reads past the end give zeros. */
struct fz_tape {
    const uint8_t *p;
    size_t n, pos;
};

bool fz_empty(const struct fz_tape *t);
uint8_t fz_u8(struct fz_tape *t);
uint16_t fz_u16(struct fz_tape *t);
uint32_t fz_u32(struct fz_tape *t);
uint64_t fz_u64(struct fz_tape *t);
/* Copy up to `n` bytes (zeros past the end). */
void fz_bytes(struct fz_tape *t, void *out, size_t n);

struct fz_dma {
    void *cpu;          /* NULL: slot unused */
    uint64_t dev;
    size_t pages;
    bool harness;       /* the harness's own buffers, not the library's */
};

struct fz_share {
    const void *cpu;    /* NULL: slot unused */
    size_t len;
    int dir;
    uint64_t dev;
};

struct fz_map {
    uint64_t phys;
    size_t len;
    uintptr_t base;     /* CPU address handed out */
};

/* The device's view of one queue, as programmed through the registers. */
struct fz_queue {
    uint32_t num_max;           /* 0: no such queue */
    uint32_t num, ready, pfn, align;
    uint64_t desc, avail, used; /* device addresses */
    uint16_t last_avail;        /* next avail entry to take */
    uint16_t used_idx;          /* next used entry to write */
};

/* One buffer of a chain, as the device reads it. */
struct fz_buf {
    uint64_t addr;
    uint32_t len;
    bool write;
    uint8_t *cpu;               /* where it is, when it is one DMA region */
};

struct fz_chain {
    uint16_t queue, head;
    unsigned n;
    struct fz_buf buf[FZ_MAX_CHAIN];
};

/* A chain the device took and has not completed yet. */
struct fz_held {
    uint16_t queue, head;
    uint32_t len;
};

struct fz;
/* Device behaviour for a chain it takes: fill the writable buffers,
 * return the length to report. May set fz->hold_this to keep the chain
 * and complete it later (out of order). */
typedef uint32_t (*fz_service_fn)(struct fz *f, struct fz_chain *c);
/* A register access to a mapped range `map` at offset `off` (register
 * model). */
typedef uint32_t (*fz_regread_fn)(struct fz *f, unsigned map, uint64_t off, unsigned width);
typedef void (*fz_regwrite_fn)(struct fz *f, unsigned map, uint64_t off, unsigned width,
                               uint32_t v);

struct fz {
    struct lvio_hal hal;        /* what the library gets; hal.ctx is this */
    struct fz_tape h;           /* the harness's tape: setup, driver calls */
    struct fz_tape t;           /* the device's tape: its decisions */
    bool hostile_regs;          /* every register read takes an opcode */
    uint64_t now;

    /* Statistics, also used to check "fails fast" (no register access,
     * no relax) after a queue broke. */
    uint64_t relax_calls, reg_reads, reg_writes, notifies;

    /* DMA */
    struct fz_dma dma[FZ_MAX_DMA];
    uint64_t dma_base;
    uint64_t dma_count;         /* allocations made (device address spacing) */
    uint32_t dma_fail_mask;     /* bit k: the k-th dma_alloc fails */
    unsigned dma_pages_live;

    /* shares */
    struct fz_share shares[FZ_MAX_SHARES];
    unsigned shares_live;
    unsigned share_count;
    uint64_t share_fail_mask;   /* bit k (k < 64): the k-th share fails */
    uint8_t share_mode;         /* 0 linear, 1 scattered, 2 by share_pattern */
    uint64_t share_pattern;     /* mode 2, bit k: contiguous with the last one */
    uint64_t share_next;        /* scattered: next device address */

    /* register ranges handed out by map_regs */
    struct fz_map maps[FZ_MAX_MAPS];
    unsigned nmaps;
    uintptr_t map_next;
    bool map_fail;              /* map_regs returns NULL */
    fz_regread_fn reg_read;     /* default: the mmio model */
    fz_regwrite_fn reg_write;

    /* the mmio device model */
    uint32_t version, device_id, vendor_id;
    uint64_t features;          /* offered */
    uint64_t driver_features;
    bool refuse_features;       /* FEATURES_OK does not stick */
    uint32_t dfsel, gfsel, qsel, page_size;
    uint8_t status;
    bool needs_reset;           /* DEVICE_NEEDS_RESET raised by the device */
    uint32_t isr, generation;
    uint8_t config[256];
    void (*config_write)(struct fz *f, uint32_t off, unsigned width, uint32_t v);
    struct fz_queue q[FZ_MAX_QUEUES];
    uint32_t told_num_max[FZ_MAX_QUEUES]; /* QueueNumMax as last read by the driver */
    bool no_notify;             /* set VIRTQ_USED_F_NO_NOTIFY in used rings */

    /* ring behaviour */
    fz_service_fn service;
    struct fz_held held[FZ_MAX_HELD];
    unsigned nheld;
    bool hold_this;
    bool quiet;                 /* relax does nothing (a device that stalls) */
    void (*on_reset)(struct fz *f); /* the target's device state, on a reset */
    void *priv;                 /* target's own state */

    /* Which chain head owns each descriptor while the device holds it
     * (head + 1), to catch a descriptor reused while its chain is in
     * flight. */
    uint16_t owner[FZ_MAX_QUEUES][LVIO_VQ_MAX_SIZE];
    /* Set once the device said something false about a chain (a used
     * entry for a chain it never took, an index jump): the driver's view
     * and the device's part ways, so the bookkeeping checks stop. */
    bool lied;
};

/* Start an input: zero everything, fill the HAL. The caller then sets the
 * device model's fields (version, device_id, features, queues...). */
void fz_init(struct fz *f, const uint8_t *data, size_t size);

/* The standard header most targets start with: version, hostile
 * registers, DMA base, DMA and share failures, share layout, queue sizes. */
void fz_read_common_header(struct fz *f);

/* End of an input: everything the library allocated or shared must have
 * been given back (abort otherwise); frees the harness's leftovers. */
void fz_finish(struct fz *f);

/* Abort with a message: a property was violated. */
void fz_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Harness-owned DMA buffer (not counted as the library's). */
void *fz_harness_dma(struct fz *f, size_t pages, uint64_t *dev);

/* CPU pointer for `len` bytes at device address `addr` inside one DMA
 * allocation or one share; NULL if there is none. */
uint8_t *fz_dev_ptr(struct fz *f, uint64_t addr, uint64_t len);
/* Every byte of [addr, addr+len) is live DMA memory or a live share
 * (possibly several adjacent ones). */
bool fz_dev_covered(struct fz *f, uint64_t addr, uint64_t len);

/* Map a register range (as map_regs does) and return its index. */
int fz_map_regs(struct fz *f, uint64_t phys, size_t len);

/* The device acts once (what relax() does): one tape decision. */
void fz_device_step(struct fz *f);
/* Take the next available chain on queue `qi` (false if none). */
bool fz_take_chain(struct fz *f, unsigned qi, struct fz_chain *c);
/* Write a used entry and publish it. */
void fz_push_used(struct fz *f, unsigned qi, uint32_t id, uint32_t len);
/* Is queue `qi` live on the device (set up, not reset)? */
bool fz_queue_live(const struct fz *f, unsigned qi);

/* A 4-byte little-endian value in the config space. */
void fz_config_put32(struct fz *f, uint32_t off, uint32_t v);
uint32_t fz_config_get32(const struct fz *f, uint32_t off);

/* Apply the hostile-register opcode (one tape byte) to a model value. */
uint32_t fz_perturb(struct fz *f, uint32_t model, unsigned width);

/* Abort unless `rv` is one of the `n` values in `ok`: what `call`
 * documents. FZ_EXPECT(call, rv, LVIO_OK, LVIO_E_...) lists them inline. */
void fz_expect(const char *call, int rv, const int *ok, unsigned n);
#define FZ_EXPECT(call, rv, ...)                                                             \
    do {                                                                                     \
        static const int ok_[] = {__VA_ARGS__};                                              \
        fz_expect(call, rv, ok_, sizeof ok_ / sizeof ok_[0]);                                \
    } while (0)

/* After lvio_vq_setup returned `rv`: false when the device was reset (a
 * queue it did not accept after it was given the ring), so the driver
 * must start again; a reset with success is a finding. Freeing a ring the
 * device still holds is caught by fz_finish. */
bool fz_driver_still_on(const struct lvio_device *dev, int rv);

/* The end of a device's life as a driver has it: reset (LVIO_OK or
 * LVIO_E_TIMEOUT), then tear down the queues whose `up` is set. */
void fz_reset_teardown(struct lvio_device *dev, struct lvio_virtqueue *vq, const bool *up,
                       unsigned n);

/* The log sink: checks each line is a bounded C string. */
void fz_log(void *ctx, enum lvio_log_level level, const char *line);
/* Check the device's error message is a bounded C string. */
void fz_check_errmsg(const struct lvio_device *dev);

#endif
