/*
 * The virtio-console driver against the simulated console (sim_console.h)
 * on virtio-mmio Version 1 and 2 and on modern and legacy virtio-pci: a
 * single port without MULTIPORT; multiport bring-up with QEMU's control
 * messages in each order it may send them; ports plugged and unplugged
 * while running, before DEVICE_READY is answered, past the caller's
 * storage; host sides opening and closing; names; a MiB each way with the
 * host writing faster than the caller reads; transmit back-pressure; a
 * port removed with data in flight both ways; every kind of bad control
 * message; the size; emergency writes; no control message lost with every
 * port talking at once; teardown, reset, a reset that never completes, and
 * bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/console.h"
#include "sim_console.h"

#define E(x) LVIO_VIRTIO_CONSOLE_##x
#define EV(x) LVIO_CONSOLE_EV_##x
#define ANY UINT32_MAX
#define NPORTS 7
#define SECOND 1000000000ull

static struct sim_console C;
static struct lvio_device D;
static struct lvio_console K;
static struct lvio_console_port P[NPORTS];

static const enum sim_bus BUSES[] = {SIM_BUS_MMIO2, SIM_BUS_MMIO1,
                                             SIM_BUS_PCI, SIM_BUS_PCI_LEGACY};
static const char *const BUS_NAMES[] = {"mmio v2", "mmio v1", "pci", "pci legacy"};

/* Events taken so far by take_events(). */
static struct lvio_console_event EVS[512];
static unsigned NEVS;

/* ---- helpers ------------------------------------------------------------------------------- */

static void device(enum sim_bus bus, uint32_t max_ports, bool multiport)
{
    sim_console_fini(&C);
    sim_free_dma(C.s ? C.s : &C.u.sim);
    sim_console_init(&C, bus, max_ports, multiport);
    NEVS = 0;
}

static void start_n(unsigned nports)
{
    sim_console_apply(&C);
    sim_console_probe(&C, &D);
    int err = lvio_console_init(&K, &D, P, nports);
    if (err)
        fail_msg("lvio_console_init: %s: %s", lvio_errname(err), lvio_device_error(&D));
    assert_true(C.s->status & LVIO_VIRTIO_STATUS_DRIVER_OK);
}

static void start(void)
{
    start_n(NPORTS);
}

/* Poll until nothing changes, taking every event into EVS. */
static void settle(void)
{
    for (int i = 0; i < 8; i++) {
        uint32_t isr = lvio_device_isr(&D);
        int n = lvio_console_poll(&K, isr);
        if (n < 0)
            fail_msg("lvio_console_poll: %s: %s", lvio_errname(n), lvio_device_error(&D));
        struct lvio_console_event ev;
        while (lvio_console_next_event(&K, &ev)) {
            assert_true(NEVS < sizeof EVS / sizeof EVS[0]);
            EVS[NEVS++] = ev;
        }
    }
}

/* The events taken since `from` are exactly `n` of (type, port). */
static void events_are(unsigned from, unsigned n, const uint8_t *types, const uint32_t *ports)
{
    if (NEVS - from != n) {
        for (unsigned i = from; i < NEVS; i++)
            print_message("  event %u: %s port %u\n", i, lvio_console_event_name(EVS[i].type),
                          EVS[i].port);
        fail_msg("%u events, expected %u", NEVS - from, n);
    }
    for (unsigned i = 0; i < n; i++)
        if (EVS[from + i].type != types[i] || EVS[from + i].port != ports[i])
            fail_msg("event %u is %s port %u, expected %s port %u", i,
                     lvio_console_event_name(EVS[from + i].type), EVS[from + i].port,
                     lvio_console_event_name(types[i]), ports[i]);
}

/* Events of `type` for `port` taken so far. */
static unsigned events_of(uint8_t type, uint32_t port)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NEVS; i++)
        n += EVS[i].type == type && (port == ANY || EVS[i].port == port);
    return n;
}

static void says(const char *part)
{
    if (!strstr(lvio_device_error(&D), part))
        fail_msg("message \"%s\" does not say \"%s\"", lvio_device_error(&D), part);
}

static void logged(const char *part)
{
    if (!strstr(C.s->log, part))
        fail_msg("the log does not say \"%s\":\n%s", part, C.s->log);
}

static void clear_log(void)
{
    C.s->log[0] = '\0';
    C.s->log_len = 0;
}

static void down(void)
{
    assert_string_equal(C.s->error, "");
    lvio_console_teardown(&K);
    assert_int_equal(C.s->status, 0);
    assert_int_equal(C.s->live_pages, 0);
    assert_int_equal(C.s->live_shares, 0);
    for (unsigned i = 0; i < NPORTS; i++)
        assert_false(P[i].present);
    sim_console_fini(&C);
}

static uint8_t pattern(size_t i, uint8_t seed)
{
    return (uint8_t)(seed + i * 13 + (i >> 8) * 7 + (i >> 16));
}

/* Read everything port `port` has now into `buf` (at most `max`). */
static size_t read_all(unsigned port, uint8_t *buf, size_t max)
{
    size_t got = 0;
    for (int i = 0; i < 64 && got < max; i++) {
        settle();
        int n = lvio_console_read(&K, port, buf + got, max - got);
        assert_true(n >= 0);
        got += (size_t)n;
        if (n == 0 && lvio_console_readable(&K, port) == 0 &&
            sim_console_host_pending(&C, port) == 0)
            break;
    }
    return got;
}

/* A multiport console of `max` ports with port 0 a console, port 1
 * "echo" (host open), port 2 "data"; started and settled. */
static void three_ports(enum sim_bus bus, uint32_t max)
{
    device(bus, max, true);
    sim_console_plug(&C, 0, "", true);
    sim_console_plug(&C, 1, "echo", false);
    sim_console_host_open(&C, 1, true);
    sim_console_plug(&C, 2, "data", false);
    start();
    settle();
}

/* ---- single port ------------------------------------------------------------------------------ */

