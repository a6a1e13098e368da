/*
 * virtio-net (VIRTIO 1.2, 5.1): Ethernet frames both ways over one or
 * more queue pairs, the link state, checksum offload both ways, merged
 * receive buffers, large receive when asked for, and the control queue
 * (receive modes, the MAC address, the number of queue pairs, announce
 * acknowledgements).
 *
 * Typical use:
 *
 *     struct lvio_net net;                          // caller's storage, no heap
 *     struct lvio_net_opts o = {.queue_pairs = 1, .csum = true};
 *     lvio_net_init(&net, &dev, &o);                // negotiates, posts receive
 *                                                   // buffers, DRIVER_OK
 *     ...net.mac, net.mtu, net.link_up, net.rx_max...
 *
 *     ...interrupt: bits = lvio_device_isr(&dev) (or lvio_device_msix_isr)...
 *     lvio_net_poll(&net, bits);                    // thread context: frames in,
 *                                                   // sent buffers back, link
 *     static uint8_t frame[LVIO_NET_FRAME_MAX];     // or net.rx_max bytes
 *     struct lvio_net_rx_info info;
 *     int len;
 *     while ((len = lvio_net_recv(&net, 0, frame, sizeof frame, &info)) >= 0)
 *         ...frame[0..len), info.flags...           // its buffers back to the device
 *     lvio_net_send(&net, 0, reply, reply_len, NULL);   // copied; LVIO_E_AGAIN: full
 *     uint32_t ev = lvio_net_events(&net);          // LVIO_NET_EV_LINK, _ANNOUNCE
 *
 * Negotiated when offered: MAC, STATUS, MTU, MRG_RXBUF, CTRL_VQ with
 * CTRL_RX, CTRL_MAC_ADDR, GUEST_ANNOUNCE and MQ; CSUM and GUEST_CSUM when
 * the caller asks for checksum offload (opts->csum); GUEST_TSO4,
 * GUEST_TSO6 and GUEST_UFO when it asks for large receive (opts->big_rx;
 * they need GUEST_CSUM, which is then taken too); ANY_LAYOUT on a legacy
 * device; INDIRECT_DESC and EVENT_IDX by the core. Nothing else (no
 * transmit segmentation, no VLAN filter, no RSS). A device that offers a
 * feature without the one it depends on (5.1.3.1) has the dependant
 * refused. opts->refuse (and dev->features_refused) are never accepted.
 *
 * The header in front of every packet is 12 bytes with VERSION_1 (every
 * modern device) or MRG_RXBUF, 10 bytes otherwise (a legacy device
 * without MRG_RXBUF): `hdr_len`. Callers never see it: frames are
 * Ethernet frames, from the destination address on, without the FCS.
 *
 * Queues and storage. Every queue is in struct lvio_net: up to
 * LVIO_NET_MAX_PAIRS pairs. `pairs` are used: the caller's
 * opts->queue_pairs (0 means 1), at most the device's max_virtqueue_pairs
 * (1 without MQ) and LVIO_NET_MAX_PAIRS; more than one is set with
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET at init. Which pair a received frame
 * arrives on is the device's choice (QEMU: the backend's queue, e.g. a
 * tap's); a frame may be sent on any pair.
 *
 * Receiving. Each pair's receive queue keeps opts->rx_bufs buffers
 * (LVIO_NET_RX_BUFS_DEFAULT when 0) posted, in the driver's own DMA memory, of `rx_buf_size` bytes: a page
 * each with MRG_RXBUF (a frame then spans as many as it needs, up to
 * LVIO_NET_FRAME_SEGS); otherwise the header plus `rx_max` bytes (the
 * MTU's frame with a VLAN tag, or with large receive 65550 bytes), and
 * when that is over 16 KiB only LVIO_NET_RX_BIG_BUFS of them. On a legacy
 * device without ANY_LAYOUT (and without MRG_RXBUF) a buffer is offered
 * as two descriptors, the header's and the frame's, as such a device
 * wants (5.1.6.6); so is a frame sent, and a control command's parts. A
 * frame the device completes stays in its buffers, the driver's, until
 * the caller has taken it (lvio_net_recv, or lvio_net_peek then
 * lvio_net_release); only then do they go back to the device. So a
 * device faster than the caller runs out of buffers and waits:
 * back-pressure, no frame overwritten.
 * What the device does then is its own choice (QEMU holds the frame and
 * stops reading its backend until buffers come; a backend such as slirp
 * queues a bounded number and drops the rest): `stats.rx_starved` counts
 * the times the driver saw every buffer of a queue taken.
 *
 * Every frame the device completes is checked before it is kept, and
 * dropped (its buffers back to the device at once, counted by reason in
 * `stats`, logged) when:
 *   - its used length is longer than the buffer posted (rx_overlong);
 *   - it is shorter than the header plus an Ethernet header (rx_short);
 *   - with MRG_RXBUF, num_buffers is 0, above LVIO_NET_FRAME_SEGS, or more
 *     than the buffers the device completed with it (rx_bad_num_buffers:
 *     a device publishes a merged frame's buffers together, as QEMU does
 *     and as Linux requires; the buffers that are there are dropped with
 *     it, and a missing one that comes later is checked as a frame of its
 *     own);
 *   - it is longer than it may be: `rx_max` without GSO, 65550 with
 *     (rx_too_big);
 *   - its header asks for what was not negotiated: NEEDS_CSUM without
 *     GUEST_CSUM, a GSO type without large receive (or an unknown one), a
 *     checksum position past the frame's end (rx_bad_header).
 * A frame handed out was completed by the device and lies within the
 * buffers posted for it. Frames are handed out in the order the device
 * completed them, per queue.
 *
 * Transmitting. lvio_net_send copies a frame (at most `tx_max` bytes)
 * into one of the pair's LVIO_NET_TX_SLOTS driver-owned buffers behind
 * its header and hands it to the device: the caller's frame is free again
 * when it returns. lvio_net_send_sg shares the caller's buffers with the
 * device in place (the HAL's share, one per buffer) instead: they stay
 * the device's until lvio_net_tx_done hands back the send's token. A
 * buffer is reclaimed when the device has read it, by the next send or
 * poll (the caller need not poll for it). When every buffer or descriptor
 * of the pair is with the device a send takes nothing: LVIO_E_AGAIN
 * (counted in tx_busy), never a frame lost. With CSUM negotiated
 * (`csum_tx`) a send may leave a TCP or UDP checksum to the device
 * (LVIO_NET_TX_CSUM: the checksum field holds the pseudo-header sum, the
 * device adds the rest from csum_start and stores it at csum_start +
 * csum_offset).
 *
 * Link. With STATUS negotiated, `link_up` is the configuration's
 * LINK_UP bit, read at init and on every configuration change
 * (lvio_net_poll with LVIO_VIRTIO_ISR_CONFIG); a change is counted in
 * `stats.link_changes` and raises LVIO_NET_EV_LINK. Without STATUS the
 * link is up. With GUEST_ANNOUNCE, the device's ANNOUNCE bit (after a
 * migration) raises LVIO_NET_EV_ANNOUNCE, for the caller's stack to send
 * its gratuitous ARP, and the driver acknowledges it at once
 * (VIRTIO_NET_CTRL_ANNOUNCE_ACK, without waiting: its answer is taken by
 * a later poll).
 *
 * Control commands (set_rx_mode, set_mac, the pairs at init) wait for the
 * device's ack byte, bounded by `timeout_ns`. A command the device does
 * not answer in time keeps its buffer until the device answers or is
 * reset.
 *
 * Interrupts and concurrency (lvio/virtio.h): no call here is for an
 * interrupt handler. The handler reads the cause (lvio_device_isr, or
 * lvio_device_msix_isr) and hands the bits to lvio_net_poll in thread
 * context. Every call on one struct lvio_net, whatever its pair, is
 * serialised by the caller: none may run at the same time as another, or
 * interrupt it. (A kernel with a CPU per pair takes one lock around the
 * calls; each is short and never waits, but for init, reset, teardown and
 * the control commands.) lvio_net_link_up, lvio_net_pending and
 * lvio_net_tx_room only read the struct. Nothing is global: any number of
 * devices coexist.
 */
