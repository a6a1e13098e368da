/*
 * fuzz_input: the virtio-input driver over a device whose configuration
 * answers, queue sizes, events and every used entry come from the input:
 * sizes past the 128-byte union, strings without a NUL, absolute axes
 * without a range or upside down, used lengths other than 8, events
 * written or not, held and completed out of order, lies about chains,
 * configuration changes, and (with hostile registers) register reads;
 * DMA failures as fuzz_dev.h gives them.
 *
 * Sequence: lvio_input_init, then operations chosen by the input (the
 * device acts between calls; poll, twice to see every buffer back with the
 * device; take events; set an LED; reset; teardown; the lookups), then
 * lvio_input_teardown.
 *
 * The device side checks what the driver does, while its view can be
 * trusted (it has not lied, its registers are not hostile): the only
 * configuration writes are select and subsel, a byte each, and none after
 * DRIVER_OK (each is a configuration change on QEMU's device); every event
 * chain is one writable buffer of at least 8 bytes; every status chain is
 * one readable buffer of 8 bytes holding, in turn, the EV_LED change of a
 * set_led that returned 0 (or was cut short by a broken queue).
 * The harness checks that every call returns a result its documentation
 * lists; that every event handed out was completed by the device with a
 * used length of exactly 8, once, holding what the device wrote (each good
 * event carries a tag in its value); that events, dropped, pending and
 * handed-out events add up; that after a poll and a second one with
 * nothing in between every event buffer is with the device; that names
 * are NUL-terminated, ranges have min <= max and the kind follows the
 * documented rule; and, at the end, that every DMA page is back or kept
 * for a dead device.
 *
 * Input: the common header (fuzz_dev.h), features ^ VERSION_1 (8), event
 * and status QueueNumMax ^ 64 (2 + 1), the model (1: keyboard, mouse,
 * tablet, nothing; bit 2 a name without a NUL; bit 3 a serial), then
 * operations interleaved with the device's decisions (one byte on each
 * configuration answer, each event chain and each status chain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_input.h"

#define MAX_OPS 64
#define TAGS 8192              /* tagged events checked per input */
#define CFG(f) offsetof(struct lvio_virtio_input_config, f)

/* An event the device put in a buffer: its tag is its value. */
struct tag {
    uint16_t type, code;
    bool good;          /* reported with a used length of 8 */
    bool delivered;
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_input in;

    /* the device's configuration model */
    uint8_t model;
    uint8_t select, subsel;
    int32_t abs_max[LVIO_INPUT_ABS_AXES];

    /* events the device made */
    struct tag tags[TAGS + 1];
    uint32_t ntags;
    uint64_t untagged8;   /* completions of 8 bytes not holding a tag */
    uint64_t handed;      /* events lvio_input_next gave since the last init */

    /* status: the LED changes sent, what the device has read of them */
    uint8_t led[256];
    bool led_on[256];
    unsigned nled;        /* changes sent */
    unsigned seen;        /* status events the device read */
    bool status_unsure;   /* a set_led broke off: it may have sent a change */
} S;

/* A rule for the driver, while the device's view can be trusted. */
#define INPUT_RULE(...)                                                        \
    do {                                                                       \
        if (!S.f.lied && !S.f.hostile_regs)                                    \
            fz_die(__VA_ARGS__);                                               \
    } while (0)

/* Little-endian stores and loads, as the device lays its fields out. */
static void put16(uint8_t *p, uint16_t v)
{
    v = lvio_cpu_to_le16(v);
    memcpy(p, &v, sizeof v);
}

static void put32(uint8_t *p, uint32_t v)
{
    v = lvio_cpu_to_le32(v);
    memcpy(p, &v, sizeof v);
}

static struct lvio_virtio_input_event event_at(const uint8_t *p)
{
    struct lvio_virtio_input_event e;
    memcpy(&e, p, sizeof e);
    return (struct lvio_virtio_input_event){lvio_le16_to_cpu(e.type), lvio_le16_to_cpu(e.code),
                                            lvio_le32_to_cpu(e.value)};
}

