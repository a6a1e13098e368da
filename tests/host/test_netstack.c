/* The test kernel's IPv4 responder (kernel/netstack.c), frame by frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "netstack.h"

#define MS 1000000ull
static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t PEER[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define OURS IP(10, 0, 2, 15)
#define GW IP(10, 0, 2, 2)

static struct netif N;
static uint8_t sent[16][NET_FRAME_MAX];
static size_t sent_len[16];
static unsigned nsent;

static int capture(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    assert_true(len <= NET_FRAME_MAX);
    if (nsent < 16) {
        memcpy(sent[nsent], frame, len);
        sent_len[nsent] = len;
    }
    nsent++;
    return 0;
}

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) << 16 | g16(p + 2); }
static void p16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void p32(uint8_t *p, uint32_t v) { p16(p, (uint16_t)(v >> 16)); p16(p + 2, (uint16_t)v); }

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n > 1; n -= 2, p += 2)
        sum += g16(p);
    if (n)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t pseudo(uint32_t s, uint32_t d, uint16_t len)
{
    return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + 17 + len;
}

/* An IPv4 frame from PEER/src to dst, `n` payload bytes at f + 34. */
static size_t ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t n)
{
    memcpy(f, MAC, 6);
    memcpy(f + 6, PEER, 6);
    p16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    p16(ip + 2, (uint16_t)(20 + n));
    ip[8] = 64;
    ip[9] = proto;
    p32(ip + 12, src);
    p32(ip + 16, dst);
    p16(ip + 10, csum(0, ip, 20));
    return 34 + n;
}

static size_t udp(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                  const void *data, size_t n)
{
    uint8_t *u = f + 34;
    memcpy(u + 8, data, n);
    p16(u, sport);
    p16(u + 2, dport);
    p16(u + 4, (uint16_t)(8 + n));
    p16(u + 6, 0);
    p16(u + 6, csum(pseudo(src, dst, (uint16_t)(8 + n)), u, 8 + n));
    return ipv4(f, src, dst, 17, 8 + n);
}

/* The frame we sent last is valid IPv4 with good checksums; its payload. */
static const uint8_t *check_ip(unsigned i, uint8_t proto, size_t *n)
{
    const uint8_t *f = sent[i], *ip = f + 14;
    assert_true(sent_len[i] >= 34);
    assert_memory_equal(f + 6, MAC, 6);
    assert_int_equal(g16(f + 12), 0x0800);
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(ip[9], proto);
    assert_int_equal(csum(0, ip, 20), 0);
    *n = g16(ip + 2) - 20u;
    assert_int_equal(sent_len[i], 34 + *n);
    if (proto == 17) {
        const uint8_t *u = ip + 20;
        assert_int_equal(g16(u + 4), *n);
        assert_int_equal(csum(pseudo(g32(ip + 12), g32(ip + 16), (uint16_t)*n), u, *n), 0);
    }
    return ip + 20;
}

/* A new interface, nothing sent yet. */
static void fresh(void)
{
    memset(&N, 0, sizeof N);
    memcpy(N.mac, MAC, 6);
    N.send = capture;
    nsent = 0;
}

static void configured(void)
{
    fresh();
    netif_start(&N, 0, 1000 * MS);
    netif_tick(&N, 1000 * MS); /* no DHCP here: the fallback */
    assert_true(N.configured);
    nsent = 0;
}

/* A DHCP answer of `type` for the transaction we started. */
static size_t dhcp_answer(uint8_t *f, uint8_t type, uint32_t yiaddr)
{
    uint8_t d[300] = {0};
    d[0] = 2;
    d[1] = 1;
    d[2] = 6;
    p32(d + 4, N.xid);
    p32(d + 16, yiaddr);
    memcpy(d + 28, MAC, 6);
    p32(d + 236, 0x63825363u);
    uint8_t *o = d + 240;
    *o++ = 53, *o++ = 1, *o++ = type;
    *o++ = 54, *o++ = 4, p32(o, GW), o += 4;
    *o++ = 1, *o++ = 4, p32(o, 0xffffff00u), o += 4;
    *o++ = 3, *o++ = 4, p32(o, GW), o += 4;
    *o++ = 255;
    return udp(f, GW, 0xffffffffu, 67, 68, d, (size_t)(o - d));
}

