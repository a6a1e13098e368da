/*
 * fuzz_blk: the virtio-blk driver over a device whose configuration, queue
 * sizes and every answer come from the input: status bytes (any value, or
 * never written), used lengths, garbage in every byte it may write, late
 * and out-of-order completions, lies about chains, and (with hostile
 * registers) register reads; DMA and share failures and share layouts as
 * fuzz_dev.h gives them.
 *
 * Sequence: lvio_blk_init, then operations chosen by the input (submit a
 * request of any kind, valid or not, on any queue; poll and collect; wait
 * for one with a timeout up to UINT64_MAX; lvio_blk_reset; the blocking
 * read, write, flush and get-id; set_writeback; plug and unplug), then
 * lvio_blk_teardown and every request collected.
 *
 * The device side checks what the driver sends while the device's view
 * can be trusted (it has not lied, its registers are not hostile): a
 * header of 16 readable bytes first, a 1-byte status last; data that goes
 * the right way, within seg_max and size_max when negotiated, whole
 * logical blocks, inside the disk; no write, discard, write zeroes or
 * secure erase to a read-only disk; discard-like ranges within the limits
 * with the right flags; flush and get-id of the right shape. The harness
 * checks every call returns a documented error; a request that comes back
 * is no longer shared (unless the device is dead: its reset never
 * completed); a request the device answered badly (a status other than OK,
 * one never written, a used length short of the status on a modern
 * device) never comes back as success; a read that succeeded holds exactly
 * the bytes the device wrote; and at the end every DMA page and share is
 * back or kept for a dead device.
 *
 * Input: the common header (fuzz_dev.h), features ^ the usual set (8),
 * QueueNumMax ^ 64 (2), the 72 configuration bytes ^ a sane disk (2048
 * sectors, seg_max 8, 2 queues, discard-like limits of 64 sectors), then
 * operations interleaved with the device's decisions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_blk.h"

#define NREQ 8
#define NSEG 4
#define MAX_OPS 40
#define SECTOR 512u
#define CFG(f) offsetof(struct lvio_virtio_blk_config, f)

struct slot {
    struct lvio_blk_req req;
    struct lvio_blk_seg seg[NSEG];
    uint8_t *mem[NSEG];
    uint8_t fill;        /* what the device writes into its reads */
    bool bad;            /* the device answered a chain of it badly */
    bool garbage;        /* ...or with bytes from the tape */
    bool kept;           /* back from a dead device: its buffers stay shared */
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_blk blk;
    struct slot s[NREQ];
    uint8_t *leftovers[NREQ * NSEG * 4]; /* buffers of requests a dead device kept */
    unsigned nleft;
    uint64_t cap_max;    /* the largest capacity the disk ever had (it may resize) */
} S;

static const uint64_t FEATURES =
    (1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << LVIO_VIRTIO_F_INDIRECT_DESC) |
    (1ull << LVIO_VIRTIO_F_EVENT_IDX) | (1ull << LVIO_VIRTIO_BLK_F_SEG_MAX) |
    (1ull << LVIO_VIRTIO_BLK_F_BLK_SIZE) | (1ull << LVIO_VIRTIO_BLK_F_FLUSH) |
    (1ull << LVIO_VIRTIO_BLK_F_MQ) | (1ull << LVIO_VIRTIO_BLK_F_DISCARD) |
    (1ull << LVIO_VIRTIO_BLK_F_WRITE_ZEROES) | (1ull << LVIO_VIRTIO_BLK_F_SECURE_ERASE) |
    (1ull << LVIO_VIRTIO_BLK_F_CONFIG_WCE);

/* ---- the device ------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool neg(unsigned bit)
{
    return (S.f.driver_features >> bit) & 1;
}

/* A rule for the driver, while the device's view can be trusted. */
#define BLK_RULE(...)                                                          \
    do {                                                                       \
        if (!S.f.lied && !S.f.hostile_regs)                                    \
            fz_die(__VA_ARGS__);                                               \
    } while (0)

/* The harness request whose buffer the device finds at `p`, or NULL. */
static struct slot *slot_of(const uint8_t *p)
{
    for (unsigned i = 0; p && i < NREQ; i++)
        for (unsigned j = 0; j < S.s[i].req.nsegs && j < NSEG; j++)
            if (S.s[i].mem[j] && p >= S.s[i].mem[j] && p < S.s[i].mem[j] + S.s[i].seg[j].len)
                return &S.s[i];
    return NULL;
}

