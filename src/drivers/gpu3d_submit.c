/*
 * virtio-gpu 3D: SUBMIT_3D and fences (lvio/gpu3d.h).
 *
 * A submit takes a command slot and keeps it while the device has it: the
 * slot's request is the SUBMIT_3D header (FLAG_FENCE, the fence id, the
 * context), the chain's readable part continues with the caller's command
 * buffer as one buffer per contiguous run, and the slot's response is the
 * answer, which the device writes when the fence signals. The driver's
 * record of the slot (struct lvio_gpu_slot) holds the fence, the context
 * and, in `held`, what was shared of the buffer.
 *
 * Who owns what: the command buffer is the device's from the submit until
 * its answer is taken off the queue (lvio_gpu3d_reap, called by
 * lvio_gpu_poll, by the fence calls and before any other command takes a
 * slot); only then is it unshared. A reset ends every submit in flight:
 * lvio_gpu3d_forget hands each buffer's shares to the engine's teardown
 * as a lost slot's `held` (unshared after the reset completed, kept when
 * the device is dead).
 */
#include "lvio/config.h"
#if LVIO_WITH_GPU3D /* else left out: lvio/config.h */

#include "lvio/gpu3d.h"
#include "gpu_internal.h"

/* Submits in flight on the GPU (answered ones not yet taken included). */
static unsigned submits_in_flight(const struct lvio_gpu *gpu)
{
    unsigned n = 0;
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++)
        n += gpu->slots[i].fence != 0;
    return n;
}

/* Take every completion, then every answered submit. */
static int take_answers(struct lvio_gpu *gpu)
{
    int r = lvio_reqs_reap(&gpu->cmds);
    if (r < 0)
        return r;
    lvio_gpu3d_reap(gpu);
    return LVIO_OK;
}

/* ---- answers ------------------------------------------------------------------- */

/* Check the answer to the submit in `slot` (DONE): 0, or the error it is
 * (the message says which fence). */
static int submit_check(struct lvio_gpu *gpu, unsigned slot, uint32_t *resp_type)
{
    const struct lvio_gpu_slot *s = &gpu->slots[slot];
    const struct lvio_virtio_gpu_ctrl_hdr *hdr = lvio_req_resp(&gpu->cmds, slot);
    uint32_t len = gpu->cmd_slots[slot].len;
    unsigned long long fence = (unsigned long long)s->fence;
    *resp_type = 0;
    if (len < sizeof *hdr)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu SUBMIT_3D: fence %llu of context %u answered with %u bytes, shorter "
                         "than a header", fence, s->ctx_id, len);
    uint32_t type = lvio_gpu_dev_le32(&hdr->type);
    uint32_t flags = lvio_gpu_dev_le32(&hdr->flags);
    uint64_t echo = lvio_le64_to_cpu(*(const volatile lvio_le64 *)&hdr->fence_id);
    *resp_type = type;
    if (type >= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC && type <= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC + 0xff)
        return lvio_fail(gpu->dev, LVIO_E_REFUSED,
                         "gpu SUBMIT_3D: fence %llu of context %u: device answered %s (0x%x)",
                         fence, s->ctx_id, lvio_gpu_resp_name(type), type);
    if (type != LVIO_VIRTIO_GPU_RESP_OK_NODATA)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu SUBMIT_3D: fence %llu of context %u: response type 0x%x (%s), "
                         "expected OK_NODATA", fence, s->ctx_id, type, lvio_gpu_resp_name(type));
    if (!(flags & LVIO_VIRTIO_GPU_FLAG_FENCE) || echo != s->fence)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu SUBMIT_3D: fence %llu of context %u answered with flags 0x%x, "
                         "fence %llu: not the fence sent", fence, s->ctx_id, flags,
                         (unsigned long long)echo);
    return LVIO_OK;
}

/* The submit in `slot` was answered: note it in its context, unshare the
 * buffer, free the slot. */
static void submit_done(struct lvio_gpu *gpu, unsigned slot)
{
    struct lvio_gpu_slot *s = &gpu->slots[slot];
    uint32_t resp = 0;
    int err = submit_check(gpu, slot, &resp);
    struct lvio_gpu_ctx *ctx = s->ctx;
    if (ctx) {
        ctx->in_flight--;
        if (err && ctx->failed_fence == 0) {
            ctx->failed_fence = s->fence;
            ctx->failed_err = err;
            ctx->failed_resp = err == LVIO_E_REFUSED ? resp : 0;
        }
    }
    lvio_gpu_backing_release(&s->held);
    s->fence = 0;
    s->ctx = NULL;
    lvio_reqs_put(&gpu->cmds, slot);
}

void lvio_gpu3d_reap(struct lvio_gpu *gpu)
{
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++)
        if (gpu->slots[i].fence && gpu->cmd_slots[i].state == LVIO_REQ_DONE)
            submit_done(gpu, i);
}

