/* The virtio-rng driver against the simulated device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static struct sim S;
static struct lvio_device D;
static struct lvio_rng R;

static void up(uint32_t version)
{
    sim_init(&S, version, LVIO_VIRTIO_ID_RNG);
    S.handler = sim_rng_handler;
    sim_probe(&S, &D);
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    assert_true(S.status & LVIO_VIRTIO_STATUS_DRIVER_OK);
}

static void down(void)
{
    assert_string_equal(S.error, "");
    lvio_rng_teardown(&R);
    assert_int_equal(S.status, 0);
    assert_int_equal(S.live_pages, 0); /* every DMA page came back */
}

/* The model's bytes are 0, 1, 2, …: a read sees them in order. */
static void assert_sequence(const uint8_t *buf, size_t len, uint8_t first)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)(first + i))
            fail_msg("byte %zu is %u, expected %u", i, buf[i], (uint8_t)(first + i));
}

static void test_small_read_both_versions(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v);
        uint8_t buf[32];
        assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 32);
        assert_sequence(buf, sizeof buf, 0);
        assert_int_equal(R.requests, 1);
        down();
    }
}

/* A buffer larger than all request slots together takes many requests. */
static void test_large_read(void **state)
{
    (void)state;
    up(2);
    static uint8_t buf[10000];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 10000);
    assert_sequence(buf, sizeof buf, 0);
    assert_true(R.requests >= 10000 / LVIO_RNG_SLOT_SIZE);
    down();
}

/* A rate-limited device gives a little per request; the read still fills. */
static void test_rate_limited_device(void **state)
{
    (void)state;
    up(1);
    S.rng_limit = 64;
    uint8_t buf[1000];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 1000);
    assert_sequence(buf, sizeof buf, 0);
    assert_true(R.requests >= 1000 / 64);
    down();
}

/* Time runs out after some bytes came: a short read returns them. */
static void test_short_read(void **state)
{
    (void)state;
    up(2);
    S.complete_budget = 1; /* the first request completes, the rest hang */
    uint8_t buf[3000];
    int n = lvio_rng_read(&R, buf, sizeof buf, 2000000);
    assert_int_equal(n, LVIO_RNG_SLOT_SIZE);
    assert_sequence(buf, (size_t)n, 0);
    S.hold = false;
    S.nheld = 0; /* the device drops them; the reset in down() reclaims them */
    down();
}

/* Nothing came at all: a named timeout; the pending request serves the next
 * read, which takes only what it asked for from it. */
static void test_timeout_then_late_completion(void **state)
{
    (void)state;
    up(2);
    S.hold = true;
    uint8_t big[100];
    assert_int_equal(lvio_rng_read(&R, big, sizeof big, 3000000), LVIO_E_TIMEOUT);
    assert_non_null(strstr(lvio_device_error(&D), "no completion after"));
    assert_int_equal(lvio_reqs_count(&R.reqs, LVIO_REQ_BUSY), 1); /* the slot is still the device's */
    S.hold = false;
    sim_release_reversed(&S);
    uint32_t before = S.notifies;
    uint8_t *buf = test_malloc(16); /* exact size: ASan sees any overrun */
    assert_int_equal(lvio_rng_read(&R, buf, 16, 3000000), 16);
    assert_sequence(buf, 16, 0);
    test_free(buf);
    assert_int_equal(S.notifies, before); /* served by the late completion */
    assert_int_equal(lvio_reqs_count(&R.reqs, LVIO_REQ_BUSY), 0);
    down();
}

static void test_nonblocking(void **state)
{
    (void)state;
    up(2);
    S.hold = true;
    uint8_t buf[8];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 0), LVIO_E_AGAIN);
    S.hold = false;
    sim_release_reversed(&S);
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 0), 8);
    down();
}

/* A device claiming to have written more than offered cannot overflow. */
static void test_overlong_completion(void **state)
{
    (void)state;
    up(2);
    S.len_override = 60000;
    uint8_t *buf = test_malloc(5);
    assert_int_equal(lvio_rng_read(&R, buf, 5, 1000000000), 5);
    assert_int_equal(R.vq.clamped, 1);
    test_free(buf);
    down();
}

