/*
 * The request engine (lvio/request.h) alone, against the simulated device
 * of sim.h: batches go out whole or not at all under one notify, a wait
 * is bounded and names the request the device is stuck on, lost slots are
 * kept until the device gives them back and what they hold is released
 * exactly once, slot exhaustion is said by name, completions come in the
 * device's order, and a dead device keeps the memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

#define NSLOTS 4
#define SLOT_SIZE 64u
#define RESP_OFF 32u
#define WAIT_NS 1000000ull /* 1 ms of the fake clock */

static struct sim S;
static struct lvio_device D;
static struct lvio_virtqueue VQ;
static struct lvio_reqs R;
static struct lvio_req_slot SLOTS[NSLOTS];

/* What the release callback was given, in order. */
static void *released[16];
static unsigned nreleased;

static void count_release(void *ctx, void *held)
{
    assert_ptr_equal(ctx, &R);
    assert_true(nreleased < sizeof released / sizeof released[0]);
    released[nreleased++] = held;
}

/* The device: every buffer it may write is filled with the first byte of
 * the request plus one, so each response says which request it answers. */
static uint32_t echo_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    uint64_t addr;
    uint32_t len, total = 0;
    uint16_t flags;
    uint8_t tag = 0;
    for (unsigned i = 0; sim_chain_buf(s, queue, head, i, &addr, &len, &flags); i++) {
        uint8_t *p = sim_mem(s, addr, len);
        if (!p)
            return 0;
        if (!(flags & LVIO_VIRTQ_DESC_F_WRITE)) {
            tag = i == 0 ? p[0] : tag;
            continue;
        }
        memset(p, tag + 1, len);
        total += len;
    }
    return total;
}

/* A device with a queue of `qsize` descriptors, the engine's NSLOTS slots
 * of 64 bytes (request at +0, response at +32) on it. */
static void up(uint16_t qsize)
{
    sim_init(&S, 2, LVIO_VIRTIO_ID_BLOCK);
    S.handler = echo_handler;
    S.q[0].num_max = qsize;
    sim_probe(&S, &D);
    nreleased = 0;
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(lvio_reqs_init(&R, &D, &VQ, SLOTS, NSLOTS, SLOT_SIZE, RESP_OFF), 0);
    R.release = count_release;
    R.release_ctx = &R;
    assert_int_equal(lvio_vq_setup(&VQ, &D, 0, 0), 0);
    assert_int_equal(VQ.size, qsize);
    assert_int_equal(lvio_device_driver_ok(&D), 0);
}

static void down(void)
{
    assert_string_equal(S.error, "");
    assert_int_equal(lvio_device_reset(&D), 0);
    lvio_vq_teardown(&VQ);
    lvio_reqs_teardown(&R);
    assert_int_equal(S.live_pages, 0);
}

/* A request in slot `slot`: 16 bytes starting with `tag`, 8 bytes of
 * response. */
static struct lvio_req request(unsigned slot, uint8_t tag)
{
    uint8_t *req = lvio_req_buf(&R, slot);
    memset(req, 0, RESP_OFF);
    req[0] = tag;
    memset(lvio_req_resp(&R, slot), 0, SLOT_SIZE - RESP_OFF);
    return (struct lvio_req){.slot = slot, .req_len = 16, .resp_len = 8};
}

/* Take `n` slots and fill a batch of `n` requests tagged 10, 11, ...;
 * with `out`, each has a second readable buffer (three descriptors). */
static void prepare(struct lvio_req *batch, unsigned n, bool out)
{
    unsigned s[NSLOTS];
    assert_int_equal(lvio_reqs_alloc(&R, s, n), 0);
    for (unsigned i = 0; i < n; i++) {
        batch[i] = request(s[i], (uint8_t)(10 + i));
        if (out)
            batch[i].out = (struct lvio_sg){lvio_req_addr(&R, s[i]) + 16, 8};
    }
}

/* ...and send it. */
static void send(struct lvio_req *batch, unsigned n)
{
    prepare(batch, n, false);
    assert_int_equal(lvio_reqs_submit(&R, batch, n), 0);
}

