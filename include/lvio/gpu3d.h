/*
 * virtio-gpu 3D (VIRTIO 1.2, 5.7 with VIRTIO_GPU_F_VIRGL): capability sets,
 * rendering contexts, 3D resources and their transfers, command buffers
 * submitted with fences, and blob resources (F_RESOURCE_BLOB) mapped
 * through the device's shared memory region. On top of the 2D driver
 * (lvio/gpu.h): the same struct lvio_gpu, its command slots, its checks
 * and its lvio_gpu_poll.
 *
 * Typical use:
 *
 *     struct lvio_gpu gpu;                          // caller's storage, no heap
 *     lvio_gpu_init_with(&gpu, &dev, LVIO_GPU_WANT_VIRGL);
 *     if (!gpu.has_virgl) ...the device (or QEMU without gl) is 2D only...
 *     const struct lvio_gpu_capset *cs =
 *         lvio_gpu_capset_find(&gpu, LVIO_VIRTIO_GPU_CAPSET_VIRGL2);
 *     size_t caps_len;
 *     lvio_gpu_get_capset(&gpu, cs->id, cs->max_version, caps, sizeof caps,
 *                         &caps_len);           // what the renderer can do
 *
 *     struct lvio_gpu_ctx ctx;                      // caller's storage
 *     lvio_gpu_ctx_create(&gpu, &ctx, 0, "demo");   // CTX_CREATE
 *
 *     struct lvio_gpu_res3d rt;                     // a render target
 *     struct lvio_gpu_res3d_info info = {.target = 2, // virgl's PIPE_TEXTURE_2D
 *         .format = LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, .bind = bind_bits,
 *         .width = w, .height = h, .depth = 1, .array_size = 1};
 *     lvio_gpu_res3d_create(&gpu, &rt, &info, pixels, w * 4 * h, NULL, 0);
 *     lvio_gpu_ctx_attach(&ctx, rt.fb.resource_id);
 *
 *     uint64_t fence;
 *     lvio_gpu_ctx_submit(&ctx, cmds, ncmds * 4, &fence); // returns at once
 *     ...more work, or more submits...
 *     lvio_gpu_fence_wait(&ctx, fence, gpu.timeout_ns);   // bounded
 *     lvio_gpu_res3d_show(&gpu, 0, &rt);            // SET_SCANOUT + FLUSH
 *     struct lvio_gpu_transfer t = {.box = {0, 0, 0, w, h, 1}, .stride = w * 4};
 *     lvio_gpu_transfer_from_host_3d(&ctx, &rt, &t); // the pixels, into `pixels`
 *
 *     lvio_gpu_ctx_detach(&ctx, rt.fb.resource_id);
 *     lvio_gpu_res3d_destroy(&rt);
 *     lvio_gpu_ctx_destroy(&ctx);
 *
 * Every command but a submit is sent and waited for (bounded by
 * gpu->timeout_ns) like the 2D ones: a response of the wrong type or size
 * is LVIO_E_DEVICE, an error response LVIO_E_REFUSED with its spec name
 * (ERR_INVALID_CONTEXT_ID, ...) in gpu->last_resp, given by
 * lvio_gpu_errname(), and the command's name (lvio_gpu_cmd_name) in
 * gpu->last_cmd and the message.
 *
 * Submits and fences. lvio_gpu_ctx_submit shares the caller's command
 * buffer in place (page by page through the HAL's share(): it need not be
 * contiguous, the device gets one scatter-gather entry per contiguous
 * run), puts one SUBMIT_3D on the control queue with VIRTIO_GPU_FLAG_FENCE
 * and a new fence id, and returns: it does not wait. The fence ids come
 * from one counter per GPU, so they increase across all its contexts (the
 * device has one fence timeline: QEMU answers fenced commands in fence-id
 * order). The device answers a fenced command when the work is done;
 * the answer is the fence. Answers are taken by lvio_gpu_poll (and by any
 * later call on the GPU): each is checked (type OK_NODATA, the FENCE flag
 * and the fence id echoed; else the submit failed, see
 * lvio_gpu_fence_wait), the command buffer unshared, and the submit's slot
 * freed. A fence N is done for a context when every submit of that
 * context with a fence up to N has been answered — answers may come in
 * any order. A command buffer stays shared until its answer is taken, or
 * until lvio_gpu_reset / lvio_gpu_teardown ends it (the device then no
 * longer reads it): lvio_gpu_memory_busy() says so, and the caller keeps
 * it unchanged and allocated until then. A submit that is never answered
 * (lvio_gpu_fence_wait ends with LVIO_E_TIMEOUT) keeps its buffer and its
 * command slot until then; at most LVIO_GPU_SUBMITS_IN_FLIGHT submits are
 * in flight at once, so that the other commands always find a slot.
 *
 * Ownership of the other memory is as for framebuffers (lvio/gpu.h): a 3D
 * resource's or a guest blob's backing is the caller's, shared from create
 * to destroy; a lost command that reads or writes it keeps it shared
 * until the device answers or is reset.
 *
 * Nothing is global: context ids and fence ids are per GPU, never 0, never
 * reused (until lvio_gpu_reset, which ends every context). A context, 3D
 * resource or blob from before lvio_gpu_reset is stale: calls refuse it
 * with LVIO_E_INVAL, and its destroy only releases its memory.
 *
 * Built with LVIO_WITH_GPU3D (lvio/config.h, on by default, needs
 * LVIO_WITH_GPU): src/drivers/gpu3d.c, gpu3d_submit.c, gpu3d_blob.c.
 */
