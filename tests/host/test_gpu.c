/*
 * The virtio-gpu 2D driver against the simulated GPU (sim_gpu.h): exact
 * command bytes, initialisation on both MMIO versions, scanouts and EDID,
 * every error response, misbehaving devices, batching (one notify),
 * scatter-gather backing through share(), display events and the cursor.
 */
#define _GNU_SOURCE /* sigaction, mprotect, ucontext: the read-once test */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/gpu.h"
#include "sim_gpu.h"

#define CMD(x) LVIO_VIRTIO_GPU_CMD_##x
#define RESP(x) LVIO_VIRTIO_GPU_RESP_##x
#define BGRX LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM
#define BGRA LVIO_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM
#define SHORT_TIMEOUT 1000000ull /* 1 ms of the fake clock */

static struct sim_gpu G;
static struct lvio_device D;
static struct lvio_gpu GPU;

/* ---- helpers ------------------------------------------------------------------ */

/* Caller memory handed out by pages(), released by the next start() (so a
 * failed test leaks nothing). */
static void *page_allocs[16];

static void pages_release(void)
{
    for (size_t i = 0; i < sizeof page_allocs / sizeof page_allocs[0]; i++) {
        free(page_allocs[i]);
        page_allocs[i] = NULL;
    }
}

/* A simulated GPU with `nscan` scanouts, probed, not yet initialised. */
static void start(uint32_t version, uint32_t nscan)
{
    sim_gpu_fini(&G); /* whatever a failed test left */
    sim_free_dma(&G.sim);
    pages_release();
    sim_gpu_init(&G, version, nscan);
    sim_probe(&G.sim, &D);
}

static void init_ok(void)
{
    int err = lvio_gpu_init(&GPU, &D);
    if (err)
        fail_msg("lvio_gpu_init: %s: %s", lvio_gpu_errname(&GPU, err), lvio_device_error(&D));
    assert_true(G.sim.status & LVIO_VIRTIO_STATUS_DRIVER_OK);
}

static void up(uint32_t version)
{
    start(version, 1);
    init_ok();
}

/* The model saw nothing wrong; teardown resets and gives every page and
 * every share back. */
static void down(void)
{
    assert_string_equal(G.sim.error, "");
    lvio_gpu_teardown(&GPU);
    assert_int_equal(G.sim.status, 0);
    assert_int_equal(G.sim.live_pages, 0);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(G.sim.unshares, G.sim.shares_made);
    sim_gpu_fini(&G);
}

/* `n` zeroed pages of caller memory. */
static uint8_t *pages(size_t n)
{
    uint8_t *p = aligned_alloc(LVIO_PAGE_SIZE, n * LVIO_PAGE_SIZE);
    assert_non_null(p);
    memset(p, 0, n * LVIO_PAGE_SIZE);
    for (size_t i = 0; i < sizeof page_allocs / sizeof page_allocs[0]; i++) {
        if (!page_allocs[i]) {
            page_allocs[i] = p;
            return p;
        }
    }
    fail_msg("test: too many page allocations");
    return NULL;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* Driver-private room for a framebuffer's runs (lvio_gpu_fb_create): the
 * framebuffer's own inline runs while the simulated share() keeps memory
 * contiguous, else room for a run per page, taken round-robin. */
static struct lvio_gpu_run run_pool[8][512];
static unsigned run_next;
static struct lvio_gpu_run *runs_room(void)
{
    return G.sim.share_run ? run_pool[run_next++ % 8] : NULL;
}
#define ROOM runs_room(), 512

static void fb_ok(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, uint32_t w, uint32_t h,
                  uint32_t format, void *pixels, size_t size)
{
    int err = lvio_gpu_fb_create(gpu, fb, w, h, format, pixels, size, ROOM);
    if (err)
        fail_msg("lvio_gpu_fb_create: %s: %s", lvio_gpu_errname(gpu, err),
                 lvio_device_error(gpu->dev));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A zeroed request of `len` bytes with header type `type`. */
static void want_hdr(uint8_t *w, size_t len, uint32_t type)
{
    memset(w, 0, len);
    put32(w, type);
}

static void put_rect(uint8_t *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    put32(p, x);
    put32(p + 4, y);
    put32(p + 8, w);
    put32(p + 12, h);
}

/* The command's request is exactly these bytes. */
static void check_bytes(const struct sim_gpu_cmd *c, const uint8_t *want, uint32_t len)
{
    assert_non_null(c);
    if (c->req_len != len)
        fail_msg("%s: request of %u bytes, expected %u", lvio_gpu_cmd_name(c->type), c->req_len,
                 len);
    for (uint32_t i = 0; i < len; i++)
        if (c->req[i] != want[i])
            fail_msg("%s: byte %u is 0x%02x, expected 0x%02x", lvio_gpu_cmd_name(c->type), i,
                     c->req[i], want[i]);
}

/* The i-th logged command (any type). */
static const struct sim_gpu_cmd *logged(unsigned i)
{
    assert_true(i < G.nlog);
    return &G.log[i];
}

/* The device's copy of resource `id` equals the fb's pixels in `r`. */
static void check_host_rect(uint32_t id, const struct lvio_gpu_fb *fb,
                            const struct lvio_gpu_rect *r)
{
    struct sim_gpu_resource *res = sim_gpu_resource(&G, id);
    assert_non_null(res);
    for (uint32_t y = r->y; y < r->y + r->height; y++) {
        size_t off = (size_t)y * fb->stride + (size_t)r->x * 4;
        if (memcmp(res->host + off, fb->pixels + off, (size_t)r->width * 4) != 0)
            fail_msg("resource %u row %u differs from the framebuffer", id, y);
    }
}

static void check_host_all(const struct lvio_gpu_fb *fb)
{
    struct lvio_gpu_rect all = {0, 0, fb->width, fb->height};
    check_host_rect(fb->resource_id, fb, &all);
}

/* Nothing reached the device since `nlog`/`notifies` were taken. */
static void check_nothing_sent(unsigned nlog, uint32_t notifies)
{
    assert_int_equal(G.nlog, nlog);
    assert_int_equal(G.sim.notifies, notifies);
}

/* ---- initialisation --------------------------------------------------------------- */

static void test_init_v1_and_v2(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v);
        assert_int_equal(D.version, v);
        assert_int_equal(GPU.num_scanouts, 1);
        assert_true(GPU.has_edid);
        assert_true(G.sim.driver_features & (1ull << LVIO_VIRTIO_GPU_F_EDID));
        assert_true(GPU.scanouts[0].enabled);
        assert_int_equal(GPU.scanouts[0].rect.width, 1024);
        assert_int_equal(GPU.scanouts[0].rect.height, 768);
        assert_int_equal(GPU.scanouts[0].edid_width, 1280);
        assert_int_equal(GPU.scanouts[0].edid_height, 800);
        uint32_t w = 0, h = 0;
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, &h), 0);
        assert_int_equal(w, 1280);
        assert_int_equal(h, 800);
        /* Display info first, then the EDID of the one scanout. */
        assert_int_equal(G.nlog, 2);
        assert_int_equal(logged(0)->type, CMD(GET_DISPLAY_INFO));
        assert_int_equal(logged(1)->type, CMD(GET_EDID));
        assert_int_equal(logged(0)->resp_type, RESP(OK_DISPLAY_INFO));
        assert_int_equal(logged(1)->resp_type, RESP(OK_EDID));
        /* A framebuffer works on both transports. */
        uint8_t *mem = pages(4);
        fill(mem, 4 * LVIO_PAGE_SIZE, 3);
        struct lvio_gpu_fb fb;
        fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
        assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
        check_host_all(&fb);
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        down();
    }
}

static void test_bytes_get_display_info(void **state)
{
    (void)state;
    up(2);
    uint8_t want[24];
    want_hdr(want, sizeof want, CMD(GET_DISPLAY_INFO));
    assert_memory_equal(want, "\x00\x01\x00\x00", 4);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(GET_DISPLAY_INFO), 0);
    check_bytes(c, want, sizeof want);
    assert_int_equal(c->queue, 0);
    assert_int_equal(c->nreadable, 1);
    assert_int_equal(c->writable, sizeof(struct lvio_virtio_gpu_resp_display_info));
    down();
}

static void test_bytes_get_edid(void **state)
{
    (void)state;
    start(2, 3);
    sim_gpu_set_mode(&G, 1, false, 0, 0);
    sim_gpu_set_mode(&G, 2, true, 800, 600);
    init_ok();
    uint8_t want[32];
    want_hdr(want, sizeof want, CMD(GET_EDID));
    assert_memory_equal(want, "\x0a\x01\x00\x00", 4);
    const struct sim_gpu_cmd *c = sim_gpu_find(&G, CMD(GET_EDID), 0);
    check_bytes(c, want, sizeof want); /* scanout 0 */
    assert_int_equal(c->writable, sizeof(struct lvio_virtio_gpu_resp_edid));
    put32(want + 24, 2);
    check_bytes(sim_gpu_find(&G, CMD(GET_EDID), 1), want, sizeof want);
    assert_null(sim_gpu_find(&G, CMD(GET_EDID), 2)); /* not for the disabled one */
    down();
}

/* RESOURCE_CREATE_2D and RESOURCE_ATTACH_BACKING, batched, exact bytes;
 * the entries are the device addresses share() gave, one per run. */
