/*
 * lvio_dump(): a device's whole state, through the HAL log. It only reads
 * what the core and the transports keep (and the status register), so it
 * sits on top of them and nothing below depends on it.
 */
#include "internal.h"

static void lvio_vq_dump(struct lvio_virtqueue *vq)
{
    uint16_t used_idx = lvio_dev16_to_cpu(vq->dev, *(volatile lvio_le16 *)&vq->used->idx);
    lvio_log_dump(vq->dev,
                  "dump: queue %u: size %u, desc 0x%llx avail 0x%llx used 0x%llx, "
                  "avail idx %u, used idx %u, last seen %u, free %u, in flight %u",
                  vq->index, vq->size, (unsigned long long)vq->desc_addr,
                  (unsigned long long)vq->avail_addr, (unsigned long long)vq->used_addr,
                  vq->avail_idx, used_idx, vq->last_used, vq->num_free,
                  lvio_vq_in_flight(vq));
    lvio_log_dump(vq->dev,
                  "dump: queue %u: kicks %llu (%llu not needed), completions %llu, "
                  "indirect %llu, clamped %llu%s%s%s%s",
                  vq->index, (unsigned long long)vq->kicks,
                  (unsigned long long)vq->kicks_saved, (unsigned long long)vq->completions,
                  (unsigned long long)vq->indirect_chains, (unsigned long long)vq->clamped,
                  vq->indirect ? ", INDIRECT_DESC" : "", vq->event_idx ? ", EVENT_IDX" : "",
                  vq->cb_off ? ", notifications off" : "", vq->broken ? ", BROKEN" : "");
}

static void lvio_status_text(uint8_t st, char *buf, size_t size)
{
    static const struct { uint8_t bit; const char *name; } bits[] = {
        {LVIO_VIRTIO_STATUS_ACKNOWLEDGE, " ACKNOWLEDGE"},
        {LVIO_VIRTIO_STATUS_DRIVER, " DRIVER"},
        {LVIO_VIRTIO_STATUS_FEATURES_OK, " FEATURES_OK"},
        {LVIO_VIRTIO_STATUS_DRIVER_OK, " DRIVER_OK"},
        {LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET, " DEVICE_NEEDS_RESET"},
        {LVIO_VIRTIO_STATUS_FAILED, " FAILED"},
    };
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if (st & bits[i].bit)
            n += (size_t)lvio_snprintf(buf + n, n < size ? size - n : 0, "%s",
                                       bits[i].name);
    if (st == 0)
        lvio_snprintf(buf, size, " (reset)");
}

void lvio_dump(struct lvio_device *dev)
{
    char st_text[96];
    if (!lvio_device_valid(dev))
        return;
    uint8_t st = lvio_device_status(dev);
    lvio_status_text(st, st_text, sizeof st_text);
    lvio_log_dump(dev, "dump: %s v%u%s, device %u (%s), vendor 0x%08x",
             dev->ops->name, dev->version, dev->legacy ? " (legacy)" : "",
             dev->device_id, lvio_device_type_name(dev->device_id),
             dev->vendor_id);
    lvio_log_dump(dev, "dump: features offered 0x%016llx accepted 0x%016llx",
             (unsigned long long)dev->features_offered,
             (unsigned long long)dev->features_accepted);
    lvio_log_dump(dev, "dump: status 0x%02x%s", st, st_text);
    if (dev->dead || dev->kept_pages || dev->kept_shares)
        lvio_log_dump(dev, "dump: %s, kept %u DMA pages and %u shares after a failed reset",
                      dev->dead ? "DEAD (reset never completed)" : "alive again",
                      dev->kept_pages, dev->kept_shares);
    if (dev->ops->dump)
        dev->ops->dump(dev);
    for (struct lvio_virtqueue *q = dev->queues; q; q = q->next)
        lvio_vq_dump(q);
}