static uint32_t blk_size(void)
{
    return neg(LVIO_VIRTIO_BLK_F_BLK_SIZE) ? fz_config_get32(&S.f, CFG(blk_size)) : SECTOR;
}

static uint64_t capacity(void)
{
    return (uint64_t)fz_config_get32(&S.f, 0) | (uint64_t)fz_config_get32(&S.f, 4) << 32;
}

/* The capacity a request is checked against: the driver may not have
 * seen a resize yet, so the largest the disk ever had. */
static uint64_t capacity_rule(void)
{
    if (capacity() > S.cap_max)
        S.cap_max = capacity();
    return S.cap_max;
}

/* [sector, sector + n) whole blocks inside the disk. */
static void check_span(const char *what, uint64_t sector, uint64_t n)
{
    uint64_t bs = blk_size() / SECTOR;
    uint64_t cap = capacity_rule();
    if (bs == 0 || n == 0 || sector % bs || n % bs || sector > cap || n > cap - sector)
        BLK_RULE("blk %s of %llu sectors at %llu: not whole %u-byte blocks in %llu sectors",
                 what, (unsigned long long)n, (unsigned long long)sector, blk_size(),
                 (unsigned long long)cap);
}

static void check_data(const struct fz_chain *c, uint32_t type, uint64_t sector)
{
    uint64_t bytes = 0;
    for (unsigned i = 1; i + 1 < c->n; i++) {
        if (c->buf[i].write != (type == LVIO_VIRTIO_BLK_T_IN))
            BLK_RULE("blk type %u: data buffer %u goes the wrong way", type, i);
        if (neg(LVIO_VIRTIO_BLK_F_SIZE_MAX) &&
            c->buf[i].len > fz_config_get32(&S.f, CFG(size_max)))
            BLK_RULE("blk: a data buffer of %u bytes over size_max", c->buf[i].len);
        bytes += c->buf[i].len;
    }
    if (neg(LVIO_VIRTIO_BLK_F_SEG_MAX) && c->n - 2 > fz_config_get32(&S.f, CFG(seg_max)))
        BLK_RULE("blk: %u data buffers over seg_max", c->n - 2);
    if (bytes % SECTOR)
        BLK_RULE("blk: %llu bytes of data", (unsigned long long)bytes);
    check_span(type == LVIO_VIRTIO_BLK_T_IN ? "read" : "write", sector, bytes / SECTOR);
}

static void check_ranges(const struct fz_chain *c, uint32_t type)
{
    static const unsigned bit[3] = {LVIO_VIRTIO_BLK_F_DISCARD, LVIO_VIRTIO_BLK_F_WRITE_ZEROES,
                                    LVIO_VIRTIO_BLK_F_SECURE_ERASE};
    static const uint32_t max_off[3] = {CFG(max_discard_sectors), CFG(max_write_zeroes_sectors),
                                        CFG(max_secure_erase_sectors)};
    unsigned k = type == LVIO_VIRTIO_BLK_T_DISCARD ? 0 : type == LVIO_VIRTIO_BLK_T_WRITE_ZEROES ? 1 : 2;
    if (!neg(bit[k]))
        BLK_RULE("blk type %u without its feature", type);
    if (c->n != 3 || c->buf[1].write || !c->buf[1].cpu || c->buf[1].len % 16) {
        BLK_RULE("blk type %u: ranges not one readable buffer of whole ranges", type);
        return;
    }
    uint32_t max = fz_config_get32(&S.f, max_off[k]), n = c->buf[1].len / 16;
    if (n > fz_config_get32(&S.f, max_off[k] + 4))
        BLK_RULE("blk type %u: %u ranges over its max_seg", type, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = c->buf[1].cpu + 16 * i;
        uint32_t num = rd32(r + 8), flags = rd32(r + 12);
        if (num > max || (flags & ~(k == 1 ? 1u : 0u)))
            BLK_RULE("blk type %u range of %u sectors (max %u), flags 0x%x", type, num, max,
                     flags);
        check_span("range", rd64(r), num);
    }
}