static void test_single_port(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        print_message("  %s\n", BUS_NAMES[b]);
        device(BUSES[b], 1, false);
        start_n(2);
        assert_false(K.multiport);
        assert_int_equal(K.max_nr_ports, 1);
        assert_int_equal(K.nusable, 1);
        assert_true(P[0].present && P[0].host_open && P[0].guest_open && P[0].usable);
        assert_false(P[1].usable);
        settle();
        events_are(0, 1, (const uint8_t[]){EV(PORT_ADDED)}, (const uint32_t[]){0});
        assert_int_equal(sim_console_count(&C, E(DEVICE_READY), ANY), 0);
        assert_int_equal(C.s->q[2].num, 0); /* no control queues without MULTIPORT */

        sim_console_host_write(&C, 0, "hello, guest", 12);
        settle();
        assert_int_equal(lvio_console_readable(&K, 0), 12);
        char buf[32] = {0};
        assert_int_equal(lvio_console_read(&K, 0, buf, 5), 5);
        assert_int_equal(lvio_console_read(&K, 0, buf + 5, sizeof buf - 5), 7);
        assert_string_equal(buf, "hello, guest");
        assert_int_equal(lvio_console_read(&K, 0, buf, sizeof buf), 0);
        assert_int_equal(P[0].rx_bytes, 12);

        assert_int_equal(lvio_console_write(&K, 0, "hello, host", 11, SECOND), 11);
        assert_int_equal(lvio_console_flush(&K, 0, SECOND), 0);
        char got[32] = {0};
        assert_int_equal(sim_console_guest_sent(&C, 0, got, sizeof got), 11);
        assert_string_equal(got, "hello, host");
        assert_int_equal(P[0].tx_bytes, 11);
        assert_int_equal(lvio_console_open(&K, 0, true), 0); /* nothing to tell */
        assert_int_equal(lvio_console_read(&K, 1, buf, 1), LVIO_E_STATE);
        says("port 1 has no queues");
        down();
    }
}

/* ---- multiport bring-up ------------------------------------------------------------------------ */

static void test_multiport_bring_up(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        print_message("  %s\n", BUS_NAMES[b]);
        three_ports(BUSES[b], 4);
        assert_true(K.multiport);
        assert_int_equal(K.max_nr_ports, 4);
        assert_int_equal(K.nusable, 4);
        assert_false(P[4].usable);
        /* The adds in plug order, then each port's answers to PORT_READY. */
        assert_int_equal(events_of(EV(PORT_ADDED), ANY), 3);
        assert_int_equal(EVS[0].type, EV(PORT_ADDED));
        assert_int_equal(EVS[0].port, 0);
        assert_int_equal(EVS[1].port, 1);
        assert_int_equal(EVS[2].port, 2);
        assert_int_equal(events_of(EV(PORT_CONSOLE), 0), 1);
        assert_int_equal(events_of(EV(PORT_NAMED), 1), 1);
        assert_int_equal(events_of(EV(PORT_NAMED), 2), 1);
        assert_int_equal(events_of(EV(PORT_OPENED), 1), 1);
        assert_int_equal(NEVS, 7);
        assert_true(P[0].present && P[0].is_console && P[0].guest_open && !P[0].host_open);
        assert_true(P[1].present && !P[1].is_console && !P[1].guest_open && P[1].host_open);
        assert_string_equal(P[1].name, "echo");
        assert_string_equal(P[2].name, "data");
        assert_false(P[3].present);
        assert_ptr_equal(lvio_console_port_by_name(&K, "echo"), &P[1]);
        assert_ptr_equal(lvio_console_port_by_name(&K, "data"), &P[2]);
        assert_null(lvio_console_port_by_name(&K, "ech"));
        assert_null(lvio_console_port_by_name(&K, "echo2"));
        /* What the guest said: DEVICE_READY once, a PORT_READY 1 for each
         * port, PORT_OPEN 1 for the console port only. */
        assert_int_equal(sim_console_count(&C, E(DEVICE_READY), ANY), 1);
        assert_int_equal(sim_console_find(&C, E(DEVICE_READY), ANY, 0)->value, 1);
        for (unsigned i = 0; i < 3; i++) {
            assert_int_equal(sim_console_count(&C, E(PORT_READY), i), 1);
            assert_int_equal(sim_console_find(&C, E(PORT_READY), i, 0)->value, 1);
            assert_true(C.port[i].ready);
        }
        assert_int_equal(sim_console_count(&C, E(PORT_OPEN), ANY), 1);
        assert_int_equal(sim_console_find(&C, E(PORT_OPEN), 0, 0)->value, 1);
        assert_int_equal(sim_console_find(&C, E(PORT_OPEN), 0, 0)->len, 8);
        assert_int_equal(C.ctrl_dropped, 0);
        /* The echo port: open it, data both ways. */
        assert_int_equal(lvio_console_open(&K, 1, true), 0);
        assert_true(P[1].guest_open && C.port[1].guest_open);
        sim_console_host_write(&C, 1, "ping", 4);
        char buf[8] = {0};
        settle();
        assert_int_equal(lvio_console_read(&K, 1, buf, sizeof buf), 4);
        assert_string_equal(buf, "ping");
        assert_int_equal(lvio_console_write(&K, 1, buf, 4, SECOND), 4);
        assert_int_equal(lvio_console_flush(&K, 1, SECOND), 0);
        char got[8] = {0};
        assert_int_equal(sim_console_guest_sent(&C, 1, got, sizeof got), 4);
        assert_string_equal(got, "ping");
        /* The console port gets data once its host side opens. */
        sim_console_host_write(&C, 0, "$ ", 2);
        settle();
        assert_int_equal(lvio_console_readable(&K, 0), 0);
        sim_console_host_open(&C, 0, true);
        settle();
        assert_int_equal(lvio_console_read(&K, 0, buf, sizeof buf), 2);
        assert_int_equal(events_of(EV(PORT_OPENED), 0), 1);
        down();
    }
}

/* QEMU answers a PORT_READY with CONSOLE_PORT, PORT_NAME, PORT_OPEN; a
 * host connecting meanwhile makes PORT_OPEN come first. Every order ends
 * the same. */