/* ---- the device: configuration ------------------------------------------------------ */

static void set_bit(uint8_t *bitmap, unsigned bit, uint8_t *size)
{
    bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
    if (*size < bit / 8 + 1)
        *size = (uint8_t)(bit / 8 + 1);
}

/* What the model answers to (select, subsel), into u[] (zeroed). */
static uint8_t model_answer(uint8_t *u)
{
    static const char *const names[4] = {"QEMU Virtio Keyboard", "QEMU Virtio Mouse",
                                         "QEMU Virtio Tablet", ""};
    unsigned kind = S.model & 3;
    uint8_t size = 0;
    switch (S.select) {
    case LVIO_VIRTIO_INPUT_CFG_ID_NAME:
    case LVIO_VIRTIO_INPUT_CFG_ID_SERIAL: {
        const char *s = S.select == LVIO_VIRTIO_INPUT_CFG_ID_NAME ? names[kind]
                        : (S.model & 8)                          ? "fz-serial"
                                                                 : "";
        size_t n = strlen(s);
        memcpy(u, s, n);
        bool nul = n && S.select == LVIO_VIRTIO_INPUT_CFG_ID_NAME && !(S.model & 4);
        return S.subsel ? 0 : (uint8_t)(n + nul);
    }
    case LVIO_VIRTIO_INPUT_CFG_ID_DEVIDS:
        if (S.subsel || kind == 3)
            return 0;
        put16(u, 6);
        put16(u + 2, 0x0627);
        put16(u + 4, (uint16_t)(kind + 1));
        put16(u + 6, 1);
        return 8;
    case LVIO_VIRTIO_INPUT_CFG_EV_BITS:
        if (kind == 0 && S.subsel == LVIO_EV_KEY)
            for (unsigned k = 1; k < 0x80; k++)
                set_bit(u, k, &size);
        if (kind == 0 && S.subsel == LVIO_EV_REP)
            size = 1;
        if (kind == 0 && S.subsel == LVIO_EV_LED)
            for (unsigned k = 0; k < 3; k++)
                set_bit(u, k, &size);
        if ((kind == 1 || kind == 2) && S.subsel == LVIO_EV_KEY)
            for (unsigned k = LVIO_BTN_LEFT; k <= LVIO_BTN_EXTRA; k++)
                set_bit(u, k, &size);
        if (kind == 1 && S.subsel == LVIO_EV_REL) {
            set_bit(u, LVIO_REL_X, &size);
            set_bit(u, LVIO_REL_Y, &size);
        }
        if ((kind == 1 || kind == 2) && S.subsel == LVIO_EV_REL)
            set_bit(u, LVIO_REL_WHEEL, &size);
        if (kind == 2 && S.subsel == LVIO_EV_ABS) {
            set_bit(u, LVIO_ABS_X, &size);
            set_bit(u, LVIO_ABS_Y, &size);
        }
        return size;
    case LVIO_VIRTIO_INPUT_CFG_ABS_INFO:
        if (kind != 2 || S.subsel > LVIO_ABS_Y)
            return 0;
        put32(u + 4, (uint32_t)S.abs_max[S.subsel]);
        return 20;
    default:
        return 0;
    }
}

/* The answer to the select the driver made, as the model gives it or as
 * the tape changes it: another size, bytes of the union, or both. */
