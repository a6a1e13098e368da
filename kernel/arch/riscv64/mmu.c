/*
 * Address translation helpers over the fixed mappings boot.S built (see
 * layout.h). Nothing is mapped on demand: a range outside those mappings
 * gets NULL or PHYS_INVALID, so a wrong address shows up at the call.
 */
#include "internal.h"
#include "riscv.h"

extern char _text[], _end[];
extern uint64_t pgt_root[PT_ENTRIES];

static uint64_t load_phys;
static uint64_t ram_start, ram_end; /* RAM the linear map is trusted for */

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

/*
 * boot.S mapped every 1 GiB where QEMU virt might put RAM. Unmap those
 * without RAM, so that a stray pointer there faults instead of reading
 * nothing.
 */
void mmu_limit_ram(uint64_t start, uint64_t end)
{
    if (start < RAM_WINDOW_START || end > RAM_WINDOW_END || start >= end) {
        kprintf("levitate: warning: RAM 0x%llx..0x%llx outside the linear "
                "map's RAM window, not trimmed\n",
                (unsigned long long)start, (unsigned long long)end);
        return;
    }
    for (uint64_t i = RAM_WINDOW_START / BLOCK_1G; i < RAM_WINDOW_END / BLOCK_1G; i++) {
        uint64_t lo = i * BLOCK_1G, hi = lo + BLOCK_1G;

        if (hi <= start || lo >= end)
            pgt_root[ROOT_LINEAR + i] = 0;
    }
    tlb_flush_all();
    ram_start = start;
    ram_end = end;
}

static bool within(uint64_t pa, uint64_t len, uint64_t lo, uint64_t hi)
{
    return pa >= lo && pa <= hi && len <= hi - pa;
}

static bool is_device(uint64_t pa, uint64_t len)
{
    return within(pa, len, 0, DEVICE_LOW_END) ||
           within(pa, len, DEVICE_HIGH_START, DEVICE_HIGH_END);
}

static bool is_linear(uint64_t pa, uint64_t len)
{
    return is_device(pa, len) || within(pa, len, ram_start, ram_end);
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
        return va - KERNEL_VBASE + load_phys;
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
    if (!is_device(phys, len ? len : 1))
        return NULL;
    return (volatile void *)(uintptr_t)(LINEAR_BASE + phys);
}
