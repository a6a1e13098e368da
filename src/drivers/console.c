/*
 * virtio-console driver (VIRTIO 1.2, 5.3).
 *
 * Every queue has a request engine (lvio/request.h) whose slots are the
 * driver's buffers: a port's receive buffers (the whole slot the device's
 * to write), its transmit buffers (the whole slot the device's to read),
 * the control receive buffers (a message each) and the control transmit
 * buffers (one 8-byte message each). All of them are set up by init, for
 * every port the caller gave storage for (up to max_nr_ports): the
 * specification allows queues to be set up only before DRIVER_OK, and
 * nothing is allocated afterwards.
 *
 * Ownership: a receive buffer is the device's while posted, the driver's
 * from its completion until the caller has read its last byte (only then
 * posted again: the device is held back, nothing is overwritten); a
 * transmit buffer the device's from its submit until its completion is
 * taken. What the device wrote is copied out of a control buffer once,
 * then checked.
 *
 * Control messages to the device wait in the driver (flags on the port,
 * never a queue that could overflow) until a control transmit buffer is
 * free. QEMU answers a PORT_READY at once with up to three messages
 * (CONSOLE_PORT, PORT_NAME, PORT_OPEN) and drops any it finds no receive
 * buffer for, so a PORT_READY goes only when the control receive buffers
 * posted leave room for the answers of every message still in flight.
 */
#include "lvio/config.h"
#if LVIO_WITH_CONSOLE /* else left out: lvio/config.h */

#include "lvio/console.h"
#include "../core/internal.h"

#define HDR ((uint32_t)sizeof(struct lvio_virtio_console_control))
#define RESIZE_LEN (HDR + (uint32_t)sizeof(struct lvio_virtio_console_resize))
#define CTRL_TX_SLOT 8u /* one message, the slot size a multiple of 8 */
#define BUF LVIO_CONSOLE_BUF_SIZE
#define CFG(field) ((uint32_t)offsetof(struct lvio_virtio_console_config, field))
/* Queue indexes are 16 bits: port n's are 2n + 2 and 2n + 3. */
#define MAX_PORTS 32766u
/* Messages QEMU sends back for a PORT_READY at most. */
#define READY_REPLIES 3u
/* Buffers posted in one batch. */
#define POST_BATCH 8u

/* What a port owes the device (struct lvio_console_port's `owed`). */
#define OWE_READY 1u /* PORT_READY 1 */
#define OWE_OPEN 2u  /* PORT_OPEN open_value */

#define CONSOLE_FEATURES                                                                \
    ((1ull << LVIO_VIRTIO_CONSOLE_F_SIZE) | (1ull << LVIO_VIRTIO_CONSOLE_F_MULTIPORT) | \
     (1ull << LVIO_VIRTIO_CONSOLE_F_EMERG_WRITE))

_Static_assert(BUF % 8 == 0 && BUF >= 8 && BUF <= 65536, "console buffers: 8..65536, whole words");
_Static_assert(LVIO_CONSOLE_CTRL_BUF % 8 == 0 && LVIO_CONSOLE_CTRL_BUF >= RESIZE_LEN &&
                   LVIO_CONSOLE_CTRL_BUF <= 4096,
               "control buffers hold a RESIZE, whole words, at most a page");
_Static_assert(LVIO_CONSOLE_RX_SLOTS >= 1 && LVIO_CONSOLE_TX_SLOTS >= 1 &&
                   LVIO_CONSOLE_CTRL_SLOTS >= 1 && LVIO_CONSOLE_CTRL_TX_SLOTS >= 1,
               "at least one buffer of each kind");
_Static_assert(LVIO_CONSOLE_RX_SLOTS <= 65535 && LVIO_CONSOLE_TX_SLOTS <= 65535 &&
                   LVIO_CONSOLE_CTRL_SLOTS <= 65535 && LVIO_CONSOLE_CTRL_TX_SLOTS <= 65535,
               "a queue size is 16 bits");
