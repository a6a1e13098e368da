/*
 * What every fuzz target shares: a HAL that keeps books, and a hostile
 * virtio-mmio device whose every decision is taken from the fuzzer's input.
 *
 * The HAL
 *   - DMA pages are real, page-aligned host allocations (ASan guards their
 *     ends), from a small budget of pages, at fake device addresses that
 *     are never the CPU address. dma_free must name an allocation exactly.
 *   - share()/unshare() are recorded; unshare must name a live share
 *     exactly (so an unshare built from a list the device rewrote aborts).
 *     The input chooses how device addresses of shares line up
 *     (contiguous or not) and which calls fail.
 *   - map_regs() hands out addresses inside a PROT_NONE reservation, one
 *     range per call of exactly the length asked: the library must go
 *     through reg_read/reg_write, and those abort() on any access that is
 *     not wholly inside one mapped range.
 *   - the clock, as the device's tape chooses (fz_device_misc): advancing
 *     FZ_TICK_NS on every now_ns() call (the start), stopped, slow (down
 *     to a nanosecond a read), fast, running backwards, erratic, or
 *     jumping ahead by up to 2^63 ns or to just before it wraps. Within
 *     one library call (fz_call) it runs for at most FZ_CLOCK_RUN_EVENTS
 *     now_ns() and relax() calls (more while the device said it would
 *     answer late), then stands still: so a wait with any timeout, even
 *     "forever", ends by the library's LVIO_CLOCK_STALL_POLLS bound.
 *     FZ_STALLED_EVENTS more calls and the call is a hang: abort.
 *   - fz_check_waited(): a call that timed out (LVIO_E_TIMEOUT, or
 *     LVIO_E_DEAD for a reset) while the clock went up on every read must
 *     have let its timeout pass by that clock (no wait ends early).
 *   - relax() is where the device acts on its rings.
 *   - while the device ignores a reset (below), freeing or unsharing
 *     anything it was given before aborts: it may still use it.
 *   - fz_finish() checks that every DMA page and share came back, except
 *     what the library kept for a dead device (lvio_device.kept_pages /
 *     kept_shares, which must match exactly); the harness frees that.
 *
 * The device (virtio-mmio, Version 1 or 2) answers registers like a
 * well-behaved device would, unless the input says otherwise: with
 * hostile_regs set, every register read takes one opcode byte from the
 * input that either keeps the model's answer or replaces it (see
 * fz_perturb). Its rings are found through the registers, as a real
 * device finds them, and only through device addresses. On the tape's
 * word it also
 *   - ignores writes of 0 to status (for a window of resets the header or
 *     the tape chooses): status keeps reading what it was, the queues stay
 *     live and the device goes on serving them (a zombie). The ignored
 *     reset completes when the tape says so, or when the driver is told
 *     status 0 (a hostile register read). After the input, a zombie
 *     device acts once more on everything it still has, to show that the
 *     memory kept for it is still there;
 *   - scribbles on what the driver wrote and gave it: any byte of the
 *     descriptor table or avail ring (after which its own reading of them
 *     is unreliable, lied, and it reads and writes wherever the rewritten
 *     descriptors point in live DMA memory or shares, as a device that
 *     writes where it likes), and, in scribble mode, every chain it takes:
 *     its descriptors, its avail slot, its readable buffers (requests, the
 *     GPU's backing list) and, for the GPU, the pixels a transfer reads;
 *   - answers late: sits out up to 2^15 relax() calls (in all, per input);
 *   - answers every chain with length 0, from a tape decision on, also
 *     once the tape has run out;
 *   - lies about chains (made-up used entries, index jumps), holds chains
 *     and completes them out of order, raises DEVICE_NEEDS_RESET and
 *     configuration changes.
 *
 * An input is two tapes: the first two bytes (little-endian) say how long
 * the harness's tape is; it follows, and the rest is the device's tape.
 * The harness's tape holds the setup and the driver calls to make
 * (including their timeouts: 0, a few ticks, or up to UINT64_MAX), the
 * device's tape every decision the device takes (register opcodes, what to
 * do on each relax, how to answer each chain). Each decision takes the next
 * bytes; when the device's tape runs out, the device behaves (answers
 * everything correctly, unless told to answer 0 bytes for good), so an
 * input that is all harness tape already goes all the way through the
 * driver with a well-behaved device.
 */
#ifndef FUZZ_DEV_H
#define FUZZ_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvio/lvio.h"

#define FZ_TICK_NS 1000000ull      /* clock advance per now_ns() call, at first */
/* now_ns() and relax() calls in one library call while the clock runs
 * (plus what the device's late answers add), and after it stopped. */