/* A batch of `n` the device takes and sits on: the wait gives up on it. */
static void lose(struct lvio_req *batch, unsigned n)
{
    S.hold = true;
    send(batch, n);
    assert_int_equal(lvio_reqs_wait(&R, batch, n, WAIT_NS), LVIO_E_TIMEOUT);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(SLOTS[batch[i].slot].state, LVIO_REQ_LOST);
}

static void check_message(const char *part)
{
    if (!strstr(lvio_device_error(&D), part))
        fail_msg("error message \"%s\" does not say \"%s\"", lvio_device_error(&D), part);
}

/* The ring as the driver left it: chains in flight and free descriptors. */
struct ring_state {
    unsigned in_flight, free_desc;
    uint32_t notifies;
};

static struct ring_state ring_now(void)
{
    return (struct ring_state){lvio_vq_in_flight(&VQ), lvio_vq_num_free(&VQ), S.notifies};
}

static void check_ring_unchanged(struct ring_state was)
{
    struct ring_state now = ring_now();
    assert_int_equal(now.in_flight, was.in_flight);
    assert_int_equal(now.free_desc, was.free_desc);
    assert_int_equal(now.notifies, was.notifies);
}

/* ---- batches ----------------------------------------------------------------- */

/* One kick for a whole batch; every response answers its own request. */
static void test_one_notify_per_batch(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[NSLOTS];
    uint32_t notifies = S.notifies;
    send(batch, NSLOTS);
    assert_int_equal(S.notifies, notifies + 1);
    assert_int_equal(R.batches, 1);
    assert_int_equal(R.requests, NSLOTS);
    assert_int_equal(lvio_reqs_wait(&R, batch, NSLOTS, WAIT_NS), 0);
    for (unsigned i = 0; i < NSLOTS; i++) {
        const struct lvio_req_slot *s = &SLOTS[batch[i].slot];
        const uint8_t *resp = lvio_req_resp(&R, batch[i].slot);
        assert_int_equal(s->state, LVIO_REQ_DONE);
        assert_int_equal(s->len, 8);
        assert_int_equal(resp[0], 11 + i);
        assert_int_equal(resp[8], 0); /* past what was offered: untouched */
        lvio_reqs_put(&R, batch[i].slot);
    }
    assert_int_equal(lvio_reqs_count(&R, LVIO_REQ_FREE), NSLOTS);
    down();
}

/* The extra buffers go where the chain's order says: request, out; then
 * in, response. */
static void test_extra_buffers(void **state)
{
    (void)state;
    up(16);
    struct lvio_req q;
    unsigned s[2];
    assert_int_equal(lvio_reqs_alloc(&R, s, 2), 0);
    q = request(s[0], 5);
    q.out = (struct lvio_sg){lvio_req_addr(&R, s[1]), 4};
    q.in = (struct lvio_sg){lvio_req_addr(&R, s[1]) + RESP_OFF, 16};
    assert_int_equal(lvio_reqs_submit(&R, &q, 1), 0);
    assert_int_equal(lvio_reqs_wait(&R, &q, 1, WAIT_NS), 0);
    assert_int_equal(SLOTS[s[0]].len, 16 + 8);
    assert_int_equal(SLOTS[s[0]].resp_len, 16 + 8);
    assert_int_equal(((uint8_t *)lvio_req_resp(&R, s[1]))[15], 6);
    assert_int_equal(((uint8_t *)lvio_req_resp(&R, s[0]))[7], 6);
    lvio_reqs_put(&R, s[0]);
    down();
}

/* Lists go where the chain's order says (request, out, outs; ins, in,
 * response), each buffer its own descriptor; lvio_reqs_add sends no
 * notify until the caller kicks; lists that cannot be are refused whole. */