_Static_assert(LVIO_CONSOLE_NAME_MAX >= 2, "a name of one byte at least");
_Static_assert(LVIO_CONSOLE_EVENTS >= 1, "an event at least");

/* ---- names ---------------------------------------------------------------------------- */

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

/* ---- small helpers ------------------------------------------------------------------------ */

static uint16_t rx_queue(unsigned id)
{
    return id == 0 ? LVIO_VIRTIO_CONSOLE_PORT0_RX : (uint16_t)(2u * id + 2u);
}

static bool feature(const struct lvio_console *c, unsigned bit)
{
    return lvio_has_feature(c->dev->features_accepted, bit);
}

/* Queue an event; a full FIFO drops it, counted and logged. */
static void event(struct lvio_console *c, uint8_t type, uint32_t port, uint16_t cols,
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

/* Offer every free slot of `r` to the device, `size` bytes to write each,
 * as far as its queue has descriptors; notify it when `kick`. */
static int post_free(struct lvio_reqs *r, uint32_t size, bool kick)
{
    struct lvio_req batch[POST_BATCH];
    unsigned n = 0, added = 0, room = lvio_vq_num_free(r->vq);
    int err = LVIO_OK;
    for (unsigned s = 0; s < r->nslots && added + n < room && err == LVIO_OK; s++) {
        if (r->slots[s].state != LVIO_REQ_FREE)
            continue;
        batch[n++] = (struct lvio_req){.slot = s, .resp_len = size};
        if (n == POST_BATCH) {
            err = lvio_reqs_add(r, batch, n);
            added += n;
            n = 0;
        }
    }
    if (err == LVIO_OK && n) {
        err = lvio_reqs_add(r, batch, n);
        added += n;
    }
    if (err == LVIO_OK && added && kick)
        err = lvio_vq_kick(r->vq);
    return err;
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* Every byte received and not read dropped (counted), the buffers free. */
static void rx_drop_all(struct lvio_console *c, struct lvio_console_port *p)
{
    uint64_t dropped = 0;
    for (unsigned s = 0; s < LVIO_CONSOLE_RX_SLOTS; s++) {
        if (p->rx_slots[s].state != LVIO_REQ_DONE)
            continue;
        dropped += p->rx_slots[s].len;
        lvio_reqs_put(&p->rx, s);
    }
    dropped = dropped > p->rx_off ? dropped - p->rx_off : 0; /* read already: of the oldest */
    p->rx_off = 0;
    p->rx_dropped += dropped;
    if (dropped)
        lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u: %llu bytes received and not read "
                 "dropped", p->id, (unsigned long long)dropped);
}

/* Take the port's receive completions: a buffer the device says it
 * overfilled is dropped, an empty one freed; on a port not present
 * everything is dropped. */
static int rx_take(struct lvio_console *c, struct lvio_console_port *p)
{
    int err = lvio_reqs_reap(&p->rx);
    for (unsigned s = 0; s < LVIO_CONSOLE_RX_SLOTS; s++) {
        struct lvio_req_slot *sl = &p->rx_slots[s];
        if (sl->state != LVIO_REQ_DONE)
            continue;
        if (sl->overlong) {
            c->overlong++;
            p->rx_dropped += sl->len;
            lvio_log(c->dev, LVIO_LOG_WARN,
                     "console: port %u: used length longer than the %u-byte receive buffer: "
                     "its bytes dropped", p->id, BUF);
            lvio_reqs_put(&p->rx, s);
        } else if (sl->len == 0) {
            lvio_reqs_put(&p->rx, s);
        }
    }
    if (!p->present)
        rx_drop_all(c, p);
    return err;
}

size_t lvio_console_readable(const struct lvio_console *c, unsigned port)
{
    size_t n = 0;
    if (!c || !c->ports || port >= c->nports || !c->ports[port].usable)
        return 0;
    const struct lvio_console_port *p = &c->ports[port];
    for (unsigned s = 0; s < LVIO_CONSOLE_RX_SLOTS; s++)
        if (p->rx_slots[s].state == LVIO_REQ_DONE && !p->rx_slots[s].overlong)
            n += p->rx_slots[s].len;
    return p->present ? n - p->rx_off : 0;
}

/* ---- transmitting ----------------------------------------------------------------------- */

/* Transmit buffers the device is done with: free again. */
static int tx_reap(struct lvio_console_port *p)
{
    int err = lvio_reqs_reap(&p->tx);
    for (unsigned s = 0; s < LVIO_CONSOLE_TX_SLOTS; s++) {
        if (p->tx_slots[s].state == LVIO_REQ_DONE) {
            lvio_reqs_put(&p->tx, s); /* its used length means nothing */
            p->tx_len[s] = 0;
        }
    }
    return err < 0 ? err : LVIO_OK;
}

size_t lvio_console_tx_pending(const struct lvio_console *c, unsigned port)
{
    size_t n = 0;
    if (!c || !c->ports || port >= c->nports || !c->ports[port].usable)
        return 0;
    const struct lvio_console_port *p = &c->ports[port];
    for (unsigned s = 0; s < LVIO_CONSOLE_TX_SLOTS; s++)
        if (p->tx_slots[s].state == LVIO_REQ_BUSY)
            n += p->tx_len[s];
    return n;
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
static int ctrl_send_owed(struct lvio_console *c)
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
        if ((p->owed & OWE_READY) && !ready_may_go(c))
            continue;
        if (p->owed & OWE_READY) {
            err = ctrl_send(c, p->id, LVIO_VIRTIO_CONSOLE_PORT_READY, 1, READY_REPLIES);
            if (err == LVIO_OK)
                p->owed &= (uint8_t)~OWE_READY;
        }
        if (err == LVIO_OK && (p->owed & OWE_OPEN)) {
            err = ctrl_send(c, p->id, LVIO_VIRTIO_CONSOLE_PORT_OPEN, p->open_value, 0);
            if (err == LVIO_OK)
                p->owed &= (uint8_t)~OWE_OPEN;
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
    p->owed |= OWE_READY;
    if (p->present) { /* QEMU adds again what it added before DEVICE_READY */
        lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u added again: PORT_READY again",
                 p->id);
        return;
    }
    rx_drop_all(c, p);
    p->present = true;
    p->is_console = false;
    p->host_open = false;
    p->guest_open = false;
    p->name[0] = '\0';
    if (p->id != 0 || !c->has_size)
        p->cols = p->rows = 0;
    p->adds++;
    lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u added", p->id);
    event(c, LVIO_CONSOLE_EV_PORT_ADDED, p->id, 0, 0);
}

static void port_remove(struct lvio_console *c, struct lvio_console_port *p)
{
    rx_drop_all(c, p);
    p->present = false;
    p->host_open = false;
    p->guest_open = false;
    p->owed = 0;
    p->removes++;
    lvio_log(c->dev, LVIO_LOG_INFO, "console: port %u removed", p->id);
    event(c, LVIO_CONSOLE_EV_PORT_REMOVED, p->id, 0, 0);
    (void)post_free(&p->rx, BUF, true); /* an error shows at the next poll */
}

/* A console port: the driver must answer PORT_OPEN 1 (every time). */
static void port_console(struct lvio_console *c, struct lvio_console_port *p)
{
    if (!p->is_console) {
        p->is_console = true;
        event(c, LVIO_CONSOLE_EV_PORT_CONSOLE, p->id, 0, 0);
    }
    p->guest_open = true;
    p->open_value = true;
    p->owed |= OWE_OPEN;
}

static void port_host_open(struct lvio_console *c, struct lvio_console_port *p, bool open)
{
    if (p->host_open == open)
        return;
    p->host_open = open;
    event(c, open ? LVIO_CONSOLE_EV_PORT_OPENED : LVIO_CONSOLE_EV_PORT_CLOSED, p->id, 0, 0);
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
    event(c, LVIO_CONSOLE_EV_PORT_NAMED, p->id, 0, 0);
}

static void port_resize(struct lvio_console *c, struct lvio_console_port *p, uint16_t cols,
                        uint16_t rows)
{
    p->cols = cols;
    p->rows = rows;
    event(c, LVIO_CONSOLE_EV_RESIZED, p->id, cols, rows);
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
        port_resize(c, p, lvio_dev16_to_cpu(dev, r.cols), lvio_dev16_to_cpu(dev, r.rows));
        break;
    }
    }
}

