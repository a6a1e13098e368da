/*
 * fuzz_rng: lvio_rng_init, a series of lvio_rng_read calls (with
 * lvio_rng_reset recoveries) and lvio_rng_teardown over a device whose
 * used entries (length, id, order, index jumps), queue size and, with
 * hostile registers, register reads come from the input.
 *
 * Checked: each read returns at most the bytes asked for, or an error it
 * documents (LVIO_E_AGAIN only with a zero timeout); it writes nothing past
 * what it returned; the bytes it returned are bytes the device wrote
 * (while the device has not lied about a chain); it ends, whatever its
 * timeout (up to UINT64_MAX) and the clock (stopped, backwards...: see
 * fuzz_dev.h), and does not time out early by a clock that runs; init and
 * teardown give back every DMA page, but what they keep when the device
 * ignores its reset (LVIO_E_DEAD), which the device may still use.
 *
 * Input: the common header (fuzz_dev.h), features ^ VERSION_1 (8),
 * QueueNumMax ^ 8 (2), then reads (length 2, timeout 1: its top bit,
 * lvio_rng_reset first; the rest 0-23 ticks, or from 0x78 on fz_timeout's
 * special values up to UINT64_MAX) interleaved with the device's
 * decisions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"

#define CANARY 0xc5
#define MAX_READS 12

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_rng rng;
    uint8_t next_byte;
} S;

/* The device's answer: fill the writable buffers with never-zero bytes,
 * report all of them, fewer, too many, none, or hold the chain. */
static uint32_t rng_service(struct fz *f, struct fz_chain *c)
{
    uint32_t writable = 0;
    for (unsigned i = 0; i < c->n; i++) {
        struct fz_buf *b = &c->buf[i];
        if (!b->write || !b->cpu)
            continue;
        S.next_byte = (uint8_t)(S.next_byte % 255 + 1);
        memset(b->cpu, S.next_byte, b->len); /* never 0 */
        writable += b->len;
    }
    if ((c->n != 1 || !c->buf[0].write) && !f->lied)
        fz_die("rng request: %u buffers, first %s", c->n,
               c->n && c->buf[0].write ? "writable" : "readable");
    if (fz_empty(&f->t))
        return writable;
    uint8_t m = fz_u8(&f->t);
    switch (m % 6) {
    case 1: return fz_u16(&f->t) % (writable + 1);
    case 2: return writable + 1 + fz_u16(&f->t);
    case 3: return 0;
    case 4: f->hold_this = true; return writable;
    default: return writable;
    }
}

static void check_read(size_t len, uint64_t timeout, const uint8_t *buf, int rv)
{
    if (rv > (int)len)
        fz_die("lvio_rng_read of %zu bytes returned %d", len, rv);
    if (rv < 0) {
        bool ok = rv == LVIO_E_BROKEN || rv == LVIO_E_NEEDS_RESET ||
                  (rv == LVIO_E_AGAIN && timeout == 0) || (rv == LVIO_E_TIMEOUT && timeout != 0);
        if (!ok)
            fz_die("lvio_rng_read(%zu bytes, timeout %llu ns) returned %d (%s)", len,
                   (unsigned long long)timeout, rv, lvio_errname(rv));
        fz_check_waited(&S.f, rv, timeout);
        rv = 0;
    }
    for (size_t i = (size_t)rv; i < len; i++)
        if (buf[i] != CANARY)
            fz_die("lvio_rng_read returned %d but wrote byte %zu", rv, i);
    if (S.f.lied)
        return;
    for (int i = 0; i < rv; i++)
        if (buf[i] == 0)
            fz_die("lvio_rng_read returned byte %d = 0, which the device never wrote", i);
}

/* Reads; a timeout byte with the top bit set first recovers the device
 * with lvio_rng_reset (as a kernel does after a failed read). */
static void reads(void)
{
    struct fz_tape *t = &S.f.h;
    bool up = true;
    for (unsigned n = 0; n < MAX_READS && !fz_empty(t); n++) {
        size_t len = fz_u16(t) % 6000;
        uint8_t tb = fz_u8(t);
        uint8_t tv = tb & 0x7f;
        uint64_t timeout = fz_timeout(tv >= 0x78 ? (uint8_t)(tv + 0x80) : tv, 24);
        if (tb & 0x80) {
            fz_call(&S.f, "lvio_rng_reset");
            int rv = lvio_rng_reset(&S.rng);
            fz_check_errmsg(&S.dev);
            if (rv > 0 || (rv == LVIO_E_INVAL && up))
                fz_die("lvio_rng_reset returned %d", rv);
            fz_check_waited(&S.f, rv, 0);
            up = rv == LVIO_OK;
        }
        uint8_t *buf = malloc(len ? len : 1);
        memset(buf, CANARY, len ? len : 1);
        fz_call(&S.f, "lvio_rng_read");
        int rv = lvio_rng_read(&S.rng, len ? buf : NULL, len, timeout);
        if (!up && len && rv != LVIO_E_INVAL)
            fz_die("lvio_rng_read after a failed reset returned %d", rv);
        if (up)
            check_read(len, timeout, buf, rv);
        fz_check_errmsg(&S.dev);
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_RNG);
    f->features = (1ull << LVIO_VIRTIO_F_VERSION_1) ^ fz_u64(&f->h);
    f->q[0].num_max = 8u ^ fz_u16(&f->h);
    f->service = rng_service;

    if (lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, 0x200) != LVIO_OK)
        goto out;
    if (S.dev.device_id != LVIO_VIRTIO_ID_RNG)
        goto out; /* the input changed it */
    fz_call(f, "lvio_rng_init");
    int rv = lvio_rng_init(&S.rng, &S.dev);
    fz_check_errmsg(&S.dev);
    if (rv != LVIO_OK) {
        if (rv > 0)
            fz_die("lvio_rng_init returned %d", rv);
        fz_check_waited(f, rv, 0);
        goto out;
    }
    reads();
    fz_call(f, "lvio_rng_teardown");
    lvio_rng_teardown(&S.rng);
    if (lvio_rng_read(&S.rng, S.rng.reqs.mem, 1, 0) != LVIO_E_INVAL)
        fz_die("lvio_rng_read after teardown did not return LVIO_E_INVAL");
out:
    fz_check_errmsg(&S.dev);
    fz_finish(f);
    return 0;
}
