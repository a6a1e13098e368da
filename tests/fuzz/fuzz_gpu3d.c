/*
 * fuzz_gpu3d: the virtio-gpu 3D driver (lvio/gpu3d.h) over a device whose
 * every answer comes from the input: capset infos and capsets of any
 * size, response types and lengths, fence ids and flags echoed or not,
 * fenced answers held and given back late and out of order, map infos,
 * UUIDs; plus what fuzz_dev.h's device does to every driver (ring lies,
 * scribbling, late answers, resets ignored, the clock).
 *
 * Sequence: lvio_gpu_init_with(want from the input), then operations
 * chosen by the input (contexts created, destroyed, resources attached
 * and detached; submits of harness buffers, fence_done, fence_wait; 3D
 * resources created, transferred both ways, shown, destroyed; GET_CAPSET;
 * blobs created, mapped, unmapped, destroyed; UUIDs; poll; reset; a new
 * timeout), then everything destroyed and lvio_gpu_teardown.
 *
 * The device side checks what the driver asks of it: every command is one
 * it knows, of its size; a SUBMIT_3D carries FLAG_FENCE and a fence id
 * above every earlier one (since the last reset), names a context created
 * and not destroyed, and its command bytes (`size` of them, a multiple of
 * 4) are all in shared memory; a context id is never 0 nor used twice; a
 * GET_CAPSET offers at most a page for the answer; a MAP_BLOB's offset is
 * page-aligned. The harness checks each call's result is one its header
 * documents (FZ_EXPECT), fences increase, a capset read is no larger than
 * the room given, a submit's buffer is no longer shared once its fence is
 * done (device alive), lvio_gpu_memory_busy agrees with the shares, and
 * after teardown every page and share is back (fz_finish).
 *
 * Input: the common header (fuzz_dev.h), features ^ (VERSION_1 | EDID |
 * VIRGL | CONTEXT_INIT | RESOURCE_UUID | RESOURCE_BLOB) (8), num_capsets
 * ^ 2 (1), want (1: bits 0-4 lvio_gpu_init_with's, bit 5 no shared memory
 * region, bit 6 one that wraps), then operations interleaved with the
 * device's decisions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gpu.h"
#include "lvio/gpu3d.h"

#define NCTX 3
#define NRES 2
#define NBLOB 2
#define MAX_OPS 48
#define MAX_BUFS (MAX_OPS + 8)
#define MAX_SEEN 64
#define HDR 24u

struct sub {
    struct lvio_gpu_ctx *ctx;
    uint32_t ctx_id;            /* the storage may hold another context later */
    uint64_t fence;
    uint8_t *buf;
    size_t len;
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_gpu gpu;
    struct lvio_gpu_ctx ctx[NCTX];
    bool ctx_live[NCTX];
    struct lvio_gpu_res3d res[NRES];
    bool res_live[NRES];
    struct lvio_gpu_blob blob[NBLOB];
    bool blob_live[NBLOB];
    struct sub subs[MAX_OPS];
    unsigned nsubs;
    uint64_t last_fence;      /* the driver's, since the last reset */
    void *bufs[MAX_BUFS];     /* freed only after teardown */
    unsigned nbufs;
    /* the device's state, since its last reset */
    uint64_t dev_fence;
    uint32_t ctx_seen[MAX_SEEN], ctx_alive[MAX_SEEN];
    unsigned nseen, nalive;
} S;

/* ---- the device ------------------------------------------------------------ */

#define rd32 fz_get_le32
#define wr32 fz_put_le32
#define rd64 fz_get_le64
#define wr64 fz_put_le64
#define GPU_RULE(...) FZ_TRUSTED_RULE(&S.f, __VA_ARGS__)

static void gpu_on_reset(struct fz *f)
{
    (void)f;
    S.dev_fence = 0;
    S.nseen = S.nalive = 0;
}

static bool alive(uint32_t id)
{
    for (unsigned i = 0; i < S.nalive; i++)
        if (S.ctx_alive[i] == id)
            return true;
    return false;
}

static void ctx_created(uint32_t id, uint32_t nlen)
{
    for (unsigned i = 0; i < S.nseen; i++)
        if (S.ctx_seen[i] == id)
            GPU_RULE("context id %u used twice", id);
    if (id == 0 || nlen > 64)
        GPU_RULE("CTX_CREATE id %u, name of %u bytes", id, nlen);
    if (S.nseen < MAX_SEEN)
        S.ctx_seen[S.nseen++] = id;
    if (S.nalive < MAX_SEEN)
        S.ctx_alive[S.nalive++] = id;
}

