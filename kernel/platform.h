/*
 * What a platform describes without a device tree (x86: ACPI, the kernel
 * command line), for the neutral discovery in main.c and pci.c. An
 * architecture that has such a platform implements these (arch/<arch>/:
 * x86_64's platform.c); the weak ones in kernel/platform.c find nothing,
 * which is right for the device-tree platforms (aarch64, riscv64 virt):
 * there the tree's `virtio,mmio` and `pci-host-ecam-generic` nodes say it
 * all.
 */
#ifndef KERNEL_PLATFORM_H
#define KERNEL_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "irq.h"

struct pci_host_bridge;

/* A virtio-mmio transport: registers [phys, phys + size) and, when
 * has_irq, its interrupt line. */
struct mmio_slot {
    uint64_t phys, size;
    bool has_irq;
    struct irq_line irq;
    const char *source; /* where it was found, for messages: "ACPI", "command line" */
};

/* The platform's virtio-mmio transports, into slots[0..room-1]; returns
 * how many (0 where the device tree describes them). */
unsigned arch_mmio_devices(struct mmio_slot *slots, unsigned room);

/* The platform's PCIe host bridge (x86: ACPI's MCFG, BARs as the firmware
 * assigned them); false when there is none apart from the device tree's. */
bool arch_pci_host(struct pci_host_bridge *hb);

#endif
