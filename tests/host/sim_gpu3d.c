/*
 * The simulated GPU's 3D side (sim_gpu.h): capsets, contexts, 3D
 * resources and their transfers, SUBMIT_3D (the command bytes joined from
 * the chain's buffers and kept), fenced answers given now, later, out of
 * order or never, blob resources mapped in a shared memory region, and
 * resource UUIDs. The numbers are the spec's; what a command does is what
 * QEMU's virgl path does, as far as a test can see it.
 *
 * A submit may also "render": a command buffer made of SIM_GPU_FILL
 * triples (magic, resource id, value) fills the resource's host copy with
 * that 32-bit value, when the resource is attached to the context, so a
 * later TRANSFER_FROM_HOST_3D brings known bytes back.
 */
#include "sim_gpu_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SIM_GPU_FILL 0x4c4c4946u /* "FILL" */

static bool negotiated(struct sim_gpu *g, unsigned bit, const char *cmd)
{
    if (g->sim.driver_features & (1ull << bit))
        return true;
    sim_error(&g->sim, "gpu: %s without feature bit %u negotiated", cmd, bit);
    return false;
}

/* ---- capsets ------------------------------------------------------------------- */

static uint32_t cmd_capset_info(struct sim_gpu *g, const uint8_t *req, uint8_t *resp,
                                uint32_t *resp_len)
{
    uint32_t i = rd32(req + 24);
    if (i >= g->num_capsets || i >= SIM_GPU_MAX_CAPSETS)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    wr32(resp + 24, g->capsets[i].id);
    wr32(resp + 28, g->capsets[i].max_version);
    wr32(resp + 32, g->capsets[i].max_size);
    *resp_len = sizeof(struct lvio_virtio_gpu_resp_capset_info);
    return LVIO_VIRTIO_GPU_RESP_OK_CAPSET_INFO;
}

static uint32_t cmd_capset(struct sim_gpu *g, const uint8_t *req, uint8_t *resp,
                           uint32_t *resp_len)
{
    uint32_t id = rd32(req + 24), version = rd32(req + 28);
    for (unsigned i = 0; i < g->num_capsets && i < SIM_GPU_MAX_CAPSETS; i++) {
        const struct sim_gpu_capset *c = &g->capsets[i];
        if (c->id != id)
            continue;
        if (version > c->max_version)
            return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
        uint32_t n = c->answer_len >= 0 ? (uint32_t)c->answer_len : c->max_size;
        if (n > SIM_GPU_CAPSET_MAX)
            n = SIM_GPU_CAPSET_MAX;
        memcpy(resp + HDR_SIZE, c->data, n);
        *resp_len = HDR_SIZE + n;
        return c->answer_type ? c->answer_type : LVIO_VIRTIO_GPU_RESP_OK_CAPSET;
    }
    return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

/* ---- contexts ------------------------------------------------------------------- */

struct sim_gpu_ctx *sim_gpu_context(struct sim_gpu *g, uint32_t id)
{
    for (unsigned i = 0; id && i < SIM_GPU_MAX_CTX; i++)
        if (g->ctx[i].id == id)
            return &g->ctx[i];
    return NULL;
}

unsigned sim_gpu_live_contexts(const struct sim_gpu *g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < SIM_GPU_MAX_CTX; i++)
        n += g->ctx[i].id != 0;
    return n;
}

static bool ctx_has(const struct sim_gpu_ctx *c, uint32_t res)
{
    for (unsigned i = 0; i < c->nattached; i++)
        if (c->attached[i] == res)
            return true;
    return false;
}