static void ctx_gone(uint32_t id)
{
    for (unsigned i = 0; i < S.nalive; i++)
        if (S.ctx_alive[i] == id)
            S.ctx_alive[i] = S.ctx_alive[--S.nalive];
}

static void check_submit(struct fz *f, const uint8_t *req, const struct fz_chain *c)
{
    uint32_t flags = rd32(req + 4), ctx = rd32(req + 16), size = rd32(req + HDR);
    uint64_t fence = rd64(req + 8), total = 0;
    if (!(flags & LVIO_VIRTIO_GPU_FLAG_FENCE) || fence <= S.dev_fence)
        GPU_RULE("SUBMIT_3D flags 0x%x fence %llu after fence %llu", flags,
                 (unsigned long long)fence, (unsigned long long)S.dev_fence);
    S.dev_fence = fence;
    if (!alive(ctx))
        GPU_RULE("SUBMIT_3D in context %u, not created or destroyed", ctx);
    for (unsigned i = 1; i + 1 < c->n; i++) {
        if (c->buf[i].write || !fz_dev_covered(f, c->buf[i].addr, c->buf[i].len))
            GPU_RULE("SUBMIT_3D buffer %u (0x%llx, %u bytes) is not shared for reading", i,
                     (unsigned long long)c->buf[i].addr, c->buf[i].len);
        total += c->buf[i].len;
    }
    if (total != size || size == 0 || size % 4)
        GPU_RULE("SUBMIT_3D of %u bytes in buffers of %llu", size, (unsigned long long)total);
}

/* The request size of every command the driver sends. */
static const struct {
    uint32_t type, size;
} REQ_SIZES[] = {
    {LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO, HDR},
    {LVIO_VIRTIO_GPU_CMD_GET_EDID, sizeof(struct lvio_virtio_gpu_get_edid)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof(struct lvio_virtio_gpu_resource_unref)},
    {LVIO_VIRTIO_GPU_CMD_SET_SCANOUT, sizeof(struct lvio_virtio_gpu_set_scanout)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH, sizeof(struct lvio_virtio_gpu_resource_flush)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
     sizeof(struct lvio_virtio_gpu_resource_attach_backing)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
     sizeof(struct lvio_virtio_gpu_resource_detach_backing)},
    {LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO, sizeof(struct lvio_virtio_gpu_get_capset_info)},
    {LVIO_VIRTIO_GPU_CMD_GET_CAPSET, sizeof(struct lvio_virtio_gpu_get_capset)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID,
     sizeof(struct lvio_virtio_gpu_resource_assign_uuid)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB,
     sizeof(struct lvio_virtio_gpu_resource_create_blob)},
    {LVIO_VIRTIO_GPU_CMD_CTX_CREATE, sizeof(struct lvio_virtio_gpu_ctx_create)},
    {LVIO_VIRTIO_GPU_CMD_CTX_DESTROY, HDR},
    {LVIO_VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, sizeof(struct lvio_virtio_gpu_ctx_resource)},
    {LVIO_VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, sizeof(struct lvio_virtio_gpu_ctx_resource)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, sizeof(struct lvio_virtio_gpu_resource_create_3d)},
    {LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, sizeof(struct lvio_virtio_gpu_transfer_host_3d)},
    {LVIO_VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, sizeof(struct lvio_virtio_gpu_transfer_host_3d)},
    {LVIO_VIRTIO_GPU_CMD_SUBMIT_3D, sizeof(struct lvio_virtio_gpu_cmd_submit)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, sizeof(struct lvio_virtio_gpu_resource_map_blob)},
    {LVIO_VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB,
     sizeof(struct lvio_virtio_gpu_resource_unmap_blob)},
};

static uint32_t req_size(uint32_t type)
{
    for (size_t i = 0; i < sizeof REQ_SIZES / sizeof REQ_SIZES[0]; i++)
        if (REQ_SIZES[i].type == type)
            return REQ_SIZES[i].size;
    return 0; /* one the driver never sends */
}

