/*
 * virtio-console (VIRTIO 1.2, 5.3): port 0, and with
 * VIRTIO_CONSOLE_F_MULTIPORT every port the device adds, hot added and
 * removed while running, opened and closed on either side, named; the
 * console size (F_SIZE, and RESIZE messages) and emergency write
 * (F_EMERG_WRITE) when offered.
 *
 * Typical use:
 *
 *     static struct lvio_console_port ports[4];    // caller's storage: ids 0..3
 *     struct lvio_console con;
 *     lvio_console_init(&con, &dev, ports, 4);     // negotiates, queues for
 *                                                  // min(4, max_nr_ports) ports
 *     ...interrupt: isr = lvio_device_isr(&dev)...
 *     lvio_console_poll(&con, isr);                // control messages, data
 *     struct lvio_console_event ev;
 *     while (lvio_console_next_event(&con, &ev))   // PORT_ADDED, PORT_NAMED, ...
 *         if (ev.type == LVIO_CONSOLE_EV_PORT_ADDED)
 *             lvio_console_open(&con, ev.port, true);  // we listen on it
 *     char buf[256];
 *     int n = lvio_console_read(&con, 1, buf, sizeof buf);   // what is there now
 *     lvio_console_write(&con, 1, buf, n, 1000000000);       // blocking, bounded
 *     struct lvio_console_port *p = lvio_console_port_by_name(&con, "echo");
 *
 * Ports. The caller gives an array of `nports` struct lvio_console_port;
 * ports[i] is port id i. Queues are set up (before DRIVER_OK, as the
 * specification requires) for min(nports, max_nr_ports) ports, 1 without
 * MULTIPORT: those are "usable". A port the device adds with an id at or
 * past that has no storage: the device is told it failed (PORT_READY 0),
 * counted in `ports_refused`, logged. Without MULTIPORT, port 0 is present
 * and open on both sides from init on (PORT_ADDED is still reported, once).
 * With MULTIPORT the driver answers each PORT_ADD with PORT_READY, and
 * each CONSOLE_PORT with PORT_OPEN 1 (the specification requires it: a
 * console port is opened by the driver); any other port is opened by the
 * caller (lvio_console_open), and a host such as QEMU sends a port no data
 * until it is.
 *
 * Receiving. Each usable port keeps LVIO_CONSOLE_RX_SLOTS buffers of
 * LVIO_CONSOLE_BUF_SIZE bytes posted, in the driver's own DMA memory. A
 * buffer the device filled stays the driver's until the caller has read
 * every byte of it (lvio_console_read); only then is it posted again. So
 * a host writing faster than the caller reads finds no buffer and waits
 * (QEMU stops reading the character device): back-pressure, no byte lost,
 * none given twice, in order. Bytes received on a port that is then
 * removed are dropped at the PORT_REMOVE (counted in rx_dropped).
 *
 * Transmitting. lvio_console_write_nb copies the caller's bytes into the
 * port's LVIO_CONSOLE_TX_SLOTS driver-owned buffers (LVIO_CONSOLE_BUF_SIZE
 * bytes each) and hands them to the device at once: the caller's buffer is
 * free again when it returns, whatever the length. When every transmit
 * buffer is still with the device it takes nothing (LVIO_E_AGAIN); a
 * buffer comes back when the device has consumed it (lvio_console_poll),
 * and lvio_console_tx_pending says how many bytes are still out.
 * lvio_console_write blocks on top of it, bounded. A host may discard
 * what is written while its side is closed (QEMU does), or to a port it
 * removes.
 *
 * Everything the device writes is checked: a control message shorter than
 * its header (or a RESIZE shorter than its size), a port id at or past
 * max_nr_ports, a message for a port that is not present, an event the
 * device does not send, a name that is empty or too long, and a used
 * length longer than the buffer (counted, its bytes dropped) are each
 * counted in struct lvio_console, logged by name and dropped; the driver
 * goes on. A queue the device breaks (lvio/virtqueue.h) makes
 * lvio_console_poll return LVIO_E_BROKEN until lvio_console_reset.
 *
 * Interrupts and concurrency (lvio/virtio.h): the interrupt handler calls
 * only lvio_device_isr / lvio_device_msix_isr and hands the bits to
 * lvio_console_poll in thread context. Every call here on one console and
 * its ports is serialised by the caller (none may interrupt another),
 * with one exception: lvio_console_emerg_write writes only the
 * configuration register (it reads c->dev and c->emerg, changes no queue
 * and no driver state), and may be called at any time, from an interrupt
 * handler or a panic too. Nothing is global:
 * any number of consoles coexist.
 */
