/*
 * fuzz_mmio: the virtio-mmio transport and the core's device init, with
 * every register read taken from the input (one opcode byte per read, see
 * fz_perturb in fuzz_dev.c: keep the model's answer, flip a bit, a small
 * number, off by a little, or any 32-bit value).
 *
 * Sequence: lvio_mmio_probe, lvio_device_begin, lvio_vq_setup of a few
 * queues, lvio_device_driver_ok, lvio_config_read/write, isr, status,
 * lvio_dump, reset and teardown. Checked: every call returns one of the
 * errors it documents; the features accepted are offered, wanted (or the
 * core's) and never a ring feature the driver lacks; a queue's parts are
 * where the layout rule puts them and where the device was told they are;
 * register accesses stay inside the mapped range; every DMA page comes
 * back, except the rings kept (not freed) when the device ignored its
 * reset (the common header's reset flags): LVIO_E_DEAD from the reset, or
 * from a queue setup whose clean-up reset it ignored.
 *
 * Input: the common header (fuzz_dev.h; hostile registers always on),
 * device id ^ 4 (1), features ^ VERSION_1 (8), QueueNumMax ^ 256 for four
 * queues (8), config space (16), region size code (1), wanted features
 * (8), queue count and max sizes (5), config accesses (5 each, up to 4),
 * then the register-read opcodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"

#define NQ 4
/* Ring features the driver does not implement: never accepted. */
#define RING_FEATURES                                                                     \
    ((1ull << LVIO_VIRTIO_F_RING_PACKED) | (1ull << LVIO_VIRTIO_F_IN_ORDER) |             \
     (1ull << LVIO_VIRTIO_F_NOTIFICATION_DATA) | (1ull << LVIO_VIRTIO_F_RING_RESET))
/* What the core takes whenever offered (the ring implements the last two). */
#define CORE_FEATURES                                                                     \
    ((1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_F_ACCESS_PLATFORM) |        \
     (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) | (1ull << LVIO_VIRTIO_F_EVENT_IDX))

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_virtqueue vq[NQ];
    bool vq_up[NQ];
    uint64_t traced;
} S;

static void trace(void *ctx, const struct lvio_trace_event *ev)
{
    (void)ctx;
    if (ev->dev != &S.dev)
        fz_die("trace event for another device");
    S.traced++;
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
    return (v + a - 1) / a * a;
}

/* A queue just set up: its layout, and what the device was told. */
static void check_queue(unsigned i)
{
    const struct lvio_virtqueue *vq = &S.vq[i];
    const struct fz_queue *q = &S.f.q[i];
    uint32_t n = vq->size;
    if (n == 0 || (n & (n - 1)) || n > LVIO_VQ_MAX_SIZE)
        fz_die("queue %u: size %u", i, n);
    if (vq->desc_addr % LVIO_PAGE_SIZE || vq->avail_addr != vq->desc_addr + 16u * n ||
        vq->used_addr != vq->desc_addr + align_up(16u * n + 6 + 2 * n, 4096))
        fz_die("queue %u: parts at 0x%llx 0x%llx 0x%llx for size %u", i,
               (unsigned long long)vq->desc_addr, (unsigned long long)vq->avail_addr,
               (unsigned long long)vq->used_addr, n);
    if (vq->desc_addr == (uint64_t)(uintptr_t)vq->desc)
        fz_die("queue %u: the device got a CPU address", i);
    /* Only when the driver believes what the device is. */
    if (S.dev.version != S.f.version || !fz_queue_live(&S.f, i))
        return;
    if (q->desc != vq->desc_addr || q->avail != vq->avail_addr || q->used != vq->used_addr ||
        q->num != n)
        fz_die("queue %u: the device placed it at 0x%llx 0x%llx 0x%llx (size %u), the "
               "driver at 0x%llx 0x%llx 0x%llx (size %u)", i, (unsigned long long)q->desc,
               (unsigned long long)q->avail, (unsigned long long)q->used, q->num,
               (unsigned long long)vq->desc_addr, (unsigned long long)vq->avail_addr,
               (unsigned long long)vq->used_addr, n);
}

static void check_features(uint64_t wanted)
{
    uint64_t acc = S.dev.features_accepted, off = S.dev.features_offered;
    if (acc & ~off)
        fz_die("accepted 0x%llx, not all offered (0x%llx)", (unsigned long long)acc,
               (unsigned long long)off);
    if (acc & ~(wanted | CORE_FEATURES))
        fz_die("accepted 0x%llx, not all wanted (0x%llx)", (unsigned long long)acc,
               (unsigned long long)wanted);
    if (acc & RING_FEATURES)
        fz_die("accepted ring features 0x%llx", (unsigned long long)(acc & RING_FEATURES));
    if (S.dev.legacy && (acc >> 32))
        fz_die("legacy device: accepted features above bit 31");
    if (!S.dev.legacy && !lvio_has_feature(acc, LVIO_VIRTIO_F_VERSION_1))
        fz_die("modern device without VERSION_1 accepted");
    if ((S.f.driver_features & ~acc) != 0)
        fz_die("the device was told features 0x%llx, the driver recorded 0x%llx",
               (unsigned long long)S.f.driver_features, (unsigned long long)acc);
}

