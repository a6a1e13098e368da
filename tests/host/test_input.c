/*
 * The virtio-input driver against the simulated device (sim_input.h) on
 * MMIO Version 1 and 2 and modern PCI: the configuration of each kind and
 * how it is classified, answers a device must not give, events in order
 * across many refills, a FIFO that overflows without stalling the device,
 * used lengths other than 8, LED state on the status queue (the exact
 * bytes) and LVIO_E_AGAIN, bad arguments, and every page given back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/input.h"
#include "sim_input.h"

#define NTRANSPORTS 3
static const enum sim_input_transport TRANSPORTS[NTRANSPORTS] = {
    SIM_INPUT_MMIO1, SIM_INPUT_MMIO2, SIM_INPUT_PCI};

static struct sim_input X;
static struct lvio_device D;
static struct lvio_input K;

#define S (X.pci.s)

/* ---- helpers ------------------------------------------------------------------------ */

/* A device of `model`, not probed yet: the test changes it, then start(). */
static void device(enum sim_input_transport t, enum sim_input_model m)
{
    sim_free_dma(&S);
    sim_input_init(&X, t, m);
}

static void start(void)
{
    sim_input_probe(&X, &D);
    int err = lvio_input_init(&K, &D);
    if (err)
        fail_msg("lvio_input_init: %s: %s", lvio_errname(err), lvio_device_error(&D));
    assert_true(S.status & LVIO_VIRTIO_STATUS_DRIVER_OK);
    assert_true(K.up);
    /* Every event buffer is the device's (the queue is 64 here). */
    assert_int_equal(sim_input_buffers(&X), LVIO_INPUT_EVENT_BUFS);
}

/* The device's answer to (select, subsel) says `size`, whatever it holds. */
static void force_size(uint8_t select, uint8_t subsel, uint8_t size)
{
    X.force_on = true;
    X.force_select = select;
    X.force_subsel = subsel;
    X.force_size = size;
}

/* The driver took the device for `kind` (named `kind_name`) called `name`. */
static void kind_is(enum lvio_input_kind kind, const char *kind_name, const char *name)
{
    assert_int_equal(K.kind, kind);
    assert_string_equal(lvio_input_kind_name(K.kind), kind_name);
    assert_string_equal(K.name, name);
}

/* A device of `model` on `t`, brought up as it is. */
static void up(enum sim_input_transport t, enum sim_input_model m)
{
    device(t, m);
    start();
}

static void says(const char *part)
{
    if (!strstr(lvio_device_error(&D), part))
        fail_msg("message \"%s\" does not say \"%s\"", lvio_device_error(&D), part);
}

/* lvio_input_init fails with `err`, saying `part`; nothing is left. */
static void start_fails(int err, const char *part)
{
    sim_input_probe(&X, &D);
    int got = lvio_input_init(&K, &D);
    if (got != err)
        fail_msg("lvio_input_init returned %s, not %s (\"%s\")", lvio_errname(got),
                 lvio_errname(err), lvio_device_error(&D));
    says(part);
    assert_true(S.status & LVIO_VIRTIO_STATUS_FAILED);
    assert_false(K.up);
    assert_int_equal(S.live_pages, 0);
    assert_string_equal(S.error, "");
}

static void down(void)
{
    assert_string_equal(S.error, "");
    lvio_input_teardown(&K);
    assert_false(K.up);
    assert_int_equal(S.status, 0);
    assert_int_equal(S.live_pages, 0); /* every DMA page came back */
    assert_int_equal(S.live_shares, 0);
}

static void clear_log(void)
{
    S.log_len = 0;
    S.log[0] = '\0';
}

static unsigned log_count(const char *part)
{
    unsigned n = 0;
    for (const char *p = S.log; (p = strstr(p, part)); p++)
        n++;
    return n;
}

/* The next event the driver hands out is (type, code, value). */
static void next_is(uint16_t type, uint16_t code, int32_t value)
{
    struct lvio_input_event ev;
    if (!lvio_input_next(&K, &ev))
        fail_msg("no event; expected %u/%u/%d", type, code, value);
    if (ev.type != type || ev.code != code || ev.value != value)
        fail_msg("event %u/%u/%d; expected %u/%u/%d", ev.type, ev.code, ev.value, type, code,
                 value);
}

/* The device sends one event; a poll takes it and it comes out, alone. */
static void round_trip(uint16_t type, uint16_t code, int32_t value)
{
    sim_input_send(&X, type, code, value);
    assert_int_equal(lvio_input_poll(&K, lvio_device_isr(&D)), 1);
    next_is(type, code, value);
}

static void no_event(void)
{
    struct lvio_input_event ev;
    assert_false(lvio_input_next(&K, &ev));
}

