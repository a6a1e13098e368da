/* Set-up calls between kernel_start and the subsystems; not for kmain. */
#ifndef KERNEL_INTERNAL_H
#define KERNEL_INTERNAL_H

#include "kernel.h"

/* mmu.c: record where the image was loaded; unmap linear-map RAM blocks
 * outside [start, end) (they were mapped speculatively by boot.S). */
void mmu_init(uint64_t load_phys);
void mmu_limit_ram(uint64_t start, uint64_t end);

/* dma.c: manage [start, end) (physical, page aligned). */
void dma_init(uint64_t start, uint64_t end);

/* boot.c, the neutral steps of each arch's kernel_start: validate the
 * device tree at `phys` (a warning and none if unusable) and take the
 * bootargs from /chosen; RAM from /memory; the DMA pool in the largest free
 * stretch of RAM; the boot stack's canary. */
void boot_read_dtb(uint64_t phys);
void boot_read_memory(void);
void boot_setup_dma(void);
void boot_stack_canary(void);
/* boot.c, for a platform without a device tree (x86: PVH start_info):
 * the bootargs (kept by pointer) and RAM [start, end). */
void boot_set_bootargs(const char *args);
void boot_set_memory(uint64_t start, uint64_t end);

/* boot.c: there is no guard page under the boot stack (the image is
 * mapped in 2 MiB blocks), so a canary at its bottom is checked at power
 * off and on panic; prints a warning if it was overwritten. */
void stack_check(void);

#endif
