/*
 * The test kernel's PCIe: an ECAM host bridge's description (from whatever
 * describes it: the device tree, pci_dt.c; x86's ACPI, arch_pci_host in
 * platform.h) and the enumeration that assigns it (pci.c).
 */
#ifndef KERNEL_PCI_H
#define KERNEL_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt.h"
#include "irq.h"

struct kdev;

/* A window of the bridge: PCI bus addresses [pci, pci + size), which the
 * CPU sees at cpu. */
struct pci_window {
    const char *name;
    bool present;
    uint64_t pci;
    uint64_t cpu;
    uint64_t size;
};

struct pci_host_bridge {
    uint64_t ecam_phys, ecam_size; /* 1 MiB per bus */
    uint32_t bus_first, bus_last;
    struct pci_window io, mem, pref; /* I/O, 32-bit memory, 64-bit memory */
    /* Firmware has numbered the buses and assigned the BARs (x86: SeaBIOS):
     * keep them (a BAR still 0 is left off) and only enable decoding and
     * bus mastering; the windows then just translate bus to CPU addresses. */
    bool keep_bars;
    /* The interrupt line of INTx pin `pin` (1..4: INTA..INTD) of a function
     * on the root bus; false when unknown. NULL: no INTx (all polled). */
    bool (*intx)(const struct pci_host_bridge *hb, uint8_t device, uint8_t function,
                 unsigned pin, struct irq_line *out);
    /* What intx reads: the device tree's host bridge node (pci_dt.c). */
    const struct fdt *fdt;
    struct fdt_node node;
};

/* The first usable `pci-host-ecam-generic` node (pci_dt.c). */
bool pci_host_from_fdt(const struct fdt *fdt, struct pci_host_bridge *hb);

/* Number the buses, size and assign BARs from the windows (or keep the
 * firmware's: keep_bars), enable decoding and bus mastering, and probe every virtio function into
 * devices[0..room-1]; returns how many were filled. */
unsigned pci_enumerate(const struct pci_host_bridge *hb, struct kdev *devices, unsigned room);

#endif
