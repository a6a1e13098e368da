/* The simulated virtio-net described in sim_net.h. */
#include "sim_net.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvio/spec/virtio_mmio.h"
#include "lvio/spec/virtio_ring.h"

#define CFG(field) offsetof(struct lvio_virtio_net_config, field)
#define NO_ACK 0xffu

static struct sim_net *net_of(struct sim *s)
{
    return (struct sim_net *)(void *)s; /* the union is first, its sim at offset 0 */
}

static bool negotiated(const struct sim_net *n, unsigned bit)
{
    return (n->s->driver_features >> bit) & 1;
}

static bool legacy(const struct sim_net *n)
{
    return n->s->version == 1;
}

static bool running(const struct sim_net *n)
{
    return (n->s->status & LVIO_VIRTIO_STATUS_DRIVER_OK) != 0;
}

/* The header alone in the first descriptor (legacy without ANY_LAYOUT). */
static bool split_layout(const struct sim_net *n)
{
    return legacy(n) && !negotiated(n, LVIO_VIRTIO_F_ANY_LAYOUT);
}

uint32_t sim_net_hdr_len(const struct sim_net *n)
{
    return negotiated(n, LVIO_VIRTIO_F_VERSION_1) || negotiated(n, LVIO_VIRTIO_NET_F_MRG_RXBUF)
               ? LVIO_VIRTIO_NET_HDR_LEN : LVIO_VIRTIO_NET_HDR_LEN_LEGACY;
}

static uint16_t ctrl_queue(const struct sim_net *n)
{
    return negotiated(n, LVIO_VIRTIO_NET_F_MQ) ? (uint16_t)(2u * n->max_pairs) : 2u;
}

/* Values in the device's order (legacy: the guest's, here the host's). */
static void put16(const struct sim_net *n, uint8_t *p, uint16_t v)
{
    if (!legacy(n))
        v = lvio_cpu_to_le16(v);
    memcpy(p, &v, 2);
}

static uint16_t get16(const struct sim_net *n, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return legacy(n) ? v : lvio_le16_to_cpu(v);
}

/* ---- chains ------------------------------------------------------------------------------ */

/* The chain's readable bytes into `out` (at most `max`), its writable
 * bytes' count into *in; buffers in *nbufs, the first one's length in
 * *first. Readable buffers after a writable one are an error. */
static uint32_t chain_read(struct sim_net *n, uint16_t queue, uint16_t head, uint8_t *out,
                           uint32_t max, uint32_t *in, unsigned *nbufs, uint32_t *first)
{
    uint64_t addr;
    uint32_t len, got = 0, total = 0;
    uint16_t flags;
    unsigned i = 0;
    *in = 0;
    for (; sim_chain_buf(n->s, queue, head, i, &addr, &len, &flags); i++) {
        if (i == 0)
            *first = len;
        if (flags & LVIO_VIRTQ_DESC_F_WRITE) {
            *in += len;
            continue;
        }
        if (*in)
            sim_error(n->s, "net queue %u: a readable buffer after a writable one", queue);
        uint32_t k = got < max ? (max - got < len ? max - got : len) : 0;
        if (k)
            sim_dev_read(n->s, addr, out + got, k);
        got += k;
        total += len;
    }
    *nbufs = i;
    return total;
}

/* Write `k` bytes at offset `off` of the chain's writable bytes. */
static void chain_write(struct sim_net *n, uint16_t queue, uint16_t head, uint32_t off,
                        const void *data, uint32_t k)
{
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    const uint8_t *p = data;
    for (unsigned i = 0; k && sim_chain_buf(n->s, queue, head, i, &addr, &len, &flags); i++) {
        if (!(flags & LVIO_VIRTQ_DESC_F_WRITE))
            continue;
        if (off >= len) {
            off -= len;
            continue;
        }
        uint32_t c = len - off < k ? len - off : k;
        sim_dev_write(n->s, addr + off, p, c);
        p += c;
        k -= c;
        off = 0;
    }
}

