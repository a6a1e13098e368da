/*
 * virtio-blk in the test kernel: bring each disk up, read its ID, its first
 * and its last logical block, print its lvio: line, then test what its
 * serial says it is for.
 *
 * DATA SAFETY (the kernel contract): only a disk whose serial is exactly
 * "lvio-scratch" is ever written (writes, flushes, discards, write
 * zeroes), each checked by reading it back. Every other disk is only read,
 * and stays byte-for-byte what it was. Every write below goes through
 * scratch_ok().
 *
 * The disks a test prepares hold a known pattern: the 8-byte little-endian
 * word at byte offset o is PATTERN_BASE + o. A disk whose first block
 * holds it gets the read tests (random reads of one block to several MiB,
 * the last blocks, many requests on every queue at once); "lvio-ioerr" is
 * such a disk with an error injected somewhere in its first 64 blocks,
 * which are read one by one: the error is reported by name, the other
 * blocks still read and checked.
 */
#include "ktest.h"
#include "shell.h"

#define SCRATCH_SERIAL "lvio-scratch"
#define IOERR_SERIAL "lvio-ioerr"
#define PATTERN_BASE 0x6c76000000000000ull /* "lv" at the top; + the byte offset */
#define WRITE_BASE 0x7772000000000000ull   /* what the scratch tests write */
#define BUF_PAGES 1024                     /* 4 MiB: the largest read */
#define BUF_BYTES ((uint64_t)BUF_PAGES * 4096)
#define SECTOR 512u
#define SCAN_BLOCKS 64
#define CONCURRENT 32
#define WAIT_NS (10000 * MS)

struct blk_state {
    struct lvio_blk blk;
    char serial[LVIO_VIRTIO_BLK_ID_BYTES + 1];
    bool has_id;
    uint8_t *buf;                          /* BUF_BYTES of DMA pages, while testing */
    struct lvio_blk_req reqs[CONCURRENT];
    struct lvio_blk_seg segs[CONCURRENT][2];
    uint64_t rng;
};

static struct blk_state *blk_of(struct kdev *k)
{
    return k->drv;
}

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t next_random(struct blk_state *st)
{
    st->rng ^= st->rng << 13;
    st->rng ^= st->rng >> 7;
    st->rng ^= st->rng << 17;
    return st->rng;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The words of `base` + offset for [off, off + len) into buf. */
static void make_words(uint8_t *buf, uint64_t base, uint64_t off, size_t len)
{
    for (size_t i = 0; i < len; i += 8)
        put64(buf + i, base + off + i);
}

/* The first byte of [off, off + len) in buf that is not the words of
 * `base`, as an offset into buf; len when all are. */
static size_t check_words(const uint8_t *buf, uint64_t base, uint64_t off, size_t len)
{
    for (size_t i = 0; i < len; i += 8)
        if (get64(buf + i) != base + off + i)
            return i;
    return len;
}

static void hex16(char out[33], const uint8_t *p)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[32] = '\0';
}

/* The serial as printed: bytes outside printable ASCII (and the quote)
 * become '?'. */
static void printable(char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            *s = '?';
}

static uint32_t bsectors(const struct blk_state *st)
{
    return st->blk.block_size / SECTOR;
}

/* The first sector of the last whole logical block. */
static uint64_t last_block(const struct blk_state *st)
{
    uint64_t blocks = st->blk.capacity / bsectors(st);
    return blocks ? (blocks - 1) * bsectors(st) : 0;
}

/* DATA SAFETY: the only gate to writing. */
static bool scratch_ok(const struct blk_state *st)
{
    return st->has_id && strcmp(st->serial, SCRATCH_SERIAL) == 0;
}

/* One read on queue 0, waited for; *name is what to call a failure: the
 * device's own status (IOERR, UNSUPP) or the library's error. */
static int read_named(struct kdev *k, uint64_t sector, void *buf, uint32_t len, const char **name)
{
    struct blk_state *st = blk_of(k);
    struct lvio_blk_seg seg = {buf, len, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .sector = sector, .segs = &seg, .nsegs = 1};
    int rc = lvio_blk_submit(&st->blk, &r);
    if (rc == LVIO_OK || r.state_)
        rc = lvio_blk_wait(&st->blk, &r, WAIT_NS);
    *name = rc == LVIO_E_REFUSED ? lvio_blk_errname(&r) : lvio_errname(rc);
    return rc;
}

