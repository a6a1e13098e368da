/* The simulated virtio-console described in sim_console.h. */
#include "sim_console.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_mmio.h"
#include "lvio/spec/virtio_ring.h"

#define CFG(field) offsetof(struct lvio_virtio_console_config, field)
#define HDR 8u

static struct sim_console *con_of(struct sim *s)
{
    return (struct sim_console *)(void *)s; /* the union is first, its sim at offset 0 */
}

static bool negotiated(const struct sim_console *c, unsigned bit)
{
    return (c->s->driver_features >> bit) & 1;
}

static bool multiport(const struct sim_console *c)
{
    return negotiated(c, LVIO_VIRTIO_CONSOLE_F_MULTIPORT);
}

static bool legacy(const struct sim_console *c)
{
    return c->s->version == 1;
}

/* Values in the device's order (legacy: the guest's, here the host's). */
static void put16(const struct sim_console *c, uint8_t *p, uint16_t v)
{
    if (!legacy(c))
        v = lvio_cpu_to_le16(v);
    memcpy(p, &v, 2);
}

static void put32(const struct sim_console *c, uint8_t *p, uint32_t v)
{
    if (!legacy(c))
        v = lvio_cpu_to_le32(v);
    memcpy(p, &v, 4);
}

static uint16_t get16(const struct sim_console *c, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return legacy(c) ? v : lvio_le16_to_cpu(v);
}

static uint32_t get32(const struct sim_console *c, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return legacy(c) ? v : lvio_le32_to_cpu(v);
}

static bool running(const struct sim_console *c)
{
    return (c->s->status & LVIO_VIRTIO_STATUS_DRIVER_OK) != 0;
}

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    *buf = realloc(*buf, n);
    assert_non_null(*buf);
    *cap = n;
}

/* ---- chains ------------------------------------------------------------------------------ */

/* The chain's buffers all go one way (`writable`); their bytes. */
static uint32_t chain_bytes(struct sim_console *c, uint16_t queue, uint16_t head, bool writable,
                            unsigned *nbufs)
{
    uint64_t addr;
    uint32_t len, total = 0;
    uint16_t flags;
    unsigned i = 0;
    for (; sim_chain_buf(c->s, queue, head, i, &addr, &len, &flags); i++) {
        if (((flags & LVIO_VIRTQ_DESC_F_WRITE) != 0) != writable)
            sim_error(c->s, "console queue %u: a %s buffer in a chain the device %s", queue,
                      writable ? "device-readable" : "device-writable",
                      writable ? "writes" : "reads");
        total += len;
    }
    *nbufs = i;
    return total;
}

/* Copy `n` bytes into (write) or out of the chain's buffers, from its start. */
static void chain_copy(struct sim_console *c, uint16_t queue, uint16_t head, void *data,
                       uint32_t n, bool write)
{
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint8_t *p = data;
    for (unsigned i = 0; n && sim_chain_buf(c->s, queue, head, i, &addr, &len, &flags); i++) {
        uint32_t k = len < n ? len : n;
        if (write)
            sim_dev_write(c->s, addr, p, k);
        else
            sim_dev_read(c->s, addr, p, k);
        p += k;
        n -= k;
    }
}

/* ---- control messages to the guest ----------------------------------------------------------- */

/* Write pending messages into the control buffers the guest posted. */
static void ctrl_flush(struct sim_console *c)
{
    while (c->npend && c->ncrx) {
        struct sim_console_pending *m = &c->pend[0];
        uint16_t head = c->crx[0];
        unsigned nbufs;
        memmove(c->crx, c->crx + 1, --c->ncrx * sizeof c->crx[0]);
        uint32_t room = chain_bytes(c, LVIO_VIRTIO_CONSOLE_CTRL_RX, head, true, &nbufs);
        uint32_t n = m->len < room ? m->len : room; /* QEMU cuts what does not fit */
        chain_copy(c, LVIO_VIRTIO_CONSOLE_CTRL_RX, head, m->b, n, true);
        sim_complete(c->s, LVIO_VIRTIO_CONSOLE_CTRL_RX, head,
                     m->used_len >= 0 ? (uint32_t)m->used_len : m->len);
        c->ctrl_sent++;
        memmove(c->pend, c->pend + 1, --c->npend * sizeof c->pend[0]);
    }
}