#ifndef LVIO_GPU3D_H
#define LVIO_GPU3D_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

/* Submits that may be in flight at once on one GPU (of its
 * LVIO_GPU_CMD_SLOTS command slots: the rest stay for other commands). */
#define LVIO_GPU_SUBMITS_IN_FLIGHT (LVIO_GPU_CMD_SLOTS / 2)
/* Contiguous runs (for the device) one command buffer may take: any
 * buffer of up to (LVIO_GPU_SUBMIT_RUNS - 1) pages does, wherever it is;
 * larger ones must be contiguous for the device in as many pieces. */
#define LVIO_GPU_SUBMIT_RUNS LVIO_GPU_FB_INLINE_RUNS
/* Largest capset GET_CAPSET can read (it answers into the driver's query
 * page, after the response header). */
#define LVIO_GPU_CAPSET_MAX_SIZE (LVIO_PAGE_SIZE - 24u)
/* Longest debug name of a context (the wire's debug_name). */
#define LVIO_GPU_CTX_NAME_MAX LVIO_VIRTIO_GPU_CTX_DEBUG_NAME_SIZE

/* ---- capability sets ------------------------------------------------------ */

/*
 * The capset `id` (LVIO_VIRTIO_GPU_CAPSET_*) among gpu->capsets, as
 * GET_CAPSET_INFO reported it at init (the first, should the device report
 * an id twice: lvio_gpu_get_capset uses that one); NULL when the device
 * has none of that id (or no VIRGL, or gpu NULL).
 */
const struct lvio_gpu_capset *lvio_gpu_capset_find(const struct lvio_gpu *gpu, uint32_t id);

/*
 * GET_CAPSET of capset `id` at `version`: its bytes copied into `buf`
 * (room for `room` bytes), their number into *len. The capset must be one
 * the device reported (else LVIO_E_INVAL, like a version above its
 * max_version). The device's answer is checked: its type OK_CAPSET, and
 * the bytes it says it wrote hold a header; a capset larger than the
 * max_size the device reported is LVIO_E_DEVICE, one larger than `room` is
 * LVIO_E_NOSPC (saying how large), one of no bytes LVIO_E_DEVICE. A
 * max_size above LVIO_GPU_CAPSET_MAX_SIZE is LVIO_E_UNSUPPORTED. The bytes
 * are copied from the device's answer once. Returns 0, LVIO_E_INVAL,
 * LVIO_E_NOSPC, LVIO_E_UNSUPPORTED, LVIO_E_AGAIN (an earlier query still
 * holds the query page), LVIO_E_REFUSED, LVIO_E_DEVICE, LVIO_E_TIMEOUT,
 * LVIO_E_NEEDS_RESET or LVIO_E_BROKEN.
 */
