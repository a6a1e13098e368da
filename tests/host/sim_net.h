/*
 * A simulated virtio-net (device id 1) on top of the simulated device of
 * sim.h, over virtio-mmio (Version 1 or 2) or virtio-pci (sim_pci.h,
 * modern or legacy), modelled on what QEMU's virtio-net does:
 *
 *   - queues: a pair (receive 2N, transmit 2N + 1) for each of
 *     max_pairs, and the control queue after them when MQ is negotiated,
 *     at 2 otherwise (QEMU builds its queues again when the features are
 *     set);
 *   - the header is 12 bytes with VERSION_1 or MRG_RXBUF, 10 otherwise;
 *     a received frame's header is written as QEMU writes it: its first
 *     10 bytes, and num_buffers only with MRG_RXBUF (without, bytes 10-11
 *     of a 12-byte header are left as they were: the model writes junk
 *     there to show it);
 *   - frames the host sends (sim_net_host_send) wait in the device until
 *     the guest's receive buffers take them, in order: nothing lost, the
 *     device holds back (QEMU's queue, or a tap it stops reading); with
 *     MRG_RXBUF a frame spans as many buffers as it needs and its
 *     num_buffers says how many; without, a frame that does not fit the
 *     buffer at the head of the queue is dropped (QEMU drops it), counted;
 *   - QEMU's receive filter: promiscuous after a reset; otherwise
 *     broadcast, multicast with all-multi, unicast to the current MAC;
 *   - a frame for a pair past the pairs set (VQ_PAIRS_SET) waits;
 *   - transmitted frames are recorded with their headers, in order, per
 *     pair; with the link down they are dropped (QEMU drops the transmit
 *     queue); tx_hold keeps the chains until sim_net_tx_release;
 *   - the control queue answers every command QEMU answers, as QEMU does
 *     (ANNOUNCE_ACK is ERR when the device did not ask), or as ctrl_mode
 *     says: ERR, never, without an ack byte, with a value neither OK nor ERR.
 *
 * It checks the driver: receive chains only device-writable, transmit and
 * control chains readable first then writable, a transmit chain at least a
 * header long, a legacy device without ANY_LAYOUT given the header alone
 * in a descriptor (receive without MRG_RXBUF, transmit, control), queues
 * used only when negotiated; any breach is noted in sim.error.
 *
 * Lies, for the next frame delivered: lie_used_len (the head buffer's
 * used length), lie_num_buffers (num_buffers), lie_flags, lie_gso.
 */
#ifndef SIM_NET_H
#define SIM_NET_H

#include "sim.h"
#include "sim_pci.h"

#include "lvio/spec/virtio_net.h"

#define SIM_NET_PAIRS ((SIM_MAX_QUEUES - 1) / 2) /* 7 */
#define SIM_NET_HELD 256      /* receive buffers of one queue the device holds */
#define SIM_NET_PENDING 512   /* frames the host holds for the guest */
#define SIM_NET_SENT 4096     /* frames the guest sent, kept */
#define SIM_NET_LOG 256       /* control commands kept */
#define SIM_NET_FRAME 70000   /* bytes of one frame at most */

/* How the control queue answers. */
enum sim_net_ctrl_mode {
    SIM_NET_CTRL_QEMU,      /* as QEMU does */
    SIM_NET_CTRL_ERR,       /* ERR to everything */
    SIM_NET_CTRL_HOLD,      /* takes commands, answers at sim_net_ctrl_release */
    SIM_NET_CTRL_NO_ACK,    /* completes with used length 0, no byte written */
    SIM_NET_CTRL_BAD,       /* writes 7 */
};

/* What the host puts in a received frame's header. */
struct sim_net_hdr {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* A frame the guest sent. */
struct sim_net_sent {
    unsigned pair;
    struct sim_net_hdr hdr;
    uint32_t len;       /* bytes after the header */
    uint8_t *data;
    unsigned nbufs;     /* descriptors of the chain (buffers) */
};

/* A control command the guest sent. */
struct sim_net_cmd {
    uint8_t class_, cmd;
    uint8_t data[16];
    uint32_t len;       /* data bytes */
    uint8_t ack;        /* what the device answered (0xff: nothing yet) */
};

/* A frame the host holds for the guest. */
struct sim_net_pending {
    unsigned pair;
    uint8_t *data;
    uint32_t len;
    struct sim_net_hdr hdr;
};

struct sim_net {
    union sim_dev u;    /* first: the handler finds this struct from its sim */
    struct sim *s;      /* &u.sim, whichever bus */
    enum sim_bus bus;