static bool read_ok(struct kdev *k, uint64_t sector, void *buf, uint32_t len, const char *what)
{
    int rc = lvio_blk_read(&blk_of(k)->blk, sector, buf, len);
    return expect(rc == LVIO_OK, "%s: %s: read of %u bytes at sector %llu: %s: %s", k->dev.name,
                  what, len, (unsigned long long)sector, lvio_errname(rc),
                  lvio_device_error(&k->dev));
}

/* Bytes [sector * 512, + len) of buf hold the pattern `base`. */
static bool words_ok(struct kdev *k, const uint8_t *buf, uint64_t base, uint64_t sector,
                     size_t len, const char *what)
{
    size_t bad = check_words(buf, base, sector * SECTOR, len);
    return expect(bad == len, "%s: %s: byte %llu of the disk is wrong (%016llx)", k->dev.name,
                  what, (unsigned long long)(sector * SECTOR + bad),
                  (unsigned long long)(bad < len ? get64(buf + bad) : 0));
}

/* ---- the read tests (a disk with the pattern) ------------------------------------- */

/* Random reads of one block to 4 MiB, some as two segments, the last of
 * each size ending at the disk's last block; each checked. */
static void test_random_reads(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    static const uint32_t sizes[] = {1, 2, 3, 7, 8, 17, 128, 513, 2048, 8192}; /* sectors */
    uint64_t blocks = st->blk.capacity / bsectors(st);
    unsigned reads = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        uint64_t n = (sizes[i] + bsectors(st) - 1) / bsectors(st) * bsectors(st);
        if (n * SECTOR > BUF_BYTES || n > blocks * bsectors(st))
            continue;
        for (int j = 0; j < 3; j++) {
            uint64_t span = blocks - n / bsectors(st) + 1;
            uint64_t at = j == 2 ? st->blk.capacity / bsectors(st) * bsectors(st) - n
                                 : next_random(st) % span * bsectors(st);
            /* The second of each size in two segments, split inside a block. */
            struct lvio_blk_seg seg[2];
            uint32_t bytes = (uint32_t)(n * SECTOR), first = j == 1 ? bytes / 2 / 8 * 8 : bytes;
            if (first == 0)
                first = bytes;
            seg[0] = (struct lvio_blk_seg){st->buf, first, 0};
            seg[1] = (struct lvio_blk_seg){st->buf + first, bytes - first, 0};
            struct lvio_blk_req r = {.op = LVIO_BLK_READ, .sector = at, .segs = seg,
                                     .nsegs = seg[1].len ? 2u : 1u};
            int rc = lvio_blk_submit(&st->blk, &r);
            if (rc == LVIO_OK)
                rc = lvio_blk_wait(&st->blk, &r, WAIT_NS);
            if (!expect(rc == LVIO_OK, "%s: random read of %llu sectors at %llu: %s: %s",
                        k->dev.name, (unsigned long long)n, (unsigned long long)at,
                        lvio_errname(rc), lvio_device_error(&k->dev)))
                continue;
            words_ok(k, st->buf, PATTERN_BASE, at, bytes, "random read");
            reads++;
        }
    }
    kprintf("levitate: blk %s: %u random reads of 1 block to %llu KiB checked\n", k->dev.name,
            reads, (unsigned long long)(BUF_BYTES / 1024));
}

/* Submit `n` requests set up in st->reqs, spread over the queues; poll
 * until all are back (bounded). Returns how many came back out of the
 * order they went, or -1 when they did not all come back. */
static int run_concurrent(struct kdev *k, unsigned n)
{
    struct blk_state *st = blk_of(k);
    unsigned back = 0, out_of_order = 0;
    uint64_t end = time_ns() + WAIT_NS;
    for (unsigned i = 0; i < n; i++) {
        int rc = lvio_blk_submit(&st->blk, &st->reqs[i]);
        if (!expect(rc == LVIO_OK, "%s: concurrent request %u: %s: %s", k->dev.name, i,
                    lvio_errname(rc), lvio_device_error(&k->dev)))
            return -1;
    }
    while (back < n && time_ns() < end) {
        struct lvio_blk_req *r;
        lvio_blk_poll(&st->blk, kdev_take_isr(k));
        while ((r = lvio_blk_done(&st->blk))) {
            out_of_order += (unsigned)(uintptr_t)r->token != back;
            back++;
        }
        if (back < n)
            cpu_relax();
    }
    if (!expect(back == n, "%s: %u of %u concurrent requests came back", k->dev.name, back, n))
        return -1;
    return (int)out_of_order;
}

