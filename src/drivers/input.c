/*
 * virtio-input driver (VIRTIO 1.2, 5.8).
 *
 * Two request engines (lvio/request.h), one a queue. The event queue's
 * LVIO_INPUT_EVENT_BUFS slots are writable buffers of EV_SLOT bytes, all
 * with the device whenever the driver is not between taking them back and
 * offering them again (one poll); the status queue's slots each hold one
 * event the device reads. A slot belongs to the device from submit until
 * its completion is taken; only then are its bytes read, once each, into
 * a copy that is checked and used.
 *
 * The configuration is read once, before the queues exist and before
 * DRIVER_OK (5.8.5: the device is queried, then the event queue populated;
 * and QEMU's device takes every select written after DRIVER_OK as a
 * configuration change), each answer through the select protocol: select
 * and subsel written, the size read, then size and union read together
 * under the generation counter.
 *
 * Every field the device reads or writes is little-endian on every
 * transport (lvio/spec/virtio_input.h): converted with lvio_le*_to_cpu,
 * never with a legacy device's guest order.
 */
#include "lvio/config.h"
#if LVIO_WITH_INPUT /* else left out: lvio/config.h */

#include "lvio/input.h"
#include "../core/internal.h"

#define EVENT_LEN ((uint32_t)sizeof(struct lvio_virtio_input_event))
/* What each event buffer offers: an event and as much again, so a used
 * length above 8 is not clamped to 8 by the queue (lvio/input.h). */
#define EV_SLOT 16u
#define ST_SLOT EVENT_LEN
#define CFG(field) ((uint32_t)offsetof(struct lvio_virtio_input_config, field))
#define CFG_DATA LVIO_VIRTIO_INPUT_CFG_DATA
#define ABSINFO_LEN ((uint32_t)sizeof(struct lvio_virtio_input_absinfo))
#define DEVIDS_LEN ((uint32_t)sizeof(struct lvio_virtio_input_devids))
/* Reads of one answer while its size keeps growing under us. */
#define SIZE_TRIES 4u

_Static_assert(EV_SLOT == 2 * sizeof(struct lvio_virtio_input_event), "an event and as much again");
_Static_assert(LVIO_INPUT_EVENT_BUFS > 0 && LVIO_INPUT_EVENT_BUFS <= LVIO_VQ_MAX_SIZE,
               "event buffers fit one queue");
_Static_assert(LVIO_INPUT_STATUS_BUFS >= 2 && LVIO_INPUT_STATUS_BUFS <= LVIO_VQ_MAX_SIZE,
               "an LED change takes two status buffers");
_Static_assert(LVIO_INPUT_ABS_AXES <= 64, "abs_axes has a bit for each axis");
_Static_assert(LVIO_INPUT_EV_TYPES <= 32, "ev_types has a bit for each type");

const char *lvio_input_kind_name(enum lvio_input_kind kind)
{
    switch (kind) {
    case LVIO_INPUT_OTHER: return "other";
    case LVIO_INPUT_KEYBOARD: return "keyboard";
    case LVIO_INPUT_MOUSE: return "mouse";
    case LVIO_INPUT_TABLET: return "tablet";
    default: return "unknown";
    }
}

bool lvio_input_has_event(const struct lvio_input *in, uint16_t type, uint16_t code)
{
    if (!in || type >= LVIO_INPUT_EV_TYPES || code >= 8u * LVIO_INPUT_BITMAP_BYTES)
        return false;
    return (in->ev_bits[type][code / 8] >> (code % 8)) & 1u;
}

const struct lvio_input_absinfo *lvio_input_abs(const struct lvio_input *in, uint16_t axis)
{
    if (!in || axis >= LVIO_INPUT_ABS_AXES || !((in->abs_axes >> axis) & 1u))
        return NULL;
    return &in->abs[axis];
}

/* ---- configuration --------------------------------------------------------------- */

/*
 * One answer of the select protocol into data[] (CFG_DATA bytes, zero past
 * *size): select and subsel written, one byte each (the only fields a
 * driver may write, 5.8.5.1), the size read alone, then size and union
 * together under the generation counter, so what is taken is one answer.
 * A size that grew in between is read again. Returns 0 with *size at most
 * CFG_DATA, LVIO_E_CONFIG or LVIO_E_INVAL.
 */
