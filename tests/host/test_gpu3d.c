/*
 * The virtio-gpu 3D driver (lvio/gpu3d.h) against the simulated GPU
 * (sim_gpu.h, sim_gpu3d.c): negotiation, capsets, contexts, 3D resources
 * and transfers, submits split across pages, fences answered in order,
 * out of order or never, blob resources and UUIDs, the exact bytes of
 * every command, and the 2D path left as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/gpu3d.h"
#include "sim_gpu.h"
#include "sim_pci.h"

#define CMD(x) LVIO_VIRTIO_GPU_CMD_##x
#define RESP(x) LVIO_VIRTIO_GPU_RESP_##x
#define BIT(x) (1ull << LVIO_VIRTIO_GPU_F_##x)
#define ALL3D (BIT(VIRGL) | BIT(CONTEXT_INIT) | BIT(RESOURCE_UUID) | BIT(RESOURCE_BLOB))
#define BGRX LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM
#define SHORT_TIMEOUT 1000000ull /* 1 ms of the fake clock */
#define FILL 0x4c4c4946u         /* sim_gpu3d.c's "render" command */

static struct sim_gpu G;
static struct lvio_device D;
static struct lvio_gpu GPU;

/* ---- helpers ------------------------------------------------------------------ */

/* A simulated GPU (MMIO v2) offering `offer` 3D bits, probed. */
static void start(uint64_t offer)
{
    sim_gpu_fini(&G);
    sim_free_dma(&G.sim);
    sim_pages_release();
    sim_gpu_init(&G, 2, 1);
    sim_gpu_offer_3d(&G, offer);
    sim_probe(&G.sim, &D);
}

static void init_with_ok(uint32_t want)
{
    int err = lvio_gpu_init_with(&GPU, &D, want);
    if (err)
        fail_msg("lvio_gpu_init_with: %s: %s", lvio_gpu_errname(&GPU, err),
                 lvio_device_error(&D));
}

/* A GPU with everything offered and asked for. */
static void up3d(void)
{
    start(ALL3D);
    init_with_ok(LVIO_GPU_WANT_ALL);
    assert_true(GPU.has_virgl);
}

static void down(void)
{
    sim_gpu_down(&G, &GPU);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void ctx_ok(struct lvio_gpu_ctx *ctx, const char *name)
{
    int err = lvio_gpu_ctx_create(&GPU, ctx, 0, name);
    if (err)
        fail_msg("ctx_create: %s: %s", lvio_gpu_errname(&GPU, err), lvio_device_error(&D));
}

static const struct lvio_gpu_res3d_info TEX = {
    .target = 2, .format = BGRX, .bind = 2, .width = 64, .height = 32, .depth = 1,
    .array_size = 1};

static void res_ok(struct lvio_gpu_res3d *res, const struct lvio_gpu_res3d_info *info,
                   void *backing, size_t size)
{
    int err = lvio_gpu_res3d_create(&GPU, res, info, backing, size, NULL, 0);
    if (err)
        fail_msg("res3d_create: %s: %s", lvio_gpu_errname(&GPU, err), lvio_device_error(&D));
}

static uint64_t submit_ok(struct lvio_gpu_ctx *ctx, const void *cmds, size_t bytes)
{
    uint64_t f = 0;
    int err = lvio_gpu_ctx_submit(ctx, cmds, bytes, &f);
    if (err)
        fail_msg("submit: %s: %s", lvio_gpu_errname(&GPU, err), lvio_device_error(&D));
    return f;
}

/* ---- negotiation ---------------------------------------------------------------- */

static void test_negotiation_matrix(void **state)
{
    (void)state;
    static const uint32_t wants[] = {0, LVIO_GPU_WANT_VIRGL, LVIO_GPU_WANT_RESOURCE_BLOB,
                                     LVIO_GPU_WANT_ALL};
    for (int offered = 0; offered < 2; offered++) {
        for (size_t w = 0; w < sizeof wants / sizeof wants[0]; w++) {
            start(offered ? ALL3D : 0);
            init_with_ok(wants[w]);
            bool virgl = offered && (wants[w] & LVIO_GPU_WANT_VIRGL);
            bool blob = offered && (wants[w] & LVIO_GPU_WANT_RESOURCE_BLOB);
            bool init = offered && (wants[w] & LVIO_GPU_WANT_CONTEXT_INIT);
            assert_int_equal(GPU.has_virgl, virgl);
            assert_int_equal(GPU.has_resource_blob, blob);
            assert_int_equal(GPU.has_context_init, init);
            assert_int_equal(GPU.has_resource_uuid, init); /* asked together here */
            assert_int_equal(!!(G.sim.driver_features & BIT(VIRGL)), virgl);
            assert_int_equal(!!(G.sim.driver_features & BIT(RESOURCE_BLOB)), blob);
            assert_int_equal(GPU.num_capsets, virgl ? 2 : 0);
            assert_int_equal(sim_gpu_count(&G, CMD(GET_CAPSET_INFO)), virgl ? 2 : 0);
            assert_int_equal(GPU.shm_len, blob ? 64u << 20 : 0);
            assert_int_equal(GPU.want, wants[w]);
            down();
        }
    }
    start(ALL3D);
    assert_int_equal(lvio_gpu_init_with(&GPU, &D, 1u << 7), LVIO_E_INVAL);
    sim_gpu_fini(&G);
}

static void test_init_is_init_with_zero(void **state)
{
    (void)state;
    start(ALL3D);
    assert_int_equal(lvio_gpu_init(&GPU, &D), LVIO_OK);
    assert_false(GPU.has_virgl);
    assert_int_equal(G.sim.driver_features & ALL3D, 0);
    assert_int_equal(sim_gpu_count(&G, CMD(GET_CAPSET_INFO)), 0);
    struct lvio_gpu_ctx ctx;
    assert_int_equal(lvio_gpu_ctx_create(&GPU, &ctx, 0, "x"), LVIO_E_UNSUPPORTED);
    assert_non_null(strstr(lvio_device_error(&D), "not asked for"));
    down();
}

static void test_reset_keeps_wants(void **state)
{
    (void)state;
    up3d();
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "before");
    assert_int_equal(lvio_gpu_reset(&GPU), LVIO_OK);
    assert_true(GPU.has_virgl);
    assert_true(GPU.has_resource_blob);
    assert_int_equal(GPU.num_capsets, 2);
    assert_false(lvio_gpu_ctx_attach(&ctx, 1) == LVIO_OK); /* stale */
    assert_int_equal(lvio_gpu_ctx_destroy(&ctx), LVIO_OK);  /* only forgotten */
    assert_int_equal(sim_gpu_count(&G, CMD(CTX_DESTROY)), 0);
    down();
}

/* ---- capsets -------------------------------------------------------------------- */