static void config_ops(void)
{
    struct fz_tape *t = &S.f.h;
    unsigned n = fz_u8(t) % 5;
    for (unsigned i = 0; i < n; i++) {
        uint32_t off = fz_u16(t) % 0x1200;
        uint32_t len = fz_u16(t) % 0x1100;
        bool write = len & 1;
        uint8_t *buf = malloc(len ? len : 1);
        memset(buf, 0xa5, len ? len : 1);
        int rv = write ? lvio_config_write(&S.dev, off, buf, len)
                       : lvio_config_read(&S.dev, off, buf, len);
        bool bad = len == 0 || len > 4096 || off > 4096;
        if (bad && rv != LVIO_E_INVAL)
            fz_die("config access off %u len %u returned %d, not LVIO_E_INVAL", off, len, rv);
        if (!bad)
            FZ_EXPECT("lvio_config_read/write", rv, LVIO_OK, LVIO_E_CONFIG);
        if (write && rv == LVIO_E_CONFIG)
            fz_die("lvio_config_write returned LVIO_E_CONFIG");
        free(buf);
    }
}

static void setup_queues(void)
{
    struct fz_tape *t = &S.f.h;
    unsigned n = fz_u8(t) % (NQ + 1);
    for (unsigned i = 0; i < n; i++) {
        uint8_t m = fz_u8(t);
        uint16_t max = m == 0 ? 0 : (uint16_t)(1u << (m % 10));
        fz_call(&S.f, "lvio_vq_setup");
        int rv = lvio_vq_setup(&S.vq[i], &S.dev, (uint16_t)i, max);
        FZ_EXPECT("lvio_vq_setup", rv, LVIO_OK, LVIO_E_QUEUE, LVIO_E_NOMEM, LVIO_E_RANGE,
                  LVIO_E_DEAD);
        fz_check_waited(&S.f, rv, 0);
        if (rv == LVIO_E_RANGE && S.f.dma_base != FZ_DMA_BASE_16TIB)
            fz_die("LVIO_E_RANGE for a ring below 16 TiB");
        if (rv == LVIO_OK) {
            S.vq_up[i] = true;
            check_queue(i);
            if (max && S.vq[i].size > max)
                fz_die("queue %u: size %u above max_size %u", i, S.vq[i].size, max);
        }
        if (!fz_driver_still_on(&S.dev, rv))
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, 0);
    f->hostile_regs = true;
    f->device_id = 4u ^ fz_u8(&f->h); /* any kind of device: from the tape */
    f->features = (1ull << LVIO_VIRTIO_F_VERSION_1) ^ fz_u64(&f->h);
    for (unsigned i = 0; i < NQ; i++)
        f->q[i].num_max = 256u ^ fz_u16(&f->h);
    fz_bytes(&f->h, f->config, 16);
    uint8_t sc = fz_u8(&f->h);
    uint64_t region = sc == 0 ? 0x200 : sc * 16ull;
    uint64_t wanted = fz_u64(&f->h);

    fz_call(f, "lvio_mmio_probe");
    int rv = lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, region);
    FZ_EXPECT("lvio_mmio_probe", rv, LVIO_OK, LVIO_E_NODEV, LVIO_E_NOT_VIRTIO, LVIO_E_UNSUPPORTED,
           LVIO_E_INVAL, LVIO_E_HAL);
    if ((rv == LVIO_E_INVAL) != (region < LVIO_VIRTIO_MMIO_MIN_SIZE))
        fz_die("probe of a 0x%llx-byte region returned %d", (unsigned long long)region, rv);
    fz_check_errmsg(&S.dev);
    if (rv != LVIO_OK)
        goto out;
    if ((S.dev.version != 1 && S.dev.version != 2) || S.dev.legacy != (S.dev.version == 1) ||
        S.dev.device_id == 0 || !S.dev.ops)
        fz_die("probe succeeded with version %u legacy %d device %u", S.dev.version,
               S.dev.legacy, S.dev.device_id);
    lvio_device_set_trace(&S.dev, trace, NULL);

    fz_call(f, "lvio_device_begin");
    rv = lvio_device_begin(&S.dev, wanted);
    FZ_EXPECT("lvio_device_begin", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_FEATURES,
           LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET);
    fz_check_waited(f, rv, 0);
    if (rv == LVIO_OK) {
        check_features(wanted);
        setup_queues();
        if (S.dev.status & LVIO_VIRTIO_STATUS_DRIVER) {
            fz_call(f, "lvio_device_driver_ok");
            rv = lvio_device_driver_ok(&S.dev);
            FZ_EXPECT("lvio_device_driver_ok", rv, LVIO_OK, LVIO_E_NEEDS_RESET);
        }
    }
    fz_call(f, "config, isr, status, check, dump");
    config_ops();
    lvio_device_isr(&S.dev);
    lvio_device_status(&S.dev);
    rv = lvio_device_check(&S.dev);
    FZ_EXPECT("lvio_device_check", rv, LVIO_OK, LVIO_E_NEEDS_RESET);
    lvio_dump(&S.dev);
    fz_reset_teardown(&S.dev, S.vq, S.vq_up, NQ);
    fz_check_errmsg(&S.dev);
out:
    fz_finish(f);
    return 0;
}