static void test_lists_and_add(void **state)
{
    (void)state;
    up(16);
    unsigned s[2];
    assert_int_equal(lvio_reqs_alloc(&R, s, 2), 0);
    uint64_t b = lvio_req_addr(&R, s[1]);
    struct lvio_sg outs[2] = {{b, 4}, {b + 8, 4}}, ins[2] = {{b + 16, 4}, {b + 24, 4}};
    struct lvio_req q = request(s[0], 7);
    q.out = (struct lvio_sg){b + 40, 2};
    q.in = (struct lvio_sg){b + 48, 2};
    q.outs = outs, q.n_outs = 2, q.ins = ins, q.n_ins = 2;
    uint32_t notifies = S.notifies;
    S.hold = true;
    assert_int_equal(lvio_reqs_add(&R, &q, 1), 0);
    assert_int_equal(S.notifies, notifies); /* not told yet */
    assert_int_equal(R.batches, 1);
    assert_int_equal(lvio_vq_kick(&VQ), 0);
    assert_int_equal(S.notifies, notifies + 1);
    assert_int_equal(S.nheld, 1);
    const struct {
        uint64_t addr;
        uint32_t len;
        bool write;
    } want[8] = {{lvio_req_addr(&R, s[0]), 16, false}, {b + 40, 2, false}, {b, 4, false},
                 {b + 8, 4, false}, {b + 16, 4, true}, {b + 24, 4, true}, {b + 48, 2, true},
                 {lvio_req_addr(&R, s[0]) + RESP_OFF, 8, true}};
    for (unsigned i = 0; i < 8; i++) {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        assert_true(sim_chain_buf(&S, 0, S.held[0].head, i, &addr, &len, &flags));
        assert_int_equal(addr, want[i].addr);
        assert_int_equal(len, want[i].len);
        assert_int_equal((flags & LVIO_VIRTQ_DESC_F_WRITE) != 0, want[i].write);
    }
    S.hold = false;
    sim_release_reversed(&S);
    assert_int_equal(lvio_reqs_wait(&R, &q, 1, WAIT_NS), 0);
    assert_int_equal(SLOTS[s[0]].resp_len, 4 + 4 + 2 + 8); /* every writable byte */
    lvio_reqs_put(&R, s[0]);

    /* Refused before anything goes out: an empty buffer in a list, a list
     * without its array, more than LVIO_REQ_MAX_BUFS buffers. */
    struct ring_state was = ring_now();
    struct lvio_sg empty[1] = {{b, 0}};
    q = request(s[0], 8);
    q.outs = empty, q.n_outs = 1;
    assert_int_equal(lvio_reqs_add(&R, &q, 1), LVIO_E_INVAL);
    q = request(s[0], 8);
    q.n_ins = 1;
    assert_int_equal(lvio_reqs_submit(&R, &q, 1), LVIO_E_INVAL);
    q = request(s[0], 8);
    q.ins = ins, q.n_ins = LVIO_REQ_MAX_BUFS;
    assert_int_equal(lvio_reqs_submit(&R, &q, 1), LVIO_E_INVAL);
    check_ring_unchanged(was);
    assert_int_equal(SLOTS[s[0]].state, LVIO_REQ_FREE);
    down();
}

/* A batch that does not fit the descriptors left by requests that timed
 * out is not started at all: nothing added, nothing kicked, the message
 * counts. Once they come back it goes out whole. */