static int cfg_query(struct lvio_input *in, uint8_t select, uint8_t subsel, uint8_t *data,
                     uint8_t *size)
{
    struct lvio_device *dev = in->dev;
    uint8_t block[CFG(u) - CFG(size) + CFG_DATA];
    uint8_t want = 0;
    memset(data, 0, CFG_DATA);
    *size = 0;
    int err = lvio_config_write(dev, CFG(select), &select, 1);
    if (err == LVIO_OK)
        err = lvio_config_write(dev, CFG(subsel), &subsel, 1);
    if (err == LVIO_OK)
        err = lvio_config_read8(dev, CFG(size), &want);
    for (unsigned tries = 0; err == LVIO_OK; tries++) {
        if (want > CFG_DATA)
            return lvio_fail(dev, LVIO_E_CONFIG,
                             "input: select 0x%02x subsel %u: size %u, past the %u bytes of "
                             "the union",
                             select, subsel, want, CFG_DATA);
        if (want == 0)
            return LVIO_OK;
        if (tries == SIZE_TRIES)
            return lvio_fail(dev, LVIO_E_CONFIG,
                             "input: select 0x%02x subsel %u: size changed on each of %u reads",
                             select, subsel, SIZE_TRIES);
        err = lvio_config_read(dev, CFG(size), block, CFG(u) - CFG(size) + want);
        if (err == LVIO_OK && block[0] <= want) {
            *size = block[0];
            memcpy(data, block + (CFG(u) - CFG(size)), *size);
            return LVIO_OK;
        }
        if (err == LVIO_OK)
            want = block[0];
    }
    return err;
}

/* A string answer: up to its size or its first NUL (the device need not
 * send one), NUL-terminated in `out` (LVIO_INPUT_STRING_MAX + 1 bytes). */
static int cfg_string(struct lvio_input *in, uint8_t select, char *out)
{
    uint8_t data[CFG_DATA], size;
    int err = cfg_query(in, select, 0, data, &size);
    uint32_t n = 0;
    while (err == LVIO_OK && n < size && data[n] != 0)
        n++;
    memcpy(out, data, n);
    out[n] = '\0';
    return err;
}

static int cfg_ids(struct lvio_input *in)
{
    uint8_t data[CFG_DATA], size;
    int err = cfg_query(in, LVIO_VIRTIO_INPUT_CFG_ID_DEVIDS, 0, data, &size);
    if (err || size == 0)
        return err;
    if (size < DEVIDS_LEN)
        return lvio_fail(in->dev, LVIO_E_CONFIG, "input: ID_DEVIDS of %u bytes, not %u", size,
                         DEVIDS_LEN);
    struct lvio_virtio_input_devids ids;
    memcpy(&ids, data, sizeof ids);
    in->ids = (struct lvio_input_ids){lvio_le16_to_cpu(ids.bustype), lvio_le16_to_cpu(ids.vendor),
                                      lvio_le16_to_cpu(ids.product),
                                      lvio_le16_to_cpu(ids.version)};
    in->has_ids = true;
    return LVIO_OK;
}

/* The range of absolute axis `axis`: 20 bytes at least, min <= max. */
static int cfg_abs(struct lvio_input *in, uint8_t axis, struct lvio_input_absinfo *abs)
{
    uint8_t data[CFG_DATA], size;
    *abs = (struct lvio_input_absinfo){0};
    int err = cfg_query(in, LVIO_VIRTIO_INPUT_CFG_ABS_INFO, axis, data, &size);
    if (err)
        return err;
    if (size < ABSINFO_LEN)
        return lvio_fail(in->dev, LVIO_E_CONFIG,
                         "input: absolute axis %u is in EV_ABS, but its ABS_INFO has %u bytes, "
                         "not %u",
                         axis, size, ABSINFO_LEN);
    struct lvio_virtio_input_absinfo w;
    memcpy(&w, data, sizeof w);
#define ABS(f) (int32_t)lvio_le32_to_cpu(w.f)
    *abs = (struct lvio_input_absinfo){ABS(min), ABS(max), ABS(fuzz), ABS(flat), ABS(res)};
#undef ABS
    if (abs->min > abs->max)
        return lvio_fail(in->dev, LVIO_E_CONFIG, "input: absolute axis %u: min %d above max %d",
                         axis, (int)abs->min, (int)abs->max);
    return LVIO_OK;
}

/* EV_BITS of every type; the bits beyond a type's size stay 0. */
static int cfg_events(struct lvio_input *in)
{
    int err = LVIO_OK;
    for (unsigned t = 0; t < LVIO_INPUT_EV_TYPES && err == LVIO_OK; t++) {
        uint8_t size;
        err = cfg_query(in, LVIO_VIRTIO_INPUT_CFG_EV_BITS, (uint8_t)t, in->ev_bits[t], &size);
        if (err == LVIO_OK && size)
            in->ev_types |= 1u << t;
    }
    return err;
}