static void test_bytes_create_and_attach(void **state)
{
    (void)state;
    up(2);
    G.sim.share_run = 1; /* every page somewhere else */
    uint8_t *mem = pages(5);
    size_t size = 100 * 4 * 50; /* 20000 bytes: 4 pages and 3616 bytes */
    struct lvio_gpu_fb fb;
    sim_gpu_clear_log(&G);
    uint32_t notifies = G.sim.notifies;
    fb_ok(&GPU, &fb, 100, 50, BGRX, mem, size);
    assert_int_equal(G.sim.notifies, notifies + 1); /* one batch */
    assert_int_equal(G.nlog, 2);
    assert_int_equal(fb.resource_id, 1);
    assert_int_equal(fb.stride, 400);
    assert_int_equal(fb.nr_entries, 5);

    uint8_t want[40];
    want_hdr(want, sizeof want, CMD(RESOURCE_CREATE_2D));
    put32(want + 24, 1);
    put32(want + 28, BGRX);
    put32(want + 32, 100);
    put32(want + 36, 50);
    check_bytes(logged(0), want, 40);
    assert_int_equal(logged(0)->writable, 24);

    want_hdr(want, 32, CMD(RESOURCE_ATTACH_BACKING));
    put32(want + 24, 1);
    put32(want + 28, 5);
    const struct sim_gpu_cmd *a = logged(1);
    check_bytes(a, want, 32);
    assert_int_equal(a->notifies, logged(0)->notifies);
    assert_int_equal(a->nreadable, 2);
    assert_int_equal(a->extra_len, 5 * 16);
    for (unsigned i = 0; i < 5; i++) {
        uint8_t e[16] = {0};
        const struct sim_share *sh = sim_share_of(&G.sim, mem + i * LVIO_PAGE_SIZE);
        assert_non_null(sh);
        assert_ptr_equal(sh->cpu, mem + i * LVIO_PAGE_SIZE);
        /* A fresh scattered HAL: page i at BASE + 2 i pages (a gap after each). */
        assert_int_equal(sh->dev, SIM_SHARE_SCATTER_BASE + 2ull * i * LVIO_PAGE_SIZE);
        put64(e, sh->dev);
        put32(e + 8, i < 4 ? LVIO_PAGE_SIZE : (uint32_t)(size - 4 * LVIO_PAGE_SIZE));
        if (memcmp(a->extra + 16 * i, e, 16) != 0)
            fail_msg("mem entry %u: addr 0x%llx len %u, expected 0x%llx len %u", i,
                     (unsigned long long)get64(a->extra + 16 * i), get32(a->extra + 16 * i + 8),
                     (unsigned long long)sh->dev, get32(e + 8));
    }
    assert_int_equal(G.sim.shares_made, 5);
    assert_int_equal(G.sim.live_shares, 5);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* show: TRANSFER_TO_HOST_2D, SET_SCANOUT, RESOURCE_FLUSH, one notify. */
static void test_bytes_show(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 64 * 4 * 48);
    sim_gpu_clear_log(&G);
    uint32_t notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
    assert_int_equal(G.sim.notifies, notifies + 1);
    assert_int_equal(G.nlog, 3);

    uint8_t want[56];
    want_hdr(want, 56, CMD(TRANSFER_TO_HOST_2D));
    put_rect(want + 24, 0, 0, 64, 48);
    put64(want + 40, 0);
    put32(want + 48, fb.resource_id);
    check_bytes(logged(0), want, 56);

    want_hdr(want, 48, CMD(SET_SCANOUT));
    put_rect(want + 24, 0, 0, 64, 48);
    put32(want + 40, 0);
    put32(want + 44, fb.resource_id);
    check_bytes(logged(1), want, 48);

    want_hdr(want, 48, CMD(RESOURCE_FLUSH));
    put_rect(want + 24, 0, 0, 64, 48);
    put32(want + 40, fb.resource_id);
    check_bytes(logged(2), want, 48);

    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(logged(i)->notifies, notifies + 1);
        assert_int_equal(logged(i)->writable, 24);
        assert_int_equal(logged(i)->resp_type, RESP(OK_NODATA));
    }
    assert_int_equal(G.scanouts[0].resource_id, fb.resource_id);
    assert_int_equal(G.scanouts[0].flushes, 1);
    assert_int_equal(GPU.scanouts[0].resource_id, fb.resource_id);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* present: TRANSFER_TO_HOST_2D with offset = y * stride + x * 4, then
 * RESOURCE_FLUSH of the same rectangle. */
static void test_bytes_present(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
    sim_gpu_clear_log(&G);
    struct lvio_gpu_rect r = {8, 4, 16, 10};
    assert_int_equal(lvio_gpu_present(&fb, &r), 0);
    assert_int_equal(G.nlog, 2);

    uint8_t want[56];
    want_hdr(want, 56, CMD(TRANSFER_TO_HOST_2D));
    put_rect(want + 24, 8, 4, 16, 10);
    put64(want + 40, 4 * 256 + 8 * 4);
    put32(want + 48, fb.resource_id);
    check_bytes(logged(0), want, 56);

    want_hdr(want, 48, CMD(RESOURCE_FLUSH));
    put_rect(want + 24, 8, 4, 16, 10);
    put32(want + 40, fb.resource_id);
    check_bytes(logged(1), want, 48);

    /* A rectangle at the far corner: the offset is 64 bits. */
    sim_gpu_clear_log(&G);
    r = (struct lvio_gpu_rect){63, 47, 1, 1};
    assert_int_equal(lvio_gpu_present(&fb, &r), 0);
    want_hdr(want, 56, CMD(TRANSFER_TO_HOST_2D));
    put_rect(want + 24, 63, 47, 1, 1);
    put64(want + 40, 47 * 256 + 63 * 4);
    put32(want + 48, fb.resource_id);
    check_bytes(logged(0), want, 56);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* destroy: DETACH_BACKING then UNREF; a shown framebuffer is first taken
 * off its scanout (SET_SCANOUT to resource 0), all in one batch. */
static void test_bytes_destroy(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
    uint32_t id = fb.resource_id;
    sim_gpu_clear_log(&G);
    uint32_t notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    assert_int_equal(G.sim.notifies, notifies + 1);
    assert_int_equal(G.nlog, 2);
    uint8_t want[48];
    want_hdr(want, 32, CMD(RESOURCE_DETACH_BACKING));
    put32(want + 24, id);
    check_bytes(logged(0), want, 32);
    want_hdr(want, 32, CMD(RESOURCE_UNREF));
    put32(want + 24, id);
    check_bytes(logged(1), want, 32);
    assert_int_equal(sim_gpu_live_resources(&G), 0);
    assert_int_equal(G.sim.live_shares, 0);

    /* Shown: off the scanout first. */
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
    id = fb.resource_id;
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
    sim_gpu_clear_log(&G);
    notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    assert_int_equal(G.sim.notifies, notifies + 1);
    assert_int_equal(G.nlog, 3);
    want_hdr(want, 48, CMD(SET_SCANOUT));
    check_bytes(logged(0), want, 48); /* scanout 0, resource 0, empty rect */
    assert_int_equal(logged(1)->type, CMD(RESOURCE_DETACH_BACKING));
    assert_int_equal(logged(2)->type, CMD(RESOURCE_UNREF));
    assert_int_equal(get32(logged(2)->req + 24), id);
    assert_int_equal(GPU.scanouts[0].resource_id, 0);
    assert_int_equal(G.scanouts[0].resource_id, 0);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), LVIO_E_INVAL); /* already gone */
    down();
}

/* The cursor: the image is transferred on the control queue before
 * UPDATE_CURSOR goes out on the cursor queue; MOVE_CURSOR; exact bytes. */
static void test_bytes_cursor(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(4);
    fill(mem, 4 * LVIO_PAGE_SIZE, 77);
    struct lvio_gpu_fb img;
    fb_ok(&GPU, &img, 64, 64, BGRA, mem, 4 * LVIO_PAGE_SIZE);
    sim_gpu_clear_log(&G);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img, 5, 7, 100, 200), 0);
    assert_int_equal(G.nlog, 2);

    uint8_t want[56];
    want_hdr(want, 56, CMD(TRANSFER_TO_HOST_2D));
    put_rect(want + 24, 0, 0, 64, 64);
    put32(want + 48, img.resource_id);
    check_bytes(logged(0), want, 56);
    assert_int_equal(logged(0)->queue, LVIO_VIRTIO_GPU_QUEUE_CONTROL);

    want_hdr(want, 56, CMD(UPDATE_CURSOR));
    put32(want + 24, 0);   /* scanout */
    put32(want + 28, 100); /* x */
    put32(want + 32, 200); /* y */
    put32(want + 40, img.resource_id);
    put32(want + 44, 5);
    put32(want + 48, 7);
    const struct sim_gpu_cmd *u = logged(1);
    check_bytes(u, want, 56);
    assert_int_equal(u->queue, LVIO_VIRTIO_GPU_QUEUE_CURSOR);
    assert_int_equal(u->nreadable, 1);
    assert_int_equal(u->writable, 0);
    /* The device had the pixels when it took the cursor image. */
    assert_memory_equal(G.cursor.image, mem, sizeof G.cursor.image);
    assert_int_equal(G.cursor.resource_id, img.resource_id);

    sim_gpu_clear_log(&G);
    assert_int_equal(lvio_gpu_cursor_move(&GPU, 0, 300, 400), 0);
    assert_int_equal(G.nlog, 1);
    want_hdr(want, 56, CMD(MOVE_CURSOR));
    put32(want + 28, 300);
    put32(want + 32, 400);
    check_bytes(logged(0), want, 56);
    assert_int_equal(logged(0)->queue, LVIO_VIRTIO_GPU_QUEUE_CURSOR);
    assert_int_equal(G.cursor.x, 300);
    assert_int_equal(G.cursor.y, 400);
    assert_int_equal(G.cursor.resource_id, img.resource_id); /* unchanged by a move */

    assert_int_equal(lvio_gpu_fb_destroy(&img), 0);
    down();
}

/* ---- scanouts and EDID ------------------------------------------------------------- */

/* Three scanouts, the middle one disabled: EDID only for the enabled ones,
 * each with its own preferred mode. */
static void test_several_scanouts(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        start(v, 3);
        sim_gpu_set_mode(&G, 1, false, 640, 480);
        sim_gpu_set_mode(&G, 2, true, 800, 600);
        G.scanouts[2].edid_width = 1920;
        G.scanouts[2].edid_height = 1080;
        init_ok();
        assert_int_equal(GPU.num_scanouts, 3);
        assert_true(GPU.scanouts[0].enabled);
        assert_false(GPU.scanouts[1].enabled);
        assert_true(GPU.scanouts[2].enabled);
        assert_false(GPU.scanouts[3].enabled);
        assert_int_equal(GPU.scanouts[2].rect.x, 1024 + 640);
        assert_int_equal(GPU.scanouts[2].rect.width, 800);
        assert_int_equal(GPU.scanouts[2].rect.height, 600);
        assert_int_equal(sim_gpu_count(&G, CMD(GET_EDID)), 2);
        assert_int_equal(get32(sim_gpu_find(&G, CMD(GET_EDID), 0)->req + 24), 0);
        assert_int_equal(get32(sim_gpu_find(&G, CMD(GET_EDID), 1)->req + 24), 2);
        uint32_t w = 0, h = 0;
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, &h), 0);
        assert_true(w == 1280 && h == 800);
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 1, &w, &h), LVIO_E_NODEV);
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 2, &w, &h), 0);
        assert_true(w == 1920 && h == 1080);
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 3, &w, &h), LVIO_E_INVAL);

        /* Each scanout shows its own framebuffer. */
        uint8_t *m0 = pages(3), *m2 = pages(3);
        struct lvio_gpu_fb f0, f2;
        fb_ok(&GPU, &f0, 64, 48, BGRX, m0, 3 * LVIO_PAGE_SIZE);
        fb_ok(&GPU, &f2, 64, 48, BGRX, m2, 3 * LVIO_PAGE_SIZE);
        assert_int_equal(lvio_gpu_show(&GPU, 0, &f0), 0);
        assert_int_equal(lvio_gpu_show(&GPU, 2, &f2), 0);
        assert_int_equal(G.scanouts[0].resource_id, f0.resource_id);
        assert_int_equal(G.scanouts[2].resource_id, f2.resource_id);
        assert_int_equal(get32(sim_gpu_find(&G, CMD(SET_SCANOUT), 1)->req + 40), 2);
        assert_int_equal(lvio_gpu_fb_destroy(&f0), 0);
        assert_int_equal(lvio_gpu_fb_destroy(&f2), 0);
        down();
    }
}

/* Without F_EDID: no GET_EDID at all, the display-info size is the mode. */
static void test_edid_not_offered(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        start(v, 1);
        sim_gpu_offer_edid(&G, false);
        init_ok();
        assert_false(GPU.has_edid);
        assert_int_equal(sim_gpu_count(&G, CMD(GET_EDID)), 0);
        assert_int_equal(GPU.scanouts[0].edid_width, 0);
        uint32_t w = 0, h = 0;
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, &h), 0);
        assert_true(w == 1024 && h == 768);
        down();
    }
}