static void test_batch_whole_or_nothing(void **state)
{
    (void)state;
    up(8);
    struct lvio_req lost[2], batch[2];
    S.hold = true;
    prepare(lost, 2, true); /* 3 descriptors each */
    assert_int_equal(lvio_reqs_submit(&R, lost, 2), 0);
    assert_int_equal(lvio_reqs_wait(&R, lost, 2, WAIT_NS), LVIO_E_TIMEOUT);
    assert_int_equal(lvio_vq_num_free(&VQ), 2);

    prepare(batch, 2, false); /* 2 descriptors each: 4 */
    struct ring_state was = ring_now();
    assert_int_equal(lvio_reqs_submit(&R, batch, 2), LVIO_E_AGAIN);
    check_message("queue 0 has 2 free descriptors, the batch needs 4 (6 are still with the "
                  "device");
    check_ring_unchanged(was);
    assert_int_equal(SLOTS[batch[0].slot].state, LVIO_REQ_FREE);
    assert_int_equal(SLOTS[batch[1].slot].state, LVIO_REQ_FREE);
    assert_int_equal(R.batches, 1);
    assert_int_equal(R.requests, 2);

    /* Bad batches are refused before anything goes out, too. */
    struct lvio_req twice[2] = {batch[0], batch[0]};
    assert_int_equal(lvio_reqs_submit(&R, twice, 2), LVIO_E_INVAL);
    struct lvio_req busy[1] = {lost[0]};
    assert_int_equal(lvio_reqs_submit(&R, busy, 1), LVIO_E_INVAL);
    struct lvio_req big = batch[0];
    big.resp_len = SLOT_SIZE - RESP_OFF + 8;
    assert_int_equal(lvio_reqs_submit(&R, &big, 1), LVIO_E_INVAL);
    check_ring_unchanged(was);

    /* The device answers the lost ones: the same batch now goes, whole. */
    S.hold = false;
    sim_release_reversed(&S);
    assert_int_equal(lvio_reqs_submit(&R, batch, 2), 0);
    assert_int_equal(R.requests, 4);
    assert_int_equal(S.notifies, was.notifies + 1);
    assert_int_equal(lvio_reqs_wait(&R, batch, 2, WAIT_NS), 0);
    lvio_reqs_put(&R, batch[0].slot);
    lvio_reqs_put(&R, batch[1].slot);
    assert_int_equal(nreleased, 0); /* nothing was held */
    down();
}

/* ---- waiting ----------------------------------------------------------------- */

/* The device answers the first request of three and sits on the others:
 * the wait ends after its bound, the answered one is DONE, the others
 * LOST, and the message names request 2 and its slot. */
static void test_wait_bound_names_the_stuck_request(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[3];
    S.complete_budget = 1;
    uint64_t t0 = S.now;
    send(batch, 3);
    assert_int_equal(lvio_reqs_wait(&R, batch, 3, WAIT_NS), LVIO_E_TIMEOUT);
    assert_true(S.now - t0 >= WAIT_NS);
    assert_true(S.now - t0 < 10 * WAIT_NS);
    char want[48];
    snprintf(want, sizeof want, "request 2 of 3 (slot %u): queue 0: no completion",
             batch[1].slot);
    check_message(want);
    assert_int_equal(SLOTS[batch[0].slot].state, LVIO_REQ_DONE);
    assert_int_equal(SLOTS[batch[1].slot].state, LVIO_REQ_LOST);
    assert_int_equal(SLOTS[batch[2].slot].state, LVIO_REQ_LOST);
    assert_int_equal(R.lost, 2);
    lvio_reqs_put(&R, batch[0].slot);
    S.hold = false;
    S.nheld = 0; /* the device drops them; the reset in down() ends them */
    down();
}

/* A clock that stands still ends the wait after a number of polls, and
 * says so; "forever" (UINT64_MAX) waits as long as the clock runs. */
static void test_wait_stopped_clock_and_forever(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[1];
    S.never_complete = true;
    send(batch, 1);
    S.tick = 0;
    S.relax_calls = 0;
    S.relax_limit = 3ull * LVIO_CLOCK_STALL_POLLS;
    assert_int_equal(lvio_reqs_wait(&R, batch, 1, UINT64_MAX), LVIO_E_TIMEOUT);
    assert_true(S.relax_calls <= LVIO_CLOCK_STALL_POLLS + 2);
    check_message("clock stood still");
    S.relax_limit = 0;
    S.tick = 1000;
    S.never_complete = false;

    S.delay_polls = 600000; /* answers late, but answers */
    send(batch, 1);
    assert_int_equal(lvio_reqs_wait(&R, batch, 1, UINT64_MAX), 0);
    lvio_reqs_put(&R, batch[0].slot);
    down();
}

/* A device that asks for a reset while a batch is out: the wait stops at
 * once with LVIO_E_NEEDS_RESET, naming the request. */