/* Take the control messages in the order the device sent them, post their
 * buffers again, send what is owed. */
static int ctrl_service(struct lvio_console *c)
{
    int err = lvio_reqs_reap(&c->c_rx), s;
    while ((s = lvio_reqs_next_done(&c->c_rx)) >= 0) {
        const struct lvio_req_slot *sl = &c->c_rx_slots[s];
        ctrl_message(c, lvio_req_buf(&c->c_rx, (unsigned)s), sl->len, sl->overlong);
        lvio_reqs_put(&c->c_rx, (unsigned)s);
    }
    int e = post_free(&c->c_rx, LVIO_CONSOLE_CTRL_BUF, true);
    if (err >= 0 && e < 0)
        err = e;
    e = ctrl_send_owed(c);
    if (err >= 0 && e < 0)
        err = e;
    return err < 0 ? err : LVIO_OK;
}

/* ---- servicing ------------------------------------------------------------------------------ */

/* Every queue: data first (so bytes a port received before its removal
 * are taken before the PORT_REMOVE drops them), then control. */
static int console_service(struct lvio_console *c)
{
    int err = LVIO_OK;
    for (unsigned i = 0; i < c->nusable; i++) {
        struct lvio_console_port *p = &c->ports[i];
        int e = rx_take(c, p);
        if (e >= 0)
            e = post_free(&p->rx, BUF, true);
        if (e >= 0)
            e = tx_reap(p);
        if (e < 0 && err == LVIO_OK)
            err = e;
    }
    if (c->multiport) {
        int e = ctrl_service(c);
        if (e < 0 && err == LVIO_OK)
            err = e;
    }
    return err;
}

