/*
 * fuzz_net: the virtio-net driver over a device whose features,
 * configuration (mac, status, max_virtqueue_pairs, mtu), queue sizes and
 * every answer come from the input: received frames of any header (flags,
 * GSO type and size, checksum position, num_buffers), any length, any
 * used length (short, past the buffer), merged over several buffers or
 * lying about how many; transmit buffers held and given back late;
 * control commands answered OK, ERR, with another value, without an ack
 * byte, or not at all; link and announce changes; held and late answers,
 * lies about chains, and (with hostile registers) register reads; DMA and
 * share failures as fuzz_dev.h gives them.
 *
 * Sequence: lvio_net_init with options from the input (pairs, checksum
 * offload, large receive, features refused), then operations chosen by
 * the input (poll; receive by copy, and by peek and release; send by
 * copy and in place; take tokens back; the receive mode; the MAC
 * address; the device acting; reset; the events and the link), then
 * lvio_net_teardown.
 *
 * The device checks what the driver gives it while its view can be
 * trusted (it has not lied, its registers are not hostile): receive
 * chains only writable, a legacy device without ANY_LAYOUT given the
 * header alone (receive without MRG_RXBUF, transmit, control); transmit
 * chains only readable, a header then exactly the next frame the caller
 * sent on that pair, with the checksum request it asked for; control
 * commands of a class and command the driver sends, with their data's
 * length, an ack byte to write. The harness checks every call returns
 * what it documents; a receive returns at most what was asked and writes
 * nothing past it, and a frame handed out (copied or peeked) is at most
 * rx_max bytes; while the device told the truth about a pair's frames
 * (whole frames, published together, honest lengths and num_buffers),
 * each frame handed out is one the device completed, byte for byte, in
 * the order it completed them (those between dropped); tokens of frames
 * sent in place come back once each, their buffers no longer shared; and
 * at the end every DMA page and share is back or kept for a dead device.
 *
 * Input: the common header (fuzz_dev.h), features ^ (VERSION_1, MAC,
 * STATUS, MRG_RXBUF, CTRL_VQ, CTRL_RX, CTRL_MAC_ADDR, GUEST_ANNOUNCE, MQ,
 * CSUM, GUEST_CSUM) (8), QueueNumMax ^ 32 (2), the 12 configuration bytes
 * ^ (52:54:00:12:34:56, LINK_UP, 2 pairs, mtu 1500), the options (1 + 8),
 * then operations interleaved with the device's decisions. Values the
 * device reads and writes are little-endian (a legacy device's are in the
 * host's order: the same where the fuzzer runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_net.h"

#define MAX_OPS 64
#define PAIRS 3              /* queues 0..5, the control queue up to 6 (FZ_MAX_QUEUES 8) */
#define FRAMES 512           /* frames remembered per pair */
#define SENT 512             /* frames sent remembered per pair */
#define POOL 8               /* send_sg frames of the harness's */
#define MAXF 4096            /* bytes the harness sends in a frame at most */
#define CANARY 0xc5
#define NF(x) (1ull << LVIO_VIRTIO_NET_F_##x)

/* A frame the device completed: its buffers' tags and data lengths. */
struct rxframe {
    uint32_t len;
    uint8_t nb;
    uint8_t tag[LVIO_NET_FRAME_SEGS];
    uint32_t dlen[LVIO_NET_FRAME_SEGS];
};

struct rx_model {
    struct rxframe fr[FRAMES];
    unsigned nfr, next;          /* frames recorded; the next the driver may give */
    bool truthful;               /* every frame so far whole, honest, in order */
    struct rxframe cur;          /* the frame being filled (merged) */
    unsigned left;               /* its buffers still to come */
    uint16_t heads[LVIO_NET_FRAME_SEGS]; /* its chains held until the last */
    unsigned tagseq;
};

/* A frame the caller sent: what the device must read. */
struct txframe {
    uint32_t len, seed;
    bool csum;
    uint16_t start, off;
};

struct tx_model {
    struct txframe fr[SENT];
    unsigned head, n;            /* FIFO */
    bool lost;                   /* more than SENT: stop checking */
};

struct sg_frame {
    uint8_t *buf[LVIO_NET_TX_SEGS + 1];
    uint32_t len[LVIO_NET_TX_SEGS + 1];
    unsigned nbufs;
    bool out;                    /* with the driver: its token not back */
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_net net;
    struct lvio_net_opts opts;
    struct rx_model rx[PAIRS];
    struct tx_model tx[PAIRS];
    struct sg_frame pool[POOL];
    bool up;
    uint64_t handed;             /* frames the caller got */
} S;