void lvio_gpu3d_forget(struct lvio_gpu *gpu)
{
    for (unsigned i = 0; gpu->cmds.mem && i < LVIO_GPU_CMD_SLOTS; i++) {
        struct lvio_gpu_slot *s = &gpu->slots[i];
        if (!s->fence)
            continue;
        if (s->ctx)
            s->ctx->in_flight--;
        gpu->cmd_slots[i].held = &s->held; /* released by lvio_reqs_teardown */
        s->fence = 0;
        s->ctx = NULL;
    }
}

void lvio_gpu_ctx_orphan(struct lvio_gpu_ctx *ctx)
{
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++)
        if (ctx->gpu->slots[i].ctx == ctx)
            ctx->gpu->slots[i].ctx = NULL;
}

/* ---- submit --------------------------------------------------------------------- */

static int submit_check_args(const struct lvio_gpu_ctx *ctx, const void *cmds, size_t bytes,
                             const uint64_t *fence)
{
    if (!lvio_gpu_ctx_usable(ctx) || !cmds || !fence)
        return LVIO_E_INVAL;
    struct lvio_device *dev = ctx->gpu->dev;
    if (bytes == 0 || bytes % 4 || (uintptr_t)cmds % 4 || bytes > UINT32_MAX)
        return lvio_fail(dev, LVIO_E_INVAL,
                         "gpu SUBMIT_3D: %zu bytes at %p, must be dwords, 4-byte aligned", bytes,
                         cmds);
    if (!dev->hal->share)
        return lvio_fail(dev, LVIO_E_UNSUPPORTED,
                         "gpu: the HAL has no share(), needed for command buffers");
    if (lvio_gpu_memory_busy(ctx->gpu, cmds, bytes))
        return lvio_fail(dev, LVIO_E_INVAL,
                         "gpu SUBMIT_3D: the buffer at %p is still with the device (an earlier "
                         "submit or command not answered yet)", cmds);
    return LVIO_OK;
}

/* A submit of ctx failed with `err` (the message says why): say whose. */
static int submit_fail(struct lvio_gpu_ctx *ctx, int err)
{
    char what[48];
    lvio_snprintf(what, sizeof what, "gpu SUBMIT_3D of context %u", ctx->id);
    ctx->gpu->last_cmd = LVIO_VIRTIO_GPU_CMD_SUBMIT_3D;
    ctx->gpu->last_resp = 0;
    return lvio_gpu3d_prefix(ctx->gpu, err, what);
}

/* Share the buffer into slot `slot`'s record and write the request. */
static int submit_prepare(struct lvio_gpu_ctx *ctx, struct lvio_gpu_batch *b, unsigned slot,
                          const void *cmds, size_t bytes, uint64_t fence)
{
    struct lvio_gpu *gpu = ctx->gpu;
    struct lvio_gpu_fb *rec = &gpu->slots[slot].held;
    /* only ever read, by the device */
    lvio_gpu_backing_init(rec, gpu, (void *)(uintptr_t)cmds, bytes, LVIO_DMA_TO_DEVICE, NULL, 0);
    rec->max_runs = LVIO_GPU_SUBMIT_RUNS;
    int err = lvio_gpu_backing_share(rec);
    if (err)
        return submit_fail(ctx, err);
    struct lvio_virtio_gpu_cmd_submit *req =
        lvio_gpu_cmd(gpu, b, slot, LVIO_VIRTIO_GPU_CMD_SUBMIT_3D, sizeof *req);
    req->hdr.flags = lvio_cpu_to_le32(LVIO_VIRTIO_GPU_FLAG_FENCE);
    req->hdr.fence_id = lvio_cpu_to_le64(fence);
    req->hdr.ctx_id = lvio_cpu_to_le32(ctx->id);
    req->size = lvio_cpu_to_le32((uint32_t)bytes);
    return LVIO_OK;
}

int lvio_gpu_ctx_submit(struct lvio_gpu_ctx *ctx, const void *cmds, size_t bytes,
                        uint64_t *fence)
{
    struct lvio_gpu_batch b = {.n = 0};
    struct lvio_sg outs[LVIO_GPU_SUBMIT_RUNS];
    unsigned slot;
    int err = submit_check_args(ctx, cmds, bytes, fence);
    if (err)
        return err;
    struct lvio_gpu *gpu = ctx->gpu;
    err = take_answers(gpu);
    if (err == LVIO_OK && submits_in_flight(gpu) >= LVIO_GPU_SUBMITS_IN_FLIGHT)
        err = lvio_fail(gpu->dev, LVIO_E_AGAIN,
                        "gpu SUBMIT_3D: %u submits in flight already (context %u has %u): "
                        "wait for a fence", LVIO_GPU_SUBMITS_IN_FLIGHT, ctx->id, ctx->in_flight);
    if (err == LVIO_OK)
        err = lvio_gpu_slots_take(gpu, &slot, 1);
    uint64_t f = gpu->last_fence + 1;
    if (err == LVIO_OK)
        err = submit_prepare(ctx, &b, slot, cmds, bytes, f);
    if (err)
        return err;
    struct lvio_gpu_fb *rec = &gpu->slots[slot].held;
    for (uint32_t i = 0; i < rec->nr_entries; i++)
        outs[i] = (struct lvio_sg){rec->runs[i].addr, rec->runs[i].len};
    b.req[0].outs = outs;
    b.req[0].n_outs = rec->nr_entries;
    err = lvio_reqs_submit(&gpu->cmds, b.req, 1);
    if (err) {
        if (gpu->cmd_slots[slot].state == LVIO_REQ_LOST)
            gpu->cmd_slots[slot].held = rec; /* out, but the queue broke: kept */
        else
            lvio_gpu_backing_release(rec);
        return submit_fail(ctx, err);
    }
    gpu->last_fence = f;
    gpu->slots[slot].fence = f;
    gpu->slots[slot].ctx_id = ctx->id;
    gpu->slots[slot].ctx = ctx;
    ctx->last_fence = f;
    ctx->in_flight++;
    *fence = f;
    return LVIO_OK;
}

