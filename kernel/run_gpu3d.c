/*
 * virtio-gpu 3D (virgl) in the test kernel: run_gpu.c asks for VIRGL on
 * every GPU (unless the bootarg `virgl.off`); on a GPU that grants it this
 * file proves the 3D path in the guest, by its pixels, since QEMU cannot
 * screendump a GL scanout:
 *
 *   - GET_CAPSET of the VIRGL capset: its version, and B8G8R8X8 among the
 *     render formats;
 *   - a context, a 256x256 B8G8R8X8 render target (RENDER_TARGET |
 *     SAMPLER_VIEW | SCANOUT) and a vertex buffer, both 3D resources with
 *     guest backing, attached to it; the vertex buffer filled by
 *     TRANSFER_TO_HOST_3D;
 *   - one SUBMIT_3D (fenced) of the pipeline: surface, blend, DSA,
 *     rasterizer, TGSI vertex and fragment shaders, vertex elements,
 *     framebuffer, viewport, vertex buffer; then one of CLEAR + a triangle;
 *   - the fence waited for, TRANSFER_FROM_HOST_3D of the whole target into
 *     its backing: the clear colour in the four corners, the triangle's at
 *     its centroid and near a base corner, the clear colour at the mirror
 *     image of that point (which says which way up the rows come back);
 *   - the target on scanout 0 (SET_SCANOUT + RESOURCE_FLUSH), then
 *     GPU3D_FRAMES frames of clear + triangle, each fenced and waited for,
 *     timed; then the scanout shows the test card again;
 *   - a second context at once, with its own target, vertex buffer (filled
 *     by RESOURCE_INLINE_WRITE in its stream) and colours: both submitted
 *     before either is waited for, both read back and checked.
 *
 * Serial lines (docs/design.md):
 *   levitate: gpu3d <t>@<a>: clear ok, triangle ok, <frames> frames in <ms> ms
 *   levitate: gpu3d <t>@<a>: 2 contexts at once: clear ok, triangle ok in both
 *   levitate: gpu3d <t>@<a>: error <NAME> <doing>[: <device message>]
 * where NAME is the library's (LVIO_E_*, or the device's ERR_* for a
 * refused command) or PIXEL_MISMATCH (a pixel read back is not what was
 * drawn), which says where, what was read and what was expected. Every
 * check is an in-guest test: an error line is a failed test. The bootarg
 * `gpu3d.wrong` makes the kernel expect a wrong triangle colour in the
 * first context: the negative control, which must end in PIXEL_MISMATCH.
 *
 * Memory: render targets, vertex buffers and command buffers are DMA pages
 * (contiguous), shared with the device by the library through the HAL,
 * kept for the boot (the bench uses them again).
 */
#include "ktest.h"
#include "virgl.h"

#include <lvio/gpu3d.h>

#define RT_W 256u
#define RT_H 256u
#define RT_PAGES ((RT_W * RT_H * 4 + 4095) / 4096)
#define CMD_PAGES 2u
#define CMD_DWORDS (CMD_PAGES * 4096 / 4)
#define GPU3D_FRAMES 60u
#define TOLERANCE 2 /* per 8-bit channel: the host's float-to-UNORM rounding */
#define NUM_TOKENS 300 /* bound on the binary TGSI of our small shaders */

/* The context's object handles (each context has its own namespace). */
enum { H_SURFACE = 1, H_BLEND, H_DSA, H_RASTERIZER, H_VS, H_FS, H_VE };

static const char vs_text[] =
    "VERT\n"
    "DCL IN[0]\n"
    "DCL IN[1]\n"
    "DCL OUT[0], POSITION\n"
    "DCL OUT[1], GENERIC[0]\n"
    "  0: MOV OUT[0], IN[0]\n"
    "  1: MOV OUT[1], IN[1]\n"
    "  2: END\n";

static const char fs_text[] =
    "FRAG\n"
    "PROPERTY FS_COLOR0_WRITES_ALL_CBUFS 1\n"
    "DCL IN[0], GENERIC[0], LINEAR\n"
    "DCL OUT[0], COLOR\n"
    "  0: MOV OUT[0], IN[0]\n"
    "  1: END\n";

/* One vertex: position x, y, z, w and colour r, g, b, a (float bits). */
#define VERTEX_DWORDS 8
#define VERTICES 3
#define VBUF_BYTES (VERTEX_DWORDS * VERTICES * 4)