static const uint64_t FEATURES =
    (1ull << LVIO_VIRTIO_F_VERSION_1) | NF(MAC) | NF(STATUS) | NF(MRG_RXBUF) | NF(CTRL_VQ) |
    NF(CTRL_RX) | NF(CTRL_MAC_ADDR) | NF(GUEST_ANNOUNCE) | NF(MQ) | NF(CSUM) | NF(GUEST_CSUM);

#define RULE(...) FZ_TRUSTED_RULE(&S.f, __VA_ARGS__)

static bool negotiated(unsigned bit)
{
    return (S.f.driver_features >> bit) & 1;
}

static uint32_t hdr_len(void)
{
    return negotiated(LVIO_VIRTIO_F_VERSION_1) || negotiated(LVIO_VIRTIO_NET_F_MRG_RXBUF) ? 12
                                                                                          : 10;
}

static bool split_layout(void)
{
    return !negotiated(LVIO_VIRTIO_F_VERSION_1) && !negotiated(LVIO_VIRTIO_F_ANY_LAYOUT);
}

static uint16_t ctrl_queue(void)
{
    uint16_t max = (uint16_t)(S.f.config[8] | S.f.config[9] << 8);
    return negotiated(LVIO_VIRTIO_NET_F_MQ) ? (uint16_t)(2u * max) : 2u;
}

/* Byte `i` of the harness's frame from `seed`. */
static uint8_t frame_byte(uint32_t seed, uint32_t i)
{
    return (uint8_t)(seed * 7u + i * 13u + (i >> 8));
}

/* ---- chains ------------------------------------------------------------------------------- */

/* The chain's bytes the device writes (all writable, else a breach). */
static uint32_t rx_room(const struct fz_chain *c)
{
    uint32_t room = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (!c->buf[i].write)
            RULE("receive chain %u: buffer %u is device-readable", c->head, i);
        room += c->buf[i].write ? c->buf[i].len : 0;
    }
    return room;
}

/* Write `k` bytes of `v` (or of `src`) at offset `off` of a receive chain. */
static void rx_put(const struct fz_chain *c, uint32_t off, const uint8_t *src, uint8_t v,
                   uint32_t k)
{
    for (unsigned i = 0; i < c->n && k; i++) {
        const struct fz_buf *b = &c->buf[i];
        if (!b->write || !b->cpu)
            continue;
        if (off >= b->len) {
            off -= b->len;
            continue;
        }
        uint32_t n = b->len - off < k ? b->len - off : k;
        if (src) {
            memcpy(b->cpu + off, src, n);
            src += n;
        } else {
            memset(b->cpu + off, v, n);
        }
        k -= n;
        off = 0;
    }
}

/* Every buffer of the chain in DMA memory the device can write. */
static bool rx_whole(const struct fz_chain *c)
{
    for (unsigned i = 0; i < c->n; i++)
        if (!c->buf[i].write || !c->buf[i].cpu)
            return false;
    return c->n > 0;
}

/* A header from the device's tape. */
static void make_header(struct fz *f, uint8_t *h, uint16_t nbufs, uint32_t dlen)
{
    uint8_t k = fz_u8(&f->t);
    memset(h, 0, 12);
    switch (k % 8) {
    case 1: h[0] = LVIO_VIRTIO_NET_HDR_F_DATA_VALID; break;
    case 2:
        h[0] = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM;
        fz_put_le16(h + 6, (uint16_t)(fz_u8(&f->t) % (dlen + 1)));
        fz_put_le16(h + 8, fz_u8(&f->t) % 20u);
        break;
    case 3:
        h[0] = LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h[1] = (uint8_t)(fz_u8(&f->t) % 6u);
        fz_put_le16(h + 4, fz_u16(&f->t));
        fz_put_le16(h + 6, 34);
        fz_put_le16(h + 8, 16);
        break;
    case 4: fz_bytes(&f->t, h, 10); break;
    default: break;
    }
    fz_put_le16(h + 10, nbufs);
}

/* End of a truthful frame's buffers: record it. */
static void rx_record(struct rx_model *m)
{
    if (m->nfr == FRAMES) {
        m->truthful = false;
        return;
    }
    m->fr[m->nfr++] = m->cur;
}

