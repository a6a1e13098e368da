/* The fuzzers' HAL and hostile virtio-mmio device; see fuzz_dev.h. */
#define _DEFAULT_SOURCE /* mmap flags */
#include "fuzz_dev.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lvio/spec/virtio_mmio.h"
#include "lvio/spec/virtio_ring.h"

/* ---- the tape ---------------------------------------------------------------- */

bool fz_empty(const struct fz_tape *t)
{
    return t->pos >= t->n;
}

uint8_t fz_u8(struct fz_tape *t)
{
    return t->pos < t->n ? t->p[t->pos++] : 0;
}

uint16_t fz_u16(struct fz_tape *t)
{
    uint16_t lo = fz_u8(t);
    return (uint16_t)(lo | fz_u8(t) << 8);
}

uint32_t fz_u32(struct fz_tape *t)
{
    uint32_t lo = fz_u16(t);
    return lo | (uint32_t)fz_u16(t) << 16;
}

uint64_t fz_u64(struct fz_tape *t)
{
    uint64_t lo = fz_u32(t);
    return lo | (uint64_t)fz_u32(t) << 32;
}

void fz_bytes(struct fz_tape *t, void *out, size_t n)
{
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++)
        o[i] = fz_u8(t);
}

/* ---- failing loudly ----------------------------------------------------------- */

void fz_die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz: PROPERTY VIOLATED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void fz_expect(const char *call, int rv, const int *ok, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (rv == ok[i])
            return;
    fz_die("%s returned %d (%s), which it does not document", call, rv, lvio_errname(rv));
}

static struct fz *fz_of(void *ctx)
{
    return ctx;
}

void fz_reset_teardown(struct lvio_device *dev, struct lvio_virtqueue *vq, const bool *up,
                       unsigned n)
{
    struct fz *f = fz_of(dev->hal->ctx);
    fz_call(f, "lvio_device_reset");
    int rv = lvio_device_reset(dev);
    FZ_EXPECT("lvio_device_reset", rv, LVIO_OK, LVIO_E_DEAD);
    fz_check_waited(f, rv, 0);
    if ((rv == LVIO_E_DEAD) != dev->dead)
        fz_die("lvio_device_reset returned %d and left dev->dead %d", rv, dev->dead);
    if (rv == LVIO_OK && f->zombie)
        fz_die("lvio_device_reset succeeded on a device that ignored it");
    for (unsigned i = 0; i < n; i++)
        if (up[i])
            lvio_vq_teardown(&vq[i]);
}

bool fz_driver_still_on(const struct lvio_device *dev, int rv)
{
    bool on = (dev->status & LVIO_VIRTIO_STATUS_DRIVER) != 0;
    if (rv == LVIO_OK && !on)
        fz_die("lvio_vq_setup succeeded and left the device in status 0x%02x", dev->status);
    return on;
}

/* ---- register ranges ---------------------------------------------------------- */

/* One big PROT_NONE reservation: addresses handed out by map_regs are real
 * but unreadable, so an access that bypasses reg_read/reg_write faults. */
#define FZ_RESERVE_SIZE (1ull << 34)
static uintptr_t fz_reserve_base;

