/*
 * virtio-gpu 3D (VIRTIO 1.2, 5.7, VIRTIO_GPU_F_VIRGL): capability sets,
 * contexts, 3D resources, their transfers and scanouts. Submits and
 * fences are in gpu3d_submit.c, blob resources in gpu3d_blob.c.
 *
 * Every command here is a batch of gpu.c's, sent and waited for, its
 * answer checked there. A 3D resource is a struct lvio_gpu_fb underneath
 * (lvio_gpu_res_create, gpu_fb.c): its backing, shared both ways since
 * TRANSFER_FROM_HOST_3D writes it, is handed to a lost transfer exactly as
 * a framebuffer's is to a lost TRANSFER_TO_HOST_2D.
 */
#include "lvio/config.h"
#if LVIO_WITH_GPU3D /* else left out: lvio/config.h */

#include "lvio/gpu3d.h"
#include "gpu_internal.h"

/* ---- helpers ---------------------------------------------------------------- */

int lvio_gpu3d_send(struct lvio_gpu *gpu, const void *req, uint32_t len, uint32_t reads)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slot;
    int err = lvio_gpu_slots_take(gpu, &slot, 1);
    if (err)
        return err;
    uint32_t type = lvio_le32_to_cpu(((const struct lvio_virtio_gpu_ctrl_hdr *)req)->type);
    memcpy(lvio_gpu_cmd(gpu, &b, slot, type, len), req, len);
    gpu->slots[slot].reads = reads;
    return lvio_gpu_run(gpu, &b);
}

int lvio_gpu3d_prefix(struct lvio_gpu *gpu, int err, const char *what)
{
    char why[LVIO_ERRMSG_SIZE];
    memcpy(why, gpu->dev->errmsg, sizeof why);
    return lvio_fail(gpu->dev, err, "%s: %s", what, why);
}

bool lvio_gpu_ctx_usable(const struct lvio_gpu_ctx *ctx)
{
    return ctx && ctx->gpu && ctx->gpu->cmds.mem && ctx->id && ctx->epoch == ctx->gpu->epoch;
}

/* A request header for `type`, in context `ctx_id`. */
static struct lvio_virtio_gpu_ctrl_hdr hdr3d(uint32_t type, uint32_t ctx_id)
{
    return (struct lvio_virtio_gpu_ctrl_hdr){.type = lvio_cpu_to_le32(type),
                                             .ctx_id = lvio_cpu_to_le32(ctx_id)};
}

/* The GPU is up and negotiated VIRGL: 0, or why not. */
static int need_virgl(struct lvio_gpu *gpu, const char *what)
{
    if (!gpu || !gpu->cmds.mem)
        return LVIO_E_INVAL;
    if (!gpu->has_virgl)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED, "gpu: %s needs VIRTIO_GPU_F_VIRGL%s", what,
                         (gpu->want & LVIO_GPU_WANT_VIRGL) ? ", which the device did not offer"
                                                           : " (not asked for)");
    return LVIO_OK;
}

/* ---- capability sets -------------------------------------------------------------- */

/* GET_CAPSET_INFO of capset `index` into gpu->capsets[index]. */
static int capset_info(struct lvio_gpu *gpu, uint32_t index)
{
    struct lvio_gpu_batch b = {.n = 0};
    int err;
    struct lvio_virtio_gpu_get_capset_info *req = lvio_gpu_cmd_resp(
        gpu, &b, LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO, sizeof *req,
        LVIO_VIRTIO_GPU_RESP_OK_CAPSET_INFO, sizeof(struct lvio_virtio_gpu_resp_capset_info), &err);
    if (!req)
        return err;
    req->capset_index = lvio_cpu_to_le32(index);
    err = lvio_gpu_run(gpu, &b);
    if (err)
        return err;
    const struct lvio_virtio_gpu_resp_capset_info *resp = b.cmd[0].resp;
    struct lvio_gpu_capset *c = &gpu->capsets[index];
    c->id = lvio_gpu_dev_le32(&resp->capset_id);
    c->max_version = lvio_gpu_dev_le32(&resp->capset_max_version);
    c->max_size = lvio_gpu_dev_le32(&resp->capset_max_size);
    return LVIO_OK;
}

