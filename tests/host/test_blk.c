/*
 * The virtio-blk driver against the simulated disk (sim_blk.h): every
 * request type's exact bytes on both MMIO versions, every status and the
 * answers a device must not give, splitting by seg_max, size_max, the
 * chain size and the logical block, refusals before the device, read-only
 * and 4Kn disks, sectors past 2 TiB, many requests in flight on several
 * queues completing out of order, and recovery from a silent device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/blk.h"
#include "sim_blk.h"

#define T(x) LVIO_VIRTIO_BLK_T_##x
#define F(x) LVIO_VIRTIO_BLK_F_##x
#define SECTOR 512u
#define ANY UINT32_MAX

static struct sim_blk B;
static struct lvio_device D;
static struct lvio_blk K;

/* ---- helpers ------------------------------------------------------------------------ */

/* A simulated disk of `capacity` sectors, not probed yet: the test sets
 * its fields, then calls start(). */
static void disk(uint32_t version, uint64_t capacity)
{
    sim_blk_fini(&B);
    sim_free_dma(&B.sim);
    sim_blk_init(&B, version, capacity);
}

static void start_with(unsigned max_queues)
{
    sim_blk_apply(&B);
    sim_probe(&B.sim, &D);
    int err = lvio_blk_init(&K, &D, max_queues);
    if (err)
        fail_msg("lvio_blk_init: %s: %s", lvio_errname(err), lvio_device_error(&D));
    assert_true(B.sim.status & LVIO_VIRTIO_STATUS_DRIVER_OK);
}

static void start(void)
{
    start_with(0);
}

/* lvio_blk_init fails with `err`, and the message says `part`. */
static void start_fails(int err, const char *part)
{
    sim_blk_apply(&B);
    sim_probe(&B.sim, &D);
    assert_int_equal(lvio_blk_init(&K, &D, 0), err);
    if (!strstr(lvio_device_error(&D), part))
        fail_msg("message \"%s\" does not say \"%s\"", lvio_device_error(&D), part);
    assert_true(B.sim.status & LVIO_VIRTIO_STATUS_FAILED);
    assert_int_equal(B.sim.live_pages, 0);
}

static void down(void)
{
    assert_string_equal(B.sim.error, "");
    assert_int_equal(lvio_blk_in_flight(&K), 0);
    lvio_blk_teardown(&K);
    assert_int_equal(B.sim.status, 0);
    assert_int_equal(B.sim.live_pages, 0);
    assert_int_equal(B.sim.live_shares, 0);
    sim_blk_fini(&B);
}

static void says(const char *part)
{
    if (!strstr(lvio_device_error(&D), part))
        fail_msg("message \"%s\" does not say \"%s\"", lvio_device_error(&D), part);
}

/* The disk's bytes at sector `sector` are `buf`. */
static void disk_is(uint64_t sector, const uint8_t *buf, size_t n)
{
    uint8_t *got = malloc(n);
    sim_blk_get(&B, sector * SECTOR, got, n);
    assert_memory_equal(got, buf, n);
    free(got);
}

/* `buf` holds what sectors never written hold, from `sector` on. */
static void is_pattern(const uint8_t *buf, uint64_t sector, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != sim_blk_pattern(sector + i / SECTOR, (unsigned)(i % SECTOR)))
            fail_msg("byte %zu (sector %llu) is 0x%02x, not the disk's", i,
                     (unsigned long long)(sector + i / SECTOR), buf[i]);
}

static void fill(uint8_t *buf, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* The header's bytes as the spec lays them out for `version`. */
static void hdr_is(const struct sim_blk_cmd *c, uint32_t version, uint32_t type, uint64_t sector)
{
    uint8_t want[16] = {0};
    if (version == 1) { /* the guest's order */
        memcpy(want, &type, 4);
        memcpy(want + 8, &sector, 8);
    } else {
        for (int i = 0; i < 4; i++)
            want[i] = (uint8_t)(type >> (8 * i));
        for (int i = 0; i < 8; i++)
            want[8 + i] = (uint8_t)(sector >> (8 * i));
    }
    assert_memory_equal(c->hdr, want, 16);
}

static uint64_t range_field64(uint32_t version, const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return version == 1 ? v : lvio_le64_to_cpu(v);
}

static uint32_t range_field32(uint32_t version, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return version == 1 ? v : lvio_le32_to_cpu(v);
}

/* Range `i` of logged chain `c` is (sector, num, flags). */
static void range_is(const struct sim_blk_cmd *c, unsigned i, uint64_t sector, uint32_t num,
                     uint32_t flags)
{
    const uint8_t *p = (const uint8_t *)&c->ranges[i];
    uint32_t v = B.sim.version;
    assert_true(i < c->nranges);
    assert_int_equal(range_field64(v, p), sector);
    assert_int_equal(range_field32(v, p + 8), num);
    assert_int_equal(range_field32(v, p + 12), flags);
}

/* Submit, then wait (bounded) for it. */
static int run(struct lvio_blk_req *r)
{
    int err = lvio_blk_submit(&K, r);
    if (err)
        return err;
    return lvio_blk_wait(&K, r, 1000000000ull);
}

/* ---- configuration and features ----------------------------------------------------------- */

static void test_init_reads_configuration(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        disk(v, 123456);
        B.blk_size = 4096;
        B.capacity = 123456 & ~7ull;
        B.seg_max = 33;
        B.cylinders = 300, B.heads = 16, B.sectors = 63;
        B.physical_block_exp = 3, B.alignment_offset = 1, B.min_io_size = 8, B.opt_io_size = 256;
        sim_blk_offer(&B, F(GEOMETRY), true);
        sim_blk_offer(&B, F(TOPOLOGY), true);
        start();
        assert_int_equal(K.capacity, 123456 & ~7ull);
        assert_int_equal(K.block_size, 4096);
        assert_int_equal(K.seg_max, 33);
        assert_int_equal(K.size_max, LVIO_BLK_CHAIN_BYTES);
        assert_int_equal(K.geometry.cylinders, 300);
        assert_int_equal(K.geometry.heads, 16);
        assert_int_equal(K.geometry.sectors, 63);
        assert_int_equal(K.topology.physical_block_exp, 3);
        assert_int_equal(K.topology.alignment_offset, 1);
        assert_int_equal(K.topology.min_io_size, 8);
        assert_int_equal(K.topology.opt_io_size, 256);
        assert_false(K.read_only);
        assert_true(K.can_flush && K.writeback);
        assert_int_equal(K.nqueues, 1);
        down();
    }
}

