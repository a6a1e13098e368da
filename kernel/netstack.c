/* A minimal IPv4 responder (netstack.h). */
#include "netstack.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define MS 1000000ull
#define ETH_HLEN 14
#define ETH_ARP 0x0806
#define ETH_IPV4 0x0800
#define ARP_LEN 28
#define IP_HLEN 20
#define IP_ICMP 1
#define IP_UDP 17
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO 8
#define UDP_HLEN 8
#define UDP_ECHO 7
#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED 236          /* BOOTP's fixed part, before the magic cookie */
#define DHCP_MAGIC 0x63825363u
#define DHCP_RETRY_NS (250 * MS)
enum { DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPACK = 5, DHCPNAK = 6 };

#define FALLBACK_IP 0x0a00020fu /* 10.0.2.15: QEMU's user network */
#define FALLBACK_MASK 0xffffff00u
#define FALLBACK_GW 0x0a000202u

static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ---- bytes in network order ------------------------------------------------ */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* The Internet checksum's running sum (RFC 1071), folded at the end. */
static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n > 1; n -= 2, p += 2)
        sum += get16(p);
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* UDP's pseudo-header: addresses, protocol, length. */
static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint16_t len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + IP_UDP + len;
}

const char *net_ip_str(uint32_t ip, char buf[16])
{
    char *p = buf;

    for (int i = 3; i >= 0; i--) {
        unsigned v = (ip >> (8 * i)) & 0xff;
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        if (i)
            *p++ = '.';
    }
    *p = '\0';
    return buf;
}

const char *net_bad_name(enum net_bad why)
{
    static const char *const names[NET_BAD_REASONS] = {
        [NET_BAD_RUNT] = "runt", [NET_BAD_ETHERTYPE] = "ethertype", [NET_BAD_ARP] = "arp",
        [NET_BAD_IP_HEADER] = "ip-header", [NET_BAD_IP_CSUM] = "ip-checksum",
        [NET_BAD_FRAGMENT] = "fragment", [NET_BAD_NOT_OURS] = "not-ours",
        [NET_BAD_PROTO] = "protocol", [NET_BAD_ICMP] = "icmp", [NET_BAD_UDP] = "udp",
        [NET_BAD_PORT] = "port", [NET_BAD_DHCP] = "dhcp",
    };
    return (unsigned)why < NET_BAD_REASONS ? names[why] : "unknown";
}

/* ---- sending ------------------------------------------------------------------ */

static void send_frame(struct netif *nif, const uint8_t *frame, size_t len)
{
    if (nif->send(nif->ctx, frame, len) == 0)
        nif->tx_frames++;
    else
        nif->tx_failed++;
}

static void eth_header(struct netif *nif, uint8_t *f, const uint8_t dst[6], uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, nif->mac, 6);
    put16(f + 12, type);
}

/* An IPv4 header for `payload` bytes of `proto` at f + ETH_HLEN. */
static void ip_header(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t payload)
{
    static uint16_t ident;
    uint8_t *ip = f + ETH_HLEN;

    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (uint16_t)(IP_HLEN + payload));
    put16(ip + 4, ident++);
    put16(ip + 6, 0x4000); /* don't fragment */
    ip[8] = 64;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, fold(sum_bytes(0, ip, IP_HLEN)));
}

/* A UDP datagram of `n` payload bytes (already at its place in f). */
static size_t udp_finish(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport,
                         uint16_t dport, size_t n)
{
    uint8_t *u = f + ETH_HLEN + IP_HLEN;
    uint16_t len = (uint16_t)(UDP_HLEN + n);

    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, len);
    put16(u + 6, 0);
    uint16_t c = fold(sum_bytes(pseudo_sum(src, dst, len), u, len));
    put16(u + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
    ip_header(f, src, dst, IP_UDP, len);
    return ETH_HLEN + IP_HLEN + len;
}