/* Reads of 1..64 blocks across the disk, on every queue at once. */
static void test_concurrent_reads(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    uint64_t blocks = st->blk.capacity / bsectors(st), room = BUF_BYTES / CONCURRENT;
    for (unsigned i = 0; i < CONCURRENT; i++) {
        uint64_t nb = 1 + next_random(st) % 64;
        if (nb * st->blk.block_size > room)
            nb = room / st->blk.block_size;
        if (nb > blocks)
            nb = blocks;
        uint64_t at = next_random(st) % (blocks - nb + 1) * bsectors(st);
        st->segs[i][0] = (struct lvio_blk_seg){st->buf + i * room, (uint32_t)(nb * st->blk.block_size), 0};
        st->reqs[i] = (struct lvio_blk_req){.op = LVIO_BLK_READ, .queue = (uint16_t)(i % st->blk.nqueues),
                                            .sector = at, .segs = st->segs[i], .nsegs = 1,
                                            .token = (void *)(uintptr_t)i};
    }
    int ooo = run_concurrent(k, CONCURRENT);
    if (ooo < 0)
        return;
    for (unsigned i = 0; i < CONCURRENT; i++) {
        const struct lvio_blk_req *r = &st->reqs[i];
        if (expect(r->result == LVIO_OK, "%s: concurrent read %u: %s", k->dev.name, i,
                   lvio_blk_errname(r)))
            words_ok(k, r->segs[0].buf, PATTERN_BASE, r->sector, r->segs[0].len,
                     "concurrent read");
    }
    kprintf("levitate: blk %s: %u reads on %u queues at once, %d came back out of order\n",
            k->dev.name, CONCURRENT, st->blk.nqueues, ooo);
}

/* The first SCAN_BLOCKS blocks one by one: an injected error is reported
 * by name (IOERR), every other block reads and holds the pattern. */
static void test_scan(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    unsigned errors = 0;
    for (uint64_t b = 0; b < SCAN_BLOCKS && b * bsectors(st) < st->blk.capacity; b++) {
        uint64_t at = b * bsectors(st);
        const char *name;
        int rc = read_named(k, at, st->buf, st->blk.block_size, &name);
        if (rc == LVIO_OK) {
            words_ok(k, st->buf, PATTERN_BASE, at, st->blk.block_size, "scan");
            continue;
        }
        errors++;
        kprintf("levitate: blk %s: error %s reading sector %llu: %s\n", k->dev.name, name,
                (unsigned long long)at, lvio_device_error(&k->dev));
        expect(rc == LVIO_E_REFUSED, "%s: scan: sector %llu: %s, expected the device's IOERR",
               k->dev.name, (unsigned long long)at, lvio_errname(rc));
    }
    kprintf("levitate: blk %s: scanned %u blocks, %u read errors\n", k->dev.name, SCAN_BLOCKS,
            errors);
}

/* ---- the write tests (the scratch disk only) ------------------------------------------ */

/* Write `len` bytes of the write pattern at `sector` as three segments,
 * then read them back. */
static bool write_checked(struct kdev *k, uint64_t sector, uint32_t len, const char *what)
{
    struct blk_state *st = blk_of(k);
    if (!scratch_ok(st))
        return expect(false, "%s: refusing to write a disk that is not %s", k->dev.name,
                      SCRATCH_SERIAL);
    make_words(st->buf, WRITE_BASE, sector * SECTOR, len);
    /* Three segments (cut inside blocks) when there is room, else one. */
    uint32_t a = len / 3 / 8 * 8, b = len / 3 * 2 / 8 * 8;
    struct lvio_blk_seg seg[3] = {{st->buf, a, 0}, {st->buf + a, b - a, 0},
                                  {st->buf + b, len - b, 0}};
    struct lvio_blk_req r = {.op = LVIO_BLK_WRITE, .sector = sector, .segs = seg, .nsegs = 3};
    if (a == 0 || b == a) {
        seg[0] = (struct lvio_blk_seg){st->buf, len, 0};
        r.nsegs = 1;
    }
    int rc = lvio_blk_submit(&st->blk, &r);
    if (rc == LVIO_OK)
        rc = lvio_blk_wait(&st->blk, &r, WAIT_NS);
    if (!expect(rc == LVIO_OK, "%s: %s: write of %u bytes at %llu: %s: %s", k->dev.name, what,
                len, (unsigned long long)sector, lvio_errname(rc), lvio_device_error(&k->dev)))
        return false;
    memset(st->buf, 0, len);
    return read_ok(k, sector, st->buf, len, what) &&
           words_ok(k, st->buf, WRITE_BASE, sector, len, what);
}