/* A configuration change: the device's status, and port 0's size. */
static int console_config_changed(struct lvio_console *c)
{
    uint16_t cols, rows;
    c->config_changes++;
    int err = lvio_device_check(c->dev);
    if (err || !c->has_size || c->nusable == 0)
        return err;
    if (lvio_config_read16(c->dev, CFG(cols), &cols) ||
        lvio_config_read16(c->dev, CFG(rows), &rows))
        return LVIO_OK; /* logged; the size stays as it was */
    struct lvio_console_port *p = &c->ports[0];
    if (cols != p->cols || rows != p->rows)
        port_resize(c, p, cols, rows);
    return LVIO_OK;
}

int lvio_console_poll(struct lvio_console *c, uint32_t isr)
{
    if (!c || !lvio_device_valid(c->dev))
        return LVIO_E_INVAL;
    if (!c->up)
        return LVIO_E_STATE;
    int err = console_service(c);
    if (isr & LVIO_VIRTIO_ISR_CONFIG) {
        int e = console_config_changed(c);
        if (err == LVIO_OK)
            err = e;
    }
    return err < 0 ? err : (int)c->ev_count;
}

/* ---- setup -------------------------------------------------------------------------------- */

/* Every queue and engine set up so far: memory back (or kept, dead). */
static void console_free_queues(struct lvio_console *c)
{
    for (unsigned i = 0; i < c->nusable; i++) {
        struct lvio_console_port *p = &c->ports[i];
        lvio_vq_teardown(&p->rxq);
        lvio_vq_teardown(&p->txq);
        lvio_reqs_teardown(&p->rx);
        lvio_reqs_teardown(&p->tx);
        p->usable = false;
    }
    lvio_vq_teardown(&c->c_rxq);
    lvio_vq_teardown(&c->c_txq);
    lvio_reqs_teardown(&c->c_rx);
    lvio_reqs_teardown(&c->c_tx);
}

