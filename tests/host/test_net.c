/*
 * The virtio-net driver against the simulated device (sim_net.h) on
 * virtio-mmio Version 1 and 2 and on modern and legacy virtio-pci: the
 * header length of every feature combination; frames both ways, intact
 * and in order, with and without merged buffers, indirect descriptors,
 * event indexes, and a legacy device's split layout; merged frames up to
 * 64 KiB; every lie the device can tell about a received frame, dropped
 * and counted; back-pressure both ways; checksum flags both ways; the
 * link; announcements; every control command and its errors; several
 * queue pairs; frames sent in place; teardown, reset, a reset that never
 * completes, a device that breaks a queue or needs a reset, and bad
 * arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/net.h"
#include "sim_net.h"

#define F(x) (1ull << LVIO_VIRTIO_NET_F_##x)
#define QEMU_FEATURES                                                                        \
    (F(MAC) | F(STATUS) | F(MRG_RXBUF) | F(CTRL_VQ) | F(CTRL_RX) | F(CTRL_MAC_ADDR) |        \
     F(GUEST_ANNOUNCE) | F(CSUM) | F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) |           \
     F(GUEST_ECN) | F(HOST_TSO4) | F(HOST_TSO6))
#define RING (1ull << LVIO_VIRTIO_F_INDIRECT_DESC | 1ull << LVIO_VIRTIO_F_EVENT_IDX)
#define MAXF 70000

static struct sim_net S;
static struct lvio_device D;
static struct lvio_net N;

static const enum sim_bus BUSES[] = {SIM_BUS_MMIO2, SIM_BUS_MMIO1, SIM_BUS_PCI,
                                         SIM_BUS_PCI_LEGACY};
static const char *const BUS_NAMES[] = {"mmio v2", "mmio v1", "pci", "pci legacy"};
static const uint8_t OUR_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static uint8_t FRAME[MAXF], GOT[MAXF];

/* ---- helpers ------------------------------------------------------------------------------- */

static void device(enum sim_bus bus, uint64_t features, uint16_t pairs)
{
    sim_net_fini(&S);
    sim_free_dma(S.s ? S.s : &S.u.sim);
    sim_net_init(&S, bus, features, pairs);
}

static int try_start(const struct lvio_net_opts *o)
{
    sim_net_apply(&S);
    sim_net_probe(&S, &D);
    return lvio_net_init(&N, &D, o);
}

static void start(const struct lvio_net_opts *o)
{
    int err = try_start(o);
    if (err)
        fail_msg("lvio_net_init: %s: %s", lvio_errname(err), lvio_device_error(&D));
    assert_true(S.s->status & LVIO_VIRTIO_STATUS_DRIVER_OK);
}

static int poll_once(void)
{
    return lvio_net_poll(&N, lvio_device_isr(&D));
}

static void settle(void)
{
    for (int i = 0; i < 4; i++) {
        int n = poll_once();
        if (n < 0)
            fail_msg("lvio_net_poll: %s: %s", lvio_errname(n), lvio_device_error(&D));
    }
}

static void says(const char *part)
{
    if (!strstr(lvio_device_error(&D), part))
        fail_msg("message \"%s\" does not say \"%s\"", lvio_device_error(&D), part);
}

static void logged(const char *part)
{
    if (!strstr(S.s->log, part))
        fail_msg("the log does not say \"%s\":\n%s", part, S.s->log);
}

/* A frame of `len` bytes to `dst` with a pattern from `seed`. */
static void make_frame(uint8_t *f, uint32_t len, uint32_t seed, const uint8_t *dst)
{
    for (uint32_t i = 0; i < len; i++)
        f[i] = (uint8_t)(seed * 7u + i * 13u + (i >> 8));
    memcpy(f, dst, 6);
    if (len >= 14) {
        f[12] = 0x08;
        f[13] = 0x00;
    }
}

/* The host sends a frame of `len` bytes to us. */
static void host_send(unsigned pair, uint32_t len, uint32_t seed, const struct sim_net_hdr *h)
{
    make_frame(FRAME, len, seed, OUR_MAC);
    sim_net_host_send(&S, pair, FRAME, len, h);
}

/* The next frame on `pair` is the host's of `len` bytes from `seed`. */
static void expect_frame(unsigned pair, uint32_t len, uint32_t seed,
                         struct lvio_net_rx_info *info)
{
    struct lvio_net_rx_info i;
    int got = lvio_net_recv(&N, pair, GOT, sizeof GOT, info ? info : &i);
    if (got < 0)
        fail_msg("lvio_net_recv: %s: %s (seed %u, pending %u, host %u, posted %u, drops %llu %llu %llu %llu %llu)", lvio_errname(got), lvio_device_error(&D), seed, lvio_net_pending(&N, pair), sim_net_host_pending(&S), sim_net_rx_posted(&S, pair), (unsigned long long)N.stats.rx_short, (unsigned long long)N.stats.rx_overlong, (unsigned long long)N.stats.rx_bad_num_buffers, (unsigned long long)N.stats.rx_bad_header, (unsigned long long)N.stats.rx_too_big);
    assert_int_equal(got, len);
    make_frame(FRAME, len, seed, OUR_MAC);
    assert_memory_equal(GOT, FRAME, len);
}

static void no_frame(unsigned pair)
{
    assert_int_equal(lvio_net_recv(&N, pair, GOT, sizeof GOT, NULL), LVIO_E_AGAIN);
}

/* Sent frame `i` is `len` bytes from `seed`. */
static void expect_sent(unsigned i, unsigned pair, uint32_t len, uint32_t seed)
{
    assert_true(i < S.nsent);
    assert_int_equal(S.sent[i].pair, pair);
    assert_int_equal(S.sent[i].len, len);
    make_frame(FRAME, len, seed, OUR_MAC);
    assert_memory_equal(S.sent[i].data, FRAME, len);
}

static void send_frame(unsigned pair, uint32_t len, uint32_t seed)
{
    make_frame(FRAME, len, seed, OUR_MAC);
    int err = lvio_net_send(&N, pair, FRAME, len, NULL);
    if (err)
        fail_msg("lvio_net_send: %s: %s", lvio_errname(err), lvio_device_error(&D));
}

static void down(void)
{
    assert_string_equal(S.s->error, "");
    lvio_net_teardown(&N);
    assert_int_equal(S.s->status, 0);
    assert_int_equal(S.s->live_pages, 0);
    assert_int_equal(S.s->live_shares, 0);
    assert_false(N.up);
}

static int teardown_all(void **state)
{
    (void)state;
    sim_net_fini(&S);
    sim_free_dma(S.s ? S.s : &S.u.sim);
    return 0;
}

/* ---- header length ------------------------------------------------------------------------ */

/* Every bus with and without MRG_RXBUF: 10 bytes only for a legacy device
 * without it; frames both ways carry the header the device expects. */
static void test_header_length(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        for (int mrg = 0; mrg < 2; mrg++) {
            bool legacy = BUSES[b] == SIM_BUS_MMIO1 || BUSES[b] == SIM_BUS_PCI_LEGACY;
            uint32_t want = legacy && !mrg ? 10 : 12;
            print_message("  %s, MRG_RXBUF %s: %u bytes\n", BUS_NAMES[b], mrg ? "on" : "off",
                          want);
            device(BUSES[b], F(MAC) | F(STATUS) | (mrg ? F(MRG_RXBUF) : 0), 1);
            start(NULL);
            assert_int_equal(N.hdr_len, want);
            assert_int_equal(sim_net_hdr_len(&S), want);
            assert_int_equal(N.mrg_rxbuf, mrg);
            assert_int_equal(N.rx_buf_size, mrg ? 4096 : ((want + 1518 + 7) & ~7u));
            host_send(0, 60, 1, NULL);
            host_send(0, 1514, 2, NULL);
            settle();
            expect_frame(0, 60, 1, NULL);
            expect_frame(0, 1514, 2, NULL);
            send_frame(0, 1518, 3);
            settle();
            assert_int_equal(S.nsent, 1);
            expect_sent(0, 0, 1518, 3);
            assert_int_equal(S.sent[0].hdr.flags, 0);
            down();
        }
    }
}