#define FZ_CLOCK_RUN_EVENTS 256u
#define FZ_STALLED_EVENTS 16384u
#define FZ_MAX_DMA 64              /* live DMA allocations at once */
#define FZ_DMA_PAGE_BUDGET 96      /* pages live at once; more is NOMEM */
#define FZ_MAX_SHARES 512
#define FZ_MAX_MAPS 16
#define FZ_MAX_QUEUES 8
#define FZ_MAX_HELD 64
#define FZ_MAX_CHAIN 132           /* descriptors the device follows in one chain (a
                                      block request: LVIO_REQ_MAX_BUFS) */
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
    uint64_t birth;     /* fz.births when it was made */
};

struct fz_share {
    const void *cpu;    /* NULL: slot unused */
    size_t len;
    int dir;
    uint64_t dev;
    uint64_t birth;
};

/* The clock's behaviour (fz.clock). */
enum fz_clock {
    FZ_CLOCK_TICK,      /* + fz.tick per read */
    FZ_CLOCK_STOPPED,
    FZ_CLOCK_BACKWARDS, /* - fz.tick per read (wrapping) */
    FZ_CLOCK_ERRATIC,   /* any reading */
};

/* What the device overwrites on every chain it takes (fz.scribble). */
#define FZ_SCRIBBLE_DESC 1u     /* the chain's descriptors */
#define FZ_SCRIBBLE_AVAIL 2u    /* its avail ring slot, and the ring's flags */
#define FZ_SCRIBBLE_READABLE 4u /* its readable buffers */
#define FZ_SCRIBBLE_BACKING 8u  /* what it names indirectly (GPU: the pixels) */

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
    uint16_t desc;              /* its descriptor */
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

    /* the clock */
    uint64_t now;
    uint8_t clock;              /* enum fz_clock */
    uint64_t tick;

    /* The library call in progress (fz_call): its name, the now_ns() and
     * relax() calls it made, what late answers added to the clock's run,
     * the clock when it began, and whether the clock went up on every
     * read since. */
    const char *call;
    uint64_t call_events, call_allow, call_now0;
    bool call_clock_ran;

    /* Statistics, also used to check "fails fast" (no register access,
     * no relax) after a queue broke. */
    uint64_t relax_calls, reg_reads, reg_writes, notifies;

    /* The device the library drives (fz_watch): what it kept for a dead
     * device is not a leak. */
    const struct lvio_device *dev;

    /* DMA */
    uint64_t births;            /* allocations and shares made so far */
    struct fz_dma dma[FZ_MAX_DMA];
    unsigned dma_hi;            /* slots ever used: lookups scan [0, dma_hi) */
    uint64_t dma_base;
    uint64_t dma_count;         /* allocations made (device address spacing) */
    uint32_t dma_fail_mask;     /* bit k: the k-th dma_alloc fails */
    unsigned dma_pages_live;

    /* shares */
    struct fz_share shares[FZ_MAX_SHARES];
    unsigned shares_hi;         /* slots ever used: lookups scan [0, shares_hi) */
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
    /* Version 2's shared memory region `shm_id` (set by the target; len
     * 0: none) and SHMSel as written. */
    uint8_t shm_id;
    uint64_t shm_base, shm_len;
    uint32_t shm_sel;
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
    uint32_t delay;             /* relax() calls the device still sits out */
    uint32_t delay_left;        /* what later delays may still add up to */
    bool empty_answers;         /* every chain is answered with length 0 */
    uint8_t scribble;           /* FZ_SCRIBBLE_* on every chain taken */
    uint8_t scribble_byte;      /* with what */

    /* Resets: status-0 writes number resets, from 0. Those in
     * [refuse_first, refuse_end) are ignored: the device is a zombie until
     * a reset completes (fz_reset_done), and whatever was born before
     * zombie_since it may still use. */
    uint32_t resets, refuse_first, refuse_end;
    bool zombie;
    uint64_t zombie_since;
    void (*on_reset)(struct fz *f); /* the target's device state, on a reset */
    void *priv;                 /* target's own state */

    /* Which chain head owns each descriptor while the device holds it
     * (head + 1), to catch a descriptor reused while its chain is in
     * flight. */
    uint16_t owner[FZ_MAX_QUEUES][LVIO_VQ_MAX_SIZE];
    uint16_t owner_next[FZ_MAX_QUEUES][LVIO_VQ_MAX_SIZE]; /* the chain's next one */
    /* Set once the device said something false about a chain (a used
     * entry for a chain it never took, an index jump): the driver's view
     * and the device's part ways, so the bookkeeping checks stop. */
    bool lied;
};

/* Start an input: zero everything, fill the HAL. The caller then sets the
 * device model's fields (version, device_id, features, queues...). */
void fz_init(struct fz *f, const uint8_t *data, size_t size);

/* The standard header most targets start with: one byte of flags (1:
 * Version 1; 2: hostile registers; 4: DMA at 16 TiB; bits 3-4: 3 refuse
 * FEATURES_OK, 1 ignore every reset after the first, 2 ignore the second
 * reset only; bits 5-7 % 3: share layout linear, scattered, by pattern),
 * DMA failure, share failure, and the share pattern (layout 2). */
void fz_read_common_header(struct fz *f);
/* Every target's start: fz_init, fz_watch(dev), the common header, and the
 * device's id. */