/* Every feature the driver knows is accepted when offered; none other. */
static void test_features_negotiated(void **state)
{
    (void)state;
    static const unsigned bits[] = {F(SIZE_MAX), F(SEG_MAX), F(GEOMETRY), F(RO), F(BLK_SIZE),
                                    F(FLUSH), F(TOPOLOGY), F(CONFIG_WCE), F(MQ), F(DISCARD),
                                    F(WRITE_ZEROES), F(SECURE_ERASE)};
    disk(2, 4096);
    B.size_max = 65536;
    B.cylinders = 1, B.heads = 1, B.sectors = 1;
    B.num_queues = 2;
    B.max_discard_sectors = B.max_write_zeroes_sectors = B.max_secure_erase_sectors = 64;
    B.max_discard_seg = B.max_write_zeroes_seg = B.max_secure_erase_seg = 1;
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
        sim_blk_offer(&B, bits[i], true);
    sim_blk_offer(&B, F(LIFETIME), true);
    sim_blk_offer(&B, F(ZONED), true);
    sim_blk_offer(&B, F(BARRIER), true);
    B.sim.features |= 1ull << LVIO_VIRTIO_F_INDIRECT_DESC | 1ull << LVIO_VIRTIO_F_EVENT_IDX;
    start();
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if (!lvio_has_feature(D.features_accepted, bits[i]))
            fail_msg("feature %u offered, not accepted", bits[i]);
    assert_true(lvio_has_feature(D.features_accepted, LVIO_VIRTIO_F_INDIRECT_DESC));
    assert_true(lvio_has_feature(D.features_accepted, LVIO_VIRTIO_F_EVENT_IDX));
    assert_false(lvio_has_feature(D.features_accepted, F(LIFETIME)));
    assert_false(lvio_has_feature(D.features_accepted, F(ZONED)));
    assert_false(lvio_has_feature(D.features_accepted, F(BARRIER)));
    assert_true(K.read_only);
    assert_true(K.discard.usable && K.write_zeroes.usable && K.secure_erase.usable);
    assert_int_equal(K.nqueues, 2);
    down();
}

static void test_config_errors_are_named(void **state)
{
    (void)state;
    static const uint32_t bad_sizes[] = {0, 256, 1000, 513, 128u * 1024};
    for (unsigned i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        char want[32];
        disk(2, 4096);
        B.blk_size = bad_sizes[i];
        snprintf(want, sizeof want, "blk_size %u", bad_sizes[i]);
        start_fails(LVIO_E_CONFIG, want);
    }
    disk(2, 4096);
    B.capacity = (UINT64_MAX >> 9) + 1; /* its bytes overflow 64 bits */
    start_fails(LVIO_E_CONFIG, "capacity");
    disk(2, 4096);
    B.seg_max = 0;
    start_fails(LVIO_E_CONFIG, "seg_max 0");
    disk(2, 4096);
    sim_blk_offer(&B, F(SIZE_MAX), true);
    B.size_max = 0;
    start_fails(LVIO_E_CONFIG, "size_max 0");
    disk(2, 4096);
    sim_blk_offer(&B, F(MQ), true);
    B.num_queues = 0;
    start_fails(LVIO_E_CONFIG, "num_queues 0");
    disk(1, 4096); /* a 4 KiB block in 2 buffers of 512 bytes cannot go */
    sim_blk_offer(&B, F(SIZE_MAX), true);
    B.blk_size = 4096, B.size_max = 512, B.seg_max = 2;
    start_fails(LVIO_E_CONFIG, "does not fit one request");
    sim_blk_fini(&B);
}

/* Advisory nonsense is ignored; unusable discard limits make discard
 * unsupported, by name. */
static void test_advice_and_unusable_limits(void **state)
{
    (void)state;
    disk(2, 4096);
    sim_blk_offer(&B, F(GEOMETRY), true);
    sim_blk_offer(&B, F(TOPOLOGY), true);
    sim_blk_offer(&B, F(DISCARD), true);
    B.cylinders = 5, B.heads = 0, B.sectors = 9;
    B.physical_block_exp = 2, B.alignment_offset = 4;
    B.max_discard_sectors = 0, B.max_discard_seg = 1;
    start();
    assert_int_equal(K.geometry.cylinders, 0);
    assert_int_equal(K.topology.physical_block_exp, 0);
    assert_false(K.discard.usable);
    assert_int_equal(lvio_blk_discard(&K, 0, 8), LVIO_E_UNSUPPORTED);
    says("unusable limits");
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    assert_non_null(strstr(B.sim.log, "geometry"));
    assert_non_null(strstr(B.sim.log, "topology"));
    down();
}

/* ---- every request's exact bytes ------------------------------------------------------------- */

static void test_read_bytes(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        static uint8_t buf[4096];
        disk(v, 1024);
        start();
        memset(buf, 0, sizeof buf);
        assert_int_equal(lvio_blk_read(&K, 16, buf, sizeof buf), 0);
        is_pattern(buf, 16, sizeof buf);
        const struct sim_blk_cmd *c = sim_blk_find(&B, ANY, 0);
        assert_int_equal(sim_blk_count(&B, ANY), 1);
        hdr_is(c, v, T(IN), 16);
        assert_int_equal(c->nbufs, 3);
        assert_int_equal(c->data_len, 4096);
        assert_true(c->data_writable);
        assert_int_equal(c->status_buf_len, 1);
        assert_int_equal(c->status, LVIO_VIRTIO_BLK_S_OK);
        down();
    }
}

static void test_write_bytes(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        static uint8_t buf[3 * SECTOR], back[3 * SECTOR];
        disk(v, 1024);
        start();
        fill(buf, sizeof buf, (uint8_t)v);
        assert_int_equal(lvio_blk_write(&K, 1021, buf, sizeof buf), 0); /* the last sectors */
        disk_is(1021, buf, sizeof buf);
        const struct sim_blk_cmd *c = sim_blk_find(&B, ANY, 0);
        hdr_is(c, v, T(OUT), 1021);
        assert_int_equal(c->data_len, sizeof buf);
        assert_false(c->data_writable);
        assert_int_equal(lvio_blk_read(&K, 1021, back, sizeof back), 0);
        assert_memory_equal(back, buf, sizeof buf);
        down();
    }
}

static void test_flush_bytes(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        disk(v, 1024);
        start();
        assert_int_equal(lvio_blk_flush(&K), 0);
        const struct sim_blk_cmd *c = sim_blk_find(&B, ANY, 0);
        hdr_is(c, v, T(FLUSH), 0);
        assert_int_equal(c->nbufs, 2);
        down();
    }
    /* Without FLUSH the writes are stable already: nothing is sent. */
    disk(2, 1024);
    sim_blk_offer(&B, F(FLUSH), false);
    start();
    assert_false(K.writeback);
    assert_int_equal(lvio_blk_flush(&K), 0);
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    down();
}