    /* Configuration (sim_net_apply writes it). */
    uint8_t mac[6];
    uint16_t status;
    uint16_t max_pairs;
    uint16_t mtu;

    /* Device state (QEMU's), set back by a reset. */
    uint8_t cur_mac[6];
    bool promisc, allmulti;
    uint16_t curr_pairs;

    /* Receive buffers held, oldest first, per pair. */
    uint16_t rx[SIM_NET_PAIRS][SIM_NET_HELD];
    unsigned nrx[SIM_NET_PAIRS];
    struct sim_net_pending pend[SIM_NET_PENDING];
    unsigned npend;
    unsigned delivered;       /* frames written into receive buffers */
    unsigned dropped_big;     /* dropped: no MRG_RXBUF, the buffer too small */
    unsigned filtered;        /* dropped by the receive filter */

    /* Transmit. */
    struct sim_net_sent sent[SIM_NET_SENT];
    unsigned nsent;
    unsigned tx_dropped;      /* dropped with the link down */
    bool tx_hold;
    uint16_t tx[SIM_NET_PAIRS][SIM_NET_HELD];
    unsigned ntx[SIM_NET_PAIRS];

    /* Control. */
    enum sim_net_ctrl_mode ctrl_mode;
    struct sim_net_cmd log[SIM_NET_LOG];
    unsigned nlog;
    uint16_t ctrl_held[64];   /* chains held (SIM_NET_CTRL_HOLD), and their log[] */
    uint16_t ctrl_held_log[64];
    unsigned nctrl_held;
    unsigned announce_acks;   /* ANNOUNCE_ACKs answered OK */

    /* Lies for the next frame delivered (< 0: none). */
    int64_t lie_used_len;
    int32_t lie_num_buffers;
    int lie_flags;
    int lie_gso;
};

/* A fresh device on `bus` offering `features` (device feature bits;
 * VERSION_1 is added for modern buses, ANY_LAYOUT for legacy ones) with
 * `max_pairs` pairs (MQ offered when above 1), MAC 52:54:00:12:34:56, the
 * link up, mtu 1500. */
void sim_net_init(struct sim_net *n, enum sim_bus bus, uint64_t features, uint16_t max_pairs);

/* Offer (or not) a feature bit. */
void sim_net_offer(struct sim_net *n, unsigned bit, bool on);

/* Write mac, status, max_pairs and mtu into the configuration. */
void sim_net_apply(struct sim_net *n);

/* Probe the device (MMIO or PCI); asserts success. */
void sim_net_probe(struct sim_net *n, struct lvio_device *dev);

/* The host sends a frame to the guest on `pair`, with header `hdr` (NULL:
 * zeros): into the buffers posted now, or held until there are. */
void sim_net_host_send(struct sim_net *n, unsigned pair, const void *frame, uint32_t len,
                       const struct sim_net_hdr *hdr);

/* Frames the host still holds for the guest. */
unsigned sim_net_host_pending(const struct sim_net *n);

/* Receive buffers the guest has posted on `pair` and the device holds. */
unsigned sim_net_rx_posted(const struct sim_net *n, unsigned pair);

/* The link goes up or down: status and a configuration change notice. */
void sim_net_link(struct sim_net *n, bool up);

/* The device asks for an announcement: ANNOUNCE and a change notice. */
void sim_net_announce(struct sim_net *n);

/* A configuration change notice (MMIO: the ISR's bit; PCI: its vector or bit). */
void sim_net_config_change(struct sim_net *n);

/* With tx_hold: send the transmit chains held on `pair`. */
void sim_net_tx_release(struct sim_net *n, unsigned pair);

/* With SIM_NET_CTRL_HOLD: answer the commands held, as QEMU would. */
void sim_net_ctrl_release(struct sim_net *n);

/* Control commands of class/cmd the guest sent, and the `nth` (NULL: none). */
unsigned sim_net_cmds(const struct sim_net *n, uint8_t class_, uint8_t cmd);
const struct sim_net_cmd *sim_net_cmd_find(const struct sim_net *n, uint8_t class_, uint8_t cmd,
                                           unsigned nth);

/* The header length the device uses now (10 or 12). */
uint32_t sim_net_hdr_len(const struct sim_net *n);

/* Free the frames kept. */
void sim_net_fini(struct sim_net *n);

#endif