/* The range of each axis EV_ABS lists (up to ABS_MAX, evdev's last). */
static int cfg_axes(struct lvio_input *in)
{
    for (unsigned a = 0; a < LVIO_INPUT_ABS_AXES; a++) {
        if (!lvio_input_has_event(in, LVIO_EV_ABS, (uint16_t)a))
            continue;
        int err = cfg_abs(in, (uint8_t)a, &in->abs[a]);
        if (err)
            return err;
        in->abs_axes |= 1ull << a;
    }
    return LVIO_OK;
}

/* Any of the letter keys (three runs of evdev's codes). */
static bool has_letters(const struct lvio_input *in)
{
    static const uint16_t runs[3][2] = {
        {LVIO_KEY_Q, LVIO_KEY_P}, {LVIO_KEY_A, LVIO_KEY_L}, {LVIO_KEY_Z, LVIO_KEY_M}};
    for (unsigned r = 0; r < 3; r++)
        for (uint16_t k = runs[r][0]; k <= runs[r][1]; k++)
            if (lvio_input_has_event(in, LVIO_EV_KEY, k))
                return true;
    return false;
}

/* Pointers before keyboards: they have keys too (buttons). */
static enum lvio_input_kind classify(const struct lvio_input *in)
{
    if (lvio_input_has_event(in, LVIO_EV_ABS, LVIO_ABS_X) &&
        lvio_input_has_event(in, LVIO_EV_ABS, LVIO_ABS_Y))
        return LVIO_INPUT_TABLET;
    if (lvio_input_has_event(in, LVIO_EV_REL, LVIO_REL_X) &&
        lvio_input_has_event(in, LVIO_EV_REL, LVIO_REL_Y))
        return LVIO_INPUT_MOUSE;
    if (has_letters(in))
        return LVIO_INPUT_KEYBOARD;
    return LVIO_INPUT_OTHER;
}

static int input_read_config(struct lvio_input *in)
{
    uint8_t size;
    int err = cfg_string(in, LVIO_VIRTIO_INPUT_CFG_ID_NAME, in->name);
    if (err == LVIO_OK)
        err = cfg_string(in, LVIO_VIRTIO_INPUT_CFG_ID_SERIAL, in->serial);
    if (err == LVIO_OK)
        err = cfg_ids(in);
    if (err == LVIO_OK)
        err = cfg_query(in, LVIO_VIRTIO_INPUT_CFG_PROP_BITS, 0, in->props, &size);
    if (err == LVIO_OK)
        err = cfg_events(in);
    if (err == LVIO_OK)
        err = cfg_axes(in);
    in->kind = classify(in);
    return err;
}

/* ---- events ------------------------------------------------------------------------ */

/* The event in `buf` (read once, byte by byte) at the end of the FIFO, or
 * dropped when it is full: warned about once until the caller catches up. */
static void event_push(struct lvio_input *in, const volatile uint8_t *buf)
{
    uint8_t b[EVENT_LEN];
    struct lvio_virtio_input_event w;
    for (unsigned i = 0; i < EVENT_LEN; i++)
        b[i] = buf[i];
    memcpy(&w, b, sizeof w);
    in->events++;
    if (in->fifo_tail - in->fifo_head >= LVIO_INPUT_FIFO) {
        in->dropped++;
        if (!in->overflowing)
            lvio_log(in->dev, LVIO_LOG_WARN,
                     "input: the caller is behind: its FIFO of %u events is full, events are "
                     "dropped until it takes some (%llu dropped in all)",
                     LVIO_INPUT_FIFO, (unsigned long long)in->dropped);
        in->overflowing = true;
        return;
    }
    in->fifo[in->fifo_tail++ % LVIO_INPUT_FIFO] = (struct lvio_input_event){
        lvio_le16_to_cpu(w.type), lvio_le16_to_cpu(w.code), (int32_t)lvio_le32_to_cpu(w.value)};
}

/* Every event buffer back from the device, in the order it gave them
 * back: an event when exactly 8 bytes came, else counted as bad (one
 * message for them all); each slot free again. */
static void events_take(struct lvio_input *in)
{
    uint32_t bad = 0, first_len = 0;
    int s;
    while ((s = lvio_reqs_next_done(&in->evreqs)) >= 0) {
        uint32_t len = in->ev_slots[s].len;
        if (len == EVENT_LEN)
            event_push(in, lvio_req_resp(&in->evreqs, (unsigned)s));
        else if (bad++ == 0)
            first_len = len;
        lvio_reqs_put(&in->evreqs, (unsigned)s);
    }
    if (bad == 0)
        return;
    in->bad += bad;
    lvio_fail(in->dev, LVIO_E_DEVICE,
              "input: %u event buffer(s) came back with a used length other than %u (the "
              "first: %u): not events, not delivered (%llu in all)",
              bad, EVENT_LEN, first_len, (unsigned long long)in->bad);
}