/* The interrupt's cause, as a kernel's handler reads it. */
static uint32_t isr(void)
{
    return lvio_device_isr(&D);
}

/* ---- configuration and classification --------------------------------------------------- */

static void test_keyboard(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        up(TRANSPORTS[t], SIM_INPUT_KEYBOARD);
        kind_is(LVIO_INPUT_KEYBOARD, "keyboard", "QEMU Virtio Keyboard");
        assert_string_equal(K.serial, "");
        assert_true(K.has_ids);
        assert_int_equal(K.ids.bustype, 6);
        assert_int_equal(K.ids.vendor, 0x0627);
        assert_int_equal(K.ids.product, SIM_INPUT_KEYBOARD);
        assert_int_equal(K.ids.version, 1);
        assert_int_equal(K.ev_types,
                         1u << LVIO_EV_KEY | 1u << LVIO_EV_REP | 1u << LVIO_EV_LED);
        assert_true(lvio_input_has_event(&K, LVIO_EV_KEY, LVIO_KEY_A));
        assert_true(lvio_input_has_event(&K, LVIO_EV_KEY, LVIO_KEY_ESC));
        assert_false(lvio_input_has_event(&K, LVIO_EV_KEY, LVIO_BTN_LEFT));
        assert_true(lvio_input_has_event(&K, LVIO_EV_LED, LVIO_LED_CAPSL));
        assert_false(lvio_input_has_event(&K, LVIO_EV_LED, 3));
        assert_false(lvio_input_has_event(&K, LVIO_EV_REP, 0));
        assert_null(lvio_input_abs(&K, LVIO_ABS_X));
        assert_int_equal(K.abs_axes, 0);
        assert_true(K.leds_usable);
        /* One query each: name, serial, ids, props, every type. */
        assert_int_equal(X.answers[LVIO_VIRTIO_INPUT_CFG_ID_NAME], 1);
        assert_int_equal(X.answers[LVIO_VIRTIO_INPUT_CFG_EV_BITS], LVIO_INPUT_EV_TYPES);
        assert_int_equal(X.answers[LVIO_VIRTIO_INPUT_CFG_ABS_INFO], 0);
        down();
    }
}

static void test_mouse(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        up(TRANSPORTS[t], SIM_INPUT_MOUSE);
        kind_is(LVIO_INPUT_MOUSE, "mouse", "QEMU Virtio Mouse");
        assert_true(lvio_input_has_event(&K, LVIO_EV_REL, LVIO_REL_X));
        assert_true(lvio_input_has_event(&K, LVIO_EV_REL, LVIO_REL_WHEEL));
        assert_true(lvio_input_has_event(&K, LVIO_EV_KEY, LVIO_BTN_LEFT));
        assert_false(lvio_input_has_event(&K, LVIO_EV_KEY, LVIO_KEY_A));
        assert_false(K.leds_usable);
        assert_null(lvio_input_abs(&K, LVIO_ABS_X));
        down();
    }
}

static void test_tablet(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        device(TRANSPORTS[t], SIM_INPUT_TABLET);
        X.abs[LVIO_ABS_Y][1] = 1079;
        X.abs[LVIO_ABS_Y][0] = -1;
        X.abs[LVIO_ABS_Y][2] = 3;
        X.abs[LVIO_ABS_Y][3] = 4;
        X.abs[LVIO_ABS_Y][4] = 5;
        start();
        kind_is(LVIO_INPUT_TABLET, "tablet", "QEMU Virtio Tablet");
        const struct lvio_input_absinfo *x = lvio_input_abs(&K, LVIO_ABS_X);
        const struct lvio_input_absinfo *y = lvio_input_abs(&K, LVIO_ABS_Y);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->min, 0);
        assert_int_equal(x->max, 0x7fff);
        assert_int_equal(y->min, -1);
        assert_int_equal(y->max, 1079);
        assert_int_equal(y->fuzz, 3);
        assert_int_equal(y->flat, 4);
        assert_int_equal(y->res, 5);
        assert_null(lvio_input_abs(&K, 2));
        assert_null(lvio_input_abs(&K, LVIO_INPUT_ABS_AXES));
        assert_int_equal(K.abs_axes, 3);
        assert_int_equal(X.answers[LVIO_VIRTIO_INPUT_CFG_ABS_INFO], 2); /* two axes */
        down();
    }
}

/* Pointers before keyboards, tablets before mice; letters make a keyboard;
 * buttons alone do not. */
