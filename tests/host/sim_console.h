/*
 * A simulated virtio-console (device id 3) on top of the simulated device
 * of sim.h, over virtio-mmio (Version 1 or 2) or virtio-pci (sim_pci.h,
 * modern or legacy), modelled on what QEMU's virtio-serial does:
 *
 *   - queues: port 0's pair, the control pair (32 descriptors each), and
 *     with MULTIPORT a pair of 128 for each further port up to
 *     max_nr_ports (as many as sim.h holds: SIM_CONSOLE_PORTS);
 *   - the guest's DEVICE_READY is answered by a PORT_ADD for every plugged
 *     port, in the order they were plugged; a PORT_READY 1 by CONSOLE_PORT
 *     (console ports), PORT_NAME (the name and a NUL) and PORT_OPEN 1
 *     (host side open), in QEMU's order or another (reply_order);
 *   - plugging a port while the driver runs sends PORT_ADD (and a
 *     configuration change); unplugging discards what the guest sent and
 *     the port has not consumed, then sends PORT_REMOVE; the receive
 *     buffers the guest posted stay with the queue;
 *   - a host side opening sends PORT_OPEN 1, closing discards what the
 *     guest sent and sends PORT_OPEN 0;
 *   - the host writes to a port only while both sides have it open (no
 *     MULTIPORT: the host side), into the receive buffers the guest
 *     posted, and keeps what does not fit until more are posted:
 *     back-pressure, nothing lost;
 *   - a control message finds the oldest control receive buffer posted;
 *     with none it is dropped, as QEMU drops it (queue_ctrl keeps it
 *     instead);
 *   - the emergency write goes to the first console port whose host side
 *     is open (and is logged in emerg[] whatever).
 *
 * It checks the driver: receive chains only device-writable, transmit and
 * control transmit chains only device-readable, control messages at least
 * a header long, of events a driver sends, DEVICE_READY once per reset,
 * PORT_OPEN of a port only after its PORT_READY; any breach is noted in
 * sim.error. Every control message the guest sent is logged in order.
 *
 * Usage: struct sim_console C; sim_console_init(&C, SIM_BUS_MMIO2, 4,
 * true); sim_console_plug(&C, 0, "", true); ...; sim_console_probe(&C,
 * &dev); lvio_console_init(...); ... sim_console_fini(&C).
 */
#ifndef SIM_CONSOLE_H
#define SIM_CONSOLE_H

#include "sim.h"
#include "sim_pci.h"

#include "lvio/spec/virtio_console.h"

#define SIM_CONSOLE_PORTS ((SIM_MAX_QUEUES - 2) / 2) /* queues for ports 0..6 */
#define SIM_CONSOLE_HELD 256   /* buffers of one queue the device holds */
#define SIM_CONSOLE_LOG 1024   /* guest control messages kept */
#define SIM_CONSOLE_PENDING 64 /* control messages kept for want of a buffer */
#define SIM_CONSOLE_MSG 256    /* bytes of one control message at most */

/* A control message the guest sent. */
struct sim_console_msg {
    uint32_t id;
    uint16_t event, value;
    uint32_t len;
};

/* A control message the device sends, waiting for a buffer. */
struct sim_console_pending {
    uint8_t b[SIM_CONSOLE_MSG];
    uint32_t len;       /* bytes to write */
    int64_t used_len;   /* >= 0: the used length to report instead */
};

struct sim_console_port {
    /* The host side. */
    bool plugged;       /* the port exists (device_add) */
    unsigned plug_seq;  /* when: DEVICE_READY adds in this order */
    bool host_open;
    bool is_console;
    char name[SIM_CONSOLE_MSG]; /* "": none */

    /* What the guest told the device since the port's PORT_ADD. */
    bool ready;         /* PORT_READY 1 */
    bool refused;       /* PORT_READY 0 */
    bool guest_open;    /* PORT_OPEN */

    /* Host to guest: bytes not yet in a buffer. */
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    /* Guest to host: bytes the host consumed, kept for the test. */
    uint8_t *in;
    size_t in_len, in_off, in_cap;
    size_t discarded;   /* bytes the host dropped: its side closed, or gone */
    size_t delivered;   /* bytes written into receive buffers */

    /* Chains the device holds: receive buffers (oldest first), and
     * transmit chains while tx_hold. */
    uint16_t rx[SIM_CONSOLE_HELD];
    unsigned nrx;
    uint16_t tx[SIM_CONSOLE_HELD];
    unsigned ntx;
};

struct sim_console {
    union {
        struct sim sim;
        struct sim_pci pci;
    } u;                /* first: the handler finds this struct from its sim */
    struct sim *s;      /* &u.sim, whichever bus */
    enum sim_bus bus;

    /* Configuration (sim_console_apply writes it). */
    uint16_t cols, rows;
    uint32_t max_nr_ports;

