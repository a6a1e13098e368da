/*
 * virtio over PCI (VIRTIO 1.2, 4.1): the PCI configuration header fields the
 * transport reads, the virtio vendor capabilities, the modern common
 * configuration structure and the legacy I/O register block. Offsets are in
 * bytes; everything on PCI is little-endian.
 */
#ifndef LVIO_SPEC_VIRTIO_PCI_H
#define LVIO_SPEC_VIRTIO_PCI_H

#include "types.h"

/* ---- PCI configuration header (type 0), the fields used here ---- */
#define LVIO_PCI_VENDOR_ID        0x00 /* 16 bits */
#define LVIO_PCI_DEVICE_ID        0x02 /* 16 bits */
#define LVIO_PCI_COMMAND          0x04 /* 16 bits */
#define LVIO_PCI_STATUS           0x06 /* 16 bits */
#define LVIO_PCI_REVISION_ID      0x08 /* 8 bits */
#define LVIO_PCI_HEADER_TYPE      0x0e /* 8 bits; bit 7: multi-function */
#define LVIO_PCI_BAR0             0x10 /* six 32-bit BARs */
#define LVIO_PCI_SUBSYSTEM_ID     0x2e /* 16 bits */
#define LVIO_PCI_CAPABILITY_LIST  0x34 /* 8 bits */

#define LVIO_PCI_COMMAND_IO       0x1u
#define LVIO_PCI_COMMAND_MEMORY   0x2u
#define LVIO_PCI_COMMAND_MASTER   0x4u
#define LVIO_PCI_STATUS_CAP_LIST  0x10u

#define LVIO_PCI_CAP_ID_MSIX      0x11
#define LVIO_PCI_CAP_ID_VNDR      0x09

#define LVIO_PCI_NUM_BARS         6

/* ---- MSI-X capability and table (PCI Local Bus 3.0, 6.8.2) ---- */
#define LVIO_PCI_MSIX_CAP_LEN       12     /* bytes of the capability */
#define LVIO_PCI_MSIX_MSG_CTRL      2      /* 16 bits, within the capability */
#define LVIO_PCI_MSIX_TABLE         4      /* 32 bits: offset | BIR */
#define LVIO_PCI_MSIX_PBA           8      /* 32 bits: offset | BIR */
#define LVIO_PCI_MSIX_CTRL_ENABLE   0x8000u
#define LVIO_PCI_MSIX_CTRL_MASKALL  0x4000u /* function mask */
#define LVIO_PCI_MSIX_CTRL_SIZE     0x07ffu /* table size - 1, read only */
#define LVIO_PCI_MSIX_CTRL_RESERVED 0x3800u /* preserved on writes */
#define LVIO_PCI_MSIX_BIR_MASK      0x7u    /* BAR indicator, low bits of TABLE/PBA */
#define LVIO_PCI_MSIX_MAX_ENTRIES   2048u

/* One table entry, 16 bytes, accessed as 32-bit words. */
#define LVIO_PCI_MSIX_ENTRY_SIZE    16u
#define LVIO_PCI_MSIX_ENTRY_ADDR_LO 0
#define LVIO_PCI_MSIX_ENTRY_ADDR_HI 4
#define LVIO_PCI_MSIX_ENTRY_DATA    8
#define LVIO_PCI_MSIX_ENTRY_CTRL    12
#define LVIO_PCI_MSIX_ENTRY_MASKED  0x1u    /* vector control bit 0 */
#define LVIO_PCI_CFG_SPACE_SIZE   256u  /* conventional; ECAM gives 4096 */

/* ---- virtio identification (4.1.2) ---- */
#define LVIO_PCI_VENDOR_ID_VIRTIO         0x1af4u
#define LVIO_VIRTIO_PCI_ID_LEGACY_FIRST   0x1000u /* transitional: 0x1000..0x103f, */
#define LVIO_VIRTIO_PCI_ID_LEGACY_LAST    0x103fu /* the type in the subsystem id */
#define LVIO_VIRTIO_PCI_ID_MODERN_BASE    0x1040u /* 0x1040 + virtio device id */
#define LVIO_VIRTIO_PCI_ID_MODERN_LAST    0x107fu

/* ---- virtio vendor capabilities (4.1.4) ---- */
#define LVIO_VIRTIO_PCI_CAP_COMMON_CFG        1
#define LVIO_VIRTIO_PCI_CAP_NOTIFY_CFG        2
#define LVIO_VIRTIO_PCI_CAP_ISR_CFG           3
#define LVIO_VIRTIO_PCI_CAP_DEVICE_CFG        4
#define LVIO_VIRTIO_PCI_CAP_PCI_CFG           5
#define LVIO_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8
#define LVIO_VIRTIO_PCI_CAP_VENDOR_CFG        9

struct lvio_virtio_pci_cap {
    uint8_t cap_vndr;   /* LVIO_PCI_CAP_ID_VNDR */
    uint8_t cap_next;
    uint8_t cap_len;
    uint8_t cfg_type;   /* LVIO_VIRTIO_PCI_CAP_* */
    uint8_t bar;        /* 0..5 */
    uint8_t id;
    uint8_t padding[2];
    lvio_le32 offset;   /* within the BAR */
    lvio_le32 length;
};
_Static_assert(sizeof(struct lvio_virtio_pci_cap) == 16, "virtio_pci_cap is 16 bytes");

struct lvio_virtio_pci_notify_cap {
    struct lvio_virtio_pci_cap cap;
    lvio_le32 notify_off_multiplier;
};
_Static_assert(sizeof(struct lvio_virtio_pci_notify_cap) == 20, "notify cap is 20 bytes");

