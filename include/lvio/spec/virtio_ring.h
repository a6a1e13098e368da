/*
 * Split virtqueue wire format (VIRTIO 1.2, 2.7). The three parts live in
 * memory shared with the device; every field is little-endian on a modern
 * device and guest-endian on a legacy one.
 */
#ifndef LVIO_SPEC_VIRTIO_RING_H
#define LVIO_SPEC_VIRTIO_RING_H

#include "types.h"

#define LVIO_VIRTQ_DESC_F_NEXT      1u /* chain continues in 'next' */
#define LVIO_VIRTQ_DESC_F_WRITE     2u /* device writes (otherwise reads) */
#define LVIO_VIRTQ_DESC_F_INDIRECT  4u /* buffer holds a descriptor table */

#define LVIO_VIRTQ_AVAIL_F_NO_INTERRUPT 1u /* driver: don't interrupt me */
#define LVIO_VIRTQ_USED_F_NO_NOTIFY     1u /* device: don't notify me */

/* Legacy interfaces place the used ring at this alignment (2.7.2). */
#define LVIO_VIRTQ_LEGACY_ALIGN 4096u

/* struct virtq_desc */
struct lvio_virtq_desc {
    lvio_le64 addr; /* device address of the buffer */
    lvio_le32 len;
    lvio_le16 flags;
    lvio_le16 next;
};

/* struct virtq_avail: ring[queue size], then used_event (EVENT_IDX). */
struct lvio_virtq_avail {
    lvio_le16 flags;
    lvio_le16 idx;
    lvio_le16 ring[];
};

/* struct virtq_used_elem */
struct lvio_virtq_used_elem {
    lvio_le32 id;  /* head of the used descriptor chain */
    lvio_le32 len; /* bytes the device wrote into the chain */
};

/* struct virtq_used: ring[queue size], then avail_event (EVENT_IDX). */
struct lvio_virtq_used {
    lvio_le16 flags;
    lvio_le16 idx;
    struct lvio_virtq_used_elem ring[];
};

_Static_assert(sizeof(struct lvio_virtq_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(sizeof(struct lvio_virtq_avail) == 4, "virtq_avail header is 4 bytes");
_Static_assert(sizeof(struct lvio_virtq_used_elem) == 8, "virtq_used_elem is 8 bytes");
_Static_assert(sizeof(struct lvio_virtq_used) == 4, "virtq_used header is 4 bytes");

#endif
