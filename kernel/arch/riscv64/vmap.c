/*
 * The vmap window's page tables (the window itself: kernel/vmap.c).
 *
 * The window [VMAP_BASE, VMAP_BASE + VMAP_SIZE) (layout.h) hangs off root
 * entry ROOT_VMAP: one middle table (2 MiB per entry) and VMAP_SIZE / 2 MiB
 * leaf tables, static in .bss and back to back, so that leaf[i] is the
 * entry of window page i. arch_vmap_init links them once; after that only
 * leaf entries change.
 *
 * Ordering: RISC-V makes no promise that the walker sees a store to a
 * table, or forgets a translation (or a failed walk), until an sfence.vma
 * covering the address; so both mapping and unmapping fence each page (or
 * everything, for a big range) after writing its entries.
 */
#include "internal.h"
#include "riscv.h"

#define VMAP_LEAF_TABLES (VMAP_SIZE / BLOCK_2M)
/* Fencing more pages than this fences everything instead. */
#define FENCE_PAGES_MAX 64

#define ROOT_INDEX(va) (((va) >> 30) & (PT_ENTRIES - 1))
#define MID_INDEX(va) (((va) >> 21) & (PT_ENTRIES - 1))

_Static_assert(ROOT_INDEX(VMAP_BASE) == ROOT_VMAP, "vmap window must be root entry ROOT_VMAP");
_Static_assert(VMAP_BASE % BLOCK_1G == 0, "vmap window must start on 1 GiB");
_Static_assert(VMAP_SIZE % BLOCK_2M == 0 && VMAP_SIZE > 0 && VMAP_SIZE <= BLOCK_1G,
               "vmap window must be whole 2 MiB blocks, within one middle table");

extern uint64_t pgt_root[PT_ENTRIES];

static uint64_t vmap_mid[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_leaf[VMAP_LEAF_TABLES * PT_ENTRIES] __attribute__((aligned(4096)));

static uint64_t table_pte(const void *table)
{
    return PTE_OF(vmap_table_phys(table)) | PTE_TABLE;
}

void arch_vmap_init(void)
{
    if (pgt_root[ROOT_VMAP] != 0)
        panic("vmap: root entry %u for the window 0x%llx is already in use", ROOT_VMAP,
              (unsigned long long)VMAP_BASE);
    for (size_t t = 0; t < VMAP_LEAF_TABLES; t++)
        vmap_mid[MID_INDEX(VMAP_BASE) + t] = table_pte(&vmap_leaf[t * PT_ENTRIES]);
    pgt_root[ROOT_VMAP] = table_pte(vmap_mid);
    tlb_flush_all();
}

void arch_vmap_map_page(size_t i, uint64_t phys)
{
    vmap_leaf[i] = PTE_OF(phys) | PTE_DATA;
}

void arch_vmap_unmap_page(size_t i)
{
    vmap_leaf[i] = 0;
}

void arch_vmap_flush(size_t first, size_t n, bool unmapped)
{
    (void)unmapped; /* a new entry needs the fence as much as an old one */
    if (n > FENCE_PAGES_MAX) {
        tlb_flush_all();
        return;
    }
    for (size_t i = first; i < first + n; i++)
        tlb_flush_page((uintptr_t)(VMAP_BASE + i * PAGE_SIZE));
}

uint64_t arch_vmap_phys(size_t i)
{
    uint64_t pte = vmap_leaf[i];

    return (pte & PTE_V) ? PTE_PA(pte) : PHYS_INVALID;
}