#ifndef LVIO_NET_H
#define LVIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "spec/virtio_net.h"
#include "virtio.h"
#include "virtqueue.h"

/* Queue pairs struct lvio_net has room for (each about 24 KiB of it). */
#ifndef LVIO_NET_MAX_PAIRS
#define LVIO_NET_MAX_PAIRS 4
#endif
/* Receive buffers a receive queue has room for (at least
 * LVIO_NET_FRAME_SEGS + 1: a largest merged frame and one more; at most
 * 1024): what opts->rx_bufs may ask for. Each costs about 48 bytes of
 * struct lvio_net a pair, posted or not. */
#ifndef LVIO_NET_RX_BUFS
#define LVIO_NET_RX_BUFS 256
#endif
/* Receive buffers posted when opts->rx_bufs is 0. With MRG_RXBUF they take
 * a page each: 128 KiB of DMA memory a pair. */
#ifndef LVIO_NET_RX_BUFS_DEFAULT
#define LVIO_NET_RX_BUFS_DEFAULT 32
#endif
/* Of those, posted when each is over 16 KiB (large receive, or a large
 * MTU, without MRG_RXBUF: a 65550-byte frame takes 17 pages). */
#ifndef LVIO_NET_RX_BIG_BUFS
#define LVIO_NET_RX_BIG_BUFS 8
#endif
/* Transmit buffers of each transmit queue: frames with the device at most. */
#ifndef LVIO_NET_TX_SLOTS
#define LVIO_NET_TX_SLOTS 32
#endif
/* Caller buffers one lvio_net_send_sg frame may have. */
#ifndef LVIO_NET_TX_SEGS
#define LVIO_NET_TX_SEGS 4
#endif
/* Control command buffers: one command (or two: set_rx_mode) waited for,
 * an ANNOUNCE_ACK, and those a timed-out wait left with the device. */