/* One context drawing into its own render target. */
struct draw {
    const char *name;
    struct lvio_gpu_ctx ctx;
    struct lvio_gpu_res3d rt, vb;
    lvio_le32 *px;              /* the target's backing: B, G, R, X bytes */
    lvio_le32 *vb_mem;          /* the vertex buffer's backing (a page) */
    lvio_le32 *cmds;            /* the command buffer */
    struct virgl_enc enc;
    uint32_t clear, tri;        /* colours, 0xRRGGBB */
    bool inline_vertices;       /* fill the vertex buffer in the stream */
    bool live;                  /* context and resources exist */
};

struct gpu3d {
    struct kdev *k;
    struct lvio_gpu *gpu;
    struct draw d[2];
    uint32_t expect_tri;        /* what the first context's check expects */
};

static struct gpu3d g3[4];
static unsigned n_g3;

/* The error line, `why` appended when not NULL; counts a failed test. */
static void g3_report(struct gpu3d *s, const char *name, const char *doing, const char *why)
{
    expect(false, "gpu3d %s: %s %s", s->k->dev.name, name, doing);
    kprintf("levitate: gpu3d %s: error %s %s%s%s\n", s->k->dev.name, name, doing,
            why ? ": " : "", why ? why : "");
}

/* A failure the kernel found itself (a pixel, the capset, memory). */
static void g3_error(struct gpu3d *s, const char *name, const char *doing)
{
    g3_report(s, name, doing, NULL);
}

/* A library call failed with rc: its name, and the device's message. */
static int g3_fail(struct gpu3d *s, int rc, const char *doing)
{
    const char *why = lvio_device_error(&s->k->dev);
    g3_report(s, lvio_gpu_errname(s->gpu, rc), doing, why[0] ? why : NULL);
    return rc;
}

static uint32_t channel_bits(uint32_t rgb, unsigned shift)
{
    return virgl_f32((int32_t)(rgb >> shift & 0xff), 255);
}

static void rgba_bits(uint32_t rgb, uint32_t out[4])
{
    out[0] = channel_bits(rgb, 16);
    out[1] = channel_bits(rgb, 8);
    out[2] = channel_bits(rgb, 0);
    out[3] = virgl_f32(1, 1);
}

/* The triangle: base (-0.5, -0.5) .. (0.5, -0.5), apex (0, 0.5), all of
 * colour `rgb`; as the device reads vertex buffers, little-endian. */
static void triangle(uint32_t rgb, lvio_le32 *v)
{
    static const int32_t xy[VERTICES][2] = {{-1, -1}, {1, -1}, {0, 1}}; /* halves */
    uint32_t c[4];

    rgba_bits(rgb, c);
    for (unsigned i = 0; i < VERTICES; i++, v += VERTEX_DWORDS) {
        v[0] = lvio_cpu_to_le32(virgl_f32(xy[i][0], 2));
        v[1] = lvio_cpu_to_le32(virgl_f32(xy[i][1], 2));
        v[2] = 0;
        v[3] = lvio_cpu_to_le32(virgl_f32(1, 1));
        for (unsigned j = 0; j < 4; j++)
            v[4 + j] = lvio_cpu_to_le32(c[j]);
    }
}

/* ---- set-up ---------------------------------------------------------------- */

static int res_create(struct gpu3d *s, struct lvio_gpu_res3d *res,
                      const struct lvio_gpu_res3d_info *info, void *mem, size_t bytes,
                      const char *what)
{
    int rc = lvio_gpu_res3d_create(s->gpu, res, info, mem, bytes, NULL, 0);
    if (rc != LVIO_OK) {
        char doing[64];
        ksnprintf(doing, sizeof doing, "creating the %s", what);
        return g3_fail(s, rc, doing);
    }
    return LVIO_OK;
}