/* [sector, + n sectors) reads back as zeroes, or (`or_written`) as what
 * write_checked wrote, block by block. */
static void zeroes_ok(struct kdev *k, uint64_t sector, uint64_t n, bool or_written,
                      const char *what)
{
    struct blk_state *st = blk_of(k);
    uint32_t bs = st->blk.block_size;
    if (!read_ok(k, sector, st->buf, (uint32_t)(n * SECTOR), what))
        return;
    for (uint64_t off = 0; off < n * SECTOR; off += bs) {
        bool zero = true;
        for (uint32_t i = 0; i < bs && zero; i++)
            zero = st->buf[off + i] == 0;
        bool written = or_written && check_words(st->buf + off, WRITE_BASE,
                                                 sector * SECTOR + off, bs) == bs;
        if (!expect(zero || written, "%s: %s: block at byte %llu is neither zeroes%s",
                    k->dev.name, what, (unsigned long long)(sector * SECTOR + off),
                    or_written ? " nor what was there" : ""))
            return;
    }
}

/* Writes on every queue at once, then each read back. */
static void test_concurrent_writes(struct kdev *k, uint64_t base)
{
    struct blk_state *st = blk_of(k);
    unsigned n = CONCURRENT / 2;
    uint32_t len = 16 * st->blk.block_size;
    if (!scratch_ok(st) || base + (uint64_t)n * len / SECTOR > st->blk.capacity)
        return;
    for (unsigned i = 0; i < n; i++) {
        uint64_t at = base + (uint64_t)i * len / SECTOR;
        make_words(st->buf + (uint64_t)i * len, WRITE_BASE, at * SECTOR, len);
        st->segs[i][0] = (struct lvio_blk_seg){st->buf + (uint64_t)i * len, len, 0};
        st->reqs[i] = (struct lvio_blk_req){.op = LVIO_BLK_WRITE, .queue = (uint16_t)(i % st->blk.nqueues),
                                            .sector = at, .segs = st->segs[i], .nsegs = 1,
                                            .token = (void *)(uintptr_t)i};
    }
    if (run_concurrent(k, n) < 0)
        return;
    for (unsigned i = 0; i < n; i++)
        expect(st->reqs[i].result == LVIO_OK, "%s: concurrent write %u: %s", k->dev.name, i,
               lvio_blk_errname(&st->reqs[i]));
    if (read_ok(k, base, st->buf, n * len, "concurrent writes"))
        words_ok(k, st->buf, WRITE_BASE, base, (size_t)n * len, "concurrent writes");
}

/* A read-only scratch disk: every write refused by the driver, by name. */
static void test_read_only_refused(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    int w = lvio_blk_write(&st->blk, 0, st->buf, st->blk.block_size);
    int d = lvio_blk_discard(&st->blk, 0, bsectors(st));
    int z = lvio_blk_write_zeroes(&st->blk, 0, bsectors(st), false);
    expect(w == LVIO_E_READ_ONLY && (d == LVIO_E_READ_ONLY || d == LVIO_E_UNSUPPORTED) &&
               (z == LVIO_E_READ_ONLY || z == LVIO_E_UNSUPPORTED),
           "%s: writes to a read-only disk: %s, %s, %s", k->dev.name, lvio_errname(w),
           lvio_errname(d), lvio_errname(z));
    kprintf("levitate: blk %s: read-only: write refused (%s)\n", k->dev.name, lvio_errname(w));
}

/* Write, flush, discard, write zeroes with and without unmap, the last
 * block, and writes on every queue: each read back. */