static uintptr_t fz_reserve(void)
{
    if (!fz_reserve_base) {
        void *p = mmap(NULL, FZ_RESERVE_SIZE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            fz_die("cannot reserve address space for register ranges");
        fz_reserve_base = (uintptr_t)p;
    }
    return fz_reserve_base;
}

int fz_map_regs(struct fz *f, uint64_t phys, size_t len)
{
    uintptr_t end = fz_reserve() + FZ_RESERVE_SIZE;
    if (len == 0)
        fz_die("map_regs of 0 bytes at 0x%llx", (unsigned long long)phys);
    if (f->map_fail || f->nmaps == FZ_MAX_MAPS)
        return -1;
    uintptr_t base = f->map_next;
    size_t span = (len + LVIO_PAGE_SIZE - 1) / LVIO_PAGE_SIZE * LVIO_PAGE_SIZE;
    if (span > end - base || end - base - span < LVIO_PAGE_SIZE)
        return -1;
    f->map_next = base + span + LVIO_PAGE_SIZE; /* a guard page between ranges */
    f->maps[f->nmaps] = (struct fz_map){phys, len, base};
    return (int)f->nmaps++;
}

static volatile void *hal_map_regs(void *ctx, uint64_t phys, size_t len)
{
    struct fz *f = fz_of(ctx);
    int i = fz_map_regs(f, phys, len);
    return i < 0 ? NULL : (volatile void *)f->maps[i].base;
}

/* The mapped range holding [addr, addr + width), or die. */
static unsigned fz_find_map(struct fz *f, volatile void *addr, unsigned width, const char *what)
{
    uintptr_t a = (uintptr_t)addr;
    if (width != 1 && width != 2 && width != 4)
        fz_die("register %s of width %u", what, width);
    for (unsigned i = 0; i < f->nmaps; i++) {
        const struct fz_map *m = &f->maps[i];
        if (a >= m->base && a - m->base <= m->len && m->len - (a - m->base) >= width)
            return i;
    }
    fz_die("register %s of %u bytes at %p: outside every mapped range", what, width,
           (void *)addr);
}

static uint32_t hal_reg_read(void *ctx, volatile void *addr, unsigned width)
{
    struct fz *f = fz_of(ctx);
    unsigned i = fz_find_map(f, addr, width, "read");
    f->reg_reads++;
    uint32_t v = f->reg_read(f, i, (uintptr_t)addr - f->maps[i].base, width);
    return width == 4 ? v : v & ((1u << (8 * width)) - 1);
}

static void hal_reg_write(void *ctx, volatile void *addr, unsigned width, uint32_t v)
{
    struct fz *f = fz_of(ctx);
    unsigned i = fz_find_map(f, addr, width, "write");
    f->reg_writes++;
    if (width < 4 && (v >> (8 * width)) != 0)
        fz_die("register write of %u bytes with value 0x%x", width, v);
    f->reg_write(f, i, (uintptr_t)addr - f->maps[i].base, width, v);
}

uint32_t fz_perturb(struct fz *f, uint32_t model, unsigned width)
{
    uint8_t op = fz_u8(&f->t);
    uint32_t v;
    if (op < 0x80)
        v = model;                                  /* the honest answer */
    else if (op < 0xa0)
        v = model ^ (1u << (op & 31));              /* one bit flipped */
    else if (op < 0xe0)
        v = op - 0xa0u;                             /* a small number */
    else if (op < 0xff)
        v = model + (uint32_t)((int)op - 0xef);     /* off by -15..15 */
    else
        v = fz_u32(&f->t);                          /* anything */
    return width == 4 ? v : v & ((1u << (8 * width)) - 1);
}

/* ---- DMA ---------------------------------------------------------------------- */

static struct fz_dma *fz_dma_slot(struct fz *f)
{
    for (unsigned i = 0; i < FZ_MAX_DMA; i++) {
        if (f->dma[i].cpu)
            continue;
        if (i >= f->dma_hi)
            f->dma_hi = i + 1; /* lookups need not look further */
        return &f->dma[i];
    }
    return NULL;
}

static void *fz_dma_new(struct fz *f, size_t pages, uint64_t *dev, bool harness)
{
    struct fz_dma *d = fz_dma_slot(f);
    if (!d || pages > FZ_DMA_STRIDE / LVIO_PAGE_SIZE)
        return NULL;
    void *p = aligned_alloc(LVIO_PAGE_SIZE, pages * LVIO_PAGE_SIZE);
    if (!p)
        fz_die("host out of memory");
    memset(p, 0, pages * LVIO_PAGE_SIZE);
    *d = (struct fz_dma){p, f->dma_base + f->dma_count++ * FZ_DMA_STRIDE, pages, harness,
                         f->births++};
    *dev = d->dev;
    return p;
}

static void *hal_dma_alloc(void *ctx, size_t pages, uint64_t *dev)
{
    struct fz *f = fz_of(ctx);
    uint64_t k = f->dma_count;
    if (pages == 0)
        fz_die("dma_alloc of 0 pages");
    if (k < 32 && (f->dma_fail_mask >> k) & 1) {
        f->dma_count++; /* the failure uses up its number */
        return NULL;
    }
    if (pages > FZ_DMA_PAGE_BUDGET - f->dma_pages_live)
        return NULL;
    void *p = fz_dma_new(f, pages, dev, false);
    if (p)
        f->dma_pages_live += (unsigned)pages;
    return p;
}

static void hal_dma_free(void *ctx, void *cpu, size_t pages, uint64_t dev)
{
    struct fz *f = fz_of(ctx);
    for (unsigned i = 0; i < f->dma_hi; i++) {
        struct fz_dma *d = &f->dma[i];
        if (d->cpu != cpu || d->harness)
            continue;
        if (d->pages != pages || d->dev != dev)
            fz_die("dma_free(%p, %zu pages, 0x%llx) of an allocation of %zu pages at 0x%llx",
                   cpu, pages, (unsigned long long)dev, d->pages, (unsigned long long)d->dev);
        if (f->zombie && d->birth < f->zombie_since)
            fz_die("dma_free of %zu pages at 0x%llx while the device, which ignored its "
                   "reset, may still use them (in %s)", pages, (unsigned long long)dev,
                   f->call);
        free(cpu);
        f->dma_pages_live -= (unsigned)pages;
        *d = (struct fz_dma){0};
        return;
    }
    fz_die("dma_free(%p, %zu pages, 0x%llx): not a live allocation", cpu, pages,
           (unsigned long long)dev);
}

void *fz_harness_dma(struct fz *f, size_t pages, uint64_t *dev)
{
    void *p = fz_dma_new(f, pages, dev, true);
    if (!p)
        fz_die("harness DMA buffer of %zu pages", pages);
    return p;
}

/* ---- share / unshare ---------------------------------------------------------- */

static uint64_t fz_share_addr(struct fz *f, const void *buf, size_t len, unsigned k)
{
    const struct fz_share *last = NULL;
    uintptr_t in_page = (uintptr_t)buf & (LVIO_PAGE_SIZE - 1);
    for (unsigned i = 0; i < f->shares_hi; i++)
        if (f->shares[i].cpu && (!last || f->shares[i].dev > last->dev))
            last = &f->shares[i];
    if (f->share_mode == 0)
        return (uint64_t)(uintptr_t)buf + FZ_SHARE_LINEAR;
    uint64_t dev = f->share_next + in_page;
    if (f->share_mode == 2 && last && ((f->share_pattern >> (k % 64)) & 1))
        dev = last->dev + last->len; /* contiguous with the last one */
    /* The next scattered share starts past this one and a guard page, so
     * no two live shares ever overlap in device addresses (a contiguous
     * one may run past where the next scattered one would have gone). */
    uint64_t end = (dev + len + LVIO_PAGE_SIZE - 1) / LVIO_PAGE_SIZE * LVIO_PAGE_SIZE +
                   LVIO_PAGE_SIZE;
    if (end > f->share_next)
        f->share_next = end;
    return dev;
}

static int hal_share(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                     uint64_t *dev)
{
    struct fz *f = fz_of(ctx);
    unsigned k = f->share_count++;
    if (!buf || len == 0 || dir < LVIO_DMA_TO_DEVICE || dir > LVIO_DMA_BIDIRECTIONAL)
        fz_die("share(%p, %zu, dir %d)", buf, len, (int)dir);
    for (unsigned i = 0; i < f->shares_hi; i++) {
        const struct fz_share *s = &f->shares[i];
        if (s->cpu && (const uint8_t *)buf < (const uint8_t *)s->cpu + s->len &&
            (const uint8_t *)s->cpu < (const uint8_t *)buf + len)
            fz_die("share(%p, %zu) overlaps the live share (%p, %zu)", buf, len, s->cpu,
                   s->len);
    }
    if (k < 64 && (f->share_fail_mask >> k) & 1)
        return LVIO_E_NOMEM;
    for (unsigned i = 0; i < FZ_MAX_SHARES; i++) {
        struct fz_share *s = &f->shares[i];
        if (s->cpu)
            continue;
        if (i >= f->shares_hi)
            f->shares_hi = i + 1; /* lookups need not look further */
        uint64_t d = fz_share_addr(f, buf, len, k);
        *s = (struct fz_share){buf, len, (int)dir, d, f->births++};
        f->shares_live++;
        *dev = d;
        return LVIO_OK;
    }
    return LVIO_E_NOMEM;
}

static void hal_unshare(void *ctx, const void *buf, size_t len, enum lvio_dma_dir dir,
                        uint64_t dev)
{
    struct fz *f = fz_of(ctx);
    for (unsigned i = 0; i < f->shares_hi; i++) {
        struct fz_share *s = &f->shares[i];
        if (s->cpu == buf && s->len == len && s->dir == (int)dir && s->dev == dev) {
            if (f->zombie && s->birth < f->zombie_since)
                fz_die("unshare of %zu bytes at 0x%llx while the device, which ignored its "
                       "reset, may still read them (in %s)", len, (unsigned long long)dev,
                       f->call);
            *s = (struct fz_share){0};
            f->shares_live--;
            return;
        }
    }
    fz_die("unshare(%p, %zu, dir %d, 0x%llx): no such live share", buf, len, (int)dir,
           (unsigned long long)dev);
}

/* ---- device addresses --------------------------------------------------------- */

uint8_t *fz_dev_ptr(struct fz *f, uint64_t addr, uint64_t len)
{
    for (unsigned i = 0; i < f->dma_hi; i++) {
        const struct fz_dma *d = &f->dma[i];
        uint64_t size = d->pages * LVIO_PAGE_SIZE;
        if (d->cpu && addr >= d->dev && addr - d->dev <= size && size - (addr - d->dev) >= len)
            return (uint8_t *)d->cpu + (addr - d->dev);
    }
    for (unsigned i = 0; i < f->shares_hi; i++) {
        const struct fz_share *s = &f->shares[i];
        if (s->cpu && addr >= s->dev && addr - s->dev <= s->len && s->len - (addr - s->dev) >= len)
            return (uint8_t *)(uintptr_t)s->cpu + (addr - s->dev);
    }
    return NULL;
}

/* How many bytes from `addr` on one live region covers (0: none). */
static uint64_t fz_dev_run(struct fz *f, uint64_t addr)
{
    for (unsigned i = 0; i < f->dma_hi; i++) {
        const struct fz_dma *d = &f->dma[i];
        uint64_t size = d->pages * LVIO_PAGE_SIZE;
        if (d->cpu && addr >= d->dev && addr - d->dev < size)
            return size - (addr - d->dev);
    }
    for (unsigned i = 0; i < f->shares_hi; i++) {
        const struct fz_share *s = &f->shares[i];
        if (s->cpu && addr >= s->dev && addr - s->dev < s->len)
            return s->len - (addr - s->dev);
    }
    return 0;
}

bool fz_dev_fill(struct fz *f, uint64_t addr, uint64_t len, uint8_t v)
{
    while (len > 0) {
        uint64_t run = fz_dev_run(f, addr);
        if (run == 0)
            return false;
        if (run > len)
            run = len;
        memset(fz_dev_ptr(f, addr, run), v, run);
        addr += run;
        len -= run;
    }
    return true;
}

bool fz_dev_covered(struct fz *f, uint64_t addr, uint64_t len)
{
    while (len > 0) {
        uint64_t run = fz_dev_run(f, addr);
        if (run == 0)
            return false;
        if (run >= len)
            return true;
        addr += run;
        len -= run;
    }
    return true;
}

/* ---- clock, relax, log ---------------------------------------------------------- */

/* FUZZ_DEBUG set: the library's log and the harness's notes on stderr. */
static bool fz_debug(void)
{
    static int debug = -1;
    if (debug < 0)
        debug = getenv("FUZZ_DEBUG") != NULL;
    return debug;
}

void fz_call(struct fz *f, const char *name)
{
    if (fz_debug() && f->call && f->call_events)
        fprintf(stderr, "fuzz: %s: %llu clock reads and relax calls, clock %s\n", f->call,
                (unsigned long long)f->call_events,
                f->call_clock_ran ? "ran throughout" : "did not run throughout");
    f->call = name;
    f->call_events = 0;
    f->call_allow = 2ull * f->delay; /* a late answer already promised */
    f->call_now0 = f->now;
    f->call_clock_ran = f->clock == FZ_CLOCK_TICK;
}

/* One now_ns() or relax() of the call in progress: too many is a hang. */
static void fz_event(struct fz *f)
{
    if (++f->call_events > FZ_CLOCK_RUN_EVENTS + f->call_allow + FZ_STALLED_EVENTS)
        fz_die("%s: %llu clock reads and relax calls, the last %u with the clock standing "
               "still: a wait that does not end", f->call,
               (unsigned long long)f->call_events, FZ_STALLED_EVENTS);
}

static uint64_t hal_now_ns(void *ctx)
{
    struct fz *f = fz_of(ctx);
    uint64_t before = f->now;
    fz_event(f);
    if (f->call_events > FZ_CLOCK_RUN_EVENTS + f->call_allow) {
        f->call_clock_ran = false; /* it has run long enough: it stands still */
        return f->now;
    }
    switch (f->clock) {
    case FZ_CLOCK_TICK: f->now += f->tick; break;
    case FZ_CLOCK_BACKWARDS: f->now -= f->tick; break;
    case FZ_CLOCK_ERRATIC:
        f->now = f->now * 6364136223846793005ull + 1442695040888963407ull;
        break;
    default: break;
    }
    if (f->now <= before)
        f->call_clock_ran = false;
    return f->now;
}

static void hal_relax(void *ctx)
{
    struct fz *f = fz_of(ctx);
    f->relax_calls++;
    fz_event(f);
    if (f->delay) {
        f->delay--; /* it will answer, later */
        return;
    }
    if (!f->quiet)
        fz_device_step(f);
}

void fz_check_waited(struct fz *f, int rv, uint64_t timeout)
{
    if (rv == LVIO_E_DEAD)
        timeout = LVIO_RESET_TIMEOUT_NS;
    else if (rv != LVIO_E_TIMEOUT)
        return;
    if (f->call_clock_ran && f->now - f->call_now0 < timeout)
        fz_die("%s returned %s after %llu ns of a %llu ns timeout, with a clock that went "
               "up on every read: the wait ended early", f->call, lvio_errname(rv),
               (unsigned long long)(f->now - f->call_now0), (unsigned long long)timeout);
}

uint64_t fz_timeout(uint8_t b, unsigned ticks)
{
    static const uint64_t special[8] = {
        0, 1, FZ_TICK_NS - 1, 1ull << 32, 1ull << 63, UINT64_MAX - FZ_TICK_NS,
        UINT64_MAX - 1, UINT64_MAX,
    };
    return b >= 0xf8 ? special[b - 0xf8] : (uint64_t)(b % ticks) * FZ_TICK_NS;
}

void fz_log(void *ctx, enum lvio_log_level level, const char *line)
{
    (void)ctx;
    if (level < LVIO_LOG_ERROR || level > LVIO_LOG_DEBUG)
        fz_die("log level %d", (int)level);
    if (!line || !memchr(line, '\0', 1024))
        fz_die("log line is not a C string of under 1024 bytes");
    for (const char *p = line; *p; p++)
        if ((*p < 0x20 || *p > 0x7e))
            fz_die("log line holds byte 0x%02x at %zu: not a message the library wrote",
                   (unsigned char)*p, (size_t)(p - line));
    if (fz_debug())
        fprintf(stderr, "lvio[%d]: %s\n", (int)level, line);
}

void fz_check_errmsg(const struct lvio_device *dev)
{
    if (!memchr(dev->errmsg, '\0', sizeof dev->errmsg))
        fz_die("dev->errmsg is not NUL-terminated");
    /* Every message the library writes is printable ASCII: anything else
     * is memory that was never written. */
    for (const char *p = dev->errmsg; *p; p++)
        if ((*p < 0x20 || *p > 0x7e))
            fz_die("dev->errmsg holds byte 0x%02x at %zu: not a message the library wrote",
                   (unsigned char)*p, (size_t)(p - dev->errmsg));
    if (!memchr(dev->name, '\0', sizeof dev->name))
        fz_die("dev->name is not NUL-terminated");
}

/* ---- the virtio-mmio register model --------------------------------------------- */

bool fz_queue_live(const struct fz *f, unsigned qi)
{
    if (qi >= FZ_MAX_QUEUES)
        return false;
    const struct fz_queue *q = &f->q[qi];
    if (f->status == 0 || q->num == 0 || q->num > LVIO_VQ_MAX_SIZE)
        return false;
    return f->version == 1 ? q->pfn != 0 : q->ready != 0;
}

void fz_config_put32(struct fz *f, uint32_t off, uint32_t v)
{
    for (unsigned i = 0; i < 4 && off + i < sizeof f->config; i++)
        f->config[off + i] = (uint8_t)(v >> (8 * i));
}

uint32_t fz_config_get32(const struct fz *f, uint32_t off)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4 && off + i < sizeof f->config; i++)
        v |= (uint32_t)f->config[off + i] << (8 * i);
    return v;
}