static void test_wait_needs_reset(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[2];
    S.hold = true;
    send(batch, 2);
    S.status |= LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    uint64_t t0 = S.now;
    assert_int_equal(lvio_reqs_wait(&R, batch, 2, 1000 * WAIT_NS), LVIO_E_NEEDS_RESET);
    assert_true(S.now - t0 < 1000 * WAIT_NS);
    check_message("request 1 of 2");
    check_message("DEVICE_NEEDS_RESET");
    assert_int_equal(lvio_reqs_count(&R, LVIO_REQ_LOST), 2);
    S.hold = false;
    S.nheld = 0;
    S.status &= (uint8_t)~LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    down();
}

/* ---- lost slots ----------------------------------------------------------------- */

/* Lost slots stay taken until the device answers; then what each held is
 * released, exactly once, and the slot is free again. */
static void test_lost_slots_held_until_answered(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[2];
    int thing[2];
    lose(batch, 2);
    SLOTS[batch[0].slot].held = &thing[0];
    SLOTS[batch[1].slot].held = &thing[1];

    /* Nothing is released, and no lost slot reused, while the device
     * keeps them: two further requests take the two other slots. */
    assert_int_equal(lvio_reqs_reap(&R), 0);
    S.hold = false;
    struct lvio_req more[2];
    send(more, 2);
    for (unsigned i = 0; i < 2; i++)
        assert_true(more[i].slot != batch[0].slot && more[i].slot != batch[1].slot);
    assert_int_equal(lvio_reqs_wait(&R, more, 2, WAIT_NS), 0);
    lvio_reqs_put(&R, more[0].slot);
    lvio_reqs_put(&R, more[1].slot);
    assert_int_equal(nreleased, 0);
    assert_int_equal(SLOTS[batch[0].slot].state, LVIO_REQ_LOST);

    /* The device answers late: released once each, slots free. */
    sim_release_reversed(&S);
    assert_int_equal(lvio_reqs_reap(&R), 0); /* no request answered: they were lost */
    assert_int_equal(nreleased, 2);
    assert_ptr_equal(released[0], &thing[1]); /* the device's order */
    assert_ptr_equal(released[1], &thing[0]);
    assert_null(SLOTS[batch[0].slot].held);
    assert_int_equal(lvio_reqs_count(&R, LVIO_REQ_FREE), NSLOTS);
    assert_int_equal(lvio_reqs_reap(&R), 0);
    down();
    assert_int_equal(nreleased, 2); /* not again at teardown */
}

/* A release may hand what it held on to another lost slot (as the GPU
 * does with a backing two lost commands read): at teardown everything
 * held is still released once. */
static void hand_on(void *ctx, void *held)
{
    count_release(ctx, held);
    for (unsigned i = 0; i < NSLOTS; i++) {
        if (SLOTS[i].state == LVIO_REQ_LOST && !SLOTS[i].held) {
            SLOTS[i].held = held;
            nreleased--; /* handed on, not released */
            return;
        }
    }
}

static void test_teardown_releases_held_once(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[3];
    int thing;
    lose(batch, 3);
    SLOTS[batch[0].slot].held = &thing;
    R.release = hand_on;
    down();
    assert_int_equal(nreleased, 1);
    assert_ptr_equal(released[0], &thing);
    assert_int_equal(lvio_reqs_count(&R, LVIO_REQ_FREE), NSLOTS);
}

/* Every slot lost: LVIO_E_AGAIN says so, by number. */
static void test_slot_exhaustion_message(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[NSLOTS];
    unsigned s[NSLOTS];
    lose(batch, NSLOTS);
    struct ring_state was = ring_now();
    assert_int_equal(lvio_reqs_alloc(&R, s, 1), LVIO_E_AGAIN);
    check_message("queue 0: 1 request slot(s) wanted, 0 of 4 free (4 held by requests that "
                  "timed out)");
    check_ring_unchanged(was);
    assert_int_equal(lvio_reqs_alloc(&R, s, NSLOTS + 1), LVIO_E_INVAL);
    S.hold = false;
    sim_release_reversed(&S);
    assert_int_equal(lvio_reqs_alloc(&R, s, NSLOTS), 0);
    down();
}

/* ---- completions ----------------------------------------------------------------- */

/* Completions are handed out in the order the device made them, not in
 * slot order; reap counts the answered ones. */