int lvio_gpu_get_capset(struct lvio_gpu *gpu, uint32_t id, uint32_t version, void *buf,
                        size_t room, size_t *len);

/* ---- contexts ------------------------------------------------------------- */

/* A rendering context on the device. Set by lvio_gpu_ctx_create; the
 * caller's storage, which must stay put while the context exists (the
 * driver keeps a pointer to it for each submit in flight). */
struct lvio_gpu_ctx {
    struct lvio_gpu *gpu;       /* NULL once destroyed */
    uint32_t id;                /* per GPU, never 0 */
    uint32_t capset_id;         /* the context_init capset (CONTEXT_INIT), or 0 */
    uint32_t epoch;             /* the GPU's epoch when it was created */
    uint64_t last_fence;        /* the fence of its last submit; 0: none yet */
    uint32_t in_flight;         /* its submits not answered yet */
    /* The first submit of it whose answer was an error or malformed since
     * the context was created (0: none), and that error (LVIO_E_REFUSED,
     * its response type in failed_resp; LVIO_E_DEVICE). */
    uint64_t failed_fence;
    int failed_err;
    uint32_t failed_resp;
};

/*
 * Create a context (CTX_CREATE) in `ctx`: a new id, the debug `name` (NULL:
 * none; at most LVIO_GPU_CTX_NAME_MAX bytes, else LVIO_E_INVAL) and, when
 * CONTEXT_INIT was negotiated, `capset_id` in the low bits of its
 * context_init (0: the device's default; a capset id the device did not
 * report, or not 0 without CONTEXT_INIT, is LVIO_E_INVAL). Needs VIRGL
 * (else LVIO_E_UNSUPPORTED). Any number of contexts may exist at once.
 * Returns 0, LVIO_E_INVAL, LVIO_E_UNSUPPORTED, LVIO_E_AGAIN (no free
 * slot), LVIO_E_REFUSED (ERR_OUT_OF_MEMORY, ...), LVIO_E_DEVICE,
 * LVIO_E_TIMEOUT, LVIO_E_NEEDS_RESET, LVIO_E_BROKEN; on error ctx->gpu is
 * NULL and the id is not reused.
 */
int lvio_gpu_ctx_create(struct lvio_gpu *gpu, struct lvio_gpu_ctx *ctx, uint32_t capset_id,
                        const char *name);

/*
 * Destroy the context (CTX_DESTROY). Its submits still in flight are
 * waited for first (bounded by gpu->timeout_ns); those that do not come
 * back stay in flight without it (their command buffers stay shared until
 * answered or reset: lvio_gpu_memory_busy). Afterwards ctx->gpu is NULL
 * and the storage is the caller's again. A context from before
 * lvio_gpu_reset is only forgotten (0). Returns 0 or the first error
 * (LVIO_E_TIMEOUT for submits not answered, then those of CTX_DESTROY);
 * the context is gone from the driver either way.
 */
int lvio_gpu_ctx_destroy(struct lvio_gpu_ctx *ctx);

/*
 * CTX_ATTACH_RESOURCE / CTX_DETACH_RESOURCE: make resource `resource_id`
 * (a 3D resource's, a blob's or a framebuffer's fb.resource_id) usable by
 * the context's commands, or no longer. Returns 0, LVIO_E_INVAL (ctx not
 * usable, id 0), LVIO_E_REFUSED (ERR_INVALID_RESOURCE_ID,
 * ERR_INVALID_CONTEXT_ID), or the other errors of a command.
 */
int lvio_gpu_ctx_attach(struct lvio_gpu_ctx *ctx, uint32_t resource_id);
int lvio_gpu_ctx_detach(struct lvio_gpu_ctx *ctx, uint32_t resource_id);

/* ---- 3D resources ----------------------------------------------------------- */

/* What RESOURCE_CREATE_3D creates; the numbers are the renderer's (virgl:
 * target a PIPE_TEXTURE_* or PIPE_BUFFER, format a VIRGL_FORMAT_*, whose
 * 32-bit RGB ones are the LVIO_VIRTIO_GPU_FORMAT_* numbers, bind
 * VIRGL_BIND_* bits), passed through unchanged. */
