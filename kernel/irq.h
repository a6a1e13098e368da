/*
 * Interrupts, as the rest of the kernel sees them: numbered lines (on
 * aarch64 the GIC's interrupt ids, on riscv64 the PLIC's sources), handlers attached to them, message
 * signalled interrupts for PCI MSI-X, and a CPU that sleeps until one
 * comes. The controller itself is the architecture's (arch/<arch>/:
 * aarch64 has gic.c, riscv64 plic.c); everything here is called from the one thread of the
 * kernel, and handlers run with interrupts masked.
 *
 * Handlers do as little as possible: a device's handler acknowledges the
 * device (reads its ISR status, or knows from the MSI-X vector what it
 * stands for) and records the reason; the thread that waits on the device
 * takes the completions itself (the library's interrupt contract, virtio.h).
 */
#ifndef KERNEL_IRQ_H
#define KERNEL_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt.h"

typedef void (*irq_fn)(void *arg);

/* What a device tree's interrupt specifier says: the line and its trigger. */
struct irq_line {
    unsigned irq; /* the controller's number (GIC: INTID, SPIs from 32; PLIC: source) */
    bool edge;    /* edge-triggered (else level) */
    bool low;     /* active low (x86's IOAPIC polarity; the others ignore it) */
};

/*
 * Find the interrupt controller (in the device tree; on x86 through ACPI), set it up with every
 * line masked, and unmask interrupts on the CPU. Prints one line naming it
 * (`levitate: interrupts: GICv2 at 0x08000000, MSI through v2m SPIs 80..143`).
 * Returns false when there is none this kernel can drive: then everything
 * is polled, irq_attach fails and cpu_relax only pauses.
 */
bool irq_init(const struct fdt *fdt);
bool irq_ready(void);
/* "GICv2", "GICv3", "PLIC", or "none". */
const char *irq_controller(void);

/* Decode interrupt specifier `cells` (big-endian, as in the blob; `n` of
 * them) of the controller. 0, or -1 when it is not one this controller has. */
int irq_decode(const uint8_t *cells, unsigned n, struct irq_line *out);
/* Cells of one specifier of the controller (#interrupt-cells). */
unsigned irq_cells(void);

/* Entry `index` of a node's `interrupts` property (the controller must be
 * its interrupt parent). 0 or -1. */
int irq_from_node(const struct fdt *fdt, const struct fdt_node *node, unsigned index,
                  struct irq_line *out);

/*
 * Call fn(arg) whenever `line` interrupts, and unmask it. Several handlers
 * may share a level-triggered line (PCI INTx): each is called. Returns 0,
 * or -1 without a controller, for a number it does not have, or when the
 * handler table is full.
 */
int irq_attach(const struct irq_line *line, irq_fn fn, void *arg);

/*
 * A message-signalled interrupt: a new edge-triggered line, with fn(arg)
 * attached, and the address and data a device writes to raise it. The
 * writer is PCI function `requester` (bus << 8 | device << 3 | function)
 * and this is its message `event` (the MSI-X vector): a GICv3 ITS tells
 * devices apart by them. Returns 0, or -1 when the controller has no (more)
 * MSI lines.
 */
int irq_msi_alloc(irq_fn fn, void *arg, uint32_t requester, uint32_t event, unsigned *irq,
                  uint64_t *addr, uint32_t *data);
/* The controller has MSI lines (GICv2m or the GICv3 ITS here; none on
 * riscv64's PLIC). */
bool irq_msi_available(void);

/* Interrupts taken so far on `irq` (all of them: 0 without a controller). */
uint64_t irq_count(unsigned irq);

/*
 * Wait for something to happen: with interrupts, after CPU_RELAX_SPIN_US of
 * pausing, sleep until the next one (or a tick of at most
 * CPU_RELAX_TICK_US, so that anything polled is still looked at); without
 * them only pause. The library's HAL relax.
 */
#define CPU_RELAX_TICK_US 500
#define CPU_RELAX_SPIN_US 100
#define CPU_RELAX_GAP_US 20
void cpu_relax(void);
/* Something was found to do (a poller that turned its device's interrupts
 * off while work keeps coming): the next cpu_relax() starts its wait
 * afresh, pausing CPU_RELAX_SPIN_US before it may sleep. */
void cpu_busy(void);

/* ---- the architecture's part (arch/<arch>/), used by irq.c ------------ */

/* Find and set up the controller (irq_init's work), then unmask interrupts
 * on the CPU; false: none. `fdt` is NULL where there is no device tree (x86:
 * the controllers come from ACPI). */
bool arch_irq_init(const struct fdt *fdt);
/* Configure `line` (trigger, routing to this CPU) and unmask it; -1 when the
 * controller has no such line. */
int arch_irq_unmask(const struct irq_line *line);
/* The n-th message-signalled line, for event `event` of PCI function
 * `requester` (see irq_msi_alloc): its number and the address and data
 * that raise it. -1 past the last. */
int arch_msi_line(unsigned n, uint32_t requester, uint32_t event, unsigned *irq,
                  uint64_t *addr, uint32_t *data);
/* There are message-signalled lines at all. */
bool arch_msi_available(void);

/* Pause the CPU briefly (no controller). */
void arch_pause(void);
/* Sleep until an interrupt, or CPU_RELAX_TICK_US at most; but not at all if
 * *taken is no longer `seen` once interrupts are masked. */
void arch_sleep(const volatile uint64_t *taken, uint64_t seen);

/* The IRQ exception's C half (vectors.S calls it): acknowledge, call
 * irq_handle, end the interrupt, while any is pending. */
void irq_dispatch(void);

/* irq.c: run the handlers of `irq`; the architecture's interrupt entry
 * calls it between acknowledging and ending the interrupt. */
void irq_handle(unsigned irq);

#endif