/* ---- frames both ways --------------------------------------------------------------------- */

static void frames_both_ways(enum sim_bus bus, uint64_t extra, const struct lvio_net_opts *o)
{
    device(bus, F(MAC) | F(STATUS) | F(CTRL_VQ) | F(CTRL_RX) | extra, 1);
    start(o);
    unsigned sent = 0;
    for (uint32_t round = 0; round < 20; round++) {
        for (uint32_t k = 0; k < 10; k++) {
            uint32_t seed = round * 10 + k;
            host_send(0, 14 + (seed * 151) % 1500, seed, NULL);
        }
        settle();
        for (uint32_t k = 0; k < 10; k++) {
            uint32_t seed = round * 10 + k;
            expect_frame(0, 14 + (seed * 151) % 1500, seed, NULL);
        }
        for (uint32_t k = 0; k < 10; k++) {
            uint32_t seed = 1000 + round * 10 + k;
            send_frame(0, 14 + (seed * 97) % 1504, seed);
        }
        settle();
        for (uint32_t k = 0; k < 10; k++, sent++)
            expect_sent(sent, 0, 14 + ((1000 + sent) * 97) % 1504, 1000 + sent);
    }
    no_frame(0);
    assert_int_equal(N.stats.rx_packets, 200);
    assert_int_equal(N.stats.tx_packets, 200);
    assert_int_equal(N.q[0].rx.packets, 200);
    assert_int_equal(N.stats.rx_short + N.stats.rx_overlong + N.stats.rx_bad_num_buffers +
                         N.stats.rx_bad_header + N.stats.rx_too_big,
                     0);
    down();
}

static void test_frames(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        print_message("  %s\n", BUS_NAMES[b]);
        frames_both_ways(BUSES[b], 0, NULL);
        frames_both_ways(BUSES[b], F(MRG_RXBUF), NULL);
        frames_both_ways(BUSES[b], F(MRG_RXBUF) | RING, NULL);
        frames_both_ways(BUSES[b], RING, NULL);
    }
}

/* A legacy device without ANY_LAYOUT: the header alone in a descriptor
 * (the model checks it) on receive, transmit and control. */
static void test_legacy_split_layout(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b += 1) {
        if (BUSES[b] != SIM_BUS_MMIO1 && BUSES[b] != SIM_BUS_PCI_LEGACY)
            continue;
        for (int ring = 0; ring < 2; ring++) {
            device(BUSES[b], F(MAC) | F(CTRL_VQ) | F(CTRL_RX) | (ring ? RING : 0), 1);
            sim_net_offer(&S, LVIO_VIRTIO_F_ANY_LAYOUT, false);
            sim_net_offer(&S, LVIO_VIRTIO_F_INDIRECT_DESC, ring);
            sim_net_offer(&S, LVIO_VIRTIO_F_EVENT_IDX, ring);
            start(NULL);
            assert_int_equal(N.hdr_len, 10);
            for (uint32_t k = 0; k < 40; k++)
                host_send(0, 100 + k, k, NULL);
            for (uint32_t k = 0; k < 40; k++) {
                settle();
                expect_frame(0, 100 + k, k, NULL);
            }
            for (uint32_t k = 0; k < 40; k++) {
                send_frame(0, 200 + k, k);
                settle();
            }
            for (uint32_t k = 0; k < 40; k++)
                expect_sent(k, 0, 200 + k, k);
            assert_int_equal(S.sent[0].nbufs, 2);
            assert_int_equal(lvio_net_set_rx_mode(&N, false, true), 0);
            assert_false(S.promisc);
            assert_true(S.allmulti);
            down();
        }
    }
}

/* ---- merged buffers and large receive ------------------------------------------------------ */

static void test_merged(void **state)
{
    (void)state;
    struct lvio_net_opts o = {.big_rx = true, .csum = true};
    for (unsigned b = 0; b < 4; b++) {
        device(BUSES[b], QEMU_FEATURES, 1);
        start(&o);
        assert_true(N.big_rx);
        assert_true(N.mrg_rxbuf);
        assert_int_equal(N.rx_max, 65550);
        struct sim_net_hdr h = {.flags = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .gso_type = LVIO_VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
                                .gso_size = 1448, .csum_start = 34, .csum_offset = 16};
        host_send(0, 65550, 7, &h);
        host_send(0, 4085, 8, &h); /* 4096 - 11: spills one byte */
        host_send(0, 4084, 9, &h); /* exactly a page */
        settle();
        struct lvio_net_frame f;
        assert_int_equal(lvio_net_peek(&N, 0, &f), 65550);
        assert_int_equal(f.nsegs, 17);
        assert_int_equal(f.info.nbufs, 17);
        assert_int_equal(f.info.flags, LVIO_NET_RX_GSO | LVIO_NET_RX_CSUM_PARTIAL);
        assert_int_equal(f.info.gso_type, LVIO_VIRTIO_NET_HDR_GSO_TCPV4);
        assert_int_equal(f.info.gso_size, 1448);
        assert_int_equal(f.info.gso_hdr_len, 54);
        assert_int_equal(f.info.csum_start, 34);
        assert_int_equal(f.info.csum_offset, 16);
        uint32_t off = 0;
        for (unsigned i = 0; i < f.nsegs; i++) {
            memcpy(GOT + off, f.seg[i].data, f.seg[i].len);
            off += f.seg[i].len;
        }
        assert_int_equal(off, 65550);
        make_frame(FRAME, 65550, 7, OUR_MAC);
        assert_memory_equal(GOT, FRAME, 65550);
        assert_int_equal(lvio_net_peek(&N, 0, &f), 65550); /* the same again */
        assert_int_equal(lvio_net_release(&N, 0), 0);
        struct lvio_net_rx_info info;
        expect_frame(0, 4085, 8, &info);
        assert_int_equal(info.nbufs, 2);
        expect_frame(0, 4084, 9, &info);
        assert_int_equal(info.nbufs, 1);
        assert_int_equal(lvio_net_release(&N, 0), LVIO_E_AGAIN);
        /* A frame that needs every buffer the device holds and more waits. */
        for (int k = 0; k < 3; k++)
            host_send(0, 65550, 20 + k, &h);
        settle();
        for (int k = 0; k < 3; k++) {
            settle();
            expect_frame(0, 65550, 20 + k, NULL);
        }
        down();
    }
}

/* Large receive without MRG_RXBUF: 65562-byte buffers, fewer of them. */
static void test_big_rx_without_mrg(void **state)
{
    (void)state;
    struct lvio_net_opts o = {.big_rx = true};
    device(SIM_BUS_MMIO2, F(MAC) | F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_UFO),
           1);
    start(&o);
    assert_true(N.big_rx);
    assert_true(N.csum_rx);
    assert_false(N.csum_tx);
    assert_true(N.rx_buf_size >= 65562);
    assert_int_equal(sim_net_rx_posted(&S, 0), LVIO_NET_RX_BIG_BUFS);
    struct sim_net_hdr h = {.gso_type = LVIO_VIRTIO_NET_HDR_GSO_UDP, .gso_size = 1400};
    host_send(0, 65550, 3, &h);
    settle();
    struct lvio_net_rx_info info;
    expect_frame(0, 65550, 3, &info);
    assert_int_equal(info.flags, LVIO_NET_RX_GSO);
    assert_int_equal(info.gso_type, LVIO_VIRTIO_NET_HDR_GSO_UDP);
    down();
    /* Not asked for: none of it, and the offered features refused. */
    device(SIM_BUS_MMIO2, F(MAC) | F(GUEST_CSUM) | F(GUEST_TSO4), 1);
    start(NULL);
    assert_false(N.big_rx);
    assert_false(N.csum_rx);
    assert_int_equal(N.rx_max, 1518);
    assert_int_equal(N.features & (F(GUEST_CSUM) | F(GUEST_TSO4)), 0);
    down();
}

