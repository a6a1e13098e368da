/*
 * virtio-input (keyboards, mice, tablets: VIRTIO 1.2, 5.8): what the device
 * is (name, serial, ids, the events it can send, the range of each absolute
 * axis), its events in the order it sent them, and LED state sent back.
 *
 * Typical use:
 *
 *     struct lvio_input in;                     // caller's storage, no heap
 *     lvio_input_init(&in, &dev);               // reads the configuration,
 *                                               // gives the device its buffers
 *     ...in.kind, in.name, lvio_input_abs(&in, LVIO_ABS_X)->max...
 *
 *     ...interrupt: bits = lvio_device_isr(&dev) (or lvio_device_msix_isr)...
 *     lvio_input_poll(&in, bits);               // thread context: takes the
 *                                               // events, buffers back to the device
 *     struct lvio_input_event ev;
 *     while (lvio_input_next(&in, &ev))         // oldest first
 *         ...ev.type, ev.code, ev.value...
 *
 *     lvio_input_set_led(&in, LVIO_LED_CAPSL, true); // one EV_LED event
 *
 * Events. The driver keeps the event queue full itself: each of its
 * LVIO_INPUT_EVENT_BUFS buffers lives in the driver's own DMA page and
 * goes back to the device as soon as a poll has copied its event out.
 * Each buffer offers 16 bytes for an 8-byte event, so a used length
 * longer than an event is seen for what it is instead of being clamped to
 * 8 by the queue: only a buffer that comes back with exactly 8 bytes is an
 * event. Any other length is counted in `bad` (the message says which),
 * and the buffer goes back to the device; nothing of it is delivered.
 * Events are kept in the driver's FIFO (LVIO_INPUT_FIFO of them) until
 * lvio_input_next hands them out, in the order the device completed them.
 * When the caller is too slow and the FIFO is full, new events are
 * dropped and counted in `dropped` (one warning through the HAL log when
 * dropping starts, the next only after the caller has emptied the FIFO):
 * the device always gets its buffers back, so it never stalls. A caller
 * that sees `dropped` grow has lost events and should treat what it tracks
 * (keys held, buttons) as unknown.
 *
 * Nothing the device says is believed without a check: each configuration
 * answer's size must fit the 128-byte union (LVIO_E_CONFIG otherwise),
 * strings are copied and NUL-terminated by the driver, an absolute axis
 * the device lists must come with its range, min <= max. The configuration
 * is read through the core's generation-counted reader.
 *
 * Interrupts and concurrency (as lvio/virtio.h says for every device): no
 * call here is for an interrupt handler. The handler only reads the cause
 * (lvio_device_isr, or lvio_device_msix_isr for MSI-X) and hands the bits
 * to lvio_input_poll in thread context. The caller serialises every call on
 * one struct lvio_input (init, poll, next, set_led, has_event, abs, reset,
 * teardown); lvio_input_kind_name touches no device and may be called
 * anywhere. Nothing is global: any number of input devices coexist.
 */
#ifndef LVIO_INPUT_H
#define LVIO_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "spec/virtio_input.h"
#include "virtio.h"
#include "virtqueue.h"

/* Event buffers kept with the device (the event queue's size at most). */
#ifndef LVIO_INPUT_EVENT_BUFS
#define LVIO_INPUT_EVENT_BUFS 64
#endif
/* Status buffers: an LED change takes one (EV_LED). */
#ifndef LVIO_INPUT_STATUS_BUFS
#define LVIO_INPUT_STATUS_BUFS 8
#endif
/* Events kept for the caller, a power of two. */
#ifndef LVIO_INPUT_FIFO
#define LVIO_INPUT_FIFO 256
#endif
/* Longest name or serial kept (the union's size); the driver's copies
 * have room for the NUL after it. */
#define LVIO_INPUT_STRING_MAX LVIO_VIRTIO_INPUT_CFG_DATA
/* Event types described (EV_BITS subsel 0..EV_MAX), and the bytes of each
 * type's bitmap of codes (the union's size: codes 0..1023). */
#define LVIO_INPUT_EV_TYPES (LVIO_EV_MAX + 1)
#define LVIO_INPUT_BITMAP_BYTES LVIO_VIRTIO_INPUT_CFG_DATA
/* Absolute axes described (ABS_INFO subsel 0..ABS_MAX, evdev's axes). */
#define LVIO_INPUT_ABS_AXES (LVIO_ABS_MAX + 1)

_Static_assert((LVIO_INPUT_FIFO & (LVIO_INPUT_FIFO - 1)) == 0 && LVIO_INPUT_FIFO > 0,
               "LVIO_INPUT_FIFO is a power of two");