static int capsets_read(struct lvio_gpu *gpu)
{
    uint32_t n;
    int err = lvio_config_read32(gpu->dev, offsetof(struct lvio_virtio_gpu_config, num_capsets),
                                 &n);
    if (err)
        return err;
    if (n == 0)
        lvio_log(gpu->dev, LVIO_LOG_WARN, "gpu: VIRGL offered with no capsets");
    if (n > LVIO_GPU_MAX_CAPSETS) {
        lvio_log(gpu->dev, LVIO_LOG_WARN, "gpu: %u capsets, only the first %u are read", n,
                 LVIO_GPU_MAX_CAPSETS);
        n = LVIO_GPU_MAX_CAPSETS;
    }
    for (uint32_t i = 0; i < n; i++) {
        err = capset_info(gpu, i);
        if (err) {
            char what[48];
            lvio_snprintf(what, sizeof what, "gpu: capset %u of %u", i, n);
            return lvio_gpu3d_prefix(gpu, err, what);
        }
        gpu->num_capsets = i + 1;
    }
    return LVIO_OK;
}

int lvio_gpu3d_setup(struct lvio_gpu *gpu)
{
    int err = gpu->has_virgl ? capsets_read(gpu) : LVIO_OK;
    if (err || !gpu->has_resource_blob)
        return err;
    err = lvio_device_shm(gpu->dev, LVIO_VIRTIO_GPU_SHM_ID_HOST_VISIBLE, &gpu->shm_addr,
                          &gpu->shm_len);
    if (err) {
        if (err != LVIO_E_NODEV)
            lvio_log(gpu->dev, LVIO_LOG_WARN, "gpu: host-visible region unusable (%s): blobs "
                     "cannot be mapped", lvio_device_error(gpu->dev));
        gpu->shm_addr = gpu->shm_len = 0;
    }
    return LVIO_OK;
}

const struct lvio_gpu_capset *lvio_gpu_capset_find(const struct lvio_gpu *gpu, uint32_t id)
{
    for (uint32_t i = 0; gpu && i < gpu->num_capsets && i < LVIO_GPU_MAX_CAPSETS; i++)
        if (gpu->capsets[i].id == id)
            return &gpu->capsets[i];
    return NULL;
}

/* The capset answer in the query page: `got` bytes of it the device says
 * it wrote; its data copied into buf, read once. */
static int capset_copy(struct lvio_gpu *gpu, const struct lvio_gpu_capset *c,
                       const struct lvio_req_slot *s, void *buf, size_t room, size_t *len)
{
    uint32_t hdr = sizeof(struct lvio_virtio_gpu_ctrl_hdr);
    /* gpu_check made sure len >= hdr; a device that said it wrote more
     * than the max_size offered had its length clamped (overlong) */
    uint32_t data = s->overlong ? c->max_size + 1 : s->len - hdr;
    if (data == 0 || data > c->max_size || data > room) {
        gpu->last_cmd = LVIO_VIRTIO_GPU_CMD_GET_CAPSET;
        gpu->last_resp = 0;
    }
    if (data == 0)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE, "gpu GET_CAPSET: capset %u answered empty",
                         c->id);
    if (data > c->max_size)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu GET_CAPSET: capset %u of more bytes than its info's at most %u",
                         c->id, c->max_size);
    if (data > room)
        return lvio_fail(gpu->dev, LVIO_E_NOSPC,
                         "gpu GET_CAPSET: capset %u is %u bytes, room for %zu given", c->id,
                         data, room);
    const volatile uint8_t *src = gpu->query + hdr;
    uint8_t *dst = buf;
    for (uint32_t i = 0; i < data; i++)
        dst[i] = src[i];
    *len = data;
    return LVIO_OK;
}

