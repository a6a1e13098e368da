/*
 * virtio-mmio transport, Version 1 (legacy) and Version 2 (modern), chosen
 * from the device's Version register. QEMU's virtio-mmio is legacy unless
 * started with -global virtio-mmio.force-legacy=false.
 */
#ifndef LVIO_MMIO_H
#define LVIO_MMIO_H

#include "virtio.h"
#include "spec/virtio_mmio.h"

/*
 * Look at the registers at physical address `phys` (`size` bytes, normally
 * 0x200 from the device tree's reg) and fill `dev` for whatever device is
 * there. Only reads registers; the device is untouched until a driver's
 * init. Returns:
 *   0                   a device; dev->device_id says which kind
 *   LVIO_E_NODEV        a transport with no device behind it (DeviceID 0),
 *                       as in QEMU's empty virtio-mmio slots
 *   LVIO_E_NOT_VIRTIO   the magic value is wrong
 *   LVIO_E_UNSUPPORTED  a Version other than 1 or 2
 *   LVIO_E_INVAL        bad arguments (size below 0x100, phys not 4-byte
 *                       aligned), a HAL missing required callbacks, or
 *                       map_regs failed
 *   LVIO_E_HAL          map_regs returned an address not 4-byte aligned
 * Whenever `dev` is not NULL, dev->name and lvio_device_error(dev) are set,
 * whatever the result.
 */
int lvio_mmio_probe(struct lvio_device *dev, const struct lvio_hal *hal,
                    uint64_t phys, uint64_t size);

#endif
