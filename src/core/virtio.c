/*
 * Device initialisation and status handling, transport independent
 * (VIRTIO 1.2, 3.1). The transport's ops do the register work.
 */
#include "internal.h"

/* Features the core itself accepts whenever the device offers them (and
 * the caller did not refuse them in dev->features_refused): the ring
 * implements indirect descriptors and event indexes. */
#define LVIO_CORE_FEATURES                                                    \
    ((1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_F_ACCESS_PLATFORM) | \
     (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) | (1ull << LVIO_VIRTIO_F_EVENT_IDX))

/* Ring features no driver may ask for: the ring does not implement them. */
#define LVIO_RING_FEATURES                                                    \
    ((1ull << LVIO_VIRTIO_F_RING_PACKED) | (1ull << LVIO_VIRTIO_F_IN_ORDER) |   \
     (1ull << LVIO_VIRTIO_F_NOTIFICATION_DATA) | (1ull << LVIO_VIRTIO_F_RING_RESET))

static void lvio_set_status(struct lvio_device *dev, uint8_t status)
{
    dev->status = status;
    if (dev->trace)
        lvio_trace_emit(dev, LVIO_TRACE_STATUS, 0, status, 0, 0, 0);
    /* Whatever was written to memory for the device (rings zeroed and
     * filled, request buffers) is visible before it hears of the step. */
    lvio_wmb();
    dev->ops->set_status(dev, status);
}

uint8_t lvio_device_status(struct lvio_device *dev)
{
    if (!lvio_device_valid(dev))
        return 0;
    return dev->ops->get_status(dev);
}

int lvio_device_reset(struct lvio_device *dev)
{
    struct lvio_deadline d;
    if (!lvio_device_valid(dev))
        return LVIO_E_INVAL;
    lvio_set_status(dev, 0);
    lvio_deadline_start(&d, dev->hal, LVIO_RESET_TIMEOUT_NS);
    for (;;) {
        uint8_t st = dev->ops->get_status(dev);
        if (st == 0) {
            dev->dead = false;
            return LVIO_OK;
        }
        if (lvio_deadline_passed(&d, dev->hal)) {
            dev->dead = true;
            return lvio_fail(dev, LVIO_E_DEAD,
                             "reset: status still 0x%02x after %llu us%s: the device may still "
                             "use its memory, which is kept, never freed",
                             st, (unsigned long long)lvio_div64(lvio_deadline_elapsed(&d, dev->hal), 1000),
                             lvio_deadline_why(&d));
        }
    }
}

int lvio_device_reset_after(struct lvio_device *dev, int err)
{
    char why[LVIO_ERRMSG_SIZE], then[LVIO_ERRMSG_SIZE];
    lvio_snprintf(why, sizeof why, "%s", dev->errmsg);
    int reset = lvio_device_reset(dev);
    if (reset == LVIO_OK) {
        lvio_snprintf(dev->errmsg, sizeof dev->errmsg, "%s", why);
        return err;
    }
    if (err == LVIO_OK || why[0] == '\0')
        return reset;
    lvio_snprintf(then, sizeof then, "%s", dev->errmsg);
    return lvio_fail(dev, reset, "%s; then %s", why, then);
}

void lvio_device_fail(struct lvio_device *dev)
{
    if (lvio_device_valid(dev))
        lvio_set_status(dev, (uint8_t)(dev->status | LVIO_VIRTIO_STATUS_FAILED));
}

int lvio_device_shm(struct lvio_device *dev, uint8_t id, uint64_t *addr, uint64_t *len)
{
    if (!lvio_device_valid(dev) || !addr || !len)
        return LVIO_E_INVAL;
    if (!dev->ops->shm)
        return LVIO_E_NODEV;
    return dev->ops->shm(dev, id, addr, len);
}