#ifndef LVIO_NET_CTRL_SLOTS
#define LVIO_NET_CTRL_SLOTS 4
#endif
/* Bound on a control command's wait (struct lvio_net's timeout_ns). */
#ifndef LVIO_NET_CTRL_TIMEOUT_NS
#define LVIO_NET_CTRL_TIMEOUT_NS 1000000000ull
#endif

/* Buffers one received frame may span (a page each, MRG_RXBUF): enough
 * for the largest frame any MTU or large receive allows. */
#define LVIO_NET_FRAME_SEGS 17
/* The largest frame lvio_net_recv can return, whatever was negotiated
 * (`rx_max` is this device's): a buffer this big never gets LVIO_E_NOSPC. */
#define LVIO_NET_FRAME_MAX 65553u
/* An Ethernet header: the shortest frame either way. */
#define LVIO_NET_ETH_HLEN 14u

/* struct lvio_net_rx_info's `flags`. Only with GUEST_CSUM negotiated
 * (`csum_rx`) is either checksum flag ever set. */
#define LVIO_NET_RX_CSUM_VALID   0x1u /* DATA_VALID: the device checked the
                                         frame's checksums; trust them */
#define LVIO_NET_RX_CSUM_PARTIAL 0x2u /* NEEDS_CSUM: the checksum at
                                         csum_start + csum_offset holds only
                                         the pseudo-header sum (the sender
                                         is local and left it to the NIC):
                                         valid for a stack that consumes the
                                         frame; one that forwards it
                                         completes it first */
#define LVIO_NET_RX_GSO          0x4u /* a coalesced large frame (large
                                         receive): gso_type, gso_size */