static void arp_send(struct netif *nif, uint16_t oper, const uint8_t dst_mac[6],
                     const uint8_t target_mac[6], uint32_t target_ip)
{
    uint8_t f[ETH_HLEN + ARP_LEN];
    uint8_t *a = f + ETH_HLEN;

    eth_header(nif, f, dst_mac, ETH_ARP);
    put16(a, 1);
    put16(a + 2, ETH_IPV4);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, oper);
    memcpy(a + 8, nif->mac, 6);
    put32(a + 14, nif->ip);
    memcpy(a + 18, target_mac, 6);
    put32(a + 24, target_ip);
    send_frame(nif, f, sizeof f);
}

/* ---- the ARP cache ------------------------------------------------------------- */

static const uint8_t *arp_lookup(const struct netif *nif, uint32_t ip)
{
    for (unsigned i = 0; i < NET_ARP_ENTRIES; i++)
        if (nif->arp[i].ip == ip && ip)
            return nif->arp[i].mac;
    return NULL;
}

static void arp_learn(struct netif *nif, uint32_t ip, const uint8_t mac[6])
{
    unsigned i;

    if (!ip)
        return;
    for (i = 0; i < NET_ARP_ENTRIES && nif->arp[i].ip != ip; i++)
        ;
    if (i == NET_ARP_ENTRIES)
        i = nif->arp_next++ % NET_ARP_ENTRIES; /* the oldest goes */
    nif->arp[i].ip = ip;
    memcpy(nif->arp[i].mac, mac, 6);
}

/* ---- ping --------------------------------------------------------------------- */

static uint32_t next_hop(const struct netif *nif, uint32_t ip)
{
    return (ip & nif->mask) == (nif->ip & nif->mask) ? ip : nif->gateway;
}

static void ping_send(struct netif *nif, const uint8_t mac[6], uint64_t now_ns)
{
    uint8_t f[ETH_HLEN + IP_HLEN + 8 + 32];
    uint8_t *icmp = f + ETH_HLEN + IP_HLEN;

    eth_header(nif, f, mac, ETH_IPV4);
    icmp[0] = ICMP_ECHO;
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, nif->ping_id);
    put16(icmp + 6, nif->ping_seq);
    for (unsigned i = 0; i < 32; i++)
        icmp[8 + i] = (uint8_t)('a' + i % 26);
    put16(icmp + 2, fold(sum_bytes(0, icmp, 8 + 32)));
    ip_header(f, nif->ip, nif->ping_ip, IP_ICMP, 8 + 32);
    nif->ping_waiting_arp = false;
    nif->ping_sent = true;
    nif->ping_sent_ns = now_ns;
    send_frame(nif, f, sizeof f);
}

void netif_ping(struct netif *nif, uint32_t ip, uint64_t now_ns)
{
    uint32_t hop = next_hop(nif, ip);
    const uint8_t *mac = arp_lookup(nif, hop);

    nif->ping_ip = ip;
    nif->ping_id = (uint16_t)(0x6c76 ^ nif->mac[5]);
    nif->ping_seq++;
    nif->ping_sent = nif->ping_answered = false;
    if (mac) {
        ping_send(nif, mac, now_ns);
    } else {
        nif->ping_waiting_arp = true;
        arp_send(nif, 1, broadcast_mac, (const uint8_t[6]){0}, hop);
    }
}

/* ---- DHCP --------------------------------------------------------------------- */

static void dhcp_send(struct netif *nif, uint8_t type, uint64_t now_ns)
{
    uint8_t f[ETH_HLEN + IP_HLEN + UDP_HLEN + DHCP_FIXED + 4 + 32];
    uint8_t *d = f + ETH_HLEN + IP_HLEN + UDP_HLEN, *o;

    memset(f, 0, sizeof f);
    eth_header(nif, f, broadcast_mac, ETH_IPV4);
    d[0] = 1; /* BOOTREQUEST */
    d[1] = 1;
    d[2] = 6;
    put32(d + 4, nif->xid);
    put16(d + 10, 0x8000); /* answer by broadcast: we have no address yet */
    memcpy(d + 28, nif->mac, 6);
    put32(d + DHCP_FIXED, DHCP_MAGIC);
    o = d + DHCP_FIXED + 4;
    *o++ = 53, *o++ = 1, *o++ = type;
    if (type == DHCPREQUEST) {
        *o++ = 50, *o++ = 4, put32(o, nif->offered), o += 4;
        *o++ = 54, *o++ = 4, put32(o, nif->dhcp_server), o += 4;
    }
    *o++ = 55, *o++ = 2, *o++ = 1, *o++ = 3; /* we want the mask and the router */
    *o++ = 255;
    size_t n = (size_t)(o - d);
    nif->dhcp_sent_ns = now_ns;
    send_frame(nif, f, udp_finish(f, 0, 0xffffffffu, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, n));
}