int lvio_device_check(struct lvio_device *dev)
{
    if (!lvio_device_valid(dev))
        return LVIO_E_INVAL;
    uint8_t st = dev->ops->get_status(dev);
    if (st & LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        return lvio_fail(dev, LVIO_E_NEEDS_RESET,
                         "device set DEVICE_NEEDS_RESET (status 0x%02x)", st);
    return LVIO_OK;
}

int lvio_dma_take(struct lvio_device *dev, uint32_t pages, void **cpu, uint64_t *dev_addr,
                  const char *what)
{
    const struct lvio_hal *hal = dev->hal;
    void *mem = hal->dma_alloc(hal->ctx, pages, dev_addr);
    *cpu = NULL;
    if (!mem)
        return lvio_fail(dev, LVIO_E_NOMEM, "no %u DMA page(s) for %s", pages, what);
    if (((uintptr_t)mem | *dev_addr) & (LVIO_PAGE_SIZE - 1)) {
        hal->dma_free(hal->ctx, mem, pages, *dev_addr); /* never given to the device */
        return lvio_fail(dev, LVIO_E_HAL, "dma_alloc returned an unaligned page for %s", what);
    }
    memset(mem, 0, (size_t)pages * LVIO_PAGE_SIZE);
    *cpu = mem;
    return LVIO_OK;
}

void lvio_dma_give_back(struct lvio_device *dev, void *cpu, size_t pages,
                        uint64_t dev_addr)
{
    const struct lvio_hal *hal = dev->hal;
    if (!dev->dead) {
        hal->dma_free(hal->ctx, cpu, pages, dev_addr);
        return;
    }
    dev->kept_pages += (uint32_t)pages;
    lvio_log(dev, LVIO_LOG_ERROR,
             "LVIO_E_DEAD: %zu DMA page(s) at 0x%llx kept, not freed: the device never "
             "completed its reset (%u kept in all)",
             pages, (unsigned long long)dev_addr, dev->kept_pages);
}

void lvio_unshare_give_back(struct lvio_device *dev, const void *buf,
                            size_t len, enum lvio_dma_dir dir,
                            uint64_t dev_addr)
{
    const struct lvio_hal *hal = dev->hal;
    if (!dev->dead) {
        if (hal->unshare)
            hal->unshare(hal->ctx, buf, len, dir, dev_addr);
        return;
    }
    if (dev->kept_shares++ == 0)
        lvio_log(dev, LVIO_LOG_ERROR,
                 "LVIO_E_DEAD: shared buffers stay shared: the device never completed its "
                 "reset");
}

/* Legacy interfaces carry only the first feature word. */
static uint32_t lvio_feature_words(const struct lvio_device *dev)
{
    uint32_t n = dev->legacy ? 1 : dev->ops->feature_words;
    return n < 2 ? n : 2;
}

static uint64_t lvio_read_features(struct lvio_device *dev)
{
    uint64_t f = 0;
    for (uint32_t sel = 0; sel < lvio_feature_words(dev); sel++)
        f |= (uint64_t)dev->ops->get_features(dev, sel) << (32 * sel);
    return f;
}

static void lvio_write_features(struct lvio_device *dev, uint64_t f)
{
    for (uint32_t sel = 0; sel < lvio_feature_words(dev); sel++)
        dev->ops->set_features(dev, sel, (uint32_t)(f >> (32 * sel)));
}

/* Modern devices confirm the feature set by keeping FEATURES_OK set. */
static int lvio_features_ok(struct lvio_device *dev)
{
    lvio_set_status(dev, (uint8_t)(dev->status | LVIO_VIRTIO_STATUS_FEATURES_OK));
    uint8_t st = dev->ops->get_status(dev);
    if (!(st & LVIO_VIRTIO_STATUS_FEATURES_OK))
        return lvio_fail(dev, LVIO_E_FEATURES,
                         "device refused features 0x%llx (offered 0x%llx, status 0x%02x)",
                         (unsigned long long)dev->features_accepted,
                         (unsigned long long)dev->features_offered, st);
    return LVIO_OK;
}

static int lvio_negotiate(struct lvio_device *dev, uint64_t wanted)
{
    uint64_t offered = lvio_read_features(dev);
    dev->features_offered = offered;
    if (!dev->legacy && !lvio_has_feature(offered, LVIO_VIRTIO_F_VERSION_1))
        return lvio_fail(dev, LVIO_E_UNSUPPORTED,
                         "modern transport but device does not offer VERSION_1 (features 0x%llx)",
                         (unsigned long long)offered);
    wanted &= ~LVIO_RING_FEATURES;
    uint64_t accept = offered & (wanted | LVIO_CORE_FEATURES) & ~dev->features_refused;
    /* VERSION_1 is not the caller's to refuse: a modern device needs it. */
    accept |= offered & (1ull << LVIO_VIRTIO_F_VERSION_1);
    dev->features_accepted = accept;
    lvio_write_features(dev, accept);
    if (dev->legacy)
        return LVIO_OK; /* legacy devices have no FEATURES_OK step */
    return lvio_features_ok(dev);
}

int lvio_device_begin(struct lvio_device *dev, uint64_t wanted)
{
    if (!lvio_device_valid(dev))
        return LVIO_E_INVAL;
    dev->errmsg[0] = '\0';
    dev->features_offered = dev->features_accepted = 0;
    /* The reset makes the device forget every vector. */
    dev->irq_mode = LVIO_IRQ_INTX;
    for (struct lvio_virtqueue *q = dev->queues; q; q = q->next)
        q->msix_vector = LVIO_VIRTIO_MSI_NO_VECTOR;
    int err = lvio_device_reset(dev);
    if (err)
        goto failed;
    lvio_set_status(dev, LVIO_VIRTIO_STATUS_ACKNOWLEDGE);
    lvio_set_status(dev, LVIO_VIRTIO_STATUS_ACKNOWLEDGE | LVIO_VIRTIO_STATUS_DRIVER);
    err = lvio_negotiate(dev, wanted);
    if (err)
        goto failed;
    err = lvio_device_check(dev);
    if (err)
        goto failed;
    if (dev->ops->irq_setup)
        dev->ops->irq_setup(dev); /* never fails: INTx is the fallback */
    return LVIO_OK;
failed:
    lvio_device_fail(dev);
    return err;
}

int lvio_device_driver_ok(struct lvio_device *dev)
{
    if (!lvio_device_valid(dev))
        return LVIO_E_INVAL;
    uint8_t need = LVIO_VIRTIO_STATUS_ACKNOWLEDGE | LVIO_VIRTIO_STATUS_DRIVER;
    if (!dev->legacy)
        need |= LVIO_VIRTIO_STATUS_FEATURES_OK;
    if ((dev->status & need) != need ||
        (dev->status & (LVIO_VIRTIO_STATUS_DRIVER_OK | LVIO_VIRTIO_STATUS_FAILED)))
        return lvio_fail(dev, LVIO_E_STATE,
                         "DRIVER_OK only after lvio_device_begin, once (status 0x%02x)",
                         dev->status);
    lvio_set_status(dev, (uint8_t)(dev->status | LVIO_VIRTIO_STATUS_DRIVER_OK));
    return lvio_device_check(dev);
}

uint32_t lvio_device_isr(struct lvio_device *dev)
{
    if (!lvio_device_valid(dev))
        return 0;
    return dev->ops->isr(dev);
}

uint32_t lvio_device_msix_isr(struct lvio_device *dev, uint16_t vector)
{
    if (!lvio_device_valid(dev) || dev->irq_mode != LVIO_IRQ_MSIX || !dev->ops->msix_isr)
        return 0;
    return dev->ops->msix_isr(dev, vector);
}

unsigned lvio_device_msix_vectors(const struct lvio_device *dev)
{
    if (!lvio_device_valid(dev) || dev->irq_mode != LVIO_IRQ_MSIX || !dev->ops->msix_vectors)
        return 0;
    return dev->ops->msix_vectors(dev);
}

/* Give up re-reading a config that keeps changing under us. */
#define LVIO_CONFIG_RETRIES 16

static void lvio_config_copy(struct lvio_device *dev, uint32_t off,
                             uint8_t *out, uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        unsigned w = ((off + i) % 4 == 0 && len - i >= 4) ? 4 : 1;
        dev->ops->config_read(dev, off + i, w, out + i);
        i += w;
    }
}

