/*
 * virtio-gpu wire format (VIRTIO 1.2, 5.7): feature bits, configuration,
 * command and response codes, and the 2D command structs. Every field is
 * little-endian, on every transport (the device reads these structs itself;
 * they are not part of the legacy guest-endian interface).
 * Only wire facts here; the driver is src/drivers/gpu.c.
 */
#ifndef LVIO_SPEC_VIRTIO_GPU_H
#define LVIO_SPEC_VIRTIO_GPU_H

#include "types.h"

/* Feature bits (5.7.3), as bit numbers. */
#define LVIO_VIRTIO_GPU_F_VIRGL          0
#define LVIO_VIRTIO_GPU_F_EDID           1
#define LVIO_VIRTIO_GPU_F_RESOURCE_UUID  2
#define LVIO_VIRTIO_GPU_F_RESOURCE_BLOB  3
#define LVIO_VIRTIO_GPU_F_CONTEXT_INIT   4

/* Virtqueues (5.7.2). */
#define LVIO_VIRTIO_GPU_QUEUE_CONTROL 0
#define LVIO_VIRTIO_GPU_QUEUE_CURSOR  1

/* Device configuration layout (5.7.4). */
#define LVIO_VIRTIO_GPU_EVENT_DISPLAY (1u << 0)

struct lvio_virtio_gpu_config {
    lvio_le32 events_read;
    lvio_le32 events_clear;
    lvio_le32 num_scanouts;
    lvio_le32 num_capsets;
};

#define LVIO_VIRTIO_GPU_MAX_SCANOUTS 16

/* enum virtio_gpu_ctrl_type (5.7.6.7). */
enum lvio_virtio_gpu_ctrl_type {
    /* 2D commands */
    LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO = 0x0100,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF,
    LVIO_VIRTIO_GPU_CMD_SET_SCANOUT,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH,
    LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
    LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO,
    LVIO_VIRTIO_GPU_CMD_GET_CAPSET,
    LVIO_VIRTIO_GPU_CMD_GET_EDID,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB,
    LVIO_VIRTIO_GPU_CMD_SET_SCANOUT_BLOB,

    /* cursor commands */
    LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300,
    LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR,

    /* success responses */
    LVIO_VIRTIO_GPU_RESP_OK_NODATA = 0x1100,
    LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
    LVIO_VIRTIO_GPU_RESP_OK_CAPSET_INFO,
    LVIO_VIRTIO_GPU_RESP_OK_CAPSET,
    LVIO_VIRTIO_GPU_RESP_OK_EDID,
    LVIO_VIRTIO_GPU_RESP_OK_RESOURCE_UUID,
    LVIO_VIRTIO_GPU_RESP_OK_MAP_INFO,

    /* error responses */
    LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC = 0x1200,
    LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
    LVIO_VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
    LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
    LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
    LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
};

/* ctrl_hdr.flags */
#define LVIO_VIRTIO_GPU_FLAG_FENCE         (1u << 0)
#define LVIO_VIRTIO_GPU_FLAG_INFO_RING_IDX (1u << 1)

/* struct virtio_gpu_ctrl_hdr: starts every command and response. */
struct lvio_virtio_gpu_ctrl_hdr {
    lvio_le32 type;
    lvio_le32 flags;
    lvio_le64 fence_id;
    lvio_le32 ctx_id;
    uint8_t ring_idx;
    uint8_t padding[3];
};

/* struct virtio_gpu_rect */
struct lvio_virtio_gpu_rect {
    lvio_le32 x;
    lvio_le32 y;
    lvio_le32 width;
    lvio_le32 height;
};

/* VIRTIO_GPU_CMD_GET_DISPLAY_INFO response: struct virtio_gpu_resp_display_info */
struct lvio_virtio_gpu_display_one {
    struct lvio_virtio_gpu_rect r;
    lvio_le32 enabled;
    lvio_le32 flags;
};

struct lvio_virtio_gpu_resp_display_info {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_display_one pmodes[LVIO_VIRTIO_GPU_MAX_SCANOUTS];
};