static void test_reply_orders(void **state)
{
    (void)state;
    for (uint8_t order = 0; order < 3; order++) {
        device(SIM_BUS_MMIO2, 4, true);
        C.reply_order = order;
        sim_console_plug(&C, 0, "console0", true);
        sim_console_host_open(&C, 0, true);
        sim_console_plug(&C, 3, "three", false);
        sim_console_host_open(&C, 3, true);
        start();
        settle();
        assert_true(P[0].present && P[0].is_console && P[0].host_open && P[0].guest_open);
        assert_string_equal(P[0].name, "console0");
        assert_true(P[3].present && P[3].host_open && !P[3].guest_open);
        assert_string_equal(P[3].name, "three");
        assert_int_equal(events_of(EV(PORT_NAMED), ANY), 2);
        assert_int_equal(events_of(EV(PORT_OPENED), ANY), 2);
        assert_int_equal(events_of(EV(PORT_CONSOLE), ANY), 1);
        /* Per port, ADDED comes first. */
        for (unsigned i = 0; i < NEVS; i++)
            if (EVS[i].type != EV(PORT_ADDED))
                for (unsigned j = i + 1; j < NEVS; j++)
                    assert_false(EVS[j].type == EV(PORT_ADDED) && EVS[j].port == EVS[i].port);
        /* A host that connects before the guest's PORT_READY reached it:
         * PORT_OPEN 1 now, and again with the answers. */
        sim_console_plug(&C, 2, "two", false);
        sim_console_host_open(&C, 2, true); /* before the driver saw the add */
        settle();
        assert_true(P[2].present && P[2].host_open);
        assert_string_equal(P[2].name, "two");
        assert_int_equal(events_of(EV(PORT_OPENED), 2), 1);
        down();
    }
}

/* ---- hot plug ----------------------------------------------------------------------------------- */

static void test_hot_add_remove(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        print_message("  %s\n", BUS_NAMES[b]);
        device(BUSES[b], 6, true);
        sim_console_plug(&C, 0, "", true);
        start();
        settle();
        unsigned from = NEVS;
        sim_console_plug(&C, 4, "hot", false);
        settle();
        events_are(from, 2, (const uint8_t[]){EV(PORT_ADDED), EV(PORT_NAMED)},
                   (const uint32_t[]){4, 4});
        assert_true(P[4].present);
        assert_int_equal(P[4].adds, 1);
        assert_int_equal(K.config_changes, 1); /* QEMU's configuration notice with the add */
        assert_int_equal(lvio_console_open(&K, 4, true), 0);
        sim_console_host_open(&C, 4, true);
        from = NEVS;
        sim_console_unplug(&C, 4);
        settle();
        events_are(from, 2, (const uint8_t[]){EV(PORT_OPENED), EV(PORT_REMOVED)},
                   (const uint32_t[]){4, 4});
        assert_false(P[4].present || P[4].host_open || P[4].guest_open);
        assert_string_equal(P[4].name, "hot"); /* kept until it comes back */
        assert_null(lvio_console_port_by_name(&K, "hot"));
        assert_int_equal(lvio_console_open(&K, 4, true), LVIO_E_STATE);
        says("port 4 is not present");
        /* Back, with another name: a new port, closed on both sides. */
        from = NEVS;
        sim_console_plug(&C, 4, "again", false);
        sim_console_plug(&C, 5, "", false);
        settle();
        events_are(from, 3, (const uint8_t[]){EV(PORT_ADDED), EV(PORT_ADDED), EV(PORT_NAMED)},
                   (const uint32_t[]){4, 5, 4});
        assert_string_equal(P[4].name, "again");
        assert_string_equal(P[5].name, "");
        assert_false(P[4].guest_open);
        assert_int_equal(P[4].adds, 2);
        assert_int_equal(P[4].removes, 1);
        assert_int_equal(lvio_console_open(&K, 4, true), 0);
        sim_console_host_open(&C, 4, true);
        sim_console_host_write(&C, 4, "new", 3);
        char buf[8] = {0};
        assert_int_equal(read_all(4, (uint8_t *)buf, sizeof buf), 3);
        assert_string_equal(buf, "new");
        assert_int_equal(C.s->q[2 * 4 + 2].num > 0, 1);
        assert_int_equal(C.stale_msgs, 0);
        down();
    }
}

/* A port plugged while DEVICE_READY is still unanswered is added twice by
 * QEMU (its own PORT_ADD, then the one for every port): one port, one
 * event, PORT_READY again. */
static void test_add_before_device_ready(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, 4, true);
    sim_console_plug(&C, 0, "", true);
    C.ctrl_hold = true;
    start();
    assert_int_equal(C.nctx, 1); /* DEVICE_READY, not acted on yet */
    sim_console_plug(&C, 2, "early", false);
    settle();
    assert_true(P[2].present);
    assert_int_equal(C.nctx, 2); /* and PORT_READY for port 2 */
    C.ctrl_hold = false;
    sim_console_ctrl_release(&C);
    settle();
    assert_true(P[0].present && P[2].present && P[0].is_console);
    assert_string_equal(P[2].name, "early");
    assert_int_equal(events_of(EV(PORT_ADDED), 2), 1);
    assert_int_equal(events_of(EV(PORT_NAMED), 2), 1);
    assert_int_equal(P[2].adds, 1);
    assert_int_equal(sim_console_count(&C, E(PORT_READY), 2), 2);
    assert_int_equal(sim_console_count(&C, E(DEVICE_READY), ANY), 1);
    logged("port 2 added again");
    down();
}

/* A port the device adds past the caller's storage: PORT_READY 0. */
static void test_add_past_storage(void **state)
{
    (void)state;
    device(SIM_BUS_PCI, 6, true);
    sim_console_plug(&C, 0, "", true);
    sim_console_plug(&C, 3, "far", false);
    sim_console_host_open(&C, 3, true);
    start_n(2);
    settle();
    assert_int_equal(K.nusable, 2);
    assert_int_equal(K.ports_refused, 1);
    assert_true(C.port[3].refused);
    assert_false(C.port[3].ready);
    const struct sim_console_msg *m = sim_console_find(&C, E(PORT_READY), 3, 0);
    assert_non_null(m);
    assert_int_equal(m->value, 0);
    assert_int_equal(events_of(EV(PORT_ADDED), ANY), 1);
    logged("PORT_ADD of port 3, past the 2 port(s) given storage");
    /* Hot-plugged there: the same. */
    sim_console_plug(&C, 5, "", false);
    settle();
    assert_int_equal(K.ports_refused, 2);
    assert_true(C.port[5].refused);
    /* Its host side opens: a message for a port without storage. */
    sim_console_host_open(&C, 5, true);
    settle();
    assert_int_equal(K.ctrl_unknown_port, 1);
    logged("PORT_OPEN for port 5: a port without storage: dropped");
    down();
    /* No control buffer free for the refusal: counted, not sent. */
    device(SIM_BUS_MMIO2, 6, true);
    C.s->q[3].num_max = 1; /* one control message in flight */
    C.ctrl_hold = true;     /* and the device sits on DEVICE_READY */
    start_n(2);
    sim_console_plug(&C, 4, "", false);
    settle();
    assert_int_equal(K.ports_refused, 1);
    assert_int_equal(K.ctrl_unsent, 1);
    logged("no control buffer free: PORT_READY 0 for port 4 not sent");
    C.ctrl_hold = false;
    sim_console_ctrl_release(&C);
    settle();
    assert_false(C.port[4].refused); /* told nothing: QEMU waits */
    down();
}