/* A receive chain: the next buffer of a frame. */
static uint32_t net_rx(struct fz *f, struct fz_chain *c, unsigned pair)
{
    struct rx_model *m = &S.rx[pair];
    uint32_t room = rx_room(c), hl = hdr_len();
    if (split_layout() && !negotiated(LVIO_VIRTIO_NET_F_MRG_RXBUF) && c->n &&
        c->buf[0].len != hl)
        RULE("legacy receive chain without ANY_LAYOUT: first buffer %u bytes", c->buf[0].len);
    if (!rx_whole(c) || room < hl) {
        m->truthful = false;
        return 0;
    }
    bool mrg = negotiated(LVIO_VIRTIO_NET_F_MRG_RXBUF);
    uint8_t k = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    uint8_t tag = (uint8_t)(1 + m->tagseq++ % 250); /* never 0 */
    rx_put(c, 0, NULL, 0, room);
    if (m->left) { /* a merged frame's next buffer */
        uint32_t d = m->left == 1 ? 1 + fz_u16(&f->t) % room : room;
        rx_put(c, 0, NULL, tag, d);
        m->cur.tag[m->cur.nb] = tag;
        m->cur.dlen[m->cur.nb++] = d;
        m->cur.len += d;
        m->heads[m->cur.nb - 1] = c->head;
        if (--m->left) {
            f->hold_this = true;
            return d;
        }
        /* The last: the others first, together (as QEMU publishes them). */
        for (unsigned i = 0; i + 1 < m->cur.nb; i++) {
            bool still = false;
            uint32_t used = 0;
            for (unsigned j = 0; j < f->nheld; j++)
                if (f->held[j].queue == c->queue && f->held[j].head == m->heads[i]) {
                    still = true;
                    used = f->held[j].len;
                }
            if (!still) {
                m->truthful = false; /* the device let one go early */
                continue;
            }
            fz_push_used(f, c->queue, m->heads[i], used);
        }
        rx_record(m);
        return d;
    }
    uint8_t h[12];
    bool behave = fz_empty(&f->t); /* out of tape: a plain 60-byte frame */
    uint32_t nb = mrg && (k & 0x10) ? 2 + (k >> 5) % 3 : 1;
    uint32_t d = nb > 1 ? room - hl : fz_u16(&f->t) % (room - hl + 1);
    if (behave)
        d = room - hl < 60 ? room - hl : 60;
    make_header(f, h, (uint16_t)nb, d);
    uint32_t used = hl + d;
    switch (k % 8) {
    case 5: used = fz_u16(&f->t) % (room + 1); m->truthful = false; break;   /* short */
    case 6: used = room + 1 + fz_u16(&f->t); m->truthful = false; break;     /* past it */
    case 7: fz_put_le16(h + 10, fz_u16(&f->t) % 24u); m->truthful &= !mrg; break; /* num_buffers */
    default: break;
    }
    if (!mrg)
        h[10] = h[11] = 0xee; /* QEMU leaves them: no meaning */
    rx_put(c, 0, h, 0, hl);
    rx_put(c, hl, NULL, tag, d);
    m->cur = (struct rxframe){.len = d, .nb = 1};
    m->cur.tag[0] = tag;
    m->cur.dlen[0] = d;
    m->heads[0] = c->head;
    if (nb > 1) {
        m->left = nb - 1;
        f->hold_this = true;
        return used;
    }
    if (k & 0x08) { /* held: answered later, maybe out of order */
        f->hold_this = true;
        m->truthful = false;
    }
    rx_record(m);
    return used;
}

/* A transmit chain: the header, then the caller's next frame. */
static uint32_t net_tx(struct fz *f, struct fz_chain *c, unsigned pair)
{
    static uint8_t buf[16 + LVIO_NET_FRAME_MAX];
    struct tx_model *m = &S.tx[pair];
    uint32_t len = 0, hl = hdr_len();
    for (unsigned i = 0; i < c->n; i++) {
        const struct fz_buf *b = &c->buf[i];
        if (b->write || !b->cpu || len + b->len > sizeof buf) {
            RULE("transmit chain buffer %u: %u bytes, %s", i, b->len,
                 b->write ? "writable" : "readable");
            m->lost = true;
            return 0;
        }
        memcpy(buf + len, b->cpu, b->len);
        len += b->len;
    }
    if (split_layout() && c->n && c->buf[0].len != hl)
        RULE("legacy transmit chain without ANY_LAYOUT: first buffer %u bytes", c->buf[0].len);
    if (len < hl)
        RULE("transmit chain of %u bytes, shorter than the header", len);
    if (!m->lost && fz_trusted(&S.f)) {
        if (m->n == 0)
            fz_die("pair %u transmits a frame nobody sent", pair);
        const struct txframe *t = &m->fr[m->head];
        m->head = (m->head + 1) % SENT;
        m->n--;
        if (len != hl + t->len)
            fz_die("pair %u transmits %u bytes, the frame was %u with a %u-byte header", pair,
                   len, t->len, hl);
        for (uint32_t i = 0; i < t->len; i++)
            if (buf[hl + i] != frame_byte(t->seed, i))
                fz_die("pair %u: byte %u of the frame sent differs", pair, i);
        uint8_t want = t->csum ? LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
        if (buf[0] != want || buf[1] != 0 ||
            (t->csum && (fz_get_le16(buf + 6) != t->start || fz_get_le16(buf + 8) != t->off)))
            fz_die("pair %u: header flags 0x%x gso 0x%x start %u offset %u", pair, buf[0],
                   buf[1], fz_get_le16(buf + 6), fz_get_le16(buf + 8));
    }
    return fz_read_answer(f);
}

