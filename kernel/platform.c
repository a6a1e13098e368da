/*
 * What a machine described by its device tree alone has of platform.h and
 * of kernel.h's port I/O (aarch64's and riscv64's virt): no transports or
 * host bridge besides the tree's, and no I/O port space (PCI I/O space is
 * memory-mapped there). These are weak: an architecture with more (x86_64:
 * ACPI, in and out; arch/x86_64/platform.c) defines its own, and the
 * linker takes those instead.
 */
#include "kernel.h"
#include "pci.h"
#include "platform.h"

__attribute__((weak)) unsigned arch_mmio_devices(struct mmio_slot *slots, unsigned room)
{
    (void)slots, (void)room;
    return 0;
}

__attribute__((weak)) bool arch_pci_host(struct pci_host_bridge *hb)
{
    (void)hb;
    return false;
}

__attribute__((weak)) bool arch_has_ports(void)
{
    return false;
}

__attribute__((weak)) uint32_t port_read(uint64_t port, unsigned width)
{
    panic("port_read(0x%llx, %u): no I/O ports on this CPU", (unsigned long long)port, width);
}

__attribute__((weak)) void port_write(uint64_t port, unsigned width, uint32_t value)
{
    panic("port_write(0x%llx, %u, 0x%x): no I/O ports on this CPU", (unsigned long long)port,
          width, value);
}