int lvio_gpu_get_capset(struct lvio_gpu *gpu, uint32_t id, uint32_t version, void *buf,
                        size_t room, size_t *len)
{
    struct lvio_gpu_batch b = {.n = 0};
    int err = need_virgl(gpu, "GET_CAPSET");
    if (err || !buf || !len)
        return err ? err : LVIO_E_INVAL;
    const struct lvio_gpu_capset *c = lvio_gpu_capset_find(gpu, id);
    if (!c || version > c->max_version)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: capset %u version %u: %s", id, version,
                         c ? "above its max_version" : "the device has no such capset");
    if (c->max_size > LVIO_GPU_CAPSET_MAX_SIZE)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: capset %u of up to %u bytes, more than the %u a query takes", id,
                         c->max_size, LVIO_GPU_CAPSET_MAX_SIZE);
    uint32_t hdr = sizeof(struct lvio_virtio_gpu_ctrl_hdr);
    struct lvio_virtio_gpu_get_capset *req =
        lvio_gpu_query_cmd(gpu, &b, LVIO_VIRTIO_GPU_CMD_GET_CAPSET, sizeof *req,
                           LVIO_VIRTIO_GPU_RESP_OK_CAPSET, hdr + c->max_size, &err);
    if (!req)
        return err;
    req->capset_id = lvio_cpu_to_le32(id);
    req->capset_version = lvio_cpu_to_le32(version);
    unsigned slot = b.req[0].slot;
    b.cmd[0].resp_len = hdr; /* the data may be shorter than max_size */
    err = lvio_gpu_run(gpu, &b);
    if (err)
        return err;
    /* The slot is free again, but its len (what the device wrote) stays. */
    return capset_copy(gpu, c, &gpu->cmd_slots[slot], buf, room, len);
}

/* ---- contexts -------------------------------------------------------------------- */

/* Bytes of `name` up to the first NUL, at most max + 1. */
static size_t name_len(const char *name, size_t max)
{
    size_t n = 0;
    while (name && n <= max && name[n])
        n++;
    return n;
}

static int ctx_check(struct lvio_gpu *gpu, uint32_t capset_id, size_t nlen)
{
    if (nlen > LVIO_GPU_CTX_NAME_MAX)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: context name longer than %u bytes",
                         LVIO_GPU_CTX_NAME_MAX);
    if (capset_id && !gpu->has_context_init)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: context with capset %u needs VIRTIO_GPU_F_CONTEXT_INIT", capset_id);
    if (capset_id && (capset_id > LVIO_VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK ||
                      !lvio_gpu_capset_find(gpu, capset_id)))
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: context with capset %u, which the "
                         "device did not report", capset_id);
    return LVIO_OK;
}

int lvio_gpu_ctx_create(struct lvio_gpu *gpu, struct lvio_gpu_ctx *ctx, uint32_t capset_id,
                        const char *name)
{
    int err = need_virgl(gpu, "a context");
    if (err || !ctx)
        return err ? err : LVIO_E_INVAL;
    size_t nlen = name_len(name, LVIO_GPU_CTX_NAME_MAX);
    err = ctx_check(gpu, capset_id, nlen);
    if (err)
        return err;
    memset(ctx, 0, sizeof *ctx);
    uint32_t id = gpu->next_ctx_id++;
    if (gpu->next_ctx_id == 0)
        gpu->next_ctx_id = 1;
    struct lvio_virtio_gpu_ctx_create req = {
        .hdr = hdr3d(LVIO_VIRTIO_GPU_CMD_CTX_CREATE, id),
        .nlen = lvio_cpu_to_le32((uint32_t)nlen),
        .context_init = lvio_cpu_to_le32(capset_id)};
    if (nlen)
        memcpy(req.debug_name, name, nlen);
    err = lvio_gpu3d_send(gpu, &req, sizeof req, 0);
    if (err)
        return err;
    ctx->gpu = gpu;
    ctx->id = id;
    ctx->capset_id = capset_id;
    ctx->epoch = gpu->epoch;
    return LVIO_OK;
}

int lvio_gpu_ctx_destroy(struct lvio_gpu_ctx *ctx)
{
    if (!ctx || !ctx->gpu)
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = ctx->gpu;
    int err = LVIO_OK;
    if (lvio_gpu_ctx_usable(ctx)) {
        err = lvio_gpu_ctx_drain(ctx);
        struct lvio_virtio_gpu_ctx_destroy req = {
            .hdr = hdr3d(LVIO_VIRTIO_GPU_CMD_CTX_DESTROY, ctx->id)};
        int e = lvio_gpu3d_send(gpu, &req, sizeof req, 0);
        err = err ? err : e;
    }
    lvio_gpu_ctx_orphan(ctx);
    ctx->gpu = NULL;
    return err;
}