static void answer(struct fz *f)
{
    uint8_t *c = f->config, *u = c + CFG(u);
    memset(c, 0, sizeof(struct lvio_virtio_input_config));
    c[CFG(select)] = S.select;
    c[CFG(subsel)] = S.subsel;
    uint8_t size = model_answer(u);
    uint8_t m = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    switch (m % 8) {
    case 5: size = fz_u8(&f->t); break;
    case 6: {
        uint8_t at = fz_u8(&f->t) % LVIO_VIRTIO_INPUT_CFG_DATA;
        uint8_t x[8];
        fz_bytes(&f->t, x, sizeof x);
        for (unsigned i = 0; i < sizeof x && at + i < LVIO_VIRTIO_INPUT_CFG_DATA; i++)
            u[at + i] ^= x[i];
        break;
    }
    case 7:
        size = fz_u8(&f->t);
        fz_bytes(&f->t, u, LVIO_VIRTIO_INPUT_CFG_DATA);
        break;
    default: break;
    }
    c[CFG(size)] = size;
}

/* Only select and subsel, a byte each. Width 0: the device changes its
 * configuration (fuzz_dev.h): an axis's range. */
static void input_config_write(struct fz *f, uint32_t off, unsigned width, uint32_t v)
{
    if (width == 0) {
        uint8_t a = fz_u8(&f->t) % 2;
        S.abs_max[a] ^= (int32_t)fz_u16(&f->t);
        answer(f);
        return;
    }
    if (width != 1 || (off != CFG(select) && off != CFG(subsel))) {
        INPUT_RULE("input: %u-byte configuration write at %u", width, off);
        return;
    }
    if (f->status & LVIO_VIRTIO_STATUS_DRIVER_OK)
        INPUT_RULE("input: a configuration write after DRIVER_OK (on QEMU's device, a "
                   "configuration change: a driver re-reading on each would never stop)");
    if (off == CFG(select))
        S.select = (uint8_t)v;
    else
        S.subsel = (uint8_t)v;
    answer(f);
}

/* ---- the device: queues ---------------------------------------------------------------- */

/* An event buffer: a tagged event of 8 bytes (most often), one reported
 * with another length, one held for later, tape bytes, or nothing written
 * but 8 reported. */
static uint32_t event_service(struct fz *f, struct fz_chain *c)
{
    struct fz_buf *b = &c->buf[0];
    if (c->n != 1 || !b->write || b->len < 8 || !b->cpu) {
        INPUT_RULE("input: an event chain of %u buffers, the first %s, %u bytes", c->n,
                   c->n && b->write ? "writable" : "readable", c->n ? b->len : 0);
        return 0;
    }
    uint8_t m = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    uint32_t len = 8;
    if (m % 8 == 6) { /* tape bytes */
        fz_bytes(&f->t, b->cpu, b->len < 16 ? b->len : 16);
        len = fz_u8(&f->t);
        S.untagged8 += len == 8;
        return len;
    }
    if (m % 8 == 7) { /* nothing written, 8 said */
        S.untagged8++;
        return 8;
    }
    uint16_t type = (uint16_t)(fz_empty(&f->t) ? LVIO_EV_KEY : fz_u8(&f->t) % 0x20);
    uint16_t code = fz_empty(&f->t) ? LVIO_KEY_A : fz_u16(&f->t);
    if (m % 8 == 4)
        len = fz_u16(&f->t);
    if (m % 8 == 5)
        f->hold_this = true;
    uint32_t tag = S.ntags < TAGS ? ++S.ntags : 0;
    if (tag)
        S.tags[tag] = (struct tag){type, code, len == 8, false};
    else
        S.untagged8 += len == 8; /* past the table: unchecked */
    put16(b->cpu, type);
    put16(b->cpu + 2, code);
    put32(b->cpu + 4, tag);
    return len;
}