static void test_capset_info_every_index(void **state)
{
    (void)state;
    start(BIT(VIRGL));
    sim_gpu_set_capset(&G, 2, LVIO_VIRTIO_GPU_CAPSET_VENUS, 0, 160);
    init_with_ok(LVIO_GPU_WANT_VIRGL);
    assert_int_equal(GPU.num_capsets, 3);
    static const uint32_t ids[] = {1, 2, 4}, vers[] = {1, 2, 0}, sizes[] = {308, 1024, 160};
    for (unsigned i = 0; i < 3; i++) {
        const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(GET_CAPSET_INFO), i);
        assert_non_null(c);
        assert_int_equal(c->req_len, 32);
        assert_int_equal(get32(c->req + 24), i); /* capset_index */
        assert_int_equal(GPU.capsets[i].id, ids[i]);
        assert_int_equal(GPU.capsets[i].max_version, vers[i]);
        assert_int_equal(GPU.capsets[i].max_size, sizes[i]);
    }
    assert_ptr_equal(lvio_gpu_capset_find(&GPU, 4), &GPU.capsets[2]);
    assert_null(lvio_gpu_capset_find(&GPU, 3));
    down();

    /* An index the device refuses fails init, by name. */
    start(BIT(VIRGL));
    G.fault_cmd = CMD(GET_CAPSET_INFO);
    G.fault_kind = SIM_GPU_FAULT_ERROR;
    G.fault_value = RESP(ERR_INVALID_PARAMETER);
    G.fault_times = 1;
    int err = lvio_gpu_init_with(&GPU, &D, LVIO_GPU_WANT_VIRGL);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_PARAMETER");
    assert_non_null(strstr(lvio_device_error(&D), "capset 0 of 2"));
    assert_int_equal(GPU.num_capsets, 0);
    assert_int_equal(G.sim.live_pages, 0);
    sim_gpu_fini(&G);
}

static void test_get_capset(void **state)
{
    (void)state;
    up3d();
    uint8_t buf[2048];
    size_t len = 0;
    assert_int_equal(lvio_gpu_get_capset(&GPU, 2, 2, buf, sizeof buf, &len), LVIO_OK);
    assert_int_equal(len, 1024);
    assert_memory_equal(buf, G.capsets[1].data, 1024);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(GET_CAPSET), 0);
    assert_int_equal(get32(c->req + 24), 2);
    assert_int_equal(get32(c->req + 28), 2);
    assert_int_equal(c->writable, 24 + 1024);

    /* A shorter capset than max_size is fine. */
    G.capsets[0].answer_len = 100;
    assert_int_equal(lvio_gpu_get_capset(&GPU, 1, 1, buf, sizeof buf, &len), LVIO_OK);
    assert_int_equal(len, 100);
    /* Larger than the caller's room: named, with the size. */
    G.capsets[0].answer_len = -1;
    assert_int_equal(lvio_gpu_get_capset(&GPU, 1, 1, buf, 200, &len), LVIO_E_NOSPC);
    assert_non_null(strstr(lvio_device_error(&D), "308 bytes"));
    /* Larger than the device's own max_size (it says it wrote more than
     * the max_size bytes offered): named, nothing copied. */
    G.sim.len_override = 24 + 400;
    memset(buf, 0, sizeof buf);
    assert_int_equal(lvio_gpu_get_capset(&GPU, 1, 1, buf, sizeof buf, &len), LVIO_E_DEVICE);
    assert_non_null(strstr(lvio_device_error(&D), "at most 308"));
    assert_int_equal(buf[0], 0);
    G.sim.len_override = -1;
    G.capsets[0].answer_len = 0;
    assert_int_equal(lvio_gpu_get_capset(&GPU, 1, 1, buf, sizeof buf, &len), LVIO_E_DEVICE);
    assert_non_null(strstr(lvio_device_error(&D), "empty"));
    /* Wrong type, short response. */
    G.capsets[0].answer_len = -1;
    G.capsets[0].answer_type = RESP(OK_NODATA);
    assert_int_equal(lvio_gpu_get_capset(&GPU, 1, 1, buf, sizeof buf, &len), LVIO_E_DEVICE);
    assert_non_null(strstr(lvio_device_error(&D), "GET_CAPSET"));
    G.capsets[0].answer_type = 0;
    G.fault_cmd = CMD(GET_CAPSET);
    G.fault_kind = SIM_GPU_FAULT_SHORT;
    G.fault_value = 10;
    G.fault_times = 1;
    assert_int_equal(lvio_gpu_get_capset(&GPU, 1, 1, buf, sizeof buf, &len), LVIO_E_DEVICE);
    /* Refused, by name. */
    G.fault_kind = SIM_GPU_FAULT_ERROR;
    G.fault_value = RESP(ERR_INVALID_PARAMETER);
    G.fault_times = 1;
    int err = lvio_gpu_get_capset(&GPU, 1, 1, buf, sizeof buf, &len);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_PARAMETER");
    assert_int_equal(GPU.last_cmd, CMD(GET_CAPSET));
    /* The caller's mistakes. */
    assert_int_equal(lvio_gpu_get_capset(&GPU, 3, 1, buf, sizeof buf, &len), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_get_capset(&GPU, 2, 3, buf, sizeof buf, &len), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_get_capset(&GPU, 2, 2, NULL, sizeof buf, &len), LVIO_E_INVAL);
    GPU.capsets[1].max_size = 5000;
    assert_int_equal(lvio_gpu_get_capset(&GPU, 2, 2, buf, sizeof buf, &len),
                     LVIO_E_UNSUPPORTED);
    down();
}

/* ---- contexts ------------------------------------------------------------------- */

static void test_contexts(void **state)
{
    (void)state;
    up3d();
    struct lvio_gpu_ctx a, b;
    ctx_ok(&a, "first");
    ctx_ok(&b, NULL);
    assert_int_not_equal(a.id, 0);
    assert_int_not_equal(b.id, 0);
    assert_int_not_equal(a.id, b.id);
    assert_int_equal(sim_gpu_live_contexts(&G), 2);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(CTX_CREATE), 0);
    assert_int_equal(c->req_len, 96);
    assert_int_equal(get32(c->req + 16), a.id); /* hdr.ctx_id */
    assert_int_equal(get32(c->req + 24), 5);    /* nlen */
    assert_int_equal(get32(c->req + 28), 0);    /* context_init */
    assert_memory_equal(c->req + 32, "first", 5);
    assert_int_equal(c->req[37], 0);
    assert_string_equal(sim_gpu_context(&G, a.id)->name, "first");
    assert_int_equal(sim_gpu_context(&G, b.id)->nlen, 0);

    uint8_t *px = sim_pages(2);
    struct lvio_gpu_res3d res;
    res_ok(&res, &TEX, px, 64 * 32 * 4);
    assert_int_equal(lvio_gpu_ctx_attach(&a, res.fb.resource_id), LVIO_OK);
    assert_int_equal(lvio_gpu_ctx_attach(&b, res.fb.resource_id), LVIO_OK);
    c = sim_gpu_find(&G, CMD(CTX_ATTACH_RESOURCE), 0);
    assert_int_equal(c->req_len, 32);
    assert_int_equal(get32(c->req + 16), a.id);
    assert_int_equal(get32(c->req + 24), res.fb.resource_id);
    assert_int_equal(sim_gpu_context(&G, a.id)->nattached, 1);
    assert_int_equal(lvio_gpu_ctx_detach(&a, res.fb.resource_id), LVIO_OK);
    assert_int_equal(sim_gpu_context(&G, a.id)->nattached, 0);
    /* Detaching again: the device's own error, by name. */
    int err = lvio_gpu_ctx_detach(&a, res.fb.resource_id);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_RESOURCE_ID");
    assert_string_equal(lvio_gpu_cmd_name(GPU.last_cmd), "CTX_DETACH_RESOURCE");

    /* A context the device no longer knows: ERR_INVALID_CONTEXT_ID. */
    memset(sim_gpu_context(&G, b.id), 0, sizeof(struct sim_gpu_ctx));
    err = lvio_gpu_ctx_attach(&b, res.fb.resource_id);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_CONTEXT_ID");
    assert_non_null(strstr(lvio_device_error(&D), "CTX_ATTACH_RESOURCE"));
    assert_non_null(strstr(lvio_device_error(&D), "ERR_INVALID_CONTEXT_ID"));
    assert_int_equal(lvio_gpu_ctx_destroy(&b), LVIO_E_REFUSED);
    assert_null(b.gpu);

    assert_int_equal(lvio_gpu_res3d_destroy(&res), LVIO_OK);
    assert_int_equal(lvio_gpu_ctx_destroy(&a), LVIO_OK);
    c = sim_gpu_find(&G, CMD(CTX_DESTROY), 1);
    assert_int_equal(c->req_len, 24);
    assert_int_equal(get32(c->req + 16), a.id);
    assert_int_equal(sim_gpu_live_contexts(&G), 0);
    assert_int_equal(lvio_gpu_ctx_destroy(&a), LVIO_E_INVAL);

    /* Ids are never reused. */
    uint32_t seen = a.id > b.id ? a.id : b.id;
    ctx_ok(&a, "again");
    assert_true(a.id > seen);
    lvio_gpu_ctx_destroy(&a);

    /* The caller's mistakes. */
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(lvio_gpu_ctx_create(&GPU, &a, 0, longname), LVIO_E_INVAL);
    longname[64] = 0; /* exactly 64: fits */
    ctx_ok(&a, longname);
    assert_int_equal(sim_gpu_context(&G, a.id)->nlen, 64);
    lvio_gpu_ctx_destroy(&a);
    assert_int_equal(lvio_gpu_ctx_create(&GPU, NULL, 0, "x"), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_ctx_attach(&a, 1), LVIO_E_INVAL); /* destroyed */
    down();
}

