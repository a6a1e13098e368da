/* The GICv3 ITS (gic_its.c), for gic.c. */
#ifndef KERNEL_AARCH64_GIC_ITS_H
#define KERNEL_AARCH64_GIC_ITS_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt.h"

/* Find the ITS in the device tree and set it and this CPU's LPIs up (the
 * redistributor mapped at `redist`, physically at `redist_phys`). */
bool its_init(const struct fdt *fdt, volatile uint8_t *redist, uint64_t redist_phys);
bool its_ready(void);
/* Map event `event` of device `devid` to a new LPI: its number, and the
 * address and data that raise it. 0 or -1. */
int its_msi_line(uint32_t devid, uint32_t event, unsigned *irq, uint64_t *addr,
                 uint32_t *data);
bool its_is_lpi(unsigned irq);
/* Enable an LPI (its configuration byte, then INVALL and SYNC). 0 or -1. */
int its_unmask(unsigned lpi);

#endif
