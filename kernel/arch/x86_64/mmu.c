/*
 * The linear map's parts (the address helpers over it: kernel/mmu.c).
 *
 * Unlike the other ports the linear map is not trimmed to RAM: below
 * 2 GiB it also holds what the firmware left for us to read (the BIOS
 * area with the RSDP, the ACPI tables in reserved RAM, the PVH start_info).
 * So all of it counts as a place devices may be, and ioremap refuses RAM
 * alone.
 */
#include "internal.h"

const struct phys_range arch_io_ranges[] = {
    {0, LINEAR_END},
};
const unsigned arch_io_ranges_n = ARRAY_SIZE(arch_io_ranges);

void arch_linear_trim(uint64_t start, uint64_t end)
{
    (void)start, (void)end; /* the firmware's tables are in the window too */
}
