/*
 * virtio-gpu 2D driver (VIRTIO 1.2, 5.7): framebuffers. The caller's
 * pixels are shared with the device page by page (the HAL's share()), the
 * contiguous runs recorded in driver-private memory and published to the
 * device as a scatter-gather list in DMA pages it may read but whose
 * contents the driver never reads back. Show and present are batches of
 * the commands in gpu.c.
 *
 * Who owns the backing: the framebuffer, from create to destroy; a lost
 * command that reads it (an ATTACH_BACKING or TRANSFER_TO_HOST_2D that
 * timed out) takes it over when the framebuffer is given up, until the
 * device gives the chain back or is reset (lvio_gpu_fb_held_release).
 */
#include "lvio/config.h"
#if LVIO_WITH_GPU /* else left out: lvio/config.h */

#include "gpu_internal.h"

#define BYTES_PER_PIXEL 4u

static bool format_supported(uint32_t format)
{
    switch (format) {
    case LVIO_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
    case LVIO_VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
        return true;
    default:
        return false;
    }
}

/* Length of the piece of [p, end) that starts at p and stays in one page. */
static size_t piece_len(const uint8_t *p, const uint8_t *end)
{
    size_t to_boundary = LVIO_PAGE_SIZE - ((uintptr_t)p & (LVIO_PAGE_SIZE - 1));
    size_t left = (size_t)(end - p);
    return left < to_boundary ? left : to_boundary;
}

/*
 * Undo the sharing of the first `shared` bytes of the backing, page by page,
 * with the device address of each piece taken from the driver's own runs.
 */
static void fb_unshare(struct lvio_gpu_fb *fb, size_t shared)
{
    struct lvio_device *dev = fb->gpu->dev;
    const uint8_t *p = fb->pixels;
    uint32_t e = 0;
    uint64_t in_run = 0;

    while ((size_t)(p - fb->pixels) < shared && e < fb->nr_entries) {
        size_t n = piece_len(p, fb->pixels + shared);
        lvio_unshare_give_back(dev, p, n, (enum lvio_dma_dir)fb->dir, fb->runs[e].addr + in_run);
        p += n;
        in_run += n;
        if (in_run >= fb->runs[e].len) {
            e++;
            in_run = 0;
        }
    }
}

/* Append one shared piece to the runs, merging it with the last run when
 * the device addresses are contiguous. */
static int fb_add_piece(struct lvio_gpu_fb *fb, uint32_t max_entries, uint64_t addr, size_t n)
{
    if (fb->nr_entries > 0) {
        struct lvio_gpu_run *last = &fb->runs[fb->nr_entries - 1];
        uint64_t merged = (uint64_t)last->len + n;
        if (last->addr + last->len == addr && merged <= 0x80000000u) {
            last->len = (uint32_t)merged;
            return LVIO_OK;
        }
    }
    if (fb->nr_entries == max_entries)
        return LVIO_E_NOSPC;
    fb->runs[fb->nr_entries] = (struct lvio_gpu_run){addr, (uint32_t)n, 0};
    fb->nr_entries++;
    return LVIO_OK;
}

/* The device's copy of the list, written from the runs, never read. */
static void fb_publish_entries(struct lvio_gpu_fb *fb)
{
    for (uint32_t i = 0; i < fb->nr_entries; i++) {
        fb->entries[i].addr = lvio_cpu_to_le64(fb->runs[i].addr);
        fb->entries[i].length = lvio_cpu_to_le32(fb->runs[i].len);
        fb->entries[i].padding = 0;
    }
}