static uint32_t cmd_ctx_create(struct sim_gpu *g, const uint8_t *req)
{
    uint32_t id = rd32(req + 16), nlen = rd32(req + 24), init = rd32(req + 28);
    if (init && !negotiated(g, LVIO_VIRTIO_GPU_F_CONTEXT_INIT, "CTX_CREATE with context_init"))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (id == 0 || sim_gpu_context(g, id))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
    if (nlen > 64)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    for (unsigned i = 0; i < SIM_GPU_MAX_CTX; i++) {
        struct sim_gpu_ctx *c = &g->ctx[i];
        if (c->id)
            continue;
        memset(c, 0, sizeof *c);
        c->id = id;
        c->context_init = init;
        c->nlen = nlen;
        memcpy(c->name, req + 32, nlen);
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    return LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
}

static uint32_t cmd_ctx_resource(struct sim_gpu *g, uint32_t type, const uint8_t *req)
{
    struct sim_gpu_ctx *c = sim_gpu_context(g, rd32(req + 16));
    uint32_t id = rd32(req + 24);
    if (!c)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
    if (!sim_gpu_resource(g, id))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (type == LVIO_VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE) {
        if (!ctx_has(c, id) && c->nattached < SIM_GPU_MAX_RES)
            c->attached[c->nattached++] = id;
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    for (unsigned i = 0; i < c->nattached; i++) {
        if (c->attached[i] != id)
            continue;
        c->attached[i] = c->attached[--c->nattached];
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
}

/* ---- 3D resources and transfers ---------------------------------------------------------- */

uint8_t sim_gpu_host_byte(uint32_t resource_id, size_t off)
{
    return (uint8_t)(off * 7u + resource_id * 13u + 1u);
}

static uint32_t cmd_create_3d(struct sim_gpu *g, const uint8_t *req)
{
    uint32_t id = rd32(req + 24), w = rd32(req + 40), h = rd32(req + 44), d = rd32(req + 48),
             layers = rd32(req + 52);
    if (id == 0 || sim_gpu_resource(g, id))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (w == 0 || h == 0 || d == 0 || layers == 0)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    uint64_t size = (uint64_t)w * h * d * layers * 4;
    struct sim_gpu_resource *r = sim_gpu_res_new(g);
    if (size > (64u << 20) || !r)
        return LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    r->host = malloc((size_t)size);
    assert_non_null(r->host);
    for (size_t i = 0; i < size; i++)
        r->host[i] = sim_gpu_host_byte(id, i);
    r->host_size = (size_t)size;
    r->id = id;
    r->is3d = true;
    r->target = rd32(req + 28);
    r->format = rd32(req + 32);
    r->bind = rd32(req + 36);
    r->width = w;
    r->height = h;
    r->depth = d;
    r->array_size = layers;
    r->last_level = rd32(req + 56);
    r->nr_samples = rd32(req + 60);
    r->flags = rd32(req + 64);
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

/* TRANSFER_TO_HOST_3D / FROM_HOST_3D of level 0 (4 bytes a texel; stride 0:
 * the resource's row, layer_stride 0: its rows). */
static uint32_t cmd_transfer_3d(struct sim_gpu *g, uint32_t type, const uint8_t *req)
{
    uint32_t ctx = rd32(req + 16);
    uint32_t x = rd32(req + 24), y = rd32(req + 28), z = rd32(req + 32);
    uint32_t w = rd32(req + 36), h = rd32(req + 40), d = rd32(req + 44);
    uint64_t offset = rd64(req + 48);
    struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 56));
    uint32_t level = rd32(req + 60);
    if (ctx && !sim_gpu_context(g, ctx))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
    if (!r || !r->is3d)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!r->entries || level > r->last_level || (uint64_t)x + w > r->width ||
        (uint64_t)y + h > r->height || (uint64_t)z + d > (uint64_t)r->depth * r->array_size)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (level)
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA; /* only level 0 is modelled */
    uint64_t stride = rd32(req + 64) ? rd32(req + 64) : (uint64_t)r->width * 4;
    uint64_t layer = rd32(req + 68) ? rd32(req + 68) : stride * r->height;
    bool from = type == LVIO_VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D;
    for (uint32_t k = 0; k < d; k++)
        for (uint32_t row = 0; row < h; row++) {
            uint64_t src = offset + layer * k + stride * row;
            uint8_t *host = r->host + (((uint64_t)(z + k) * r->height + y + row) * r->width + x) * 4;
            if (!sim_gpu_backing_copy(g, r, src, host, (uint64_t)w * 4, from))
                return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
        }
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- submits --------------------------------------------------------------------------- */

/* The commands "render": FILL triples fill attached resources. */
static void submit_render(struct sim_gpu *g, const struct sim_gpu_ctx *c, const uint8_t *b,
                          uint32_t size)
{
    for (uint32_t i = 0; i + 12 <= size; i += 12) {
        struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(b + i + 4));
        if (rd32(b + i) != SIM_GPU_FILL || !r || !ctx_has(c, r->id))
            continue;
        for (size_t k = 0; k + 4 <= r->host_size; k += 4)
            wr32(r->host + k, rd32(b + i + 8));
    }
}

static uint32_t cmd_submit(struct sim_gpu *g, const uint8_t *req, const struct chain *c)
{
    uint32_t size = rd32(req + 24), hsize = sizeof(struct lvio_virtio_gpu_cmd_submit);
    struct sim_gpu_ctx *ctx = sim_gpu_context(g, rd32(req + 16));
    struct sim_gpu_submit spill, *rec =
        g->nsubmits < SIM_GPU_MAX_SUBMITS ? &g->submits[g->nsubmits] : &spill;
    g->nsubmits++;
    memset(rec, 0, sizeof *rec);
    rec->ctx_id = rd32(req + 16);
    rec->flags = rd32(req + 4);
    rec->fence = rd64(req + 8);
    rec->size = size;
    rec->nbufs = c->n - 1;
    if (c->len[0] != hsize || c->total - hsize != size || size % 4) {
        sim_error(&g->sim, "gpu: SUBMIT_3D of %u bytes in a chain of %llu readable bytes", size,
                  (unsigned long long)c->total);
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    }
    rec->bytes = malloc(size ? size : 1);
    assert_non_null(rec->bytes);
    if (!sim_gpu_chain_read(&g->sim, c, hsize, rec->bytes, size))
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    uint8_t *bytes = rec->bytes;
    if (rec == &spill)
        free(spill.bytes);
    if (!ctx)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
    if (rec != &spill)
        submit_render(g, ctx, bytes, size);
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

const struct sim_gpu_submit *sim_gpu_submit_log(const struct sim_gpu *g, unsigned nth)
{
    return nth < g->nsubmits && nth < SIM_GPU_MAX_SUBMITS ? &g->submits[nth] : NULL;
}

/* ---- blobs and UUIDs --------------------------------------------------------------------- */

static uint32_t cmd_create_blob(struct sim_gpu *g, const uint8_t *req, const struct chain *c)
{
    uint32_t id = rd32(req + 24), mem = rd32(req + 28), nr = rd32(req + 36);
    uint64_t size = rd64(req + 48);
    uint32_t hsize = sizeof(struct lvio_virtio_gpu_resource_create_blob);
    if (id == 0 || sim_gpu_resource(g, id))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (mem < LVIO_VIRTIO_GPU_BLOB_MEM_GUEST || mem > LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST ||
        size == 0 || size > (64u << 20))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (mem != LVIO_VIRTIO_GPU_BLOB_MEM_GUEST && !sim_gpu_context(g, rd32(req + 16)))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
    bool guest = mem != LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D;
    struct lvio_virtio_gpu_mem_entry *e = guest ? sim_gpu_read_entries(g, c, hsize, nr) : NULL;
    uint64_t backed = 0;
    for (uint32_t i = 0; e && i < nr; i++)
        backed += lvio_le32_to_cpu(e[i].length);
    if (guest ? (!e || backed < size) : nr != 0) {
        free(e);
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    }
    struct sim_gpu_resource *r = sim_gpu_res_new(g);
    if (!r) {
        free(e);
        return LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    }
    r->id = id;
    r->blob = true;
    r->blob_mem = mem;
    r->blob_flags = rd32(req + 32);
    r->blob_ctx = rd32(req + 16);
    r->blob_id = rd64(req + 40);
    r->blob_size = size;
    r->entries = e;
    r->nr_entries = guest ? nr : 0;
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_map_blob(struct sim_gpu *g, const uint8_t *req, uint8_t *resp,
                             uint32_t *resp_len)
{
    struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 24));
    uint64_t off = rd64(req + 32), region = g->sim.shm_len[LVIO_VIRTIO_GPU_SHM_ID_HOST_VISIBLE];
    if (!r || !r->blob)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (r->mapped || !(r->blob_flags & LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE) || off > region ||
        r->blob_size > region - off)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    r->mapped = true;
    r->map_offset = off;
    wr32(resp + 24, g->map_info);
    *resp_len = sizeof(struct lvio_virtio_gpu_resp_map_info);
    return LVIO_VIRTIO_GPU_RESP_OK_MAP_INFO;
}

static uint32_t cmd_unmap_blob(struct sim_gpu *g, const uint8_t *req)
{
    struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 24));
    if (!r || !r->blob)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!r->mapped)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    r->mapped = false;
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_uuid(struct sim_gpu *g, const uint8_t *req, uint8_t *resp, uint32_t *resp_len)
{
    uint32_t id = rd32(req + 24);
    if (!sim_gpu_resource(g, id))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    for (unsigned i = 0; i < 16; i++)
        resp[24 + i] = (uint8_t)(g->uuid_seed + id + i);
    *resp_len = sizeof(struct lvio_virtio_gpu_resp_resource_uuid);
    return LVIO_VIRTIO_GPU_RESP_OK_RESOURCE_UUID;
}