static void test_get_id(void **state)
{
    (void)state;
    char id[21];
    for (uint32_t v = 1; v <= 2; v++) {
        disk(v, 1024);
        strcpy(B.serial, "lvio-scratch");
        start();
        assert_int_equal(lvio_blk_get_id(&K, id), 0);
        assert_string_equal(id, "lvio-scratch");
        const struct sim_blk_cmd *c = sim_blk_find(&B, ANY, 0);
        hdr_is(c, v, T(GET_ID), 0);
        assert_int_equal(c->nbufs, 3);
        assert_int_equal(c->data_len, 20);
        assert_true(c->data_writable);
        /* 20 characters: no NUL on the wire, one in the answer. */
        strcpy(B.serial, "ABCDEFGHIJKLMNOPQRST");
        assert_int_equal(lvio_blk_get_id(&K, id), 0);
        assert_string_equal(id, "ABCDEFGHIJKLMNOPQRST");
        down();
    }
    /* A caller's buffer shorter than the ID is refused. */
    disk(2, 1024);
    start();
    uint8_t small[19];
    struct lvio_blk_seg seg = {small, sizeof small, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_GET_ID, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    assert_int_equal(r.result, LVIO_E_INVAL);
    down();
}

/* Offer discard, write zeroes and secure erase with these limits. */
static void offer_ranges(uint32_t max_sectors, uint32_t max_seg, uint32_t alignment)
{
    sim_blk_offer(&B, F(DISCARD), true);
    sim_blk_offer(&B, F(WRITE_ZEROES), true);
    sim_blk_offer(&B, F(SECURE_ERASE), true);
    B.max_discard_sectors = B.max_write_zeroes_sectors = B.max_secure_erase_sectors = max_sectors;
    B.max_discard_seg = B.max_write_zeroes_seg = B.max_secure_erase_seg = max_seg;
    B.discard_sector_alignment = B.secure_erase_sector_alignment = alignment;
    B.write_zeroes_may_unmap = 1;
}

static void test_discard_write_zeroes_secure_erase_bytes(void **state)
{
    (void)state;
    static uint8_t zero[16 * SECTOR], buf[16 * SECTOR];
    for (uint32_t v = 1; v <= 2; v++) {
        disk(v, 4096);
        offer_ranges(1024, 1, 0);
        start();
        assert_true(K.write_zeroes_may_unmap);
        assert_int_equal(lvio_blk_discard(&K, 100, 8), 0);
        const struct sim_blk_cmd *c = sim_blk_find(&B, T(DISCARD), 0);
        hdr_is(c, v, T(DISCARD), 0);
        assert_int_equal(c->nranges, 1);
        assert_int_equal(c->data_len, 16);
        assert_false(c->data_writable);
        range_is(c, 0, 100, 8, 0);

        fill(buf, sizeof buf, 3);
        assert_int_equal(lvio_blk_write(&K, 200, buf, sizeof buf), 0);
        assert_int_equal(lvio_blk_write_zeroes(&K, 200, 8, false), 0);
        range_is(sim_blk_find(&B, T(WRITE_ZEROES), 0), 0, 200, 8, 0);
        assert_int_equal(lvio_blk_write_zeroes(&K, 208, 8, true), 0);
        c = sim_blk_find(&B, T(WRITE_ZEROES), 1);
        hdr_is(c, v, T(WRITE_ZEROES), 0);
        range_is(c, 0, 208, 8, LVIO_VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        assert_int_equal(lvio_blk_read(&K, 200, buf, sizeof buf), 0);
        assert_memory_equal(buf, zero, sizeof buf);

        assert_int_equal(lvio_blk_secure_erase(&K, 300, 16), 0);
        c = sim_blk_find(&B, T(SECURE_ERASE), 0);
        hdr_is(c, v, T(SECURE_ERASE), 0);
        range_is(c, 0, 300, 16, 0);
        down();
    }
}

/* Flags: UNMAP on write zeroes only. */
static void test_range_flags(void **state)
{
    (void)state;
    disk(2, 4096);
    offer_ranges(1024, 1, 0);
    start();
    struct lvio_blk_req r = {.op = LVIO_BLK_DISCARD, .flags = LVIO_BLK_UNMAP, .sector = 0,
                             .sectors = 8};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    r = (struct lvio_blk_req){.op = LVIO_BLK_WRITE_ZEROES, .flags = 2, .sectors = 8};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    down();
}

/* ---- statuses and answers a device must not give ---------------------------------------------- */

static void test_ioerr_by_name_other_sectors_read(void **state)
{
    (void)state;
    uint8_t buf[4 * SECTOR];
    disk(2, 1024);
    B.ioerr_sector = 42;
    start();
    struct lvio_blk_seg seg = {buf, sizeof buf, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .sector = 40, .segs = &seg, .nsegs = 1};
    assert_int_equal(run(&r), LVIO_E_REFUSED);
    assert_int_equal(r.status, LVIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(r.error_sector, 40);
    assert_string_equal(lvio_blk_errname(&r), "IOERR");
    says("read of sectors 40..43 on queue 0");
    says("IOERR");
    assert_int_equal(lvio_blk_read(&K, 36, buf, sizeof buf), 0); /* 36..39 */
    is_pattern(buf, 36, sizeof buf);
    assert_int_equal(lvio_blk_read(&K, 43, buf, sizeof buf), 0); /* 43..46 */
    is_pattern(buf, 43, sizeof buf);
    assert_int_equal(lvio_blk_write(&K, 42, buf, SECTOR), LVIO_E_REFUSED);
    down();
}

static void test_unsupp_by_name(void **state)
{
    (void)state;
    disk(2, 1024);
    start();
    B.fault_type = T(FLUSH);
    B.fault_kind = SIM_BLK_FAULT_STATUS;
    B.fault_value = LVIO_VIRTIO_BLK_S_UNSUPP;
    B.fault_times = 1;
    struct lvio_blk_req r = {.op = LVIO_BLK_FLUSH};
    assert_int_equal(run(&r), LVIO_E_REFUSED);
    assert_int_equal(r.status, LVIO_VIRTIO_BLK_S_UNSUPP);
    assert_string_equal(lvio_blk_errname(&r), "UNSUPP");
    says("flush on queue 0: the device answered UNSUPP");
    down();
}

/* A device that never writes the status byte, writes one that is no
 * status, or reports fewer bytes than up to the status: never success. */
static void test_bad_answers_are_errors(void **state)
{
    (void)state;
    static const struct {
        enum sim_blk_fault_kind kind;
        uint32_t value;
        const char *says;
    } cases[] = {
        {SIM_BLK_FAULT_NO_STATUS, 0, "never wrote the status byte"},
        {SIM_BLK_FAULT_STATUS, 3, "status 0x03 is not a status"},
        {SIM_BLK_FAULT_STATUS, 0xff, "never wrote the status byte"},
        {SIM_BLK_FAULT_SHORT, 1, "used length 1, shorter than the 4097 bytes"},
        {SIM_BLK_FAULT_SHORT, 4096, "used length 4096"},
    };
    uint8_t buf[4096];
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        disk(2, 1024);
        start();
        B.fault_kind = cases[i].kind;
        B.fault_value = cases[i].value;
        B.fault_times = 1;
        assert_int_equal(lvio_blk_read(&K, 8, buf, sizeof buf), LVIO_E_DEVICE);
        says(cases[i].says);
        says("read of sectors 8..15");
        assert_int_equal(lvio_blk_read(&K, 8, buf, sizeof buf), 0); /* the next one is fine */
        down();
    }
}

/* A legacy device's used length means nothing (5.2.6.3): not checked. */
static void test_legacy_used_length_ignored(void **state)
{
    (void)state;
    uint8_t buf[4096];
    disk(1, 1024);
    start();
    B.fault_kind = SIM_BLK_FAULT_SHORT;
    B.fault_value = 1;
    B.fault_times = -1;
    assert_int_equal(lvio_blk_read(&K, 8, buf, sizeof buf), 0);
    is_pattern(buf, 8, sizeof buf);
    B.fault_kind = SIM_BLK_FAULT_NO_STATUS; /* the status byte still counts */
    assert_int_equal(lvio_blk_read(&K, 8, buf, sizeof buf), LVIO_E_DEVICE);
    down();
}

/* ---- splitting -------------------------------------------------------------------------- */

/* Ten segments, seg_max 4: chains of 4, 4 and 2 data buffers, in order. */
static void test_split_by_seg_max(void **state)
{
    (void)state;
    static uint8_t seg_mem[10][SECTOR];
    struct lvio_blk_seg segs[10];
    disk(2, 1024);
    B.seg_max = 4;
    start();
    for (unsigned i = 0; i < 10; i++) {
        fill(seg_mem[i], SECTOR, (uint8_t)(i * 16));
        segs[i] = (struct lvio_blk_seg){seg_mem[9 - i], SECTOR, 0}; /* not in memory order */
    }
    struct lvio_blk_req r = {.op = LVIO_BLK_WRITE, .sector = 500, .segs = segs, .nsegs = 10};
    assert_int_equal(run(&r), 0);
    assert_int_equal(sim_blk_count(&B, T(OUT)), 3);
    unsigned want[3] = {4, 4, 2};
    for (unsigned i = 0; i < 3; i++) {
        const struct sim_blk_cmd *c = sim_blk_find(&B, T(OUT), i);
        assert_int_equal(c->ndata, want[i]);
        assert_int_equal(c->sector, 500 + 4 * i);
    }
    for (unsigned i = 0; i < 10; i++)
        disk_is(500 + i, seg_mem[9 - i], SECTOR);
    down();
}

/* size_max 1024: an 8 KiB buffer goes as eight descriptors of 1 KiB. */
static void test_split_by_size_max(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    disk(2, 1024);
    sim_blk_offer(&B, F(SIZE_MAX), true);
    B.size_max = 1024;
    start();
    assert_int_equal(lvio_blk_read(&K, 0, buf, sizeof buf), 0);
    const struct sim_blk_cmd *c = sim_blk_find(&B, ANY, 0);
    assert_int_equal(sim_blk_count(&B, ANY), 1);
    assert_int_equal(c->ndata, 8);
    assert_int_equal(c->max_data_buf, 1024);
    is_pattern(buf, 0, sizeof buf);
    /* seg_max 3 as well: three chains (3, 3, 2 KiB). */
    sim_blk_clear_log(&B);
    lvio_blk_teardown(&K);
    B.seg_max = 3;
    sim_blk_apply(&B);
    assert_int_equal(lvio_blk_init(&K, &D, 0), 0);
    assert_int_equal(lvio_blk_read(&K, 0, buf, sizeof buf), 0);
    assert_int_equal(sim_blk_count(&B, T(IN)), 3);
    assert_int_equal(sim_blk_find(&B, T(IN), 2)->data_len, 2048);
    is_pattern(buf, 0, sizeof buf);
    down();
}

/* More than LVIO_BLK_CHAIN_BYTES: several chains, all in flight at once. */
static void test_split_large_request(void **state)
{
    (void)state;
    size_t n = 2 * LVIO_BLK_CHAIN_BYTES + 64 * 1024;
    uint8_t *buf = malloc(n);
    disk(2, 64 * 1024);
    B.seg_max = 254;
    start();
    B.sim.hold = true;
    struct lvio_blk_seg seg = {buf, (uint32_t)n, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .sector = 8, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), 0);
    assert_int_equal(B.sim.nheld, 3); /* all three with the device */
    B.sim.hold = false;
    sim_release_reversed(&B.sim);
    assert_int_equal(lvio_blk_wait(&K, &r, 1000000000ull), 0);
    assert_int_equal(sim_blk_find(&B, T(IN), 0)->data_len, LVIO_BLK_CHAIN_BYTES);
    assert_int_equal(sim_blk_find(&B, T(IN), 2)->data_len, 64 * 1024);
    assert_int_equal(sim_blk_find(&B, T(IN), 1)->sector, 8 + LVIO_BLK_CHAIN_BYTES / SECTOR);
    is_pattern(buf, 8, n);
    free(buf);
    down();
}

/* 4Kn with odd segments, seg_max 3: the first chain's three pieces (1000,
 * 2000, 2000 bytes) are cut back to one block, mid-segment; the second
 * goes on from there. */
static void test_split_on_block_boundaries(void **state)
{
    (void)state;
    static uint8_t mem[5][4096];
    static const uint32_t lens[5] = {1000, 2000, 2000, 3192, 4096};
    struct lvio_blk_seg segs[5];
    disk(2, 8192);
    B.blk_size = 4096;
    B.seg_max = 3;
    start();
    uint32_t total = 0;
    for (unsigned i = 0; i < 5; i++) {
        fill(mem[i], lens[i], (uint8_t)(i + 1));
        segs[i] = (struct lvio_blk_seg){mem[i], lens[i], 0};
        total += lens[i];
    }
    assert_int_equal(total, 3 * 4096);
    struct lvio_blk_req r = {.op = LVIO_BLK_WRITE, .sector = 64, .segs = segs, .nsegs = 5};
    assert_int_equal(run(&r), 0);
    assert_int_equal(sim_blk_count(&B, T(OUT)), 2);
    const struct sim_blk_cmd *c = sim_blk_find(&B, T(OUT), 0);
    assert_int_equal(c->data_len, 4096);
    assert_int_equal(c->ndata, 3);
    assert_int_equal(c->max_data_buf, 2000);
    c = sim_blk_find(&B, T(OUT), 1);
    assert_int_equal(c->sector, 72);
    assert_int_equal(c->data_len, 8192);
    assert_int_equal(c->ndata, 3);
    uint64_t at = 64 * SECTOR;
    for (unsigned i = 0; i < 5; i++) {
        uint8_t got[4096];
        sim_blk_get(&B, at, got, lens[i]);
        assert_memory_equal(got, mem[i], lens[i]);
        at += lens[i];
    }
    down();
}

/* A block that would need more buffers than a chain carries is refused
 * before anything goes (and nothing stays shared). */
static void test_block_too_fragmented(void **state)
{
    (void)state;
    static uint8_t mem[8][SECTOR];
    struct lvio_blk_seg segs[8];
    disk(2, 8192);
    B.blk_size = 4096;
    B.seg_max = 4;
    start();
    for (unsigned i = 0; i < 8; i++)
        segs[i] = (struct lvio_blk_seg){mem[i], SECTOR, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .sector = 0, .segs = segs, .nsegs = 8};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    says("spans more than the 4 buffers");
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    assert_int_equal(B.sim.live_shares, 0);
    down();
}

/* Discard split by max_discard_sectors, several ranges a request, the
 * splits on the alignment. */
static void test_split_ranges(void **state)
{
    (void)state;
    disk(2, 65536);
    offer_ranges(64, 3, 16);
    start();
    assert_int_equal(lvio_blk_discard(&K, 8, 200), 0); /* 8..207 */
    assert_int_equal(sim_blk_count(&B, T(DISCARD)), 2);
    const struct sim_blk_cmd *c = sim_blk_find(&B, T(DISCARD), 0);
    assert_int_equal(c->nranges, 3);
    range_is(c, 0, 8, 56, 0);  /* 8..63: the split at 64, aligned */
    range_is(c, 1, 64, 64, 0);
    range_is(c, 2, 128, 64, 0);
    c = sim_blk_find(&B, T(DISCARD), 1);
    assert_int_equal(c->nranges, 1);
    range_is(c, 0, 192, 16, 0);
    down();
}

/* ---- refusals before the device --------------------------------------------------------------- */

static void test_refuse_past_the_end(void **state)
{
    (void)state;
    uint8_t buf[8 * SECTOR];
    disk(2, 100);
    offer_ranges(1024, 1, 0);
    start();
    assert_int_equal(lvio_blk_read(&K, 96, buf, sizeof buf), LVIO_E_INVAL);
    says("sectors 96..103: past the end of the disk (100 sectors)");
    assert_int_equal(lvio_blk_write(&K, UINT64_MAX - 2, buf, sizeof buf), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_discard(&K, 99, 2), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_write_zeroes(&K, 100, 1, false), LVIO_E_INVAL);
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    assert_int_equal(lvio_blk_read(&K, 92, buf, sizeof buf), 0); /* up to the last */
    is_pattern(buf, 92, sizeof buf);
    down();
}

static void test_refuse_unaligned_4kn(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    disk(2, 8192);
    B.blk_size = 4096;
    offer_ranges(1024, 1, 0);
    start();
    assert_int_equal(lvio_blk_read(&K, 1, buf, 4096), LVIO_E_INVAL);
    says("not whole 4096-byte blocks");
    assert_int_equal(lvio_blk_read(&K, 8, buf, 512), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_read(&K, 8, buf, 4096 + 512), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_read(&K, 8, buf, 100), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_discard(&K, 8, 4), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_write_zeroes(&K, 4, 8, false), LVIO_E_INVAL);
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    assert_int_equal(lvio_blk_read(&K, 8184, buf, 4096), 0); /* the last block */
    is_pattern(buf, 8184, 4096);
    down();
}

static void test_refuse_read_only(void **state)
{
    (void)state;
    uint8_t buf[SECTOR] = {0};
    disk(2, 1024);
    sim_blk_offer(&B, F(RO), true);
    offer_ranges(1024, 1, 0);
    start();
    assert_true(K.read_only);
    assert_int_equal(lvio_blk_write(&K, 0, buf, sizeof buf), LVIO_E_READ_ONLY);
    says("write of sectors from 0: the device is read-only");
    assert_int_equal(lvio_blk_discard(&K, 0, 8), LVIO_E_READ_ONLY);
    assert_int_equal(lvio_blk_write_zeroes(&K, 0, 8, true), LVIO_E_READ_ONLY);
    assert_int_equal(lvio_blk_secure_erase(&K, 0, 8), LVIO_E_READ_ONLY);
    assert_string_equal(lvio_errname(LVIO_E_READ_ONLY), "LVIO_E_READ_ONLY");
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    assert_int_equal(B.sim.live_shares, 0);
    assert_int_equal(lvio_blk_read(&K, 0, buf, sizeof buf), 0);
    assert_int_equal(lvio_blk_flush(&K), 0);
    down();
}

static void test_refuse_not_offered_and_bad_fields(void **state)
{
    (void)state;
    uint8_t buf[SECTOR];
    disk(2, 1024);
    start();
    assert_int_equal(lvio_blk_discard(&K, 0, 8), LVIO_E_UNSUPPORTED);
    says("does not offer it");
    assert_int_equal(lvio_blk_write_zeroes(&K, 0, 8, false), LVIO_E_UNSUPPORTED);
    assert_int_equal(lvio_blk_secure_erase(&K, 0, 8), LVIO_E_UNSUPPORTED);
    struct lvio_blk_seg seg = {buf, sizeof buf, 0};
    struct lvio_blk_req r = {.op = 99, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    r = (struct lvio_blk_req){.op = LVIO_BLK_READ, .queue = 1, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    says("on queue 1: 1 queues in use");
    r = (struct lvio_blk_req){.op = LVIO_BLK_READ, .segs = &seg, .nsegs = 0};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    seg.len = 0;
    r = (struct lvio_blk_req){.op = LVIO_BLK_READ, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    r = (struct lvio_blk_req){.op = LVIO_BLK_FLUSH, .sector = 4};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    /* The same request twice while it is the driver's. */
    seg.len = sizeof buf;
    B.sim.hold = true;
    r = (struct lvio_blk_req){.op = LVIO_BLK_READ, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), 0);
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_INVAL);
    says("already submitted");
    sim_release_reversed(&B.sim);
    assert_int_equal(lvio_blk_wait(&K, &r, 1000000ull), 0);
    assert_int_equal(lvio_blk_wait(&K, &r, 1000000ull), LVIO_E_INVAL); /* collected */
    down();
}

/* share() refused for the third segment: nothing stays shared. */
static void test_share_failure(void **state)
{
    (void)state;
    static uint8_t mem[3][SECTOR];
    struct lvio_blk_seg segs[3] = {{mem[0], SECTOR, 0}, {mem[1], SECTOR, 0}, {mem[2], SECTOR, 0}};
    disk(2, 1024);
    start();
    B.sim.share_fail_after = 2;
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .segs = segs, .nsegs = 3};
    assert_int_equal(lvio_blk_submit(&K, &r), LVIO_E_NOMEM);
    says("sharing segment 2 of 3");
    assert_int_equal(B.sim.live_shares, 0);
    assert_int_equal(sim_blk_count(&B, ANY), 0);
    B.sim.share_fail_after = -1;
    B.sim.hal.share = NULL;
    assert_int_equal(lvio_blk_read(&K, 0, mem[0], SECTOR), LVIO_E_UNSUPPORTED);
    assert_int_equal(lvio_blk_flush(&K), 0); /* no data: no share() needed */
    down();
}

/* ---- in flight, out of order, several queues ------------------------------------------------ */

/* Eight reads held by the device, answered last first: they come back in
 * that order, each with its own data, each buffer unshared. */
static void test_out_of_order_completion(void **state)
{
    (void)state;
    static uint8_t mem[8][2 * SECTOR];
    struct lvio_blk_seg segs[8];
    struct lvio_blk_req r[8];
    disk(2, 4096);
    start();
    B.sim.hold = true;
    for (unsigned i = 0; i < 8; i++) {
        segs[i] = (struct lvio_blk_seg){mem[i], sizeof mem[i], 0};
        r[i] = (struct lvio_blk_req){.op = LVIO_BLK_READ, .sector = 100 * i, .segs = &segs[i],
                                     .nsegs = 1, .token = &r[i]};
        assert_int_equal(lvio_blk_submit(&K, &r[i]), 0);
    }
    assert_int_equal(lvio_blk_in_flight(&K), 8);
    assert_int_equal(B.sim.live_shares, 8);
    assert_int_equal(lvio_blk_poll(&K, 0), 0);
    assert_null(lvio_blk_done(&K));
    sim_release_reversed(&B.sim);
    assert_int_equal(lvio_blk_poll(&K, LVIO_VIRTIO_ISR_QUEUE), 8);
    for (int i = 7; i >= 0; i--) {
        struct lvio_blk_req *d = lvio_blk_done(&K);
        assert_ptr_equal(d, &r[i]);
        assert_ptr_equal(d->token, &r[i]);
        assert_int_equal(d->result, 0);
        is_pattern(mem[i], 100 * (unsigned)i, sizeof mem[i]);
    }
    assert_null(lvio_blk_done(&K));
    assert_int_equal(B.sim.live_shares, 0);
    down();
}

/* More requests than slots: the rest go as the first come back. */
static void test_more_requests_than_slots(void **state)
{
    (void)state;
    enum { N = LVIO_BLK_SLOTS + 36 };
    static uint8_t mem[N][SECTOR];
    static struct lvio_blk_seg segs[N];
    static struct lvio_blk_req r[N];
    disk(2, 4096);
    start();
    B.sim.hold = true;
    for (unsigned i = 0; i < N; i++) {
        segs[i] = (struct lvio_blk_seg){mem[i], SECTOR, 0};
        r[i] = (struct lvio_blk_req){.op = LVIO_BLK_READ, .sector = i, .segs = &segs[i],
                                     .nsegs = 1};
        assert_int_equal(lvio_blk_submit(&K, &r[i]), 0);
    }
    assert_int_equal(B.sim.nheld, LVIO_BLK_SLOTS);
    assert_int_equal(lvio_blk_in_flight(&K), N);
    B.sim.hold = false;
    sim_release_reversed(&B.sim);
    unsigned back = 0;
    for (int polls = 0; back < N && polls < 10; polls++) {
        assert_true(lvio_blk_poll(&K, 0) >= 0);
        while (lvio_blk_done(&K))
            back++;
    }
    assert_int_equal(back, N);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(r[i].result, 0);
        is_pattern(mem[i], i, SECTOR);
    }
    down();
}

