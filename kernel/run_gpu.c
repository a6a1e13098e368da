/*
 * virtio-gpu in the test kernel: every enabled scanout shows the test card
 * (docs/design.md) at the mode the device prefers, with the text console in its
 * bottom third (the boot log, then everything printed after); each GPU's
 * scanout 0 also gets the hardware cursor at the screen's center. `bench`
 * and `soak` use the first GPU's scanout 0.
 *
 * Framebuffer memory comes from the DMA pool; the library shares it with
 * the device through the HAL's share() and describes it with a
 * scatter-gather list.
 */
#include "gfx.h"
#include "ktest.h"
#include "shell.h"

#include <lvio/gpu3d.h>

#define MAX_GPUS 4
#define FB_FORMAT LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM /* 0x00RRGGBB words */
#define CURSOR_FORMAT LVIO_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM

/*
 * Framebuffer memory, deliberately not physically contiguous: chunks of
 * CHUNK_PAGES pages mapped in reverse order at one virtual range (vmap), as
 * a kernel with fragmented memory would have it. The driver must describe
 * it to the device as a scatter-gather list, one entry per chunk. When the
 * vmap window is full it falls back to contiguous pages.
 */
#define CHUNK_PAGES 64
#define MAX_CHUNKS 128

struct fbmem {
    uint32_t *pixels;
    size_t pages;
    bool vmapped;
    unsigned nchunks;
    uint64_t chunk_phys[MAX_CHUNKS];
    /* The driver's private record of the runs (lvio_gpu_fb_create): a page
     * of its own, kept with the pixels for as long as they are. */
    struct lvio_gpu_run *runs;
};

#define FB_MAX_RUNS (4096 / sizeof(struct lvio_gpu_run))
_Static_assert(FB_MAX_RUNS > MAX_CHUNKS, "a run per chunk, and one for a page-unaligned start");

/* One scanout's framebuffers: [0] is shown, [1] is for page flips; and
 * the boot-log console drawn in the bottom third of [0]. */
struct screen {
    struct lvio_gpu_fb fb[2];
    struct gfx_fb view[2];
    struct fbmem mem[2];
    struct fbcon con;
    bool con_live;              /* stops at the first present that fails */
};

struct gpu_state {
    struct kdev *k;
    struct lvio_gpu gpu;
    struct screen screens[LVIO_VIRTIO_GPU_MAX_SCANOUTS];
    struct lvio_gpu_fb cursor;
    uint32_t *cursor_pixels;
};

static struct gpu_state gpus[MAX_GPUS];
static unsigned n_gpus;
static unsigned pointer_x, pointer_y; /* on the first GPU's first screen */


static size_t fb_pages(uint32_t w, uint32_t h)
{
    return ((size_t)w * h * 4 + 4095) / 4096;
}

/* Pages in chunk c of a `pages`-page framebuffer. */
static size_t chunk_pages(size_t pages, unsigned c)
{
    size_t left = pages - (size_t)c * CHUNK_PAGES;
    return left < CHUNK_PAGES ? left : CHUNK_PAGES;
}

static void fbmem_free(struct fbmem *m)
{
    if (m->vmapped)
        vunmap(m->pixels, m->pages);
    for (unsigned c = 0; c < m->nchunks; c++)
        dma_free_pages(phys_to_virt(m->chunk_phys[c]), chunk_pages(m->pages, c));
    if (!m->vmapped && m->pixels)
        dma_free_pages(m->pixels, m->pages);
    if (m->runs)
        dma_free_pages(m->runs, 1);
    memset(m, 0, sizeof *m);
}

/* Scattered chunks behind one virtual range; false if that cannot be had. */
static bool fbmem_scattered(struct fbmem *m, size_t pages)
{
    static uint64_t phys[CHUNK_PAGES * MAX_CHUNKS];
    unsigned chunks = (unsigned)((pages + CHUNK_PAGES - 1) / CHUNK_PAGES);

    if (chunks > MAX_CHUNKS)
        return false;
    m->pages = pages;
    for (; m->nchunks < chunks; m->nchunks++)
        if (!dma_alloc_pages_unzeroed(chunk_pages(pages, m->nchunks),
                                      &m->chunk_phys[m->nchunks]))
            goto undo;
    /* Last chunk first: consecutive virtual pages are never consecutive
     * physical ones across a chunk boundary. */
    for (size_t i = 0, c = chunks; c-- > 0;)
        for (size_t j = 0; j < chunk_pages(pages, (unsigned)c); j++)
            phys[i++] = m->chunk_phys[c] + j * 4096;
    m->pixels = vmap(phys, pages);
    if (!m->pixels)
        goto undo;
    m->vmapped = true;
    return true;
undo:
    fbmem_free(m);
    return false;
}