static int console_read_config(struct lvio_console *c)
{
    struct lvio_device *dev = c->dev;
    uint32_t max = 1;
    if (c->multiport) {
        int err = lvio_config_read32(dev, CFG(max_nr_ports), &max);
        if (err)
            return err;
        if (max == 0)
            return lvio_fail(dev, LVIO_E_CONFIG, "console: max_nr_ports is 0 with MULTIPORT");
    }
    c->max_nr_ports = max;
    c->nusable = c->nports < max ? c->nports : max;
    if (c->nusable > MAX_PORTS)
        c->nusable = MAX_PORTS;
    if (c->has_size) {
        struct lvio_console_port *p = &c->ports[0];
        int err = lvio_config_read16(dev, CFG(cols), &p->cols);
        if (err == LVIO_OK)
            err = lvio_config_read16(dev, CFG(rows), &p->rows);
        if (err)
            return err;
    }
    return LVIO_OK;
}

/* An engine and its queue. */
static int setup_one(struct lvio_console *c, struct lvio_reqs *r, struct lvio_virtqueue *vq,
                     struct lvio_req_slot *slots, unsigned n, uint32_t size, bool device_writes,
                     uint16_t index)
{
    int err = lvio_reqs_init(r, c->dev, vq, slots, n, size, device_writes ? 0 : size);
    if (err == LVIO_OK)
        err = lvio_vq_setup(vq, c->dev, index, (uint16_t)n);
    return err;
}

/* The control queues (MULTIPORT) and each usable port's; unwinds itself
 * on failure (the device reset first). */
static int console_setup_queues(struct lvio_console *c)
{
    int err = LVIO_OK;
    if (c->multiport) {
        err = setup_one(c, &c->c_rx, &c->c_rxq, c->c_rx_slots, LVIO_CONSOLE_CTRL_SLOTS,
                        LVIO_CONSOLE_CTRL_BUF, true, LVIO_VIRTIO_CONSOLE_CTRL_RX);
        if (err == LVIO_OK)
            err = setup_one(c, &c->c_tx, &c->c_txq, c->c_tx_slots, LVIO_CONSOLE_CTRL_TX_SLOTS,
                            CTRL_TX_SLOT, false, LVIO_VIRTIO_CONSOLE_CTRL_TX);
    }
    for (unsigned i = 0; i < c->nusable && err == LVIO_OK; i++) {
        struct lvio_console_port *p = &c->ports[i];
        err = setup_one(c, &p->rx, &p->rxq, p->rx_slots, LVIO_CONSOLE_RX_SLOTS, BUF, true,
                        rx_queue(i));
        if (err == LVIO_OK)
            err = setup_one(c, &p->tx, &p->txq, p->tx_slots, LVIO_CONSOLE_TX_SLOTS, BUF, false,
                            (uint16_t)(rx_queue(i) + 1u));
        if (err == LVIO_OK)
            p->usable = true;
    }
    if (err) {
        err = lvio_device_reset_after(c->dev, err);
        console_free_queues(c);
    }
    return err;
}

/* Every receive buffer posted (no notify: not before DRIVER_OK). */
static int console_post_all(struct lvio_console *c)
{
    int err = c->multiport ? post_free(&c->c_rx, LVIO_CONSOLE_CTRL_BUF, false) : LVIO_OK;
    for (unsigned i = 0; i < c->nusable && err == LVIO_OK; i++)
        err = post_free(&c->ports[i].rx, BUF, false);
    return err;
}