/* Every free event buffer, wiped (a device that says 8 without writing
 * gives an event of zeros, never an old one), back to the device in one
 * batch, as many as the queue has descriptors for. Returns 0 or
 * LVIO_E_BROKEN. */
static int events_refill(struct lvio_input *in)
{
    struct lvio_req batch[LVIO_INPUT_EVENT_BUFS];
    unsigned n = 0, room = lvio_vq_num_free(&in->eventq);
    for (unsigned s = 0; s < LVIO_INPUT_EVENT_BUFS && n < room; s++) {
        if (in->ev_slots[s].state != LVIO_REQ_FREE)
            continue;
        memset(lvio_req_resp(&in->evreqs, s), 0, EV_SLOT);
        batch[n++] = (struct lvio_req){.slot = s, .resp_len = EV_SLOT};
    }
    return n ? lvio_reqs_submit(&in->evreqs, batch, n) : LVIO_OK;
}

/* Take what came back, give the buffers back, and take what the device
 * answered meanwhile (its buffers go back at the next poll): no event is
 * left taken off the ring and not in the FIFO. */
static int events_service(struct lvio_input *in)
{
    int err = lvio_reqs_reap(&in->evreqs);
    if (err < 0)
        return err;
    events_take(in);
    err = events_refill(in);
    events_take(in);
    return err;
}

/* Status buffers the device has read are free again. */
static int status_reclaim(struct lvio_input *in)
{
    int err = lvio_reqs_reap(&in->streqs);
    int s;
    while ((s = lvio_reqs_next_done(&in->streqs)) >= 0)
        lvio_reqs_put(&in->streqs, (unsigned)s);
    return err < 0 ? err : LVIO_OK;
}

unsigned lvio_input_pending(const struct lvio_input *in)
{
    return in ? in->fifo_tail - in->fifo_head : 0;
}

bool lvio_input_next(struct lvio_input *in, struct lvio_input_event *ev)
{
    if (!in || !ev || in->fifo_tail == in->fifo_head)
        return false;
    *ev = in->fifo[in->fifo_head++ % LVIO_INPUT_FIFO];
    if (in->fifo_tail == in->fifo_head)
        in->overflowing = false; /* caught up: a new overflow is warned about */
    return true;
}

static bool input_ready(const struct lvio_input *in)
{
    return in->up && lvio_device_valid(in->dev);
}

int lvio_input_poll(struct lvio_input *in, uint32_t isr)
{
    if (!in || !lvio_device_valid(in->dev))
        return LVIO_E_INVAL;
    if (!input_ready(in))
        return LVIO_E_STATE;
    int err = events_service(in);
    int e = status_reclaim(in);
    if (err == LVIO_OK)
        err = e;
    /* Counted, not read again: a device has no reason to change what it
     * is after DRIVER_OK, and QEMU's raises a configuration change for
     * every select the driver writes, so re-reading on each notice would
     * make the next one, without end. */
    if (isr & LVIO_VIRTIO_ISR_CONFIG)
        in->config_changes++;
    return err < 0 ? err : (int)lvio_input_pending(in);
}

/* ---- status ------------------------------------------------------------------------- */

static void status_write(struct lvio_input *in, unsigned slot, uint16_t type, uint16_t code,
                         uint32_t value)
{
    const struct lvio_virtio_input_event w = {lvio_cpu_to_le16(type), lvio_cpu_to_le16(code),
                                              lvio_cpu_to_le32(value)};
    memcpy(lvio_req_buf(&in->streqs, slot), &w, sizeof w);
}

/* One EV_LED event, no EV_SYN after it: the input core's own LED changes
 * reach a device without one (only EV_LED is a status event to QEMU, which
 * complains of any other type). */