static void test_bad_arguments(void **state)
{
    (void)state;
    up(2);
    uint8_t buf[4];
    assert_int_equal(lvio_rng_read(&R, NULL, 4, 1000), LVIO_E_INVAL);
    assert_int_equal(lvio_rng_read(&R, buf, (size_t)INT32_MAX + 1, 1000), LVIO_E_INVAL);
    assert_int_equal(lvio_rng_read(NULL, buf, 4, 1000), LVIO_E_INVAL);
    assert_int_equal(lvio_rng_read(&R, buf, 0, 1000), 0);
    down();
    assert_int_equal(lvio_rng_read(&R, buf, 4, 1000), LVIO_E_INVAL); /* torn down */

    sim_init(&S, 2, LVIO_VIRTIO_ID_GPU);
    sim_probe(&S, &D);
    assert_int_equal(lvio_rng_init(&R, &D), LVIO_E_INVAL);
    assert_non_null(strstr(lvio_device_error(&D), "not an rng"));
    assert_int_equal(S.reg_writes, 0);
}

/* Allocation failures at each step leave nothing behind and the device FAILED. */
static void test_init_out_of_memory(void **state)
{
    (void)state;
    for (int ok_allocs = 0; ok_allocs < 2; ok_allocs++) {
        sim_init(&S, 1, LVIO_VIRTIO_ID_RNG);
        sim_probe(&S, &D);
        S.fail_alloc_after = ok_allocs;
        assert_int_equal(lvio_rng_init(&R, &D), LVIO_E_NOMEM);
        assert_true(S.status & LVIO_VIRTIO_STATUS_FAILED);
        assert_int_equal(S.live_pages, 0);
    }
}

static void test_init_queue_missing(void **state)
{
    (void)state;
    sim_init(&S, 2, LVIO_VIRTIO_ID_RNG);
    S.q[0].num_max = 0;
    sim_probe(&S, &D);
    assert_int_equal(lvio_rng_init(&R, &D), LVIO_E_QUEUE);
    assert_true(S.status & LVIO_VIRTIO_STATUS_FAILED);
    assert_int_equal(S.live_pages, 0);
}

/* Two devices at once: no shared state, each its own bytes. */
static void test_two_devices(void **state)
{
    (void)state;
    static struct sim s2;
    struct lvio_device d2;
    static struct lvio_rng r2;
    up(1);
    sim_init(&s2, 2, LVIO_VIRTIO_ID_RNG);
    s2.handler = sim_rng_handler;
    s2.rng_byte = 100;
    sim_probe(&s2, &d2);
    assert_int_equal(lvio_rng_init(&r2, &d2), 0);
    uint8_t a[8], b[8];
    assert_int_equal(lvio_rng_read(&R, a, 8, 1000000), 8);
    assert_int_equal(lvio_rng_read(&r2, b, 8, 1000000), 8);
    assert_sequence(a, 8, 0);
    assert_sequence(b, 8, 100);
    lvio_rng_teardown(&r2);
    assert_int_equal(s2.live_pages, 0);
    down();
}

/* Init again after teardown: the device works as new. */
/* Recovery: after each way a device can fail a read, lvio_rng_reset brings
 * it back on the same struct, nothing leaks, and reads work again. */
static void test_reset_recovers(void **state)
{
    (void)state;
    for (int how = 0; how < 3; how++) {
        for (uint32_t v = 1; v <= 2; v++) {
            up(v);
            int pages = S.live_pages;
            uint8_t buf[32];
            int want;
            if (how == 0) {           /* the device stops answering */
                S.never_complete = true;
                want = LVIO_E_TIMEOUT;
            } else if (how == 1) {    /* it asks to be reset */
                S.never_complete = true;
                S.status |= LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
                want = LVIO_E_NEEDS_RESET;
            } else {                  /* it breaks the ring rules */
                S.bad_used_id = 200;
                want = LVIO_E_BROKEN;
            }
            assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000), want);
            if (how == 2) /* a broken queue fails fast, without the device */
                assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000), LVIO_E_BROKEN);
            S.never_complete = false;
            S.bad_used_id = -1;
            S.error[0] = '\0'; /* the model saw the lost request dropped by the reset */
            assert_int_equal(lvio_rng_reset(&R), 0);
            assert_true(S.status & LVIO_VIRTIO_STATUS_DRIVER_OK);
            assert_int_equal(S.live_pages, pages); /* the same as a fresh init, no more */
            assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000000), 32);
            down();
        }
    }
    struct lvio_rng never;
    memset(&never, 0, sizeof never);
    assert_int_equal(lvio_rng_reset(&never), LVIO_E_INVAL);
    assert_int_equal(lvio_rng_reset(NULL), LVIO_E_INVAL);
}

static void test_reinit(void **state)
{
    (void)state;
    up(1);
    uint8_t buf[8];
    assert_int_equal(lvio_rng_read(&R, buf, 8, 1000000), 8);
    lvio_rng_teardown(&R);
    assert_int_equal(lvio_rng_init(&R, &D), 0);
    assert_int_equal(lvio_rng_read(&R, buf, 8, 1000000), 8);
    assert_sequence(buf, 8, 8);
    down();
}


