/* The simulated virtio-input described in sim_input.h. */
#include "sim_input.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_ring.h"

#define CFG(field) offsetof(struct lvio_virtio_input_config, field)
#define EVENT_LEN 8u

static struct sim_input *input_of(struct sim *s)
{
    return (struct sim_input *)(void *)((char *)s - offsetof(struct sim_input, pci.s));
}

/* ---- configuration ----------------------------------------------------------------- */

static uint8_t string_size(const char *s, bool nul)
{
    size_t n = strlen(s) + (nul && s[0] ? 1 : 0);
    return (uint8_t)(n > 255 ? 255 : n);
}

/* The answer to (select, subsel) into config[2..136): size, then the union
 * (bytes past 128 of an over-long string are not there). */
static void answer(struct sim_input *x)
{
    uint8_t *c = sim_input_sim(x)->config;
    uint8_t *u = c + CFG(u);
    uint8_t size = 0;
    memset(c + CFG(size), 0, CFG(u) - CFG(size) + LVIO_VIRTIO_INPUT_CFG_DATA);
    c[CFG(select)] = x->select;
    c[CFG(subsel)] = x->subsel;
    switch (x->select) {
    case LVIO_VIRTIO_INPUT_CFG_ID_NAME:
    case LVIO_VIRTIO_INPUT_CFG_ID_SERIAL: {
        const char *s = x->select == LVIO_VIRTIO_INPUT_CFG_ID_NAME ? x->name : x->serial;
        if (x->subsel)
            break;
        size = string_size(s, x->select == LVIO_VIRTIO_INPUT_CFG_ID_NAME && x->name_nul);
        size_t n = strlen(s);
        memcpy(u, s, n < LVIO_VIRTIO_INPUT_CFG_DATA ? n : LVIO_VIRTIO_INPUT_CFG_DATA);
        break;
    }
    case LVIO_VIRTIO_INPUT_CFG_ID_DEVIDS: {
        if (x->subsel || !x->has_ids)
            break;
        const struct lvio_virtio_input_devids ids = {
            lvio_cpu_to_le16(x->ids.bustype), lvio_cpu_to_le16(x->ids.vendor),
            lvio_cpu_to_le16(x->ids.product), lvio_cpu_to_le16(x->ids.version)};
        memcpy(u, &ids, sizeof ids);
        size = sizeof ids;
        break;
    }
    case LVIO_VIRTIO_INPUT_CFG_PROP_BITS:
        if (x->subsel)
            break;
        memcpy(u, x->props, sizeof x->props);
        size = x->prop_size;
        break;
    case LVIO_VIRTIO_INPUT_CFG_EV_BITS:
        if (x->subsel >= SIM_INPUT_TYPES)
            break;
        memcpy(u, x->ev_bits[x->subsel], sizeof x->ev_bits[0]);
        size = x->ev_size[x->subsel];
        break;
    case LVIO_VIRTIO_INPUT_CFG_ABS_INFO:
        if (x->subsel >= SIM_INPUT_AXES)
            break;
        for (unsigned i = 0; i < 5; i++) { /* min, max, fuzz, flat, res */
            uint32_t v = lvio_cpu_to_le32((uint32_t)x->abs[x->subsel][i]);
            memcpy(u + 4 * i, &v, sizeof v);
        }
        size = x->abs_size[x->subsel];
        break;
    default:
        break;
    }
    if (x->force_on && x->select == x->force_select && x->subsel == x->force_subsel)
        size = x->force_size;
    if (size == 0) /* a device says nothing else then (5.8.5.2) */
        memset(u, 0, LVIO_VIRTIO_INPUT_CFG_DATA);
    c[CFG(size)] = size;
}

/* Only select and subsel, a byte each. */
static void input_config_write(struct sim *s, uint32_t off, unsigned width, uint32_t v)
{
    struct sim_input *x = input_of(s);
    if (width != 1 || (off != CFG(select) && off != CFG(subsel))) {
        sim_error(s, "input: %u-byte write of config 0x%x (only select and subsel may be "
                  "written)", width, off);
        return;
    }
    if (off == CFG(select)) {
        x->select = (uint8_t)v;
        x->selects++;
        x->answers[x->select]++;
    } else {
        x->subsel = (uint8_t)v;
    }
    answer(x);
    /* As QEMU's model does: after DRIVER_OK, a write is a configuration
     * change (a notice and a new generation). */
    if (s->status & LVIO_VIRTIO_STATUS_DRIVER_OK)
        sim_input_config_change(x);
}

/* ---- the queues --------------------------------------------------------------------- */

/* The one writable buffer of an event chain (checked), or false. */
static bool event_buf(struct sim *s, uint16_t head, uint64_t *addr)
{
    uint64_t a;
    uint32_t len;
    uint16_t flags;
    if (!sim_chain_buf(s, LVIO_VIRTIO_INPUT_EVENTQ, head, 0, &a, &len, &flags) ||
        !(flags & LVIO_VIRTQ_DESC_F_WRITE) || len < EVENT_LEN ||
        (flags & LVIO_VIRTQ_DESC_F_NEXT)) {
        sim_error(s, "input: event chain %u is not one writable buffer of 8 bytes or more",
                  head);
        return false;
    }
    *addr = a;
    return true;
}

