/*
 * Address translation helpers over the fixed mappings boot.S built (see
 * layout.h). Nothing is mapped on demand: a range outside those mappings
 * gets NULL or PHYS_INVALID, so a wrong address shows up at the call.
 *
 * Unlike the other ports the linear map is not trimmed to RAM: below
 * 2 GiB it also holds what the firmware left for us to read (the BIOS
 * area with the RSDP, the ACPI tables in reserved RAM, the PVH start_info).
 * ioremap still refuses RAM.
 */
#include "internal.h"
#include "x86.h"

extern char _text[], _end[];

static uint64_t load_phys;
static uint64_t ram_start, ram_end; /* RAM, which ioremap refuses */

void mmu_init(uint64_t phys)
{
    load_phys = phys;
    ram_start = RAM_FALLBACK_START;
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
    if (start >= end || end > RAM_WINDOW_END) {
        kprintf("levitate: warning: RAM 0x%llx..0x%llx outside the linear map's RAM window\n",
                (unsigned long long)start, (unsigned long long)end);
        return;
    }
    ram_start = start;
    ram_end = end;
}

static bool within(uint64_t pa, uint64_t len, uint64_t lo, uint64_t hi)
{
    return pa >= lo && pa <= hi && len <= hi - pa;
}

static bool is_linear(uint64_t pa, uint64_t len)
{
    return within(pa, len, 0, LINEAR_END);
}

static bool is_ram(uint64_t pa, uint64_t len)
{
    return pa < ram_end && pa + len > ram_start;
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
        return va - KERNEL_VBASE;
    if (va >= LINEAR_BASE && va - LINEAR_BASE < LINEAR_END)
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
    if (!is_linear(phys, len) || is_ram(phys, len))
        return NULL;
    return (volatile void *)(uintptr_t)(LINEAR_BASE + phys);
}