/* The device's bookkeeping and rules for a command it takes. */
static void gpu_note(struct fz *f, uint32_t type, const uint8_t *req, uint32_t len,
                     const struct fz_chain *c)
{
    uint32_t want = req_size(type);
    if (want == 0 || len != want) {
        GPU_RULE("command 0x%x (%s) of %u bytes, expected %u", type, lvio_gpu_cmd_name(type),
                 len, want);
        return;
    }
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_CTX_CREATE: ctx_created(rd32(req + 16), rd32(req + HDR)); break;
    case LVIO_VIRTIO_GPU_CMD_CTX_DESTROY: ctx_gone(rd32(req + 16)); break;
    case LVIO_VIRTIO_GPU_CMD_SUBMIT_3D: check_submit(f, req, c); break;
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET:
        if (c->buf[c->n - 1].len > LVIO_PAGE_SIZE)
            GPU_RULE("GET_CAPSET offers %u bytes for its answer", c->buf[c->n - 1].len);
        break;
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB:
        if (rd64(req + 32) % LVIO_PAGE_SIZE)
            GPU_RULE("MAP_BLOB at offset 0x%llx", (unsigned long long)rd64(req + 32));
        break;
    default: break;
    }
}

/* A well-behaved answer's type and length; fields from the tape when
 * `tape`. */
static uint32_t answer(struct fz *f, uint32_t type, const uint8_t *req, uint8_t *resp,
                       uint32_t cap, bool tape)
{
    struct fz_tape *t = &f->t;
    uint32_t len = HDR;
    wr32(resp, LVIO_VIRTIO_GPU_RESP_OK_NODATA);
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        wr32(resp, LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
        if (cap >= HDR + 24) {
            wr32(resp + HDR + 8, 64);
            wr32(resp + HDR + 12, 48);
            wr32(resp + HDR + 16, 1);
        }
        return sizeof(struct lvio_virtio_gpu_resp_display_info);
    case LVIO_VIRTIO_GPU_CMD_GET_EDID:
        wr32(resp, LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC); /* no EDID: only logged */
        return HDR;
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET_INFO:
        wr32(resp, LVIO_VIRTIO_GPU_RESP_OK_CAPSET_INFO);
        if (cap >= 40) {
            wr32(resp + HDR, tape ? fz_u8(t) : 1 + rd32(req + HDR));
            wr32(resp + HDR + 4, tape ? fz_u8(t) : 2);
            wr32(resp + HDR + 8, tape ? fz_u16(t) : 64);
        }
        return 40;
    case LVIO_VIRTIO_GPU_CMD_GET_CAPSET: {
        wr32(resp, LVIO_VIRTIO_GPU_RESP_OK_CAPSET);
        uint32_t n = tape ? fz_u16(t) : 64;
        if (n > cap - HDR)
            n = cap - HDR;
        for (uint32_t i = 0; i < n; i++)
            resp[HDR + i] = (uint8_t)i;
        return HDR + n;
    }
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID:
        wr32(resp, LVIO_VIRTIO_GPU_RESP_OK_RESOURCE_UUID);
        if (cap >= 40 && tape)
            fz_bytes(t, resp + HDR, 16);
        len = 40;
        break;
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB:
        wr32(resp, LVIO_VIRTIO_GPU_RESP_OK_MAP_INFO);
        if (cap >= 32)
            wr32(resp + HDR, tape ? fz_u8(t) : LVIO_VIRTIO_GPU_MAP_CACHE_WC);
        len = 32;
        break;
    default: break;
    }
    if (rd32(req + 4) & LVIO_VIRTIO_GPU_FLAG_FENCE) { /* echo the fence */
        wr32(resp + 4, tape ? fz_u8(t) : LVIO_VIRTIO_GPU_FLAG_FENCE);
        wr64(resp + 8, tape ? rd64(req + 8) + fz_u8(t) % 3 - 1 : rd64(req + 8));
        wr32(resp + 16, rd32(req + 16));
    }
    return len;
}

static uint32_t gpu_service(struct fz *f, struct fz_chain *c)
{
    struct fz_gpu_cmd k;
    if (c->queue == LVIO_VIRTIO_GPU_QUEUE_CURSOR || !fz_gpu_control_cmd(f, c, &k))
        return 0;
    uint8_t mode = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    uint32_t len;
    if (k.cap < HDR || k.req_len < HDR) {
        GPU_RULE("%s: request of %u bytes, response buffer of %u",
                 lvio_gpu_cmd_name(k.type), k.req_len, k.cap);
        return 0;
    }
    gpu_note(f, k.type, k.req, k.req_len, c);
    memset(k.resp, 0, k.cap);
    if (fz_gpu_hostile_answer(f, mode, k.resp, k.cap, &len))
        return len;
    len = answer(f, k.type, k.req, k.resp, k.cap, mode % 10 == 6);
    if (mode % 10 == 4)
        return fz_u16(&f->t);          /* the right answer, any length */
    if (mode % 10 == 5)
        f->hold_this = true;           /* answered later, in any order */
    return len;
}