static void test_context_init(void **state)
{
    (void)state;
    up3d();
    struct lvio_gpu_ctx ctx;
    assert_int_equal(lvio_gpu_ctx_create(&GPU, &ctx, LVIO_VIRTIO_GPU_CAPSET_VIRGL2, "v2"),
                     LVIO_OK);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(CTX_CREATE), 0);
    assert_int_equal(get32(c->req + 28), LVIO_VIRTIO_GPU_CAPSET_VIRGL2);
    assert_int_equal(sim_gpu_context(&G, ctx.id)->context_init, 2);
    assert_int_equal(ctx.capset_id, 2);
    lvio_gpu_ctx_destroy(&ctx);
    assert_int_equal(lvio_gpu_ctx_create(&GPU, &ctx, 9, "x"), LVIO_E_INVAL);
    down();

    start(BIT(VIRGL));
    init_with_ok(LVIO_GPU_WANT_ALL);
    assert_false(GPU.has_context_init);
    assert_int_equal(lvio_gpu_ctx_create(&GPU, &ctx, 1, "x"), LVIO_E_INVAL);
    assert_non_null(strstr(lvio_device_error(&D), "CONTEXT_INIT"));
    down();
}

/* ---- 3D resources ----------------------------------------------------------------- */

static void test_res3d_create_bytes(void **state)
{
    (void)state;
    up3d();
    uint8_t *px = sim_pages(4);
    struct lvio_gpu_res3d_info info = {.target = 3, .format = 67, .bind = 0x40002,
                                       .width = 16, .height = 8, .depth = 4,
                                       .array_size = 2, .last_level = 3, .nr_samples = 1,
                                       .flags = LVIO_VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP};
    struct lvio_gpu_res3d res;
    res_ok(&res, &info, px, 16 * 8 * 8 * 4);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(RESOURCE_CREATE_3D), 0);
    assert_int_equal(c->req_len, 72);
    static const uint32_t want[] = {3, 67, 0x40002, 16, 8, 4, 2, 3, 1, 1, 0};
    assert_int_equal(get32(c->req + 24), res.fb.resource_id);
    for (unsigned i = 0; i < 11; i++)
        assert_int_equal(get32(c->req + 28 + 4 * i), want[i]);
    /* Its backing attached as a 2D one's is, in the same batch. */
    const struct sim_gpu_cmd *a = sim_gpu_find(&G, CMD(RESOURCE_ATTACH_BACKING), 0);
    assert_int_equal(a->notifies, c->notifies);
    assert_int_equal(get32(a->req + 24), res.fb.resource_id);
    struct sim_gpu_resource *r = sim_gpu_resource(&G, res.fb.resource_id);
    assert_true(r->is3d);
    assert_int_equal(r->nr_entries, 1);
    assert_int_equal(r->depth, 4);
    /* Shared both ways: the device writes it on TRANSFER_FROM_HOST_3D. */
    assert_int_equal(sim_share_of(&G.sim, px)->dir, LVIO_DMA_BIDIRECTIONAL);

    /* Refused: named, nothing left behind. */
    G.fault_cmd = CMD(RESOURCE_CREATE_3D);
    G.fault_kind = SIM_GPU_FAULT_ERROR;
    G.fault_value = RESP(ERR_OUT_OF_MEMORY);
    G.fault_times = 1;
    struct lvio_gpu_res3d res2;
    int err = lvio_gpu_res3d_create(&GPU, &res2, &TEX, px + 2 * LVIO_PAGE_SIZE, 8192, NULL, 0);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_OUT_OF_MEMORY");
    assert_string_equal(lvio_gpu_cmd_name(GPU.last_cmd), "RESOURCE_CREATE_3D");
    assert_null(sim_share_of(&G.sim, px + 2 * LVIO_PAGE_SIZE));
    /* Bad arguments. */
    struct lvio_gpu_res3d_info bad = TEX;
    bad.depth = 0;
    assert_int_equal(lvio_gpu_res3d_create(&GPU, &res2, &bad, px, 8192, NULL, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_res3d_create(&GPU, &res2, &TEX, px + 1, 8192, NULL, 0),
                     LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_res3d_destroy(&res), LVIO_OK);
    assert_int_equal(sim_gpu_live_resources(&G), 0);
    down();
}