/* A status buffer: the LED change of a set_led that succeeded, in turn. */
static uint32_t status_service(struct fz *f, struct fz_chain *c)
{
    const struct fz_buf *b = &c->buf[0];
    if (c->n != 1 || b->write || b->len != 8 || !b->cpu) {
        INPUT_RULE("input: a status chain of %u buffers, the first %s, %u bytes", c->n,
                   c->n && b->write ? "writable" : "readable", c->n ? b->len : 0);
        return 0;
    }
    const struct lvio_virtio_input_event e = event_at(b->cpu); /* in CPU order */
    uint16_t type = e.type, code = e.code;
    uint32_t value = e.value;
    unsigned k = S.seen;
    if (!S.status_unsure && k < S.nled && k < 256) {
        if (type != LVIO_EV_LED || code != S.led[k] || value != S.led_on[k])
            INPUT_RULE("input: status event %u is %u/%u/%u, not LED %u %s", S.seen, type, code,
                       value, S.led[k], S.led_on[k] ? "on" : "off");
    } else if (!S.status_unsure && k >= S.nled) {
        INPUT_RULE("input: status event %u, but only %u LED changes were sent", S.seen, S.nled);
    }
    S.seen++;
    uint8_t m = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    if (m % 4 == 3)
        f->hold_this = true;
    return m % 4 == 2 ? fz_u16(&f->t) : 0;
}

static uint32_t input_service(struct fz *f, struct fz_chain *c)
{
    if (c->queue == LVIO_VIRTIO_INPUT_EVENTQ)
        return event_service(f, c);
    if (c->queue == LVIO_VIRTIO_INPUT_STATUSQ)
        return status_service(f, c);
    INPUT_RULE("input: a chain on queue %u", c->queue);
    return 0;
}

/* A reset: the select is forgotten, and whatever was held with it; the
 * status events start again (the queue's chains are gone). */
static void input_reset(struct fz *f)
{
    (void)f;
    S.seen = S.nled;
}

/* ---- the driver side --------------------------------------------------------------------- */

/* What the driver knows of the device holds together. */
static void check_state(void)
{
    const struct lvio_input *in = &S.in;
    if (!memchr(in->name, '\0', sizeof in->name) || !memchr(in->serial, '\0', sizeof in->serial))
        fz_die("a name or serial is not NUL-terminated");
    if (lvio_input_pending(in) > LVIO_INPUT_FIFO)
        fz_die("%u events pending in a FIFO of %u", lvio_input_pending(in), LVIO_INPUT_FIFO);
    if (in->events != S.handed + in->dropped + lvio_input_pending(in))
        fz_die("events %llu, but %llu handed out, %llu dropped, %u pending",
               (unsigned long long)in->events, (unsigned long long)S.handed,
               (unsigned long long)in->dropped, lvio_input_pending(in));
    for (uint16_t a = 0; a < 64; a++) {
        const struct lvio_input_absinfo *abs = lvio_input_abs(in, a);
        if (abs && (abs->min > abs->max || !lvio_input_has_event(in, LVIO_EV_ABS, a)))
            fz_die("axis %u: %d..%d, EV_ABS bit %d", a, abs->min, abs->max,
                   lvio_input_has_event(in, LVIO_EV_ABS, a));
    }
    if (!in->up)
        return;
    for (uint16_t a = 0; a < 64; a++)
        if (lvio_input_has_event(in, LVIO_EV_ABS, a) && !lvio_input_abs(in, a))
            fz_die("axis %u in EV_ABS without a range, and the driver is up", a);
    bool letters = false;
    for (uint16_t k = LVIO_KEY_Q; k <= LVIO_KEY_M; k++)
        if ((k <= LVIO_KEY_P || (k >= LVIO_KEY_A && k <= LVIO_KEY_L) || k >= LVIO_KEY_Z) &&
            lvio_input_has_event(in, LVIO_EV_KEY, k))
            letters = true;
    enum lvio_input_kind want =
        lvio_input_has_event(in, LVIO_EV_ABS, LVIO_ABS_X) &&
                lvio_input_has_event(in, LVIO_EV_ABS, LVIO_ABS_Y)
            ? LVIO_INPUT_TABLET
        : lvio_input_has_event(in, LVIO_EV_REL, LVIO_REL_X) &&
                lvio_input_has_event(in, LVIO_EV_REL, LVIO_REL_Y)
            ? LVIO_INPUT_MOUSE
        : letters ? LVIO_INPUT_KEYBOARD
                  : LVIO_INPUT_OTHER;
    if (in->kind != want)
        fz_die("kind %s, the rule says %s", lvio_input_kind_name(in->kind),
               lvio_input_kind_name(want));
}