static void test_classification(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO2, SIM_INPUT_NONE);
    kind_is(LVIO_INPUT_OTHER, "other", "");
    assert_false(K.has_ids);
    assert_int_equal(K.ev_types, 0);
    down();

    device(SIM_INPUT_MMIO2, SIM_INPUT_MOUSE);
    sim_input_set_code(&X, LVIO_EV_KEY, LVIO_KEY_M); /* a mouse with a key M */
    start();
    assert_int_equal(K.kind, LVIO_INPUT_MOUSE);
    down();

    device(SIM_INPUT_MMIO2, SIM_INPUT_TABLET);
    sim_input_set_code(&X, LVIO_EV_REL, LVIO_REL_X);
    sim_input_set_code(&X, LVIO_EV_REL, LVIO_REL_Y);
    start();
    assert_int_equal(K.kind, LVIO_INPUT_TABLET);
    down();

    static const uint16_t letters[] = {LVIO_KEY_Q, LVIO_KEY_P, LVIO_KEY_A, LVIO_KEY_L,
                                       LVIO_KEY_Z, LVIO_KEY_M};
    for (unsigned i = 0; i < sizeof letters / sizeof letters[0]; i++) {
        device(SIM_INPUT_MMIO2, SIM_INPUT_NONE);
        sim_input_set_code(&X, LVIO_EV_KEY, letters[i]);
        start();
        assert_int_equal(K.kind, LVIO_INPUT_KEYBOARD);
        down();
    }
    /* Keys, but none a letter (digits, Enter), or only buttons: other. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_NONE);
    sim_input_set_code(&X, LVIO_EV_KEY, LVIO_KEY_1);
    sim_input_set_code(&X, LVIO_EV_KEY, LVIO_KEY_ENTER);
    sim_input_set_code(&X, LVIO_EV_KEY, LVIO_KEY_SEMICOLON);
    sim_input_set_code(&X, LVIO_EV_KEY, LVIO_BTN_LEFT);
    sim_input_set_code(&X, LVIO_EV_REL, LVIO_REL_X); /* one axis is no mouse */
    sim_input_set_abs(&X, LVIO_ABS_Y, 0, 10);        /* nor a tablet */
    start();
    assert_int_equal(K.kind, LVIO_INPUT_OTHER);
    assert_non_null(lvio_input_abs(&K, LVIO_ABS_Y));
    down();

    assert_string_equal(lvio_input_kind_name((enum lvio_input_kind)7), "unknown");
    assert_string_equal(lvio_input_kind_name((enum lvio_input_kind)-1), "unknown");
}

/* Strings: without a NUL of their own, 128 bytes long, cut at an inner
 * NUL, shorter than their size; always NUL-terminated in the copy. */
static void test_strings(void **state)
{
    (void)state;
    device(SIM_INPUT_MMIO1, SIM_INPUT_KEYBOARD);
    X.name_nul = false;
    memset(X.name, 'n', 128);
    X.name[128] = '\0';
    strcpy(X.serial, "serial-1");
    start();
    assert_int_equal(strlen(K.name), 128);
    assert_int_equal(K.name[0], 'n');
    assert_int_equal(K.name[127], 'n');
    assert_string_equal(K.serial, "serial-1");
    down();

    /* A size past the string: the union's zero bytes end it. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    strcpy(X.serial, "abc");
    force_size(LVIO_VIRTIO_INPUT_CFG_ID_SERIAL, 0, 100);
    start();
    assert_string_equal(K.serial, "abc");
    down();

    /* A size shorter than the string: only that much. */
    device(SIM_INPUT_PCI, SIM_INPUT_KEYBOARD);
    force_size(LVIO_VIRTIO_INPUT_CFG_ID_NAME, 0, 4);
    start();
    assert_string_equal(K.name, "QEMU");
    down();

    /* Bytes that are not text stay as they are (the caller prints them). */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    strcpy(X.name, "\x01\xff" "x");
    start();
    assert_string_equal(K.name, "\x01\xff" "x");
    down();
}