/* The oldest pending event into the buffer of chain `head`, completed. */
static void deliver(struct sim_input *x, uint16_t head)
{
    struct sim *s = sim_input_sim(x);
    uint64_t addr;
    const struct lvio_virtio_input_event *e = &x->pending[x->pend_head];
    uint8_t b[EVENT_LEN];
    x->pend_head = (x->pend_head + 1) % SIM_INPUT_PENDING;
    x->pend_count--;
    if (!event_buf(s, head, &addr))
        return;
    memcpy(b, e, EVENT_LEN); /* already little-endian */
    sim_dev_write(s, addr, b, EVENT_LEN);
    x->delivered++;
    uint32_t len = EVENT_LEN;
    if (x->bad_len_times) {
        x->bad_len_times--;
        len = x->bad_len;
    }
    sim_push_used(s, LVIO_VIRTIO_INPUT_EVENTQ, head, len);
}

/* Held event buffers get the pending events, oldest first. */
static void deliver_pending(struct sim_input *x)
{
    while (x->pend_count && x->nheld_ev) {
        uint16_t head = x->held_ev[0];
        memmove(x->held_ev, x->held_ev + 1, --x->nheld_ev * sizeof x->held_ev[0]);
        deliver(x, head);
    }
}

static void status_read(struct sim_input *x, uint16_t head)
{
    struct sim *s = sim_input_sim(x);
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    struct sim_input_status st = {0};
    if (!sim_chain_buf(s, LVIO_VIRTIO_INPUT_STATUSQ, head, 0, &addr, &len, &flags) ||
        (flags & (LVIO_VIRTQ_DESC_F_WRITE | LVIO_VIRTQ_DESC_F_NEXT)) || len < EVENT_LEN) {
        sim_error(s, "input: status chain %u is not one readable buffer of 8 bytes or more",
                  head);
        return;
    }
    if (!sim_dev_read(s, addr, st.raw, sizeof st.raw))
        return;
    struct lvio_virtio_input_event e;
    memcpy(&e, st.raw, sizeof e);
    st.type = lvio_le16_to_cpu(e.type);
    st.code = lvio_le16_to_cpu(e.code);
    st.value = lvio_le32_to_cpu(e.value);
    st.buf_len = len;
    if (x->nstatus < SIM_INPUT_STATUS_LOG)
        x->status[x->nstatus] = st;
    x->nstatus++;
}

/* Every chain: the model completes it itself (sim_push_used), now or
 * later, so the ring model must not (never_complete, per chain). */
static uint32_t input_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    struct sim_input *x = input_of(s);
    s->never_complete = true;
    if (queue == LVIO_VIRTIO_INPUT_EVENTQ) {
        uint64_t addr;
        x->buffers_taken++;
        if (!event_buf(s, head, &addr))
            return 0;
        if (x->nheld_ev >= SIM_INPUT_HELD)
            fail_msg("sim_input: more than %u event buffers held", SIM_INPUT_HELD);
        x->held_ev[x->nheld_ev++] = head;
        deliver_pending(x);
    } else if (queue == LVIO_VIRTIO_INPUT_STATUSQ) {
        status_read(x, head);
        if (!x->hold_status) {
            sim_push_used(s, queue, head, 0);
        } else {
            if (x->nheld_st >= SIM_INPUT_HELD)
                fail_msg("sim_input: more than %u status buffers held", SIM_INPUT_HELD);
            x->held_st[x->nheld_st++] = head;
        }
    } else {
        sim_error(s, "input: a chain on queue %u", queue);
    }
    return 0;
}

/* A reset: the device forgets the buffers, its events and the select. */
static void input_reset(struct sim *s)
{
    struct sim_input *x = input_of(s);
    x->nheld_ev = x->nheld_st = 0;
    x->pend_head = x->pend_count = 0;
    x->select = x->subsel = 0;
    answer(x);
}

/* ---- models --------------------------------------------------------------------- */

void sim_input_set_code(struct sim_input *x, uint16_t type, uint16_t code)
{
    assert_true(type < SIM_INPUT_TYPES && code < 1024);
    x->ev_bits[type][code / 8] |= (uint8_t)(1u << (code % 8));
    if (x->ev_size[type] < code / 8 + 1)
        x->ev_size[type] = (uint8_t)(code / 8 + 1);
}

void sim_input_set_abs(struct sim_input *x, uint16_t axis, int32_t min, int32_t max)
{
    assert_true(axis < SIM_INPUT_AXES);
    sim_input_set_code(x, LVIO_EV_ABS, axis);
    memset(x->abs[axis], 0, sizeof x->abs[axis]);
    x->abs[axis][0] = min;
    x->abs[axis][1] = max;
    x->abs_size[axis] = sizeof(struct lvio_virtio_input_absinfo);
}

