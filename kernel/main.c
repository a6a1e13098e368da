/*
 * TEMPORARY kmain: proves the kernel base works (boot info, device-tree
 * discovery, DMA pages, high mapping). To be replaced by the real one that
 * drives the VirtIO library.
 */
#include "kernel.h"
#include "fdt.h"

static uint32_t static_probe = 0x1e71a7e;

static int check(bool ok, const char *what)
{
    if (!ok)
        kprintf("levitate: check failed: %s\n", what);
    return ok ? 0 : 1;
}

static void list_virtio_mmio(void)
{
    const struct fdt *fdt = kernel_fdt();
    struct fdt_walk w;
    struct fdt_node node;
    uint64_t addr, size;

    if (!fdt)
        return;
    fdt_walk_begin(&w, fdt);
    while (fdt_walk_next_compatible(&w, "virtio,mmio", &node) > 0) {
        if (fdt_node_reg(fdt, &node, 0, &addr, &size) == FDT_OK)
            kprintf("fdt: virtio,mmio @0x%08llx size 0x%llx\n",
                    (unsigned long long)addr, (unsigned long long)size);
    }
}

static int dma_round_trip(void)
{
    uint64_t phys;
    size_t before = dma_pages_in_use();
    uint8_t *p = dma_alloc_pages(3, &phys);
    int failed = 0;

    failed += check(p != NULL, "dma_alloc_pages(3)");
    if (!p)
        return failed;
    failed += check(p[0] == 0 && p[3 * 4096 - 1] == 0, "DMA pages zeroed");
    failed += check(virt_to_phys(p) == phys, "virt_to_phys(DMA page) == phys");
    failed += check(phys % 4096 == 0, "DMA page aligned");
    failed += check(dma_pages_in_use() == before + 3, "pages in use counted");
    dma_free_pages(p, 3);
    failed += check(dma_pages_in_use() == before, "pages freed");
    return failed;
}

void kmain(void)
{
    uint64_t t0 = time_ns();
    int failed = 0;

    kprintf("levitate: boot aarch64 (entered at EL%u), image phys 0x%llx..0x%llx, "
            "DTB 0x%llx\n", kernel_entry_el(), (unsigned long long)kernel_load_phys(),
            (unsigned long long)kernel_phys_end(),
            (unsigned long long)kernel_dtb_phys());
    kprintf("levitate: RAM 0x%llx..0x%llx, DMA pool 0x%llx..0x%llx (%zu pages), "
            "bootargs \"%s\"\n",
            (unsigned long long)ram_phys_start(), (unsigned long long)ram_phys_end(),
            (unsigned long long)dma_pool_phys(), (unsigned long long)dma_pool_phys_end(),
            dma_pages_total(), kernel_bootargs());
    list_virtio_mmio();
    failed += dma_round_trip();
    failed += check(virt_to_phys(&static_probe) != (uint64_t)(uintptr_t)&static_probe,
                    "kernel runs high (virt != phys)");
    failed += check(*(volatile uint32_t *)phys_to_virt(virt_to_phys(&static_probe)) ==
                        0x1e71a7e, "linear map aliases the image");
    kprintf("levitate: kmain took %llu us\n",
            (unsigned long long)((time_ns() - t0) / 1000));
    if (failed)
        kprintf("levitate: FAIL 1/1 tests (%d checks failed)\n", failed);
    else
        kprintf("levitate: PASS 1 tests\n");
    if (kernel_bootarg("fault")) {
        /* Self-test of the crash path: a physical address used as a pointer
         * must fault (TTBR0 walks are off) and be reported. */
        kprintf("levitate: reading through a physical pointer\n");
        kprintf("%u\n", *(volatile uint32_t *)(uintptr_t)virt_to_phys(&static_probe));
    }
    if (kernel_bootarg("poweroff"))
        power_off();
    for (;;)
        __asm__ volatile("wfi");
}