/* A received frame, as lvio_net_recv and lvio_net_peek describe it. */
struct lvio_net_rx_info {
    uint32_t len;         /* the frame's bytes (no virtio-net header) */
    uint16_t flags;       /* LVIO_NET_RX_* */
    uint8_t gso_type;     /* LVIO_VIRTIO_NET_HDR_GSO_TCPV4, _TCPV6 or _UDP
                             (as negotiated) with LVIO_NET_RX_GSO; else NONE */
    uint8_t nbufs;        /* receive buffers it came in (1 without MRG_RXBUF) */
    uint16_t gso_size;    /* LVIO_NET_RX_GSO: the segment size */
    uint16_t gso_hdr_len; /* LVIO_NET_RX_GSO: the header bytes, as the
                             device says (a hint) */
    uint16_t csum_start;  /* LVIO_NET_RX_CSUM_PARTIAL: from the frame's
                             start; csum_start + csum_offset + 2 <= len */
    uint16_t csum_offset;
    unsigned queue;       /* the pair it came on */
};

/* One piece of a received frame, in the driver's buffers (lvio_net_peek). */
struct lvio_net_seg {
    const uint8_t *data;
    uint32_t len;
};

/* A received frame without a copy: its bytes are seg[0], then seg[1], ...
 * (nsegs of them, info.len bytes in all), valid until lvio_net_release
 * (or a teardown or reset). */
struct lvio_net_frame {
    struct lvio_net_rx_info info;
    unsigned nsegs;
    struct lvio_net_seg seg[LVIO_NET_FRAME_SEGS];
};

/* struct lvio_net_tx_info's `flags`. */
#define LVIO_NET_TX_CSUM 0x1u /* the device completes the checksum at
                                 csum_start + csum_offset (needs `csum_tx`) */

/* What a send asks of the device (NULL: nothing). */
struct lvio_net_tx_info {
    uint16_t flags;       /* LVIO_NET_TX_* */
    uint16_t csum_start;  /* LVIO_NET_TX_CSUM: where the checksummed bytes
                             start, from the frame's start */
    uint16_t csum_offset; /* ... and where after csum_start the 16-bit
                             checksum goes (TCP 16, UDP 6);
                             csum_start + csum_offset + 2 <= the frame's length */
};

/* One caller buffer of a frame sent in place (lvio_net_send_sg). */
struct lvio_net_buf {
    const void *data;
    uint32_t len;         /* at least 1 */
};

/* What lvio_net_init is asked (NULL: all zero). */
struct lvio_net_opts {
    unsigned queue_pairs; /* pairs wanted: 0 or 1 one; more needs MQ, and is
                             capped by max_virtqueue_pairs and
                             LVIO_NET_MAX_PAIRS */
    unsigned rx_bufs;     /* receive buffers per queue: 0 is
                             LVIO_NET_RX_BUFS_DEFAULT; LVIO_NET_FRAME_SEGS + 1
                             to LVIO_NET_RX_BUFS (more is LVIO_E_INVAL). More
                             ride out longer stalls of the caller without the
                             device running dry (a page each with MRG_RXBUF) */
    bool csum;            /* checksum offload both ways (CSUM, GUEST_CSUM) */
    bool big_rx;          /* large receive (GUEST_TSO4/6, GUEST_UFO): the
                             caller takes frames up to 65550 bytes */
    uint64_t refuse;      /* feature bits never to accept (also
                             dev->features_refused) */
};

/* lvio_net_events' bits. */
#define LVIO_NET_EV_LINK     0x1u /* link_up changed (maybe back again) */
#define LVIO_NET_EV_ANNOUNCE 0x2u /* the device asks for gratuitous packets
                                     (already acknowledged) */

