/*
 * virtio-net in the test kernel: bring each card up (up, down, up again:
 * every page back), print its lvio: line, get an address (netstack.c: DHCP,
 * or 10.0.2.15/24 with gateway 10.0.2.2 when no answer comes within a
 * second), say it, ping the gateway once and say how long it took. The
 * card then stays up (idle, from the main loop), answering ARP, ICMP echo
 * and UDP echo on port 7. Lines:
 *   levitate: net <t>@<a>: ip <a.b.c.d>
 *   levitate: net <t>@<a>: <dhcp from <server>|no DHCP answer in 1000 ms: fixed>,
 *             mask <m>, gateway <g>
 *   levitate: net <t>@<a>: ping <gateway>: <n> us | no answer in 1000 ms
 *   levitate: net <t>@<a>: link up|down            (while running)
 * The shell's `net` prints each card's addresses and statistics (and with
 * `send`, times a burst of frames out).
 */
#include "ktest.h"
#include "netstack.h"
#include "shell.h"

#define DHCP_WAIT_NS (1000 * MS) /* then the fixed address */
#define PING_WAIT_NS (1000 * MS)
#define SEND_WAIT_NS (2 * MS)    /* a send waits this long for a free buffer */
#define SEND_STALL_NS (1000 * MS) /* `net send` gives up when the device takes nothing */

struct net_state {
    struct kdev *k;
    struct lvio_net net;
    struct netif nif;
    uint8_t frame[LVIO_NET_FRAME_MAX];
    uint64_t send_failed;
    bool rx_quiet;             /* receive interrupts off: frames keep coming */
    unsigned pair;             /* where the responder's answers go: the pair
                                  the frame it answers came on */
    /* Frames taken since `net clear`, and when the first and last came
     * (the shell's receive rate). */
    uint64_t window_frames, window_first_ns, window_last_ns;
};

static struct net_state *net_of(struct kdev *k)
{
    return k->drv;
}

/* The responder's frames out, on the pair of the frame answered; a full ring is waited for,
 * briefly (the device sends at its own pace), by taking the device's
 * completions; then the frame is dropped and counted. */
static int send_frame(void *ctx, const void *frame, size_t len)
{
    struct net_state *st = ctx;
    int rc = lvio_net_send(&st->net, st->pair, frame, len, NULL);
    uint64_t end = rc == LVIO_E_AGAIN ? time_ns() + SEND_WAIT_NS : 0;

    while (rc == LVIO_E_AGAIN && time_ns() < end) {
        cpu_relax();
        lvio_net_poll(&st->net, 0);
        rc = lvio_net_send(&st->net, st->pair, frame, len, NULL);
    }
    if (rc != LVIO_OK)
        st->send_failed++;
    return rc == LVIO_OK ? 0 : -1;
}

/*
 * Receive interrupts follow the traffic: while a look finds frames they
 * are off and the main loop keeps looking (cpu_busy) instead of paying an
 * interrupt, and under TCG a wake-up from sleep, for each; the first look
 * that finds none turns them on again, and then the CPU may sleep.
 */
static void rx_interrupts(struct net_state *st, unsigned frames)
{
    if (frames) {
        if (!st->rx_quiet)
            (void)lvio_net_rx_notify(&st->net, false);
        st->rx_quiet = true;
        cpu_busy();
    } else if (st->rx_quiet) {
        st->rx_quiet = false;
        if (lvio_net_rx_notify(&st->net, true) > 0) /* one came meanwhile */
            cpu_busy();
    }
}

