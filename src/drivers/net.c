/*
 * virtio-net driver (VIRTIO 1.2, 5.1).
 *
 * Every queue has a request engine (lvio/request.h) whose slots are the
 * driver's buffers: a receive queue's buffers (the whole slot the
 * device's to write), a transmit queue's (the header, then a copied frame,
 * the whole slot the device's to read), the control queue's commands
 * (net_ctrl.c). All of them are set up by init: the specification allows
 * queues to be set up only before DRIVER_OK, and nothing is allocated
 * afterwards.
 *
 * Ownership: a receive buffer is the device's while posted, the driver's
 * from its completion until the caller has taken the frame in it (only
 * then posted again: the device is held back, nothing is overwritten). A
 * transmit buffer is the device's from its submit until its completion is
 * taken; a caller buffer sent in place stays shared until then, and the
 * slot stays taken until the caller has its token back. What the device
 * wrote in a header is copied out once, then checked.
 *
 * Receive completions are taken in the device's order (the engine's
 * sequence numbers) and checked as frames right away, so a frame is
 * either kept whole for the caller or dropped whole: the caller never
 * sees a buffer of a frame that failed a check.
 */
#include "lvio/config.h"
#if LVIO_WITH_NET /* else left out: lvio/config.h */

#include "net_internal.h"

#define ETH_HLEN LVIO_NET_ETH_HLEN
#define VLAN_HLEN 4u
#define DEFAULT_MTU 1500u
/* Buffers posted in one batch. */
#define POST_BATCH 8u
/* A receive buffer above this takes LVIO_NET_RX_BIG_BUFS, not RX_BUFS. */
#define BIG_BUF (4u * LVIO_PAGE_SIZE)
/* No slot (struct lvio_net_rxq's bufs use 16 bits). */
#define NO_SLOT 0xffffu

#define NET_FEATURES                                                                         \
    ((1ull << LVIO_VIRTIO_NET_F_MAC) | (1ull << LVIO_VIRTIO_NET_F_STATUS) |                 \
     (1ull << LVIO_VIRTIO_NET_F_MTU) | (1ull << LVIO_VIRTIO_NET_F_MRG_RXBUF) |              \
     (1ull << LVIO_VIRTIO_NET_F_CTRL_VQ) | (1ull << LVIO_VIRTIO_NET_F_CTRL_RX) |            \
     (1ull << LVIO_VIRTIO_NET_F_CTRL_MAC_ADDR) | (1ull << LVIO_VIRTIO_NET_F_GUEST_ANNOUNCE) | \
     (1ull << LVIO_VIRTIO_NET_F_MQ))
#define CSUM_FEATURES \
    ((1ull << LVIO_VIRTIO_NET_F_CSUM) | (1ull << LVIO_VIRTIO_NET_F_GUEST_CSUM))
#define BIG_RX_FEATURES                                                              \
    ((1ull << LVIO_VIRTIO_NET_F_GUEST_CSUM) | (1ull << LVIO_VIRTIO_NET_F_GUEST_TSO4) | \
     (1ull << LVIO_VIRTIO_NET_F_GUEST_TSO6) | (1ull << LVIO_VIRTIO_NET_F_GUEST_UFO))
/* What needs the control queue, and what needs GUEST_CSUM (5.1.3.1). */
#define NEED_CTRL_VQ                                                                         \
    ((1ull << LVIO_VIRTIO_NET_F_CTRL_RX) | (1ull << LVIO_VIRTIO_NET_F_CTRL_MAC_ADDR) |      \
     (1ull << LVIO_VIRTIO_NET_F_GUEST_ANNOUNCE) | (1ull << LVIO_VIRTIO_NET_F_MQ))
#define NEED_GUEST_CSUM                                                                   \
    ((1ull << LVIO_VIRTIO_NET_F_GUEST_TSO4) | (1ull << LVIO_VIRTIO_NET_F_GUEST_TSO6) |    \
     (1ull << LVIO_VIRTIO_NET_F_GUEST_UFO))

#define CFG(field) ((uint32_t)offsetof(struct lvio_virtio_net_config, field))

_Static_assert(LVIO_NET_MAX_PAIRS >= 1 && LVIO_NET_MAX_PAIRS <= 0x7fff,
               "1 to 0x7fff pairs (queue indexes are 16 bits)");
_Static_assert(LVIO_NET_RX_BUFS > LVIO_NET_FRAME_SEGS && LVIO_NET_RX_BUFS <= 1024,
               "receive buffers: room for a largest merged frame and one more; the order of "
               "completions is kept on the stack");
_Static_assert(LVIO_NET_RX_BUFS_DEFAULT > LVIO_NET_FRAME_SEGS &&
                   LVIO_NET_RX_BUFS_DEFAULT <= LVIO_NET_RX_BUFS,
               "default receive buffers: LVIO_NET_FRAME_SEGS + 1 to LVIO_NET_RX_BUFS");
_Static_assert(LVIO_NET_RX_BIG_BUFS >= 1 && LVIO_NET_RX_BIG_BUFS <= LVIO_NET_RX_BUFS,
               "big receive buffers: 1 to LVIO_NET_RX_BUFS");
_Static_assert(LVIO_NET_TX_SLOTS >= 1 && LVIO_NET_TX_SLOTS <= 65535, "transmit buffers");
_Static_assert(LVIO_NET_TX_SEGS >= 1 && LVIO_NET_TX_SEGS < LVIO_REQ_MAX_BUFS, "send_sg buffers");
_Static_assert(LVIO_NET_CTRL_SLOTS >= 3, "control slots: two commands and an ack");
_Static_assert(LVIO_NET_FRAME_SEGS * LVIO_PAGE_SIZE >=
                   LVIO_VIRTIO_NET_HDR_LEN + LVIO_NET_FRAME_MAX,
               "a largest frame fits its merged buffers");

/* ---- small helpers ------------------------------------------------------------------------ */