int lvio_config_read(struct lvio_device *dev, uint32_t offset, void *buf,
                     uint32_t len)
{
    if (!lvio_device_valid(dev) || !buf || len == 0 || len > 4096 || offset > 4096)
        return LVIO_E_INVAL;
    for (int tries = 0; tries < LVIO_CONFIG_RETRIES; tries++) {
        uint32_t gen = dev->ops->config_generation(dev);
        lvio_config_copy(dev, offset, buf, len);
        if (dev->ops->config_generation(dev) == gen)
            return LVIO_OK;
    }
    return lvio_fail(dev, LVIO_E_CONFIG,
                     "config generation changed on each of %d reads",
                     LVIO_CONFIG_RETRIES);
}

int lvio_config_read8(struct lvio_device *dev, uint32_t offset, uint8_t *value)
{
    if (!value)
        return LVIO_E_INVAL;
    return lvio_config_read(dev, offset, value, 1);
}

int lvio_config_read16(struct lvio_device *dev, uint32_t offset, uint16_t *value)
{
    uint16_t raw;
    int err = value ? lvio_config_read(dev, offset, &raw, sizeof raw) : LVIO_E_INVAL;
    if (err == LVIO_OK)
        *value = lvio_dev16_to_cpu(dev, raw);
    return err;
}