/* ---- lies --------------------------------------------------------------------------------- */

static unsigned TRUTHS; /* lie_then_truth calls since the device started */

/* After each lie the device's next frame comes through intact. */
static void lie_then_truth(uint64_t *counter, const char *why)
{
    TRUTHS++;
    uint64_t before = *counter;
    settle();
    assert_int_equal(*counter, before + 1);
    logged(why);
    no_frame(0);
    host_send(0, 300, 99, NULL);
    settle();
    expect_frame(0, 300, 99, NULL);
    S.s->log[0] = '\0';
    S.s->log_len = 0;
}

static void test_lies(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        for (int mrg = 0; mrg < 2; mrg++) {
            device(BUSES[b], F(MAC) | (mrg ? F(MRG_RXBUF) : 0), 1);
            start(NULL);
            TRUTHS = 0;
            uint32_t hl = N.hdr_len;
            /* A used length past the buffer. */
            S.lie_used_len = N.rx_buf_size + 1;
            host_send(0, 200, 1, NULL);
            lie_then_truth(&N.stats.rx_overlong, "used length past");
            /* Shorter than the header. */
            S.lie_used_len = hl - 1;
            host_send(0, 200, 2, NULL);
            lie_then_truth(&N.stats.rx_short, "shorter than its");
            /* A header and less than an Ethernet header. */
            S.lie_used_len = hl + 13;
            host_send(0, 200, 3, NULL);
            lie_then_truth(&N.stats.rx_short, "shorter than an Ethernet header");
            /* An empty frame. */
            host_send(0, 0, 4, NULL);
            lie_then_truth(&N.stats.rx_short, "of 0 bytes");
            /* Longer than the MTU allows, without GSO (MRG: it fits the pages). */
            if (mrg || N.rx_buf_size - hl > 1518) {
                host_send(0, 1519, 5, NULL);
                lie_then_truth(&N.stats.rx_too_big, "longer than the 1518 allowed");
            }
            if (!mrg) { /* QEMU drops what fits no buffer */
                host_send(0, N.rx_buf_size - hl + 1, 5, NULL);
                settle();
                assert_int_equal(S.dropped_big, 1);
            }
            /* NEEDS_CSUM without GUEST_CSUM, a GSO type not negotiated. */
            struct sim_net_hdr h = {.flags = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
                                    .csum_offset = 6};
            host_send(0, 200, 6, &h);
            lie_then_truth(&N.stats.rx_bad_header, "without GUEST_CSUM");
            h = (struct sim_net_hdr){.gso_type = LVIO_VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 100};
            host_send(0, 200, 7, &h);
            lie_then_truth(&N.stats.rx_bad_header, "GSO type 0x1, not negotiated");
            if (mrg) {
                /* num_buffers 0, more than were completed, past the most. */
                S.lie_num_buffers = 0;
                host_send(0, 200, 8, NULL);
                lie_then_truth(&N.stats.rx_bad_num_buffers, "num_buffers 0");
                S.lie_num_buffers = 3;
                host_send(0, 5000, 9, NULL); /* two buffers */
                lie_then_truth(&N.stats.rx_bad_num_buffers, "num_buffers 3 (2 completed");
                S.lie_num_buffers = 18;
                host_send(0, 200, 10, NULL);
                lie_then_truth(&N.stats.rx_bad_num_buffers, "num_buffers 18");
                /* The second buffer's used length past its page. */
                S.lie_num_buffers = -1;
            }
            assert_int_equal(N.stats.rx_packets, TRUTHS);
            down();
        }
    }
}

/* The frames a lie spoils are dropped whole: num_buffers 1 for a frame
 * of two buffers makes the first a frame longer than the MTU allows, and
 * leaves the second to be checked as a frame of its own, which fails. */
static void test_lie_num_buffers_short(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, F(MAC) | F(MRG_RXBUF), 1);
    start(NULL);
    S.lie_num_buffers = 1;
    host_send(0, 4200, 1, NULL); /* 4084 + 116 */
    settle();
    no_frame(0);
    assert_int_equal(N.stats.rx_too_big, 1);
    assert_int_equal(N.stats.rx_too_big + N.stats.rx_bad_num_buffers + N.stats.rx_short +
                         N.stats.rx_bad_header,
                     2);
    host_send(0, 300, 2, NULL);
    settle();
    expect_frame(0, 300, 2, NULL);
    down();
}

/* ---- back-pressure ---------------------------------------------------------------------------- */

static void test_rx_backpressure(void **state)
{
    (void)state;
    for (int mrg = 0; mrg < 2; mrg++) {
        device(SIM_BUS_PCI, F(MAC) | (mrg ? F(MRG_RXBUF) : 0), 1);
        start(NULL);
        for (uint32_t k = 0; k < 300; k++)
            host_send(0, 60 + k % 1400, k, NULL);
        settle();
        assert_int_equal(lvio_net_pending(&N, 0), LVIO_NET_RX_BUFS_DEFAULT);
        assert_int_equal(sim_net_host_pending(&S), 300 - LVIO_NET_RX_BUFS_DEFAULT);
        assert_int_equal(N.stats.rx_starved, 1);
        for (uint32_t k = 0; k < 300; k++) {
            if (k % 7 == 0)
                settle();
            if (lvio_net_pending(&N, 0) == 0)
                settle();
            expect_frame(0, 60 + k % 1400, k, NULL);
        }
        no_frame(0);
        assert_int_equal(sim_net_host_pending(&S), 0);
        assert_int_equal(N.stats.rx_packets, 300);
        down();
    }
}

/* opts.rx_bufs: as many buffers posted as asked, the frames beyond them
 * held by the device and delivered in order as buffers go back; out of
 * range refused by name. */
static void test_rx_bufs(void **state)
{
    (void)state;
    for (int mrg = 0; mrg < 2; mrg++) {
        const struct lvio_net_opts o = {.rx_bufs = 200};
        device(SIM_BUS_PCI, F(MAC) | (mrg ? F(MRG_RXBUF) : 0), 1);
        start(&o);
        assert_int_equal(sim_net_rx_posted(&S, 0), 200);
        for (uint32_t k = 0; k < 250; k++)
            host_send(0, 60 + k % 1400, k, NULL);
        settle();
        assert_int_equal(lvio_net_pending(&N, 0), 200);
        assert_int_equal(sim_net_host_pending(&S), 50);
        for (uint32_t k = 0; k < 250; k++) {
            if (lvio_net_pending(&N, 0) == 0)
                settle();
            expect_frame(0, 60 + k % 1400, k, NULL);
        }
        no_frame(0);
        assert_int_equal(sim_net_rx_posted(&S, 0), 200);
        down();
    }
    const unsigned bad[] = {LVIO_NET_FRAME_SEGS, LVIO_NET_RX_BUFS + 1};
    for (unsigned i = 0; i < 2; i++) {
        const struct lvio_net_opts o = {.rx_bufs = bad[i]};
        device(SIM_BUS_MMIO2, F(MAC), 1);
        assert_int_equal(try_start(&o), LVIO_E_INVAL);
        says("receive buffers asked");
        assert_int_equal(S.s->live_pages, 0);
    }
}

/* Buffers go back in batches: a frame taken frees its buffer, but the
 * device gets them POST_BATCH (8) at a time under one notify, or all at
 * once when the caller has taken every frame kept. */