/* A malformed or missing EDID is ignored, never fatal: the display-info
 * size is used. */
static void test_edid_malformed_ignored(void **state)
{
    (void)state;
    for (int kind = 0; kind < 5; kind++) {
        start(2, 1);
        switch (kind) {
        case 0: G.edid_bad_checksum = true; break;
        case 1: G.edid_no_timing = true; break;  /* first descriptor is not a timing */
        case 2: G.edid_size = 64; break;         /* shorter than a base block */
        case 3: G.edid_size = 5000; break;       /* larger than the response */
        case 4: G.scanouts[0].no_edid = true; break; /* device refuses GET_EDID */
        }
        init_ok();
        assert_int_equal(GPU.scanouts[0].edid_width, 0);
        assert_int_equal(GPU.scanouts[0].edid_height, 0);
        uint32_t w = 0, h = 0;
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, &h), 0);
        assert_true(w == 1024 && h == 768);
        assert_non_null(strstr(G.sim.log, kind == 4 ? "no EDID" : "not a valid EDID"));
        assert_true(GPU.scanouts[0].enabled);
        down();
    }
}

/* ---- error responses --------------------------------------------------------------- */

static const struct {
    uint32_t resp;
    const char *name;
} ERRORS[] = {
    {RESP(ERR_UNSPEC), "ERR_UNSPEC"},
    {RESP(ERR_OUT_OF_MEMORY), "ERR_OUT_OF_MEMORY"},
    {RESP(ERR_INVALID_SCANOUT_ID), "ERR_INVALID_SCANOUT_ID"},
    {RESP(ERR_INVALID_RESOURCE_ID), "ERR_INVALID_RESOURCE_ID"},
    {RESP(ERR_INVALID_CONTEXT_ID), "ERR_INVALID_CONTEXT_ID"},
    {RESP(ERR_INVALID_PARAMETER), "ERR_INVALID_PARAMETER"},
};
#define NERRORS (sizeof ERRORS / sizeof ERRORS[0])

static void fault(uint32_t cmd, enum sim_gpu_fault_kind kind, uint32_t value, int times)
{
    G.fault_cmd = cmd;
    G.fault_kind = kind;
    G.fault_value = value;
    G.fault_times = times;
}

/* The last error's message names `cmd` (and `detail`, when given). */
static void check_message(const char *cmd, const char *detail)
{
    const char *msg = lvio_device_error(&D);
    if (!strstr(msg, cmd) || (detail && !strstr(msg, detail)))
        fail_msg("error message \"%s\" does not name %s%s%s", msg, cmd, detail ? " and " : "",
                 detail ? detail : "");
}

/* Every error response is LVIO_E_REFUSED with its spec name, whichever
 * command it answers; the driver stays usable afterwards. */
static void test_error_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < NERRORS; i++) {
        up(i % 2 ? 1 : 2);
        uint8_t *mem = pages(3);
        struct lvio_gpu_fb fb;
        unsigned pages_before = (unsigned)G.sim.live_pages;

        /* RESOURCE_CREATE_2D refused: nothing is left behind. */
        fault(CMD(RESOURCE_CREATE_2D), SIM_GPU_FAULT_ERROR, ERRORS[i].resp, 1);
        int err = lvio_gpu_fb_create(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE, ROOM);
        assert_int_equal(err, LVIO_E_REFUSED);
        assert_string_equal(lvio_gpu_errname(&GPU, err), ERRORS[i].name);
        assert_string_equal(lvio_gpu_resp_name(ERRORS[i].resp), ERRORS[i].name);
        assert_int_equal(GPU.last_resp, ERRORS[i].resp);
        assert_int_equal(GPU.last_cmd, CMD(RESOURCE_CREATE_2D));
        check_message("RESOURCE_CREATE_2D", ERRORS[i].name);
        assert_int_equal(G.sim.live_shares, 0);
        assert_int_equal((unsigned)G.sim.live_pages, pages_before);
        assert_int_equal(sim_gpu_live_resources(&G), 0);

        /* SET_SCANOUT refused in the middle of a show batch. */
        fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
        fault(CMD(SET_SCANOUT), SIM_GPU_FAULT_ERROR, ERRORS[i].resp, 1);
        err = lvio_gpu_show(&GPU, 0, &fb);
        assert_int_equal(err, LVIO_E_REFUSED);
        assert_string_equal(lvio_gpu_errname(&GPU, err), ERRORS[i].name);
        assert_int_equal(GPU.last_cmd, CMD(SET_SCANOUT));
        check_message("SET_SCANOUT", ERRORS[i].name);
        assert_int_equal(GPU.scanouts[0].resource_id, 0); /* not shown */

        /* RESOURCE_FLUSH refused in a present batch. */
        fault(CMD(RESOURCE_FLUSH), SIM_GPU_FAULT_ERROR, ERRORS[i].resp, 1);
        err = lvio_gpu_present(&fb, NULL);
        assert_int_equal(err, LVIO_E_REFUSED);
        assert_string_equal(lvio_gpu_errname(&GPU, err), ERRORS[i].name);
        check_message("RESOURCE_FLUSH", ERRORS[i].name);

        /* GET_DISPLAY_INFO refused. */
        fault(CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_ERROR, ERRORS[i].resp, 1);
        err = lvio_gpu_query(&GPU);
        assert_int_equal(err, LVIO_E_REFUSED);
        assert_string_equal(lvio_gpu_errname(&GPU, err), ERRORS[i].name);
        check_message("GET_DISPLAY_INFO", ERRORS[i].name);

        /* Every slot came back: the driver still works. */
        assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
        assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
        assert_int_equal(lvio_gpu_query(&GPU), 0);
        assert_string_equal(lvio_gpu_errname(&GPU, 0), "LVIO_OK");
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        down();
    }
}

/* An error on ATTACH_BACKING: the created resource is unreferenced and the
 * memory unshared; the reported error is still the attach's. */
static void test_attach_refused_unrefs(void **state)
{
    (void)state;
    up(2);
    G.sim.share_run = 1;
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    int pages_before = G.sim.live_pages;
    fault(CMD(RESOURCE_ATTACH_BACKING), SIM_GPU_FAULT_ERROR, RESP(ERR_OUT_OF_MEMORY), 1);
    sim_gpu_clear_log(&G);
    int err = lvio_gpu_fb_create(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE, ROOM);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_OUT_OF_MEMORY");
    assert_int_equal(GPU.last_cmd, CMD(RESOURCE_ATTACH_BACKING));
    check_message("RESOURCE_ATTACH_BACKING", "ERR_OUT_OF_MEMORY");
    const struct sim_gpu_cmd *u = sim_gpu_find(&G, CMD(RESOURCE_UNREF), 0);
    assert_non_null(u);
    assert_int_equal(get32(u->req + 24), get32(logged(0)->req + 24));
    assert_int_equal(sim_gpu_live_resources(&G), 0);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(G.sim.unshares, G.sim.shares_made);
    assert_int_equal(G.sim.live_pages, pages_before);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), LVIO_E_INVAL); /* nothing to destroy */
    down();
}

/* Responses shorter than a header, of the wrong OK type, or with a short
 * body are LVIO_E_DEVICE naming the command; the slot is usable again. */
static void test_bad_responses(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
    static const struct {
        uint32_t cmd;
        enum sim_gpu_fault_kind kind;
        uint32_t value;
        const char *says;
    } cases[] = {
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SHORT, 0, "shorter than its header"},
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SHORT, 23, "shorter than its header"},
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SHORT, 100, "100 bytes"},
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SHORT, 407, "407 bytes"},
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_WRONG_TYPE, RESP(OK_NODATA), "OK_NODATA"},
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_WRONG_TYPE, RESP(OK_EDID), "OK_EDID"},
        {CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_WRONG_TYPE, 0x4242, "0x4242"},
        {CMD(GET_EDID), SIM_GPU_FAULT_SHORT, 24 + 8 + 100, "132 bytes"},
        {CMD(GET_EDID), SIM_GPU_FAULT_WRONG_TYPE, RESP(OK_DISPLAY_INFO), "OK_DISPLAY_INFO"},
        {CMD(RESOURCE_FLUSH), SIM_GPU_FAULT_SHORT, 8, "shorter than its header"},
        {CMD(RESOURCE_FLUSH), SIM_GPU_FAULT_WRONG_TYPE, RESP(OK_DISPLAY_INFO), "OK_DISPLAY_INFO"},
        {CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_WRONG_TYPE, 0, "0x0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fault(cases[i].cmd, cases[i].kind, cases[i].value, 1);
        int err = cases[i].cmd == CMD(GET_DISPLAY_INFO) || cases[i].cmd == CMD(GET_EDID)
                      ? lvio_gpu_query(&GPU)
                      : lvio_gpu_present(&fb, NULL);
        if (err != LVIO_E_DEVICE)
            fail_msg("case %zu (%s): %s, expected LVIO_E_DEVICE (%s)", i,
                     lvio_gpu_cmd_name(cases[i].cmd), lvio_gpu_errname(&GPU, err),
                     lvio_device_error(&D));
        assert_string_equal(lvio_gpu_errname(&GPU, err), "LVIO_E_DEVICE");
        check_message(lvio_gpu_cmd_name(cases[i].cmd), cases[i].says);
        assert_int_equal(G.fault_times, 0); /* the fault was hit */
        /* Nothing stuck: the same operation works again. */
        assert_int_equal(lvio_gpu_query(&GPU), 0);
        assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
    }
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);

    /* ATTACH_BACKING answered with the wrong type: no resource left behind. */
    fault(CMD(RESOURCE_ATTACH_BACKING), SIM_GPU_FAULT_WRONG_TYPE, RESP(OK_EDID), 1);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE, ROOM),
                     LVIO_E_DEVICE);
    check_message("RESOURCE_ATTACH_BACKING", "OK_EDID");
    assert_int_equal(sim_gpu_live_resources(&G), 0);
    assert_int_equal(G.sim.live_shares, 0);
    down();
}

/* A device that never answers: LVIO_E_TIMEOUT naming the command, within
 * gpu->timeout_ns; the query slot stays the device's until it completes. */
static void test_timeout_names_command(void **state)
{
    (void)state;
    up(2);
    GPU.timeout_ns = SHORT_TIMEOUT;
    fault(CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SILENT, 0, 1);
    uint64_t t0 = G.sim.now;
    int err = lvio_gpu_query(&GPU);
    assert_int_equal(err, LVIO_E_TIMEOUT);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "LVIO_E_TIMEOUT");
    check_message("GET_DISPLAY_INFO", NULL);
    assert_int_equal(GPU.last_cmd, CMD(GET_DISPLAY_INFO));
    assert_true(G.sim.now - t0 >= SHORT_TIMEOUT);
    assert_true(G.sim.now - t0 < 100 * SHORT_TIMEOUT);
    assert_int_equal(G.sim.nheld, 1);

    /* The query slot is lost: no second query into it. */
    uint32_t notifies = G.sim.notifies;
    unsigned nlog = G.nlog;
    assert_int_equal(lvio_gpu_query(&GPU), LVIO_E_AGAIN);
    check_nothing_sent(nlog, notifies);
    /* The device answers late: the slot is free again. */
    sim_gpu_release(&G);
    assert_int_equal(lvio_gpu_query(&GPU), 0);

    /* A single command, SET_SCANOUT (show NULL). */
    fault(CMD(SET_SCANOUT), SIM_GPU_FAULT_SILENT, 0, 1);
    err = lvio_gpu_show(&GPU, 0, NULL);
    assert_int_equal(err, LVIO_E_TIMEOUT);
    check_message("SET_SCANOUT", NULL);
    assert_int_equal(GPU.last_cmd, CMD(SET_SCANOUT));
    sim_gpu_release(&G);
    down();
}