/* VIRTIO_GPU_CMD_GET_EDID: struct virtio_gpu_get_edid */
struct lvio_virtio_gpu_get_edid {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 scanout;
    lvio_le32 padding;
};

/* its response: struct virtio_gpu_resp_edid */
struct lvio_virtio_gpu_resp_edid {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 size;
    lvio_le32 padding;
    uint8_t edid[1024];
};

/* enum virtio_gpu_formats (5.7.6.8) */
enum lvio_virtio_gpu_formats {
    LVIO_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM = 1,
    LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM = 2,
    LVIO_VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM = 3,
    LVIO_VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM = 4,
    LVIO_VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM = 67,
    LVIO_VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM = 68,
    LVIO_VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM = 121,
    LVIO_VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM = 134,
};

/* VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: struct virtio_gpu_resource_create_2d */
struct lvio_virtio_gpu_resource_create_2d {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 format;
    lvio_le32 width;
    lvio_le32 height;
};

/* VIRTIO_GPU_CMD_RESOURCE_UNREF: struct virtio_gpu_resource_unref */
struct lvio_virtio_gpu_resource_unref {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_SET_SCANOUT: struct virtio_gpu_set_scanout */
struct lvio_virtio_gpu_set_scanout {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_rect r;
    lvio_le32 scanout_id;
    lvio_le32 resource_id;
};

/* VIRTIO_GPU_CMD_RESOURCE_FLUSH: struct virtio_gpu_resource_flush */
struct lvio_virtio_gpu_resource_flush {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_rect r;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: struct virtio_gpu_transfer_to_host_2d */
struct lvio_virtio_gpu_transfer_to_host_2d {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_rect r;
    lvio_le64 offset;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: struct
 * virtio_gpu_resource_attach_backing, followed by nr_entries of
 * struct virtio_gpu_mem_entry */
struct lvio_virtio_gpu_resource_attach_backing {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 nr_entries;
};

struct lvio_virtio_gpu_mem_entry {
    lvio_le64 addr;
    lvio_le32 length;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: struct
 * virtio_gpu_resource_detach_backing */
struct lvio_virtio_gpu_resource_detach_backing {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_UPDATE_CURSOR / MOVE_CURSOR: struct virtio_gpu_update_cursor */
struct lvio_virtio_gpu_cursor_pos {
    lvio_le32 scanout_id;
    lvio_le32 x;
    lvio_le32 y;
    lvio_le32 padding;
};

struct lvio_virtio_gpu_update_cursor {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_cursor_pos pos;
    lvio_le32 resource_id;
    lvio_le32 hot_x;
    lvio_le32 hot_y;
    lvio_le32 padding;
};

_Static_assert(sizeof(struct lvio_virtio_gpu_config) == 16, "gpu config");
_Static_assert(sizeof(struct lvio_virtio_gpu_ctrl_hdr) == 24, "ctrl_hdr");
_Static_assert(sizeof(struct lvio_virtio_gpu_rect) == 16, "rect");
_Static_assert(sizeof(struct lvio_virtio_gpu_display_one) == 24, "display_one");
_Static_assert(sizeof(struct lvio_virtio_gpu_resp_display_info) == 408, "resp_display_info");
_Static_assert(sizeof(struct lvio_virtio_gpu_get_edid) == 32, "get_edid");
_Static_assert(sizeof(struct lvio_virtio_gpu_resp_edid) == 1056, "resp_edid");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_create_2d) == 40, "resource_create_2d");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_unref) == 32, "resource_unref");
_Static_assert(sizeof(struct lvio_virtio_gpu_set_scanout) == 48, "set_scanout");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_flush) == 48, "resource_flush");
_Static_assert(sizeof(struct lvio_virtio_gpu_transfer_to_host_2d) == 56, "transfer_to_host_2d");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_attach_backing) == 32, "attach_backing");
_Static_assert(sizeof(struct lvio_virtio_gpu_mem_entry) == 16, "mem_entry");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_detach_backing) == 32, "detach_backing");
_Static_assert(sizeof(struct lvio_virtio_gpu_cursor_pos) == 16, "cursor_pos");
_Static_assert(sizeof(struct lvio_virtio_gpu_update_cursor) == 56, "update_cursor");

#endif