bool fz_reset_ignored(struct fz *f)
{
    uint32_t k = f->resets++;
    if (k < f->refuse_first || k >= f->refuse_end)
        return false;
    if (!f->zombie) {
        f->zombie = true;
        f->zombie_since = f->births; /* all it has now, it may go on using */
    }
    return true;
}

void fz_reset_done(struct fz *f)
{
    f->zombie = false;
}

bool fz_status_told(struct fz *f, uint32_t status)
{
    return f->zombie && (uint8_t)status == 0;
}

/* A reset: the device lets go of every queue and forgets the driver. */
static void fz_reset(struct fz *f)
{
    fz_reset_done(f);
    f->status = 0;
    f->needs_reset = false;
    f->isr = 0;
    f->driver_features = 0;
    f->nheld = 0;
    memset(f->owner, 0, sizeof f->owner);
    if (f->on_reset)
        f->on_reset(f);
    for (unsigned i = 0; i < FZ_MAX_QUEUES; i++) {
        uint32_t max = f->q[i].num_max;
        f->q[i] = (struct fz_queue){.num_max = max};
    }
}

static void fz_set_status(struct fz *f, uint32_t v)
{
    if (v > 0xff)
        fz_die("status write 0x%x", v);
    if (v == 0) {
        if (!fz_reset_ignored(f))
            fz_reset(f);
        return;
    }
    if ((v & LVIO_VIRTIO_STATUS_FEATURES_OK) && f->refuse_features)
        v &= ~LVIO_VIRTIO_STATUS_FEATURES_OK;
    f->status = (uint8_t)v;
}