void sim_console_send_raw(struct sim_console *c, const void *msg, uint32_t len, int64_t used_len)
{
    assert_true(len <= SIM_CONSOLE_MSG);
    if (!running(c) || (!c->ncrx && !c->queue_ctrl) || c->npend == SIM_CONSOLE_PENDING) {
        c->ctrl_dropped++; /* QEMU: no buffer, the message is lost */
        return;
    }
    struct sim_console_pending *m = &c->pend[c->npend++];
    memcpy(m->b, msg, len);
    m->len = len;
    m->used_len = used_len;
    ctrl_flush(c);
}

void sim_console_send_event(struct sim_console *c, uint32_t id, uint16_t event, uint16_t value)
{
    uint8_t m[HDR];
    put32(c, m, id);
    put16(c, m + 4, event);
    put16(c, m + 6, value);
    sim_console_send_raw(c, m, HDR, -1);
}

static void send_name(struct sim_console *c, unsigned id)
{
    uint8_t m[SIM_CONSOLE_MSG];
    size_t n = strlen(c->port[id].name);
    if (n + 1 > SIM_CONSOLE_MSG - HDR)
        n = SIM_CONSOLE_MSG - HDR - 1;
    put32(c, m, id);
    put16(c, m + 4, LVIO_VIRTIO_CONSOLE_PORT_NAME);
    put16(c, m + 6, 1);
    memcpy(m + HDR, c->port[id].name, n);
    m[HDR + n] = 0; /* QEMU sends the NUL */
    sim_console_send_raw(c, m, (uint32_t)(HDR + n + 1), -1);
}

/* ---- data ------------------------------------------------------------------------------------ */

static uint16_t port_rx_queue(unsigned id)
{
    return id == 0 ? 0 : (uint16_t)(2 * id + 2);
}

/* The host may write to the port now. */
static bool can_write(const struct sim_console *c, const struct sim_console_port *p)
{
    return running(c) && p->plugged && p->host_open && (!multiport(c) || p->guest_open);
}

/* Host bytes into the receive buffers posted, oldest first. */
static void pump(struct sim_console *c, unsigned id)
{
    struct sim_console_port *p = &c->port[id];
    uint16_t q = port_rx_queue(id);
    while (p->out_off < p->out_len && p->nrx && can_write(c, p)) {
        uint16_t head = p->rx[0];
        unsigned nbufs;
        memmove(p->rx, p->rx + 1, --p->nrx * sizeof p->rx[0]);
        uint32_t room = chain_bytes(c, q, head, true, &nbufs);
        size_t left = p->out_len - p->out_off;
        uint32_t n = left < room ? (uint32_t)left : room;
        chain_copy(c, q, head, p->out + p->out_off, n, true);
        p->out_off += n;
        p->delivered += n;
        sim_complete(c->s, q, head, c->rx_used_len >= 0 ? (uint32_t)c->rx_used_len : n);
    }
    if (p->out_off == p->out_len)
        p->out_off = p->out_len = 0;
}

/* What the guest sent on port `id`: the host takes it, or drops it. */
static void consume(struct sim_console *c, unsigned id, const uint8_t *data, uint32_t n)
{
    struct sim_console_port *p = &c->port[id];
    if (!p->plugged || !p->host_open) { /* QEMU discards it */
        p->discarded += n;
        return;
    }
    grow(&p->in, &p->in_cap, p->in_len + n);
    memcpy(p->in + p->in_len, data, n);
    p->in_len += n;
}

