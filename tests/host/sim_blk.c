/* The simulated virtio-blk described in sim_blk.h. */
#include "sim_blk.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_ring.h"

#define SECTOR LVIO_VIRTIO_BLK_SECTOR_SIZE
#define MAX_BUFS 300
#define CFG(field) offsetof(struct lvio_virtio_blk_config, field)

static struct sim_blk *blk_of(struct sim *s)
{
    return (struct sim_blk *)(void *)((char *)s - offsetof(struct sim_blk, sim));
}

static bool offered(const struct sim_blk *b, unsigned bit)
{
    return (b->sim.features >> bit) & 1;
}

static bool negotiated(const struct sim_blk *b, unsigned bit)
{
    return (b->sim.driver_features >> bit) & 1;
}

/* ---- values in the device's byte order (legacy: the guest's) ------------------------ */

static uint32_t dev32(const struct sim_blk *b, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return b->sim.version == 1 ? v : lvio_le32_to_cpu(v);
}

static uint64_t dev64(const struct sim_blk *b, const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return b->sim.version == 1 ? v : lvio_le64_to_cpu(v);
}

/* ---- configuration -------------------------------------------------------------------- */

static void cfg(struct sim_blk *b, size_t off, uint32_t v, unsigned width)
{
    sim_config_bytes(b->sim.version == 1, v, width, b->sim.config + off,
                     sizeof b->sim.config - off);
}

static void cfg64(struct sim_blk *b, size_t off, uint64_t v)
{
    if (b->sim.version == 1) {
        memcpy(b->sim.config + off, &v, 8); /* the guest's order, whole */
        return;
    }
    cfg(b, off, (uint32_t)v, 4);
    cfg(b, off + 4, (uint32_t)(v >> 32), 4);
}

void sim_blk_apply(struct sim_blk *b)
{
    memset(b->sim.config, 0, sizeof b->sim.config);
    cfg64(b, CFG(capacity), b->capacity);
    cfg(b, CFG(size_max), b->size_max, 4);
    cfg(b, CFG(seg_max), b->seg_max, 4);
    cfg(b, CFG(geometry.cylinders), b->cylinders, 2);
    cfg(b, CFG(geometry.heads), b->heads, 1);
    cfg(b, CFG(geometry.sectors), b->sectors, 1);
    cfg(b, CFG(blk_size), b->blk_size, 4);
    cfg(b, CFG(topology.physical_block_exp), b->physical_block_exp, 1);
    cfg(b, CFG(topology.alignment_offset), b->alignment_offset, 1);
    cfg(b, CFG(topology.min_io_size), b->min_io_size, 2);
    cfg(b, CFG(topology.opt_io_size), b->opt_io_size, 4);
    cfg(b, CFG(writeback), b->writeback, 1);
    cfg(b, CFG(num_queues), b->num_queues, 2);
    cfg(b, CFG(max_discard_sectors), b->max_discard_sectors, 4);
    cfg(b, CFG(max_discard_seg), b->max_discard_seg, 4);
    cfg(b, CFG(discard_sector_alignment), b->discard_sector_alignment, 4);
    cfg(b, CFG(max_write_zeroes_sectors), b->max_write_zeroes_sectors, 4);
    cfg(b, CFG(max_write_zeroes_seg), b->max_write_zeroes_seg, 4);
    cfg(b, CFG(write_zeroes_may_unmap), b->write_zeroes_may_unmap, 1);
    cfg(b, CFG(max_secure_erase_sectors), b->max_secure_erase_sectors, 4);
    cfg(b, CFG(max_secure_erase_seg), b->max_secure_erase_seg, 4);
    cfg(b, CFG(secure_erase_sector_alignment), b->secure_erase_sector_alignment, 4);
    for (unsigned i = 0; i < SIM_MAX_QUEUES; i++)
        b->sim.q[i].num_max = i < b->num_queues ? 256 : 0;
}

void sim_blk_offer(struct sim_blk *b, unsigned bit, bool on)
{
    if (on)
        b->sim.features |= 1ull << bit;
    else
        b->sim.features &= ~(1ull << bit);
}

/* Only `writeback` may be written, and only with CONFIG_WCE. */
static void blk_config_write(struct sim *s, uint32_t off, unsigned width, uint32_t v)
{
    struct sim_blk *b = blk_of(s);
    if (off != CFG(writeback) || width != 1 || !offered(b, LVIO_VIRTIO_BLK_F_CONFIG_WCE)) {
        sim_error(s, "blk: write of %u bytes to config offset 0x%x", width, off);
        return;
    }
    b->writeback_writes++;
    b->writeback = (uint8_t)v;
    cfg(b, CFG(writeback), b->writeback, 1);
}

