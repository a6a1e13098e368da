/* The simulated virtio-gpu described in sim_gpu.h: the device and its 2D
 * commands (the 3D ones are in sim_gpu3d.c). */
#include "sim_gpu_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_mmio.h"
#include "lvio/spec/virtio_ring.h"

#define MAX_ENTRIES 16384u


/* ---- configuration -------------------------------------------------------- */

/* A 32-bit config field, in the device's byte order. */
static void cfg32(struct sim_gpu *g, size_t off, uint32_t v)
{
    sim_config_bytes(g->sim.version == 1, v, 4, g->sim.config + off, sizeof g->sim.config - off);
}

void sim_gpu_update_config(struct sim_gpu *g)
{
    cfg32(g, offsetof(struct lvio_virtio_gpu_config, events_read), g->events_read);
    cfg32(g, offsetof(struct lvio_virtio_gpu_config, events_clear), 0);
    cfg32(g, offsetof(struct lvio_virtio_gpu_config, num_scanouts), g->num_scanouts);
    cfg32(g, offsetof(struct lvio_virtio_gpu_config, num_capsets), g->num_capsets);
}

static void gpu_config_write(struct sim *s, uint32_t off, unsigned width, uint32_t v)
{
    struct sim_gpu *g = sim_gpu_of(s);
    uint32_t clear_off = offsetof(struct lvio_virtio_gpu_config, events_clear);
    if (off < clear_off || off + width > clear_off + 4) {
        sim_error(s, "gpu: write of %u bytes to read-only config offset 0x%x", width, off);
        return;
    }
    uint32_t bits = v << (8 * (off - clear_off)); /* write-to-clear */
    g->events_clear_writes++;
    g->events_cleared |= bits;
    g->events_read &= ~bits;
    sim_gpu_update_config(g);
}

/* ---- resources -------------------------------------------------------------- */

struct sim_gpu_resource *sim_gpu_resource(struct sim_gpu *g, uint32_t id)
{
    for (unsigned i = 0; id && i < SIM_GPU_MAX_RES; i++)
        if (g->res[i].id == id)
            return &g->res[i];
    return NULL;
}

unsigned sim_gpu_live_resources(const struct sim_gpu *g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < SIM_GPU_MAX_RES; i++)
        n += g->res[i].id != 0;
    return n;
}

static void res_detach(struct sim_gpu_resource *r)
{
    free(r->entries);
    r->entries = NULL;
    r->nr_entries = 0;
}

static void res_free(struct sim_gpu *g, struct sim_gpu_resource *r)
{
    for (unsigned i = 0; i < LVIO_VIRTIO_GPU_MAX_SCANOUTS; i++)
        if (g->scanouts[i].resource_id == r->id)
            g->scanouts[i].resource_id = 0; /* as QEMU: unref turns it off */
    res_detach(r);
    free(r->host);
    memset(r, 0, sizeof *r);
}

static uint64_t res_backing_size(const struct sim_gpu_resource *r)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < r->nr_entries; i++)
        n += lvio_le32_to_cpu(r->entries[i].length);
    return n;
}

struct sim_gpu_resource *sim_gpu_res_new(struct sim_gpu *g)
{
    for (unsigned i = 0; i < SIM_GPU_MAX_RES; i++)
        if (g->res[i].id == 0)
            return &g->res[i];
    return NULL;
}

bool sim_gpu_backing_copy(struct sim_gpu *g, const struct sim_gpu_resource *r, uint64_t off,
                          uint8_t *out, uint64_t len, bool write)
{
    for (uint32_t i = 0; i < r->nr_entries && len > 0; i++) {
        uint64_t elen = lvio_le32_to_cpu(r->entries[i].length);
        if (off >= elen) {
            off -= elen;
            continue;
        }
        uint64_t n = elen - off < len ? elen - off : len;
        uint64_t a = lvio_le64_to_cpu(r->entries[i].addr) + off;
        if (write ? !sim_dev_write(&g->sim, a, out, (size_t)n)
                  : !sim_dev_read(&g->sim, a, out, (size_t)n))
            return false;
        out += n;
        len -= n;
        off = 0;
    }
    return len == 0;
}