/* Sharing ran out of room for runs: say which room, and how much is needed. */
static int fb_share_room(struct lvio_gpu_fb *fb, size_t at, uint32_t max_entries)
{
    struct lvio_device *dev = fb->gpu->dev;
    if (max_entries < fb->max_runs || max_entries == LVIO_GPU_MAX_ENTRIES)
        return lvio_fail(dev, LVIO_E_NOSPC,
                         "gpu: sharing byte %zu of a %zu-byte backing: more than %u runs "
                         "(the device takes at most %u)",
                         at, fb->size, max_entries, LVIO_GPU_MAX_ENTRIES);
    return lvio_fail(dev, LVIO_E_INVAL,
                     "gpu: sharing byte %zu of a %zu-byte backing: more than the %u runs "
                     "of driver-private room given; LVIO_GPU_FB_RUNS(size) = %zu always do",
                     at, fb->size, fb->max_runs, (size_t)LVIO_GPU_FB_RUNS(fb->size));
}

void lvio_gpu_backing_init(struct lvio_gpu_fb *fb, struct lvio_gpu *gpu, void *mem, size_t size,
                           enum lvio_dma_dir dir, struct lvio_gpu_run *runs, uint32_t max_runs)
{
    memset(fb, 0, sizeof *fb);
    fb->gpu = gpu;
    fb->pixels = mem;
    fb->size = size;
    fb->dir = dir;
    fb->runs = runs ? runs : fb->inline_runs;
    fb->max_runs = runs ? max_runs : LVIO_GPU_FB_INLINE_RUNS;
}

int lvio_gpu_backing_share(struct lvio_gpu_fb *fb)
{
    struct lvio_device *dev = fb->gpu->dev;
    const struct lvio_hal *hal = dev->hal;
    const uint8_t *end = fb->pixels + fb->size;
    size_t pieces = LVIO_GPU_FB_RUNS(fb->size);
    uint32_t max_entries = pieces < LVIO_GPU_MAX_ENTRIES ? (uint32_t)pieces : LVIO_GPU_MAX_ENTRIES;
    enum lvio_dma_dir dir = (enum lvio_dma_dir)fb->dir;

    if (max_entries > fb->max_runs)
        max_entries = fb->max_runs;
    fb->nr_entries = 0;
    for (const uint8_t *p = fb->pixels; p < end;) {
        size_t n = piece_len(p, end);
        uint64_t addr;
        int err = hal->share(hal->ctx, p, n, dir, &addr);
        if (err == LVIO_OK)
            err = fb_add_piece(fb, max_entries, addr, n);
        if (err) {
            size_t at = (size_t)(p - fb->pixels);
            if (err == LVIO_E_NOSPC && hal->unshare)
                hal->unshare(hal->ctx, p, n, dir, addr);
            fb_unshare(fb, at);
            fb->nr_entries = 0; /* unshared: lvio_gpu_backing_release must not again */
            if (err == LVIO_E_NOSPC)
                return fb_share_room(fb, at, max_entries);
            return lvio_fail(dev, err < 0 ? err : LVIO_E_HAL,
                             "gpu: sharing byte %zu of a %zu-byte backing failed (%s)", at,
                             fb->size, lvio_errname(err));
        }
        p += n;
    }
    return LVIO_OK;
}

/* Share the backing page by page and build the scatter-gather list. */
static int fb_share(struct lvio_gpu_fb *fb)
{
    struct lvio_device *dev = fb->gpu->dev;
    const struct lvio_hal *hal = dev->hal;
    int err = lvio_gpu_backing_share(fb);
    if (err || fb->nr_entries == 0)
        return err;
    fb->entries_pages = (uint32_t)((fb->nr_entries * sizeof *fb->entries + LVIO_PAGE_SIZE - 1) /
                                   LVIO_PAGE_SIZE);
    fb->entries = hal->dma_alloc(hal->ctx, fb->entries_pages, &fb->entries_addr);
    if (!fb->entries) {
        lvio_gpu_backing_release(fb);
        return lvio_fail(dev, LVIO_E_NOMEM, "gpu: no %u DMA pages for a backing list",
                         fb->entries_pages);
    }
    fb_publish_entries(fb);
    return LVIO_OK;
}

void lvio_gpu_backing_release(struct lvio_gpu_fb *fb)
{
    fb_unshare(fb, fb->size);
    if (fb->entries)
        lvio_dma_give_back(fb->gpu->dev, fb->entries, fb->entries_pages, fb->entries_addr);
    fb->entries = NULL;
    fb->nr_entries = 0;
}

