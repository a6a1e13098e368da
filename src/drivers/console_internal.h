/*
 * Private to the virtio-console driver's two files: console.c (setup,
 * the ports' data both ways, polling, teardown, the calls) and
 * console_ctrl.c (control messages both ways, and the events they make).
 */
#ifndef LVIO_CONSOLE_INTERNAL_H
#define LVIO_CONSOLE_INTERNAL_H

#include "lvio/console.h"
#include "../core/internal.h"

#define LVIO_CONSOLE_BUF LVIO_CONSOLE_BUF_SIZE

/* What a port owes the device (struct lvio_console_port's `owed`). */
#define LVIO_CONSOLE_OWE_READY 1u /* PORT_READY 1 */
#define LVIO_CONSOLE_OWE_OPEN 2u  /* PORT_OPEN open_value */

/* Offer every free slot of `r` to the device, `size` bytes for it to write
 * each, as far as its queue has descriptors; notify it when `kick`.
 * Returns 0 or an error of the engine (LVIO_E_BROKEN). */
int lvio_console_post(struct lvio_reqs *r, uint32_t size, bool kick);

/* Every byte port `p` received and the caller has not read: dropped,
 * counted in rx_dropped, its buffers free (not yet posted again). */
void lvio_console_rx_drop(struct lvio_console *c, struct lvio_console_port *p);

/* Queue an event; a full FIFO drops it, counted and logged. */
void lvio_console_event_add(struct lvio_console *c, uint8_t type, uint32_t port, uint16_t cols,
                            uint16_t rows);

/* Port `p` is `cols` x `rows` now: RESIZED. */
void lvio_console_port_resize(struct lvio_console *c, struct lvio_console_port *p, uint16_t cols,
                              uint16_t rows);

/* Send what is owed, oldest duty first: DEVICE_READY, then each port's
 * PORT_READY (when QEMU's answers can find buffers) and PORT_OPEN; the
 * rest waits for control transmit buffers. Returns 0 or LVIO_E_BROKEN. */
int lvio_console_ctrl_send_owed(struct lvio_console *c);

/* Take the control messages in the order the device sent them, post their
 * buffers again, send what is owed. Returns 0 or LVIO_E_BROKEN. */
int lvio_console_ctrl_service(struct lvio_console *c);

#endif