/* ---- the driver side ----------------------------------------------------------- */

#define COMMAND_ERRORS                                                                       \
    LVIO_OK, LVIO_E_INVAL, LVIO_E_AGAIN, LVIO_E_REFUSED, LVIO_E_DEVICE, LVIO_E_TIMEOUT,    \
        LVIO_E_NEEDS_RESET, LVIO_E_BROKEN
#define CREATE_ERRORS                                                                        \
    COMMAND_ERRORS, LVIO_E_UNSUPPORTED, LVIO_E_NOMEM, LVIO_E_NOSPC, LVIO_E_HAL

static uint8_t *harness_buf(size_t size)
{
    if (S.nbufs == MAX_BUFS)
        return NULL;
    uint8_t *b = aligned_alloc(LVIO_PAGE_SIZE, (size + 2 * LVIO_PAGE_SIZE) / LVIO_PAGE_SIZE *
                                                   LVIO_PAGE_SIZE);
    if (!b)
        fz_die("host out of memory");
    memset(b, 0x5a, size);
    S.bufs[S.nbufs++] = b;
    return b;
}

/* lvio_gpu_memory_busy agrees with the shares (always busy when dead). */
static void check_busy(const uint8_t *p, size_t n)
{
    bool busy = lvio_gpu_memory_busy(&S.gpu, p, n);
    size_t shared = fz_shared_bytes(&S.f, p, n);
    if (S.dev.dead ? !busy : busy != (shared != 0))
        fz_die("lvio_gpu_memory_busy says %d with %zu bytes shared", busy, shared);
}

static void op_ctx(unsigned i, uint8_t arg)
{
    struct lvio_gpu_ctx *c = &S.ctx[i];
    if (S.ctx_live[i]) {
        fz_call(&S.f, "lvio_gpu_ctx_destroy");
        int rv = lvio_gpu_ctx_destroy(c);
        FZ_EXPECT("lvio_gpu_ctx_destroy", rv, COMMAND_ERRORS);
        S.ctx_live[i] = false;
        if (c->gpu)
            fz_die("a destroyed context still has its gpu");
        return;
    }
    static const char *const names[] = {NULL, "", "levitate", "a name of sixty-four bytes......"
                                                              "..............................."};
    uint32_t capset = arg & 0x80 ? arg & 7 : 0;
    fz_call(&S.f, "lvio_gpu_ctx_create");
    int rv = lvio_gpu_ctx_create(&S.gpu, c, capset, names[arg % 4]);
    FZ_EXPECT("lvio_gpu_ctx_create", rv, COMMAND_ERRORS, LVIO_E_UNSUPPORTED);
    S.ctx_live[i] = rv == LVIO_OK;
}

static void op_submit(unsigned i)
{
    struct fz_tape *t = &S.f.h;
    uint8_t shape = fz_u8(t);
    size_t len = 4 * (1 + fz_u16(t) % 3072);
    size_t off = (shape & 1) ? 4 * (fz_u8(t) % 200) : 0;
    if (shape & 2)
        len += 2; /* not dwords */
    uint8_t *b = harness_buf(off + len);
    if (!b || !S.ctx_live[i])
        return;
    uint64_t fence = 0;
    fz_call(&S.f, "lvio_gpu_ctx_submit");
    int rv = lvio_gpu_ctx_submit(&S.ctx[i], b + off, len, &fence);
    FZ_EXPECT("lvio_gpu_ctx_submit", rv, LVIO_OK, LVIO_E_INVAL, LVIO_E_UNSUPPORTED,
              LVIO_E_AGAIN, LVIO_E_BROKEN, LVIO_E_NOMEM, LVIO_E_NEEDS_RESET);
    if (rv == LVIO_OK) {
        if (fence <= S.last_fence || fence != S.ctx[i].last_fence)
            fz_die("submit gave fence %llu after %llu", (unsigned long long)fence,
                   (unsigned long long)S.last_fence);
        S.last_fence = fence;
        if (S.nsubs < MAX_OPS)
            S.subs[S.nsubs++] = (struct sub){&S.ctx[i], S.ctx[i].id, fence, b + off, len};
    } else if (rv != LVIO_E_BROKEN) {
        check_busy(b + off, len); /* nothing left shared (or kept for a dead device) */
    }
}