static bool format_ok(uint32_t f)
{
    switch (f) {
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

/* A rectangle inside a w x h resource (overflow-safe). */
static bool rect_inside(const uint8_t *r, uint32_t w, uint32_t h)
{
    uint64_t x = rd32(r), y = rd32(r + 4), rw = rd32(r + 8), rh = rd32(r + 12);
    return x + rw <= w && y + rh <= h;
}

/* ---- EDID --------------------------------------------------------------------- */

void sim_gpu_make_edid(uint8_t e[128], uint32_t width, uint32_t height)
{
    static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    memset(e, 0, 128);
    memcpy(e, header, 8);
    uint16_t mfg = (uint16_t)(('L' - '@') << 10 | ('V' - '@') << 5 | ('S' - '@'));
    e[8] = (uint8_t)(mfg >> 8);
    e[9] = (uint8_t)mfg;
    e[10] = 0x34; /* product */
    e[12] = 1;    /* serial */
    e[16] = 1;    /* week */
    e[17] = 34;   /* 2024 */
    e[18] = 1;    /* EDID 1.4 */
    e[19] = 4;
    e[20] = 0xa5; /* digital, 8 bpc, DisplayPort */
    e[21] = 52;   /* cm */
    e[22] = 32;
    e[23] = 120;  /* gamma 2.2 */
    e[24] = 0x06;
    for (int i = 38; i < 54; i++)
        e[i] = 1; /* standard timings unused */
    /* Detailed timing descriptor 1: the preferred mode. */
    uint8_t *d = e + 54;
    uint32_t hblank = 160, vblank = 30;
    uint64_t clock = (uint64_t)(width + hblank) * (height + vblank) * 60 / 10000;
    if (clock == 0)
        clock = 1;
    if (clock > 0xffff)
        clock = 0xffff;
    d[0] = (uint8_t)clock;
    d[1] = (uint8_t)(clock >> 8);
    d[2] = (uint8_t)width;
    d[3] = (uint8_t)hblank;
    d[4] = (uint8_t)(((width >> 8) & 0xf) << 4 | ((hblank >> 8) & 0xf));
    d[5] = (uint8_t)height;
    d[6] = (uint8_t)vblank;
    d[7] = (uint8_t)(((height >> 8) & 0xf) << 4 | ((vblank >> 8) & 0xf));
    d[8] = 48;
    d[9] = 32;
    d[10] = 3 << 4 | 6;
    d[12] = 0x08; /* 520 x 320 mm */
    d[13] = 0x40;
    d[14] = 0x21;
    d[17] = 0x1e;
    /* Descriptor 2: the monitor name. */
    static const char name[13] = "levitate sim\n";
    d = e + 72;
    d[3] = 0xfc;
    memcpy(d + 5, name, sizeof name);
    /* Descriptors 3 and 4: dummies. */
    e[90 + 3] = 0x10;
    e[108 + 3] = 0x10;
    uint8_t sum = 0;
    for (int i = 0; i < 127; i++)
        sum = (uint8_t)(sum + e[i]);
    e[127] = (uint8_t)(0x100 - sum);
}

/* ---- command execution -------------------------------------------------------- */

bool sim_gpu_chain_read(struct sim *s, const struct chain *c, uint64_t off, void *out,
                        uint64_t len)
{
    uint8_t *o = out;
    for (unsigned i = 0; i < c->n && len > 0; i++) {
        if (off >= c->len[i]) {
            off -= c->len[i];
            continue;
        }
        uint64_t n = c->len[i] - off < len ? c->len[i] - off : len;
        if (!sim_dev_read(s, c->addr[i] + off, o, (size_t)n))
            return false;
        o += n;
        len -= n;
        off = 0;
    }
    return len == 0;
}

static uint32_t expected_req_len(uint32_t type)
{
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return HDR_SIZE;
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
        return sizeof(struct lvio_virtio_gpu_resource_create_2d);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF: return sizeof(struct lvio_virtio_gpu_resource_unref);
    case LVIO_VIRTIO_GPU_CMD_SET_SCANOUT: return sizeof(struct lvio_virtio_gpu_set_scanout);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH: return sizeof(struct lvio_virtio_gpu_resource_flush);
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        return sizeof(struct lvio_virtio_gpu_transfer_to_host_2d);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
        return sizeof(struct lvio_virtio_gpu_resource_attach_backing);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
        return sizeof(struct lvio_virtio_gpu_resource_detach_backing);
    case LVIO_VIRTIO_GPU_CMD_GET_EDID: return sizeof(struct lvio_virtio_gpu_get_edid);
    case LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR:
    case LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR: return sizeof(struct lvio_virtio_gpu_update_cursor);
    default: return sim_gpu3d_req_len(type);
    }
}

static uint32_t cmd_create(struct sim_gpu *g, const uint8_t *req)
{
    uint32_t id = rd32(req + 24), format = rd32(req + 28), w = rd32(req + 32), h = rd32(req + 36);
    if (id == 0 || sim_gpu_resource(g, id))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!format_ok(format) || w == 0 || h == 0)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (w > 16384 || h > 16384)
        return LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    struct sim_gpu_resource *r = sim_gpu_res_new(g);
    if (!r)
        return LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    r->host = calloc((size_t)w * h, 4);
    if (!r->host)
        return LVIO_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    r->host_size = (size_t)w * h * 4;
    r->id = id;
    r->format = format;
    r->width = w;
    r->height = h;
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

struct lvio_virtio_gpu_mem_entry *sim_gpu_read_entries(struct sim_gpu *g, const struct chain *c,
                                                       uint64_t off, uint32_t nr)
{
    if (nr == 0 || nr > MAX_ENTRIES || c->total < off + (uint64_t)nr * 16)
        return NULL;
    struct lvio_virtio_gpu_mem_entry *e = calloc(nr, sizeof *e);
    assert_non_null(e);
    if (!sim_gpu_chain_read(&g->sim, c, off, e, (uint64_t)nr * 16)) {
        free(e);
        return NULL;
    }
    /* Map every entry: each byte must be memory the driver shared. */
    for (uint32_t i = 0; i < nr; i++) {
        uint64_t a = lvio_le64_to_cpu(e[i].addr);
        uint32_t len = lvio_le32_to_cpu(e[i].length);
        uint8_t tmp[LVIO_PAGE_SIZE];
        for (uint32_t done = 0; done < len;) {
            uint32_t n = len - done < sizeof tmp ? len - done : (uint32_t)sizeof tmp;
            if (!sim_dev_read(&g->sim, a + done, tmp, n)) {
                free(e);
                return NULL;
            }
            done += n;
        }
    }
    return e;
}

static uint32_t cmd_attach(struct sim_gpu *g, const uint8_t *req, const struct chain *c)
{
    struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 24));
    uint32_t nr = rd32(req + 28);
    if (!r)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (r->entries || r->blob)
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC; /* already has backing */
    struct lvio_virtio_gpu_mem_entry *e =
        sim_gpu_read_entries(g, c, sizeof(struct lvio_virtio_gpu_resource_attach_backing), nr);
    if (!e)
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    r->entries = e;
    r->nr_entries = nr;
    if (g->scribble_backing) {
        /* A hostile device rewrites the list it was given (it was only
         * meant to read it), and every byte of DMA memory around it:
         * nothing the driver does later may use any of it. */
        for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
            struct sim_alloc *a = &g->sim.allocs[i];
            if (a->cpu && c->addr[1] >= a->dev &&
                c->addr[1] - a->dev < (uint64_t)a->pages * LVIO_PAGE_SIZE)
                memset(a->cpu, 0xa5, a->pages * LVIO_PAGE_SIZE);
        }
    }
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_transfer(struct sim_gpu *g, const uint8_t *req)
{
    struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 48));
    const uint8_t *rect = req + 24;
    uint64_t offset = rd64(req + 40);
    if (!r)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!r->entries)
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    if (!rect_inside(rect, r->width, r->height))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    uint32_t x = rd32(rect), y = rd32(rect + 4), w = rd32(rect + 8), h = rd32(rect + 12);
    uint64_t stride = (uint64_t)r->width * 4, backing = res_backing_size(r);
    for (uint32_t row = 0; row < h; row++) {
        uint64_t src = offset + stride * row;
        uint8_t *dst = r->host + (y + row) * stride + (uint64_t)x * 4;
        if (src + (uint64_t)w * 4 > backing) {
            sim_error(&g->sim, "gpu: TRANSFER_TO_HOST_2D reads bytes %llu..%llu of a %llu-byte backing",
                      (unsigned long long)src, (unsigned long long)(src + (uint64_t)w * 4),
                      (unsigned long long)backing);
            return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
        }
        if (!sim_gpu_backing_copy(g, r, src, dst, (uint64_t)w * 4, false))
            return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    }
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_set_scanout(struct sim_gpu *g, const uint8_t *req)
{
    uint32_t sid = rd32(req + 40), id = rd32(req + 44);
    if (sid >= g->num_scanouts)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
    struct sim_gpu_scanout *so = &g->scanouts[sid];
    if (id == 0) {
        so->resource_id = 0;
        memset(&so->rect, 0, sizeof so->rect);
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    struct sim_gpu_resource *r = sim_gpu_resource(g, id);
    if (!r)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!rect_inside(req + 24, r->width, r->height) || rd32(req + 32) < 16 || rd32(req + 36) < 16)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    so->resource_id = id;
    memcpy(&so->rect, req + 24, sizeof so->rect);
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_flush(struct sim_gpu *g, const uint8_t *req)
{
    struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 40));
    if (!r)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!rect_inside(req + 24, r->width, r->height))
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    for (unsigned i = 0; i < g->num_scanouts; i++)
        if (g->scanouts[i].resource_id == r->id)
            g->scanouts[i].flushes++;
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_display_info(struct sim_gpu *g, uint8_t *resp)
{
    for (unsigned i = 0; i < g->num_scanouts && i < LVIO_VIRTIO_GPU_MAX_SCANOUTS; i++) {
        const struct sim_gpu_scanout *so = &g->scanouts[i];
        uint8_t *m = resp + HDR_SIZE + 24u * i;
        if (!so->enabled)
            continue;
        wr32(m, so->x);
        wr32(m + 4, so->y);
        wr32(m + 8, so->width);
        wr32(m + 12, so->height);
        wr32(m + 16, 1);
        wr32(m + 20, 0);
    }
    return LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t cmd_edid(struct sim_gpu *g, const uint8_t *req, uint8_t *resp)
{
    uint32_t sid = rd32(req + 24);
    if (!(g->sim.driver_features & (1ull << LVIO_VIRTIO_GPU_F_EDID))) {
        sim_error(&g->sim, "gpu: GET_EDID without VIRTIO_GPU_F_EDID negotiated");
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    }
    if (sid >= g->num_scanouts)
        return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER; /* as QEMU */
    const struct sim_gpu_scanout *so = &g->scanouts[sid];
    if (so->no_edid)
        return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    uint8_t *e = resp + HDR_SIZE + 8;
    sim_gpu_make_edid(e, so->edid_width ? so->edid_width : so->width,
                      so->edid_height ? so->edid_height : so->height);
    if (g->edid_no_timing) {
        memset(e + 54, 0, 18);
        e[54 + 3] = 0x10;
        uint8_t sum = 0;
        for (int i = 0; i < 127; i++)
            sum = (uint8_t)(sum + e[i]);
        e[127] = (uint8_t)(0x100 - sum);
    }
    if (g->edid_bad_checksum)
        e[127] = (uint8_t)(e[127] + 1);
    wr32(resp + HDR_SIZE, g->edid_size >= 0 ? (uint32_t)g->edid_size : 128);
    return LVIO_VIRTIO_GPU_RESP_OK_EDID;
}

/* Execute one control command; the response body goes to resp (1056 bytes). */
static uint32_t gpu_exec(struct sim_gpu *g, uint32_t type, const uint8_t *req,
                         const struct chain *c, uint8_t *resp)
{
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return cmd_display_info(g, resp);
    case LVIO_VIRTIO_GPU_CMD_GET_EDID: return cmd_edid(g, req, resp);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: return cmd_create(g, req);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF: {
        struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 24));
        if (!r)
            return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
        res_free(g, r);
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: return cmd_attach(g, req, c);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: {
        struct sim_gpu_resource *r = sim_gpu_resource(g, rd32(req + 24));
        if (!r)
            return LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
        if (!r->entries)
            return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
        res_detach(r);
        return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
    }
    case LVIO_VIRTIO_GPU_CMD_SET_SCANOUT: return cmd_set_scanout(g, req);
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: return cmd_transfer(g, req);
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH: return cmd_flush(g, req);
    default: return LVIO_VIRTIO_GPU_RESP_ERR_UNSPEC;
    }
}