/* Take up to `n` events: each one the device completed with 8 bytes. */
static void take(unsigned n)
{
    struct lvio_input_event ev;
    for (unsigned i = 0; i < n && lvio_input_next(&S.in, &ev); i++) {
        S.handed++;
        if (S.f.lied)
            continue; /* a made-up used entry can hand out anything */
        uint32_t tag = (uint32_t)ev.value;
        struct tag *t = tag && tag <= S.ntags ? &S.tags[tag] : NULL;
        if (t && t->good && !t->delivered && t->type == ev.type && t->code == ev.code) {
            t->delivered = true;
            continue;
        }
        if (S.untagged8 == 0) {
            const char *why = !t            ? "unknown"
                              : !t->good     ? "of a bad length"
                              : t->delivered ? "handed out before"
                                             : "of another event";
            fz_die("event %u/%u/%d handed out: no buffer the device completed with 8 bytes "
                   "holds it (tag %s)", ev.type, ev.code, ev.value, why);
        }
        S.untagged8--;
    }
}

static void after_init(int rv)
{
    FZ_EXPECT("lvio_input_init/reset", rv, LVIO_OK, LVIO_E_CONFIG, LVIO_E_QUEUE, LVIO_E_DEAD,
              LVIO_E_FEATURES, LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_NOMEM,
              LVIO_E_HAL, LVIO_E_RANGE, LVIO_E_LAYOUT, LVIO_E_STATE, LVIO_E_BROKEN);
    fz_check_errmsg(&S.dev);
    fz_check_waited(&S.f, rv, 0);
    S.handed = 0;
    if ((rv == LVIO_OK) != S.in.up)
        fz_die("lvio_input_init returned %d with up %d", rv, S.in.up);
}

/* A poll, then another with nothing in between: every event buffer is
 * with the device after it (as many as the queue has room for). */
static void op_poll(uint8_t arg)
{
    uint32_t isr = arg & 1 ? lvio_device_isr(&S.dev) : arg >> 6;
    bool up = S.in.up;
    fz_call(&S.f, "lvio_input_poll");
    int rv = lvio_input_poll(&S.in, isr);
    if (rv < 0)
        FZ_EXPECT("lvio_input_poll", rv, LVIO_E_BROKEN, LVIO_E_STATE);
    if ((rv == LVIO_E_STATE) == up)
        fz_die("lvio_input_poll returned %d with up %d", rv, up);
    if (rv >= 0 && (unsigned)rv != lvio_input_pending(&S.in))
        fz_die("lvio_input_poll returned %d with %u pending", rv, lvio_input_pending(&S.in));
    if (rv < 0 || !(arg & 2))
        return;
    fz_call(&S.f, "lvio_input_poll (again)");
    rv = lvio_input_poll(&S.in, 0);
    if (rv < 0)
        FZ_EXPECT("lvio_input_poll (again)", rv, LVIO_E_BROKEN);
    unsigned busy = lvio_reqs_count(&S.in.evreqs, LVIO_REQ_BUSY);
    unsigned room = S.in.eventq.size < LVIO_INPUT_EVENT_BUFS ? S.in.eventq.size
                                                             : LVIO_INPUT_EVENT_BUFS;
    if (rv >= 0 && !S.f.lied && busy != room)
        fz_die("after two polls %u event buffers are with the device, not %u", busy, room);
}