/* A command slot whose command timed out is not reused until the device
 * gives it back; when every slot is lost, LVIO_E_AGAIN with nothing sent. */
static void test_lost_slot_not_reused(void **state)
{
    (void)state;
    up(2);
    GPU.timeout_ns = SHORT_TIMEOUT;
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);

    fault(CMD(SET_SCANOUT), SIM_GPU_FAULT_SILENT, 0, 1);
    assert_int_equal(lvio_gpu_show(&GPU, 0, NULL), LVIO_E_TIMEOUT);
    uint64_t lost = sim_gpu_find(&G, CMD(SET_SCANOUT), 1)->req_addr;
    /* Many commands later, none of them went into the lost slot. */
    sim_gpu_clear_log(&G);
    for (int i = 0; i < 3 * LVIO_GPU_CMD_SLOTS; i++)
        assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
    for (unsigned i = 0; i < G.nlog; i++)
        if (logged(i)->req_addr == lost)
            fail_msg("command %u (%s) reused the slot of a command still with the device", i,
                     lvio_gpu_cmd_name(logged(i)->type));
    /* The late completion frees it for reuse. */
    sim_gpu_release(&G);
    sim_gpu_clear_log(&G);
    for (int i = 0; i < LVIO_GPU_CMD_SLOTS; i++)
        assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
    bool reused = false;
    for (unsigned i = 0; i < G.nlog; i++)
        reused |= logged(i)->req_addr == lost;
    assert_true(reused);

    /* Every flush hangs: each present loses one slot, then no slot is left. */
    fault(CMD(RESOURCE_FLUSH), SIM_GPU_FAULT_SILENT, 0, -1);
    for (int i = 0; i < LVIO_GPU_CMD_SLOTS - 1; i++)
        assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
    uint32_t notifies = G.sim.notifies;
    unsigned nlog = G.nlog;
    int err = lvio_gpu_present(&fb, NULL); /* needs two slots, one is left */
    assert_int_equal(err, LVIO_E_AGAIN);
    check_nothing_sent(nlog, notifies);
    assert_int_equal(lvio_gpu_show(&GPU, 0, NULL), 0); /* one slot is enough for this */
    fault(0, SIM_GPU_FAULT_NONE, 0, 0);
    sim_gpu_release(&G);
    assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* In a batch, the message names the command that did not answer. */
static void test_timeout_in_batch_names_command(void **state)
{
    (void)state;
    up(2);
    GPU.timeout_ns = SHORT_TIMEOUT;
    uint8_t *mem = pages(3);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 3 * LVIO_PAGE_SIZE);
    fault(CMD(RESOURCE_FLUSH), SIM_GPU_FAULT_SILENT, 0, 1);
    assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
    /* TRANSFER_TO_HOST_2D was answered; RESOURCE_FLUSH was not. */
    check_message("RESOURCE_FLUSH", NULL);
    sim_gpu_release(&G);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* ---- present and show ----------------------------------------------------------------- */

/* present: transfer + flush of the damage with ONE notify; only the damaged
 * pixels reach the device; outside damage is refused with nothing sent;
 * empty damage sends nothing. */
static void test_present(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v);
        uint8_t *mem = pages(3);
        fill(mem, 3 * LVIO_PAGE_SIZE, 1);
        struct lvio_gpu_fb fb;
        fb_ok(&GPU, &fb, 64, 48, BGRX, mem, 64 * 4 * 48);
        assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
        check_host_all(&fb);
        uint32_t flushes = G.scanouts[0].flushes;

        /* Draw everywhere, present one rectangle. */
        static uint8_t before[64 * 4 * 48];
        memcpy(before, mem, sizeof before);
        fill(mem, 64 * 4 * 48, 99);
        struct lvio_gpu_rect r = {8, 4, 16, 10};
        sim_gpu_clear_log(&G);
        uint32_t notifies = G.sim.notifies;
        assert_int_equal(lvio_gpu_present(&fb, &r), 0);
        assert_int_equal(G.sim.notifies, notifies + 1);
        assert_int_equal(G.nlog, 2);
        assert_int_equal(logged(0)->type, CMD(TRANSFER_TO_HOST_2D));
        assert_int_equal(logged(1)->type, CMD(RESOURCE_FLUSH));
        assert_int_equal(logged(0)->notifies, logged(1)->notifies);
        assert_int_equal(G.scanouts[0].flushes, flushes + 1);
        check_host_rect(fb.resource_id, &fb, &r);
        /* Outside the damage the device still has the old pixels. */
        struct sim_gpu_resource *res = sim_gpu_resource(&G, fb.resource_id);
        assert_memory_equal(res->host, before, 4 * 256);          /* rows 0..3 */
        assert_memory_equal(res->host + 4 * 256, before + 4 * 256, 8 * 4); /* row 4, x < 8 */
        assert_memory_equal(res->host + 14 * 256, before + 14 * 256, 34 * 256); /* rows 14.. */

        /* Outside the framebuffer: refused, nothing sent. */
        static const struct lvio_gpu_rect bad[] = {
            {60, 0, 8, 8}, {0, 40, 8, 9}, {64, 0, 1, 1}, {0, 48, 1, 1},
            {0, 0, 65, 1}, {0, 0, 1, 49}, {UINT32_MAX, 0, 2, 2}, {0, UINT32_MAX, 2, 2},
            {1, 0, UINT32_MAX, 1}, {0, 1, 1, UINT32_MAX},
        };
        unsigned nlog = G.nlog;
        notifies = G.sim.notifies;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            if (lvio_gpu_present(&fb, &bad[i]) != LVIO_E_INVAL)
                fail_msg("damage %ux%u at (%u,%u) accepted", bad[i].width, bad[i].height,
                         bad[i].x, bad[i].y);
        }
        check_nothing_sent(nlog, notifies);

        /* Empty damage: nothing at all. */
        struct lvio_gpu_rect empty[] = {{5, 5, 0, 3}, {5, 5, 3, 0}, {0, 0, 0, 0}};
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(lvio_gpu_present(&fb, &empty[i]), 0);
        check_nothing_sent(nlog, notifies);

        /* NULL: the whole framebuffer. */
        assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
        assert_int_equal(G.sim.notifies, notifies + 1);
        const struct sim_gpu_cmd *t = logged(nlog);
        assert_int_equal(t->type, CMD(TRANSFER_TO_HOST_2D));
        assert_int_equal(get32(t->req + 32), 64);
        assert_int_equal(get32(t->req + 36), 48);
        assert_int_equal(get64(t->req + 40), 0);
        check_host_all(&fb);
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        down();
    }
}

/* show: transfer + set_scanout + flush in one notify; flipping between two
 * framebuffers; show(NULL) turns the scanout off. */
static void test_show_flip_and_off(void **state)
{
    (void)state;
    up(2);
    uint8_t *ma = pages(3), *mb = pages(3);
    fill(ma, 3 * LVIO_PAGE_SIZE, 10);
    fill(mb, 3 * LVIO_PAGE_SIZE, 20);
    struct lvio_gpu_fb a, b;
    fb_ok(&GPU, &a, 64, 48, BGRX, ma, 3 * LVIO_PAGE_SIZE);
    fb_ok(&GPU, &b, 64, 48, BGRX, mb, 3 * LVIO_PAGE_SIZE);
    for (int round = 0; round < 3; round++) {
        struct lvio_gpu_fb *fb = round % 2 ? &b : &a;
        sim_gpu_clear_log(&G);
        uint32_t notifies = G.sim.notifies;
        assert_int_equal(lvio_gpu_show(&GPU, 0, fb), 0);
        assert_int_equal(G.sim.notifies, notifies + 1);
        assert_int_equal(G.nlog, 3);
        assert_int_equal(logged(0)->type, CMD(TRANSFER_TO_HOST_2D));
        assert_int_equal(logged(1)->type, CMD(SET_SCANOUT));
        assert_int_equal(logged(2)->type, CMD(RESOURCE_FLUSH));
        for (unsigned i = 0; i < 3; i++)
            assert_int_equal(logged(i)->notifies, notifies + 1);
        assert_int_equal(G.scanouts[0].resource_id, fb->resource_id);
        assert_int_equal(GPU.scanouts[0].resource_id, fb->resource_id);
        assert_int_equal(get32((const uint8_t *)&G.scanouts[0].rect + 8), 64);
        check_host_all(fb);
    }
    /* Off. */
    sim_gpu_clear_log(&G);
    uint32_t notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_show(&GPU, 0, NULL), 0);
    assert_int_equal(G.sim.notifies, notifies + 1);
    assert_int_equal(G.nlog, 1);
    uint8_t want[48];
    want_hdr(want, 48, CMD(SET_SCANOUT));
    check_bytes(logged(0), want, 48);
    assert_int_equal(G.scanouts[0].resource_id, 0);
    assert_int_equal(GPU.scanouts[0].resource_id, 0);
    /* No scanout 1 on this device: refused, nothing sent. */
    unsigned nlog = G.nlog;
    notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_show(&GPU, 1, &a), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_show(&GPU, 1, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_show(&GPU, 16, &a), LVIO_E_INVAL);
    check_nothing_sent(nlog, notifies);
    assert_int_equal(lvio_gpu_fb_destroy(&a), 0);
    assert_int_equal(lvio_gpu_fb_destroy(&b), 0);
    down();
}

/* ---- scatter-gather backing ---------------------------------------------------------- */

/* The mem entries of the last ATTACH_BACKING match what share() handed out:
 * every shared piece is inside an entry, in order, and two entries are never
 * device-contiguous (they would have been merged). Returns the count. */
