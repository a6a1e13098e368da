/*
 * virtio-mmio transport (VIRTIO 1.2, 4.2), Version 1 (legacy) and 2.
 *
 * The one place where the two versions differ for a driver is queue
 * setup: Version 1 takes GuestPageSize, QueueNum, QueueAlign and a page
 * number in QueuePFN; Version 2 takes three 64-bit addresses and
 * QueueReady. A Version 1 device silently ignores the Version 2 registers,
 * so each path reads back what it wrote.
 */
#include "lvio/mmio.h"
#include "../core/internal.h"

static uint32_t mmio_read(struct lvio_device *dev, uint32_t off)
{
    return lvio_io_read(dev, dev->transport_state.mmio.regs + off, 4);
}

static void mmio_write(struct lvio_device *dev, uint32_t off, uint32_t val)
{
    lvio_io_write(dev, dev->transport_state.mmio.regs + off, 4, val, off);
}

static uint8_t mmio_get_status(struct lvio_device *dev)
{
    return (uint8_t)mmio_read(dev, LVIO_VIRTIO_MMIO_STATUS);
}

static void mmio_set_status(struct lvio_device *dev, uint8_t status)
{
    mmio_write(dev, LVIO_VIRTIO_MMIO_STATUS, status);
}

static uint32_t mmio_get_features(struct lvio_device *dev, uint32_t sel)
{
    mmio_write(dev, LVIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
    return mmio_read(dev, LVIO_VIRTIO_MMIO_DEVICE_FEATURES);
}

static void mmio_set_features(struct lvio_device *dev, uint32_t sel,
                              uint32_t val)
{
    mmio_write(dev, LVIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
    mmio_write(dev, LVIO_VIRTIO_MMIO_DRIVER_FEATURES, val);
}

static uint32_t mmio_config_generation(struct lvio_device *dev)
{
    if (dev->version < 2)
        return 0; /* legacy has no generation counter */
    return mmio_read(dev, LVIO_VIRTIO_MMIO_CONFIG_GENERATION);
}

static void mmio_config_read(struct lvio_device *dev, uint32_t off,
                             unsigned width, uint8_t *out)
{
    volatile uint8_t *addr = dev->transport_state.mmio.regs + LVIO_VIRTIO_MMIO_CONFIG + off;
    if (LVIO_VIRTIO_MMIO_CONFIG + off + width > dev->transport_state.mmio.size) {
        memset(out, 0xff, width); /* beyond the region: never touch it */
        return;
    }
    lvio_config_split(dev, lvio_io_read(dev, addr, width), width, out);
}

static void mmio_config_write(struct lvio_device *dev, uint32_t off,
                              unsigned width, const uint8_t *in)
{
    volatile uint8_t *addr = dev->transport_state.mmio.regs + LVIO_VIRTIO_MMIO_CONFIG + off;
    if (LVIO_VIRTIO_MMIO_CONFIG + off + width > dev->transport_state.mmio.size)
        return; /* beyond the region: never touch it */
    lvio_io_write(dev, addr, width, lvio_config_join(dev, in, width),
                  LVIO_VIRTIO_MMIO_CONFIG + off);
}

static int mmio_queue_max(struct lvio_device *dev, uint16_t index, uint32_t *max)
{
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_SEL, index);
    if (dev->version >= 2 && mmio_read(dev, LVIO_VIRTIO_MMIO_QUEUE_READY))
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: already in use (QueueReady is 1)", index);
    if (dev->version == 1 && mmio_read(dev, LVIO_VIRTIO_MMIO_QUEUE_PFN))
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: already in use (QueuePFN is set)", index);
    *max = mmio_read(dev, LVIO_VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (*max == 0)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: device has no such queue (QueueNumMax 0)",
                         index);
    return LVIO_OK;
}

static int mmio_queue_enable_v1(struct lvio_device *dev,
                                const struct lvio_queue_place *q)
{
    uint64_t pfn = q->desc / LVIO_PAGE_SIZE;
    if (pfn > UINT32_MAX)
        return lvio_fail(dev, LVIO_E_RANGE,
                         "queue %u: ring at 0x%llx is above the 16 TiB a legacy "
                         "QueuePFN can address", q->index,
                         (unsigned long long)q->desc);
    mmio_write(dev, LVIO_VIRTIO_MMIO_GUEST_PAGE_SIZE, LVIO_PAGE_SIZE);
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_SEL, q->index);
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_NUM, q->size);
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_ALIGN, LVIO_VIRTQ_LEGACY_ALIGN);
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_PFN, (uint32_t)pfn);
    uint32_t back = mmio_read(dev, LVIO_VIRTIO_MMIO_QUEUE_PFN);
    if (back != (uint32_t)pfn)
        return lvio_fail(dev, LVIO_E_QUEUE,
                         "queue %u: legacy device did not take QueuePFN 0x%x (reads 0x%x)",
                         q->index, (uint32_t)pfn, back);
    return LVIO_OK;
}