/* What the device is, from the events it can send (struct lvio_input's
 * `kind`), in this order of precedence:
 *   tablet    EV_ABS with ABS_X and ABS_Y
 *   mouse     EV_REL with REL_X and REL_Y
 *   keyboard  EV_KEY with a letter key (KEY_A .. KEY_Z): pointers have
 *             keys too, but only buttons (BTN_*, codes from 0x100)
 *   other     anything else. */
enum lvio_input_kind {
    LVIO_INPUT_OTHER = 0,
    LVIO_INPUT_KEYBOARD,
    LVIO_INPUT_MOUSE,
    LVIO_INPUT_TABLET,
};

/* One event, in CPU order (the device sends it little-endian). */
struct lvio_input_event {
    uint16_t type;   /* LVIO_EV_* */
    uint16_t code;   /* LVIO_KEY_*, LVIO_BTN_*, LVIO_REL_*, LVIO_ABS_*, ... */
    int32_t value;   /* keys: 1 down, 0 up, 2 repeat; REL: a delta; ABS: a
                        position in the axis's [min, max] */
};

/* An absolute axis (evdev's input_absinfo), in CPU order; min <= max. */
struct lvio_input_absinfo {
    int32_t min;
    int32_t max;
    int32_t fuzz;    /* noise the device filters */
    int32_t flat;    /* dead zone around the centre */
    int32_t res;     /* units per millimetre (0: not known) */
};

/* The device's ids (evdev's input_id); 0s when it gave none. */
struct lvio_input_ids {
    uint16_t bustype;
    uint16_t vendor;
    uint16_t product;
    uint16_t version;
};

struct lvio_input {
    /* Set by lvio_input_init(), from the configuration. */
    struct lvio_device *dev;
    enum lvio_input_kind kind;
    char name[LVIO_INPUT_STRING_MAX + 1];   /* NUL-terminated, "" if none; the
                                               device's bytes as they are (the
                                               caller makes them printable) */
    char serial[LVIO_INPUT_STRING_MAX + 1]; /* likewise */
    struct lvio_input_ids ids;
    bool has_ids;                           /* the device gave ID_DEVIDS */
    uint8_t props[LVIO_INPUT_BITMAP_BYTES]; /* INPUT_PROP_* bits */
    uint32_t ev_types;                      /* bit t: the device sends type t
                                               (its EV_BITS size is not 0) */
    uint8_t ev_bits[LVIO_INPUT_EV_TYPES][LVIO_INPUT_BITMAP_BYTES];
                                            /* [t]: bit c (byte c / 8, bit c % 8)
                                               set when it sends code c of type t;
                                               see lvio_input_has_event */
    uint64_t abs_axes;                      /* bit a: abs[a] is the device's */
    struct lvio_input_absinfo abs[LVIO_INPUT_ABS_AXES]; /* see lvio_input_abs */
    bool leds_usable;                       /* EV_LED offered and a status queue
                                               to carry a change */

    /* Statistics, for the caller to read. */
    uint64_t events;        /* events the device sent (buffers back with 8
                               bytes), those dropped included */
    uint64_t dropped;       /* events lost because the FIFO was full */
    uint64_t bad;           /* event buffers back with a used length other
                               than 8: not events, not delivered */
    uint64_t status_sent;   /* events sent on the status queue */
    uint32_t leds;          /* bit n: LED n on, as last sent */
    uint32_t config_changes;/* configuration change notices seen by poll */

    /* Driver state. */
    bool up;                /* queues live (false after teardown, or an init
                               or reset that failed) */
    bool overflowing;       /* the FIFO overflowed and was warned about; cleared
                               when the caller empties it */
    uint32_t fifo_head, fifo_tail;          /* free-running: tail - head queued */
    struct lvio_input_event fifo[LVIO_INPUT_FIFO];
    struct lvio_virtqueue eventq, statusq;
    struct lvio_reqs evreqs, streqs;        /* their buffers (request engine) */
    struct lvio_req_slot ev_slots[LVIO_INPUT_EVENT_BUFS];
    struct lvio_req_slot st_slots[LVIO_INPUT_STATUS_BUFS];
};

