/*
 * fuzz_gpu: the virtio-gpu 2D driver over a device whose every answer
 * comes from the input: response type, length and bytes (display info,
 * EDID, error responses, garbage), used lengths and ids, late and
 * out-of-order completions, configuration (num_scanouts, display events),
 * DMA and share failures, share layouts, and (with hostile registers)
 * register reads.
 *
 * Sequence: lvio_gpu_init, then operations chosen by the input
 * (fb_create, fb_destroy, present, show, cursor_set, cursor_move,
 * poll_events, query, preferred_mode, lvio_gpu_reset, a new timeout), then every
 * framebuffer destroyed and lvio_gpu_teardown.
 *
 * The device side checks what the driver asks of it: every command is one
 * the driver knows, of the right size; a resource id is never reused; an
 * attach names exactly the framebuffer's bytes, all shared; a transfer or
 * flush stays inside its resource, with the right offset, and a transfer
 * only reads memory that is still shared. The harness checks every call
 * returns a documented error (LVIO_E_DEAD only from init and reset), that a
 * failed fb_create leaves no share of its pixels behind (except when the
 * attach was lost: gpu.h), that a destroyed framebuffer leaves none (except
 * while a transfer from it is lost, or the device is dead: its reset never
 * completed), that lvio_gpu_memory_busy agrees, that no call times out
 * before gpu->timeout_ns (up to UINT64_MAX) passed by a clock that runs,
 * and that after teardown every DMA page and share is back, or kept for a
 * dead device and counted. A device in scribble mode (fuzz_dev.h)
 * overwrites every request, backing list and transferred pixel after
 * reading them: the driver must not care (it unshares from its own copy
 * of the list; the HAL aborts on an unshare of anything not shared).
 *
 * Input: the common header (fuzz_dev.h), features ^ (VERSION_1 | EDID) (8),
 * control and cursor QueueNumMax ^ 64 / ^ 16 (2 + 2), num_scanouts ^ 1 (1),
 * then operations interleaved with the device's decisions (a new timeout:
 * 1-64 ticks, or from byte 0xf8 on fz_timeout's special values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gpu.h"

#define NFB 4
#define MAX_OPS 48
#define MAX_RES 64
#define MAX_ENT 40
#define HDR 24u

struct res {
    uint32_t id, w, h;
    bool backed;
    unsigned nent;
    uint64_t addr[MAX_ENT];
    uint32_t len[MAX_ENT];
};

struct fbslot {
    struct lvio_gpu_fb fb;
    bool live;
    bool maybe_read;    /* a transfer of it was lost: the device may read it later */
    bool maybe_kept;    /* ...and the reset meant to end it never completed: its
                           shares are kept for good */
    uint8_t *pixels;
    size_t size;
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_gpu gpu;
    struct fbslot fb[NFB];
    /* pixel buffers, freed only after teardown (gpu.h: a lost attach keeps
     * its shares until then) */
    void *bufs[2 * MAX_OPS + NFB]; /* pixels and runs */
    unsigned nbufs;
    /* the device's state */
    struct res res[MAX_RES];
    unsigned nres;
    uint32_t ids_seen[MAX_OPS * 2];
    unsigned nids;
} S;

/* ---- the device ------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A rule the driver must keep, checked while the device's own records are
 * trustworthy (it has not lied about chains or scribbled on the rings). */
#define GPU_RULE(...)                                                          \
    do {                                                                       \
        if (!S.f.lied)                                                         \
            fz_die(__VA_ARGS__);                                               \
    } while (0)

static struct res *res_find(uint32_t id)
{
    for (unsigned i = 0; i < S.nres; i++)
        if (S.res[i].id == id)
            return &S.res[i];
    return NULL;
}

static void res_drop(uint32_t id)
{
    struct res *r = res_find(id);
    if (r)
        *r = S.res[--S.nres];
}

static void gpu_on_reset(struct fz *f)
{
    (void)f;
    S.nres = 0; /* a reset forgets every resource: their ids may come again */
    S.nids = 0;
}

