/*
 * The split virtqueue against the device-side ring model: chains, tokens,
 * completion order, index wrap-around, and a device that breaks the rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "core/internal.h"

static struct sim S;
static struct lvio_device D;
static struct lvio_virtqueue VQ;

/* A live device of `version` with queue 0 of at most `size` entries. */
static void up(uint32_t version, uint16_t size)
{
    sim_init(&S, version, LVIO_VIRTIO_ID_RNG);
    S.handler = sim_rng_handler;
    sim_probe(&S, &D);
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, size), 0);
    assert_int_equal(lvio_device_driver_ok(&D), 0);
}

static void down(void)
{
    assert_string_equal(S.error, "");
    assert_int_equal(lvio_device_reset(&D), 0);
    lvio_vq_teardown(&VQ);
    assert_int_equal(S.live_pages, 0);
}

/* A DMA buffer the device may write: `len` bytes. */
struct dbuf {
    uint8_t *cpu;
    uint64_t addr;
};

static struct dbuf dbuf_new(void)
{
    struct dbuf b;
    b.cpu = S.hal.dma_alloc(S.hal.ctx, 1, &b.addr);
    assert_non_null(b.cpu);
    return b;
}

static void dbuf_free(struct dbuf *b)
{
    S.hal.dma_free(S.hal.ctx, b->cpu, 1, b->addr);
}

static void test_one_request_both_versions(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v, 0);
        struct dbuf b = dbuf_new();
        struct lvio_sg in = {b.addr, 16};
        int tok = 42;
        void *got = NULL;
        uint32_t len = 0;
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, &tok), 0);
        assert_int_equal(lvio_vq_in_flight(&VQ), 1);
        assert_int_equal(lvio_vq_kick(&VQ), 0);
        assert_int_equal(S.notifies, 1);
        assert_int_equal(lvio_vq_wait(&VQ, 1000000, &got, &len), 0);
        assert_ptr_equal(got, &tok);
        assert_int_equal(len, 16);
        for (int i = 0; i < 16; i++)
            assert_int_equal(b.cpu[i], i);
        assert_int_equal(lvio_vq_num_free(&VQ), VQ.size);
        assert_int_equal(lvio_device_isr(&D) & 1, 1);
        dbuf_free(&b);
        down();
    }
}

/* Readable and writable buffers in one chain reach the device in order. */
static void test_chain_layout(void **state)
{
    (void)state;
    up(2, 8);
    S.never_complete = true;
    S.handler = NULL;
    struct lvio_sg out[2] = {{0x1000, 24}, {0x2000, 8}};
    struct lvio_sg in[1] = {{0x3000, 100}};
    assert_int_equal(lvio_vq_add(&VQ, out, 2, in, 1, NULL), 0);
    lvio_vq_kick(&VQ);
    uint64_t a;
    uint32_t l;
    uint16_t f;
    assert_true(sim_chain_buf(&S, 0, 0, 0, &a, &l, &f));
    assert_true(a == 0x1000 && l == 24 && f == LVIO_VIRTQ_DESC_F_NEXT);
    assert_true(sim_chain_buf(&S, 0, 0, 1, &a, &l, &f));
    assert_true(a == 0x2000 && l == 8 && f == LVIO_VIRTQ_DESC_F_NEXT);
    assert_true(sim_chain_buf(&S, 0, 0, 2, &a, &l, &f));
    assert_true(a == 0x3000 && l == 100 && f == LVIO_VIRTQ_DESC_F_WRITE);
    assert_false(sim_chain_buf(&S, 0, 0, 3, &a, &l, &f));
    assert_int_equal(lvio_vq_num_free(&VQ), 5);
    down();
}

/* Many in flight, completed in reverse: each token comes back exactly once. */
static void test_out_of_order_completion(void **state)
{
    (void)state;
    up(1, 16);
    S.hold = true;
    struct dbuf b = dbuf_new();
    int toks[16];
    for (int i = 0; i < 16; i++) {
        struct lvio_sg in = {b.addr + 256u * i, 256};
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, &toks[i]), 0);
    }
    struct lvio_sg in = {b.addr, 1};
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), LVIO_E_NOSPC);
    lvio_vq_kick(&VQ);
    sim_step(&S);
    assert_int_equal(S.nheld, 16);
    sim_release_reversed(&S);
    for (int i = 15; i >= 0; i--) {
        void *got;
        uint32_t len;
        assert_int_equal(lvio_vq_get(&VQ, &got, &len), 1);
        assert_ptr_equal(got, &toks[i]);
        assert_int_equal(len, 256);
    }
    assert_int_equal(lvio_vq_get(&VQ, NULL, NULL), 0);
    assert_int_equal(lvio_vq_num_free(&VQ), 16);
    dbuf_free(&b);
    down();
}