/* Take what the card has: frames to the responder, link changes. */
static int pump(struct net_state *st)
{
    struct lvio_net *n = &st->net;
    struct lvio_net_frame f;
    int rc = lvio_net_poll(n, kdev_take_isr(st->k)), len;
    unsigned frames = 0;

    if (rc < 0)
        return rc;
    for (unsigned q = 0; q < n->pairs; q++)
        while ((len = lvio_net_peek(n, q, &f)) >= 0) {
            uint64_t now = time_ns();
            const uint8_t *data = f.seg[0].data;
            frames++;
            if (st->window_frames++ == 0)
                st->window_first_ns = now;
            st->window_last_ns = now;
            if (f.nsegs > 1) { /* merged buffers: put together (else read in place) */
                size_t at = 0;
                for (unsigned i = 0; i < f.nsegs && at + f.seg[i].len <= sizeof st->frame; i++) {
                    memcpy(st->frame + at, f.seg[i].data, f.seg[i].len);
                    at += f.seg[i].len;
                }
                data = st->frame;
                len = (int)at;
            }
            st->pair = q;
            netif_input(&st->nif, data, (size_t)len, now);
            st->pair = 0;
            (void)lvio_net_release(n, q); /* a refill that failed shows at the next look */
        }
    rx_interrupts(st, frames);
    netif_tick(&st->nif, time_ns());
    uint32_t ev = lvio_net_events(n);
    if (ev & LVIO_NET_EV_LINK)
        shell_notice("levitate: net %s: link %s\n", st->k->dev.name,
                     n->link_up ? "up" : "down");
    if (ev & LVIO_NET_EV_ANNOUNCE) /* the driver has acknowledged it */
        netif_announce(&st->nif);
    return LVIO_OK;
}

static void idle_net(struct kdev *k)
{
    struct net_state *st = net_of(k);
    int rc;

    if (!st->net.up)
        return;
    rc = pump(st);
    if (rc < 0) {
        shell_notice("lvio: net %s: error %s polling: %s\n", k->dev.name, lvio_errname(rc),
                     lvio_device_error(&k->dev));
        lvio_net_teardown(&st->net);
    }
}