/* Transmit chain `head` of port `id`: consumed, or dropped (`discard`). */
static void tx_chain(struct sim_console *c, unsigned id, uint16_t head, bool discard)
{
    uint16_t q = (uint16_t)(port_rx_queue(id) + 1);
    unsigned nbufs;
    uint32_t n = chain_bytes(c, q, head, false, &nbufs);
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    chain_copy(c, q, head, buf, n, false);
    if (discard)
        c->port[id].discarded += n;
    else
        consume(c, id, buf, n);
    free(buf);
}

/* Every transmit chain held on port `id`, back (consumed or discarded). */
static void tx_release(struct sim_console *c, unsigned id, bool discard)
{
    struct sim_console_port *p = &c->port[id];
    uint16_t q = (uint16_t)(port_rx_queue(id) + 1);
    for (unsigned i = 0; i < p->ntx; i++) {
        tx_chain(c, id, p->tx[i], discard);
        sim_complete(c->s, q, p->tx[i], 0);
    }
    p->ntx = 0;
}

void sim_console_tx_release(struct sim_console *c, unsigned id)
{
    tx_release(c, id, false);
}

/* ---- control messages from the guest --------------------------------------------------------- */

static void replies(struct sim_console *c, unsigned id)
{
    struct sim_console_port *p = &c->port[id];
    for (unsigned k = 0; k < 3 && !c->no_replies; k++) {
        static const uint8_t order[3][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}};
        switch (order[c->reply_order % 3][k]) {
        case 0:
            if (p->is_console)
                sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_CONSOLE_PORT, 1);
            break;
        case 1:
            if (p->name[0])
                send_name(c, id);
            break;
        default:
            if (p->host_open)
                sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_PORT_OPEN, 1);
            break;
        }
    }
}

static void device_ready(struct sim_console *c, uint16_t value)
{
    if (c->device_readies++)
        sim_error(c->s, "console: DEVICE_READY again without a reset");
    if (!value)
        return;
    for (unsigned seq = 0; seq < c->plugs; seq++)
        for (unsigned id = 0; id < SIM_CONSOLE_PORTS; id++)
            if (c->port[id].plugged && c->port[id].plug_seq == seq)
                sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_DEVICE_ADD, 1);
}

static void guest_message(struct sim_console *c, const uint8_t *m, uint32_t len)
{
    if (len < HDR) {
        sim_error(c->s, "console: a control message of %u bytes", len);
        return;
    }
    uint32_t id = get32(c, m);
    uint16_t ev = get16(c, m + 4), value = get16(c, m + 6);
    if (c->nlog < SIM_CONSOLE_LOG)
        c->log[c->nlog++] = (struct sim_console_msg){id, ev, value, len};
    if (ev == LVIO_VIRTIO_CONSOLE_DEVICE_READY) {
        device_ready(c, value);
        return;
    }
    if (ev != LVIO_VIRTIO_CONSOLE_PORT_READY && ev != LVIO_VIRTIO_CONSOLE_PORT_OPEN) {
        sim_error(c->s, "console: the guest sent event %u", ev);
        return;
    }
    if (id >= c->max_nr_ports) {
        sim_error(c->s, "console: event %u for port %u, past max_nr_ports %u", ev, id,
                  c->max_nr_ports);
        return;
    }
    if (id >= SIM_CONSOLE_PORTS || !c->port[id].plugged) {
        c->stale_msgs++; /* QEMU: "Unexpected port id" */
        return;
    }
    struct sim_console_port *p = &c->port[id];
    if (ev == LVIO_VIRTIO_CONSOLE_PORT_READY) {
        if (!value) {
            p->refused = true;
            return;
        }
        p->ready = true;
        replies(c, id);
        return;
    }
    if (!p->ready)
        sim_error(c->s, "console: PORT_OPEN for port %u before its PORT_READY", id);
    p->guest_open = value != 0;
    pump(c, id);
}

/* ---- the handler ------------------------------------------------------------------------------ */