static uint32_t mmio_model_value(struct fz *f, uint64_t off)
{
    struct fz_queue *q = f->qsel < FZ_MAX_QUEUES ? &f->q[f->qsel] : NULL;
    switch (off) {
    case LVIO_VIRTIO_MMIO_MAGIC_VALUE: return LVIO_VIRTIO_MMIO_MAGIC;
    case LVIO_VIRTIO_MMIO_VERSION: return f->version;
    case LVIO_VIRTIO_MMIO_DEVICE_ID: return f->device_id;
    case LVIO_VIRTIO_MMIO_VENDOR_ID: return f->vendor_id;
    case LVIO_VIRTIO_MMIO_DEVICE_FEATURES:
        return f->dfsel < 2 ? (uint32_t)(f->features >> (32 * f->dfsel)) : 0;
    case LVIO_VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? q->num_max : 0;
    case LVIO_VIRTIO_MMIO_QUEUE_READY: return q && f->version == 2 ? q->ready : 0;
    case LVIO_VIRTIO_MMIO_QUEUE_PFN: return q && f->version == 1 ? q->pfn : 0;
    case LVIO_VIRTIO_MMIO_INTERRUPT_STATUS: return f->isr;
    case LVIO_VIRTIO_MMIO_STATUS:
        return f->status | (f->needs_reset ? LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET : 0);
    case LVIO_VIRTIO_MMIO_CONFIG_GENERATION: return f->version == 2 ? f->generation : 0;
    case LVIO_VIRTIO_MMIO_SHM_LEN_LOW:
    case LVIO_VIRTIO_MMIO_SHM_LEN_HIGH:
    case LVIO_VIRTIO_MMIO_SHM_BASE_LOW:
    case LVIO_VIRTIO_MMIO_SHM_BASE_HIGH: {
        /* Version 2's one region (shm_len 0: none, whose length reads all ones). */
        bool is = f->version == 2 && f->shm_sel == f->shm_id && f->shm_len;
        uint64_t v = off < LVIO_VIRTIO_MMIO_SHM_BASE_LOW ? (is ? f->shm_len : UINT64_MAX)
                                                          : (is ? f->shm_base : 0);
        return f->version == 2 ? (uint32_t)(v >> (off & 4 ? 32 : 0)) : 0;
    }
    default: return 0;
    }
}

static uint32_t mmio_model_read(struct fz *f, unsigned map, uint64_t off, unsigned width)
{
    uint32_t v = 0;
    (void)map;
    if (off >= LVIO_VIRTIO_MMIO_CONFIG) {
        for (unsigned i = 0; i < width; i++) {
            uint64_t c = off - LVIO_VIRTIO_MMIO_CONFIG + i;
            v |= (uint32_t)(c < sizeof f->config ? f->config[c] : 0) << (8 * i);
        }
    } else {
        if (width != 4 || off % 4)
            fz_die("mmio register 0x%llx read %u bytes wide", (unsigned long long)off, width);
        v = mmio_model_value(f, off);
    }
    if (f->hostile_regs)
        v = fz_perturb(f, v, width);
    if (off == LVIO_VIRTIO_MMIO_STATUS && fz_status_told(f, v))
        fz_reset(f); /* told it is reset, the driver will free: it is */
    if (off == LVIO_VIRTIO_MMIO_QUEUE_NUM_MAX && f->qsel < FZ_MAX_QUEUES)
        f->told_num_max[f->qsel] = v;
    return v;
}

static void mmio_queue_write(struct fz *f, struct fz_queue *q, uint64_t off, uint32_t v)
{
    bool v1 = f->version == 1;
    switch (off) {
    case LVIO_VIRTIO_MMIO_QUEUE_NUM:
        if (v == 0 || (v & (v - 1)) || v > LVIO_VQ_MAX_SIZE || v > f->told_num_max[f->qsel])
            fz_die("QueueNum %u: not a power of two up to LVIO_VQ_MAX_SIZE and the "
                   "QueueNumMax the device reported (%u)", v, f->told_num_max[f->qsel]);
        q->num = v;
        break;
    case LVIO_VIRTIO_MMIO_QUEUE_ALIGN: if (v1) q->align = v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_PFN:
        if (!v1)
            break; /* a Version 2 device has no such register */
        q->pfn = v;
        q->desc = (uint64_t)v * f->page_size;
        q->avail = q->desc + 16ull * q->num;
        q->used = q->avail + 6 + 2ull * q->num;
        if (q->align)
            q->used = (q->used + q->align - 1) / q->align * q->align;
        q->last_avail = q->used_idx = 0;
        break;
    case LVIO_VIRTIO_MMIO_QUEUE_READY:
        if (v1)
            break;
        q->ready = v & 1;
        q->last_avail = q->used_idx = 0;
        break;
    case LVIO_VIRTIO_MMIO_QUEUE_DESC_LOW: if (!v1) q->desc = (q->desc >> 32 << 32) | v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_DESC_HIGH: if (!v1) q->desc = (uint32_t)q->desc | (uint64_t)v << 32; break;
    case LVIO_VIRTIO_MMIO_QUEUE_AVAIL_LOW: if (!v1) q->avail = (q->avail >> 32 << 32) | v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_AVAIL_HIGH: if (!v1) q->avail = (uint32_t)q->avail | (uint64_t)v << 32; break;
    case LVIO_VIRTIO_MMIO_QUEUE_USED_LOW: if (!v1) q->used = (q->used >> 32 << 32) | v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_USED_HIGH: if (!v1) q->used = (uint32_t)q->used | (uint64_t)v << 32; break;
    default: break;
    }
}