/* Statistics, for the caller to read; every drop is also logged. */
struct lvio_net_stats {
    uint64_t rx_packets, rx_bytes;   /* frames handed to the caller */
    uint64_t tx_packets, tx_bytes;   /* frames handed to the device */
    uint64_t rx_short;               /* dropped: shorter than the header
                                        plus an Ethernet header */
    uint64_t rx_overlong;            /* dropped: used length longer than
                                        the buffer posted */
    uint64_t rx_too_big;             /* dropped: longer than the MTU allows
                                        (mtu + 18) without GSO, 65550 with */
    uint64_t rx_bad_num_buffers;     /* dropped: num_buffers 0, too many,
                                        or more than were completed */
    uint64_t rx_bad_header;          /* dropped: a header asking for what
                                        was not negotiated */
    uint64_t rx_starved;             /* times a receive queue was left with
                                        no buffer posted (each holds a frame
                                        not taken): once until buffers go
                                        back */
    uint64_t tx_busy;                /* sends refused with LVIO_E_AGAIN */
    uint32_t link_changes;           /* link_up changed */
    uint32_t announces;              /* ANNOUNCE requests seen */
    uint32_t announce_errors;        /* ANNOUNCE_ACKs refused or not sent */
    uint32_t config_changes;         /* configuration change notices */
    uint32_t resets;                 /* lvio_net_reset */
};

/* A receive queue (private to the driver; the counters may be read). */
struct lvio_net_rxq {
    uint64_t packets, bytes;         /* frames handed out from this queue */
    struct lvio_virtqueue vq;
    struct lvio_reqs reqs;           /* its buffers: the engine's slots */
    struct lvio_req_slot slots[LVIO_NET_RX_BUFS];
    uint16_t bufs[LVIO_NET_RX_BUFS]; /* slots of the frames kept, in order */
    unsigned buf_head, buf_count;
    struct lvio_net_rx_info frames[LVIO_NET_RX_BUFS]; /* the frames kept */
    unsigned fr_head, fr_count;
    uint32_t seq;                    /* the engine's seq up to which
                                        completions were taken */
    bool starved;                    /* no buffer posted at the last look */
};

/* One transmit buffer's state (private). */
struct lvio_net_tx_slot {
    void *token;                     /* lvio_net_send_sg's */
    uint32_t len;                    /* frame bytes */
    uint8_t nshared;                 /* caller buffers shared (send_sg) */
    bool sg;                         /* a send_sg frame: its token is owed */
    struct {
        const void *data;
        uint32_t len;
        uint64_t addr;
    } shared[LVIO_NET_TX_SEGS];
};

/* A transmit queue (private to the driver; the counters may be read). */
struct lvio_net_txq {
    uint64_t packets, bytes;         /* frames handed to the device on it */
    struct lvio_virtqueue vq;
    struct lvio_reqs reqs;
    struct lvio_req_slot slots[LVIO_NET_TX_SLOTS];
    struct lvio_net_tx_slot tx[LVIO_NET_TX_SLOTS];
};

struct lvio_net {
    /* Set by lvio_net_init(). */
    struct lvio_device *dev;
    struct lvio_net_opts opts;       /* as given (for lvio_net_reset) */
    uint64_t features;               /* accepted (dev->features_accepted) */
    uint8_t mac[6];                  /* the device's (MAC), or as set by
                                        lvio_net_set_mac; zeros if neither */
    bool has_mac;                    /* mac is known */
    uint16_t mtu;                    /* the device's (MTU negotiated), else 1500 */
    unsigned pairs;                  /* queue pairs in use, 1 or more */
    uint16_t max_pairs;              /* the device's max_virtqueue_pairs (1
                                        without MQ) */
    uint32_t hdr_len;                /* 10 or 12: see above */
    uint32_t rx_max;                 /* the longest frame a receive may give */
    uint32_t tx_max;                 /* the longest frame a send takes:
                                        mtu + Ethernet header + VLAN tag */
    uint32_t rx_buf_size;            /* bytes of each receive buffer posted */
    bool mrg_rxbuf;                  /* MRG_RXBUF negotiated */
    bool csum_tx;                    /* CSUM: sends may ask LVIO_NET_TX_CSUM */
    bool csum_rx;                    /* GUEST_CSUM: frames may come partial */
    bool big_rx;                     /* large receive negotiated */
    bool ctrl;                       /* a control queue (CTRL_VQ) */
    bool has_status;                 /* STATUS: link_up follows the device */
    bool up;                         /* queues live (false after teardown, or
                                        an init or reset that failed) */