/* A control command: checked, answered as the tape says. */
static uint32_t net_ctrl(struct fz *f, struct fz_chain *c)
{
    uint8_t cmd[32] = {0};
    uint32_t out = 0, in = 0;
    uint8_t *ack = NULL;
    for (unsigned i = 0; i < c->n; i++) {
        const struct fz_buf *b = &c->buf[i];
        if (b->write) {
            if (!ack && b->cpu && b->len)
                ack = b->cpu;
            in += b->len;
            continue;
        }
        if (in)
            RULE("control chain: a readable buffer after a writable one");
        if (b->cpu && out + b->len <= sizeof cmd)
            memcpy(cmd + out, b->cpu, b->len);
        out += b->len;
    }
    if (out < 2 || in < 1)
        RULE("control chain: %u readable, %u writable bytes", out, in);
    if (split_layout() && c->n && c->buf[0].len != 2)
        RULE("legacy control chain without ANY_LAYOUT: a header of %u bytes", c->buf[0].len);
    uint32_t data = out >= 2 ? out - 2 : 0;
    bool known = (cmd[0] == LVIO_VIRTIO_NET_CTRL_RX && cmd[1] <= 1 && data == 1 && cmd[2] <= 1) ||
                 (cmd[0] == LVIO_VIRTIO_NET_CTRL_MAC &&
                  cmd[1] == LVIO_VIRTIO_NET_CTRL_MAC_ADDR_SET && data == 6 && !(cmd[2] & 1)) ||
                 (cmd[0] == LVIO_VIRTIO_NET_CTRL_ANNOUNCE &&
                  cmd[1] == LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK && data == 0) ||
                 (cmd[0] == LVIO_VIRTIO_NET_CTRL_MQ &&
                  cmd[1] == LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && data == 2 &&
                  fz_get_le16(cmd + 2) >= 2 && fz_get_le16(cmd + 2) <= PAIRS);
    if (!known)
        RULE("control command %u/%u with %u bytes of data", cmd[0], cmd[1], data);
    uint8_t k = fz_empty(&f->t) ? 0 : fz_u8(&f->t);
    uint8_t v = LVIO_VIRTIO_NET_OK;
    switch (k % 8) {
    case 1: v = LVIO_VIRTIO_NET_ERR; break;
    case 2: v = fz_u8(&f->t); break;
    case 3: return 0; /* no ack byte */
    case 4: f->hold_this = true; break;
    case 5: return fz_u16(&f->t); /* any length, the byte as it was */
    default: break;
    }
    if (ack)
        *ack = v;
    return 1;
}

static uint32_t net_service(struct fz *f, struct fz_chain *c)
{
    if (c->queue == ctrl_queue() && negotiated(LVIO_VIRTIO_NET_F_CTRL_VQ))
        return net_ctrl(f, c);
    unsigned pair = c->queue / 2u; /* a live queue: the driver set it up (a zombie
                                       device still serves those of before a reset) */
    if (pair >= PAIRS)
        return 0;
    return c->queue % 2 == 0 ? net_rx(f, c, pair) : net_tx(f, c, pair);
}

/* The device forgets the driver: frames in flight gone. */
static void net_reset(struct fz *f)
{
    (void)f;
    for (unsigned p = 0; p < PAIRS; p++) {
        S.rx[p].left = 0;
        S.rx[p].next = S.rx[p].nfr; /* what was completed and not taken is dropped */
        S.rx[p].truthful = true;
        S.tx[p].n = 0;
        S.tx[p].head = 0;
        S.tx[p].lost = false;
    }
}

/* A legacy driver may write the mac; width 0: a configuration change (a
 * new status). */