/* What the driver sent, checked as a device that trusts nothing would. */
static uint32_t check_chain(const struct fz_chain *c, uint64_t *sector)
{
    const uint8_t *hdr = c->buf[0].cpu;
    uint32_t type = rd32(hdr);
    *sector = rd64(hdr + 8);
    bool ro = neg(LVIO_VIRTIO_BLK_F_RO);
    switch (type) {
    case LVIO_VIRTIO_BLK_T_IN:
    case LVIO_VIRTIO_BLK_T_OUT:
        if (type == LVIO_VIRTIO_BLK_T_OUT && ro)
            BLK_RULE("blk: a write to a read-only disk");
        check_data(c, type, *sector);
        break;
    case LVIO_VIRTIO_BLK_T_FLUSH:
        if (c->n != 2 || *sector || !neg(LVIO_VIRTIO_BLK_F_FLUSH))
            BLK_RULE("blk: a flush of %u buffers, sector %llu", c->n,
                     (unsigned long long)*sector);
        break;
    case LVIO_VIRTIO_BLK_T_GET_ID:
        if (c->n != 3 || !c->buf[1].write || c->buf[1].len != LVIO_VIRTIO_BLK_ID_BYTES)
            BLK_RULE("blk: GET_ID of %u buffers", c->n);
        break;
    case LVIO_VIRTIO_BLK_T_DISCARD:
    case LVIO_VIRTIO_BLK_T_WRITE_ZEROES:
    case LVIO_VIRTIO_BLK_T_SECURE_ERASE:
        if (ro)
            BLK_RULE("blk type %u on a read-only disk", type);
        check_ranges(c, type);
        break;
    default:
        BLK_RULE("blk: request type %u", type);
    }
    return type;
}

/* The device's answer: right, or a status, a missing status, a length or
 * every writable byte from the tape, or later. The request it belongs to
 * (by its data) is marked when the answer must not count as success. */
static uint32_t blk_service(struct fz *f, struct fz_chain *c)
{
    if (c->n < 2 || !c->buf[0].cpu || c->buf[0].write || c->buf[0].len != 16 ||
        !c->buf[c->n - 1].write || c->buf[c->n - 1].len != 1 || !c->buf[c->n - 1].cpu) {
        if (!f->lied)
            fz_die("blk chain of %u buffers: not a 16-byte header .. 1-byte status", c->n);
        return 0;
    }
    uint64_t sector;
    uint32_t type = check_chain(c, &sector), writable = 0;
    struct slot *s = c->n > 2 ? slot_of(c->buf[1].cpu) : NULL;
    uint8_t *status = c->buf[c->n - 1].cpu;
    for (unsigned i = 0; i < c->n; i++)
        if (c->buf[i].write) {
            writable += c->buf[i].len;
            if (c->buf[i].cpu && i + 1 < c->n)
                memset(c->buf[i].cpu, type == LVIO_VIRTIO_BLK_T_IN && s ? s->fill : 'i',
                       c->buf[i].len);
        }
    uint8_t mode = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    uint32_t len = writable;
    if (mode % 8 != 2) /* 2: the status byte stays as the driver left it */
        *status = LVIO_VIRTIO_BLK_S_OK;
    switch (mode % 8) {
    case 1: *status = fz_u8(&f->t); break;
    case 3: len = fz_u16(&f->t); break;
    case 4: f->hold_this = true; break;
    case 5:
        for (unsigned i = 0; i < c->n; i++)
            if (c->buf[i].write && c->buf[i].cpu)
                fz_bytes(&f->t, c->buf[i].cpu, c->buf[i].len);
        len = fz_u16(&f->t);
        if (s)
            s->garbage = true;
        break;
    default: break;
    }
    bool short_len = f->version == 2 && len < writable;
    if (s && (mode % 8 == 2 || *status != LVIO_VIRTIO_BLK_S_OK || short_len))
        s->bad = true;
    return len;
}

/* Only `writeback` is written, and only with CONFIG_WCE. Width 0: the
 * device changes its configuration (fuzz_dev.h): a resize, or a new cache
 * mode. */
static void blk_config_write(struct fz *f, uint32_t off, unsigned width, uint32_t v)
{
    if (width == 0) {
        capacity_rule();
        uint16_t k = fz_u16(&f->t);
        if (k & 1)
            f->config[CFG(writeback)] = (uint8_t)(k >> 8);
        else
            fz_config_put32(f, 0, fz_config_get32(f, 0) ^ (uint32_t)(k >> 1));
        capacity_rule();
        return;
    }
    if (off != CFG(writeback) || width != 1 || !neg(LVIO_VIRTIO_BLK_F_CONFIG_WCE))
        BLK_RULE("blk config write of %u bytes at %u", width, off);
    else if (fz_empty(&f->t) || (fz_u8(&f->t) & 7))
        f->config[off] = (uint8_t)v; /* else it does not stick */
}