/* ---- the disk ---------------------------------------------------------------------------- */

static struct sim_blk_sector *disk_slot(struct sim_blk *b, uint64_t sector, bool make)
{
    unsigned i = (unsigned)((sector * 0x9e3779b97f4a7c15ull) >> 50) & (SIM_BLK_HASH - 1);
    for (unsigned k = 0; k < SIM_BLK_HASH; k++, i = (i + 1) & (SIM_BLK_HASH - 1)) {
        struct sim_blk_sector *e = &b->disk[i];
        if (e->sector == sector + 1)
            return e;
        if (e->sector == 0) {
            if (!make)
                return NULL;
            e->sector = sector + 1;
            for (unsigned j = 0; j < SECTOR; j++)
                e->data[j] = sim_blk_pattern(sector, j);
            b->written++;
            return e;
        }
    }
    fail_msg("sim_blk: more than %u sectors written", SIM_BLK_HASH);
    return NULL;
}

void sim_blk_get(struct sim_blk *b, uint64_t off, void *out, size_t n)
{
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++, off++) {
        const struct sim_blk_sector *e = disk_slot(b, off / SECTOR, false);
        o[i] = e ? e->data[off % SECTOR] : sim_blk_pattern(off / SECTOR, (unsigned)(off % SECTOR));
    }
}

void sim_blk_put(struct sim_blk *b, uint64_t off, const void *in, size_t n)
{
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++, off++)
        disk_slot(b, off / SECTOR, true)->data[off % SECTOR] = p[i];
}

static void disk_zero(struct sim_blk *b, uint64_t sector, uint64_t n)
{
    static const uint8_t zero[SECTOR];
    for (uint64_t i = 0; i < n; i++)
        sim_blk_put(b, (sector + i) * SECTOR, zero, SECTOR);
}

/* ---- requests ---------------------------------------------------------------------------- */

struct buf {
    uint64_t addr;
    uint32_t len;
    bool write;
};

/* The chain's buffers; false (and an error noted) when it is not
 * readable ones then writable ones. */
static bool chain_bufs(struct sim *s, uint16_t queue, uint16_t head, struct buf *bufs,
                       unsigned *n)
{
    uint16_t flags;
    *n = 0;
    for (unsigned i = 0; *n < MAX_BUFS; i++) {
        struct buf *x = &bufs[*n];
        if (!sim_chain_buf(s, queue, head, i, &x->addr, &x->len, &flags))
            break;
        x->write = (flags & LVIO_VIRTQ_DESC_F_WRITE) != 0;
        if (*n && bufs[*n - 1].write && !x->write) {
            sim_error(s, "blk: chain %u has a readable buffer after a writable one", head);
            return false;
        }
        (*n)++;
        if (!(flags & LVIO_VIRTQ_DESC_F_NEXT))
            break;
    }
    return true;
}

/* Is the [sector, sector + n) range one the driver may send? Noted if not. */
static bool range_ok(struct sim_blk *b, const char *what, uint64_t sector, uint64_t n)
{
    uint64_t bs = b->blk_size / SECTOR;
    if (n == 0 || sector % bs || n % bs || sector > b->capacity || n > b->capacity - sector) {
        sim_error(&b->sim, "blk: %s of %llu sectors at %llu (capacity %llu, %u-byte blocks)", what,
                  (unsigned long long)n, (unsigned long long)sector,
                  (unsigned long long)b->capacity, b->blk_size);
        return false;
    }
    return true;
}

/* The data buffers (bufs[1..n-1)) as the limits negotiated allow. */
static bool data_ok(struct sim_blk *b, struct sim_blk_cmd *c, const struct buf *bufs, unsigned n,
                    bool writable)
{
    for (unsigned i = 1; i + 1 < n; i++) {
        if (bufs[i].write != writable) {
            sim_error(&b->sim, "blk: type %u data buffer %u goes the wrong way", c->type, i);
            return false;
        }
        if (negotiated(b, LVIO_VIRTIO_BLK_F_SIZE_MAX) && bufs[i].len > b->size_max)
            sim_error(&b->sim, "blk: a data buffer of %u bytes, size_max %u", bufs[i].len,
                      b->size_max);
    }
    if (negotiated(b, LVIO_VIRTIO_BLK_F_SEG_MAX) && c->ndata > b->seg_max)
        sim_error(&b->sim, "blk: %u data buffers, seg_max %u", c->ndata, b->seg_max);
    return c->ndata > 0 && c->data_len % SECTOR == 0;
}

