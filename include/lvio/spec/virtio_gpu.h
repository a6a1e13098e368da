/*
 * virtio-gpu wire format (VIRTIO 1.2, 5.7): feature bits, configuration,
 * command and response codes, the 2D command structs, and the 3D ones
 * (capsets, contexts, 3D resources, transfers, submits, blob resources). Every field is
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

    /* 3D commands */
    LVIO_VIRTIO_GPU_CMD_CTX_CREATE = 0x0200,
    LVIO_VIRTIO_GPU_CMD_CTX_DESTROY,
    LVIO_VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE,
    LVIO_VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_3D,
    LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D,
    LVIO_VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D,
    LVIO_VIRTIO_GPU_CMD_SUBMIT_3D,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB,
    LVIO_VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB,

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

/* Capability sets (5.7.6.7, GET_CAPSET_INFO's capset_id). */
#define LVIO_VIRTIO_GPU_CAPSET_VIRGL        1
#define LVIO_VIRTIO_GPU_CAPSET_VIRGL2       2
#define LVIO_VIRTIO_GPU_CAPSET_GFXSTREAM    3
#define LVIO_VIRTIO_GPU_CAPSET_VENUS        4
#define LVIO_VIRTIO_GPU_CAPSET_CROSS_DOMAIN 5

/* VIRTIO_GPU_CMD_GET_CAPSET_INFO: struct virtio_gpu_get_capset_info */
struct lvio_virtio_gpu_get_capset_info {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 capset_index;
    lvio_le32 padding;
};