/* ---- dispatch --------------------------------------------------------------------------- */

uint32_t sim_gpu3d_req_len(uint32_t type)
{
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO: return sizeof(struct lvio_virtio_gpu_get_capset_info);
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET: return sizeof(struct lvio_virtio_gpu_get_capset);
    case LVIO_VIRTIO_GPU_CMD_CTX_CREATE: return sizeof(struct lvio_virtio_gpu_ctx_create);
    case LVIO_VIRTIO_GPU_CMD_CTX_DESTROY: return sizeof(struct lvio_virtio_gpu_ctx_destroy);
    case LVIO_VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
    case LVIO_VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE: return sizeof(struct lvio_virtio_gpu_ctx_resource);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
        return sizeof(struct lvio_virtio_gpu_resource_create_3d);
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
        return sizeof(struct lvio_virtio_gpu_transfer_host_3d);
    case LVIO_VIRTIO_GPU_CMD_SUBMIT_3D: return sizeof(struct lvio_virtio_gpu_cmd_submit);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB:
        return sizeof(struct lvio_virtio_gpu_resource_create_blob);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB:
        return sizeof(struct lvio_virtio_gpu_resource_map_blob);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB:
        return sizeof(struct lvio_virtio_gpu_resource_unmap_blob);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID:
        return sizeof(struct lvio_virtio_gpu_resource_assign_uuid);
    default: return 0;
    }
}