/* A submit's buffer is the harness's again once its fence is done. */
static void check_fences(void)
{
    for (unsigned k = 0; k < S.nsubs; k++) {
        struct sub *s = &S.subs[k];
        /* A context destroyed lets its submits go on without it. */
        if (s->ctx && (!s->ctx->gpu || s->ctx->id != s->ctx_id))
            s->ctx = NULL;
        if (!s->ctx || !lvio_gpu_fence_done(s->ctx, s->fence))
            continue;
        if (!S.dev.dead && !S.dev.kept_shares && fz_shared_bytes(&S.f, s->buf, s->len))
            fz_die("fence %llu is done and its buffer is still shared",
                   (unsigned long long)s->fence);
        check_busy(s->buf, s->len);
        s->ctx = NULL;
    }
}

static void op_wait(unsigned i)
{
    uint8_t b = fz_u8(&S.f.h);
    if (!S.ctx_live[i])
        return;
    uint64_t fence = b & 0x80 ? S.ctx[i].last_fence + (b & 1) : S.ctx[i].last_fence;
    fz_call(&S.f, "lvio_gpu_fence_wait");
    int rv = lvio_gpu_fence_wait(&S.ctx[i], fence, S.gpu.timeout_ns);
    FZ_EXPECT("lvio_gpu_fence_wait", rv, LVIO_OK, LVIO_E_TIMEOUT, LVIO_E_REFUSED,
              LVIO_E_DEVICE, LVIO_E_INVAL, LVIO_E_NEEDS_RESET, LVIO_E_BROKEN);
    fz_check_waited(&S.f, rv, S.gpu.timeout_ns);
    if (rv == LVIO_OK && !lvio_gpu_fence_done(&S.ctx[i], fence))
        fz_die("fence %llu waited for, not done", (unsigned long long)fence);
}

static const struct lvio_gpu_res3d_info TEX = {
    .target = 2, .format = 2, .bind = 2, .width = 16, .height = 16, .depth = 1, .array_size = 1};

static void op_res(unsigned i)
{
    struct fz_tape *t = &S.f.h;
    uint8_t what = fz_u8(t);
    struct lvio_gpu_res3d *r = &S.res[i];
    struct lvio_gpu_ctx *ctx = S.ctx_live[what % NCTX] ? &S.ctx[what % NCTX] : NULL;
    int rv;
    if (!S.res_live[i]) {
        size_t size = 16 * 16 * 4 + (what & 0x40 ? 4096 : 0);
        uint8_t *b = harness_buf(size);
        if (!b)
            return;
        fz_call(&S.f, "lvio_gpu_res3d_create");
        rv = lvio_gpu_res3d_create(&S.gpu, r, &TEX, b, size, NULL, 0);
        FZ_EXPECT("lvio_gpu_res3d_create", rv, CREATE_ERRORS);
        S.res_live[i] = rv == LVIO_OK;
        return;
    }
    struct lvio_gpu_transfer x = {.box = {what & 3, 0, 0, 4 + (what & 12), 4, 1},
                                  .stride = 64, .offset = what & 0x20 ? 64 : 0};
    fz_call(&S.f, "a 3D resource call");
    switch ((what >> 4) & 3) {
    case 0: rv = lvio_gpu_transfer_to_host_3d(ctx, r, &x); break;
    case 1: rv = lvio_gpu_transfer_from_host_3d(ctx, r, &x); break;
    case 2:
        rv = what & 0x80 ? lvio_gpu_res3d_show(&S.gpu, 0, r) : lvio_gpu_res3d_flush(r, NULL);
        break;
    default:
        rv = ctx ? ((what & 0x80) ? lvio_gpu_ctx_detach(ctx, r->fb.resource_id)
                                  : lvio_gpu_ctx_attach(ctx, r->fb.resource_id))
                 : lvio_gpu_res3d_destroy(r);
        if (!ctx)
            S.res_live[i] = false;
        break;
    }
    FZ_EXPECT("a 3D resource call", rv, COMMAND_ERRORS);
    fz_check_waited(&S.f, rv, S.gpu.timeout_ns);
}