static void test_rx_refill_batched(void **state)
{
    (void)state;
    device(SIM_BUS_PCI, F(MAC) | F(MRG_RXBUF) | RING, 1);
    start(NULL);
    for (uint32_t k = 0; k < 50; k++)
        host_send(0, 100, k, NULL);
    settle();
    assert_int_equal(lvio_net_pending(&N, 0), LVIO_NET_RX_BUFS_DEFAULT);
    assert_int_equal(sim_net_rx_posted(&S, 0), 0);
    for (uint32_t k = 0; k < 7; k++)
        expect_frame(0, 100, k, NULL);
    assert_int_equal(sim_net_rx_posted(&S, 0), 0); /* 7 free, not posted yet */
    assert_int_equal(sim_net_host_pending(&S), 50 - LVIO_NET_RX_BUFS_DEFAULT);
    expect_frame(0, 100, 7, NULL); /* the eighth: a batch goes back */
    assert_int_equal(sim_net_host_pending(&S), 50 - LVIO_NET_RX_BUFS_DEFAULT - 8);
    for (uint32_t k = 8; k < 50; k++) {
        if (lvio_net_pending(&N, 0) == 0)
            settle();
        expect_frame(0, 100, k, NULL);
    }
    assert_int_equal(sim_net_rx_posted(&S, 0), LVIO_NET_RX_BUFS_DEFAULT);
    down();
}

/* lvio_net_rx_notify: off, frames arrive without an interrupt each (one at
 * most with EVENT_IDX) and are found by polling; on again says whether one
 * is already there, and interrupts come back. */
static void test_rx_notify(void **state)
{
    (void)state;
    for (int ring = 0; ring < 2; ring++) {
        device(SIM_BUS_PCI, F(MAC) | (ring ? RING : 0), 1);
        sim_net_offer(&S, LVIO_VIRTIO_F_EVENT_IDX, ring);
        start(NULL);
        assert_int_equal(lvio_net_rx_notify(&N, false), 0);
        uint32_t irq0 = S.s->interrupts;
        for (uint32_t k = 0; k < 10; k++)
            host_send(0, 80, k, NULL);
        assert_true(S.s->interrupts - irq0 <= (ring ? 1u : 0u));
        for (uint32_t k = 0; k < 10; k++) {
            if (lvio_net_pending(&N, 0) == 0)
                settle();
            expect_frame(0, 80, k, NULL);
        }
        host_send(0, 80, 10, NULL); /* came while off: on again says so */
        assert_int_equal(lvio_net_rx_notify(&N, true), 1);
        settle();
        expect_frame(0, 80, 10, NULL);
        assert_int_equal(lvio_net_rx_notify(&N, true), 0);
        irq0 = S.s->interrupts;
        host_send(0, 80, 11, NULL);
        assert_int_equal(S.s->interrupts - irq0, 1);
        settle();
        expect_frame(0, 80, 11, NULL);
        down();
        assert_int_equal(lvio_net_rx_notify(&N, true), LVIO_E_STATE);
    }
    assert_int_equal(lvio_net_rx_notify(NULL, true), LVIO_E_INVAL);
}

static void test_tx_backpressure(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, F(MAC), 1);
    start(NULL);
    S.tx_hold = true;
    uint32_t k = 0;
    int err;
    do {
        make_frame(FRAME, 100 + k, k, OUR_MAC);
        err = lvio_net_send(&N, 0, FRAME, 100 + k, NULL);
        k += err == LVIO_OK;
    } while (err == LVIO_OK);
    assert_int_equal(err, LVIO_E_AGAIN);
    assert_int_equal(k, LVIO_NET_TX_SLOTS);
    assert_int_equal(N.stats.tx_busy, 1);
    assert_int_equal(lvio_net_tx_room(&N, 0), 0);
    uint32_t irq0 = S.s->interrupts;
    sim_net_tx_release(&S, 0);
    /* Full, the driver asked to be told when the device sent something: a
     * caller asleep until an interrupt wakes up to send more. */
    assert_true(S.s->interrupts > irq0);
    assert_int_equal(lvio_net_tx_room(&N, 0), 0); /* not reclaimed yet */
    settle();
    assert_int_equal(lvio_net_tx_room(&N, 0), LVIO_NET_TX_SLOTS);
    S.tx_hold = false;
    irq0 = S.s->interrupts; /* with room again, sent frames interrupt no more */
    for (uint32_t j = 0; j < 100; j++, k++) {
        make_frame(FRAME, 100 + k % 1400, k, OUR_MAC);
        assert_int_equal(lvio_net_send(&N, 0, FRAME, 100 + k % 1400, NULL), 0);
    }
    assert_int_equal(S.s->interrupts, irq0);
    for (uint32_t j = 0; j < k; j++)
        expect_sent(j, 0, j < LVIO_NET_TX_SLOTS ? 100 + j : 100 + j % 1400, j);
    /* Without polling: each send reclaims what the device has read. */
    assert_int_equal(N.stats.tx_packets, k);
    down();
}

/* ---- checksums ---------------------------------------------------------------------------- */

static void test_checksums(void **state)
{
    (void)state;
    struct lvio_net_opts o = {.csum = true};
    device(SIM_BUS_PCI, F(MAC) | F(CSUM) | F(GUEST_CSUM), 1);
    start(&o);
    assert_true(N.csum_tx);
    assert_true(N.csum_rx);
    struct sim_net_hdr valid = {.flags = LVIO_VIRTIO_NET_HDR_F_DATA_VALID};
    struct sim_net_hdr partial = {.flags = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
                                  .csum_offset = 6};
    struct sim_net_hdr past = {.flags = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 90,
                               .csum_offset = 9};
    host_send(0, 100, 1, &valid);
    host_send(0, 100, 2, &partial);
    host_send(0, 100, 3, NULL);
    host_send(0, 100, 4, &past);
    settle();
    struct lvio_net_rx_info info;
    expect_frame(0, 100, 1, &info);
    assert_int_equal(info.flags, LVIO_NET_RX_CSUM_VALID);
    expect_frame(0, 100, 2, &info);
    assert_int_equal(info.flags, LVIO_NET_RX_CSUM_PARTIAL);
    assert_int_equal(info.csum_start, 34);
    assert_int_equal(info.csum_offset, 6);
    expect_frame(0, 100, 3, &info);
    assert_int_equal(info.flags, 0);
    no_frame(0);
    assert_int_equal(N.stats.rx_bad_header, 1);
    /* Transmit: the device is asked to complete a UDP checksum. */
    struct lvio_net_tx_info t = {.flags = LVIO_NET_TX_CSUM, .csum_start = 34, .csum_offset = 6};
    make_frame(FRAME, 100, 5, OUR_MAC);
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 100, &t), 0);
    settle();
    assert_int_equal(S.sent[0].hdr.flags, LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(S.sent[0].hdr.csum_start, 34);
    assert_int_equal(S.sent[0].hdr.csum_offset, 6);
    t.csum_start = 97; /* 97 + 6 + 2 > 100 */
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 100, &t), LVIO_E_INVAL);
    says("past the 100-byte frame");
    t.flags = 0x80;
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 100, &t), LVIO_E_INVAL);
    says("unknown flags");
    down();
    /* Not asked for: DATA_VALID is not reported, a partial checksum dropped. */
    device(SIM_BUS_PCI, F(MAC) | F(CSUM) | F(GUEST_CSUM), 1);
    start(NULL);
    assert_false(N.csum_tx);
    host_send(0, 100, 1, &valid);
    host_send(0, 100, 2, &partial);
    settle();
    expect_frame(0, 100, 1, &info);
    assert_int_equal(info.flags, 0);
    no_frame(0);
    t = (struct lvio_net_tx_info){.flags = LVIO_NET_TX_CSUM, .csum_start = 34, .csum_offset = 6};
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 100, &t), LVIO_E_UNSUPPORTED);
    says("CSUM not negotiated");
    down();
}

/* ---- link and announce -------------------------------------------------------------------- */