int lvio_input_set_led(struct lvio_input *in, uint16_t led, bool on)
{
    unsigned s;
    if (!in || !lvio_device_valid(in->dev) || led > LVIO_LED_MAX)
        return LVIO_E_INVAL;
    struct lvio_device *dev = in->dev;
    if (!input_ready(in))
        return lvio_fail(dev, LVIO_E_STATE, "input: LED %u: the device is not up", led);
    if (!lvio_input_has_event(in, LVIO_EV_LED, led))
        return lvio_fail(dev, LVIO_E_UNSUPPORTED, "input: the device has no LED %u", led);
    if (!in->leds_usable)
        return lvio_fail(dev, LVIO_E_UNSUPPORTED,
                         "input: LED %u: the device has no status queue to carry it", led);
    int err = status_reclaim(in);
    if (err)
        return err;
    if (lvio_reqs_count(&in->streqs, LVIO_REQ_FREE) == 0)
        return lvio_fail(dev, LVIO_E_AGAIN,
                         "input: LED %u: all %u status buffers are still with the device", led,
                         LVIO_INPUT_STATUS_BUFS);
    err = lvio_reqs_alloc(&in->streqs, &s, 1);
    if (err)
        return err;
    status_write(in, s, LVIO_EV_LED, led, on ? 1u : 0u);
    const struct lvio_req req = {.slot = s, .req_len = ST_SLOT};
    err = lvio_reqs_submit(&in->streqs, &req, 1);
    if (err)
        return err;
    in->status_sent++;
    if (on)
        in->leds |= 1u << led;
    else
        in->leds &= ~(1u << led);
    return LVIO_OK;
}

/* ---- bring-up and teardown ------------------------------------------------------------ */

/* On an error path with queues set up: the device lets go of the rings
 * before they are freed. When a queue's setup already found the device
 * dead (its reset never completed), another reset would only wait again. */
static int input_stop(struct lvio_device *dev, int err)
{
    return dev->dead ? err : lvio_device_reset_after(dev, err);
}

/* Negotiate, read the configuration, both queues, DRIVER_OK, then every
 * event buffer to the device (5.8.5 populates the event queue after the
 * query; a driver notifies only after DRIVER_OK). FAILED on error. */
static int input_bring_up(struct lvio_input *in)
{
    struct lvio_device *dev = in->dev;
    int err = lvio_device_begin(dev, 0);
    if (err)
        return err;
    err = input_read_config(in);
    if (err)
        goto fail;
    err = lvio_reqs_init(&in->evreqs, dev, &in->eventq, in->ev_slots, LVIO_INPUT_EVENT_BUFS,
                         EV_SLOT, 0);
    if (err)
        goto fail;
    /* Status buffers are read by the device: no response part. */
    err = lvio_reqs_init(&in->streqs, dev, &in->statusq, in->st_slots, LVIO_INPUT_STATUS_BUFS,
                         ST_SLOT, ST_SLOT);
    if (err)
        goto free_event_bufs;
    err = lvio_vq_setup(&in->eventq, dev, LVIO_VIRTIO_INPUT_EVENTQ, LVIO_INPUT_EVENT_BUFS);
    if (err)
        goto free_status_bufs;
    err = lvio_vq_setup(&in->statusq, dev, LVIO_VIRTIO_INPUT_STATUSQ, LVIO_INPUT_STATUS_BUFS);
    if (err)
        goto teardown_eventq;
    err = lvio_device_driver_ok(dev);
    if (err == LVIO_OK)
        err = events_refill(in);
    if (err)
        goto teardown_queues;
    in->leds_usable = ((in->ev_types >> LVIO_EV_LED) & 1u) && in->statusq.size >= 1;
    in->up = true;
    return LVIO_OK;

teardown_queues:
    err = input_stop(dev, err);
    lvio_vq_teardown(&in->statusq);
    lvio_vq_teardown(&in->eventq);
    goto free_status_bufs;
teardown_eventq:
    err = input_stop(dev, err);
    lvio_vq_teardown(&in->eventq);
free_status_bufs:
    lvio_reqs_teardown(&in->streqs);
free_event_bufs:
    lvio_reqs_teardown(&in->evreqs);
fail:
    lvio_device_fail(dev);
    return err;
}

int lvio_input_init(struct lvio_input *in, struct lvio_device *dev)
{
    if (!in || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_INPUT)
        return lvio_fail(dev, LVIO_E_INVAL, "input: device id %u is not an input device",
                         dev->device_id);
    memset(in, 0, sizeof *in);
    in->dev = dev;
    return input_bring_up(in);
}

void lvio_input_teardown(struct lvio_input *in)
{
    if (!in || !in->up || !lvio_device_valid(in->dev))
        return;
    in->up = false;
    lvio_device_reset(in->dev);
    lvio_vq_teardown(&in->statusq);
    lvio_vq_teardown(&in->eventq);
    lvio_reqs_teardown(&in->streqs);
    lvio_reqs_teardown(&in->evreqs);
}

int lvio_input_reset(struct lvio_input *in)
{
    if (!in || !lvio_device_valid(in->dev))
        return LVIO_E_INVAL;
    struct lvio_device *dev = in->dev;
    lvio_input_teardown(in);
    return lvio_input_init(in, dev);
}

#else
typedef int lvio_input_left_out; /* ISO C wants a declaration */
#endif
