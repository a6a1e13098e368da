/*
 * Library-private declarations: the transport interface, register access,
 * memory barriers, logging. Not installed, not for users.
 */
#ifndef LVIO_INTERNAL_H
#define LVIO_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvio/virtio.h"
#include "lvio/virtqueue.h"

/* Provided by every kernel (and the host's libc). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/*
 * Unsigned 64-bit division that needs no compiler helper (div64.c): on a
 * 32-bit target `/` and `%` of uint64_t call __udivdi3 / __umoddi3, which
 * the library does not ask its users for. Every 64-bit `/` and `%` in src/
 * with a divisor that is not a constant goes through these; 64-bit targets
 * keep the CPU's own division. lvio_div64_soft: n / d, the remainder in
 * *rem unless rem is NULL; d must not be 0 (it gives UINT64_MAX, rem n).
 */
uint64_t lvio_div64_soft(uint64_t n, uint64_t d, uint64_t *rem);

static inline uint64_t lvio_divmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
#if UINTPTR_MAX > 0xffffffffu
    *rem = n % d;
    return n / d;
#else
    return lvio_div64_soft(n, d, rem);
#endif
}

static inline uint64_t lvio_div64(uint64_t n, uint64_t d)
{
#if UINTPTR_MAX > 0xffffffffu
    return n / d;
#else
    return lvio_div64_soft(n, d, NULL);
#endif
}

static inline uint64_t lvio_mod64(uint64_t n, uint64_t d)
{
#if UINTPTR_MAX > 0xffffffffu
    return n % d;
#else
    uint64_t rem;
    (void)lvio_div64_soft(n, d, &rem);
    return rem;
#endif
}

/* Where a queue lives, as a transport gives it to the device: its index,
 * its size and the device addresses of its three parts. The transport
 * knows nothing else of the ring. */
struct lvio_queue_place {
    uint16_t index;
    uint16_t size;
    uint64_t desc, avail, used;
};

/*
 * What the core needs from a transport. Every function is given a device
 * the transport's probe filled in.
 */
struct lvio_transport_ops {
    const char *name;
    uint8_t (*get_status)(struct lvio_device *dev);
    void (*set_status)(struct lvio_device *dev, uint8_t status);
    /* Feature word `sel` (bits 32*sel .. 32*sel+31); 0 for absent words. */
    uint32_t (*get_features)(struct lvio_device *dev, uint32_t sel);
    void (*set_features)(struct lvio_device *dev, uint32_t sel, uint32_t val);
    /* Number of feature words the transport can carry (legacy: 1). */
    uint32_t feature_words;
    /* The device fixes each queue's size at its maximum (legacy PCI). */
    bool queue_size_fixed;
    /* Generation counter; transports without one return 0. */
    uint32_t (*config_generation)(struct lvio_device *dev);
    /* Read `width` (1, 2 or 4) bytes of config at `off`, as device bytes. */
    void (*config_read)(struct lvio_device *dev, uint32_t off, unsigned width,
                        uint8_t *out);
    /* Write `width` (1, 2 or 4) bytes of config at `off`, given as device bytes. */
    void (*config_write)(struct lvio_device *dev, uint32_t off, unsigned width,
                         const uint8_t *in);
    /* Queue size limit into *max; LVIO_E_QUEUE (message set) when the
     * queue does not exist or is already in use. */
    int (*queue_max)(struct lvio_device *dev, uint16_t index, uint32_t *max);
    /* Hand the queue's memory to the device; 0 or a negative error.
     * *notify_off is the transport's own note of where this queue's
     * notifications go (PCI: the offset in the notify structure), given
     * back to notify. */
    int (*queue_enable)(struct lvio_device *dev, const struct lvio_queue_place *q,
                        uint32_t *notify_off);
    /* Tell the device queue `index` has new buffers. Called by lvio_vq_kick
     * after its full barrier: the ring is visible to the device already,
     * so transports add none of their own. */
    void (*notify)(struct lvio_device *dev, uint16_t index, uint32_t notify_off);
    uint32_t (*isr)(struct lvio_device *dev); /* read and acknowledge */
    /* Interrupts beyond the ISR status (PCI MSI-X); NULL for transports
     * that have only the ISR (MMIO). irq_setup: called by
     * lvio_device_begin once the features are settled; sets dev->irq_mode
     * and programs the configuration vector, or makes sure the device
     * does not use MSI-X. queue_vector: called by lvio_vq_setup before
     * queue_enable; programs queue `index`'s vector and returns it, or
     * LVIO_VIRTIO_MSI_NO_VECTOR (none, or MSI-X given up: irq_mode is then
     * INTx). Neither fails the device. msix_isr and msix_vectors answer
     * lvio_device_msix_isr and lvio_device_msix_vectors from memory. */
    void (*irq_setup)(struct lvio_device *dev);
    uint16_t (*queue_vector)(struct lvio_device *dev, uint16_t index);
    uint32_t (*msix_isr)(const struct lvio_device *dev, uint16_t vector);
    unsigned (*msix_vectors)(const struct lvio_device *dev);
    /* Transport part of lvio_dump(). */
    void (*dump)(struct lvio_device *dev);
    /* Shared memory region `id` (lvio_device_shm); NULL: the transport
     * has none (LVIO_E_NODEV). */
    int (*shm)(struct lvio_device *dev, uint8_t id, uint64_t *addr, uint64_t *len);
};

