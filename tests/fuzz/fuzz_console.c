/*
 * fuzz_console: the virtio-console driver over a device whose features,
 * configuration (max_nr_ports, size), queue sizes and every message come
 * from the input: control messages of any event, port id, value and
 * length (names of any bytes, sizes cut short, used lengths past the
 * buffer), data with any used length, held and late answers, lies about
 * chains, and (with hostile registers) register reads; DMA failures as
 * fuzz_dev.h gives them.
 *
 * Sequence: lvio_console_init on 1 to 4 ports of storage, then operations
 * chosen by the input (poll and take the events; read; write without and
 * with blocking; flush; open and close; the device acting; reset;
 * emergency write; find a port by name), then lvio_console_teardown.
 *
 * The device checks what the driver sends while its view can be trusted
 * (it has not lied, its registers are not hostile): control messages of
 * exactly one 8-byte readable buffer; DEVICE_READY once a reset, value 1;
 * PORT_READY and PORT_OPEN only for ports it added, PORT_READY 1 and
 * PORT_OPEN only for ports with storage, PORT_OPEN only after that port's
 * PORT_READY 1; receive chains only writable, transmit chains only
 * readable, of at most a buffer; and the bytes it reads from a port's
 * transmit queue are exactly the bytes the caller's writes took, in order.
 * The harness checks every call returns what it documents; a read returns
 * at most what was asked, writes nothing past it, and returns only bytes
 * the device put in a buffer it reported (never one it claimed to have
 * overfilled), each once, in order, a buffer read whole before the next
 * (unless a removal or reset dropped it); events are consistent with the
 * ports (added when not present, the rest only when present) and names
 * are bounded C strings; and at the end every DMA page is back or kept
 * for a dead device.
 *
 * Input: the common header (fuzz_dev.h), features ^ (VERSION_1, SIZE,
 * MULTIPORT, EMERG_WRITE) (8), QueueNumMax ^ 8 (2), the 12 configuration
 * bytes ^ (cols 80, rows 25, max_nr_ports 3), storage for 1 + (byte % 4)
 * ports, then operations interleaved with the device's decisions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dev.h"
#include "lvio/spec/virtio_console.h"

#define MAX_OPS 48
#define NPORTS 4
#define CHUNKS 2048      /* data buffers the device fills per port, at most */
#define STREAM (1u << 16) /* bytes the harness remembers each port was sent */
#define CANARY 0xc5
#define EV(x) LVIO_CONSOLE_EV_##x
#define CE(x) LVIO_VIRTIO_CONSOLE_##x

/* A data buffer the device filled: every byte its tag, `len` reported. */
struct chunk {
    uint32_t len;     /* bytes the driver may give the caller */
    bool bad;         /* used length past the buffer: none of it may be read */
    bool droppable;   /* filled while the port was not (known) present */
};

struct port_model {
    /* the device's side */
    bool ready;                 /* the driver sent PORT_READY 1 since the reset */
    struct chunk chunk[CHUNKS]; /* data buffers, in the order filled */
    unsigned nchunks;
    uint8_t *sent;              /* bytes the caller's writes took, in order */
    size_t sent_len;
    size_t tx_pos;              /* how far the device has read them */
    /* the reader's side */
    unsigned cur;               /* chunk being read */
    uint32_t got;               /* bytes of it read */
    bool may_skip;              /* a removal or reset may have dropped bytes */
    bool present;               /* as the events say */
};

static struct {
    struct fz f;
    struct lvio_device dev;
    struct lvio_console con;
    struct lvio_console_port ports[NPORTS];
    unsigned nports;
    struct port_model m[NPORTS];
    uint32_t added[64];         /* ports the device sent a PORT_ADD for since the reset */
    unsigned nadded;
    unsigned device_readies;
    bool up;
} S;

static const uint64_t FEATURES =
    (1ull << LVIO_VIRTIO_F_VERSION_1) | (1ull << CE(F_SIZE)) | (1ull << CE(F_MULTIPORT)) |
    (1ull << CE(F_EMERG_WRITE));

static bool trusted(void)
{
    return !S.f.lied && !S.f.hostile_regs;
}

#define RULE(...)                                                              \
    do {                                                                       \
        if (trusted())                                                         \
            fz_die(__VA_ARGS__);                                               \
    } while (0)