static void test_transfers_both_ways(void **state)
{
    (void)state;
    for (unsigned scatter = 0; scatter < 2; scatter++) {
        up3d();
        G.sim.share_run = scatter; /* 1: every page its own device address */
        static struct lvio_gpu_run runs[16];
        uint8_t *px = sim_pages(3);
        size_t size = 64 * 32 * 4;
        for (size_t i = 0; i < size; i++)
            px[i] = (uint8_t)(i * 3 + 1);
        struct lvio_gpu_res3d res;
        assert_int_equal(lvio_gpu_res3d_create(&GPU, &res, &TEX, px, size, runs, 16), LVIO_OK);
        struct lvio_gpu_ctx ctx;
        ctx_ok(&ctx, "xfer");
        assert_int_equal(lvio_gpu_ctx_attach(&ctx, res.fb.resource_id), LVIO_OK);

        /* To the host: the whole texture. */
        struct lvio_gpu_transfer t = {.box = {0, 0, 0, 64, 32, 1}, .stride = 64 * 4};
        assert_int_equal(lvio_gpu_transfer_to_host_3d(&ctx, &res, &t), LVIO_OK);
        struct sim_gpu_resource *r = sim_gpu_resource(&G, res.fb.resource_id);
        assert_memory_equal(r->host, px, size);
        const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(TRANSFER_TO_HOST_3D), 0);
        assert_int_equal(c->req_len, 72);
        assert_int_equal(get32(c->req + 16), ctx.id);
        assert_int_equal(get32(c->req + 36), 64);
        assert_int_equal(get32(c->req + 40), 32);
        assert_int_equal(get32(c->req + 44), 1);
        assert_int_equal(get32(c->req + 56), res.fb.resource_id);
        assert_int_equal(get32(c->req + 64), 256);

        /* From the host: a box of it, into the backing at an offset. */
        for (size_t i = 0; i < size; i++)
            r->host[i] = sim_gpu_host_byte(99, i);
        memset(px, 0, size);
        struct lvio_gpu_transfer f = {.box = {8, 4, 0, 16, 2, 1}, .level = 0, .stride = 256,
                                      .offset = 4 * 256 + 8 * 4};
        assert_int_equal(lvio_gpu_transfer_from_host_3d(NULL, &res, &f), LVIO_OK);
        c = sim_gpu_find(&G, CMD(TRANSFER_FROM_HOST_3D), 0);
        assert_int_equal(get32(c->req + 16), 0); /* no context */
        assert_int_equal(get32(c->req + 24), 8);
        assert_int_equal(get32(c->req + 28), 4);
        assert_int_equal(get64(c->req + 48), 4 * 256 + 8 * 4);
        for (size_t y = 0; y < 32; y++)
            for (size_t x = 0; x < 256; x++) {
                size_t o = y * 256 + x;
                bool in = y >= 4 && y < 6 && x >= 32 && x < 96;
                if (px[o] != (in ? sim_gpu_host_byte(99, o) : 0))
                    fail_msg("scatter %u: byte %zu is 0x%02x", scatter, o, px[o]);
            }
        /* The caller's mistakes; the device's. */
        struct lvio_gpu_transfer e = {.box = {0, 0, 0, 0, 1, 1}};
        assert_int_equal(lvio_gpu_transfer_to_host_3d(&ctx, &res, &e), LVIO_E_INVAL);
        e = (struct lvio_gpu_transfer){.box = {0, 0, 0, 1, 1, 1}, .offset = size};
        assert_int_equal(lvio_gpu_transfer_to_host_3d(&ctx, &res, &e), LVIO_E_INVAL);
        e = (struct lvio_gpu_transfer){.box = {60, 0, 0, 8, 1, 1}};
        int err = lvio_gpu_transfer_to_host_3d(&ctx, &res, &e);
        assert_int_equal(err, LVIO_E_REFUSED);
        assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_PARAMETER");
        assert_string_equal(lvio_gpu_cmd_name(GPU.last_cmd), "TRANSFER_TO_HOST_3D");
        memset(sim_gpu_context(&G, ctx.id), 0, sizeof(struct sim_gpu_ctx));
        err = lvio_gpu_transfer_to_host_3d(&ctx, &res, &t);
        assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_CONTEXT_ID");
        lvio_gpu_ctx_destroy(&ctx);
        assert_int_equal(lvio_gpu_res3d_destroy(&res), LVIO_OK);
        down();
    }
}

static void test_res3d_scanout(void **state)
{
    (void)state;
    up3d();
    uint8_t *px = sim_pages(2);
    struct lvio_gpu_res3d res;
    res_ok(&res, &TEX, px, 64 * 32 * 4);
    sim_gpu_clear_log(&G);
    assert_int_equal(lvio_gpu_res3d_show(&GPU, 0, &res), LVIO_OK);
    assert_int_equal(sim_gpu_count(&G, 0), 2); /* no transfer: the renderer's pixels */
    const struct sim_gpu_cmd *s = sim_gpu_find(&G, CMD(SET_SCANOUT), 0);
    const struct sim_gpu_cmd *f = sim_gpu_find(&G, CMD(RESOURCE_FLUSH), 0);
    assert_int_equal(s->notifies, f->notifies);
    assert_int_equal(get32(s->req + 32), 64);
    assert_int_equal(get32(s->req + 36), 32);
    assert_int_equal(get32(s->req + 44), res.fb.resource_id);
    assert_int_equal(G.scanouts[0].resource_id, res.fb.resource_id);
    assert_int_equal(G.scanouts[0].flushes, 1);
    struct lvio_gpu_rect r = {4, 4, 8, 8};
    assert_int_equal(lvio_gpu_res3d_flush(&res, &r), LVIO_OK);
    assert_int_equal(G.scanouts[0].flushes, 2);
    r.width = 100;
    assert_int_equal(lvio_gpu_res3d_flush(&res, &r), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_res3d_show(&GPU, 1, &res), LVIO_E_INVAL);
    /* Destroy takes it off the scanout first. */
    assert_int_equal(lvio_gpu_res3d_destroy(&res), LVIO_OK);
    assert_int_equal(G.scanouts[0].resource_id, 0);
    assert_int_equal(GPU.scanouts[0].resource_id, 0);
    down();
}

/* ---- submits and fences ------------------------------------------------------------- */

static void test_submit_split_across_pages(void **state)
{
    (void)state;
    up3d();
    G.sim.share_run = 1; /* no two pages contiguous for the device */
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "split");
    uint8_t *buf = sim_pages(4);
    uint8_t *cmds = buf + 100 * 4;   /* starts inside the first page */
    size_t bytes = 2 * LVIO_PAGE_SIZE + 400; /* touches four pages */
    for (size_t i = 0; i < bytes; i++)
        cmds[i] = (uint8_t)(i * 5 + 3);
    uint64_t f = submit_ok(&ctx, cmds, bytes);
    assert_int_equal(f, 1);
    assert_int_equal(ctx.last_fence, 1);
    assert_true(lvio_gpu_fence_done(&ctx, f)); /* answered at once (FENCE_NOW) */
    const struct sim_gpu_submit *s = sim_gpu_submit_log(&G, 0);
    assert_non_null(s);
    assert_int_equal(s->size, bytes);
    assert_int_equal(s->nbufs, 3); /* one buffer per page touched */
    assert_memory_equal(s->bytes, cmds, bytes);
    assert_int_equal(s->ctx_id, ctx.id);
    assert_int_equal(s->flags, LVIO_VIRTIO_GPU_FLAG_FENCE);
    assert_int_equal(s->fence, 1);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(SUBMIT_3D), 0);
    assert_int_equal(c->req_len, 32);
    assert_int_equal(get32(c->req + 24), bytes);
    assert_int_equal(get64(c->req + 8), 1);
    assert_false(lvio_gpu_memory_busy(&GPU, cmds, bytes));
    assert_int_equal(G.sim.live_shares, 0);

    /* Contiguous memory takes one buffer. */
    G.sim.share_run = 0;
    f = submit_ok(&ctx, cmds, bytes);
    assert_int_equal(f, 2);
    assert_int_equal(sim_gpu_submit_log(&G, 1)->nbufs, 1);
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT), LVIO_OK);
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