static uint32_t check_entries_match_shares(const struct lvio_gpu_fb *fb)
{
    const struct sim_gpu_cmd *a = NULL;
    for (unsigned i = 0; sim_gpu_find(&G, CMD(RESOURCE_ATTACH_BACKING), i); i++)
        a = sim_gpu_find(&G, CMD(RESOURCE_ATTACH_BACKING), i);
    assert_non_null(a);
    uint32_t nr = get32(a->req + 28);
    assert_int_equal(nr, fb->nr_entries);
    assert_int_equal(a->extra_len, nr * 16);
    struct sim_gpu_resource *res = sim_gpu_resource(&G, fb->resource_id);
    assert_non_null(res);
    assert_int_equal(res->nr_entries, nr);
    /* Walk the pixels page piece by page piece. */
    const uint8_t *p = fb->pixels, *end = fb->pixels + fb->size;
    uint32_t e = 0;
    uint64_t in = 0;
    while (p < end) {
        const struct sim_share *sh = sim_share_of(&G.sim, p);
        assert_non_null(sh);
        assert_ptr_equal(sh->cpu, p); /* a share starts at each piece */
        assert_true(e < nr);
        uint64_t addr = lvio_le64_to_cpu(res->entries[e].addr);
        uint32_t len = lvio_le32_to_cpu(res->entries[e].length);
        if (sh->dev != addr + in)
            fail_msg("piece at byte %td shared at 0x%llx, entry %u says 0x%llx", p - fb->pixels,
                     (unsigned long long)sh->dev, e, (unsigned long long)(addr + in));
        assert_true(in + sh->len <= len);
        assert_int_equal(res->entries[e].padding, 0);
        in += sh->len;
        p += sh->len;
        if (in == len) {
            e++;
            in = 0;
        }
    }
    assert_int_equal(e, nr);
    for (uint32_t i = 1; i < nr; i++) {
        uint64_t prev_end = lvio_le64_to_cpu(res->entries[i - 1].addr) +
                            lvio_le32_to_cpu(res->entries[i - 1].length);
        if (prev_end == lvio_le64_to_cpu(res->entries[i].addr))
            fail_msg("entries %u and %u are contiguous but not merged", i - 1, i);
    }
    /* The device's wire copy is the same as what it keeps. */
    for (uint32_t i = 0; i < nr && i < SIM_GPU_EXTRA_MAX / 16; i++)
        assert_memory_equal(a->extra + 16 * i, &res->entries[i], 16);
    return nr;
}

static void test_scatter_gather(void **state)
{
    (void)state;
    static const struct {
        unsigned run;         /* share_run */
        size_t offset;        /* start of the pixels in their first page */
        uint32_t w, h;
        uint32_t entries;     /* expected */
        uint32_t first_len;
    } cases[] = {
        {1, 0, 64, 64, 4, 4096},        /* 4 pages, every one elsewhere */
        {0, 0, 64, 64, 1, 16384},       /* contiguous: one entry */
        {3, 0, 128, 80, 4, 3 * 4096},   /* 10 pages in runs of 3: 3+3+3+1 */
        {2, 0, 128, 80, 5, 2 * 4096},   /* runs of 2 */
        {1, 256, 64, 64, 5, 3840},      /* unaligned start: 3840+3*4096+256 */
        {0, 256, 64, 64, 1, 16384},     /* unaligned, contiguous */
        {2, 1024, 100, 50, 3, 3072 + 4096}, /* 20000 bytes from 1024: 3072+4096 | 8192 | 4640 */
        {1, 4, 16, 16, 1, 1024},        /* small, inside one page */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        up(2);
        G.sim.share_run = cases[i].run;
        size_t size = (size_t)cases[i].w * 4 * cases[i].h;
        uint8_t *mem = pages((cases[i].offset + size + LVIO_PAGE_SIZE - 1) / LVIO_PAGE_SIZE);
        uint8_t *px = mem + cases[i].offset;
        fill(px, size, (uint8_t)i);
        struct lvio_gpu_fb fb;
        fb_ok(&GPU, &fb, cases[i].w, cases[i].h, BGRX, px, size);
        uint32_t nr = check_entries_match_shares(&fb);
        if (nr != cases[i].entries)
            fail_msg("case %zu: %u entries, expected %u", i, nr, cases[i].entries);
        assert_int_equal(lvio_le32_to_cpu(fb.entries[0].length), cases[i].first_len);
        if (cases[i].run == 0)
            assert_int_equal(lvio_le64_to_cpu(fb.entries[0].addr), SIM_SHARE_OFFSET + (uintptr_t)px);
        else
            assert_int_equal(lvio_le64_to_cpu(fb.entries[0].addr) & 0xfff, cases[i].offset & 0xfff);
        /* The device reads exactly the pixels through them (transfer in
         * rows when the first row starts mid-page). */
        if (cases[i].w >= 16 && cases[i].h >= 16)
            assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
        struct lvio_gpu_rect part = {3, 5, cases[i].w - 5, cases[i].h - 7};
        fill(px, size, (uint8_t)(i + 50));
        assert_int_equal(lvio_gpu_present(&fb, &part), 0);
        check_host_rect(fb.resource_id, &fb, &part);
        assert_int_equal(lvio_gpu_present(&fb, NULL), 0);
        check_host_all(&fb);
        /* Every piece is unshared exactly as it was shared. */
        unsigned made = G.sim.shares_made;
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        assert_int_equal(G.sim.live_shares, 0);
        assert_int_equal(G.sim.unshares, made);
        assert_string_equal(G.sim.error, "");
        down();
    }
}

/* A large framebuffer, scattered page by page: hundreds of entries, all
 * correct; the device sees every pixel. */
static void test_scatter_gather_large(void **state)
{
    (void)state;
    up(2);
    G.sim.share_run = 1;
    uint32_t w = 640, h = 480;
    size_t size = (size_t)w * 4 * h; /* 300 pages */
    uint8_t *mem = pages(size / LVIO_PAGE_SIZE);
    fill(mem, size, 5);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, w, h, BGRX, mem, size);
    assert_int_equal(check_entries_match_shares(&fb), 300);
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
    check_host_all(&fb);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* Nothing leaks: every share is unshared on destroy and on failed creates;
 * after destroy + teardown no DMA page is left. */
static void test_no_leaks_on_failure(void **state)
{
    (void)state;
    up(2);
    G.sim.share_run = 1;
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    int base = G.sim.live_pages;

    /* The device is out of memory. */
    fault(CMD(RESOURCE_CREATE_2D), SIM_GPU_FAULT_ERROR, RESP(ERR_OUT_OF_MEMORY), 1);
    sim_gpu_clear_log(&G);
    int err = lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE, ROOM);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_OUT_OF_MEMORY");
    assert_int_equal(G.sim.shares_made, 4);
    assert_int_equal(G.sim.unshares, 4);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(G.sim.live_pages, base);
    assert_int_equal(sim_gpu_count(&G, CMD(RESOURCE_UNREF)), 0); /* nothing was created */
    assert_string_equal(G.sim.error, "");

    unsigned nlog = G.nlog;
    uint32_t notifies = G.sim.notifies;

    /* No DMA page for the backing list. */
    G.sim.fail_alloc_after = 0;
    unsigned made = G.sim.shares_made;
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE, ROOM),
                     LVIO_E_NOMEM);
    check_nothing_sent(nlog, notifies);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(G.sim.unshares, G.sim.shares_made);
    assert_true(G.sim.shares_made >= made);
    G.sim.fail_alloc_after = -1;

    /* A device that never answers the create: still nothing kept. */
    GPU.timeout_ns = SHORT_TIMEOUT;
    fault(CMD(RESOURCE_CREATE_2D), SIM_GPU_FAULT_SILENT, 0, 1);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE, ROOM),
                     LVIO_E_TIMEOUT);
    assert_int_equal(G.sim.live_pages, base);
    sim_gpu_release(&G);

    /* Success, then destroy and teardown: nothing left. */
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
    assert_true(G.sim.live_pages > base); /* the backing list */
    assert_int_equal(G.sim.live_shares, 4);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    assert_int_equal(G.sim.live_pages, base);
    down();
}

/* share() fails part way: the pieces already shared are unshared, each
 * exactly once, and nothing reaches the device. */
static void test_share_failure_releases(void **state)
{
    (void)state;
    up(2);
    G.sim.share_run = 1;
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    int base = G.sim.live_pages;
    unsigned nlog = G.nlog;
    uint32_t notifies = G.sim.notifies;
    G.sim.share_fail_after = 2; /* the third page cannot be shared */
    int err = lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE, ROOM);
    assert_int_equal(err, LVIO_E_NOMEM); /* what share() said */
    check_nothing_sent(nlog, notifies);
    assert_int_equal(G.sim.shares_made, 2);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(G.sim.live_pages, base);
    assert_string_equal(G.sim.error, ""); /* no unshare of memory not shared */
    assert_int_equal(G.sim.unshares, 2);
    G.sim.share_fail_after = -1;
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* A command that timed out is still the device's: the memory its chain
 * names (here the backing list ATTACH_BACKING points to) must stay valid
 * until the device gives the chain back, as the command slot does. */
static void test_timed_out_attach_keeps_buffers(void **state)
{
    (void)state;
    up(2);
    GPU.timeout_ns = SHORT_TIMEOUT;
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    fault(CMD(RESOURCE_ATTACH_BACKING), SIM_GPU_FAULT_SILENT, 0, 1);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE, ROOM),
                     LVIO_E_TIMEOUT);
    assert_int_equal(G.sim.nheld, 1);
    sim_gpu_release(&G); /* the device reads the chain's buffers now */
    assert_string_equal(G.sim.error, "");
    down();
}

/* A transfer that timed out may still read the pixels: destroying the
 * framebuffer keeps them shared (lvio_gpu_memory_busy says so) until the
 * device gives the chain back, or until a reset. */
static void test_timed_out_transfer_keeps_destroyed_fb(void **state)
{
    (void)state;
    for (int recover = 0; recover < 2; recover++) {
        up(2);
        GPU.timeout_ns = SHORT_TIMEOUT;
        uint8_t *mem = pages(4);
        uint8_t *other = pages(4);
        struct lvio_gpu_fb fb;
        fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
        fault(CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_SILENT, 0, 1);
        assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
        assert_false(lvio_gpu_memory_busy(&GPU, mem, 4 * LVIO_PAGE_SIZE)); /* fb still lives */
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        assert_int_equal(G.sim.live_shares, 4);
        assert_true(lvio_gpu_memory_busy(&GPU, mem, 4 * LVIO_PAGE_SIZE));
        assert_true(lvio_gpu_memory_busy(&GPU, mem + 3 * LVIO_PAGE_SIZE + 17, 1));
        assert_false(lvio_gpu_memory_busy(&GPU, other, 4 * LVIO_PAGE_SIZE));
        assert_false(lvio_gpu_memory_busy(&GPU, mem - 1, 1));
        assert_false(lvio_gpu_memory_busy(NULL, mem, 1));
        if (recover) {
            assert_int_equal(lvio_gpu_reset(&GPU), 0);
        } else {
            sim_gpu_release(&G); /* the device answers late */
            assert_int_equal(lvio_gpu_query(&GPU), 0); /* which the driver notices */
        }
        assert_false(lvio_gpu_memory_busy(&GPU, mem, 4 * LVIO_PAGE_SIZE));
        assert_int_equal(G.sim.live_shares, 0);
        assert_string_equal(G.sim.error, "");
        down();
    }
}

/* Recovery: after a command timed out (with an ATTACH_BACKING lost, so the
 * driver holds memory for it), lvio_gpu_reset brings the GPU back: held
 * memory returned, modes re-read, old framebuffers refused and released
 * without commands, new ones work; the timeout the caller set is kept. */