/* struct virtio_pci_cap64: a capability whose offset and length take 64
 * bits (VIRTIO_PCI_CAP_SHARED_MEMORY_CFG, its id the region's shmid). */
struct lvio_virtio_pci_cap64 {
    struct lvio_virtio_pci_cap cap;
    lvio_le32 offset_hi;
    lvio_le32 length_hi;
};
_Static_assert(sizeof(struct lvio_virtio_pci_cap64) == 24, "virtio_pci_cap64 is 24 bytes");

/* Offsets within a capability (for reads through configuration space). */
#define LVIO_VIRTIO_PCI_CAP_LEN        2
#define LVIO_VIRTIO_PCI_CAP_CFG_TYPE   3
#define LVIO_VIRTIO_PCI_CAP_BAR        4
#define LVIO_VIRTIO_PCI_CAP_OFFSET     8
#define LVIO_VIRTIO_PCI_CAP_LENGTH     12
#define LVIO_VIRTIO_PCI_NOTIFY_CAP_MULT 16
#define LVIO_VIRTIO_PCI_CAP_ID         5
#define LVIO_VIRTIO_PCI_CAP64_OFFSET_HI 16
#define LVIO_VIRTIO_PCI_CAP64_LENGTH_HI 20

/* ---- common configuration structure (4.1.4.3) ---- */
struct lvio_virtio_pci_common_cfg {
    lvio_le32 device_feature_select;
    lvio_le32 device_feature;
    lvio_le32 driver_feature_select;
    lvio_le32 driver_feature;
    lvio_le16 config_msix_vector;
    lvio_le16 num_queues;
    uint8_t device_status;
    uint8_t config_generation;
    lvio_le16 queue_select;
    lvio_le16 queue_size;
    lvio_le16 queue_msix_vector;
    lvio_le16 queue_enable;
    lvio_le16 queue_notify_off;
    lvio_le64 queue_desc;
    lvio_le64 queue_driver;
    lvio_le64 queue_device;
};
_Static_assert(sizeof(struct lvio_virtio_pci_common_cfg) == 56, "common cfg is 56 bytes");

#define LVIO_VIRTIO_PCI_COMMON_DFSELECT      0
#define LVIO_VIRTIO_PCI_COMMON_DF            4
#define LVIO_VIRTIO_PCI_COMMON_GFSELECT      8
#define LVIO_VIRTIO_PCI_COMMON_GF            12
#define LVIO_VIRTIO_PCI_COMMON_MSIX          16
#define LVIO_VIRTIO_PCI_COMMON_NUMQ          18
#define LVIO_VIRTIO_PCI_COMMON_STATUS        20
#define LVIO_VIRTIO_PCI_COMMON_CFGGENERATION 21
#define LVIO_VIRTIO_PCI_COMMON_Q_SELECT      22
#define LVIO_VIRTIO_PCI_COMMON_Q_SIZE        24
#define LVIO_VIRTIO_PCI_COMMON_Q_MSIX        26
#define LVIO_VIRTIO_PCI_COMMON_Q_ENABLE      28
#define LVIO_VIRTIO_PCI_COMMON_Q_NOFF        30
#define LVIO_VIRTIO_PCI_COMMON_Q_DESCLO      32
#define LVIO_VIRTIO_PCI_COMMON_Q_DESCHI      36
#define LVIO_VIRTIO_PCI_COMMON_Q_AVAILLO     40
#define LVIO_VIRTIO_PCI_COMMON_Q_AVAILHI     44
#define LVIO_VIRTIO_PCI_COMMON_Q_USEDLO      48
#define LVIO_VIRTIO_PCI_COMMON_Q_USEDHI      52

#define LVIO_VIRTIO_MSI_NO_VECTOR            0xffffu

/* ---- legacy interface: BAR 0, I/O space (4.1.4.8) ---- */
#define LVIO_VIRTIO_PCI_LEGACY_HOST_FEATURES  0x00 /* 32 bits, R */
#define LVIO_VIRTIO_PCI_LEGACY_GUEST_FEATURES 0x04 /* 32 bits, RW */
#define LVIO_VIRTIO_PCI_LEGACY_QUEUE_PFN      0x08 /* 32 bits, RW */
#define LVIO_VIRTIO_PCI_LEGACY_QUEUE_NUM      0x0c /* 16 bits, R: the size is fixed */
#define LVIO_VIRTIO_PCI_LEGACY_QUEUE_SEL      0x0e /* 16 bits, RW */
#define LVIO_VIRTIO_PCI_LEGACY_QUEUE_NOTIFY   0x10 /* 16 bits, RW */
#define LVIO_VIRTIO_PCI_LEGACY_STATUS         0x12 /* 8 bits, RW */
#define LVIO_VIRTIO_PCI_LEGACY_ISR            0x13 /* 8 bits, R: reading clears */
#define LVIO_VIRTIO_PCI_LEGACY_CONFIG_VECTOR  0x14 /* 16 bits, RW, only with MSI-X on */
#define LVIO_VIRTIO_PCI_LEGACY_QUEUE_VECTOR   0x16 /* 16 bits, RW, only with MSI-X on */
#define LVIO_VIRTIO_PCI_LEGACY_CONFIG         0x14 /* device config, MSI-X off */
#define LVIO_VIRTIO_PCI_LEGACY_CONFIG_MSIX    0x18 /* device config, MSI-X on */
#define LVIO_VIRTIO_PCI_LEGACY_QUEUE_ADDR_SHIFT 12 /* QueuePFN is in 4 KiB pages */

#endif