/* ---- fences --------------------------------------------------------------------- */

/* Submits of ctx with a fence up to `fence` still in flight (after the
 * answers were taken). */
static unsigned pending(const struct lvio_gpu_ctx *ctx, uint64_t fence)
{
    unsigned n = 0;
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++) {
        const struct lvio_gpu_slot *s = &ctx->gpu->slots[i];
        n += s->fence && s->ctx == ctx && s->fence <= fence;
    }
    return n;
}

bool lvio_gpu_fence_done(struct lvio_gpu_ctx *ctx, uint64_t fence)
{
    if (!ctx)
        return false;
    if (fence == 0 || !lvio_gpu_ctx_usable(ctx))
        return true;
    if (fence > ctx->gpu->last_fence)
        return false;
    (void)take_answers(ctx->gpu); /* a broken queue answers nothing more */
    return pending(ctx, fence) == 0;
}

/* The wait of lvio_gpu_fence_wait, whatever the answers said. */
static int fence_wait_raw(struct lvio_gpu_ctx *ctx, uint64_t fence, uint64_t timeout_ns)
{
    struct lvio_gpu *gpu = ctx->gpu;
    const struct lvio_hal *hal = gpu->dev->hal;
    struct lvio_deadline d;
    int err = LVIO_OK;
    lvio_deadline_start(&d, hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        err = take_answers(gpu);
        if (err == LVIO_OK && pending(ctx, fence) == 0)
            return LVIO_OK;
        if (err == LVIO_OK && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(gpu->dev);
        if (err) {
            char what[64];
            lvio_snprintf(what, sizeof what, "gpu: waiting for fence %llu of context %u",
                          (unsigned long long)fence, ctx->id);
            return lvio_gpu3d_prefix(gpu, err, what);
        }
        if (lvio_deadline_passed(&d, hal))
            break;
    }
    err = take_answers(gpu); /* it may have come as time ran out */
    if (err == LVIO_OK && pending(ctx, fence) == 0)
        return LVIO_OK;
    return lvio_fail(gpu->dev, LVIO_E_TIMEOUT,
                     "gpu: fence %llu of context %u not signalled after %llu ms%s: %u of its "
                     "submits up to it still with the device (its last fence %llu)",
                     (unsigned long long)fence, ctx->id,
                     (unsigned long long)lvio_div64(lvio_deadline_elapsed(&d, hal), 1000000u),
                     lvio_deadline_why(&d), pending(ctx, fence),
                     (unsigned long long)ctx->last_fence);
}

int lvio_gpu_fence_wait(struct lvio_gpu_ctx *ctx, uint64_t fence, uint64_t timeout_ns)
{
    if (!lvio_gpu_ctx_usable(ctx))
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = ctx->gpu;
    if (fence > gpu->last_fence)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: fence %llu was never given out (the last is %llu)",
                         (unsigned long long)fence, (unsigned long long)gpu->last_fence);
    int err = fence ? fence_wait_raw(ctx, fence, timeout_ns) : LVIO_OK;
    if (err || ctx->failed_fence == 0 || ctx->failed_fence > fence)
        return err;
    gpu->last_cmd = LVIO_VIRTIO_GPU_CMD_SUBMIT_3D;
    gpu->last_resp = ctx->failed_resp;
    return lvio_fail(gpu->dev, ctx->failed_err,
                     "gpu SUBMIT_3D: fence %llu of context %u failed: %s",
                     (unsigned long long)ctx->failed_fence, ctx->id,
                     ctx->failed_err == LVIO_E_REFUSED ? lvio_gpu_resp_name(ctx->failed_resp)
                                                       : "malformed answer");
}

int lvio_gpu_ctx_drain(struct lvio_gpu_ctx *ctx)
{
    if (ctx->last_fence == 0)
        return LVIO_OK;
    return fence_wait_raw(ctx, ctx->last_fence, ctx->gpu->timeout_ns);
}

#else
typedef int lvio_gpu3d_submit_left_out; /* ISO C wants a declaration */
#endif