static void test_reset_recovers(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v);
        GPU.timeout_ns = SHORT_TIMEOUT;
        uint8_t *mem = pages(4);
        uint8_t *mem2 = pages(4);
        struct lvio_gpu_fb fb, lost, fresh;
        fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
        assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
        fault(CMD(RESOURCE_ATTACH_BACKING), SIM_GPU_FAULT_SILENT, 0, 1);
        assert_int_equal(lvio_gpu_fb_create(&GPU, &lost, 64, 64, BGRX, mem2, 4 * LVIO_PAGE_SIZE, ROOM),
                         LVIO_E_TIMEOUT);
        fault(CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_SILENT, 0, 1);
        assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);

        uint32_t epoch = GPU.epoch;
        assert_int_equal(lvio_gpu_reset(&GPU), 0);
        assert_int_equal(GPU.epoch, epoch + 1);
        assert_int_equal(GPU.timeout_ns, SHORT_TIMEOUT);
        assert_true(GPU.scanouts[0].enabled);
        assert_int_equal(G.sim.live_shares, 4); /* only fb's own pages are still shared */

        unsigned nlog = G.nlog;
        uint32_t notifies = G.sim.notifies;
        assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_INVAL);
        assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), LVIO_E_INVAL);
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        check_nothing_sent(nlog, notifies);
        assert_int_equal(G.sim.live_shares, 0);

        fb_ok(&GPU, &fresh, 64, 64, BGRX, mem2, 4 * LVIO_PAGE_SIZE);
        assert_int_equal(lvio_gpu_show(&GPU, 0, &fresh), 0);
        assert_int_equal(lvio_gpu_present(&fresh, NULL), 0);
        assert_int_equal(lvio_gpu_fb_destroy(&fresh), 0);
        down();
    }
    struct lvio_gpu never;
    memset(&never, 0, sizeof never);
    assert_int_equal(lvio_gpu_reset(&never), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_reset(NULL), LVIO_E_INVAL);
}

/* fb_destroy after the GPU's teardown only releases the memory shares. */
static void test_destroy_after_teardown(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
    lvio_gpu_teardown(&GPU);
    assert_int_equal(G.sim.status, 0);
    unsigned nlog = G.nlog;
    uint32_t notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    check_nothing_sent(nlog, notifies);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(G.sim.live_pages, 0);
    assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_INVAL);
    down(); /* a second teardown is harmless */
}

/* ---- resource ids -------------------------------------------------------------------- */

static void test_resource_ids(void **state)
{
    (void)state;
    up(2);
    static struct sim_gpu G2;
    static struct lvio_device D2;
    static struct lvio_gpu GPU2;
    sim_gpu_init(&G2, 1, 1);
    sim_probe(&G2.sim, &D2);
    assert_int_equal(lvio_gpu_init(&GPU2, &D2), 0);

    uint8_t *m1 = pages(3), *m2 = pages(3), *m3 = pages(3);
    struct lvio_gpu_fb a, b, c;
    fb_ok(&GPU, &a, 64, 48, BGRX, m1, 3 * LVIO_PAGE_SIZE);
    fb_ok(&GPU, &b, 64, 48, BGRX, m2, 3 * LVIO_PAGE_SIZE);
    assert_int_not_equal(a.resource_id, 0);
    assert_int_not_equal(b.resource_id, 0);
    assert_int_not_equal(a.resource_id, b.resource_id);
    assert_int_equal(sim_gpu_live_resources(&G), 2);
    /* The second GPU counts on its own. */
    fb_ok(&GPU2, &c, 64, 48, BGRX, m3, 3 * LVIO_PAGE_SIZE);
    assert_int_equal(c.resource_id, 1);
    assert_int_equal(sim_gpu_live_resources(&G2), 1);
    assert_int_equal(sim_gpu_live_resources(&G), 2);
    assert_int_equal(sim_gpu_count(&G2, CMD(RESOURCE_CREATE_2D)), 1);
    assert_int_equal(sim_gpu_count(&G, CMD(RESOURCE_CREATE_2D)), 2);
    /* Framebuffers belong to their GPU. */
    assert_int_equal(lvio_gpu_show(&GPU, 0, &c), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_show(&GPU2, 0, &a), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU2, 0, &a, 0, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_show(&GPU2, 0, &c), 0);
    assert_int_equal(G2.scanouts[0].resource_id, c.resource_id);
    assert_int_equal(G.scanouts[0].resource_id, 0);
    /* A new framebuffer never takes an id in use. */
    assert_int_equal(lvio_gpu_fb_destroy(&a), 0);
    fb_ok(&GPU, &a, 64, 48, BGRX, m1, 3 * LVIO_PAGE_SIZE);
    assert_int_not_equal(a.resource_id, b.resource_id);
    assert_int_equal(sim_gpu_live_resources(&G), 2);

    assert_int_equal(lvio_gpu_fb_destroy(&c), 0);
    lvio_gpu_teardown(&GPU2);
    assert_string_equal(G2.sim.error, "");
    assert_int_equal(G2.sim.live_pages, 0);
    assert_int_equal(G2.sim.live_shares, 0);
    sim_gpu_fini(&G2);
    assert_int_equal(lvio_gpu_fb_destroy(&a), 0);
    assert_int_equal(lvio_gpu_fb_destroy(&b), 0);
    down();
}

/* ---- display events -------------------------------------------------------------------- */

static void test_display_events(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v);
        /* Nothing pending: 0, nothing sent, nothing written. */
        unsigned nlog = G.nlog;
        uint32_t notifies = G.sim.notifies;
        assert_int_equal(lvio_gpu_poll_events(&GPU), 0);
        check_nothing_sent(nlog, notifies);
        assert_int_equal(G.events_clear_writes, 0);

        /* The host window was resized. */
        sim_gpu_set_mode(&G, 0, true, 1600, 900);
        G.scanouts[0].edid_width = 0; /* EDID follows the new size */
        G.scanouts[0].edid_height = 0;
        sim_gpu_raise_display_event(&G);
        assert_int_equal(lvio_gpu_poll_events(&GPU), 1);
        assert_int_equal(G.events_clear_writes, 1);
        assert_int_equal(G.events_cleared, LVIO_VIRTIO_GPU_EVENT_DISPLAY);
        assert_int_equal(G.events_read, 0);
        assert_int_equal(sim_gpu_count(&G, CMD(GET_DISPLAY_INFO)), 2);
        assert_int_equal(sim_gpu_count(&G, CMD(GET_EDID)), 2);
        uint32_t w = 0, h = 0;
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, &h), 0);
        assert_true(w == 1600 && h == 900);
        assert_int_equal(GPU.scanouts[0].rect.width, 1600);

        /* Handled: nothing more. */
        nlog = G.nlog;
        notifies = G.sim.notifies;
        assert_int_equal(lvio_gpu_poll_events(&GPU), 0);
        check_nothing_sent(nlog, notifies);
        assert_int_equal(G.events_clear_writes, 1);

        /* The display is unplugged. */
        sim_gpu_set_mode(&G, 0, false, 0, 0);
        sim_gpu_raise_display_event(&G);
        assert_int_equal(lvio_gpu_poll_events(&GPU), 1);
        assert_false(GPU.scanouts[0].enabled);
        assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, &h), LVIO_E_NODEV);
        down();
    }
}

/* ---- cursor ---------------------------------------------------------------------------- */

static void test_cursor(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(4), *small = pages(1), *big = pages(5);
    fill(mem, 4 * LVIO_PAGE_SIZE, 33);
    struct lvio_gpu_fb img, img32, img80;
    fb_ok(&GPU, &img, 64, 64, BGRA, mem, 4 * LVIO_PAGE_SIZE);
    fb_ok(&GPU, &img32, 32, 32, BGRA, small, LVIO_PAGE_SIZE);
    fb_ok(&GPU, &img80, 64, 80, BGRA, big, 5 * LVIO_PAGE_SIZE);

    /* Set: the pixels reach the device before UPDATE_CURSOR. */
    sim_gpu_clear_log(&G);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img, 63, 0, 10, 20), 0);
    assert_int_equal(G.nlog, 2);
    assert_int_equal(logged(0)->type, CMD(TRANSFER_TO_HOST_2D));
    assert_int_equal(logged(1)->type, CMD(UPDATE_CURSOR));
    assert_int_equal(G.cursor.updates, 1);
    assert_int_equal(G.cursor.hot_x, 63);
    assert_int_equal(G.cursor.hot_y, 0);
    assert_memory_equal(G.cursor.image, mem, sizeof G.cursor.image);

    /* A new image in the same framebuffer: transferred again. */
    fill(mem, 4 * LVIO_PAGE_SIZE, 44);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img, 1, 2, 10, 20), 0);
    assert_memory_equal(G.cursor.image, mem, sizeof G.cursor.image);

    /* Moves, more of them than there are cursor slots. */
    for (uint32_t i = 0; i < 3 * LVIO_GPU_CURSOR_SLOTS; i++) {
        assert_int_equal(lvio_gpu_cursor_move(&GPU, 0, i, 2 * i), 0);
        assert_int_equal(G.cursor.x, i);
        assert_int_equal(G.cursor.y, 2 * i);
    }
    assert_int_equal(G.cursor.moves, 3 * LVIO_GPU_CURSOR_SLOTS);
    assert_int_equal(G.cursor.resource_id, img.resource_id);

    /* Hide: UPDATE_CURSOR with resource 0, no transfer. */
    sim_gpu_clear_log(&G);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, NULL, 0, 0, 0, 0), 0);
    assert_int_equal(G.nlog, 1);
    uint8_t want[56];
    want_hdr(want, 56, CMD(UPDATE_CURSOR));
    check_bytes(logged(0), want, 56);
    assert_int_equal(G.cursor.resource_id, 0);

    /* Bad size, hotspot or scanout: refused, nothing sent. */
    unsigned nlog = G.nlog;
    uint32_t notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img32, 0, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img80, 0, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img, 64, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img, 0, 64, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &img, UINT32_MAX, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 1, &img, 0, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 1, NULL, 0, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_move(&GPU, 1, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_move(NULL, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(NULL, 0, NULL, 0, 0, 0, 0), LVIO_E_INVAL);
    check_nothing_sent(nlog, notifies);

    /* The image's transfer refused: no UPDATE_CURSOR. */
    fault(CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_ERROR, RESP(ERR_INVALID_RESOURCE_ID), 1);
    sim_gpu_clear_log(&G);
    int err = lvio_gpu_cursor_set(&GPU, 0, &img, 0, 0, 0, 0);
    assert_int_equal(err, LVIO_E_REFUSED);
    assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_INVALID_RESOURCE_ID");
    assert_int_equal(sim_gpu_count(&G, CMD(UPDATE_CURSOR)), 0);

    assert_int_equal(lvio_gpu_fb_destroy(&img), 0);
    assert_int_equal(lvio_gpu_fb_destroy(&img32), 0);
    assert_int_equal(lvio_gpu_fb_destroy(&img80), 0);
    down();
}