/* The free list survives out-of-order frees of multi-descriptor chains. */
static void test_free_list_after_mixed_chains(void **state)
{
    (void)state;
    up(2, 8);
    S.hold = true;
    S.handler = NULL; /* addresses are not real buffers here */
    struct lvio_sg out = {0x1000, 4}, in[2] = {{0x2000, 4}, {0x3000, 4}};
    for (int round = 0; round < 100; round++) {
        assert_int_equal(lvio_vq_add(&VQ, &out, 1, in, 2, (void *)1), 0);
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, in, 1, (void *)2), 0);
        assert_int_equal(lvio_vq_add(&VQ, &out, 1, in, 1, (void *)3), 0);
        assert_int_equal(lvio_vq_num_free(&VQ), 2);
        lvio_vq_kick(&VQ);
        sim_step(&S);
        sim_release_reversed(&S);
        int seen = 0;
        void *t;
        while (lvio_vq_get(&VQ, &t, NULL) == 1)
            seen |= 1 << (uintptr_t)t;
        assert_int_equal(seen, 0xe);
        assert_int_equal(lvio_vq_num_free(&VQ), 8);
    }
    assert_int_equal((uint16_t)VQ.avail_idx, 300);
    down();
}

/* 16-bit indexes wrap; nothing changes when they do. */
static void test_index_wraparound(void **state)
{
    (void)state;
    up(2, 4);
    struct dbuf b = dbuf_new();
    for (int i = 0; i < 70000; i++) {
        struct lvio_sg in = {b.addr, 8};
        uint32_t len;
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
        lvio_vq_kick(&VQ);
        assert_int_equal(lvio_vq_wait(&VQ, 1000000, NULL, &len), 0);
        assert_int_equal(len, 8);
    }
    assert_int_equal(VQ.completions, 70000);
    dbuf_free(&b);
    down();
}

static void test_bad_arguments(void **state)
{
    (void)state;
    up(2, 4);
    struct lvio_sg sg = {0x1000, 0};
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, NULL, 0, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_vq_add(&VQ, &sg, 1, NULL, 0, NULL), LVIO_E_INVAL); /* len 0 */
    assert_int_equal(lvio_vq_add(&VQ, NULL, 1, NULL, 0, NULL), LVIO_E_INVAL);
    struct lvio_sg big[5] = {{1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
    assert_int_equal(lvio_vq_add(&VQ, big, 5, NULL, 0, NULL), LVIO_E_INVAL); /* > size */
    struct lvio_sg huge[2] = {{1, 0x80000000u}, {1, 0x80000000u}};
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, huge, 2, NULL), LVIO_E_INVAL); /* overflow */
    assert_int_equal(lvio_vq_add(NULL, big, 1, NULL, 0, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_vq_num_free(&VQ), 4);
    down();
}

/* A device that never answers: the wait ends, and says what it waited for. */
static void test_timeout_names_indexes(void **state)
{
    (void)state;
    up(1, 8);
    S.never_complete = true;
    S.handler = NULL;
    struct lvio_sg in = {0x1000, 8};
    lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL);
    lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL);
    lvio_vq_kick(&VQ);
    uint64_t t0 = S.now;
    assert_int_equal(lvio_vq_wait(&VQ, 5000000, NULL, NULL), LVIO_E_TIMEOUT);
    assert_true(S.now - t0 >= 5000000);
    const char *msg = lvio_device_error(&D);
    assert_non_null(strstr(msg, "queue 0: no completion after"));
    assert_non_null(strstr(msg, "avail idx 2, used idx 0, last seen 0, in flight 2"));
    assert_non_null(strstr(S.log, "LVIO_E_TIMEOUT"));
    assert_non_null(strstr(S.log, "mmio@0x0a003e00"));
    down();
}

/* A clock that never moves cannot turn a wait into a hang. */
static void test_stopped_clock_still_times_out(void **state)
{
    (void)state;
    up(2, 8);
    S.never_complete = true;
    S.handler = NULL;
    S.tick = 0;
    struct lvio_sg in = {0x1000, 8};
    lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL);
    lvio_vq_kick(&VQ);
    assert_int_equal(lvio_vq_wait(&VQ, 1000, NULL, NULL), LVIO_E_TIMEOUT);
    down();
}