static void net_config_write(struct fz *f, uint32_t off, unsigned width, uint32_t v)
{
    if (width == 0) {
        fz_put_le16(f->config + 6, fz_u16(&f->t));
        return;
    }
    if (off + width > 6)
        RULE("net config write of %u bytes at %u", width, off);
    for (unsigned i = 0; i < width && off + i < 6; i++)
        f->config[off + i] = (uint8_t)(v >> (8 * i));
}

/* ---- the driver side --------------------------------------------------------------------- */

/* A frame the caller got on `pair`, `n` bytes at `b` (or the peeked
 * segments): the next the device completed whole, or a later one. */
static void check_frame(unsigned pair, const struct lvio_net_frame *fr, const uint8_t *b, int n)
{
    struct rx_model *m = &S.rx[pair];
    if ((uint32_t)n > S.net.rx_max || (uint32_t)n > LVIO_NET_FRAME_MAX)
        fz_die("a frame of %d bytes, rx_max %u", n, S.net.rx_max);
    S.handed++;
    if (!m->truthful || !fz_trusted(&S.f))
        return;
    for (unsigned j = m->next; j < m->nfr; j++) {
        const struct rxframe *e = &m->fr[j];
        if (e->len != (uint32_t)n)
            continue;
        bool same = true;
        uint32_t at = 0;
        unsigned seg = 0;
        uint32_t in_seg = 0;
        for (unsigned i = 0; i < e->nb && same; i++) {
            for (uint32_t x = 0; x < e->dlen[i] && same; x++, at++) {
                uint8_t got;
                if (b) {
                    got = b[at];
                } else {
                    while (seg < fr->nsegs && in_seg == fr->seg[seg].len) {
                        seg++;
                        in_seg = 0;
                    }
                    if (seg == fr->nsegs)
                        fz_die("peeked segments shorter than the frame's %d bytes", n);
                    got = fr->seg[seg].data[in_seg++];
                }
                same = got == e->tag[i];
            }
        }
        if (same) {
            m->next = j + 1;
            return;
        }
    }
    fz_die("pair %u: a %d-byte frame the device did not complete (frames %u..%u)", pair, n,
           m->next, m->nfr);
}

static void op_recv(unsigned pair, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        fz_die("host out of memory");
    memset(buf, CANARY, len + 1);
    struct lvio_net_rx_info info;
    fz_call(&S.f, "lvio_net_recv");
    int rv = lvio_net_recv(&S.net, pair, buf, len, &info);
    FZ_EXPECT("lvio_net_recv", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_AGAIN, LVIO_E_NOSPC,
              LVIO_E_INVAL, LVIO_E_STATE, LVIO_E_BROKEN);
    if (rv > (int)len)
        fz_die("lvio_net_recv of %zu bytes returned %d", len, rv);
    for (size_t i = rv > 0 ? (size_t)rv : 0; i <= len; i++)
        if (buf[i] != CANARY)
            fz_die("lvio_net_recv returned %d and wrote byte %zu", rv, i);
    if (rv == LVIO_E_NOSPC && info.len <= len)
        fz_die("LVIO_E_NOSPC for a %u-byte frame into %zu bytes", info.len, len);
    if (rv >= 0) {
        if (info.len != (uint32_t)rv || info.queue != pair || info.nbufs < 1 ||
            info.nbufs > LVIO_NET_FRAME_SEGS)
            fz_die("lvio_net_recv: info len %u queue %u nbufs %u for %d bytes", info.len,
                   info.queue, info.nbufs, rv);
        if ((info.flags & LVIO_NET_RX_CSUM_PARTIAL) &&
            (uint32_t)info.csum_start + info.csum_offset + 2u > info.len)
            fz_die("a partial checksum at %u + %u in %u bytes", info.csum_start,
                   info.csum_offset, info.len);
        check_frame(pair, NULL, buf, rv);
    }
    free(buf);
}

static void op_peek(unsigned pair, bool release)
{
    struct lvio_net_frame fr;
    fz_call(&S.f, "lvio_net_peek");
    int rv = lvio_net_peek(&S.net, pair, &fr);
    FZ_EXPECT("lvio_net_peek", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_AGAIN, LVIO_E_INVAL,
              LVIO_E_STATE, LVIO_E_BROKEN);
    if (rv >= 0) {
        uint32_t sum = 0;
        if (fr.nsegs < 1 || fr.nsegs > LVIO_NET_FRAME_SEGS)
            fz_die("a peeked frame of %u segments", fr.nsegs);
        for (unsigned i = 0; i < fr.nsegs; i++)
            sum += fr.seg[i].len;
        if (sum != (uint32_t)rv || fr.info.len != (uint32_t)rv)
            fz_die("peeked segments of %u bytes for a %d-byte frame", sum, rv);
        if (release)
            check_frame(pair, &fr, NULL, rv);
    }
    if (!release)
        return;
    fz_call(&S.f, "lvio_net_release");
    int r2 = lvio_net_release(&S.net, pair);
    FZ_EXPECT("lvio_net_release", r2, LVIO_OK, LVIO_E_AGAIN, LVIO_E_INVAL, LVIO_E_STATE,
              LVIO_E_BROKEN);
    if ((r2 == LVIO_E_AGAIN) != (rv == LVIO_E_AGAIN) && rv >= 0)
        fz_die("a frame peeked, release returned %d", r2);
}