static void hold(struct sim_console *c, uint16_t *fifo, unsigned *n, uint16_t head)
{
    if (*n == SIM_CONSOLE_HELD) {
        sim_error(c->s, "console: more than %u buffers held", SIM_CONSOLE_HELD);
        return;
    }
    fifo[(*n)++] = head;
    c->s->take_this = true;
}

static uint32_t console_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    struct sim_console *c = con_of(s);
    unsigned nbufs;
    if (queue == LVIO_VIRTIO_CONSOLE_CTRL_RX || queue == LVIO_VIRTIO_CONSOLE_CTRL_TX) {
        if (!multiport(c))
            sim_error(s, "console: control queue %u used without MULTIPORT", queue);
        bool rx = queue == LVIO_VIRTIO_CONSOLE_CTRL_RX;
        uint32_t n = chain_bytes(c, queue, head, rx, &nbufs);
        if (legacy(c) && nbufs != 1)
            sim_error(s, "console: a legacy control chain of %u buffers", nbufs);
        if (rx) {
            if (n < HDR)
                sim_error(s, "console: a control receive buffer of %u bytes", n);
            hold(c, c->crx, &c->ncrx, head);
            ctrl_flush(c);
            return 0;
        }
        if (c->ctrl_hold) {
            hold(c, c->ctx, &c->nctx, head);
            return 0;
        }
        uint8_t m[SIM_CONSOLE_MSG];
        if (n > sizeof m) {
            sim_error(s, "console: a control message of %u bytes", n);
            return 0;
        }
        chain_copy(c, queue, head, m, n, false);
        guest_message(c, m, n);
        return 0;
    }
    unsigned id = queue < 2 ? 0 : (queue - 2u) / 2u;
    if (id >= SIM_CONSOLE_PORTS) {
        sim_error(s, "console: queue %u", queue);
        return 0;
    }
    struct sim_console_port *p = &c->port[id];
    if (queue % 2 == 0) { /* receive */
        chain_bytes(c, queue, head, true, &nbufs);
        hold(c, p->rx, &p->nrx, head);
        pump(c, id);
        return 0;
    }
    chain_bytes(c, queue, head, false, &nbufs);
    if (c->tx_hold && p->plugged && p->host_open) {
        hold(c, p->tx, &p->ntx, head);
        return 0;
    }
    tx_chain(c, id, head, false);
    return 0;
}

void sim_console_ctrl_release(struct sim_console *c)
{
    uint16_t q = LVIO_VIRTIO_CONSOLE_CTRL_TX;
    while (c->nctx) {
        uint16_t head = c->ctx[0];
        unsigned nbufs;
        uint8_t m[SIM_CONSOLE_MSG];
        memmove(c->ctx, c->ctx + 1, --c->nctx * sizeof c->ctx[0]);
        uint32_t n = chain_bytes(c, q, head, false, &nbufs);
        if (n > sizeof m)
            n = sizeof m;
        chain_copy(c, q, head, m, n, false);
        guest_message(c, m, n);
        sim_complete(c->s, q, head, 0);
    }
}

/* A reset: the guest's side forgotten (QEMU's guest_reset), the host's kept. */
static void console_reset(struct sim *s)
{
    struct sim_console *c = con_of(s);
    c->ncrx = 0;
    c->nctx = 0;
    c->npend = 0;
    c->device_readies = 0;
    for (unsigned i = 0; i < SIM_CONSOLE_PORTS; i++) {
        struct sim_console_port *p = &c->port[i];
        p->nrx = p->ntx = 0;
        p->ready = p->refused = p->guest_open = false;
    }
}

