/*
 * virtio-net wire format (VIRTIO 1.2, 5.1): feature bits, the
 * configuration, the header in front of every packet, the queue numbering
 * and the control queue's commands.
 *
 * Byte order: a modern device's configuration, headers and control data
 * are little-endian; a legacy device uses the guest's own order (the
 * legacy interface sections). The types say little-endian; the driver
 * converts through the device's order. Only wire facts here; the driver
 * is src/drivers/net.c.
 */
#ifndef LVIO_SPEC_VIRTIO_NET_H
#define LVIO_SPEC_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Feature bits (5.1.3), as bit numbers. */
#define LVIO_VIRTIO_NET_F_CSUM                 0  /* device takes partial checksums */
#define LVIO_VIRTIO_NET_F_GUEST_CSUM           1  /* driver takes partial checksums */
#define LVIO_VIRTIO_NET_F_CTRL_GUEST_OFFLOADS  2  /* offloads reconfigurable */
#define LVIO_VIRTIO_NET_F_MTU                  3  /* mtu is valid */
#define LVIO_VIRTIO_NET_F_MAC                  5  /* mac is valid */
#define LVIO_VIRTIO_NET_F_GSO                  6  /* legacy: any GSO type */
#define LVIO_VIRTIO_NET_F_GUEST_TSO4           7  /* driver takes TSOv4 */
#define LVIO_VIRTIO_NET_F_GUEST_TSO6           8  /* driver takes TSOv6 */
#define LVIO_VIRTIO_NET_F_GUEST_ECN            9  /* ... with ECN */
#define LVIO_VIRTIO_NET_F_GUEST_UFO            10 /* driver takes UFO */
#define LVIO_VIRTIO_NET_F_HOST_TSO4            11 /* device takes TSOv4 */
#define LVIO_VIRTIO_NET_F_HOST_TSO6            12 /* device takes TSOv6 */
#define LVIO_VIRTIO_NET_F_HOST_ECN             13 /* ... with ECN */
#define LVIO_VIRTIO_NET_F_HOST_UFO             14 /* device takes UFO */
#define LVIO_VIRTIO_NET_F_MRG_RXBUF            15 /* driver merges receive buffers */
#define LVIO_VIRTIO_NET_F_STATUS               16 /* status is valid */
#define LVIO_VIRTIO_NET_F_CTRL_VQ              17 /* control channel */
#define LVIO_VIRTIO_NET_F_CTRL_RX              18 /* control: receive modes */
#define LVIO_VIRTIO_NET_F_CTRL_VLAN            19 /* control: VLAN filtering */
#define LVIO_VIRTIO_NET_F_CTRL_RX_EXTRA        20 /* control: more receive modes */
#define LVIO_VIRTIO_NET_F_GUEST_ANNOUNCE       21 /* driver sends gratuitous packets */
#define LVIO_VIRTIO_NET_F_MQ                   22 /* several queue pairs */
#define LVIO_VIRTIO_NET_F_CTRL_MAC_ADDR        23 /* control: set the MAC address */
#define LVIO_VIRTIO_NET_F_GUEST_USO4           54 /* driver takes USOv4 */
#define LVIO_VIRTIO_NET_F_GUEST_USO6           55 /* driver takes USOv6 */
#define LVIO_VIRTIO_NET_F_HOST_USO             56 /* device takes USO */
#define LVIO_VIRTIO_NET_F_HASH_REPORT          57 /* a hash in the header */
#define LVIO_VIRTIO_NET_F_GUEST_HDRLEN         59 /* driver sets an exact hdr_len */
#define LVIO_VIRTIO_NET_F_RSS                  60 /* receive-side scaling */
#define LVIO_VIRTIO_NET_F_RSC_EXT              61 /* coalesced segments reported */
#define LVIO_VIRTIO_NET_F_STANDBY              62 /* a standby for a primary device */
#define LVIO_VIRTIO_NET_F_SPEED_DUPLEX         63 /* speed and duplex are valid */

/* The configuration's status (5.1.4). */
#define LVIO_VIRTIO_NET_S_LINK_UP   1u
#define LVIO_VIRTIO_NET_S_ANNOUNCE  2u

/* Device configuration layout (5.1.4). A device may end its
 * configuration before the fields of features it does not offer. */
struct lvio_virtio_net_config {
    uint8_t mac[6];
    lvio_le16 status;
    lvio_le16 max_virtqueue_pairs;
    lvio_le16 mtu;
    lvio_le32 speed;
    uint8_t duplex;
    uint8_t rss_max_key_size;
    lvio_le16 rss_max_indirection_table_length;
    lvio_le32 supported_hash_types;
};

/* Queue pairs with MQ (5.1.4): from 1 to this many. */
#define LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1u
#define LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000u
/* The smallest mtu a device may offer (5.1.4.1). */
#define LVIO_VIRTIO_NET_MIN_MTU 68u

/* The header in front of every packet, both ways (5.1.6). It is 12 bytes
 * with VIRTIO_F_VERSION_1 or MRG_RXBUF; a legacy device without
 * MRG_RXBUF has no num_buffers: 10 bytes (5.1.6.1 legacy interface). */
