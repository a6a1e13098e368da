/* What only the aarch64 files share with each other. */
#ifndef KERNEL_AARCH64_AARCH64_H
#define KERNEL_AARCH64_AARCH64_H

#include <stdbool.h>
#include <stdint.h>

/* start.c: called by boot.S at the high address. */
void kernel_start(uint64_t dtb_phys, uint64_t load_phys, unsigned entry_el);
/* The exception level the loader entered the kernel at (1 or 2); it runs
 * at EL1 either way. */
unsigned kernel_entry_el(void);

/* psci.c: use "smc" instead of the default "hvc" conduit (the DTB's /psci
 * method, read by start.c). */
void psci_use_smc(bool smc);

#endif