/* Copy a framebuffer's record to `dst`; runs kept inline move with it. */
static void fb_copy(struct lvio_gpu_fb *dst, const struct lvio_gpu_fb *src)
{
    *dst = *src;
    if (src->runs == src->inline_runs)
        dst->runs = dst->inline_runs;
}

/*
 * The lost command in slot `slot` keeps what `fb` shared (its list, its
 * pixels, its runs) until the device gives the chain back; `fb` no longer
 * owns them.
 */
void lvio_gpu_backing_to_slot(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, unsigned slot)
{
    fb_copy(&gpu->slots[slot].held, fb);
    gpu->cmd_slots[slot].held = &gpu->slots[slot].held;
    fb->entries = NULL;
    fb->nr_entries = 0;
}

/* A lost command that reads resource `id`'s backing and holds nothing
 * yet, or -1. */
static int slot_lost_reading(const struct lvio_gpu *gpu, uint32_t id)
{
    for (unsigned i = 0; id && i < LVIO_GPU_CMD_SLOTS; i++) {
        const struct lvio_req_slot *s = &gpu->cmd_slots[i];
        if (s->state == LVIO_REQ_LOST && gpu->slots[i].reads == id && !s->held)
            return (int)i;
    }
    return -1;
}

void lvio_gpu_fb_held_release(struct lvio_gpu *gpu, struct lvio_gpu_fb *held)
{
    int next = slot_lost_reading(gpu, held->resource_id);
    if (next >= 0)
        lvio_gpu_backing_to_slot(gpu, held, (unsigned)next);
    else
        lvio_gpu_backing_release(held);
}

static int fb_check_args(struct lvio_gpu *gpu, const struct lvio_gpu_fb *fb, uint32_t width,
                         uint32_t height, uint32_t format, const void *pixels, size_t size,
                         const struct lvio_gpu_run *runs, uint32_t max_runs)
{
    if (!gpu || !fb || !gpu->cmds.mem || !pixels)
        return LVIO_E_INVAL;
    if (runs && max_runs == 0)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: room for 0 runs given for the backing");
    if (width == 0 || height == 0 || width > LVIO_GPU_MAX_DIM || height > LVIO_GPU_MAX_DIM)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: framebuffer %ux%u", width, height);
    if (!format_supported(format))
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: format %u is not a 32-bit 2D format",
                         format);
    if ((uintptr_t)pixels % BYTES_PER_PIXEL != 0 ||
        size < (uint64_t)width * BYTES_PER_PIXEL * height)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: %ux%u framebuffer needs %llu aligned bytes, got %zu", width,
                         height, (unsigned long long)width * BYTES_PER_PIXEL * height, size);
    if (!gpu->dev->hal->share)
        return lvio_fail(gpu->dev, LVIO_E_UNSUPPORTED,
                         "gpu: the HAL has no share(), needed for framebuffer backing");
    return LVIO_OK;
}

/* Append RESOURCE_UNREF of resource `id`. */
static void gpu_unref_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                          uint32_t id)
{
    struct lvio_virtio_gpu_resource_unref *unref =
        lvio_gpu_cmd(gpu, b, slot, LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof *unref);
    unref->resource_id = lvio_cpu_to_le32(id);
}

/*
 * The resource was created but attaching its backing failed: unref it (a
 * device that answered the attach may still be healthy), keeping the first
 * error's report.
 */
static void fb_drop_resource(struct lvio_gpu_fb *fb)
{
    struct lvio_gpu *gpu = fb->gpu;
    char why[LVIO_ERRMSG_SIZE];
    uint32_t cmd = gpu->last_cmd, resp = gpu->last_resp;
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slot;

    memcpy(why, gpu->dev->errmsg, sizeof why);
    if (lvio_gpu_slots_take(gpu, &slot, 1) == LVIO_OK) {
        gpu_unref_cmd(gpu, &b, slot, fb->resource_id);
        lvio_gpu_run(gpu, &b);
    }
    memcpy(gpu->dev->errmsg, why, sizeof why);
    gpu->last_cmd = cmd;
    gpu->last_resp = resp;
}