static void gpu_cursor(struct sim_gpu *g, uint32_t type, const uint8_t *req)
{
    g->cursor.scanout = rd32(req + 24);
    g->cursor.x = rd32(req + 28);
    g->cursor.y = rd32(req + 32);
    if (type == LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR) {
        g->cursor.moves++;
        return;
    }
    g->cursor.updates++;
    g->cursor.resource_id = rd32(req + 40);
    g->cursor.hot_x = rd32(req + 44);
    g->cursor.hot_y = rd32(req + 48);
    memset(g->cursor.image, 0, sizeof g->cursor.image);
    struct sim_gpu_resource *r = sim_gpu_resource(g, g->cursor.resource_id);
    if (r && r->width == 64 && r->height == 64)
        memcpy(g->cursor.image, r->host, sizeof g->cursor.image);
}

static bool fault_hits(struct sim_gpu *g, uint32_t type)
{
    if (g->fault_kind == SIM_GPU_FAULT_NONE || g->fault_cmd != type || g->fault_times == 0)
        return false;
    if (g->fault_times > 0)
        g->fault_times--;
    return true;
}

static uint32_t gpu_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    struct sim_gpu *g = sim_gpu_of(s);
    struct chain c = {0};
    uint64_t waddr = 0, a;
    uint32_t wlen = 0, writable = 0, len;
    unsigned nw = 0;
    uint16_t flags;

    for (unsigned i = 0; sim_chain_buf(s, queue, head, i, &a, &len, &flags); i++) {
        if (flags & LVIO_VIRTQ_DESC_F_WRITE) {
            if (nw++ == 0) {
                waddr = a;
                wlen = len;
            }
            writable += len;
        } else {
            if (nw)
                sim_error(s, "gpu: chain %u: readable buffer after a writable one", head);
            if (c.n == MAX_READABLE) {
                sim_error(s, "gpu: chain %u: too many readable buffers", head);
                return 0;
            }
            c.addr[c.n] = a;
            c.len[c.n++] = len;
            c.total += len;
        }
    }

    struct sim_gpu_cmd spill, *rec;
    rec = g->nlog < SIM_GPU_MAX_LOG ? &g->log[g->nlog] : &spill;
    g->nlog++;
    memset(rec, 0, sizeof *rec);
    rec->queue = queue;
    rec->notifies = s->notifies;
    rec->nreadable = c.n;
    rec->writable = writable;
    if (c.n == 0) {
        sim_error(s, "gpu: chain %u on queue %u has no request", head, queue);
        return 0;
    }
    rec->req_addr = c.addr[0];
    rec->req_len = c.len[0];
    uint8_t req[SIM_GPU_REQ_MAX] = {0};
    uint32_t keep = c.len[0] < sizeof req ? c.len[0] : (uint32_t)sizeof req;
    if (!sim_dev_read(s, c.addr[0], req, keep))
        return 0;
    memcpy(rec->req, req, keep);
    if (c.n > 1) {
        rec->extra_len = c.len[1];
        uint32_t k = c.len[1] < SIM_GPU_EXTRA_MAX ? c.len[1] : SIM_GPU_EXTRA_MAX;
        sim_dev_read(s, c.addr[1], rec->extra, k);
    }
    if (c.len[0] < HDR_SIZE) {
        sim_error(s, "gpu: request of %u bytes, shorter than a header", c.len[0]);
        return 0;
    }
    uint32_t type = rd32(req);
    rec->type = type;
    uint32_t want = expected_req_len(type);
    if (want && c.len[0] != want)
        sim_error(s, "gpu: %#x request of %u bytes, expected %u", type, c.len[0], want);

    if (queue == LVIO_VIRTIO_GPU_QUEUE_CURSOR) {
        if (type != LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR && type != LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR)
            sim_error(s, "gpu: command %#x on the cursor queue", type);
        else
            gpu_cursor(g, type, req);
        if (fault_hits(g, type) && g->fault_kind == SIM_GPU_FAULT_SILENT)
            s->hold_this = true;
        return 0;
    }
    if (queue != LVIO_VIRTIO_GPU_QUEUE_CONTROL) {
        sim_error(s, "gpu: chain on queue %u", queue);
        return 0;
    }
    if (type == LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR || type == LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR)
        sim_error(s, "gpu: cursor command on the control queue");

    static uint8_t resp[SIM_GPU_RESP_MAX];
    uint32_t resp_type, resp_len = HDR_SIZE;
    bool hit = fault_hits(g, type);
    memset(resp, 0, sizeof resp);
    if (hit && g->fault_kind == SIM_GPU_FAULT_ERROR)
        resp_type = g->fault_value;
    else if (!(resp_type = sim_gpu3d_exec(g, type, req, &c, resp, &resp_len)))
        resp_type = gpu_exec(g, type, req, &c, resp);
    if (resp_type == LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO)
        resp_len = sizeof(struct lvio_virtio_gpu_resp_display_info);
    else if (resp_type == LVIO_VIRTIO_GPU_RESP_OK_EDID)
        resp_len = sizeof(struct lvio_virtio_gpu_resp_edid);
    if (hit && g->fault_kind == SIM_GPU_FAULT_WRONG_TYPE)
        resp_type = g->fault_value;
    rec->resp_type = resp_type;

    wr32(resp, resp_type);
    bool fenced = rd32(req + 4) & LVIO_VIRTIO_GPU_FLAG_FENCE;
    if (fenced) { /* echo the fence, and the context (as QEMU) */
        wr32(resp + 4, g->fence_echo_fault == 2 ? 0 : LVIO_VIRTIO_GPU_FLAG_FENCE);
        wr64(resp + 8, rd64(req + 8) + (g->fence_echo_fault == 1 ? 1000 : 0));
        wr32(resp + 16, rd32(req + 16));
    }
    if (wlen < resp_len) {
        sim_error(s, "gpu: %#x offers %u response bytes, the %#x response has %u", type, wlen,
                  resp_type, resp_len);
        resp_len = wlen;
    }
    if (fenced && !hit && resp_type == LVIO_VIRTIO_GPU_RESP_OK_NODATA &&
        sim_gpu3d_hold(g, head, waddr, wlen, rd64(req + 8), resp, resp_len)) {
        s->take_this = true; /* answered when its fence signals */
        return 0;
    }
    uint8_t *out = resp_len ? sim_mem(s, waddr, resp_len) : NULL;
    if (out)
        memcpy(out, resp, resp_len);
    if (out && g->responded)
        g->responded(g, type, out, resp_len);
    if (hit && g->fault_kind == SIM_GPU_FAULT_SHORT)
        resp_len = g->fault_value;
    if (hit && g->fault_kind == SIM_GPU_FAULT_SILENT)
        s->hold_this = true;
    return resp_len;
}