/* Free a framebuffer's memory once `gpu` no longer needs it; memory a
 * timed-out command may still read is never reused (kept for good). */
static void fbmem_release(struct lvio_gpu *gpu, struct fbmem *m)
{
    if (gpu && m->pixels && lvio_gpu_memory_busy(gpu, m->pixels, m->pages * 4096)) {
        kprintf("lvio: gpu %s: keeping %zu framebuffer pages a timed-out command may still "
                "read\n", gpu->dev->name, m->pages);
        memset(m, 0, sizeof *m);
        return;
    }
    fbmem_free(m);
}

static uint32_t *fbmem_alloc(struct fbmem *m, size_t pages)
{
    uint64_t phys;

    if (!fbmem_scattered(m, pages)) {
        m->pixels = dma_alloc_pages_unzeroed(pages, &phys); /* the caller draws it all */
        m->pages = m->pixels ? pages : 0;
    }
    if (m->pixels)
        m->runs = dma_alloc_pages(1, &phys);
    if (!m->runs) {
        fbmem_free(m);
        return NULL;
    }
    return m->pixels;
}

/* Allocate, create and draw framebuffer `i` of a screen. */
static int screen_fb(struct gpu_state *g, struct screen *scr, unsigned i, uint32_t w,
                     uint32_t h)
{
    uint32_t *px = fbmem_alloc(&scr->mem[i], fb_pages(w, h));

    if (!px)
        return LVIO_E_NOMEM;
    scr->view[i] = (struct gfx_fb){px, w, h, w};
    testcard_draw(&scr->view[i]);
    int rc = lvio_gpu_fb_create(&g->gpu, &scr->fb[i], w, h, FB_FORMAT, px,
                                scr->mem[i].pages * 4096, scr->mem[i].runs, FB_MAX_RUNS);
    if (rc) {
        fbmem_release(&g->gpu, &scr->mem[i]);
        scr->view[i].pixels = NULL;
    }
    return rc;
}

static void screen_free(struct screen *scr)
{
    scr->con_live = false;
    for (unsigned i = 0; i < 2; i++) {
        struct lvio_gpu *gpu = scr->fb[i].gpu;
        if (gpu)
            lvio_gpu_fb_destroy(&scr->fb[i]);
        fbmem_release(gpu, &scr->mem[i]);
        scr->view[i].pixels = NULL;
    }
}

/* Present what a console drew since the last time. */
static int console_present(struct screen *scr)
{
    struct gfx_rect d = fbcon_take_damage(&scr->con);
    struct lvio_gpu_rect r = {d.x, d.y, d.w, d.h};
    return lvio_gpu_present(&scr->fb[0], &r);
}

/* Mirror of the serial console on every screen: draw, then present the
 * damaged lines once a line is complete. */
static void console_mirror(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    bool line_done = false;
    for (size_t i = 0; i < n; i++)
        line_done |= s[i] == '\n';
    for (unsigned i = 0; i < n_gpus; i++) {
        for (unsigned sc = 0; sc < LVIO_VIRTIO_GPU_MAX_SCANOUTS; sc++) {
            struct screen *scr = &gpus[i].screens[sc];
            if (!scr->con_live)
                continue;
            fbcon_write(&scr->con, s, n);
            if (!line_done)
                continue;
            int rc = console_present(scr);
            if (rc) {
                scr->con_live = false; /* said once, on the serial line only */
                kprintf("levitate: screen console of %s scanout %u stopped: present failed: "
                        "%s\n", gpus[i].k->dev.name, sc, lvio_device_error(&gpus[i].k->dev));
            }
        }
    }
}