static void test_needs_reset_ends_wait(void **state)
{
    (void)state;
    up(2, 8);
    S.never_complete = true;
    S.handler = NULL;
    struct lvio_sg in = {0x1000, 8};
    lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL);
    lvio_vq_kick(&VQ);
    S.status |= LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    assert_int_equal(lvio_vq_wait(&VQ, 1000000000, NULL, NULL), LVIO_E_NEEDS_RESET);
    assert_true(S.now < 1000000000); /* noticed early, not at the timeout */
    down();
}

static void submit_one(uint32_t len)
{
    struct lvio_sg in = {SIM_DMA_BASE, len};
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    lvio_vq_kick(&VQ);
}

static void expect_broken(const char *why)
{
    assert_int_equal(lvio_vq_get(&VQ, NULL, NULL), LVIO_E_BROKEN);
    assert_non_null(strstr(lvio_device_error(&D), why));
    assert_non_null(strstr(lvio_device_error(&D), "marked broken"));
    /* Later calls fail fast without touching the ring. */
    struct lvio_sg in = {0x1000, 8};
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), LVIO_E_BROKEN);
    assert_int_equal(lvio_vq_kick(&VQ), LVIO_E_BROKEN);
    assert_int_equal(lvio_vq_wait(&VQ, 1000, NULL, NULL), LVIO_E_BROKEN);
}

static void test_used_id_out_of_range(void **state)
{
    (void)state;
    up(2, 8);
    S.bad_used_id = 9;
    submit_one(8);
    expect_broken("out of range");
    down();
}

static void test_used_id_not_in_flight(void **state)
{
    (void)state;
    up(2, 8);
    S.bad_used_id = 3; /* in range, never made available */
    submit_one(8);
    expect_broken("not a chain in flight");
    down();
}

static void test_used_idx_runs_ahead(void **state)
{
    (void)state;
    up(1, 8);
    S.used_idx_jump = 5;
    submit_one(8);
    expect_broken("ran ahead");
    down();
}

static void test_used_len_clamped(void **state)
{
    (void)state;
    up(2, 8);
    S.len_override = 100000;
    submit_one(8);
    uint32_t len;
    assert_int_equal(lvio_vq_get(&VQ, NULL, &len), 1);
    assert_int_equal(len, 8);
    assert_int_equal(VQ.clamped, 1);
    assert_non_null(strstr(S.log, "clamped"));
    down();
}

static void test_no_notify_honoured(void **state)
{
    (void)state;
    up(2, 8);
    S.never_complete = true;
    VQ.used->flags = lvio_cpu_to_le16(LVIO_VIRTQ_USED_F_NO_NOTIFY);
    submit_one(8);
    assert_int_equal(S.notifies, 0);
    VQ.used->flags = 0;
    submit_one(8);
    assert_int_equal(S.notifies, 1);
    assert_int_equal(lvio_vq_kick(&VQ), 0); /* nothing new: no second notify */
    assert_int_equal(S.notifies, 1);
    down();
}

/* One kick for a batch of requests. */
static void test_batch_one_notify(void **state)
{
    (void)state;
    up(1, 8);
    struct lvio_sg in = {SIM_DMA_BASE, 8};
    for (int i = 0; i < 5; i++)
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    assert_int_equal(lvio_vq_kick(&VQ), 0);
    assert_int_equal(S.notifies, 1);
    int n = 0;
    while (lvio_vq_get(&VQ, NULL, NULL) == 1)
        n++;
    assert_int_equal(n, 5);
    down();
}


/* ---- indirect descriptors, event indexes ---------------------------------------- */

#define F_INDIRECT (1ull << LVIO_VIRTIO_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ull << LVIO_VIRTIO_F_EVENT_IDX)

/* A live device offering `features` (ring features), queue 0 of `size`. */
static void up_with(uint32_t version, uint16_t size, uint64_t features, uint64_t refused)
{
    sim_init(&S, version, LVIO_VIRTIO_ID_RNG);
    S.handler = sim_rng_handler;
    S.features |= features;
    sim_probe(&S, &D);
    D.features_refused = refused;
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, size), 0);
    assert_int_equal(lvio_device_driver_ok(&D), 0);
}

/* Chains of 2..LVIO_VQ_INDIRECT_MAX buffers take one descriptor each: a
 * queue of 8 carries 8 requests of 4 buffers at once, every buffer found
 * by the device model through the table, on both versions; a longer
 * chain uses ring descriptors; refused, the feature is not used. */