static void test_link(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        device(BUSES[b], F(MAC) | F(STATUS), 1);
        S.status = 0; /* down at start */
        start(NULL);
        assert_false(lvio_net_link_up(&N));
        assert_int_equal(lvio_net_events(&N), 0);
        sim_net_link(&S, true);
        settle();
        assert_true(lvio_net_link_up(&N));
        assert_int_equal(N.stats.link_changes, 1);
        assert_int_equal(lvio_net_events(&N), LVIO_NET_EV_LINK);
        assert_int_equal(lvio_net_events(&N), 0);
        sim_net_link(&S, false);
        settle();
        assert_false(lvio_net_link_up(&N));
        logged("link down");
        /* Frames sent with the link down: QEMU drops them, the buffers come back. */
        send_frame(0, 60, 1);
        settle();
        assert_int_equal(S.tx_dropped, 1);
        assert_int_equal(lvio_net_tx_room(&N, 0), LVIO_NET_TX_SLOTS);
        /* A notice without a change. */
        sim_net_config_change(&S);
        settle();
        assert_int_equal(N.stats.link_changes, 2);
        assert_int_equal(N.stats.config_changes, 3);
        down();
        assert_false(lvio_net_link_up(&N));
    }
    /* Without STATUS the link is up, whatever the configuration says. */
    device(SIM_BUS_MMIO2, F(MAC), 1);
    S.status = 0;
    start(NULL);
    assert_true(lvio_net_link_up(&N));
    sim_net_config_change(&S);
    settle();
    assert_true(lvio_net_link_up(&N));
    down();
}

static void test_announce(void **state)
{
    (void)state;
    device(SIM_BUS_PCI, QEMU_FEATURES, 1);
    start(NULL);
    sim_net_announce(&S);
    settle();
    assert_int_equal(lvio_net_events(&N), LVIO_NET_EV_ANNOUNCE);
    assert_int_equal(N.stats.announces, 1);
    assert_int_equal(S.announce_acks, 1);
    assert_false(S.status & LVIO_VIRTIO_NET_S_ANNOUNCE);
    assert_int_equal(N.stats.announce_errors, 0);
    /* An ack the device refuses: counted, the driver goes on. */
    S.ctrl_mode = SIM_NET_CTRL_ERR;
    sim_net_announce(&S);
    settle();
    assert_int_equal(N.stats.announces, 2);
    assert_int_equal(N.stats.announce_errors, 1);
    says("ANNOUNCE_ACK: the device answered ERR");
    /* An ack not answered yet: no second one for the same request. */
    S.ctrl_mode = SIM_NET_CTRL_HOLD;
    sim_net_announce(&S);
    settle();
    sim_net_config_change(&S);
    settle();
    assert_int_equal(sim_net_cmds(&S, LVIO_VIRTIO_NET_CTRL_ANNOUNCE,
                                  LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK), 3);
    S.ctrl_mode = SIM_NET_CTRL_QEMU;
    sim_net_ctrl_release(&S);
    settle();
    assert_int_equal(S.announce_acks, 2);
    assert_int_equal(N.stats.announce_errors, 1);
    down();
    /* Without GUEST_ANNOUNCE the bit is not answered. */
    device(SIM_BUS_PCI, F(MAC) | F(STATUS) | F(CTRL_VQ), 1);
    start(NULL);
    sim_net_announce(&S);
    settle();
    assert_int_equal(lvio_net_events(&N), 0);
    assert_int_equal(S.nlog, 0);
    down();
}

/* ---- control commands --------------------------------------------------------------------- */

static void test_rx_mode(void **state)
{
    (void)state;
    uint8_t other[6] = {0x52, 0x54, 0, 0, 0, 9}, bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t multi[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 1);
    start(NULL);
    assert_true(S.promisc); /* QEMU's device starts promiscuous */
    assert_int_equal(lvio_net_set_rx_mode(&N, false, false), 0);
    assert_false(S.promisc);
    assert_false(N.promisc);
    assert_int_equal(sim_net_cmds(&S, LVIO_VIRTIO_NET_CTRL_RX, LVIO_VIRTIO_NET_CTRL_RX_PROMISC),
                     1);
    make_frame(FRAME, 60, 1, other);
    sim_net_host_send(&S, 0, FRAME, 60, NULL);
    make_frame(FRAME, 60, 2, multi);
    sim_net_host_send(&S, 0, FRAME, 60, NULL);
    make_frame(FRAME, 60, 3, bcast);
    sim_net_host_send(&S, 0, FRAME, 60, NULL);
    host_send(0, 60, 4, NULL);
    settle();
    assert_int_equal(S.filtered, 2);
    assert_int_equal(lvio_net_recv(&N, 0, GOT, sizeof GOT, NULL), 60);
    assert_memory_equal(GOT, bcast, 6);
    expect_frame(0, 60, 4, NULL);
    assert_int_equal(lvio_net_set_rx_mode(&N, false, true), 0);
    make_frame(FRAME, 60, 2, multi);
    sim_net_host_send(&S, 0, FRAME, 60, NULL);
    settle();
    assert_int_equal(lvio_net_recv(&N, 0, GOT, sizeof GOT, NULL), 60);
    assert_true(N.allmulti);
    /* The device refuses. */
    S.ctrl_mode = SIM_NET_CTRL_ERR;
    assert_int_equal(lvio_net_set_rx_mode(&N, true, true), LVIO_E_REFUSED);
    says("RX_PROMISC: the device answered ERR");
    assert_false(N.promisc);
    /* It writes neither OK nor ERR; or no ack byte. */
    S.ctrl_mode = SIM_NET_CTRL_BAD;
    assert_int_equal(lvio_net_set_rx_mode(&N, true, true), LVIO_E_DEVICE);
    says("answered 0x07");
    S.ctrl_mode = SIM_NET_CTRL_NO_ACK;
    assert_int_equal(lvio_net_set_rx_mode(&N, true, true), LVIO_E_DEVICE);
    says("without an ack byte");
    /* It does not answer: a timeout; its buffers stay with it until it does. */
    S.ctrl_mode = SIM_NET_CTRL_HOLD;
    assert_int_equal(lvio_net_set_rx_mode(&N, true, false), LVIO_E_TIMEOUT);
    says("RX_PROMISC");
    assert_int_equal(lvio_reqs_count(&N.ctrl_reqs, LVIO_REQ_LOST), 2);
    assert_int_equal(lvio_net_set_rx_mode(&N, true, false), LVIO_E_TIMEOUT);
    assert_int_equal(lvio_net_set_rx_mode(&N, true, false), LVIO_E_AGAIN);
    S.ctrl_mode = SIM_NET_CTRL_QEMU;
    sim_net_ctrl_release(&S);
    assert_int_equal(lvio_net_set_rx_mode(&N, true, false), 0);
    assert_true(N.promisc);
    assert_true(S.promisc);
    assert_false(S.allmulti);
    assert_int_equal(lvio_reqs_count(&N.ctrl_reqs, LVIO_REQ_FREE), LVIO_NET_CTRL_SLOTS);
    down();
    /* Without CTRL_RX, or without a control queue. */
    device(SIM_BUS_MMIO2, F(MAC) | F(CTRL_VQ), 1);
    start(NULL);
    assert_int_equal(lvio_net_set_rx_mode(&N, false, false), LVIO_E_UNSUPPORTED);
    says("no such command");
    down();
    device(SIM_BUS_MMIO2, F(MAC) | F(CTRL_RX), 1);
    start(NULL);
    assert_false(N.ctrl);
    assert_int_equal(N.features & F(CTRL_RX), 0);
    assert_int_equal(lvio_net_set_rx_mode(&N, false, false), LVIO_E_UNSUPPORTED);
    says("no control queue");
    logged("without the ones they need");
    down();
}