/* ---- the driver side ----------------------------------------------------------- */

static void check_rv(const char *call, int rv, bool resets)
{
    if (rv > 0 || rv < LVIO_E_READ_ONLY || (rv == LVIO_E_DEAD && !resets))
        fz_die("%s returned %d", call, rv);
}

static void free_buffers(struct slot *s, bool keep)
{
    for (unsigned j = 0; j < NSEG; j++) {
        if (keep && s->mem[j] && S.nleft < sizeof S.leftovers / sizeof S.leftovers[0])
            S.leftovers[S.nleft++] = s->mem[j];
        else
            free(s->mem[j]);
        s->mem[j] = NULL;
    }
}

/* A request came back: a documented result, nothing left shared (but for
 * a dead device), no success the device did not give, and a read holds
 * what the device wrote. */
static void check_back(struct lvio_blk_req *req)
{
    struct slot *s = req ? req->token : NULL;
    if (!s || &s->req != req)
        fz_die("lvio_blk_done gave back a request that is not the harness's");
    int r = req->result;
    if (r > 0 || r < LVIO_E_READ_ONLY)
        fz_die("a request came back with result %d", r);
    if (r == LVIO_E_REFUSED && req->status != LVIO_VIRTIO_BLK_S_IOERR &&
        req->status != LVIO_VIRTIO_BLK_S_UNSUPP)
        fz_die("LVIO_E_REFUSED with status 0x%x", req->status);
    bool dead = S.dev.dead || r == LVIO_E_DEAD;
    for (unsigned j = 0; j < req->nsegs && j < NSEG; j++)
        if (s->mem[j] && fz_shared_bytes(&S.f, s->mem[j], s->seg[j].len) && !dead)
            fz_die("a request came back (%d) with segment %u still shared", r, j);
    if (r == LVIO_OK && s->bad && !S.f.lied)
        fz_die("a %s the device answered badly came back as success",
               lvio_blk_op_name(req->op));
    if (r == LVIO_OK && req->op == LVIO_BLK_READ && !s->garbage && !S.f.lied)
        for (unsigned j = 0; j < req->nsegs; j++)
            for (uint32_t b = 0; b < s->seg[j].len; b++)
                if (s->mem[j][b] != s->fill)
                    fz_die("a read came back as success with byte %u of segment %u not the "
                           "device's", b, j);
    free_buffers(s, dead);
}

static void collect(void)
{
    struct lvio_blk_req *req;
    while ((req = lvio_blk_done(&S.blk)))
        check_back(req);
}

static uint64_t pick_sector(struct fz_tape *t, uint64_t n)
{
    uint8_t m = fz_u8(t);
    uint64_t cap = S.blk.capacity;
    switch (m % 8) {
    case 4: return cap > n ? cap - n : 0;   /* the last blocks */
    case 5: return cap;                      /* past the end */
    case 6: return fz_u64(t);
    case 7: return fz_u16(t) | 1;            /* odd: unaligned on 4Kn */
    default: return (uint64_t)fz_u16(t) & ~7ull;
    }
}