static bool mmio_is_queue_reg(uint64_t off)
{
    switch (off) {
    case LVIO_VIRTIO_MMIO_QUEUE_NUM: case LVIO_VIRTIO_MMIO_QUEUE_ALIGN:
    case LVIO_VIRTIO_MMIO_QUEUE_PFN: case LVIO_VIRTIO_MMIO_QUEUE_READY:
    case LVIO_VIRTIO_MMIO_QUEUE_DESC_LOW: case LVIO_VIRTIO_MMIO_QUEUE_DESC_HIGH:
    case LVIO_VIRTIO_MMIO_QUEUE_AVAIL_LOW: case LVIO_VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
    case LVIO_VIRTIO_MMIO_QUEUE_USED_LOW: case LVIO_VIRTIO_MMIO_QUEUE_USED_HIGH:
        return true;
    default:
        return false;
    }
}

static void mmio_model_write(struct fz *f, unsigned map, uint64_t off, unsigned width, uint32_t v)
{
    (void)map;
    if (off >= LVIO_VIRTIO_MMIO_CONFIG) {
        uint64_t c = off - LVIO_VIRTIO_MMIO_CONFIG;
        if (f->config_write)
            f->config_write(f, (uint32_t)c, width, v);
        else
            for (unsigned i = 0; i < width && c + i < sizeof f->config; i++)
                f->config[c + i] = (uint8_t)(v >> (8 * i));
        return;
    }
    if (width != 4 || off % 4)
        fz_die("mmio register 0x%llx written %u bytes wide", (unsigned long long)off, width);
    if (mmio_is_queue_reg(off)) {
        if (f->qsel < FZ_MAX_QUEUES)
            mmio_queue_write(f, &f->q[f->qsel], off, v);
        return;
    }
    switch (off) {
    case LVIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL: f->dfsel = v; break;
    case LVIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL: f->gfsel = v; break;
    case LVIO_VIRTIO_MMIO_DRIVER_FEATURES:
        if (f->gfsel < 2)
            f->driver_features = (f->driver_features & ~(0xffffffffull << (32 * f->gfsel))) |
                                 (uint64_t)v << (32 * f->gfsel);
        break;
    case LVIO_VIRTIO_MMIO_GUEST_PAGE_SIZE: if (f->version == 1) f->page_size = v; break;
    case LVIO_VIRTIO_MMIO_QUEUE_SEL: f->qsel = v; break;
    case LVIO_VIRTIO_MMIO_SHM_SEL:
        if (f->version != 2)
            FZ_TRUSTED_RULE(f, "write of 0x%x to SHMSel of a Version 1 device", v);
        f->shm_sel = v;
        break;
    case LVIO_VIRTIO_MMIO_QUEUE_NOTIFY: f->notifies++; break;
    case LVIO_VIRTIO_MMIO_INTERRUPT_ACK: f->isr &= ~v; break;
    case LVIO_VIRTIO_MMIO_STATUS: fz_set_status(f, v); break;
    default:
        fz_die("write of 0x%x to mmio register 0x%llx, which is not writable", v,
               (unsigned long long)off);
    }
}

/* ---- the rings, from the device's side --------------------------------------------- */

static void fz_free_owner(struct fz *f, unsigned qi, uint16_t head)
{
    unsigned d = head;
    for (unsigned n = 0; n < LVIO_VQ_MAX_SIZE && d < LVIO_VQ_MAX_SIZE &&
                         f->owner[qi][d] == head + 1u; n++) {
        f->owner[qi][d] = 0;
        d = f->owner_next[qi][d];
    }
}