static void test_dhcp(void **state)
{
    uint8_t f[NET_FRAME_MAX];
    size_t n;
    (void)state;
    fresh();
    netif_start(&N, 5 * MS, 1000 * MS);
    assert_int_equal(nsent, 1);
    const uint8_t *u = check_ip(0, 17, &n), *d = u + 8;
    assert_memory_equal(sent[0], "\xff\xff\xff\xff\xff\xff", 6);
    assert_int_equal(g16(u), 68);
    assert_int_equal(g16(u + 2), 67);
    assert_int_equal(d[0], 1);
    assert_int_equal(g32(d + 4), N.xid);
    assert_memory_equal(d + 28, MAC, 6);
    assert_int_equal(g32(d + 236), 0x63825363u);
    assert_memory_equal(d + 240, "\x35\x01\x01", 3); /* DISCOVER */
    /* Retried every 250 ms. */
    netif_tick(&N, 200 * MS);
    assert_int_equal(nsent, 1);
    netif_tick(&N, 260 * MS);
    assert_int_equal(nsent, 2);
    /* An offer for another transaction, or a wrong magic: counted, no answer. */
    N.xid ^= 1;
    size_t other = dhcp_answer(f, 2, OURS);
    N.xid ^= 1;
    netif_input(&N, f, other, 300 * MS);
    assert_int_equal(N.bad[NET_BAD_DHCP], 1);
    assert_int_equal(nsent, 2);
    /* The offer: a REQUEST for it, naming the server. */
    netif_input(&N, f, dhcp_answer(f, 2, OURS), 310 * MS);
    assert_int_equal(nsent, 3);
    u = check_ip(2, 17, &n);
    d = u + 8;
    assert_memory_equal(d + 240, "\x35\x01\x03\x32\x04\x0a\x00\x02\x0f\x36\x04\x0a\x00\x02\x02", 15);
    assert_false(N.configured);
    /* The ack: bound. */
    netif_input(&N, f, dhcp_answer(f, 5, OURS), 320 * MS);
    assert_true(N.configured);
    assert_int_equal(N.dhcp, NET_DHCP_BOUND);
    assert_int_equal(N.ip, OURS);
    assert_int_equal(N.mask, 0xffffff00u);
    assert_int_equal(N.gateway, GW);
    netif_tick(&N, 5000 * MS); /* no fallback any more */
    assert_int_equal(N.dhcp, NET_DHCP_BOUND);
}

static void test_fallback(void **state)
{
    char buf[16];
    (void)state;
    configured();
    assert_int_equal(N.dhcp, NET_DHCP_FALLBACK);
    assert_string_equal(net_ip_str(N.ip, buf), "10.0.2.15");
    assert_string_equal(net_ip_str(N.gateway, buf), "10.0.2.2");
    assert_string_equal(net_ip_str(IP(192, 168, 100, 1), buf), "192.168.100.1");
}

static void test_arp(void **state)
{
    uint8_t f[64] = {0};
    (void)state;
    configured();
    memset(f, 0xff, 6);
    memcpy(f + 6, PEER, 6);
    p16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    p16(a, 1), p16(a + 2, 0x0800), a[4] = 6, a[5] = 4, p16(a + 6, 1);
    memcpy(a + 8, PEER, 6);
    p32(a + 14, GW);
    p32(a + 24, OURS);
    netif_input(&N, f, 60, 0);
    assert_int_equal(nsent, 1);
    const uint8_t *r = sent[0] + 14;
    assert_memory_equal(sent[0], PEER, 6);
    assert_int_equal(g16(r + 6), 2);
    assert_memory_equal(r + 8, MAC, 6);
    assert_int_equal(g32(r + 14), OURS);
    assert_memory_equal(r + 18, PEER, 6);
    assert_int_equal(g32(r + 24), GW);
    /* For another address: learned, not answered. */
    p32(a + 24, IP(10, 0, 2, 99));
    netif_input(&N, f, 60, 0);
    assert_int_equal(nsent, 1);
    /* Not Ethernet/IPv4, or cut short. */
    a[4] = 8;
    netif_input(&N, f, 60, 0);
    assert_int_equal(N.bad[NET_BAD_ARP], 1);
    netif_input(&N, f, 30, 0);
    assert_int_equal(N.bad[NET_BAD_RUNT], 1);
    assert_int_equal(nsent, 1);
}