int lvio_config_read32(struct lvio_device *dev, uint32_t offset, uint32_t *value)
{
    uint32_t raw;
    int err = value ? lvio_config_read(dev, offset, &raw, sizeof raw) : LVIO_E_INVAL;
    if (err == LVIO_OK)
        *value = lvio_dev32_to_cpu(dev, raw);
    return err;
}

int lvio_config_read64(struct lvio_device *dev, uint32_t offset, uint64_t *value)
{
    uint64_t raw, again;
    if (!value)
        return LVIO_E_INVAL;
    int err = lvio_config_read(dev, offset, &raw, sizeof raw);
    /* Without a generation counter nothing says the two halves belong
     * together: read until two reads agree. */
    for (int tries = 0; err == LVIO_OK && dev->legacy; tries++) {
        err = lvio_config_read(dev, offset, &again, sizeof again);
        if (err == LVIO_OK && again == raw)
            break;
        raw = again;
        if (tries == LVIO_CONFIG_RETRIES)
            err = lvio_fail(dev, LVIO_E_CONFIG,
                            "config 0x%x: a 64-bit field changed on each of %d reads", offset,
                            LVIO_CONFIG_RETRIES);
    }
    if (err == LVIO_OK)
        *value = lvio_dev64_to_cpu(dev, raw);
    return err;
}

int lvio_config_write(struct lvio_device *dev, uint32_t offset, const void *buf,
                      uint32_t len)
{
    const uint8_t *in = buf;
    uint32_t i = 0;

    if (!lvio_device_valid(dev) || !buf || len == 0 || len > 4096 || offset > 4096)
        return LVIO_E_INVAL;
    while (i < len) {
        unsigned w = ((offset + i) % 4 == 0 && len - i >= 4) ? 4 : 1;
        dev->ops->config_write(dev, offset + i, w, in + i);
        i += w;
    }
    return LVIO_OK;
}

const char *lvio_device_type_name(uint32_t id)
{
    switch (id) {
    case LVIO_VIRTIO_ID_NET: return "net";
    case LVIO_VIRTIO_ID_BLOCK: return "blk";
    case LVIO_VIRTIO_ID_CONSOLE: return "console";
    case LVIO_VIRTIO_ID_RNG: return "rng";
    case LVIO_VIRTIO_ID_BALLOON: return "balloon";
    case LVIO_VIRTIO_ID_SCSI: return "scsi";
    case LVIO_VIRTIO_ID_9P: return "9p";
    case LVIO_VIRTIO_ID_GPU: return "gpu";
    case LVIO_VIRTIO_ID_INPUT: return "input";
    case LVIO_VIRTIO_ID_VSOCK: return "vsock";
    case LVIO_VIRTIO_ID_CRYPTO: return "crypto";
    case LVIO_VIRTIO_ID_IOMMU: return "iommu";
    case LVIO_VIRTIO_ID_MEM: return "mem";
    case LVIO_VIRTIO_ID_SOUND: return "sound";
    case LVIO_VIRTIO_ID_FS: return "fs";
    default: return "unknown";
    }
}