static uint8_t tag(unsigned k)
{
    return (uint8_t)(1 + k % 251); /* never 0 */
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool multiport(void)
{
    return (S.f.driver_features >> CE(F_MULTIPORT)) & 1;
}

/* The port a data queue belongs to, or -1 (control, or past the ports). */
static int port_of_queue(unsigned q)
{
    if (q < 2)
        return 0;
    if (q < 4)
        return -1;
    return (int)((q - 2) / 2);
}

/* ---- the device ---------------------------------------------------------------- */

static bool was_added(uint32_t id)
{
    for (unsigned i = 0; i < S.nadded; i++)
        if (S.added[i] == id)
            return true;
    return S.nadded == 64; /* too many to follow: anything goes */
}

/* A control message into the chain's one writable buffer. */
static uint32_t ctrl_rx(struct fz *f, struct fz_chain *c)
{
    if (c->n != 1 || !c->buf[0].write)
        RULE("control receive chain of %u buffers, first %s", c->n,
             c->n && c->buf[0].write ? "writable" : "readable");
    if (c->n < 1 || !c->buf[0].cpu)
        return 0;
    uint8_t *b = c->buf[0].cpu;
    uint32_t room = c->buf[0].len, len = 8;
    if (fz_empty(&f->t))
        return 0; /* out of input: an empty message (counted short) */
    uint8_t k = fz_u8(&f->t);
    uint8_t idb = fz_u8(&f->t);
    uint32_t id = idb & 0x80 ? fz_u32(&f->t) : idb % 5u;
    uint16_t ev, value = 1;
    uint8_t msg[512] = {0};
    switch (k % 8) {
    case 0: ev = CE(DEVICE_ADD); break;
    case 1: ev = CE(DEVICE_REMOVE); break;
    case 2: ev = CE(CONSOLE_PORT); break;
    case 3: ev = CE(PORT_OPEN); value = fz_u8(&f->t) & 1; break;
    case 4: {
        ev = CE(PORT_NAME);
        uint32_t n = fz_u8(&f->t);
        fz_bytes(&f->t, msg + 8, n);
        len = 8 + n;
        break;
    }
    case 5:
        ev = CE(RESIZE);
        put16(msg + 8, fz_u16(&f->t));
        put16(msg + 10, fz_u16(&f->t));
        len = 12;
        break;
    case 6:
        ev = fz_u16(&f->t);
        value = fz_u16(&f->t);
        len = fz_u8(&f->t);
        fz_bytes(&f->t, msg + 8, len > 8 ? len - 8 : 0);
        break;
    default:
        f->hold_this = true; /* later, with no message: an empty one */
        return 0;
    }
    put32(msg, id);
    put16(msg + 4, ev);
    put16(msg + 6, value);
    memcpy(b, msg, len < room ? len : room);
    if (ev == CE(DEVICE_ADD) && !was_added(id) && S.nadded < 64)
        S.added[S.nadded++] = id; /* the driver may answer it */
    if (ev == CE(DEVICE_REMOVE) && id < NPORTS && len <= room)
        S.m[id].may_skip = true;
    if (k & 0x40)
        return fz_u16(&f->t); /* any used length: short, or past the buffer */
    return len; /* QEMU reports the whole message, cut or not */
}

/* The driver's control message. */
static uint32_t ctrl_tx(struct fz *f, struct fz_chain *c)
{
    (void)f;
    if (c->n != 1 || c->buf[0].write || c->buf[0].len != 8 || !c->buf[0].cpu) {
        RULE("control message of %u buffers, first %u bytes", c->n, c->n ? c->buf[0].len : 0);
        return 0;
    }
    const uint8_t *b = c->buf[0].cpu;
    uint32_t id = get32(b);
    uint16_t ev = (uint16_t)(b[4] | b[5] << 8), value = (uint16_t)(b[6] | b[7] << 8);
    if (!multiport())
        RULE("a control message without MULTIPORT");
    switch (ev) {
    case CE(DEVICE_READY):
        if (S.device_readies++ || value != 1)
            RULE("DEVICE_READY %u, the %u-th since the reset", value, S.device_readies);
        break;
    case CE(PORT_READY):
        if (value > 1 || !was_added(id))
            RULE("PORT_READY %u for port %u, never added", value, id);
        else if (value == 1 && id >= S.nports)
            RULE("PORT_READY 1 for port %u, without storage", id);
        else if (value == 1 && id < NPORTS)
            S.m[id].ready = true;
        break;
    case CE(PORT_OPEN):
        if (value > 1 || id >= NPORTS || !S.m[id].ready)
            RULE("PORT_OPEN %u for port %u before its PORT_READY", value, id);
        break;
    default:
        RULE("the driver sent control event %u", ev);
    }
    return 0;
}

/* Data for the guest: every byte of the buffer its tag, a length reported. */
static uint32_t data_rx(struct fz *f, struct fz_chain *c, int port)
{
    uint32_t room = 0;
    for (unsigned i = 0; i < c->n; i++)
        if (!c->buf[i].write)
            RULE("a device-readable buffer in receive chain %u", c->head);
        else
            room += c->buf[i].len;
    if (c->n != 1 || !c->buf[0].cpu || room > LVIO_CONSOLE_BUF_SIZE)
        RULE("receive chain of %u buffers, %u bytes", c->n, room);
    struct port_model *m = &S.m[port];
    if (c->n != 1 || !c->buf[0].cpu || m->nchunks == CHUNKS)
        return 0;
    uint32_t len = room;
    if (!fz_empty(&f->t)) {
        uint8_t k = fz_u8(&f->t);
        if (k % 4 == 1)
            len = fz_u16(&f->t) % (room + 1);
        else if (k % 4 == 2)
            len = room + 1 + fz_u16(&f->t);
        else if (k % 4 == 3)
            len = 0;
    }
    memset(c->buf[0].cpu, tag(m->nchunks), room);
    if (len < room)
        memset(c->buf[0].cpu + len, 0, room - len); /* not data: never to be read */
    m->chunk[m->nchunks++] = (struct chunk){len > room ? 0 : len, len > room, !m->present};
    return len;
}

/* The guest's data: exactly what its writes took, in order. */
static uint32_t data_tx(struct fz *f, struct fz_chain *c, int port)
{
    struct port_model *m = &S.m[port];
    for (unsigned i = 0; i < c->n; i++) {
        const struct fz_buf *b = &c->buf[i];
        if (b->write || !b->cpu || b->len > LVIO_CONSOLE_BUF_SIZE) {
            RULE("transmit chain buffer %u: %u bytes, %s", i, b->len,
                 b->write ? "writable" : "readable");
            continue;
        }
        if (m->tx_pos + b->len > m->sent_len || memcmp(b->cpu, m->sent + m->tx_pos, b->len))
            RULE("port %u transmits %u bytes that are not the next the caller wrote", port,
                 b->len);
        m->tx_pos += b->len;
    }
    return fz_read_answer(f);
}

static uint32_t console_service(struct fz *f, struct fz_chain *c)
{
    if (c->queue == CE(CTRL_RX))
        return ctrl_rx(f, c);
    if (c->queue == CE(CTRL_TX))
        return ctrl_tx(f, c);
    int port = port_of_queue(c->queue);
    if (port < 0 || port >= NPORTS)
        return 0;
    return c->queue % 2 == 0 ? data_rx(f, c, port) : data_tx(f, c, port);
}

/* The device forgets the driver: what was in flight is dropped. */
static void console_reset(struct fz *f)
{
    (void)f;
    S.device_readies = 0;
    S.nadded = 0;
    for (unsigned i = 0; i < NPORTS; i++) {
        struct port_model *m = &S.m[i];
        m->ready = false;
        m->may_skip = true;
        m->tx_pos = m->sent_len; /* what was not read yet is gone */
    }
}

/* Only the emergency write, 4 bytes at emerg_wr, when offered; width 0:
 * a configuration change (a new size). */
static void console_config_write(struct fz *f, uint32_t off, unsigned width, uint32_t v)
{
    (void)v;
    if (width == 0) {
        put16(f->config, fz_u16(&f->t));
        put16(f->config + 2, fz_u16(&f->t));
        return;
    }
    if (off != offsetof(struct lvio_virtio_console_config, emerg_wr) || width != 4 ||
        !((f->features >> CE(F_EMERG_WRITE)) & 1))
        RULE("console config write of %u bytes at %u", width, off);
}

/* ---- the driver side --------------------------------------------------------------- */

static void check_ports(void)
{
    for (unsigned i = 0; i < S.nports; i++) {
        const struct lvio_console_port *p = &S.ports[i];
        if (memchr(p->name, '\0', sizeof p->name) == NULL)
            fz_die("port %u's name is not terminated", i);
        if (p->present && !p->usable)
            fz_die("port %u present without queues", i);
        if (p->id != i)
            fz_die("port %u has id %u", i, p->id);
        if (lvio_console_readable(&S.con, i) > LVIO_CONSOLE_RX_SLOTS * LVIO_CONSOLE_BUF_SIZE)
            fz_die("port %u: %zu bytes readable", i, lvio_console_readable(&S.con, i));
        if (lvio_console_tx_pending(&S.con, i) > LVIO_CONSOLE_TX_SLOTS * LVIO_CONSOLE_BUF_SIZE)
            fz_die("port %u: %zu bytes pending", i, lvio_console_tx_pending(&S.con, i));
    }
    if (S.con.ev_count > LVIO_CONSOLE_EVENTS)
        fz_die("%u events", S.con.ev_count);
}

static void take_events(void)
{
    struct lvio_console_event ev;
    while (lvio_console_next_event(&S.con, &ev)) {
        if (ev.port >= S.nports)
            fz_die("event %u for port %u of %u", ev.type, ev.port, S.nports);
        struct port_model *m = &S.m[ev.port];
        if (S.con.events_lost) { /* the story has gaps: follow the ports */
            m->present = S.ports[ev.port].present;
            m->may_skip = true;
            continue;
        }
        switch (ev.type) {
        case EV(PORT_ADDED):
            if (m->present)
                fz_die("port %u added twice", ev.port);
            m->present = true;
            break;
        case EV(PORT_REMOVED):
            if (!m->present)
                fz_die("port %u removed, not present", ev.port);
            m->present = false;
            break;
        case EV(PORT_OPENED):
        case EV(PORT_CLOSED):
        case EV(PORT_NAMED):
        case EV(PORT_CONSOLE):
        case EV(RESIZED):
            if (!m->present && !(ev.type == EV(RESIZED) && ev.port == 0))
                fz_die("%s for port %u, not present", lvio_console_event_name(ev.type),
                       ev.port);
            break;
        default:
            fz_die("event type %u", ev.type);
        }
    }
}

/* Bytes the driver gave for `port`: the device's, each once, in order. */
static void check_data(unsigned port, const uint8_t *b, int n)
{
    struct port_model *m = &S.m[port];
    for (int i = 0; i < n && trusted(); i++) {
        if (m->cur < m->nchunks && b[i] == tag(m->cur) && m->got < m->chunk[m->cur].len) {
            m->got++;
            continue;
        }
        /* The start of a later buffer: those between were empty, bad, or dropped. */
        unsigned j = m->cur + 1;
        while (j < m->nchunks && j < m->cur + 251 && tag(j) != b[i])
            j++;
        if (j >= m->nchunks || tag(j) != b[i])
            fz_die("port %u: byte 0x%02x read is not the device's next (buffer %u, %u of %u "
                   "read)", port, b[i], m->cur, m->got,
                   m->cur < m->nchunks ? m->chunk[m->cur].len : 0);
        if (m->chunk[j].bad)
            fz_die("port %u: bytes of a buffer the device claimed to overfill", port);
        bool cut = m->cur < m->nchunks && m->got < m->chunk[m->cur].len &&
                   !(m->got == 0 && m->chunk[m->cur].droppable);
        for (unsigned k = m->cur + 1; k < j; k++)
            cut |= m->chunk[k].len && !m->chunk[k].bad && !m->chunk[k].droppable;
        if (cut && !m->may_skip)
            fz_die("port %u: buffer %u skipped with bytes unread", port, m->cur);
        if (cut)
            m->may_skip = false; /* the drop it allowed happened */
        m->cur = j;
        m->got = 1;
    }
}

static void op_read(unsigned port, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        fz_die("host out of memory");
    memset(buf, CANARY, len + 1);
    fz_call(&S.f, "lvio_console_read");
    int rv = lvio_console_read(&S.con, port, buf, len);
    FZ_EXPECT("lvio_console_read", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_INVAL, LVIO_E_STATE,
              LVIO_E_BROKEN);
    if (rv > (int)len)
        fz_die("lvio_console_read of %zu bytes returned %d", len, rv);
    for (size_t i = rv > 0 ? (size_t)rv : 0; i <= len; i++)
        if (buf[i] != CANARY)
            fz_die("lvio_console_read returned %d and wrote byte %zu", rv, i);
    if (rv > 0)
        check_data(port, buf, rv);
    free(buf);
}

/* The bytes a write may take are what the device may see next (the device
 * reads them during a blocking write); `keep` of them it took. Returns
 * where they start. */
static size_t may_write(unsigned port, const uint8_t *b, size_t n)
{
    struct port_model *m = &S.m[port];
    if (m->sent_len + n > STREAM) { /* enough: stop checking the data */
        m->sent_len = m->tx_pos = 0;
        S.f.lied = true;
    }
    if (!m->sent)
        m->sent = malloc(STREAM);
    if (!m->sent)
        fz_die("host out of memory");
    memcpy(m->sent + m->sent_len, b, n);
    m->sent_len += n;
    return m->sent_len - n;
}

static void wrote(unsigned port, size_t start, int n)
{
    if (port >= NPORTS || start > S.m[port].sent_len)
        return;
    struct port_model *m = &S.m[port];
    m->sent_len = start + (n > 0 ? (size_t)n : 0);
    if (m->tx_pos > m->sent_len && trusted())
        fz_die("port %u: the device read %zu bytes, the writes took %zu", port, m->tx_pos,
               m->sent_len);
}

static void op_write(unsigned port, size_t len, bool blocking, uint64_t timeout)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        fz_die("host out of memory");
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31 + S.m[port % NPORTS].sent_len + port);
    size_t start = port < NPORTS ? may_write(port, buf, len) : SIZE_MAX;
    int rv;
    if (blocking) {
        fz_call(&S.f, "lvio_console_write");
        rv = lvio_console_write(&S.con, port, buf, len, timeout);
        FZ_EXPECT("lvio_console_write", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_INVAL, LVIO_E_STATE,
                  LVIO_E_AGAIN, LVIO_E_TIMEOUT, LVIO_E_BROKEN, LVIO_E_NEEDS_RESET);
        if (rv == LVIO_E_AGAIN && timeout != 0)
            fz_die("lvio_console_write with a timeout returned LVIO_E_AGAIN");
        fz_check_waited(&S.f, rv, timeout);
    } else {
        fz_call(&S.f, "lvio_console_write_nb");
        rv = lvio_console_write_nb(&S.con, port, buf, len);
        FZ_EXPECT("lvio_console_write_nb", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_INVAL,
                  LVIO_E_STATE, LVIO_E_AGAIN, LVIO_E_BROKEN);
    }
    if (rv > (int)len)
        fz_die("a write of %zu bytes returned %d", len, rv);
    wrote(port, start, rv);
    free(buf);
}