static uint32_t gpu_new_resource_id(struct lvio_gpu *gpu)
{
    uint32_t id = gpu->next_resource_id++;
    if (gpu->next_resource_id == 0)
        gpu->next_resource_id = 1;
    return id;
}

/* A little-endian word into a request being built, at byte `off`. */
static void put_le32(void *req, uint32_t off, uint32_t v)
{
    lvio_le32 w = lvio_cpu_to_le32(v);
    memcpy((uint8_t *)req + off, &w, sizeof w);
}

int lvio_gpu_res_create(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, const void *create,
                        uint32_t len, uint32_t nr_entries_off)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned s[2];
    uint32_t type = lvio_le32_to_cpu(((const struct lvio_virtio_gpu_ctrl_hdr *)create)->type);
    bool attach = nr_entries_off == 0; /* else the list follows `create` */
    int err = fb->size ? fb_share(fb) : LVIO_OK;
    if (err)
        goto release;
    err = lvio_gpu_slots_take(gpu, s, attach ? 2 : 1);
    if (err)
        goto release;
    fb->resource_id = gpu_new_resource_id(gpu);
    fb->epoch = gpu->epoch;

    void *req = lvio_gpu_cmd(gpu, &b, s[0], type, len);
    memcpy(req, create, len);
    put_le32(req, sizeof(struct lvio_virtio_gpu_ctrl_hdr), fb->resource_id);
    if (attach) {
        struct lvio_virtio_gpu_resource_attach_backing *a = lvio_gpu_cmd(
            gpu, &b, s[1], LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, sizeof *a);
        a->resource_id = lvio_cpu_to_le32(fb->resource_id);
        a->nr_entries = lvio_cpu_to_le32(fb->nr_entries);
    } else {
        put_le32(req, nr_entries_off, fb->nr_entries);
    }
    unsigned reader = s[b.n - 1]; /* the command the list follows */
    if (fb->nr_entries)
        gpu->slots[reader].reads = fb->resource_id;
    b.req[b.n - 1].out.addr = fb->entries_addr;
    b.req[b.n - 1].out.len = fb->nr_entries * (uint32_t)sizeof *fb->entries;
    err = lvio_gpu_run(gpu, &b);
    if (err == LVIO_OK)
        return LVIO_OK;
    if (fb->nr_entries && gpu->cmd_slots[reader].state == LVIO_REQ_LOST) {
        /* The device may still read the list and later the pixels: the
         * slot keeps both until it comes back or the device is reset. */
        lvio_gpu_backing_to_slot(gpu, fb, reader);
    }
    if ((err == LVIO_E_REFUSED || err == LVIO_E_DEVICE) && gpu->last_cmd != type)
        fb_drop_resource(fb);
release:
    lvio_gpu_backing_release(fb);
    fb->gpu = NULL;
    return err;
}

int lvio_gpu_fb_create(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, uint32_t width,
                       uint32_t height, uint32_t format, void *pixels, size_t size,
                       struct lvio_gpu_run *runs, uint32_t max_runs)
{
    int err = fb_check_args(gpu, fb, width, height, format, pixels, size, runs, max_runs);
    if (err)
        return err;
    lvio_gpu_backing_init(fb, gpu, pixels, (size_t)width * BYTES_PER_PIXEL * height,
                          LVIO_DMA_TO_DEVICE, runs, max_runs);
    fb->width = width;
    fb->height = height;
    fb->format = format;
    fb->stride = width * BYTES_PER_PIXEL;

    struct lvio_virtio_gpu_resource_create_2d create = {
        .hdr.type = lvio_cpu_to_le32(LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D),
        .format = lvio_cpu_to_le32(format),
        .width = lvio_cpu_to_le32(width),
        .height = lvio_cpu_to_le32(height)};
    return lvio_gpu_res_create(gpu, fb, &create, sizeof create, 0);
}