/* Answers a device must not give: each a named LVIO_E_CONFIG. */
static void test_bad_config(void **state)
{
    (void)state;
    static const struct {
        uint8_t select, subsel, size;
        const char *says;
    } sizes[] = {
        {LVIO_VIRTIO_INPUT_CFG_ID_NAME, 0, 129, "select 0x01 subsel 0: size 129"},
        {LVIO_VIRTIO_INPUT_CFG_ID_SERIAL, 0, 255, "size 255, past the 128 bytes"},
        {LVIO_VIRTIO_INPUT_CFG_ID_DEVIDS, 0, 4, "ID_DEVIDS of 4 bytes"},
        {LVIO_VIRTIO_INPUT_CFG_PROP_BITS, 0, 200, "select 0x10 subsel 0: size 200"},
        {LVIO_VIRTIO_INPUT_CFG_EV_BITS, LVIO_EV_LED, 136, "select 0x11 subsel 17: size 136"},
        {LVIO_VIRTIO_INPUT_CFG_ABS_INFO, LVIO_ABS_X, 12, "axis 0 is in EV_ABS, but its "
                                                          "ABS_INFO has 12 bytes"},
        {LVIO_VIRTIO_INPUT_CFG_ABS_INFO, LVIO_ABS_Y, 0, "axis 1 is in EV_ABS, but its "
                                                         "ABS_INFO has 0 bytes"},
        {LVIO_VIRTIO_INPUT_CFG_ABS_INFO, LVIO_ABS_Y, 130, "select 0x12 subsel 1: size 130"},
    };
    for (unsigned t = 0; t < NTRANSPORTS; t++)
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            device(TRANSPORTS[t], SIM_INPUT_TABLET);
            force_size(sizes[i].select, sizes[i].subsel, sizes[i].size);
            start_fails(LVIO_E_CONFIG, sizes[i].says);
        }
    /* A name longer than the union says so by its size. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    memset(X.name, 'x', 150);
    X.name[150] = '\0';
    start_fails(LVIO_E_CONFIG, "size 151");
    /* An axis whose range is upside down. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_TABLET);
    sim_input_set_abs(&X, LVIO_ABS_X, 10, -10);
    start_fails(LVIO_E_CONFIG, "axis 0: min 10 above max -10");
    /* A configuration that never settles. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    S.generation_flips = UINT32_MAX;
    start_fails(LVIO_E_CONFIG, "generation");
    /* One that settles after a few re-reads is fine. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    S.generation_flips = 5;
    start();
    assert_string_equal(K.name, "QEMU Virtio Keyboard");
    down();
}

/* Only select and subsel are written, one byte each, before each answer
 * is read; the device gives no other configuration writes. */
static void test_config_writes_are_select_and_subsel(void **state)
{
    (void)state;
    up(SIM_INPUT_PCI, SIM_INPUT_TABLET);
    /* name, serial, ids, props, 32 types, 2 axes */
    assert_int_equal(X.selects, 4 + LVIO_INPUT_EV_TYPES + 2);
    assert_int_equal(S.config_writes, 2 * X.selects);
    assert_string_equal(S.error, ""); /* any other write would be noted */
    down();
}

/* ---- events --------------------------------------------------------------------------- */

/* Many more events than buffers and FIFO, in bursts of every size: each
 * handed out once, in the order sent, the device always given its
 * buffers back. */
static void test_events_in_order(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        device(TRANSPORTS[t], SIM_INPUT_MOUSE);
        if (TRANSPORTS[t] != SIM_INPUT_MMIO1)
            S.features |= 1ull << LVIO_VIRTIO_F_EVENT_IDX | 1ull << LVIO_VIRTIO_F_INDIRECT_DESC;
        start();
        int32_t sent = 0, got = 0;
        for (unsigned burst = 1; sent < 3000; burst = burst * 7 % 199 + 1) {
            for (unsigned i = 0; i < burst; i++, sent++)
                sim_input_send(&X, LVIO_EV_REL, (uint16_t)(sent % 2), sent - 1500);
            for (unsigned polls = 0; got < sent; polls++) {
                assert_true(polls < 100);
                int r = lvio_input_poll(&K, isr());
                assert_true(r >= 0);
                struct lvio_input_event ev;
                while (lvio_input_next(&K, &ev)) {
                    assert_int_equal(ev.type, LVIO_EV_REL);
                    assert_int_equal(ev.code, got % 2);
                    assert_int_equal(ev.value, got - 1500);
                    got++;
                }
            }
        }
        assert_int_equal(got, sent);
        assert_int_equal(K.events, (uint64_t)sent);
        assert_int_equal(K.dropped, 0);
        assert_int_equal(K.bad, 0);
        assert_int_equal(X.delivered, (uint64_t)sent);
        assert_int_equal(lvio_input_poll(&K, 0), 0);
        assert_int_equal(sim_input_buffers(&X), LVIO_INPUT_EVENT_BUFS);
        assert_true(X.buffers_taken >= (uint64_t)sent);
        down();
    }
}

/* The wire's byte order: type and code 16 bits, value 32 bits signed,
 * little-endian (the sim lays them out byte by byte). */