static void test_set_mac(void **state)
{
    (void)state;
    uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    for (unsigned b = 0; b < 4; b++) {
        device(BUSES[b], QEMU_FEATURES, 1);
        start(NULL);
        assert_true(N.has_mac);
        assert_memory_equal(N.mac, OUR_MAC, 6);
        assert_int_equal(lvio_net_set_mac(&N, mac), 0);
        assert_memory_equal(S.cur_mac, mac, 6);
        assert_memory_equal(N.mac, mac, 6);
        S.ctrl_mode = SIM_NET_CTRL_ERR;
        uint8_t m2[6] = {0x02, 0, 0, 0, 0, 1};
        assert_int_equal(lvio_net_set_mac(&N, m2), LVIO_E_REFUSED);
        assert_memory_equal(N.mac, mac, 6);
        uint8_t multi[6] = {0x01, 0, 0, 0, 0, 1}, zero[6] = {0};
        assert_int_equal(lvio_net_set_mac(&N, multi), LVIO_E_INVAL);
        says("a multicast address");
        assert_int_equal(lvio_net_set_mac(&N, zero), LVIO_E_INVAL);
        says("all zero");
        down();
        /* Without CTRL_MAC_ADDR: the configuration on a legacy device. */
        bool legacy = BUSES[b] == SIM_BUS_MMIO1 || BUSES[b] == SIM_BUS_PCI_LEGACY;
        device(BUSES[b], F(MAC) | F(CTRL_VQ), 1);
        start(NULL);
        assert_int_equal(lvio_net_set_mac(&N, mac), legacy ? 0 : LVIO_E_UNSUPPORTED);
        if (legacy) {
            assert_memory_equal(S.cur_mac, mac, 6);
        } else {
            says("no such command");
            assert_memory_equal(S.cur_mac, OUR_MAC, 6);
        }
        down();
    }
    /* A legacy device that keeps its address. */
    device(SIM_BUS_MMIO1, F(MAC) | F(CTRL_VQ), 1);
    start(NULL);
    S.s->driver_features |= 1ull << LVIO_VIRTIO_F_VERSION_1; /* the model then keeps it */
    assert_int_equal(lvio_net_set_mac(&N, mac), LVIO_E_DEVICE);
    says("reads back 52:54:00:12:34:56");
    S.s->driver_features &= ~(1ull << LVIO_VIRTIO_F_VERSION_1);
    down();
}

/* ---- several queue pairs ----------------------------------------------------------------- */

static void test_multiqueue(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        device(BUSES[b], QEMU_FEATURES, 4);
        struct lvio_net_opts o = {.queue_pairs = 3};
        start(&o);
        assert_int_equal(N.pairs, 3);
        assert_int_equal(N.max_pairs, 4);
        assert_int_equal(S.curr_pairs, 3);
        const struct sim_net_cmd *c = sim_net_cmd_find(&S, LVIO_VIRTIO_NET_CTRL_MQ,
                                                       LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 0);
        assert_non_null(c);
        assert_int_equal(c->len, 2);
        assert_int_equal(c->ack, LVIO_VIRTIO_NET_OK);
        for (uint32_t k = 0; k < 30; k++)
            host_send(k % 3, 100 + k, k, NULL);
        host_send(3, 100, 99, NULL); /* a pair not in use: the device holds it */
        settle();
        assert_int_equal(lvio_net_poll(&N, 0), 30);
        for (uint32_t k = 0; k < 30; k++) {
            struct lvio_net_rx_info info;
            expect_frame(k % 3, 100 + k, k, &info);
            assert_int_equal(info.queue, k % 3);
        }
        for (uint32_t k = 0; k < 30; k++)
            send_frame(k % 3, 100 + k, k);
        settle();
        assert_int_equal(S.nsent, 30);
        for (uint32_t p = 0; p < 3; p++) {
            assert_int_equal(N.q[p].tx.packets, 10);
            assert_int_equal(N.q[p].rx.packets, 10);
        }
        for (uint32_t k = 0; k < 30; k++)
            expect_sent(k, k % 3, 100 + k, k);
        assert_int_equal(sim_net_host_pending(&S), 1);
        assert_int_equal(lvio_net_send(&N, 3, FRAME, 100, NULL), LVIO_E_INVAL);
        assert_int_equal(lvio_net_recv(&N, 3, GOT, sizeof GOT, NULL), LVIO_E_INVAL);
        says("pair 3 of 3");
        assert_int_equal(lvio_net_pending(&N, 3), 0);
        down();
    }
    /* More than the device has: its maximum. One wanted: no command. */
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 2);
    struct lvio_net_opts o = {.queue_pairs = 8};
    start(&o);
    assert_int_equal(N.pairs, 2);
    down();
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 2);
    start(NULL);
    assert_int_equal(N.pairs, 1);
    assert_int_equal(S.nlog, 0);
    down();
    /* The device refuses VQ_PAIRS_SET, or does not answer: init fails. */
    device(SIM_BUS_PCI, QEMU_FEATURES, 2);
    S.ctrl_mode = SIM_NET_CTRL_ERR;
    o.queue_pairs = 2;
    assert_int_equal(try_start(&o), LVIO_E_REFUSED);
    says("MQ_VQ_PAIRS_SET");
    assert_true(S.s->status == 0 || (S.s->status & LVIO_VIRTIO_STATUS_FAILED));
    assert_int_equal(S.s->live_pages, 0);
    device(SIM_BUS_PCI, QEMU_FEATURES, 2);
    S.ctrl_mode = SIM_NET_CTRL_HOLD;
    assert_int_equal(try_start(&o), LVIO_E_TIMEOUT);
    assert_int_equal(S.s->live_pages, 0);
    /* max_virtqueue_pairs 0 with MQ. */
    device(SIM_BUS_PCI, QEMU_FEATURES, 2);
    S.max_pairs = 0;
    assert_int_equal(try_start(&o), LVIO_E_CONFIG);
    says("max_virtqueue_pairs 0");
    assert_int_equal(S.s->live_pages, 0);
}

/* ---- in place ---------------------------------------------------------------------------------- */

static void test_send_sg(void **state)
{
    (void)state;
    static uint8_t a[14], b[1000], c[300];
    device(SIM_BUS_MMIO2, F(MAC) | F(CSUM), 1);
    struct lvio_net_opts o = {.csum = true};
    start(&o);
    make_frame(FRAME, 1314, 5, OUR_MAC);
    memcpy(a, FRAME, 14);
    memcpy(b, FRAME + 14, 1000);
    memcpy(c, FRAME + 1014, 300);
    struct lvio_net_buf bufs[3] = {{a, 14}, {b, 1000}, {c, 300}};
    struct lvio_net_tx_info t = {.flags = LVIO_NET_TX_CSUM, .csum_start = 34, .csum_offset = 16};
    S.tx_hold = true;
    int tok1, tok2;
    void *tok = NULL;
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 3, &t, &tok1), 0);
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 3, NULL, &tok2), 0);
    assert_int_equal(S.s->live_shares, 6);
    assert_int_equal(lvio_net_tx_done(&N, 0, &tok), 0);
    sim_net_tx_release(&S, 0);
    settle();
    assert_int_equal(S.s->live_shares, 0); /* unshared by the poll */
    assert_int_equal(lvio_net_tx_done(&N, 0, &tok), 1);
    assert_ptr_equal(tok, &tok1);
    assert_int_equal(lvio_net_tx_done(&N, 0, &tok), 1);
    assert_ptr_equal(tok, &tok2);
    assert_int_equal(lvio_net_tx_done(&N, 0, &tok), 0);
    expect_sent(0, 0, 1314, 5);
    assert_int_equal(S.sent[0].hdr.flags, LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(S.sent[0].hdr.csum_offset, 16);
    expect_sent(1, 0, 1314, 5);
    /* A token not taken keeps its buffer: the pair fills. */
    S.tx_hold = false;
    for (unsigned i = 0; i < LVIO_NET_TX_SLOTS; i++)
        assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 1, NULL, NULL), 0);
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 1, NULL, NULL), LVIO_E_AGAIN);
    for (unsigned i = 0; i < LVIO_NET_TX_SLOTS; i++)
        assert_int_equal(lvio_net_tx_done(&N, 0, &tok), 1);
    /* Bad lists. */
    struct lvio_net_buf empty[2] = {{a, 14}, {b, 0}}, small[1] = {{a, 13}};
    assert_int_equal(lvio_net_send_sg(&N, 0, empty, 2, NULL, NULL), LVIO_E_INVAL);
    says("buffer 1 is empty");
    assert_int_equal(lvio_net_send_sg(&N, 0, small, 1, NULL, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 0, NULL, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, LVIO_NET_TX_SEGS + 1, NULL, NULL),
                     LVIO_E_INVAL);
    /* share() fails on the second buffer: nothing stays shared. */
    S.s->share_fail_after = 1;
    assert_true(lvio_net_send_sg(&N, 0, bufs, 3, NULL, NULL) < 0);
    says("share() of buffer 1");
    assert_int_equal(S.s->live_shares, 0);
    S.s->share_fail_after = -1;
    /* Frames in flight at teardown: unshared then. */
    S.tx_hold = true;
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 3, NULL, NULL), 0);
    assert_int_equal(S.s->live_shares, 3);
    down();
    /* No share in the HAL. */
    device(SIM_BUS_MMIO2, F(MAC), 1);
    S.s->hal.share = NULL;
    start(NULL);
    assert_int_equal(lvio_net_send_sg(&N, 0, bufs, 3, NULL, NULL), LVIO_E_UNSUPPORTED);
    down();
}