/* Memory, context, render target and vertex buffer, attached. */
static int draw_create(struct gpu3d *s, struct draw *d)
{
    uint64_t phys;
    int rc;

    if (!d->px)
        d->px = dma_alloc_pages(RT_PAGES, &phys);
    if (!d->vb_mem)
        d->vb_mem = dma_alloc_pages(1, &phys);
    if (!d->cmds)
        d->cmds = dma_alloc_pages(CMD_PAGES, &phys);
    if (!d->px || !d->vb_mem || !d->cmds) {
        g3_error(s, "LVIO_E_NOMEM", "allocating a render target and command buffers");
        return LVIO_E_NOMEM;
    }
    virgl_init(&d->enc, d->cmds, CMD_DWORDS);
    rc = lvio_gpu_ctx_create(s->gpu, &d->ctx, 0, d->name);
    if (rc != LVIO_OK)
        return g3_fail(s, rc, "creating a context");
    const struct lvio_gpu_res3d_info rt = {
        .target = VIRGL_TARGET_TEXTURE_2D, .format = VIRGL_FORMAT_B8G8R8X8_UNORM,
        .bind = VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SAMPLER_VIEW | VIRGL_BIND_SCANOUT,
        .width = RT_W, .height = RT_H, .depth = 1, .array_size = 1};
    const struct lvio_gpu_res3d_info vb = {
        .target = VIRGL_TARGET_BUFFER, .format = VIRGL_FORMAT_R8_UNORM,
        .bind = VIRGL_BIND_VERTEX_BUFFER, .width = VBUF_BYTES, .height = 1, .depth = 1,
        .array_size = 1};
    rc = res_create(s, &d->rt, &rt, d->px, RT_PAGES * 4096, "256x256 render target");
    if (rc == LVIO_OK)
        rc = res_create(s, &d->vb, &vb, d->vb_mem, 4096, "vertex buffer");
    if (rc != LVIO_OK)
        return rc;
    d->live = true;
    rc = lvio_gpu_ctx_attach(&d->ctx, d->rt.fb.resource_id);
    if (rc == LVIO_OK)
        rc = lvio_gpu_ctx_attach(&d->ctx, d->vb.fb.resource_id);
    if (rc != LVIO_OK)
        return g3_fail(s, rc, "attaching the resources to the context");
    return LVIO_OK;
}

/* The command buffer may be written: no submit of it is still with the
 * device (lvio/gpu3d.h: the buffer stays the device's until answered). */
static int cmds_writable(const struct draw *d)
{
    return lvio_gpu_memory_busy(d->ctx.gpu, d->cmds, CMD_PAGES * 4096) ? LVIO_E_AGAIN
                                                                        : LVIO_OK;
}

/* The pipeline, as one stream. */
static int encode_pipeline(struct draw *d, const lvio_le32 *vertices)
{
    static const struct virgl_vertex_element ve[2] = {
        {0, 0, 0, VIRGL_FORMAT_R32G32B32A32_FLOAT},
        {16, 0, 0, VIRGL_FORMAT_R32G32B32A32_FLOAT},
    };
    const struct virgl_vertex_buffer vb = {VERTEX_DWORDS * 4, 0, d->vb.fb.resource_id};
    const uint32_t cbuf = H_SURFACE;
    struct virgl_enc *e = &d->enc;
    int rc = cmds_writable(d);

    virgl_reset(e);
    if (rc == LVIO_OK && d->inline_vertices)
        rc = virgl_inline_write_buffer(e, d->vb.fb.resource_id, 0, vertices, VBUF_BYTES);
    rc = rc ? rc : virgl_create_surface(e, H_SURFACE, d->rt.fb.resource_id,
                                        VIRGL_FORMAT_B8G8R8X8_UNORM, 0, 0, 0);
    rc = rc ? rc : virgl_create_blend_opaque(e, H_BLEND);
    rc = rc ? rc : virgl_bind_object(e, VIRGL_OBJECT_BLEND, H_BLEND);
    rc = rc ? rc : virgl_create_dsa_off(e, H_DSA);
    rc = rc ? rc : virgl_bind_object(e, VIRGL_OBJECT_DSA, H_DSA);
    rc = rc ? rc : virgl_create_rasterizer_fill(e, H_RASTERIZER);
    rc = rc ? rc : virgl_bind_object(e, VIRGL_OBJECT_RASTERIZER, H_RASTERIZER);
    rc = rc ? rc : virgl_create_shader(e, H_VS, VIRGL_SHADER_VERTEX, vs_text, NUM_TOKENS);
    rc = rc ? rc : virgl_bind_shader(e, H_VS, VIRGL_SHADER_VERTEX);
    rc = rc ? rc : virgl_create_shader(e, H_FS, VIRGL_SHADER_FRAGMENT, fs_text, NUM_TOKENS);
    rc = rc ? rc : virgl_bind_shader(e, H_FS, VIRGL_SHADER_FRAGMENT);
    rc = rc ? rc : virgl_create_vertex_elements(e, H_VE, ve, 2);
    rc = rc ? rc : virgl_bind_object(e, VIRGL_OBJECT_VERTEX_ELEMENTS, H_VE);
    rc = rc ? rc : virgl_set_framebuffer_state(e, &cbuf, 1, 0);
    rc = rc ? rc : virgl_set_viewport(e, 0, 0, RT_W, RT_H);
    rc = rc ? rc : virgl_set_vertex_buffers(e, &vb, 1);
    return rc;
}