/* The next frame a send on `pair` puts out, `len` bytes from `seed`. */
static void expect_tx(unsigned pair, uint32_t len, uint32_t seed,
                      const struct lvio_net_tx_info *t)
{
    struct tx_model *m = &S.tx[pair % PAIRS];
    if (m->n == SENT) {
        m->lost = true;
        return;
    }
    struct txframe *e = &m->fr[(m->head + m->n++) % SENT];
    *e = (struct txframe){len, seed, t && (t->flags & LVIO_NET_TX_CSUM), t ? t->csum_start : 0,
                          t ? t->csum_offset : 0};
}

static void op_send(unsigned pair, uint32_t len, uint8_t k)
{
    static uint8_t buf[MAXF];
    uint32_t seed = k * 31u + len;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = frame_byte(seed, i);
    struct lvio_net_tx_info t = {.flags = k & 1 ? LVIO_NET_TX_CSUM : 0, .csum_start = 34,
                                 .csum_offset = (uint16_t)(k >> 4)};
    if (k & 2)
        t.flags |= 0x100; /* unknown */
    fz_call(&S.f, "lvio_net_send");
    int rv = lvio_net_send(&S.net, pair, buf, len, k & 4 ? NULL : &t);
    FZ_EXPECT("lvio_net_send", rv, LVIO_OK, LVIO_E_AGAIN, LVIO_E_INVAL, LVIO_E_UNSUPPORTED,
              LVIO_E_STATE, LVIO_E_BROKEN);
    if (rv == LVIO_OK && pair < PAIRS)
        expect_tx(pair, len, seed, k & 4 ? NULL : &t);
}

static void op_send_sg(unsigned pair, uint8_t k, uint32_t len)
{
    unsigned i = k % POOL;
    struct sg_frame *g = &S.pool[i];
    if (g->out)
        return;
    for (unsigned b = 0; b < g->nbufs; b++)
        if (fz_shared_bytes(&S.f, g->buf[b], g->len[b]))
            return; /* kept for a dead device */
    unsigned nbufs = 1 + (k >> 3) % (LVIO_NET_TX_SEGS + 1); /* sometimes one too many */
    uint32_t seed = k * 17u + len, at = 0;
    struct lvio_net_buf bufs[LVIO_NET_TX_SEGS + 1];
    for (unsigned b = 0; b < nbufs; b++) {
        uint32_t part = b + 1 == nbufs ? len - at : len / nbufs;
        if (!g->buf[b] || g->len[b] < part + 1) {
            free(g->buf[b]);
            g->buf[b] = malloc(part + 1);
            if (!g->buf[b])
                fz_die("host out of memory");
            g->len[b] = part + 1;
        }
        for (uint32_t x = 0; x < part; x++)
            g->buf[b][x] = frame_byte(seed, at + x);
        bufs[b] = (struct lvio_net_buf){g->buf[b], part};
        at += part;
    }
    g->nbufs = nbufs;
    fz_call(&S.f, "lvio_net_send_sg");
    int rv = lvio_net_send_sg(&S.net, pair, bufs, nbufs, NULL, g);
    FZ_EXPECT("lvio_net_send_sg", rv, LVIO_OK, LVIO_E_AGAIN, LVIO_E_INVAL, LVIO_E_UNSUPPORTED,
              LVIO_E_STATE, LVIO_E_BROKEN, LVIO_E_NOMEM);
    if (rv != LVIO_OK && rv != LVIO_E_BROKEN)
        for (unsigned b = 0; b < g->nbufs; b++)
            if (fz_shared_bytes(&S.f, g->buf[b], g->len[b]))
                fz_die("lvio_net_send_sg returned %d and left buffer %u shared", rv, b);
    if (rv == LVIO_OK) {
        g->out = true;
        if (pair < PAIRS)
            expect_tx(pair, len, seed, NULL);
    }
}

