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

uint32_t kdev_take_isr(struct kdev *k)
{
    if (!k->wired)
        return lvio_device_isr(&k->dev);
    return __atomic_exchange_n(&k->isr_pending, 0, __ATOMIC_ACQ_REL);
}

const char *kdev_service(const struct kdev *k, char *buf, size_t size)
{
    if (k->wired)
        ksnprintf(buf, size, "irq %u", k->line.irq);
    else
        ksnprintf(buf, size, "polled");
    return buf;
}