    /* Set by init and lvio_net_poll. */
    bool link_up;                    /* true without STATUS */
    uint16_t status;                 /* the configuration's status, as last read */

    /* Set by lvio_net_set_rx_mode (false until then: QEMU's device
     * starts promiscuous, whatever these say). */
    bool promisc, allmulti;

    /* May be changed by the caller: the bound on a control command. */
    uint64_t timeout_ns;

    struct lvio_net_stats stats;

    /* Private to the driver. */
    uint32_t events;                 /* LVIO_NET_EV_* not yet taken */
    struct {
        struct lvio_net_rxq rx;
        struct lvio_net_txq tx;
    } q[LVIO_NET_MAX_PAIRS];
    struct lvio_virtqueue ctrlq;
    struct lvio_reqs ctrl_reqs;
    struct lvio_req_slot ctrl_slots[LVIO_NET_CTRL_SLOTS];
    int ack_slot;                    /* the ANNOUNCE_ACK's slot, -1: none */
};

/*
 * Bring up the network device `dev` (probed; LVIO_VIRTIO_ID_NET) as
 * `opts` asks (NULL: one pair, no offloads): negotiate, read the
 * configuration (mac, status, max_virtqueue_pairs, mtu), set up `pairs`
 * queue pairs and the control queue, post every receive buffer,
 * DRIVER_OK, then with more than one pair VQ_PAIRS_SET. All DMA memory is
 * taken here; nothing is allocated later.
 * Returns 0, or:
 *   LVIO_E_INVAL     NULL, a failed probe, not a network device;
 *   LVIO_E_CONFIG    max_virtqueue_pairs 0 or above 0x8000 with MQ, an mtu
 *                    below 68 with MTU, or a configuration that kept
 *                    changing;
 *   LVIO_E_REFUSED   the device answered VQ_PAIRS_SET with an error;
 *   LVIO_E_TIMEOUT   it did not answer VQ_PAIRS_SET within timeout_ns
 *                    (LVIO_NET_CTRL_TIMEOUT_NS at init);
 *   LVIO_E_DEVICE    it answered with neither OK nor ERR, or no ack byte;
 *   LVIO_E_QUEUE     a queue missing or refused, or too small for one of
 *                    its chains (a command takes 3 descriptors without
 *                    INDIRECT_DESC);
 *   another error of device bring-up (lvio_device_begin, lvio_vq_setup,
 *   lvio_reqs_init, lvio_device_driver_ok): LVIO_E_DEAD, LVIO_E_FEATURES,
 *   LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_NOMEM, LVIO_E_HAL,
 *   LVIO_E_RANGE, LVIO_E_LAYOUT, LVIO_E_STATE; or LVIO_E_BROKEN (the
 *   device broke a queue already).
 * On error the device is left FAILED and everything allocated is freed
 * (kept when a reset never completed: LVIO_E_DEAD, see lvio_device_reset).
 */
int lvio_net_init(struct lvio_net *n, struct lvio_device *dev, const struct lvio_net_opts *opts);

/*
 * Reset the device and give back every DMA page and every shared buffer
 * (kept instead when the reset never completes: see lvio_device_reset).
 * Frames not taken are dropped; tokens of lvio_net_send_sg frames not yet
 * handed back are forgotten (their buffers are the caller's again, but
 * for a dead device). Does nothing for NULL or a struct never set up.
 */
void lvio_net_teardown(struct lvio_net *n);

/*
 * Recovery (after LVIO_E_BROKEN, LVIO_E_NEEDS_RESET, LVIO_E_TIMEOUT):
 * teardown, then init on the same device with the same options; the
 * statistics start again (but `resets`). Returns what lvio_net_init
 * returns; LVIO_E_INVAL if never initialised.
 */
int lvio_net_reset(struct lvio_net *n);