static int console_kick_all(struct lvio_console *c)
{
    int err = c->multiport ? lvio_vq_kick(&c->c_rxq) : LVIO_OK;
    for (unsigned i = 0; i < c->nusable && err == LVIO_OK; i++)
        err = lvio_vq_kick(&c->ports[i].rxq);
    return err;
}

/* Negotiate, read the configuration, queues, buffers, DRIVER_OK, then
 * DEVICE_READY (MULTIPORT); FAILED on error. */
static int console_bring_up(struct lvio_console *c)
{
    struct lvio_device *dev = c->dev;
    for (unsigned i = 0; i < c->nports; i++) {
        memset(&c->ports[i], 0, sizeof c->ports[i]);
        c->ports[i].id = i;
    }
    int err = lvio_device_begin(dev, CONSOLE_FEATURES);
    if (err)
        return err;
    c->multiport = feature(c, LVIO_VIRTIO_CONSOLE_F_MULTIPORT);
    c->has_size = feature(c, LVIO_VIRTIO_CONSOLE_F_SIZE);
    c->emerg = lvio_has_feature(dev->features_offered, LVIO_VIRTIO_CONSOLE_F_EMERG_WRITE);
    err = console_read_config(c);
    if (err)
        goto fail;
    err = console_setup_queues(c);
    if (err)
        goto fail;
    err = console_post_all(c);
    if (err == LVIO_OK)
        err = lvio_device_driver_ok(dev);
    if (err == LVIO_OK)
        err = console_kick_all(c);
    if (err)
        goto teardown_queues;
    c->up = true;
    if (!c->multiport) { /* port 0 is there, open both ways (QEMU: from DRIVER_OK) */
        struct lvio_console_port *p = &c->ports[0];
        p->present = p->host_open = p->guest_open = true;
        p->adds = 1;
        event(c, LVIO_CONSOLE_EV_PORT_ADDED, 0, 0, 0);
        return LVIO_OK;
    }
    c->owe_device_ready = true;
    err = ctrl_send_owed(c);
    if (err)
        goto teardown_queues;
    return LVIO_OK;

teardown_queues:
    c->up = false;
    err = lvio_device_reset_after(dev, err); /* the device lets go of the rings first */
    console_free_queues(c);
fail:
    lvio_device_fail(dev);
    return err;
}

int lvio_console_init(struct lvio_console *c, struct lvio_device *dev,
                      struct lvio_console_port *ports, unsigned nports)
{
    if (!c || !lvio_device_valid(dev) || !ports || nports == 0)
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_CONSOLE)
        return lvio_fail(dev, LVIO_E_INVAL, "console: device id %u is not a console",
                         dev->device_id);
    memset(c, 0, sizeof *c);
    c->dev = dev;
    c->ports = ports;
    c->nports = nports;
    return console_bring_up(c);
}

/* ---- teardown and reset ------------------------------------------------------------------- */

/* Reset the device, give back the queues, every port gone. */
static void console_down(struct lvio_console *c)
{
    if (!c->up)
        return;
    c->up = false;
    lvio_device_reset(c->dev);
    console_free_queues(c);
    for (unsigned i = 0; i < c->nports; i++) {
        struct lvio_console_port *p = &c->ports[i];
        p->present = p->host_open = p->guest_open = false;
        p->owed = 0;
        p->rx_off = 0;
    }
}

void lvio_console_teardown(struct lvio_console *c)
{
    if (c && lvio_device_valid(c->dev) && c->ports)
        console_down(c);
}

int lvio_console_reset(struct lvio_console *c)
{
    if (!c || !lvio_device_valid(c->dev) || !c->ports || c->nports == 0)
        return LVIO_E_INVAL;
    console_down(c);
    struct lvio_device *dev = c->dev;
    struct lvio_console_port *ports = c->ports;
    unsigned nports = c->nports;
    uint32_t resets = c->resets;
    memset(c, 0, sizeof *c);
    c->dev = dev;
    c->ports = ports;
    c->nports = nports;
    c->resets = resets + 1;
    return console_bring_up(c);
}

