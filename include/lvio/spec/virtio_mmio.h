/*
 * virtio-mmio register layout (VIRTIO 1.2, 4.2.2 and 4.2.4). Offsets in
 * bytes from the start of the region; all registers are 32 bits wide and
 * little-endian. Registers marked "legacy" exist only in Version 1 devices,
 * those marked "v2" only in Version 2 devices: a Version 1 device ignores
 * writes to the v2 queue registers, which is how a driver that only knows
 * Version 2 ends up waiting forever on a queue the device never saw.
 */
#ifndef LVIO_SPEC_VIRTIO_MMIO_H
#define LVIO_SPEC_VIRTIO_MMIO_H

#define LVIO_VIRTIO_MMIO_MAGIC_VALUE         0x000 /* "virt" */
#define LVIO_VIRTIO_MMIO_VERSION             0x004 /* 1 legacy, 2 modern */
#define LVIO_VIRTIO_MMIO_DEVICE_ID           0x008 /* 0: no device */
#define LVIO_VIRTIO_MMIO_VENDOR_ID           0x00c
#define LVIO_VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define LVIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define LVIO_VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define LVIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define LVIO_VIRTIO_MMIO_GUEST_PAGE_SIZE     0x028 /* legacy */
#define LVIO_VIRTIO_MMIO_QUEUE_SEL           0x030
#define LVIO_VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define LVIO_VIRTIO_MMIO_QUEUE_NUM           0x038
#define LVIO_VIRTIO_MMIO_QUEUE_ALIGN         0x03c /* legacy */
#define LVIO_VIRTIO_MMIO_QUEUE_PFN           0x040 /* legacy */
#define LVIO_VIRTIO_MMIO_QUEUE_READY         0x044 /* v2 */
#define LVIO_VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define LVIO_VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define LVIO_VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define LVIO_VIRTIO_MMIO_STATUS              0x070
#define LVIO_VIRTIO_MMIO_QUEUE_DESC_LOW      0x080 /* v2 */
#define LVIO_VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084 /* v2 */
#define LVIO_VIRTIO_MMIO_QUEUE_AVAIL_LOW     0x090 /* v2 ("QueueDriver") */
#define LVIO_VIRTIO_MMIO_QUEUE_AVAIL_HIGH    0x094 /* v2 */
#define LVIO_VIRTIO_MMIO_QUEUE_USED_LOW      0x0a0 /* v2 ("QueueDevice") */
#define LVIO_VIRTIO_MMIO_QUEUE_USED_HIGH     0x0a4 /* v2 */
#define LVIO_VIRTIO_MMIO_SHM_SEL             0x0ac /* v2: shared memory region id */
#define LVIO_VIRTIO_MMIO_SHM_LEN_LOW         0x0b0 /* v2: its length, all ones: none */
#define LVIO_VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4 /* v2 */
#define LVIO_VIRTIO_MMIO_SHM_BASE_LOW        0x0b8 /* v2: its guest physical address */
#define LVIO_VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc /* v2 */
#define LVIO_VIRTIO_MMIO_CONFIG_GENERATION   0x0fc /* v2 */
#define LVIO_VIRTIO_MMIO_CONFIG              0x100

#define LVIO_VIRTIO_MMIO_MAGIC     0x74726976u /* "virt", little-endian */
#define LVIO_VIRTIO_MMIO_MIN_SIZE  0x100u      /* registers before config */

/* InterruptStatus bits. */
#define LVIO_VIRTIO_MMIO_INT_VRING  1u /* used buffer notification */
#define LVIO_VIRTIO_MMIO_INT_CONFIG 2u /* configuration change */

#endif
