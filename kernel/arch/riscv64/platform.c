/*
 * riscv64's virt machine is described by its device tree alone: no transports
 * or host bridge besides the tree's (platform.h), and no I/O port space
 * (PCI I/O space is memory-mapped there: kernel.h).
 */
#include "kernel.h"
#include "pci.h"
#include "platform.h"

unsigned arch_mmio_devices(struct mmio_slot *slots, unsigned room)
{
    (void)slots, (void)room;
    return 0;
}

bool arch_pci_host(struct pci_host_bridge *hb)
{
    (void)hb;
    return false;
}

bool arch_has_ports(void)
{
    return false;
}

uint32_t port_read(uint64_t port, unsigned width)
{
    panic("port_read(0x%llx, %u): no I/O ports on this CPU", (unsigned long long)port, width);
}

void port_write(uint64_t port, unsigned width, uint32_t value)
{
    panic("port_write(0x%llx, %u, 0x%x): no I/O ports on this CPU", (unsigned long long)port,
          width, value);
}