/* The emergency write: the lower byte of emerg_wr. */
static void console_config_write(struct sim *s, uint32_t off, unsigned width, uint32_t v)
{
    struct sim_console *c = con_of(s);
    if (off != CFG(emerg_wr) || width != 4) {
        sim_error(s, "console: config write of %u bytes at 0x%x", width, off);
        return;
    }
    if (!((s->features >> LVIO_VIRTIO_CONSOLE_F_EMERG_WRITE) & 1)) {
        sim_error(s, "console: emergency write not offered");
        return;
    }
    uint8_t ch = (uint8_t)v; /* sim.c hands values in CPU order */
    if (c->nemerg < sizeof c->emerg - 1)
        c->emerg[c->nemerg++] = (char)ch;
    for (unsigned i = 0; i < SIM_CONSOLE_PORTS; i++)
        if (c->port[i].plugged && c->port[i].is_console && c->port[i].host_open) {
            consume(c, i, &ch, 1);
            break;
        }
}

/* ---- the test's side ---------------------------------------------------------------------------- */

void sim_console_apply(struct sim_console *c)
{
    uint8_t *cfg = c->s->config;
    memset(cfg, 0, 12);
    put16(c, cfg + CFG(cols), c->cols);
    put16(c, cfg + CFG(rows), c->rows);
    put32(c, cfg + CFG(max_nr_ports), c->max_nr_ports);
}

void sim_console_init(struct sim_console *c, enum sim_bus bus, uint32_t max_ports,
                      bool mp)
{
    memset(c, 0, sizeof *c);
    c->bus = bus;
    if (bus == SIM_BUS_PCI || bus == SIM_BUS_PCI_LEGACY)
        sim_pci_init(&c->u.pci, bus == SIM_BUS_PCI ? SIM_PCI_MODERN : SIM_PCI_LEGACY,
                     LVIO_VIRTIO_ID_CONSOLE);
    else
        sim_init(&c->u.sim, bus == SIM_BUS_MMIO1 ? 1 : 2, LVIO_VIRTIO_ID_CONSOLE);
    c->s = &c->u.sim;
    c->s->handler = console_handler;
    c->s->on_reset = console_reset;
    c->s->config_write = console_config_write;
    c->s->features |= 1ull << LVIO_VIRTIO_CONSOLE_F_EMERG_WRITE;
    if (mp)
        c->s->features |= 1ull << LVIO_VIRTIO_CONSOLE_F_MULTIPORT;
    c->max_nr_ports = mp ? max_ports : 1;
    c->rx_used_len = -1;
    for (unsigned q = 0; q < SIM_MAX_QUEUES; q++) {
        unsigned id = q < 2 ? 0 : (q - 2) / 2;
        bool ctrl = q == 2 || q == 3;
        bool exists = q < 2 || (mp && (ctrl || (q >= 4 && id < max_ports)));
        c->s->q[q].num_max = !exists ? 0 : ctrl ? 32 : 128;
    }
    /* No MULTIPORT: the host side of port 0 is there and open. */
    if (!mp) {
        c->port[0].plugged = true;
        c->port[0].host_open = true;
        c->port[0].is_console = true;
        c->plugs = 1;
    }
    sim_console_apply(c);
}

void sim_console_offer(struct sim_console *c, unsigned bit, bool on)
{
    if (on)
        c->s->features |= 1ull << bit;
    else
        c->s->features &= ~(1ull << bit);
}

void sim_console_probe(struct sim_console *c, struct lvio_device *dev)
{
    if (c->bus == SIM_BUS_PCI || c->bus == SIM_BUS_PCI_LEGACY)
        assert_int_equal(sim_pci_probe(&c->u.pci, dev), 0);
    else
        sim_probe(c->s, dev);
}

void sim_console_config_change(struct sim_console *c)
{
    if (c->bus == SIM_BUS_PCI || c->bus == SIM_BUS_PCI_LEGACY) {
        sim_pci_config_change(&c->u.pci);
    } else {
        c->s->generation++;
        c->s->isr |= LVIO_VIRTIO_MMIO_INT_CONFIG;
    }
}

void sim_console_resize(struct sim_console *c, uint16_t cols, uint16_t rows)
{
    c->cols = cols;
    c->rows = rows;
    sim_console_apply(c);
    sim_console_config_change(c);
}