static void test_scratch(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    uint32_t bs = st->blk.block_size, region = 64 * bs;
    uint64_t start = 8ull * bsectors(st), rs = region / SECTOR;
    if (st->blk.read_only) {
        test_read_only_refused(k);
        return;
    }
    if (start + 4 * rs > st->blk.capacity) {
        expect(false, "%s: scratch disk of %llu sectors is too small", k->dev.name,
               (unsigned long long)st->blk.capacity);
        return;
    }
    if (!write_checked(k, start, region, "write"))
        return;
    int rc = lvio_blk_flush(&st->blk);
    expect(rc == LVIO_OK, "%s: flush: %s", k->dev.name, lvio_errname(rc));
    if (st->blk.discard.usable) {
        rc = lvio_blk_discard(&st->blk, start + rs / 2, rs / 4);
        if (expect(rc == LVIO_OK, "%s: discard: %s: %s", k->dev.name, lvio_errname(rc),
                   lvio_device_error(&k->dev)))
            zeroes_ok(k, start, rs, true, "discard"); /* contents undefined: old or zero */
    }
    if (st->blk.write_zeroes.usable) {
        write_checked(k, start + rs, region, "write before write zeroes");
        rc = lvio_blk_write_zeroes(&st->blk, start + rs, rs / 2, false);
        if (expect(rc == LVIO_OK, "%s: write zeroes: %s", k->dev.name, lvio_errname(rc)))
            zeroes_ok(k, start + rs, rs / 2, false, "write zeroes");
        rc = lvio_blk_write_zeroes(&st->blk, start + rs + rs / 2, rs / 2, true);
        if (expect(rc == LVIO_OK, "%s: write zeroes with unmap: %s", k->dev.name,
                   lvio_errname(rc)))
            zeroes_ok(k, start + rs + rs / 2, rs / 2, false, "write zeroes with unmap");
    }
    write_checked(k, last_block(st), bs, "write of the last block");
    test_concurrent_writes(k, start + 2 * rs);
    rc = lvio_blk_flush(&st->blk);
    expect(rc == LVIO_OK, "%s: flush: %s", k->dev.name, lvio_errname(rc));
    kprintf("levitate: blk %s: scratch: write, flush%s%s, last block, %u queues: read back\n",
            k->dev.name, st->blk.discard.usable ? ", discard" : "",
            st->blk.write_zeroes.usable ? ", write zeroes (unmap and not)" : "",
            st->blk.nqueues);
}

/* ---- the device's line ------------------------------------------------------------------- */

/* Init, ID, sector 0 and the last block; the lvio: line. */
static bool blk_line(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    char first[33], last[33], how[24];
    int rc = lvio_blk_init(&st->blk, &k->dev, 0);
    if (!expect(rc == LVIO_OK, "%s: blk init: %s", k->dev.name, lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "initialising");
        return false;
    }
    rc = lvio_blk_get_id(&st->blk, st->serial);
    st->has_id = rc == LVIO_OK;
    if (!st->has_id) /* no ID is no disk of ours, not an error */
        st->serial[0] = '\0';
    printable(st->serial);
    const char *name;
    rc = read_named(k, 0, st->buf, st->blk.block_size, &name);
    if (rc == LVIO_OK) {
        hex16(first, st->buf);
        rc = read_named(k, last_block(st), st->buf, st->blk.block_size, &name);
        hex16(last, st->buf);
    }
    if (rc != LVIO_OK) {
        char doing[64];
        ksnprintf(doing, sizeof doing, "reading sector 0 and sector %llu",
                  (unsigned long long)last_block(st));
        report_error(k, name, doing);
        expect(st->has_id && strcmp(st->serial, IOERR_SERIAL) == 0, "%s: blk: %s", k->dev.name,
               lvio_errname(rc));
        return false;
    }
    kprintf("lvio: blk %s: ok v%u, %llu sectors, %u-byte blocks, serial \"%s\", %s, %u queues, "
            "sector0 %s, last %s, %s\n",
            k->dev.name, (unsigned)k->dev.version, (unsigned long long)st->blk.capacity,
            st->blk.block_size, st->serial, st->blk.read_only ? "ro" : "rw", st->blk.nqueues,
            first, last, kdev_service(k, how, sizeof how));
    return true;
}

/*
 * virtio-blk: the line, then what the disk is for: the pattern's read
 * tests, the error scan, the scratch disk's write tests. Every DMA page
 * comes back after teardown.
 */