/* Writable bytes of a receive chain (an error if any is readable). */
static uint32_t rx_room(struct sim_net *n, uint16_t queue, uint16_t head, uint32_t *first)
{
    uint8_t none;
    uint32_t in;
    unsigned nbufs;
    uint32_t out = chain_read(n, queue, head, &none, 0, &in, &nbufs, first);
    if (out)
        sim_error(n->s, "net receive queue %u: a device-readable buffer", queue);
    return in;
}

/* ---- receiving ------------------------------------------------------------------------------ */

static bool filter_passes(struct sim_net *n, const uint8_t *f, uint32_t len)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (n->promisc || len < 6)
        return true;
    if (f[0] & 1)
        return memcmp(f, bcast, 6) == 0 || n->allmulti;
    return memcmp(f, n->cur_mac, 6) == 0;
}

/* The header bytes QEMU writes: the first 10, num_buffers (MRG_RXBUF) at
 * 10; without MRG_RXBUF a 12-byte header's last two are junk here. */
static void make_header(struct sim_net *n, const struct sim_net_hdr *h, uint16_t nbufs,
                        uint8_t *out)
{
    out[0] = n->lie_flags >= 0 ? (uint8_t)n->lie_flags : h->flags;
    out[1] = n->lie_gso >= 0 ? (uint8_t)n->lie_gso : h->gso_type;
    put16(n, out + 2, h->hdr_len);
    put16(n, out + 4, h->gso_size);
    put16(n, out + 6, h->csum_start);
    put16(n, out + 8, h->csum_offset);
    if (negotiated(n, LVIO_VIRTIO_NET_F_MRG_RXBUF))
        put16(n, out + 10, n->lie_num_buffers >= 0 ? (uint16_t)n->lie_num_buffers : nbufs);
    else
        out[10] = 0xbe, out[11] = 0xef;
}

static void lies_done(struct sim_net *n)
{
    n->lie_used_len = -1;
    n->lie_num_buffers = -1;
    n->lie_flags = -1;
    n->lie_gso = -1;
}

/* Frame `f` into the buffers of its pair: 1 delivered (or dropped), 0 it
 * waits for buffers. */
static int deliver(struct sim_net *n, const struct sim_net_pending *f)
{
    uint16_t q = LVIO_VIRTIO_NET_RX(f->pair);
    uint16_t *held = n->rx[f->pair];
    unsigned *nheld = &n->nrx[f->pair];
    uint32_t hl = sim_net_hdr_len(n), need = hl + f->len, first;
    uint8_t hdr[12];
    if (!*nheld)
        return 0;
    if (!filter_passes(n, f->data, f->len)) {
        n->filtered++;
        return 1;
    }
    if (!negotiated(n, LVIO_VIRTIO_NET_F_MRG_RXBUF)) {
        uint32_t room = rx_room(n, q, held[0], &first);
        if (room < need) {
            n->dropped_big++; /* QEMU: unpop the buffer, drop the frame */
            return 1;
        }
        make_header(n, &f->hdr, 1, hdr);
        chain_write(n, q, held[0], 0, hdr, hl);
        chain_write(n, q, held[0], hl, f->data, f->len);
        uint16_t head = held[0];
        memmove(held, held + 1, --*nheld * sizeof *held);
        sim_complete(n->s, q, head, n->lie_used_len >= 0 ? (uint32_t)n->lie_used_len : need);
    } else {
        uint32_t total = 0, sizes[SIM_NET_HELD];
        unsigned k = 0;
        for (; k < *nheld && total < need; k++) {
            sizes[k] = rx_room(n, q, held[k], &first);
            total += sizes[k];
        }
        if (total < need)
            return 0; /* QEMU: not enough buffers yet */
        make_header(n, &f->hdr, (uint16_t)k, hdr);
        uint32_t done = 0;
        for (unsigned i = 0; i < k; i++) {
            uint32_t off = 0, used;
            if (i == 0) {
                chain_write(n, q, held[i], 0, hdr, hl);
                off = hl;
            }
            uint32_t c = f->len - done < sizes[i] - off ? f->len - done : sizes[i] - off;
            chain_write(n, q, held[i], off, f->data + done, c);
            done += c;
            used = off + c;
            if (i == 0 && n->lie_used_len >= 0)
                used = (uint32_t)n->lie_used_len;
            sim_complete(n->s, q, held[i], used);
        }
        memmove(held, held + k, (*nheld - k) * sizeof *held);
        *nheld -= k;
    }
    n->delivered++;
    lies_done(n);
    return 1;
}