void sim_console_plug(struct sim_console *c, unsigned id, const char *name, bool is_console)
{
    assert_true(id < SIM_CONSOLE_PORTS && id < c->max_nr_ports);
    struct sim_console_port *p = &c->port[id];
    assert_false(p->plugged);
    p->plugged = true;
    p->plug_seq = c->plugs++;
    p->is_console = is_console;
    p->host_open = false;
    p->ready = p->refused = p->guest_open = false;
    snprintf(p->name, sizeof p->name, "%s", name);
    if (running(c) && multiport(c)) {
        sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_DEVICE_ADD, 1);
        sim_console_config_change(c);
    }
}

void sim_console_unplug(struct sim_console *c, unsigned id)
{
    assert_true(id < SIM_CONSOLE_PORTS);
    struct sim_console_port *p = &c->port[id];
    assert_true(p->plugged);
    tx_release(c, id, true); /* "flush out any unconsumed buffers first" */
    p->plugged = false;
    p->host_open = p->ready = p->guest_open = false;
    p->discarded += p->out_len - p->out_off; /* the host's unsent bytes go with it */
    p->out_len = p->out_off = 0;
    /* The plug order of the others stays; this one's is forgotten. */
    for (unsigned i = 0; i < SIM_CONSOLE_PORTS; i++)
        if (c->port[i].plugged && c->port[i].plug_seq > p->plug_seq)
            c->port[i].plug_seq--;
    c->plugs--;
    if (running(c) && multiport(c))
        sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_DEVICE_REMOVE, 1);
}

void sim_console_host_open(struct sim_console *c, unsigned id, bool open)
{
    struct sim_console_port *p = &c->port[id];
    assert_true(id < SIM_CONSOLE_PORTS && p->plugged);
    if (open) {
        if (p->host_open)
            return;
        p->host_open = true;
        if (multiport(c))
            sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_PORT_OPEN, 1);
        pump(c, id);
        return;
    }
    p->host_open = false;
    tx_release(c, id, true);
    if (multiport(c))
        sim_console_send_event(c, id, LVIO_VIRTIO_CONSOLE_PORT_OPEN, 0);
}

void sim_console_host_write(struct sim_console *c, unsigned id, const void *data, size_t len)
{
    struct sim_console_port *p = &c->port[id];
    assert_true(id < SIM_CONSOLE_PORTS);
    grow(&p->out, &p->out_cap, p->out_len + len);
    memcpy(p->out + p->out_len, data, len);
    p->out_len += len;
    pump(c, id);
}

size_t sim_console_host_pending(const struct sim_console *c, unsigned id)
{
    return c->port[id].out_len - c->port[id].out_off;
}

size_t sim_console_guest_sent(struct sim_console *c, unsigned id, void *out, size_t max)
{
    struct sim_console_port *p = &c->port[id];
    size_t n = p->in_len - p->in_off;
    if (n > max)
        n = max;
    memcpy(out, p->in + p->in_off, n);
    p->in_off += n;
    if (p->in_off == p->in_len)
        p->in_off = p->in_len = 0;
    return n;
}

unsigned sim_console_count(const struct sim_console *c, uint16_t event, uint32_t id)
{
    unsigned n = 0;
    for (unsigned i = 0; i < c->nlog; i++)
        n += c->log[i].event == event && (id == UINT32_MAX || c->log[i].id == id);
    return n;
}

const struct sim_console_msg *sim_console_find(const struct sim_console *c, uint16_t event,
                                               uint32_t id, unsigned nth)
{
    for (unsigned i = 0; i < c->nlog; i++)
        if (c->log[i].event == event && (id == UINT32_MAX || c->log[i].id == id) && nth-- == 0)
            return &c->log[i];
    return NULL;
}

void sim_console_fini(struct sim_console *c)
{
    for (unsigned i = 0; i < SIM_CONSOLE_PORTS; i++) {
        free(c->port[i].out);
        free(c->port[i].in);
        c->port[i].out = c->port[i].in = NULL;
        c->port[i].out_cap = c->port[i].in_cap = 0;
    }
}