static void console_replay(void *ctx, const char *s, size_t n)
{
    fbcon_write(&((struct screen *)ctx)->con, s, n);
}

/* Give a screen the console: the boot log so far, then every new line. */
static void console_attach(struct screen *scr)
{
    struct gfx_rect area = testcard_console_area(scr->view[0].width, scr->view[0].height);

    if (fbcon_init(&scr->con, &scr->view[0], area, kernel_font(), GFX_CONSOLE_FG,
                   GFX_CONSOLE_BG) != 0) {
        kprintf("levitate: no font or no room: a screen without console\n");
        return;
    }
    logbuf_replay(console_replay, scr);
    expect(console_present(scr) == LVIO_OK, "gpu: console present");
    scr->con_live = true;
    console_set_mirror(console_mirror, NULL);
}

/* The hardware cursor: an arrow, hotspot at the screen's center. */
static void cursor_setup(struct gpu_state *g, const struct screen *scr)
{
    struct lvio_gpu *gpu = &g->gpu;
    unsigned hx, hy;
    uint64_t phys;
    int rc;

    g->cursor_pixels = dma_alloc_pages(fb_pages(64, 64), &phys);
    if (!expect(g->cursor_pixels != NULL, "gpu: cursor memory"))
        return;
    cursor_draw_arrow(g->cursor_pixels, &hx, &hy);
    /* Contiguous pages: the framebuffer's own runs are enough. */
    rc = lvio_gpu_fb_create(gpu, &g->cursor, 64, 64, CURSOR_FORMAT, g->cursor_pixels,
                            fb_pages(64, 64) * 4096, NULL, 0);
    if (!expect(rc == LVIO_OK, "gpu: cursor resource: %s", lvio_gpu_errname(gpu, rc)))
        return;
    uint32_t cx = scr->view[0].width / 2, cy = scr->view[0].height / 2;
    if (g == &gpus[0])
        pointer_x = cx, pointer_y = cy;
    rc = lvio_gpu_cursor_set(gpu, 0, &g->cursor, hx, hy, cx, cy);
    expect(rc == LVIO_OK, "gpu: cursor set: %s", lvio_gpu_errname(gpu, rc));
    rc = lvio_gpu_cursor_move(gpu, 0, cx + 1, cy);
    expect(rc == LVIO_OK, "gpu: cursor move: %s", lvio_gpu_errname(gpu, rc));
    rc = lvio_gpu_cursor_move(gpu, 0, cx, cy);
    expect(rc == LVIO_OK, "gpu: cursor move back: %s", lvio_gpu_errname(gpu, rc));
}

/* The driver's API on a live screen: damage, bad damage, page flips. */
static void screen_tests(struct gpu_state *g, struct screen *scr, unsigned s)
{
    struct lvio_gpu *gpu = &g->gpu;
    struct lvio_gpu_rect small = {8, 8, 16, 16};
    struct lvio_gpu_rect outside = {scr->view[0].width - 4, 0, 8, 8};
    int rc;

    if (scr->mem[0].vmapped)
        expect(scr->fb[0].nr_entries == scr->mem[0].nchunks,
               "gpu: scanout %u: %u scattered chunks described by %u sg entries", s,
               scr->mem[0].nchunks, scr->fb[0].nr_entries);
    rc = lvio_gpu_present(&scr->fb[0], &small);
    expect(rc == LVIO_OK, "gpu: scanout %u: present 16x16: %s", s, lvio_gpu_errname(gpu, rc));
    /* An expected failure: keep its log line off the console. */
    struct lvio_hal *hal = kernel_hal();
    void (*log)(void *, enum lvio_log_level, const char *) = hal->log;
    hal->log = NULL;
    rc = lvio_gpu_present(&scr->fb[0], &outside);
    hal->log = log;
    expect(rc == LVIO_E_INVAL, "gpu: scanout %u: damage outside the framebuffer gave %s", s,
           lvio_gpu_errname(gpu, rc));
    rc = screen_fb(g, scr, 1, scr->view[0].width, scr->view[0].height);
    if (!expect(rc == LVIO_OK, "gpu: scanout %u: second framebuffer: %s", s,
                lvio_gpu_errname(gpu, rc)))
        return;
    expect(scr->fb[1].resource_id != scr->fb[0].resource_id,
           "gpu: two framebuffers share resource id %u", scr->fb[0].resource_id);
    rc = lvio_gpu_show(gpu, s, &scr->fb[1]);
    expect(rc == LVIO_OK, "gpu: scanout %u: flip to the back buffer: %s", s,
           lvio_gpu_errname(gpu, rc));
    rc = lvio_gpu_show(gpu, s, &scr->fb[0]);
    expect(rc == LVIO_OK, "gpu: scanout %u: flip back: %s", s, lvio_gpu_errname(gpu, rc));
}