static uint16_t le16_at(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *fz_ring(struct fz *f, unsigned qi, uint64_t addr, uint64_t len, const char *what)
{
    uint8_t *p = fz_dev_ptr(f, addr, len);
    if (!p)
        fz_die("queue %u: the device's %s at 0x%llx (%llu bytes) is not live DMA memory: "
               "the driver freed a ring the device still has", qi, what,
               (unsigned long long)addr, (unsigned long long)len);
    return p;
}

/*
 * A rule the driver must keep was broken: die, unless the device has made
 * its own view unreliable (it lied, or scribbled over the driver's ring),
 * in which case the device just stops trusting what it read.
 */
#define FZ_RULE(f, ...)                                                        \
    do {                                                                       \
        if (!(f)->lied)                                                        \
            fz_die(__VA_ARGS__);                                               \
    } while (0)

/* One buffer of chain `head` (in the ring or in its table): no readable
 * buffer after a writable one, and memory the driver owns. */
static void fz_check_buf(struct fz *f, unsigned qi, uint16_t head, struct fz_buf *b,
                         bool *seen_write)
{
    if (*seen_write && !b->write)
        FZ_RULE(f, "queue %u: chain %u has a readable buffer after a writable one", qi, head);
    *seen_write |= b->write;
    if (b->len == 0 || !fz_dev_covered(f, b->addr, b->len))
        FZ_RULE(f, "queue %u: chain %u (descriptor %u) names 0x%llx (%u bytes), which is not "
                "memory the driver owns", qi, head, b->desc, (unsigned long long)b->addr,
                b->len);
    else
        b->cpu = fz_dev_ptr(f, b->addr, b->len);
}

/*
 * An indirect descriptor (ring slot `d`, table at `addr`, `len` bytes):
 * the driver may use one only with INDIRECT_DESC accepted, never with NEXT,
 * with a table of whole descriptors in memory it owns; inside, no nested
 * table, every `next` in the table, no loop. The table's buffers join the
 * chain (each names ring slot `d` as its descriptor).
 */
static void fz_walk_table(struct fz *f, unsigned qi, uint16_t head, uint16_t d, uint16_t flags,
                          uint64_t addr, uint32_t len, struct fz_chain *c)
{
    if (!(f->driver_features & (1ull << LVIO_VIRTIO_F_INDIRECT_DESC)))
        FZ_RULE(f, "queue %u: descriptor %u is INDIRECT, which was not negotiated", qi, d);
    if (flags & LVIO_VIRTQ_DESC_F_NEXT)
        FZ_RULE(f, "queue %u: indirect descriptor %u also has NEXT", qi, d);
    if (len == 0 || len % 16 != 0 || !fz_dev_covered(f, addr, len)) {
        FZ_RULE(f, "queue %u: indirect table at 0x%llx (%u bytes) is not whole descriptors in "
                "memory the driver owns", qi, (unsigned long long)addr, len);
        return;
    }
    const uint8_t *t = fz_dev_ptr(f, addr, len);
    unsigned n = len / 16;
    bool seen_write = false;
    if (!t)
        return; /* covered by several regions: the model does not follow it */
    for (unsigned i = 0, k = 0;; k++) {
        if (k == n || c->n == FZ_MAX_CHAIN) {
            FZ_RULE(f, "queue %u: indirect table of chain %u loops", qi, head);
            return;
        }
        const uint8_t *e = t + 16u * i;
        uint16_t fl = le16_at(e + 12);
        struct fz_buf *b = &c->buf[c->n++];
        b->addr = (uint64_t)le32_at(e) | (uint64_t)le32_at(e + 4) << 32;
        b->len = le32_at(e + 8);
        b->write = fl & LVIO_VIRTQ_DESC_F_WRITE;
        b->desc = d;
        b->cpu = NULL;
        if (fl & LVIO_VIRTQ_DESC_F_INDIRECT)
            FZ_RULE(f, "queue %u: nested indirect table in chain %u", qi, head);
        fz_check_buf(f, qi, head, b, &seen_write);
        if (!(fl & LVIO_VIRTQ_DESC_F_NEXT))
            return;
        i = le16_at(e + 14);
        if (i >= n) {
            FZ_RULE(f, "queue %u: indirect next %u beyond its table of %u", qi, i, n);
            return;
        }
    }
}

/* Follow the chain at `head`, checking what the driver wrote. */
static void fz_walk_chain(struct fz *f, unsigned qi, uint16_t head, struct fz_chain *c)
{
    const struct fz_queue *q = &f->q[qi];
    uint8_t *desc = fz_ring(f, qi, q->desc, 16ull * q->num, "descriptor table");
    bool seen_write = false;
    uint16_t d = head;
    int prev = -1;

    c->queue = (uint16_t)qi;
    c->head = head;
    c->n = 0;
    for (;;) {
        if (c->n == FZ_MAX_CHAIN || c->n == q->num) {
            FZ_RULE(f, "queue %u: chain at %u is longer than the queue (a loop)", qi, head);
            return;
        }
        const uint8_t *e = desc + 16u * d;
        struct fz_buf *b = &c->buf[c->n++];
        uint16_t flags = le16_at(e + 12);
        b->addr = (uint64_t)le32_at(e) | (uint64_t)le32_at(e + 4) << 32;
        b->len = le32_at(e + 8);
        b->write = flags & LVIO_VIRTQ_DESC_F_WRITE;
        b->desc = d;
        b->cpu = NULL;
        if (flags & LVIO_VIRTQ_DESC_F_INDIRECT) {
            c->n--;
            fz_walk_table(f, qi, head, d, flags, b->addr, b->len, c);
            f->owner[qi][d] = (uint16_t)(head + 1);
            f->owner_next[qi][d] = UINT16_MAX;
            if (prev >= 0)
                f->owner_next[qi][prev] = d;
            return;
        }
        fz_check_buf(f, qi, head, b, &seen_write);
        if (f->owner[qi][d])
            FZ_RULE(f, "queue %u: descriptor %u made available again while chain %u, "
                    "which holds it, is still in flight", qi, d, f->owner[qi][d] - 1);
        f->owner[qi][d] = (uint16_t)(head + 1);
        f->owner_next[qi][d] = UINT16_MAX;
        if (prev >= 0)
            f->owner_next[qi][prev] = d;
        prev = d;
        if (!(flags & LVIO_VIRTQ_DESC_F_NEXT))
            return;
        d = le16_at(e + 14);
        if (d >= q->num) {
            FZ_RULE(f, "queue %u: descriptor next %u is beyond the queue size %u", qi, d,
                    q->num);
            return;
        }
    }
}

bool fz_take_chain(struct fz *f, unsigned qi, struct fz_chain *c)
{
    if (!fz_queue_live(f, qi))
        return false;
    struct fz_queue *q = &f->q[qi];
    uint8_t *avail = fz_ring(f, qi, q->avail, 4 + 2ull * q->num, "avail ring");
    uint16_t idx = le16_at(avail + 2);
    if (idx == q->last_avail)
        return false;
    if ((uint16_t)(idx - q->last_avail) > q->num && !f->lied)
        fz_die("queue %u: avail idx %u is more than the queue size ahead of %u", qi, idx,
               q->last_avail);
    uint16_t head = le16_at(avail + 4 + 2u * (q->last_avail % q->num));
    q->last_avail++;
    if (f->driver_features & (1ull << LVIO_VIRTIO_F_EVENT_IDX)) {
        /* avail_event: notify me when you make the next entry available
         * (a lying device may say anything: the driver must not depend on
         * it beyond saving kicks, since it also polls). */
        uint8_t *ev = fz_ring(f, qi, q->used + 4 + 8ull * q->num, 2, "used ring's avail_event");
        put_le16(ev, f->lied ? (uint16_t)fz_u16(&f->t) : q->last_avail);
    }
    if (head >= q->num || head >= LVIO_VQ_MAX_SIZE) {
        FZ_RULE(f, "queue %u: avail ring names descriptor %u, queue size %u", qi, head, q->num);
        c->queue = (uint16_t)qi;
        c->head = head;
        c->n = 0;
        return true;
    }
    fz_walk_chain(f, qi, head, c);
    return true;
}

void fz_push_used(struct fz *f, unsigned qi, uint32_t id, uint32_t len)
{
    struct fz_queue *q = &f->q[qi];
    uint8_t *used = fz_ring(f, qi, q->used, 4 + 8ull * q->num, "used ring");
    uint8_t *e = used + 4 + 8u * (q->used_idx % q->num);
    put_le32(e, id);
    put_le32(e + 4, len);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the entry before the index */
    q->used_idx++;
    put_le16(used, f->no_notify ? LVIO_VIRTQ_USED_F_NO_NOTIFY : 0);
    put_le16(used + 2, q->used_idx);
    f->isr |= LVIO_VIRTIO_MMIO_INT_VRING;
    if (id < LVIO_VQ_MAX_SIZE)
        fz_free_owner(f, qi, (uint16_t)id);
    for (unsigned i = 0; i < f->nheld; i++) {
        if (f->held[i].queue == qi && f->held[i].head == id) {
            f->held[i] = f->held[--f->nheld];
            break;
        }
    }
}

/* Scribble mode: overwrite what the driver wrote for a chain the device
 * has read. The driver writes all of it afresh before it gives any of it
 * again, so the device's later reading is not disturbed (no lie). */
static void fz_scribble_chain(struct fz *f, const struct fz_chain *c)
{
    const struct fz_queue *q = &f->q[c->queue];
    uint8_t v = f->scribble_byte;
    if (f->scribble & FZ_SCRIBBLE_DESC) {
        uint8_t *desc = fz_ring(f, c->queue, q->desc, 16ull * q->num, "descriptor table");
        for (unsigned i = 0; i < c->n; i++)
            memset(desc + 16u * c->buf[i].desc, v, 16);
    }
    if (f->scribble & FZ_SCRIBBLE_AVAIL) {
        uint8_t *avail = fz_ring(f, c->queue, q->avail, 4 + 2ull * q->num, "avail ring");
        uint16_t slot = (uint16_t)(q->last_avail - 1) % q->num;
        put_le16(avail, (uint16_t)(v | v << 8));
        put_le16(avail + 4 + 2u * slot, (uint16_t)(v | v << 8));
    }
    if (f->scribble & FZ_SCRIBBLE_READABLE)
        for (unsigned i = 0; i < c->n; i++)
            if (!c->buf[i].write && c->buf[i].cpu)
                memset(c->buf[i].cpu, v, c->buf[i].len);
}

/* Take one chain from queue `qi` and answer it (or hold it). */
static bool fz_serve_one(struct fz *f, unsigned qi)
{
    struct fz_chain c;
    if (!fz_take_chain(f, qi, &c))
        return false;
    f->hold_this = false;
    uint32_t len = f->service ? f->service(f, &c) : 0;
    if (f->empty_answers)
        len = 0;
    if (f->scribble)
        fz_scribble_chain(f, &c);
    if (f->hold_this && f->nheld < FZ_MAX_HELD)
        f->held[f->nheld++] = (struct fz_held){c.queue, c.head, len};
    else
        fz_push_used(f, qi, c.head, len);
    return true;
}

static void fz_serve_all(struct fz *f)
{
    while (f->nheld > 0) {
        struct fz_held h = f->held[f->nheld - 1];
        if (fz_queue_live(f, h.queue))
            fz_push_used(f, h.queue, h.head, h.len); /* removes it */
        else
            f->nheld--;
    }
    for (unsigned qi = 0; qi < FZ_MAX_QUEUES; qi++)
        for (unsigned n = 0; n < 1024 && fz_serve_one(f, qi); n++)
            ;
}

static int fz_pick_live_queue(struct fz *f, unsigned start)
{
    for (unsigned i = 0; i < FZ_MAX_QUEUES; i++) {
        unsigned qi = (start + i) % FZ_MAX_QUEUES;
        if (fz_queue_live(f, qi))
            return (int)qi;
    }
    return -1;
}

/* Scribble on memory the device can write but the driver must never read
 * back: the descriptor table and the avail ring. */
static void fz_scribble(struct fz *f, int qi)
{
    const struct fz_queue *q = &f->q[qi];
    uint64_t span = 16ull * q->num;
    uint8_t *desc = fz_ring(f, (unsigned)qi, q->desc, span, "descriptor table");
    uint8_t *avail = fz_ring(f, (unsigned)qi, q->avail, 4 + 2ull * q->num, "avail ring");
    uint16_t at = fz_u16(&f->t);
    uint8_t v = fz_u8(&f->t);
    if (at & 0x8000)
        avail[(at & 0x7fff) % (4 + 2ull * q->num)] = v;
    else
        desc[at % span] = v;
    f->lied = true; /* what the device reads back is no longer the driver's */
}

/* The clock changes: byte `c` says how. */
static void fz_device_clock(struct fz *f, uint8_t c)
{
    unsigned k = c >> 3;
    f->call_clock_ran = false; /* within a call, it did not run throughout */
    f->clock = FZ_CLOCK_TICK;
    f->tick = FZ_TICK_NS;
    switch (c & 7) {
    case 1: f->clock = FZ_CLOCK_STOPPED; break;
    case 2: f->tick = (FZ_TICK_NS >> (1 + k % 20)) | 1; break; /* slow: down to 1 ns */
    case 3: f->tick = FZ_TICK_NS << (1 + k % 16); break;       /* fast */
    case 4: f->clock = FZ_CLOCK_BACKWARDS; f->tick = (FZ_TICK_NS >> (k % 21)) | 1; break;
    case 5: f->now += 1ull << (32 + k % 32); break;            /* jumps ahead */
    case 6: f->now = UINT64_MAX - (uint64_t)k * FZ_TICK_NS; break; /* about to wrap */
    case 7: f->clock = FZ_CLOCK_ERRATIC; break;
    default: break;                                             /* ticks again */
    }
}

/* Resets, scribbling, late answers: byte `e` says which. */
static void fz_device_more(struct fz *f, uint8_t e)
{
    switch (e & 3) {
    case 0: /* ignore resets: from the one after next `a`, `b` of them
             * (15: all) */
        f->refuse_first = f->resets + ((e >> 2) & 3);
        f->refuse_end = (e >> 4) == 15 ? UINT32_MAX : f->refuse_first + (e >> 4);
        break;
    case 1: /* scribble mode (0: off) */
        f->scribble = (uint8_t)(e >> 2) & 15;
        f->scribble_byte = fz_u8(&f->t);
        break;
    case 2: { /* answer late: sit out 2^0..2^13 relax() calls, or for six
               * values in the middle (not bytes a fuzzer favours, as 0xfe)
               * 2^14..2^19, cut to what is left of 2^15 polls per input: a
               * long wait costs as many polls, and a slow clock (down to 1 ns
               * a tick) makes a short one outlast any deadline anyway */
        unsigned v = e >> 2;
        uint32_t d = 1u << (v >= 40 && v < 46 ? v - 26 : v % 14);
        if (d > f->delay_left)
            d = f->delay_left; /* 2^15 in all per input: it costs time */
        f->delay_left -= d;
        f->delay = d;
        f->call_allow += 2ull * d;
        break;
    }
    default:
        if ((e >> 2) == 0 && f->zombie)
            fz_reset(f); /* an ignored reset completes now */
        else if (e >> 2)
            f->empty_answers = (e >> 2) & 1; /* every answer from now on: 0 bytes */
        break;
    }
}

static void fz_device_misc(struct fz *f)
{
    uint8_t sub = fz_u8(&f->t);
    int qi = fz_pick_live_queue(f, sub >> 4);
    switch (sub & 7) {
    case 0: f->needs_reset = true; break;
    case 1: f->no_notify = !f->no_notify; break;
    case 2: f->generation++; break;
    case 3: /* a configuration change: the target's config_write hook
             * with width 0 means "raise your event" */
        if (f->config_write)
            f->config_write(f, 0, 0, 0);
        f->isr |= LVIO_VIRTIO_MMIO_INT_CONFIG;
        f->generation++;
        break;
    case 4: if (qi >= 0) fz_scribble(f, qi); break;
    case 5: f->isr = fz_u8(&f->t); break;
    case 6: fz_device_clock(f, fz_u8(&f->t)); break;
    default: fz_device_more(f, fz_u8(&f->t)); break;
    }
}

void fz_device_step(struct fz *f)
{
    if (fz_empty(&f->t)) {
        fz_serve_all(f); /* out of input: a well-behaved device */
        return;
    }
    uint8_t op = fz_u8(&f->t);
    int qi = fz_pick_live_queue(f, op >> 5);
    switch (op & 7) {
    case 0: case 1: case 2: /* serve the next chain */
        if (qi >= 0)
            fz_serve_one(f, (unsigned)qi);
        break;
    case 3: /* stall */
        break;
    case 4: /* complete a held chain: out of order */
        if (f->nheld) {
            struct fz_held h = f->held[fz_u8(&f->t) % f->nheld];
            if (fz_queue_live(f, h.queue))
                fz_push_used(f, h.queue, h.head, h.len);
        }
        break;
    case 5: /* a used entry made up: any id, any length */
        if (qi >= 0) {
            uint16_t id = fz_u16(&f->t);
            uint32_t len = fz_u32(&f->t);
            f->lied = true;
            fz_push_used(f, (unsigned)qi, id & 0x8000 ? id : id % f->q[qi].num, len);
        }
        break;
    case 6: /* the used index jumps, no entries written */
        if (qi >= 0) {
            struct fz_queue *q = &f->q[qi];
            uint8_t *used = fz_ring(f, (unsigned)qi, q->used, 4, "used ring");
            q->used_idx = (uint16_t)(q->used_idx + fz_u8(&f->t) + 1);
            put_le16(used + 2, q->used_idx);
            f->lied = true;
        }
        break;
    default:
        fz_device_misc(f);
        break;
    }
}

/* ---- an input's life ---------------------------------------------------------------- */

void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
    memset(f, 0, sizeof *f);
    size_t hn = size >= 2 ? (size_t)(data[0] | data[1] << 8) : 0;
    if (size >= 2) {
        data += 2;
        size -= 2;
    }
    if (hn > size)
        hn = size;
    f->h = (struct fz_tape){data, hn, 0};
    f->t = (struct fz_tape){data + hn, size - hn, 0};
    f->hal = (struct lvio_hal){
        .ctx = f,
        .dma_alloc = hal_dma_alloc,
        .dma_free = hal_dma_free,
        .share = hal_share,
        .unshare = hal_unshare,
        .map_regs = hal_map_regs,
        .now_ns = hal_now_ns,
        .relax = hal_relax,
        .log = fz_log,
        .log_level = LVIO_LOG_DEBUG,
        .reg_read = hal_reg_read,
        .reg_write = hal_reg_write,
    };
    f->map_next = fz_reserve();
    f->tick = FZ_TICK_NS;
    f->delay_left = 1u << 15;
    fz_call(f, "(setup)");
    f->reg_read = mmio_model_read;
    f->reg_write = mmio_model_write;
    f->version = 2;
    f->vendor_id = 0x554d4551; /* "QEMU" */
    f->dma_base = FZ_DMA_BASE_LOW;
    f->share_next = FZ_SHARE_SCATTER;
}