static void op_blob(unsigned i)
{
    struct fz_tape *t = &S.f.h;
    uint8_t what = fz_u8(t);
    struct lvio_gpu_blob *b = &S.blob[i];
    int rv;
    if (!S.blob_live[i]) {
        struct lvio_gpu_blob_info info = {.mem = 1 + what % 3, .flags = (what >> 2) & 7,
                                          .blob_id = what, .size = 4096u << ((what >> 5) & 1)};
        struct lvio_gpu_ctx *ctx = S.ctx_live[i] ? &S.ctx[i] : NULL;
        uint8_t *mem = info.mem == LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D ? NULL : harness_buf(8192);
        if (info.mem != LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D && !mem)
            return;
        fz_call(&S.f, "lvio_gpu_blob_create");
        rv = lvio_gpu_blob_create(&S.gpu, b, ctx, &info, mem, NULL, 0);
        FZ_EXPECT("lvio_gpu_blob_create", rv, CREATE_ERRORS);
        S.blob_live[i] = rv == LVIO_OK;
        return;
    }
    uint64_t addr;
    uint32_t mi;
    fz_call(&S.f, "a blob call");
    switch ((what >> 6) & 3) {
    case 0:
        rv = lvio_gpu_blob_map(b, (what & 7) * 4096u + (what & 8 ? 1 : 0), &addr, &mi);
        if (rv == LVIO_OK && (addr != S.gpu.shm_addr + (what & 7) * 4096u ||
                              mi > LVIO_VIRTIO_GPU_MAP_CACHE_WC))
            fz_die("blob mapped at 0x%llx, map_info %u", (unsigned long long)addr, mi);
        break;
    case 1: rv = lvio_gpu_blob_unmap(b); break;
    case 2: {
        uint8_t uuid[16];
        rv = lvio_gpu_resource_uuid(&S.gpu, b->fb.resource_id, uuid);
        break;
    }
    default:
        rv = lvio_gpu_blob_destroy(b);
        S.blob_live[i] = false;
        break;
    }
    FZ_EXPECT("a blob call", rv, COMMAND_ERRORS, LVIO_E_UNSUPPORTED);
}

static void op_capset(void)
{
    struct fz_tape *t = &S.f.h;
    uint8_t k = fz_u8(t);
    size_t room = fz_u16(t) % 5000;
    uint8_t buf[5000];
    size_t len = 0;
    const struct lvio_gpu_capset *c = S.gpu.num_capsets ? &S.gpu.capsets[k % S.gpu.num_capsets]
                                                        : NULL;
    uint32_t id = c ? c->id : k, version = c ? c->max_version : 0;
    fz_call(&S.f, "lvio_gpu_get_capset");
    int rv = lvio_gpu_get_capset(&S.gpu, id, version, buf, room, &len);
    FZ_EXPECT("lvio_gpu_get_capset", rv, COMMAND_ERRORS, LVIO_E_NOSPC, LVIO_E_UNSUPPORTED);
    fz_check_waited(&S.f, rv, S.gpu.timeout_ns);
    /* A device may report an id twice: the driver reads the first's. */
    const struct lvio_gpu_capset *used = lvio_gpu_capset_find(&S.gpu, id);
    if (rv == LVIO_OK && (len == 0 || len > room || !used || len > used->max_size))
        fz_die("capset %u of %zu bytes in room for %zu (max_size %u)", id, len, room,
               used ? used->max_size : 0);
}

static void op_reset(void)
{
    fz_call(&S.f, "lvio_gpu_reset");
    int rv = lvio_gpu_reset(&S.gpu);
    if (rv > 0 || rv < LVIO_E_DEAD)
        fz_die("lvio_gpu_reset returned %d", rv);
    fz_check_waited(&S.f, rv, LVIO_GPU_TIMEOUT_NS);
    for (unsigned k = 0; k < S.nsubs; k++)
        if (S.subs[k].ctx && !S.dev.dead && !S.dev.kept_shares &&
            fz_shared_bytes(&S.f, S.subs[k].buf, S.subs[k].len))
            fz_die("a reset left a submit's buffer shared");
    S.nsubs = 0;
    S.last_fence = 0;
    if (rv == LVIO_OK)
        S.gpu.timeout_ns = 8 * FZ_TICK_NS;
}