struct lvio_gpu_res3d_info {
    uint32_t target;
    uint32_t format;
    uint32_t bind;
    uint32_t width, height, depth;  /* each at least 1 */
    uint32_t array_size;            /* at least 1 */
    uint32_t last_level;            /* mip levels - 1 */
    uint32_t nr_samples;
    uint32_t flags;                 /* LVIO_VIRTIO_GPU_RESOURCE_FLAG_* */
};

/* A 3D resource whose backing is caller memory. Set by
 * lvio_gpu_res3d_create: fb holds the resource id, the backing (fb.pixels,
 * fb.size, its shares and list) and fb.width / fb.height (the info's, for
 * a scanout); fb.stride and fb.format are what the info says for a 2D
 * 32-bit texture, else 0 and the info's format. */
struct lvio_gpu_res3d {
    struct lvio_gpu_fb fb;
    struct lvio_gpu_res3d_info info;
};

/*
 * RESOURCE_CREATE_3D of `info`, then RESOURCE_ATTACH_BACKING of `backing`
 * (`size` bytes, 4-byte aligned, at least 1), as one batch, exactly as
 * lvio_gpu_fb_create does for a 2D resource (same `runs` and `max_runs`,
 * same errors, same rule for a lost ATTACH_BACKING). The backing is where
 * transfers take their bytes from and put them (shared both ways); its
 * layout is the caller's (see struct lvio_gpu_transfer). Needs VIRGL
 * (LVIO_E_UNSUPPORTED). Zero width, height, depth or array_size is
 * LVIO_E_INVAL.
 */
int lvio_gpu_res3d_create(struct lvio_gpu *gpu, struct lvio_gpu_res3d *res,
                          const struct lvio_gpu_res3d_info *info, void *backing, size_t size,
                          struct lvio_gpu_run *runs, uint32_t max_runs);

/* Off every scanout showing it, DETACH_BACKING, RESOURCE_UNREF, unshare:
 * lvio_gpu_fb_destroy of res->fb (same results, same exception for a lost
 * transfer). Contexts it is attached to let go of it with the unref. */
int lvio_gpu_res3d_destroy(struct lvio_gpu_res3d *res);

/* A box in a 3D resource: texels (bytes for a buffer). */
struct lvio_gpu_box {
    uint32_t x, y, z;
    uint32_t w, h, d;
};

/* One transfer between a 3D resource and its backing. */
struct lvio_gpu_transfer {
    struct lvio_gpu_box box;
    uint32_t level;             /* mip level */
    uint32_t stride;            /* bytes per row in the backing; 0: packed */
    uint32_t layer_stride;      /* bytes per layer or slice; 0: packed */
    uint64_t offset;            /* where the box starts in the backing */
};

/*
 * TRANSFER_TO_HOST_3D (the backing's bytes into the resource) and
 * TRANSFER_FROM_HOST_3D (the resource's into the backing: on return they
 * are in res->fb.pixels), with `ctx`'s id in the header (ctx NULL: 0, no
 * context). Sent and waited for. An empty box (w, h or d 0) or an offset
 * past the backing is LVIO_E_INVAL. A transfer that is not answered keeps
 * the backing shared until it is (or the device is reset), also past
 * lvio_gpu_res3d_destroy. Returns 0 or the errors of a command.
 */
int lvio_gpu_transfer_to_host_3d(struct lvio_gpu_ctx *ctx, struct lvio_gpu_res3d *res,
                                 const struct lvio_gpu_transfer *t);
int lvio_gpu_transfer_from_host_3d(struct lvio_gpu_ctx *ctx, struct lvio_gpu_res3d *res,
                                   const struct lvio_gpu_transfer *t);

/*
 * Show a 3D resource on `scanout`: SET_SCANOUT of its whole width x height
 * and RESOURCE_FLUSH, one batch (no transfer: what the renderer drew is
 * shown as it is; lvio_gpu_show(gpu, scanout, NULL) turns the scanout
 * off). The resource must be 2D-shaped (depth and array_size 1). Returns 0
 * or the errors of a command.
 */