/* One frame: clear, triangle. */
static int encode_frame(struct draw *d)
{
    uint32_t rgba[4];
    int rc = cmds_writable(d);

    if (rc != LVIO_OK)
        return rc;
    virgl_reset(&d->enc);
    rgba_bits(d->clear, rgba);
    rc = virgl_clear(&d->enc, VIRGL_CLEAR_COLOR0, rgba);
    return rc ? rc : virgl_draw_arrays(&d->enc, VIRGL_PRIM_TRIANGLES, 0, VERTICES);
}

static int submit(struct gpu3d *s, struct draw *d, uint64_t *fence, const char *what)
{
    int rc = lvio_gpu_ctx_submit(&d->ctx, d->cmds, d->enc.len * 4, fence);
    if (rc != LVIO_OK) {
        char doing[64];
        ksnprintf(doing, sizeof doing, "submitting %s (%u dwords)", what, d->enc.len);
        return g3_fail(s, rc, doing);
    }
    return LVIO_OK;
}

static int wait(struct gpu3d *s, struct draw *d, uint64_t fence, const char *what)
{
    int rc = lvio_gpu_fence_wait(&d->ctx, fence, s->gpu->timeout_ns);
    if (rc != LVIO_OK) {
        char doing[80];
        ksnprintf(doing, sizeof doing, "waiting for fence %llu of %s",
                  (unsigned long long)fence, what);
        return g3_fail(s, rc, doing);
    }
    return LVIO_OK;
}

/* Set up `d` and submit its pipeline (fenced; *fence to wait for). */
static int draw_start(struct gpu3d *s, struct draw *d, uint64_t *fence)
{
    lvio_le32 v[VERTEX_DWORDS * VERTICES];
    int rc = draw_create(s, d);

    if (rc != LVIO_OK)
        return rc;
    triangle(d->tri, v);
    if (!d->inline_vertices) {
        memcpy(d->vb_mem, v, sizeof v);
        const struct lvio_gpu_transfer t = {.box = {0, 0, 0, VBUF_BYTES, 1, 1}};
        rc = lvio_gpu_transfer_to_host_3d(&d->ctx, &d->vb, &t);
        if (rc != LVIO_OK)
            return g3_fail(s, rc, "filling the vertex buffer (TRANSFER_TO_HOST_3D)");
    }
    rc = encode_pipeline(d, v);
    if (rc != LVIO_OK)
        return g3_fail(s, rc, "encoding the pipeline");
    return submit(s, d, fence, "the pipeline");
}

/* ---- reading back ------------------------------------------------------------ */

static int read_back(struct gpu3d *s, struct draw *d)
{
    const struct lvio_gpu_transfer t = {.box = {0, 0, 0, RT_W, RT_H, 1}, .stride = RT_W * 4};
    int rc = lvio_gpu_transfer_from_host_3d(&d->ctx, &d->rt, &t);
    return rc == LVIO_OK ? rc : g3_fail(s, rc, "reading the target back (TRANSFER_FROM_HOST_3D)");
}

static bool close_to(uint32_t got, uint32_t want)
{
    for (unsigned sh = 0; sh < 24; sh += 8) {
        int a = (int)(got >> sh & 0xff), b = (int)(want >> sh & 0xff);
        if (a - b > TOLERANCE || b - a > TOLERANCE)
            return false;
    }
    return true;
}

/*
 * Pixel (x, y) of the target, y counted from the bottom as GL's window
 * coordinates are: TRANSFER_FROM_HOST_3D of a texture that is not Y_0_TOP
 * gives its rows bottom first (virglrenderer reads what GL has, and GL's
 * row 0 is the bottom), so row y of the backing is window row y.
 */