static void mmio_write64(struct lvio_device *dev, uint32_t off, uint64_t v)
{
    mmio_write(dev, off, (uint32_t)v);
    mmio_write(dev, off + 4, (uint32_t)(v >> 32));
}

static int mmio_queue_enable_v2(struct lvio_device *dev,
                                const struct lvio_queue_place *q)
{
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_SEL, q->index);
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_NUM, q->size);
    mmio_write64(dev, LVIO_VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
    mmio_write64(dev, LVIO_VIRTIO_MMIO_QUEUE_AVAIL_LOW, q->avail);
    mmio_write64(dev, LVIO_VIRTIO_MMIO_QUEUE_USED_LOW, q->used);
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_READY, 1);
    uint32_t ready = mmio_read(dev, LVIO_VIRTIO_MMIO_QUEUE_READY);
    if (ready != 1)
        return lvio_fail(dev, LVIO_E_QUEUE,
                         "queue %u: device did not set QueueReady (reads 0x%x)",
                         q->index, ready);
    return LVIO_OK;
}

static int mmio_queue_enable(struct lvio_device *dev, const struct lvio_queue_place *q,
                             uint32_t *notify_off)
{
    *notify_off = 0; /* one QueueNotify register for all */
    if (dev->version == 1)
        return mmio_queue_enable_v1(dev, q);
    return mmio_queue_enable_v2(dev, q);
}

static void mmio_notify(struct lvio_device *dev, uint16_t index, uint32_t notify_off)
{
    (void)notify_off;
    mmio_write(dev, LVIO_VIRTIO_MMIO_QUEUE_NOTIFY, index);
}

static uint32_t mmio_isr(struct lvio_device *dev)
{
    uint32_t isr = mmio_read(dev, LVIO_VIRTIO_MMIO_INTERRUPT_STATUS);
    isr &= LVIO_VIRTIO_MMIO_INT_VRING | LVIO_VIRTIO_MMIO_INT_CONFIG;
    if (isr)
        mmio_write(dev, LVIO_VIRTIO_MMIO_INTERRUPT_ACK, isr);
    return isr;
}

static void mmio_dump(struct lvio_device *dev)
{
    lvio_log_dump(dev, "dump: mmio regs at 0x%llx (+0x%llx), interrupt status 0x%x",
                  (unsigned long long)dev->phys, (unsigned long long)dev->transport_state.mmio.size,
                  mmio_read(dev, LVIO_VIRTIO_MMIO_INTERRUPT_STATUS));
}

/* Version 2's shared memory registers: a region is absent when its length
 * reads all ones (QEMU's answer for every id it has not) or 0. */
static int mmio_shm(struct lvio_device *dev, uint8_t id, uint64_t *addr, uint64_t *len)
{
    if (dev->version < 2)
        return LVIO_E_NODEV;
    mmio_write(dev, LVIO_VIRTIO_MMIO_SHM_SEL, id);
    uint64_t l = mmio_read(dev, LVIO_VIRTIO_MMIO_SHM_LEN_LOW) |
                 (uint64_t)mmio_read(dev, LVIO_VIRTIO_MMIO_SHM_LEN_HIGH) << 32;
    uint64_t base = mmio_read(dev, LVIO_VIRTIO_MMIO_SHM_BASE_LOW) |
                    (uint64_t)mmio_read(dev, LVIO_VIRTIO_MMIO_SHM_BASE_HIGH) << 32;
    if (l == UINT64_MAX || l == 0)
        return LVIO_E_NODEV;
    if (base + l < base)
        return lvio_fail(dev, LVIO_E_CONFIG,
                         "shared memory region %u at 0x%llx of 0x%llx bytes wraps around", id,
                         (unsigned long long)base, (unsigned long long)l);
    *addr = base;
    *len = l;
    return LVIO_OK;
}

