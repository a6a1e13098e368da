/*
 * virtio-gpu 2D driver (VIRTIO 1.2, 5.7).
 *
 * The driver owns three DMA pages:
 *   page 0  LVIO_GPU_CMD_SLOTS command slots of 256 bytes: the request at
 *           +0, the device's response at +128
 *   page 1  the query slot, for the large responses (display info, EDID)
 *   page 2  cursor slots of 64 bytes (cursor commands have no response)
 * A slot belongs to the device from lvio_vq_add until its completion.
 * Commands go out in batches: every chain of a batch is added, then one
 * notify, then the driver waits (bounded) for all of them. A slot whose
 * command timed out is "lost": it is not reused until the device gives it
 * back, since the device may still write its response.
 */
#include "lvio/edid.h"
#include "lvio/gpu.h"
#include "../core/internal.h"

#define GPU_PAGES 3
#define SLOT_SIZE 256u
#define RESP_OFF 128u
#define QUERY_SLOT LVIO_GPU_CMD_SLOTS
#define QUERY_PAGE 1u
#define CURSOR_PAGE 2u
#define CURSOR_SLOT_SIZE 64u
#define CTRLQ_SIZE 64
#define CURSORQ_SIZE 16
#define MAX_DIM 16384u
#define BYTES_PER_PIXEL 4u

enum { SLOT_FREE, SLOT_BUSY, SLOT_DONE, SLOT_LOST };

/* One command of a batch. */
struct gpu_cmd {
    unsigned slot;
    uint32_t type;
    uint32_t req_len;
    uint32_t resp_type;     /* the success response expected */
    uint32_t resp_len;      /* its size */
    struct lvio_sg extra;   /* a second readable buffer (len 0: none) */
};

_Static_assert(sizeof(struct lvio_virtio_gpu_resp_edid) + RESP_OFF <= LVIO_PAGE_SIZE,
               "query slot fits its page");
_Static_assert(LVIO_GPU_CMD_SLOTS * SLOT_SIZE <= LVIO_PAGE_SIZE, "slots fit a page");
_Static_assert(sizeof(struct lvio_virtio_gpu_update_cursor) <= CURSOR_SLOT_SIZE, "cursor slot");
_Static_assert(LVIO_GPU_CURSOR_SLOTS * CURSOR_SLOT_SIZE <= LVIO_PAGE_SIZE, "cursor page");

/* ---- names ---------------------------------------------------------------- */

const char *lvio_gpu_resp_name(uint32_t type)
{
    static const char *const ok[] = {"OK_NODATA", "OK_DISPLAY_INFO", "OK_CAPSET_INFO",
                                     "OK_CAPSET", "OK_EDID", "OK_RESOURCE_UUID",
                                     "OK_MAP_INFO"};
    static const char *const err[] = {"ERR_UNSPEC", "ERR_OUT_OF_MEMORY",
                                      "ERR_INVALID_SCANOUT_ID", "ERR_INVALID_RESOURCE_ID",
                                      "ERR_INVALID_CONTEXT_ID", "ERR_INVALID_PARAMETER"};

    if (type >= LVIO_VIRTIO_GPU_RESP_OK_NODATA &&
        type - LVIO_VIRTIO_GPU_RESP_OK_NODATA < sizeof ok / sizeof ok[0])
        return ok[type - LVIO_VIRTIO_GPU_RESP_OK_NODATA];
    if (type >= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC &&
        type - LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC < sizeof err / sizeof err[0])
        return err[type - LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC];
    return "unknown";
}

const char *lvio_gpu_cmd_name(uint32_t type)
{
    static const char *const cmd2d[] = {
        "GET_DISPLAY_INFO", "RESOURCE_CREATE_2D", "RESOURCE_UNREF", "SET_SCANOUT",
        "RESOURCE_FLUSH", "TRANSFER_TO_HOST_2D", "RESOURCE_ATTACH_BACKING",
        "RESOURCE_DETACH_BACKING", "GET_CAPSET_INFO", "GET_CAPSET", "GET_EDID",
        "RESOURCE_ASSIGN_UUID", "RESOURCE_CREATE_BLOB", "SET_SCANOUT_BLOB"};

    if (type >= LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO &&
        type - LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO < sizeof cmd2d / sizeof cmd2d[0])
        return cmd2d[type - LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO];
    if (type == LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR)
        return "UPDATE_CURSOR";
    if (type == LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR)
        return "MOVE_CURSOR";
    return "unknown";
}

const char *lvio_gpu_errname(const struct lvio_gpu *gpu, int err)
{
    if (err == LVIO_E_REFUSED && gpu)
        return lvio_gpu_resp_name(gpu->last_resp);
    return lvio_errname(err);
}

/* ---- slots -------------------------------------------------------------------- */

/* A little-endian word the device wrote, read once (it may change it at
 * any time: only the value read is checked and used). */
static uint32_t dev_le32(const lvio_le32 *p)
{
    return lvio_le32_to_cpu(*(const volatile lvio_le32 *)p);
}

static uint32_t slot_offset(unsigned slot)
{
    return slot == QUERY_SLOT ? QUERY_PAGE * LVIO_PAGE_SIZE : slot * SLOT_SIZE;
}

static uint8_t *slot_req(struct lvio_gpu *gpu, unsigned slot)
{
    return gpu->mem + slot_offset(slot);
}

static uint8_t *slot_resp(struct lvio_gpu *gpu, unsigned slot)
{
    return slot_req(gpu, slot) + RESP_OFF;
}

static void fb_release(struct lvio_gpu_fb *fb);
static void fb_copy(struct lvio_gpu_fb *dst, const struct lvio_gpu_fb *src);
static int cursor_reap(struct lvio_gpu *gpu);

/* Give back what a lost command's chain named, now that the device cannot
 * read it any more. */
static void slot_release_held(struct lvio_gpu_slot *s)
{
    if (s->held.gpu)
        fb_release(&s->held);
    s->held.gpu = NULL;
}

/* A lost command that reads resource `id`'s backing and holds nothing yet
 * (other than `not`), or NULL. */