static bool format_ok(uint32_t fmt)
{
    static const uint32_t ok[] = {1, 2, 3, 4, 67, 68, 121, 134};
    for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ok[i] == fmt)
            return true;
    return false;
}

/* The request's rectangle lies in resource `r` (checked only while the
 * device's records are trustworthy). */
static void check_rect(const struct res *r, const uint8_t *rect, const char *what)
{
    uint64_t x = rd32(rect), y = rd32(rect + 4), w = rd32(rect + 8), h = rd32(rect + 12);
    if (x + w > r->w || y + h > r->h || w == 0 || h == 0)
        GPU_RULE("%s of %llux%llu at (%llu,%llu) outside resource %u (%ux%u)", what,
               (unsigned long long)w, (unsigned long long)h, (unsigned long long)x,
               (unsigned long long)y, r->id, r->w, r->h);
}

static void write_display_info(struct fz *f, uint8_t *resp, uint32_t cap, bool from_tape)
{
    uint32_t n = fz_config_get32(f, 8);
    for (unsigned i = 0; i < LVIO_VIRTIO_GPU_MAX_SCANOUTS && HDR + 24 * (i + 1) <= cap; i++) {
        uint8_t *m = resp + HDR + 24 * i;
        if (from_tape) {
            fz_bytes(&f->t, m, 24);
            continue;
        }
        memset(m, 0, 24);
        wr32(m + 8, 64 + 8 * i);
        wr32(m + 12, 48 + 8 * i);
        wr32(m + 16, i < n);
    }
}

static void write_edid(struct fz *f, uint8_t *resp, uint32_t cap, bool from_tape)
{
    static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    uint8_t e[128] = {0};
    if (cap < HDR + 8 + 128)
        return;
    memcpy(e, header, 8);
    e[54] = 0x01; /* pixel clock */
    e[56] = 80;   /* 80 x 60 */
    e[59] = 60;
    if (from_tape) {
        uint8_t where = fz_u8(&f->t);
        e[(where % 72) + 54] = fz_u8(&f->t);
        e[fz_u8(&f->t) % 128] ^= fz_u8(&f->t);
    }
    uint8_t sum = 0;
    for (unsigned i = 0; i < 127; i++)
        sum = (uint8_t)(sum + e[i]);
    e[127] = (uint8_t)(0x100 - sum);
    if (from_tape && (fz_u8(&f->t) & 1))
        e[127] ^= 1; /* a bad checksum */
    wr32(resp + HDR, from_tape ? fz_u16(&f->t) : 128); /* size */
    memcpy(resp + HDR + 8, e, 128);
}