static int ctx_resource(struct lvio_gpu_ctx *ctx, uint32_t type, uint32_t resource_id)
{
    if (!lvio_gpu_ctx_usable(ctx) || resource_id == 0)
        return LVIO_E_INVAL;
    struct lvio_virtio_gpu_ctx_resource req = {.hdr = hdr3d(type, ctx->id),
                                               .resource_id = lvio_cpu_to_le32(resource_id)};
    return lvio_gpu3d_send(ctx->gpu, &req, sizeof req, 0);
}

int lvio_gpu_ctx_attach(struct lvio_gpu_ctx *ctx, uint32_t resource_id)
{
    return ctx_resource(ctx, LVIO_VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, resource_id);
}

int lvio_gpu_ctx_detach(struct lvio_gpu_ctx *ctx, uint32_t resource_id)
{
    return ctx_resource(ctx, LVIO_VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, resource_id);
}

/* ---- 3D resources ----------------------------------------------------------------- */

static int res3d_check(struct lvio_gpu *gpu, const struct lvio_gpu_res3d_info *info,
                       const void *backing, size_t size, const struct lvio_gpu_run *runs,
                       uint32_t max_runs)
{
    if (!info || !backing || size == 0 || (uintptr_t)backing % 4 != 0)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: 3D resource backing %p of %zu bytes",
                         backing, size);
    if (runs && max_runs == 0)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: room for 0 runs given for the backing");
    if (info->width == 0 || info->height == 0 || info->depth == 0 || info->array_size == 0)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: 3D resource %ux%ux%u, %u layers",
                         info->width, info->height, info->depth, info->array_size);
    if (!gpu->dev->hal->share)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: the HAL has no share(), needed for resource backing");
    return LVIO_OK;
}

int lvio_gpu_res3d_create(struct lvio_gpu *gpu, struct lvio_gpu_res3d *res,
                          const struct lvio_gpu_res3d_info *info, void *backing, size_t size,
                          struct lvio_gpu_run *runs, uint32_t max_runs)
{
    int err = need_virgl(gpu, "a 3D resource");
    if (err || !res)
        return err ? err : LVIO_E_INVAL;
    err = res3d_check(gpu, info, backing, size, runs, max_runs);
    if (err)
        return err;
    memset(res, 0, sizeof *res);
    res->info = *info;
    struct lvio_gpu_fb *fb = &res->fb;
    /* Shared both ways: TRANSFER_FROM_HOST_3D writes it. */
    lvio_gpu_backing_init(fb, gpu, backing, size, LVIO_DMA_BIDIRECTIONAL, runs, max_runs);
    fb->width = info->width;
    fb->height = info->height;
    fb->format = info->format;
    struct lvio_virtio_gpu_resource_create_3d req = {
        .hdr = hdr3d(LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0),
        .target = lvio_cpu_to_le32(info->target),
        .format = lvio_cpu_to_le32(info->format),
        .bind = lvio_cpu_to_le32(info->bind),
        .width = lvio_cpu_to_le32(info->width),
        .height = lvio_cpu_to_le32(info->height),
        .depth = lvio_cpu_to_le32(info->depth),
        .array_size = lvio_cpu_to_le32(info->array_size),
        .last_level = lvio_cpu_to_le32(info->last_level),
        .nr_samples = lvio_cpu_to_le32(info->nr_samples),
        .flags = lvio_cpu_to_le32(info->flags)};
    return lvio_gpu_res_create(gpu, fb, &req, sizeof req, 0);
}

int lvio_gpu_res3d_destroy(struct lvio_gpu_res3d *res)
{
    return res ? lvio_gpu_fb_destroy(&res->fb) : LVIO_E_INVAL;
}