static struct lvio_gpu_slot *slot_lost_reading(struct lvio_gpu *gpu, uint32_t id,
                                               const struct lvio_gpu_slot *not)
{
    for (unsigned i = 0; id && i <= QUERY_SLOT; i++) {
        struct lvio_gpu_slot *s = &gpu->slots[i];
        if (s != not && s->state == SLOT_LOST && s->reads == id && !s->held.gpu)
            return s;
    }
    return NULL;
}

/* A completion came back: its slot is done, or free again if it was lost.
 * What a lost slot held goes to another lost command reading the same
 * backing, or back to the HAL when there is none. */
static void gpu_reap(struct lvio_gpu *gpu, void *token, uint32_t len)
{
    struct lvio_gpu_slot *s = token;
    if (s < gpu->slots || s > &gpu->slots[QUERY_SLOT])
        return; /* not ours: cannot happen, the queue validates ids */
    if (s->state == SLOT_LOST) {
        struct lvio_gpu_slot *next =
            s->held.gpu ? slot_lost_reading(gpu, s->held.resource_id, s) : NULL;
        if (next) {
            fb_copy(&next->held, &s->held);
            s->held.gpu = NULL;
        }
        slot_release_held(s);
        s->state = SLOT_FREE;
        return;
    }
    s->state = SLOT_DONE;
    s->len = len;
}

/* Collect whatever has completed without waiting. */
static int gpu_reap_all(struct lvio_gpu *gpu)
{
    void *token;
    uint32_t len;
    int r;
    while ((r = lvio_vq_get(&gpu->ctrlq, &token, &len)) == 1)
        gpu_reap(gpu, token, len);
    return r;
}

static int gpu_slot_alloc(struct lvio_gpu *gpu, unsigned *slot, bool query)
{
    int r = gpu_reap_all(gpu);
    if (r < 0)
        return r;
    if (query) {
        if (gpu->slots[QUERY_SLOT].state != SLOT_FREE)
            return lvio_fail(gpu->dev, LVIO_E_AGAIN,
                             "gpu: an earlier query is still with the device");
        *slot = QUERY_SLOT;
        return LVIO_OK;
    }
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++) {
        if (gpu->slots[i].state == SLOT_FREE) {
            *slot = i;
            return LVIO_OK;
        }
    }
    return lvio_fail(gpu->dev, LVIO_E_AGAIN,
                     "gpu: all %u command slots are held by commands that timed out",
                     LVIO_GPU_CMD_SLOTS);
}

/*
 * Start a command in a free slot: zero its request and response, write the
 * header, and return the request for the caller to fill in.
 */
static void *gpu_cmd_init(struct lvio_gpu *gpu, struct gpu_cmd *c, unsigned slot,
                          uint32_t type, uint32_t req_len, uint32_t resp_type,
                          uint32_t resp_len)
{
    struct lvio_virtio_gpu_ctrl_hdr *hdr = (void *)slot_req(gpu, slot);

    memset(slot_req(gpu, slot), 0, RESP_OFF);
    memset(slot_resp(gpu, slot), 0, resp_len);
    hdr->type = lvio_cpu_to_le32(type);
    gpu->slots[slot].reads = 0;
    c->slot = slot;
    c->type = type;
    c->req_len = req_len;
    c->resp_type = resp_type;
    c->resp_len = resp_len;
    c->extra.len = 0;
    return hdr;
}

/* Prepare a command whose response is a bare header (OK_NODATA). */
static void *gpu_cmd(struct lvio_gpu *gpu, struct gpu_cmd *c, unsigned slot, uint32_t type,
                     uint32_t req_len)
{
    return gpu_cmd_init(gpu, c, slot, type, req_len, LVIO_VIRTIO_GPU_RESP_OK_NODATA,
                        sizeof(struct lvio_virtio_gpu_ctrl_hdr));
}

/* ---- submitting and waiting ------------------------------------------------ */

static int gpu_add(struct lvio_gpu *gpu, const struct gpu_cmd *c)
{
    uint64_t base = gpu->mem_addr + slot_offset(c->slot);
    struct lvio_sg out[2] = {{base, c->req_len}, c->extra};
    struct lvio_sg in = {base + RESP_OFF, c->resp_len};
    int err = lvio_vq_add(&gpu->ctrlq, out, c->extra.len ? 2 : 1, &in, 1,
                          &gpu->slots[c->slot]);
    if (err == LVIO_OK)
        gpu->slots[c->slot].state = SLOT_BUSY;
    return err; /* LVIO_E_NOSPC cannot be: gpu_batch_fits counted */
}

/* Wait for every command of the batch, within one timeout for the batch. */
static int gpu_wait(struct lvio_gpu *gpu, const struct gpu_cmd *cmds, unsigned n)
{
    const struct lvio_hal *hal = gpu->dev->hal;
    uint64_t start = hal->now_ns(hal->ctx);

    for (;;) {
        unsigned pending = 0;
        for (unsigned i = 0; i < n; i++)
            pending += gpu->slots[cmds[i].slot].state == SLOT_BUSY;
        if (pending == 0)
            return LVIO_OK;
        uint64_t spent = hal->now_ns(hal->ctx) - start;
        uint64_t left = spent < gpu->timeout_ns ? gpu->timeout_ns - spent : 0;
        void *token;
        uint32_t len;
        int err = lvio_vq_wait(&gpu->ctrlq, left, &token, &len);
        if (err)
            return err;
        gpu_reap(gpu, token, len);
    }
}

/* Check one response; frees its slot. */
static int gpu_check(struct lvio_gpu *gpu, const struct gpu_cmd *c)
{
    const struct lvio_virtio_gpu_ctrl_hdr *hdr = (const void *)slot_resp(gpu, c->slot);
    uint32_t len = gpu->slots[c->slot].len;
    uint32_t type = dev_le32(&hdr->type);
    const char *cmd = lvio_gpu_cmd_name(c->type);

    gpu->slots[c->slot].state = SLOT_FREE;
    if (len < sizeof *hdr)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu %s: response of %u bytes, shorter than its header", cmd, len);
    if (type >= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC && type <= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC + 0xff) {
        gpu->last_cmd = c->type;
        gpu->last_resp = type;
        return lvio_fail(gpu->dev, LVIO_E_REFUSED, "gpu %s: device answered %s (0x%x)", cmd,
                         lvio_gpu_resp_name(type), type);
    }
    if (type != c->resp_type)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu %s: response type 0x%x (%s), expected %s", cmd, type,
                         lvio_gpu_resp_name(type), lvio_gpu_resp_name(c->resp_type));
    if (len < c->resp_len)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu %s: %s response of %u bytes, expected %u", cmd,
                         lvio_gpu_resp_name(type), len, c->resp_len);
    return LVIO_OK;
}