/*
 * After an interrupt, or now and then when polling: take every receive
 * completion (frames checked and kept for the caller, or dropped), reclaim
 * the transmit buffers the device has read (unsharing send_sg buffers),
 * take the answer to an ANNOUNCE_ACK, and when `isr` has
 * LVIO_VIRTIO_ISR_CONFIG read the status (link, announce). Returns the
 * frames waiting on every pair (0 or more), LVIO_E_BROKEN (a queue broke:
 * the message names it; lvio_net_reset), LVIO_E_NEEDS_RESET,
 * LVIO_E_CONFIG (the status kept changing while read: it is read again at
 * the next notice), LVIO_E_STATE (not up) or LVIO_E_INVAL. Not for an
 * interrupt handler.
 */
int lvio_net_poll(struct lvio_net *n, uint32_t isr);

/*
 * Interrupts for received frames, on every pair: `on` false asks the device
 * not to interrupt when it completes a receive buffer (a hint: with
 * EVENT_IDX it may still interrupt once), for a caller that polls while
 * frames keep coming and so need not pay an interrupt for each; `on` true
 * asks for them again. Returns 1 when, turning them on, a completion had
 * already arrived (it may never interrupt: poll once more), 0 otherwise,
 * or LVIO_E_STATE (not up) / LVIO_E_INVAL.
 */
int lvio_net_rx_notify(struct lvio_net *n, bool on);

/* Frames waiting on pair `q` (0 for NULL, no such pair, not up). Takes
 * nothing from the device: lvio_net_poll (or a recv) does that. */
unsigned lvio_net_pending(const struct lvio_net *n, unsigned q);

/*
 * Copy the oldest frame of pair `q` into `buf` (`len` bytes), its
 * description into *info (may be NULL), and give its buffers back to the
 * device. Takes what the device completed first, without waiting.
 * Returns the frame's length (1 or more), or:
 *   LVIO_E_AGAIN   no frame now;
 *   LVIO_E_NOSPC   the frame is longer than `len`: nothing copied, the
 *                  frame kept (the next call gets it again), its length
 *                  in info->len; a buffer of `rx_max` (or
 *                  LVIO_NET_FRAME_MAX) bytes always suffices;
 *   LVIO_E_INVAL   NULL n, buf NULL with len not 0, no such pair;
 *   LVIO_E_STATE   not up;
 *   LVIO_E_BROKEN  the receive queue broke (frames already kept are
 *                  still handed out first).
 */
int lvio_net_recv(struct lvio_net *n, unsigned q, void *buf, size_t len,
                  struct lvio_net_rx_info *info);

/*
 * The oldest frame of pair `q` without a copy: *f describes it as
 * segments of the driver's buffers, which stay the caller's to read until
 * lvio_net_release(n, q). Peeking again without a release describes the
 * same frame. Returns its length, or LVIO_E_AGAIN, LVIO_E_INVAL (NULL,
 * no such pair), LVIO_E_STATE or LVIO_E_BROKEN as lvio_net_recv.
 */
int lvio_net_peek(struct lvio_net *n, unsigned q, struct lvio_net_frame *f);

/*
 * Done with the oldest frame of pair `q` (as lvio_net_peek gave it):
 * counted as received, its buffers back to the device. Returns 0,
 * LVIO_E_AGAIN (no frame), LVIO_E_INVAL, LVIO_E_STATE or LVIO_E_BROKEN
 * (the buffers could not be posted: the frame is released all the same).
 */
int lvio_net_release(struct lvio_net *n, unsigned q);

/*
 * Send the `len`-byte Ethernet frame at `frame` on pair `q`, copied into
 * a transmit buffer of the driver's (the caller's frame is free again on
 * return), with the checksum offload `info` asks (NULL: none). Reclaims
 * the buffers the device is done with first. Returns 0 (the device has
 * it), or:
 *   LVIO_E_AGAIN        every transmit buffer or descriptor of the pair is
 *                       with the device: nothing sent (poll, then again);
 *   LVIO_E_INVAL        NULL, no such pair, `len` below 14 or above
 *                       tx_max, a checksum position past the frame, an
 *                       unknown flag;
 *   LVIO_E_UNSUPPORTED  LVIO_NET_TX_CSUM without CSUM negotiated;
 *   LVIO_E_STATE        not up;
 *   LVIO_E_BROKEN       the transmit queue broke.
 */