/* Card on every enabled scanout. Returns 0 or the error, reported. */
static int gpu_screens(struct gpu_state *g, char *modes, size_t size)
{
    struct lvio_gpu *gpu = &g->gpu;
    size_t used = 0;
    unsigned shown = 0;

    for (unsigned s = 0; s < gpu->num_scanouts; s++) {
        struct screen *scr = &g->screens[s];
        uint32_t w, h;
        char doing[64];

        if (lvio_gpu_preferred_mode(gpu, s, &w, &h) != LVIO_OK)
            continue;
        int rc = screen_fb(g, scr, 0, w, h);
        if (rc == LVIO_OK)
            rc = lvio_gpu_show(gpu, s, &scr->fb[0]);
        if (!expect(rc == LVIO_OK, "gpu: scanout %u: %ux%u test card: %s", s, w, h,
                    lvio_gpu_errname(gpu, rc))) {
            ksnprintf(doing, sizeof doing, "creating %ux%u framebuffer for scanout %u", w, h,
                      s);
            report_error(g->k, lvio_gpu_errname(gpu, rc), doing);
            return rc;
        }
        used += (size_t)ksnprintf(modes + used, size - used, "%s%u %ux%u", shown ? ", " : "",
                                  s, w, h);
        if (used >= size)
            used = size - 1;
        shown++;
    }
    if (!expect(shown > 0, "gpu: no enabled scanout")) {
        report_error(g->k, "LVIO_E_NODEV", "finding an enabled scanout");
        return LVIO_E_NODEV;
    }
    return LVIO_OK;
}

static void run_gpu(struct kdev *k)
{
    char modes[200] = "";
    unsigned enabled = 0;
    int rc;

    char how[24];

    if (n_gpus == MAX_GPUS) {
        kprintf("lvio: gpu %s: ok v%u, not used: this kernel drives %u GPUs, %s\n",
                k->dev.name, (unsigned)k->dev.version, MAX_GPUS,
                kdev_service(k, how, sizeof how));
        return;
    }
    struct gpu_state *g = &gpus[n_gpus];
    struct lvio_gpu *gpu = &g->gpu;
    g->k = k;
    /* 3D when the device offers it (run_gpu3d.c), unless told not to. */
    rc = lvio_gpu_init_with(gpu, &k->dev, kernel_bootarg("virgl.off") ? 0 : LVIO_GPU_WANT_VIRGL);
    if (!expect(rc == LVIO_OK, "%s: gpu init: %s", k->dev.name, lvio_gpu_errname(gpu, rc))) {
        report_error(k, lvio_gpu_errname(gpu, rc), "initialising");
        return;
    }
    if (gpu_screens(g, modes, sizeof modes) != LVIO_OK) {
        /* Give back what the card took; the kernel goes on without this GPU. */
        for (unsigned s = 0; s < gpu->num_scanouts; s++)
            screen_free(&g->screens[s]);
        lvio_gpu_teardown(gpu);
        return;
    }
    n_gpus++;
    k->drv = g; /* for soak and bench */
    for (unsigned s = 0; s < gpu->num_scanouts; s++)
        enabled += gpu->scanouts[s].enabled;
    for (unsigned s = 0; s < gpu->num_scanouts; s++)
        if (g->screens[s].fb[0].gpu)
            console_attach(&g->screens[s]);
    cursor_setup(g, &g->screens[0]);
    for (unsigned s = 0; s < gpu->num_scanouts; s++)
        if (g->screens[s].fb[0].gpu)
            screen_tests(g, &g->screens[s], s);
    rc = lvio_gpu_poll_events(gpu);
    expect(rc >= 0, "gpu: display events: %s", lvio_gpu_errname(gpu, rc));

    char virgl[40] = "";
    const struct lvio_gpu_capset *cs = gpu3d_capset(gpu);
    if (cs)
        ksnprintf(virgl, sizeof virgl, ", virgl capset %u v%u", cs->id, cs->max_version);
    else if (gpu->has_virgl)
        ksnprintf(virgl, sizeof virgl, ", virgl");
    kprintf("lvio: gpu %s: ok v%u, %u scanout%s: %s, edid %s%s, %s\n", k->dev.name,
            (unsigned)k->dev.version, enabled, enabled == 1 ? "" : "s", modes,
            gpu->has_edid ? "on" : "off", virgl, kdev_service(k, how, sizeof how));
    if (opt_dump)
        lvio_dump(&k->dev);
    gpu3d_run(k, gpu);
}