/* What a well-behaved device does with the command; false if it refuses. */
static bool gpu_do(struct fz *f, uint32_t type, const uint8_t *req, uint32_t req_len,
                   const struct fz_chain *c, uint32_t *resp_len)
{
    uint32_t expect = 0;
    *resp_len = HDR;
    switch (type) {
    case LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        expect = HDR;
        *resp_len = sizeof(struct lvio_virtio_gpu_resp_display_info);
        break;
    case LVIO_VIRTIO_GPU_CMD_GET_EDID:
        expect = sizeof(struct lvio_virtio_gpu_get_edid);
        *resp_len = sizeof(struct lvio_virtio_gpu_resp_edid);
        if (req_len >= expect && rd32(req + HDR) >= LVIO_VIRTIO_GPU_MAX_SCANOUTS)
            GPU_RULE("GET_EDID for scanout %u", rd32(req + HDR));
        break;
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: {
        expect = sizeof(struct lvio_virtio_gpu_resource_create_2d);
        if (req_len < expect)
            break;
        uint32_t id = rd32(req + HDR), w = rd32(req + HDR + 8), h = rd32(req + HDR + 12);
        for (unsigned i = 0; i < S.nids; i++)
            if (S.ids_seen[i] == id)
                GPU_RULE("resource id %u used again", id);
        if (S.nids < sizeof S.ids_seen / sizeof S.ids_seen[0])
            S.ids_seen[S.nids++] = id;
        if (id == 0 || !format_ok(rd32(req + HDR + 4)) || w == 0 || h == 0 || w > 16384 ||
            h > 16384)
            GPU_RULE("RESOURCE_CREATE_2D id %u format %u %ux%u", id, rd32(req + HDR + 4), w, h);
        if (S.nres < MAX_RES)
            S.res[S.nres++] = (struct res){.id = id, .w = w, .h = h};
        break;
    }
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
        expect = sizeof(struct lvio_virtio_gpu_resource_attach_backing);
        if (req_len < expect)
            break;
        struct res *r = res_find(rd32(req + HDR));
        uint32_t nent = rd32(req + HDR + 4);
        if (c->n != 3 || c->buf[1].write || !c->buf[1].cpu || c->buf[1].len != 16 * nent) {
            GPU_RULE("ATTACH_BACKING of %u entries: list buffer of %u bytes", nent,
                       c->n == 3 ? c->buf[1].len : 0);
            break;
        }
        uint64_t total = 0;
        for (uint32_t i = 0; i < nent; i++) {
            const uint8_t *e = c->buf[1].cpu + 16 * i;
            uint64_t addr = (uint64_t)rd32(e) | (uint64_t)rd32(e + 4) << 32;
            uint32_t len = rd32(e + 8);
            if (!fz_dev_covered(f, addr, len) || len == 0)
                GPU_RULE("ATTACH_BACKING entry %u: 0x%llx, %u bytes, not shared memory", i,
                       (unsigned long long)addr, len);
            total += len;
            if (r && i < MAX_ENT) {
                r->addr[i] = addr;
                r->len[i] = len;
            }
        }
        if (r) {
            if (total != (uint64_t)r->w * r->h * 4)
                GPU_RULE("ATTACH_BACKING of %llu bytes for a %ux%u resource",
                       (unsigned long long)total, r->w, r->h);
            r->backed = nent <= MAX_ENT;
            r->nent = nent;
        }
        break;
    }
    case LVIO_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: {
        expect = sizeof(struct lvio_virtio_gpu_transfer_to_host_2d);
        if (req_len < expect)
            break;
        struct res *r = res_find(rd32(req + HDR + 24));
        if (!r)
            return false; /* ERR_INVALID_RESOURCE_ID */
        check_rect(r, req + HDR, "TRANSFER_TO_HOST_2D");
        uint64_t off = (uint64_t)rd32(req + HDR + 16) | (uint64_t)rd32(req + HDR + 20) << 32;
        uint64_t want = (uint64_t)rd32(req + HDR + 4) * r->w * 4 + (uint64_t)rd32(req + HDR) * 4;
        if (off != want)
            GPU_RULE("TRANSFER_TO_HOST_2D offset %llu, expected %llu", (unsigned long long)off,
                   (unsigned long long)want);
        for (unsigned i = 0; r->backed && i < r->nent; i++) {
            if (!fz_dev_covered(f, r->addr[i], r->len[i]))
                GPU_RULE("TRANSFER_TO_HOST_2D of resource %u reads 0x%llx (%u bytes), which is "
                       "no longer shared", r->id, (unsigned long long)r->addr[i], r->len[i]);
            else if (f->scribble & FZ_SCRIBBLE_BACKING)
                fz_dev_fill(f, r->addr[i], r->len[i], f->scribble_byte);
        }
        break;
    }
    case LVIO_VIRTIO_GPU_CMD_SET_SCANOUT: {
        expect = sizeof(struct lvio_virtio_gpu_set_scanout);
        if (req_len < expect)
            break;
        uint32_t sc = rd32(req + HDR + 16), id = rd32(req + HDR + 20);
        if (sc >= LVIO_VIRTIO_GPU_MAX_SCANOUTS)
            GPU_RULE("SET_SCANOUT %u", sc);
        struct res *r = res_find(id);
        if (id && !r)
            return false;
        if (r)
            check_rect(r, req + HDR, "SET_SCANOUT");
        break;
    }
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_FLUSH: {
        expect = sizeof(struct lvio_virtio_gpu_resource_flush);
        if (req_len < expect)
            break;
        struct res *r = res_find(rd32(req + HDR + 16));
        if (!r)
            return false;
        check_rect(r, req + HDR, "RESOURCE_FLUSH");
        break;
    }
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
        expect = sizeof(struct lvio_virtio_gpu_resource_detach_backing);
        if (req_len >= expect) {
            struct res *r = res_find(rd32(req + HDR));
            if (r)
                r->backed = false;
        }
        break;
    case LVIO_VIRTIO_GPU_CMD_RESOURCE_UNREF:
        expect = sizeof(struct lvio_virtio_gpu_resource_unref);
        if (req_len >= expect)
            res_drop(rd32(req + HDR));
        break;
    default:
        GPU_RULE("unknown control command 0x%x", type);
        return false;
    }
    if (req_len != expect)
        GPU_RULE("%s: request of %u bytes, expected %u", lvio_gpu_cmd_name(type), req_len, expect);
    return req_len >= expect;
}

