/*
 * virtio-gpu 2D driver (VIRTIO 1.2, 5.7): commands, setup, modes and
 * EDID, display events, the cursor. Framebuffers are in gpu_fb.c.
 *
 * Commands go through the request engine (lvio/request.h):
 *   control  LVIO_GPU_CMD_SLOTS slots of 256 bytes in one DMA page: the
 *            request at +0, the device's response at +128;
 *   queries  (display info, EDID) take a control slot for the request and
 *            answer into the driver's query page;
 *   cursor   LVIO_GPU_CURSOR_SLOTS slots of 64 bytes (no response).
 * Commands go out in batches: every chain of a batch is added, then one
 * notify, then the driver waits (bounded) for all of them. A slot whose
 * command timed out is lost: it is not reused until the device gives it
 * back, since the device may still write its response; a lost query keeps
 * the query page the same way, and a lost command that reads a
 * framebuffer's backing keeps that (gpu_fb.c).
 */
#include "lvio/config.h"
#if LVIO_WITH_GPU /* else left out: lvio/config.h */

#include "lvio/edid.h"
#include "gpu_internal.h"

#define SLOT_SIZE 256u
#define RESP_OFF 128u
#define CURSOR_SLOT_SIZE 64u
#define CTRLQ_SIZE 64
#define CURSORQ_SIZE 16

_Static_assert(sizeof(struct lvio_virtio_gpu_resp_edid) <= LVIO_PAGE_SIZE, "query page");
_Static_assert(sizeof(struct lvio_virtio_gpu_transfer_to_host_2d) <= RESP_OFF, "requests fit");
_Static_assert(sizeof(struct lvio_virtio_gpu_update_cursor) <= CURSOR_SLOT_SIZE, "cursor slot");

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
    static const char *const cmd3d[] = {
        "CTX_CREATE", "CTX_DESTROY", "CTX_ATTACH_RESOURCE", "CTX_DETACH_RESOURCE",
        "RESOURCE_CREATE_3D", "TRANSFER_TO_HOST_3D", "TRANSFER_FROM_HOST_3D", "SUBMIT_3D",
        "RESOURCE_MAP_BLOB", "RESOURCE_UNMAP_BLOB"};

    if (type >= LVIO_VIRTIO_GPU_CMD_CTX_CREATE &&
        type - LVIO_VIRTIO_GPU_CMD_CTX_CREATE < sizeof cmd3d / sizeof cmd3d[0])
        return cmd3d[type - LVIO_VIRTIO_GPU_CMD_CTX_CREATE];
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

/* ---- commands ------------------------------------------------------------------ */

/*
 * Append to `b` a command in free slot `slot`: zero its request, write the
 * header, zero the `resp_len` bytes at `resp` where the answer will be
 * (the slot's response, or the query page), and return the request for
 * the caller to fill in.
 */
static void *gpu_cmd_init(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                          uint32_t type, uint32_t req_len, uint32_t resp_type,
                          uint32_t resp_len, void *resp)
{
    struct lvio_virtio_gpu_ctrl_hdr *hdr = lvio_req_buf(&gpu->cmds, slot);
    struct lvio_req *q = &b->req[b->n];

    memset(hdr, 0, RESP_OFF);
    memset(resp, 0, resp_len);
    hdr->type = lvio_cpu_to_le32(type);
    gpu->slots[slot].reads = 0;
    gpu->slots[slot].fence = 0;
    *q = (struct lvio_req){.slot = slot, .req_len = req_len};
    if (resp == gpu->query)
        q->in = (struct lvio_sg){gpu->query_addr, resp_len};
    else
        q->resp_len = resp_len;
    b->cmd[b->n].type = type;
    b->cmd[b->n].resp_type = resp_type;
    b->cmd[b->n].resp_len = resp_len;
    b->cmd[b->n].resp = resp;
    b->n++;
    return hdr;
}