struct lvio_virtio_net_hdr {
    uint8_t flags;        /* LVIO_VIRTIO_NET_HDR_F_* */
    uint8_t gso_type;     /* LVIO_VIRTIO_NET_HDR_GSO_* */
    lvio_le16 hdr_len;    /* bytes of headers before the payload (GSO) */
    lvio_le16 gso_size;   /* payload bytes of each segment (GSO) */
    lvio_le16 csum_start; /* NEEDS_CSUM: where the checksummed bytes start */
    lvio_le16 csum_offset;/* ... and where after that the checksum goes */
    lvio_le16 num_buffers;/* MRG_RXBUF: receive buffers the packet took */
};
#define LVIO_VIRTIO_NET_HDR_LEN        12u /* VERSION_1 or MRG_RXBUF */
#define LVIO_VIRTIO_NET_HDR_LEN_LEGACY 10u /* legacy without MRG_RXBUF */

#define LVIO_VIRTIO_NET_HDR_F_NEEDS_CSUM 1u /* checksum partial: fill it in */
#define LVIO_VIRTIO_NET_HDR_F_DATA_VALID 2u /* receive: checksum(s) checked */
#define LVIO_VIRTIO_NET_HDR_F_RSC_INFO   4u /* receive: coalescing info (RSC_EXT) */

#define LVIO_VIRTIO_NET_HDR_GSO_NONE   0u
#define LVIO_VIRTIO_NET_HDR_GSO_TCPV4  1u
#define LVIO_VIRTIO_NET_HDR_GSO_UDP    3u
#define LVIO_VIRTIO_NET_HDR_GSO_TCPV6  4u
#define LVIO_VIRTIO_NET_HDR_GSO_UDP_L4 5u
#define LVIO_VIRTIO_NET_HDR_GSO_ECN    0x80u

/* The largest packet a driver that takes large-receive offloads must be
 * ready for without MRG_RXBUF, header excluded (5.1.6.3.1: buffers of at
 * least 65562 bytes with the 12-byte header). */
#define LVIO_VIRTIO_NET_MAX_GSO_FRAME 65550u

/* Queues (5.1.2): receiveq N at 2N, transmitq N at 2N + 1 (N from 0),
 * and the control queue after the last pair: 2 * max_virtqueue_pairs with
 * MQ, else 2. */
#define LVIO_VIRTIO_NET_RX(pair) ((uint16_t)(2u * (pair)))
#define LVIO_VIRTIO_NET_TX(pair) ((uint16_t)(2u * (pair) + 1u))

/* A control command (5.1.6.5): class and command, then its data (device
 * readable), then one ack byte the device writes. */
struct lvio_virtio_net_ctrl_hdr {
    uint8_t class_;
    uint8_t cmd;
};
#define LVIO_VIRTIO_NET_OK  0u
#define LVIO_VIRTIO_NET_ERR 1u

#define LVIO_VIRTIO_NET_CTRL_RX               0u /* data: one byte, 1 on, 0 off */
#define LVIO_VIRTIO_NET_CTRL_RX_PROMISC       0u
#define LVIO_VIRTIO_NET_CTRL_RX_ALLMULTI      1u
#define LVIO_VIRTIO_NET_CTRL_RX_ALLUNI        2u
#define LVIO_VIRTIO_NET_CTRL_RX_NOMULTI       3u
#define LVIO_VIRTIO_NET_CTRL_RX_NOUNI         4u
#define LVIO_VIRTIO_NET_CTRL_RX_NOBCAST       5u
#define LVIO_VIRTIO_NET_CTRL_MAC              1u
#define LVIO_VIRTIO_NET_CTRL_MAC_TABLE_SET    0u /* data: two tables */
#define LVIO_VIRTIO_NET_CTRL_MAC_ADDR_SET     1u /* data: six bytes */
#define LVIO_VIRTIO_NET_CTRL_VLAN             2u
#define LVIO_VIRTIO_NET_CTRL_VLAN_ADD         0u
#define LVIO_VIRTIO_NET_CTRL_VLAN_DEL         1u
#define LVIO_VIRTIO_NET_CTRL_ANNOUNCE         3u
#define LVIO_VIRTIO_NET_CTRL_ANNOUNCE_ACK     0u /* no data */
#define LVIO_VIRTIO_NET_CTRL_MQ               4u
#define LVIO_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET  0u /* data: le16 pairs */
#define LVIO_VIRTIO_NET_CTRL_MQ_RSS_CONFIG    1u
#define LVIO_VIRTIO_NET_CTRL_MQ_HASH_CONFIG   2u
#define LVIO_VIRTIO_NET_CTRL_GUEST_OFFLOADS   5u
#define LVIO_VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0u /* data: le64 features */

_Static_assert(sizeof(struct lvio_virtio_net_config) == 24, "net config");
_Static_assert(offsetof(struct lvio_virtio_net_config, status) == 6, "net status");
_Static_assert(offsetof(struct lvio_virtio_net_config, max_virtqueue_pairs) == 8,
               "net max_virtqueue_pairs");
_Static_assert(offsetof(struct lvio_virtio_net_config, mtu) == 10, "net mtu");
_Static_assert(offsetof(struct lvio_virtio_net_config, speed) == 12, "net speed");
_Static_assert(offsetof(struct lvio_virtio_net_config, duplex) == 16, "net duplex");
_Static_assert(sizeof(struct lvio_virtio_net_hdr) == LVIO_VIRTIO_NET_HDR_LEN, "net hdr");
_Static_assert(offsetof(struct lvio_virtio_net_hdr, num_buffers) ==
                   LVIO_VIRTIO_NET_HDR_LEN_LEGACY, "net legacy hdr");
_Static_assert(sizeof(struct lvio_virtio_net_ctrl_hdr) == 2, "net ctrl hdr");

#endif