/* ---- the calls on a port ---------------------------------------------------------------------- */

/* Port `port` of an initialised console, with queues. */
static int port_get(struct lvio_console *c, unsigned port, struct lvio_console_port **p)
{
    if (!c || !lvio_device_valid(c->dev) || !c->ports || port >= c->nports)
        return LVIO_E_INVAL;
    if (!c->up)
        return lvio_fail(c->dev, LVIO_E_STATE, "console: not up (torn down, or a reset "
                         "failed)");
    if (!c->ports[port].usable)
        return lvio_fail(c->dev, LVIO_E_STATE, "console: port %u has no queues (%u of %u "
                         "ports usable: max_nr_ports %u)", port, c->nusable, c->nports,
                         c->max_nr_ports);
    *p = &c->ports[port];
    return LVIO_OK;
}

static int not_present(struct lvio_console *c, unsigned port)
{
    return lvio_fail(c->dev, LVIO_E_STATE, "console: port %u is not present", port);
}

int lvio_console_read(struct lvio_console *c, unsigned port, void *buf, size_t len)
{
    struct lvio_console_port *p = NULL;
    int err = port_get(c, port, &p);
    if (err)
        return err;
    if ((!buf && len) || len > INT32_MAX)
        return LVIO_E_INVAL;
    err = rx_take(c, p);
    if (err < 0)
        return err;
    if (!p->present)
        return not_present(c, port);
    uint8_t *out = buf;
    size_t got = 0;
    int s;
    while (got < len && (s = lvio_reqs_next_done(&p->rx)) >= 0) {
        const struct lvio_req_slot *sl = &p->rx_slots[s];
        const uint8_t *src = lvio_req_buf(&p->rx, (unsigned)s);
        uint32_t left = sl->len - p->rx_off;
        uint32_t take = len - got < left ? (uint32_t)(len - got) : left;
        memcpy(out + got, src + p->rx_off, take);
        got += take;
        p->rx_off += take;
        if (p->rx_off == sl->len) { /* read to its end: the device's again */
            lvio_reqs_put(&p->rx, (unsigned)s);
            p->rx_off = 0;
        }
    }
    p->rx_bytes += got;
    err = post_free(&p->rx, BUF, true);
    return got || err >= 0 ? (int)got : err;
}

int lvio_console_write_nb(struct lvio_console *c, unsigned port, const void *buf, size_t len)
{
    struct lvio_console_port *p = NULL;
    int err = port_get(c, port, &p);
    if (err)
        return err;
    if ((!buf && len) || len > INT32_MAX)
        return LVIO_E_INVAL;
    if (!p->present)
        return not_present(c, port);
    if (len == 0)
        return 0;
    err = tx_reap(p);
    if (err)
        return err;
    const uint8_t *src = buf;
    struct lvio_req batch[POST_BATCH];
    unsigned n = 0, room = lvio_vq_num_free(&p->txq), sent = 0;
    size_t done = 0;
    for (unsigned s = 0; s < LVIO_CONSOLE_TX_SLOTS && done < len && sent + n < room; s++) {
        if (p->tx_slots[s].state != LVIO_REQ_FREE)
            continue;
        uint32_t take = len - done < BUF ? (uint32_t)(len - done) : BUF;
        memcpy(lvio_req_buf(&p->tx, s), src + done, take);
        p->tx_len[s] = take;
        batch[n++] = (struct lvio_req){.slot = s, .req_len = take};
        done += take;
        if (n == POST_BATCH) {
            err = lvio_reqs_add(&p->tx, batch, n);
            if (err)
                return err;
            sent += n;
            n = 0;
        }
    }
    if (n)
        err = lvio_reqs_add(&p->tx, batch, n);
    if (err == LVIO_OK)
        err = lvio_vq_kick(&p->txq);
    if (err)
        return err;
    if (done == 0)
        return LVIO_E_AGAIN; /* every buffer still with the device */
    p->tx_bytes += done;
    return (int)done;
}