void *lvio_gpu_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, unsigned slot,
                   uint32_t type, uint32_t req_len)
{
    return gpu_cmd_init(gpu, b, slot, type, req_len, LVIO_VIRTIO_GPU_RESP_OK_NODATA,
                        sizeof(struct lvio_virtio_gpu_ctrl_hdr),
                        lvio_req_resp(&gpu->cmds, slot));
}

void *lvio_gpu_cmd_resp(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, uint32_t type,
                        uint32_t req_len, uint32_t resp_type, uint32_t resp_len, int *err)
{
    unsigned slot;
    *err = lvio_gpu_slots_take(gpu, &slot, 1);
    if (*err)
        return NULL;
    return gpu_cmd_init(gpu, b, slot, type, req_len, resp_type, resp_len,
                        lvio_req_resp(&gpu->cmds, slot));
}

/* A lost query holds the query page: the device may still write it. */
static bool gpu_query_busy(const struct lvio_gpu *gpu)
{
    for (unsigned i = 0; i < LVIO_GPU_CMD_SLOTS; i++)
        if (gpu->cmd_slots[i].held == gpu->query)
            return true;
    return false;
}

/* Start a query (the batch of it alone): its answer goes to the query
 * page. NULL with *err when no slot or the page is not free. */
void *lvio_gpu_query_cmd(struct lvio_gpu *gpu, struct lvio_gpu_batch *b, uint32_t type,
                         uint32_t req_len, uint32_t resp_type, uint32_t resp_len, int *err)
{
    unsigned slot;
    *err = lvio_gpu_slots_take(gpu, &slot, 1);
    if (*err == LVIO_OK && gpu_query_busy(gpu))
        *err = lvio_fail(gpu->dev, LVIO_E_AGAIN,
                         "gpu: an earlier query is still with the device");
    if (*err)
        return NULL;
    return gpu_cmd_init(gpu, b, slot, type, req_len, resp_type, resp_len, gpu->query);
}

/* The engine's release: a lost command's slot came back, or the device
 * was reset. What it held is the device's no more. */
static void gpu_release(void *ctx, void *held)
{
    struct lvio_gpu *gpu = ctx;
    if (held != gpu->query) /* the query page is simply free again */
        lvio_gpu_fb_held_release(gpu, held);
}

/* Check the response to command `i` of `b`; frees its slot. */
static int gpu_check(struct lvio_gpu *gpu, const struct lvio_gpu_batch *b, unsigned i)
{
    const struct lvio_virtio_gpu_ctrl_hdr *hdr = b->cmd[i].resp;
    uint32_t len = gpu->cmd_slots[b->req[i].slot].len;
    uint32_t type = lvio_gpu_dev_le32(&hdr->type);
    const char *cmd = lvio_gpu_cmd_name(b->cmd[i].type);

    lvio_reqs_put(&gpu->cmds, b->req[i].slot);
    if (len < sizeof *hdr)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu %s: response of %u bytes, shorter than its header", cmd, len);
    if (type >= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC && type <= LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC + 0xff) {
        gpu->last_cmd = b->cmd[i].type;
        gpu->last_resp = type;
        return lvio_fail(gpu->dev, LVIO_E_REFUSED, "gpu %s: device answered %s (0x%x)", cmd,
                         lvio_gpu_resp_name(type), type);
    }
    if (type != b->cmd[i].resp_type)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu %s: response type 0x%x (%s), expected %s", cmd, type,
                         lvio_gpu_resp_name(type), lvio_gpu_resp_name(b->cmd[i].resp_type));
    if (len < b->cmd[i].resp_len)
        return lvio_fail(gpu->dev, LVIO_E_DEVICE,
                         "gpu %s: %s response of %u bytes, expected %u", cmd,
                         lvio_gpu_resp_name(type), len, b->cmd[i].resp_len);
    return LVIO_OK;
}

/*
 * The batch was not sent whole, or not all answered: the engine's message
 * (which names the request it is stuck on) gets the command's name. Lost
 * slots stay lost, a lost query keeping the query page; answered ones are
 * free again, unread.
 */