/* Scanout 0 of the GPU shows its test card (and console) again. */
static int show_card(struct gpu_state *g)
{
    if (!g || !g->screens[0].fb[0].gpu)
        return LVIO_E_NODEV;
    return lvio_gpu_show(&g->gpu, 0, &g->screens[0].fb[0]);
}

void gpu_show_card(struct kdev *k)
{
    struct gpu_state *g = k->drv;
    int rc = show_card(g);

    if (rc != LVIO_E_NODEV)
        expect(rc == LVIO_OK, "%s: test card back on scanout 0: %s", k->dev.name,
               lvio_gpu_errname(&g->gpu, rc));
}

/* The shell's `gpu 3d` (the first GPU's 3D frame on its screen) and `gpu
 * card` (the test card and console back). */
static void shell_gpu(struct kdev *k, struct shell_term *t, int argc, char **argv)
{
    struct gpu_state *g = k->drv;
    int rc;

    if (argc == 2 && strcmp(argv[1], "3d") == 0) {
        rc = gpu3d_show(&g->gpu);
        if (rc == LVIO_E_NODEV)
            shell_printf(t, "gpu %s: no 3D (a virtio-gpu-gl with VIRGL has it)\n", k->dev.name);
    } else if (argc == 2 && strcmp(argv[1], "card") == 0) {
        rc = show_card(g);
    } else {
        shell_printf(t, "usage: gpu 3d | gpu card\n");
        return;
    }
    if (rc == LVIO_OK)
        shell_printf(t, "gpu %s: scanout 0 shows the %s\n", k->dev.name,
                     argv[1][0] == '3' ? "3D triangle" : "test card");
    else if (rc != LVIO_E_NODEV)
        shell_printf(t, "gpu %s: %s: %s\n", k->dev.name, lvio_gpu_errname(&g->gpu, rc),
                     lvio_device_error(&k->dev));
}

/* ---- display changes ------------------------------------------------------ */

/* Re-read scanout s after a display event: a new size gets a new card. */
static void screen_resize(struct gpu_state *g, unsigned s)
{
    struct lvio_gpu *gpu = &g->gpu;
    struct screen *scr = &g->screens[s];
    uint32_t w = 0, h = 0;
    bool on = lvio_gpu_preferred_mode(gpu, s, &w, &h) == LVIO_OK;

    if (on && scr->fb[0].gpu && scr->view[0].width == w && scr->view[0].height == h)
        return;
    scr->con_live = false;
    if (!on) {
        lvio_gpu_show(gpu, s, NULL);
        screen_free(scr);
        kprintf("lvio: gpu %s: scanout %u turned off\n", g->k->dev.name, s);
        return;
    }
    screen_free(scr);
    int rc = screen_fb(g, scr, 0, w, h);
    if (rc == LVIO_OK)
        rc = lvio_gpu_show(gpu, s, &scr->fb[0]);
    if (rc != LVIO_OK) {
        kprintf("lvio: gpu %s: error %s resizing scanout %u to %ux%u: %s\n", g->k->dev.name,
                lvio_gpu_errname(gpu, rc), s, w, h, lvio_device_error(&g->k->dev));
        return;
    }
    console_attach(scr);
    if (s == 0 && g->cursor.gpu)
        lvio_gpu_cursor_move(gpu, 0, w / 2, h / 2);
    if (s == 0 && g == &gpus[0])
        pointer_x = w / 2, pointer_y = h / 2;
    kprintf("lvio: gpu %s: scanout %u is now %ux%u\n", g->k->dev.name, s, w, h);
}

