/*
 * The linear map's parts (the address helpers over it: kernel/mmu.c).
 * boot.S mapped physical [0, LINEAR_END) in 1 GiB pages from root entry
 * ROOT_LINEAR; Sv39 has no memory types, so the device ranges differ from
 * the RAM window only in what ioremap hands out (layout.h).
 */
#include "internal.h"
#include "riscv.h"

extern uint64_t pgt_root[PT_ENTRIES];

const struct phys_range arch_io_ranges[] = {
    {0, DEVICE_LOW_END},
    {DEVICE_HIGH_START, DEVICE_HIGH_END},
};
const unsigned arch_io_ranges_n = ARRAY_SIZE(arch_io_ranges);

void arch_linear_trim(uint64_t start, uint64_t end)
{
    linear_trim_1g(&pgt_root[ROOT_LINEAR], start, end);
    tlb_flush_all();
}
