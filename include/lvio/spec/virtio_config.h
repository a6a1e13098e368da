/*
 * Device status bits, reserved feature bits and device IDs
 * (VIRTIO 1.2, sections 2.1, 6 and 5).
 */
#ifndef LVIO_SPEC_VIRTIO_CONFIG_H
#define LVIO_SPEC_VIRTIO_CONFIG_H

/* Device status field (2.1). */
#define LVIO_VIRTIO_STATUS_ACKNOWLEDGE        1u
#define LVIO_VIRTIO_STATUS_DRIVER             2u
#define LVIO_VIRTIO_STATUS_DRIVER_OK          4u
#define LVIO_VIRTIO_STATUS_FEATURES_OK        8u
#define LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define LVIO_VIRTIO_STATUS_FAILED             128u

/* Interrupt status bits (4.2.2 InterruptStatus, 4.1.4.5 ISR status). */
#define LVIO_VIRTIO_ISR_QUEUE                 1u /* used buffer notification */
#define LVIO_VIRTIO_ISR_CONFIG                2u /* configuration change */

/* Reserved feature bits (6), as bit numbers. */
#define LVIO_VIRTIO_F_NOTIFY_ON_EMPTY      24 /* legacy only */
#define LVIO_VIRTIO_F_ANY_LAYOUT           27 /* legacy only */
#define LVIO_VIRTIO_F_INDIRECT_DESC        28
#define LVIO_VIRTIO_F_EVENT_IDX            29
#define LVIO_VIRTIO_F_VERSION_1            32
#define LVIO_VIRTIO_F_ACCESS_PLATFORM      33
#define LVIO_VIRTIO_F_RING_PACKED          34
#define LVIO_VIRTIO_F_IN_ORDER             35
#define LVIO_VIRTIO_F_ORDER_PLATFORM       36
#define LVIO_VIRTIO_F_SR_IOV               37
#define LVIO_VIRTIO_F_NOTIFICATION_DATA    38
#define LVIO_VIRTIO_F_NOTIF_CONFIG_DATA    39
#define LVIO_VIRTIO_F_RING_RESET           40

/* Device IDs (5). */
#define LVIO_VIRTIO_ID_NET      1
#define LVIO_VIRTIO_ID_BLOCK    2
#define LVIO_VIRTIO_ID_CONSOLE  3
#define LVIO_VIRTIO_ID_RNG      4
#define LVIO_VIRTIO_ID_BALLOON  5
#define LVIO_VIRTIO_ID_SCSI     8
#define LVIO_VIRTIO_ID_9P       9
#define LVIO_VIRTIO_ID_GPU      16
#define LVIO_VIRTIO_ID_INPUT    18
#define LVIO_VIRTIO_ID_VSOCK    19
#define LVIO_VIRTIO_ID_CRYPTO   20
#define LVIO_VIRTIO_ID_IOMMU    23
#define LVIO_VIRTIO_ID_MEM      24
#define LVIO_VIRTIO_ID_SOUND    25
#define LVIO_VIRTIO_ID_FS       26

#endif