static void configure(struct netif *nif, uint32_t ip, uint32_t mask, uint32_t gw,
                      enum net_dhcp_state how)
{
    nif->ip = ip;
    nif->mask = mask;
    nif->gateway = gw;
    nif->dhcp = how;
    nif->configured = true;
}

static void dhcp_input(struct netif *nif, const uint8_t *d, size_t n, uint64_t now_ns)
{
    uint8_t type = 0;
    uint32_t server = 0, mask = 0, router = 0;

    nif->dhcp_messages++;
    if (n < DHCP_FIXED + 4 || d[0] != 2 || get32(d + 4) != nif->xid ||
        memcmp(d + 28, nif->mac, 6) != 0 || get32(d + DHCP_FIXED) != DHCP_MAGIC) {
        nif->bad[NET_BAD_DHCP]++;
        return;
    }
    for (size_t i = DHCP_FIXED + 4; i < n && d[i] != 255;) {
        uint8_t opt = d[i];
        if (opt == 0) {
            i++;
            continue;
        }
        if (i + 2 > n || i + 2 + d[i + 1] > n) {
            nif->bad[NET_BAD_DHCP]++;
            return;
        }
        uint8_t len = d[i + 1];
        const uint8_t *v = d + i + 2;
        if (opt == 53 && len == 1)
            type = v[0];
        else if (opt == 54 && len == 4)
            server = get32(v);
        else if (opt == 1 && len == 4)
            mask = get32(v);
        else if (opt == 3 && len >= 4)
            router = get32(v);
        i += 2u + len;
    }
    uint32_t yiaddr = get32(d + 16);
    if (type == DHCPOFFER && nif->dhcp == NET_DHCP_DISCOVER && yiaddr && server) {
        nif->offered = yiaddr;
        nif->dhcp_server = server;
        nif->dhcp = NET_DHCP_REQUEST;
        dhcp_send(nif, DHCPREQUEST, now_ns);
    } else if (type == DHCPACK && nif->dhcp == NET_DHCP_REQUEST && yiaddr == nif->offered) {
        configure(nif, yiaddr, mask ? mask : 0xffffff00u, router, NET_DHCP_BOUND);
    } else if (type == DHCPNAK && nif->dhcp == NET_DHCP_REQUEST) {
        nif->dhcp = NET_DHCP_DISCOVER;
        dhcp_send(nif, DHCPDISCOVER, now_ns);
    } else {
        nif->bad[NET_BAD_DHCP]++;
    }
}

void netif_start(struct netif *nif, uint64_t now_ns, uint64_t fallback_ns)
{
    nif->configured = false;
    nif->ip = nif->mask = nif->gateway = nif->dhcp_server = 0;
    nif->xid = 0x6c760000u ^ (uint32_t)nif->mac[4] << 8 ^ nif->mac[5] ^ (uint32_t)now_ns;
    nif->dhcp = NET_DHCP_DISCOVER;
    nif->dhcp_start_ns = now_ns;
    nif->dhcp_deadline_ns = now_ns + fallback_ns;
    dhcp_send(nif, DHCPDISCOVER, now_ns);
}

