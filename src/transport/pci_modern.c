/*
 * virtio-pci, the modern interface (VIRTIO 1.2, 4.1.4): the common
 * configuration structure, notify, ISR and device configuration, each
 * where the capabilities said (pci.c found and checked them).
 */
#include "pci_internal.h"

static uint8_t modern_get_status(struct lvio_device *dev)
{
    return (uint8_t)lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_STATUS, 1);
}

static void modern_set_status(struct lvio_device *dev, uint8_t status)
{
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_STATUS, 1, status);
}

static uint32_t modern_get_features(struct lvio_device *dev, uint32_t sel)
{
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_DFSELECT, 4, sel);
    return lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_DF, 4);
}

static void modern_set_features(struct lvio_device *dev, uint32_t sel, uint32_t val)
{
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_GF, 4, val);
}

static uint32_t modern_config_generation(struct lvio_device *dev)
{
    return lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_CFGGENERATION, 1);
}

static void modern_config_read(struct lvio_device *dev, uint32_t off, unsigned width,
                               uint8_t *out)
{
    lvio_pci_region_config_read(dev, &dev->transport_state.pci.devcfg, off, width, out);
}

static void modern_config_write(struct lvio_device *dev, uint32_t off, unsigned width,
                                const uint8_t *in)
{
    lvio_pci_region_config_write(dev, &dev->transport_state.pci.devcfg, off, width, in);
}

static void modern_select(struct lvio_device *dev, uint16_t index)
{
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
}

static int modern_queue_max(struct lvio_device *dev, uint16_t index, uint32_t *max)
{
    uint32_t n = lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_NUMQ, 2);
    if (index >= n)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: device has no such queue (num_queues %u)",
                         index, n);
    modern_select(dev, index);
    if (lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: already in use (queue_enable is 1)",
                         index);
    *max = lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_SIZE, 2);
    if (*max == 0)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: device has no such queue (queue_size 0)",
                         index);
    return LVIO_OK;
}

static void modern_write64(struct lvio_device *dev, uint32_t off, uint64_t v)
{
    lvio_pci_reg_write(dev, COMMON(dev), off, 4, (uint32_t)v);
    lvio_pci_reg_write(dev, COMMON(dev), off + 4, 4, (uint32_t)(v >> 32));
}

static int modern_queue_enable(struct lvio_device *dev, const struct lvio_queue_place *q,
                               uint32_t *notify_off)
{
    const struct lvio_pci_region *notify = &dev->transport_state.pci.notify;

    modern_select(dev, q->index);
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
    uint32_t size = lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_SIZE, 2);
    if (size != q->size)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: device did not take size %u (reads %u)",
                         q->index, q->size, size);
    uint32_t noff = lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_NOFF, 2);
    uint64_t at = (uint64_t)noff * dev->transport_state.pci.notify_mult;
    if (at & 1)
        return lvio_fail(dev, LVIO_E_LAYOUT,
                         "queue %u: notify offset %u x multiplier %u = 0x%llx is odd (the "
                         "notify register is 16 bits)",
                         q->index, noff, dev->transport_state.pci.notify_mult, (unsigned long long)at);
    if (at + 2 > notify->len)
        return lvio_fail(dev, LVIO_E_LAYOUT,
                         "queue %u: notify offset %u x multiplier %u = 0x%llx is outside the "
                         "notify structure (0x%x bytes)",
                         q->index, noff, dev->transport_state.pci.notify_mult, (unsigned long long)at,
                         notify->len);
    *notify_off = (uint32_t)at;
    modern_write64(dev, LVIO_VIRTIO_PCI_COMMON_Q_DESCLO, q->desc);
    modern_write64(dev, LVIO_VIRTIO_PCI_COMMON_Q_AVAILLO, q->avail);
    modern_write64(dev, LVIO_VIRTIO_PCI_COMMON_Q_USEDLO, q->used);
    lvio_pci_reg_write(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    uint32_t enabled = lvio_pci_reg_read(dev, COMMON(dev), LVIO_VIRTIO_PCI_COMMON_Q_ENABLE, 2);
    if (enabled != 1)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: device did not set queue_enable (reads %u)",
                         q->index, enabled);
    return LVIO_OK;
}

static void modern_notify(struct lvio_device *dev, uint16_t index, uint32_t notify_off)
{
    lvio_pci_reg_write(dev, &dev->transport_state.pci.notify, notify_off, 2, index);
}

static uint32_t modern_isr(struct lvio_device *dev)
{
    /* Reading the ISR status acknowledges it. */
    return lvio_pci_reg_read(dev, &dev->transport_state.pci.isr, 0, 1) & (LVIO_VIRTIO_ISR_QUEUE | LVIO_VIRTIO_ISR_CONFIG);
}

const struct lvio_transport_ops lvio_pci_modern_ops = {
    .name = "pci",
    .get_status = modern_get_status,
    .set_status = modern_set_status,
    .get_features = modern_get_features,
    .set_features = modern_set_features,
    .feature_words = 2,
    .queue_size_fixed = false,
    .config_generation = modern_config_generation,
    .config_read = modern_config_read,
    .config_write = modern_config_write,
    .queue_max = modern_queue_max,
    .queue_enable = modern_queue_enable,
    .notify = modern_notify,
    .isr = modern_isr,
    .dump = lvio_pci_dump,
    .shm = lvio_pci_shm,
    .irq_setup = lvio_pci_msix_setup,
    .queue_vector = lvio_pci_msix_queue,
    .msix_isr = lvio_pci_msix_isr,
    .msix_vectors = lvio_pci_msix_vectors,
};