/* Every port named, open, one a console, all at once, and only 8 control
 * receive buffers: QEMU would drop answers were every PORT_READY sent
 * together. */
static void test_no_control_message_dropped(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, NPORTS, true);
    C.s->q[2].num_max = 8; /* 8 control receive buffers: room for 2 ports' answers */
    for (unsigned i = 0; i < NPORTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "org.example.port.%u", i);
        sim_console_plug(&C, i, name, i == 0);
        sim_console_host_open(&C, i, true);
    }
    start();
    settle();
    assert_int_equal(C.ctrl_dropped, 0);
    for (unsigned i = 0; i < NPORTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "org.example.port.%u", i);
        assert_true(P[i].present && P[i].host_open);
        assert_string_equal(P[i].name, name);
        assert_ptr_equal(lvio_console_port_by_name(&K, name), &P[i]);
    }
    assert_true(P[0].is_console && P[0].guest_open);
    assert_int_equal(NEVS, 3 * NPORTS + 1);
    down();
}

/* ---- names ------------------------------------------------------------------------------------- */

static void name_msg(uint32_t id, const char *name, size_t n, int64_t used)
{
    uint8_t m[SIM_CONSOLE_MSG] = {0};
    uint32_t id_le = lvio_cpu_to_le32(id);
    uint16_t ev = lvio_cpu_to_le16(E(PORT_NAME)), one = lvio_cpu_to_le16(1);
    memcpy(m, &id_le, 4);
    memcpy(m + 4, &ev, 2);
    memcpy(m + 6, &one, 2);
    memcpy(m + 8, name, n);
    sim_console_send_raw(&C, m, (uint32_t)(8 + n), used);
}

static void test_names(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    char name[LVIO_CONSOLE_NAME_MAX + 8];
    /* Without the NUL, and exactly as long as fits. */
    memset(name, 'n', sizeof name);
    name_msg(2, name, LVIO_CONSOLE_NAME_MAX - 1, -1);
    settle();
    assert_int_equal(strlen(P[2].name), LVIO_CONSOLE_NAME_MAX - 1);
    assert_int_equal(events_of(EV(PORT_NAMED), 2), 2);
    assert_int_equal(K.ctrl_bad_name, 0);
    /* One longer: refused, the old name kept. */
    clear_log();
    name_msg(2, name, LVIO_CONSOLE_NAME_MAX, -1);
    settle();
    assert_int_equal(K.ctrl_bad_name, 1);
    assert_int_equal(strlen(P[2].name), LVIO_CONSOLE_NAME_MAX - 1);
    logged("PORT_NAME for port 2: a name of 64 bytes");
    /* Empty, with a NUL or without anything. */
    name_msg(2, "", 1, -1);
    name_msg(2, "", 0, -1);
    settle();
    assert_int_equal(K.ctrl_bad_name, 3);
    /* The whole buffer without a NUL: cut by the device. */
    char big[200];
    memset(big, 'b', sizeof big);
    clear_log();
    name_msg(2, big, LVIO_CONSOLE_CTRL_BUF - 8, -1);
    settle();
    assert_int_equal(K.ctrl_bad_name, 4);
    logged("a name of 120 or more bytes");
    /* Longer: QEMU cuts it and reports the whole length. */
    name_msg(2, big, sizeof big, -1);
    settle();
    assert_int_equal(K.ctrl_bad_name, 4);
    assert_int_equal(K.overlong, 1);
    logged("PORT_NAME for port 2: longer than its control buffer: dropped");
    assert_int_equal(strlen(P[2].name), LVIO_CONSOLE_NAME_MAX - 1);
    /* A name with a NUL inside: up to it. */
    name_msg(1, "ab\0cd", 5, -1);
    settle();
    assert_string_equal(P[1].name, "ab");
    assert_ptr_equal(lvio_console_port_by_name(&K, "ab"), &P[1]);
    /* The same again: no event. */
    unsigned named = events_of(EV(PORT_NAMED), 1);
    name_msg(1, "ab", 3, -1);
    settle();
    assert_int_equal(events_of(EV(PORT_NAMED), 1), named);
    /* A port not present. */
    clear_log();
    name_msg(3, "ghost", 6, -1);
    settle();
    assert_int_equal(K.ctrl_unknown_port, 1);
    logged("PORT_NAME for port 3: not present: dropped");
    assert_null(lvio_console_port_by_name(&K, "ghost"));
    assert_null(lvio_console_port_by_name(&K, ""));
    assert_null(lvio_console_port_by_name(&K, NULL));
    assert_null(lvio_console_port_by_name(NULL, "ab"));
    down();
}

/* ---- data -------------------------------------------------------------------------------------- */

/* A MiB each way through one port, the host writing all of it at once and
 * the caller reading in odd sizes: nothing lost, nothing twice, in order. */