static void test_indirect_chains(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up_with(v, 8, F_INDIRECT, 0);
        assert_true(VQ.indirect);
        struct dbuf b = dbuf_new();
        S.hold = true;
        for (unsigned r = 0; r < 8; r++) {
            struct lvio_sg in[4] = {{b.addr + r * 512, 8},
                                    {b.addr + r * 512 + 64, 16},
                                    {b.addr + r * 512 + 128, 32},
                                    {b.addr + r * 512 + 256, 64}};
            assert_int_equal(lvio_vq_add(&VQ, NULL, 0, in, 4, (void *)(uintptr_t)(r + 1)), 0);
        }
        assert_int_equal(lvio_vq_num_free(&VQ), 0);
        assert_int_equal(VQ.indirect_chains, 8);
        assert_int_equal(lvio_vq_kick(&VQ), 0);
        /* The device sees four buffers per chain, in order, with the right flags. */
        for (unsigned h = 0; h < S.nheld; h++) {
            for (unsigned i = 0; i < 4; i++) {
                uint64_t a;
                uint32_t len;
                uint16_t fl;
                assert_true(sim_chain_buf(&S, 0, S.held[h].head, i, &a, &len, &fl));
                assert_int_equal(len, 8u << i);
                assert_true(fl & LVIO_VIRTQ_DESC_F_WRITE);
            }
            uint64_t a;
            uint32_t len;
            uint16_t fl;
            assert_false(sim_chain_buf(&S, 0, S.held[h].head, 4, &a, &len, &fl));
        }
        S.hold = false;
        sim_release_reversed(&S);
        for (unsigned r = 0; r < 8; r++) {
            void *tok;
            uint32_t len;
            assert_int_equal(lvio_vq_get(&VQ, &tok, &len), 1);
            assert_int_equal(len, 8 + 16 + 32 + 64);
        }
        assert_int_equal(lvio_vq_num_free(&VQ), 8);
        /* Longer than a table: ring descriptors. */
        struct lvio_sg many[LVIO_VQ_INDIRECT_MAX + 1];
        for (unsigned i = 0; i < LVIO_VQ_INDIRECT_MAX + 1; i++)
            many[i] = (struct lvio_sg){b.addr + i * 8, 8};
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, many, LVIO_VQ_INDIRECT_MAX + 1, NULL),
                         LVIO_E_INVAL); /* more than the 8 descriptors there are */
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, many, LVIO_VQ_INDIRECT_MAX, NULL), 0);
        assert_int_equal(lvio_vq_num_free(&VQ), 7);
        assert_int_equal(lvio_vq_kick(&VQ), 0);
        assert_int_equal(lvio_vq_wait(&VQ, 1000000, NULL, NULL), 0);
        dbuf_free(&b);
        down();
    }
    up_with(2, 8, F_INDIRECT, F_INDIRECT);
    assert_false(VQ.indirect);
    assert_int_equal(S.driver_features & F_INDIRECT, 0);
    down();
}

/* Complete one request at a time, `n` times, polling (no relax: the device
 * moves only when notified, so a notification wrongly saved hangs the
 * test as a timeout). */
static void run_requests(unsigned n)
{
    struct dbuf b = dbuf_new();
    struct lvio_sg in = {b.addr, 4};
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
        assert_int_equal(lvio_vq_kick(&VQ), 0);
        if (lvio_vq_wait(&VQ, 1000000, NULL, NULL) != 0)
            fail_msg("request %u (avail idx %u): %s", i, VQ.avail_idx, lvio_device_error(&D));
    }
    dbuf_free(&b);
}

/* EVENT_IDX across the 16-bit wrap: the device asks (avail_event) for a
 * notification at every new index, so each kick is needed and none is
 * lost, before and after 65535; used_event follows what was consumed. */
static void test_event_idx_across_wrap(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up_with(v, 4, F_EVENT_IDX, 0);
        assert_true(VQ.event_idx);
        S.hal.relax = NULL;
        run_requests(65530);
        uint32_t notifies = S.notifies;
        run_requests(12); /* 65530 .. 65541: through the wrap */
        assert_int_equal(S.notifies - notifies, 12);
        assert_int_equal(VQ.avail_idx, (uint16_t)65542);
        uint16_t used_event;
        memcpy(&used_event, &VQ.avail->ring[VQ.size], 2);
        assert_int_equal(lvio_dev16_to_cpu(&D, used_event), VQ.last_used);
        assert_int_equal(VQ.kicks_saved, 0);
        down();
    }
}