/*
 * A wait failed: name the first command the device has not answered (the
 * one it is stuck on), keep the queue's words. Unanswered slots become
 * lost; answered ones are free again.
 */
static int gpu_wait_failed(struct lvio_gpu *gpu, const struct gpu_cmd *cmds, unsigned n,
                           int err)
{
    char why[LVIO_ERRMSG_SIZE];
    unsigned stuck = n;

    memcpy(why, gpu->dev->errmsg, sizeof why);
    for (unsigned i = 0; i < n; i++) {
        struct lvio_gpu_slot *s = &gpu->slots[cmds[i].slot];
        if (s->state == SLOT_BUSY && stuck == n)
            stuck = i;
        s->state = s->state == SLOT_BUSY ? SLOT_LOST : SLOT_FREE;
    }
    if (stuck == n)
        stuck = 0; /* nothing was answered late: the notify itself failed */
    gpu->last_cmd = cmds[stuck].type;
    if (n == 1)
        return lvio_fail(gpu->dev, err, "gpu %s: %s", lvio_gpu_cmd_name(cmds[0].type), why);
    return lvio_fail(gpu->dev, err, "gpu %s (command %u of a batch of %u): %s",
                     lvio_gpu_cmd_name(cmds[stuck].type), stuck + 1, n, why);
}

/*
 * A batch goes out whole or not at all: the chains in flight when a batch
 * starts are those of commands that timed out, and when they leave too
 * little room, nothing is added (a CREATE_2D must not go without its
 * ATTACH_BACKING).
 */
static int gpu_batch_fits(struct lvio_gpu *gpu, const struct gpu_cmd *cmds, unsigned n)
{
    unsigned need = 0;
    int r = gpu_reap_all(gpu);
    if (r < 0)
        return r;
    for (unsigned i = 0; i < n; i++)
        need += cmds[i].extra.len ? 3 : 2;
    unsigned free_desc = lvio_vq_num_free(&gpu->ctrlq);
    if (need <= free_desc)
        return LVIO_OK;
    return lvio_fail(gpu->dev, LVIO_E_AGAIN,
                     "gpu %s: the control queue has %u free descriptors, the batch needs %u "
                     "(%u are still with the device for commands that timed out)",
                     lvio_gpu_cmd_name(cmds[0].type), free_desc, need,
                     gpu->ctrlq.size - free_desc);
}

/*
 * Submit a batch with one notify, wait for all of it, check every response.
 * Returns 0 or the first command's error (in batch order).
 */
static int gpu_run(struct lvio_gpu *gpu, const struct gpu_cmd *cmds, unsigned n)
{
    unsigned added = 0;
    int err = gpu_batch_fits(gpu, cmds, n);

    if (err) {
        for (unsigned i = 0; i < n; i++)
            gpu->slots[cmds[i].slot].state = SLOT_FREE;
        return err;
    }
    for (; added < n && err == LVIO_OK; added++)
        err = gpu_add(gpu, &cmds[added]);
    if (err != LVIO_OK) {
        added--; /* the one that failed was not added */
        for (unsigned i = added; i < n; i++)
            gpu->slots[cmds[i].slot].state = SLOT_FREE;
    }
    if (added == 0)
        return err;
    int kick = lvio_vq_kick(&gpu->ctrlq);
    gpu->notifies++;
    gpu->commands += added;
    int wait = kick ? kick : gpu_wait(gpu, cmds, added);
    if (wait)
        return gpu_wait_failed(gpu, cmds, added, wait);
    /* Every response is checked (each frees its slot); the first error is
     * the one reported, with its message and response type: the add that
     * failed, else the first bad response in batch order. */
    char why[LVIO_ERRMSG_SIZE];
    uint32_t cmd = err ? cmds[added].type : 0, resp = 0;
    memcpy(why, gpu->dev->errmsg, sizeof why);
    for (unsigned i = 0; i < added; i++) {
        int e = gpu_check(gpu, &cmds[i]);
        if (e && !err) {
            err = e;
            memcpy(why, gpu->dev->errmsg, sizeof why);
            cmd = cmds[i].type;
            resp = gpu->last_resp;
        }
    }
    if (err) {
        memcpy(gpu->dev->errmsg, why, sizeof why);
        gpu->last_cmd = cmd;
        gpu->last_resp = err == LVIO_E_REFUSED ? resp : 0;
    }
    return err;
}

/* ---- setup -------------------------------------------------------------------- */

static int gpu_alloc(struct lvio_gpu *gpu)
{
    const struct lvio_hal *hal = gpu->dev->hal;

    gpu->mem = hal->dma_alloc(hal->ctx, GPU_PAGES, &gpu->mem_addr);
    if (!gpu->mem)
        return lvio_fail(gpu->dev, LVIO_E_NOMEM, "gpu: no %u DMA pages for commands",
                         GPU_PAGES);
    if (((uintptr_t)gpu->mem | gpu->mem_addr) & (LVIO_PAGE_SIZE - 1)) {
        hal->dma_free(hal->ctx, gpu->mem, GPU_PAGES, gpu->mem_addr);
        gpu->mem = NULL;
        return lvio_fail(gpu->dev, LVIO_E_HAL, "gpu: dma_alloc returned an unaligned page");
    }
    return LVIO_OK;
}

static void gpu_free(struct lvio_gpu *gpu)
{
    if (gpu->mem)
        lvio_dma_give_back(gpu->dev, gpu->mem, GPU_PAGES, gpu->mem_addr);
    gpu->mem = NULL;
}