static void test_mib_both_ways(void **state)
{
    (void)state;
    const size_t MIB = 1u << 20;
    for (unsigned b = 0; b < 4; b += 2) {
        print_message("  %s\n", BUS_NAMES[b]);
        three_ports(BUSES[b], 4);
        assert_int_equal(lvio_console_open(&K, 1, true), 0);
        uint8_t *src = malloc(MIB), *dst = malloc(MIB), *got = malloc(MIB);
        assert_non_null(src);
        assert_non_null(dst);
        assert_non_null(got);
        for (size_t i = 0; i < MIB; i++) {
            src[i] = pattern(i, 1);
            dst[i] = pattern(i, 2);
        }
        sim_console_host_write(&C, 1, src, MIB);
        /* Back-pressure: only the posted buffers were filled. */
        assert_int_equal(C.port[1].delivered, LVIO_CONSOLE_RX_SLOTS * LVIO_CONSOLE_BUF_SIZE);
        size_t in = 0, out = 0, taken = 0;
        unsigned step = 0;
        while (in < MIB || taken < MIB) {
            assert_true(++step < 100000);
            int n = lvio_console_poll(&K, lvio_device_isr(&D));
            assert_true(n >= 0);
            size_t want = 1 + (step * 37) % 700;
            if (want > MIB - in)
                want = MIB - in;
            int r = lvio_console_read(&K, 1, dst + in, want);
            assert_true(r >= 0);
            in += (size_t)r;
            /* The guest echoes what it has read so far. */
            size_t echo = in - out < 3000 ? in - out : 3000;
            if (echo) {
                int w = lvio_console_write_nb(&K, 1, dst + out, echo);
                assert_true(w > 0 || w == LVIO_E_AGAIN);
                if (w > 0)
                    out += (size_t)w;
            }
            taken += sim_console_guest_sent(&C, 1, got + taken, MIB - taken);
        }
        assert_memory_equal(dst, src, MIB);
        assert_memory_equal(got, src, MIB);
        assert_int_equal(P[1].rx_bytes, MIB);
        assert_int_equal(P[1].tx_bytes, MIB);
        assert_int_equal(P[1].rx_dropped, 0);
        assert_int_equal(C.port[1].discarded, 0);
        assert_int_equal(sim_console_host_pending(&C, 1), 0);
        free(src);
        free(dst);
        free(got);
        down();
    }
}

/* Transmit buffers all with the device: LVIO_E_AGAIN, nothing taken; the
 * blocking write gives up at its time. */
static void test_tx_back_pressure(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    C.tx_hold = true;
    static uint8_t buf[LVIO_CONSOLE_TX_SLOTS * LVIO_CONSOLE_BUF_SIZE + 100];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pattern(i, 9);
    C.s->tick = 1000000; /* 1 ms a clock read */
    /* The blocking write takes what fits, then its time runs out. */
    int n = lvio_console_write(&K, 1, buf, sizeof buf, 50000000);
    assert_int_equal(n, LVIO_CONSOLE_TX_SLOTS * LVIO_CONSOLE_BUF_SIZE);
    assert_int_equal(lvio_console_tx_pending(&K, 1), (size_t)n);
    assert_int_equal(lvio_console_write_nb(&K, 1, buf + n, 100), LVIO_E_AGAIN);
    assert_int_equal(lvio_console_write(&K, 1, buf + n, 100, 0), LVIO_E_AGAIN);
    assert_int_equal(lvio_console_write(&K, 1, buf + n, 100, 50000000), LVIO_E_TIMEOUT);
    says("console: write to port 1");
    assert_int_equal(lvio_console_flush(&K, 1, 50000000), LVIO_E_TIMEOUT);
    says("console: flush of port 1");
    assert_int_equal(C.port[1].in_len, 0);
    /* The host takes them: everything arrives, in order, once. */
    sim_console_tx_release(&C, 1);
    assert_int_equal(lvio_console_write(&K, 1, buf + n, 100, SECOND), 100);
    sim_console_tx_release(&C, 1);
    assert_int_equal(lvio_console_flush(&K, 1, SECOND), 0);
    assert_int_equal(lvio_console_tx_pending(&K, 1), 0);
    static uint8_t got[sizeof buf];
    assert_int_equal(sim_console_guest_sent(&C, 1, got, sizeof got), sizeof buf);
    assert_memory_equal(got, buf, sizeof buf);
    /* The blocking write of more than the buffers hold, as they come back. */
    C.tx_hold = false;
    static uint8_t big[10000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = pattern(i, 3);
    assert_int_equal(lvio_console_write(&K, 1, big, sizeof big, SECOND), (int)sizeof big);
    static uint8_t big_got[sizeof big];
    assert_int_equal(sim_console_guest_sent(&C, 1, big_got, sizeof big_got), sizeof big);
    assert_memory_equal(big_got, big, sizeof big);
    down();
}

/* A port removed with bytes both ways in flight: what the guest sent comes
 * back from the device (QEMU discards it), what it received and did not
 * read is dropped and counted; added again, the port starts clean. */
static void test_remove_with_data_in_flight(void **state)
{
    (void)state;
    three_ports(SIM_BUS_PCI, 4);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    sim_console_host_write(&C, 1, "unread bytes", 12);
    settle();
    assert_int_equal(lvio_console_readable(&K, 1), 12);
    char c2[3];
    assert_int_equal(lvio_console_read(&K, 1, c2, 2), 2); /* part of a buffer */
    C.tx_hold = true;
    assert_int_equal(lvio_console_write_nb(&K, 1, "outgoing", 8), 8);
    assert_int_equal(lvio_console_tx_pending(&K, 1), 8);
    unsigned from = NEVS;
    sim_console_unplug(&C, 1);
    settle();
    events_are(from, 1, (const uint8_t[]){EV(PORT_REMOVED)}, (const uint32_t[]){1});
    assert_int_equal(P[1].rx_dropped, 10);
    assert_int_equal(lvio_console_readable(&K, 1), 0);
    assert_int_equal(lvio_console_tx_pending(&K, 1), 0);
    assert_int_equal(C.port[1].discarded, 8);
    char buf[16];
    assert_int_equal(lvio_console_read(&K, 1, buf, sizeof buf), LVIO_E_STATE);
    assert_int_equal(lvio_console_write_nb(&K, 1, "x", 1), LVIO_E_STATE);
    assert_int_equal(lvio_console_write(&K, 1, "x", 1, SECOND), LVIO_E_STATE);
    assert_int_equal(lvio_console_flush(&K, 1, SECOND), 0);
    /* The receive buffers stayed with the queue; back, the port works. */
    C.tx_hold = false;
    sim_console_plug(&C, 1, "echo", false);
    sim_console_host_open(&C, 1, true);
    settle();
    assert_true(P[1].present && P[1].host_open && !P[1].guest_open);
    assert_int_equal(lvio_console_readable(&K, 1), 0);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    sim_console_host_write(&C, 1, "fresh", 5);
    memset(buf, 0, sizeof buf);
    assert_int_equal(read_all(1, (uint8_t *)buf, sizeof buf), 5);
    assert_string_equal(buf, "fresh");
    assert_int_equal(lvio_console_write(&K, 1, "back", 4, SECOND), 4);
    assert_int_equal(sim_console_guest_sent(&C, 1, buf, sizeof buf), 4);
    assert_memory_equal(buf, "back", 4);
    down();
}

/* The host side opening and closing; bytes written while it is closed are
 * the host's to drop (QEMU does), and the write still completes. */
static void test_host_open_close(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO1, 4);
    unsigned from = NEVS;
    sim_console_host_open(&C, 2, true);
    sim_console_host_open(&C, 2, false);
    sim_console_host_open(&C, 2, true);
    settle();
    events_are(from, 3, (const uint8_t[]){EV(PORT_OPENED), EV(PORT_CLOSED), EV(PORT_OPENED)},
               (const uint32_t[]){2, 2, 2});
    sim_console_host_open(&C, 2, false);
    settle();
    assert_false(P[2].host_open);
    assert_int_equal(lvio_console_write(&K, 2, "lost", 4, SECOND), 4);
    assert_int_equal(lvio_console_flush(&K, 2, SECOND), 0);
    assert_int_equal(C.port[2].discarded, 4);
    /* The guest side: PORT_OPEN 1, then 0. */
    assert_int_equal(lvio_console_open(&K, 2, true), 0);
    assert_int_equal(lvio_console_open(&K, 2, false), 0);
    assert_false(P[2].guest_open);
    assert_false(C.port[2].guest_open);
    assert_int_equal(sim_console_count(&C, E(PORT_OPEN), 2), 2);
    assert_int_equal(sim_console_find(&C, E(PORT_OPEN), 2, 1)->value, 0);
    down();
}