static uint8_t do_read(struct sim_blk *b, struct sim_blk_cmd *c, const struct buf *bufs,
                       unsigned n)
{
    if (!data_ok(b, c, bufs, n, true) || !range_ok(b, "read", c->sector, c->data_len / SECTOR))
        return LVIO_VIRTIO_BLK_S_IOERR;
    if (b->ioerr_sector >= c->sector && b->ioerr_sector < c->sector + c->data_len / SECTOR)
        return LVIO_VIRTIO_BLK_S_IOERR;
    uint8_t *tmp = malloc(c->data_len);
    sim_blk_get(b, c->sector * SECTOR, tmp, c->data_len);
    uint32_t at = 0;
    for (unsigned i = 1; i + 1 < n; i++) {
        sim_dev_write(&b->sim, bufs[i].addr, tmp + at, bufs[i].len);
        at += bufs[i].len;
    }
    free(tmp);
    return LVIO_VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct sim_blk *b, struct sim_blk_cmd *c, const struct buf *bufs,
                        unsigned n)
{
    if (!data_ok(b, c, bufs, n, false) || !range_ok(b, "write", c->sector, c->data_len / SECTOR))
        return LVIO_VIRTIO_BLK_S_IOERR;
    if (negotiated(b, LVIO_VIRTIO_BLK_F_RO)) {
        sim_error(&b->sim, "blk: a write to a read-only disk reached the device");
        return LVIO_VIRTIO_BLK_S_IOERR;
    }
    if (b->ioerr_sector >= c->sector && b->ioerr_sector < c->sector + c->data_len / SECTOR)
        return LVIO_VIRTIO_BLK_S_IOERR;
    uint8_t *tmp = malloc(c->data_len);
    uint32_t at = 0;
    for (unsigned i = 1; i + 1 < n; i++) {
        sim_dev_read(&b->sim, bufs[i].addr, tmp + at, bufs[i].len);
        at += bufs[i].len;
    }
    sim_blk_put(b, c->sector * SECTOR, tmp, c->data_len);
    free(tmp);
    return LVIO_VIRTIO_BLK_S_OK;
}

/* Discard, write zeroes, secure erase: `bit` their feature; the ranges
 * are the readable bytes after the header. */
static uint8_t do_ranges(struct sim_blk *b, struct sim_blk_cmd *c, const struct buf *bufs,
                         unsigned n, unsigned bit, uint32_t max_sectors, uint32_t max_seg,
                         uint32_t flags_ok)
{
    if (!negotiated(b, bit)) {
        sim_error(&b->sim, "blk: type %u without its feature", c->type);
        return LVIO_VIRTIO_BLK_S_UNSUPP;
    }
    if (c->ndata == 0 || bufs[1].write || c->data_len % 16) {
        sim_error(&b->sim, "blk: type %u with %u bytes of ranges", c->type, c->data_len);
        return LVIO_VIRTIO_BLK_S_IOERR;
    }
    uint8_t *raw = malloc(c->data_len);
    uint32_t at = 0;
    for (unsigned i = 1; i + 1 < n; i++) {
        sim_dev_read(&b->sim, bufs[i].addr, raw + at, bufs[i].len);
        at += bufs[i].len;
    }
    c->nranges = c->data_len / 16;
    memcpy(c->ranges, raw,
           (c->nranges < SIM_BLK_RANGES_KEPT ? c->nranges : SIM_BLK_RANGES_KEPT) * 16u);
    uint8_t status = LVIO_VIRTIO_BLK_S_OK;
    if (c->nranges > max_seg)
        sim_error(&b->sim, "blk: type %u with %u ranges, at most %u", c->type, c->nranges,
                  max_seg);
    for (unsigned i = 0; i < c->nranges && status == LVIO_VIRTIO_BLK_S_OK; i++) {
        uint64_t sector = dev64(b, raw + 16 * i);
        uint32_t num = dev32(b, raw + 16 * i + 8), flags = dev32(b, raw + 16 * i + 12);
        if (flags & ~flags_ok) {
            sim_error(&b->sim, "blk: type %u range with flags 0x%x", c->type, flags);
            status = LVIO_VIRTIO_BLK_S_UNSUPP;
        } else if (num > max_sectors) {
            sim_error(&b->sim, "blk: type %u range of %u sectors, at most %u", c->type, num,
                      max_sectors);
            status = LVIO_VIRTIO_BLK_S_IOERR;
        } else if (!range_ok(b, "range", sector, num)) {
            status = LVIO_VIRTIO_BLK_S_IOERR;
        } else {
            disk_zero(b, sector, num);
        }
    }
    free(raw);
    return status;
}