static const struct lvio_transport_ops mmio_ops = {
    .name = "mmio",
    .get_status = mmio_get_status,
    .set_status = mmio_set_status,
    .get_features = mmio_get_features,
    .set_features = mmio_set_features,
    .feature_words = 2,
    .config_generation = mmio_config_generation,
    .config_read = mmio_config_read,
    .config_write = mmio_config_write,
    .queue_max = mmio_queue_max,
    .queue_enable = mmio_queue_enable,
    .notify = mmio_notify,
    .isr = mmio_isr,
    .dump = mmio_dump,
    .shm = mmio_shm,
};

static bool mmio_hal_ok(const struct lvio_hal *hal)
{
    return hal && hal->dma_alloc && hal->dma_free && hal->now_ns;
}

int lvio_mmio_probe(struct lvio_device *dev, const struct lvio_hal *hal,
                    uint64_t phys, uint64_t size)
{
    if (!dev)
        return LVIO_E_INVAL;
    memset(dev, 0, sizeof *dev);
    dev->hal = hal;
    dev->transport = LVIO_TRANSPORT_MMIO;
    dev->phys = phys;
    dev->transport_state.mmio.size = size;
    lvio_snprintf(dev->name, sizeof dev->name, "mmio@0x%08llx", (unsigned long long)phys);
    if (!mmio_hal_ok(hal)) /* logged only if there is a HAL with a log */
        return lvio_fail(dev, LVIO_E_INVAL, "the HAL is NULL or lacks dma_alloc, dma_free "
                                            "or now_ns");
    if (size < LVIO_VIRTIO_MMIO_MIN_SIZE || phys % 4 != 0)
        return lvio_fail(dev, LVIO_E_INVAL,
                         "registers at 0x%llx (+0x%llx): need 0x%x bytes, 4-byte aligned",
                         (unsigned long long)phys, (unsigned long long)size,
                         LVIO_VIRTIO_MMIO_MIN_SIZE);
    dev->transport_state.mmio.regs = hal->map_regs ? hal->map_regs(hal->ctx, phys, (size_t)size)
                                     : (volatile uint8_t *)(uintptr_t)phys;
    if (!dev->transport_state.mmio.regs)
        return lvio_fail(dev, LVIO_E_INVAL, "map_regs could not map 0x%llx bytes",
                         (unsigned long long)size);
    if ((uintptr_t)dev->transport_state.mmio.regs % 4 != 0)
        return lvio_fail(dev, LVIO_E_HAL, "map_regs returned %p, not 4-byte aligned",
                         (void *)(uintptr_t)dev->transport_state.mmio.regs);
    uint32_t magic = mmio_read(dev, LVIO_VIRTIO_MMIO_MAGIC_VALUE);
    if (magic != LVIO_VIRTIO_MMIO_MAGIC)
        return lvio_fail(dev, LVIO_E_NOT_VIRTIO, "magic 0x%08x is not \"virt\"", magic);
    dev->version = mmio_read(dev, LVIO_VIRTIO_MMIO_VERSION);
    if (dev->version != 1 && dev->version != 2)
        return lvio_fail(dev, LVIO_E_UNSUPPORTED, "unknown virtio-mmio version %u",
                         dev->version);
    dev->legacy = dev->version == 1;
    dev->ops = &mmio_ops;
    dev->device_id = mmio_read(dev, LVIO_VIRTIO_MMIO_DEVICE_ID);
    dev->vendor_id = mmio_read(dev, LVIO_VIRTIO_MMIO_VENDOR_ID);
    if (dev->device_id == 0) {
        lvio_snprintf(dev->errmsg, sizeof dev->errmsg, "empty slot (DeviceID 0)");
        return LVIO_E_NODEV;
    }
    return LVIO_OK;
}