/* --- register access through the HAL (or plain volatile accesses) --- */
/*
 * Transports reach their registers only through these, so that a HAL can
 * trap them (tests, fuzzers, hypervisors) and the trace hook sees writes.
 * `width` is 1, 2 or 4; values are in CPU order. Device registers are
 * little-endian (virtio-mmio, the PCI capabilities and configuration space,
 * the legacy I/O block): the plain accesses convert, as Linux's readl and
 * writel do, so a big-endian CPU reads the numbers the device means. A
 * legacy device's configuration is in the guest's order as such a
 * converting access returns it (lvio_config_split / lvio_config_join).
 */
/*
 * One load or store of a register, as one instruction a hypervisor can
 * emulate from the fault it takes: on aarch64 a plain ldr/str with a base
 * register (a compiler may otherwise pick a form with writeback, which
 * gives the hypervisor no syndrome to decode); elsewhere a volatile access.
 */
#if defined(__aarch64__)
#define LVIO_RAW_READ(bits, insn)                                              \
    static inline uint##bits##_t lvio_raw_read##bits(const volatile void *a)   \
    {                                                                          \
        uint32_t v;                                                            \
        __asm__ volatile(insn " %w0, [%1]" : "=r"(v) : "r"(a) : "memory");     \
        return (uint##bits##_t)v;                                              \
    }
#define LVIO_RAW_WRITE(bits, insn)                                             \
    static inline void lvio_raw_write##bits(volatile void *a, uint##bits##_t v) \
    {                                                                          \
        __asm__ volatile(insn " %w0, [%1]" : : "rZ"((uint32_t)v), "r"(a)       \
                         : "memory");                                          \
    }
LVIO_RAW_READ(8, "ldrb")
LVIO_RAW_READ(16, "ldrh")
LVIO_RAW_READ(32, "ldr")
LVIO_RAW_WRITE(8, "strb")
LVIO_RAW_WRITE(16, "strh")
LVIO_RAW_WRITE(32, "str")
#else
#define LVIO_RAW_ACCESS(bits)                                                  \
    static inline uint##bits##_t lvio_raw_read##bits(const volatile void *a)   \
    {                                                                          \
        return *(const volatile uint##bits##_t *)a;                            \
    }                                                                          \
    static inline void lvio_raw_write##bits(volatile void *a, uint##bits##_t v) \
    {                                                                          \
        *(volatile uint##bits##_t *)a = v;                                     \
    }
LVIO_RAW_ACCESS(8)
LVIO_RAW_ACCESS(16)
LVIO_RAW_ACCESS(32)
#endif

static inline uint32_t lvio_io_read(struct lvio_device *dev,
                                    volatile void *addr, unsigned width)
{
    if (dev->hal->reg_read)
        return dev->hal->reg_read(dev->hal->ctx, addr, width);
    if (width == 1)
        return lvio_raw_read8(addr);
    if (width == 2)
        return lvio_le16_to_cpu(lvio_raw_read16(addr));
    return lvio_le32_to_cpu(lvio_raw_read32(addr));
}

void lvio_trace_emit(struct lvio_device *dev, enum lvio_trace_kind kind,
                     uint32_t offset, uint32_t value, uint16_t queue,
                     uint32_t id, uint32_t len);

/* `offset` only names the register for the trace hook. */
static inline void lvio_io_write(struct lvio_device *dev, volatile void *addr,
                                 unsigned width, uint32_t val, uint32_t offset)
{
    if (dev->trace)
        lvio_trace_emit(dev, LVIO_TRACE_REG_WRITE, offset, val, 0, 0, 0);
    if (dev->hal->reg_write)
        dev->hal->reg_write(dev->hal->ctx, addr, width, val);
    else if (width == 1)
        lvio_raw_write8(addr, (uint8_t)val);
    else if (width == 2)
        lvio_raw_write16(addr, lvio_cpu_to_le16((uint16_t)val));
    else
        lvio_raw_write32(addr, lvio_cpu_to_le32(val));
}

/* --- memory barriers --------------------------------------------------- */
/*
 * The device is another agent reading and writing shared memory, possibly
 * on another host CPU, and the notify is a register write: ordering has to
 * hold against both. lvio_wmb: our ring writes are visible before what
 * follows (idx update, notify). lvio_rmb: the used idx is read before the
 * entries it covers. lvio_mb: our avail idx store is visible before we load
 * the device's flags (notification suppression).
 */
#if defined(__aarch64__)
#define lvio_mb()  __asm__ volatile("dmb sy" ::: "memory")
#define lvio_rmb() __asm__ volatile("dmb ld" ::: "memory")
#define lvio_wmb() __asm__ volatile("dmb st" ::: "memory")
#elif defined(__riscv)
#define lvio_mb()  __asm__ volatile("fence iorw, iorw" ::: "memory")
#define lvio_rmb() __asm__ volatile("fence ir, ir" ::: "memory")
#define lvio_wmb() __asm__ volatile("fence ow, ow" ::: "memory")
#else
#define lvio_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define lvio_rmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define lvio_wmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* --- time -------------------------------------------------------------- */

/*
 * A wait loop's bound: the HAL clock, and a stopped clock (see
 * LVIO_CLOCK_STALL_POLLS in hal.h): a wait with a stopped clock costs a
 * fixed number of polls, whatever its timeout.
 */

struct lvio_deadline {
    uint64_t start;
    uint64_t timeout;
    uint64_t latest;   /* the clock's highest reading so far */
    uint32_t stalled;  /* polls since it last advanced */
};

void lvio_deadline_start(struct lvio_deadline *d, const struct lvio_hal *hal,
                         uint64_t timeout_ns);
/* True once the time is used up or the clock stood still for
 * LVIO_CLOCK_STALL_POLLS polls; relaxes otherwise. */
bool lvio_deadline_passed(struct lvio_deadline *d, const struct lvio_hal *hal);
uint64_t lvio_deadline_elapsed(const struct lvio_deadline *d,
                               const struct lvio_hal *hal);
/* "" or, when the wait ended because the clock stood still, a clause
 * saying so, for the error message. */
const char *lvio_deadline_why(const struct lvio_deadline *d);

/* --- messages ---------------------------------------------------------- */

int lvio_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int lvio_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log a line through the HAL, prefixed with the device's name. */
void lvio_log(const struct lvio_device *dev, enum lvio_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Log a line of lvio_dump(): asked for explicitly, so printed whatever
 * the HAL's log_level. */
void lvio_log_dump(const struct lvio_device *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record what went wrong in dev->errmsg, log it as an error, return err. */
int lvio_fail(struct lvio_device *dev, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Legacy devices use guest order for ring and config fields. */
static inline uint16_t lvio_dev16_to_cpu(const struct lvio_device *dev,
                                         uint16_t v)
{
    return dev->legacy ? v : lvio_le16_to_cpu(v);
}
static inline uint32_t lvio_dev32_to_cpu(const struct lvio_device *dev,
                                         uint32_t v)
{
    return dev->legacy ? v : lvio_le32_to_cpu(v);
}
static inline uint64_t lvio_dev64_to_cpu(const struct lvio_device *dev,
                                         uint64_t v)
{
    return dev->legacy ? v : lvio_le64_to_cpu(v);
}
/*
 * A configuration register access of `width` bytes, as the device's bytes.
 * Modern devices lay configuration out little-endian; legacy ones in the
 * guest's own order, so a legacy value read with one access is already a
 * CPU-order number and its bytes are its memory image.
 */
static inline void lvio_config_split(const struct lvio_device *dev, uint32_t v, unsigned width,
                                     uint8_t *out)
{
    if (dev->legacy && width == 2) {
        uint16_t h = (uint16_t)v;
        memcpy(out, &h, 2);
    } else if (dev->legacy && width == 4) {
        memcpy(out, &v, 4);
    } else {
        for (unsigned i = 0; i < width; i++)
            out[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint32_t lvio_config_join(const struct lvio_device *dev, const uint8_t *in,
                                        unsigned width)
{
    uint32_t v = 0;
    if (dev->legacy && width == 2) {
        uint16_t h;
        memcpy(&h, in, 2);
        v = h;
    } else if (dev->legacy && width == 4) {
        memcpy(&v, in, 4);
    } else {
        for (unsigned i = 0; i < width; i++)
            v |= (uint32_t)in[i] << (8 * i);
    }
    return v;
}

#define lvio_cpu_to_dev16 lvio_dev16_to_cpu
#define lvio_cpu_to_dev32 lvio_dev32_to_cpu
#define lvio_cpu_to_dev64 lvio_dev64_to_cpu

/* Polls between checks of the device status during a wait. */
#define LVIO_STATUS_CHECK_INTERVAL 1024u

/* Record LVIO_E_TIMEOUT for a wait on `vq` that ended (queue, indexes,
 * time waited, and whether the clock stood still), after `what` ("" or
 * what was waited for, e.g. "request 2 of 3 (slot 5): "). */
int lvio_vq_timeout(struct lvio_virtqueue *vq, const struct lvio_deadline *d,
                    const char *what);

/* Ring descriptors a chain of `nbufs` buffers takes on `vq` (one when it
 * goes through an indirect table). */
unsigned lvio_vq_descs(const struct lvio_virtqueue *vq, unsigned nbufs);

/* A device the transport probe filled in (ops and HAL set). */
static inline bool lvio_device_valid(const struct lvio_device *dev)
{
    return dev && dev->ops && dev->hal;
}

/*
 * Reset the device on an error path whose error is `err` (with its message
 * in dev->errmsg): returns `err` and keeps the message when the reset
 * completes; LVIO_E_DEAD with both messages when it does not.
 */
int lvio_device_reset_after(struct lvio_device *dev, int err);

/*
 * `pages` zeroed DMA pages from the HAL for the device to use, into *cpu
 * and *dev_addr. Returns 0, LVIO_E_NOMEM or LVIO_E_HAL (a page not
 * page-aligned, at its CPU or device address: given straight back), with
 * a message that says they were for `what` ("gpu queries").
 */
int lvio_dma_take(struct lvio_device *dev, uint32_t pages, void **cpu, uint64_t *dev_addr,
                  const char *what);

/*
 * Give memory the device was given back to the HAL — unless the device is
 * dead (a reset never completed): then it may still be read or written by
 * the device, so it is kept instead, counted in dev->kept_pages or
 * dev->kept_shares, and logged. Every driver frees and unshares through
 * these.
 */
void lvio_dma_give_back(struct lvio_device *dev, void *cpu, size_t pages,
                        uint64_t dev_addr);
void lvio_unshare_give_back(struct lvio_device *dev, const void *buf,
                            size_t len, enum lvio_dma_dir dir,
                            uint64_t dev_addr);

#endif
