/*
 * The linear map's parts (the address helpers over it: kernel/mmu.c).
 * boot.S mapped the device ranges as Device-nGnRE and the RAM window in
 * Normal 1 GiB blocks of pgt_l1_low (layout.h).
 */
#include "internal.h"
#include "sysreg.h"

extern uint64_t pgt_l1_low[PT_ENTRIES];

const struct phys_range arch_io_ranges[] = {
    {0, DEVICE_LOW_END},
    {DEVICE_ECAM_START, DEVICE_ECAM_END},
    {DEVICE_HIGH_START, DEVICE_HIGH_END},
};
const unsigned arch_io_ranges_n = ARRAY_SIZE(arch_io_ranges);

void arch_linear_trim(uint64_t start, uint64_t end)
{
    linear_trim_1g(pgt_l1_low, start, end);
    tlb_flush_all();
}