/* Every frame that can go now, in order per pair. */
static void pump(struct sim_net *n)
{
    bool blocked[SIM_NET_PAIRS] = {0};
    unsigned i = 0;
    while (i < n->npend) {
        struct sim_net_pending *f = &n->pend[i];
        bool can = running(n) && f->pair < n->curr_pairs && !blocked[f->pair];
        if (can && deliver(n, f)) {
            free(f->data);
            memmove(f, f + 1, (--n->npend - i) * sizeof *f);
            continue;
        }
        blocked[f->pair] = true;
        i++;
    }
}

void sim_net_host_send(struct sim_net *n, unsigned pair, const void *frame, uint32_t len,
                       const struct sim_net_hdr *hdr)
{
    assert_true(pair < SIM_NET_PAIRS && n->npend < SIM_NET_PENDING && len <= SIM_NET_FRAME);
    struct sim_net_pending *f = &n->pend[n->npend++];
    f->pair = pair;
    f->len = len;
    f->data = malloc(len ? len : 1);
    assert_non_null(f->data);
    memcpy(f->data, frame, len);
    f->hdr = hdr ? *hdr : (struct sim_net_hdr){0};
    pump(n);
}

unsigned sim_net_host_pending(const struct sim_net *n)
{
    return n->npend;
}

unsigned sim_net_rx_posted(const struct sim_net *n, unsigned pair)
{
    return pair < SIM_NET_PAIRS ? n->nrx[pair] : 0;
}

/* ---- transmitting --------------------------------------------------------------------------- */

static void tx_chain(struct sim_net *n, unsigned pair, uint16_t head)
{
    uint16_t q = LVIO_VIRTIO_NET_TX(pair);
    static uint8_t buf[SIM_NET_FRAME + 12];
    uint32_t in, first;
    unsigned nbufs;
    uint32_t hl = sim_net_hdr_len(n);
    uint32_t len = chain_read(n, q, head, buf, sizeof buf, &in, &nbufs, &first);
    if (in)
        sim_error(n->s, "net transmit queue %u: a device-writable buffer", q);
    if (len < hl) {
        sim_error(n->s, "net transmit queue %u: a chain of %u bytes, shorter than its header",
                  q, len); /* QEMU: "virtio-net header incorrect" */
        return;
    }
    if (split_layout(n) && first != hl)
        sim_error(n->s, "net transmit queue %u: legacy without ANY_LAYOUT, the first buffer "
                  "%u bytes, not the header's %u", q, first, hl);
    if (len > sizeof buf)
        sim_error(n->s, "net transmit queue %u: a frame of %u bytes", q, len);
    if (!(n->status & LVIO_VIRTIO_NET_S_LINK_UP)) {
        n->tx_dropped++;
        return;
    }
    if (n->nsent == SIM_NET_SENT) {
        sim_error(n->s, "net: more than %u frames sent", SIM_NET_SENT);
        return;
    }
    struct sim_net_sent *f = &n->sent[n->nsent++];
    f->pair = pair;
    f->nbufs = nbufs;
    f->hdr.flags = buf[0];
    f->hdr.gso_type = buf[1];
    f->hdr.hdr_len = get16(n, buf + 2);
    f->hdr.gso_size = get16(n, buf + 4);
    f->hdr.csum_start = get16(n, buf + 6);
    f->hdr.csum_offset = get16(n, buf + 8);
    f->len = len - hl;
    f->data = malloc(f->len ? f->len : 1);
    assert_non_null(f->data);
    memcpy(f->data, buf + hl, f->len);
}

void sim_net_tx_release(struct sim_net *n, unsigned pair)
{
    for (unsigned i = 0; i < n->ntx[pair]; i++) {
        tx_chain(n, pair, n->tx[pair][i]);
        sim_complete(n->s, LVIO_VIRTIO_NET_TX(pair), n->tx[pair][i], 0);
    }
    n->ntx[pair] = 0;
}

/* ---- control ------------------------------------------------------------------------------ */