/* ---- receive calls ------------------------------------------------------------------------- */

static void test_recv_calls(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, F(MAC) | F(MRG_RXBUF), 1);
    start(NULL);
    host_send(0, 1000, 1, NULL);
    settle();
    assert_int_equal(lvio_net_pending(&N, 0), 1);
    struct lvio_net_rx_info info = {0};
    assert_int_equal(lvio_net_recv(&N, 0, GOT, 999, &info), LVIO_E_NOSPC);
    assert_int_equal(info.len, 1000);
    says("the frame is kept");
    assert_int_equal(lvio_net_recv(&N, 0, NULL, 0, NULL), LVIO_E_NOSPC);
    assert_int_equal(lvio_net_recv(&N, 0, NULL, 5, NULL), LVIO_E_INVAL);
    expect_frame(0, 1000, 1, NULL);
    assert_int_equal(lvio_net_pending(&N, 0), 0);
    assert_int_equal(lvio_net_peek(&N, 0, NULL), LVIO_E_INVAL);
    struct lvio_net_frame f;
    assert_int_equal(lvio_net_peek(&N, 0, &f), LVIO_E_AGAIN);
    assert_int_equal(lvio_net_release(&N, 0), LVIO_E_AGAIN);
    void *tok;
    assert_int_equal(lvio_net_tx_done(&N, 0, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_tx_done(&N, 0, &tok), 0);
    /* Frames kept when the device stops: still handed out after teardown? No:
     * dropped; the calls say the device is not up. */
    host_send(0, 100, 2, NULL);
    settle();
    down();
    assert_int_equal(lvio_net_recv(&N, 0, GOT, sizeof GOT, NULL), LVIO_E_STATE);
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 100, NULL), LVIO_E_STATE);
    assert_int_equal(lvio_net_poll(&N, 0), LVIO_E_STATE);
    assert_int_equal(lvio_net_set_rx_mode(&N, true, true), LVIO_E_STATE);
    assert_int_equal(lvio_net_pending(&N, 0), 0);
    assert_int_equal(lvio_net_tx_room(&N, 0), 0);
}

/* ---- configuration ------------------------------------------------------------------------ */

static void test_mtu(void **state)
{
    (void)state;
    device(SIM_BUS_PCI, F(MAC) | F(MTU), 1);
    S.mtu = 9000;
    start(NULL);
    assert_int_equal(N.mtu, 9000);
    assert_int_equal(N.tx_max, 9018);
    assert_int_equal(N.rx_max, 9018);
    assert_int_equal(sim_net_rx_posted(&S, 0), LVIO_NET_RX_BUFS_DEFAULT);
    host_send(0, 9018, 1, NULL);
    settle();
    expect_frame(0, 9018, 1, NULL);
    send_frame(0, 9018, 2);
    make_frame(FRAME, 9019, 3, OUR_MAC);
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 9019, NULL), LVIO_E_INVAL);
    says("a frame of 9019 bytes");
    assert_int_equal(lvio_net_send(&N, 0, FRAME, 13, NULL), LVIO_E_INVAL);
    settle();
    expect_sent(0, 0, 9018, 2);
    down();
    /* Refused: 1500. An mtu below 68: a configuration error. */
    device(SIM_BUS_PCI, F(MAC) | F(MTU), 1);
    S.mtu = 9000;
    struct lvio_net_opts o = {.refuse = F(MTU)};
    start(&o);
    assert_int_equal(N.mtu, 1500);
    down();
    device(SIM_BUS_PCI, F(MAC) | F(MTU), 1);
    S.mtu = 67;
    assert_int_equal(try_start(NULL), LVIO_E_CONFIG);
    says("mtu 67, below 68");
    assert_int_equal(S.s->live_pages, 0);
    /* No MAC: zeros until set. */
    device(SIM_BUS_MMIO2, F(CTRL_VQ) | F(CTRL_MAC_ADDR), 1);
    start(NULL);
    assert_false(N.has_mac);
    uint8_t mac[6] = {0x02, 1, 2, 3, 4, 5};
    assert_int_equal(lvio_net_set_mac(&N, mac), 0);
    assert_true(N.has_mac);
    down();
}

/* opts.refuse reaches core features too. */
static void test_refuse(void **state)
{
    (void)state;
    device(SIM_BUS_PCI, QEMU_FEATURES, 1);
    struct lvio_net_opts o = {.refuse = F(MRG_RXBUF) | (1ull << LVIO_VIRTIO_F_EVENT_IDX)};
    start(&o);
    assert_false(N.mrg_rxbuf);
    assert_int_equal(N.features & (1ull << LVIO_VIRTIO_F_EVENT_IDX), 0);
    assert_true(N.features & (1ull << LVIO_VIRTIO_F_INDIRECT_DESC));
    assert_int_equal(D.features_refused, 0);
    assert_int_equal(N.hdr_len, 12);
    down();
}

/* ---- failures ---------------------------------------------------------------------------- */