static int gpu_setup(struct lvio_gpu *gpu)
{
    struct lvio_device *dev = gpu->dev;
    int err = lvio_config_read32(dev, offsetof(struct lvio_virtio_gpu_config, num_scanouts),
                                 &gpu->num_scanouts);
    if (err)
        return err;
    if (gpu->num_scanouts < 1 || gpu->num_scanouts > LVIO_VIRTIO_GPU_MAX_SCANOUTS)
        return lvio_fail(dev, LVIO_E_CONFIG, "gpu: num_scanouts %u, expected 1..%u",
                         gpu->num_scanouts, LVIO_VIRTIO_GPU_MAX_SCANOUTS);
    err = gpu_alloc(gpu);
    if (err)
        return err;
    err = lvio_vq_setup(&gpu->ctrlq, dev, LVIO_VIRTIO_GPU_QUEUE_CONTROL, CTRLQ_SIZE);
    if (err)
        goto free_mem;
    /* The largest batch: a framebuffer destroyed while on every scanout
     * (a SET_SCANOUT each, DETACH_BACKING, UNREF), two descriptors a
     * command; with one scanout that is six, which also holds a show
     * (three commands) and CREATE_2D + ATTACH_BACKING (five). */
    uint32_t need = 2 * (gpu->num_scanouts + 2);
    if (gpu->ctrlq.size < need) {
        err = lvio_fail(dev, LVIO_E_QUEUE,
                        "gpu: control queue of %u descriptors, the largest batch needs %u",
                        gpu->ctrlq.size, need);
        goto teardown_ctrlq;
    }
    err = lvio_vq_setup(&gpu->cursorq, dev, LVIO_VIRTIO_GPU_QUEUE_CURSOR, CURSORQ_SIZE);
    if (err)
        goto teardown_ctrlq;
    err = lvio_device_driver_ok(dev);
    if (err)
        goto teardown_queues;
    err = lvio_gpu_query(gpu);
    if (err)
        goto teardown_queues;
    return LVIO_OK;

teardown_queues:
    err = lvio_device_reset_after(dev, err); /* the device lets go of the rings first */
    lvio_vq_teardown(&gpu->cursorq);
    lvio_vq_teardown(&gpu->ctrlq);
    goto free_mem;
teardown_ctrlq:
    err = lvio_device_reset_after(dev, err);
    lvio_vq_teardown(&gpu->ctrlq);
free_mem:
    gpu_free(gpu);
    return err;
}

int lvio_gpu_init(struct lvio_gpu *gpu, struct lvio_device *dev)
{
    if (!gpu || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_GPU)
        return lvio_fail(dev, LVIO_E_INVAL, "gpu: device id %u is not a gpu", dev->device_id);
    memset(gpu, 0, sizeof *gpu);
    gpu->dev = dev;
    gpu->timeout_ns = LVIO_GPU_TIMEOUT_NS;
    gpu->next_resource_id = 1;
    int err = lvio_device_begin(dev, 1ull << LVIO_VIRTIO_GPU_F_EDID);
    if (err)
        return err;
    gpu->has_edid = lvio_has_feature(dev->features_accepted, LVIO_VIRTIO_GPU_F_EDID);
    err = gpu_setup(gpu);
    if (err) {
        gpu->num_scanouts = 0; /* what the device said is not to be used */
        lvio_device_fail(dev);
    }
    return err;
}

int lvio_gpu_reset(struct lvio_gpu *gpu)
{
    if (!gpu || !gpu->dev)
        return LVIO_E_INVAL;
    struct lvio_device *dev = gpu->dev;
    uint32_t epoch = gpu->epoch + 1;
    uint64_t timeout = gpu->timeout_ns;
    lvio_gpu_teardown(gpu);
    int err = lvio_gpu_init(gpu, dev);
    gpu->dev = dev;
    gpu->epoch = epoch; /* even on failure: old framebuffers are gone */
    if (err == LVIO_OK)
        gpu->timeout_ns = timeout;
    return err;
}

void lvio_gpu_teardown(struct lvio_gpu *gpu)
{
    if (!gpu || !gpu->dev || !gpu->mem)
        return;
    lvio_device_reset(gpu->dev);
    for (unsigned i = 0; i <= QUERY_SLOT; i++) {
        slot_release_held(&gpu->slots[i]); /* the reset ended every chain */
        gpu->slots[i].state = SLOT_FREE;
    }
    lvio_vq_teardown(&gpu->cursorq);
    lvio_vq_teardown(&gpu->ctrlq);
    gpu_free(gpu);
}

/* ---- modes -------------------------------------------------------------------- */

static int gpu_get_display_info(struct lvio_gpu *gpu)
{
    struct gpu_cmd c;
    unsigned slot;
    int err = gpu_slot_alloc(gpu, &slot, true);
    if (err)
        return err;
    gpu_cmd_init(gpu, &c, slot, LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
                 sizeof(struct lvio_virtio_gpu_ctrl_hdr), LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
                 sizeof(struct lvio_virtio_gpu_resp_display_info));
    err = gpu_run(gpu, &c, 1);
    if (err)
        return err;

    const struct lvio_virtio_gpu_resp_display_info *info = (const void *)slot_resp(gpu, slot);
    for (unsigned i = 0; i < LVIO_VIRTIO_GPU_MAX_SCANOUTS; i++) {
        struct lvio_gpu_scanout *s = &gpu->scanouts[i];
        const struct lvio_virtio_gpu_display_one *m = &info->pmodes[i];
        s->enabled = i < gpu->num_scanouts && dev_le32(&m->enabled) != 0;
        s->rect.x = dev_le32(&m->r.x);
        s->rect.y = dev_le32(&m->r.y);
        s->rect.width = dev_le32(&m->r.width);
        s->rect.height = dev_le32(&m->r.height);
        s->flags = dev_le32(&m->flags);
        s->edid_width = s->edid_height = 0;
        if (s->enabled && (s->rect.width == 0 || s->rect.height == 0 ||
                           s->rect.width > MAX_DIM || s->rect.height > MAX_DIM)) {
            lvio_log(gpu->dev, LVIO_LOG_WARN, "gpu: scanout %u reported as %ux%u: ignored", i,
                     s->rect.width, s->rect.height);
            s->enabled = false;
        }
    }
    return LVIO_OK;
}