static void test_event_fields(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO1, SIM_INPUT_TABLET);
    sim_input_send(&X, LVIO_EV_ABS, LVIO_ABS_X, 0x7fff);
    sim_input_send(&X, LVIO_EV_ABS, LVIO_ABS_Y, 0x12345678);
    sim_input_send(&X, LVIO_EV_REL, LVIO_REL_WHEEL, -1);
    sim_input_send(&X, 0xabcd, 0x1234, INT32_MIN); /* not the driver's to judge */
    sim_input_send(&X, LVIO_EV_SYN, LVIO_SYN_REPORT, 0);
    assert_int_equal(lvio_input_pending(&K), 0); /* nothing without a poll */
    assert_int_equal(lvio_input_poll(&K, isr()), 5);
    assert_int_equal(lvio_input_pending(&K), 5);
    next_is(LVIO_EV_ABS, LVIO_ABS_X, 0x7fff);
    next_is(LVIO_EV_ABS, LVIO_ABS_Y, 0x12345678);
    next_is(LVIO_EV_REL, LVIO_REL_WHEEL, -1);
    next_is(0xabcd, 0x1234, INT32_MIN);
    next_is(LVIO_EV_SYN, LVIO_SYN_REPORT, 0);
    no_event();
    assert_int_equal(lvio_input_pending(&K), 0);
    down();
}

/* A caller that does not take events: the FIFO fills, the rest are
 * dropped and counted, warned about once, and the device still gets every
 * buffer back; what was kept comes out in order; once the caller caught
 * up, a new overflow is warned about again. */
static void test_fifo_full_drops(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    clear_log();
    int32_t v = 0;
    for (unsigned round = 0; round < 6; round++) {
        for (unsigned i = 0; i < LVIO_INPUT_EVENT_BUFS; i++)
            sim_input_send(&X, LVIO_EV_KEY, LVIO_KEY_A, v++);
        int r = lvio_input_poll(&K, isr());
        assert_int_equal(r, round < 4 ? (int)(round + 1) * 64 : LVIO_INPUT_FIFO);
        assert_int_equal(sim_input_buffers(&X), LVIO_INPUT_EVENT_BUFS); /* no stall */
        assert_int_equal(X.pend_count, 0);
    }
    assert_int_equal(K.events, 6 * 64);
    assert_int_equal(K.dropped, 2 * 64);
    assert_int_equal(log_count("FIFO of 256 events is full"), 1);
    for (int32_t i = 0; i < LVIO_INPUT_FIFO; i++)
        next_is(LVIO_EV_KEY, LVIO_KEY_A, i);
    no_event();
    /* The events after the drop come through. */
    round_trip(LVIO_EV_KEY, LVIO_KEY_B, 1);
    /* A second overflow is a second warning. */
    for (unsigned round = 0; round < 5; round++) {
        for (unsigned i = 0; i < LVIO_INPUT_EVENT_BUFS; i++)
            sim_input_send(&X, LVIO_EV_KEY, LVIO_KEY_C, 0);
        assert_true(lvio_input_poll(&K, isr()) > 0);
    }
    assert_int_equal(K.dropped, 3 * 64);
    assert_int_equal(log_count("FIFO of 256 events is full"), 2);
    assert_int_equal(sim_input_buffers(&X), LVIO_INPUT_EVENT_BUFS);
    down();
    /* What is left in the FIFO is still handed out after the teardown. */
    assert_int_equal(lvio_input_pending(&K), LVIO_INPUT_FIFO);
    next_is(LVIO_EV_KEY, LVIO_KEY_C, 0);
}

/* A buffer back with a used length other than 8 is no event: counted,
 * said, not delivered, and the buffer goes back to the device. */
static void test_bad_used_length(void **state)
{
    (void)state;
    static const uint32_t lens[] = {0, 1, 7, 9, 16, 4096};
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        up(TRANSPORTS[t], SIM_INPUT_KEYBOARD);
        for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            X.bad_len = lens[i];
            X.bad_len_times = 1;
            sim_input_send(&X, LVIO_EV_KEY, LVIO_KEY_X, 1); /* lost to the bad length */
            round_trip(LVIO_EV_KEY, LVIO_KEY_Y, (int32_t)i);
            no_event();
            assert_int_equal(K.bad, i + 1);
            says("used length other than 8");
            char first[32];
            snprintf(first, sizeof first, "(the first: %u)", lens[i] > 16 ? 16 : lens[i]);
            says(first);
            assert_int_equal(sim_input_buffers(&X), LVIO_INPUT_EVENT_BUFS);
        }
        assert_int_equal(K.events, sizeof lens / sizeof lens[0]);
        down();
    }
}

/* ---- LEDs ------------------------------------------------------------------------------ */

static void status_is(unsigned i, const uint8_t want[8])
{
    assert_true(i < X.nstatus);
    assert_memory_equal(X.status[i].raw, want, 8);
    assert_int_equal(X.status[i].buf_len, 8);
}