static void test_bad_args(void **state)
{
    (void)state;
    struct lvio_device bad = {0};
    assert_int_equal(lvio_net_init(NULL, &D, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_init(&N, NULL, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_init(&N, &bad, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_poll(NULL, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_net_recv(NULL, 0, GOT, 10, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_send(NULL, 0, GOT, 60, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_send_sg(NULL, 0, NULL, 0, NULL, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_set_rx_mode(NULL, true, true), LVIO_E_INVAL);
    assert_int_equal(lvio_net_set_mac(NULL, OUR_MAC), LVIO_E_INVAL);
    assert_int_equal(lvio_net_reset(NULL), LVIO_E_INVAL);
    assert_false(lvio_net_link_up(NULL));
    assert_int_equal(lvio_net_events(NULL), 0);
    assert_int_equal(lvio_net_pending(NULL, 0), 0);
    lvio_net_teardown(NULL);
    memset(&N, 0, sizeof N);
    lvio_net_teardown(&N);
    assert_int_equal(lvio_net_reset(&N), LVIO_E_INVAL);
    /* Not a network device. */
    sim_net_fini(&S);
    sim_free_dma(S.s ? S.s : &S.u.sim);
    sim_init(&S.u.sim, 2, LVIO_VIRTIO_ID_RNG);
    S.s = &S.u.sim;
    sim_probe(S.s, &D);
    assert_int_equal(lvio_net_init(&N, &D, NULL), LVIO_E_INVAL);
    says("not a network device");
    memset(&S, 0, sizeof S);
    /* Sends and receives with bad arguments on a live device. */
    device(SIM_BUS_MMIO2, F(MAC), 1);
    start(NULL);
    assert_int_equal(lvio_net_send(&N, 0, NULL, 60, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_send(&N, 1, FRAME, 60, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_send(&N, LVIO_NET_MAX_PAIRS, FRAME, 60, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_recv(&N, 1, GOT, sizeof GOT, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_net_set_mac(&N, NULL), LVIO_E_INVAL);
    down();
}

static void test_init_failures(void **state)
{
    (void)state;
    /* Every allocation failing in turn: an error, nothing left. */
    for (int k = 0; k < 12; k++) {
        device(SIM_BUS_PCI, QEMU_FEATURES, 2);
        S.s->fail_alloc_after = k;
        struct lvio_net_opts o = {.queue_pairs = 2};
        int err = try_start(&o);
        if (err == LVIO_OK) {
            down();
            break;
        }
        assert_int_equal(err, LVIO_E_NOMEM);
        assert_int_equal(S.s->live_pages, 0);
        assert_false(N.up);
    }
    /* A queue the device refuses. */
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 1);
    S.s->refuse_queue = true;
    assert_int_equal(try_start(NULL), LVIO_E_QUEUE);
    assert_int_equal(S.s->live_pages, 0);
    /* The control queue missing. */
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 1);
    S.s->q[2].num_max = 0;
    assert_int_equal(try_start(NULL), LVIO_E_QUEUE);
    assert_int_equal(S.s->live_pages, 0);
    /* Features refused by the device. */
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 1);
    S.s->refuse_features = true;
    assert_int_equal(try_start(NULL), LVIO_E_FEATURES);
}

static void test_reset_recovers(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        device(BUSES[b], QEMU_FEATURES, 1);
        start(NULL);
        host_send(0, 100, 1, NULL);
        settle();
        /* A used id the driver never gave: the queue is broken. */
        S.s->bad_used_id = 200;
        host_send(0, 100, 2, NULL);
        int err = poll_once();
        assert_int_equal(err, LVIO_E_BROKEN);
        expect_frame(0, 100, 1, NULL); /* kept frames still come out */
        assert_int_equal(lvio_net_recv(&N, 0, GOT, sizeof GOT, NULL), LVIO_E_BROKEN);
        assert_int_equal(lvio_net_reset(&N), 0);
        assert_int_equal(N.stats.resets, 1);
        assert_int_equal(N.stats.rx_packets, 0);
        host_send(0, 100, 3, NULL);
        settle();
        expect_frame(0, 100, 3, NULL);
        /* The device needs a reset. */
        S.s->status |= LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
        sim_net_config_change(&S);
        assert_int_equal(poll_once(), LVIO_E_NEEDS_RESET);
        assert_int_equal(lvio_net_reset(&N), 0);
        assert_int_equal(N.stats.resets, 2);
        down();
    }
}

/* A reset that never completes: the memory and shares are kept, counted. */
static void test_reset_never_completes(void **state)
{
    (void)state;
    static uint8_t buf[100];
    device(SIM_BUS_MMIO2, QEMU_FEATURES, 1);
    start(NULL);
    S.tx_hold = true;
    struct lvio_net_buf b = {buf, 100};
    assert_int_equal(lvio_net_send_sg(&N, 0, &b, 1, NULL, NULL), 0);
    S.s->reset_stuck = true;
    lvio_net_teardown(&N);
    assert_true(D.dead);
    assert_true(D.kept_pages > 0);
    assert_int_equal(D.kept_shares, 1);
    assert_true(S.s->live_pages > 0);
    assert_int_equal(S.s->live_shares, 1);
    assert_int_equal(lvio_net_reset(&N), LVIO_E_DEAD);
    assert_false(N.up);
    S.s->reset_stuck = false;
    S.s->error[0] = '\0';
}

/* MSI-X: each queue its vector, the configuration's for the link; the
 * bits lvio_device_msix_isr gives for the messages sent are all a poll needs. */
static uint32_t msix_bits(unsigned *seen)
{
    uint32_t isr = 0;
    for (uint16_t v = 0; v < S.u.pci.msix_size; v++) {
        unsigned n = sim_pci_msgs_for(&S.u.pci, v);
        if (n != seen[v])
            isr |= lvio_device_msix_isr(&D, v);
        seen[v] = n;
    }
    return isr;
}

static void test_msix(void **state)
{
    (void)state;
    unsigned seen[SIM_PCI_MSIX_MAX] = {0};
    device(SIM_BUS_PCI, QEMU_FEATURES, 1);
    S.u.pci.s.hal.msix_route = sim_pci_msix_route;
    start(NULL);
    assert_int_equal(D.irq_mode, LVIO_IRQ_MSIX);
    assert_int_equal(lvio_device_msix_vectors(&D), 4); /* configuration, 3 queues */
    (void)msix_bits(seen);
    host_send(0, 200, 1, NULL);
    uint32_t isr = msix_bits(seen);
    assert_int_equal(isr, LVIO_VIRTIO_ISR_QUEUE);
    assert_int_equal(lvio_net_poll(&N, isr), 1);
    expect_frame(0, 200, 1, NULL);
    sim_net_link(&S, false);
    isr = msix_bits(seen);
    assert_int_equal(isr, LVIO_VIRTIO_ISR_CONFIG);
    assert_int_equal(lvio_net_poll(&N, isr), 0);
    assert_false(lvio_net_link_up(&N));
    assert_int_equal(lvio_net_events(&N), LVIO_NET_EV_LINK);
    assert_int_equal(S.u.pci.s.isr, 0); /* nothing through the ISR status */
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_header_length, teardown_all),
        cmocka_unit_test_teardown(test_frames, teardown_all),
        cmocka_unit_test_teardown(test_legacy_split_layout, teardown_all),
        cmocka_unit_test_teardown(test_merged, teardown_all),
        cmocka_unit_test_teardown(test_big_rx_without_mrg, teardown_all),
        cmocka_unit_test_teardown(test_lies, teardown_all),
        cmocka_unit_test_teardown(test_lie_num_buffers_short, teardown_all),
        cmocka_unit_test_teardown(test_rx_backpressure, teardown_all),
        cmocka_unit_test_teardown(test_rx_bufs, teardown_all),
        cmocka_unit_test_teardown(test_rx_refill_batched, teardown_all),
        cmocka_unit_test_teardown(test_rx_notify, teardown_all),
        cmocka_unit_test_teardown(test_tx_backpressure, teardown_all),
        cmocka_unit_test_teardown(test_checksums, teardown_all),
        cmocka_unit_test_teardown(test_link, teardown_all),
        cmocka_unit_test_teardown(test_announce, teardown_all),
        cmocka_unit_test_teardown(test_rx_mode, teardown_all),
        cmocka_unit_test_teardown(test_set_mac, teardown_all),
        cmocka_unit_test_teardown(test_multiqueue, teardown_all),
        cmocka_unit_test_teardown(test_send_sg, teardown_all),
        cmocka_unit_test_teardown(test_recv_calls, teardown_all),
        cmocka_unit_test_teardown(test_mtu, teardown_all),
        cmocka_unit_test_teardown(test_refuse, teardown_all),
        cmocka_unit_test_teardown(test_bad_args, teardown_all),
        cmocka_unit_test_teardown(test_init_failures, teardown_all),
        cmocka_unit_test_teardown(test_reset_recovers, teardown_all),
        cmocka_unit_test_teardown(test_reset_never_completes, teardown_all),
        cmocka_unit_test_teardown(test_msix, teardown_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