/* ---- bad arguments and failed initialisation ---------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb, zero;
    memset(&zero, 0, sizeof zero);
    unsigned nlog = G.nlog;
    uint32_t notifies = G.sim.notifies;
    int base = G.sim.live_pages;
    size_t size = 4 * LVIO_PAGE_SIZE;

    assert_int_equal(lvio_gpu_fb_create(NULL, &fb, 64, 64, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, NULL, 64, 64, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, NULL, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 0, 64, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 0, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 16385, 1, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 1, 16385, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, UINT32_MAX, UINT32_MAX, BGRX, mem, size, ROOM),
                     LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, 0, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, 5, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, 999, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem + 1, size - 4, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem + 2, size - 4, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, size - 1, ROOM), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 0, ROOM), LVIO_E_INVAL);
    check_nothing_sent(nlog, notifies);
    assert_int_equal(G.sim.shares_made, 0);
    assert_int_equal(G.sim.live_pages, base);

    /* Framebuffers that were never created, or destroyed. */
    assert_int_equal(lvio_gpu_show(&GPU, 0, &zero), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_present(&zero, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_present(NULL, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_destroy(&zero), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_destroy(NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &zero, 0, 0, 0, 0), LVIO_E_INVAL);
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, size);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    nlog = G.nlog;
    notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_set(&GPU, 0, &fb, 0, 0, 0, 0), LVIO_E_INVAL);

    /* Other entry points. */
    uint32_t w, h;
    assert_int_equal(lvio_gpu_show(NULL, 0, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_query(NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_poll_events(NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_preferred_mode(NULL, 0, &w, &h), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, NULL, &h), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_preferred_mode(&GPU, 0, &w, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_preferred_mode(&GPU, 16, &w, &h), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_preferred_mode(&GPU, UINT32_MAX, &w, &h), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_init(NULL, &D), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_init(&GPU, NULL), LVIO_E_INVAL);
    lvio_gpu_teardown(NULL);
    check_nothing_sent(nlog, notifies);

    /* Names. */
    assert_string_equal(lvio_gpu_cmd_name(CMD(RESOURCE_ATTACH_BACKING)), "RESOURCE_ATTACH_BACKING");
    assert_string_equal(lvio_gpu_cmd_name(CMD(MOVE_CURSOR)), "MOVE_CURSOR");
    assert_string_equal(lvio_gpu_cmd_name(0x99), "unknown");
    assert_string_equal(lvio_gpu_resp_name(RESP(OK_EDID)), "OK_EDID");
    assert_string_equal(lvio_gpu_resp_name(RESP(ERR_INVALID_PARAMETER) + 1), "unknown");
    assert_string_equal(lvio_gpu_errname(&GPU, LVIO_E_TIMEOUT), "LVIO_E_TIMEOUT");
    assert_string_equal(lvio_gpu_errname(NULL, LVIO_E_INVAL), "LVIO_E_INVAL");
    down();

    /* After teardown, everything is refused. */
    nlog = G.nlog;
    assert_int_equal(lvio_gpu_query(&GPU), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_poll_events(&GPU), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_show(&GPU, 0, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_cursor_move(&GPU, 0, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, size, ROOM), LVIO_E_INVAL);
    assert_int_equal(G.nlog, nlog);
}

/* A HAL without share(): framebuffers are LVIO_E_UNSUPPORTED. */
static void test_no_share_in_hal(void **state)
{
    (void)state;
    start(2, 1);
    G.sim.hal.share = NULL;
    G.sim.hal.unshare = NULL;
    init_ok();
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    unsigned nlog = G.nlog;
    uint32_t notifies = G.sim.notifies;
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE, ROOM),
                     LVIO_E_UNSUPPORTED);
    check_nothing_sent(nlog, notifies);
    down();
}

static void test_init_failures(void **state)
{
    (void)state;
    /* Not a GPU. */
    start(2, 1);
    G.sim.device_id = LVIO_VIRTIO_ID_RNG;
    sim_probe(&G.sim, &D);
    assert_int_equal(lvio_gpu_init(&GPU, &D), LVIO_E_INVAL);
    assert_int_equal(G.sim.live_pages, 0);

    /* num_scanouts out of range. */
    static const uint32_t bad_scanouts[] = {0, 17, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        start(2, bad_scanouts[i]);
        assert_int_equal(lvio_gpu_init(&GPU, &D), LVIO_E_CONFIG);
        assert_true(G.sim.status & LVIO_VIRTIO_STATUS_FAILED);
        assert_int_equal(G.sim.live_pages, 0);
        sim_gpu_fini(&G);
    }

    /* The device refuses GET_DISPLAY_INFO, or never answers it: init
     * fails with that error, FAILED, nothing kept. */
    for (int kind = 0; kind < 3; kind++) {
        start(kind == 1 ? 1 : 2, 1);
        if (kind == 0)
            fault(CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_ERROR, RESP(ERR_UNSPEC), 1);
        else if (kind == 1)
            fault(CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SHORT, 10, 1);
        else
            fault(CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SILENT, 0, 1);
        /* The timeout is set by init; the fake clock makes 2 s cheap enough. */
        if (kind == 2)
            G.sim.tick = 100000;
        int err = lvio_gpu_init(&GPU, &D);
        assert_int_equal(err, kind == 0 ? LVIO_E_REFUSED : kind == 1 ? LVIO_E_DEVICE : LVIO_E_TIMEOUT);
        if (kind == 0)
            assert_string_equal(lvio_gpu_errname(&GPU, err), "ERR_UNSPEC");
        check_message("GET_DISPLAY_INFO", NULL);
        assert_true(G.sim.status & LVIO_VIRTIO_STATUS_FAILED);
        assert_int_equal(G.sim.live_pages, 0);
        assert_string_equal(G.sim.error, "");
        sim_gpu_fini(&G);
    }

    /* No DMA memory at all, or not for the queues. */
    for (int ok = 0; ok < 3; ok++) {
        start(2, 1);
        G.sim.fail_alloc_after = ok;
        assert_int_equal(lvio_gpu_init(&GPU, &D), LVIO_E_NOMEM);
        assert_int_equal(G.sim.live_pages, 0);
        sim_gpu_fini(&G);
    }

    /* Re-initialisation after teardown works. */
    up(2);
    lvio_gpu_teardown(&GPU);
    init_ok();
    down();
}


/* ---- hardening round 2 ------------------------------------------------------ */

/* A device that rewrites the backing list it was given cannot choose what
 * the driver unshares: the driver's own copy says what was shared. */
static void test_backing_list_rewritten_by_device(void **state)
{
    (void)state;
    for (unsigned run = 0; run <= 2; run += 2) {
        up(2);
        G.sim.share_run = run; /* 0: one merged run; 2: runs of two pages */
        G.scribble_backing = true;
        uint8_t *mem = pages(8);
        struct lvio_gpu_fb fb;
        fb_ok(&GPU, &fb, 128, 64, BGRX, mem, 8 * LVIO_PAGE_SIZE);
        assert_int_equal(G.sim.live_shares, 8);
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        assert_int_equal(G.sim.live_shares, 0);
        down(); /* the model checks every unshare matched its share */
    }
}

/* With the control queue nearly full of commands that timed out, a
 * framebuffer whose CREATE_2D fits but whose ATTACH_BACKING does not is
 * not started at all: no resource is left on the device without an UNREF,
 * and the message counts only the descriptors the lost commands hold. */
static void test_create_does_not_leak_resource_when_queue_is_full(void **state)
{
    (void)state;
    start(2, 1);
    G.sim.q[0].num_max = 8; /* control queue of 8 descriptors */
    init_ok();
    assert_int_equal(GPU.ctrlq.size, 8);
    GPU.timeout_ns = SHORT_TIMEOUT;
    uint8_t *mem = pages(4);
    uint8_t *mem2 = pages(4);
    struct lvio_gpu_fb fb, fb2;
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
    fault(CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_SILENT, 0, 2);
    assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
    assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
    assert_int_equal(lvio_vq_num_free(&GPU.ctrlq), 4); /* two lost transfers hold 4 */
    unsigned live = sim_gpu_live_resources(&G);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb2, 64, 64, BGRX, mem2, 4 * LVIO_PAGE_SIZE, ROOM),
                     LVIO_E_AGAIN);
    assert_int_equal(sim_gpu_live_resources(&G), live); /* no CREATE_2D went out */
    check_message("RESOURCE_CREATE_2D", "4 free descriptors, the batch needs 5 (4 are still");
    assert_int_equal(G.sim.live_shares, 4); /* fb2's backing was released */
    sim_gpu_release(&G);
    fb_ok(&GPU, &fb2, 64, 64, BGRX, mem2, 4 * LVIO_PAGE_SIZE); /* room again */
    assert_int_equal(lvio_gpu_fb_destroy(&fb2), 0);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* A 64x64 framebuffer in 4 fresh pages, destroyed while a transfer from it
 * timed out (the device holds the chain): its pixels stay shared, held by
 * the lost command's slot. Returns the pixels. */
static uint8_t *destroyed_while_transfer_lost(void)
{
    GPU.timeout_ns = SHORT_TIMEOUT;
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
    fault(CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_SILENT, 0, 1);
    assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    return mem;
}

/* lvio_gpu_memory_busy on a range whose end wraps around the address
 * space does not match memory below it. */
static void test_memory_busy_does_not_wrap(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = destroyed_while_transfer_lost();
    assert_true(lvio_gpu_memory_busy(&GPU, mem, 1));
    /* [mem - 16, mem - 16 + SIZE_MAX) holds the pixels, though its end
     * wraps; a range high above them whose end wraps past them does not. */
    assert_true(lvio_gpu_memory_busy(&GPU, mem - 16, SIZE_MAX));
    uintptr_t top = UINTPTR_MAX - 15;
    assert_false(lvio_gpu_memory_busy(&GPU, (void *)top, (size_t)((uintptr_t)mem + 32)));
    assert_false(lvio_gpu_memory_busy(&GPU, mem, 0));
    sim_gpu_release(&G);
    assert_int_equal(lvio_gpu_query(&GPU), 0);
    down();
}

/* A GPU whose reset never completes: teardown frees nothing and unshares
 * nothing (the device may still read the pixels and write its rings), and
 * lvio_gpu_memory_busy says every framebuffer's memory is still taken. */
static void test_teardown_keeps_everything_when_reset_never_completes(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = pages(4);
    struct lvio_gpu_fb fb;
    fb_ok(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE);
    assert_int_equal(lvio_gpu_show(&GPU, 0, &fb), 0);
    int pages_live = G.sim.live_pages, shares = G.sim.live_shares;
    G.sim.reset_stuck = true;
    lvio_gpu_teardown(&GPU);
    assert_true(D.dead);
    assert_int_equal(G.sim.live_pages, pages_live);
    assert_int_equal(G.sim.live_shares, shares);
    assert_true(lvio_gpu_memory_busy(&GPU, mem, 1));
    /* Destroying the framebuffer afterwards keeps its shares too. */
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    assert_int_equal(G.sim.live_shares, shares);
    assert_int_equal(D.kept_pages, pages_live);
    assert_int_equal(D.kept_shares, shares);
    assert_non_null(strstr(G.sim.log, "LVIO_E_DEAD"));
    sim_step(&G.sim); /* the device still reads its rings: they are there */
    assert_string_equal(G.sim.error, "");
    sim_gpu_fini(&G);
    sim_free_dma(&G.sim);
    memset(G.sim.shares, 0, sizeof G.sim.shares);
}