static uint8_t do_get_id(struct sim_blk *b, struct sim_blk_cmd *c, const struct buf *bufs,
                         unsigned n)
{
    uint8_t id[LVIO_VIRTIO_BLK_ID_BYTES] = {0};
    if (n != 3 || !bufs[1].write || bufs[1].len != LVIO_VIRTIO_BLK_ID_BYTES) {
        sim_error(&b->sim, "blk: GET_ID with %u data bytes in %u buffers", c->data_len, c->ndata);
        return LVIO_VIRTIO_BLK_S_IOERR;
    }
    for (unsigned i = 0; i < sizeof id && b->serial[i]; i++)
        id[i] = (uint8_t)b->serial[i];
    sim_dev_write(&b->sim, bufs[1].addr, id, sizeof id);
    return LVIO_VIRTIO_BLK_S_OK;
}

static uint8_t execute(struct sim_blk *b, struct sim_blk_cmd *c, const struct buf *bufs,
                       unsigned n)
{
    bool ro = negotiated(b, LVIO_VIRTIO_BLK_F_RO);
    switch (c->type) {
    case LVIO_VIRTIO_BLK_T_IN:
        return do_read(b, c, bufs, n);
    case LVIO_VIRTIO_BLK_T_OUT:
        return do_write(b, c, bufs, n);
    case LVIO_VIRTIO_BLK_T_FLUSH:
        if (c->sector || c->ndata || !negotiated(b, LVIO_VIRTIO_BLK_F_FLUSH))
            sim_error(&b->sim, "blk: FLUSH with sector %llu, %u data buffers, FLUSH %s",
                      (unsigned long long)c->sector, c->ndata,
                      negotiated(b, LVIO_VIRTIO_BLK_F_FLUSH) ? "on" : "off");
        return LVIO_VIRTIO_BLK_S_OK;
    case LVIO_VIRTIO_BLK_T_GET_ID:
        return do_get_id(b, c, bufs, n);
    case LVIO_VIRTIO_BLK_T_DISCARD:
    case LVIO_VIRTIO_BLK_T_WRITE_ZEROES:
    case LVIO_VIRTIO_BLK_T_SECURE_ERASE:
        if (ro)
            sim_error(&b->sim, "blk: type %u on a read-only disk reached the device", c->type);
        if (c->sector)
            sim_error(&b->sim, "blk: type %u with sector %llu in the header", c->type,
                      (unsigned long long)c->sector);
        if (c->type == LVIO_VIRTIO_BLK_T_DISCARD)
            return do_ranges(b, c, bufs, n, LVIO_VIRTIO_BLK_F_DISCARD, b->max_discard_sectors,
                             b->max_discard_seg, 0);
        if (c->type == LVIO_VIRTIO_BLK_T_WRITE_ZEROES)
            return do_ranges(b, c, bufs, n, LVIO_VIRTIO_BLK_F_WRITE_ZEROES,
                             b->max_write_zeroes_sectors, b->max_write_zeroes_seg,
                             LVIO_VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        return do_ranges(b, c, bufs, n, LVIO_VIRTIO_BLK_F_SECURE_ERASE,
                         b->max_secure_erase_sectors, b->max_secure_erase_seg, 0);
    default:
        return LVIO_VIRTIO_BLK_S_UNSUPP;
    }
}

/* The fault that applies to chain `c`, counted down. */
static enum sim_blk_fault_kind fault_for(struct sim_blk *b, const struct sim_blk_cmd *c)
{
    if (b->fault_kind == SIM_BLK_FAULT_NONE || b->fault_times == 0 ||
        (b->fault_type != UINT32_MAX && b->fault_type != c->type))
        return SIM_BLK_FAULT_NONE;
    if (b->fault_times > 0)
        b->fault_times--;
    return b->fault_kind;
}

/* Header, data, status: logged, executed (or faulted), status written. */
static uint32_t blk_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    struct sim_blk *b = blk_of(s);
    struct buf bufs[MAX_BUFS];
    struct sim_blk_cmd c = {.queue = queue, .status = 0xff};
    unsigned n;
    if (!chain_bufs(s, queue, head, bufs, &n))
        return 0;
    if (n < 2 || bufs[0].write || bufs[0].len != 16 || !bufs[n - 1].write) {
        sim_error(s, "blk: chain %u of %u buffers: not header (16 readable bytes) .. status",
                  head, n);
        return 0;
    }
    sim_dev_read(s, bufs[0].addr, c.hdr, 16);
    c.type = dev32(b, c.hdr);
    c.reserved = dev32(b, c.hdr + 4);
    c.sector = dev64(b, c.hdr + 8);
    c.nbufs = n;
    c.ndata = n - 2;
    c.status_buf_len = bufs[n - 1].len;
    if (c.status_buf_len != 1)
        sim_error(s, "blk: a status buffer of %u bytes", c.status_buf_len);
    uint32_t writable = 0;
    for (unsigned i = 0; i < n; i++) {
        writable += bufs[i].write ? bufs[i].len : 0;
        if (i && i + 1 < n) {
            c.data_len += bufs[i].len;
            c.data_writable = bufs[i].write;
            c.max_data_buf = bufs[i].len > c.max_data_buf ? bufs[i].len : c.max_data_buf;
        }
    }
    c.used_len = writable;
    enum sim_blk_fault_kind f = fault_for(b, &c);
    if (f == SIM_BLK_FAULT_STATUS)
        c.status = (uint8_t)b->fault_value;
    else
        c.status = execute(b, &c, bufs, n);
    if (f == SIM_BLK_FAULT_NO_STATUS)
        c.status = 0xff;
    else
        sim_dev_write(s, bufs[n - 1].addr + bufs[n - 1].len - 1, &c.status, 1);
    if (f == SIM_BLK_FAULT_SHORT)
        c.used_len = b->fault_value;
    if (b->hold_type_only && c.type == b->fault_type)
        s->hold_this = true;
    if (b->nlog < SIM_BLK_MAX_LOG)
        b->log[b->nlog] = c;
    b->nlog++;
    return c.used_len;
}