static void gpu_on_reset(struct sim *s)
{
    struct sim_gpu *g = sim_gpu_of(s);
    for (unsigned i = 0; i < SIM_GPU_MAX_RES; i++)
        if (g->res[i].id)
            res_free(g, &g->res[i]);
    for (unsigned i = 0; i < LVIO_VIRTIO_GPU_MAX_SCANOUTS; i++)
        g->scanouts[i].resource_id = 0;
    sim_gpu3d_reset(g);
}

/* ---- public --------------------------------------------------------------------- */

void sim_gpu_init(struct sim_gpu *g, uint32_t version, uint32_t num_scanouts)
{
    memset(g, 0, sizeof *g);
    sim_init(&g->sim, version, LVIO_VIRTIO_ID_GPU);
    g->sim.handler = gpu_handler;
    g->sim.config_write = gpu_config_write;
    g->sim.on_reset = gpu_on_reset;
    g->sim.on_step = sim_gpu3d_step;
    g->map_info = LVIO_VIRTIO_GPU_MAP_CACHE_CACHED;
    g->sim.features |= 1ull << LVIO_VIRTIO_GPU_F_EDID;
    g->sim.q[0].num_max = 256; /* as QEMU */
    g->sim.q[1].num_max = 16;
    g->num_scanouts = num_scanouts;
    g->edid_size = -1;
    sim_gpu_set_mode(g, 0, true, 1024, 768);
    g->scanouts[0].edid_width = 1280;
    g->scanouts[0].edid_height = 800;
    sim_gpu_update_config(g);
}