static void test_reap_order(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[3];
    S.hold = true;
    send(batch, 3);
    assert_int_equal(lvio_reqs_reap(&R), 0);
    assert_int_equal(lvio_reqs_next_done(&R), -1);
    sim_release_reversed(&S); /* the device answers 3, 2, 1 */
    assert_int_equal(lvio_reqs_reap(&R), 3);
    for (int i = 2; i >= 0; i--) {
        int s = lvio_reqs_next_done(&R);
        assert_int_equal(s, batch[i].slot);
        assert_int_equal(((uint8_t *)lvio_req_resp(&R, (unsigned)s))[0], 11 + i);
        lvio_reqs_put(&R, (unsigned)s);
    }
    assert_int_equal(lvio_reqs_next_done(&R), -1);
    down();
}

/* ---- set up and torn down ----------------------------------------------------------- */

/* A device whose reset never completes: teardown keeps the slots' pages
 * (the device may still write them), counts them and says so. */
static void test_dead_device_keeps_memory(void **state)
{
    (void)state;
    up(16);
    struct lvio_req batch[1];
    S.never_complete = true;
    send(batch, 1);
    int pages = S.live_pages;
    S.reset_stuck = true;
    assert_int_equal(lvio_device_reset(&D), LVIO_E_DEAD);
    lvio_vq_teardown(&VQ);
    lvio_reqs_teardown(&R);
    assert_null(R.mem);
    assert_int_equal(S.live_pages, pages); /* nothing freed under the device */
    assert_int_equal(D.kept_pages, pages);
    assert_non_null(strstr(S.log, "LVIO_E_DEAD"));
    sim_free_dma(&S); /* kept for a dead device: the test gives it back */
}

/* Bad layouts and arguments; no DMA memory, said by name. */
static void test_init_and_arguments(void **state)
{
    (void)state;
    sim_init(&S, 2, LVIO_VIRTIO_ID_BLOCK);
    sim_probe(&S, &D);
    assert_int_equal(lvio_device_begin(&D, 0), 0);
    assert_int_equal(lvio_reqs_init(&R, &D, &VQ, SLOTS, NSLOTS, 60, 32), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_init(&R, &D, &VQ, SLOTS, NSLOTS, 64, 72), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_init(&R, &D, &VQ, SLOTS, 0, 64, 32), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_init(&R, &D, NULL, SLOTS, NSLOTS, 64, 32), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_init(NULL, &D, &VQ, SLOTS, NSLOTS, 64, 32), LVIO_E_INVAL);
    static struct lvio_req_slot many[100];
    S.fail_alloc_after = 0;
    assert_int_equal(lvio_reqs_init(&R, &D, &VQ, many, 100, 64, 32), LVIO_E_NOMEM);
    check_message("no 2 DMA page(s) for 100 blk request slots");
    assert_null(R.mem);
    assert_int_equal(S.live_pages, 0);
    unsigned s;
    struct lvio_req q = {0};
    assert_int_equal(lvio_reqs_alloc(&R, &s, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_submit(&R, &q, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_wait(&R, &q, 1, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_reap(&R), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_reap(NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_reqs_count(NULL, LVIO_REQ_FREE), 0);
    assert_int_equal(lvio_reqs_next_done(NULL), -1);
    lvio_reqs_put(NULL, 0);
    lvio_reqs_teardown(&R); /* not set up: nothing */
    lvio_reqs_teardown(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_notify_per_batch),
        cmocka_unit_test(test_extra_buffers),
        cmocka_unit_test(test_lists_and_add),
        cmocka_unit_test(test_batch_whole_or_nothing),
        cmocka_unit_test(test_wait_bound_names_the_stuck_request),
        cmocka_unit_test(test_wait_stopped_clock_and_forever),
        cmocka_unit_test(test_wait_needs_reset),
        cmocka_unit_test(test_lost_slots_held_until_answered),
        cmocka_unit_test(test_teardown_releases_held_once),
        cmocka_unit_test(test_slot_exhaustion_message),
        cmocka_unit_test(test_reap_order),
        cmocka_unit_test(test_dead_device_keeps_memory),
        cmocka_unit_test(test_init_and_arguments),
    };
    return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
