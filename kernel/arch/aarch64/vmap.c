/*
 * The vmap window's page tables (the window itself: kernel/vmap.c).
 *
 * The window [VMAP_BASE, VMAP_BASE + VMAP_SIZE) (layout.h) is mapped by
 * static tables in .bss: one L1 table hooked into TTBR1's L0 table, one L2
 * table, and VMAP_SIZE / 2 MiB L3 tables, laid out back to back so that
 * l3[i] is the descriptor of window page i. arch_vmap_init builds the L1 ->
 * L2 -> L3 part once; after that only L3 entries change.
 *
 * Barriers: the walker reads the tables through the cache (TCR_EL1 walks
 * are inner write-back, inner shareable), so a store plus DSB ISHST makes a
 * descriptor visible to it; an ISB then lets the next instruction use a new
 * mapping. An invalid descriptor is never cached in the TLB, so mapping
 * needs no TLBI; unmapping invalidates each page (or everything, for a big
 * range) before the window pages may be handed out again.
 */
#include "internal.h"
#include "sysreg.h"

#define VMAP_L3_TABLES (VMAP_SIZE / BLOCK_2M)
/* Unmapping more pages than this invalidates the whole TLB instead. */
#define TLBI_PAGES_MAX 64

#define L0_INDEX(va) (((va) >> 39) & (PT_ENTRIES - 1))
#define L1_INDEX(va) (((va) >> 30) & (PT_ENTRIES - 1))
#define L2_INDEX(va) (((va) >> 21) & (PT_ENTRIES - 1))

_Static_assert(VMAP_BASE >= LINEAR_BASE, "vmap window must be in the TTBR1 half");
_Static_assert(VMAP_BASE % BLOCK_1G == 0, "vmap window must start on 1 GiB");
_Static_assert(VMAP_SIZE % BLOCK_2M == 0 && VMAP_SIZE > 0 && VMAP_SIZE <= BLOCK_1G,
               "vmap window must be whole 2 MiB blocks, within one L2 table");

static uint64_t vmap_l1[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_l2[PT_ENTRIES] __attribute__((aligned(4096)));
static uint64_t vmap_l3[VMAP_L3_TABLES * PT_ENTRIES] __attribute__((aligned(4096)));

static uint64_t table_desc(const void *table)
{
    return vmap_table_phys(table) | PTE_TABLE;
}

void arch_vmap_init(void)
{
    /* TTBR1_EL1 holds the L0 table's physical address (bits 47:12 here:
     * the table is page aligned, ASID and CnP are not ours); boot.S put it
     * in the image, which is RAM, so the linear map reaches it. */
    uint64_t l0_phys = read_sysreg(ttbr1_el1) & PTE_ADDR_MASK;
    uint64_t *l0 = phys_to_virt(l0_phys);

    if (!l0)
        panic("vmap: TTBR1 L0 table 0x%llx not in the linear map",
              (unsigned long long)l0_phys);
    if (l0[L0_INDEX(VMAP_BASE)] != 0)
        panic("vmap: L0[%llu] for the window 0x%llx is already in use",
              (unsigned long long)L0_INDEX(VMAP_BASE), (unsigned long long)VMAP_BASE);

    for (size_t t = 0; t < VMAP_L3_TABLES; t++)
        vmap_l2[L2_INDEX(VMAP_BASE) + t] = table_desc(&vmap_l3[t * PT_ENTRIES]);
    vmap_l1[L1_INDEX(VMAP_BASE)] = table_desc(vmap_l2);
    /* The lower tables are complete and visible before the L0 entry that
     * makes them reachable. */
    __asm__ volatile("dsb ishst" ::: "memory");
    l0[L0_INDEX(VMAP_BASE)] = table_desc(vmap_l1);
    /* The slot was invalid, so nothing stale can be cached; the full flush
     * is only belt and braces, once at boot. */
    tlb_flush_all();
}

void arch_vmap_map_page(size_t i, uint64_t phys)
{
    vmap_l3[i] = phys | PTE_VMAP;
}

void arch_vmap_unmap_page(size_t i)
{
    vmap_l3[i] = 0;
}

void arch_vmap_flush(size_t first, size_t n, bool unmapped)
{
    if (!unmapped) {
        __asm__ volatile("dsb ishst\n\tisb" ::: "memory");
        return;
    }
    if (n > TLBI_PAGES_MAX) {
        tlb_flush_all();
        return;
    }
    __asm__ volatile("dsb ishst" ::: "memory");
    for (size_t i = first; i < first + n; i++) {
        /* VAALE1IS: last level, any ASID (the mapping is global);
         * operand bits 43:0 = VA[55:12]. */
        uint64_t op = ((VMAP_BASE + i * PAGE_SIZE) >> PAGE_SHIFT) & ((1ULL << 44) - 1);

        __asm__ volatile("tlbi vaale1is, %0" : : "r"(op) : "memory");
    }
    __asm__ volatile("dsb ish\n\tisb" ::: "memory");
}

uint64_t arch_vmap_phys(size_t i)
{
    uint64_t pte = vmap_l3[i];

    return (pte & 3) == PTE_PAGE ? pte & PTE_ADDR_MASK : PHYS_INVALID;
}
