/*
 * Private to the PCI transport (pci.c: probe and capabilities, dump;
 * pci_modern.c and pci_legacy.c: the two register interfaces): register
 * accessors and what the three files share. Not installed.
 */
#ifndef LVIO_PCI_INTERNAL_H
#define LVIO_PCI_INTERNAL_H

#include "lvio/pci.h"
#include "../core/internal.h"

/* Configuration space; all-ones beyond it, as an absent register reads. */
static inline uint32_t lvio_pci_cfg_read(struct lvio_device *dev, uint32_t off, unsigned width)
{
    if (off + width > dev->transport_state.pci.cfg_size)
        return width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
    return lvio_io_read(dev, dev->transport_state.pci.cfg + off, width);
}

/* Configuration space writes (only MSI-X Message Control is ever
 * written); dropped beyond the space. The trace hook sees the offset in
 * configuration space. */
static inline void lvio_pci_cfg_write(struct lvio_device *dev, uint32_t off, unsigned width,
                                      uint32_t val)
{
    if (off + width > dev->transport_state.pci.cfg_size)
        return;
    lvio_io_write(dev, dev->transport_state.pci.cfg + off, width, val, off);
}

/* The port of `off` in a region in port space (its base is a port number). */
static inline uint64_t lvio_pci_port(const struct lvio_pci_region *r, uint32_t off)
{
    return (uint64_t)(uintptr_t)r->base + off;
}

/* A register inside a mapped structure (or, in port space, through the
 * HAL's port_read); all-ones beyond it. */
static inline uint32_t lvio_pci_reg_read(struct lvio_device *dev,
                                         const struct lvio_pci_region *r, uint32_t off,
                                         unsigned width)
{
    if (!r->base || off + width > r->len)
        return width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
    if (r->port)
        return dev->hal->port_read(dev->hal->ctx, lvio_pci_port(r, off), width);
    return lvio_io_read(dev, r->base + off, width);
}

/* Writes beyond the structure are dropped. The trace hook sees the offset
 * within the structure. */
static inline void lvio_pci_reg_write(struct lvio_device *dev,
                                      const struct lvio_pci_region *r, uint32_t off,
                                      unsigned width, uint32_t val)
{
    if (!r->base || off + width > r->len)
        return;
    if (r->port) {
        if (dev->trace)
            lvio_trace_emit(dev, LVIO_TRACE_REG_WRITE, off, val, 0, 0, 0);
        dev->hal->port_write(dev->hal->ctx, lvio_pci_port(r, off), width, val);
        return;
    }
    lvio_io_write(dev, r->base + off, width, val, off);
}

/* The modern common configuration structure, the legacy register block. */
#define COMMON(dev) (&(dev)->transport_state.pci.common)
#define LEGACY(dev) (&(dev)->transport_state.pci.legacy)

/* Device configuration bytes of one access at `off` in region `r`, in the
 * device's order (see lvio_config_split); outside the structure: 0xff
 * bytes, and nothing touched. Writes outside it are dropped. */
void lvio_pci_region_config_read(struct lvio_device *dev, const struct lvio_pci_region *r,
                                 uint32_t off, unsigned width, uint8_t *out);
void lvio_pci_region_config_write(struct lvio_device *dev, const struct lvio_pci_region *r,
                                  uint32_t off, unsigned width, const uint8_t *in);

/* The shm op (lvio_device_shm) of the modern interface: the regions the
 * probe kept (pci.c). */
int lvio_pci_shm(struct lvio_device *dev, uint8_t id, uint64_t *addr, uint64_t *len);

/* The transport part of lvio_dump(), for both interfaces. */
void lvio_pci_dump(struct lvio_device *dev);

/* MSI-X (pci_msix.c), for both interfaces. lvio_pci_msix_probe: look at
 * the capability at `cap` (0: none) and map its table when it is usable,
 * else keep why not; never fails the probe. The others are the
 * transport ops of the same names (internal.h). lvio_pci_msix_dump: the
 * interrupt line of lvio_dump. */
void lvio_pci_msix_probe(struct lvio_device *dev, const struct lvio_pci_function *fn,
                         uint32_t cap);
void lvio_pci_msix_setup(struct lvio_device *dev);
uint16_t lvio_pci_msix_queue(struct lvio_device *dev, uint16_t index);
uint32_t lvio_pci_msix_isr(const struct lvio_device *dev, uint16_t vector);
unsigned lvio_pci_msix_vectors(const struct lvio_device *dev);
void lvio_pci_msix_dump(struct lvio_device *dev);

/* Check a structure's place in a BAR and map it (pci.c): 0, or a reason
 * in `why` with LVIO_E_LAYOUT (or LVIO_E_INVAL when map_regs failed). */
int lvio_pci_region_map(struct lvio_device *dev, const struct lvio_pci_function *fn,
                        struct lvio_pci_region *r, uint32_t bar, uint32_t off, uint32_t len,
                        uint32_t min_len, uint32_t align, char *why, size_t why_size);

extern const struct lvio_transport_ops lvio_pci_modern_ops;
extern const struct lvio_transport_ops lvio_pci_legacy_ops;

#endif