int lvio_gpu_res3d_show(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_res3d *res);

/* RESOURCE_FLUSH of `damage` (NULL: all) of a resource on a scanout:
 * the host shows what the renderer drew there. An empty rectangle does
 * nothing; one outside the resource is LVIO_E_INVAL. */
int lvio_gpu_res3d_flush(struct lvio_gpu_res3d *res, const struct lvio_gpu_rect *damage);

/* ---- submits and fences ------------------------------------------------------ */

/*
 * Submit `bytes` bytes of commands at `cmds` (4-byte aligned, a multiple
 * of 4, at least 4, below 4 GiB) to the context: SUBMIT_3D with
 * VIRTIO_GPU_FLAG_FENCE, ctx's id and a new fence id, which is stored in
 * *fence (also ctx->last_fence). The buffer is shared in place and stays
 * shared, and must stay unchanged, until the submit is answered (see the
 * top of this header): lvio_gpu_memory_busy(gpu, cmds, bytes) is true
 * until then. Does not wait. Returns 0; LVIO_E_INVAL (arguments, a stale
 * context, a buffer that takes more than LVIO_GPU_SUBMIT_RUNS runs, or one
 * of which any byte is still busy: lvio_gpu_memory_busy);
 * LVIO_E_UNSUPPORTED (no share() in the HAL); LVIO_E_AGAIN (already
 * LVIO_GPU_SUBMITS_IN_FLIGHT submits in flight, or no free slot, or the
 * queue has not the descriptors free: wait for a fence, then submit
 * again); share()'s own error (LVIO_E_HAL when it gave none); LVIO_E_BROKEN.
 * On error nothing was sent, nothing stays shared and no fence was used,
 * with one exception: LVIO_E_BROKEN after the chain was added keeps the
 * buffer shared (lvio_gpu_memory_busy) until lvio_gpu_reset.
 */
int lvio_gpu_ctx_submit(struct lvio_gpu_ctx *ctx, const void *cmds, size_t bytes,
                        uint64_t *fence);

/*
 * True when fence `fence` is done for `ctx`: every submit of it with a
 * fence up to `fence` has been answered (the answers the device has made
 * are taken first, as lvio_gpu_poll does). Fence 0 is always done; a fence
 * above the GPU's last one never is. Also true for a context that no
 * longer exists (destroyed, or from before a reset): nothing of it is in
 * flight. Does not wait; false for NULL.
 */
bool lvio_gpu_fence_done(struct lvio_gpu_ctx *ctx, uint64_t fence);

/*
 * Wait until fence `fence` is done for `ctx` (as lvio_gpu_fence_done),
 * for at most `timeout_ns` by the HAL clock (UINT64_MAX: as long as it
 * runs; a clock that stands still ends the wait after
 * LVIO_CLOCK_STALL_POLLS polls). Returns 0; LVIO_E_TIMEOUT, the message
 * naming the fence, the context and how many of its submits are still in
 * flight (they stay in flight: a later wait or lvio_gpu_poll may still see
 * them answered); the error of the first of the context's submits up to
 * `fence` that failed (ctx->failed_*: LVIO_E_REFUSED with its spec name,
 * gpu->last_cmd SUBMIT_3D; LVIO_E_DEVICE for an answer of the wrong type or
 * size, or one whose fence id or FENCE flag does not echo the submit's);
 * LVIO_E_INVAL (NULL, a context that no longer exists, a fence never
 * given out); LVIO_E_NEEDS_RESET or LVIO_E_BROKEN.
 */
int lvio_gpu_fence_wait(struct lvio_gpu_ctx *ctx, uint64_t fence, uint64_t timeout_ns);

/* ---- blob resources ----------------------------------------------------------- */

/* What RESOURCE_CREATE_BLOB creates. */
struct lvio_gpu_blob_info {
    uint32_t mem;               /* LVIO_VIRTIO_GPU_BLOB_MEM_GUEST, _HOST3D,
                                   _HOST3D_GUEST */
    uint32_t flags;             /* LVIO_VIRTIO_GPU_BLOB_FLAG_* */
    uint64_t blob_id;           /* the context's name for host memory
                                   (HOST3D*), else 0 */
    uint64_t size;              /* bytes, at least 1 */
};

