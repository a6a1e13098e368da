/*
 * Address translation helpers over the fixed mappings boot.S built (see
 * arch/<arch>/layout.h): the image at KERNEL_VBASE, the linear map of
 * physical memory at LINEAR_BASE, and vmap's window. Nothing is mapped on
 * demand: a range outside those mappings gets NULL or PHYS_INVALID, so a
 * wrong address shows up at the call.
 *
 * The linear map covers physical [0, LINEAR_END) in two kinds of parts:
 * where devices may be (arch_io_ranges, the architecture's) and RAM, the
 * RAM window until mmu_limit_ram narrows it to the RAM found (and the
 * architecture unmaps the rest where it can: arch_linear_trim).
 */
#include "internal.h"

extern char _text[], _end[];

static uint64_t load_phys;
static uint64_t ram_start, ram_end; /* RAM in the linear map, which ioremap refuses */

void mmu_init(uint64_t phys)
{
    load_phys = phys;
    ram_start = RAM_WINDOW_START;
    ram_end = RAM_WINDOW_END;
}

uint64_t kernel_load_phys(void)
{
    return load_phys;
}

uint64_t kernel_phys_end(void)
{
    return load_phys + (uint64_t)(_end - _text);
}

void mmu_limit_ram(uint64_t start, uint64_t end)
{
    if (start < RAM_WINDOW_START || end > RAM_WINDOW_END || start >= end) {
        kprintf("levitate: warning: RAM 0x%llx..0x%llx outside the linear map's RAM "
                "window; the whole window stays\n",
                (unsigned long long)start, (unsigned long long)end);
        return;
    }
    arch_linear_trim(start, end);
    ram_start = start;
    ram_end = end;
}

void linear_trim_1g(uint64_t *entries, uint64_t start, uint64_t end)
{
    for (uint64_t i = RAM_WINDOW_START / BLOCK_1G; i < RAM_WINDOW_END / BLOCK_1G; i++) {
        uint64_t lo = i * BLOCK_1G, hi = lo + BLOCK_1G;

        if (hi <= start || lo >= end)
            entries[i] = 0;
    }
}

static bool within(uint64_t pa, uint64_t len, uint64_t lo, uint64_t hi)
{
    return pa >= lo && pa <= hi && len <= hi - pa;
}

/* [pa, pa + len) overlaps RAM. */
static bool is_ram(uint64_t pa, uint64_t len)
{
    return pa < ram_end && pa + len > ram_start;
}

static bool is_io(uint64_t pa, uint64_t len)
{
    for (unsigned i = 0; i < arch_io_ranges_n; i++) {
        if (within(pa, len, arch_io_ranges[i].start, arch_io_ranges[i].end))
            return true;
    }
    return false;
}

static bool is_linear(uint64_t pa, uint64_t len)
{
    return is_io(pa, len) || within(pa, len, ram_start, ram_end);
}

uint64_t virt_to_phys(const void *virt)
{
    uint64_t va = (uintptr_t)virt, pa;

    if (vmap_lookup(virt, &pa)) {
        if (pa != PHYS_INVALID)
            return pa;
        if (warnings_muted)
            warnings_suppressed++;
        else
            kprintf("levitate: warning: virt_to_phys(%p): unmapped vmap address\n", virt);
        return PHYS_INVALID;
    }
    if (va >= (uintptr_t)_text && va < (uintptr_t)_end)
        return va - (uintptr_t)_text + load_phys;
    if (va >= LINEAR_BASE && va - LINEAR_BASE < LINEAR_END && is_linear(va - LINEAR_BASE, 1))
        return va - LINEAR_BASE;
    kprintf("levitate: warning: virt_to_phys(%p): not a kernel mapping\n", virt);
    return PHYS_INVALID;
}

void *phys_to_virt(uint64_t phys)
{
    if (!is_linear(phys, 1))
        return NULL;
    return (void *)(uintptr_t)(LINEAR_BASE + phys);
}

volatile void *ioremap(uint64_t phys, size_t len)
{
    if (!len)
        len = 1;
    if (!is_io(phys, len) || is_ram(phys, len))
        return NULL;
    return (volatile void *)(uintptr_t)(LINEAR_BASE + phys);
}