static void test_led_bytes(void **state)
{
    (void)state;
    static const uint8_t caps_on[8] = {0x11, 0, 1, 0, 1, 0, 0, 0};
    static const uint8_t caps_off[8] = {0x11, 0, 1, 0, 0, 0, 0, 0};
    static const uint8_t scroll_on[8] = {0x11, 0, 2, 0, 1, 0, 0, 0};
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        up(TRANSPORTS[t], SIM_INPUT_KEYBOARD);
        assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, true), 0);
        assert_int_equal(X.nstatus, 1); /* EV_LED alone: no EV_SYN after it */
        status_is(0, caps_on);
        assert_int_equal(K.leds, 1u << LVIO_LED_CAPSL);
        assert_int_equal(lvio_input_set_led(&K, LVIO_LED_SCROLLL, true), 0);
        assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, false), 0);
        assert_int_equal(X.nstatus, 3);
        status_is(1, scroll_on);
        status_is(2, caps_off);
        assert_int_equal(K.leds, 1u << LVIO_LED_SCROLLL);
        assert_int_equal(K.status_sent, 3);
        /* The status queue does not disturb the events. */
        round_trip(LVIO_EV_KEY, LVIO_KEY_CAPSLOCK, 1);
        down();
    }
}

/* A device that has not read the status buffers yet: LVIO_E_AGAIN, never
 * half a change; buffers read are reclaimed by a poll (or the next call). */
static void test_led_again(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    X.hold_status = true;
    for (unsigned i = 0; i < LVIO_INPUT_STATUS_BUFS; i++)
        assert_int_equal(lvio_input_set_led(&K, LVIO_LED_NUML, i % 2 == 0), 0);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, true), LVIO_E_AGAIN);
    says("all 8 status buffers are still with the device");
    assert_int_equal(K.leds, 0); /* the last sent: NUML off */
    assert_int_equal(X.nstatus, LVIO_INPUT_STATUS_BUFS);
    sim_input_release_status(&X);
    assert_int_equal(lvio_input_poll(&K, isr()), 0); /* reclaims them */
    X.hold_status = false;
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, true), 0);
    assert_int_equal(K.leds, 1u << LVIO_LED_CAPSL);
    /* Released without a poll: the call itself reclaims them. */
    X.hold_status = true;
    for (unsigned i = 0; i < LVIO_INPUT_STATUS_BUFS; i++)
        assert_int_equal(lvio_input_set_led(&K, LVIO_LED_NUML, true), 0);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_NUML, false), LVIO_E_AGAIN);
    sim_input_release_status(&X);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_NUML, false), 0);
    assert_int_equal(X.nstatus, 2 * LVIO_INPUT_STATUS_BUFS + 2);
    down();
}

/* LEDs the device does not list, a status queue without entries, an LED
 * number past LED_MAX. */
static void test_led_refused(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO2, SIM_INPUT_MOUSE);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, true), LVIO_E_UNSUPPORTED);
    says("no LED 1");
    down();
    up(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    assert_int_equal(lvio_input_set_led(&K, 3, true), LVIO_E_UNSUPPORTED);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_MAX + 1, true), LVIO_E_INVAL);
    assert_int_equal(lvio_input_set_led(&K, 0xffff, true), LVIO_E_INVAL);
    assert_int_equal(X.nstatus, 0);
    down();
    device(SIM_INPUT_PCI, SIM_INPUT_KEYBOARD);
    S.q[LVIO_VIRTIO_INPUT_STATUSQ].num_max = 1; /* one entry: enough */
    start();
    assert_true(K.leds_usable);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, true), 0);
    down();
}

/* ---- arguments, queues, memory ------------------------------------------------------------ */