void gpu_idle(void)
{
    for (unsigned i = 0; i < n_gpus; i++) {
        struct lvio_gpu *gpu = &gpus[i].gpu;
        /* The ISR bits the interrupt handler kept (or, polled, the ISR
         * read now): the configuration-change bit says the display
         * changed. */
        if (lvio_gpu_poll(gpu, kdev_take_isr(gpus[i].k)) != 1)
            continue;
        for (unsigned s = 0; s < gpu->num_scanouts; s++)
            screen_resize(&gpus[i], s);
    }
}

/* ---- the pointer (input devices move it) -------------------------------------- */

bool gpu_screen_size(unsigned *w, unsigned *h)
{
    const struct screen *scr = &gpus[0].screens[0];

    if (n_gpus == 0 || !scr->fb[0].gpu)
        return false;
    *w = scr->view[0].width;
    *h = scr->view[0].height;
    return true;
}

bool gpu_pointer(unsigned *x, unsigned *y)
{
    unsigned w, h;

    if (!gpu_screen_size(&w, &h))
        return false;
    *x = pointer_x;
    *y = pointer_y;
    return true;
}

void gpu_pointer_set(int64_t x, int64_t y)
{
    unsigned w, h;
    struct gpu_state *g = &gpus[0];

    if (!gpu_screen_size(&w, &h))
        return;
    pointer_x = x < 0 ? 0 : x >= w ? w - 1 : (unsigned)x;
    pointer_y = y < 0 ? 0 : y >= h ? h - 1 : (unsigned)y;
    if (g->cursor.gpu) {
        int rc = lvio_gpu_cursor_move(&g->gpu, 0, pointer_x, pointer_y);
        if (rc != LVIO_OK)
            kprintf("levitate: cursor move on %s: %s\n", g->k->dev.name,
                    lvio_gpu_errname(&g->gpu, rc));
    }
}

/* ---- make bench ------------------------------------------------------------ */

/* Print value/10^decimals-style figures without floating point. */
void bench_line(const char *name, uint64_t tenths, const char *unit)
{
    kprintf("bench: %s: %llu.%llu %s\n", name, (unsigned long long)(tenths / 10),
            (unsigned long long)(tenths % 10), unit);
}

uint64_t bench_elapsed_ns(uint64_t c0)
{
    return ticks_to_ns(cycles() - c0, cycles_per_second());
}

/*
 * Soak: `presents` presents on the first GPU's screen (full screen, one
 * console line, and a page flip every 100th), then a framebuffer made and
 * destroyed `cycles` times; every call must succeed, and the DMA pages in
 * use and the control queue's free descriptors must be what they were.
 */