static const char *mac_str(const uint8_t m[6], char buf[18])
{
    ksnprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

/* Pump until `done` says so or `ns` have passed. */
static void pump_until(struct net_state *st, bool (*done)(const struct netif *), uint64_t ns)
{
    uint64_t end = time_ns() + ns;

    while (!done(&st->nif) && time_ns() < end && pump(st) == LVIO_OK)
        cpu_relax();
}

static bool has_address(const struct netif *nif)
{
    return nif->configured;
}

static bool ping_done(const struct netif *nif)
{
    return nif->ping_answered;
}

static int net_up(struct kdev *k)
{
    struct net_state *state = k->drv;
    /* As many receive buffers as a queue takes: the device keeps going
     * through a longer stall of this loop (a page each with MRG_RXBUF). */
    const struct lvio_net_opts opts = {.queue_pairs = LVIO_NET_MAX_PAIRS,
                                       .rx_bufs = LVIO_NET_RX_BUFS};

    return lvio_net_init(&state->net, &k->dev, &opts);
}

static void net_down(struct kdev *k)
{
    struct net_state *state = k->drv;

    lvio_net_teardown(&state->net);
}

static void run_net(struct kdev *k)
{
    struct net_state *st = kdev_state(k, sizeof *st);
    char mac[18], ip[16], mask[16], gw[16], server[16], how[24];
    int rc;

    if (!st)
        return; /* said by kdev_state */
    st->k = k;
    rc = kdev_up_twice(k, net_up, net_down); /* every page back between */
    if (!expect(rc == LVIO_OK, "%s: net init: %s", k->dev.name, lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "initialising");
        k->drv = NULL;
        return;
    }
    struct lvio_net *n = &st->net;
    kprintf("lvio: net %s: ok v%u, mac %s, link %s, mtu %u, %u queue pairs, %s\n", k->dev.name,
            (unsigned)k->dev.version, mac_str(n->mac, mac), n->link_up ? "up" : "down",
            (unsigned)n->mtu, n->pairs, kdev_service(k, how, sizeof how));
    if (opt_dump)
        lvio_dump(&k->dev);

    /* A card without an address of its own gets a locally administered one. */
    memcpy(st->nif.mac, n->mac, 6);
    if (!n->has_mac) {
        const uint8_t local[6] = {0x52, 0x54, 0x00, 0x6c, 0x76, (uint8_t)k->dev.phys};
        memcpy(st->nif.mac, local, 6);
    }
    st->nif.send = send_frame;
    st->nif.ctx = st;
    netif_start(&st->nif, time_ns(), DHCP_WAIT_NS);
    pump_until(st, has_address, DHCP_WAIT_NS + 200 * MS);
    if (!expect(st->nif.configured, "%s: no address, not even the fixed one", k->dev.name))
        return;
    kprintf("levitate: net %s: ip %s\n", k->dev.name, net_ip_str(st->nif.ip, ip));
    net_ip_str(st->nif.mask, mask);
    net_ip_str(st->nif.gateway, gw);
    if (st->nif.dhcp == NET_DHCP_BOUND)
        kprintf("levitate: net %s: dhcp from %s, mask %s, gateway %s\n", k->dev.name,
                net_ip_str(st->nif.dhcp_server, server), mask, gw);
    else
        kprintf("levitate: net %s: no DHCP answer in %llu ms: fixed, mask %s, gateway %s\n",
                k->dev.name, (unsigned long long)(DHCP_WAIT_NS / MS), mask, gw);

    netif_ping(&st->nif, st->nif.gateway, time_ns());
    pump_until(st, ping_done, PING_WAIT_NS);
    if (st->nif.ping_answered)
        kprintf("levitate: net %s: ping %s: %llu us\n", k->dev.name, gw,
                (unsigned long long)(st->nif.ping_rtt_ns / 1000));
    else
        kprintf("levitate: net %s: ping %s: no answer in %llu ms\n", k->dev.name, gw,
                (unsigned long long)(PING_WAIT_NS / MS));
}

static uint64_t tx_kicks(const struct lvio_net *n)
{
    uint64_t kicks = 0;

    for (unsigned q = 0; q < n->pairs; q++)
        kicks += n->q[q].tx.vq.kicks;
    return kicks;
}

/* `net send <count> <bytes>`: that many UDP frames of `bytes` (Ethernet
 * header included, 60..1514) from port 9 to the gateway's port 9 (the
 * discard port), as fast as the ring takes them; how fast, and what it
 * cost in notifies and interrupts. A full ring is waited for by looking
 * at the device's completions (not by sleeping: the wake-up, and under TCG
 * the clock reads, cost more per frame than the wait, measured with `make
 * bench`); when the device has taken nothing for SEND_STALL_NS (its
 * backend does not take frames), the send stops there and says so. */
static void net_send(struct net_state *st, struct shell_term *t, uint64_t count, uint64_t bytes)
{
    struct lvio_net *n = &st->net;
    uint8_t f[NET_FRAME_MAX];
    uint64_t kicks0 = tx_kicks(n), irq0 = st->k->interrupts, busy0 = n->stats.tx_busy;
    uint64_t sent = 0, c0;

    if (!netif_udp_frame(&st->nif, f, (size_t)bytes, st->nif.gateway, 9, 9)) {
        shell_printf(t, "net send: no address yet\n");
        return;
    }
    c0 = cycles();
    uint64_t full_since = 0; /* when the ring was found full, 0: it was not */
    int rc = LVIO_OK;
    while (sent < count) {
        rc = lvio_net_send(n, 0, f, (size_t)bytes, NULL);
        if (rc == LVIO_OK) {
            sent++;
            full_since = 0;
        } else if (rc == LVIO_E_AGAIN) {
            uint64_t now = time_ns();
            if (!full_since)
                full_since = now;
            else if (now - full_since >= SEND_STALL_NS)
                break;
            lvio_net_poll(n, 0); /* the device's completions free buffers */
        } else {
            break;
        }
    }
    uint64_t ns = bench_elapsed_ns(c0);
    if (rc == LVIO_E_AGAIN)
        shell_printf(t, "net send: stopped: the device took no frame for %llu ms, %llu sent\n",
                     (unsigned long long)(SEND_STALL_NS / 1000000), (unsigned long long)sent);
    else if (rc != LVIO_OK)
        shell_printf(t, "net send: stopped: %s, %llu sent\n", lvio_strerror(rc),
                     (unsigned long long)sent);
    shell_printf(t, "sent %llu frames of %llu bytes in %llu us: %llu frames/s, %llu notifies, "
                 "%llu interrupts, %llu busy\n",
                 (unsigned long long)sent, (unsigned long long)bytes,
                 (unsigned long long)(ns / 1000),
                 (unsigned long long)(ns ? sent * 1000000000ull / ns : 0),
                 (unsigned long long)(tx_kicks(n) - kicks0),
                 (unsigned long long)(st->k->interrupts - irq0),
                 (unsigned long long)(n->stats.tx_busy - busy0));
}

static void net_show(struct shell_term *t, struct kdev *k, struct net_state *st)
{
    char ip[16], mask[16], gw[16], mac[18];
    const struct netif *nif = &st->nif;
    const struct lvio_net_stats *s = &st->net.stats;
    uint64_t window = st->window_last_ns - st->window_first_ns;

    shell_printf(t, "%s: mac %s, ip %s, mask %s, gateway %s, %s, link %s\n", k->dev.name,
                 mac_str(nif->mac, mac), net_ip_str(nif->ip, ip), net_ip_str(nif->mask, mask),
                 net_ip_str(nif->gateway, gw), nif->dhcp == NET_DHCP_BOUND ? "dhcp" : "fixed",
                 st->net.link_up ? "up" : "down");
    shell_printf(t, "  rx %llu frames %llu bytes, tx %llu frames %llu bytes, tx busy %llu, "
                 "send failed %llu, interrupts %u\n",
                 (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
                 (unsigned long long)s->tx_packets, (unsigned long long)s->tx_bytes,
                 (unsigned long long)s->tx_busy, (unsigned long long)st->send_failed,
                 (unsigned)k->interrupts);
    shell_printf(t, "  since clear: %llu frames in %llu us: %llu frames/s\n",
                 (unsigned long long)st->window_frames, (unsigned long long)(window / 1000),
                 (unsigned long long)(window ? (st->window_frames - 1) * 1000000000ull / window
                                             : 0));
    if (st->net.pairs > 1) { /* which pairs the device delivered on */
        shell_printf(t, "  frames per pair: rx");
        for (unsigned q = 0; q < st->net.pairs; q++)
            shell_printf(t, " %llu", (unsigned long long)st->net.q[q].rx.packets);
        shell_printf(t, ", tx");
        for (unsigned q = 0; q < st->net.pairs; q++)
            shell_printf(t, " %llu", (unsigned long long)st->net.q[q].tx.packets);
        shell_printf(t, "\n");
    }
    shell_printf(t, "  driver drops: short %llu, overlong %llu, too big %llu, num_buffers %llu, "
                 "header %llu, starved %llu\n",
                 (unsigned long long)s->rx_short, (unsigned long long)s->rx_overlong,
                 (unsigned long long)s->rx_too_big, (unsigned long long)s->rx_bad_num_buffers,
                 (unsigned long long)s->rx_bad_header, (unsigned long long)s->rx_starved);
    shell_printf(t, "  answered: arp %llu, icmp %llu, udp echo %llu; not taken:",
                 (unsigned long long)nif->arp_answered, (unsigned long long)nif->icmp_answered,
                 (unsigned long long)nif->udp_echoed);
    for (int r = 0; r < NET_BAD_REASONS; r++)
        shell_printf(t, " %s %llu", net_bad_name((enum net_bad)r), (unsigned long long)nif->bad[r]);
    shell_printf(t, "\n");
}

/* The shell's `net`: every card's address and counters; `net clear`
 * starts the receive-rate window again; `net send <count> <bytes>` on the
 * first card. */
static void shell_net(struct kdev *first, struct shell_term *t, int argc, char **argv)
{
    unsigned count;
    struct kdev *devs = kernel_devices(&count);
    char *e1 = NULL, *e2 = NULL;

    if (argc == 4 && strcmp(argv[1], "send") == 0) {
        uint64_t frames = parse_u64(argv[2], &e1), bytes = parse_u64(argv[3], &e2);
        if (*e1 || *e2 || frames == 0 || bytes < 60 || bytes > NET_FRAME_MAX)
            shell_printf(t, "usage: net send <count> <bytes: 60..%u>\n", NET_FRAME_MAX);
        else
            net_send(first->drv, t, frames, bytes);
        return;
    }
    bool clear = argc == 2 && strcmp(argv[1], "clear") == 0;
    if (argc != 1 && !clear) {
        shell_printf(t, "usage: net [clear | send <count> <bytes>]\n");
        return;
    }
    for (unsigned i = 0; i < count; i++) {
        struct net_state *st = devs[i].dev.device_id == LVIO_VIRTIO_ID_NET ? devs[i].drv : NULL;
        if (!st)
            continue;
        if (clear)
            st->window_frames = st->window_first_ns = st->window_last_ns = 0;
        else
            net_show(t, &devs[i], st);
    }
}

const struct kdriver kdriver_net = {
    .device_id = LVIO_VIRTIO_ID_NET, .name = "net",
    .run = run_net, .idle = idle_net,
    .shell = shell_net,
    .shell_help = "net [clear | send <count> <bytes>]: each card's address and counters",
};