static void op_misc(uint8_t op)
{
    struct fz_tape *t = &S.f.h;
    switch (op % 4) {
    case 0: {
        fz_call(&S.f, "lvio_console_reset");
        int rv = lvio_console_reset(&S.con);
        FZ_EXPECT("lvio_console_reset", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_NOMEM, LVIO_E_HAL,
                  LVIO_E_FEATURES, LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_CONFIG,
                  LVIO_E_QUEUE, LVIO_E_RANGE, LVIO_E_STATE, LVIO_E_BROKEN);
        fz_check_waited(&S.f, rv, 0);
        S.up = rv == LVIO_OK;
        for (unsigned i = 0; i < NPORTS; i++) {
            S.m[i].present = false; /* events not taken are gone */
            S.m[i].may_skip = true;
        }
        break;
    }
    case 1: {
        int rv = lvio_console_emerg_write(&S.con, (char)fz_u8(t));
        FZ_EXPECT("lvio_console_emerg_write", rv, LVIO_OK, LVIO_E_UNSUPPORTED);
        break;
    }
    case 2: {
        char name[LVIO_CONSOLE_NAME_MAX];
        unsigned i = fz_u8(t) % NPORTS;
        memcpy(name, S.ports[i].name, sizeof name);
        struct lvio_console_port *p = lvio_console_port_by_name(&S.con, name);
        if (p && (!p->present || strcmp(p->name, name) != 0))
            fz_die("lvio_console_port_by_name(\"%s\") gave port %u (\"%s\")", name, p->id,
                   p->name);
        if (!p && S.ports[i].present && name[0])
            fz_die("lvio_console_port_by_name(\"%s\") missed port %u", name, i);
        break;
    }
    default: {
        unsigned port = fz_u8(t) % (NPORTS + 1);
        fz_call(&S.f, "lvio_console_open");
        int rv = lvio_console_open(&S.con, port, op & 0x10);
        FZ_EXPECT("lvio_console_open", rv, LVIO_OK, LVIO_E_INVAL, LVIO_E_STATE, LVIO_E_BROKEN);
        break;
    }
    }
}