/* A batch under EVENT_IDX: the device is still working on the first
 * chain, so its avail_event is behind: adding more does not need a kick
 * until it has caught up; nothing is lost. */
static void test_event_idx_saves_kicks(void **state)
{
    (void)state;
    up_with(2, 8, F_EVENT_IDX, 0);
    struct dbuf b = dbuf_new();
    struct lvio_sg in = {b.addr, 4};
    S.hold = true; /* takes chains, keeps them */
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    assert_int_equal(lvio_vq_kick(&VQ), 0); /* avail_event 0: needed */
    assert_int_equal(S.notifies, 1);
    /* The device consumed index 0 and asked for a notification at 1. */
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    assert_int_equal(lvio_vq_kick(&VQ), 0);
    assert_int_equal(S.notifies, 2);
    /* Now it stops writing avail_event (as if busy elsewhere): index 2
     * is past what it asked for, so no kick is needed by the rule. */
    S.stale_avail_event = true;
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    assert_int_equal(lvio_vq_kick(&VQ), 0);
    assert_int_equal(S.notifies, 3); /* avail_event 2 lies in [2, 4): one kick for both */
    assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
    assert_int_equal(lvio_vq_kick(&VQ), 0);
    assert_int_equal(S.notifies, 3); /* avail_event still 2: not needed */
    assert_int_equal(VQ.kicks_saved, 1);
    /* A device that ignores avail_event is still served by polling. */
    S.hold = false;
    sim_release_reversed(&S);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lvio_vq_wait(&VQ, 1000000, NULL, NULL), 0);
    dbuf_free(&b);
    down();
}

/* Used-buffer notifications: disabled, the device sends none (flag, or
 * used_event left behind); enabling says whether completions came
 * meanwhile, so none is missed. */
static void test_used_notifications_enable_then_check(void **state)
{
    (void)state;
    for (int ev = 0; ev < 2; ev++) {
        up_with(2, 8, ev ? F_EVENT_IDX : 0, 0);
        struct dbuf b = dbuf_new();
        struct lvio_sg in = {b.addr, 4};
        run_requests(3);
        assert_int_equal(S.interrupts, 3);
        lvio_vq_disable_cb(&VQ);
        S.hold = true;
        for (int i = 0; i < 3; i++)
            assert_int_equal(lvio_vq_add(&VQ, NULL, 0, &in, 1, NULL), 0);
        assert_int_equal(lvio_vq_kick(&VQ), 0);
        S.hold = false;
        sim_release_reversed(&S);
        /* Without EVENT_IDX the flag stops all three; with it, used_event
         * (3) is passed once. */
        assert_int_equal(S.interrupts, ev ? 4 : 3);
        assert_true(lvio_vq_enable_cb(&VQ)); /* three are waiting */
        for (int i = 0; i < 3; i++)
            assert_int_equal(lvio_vq_get(&VQ, NULL, NULL), 1);
        assert_false(lvio_vq_enable_cb(&VQ));
        unsigned before = S.interrupts;
        run_requests(2);
        assert_int_equal(S.interrupts - before, 2); /* on again */
        dbuf_free(&b);
        down();
    }
    assert_false(lvio_vq_enable_cb(NULL));
    lvio_vq_disable_cb(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_request_both_versions),
        cmocka_unit_test(test_chain_layout),
        cmocka_unit_test(test_out_of_order_completion),
        cmocka_unit_test(test_free_list_after_mixed_chains),
        cmocka_unit_test(test_index_wraparound),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_timeout_names_indexes),
        cmocka_unit_test(test_stopped_clock_still_times_out),
        cmocka_unit_test(test_needs_reset_ends_wait),
        cmocka_unit_test(test_used_id_out_of_range),
        cmocka_unit_test(test_used_id_not_in_flight),
        cmocka_unit_test(test_used_idx_runs_ahead),
        cmocka_unit_test(test_used_len_clamped),
        cmocka_unit_test(test_no_notify_honoured),
        cmocka_unit_test(test_batch_one_notify),
        cmocka_unit_test(test_indirect_chains),
        cmocka_unit_test(test_event_idx_across_wrap),
        cmocka_unit_test(test_event_idx_saves_kicks),
        cmocka_unit_test(test_used_notifications_enable_then_check),
    };
    return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}