static void model(struct sim_input *x, enum sim_input_model m)
{
    static const uint16_t buttons[] = {LVIO_BTN_LEFT, LVIO_BTN_RIGHT, LVIO_BTN_MIDDLE,
                                       LVIO_BTN_SIDE, LVIO_BTN_EXTRA};
    x->name_nul = true; /* QEMU's size counts the NUL */
    x->has_ids = m != SIM_INPUT_NONE;
    x->ids = (struct lvio_virtio_input_devids){0x06 /* BUS_VIRTUAL */, 0x0627,
                                                (uint16_t)m, 0x0001};
    switch (m) {
    case SIM_INPUT_KEYBOARD:
        strcpy(x->name, "QEMU Virtio Keyboard");
        for (uint16_t k = 1; k < 0x80; k++)
            sim_input_set_code(x, LVIO_EV_KEY, k);
        x->ev_size[LVIO_EV_REP] = 1; /* listed, no codes */
        sim_input_set_code(x, LVIO_EV_LED, LVIO_LED_NUML);
        sim_input_set_code(x, LVIO_EV_LED, LVIO_LED_CAPSL);
        sim_input_set_code(x, LVIO_EV_LED, LVIO_LED_SCROLLL);
        break;
    case SIM_INPUT_MOUSE:
        strcpy(x->name, "QEMU Virtio Mouse");
        sim_input_set_code(x, LVIO_EV_REL, LVIO_REL_X);
        sim_input_set_code(x, LVIO_EV_REL, LVIO_REL_Y);
        sim_input_set_code(x, LVIO_EV_REL, LVIO_REL_WHEEL);
        for (unsigned i = 0; i < sizeof buttons / sizeof buttons[0]; i++)
            sim_input_set_code(x, LVIO_EV_KEY, buttons[i]);
        break;
    case SIM_INPUT_TABLET:
        strcpy(x->name, "QEMU Virtio Tablet");
        sim_input_set_abs(x, LVIO_ABS_X, 0, 0x7fff);
        sim_input_set_abs(x, LVIO_ABS_Y, 0, 0x7fff);
        sim_input_set_code(x, LVIO_EV_REL, LVIO_REL_WHEEL);
        for (unsigned i = 0; i < sizeof buttons / sizeof buttons[0]; i++)
            sim_input_set_code(x, LVIO_EV_KEY, buttons[i]);
        break;
    case SIM_INPUT_NONE:
        break;
    }
}

void sim_input_init(struct sim_input *x, enum sim_input_transport transport,
                    enum sim_input_model m)
{
    memset(x, 0, sizeof *x);
    if (transport == SIM_INPUT_PCI)
        sim_pci_init(&x->pci, SIM_PCI_MODERN, LVIO_VIRTIO_ID_INPUT);
    else
        sim_init(&x->pci.s, transport == SIM_INPUT_MMIO1 ? 1 : 2, LVIO_VIRTIO_ID_INPUT);
    x->transport = transport;
    struct sim *s = sim_input_sim(x);
    s->handler = input_handler;
    s->config_write = input_config_write;
    s->on_reset = input_reset;
    s->q[LVIO_VIRTIO_INPUT_EVENTQ].num_max = 64; /* QEMU's size for both */
    s->q[LVIO_VIRTIO_INPUT_STATUSQ].num_max = 64;
    model(x, m);
    answer(x);
}

void sim_input_probe(struct sim_input *x, struct lvio_device *dev)
{
    if (x->transport != SIM_INPUT_PCI) {
        sim_probe(sim_input_sim(x), dev);
        return;
    }
    int r = sim_pci_probe(&x->pci, dev);
    if (r != 0)
        fail_msg("sim_input: PCI probe returned %s (\"%s\")", lvio_errname(r),
                 lvio_device_error(dev));
}

void sim_input_send(struct sim_input *x, uint16_t type, uint16_t code, int32_t value)
{
    if (x->pend_count == SIM_INPUT_PENDING)
        fail_msg("sim_input: more than %u events pending on the device", SIM_INPUT_PENDING);
    struct lvio_virtio_input_event *e =
        &x->pending[(x->pend_head + x->pend_count++) % SIM_INPUT_PENDING];
    *e = (struct lvio_virtio_input_event){lvio_cpu_to_le16(type), lvio_cpu_to_le16(code),
                                          lvio_cpu_to_le32((uint32_t)value)};
    deliver_pending(x);
}

unsigned sim_input_buffers(const struct sim_input *x)
{
    return x->nheld_ev;
}

void sim_input_release_status(struct sim_input *x)
{
    struct sim *s = sim_input_sim(x);
    for (unsigned i = 0; i < x->nheld_st; i++)
        sim_push_used(s, LVIO_VIRTIO_INPUT_STATUSQ, x->held_st[i], 0);
    x->nheld_st = 0;
}

void sim_input_config_change(struct sim_input *x)
{
    if (x->transport == SIM_INPUT_PCI) {
        sim_pci_config_change(&x->pci);
        return;
    }
    struct sim *s = sim_input_sim(x);
    s->generation++;
    s->isr |= LVIO_VIRTIO_ISR_CONFIG;
}
