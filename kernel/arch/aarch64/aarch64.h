/* What only the aarch64 files share with each other. */
#ifndef KERNEL_AARCH64_AARCH64_H
#define KERNEL_AARCH64_AARCH64_H

#include <stdbool.h>

/* psci.c: use "smc" instead of the default "hvc" conduit (the DTB's /psci
 * method, read by start.c). */
void psci_use_smc(bool smc);

#endif