static void test_submit_is_non_blocking(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "nb");
    uint32_t *cmds = (uint32_t *)sim_pages(1);
    cmds[0] = 0x12345678;
    uint64_t f = submit_ok(&ctx, cmds, 4);
    assert_int_equal(G.npending, 1);
    assert_int_equal(ctx.in_flight, 1);
    assert_false(lvio_gpu_fence_done(&ctx, f));
    assert_true(lvio_gpu_memory_busy(&GPU, cmds, 4));
    assert_true(lvio_gpu_memory_busy(&GPU, (uint8_t *)cmds + 2, 1));
    assert_false(lvio_gpu_memory_busy(&GPU, cmds + 1, 4));
    /* Other commands go on meanwhile. */
    struct lvio_gpu_ctx other;
    ctx_ok(&other, "meanwhile");
    /* The answer comes; lvio_gpu_poll takes it, nothing else. */
    assert_int_equal(sim_gpu_signal(&G, f), 1);
    assert_int_equal(lvio_gpu_poll(&GPU, LVIO_VIRTIO_ISR_QUEUE), 0);
    assert_int_equal(ctx.in_flight, 0);
    assert_false(lvio_gpu_memory_busy(&GPU, cmds, 4));
    assert_int_equal(G.sim.live_shares, 0);
    assert_true(lvio_gpu_fence_done(&ctx, f));
    assert_true(lvio_gpu_fence_done(&ctx, 0));
    assert_false(lvio_gpu_fence_done(&ctx, f + 1)); /* never given out */
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f + 1, SHORT_TIMEOUT), LVIO_E_INVAL);
    lvio_gpu_ctx_destroy(&other);
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

static void test_fences_in_order(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "order");
    uint8_t *buf = sim_pages(1);
    uint64_t f[3];
    for (int i = 0; i < 3; i++)
        f[i] = submit_ok(&ctx, buf + 64 * i, 64);
    assert_true(f[0] < f[1] && f[1] < f[2]);
    assert_int_equal(sim_gpu_signal(&G, f[1]), 2);
    assert_true(lvio_gpu_fence_done(&ctx, f[0]));
    assert_true(lvio_gpu_fence_done(&ctx, f[1]));
    assert_false(lvio_gpu_fence_done(&ctx, f[2]));
    assert_false(lvio_gpu_memory_busy(&GPU, buf, 128));
    assert_true(lvio_gpu_memory_busy(&GPU, buf + 128, 64));
    /* Answered while the caller waits. */
    G.fence_auto = 50;
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f[2], 1000000000ull), LVIO_OK);
    assert_int_equal(ctx.in_flight, 0);
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

static void test_fences_out_of_order(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    struct lvio_gpu_ctx a, b;
    ctx_ok(&a, "a");
    ctx_ok(&b, "b");
    uint8_t *buf = sim_pages(1);
    uint64_t a1 = submit_ok(&a, buf, 16);
    uint64_t a2 = submit_ok(&a, buf + 16, 16);
    uint64_t b3 = submit_ok(&b, buf + 32, 16);
    assert_int_equal(sim_gpu_signal_one(&G, a2), 1);
    assert_false(lvio_gpu_fence_done(&a, a2)); /* a1 is still out */
    assert_false(lvio_gpu_fence_done(&a, a1));
    assert_false(lvio_gpu_memory_busy(&GPU, buf + 16, 16)); /* a2's buffer is free */
    assert_true(lvio_gpu_memory_busy(&GPU, buf, 16));
    assert_int_equal(sim_gpu_signal_one(&G, b3), 1);
    assert_true(lvio_gpu_fence_done(&b, b3));
    assert_true(lvio_gpu_fence_done(&b, a2)); /* b has nothing up to a2 */
    assert_false(lvio_gpu_fence_done(&a, b3));
    assert_int_equal(lvio_gpu_fence_wait(&a, a2, SHORT_TIMEOUT), LVIO_E_TIMEOUT);
    assert_int_equal(sim_gpu_signal_one(&G, a1), 1);
    assert_true(lvio_gpu_fence_done(&a, a2));
    assert_int_equal(lvio_gpu_fence_wait(&a, b3, SHORT_TIMEOUT), LVIO_OK);
    lvio_gpu_ctx_destroy(&a);
    lvio_gpu_ctx_destroy(&b);
    down();
}

static void test_fence_never(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "never");
    uint8_t *buf = sim_pages(1);
    uint64_t f = submit_ok(&ctx, buf, 256);
    char want[64];
    snprintf(want, sizeof want, "fence %llu of context %u", (unsigned long long)f, ctx.id);
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT), LVIO_E_TIMEOUT);
    assert_non_null(strstr(lvio_device_error(&D), want));
    assert_non_null(strstr(lvio_device_error(&D), "not signalled"));
    /* Still in flight: the buffer stays the device's. */
    assert_true(lvio_gpu_memory_busy(&GPU, buf, 256));
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT), LVIO_E_TIMEOUT);
    assert_int_equal(G.sim.live_shares, 1);
    /* Destroying the context waits, bounded, then lets it go. */
    GPU.timeout_ns = SHORT_TIMEOUT;
    assert_int_equal(lvio_gpu_ctx_destroy(&ctx), LVIO_E_TIMEOUT);
    assert_null(ctx.gpu);
    assert_int_equal(sim_gpu_live_contexts(&G), 0); /* CTX_DESTROY went anyway */
    assert_true(lvio_gpu_memory_busy(&GPU, buf, 256));
    /* Only a reset ends it. */
    assert_int_equal(lvio_gpu_reset(&GPU), LVIO_OK);
    assert_false(lvio_gpu_memory_busy(&GPU, buf, 256));
    assert_int_equal(G.sim.live_shares, 0);
    down();
}

static void test_fence_stale_after_reset(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "stale");
    uint8_t *buf = sim_pages(1);
    uint64_t f = submit_ok(&ctx, buf, 64);
    assert_int_equal(lvio_gpu_reset(&GPU), LVIO_OK);
    assert_int_equal(ctx.in_flight, 0);
    assert_true(lvio_gpu_fence_done(&ctx, f)); /* nothing of it in flight */
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT), LVIO_E_INVAL);
    uint64_t g;
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf, 64, &g), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_ctx_destroy(&ctx), LVIO_OK);
    down();
}

static void test_fence_answer_checked(void **state)
{
    (void)state;
    for (int fault = 1; fault <= 2; fault++) {
        up3d();
        G.fence_echo_fault = fault;
        struct lvio_gpu_ctx ctx;
        ctx_ok(&ctx, "echo");
        uint8_t *buf = sim_pages(1);
        uint64_t f = submit_ok(&ctx, buf, 64);
        int err = lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT);
        assert_int_equal(err, LVIO_E_DEVICE);
        assert_non_null(strstr(lvio_device_error(&D), "SUBMIT_3D"));
        assert_int_equal(ctx.failed_fence, f);
        assert_false(lvio_gpu_memory_busy(&GPU, buf, 64)); /* it came back */
        G.fence_echo_fault = 0;
        lvio_gpu_ctx_destroy(&ctx);
        down();
    }
    /* The device refuses the submit: by name, for that fence and later. */
    up3d();
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "refused");
    uint8_t *buf = sim_pages(1);
    memset(sim_gpu_context(&G, ctx.id), 0, sizeof(struct sim_gpu_ctx));
    uint64_t f = submit_ok(&ctx, buf, 64);
    int err = lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_CONTEXT_ID");
    assert_string_equal(lvio_gpu_cmd_name(GPU.last_cmd), "SUBMIT_3D");
    assert_non_null(strstr(lvio_device_error(&D), "ERR_INVALID_CONTEXT_ID"));
    G.fault_cmd = CMD(SUBMIT_3D);
    G.fault_kind = SIM_GPU_FAULT_SHORT;
    G.fault_value = 8;
    G.fault_times = 1;
    uint64_t f2 = submit_ok(&ctx, buf, 64);
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f2, SHORT_TIMEOUT), LVIO_E_REFUSED); /* the first */
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

