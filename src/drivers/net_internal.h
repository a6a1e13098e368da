/*
 * Private to the virtio-net driver's two files: net.c (setup, frames both
 * ways, polling, teardown) and net_ctrl.c (the control queue, the
 * configuration's status: link and announce).
 */
#ifndef LVIO_NET_INTERNAL_H
#define LVIO_NET_INTERNAL_H

#include "lvio/net.h"
#include "../core/internal.h"

/* Control command slots: class and command at +0, the command's data at
 * +8 (8 bytes at most: a MAC address, a pair count), the ack byte at +16. */
#define LVIO_NET_CTRL_DATA 8u
#define LVIO_NET_CTRL_ACK 16u
#define LVIO_NET_CTRL_SLOT 24u

static inline bool lvio_net_has(const struct lvio_net *n, unsigned bit)
{
    return lvio_has_feature(n->features, bit);
}

/* Set up the control queue's engine (slots in DMA memory) and the queue,
 * the last of the device's: 2 * max_pairs with MQ, else 2. */
int lvio_net_ctrl_setup(struct lvio_net *n);

/* Read the configuration's status: link_up, and with `notice` (a
 * configuration change, not init) a changed link counted and raised as
 * LVIO_NET_EV_LINK; an ANNOUNCE request raised and acknowledged. Returns
 * 0 or what reading the configuration returned. */
int lvio_net_status(struct lvio_net *n, bool notice);

/* Take the control queue's completions: the answer to an ANNOUNCE_ACK.
 * Returns 0 or LVIO_E_BROKEN. */
int lvio_net_ctrl_service(struct lvio_net *n);

/* With more than one pair: VQ_PAIRS_SET, waited for. */
int lvio_net_ctrl_set_pairs(struct lvio_net *n);

#endif
