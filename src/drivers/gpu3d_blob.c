/*
 * virtio-gpu blob resources (VIRTIO 1.2, 5.7, VIRTIO_GPU_F_RESOURCE_BLOB)
 * and resource UUIDs (F_RESOURCE_UUID): RESOURCE_CREATE_BLOB with its list
 * of guest memory following the command, RESOURCE_MAP_BLOB into the
 * host-visible shared memory region and RESOURCE_UNMAP_BLOB, and
 * RESOURCE_ASSIGN_UUID.
 *
 * A blob's guest memory is a backing like a framebuffer's (gpu_fb.c),
 * shared both ways (the host may write it) from create to destroy; a lost
 * create keeps it shared until the device answers or is reset.
 */
#include "lvio/config.h"
#if LVIO_WITH_GPU3D /* else left out: lvio/config.h */

#include "lvio/gpu3d.h"
#include "gpu_internal.h"

static bool blob_usable(const struct lvio_gpu_blob *blob)
{
    return blob && lvio_gpu_fb_usable(&blob->fb);
}

static bool blob_guest_mem(uint32_t mem)
{
    return mem == LVIO_VIRTIO_GPU_BLOB_MEM_GUEST || mem == LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST;
}

static int blob_check(struct lvio_gpu *gpu, const struct lvio_gpu_ctx *ctx,
                      const struct lvio_gpu_blob_info *info, const void *mem,
                      const struct lvio_gpu_run *runs, uint32_t max_runs)
{
    const uint32_t flags = LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE |
                           LVIO_VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE |
                           LVIO_VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE;
    if (!gpu->has_resource_blob)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: blob resources need VIRTIO_GPU_F_RESOURCE_BLOB");
    if (info->mem < LVIO_VIRTIO_GPU_BLOB_MEM_GUEST ||
        info->mem > LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST || (info->flags & ~flags) ||
        info->size == 0)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: blob of mem type %u, flags 0x%x, %llu bytes",
                         info->mem, info->flags, (unsigned long long)info->size);
    bool guest = blob_guest_mem(info->mem);
    if (guest != (mem != NULL) || (guest && (info->size > UINT32_MAX || (uintptr_t)mem % 4)) ||
        (runs && max_runs == 0))
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: blob of mem type %u with guest memory %p of %llu bytes", info->mem,
                         mem, (unsigned long long)info->size);
    if (info->mem != LVIO_VIRTIO_GPU_BLOB_MEM_GUEST && !lvio_gpu_ctx_usable(ctx))
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: a HOST3D blob needs a context");
    if (ctx && (!lvio_gpu_ctx_usable(ctx) || ctx->gpu != gpu))
        return LVIO_E_INVAL;
    if (guest && !gpu->dev->hal->share)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: the HAL has no share(), needed for blob memory");
    return LVIO_OK;
}

int lvio_gpu_blob_create(struct lvio_gpu *gpu, struct lvio_gpu_blob *blob,
                         struct lvio_gpu_ctx *ctx, const struct lvio_gpu_blob_info *info,
                         void *mem, struct lvio_gpu_run *runs, uint32_t max_runs)
{
    if (!gpu || !gpu->cmds.mem || !blob || !info)
        return LVIO_E_INVAL;
    int err = blob_check(gpu, ctx, info, mem, runs, max_runs);
    if (err)
        return err;
    memset(blob, 0, sizeof *blob);
    blob->info = *info;
    blob->ctx_id = ctx ? ctx->id : 0;
    struct lvio_gpu_fb *fb = &blob->fb;
    lvio_gpu_backing_init(fb, gpu, mem, mem ? (size_t)info->size : 0, LVIO_DMA_BIDIRECTIONAL,
                          runs, max_runs);
    struct lvio_virtio_gpu_resource_create_blob req = {
        .hdr = {.type = lvio_cpu_to_le32(LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB),
                .ctx_id = lvio_cpu_to_le32(blob->ctx_id)},
        .blob_mem = lvio_cpu_to_le32(info->mem),
        .blob_flags = lvio_cpu_to_le32(info->flags),
        .blob_id = lvio_cpu_to_le64(info->blob_id),
        .size = lvio_cpu_to_le64(info->size)};
    return lvio_gpu_res_create(gpu, fb, &req, sizeof req,
                               offsetof(struct lvio_virtio_gpu_resource_create_blob, nr_entries));
}

static int map_check(const struct lvio_gpu_blob *blob, uint64_t offset)
{
    struct lvio_gpu *gpu = blob->fb.gpu;
    if (blob->mapped || !(blob->info.flags & LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE))
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: blob %u is %s", blob->fb.resource_id,
                         blob->mapped ? "mapped already" : "not MAPPABLE");
    if (gpu->shm_len == 0)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: the device has no host-visible memory region to map blobs in");
    if (offset % LVIO_PAGE_SIZE || offset > gpu->shm_len || blob->info.size > gpu->shm_len - offset)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: blob of %llu bytes at offset 0x%llx of a 0x%llx-byte region",
                         (unsigned long long)blob->info.size, (unsigned long long)offset,
                         (unsigned long long)gpu->shm_len);
    return LVIO_OK;
}