static void operations(void)
{
    struct fz_tape *t = &S.f.h;
    for (unsigned n = 0; n < MAX_OPS && !fz_empty(t); n++) {
        uint8_t op = fz_u8(t);
        unsigned port = (op >> 3) % (NPORTS + 1); /* sometimes past the storage */
        switch (op % 8) {
        case 0: {
            fz_call(&S.f, "lvio_console_poll");
            int rv = lvio_console_poll(&S.con, fz_u8(t) & 3);
            FZ_EXPECT("lvio_console_poll", rv < 0 ? rv : 0, LVIO_OK, LVIO_E_STATE,
                      LVIO_E_BROKEN, LVIO_E_NEEDS_RESET);
            if (rv > LVIO_CONSOLE_EVENTS)
                fz_die("lvio_console_poll returned %d", rv);
            break;
        }
        case 1: op_read(port, fz_u16(t) % 5000); break;
        case 2: op_write(port, fz_u16(t) % 6000, false, 0); break;
        case 3: op_write(port, fz_u16(t) % 6000, true, fz_timeout(fz_u8(t), 24)); break;
        case 4: {
            uint64_t timeout = fz_timeout(fz_u8(t), 24);
            fz_call(&S.f, "lvio_console_flush");
            int rv = lvio_console_flush(&S.con, port, timeout);
            FZ_EXPECT("lvio_console_flush", rv, LVIO_OK, LVIO_E_INVAL, LVIO_E_STATE,
                      LVIO_E_TIMEOUT, LVIO_E_BROKEN, LVIO_E_NEEDS_RESET);
            fz_check_waited(&S.f, rv, timeout);
            break;
        }
        case 5: { /* the device acts */
            fz_call(&S.f, "(the device)");
            for (unsigned k = fz_u8(t) % 16 + 1; k; k--)
                fz_device_step(&S.f);
            break;
        }
        case 6: take_events(); break;
        default: op_misc(op >> 3); break;
        }
        take_events();
        check_ports();
        fz_check_errmsg(&S.dev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &S.f;
    for (unsigned i = 0; i < NPORTS; i++)
        free(S.m[i].sent);
    memset(&S, 0, sizeof S);
    fz_start(f, &S.dev, data, size, LVIO_VIRTIO_ID_CONSOLE);
    f->features = FEATURES ^ fz_u64(&f->h);
    uint16_t qmax = 8u ^ fz_u16(&f->h);
    for (unsigned i = 0; i < FZ_MAX_QUEUES; i++)
        f->q[i].num_max = qmax;
    uint8_t x[12];
    put16(f->config, 80);
    put16(f->config + 2, 25);
    put32(f->config + 4, 3);
    fz_bytes(&f->h, x, sizeof x);
    for (unsigned i = 0; i < sizeof x; i++)
        f->config[i] ^= x[i];
    S.nports = 1 + fz_u8(&f->h) % NPORTS;
    f->service = console_service;
    f->on_reset = console_reset;
    f->config_write = console_config_write;

    if (lvio_mmio_probe(&S.dev, &f->hal, FZ_MMIO_PHYS, 0x200) != LVIO_OK ||
        S.dev.device_id != LVIO_VIRTIO_ID_CONSOLE)
        goto out;
    fz_call(f, "lvio_console_init");
    int rv = lvio_console_init(&S.con, &S.dev, S.ports, S.nports);
    fz_check_errmsg(&S.dev);
    FZ_EXPECT("lvio_console_init", rv, LVIO_OK, LVIO_E_DEAD, LVIO_E_NOMEM, LVIO_E_HAL,
              LVIO_E_FEATURES, LVIO_E_UNSUPPORTED, LVIO_E_NEEDS_RESET, LVIO_E_CONFIG,
              LVIO_E_QUEUE, LVIO_E_RANGE, LVIO_E_STATE, LVIO_E_BROKEN);
    fz_check_waited(f, rv, 0);
    if (rv != LVIO_OK)
        goto out;
    S.up = true;
    operations();
    fz_call(f, "lvio_console_teardown");
    lvio_console_teardown(&S.con);
    for (unsigned i = 0; i < S.nports; i++)
        if (S.ports[i].present)
            fz_die("port %u present after teardown", i);
    if (lvio_console_poll(&S.con, 0) != LVIO_E_STATE)
        fz_die("lvio_console_poll after teardown did not return LVIO_E_STATE");
out:
    fz_check_errmsg(&S.dev);
    fz_finish(f); /* a zombie device may still use what it was given: first */
    return 0;
}