static void op_tx_done(unsigned pair)
{
    void *tok;
    fz_call(&S.f, "lvio_net_tx_done");
    int rv = lvio_net_tx_done(&S.net, pair, &tok);
    FZ_EXPECT("lvio_net_tx_done", rv, 1, 0, LVIO_E_INVAL, LVIO_E_STATE, LVIO_E_BROKEN);
    if (rv != 1)
        return;
    struct sg_frame *g = tok;
    if (g < S.pool || g >= S.pool + POOL || !g->out)
        fz_die("lvio_net_tx_done gave a token never sent, or twice");
    g->out = false;
    for (unsigned b = 0; b < g->nbufs; b++)
        if (fz_shared_bytes(&S.f, g->buf[b], g->len[b]))
            fz_die("a token back, its buffer %u still shared", b);
}

/* After a reset or teardown the tokens are forgotten. */
static void forget_tokens(void)
{
    for (unsigned i = 0; i < POOL; i++)
        S.pool[i].out = false;
}

static void op_ctrl(uint8_t k)
{
    struct fz_tape *t = &S.f.h;
    if (k & 1) {
        fz_call(&S.f, "lvio_net_set_rx_mode");
        int rv = lvio_net_set_rx_mode(&S.net, k & 2, k & 4);
        FZ_EXPECT("lvio_net_set_rx_mode", rv, LVIO_OK, LVIO_E_UNSUPPORTED, LVIO_E_REFUSED,
                  LVIO_E_TIMEOUT, LVIO_E_DEVICE, LVIO_E_AGAIN, LVIO_E_INVAL, LVIO_E_STATE,
                  LVIO_E_NEEDS_RESET, LVIO_E_BROKEN);
        fz_check_waited(&S.f, rv, S.net.timeout_ns);
        return;
    }
    uint8_t mac[6];
    fz_bytes(t, mac, 6);
    if (k & 2)
        mac[0] &= 0xfe;
    S.net.timeout_ns = fz_timeout(fz_u8(t), 24);
    fz_call(&S.f, "lvio_net_set_mac");
    int rv = lvio_net_set_mac(&S.net, mac);
    FZ_EXPECT("lvio_net_set_mac", rv, LVIO_OK, LVIO_E_UNSUPPORTED, LVIO_E_REFUSED,
              LVIO_E_TIMEOUT, LVIO_E_DEVICE, LVIO_E_AGAIN, LVIO_E_INVAL, LVIO_E_STATE,
              LVIO_E_NEEDS_RESET, LVIO_E_BROKEN, LVIO_E_CONFIG);
    fz_check_waited(&S.f, rv, S.net.timeout_ns);
    if (rv == LVIO_OK && memcmp(S.net.mac, mac, 6) != 0)
        fz_die("lvio_net_set_mac succeeded, mac not changed");
}

static void check_state(void)
{
    const struct lvio_net *n = &S.net;
    if (!n->up)
        return;
    if (n->pairs < 1 || n->pairs > PAIRS || n->pairs > LVIO_NET_MAX_PAIRS)
        fz_die("%u pairs", n->pairs);
    if (n->hdr_len != 10 && n->hdr_len != 12)
        fz_die("a %u-byte header", n->hdr_len);
    for (unsigned q = 0; q < n->pairs; q++) {
        if (lvio_net_pending(n, q) > LVIO_NET_RX_BUFS)
            fz_die("pair %u: %u frames pending", q, lvio_net_pending(n, q));
        if (lvio_net_tx_room(n, q) > LVIO_NET_TX_SLOTS)
            fz_die("pair %u: room for %u", q, lvio_net_tx_room(n, q));
    }
}

static void op_misc(uint8_t op)
{
    struct fz_tape *t = &S.f.h;
    switch (op % 4) {
    case 0: {
        fz_call(&S.f, "lvio_net_reset");
        int rv = lvio_net_reset(&S.net);
        FZ_EXPECT("lvio_net_reset", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_NOMEM, LVIO_E_HAL,
                  LVIO_E_FEATURES, LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_CONFIG,
                  LVIO_E_QUEUE, LVIO_E_RANGE, LVIO_E_STATE, LVIO_E_BROKEN, LVIO_E_REFUSED,
                  LVIO_E_TIMEOUT, LVIO_E_DEVICE, LVIO_E_LAYOUT);
        fz_check_waited(&S.f, rv, 0);
        S.up = rv == LVIO_OK;
        forget_tokens();
        break;
    }
    case 1: {
        uint32_t ev = lvio_net_events(&S.net);
        if (ev & ~(LVIO_NET_EV_LINK | LVIO_NET_EV_ANNOUNCE))
            fz_die("events 0x%x", ev);
        if (lvio_net_link_up(&S.net) && !S.net.up)
            fz_die("link up on a device not up");
        break;
    }
    case 2: { /* the device acts */
        fz_call(&S.f, "(the device)");
        for (unsigned k = fz_u8(t) % 16 + 1; k; k--)
            fz_device_step(&S.f);
        break;
    }
    default: op_peek(fz_u8(t) % (PAIRS + 1), false); break;
    }
}