/* Queue SET_SCANOUT(scanout, resource or 0, rect). */
void lvio_gpu_set_scanout_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                              unsigned scanout, const struct lvio_gpu_fb *fb)
{
    struct lvio_virtio_gpu_set_scanout *req =
        lvio_gpu_cmd(gpu, b, slot, LVIO_VIRTIO_GPU_CMD_SET_SCANOUT, sizeof *req);
    req->scanout_id = lvio_cpu_to_le32(scanout);
    if (fb) {
        req->resource_id = lvio_cpu_to_le32(fb->resource_id);
        req->r.width = lvio_cpu_to_le32(fb->width);
        req->r.height = lvio_cpu_to_le32(fb->height);
    }
}

/* [a, a + alen) and [b, b + blen) overlap, computed without either end
 * (it may wrap). */
static bool overlap(const void *a, size_t alen, const void *b, size_t blen)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return alen && blen && (x >= y ? x - y < blen : y - x < alen);
}

bool lvio_gpu_memory_busy(const struct lvio_gpu *gpu, const void *mem, size_t len)
{
    if (!gpu || !mem || len == 0)
        return false;
    if (gpu->dev && gpu->dev->dead)
        return true;
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++) {
        const struct lvio_gpu_fb *h = &gpu->slots[i].held;
        bool submit = gpu->slots[i].fence != 0; /* in flight, its buffer in `held` */
        if ((gpu->cmd_slots[i].held != h && !submit) || !h->nr_entries)
            continue;
        if (overlap(mem, len, h->pixels, h->size) ||
            (h->runs != h->inline_runs && overlap(mem, len, h->runs, h->max_runs * sizeof *h->runs)))
            return true;
    }
    return false;
}

/* Off every scanout that shows it, DETACH_BACKING, UNREF: one batch. */
static int fb_destroy_cmds(struct lvio_gpu *gpu, const struct lvio_gpu_fb *fb)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slots[LVIO_GPU_BATCH_MAX], showing = 0;
    for (unsigned s = 0; s < gpu->num_scanouts; s++)
        showing += gpu->scanouts[s].resource_id == fb->resource_id;
    int err = lvio_gpu_slots_take(gpu, slots, showing + 2);
    if (err)
        return err;
    for (unsigned s = 0; s < gpu->num_scanouts; s++) {
        if (gpu->scanouts[s].resource_id != fb->resource_id)
            continue;
        lvio_gpu_set_scanout_cmd(gpu, &b, slots[b.n], s, NULL);
        gpu->scanouts[s].resource_id = 0;
    }
    struct lvio_virtio_gpu_resource_detach_backing *detach = lvio_gpu_cmd(
        gpu, &b, slots[b.n], LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, sizeof *detach);
    detach->resource_id = lvio_cpu_to_le32(fb->resource_id);
    gpu_unref_cmd(gpu, &b, slots[b.n], fb->resource_id);
    return lvio_gpu_run(gpu, &b);
}

void lvio_gpu_fb_forget(struct lvio_gpu_fb *fb)
{
    struct lvio_gpu *gpu = fb->gpu;
    /* A transfer that timed out may still be read by the device: the
     * backing stays shared until it comes back (or the device is reset). */
    int reader = fb->epoch == gpu->epoch ? slot_lost_reading(gpu, fb->resource_id) : -1;
    if (reader >= 0 && fb->nr_entries)
        lvio_gpu_backing_to_slot(gpu, fb, (unsigned)reader);
    lvio_gpu_backing_release(fb);
    fb->gpu = NULL;
    fb->resource_id = 0;
}

int lvio_gpu_fb_destroy(struct lvio_gpu_fb *fb)
{
    if (!fb || !fb->gpu)
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = fb->gpu;
    int err = LVIO_OK;

    if (gpu->cmds.mem && fb->resource_id && fb->epoch == gpu->epoch)
        err = fb_destroy_cmds(gpu, fb);
    lvio_gpu_fb_forget(fb);
    return err;
}