static void test_bad_arguments(void **state)
{
    (void)state;
    struct lvio_input_event ev;
    struct lvio_device unprobed;
    memset(&unprobed, 0, sizeof unprobed);
    memset(&K, 0, sizeof K);
    assert_int_equal(lvio_input_init(NULL, &D), LVIO_E_INVAL);
    assert_int_equal(lvio_input_init(&K, NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_input_init(&K, &unprobed), LVIO_E_INVAL);
    assert_int_equal(lvio_input_poll(NULL, 0), LVIO_E_INVAL);
    assert_int_equal(lvio_input_poll(&K, 0), LVIO_E_INVAL); /* never initialised */
    assert_int_equal(lvio_input_set_led(NULL, 0, true), LVIO_E_INVAL);
    assert_int_equal(lvio_input_set_led(&K, 0, true), LVIO_E_INVAL);
    assert_int_equal(lvio_input_reset(NULL), LVIO_E_INVAL);
    assert_int_equal(lvio_input_reset(&K), LVIO_E_INVAL);
    assert_false(lvio_input_next(NULL, &ev));
    assert_false(lvio_input_next(&K, NULL));
    assert_false(lvio_input_next(&K, &ev));
    assert_int_equal(lvio_input_pending(NULL), 0);
    assert_false(lvio_input_has_event(NULL, LVIO_EV_KEY, LVIO_KEY_A));
    assert_null(lvio_input_abs(NULL, LVIO_ABS_X));
    lvio_input_teardown(NULL);
    lvio_input_teardown(&K);

    /* A device of another kind is refused before it is touched. */
    sim_free_dma(&S);
    sim_init(&S, 2, LVIO_VIRTIO_ID_RNG);
    sim_probe(&S, &D);
    assert_int_equal(lvio_input_init(&K, &D), LVIO_E_INVAL);
    says("device id 4 is not an input device");
    assert_int_equal(S.status, 0);

    /* Out-of-range lookups on a live device. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    sim_input_set_code(&X, LVIO_EV_KEY, 1023);
    start();
    assert_true(lvio_input_has_event(&K, LVIO_EV_KEY, 1023));
    assert_false(lvio_input_has_event(&K, LVIO_EV_KEY, 1024));
    assert_false(lvio_input_has_event(&K, LVIO_EV_MAX + 1, 0));
    assert_false(lvio_input_has_event(&K, 0xffff, 0xffff));
    assert_null(lvio_input_abs(&K, 0xffff));
    down();
    /* Torn down: poll and set_led say so, teardown again does nothing,
     * reset brings it back. */
    assert_int_equal(lvio_input_poll(&K, 0), LVIO_E_STATE);
    assert_int_equal(lvio_input_set_led(&K, LVIO_LED_CAPSL, true), LVIO_E_STATE);
    says("not up");
    lvio_input_teardown(&K);
    assert_int_equal(lvio_input_reset(&K), 0);
    assert_true(K.up);
    assert_int_equal(K.kind, LVIO_INPUT_KEYBOARD);
    down();
}

static void test_missing_queue(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++)
        for (unsigned q = 0; q < 2; q++) {
            device(TRANSPORTS[t], SIM_INPUT_KEYBOARD);
            S.q[q].num_max = 0;
            start_fails(LVIO_E_QUEUE, q ? "queue 1" : "queue 0");
        }
    /* A queue the device does not take. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    S.refuse_queue = true;
    start_fails(LVIO_E_QUEUE, "queue 0");
}

/* Every DMA allocation failing in turn: LVIO_E_NOMEM, nothing left. */
static void test_no_memory(void **state)
{
    (void)state;
    for (int n = 0; n < 4; n++) {
        device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
        S.fail_alloc_after = n;
        start_fails(LVIO_E_NOMEM, "DMA");
    }
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    S.fail_alloc_after = 4; /* two queues, two pages of buffers */
    start();
    down();
}

/* Teardown gives back every page (events and LED changes made), on every
 * transport; a small event queue takes as many buffers as it has room for. */
static void test_teardown_gives_back_everything(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        device(TRANSPORTS[t], SIM_INPUT_KEYBOARD);
        S.q[LVIO_VIRTIO_INPUT_EVENTQ].num_max = 4;
        sim_input_probe(&X, &D);
        assert_int_equal(lvio_input_init(&K, &D), 0);
        assert_int_equal(sim_input_buffers(&X), 4);
        assert_int_equal(K.eventq.size, 4);
        for (int i = 0; i < 10; i++)
            sim_input_send(&X, LVIO_EV_KEY, LVIO_KEY_Q, i);
        for (int i = 0; i < 10;) {
            assert_true(lvio_input_poll(&K, isr()) >= 0);
            struct lvio_input_event ev;
            while (lvio_input_next(&K, &ev))
                assert_int_equal(ev.value, i++);
        }
        assert_int_equal(lvio_input_set_led(&K, LVIO_LED_NUML, true), 0);
        assert_true(S.live_pages > 0);
        down();
        assert_int_equal(D.kept_pages, 0);
    }
}

/* A reset that never completes: the memory is kept for the device, not
 * freed, and the device is dead. */
static void test_reset_never_completes(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    int pages = S.live_pages;
    S.reset_stuck = true;
    lvio_input_teardown(&K);
    assert_true(D.dead);
    assert_int_equal(D.kept_pages, pages);
    assert_int_equal(S.live_pages, pages);
    assert_non_null(strstr(S.log, "LVIO_E_DEAD"));
    /* The device goes on using what it was given: still there. */
    sim_input_send(&X, LVIO_EV_KEY, LVIO_KEY_A, 1);
    assert_string_equal(S.error, "");
    sim_free_dma(&S); /* kept for a dead device: the test gives it back */

    /* During init: the second queue refused and the reset stuck. */
    device(SIM_INPUT_MMIO2, SIM_INPUT_KEYBOARD);
    S.q[LVIO_VIRTIO_INPUT_STATUSQ].num_max = 0;
    S.reset_stuck = true;
    S.resets_before_stuck = 1; /* lvio_device_begin's own reset works */
    sim_input_probe(&X, &D);
    assert_int_equal(lvio_input_init(&K, &D), LVIO_E_DEAD);
    says("queue 1");
    says("reset: status still");
    assert_true(D.dead);
    assert_int_equal(S.live_pages, D.kept_pages);
    sim_free_dma(&S);
}

