/*
 * A minimal IPv4 responder for the test kernel (netstack.c): one address per
 * interface, from DHCP or a fixed fallback; ARP requests answered and a
 * small ARP cache; ICMP echo answered; UDP port 7 echoes each datagram to
 * its sender; one ICMP echo of its own (to ping the gateway). No routing
 * beyond "everything off the subnet goes to the gateway", no fragments, no
 * options. Frames it cannot parse are counted by reason, never trusted.
 *
 * Pure: it sees frames and the time, and sends frames through a callback.
 * It touches no device and is host-tested (tests/host/test_netstack.c).
 * Addresses are in host order (0x0a00020f is 10.0.2.15).
 */
#ifndef KERNEL_NETSTACK_H
#define KERNEL_NETSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ARP_ENTRIES 8
#define NET_FRAME_MAX 1514 /* Ethernet header + 1500 */

/* Why a frame was not taken (struct netif's `bad`). */
enum net_bad {
    NET_BAD_RUNT,        /* shorter than its headers say it is */
    NET_BAD_ETHERTYPE,   /* neither ARP nor IPv4 */
    NET_BAD_ARP,         /* not Ethernet/IPv4 ARP, or a bad operation */
    NET_BAD_IP_HEADER,   /* version, header length or total length wrong */
    NET_BAD_IP_CSUM,     /* header checksum */
    NET_BAD_FRAGMENT,    /* a fragment: not reassembled */
    NET_BAD_NOT_OURS,    /* to another address */
    NET_BAD_PROTO,       /* neither ICMP nor UDP */
    NET_BAD_ICMP,        /* too short, bad checksum, or not echo */
    NET_BAD_UDP,         /* length or checksum wrong */
    NET_BAD_PORT,        /* UDP to a port nobody listens on */
    NET_BAD_DHCP,        /* a DHCP answer not for us or malformed */
    NET_BAD_REASONS
};

enum net_dhcp_state { NET_DHCP_OFF, NET_DHCP_DISCOVER, NET_DHCP_REQUEST, NET_DHCP_BOUND,
                      NET_DHCP_FALLBACK };

struct netif {
    /* Set by the caller before netif_start. */
    uint8_t mac[6];
    int (*send)(void *ctx, const void *frame, size_t len); /* 0: sent */
    void *ctx;

    /* The address, once there is one (configured). */
    bool configured;
    uint32_t ip, mask, gateway, dhcp_server;
    enum net_dhcp_state dhcp;
    uint32_t xid, offered;
    uint64_t dhcp_start_ns, dhcp_sent_ns, dhcp_deadline_ns;

    struct {
        uint32_t ip;
        uint8_t mac[6];
    } arp[NET_ARP_ENTRIES];
    unsigned arp_next;

    /* The one ping of our own: sent, answered. */
    uint32_t ping_ip;
    uint16_t ping_id, ping_seq;
    bool ping_waiting_arp, ping_sent, ping_answered;
    uint64_t ping_sent_ns, ping_rtt_ns;

    /* Statistics. */
    uint64_t rx_frames, tx_frames, tx_failed;
    uint64_t arp_answered, icmp_answered, udp_echoed, dhcp_messages;
    uint64_t bad[NET_BAD_REASONS];
};

/* Start: no address yet; DHCP discovery begins (DISCOVER sent now, again
 * every 250 ms); with no answer by `fallback_ns` after now, the fixed
 * fallback 10.0.2.15/24, gateway 10.0.2.2. */
void netif_start(struct netif *nif, uint64_t now_ns, uint64_t fallback_ns);
/* One received frame. */
void netif_input(struct netif *nif, const uint8_t *frame, size_t len, uint64_t now_ns);
/* Time passes: DHCP retries and the fallback. */
void netif_tick(struct netif *nif, uint64_t now_ns);
/* Ping `ip` once (ICMP echo, after an ARP request if its address is not
 * known); ping_answered and ping_rtt_ns say how it went. */
void netif_ping(struct netif *nif, uint32_t ip, uint64_t now_ns);

/* A gratuitous ARP for our address (after the device asked for an
 * announcement, e.g. when the VM moved): nothing without an address. */
void netif_announce(struct netif *nif);
/* A UDP frame of exactly `len` bytes (42..NET_FRAME_MAX, Ethernet header
 * included; the payload counts up from 0) from our address and `sport` to
 * `ip`:`dport`, addressed to its next hop's MAC when the ARP cache knows
 * it, else to everyone; into f. False when there is no address yet. */
bool netif_udp_frame(struct netif *nif, uint8_t *f, size_t len, uint32_t ip, uint16_t sport,
                     uint16_t dport);

const char *net_bad_name(enum net_bad why);
/* "10.0.2.15" into buf (16 bytes). */
const char *net_ip_str(uint32_t ip, char buf[16]);

#endif
