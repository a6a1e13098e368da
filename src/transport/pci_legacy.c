/*
 * virtio-pci, the legacy interface (VIRTIO 1.2, 4.1.4.8): the register
 * block in I/O BAR 0, with the device's fixed queue sizes and guest-endian
 * configuration.
 */
#include "pci_internal.h"

static uint8_t legacy_get_status(struct lvio_device *dev)
{
    return (uint8_t)lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_STATUS, 1);
}

static void legacy_set_status(struct lvio_device *dev, uint8_t status)
{
    lvio_pci_reg_write(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_STATUS, 1, status);
}

static uint32_t legacy_get_features(struct lvio_device *dev, uint32_t sel)
{
    return sel == 0 ? lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_HOST_FEATURES, 4) : 0;
}

static void legacy_set_features(struct lvio_device *dev, uint32_t sel, uint32_t val)
{
    if (sel == 0)
        lvio_pci_reg_write(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES, 4, val);
}

static uint32_t legacy_config_generation(struct lvio_device *dev)
{
    (void)dev;
    return 0; /* legacy has no generation counter */
}

/* Device configuration follows the registers: at 0x14, or 0x18 while
 * MSI-X is enabled (by lvio_device_begin, or left on by firmware). */
static void legacy_config_read(struct lvio_device *dev, uint32_t off, unsigned width,
                               uint8_t *out)
{
    if (off > LEGACY(dev)->len) {
        memset(out, 0xff, width);
        return;
    }
    lvio_pci_region_config_read(dev, LEGACY(dev), dev->transport_state.pci.legacy_cfg + off, width, out);
}

static void legacy_config_write(struct lvio_device *dev, uint32_t off, unsigned width,
                                const uint8_t *in)
{
    if (off <= LEGACY(dev)->len)
        lvio_pci_region_config_write(dev, LEGACY(dev), dev->transport_state.pci.legacy_cfg + off, width, in);
}

static int legacy_queue_max(struct lvio_device *dev, uint16_t index, uint32_t *max)
{
    lvio_pci_reg_write(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL, 2, index);
    if (lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN, 4) != 0)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: already in use (queue PFN is set)",
                         index);
    *max = lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_NUM, 2);
    if (*max == 0)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: device has no such queue (queue size 0)",
                         index);
    return LVIO_OK;
}

static int legacy_queue_enable(struct lvio_device *dev, const struct lvio_queue_place *q,
                               uint32_t *notify_off)
{
    *notify_off = 0; /* one queue_notify register for all */
    uint64_t pfn = q->desc >> LVIO_VIRTIO_PCI_LEGACY_QUEUE_ADDR_SHIFT;
    if (pfn > UINT32_MAX)
        return lvio_fail(dev, LVIO_E_RANGE,
                         "queue %u: ring at 0x%llx is above the 16 TiB a legacy queue "
                         "PFN can address", q->index, (unsigned long long)q->desc);
    lvio_pci_reg_write(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL, 2, q->index);
    uint32_t num = lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_NUM, 2);
    if (num != q->size)
        return lvio_fail(dev, LVIO_E_QUEUE, "queue %u: size changed from %u to %u", q->index,
                         q->size, num);
    lvio_pci_reg_write(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN, 4, (uint32_t)pfn);
    uint32_t back = lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN, 4);
    if (back != (uint32_t)pfn)
        return lvio_fail(dev, LVIO_E_QUEUE,
                         "queue %u: legacy device did not take queue PFN 0x%x (reads 0x%x)",
                         q->index, (uint32_t)pfn, back);
    return LVIO_OK;
}

static void legacy_notify(struct lvio_device *dev, uint16_t index, uint32_t notify_off)
{
    (void)notify_off;
    lvio_pci_reg_write(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_QUEUE_NOTIFY, 2, index);
}

static uint32_t legacy_isr(struct lvio_device *dev)
{
    return lvio_pci_reg_read(dev, LEGACY(dev), LVIO_VIRTIO_PCI_LEGACY_ISR, 1) &
           (LVIO_VIRTIO_ISR_QUEUE | LVIO_VIRTIO_ISR_CONFIG);
}

const struct lvio_transport_ops lvio_pci_legacy_ops = {
    .name = "pci",
    .get_status = legacy_get_status,
    .set_status = legacy_set_status,
    .get_features = legacy_get_features,
    .set_features = legacy_set_features,
    .feature_words = 1,
    .queue_size_fixed = true,
    .config_generation = legacy_config_generation,
    .config_read = legacy_config_read,
    .config_write = legacy_config_write,
    .queue_max = legacy_queue_max,
    .queue_enable = legacy_queue_enable,
    .notify = legacy_notify,
    .isr = legacy_isr,
    .dump = lvio_pci_dump,
    .irq_setup = lvio_pci_msix_setup,
    .queue_vector = lvio_pci_msix_queue,
    .msix_isr = lvio_pci_msix_isr,
    .msix_vectors = lvio_pci_msix_vectors,
};