/* ---- the device misbehaving ----------------------------------------------------------------------- */

static void raw(uint32_t id, uint16_t ev, uint16_t value, uint32_t len, int64_t used)
{
    uint8_t m[SIM_CONSOLE_MSG] = {0};
    uint32_t id_le = lvio_cpu_to_le32(id);
    uint16_t ev_le = lvio_cpu_to_le16(ev), v_le = lvio_cpu_to_le16(value);
    memcpy(m, &id_le, 4);
    memcpy(m + 4, &ev_le, 2);
    memcpy(m + 6, &v_le, 2);
    sim_console_send_raw(&C, m, len, used);
}

static void test_bad_control_messages(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    struct lvio_console_port before[3];
    memcpy(before, P, sizeof before);
    clear_log();
    raw(1, E(PORT_OPEN), 0, 7, -1); /* shorter than the header */
    raw(1, E(PORT_OPEN), 0, 0, -1);
    settle();
    assert_int_equal(K.ctrl_short, 2);
    logged("a control message of 7 bytes, shorter than its 8-byte header: dropped");
    raw(4, E(PORT_OPEN), 1, 8, -1); /* past max_nr_ports */
    raw(UINT32_MAX, E(DEVICE_ADD), 1, 8, -1);
    settle();
    assert_int_equal(K.ctrl_bad_id, 2);
    logged("PORT_OPEN for port 4: past max_nr_ports: dropped");
    raw(3, E(PORT_OPEN), 1, 8, -1); /* not present */
    raw(3, E(DEVICE_REMOVE), 1, 8, -1);
    raw(3, E(CONSOLE_PORT), 1, 8, -1);
    settle();
    assert_int_equal(K.ctrl_unknown_port, 3);
    logged("PORT_REMOVE for port 3: not present: dropped");
    raw(1, E(DEVICE_READY), 1, 8, -1); /* a driver's events */
    raw(1, E(PORT_READY), 1, 8, -1);
    raw(1, 99, 1, 8, -1);
    settle();
    assert_int_equal(K.ctrl_bad_event, 3);
    logged("unknown for port 1: not an event a device sends: dropped");
    raw(1, E(RESIZE), 0, 10, -1); /* a size cut short */
    settle();
    assert_int_equal(K.ctrl_short, 3);
    logged("RESIZE for port 1: shorter than a size: dropped");
    raw(1, E(PORT_OPEN), 0, 8, 4096); /* a used length past the buffer */
    settle();
    assert_int_equal(K.overlong, 1);
    logged("PORT_OPEN for port 1: longer than its control buffer: dropped");
    /* Nothing changed, the console goes on. */
    assert_int_equal(memcmp(before[1].name, P[1].name, sizeof P[1].name), 0);
    assert_true(P[1].host_open);
    assert_int_equal(K.ctrl_messages, 7 + 12);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    sim_console_host_write(&C, 1, "ok", 2);
    char buf[4] = {0};
    assert_int_equal(read_all(1, (uint8_t *)buf, sizeof buf), 2);
    assert_string_equal(buf, "ok");
    down();
}

/* A receive buffer the device says it overfilled: its bytes dropped. */
static void test_rx_overlong_dropped(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    C.rx_used_len = LVIO_CONSOLE_BUF_SIZE + 1;
    sim_console_host_write(&C, 1, "bad", 3);
    settle();
    assert_int_equal(lvio_console_readable(&K, 1), 0);
    assert_int_equal(K.overlong, 1);
    assert_int_equal(P[1].rx_dropped, LVIO_CONSOLE_BUF_SIZE);
    logged("port 1: used length longer than the 1024-byte receive buffer");
    C.rx_used_len = -1;
    sim_console_host_write(&C, 1, "good", 4);
    char buf[8] = {0};
    assert_int_equal(read_all(1, (uint8_t *)buf, sizeof buf), 4);
    assert_string_equal(buf, "good");
    down();
}

/* A queue the device breaks: every poll says so until a reset. */
static void test_broken_queue_and_recovery(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    C.s->bad_used_id = 77; /* the next used entry names no chain */
    sim_console_host_write(&C, 1, "x", 1);
    assert_int_equal(lvio_console_poll(&K, 0), LVIO_E_BROKEN);
    assert_int_equal(lvio_console_poll(&K, 0), LVIO_E_BROKEN);
    assert_int_equal(lvio_console_read(&K, 1, (char[4]){0}, 4), LVIO_E_BROKEN);
    says("queue 4");
    C.s->error[0] = '\0';
    assert_int_equal(lvio_console_reset(&K), 0);
    settle();
    assert_true(P[1].present);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    sim_console_host_write(&C, 1, "y", 1);
    char buf[4] = {0};
    assert_int_equal(read_all(1, (uint8_t *)buf, sizeof buf), 1);
    assert_string_equal(buf, "y"); /* "x" went with the broken queue */
    down();
}