static uint8_t ctrl_act(struct sim_net *n, const struct sim_net_cmd *c)
{
    switch (c->class_) {
    case LVIO_VIRTIO_NET_CTRL_RX:
        if (c->len != 1 || c->cmd > LVIO_VIRTIO_NET_CTRL_RX_NOBCAST)
            return LVIO_VIRTIO_NET_ERR;
        if (c->cmd == LVIO_VIRTIO_NET_CTRL_RX_PROMISC)
            n->promisc = c->data[0] != 0;
        if (c->cmd == LVIO_VIRTIO_NET_CTRL_RX_ALLMULTI)
            n->allmulti = c->data[0] != 0;
        return LVIO_VIRTIO_NET_OK;
    case LVIO_VIRTIO_NET_CTRL_MAC:
        if (c->cmd != LVIO_VIRTIO_NET_CTRL_MAC_ADDR_SET || c->len != 6)
            return LVIO_VIRTIO_NET_ERR;
        memcpy(n->cur_mac, c->data, 6);
        return LVIO_VIRTIO_NET_OK;
    case LVIO_VIRTIO_NET_CTRL_ANNOUNCE:
        if (c->cmd != LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK || !(n->status & LVIO_VIRTIO_NET_S_ANNOUNCE))
            return LVIO_VIRTIO_NET_ERR;
        n->status &= (uint16_t)~LVIO_VIRTIO_NET_S_ANNOUNCE;
        sim_net_apply(n);
        n->announce_acks++;
        return LVIO_VIRTIO_NET_OK;
    case LVIO_VIRTIO_NET_CTRL_MQ: {
        if (c->cmd != LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || c->len != 2 ||
            !negotiated(n, LVIO_VIRTIO_NET_F_MQ))
            return LVIO_VIRTIO_NET_ERR;
        uint16_t v = get16(n, c->data);
        if (v < 1 || v > n->max_pairs)
            return LVIO_VIRTIO_NET_ERR;
        n->curr_pairs = v;
        pump(n);
        return LVIO_VIRTIO_NET_OK;
    }
    default:
        return LVIO_VIRTIO_NET_ERR;
    }
}

/* Answer command chain `head`, logged at log[i]. */
static void ctrl_answer(struct sim_net *n, uint16_t head, unsigned i)
{
    uint16_t q = ctrl_queue(n);
    struct sim_net_cmd *c = &n->log[i < SIM_NET_LOG ? i : SIM_NET_LOG - 1];
    uint8_t ack = LVIO_VIRTIO_NET_ERR;
    switch (n->ctrl_mode) {
    case SIM_NET_CTRL_NO_ACK:
        sim_complete(n->s, q, head, 0);
        return;
    case SIM_NET_CTRL_BAD: ack = 7; break;
    case SIM_NET_CTRL_ERR: break;
    default: ack = ctrl_act(n, c); break;
    }
    c->ack = ack;
    uint8_t none[1];
    uint32_t in, first;
    unsigned nbufs;
    uint32_t out = chain_read(n, q, head, none, 0, &in, &nbufs, &first);
    (void)out;
    chain_write(n, q, head, 0, &ack, 1);
    sim_complete(n->s, q, head, 1);
}

static void ctrl_chain(struct sim_net *n, uint16_t head)
{
    uint16_t q = ctrl_queue(n);
    uint8_t b[2 + 16];
    uint32_t in, first;
    unsigned nbufs;
    uint32_t out = chain_read(n, q, head, b, sizeof b, &in, &nbufs, &first);
    if (in < 1 || out < 2) {
        sim_error(n->s, "net: control command with %u readable, %u writable bytes "
                  "(QEMU: \"ctrl missing headers\")", out, in);
        return;
    }
    if (split_layout(n) && first != 2)
        sim_error(n->s, "net: legacy without ANY_LAYOUT, a control header of %u bytes", first);
    if (out > sizeof b)
        sim_error(n->s, "net: a control command of %u bytes", out);
    unsigned i = n->nlog < SIM_NET_LOG ? n->nlog++ : SIM_NET_LOG - 1;
    struct sim_net_cmd *c = &n->log[i];
    *c = (struct sim_net_cmd){.class_ = b[0], .cmd = b[1], .len = out - 2, .ack = NO_ACK};
    memcpy(c->data, b + 2, out - 2 < sizeof c->data ? out - 2 : sizeof c->data);
    if (n->ctrl_mode == SIM_NET_CTRL_HOLD) {
        if (n->nctrl_held == sizeof n->ctrl_held / sizeof n->ctrl_held[0]) {
            sim_error(n->s, "net: too many control commands held");
            return;
        }
        n->ctrl_held[n->nctrl_held] = head;
        n->ctrl_held_log[n->nctrl_held] = (uint16_t)i;
        n->nctrl_held++;
        n->s->take_this = true;
        return;
    }
    ctrl_answer(n, head, i);
    n->s->take_this = true; /* completed by ctrl_answer */
}

