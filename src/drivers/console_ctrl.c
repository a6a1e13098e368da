/*
 * virtio-console control messages (VIRTIO 1.2, 5.3.6.2), and the events
 * they make: what the driver owes the device (DEVICE_READY, PORT_READY,
 * PORT_OPEN), sent as control transmit buffers free up and as QEMU's
 * answers can find a control receive buffer; what the device says (a port
 * added, removed, a console, opened or closed on the host side, named,
 * resized), each message copied out of its buffer once and checked before
 * anything is believed.
 */
#include "lvio/config.h"
#if LVIO_WITH_CONSOLE /* else left out: lvio/config.h */

#include "console_internal.h"

#define HDR ((uint32_t)sizeof(struct lvio_virtio_console_control))
#define RESIZE_LEN (HDR + (uint32_t)sizeof(struct lvio_virtio_console_resize))
/* Messages QEMU sends back for a PORT_READY at most. */
#define READY_REPLIES 3u

_Static_assert(LVIO_CONSOLE_CTRL_BUF % 8 == 0 && LVIO_CONSOLE_CTRL_BUF >= RESIZE_LEN &&
                   LVIO_CONSOLE_CTRL_BUF <= 4096,
               "control buffers hold a RESIZE, whole words, at most a page");
_Static_assert(LVIO_CONSOLE_EVENTS >= 1, "an event at least");

/* ---- names and events ------------------------------------------------------------------- */

const char *lvio_console_event_name(uint8_t type)
{
    switch (type) {
    case LVIO_CONSOLE_EV_PORT_ADDED: return "port-added";
    case LVIO_CONSOLE_EV_PORT_REMOVED: return "port-removed";
    case LVIO_CONSOLE_EV_PORT_OPENED: return "port-opened";
    case LVIO_CONSOLE_EV_PORT_CLOSED: return "port-closed";
    case LVIO_CONSOLE_EV_PORT_NAMED: return "port-named";
    case LVIO_CONSOLE_EV_PORT_CONSOLE: return "port-console";
    case LVIO_CONSOLE_EV_RESIZED: return "resized";
    default: return "unknown";
    }
}

/* A control event's name in the specification. */
static const char *ctrl_name(uint16_t event)
{
    switch (event) {
    case LVIO_VIRTIO_CONSOLE_DEVICE_READY: return "DEVICE_READY";
    case LVIO_VIRTIO_CONSOLE_DEVICE_ADD: return "PORT_ADD";
    case LVIO_VIRTIO_CONSOLE_DEVICE_REMOVE: return "PORT_REMOVE";
    case LVIO_VIRTIO_CONSOLE_PORT_READY: return "PORT_READY";
    case LVIO_VIRTIO_CONSOLE_CONSOLE_PORT: return "CONSOLE_PORT";
    case LVIO_VIRTIO_CONSOLE_RESIZE: return "RESIZE";
    case LVIO_VIRTIO_CONSOLE_PORT_OPEN: return "PORT_OPEN";
    case LVIO_VIRTIO_CONSOLE_PORT_NAME: return "PORT_NAME";
    default: return "unknown";
    }
}

/* Queue an event; a full FIFO drops it, counted and logged. */
void lvio_console_event_add(struct lvio_console *c, uint8_t type, uint32_t port, uint16_t cols,
                            uint16_t rows)
{
    if (c->ev_count == LVIO_CONSOLE_EVENTS) {
        c->events_lost++;
        lvio_log(c->dev, LVIO_LOG_WARN, "console: %u events not taken: %s of port %u dropped",
                 c->ev_count, lvio_console_event_name(type), port);
        return;
    }
    unsigned i = (c->ev_head + c->ev_count) % LVIO_CONSOLE_EVENTS;
    c->events[i] = (struct lvio_console_event){type, port, cols, rows};
    c->ev_count++;
}

bool lvio_console_next_event(struct lvio_console *c, struct lvio_console_event *ev)
{
    if (!c || !ev || c->ev_count == 0)
        return false;
    *ev = c->events[c->ev_head];
    c->ev_head = (c->ev_head + 1) % LVIO_CONSOLE_EVENTS;
    c->ev_count--;
    return true;
}

/* ---- control messages to the device --------------------------------------------------------- */

/* Messages the device may still send back for those in flight. */
static unsigned replies_pending(const struct lvio_console *c)
{
    unsigned n = 0;
    for (unsigned s = 0; s < LVIO_CONSOLE_CTRL_TX_SLOTS; s++)
        if (c->c_tx_slots[s].state == LVIO_REQ_BUSY)
            n += c->c_tx_replies[s];
    return n;
}