/* EDID of one scanout; a refusal or a malformed EDID only loses the EDID. */
static int gpu_get_edid(struct lvio_gpu *gpu, unsigned scanout)
{
    struct lvio_gpu_scanout *s = &gpu->scanouts[scanout];
    struct gpu_cmd c;
    unsigned slot;
    uint32_t w, h;
    int err = gpu_slot_alloc(gpu, &slot, true);
    if (err)
        return err;
    struct lvio_virtio_gpu_get_edid *req =
        gpu_cmd_init(gpu, &c, slot, LVIO_VIRTIO_GPU_CMD_GET_EDID, sizeof *req,
                     LVIO_VIRTIO_GPU_RESP_OK_EDID, sizeof(struct lvio_virtio_gpu_resp_edid));
    req->scanout = lvio_cpu_to_le32(scanout);
    err = gpu_run(gpu, &c, 1);
    if (err == LVIO_E_REFUSED) {
        lvio_log(gpu->dev, LVIO_LOG_WARN, "gpu: no EDID for scanout %u (%s)", scanout,
                 lvio_gpu_resp_name(gpu->last_resp));
        return LVIO_OK;
    }
    if (err)
        return err;

    /* The base block is copied out of the response once; the checksum and
     * the timing are read from the copy, which the device cannot change. */
    const struct lvio_virtio_gpu_resp_edid *resp = (const void *)slot_resp(gpu, slot);
    uint32_t size = dev_le32(&resp->size);
    uint8_t edid[LVIO_EDID_BLOCK_SIZE];
    const char *why = "size out of range";
    for (unsigned i = 0; i < LVIO_EDID_BLOCK_SIZE; i++)
        edid[i] = ((const volatile uint8_t *)resp->edid)[i];
    if (size < LVIO_EDID_BLOCK_SIZE || size > sizeof resp->edid ||
        !lvio_edid_preferred_mode(edid, &w, &h, &why)) {
        lvio_log(gpu->dev, LVIO_LOG_WARN,
                 "gpu: EDID of scanout %u (%u bytes) is not a valid EDID (%s): ignored",
                 scanout, size, why);
        return LVIO_OK;
    }
    s->edid_width = w;
    s->edid_height = h;
    return LVIO_OK;
}

int lvio_gpu_query(struct lvio_gpu *gpu)
{
    if (!gpu || !gpu->mem)
        return LVIO_E_INVAL;
    int err = gpu_get_display_info(gpu);
    for (unsigned i = 0; err == LVIO_OK && gpu->has_edid && i < gpu->num_scanouts; i++)
        if (gpu->scanouts[i].enabled)
            err = gpu_get_edid(gpu, i);
    return err;
}

int lvio_gpu_preferred_mode(const struct lvio_gpu *gpu, unsigned scanout, uint32_t *width,
                            uint32_t *height)
{
    if (!gpu || !gpu->mem || !width || !height || scanout >= gpu->num_scanouts)
        return LVIO_E_INVAL;
    const struct lvio_gpu_scanout *s = &gpu->scanouts[scanout];
    if (!s->enabled)
        return LVIO_E_NODEV;
    *width = s->edid_width ? s->edid_width : s->rect.width;
    *height = s->edid_width ? s->edid_height : s->rect.height;
    return LVIO_OK;
}

int lvio_gpu_poll(struct lvio_gpu *gpu, uint32_t isr)
{
    if (!gpu || !gpu->mem)
        return LVIO_E_INVAL;
    int r = gpu_reap_all(gpu);
    if (r >= 0)
        r = cursor_reap(gpu);
    if (r < 0)
        return r;
    return (isr & LVIO_VIRTIO_ISR_CONFIG) ? lvio_gpu_poll_events(gpu) : 0;
}

int lvio_gpu_poll_events(struct lvio_gpu *gpu)
{
    uint32_t events;
    if (!gpu || !gpu->mem)
        return LVIO_E_INVAL;
    int err = lvio_config_read32(gpu->dev, offsetof(struct lvio_virtio_gpu_config, events_read),
                                 &events);
    if (err)
        return err;
    if (!(events & LVIO_VIRTIO_GPU_EVENT_DISPLAY))
        return 0;
    uint32_t clear = lvio_cpu_to_dev32(gpu->dev, LVIO_VIRTIO_GPU_EVENT_DISPLAY);
    err = lvio_config_write(gpu->dev, offsetof(struct lvio_virtio_gpu_config, events_clear),
                            &clear, sizeof clear);
    if (err == LVIO_OK)
        err = lvio_gpu_query(gpu);
    return err ? err : 1;
}

/* ---- framebuffers ------------------------------------------------------------- */

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
        lvio_unshare_give_back(dev, p, n, LVIO_DMA_TO_DEVICE, fb->runs[e].addr + in_run);
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
                         "gpu: sharing byte %zu of a %zu-byte framebuffer: more than %u runs "
                         "(the device takes at most %u)",
                         at, fb->size, max_entries, LVIO_GPU_MAX_ENTRIES);
    return lvio_fail(dev, LVIO_E_INVAL,
                     "gpu: sharing byte %zu of a %zu-byte framebuffer: more than the %u runs "
                     "of driver-private room given; LVIO_GPU_FB_RUNS(size) = %zu always do",
                     at, fb->size, fb->max_runs, (size_t)LVIO_GPU_FB_RUNS(fb->size));
}