static void test_submit_limits(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "limits");
    uint8_t *buf = sim_pages(12);
    uint64_t f = 0;
    for (unsigned i = 0; i < LVIO_GPU_SUBMITS_IN_FLIGHT; i++)
        f = submit_ok(&ctx, buf + 64 * i, 64);
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf + 64 * 8, 64, &f), LVIO_E_AGAIN);
    assert_non_null(strstr(lvio_device_error(&D), "wait for a fence"));
    assert_int_equal(f, LVIO_GPU_SUBMITS_IN_FLIGHT); /* untouched */
    /* A buffer still with the device is not given to it again. */
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf + 32, 64, &f), LVIO_E_INVAL);
    assert_non_null(strstr(lvio_device_error(&D), "still with the device"));
    /* 2D work still finds slots. */
    struct lvio_gpu_fb fb;
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 16, 16, BGRX, buf + 8 * LVIO_PAGE_SIZE,
                                        1024, NULL, 0),
                     LVIO_OK);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), LVIO_OK);
    sim_gpu_signal(&G, UINT64_MAX);
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f, SHORT_TIMEOUT), LVIO_OK);
    /* Arguments. */
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf, 0, &f), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf, 6, &f), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf + 2, 8, &f), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, NULL, 8, &f), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf, 8, NULL), LVIO_E_INVAL);
    /* More runs than a submit keeps: refused, nothing shared, no fence used. */
    G.sim.share_run = 1;
    uint64_t before = GPU.last_fence;
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf, 9 * LVIO_PAGE_SIZE, &f), LVIO_E_INVAL);
    assert_non_null(strstr(lvio_device_error(&D), "SUBMIT_3D of context"));
    assert_int_equal(GPU.last_fence, before);
    assert_int_equal(G.sim.live_shares, 0);
    /* A share() that fails. */
    G.sim.share_fail_after = 0;
    assert_int_equal(lvio_gpu_ctx_submit(&ctx, buf, 64, &f), LVIO_E_NOMEM); /* share()'s */
    G.sim.share_fail_after = -1;
    assert_int_equal(G.sim.live_shares, 0);
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

static void test_render_and_read_back(void **state)
{
    (void)state;
    up3d();
    G.fence_mode = SIM_GPU_FENCE_LATER;
    G.fence_auto = 20;
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "render");
    uint8_t *px = sim_pages(2);
    struct lvio_gpu_res3d rt;
    res_ok(&rt, &TEX, px, 64 * 32 * 4);
    assert_int_equal(lvio_gpu_ctx_attach(&ctx, rt.fb.resource_id), LVIO_OK);
    uint8_t *cmds = sim_pages(1); /* dwords as the renderer reads them: little-endian */
    put32(cmds, FILL);
    put32(cmds + 4, rt.fb.resource_id);
    put32(cmds + 8, 0xff00ff00u);
    uint64_t f = submit_ok(&ctx, cmds, 12);
    assert_int_equal(lvio_gpu_fence_wait(&ctx, f, 1000000000ull), LVIO_OK);
    struct lvio_gpu_transfer t = {.box = {0, 0, 0, 64, 32, 1}, .stride = 256};
    assert_int_equal(lvio_gpu_transfer_from_host_3d(&ctx, &rt, &t), LVIO_OK);
    for (size_t i = 0; i < 64 * 32; i++)
        assert_int_equal(get32(px + 4 * i), 0xff00ff00u);
    assert_int_equal(lvio_gpu_res3d_show(&GPU, 0, &rt), LVIO_OK);
    lvio_gpu_ctx_detach(&ctx, rt.fb.resource_id);
    lvio_gpu_res3d_destroy(&rt);
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

/* ---- blobs ------------------------------------------------------------------------ */

static void test_blob_guest(void **state)
{
    (void)state;
    up3d();
    G.sim.share_run = 1;
    static struct lvio_gpu_run runs[8];
    uint8_t *mem = sim_pages(3);
    struct lvio_gpu_blob blob;
    struct lvio_gpu_blob_info info = {.mem = LVIO_VIRTIO_GPU_BLOB_MEM_GUEST,
                                      .flags = LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE |
                                               LVIO_VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE,
                                      .size = 2 * LVIO_PAGE_SIZE};
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, mem, runs, 8), LVIO_OK);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(RESOURCE_CREATE_BLOB), 0);
    assert_int_equal(c->req_len, 56);
    assert_int_equal(get32(c->req + 16), 0);                 /* ctx_id */
    assert_int_equal(get32(c->req + 24), blob.fb.resource_id);
    assert_int_equal(get32(c->req + 28), 1);                 /* blob_mem */
    assert_int_equal(get32(c->req + 32), 3);                 /* blob_flags */
    assert_int_equal(get32(c->req + 36), 2);                 /* nr_entries */
    assert_int_equal(get64(c->req + 40), 0);                 /* blob_id */
    assert_int_equal(get64(c->req + 48), 2 * LVIO_PAGE_SIZE); /* size */
    assert_int_equal(c->nreadable, 2);                       /* the list follows */
    assert_int_equal(c->extra_len, 32);
    assert_int_equal(get64(c->extra), sim_share_of(&G.sim, mem)->dev);
    assert_int_equal(get32(c->extra + 8), LVIO_PAGE_SIZE);
    assert_int_equal(get64(c->extra + 16), sim_share_of(&G.sim, mem + LVIO_PAGE_SIZE)->dev);
    assert_int_equal(sim_gpu_count(&G, CMD(RESOURCE_ATTACH_BACKING)), 0);
    struct sim_gpu_resource *r = sim_gpu_resource(&G, blob.fb.resource_id);
    assert_true(r->blob);
    assert_int_equal(r->nr_entries, 2);

    /* Map, unmap. */
    uint64_t addr = 0;
    uint32_t mi = 0;
    assert_int_equal(lvio_gpu_blob_map(&blob, 0x10000, &addr, &mi), LVIO_OK);
    assert_int_equal(addr, 0x8000000000ull + 0x10000);
    assert_int_equal(mi, LVIO_VIRTIO_GPU_MAP_CACHE_CACHED);
    assert_true(blob.mapped);
    c = sim_gpu_find(&G, CMD(RESOURCE_MAP_BLOB), 0);
    assert_int_equal(c->req_len, 40);
    assert_int_equal(get32(c->req + 24), blob.fb.resource_id);
    assert_int_equal(get32(c->req + 28), 0);
    assert_int_equal(get64(c->req + 32), 0x10000);
    assert_true(r->mapped);
    assert_int_equal(lvio_gpu_blob_map(&blob, 0, NULL, NULL), LVIO_E_INVAL); /* mapped */
    assert_int_equal(lvio_gpu_blob_unmap(&blob), LVIO_OK);
    c = sim_gpu_find(&G, CMD(RESOURCE_UNMAP_BLOB), 0);
    assert_int_equal(c->req_len, 32);
    assert_int_equal(get32(c->req + 24), blob.fb.resource_id);
    assert_false(r->mapped);
    assert_int_equal(lvio_gpu_blob_unmap(&blob), LVIO_E_INVAL);
    /* Destroy unmaps first, then only unrefs. */
    assert_int_equal(lvio_gpu_blob_map(&blob, 0, NULL, NULL), LVIO_OK);
    assert_int_equal(lvio_gpu_blob_destroy(&blob), LVIO_OK);
    assert_int_equal(sim_gpu_count(&G, CMD(RESOURCE_UNMAP_BLOB)), 2);
    assert_int_equal(sim_gpu_count(&G, CMD(RESOURCE_DETACH_BACKING)), 0);
    assert_int_equal(sim_gpu_live_resources(&G), 0);
    down();
}