static void op_led(uint8_t arg)
{
    uint16_t led = (arg & 0x7f) % 18; /* 16 and 17 are no LED */
    bool on = arg & 0x80;
    fz_call(&S.f, "lvio_input_set_led");
    int rv = lvio_input_set_led(&S.in, led, on);
    FZ_EXPECT("lvio_input_set_led", rv, LVIO_OK, LVIO_E_AGAIN, LVIO_E_UNSUPPORTED,
              LVIO_E_INVAL, LVIO_E_STATE, LVIO_E_BROKEN);
    fz_check_errmsg(&S.dev);
    if ((rv == LVIO_E_INVAL) != (led > LVIO_LED_MAX))
        fz_die("lvio_input_set_led(%u) returned %d", led, rv);
    if (rv == LVIO_OK && !lvio_input_has_event(&S.in, LVIO_EV_LED, led))
        fz_die("lvio_input_set_led(%u) sent an LED the device does not have", led);
    if (rv == LVIO_OK && S.nled < 256) {
        S.led[S.nled] = (uint8_t)led;
        S.led_on[S.nled++] = on;
    } else if (rv == LVIO_OK || rv == LVIO_E_BROKEN) {
        S.status_unsure = true;
    }
}

static void operations(void)
{
    struct fz_tape *t = &S.f.h;
    for (unsigned n = 0; n < MAX_OPS && !fz_empty(t); n++) {
        uint8_t op = fz_u8(t);
        switch (op % 8) {
        case 0:
        case 1:
            fz_call(&S.f, "(the device, between calls)");
            for (unsigned k = 0; k <= (op >> 3); k++)
                fz_device_step(&S.f);
            break;
        case 2:
        case 3: op_poll(fz_u8(t)); break;
        case 4: take(op >> 3 == 31 ? UINT32_MAX : (op >> 3) * 8u + 1); break;
        case 5: op_led(fz_u8(t)); break;
        case 6:
            if (op & 0x80) {
                fz_call(&S.f, "lvio_input_teardown");
                lvio_input_teardown(&S.in);
                if (S.in.up)
                    fz_die("up after lvio_input_teardown");
            } else {
                fz_call(&S.f, "lvio_input_reset");
                after_init(lvio_input_reset(&S.in));
            }
            break;
        default: {
            uint16_t type = fz_u8(t), code = fz_u16(t);
            bool has = lvio_input_has_event(&S.in, type, code);
            if (has && (type > LVIO_EV_MAX || code >= 1024))
                fz_die("has_event(%u, %u) past the bitmaps", type, code);
            if (lvio_input_abs(&S.in, code) && code >= LVIO_INPUT_ABS_AXES)
                fz_die("a range for axis %u", code);
            if (!lvio_input_kind_name((enum lvio_input_kind)type))
                fz_die("no kind name");
            break;
        }
        }
        fz_check_errmsg(&S.dev);
        check_state();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_INPUT);
    f->features = (1ull << LVIO_VIRTIO_F_VERSION_1) ^ fz_u64(&f->h);
    f->q[LVIO_VIRTIO_INPUT_EVENTQ].num_max = 64u ^ fz_u16(&f->h);
    f->q[LVIO_VIRTIO_INPUT_STATUSQ].num_max = 64u ^ fz_u8(&f->h);
    S.model = fz_u8(&f->h);
    S.abs_max[0] = S.abs_max[1] = 0x7fff;
    f->config_write = input_config_write;
    f->service = input_service;
    f->on_reset = input_reset;

    if (lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, 0x200) != LVIO_OK ||
        S.dev.device_id != LVIO_VIRTIO_ID_INPUT)
        goto out;
    fz_call(f, "lvio_input_init");
    after_init(lvio_input_init(&S.in, &S.dev));
    check_state();
    operations();
    fz_call(f, "lvio_input_teardown");
    lvio_input_teardown(&S.in);
    take(UINT32_MAX); /* what is left is still handed out */
    check_state();
    if (lvio_input_poll(&S.in, 0) != LVIO_E_STATE ||
        lvio_input_set_led(&S.in, LVIO_LED_CAPSL, true) != LVIO_E_STATE)
        fz_die("a call after teardown did not return LVIO_E_STATE");
out:
    fz_check_errmsg(&S.dev);
    fz_finish(f); /* a zombie device may still use what it was given */
    return 0;
}
