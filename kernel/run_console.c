/*
 * virtio-console in the test kernel: bring each console up with room for
 * MAX_PORTS ports, wait briefly for the ports the device adds at start (and
 * their names), open every port, and print the lvio: line. The device
 * then stays up (idle, from the main loop):
 *   - port 0, and any port the device nominates as a console, runs the
 *     shell: what the host types there is a command line, the answer goes
 *     back on that port;
 *   - a port named org.levitate.echo sends back every byte it receives, in
 *     order, none lost: bytes are taken from the driver only when the last
 *     ones went back (the host is back-pressured, never dropped);
 *   - ports added, named and removed while running are said on the serial
 *     line: `levitate: console <dev>: port <id> added|removed|named <name>`.
 */
#include "ktest.h"
#include "shell.h"

#define MAX_PORTS 8
#define ECHO_NAME "org.levitate.echo"
#define START_WAIT_NS (300 * MS) /* for the ports the device adds at start */
#define QUIET_NS (30 * MS)       /* ... ended early once nothing came for this long */
#define WRITE_NS (1000 * MS)     /* bound on a shell answer */

struct con_state;

struct port_state {
    struct con_state *st;
    unsigned id;
    struct shell_term term; /* ports that run the shell */
    bool shell;
    char term_name[32];     /* "<dev> port <id>" */
    uint8_t pending[LVIO_CONSOLE_BUF_SIZE]; /* echo: taken, not yet sent back */
    size_t npending, sent;
};

struct con_state {
    struct kdev *k;
    struct lvio_console con;
    struct lvio_console_port ports[MAX_PORTS];
    struct port_state ps[MAX_PORTS];
    bool quiet; /* during bring-up: events are summed up in the ok line */
};

static struct con_state *con_of(struct kdev *k)
{
    return k->drv;
}

/* The shell's output on a port: CR LF line ends, as a terminal wants. */
static void term_write(void *ctx, const char *s, size_t n)
{
    struct port_state *p = ctx;
    struct lvio_console *c = &p->st->con;

    while (n) {
        size_t run = 0;
        while (run < n && s[run] != '\n')
            run++;
        if (run && lvio_console_write(c, p->id, s, run, WRITE_NS) < 0)
            return;
        if (run < n && lvio_console_write(c, p->id, "\r\n", 2, WRITE_NS) < 0)
            return;
        run += run < n;
        s += run;
        n -= run;
    }
}

static bool is_echo(const struct lvio_console_port *port)
{
    return strcmp(port->name, ECHO_NAME) == 0;
}

static void shell_on(struct con_state *st, unsigned id)
{
    struct port_state *p = &st->ps[id];

    if (p->shell)
        return;
    p->shell = true;
    ksnprintf(p->term_name, sizeof p->term_name, "%s port %u", st->k->dev.name, id);
    shell_term_init(&p->term, p->term_name, term_write, p);
    if (!st->quiet)
        shell_prompt(&p->term);
}

/* Take the driver's events: open what is added, name and drop what goes. */
static void take_events(struct con_state *st)
{
    struct lvio_console *c = &st->con;
    struct lvio_console_event ev;

    while (lvio_console_next_event(c, &ev)) {
        struct lvio_console_port *port = ev.port < MAX_PORTS ? &st->ports[ev.port] : NULL;
        const char *dev = st->k->dev.name;
        if (!port)
            continue;
        switch (ev.type) {
        case LVIO_CONSOLE_EV_PORT_ADDED:
            if (!port->guest_open) {
                int rc = lvio_console_open(c, ev.port, true);
                if (rc != LVIO_OK)
                    shell_notice("levitate: console %s: port %u: open: %s: %s\n", dev, ev.port,
                            lvio_errname(rc), lvio_device_error(&st->k->dev));
            }
            if (ev.port == 0)
                shell_on(st, 0);
            if (!st->quiet)
                shell_notice("levitate: console %s: port %u added\n", dev, ev.port);
            break;
        case LVIO_CONSOLE_EV_PORT_CONSOLE:
            shell_on(st, ev.port);
            break;
        case LVIO_CONSOLE_EV_PORT_NAMED:
            if (!st->quiet)
                shell_notice("levitate: console %s: port %u named %s\n", dev, ev.port, port->name);
            break;
        case LVIO_CONSOLE_EV_PORT_REMOVED:
            st->ps[ev.port].npending = st->ps[ev.port].sent = 0;
            st->ps[ev.port].shell = ev.port == 0 && st->ps[0].shell;
            if (!st->quiet)
                shell_notice("levitate: console %s: port %u removed\n", dev, ev.port);
            break;
        default:
            break;
        }
    }
}

/* The echo port: what came in goes back out, in order; nothing more is
 * taken until the last bytes are on their way. */
