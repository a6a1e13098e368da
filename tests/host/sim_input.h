/*
 * A simulated virtio-input (device id 18) on top of sim.h, on virtio-mmio
 * Version 1 or 2 or a modern virtio-pci function (sim_pci.h): the
 * configuration select protocol as the specification lays it out (name,
 * serial, ids, properties, the code bitmap of each event type, the range
 * of each absolute axis), filled in as QEMU's keyboard, mouse or tablet
 * describe themselves, and everything a test may change or break.
 *
 * Events: the device keeps every event buffer the driver gives it until it
 * has an event for it (as a real device does). sim_input_send() queues an
 * event on the device; it goes into the oldest buffer the device holds at
 * once, or as soon as the driver gives one (an event waits on the device,
 * in order, while the driver has given none). Status: every buffer on the
 * status queue is read (it must be one readable buffer of at least 8
 * bytes) and recorded, then given back, unless hold_status keeps them.
 *
 * Only select and subsel may be written (one byte each); any other
 * configuration write is an error in sim.error, as are buffers of the
 * wrong shape on either queue. As QEMU's model, a write after DRIVER_OK
 * raises a configuration change (sim_input_config_change).
 *
 * Usage: static struct sim_input X; sim_input_init(&X, SIM_INPUT_MMIO2,
 * SIM_INPUT_KEYBOARD); ...change fields...; sim_input_probe(&X, &dev);
 * lvio_input_init(&in, &dev); sim_input_send(&X, EV_KEY, KEY_A, 1); ...
 */
#ifndef SIM_INPUT_H
#define SIM_INPUT_H

#include "sim.h"
#include "sim_pci.h"

#include "lvio/spec/virtio_input.h"

#define SIM_INPUT_PENDING 4096 /* events the device keeps for the driver */
#define SIM_INPUT_STATUS_LOG 64
#define SIM_INPUT_HELD 256      /* chains the device holds per queue */
#define SIM_INPUT_TYPES 32
#define SIM_INPUT_AXES 64

enum sim_input_transport {
    SIM_INPUT_MMIO1,  /* virtio-mmio Version 1 (legacy) */
    SIM_INPUT_MMIO2,  /* virtio-mmio Version 2 */
    SIM_INPUT_PCI,    /* virtio-pci, modern */
};

/* What the device describes itself as (QEMU's three HID models). */
enum sim_input_model {
    SIM_INPUT_NONE,     /* nothing: no name, no events */
    SIM_INPUT_KEYBOARD, /* "QEMU Virtio Keyboard": keys, EV_REP, three LEDs */
    SIM_INPUT_MOUSE,    /* "QEMU Virtio Mouse": REL_X, REL_Y, REL_WHEEL, buttons */
    SIM_INPUT_TABLET,   /* "QEMU Virtio Tablet": ABS_X, ABS_Y 0..32767, buttons,
                           REL_WHEEL */
};

/* One event the driver put on the status queue, as the device read it. */
struct sim_input_status {
    uint8_t raw[8];     /* the bytes */
    uint16_t type, code;
    uint32_t value;     /* decoded little-endian */
    uint32_t buf_len;   /* the buffer's length */
};

struct sim_input {
    struct sim_pci pci;   /* first: &pci.s is the device (MMIO uses only it) */
    enum sim_input_transport transport;

    /* The configuration (answered from these on every select). */
    char name[160];               /* may be longer than 128: see name_size */
    bool name_nul;                /* size counts a NUL after it (QEMU's does) */
    char serial[160];             /* "": size 0 */
    bool has_ids;
    struct lvio_virtio_input_devids ids; /* CPU order here; little-endian on the wire */
    uint8_t props[128];
    uint8_t prop_size;
    uint8_t ev_bits[SIM_INPUT_TYPES][128];
    uint8_t ev_size[SIM_INPUT_TYPES];    /* 0: the type is not supported */
    int32_t abs[SIM_INPUT_AXES][5];      /* min, max, fuzz, flat, res */
    uint8_t abs_size[SIM_INPUT_AXES];    /* 0: no ABS_INFO for the axis */
    /* Fault: the answer to (force_select, force_subsel) says size
     * force_size whatever it holds (force_on). */
    bool force_on;
    uint8_t force_select, force_subsel, force_size;

    /* The select protocol as the driver drove it. */
    uint8_t select, subsel;
    unsigned selects;             /* writes of select */
    unsigned answers[256];        /* writes of select, per value */

    /* Events the device has and buffers it holds. */
    struct lvio_virtio_input_event pending[SIM_INPUT_PENDING]; /* wire order */
    unsigned pend_head, pend_count;
    uint16_t held_ev[SIM_INPUT_HELD];   /* event buffers held, oldest first */
    unsigned nheld_ev;
    uint64_t delivered;           /* events written into buffers */
    uint64_t buffers_taken;       /* event buffers the driver gave */
    /* Fault: the next bad_len_times event completions report bad_len
     * instead of 8 (the event is still written). */
    uint32_t bad_len;
    unsigned bad_len_times;

    /* Status queue. */
    struct sim_input_status status[SIM_INPUT_STATUS_LOG];
    unsigned nstatus;             /* may exceed SIM_INPUT_STATUS_LOG */
    bool hold_status;             /* keep status buffers (until
                                     sim_input_release_status) */
    uint16_t held_st[SIM_INPUT_HELD];
    unsigned nheld_st;
};

/* A fresh device of `model` on `transport`, both queues of 64. */
void sim_input_init(struct sim_input *x, enum sim_input_transport transport,
                    enum sim_input_model model);

/* The device, for sim.h's knobs and checks. */
static inline struct sim *sim_input_sim(struct sim_input *x)
{
    return &x->pci.s;
}

/* Probe it (asserts success). */
void sim_input_probe(struct sim_input *x, struct lvio_device *dev);

/* The device lists code `code` of event type `type` (the type's size
 * grows to cover it). */
void sim_input_set_code(struct sim_input *x, uint16_t type, uint16_t code);

/* Absolute axis `axis` with this range (and its bit in EV_ABS). */
void sim_input_set_abs(struct sim_input *x, uint16_t axis, int32_t min, int32_t max);

/* The device has an event for the driver: into a buffer now if it holds
 * one, else as soon as it gets one. */
void sim_input_send(struct sim_input *x, uint16_t type, uint16_t code, int32_t value);

/* Event buffers the device holds now (given, not yet used). */
unsigned sim_input_buffers(const struct sim_input *x);

/* Give back the status buffers hold_status kept, oldest first. */
void sim_input_release_status(struct sim_input *x);

/* A configuration change notice (the ISR's bit, or PCI's config vector). */
void sim_input_config_change(struct sim_input *x);

#endif