void fz_start(struct fz *f, struct lvio_device *dev, const uint8_t *data, size_t size,
              uint32_t device_id);

/* The device whose kept memory (dead device) fz_finish accepts. */
void fz_watch(struct fz *f, const struct lvio_device *dev);

/* A library call `name` begins: the clock's run and the hang bound start
 * again (see the HAL above). Call before every library call that may wait. */
void fz_call(struct fz *f, const char *name);

/* After the call: when it timed out (LVIO_E_TIMEOUT for a wait of
 * `timeout` ns, LVIO_E_DEAD for a reset) while the clock went up on every
 * read, that much time must have passed by it. */
void fz_check_waited(struct fz *f, int rv, uint64_t timeout);

/* A timeout the harness's tape chooses from one byte: a few ticks, or
 * (bytes 0xf8 and up) 0, 1 ns, a tick less 1 ns, 2^32, 2^63, UINT64_MAX
 * less a tick, UINT64_MAX - 1 or UINT64_MAX. `ticks` bounds the first. */
uint64_t fz_timeout(uint8_t b, unsigned ticks);

/* A write of 0 to status: true when the device ignores it (it becomes, or
 * stays, a zombie); false when it is to reset now. */
bool fz_reset_ignored(struct fz *f);
/* The device has reset (status reads 0): it is no zombie any more. */
void fz_reset_done(struct fz *f);
/* The driver read `status` from the status register: being told 0, it
 * may take the reset as done, so an ignored one is done now (true). */
bool fz_status_told(struct fz *f, uint32_t status);

/* End of an input: everything the library allocated or shared must have
 * been given back, except what it kept for a dead device (abort
 * otherwise); a zombie device acts once more first; frees everything. */
void fz_finish(struct fz *f);

/* Abort with a message: a property was violated. */
void fz_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* The device's view of what the driver gave it can be trusted: it has not
 * lied about a chain and its registers are not hostile. FZ_TRUSTED_RULE aborts
 * with a message only then (a rule of what the driver must give). */
static inline bool fz_trusted(const struct fz *f)
{
    return !f->lied && !f->hostile_regs;
}
#define FZ_TRUSTED_RULE(f, ...)                                                \
    do {                                                                       \
        if (fz_trusted(f))                                                     \
            fz_die(__VA_ARGS__);                                               \
    } while (0)

/* How the device answers a chain it only reads (a frame, data sent), as
 * the tape says: at once with length 0 (also once the tape ran out), held
 * to be answered later (f->hold_this), or with any length. */
uint32_t fz_read_answer(struct fz *f);

/* A little-endian 16-bit value in a buffer of the device's. */
static inline void fz_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline uint16_t fz_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
/* 32- and 64-bit ones. */
static inline void fz_put_le32(uint8_t *p, uint32_t v)
{
    fz_put_le16(p, (uint16_t)v);
    fz_put_le16(p + 2, (uint16_t)(v >> 16));
}
static inline uint32_t fz_get_le32(const uint8_t *p)
{
    return fz_get_le16(p) | (uint32_t)fz_get_le16(p + 2) << 16;
}
static inline void fz_put_le64(uint8_t *p, uint64_t v)
{
    fz_put_le32(p, (uint32_t)v);
    fz_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t fz_get_le64(const uint8_t *p)
{
    return fz_get_le32(p) | (uint64_t)fz_get_le32(p + 4) << 32;
}

/* Harness-owned DMA buffer (not counted as the library's). */
void *fz_harness_dma(struct fz *f, size_t pages, uint64_t *dev);

/* CPU pointer for `len` bytes at device address `addr` inside one DMA
 * allocation or one share; NULL if there is none. */
uint8_t *fz_dev_ptr(struct fz *f, uint64_t addr, uint64_t len);
/* Write `v` over [addr, addr+len) through every region it lies in (as the
 * device would); false where it is not live memory. */
bool fz_dev_fill(struct fz *f, uint64_t addr, uint64_t len, uint8_t v);
/* Every byte of [addr, addr+len) is live DMA memory or a live share
 * (possibly several adjacent ones). */
bool fz_dev_covered(struct fz *f, uint64_t addr, uint64_t len);
/* Bytes of the caller's [p, p + n) that live shares cover. */
size_t fz_shared_bytes(const struct fz *f, const uint8_t *p, size_t n);

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

/* The end of a device's life as a driver has it: reset (LVIO_OK, or
 * LVIO_E_DEAD with dev->dead set), then tear down the queues whose `up` is
 * set (kept, not freed, when dead). */
void fz_reset_teardown(struct lvio_device *dev, struct lvio_virtqueue *vq, const bool *up,
                       unsigned n);

/* The log sink: checks each line is a bounded C string. */
void fz_log(void *ctx, enum lvio_log_level level, const char *line);
/* Check the device's error message is a bounded C string. */
void fz_check_errmsg(const struct lvio_device *dev);

#endif