/*
 * Bring up the input device `dev` (probed; device id LVIO_VIRTIO_ID_INPUT):
 * negotiate (the device has no features of its own; INDIRECT_DESC and
 * EVENT_IDX from the core), read the whole configuration (name, serial,
 * ids, properties, the codes of every event type, the range of every
 * absolute axis the device lists), classify the device (`kind`), set up
 * the event and status queues, DRIVER_OK, and give the device every event
 * buffer.
 * Returns 0, or:
 *   LVIO_E_INVAL     NULL, a probe that failed, not an input device;
 *   LVIO_E_CONFIG    a configuration answer whose size exceeds the 128
 *                    bytes of the union, an absolute axis listed in EV_ABS
 *                    without a 20-byte ABS_INFO or with min > max, an ID_DEVIDS
 *                    shorter than its 8 bytes, or a size that changed on
 *                    every re-read or a generation that never settled (the
 *                    message names select, subsel and the value);
 *   LVIO_E_QUEUE     the event or status queue is missing or refused;
 *   another error of device bring-up (lvio_device_begin, lvio_vq_setup,
 *   lvio_reqs_init, lvio_device_driver_ok): LVIO_E_DEAD, LVIO_E_FEATURES,
 *   LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_NOMEM, LVIO_E_HAL,
 *   LVIO_E_RANGE, LVIO_E_LAYOUT, LVIO_E_STATE; or LVIO_E_BROKEN (the device
 *   broke the event queue as it was filled).
 * On error the device is left FAILED and everything allocated is freed
 * (kept when a reset never completed: LVIO_E_DEAD, see lvio_device_reset).
 */
int lvio_input_init(struct lvio_input *in, struct lvio_device *dev);

/*
 * Take what the device completed: each event buffer back with 8 bytes
 * becomes an event at the end of the FIFO (or is counted in `dropped` when
 * the FIFO is full), any other length is counted in `bad` (its message
 * recorded, lvio_device_error), and every buffer goes back to the device;
 * status buffers the device has read are reclaimed. When `isr` has
 * LVIO_VIRTIO_ISR_CONFIG (as lvio_device_isr() returned it, or set by the
 * caller for a configuration vector) the notice is counted in
 * `config_changes` and nothing is read again: the configuration is read
 * once, by init (QEMU's device raises a configuration change for every
 * select written after DRIVER_OK, so a driver that re-read on each notice
 * would cause the next; lvio_input_reset reads everything afresh).
 * Returns the events now in the FIFO (0 or more), LVIO_E_BROKEN (a queue
 * broke: lvio_input_reset), LVIO_E_STATE (not up) or LVIO_E_INVAL. Not for
 * an interrupt handler.
 */
int lvio_input_poll(struct lvio_input *in, uint32_t isr);

/* The oldest event not yet handed out, into *ev (taken out of the FIFO):
 * true; false when there is none (or NULL). Takes nothing from the
 * device: lvio_input_poll does that. Events left after a teardown are
 * still handed out. */
bool lvio_input_next(struct lvio_input *in, struct lvio_input_event *ev);

/* Events in the FIFO (0 for NULL). */
unsigned lvio_input_pending(const struct lvio_input *in);

/*
 * Turn LED `led` (LVIO_LED_NUML, LVIO_LED_CAPSL, ...) on or off: one
 * EV_LED `led` 1 or 0 on the status queue (no EV_SYN after it: as the
 * input core tells a device its LEDs; QEMU takes only EV_LED there),
 * without waiting for the device.
 * Returns 0 (sent; `leds` updated), or:
 *   LVIO_E_AGAIN        the status buffers are all still with the device
 *                       (try again after a poll);
 *   LVIO_E_UNSUPPORTED  the device does not list that LED in EV_LED, or
 *                       has no status queue entries;
 *   LVIO_E_INVAL        NULL, or `led` above LVIO_LED_MAX;
 *   LVIO_E_STATE        not up;
 *   LVIO_E_BROKEN       the status queue broke.
 */
int lvio_input_set_led(struct lvio_input *in, uint16_t led, bool on);

/* Does the device send code `code` of event type `type` (its EV_BITS
 * bitmap)? False for NULL, a type above LVIO_EV_MAX or a code past the
 * bitmap (1024 and up). */
bool lvio_input_has_event(const struct lvio_input *in, uint16_t type, uint16_t code);

/* The range of absolute axis `axis` (LVIO_ABS_X, ...), or NULL when the
 * device has no such axis (or the axis is above LVIO_ABS_MAX, or NULL). */
const struct lvio_input_absinfo *lvio_input_abs(const struct lvio_input *in, uint16_t axis);

/* Reset the device and free everything lvio_input_init() allocated (kept
 * instead when the reset never completes: see lvio_device_reset). Events
 * still in the FIFO stay there for lvio_input_next. Does nothing for NULL
 * or a struct never initialised. */
void lvio_input_teardown(struct lvio_input *in);

/*
 * Recovery (after LVIO_E_BROKEN or LVIO_E_NEEDS_RESET): teardown, then
 * init on the same device; everything starts afresh (events not yet taken
 * are dropped, the statistics begin again). Returns what lvio_input_init
 * returns; LVIO_E_INVAL if the struct was never initialised.
 */
int lvio_input_reset(struct lvio_input *in);

/* "keyboard", "mouse", "tablet", "other"; "unknown" for a value that is
 * not an enum lvio_input_kind. */
const char *lvio_input_kind_name(enum lvio_input_kind kind);

#endif