void sim_gpu_fini(struct sim_gpu *g)
{
    sim_gpu3d_fini(g);
    for (unsigned i = 0; i < SIM_GPU_MAX_RES; i++)
        if (g->res[i].id)
            res_free(g, &g->res[i]);
}

void sim_gpu_set_mode(struct sim_gpu *g, unsigned i, bool enabled, uint32_t width,
                      uint32_t height)
{
    struct sim_gpu_scanout *so = &g->scanouts[i];
    so->enabled = enabled;
    so->width = width;
    so->height = height;
    so->y = 0;
    so->x = 0;
    for (unsigned j = 0; j < i; j++)
        so->x += g->scanouts[j].width; /* side by side */
}

void sim_gpu_offer_edid(struct sim_gpu *g, bool offer)
{
    if (offer)
        g->sim.features |= 1ull << LVIO_VIRTIO_GPU_F_EDID;
    else
        g->sim.features &= ~(1ull << LVIO_VIRTIO_GPU_F_EDID);
}

void sim_gpu_raise_display_event(struct sim_gpu *g)
{
    g->events_read |= LVIO_VIRTIO_GPU_EVENT_DISPLAY;
    sim_gpu_update_config(g);
    g->sim.isr |= LVIO_VIRTIO_MMIO_INT_CONFIG;
}