int lvio_console_write(struct lvio_console *c, unsigned port, const void *buf, size_t len,
                       uint64_t timeout_ns)
{
    struct lvio_console_port *p = NULL;
    struct lvio_deadline d;
    int err = port_get(c, port, &p);
    if (err)
        return err;
    if ((!buf && len) || len > INT32_MAX)
        return LVIO_E_INVAL;
    const uint8_t *src = buf;
    size_t done = 0;
    lvio_deadline_start(&d, c->dev->hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        int n = lvio_console_write_nb(c, port, src + done, len - done);
        if (n < 0 && n != LVIO_E_AGAIN)
            return done ? (int)done : n;
        if (n > 0)
            done += (size_t)n;
        if (done == len)
            return (int)len;
        if (timeout_ns == 0)
            return done ? (int)done : LVIO_E_AGAIN;
        err = console_service(c);
        if (err == LVIO_OK && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(c->dev);
        if (err < 0)
            return done ? (int)done : err;
        if (lvio_deadline_passed(&d, c->dev->hal))
            break;
    }
    if (done)
        return (int)done;
    char what[48];
    lvio_snprintf(what, sizeof what, "console: write to port %u: ", port);
    return lvio_vq_timeout(&p->txq, &d, what);
}

int lvio_console_flush(struct lvio_console *c, unsigned port, uint64_t timeout_ns)
{
    struct lvio_console_port *p = NULL;
    struct lvio_deadline d;
    int err = port_get(c, port, &p);
    if (err)
        return err;
    lvio_deadline_start(&d, c->dev->hal, timeout_ns);
    for (uint32_t polls = 1;; polls++) {
        err = console_service(c);
        if (err == LVIO_OK && polls % LVIO_STATUS_CHECK_INTERVAL == 0)
            err = lvio_device_check(c->dev);
        if (err < 0)
            return err;
        if (lvio_console_tx_pending(c, port) == 0)
            return LVIO_OK;
        if (lvio_deadline_passed(&d, c->dev->hal))
            break;
    }
    char what[48];
    lvio_snprintf(what, sizeof what, "console: flush of port %u: ", port);
    return lvio_vq_timeout(&p->txq, &d, what);
}

int lvio_console_open(struct lvio_console *c, unsigned port, bool open)
{
    struct lvio_console_port *p = NULL;
    int err = port_get(c, port, &p);
    if (err)
        return err;
    if (!c->multiport)
        return LVIO_OK; /* nothing to tell: port 0 is open */
    if (!p->present)
        return not_present(c, port);
    p->guest_open = open;
    p->open_value = open;
    p->owed |= OWE_OPEN;
    return ctrl_send_owed(c);
}

int lvio_console_emerg_write(struct lvio_console *c, char ch)
{
    if (!c || !lvio_device_valid(c->dev))
        return LVIO_E_INVAL;
    if (!c->emerg)
        return LVIO_E_UNSUPPORTED;
    uint32_t v = lvio_cpu_to_dev32(c->dev, (uint8_t)ch);
    return lvio_config_write(c->dev, CFG(emerg_wr), &v, sizeof v);
}

struct lvio_console_port *lvio_console_port_by_name(struct lvio_console *c, const char *name)
{
    if (!c || !c->ports || !name)
        return NULL;
    for (unsigned i = 0; i < c->nusable; i++) {
        struct lvio_console_port *p = &c->ports[i];
        unsigned k = 0;
        if (!p->present || !p->name[0])
            continue;
        while (k < LVIO_CONSOLE_NAME_MAX && p->name[k] && p->name[k] == name[k])
            k++;
        if (k < LVIO_CONSOLE_NAME_MAX && p->name[k] == '\0' && name[k] == '\0')
            return p;
    }
    return NULL;
}

#else
typedef int lvio_console_left_out; /* ISO C wants a declaration */
#endif