static uint32_t pixel(const struct draw *d, unsigned x, unsigned y)
{
    return lvio_le32_to_cpu(d->px[y * RT_W + x]) & 0xffffff;
}

/* Every point checked, the first wrong one reported; true when all good.
 * `tri` is the colour the triangle is expected in. */
static bool check_pixels(struct gpu3d *s, struct draw *d, uint32_t tri, const char *which)
{
    /* Window coordinates: the corners; the centroid (128, 106.7); a point
     * near the base's left corner; its mirror image across the middle row
     * (outside the triangle: only the apex is up there). */
    static const struct { unsigned x, y; bool in; const char *what; } pts[] = {
        {0, 0, false, "corner"}, {RT_W - 1, 0, false, "corner"},
        {0, RT_H - 1, false, "corner"}, {RT_W - 1, RT_H - 1, false, "corner"},
        {128, 106, true, "centroid"}, {72, 70, true, "base corner"},
        {72, RT_H - 1 - 70, false, "mirror of the base corner"},
    };
    for (unsigned i = 0; i < ARRAY_SIZE(pts); i++) {
        uint32_t want = pts[i].in ? tri : d->clear, got = pixel(d, pts[i].x, pts[i].y);
        if (close_to(got, want))
            continue;
        char doing[128];
        ksnprintf(doing, sizeof doing, "%s: %s %s at (%u,%u): %06x, expected %06x", which,
                  pts[i].in ? "triangle" : "clear colour", pts[i].what, pts[i].x, pts[i].y,
                  got, want);
        g3_error(s, "PIXEL_MISMATCH", doing);
        return false;
    }
    return true;
}

/* One frame drawn, fenced, waited for, read back and checked. */
static int frame_checked(struct gpu3d *s, struct draw *d, uint32_t tri, const char *which)
{
    uint64_t fence;
    int rc = encode_frame(d);

    if (rc != LVIO_OK)
        return g3_fail(s, rc, "encoding a frame");
    rc = submit(s, d, &fence, "a frame");
    rc = rc ? rc : wait(s, d, fence, "a frame");
    rc = rc ? rc : read_back(s, d);
    if (rc == LVIO_OK && !check_pixels(s, d, tri, which))
        rc = LVIO_E_DEVICE;
    return rc;
}

/* ---- the capset ---------------------------------------------------------------- */

static bool mask_has(const uint8_t *caps, size_t len, size_t mask_off, uint32_t format)
{
    size_t at = mask_off + format / 32 * 4;
    if (at + 4 > len)
        return false;
    uint32_t word = (uint32_t)caps[at] | (uint32_t)caps[at + 1] << 8 |
                    (uint32_t)caps[at + 2] << 16 | (uint32_t)caps[at + 3] << 24;
    return word >> (format % 32) & 1;
}

const struct lvio_gpu_capset *gpu3d_capset(const struct lvio_gpu *gpu)
{
    return gpu->has_virgl ? lvio_gpu_capset_find(gpu, LVIO_VIRTIO_GPU_CAPSET_VIRGL) : NULL;
}

/* struct virgl_caps_v1: max_version, then the sampler, render,
 * depth-stencil and vertex-buffer format masks, 16 dwords each (bit f % 32
 * of dword f / 32 for format f). virglrenderer 0.10 fills the render mask;
 * its vertex-buffer mask has hardly a bit set (the vertex formats are GL's
 * core ones), so only the render target's format is checked. */
#define CAPS_RENDER_MASK (4 + 64)

static int capset_check(struct gpu3d *s)
{
    const struct lvio_gpu_capset *cs = gpu3d_capset(s->gpu);
    uint64_t phys;
    size_t len = 0;

    if (!cs) {
        g3_error(s, "LVIO_E_UNSUPPORTED", "finding the VIRGL capset");
        return LVIO_E_UNSUPPORTED;
    }
    uint8_t *caps = dma_alloc_pages(1, &phys);
    if (!caps) {
        g3_error(s, "LVIO_E_NOMEM", "allocating room for the capset");
        return LVIO_E_NOMEM;
    }
    int rc = lvio_gpu_get_capset(s->gpu, cs->id, cs->max_version, caps, 4096, &len);
    if (rc != LVIO_OK) {
        g3_fail(s, rc, "reading the VIRGL capset");
    } else if (len < 4 || caps[0] == 0) {
        g3_error(s, "LVIO_E_DEVICE", "reading the VIRGL capset: no max_version");
        rc = LVIO_E_DEVICE;
    } else if (!mask_has(caps, len, CAPS_RENDER_MASK, VIRGL_FORMAT_B8G8R8X8_UNORM)) {
        g3_error(s, "LVIO_E_UNSUPPORTED", "the capset: B8G8R8X8 is no render target format");
        rc = LVIO_E_UNSUPPORTED;
    }
    dma_free_pages(caps, 1);
    return rc;
}