#ifndef LVIO_CONSOLE_H
#define LVIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"
#include "spec/virtio_console.h"
#include "virtio.h"
#include "virtqueue.h"

/* Receive buffers kept posted on each usable port, and transmit buffers of
 * each port, of LVIO_CONSOLE_BUF_SIZE bytes (a multiple of 8). */
#ifndef LVIO_CONSOLE_RX_SLOTS
#define LVIO_CONSOLE_RX_SLOTS 4
#endif
#ifndef LVIO_CONSOLE_TX_SLOTS
#define LVIO_CONSOLE_TX_SLOTS 4
#endif
#ifndef LVIO_CONSOLE_BUF_SIZE
#define LVIO_CONSOLE_BUF_SIZE 1024u
#endif
/* Control receive buffers kept posted, of LVIO_CONSOLE_CTRL_BUF bytes (a
 * multiple of 8): the header and a name of up to LVIO_CONSOLE_CTRL_BUF - 8
 * bytes. QEMU drops a control message when it finds no buffer, so there
 * are as many as its control queue holds (32). */
#ifndef LVIO_CONSOLE_CTRL_SLOTS
#define LVIO_CONSOLE_CTRL_SLOTS 32
#endif
#ifndef LVIO_CONSOLE_CTRL_BUF
#define LVIO_CONSOLE_CTRL_BUF 128u
#endif
/* Control messages to the device in flight at most (more wait their turn
 * in the driver, never lost; but for the PORT_READY 0 that refuses a port
 * past the storage, which is counted in ctrl_unsent when it finds no
 * buffer). */
#ifndef LVIO_CONSOLE_CTRL_TX_SLOTS
#define LVIO_CONSOLE_CTRL_TX_SLOTS 16
#endif
/* A port's name, its NUL included: longer names are refused. */
#ifndef LVIO_CONSOLE_NAME_MAX
#define LVIO_CONSOLE_NAME_MAX 64
#endif
/* Events kept until lvio_console_next_event takes them (more are dropped,
 * counted in events_lost and logged). */
#ifndef LVIO_CONSOLE_EVENTS
#define LVIO_CONSOLE_EVENTS 128
#endif

/* What happened (struct lvio_console_event's `type`), in the order the
 * device said it. */
enum lvio_console_event_type {
    LVIO_CONSOLE_EV_PORT_ADDED = 1,   /* the port is present (PORT_ADD) */
    LVIO_CONSOLE_EV_PORT_REMOVED,     /* it is gone (PORT_REMOVE); unread bytes dropped */
    LVIO_CONSOLE_EV_PORT_OPENED,      /* the host side opened it (PORT_OPEN 1) */
    LVIO_CONSOLE_EV_PORT_CLOSED,      /* the host side closed it (PORT_OPEN 0) */
    LVIO_CONSOLE_EV_PORT_NAMED,       /* it has a name (PORT_NAME): port->name */
    LVIO_CONSOLE_EV_PORT_CONSOLE,     /* it is a console (CONSOLE_PORT); the driver
                                         has opened it */
    LVIO_CONSOLE_EV_RESIZED,          /* its size changed (RESIZE; port 0 also by the
                                         configuration with F_SIZE): cols, rows */
};