static uint16_t dev16(const struct lvio_net *n, uint16_t v)
{
    return lvio_dev16_to_cpu(n->dev, v);
}

/* Descriptors header and data take apart (a legacy device without
 * ANY_LAYOUT wants the header alone in the first one, 5.1.6.6). */
static bool split_header(const struct lvio_net *n)
{
    return !lvio_net_has(n, LVIO_VIRTIO_F_VERSION_1) && !lvio_net_has(n, LVIO_VIRTIO_F_ANY_LAYOUT);
}

/* Receive buffers: header and data apart (never with MRG_RXBUF, whose
 * buffers carry the header inline, as every driver posts them). */
static bool rx_split(const struct lvio_net *n)
{
    return split_header(n) && !n->mrg_rxbuf;
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* Offer every free receive buffer to the device, as far as its queue has
 * descriptors; notify it when `kick`. */
static int rx_post(struct lvio_net *n, struct lvio_net_rxq *rx, bool kick)
{
    struct lvio_req batch[POST_BATCH];
    struct lvio_sg parts[POST_BATCH][2];
    bool split = rx_split(n);
    unsigned per = lvio_vq_descs(&rx->vq, split ? 2u : 1u);
    unsigned k = 0, used = 0, room = lvio_vq_num_free(&rx->vq);
    int err = LVIO_OK;
    for (unsigned s = 0; s < rx->reqs.nslots && err == LVIO_OK; s++) {
        if (rx->slots[s].state != LVIO_REQ_FREE || used + per > room)
            continue;
        uint64_t addr = lvio_req_addr(&rx->reqs, s);
        if (split) {
            parts[k][0] = (struct lvio_sg){addr, n->hdr_len};
            parts[k][1] = (struct lvio_sg){addr + n->hdr_len, n->rx_buf_size - n->hdr_len};
            batch[k] = (struct lvio_req){.slot = s, .ins = parts[k], .n_ins = 2};
        } else {
            batch[k] = (struct lvio_req){.slot = s, .resp_len = n->rx_buf_size};
        }
        used += per;
        if (++k == POST_BATCH) {
            err = lvio_reqs_add(&rx->reqs, batch, k);
            k = 0;
        }
    }
    if (err == LVIO_OK && k)
        err = lvio_reqs_add(&rx->reqs, batch, k);
    if (err == LVIO_OK && used && kick)
        err = lvio_vq_kick(&rx->vq);
    return err;
}

/* Buffers of a receive queue that are free (neither with the device, nor
 * completed and not looked at, nor holding a frame kept), counted without
 * a pass over the slots. */
static unsigned rx_free(const struct lvio_net_rxq *rx)
{
    unsigned held = lvio_vq_in_flight(&rx->vq) + rx->buf_count + (rx->reqs.seq - rx->seq);
    return held < rx->reqs.nslots ? rx->reqs.nslots - held : 0;
}

/* Whether to give buffers back now: they go in batches, under one notify
 * (a whole batch is free, or half the queue's buffers are, or no frame
 * kept is left to hand out: the caller is about to wait); else later. */
static bool rx_refill_due(const struct lvio_net_rxq *rx)
{
    unsigned nfree = rx_free(rx);
    return nfree && (nfree >= POST_BATCH || nfree * 2 >= rx->reqs.nslots || rx->fr_count == 0);
}

/* Post what is free when it is due, and note a queue the caller has left
 * without a buffer (once, until buffers go back). */
static int rx_refill(struct lvio_net *n, unsigned q)
{
    struct lvio_net_rxq *rx = &n->q[q].rx;
    int err = rx_refill_due(rx) ? rx_post(n, rx, true) : LVIO_OK;
    bool starved = lvio_vq_in_flight(&rx->vq) == 0;
    if (starved && !rx->starved && err == LVIO_OK) {
        n->stats.rx_starved++;
        lvio_log(n->dev, LVIO_LOG_INFO, "net: receive queue %u: every buffer holds a frame not "
                 "taken: the device waits", q);
    }
    rx->starved = starved;
    return err;
}

/* Drop buffers order[0..k): free again (posted by the next refill),
 * counted in *counter, logged with why. */
static void rx_drop(struct lvio_net *n, unsigned q, const uint16_t *order, unsigned k,
                    uint64_t *counter, const char *why)
{
    struct lvio_net_rxq *rx = &n->q[q].rx;
    for (unsigned i = 0; i < k; i++)
        lvio_reqs_put(&rx->reqs, order[i]);
    (*counter)++;
    lvio_log(n->dev, LVIO_LOG_WARN, "net: receive queue %u: a frame %s: dropped", q, why);
}

/* The header's checks; the frame's description into *info. Returns the
 * counter of the check that failed (its reason in *why), or NULL. */
static uint64_t *rx_check(struct lvio_net *n, const struct lvio_virtio_net_hdr *h, uint32_t len,
                          struct lvio_net_rx_info *info, char *why, size_t size)
{
    uint8_t gso = h->gso_type;
    uint16_t start = dev16(n, h->csum_start), off = dev16(n, h->csum_offset);
    bool gso_ok = (gso == LVIO_VIRTIO_NET_HDR_GSO_TCPV4 &&
                   lvio_net_has(n, LVIO_VIRTIO_NET_F_GUEST_TSO4)) ||
                  (gso == LVIO_VIRTIO_NET_HDR_GSO_TCPV6 &&
                   lvio_net_has(n, LVIO_VIRTIO_NET_F_GUEST_TSO6)) ||
                  (gso == LVIO_VIRTIO_NET_HDR_GSO_UDP &&
                   lvio_net_has(n, LVIO_VIRTIO_NET_F_GUEST_UFO));
    uint32_t max = gso == LVIO_VIRTIO_NET_HDR_GSO_NONE ? n->mtu + ETH_HLEN + VLAN_HLEN
                                                       : LVIO_VIRTIO_NET_MAX_GSO_FRAME;
    if (len < ETH_HLEN) {
        lvio_snprintf(why, size, "of %u bytes, shorter than an Ethernet header", len);
        return &n->stats.rx_short;
    }
    if (gso != LVIO_VIRTIO_NET_HDR_GSO_NONE && !gso_ok) {
        lvio_snprintf(why, size, "of GSO type 0x%x, not negotiated", gso);
        return &n->stats.rx_bad_header;
    }
    if ((h->flags & LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
        (!n->csum_rx || (uint32_t)start + off + 2u > len)) {
        lvio_snprintf(why, size, "of %u bytes asking for a checksum at %u + %u%s", len, start, off,
                      n->csum_rx ? ", past its end" : " without GUEST_CSUM");
        return &n->stats.rx_bad_header;
    }
    if (len > max) {
        lvio_snprintf(why, size, "of %u bytes, longer than the %u allowed", len, max);
        return &n->stats.rx_too_big;
    }
    *info = (struct lvio_net_rx_info){.len = len, .gso_type = gso};
    if (gso != LVIO_VIRTIO_NET_HDR_GSO_NONE) {
        info->flags |= LVIO_NET_RX_GSO;
        info->gso_size = dev16(n, h->gso_size);
        info->gso_hdr_len = dev16(n, h->hdr_len);
    }
    if (h->flags & LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        info->flags |= LVIO_NET_RX_CSUM_PARTIAL;
        info->csum_start = start;
        info->csum_offset = off;
    } else if (n->csum_rx && (h->flags & LVIO_VIRTIO_NET_HDR_F_DATA_VALID)) {
        info->flags |= LVIO_NET_RX_CSUM_VALID;
    }
    return NULL;
}

/* The frame starting at completion order[0] (`avail` completions taken
 * and not yet looked at): kept for the caller, or dropped. Returns the
 * completions it took, 1 or more. */
static unsigned rx_frame(struct lvio_net *n, unsigned q, const uint16_t *order, unsigned avail)
{
    struct lvio_net_rxq *rx = &n->q[q].rx;
    const struct lvio_req_slot *head = &rx->slots[order[0]];
    struct lvio_virtio_net_hdr h = {0};
    struct lvio_net_rx_info info;
    char why[96];
    if (head->overlong) {
        lvio_snprintf(why, sizeof why, "with a used length past its %u-byte buffer",
                      n->rx_buf_size);
        rx_drop(n, q, order, 1, &n->stats.rx_overlong, why);
        return 1;
    }
    if (head->len < n->hdr_len) {
        lvio_snprintf(why, sizeof why, "of %u bytes, shorter than its %u-byte header", head->len,
                      n->hdr_len);
        rx_drop(n, q, order, 1, &n->stats.rx_short, why);
        return 1;
    }
    memcpy(&h, lvio_req_buf(&rx->reqs, order[0]), n->hdr_len); /* once */
    unsigned nb = 1;
    if (n->mrg_rxbuf) {
        nb = dev16(n, h.num_buffers);
        if (nb == 0 || nb > LVIO_NET_FRAME_SEGS || nb > avail) {
            unsigned take = nb == 0 ? 1 : nb < avail ? nb : avail;
            lvio_snprintf(why, sizeof why, "with num_buffers %u (%u completed with it, %u at most)",
                          nb, avail, LVIO_NET_FRAME_SEGS);
            rx_drop(n, q, order, take, &n->stats.rx_bad_num_buffers, why);
            return take;
        }
    }
    uint32_t len = head->len - n->hdr_len;
    for (unsigned i = 1; i < nb; i++) {
        if (rx->slots[order[i]].overlong) {
            lvio_snprintf(why, sizeof why, "with a used length past its buffer %u's %u bytes",
                          i, n->rx_buf_size);
            rx_drop(n, q, order, nb, &n->stats.rx_overlong, why);
            return nb;
        }
        len += rx->slots[order[i]].len; /* at most a page each: no overflow */
    }
    uint64_t *counter = rx_check(n, &h, len, &info, why, sizeof why);
    if (counter) {
        rx_drop(n, q, order, nb, counter, why);
        return nb;
    }
    info.nbufs = (uint8_t)nb;
    info.queue = q;
    for (unsigned i = 0; i < nb; i++)
        rx->bufs[(rx->buf_head + rx->buf_count++) % LVIO_NET_RX_BUFS] = order[i];
    rx->frames[(rx->fr_head + rx->fr_count++) % LVIO_NET_RX_BUFS] = info;
    return nb;
}

/* Take the queue's completions, in the device's order, as frames (one
 * pass over the slots for all that came since the last look). */
static int rx_take(struct lvio_net *n, unsigned q)
{
    struct lvio_net_rxq *rx = &n->q[q].rx;
    uint16_t order[LVIO_NET_RX_BUFS];
    int err = lvio_reqs_reap(&rx->reqs);
    uint32_t fresh = rx->reqs.seq - rx->seq; /* completions not looked at yet */
    unsigned count = 0, slots = rx->reqs.nslots;
    if (fresh == 0)
        return err < 0 ? err : LVIO_OK;
    if (fresh > slots) /* the engine counts only what it took: cannot be */
        fresh = slots;
    for (unsigned i = 0; i < fresh; i++)
        order[i] = NO_SLOT;
    for (unsigned s = 0; s < slots; s++) {
        uint32_t age = rx->slots[s].seq - rx->seq;
        if (rx->slots[s].state == LVIO_REQ_DONE && age < fresh)
            order[age] = (uint16_t)s;
    }
    rx->seq = rx->reqs.seq;
    for (unsigned i = 0; i < fresh; i++) /* close gaps: there are none, but */
        if (order[i] != NO_SLOT)
            order[count++] = order[i];
    for (unsigned i = 0; i < count;)
        i += rx_frame(n, q, order + i, count - i);
    return err < 0 ? err : LVIO_OK;
}

/* ---- transmitting --------------------------------------------------------------------------- */

/* Transmit buffers the device is done with: free again, or (send_sg)
 * unshared and kept until the caller takes the token. Interrupts for them,
 * asked for while the queue was full, are off again once some came. */
static int tx_reap(struct lvio_net *n, struct lvio_net_txq *tx)
{
    int err = lvio_reqs_reap(&tx->reqs);
    if (err > 0 && !tx->vq.cb_off)
        lvio_vq_disable_cb(&tx->vq);
    for (unsigned s = 0; s < LVIO_NET_TX_SLOTS; s++) {
        struct lvio_net_tx_slot *t = &tx->tx[s];
        if (tx->slots[s].state != LVIO_REQ_DONE)
            continue;
        for (unsigned i = 0; i < t->nshared; i++)
            lvio_unshare_give_back(n->dev, t->shared[i].data, t->shared[i].len,
                                   LVIO_DMA_TO_DEVICE, t->shared[i].addr);
        t->nshared = 0;
        if (!t->sg)
            lvio_reqs_put(&tx->reqs, s); /* its used length means nothing */
    }
    return err < 0 ? err : LVIO_OK;
}

/* Descriptors one frame of `nbufs` data buffers takes. */
static unsigned tx_descs(const struct lvio_net_txq *tx, unsigned nbufs)
{
    return lvio_vq_descs(&tx->vq, nbufs + 1u);
}

/* A free transmit slot with room for a frame of `nbufs` data buffers
 * into *slot: 0; LVIO_E_AGAIN (counted as busy) when there is none now;
 * LVIO_E_INVAL when the queue is too small ever to carry it. */
static int tx_slot(struct lvio_net *n, struct lvio_net_txq *tx, unsigned nbufs, unsigned *slot)
{
    unsigned need = tx_descs(tx, nbufs);
    if (need > tx->vq.size)
        return lvio_fail(n->dev, LVIO_E_INVAL, "net: send: a frame of %u buffer(s) takes %u "
                         "descriptors, the transmit queue has %u", nbufs, need, tx->vq.size);
    if (lvio_vq_num_free(&tx->vq) >= need)
        for (unsigned s = 0; s < LVIO_NET_TX_SLOTS; s++)
            if (tx->slots[s].state == LVIO_REQ_FREE) {
                *slot = s;
                return LVIO_OK;
            }
    /* Full: the device is asked to interrupt when it has sent the next
     * frame, so that a caller waiting for room (asleep until an
     * interrupt) is woken; tx_reap turns that off again. */
    lvio_vq_enable_cb(&tx->vq);
    n->stats.tx_busy++;
    return LVIO_E_AGAIN;
}

/* The header in front of a frame of `len` bytes, into `out` (hdr_len bytes). */
static int tx_header(struct lvio_net *n, const struct lvio_net_tx_info *info, size_t len,
                     uint8_t *out)
{
    struct lvio_virtio_net_hdr h = {0};
    if (info && (info->flags & ~LVIO_NET_TX_CSUM))
        return lvio_fail(n->dev, LVIO_E_INVAL, "net: send: unknown flags 0x%x", info->flags);
    if (info && (info->flags & LVIO_NET_TX_CSUM)) {
        if (!n->csum_tx)
            return lvio_fail(n->dev, LVIO_E_UNSUPPORTED,
                             "net: send: checksum offload asked, CSUM not negotiated");
        if ((size_t)info->csum_start + info->csum_offset + 2u > len)
            return lvio_fail(n->dev, LVIO_E_INVAL, "net: send: checksum at %u + %u is past the "
                             "%zu-byte frame", info->csum_start, info->csum_offset, len);
        h.flags = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = lvio_cpu_to_dev16(n->dev, info->csum_start);
        h.csum_offset = lvio_cpu_to_dev16(n->dev, info->csum_offset);
    }
    h.gso_type = LVIO_VIRTIO_NET_HDR_GSO_NONE;
    memcpy(out, &h, n->hdr_len);
    return LVIO_OK;
}

/* ---- the pairs' calls: checks ----------------------------------------------------------------- */

/* Pair `q` of a net device that is up, and the caller's `arg` not NULL:
 * true; false with the error in *err otherwise. */
static bool pair_ok(struct lvio_net *n, unsigned q, const void *arg, int *err)
{
    if (!n || !arg || !lvio_device_valid(n->dev) || q >= LVIO_NET_MAX_PAIRS) {
        *err = LVIO_E_INVAL;
        return false;
    }
    if (!n->up) {
        *err = lvio_fail(n->dev, LVIO_E_STATE, "net: not up (torn down, or a reset failed)");
        return false;
    }
    if (q >= n->pairs) {
        *err = lvio_fail(n->dev, LVIO_E_INVAL, "net: pair %u of %u", q, n->pairs);
        return false;
    }
    *err = LVIO_OK;
    return true;
}

static bool pair_look(const struct lvio_net *n, unsigned q)
{
    return n && n->up && q < n->pairs && q < LVIO_NET_MAX_PAIRS;
}

/* ---- receiving: the calls ------------------------------------------------------------------- */

unsigned lvio_net_pending(const struct lvio_net *n, unsigned q)
{
    return pair_look(n, q) ? n->q[q].rx.fr_count : 0;
}

int lvio_net_peek(struct lvio_net *n, unsigned q, struct lvio_net_frame *f)
{
    int err;
    if (!pair_ok(n, q, f, &err))
        return err;
    struct lvio_net_rxq *rx = &n->q[q].rx;
    err = rx->fr_count ? LVIO_OK : rx_take(n, q); /* the kept ones first */
    if (rx->fr_count == 0) {
        int e = rx_refill(n, q); /* what a check dropped */
        return err < 0 ? err : e < 0 ? e : LVIO_E_AGAIN;
    }
    f->info = rx->frames[rx->fr_head];
    f->nsegs = f->info.nbufs;
    for (unsigned i = 0; i < f->nsegs; i++) {
        unsigned s = rx->bufs[(rx->buf_head + i) % LVIO_NET_RX_BUFS];
        uint32_t skip = i == 0 ? n->hdr_len : 0;
        f->seg[i].data = (const uint8_t *)lvio_req_buf(&rx->reqs, s) + skip;
        f->seg[i].len = rx->slots[s].len - skip;
    }
    return (int)f->info.len;
}

int lvio_net_release(struct lvio_net *n, unsigned q)
{
    int err;
    if (!pair_ok(n, q, n, &err))
        return err;
    struct lvio_net_rxq *rx = &n->q[q].rx;
    if (rx->fr_count == 0)
        return LVIO_E_AGAIN;
    const struct lvio_net_rx_info *info = &rx->frames[rx->fr_head];
    for (unsigned i = 0; i < info->nbufs; i++) {
        lvio_reqs_put(&rx->reqs, rx->bufs[rx->buf_head]);
        rx->buf_head = (rx->buf_head + 1) % LVIO_NET_RX_BUFS;
        rx->buf_count--;
    }
    rx->packets++;
    rx->bytes += info->len;
    n->stats.rx_packets++;
    n->stats.rx_bytes += info->len;
    rx->fr_head = (rx->fr_head + 1) % LVIO_NET_RX_BUFS;
    rx->fr_count--;
    return rx_refill(n, q);
}

int lvio_net_recv(struct lvio_net *n, unsigned q, void *buf, size_t len,
                  struct lvio_net_rx_info *info)
{
    struct lvio_net_frame f = {.nsegs = 0};
    if (!buf && len)
        return LVIO_E_INVAL;
    int got = lvio_net_peek(n, q, &f);
    if (got < 0)
        return got;
    if (info)
        *info = f.info;
    if ((size_t)got > len)
        return lvio_fail(n->dev, LVIO_E_NOSPC, "net: receive: a %d-byte frame, a %zu-byte buffer "
                         "(the frame is kept)", got, len);
    uint8_t *out = buf; /* not NULL: got > 0 and got <= len */
    for (unsigned i = 0; i < f.nsegs && out; i++) {
        memcpy(out, f.seg[i].data, f.seg[i].len);
        out += f.seg[i].len;
    }
    (void)lvio_net_release(n, q); /* a refill that failed shows at the next call */
    return got;
}

/* ---- transmitting: the calls ------------------------------------------------------------------ */

int lvio_net_send(struct lvio_net *n, unsigned q, const void *frame, size_t len,
                  const struct lvio_net_tx_info *info)
{
    int err;
    if (!pair_ok(n, q, frame, &err))
        return err;
    if (len < ETH_HLEN || len > n->tx_max)
        return lvio_fail(n->dev, LVIO_E_INVAL, "net: send: a frame of %zu bytes (%u to %u)",
                         len, ETH_HLEN, n->tx_max);
    struct lvio_net_txq *tx = &n->q[q].tx;
    err = tx_reap(n, tx);
    if (err)
        return err;
    unsigned s = 0; /* set by tx_slot */
    err = tx_slot(n, tx, split_header(n) ? 1u : 0u, &s);
    if (err)
        return err;
    uint8_t *b = lvio_req_buf(&tx->reqs, s);
    err = tx_header(n, info, len, b);
    if (err)
        return err;
    memcpy(b + n->hdr_len, frame, len);
    struct lvio_req r = {.slot = s, .req_len = n->hdr_len + (uint32_t)len};
    if (split_header(n)) { /* the same bytes, as two buffers */
        r.req_len = n->hdr_len;
        r.out = (struct lvio_sg){lvio_req_addr(&tx->reqs, s) + n->hdr_len, (uint32_t)len};
    }
    err = lvio_reqs_submit(&tx->reqs, &r, 1);
    if (err)
        return err;
    tx->tx[s] = (struct lvio_net_tx_slot){.len = (uint32_t)len};
    tx->packets++;
    tx->bytes += len;
    n->stats.tx_packets++;
    n->stats.tx_bytes += len;
    return LVIO_OK;
}

/* Unshare what send_sg shared so far. */
static void unshare_all(struct lvio_net *n, struct lvio_net_tx_slot *t)
{
    for (unsigned i = 0; i < t->nshared; i++)
        lvio_unshare_give_back(n->dev, t->shared[i].data, t->shared[i].len, LVIO_DMA_TO_DEVICE,
                               t->shared[i].addr);
    t->nshared = 0;
}

/* The buffers of a send_sg: each there and at least a byte, their total a
 * frame's length, into *total. */
static int sg_check(struct lvio_net *n, const struct lvio_net_buf *bufs, unsigned nbufs,
                    size_t *total)
{
    *total = 0;
    if (!bufs || nbufs == 0 || nbufs > LVIO_NET_TX_SEGS)
        return lvio_fail(n->dev, LVIO_E_INVAL, "net: send_sg: %u buffers (1 to %u)", nbufs,
                         LVIO_NET_TX_SEGS);
    for (unsigned i = 0; i < nbufs; i++) {
        if (!bufs[i].data || bufs[i].len == 0)
            return lvio_fail(n->dev, LVIO_E_INVAL, "net: send_sg: buffer %u is empty", i);
        *total += bufs[i].len;
    }
    if (*total < ETH_HLEN || *total > n->tx_max)
        return lvio_fail(n->dev, LVIO_E_INVAL, "net: send_sg: a frame of %zu bytes (%u to %u)",
                         *total, ETH_HLEN, n->tx_max);
    if (!n->dev->hal->share)
        return lvio_fail(n->dev, LVIO_E_UNSUPPORTED, "net: send_sg: the HAL cannot share");
    return LVIO_OK;
}

int lvio_net_send_sg(struct lvio_net *n, unsigned q, const struct lvio_net_buf *bufs,
                     unsigned nbufs, const struct lvio_net_tx_info *info, void *token)
{
    int err;
    size_t total;
    if (!pair_ok(n, q, n, &err))
        return err;
    err = sg_check(n, bufs, nbufs, &total);
    if (err)
        return err;
    struct lvio_net_txq *tx = &n->q[q].tx;
    err = tx_reap(n, tx);
    if (err)
        return err;
    unsigned s = 0; /* set by tx_slot */
    err = tx_slot(n, tx, nbufs, &s);
    if (err)
        return err;
    err = tx_header(n, info, total, lvio_req_buf(&tx->reqs, s));
    if (err)
        return err;
    struct lvio_net_tx_slot *t = &tx->tx[s];
    struct lvio_sg sg[LVIO_NET_TX_SEGS];
    const struct lvio_hal *hal = n->dev->hal;
    *t = (struct lvio_net_tx_slot){.token = token, .len = (uint32_t)total, .sg = true};
    for (unsigned i = 0; i < nbufs; i++) {
        uint64_t addr;
        err = hal->share(hal->ctx, bufs[i].data, bufs[i].len, LVIO_DMA_TO_DEVICE, &addr);
        if (err) {
            unshare_all(n, t);
            t->sg = false;
            return lvio_fail(n->dev, err, "net: send_sg: share() of buffer %u (%u bytes) failed",
                             i, bufs[i].len);
        }
        t->shared[i].data = bufs[i].data;
        t->shared[i].len = bufs[i].len;
        t->shared[i].addr = addr;
        t->nshared = (uint8_t)(i + 1);
        sg[i] = (struct lvio_sg){addr, bufs[i].len};
    }
    struct lvio_req r = {.slot = s, .req_len = n->hdr_len, .outs = sg, .n_outs = nbufs};
    err = lvio_reqs_submit(&tx->reqs, &r, 1);
    if (err) {
        if (tx->slots[s].state == LVIO_REQ_FREE) { /* never reached the device */
            unshare_all(n, t);
            t->sg = false;
        }
        return err;
    }
    tx->packets++;
    tx->bytes += total;
    n->stats.tx_packets++;
    n->stats.tx_bytes += total;
    return LVIO_OK;
}

int lvio_net_tx_done(struct lvio_net *n, unsigned q, void **token)
{
    int err;
    if (!pair_ok(n, q, token, &err))
        return err;
    struct lvio_net_txq *tx = &n->q[q].tx;
    err = tx_reap(n, tx);
    int first = -1;
    uint32_t oldest = 0;
    for (unsigned s = 0; s < LVIO_NET_TX_SLOTS; s++) {
        uint32_t age = tx->reqs.seq - tx->slots[s].seq;
        if (tx->slots[s].state == LVIO_REQ_DONE && tx->tx[s].sg && (first < 0 || age > oldest)) {
            first = (int)s;
            oldest = age;
        }
    }
    if (first < 0)
        return err;
    *token = tx->tx[first].token;
    tx->tx[first] = (struct lvio_net_tx_slot){0};
    lvio_reqs_put(&tx->reqs, (unsigned)first);
    return 1;
}

unsigned lvio_net_tx_room(const struct lvio_net *n, unsigned q)
{
    if (!pair_look(n, q))
        return 0;
    const struct lvio_net_txq *tx = &n->q[q].tx;
    unsigned room = lvio_vq_num_free(&tx->vq) / tx_descs(tx, split_header(n) ? 1u : 0u);
    unsigned free_slots = lvio_reqs_count(&tx->reqs, LVIO_REQ_FREE);
    return room < free_slots ? room : free_slots;
}

/* ---- servicing ------------------------------------------------------------------------------ */

static int net_service(struct lvio_net *n)
{
    int err = LVIO_OK;
    for (unsigned q = 0; q < n->pairs; q++) {
        int e = rx_take(n, q);
        int e2 = rx_refill(n, q);
        int e3 = tx_reap(n, &n->q[q].tx);
        if (err == LVIO_OK)
            err = e < 0 ? e : e2 < 0 ? e2 : e3;
    }
    int e = lvio_net_ctrl_service(n);
    return err ? err : e;
}

int lvio_net_poll(struct lvio_net *n, uint32_t isr)
{
    if (!n || !lvio_device_valid(n->dev))
        return LVIO_E_INVAL;
    if (!n->up)
        return LVIO_E_STATE;
    int err = net_service(n);
    if (isr & LVIO_VIRTIO_ISR_CONFIG) {
        n->stats.config_changes++;
        int e = lvio_device_check(n->dev);
        if (e == LVIO_OK)
            e = lvio_net_status(n, true);
        if (err == LVIO_OK)
            err = e;
    }
    if (err < 0)
        return err;
    unsigned frames = 0;
    for (unsigned q = 0; q < n->pairs; q++)
        frames += n->q[q].rx.fr_count;
    return (int)frames;
}

int lvio_net_rx_notify(struct lvio_net *n, bool on)
{
    if (!n || !lvio_device_valid(n->dev))
        return LVIO_E_INVAL;
    if (!n->up)
        return LVIO_E_STATE;
    int raced = 0;
    for (unsigned q = 0; q < n->pairs; q++) {
        if (!on)
            lvio_vq_disable_cb(&n->q[q].rx.vq);
        else if (lvio_vq_enable_cb(&n->q[q].rx.vq))
            raced = 1;
    }
    return raced;
}

/* ---- setup -------------------------------------------------------------------------------- */

/* Every queue and engine set up so far: memory back (or kept, dead), and
 * what send_sg shared given back. After a reset only. */
static void net_free_queues(struct lvio_net *n)
{
    for (unsigned q = 0; q < LVIO_NET_MAX_PAIRS; q++) {
        struct lvio_net_txq *tx = &n->q[q].tx;
        for (unsigned s = 0; s < LVIO_NET_TX_SLOTS; s++)
            unshare_all(n, &tx->tx[s]);
        lvio_vq_teardown(&n->q[q].rx.vq);
        lvio_vq_teardown(&tx->vq);
        lvio_reqs_teardown(&n->q[q].rx.reqs);
        lvio_reqs_teardown(&tx->reqs);
    }
    lvio_vq_teardown(&n->ctrlq);
    lvio_reqs_teardown(&n->ctrl_reqs);
}

/* Negotiate: what is wanted less what the caller refuses; a device that
 * offers a feature without the one it needs has the dependant refused
 * (a second negotiation from the start). */
static int net_negotiate(struct lvio_net *n)
{
    struct lvio_device *dev = n->dev;
    /* ANY_LAYOUT is a legacy bit: VERSION_1 implies it (2.7.4). */
    uint64_t want = NET_FEATURES | (n->opts.csum ? CSUM_FEATURES : 0) |
                    (n->opts.big_rx ? BIG_RX_FEATURES : 0) |
                    (dev->legacy ? 1ull << LVIO_VIRTIO_F_ANY_LAYOUT : 0);
    uint64_t refused = dev->features_refused;
    dev->features_refused |= n->opts.refuse;
    int err = lvio_device_begin(dev, want);
    uint64_t acc = dev->features_accepted, bad = 0;
    if (err == LVIO_OK && !lvio_has_feature(acc, LVIO_VIRTIO_NET_F_CTRL_VQ))
        bad |= acc & NEED_CTRL_VQ;
    if (err == LVIO_OK && !lvio_has_feature(acc, LVIO_VIRTIO_NET_F_GUEST_CSUM))
        bad |= acc & NEED_GUEST_CSUM;
    if (bad) {
        lvio_log(dev, LVIO_LOG_WARN, "net: the device offers features 0x%llx without the ones "
                 "they need: refused", (unsigned long long)bad);
        err = lvio_device_begin(dev, want & ~bad);
    }
    dev->features_refused = refused;
    n->features = dev->features_accepted;
    return err;
}

/* mac, status, max_virtqueue_pairs, mtu; the sizes that follow from them. */
static int net_read_config(struct lvio_net *n)
{
    struct lvio_device *dev = n->dev;
    int err = LVIO_OK;
    n->mtu = DEFAULT_MTU;
    n->max_pairs = 1;
    if (lvio_net_has(n, LVIO_VIRTIO_NET_F_MAC)) {
        err = lvio_config_read(dev, CFG(mac), n->mac, sizeof n->mac);
        n->has_mac = err == LVIO_OK;
    }
    if (err == LVIO_OK && lvio_net_has(n, LVIO_VIRTIO_NET_F_MQ)) {
        err = lvio_config_read16(dev, CFG(max_virtqueue_pairs), &n->max_pairs);
        if (err == LVIO_OK && (n->max_pairs < LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN ||
                               n->max_pairs > LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX))
            err = lvio_fail(dev, LVIO_E_CONFIG, "net: max_virtqueue_pairs %u with MQ (1 to %u)",
                            n->max_pairs, LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX);
    }
    if (err == LVIO_OK && lvio_net_has(n, LVIO_VIRTIO_NET_F_MTU)) {
        err = lvio_config_read16(dev, CFG(mtu), &n->mtu);
        if (err == LVIO_OK && n->mtu < LVIO_VIRTIO_NET_MIN_MTU)
            err = lvio_fail(dev, LVIO_E_CONFIG, "net: mtu %u, below %u", n->mtu,
                            LVIO_VIRTIO_NET_MIN_MTU);
    }
    if (err == LVIO_OK)
        err = lvio_net_status(n, false);
    if (err)
        return err;
    unsigned want = n->opts.queue_pairs ? n->opts.queue_pairs : 1;
    n->pairs = want < n->max_pairs ? want : n->max_pairs;
    if (n->pairs > LVIO_NET_MAX_PAIRS)
        n->pairs = LVIO_NET_MAX_PAIRS;
    n->mrg_rxbuf = lvio_net_has(n, LVIO_VIRTIO_NET_F_MRG_RXBUF);
    n->hdr_len = n->mrg_rxbuf || lvio_net_has(n, LVIO_VIRTIO_F_VERSION_1)
                     ? LVIO_VIRTIO_NET_HDR_LEN : LVIO_VIRTIO_NET_HDR_LEN_LEGACY;
    n->csum_tx = lvio_net_has(n, LVIO_VIRTIO_NET_F_CSUM);
    n->csum_rx = lvio_net_has(n, LVIO_VIRTIO_NET_F_GUEST_CSUM);
    n->big_rx = (n->features & NEED_GUEST_CSUM) != 0;
    n->ctrl = lvio_net_has(n, LVIO_VIRTIO_NET_F_CTRL_VQ);
    n->has_status = lvio_net_has(n, LVIO_VIRTIO_NET_F_STATUS);
    n->tx_max = n->mtu + ETH_HLEN + VLAN_HLEN;
    n->rx_max = n->big_rx && n->tx_max < LVIO_VIRTIO_NET_MAX_GSO_FRAME
                    ? LVIO_VIRTIO_NET_MAX_GSO_FRAME : n->tx_max;
    n->rx_buf_size = n->mrg_rxbuf ? LVIO_PAGE_SIZE : (n->hdr_len + n->rx_max + 7u) & ~7u;
    return LVIO_OK;
}

/* An engine and its queue, sized for `descs` descriptors a buffer (a
 * frame, a command): a queue the device makes too small for one is
 * refused. */
static int setup_one(struct lvio_net *n, struct lvio_reqs *r, struct lvio_virtqueue *vq,
                     struct lvio_req_slot *slots, unsigned nslots, uint32_t size,
                     bool device_writes, uint16_t index, unsigned descs)
{
    int err = lvio_reqs_init(r, n->dev, vq, slots, nslots, size, device_writes ? 0 : size);
    uint32_t max = 1; /* a power of two (the ring's size) with room for them all */
    while (max < nslots * descs && max < 0x8000u)
        max *= 2;
    if (err == LVIO_OK)
        err = lvio_vq_setup(vq, n->dev, index, (uint16_t)max);
    if (err == LVIO_OK && vq->size < lvio_vq_descs(vq, descs))
        err = lvio_fail(n->dev, LVIO_E_QUEUE, "net: queue %u has %u descriptor(s), one of its "
                        "chains takes %u", index, vq->size, lvio_vq_descs(vq, descs));
    return err;
}

/* Each pair's queues and the control queue; unwinds itself on failure
 * (the device reset first). */
static int net_setup_queues(struct lvio_net *n)
{
    unsigned rx_bufs = n->opts.rx_bufs ? n->opts.rx_bufs : LVIO_NET_RX_BUFS_DEFAULT;
    if (n->rx_buf_size > BIG_BUF && rx_bufs > LVIO_NET_RX_BIG_BUFS)
        rx_bufs = LVIO_NET_RX_BIG_BUFS;
    uint32_t tx_size = (n->hdr_len + n->tx_max + 7u) & ~7u;
    int err = LVIO_OK;
    for (unsigned q = 0; q < n->pairs && err == LVIO_OK; q++) {
        err = setup_one(n, &n->q[q].rx.reqs, &n->q[q].rx.vq, n->q[q].rx.slots, rx_bufs,
                        n->rx_buf_size, true, LVIO_VIRTIO_NET_RX(q), rx_split(n) ? 2u : 1u);
        if (err == LVIO_OK)
            err = setup_one(n, &n->q[q].tx.reqs, &n->q[q].tx.vq, n->q[q].tx.slots,
                            LVIO_NET_TX_SLOTS, tx_size, false, LVIO_VIRTIO_NET_TX(q),
                            split_header(n) ? 2u : 1u);
        /* Sent buffers are reclaimed by the next send or poll: the device
         * need not interrupt for them (a hint it may ignore). */
        if (err == LVIO_OK)
            lvio_vq_disable_cb(&n->q[q].tx.vq);
    }
    if (err == LVIO_OK && n->ctrl)
        err = lvio_net_ctrl_setup(n);
    if (err) {
        err = lvio_device_reset_after(n->dev, err);
        net_free_queues(n);
    }
    return err;
}

/* Negotiate, read the configuration, queues, buffers, DRIVER_OK, then the
 * pairs (MQ); FAILED on error. */
static int net_bring_up(struct lvio_net *n)
{
    struct lvio_device *dev = n->dev;
    int err = net_negotiate(n);
    if (err)
        return err;
    err = net_read_config(n);
    if (err)
        goto fail;
    err = net_setup_queues(n);
    if (err)
        goto fail;
    for (unsigned q = 0; q < n->pairs && err == LVIO_OK; q++)
        err = rx_post(n, &n->q[q].rx, false); /* no notify before DRIVER_OK */
    if (err == LVIO_OK)
        err = lvio_device_driver_ok(dev);
    for (unsigned q = 0; q < n->pairs && err == LVIO_OK; q++)
        err = lvio_vq_kick(&n->q[q].rx.vq);
    n->up = err == LVIO_OK;
    if (err == LVIO_OK)
        err = lvio_net_ctrl_set_pairs(n);
    if (err)
        goto teardown_queues;
    lvio_log(dev, LVIO_LOG_INFO, "net: %u pair(s) of %u, %u-byte header, mtu %u, link %s",
             n->pairs, n->max_pairs, n->hdr_len, n->mtu, n->link_up ? "up" : "down");
    return LVIO_OK;

teardown_queues:
    n->up = false;
    err = lvio_device_reset_after(dev, err); /* the device lets go of the rings first */
    net_free_queues(n);
fail:
    lvio_device_fail(dev);
    return err;
}

/* A fresh struct for `dev` with `opts`, keeping `resets`. */
static void net_clear(struct lvio_net *n, struct lvio_device *dev, const struct lvio_net_opts *o,
                      uint32_t resets)
{
    memset(n, 0, sizeof *n);
    n->dev = dev;
    n->opts = *o;
    n->timeout_ns = LVIO_NET_CTRL_TIMEOUT_NS;
    n->link_up = true;
    n->ack_slot = -1;
    n->stats.resets = resets;
}

int lvio_net_init(struct lvio_net *n, struct lvio_device *dev, const struct lvio_net_opts *opts)
{
    static const struct lvio_net_opts none = {0};
    if (!n || !lvio_device_valid(dev))
        return LVIO_E_INVAL;
    if (dev->device_id != LVIO_VIRTIO_ID_NET)
        return lvio_fail(dev, LVIO_E_INVAL, "net: device id %u is not a network device",
                         dev->device_id);
    if (opts && opts->rx_bufs && (opts->rx_bufs <= LVIO_NET_FRAME_SEGS ||
                                  opts->rx_bufs > LVIO_NET_RX_BUFS))
        return lvio_fail(dev, LVIO_E_INVAL, "net: %u receive buffers asked (%u to %u)",
                         opts->rx_bufs, LVIO_NET_FRAME_SEGS + 1, LVIO_NET_RX_BUFS);
    net_clear(n, dev, opts ? opts : &none, 0);
    return net_bring_up(n);
}

/* ---- teardown and reset ------------------------------------------------------------------- */

static void net_down(struct lvio_net *n)
{
    if (!n->up)
        return;
    n->up = false;
    lvio_device_reset(n->dev);
    net_free_queues(n);
}

void lvio_net_teardown(struct lvio_net *n)
{
    if (n && lvio_device_valid(n->dev))
        net_down(n);
}

int lvio_net_reset(struct lvio_net *n)
{
    if (!n || !lvio_device_valid(n->dev))
        return LVIO_E_INVAL;
    net_down(n);
    struct lvio_net_opts opts = n->opts;
    net_clear(n, n->dev, &opts, n->stats.resets + 1);
    return net_bring_up(n);
}

#else
typedef int lvio_net_left_out; /* ISO C wants a declaration */
#endif