/* The device asks for a reset: the next poll with a configuration notice
 * says so. */
static void test_needs_reset(void **state)
{
    (void)state;
    three_ports(SIM_BUS_PCI, 4);
    C.s->status |= LVIO_VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    sim_console_config_change(&C);
    assert_int_equal(lvio_console_poll(&K, lvio_device_isr(&D)), LVIO_E_NEEDS_RESET);
    assert_int_equal(lvio_console_reset(&K), 0);
    settle();
    assert_true(P[0].present && P[1].present && P[2].present);
    down();
}

/* Buffers the device gives back empty: nothing to read, posted again. */
static void test_empty_completions(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    C.rx_used_len = 0;
    sim_console_host_write(&C, 1, "gone", 4);
    settle();
    assert_int_equal(lvio_console_readable(&K, 1), 0);
    assert_int_equal(C.port[1].nrx, LVIO_CONSOLE_RX_SLOTS); /* all posted again */
    C.rx_used_len = -1;
    sim_console_host_write(&C, 1, "here", 4);
    char buf[8] = {0};
    assert_int_equal(read_all(1, (uint8_t *)buf, sizeof buf), 4);
    assert_string_equal(buf, "here");
    assert_int_equal(P[1].rx_dropped, 0);
    down();
}

/* ---- size, emergency write --------------------------------------------------------------------- */

static void test_size_and_resize(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, 4, true);
    sim_console_offer(&C, E(F_SIZE), true);
    C.cols = 80;
    C.rows = 25;
    sim_console_plug(&C, 0, "", true);
    sim_console_plug(&C, 1, "", false);
    start();
    settle();
    assert_true(K.has_size);
    assert_int_equal(P[0].cols, 80);
    assert_int_equal(P[0].rows, 25);
    unsigned from = NEVS;
    sim_console_resize(&C, 132, 43);
    settle();
    events_are(from, 1, (const uint8_t[]){EV(RESIZED)}, (const uint32_t[]){0});
    assert_int_equal(EVS[from].cols, 132);
    assert_int_equal(EVS[from].rows, 43);
    assert_int_equal(P[0].cols, 132);
    /* RESIZE for a port: cols, then rows. */
    uint8_t m[12];
    uint32_t id = lvio_cpu_to_le32(1);
    uint16_t ev = lvio_cpu_to_le16(E(RESIZE)), zero = 0, cols = lvio_cpu_to_le16(100),
             rows = lvio_cpu_to_le16(30);
    memcpy(m, &id, 4);
    memcpy(m + 4, &ev, 2);
    memcpy(m + 6, &zero, 2);
    memcpy(m + 8, &cols, 2);
    memcpy(m + 10, &rows, 2);
    sim_console_send_raw(&C, m, 12, -1);
    settle();
    assert_int_equal(EVS[NEVS - 1].type, EV(RESIZED));
    assert_int_equal(EVS[NEVS - 1].port, 1);
    assert_int_equal(P[1].cols, 100);
    assert_int_equal(P[1].rows, 30);
    down();
}

static void test_emergency_write(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        print_message("  %s\n", BUS_NAMES[b]);
        three_ports(BUSES[b], 4);
        assert_true(K.emerg);
        sim_console_host_open(&C, 0, true);
        settle();
        const char *s = "panic!";
        for (const char *p = s; *p; p++)
            assert_int_equal(lvio_console_emerg_write(&K, *p), 0);
        assert_string_equal(C.emerg, s);
        char got[8] = {0};
        assert_int_equal(sim_console_guest_sent(&C, 0, got, sizeof got), 6);
        assert_string_equal(got, s);
        down();
    }
    device(SIM_BUS_MMIO2, 1, false);
    sim_console_offer(&C, E(F_EMERG_WRITE), false);
    start();
    assert_int_equal(lvio_console_emerg_write(&K, 'x'), LVIO_E_UNSUPPORTED);
    assert_int_equal(C.nemerg, 0);
    assert_int_equal(lvio_console_emerg_write(NULL, 'x'), LVIO_E_INVAL);
    down();
}

/* ---- events, teardown, reset, arguments ---------------------------------------------------------- */

static void test_event_fifo_full(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    for (unsigned i = 0; i < LVIO_CONSOLE_EVENTS; i++) {
        sim_console_host_open(&C, 2, i % 2 == 0);
        assert_true(lvio_console_poll(&K, 0) >= 0);
    }
    assert_int_equal(K.ev_count, LVIO_CONSOLE_EVENTS);
    assert_int_equal(K.events_lost, 0);
    clear_log();
    sim_console_host_open(&C, 2, true);
    assert_int_equal(lvio_console_poll(&K, 0), LVIO_CONSOLE_EVENTS);
    assert_int_equal(K.events_lost, 1);
    logged("events not taken: port-opened of port 2 dropped");
    struct lvio_console_event ev;
    assert_true(lvio_console_next_event(&K, &ev));
    assert_int_equal(ev.type, EV(PORT_OPENED));
    assert_int_equal(ev.port, 2);
    assert_true(lvio_console_next_event(&K, &ev));
    assert_int_equal(ev.type, EV(PORT_CLOSED));
    assert_false(lvio_console_next_event(NULL, &ev));
    assert_false(lvio_console_next_event(&K, NULL));
    down();
}

static void test_reset_brings_ports_back(void **state)
{
    (void)state;
    three_ports(SIM_BUS_PCI, 4);
    assert_int_equal(lvio_console_open(&K, 1, true), 0);
    sim_console_host_write(&C, 1, "before", 6);
    settle();
    NEVS = 0;
    assert_int_equal(lvio_console_reset(&K), 0);
    assert_int_equal(K.resets, 1);
    assert_int_equal(C.s->live_pages > 0, 1);
    settle();
    assert_int_equal(events_of(EV(PORT_ADDED), ANY), 3);
    assert_true(P[1].present && !P[1].guest_open);
    assert_int_equal(lvio_console_readable(&K, 1), 0);
    assert_int_equal(sim_console_count(&C, E(DEVICE_READY), ANY), 2);
    down();
}

