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
 * Control messages (console_ctrl.c) to the device wait in the driver
 * (flags on the port, never a queue that could overflow) until a control
 * transmit buffer is free. QEMU answers a PORT_READY at once with up to
 * three messages (CONSOLE_PORT, PORT_NAME, PORT_OPEN) and drops any it
 * finds no receive buffer for, so a PORT_READY goes only when the control
 * receive buffers posted leave room for the answers of every message
 * still in flight.
 */
#include "lvio/config.h"
#if LVIO_WITH_CONSOLE /* else left out: lvio/config.h */

#include "console_internal.h"

#define CTRL_TX_SLOT 8u /* one message, the slot size a multiple of 8 */
#define BUF LVIO_CONSOLE_BUF
#define CFG(field) ((uint32_t)offsetof(struct lvio_virtio_console_config, field))
/* Queue indexes are 16 bits: port n's are 2n + 2 and 2n + 3. */
#define MAX_PORTS 32766u
/* Buffers posted in one batch. */
#define POST_BATCH 8u

#define CONSOLE_FEATURES                                                                \
    ((1ull << LVIO_VIRTIO_CONSOLE_F_SIZE) | (1ull << LVIO_VIRTIO_CONSOLE_F_MULTIPORT) | \
     (1ull << LVIO_VIRTIO_CONSOLE_F_EMERG_WRITE))

_Static_assert(BUF % 8 == 0 && BUF >= 8 && BUF <= 65536, "console buffers: 8..65536, whole words");
_Static_assert(LVIO_CONSOLE_RX_SLOTS >= 1 && LVIO_CONSOLE_TX_SLOTS >= 1 &&
                   LVIO_CONSOLE_CTRL_SLOTS >= 1 && LVIO_CONSOLE_CTRL_TX_SLOTS >= 1,
               "at least one buffer of each kind");
_Static_assert(LVIO_CONSOLE_RX_SLOTS <= 65535 && LVIO_CONSOLE_TX_SLOTS <= 65535 &&
                   LVIO_CONSOLE_CTRL_SLOTS <= 65535 && LVIO_CONSOLE_CTRL_TX_SLOTS <= 65535,
               "a queue size is 16 bits");
_Static_assert(LVIO_CONSOLE_NAME_MAX >= 2, "a name of one byte at least");

/* ---- small helpers ------------------------------------------------------------------------ */

static uint16_t rx_queue(unsigned id)
{
    return id == 0 ? LVIO_VIRTIO_CONSOLE_PORT0_RX : (uint16_t)(2u * id + 2u);
}

static bool feature(const struct lvio_console *c, unsigned bit)
{
    return lvio_has_feature(c->dev->features_accepted, bit);
}

int lvio_console_post(struct lvio_reqs *r, uint32_t size, bool kick)
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

void lvio_console_rx_drop(struct lvio_console *c, struct lvio_console_port *p)
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
        lvio_console_rx_drop(c, p);
    return err;
}

/* Port `port` if it has queues, else NULL: for the calls that only look. */
static const struct lvio_console_port *port_look(const struct lvio_console *c, unsigned port)
{
    if (!c || !c->ports || port >= c->nports || !c->ports[port].usable)
        return NULL;
    return &c->ports[port];
}

size_t lvio_console_readable(const struct lvio_console *c, unsigned port)
{
    size_t n = 0;
    const struct lvio_console_port *p = port_look(c, port);
    for (unsigned s = 0; p && s < LVIO_CONSOLE_RX_SLOTS; s++)
        if (p->rx_slots[s].state == LVIO_REQ_DONE && !p->rx_slots[s].overlong)
            n += p->rx_slots[s].len;
    return p && p->present ? n - p->rx_off : 0;
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
    const struct lvio_console_port *p = port_look(c, port);
    for (unsigned s = 0; p && s < LVIO_CONSOLE_TX_SLOTS; s++)
        if (p->tx_slots[s].state == LVIO_REQ_BUSY)
            n += p->tx_len[s];
    return n;
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
            e = lvio_console_post(&p->rx, BUF, true);
        if (e >= 0)
            e = tx_reap(p);
        if (e < 0 && err == LVIO_OK)
            err = e;
    }
    if (c->multiport) {
        int e = lvio_console_ctrl_service(c);
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
        lvio_console_port_resize(c, p, cols, rows);
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
    int err = c->multiport ? lvio_console_post(&c->c_rx, LVIO_CONSOLE_CTRL_BUF, false) : LVIO_OK;
    for (unsigned i = 0; i < c->nusable && err == LVIO_OK; i++)
        err = lvio_console_post(&c->ports[i].rx, BUF, false);
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
        lvio_console_event_add(c, LVIO_CONSOLE_EV_PORT_ADDED, 0, 0, 0);
        return LVIO_OK;
    }
    c->owe_device_ready = true;
    err = lvio_console_ctrl_send_owed(c);
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

/* Port `port` of an initialised console, with queues; NULL with the
 * error in *err otherwise. */
static struct lvio_console_port *port_get(struct lvio_console *c, unsigned port, int *err)
{
    if (!c || !lvio_device_valid(c->dev) || !c->ports || port >= c->nports) {
        *err = LVIO_E_INVAL;
        return NULL;
    }
    if (!c->up || !c->ports[port].usable) {
        if (!c->up)
            lvio_fail(c->dev, LVIO_E_STATE, "console: not up (torn down, or a reset failed)");
        else
            lvio_fail(c->dev, LVIO_E_STATE, "console: port %u has no queues (%u of %u ports "
                      "usable: max_nr_ports %u)", port, c->nusable, c->nports,
                      c->max_nr_ports);
        *err = LVIO_E_STATE;
        return NULL;
    }
    *err = LVIO_OK;
    return &c->ports[port];
}

/* Port `port` for a read or write of `len` bytes at `buf`: as port_get,
 * and the buffer checked. */
static struct lvio_console_port *port_io(struct lvio_console *c, unsigned port, const void *buf,
                                         size_t len, int *err)
{
    struct lvio_console_port *p = port_get(c, port, err);
    if (p && ((!buf && len) || len > INT32_MAX)) {
        *err = LVIO_E_INVAL;
        return NULL;
    }
    return p;
}

static int not_present(struct lvio_console *c, unsigned port)
{
    return lvio_fail(c->dev, LVIO_E_STATE, "console: port %u is not present", port);
}

int lvio_console_read(struct lvio_console *c, unsigned port, void *buf, size_t len)
{
    int err;
    struct lvio_console_port *p = port_io(c, port, buf, len, &err);
    if (!p)
        return err;
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
    err = lvio_console_post(&p->rx, BUF, true);
    return got || err >= 0 ? (int)got : err;
}

int lvio_console_write_nb(struct lvio_console *c, unsigned port, const void *buf, size_t len)
{
    int err;
    struct lvio_console_port *p = port_io(c, port, buf, len, &err);
    if (!p)
        return err;
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
    struct lvio_deadline d;
    int err;
    struct lvio_console_port *p = port_io(c, port, buf, len, &err);
    if (!p)
        return err;
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
    struct lvio_deadline d;
    int err;
    struct lvio_console_port *p = port_get(c, port, &err);
    if (!p)
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
    int err;
    struct lvio_console_port *p = port_get(c, port, &err);
    if (!p)
        return err;
    if (!c->multiport)
        return LVIO_OK; /* nothing to tell: port 0 is open */
    if (!p->present)
        return not_present(c, port);
    p->guest_open = open;
    p->open_value = open;
    p->owed |= LVIO_CONSOLE_OWE_OPEN;
    return lvio_console_ctrl_send_owed(c);
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