static uint32_t exec_blob(struct sim_gpu *g, uint32_t type, const uint8_t *req,
                          const struct chain *c, uint8_t *resp, uint32_t *resp_len)
{
    if (type == LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID)
        return negotiated(g, LVIO_VIRTIO_GPU_F_RESOURCE_UUID, "RESOURCE_ASSIGN_UUID")
                   ? cmd_uuid(g, req, resp, resp_len)
                   : LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    if (!negotiated(g, LVIO_VIRTIO_GPU_F_RESOURCE_BLOB, "a blob command"))
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB: return cmd_create_blob(g, req, c);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB: return cmd_map_blob(g, req, resp, resp_len);
    default: return cmd_unmap_blob(g, req);
    }
}

uint32_t sim_gpu3d_exec(struct sim_gpu *g, uint32_t type, const uint8_t *req,
                        const struct chain *c, uint8_t *resp, uint32_t *resp_len)
{
    if (type == LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID ||
        type == LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB ||
        type == LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB ||
        type == LVIO_VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB)
        return exec_blob(g, type, req, c, resp, resp_len);
    if (type == LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF) {
        struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 24));
        if (r && r->mapped)
            sim_error(&g->sim, "gpu: RESOURCE_UNREF of blob %u while it is mapped", r->id);
        return 0; /* sim_gpu.c's */
    }
    bool is3d = type == LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO ||
                type == LVIO_VIRTIO_GPU_CMD_GET_CAPSET ||
                (type >= LVIO_VIRTIO_GPU_CMD_CTX_CREATE &&
                 type <= LVIO_VIRTIO_GPU_CMD_SUBMIT_3D);
    if (!is3d)
        return 0;
    if (!negotiated(g, LVIO_VIRTIO_GPU_F_VIRGL, "a 3D command"))
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO: return cmd_capset_info(g, req, resp, resp_len);
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET: return cmd_capset(g, req, resp, resp_len);
    case LVIO_VIRTIO_GPU_CMD_CTX_CREATE: return cmd_ctx_create(g, req);
    case LVIO_VIRTIO_GPU_CMD_CTX_DESTROY: {
        struct sim_gpu_ctx *ctx = sim_gpu_context(g, rd32(req + 16));
        if (!ctx)
            return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
        memset(ctx, 0, sizeof *ctx);
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    case LVIO_VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
    case LVIO_VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE: return cmd_ctx_resource(g, type, req);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_3D: return cmd_create_3d(g, req);
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D: return cmd_transfer_3d(g, type, req);
    default: return cmd_submit(g, req, c);
    }
}

/* ---- fences ---------------------------------------------------------------------------- */