static uint32_t ok_type(uint32_t cmd)
{
    if (cmd == LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO)
        return LVIO_VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
    if (cmd == LVIO_VIRTIO_GPU_CMD_GET_EDID)
        return LVIO_VIRTIO_GPU_RESP_OK_EDID;
    return LVIO_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cursor_service(struct fz *f, struct fz_chain *c)
{
    if (!f->lied && (c->n != 1 || c->buf[0].write ||
                     c->buf[0].len != sizeof(struct lvio_virtio_gpu_update_cursor)))
        fz_die("cursor command: %u buffers", c->n);
    if (c->n >= 1 && c->buf[0].cpu && c->buf[0].len >= 4) {
        uint32_t type = rd32(c->buf[0].cpu);
        if (!f->lied && type != LVIO_VIRTIO_GPU_CMD_UPDATE_CURSOR &&
            type != LVIO_VIRTIO_GPU_CMD_MOVE_CURSOR)
            fz_die("cursor command 0x%x", type);
    }
    if (!fz_empty(&f->t) && (fz_u8(&f->t) & 3) == 3)
        f->hold_this = true;
    return 0;
}

static uint32_t gpu_service(struct fz *f, struct fz_chain *c)
{
    if (c->queue == LVIO_VIRTIO_GPU_QUEUE_CURSOR)
        return cursor_service(f, c);
    struct fz_gpu_cmd k;
    if (!fz_gpu_control_cmd(f, c, &k))
        return 0;
    const uint8_t *req = k.req;
    uint32_t req_len = k.req_len, cap = k.cap, type = k.type;
    uint8_t *resp = k.resp;
    uint8_t mode = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    uint32_t len;

    if (cap < HDR) {
        if (!f->lied)
            fz_die("%s: response buffer of %u bytes", lvio_gpu_cmd_name(type), cap);
        return 0;
    }
    memset(resp, 0, cap);
    if (fz_gpu_hostile_answer(f, mode, resp, cap, &len))
        return len;
    if (!gpu_do(f, type, req, req_len, c, &len)) {
        wr32(resp, LVIO_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
        return HDR;
    }
    wr32(resp, ok_type(type));
    bool tape = mode % 10 == 6;
    if (type == LVIO_VIRTIO_GPU_CMD_GET_DISPLAY_INFO)
        write_display_info(f, resp, cap, tape);
    if (type == LVIO_VIRTIO_GPU_CMD_GET_EDID)
        write_edid(f, resp, cap, tape);
    switch (mode % 10) {
    case 4: return fz_u16(&f->t);                  /* right answer, any length */
    case 5: f->hold_this = true; return len;        /* answered later */
    case 7: fz_gpu_config_write(f, 0, 0, 0); return len; /* and a display event */
    default: return len;
    }
}

/* ---- the driver side ----------------------------------------------------------- */

/* Any lvio_error; LVIO_E_DEAD only from calls that reset the device. */
static void check_rv(const char *call, int rv, bool resets)
{
    if (rv > 1 || rv < LVIO_E_DEAD || (rv == LVIO_E_DEAD && !resets))
        fz_die("%s returned %d", call, rv);
    if (!lvio_gpu_errname(&S.gpu, rv))
        fz_die("lvio_gpu_errname(%d) is NULL", rv);
}

/* lvio_gpu_memory_busy says exactly whether memory given up is still
 * shared; always yes once the device is dead; and memory kept for good for
 * a device dead once (`kept`) may be shared and not busy. */
static void check_busy(const uint8_t *p, size_t n, bool kept)
{
    bool busy = lvio_gpu_memory_busy(&S.gpu, p, n);
    size_t shared = fz_shared_bytes(&S.f, p, n);
    if (S.dev.dead ? n && !busy : busy ? !shared : shared && !kept)
        fz_die("lvio_gpu_memory_busy says %d with %zu bytes still shared (device %s)", busy,
               shared, S.dev.dead ? "dead" : "alive");
}

static uint32_t pick_format(struct fz_tape *t)
{
    static const uint32_t fmts[] = {2, 1, 3, 4, 67, 68, 121, 134};
    uint8_t k = fz_u8(t);
    return k < 0xf0 ? fmts[k % 8] : fz_u32(t);
}

static void op_create(unsigned i)
{
    struct fz_tape *t = &S.f.h;
    struct fbslot *s = &S.fb[i];
    uint8_t shape = fz_u8(t);
    uint32_t w = 64, h = 64;
    if (!(shape & 1)) {
        w = fz_u8(t) % 97;
        h = fz_u8(t) % 97;
    }
    uint32_t fmt = pick_format(t);
    size_t need = (size_t)w * 4 * h;
    size_t size = (shape & 2) ? need - (need ? 4 : 0) : need + (shape & 4 ? 64 : 0);
    size_t off = (shape & 8) ? (fz_u8(t) % 64) * 64 : 0;
    off += (shape & 16) ? 2 : 0;
    uint8_t *buf = aligned_alloc(LVIO_PAGE_SIZE, (off + size + LVIO_PAGE_SIZE) /
                                                     LVIO_PAGE_SIZE * LVIO_PAGE_SIZE);
    if (!buf)
        fz_die("host out of memory");
    S.bufs[S.nbufs++] = buf;
    uint8_t *pixels = buf + off;
    /* The driver's record of the runs: harness memory (never DMA memory),
     * as much as the worst case needs, or less, or the framebuffer's own
     * (shape bit 5); kept until teardown like the pixels. */
    struct lvio_gpu_run *runs = NULL;
    uint32_t max_runs = 0;
    if (!(shape & 32)) {
        max_runs = (uint32_t)LVIO_GPU_FB_RUNS(size);
        if (shape & 64)
            max_runs = fz_u8(t) % (max_runs + 1);
        runs = malloc((max_runs + 1) * sizeof *runs);
        if (!runs)
            fz_die("host out of memory");
        S.bufs[S.nbufs++] = runs;
    }
    fz_call(&S.f, "lvio_gpu_fb_create");
    int rv = lvio_gpu_fb_create(&S.gpu, &s->fb, w, h, fmt, pixels, size, runs, max_runs);
    check_rv("lvio_gpu_fb_create", rv, false);
    fz_check_waited(&S.f, rv, S.gpu.timeout_ns);
    bool bad = w == 0 || h == 0 || !format_ok(fmt) || size < need || (off & 3) || !S.gpu.cmds.mem ||
               (runs && max_runs == 0);
    /* Too little room for the runs is only known while sharing. */
    bool room = rv == LVIO_E_INVAL && (!runs || max_runs < LVIO_GPU_FB_RUNS(size)) &&
                strstr(lvio_device_error(&S.dev), "runs of driver-private room");
    if (bad != (rv == LVIO_E_INVAL) && !room)
        fz_die("lvio_gpu_fb_create(%ux%u, format %u, %zu bytes at +%zu) returned %d", w, h,
               fmt, size, off, rv);
    if (rv == LVIO_OK) {
        if (fz_shared_bytes(&S.f, pixels, size) != need || s->fb.size != need)
            fz_die("framebuffer of %zu bytes: %zu shared", need,
                   fz_shared_bytes(&S.f, pixels, size));
        s->live = true;
        s->maybe_read = s->maybe_kept = false;
        s->pixels = pixels;
        s->size = size;
        return;
    }
    check_busy(pixels, size, false);
    bool may_hold = rv == LVIO_E_TIMEOUT || rv == LVIO_E_NEEDS_RESET || rv == LVIO_E_BROKEN;
    if (!may_hold && fz_shared_bytes(&S.f, pixels, size))
        fz_die("lvio_gpu_fb_create failed with %d and left %zu bytes of its pixels shared", rv,
               fz_shared_bytes(&S.f, pixels, size));
}

static void op_destroy(unsigned i)
{
    struct fbslot *s = &S.fb[i];
    if (!s->live)
        return;
    fz_call(&S.f, "lvio_gpu_fb_destroy");
    int rv = lvio_gpu_fb_destroy(&s->fb);
    check_rv("lvio_gpu_fb_destroy", rv, false);
    fz_check_waited(&S.f, rv, S.gpu.timeout_ns);
    s->live = false;
    size_t left = fz_shared_bytes(&S.f, s->pixels, s->size);
    if (left && !s->maybe_read && !s->maybe_kept && !S.dev.dead)
        fz_die("a destroyed framebuffer left %zu bytes shared", left);
    check_busy(s->pixels, s->size, s->maybe_kept);
}

/* A call that transferred from `s` failed with the command maybe still
 * with the device. */
static void note_lost(struct fbslot *s, int rv)
{
    if (s && (rv == LVIO_E_TIMEOUT || rv == LVIO_E_BROKEN || rv == LVIO_E_NEEDS_RESET))
        s->maybe_read = true;
}

/* Present, show and cursor take it (not destroyed, not from before a reset). */
static bool usable(const struct fbslot *s)
{
    return s->live && S.gpu.cmds.mem && s->fb.epoch == S.gpu.epoch;
}

static struct lvio_gpu_fb *fb_or_null(uint8_t k)
{
    struct fbslot *s = &S.fb[k % NFB];
    return (k & 0x80) || !s->live ? NULL : &s->fb;
}

static void op_present(unsigned i)
{
    struct fz_tape *t = &S.f.h;
    struct fbslot *s = &S.fb[i];
    struct lvio_gpu_rect r;
    r.x = fz_u8(t); /* one statement each: the order they are read in */
    r.y = fz_u8(t);
    r.width = fz_u8(t);
    r.height = fz_u8(t);
    bool whole = r.x & 1;
    if (!s->live)
        return;
    fz_call(&S.f, "lvio_gpu_present");
    int rv = lvio_gpu_present(&s->fb, whole ? NULL : &r);
    check_rv("lvio_gpu_present", rv, false);
    fz_check_waited(&S.f, rv, S.gpu.timeout_ns);
    note_lost(s, rv);
    bool outside = !whole && r.width && r.height &&
                   (r.x + r.width > s->fb.width || r.y + r.height > s->fb.height);
    if ((outside || !usable(s)) != (rv == LVIO_E_INVAL))
        fz_die("lvio_gpu_present of %ux%u at (%u,%u) on %ux%u returned %d", r.width, r.height,
               r.x, r.y, s->fb.width, s->fb.height, rv);
}

static void run_ops(void)
{
    struct fz_tape *t = &S.f.h;
    for (unsigned n = 0; n < MAX_OPS && !fz_empty(t); n++) {
        uint8_t op = fz_u8(t);
        unsigned i = (op >> 4) % NFB;
        uint32_t w, h;
        int rv = 0;
        uint64_t timeout = S.gpu.timeout_ns;
        fz_call(&S.f, "a gpu call");
        switch (op & 15) {
        case 0: if (!S.fb[i].live) op_create(i); break;
        case 1: op_destroy(i); break;
        case 2: op_present(i); break;
        case 3: {
            unsigned sc = fz_u8(t) % 18;
            uint8_t k = fz_u8(t);
            struct lvio_gpu_fb *fb = fb_or_null(k);
            bool inval = !S.gpu.cmds.mem || sc >= S.gpu.num_scanouts || (fb && !usable(&S.fb[k % NFB]));
            fz_call(&S.f, "lvio_gpu_show");
            rv = lvio_gpu_show(&S.gpu, sc, fb);
            note_lost(fb ? &S.fb[k % NFB] : NULL, rv);
            if (inval != (rv == LVIO_E_INVAL))
                fz_die("lvio_gpu_show(scanout %u of %u) returned %d", sc, S.gpu.num_scanouts, rv);
            break;
        }
        case 4: {
            unsigned sc = fz_u8(t) % 18;
            uint8_t k = fz_u8(t);
            struct lvio_gpu_fb *img = fb_or_null(k);
            uint32_t hx = fz_u8(t) % 70;
            uint32_t hy = fz_u8(t) % 70;
            uint32_t x = fz_u8(t);
            uint32_t y = fz_u8(t);
            fz_call(&S.f, "lvio_gpu_cursor_set");
            rv = lvio_gpu_cursor_set(&S.gpu, sc, img, hx, hy, x, y);
            note_lost(img ? &S.fb[k % NFB] : NULL, rv);
            break;
        }
        case 5: {
            unsigned sc = fz_u8(t) % 18;
            uint32_t x = fz_u16(t);
            uint32_t y = fz_u16(t);
            fz_call(&S.f, "lvio_gpu_cursor_move");
            rv = lvio_gpu_cursor_move(&S.gpu, sc, x, y);
            break;
        }
        case 6:
            fz_call(&S.f, "lvio_gpu_poll_events");
            rv = lvio_gpu_poll_events(&S.gpu);
            break;
        case 7:
            fz_call(&S.f, "lvio_gpu_query");
            rv = lvio_gpu_query(&S.gpu);
            break;
        case 8:
            rv = lvio_gpu_preferred_mode(&S.gpu, fz_u8(t) % 18, &w, &h);
            if (rv == LVIO_OK && (w == 0 || h == 0 || w > 16384 || h > 16384))
                fz_die("preferred mode %ux%u", w, h);
            break;
        case 9: {
            uint32_t kept = S.dev.kept_shares;
            fz_call(&S.f, "lvio_gpu_reset");
            rv = lvio_gpu_reset(&S.gpu);
            timeout = LVIO_GPU_TIMEOUT_NS; /* init's */
            /* The reset ended every chain, unless it never completed:
             * then what a lost transfer reads stays shared for good. */
            for (unsigned k = 0; k < NFB; k++) {
                S.fb[k].maybe_kept |= S.fb[k].maybe_read && S.dev.kept_shares != kept;
                S.fb[k].maybe_read = false;
            }
            if (rv == LVIO_OK)
                S.gpu.timeout_ns = 8 * FZ_TICK_NS;
            break;
        }
        default: {
            uint8_t b = fz_u8(t);
            S.gpu.timeout_ns = fz_gpu_timeout(b);
            break;
        }
        }
        check_rv("a gpu call", rv, (op & 15) == 9);
        fz_check_waited(&S.f, rv, timeout);
        fz_check_errmsg(&S.dev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_GPU);
    f->features = ((1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_GPU_F_EDID)) ^
                  fz_u64(&f->h);
    f->q[0].num_max = 64u ^ fz_u16(&f->h);
    f->q[1].num_max = 16u ^ fz_u16(&f->h);
    fz_config_put32(f, 8, 1u ^ fz_u8(&f->h)); /* num_scanouts */
    if (!fz_gpu_probe(f, &S.dev, gpu_service, fz_gpu_config_write, gpu_on_reset))
        goto out;
    fz_call(f, "lvio_gpu_init");
    int rv = lvio_gpu_init(&S.gpu, &S.dev);
    check_rv("lvio_gpu_init", rv, true);
    fz_check_waited(f, rv, LVIO_GPU_TIMEOUT_NS);
    fz_check_errmsg(&S.dev);
    if (rv != LVIO_OK)
        goto out;
    S.gpu.timeout_ns = 8 * FZ_TICK_NS;
    run_ops();
    for (unsigned i = 0; i < NFB; i++)
        op_destroy(i);
    fz_call(f, "lvio_gpu_teardown");
    lvio_gpu_teardown(&S.gpu);
out:
    fz_gpu_finish(f, &S.dev, S.bufs, S.nbufs);
    return 0;
}