static void soak_gpu(struct kdev *k)
{
    const unsigned presents = 10000, cycles_n = 100;
    struct gpu_state *g = k->drv;
    if (!g || !g->screens[0].fb[0].gpu) {
        kprintf("levitate: soak: gpu %s has no screen\n", k->dev.name);
        return;
    }
    struct lvio_gpu *gpu = &g->gpu;
    struct screen *scr = &g->screens[0];
    struct lvio_gpu_fb *fb = &scr->fb[0];
    struct gfx_rect area = testcard_console_area(fb->width, fb->height);
    struct lvio_gpu_rect line = {area.x, area.y, area.w, fbcon_line_height(&scr->con)};
    size_t pages = dma_pages_in_use();
    unsigned free_desc = lvio_vq_num_free(&gpu->ctrlq);
    uint64_t t0 = time_ns();
    unsigned done = 0, made = 0;
    int rc = LVIO_OK;

    for (; done < presents && rc == LVIO_OK; done++) {
        if (done % 100 == 99 && scr->fb[1].gpu)
            rc = lvio_gpu_show(gpu, 0, &scr->fb[done / 100 % 2]);
        else
            rc = lvio_gpu_present(&scr->fb[0], done % 2 ? &line : NULL);
    }
    if (rc == LVIO_OK && scr->fb[1].gpu)
        rc = lvio_gpu_show(gpu, 0, &scr->fb[0]);
    for (; made < cycles_n && rc == LVIO_OK; made++) {
        struct screen tmp;
        memset(&tmp, 0, sizeof tmp);
        rc = screen_fb(g, &tmp, 0, 64, 64);
        if (rc == LVIO_OK)
            rc = lvio_gpu_present(&tmp.fb[0], NULL);
        screen_free(&tmp);
    }
    uint64_t ms = (time_ns() - t0) / MS;
    expect(rc == LVIO_OK, "%s: soak: %s after %u presents, %u framebuffers: %s", g->k->dev.name,
           lvio_gpu_errname(gpu, rc), done, made, lvio_device_error(&g->k->dev));
    expect(dma_pages_in_use() == pages, "%s: soak: DMA pages in use %zu before, %zu after",
           g->k->dev.name, pages, dma_pages_in_use());
    expect(lvio_vq_num_free(&gpu->ctrlq) == free_desc,
           "%s: soak: %u free descriptors before, %u after", g->k->dev.name, free_desc,
           lvio_vq_num_free(&gpu->ctrlq));
    kprintf("levitate: soak: gpu %s: %u presents, %u framebuffers made and destroyed in %llu ms, "
            "DMA pages %zu before, %zu after\n",
            g->k->dev.name, done, made, (unsigned long long)ms, pages, dma_pages_in_use());
}

static void bench_gpu(struct kdev *k)
{
    struct gpu_state *g = k->drv;
    if (!g || !g->screens[0].fb[0].gpu) {
        kprintf("bench: gpu %s has no screen to measure\n", k->dev.name);
        return;
    }
    struct screen *scr = &g->screens[0];
    struct lvio_gpu_fb *fb = &scr->fb[0];
    char name[64];
    const unsigned frames = 60, lines = 200;
    uint64_t c0, ns;
    int rc = LVIO_OK;

    c0 = cycles();
    for (unsigned i = 0; i < frames && rc == LVIO_OK; i++)
        rc = lvio_gpu_present(fb, NULL);
    ns = bench_elapsed_ns(c0);
    ksnprintf(name, sizeof name, "gpu present %ux%u", fb->width, fb->height);
    if (rc == LVIO_OK)
        bench_line(name, frames * 10000000000ull / (ns ? ns : 1), "fps");

    /* One text line: its damage rectangle only (the console's line height). */
    struct gfx_rect area = testcard_console_area(fb->width, fb->height);
    struct lvio_gpu_rect line = {area.x, area.y, area.w, fbcon_line_height(&scr->con)};
    c0 = cycles();
    for (unsigned i = 0; i < lines && rc == LVIO_OK; i++)
        rc = lvio_gpu_present(fb, &line);
    ns = bench_elapsed_ns(c0);
    ksnprintf(name, sizeof name, "gpu text line %ux%u", line.width, line.height);
    if (rc == LVIO_OK)
        bench_line(name, ns * 10 / lines / 1000, "us");

    if (scr->fb[1].gpu) {
        c0 = cycles();
        for (unsigned i = 0; i < frames && rc == LVIO_OK; i++)
            rc = lvio_gpu_show(&g->gpu, 0, &scr->fb[(i + 1) % 2]);
        ns = bench_elapsed_ns(c0);
        ksnprintf(name, sizeof name, "gpu page flip %ux%u", fb->width, fb->height);
        if (rc == LVIO_OK)
            bench_line(name, frames * 10000000000ull / (ns ? ns : 1), "fps");
    }
    if (rc != LVIO_OK)
        kprintf("bench: gpu failed: %s: %s\n", lvio_gpu_errname(&g->gpu, rc),
                lvio_device_error(&g->k->dev));
    gpu3d_bench(&g->gpu);
}

const struct kdriver kdriver_gpu = {
    .device_id = LVIO_VIRTIO_ID_GPU, .name = "gpu",
    .run = run_gpu, .soak = soak_gpu, .bench = bench_gpu,
    .shell = shell_gpu,
    .shell_help = "gpu 3d | gpu card: the first GPU's 3D triangle on its screen, or the test card",
};