/* A device that breaks the event queue: LVIO_E_BROKEN from poll, then a
 * reset brings it back and events flow again. */
static void test_broken_queue_and_reset(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        up(TRANSPORTS[t], SIM_INPUT_KEYBOARD);
        S.bad_used_id = 200; /* not a chain in flight */
        sim_input_send(&X, LVIO_EV_KEY, LVIO_KEY_A, 1);
        assert_int_equal(lvio_input_poll(&K, isr()), LVIO_E_BROKEN);
        assert_int_equal(lvio_input_poll(&K, 0), LVIO_E_BROKEN);
        says("broken");
        assert_int_equal(lvio_input_reset(&K), 0);
        assert_int_equal(sim_input_buffers(&X), LVIO_INPUT_EVENT_BUFS);
        round_trip(LVIO_EV_KEY, LVIO_KEY_B, 1);
        down();
    }
}

/* A configuration change is counted, nothing read again: QEMU's device
 * raises one for every select written after DRIVER_OK (the sim does too),
 * so a re-read would make the next notice, without end. A reset reads the
 * new configuration. */
static void test_config_change(void **state)
{
    (void)state;
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        up(TRANSPORTS[t], SIM_INPUT_TABLET);
        assert_int_equal(isr() & LVIO_VIRTIO_ISR_CONFIG, 0); /* init's selects: none */
        unsigned writes = S.config_writes;
        X.abs[LVIO_ABS_X][1] = 1919;
        sim_input_send(&X, LVIO_EV_ABS, LVIO_ABS_X, 1000);
        sim_input_config_change(&X);
        uint32_t bits = isr();
        assert_true(bits & LVIO_VIRTIO_ISR_CONFIG);
        assert_int_equal(lvio_input_poll(&K, bits), 1);
        assert_int_equal(K.config_changes, 1);
        assert_int_equal(S.config_writes, writes);
        assert_int_equal(isr() & LVIO_VIRTIO_ISR_CONFIG, 0); /* no notice of its own */
        assert_int_equal(lvio_input_abs(&K, LVIO_ABS_X)->max, 0x7fff);
        next_is(LVIO_EV_ABS, LVIO_ABS_X, 1000);
        assert_int_equal(lvio_input_reset(&K), 0);
        assert_int_equal(lvio_input_abs(&K, LVIO_ABS_X)->max, 1919);
        assert_int_equal(K.config_changes, 0);
        down();
    }
}

/* Interrupts: the device notifies (the ISR's queue bit), and the poll
 * handed those bits takes the events. */
static void test_used_buffer_interrupts(void **state)
{
    (void)state;
    up(SIM_INPUT_MMIO2, SIM_INPUT_MOUSE);
    assert_int_equal(isr(), 0);
    sim_input_send(&X, LVIO_EV_REL, LVIO_REL_X, 3);
    sim_input_send(&X, LVIO_EV_SYN, LVIO_SYN_REPORT, 0);
    uint32_t bits = isr();
    assert_true(bits & LVIO_VIRTIO_ISR_QUEUE);
    assert_int_equal(lvio_input_poll(&K, bits), 2);
    next_is(LVIO_EV_REL, LVIO_REL_X, 3);
    next_is(LVIO_EV_SYN, LVIO_SYN_REPORT, 0);
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyboard),
        cmocka_unit_test(test_mouse),
        cmocka_unit_test(test_tablet),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_config_writes_are_select_and_subsel),
        cmocka_unit_test(test_events_in_order),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_fifo_full_drops),
        cmocka_unit_test(test_bad_used_length),
        cmocka_unit_test(test_led_bytes),
        cmocka_unit_test(test_led_again),
        cmocka_unit_test(test_led_refused),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_missing_queue),
        cmocka_unit_test(test_no_memory),
        cmocka_unit_test(test_teardown_gives_back_everything),
        cmocka_unit_test(test_reset_never_completes),
        cmocka_unit_test(test_broken_queue_and_reset),
        cmocka_unit_test(test_config_change),
        cmocka_unit_test(test_used_buffer_interrupts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
