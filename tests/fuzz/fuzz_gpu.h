/*
 * What the two GPU targets' devices (fuzz_gpu.c, fuzz_gpu3d.c) share: the
 * answers a hostile device gives any control command.
 */
#ifndef FUZZ_GPU_H
#define FUZZ_GPU_H

#include <stdlib.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_gpu.h"

/* A control command as the device takes it: the request (the chain's
 * first buffer), where the answer goes (its last), the command type. */
struct fz_gpu_cmd {
    const uint8_t *req;
    uint32_t req_len;
    uint8_t *resp;
    uint32_t cap;
    uint32_t type;
};

/* Find them in chain `c`; false when the chain has no readable first and
 * writable last buffer in DMA memory (which the driver must give unless
 * the device lied). */
static inline bool fz_gpu_control_cmd(struct fz *f, const struct fz_chain *c,
                                      struct fz_gpu_cmd *k)
{
    if (c->n < 2 || !c->buf[0].cpu || c->buf[0].write || !c->buf[c->n - 1].write ||
        !c->buf[c->n - 1].cpu) {
        if (!f->lied)
            fz_die("control command with %u buffers", c->n);
        return false;
    }
    k->req = c->buf[0].cpu;
    k->req_len = c->buf[0].len;
    k->resp = c->buf[c->n - 1].cpu;
    k->cap = c->buf[c->n - 1].len;
    k->type = k->req_len >= 4 ? fz_get_le32(k->req) : 0;
    return true;
}

/* A write to the configuration: only events_clear (write-to-clear of
 * events_read); width 0 is the device raising a display event itself. */
static inline void fz_gpu_config_write(struct fz *f, uint32_t off, unsigned width, uint32_t v)
{
    if (width == 0) {
        fz_config_put32(f, 0, fz_config_get32(f, 0) | LVIO_VIRTIO_GPU_EVENT_DISPLAY);
        return;
    }
    if (off != 4 || width != 4)
        fz_die("gpu config write of %u bytes at %u", width, off);
    fz_config_put32(f, 0, fz_config_get32(f, 0) & ~v); /* events_clear */
}

/* Install the device's behaviour and probe it (MMIO): true when the
 * library found a GPU there. */
static inline bool fz_gpu_probe(struct fz *f, struct lvio_device *dev, fz_service_fn service,
                                void (*config_write)(struct fz *, uint32_t, unsigned, uint32_t),
                                void (*on_reset)(struct fz *))
{
    f->service = service;
    f->config_write = config_write;
    f->on_reset = on_reset;
    return lvio_mmio_probe(dev, &f->hal, FZ_MMIO_PHYS, 0x200) == LVIO_OK &&
           dev->device_id == LVIO_VIRTIO_ID_GPU;
}

/* The end of an input: the device's checks (fz_finish), then the
 * harness's `n` buffers freed (they may be shared until the teardown). */
static inline void fz_gpu_finish(struct fz *f, const struct lvio_device *dev, void **bufs,
                                 unsigned n)
{
    fz_check_errmsg(dev);
    fz_finish(f);
    for (unsigned i = 0; i < n; i++)
        free(bufs[i]);
}

/* Answer modes 1..3 of a control command (`mode` % 10, from the device's
 * tape): an error response, a response of any type, or any bytes of any
 * length. Fills `resp` (`cap` bytes, at least a header) and returns true
 * with the length to report in *len; false for the other modes. */
static inline bool fz_gpu_hostile_answer(struct fz *f, uint8_t mode, uint8_t *resp, uint32_t cap,
                                         uint32_t *len)
{
    const uint32_t hdr = sizeof(struct lvio_virtio_gpu_ctrl_hdr);
    switch (mode % 10) {
    case 1: /* an error response */
        fz_put_le32(resp, LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC + fz_u8(&f->t) % 7);
        *len = hdr;
        return true;
    case 2: /* a response type of any kind */
        fz_put_le32(resp, fz_u32(&f->t));
        *len = fz_u8(&f->t) & 1 ? cap : hdr;
        return true;
    case 3: /* the bytes are anything */
        fz_bytes(&f->t, resp, fz_u16(&f->t) % (cap + 1));
        *len = fz_u16(&f->t);
        return true;
    default:
        return false;
    }
}

/* A new timeout from harness byte `b`: 1-64 ticks, or from 0xf8 on
 * fz_timeout's special values. */
static inline uint64_t fz_gpu_timeout(uint8_t b)
{
    return b >= 0xf8 ? fz_timeout(b, 1) : (1 + b % 64) * FZ_TICK_NS;
}

#endif