/* One message on the control transmit queue (notified later):
 * LVIO_E_AGAIN, quietly, when no buffer or descriptor is free. */
static int ctrl_send(struct lvio_console *c, uint32_t id, uint16_t ev, uint16_t value,
                     uint8_t replies)
{
    struct lvio_device *dev = c->dev;
    unsigned slot = LVIO_CONSOLE_CTRL_TX_SLOTS;
    for (unsigned s = 0; s < LVIO_CONSOLE_CTRL_TX_SLOTS && slot == LVIO_CONSOLE_CTRL_TX_SLOTS; s++)
        if (c->c_tx_slots[s].state == LVIO_REQ_FREE)
            slot = s;
    if (slot == LVIO_CONSOLE_CTRL_TX_SLOTS || lvio_vq_num_free(&c->c_txq) == 0)
        return LVIO_E_AGAIN;
    struct lvio_virtio_console_control m = {lvio_cpu_to_dev32(dev, id),
                                            lvio_cpu_to_dev16(dev, ev),
                                            lvio_cpu_to_dev16(dev, value)};
    memcpy(lvio_req_buf(&c->c_tx, slot), &m, HDR);
    struct lvio_req q = {.slot = slot, .req_len = HDR};
    int err = lvio_reqs_add(&c->c_tx, &q, 1);
    if (err)
        return err;
    c->c_tx_replies[slot] = replies;
    lvio_log(dev, LVIO_LOG_DEBUG, "console: sent %s for port %u, value %u", ctrl_name(ev), id,
             value);
    return LVIO_OK;
}

/* A PORT_READY may go: nothing it answers can be dropped for want of a
 * control receive buffer (or nothing else is in flight: a device with a
 * small control queue still gets one at a time). */
static bool ready_may_go(const struct lvio_console *c)
{
    unsigned pending = replies_pending(c);
    return pending == 0 || lvio_reqs_count(&c->c_rx, LVIO_REQ_BUSY) > pending + READY_REPLIES;
}

/* Send what is owed, oldest duty first: DEVICE_READY, then each port's
 * PORT_READY and PORT_OPEN (in that order for one port). */
int lvio_console_ctrl_send_owed(struct lvio_console *c)
{
    int err = lvio_reqs_reap(&c->c_tx);
    for (unsigned s = 0; s < LVIO_CONSOLE_CTRL_TX_SLOTS; s++) {
        if (c->c_tx_slots[s].state == LVIO_REQ_DONE) {
            lvio_reqs_put(&c->c_tx, s);
            c->c_tx_replies[s] = 0;
        }
    }
    if (err < 0)
        return err;
    err = LVIO_OK;
    if (c->owe_device_ready) {
        uint32_t adds = c->max_nr_ports < 255 ? c->max_nr_ports : 255;
        err = ctrl_send(c, 0, LVIO_VIRTIO_CONSOLE_DEVICE_READY, 1, (uint8_t)adds);
        if (err == LVIO_OK)
            c->owe_device_ready = false;
    }
    for (unsigned i = 0; i < c->nusable && err == LVIO_OK && !c->owe_device_ready; i++) {
        struct lvio_console_port *p = &c->ports[i];
        if ((p->owed & LVIO_CONSOLE_OWE_READY) && !ready_may_go(c))
            continue;
        if (p->owed & LVIO_CONSOLE_OWE_READY) {
            err = ctrl_send(c, p->id, LVIO_VIRTIO_CONSOLE_PORT_READY, 1, READY_REPLIES);
            if (err == LVIO_OK)
                p->owed &= (uint8_t)~LVIO_CONSOLE_OWE_READY;
        }
        if (err == LVIO_OK && (p->owed & LVIO_CONSOLE_OWE_OPEN)) {
            err = ctrl_send(c, p->id, LVIO_VIRTIO_CONSOLE_PORT_OPEN, p->open_value, 0);
            if (err == LVIO_OK)
                p->owed &= (uint8_t)~LVIO_CONSOLE_OWE_OPEN;
        }
    }
    if (err == LVIO_E_AGAIN)
        err = LVIO_OK; /* the rest waits for buffers to come back */
    int kicked = lvio_vq_kick(&c->c_txq);
    return err ? err : kicked;
}

/* ---- control messages from the device ------------------------------------------------------- */