/* ---- hardening round 2 ------------------------------------------------------ */

/* The device never completes its reset and goes on using its queue:
 * teardown keeps the ring and the request page (the device may still
 * write them) instead of freeing them, counts them and says so by name. */
static void test_teardown_keeps_memory_when_reset_never_completes(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        up(v);
        int pages = S.live_pages;
        S.hold = true;
        uint8_t buf[16];
        assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 1000000), LVIO_E_TIMEOUT);
        S.reset_stuck = true;
        lvio_rng_teardown(&R);
        assert_true(D.dead);
        assert_int_equal(D.kept_pages, pages);
        assert_int_equal(S.live_pages, pages); /* nothing freed under the device */
        assert_non_null(strstr(lvio_device_error(&D), "reset"));
        assert_non_null(strstr(S.log, "LVIO_E_DEAD"));
        /* The device answers late, into memory that is still there. */
        S.hold = false;
        sim_release_reversed(&S);
        sim_step(&S);
        assert_string_equal(S.error, "");
        /* The memory is the device's now: the test gives it back. */
        sim_free_dma(&S); /* kept for a dead device: the test gives it back */
    }
}

/* A queue the device refuses after it was given the ring, and a reset that
 * then never completes: init fails with LVIO_E_DEAD, the message names
 * both, and the ring is kept. */
static void test_refused_queue_then_stuck_reset(void **state)
{
    (void)state;
    for (uint32_t v = 1; v <= 2; v++) {
        for (int through_init = 0; through_init < 2; through_init++) {
            sim_init(&S, v, LVIO_VIRTIO_ID_RNG);
            sim_probe(&S, &D);
            S.refuse_queue = true;
            S.reset_stuck = true;
            S.resets_before_stuck = 1; /* lvio_device_begin's own reset works */
            if (through_init) {
                assert_int_equal(lvio_rng_init(&R, &D), LVIO_E_DEAD);
            } else {
                struct lvio_virtqueue vq;
                assert_int_equal(lvio_device_begin(&D, 0), 0);
                assert_int_equal(lvio_vq_setup(&vq, &D, 0, 4), LVIO_E_DEAD);
            }
            const char *msg = lvio_device_error(&D);
            assert_non_null(strstr(msg, v == 1 ? "QueuePFN" : "QueueReady"));
            assert_non_null(strstr(msg, "reset: status still"));
            assert_true(D.dead);
            assert_true(S.live_pages > 0);
            assert_int_equal(S.live_pages, D.kept_pages); /* ring (and page) kept */
            sim_free_dma(&S); /* kept for a dead device: the test gives it back */
        }
    }
}

/* A stopped clock and a device that answers every request at once with 0
 * bytes: the read ends (it used to spin forever), with a timeout that says
 * what the device did and that the clock stood still. */
static void test_zero_byte_answers_with_stopped_clock(void **state)
{
    (void)state;
    up(2);
    S.handler = NULL; /* complete with 0 bytes */
    S.tick = 0;
    S.relax_limit = 3ull * LVIO_CLOCK_STALL_POLLS;
    uint8_t buf[32];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 100000000), LVIO_E_TIMEOUT);
    const char *msg = lvio_device_error(&D);
    assert_non_null(strstr(msg, "with 0 bytes"));
    assert_non_null(strstr(msg, "clock stood still"));
    assert_true(R.empty > 0);
    S.relax_limit = 0;
    S.tick = 1000;
    down();
}

/* A stopped clock and a silent device: the read ends after a number of
 * polls that does not grow with the timeout (it used to be the timeout in
 * ms times a million). */
static void test_stopped_clock_polls_do_not_grow_with_timeout(void **state)
{
    (void)state;
    uint64_t polls[2];
    const uint64_t timeouts[2] = {100000000ull, 60000000000ull}; /* 100 ms, 60 s */
    for (int i = 0; i < 2; i++) {
        up(2);
        S.never_complete = true;
        S.tick = 0;
        S.relax_calls = 0;
        S.relax_limit = 3ull * LVIO_CLOCK_STALL_POLLS;
        uint8_t buf[32];
        assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, timeouts[i]), LVIO_E_TIMEOUT);
        polls[i] = S.relax_calls;
        assert_non_null(strstr(lvio_device_error(&D), "no completion"));
        assert_non_null(strstr(lvio_device_error(&D), "clock stood still"));
        S.relax_limit = 0;
        S.tick = 1000;
        S.never_complete = false;
        S.error[0] = '\0';
        down();
    }
    assert_true(polls[0] <= LVIO_CLOCK_STALL_POLLS + 2);
    assert_int_equal(polls[0], polls[1]);
}