static void run_blk(struct kdev *k)
{
    struct blk_state *st = kdev_state(k, sizeof *st);
    size_t pages;
    uint64_t phys;
    if (!st)
        return; /* said by kdev_state */
    st->rng = 0x9e3779b97f4a7c15ull ^ k->dev.phys;
    st->buf = dma_alloc_pages(BUF_PAGES, &phys);
    if (!expect(st->buf != NULL, "%s: no 4 MiB buffer", k->dev.name)) {
        report_error(k, "LVIO_E_NOMEM", "allocating a 4 MiB buffer");
        return;
    }
    pages = dma_pages_in_use();
    if (blk_line(k) && st->blk.up) {
        bool pattern = read_ok(k, 0, st->buf, st->blk.block_size, "sector 0") &&
                       check_words(st->buf, PATTERN_BASE, 0, st->blk.block_size) ==
                           st->blk.block_size;
        if (st->has_id && strcmp(st->serial, IOERR_SERIAL) == 0) {
            test_scan(k);
        } else if (pattern) {
            test_random_reads(k);
            test_concurrent_reads(k);
        }
        if (scratch_ok(st))
            test_scratch(k);
        if (opt_dump)
            lvio_dump(&k->dev);
    }
    if (st->blk.up) {
        lvio_blk_teardown(&st->blk);
        while (lvio_blk_done(&st->blk))
            ;
        expect(dma_pages_in_use() == pages, "%s: %zu DMA pages leaked by teardown",
               k->dev.name, dma_pages_in_use() - pages);
    }
    dma_free_pages(st->buf, BUF_PAGES);
    st->buf = NULL;
}

/* After bench or soak: the device down (nothing when its init failed),
 * every request collected, the buffer given back. */
static void blk_release(struct blk_state *st)
{
    lvio_blk_teardown(&st->blk);
    while (lvio_blk_done(&st->blk))
        ;
    if (st->buf)
        dma_free_pages(st->buf, BUF_PAGES);
    st->buf = NULL;
}

/* ---- make bench ------------------------------------------------------------------------- */

static void sort_u32(uint32_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint32_t x = v[i];
        unsigned j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* 4 KiB random reads one at a time: the median and 99th percentile. */
static bool bench_depth1(struct kdev *k)
{
    static uint32_t tenths_us[2000];
    struct blk_state *st = blk_of(k);
    uint64_t span = st->blk.capacity / 8;
    for (unsigned i = 0; i < ARRAY_SIZE(tenths_us); i++) {
        uint64_t at = next_random(st) % span * 8, c0 = cycles();
        int rc = lvio_blk_read(&st->blk, at, st->buf, 4096);
        if (rc != LVIO_OK) {
            kprintf("bench: blk failed: %s: %s\n", lvio_errname(rc), lvio_device_error(&k->dev));
            return false;
        }
        tenths_us[i] = (uint32_t)(bench_elapsed_ns(c0) / 100);
    }
    sort_u32(tenths_us, ARRAY_SIZE(tenths_us));
    bench_line("blk 4k random read depth 1, median", tenths_us[ARRAY_SIZE(tenths_us) / 2], "us");
    bench_line("blk 4k random read depth 1, p99", tenths_us[ARRAY_SIZE(tenths_us) * 99 / 100],
               "us");
    return true;
}

static uint64_t total_kicks(const struct blk_state *st)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < st->blk.nqueues; i++)
        n += st->blk.q[i].vq.kicks;
    return n;
}

/*
 * `total` 4 KiB random reads with 32 in flight, spread over `queues` queues,
 * each batch under one plug. With `verify` (a pattern disk) every block read
 * is checked. Returns how many came back good; *ns the time taken.
 */