int lvio_gpu_blob_map(struct lvio_gpu_blob *blob, uint64_t offset, uint64_t *addr,
                      uint32_t *map_info)
{
    struct lvio_gpu_batch b = {.n = 0};
    if (!blob_usable(blob))
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = blob->fb.gpu;
    int err = map_check(blob, offset);
    if (err)
        return err;
    struct lvio_virtio_gpu_resource_map_blob *req = lvio_gpu_cmd_resp(
        gpu, &b, LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, sizeof *req,
        LVIO_VIRTIO_GPU_RESP_OK_MAP_INFO, sizeof(struct lvio_virtio_gpu_resp_map_info), &err);
    if (!req)
        return err;
    req->hdr.ctx_id = lvio_cpu_to_le32(blob->ctx_id);
    req->resource_id = lvio_cpu_to_le32(blob->fb.resource_id);
    req->offset = lvio_cpu_to_le64(offset);
    err = lvio_gpu_run(gpu, &b);
    if (err)
        return err;
    const struct lvio_virtio_gpu_resp_map_info *resp = b.cmd[0].resp;
    uint32_t info = lvio_gpu_dev_le32(&resp->map_info);
    if ((info & ~LVIO_VIRTIO_GPU_MAP_CACHE_MASK) || (info & LVIO_VIRTIO_GPU_MAP_CACHE_MASK) >
                                                         LVIO_VIRTIO_GPU_MAP_CACHE_WC) {
        /* Mapped, whatever it says: undo it before saying so. */
        char why[LVIO_ERRMSG_SIZE];
        lvio_snprintf(why, sizeof why, "gpu RESOURCE_MAP_BLOB: map_info 0x%x is no cache type",
                      info);
        blob->mapped = true;
        lvio_gpu_blob_unmap(blob);
        gpu->last_cmd = LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB;
        gpu->last_resp = 0;
        return lvio_fail(gpu->dev, LVIO_E_DEVICE, "%s", why);
    }
    blob->mapped = true;
    blob->map_offset = offset;
    blob->map_info = info;
    if (addr)
        *addr = gpu->shm_addr + offset;
    if (map_info)
        *map_info = info;
    return LVIO_OK;
}

int lvio_gpu_blob_unmap(struct lvio_gpu_blob *blob)
{
    if (!blob_usable(blob) || !blob->mapped)
        return LVIO_E_INVAL;
    struct lvio_virtio_gpu_resource_unmap_blob req = {
        .hdr = {.type = lvio_cpu_to_le32(LVIO_VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB),
                .ctx_id = lvio_cpu_to_le32(blob->ctx_id)},
        .resource_id = lvio_cpu_to_le32(blob->fb.resource_id)};
    blob->mapped = false; /* the caller unmapped its side; the device's goes */
    return lvio_gpu3d_send(blob->fb.gpu, &req, sizeof req, 0);
}

int lvio_gpu_blob_destroy(struct lvio_gpu_blob *blob)
{
    if (!blob || !blob->fb.gpu)
        return LVIO_E_INVAL;
    int err = LVIO_OK;
    if (blob_usable(blob)) {
        if (blob->mapped)
            err = lvio_gpu_blob_unmap(blob);
        struct lvio_virtio_gpu_resource_unref req = {
            .hdr.type = lvio_cpu_to_le32(LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF),
            .resource_id = lvio_cpu_to_le32(blob->fb.resource_id)};
        int e = lvio_gpu3d_send(blob->fb.gpu, &req, sizeof req, 0);
        err = err ? err : e;
    }
    /* No DETACH_BACKING for a blob: the unref lets go of its memory. A
     * lost create still reading it keeps it (lvio_gpu_fb_destroy's rule). */
    blob->mapped = false;
    lvio_gpu_fb_forget(&blob->fb);
    return err;
}

int lvio_gpu_resource_uuid(struct lvio_gpu *gpu, uint32_t resource_id, uint8_t uuid[16])
{
    struct lvio_gpu_batch b = {.n = 0};
    int err;
    if (!gpu || !gpu->cmds.mem || !uuid || resource_id == 0)
        return LVIO_E_INVAL;
    if (!gpu->has_resource_uuid)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: RESOURCE_ASSIGN_UUID needs VIRTIO_GPU_F_RESOURCE_UUID");
    struct lvio_virtio_gpu_resource_assign_uuid *req = lvio_gpu_cmd_resp(
        gpu, &b, LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, sizeof *req,
        LVIO_VIRTIO_GPU_RESP_OK_RESOURCE_UUID, sizeof(struct lvio_virtio_gpu_resp_resource_uuid),
        &err);
    if (!req)
        return err;
    req->resource_id = lvio_cpu_to_le32(resource_id);
    err = lvio_gpu_run(gpu, &b);
    if (err)
        return err;
    const struct lvio_virtio_gpu_resp_resource_uuid *resp = b.cmd[0].resp;
    for (unsigned i = 0; i < 16; i++)
        uuid[i] = ((const volatile uint8_t *)resp->uuid)[i];
    return LVIO_OK;
}

#else
typedef int lvio_gpu3d_blob_left_out; /* ISO C wants a declaration */
#endif