static void test_blob_host3d(void **state)
{
    (void)state;
    up3d();
    struct lvio_gpu_ctx ctx;
    ctx_ok(&ctx, "blob");
    struct lvio_gpu_blob blob;
    struct lvio_gpu_blob_info info = {.mem = LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D,
                                      .flags = LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE,
                                      .blob_id = 0x1122334455667788ull, .size = 65536};
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, NULL, NULL, 0),
                     LVIO_E_INVAL); /* needs a context */
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, &ctx, &info, NULL, NULL, 0), LVIO_OK);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(RESOURCE_CREATE_BLOB), 0);
    assert_int_equal(get32(c->req + 16), ctx.id);
    assert_int_equal(get32(c->req + 28), 2);
    assert_int_equal(get32(c->req + 36), 0);
    assert_int_equal(get64(c->req + 40), 0x1122334455667788ull);
    assert_int_equal(get64(c->req + 48), 65536);
    assert_int_equal(c->nreadable, 1);
    uint64_t addr;
    assert_int_equal(lvio_gpu_blob_map(&blob, 0, &addr, NULL), LVIO_OK);
    c = sim_gpu_find(&G, CMD(RESOURCE_MAP_BLOB), 0);
    assert_int_equal(get32(c->req + 16), ctx.id);
    assert_int_equal(lvio_gpu_ctx_attach(&ctx, blob.fb.resource_id), LVIO_OK);
    assert_int_equal(lvio_gpu_blob_destroy(&blob), LVIO_OK);
    /* Memory given with HOST3D, or missing with GUEST: refused. */
    uint8_t *mem = sim_pages(1);
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, &ctx, &info, mem, NULL, 0), LVIO_E_INVAL);
    info.mem = LVIO_VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST;
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, &ctx, &info, NULL, NULL, 0), LVIO_E_INVAL);
    info.size = LVIO_PAGE_SIZE;
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, &ctx, &info, mem, NULL, 0), LVIO_OK);
    assert_int_equal(sim_gpu_resource(&G, blob.fb.resource_id)->nr_entries, 1);
    assert_int_equal(lvio_gpu_blob_destroy(&blob), LVIO_OK);
    lvio_gpu_ctx_destroy(&ctx);
    down();
}

static void test_blob_errors(void **state)
{
    (void)state;
    up3d();
    uint8_t *mem = sim_pages(2);
    struct lvio_gpu_blob blob;
    struct lvio_gpu_blob_info info = {.mem = LVIO_VIRTIO_GPU_BLOB_MEM_GUEST, .size = 4096};
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, mem, NULL, 0), LVIO_OK);
    assert_int_equal(lvio_gpu_blob_map(&blob, 0, NULL, NULL), LVIO_E_INVAL); /* not MAPPABLE */
    assert_non_null(strstr(lvio_device_error(&D), "not MAPPABLE"));
    lvio_gpu_blob_destroy(&blob);
    info.flags = LVIO_VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE;
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, mem, NULL, 0), LVIO_OK);
    assert_int_equal(lvio_gpu_blob_map(&blob, 100, NULL, NULL), LVIO_E_INVAL);      /* unaligned */
    assert_int_equal(lvio_gpu_blob_map(&blob, 64u << 20, NULL, NULL), LVIO_E_INVAL); /* past */
    /* A map_info that is no cache type: LVIO_E_DEVICE, and unmapped again. */
    G.map_info = 0x17;
    assert_int_equal(lvio_gpu_blob_map(&blob, 0, NULL, NULL), LVIO_E_DEVICE);
    assert_non_null(strstr(lvio_device_error(&D), "map_info 0x17"));
    assert_false(blob.mapped);
    assert_false(sim_gpu_resource(&G, blob.fb.resource_id)->mapped);
    G.map_info = LVIO_VIRTIO_GPU_MAP_CACHE_WC;
    /* Refused by the device, by name. */
    G.fault_cmd = CMD(RESOURCE_MAP_BLOB);
    G.fault_kind = SIM_GPU_FAULT_ERROR;
    G.fault_value = RESP(ERR_INVALID_RESOURCE_ID);
    G.fault_times = 1;
    int err = lvio_gpu_blob_map(&blob, 0, NULL, NULL);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_RESOURCE_ID");
    assert_string_equal(lvio_gpu_cmd_name(GPU.last_cmd), "RESOURCE_MAP_BLOB");
    assert_false(blob.mapped);
    /* No region: nothing to map into. */
    GPU.shm_len = 0;
    assert_int_equal(lvio_gpu_blob_map(&blob, 0, NULL, NULL), LVIO_E_UNSUPPORTED);
    lvio_gpu_blob_destroy(&blob);
    /* Bad descriptions. */
    info.mem = 4;
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, mem, NULL, 0), LVIO_E_INVAL);
    info.mem = 1;
    info.flags = 8;
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, mem, NULL, 0), LVIO_E_INVAL);
    down();

    /* Not negotiated. */
    start(ALL3D);
    init_with_ok(LVIO_GPU_WANT_VIRGL);
    info = (struct lvio_gpu_blob_info){.mem = 1, .size = 4096};
    assert_int_equal(lvio_gpu_blob_create(&GPU, &blob, NULL, &info, mem, NULL, 0),
                     LVIO_E_UNSUPPORTED);
    uint8_t uuid[16];
    assert_int_equal(lvio_gpu_resource_uuid(&GPU, 1, uuid), LVIO_E_UNSUPPORTED);
    down();
}

