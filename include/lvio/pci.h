/*
 * virtio-pci transport (VIRTIO 1.2, 4.1): modern (1.0+, the virtio vendor
 * capabilities) and legacy / transitional (the I/O BAR 0 register block).
 *
 * Finding PCI functions, sizing and assigning their BARs and enabling them
 * is the kernel's business (the enumerator knows the host bridge and its
 * windows); the library is then given one function: its configuration space
 * and where each BAR decodes, and drives the virtio device there through the
 * same struct lvio_device as any other transport.
 *
 *     struct lvio_pci_function fn = {
 *         .cfg = ecam + (bus << 20 | dev << 15 | fn << 12),   // mapped
 *         .cfg_size = 4096,
 *         .bus = bus, .device = dev, .function = fn,
 *         .bar = { [4] = { .phys = 0x8000000000, .size = 0x4000 } },
 *     };
 *     struct lvio_device dev;
 *     if (lvio_pci_probe(&dev, &hal, &fn) == 0 && dev.device_id == LVIO_VIRTIO_ID_RNG)
 *         lvio_rng_init(&rng, &dev);
 *
 * The kernel must have enabled memory (and, for legacy, I/O) decoding and
 * bus mastering in the command register before a driver's init; the probe
 * checks and says so if not.
 *
 * Interface: dev->version is 2 for the modern interface, 1 for legacy (the
 * same numbers as virtio-mmio's Version register), dev->legacy as usual. A
 * transitional device (both interfaces) is driven through the modern one.
 *
 * Interrupts: INTx, or MSI-X when the function has a usable MSI-X table,
 * the HAL has msix_route and dev->msix_off is false. The probe finds the
 * capability and maps the table (in an assigned memory BAR, with memory
 * decoding on, wholly inside the BAR, clear of the virtio structures); an
 * unusable table fails nothing: MSI-X is just not used, and the reason is
 * logged, and shown by lvio_dump.
 * lvio_device_begin enables MSI-X with the function masked, masks every
 * table entry, routes entry 0 through msix_route, unmasks it, clears the
 * function mask and gives the configuration vector 0. Each queue's setup
 * writes the queue's vector before the queue is enabled: 1 + index while
 * that is below the table size n (at most LVIO_PCI_MSIX_VECTORS_MAX
 * entries are used), else the queues share 1 .. n-1 (1 + index % (n-1)),
 * or entry 0 when the table has one; an entry is routed and unmasked on
 * its first use, unused ones stay masked. Every vector written is read
 * back. VIRTIO_MSI_NO_VECTOR (the device has no such vector) or any other
 * value than written, or a failed route, does not fail the device: MSI-X
 * is disabled again, dev->irq_mode is LVIO_IRQ_INTX, and a warning names
 * what happened, e.g. "pci@00:02.0: queue 1: device answered
 * VIRTIO_MSI_NO_VECTOR for MSI-X vector 2; using INTx". With INTx,
 * lvio_device_isr() reads (and thereby acknowledges) the ISR status; with
 * MSI-X the ISR status is not used and the handler of vector v hands
 * lvio_device_msix_isr(dev, v) to the driver's poll. When MSI-X is not to
 * be used, lvio_device_begin makes sure it is disabled (firmware may have
 * left it on). While MSI-X is enabled a legacy device's configuration
 * starts at 0x18 instead of 0x14; the library follows the enable bit. The
 * only configuration space the library ever writes is MSI-X Message
 * Control.
 *
 * Everything read from configuration space is checked before it is used:
 *  - the capability walk masks the low two bits of each pointer (as PCI
 *    says), refuses pointers into the header or past 0xff, and stops after
 *    48 entries (a loop);
 *  - of each structure type the first usable capability is taken; one that
 *    names a reserved BAR, an unassigned BAR, a range past the BAR's end or
 *    a length below the spec's minimum is skipped (VIRTIO 4.1.4) and, when
 *    no usable one follows, is the reason given with LVIO_E_LAYOUT;
 *  - common, notify and ISR are required; device configuration is optional
 *    (a device may have none) but must be usable when present;
 *  - a queue's notify address must lie inside the notify structure.
 * Nothing outside the given configuration space and BAR ranges is ever
 * accessed; a configuration read past the device structure gives 0xff bytes.
 * On success dev->vendor_id is the subsystem vendor id and dev->phys the CPU
 * address of the common structure (modern) or of BAR 0 (legacy).
 */
#ifndef LVIO_PCI_H
#define LVIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "spec/virtio_pci.h"
#include "virtio.h"

/* Where one BAR decodes, as the enumerator assigned it. A 64-bit BAR is
 * described at its lower index; the upper slot stays size 0. A legacy
 * device's BAR 0 is an I/O BAR of at least 0x14 bytes. */
struct lvio_pci_bar {
    uint64_t phys;      /* CPU physical address of the BAR's first byte
                           (the bus address translated through the host
                           bridge's ranges; on aarch64 virt the I/O window
                           is memory-mapped at 0x3eff0000) */
    uint64_t size;      /* bytes; 0: the BAR is not implemented / unassigned */
    bool io;            /* an I/O space BAR */
};

/* One PCI function, as the caller found it. */
struct lvio_pci_function {
    /* The function's configuration space, mapped (ECAM: 4096 bytes at
     * base + (bus << 20 | device << 15 | function << 12)). Read with 1, 2
     * and 4 byte accesses through the HAL's reg_read when set. */
    volatile void *cfg;
    uint32_t cfg_size;  /* 256 or 4096 */
    uint16_t segment;
    uint8_t bus, device, function;
    struct lvio_pci_bar bar[LVIO_PCI_NUM_BARS];
};

/*
 * Look at the function and fill `dev` for the virtio device there: identify
 * it (vendor 0x1af4; device id 0x1040 + type, or transitional 0x1000..0x103f
 * with the type in the subsystem id), walk the capability list, validate and
 * map (through hal->map_regs) the common, notify, ISR and device
 * configuration structures, or the legacy I/O block when there is no modern
 * interface, and the MSI-X table when it is usable (see "Interrupts"
 * above). Reads configuration space and registers only; the device is
 * untouched until a driver's init. dev->name is "pci@BB:DD.F" (with the
 * segment, "pci@SSSS:BB:DD.F", when it is not 0). Returns:
 *   0                   a device; dev->device_id says which kind
 *   LVIO_E_NOT_VIRTIO   not a virtio function (vendor / device id), or no
 *                       function there (vendor 0xffff)
 *   LVIO_E_LAYOUT       capability list, capability or BAR not usable (the
 *                       message says which and why)
 *   LVIO_E_STATE        memory / I/O decoding or bus mastering not enabled
 *   LVIO_E_INVAL        bad arguments (device > 31, function > 7, cfg_size
 *                       not 256 or 4096), a HAL missing required callbacks,
 *                       or map_regs failed
 * Whenever `dev` is not NULL, dev->name and lvio_device_error(dev) are set,
 * whatever the result.
 */
int lvio_pci_probe(struct lvio_device *dev, const struct lvio_hal *hal,
                   const struct lvio_pci_function *fn);

/*
 * Where a probed PCI device is: its segment, bus, device and function (a
 * kernel's MSI-X routing needs the requester id, bus << 8 | device << 3 |
 * function). Any out-pointer may be NULL. Returns 0, or LVIO_E_INVAL for
 * NULL or a device that is not a probed PCI device.
 */
int lvio_pci_location(const struct lvio_device *dev, uint16_t *segment, uint8_t *bus,
                      uint8_t *device, uint8_t *function);

#endif