static void run_ops(void)
{
    struct fz_tape *t = &S.f.h;
    for (unsigned n = 0; n < MAX_OPS && !fz_empty(t); n++) {
        uint8_t op = fz_u8(t);
        unsigned i = (op >> 4) % NCTX;
        int rv = 0;
        fz_call(&S.f, "a gpu call");
        switch (op & 15) {
        case 0: op_ctx(i, fz_u8(t)); break;
        case 1: case 2: op_submit(i); break;
        case 3: op_wait(i); break;
        case 4: check_fences(); break;
        case 5: op_res(i % NRES); break;
        case 6: op_blob(i % NBLOB); break;
        case 7: op_capset(); break;
        case 8:
            rv = lvio_gpu_poll(&S.gpu, fz_u8(t) & 3);
            FZ_EXPECT("lvio_gpu_poll", rv, LVIO_OK, 1, LVIO_E_INVAL, LVIO_E_BROKEN,
                      LVIO_E_CONFIG, LVIO_E_AGAIN, LVIO_E_REFUSED, LVIO_E_DEVICE,
                      LVIO_E_TIMEOUT, LVIO_E_NEEDS_RESET);
            break;
        case 9: op_reset(); break;
        default: {
            uint8_t b = fz_u8(t);
            S.gpu.timeout_ns = fz_gpu_timeout(b);
            break;
        }
        }
        fz_check_errmsg(&S.dev);
    }
}

static void destroy_all(void)
{
    for (unsigned i = 0; i < NBLOB; i++)
        if (S.blob_live[i])
            lvio_gpu_blob_destroy(&S.blob[i]);
    for (unsigned i = 0; i < NRES; i++)
        if (S.res_live[i])
            lvio_gpu_res3d_destroy(&S.res[i]);
    for (unsigned i = 0; i < NCTX; i++)
        if (S.ctx_live[i])
            lvio_gpu_ctx_destroy(&S.ctx[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_GPU);
    f->features = ((1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_GPU_F_EDID) |
                   (1ull << LVIO_VIRTIO_GPU_F_VIRGL) | (1ull << LVIO_VIRTIO_GPU_F_CONTEXT_INIT) |
                   (1ull << LVIO_VIRTIO_GPU_F_RESOURCE_UUID) |
                   (1ull << LVIO_VIRTIO_GPU_F_RESOURCE_BLOB)) ^
                  fz_u64(&f->h);
    f->q[0].num_max = 64;
    f->q[1].num_max = 16;
    fz_config_put32(f, 8, 1);                      /* num_scanouts */
    fz_config_put32(f, 12, 2u ^ fz_u8(&f->h));     /* num_capsets */
    uint32_t want = fz_u8(&f->h);
    f->shm_id = LVIO_VIRTIO_GPU_SHM_ID_HOST_VISIBLE;
    f->shm_base = 0x8000000000ull;
    f->shm_len = (want & 0x20) ? 0 : (want & 0x40) ? UINT64_MAX - 0x1000 : 64u << 20;
    if (!fz_gpu_probe(f, &S.dev, gpu_service, fz_gpu_config_write, gpu_on_reset))
        goto out;
    fz_call(f, "lvio_gpu_init_with");
    int rv = lvio_gpu_init_with(&S.gpu, &S.dev, want & 0x1f);
    if (rv > 0 || rv < LVIO_E_DEAD)
        fz_die("lvio_gpu_init_with returned %d", rv);
    if ((want & 0x10) && rv != LVIO_E_INVAL)
        fz_die("lvio_gpu_init_with(want 0x%x) returned %d", want & 0x1f, rv);
    fz_check_waited(f, rv, LVIO_GPU_TIMEOUT_NS);
    fz_check_errmsg(&S.dev);
    if (rv != LVIO_OK)
        goto out;
    if (S.gpu.num_capsets > LVIO_GPU_MAX_CAPSETS)
        fz_die("%u capsets kept", S.gpu.num_capsets);
    S.gpu.timeout_ns = 8 * FZ_TICK_NS;
    run_ops();
    check_fences();
    destroy_all();
    fz_call(f, "lvio_gpu_teardown");
    lvio_gpu_teardown(&S.gpu);
out:
    fz_gpu_finish(f, &S.dev, S.bufs, S.nbufs);
    return 0;
}