/* Share the backing page by page and build the scatter-gather list. */
static int fb_share(struct lvio_gpu_fb *fb)
{
    struct lvio_device *dev = fb->gpu->dev;
    const struct lvio_hal *hal = dev->hal;
    const uint8_t *end = fb->pixels + fb->size;
    size_t pieces = LVIO_GPU_FB_RUNS(fb->size);
    uint32_t max_entries = pieces < LVIO_GPU_MAX_ENTRIES ? (uint32_t)pieces : LVIO_GPU_MAX_ENTRIES;

    if (max_entries > fb->max_runs)
        max_entries = fb->max_runs;
    fb->entries_pages = (uint32_t)((max_entries * sizeof *fb->entries + LVIO_PAGE_SIZE - 1) /
                                   LVIO_PAGE_SIZE);
    fb->entries = hal->dma_alloc(hal->ctx, fb->entries_pages, &fb->entries_addr);
    if (!fb->entries)
        return lvio_fail(dev, LVIO_E_NOMEM, "gpu: no %u DMA pages for a backing list",
                         fb->entries_pages);
    for (const uint8_t *p = fb->pixels; p < end;) {
        size_t n = piece_len(p, end);
        uint64_t addr;
        int err = hal->share(hal->ctx, p, n, LVIO_DMA_TO_DEVICE, &addr);
        if (err == LVIO_OK)
            err = fb_add_piece(fb, max_entries, addr, n);
        if (err) {
            size_t at = (size_t)(p - fb->pixels);
            if (err == LVIO_E_NOSPC && hal->unshare)
                hal->unshare(hal->ctx, p, n, LVIO_DMA_TO_DEVICE, addr);
            fb_unshare(fb, at);
            fb->nr_entries = 0; /* unshared: fb_release must not again */
            if (err == LVIO_E_NOSPC)
                return fb_share_room(fb, at, max_entries);
            return lvio_fail(dev, err < 0 ? err : LVIO_E_HAL,
                             "gpu: sharing byte %zu of a %zu-byte framebuffer failed (%s)", at,
                             fb->size, lvio_errname(err));
        }
        p += n;
    }
    fb_publish_entries(fb);
    return LVIO_OK;
}

