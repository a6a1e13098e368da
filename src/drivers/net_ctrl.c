/*
 * virtio-net's control queue (VIRTIO 1.2, 5.1.6.5) and the
 * configuration's status (5.1.4): receive modes, the MAC address, the
 * number of queue pairs, and the link and announce bits with the
 * ANNOUNCE_ACK they ask for.
 *
 * A command is three buffers: class and command (the device reads), its
 * data (the device reads), the ack byte (the device writes), all in one
 * slot of the control engine; apart, because a legacy device without
 * ANY_LAYOUT wants them so, and any device takes them so. The ack byte is
 * set to a value the device never writes before the command goes, read
 * once when it comes back: a device that answers without writing it is
 * seen for what it does. A command waited for and not answered keeps its
 * slot (the engine's LOST) until the device answers or is reset.
 */
#include "lvio/config.h"
#if LVIO_WITH_NET /* else left out: lvio/config.h */

#include "net_internal.h"

#define CFG(field) ((uint32_t)offsetof(struct lvio_virtio_net_config, field))
/* The ack byte before the device writes it: neither OK nor ERR. */
#define NO_ACK 0xa5u

/* One command of a batch: class, command, its data. */
struct net_cmd {
    uint8_t class_, cmd;
    uint8_t len;
    uint8_t data[LVIO_NET_CTRL_DATA];
};

/* A command's name in the specification, for messages. */
static const char *cmd_name(uint8_t class_, uint8_t cmd)
{
    static const struct {
        uint8_t class_, cmd;
        const char *name;
    } names[] = {
        {LVIO_VIRTIO_NET_CTRL_RX, LVIO_VIRTIO_NET_CTRL_RX_PROMISC, "RX_PROMISC"},
        {LVIO_VIRTIO_NET_CTRL_RX, LVIO_VIRTIO_NET_CTRL_RX_ALLMULTI, "RX_ALLMULTI"},
        {LVIO_VIRTIO_NET_CTRL_MAC, LVIO_VIRTIO_NET_CTRL_MAC_ADDR_SET, "MAC_ADDR_SET"},
        {LVIO_VIRTIO_NET_CTRL_ANNOUNCE, LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK, "ANNOUNCE_ACK"},
        {LVIO_VIRTIO_NET_CTRL_MQ, LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, "MQ_VQ_PAIRS_SET"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].class_ == class_ && names[i].cmd == cmd)
            return names[i].name;
    return "a command";
}

int lvio_net_ctrl_setup(struct lvio_net *n)
{
    uint16_t index = lvio_net_has(n, LVIO_VIRTIO_NET_F_MQ) ? (uint16_t)(2u * n->max_pairs) : 2u;
    int err = lvio_reqs_init(&n->ctrl_reqs, n->dev, &n->ctrlq, n->ctrl_slots, LVIO_NET_CTRL_SLOTS,
                             LVIO_NET_CTRL_SLOT, LVIO_NET_CTRL_ACK);
    if (err == LVIO_OK)
        err = lvio_vq_setup(&n->ctrlq, n->dev, index, 4u * LVIO_NET_CTRL_SLOTS);
    if (err == LVIO_OK && n->ctrlq.size < lvio_vq_descs(&n->ctrlq, 3))
        err = lvio_fail(n->dev, LVIO_E_QUEUE, "net: control queue %u has %u descriptor(s), a "
                        "command takes 3", index, n->ctrlq.size);
    return err;
}

/* Fill slot `slot` with `c` and describe it in *r. */
static void cmd_fill(struct lvio_net *n, unsigned slot, const struct net_cmd *c, struct lvio_req *r)
{
    uint8_t *b = lvio_req_buf(&n->ctrl_reqs, slot);
    struct lvio_virtio_net_ctrl_hdr h = {c->class_, c->cmd};
    memcpy(b, &h, sizeof h);
    memcpy(b + LVIO_NET_CTRL_DATA, c->data, c->len);
    b[LVIO_NET_CTRL_ACK] = NO_ACK;
    *r = (struct lvio_req){.slot = slot, .req_len = (uint32_t)sizeof h, .resp_len = 1};
    if (c->len)
        r->out = (struct lvio_sg){lvio_req_addr(&n->ctrl_reqs, slot) + LVIO_NET_CTRL_DATA, c->len};
}

/* The device's answer to `c` in DONE slot `slot`: 0, LVIO_E_REFUSED or
 * LVIO_E_DEVICE (with its message). The slot is free again. */