/* "Wait forever" (UINT64_MAX) with a clock that runs: the read waits for a
 * device that answers only after 600 000 polls (a poll budget computed
 * from the timeout used to overflow to about 450 000). */
static void test_wait_forever_is_not_cut_short(void **state)
{
    (void)state;
    up(2);
    S.delay_polls = 600000;
    uint8_t buf[8];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, UINT64_MAX), 8);
    assert_sequence(buf, 8, 0);
    down();
}

/* A short read is a success: nothing is logged as an error. */
static void test_short_read_logs_no_error(void **state)
{
    (void)state;
    up(2);
    S.complete_budget = 1;
    uint8_t buf[3000];
    S.log[0] = '\0';
    S.log_len = 0;
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 2000000), LVIO_RNG_SLOT_SIZE);
    assert_null(strstr(S.log, "LVIO_E_"));
    assert_string_equal(lvio_device_error(&D), "");
    S.hold = false;
    S.nheld = 0;
    down();
}

/* Calls on a device whose probe failed (no transport) or on NULL. */
static void test_calls_on_unprobed_device(void **state)
{
    (void)state;
    sim_init(&S, 2, LVIO_VIRTIO_ID_RNG);
    S.magic = 0;
    assert_int_equal(lvio_mmio_probe(&D, &S.hal, SIM_MMIO_PHYS, 0x200), LVIO_E_NOT_VIRTIO);
    assert_int_equal(lvio_rng_init(&R, &D), LVIO_E_INVAL);
    assert_int_equal(lvio_rng_init(&R, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_rng_init(NULL, &D), LVIO_E_INVAL);
    lvio_rng_teardown(NULL);
    assert_int_equal(lvio_rng_reset(NULL), LVIO_E_INVAL);
}

/* lvio_rng_poll takes completions without a read (after an interrupt);
 * the bytes wait in the driver and the next read takes them first, with
 * no new request. */
static void test_poll_keeps_bytes_for_the_next_read(void **state)
{
    (void)state;
    up(2);
    S.hold = true;
    uint8_t buf[16];
    assert_int_equal(lvio_rng_read(&R, buf, sizeof buf, 0), LVIO_E_AGAIN); /* requested */
    assert_int_equal(lvio_rng_poll(&R), 0); /* nothing came yet */
    S.hold = false;
    sim_release_reversed(&S);
    assert_int_equal(lvio_rng_poll(&R), 16);
    assert_int_equal(lvio_reqs_count(&R.reqs, LVIO_REQ_BUSY), 0);
    uint32_t notifies = S.notifies;
    uint64_t requests = R.requests;
    assert_int_equal(lvio_rng_read(&R, buf, 10, 0), 10);
    assert_sequence(buf, 10, 0);
    assert_int_equal(R.requests, requests); /* served from what was kept */
    assert_int_equal(S.notifies, notifies);
    assert_int_equal(lvio_rng_poll(&R), 0); /* the rest of that slot was wiped */
    assert_int_equal(lvio_rng_read(&R, buf, 8, 1000000), 8);
    assert_int_equal(lvio_rng_poll(NULL), LVIO_E_INVAL);
    down();
    assert_int_equal(lvio_rng_poll(&R), LVIO_E_INVAL); /* torn down */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_read_both_versions),
        cmocka_unit_test(test_large_read),
        cmocka_unit_test(test_rate_limited_device),
        cmocka_unit_test(test_short_read),
        cmocka_unit_test(test_timeout_then_late_completion),
        cmocka_unit_test(test_nonblocking),
        cmocka_unit_test(test_overlong_completion),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_init_out_of_memory),
        cmocka_unit_test(test_init_queue_missing),
        cmocka_unit_test(test_two_devices),
        cmocka_unit_test(test_reinit),
        cmocka_unit_test(test_reset_recovers),
        cmocka_unit_test(test_teardown_keeps_memory_when_reset_never_completes),
        cmocka_unit_test(test_refused_queue_then_stuck_reset),
        cmocka_unit_test(test_zero_byte_answers_with_stopped_clock),
        cmocka_unit_test(test_stopped_clock_polls_do_not_grow_with_timeout),
        cmocka_unit_test(test_wait_forever_is_not_cut_short),
        cmocka_unit_test(test_short_read_logs_no_error),
        cmocka_unit_test(test_calls_on_unprobed_device),
        cmocka_unit_test(test_poll_keeps_bytes_for_the_next_read),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