const struct sim_gpu_cmd *sim_gpu_find(const struct sim_gpu *g, uint32_t type, unsigned nth)
{
    for (unsigned i = 0; i < g->nlog && i < SIM_GPU_MAX_LOG; i++)
        if (g->log[i].type == type && nth-- == 0)
            return &g->log[i];
    return NULL;
}

unsigned sim_gpu_count(const struct sim_gpu *g, uint32_t type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g->nlog && i < SIM_GPU_MAX_LOG; i++)
        n += type == 0 || g->log[i].type == type;
    return n;
}

void sim_gpu_release(struct sim_gpu *g)
{
    struct sim *s = &g->sim;
    for (unsigned h = 0; h < s->nheld; h++) {
        uint64_t a;
        uint32_t len;
        uint16_t flags;
        for (unsigned i = 0; sim_chain_buf(s, s->held[h].queue, s->held[h].head, i, &a, &len, &flags);
             i++) {
            uint8_t *tmp = malloc(len ? len : 1);
            assert_non_null(tmp);
            bool clean = !s->error[0];
            if (!sim_dev_read(s, a, tmp, len) && clean) {
                char why[64];
                memcpy(why, s->error, sizeof why - 1);
                why[sizeof why - 1] = 0;
                snprintf(s->error, sizeof s->error,
                         "gpu: buffer %u (0x%llx, %u bytes) of chain %u on queue %u was "
                         "released while the device still had the chain (%.63s)",
                         i, (unsigned long long)a, len, s->held[h].head, s->held[h].queue, why);
            }
            free(tmp);
        }
    }
    sim_release_reversed(s);
}

void sim_gpu_clear_log(struct sim_gpu *g)
{
    g->nlog = 0;
    memset(g->log, 0, sizeof g->log);
}

void sim_gpu_down(struct sim_gpu *g, struct lvio_gpu *gpu)
{
    assert_string_equal(g->sim.error, "");
    lvio_gpu_teardown(gpu);
    assert_int_equal(g->sim.status, 0);
    assert_int_equal(g->sim.live_pages, 0);
    assert_int_equal(g->sim.live_shares, 0);
    assert_int_equal(g->sim.unshares, g->sim.shares_made);
    sim_gpu_fini(g);
}