static int cmd_answer(struct lvio_net *n, unsigned slot, const struct net_cmd *c)
{
    const volatile uint8_t *ack = (const uint8_t *)lvio_req_buf(&n->ctrl_reqs, slot) +
                                  LVIO_NET_CTRL_ACK;
    uint32_t len = n->ctrl_slots[slot].len;
    uint8_t v = *ack; /* once */
    lvio_reqs_put(&n->ctrl_reqs, slot);
    if (len < 1)
        return lvio_fail(n->dev, LVIO_E_DEVICE, "net: %s: answered without an ack byte (used "
                         "length 0)", cmd_name(c->class_, c->cmd));
    if (v == LVIO_VIRTIO_NET_ERR)
        return lvio_fail(n->dev, LVIO_E_REFUSED, "net: %s: the device answered ERR",
                         cmd_name(c->class_, c->cmd));
    if (v != LVIO_VIRTIO_NET_OK)
        return lvio_fail(n->dev, LVIO_E_DEVICE, "net: %s: the device answered 0x%02x, neither OK "
                         "nor ERR", cmd_name(c->class_, c->cmd), v);
    return LVIO_OK;
}

/* Run `k` commands (1 or 2) as one batch and wait for them, bounded by
 * timeout_ns; each one's result into res[] (the wait's error: not
 * answered). Returns the wait's error, else the first command's that
 * failed, with its message. */
static int cmd_run(struct lvio_net *n, const struct net_cmd *cmds, unsigned k, int *res)
{
    unsigned slots[2];
    struct lvio_req batch[2];
    char what[LVIO_ERRMSG_SIZE];
    int err = lvio_reqs_alloc(&n->ctrl_reqs, slots, k);
    for (unsigned i = 0; i < k; i++)
        res[i] = err;
    if (err)
        return err;
    for (unsigned i = 0; i < k; i++)
        cmd_fill(n, slots[i], &cmds[i], &batch[i]);
    err = lvio_reqs_submit(&n->ctrl_reqs, batch, k);
    if (err == LVIO_OK)
        err = lvio_reqs_wait(&n->ctrl_reqs, batch, k, n->timeout_ns);
    if (err)
        lvio_snprintf(what, sizeof what, "%s", n->dev->errmsg);
    /* The last first, so that the message left is the first failure's. */
    for (unsigned i = k; i-- > 0;)
        res[i] = n->ctrl_slots[slots[i]].state == LVIO_REQ_DONE ? cmd_answer(n, slots[i], &cmds[i])
                                                                : err;
    if (err)
        return lvio_fail(n->dev, err, "net: %s: %s", cmd_name(cmds[0].class_, cmds[0].cmd), what);
    int first = LVIO_OK;
    for (unsigned i = 0; i < k && first == LVIO_OK; i++)
        first = res[i];
    return first;
}

/* The control queue is there and up; `bit` (0: none) negotiated. */
static int ctrl_ready(struct lvio_net *n, unsigned bit, const char *what)
{
    if (!n || !lvio_device_valid(n->dev))
        return LVIO_E_INVAL;
    if (!n->up)
        return lvio_fail(n->dev, LVIO_E_STATE, "net: not up (torn down, or a reset failed)");
    if (!n->ctrl || (bit && !lvio_net_has(n, bit)))
        return lvio_fail(n->dev, LVIO_E_UNSUPPORTED, "net: %s: the device has no %s", what,
                         n->ctrl ? "such command" : "control queue");
    int err = lvio_net_ctrl_service(n);
    return err ? err : lvio_device_check(n->dev);
}

int lvio_net_set_rx_mode(struct lvio_net *n, bool promisc, bool allmulti)
{
    int err = ctrl_ready(n, LVIO_VIRTIO_NET_F_CTRL_RX, "receive mode");
    if (err)
        return err;
    struct net_cmd c[2] = {
        {LVIO_VIRTIO_NET_CTRL_RX, LVIO_VIRTIO_NET_CTRL_RX_PROMISC, 1, {promisc}},
        {LVIO_VIRTIO_NET_CTRL_RX, LVIO_VIRTIO_NET_CTRL_RX_ALLMULTI, 1, {allmulti}},
    };
    int res[2];
    err = cmd_run(n, c, 2, res);
    if (res[0] == LVIO_OK)
        n->promisc = promisc;
    if (res[1] == LVIO_OK)
        n->allmulti = allmulti;
    return err;
}

/* A legacy device without CTRL_MAC_ADDR: the configuration's mac,
 * written and read back. */
static int mac_by_config(struct lvio_net *n, const uint8_t mac[6])
{
    uint8_t back[6];
    int err = lvio_config_write(n->dev, CFG(mac), mac, 6);
    if (err == LVIO_OK)
        err = lvio_config_read(n->dev, CFG(mac), back, 6);
    if (err)
        return err;
    if (memcmp(back, mac, 6) != 0)
        return lvio_fail(n->dev, LVIO_E_DEVICE, "net: the mac written to the configuration "
                         "reads back %02x:%02x:%02x:%02x:%02x:%02x", back[0], back[1], back[2],
                         back[3], back[4], back[5]);
    return LVIO_OK;
}