static void op_submit(unsigned i)
{
    struct fz_tape *t = &S.f.h;
    struct slot *s = &S.s[i];
    if (s->req.state_)
        return; /* the driver's */
    uint8_t k = fz_u8(t);
    memset(s, 0, sizeof *s);
    s->req.op = k >= 0xf8 ? (uint8_t)(k & 1 ? 99 : 0) : (uint8_t)(k % 7 + 1);
    s->req.queue = fz_u8(t) % 5;
    s->req.flags = fz_u8(t) % 3;
    s->req.token = s;
    s->fill = (uint8_t)(0x80 | fz_u8(t));
    unsigned nsegs = fz_u8(t) % (NSEG + 1);
    uint64_t bytes = 0;
    for (unsigned j = 0; j < nsegs; j++) {
        uint16_t v = fz_u16(t);
        uint32_t len = v & 0x8000 ? (v & 0x7fff) % 8193 : ((v % 16) + 1) * SECTOR;
        s->mem[j] = malloc(len ? len : 1);
        if (!s->mem[j])
            fz_die("host out of memory");
        memset(s->mem[j], 0x11, len ? len : 1);
        s->seg[j] = (struct lvio_blk_seg){s->mem[j], len, 0};
        bytes += len;
    }
    if (nsegs || s->req.op == LVIO_BLK_GET_ID)
        s->req.segs = s->seg;
    s->req.nsegs = nsegs;
    if (s->req.op >= LVIO_BLK_DISCARD && s->req.op <= LVIO_BLK_SECURE_ERASE)
        s->req.sectors = fz_u16(t);
    if (s->req.op != LVIO_BLK_FLUSH && s->req.op != LVIO_BLK_GET_ID)
        s->req.sector = pick_sector(t, s->req.sectors ? s->req.sectors : bytes / SECTOR);
    fz_call(&S.f, "lvio_blk_submit");
    int rv = lvio_blk_submit(&S.blk, &s->req);
    check_rv("lvio_blk_submit", rv, false);
    fz_check_errmsg(&S.dev);
    bool writes = s->req.op == LVIO_BLK_WRITE || s->req.op == LVIO_BLK_DISCARD ||
                  s->req.op == LVIO_BLK_WRITE_ZEROES || s->req.op == LVIO_BLK_SECURE_ERASE;
    if (rv == LVIO_OK && writes && S.blk.read_only)
        fz_die("a %s on a read-only disk was taken", lvio_blk_op_name(s->req.op));
    if (rv == LVIO_OK && (s->req.op == LVIO_BLK_READ || s->req.op == LVIO_BLK_WRITE) &&
        (s->req.sector > S.blk.capacity || bytes / SECTOR > S.blk.capacity - s->req.sector))
        fz_die("a %s past the end was taken", lvio_blk_op_name(s->req.op));
    if (s->req.state_ == 0) { /* refused: nothing of it shared */
        for (unsigned j = 0; j < nsegs; j++)
            if (fz_shared_bytes(&S.f, s->mem[j], s->seg[j].len))
                fz_die("a refused request (%d) left segment %u shared", rv, j);
        if (rv == LVIO_OK)
            fz_die("lvio_blk_submit returned 0 and the request is not the driver's");
        free_buffers(s, false);
        memset(&s->req, 0, sizeof s->req);
    }
}

static void op_wait(unsigned i, uint64_t timeout)
{
    struct slot *s = &S.s[i];
    if (!s->req.state_)
        return;
    /* One already back (on the done list, state 3) is given at once, with
     * whatever result it came back with. */
    bool back = s->req.state_ == 3;
    fz_call(&S.f, "lvio_blk_wait");
    int rv = lvio_blk_wait(&S.blk, &s->req, timeout);
    check_rv("lvio_blk_wait", rv, true);
    if (!back)
        fz_check_waited(&S.f, rv, timeout);
    /* Still the driver's: nothing came (AGAIN), not up (STATE), or, for a
     * look (timeout 0, which resets nothing), a queue that broke. */
    if (s->req.state_ == 0)
        check_back(&s->req);
    else if (rv != LVIO_E_AGAIN && rv != LVIO_E_STATE && (timeout || rv != LVIO_E_BROKEN))
        fz_die("lvio_blk_wait returned %d with the request still the driver's", rv);
}

/* A blocking helper: its buffer is back when it returns, unless the
 * device is dead (LVIO_E_DEAD: kept shared, so the harness keeps it). */
static void op_helper(uint8_t which)
{
    uint8_t *buf = malloc(2 * SECTOR);
    char id[LVIO_VIRTIO_BLK_ID_BYTES + 1];
    int rv;
    if (!buf)
        fz_die("host out of memory");
    fz_call(&S.f, "blocking helper");
    switch (which % 4) {
    case 0: rv = lvio_blk_read(&S.blk, fz_u16(&S.f.h), buf, 2 * SECTOR); break;
    case 1: rv = lvio_blk_write(&S.blk, fz_u16(&S.f.h), buf, 2 * SECTOR); break;
    case 2: rv = lvio_blk_flush(&S.blk); break;
    default:
        rv = lvio_blk_get_id(&S.blk, id);
        if (id[LVIO_VIRTIO_BLK_ID_BYTES] != '\0')
            fz_die("lvio_blk_get_id left the ID unterminated");
        break;
    }
    check_rv("a blocking helper", rv, true);
    fz_check_waited(&S.f, rv, S.blk.timeout_ns);
    bool dead = rv == LVIO_E_DEAD || S.dev.dead;
    if (fz_shared_bytes(&S.f, buf, 2 * SECTOR) && !dead)
        fz_die("a blocking helper returned %d with its buffer still shared", rv);
    if (dead && S.nleft < sizeof S.leftovers / sizeof S.leftovers[0])
        S.leftovers[S.nleft++] = buf;
    else
        free(buf);
}