static void test_resource_uuid(void **state)
{
    (void)state;
    up3d();
    G.uuid_seed = 0x40;
    uint8_t *px = sim_pages(2);
    struct lvio_gpu_res3d res;
    res_ok(&res, &TEX, px, 64 * 32 * 4);
    uint8_t uuid[16];
    assert_int_equal(lvio_gpu_resource_uuid(&GPU, res.fb.resource_id, uuid), LVIO_OK);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(uuid[i], (uint8_t)(0x40 + res.fb.resource_id + i));
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(RESOURCE_ASSIGN_UUID), 0);
    assert_int_equal(c->req_len, 32);
    assert_int_equal(get32(c->req + 24), res.fb.resource_id);
    int err = lvio_gpu_resource_uuid(&GPU, 999, uuid);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_RESOURCE_ID");
    G.fault_cmd = CMD(RESOURCE_ASSIGN_UUID);
    G.fault_kind = SIM_GPU_FAULT_SHORT;
    G.fault_value = 30;
    G.fault_times = 1;
    assert_int_equal(lvio_gpu_resource_uuid(&GPU, res.fb.resource_id, uuid), LVIO_E_DEVICE);
    lvio_gpu_res3d_destroy(&res);
    down();
}

/* ---- the rest ------------------------------------------------------------------------- */

static void test_device_shm(void **state)
{
    (void)state;
    start(ALL3D);
    uint64_t addr = 0, len = 0;
    assert_int_equal(lvio_device_shm(&D, 1, &addr, &len), LVIO_OK);
    assert_int_equal(addr, 0x8000000000ull);
    assert_int_equal(len, 64u << 20);
    assert_int_equal(lvio_device_shm(&D, 2, &addr, &len), LVIO_E_NODEV);
    assert_int_equal(lvio_device_shm(&D, 1, NULL, &len), LVIO_E_INVAL);
    assert_int_equal(lvio_device_shm(NULL, 1, &addr, &len), LVIO_E_INVAL);
    G.sim.shm_base[1] = UINT64_MAX - 10; /* wraps */
    assert_int_equal(lvio_device_shm(&D, 1, &addr, &len), LVIO_E_CONFIG);
    sim_gpu_fini(&G);
    /* Version 1 has no such registers. */
    sim_gpu_init(&G, 1, 1);
    sim_gpu_offer_3d(&G, ALL3D);
    sim_probe(&G.sim, &D);
    assert_int_equal(lvio_device_shm(&D, 1, &addr, &len), LVIO_E_NODEV);
    init_with_ok(LVIO_GPU_WANT_ALL);
    assert_true(GPU.has_resource_blob);
    assert_int_equal(GPU.shm_len, 0);
    down();
}

/* PCI: VIRTIO_PCI_CAP_SHARED_MEMORY_CFG capabilities, 64-bit offset and
 * length, checked against their BAR. */
static void test_device_shm_pci(void **state)
{
    (void)state;
    static struct sim_pci p;
    struct lvio_device dev;
    sim_pci_init(&p, SIM_PCI_MODERN, LVIO_VIRTIO_ID_GPU);
    p.fn.bar[4] = (struct lvio_pci_bar){0x8000000000ull, 0x400000000ull, false}; /* 16 GiB */
    struct sim_pci_cap shm = {.pos = 0xc0, .id = LVIO_PCI_CAP_ID_VNDR, .cap_len = 24,
                              .cfg_type = LVIO_VIRTIO_PCI_CAP_SHARED_MEMORY_CFG, .bar = 4,
                              .offset = 0x1000, .length = 0, .length_hi = 2, .shmid = 1};
    p.caps[p.ncaps++] = shm;
    shm.pos = 0xd8; /* id 2: past the BAR's end, left out */
    shm.shmid = 2;
    shm.offset_hi = 4;
    p.caps[p.ncaps++] = shm;
    sim_pci_build(&p);
    assert_int_equal(sim_pci_probe(&p, &dev), LVIO_OK);
    uint64_t addr = 0, len = 0;
    assert_int_equal(lvio_device_shm(&dev, 1, &addr, &len), LVIO_OK);
    assert_int_equal(addr, 0x8000001000ull);
    assert_int_equal(len, 0x200000000ull);
    assert_int_equal(lvio_device_shm(&dev, 2, &addr, &len), LVIO_E_NODEV);
    assert_non_null(strstr(p.s.log, "not inside a memory BAR"));
    assert_int_equal(lvio_device_shm(&dev, 0, &addr, &len), LVIO_E_NODEV);
    assert_string_equal(p.s.error, "");
    sim_free_dma(&p.s);
}

static void test_cmd_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "CTX_CREATE", "CTX_DESTROY", "CTX_ATTACH_RESOURCE", "CTX_DETACH_RESOURCE",
        "RESOURCE_CREATE_3D", "TRANSFER_TO_HOST_3D", "TRANSFER_FROM_HOST_3D", "SUBMIT_3D",
        "RESOURCE_MAP_BLOB", "RESOURCE_UNMAP_BLOB"};
    for (uint32_t i = 0; i < 10; i++)
        assert_string_equal(lvio_gpu_cmd_name(CMD(CTX_CREATE) + i), names[i]);
    assert_string_equal(lvio_gpu_cmd_name(CMD(CTX_CREATE) + 10), "unknown");
    assert_string_equal(lvio_gpu_cmd_name(CMD(RESOURCE_CREATE_BLOB)), "RESOURCE_CREATE_BLOB");
    assert_string_equal(lvio_gpu_cmd_name(CMD(GET_CAPSET)), "GET_CAPSET");
    assert_string_equal(lvio_gpu_resp_name(RESP(ERR_INVALID_CONTEXT_ID)),
                        "ERR_INVALID_CONTEXT_ID");
}

static void test_2d_path_with_virgl(void **state)
{
    (void)state;
    up3d();
    uint8_t *px = sim_pages(2);
    memset(px, 0x5a, 64 * 16 * 4);
    struct lvio_gpu_fb fb;
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 16, BGRX, px, 64 * 16 * 4, NULL, 0),
                     LVIO_OK);
    assert_int_equal(sim_share_of(&G.sim, px)->dir, LVIO_DMA_TO_DEVICE);
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), LVIO_OK);
    assert_memory_equal(sim_gpu_resource(&G, fb.resource_id)->host, px, 64 * 16 * 4);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), LVIO_OK);
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation_matrix),
        cmocka_unit_test(test_init_is_init_with_zero),
        cmocka_unit_test(test_reset_keeps_wants),
        cmocka_unit_test(test_capset_info_every_index),
        cmocka_unit_test(test_get_capset),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_context_init),
        cmocka_unit_test(test_res3d_create_bytes),
        cmocka_unit_test(test_transfers_both_ways),
        cmocka_unit_test(test_res3d_scanout),
        cmocka_unit_test(test_submit_split_across_pages),
        cmocka_unit_test(test_submit_is_non_blocking),
        cmocka_unit_test(test_fences_in_order),
        cmocka_unit_test(test_fences_out_of_order),
        cmocka_unit_test(test_fence_never),
        cmocka_unit_test(test_fence_stale_after_reset),
        cmocka_unit_test(test_fence_answer_checked),
        cmocka_unit_test(test_submit_limits),
        cmocka_unit_test(test_render_and_read_back),
        cmocka_unit_test(test_blob_guest),
        cmocka_unit_test(test_blob_host3d),
        cmocka_unit_test(test_blob_errors),
        cmocka_unit_test(test_resource_uuid),
        cmocka_unit_test(test_device_shm),
        cmocka_unit_test(test_device_shm_pci),
        cmocka_unit_test(test_cmd_names),
        cmocka_unit_test(test_2d_path_with_virgl),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sim_gpu_fini(&G);
    sim_free_dma(&G.sim);
    sim_pages_release();
    return failed;
}