    struct sim_console_port port[SIM_CONSOLE_PORTS];
    unsigned plugs;

    /* Control receive buffers the device holds, oldest first. */
    uint16_t crx[SIM_CONSOLE_HELD];
    unsigned ncrx;
    struct sim_console_pending pend[SIM_CONSOLE_PENDING];
    unsigned npend;
    unsigned ctrl_sent;      /* control messages written into a buffer */
    unsigned ctrl_dropped;   /* dropped for want of one (as QEMU) */

    /* The guest's control messages, in order. */
    struct sim_console_msg log[SIM_CONSOLE_LOG];
    unsigned nlog;
    unsigned device_readies; /* since the last reset */
    unsigned stale_msgs;     /* for a port not plugged (QEMU: an error line) */

    /* Emergency writes. */
    char emerg[256];
    unsigned nemerg;

    /* Knobs. */
    bool queue_ctrl;         /* keep a control message no buffer takes */
    bool tx_hold;            /* the host does not consume transmit chains */
    bool ctrl_hold;          /* the device takes the guest's control messages
                                but acts on them only at sim_console_ctrl_release */
    uint16_t ctx[SIM_CONSOLE_HELD];
    unsigned nctx;
    uint8_t reply_order;     /* PORT_READY's answers: 0 CONSOLE_PORT, PORT_NAME,
                                PORT_OPEN (QEMU); 1 PORT_OPEN, PORT_NAME,
                                CONSOLE_PORT; 2 PORT_NAME, PORT_OPEN,
                                CONSOLE_PORT */
    bool no_replies;         /* PORT_READY answered by nothing */
    int64_t rx_used_len;     /* >= 0: the used length reported for data */
};

/* A fresh console on `bus`: MULTIPORT offered when `multiport` (with
 * max_nr_ports `max_ports`), EMERG_WRITE offered, no port plugged. */
void sim_console_init(struct sim_console *c, enum sim_bus bus, uint32_t max_ports,
                      bool multiport);

/* Offer (or not) a LVIO_VIRTIO_CONSOLE_F_* feature. */
void sim_console_offer(struct sim_console *c, unsigned bit, bool on);

/* Write cols, rows and max_nr_ports into the configuration (sim_console_init
 * does; call again after changing them; sim_console_resize also notifies). */
void sim_console_apply(struct sim_console *c);

/* Probe the device (MMIO or PCI); asserts success. */
void sim_console_probe(struct sim_console *c, struct lvio_device *dev);

/* device_add of a port (`name` "" for none): while the driver runs,
 * PORT_ADD and a configuration change. */
void sim_console_plug(struct sim_console *c, unsigned id, const char *name, bool is_console);

/* device_del: what the guest sent and the port has not consumed is
 * discarded (its transmit chains come back), then PORT_REMOVE. */
void sim_console_unplug(struct sim_console *c, unsigned id);

/* The host side connects (PORT_OPEN 1 unless open) or disconnects
 * (discards what the guest sent, PORT_OPEN 0). */
void sim_console_host_open(struct sim_console *c, unsigned id, bool open);

/* The host writes `len` bytes to port `id`: into the buffers posted now,
 * the rest as the guest posts more. */
void sim_console_host_write(struct sim_console *c, unsigned id, const void *data, size_t len);

/* Bytes the host still holds for the guest on port `id`. */
size_t sim_console_host_pending(const struct sim_console *c, unsigned id);

/* Take up to `max` bytes of what the guest sent on port `id` (consumed by
 * the host); returns how many. */
size_t sim_console_guest_sent(struct sim_console *c, unsigned id, void *out, size_t max);

/* With tx_hold: consume the transmit chains held on port `id`. */
void sim_console_tx_release(struct sim_console *c, unsigned id);

/* With ctrl_hold: act on the guest's control messages held, in order. */
void sim_console_ctrl_release(struct sim_console *c);

/* Send a control event, or raw bytes (`used_len` >= 0: report that used
 * length instead of `len`). */
void sim_console_send_event(struct sim_console *c, uint32_t id, uint16_t event, uint16_t value);
void sim_console_send_raw(struct sim_console *c, const void *msg, uint32_t len, int64_t used_len);

/* A new console size: the configuration (cols, rows) and a change notice. */
void sim_console_resize(struct sim_console *c, uint16_t cols, uint16_t rows);

/* A configuration change notice (MMIO: the ISR's bit; PCI: its vector or
 * bit). */
void sim_console_config_change(struct sim_console *c);

/* Control messages of `event` the guest sent (for port `id`, or any id:
 * UINT32_MAX), and the `nth` of them (NULL: none). */
unsigned sim_console_count(const struct sim_console *c, uint16_t event, uint32_t id);
const struct sim_console_msg *sim_console_find(const struct sim_console *c, uint16_t event,
                                               uint32_t id, unsigned nth);

/* Free the byte buffers. */
void sim_console_fini(struct sim_console *c);

#endif
