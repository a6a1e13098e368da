/*
 * Devices' interrupts in the test kernel: which line a device has, a
 * handler that acknowledges it and keeps what it said, and the words for
 * the `lvio:` line. The thread that drives a device takes its completions
 * itself (the library's wait loops, or the drivers' poll calls); a handler
 * only reads the ISR status (which acknowledges it and lowers the line)
 * and wakes the CPU from cpu_relax.
 */
#include "ktest.h"
#include "pci.h"

static void isr_handler(void *arg)
{
    struct kdev *k = arg;
    uint32_t isr = lvio_device_isr(&k->dev);

    if (isr) {
        k->isr_pending |= isr;
        k->interrupts++;
    }
}

static void wire(struct kdev *k, const struct irq_line *line)
{
    k->line = *line;
    k->wired = irq_attach(line, isr_handler, k) == 0;
    if (!k->wired)
        kprintf("levitate: %s: interrupt %u cannot be attached; polled\n", k->dev.name,
                line->irq);
}

void kdev_wire_line(struct kdev *k, const struct irq_line *line)
{
    wire(k, line);
}

void kdev_wire_mmio(struct kdev *k, const struct fdt *fdt, const struct fdt_node *node)
{
    struct irq_line line;

    if (irq_ready() && irq_from_node(fdt, node, 0, &line) == 0)
        wire(k, &line);
}

/* Only functions on the root bus: behind a bridge the pin would have to be
 * swizzled up to the root port first (not done yet: such devices poll). */
void kdev_wire_pci(struct kdev *k, const struct pci_host_bridge *hb,
                   const struct lvio_pci_function *f)
{
    struct irq_line line;
    unsigned pin = f->cfg_size > 0x3d ? ((const volatile uint8_t *)f->cfg)[0x3d] : 0;

    if (irq_ready() && hb->intx && f->bus == hb->bus_first && pin >= 1 && pin <= 4 &&
        hb->intx(hb, f->device, f->function, pin, &line))
        wire(k, &line);
}

/* ---- MSI-X: one message-signalled line per (device, vector) ---------- */

#define MAX_MSIX 64

struct msix_slot {
    struct kdev *k;
    uint16_t vector;
    unsigned irq;
    uint64_t addr;
    uint32_t data;
};

static struct msix_slot msix_slots[MAX_MSIX];
static unsigned n_msix;

/* What the vector stands for: the library knows, from what it programmed. */
static void msix_handler(void *arg)
{
    struct msix_slot *m = arg;
    uint32_t isr = lvio_device_msix_isr(&m->k->dev, m->vector);

    m->k->isr_pending |= isr;
    m->k->interrupts++;
}

int kdev_msix_route(void *ctx, const struct lvio_device *dev, uint16_t vector, uint64_t *addr,
                    uint32_t *data)
{
    struct kdev *k = (struct kdev *)(uintptr_t)dev; /* dev is a kdev's first member */
    struct msix_slot *m = NULL;

    (void)ctx;
    for (unsigned i = 0; i < n_msix && !m; i++)
        if (msix_slots[i].k == k && msix_slots[i].vector == vector)
            m = &msix_slots[i]; /* routed before (an earlier init): the same line */
    if (!m) {
        if (n_msix == MAX_MSIX)
            return LVIO_E_NOMEM;
        m = &msix_slots[n_msix];
        *m = (struct msix_slot){.k = k, .vector = vector};
        uint8_t bus = 0, device = 0, function = 0;
        lvio_pci_location(dev, NULL, &bus, &device, &function);
        uint32_t requester = (uint32_t)bus << 8 | (uint32_t)device << 3 | function;
        if (irq_msi_alloc(msix_handler, m, requester, vector, &m->irq, &m->addr, &m->data) != 0)
            return LVIO_E_NOMEM;
        n_msix++;
    }
    *addr = m->addr;
    *data = m->data;
    return LVIO_OK;
}

uint32_t kdev_take_isr(struct kdev *k)
{
    if (!k->wired && k->dev.irq_mode != LVIO_IRQ_MSIX)
        return lvio_device_isr(&k->dev);
    return __atomic_exchange_n(&k->isr_pending, 0, __ATOMIC_ACQ_REL);
}

/* The device writes its used ring before it raises its line, and another
 * host thread may do the raising: the thread that saw a completion can get
 * here first. So a wired device's interrupt gets until `timeout_ns` to come. */
uint32_t kdev_wait_isr(struct kdev *k, uint64_t timeout_ns)
{
    uint64_t end = time_ns() + timeout_ns;

    if (kdev_interrupts(k))
        while (!k->isr_pending && time_ns() < end)
            cpu_relax();
    return kdev_take_isr(k);
}

bool kdev_interrupts(const struct kdev *k)
{
    return k->wired || k->dev.irq_mode == LVIO_IRQ_MSIX;
}

const char *kdev_service(const struct kdev *k, char *buf, size_t size)
{
    if (k->dev.irq_mode == LVIO_IRQ_MSIX)
        ksnprintf(buf, size, "msi-x %u", lvio_device_msix_vectors(&k->dev));
    else if (k->wired)
        ksnprintf(buf, size, "irq %u", k->line.irq);
    else
        ksnprintf(buf, size, "polled");
    return buf;
}