/* its response: struct virtio_gpu_resp_capset_info */
struct lvio_virtio_gpu_resp_capset_info {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 capset_id;
    lvio_le32 capset_max_version;
    lvio_le32 capset_max_size;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_GET_CAPSET: struct virtio_gpu_get_capset; the response
 * (struct virtio_gpu_resp_capset) is the header followed by the capset's
 * bytes. */
struct lvio_virtio_gpu_get_capset {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 capset_id;
    lvio_le32 capset_version;
};

/* VIRTIO_GPU_CMD_CTX_CREATE: struct virtio_gpu_ctx_create */
#define LVIO_VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK 0x000000ffu
#define LVIO_VIRTIO_GPU_CTX_DEBUG_NAME_SIZE 64

struct lvio_virtio_gpu_ctx_create {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 nlen;
    lvio_le32 context_init;
    char debug_name[LVIO_VIRTIO_GPU_CTX_DEBUG_NAME_SIZE];
};

/* VIRTIO_GPU_CMD_CTX_DESTROY: struct virtio_gpu_ctx_destroy */
struct lvio_virtio_gpu_ctx_destroy {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
};

/* VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
 * struct virtio_gpu_ctx_resource */
struct lvio_virtio_gpu_ctx_resource {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_RESOURCE_CREATE_3D: struct virtio_gpu_resource_create_3d */
#define LVIO_VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP (1u << 0)

struct lvio_virtio_gpu_resource_create_3d {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 target;
    lvio_le32 format;
    lvio_le32 bind;
    lvio_le32 width;
    lvio_le32 height;
    lvio_le32 depth;
    lvio_le32 array_size;
    lvio_le32 last_level;
    lvio_le32 nr_samples;
    lvio_le32 flags;
    lvio_le32 padding;
};

/* struct virtio_gpu_box */
struct lvio_virtio_gpu_box {
    lvio_le32 x, y, z;
    lvio_le32 w, h, d;
};

/* VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
 * struct virtio_gpu_transfer_host_3d */
struct lvio_virtio_gpu_transfer_host_3d {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_box box;
    lvio_le64 offset;
    lvio_le32 resource_id;
    lvio_le32 level;
    lvio_le32 stride;
    lvio_le32 layer_stride;
};

/* VIRTIO_GPU_CMD_SUBMIT_3D: struct virtio_gpu_cmd_submit, followed by
 * `size` bytes of commands for the context */
struct lvio_virtio_gpu_cmd_submit {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 size;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID: struct virtio_gpu_resource_assign_uuid */
struct lvio_virtio_gpu_resource_assign_uuid {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* its response: struct virtio_gpu_resp_resource_uuid */
struct lvio_virtio_gpu_resp_resource_uuid {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    uint8_t uuid[16];
};

/* VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB: struct
 * virtio_gpu_resource_create_blob, followed by nr_entries of struct
 * virtio_gpu_mem_entry */
#define LVIO_VIRTIO_GPU_BLOB_MEM_GUEST        0x0001u
#define LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D       0x0002u
#define LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST 0x0003u

#define LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE     0x0001u
#define LVIO_VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE    0x0002u
#define LVIO_VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE 0x0004u

struct lvio_virtio_gpu_resource_create_blob {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 blob_mem;
    lvio_le32 blob_flags;
    lvio_le32 nr_entries;
    lvio_le64 blob_id;
    lvio_le64 size;
};

/* VIRTIO_GPU_CMD_SET_SCANOUT_BLOB: struct virtio_gpu_set_scanout_blob */
struct lvio_virtio_gpu_set_scanout_blob {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    struct lvio_virtio_gpu_rect r;
    lvio_le32 scanout_id;
    lvio_le32 resource_id;
    lvio_le32 width;
    lvio_le32 height;
    lvio_le32 format;
    lvio_le32 padding;
    lvio_le32 strides[4];
    lvio_le32 offsets[4];
};

/* VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB: struct virtio_gpu_resource_map_blob */
struct lvio_virtio_gpu_resource_map_blob {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 padding;
    lvio_le64 offset;
};

/* its response: struct virtio_gpu_resp_map_info */
#define LVIO_VIRTIO_GPU_MAP_CACHE_MASK     0x0fu
#define LVIO_VIRTIO_GPU_MAP_CACHE_NONE     0x00u
#define LVIO_VIRTIO_GPU_MAP_CACHE_CACHED   0x01u
#define LVIO_VIRTIO_GPU_MAP_CACHE_UNCACHED 0x02u
#define LVIO_VIRTIO_GPU_MAP_CACHE_WC       0x03u

struct lvio_virtio_gpu_resp_map_info {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 map_info;
    lvio_le32 padding;
};

/* VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB: struct virtio_gpu_resource_unmap_blob */
struct lvio_virtio_gpu_resource_unmap_blob {
    struct lvio_virtio_gpu_ctrl_hdr hdr;
    lvio_le32 resource_id;
    lvio_le32 padding;
};

/* Shared memory regions of a GPU (5.7.5, the transport's shmid). */
#define LVIO_VIRTIO_GPU_SHM_ID_UNDEFINED    0
#define LVIO_VIRTIO_GPU_SHM_ID_HOST_VISIBLE 1

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
_Static_assert(sizeof(struct lvio_virtio_gpu_get_capset_info) == 32, "get_capset_info");
_Static_assert(sizeof(struct lvio_virtio_gpu_resp_capset_info) == 40, "resp_capset_info");
_Static_assert(sizeof(struct lvio_virtio_gpu_get_capset) == 32, "get_capset");
_Static_assert(sizeof(struct lvio_virtio_gpu_ctx_create) == 96, "ctx_create");
_Static_assert(sizeof(struct lvio_virtio_gpu_ctx_destroy) == 24, "ctx_destroy");
_Static_assert(sizeof(struct lvio_virtio_gpu_ctx_resource) == 32, "ctx_resource");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_create_3d) == 72, "resource_create_3d");
_Static_assert(sizeof(struct lvio_virtio_gpu_box) == 24, "box");
_Static_assert(sizeof(struct lvio_virtio_gpu_transfer_host_3d) == 72, "transfer_host_3d");
_Static_assert(sizeof(struct lvio_virtio_gpu_cmd_submit) == 32, "cmd_submit");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_assign_uuid) == 32, "assign_uuid");
_Static_assert(sizeof(struct lvio_virtio_gpu_resp_resource_uuid) == 40, "resp_resource_uuid");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_create_blob) == 56, "resource_create_blob");
_Static_assert(sizeof(struct lvio_virtio_gpu_set_scanout_blob) == 96, "set_scanout_blob");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_map_blob) == 40, "resource_map_blob");
_Static_assert(sizeof(struct lvio_virtio_gpu_resp_map_info) == 32, "resp_map_info");
_Static_assert(sizeof(struct lvio_virtio_gpu_resource_unmap_blob) == 32, "resource_unmap_blob");

#endif