static void operations(void)
{
    struct fz_tape *t = &S.f.h;
    for (unsigned n = 0; n < MAX_OPS && !fz_empty(t); n++) {
        uint8_t op = fz_u8(t);
        unsigned pair = (op >> 3) % (PAIRS + 1); /* sometimes one too many */
        switch (op % 8) {
        case 0: {
            fz_call(&S.f, "lvio_net_poll");
            int rv = lvio_net_poll(&S.net, fz_u8(t) & 3);
            FZ_EXPECT("lvio_net_poll", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_STATE, LVIO_E_BROKEN,
                      LVIO_E_NEEDS_RESET, LVIO_E_CONFIG);
            if (rv > PAIRS * LVIO_NET_RX_BUFS)
                fz_die("lvio_net_poll returned %d", rv);
            break;
        }
        case 1: op_recv(pair, fz_u16(t) % (LVIO_NET_FRAME_MAX + 100)); break;
        case 2: op_peek(pair, true); break;
        case 3: op_send(pair, fz_u16(t) % MAXF, fz_u8(t)); break;
        case 4: {
            uint8_t k = fz_u8(t);
            op_send_sg(pair, k, fz_u16(t) % MAXF);
            break;
        }
        case 5: op_tx_done(pair); break;
        case 6: op_ctrl(op >> 3); break;
        default: op_misc(op >> 3); break;
        }
        check_state();
        fz_check_errmsg(&S.dev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    for (unsigned i = 0; i < POOL; i++)
        for (unsigned b = 0; b <= LVIO_NET_TX_SEGS; b++)
            free(S.pool[i].buf[b]);
    memset(&S, 0, sizeof S);
    for (unsigned p = 0; p < PAIRS; p++)
        S.rx[p].truthful = true;
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_NET);
    f->features = FEATURES ^ fz_u64(&f->h);
    uint16_t qmax = 32u ^ fz_u16(&f->h);
    for (unsigned i = 0; i < FZ_MAX_QUEUES; i++)
        f->q[i].num_max = qmax;
    static const uint8_t cfg[12] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0, 2, 0,
                                    1500 & 0xff, 1500 >> 8};
    uint8_t x[12];
    fz_bytes(&f->h, x, sizeof x);
    for (unsigned i = 0; i < sizeof x; i++)
        f->config[i] = cfg[i] ^ x[i];
    uint8_t o = fz_u8(&f->h);
    S.opts = (struct lvio_net_opts){.queue_pairs = o % 4u, .csum = o & 4, .big_rx = o & 8,
                                    .refuse = fz_u64(&f->h)};
    f->service = net_service;
    f->on_reset = net_reset;
    f->config_write = net_config_write;

    if (lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, 0x200) != LVIO_OK ||
        S.dev.device_id != LVIO_VIRTIO_ID_NET)
        goto out;
    fz_call(f, "lvio_net_init");
    int rv = lvio_net_init(&S.net, &S.dev, &S.opts);
    fz_check_errmsg(&S.dev);
    FZ_EXPECT("lvio_net_init", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_NOMEM, LVIO_E_HAL,
              LVIO_E_FEATURES, LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_CONFIG,
              LVIO_E_QUEUE, LVIO_E_RANGE, LVIO_E_STATE, LVIO_E_BROKEN, LVIO_E_REFUSED,
              LVIO_E_TIMEOUT, LVIO_E_DEVICE, LVIO_E_LAYOUT);
    fz_check_waited(f, rv, 0);
    if (rv != LVIO_OK)
        goto out;
    S.up = true;
    operations();
    fz_call(f, "lvio_net_teardown");
    lvio_net_teardown(&S.net);
    forget_tokens();
    if (lvio_net_poll(&S.net, 0) != LVIO_E_STATE)
        fz_die("lvio_net_poll after teardown did not return LVIO_E_STATE");
    if (lvio_net_link_up(&S.net))
        fz_die("link up after teardown");
out:
    fz_check_errmsg(&S.dev);
    fz_finish(f); /* a zombie device may still use what it was given: first */
    return 0;
}
