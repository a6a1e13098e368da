/*
 * virtio-console wire format (VIRTIO 1.2, 5.3): feature bits, the
 * configuration, the queue numbering and the control messages of a
 * multiport device.
 *
 * Byte order: a modern device's configuration and control messages are
 * little-endian; a legacy device uses the guest's own order for both
 * (its legacy interface sections). The types say little-endian; the driver converts
 * through the device's order. Only wire facts here; the driver is
 * src/drivers/console.c.
 */
#ifndef LVIO_SPEC_VIRTIO_CONSOLE_H
#define LVIO_SPEC_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Feature bits (5.3.3), as bit numbers. */
#define LVIO_VIRTIO_CONSOLE_F_SIZE         0 /* cols and rows are valid */
#define LVIO_VIRTIO_CONSOLE_F_MULTIPORT    1 /* max_nr_ports valid, control queues */
#define LVIO_VIRTIO_CONSOLE_F_EMERG_WRITE  2 /* emerg_wr is valid */

/* Device configuration layout (5.3.4). A device without EMERG_WRITE may
 * end its configuration before emerg_wr. */
struct lvio_virtio_console_config {
    lvio_le16 cols;
    lvio_le16 rows;
    lvio_le32 max_nr_ports;
    lvio_le32 emerg_wr;
};

/* Queues (5.3.2): port 0's receiveq and transmitq, the control pair, then
 * a pair for each further port. */
#define LVIO_VIRTIO_CONSOLE_PORT0_RX  0
#define LVIO_VIRTIO_CONSOLE_PORT0_TX  1
#define LVIO_VIRTIO_CONSOLE_CTRL_RX   2 /* control receiveq: device to driver */
#define LVIO_VIRTIO_CONSOLE_CTRL_TX   3 /* control transmitq: driver to device */

/* A control message (5.3.6.2): the header every message starts with. */
struct lvio_virtio_console_control {
    lvio_le32 id;     /* port number */
    lvio_le16 event;  /* LVIO_VIRTIO_CONSOLE_DEVICE_READY, ... */
    lvio_le16 value;  /* the event's extra information */
};

/* Control events (5.3.6.2). */
#define LVIO_VIRTIO_CONSOLE_DEVICE_READY  0 /* driver: ready for control messages */
#define LVIO_VIRTIO_CONSOLE_DEVICE_ADD    1 /* device: a port exists (PORT_ADD) */
#define LVIO_VIRTIO_CONSOLE_DEVICE_REMOVE 2 /* device: the port is gone (PORT_REMOVE) */
#define LVIO_VIRTIO_CONSOLE_PORT_READY    3 /* driver: the port is set up (value 1) or not (0) */
#define LVIO_VIRTIO_CONSOLE_CONSOLE_PORT  4 /* device: the port is a console */
#define LVIO_VIRTIO_CONSOLE_RESIZE        5 /* device: a size follows the header */
#define LVIO_VIRTIO_CONSOLE_PORT_OPEN     6 /* both: value 1 open, 0 closed */
#define LVIO_VIRTIO_CONSOLE_PORT_NAME     7 /* device: UTF-8 name follows the header */

/* What follows a RESIZE header. The specification orders it cols, rows;
 * Linux read it the other way round for years. */
struct lvio_virtio_console_resize {
    lvio_le16 cols;
    lvio_le16 rows;
};

_Static_assert(sizeof(struct lvio_virtio_console_config) == 12, "console config");
_Static_assert(offsetof(struct lvio_virtio_console_config, max_nr_ports) == 4,
               "console max_nr_ports");
_Static_assert(offsetof(struct lvio_virtio_console_config, emerg_wr) == 8, "console emerg_wr");
_Static_assert(sizeof(struct lvio_virtio_console_control) == 8, "console control");
_Static_assert(sizeof(struct lvio_virtio_console_resize) == 4, "console resize");

#endif