/* A rectangle as the device reads it. */
static struct lvio_virtio_gpu_rect wire_rect(const struct lvio_gpu_rect *r)
{
    return (struct lvio_virtio_gpu_rect){lvio_cpu_to_le32(r->x), lvio_cpu_to_le32(r->y),
                                         lvio_cpu_to_le32(r->width),
                                         lvio_cpu_to_le32(r->height)};
}

void lvio_gpu_transfer_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                           const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r)
{
    struct lvio_virtio_gpu_transfer_to_host_2d *req =
        lvio_gpu_cmd(gpu, b, slot, LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, sizeof *req);
    req->r = wire_rect(r);
    req->offset = lvio_cpu_to_le64((uint64_t)r->y * fb->stride + (uint64_t)r->x * BYTES_PER_PIXEL);
    req->resource_id = lvio_cpu_to_le32(fb->resource_id);
    gpu->slots[slot].reads = fb->resource_id;
}

void lvio_gpu_flush_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                        const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r)
{
    struct lvio_virtio_gpu_resource_flush *req =
        lvio_gpu_cmd(gpu, b, slot, LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH, sizeof *req);
    req->r = wire_rect(r);
    req->resource_id = lvio_cpu_to_le32(fb->resource_id);
}

bool lvio_gpu_fb_usable(const struct lvio_gpu_fb *fb)
{
    return fb && fb->gpu && fb->gpu->cmds.mem && fb->resource_id && fb->epoch == fb->gpu->epoch;
}

int lvio_gpu_show(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_fb *fb)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slots[3];
    int err;

    if (!gpu || !gpu->cmds.mem || (fb && (!lvio_gpu_fb_usable(fb) || fb->gpu != gpu)))
        return LVIO_E_INVAL;
    if (scanout >= gpu->num_scanouts)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: scanout %u, the device has %u",
                         scanout, gpu->num_scanouts);
    err = lvio_gpu_slots_take(gpu, slots, fb ? 3 : 1);
    if (err)
        return err;
    if (!fb) {
        lvio_gpu_set_scanout_cmd(gpu, &b, slots[0], scanout, NULL);
    } else {
        struct lvio_gpu_rect all = {0, 0, fb->width, fb->height};
        lvio_gpu_transfer_cmd(gpu, &b, slots[0], fb, &all);
        lvio_gpu_set_scanout_cmd(gpu, &b, slots[1], scanout, fb);
        lvio_gpu_flush_cmd(gpu, &b, slots[2], fb, &all);
    }
    err = lvio_gpu_run(gpu, &b);
    if (err == LVIO_OK)
        gpu->scanouts[scanout].resource_id = fb ? fb->resource_id : 0;
    return err;
}

int lvio_gpu_present(struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *damage)
{
    struct lvio_gpu_batch b = {.n = 0};
    unsigned slots[2];

    if (!lvio_gpu_fb_usable(fb))
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = fb->gpu;
    struct lvio_gpu_rect r = damage ? *damage : (struct lvio_gpu_rect){0, 0, fb->width, fb->height};
    if (r.width == 0 || r.height == 0)
        return LVIO_OK;
    if ((uint64_t)r.x + r.width > fb->width || (uint64_t)r.y + r.height > fb->height)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: damage %ux%u at (%u,%u) outside the %ux%u framebuffer", r.width,
                         r.height, r.x, r.y, fb->width, fb->height);
    int err = lvio_gpu_slots_take(gpu, slots, 2);
    if (err)
        return err;
    lvio_gpu_transfer_cmd(gpu, &b, slots[0], fb, &r);
    lvio_gpu_flush_cmd(gpu, &b, slots[1], fb, &r);
    return lvio_gpu_run(gpu, &b);
}

#else
typedef int lvio_gpu_fb_left_out; /* ISO C wants a declaration */
#endif
