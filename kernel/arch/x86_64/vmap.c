/*
 * The vmap window's page tables (the window itself: kernel/vmap.c).
 *
 * The window [VMAP_BASE, VMAP_BASE + VMAP_SIZE) (layout.h) hangs off PML4
 * entry PML4_VMAP: one PDPT, one PD (2 MiB per entry) and VMAP_SIZE / 2 MiB
 * page tables, static in .bss and back to back, so that leaf[i] is the
 * entry of window page i. arch_vmap_init links them once; after that only
 * leaf entries change.
 *
 * Ordering: x86 walks the tables through the caches, so a new entry is
 * seen at once; but a translation may be cached, so unmapping invalidates
 * each page (invlpg; everything, by reloading CR3, for a big range), and
 * so does mapping, for the failed walks an overrun may have left.
 */
#include "internal.h"
#include "x86.h"

#define VMAP_LEAF_TABLES (VMAP_SIZE / BLOCK_2M)
/* Invalidating more pages than this flushes everything instead. */
#define INVLPG_PAGES_MAX 64

#define PML4_INDEX(va) (((va) >> 39) & (PT_ENTRIES - 1))
#define PDPT_INDEX(va) (((va) >> 30) & (PT_ENTRIES - 1))
#define MID_INDEX(va) (((va) >> 21) & (PT_ENTRIES - 1))

_Static_assert(PML4_INDEX(VMAP_BASE) == PML4_VMAP, "vmap window must be PML4 entry PML4_VMAP");
_Static_assert(VMAP_BASE % BLOCK_1G == 0, "vmap window must start on 1 GiB");
_Static_assert(VMAP_SIZE % BLOCK_2M == 0 && VMAP_SIZE > 0 && VMAP_SIZE <= BLOCK_1G,
               "vmap window must be whole 2 MiB blocks, within one middle table");

extern uint64_t pml4[PT_ENTRIES];

static uint64_t vmap_pdpt[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_mid[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_leaf[VMAP_LEAF_TABLES * PT_ENTRIES] __attribute__((aligned(4096)));

static uint64_t table_pte(const void *table)
{
    return vmap_table_phys(table) | PTE_TABLE;
}

void arch_vmap_init(void)
{
    if (pml4[PML4_VMAP] != 0)
        panic("vmap: PML4 entry %u for the window 0x%llx is already in use", PML4_VMAP,
              (unsigned long long)VMAP_BASE);
    for (size_t t = 0; t < VMAP_LEAF_TABLES; t++)
        vmap_mid[MID_INDEX(VMAP_BASE) + t] = table_pte(&vmap_leaf[t * PT_ENTRIES]);
    vmap_pdpt[PDPT_INDEX(VMAP_BASE)] = table_pte(vmap_mid);
    pml4[PML4_VMAP] = table_pte(vmap_pdpt);
    tlb_flush_all();
}

void arch_vmap_map_page(size_t i, uint64_t phys)
{
    vmap_leaf[i] = phys | PTE_DATA;
}

void arch_vmap_unmap_page(size_t i)
{
    vmap_leaf[i] = 0;
}

void arch_vmap_flush(size_t first, size_t n, bool unmapped)
{
    (void)unmapped; /* both: see the head of this file */
    if (n > INVLPG_PAGES_MAX) {
        tlb_flush_all();
        return;
    }
    for (size_t i = first; i < first + n; i++)
        invlpg((uintptr_t)(VMAP_BASE + i * PAGE_SIZE));
}

uint64_t arch_vmap_phys(size_t i)
{
    uint64_t pte = vmap_leaf[i];

    return (pte & PTE_P) ? pte & PTE_ADDR_MASK : PHYS_INVALID;
}