bool sim_gpu3d_hold(struct sim_gpu *g, uint16_t head, uint64_t waddr, uint32_t wlen,
                    uint64_t fence, const uint8_t *resp, uint32_t resp_len)
{
    if (g->fence_mode != SIM_GPU_FENCE_LATER || g->npending == SIM_GPU_MAX_PENDING)
        return false;
    struct sim_gpu_pending *p = &g->pending[g->npending++];
    p->head = head;
    p->waddr = waddr;
    p->wlen = wlen;
    p->fence = fence;
    memcpy(p->resp, resp, sizeof p->resp);
    p->resp_len = resp_len;
    if (g->fence_auto > 0 && g->fence_countdown <= 0)
        g->fence_countdown = g->fence_auto;
    return true;
}

/* Answer pending command `i` and drop it from the list. */
static void answer(struct sim_gpu *g, unsigned i)
{
    struct sim_gpu_pending p = g->pending[i];
    g->pending[i] = g->pending[--g->npending];
    uint32_t n = p.wlen < sizeof p.resp ? p.wlen : (uint32_t)sizeof p.resp;
    uint8_t *out = sim_mem(&g->sim, p.waddr, n);
    if (out)
        memcpy(out, p.resp, n);
    if (p.fence > g->last_signalled)
        g->last_signalled = p.fence;
    sim_complete(&g->sim, LVIO_VIRTIO_GPU_QUEUE_CONTROL, p.head, p.resp_len);
}

unsigned sim_gpu_signal(struct sim_gpu *g, uint64_t fence)
{
    unsigned n = 0;
    for (;;) {
        int first = -1;
        for (unsigned i = 0; i < g->npending; i++)
            if (g->pending[i].fence <= fence &&
                (first < 0 || g->pending[i].fence < g->pending[first].fence))
                first = (int)i;
        if (first < 0)
            return n;
        answer(g, (unsigned)first);
        n++;
    }
}

unsigned sim_gpu_signal_one(struct sim_gpu *g, uint64_t fence)
{
    for (unsigned i = 0; i < g->npending; i++)
        if (g->pending[i].fence == fence) {
            answer(g, i);
            return 1;
        }
    return 0;
}

void sim_gpu3d_step(struct sim *s)
{
    struct sim_gpu *g = sim_gpu_of(s);
    if (g->fence_auto <= 0 || g->npending == 0 || --g->fence_countdown > 0)
        return;
    sim_gpu_signal(g, UINT64_MAX);
}

void sim_gpu3d_reset(struct sim_gpu *g)
{
    memset(g->ctx, 0, sizeof g->ctx);
    g->npending = 0; /* the reset ended those chains */
}

void sim_gpu3d_fini(struct sim_gpu *g)
{
    for (unsigned i = 0; i < g->nsubmits && i < SIM_GPU_MAX_SUBMITS; i++) {
        free(g->submits[i].bytes);
        g->submits[i].bytes = NULL;
    }
}

/* ---- setup ----------------------------------------------------------------------------- */

void sim_gpu_set_capset(struct sim_gpu *g, unsigned i, uint32_t id, uint32_t max_version,
                        uint32_t max_size)
{
    struct sim_gpu_capset *c = &g->capsets[i];
    c->id = id;
    c->max_version = max_version;
    c->max_size = max_size;
    c->answer_len = -1;
    c->answer_type = 0;
    for (unsigned k = 0; k < SIM_GPU_CAPSET_MAX; k++)
        c->data[k] = (uint8_t)(id * 31u + k);
    if (g->num_capsets < i + 1)
        g->num_capsets = i + 1;
    sim_gpu_update_config(g);
}

void sim_gpu_offer_3d(struct sim_gpu *g, uint64_t bits)
{
    g->sim.features |= bits;
    if (bits & (1ull << LVIO_VIRTIO_GPU_F_VIRGL)) {
        sim_gpu_set_capset(g, 0, LVIO_VIRTIO_GPU_CAPSET_VIRGL, 1, 308);
        sim_gpu_set_capset(g, 1, LVIO_VIRTIO_GPU_CAPSET_VIRGL2, 2, 1024);
    }
    if (bits & (1ull << LVIO_VIRTIO_GPU_F_RESOURCE_BLOB)) {
        g->sim.shm_base[LVIO_VIRTIO_GPU_SHM_ID_HOST_VISIBLE] = 0x8000000000ull;
        g->sim.shm_len[LVIO_VIRTIO_GPU_SHM_ID_HOST_VISIBLE] = 64u << 20;
    }
}