static void echo(struct con_state *st, unsigned id)
{
    struct port_state *p = &st->ps[id];
    struct lvio_console *c = &st->con;

    for (;;) {
        if (p->sent == p->npending) {
            int n = lvio_console_read(c, id, p->pending, sizeof p->pending);
            if (n <= 0)
                return;
            p->npending = (size_t)n;
            p->sent = 0;
        }
        int rc = lvio_console_write_nb(c, id, p->pending + p->sent, p->npending - p->sent);
        if (rc <= 0)
            return; /* LVIO_E_AGAIN: every buffer out; the next poll frees some */
        p->sent += (size_t)rc;
    }
}

static void shell_input_from(struct con_state *st, unsigned id)
{
    char buf[64];
    int n;

    while ((n = lvio_console_read(&st->con, id, buf, sizeof buf)) > 0)
        for (int i = 0; i < n; i++)
            shell_input(&st->ps[id].term, buf[i]);
}

static void idle_console(struct kdev *k)
{
    struct con_state *st = con_of(k);
    int rc;

    if (!st->con.up)
        return;
    rc = lvio_console_poll(&st->con, kdev_take_isr(k));
    if (rc < 0) {
        shell_notice("lvio: console %s: error %s polling: %s\n", k->dev.name, lvio_errname(rc),
                lvio_device_error(&k->dev));
        lvio_console_teardown(&st->con);
        return;
    }
    take_events(st);
    for (unsigned id = 0; id < st->con.nusable; id++) {
        const struct lvio_console_port *port = &st->ports[id];
        if (!port->present)
            continue;
        if (is_echo(port))
            echo(st, id);
        else if (st->ps[id].shell)
            shell_input_from(st, id);
    }
}

/* "port0 console, org.levitate.echo": each present port's name (port<id>
 * when it has none), "console" after a console port's. */
static void port_names(const struct con_state *st, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (unsigned id = 0; id < st->con.nusable && used < size; id++) {
        const struct lvio_console_port *port = &st->ports[id];
        if (!port->present)
            continue;
        if (used)
            used += (size_t)ksnprintf(out + used, size - used, ", ");
        if (port->name[0])
            used += (size_t)ksnprintf(out + used, size - used, "%s", port->name);
        else
            used += (size_t)ksnprintf(out + used, size - used, "port%u", id);
        if (port->is_console)
            used += (size_t)ksnprintf(out + used, size - used, " console");
    }
}

static unsigned present_ports(const struct con_state *st)
{
    unsigned n = 0;

    for (unsigned id = 0; id < st->con.nusable; id++)
        n += st->ports[id].present;
    return n;
}

static int console_up(struct kdev *k)
{
    struct con_state *state = k->drv;

    return lvio_console_init(&state->con, &k->dev, state->ports, MAX_PORTS);
}

static void console_down(struct kdev *k)
{
    struct con_state *state = k->drv;

    lvio_console_teardown(&state->con);
}

static void run_console(struct kdev *k)
{
    struct con_state *st = kdev_state(k, sizeof *st);
    char names[200], how[24];
    int rc;

    if (!st)
        return; /* said by kdev_state */
    st->k = k;
    for (unsigned i = 0; i < MAX_PORTS; i++)
        st->ps[i] = (struct port_state){.st = st, .id = i};

    rc = kdev_up_twice(k, console_up, console_down); /* every page back between */
    if (!expect(rc == LVIO_OK, "%s: console init: %s", k->dev.name, lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "initialising");
        k->drv = NULL; /* nothing for idle or the shell */
        return;
    }

    /* The ports the device adds at start, and their names, come as answers
     * to DEVICE_READY and PORT_READY: take them until they stop coming. */
    st->quiet = true;
    uint64_t start = time_ns(), last = start;
    while (time_ns() - start < START_WAIT_NS && time_ns() - last < QUIET_NS) {
        rc = lvio_console_poll(&st->con, kdev_take_isr(k));
        if (rc < 0)
            break;
        if (rc > 0) {
            take_events(st);
            last = time_ns();
        }
        cpu_relax();
    }
    st->quiet = false;
    if (!expect(rc >= 0, "%s: console poll: %s", k->dev.name, lvio_errname(rc))) {
        report_error(k, lvio_errname(rc), "taking the ports the device added");
        lvio_console_teardown(&st->con);
        k->drv = NULL;
        return;
    }
    port_names(st, names, sizeof names);
    kprintf("lvio: console %s: ok v%u, %u ports (%s), max %u, %s\n", k->dev.name,
            (unsigned)k->dev.version, present_ports(st), names, (unsigned)st->con.max_nr_ports,
            kdev_service(k, how, sizeof how));
    if (opt_dump)
        lvio_dump(&k->dev);
    for (unsigned id = 0; id < st->con.nusable; id++)
        if (st->ps[id].shell && st->ports[id].present)
            shell_prompt(&st->ps[id].term);
}

const struct kdriver kdriver_console = {
    .device_id = LVIO_VIRTIO_ID_CONSOLE, .name = "console",
    .run = run_console, .idle = idle_console,
};