/* ---- the test ---------------------------------------------------------------- */

/* GPU3D_FRAMES frames of clear + triangle, each waited for, on scanout 0. */
static int frames(struct gpu3d *s, struct draw *d, uint64_t *ms)
{
    uint64_t fence, t0 = time_ns();
    int rc = lvio_gpu_res3d_show(s->gpu, 0, &d->rt);

    if (rc != LVIO_OK)
        return g3_fail(s, rc, "showing the target on scanout 0");
    for (unsigned i = 0; i < GPU3D_FRAMES && rc == LVIO_OK; i++) {
        rc = encode_frame(d);
        rc = rc ? g3_fail(s, rc, "encoding a frame") : submit(s, d, &fence, "a frame");
        rc = rc ? rc : wait(s, d, fence, "a frame");
        if (rc == LVIO_OK) {
            rc = lvio_gpu_res3d_flush(&d->rt, NULL);
            if (rc != LVIO_OK)
                g3_fail(s, rc, "flushing a frame to scanout 0");
        }
    }
    *ms = (time_ns() - t0) / MS;
    return rc;
}

/* Both contexts at once: each set up and its pipeline submitted, then a
 * frame of each submitted, before anything is waited for. */
static int two_contexts(struct gpu3d *s)
{
    struct draw *a = &s->d[0], *b = &s->d[1];
    uint64_t fa, fb;
    int rc = encode_frame(a);

    rc = rc ? g3_fail(s, rc, "encoding a frame") : submit(s, a, &fa, "a frame");
    if (rc != LVIO_OK)
        return rc;
    rc = draw_start(s, b, &fb);
    rc = rc ? rc : wait(s, b, fb, "the second context's pipeline");
    if (rc != LVIO_OK) {
        /* Reported; the first context's frame is let finish (its buffer). */
        lvio_gpu_fence_wait(&a->ctx, fa, s->gpu->timeout_ns);
        return rc;
    }
    rc = encode_frame(b);
    rc = rc ? g3_fail(s, rc, "encoding a frame") : submit(s, b, &fb, "a frame");
    rc = rc ? rc : wait(s, a, fa, "a frame");
    rc = rc ? rc : wait(s, b, fb, "a frame");
    rc = rc ? rc : read_back(s, a);
    rc = rc ? rc : read_back(s, b);
    if (rc != LVIO_OK)
        return rc;
    if (!check_pixels(s, a, a->tri, "context 1 with context 2 drawing") ||
        !check_pixels(s, b, b->tri, "context 2 with context 1 drawing"))
        return LVIO_E_DEVICE;
    return LVIO_OK;
}

void gpu3d_run(struct kdev *k, struct lvio_gpu *gpu)
{
    if (!gpu->has_virgl || n_g3 == ARRAY_SIZE(g3))
        return;
    struct gpu3d *s = &g3[n_g3++];
    struct draw *a = &s->d[0];
    uint64_t fence, ms = 0;

    s->k = k;
    s->gpu = gpu;
    s->d[0] = (struct draw){.name = "levitate gpu3d 1", .clear = 0x204080, .tri = 0xff8000};
    s->d[1] = (struct draw){.name = "levitate gpu3d 2", .clear = 0x106020, .tri = 0x40c0ff,
                            .inline_vertices = true};
    s->expect_tri = kernel_bootarg("gpu3d.wrong") ? a->clear ^ 0xffffff : a->tri;
    if (capset_check(s) != LVIO_OK || draw_start(s, a, &fence) != LVIO_OK ||
        wait(s, a, fence, "the pipeline") != LVIO_OK ||
        frame_checked(s, a, s->expect_tri, "first frame") != LVIO_OK ||
        frames(s, a, &ms) != LVIO_OK)
        goto card;
    expect(true, "gpu3d: clear and triangle");
    kprintf("levitate: gpu3d %s: clear ok, triangle ok, %u frames in %llu ms\n", k->dev.name,
            GPU3D_FRAMES, (unsigned long long)ms);
    if (two_contexts(s) == LVIO_OK) {
        expect(true, "gpu3d: two contexts");
        kprintf("levitate: gpu3d %s: 2 contexts at once: clear ok, triangle ok in both\n",
                k->dev.name);
    }
card:
    /* The scanout shows the test card again (docs/design.md). */
    gpu_show_card(k);
}