static unsigned random_reads_depth32(struct kdev *k, unsigned total, unsigned queues,
                                     bool verify, uint64_t *ns)
{
    struct blk_state *st = blk_of(k);
    unsigned sent = 0, back = 0;
    uint64_t span = st->blk.capacity / 8;
    uint64_t c0 = cycles(), end = time_ns() + 60000 * MS + total / 10 * MS;
    for (unsigned i = 0; i < CONCURRENT; i++)
        st->segs[i][0] = (struct lvio_blk_seg){st->buf + i * 4096, 4096, 0};
    while (back < total && time_ns() < end) {
        lvio_blk_plug(&st->blk); /* what is free goes out under one notify */
        for (unsigned i = 0; i < CONCURRENT && sent < total; i++) {
            struct lvio_blk_req *r = &st->reqs[i];
            if (r->state_)
                continue; /* still the driver's */
            *r = (struct lvio_blk_req){.op = LVIO_BLK_READ, .queue = (uint16_t)(i % queues),
                                       .sector = next_random(st) % span * 8,
                                       .segs = st->segs[i], .nsegs = 1};
            if (lvio_blk_submit(&st->blk, r) != LVIO_OK) {
                expect(false, "%s: submit: %s", k->dev.name, lvio_device_error(&k->dev));
                goto out;
            }
            sent++;
        }
        lvio_blk_unplug(&st->blk);
        lvio_blk_poll(&st->blk, kdev_take_isr(k));
        struct lvio_blk_req *r;
        while ((r = lvio_blk_done(&st->blk))) {
            /* Counted as a test only when it fails: bench and soak add no
             * tests to a passing boot. */
            if (r->result != LVIO_OK) {
                expect(false, "%s: read of sector %llu: %s", k->dev.name,
                       (unsigned long long)r->sector, lvio_blk_errname(r));
                goto out;
            }
            if (verify && check_words(r->segs[0].buf, PATTERN_BASE, r->sector * SECTOR, 4096) !=
                              4096) {
                expect(false, "%s: sector %llu read back wrong", k->dev.name,
                       (unsigned long long)r->sector);
                goto out;
            }
            back++;
        }
        if (back < sent)
            cpu_relax();
    }
    if (back < total)
        expect(false, "%s: %u of %u reads back in time", k->dev.name, back, total);
out:
    *ns = bench_elapsed_ns(c0);
    return back;
}

/* IOPS at depth 32 on `queues` queues, and at one queue notifies and
 * interrupts per request. */
static bool bench_depth32(struct kdev *k, unsigned queues, const char *name)
{
    struct blk_state *st = blk_of(k);
    const unsigned total = 8000;
    uint64_t kicks0 = total_kicks(st), irq0 = k->interrupts, ns;

    if (random_reads_depth32(k, total, queues, false, &ns) != total)
        return false;
    bench_line(name, (uint64_t)total * 10000000000ull / (ns ? ns : 1), "IOPS");
    if (queues == 1) {
        bench_line("blk notifies per 100 requests at depth 32",
                   (total_kicks(st) - kicks0) * 1000 / total, "notifies");
        bench_line("blk interrupts per 100 requests at depth 32",
                   (k->interrupts - irq0) * 1000 / total, "interrupts");
    }
    return true;
}

/* 1 MiB sequential reads (and on the scratch disk writes): MB/s. */
static void bench_sequential(struct kdev *k, bool write)
{
    struct blk_state *st = blk_of(k);
    const uint32_t len = 1u << 20;
    uint64_t n = st->blk.capacity * SECTOR / len, c0;
    int rc = LVIO_OK;
    if (n > 32)
        n = 32;
    if (n == 0 || (write && !scratch_ok(st)))
        return;
    c0 = cycles();
    for (uint64_t i = 0; i < n && rc == LVIO_OK; i++)
        rc = write ? lvio_blk_write(&st->blk, i * len / SECTOR, st->buf, len)
                   : lvio_blk_read(&st->blk, i * len / SECTOR, st->buf, len);
    uint64_t ns = bench_elapsed_ns(c0);
    if (rc == LVIO_OK)
        bench_line(write ? "blk 1 MiB sequential write" : "blk 1 MiB sequential read",
                   n * len * 10000 / (ns ? ns : 1), "MB/s");
}

/*
 * make bench: 4 KiB random reads at depth 1 (median, p99) and 32 (IOPS on
 * one queue and on all), notifies and interrupts per request at depth 32,
 * 1 MiB sequential reads and (scratch disk only) writes.
 */
static void bench_blk(struct kdev *k)
{
    struct blk_state *st = blk_of(k);
    uint64_t phys;
    char name[64];
    st->buf = dma_alloc_pages(BUF_PAGES, &phys);
    int rc = st->buf ? lvio_blk_init(&st->blk, &k->dev, 0) : LVIO_E_NOMEM;
    if (rc != LVIO_OK) {
        kprintf("bench: blk failed: %s: %s\n", lvio_errname(rc), lvio_device_error(&k->dev));
        goto out;
    }
    if (st->blk.capacity >= 2048 && st->blk.block_size <= 4096 && bench_depth1(k) && bench_depth32(k, 1, "blk 4k random read depth 32, 1 queue")) {
        ksnprintf(name, sizeof name, "blk 4k random read depth 32, %u queues", st->blk.nqueues);
        if (st->blk.nqueues > 1)
            bench_depth32(k, st->blk.nqueues, name);
        bench_sequential(k, false);
        bench_sequential(k, true);
    }
out:
    blk_release(st);
}