static void test_icmp_echo(void **state)
{
    uint8_t f[NET_FRAME_MAX];
    size_t n;
    (void)state;
    configured();
    uint8_t *icmp = f + 34;
    icmp[0] = 8, icmp[1] = 0;
    p16(icmp + 2, 0), p16(icmp + 4, 0x1234), p16(icmp + 6, 7);
    for (unsigned i = 0; i < 56; i++)
        icmp[8 + i] = (uint8_t)i;
    p16(icmp + 2, csum(0, icmp, 64));
    netif_input(&N, f, ipv4(f, GW, OURS, 1, 64), 0);
    assert_int_equal(nsent, 1);
    const uint8_t *r = check_ip(0, 1, &n);
    assert_int_equal(n, 64);
    assert_int_equal(r[0], 0);
    assert_int_equal(csum(0, r, 64), 0);
    assert_memory_equal(r + 4, icmp + 4, 60);
    assert_memory_equal(sent[0], PEER, 6);
    assert_int_equal(g32(sent[0] + 14 + 16), GW);
    /* A bad ICMP checksum: counted, not answered. */
    icmp[10] ^= 1;
    netif_input(&N, f, ipv4(f, GW, OURS, 1, 64), 0);
    assert_int_equal(N.bad[NET_BAD_ICMP], 1);
    assert_int_equal(nsent, 1);
}

static void test_udp_echo(void **state)
{
    uint8_t f[NET_FRAME_MAX], data[1472];
    size_t n;
    unsigned echoes = 0;
    (void)state;
    configured();
    for (size_t len = 1; len <= sizeof data; len += len < 64 ? 1 : 97, echoes++) {
        for (size_t i = 0; i < len; i++)
            data[i] = (uint8_t)(i * 7 + len);
        nsent = 0;
        netif_input(&N, f, udp(f, GW, OURS, 40000, 7, data, len), 0);
        assert_int_equal(nsent, 1);
        const uint8_t *u = check_ip(0, 17, &n);
        assert_int_equal(n, 8 + len);
        assert_int_equal(g16(u), 7);
        assert_int_equal(g16(u + 2), 40000);
        assert_memory_equal(u + 8, data, len);
    }
    nsent = 0;
    netif_input(&N, f, udp(f, GW, OURS, 40000, 7, data, 1472), 0);
    assert_int_equal(sent_len[0], 1514);
    /* Another port; to another address; a bad UDP checksum. */
    nsent = 0;
    netif_input(&N, f, udp(f, GW, OURS, 40000, 9, data, 8), 0);
    assert_int_equal(N.bad[NET_BAD_PORT], 1);
    netif_input(&N, f, udp(f, GW, IP(10, 0, 2, 16), 40000, 7, data, 8), 0);
    assert_int_equal(N.bad[NET_BAD_NOT_OURS], 1);
    size_t len = udp(f, GW, OURS, 40000, 7, data, 8);
    f[34 + 8] ^= 0x55;
    netif_input(&N, f, len, 0);
    assert_int_equal(N.bad[NET_BAD_UDP], 1);
    assert_int_equal(nsent, 0);
    assert_int_equal(N.udp_echoed, echoes + 1);
}

static void test_hostile(void **state)
{
    uint8_t f[NET_FRAME_MAX], data[16] = {0};
    (void)state;
    configured();
    size_t len = udp(f, GW, OURS, 1, 7, data, sizeof data);
    netif_input(&N, f, 10, 0);                         /* runt */
    netif_input(&N, f, 30, 0);                         /* IPv4 cut short */
    netif_input(&N, f, len - 1, 0);                    /* total length past the frame */
    f[14 + 10] ^= 1;
    netif_input(&N, f, len, 0);                        /* IP checksum */
    f[14 + 10] ^= 1;
    p16(f + 14 + 6, 0x2000);                           /* more fragments */
    p16(f + 14 + 10, 0);
    p16(f + 14 + 10, csum(0, f + 14, 20));
    netif_input(&N, f, len, 0);
    len = udp(f, GW, OURS, 1, 7, data, sizeof data);
    f[14] = 0x46;                                      /* options */
    netif_input(&N, f, len, 0);
    len = udp(f, GW, OURS, 1, 7, data, sizeof data);
    p16(f + 12, 0x86dd);                               /* IPv6 */
    netif_input(&N, f, len, 0);
    len = ipv4(f, GW, OURS, 6, 20);                    /* TCP */
    netif_input(&N, f, len, 0);
    len = udp(f, GW, OURS, 1, 7, data, sizeof data);
    p16(f + 34 + 4, 200);                              /* UDP length past the datagram */
    netif_input(&N, f, len, 0);
    assert_int_equal(N.bad[NET_BAD_RUNT], 3);
    assert_int_equal(N.bad[NET_BAD_IP_CSUM], 1);
    assert_int_equal(N.bad[NET_BAD_FRAGMENT], 1);
    assert_int_equal(N.bad[NET_BAD_IP_HEADER], 1);
    assert_int_equal(N.bad[NET_BAD_ETHERTYPE], 1);
    assert_int_equal(N.bad[NET_BAD_PROTO], 1);
    assert_int_equal(N.bad[NET_BAD_UDP], 1);
    assert_int_equal(nsent, 0);
    assert_int_equal(N.rx_frames, 9);
    for (int i = 0; i < NET_BAD_REASONS; i++)
        assert_non_null(net_bad_name((enum net_bad)i));
}