struct lvio_console_event {
    uint8_t type;       /* enum lvio_console_event_type */
    uint32_t port;      /* the port's id (index in the ports array) */
    uint16_t cols;      /* RESIZED: the new size; otherwise 0 */
    uint16_t rows;
};

/* One port: the caller's storage, one per port id, filled in by the driver. */
struct lvio_console_port {
    /* Set by the driver (init, poll); the caller only reads them. */
    uint32_t id;                       /* its index in the ports array */
    bool usable;                       /* has queues: id below min(nports, max_nr_ports) */
    bool present;                      /* added by the device and not removed since */
    bool is_console;                   /* nominated by CONSOLE_PORT */
    bool host_open;                    /* the host side has it open (QEMU: a
                                          virtconsole always, a virtserialport
                                          while its chardev is connected) */
    bool guest_open;                   /* we told the device we have it open */
    char name[LVIO_CONSOLE_NAME_MAX];  /* from PORT_NAME, NUL terminated; "" none;
                                          kept after PORT_REMOVE until the port
                                          is added again */
    uint16_t cols, rows;               /* from RESIZE (port 0: or the configuration
                                          with F_SIZE); 0: unknown */
    /* Statistics. */
    uint64_t rx_bytes;                 /* bytes the caller read */
    uint64_t tx_bytes;                 /* bytes handed to the device */
    uint64_t rx_dropped;               /* bytes received and never read: the port
                                          was removed first, or the device claimed
                                          a buffer longer than it is */
    uint32_t adds, removes;            /* PORT_ADD / PORT_REMOVE taken */

    /* Private to the driver. */
    struct lvio_virtqueue rxq, txq;
    struct lvio_reqs rx, tx;           /* their buffers: the request engine's slots */
    struct lvio_req_slot rx_slots[LVIO_CONSOLE_RX_SLOTS];
    struct lvio_req_slot tx_slots[LVIO_CONSOLE_TX_SLOTS];
    uint32_t tx_len[LVIO_CONSOLE_TX_SLOTS]; /* bytes in each transmit buffer out */
    uint32_t rx_off;                   /* bytes of the oldest filled buffer read */
    uint8_t owed;                      /* control messages not sent yet */
    bool open_value;                   /* what the owed PORT_OPEN says */
};

struct lvio_console {
    /* Set by lvio_console_init(). */
    struct lvio_device *dev;
    struct lvio_console_port *ports;   /* the caller's array */
    unsigned nports;                   /* its length */
    unsigned nusable;                  /* ports with queues: min(nports, max_nr_ports) */
    bool multiport;                    /* VIRTIO_CONSOLE_F_MULTIPORT negotiated */
    bool has_size;                     /* VIRTIO_CONSOLE_F_SIZE negotiated */
    bool emerg;                        /* VIRTIO_CONSOLE_F_EMERG_WRITE offered */
    uint32_t max_nr_ports;             /* the device's (1 without MULTIPORT) */
    bool up;                           /* queues live (false after teardown, or a
                                          reset that could not bring it back) */

    /* Statistics: what the device did wrong (each also logged), and the rest. */
    uint32_t ctrl_short;               /* control messages shorter than their header
                                          (or a RESIZE than its size) */
    uint32_t ctrl_bad_id;              /* port id at or past max_nr_ports */
    uint32_t ctrl_unknown_port;        /* a message for a port not present */
    uint32_t ctrl_bad_event;           /* an event a device does not send */
    uint32_t ctrl_bad_name;            /* a name empty or too long */
    uint32_t overlong;                 /* used lengths longer than the buffer: dropped */
    uint32_t ports_refused;            /* PORT_ADD past the caller's storage (answered
                                          PORT_READY 0) */
    uint32_t ctrl_unsent;              /* such refusals not sent (no buffer free) */
    uint32_t events_lost;              /* events dropped: the FIFO was full */
    uint32_t ctrl_messages;            /* control messages taken */
    uint32_t config_changes;           /* configuration change notices */
    uint32_t resets;                   /* lvio_console_reset */