static int transfer(struct lvio_gpu_ctx *ctx, struct lvio_gpu_res3d *res,
                    const struct lvio_gpu_transfer *t, uint32_t type)
{
    if (!res || !t || !lvio_gpu_fb_usable(&res->fb) || (ctx && !lvio_gpu_ctx_usable(ctx)) ||
        (ctx && ctx->gpu != res->fb.gpu))
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = res->fb.gpu;
    const struct lvio_gpu_box *x = &t->box;
    if (x->w == 0 || x->h == 0 || x->d == 0 || t->offset >= res->fb.size)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu %s: box %ux%ux%u at offset %llu of a %zu-byte backing",
                         lvio_gpu_cmd_name(type), x->w, x->h, x->d,
                         (unsigned long long)t->offset, res->fb.size);
    struct lvio_virtio_gpu_transfer_host_3d req = {
        .hdr = hdr3d(type, ctx ? ctx->id : 0),
        .box = {lvio_cpu_to_le32(x->x), lvio_cpu_to_le32(x->y), lvio_cpu_to_le32(x->z),
                lvio_cpu_to_le32(x->w), lvio_cpu_to_le32(x->h), lvio_cpu_to_le32(x->d)},
        .offset = lvio_cpu_to_le64(t->offset),
        .resource_id = lvio_cpu_to_le32(res->fb.resource_id),
        .level = lvio_cpu_to_le32(t->level),
        .stride = lvio_cpu_to_le32(t->stride),
        .layer_stride = lvio_cpu_to_le32(t->layer_stride)};
    /* Both read or write the backing: a lost one keeps it (gpu_fb.c). */
    return lvio_gpu3d_send(gpu, &req, sizeof req, res->fb.resource_id);
}

int lvio_gpu_transfer_to_host_3d(struct lvio_gpu_ctx *ctx, struct lvio_gpu_res3d *res,
                                 const struct lvio_gpu_transfer *t)
{
    return transfer(ctx, res, t, LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D);
}

int lvio_gpu_transfer_from_host_3d(struct lvio_gpu_ctx *ctx, struct lvio_gpu_res3d *res,
                                   const struct lvio_gpu_transfer *t)
{
    return transfer(ctx, res, t, LVIO_VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D);
}

int lvio_gpu_res3d_show(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_res3d *res)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slots[2];
    if (!gpu || !gpu->cmds.mem || !res || !lvio_gpu_fb_usable(&res->fb) || res->fb.gpu != gpu)
        return LVIO_E_INVAL;
    if (scanout >= gpu->num_scanouts || res->info.depth != 1 || res->info.array_size != 1)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: 3D resource of depth %u, %u layers on scanout %u (of %u)",
                         res->info.depth, res->info.array_size, scanout, gpu->num_scanouts);
    int err = lvio_gpu_slots_take(gpu, slots, 2);
    if (err)
        return err;
    struct lvio_gpu_rect all = {0, 0, res->fb.width, res->fb.height};
    lvio_gpu_set_scanout_cmd(gpu, &b, slots[0], scanout, &res->fb);
    lvio_gpu_flush_cmd(gpu, &b, slots[1], &res->fb, &all);
    err = lvio_gpu_run(gpu, &b);
    if (err == LVIO_OK)
        gpu->scanouts[scanout].resource_id = res->fb.resource_id;
    return err;
}

int lvio_gpu_res3d_flush(struct lvio_gpu_res3d *res, const struct lvio_gpu_rect *damage)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slot;
    if (!res || !lvio_gpu_fb_usable(&res->fb))
        return LVIO_E_INVAL;
    struct lvio_gpu_fb *fb = &res->fb;
    struct lvio_gpu_rect r = damage ? *damage : (struct lvio_gpu_rect){0, 0, fb->width, fb->height};
    if (r.width == 0 || r.height == 0)
        return LVIO_OK;
    if ((uint64_t)r.x + r.width > fb->width || (uint64_t)r.y + r.height > fb->height)
        return lvio_fail(fb->gpu->dev, LVIO_E_INVAL,
                         "gpu: flush %ux%u at (%u,%u) outside the %ux%u resource", r.width,
                         r.height, r.x, r.y, fb->width, fb->height);
    int err = lvio_gpu_slots_take(fb->gpu, &slot, 1);
    if (err)
        return err;
    lvio_gpu_flush_cmd(fb->gpu, &b, slot, fb, &r);
    return lvio_gpu_run(fb->gpu, &b);
}

#else
typedef int lvio_gpu3d_left_out; /* ISO C wants a declaration */
#endif