int lvio_net_send(struct lvio_net *n, unsigned q, const void *frame, size_t len,
                  const struct lvio_net_tx_info *info);

/*
 * Send a frame made of the caller's `nbufs` buffers (1 to
 * LVIO_NET_TX_SEGS, together 14 to tx_max bytes) on pair `q` without a
 * copy: each is shared with the device in place (the HAL's share, device
 * reads) and stays the device's, unchanged and allocated, until
 * lvio_net_tx_done hands `token` back. Returns what lvio_net_send
 * returns (LVIO_E_INVAL also for an empty buffer, or more buffers than
 * the transmit queue's descriptors can ever carry), LVIO_E_UNSUPPORTED
 * when the HAL has no share, or an error of share() (nothing stays shared
 * after any error but LVIO_E_BROKEN, whose buffers stay shared until the
 * teardown: the device may read them).
 */
int lvio_net_send_sg(struct lvio_net *n, unsigned q, const struct lvio_net_buf *bufs,
                     unsigned nbufs, const struct lvio_net_tx_info *info, void *token);

/*
 * The token of a lvio_net_send_sg frame of pair `q` the device has read,
 * oldest first, into *token: its buffers are unshared and the caller's
 * again. Returns 1, 0 (none now), LVIO_E_INVAL (NULL, no such pair),
 * LVIO_E_STATE (not up) or LVIO_E_BROKEN. A send_sg frame's transmit
 * buffer is free again only once its token is taken.
 */
int lvio_net_tx_done(struct lvio_net *n, unsigned q, void **token);

/* Frames of one buffer pair `q` can take now without LVIO_E_AGAIN, as of
 * the last reclaim (0 for NULL, no such pair, not up). */
unsigned lvio_net_tx_room(const struct lvio_net *n, unsigned q);

/*
 * Receive everything (promiscuous) and every multicast frame (all-multi)
 * or not: VIRTIO_NET_CTRL_RX_PROMISC then _ALLMULTI, waited for (bounded
 * by timeout_ns). `promisc` and `allmulti` follow what the device
 * accepted. Returns 0, or:
 *   LVIO_E_UNSUPPORTED  no CTRL_RX (the device decides: QEMU's receives
 *                       everything without it);
 *   LVIO_E_REFUSED      the device answered ERR (the message says to which);
 *   LVIO_E_TIMEOUT      no answer in time (the command keeps its buffer
 *                       until the device answers or is reset);
 *   LVIO_E_DEVICE       an ack neither OK nor ERR, or none written;
 *   LVIO_E_AGAIN        every control buffer is held by commands not
 *                       answered yet;
 *   LVIO_E_INVAL, LVIO_E_STATE, LVIO_E_NEEDS_RESET, LVIO_E_BROKEN.
 */
int lvio_net_set_rx_mode(struct lvio_net *n, bool promisc, bool allmulti);

/*
 * Give the device the MAC address `mac` (the frames it filters for, the
 * source it may use): VIRTIO_NET_CTRL_MAC_ADDR_SET with CTRL_MAC_ADDR;
 * otherwise, on a legacy device, the configuration's mac written and read
 * back. `n->mac` (and `has_mac`) follow what the device took. Returns 0,
 * what lvio_net_set_rx_mode returns for the command, LVIO_E_UNSUPPORTED
 * (a modern device without CTRL_MAC_ADDR), LVIO_E_DEVICE (a legacy device
 * that kept another address), LVIO_E_CONFIG (its configuration kept
 * changing), or LVIO_E_INVAL (NULL; a multicast or all-zero address).
 */
int lvio_net_set_mac(struct lvio_net *n, const uint8_t mac[6]);

/* The link is up (STATUS: as last read; true without it). False for NULL
 * or a device not up. */
bool lvio_net_link_up(const struct lvio_net *n);

/* The LVIO_NET_EV_* bits raised since the last call, cleared (0 for NULL). */
uint32_t lvio_net_events(struct lvio_net *n);

#endif