static void fb_release(struct lvio_gpu_fb *fb)
{
    if (fb->entries) {
        fb_unshare(fb, fb->size);
        lvio_dma_give_back(fb->gpu->dev, fb->entries, fb->entries_pages, fb->entries_addr);
    }
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
 * A lost command keeps what `fb` shared (its list, its pixels, its runs)
 * in slot `s` until the device gives the chain back; `fb` no longer owns
 * them.
 */
static void fb_hand_to_slot(struct lvio_gpu_fb *fb, struct lvio_gpu_slot *s)
{
    fb_copy(&s->held, fb);
    fb->entries = NULL;
    fb->nr_entries = 0;
}

static int fb_check_args(struct lvio_gpu *gpu, const struct lvio_gpu_fb *fb, uint32_t width,
                         uint32_t height, uint32_t format, const void *pixels, size_t size,
                         const struct lvio_gpu_run *runs, uint32_t max_runs)
{
    if (!gpu || !fb || !gpu->mem || !pixels)
        return LVIO_E_INVAL;
    if (runs && max_runs == 0)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: room for 0 runs given for the backing");
    if (width == 0 || height == 0 || width > MAX_DIM || height > MAX_DIM)
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
    struct gpu_cmd c;
    unsigned slot;

    memcpy(why, gpu->dev->errmsg, sizeof why);
    if (gpu_slot_alloc(gpu, &slot, false) == LVIO_OK) {
        struct lvio_virtio_gpu_resource_unref *unref =
            gpu_cmd(gpu, &c, slot, LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof *unref);
        unref->resource_id = lvio_cpu_to_le32(fb->resource_id);
        gpu_run(gpu, &c, 1);
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

int lvio_gpu_fb_create(struct lvio_gpu *gpu, struct lvio_gpu_fb *fb, uint32_t width,
                       uint32_t height, uint32_t format, void *pixels, size_t size,
                       struct lvio_gpu_run *runs, uint32_t max_runs)
{
    struct gpu_cmd c[2];
    unsigned s0, s1;
    int err = fb_check_args(gpu, fb, width, height, format, pixels, size, runs, max_runs);
    if (err)
        return err;
    memset(fb, 0, sizeof *fb);
    fb->gpu = gpu;
    fb->width = width;
    fb->height = height;
    fb->format = format;
    fb->stride = width * BYTES_PER_PIXEL;
    fb->pixels = pixels;
    fb->size = (size_t)fb->stride * height;
    fb->runs = runs ? runs : fb->inline_runs;
    fb->max_runs = runs ? max_runs : LVIO_GPU_FB_INLINE_RUNS;
    err = fb_share(fb);
    if (err)
        goto release;
    if ((err = gpu_slot_alloc(gpu, &s0, false)) != LVIO_OK)
        goto release;
    gpu->slots[s0].state = SLOT_BUSY; /* reserve it while choosing the next */
    err = gpu_slot_alloc(gpu, &s1, false);
    gpu->slots[s0].state = SLOT_FREE;
    if (err)
        goto release;
    fb->resource_id = gpu_new_resource_id(gpu);
    fb->epoch = gpu->epoch;

    struct lvio_virtio_gpu_resource_create_2d *create =
        gpu_cmd(gpu, &c[0], s0, LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, sizeof *create);
    create->resource_id = lvio_cpu_to_le32(fb->resource_id);
    create->format = lvio_cpu_to_le32(format);
    create->width = lvio_cpu_to_le32(width);
    create->height = lvio_cpu_to_le32(height);
    struct lvio_virtio_gpu_resource_attach_backing *attach =
        gpu_cmd(gpu, &c[1], s1, LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, sizeof *attach);
    attach->resource_id = lvio_cpu_to_le32(fb->resource_id);
    attach->nr_entries = lvio_cpu_to_le32(fb->nr_entries);
    gpu->slots[s1].reads = fb->resource_id;
    c[1].extra.addr = fb->entries_addr;
    c[1].extra.len = fb->nr_entries * (uint32_t)sizeof *fb->entries;
    err = gpu_run(gpu, c, 2);
    if (err == LVIO_OK)
        return LVIO_OK;
    if (gpu->slots[s1].state == SLOT_LOST) {
        /* The device may still read the list and later the pixels: the
         * slot keeps both until it comes back or the device is reset. */
        fb_hand_to_slot(fb, &gpu->slots[s1]);
    }
    if ((err == LVIO_E_REFUSED || err == LVIO_E_DEVICE) &&
        gpu->last_cmd != LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D)
        fb_drop_resource(fb);
release:
    fb_release(fb);
    fb->gpu = NULL;
    return err;
}

/* Queue SET_SCANOUT(scanout, resource or 0, rect). */
static void gpu_set_scanout_cmd(struct lvio_gpu *gpu, struct gpu_cmd *c, unsigned slot,
                                unsigned scanout, const struct lvio_gpu_fb *fb)
{
    struct lvio_virtio_gpu_set_scanout *req =
        gpu_cmd(gpu, c, slot, LVIO_VIRTIO_GPU_CMD_SET_SCANOUT, sizeof *req);
    req->scanout_id = lvio_cpu_to_le32(scanout);
    if (fb) {
        req->resource_id = lvio_cpu_to_le32(fb->resource_id);
        req->r.width = lvio_cpu_to_le32(fb->width);
        req->r.height = lvio_cpu_to_le32(fb->height);
    }
}

/* Take `n` free command slots, or fail without taking any. */
static int gpu_slots_take(struct lvio_gpu *gpu, unsigned *slots, unsigned n)
{
    int err = LVIO_OK;
    unsigned got = 0;
    for (; got < n; got++) {
        err = gpu_slot_alloc(gpu, &slots[got], false);
        if (err)
            break;
        gpu->slots[slots[got]].state = SLOT_BUSY; /* held while choosing */
    }
    for (unsigned i = 0; i < got; i++)
        gpu->slots[slots[i]].state = SLOT_FREE;
    return err;
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
    for (unsigned i = 0; i <= QUERY_SLOT; i++) {
        const struct lvio_gpu_fb *h = &gpu->slots[i].held;
        if (!h->gpu || !h->entries)
            continue;
        if (overlap(mem, len, h->pixels, h->size) ||
            (h->runs != h->inline_runs && overlap(mem, len, h->runs, h->max_runs * sizeof *h->runs)))
            return true;
    }
    return false;
}

int lvio_gpu_fb_destroy(struct lvio_gpu_fb *fb)
{
    if (!fb || !fb->gpu)
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = fb->gpu;
    int err = LVIO_OK;

    if (gpu->mem && fb->resource_id && fb->epoch == gpu->epoch) {
        struct gpu_cmd c[LVIO_VIRTIO_GPU_MAX_SCANOUTS + 2];
        unsigned slots[LVIO_VIRTIO_GPU_MAX_SCANOUTS + 2];
        unsigned n = 0, showing = 0;
        for (unsigned s = 0; s < gpu->num_scanouts; s++)
            showing += gpu->scanouts[s].resource_id == fb->resource_id;
        err = gpu_slots_take(gpu, slots, showing + 2);
        for (unsigned s = 0; err == LVIO_OK && s < gpu->num_scanouts; s++) {
            if (gpu->scanouts[s].resource_id != fb->resource_id)
                continue;
            gpu_set_scanout_cmd(gpu, &c[n], slots[n], s, NULL);
            gpu->scanouts[s].resource_id = 0;
            n++;
        }
        if (err == LVIO_OK) {
            struct lvio_virtio_gpu_resource_detach_backing *detach = gpu_cmd(
                gpu, &c[n], slots[n], LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, sizeof *detach);
            detach->resource_id = lvio_cpu_to_le32(fb->resource_id);
            n++;
            struct lvio_virtio_gpu_resource_unref *unref =
                gpu_cmd(gpu, &c[n], slots[n], LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof *unref);
            unref->resource_id = lvio_cpu_to_le32(fb->resource_id);
            n++;
            err = gpu_run(gpu, c, n);
        }
    }
    /* A transfer that timed out may still be read by the device: the
     * backing stays shared until it comes back (or the device is reset). */
    struct lvio_gpu_slot *reader =
        fb->epoch == gpu->epoch ? slot_lost_reading(gpu, fb->resource_id, NULL) : NULL;
    if (reader && fb->entries)
        fb_hand_to_slot(fb, reader);
    fb_release(fb);
    fb->gpu = NULL;
    fb->resource_id = 0;
    return err;
}

/* TRANSFER_TO_HOST_2D of `r` (already checked to lie within fb). */
static void gpu_transfer_cmd(struct lvio_gpu *gpu, struct gpu_cmd *c, unsigned slot,
                             const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r)
{
    struct lvio_virtio_gpu_transfer_to_host_2d *req =
        gpu_cmd(gpu, c, slot, LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, sizeof *req);
    req->r.x = lvio_cpu_to_le32(r->x);
    req->r.y = lvio_cpu_to_le32(r->y);
    req->r.width = lvio_cpu_to_le32(r->width);
    req->r.height = lvio_cpu_to_le32(r->height);
    req->offset = lvio_cpu_to_le64((uint64_t)r->y * fb->stride + (uint64_t)r->x * BYTES_PER_PIXEL);
    req->resource_id = lvio_cpu_to_le32(fb->resource_id);
    gpu->slots[slot].reads = fb->resource_id;
}

static void gpu_flush_cmd(struct lvio_gpu *gpu, struct gpu_cmd *c, unsigned slot,
                          const struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *r)
{
    struct lvio_virtio_gpu_resource_flush *req =
        gpu_cmd(gpu, c, slot, LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH, sizeof *req);
    req->r.x = lvio_cpu_to_le32(r->x);
    req->r.y = lvio_cpu_to_le32(r->y);
    req->r.width = lvio_cpu_to_le32(r->width);
    req->r.height = lvio_cpu_to_le32(r->height);
    req->resource_id = lvio_cpu_to_le32(fb->resource_id);
}

static bool fb_usable(const struct lvio_gpu_fb *fb)
{
    return fb && fb->gpu && fb->gpu->mem && fb->resource_id && fb->epoch == fb->gpu->epoch;
}

int lvio_gpu_show(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_fb *fb)
{
    struct gpu_cmd c[3];
    unsigned slots[3];
    int err;

    if (!gpu || !gpu->mem || (fb && (!fb_usable(fb) || fb->gpu != gpu)))
        return LVIO_E_INVAL;
    if (scanout >= gpu->num_scanouts)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: scanout %u, the device has %u",
                         scanout, gpu->num_scanouts);
    err = gpu_slots_take(gpu, slots, fb ? 3 : 1);
    if (err)
        return err;
    if (!fb) {
        gpu_set_scanout_cmd(gpu, &c[0], slots[0], scanout, NULL);
        err = gpu_run(gpu, c, 1);
    } else {
        struct lvio_gpu_rect all = {0, 0, fb->width, fb->height};
        gpu_transfer_cmd(gpu, &c[0], slots[0], fb, &all);
        gpu_set_scanout_cmd(gpu, &c[1], slots[1], scanout, fb);
        gpu_flush_cmd(gpu, &c[2], slots[2], fb, &all);
        err = gpu_run(gpu, c, 3);
    }
    if (err == LVIO_OK)
        gpu->scanouts[scanout].resource_id = fb ? fb->resource_id : 0;
    return err;
}

int lvio_gpu_present(struct lvio_gpu_fb *fb, const struct lvio_gpu_rect *damage)
{
    struct gpu_cmd c[2];
    unsigned slots[2];

    if (!fb_usable(fb))
        return LVIO_E_INVAL;
    struct lvio_gpu *gpu = fb->gpu;
    struct lvio_gpu_rect r = damage ? *damage : (struct lvio_gpu_rect){0, 0, fb->width, fb->height};
    if (r.width == 0 || r.height == 0)
        return LVIO_OK;
    if ((uint64_t)r.x + r.width > fb->width || (uint64_t)r.y + r.height > fb->height)
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: damage %ux%u at (%u,%u) outside the %ux%u framebuffer", r.width,
                         r.height, r.x, r.y, fb->width, fb->height);
    int err = gpu_slots_take(gpu, slots, 2);
    if (err)
        return err;
    gpu_transfer_cmd(gpu, &c[0], slots[0], fb, &r);
    gpu_flush_cmd(gpu, &c[1], slots[1], fb, &r);
    return gpu_run(gpu, c, 2);
}

/* ---- cursor ------------------------------------------------------------------- */

/* Cursor commands have no response: the finished ones free their slots. */
static int cursor_reap(struct lvio_gpu *gpu)
{
    void *token;
    int r;
    while ((r = lvio_vq_get(&gpu->cursorq, &token, NULL)) == 1)
        gpu->cursor_busy &= (uint8_t)~(1u << ((uintptr_t)token & 7));
    return r;
}

/* Reclaim finished cursor commands, take a free slot. */
static int cursor_slot(struct lvio_gpu *gpu, unsigned *slot)
{
    void *token;

    for (int round = 0; round < 2; round++) {
        int r = cursor_reap(gpu);
        if (r < 0)
            return r;
        for (unsigned i = 0; i < LVIO_GPU_CURSOR_SLOTS; i++) {
            if (!(gpu->cursor_busy & (1u << i))) {
                *slot = i;
                return LVIO_OK;
            }
        }
        r = lvio_vq_wait(&gpu->cursorq, gpu->timeout_ns, &token, NULL);
        if (r)
            return r;
        gpu->cursor_busy &= (uint8_t)~(1u << ((uintptr_t)token & 7));
    }
    return LVIO_E_AGAIN;
}

static int cursor_send(struct lvio_gpu *gpu, uint32_t type, unsigned scanout, uint32_t x,
                       uint32_t y, uint32_t resource_id, uint32_t hot_x, uint32_t hot_y)
{
    unsigned slot;
    int err = cursor_slot(gpu, &slot);
    if (err)
        return err;
    uint32_t off = CURSOR_PAGE * LVIO_PAGE_SIZE + slot * CURSOR_SLOT_SIZE;
    struct lvio_virtio_gpu_update_cursor *req = (void *)(gpu->mem + off);
    memset(req, 0, sizeof *req);
    req->hdr.type = lvio_cpu_to_le32(type);
    req->pos.scanout_id = lvio_cpu_to_le32(scanout);
    req->pos.x = lvio_cpu_to_le32(x);
    req->pos.y = lvio_cpu_to_le32(y);
    req->resource_id = lvio_cpu_to_le32(resource_id);
    req->hot_x = lvio_cpu_to_le32(hot_x);
    req->hot_y = lvio_cpu_to_le32(hot_y);
    struct lvio_sg out = {gpu->mem_addr + off, sizeof *req};
    err = lvio_vq_add(&gpu->cursorq, &out, 1, NULL, 0, (void *)(uintptr_t)slot);
    if (err)
        return err;
    gpu->cursor_busy |= (uint8_t)(1u << slot);
    gpu->commands++;
    gpu->notifies++;
    return lvio_vq_kick(&gpu->cursorq);
}

int lvio_gpu_cursor_set(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_fb *image,
                        uint32_t hot_x, uint32_t hot_y, uint32_t x, uint32_t y)
{
    if (!gpu || !gpu->mem || (image && (!fb_usable(image) || image->gpu != gpu)))
        return LVIO_E_INVAL;
    if (scanout >= gpu->num_scanouts)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: cursor on scanout %u, the device has %u",
                         scanout, gpu->num_scanouts);
    if (image && (image->width != LVIO_GPU_CURSOR_SIZE || image->height != LVIO_GPU_CURSOR_SIZE ||
                  hot_x >= LVIO_GPU_CURSOR_SIZE || hot_y >= LVIO_GPU_CURSOR_SIZE))
        return lvio_fail(gpu->dev, LVIO_E_INVAL,
                         "gpu: cursor image %ux%u hotspot (%u,%u), must be 64x64 inside it",
                         image->width, image->height, hot_x, hot_y);
    if (image) {
        struct gpu_cmd c;
        unsigned slot;
        struct lvio_gpu_rect all = {0, 0, image->width, image->height};
        int err = gpu_slot_alloc(gpu, &slot, false);
        if (err)
            return err;
        gpu_transfer_cmd(gpu, &c, slot, image, &all);
        err = gpu_run(gpu, &c, 1);
        if (err)
            return err;
    }
    return cursor_send(gpu, LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR, scanout, x, y,
                       image ? image->resource_id : 0, hot_x, hot_y);
}

int lvio_gpu_cursor_move(struct lvio_gpu *gpu, unsigned scanout, uint32_t x, uint32_t y)
{
    if (!gpu || !gpu->mem)
        return LVIO_E_INVAL;
    if (scanout >= gpu->num_scanouts)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: cursor on scanout %u, the device has %u",
                         scanout, gpu->num_scanouts);
    return cursor_send(gpu, LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR, scanout, x, y, 0, 0, 0);
}