static void test_teardown_gives_everything_back(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 4; b++) {
        three_ports(BUSES[b], NPORTS);
        assert_int_equal(lvio_console_open(&K, 1, true), 0);
        C.tx_hold = true;
        sim_console_host_write(&C, 1, "pending", 7);
        assert_int_equal(lvio_console_write_nb(&K, 1, "out", 3), 3);
        settle();
        down(); /* with a transmit buffer and received bytes still out */
        assert_int_equal(lvio_console_poll(&K, 0), LVIO_E_STATE);
        assert_int_equal(lvio_console_read(&K, 1, (char[4]){0}, 4), LVIO_E_STATE);
        lvio_console_teardown(&K); /* twice: nothing */
    }
}

static void test_dead_device_keeps_memory(void **state)
{
    (void)state;
    three_ports(SIM_BUS_MMIO2, 4);
    C.s->reset_stuck = true;
    lvio_console_teardown(&K);
    assert_true(D.dead);
    assert_int_equal((int)D.kept_pages, C.s->live_pages);
    assert_true(D.kept_pages > 0);
    assert_int_equal(C.s->live_shares, 0);
    C.s->reset_stuck = false;
    sim_console_fini(&C);
}

static void test_init_failures(void **state)
{
    (void)state;
    device(SIM_BUS_MMIO2, 0, true); /* max_nr_ports 0 */
    sim_console_apply(&C);
    sim_console_probe(&C, &D);
    assert_int_equal(lvio_console_init(&K, &D, P, NPORTS), LVIO_E_CONFIG);
    says("max_nr_ports is 0");
    assert_true(C.s->status & LVIO_VIRTIO_STATUS_FAILED);
    assert_int_equal(C.s->live_pages, 0);
    /* Out of DMA memory at each allocation in turn. */
    for (int k = 0; k <= 20; k++) {
        device(SIM_BUS_MMIO2, 4, true);
        sim_console_plug(&C, 0, "", true);
        sim_console_apply(&C);
        sim_console_probe(&C, &D);
        C.s->fail_alloc_after = k;
        int err = lvio_console_init(&K, &D, P, 4);
        if (err == 0) {
            assert_int_equal(k, 20); /* 4 + 4 a port: 20 allocations */
            lvio_console_teardown(&K);
        } else {
            assert_int_equal(err, LVIO_E_NOMEM);
            assert_true(C.s->status & LVIO_VIRTIO_STATUS_FAILED);
        }
        assert_int_equal(C.s->live_pages, 0);
    }
    /* A queue the device does not have. */
    device(SIM_BUS_MMIO2, 4, true);
    C.s->q[7].num_max = 0;
    sim_console_apply(&C);
    sim_console_probe(&C, &D);
    assert_int_equal(lvio_console_init(&K, &D, P, 4), LVIO_E_QUEUE);
    assert_int_equal(C.s->live_pages, 0);
    sim_console_fini(&C);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct lvio_device unprobed = {0};
    device(SIM_BUS_MMIO2, 4, true);
    sim_console_probe(&C, &D);
    assert_int_equal(lvio_console_init(NULL, &D, P, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_init(&K, NULL, P, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_init(&K, &unprobed, P, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_init(&K, &D, NULL, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_init(&K, &D, P, 0), LVIO_E_INVAL);
    D.device_id = LVIO_VIRTIO_ID_RNG;
    assert_int_equal(lvio_console_init(&K, &D, P, 1), LVIO_E_INVAL);
    says("device id 4 is not a console");
    D.device_id = LVIO_VIRTIO_ID_CONSOLE;
    assert_int_equal(C.s->live_pages, 0);
    char buf[4];
    assert_int_equal(lvio_console_poll(NULL, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_console_read(NULL, 0, buf, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_write_nb(NULL, 0, buf, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_write(NULL, 0, buf, 1, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_console_flush(NULL, 0, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_console_open(NULL, 0, true), LVIO_E_INVAL);
    assert_int_equal(lvio_console_reset(NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_console_readable(NULL, 0), 0);
    assert_int_equal(lvio_console_tx_pending(NULL, 0), 0);
    lvio_console_teardown(NULL);
    assert_string_equal(lvio_console_event_name(EV(RESIZED)), "resized");
    assert_string_equal(lvio_console_event_name(0), "unknown");
    three_ports(SIM_BUS_MMIO2, 4);
    assert_int_equal(lvio_console_read(&K, NPORTS, buf, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_read(&K, 1, NULL, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_read(&K, 1, buf, (size_t)INT32_MAX + 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_write_nb(&K, 1, NULL, 1), LVIO_E_INVAL);
    assert_int_equal(lvio_console_write_nb(&K, 1, buf, 0), 0);
    assert_int_equal(lvio_console_write(&K, 1, buf, 0, 0), 0);
    assert_int_equal(lvio_console_read(&K, 1, buf, 0), 0);
    assert_int_equal(lvio_console_read(&K, 5, buf, 1), LVIO_E_STATE); /* no queues */
    assert_int_equal(lvio_console_read(&K, 3, buf, 1), LVIO_E_STATE); /* not present */
    says("port 3 is not present");
    assert_int_equal(lvio_console_open(&K, 3, true), LVIO_E_STATE);
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_port),
        cmocka_unit_test(test_multiport_bring_up),
        cmocka_unit_test(test_reply_orders),
        cmocka_unit_test(test_hot_add_remove),
        cmocka_unit_test(test_add_before_device_ready),
        cmocka_unit_test(test_add_past_storage),
        cmocka_unit_test(test_no_control_message_dropped),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_mib_both_ways),
        cmocka_unit_test(test_tx_back_pressure),
        cmocka_unit_test(test_remove_with_data_in_flight),
        cmocka_unit_test(test_host_open_close),
        cmocka_unit_test(test_bad_control_messages),
        cmocka_unit_test(test_rx_overlong_dropped),
        cmocka_unit_test(test_broken_queue_and_recovery),
        cmocka_unit_test(test_needs_reset),
        cmocka_unit_test(test_empty_completions),
        cmocka_unit_test(test_size_and_resize),
        cmocka_unit_test(test_emergency_write),
        cmocka_unit_test(test_event_fifo_full),
        cmocka_unit_test(test_reset_brings_ports_back),
        cmocka_unit_test(test_teardown_gives_everything_back),
        cmocka_unit_test(test_dead_device_keeps_memory),
        cmocka_unit_test(test_init_failures),
        cmocka_unit_test(test_bad_arguments),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sim_console_fini(&C);
    sim_free_dma(C.s ? C.s : &C.u.sim);
    return rc;
}