void fz_read_common_header(struct fz *f)
{
    uint8_t flags = fz_u8(&f->h);
    f->version = (flags & 1) ? 1 : 2;
    f->hostile_regs = flags & 2;
    f->dma_base = (flags & 4) ? FZ_DMA_BASE_16TIB : FZ_DMA_BASE_LOW;
    f->refuse_features = (flags & 0x18) == 0x18;
    if ((flags & 0x18) == 0x08 || (flags & 0x18) == 0x10) {
        f->refuse_first = 1; /* every reset after the first is ignored... */
        f->refuse_end = (flags & 0x18) == 0x08 ? UINT32_MAX : 2; /* ...or only the second */
    }
    f->share_mode = (uint8_t)((flags >> 5) % 3);
    uint8_t dma_fail = fz_u8(&f->h);
    uint8_t share_fail = fz_u8(&f->h);
    f->dma_fail_mask = dma_fail ? 1u << ((dma_fail - 1) % 32) : 0;
    f->share_fail_mask = share_fail ? 1ull << ((share_fail - 1) % 64) : 0;
    if (f->share_mode == 2)
        f->share_pattern = fz_u64(&f->h);
}

void fz_watch(struct fz *f, const struct lvio_device *dev)
{
    f->dev = dev;
}

/* A zombie outlives the driver: it reads and writes every ring it has and
 * answers every chain it took or can take, in memory the library must
 * have kept (ASan sees every byte of it). */