static void test_ping(void **state)
{
    uint8_t f[NET_FRAME_MAX];
    size_t n;
    (void)state;
    configured();
    netif_ping(&N, GW, 10 * MS);
    assert_int_equal(nsent, 1); /* who has 10.0.2.2? */
    assert_int_equal(g16(sent[0] + 12), 0x0806);
    assert_int_equal(g32(sent[0] + 14 + 24), GW);
    /* The answer: the echo goes out. */
    memcpy(f, MAC, 6);
    memcpy(f + 6, PEER, 6);
    p16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    p16(a, 1), p16(a + 2, 0x0800), a[4] = 6, a[5] = 4, p16(a + 6, 2);
    memcpy(a + 8, PEER, 6);
    p32(a + 14, GW);
    memcpy(a + 18, MAC, 6);
    p32(a + 24, OURS);
    netif_input(&N, f, 42, 11 * MS);
    assert_int_equal(nsent, 2);
    const uint8_t *r = check_ip(1, 1, &n);
    assert_memory_equal(sent[1], PEER, 6);
    assert_int_equal(r[0], 8);
    /* Its reply. */
    uint8_t *icmp = f + 34;
    memcpy(icmp, r, n);
    icmp[0] = 0;
    p16(icmp + 2, 0);
    p16(icmp + 2, csum(0, icmp, n));
    netif_input(&N, f, ipv4(f, GW, OURS, 1, n), 13 * MS);
    assert_true(N.ping_answered);
    assert_int_equal(N.ping_rtt_ns, 2 * MS);
    /* A second ping: the address is known now, no ARP. */
    nsent = 0;
    netif_ping(&N, GW, 20 * MS);
    assert_int_equal(nsent, 1);
    assert_int_equal(g16(sent[0] + 12), 0x0800);
    assert_false(N.ping_answered);
}

static void test_udp_frame(void **state)
{
    uint8_t f[NET_FRAME_MAX];
    size_t n;
    (void)state;
    fresh();
    assert_false(netif_udp_frame(&N, f, 60, GW, 9, 9)); /* no address yet */
    configured();
    assert_false(netif_udp_frame(&N, f, 41, GW, 9, 9));
    assert_false(netif_udp_frame(&N, f, NET_FRAME_MAX + 1, GW, 9, 9));
    for (size_t len = 42; len <= NET_FRAME_MAX; len += len < 100 ? 1 : 473) {
        assert_true(netif_udp_frame(&N, f, len, GW, 9, 10));
        memcpy(sent[0], f, len);
        sent_len[0] = len;
        const uint8_t *u = check_ip(0, 17, &n);
        assert_int_equal(n, len - 34);
        assert_int_equal(g16(u), 9);
        assert_int_equal(g16(u + 2), 10);
        assert_memory_equal(f, "\xff\xff\xff\xff\xff\xff", 6); /* the gateway unknown */
    }
}

static void test_announce(void **state)
{
    (void)state;
    fresh();
    netif_announce(&N); /* no address: nothing */
    assert_int_equal(nsent, 0);
    configured();
    netif_announce(&N);
    assert_int_equal(nsent, 1);
    const uint8_t *a = sent[0] + 14;
    assert_memory_equal(sent[0], "\xff\xff\xff\xff\xff\xff", 6);
    assert_int_equal(g16(sent[0] + 12), 0x0806);
    assert_int_equal(g16(a + 6), 1);
    assert_memory_equal(a + 8, MAC, 6);
    assert_int_equal(g32(a + 14), OURS);
    assert_int_equal(g32(a + 24), OURS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dhcp),     cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_arp),      cmocka_unit_test(test_icmp_echo),
        cmocka_unit_test(test_udp_echo), cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_ping),     cmocka_unit_test(test_udp_frame),
        cmocka_unit_test(test_announce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