int lvio_net_set_mac(struct lvio_net *n, const uint8_t mac[6])
{
    static const uint8_t zero[6];
    if (!n || !mac || !lvio_device_valid(n->dev))
        return LVIO_E_INVAL;
    if ((mac[0] & 1u) || memcmp(mac, zero, 6) == 0)
        return lvio_fail(n->dev, LVIO_E_INVAL, "net: set_mac: %02x:%02x:%02x:%02x:%02x:%02x is "
                         "%s", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
                         mac[0] & 1u ? "a multicast address" : "all zero");
    int err;
    if (n->up && !lvio_net_has(n, LVIO_VIRTIO_NET_F_CTRL_MAC_ADDR) && n->dev->legacy) {
        err = mac_by_config(n, mac);
    } else {
        err = ctrl_ready(n, LVIO_VIRTIO_NET_F_CTRL_MAC_ADDR, "set_mac");
        if (err)
            return err;
        struct net_cmd c = {LVIO_VIRTIO_NET_CTRL_MAC, LVIO_VIRTIO_NET_CTRL_MAC_ADDR_SET, 6, {0}};
        int res;
        memcpy(c.data, mac, 6);
        err = cmd_run(n, &c, 1, &res);
    }
    if (err == LVIO_OK) {
        memcpy(n->mac, mac, 6);
        n->has_mac = true;
    }
    return err;
}

int lvio_net_ctrl_set_pairs(struct lvio_net *n)
{
    if (n->pairs < 2)
        return LVIO_OK; /* the device starts with one */
    uint16_t v = lvio_cpu_to_dev16(n->dev, (uint16_t)n->pairs);
    struct net_cmd c = {LVIO_VIRTIO_NET_CTRL_MQ, LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, {0}};
    int res;
    memcpy(c.data, &v, 2);
    return cmd_run(n, &c, 1, &res);
}

/* ---- announce and link ---------------------------------------------------------------------- */

/* ANNOUNCE_ACK, without waiting; its answer is taken by
 * lvio_net_ctrl_service. */
static void announce_ack(struct lvio_net *n)
{
    static const struct net_cmd c = {LVIO_VIRTIO_NET_CTRL_ANNOUNCE,
                                     LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK, 0, {0}};
    unsigned slot;
    struct lvio_req r;
    if (n->ack_slot >= 0)
        return; /* one is with the device: the bit may still be set */
    int err = lvio_reqs_alloc(&n->ctrl_reqs, &slot, 1);
    if (err == LVIO_OK) {
        cmd_fill(n, slot, &c, &r);
        err = lvio_reqs_submit(&n->ctrl_reqs, &r, 1);
    }
    if (err) {
        n->stats.announce_errors++;
        lvio_log(n->dev, LVIO_LOG_WARN, "net: ANNOUNCE_ACK not sent: %s", lvio_errname(err));
        return;
    }
    n->ack_slot = (int)slot;
}

int lvio_net_ctrl_service(struct lvio_net *n)
{
    static const struct net_cmd c = {LVIO_VIRTIO_NET_CTRL_ANNOUNCE,
                                     LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK, 0, {0}};
    if (!n->ctrl)
        return LVIO_OK;
    int err = lvio_reqs_reap(&n->ctrl_reqs);
    if (n->ack_slot >= 0 && n->ctrl_slots[n->ack_slot].state == LVIO_REQ_DONE) {
        unsigned slot = (unsigned)n->ack_slot;
        n->ack_slot = -1;
        if (cmd_answer(n, slot, &c)) {
            n->stats.announce_errors++; /* the message says how */
        }
    }
    return err < 0 ? err : LVIO_OK;
}

int lvio_net_status(struct lvio_net *n, bool notice)
{
    uint16_t status;
    if (!lvio_net_has(n, LVIO_VIRTIO_NET_F_STATUS))
        return LVIO_OK; /* no status: the link is up */
    int err = lvio_config_read16(n->dev, CFG(status), &status);
    if (err)
        return err;
    bool up = (status & LVIO_VIRTIO_NET_S_LINK_UP) != 0;
    n->status = status;
    if (notice && up != n->link_up) {
        n->stats.link_changes++;
        n->events |= LVIO_NET_EV_LINK;
        lvio_log(n->dev, LVIO_LOG_INFO, "net: link %s", up ? "up" : "down");
    }
    n->link_up = up;
    if (notice && (status & LVIO_VIRTIO_NET_S_ANNOUNCE) &&
        lvio_net_has(n, LVIO_VIRTIO_NET_F_GUEST_ANNOUNCE) && n->ack_slot < 0) {
        n->stats.announces++;
        n->events |= LVIO_NET_EV_ANNOUNCE;
        lvio_log(n->dev, LVIO_LOG_INFO, "net: the device asks for an announcement");
        announce_ack(n);
    }
    return LVIO_OK;
}

bool lvio_net_link_up(const struct lvio_net *n)
{
    return n && n->up && n->link_up;
}

uint32_t lvio_net_events(struct lvio_net *n)
{
    if (!n)
        return 0;
    uint32_t ev = n->events;
    n->events = 0;
    return ev;
}

#else
typedef int lvio_net_ctrl_left_out; /* ISO C wants a declaration */
#endif