static int gpu_failed(struct lvio_gpu *gpu, const struct lvio_gpu_batch *b, int err)
{
    char why[LVIO_ERRMSG_SIZE];
    unsigned stuck = b->n;

    memcpy(why, gpu->dev->errmsg, sizeof why);
    for (unsigned i = 0; i < b->n; i++) {
        struct lvio_req_slot *s = &gpu->cmd_slots[b->req[i].slot];
        if (s->state == LVIO_REQ_LOST && b->cmd[i].resp == gpu->query)
            s->held = gpu->query;
        if (s->state == LVIO_REQ_LOST && stuck == b->n)
            stuck = i;
        lvio_reqs_put(&gpu->cmds, b->req[i].slot);
    }
    if (stuck == b->n)
        stuck = 0; /* nothing went out: the batch did not fit */
    gpu->last_cmd = b->cmd[stuck].type;
    return lvio_fail(gpu->dev, err, "gpu %s: %s", lvio_gpu_cmd_name(gpu->last_cmd), why);
}

/* Every response is checked (each frees its slot); the first error is the
 * one reported, with its message and response type. */
static int gpu_check_all(struct lvio_gpu *gpu, const struct lvio_gpu_batch *b)
{
    char why[LVIO_ERRMSG_SIZE];
    uint32_t cmd = 0, resp = 0;
    int err = LVIO_OK;

    for (unsigned i = 0; i < b->n; i++) {
        int e = gpu_check(gpu, b, i);
        if (e && !err) {
            err = e;
            memcpy(why, gpu->dev->errmsg, sizeof why);
            cmd = b->cmd[i].type;
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

int lvio_gpu_run(struct lvio_gpu *gpu, const struct lvio_gpu_batch *b)
{
    int err = lvio_reqs_submit(&gpu->cmds, b->req, b->n);
    if (err == LVIO_OK)
        err = lvio_reqs_wait(&gpu->cmds, b->req, b->n, gpu->timeout_ns);
    if (err)
        return gpu_failed(gpu, b, err);
    return gpu_check_all(gpu, b);
}

/* ---- setup -------------------------------------------------------------------- */

/* Give back the engines' pages and the query page (what lost commands
 * held is released first: the device was reset, or never given them). */
static void gpu_free(struct lvio_gpu *gpu)
{
#if LVIO_WITH_GPU3D
    lvio_gpu3d_forget(gpu); /* submits in flight: their shares go with the slots */
#endif
    lvio_reqs_teardown(&gpu->cursor);
    lvio_reqs_teardown(&gpu->cmds); /* its release compares with gpu->query */
    if (gpu->query)
        lvio_dma_give_back(gpu->dev, gpu->query, 1, gpu->query_addr);
    gpu->query = NULL;
}

static int gpu_alloc(struct lvio_gpu *gpu)
{
    struct lvio_device *dev = gpu->dev;
    void *query = NULL;
    int err = lvio_reqs_init(&gpu->cmds, dev, &gpu->ctrlq, gpu->cmd_slots, LVIO_GPU_CMD_SLOTS,
                             SLOT_SIZE, RESP_OFF);
    gpu->cmds.release = gpu_release;
    gpu->cmds.release_ctx = gpu;
    if (err == LVIO_OK)
        err = lvio_reqs_init(&gpu->cursor, dev, &gpu->cursorq, gpu->cursor_slots,
                             LVIO_GPU_CURSOR_SLOTS, CURSOR_SLOT_SIZE, CURSOR_SLOT_SIZE);
    if (err == LVIO_OK)
        err = lvio_dma_take(dev, 1, &query, &gpu->query_addr, "gpu queries");
    gpu->query = query;
    if (err)
        gpu_free(gpu);
    return err;
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
#if LVIO_WITH_GPU3D
    if (err == LVIO_OK)
        err = lvio_gpu3d_setup(gpu);
#endif
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

/* The device features `want` asks for (F_EDID always). */
static uint64_t gpu_wanted_features(uint32_t want)
{
    uint64_t f = 1ull << LVIO_VIRTIO_GPU_F_EDID;
    if (want & LVIO_GPU_WANT_VIRGL)
        f |= 1ull << LVIO_VIRTIO_GPU_F_VIRGL;
    if (want & LVIO_GPU_WANT_CONTEXT_INIT)
        f |= 1ull << LVIO_VIRTIO_GPU_F_CONTEXT_INIT;
    if (want & LVIO_GPU_WANT_RESOURCE_UUID)
        f |= 1ull << LVIO_VIRTIO_GPU_F_RESOURCE_UUID;
    if (want & LVIO_GPU_WANT_RESOURCE_BLOB)
        f |= 1ull << LVIO_VIRTIO_GPU_F_RESOURCE_BLOB;
    return f;
}

int lvio_gpu_init_with(struct lvio_gpu *gpu, struct lvio_device *dev, uint32_t want)
{
    if (!gpu || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_GPU)
        return lvio_fail(dev, LVIO_E_INVAL, "gpu: device id %u is not a gpu", dev->device_id);
#if LVIO_WITH_GPU3D
    if (want & ~LVIO_GPU_WANT_ALL)
        return lvio_fail(dev, LVIO_E_INVAL, "gpu: want 0x%x has unknown bits", want);
#else
    if (want)
        return lvio_fail(dev, LVIO_E_INVAL, "gpu: want 0x%x, built without LVIO_WITH_GPU3D",
                         want);
#endif
    memset(gpu, 0, sizeof *gpu);
    gpu->dev = dev;
    gpu->want = want;
    gpu->timeout_ns = LVIO_GPU_TIMEOUT_NS;
    gpu->next_resource_id = 1;
    gpu->next_ctx_id = 1;
    int err = lvio_device_begin(dev, gpu_wanted_features(want));
    if (err)
        return err;
    uint64_t acc = dev->features_accepted;
    gpu->has_edid = lvio_has_feature(acc, LVIO_VIRTIO_GPU_F_EDID);
    gpu->has_virgl = lvio_has_feature(acc, LVIO_VIRTIO_GPU_F_VIRGL);
    gpu->has_context_init = lvio_has_feature(acc, LVIO_VIRTIO_GPU_F_CONTEXT_INIT);
    gpu->has_resource_uuid = lvio_has_feature(acc, LVIO_VIRTIO_GPU_F_RESOURCE_UUID);
    gpu->has_resource_blob = lvio_has_feature(acc, LVIO_VIRTIO_GPU_F_RESOURCE_BLOB);
    err = gpu_setup(gpu);
    if (err) {
        gpu->num_scanouts = 0; /* what the device said is not to be used */
        gpu->num_capsets = 0;
        lvio_device_fail(dev);
    }
    return err;
}

int lvio_gpu_init(struct lvio_gpu *gpu, struct lvio_device *dev)
{
    return lvio_gpu_init_with(gpu, dev, 0);
}

int lvio_gpu_reset(struct lvio_gpu *gpu)
{
    if (!gpu || !gpu->dev)
        return LVIO_E_INVAL;
    struct lvio_device *dev = gpu->dev;
    uint32_t epoch = gpu->epoch + 1;
    uint64_t timeout = gpu->timeout_ns;
    uint32_t want = gpu->want;
    lvio_gpu_teardown(gpu);
    int err = lvio_gpu_init_with(gpu, dev, want);
    gpu->dev = dev;
    gpu->epoch = epoch; /* even on failure: old framebuffers are gone */
    if (err == LVIO_OK)
        gpu->timeout_ns = timeout;
    return err;
}

void lvio_gpu_teardown(struct lvio_gpu *gpu)
{
    if (!gpu || !gpu->dev || !gpu->cmds.mem)
        return;
    lvio_device_reset(gpu->dev);
    lvio_vq_teardown(&gpu->cursorq);
    lvio_vq_teardown(&gpu->ctrlq);
    gpu_free(gpu); /* the reset ended every chain: what lost ones held goes */
}

/* ---- modes -------------------------------------------------------------------- */

static int gpu_get_display_info(struct lvio_gpu *gpu)
{
    struct lvio_gpu_batch b = {.n = 0};
    int err;
    if (!lvio_gpu_query_cmd(gpu, &b, LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
                            sizeof(struct lvio_virtio_gpu_ctrl_hdr),
                            LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
                            sizeof(struct lvio_virtio_gpu_resp_display_info), &err))
        return err;
    err = lvio_gpu_run(gpu, &b);
    if (err)
        return err;

    const struct lvio_virtio_gpu_resp_display_info *info = b.cmd[0].resp;
    for (unsigned i = 0; i < LVIO_VIRTIO_GPU_MAX_SCANOUTS; i++) {
        struct lvio_gpu_scanout *s = &gpu->scanouts[i];
        const struct lvio_virtio_gpu_display_one *m = &info->pmodes[i];
        s->enabled = i < gpu->num_scanouts && lvio_gpu_dev_le32(&m->enabled) != 0;
        s->rect.x = lvio_gpu_dev_le32(&m->r.x);
        s->rect.y = lvio_gpu_dev_le32(&m->r.y);
        s->rect.width = lvio_gpu_dev_le32(&m->r.width);
        s->rect.height = lvio_gpu_dev_le32(&m->r.height);
        s->flags = lvio_gpu_dev_le32(&m->flags);
        s->edid_width = s->edid_height = 0;
        if (s->enabled && (s->rect.width == 0 || s->rect.height == 0 ||
                           s->rect.width > LVIO_GPU_MAX_DIM || s->rect.height > LVIO_GPU_MAX_DIM)) {
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
    struct lvio_gpu_batch b = {.n = 0};
    uint32_t w, h;
    int err;
    struct lvio_virtio_gpu_get_edid *req =
        lvio_gpu_query_cmd(gpu, &b, LVIO_VIRTIO_GPU_CMD_GET_EDID, sizeof *req,
                           LVIO_VIRTIO_GPU_RESP_OK_EDID, sizeof(struct lvio_virtio_gpu_resp_edid),
                           &err);
    if (!req)
        return err;
    req->scanout = lvio_cpu_to_le32(scanout);
    err = lvio_gpu_run(gpu, &b);
    if (err == LVIO_E_REFUSED) {
        lvio_log(gpu->dev, LVIO_LOG_WARN, "gpu: no EDID for scanout %u (%s)", scanout,
                 lvio_gpu_resp_name(gpu->last_resp));
        return LVIO_OK;
    }
    if (err)
        return err;

    /* The base block is copied out of the response once; the checksum and
     * the timing are read from the copy, which the device cannot change. */
    const struct lvio_virtio_gpu_resp_edid *resp = b.cmd[0].resp;
    uint32_t size = lvio_gpu_dev_le32(&resp->size);
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
    if (!gpu || !gpu->cmds.mem)
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
    if (!gpu || !gpu->cmds.mem || !width || !height || scanout >= gpu->num_scanouts)
        return LVIO_E_INVAL;
    const struct lvio_gpu_scanout *s = &gpu->scanouts[scanout];
    if (!s->enabled)
        return LVIO_E_NODEV;
    *width = s->edid_width ? s->edid_width : s->rect.width;
    *height = s->edid_width ? s->edid_height : s->rect.height;
    return LVIO_OK;
}

int lvio_gpu_poll_events(struct lvio_gpu *gpu)
{
    uint32_t events;
    if (!gpu || !gpu->cmds.mem)
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

/* ---- cursor ------------------------------------------------------------------- */

/* Cursor commands have no response and nobody waits for them: the
 * answered ones are simply free again. */
static int cursor_reap(struct lvio_gpu *gpu)
{
    int r = lvio_reqs_reap(&gpu->cursor);
    for (unsigned i = 0; i < LVIO_GPU_CURSOR_SLOTS; i++)
        lvio_reqs_put(&gpu->cursor, i); /* the DONE ones */
    return r < 0 ? r : 0;
}

/* A free cursor slot; with every one still with the device, wait for
 * them first (bounded by gpu->timeout_ns). */
static int cursor_slot(struct lvio_gpu *gpu, unsigned *slot)
{
    struct lvio_req out[LVIO_GPU_CURSOR_SLOTS];
    unsigned n = 0;
    int err = cursor_reap(gpu);
    for (unsigned i = 0; i < LVIO_GPU_CURSOR_SLOTS; i++)
        if (gpu->cursor_slots[i].state == LVIO_REQ_BUSY)
            out[n++] = (struct lvio_req){.slot = i};
    if (err == LVIO_OK && n == LVIO_GPU_CURSOR_SLOTS) {
        err = lvio_reqs_wait(&gpu->cursor, out, n, gpu->timeout_ns);
        cursor_reap(gpu);
    }
    return err ? err : lvio_reqs_alloc(&gpu->cursor, slot, 1);
}

static int cursor_send(struct lvio_gpu *gpu, uint32_t type, unsigned scanout, uint32_t x,
                       uint32_t y, uint32_t resource_id, uint32_t hot_x, uint32_t hot_y)
{
    unsigned slot;
    int err = cursor_slot(gpu, &slot);
    if (err)
        return err;
    struct lvio_virtio_gpu_update_cursor *req = lvio_req_buf(&gpu->cursor, slot);
    memset(req, 0, sizeof *req);
    req->hdr.type = lvio_cpu_to_le32(type);
    req->pos.scanout_id = lvio_cpu_to_le32(scanout);
    req->pos.x = lvio_cpu_to_le32(x);
    req->pos.y = lvio_cpu_to_le32(y);
    req->resource_id = lvio_cpu_to_le32(resource_id);
    req->hot_x = lvio_cpu_to_le32(hot_x);
    req->hot_y = lvio_cpu_to_le32(hot_y);
    struct lvio_req q = {.slot = slot, .req_len = sizeof *req};
    return lvio_reqs_submit(&gpu->cursor, &q, 1);
}

int lvio_gpu_cursor_set(struct lvio_gpu *gpu, unsigned scanout, struct lvio_gpu_fb *image,
                        uint32_t hot_x, uint32_t hot_y, uint32_t x, uint32_t y)
{
    if (!gpu || !gpu->cmds.mem || (image && (!lvio_gpu_fb_usable(image) || image->gpu != gpu)))
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
        struct lvio_gpu_batch b = {.n = 0};
        unsigned slot;
        struct lvio_gpu_rect all = {0, 0, image->width, image->height};
        int err = lvio_gpu_slots_take(gpu, &slot, 1);
        if (err)
            return err;
        lvio_gpu_transfer_cmd(gpu, &b, slot, image, &all);
        err = lvio_gpu_run(gpu, &b);
        if (err)
            return err;
    }
    return cursor_send(gpu, LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR, scanout, x, y,
                       image ? image->resource_id : 0, hot_x, hot_y);
}

int lvio_gpu_cursor_move(struct lvio_gpu *gpu, unsigned scanout, uint32_t x, uint32_t y)
{
    if (!gpu || !gpu->cmds.mem)
        return LVIO_E_INVAL;
    if (scanout >= gpu->num_scanouts)
        return lvio_fail(gpu->dev, LVIO_E_INVAL, "gpu: cursor on scanout %u, the device has %u",
                         scanout, gpu->num_scanouts);
    return cursor_send(gpu, LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR, scanout, x, y, 0, 0, 0);
}

/* ---- completions and events -------------------------------------------------------- */

int lvio_gpu_poll(struct lvio_gpu *gpu, uint32_t isr)
{
    if (!gpu || !gpu->cmds.mem)
        return LVIO_E_INVAL;
    int r = lvio_reqs_reap(&gpu->cmds);
    if (r >= 0) {
#if LVIO_WITH_GPU3D
        lvio_gpu3d_reap(gpu); /* answered submits: their fences */
#endif
        r = cursor_reap(gpu);
    }
    if (r < 0)
        return r;
    return (isr & LVIO_VIRTIO_ISR_CONFIG) ? lvio_gpu_poll_events(gpu) : 0;
}

#else
typedef int lvio_gpu_left_out; /* ISO C wants a declaration */
#endif