/* A port the device added with no storage behind it: tell it so. */
static void port_refuse(struct lvio_console *c, uint32_t id)
{
    c->ports_refused++;
    lvio_log(c->dev, LVIO_LOG_WARN,
             "console: PORT_ADD of port %u, past the %u port(s) given storage: refused "
             "(PORT_READY 0)", id, c->nusable);
    int err = ctrl_send(c, id, LVIO_VIRTIO_CONSOLE_PORT_READY, 0, 0);
    if (err) {
        c->ctrl_unsent++;
        lvio_log(c->dev, LVIO_LOG_WARN,
                 "console: no control buffer free: PORT_READY 0 for port %u not sent", id);
    }
}

static void port_add(struct lvio_console *c, struct lvio_console_port *p)
{
    p->owed |= LVIO_CONSOLE_OWE_READY;
    if (p->present) { /* QEMU adds again what it added before DEVICE_READY */
        lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u added again: PORT_READY again",
                 p->id);
        return;
    }
    lvio_console_rx_drop(c, p);
    p->present = true;
    p->is_console = false;
    p->host_open = false;
    p->guest_open = false;
    p->name[0] = '\0';
    if (p->id != 0 || !c->has_size)
        p->cols = p->rows = 0;
    p->adds++;
    lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u added", p->id);
    lvio_console_event_add(c, LVIO_CONSOLE_EV_PORT_ADDED, p->id, 0, 0);
}

static void port_remove(struct lvio_console *c, struct lvio_console_port *p)
{
    lvio_console_rx_drop(c, p);
    p->present = false;
    p->host_open = false;
    p->guest_open = false;
    p->owed = 0;
    p->removes++;
    lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u removed", p->id);
    lvio_console_event_add(c, LVIO_CONSOLE_EV_PORT_REMOVED, p->id, 0, 0);
    (void)lvio_console_post(&p->rx, LVIO_CONSOLE_BUF, true); /* an error shows at the next poll */
}

/* A console port: the driver must answer PORT_OPEN 1 (every time). */
static void port_console(struct lvio_console *c, struct lvio_console_port *p)
{
    if (!p->is_console) {
        p->is_console = true;
        lvio_console_event_add(c, LVIO_CONSOLE_EV_PORT_CONSOLE, p->id, 0, 0);
    }
    p->guest_open = true;
    p->open_value = true;
    p->owed |= LVIO_CONSOLE_OWE_OPEN;
}

static void port_host_open(struct lvio_console *c, struct lvio_console_port *p, bool open)
{
    if (p->host_open == open)
        return;
    p->host_open = open;
    lvio_console_event_add(c, open ? LVIO_CONSOLE_EV_PORT_OPENED : LVIO_CONSOLE_EV_PORT_CLOSED, p->id, 0, 0);
}

/* The name after the header: up to its first NUL (QEMU sends one) or the
 * message's end; `full` when the message filled its buffer (a longer name
 * was cut by the device). */
static void port_name(struct lvio_console *c, struct lvio_console_port *p, const uint8_t *name,
                      uint32_t len, bool full)
{
    uint32_t n = 0;
    while (n < len && name[n])
        n++;
    if (n == 0 || n >= LVIO_CONSOLE_NAME_MAX || (n == len && full)) {
        c->ctrl_bad_name++;
        lvio_log(c->dev, LVIO_LOG_WARN,
                 "console: PORT_NAME for port %u: a name of %u%s bytes (1 to %u taken): "
                 "ignored", p->id, n, n == len && full ? " or more" : "",
                 LVIO_CONSOLE_NAME_MAX - 1);
        return;
    }
    if (memcmp(p->name, name, n) == 0 && p->name[n] == '\0')
        return; /* the same again (a PORT_READY sent again) */
    memcpy(p->name, name, n);
    p->name[n] = '\0';
    lvio_console_event_add(c, LVIO_CONSOLE_EV_PORT_NAMED, p->id, 0, 0);
}

void lvio_console_port_resize(struct lvio_console *c, struct lvio_console_port *p, uint16_t cols,
                              uint16_t rows)
{
    p->cols = cols;
    p->rows = rows;
    lvio_console_event_add(c, LVIO_CONSOLE_EV_RESIZED, p->id, cols, rows);
}

/* Drop a message the device should not have sent: counted, logged. */
static void ctrl_drop(struct lvio_console *c, uint32_t *counter, const char *what,
                      uint16_t ev, uint32_t id)
{
    (*counter)++;
    lvio_log(c->dev, LVIO_LOG_WARN, "console: %s for port %u: %s: dropped", ctrl_name(ev), id,
             what);
}