    /* Private to the driver. */
    struct lvio_virtqueue c_rxq, c_txq;
    struct lvio_reqs c_rx, c_tx;
    struct lvio_req_slot c_rx_slots[LVIO_CONSOLE_CTRL_SLOTS];
    struct lvio_req_slot c_tx_slots[LVIO_CONSOLE_CTRL_TX_SLOTS];
    uint8_t c_tx_replies[LVIO_CONSOLE_CTRL_TX_SLOTS]; /* messages the device may send
                                                         back for each one in flight */
    bool owe_device_ready;             /* DEVICE_READY not sent yet */
    struct lvio_console_event events[LVIO_CONSOLE_EVENTS];
    unsigned ev_head, ev_count;
};

/*
 * Bring up the console device `dev` (probed; LVIO_VIRTIO_ID_CONSOLE) on the
 * caller's `ports` (nports >= 1; ports[i] becomes port id i): negotiate
 * SIZE, MULTIPORT and EMERG_WRITE when offered, read the configuration
 * (max_nr_ports 0 with MULTIPORT is LVIO_E_CONFIG), set up the queues of
 * min(nports, max_nr_ports) ports and the control queues, post every
 * receive buffer, DRIVER_OK, then (MULTIPORT) send DEVICE_READY; the
 * device's answers (PORT_ADD, ...) are taken by lvio_console_poll. All DMA
 * memory is taken here: two buffer areas per usable port and the control
 * buffers; nothing is allocated later.
 * Returns 0, LVIO_E_INVAL (NULL, a failed probe, another device type, no
 * ports), LVIO_E_CONFIG, LVIO_E_BROKEN (the device broke a queue's rules
 * already), or another negative lvio_error of device bring-up
 * (LVIO_E_NOMEM, LVIO_E_QUEUE, ...); on error the device is left FAILED and
 * everything allocated is freed (kept when a reset never completes:
 * LVIO_E_DEAD).
 */
int lvio_console_init(struct lvio_console *c, struct lvio_device *dev,
                      struct lvio_console_port *ports, unsigned nports);

/*
 * Reset the device and give back every DMA page (kept instead when the
 * reset never completes: see lvio_device_reset). Every port is left not
 * present and closed; bytes not read are dropped, events not taken stay.
 * Does nothing for NULL or a console never set up.
 */
void lvio_console_teardown(struct lvio_console *c);

/*
 * Recovery (after LVIO_E_BROKEN, LVIO_E_NEEDS_RESET, LVIO_E_TIMEOUT):
 * teardown, then init on the same device and ports; ports are added again
 * by the device, with their events. Events not taken yet are dropped.
 * Returns what lvio_console_init returns; LVIO_E_INVAL if never
 * initialised.
 */
int lvio_console_reset(struct lvio_console *c);

/*
 * After an interrupt, or now and then when polling: take every completion
 * (received bytes kept for lvio_console_read, transmit buffers back), take
 * and answer the control messages (events queued for
 * lvio_console_next_event), send the control messages owed, and when
 * `isr` has LVIO_VIRTIO_ISR_CONFIG re-read the size (F_SIZE). Returns the
 * events waiting (0 or more), LVIO_E_BROKEN (a queue broke: the message
 * names it), LVIO_E_NEEDS_RESET, LVIO_E_STATE (not up) or LVIO_E_INVAL.
 * Not for an interrupt handler.
 */
int lvio_console_poll(struct lvio_console *c, uint32_t isr);

/* The oldest event not yet taken, into *ev: true, or false when there is
 * none (or c or ev NULL). */
bool lvio_console_next_event(struct lvio_console *c, struct lvio_console_event *ev);