/* init fails after the queues were given (the display query times out)
 * and the reset then never completes: LVIO_E_DEAD, both said, nothing
 * freed. */
static void test_init_failure_with_stuck_reset(void **state)
{
    (void)state;
    start(2, 1);
    fault(CMD(GET_DISPLAY_INFO), SIM_GPU_FAULT_SILENT, 0, 1);
    G.sim.reset_stuck = true;
    G.sim.resets_before_stuck = 1;
    GPU.timeout_ns = SHORT_TIMEOUT; /* init sets its own: this one is not used */
    int err = lvio_gpu_init(&GPU, &D);
    assert_int_equal(err, LVIO_E_DEAD);
    check_message("GET_DISPLAY_INFO", "reset: status still");
    assert_true(G.sim.live_pages > 0);
    assert_int_equal(G.sim.live_pages, D.kept_pages);
    sim_gpu_fini(&G);
    sim_free_dma(&G.sim);
}

/* "Wait forever": a batch with timeout UINT64_MAX waits for a device that
 * answers only after 600 000 polls. */
static void test_gpu_wait_forever(void **state)
{
    (void)state;
    up(2);
    GPU.timeout_ns = UINT64_MAX;
    G.sim.delay_polls = 600000;
    assert_int_equal(lvio_gpu_query(&GPU), 0);
    down();
}


/* The record of the runs is the caller's memory (or the framebuffer's
 * own): too little room is refused by name, nothing left shared. */
static void test_runs_room(void **state)
{
    (void)state;
    up(2);
    G.sim.share_run = 1; /* every page elsewhere: a run per page */
    uint8_t *mem = pages(16);
    struct lvio_gpu_fb fb;
    size_t size = 16 * LVIO_PAGE_SIZE;
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 256, BGRX, mem, size, NULL, 0),
                     LVIO_E_INVAL);
    check_message("8 runs", "LVIO_GPU_FB_RUNS(size) = 17");
    assert_int_equal(G.sim.live_shares, 0);
    struct lvio_gpu_run room[17];
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 256, BGRX, mem, size, room, 15),
                     LVIO_E_INVAL);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 256, BGRX, mem, size, room, 0),
                     LVIO_E_INVAL);
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 256, BGRX, mem, size, room, 17), 0);
    assert_int_equal(fb.nr_entries, 16);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    /* Contiguous memory fits in the framebuffer's own runs. */
    G.sim.share_run = 0;
    assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 256, BGRX, mem, size, NULL, 0), 0);
    assert_int_equal(fb.nr_entries, 1);
    assert_true(fb.runs == fb.inline_runs);
    assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
    down();
}

/* A framebuffer destroyed while a transfer from it is lost: the slot keeps
 * its runs (inline ones are copied; the caller's room stays busy), so the
 * caller may reuse its struct at once and the late unshare is still
 * exact. */
static void test_held_runs_survive_the_callers_struct(void **state)
{
    (void)state;
    for (int own_room = 0; own_room < 2; own_room++) {
        up(2);
        GPU.timeout_ns = SHORT_TIMEOUT;
        G.sim.share_run = 2;
        uint8_t *mem = pages(4);
        struct lvio_gpu_run room[8];
        struct lvio_gpu_fb fb;
        assert_int_equal(lvio_gpu_fb_create(&GPU, &fb, 64, 64, BGRX, mem, 4 * LVIO_PAGE_SIZE,
                                            own_room ? room : NULL, 8),
                         0);
        fault(CMD(TRANSFER_TO_HOST_2D), SIM_GPU_FAULT_SILENT, 0, 1);
        assert_int_equal(lvio_gpu_present(&fb, NULL), LVIO_E_TIMEOUT);
        assert_int_equal(lvio_gpu_fb_destroy(&fb), 0);
        assert_int_equal(lvio_gpu_memory_busy(&GPU, room, sizeof room), own_room == 1);
        memset(&fb, 0x5a, sizeof fb); /* the caller reuses its struct */
        sim_gpu_release(&G);
        assert_int_equal(lvio_gpu_query(&GPU), 0);
        assert_int_equal(G.sim.live_shares, 0);
        assert_false(lvio_gpu_memory_busy(&GPU, room, sizeof room));
        down(); /* every unshare matched its share */
    }
}

/* lvio_gpu_poll: completions of lost commands taken (their memory given
 * back) without another command; display events only when the interrupt
 * said the configuration changed. */
static void test_poll(void **state)
{
    (void)state;
    up(2);
    uint8_t *mem = destroyed_while_transfer_lost();
    assert_true(lvio_gpu_memory_busy(&GPU, mem, 1));
    sim_gpu_release(&G);
    unsigned cmds = sim_gpu_count(&G, 0);
    assert_int_equal(lvio_gpu_poll(&GPU, LVIO_VIRTIO_ISR_QUEUE), 0);
    assert_false(lvio_gpu_memory_busy(&GPU, mem, 1)); /* given back */
    assert_int_equal(G.sim.live_shares, 0);
    assert_int_equal(sim_gpu_count(&G, 0), cmds); /* no command for it */
    sim_gpu_set_mode(&G, 0, true, 800, 600);
    sim_gpu_raise_display_event(&G);
    assert_int_equal(lvio_gpu_poll(&GPU, LVIO_VIRTIO_ISR_QUEUE), 0); /* not a config change */
    assert_int_equal(G.events_clear_writes, 0);
    assert_int_equal(lvio_gpu_poll(&GPU, LVIO_VIRTIO_ISR_CONFIG), 1);
    assert_int_equal(GPU.scanouts[0].rect.width, 800);
    assert_int_equal(lvio_gpu_poll(NULL, 0), LVIO_E_INVAL);
    down();
}

#if defined(__x86_64__) && defined(__linux__)
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

/*
 * Watching the driver read a page: the page is made inaccessible; each
 * access faults, is counted by byte address, and runs once single-stepped
 * (the trap flag) with the page accessible again, after which the page is
 * closed again. So every load the driver makes from the page is counted.
 */
static uint8_t *watch_page;
static unsigned watch_reads[LVIO_PAGE_SIZE];

static void watch_segv(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uint8_t *a = si->si_addr;
    if (!watch_page || a < watch_page || a >= watch_page + LVIO_PAGE_SIZE) {
        signal(sig, SIG_DFL); /* a real fault: let it happen again, and crash */
        return;
    }
    watch_reads[a - watch_page]++;
    mprotect(watch_page, LVIO_PAGE_SIZE, PROT_READ | PROT_WRITE);
    uc->uc_mcontext.gregs[REG_EFL] |= 0x100;
}

static void watch_trap(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    (void)sig;
    (void)si;
    uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
    if (watch_page)
        mprotect(watch_page, LVIO_PAGE_SIZE, PROT_NONE);
}

/* The device has written the EDID response: watch the driver read it. */
static void watch_edid_response(struct sim_gpu *g, uint32_t type, uint8_t *out, uint32_t len)
{
    (void)g;
    (void)len;
    if (type != CMD(GET_EDID))
        return;
    watch_page = (uint8_t *)((uintptr_t)out & ~(uintptr_t)(LVIO_PAGE_SIZE - 1));
    memset(watch_reads, 0, sizeof watch_reads);
    mprotect(watch_page, LVIO_PAGE_SIZE, PROT_NONE);
}

/* Every byte of the EDID response (header, size, the EDID block) is read
 * once from device memory: the checksum and the timing come from one
 * private copy, so a device cannot change the block between them. */
static void test_edid_response_read_once(void **state)
{
    (void)state;
    struct sigaction segv = {.sa_sigaction = watch_segv, .sa_flags = SA_SIGINFO};
    struct sigaction trap = {.sa_sigaction = watch_trap, .sa_flags = SA_SIGINFO};
    struct sigaction old_segv, old_trap;
    sigaction(SIGSEGV, &segv, &old_segv);
    sigaction(SIGTRAP, &trap, &old_trap);
    up(2);
    G.responded = watch_edid_response;
    int err = lvio_gpu_query(&GPU);
    uint8_t *page = watch_page;
    watch_page = NULL;
    if (page)
        mprotect(page, LVIO_PAGE_SIZE, PROT_READ | PROT_WRITE);
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGTRAP, &old_trap, NULL);
    G.responded = NULL;
    assert_int_equal(err, 0);
    assert_non_null(page);
    unsigned total = 0;
    for (unsigned i = 0; i < LVIO_PAGE_SIZE; i++) {
        if (watch_reads[i] > 1)
            fail_msg("byte %u of the query page (response + %u) read %u times", i, i - 128,
                     watch_reads[i]);
        total += watch_reads[i];
    }
    assert_true(total >= 128); /* the block was read, and counted */
    assert_int_equal(GPU.scanouts[0].edid_width, 1280);
    down();
}
#else
static void test_edid_response_read_once(void **state)
{
    (void)state;
    skip(); /* the trap-flag watch is x86_64 Linux only */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_v1_and_v2),
        cmocka_unit_test(test_bytes_get_display_info),
        cmocka_unit_test(test_bytes_get_edid),
        cmocka_unit_test(test_bytes_create_and_attach),
        cmocka_unit_test(test_bytes_show),
        cmocka_unit_test(test_bytes_present),
        cmocka_unit_test(test_bytes_destroy),
        cmocka_unit_test(test_bytes_cursor),
        cmocka_unit_test(test_several_scanouts),
        cmocka_unit_test(test_edid_not_offered),
        cmocka_unit_test(test_edid_malformed_ignored),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_attach_refused_unrefs),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_timeout_names_command),
        cmocka_unit_test(test_lost_slot_not_reused),
        cmocka_unit_test(test_timed_out_transfer_keeps_destroyed_fb),
        cmocka_unit_test(test_timeout_in_batch_names_command),
        cmocka_unit_test(test_present),
        cmocka_unit_test(test_show_flip_and_off),
        cmocka_unit_test(test_scatter_gather),
        cmocka_unit_test(test_scatter_gather_large),
        cmocka_unit_test(test_no_leaks_on_failure),
        cmocka_unit_test(test_share_failure_releases),
        cmocka_unit_test(test_timed_out_attach_keeps_buffers),
        cmocka_unit_test(test_destroy_after_teardown),
        cmocka_unit_test(test_reset_recovers),
        cmocka_unit_test(test_resource_ids),
        cmocka_unit_test(test_display_events),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_no_share_in_hal),
        cmocka_unit_test(test_init_failures),
        cmocka_unit_test(test_backing_list_rewritten_by_device),
        cmocka_unit_test(test_create_does_not_leak_resource_when_queue_is_full),
        cmocka_unit_test(test_memory_busy_does_not_wrap),
        cmocka_unit_test(test_teardown_keeps_everything_when_reset_never_completes),
        cmocka_unit_test(test_init_failure_with_stuck_reset),
        cmocka_unit_test(test_gpu_wait_forever),
        cmocka_unit_test(test_edid_response_read_once),
        cmocka_unit_test(test_runs_room),
        cmocka_unit_test(test_poll),
        cmocka_unit_test(test_held_runs_survive_the_callers_struct),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sim_gpu_fini(&G);
    sim_free_dma(&G.sim);
    pages_release();
    return failed;
}
