/*
 * virtio-blk wire format (VIRTIO 1.2, 5.2): feature bits, configuration,
 * request types, status values and the structs a request is made of.
 *
 * Byte order: a modern device's configuration and requests are
 * little-endian; a legacy device (MMIO Version 1, legacy PCI) uses the
 * guest's own order for both (5.2.4.1, 5.2.6.3). The types say
 * little-endian; the driver converts through the device's order.
 * Only wire facts here; the driver is src/drivers/blk.c.
 */
#ifndef LVIO_SPEC_VIRTIO_BLK_H
#define LVIO_SPEC_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Feature bits (5.2.3), as bit numbers. */
#define LVIO_VIRTIO_BLK_F_SIZE_MAX       1
#define LVIO_VIRTIO_BLK_F_SEG_MAX        2
#define LVIO_VIRTIO_BLK_F_GEOMETRY       4
#define LVIO_VIRTIO_BLK_F_RO             5
#define LVIO_VIRTIO_BLK_F_BLK_SIZE       6
#define LVIO_VIRTIO_BLK_F_FLUSH          9
#define LVIO_VIRTIO_BLK_F_TOPOLOGY       10
#define LVIO_VIRTIO_BLK_F_CONFIG_WCE     11
#define LVIO_VIRTIO_BLK_F_MQ             12
#define LVIO_VIRTIO_BLK_F_DISCARD        13
#define LVIO_VIRTIO_BLK_F_WRITE_ZEROES   14
#define LVIO_VIRTIO_BLK_F_LIFETIME       15
#define LVIO_VIRTIO_BLK_F_SECURE_ERASE   16
#define LVIO_VIRTIO_BLK_F_ZONED          17
/* Legacy interface only (5.2.3.1). */
#define LVIO_VIRTIO_BLK_F_BARRIER        0
#define LVIO_VIRTIO_BLK_F_SCSI           7

/* Units the protocol counts in: capacity, sectors and the discard, write
 * zeroes and secure erase limits are in 512-byte sectors, whatever
 * blk_size says. */
#define LVIO_VIRTIO_BLK_SECTOR_SIZE 512u

/* Device configuration layout (5.2.4). */
struct lvio_virtio_blk_geometry {
    lvio_le16 cylinders;
    uint8_t heads;
    uint8_t sectors;
};

struct lvio_virtio_blk_topology {
    uint8_t physical_block_exp; /* logical blocks per physical block, log2 */
    uint8_t alignment_offset;   /* first aligned logical block */
    lvio_le16 min_io_size;      /* suggested minimum I/O, in logical blocks */
    lvio_le32 opt_io_size;      /* optimal I/O, in logical blocks */
};

struct lvio_virtio_blk_config {
    lvio_le64 capacity;
    lvio_le32 size_max;
    lvio_le32 seg_max;
    struct lvio_virtio_blk_geometry geometry;
    lvio_le32 blk_size;
    struct lvio_virtio_blk_topology topology;
    uint8_t writeback;
    uint8_t unused0;
    lvio_le16 num_queues;
    lvio_le32 max_discard_sectors;
    lvio_le32 max_discard_seg;
    lvio_le32 discard_sector_alignment;
    lvio_le32 max_write_zeroes_sectors;
    lvio_le32 max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
    lvio_le32 max_secure_erase_sectors;
    lvio_le32 max_secure_erase_seg;
    lvio_le32 secure_erase_sector_alignment;
};

_Static_assert(sizeof(struct lvio_virtio_blk_geometry) == 4, "virtio_blk_geometry");
_Static_assert(sizeof(struct lvio_virtio_blk_topology) == 8, "virtio_blk_topology");
_Static_assert(sizeof(struct lvio_virtio_blk_config) == 72, "virtio_blk_config");
_Static_assert(offsetof(struct lvio_virtio_blk_config, blk_size) == 20,
               "virtio_blk_config.blk_size");
_Static_assert(offsetof(struct lvio_virtio_blk_config, num_queues) == 34,
               "virtio_blk_config.num_queues");
_Static_assert(offsetof(struct lvio_virtio_blk_config, max_secure_erase_sectors) ==
                   60,
               "virtio_blk_config.max_secure_erase_sectors");

/* Request types (5.2.6). */
#define LVIO_VIRTIO_BLK_T_IN            0
#define LVIO_VIRTIO_BLK_T_OUT           1
#define LVIO_VIRTIO_BLK_T_FLUSH         4
#define LVIO_VIRTIO_BLK_T_GET_ID        8
#define LVIO_VIRTIO_BLK_T_GET_LIFETIME  10
#define LVIO_VIRTIO_BLK_T_DISCARD       11
#define LVIO_VIRTIO_BLK_T_WRITE_ZEROES  13
#define LVIO_VIRTIO_BLK_T_SECURE_ERASE  14

/* Status, the last byte of every request (5.2.6). */
#define LVIO_VIRTIO_BLK_S_OK      0
#define LVIO_VIRTIO_BLK_S_IOERR   1
#define LVIO_VIRTIO_BLK_S_UNSUPP  2

/* The device ID string of GET_ID: NUL-padded, no NUL when 20 bytes long. */
#define LVIO_VIRTIO_BLK_ID_BYTES 20

/* struct virtio_blk_req up to its data: the part the device reads first. */
struct lvio_virtio_blk_outhdr {
    lvio_le32 type;
    lvio_le32 reserved; /* legacy: ioprio */
    lvio_le64 sector;
};

_Static_assert(sizeof(struct lvio_virtio_blk_outhdr) == 16, "virtio_blk_req header");

/* One range of a DISCARD, WRITE_ZEROES or SECURE_ERASE request's data. */
#define LVIO_VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u /* flags bit 0: unmap */

struct lvio_virtio_blk_discard_write_zeroes {
    lvio_le64 sector;
    lvio_le32 num_sectors;
    lvio_le32 flags;
};

_Static_assert(sizeof(struct lvio_virtio_blk_discard_write_zeroes) == 16,
               "virtio_blk_discard_write_zeroes");

#endif