/*
 * Copy up to `len` received bytes of port `port` into `buf`, without
 * waiting: what has arrived (as of the last poll, and whatever this call
 * takes itself), in order. Buffers read to the end go back to the device.
 * Returns the bytes copied (0: none now), LVIO_E_INVAL (NULL, no such
 * port, `len` above INT32_MAX), LVIO_E_STATE (not up, or the port not
 * usable) or LVIO_E_BROKEN. Bytes kept from before a removal are not
 * returned: they were dropped.
 */
int lvio_console_read(struct lvio_console *c, unsigned port, void *buf, size_t len);

/* Received bytes ready on `port` (0 for NULL, no such port). */
size_t lvio_console_readable(const struct lvio_console *c, unsigned port);

/*
 * Non-blocking write: copy as much of `buf` as the free transmit buffers of
 * `port` hold into them and hand them to the device. Returns the bytes
 * taken (1..len; fewer than len when the buffers ran out: call again after
 * a poll), 0 for len 0, LVIO_E_AGAIN (every transmit buffer still with the
 * device: nothing taken), LVIO_E_STATE (not up, or the port not present),
 * LVIO_E_INVAL (NULL, no such port, `len` above INT32_MAX) or
 * LVIO_E_BROKEN.
 */
int lvio_console_write_nb(struct lvio_console *c, unsigned port, const void *buf, size_t len);

/*
 * Blocking write: lvio_console_write_nb until every byte is handed to the
 * device, servicing the device as lvio_console_poll does meanwhile (events
 * queue up), for at most `timeout_ns` by the HAL clock (UINT64_MAX: as long
 * as the clock runs; a clock that stands still ends it after
 * LVIO_CLOCK_STALL_POLLS polls). Returns `len` (0 for len 0); the bytes
 * taken when the time ran out, or the port went away, after some were;
 * LVIO_E_TIMEOUT (none taken: the message names the port and its queue;
 * `timeout_ns` 0 only tries once: LVIO_E_AGAIN), or what
 * lvio_console_write_nb and lvio_console_poll return.
 */
int lvio_console_write(struct lvio_console *c, unsigned port, const void *buf, size_t len,
                       uint64_t timeout_ns);

/* Bytes of `port` handed to the device and not yet consumed by it (0 for
 * NULL, no such port). */
size_t lvio_console_tx_pending(const struct lvio_console *c, unsigned port);

/*
 * Wait until the device has consumed everything written to `port`,
 * servicing the device as lvio_console_poll does, bounded like
 * lvio_console_write. Returns 0, LVIO_E_TIMEOUT, or what
 * lvio_console_poll returns; LVIO_E_INVAL for no such port.
 */
int lvio_console_flush(struct lvio_console *c, unsigned port, uint64_t timeout_ns);

/*
 * Tell the device the guest side of `port` is open (true) or closed
 * (PORT_OPEN); port->guest_open follows at once, the message goes now or,
 * when every control buffer is in flight, with the next poll. Without
 * MULTIPORT there is nothing to tell: port 0 stays open and this returns
 * 0. Returns 0, LVIO_E_STATE (not up, or the port not present),
 * LVIO_E_INVAL (NULL, no such port) or LVIO_E_BROKEN.
 */
int lvio_console_open(struct lvio_console *c, unsigned port, bool open);

/*
 * Emergency write (F_EMERG_WRITE offered): one byte through the
 * configuration's emerg_wr, which needs no queue (QEMU gives it to the
 * first console port whose host side is open). May be called at any time,
 * from an interrupt handler or a panic too (see above). Returns 0,
 * LVIO_E_UNSUPPORTED (not offered) or LVIO_E_INVAL (NULL, never
 * initialised).
 */
int lvio_console_emerg_write(struct lvio_console *c, char ch);

/* The present port named `name` (exactly), or NULL. */
struct lvio_console_port *lvio_console_port_by_name(struct lvio_console *c, const char *name);

/* "port-added", "port-removed", "port-opened", "port-closed", "port-named",
 * "port-console", "resized"; "unknown". */
const char *lvio_console_event_name(uint8_t type);

#endif