/* One control message, `len` bytes at `buf` in a control receive buffer. */
static void ctrl_message(struct lvio_console *c, const uint8_t *buf, uint32_t len, bool overlong)
{
    struct lvio_device *dev = c->dev;
    uint8_t msg[LVIO_CONSOLE_CTRL_BUF];
    struct lvio_virtio_console_control h;
    c->ctrl_messages++;
    if (len < HDR) {
        c->ctrl_short++;
        lvio_log(dev, LVIO_LOG_WARN, "console: a control message of %u bytes, shorter than "
                 "its %u-byte header: dropped", len, HDR);
        return;
    }
    memcpy(msg, buf, len); /* once: the device may still scribble on the buffer */
    memcpy(&h, msg, HDR);
    uint32_t id = lvio_dev32_to_cpu(dev, h.id);
    uint16_t ev = lvio_dev16_to_cpu(dev, h.event), value = lvio_dev16_to_cpu(dev, h.value);
    if (overlong) { /* QEMU reports the whole length of what it cut */
        ctrl_drop(c, &c->overlong, "longer than its control buffer", ev, id);
        return;
    }
    lvio_log(dev, LVIO_LOG_DEBUG, "console: %s for port %u, value %u, %u bytes", ctrl_name(ev),
             id, value, len);
    switch (ev) {
    case LVIO_VIRTIO_CONSOLE_DEVICE_ADD:
    case LVIO_VIRTIO_CONSOLE_DEVICE_REMOVE:
    case LVIO_VIRTIO_CONSOLE_CONSOLE_PORT:
    case LVIO_VIRTIO_CONSOLE_RESIZE:
    case LVIO_VIRTIO_CONSOLE_PORT_OPEN:
    case LVIO_VIRTIO_CONSOLE_PORT_NAME:
        break;
    default:
        ctrl_drop(c, &c->ctrl_bad_event, "not an event a device sends", ev, id);
        return;
    }
    if (id >= c->max_nr_ports) {
        ctrl_drop(c, &c->ctrl_bad_id, "past max_nr_ports", ev, id);
        return;
    }
    if (id >= c->nusable) {
        if (ev == LVIO_VIRTIO_CONSOLE_DEVICE_ADD)
            port_refuse(c, id);
        else
            ctrl_drop(c, &c->ctrl_unknown_port, "a port without storage", ev, id);
        return;
    }
    struct lvio_console_port *p = &c->ports[id];
    if (ev == LVIO_VIRTIO_CONSOLE_DEVICE_ADD) {
        port_add(c, p);
        return;
    }
    if (!p->present) {
        ctrl_drop(c, &c->ctrl_unknown_port, "not present", ev, id);
        return;
    }
    switch (ev) {
    case LVIO_VIRTIO_CONSOLE_DEVICE_REMOVE:
        port_remove(c, p);
        break;
    case LVIO_VIRTIO_CONSOLE_CONSOLE_PORT:
        port_console(c, p);
        break;
    case LVIO_VIRTIO_CONSOLE_PORT_OPEN:
        port_host_open(c, p, value != 0);
        break;
    case LVIO_VIRTIO_CONSOLE_PORT_NAME:
        port_name(c, p, msg + HDR, len - HDR, len == LVIO_CONSOLE_CTRL_BUF);
        break;
    default: { /* RESIZE */
        struct lvio_virtio_console_resize r;
        if (len < RESIZE_LEN) {
            ctrl_drop(c, &c->ctrl_short, "shorter than a size", ev, id);
            break;
        }
        memcpy(&r, msg + HDR, sizeof r);
        lvio_console_port_resize(c, p, lvio_dev16_to_cpu(dev, r.cols), lvio_dev16_to_cpu(dev, r.rows));
        break;
    }
    }
}

/* Take the control messages in the order the device sent them, post their
 * buffers again, send what is owed. */
int lvio_console_ctrl_service(struct lvio_console *c)
{
    int err = lvio_reqs_reap(&c->c_rx), s;
    while ((s = lvio_reqs_next_done(&c->c_rx)) >= 0) {
        const struct lvio_req_slot *sl = &c->c_rx_slots[s];
        ctrl_message(c, lvio_req_buf(&c->c_rx, (unsigned)s), sl->len, sl->overlong);
        lvio_reqs_put(&c->c_rx, (unsigned)s);
    }
    int e = lvio_console_post(&c->c_rx, LVIO_CONSOLE_CTRL_BUF, true);
    if (err >= 0 && e < 0)
        err = e;
    e = lvio_console_ctrl_send_owed(c);
    if (err >= 0 && e < 0)
        err = e;
    return err < 0 ? err : LVIO_OK;
}

#else
typedef int lvio_console_ctrl_left_out; /* ISO C wants a declaration */
#endif