void netif_tick(struct netif *nif, uint64_t now_ns)
{
    if (nif->dhcp != NET_DHCP_DISCOVER && nif->dhcp != NET_DHCP_REQUEST)
        return;
    if (now_ns >= nif->dhcp_deadline_ns)
        configure(nif, FALLBACK_IP, FALLBACK_MASK, FALLBACK_GW, NET_DHCP_FALLBACK);
    else if (now_ns - nif->dhcp_sent_ns >= DHCP_RETRY_NS)
        dhcp_send(nif, nif->dhcp == NET_DHCP_DISCOVER ? DHCPDISCOVER : DHCPREQUEST, now_ns);
}

void netif_announce(struct netif *nif)
{
    if (nif->configured)
        arp_send(nif, 1, broadcast_mac, (const uint8_t[6]){0}, nif->ip); /* sender = target */
}

bool netif_udp_frame(struct netif *nif, uint8_t *f, size_t len, uint32_t ip, uint16_t sport,
                     uint16_t dport)
{
    const size_t head = ETH_HLEN + IP_HLEN + UDP_HLEN;
    const uint8_t *mac;

    if (!nif->configured || len < head || len > NET_FRAME_MAX)
        return false;
    mac = arp_lookup(nif, next_hop(nif, ip));
    eth_header(nif, f, mac ? mac : broadcast_mac, ETH_IPV4);
    for (size_t i = head; i < len; i++)
        f[i] = (uint8_t)(i - head);
    udp_finish(f, nif->ip, ip, sport, dport, len - head);
    return true;
}

/* ---- receiving ------------------------------------------------------------------ */

static void arp_input(struct netif *nif, const uint8_t *f, size_t len, uint64_t now_ns)
{
    const uint8_t *a = f + ETH_HLEN;

    if (len < ETH_HLEN + ARP_LEN) {
        nif->bad[NET_BAD_RUNT]++;
        return;
    }
    uint16_t oper = get16(a + 6);
    if (get16(a) != 1 || get16(a + 2) != ETH_IPV4 || a[4] != 6 || a[5] != 4 ||
        (oper != 1 && oper != 2)) {
        nif->bad[NET_BAD_ARP]++;
        return;
    }
    uint32_t sender = get32(a + 14), target = get32(a + 24);
    arp_learn(nif, sender, a + 8);
    if (oper == 1 && nif->configured && target == nif->ip) {
        arp_send(nif, 2, a + 8, a + 8, sender);
        nif->arp_answered++;
    }
    if (nif->ping_waiting_arp && sender == next_hop(nif, nif->ping_ip))
        ping_send(nif, a + 8, now_ns);
}

static void icmp_input(struct netif *nif, const uint8_t *f, const uint8_t *ip, size_t n,
                       uint64_t now_ns)
{
    const uint8_t *icmp = ip + IP_HLEN;
    uint32_t src = get32(ip + 12), dst = get32(ip + 16);

    if (n < 8 || fold(sum_bytes(0, icmp, n)) != 0) {
        nif->bad[NET_BAD_ICMP]++;
        return;
    }
    if (icmp[0] == ICMP_ECHO && icmp[1] == 0 && nif->configured && dst == nif->ip &&
        n <= NET_FRAME_MAX - ETH_HLEN - IP_HLEN) {
        uint8_t r[NET_FRAME_MAX];
        uint8_t *ri = r + ETH_HLEN + IP_HLEN;
        eth_header(nif, r, f + 6, ETH_IPV4);
        memcpy(ri, icmp, n);
        ri[0] = ICMP_ECHO_REPLY;
        put16(ri + 2, 0);
        put16(ri + 2, fold(sum_bytes(0, ri, n)));
        ip_header(r, nif->ip, src, IP_ICMP, n);
        send_frame(nif, r, ETH_HLEN + IP_HLEN + n);
        nif->icmp_answered++;
    } else if (icmp[0] == ICMP_ECHO_REPLY && nif->ping_sent && !nif->ping_answered &&
               src == nif->ping_ip && get16(icmp + 4) == nif->ping_id &&
               get16(icmp + 6) == nif->ping_seq) {
        nif->ping_answered = true;
        nif->ping_rtt_ns = now_ns - nif->ping_sent_ns;
    } else {
        nif->bad[NET_BAD_ICMP]++;
    }
}