/* ---- the shell's `gpu 3d` ------------------------------------------------------ */

int gpu3d_show(struct lvio_gpu *gpu)
{
    struct draw *d = NULL;
    uint64_t fence;

    for (unsigned i = 0; i < n_g3 && !d; i++)
        if (g3[i].gpu == gpu && g3[i].d[0].live)
            d = &g3[i].d[0];
    if (!d)
        return LVIO_E_NODEV;
    int rc = encode_frame(d);
    rc = rc ? rc : lvio_gpu_ctx_submit(&d->ctx, d->cmds, d->enc.len * 4, &fence);
    rc = rc ? rc : lvio_gpu_fence_wait(&d->ctx, fence, gpu->timeout_ns);
    return rc ? rc : lvio_gpu_res3d_show(gpu, 0, &d->rt);
}

/* ---- make bench ---------------------------------------------------------------- */

static void sort64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

#define BENCH_N 50

/*
 * On the first GPU with 3D that ran:
 *   gpu3d submit round trip, median: a SUBMIT_3D of one NOP dword, from the
 *     call until its fence is seen (the device's answer taken);
 *   gpu3d fence latency, median: a frame (clear + triangle) submitted, from
 *     the submit's return until its fence is seen;
 *   gpu3d triangles drawn and read back: frames of clear + triangle, each
 *     waited for, read back (TRANSFER_FROM_HOST_3D of 256x256) and its
 *     centroid checked, per second.
 */
void gpu3d_bench(struct lvio_gpu *gpu)
{
    struct gpu3d *s = NULL;
    for (unsigned i = 0; i < n_g3 && !s; i++)
        if (g3[i].gpu == gpu && g3[i].d[0].live)
            s = &g3[i];
    if (!s)
        return;
    struct draw *d = &s->d[0];
    uint64_t rt[BENCH_N], lat[BENCH_N], fence, t0;
    int rc = LVIO_OK;
    unsigned i, drawn = 0;

    for (i = 0; i < BENCH_N && rc == LVIO_OK; i++) {
        rc = cmds_writable(d);
        if (rc != LVIO_OK)
            break;
        virgl_reset(&d->enc);
        d->enc.buf[0] = lvio_cpu_to_le32(VIRGL_CCMD_NOP);
        d->enc.len = 1;
        t0 = cycles();
        rc = submit(s, d, &fence, "a NOP");
        rc = rc ? rc : wait(s, d, fence, "a NOP");
        rt[i] = bench_elapsed_ns(t0);
    }
    for (i = 0; i < BENCH_N && rc == LVIO_OK; i++) {
        rc = encode_frame(d);
        rc = rc ? rc : submit(s, d, &fence, "a frame");
        t0 = cycles();
        rc = rc ? rc : wait(s, d, fence, "a frame");
        lat[i] = bench_elapsed_ns(t0);
    }
    t0 = cycles();
    for (; drawn < BENCH_N && rc == LVIO_OK; drawn++)
        rc = frame_checked(s, d, d->tri, "bench frame");
    uint64_t ns = bench_elapsed_ns(t0);
    if (rc != LVIO_OK) {
        kprintf("bench: gpu3d failed: %s\n", lvio_gpu_errname(gpu, rc));
        return;
    }
    sort64(rt, BENCH_N);
    sort64(lat, BENCH_N);
    bench_line("gpu3d submit round trip, median", rt[BENCH_N / 2] / 100, "us");
    bench_line("gpu3d fence latency, median", lat[BENCH_N / 2] / 100, "us");
    bench_line("gpu3d triangles drawn and read back", drawn * 10000000000ull / (ns ? ns : 1),
               "per s");
}