void sim_net_ctrl_release(struct sim_net *n)
{
    enum sim_net_ctrl_mode mode = n->ctrl_mode;
    n->ctrl_mode = SIM_NET_CTRL_QEMU;
    for (unsigned j = 0; j < n->nctrl_held; j++)
        ctrl_answer(n, n->ctrl_held[j], n->ctrl_held_log[j]);
    n->nctrl_held = 0;
    n->ctrl_mode = mode;
}

unsigned sim_net_cmds(const struct sim_net *n, uint8_t class_, uint8_t cmd)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n->nlog; i++)
        k += n->log[i].class_ == class_ && n->log[i].cmd == cmd;
    return k;
}

const struct sim_net_cmd *sim_net_cmd_find(const struct sim_net *n, uint8_t class_, uint8_t cmd,
                                           unsigned nth)
{
    for (unsigned i = 0; i < n->nlog; i++)
        if (n->log[i].class_ == class_ && n->log[i].cmd == cmd && nth-- == 0)
            return &n->log[i];
    return NULL;
}

/* ---- the handler ------------------------------------------------------------------------------ */

static uint32_t net_handler(struct sim *s, uint16_t queue, uint16_t head)
{
    struct sim_net *n = net_of(s);
    unsigned pairs = negotiated(n, LVIO_VIRTIO_NET_F_MQ) ? n->max_pairs : 1;
    if (queue == ctrl_queue(n)) {
        if (!negotiated(n, LVIO_VIRTIO_NET_F_CTRL_VQ))
            sim_error(s, "net: control queue %u used without CTRL_VQ", queue);
        ctrl_chain(n, head);
        return 0;
    }
    unsigned pair = queue / 2u;
    if (pair >= pairs) {
        sim_error(s, "net: queue %u used, %u pair(s) exist", queue, pairs);
        return 0;
    }
    if (queue % 2 == 0) {
        uint32_t first;
        rx_room(n, queue, head, &first);
        if (split_layout(n) && !negotiated(n, LVIO_VIRTIO_NET_F_MRG_RXBUF) &&
            first != sim_net_hdr_len(n))
            sim_error(s, "net receive queue %u: legacy without ANY_LAYOUT, the first buffer %u "
                      "bytes, not the header's %u", queue, first, sim_net_hdr_len(n));
        if (n->nrx[pair] == SIM_NET_HELD) {
            sim_error(s, "net: more than %u receive buffers held", SIM_NET_HELD);
            return 0;
        }
        n->rx[pair][n->nrx[pair]++] = head;
        s->take_this = true;
        pump(n);
        return 0;
    }
    if (n->tx_hold) {
        n->tx[pair][n->ntx[pair]++] = head;
        s->take_this = true;
        return 0;
    }
    tx_chain(n, pair, head);
    return 0;
}

/* A reset: the guest's side forgotten (QEMU's virtio_net_reset), the
 * host's frames kept. */
static void net_reset(struct sim *s)
{
    struct sim_net *n = net_of(s);
    memset(n->nrx, 0, sizeof n->nrx);
    memset(n->ntx, 0, sizeof n->ntx);
    n->nctrl_held = 0;
    n->promisc = true;
    n->allmulti = false;
    n->curr_pairs = 1;
    memcpy(n->cur_mac, n->mac, 6);
    n->status &= (uint16_t)~LVIO_VIRTIO_NET_S_ANNOUNCE;
    sim_net_apply(n);
}

/* A legacy driver without CTRL_MAC_ADDR sets the MAC here (QEMU takes it
 * when neither CTRL_MAC_ADDR nor VERSION_1 is negotiated). */