/* ---- setup and the log --------------------------------------------------------------------- */

void sim_blk_init(struct sim_blk *b, uint32_t version, uint64_t capacity)
{
    memset(b, 0, sizeof *b);
    sim_init(&b->sim, version, LVIO_VIRTIO_ID_BLOCK);
    b->disk = calloc(SIM_BLK_HASH, sizeof *b->disk);
    assert_non_null(b->disk);
    b->sim.handler = blk_handler;
    b->sim.config_write = blk_config_write;
    b->capacity = capacity;
    b->blk_size = SECTOR;
    b->seg_max = 126;
    b->num_queues = 1;
    b->fault_type = UINT32_MAX;
    b->ioerr_sector = UINT64_MAX;
    sim_blk_offer(b, LVIO_VIRTIO_BLK_F_SEG_MAX, true);
    sim_blk_offer(b, LVIO_VIRTIO_BLK_F_BLK_SIZE, true);
    sim_blk_offer(b, LVIO_VIRTIO_BLK_F_FLUSH, true);
    sim_blk_apply(b);
}

void sim_blk_fini(struct sim_blk *b)
{
    free(b->disk);
    b->disk = NULL;
}

const struct sim_blk_cmd *sim_blk_find(const struct sim_blk *b, uint32_t type, unsigned nth)
{
    unsigned n = b->nlog < SIM_BLK_MAX_LOG ? b->nlog : SIM_BLK_MAX_LOG;
    for (unsigned i = 0; i < n; i++)
        if ((type == UINT32_MAX || b->log[i].type == type) && nth-- == 0)
            return &b->log[i];
    return NULL;
}

unsigned sim_blk_count(const struct sim_blk *b, uint32_t type)
{
    unsigned n = b->nlog < SIM_BLK_MAX_LOG ? b->nlog : SIM_BLK_MAX_LOG, count = 0;
    for (unsigned i = 0; i < n; i++)
        count += type == UINT32_MAX || b->log[i].type == type;
    return count;
}

void sim_blk_clear_log(struct sim_blk *b)
{
    b->nlog = 0;
}