/* Four queues: each request goes on the queue it names; a flush held on
 * queue 3 while reads on the others complete around it. */
static void test_multiqueue(void **state)
{
    (void)state;
    static uint8_t mem[4][SECTOR];
    struct lvio_blk_seg segs[4];
    struct lvio_blk_req r[4], flush = {.op = LVIO_BLK_FLUSH, .queue = 3};
    disk(2, 4096);
    sim_blk_offer(&B, F(MQ), true);
    B.num_queues = 4;
    B.sim.features |= 1ull << LVIO_VIRTIO_F_INDIRECT_DESC;
    start();
    assert_int_equal(K.nqueues, 4);
    assert_int_equal(K.device_queues, 4);
    B.fault_type = T(FLUSH);
    B.hold_type_only = true;
    assert_int_equal(lvio_blk_submit(&K, &flush), 0);
    for (unsigned i = 0; i < 4; i++) {
        segs[i] = (struct lvio_blk_seg){mem[i], SECTOR, 0};
        r[i] = (struct lvio_blk_req){.op = LVIO_BLK_READ, .queue = (uint16_t)i,
                                     .sector = 7 * i, .segs = &segs[i], .nsegs = 1};
        assert_int_equal(lvio_blk_submit(&K, &r[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(lvio_blk_wait(&K, &r[i], 1000000ull), 0);
        is_pattern(mem[i], 7 * i, SECTOR);
        assert_int_equal(sim_blk_find(&B, T(IN), i)->queue, i);
    }
    assert_int_equal(lvio_blk_in_flight(&K), 1); /* the flush */
    sim_release_reversed(&B.sim);
    assert_int_equal(lvio_blk_wait(&K, &flush, 1000000ull), 0);
    assert_int_equal(sim_blk_find(&B, T(FLUSH), 0)->queue, 3);
    down();
    /* Fewer queues when the caller says so. */
    disk(2, 4096);
    sim_blk_offer(&B, F(MQ), true);
    B.num_queues = 4;
    start_with(2);
    assert_int_equal(K.nqueues, 2);
    down();
}

/* Plugged, eight requests go out under one notify; unplugged, each
 * notifies (the device here never says it does not need one). */
static void test_plug_one_notify(void **state)
{
    (void)state;
    static uint8_t mem[8][SECTOR];
    struct lvio_blk_seg segs[8];
    struct lvio_blk_req r[8];
    disk(2, 4096);
    start();
    uint32_t notifies = B.sim.notifies;
    lvio_blk_plug(&K);
    for (unsigned i = 0; i < 8; i++) {
        segs[i] = (struct lvio_blk_seg){mem[i], SECTOR, 0};
        r[i] = (struct lvio_blk_req){.op = LVIO_BLK_READ, .sector = i, .segs = &segs[i],
                                     .nsegs = 1};
        assert_int_equal(lvio_blk_submit(&K, &r[i]), 0);
    }
    assert_int_equal(B.sim.notifies, notifies);
    assert_int_equal(sim_blk_count(&B, ANY), 0); /* not told yet */
    assert_int_equal(lvio_blk_unplug(&K), 0);
    assert_int_equal(B.sim.notifies, notifies + 1);
    assert_int_equal(lvio_blk_poll(&K, 0), 8);
    for (unsigned i = 0; i < 8; i++)
        assert_ptr_equal(lvio_blk_done(&K), &r[i]);
    /* A wait while plugged tells the device first. */
    lvio_blk_plug(&K);
    assert_int_equal(lvio_blk_submit(&K, &r[0]), 0);
    assert_int_equal(lvio_blk_wait(&K, &r[0], 1000000ull), 0);
    assert_int_equal(B.sim.notifies, notifies + 2);
    assert_int_equal(lvio_blk_unplug(&K), 0);
    assert_int_equal(B.sim.notifies, notifies + 2);
    assert_int_equal(lvio_blk_read(&K, 0, mem[0], SECTOR), 0);
    assert_int_equal(B.sim.notifies, notifies + 3);
    is_pattern(mem[0], 0, SECTOR);
    down();
}

/* A request waited for leaves the others in the done list, in order. */
static void test_wait_leaves_other_completions(void **state)
{
    (void)state;
    uint8_t a[SECTOR], b[SECTOR], c[SECTOR];
    struct lvio_blk_seg sa = {a, SECTOR, 0}, sb = {b, SECTOR, 0}, sc = {c, SECTOR, 0};
    struct lvio_blk_req ra = {.op = LVIO_BLK_READ, .sector = 1, .segs = &sa, .nsegs = 1};
    struct lvio_blk_req rb = {.op = LVIO_BLK_READ, .sector = 2, .segs = &sb, .nsegs = 1};
    struct lvio_blk_req rc = {.op = LVIO_BLK_READ, .sector = 3, .segs = &sc, .nsegs = 1};
    disk(2, 4096);
    start();
    assert_int_equal(lvio_blk_submit(&K, &ra), 0);
    assert_int_equal(lvio_blk_submit(&K, &rb), 0);
    assert_int_equal(lvio_blk_submit(&K, &rc), 0);
    assert_int_equal(lvio_blk_wait(&K, &rb, 1000000ull), 0);
    assert_ptr_equal(lvio_blk_done(&K), &ra);
    assert_ptr_equal(lvio_blk_done(&K), &rc);
    assert_null(lvio_blk_done(&K));
    down();
}

/* ---- big disks, 4Kn, configuration changes ------------------------------------------------------ */

/* Sector numbers past 2 TiB (and past 2^32 sectors) go out whole. */
static void test_sectors_past_2tib(void **state)
{
    (void)state;
    static uint8_t buf[4096], back[4096];
    const uint64_t cap = 1ull << 34; /* 8 TiB */
    for (uint32_t v = 1; v <= 2; v++) {
        disk(v, cap);
        start();
        assert_int_equal(K.capacity, cap);
        uint64_t at = (1ull << 32) + 40;
        assert_int_equal(lvio_blk_read(&K, at, buf, sizeof buf), 0);
        hdr_is(sim_blk_find(&B, T(IN), 0), v, T(IN), at);
        is_pattern(buf, at, sizeof buf);
        fill(buf, sizeof buf, 9);
        assert_int_equal(lvio_blk_write(&K, cap - 8, buf, sizeof buf), 0);
        assert_int_equal(lvio_blk_read(&K, cap - 8, back, sizeof back), 0);
        assert_memory_equal(back, buf, sizeof buf);
        hdr_is(sim_blk_find(&B, T(OUT), 0), v, T(OUT), cap - 8);
        down();
    }
}

static void test_capacity_change_noticed(void **state)
{
    (void)state;
    uint8_t buf[SECTOR];
    disk(2, 1024);
    start();
    B.capacity = 2048;
    sim_blk_apply(&B);
    assert_int_equal(lvio_blk_read(&K, 1500, buf, sizeof buf), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_poll(&K, 0), 0); /* no notice: not re-read */
    assert_int_equal(K.capacity, 1024);
    assert_int_equal(lvio_blk_poll(&K, LVIO_VIRTIO_ISR_CONFIG), 0);
    assert_int_equal(K.capacity, 2048);
    assert_int_equal(K.config_changes, 1);
    assert_int_equal(lvio_blk_read(&K, 1500, buf, sizeof buf), 0);
    down();
}

static void test_writeback_toggle(void **state)
{
    (void)state;
    disk(2, 1024);
    assert_int_equal(lvio_blk_set_writeback(NULL, true), LVIO_E_INVAL);
    sim_blk_offer(&B, F(CONFIG_WCE), true);
    B.writeback = 1;
    start();
    assert_true(K.writeback && K.can_set_writeback);
    assert_int_equal(lvio_blk_set_writeback(&K, false), 0);
    assert_false(K.writeback);
    assert_int_equal(B.writeback, 0);
    assert_int_equal(B.writeback_writes, 1);
    assert_int_equal(lvio_blk_set_writeback(&K, true), 0);
    assert_int_equal(B.writeback, 1);
    down();
    disk(2, 1024);
    start();
    assert_int_equal(lvio_blk_set_writeback(&K, false), LVIO_E_UNSUPPORTED);
    says("CONFIG_WCE");
    down();
}

/* ---- a silent device, teardown, reset ----------------------------------------------------------- */

/* A device that never answers: the wait ends in time, names the read,
 * resets the device (the buffer unshared after the reset), and the disk
 * works again. */
static void test_timeout_resets_and_recovers(void **state)
{
    (void)state;
    uint8_t buf[SECTOR];
    disk(2, 1024);
    start();
    K.timeout_ns = 1000000; /* 1 ms of the fake clock */
    B.sim.relax_limit = 100000;
    B.sim.never_complete = true;
    uint8_t other[SECTOR];
    struct lvio_blk_seg seg = {other, SECTOR, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .sector = 9, .segs = &seg, .nsegs = 1};
    assert_int_equal(lvio_blk_submit(&K, &r), 0);
    assert_int_equal(lvio_blk_read(&K, 5, buf, sizeof buf), LVIO_E_TIMEOUT);
    says("read of sectors 5..5 on queue 0");
    says("queue 0");
    assert_ptr_equal(lvio_blk_done(&K), &r); /* ended by the reset, not timed out */
    assert_int_equal(r.result, LVIO_E_STATE);
    assert_int_equal(K.resets, 1);
    assert_true(K.up);
    assert_int_equal(B.sim.live_shares, 0);
    assert_int_equal(lvio_blk_in_flight(&K), 0);
    B.sim.never_complete = false;
    B.sim.relax_calls = 0;
    assert_int_equal(lvio_blk_read(&K, 5, buf, sizeof buf), 0);
    is_pattern(buf, 5, sizeof buf);
    down();
}

/* Teardown ends every request still the driver's (LVIO_E_STATE), their
 * buffers unshared once the reset completed. */
static void test_teardown_ends_requests(void **state)
{
    (void)state;
    static uint8_t mem[3][SECTOR];
    struct lvio_blk_seg segs[3];
    struct lvio_blk_req r[3];
    disk(2, 1024);
    start();
    B.sim.hold = true;
    for (unsigned i = 0; i < 3; i++) {
        segs[i] = (struct lvio_blk_seg){mem[i], SECTOR, 0};
        r[i] = (struct lvio_blk_req){.op = LVIO_BLK_WRITE, .sector = i, .segs = &segs[i],
                                     .nsegs = 1};
        assert_int_equal(lvio_blk_submit(&K, &r[i]), 0);
    }
    lvio_blk_teardown(&K);
    assert_int_equal(B.sim.live_shares, 0);
    assert_int_equal(B.sim.live_pages, 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_ptr_equal(lvio_blk_done(&K), &r[i]);
        assert_int_equal(r[i].result, LVIO_E_STATE);
    }
    assert_int_equal(lvio_blk_submit(&K, &r[0]), LVIO_E_STATE);
    assert_int_equal(lvio_blk_poll(&K, 0), LVIO_E_STATE);
    B.sim.hold = false;
    assert_int_equal(lvio_blk_reset(&K), 0); /* brought back */
    assert_int_equal(lvio_blk_read(&K, 0, mem[0], SECTOR), 0);
    assert_int_equal(lvio_blk_reset(NULL), LVIO_E_INVAL);
    down();
}

/* A reset that never completes: the requests come back LVIO_E_DEAD and
 * their buffers stay shared (the device may still write them). */
static void test_dead_device_keeps_buffers(void **state)
{
    (void)state;
    static uint8_t mem[SECTOR];
    struct lvio_blk_seg seg = {mem, SECTOR, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .segs = &seg, .nsegs = 1};
    disk(2, 1024);
    start();
    B.sim.hold = true;
    assert_int_equal(lvio_blk_submit(&K, &r), 0);
    B.sim.reset_stuck = true;
    lvio_blk_teardown(&K);
    assert_ptr_equal(lvio_blk_done(&K), &r);
    assert_int_equal(r.result, LVIO_E_DEAD);
    assert_true(D.dead);
    assert_int_equal(B.sim.live_shares, 1);
    assert_int_equal(D.kept_shares, 1);
    sim_free_dma(&B.sim);
    sim_blk_fini(&B);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct lvio_blk_req r = {.op = LVIO_BLK_FLUSH};
    assert_int_equal(lvio_blk_init(NULL, &D, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_submit(NULL, &r), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_poll(NULL, 0), LVIO_E_INVAL);
    assert_null(lvio_blk_done(NULL));
    assert_int_equal(lvio_blk_wait(NULL, &r, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_get_id(NULL, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_blk_in_flight(NULL), 0);
    assert_string_equal(lvio_blk_status_name(1), "IOERR");
    assert_string_equal(lvio_blk_status_name(0xff), "none");
    assert_string_equal(lvio_blk_status_name(9), "unknown");
    assert_string_equal(lvio_blk_op_name(LVIO_BLK_WRITE_ZEROES), "write-zeroes");
    assert_string_equal(lvio_blk_op_name(0), "unknown");
    /* Not a block device. */
    sim_init(&B.sim, 2, LVIO_VIRTIO_ID_RNG);
    sim_probe(&B.sim, &D);
    assert_int_equal(lvio_blk_init(&K, &D, 0), LVIO_E_INVAL);
    says("not a block device");
}

/* A timeout of 0 only looks: the request stays, nothing is reset. */
static void test_wait_zero_only_looks(void **state)
{
    (void)state;
    uint8_t buf[SECTOR];
    struct lvio_blk_seg seg = {buf, SECTOR, 0};
    struct lvio_blk_req r = {.op = LVIO_BLK_READ, .segs = &seg, .nsegs = 1};
    disk(2, 1024);
    start();
    B.sim.hold = true;
    assert_int_equal(lvio_blk_submit(&K, &r), 0);
    assert_int_equal(lvio_blk_wait(&K, &r, 0), LVIO_E_AGAIN);
    assert_int_equal(K.resets, 0);
    sim_release_reversed(&B.sim);
    assert_int_equal(lvio_blk_wait(&K, &r, 0), 0);
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_reads_configuration),
        cmocka_unit_test(test_features_negotiated),
        cmocka_unit_test(test_config_errors_are_named),
        cmocka_unit_test(test_advice_and_unusable_limits),
        cmocka_unit_test(test_read_bytes),
        cmocka_unit_test(test_write_bytes),
        cmocka_unit_test(test_flush_bytes),
        cmocka_unit_test(test_get_id),
        cmocka_unit_test(test_discard_write_zeroes_secure_erase_bytes),
        cmocka_unit_test(test_range_flags),
        cmocka_unit_test(test_ioerr_by_name_other_sectors_read),
        cmocka_unit_test(test_unsupp_by_name),
        cmocka_unit_test(test_bad_answers_are_errors),
        cmocka_unit_test(test_legacy_used_length_ignored),
        cmocka_unit_test(test_split_by_seg_max),
        cmocka_unit_test(test_split_by_size_max),
        cmocka_unit_test(test_split_large_request),
        cmocka_unit_test(test_split_on_block_boundaries),
        cmocka_unit_test(test_block_too_fragmented),
        cmocka_unit_test(test_split_ranges),
        cmocka_unit_test(test_refuse_past_the_end),
        cmocka_unit_test(test_refuse_unaligned_4kn),
        cmocka_unit_test(test_refuse_read_only),
        cmocka_unit_test(test_refuse_not_offered_and_bad_fields),
        cmocka_unit_test(test_share_failure),
        cmocka_unit_test(test_out_of_order_completion),
        cmocka_unit_test(test_more_requests_than_slots),
        cmocka_unit_test(test_multiqueue),
        cmocka_unit_test(test_plug_one_notify),
        cmocka_unit_test(test_wait_leaves_other_completions),
        cmocka_unit_test(test_sectors_past_2tib),
        cmocka_unit_test(test_capacity_change_noticed),
        cmocka_unit_test(test_writeback_toggle),
        cmocka_unit_test(test_timeout_resets_and_recovers),
        cmocka_unit_test(test_teardown_ends_requests),
        cmocka_unit_test(test_dead_device_keeps_buffers),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_wait_zero_only_looks),
    };
    return cmocka_run_group_tests_name("blk", tests, NULL, NULL);
}