static void net_config_write(struct sim *s, uint32_t off, unsigned width, uint32_t v)
{
    struct sim_net *n = net_of(s);
    if (off + width > 6) {
        sim_error(s, "net: config write of %u bytes at 0x%x", width, off);
        return;
    }
    sim_config_bytes(legacy(n), v, width, s->config + off, sizeof s->config - off);
    if (!negotiated(n, LVIO_VIRTIO_NET_F_CTRL_MAC_ADDR) && !negotiated(n, LVIO_VIRTIO_F_VERSION_1))
        memcpy(n->cur_mac, s->config, 6);
    else
        memcpy(s->config, n->cur_mac, 6); /* read back as it was */
}

/* ---- the test's side ---------------------------------------------------------------------------- */

void sim_net_apply(struct sim_net *n)
{
    uint8_t *cfg = n->s->config;
    memset(cfg, 0, sizeof(struct lvio_virtio_net_config));
    memcpy(cfg + CFG(mac), n->cur_mac, 6);
    put16(n, cfg + CFG(status), n->status);
    put16(n, cfg + CFG(max_virtqueue_pairs), n->max_pairs);
    put16(n, cfg + CFG(mtu), n->mtu);
}

void sim_net_init(struct sim_net *n, enum sim_bus bus, uint64_t features, uint16_t max_pairs)
{
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    memset(n, 0, sizeof *n);
    n->bus = bus;
    sim_dev_init(&n->u, bus, LVIO_VIRTIO_ID_NET);
    n->s = &n->u.sim;
    n->s->handler = net_handler;
    n->s->on_reset = net_reset;
    n->s->config_write = net_config_write;
    n->s->features |= features;
    if (legacy(n))
        n->s->features |= 1ull << LVIO_VIRTIO_F_ANY_LAYOUT;
    if (max_pairs > 1)
        n->s->features |= 1ull << LVIO_VIRTIO_NET_F_MQ;
    assert_true(max_pairs >= 1 && max_pairs <= SIM_NET_PAIRS);
    n->max_pairs = max_pairs;
    n->mtu = 1500;
    n->status = LVIO_VIRTIO_NET_S_LINK_UP;
    memcpy(n->mac, mac, 6);
    memcpy(n->cur_mac, mac, 6);
    n->promisc = true;
    n->curr_pairs = 1;
    lies_done(n);
    bool pci_legacy = bus == SIM_BUS_PCI_LEGACY;
    for (unsigned q = 0; q < SIM_MAX_QUEUES; q++)
        n->s->q[q].num_max = q > 2u * max_pairs ? 0 : q == 2u * max_pairs ? 64
                             : pci_legacy ? 256 : 1024;
    if (max_pairs > 1) /* without MQ the control queue is 2: QEMU's size then */
        n->s->q[2].num_max = pci_legacy ? 256 : 1024;
    sim_net_apply(n);
}

void sim_net_offer(struct sim_net *n, unsigned bit, bool on)
{
    if (on)
        n->s->features |= 1ull << bit;
    else
        n->s->features &= ~(1ull << bit);
}

void sim_net_probe(struct sim_net *n, struct lvio_device *dev)
{
    sim_dev_probe(&n->u, n->bus, dev);
}

void sim_net_config_change(struct sim_net *n)
{
    sim_dev_config_change(&n->u, n->bus);
}

void sim_net_link(struct sim_net *n, bool up)
{
    if (up)
        n->status |= LVIO_VIRTIO_NET_S_LINK_UP;
    else
        n->status &= (uint16_t)~LVIO_VIRTIO_NET_S_LINK_UP;
    sim_net_apply(n);
    sim_net_config_change(n);
}

void sim_net_announce(struct sim_net *n)
{
    n->status |= LVIO_VIRTIO_NET_S_ANNOUNCE;
    sim_net_apply(n);
    sim_net_config_change(n);
}

void sim_net_fini(struct sim_net *n)
{
    for (unsigned i = 0; i < n->npend; i++)
        free(n->pend[i].data);
    for (unsigned i = 0; i < n->nsent; i++)
        free(n->sent[i].data);
    n->npend = n->nsent = 0;
}