static void operations(void)
{
    struct fz_tape *t = &S.f.h;
    for (unsigned n = 0; n < MAX_OPS && !fz_empty(t); n++) {
        uint8_t op = fz_u8(t);
        switch (op % 8) {
        case 0:
        case 1: op_submit((op >> 3) % NREQ); break;
        case 2: {
            fz_call(&S.f, "lvio_blk_poll");
            int rv = lvio_blk_poll(&S.blk, fz_u8(t) & 3);
            check_rv("lvio_blk_poll", rv < 0 ? rv : 0, false);
            collect();
            break;
        }
        case 3: op_wait((op >> 3) % NREQ, fz_timeout(fz_u8(t), 24)); break;
        case 4:
            fz_call(&S.f, "lvio_blk_reset");
            check_rv("lvio_blk_reset", lvio_blk_reset(&S.blk), true);
            collect();
            break;
        case 5:
            S.blk.timeout_ns = fz_timeout(fz_u8(t), 24);
            op_helper(op >> 3);
            collect();
            break;
        case 6:
            check_rv("lvio_blk_set_writeback", lvio_blk_set_writeback(&S.blk, op & 8), false);
            break;
        default: /* plug, or unplug (one notify for what went meanwhile) */
            if (op & 8) {
                lvio_blk_plug(&S.blk);
            } else {
                check_rv("lvio_blk_unplug", lvio_blk_unplug(&S.blk), false);
                collect();
            }
            break;
        }
        fz_check_errmsg(&S.dev);
    }
}

/* The configuration: a sane disk, changed by the input. */
static void config(struct fz *f)
{
    static const struct {
        uint32_t off, v;
    } sane[] = {{0, 2048}, {CFG(seg_max), 8}, {CFG(blk_size), SECTOR}, {CFG(writeback), 1},
                {CFG(num_queues), 2}, {CFG(max_discard_sectors), 64}, {CFG(max_discard_seg), 2},
                {CFG(discard_sector_alignment), 8}, {CFG(max_write_zeroes_sectors), 64},
                {CFG(max_write_zeroes_seg), 1}, {CFG(write_zeroes_may_unmap), 1},
                {CFG(max_secure_erase_sectors), 64}, {CFG(max_secure_erase_seg), 1}};
    uint8_t x[sizeof(struct lvio_virtio_blk_config)];
    for (unsigned i = 0; i < sizeof sane / sizeof sane[0]; i++)
        fz_config_put32(f, sane[i].off, sane[i].v);
    f->config[CFG(writeback) + 1] = 0; /* unused0 */
    fz_bytes(&f->h, x, sizeof x);
    for (unsigned i = 0; i < sizeof x; i++)
        f->config[i] ^= x[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_BLOCK);
    f->features = FEATURES ^ fz_u64(&f->h);
    uint16_t qmax = 64u ^ fz_u16(&f->h);
    for (unsigned i = 0; i < FZ_MAX_QUEUES; i++)
        f->q[i].num_max = qmax;
    config(f);
    f->config_write = blk_config_write;
    f->service = blk_service;

    if (lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, 0x200) != LVIO_OK ||
        S.dev.device_id != LVIO_VIRTIO_ID_BLOCK)
        goto out;
    fz_call(f, "lvio_blk_init");
    int rv = lvio_blk_init(&S.blk, &S.dev, fz_u8(&f->h) % 6);
    fz_check_errmsg(&S.dev);
    check_rv("lvio_blk_init", rv, true);
    fz_check_waited(f, rv, 0);
    if (rv != LVIO_OK)
        goto out;
    operations();
    fz_call(f, "lvio_blk_teardown");
    lvio_blk_teardown(&S.blk);
    collect();
    for (unsigned i = 0; i < NREQ; i++)
        if (S.s[i].req.state_)
            fz_die("request %u still the driver's after teardown", i);
    if (lvio_blk_submit(&S.blk, &S.s[0].req) != LVIO_E_STATE)
        fz_die("lvio_blk_submit after teardown did not return LVIO_E_STATE");
out:
    fz_check_errmsg(&S.dev);
    fz_finish(f); /* a zombie device may still use what it was given: first */
    for (unsigned i = 0; i < NREQ; i++)
        free_buffers(&S.s[i], false);
    for (unsigned i = 0; i < S.nleft; i++)
        free(S.leftovers[i]);
    S.nleft = 0;
    return 0;
}