/*
 * Soak (bootarg soak): 100 000 4 KiB random reads, 32 in flight over every
 * queue, each checked when the disk holds the test pattern; reads only, so
 * any disk will do. Every DMA page must come back after teardown.
 */
static void soak_blk(struct kdev *k)
{
    const unsigned total = 100000;
    struct blk_state *st = blk_of(k);
    size_t pages = dma_pages_in_use();
    uint64_t phys, ns = 0;
    unsigned back = 0;
    bool pattern;

    st->buf = dma_alloc_pages(BUF_PAGES, &phys);
    int rc = st->buf ? lvio_blk_init(&st->blk, &k->dev, 0) : LVIO_E_NOMEM;
    if (!expect(rc == LVIO_OK, "%s: soak: init: %s: %s", k->dev.name, lvio_errname(rc),
                lvio_device_error(&k->dev)))
        goto out;
    if (st->blk.capacity >= 2048 && st->blk.block_size <= 4096) {
        pattern = lvio_blk_read(&st->blk, 0, st->buf, 4096) == LVIO_OK &&
                  check_words(st->buf, PATTERN_BASE, 0, 4096) == 4096;
        back = random_reads_depth32(k, total, st->blk.nqueues, pattern, &ns);
    }
out:
    blk_release(st);
    expect(dma_pages_in_use() == pages, "%s: soak: DMA pages in use %zu before, %zu after",
           k->dev.name, pages, dma_pages_in_use());
    kprintf("levitate: soak: blk %s: %u reads on %u queues in %llu ms, "
            "DMA pages %zu before, %zu after\n",
            k->dev.name, back, (unsigned)st->blk.nqueues, (unsigned long long)(ns / MS), pages,
            dma_pages_in_use());
}

/* The shell's `blk read <sector> [bytes]`: the first disk's bytes from
 * that sector (up to 64, one logical block at most), in hex. Reads only:
 * the shell never writes a disk. */
static void shell_blk(struct kdev *k, struct shell_term *t, int argc, char **argv)
{
    struct blk_state *st = blk_of(k);
    char *end1 = NULL, *end2 = NULL;
    uint64_t sector = argc >= 3 ? parse_u64(argv[2], &end1) : 0;
    uint64_t n = argc == 4 ? parse_u64(argv[3], &end2) : 16;
    uint64_t phys;
    uint8_t *page;
    int rc;

    if (argc < 3 || argc > 4 || strcmp(argv[1], "read") != 0 || *end1 ||
        (end2 && *end2) || n == 0 || n > 64) {
        shell_printf(t, "usage: blk read <sector> [bytes: 1..64, default 16]\n");
        return;
    }
    page = dma_alloc_pages(1, &phys);
    rc = page ? lvio_blk_init(&st->blk, &k->dev, 0) : LVIO_E_NOMEM;
    if (rc == LVIO_OK) {
        /* One logical block, the smallest read the disk takes (the
         * driver refuses a sector not on a block's start, by name). */
        uint32_t bs = st->blk.block_size;
        rc = bs <= 4096 ? lvio_blk_read(&st->blk, sector, page, bs) : LVIO_E_UNSUPPORTED;
        if (rc == LVIO_OK) {
            shell_printf(t, "%s sector %llu:", k->dev.name, (unsigned long long)sector);
            for (uint64_t i = 0; i < n; i++)
                shell_printf(t, " %02x", page[i]);
            shell_printf(t, "\n");
        }
        lvio_blk_teardown(&st->blk);
        while (lvio_blk_done(&st->blk))
            ;
    }
    if (rc != LVIO_OK)
        shell_printf(t, "blk %s: %s: %s\n", k->dev.name, lvio_errname(rc),
                     lvio_device_error(&k->dev));
    if (page)
        dma_free_pages(page, 1);
}

const struct kdriver kdriver_blk = {
    .device_id = LVIO_VIRTIO_ID_BLOCK, .name = "blk",
    .run = run_blk, .soak = soak_blk, .bench = bench_blk,
    .shell = shell_blk, .shell_help = "blk read <sector> [bytes]: the first disk's bytes, in hex",
};