static void fz_zombie_last_acts(struct fz *f)
{
    fz_call(f, "(the device, after teardown)");
    for (unsigned qi = 0; qi < FZ_MAX_QUEUES; qi++) {
        const struct fz_queue *q = &f->q[qi];
        if (!fz_queue_live(f, qi))
            continue;
        const char *parts[3] = {"descriptor table", "avail ring", "used ring"};
        const uint64_t at[3] = {q->desc, q->avail, q->used};
        const uint64_t len[3] = {16ull * q->num, 4 + 2ull * q->num, 4 + 8ull * q->num};
        for (unsigned k = 0; k < 3; k++) {
            volatile uint8_t *p = fz_ring(f, qi, at[k], len[k], parts[k]);
            for (uint64_t i = 0; i < len[k]; i++)
                p[i] = p[i];
        }
    }
    f->delay = 0;
    fz_serve_all(f);
}

void fz_finish(struct fz *f)
{
    if (f->zombie)
        fz_zombie_last_acts(f);
    for (unsigned qi = 0; qi < FZ_MAX_QUEUES; qi++)
        if (fz_queue_live(f, qi) && !fz_dev_ptr(f, f->q[qi].desc, 16ull * f->q[qi].num))
            fz_die("queue %u is still enabled on the device (never reset) but its ring "
                   "memory was freed", qi);
    unsigned kept_pages = f->dev ? f->dev->kept_pages : 0;
    unsigned kept_shares = f->dev ? f->dev->kept_shares : 0;
    unsigned pages = 0;
    for (unsigned i = 0; i < f->dma_hi; i++)
        if (f->dma[i].cpu && !f->dma[i].harness)
            pages += (unsigned)f->dma[i].pages;
    if (pages != kept_pages)
        for (unsigned i = 0; i < f->dma_hi; i++)
            if (f->dma[i].cpu && !f->dma[i].harness)
                fz_die("DMA allocation of %zu pages at 0x%llx never freed (%u pages left, "
                       "%u kept for a dead device)", f->dma[i].pages,
                       (unsigned long long)f->dma[i].dev, pages, kept_pages);
    if (pages != kept_pages)
        fz_die("%u DMA pages kept for a dead device, but %u left", kept_pages, pages);
    if (f->shares_live != kept_shares)
        fz_die("%u shares never unshared (%u kept for a dead device)", f->shares_live,
               kept_shares);
    /* What was kept is the harness's to free now. */
    for (unsigned i = 0; i < f->dma_hi; i++) {
        free(f->dma[i].cpu);
        f->dma[i] = (struct fz_dma){0};
    }
    memset(f->shares, 0, sizeof f->shares);
    f->shares_live = 0;
}

size_t fz_shared_bytes(const struct fz *f, const uint8_t *p, size_t n)
{
    size_t total = 0;

    for (unsigned i = 0; i < f->shares_hi; i++) {
        const struct fz_share *sh = &f->shares[i];
        const uint8_t *a = sh->cpu, *b;

        if (!a)
            continue;
        b = a + sh->len;
        if (b <= p || a >= p + n)
            continue;
        total += (size_t)((b < p + n ? b : p + n) - (a > p ? a : p));
    }
    return total;
}

void fz_start(struct fz *f, struct lvio_device *dev, const uint8_t *data, size_t size,
              uint32_t device_id)
{
    fz_init(f, data, size);
    fz_watch(f, dev);
    fz_read_common_header(f);
    f->device_id = device_id;
}

uint32_t fz_read_answer(struct fz *f)
{
    if (fz_empty(&f->t))
        return 0;
    uint8_t k = fz_u8(&f->t);
    if (k % 4 == 1)
        f->hold_this = true;
    return k % 4 == 2 ? fz_u16(&f->t) : 0;
}