static void udp_input(struct netif *nif, const uint8_t *f, const uint8_t *ip, size_t n,
                      uint64_t now_ns)
{
    const uint8_t *u = ip + IP_HLEN;
    uint32_t src = get32(ip + 12), dst = get32(ip + 16);

    if (n < UDP_HLEN || get16(u + 4) < UDP_HLEN || get16(u + 4) > n) {
        nif->bad[NET_BAD_UDP]++;
        return;
    }
    uint16_t len = get16(u + 4), sport = get16(u), dport = get16(u + 2);
    if (get16(u + 6) && fold(sum_bytes(pseudo_sum(src, dst, len), u, len)) != 0) {
        nif->bad[NET_BAD_UDP]++;
        return;
    }
    if (dport == DHCP_CLIENT_PORT && sport == DHCP_SERVER_PORT) {
        dhcp_input(nif, u + UDP_HLEN, len - UDP_HLEN, now_ns);
        return;
    }
    if (dport != UDP_ECHO || !nif->configured || dst != nif->ip) {
        nif->bad[NET_BAD_PORT]++;
        return;
    }
    uint8_t r[NET_FRAME_MAX];
    size_t data = len - UDP_HLEN;
    eth_header(nif, r, f + 6, ETH_IPV4);
    memcpy(r + ETH_HLEN + IP_HLEN + UDP_HLEN, u + UDP_HLEN, data);
    send_frame(nif, r, udp_finish(r, nif->ip, src, UDP_ECHO, sport, data));
    nif->udp_echoed++;
}

static bool for_us(const struct netif *nif, uint32_t dst, uint8_t proto, const uint8_t *l4,
                   size_t n)
{
    if (dst == 0xffffffffu)
        return true;
    if (nif->configured)
        return dst == nif->ip || dst == (nif->ip | ~nif->mask);
    /* No address yet: only DHCP's answers, to whatever address it offers. */
    return proto == IP_UDP && n >= UDP_HLEN && get16(l4 + 2) == DHCP_CLIENT_PORT;
}

void netif_input(struct netif *nif, const uint8_t *f, size_t len, uint64_t now_ns)
{
    nif->rx_frames++;
    if (len < ETH_HLEN) {
        nif->bad[NET_BAD_RUNT]++;
        return;
    }
    uint16_t type = get16(f + 12);
    if (type == ETH_ARP) {
        arp_input(nif, f, len, now_ns);
        return;
    }
    if (type != ETH_IPV4) {
        nif->bad[NET_BAD_ETHERTYPE]++;
        return;
    }
    const uint8_t *ip = f + ETH_HLEN;
    if (len < ETH_HLEN + IP_HLEN) {
        nif->bad[NET_BAD_RUNT]++;
        return;
    }
    size_t total = get16(ip + 2);
    if (ip[0] != 0x45) { /* version 4, no options */
        nif->bad[NET_BAD_IP_HEADER]++;
        return;
    }
    if (total < IP_HLEN || ETH_HLEN + total > len) {
        nif->bad[total < IP_HLEN ? NET_BAD_IP_HEADER : NET_BAD_RUNT]++;
        return;
    }
    if (fold(sum_bytes(0, ip, IP_HLEN)) != 0) {
        nif->bad[NET_BAD_IP_CSUM]++;
        return;
    }
    if (get16(ip + 6) & 0x3fff) { /* more fragments, or an offset */
        nif->bad[NET_BAD_FRAGMENT]++;
        return;
    }
    size_t n = total - IP_HLEN;
    if (!for_us(nif, get32(ip + 16), ip[9], ip + IP_HLEN, n)) {
        nif->bad[NET_BAD_NOT_OURS]++;
        return;
    }
    if (ip[9] == IP_ICMP)
        icmp_input(nif, f, ip, n, now_ns);
    else if (ip[9] == IP_UDP)
        udp_input(nif, f, ip, n, now_ns);
    else
        nif->bad[NET_BAD_PROTO]++;
}