/* A blob resource. Set by lvio_gpu_blob_create: fb holds the resource id
 * and the guest backing (fb.pixels, fb.size = info.size; none for
 * HOST3D). */
struct lvio_gpu_blob {
    struct lvio_gpu_fb fb;
    struct lvio_gpu_blob_info info;
    uint32_t ctx_id;            /* the context it was created in, or 0 */
    /* Set by lvio_gpu_blob_map, cleared by lvio_gpu_blob_unmap. */
    bool mapped;
    uint64_t map_offset;        /* into the host-visible region */
    uint32_t map_info;          /* LVIO_VIRTIO_GPU_MAP_CACHE_* as answered */
};

/*
 * RESOURCE_CREATE_BLOB of `info` in context `ctx` (NULL: none, for GUEST
 * memory; HOST3D and HOST3D_GUEST need one). For GUEST and HOST3D_GUEST
 * memory `mem` (info->size bytes, 4-byte aligned) is shared and its list
 * of runs follows the command (nr_entries, no ATTACH_BACKING); for HOST3D
 * `mem` must be NULL. `runs`, `max_runs` as for lvio_gpu_fb_create. Needs
 * RESOURCE_BLOB (LVIO_E_UNSUPPORTED). Returns 0, LVIO_E_INVAL (a mem type
 * or flags the spec does not know, size 0 or above 4 GiB with guest
 * memory, mem given or missing as above), LVIO_E_UNSUPPORTED, or the
 * errors of lvio_gpu_fb_create; a lost create keeps `mem` shared until
 * the device answers or is reset.
 */
int lvio_gpu_blob_create(struct lvio_gpu *gpu, struct lvio_gpu_blob *blob,
                         struct lvio_gpu_ctx *ctx, const struct lvio_gpu_blob_info *info,
                         void *mem, struct lvio_gpu_run *runs, uint32_t max_runs);

/*
 * RESOURCE_MAP_BLOB: the device maps the blob at `offset` (a multiple of
 * the page size) into its host-visible shared memory region; the blob's
 * bytes are then at device address gpu->shm_addr + offset, which the
 * caller maps (with the caching *map_info says, one of
 * LVIO_VIRTIO_GPU_MAP_CACHE_*, NULL: not wanted) and uses until
 * lvio_gpu_blob_unmap. The blob must have been created MAPPABLE, and
 * [offset, offset + size) must lie within the region (else LVIO_E_INVAL;
 * no region: LVIO_E_UNSUPPORTED). The answer is checked: OK_MAP_INFO of
 * its full size, a cache type the spec knows (else LVIO_E_DEVICE). Stores
 * the device address in *addr (NULL: not wanted). Returns 0 or the errors
 * of a command.
 */
int lvio_gpu_blob_map(struct lvio_gpu_blob *blob, uint64_t offset, uint64_t *addr,
                      uint32_t *map_info);

/* RESOURCE_UNMAP_BLOB: the mapping is gone (the caller unmapped its side
 * first). LVIO_E_INVAL when not mapped. */
int lvio_gpu_blob_unmap(struct lvio_gpu_blob *blob);

/* Unmap when mapped, RESOURCE_UNREF, unshare the guest memory. Returns 0
 * or the first error (everything is released anyway, but for memory a
 * lost command may still use, as lvio_gpu_fb_destroy). */
int lvio_gpu_blob_destroy(struct lvio_gpu_blob *blob);

/*
 * RESOURCE_ASSIGN_UUID: the device's UUID for resource `resource_id`
 * (to share it with another virtio device), copied into uuid[16]. Needs
 * RESOURCE_UUID (LVIO_E_UNSUPPORTED). Returns 0 or the errors of a
 * command (LVIO_E_DEVICE: not OK_RESOURCE_UUID of its full size).
 */
int lvio_gpu_resource_uuid(struct lvio_gpu *gpu, uint32_t resource_id, uint8_t uuid[16]);

#endif
