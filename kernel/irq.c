/*
 * The architecture-neutral half of interrupts (irq.h): the handler table,
 * counts, MSI lines handed out in turn, and the device tree's `interrupts`.
 */
#include "irq.h"
#include "kernel.h"

#define MAX_HANDLERS 64

struct handler {
    unsigned irq;
    irq_fn fn;
    void *arg;
};

static struct handler handlers[MAX_HANDLERS];
static unsigned n_handlers;
static unsigned msi_next;
static bool ready;
static volatile uint64_t taken; /* interrupts handled, all lines */

/* Interrupts taken per line; lines past the table are counted together. */
#define COUNTED_LINES 1024
static uint64_t counts[COUNTED_LINES];

bool irq_init(const struct fdt *fdt)
{
    ready = arch_irq_init(fdt);
    return ready;
}

bool irq_ready(void)
{
    return ready;
}

int irq_from_node(const struct fdt *fdt, const struct fdt_node *node, unsigned index,
                  struct irq_line *out)
{
    uint32_t len;
    const uint8_t *p = fdt_getprop(fdt, node, "interrupts", &len);
    unsigned cells = irq_cells();

    if (!ready || !p || cells == 0 || len % (4 * cells) != 0 || index >= len / (4 * cells))
        return -1;
    return irq_decode(p + 4 * cells * index, cells, out);
}

int irq_attach(const struct irq_line *line, irq_fn fn, void *arg)
{
    if (!ready || !fn || n_handlers == MAX_HANDLERS)
        return -1;
    handlers[n_handlers] = (struct handler){.irq = line->irq, .fn = fn, .arg = arg};
    n_handlers++; /* before unmasking: it may fire at once */
    if (arch_irq_unmask(line) != 0) {
        n_handlers--;
        return -1;
    }
    return 0;
}

int irq_msi_alloc(irq_fn fn, void *arg, uint32_t requester, uint32_t event, unsigned *irq,
                  uint64_t *addr, uint32_t *data)
{
    if (!ready || arch_msi_line(msi_next, requester, event, irq, addr, data) != 0)
        return -1;
    struct irq_line line = {.irq = *irq, .edge = true};
    if (irq_attach(&line, fn, arg) != 0)
        return -1;
    msi_next++;
    return 0;
}

bool irq_msi_available(void)
{
    return ready && arch_msi_available();
}

uint64_t irq_count(unsigned irq)
{
    return irq < COUNTED_LINES ? counts[irq] : 0;
}

void irq_handle(unsigned irq)
{
    taken++;
    counts[irq < COUNTED_LINES ? irq : COUNTED_LINES - 1]++;
    for (unsigned i = 0; i < n_handlers; i++)
        if (handlers[i].irq == irq)
            handlers[i].fn(handlers[i].arg);
}

/*
 * The library's loops look at the device, then call this. For the first
 * CPU_RELAX_SPIN_US of a wait it only pauses: most answers come sooner than
 * an interrupt can wake a sleeping CPU (under QEMU's TCG a wfi and its
 * wake-up cost about 100 us). Calls less than CPU_RELAX_GAP_US apart are one
 * wait. After that, an interrupt that came since the previous call (and so
 * perhaps after that look) makes it return at once, for one more look;
 * otherwise the CPU sleeps.
 */
static bool work_found; /* cpu_busy() since the last cpu_relax() */

void cpu_busy(void)
{
    work_found = true;
}

void cpu_relax(void)
{
    static uint64_t seen, wait_start, last_call;
    uint64_t now = time_ns();

    if (now - last_call > CPU_RELAX_GAP_US * 1000ull || work_found)
        wait_start = now;
    work_found = false;
    last_call = now;
    if (!ready || now - wait_start < CPU_RELAX_SPIN_US * 1000ull) {
        arch_pause();
        return;
    }
    if (taken == seen)
        arch_sleep(&taken, seen);
    seen = taken;
    last_call = time_ns();
}
